/* SPDX-License-Identifier: MIT */
/*
 * The hosted x86 vCPU's view of the engine: the guest state between the
 * live engine and the VMCB save area, host-side MSR access, the re-entry
 * through the VMRUN stub, and reading the guest's linear memory.
 */
#include <string.h>

#include "hosted.h"
#include "walk.h"

/* MSR access from outside the guest: QEMU checks the MSR permission map
 * on every access, also Unicorn's, so point the VMCB at an open map. */
uint64_t vmdl__x86h_rdmsr(struct vmdl_vcpu *v, uint32_t idx)
{
    pw64(v, H_VMCB + C_MSRPM, H_MSRPM_OPEN);
    uc_x86_msr m = { idx, 0 };
    uc_reg_read(v->uc, UC_X86_REG_MSR, &m);
    pw64(v, H_VMCB + C_MSRPM, H_MSRPM);
    return m.value;
}

void vmdl__x86h_wrmsr(struct vmdl_vcpu *v, uint32_t idx, uint64_t val)
{
    pw64(v, H_VMCB + C_MSRPM, H_MSRPM_OPEN);
    uc_x86_msr m = { idx, val };
    uc_reg_write(v->uc, UC_X86_REG_MSR, &m);
    pw64(v, H_VMCB + C_MSRPM, H_MSRPM);
}

/* ---- state to and from the VMCB ---------------------------------------- */

unsigned vmdl__x86h_cpl(const struct seg *ss, uint64_t cr0, uint64_t rflags)
{
    if (!(cr0 & 1))
        return 0;
    if (rflags & (1ull << 17))
        return 3;
    return (ss->flags >> DESC_DPL_SHIFT) & 3;
}

void vmdl__x86h_set_cr2(struct vmdl_vcpu *v, uint64_t cr2)
{
    X86(v)->h_cr2 = cr2;
    X86(v)->h_cr2_set = true;
}

/* The live guest state into the VMCB save area (what do_vmexit would do). */
void vmdl__x86h_save_guest(struct vmdl_vcpu *v)
{
    uc_context_save(v->uc, X86(v)->ctx);
    const char *ctx = (const char *)X86(v)->ctx;
    static const struct { int r; unsigned off; } segs[] = {
        { R_ES, S_ES }, { R_CS, S_CS }, { R_SS, S_SS }, { R_DS, S_DS } };
    struct seg s, ss;
    for (unsigned i = 0; i < 4; i++) {
        seg_from_ctx(v, ctx, segs[i].r, &s);
        vmcb_seg(v, segs[i].off, s.sel, s.flags, s.limit, s.base);
    }
    seg_from_ctx(v, ctx, R_SS, &ss);
    uc_x86_mmr g, i;
    uc_reg_read(v->uc, UC_X86_REG_GDTR, &g);
    uc_reg_read(v->uc, UC_X86_REG_IDTR, &i);
    pw64(v, H_VMCB + S_GDTR + 8, g.base);
    pw32(v, H_VMCB + S_GDTR + 4, g.limit);
    pw64(v, H_VMCB + S_IDTR + 8, i.base);
    pw32(v, H_VMCB + S_IDTR + 4, i.limit);
    uint64_t cr0 = rd(v, UC_X86_REG_CR0), rflags = rd(v, UC_X86_REG_RFLAGS);
    pw64(v, H_VMCB + S_CR0, cr0);
    /* A #PF's address goes in through the VMCB: Unicorn's CR2 write also
     * loads the value into CR3 (its CR1/CR2/CR3 cases share
     * cpu_x86_update_cr3; measured on 2.1.1: every later access faulted). */
    pw64(v, H_VMCB + S_CR2, X86(v)->h_cr2_set ? X86(v)->h_cr2 : rd(v, UC_X86_REG_CR2));
    X86(v)->h_cr2_set = false;
    pw64(v, H_VMCB + S_CR3, rd(v, UC_X86_REG_CR3));
    pw64(v, H_VMCB + S_CR4, rd(v, UC_X86_REG_CR4));
    pw64(v, H_VMCB + S_EFER, vmdl__x86h_rdmsr(v, MSR_EFER));
    /* The guest's debug registers are virtual (hosted_dr.c): the engine
     * keeps DR7 disarmed. */
    pw64(v, H_VMCB + S_DR6, 0xFFFF0FF0);
    pw64(v, H_VMCB + S_DR7, X86_IO_STOP_DR7);     /* the engine's (io.c) */
    pw64(v, H_VMCB + S_RFLAGS, rflags);
    pw64(v, H_VMCB + S_RIP, rd(v, UC_X86_REG_RIP));
    pw64(v, H_VMCB + S_RSP, rd(v, UC_X86_REG_RSP));
    pw64(v, H_VMCB + S_RAX, rd(v, UC_X86_REG_RAX));
    uint8_t cpl = (uint8_t)vmdl__x86h_cpl(&ss, cr0, rflags);
    pw(v, H_VMCB + S_CPL, &cpl, 1);
    /* hflags bit 3: the interrupt shadow of STI / MOV SS */
    uint32_t hflags = ctx_u32(v, ctx, v->vm->x86h->segs_off - 8);
    pw32(v, H_VMCB + C_INT_STATE, (hflags >> 3) & 1);
}

/*
 * Re-enter through VMRUN: splice the host's mode fields (RFLAGS through the
 * control registers: hflags, segment caches, CR0-CR4) into the current
 * state so that FPU/SSE registers, MSRs and the general registers stay the
 * guest's, then run the stub.  VMRUN reloads ES/CS/SS/DS, GDTR/IDTR, the
 * control registers, EFER, RFLAGS, RIP, RSP and RAX from the VMCB; FS, GS,
 * LDTR and TR are put back from the guest's own saved caches.
 */
static void splice_saved(struct vmdl_vcpu *v)
{
    struct vmdl_vm *vm = v->vm;
    int from = vm->x86h->segs_off - 48, to = vm->x86h->cr_end_off;
    char *cur = (char *)X86(v)->ctx;
    char keep[4 * SEGCACHE];
    memcpy(keep, cur + vm->x86h->segs_off + R_FS * SEGCACHE, sizeof(keep));
    memcpy(cur + from, (char *)X86(v)->hctx + from, (size_t)(to - from));
    /* fs, gs, ldt, tr are contiguous after ds */
    memcpy(cur + vm->x86h->segs_off + R_FS * SEGCACHE, keep, sizeof(keep));
    uc_context_restore(v->uc, X86(v)->ctx);
    uc_ctl_flush_tlb(v->uc);
}

void vmdl__x86h_splice_host(struct vmdl_vcpu *v)
{
    uc_context_save(v->uc, X86(v)->ctx);
    splice_saved(v);
}

/* Both, with the one context copy save_guest took: nothing writes the
 * engine between them (the delivery path: one 5.5 KB copy less). */
void vmdl__x86h_save_and_splice(struct vmdl_vcpu *v)
{
    vmdl__x86h_save_guest(v);
    splice_saved(v);
}


/*
 * Unicorn's counting hook against the fill hook.  uc_emu_start with a
 * count compiles a hook of Unicorn's own into every block it translates;
 * the next uc_emu_start without a count deletes it first, and the
 * deletion invalidates those blocks by their linear addresses
 * (uc_hook_del -> uc_invalidate_tb -> get_page_addr_code) before anything
 * runs: TLB fills in whatever state the engine holds then, through the C
 * walk while it is on (hosted_walk.c), else through QEMU's.  None of them
 * is an access of the guest's, but a refused one recorded a #PF or NPF the
 * guest never made.  Before the VMRUN stub the engine holds the host's
 * state (no paging, CR3 0) while the walk has the guest's CR0/CR4/EFER
 * from the VMCB: after a step (a descriptor-table load, one instruction of
 * an interrupt shadow), the stub's entry refused the stepped page of any
 * guest with paging on, and the next fill of the run overwrote the
 * record (docs/vmx.md, "Paging turned on under the second stage").  In
 * the guest's own state, a page the second stage unmapped since the step
 * was refused the same way; QEMU's walk (UC_TLB_CPU) would take its #PF
 * path for such a page.
 *
 * So the counting hook goes away in a run of its own that executes
 * nothing: every fill is refused without a trace (h_fill_quiet, through
 * the C walk's hook for the run), Unicorn ignores a refused lookup and
 * flushes all translated code right after, and with the softmmu TLB
 * flushed the fetch at RIP misses too, which ends the run.  The count to
 * pass to uc_emu_start is returned.
 */
size_t vmdl__x86h_emu_count(struct vmdl_vcpu *v, size_t count)
{
    struct x86_vcpu *x = X86(v);
    if (count || !x->h_uc_counted) {
        x->h_uc_counted = x->h_uc_counted || count;
        return count;
    }
    x->h_uc_counted = false;
    enum stop_kind stop = v->stop;
    unsigned vector = v->stop_vector;
    uint64_t rip = rd(v, UC_X86_REG_RIP);
    x->h_fill_quiet = true;
    if (!x->h_walk)
        uc_ctl_tlb_mode(v->uc, UC_TLB_VIRTUAL);
    uc_ctl_flush_tlb(v->uc);
    uc_emu_start(v->uc, rip, 1ull << 63, 0, 0);
    if (!x->h_walk)
        uc_ctl_tlb_mode(v->uc, UC_TLB_CPU);
    x->h_fill_quiet = false;
    uc_ctl_flush_tlb(v->uc);
    wr(v, UC_X86_REG_RIP, rip);
    v->stop = stop;
    v->stop_vector = vector;
    return 0;
}

/*
 * Run the VMRUN stub (after vmdl__x86h_splice_host) and stop before the
 * guest's first instruction: the event it injects has been delivered then,
 * and an exception during the delivery has stopped the engine at the VMRUN.
 *
 * A deadline one instruction ahead makes the block hook stop the engine at
 * the start of the first guest block, as an instruction budget would, and
 * the translation cache stays.  It also replaces whatever deadline the
 * entry had for the stub's own block: a kick (vmdl_vcpu_request_exit from
 * a device) or a passed deadline must not stop the stub before its VMRUN,
 * which would leave an acknowledged interrupt undelivered.  So the first VMRUN turns the block hook on
 * for good (the vCPU counts its instructions from then on); the stub's
 * block, translated by the start-up calibration without the hook, is
 * retranslated.  Only if the hook cannot be added does the stub run with an
 * instruction count of 1: Unicorn compiles that counting hook into each
 * translation block, so blocks cached by earlier runs would not stop
 * (measured: the handler ran on), and the whole cache is flushed first and
 * again by the next run without a count.  Unicorn 2.1.1 zeroes its code
 * buffer (1 GiB by default) on every flush (tcg_region_assign): that was
 * most of the cost of an event (docs/performance.md).  Neither way counts
 * the VMRUN or the first guest block (until it runs).
 */
void vmdl__x86h_run_stub(struct vmdl_vcpu *v)
{
    wr(v, UC_X86_REG_RAX, H_VMCB);
    v->stop = STOP_NONE;
    X86(v)->h_walk_stub = true;        /* hosted_walk.c */
    X86(v)->h_walk_refused = false;
    /* The translation mode of the guest the VMRUN enters (a second stage
     * turned on since the run began, hosted_nested.c's reload). */
    vmdl__x86h_walk_sync(v);
    /* The counts before the stub: it retires no guest instruction. */
    uint64_t insns = vmdl__insns(v), branches = vmdl__branches(v), stall = v->stall;
    if (!v->block_hook_on) {
        if (!X86(v)->h_counts) {
            X86(v)->h_counts = true;
            vmdl_vcpu_need_insn_count(v, true);
        }
        vmdl__count_update_hook(v);
        uc_ctl_remove_cache(v->uc, H_STUB, H_STUB + 1);
    }
    vmdl__x86h_tpr_vmcb(v);
    if (v->block_hook_on) {
        uint64_t deadline = v->kick_deadline;
        vmdl__set_kick(v, vmdl__insns(v) + 1);
        uc_emu_start(v->uc, H_STUB, 1ull << 63, 0, vmdl__x86h_emu_count(v, 0));
        vmdl__set_kick(v, deadline);
        if (v->stop == STOP_KICK)
            v->stop = STOP_NONE;
        /* The VMRUN is the machine's, not the guest's, and the first
         * guest block, counted as the engine stopped before it, is counted
         * again when the next run enters it: neither has retired. */
        vmdl__insns_set(v, insns);
        vmdl__branches_set(v, branches);
        v->stall = stall;
        vmdl__count_forget_block(v);
    } else {
        uc_ctl_flush_tb(v->uc);
        uc_emu_start(v->uc, H_STUB, 1ull << 63, 0, vmdl__x86h_emu_count(v, 1));
    }
    X86(v)->h_walk_stub = false;
    vmdl__x86h_vmrun_done(v);
}

/* Run the first VMRUN of an entry (the stub from the host state).  QEMU
 * 5.0's VMRUN does not load the VMCB's interrupt shadow (only its #VMEXIT
 * stores it): an entry in an STI / MOV SS shadow (an interrupt window
 * opened there) would lose it and take the interrupt one instruction
 * early, so the shadow goes back into the engine's hflags here. */
void vmdl__x86h_enter(struct vmdl_vcpu *v)
{
    vmdl__x86h_splice_host(v);
    vmdl__x86h_run_stub(v);
    X86(v)->hosted_vmrun = false;
    if (pr64(v, H_VMCB + C_INT_STATE) & 1) {
        uc_context_save(v->uc, X86(v)->ctx);
        char *ctx = (char *)X86(v)->ctx;
        int off = v->vm->x86h->segs_off - 8;
        uint32_t hflags = ctx_u32(v, ctx, off) | (1u << 3);   /* HF_INHIBIT_IRQ */
        memcpy(ctx + off, &hflags, 4);
        uc_context_restore(v->uc, X86(v)->ctx);
    }
}

/* ---- page walk (reading the guest's linear memory) ------------------- */

/* The paging registers alone: enough for a walk without rights checks. */
static void paging_regs(struct vmdl_vcpu *v, struct vmdl__x86_paging *p)
{
    memset(p, 0, sizeof(*p));
    p->cr0 = rd(v, UC_X86_REG_CR0);
    p->cr3 = rd(v, UC_X86_REG_CR3);
    p->cr4 = rd(v, UC_X86_REG_CR4);
    p->efer = vmdl__x86h_rdmsr(v, MSR_EFER);
    p->pdpte = vmdl__x86h_pdptes(v);
}

static bool walk_with(const struct vmdl__x86_paging *p, const struct vmdl__x86_pmem *m,
                      uint64_t la, uint64_t *pa)
{
    struct vmdl__x86_xlate x;
    if (!vmdl__x86_walk(p, m, la, 0, &x))
        return false;
    *pa = x.pa;
    return true;
}

/* Linear to (the guest's) physical with the guest's current paging mode
 * (walk.c), no rights checked and no A/D updates: reading the IDT and
 * writing an error code (accesses the delivery itself just made), fetching
 * the instruction of an intercept.  A nested guest's tables are read
 * through the second stage while it is on. */
static bool walk(struct vmdl_vcpu *v, uint64_t la, uint64_t *pa)
{
    struct vmdl__x86_paging p;
    struct vmdl__x86_pmem m;
    paging_regs(v, &p);
    vmdl__x86h_guest_pmem(v, &m);
    return walk_with(&p, &m, la, pa);
}

int vmdl__x86h_translate(struct vmdl_vcpu *v, uint64_t la, uint64_t *pa)
{
    return walk(v, la, pa) ? VMDL_OK : VMDL_ENOENT;
}

bool vmdl__x86h_lin_rw(struct vmdl_vcpu *v, uint64_t la, void *buf, size_t n, bool write)
{
    uint8_t *p = buf;
    while (n) {
        uint64_t pa;
        size_t chunk = 0x1000 - (la & 0xFFF);
        chunk = chunk < n ? chunk : n;
        if (!walk(v, la, &pa) ||
            (X86(v)->npt.on && !vmdl__x86h_npt_xlate(v, pa, write, &pa)))
            return false;
        uc_err e = write ? uc_mem_write(v->uc, pa, p, chunk)
                         : uc_mem_read(v->uc, pa, p, chunk);
        if (e)
            return false;
        la += chunk;
        p += chunk;
        n -= chunk;
    }
    return true;
}

/*
 * An emulated instruction's data access at CPL cpl with the rights of SDM
 * vol. 3, 4.6 (walk.c: U/S, R/W with CR0.WP, SMAP with RFLAGS.AC, reserved
 * bits, protection keys).  False with *pf_err (the #PF error code) and
 * *pf_addr set when it faults.  Accessed/dirty bits are not updated.
 */
bool vmdl__x86h_lin_access(struct vmdl_vcpu *v, uint64_t la, void *buf, size_t n,
                           bool write, unsigned cpl, uint32_t *pf_err,
                           uint64_t *pf_addr)
{
    struct vmdl__x86_paging p;
    struct vmdl__x86_pmem m;
    bool two = X86(v)->npt.on;          /* a nested guest's second stage */
    vmdl__x86h_paging_now(v, &p);
    if (two)
        vmdl__x86h_npt_pmem(v, &m);
    else
        vmdl__x86h_pmem(v, &m);
    unsigned access = VMDL_WALK_CHECK | (write ? VMDL_WALK_WRITE : 0) |
                      (cpl == 3 ? VMDL_WALK_USER : 0) |
                      ((rd(v, UC_X86_REG_RFLAGS) & (1ull << 18)) ? VMDL_WALK_AC : 0);
    uint64_t pa[2];
    size_t first = 0x1000 - (la & 0xFFF);
    first = first < n ? first : n;
    /* Every page is checked before any byte is written. */
    for (unsigned i = 0; i < 2; i++) {
        uint64_t at = i ? la + first : la;
        struct vmdl__x86_xlate x;
        if (i && first == n)
            break;
        bool ok = vmdl__x86_walk(&p, &m, at, access, &x);
        if (ok && two)
            ok = vmdl__x86h_npt_data(v, &p, &x, write, &x.pa);
        if (!ok) {
            *pf_err = two && X86(v)->npt.miss.pending ? VMDL__X86H_PF_NPF : x.pfec;
            *pf_addr = at;
            return false;
        }
        pa[i] = x.pa;
    }
    uint8_t *b = buf;
    for (unsigned i = 0; i < 2 && n; i++) {
        size_t chunk = i ? n : first;
        uc_err e = write ? uc_mem_write(v->uc, pa[i], b, chunk)
                         : uc_mem_read(v->uc, pa[i], b, chunk);
        if (e && !write)
            memset(b, 0, chunk);           /* unassigned memory reads 0 */
        b += chunk;
        n -= chunk;
    }
    return true;
}

/* ---- the run loop step -------------------------------------------------- */

/*
 * The error code of the exception intercept that stopped the engine, as
 * the interrupt hook found it in QEMU's state (vmdl__x86h_note_err_code).
 * It must be read there: by the time uc_emu_start returns after a #PF
 * intercept raised by a page walk, QEMU's field reads 0 (measured on
 * 2.1.1: 1, 0x21 and 2 in the hook, 0 after it), while a #GP raised by a
 * helper keeps it.
 */
uint64_t vmdl__x86h_err_code(struct vmdl_vcpu *v)
{
    return X86(v)->h_exc_err;
}

void vmdl__x86h_note_err_code(struct vmdl_vcpu *v, uint32_t intno)
{
    bool exc = intno >= EXCP_VMEXIT + X_EXCP && intno < EXCP_VMEXIT + X_EXCP + 32;
    if (!exc)
        return;
    uc_context_save(v->uc, X86(v)->ctx);
    X86(v)->h_exc_err = ctx_u32(v, (const char *)X86(v)->ctx, v->vm->x86h->err_off);
}

/*
 * A software interrupt the machine did not deliver (a nested guest's INT3
 * that became a VM exit): QEMU's exception_is_int, the int after the
 * pending error code in its CPU state, stays set until the next event
 * delivery clears it (VMRUN's injection does), and Unicorn moves RIP to
 * that INT's return address at every intercept meanwhile (its
 * cpu_handle_exception; measured on 2.1.1: the next #UD reported RIP past
 * the INT3).  Cleared here, only when it reads 1.
 */
void vmdl__x86h_end_soft_int(struct vmdl_vcpu *v)
{
    int off = v->vm->x86h->err_off + 4;
    uc_context_save(v->uc, X86(v)->ctx);
    char *ctx = (char *)X86(v)->ctx;
    if (ctx_u32(v, ctx, off) != 1)
        return;
    uint32_t zero = 0;
    memcpy(ctx + off, &zero, 4);
    uc_context_restore(v->uc, X86(v)->ctx);
}

/*
 * IRET to an outer privilege level makes FS/GS null when they hold a data
 * segment more privileged than the new CPL (SDM vol. 2, IRET); in 64-bit
 * mode their bases stay, and a kernel whose GS selector is a DPL-0 data
 * segment finds its per-CPU base again when it comes back.  QEMU's IRET
 * (validate_seg) zeroes the base too, inside the engine, with no exit.  The
 * machine therefore notes non-null FS/GS selectors and their bases at every
 * stop at CPL 0, and when the guest comes back from CPL 3 (an event
 * delivered, SYSCALL, SYSENTER) with a null selector and a zero base where
 * a kernel selector was, it puts that base back.
 */
static const int kseg_sel[2] = { UC_X86_REG_FS, UC_X86_REG_GS };
static const int kseg_base[2] = { UC_X86_REG_FS_BASE, UC_X86_REG_GS_BASE };

void vmdl__x86h_note_kseg(struct vmdl_vcpu *v)
{
    if (rd(v, UC_X86_REG_CS) & 3)
        return;
    for (unsigned i = 0; i < 2; i++) {
        uint16_t sel = (uint16_t)rd(v, kseg_sel[i]);
        if (!(sel & 0xFFFC))
            continue;
        X86(v)->h_kseg_sel[i] = sel;
        X86(v)->h_kseg_base[i] = rd(v, kseg_base[i]);
    }
}

void vmdl__x86h_restore_kseg(struct vmdl_vcpu *v)
{
    struct x86_vcpu *x = X86(v);
    if ((rd(v, UC_X86_REG_CS) & 3) != 3 || !(x->h_kseg_sel[0] | x->h_kseg_sel[1]) ||
        !(vmdl__x86h_rdmsr(v, MSR_EFER) & (1ull << 10)))
        return;
    for (unsigned i = 0; i < 2; i++)
        if (x->h_kseg_sel[i] && !(rd(v, kseg_sel[i]) & 0xFFFC) && !rd(v, kseg_base[i]))
            wr(v, kseg_base[i], x->h_kseg_base[i]);
}

/* An emulated instruction completes; under RFLAGS.TF it owes the
 * single-step #DB QEMU would have raised (hosted_dr.c). */
void vmdl__x86h_retire(struct vmdl_vcpu *v, unsigned len)
{
    wr(v, UC_X86_REG_RIP, rd(v, UC_X86_REG_RIP) + len);
    vmdl__insns_add(v, 1);
    X86(v)->h_emulated = true;    /* ends an interrupt shadow (hosted_irq.c) */
    uint64_t rflags = rd(v, UC_X86_REG_RFLAGS);
    if (rflags & (1ull << 8))
        X86(v)->h_ss_trap = true;
    /* A completed instruction clears RF (SDM vol. 3, 18.3.1.1). */
    if (rflags & (1ull << 16))
        wr(v, UC_X86_REG_RFLAGS, rflags & ~(1ull << 16));
}

/*
 * Where the vCPU stopped, as the block hook names code: the linear address
 * CS.base + RIP (RIP in 64-bit mode, where CS.base is 0 for fetches).  The
 * instruction counter places a stop in its current block with it; with
 * RIP alone a stop in real-mode code (CS.base = CS << 4) looked like the
 * end of a block that had not run (its instructions counted twice).  Flat
 * code, where RIP falls inside the current block, costs nothing; real mode
 * costs two register reads, a based protected-mode segment a state copy.
 */
uint64_t vmdl__x86h_count_pc(struct vmdl_vcpu *v)
{
    uint64_t rip = rd(v, UC_X86_REG_RIP);
    const struct block_info *b = v->cur_block;
    if (!b || (rip >= b->addr && rip < b->addr + b->size))
        return rip;
    if (!(rd(v, UC_X86_REG_CR0) & 1))                   /* real mode */
        return ((rd(v, UC_X86_REG_CS) & 0xFFFF) << 4) + (rip & 0xFFFF);
    uc_context_save(v->uc, X86(v)->ctx);
    struct seg cs;
    seg_from_ctx(v, (const char *)X86(v)->ctx, R_CS, &cs);
    if ((vmdl__x86h_rdmsr(v, MSR_EFER) & (1ull << 10)) && (cs.flags & DESC_L))
        return rip;
    return (uint32_t)(cs.base + rip);
}

/* The code size of the current mode: 64 in 64-bit mode, else CS.D (32 or
 * 16: compatibility or legacy mode). */
unsigned vmdl__x86h_code_bits(struct vmdl_vcpu *v)
{
    uc_context_save(v->uc, X86(v)->ctx);
    struct seg cs;
    seg_from_ctx(v, (const char *)X86(v)->ctx, R_CS, &cs);
    if ((vmdl__x86h_rdmsr(v, MSR_EFER) & (1ull << 10)) && (cs.flags & DESC_L))
        return 64;
    return (cs.flags & DESC_B) ? 32 : 16;
}

/* The RIP of a block that starts at linear address la (the block hook's
 * address is CS.base + RIP outside 64-bit code). */
uint64_t vmdl__x86h_block_rip(struct vmdl_vcpu *v, uint64_t la)
{
    unsigned bits = vmdl__x86h_code_bits(v);        /* saves the context */
    if (bits == 64)
        return la;
    struct seg cs;
    seg_from_ctx(v, (const char *)X86(v)->ctx, R_CS, &cs);
    uint64_t rip = la - cs.base;
    return bits == 32 ? (uint32_t)rip : (uint16_t)rip;
}

/* The code size (64, 32, 16) in the context vmdl__x86h_opcode_at just
 * saved (no second copy). */
unsigned vmdl__x86h_saved_code_bits(struct vmdl_vcpu *v)
{
    const char *ctx = (const char *)X86(v)->ctx;
    if (ctx_u32(v, ctx, v->vm->x86h->segs_off - 8) & HF_CS64)
        return 64;
    struct seg cs;
    seg_from_ctx(v, ctx, R_CS, &cs);
    return (cs.flags & DESC_B) ? 32 : 16;
}

/* The intercepted instruction's opcode bytes after its prefixes: QEMU's
 * exit_info_1 (read or write) proved unreliable across vCPUs, the bytes
 * are not. Returns the prefix count, -1 if RIP cannot be read.  On the hot
 * path of every intercept: the mode and control registers come from one
 * context copy, page tables and code from guest RAM directly. */
int vmdl__x86h_opcode_at(struct vmdl_vcpu *v, uint8_t op[3], uint8_t *rex)
{
    uint8_t b[16];
    uint64_t rip = rd(v, UC_X86_REG_RIP);
    uc_context_save(v->uc, X86(v)->ctx);
    const char *ctx = (const char *)X86(v)->ctx;
    int segs = v->vm->x86h->segs_off;
    struct seg cs;
    seg_from_ctx(v, ctx, R_CS, &cs);
    uint32_t hflags = ctx_u32(v, ctx, segs - 8);
    struct vmdl__x86_paging p = { .efer = (hflags & HF_LMA) ? (1ull << 10) : 0 };
    const char *cr = ctx + segs + 10 * SEGCACHE;
    memcpy(&p.cr0, cr, 8);
    memcpy(&p.cr3, cr + 3 * 8, 8);
    memcpy(&p.cr4, cr + 4 * 8, 8);
    p.pdpte = vmdl__x86h_pdptes(v);
    uint64_t la = (hflags & HF_CS64) ? rip : cs.base + rip;
    uint64_t pa;
    size_t first = 0x1000 - (la & 0xFFF);
    first = first < sizeof(b) ? first : sizeof(b);
    struct vmdl__x86_pmem m;
    vmdl__x86h_pmem(v, &m);
    if (!walk_with(&p, &m, la, &pa) || !m.read(v, pa, b, (unsigned)first))
        return -1;
    /* Bytes past an unmapped page boundary read as zero: QEMU fetched the
     * whole instruction before it intercepted it. */
    if (first < sizeof(b) && (!walk_with(&p, &m, la + first, &pa) ||
                              !m.read(v, pa, b + first, (unsigned)(sizeof(b) - first))))
        memset(b + first, 0, sizeof(b) - first);
    int n = 0;
    while (n < 14 && ((b[n] >= 0x40 && b[n] <= 0x4F) || b[n] == 0x66 ||
                      b[n] == 0x67 || b[n] == 0xF2 || b[n] == 0xF3 ||
                      b[n] == 0x2E || b[n] == 0x36 || b[n] == 0x3E ||
                      b[n] == 0x26 || b[n] == 0x64 || b[n] == 0x65))
        n++;
    *rex = n && (b[n - 1] & 0xF0) == 0x40 ? b[n - 1] : 0;
    memcpy(op, b + n, 3);
    return n;
}

/* Before an entry through VMRUN (the first one, or after an event) these
 * are in the VMCB, and the engine holds the stub's. */
static const struct { int reg; unsigned off; uint64_t mask; } vmcb_regs[] = {
    {VMDL_X86_RIP, S_RIP, ~0ull}, {VMDL_X86_RSP, S_RSP, ~0ull},
    {VMDL_X86_RAX, S_RAX, ~0ull}, {VMDL_X86_RFLAGS, S_RFLAGS, ~0ull},
    {VMDL_X86_CR0, S_CR0, ~0ull}, {VMDL_X86_CR2, S_CR2, ~0ull},
    {VMDL_X86_CR3, S_CR3, ~0ull}, {VMDL_X86_CR4, S_CR4, ~0ull},
    {VMDL_X86_EFER, S_EFER, ~0ull}, {VMDL_X86_CS, S_CS, 0xFFFF},
    {VMDL_X86_SS, S_SS, 0xFFFF}, {VMDL_X86_DS, S_DS, 0xFFFF}, {VMDL_X86_ES, S_ES, 0xFFFF},
};

bool vmdl__x86h_in_vmcb(struct vmdl_vcpu *v, int reg)
{
    for (unsigned i = 0; X86(v)->hosted_vmrun && i < VMDL_ARRAY_SIZE(vmcb_regs); i++)
        if (vmcb_regs[i].reg == reg)
            return true;
    return false;
}

bool vmdl__x86h_get_reg(struct vmdl_vcpu *v, int reg, uint64_t *val)
{
    for (unsigned i = 0; X86(v)->hosted_vmrun && i < VMDL_ARRAY_SIZE(vmcb_regs); i++)
        if (vmcb_regs[i].reg == reg) {
            *val = pr64(v, H_VMCB + vmcb_regs[i].off) & vmcb_regs[i].mask;
            return true;
        }
    switch (reg) {
    case VMDL_X86_CR0: *val = rd(v, UC_X86_REG_CR0); return true;
    case VMDL_X86_CR2: *val = rd(v, UC_X86_REG_CR2); return true;
    case VMDL_X86_CR3: *val = rd(v, UC_X86_REG_CR3); return true;
    case VMDL_X86_CR4: *val = rd(v, UC_X86_REG_CR4); return true;
    case VMDL_X86_EFER: *val = vmdl__x86h_rdmsr(v, MSR_EFER); return true;
    default: return false;
    }
}
