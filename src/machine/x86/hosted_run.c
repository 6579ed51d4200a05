/* SPDX-License-Identifier: MIT */
/*
 * The hosted x86 vCPU's run step: enter the guest, and dispatch why the
 * engine stopped (SVM intercepts, software interrupts, SYSCALL/SYSENTER).
 */
#include <stdio.h>
#include <string.h>

#include "hosted.h"

/* RDTSC/RDTSCP's results: EDX:EAX = the guest's TSC, ECX = TSC_AUX. */
static void tsc_results(struct vmdl_vcpu *v, bool rdtscp, uint64_t tsc)
{
    wr(v, UC_X86_REG_RAX, (uint32_t)tsc);
    wr(v, UC_X86_REG_RDX, tsc >> 32);
    if (rdtscp)
        wr(v, UC_X86_REG_RCX, (uint32_t)vmdl__x86h_rdmsr(v, 0xC0000103));
}

static void handle_tsc(struct vmdl_vcpu *v, bool rdtscp)
{
    tsc_results(v, rdtscp, vmdl__x86_guest_tsc(v));
    vmdl__x86h_retire(v, rdtscp ? 3 : 2);
    vmdl__x86_rdtsc_stall(v);
}

/*
 * STAC (0F 01 CB) / CLAC (0F 01 CA): set or clear RFLAGS.AC.  QEMU decodes
 * them only for a CPU model with SMAP; the machine advertises SMAP
 * (hosted_cr.c keeps CR4.SMAP in the engine).  #UD at CPL > 0 (SDM vol. 2)
 * or without SMAP in CPUID: left to the caller.
 */
static bool stac_clac(struct vmdl_vcpu *v, bool set)
{
    if (!vmdl__x86_cpuid_has(v->vm, 7, 1, 20))
        return false;
    uint64_t cr0 = rd(v, UC_X86_REG_CR0), fl = rd(v, UC_X86_REG_RFLAGS);
    uc_context_save(v->uc, X86(v)->ctx);
    struct seg ss;
    seg_from_ctx(v, (const char *)X86(v)->ctx, R_SS, &ss);
    if (vmdl__x86h_cpl(&ss, cr0, fl))
        return false;
    wr(v, UC_X86_REG_RFLAGS, set ? fl | (1ull << 18) : fl & ~(1ull << 18));
    vmdl__x86h_retire(v, 3);
    return true;
}

/*
 * Instructions the machine advertises that QEMU's CPU model lacks (#UD in
 * the engine): RDTSCP (0F 01 F9) and RDPID (F3 0F C7 /7), both reading
 * IA32_TSC_AUX, and STAC/CLAC.  True when emulated (or, in a nested guest,
 * taken by the event hook); false leaves the #UD, which is what a nested
 * guest without "enable RDTSCP" gets for RDTSCP and RDPID (SDM 26.3).
 */
static bool emulate_ud(struct vmdl_vcpu *v)
{
    uint8_t op[3], rex;
    int pfx = vmdl__x86h_opcode_at(v, op, &rex);
    if (pfx < 0 || op[0] != 0x0F)
        return false;
    if (op[1] == 0x01 && (op[2] == 0xCA || op[2] == 0xCB))
        return stac_clac(v, op[2] == 0xCB);
    bool no_rdtscp = X86(v)->nested && (X86(v)->nctl.intercept & VMDL_X86_NESTED_NO_RDTSCP);
    if (op[1] == 0x01 && op[2] == 0xF9) {
        if (no_rdtscp)
            return false;
        struct vmdl_x86_event ev = {.kind = VMDL_X86_EVENT_RDTSCP,
                                    .insn_len = 3 + (unsigned)pfx};
        if (X86(v)->nested && vmdl__x86h_event(v, &ev))
            return true;
        wr(v, UC_X86_REG_RIP, rd(v, UC_X86_REG_RIP) + (unsigned)pfx);
        handle_tsc(v, true);
        return true;
    }
    if (op[1] == 0xC7 && (op[2] & 0xF8) == 0xF8 && vmdl__x86h_has_prefix(v, pfx, 0xF3)) {
        if (no_rdtscp)
            return false;
        unsigned gpr = (op[2] & 7) | ((rex & 1) << 3);
        wr(v, vmdl__x86_gpr_uc[gpr], (uint32_t)vmdl__x86h_rdmsr(v, 0xC0000103));
        vmdl__x86h_retire(v, 3 + (unsigned)pfx);
        return true;
    }
    return false;
}

/*
 * A #UD that is a VMX instruction (QEMU's CPU model has no VMX): decode it
 * and hand it to the VMX handler (the vmx model's glue), as the
 * deprivileged vCPU does.  Memory operands are linear addresses, which the
 * glue reads as physical ones: right for identity-mapped data (the
 * kvm-unit-tests layout).  True when handled (retired or faulted).
 */
static bool emulate_vmx(struct vmdl_vcpu *v, int *err, bool *triple)
{
    const struct insn_handler *h = &v->vm->vmx;
    struct vmdl_x86_insn insn;
    uint64_t rip = rd(v, UC_X86_REG_RIP);
    if (!h->fn || vmdl__x86_decode_special(v, rip, &insn) ||
        insn.kind >= VMDL_INSN_SEAMCALL)
        return false;
    insn.code_bits = vmdl__x86h_code_bits(v);
    enum vmdl_x86_exit_kind cost = insn.kind == VMDL_INSN_VMREAD ||
                                   insn.kind == VMDL_INSN_VMWRITE
                                       ? VMDL_XK_VMREAD_VMWRITE : VMDL_XK_VMX;
    /* A nested guest's VMX instruction is a VM exit to L1, whose MSR-store
     * list records the TSC of the moment of the exit (KVM stores what the
     * CPU captured at the L2 -> L0 exit, nested_vmx_get_vmexit_msr_value):
     * its cost comes after the handler.  L1's is handled after it. */
    bool from_l2 = X86(v)->nested;
    if (!from_l2)
        vmdl__x86_exit_cost(v, cost);
    /* Only VM entries care (VMfail 26); the others stay cheap. */
    if (insn.kind == VMDL_INSN_VMLAUNCH || insn.kind == VMDL_INSN_VMRESUME)
        insn.mov_ss_shadow = vmdl__x86h_in_mov_ss_shadow(v);
    vmdl_fault f = h->fn(h->opaque, v, &insn);
    if (from_l2)
        vmdl__x86_exit_cost(v, cost);
    /* VMCALL outside a nested guest is KVM's hypercall, not a #UD. */
    if (f == VMDL_FAULT_UD && insn.kind == VMDL_INSN_VMCALL && vmdl__x86h_hypercall(v))
        return true;
    char out[48];
    snprintf(out, sizeof(out), "%s", f ? vmdl_fault_name(f) : "done");
    vmdl__trace_exit(v, "vmx", rip, out);
    /* A VM entry or exit installed a new state for the next VMRUN; the
     * retired RIP is then overwritten by it. */
    if (f)
        *err = vmdl__x86h_fault(v, f, triple);
    else
        vmdl__x86h_retire(v, insn.length);
    return true;
}

/* Offer an intercepted instruction or exception to the VM's event hook
 * (a nested guest's VM exit); true when taken. */
static bool offer(struct vmdl_vcpu *v, unsigned code)
{
    if (!v->vm->x86_event.fn)
        return false;
    struct vmdl_x86_event ev = {0};
    if (code >= X_EXCP && code < X_EXCP + 32) {
        ev.kind = VMDL_X86_EVENT_EXCEPTION;
        ev.vector = code - X_EXCP;
        ev.has_error = vmdl__x86h_has_error(ev.vector);
        ev.error_code = ev.has_error ? (uint32_t)vmdl__x86h_err_code(v) : 0;
        ev.cr2 = ev.vector == 14 ? pr64(v, H_VMCB + C_EXIT_INFO2) : 0;
        return vmdl__x86h_event(v, &ev);
    }
    uint8_t op[3], rex;
    switch (code) {
    case X_CPUID: ev.kind = VMDL_X86_EVENT_CPUID; ev.insn_len = 2; break;
    case X_HLT: ev.kind = VMDL_X86_EVENT_HLT; ev.insn_len = 1; break;
    case X_RDTSC: ev.kind = VMDL_X86_EVENT_RDTSC; ev.insn_len = 2; break;
    case X_RDTSCP: ev.kind = VMDL_X86_EVENT_RDTSCP; ev.insn_len = 3; break;
    case X_CR0_WRITE:
    case X_CR4_WRITE: {
        int pfx = vmdl__x86h_opcode_at(v, op, &rex);
        if (pfx < 0 || op[0] != 0x0F)
            return false;
        unsigned gpr = (op[2] & 7) | ((rex & 1) << 3);
        if (op[1] == 0x22) {
            ev.kind = VMDL_X86_EVENT_MOV_TO_CR;
            ev.cr = code - X_CR0_WRITE;
            ev.gpr = gpr;
            ev.value = rd(v, vmdl__x86_gpr_uc[gpr]);
            ev.insn_len = 3 + (unsigned)pfx;
        } else if (op[1] == 0x06) {
            ev.kind = VMDL_X86_EVENT_CLTS;
            ev.insn_len = 2 + (unsigned)pfx;
        } else if (op[1] == 0x01 && (op[2] & 0xF8) == 0xF0) {
            ev.kind = VMDL_X86_EVENT_LMSW;
            ev.value = rd(v, vmdl__x86_gpr_uc[gpr]) & 0xFFFF;
            ev.insn_len = 3 + (unsigned)pfx;
        } else {
            return false;
        }
        break;
    }
    case X_MSR:
        if (vmdl__x86h_opcode_at(v, op, &rex) < 0)
            return false;
        ev.kind = op[1] == 0x30 ? VMDL_X86_EVENT_WRMSR : VMDL_X86_EVENT_RDMSR;
        ev.msr = (uint32_t)rd(v, UC_X86_REG_RCX);
        ev.insn_len = 2;
        break;
    default:
        return false;
    }
    return vmdl__x86h_event(v, &ev);
}

/* offer() for a MOV to CR0/CR4 decoded already (in the engine). */
static bool offer_cr_write(struct vmdl_vcpu *v, const struct x86h_cr_op *op)
{
    if (!v->vm->x86_event.fn)
        return false;
    struct vmdl_x86_event ev = {.kind = VMDL_X86_EVENT_MOV_TO_CR, .cr = op->cr,
                                .gpr = op->gpr, .value = op->val, .insn_len = op->len};
    return vmdl__x86h_event(v, &ev);
}

/* MOV to CR0/CR4 (or CLTS, LMSW) at RIP: does it change a bit KVM owns? */
static enum vmdl_x86_exit_kind cr_write_kind(struct vmdl_vcpu *v, unsigned cr)
{
    uint8_t op[3], rex;
    uint64_t old = rd(v, cr == 0 ? UC_X86_REG_CR0 : UC_X86_REG_CR4);
    if (vmdl__x86h_opcode_at(v, op, &rex) < 0 || op[0] != 0x0F)
        return VMDL_XK_INTERNAL;     /* faults: the fault is the guest's */
    if (op[1] == 0x22)
        return vmdl__x86_cr_write_kind(cr, old,
                                       rd(v, vmdl__x86_gpr_uc[(op[2] & 7) | ((rex & 1) << 3)]));
    if (op[1] == 0x06)               /* CLTS: CR0.TS only */
        return vmdl__x86_cr_write_kind(0, old, old & ~(1ull << 3));
    return VMDL_XK_CR_WRITE;         /* LMSW: PE/MP/EM are the host's */
}

/* What an intercept costs in virtual time, as KVM would exit on it
 * (exit_cost.c); the hosted vCPU's own intercepts cost nothing. */
static void charge(struct vmdl_vcpu *v, unsigned code)
{
    enum vmdl_x86_exit_kind k = VMDL_XK_INTERNAL;
    uint8_t op[3], rex;
    switch (code) {
    case X_CPUID: k = VMDL_XK_CPUID; break;
    case X_HLT: k = VMDL_XK_HLT; break;
    case X_RDPMC: k = VMDL_XK_RDPMC; break;
    case X_VMMCALL: k = VMDL_XK_HYPERCALL; break;
    case X_INVD:        /* a nested guest's (the engine runs L1's) */
    case X_WBINVD: k = VMDL_XK_CACHE; break;
    case X_MSR:
        if (vmdl__x86h_opcode_at(v, op, &rex) >= 0)
            k = vmdl__x86_msr_kind((uint32_t)rd(v, UC_X86_REG_RCX), op[1] == 0x30);
        break;
    case X_CR0_WRITE:
    case X_CR4_WRITE:
        k = cr_write_kind(v, code - X_CR0_WRITE);
        break;
    default:
        if (code >= X_DR_READ && code < X_DR_WRITE + 8)
            k = VMDL_XK_DR;
        break;
    }
    vmdl__x86_exit_cost(v, k);
}

static int handle_exit(struct vmdl_vcpu *v, unsigned code, bool *triple)
{
    struct vmdl_vm *vm = v->vm;
    int err = VMDL_OK;
    charge(v, code);
    if (code == X_EXCP + 6 && (emulate_ud(v) || emulate_vmx(v, &err, triple) ||
                               vmdl__x86h_nested_ud(v)))
        return err;
    if (code == X_EXCP + 6 && vmdl__x86h_hypercall(v)) {
        vmdl__x86_exit_cost(v, VMDL_XK_HYPERCALL);   /* a VMCALL */
        return VMDL_OK;
    }
    if (code == X_VMMCALL && vmdl__x86h_hypercall(v))
        return VMDL_OK;
    if (code == X_EXCP + 6 && vmdl__x86h_at_icebp(v))
        return vmdl__x86h_icebp_exit(v, triple);
    if (code == X_NPF)
        return vmdl__x86h_npf_exit(v, triple);
    if (vmdl__x86h_nested_exit(v, code, &err, triple))
        return err;
    /* #DB is offered with its DR6 bits by the delivery (hosted_dr.c). */
    if (code != X_EXCP + 1 && offer(v, code))
        return VMDL_OK;
    if (code == X_CPUID) {
        vmdl__x86_cpuid_answer(v);
        vmdl__x86h_retire(v, 2);
        return VMDL_OK;
    }
    if (code == X_EXCP + 1)
        return vmdl__x86h_db_exit(v, triple);
    if (code >= X_DR_READ && code < X_DR_WRITE + 8)
        return vmdl__x86h_dr_exit(v, code, triple);
    if (code >= X_EXCP && code < X_EXCP + 32) {
        unsigned vec = code - X_EXCP;
        uint32_t e = vmdl__x86h_has_error(vec) ? (uint32_t)vmdl__x86h_err_code(v) : 0;
        uint64_t rip = rd(v, UC_X86_REG_RIP);
        /* QEMU takes a branch to a non-canonical address and faults on the
         * fetch there; the #GP belongs to the branch (SDM: JMP, CALL, RET
         * check the target first), as KVM reports it. */
        if (vec == 13 && ((rip + (1ull << 47)) >> 48) != 0)   /* not canonical */
            vmdl__x86_unbranch(v, rip);
        if (vec == 14)
            vmdl__x86h_set_cr2(v, pr64(v, H_VMCB + C_EXIT_INFO2));
        if (vm->trace) {         /* (the text costs: one exit per #PF) */
            char out[48];
            snprintf(out, sizeof(out), "vector %u error 0x%x to guest", vec, e);
            vmdl__trace_exit(v, "exception", rd(v, UC_X86_REG_RIP), out);
        }
        return vmdl__x86h_deliver(v, vec, vmdl__x86h_has_error(vec), e, triple);
    }
    switch (code) {
    case X_MSR:
        return vmdl__x86h_msr_exit(v, triple);
    case X_RDTSC:
    case X_RDTSCP:
        handle_tsc(v, code == X_RDTSCP);
        return VMDL_OK;
    case X_CR0_WRITE:
    case X_CR4_WRITE:
        return vmdl__x86h_cr_write(v, code - X_CR0_WRITE, triple);
    case X_CR8_READ:
    case X_CR8_WRITE:
        return vmdl__x86h_cr8(v, code == X_CR8_WRITE, triple);
    case X_CR0_READ:
        return vmdl__x86h_cr0_read(v, rd(v, UC_X86_REG_CR0), triple);
    case X_PUSHF:
        return vmdl__x86h_pushf(v, triple);
    case X_HLT:
        vmdl__x86h_retire(v, 1);
        /* Under TF the single-step #DB is an event: no halt (as KVM). */
        if (X86(v)->h_ss_trap)
            return VMDL_OK;
        v->halted = true;
        if (vm->irqchip && vm->irqchip->halt)
            vm->irqchip->halt(vm->irqchip_opaque, v);
        return VMDL_OK;
    case X_ICEBP:
        return vmdl__x86h_icebp_exit(v, triple);
    case X_VINTR:
        return VMDL_OK;           /* the window opened: injected on entry */
    case X_IRET:          /* an FS/GS base at risk, or NMI blocking */
        return vmdl__x86h_iret_emulate(v, UINT64_MAX) ? VMDL_OK : vmdl__x86h_iret_exit(v);
    case X_IDTR_READ + 4:       /* IDTR, GDTR, LDTR, TR writes */
    case X_IDTR_READ + 5:
    case X_IDTR_READ + 6:
    case X_TR_WRITE:
        return vmdl__x86h_desc_exit(v, code, triple);
    case X_SHUTDOWN:
        *triple = true;
        return vmdl_fail(VMDL_ESTATE, "shutdown (triple fault) in the guest");
    case X_RDPMC:
        return vmdl__x86h_rdpmc_exit(v, triple);
    default:
        /* SVM instructions: #UD as a CPU without SVM would give. */
        return vmdl__x86h_fault(v, VMDL_FAULT_UD, triple);
    }
}

/*
 * Intercepts completed inside the engine.  Every intercept used to end
 * uc_emu_start and come back through the run loop; for the instructions the
 * machine answers itself (RDMSR/WRMSR, RDTSC/RDTSCP, MOV from/to CR8, MOV
 * from CR0, MOV to CR0/CR4 that keeps the translated code) the
 * UC_HOOK_INTR hook now does what handle_exit would, writes RIP past the
 * instruction and returns: QEMU's cpu_exec then goes on at the new RIP in
 * a new block without leaving uc_emu_start (an SVM intercept clears QEMU's
 * pending-exception state itself, so no context copy is needed).  Virtual
 * time is kept as at a stop: the instructions of the counted block before
 * the intercepted one retired, it retires, the next block is counted anew.
 *
 * The hook completes an instruction only when the loop would resume this
 * vCPU at once (vmdl__hook_reenter, the deadline check, nothing to inject):
 * otherwise, or for a fault, it stops the engine with the outcome decided
 * exactly once, and the loop does the rest.  It declines (the engine stops
 * as for any intercept, nothing done) under TF, in an interrupt shadow,
 * with an interrupt window or an IRET step open, while a nested guest runs
 * (hosted_nested.c owns its intercepts), before the first entry of a new
 * state, when the intercept cannot be placed in the counted block, with a
 * debugger attached, or with no_fast_traps.
 */
static bool in_hook_code(unsigned code)
{
    return code == X_MSR || code == X_RDTSC || code == X_RDTSCP ||
           code == X_CR8_READ || code == X_CR8_WRITE || code == X_CR0_WRITE ||
           code == X_CR4_WRITE || code == X_CR0_READ || code == X_IRET;
}

/* CR0/CR4 accesses are completed in the engine only in their simple forms
 * (hosted_cr.c): decoded before anything is counted, so that the hook can
 * still decline.  True for the other intercepts. */
static bool cr_fast_decode(struct vmdl_vcpu *v, unsigned code, struct x86h_cr_op *op)
{
    if (code == X_CR0_WRITE || code == X_CR4_WRITE)
        return vmdl__x86h_cr_fast_decode(v, code - X_CR0_WRITE, op);
    if (code == X_CR0_READ)
        return vmdl__x86h_cr0_read_decode(v, op);
    return true;
}

/* Would the next entry do more than resume the guest? */
static bool entry_has_work(struct vmdl_vcpu *v)
{
    struct vmdl_vm *vm = v->vm;
    vmdl__x86h_collect_nmis(v);
    return v->nmi_pending || X86(v)->hosted_vmrun || X86(v)->h_ss_trap ||
           (vm->irqchip && vm->irqchip->pending &&
            vm->irqchip->pending(vm->irqchip_opaque, v) >= 0);
}

/*
 * RDTSC/RDTSCP, which KVM runs without a VM exit (TSC offsetting), read
 * virtual time and change nothing a model owns: when the loop's
 * between-exits work would find nothing to do (vmdl__hook_quiet), the
 * engine goes on without it, as the instruction would run on hardware.
 * About a third of the host time of an in-hook RDTSC was that work (the
 * time sources' advance, the scheduling scan, the deadline recomputed;
 * docs/performance.md).  False, with nothing done, otherwise.
 */
static bool tsc_quiet(struct vmdl_vcpu *v, bool rdtscp, uint64_t pc, uint64_t rflags)
{
    /* handle_tsc's order: the TSC read, then the retire and the RDTSC's own
     * cycles; the quiet check is about the point after them, as the loop's
     * would be.  Undone when the general path takes over. */
    uint64_t tsc = vmdl__x86_guest_tsc(v);
    uint32_t own = v->vm->cfg.vtime.rdtsc_cycles;
    vmdl__insns_add(v, 1);
    vmdl__x86_rdtsc_stall(v);
    /* An event hook (a nested guest's VM exit) may take it, as offer()
     * would give it (without building the event each time); the engine then
     * stops as on the general path.  (The APIC's TPR is read back from
     * V_TPR at that stop, after the hook: no hook reads it for RDTSC.) */
    static const struct vmdl_x86_event ev_rdtsc = {.kind = VMDL_X86_EVENT_RDTSC,
                                                   .insn_len = 2};
    static const struct vmdl_x86_event ev_rdtscp = {.kind = VMDL_X86_EVENT_RDTSCP,
                                                    .insn_len = 3};
    bool quiet = vmdl__hook_quiet(v);
    if (!quiet || vmdl__x86h_event(v, rdtscp ? &ev_rdtscp : &ev_rdtsc)) {
        vmdl__insns_set(v, vmdl__insns(v) - 1);
        v->stall -= own;
        if (quiet)
            vmdl__x86_set_stop(v, STOP_KICK);
        return quiet;
    }
    /* handle_tsc with the registers the caller read: TF is clear; RF is
     * cleared as vmdl__x86h_retire does.  (The guest's own instructions run
     * next: no emulated instruction ends a shadow.) */
    v->nr_exits++;
    tsc_results(v, rdtscp, tsc);
    wr(v, UC_X86_REG_RIP, pc + (rdtscp ? 3 : 2));
    if (rflags & (1ull << 16))
        wr(v, UC_X86_REG_RFLAGS, rflags & ~(1ull << 16));
    return true;
}

bool vmdl__x86h_complete_in_hook(struct vmdl_vcpu *v, uint32_t intno)
{
    struct x86_vcpu *x = X86(v);
    unsigned code = intno - EXCP_VMEXIT;
    if (intno < EXCP_VMEXIT || !in_hook_code(code) || v->stop != STOP_NONE ||
        v->vm->cfg.no_fast_traps || v->vm->dbg || x->nested || x->hosted_vmrun ||
        x->h_gif || x->h_iret_step || x->h_desc_step || x->h_shadow_step || x->h_ss_trap)
        return false;
    uint64_t rflags = rd(v, UC_X86_REG_RFLAGS);
    if (rflags & (1ull << 8))
        return false;
    /* In an STI / MOV SS shadow QEMU's inhibit flag is still set: the loop
     * clears it (vmdl__x86h_in_shadow). */
    uint64_t pc = rd(v, UC_X86_REG_RIP);
    struct x86h_cr_op crop = {0};
    if (code == X_IRET) {                 /* performed, or left to the loop */
        if (v->shadow_at == pc || !vmdl__x86h_iret_emulate(v, pc))
            return false;
    } else if (v->shadow_at == pc || !cr_fast_decode(v, code, &crop) ||
               !vmdl__count_at_insn(v, pc)) {
        return false;
    }
    if (code == X_CR0_WRITE || code == X_CR4_WRITE)
        vmdl__x86_exit_cost(v, vmdl__x86_cr_write_kind(crop.cr, crop.old, crop.val));
    else
        charge(v, code);
    if ((code == X_RDTSC || code == X_RDTSCP) && tsc_quiet(v, code == X_RDTSCP, pc, rflags))
        return true;
    vmdl__x86h_tpr_in(v);
    vmdl_fault f = VMDL_FAULT_NONE;
    if (code == X_CR0_WRITE || code == X_CR4_WRITE ? offer_cr_write(v, &crop)
                                                    : offer(v, code)) {
        /* A nested guest's VM exit installed L1's state: enter it. */
        vmdl__x86_set_stop(v, STOP_KICK);
        return true;
    }
    if (code == X_MSR)
        f = vmdl__x86h_msr_do(v);
    else if (code == X_RDTSC || code == X_RDTSCP)
        handle_tsc(v, code == X_RDTSCP);
    else if (code == X_CR0_WRITE || code == X_CR4_WRITE)
        f = vmdl__x86h_cr_fast_write(v, &crop);
    else if (code == X_CR0_READ)
        vmdl__x86h_cr0_read_fast(v, &crop);
    else if (code != X_IRET)
        f = vmdl__x86h_cr8_do(v, code == X_CR8_WRITE);
    if (f) {
        x->h_fault = f;
        v->stop_vector = EXCP_HFAULT;
        vmdl__x86_set_stop(v, STOP_INTR);
    } else if (!vmdl__hook_reenter(v)) {
        vmdl__x86_set_stop(v, STOP_KICK);
    } else if (v->stop != STOP_NONE || entry_has_work(v) ||
               !vmdl__hook_deadline_ok(v)) {
        /* The loop counts this exit when the engine returns: once. */
        v->nr_exits--;
        vmdl__x86_set_stop(v, STOP_KICK);
    } else {
        /* What an entry does before the guest's own instructions run. */
        x->h_emulated = false;
        vmdl__x86h_note_kseg(v);
        vmdl__x86h_iret_policy(v);
        vmdl__x86h_tpr_out(v);
    }
    return true;
}

/*
 * SYSCALL and SYSENTER: Unicorn replaces QEMU's helpers with "call the hooks,
 * skip the instruction", so the hosted vCPU hooks them and performs the
 * transfer itself (SDM vol. 2B, SYSCALL / SYSENTER operation): the new flat
 * CS/SS, RIP and RFLAGS go to the VMCB and VMRUN loads them.
 */
static void flat_seg(struct vmdl_vcpu *v, unsigned off, uint16_t sel, bool code,
                     bool l64)
{
    uint32_t flags = code ? (l64 ? 0x00AF9B00u : 0x00CF9B00u) : 0x00CF9300u;
    vmcb_seg(v, off, sel, flags, 0xFFFFFFFF, 0);
}

static int do_syscall(struct vmdl_vcpu *v, bool *triple)
{
    vmdl__x86h_restore_kseg(v);
    uint64_t efer = vmdl__x86h_rdmsr(v, MSR_EFER);
    uint64_t next = rd(v, UC_X86_REG_RIP);          /* already past it */
    if (!(efer & 1)) {                               /* EFER.SCE */
        wr(v, UC_X86_REG_RIP, next - 2);
        return vmdl__x86h_fault(v, VMDL_FAULT_UD, triple);
    }
    uint64_t star = vmdl__x86h_rdmsr(v, 0xC0000081), rflags = rd(v, UC_X86_REG_RFLAGS);
    uint16_t sel = (uint16_t)((star >> 32) & 0xFFFC);
    bool lma = efer & (1ull << 10);
    uc_context_save(v->uc, X86(v)->ctx);
    struct seg cs;
    seg_from_ctx(v, (const char *)X86(v)->ctx, R_CS, &cs);
    vmdl__x86h_save_guest(v);
    uint64_t rip;
    if (lma) {
        wr(v, UC_X86_REG_RCX, next);
        wr(v, UC_X86_REG_R11, rflags & ~(1ull << 16));
        rip = vmdl__x86h_rdmsr(v, (cs.flags & DESC_L) ? 0xC0000082 : 0xC0000083);
        rflags &= ~vmdl__x86h_rdmsr(v, 0xC0000084);
    } else {
        wr(v, UC_X86_REG_RCX, (uint32_t)next);
        rip = (uint32_t)star;
        rflags &= ~((1ull << 9) | (1ull << 16) | (1ull << 17));
    }
    flat_seg(v, S_CS, sel, true, lma);
    flat_seg(v, S_SS, (uint16_t)(sel + 8), false, false);
    pw64(v, H_VMCB + S_RIP, rip);
    pw64(v, H_VMCB + S_RFLAGS, (rflags & ~(1ull << 16)) | 2);
    uint8_t cpl = 0;
    pw(v, H_VMCB + S_CPL, &cpl, 1);
    X86(v)->hosted_vmrun = true;
    return VMDL_OK;
}

static int do_sysenter(struct vmdl_vcpu *v, bool *triple)
{
    vmdl__x86h_restore_kseg(v);
    uint64_t cs_msr = vmdl__x86h_rdmsr(v, 0x174);
    bool lma = vmdl__x86h_rdmsr(v, MSR_EFER) & (1ull << 10);
    if (!(rd(v, UC_X86_REG_CR0) & 1) || !(cs_msr & 0xFFFC)) {
        wr(v, UC_X86_REG_RIP, rd(v, UC_X86_REG_RIP) - 2);
        return vmdl__x86h_fault(v, VMDL_FAULT_GP, triple);
    }
    vmdl__x86h_save_guest(v);
    uint16_t sel = (uint16_t)(cs_msr & 0xFFFC);
    flat_seg(v, S_CS, sel, true, lma);
    flat_seg(v, S_SS, (uint16_t)(sel + 8), false, false);
    uint64_t rflags = rd(v, UC_X86_REG_RFLAGS);
    rflags &= ~((1ull << 9) | (1ull << 16) | (1ull << 17));
    pw64(v, H_VMCB + S_RFLAGS, rflags | 2);
    uint64_t eip = vmdl__x86h_rdmsr(v, 0x176), esp = vmdl__x86h_rdmsr(v, 0x175);
    pw64(v, H_VMCB + S_RIP, lma ? eip : (uint32_t)eip);
    pw64(v, H_VMCB + S_RSP, lma ? esp : (uint32_t)esp);
    uint8_t cpl = 0;
    pw(v, H_VMCB + S_CPL, &cpl, 1);
    X86(v)->hosted_vmrun = true;
    return VMDL_OK;
}

static void stop_for(uc_engine *uc, struct vmdl_vcpu *v, unsigned what)
{
    if (v->stop == STOP_NONE || v->stop == STOP_KICK) {
        v->stop = STOP_INTR;
        v->stop_vector = what;
    }
    uc_emu_stop(uc);
}

static void syscall_cb(uc_engine *uc, void *user) { stop_for(uc, user, EXCP_SYSCALL); }
static void sysenter_cb(uc_engine *uc, void *user) { stop_for(uc, user, EXCP_SYSENTER); }

/* Unicorn skips SYSCALL/SYSENTER after calling these hooks: stop there. */
int vmdl__x86h_hook_sys(struct vmdl_vcpu *v)
{
    uc_hook h;
    return uc_hook_add(v->uc, &h, UC_HOOK_INSN, UC_CB(syscall_cb), v, 1, 0,
                       UC_X86_INS_SYSCALL) ||
           uc_hook_add(v->uc, &h, UC_HOOK_INSN, UC_CB(sysenter_cb), v, 1, 0,
                       UC_X86_INS_SYSENTER);
}

/*
 * The instruction budget of an entry: none, or one instruction.  The
 * stepped IRET of an NMI handler and an instruction in an STI / MOV SS
 * shadow are translation blocks of their own (QEMU ends a block at IRET,
 * and translates the instruction after STI or MOV SS alone; the engine
 * starts at it): with the block hook on (a hosted vCPU has it from its
 * first VMRUN), a deadline one instruction ahead stops the engine at the
 * start of the next block, as the VMRUN stub does.  Any other step (a
 * descriptor-table load, which may share its block) takes Unicorn's count:
 * its counting hook is compiled into each block, so the cache is flushed
 * first (8 MiB zeroed) and again by the next entry without a count.  Two
 * such flushes per NMI were most of an NMI's cost (kvm-unit-tests apic's
 * NMI loops).
 */
static size_t step_budget(struct vmdl_vcpu *v, bool block_step, bool insn_step)
{
    if (!block_step && !insn_step)
        return 0;
    if (!insn_step && v->block_hook_on) {
        if (v->kick_deadline > vmdl__insns(v) + 1)
            vmdl__set_kick(v, vmdl__insns(v) + 1);
        return 0;
    }
    uc_ctl_flush_tb(v->uc);
    return 1;
}

/* Unicorn sends exception 6 to its invalid-instruction hook whatever
 * raised it.  An invalid opcode comes as the #UD intercept (every
 * exception is intercepted); what reaches this hook is INT 6 (CD 06),
 * stopped with RIP past it: a software interrupt through vector 6 (trap
 * frame, the gate's DPL checked).  Anything else: the #UD fault. */
static int invalid_or_int6(struct vmdl_vcpu *v, bool *triple)
{
    struct hinsn in;
    uint8_t b[2] = { 0 };
    if (vmdl__x86h_fetch_insn(v, &in) ||
        !vmdl__x86h_lin_rw(v, in.la - 2, b, 2, false) || b[0] != 0xCD || b[1] != 0x06)
        return vmdl__x86h_fault(v, VMDL_FAULT_UD, triple);
    int err = vmdl__x86h_softint(v, 6, triple);
    return err || *triple ? err : vmdl__x86h_wp_owed(v, triple);
}

int vmdl__x86h_run(struct vmdl_vcpu *v, struct vmdl_exit *exit, bool *to_caller)
{
    bool triple = false;
    bool step = X86(v)->h_iret_step || X86(v)->h_desc_step || X86(v)->h_shadow_step;
    v->halted = false;
    vmdl__x86_pc_firmware(v);
    if (!step && vmdl__x86h_nested_pre(v, &triple))
        goto triple_fault;
    step = step || X86(v)->h_shadow_step;    /* nested_pre may ask for one */
    if (!X86(v)->hosted_vmrun)
        vmdl__x86h_note_kseg(v);
    vmdl__x86h_walk_sync(v);            /* the state the guest runs in now */
    X86(v)->h_walk_refused = false;
    if (X86(v)->hosted_vmrun)
        vmdl__x86h_enter(v);
    else if (!step && (vmdl__x86h_inject_irq(v, &triple) < 0 || triple))
        goto triple_fault;
    if (!step && v->stop == STOP_NONE)
        vmdl__x86h_irq_window(v);
    /* An NMI waiting for an interrupt shadow to end: run the shadowed
     * instruction alone, as the IRET of an NMI handler is. */
    bool shadow_step = X86(v)->h_nmi_shadow;
    X86(v)->h_nmi_shadow = false;
    if (v->stop == STOP_NONE) {
        vmdl__x86h_align_sync(v);       /* CR0.AM: watch blocks for #AC */
        vmdl__count_update_hook(v);
        /* An entry-installed shadow's instruction (h_shadow_step) may
         * share its block: counted like a descriptor-table load. */
        size_t count = step_budget(v, X86(v)->h_iret_step || shadow_step,
                                   X86(v)->h_desc_step || X86(v)->h_shadow_step ||
                                       X86(v)->h_step_next);
        X86(v)->h_step_next = false;
        count = vmdl__x86h_emu_count(v, vmdl__debug_count(v, count));   /* debug.h */
        v->stop = STOP_NONE;
        X86(v)->h_walk_refused = false;
        vmdl__x86h_iret_policy(v);
        vmdl__x86h_tpr_out(v);
        vmdl__x86_io_entry(v);
        vmdl__engine_enter(v);
        uc_emu_start(v->uc, rd(v, UC_X86_REG_RIP), 1ull << 63, 0, count);
        vmdl__engine_leave(v);
        vmdl__x86_io_after_run(v);
        vmdl__x86h_tpr_in(v);
        X86(v)->stop_block = v->cur_block ? v->cur_block->addr : 0;  /* (io.c) */
        vmdl__count_at_stop(v, vmdl__x86h_count_pc(v));
        X86(v)->h_shadow_at = UINT64_MAX;  /* the shadowed instruction ran */
    }
    if (X86(v)->h_iret_step)
        vmdl__x86h_iret_done(v);
    if (X86(v)->h_desc_step)
        vmdl__x86h_desc_done(v);
    X86(v)->h_shadow_step = false;
    enum stop_kind stop = v->stop;
    unsigned intno = v->stop_vector;
    v->stop = STOP_NONE;
    int err = VMDL_OK;
    switch (stop) {
    case STOP_INTR:
        vmdl__x86h_walk_cr2(v);             /* a page the C walk refused */
        if (intno == EXCP_SYSCALL)
            err = do_syscall(v, &triple);
        else if (intno == EXCP_SYSENTER)
            err = do_sysenter(v, &triple);
        else if (intno == EXCP_DEBUG_HIT)
            err = vmdl__x86h_bp_exit(v, &triple);
        else if (intno == EXCP_ALIGN)
            err = vmdl__x86h_align_exit(v, &triple);
        else if (intno == EXCP_HFAULT)
            err = vmdl__x86h_fault(v, X86(v)->h_fault, &triple);
        else if (intno >= EXCP_VMEXIT)
            err = handle_exit(v, intno - EXCP_VMEXIT, &triple);
        else if (!(err = vmdl__x86h_softint(v, intno, &triple)) && !triple)
            err = vmdl__x86h_wp_owed(v, &triple);
        if (!err && !triple)
            err = vmdl__x86h_step_trap(v, &triple);
        break;
    case STOP_SHUTDOWN:
        memset(exit, 0, sizeof(*exit));
        exit->reason = VMDL_EXIT_SHUTDOWN;
        exit->pc = vmdl__x86_rewind_power_off(v);
        exit->u.shutdown.status = v->stop_status;
        *to_caller = true;
        return VMDL_OK;
    case STOP_NONE:
    case STOP_KICK:
        return VMDL_OK;
    case STOP_SLEEP:            /* ACPI S3: the loop waits for the wake */
        vmdl__x86_sleep_done(v);
        return VMDL_OK;
    case STOP_INVALID:
        err = invalid_or_int6(v, &triple);
        break;
    case STOP_IO_EXIT:          /* a nested guest's I/O its L1 takes */
        err = vmdl__x86h_nested_io(v, &triple);
        break;
    default:
        memset(exit, 0, sizeof(*exit));
        exit->reason = VMDL_EXIT_INTERNAL_ERROR;
        exit->pc = rd(v, UC_X86_REG_RIP);
        snprintf(exit->u.internal.message, sizeof(exit->u.internal.message),
                 "hosted x86 vCPU: stop kind %d (address 0x%llx) is not handled "
                 "yet (port I/O or MMIO for the caller)", (int)stop,
                 (unsigned long long)v->exit.u.mmio.addr);
        *to_caller = true;
        return VMDL_OK;
    }
    if (!triple)
        return err;
triple_fault:
    memset(exit, 0, sizeof(*exit));
    exit->reason = VMDL_EXIT_FAULT_LOOP;
    exit->pc = rd(v, UC_X86_REG_RIP);
    snprintf(exit->u.internal.message, sizeof(exit->u.internal.message), "%s",
             vmdl_last_error());
    *to_caller = true;
    return VMDL_OK;
}
