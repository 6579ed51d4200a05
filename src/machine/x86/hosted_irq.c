/* SPDX-License-Identifier: MIT */
/*
 * Interrupts and NMIs for the hosted x86 vCPU, taken where the guest's
 * state allows them, as KVM's SVM code does it (svm.c: enable_irq_window,
 * enable_nmi_window, iret_interception):
 *
 *  - an interrupt the irqchip holds while RFLAGS.IF is clear or an STI /
 *    MOV SS shadow is active opens an interrupt window: V_IRQ in the VMCB
 *    (V_IGN_TPR: the APIC model already applied the priority) with the
 *    VINTR intercept.  QEMU checks V_IRQ at every instruction boundary
 *    where it may take an interrupt (after STI's shadow, POPF, IRET) and
 *    exits there; the interrupt is injected on the next entry.
 *  - QEMU latches V_IRQ in its interrupt_request at VMRUN and only a
 *    delivery through V_IRQ clears it (Unicorn never runs do_vmexit), so
 *    while no window is wanted the engine's GIF is kept clear: QEMU then
 *    takes no interrupt at all and no VINTR exit comes (the machine never
 *    uses QEMU's own interrupt paths: GIF gates nothing else here).
 *  - an NMI blocks further NMIs until the next IRET completes: while
 *    blocked, IRET is intercepted; at that exit the intercept goes and the
 *    IRET is stepped (one instruction), then the block lifts.
 */
#include <string.h>

#include "hosted.h"

#define V_IRQ (1u << 8)
#define V_IGN_TPR (1u << 20)
#define HF2_GIF 1u

static void set_intercept(struct vmdl_vcpu *v, unsigned bit, bool on)
{
    uint64_t ic = pr64(v, H_VMCB + C_INTERCEPT);
    ic = on ? ic | (1ull << bit) : ic & ~(1ull << bit);
    pw64(v, H_VMCB + C_INTERCEPT, ic);
}

/*
 * Is the next instruction in an STI / MOV SS shadow?  An instruction the
 * machine emulated (HLT, WRMSR, ...) ends the shadow it ran in, as KVM's
 * skip of an emulated instruction clears the interrupt shadow; QEMU never
 * saw it complete and still has its inhibit flag set, which is cleared here.
 */
bool vmdl__x86h_in_shadow(struct vmdl_vcpu *v)
{
    if (X86(v)->h_shadow_at != UINT64_MAX && X86(v)->h_shadow_at == rd(v, UC_X86_REG_RIP))
        return true;
    uc_context_save(v->uc, X86(v)->ctx);
    char *ctx = (char *)X86(v)->ctx;
    int off = v->vm->x86h->segs_off - 8;
    uint32_t hflags = ctx_u32(v, ctx, off);
    if (!(hflags & HF_INHIBIT_IRQ))
        return false;
    if (!X86(v)->h_emulated)
        return true;
    hflags &= ~HF_INHIBIT_IRQ;
    memcpy(ctx + off, &hflags, 4);
    uc_context_restore(v->uc, X86(v)->ctx);
    return false;
}

/*
 * Is the shadow the next instruction runs in MOV SS's (blocking by MOV SS)
 * rather than STI's?  QEMU keeps one inhibit flag for both, so the
 * instruction that ends right before RIP is decoded: MOV SS (8E /2) or,
 * outside 64-bit mode, POP SS (17).  Any other ending is STI (FB).  A byte
 * sequence whose last bytes could be read either way (an STI right after
 * an instruction ending in 8E xx) is taken as MOV SS.
 */
bool vmdl__x86h_in_mov_ss_shadow(struct vmdl_vcpu *v)
{
    if (!vmdl__x86h_in_shadow(v) && X86(v)->h_shadow_at == UINT64_MAX)
        return false;
    uint64_t rip = rd(v, UC_X86_REG_RIP);
    /* A state installed with blocking (a VM entry) has no MOV SS before it. */
    if (X86(v)->h_shadow_at == rip)
        return X86(v)->h_shadow_movss;
    unsigned bits = vmdl__x86h_code_bits(v);
    uint8_t b[15];
    for (unsigned len = 1; len <= 15 && len <= rip; len++) {
        if (!vmdl__x86h_lin_rw(v, rip - len, b, len, false))
            break;
        if (len == 1 && b[0] == 0x17 && bits != 64)
            return true;
        cs_insn *in = NULL;
        if (len >= 2 && cs_disasm(v->vm->cs, b, len, rip - len, 1, &in) == 1) {
            bool movss = in->size == len && in->id == X86_INS_MOV &&
                         in->detail->x86.op_count == 2 &&
                         in->detail->x86.operands[0].type == X86_OP_REG &&
                         in->detail->x86.operands[0].reg == X86_REG_SS;
            cs_free(in, 1);
            if (movss)
                return true;
        }
    }
    return false;
}

/* The engine's global interrupt flag (hflags2 bit 0, next to hflags). */
static void set_gif(struct vmdl_vcpu *v, bool on)
{
    if (X86(v)->h_gif == on)
        return;
    char *ctx = (char *)X86(v)->ctx;
    int off = v->vm->x86h->segs_off - 4;
    uc_context_save(v->uc, X86(v)->ctx);
    uint32_t hflags2;
    memcpy(&hflags2, ctx + off, 4);
    hflags2 = on ? hflags2 | HF2_GIF : hflags2 & ~HF2_GIF;
    memcpy(ctx + off, &hflags2, 4);
    uc_context_restore(v->uc, X86(v)->ctx);
    X86(v)->h_gif = on;
}

/*
 * Move the NMIs the irqchip queued to the vCPU, as KVM's process_nmi: x86
 * latches one NMI, but KVM lets two be pending while NMIs are not blocked
 * (one is injected at once, the other waits for its IRET), so that two
 * sent together both arrive; while an NMI is being handled the rest
 * collapse into one.
 */
void vmdl__x86h_collect_nmis(struct vmdl_vcpu *v)
{
    struct vmdl_vm *vm = v->vm;
    if (!v->nmi_pending && X86(v)->h_nmi_second) {
        v->nmi_pending = true;      /* (a nested guest's exit took the first) */
        X86(v)->h_nmi_second = false;
    }
    if (!vm->irqchip || !vm->irqchip->take_nmi)
        return;
    while (vm->irqchip->take_nmi(vm->irqchip_opaque, v)) {
        if (!v->nmi_pending)
            v->nmi_pending = true;
        else if (!X86(v)->h_nmi_blocked)
            X86(v)->h_nmi_second = true;
    }
}

static int deliver_nmi(struct vmdl_vcpu *v, bool *triple)
{
    v->nmi_pending = X86(v)->h_nmi_second;
    X86(v)->h_nmi_second = false;
    X86(v)->h_nmi_blocked = true;
    set_intercept(v, I_IRET, true);     /* loaded by the delivery's VMRUN */
    vmdl__trace_exit(v, "nmi", rd(v, UC_X86_REG_RIP), "delivered vector 2");
    return vmdl__x86h_deliver(v, 2, false, 0, triple) ? -1 : 1;
}

int vmdl_vcpu_x86_irq_ack(struct vmdl_vcpu *v, int vector)
{
    if (!v || v->vm->arch != VMDL_ARCH_X86_64 || vector < 0 || vector > 255)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vcpu_x86_irq_ack: not an x86 vCPU or vector %d",
                         vector);
    struct vmdl_vm *vm = v->vm;
    if (!vm->irqchip || !vm->irqchip->ack)
        return vmdl_fail(VMDL_ENOTSUP, "vmdl_vcpu_x86_irq_ack: no interrupt controller");
    vm->irqchip->ack(vm->irqchip_opaque, v, vector);
    return VMDL_OK;
}

int vmdl__x86h_inject_irq(struct vmdl_vcpu *v, bool *triple)
{
    struct vmdl_vm *vm = v->vm;
    vmdl__x86h_collect_nmis(v);
    if (v->nmi_pending && vmdl__x86h_nested_irq(v, true))
        return 1;
    if (v->nmi_pending && !X86(v)->h_nmi_blocked) {
        /* Not in an STI / MOV SS shadow (KVM's svm_nmi_blocked): the
         * shadowed instruction runs alone first (vmdl__x86h_run). */
        if (!vmdl__x86h_in_shadow(v))
            return deliver_nmi(v, triple);
        X86(v)->h_nmi_shadow = true;
        return 0;
    }
    if (!vm->irqchip || !vm->irqchip->pending)
        return 0;
    if (vmdl__x86h_nested_irq(v, false))
        return 1;
    if (!(rd(v, UC_X86_REG_RFLAGS) & (1ull << 9)) || vmdl__x86h_in_shadow(v))
        return 0;
    int vec = vm->irqchip->pending(vm->irqchip_opaque, v);
    if (vec < 0)
        return 0;
    if (vm->irqchip->ack)
        vm->irqchip->ack(vm->irqchip_opaque, v, vec);
    vmdl__trace_exit(v, "interrupt", rd(v, UC_X86_REG_RIP), "delivered");
    return vmdl__x86h_deliver_irq(v, (unsigned)vec, triple) ? -1 : 1;
}

/*
 * Before the guest runs: open the interrupt window when an interrupt waits
 * for the guest to unmask (latching V_IRQ takes one VMRUN), else close it.
 */
void vmdl__x86h_irq_window(struct vmdl_vcpu *v)
{
    struct vmdl_vm *vm = v->vm;
    bool want = (vm->irqchip && vm->irqchip->pending &&
                 vm->irqchip->pending(vm->irqchip_opaque, v) >= 0) ||
                vmdl__x86h_nested_window(v);
    X86(v)->h_emulated = false;   /* the guest's own instructions run next */
    pw32(v, H_VMCB + C_INT_CTL, want ? V_IRQ | V_IGN_TPR : 0);
    if (want && !X86(v)->h_virq) {
        vmdl__x86h_save_guest(v);
        vmdl__x86h_enter(v);
    }
    set_gif(v, want);
}

/*
 * QEMU raises the VINTR exit from its interrupt check between blocks, and
 * Unicorn runs that check again before it honours uc_emu_stop: with V_IRQ
 * still latched the exit would repeat forever.  Clearing GIF here, in the
 * hook, ends it; the entry after the injection decides again.
 */
bool vmdl__x86h_intr_hook(struct vmdl_vcpu *v, uint32_t intno)
{
    vmdl__x86h_note_err_code(v, intno);
    if (intno == EXCP_VMEXIT + X_VINTR) {
        /* The exit proves the engine's GIF set: a VMRUN run outside the
         * loop's entry (a nested VM exit's reload) may have set it after
         * h_gif was last cleared, and a stale h_gif would skip the clear. */
        X86(v)->h_gif = true;
        set_gif(v, false);
        return false;
    }
    return vmdl__x86h_complete_in_hook(v, intno);
}

/* A VMRUN ran: QEMU set GIF, and latched V_IRQ if the VMCB had it. */
void vmdl__x86h_vmrun_done(struct vmdl_vcpu *v)
{
    /* VMRUN loaded CR4 through cpu_x86_update_cr4 (hosted_cr.c). */
    vmdl__x86h_cr4_keep(v, pr64(v, H_VMCB + S_CR4));
    X86(v)->h_gif = true;
    if (pr64(v, H_VMCB + C_INT_CTL) & V_IRQ)
        X86(v)->h_virq = true;
}

/* IRET intercept (NMI blocked): run the IRET without the intercept. */
int vmdl__x86h_iret_exit(struct vmdl_vcpu *v)
{
    set_intercept(v, I_IRET, false);
    vmdl__x86h_save_guest(v);
    vmdl__x86h_enter(v);
    X86(v)->h_iret_step = true;
    return VMDL_OK;
}

/* After the stepped IRET: NMIs are taken again (KVM's
 * awaiting_iret_completion ends once the IRET retired). */
void vmdl__x86h_iret_done(struct vmdl_vcpu *v)
{
    X86(v)->h_iret_step = false;
    X86(v)->h_nmi_blocked = false;
    vmdl__x86h_restore_kseg(v);       /* QEMU's IRET zeroed a nulled FS/GS base */
}
