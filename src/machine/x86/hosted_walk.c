/* SPDX-License-Identifier: MIT */
/*
 * Supervisor protection keys (CR4.PKS, IA32_PKRS) on the hosted x86 vCPU.
 *
 * QEMU 5.0 inside Unicorn 2.1.1 walks the guest's page tables itself
 * (UC_TLB_CPU) with protection keys for user pages only: no CR4.PKS, no
 * IA32_PKRS, no supervisor-key check (docs/kvm-unit-tests.md, "smap, pku,
 * pks").  While the guest has CR4.PKS set in IA-32e mode the vCPU switches
 * the engine to UC_TLB_VIRTUAL: every softmmu TLB miss then reaches
 * vmdl__x86h_walk_fill, which walks the guest's tables in C (walk.c: all
 * the rights of SDM vol. 3, 4.6, the keys, reserved bits, A/D updates) and
 * either installs the page with the rights this access context has, or
 * refuses it: Unicorn then ends the run with RIP at the faulting
 * instruction, and the run loop delivers #PF with the walk's error code
 * (vmdl__x86h_walk_fault) as for an intercepted one.  Clearing CR4.PKS (or
 * leaving long mode) goes back to QEMU's own walk.
 *
 * What the fill hook cannot see, and how it is made up for:
 *  - the access's MMU index: the privilege comes from CS.RPL (the CPL in
 *    IA-32e mode) and RFLAGS.AC.  Implicit supervisor accesses at CPL 3
 *    are the delivery's (IDT, TSS, new stack: all inside the VMRUN stub
 *    run, flagged by h_walk_stub) and descriptor-table reads (a page of the
 *    GDT or LDT read at CPL 3 is taken as one);
 *  - the exact address: the hook gets the page.  CR2 is rebuilt from the
 *    instruction at RIP (vmdl__x86h_walk_fault), exact for fetches, ModRM
 *    memory operands and stack / string accesses, the page otherwise.
 * Pages are installed with only the rights the access context allows and
 * write access only once D is set, so a later write, a different
 * privilege or a changed key register comes back through the hook:
 * PKRS writes (hosted_msr.c) and WRPKRU (QEMU's helper) flush the TLB.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hosted.h"
#include "walk.h"

#define RFLAGS_AC (1ull << 18)

/* ---- guest-physical memory for walk.c ---------------------------------- */

static bool pm_read(void *opaque, uint64_t pa, void *buf, unsigned n)
{
    struct vmdl_vcpu *v = opaque;
    uint64_t left = 0;
    const uint8_t *p = vmdl__ram_span(v->vm, pa, &left);
    if (p && left >= n) {
        memcpy(buf, p, n);
        return true;
    }
    return uc_mem_read(v->uc, pa, buf, n) == UC_ERR_OK;
}

/* Through the engine: an A/D update may hit a page with translated code. */
static bool pm_write(void *opaque, uint64_t pa, const void *buf, unsigned n)
{
    struct vmdl_vcpu *v = opaque;
    return uc_mem_write(v->uc, pa, buf, n) == UC_ERR_OK;
}

void vmdl__x86h_pmem(struct vmdl_vcpu *v, struct vmdl__x86_pmem *m)
{
    m->read = pm_read;
    m->write = pm_write;
    m->opaque = v;
}

/* ---- PKRU, which QEMU keeps and no Unicorn register reaches ------------ */

/*
 * Find PKRU in the saved engine state: WRPKRU of two values in the host
 * state (CPL 0 at the private code page, CR4.PKE put into the state as
 * hosted_cr.c does) and the one 32-bit field holding both is it.  Done once
 * per VM, the first time the walk needs it; the guest's state is put back.
 */
static int pkru_run(struct vmdl_vcpu *v, uint32_t val, char *snap)
{
    struct vmdl_vm *vm = v->vm;
    uint8_t code[] = { 0xB8, (uint8_t)val, (uint8_t)(val >> 8), (uint8_t)(val >> 16),
                       (uint8_t)(val >> 24), 0x31, 0xC9, 0x31, 0xD2, 0x0F, 0x01, 0xEF,
                       0x31, 0xC0, 0xF4 };      /* ...; xor eax, eax (one copy); hlt */
    pw(v, H_CALIB, code, sizeof(code));
    uc_context_restore(v->uc, X86(v)->hctx);
    /* The first run's block is still cached: the write alone does not
     * always drop it (docs/unicorn.md, self-modifying code). */
    uc_ctl_remove_cache(v->uc, H_CALIB, H_CALIB + sizeof(code));
    uc_context_save(v->uc, X86(v)->ctx);
    char *ctx = (char *)X86(v)->ctx;
    uint64_t cr4;
    memcpy(&cr4, ctx + vm->x86h->cr_end_off - 8, 8);
    cr4 |= VMDL_X86_CR4_PKE;
    memcpy(ctx + vm->x86h->cr_end_off - 8, &cr4, 8);
    uc_context_restore(v->uc, X86(v)->ctx);
    v->stop = STOP_NONE;
    uc_emu_start(v->uc, H_CALIB, 1ull << 63, 0, vmdl__x86h_emu_count(v, 0)); /* to the HLT */
    if (rd(v, UC_X86_REG_RIP) != H_CALIB + sizeof(code))
        return -1;
    uc_context_save(v->uc, X86(v)->ctx);
    memcpy(snap, X86(v)->ctx, uc_context_size(v->uc));
    return 0;
}

static bool find_pkru(struct vmdl_vcpu *v)
{
    struct vmdl_vm *vm = v->vm;
    size_t size = uc_context_size(v->uc);
    char *keep = malloc(size), *a = malloc(size), *b = malloc(size);
    uint64_t insns = vmdl__insns(v), branches = vmdl__branches(v), deadline = v->kick_deadline;
    vmdl__set_kick(v, UINT64_MAX);
    int found = 0;
    if (keep && a && b) {
        uc_context_save(v->uc, X86(v)->ctx);
        memcpy(keep, X86(v)->ctx, size);
        if (!pkru_run(v, 0x5A5A5A54u, a) && !pkru_run(v, 0x3C3C3C30u, b))
            for (size_t off = 0; off + 4 <= size; off += 4)
                if (!memcmp(a + off, "\x54\x5A\x5A\x5A", 4) &&
                    !memcmp(b + off, "\x30\x3C\x3C\x3C", 4))
                    found = found ? -1 : (int)off;
        memcpy(X86(v)->ctx, keep, size);
        uc_context_restore(v->uc, X86(v)->ctx);
    }
    free(keep);
    free(a);
    free(b);
    vmdl__insns_set(v, insns);
    vmdl__branches_set(v, branches);
    vmdl__set_kick(v, deadline);
    v->cur_block = NULL;
    v->stop = STOP_NONE;
    uc_ctl_flush_tlb(v->uc);          /* the host's entries from the runs */
    vm->x86h->pkru_off = found > 0 ? found : -1;
    return found > 0;
}

static uint32_t pkru_now(struct vmdl_vcpu *v)
{
    int off = v->vm->x86h->pkru_off;
    if (off <= 0)
        return 0;
    uc_context_save(v->uc, X86(v)->ctx);
    return ctx_u32(v, (const char *)X86(v)->ctx, off);
}

/* Where PKRU is in a saved engine state (found by calibration the first
 * time; the calibration runs in the engine, so call it before saving a
 * state to read); -1 when unknown. */
int vmdl__x86h_pkru_off(struct vmdl_vcpu *v)
{
    if (!v->vm->x86h->pkru_off)
        find_pkru(v);
    return v->vm->x86h->pkru_off > 0 ? v->vm->x86h->pkru_off : -1;
}

/* ---- the paging state --------------------------------------------------- */

static void paging_base(struct vmdl_vcpu *v, struct vmdl__x86_paging *p)
{
    struct vmdl_cpuid_entry e;
    p->phys_bits = 40;
    if (!vmdl_vm_get_cpuid(v->vm, 0x80000008, 0, &e) && (e.eax & 0xFF))
        p->phys_bits = e.eax & 0xFF;
    p->gb_pages = vmdl__x86_cpuid_has(v->vm, 0x80000001, 3, 26);
    p->pkrs = X86(v)->pkrs;
}

/* The live state (the run loop, the emulated operand accesses). */
void vmdl__x86h_paging_now(struct vmdl_vcpu *v, struct vmdl__x86_paging *p)
{
    memset(p, 0, sizeof(*p));
    paging_base(v, p);
    p->cr0 = rd(v, UC_X86_REG_CR0);
    p->cr3 = rd(v, UC_X86_REG_CR3);
    p->cr4 = rd(v, UC_X86_REG_CR4);
    p->efer = vmdl__x86h_rdmsr(v, MSR_EFER);
    p->pdpte = vmdl__x86h_pdptes(v);
    if ((p->cr4 & VMDL_X86_CR4_PKE) && (p->cr4 & VMDL_X86_CR4_PKS))
        p->pkru = pkru_now(v);
}

/*
 * The engine's translation mode for the state the guest is in now: the C
 * walk while CR4.PKS is on in IA-32e mode (and no nested guest runs: L2's
 * tables and keys are its own), while the second stage is on, and while
 * PDPTE registers are in force (hosted_pdpte.c), QEMU's otherwise.  Called after every
 * CR0/CR4/EFER change the machine sees and before each entry once the
 * guest has set CR4.PKS; it also refreshes the cached CR0/CR4/EFER the
 * fill hook uses (they change only through intercepts).
 */
void vmdl__x86h_walk_sync(struct vmdl_vcpu *v)
{
    struct x86_vcpu *x = X86(v);
    /* A state waiting in the VMCB is the one the guest runs in next (the
     * engine may hold the host's, spliced for the VMRUN stub, which loads
     * it from there). */
    bool vmcb = x->hosted_vmrun || x->h_walk_stub;
    uint64_t cr4 = vmcb ? pr64(v, H_VMCB + S_CR4) : rd(v, UC_X86_REG_CR4);
    if (!(cr4 & VMDL_X86_CR4_PKS) && !x->h_walk && !x->npt.on && !x->h_pdpte_on)
        return;
    uint64_t cr0 = vmcb ? pr64(v, H_VMCB + S_CR0) : rd(v, UC_X86_REG_CR0);
    uint64_t efer = vmcb ? pr64(v, H_VMCB + S_EFER) : vmdl__x86h_rdmsr(v, MSR_EFER);
    bool want = ((cr4 & VMDL_X86_CR4_PKS) && (cr0 & VMDL_X86_CR0_PG) &&
                 (efer & VMDL_X86_EFER_LMA) && !x->nested) || x->npt.on ||
                x->h_pdpte_on;          /* QEMU's walk knows no PDPTE registers */
    struct vmdl__x86_paging *cached = &x->h_walk_paging;
    memset(cached, 0, sizeof(*cached));
    paging_base(v, cached);          /* CPUID's address width, 1 GiB pages */
    cached->cr0 = cr0;
    cached->cr4 = cr4;
    cached->efer = efer;
    if (want && (cr4 & (VMDL_X86_CR4_PKS | VMDL_X86_CR4_PKE)) && !v->vm->x86h->pkru_off)
        find_pkru(v);
    if (want == x->h_walk)
        return;
    /* (Unicorn's end-of-run walk of `until` - 1, where a refused fill
     * would raise outside any run, is off for every hosted vCPU:
     * hosted_setup.c.) */
    uc_ctl_tlb_mode(v->uc, want ? UC_TLB_VIRTUAL : UC_TLB_CPU);
    uc_ctl_flush_tlb(v->uc);
    x->h_walk = want;
}

/* A CPL-3 read of a page holding part of the GDT or LDT: the processor's
 * own (implicit supervisor) descriptor read of a segment load. */
static bool desc_table_page(struct vmdl_vcpu *v, uint64_t page)
{
    static const int regs[2] = { UC_X86_REG_GDTR, UC_X86_REG_LDTR };
    for (unsigned i = 0; i < 2; i++) {
        uc_x86_mmr t = { 0 };
        uc_reg_read(v->uc, regs[i], &t);
        if (t.limit && page <= t.base + t.limit && t.base < page + 0x1000)
            return true;
    }
    return false;
}

static unsigned access_of(struct vmdl_vcpu *v, uint64_t page, uc_mem_type type)
{
    unsigned a = VMDL_WALK_CHECK | VMDL_WALK_SET_AD;
    if (type == UC_MEM_FETCH)
        a |= VMDL_WALK_FETCH;
    else if (type == UC_MEM_WRITE)
        a |= VMDL_WALK_WRITE;
    if (rd(v, UC_X86_REG_RFLAGS) & RFLAGS_AC)
        a |= VMDL_WALK_AC;
    if (type != UC_MEM_FETCH && X86(v)->h_walk_stub)
        return a | VMDL_WALK_IMPLICIT;
    if ((rd(v, UC_X86_REG_CS) & 3) != 3)
        return a;
    if (type == UC_MEM_READ && desc_table_page(v, page))
        return a | VMDL_WALK_IMPLICIT;
    return a | VMDL_WALK_USER;
}

/*
 * The rights to install for the page: what this access needs, and what
 * else the same context (CPL, RFLAGS.AC: QEMU's MMU index for both code
 * and data) may do there, write only once D is set.  One entry holds
 * QEMU's code and data rights: installing only the access's own would
 * make a page with code and data refill at every switch between them.
 */
static uc_prot prot_of(const struct vmdl__x86_paging *p, const struct vmdl__x86_xlate *x,
                       unsigned access)
{
    unsigned ctx = access & (VMDL_WALK_USER | VMDL_WALK_AC | VMDL_WALK_IMPLICIT);
    unsigned fetch_ctx = (ctx & ~VMDL_WALK_IMPLICIT) | VMDL_WALK_FETCH;
    uc_prot prot = 0;
    if ((access & VMDL_WALK_FETCH) || !vmdl__x86_access_fault(p, x, fetch_ctx))
        prot |= UC_PROT_EXEC;
    if (!(access & VMDL_WALK_FETCH) || !vmdl__x86_access_fault(p, x, ctx))
        prot |= UC_PROT_READ;
    if ((access & VMDL_WALK_WRITE) ||
        (x->dirty && !vmdl__x86_access_fault(p, x, ctx | VMDL_WALK_WRITE)))
        prot |= UC_PROT_WRITE;
    return prot;
}

bool vmdl__x86h_walk_fill(struct vmdl_vcpu *v, uint64_t page, uc_mem_type type,
                          uc_tlb_entry *entry)
{
    struct x86_vcpu *x = X86(v);
    /* The host's own fetch of the VMRUN stub (and the calibration code). */
    if (x->h_walk_stub && type == UC_MEM_FETCH && page >= H_BASE &&
        page < H_BASE + H_SIZE) {
        entry->paddr = page;
        entry->perms = UC_PROT_EXEC;
        return true;
    }
    /* The first refused access of a run is the one it reports (hardware
     * stops at the faulting access): a later fill, one Unicorn makes for
     * itself or one the walk would allow, is refused as well and leaves the
     * record (the #PF's page and error code, the NPF's miss) as it is. */
    if (x->h_walk_refused && v->stop == STOP_INTR)
        return false;
    struct vmdl__x86_paging p = x->h_walk_paging;
    p.cr3 = rd(v, UC_X86_REG_CR3);
    p.pdpte = vmdl__x86h_pdptes(v);
    p.pkrs = x->pkrs;
    unsigned access = access_of(v, page, type);
    struct vmdl__x86_xlate xl;
    struct vmdl__x86_pmem m;
    bool two = x->npt.on;            /* through the second stage (hosted_ept.c) */
    if (two)
        vmdl__x86h_npt_pmem(v, &m);
    else
        vmdl__x86h_pmem(v, &m);
    /* PKRU costs a state copy: read it only for a user page's data (a
     * first walk without checks or updates finds which page it is). */
    if ((p.cr4 & VMDL_X86_CR4_PKE) && !(access & VMDL_WALK_FETCH) &&
        vmdl__x86_walk(&p, &m, page, 0, &xl) && xl.user)
        p.pkru = pkru_now(v);
    if (two)
        x->npt.miss.pending = false;     /* the real walk decides */
    if (vmdl__x86_walk(&p, &m, page, access, &xl)) {
        uint64_t pa = xl.pa;
        uc_prot perms = prot_of(&p, &xl, access);
        if (!two || vmdl__x86h_npt_final(v, &p, &xl, access, &pa, &perms)) {
            entry->paddr = pa;
            entry->perms = perms;
            x->h_walk_fills++;
            return true;
        }
    }
    if (v->stop != STOP_NONE && v->stop != STOP_KICK)
        return false;
    if (two && x->npt.miss.pending) {
        /* A second-stage fault, before any #PF the walk would raise: the
         * NPF event (vmdl__x86h_npf_exit), with the linear address
         * worked out as for a #PF's CR2 (vmdl__x86h_walk_cr2). */
        pw64(v, H_VMCB + C_EXIT_INFO2, page);
        x->h_walk_refused = true;
        x->h_walk_page = page;
        x->h_walk_fetch = type == UC_MEM_FETCH;
        v->stop = STOP_INTR;
        v->stop_vector = EXCP_VMEXIT + X_NPF;
        return false;
    }
    /* What an intercepted #PF leaves, so that every path that handles one
     * (the run loop, a fault while delivering, a descriptor-table step)
     * takes this one too; CR2 is the page until vmdl__x86h_walk_cr2. */
    x->h_exc_err = xl.pfec;
    pw64(v, H_VMCB + C_EXIT_INFO2, page);
    x->h_walk_refused = true;
    x->h_walk_page = page;
    x->h_walk_fetch = type == UC_MEM_FETCH;
    v->stop = STOP_INTR;
    v->stop_vector = EXCP_VMEXIT + X_EXCP + 14;
    return false;
}

/* ---- the #PF of a refused fill ------------------------------------------ */

/* Bytes of immediate after ModRM of the one-byte opcodes that have both. */
static unsigned imm_len(const struct hinsn *in)
{
    unsigned osz = vmdl__x86h_opsize(in) == 16 ? 2 : 4;
    if (in->op[0] == 0x0F)
        return in->op[1] == 0xBA || in->op[1] == 0xA4 || in->op[1] == 0xAC ? 1 : 0;
    switch (in->op[0]) {
    case 0x80: case 0x82: case 0x83: case 0x6B: case 0xC0: case 0xC1: case 0xC6:
        return 1;
    case 0x81: case 0x69: case 0xC7:
        return osz;
    case 0xF6:
        return 1;                /* TEST r/m8, imm8 (/0); others have none */
    case 0xF7:
        return osz;
    default:
        return 0;
    }
}

/* One-byte opcodes with a ModRM byte (SDM vol. 2, table A-2). */
static bool has_modrm(uint8_t op)
{
    if (op < 0x40)
        return (op & 7) < 4;
    return op == 0x62 || op == 0x63 || op == 0x69 || op == 0x6B ||
           (op >= 0x80 && op <= 0x8F) || op == 0xC0 || op == 0xC1 ||
           (op >= 0xC4 && op <= 0xC7) || (op >= 0xD0 && op <= 0xD3) ||
           (op >= 0xD8 && op <= 0xDF) || op == 0xF6 || op == 0xF7 || op == 0xFE ||
           op == 0xFF;
}

static bool on_page(uint64_t la, uint64_t page)
{
    return (la & ~0xFFFull) == page;
}

/* The faulting address of a data access to page by the instruction at
 * RIP: its ModRM operand, else the stack or string pointer on that page;
 * the page itself when nothing matches (or the operand starts below it). */
static uint64_t data_cr2(struct vmdl_vcpu *v, uint64_t page)
{
    struct hinsn in;
    struct hmodrm m;
    if (vmdl__x86h_fetch_insn(v, &in))
        return page;
    bool two = in.op[0] == 0x0F;
    if ((two || has_modrm(in.op[0])) &&
        !vmdl__x86h_modrm(v, &in, in.pfx + (two ? 2 : 1), &m) && !m.is_reg) {
        struct seg s;
        seg_from_ctx(v, (const char *)X86(v)->ctx, m.seg, &s);
        uint64_t base = in.bits == 64 && m.seg != R_FS && m.seg != R_GS ? 0 : s.base;
        uint64_t la = base + m.off;
        if (m.riprel)
            la += in.rip + m.len + imm_len(&in);
        if (in.bits != 64)
            la = (uint32_t)la;
        if (on_page(la, page))
            return la;
    }
    static const int ptrs[] = { UC_X86_REG_RSP, UC_X86_REG_RDI, UC_X86_REG_RSI };
    uint64_t rsp = rd(v, UC_X86_REG_RSP);
    for (unsigned i = 0; i < 4; i++) {
        uint64_t la = i == 3 ? rsp - 8 : rd(v, ptrs[i]);
        if (on_page(la, page))
            return la;
    }
    return page;
}

/* The #PF of a refused fill that stopped a guest run: CR2 from the
 * instruction at RIP (a fault while delivering keeps the page). */
void vmdl__x86h_walk_cr2(struct vmdl_vcpu *v)
{
    struct x86_vcpu *x = X86(v);
    if (!x->h_walk_refused)
        return;
    x->h_walk_refused = false;
    uint64_t page = x->h_walk_page, cr2;
    if (x->h_walk_fetch) {
        uint64_t rip = rd(v, UC_X86_REG_RIP);
        cr2 = on_page(rip, page) ? rip : page;
    } else {
        cr2 = data_cr2(v, page);
    }
    pw64(v, H_VMCB + C_EXIT_INFO2, cr2);
}
