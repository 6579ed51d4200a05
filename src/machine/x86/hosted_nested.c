/* SPDX-License-Identifier: MIT */
/*
 * The hosted x86 vCPU's side of nested guests: reading and replacing the
 * system state a VMX transition switches (machine.h, vmdl_vcpu_get/
 * set_x86_sys), and the event hook the VMX glue uses to see L2's CPUID,
 * HLT, MSR, RDTSC and exceptions before the machine handles them.
 *
 * A new state goes to the VMCB save area and the next entry runs VMRUN,
 * which loads ES/CS/SS/DS, GDTR/IDTR, CR0/CR3/CR4, EFER, DR7, RFLAGS, RIP,
 * RSP and RAX; the FS/GS bases, PAT and SYSENTER are written as MSRs
 * before that (the entry keeps the live FS/GS caches).  FS/GS selectors,
 * LDTR and TR stay.
 */
#include <string.h>

#include "hosted.h"

#define DESC_P (1u << 15)

static struct vmdl_x86_segment seg_out(const struct seg *s)
{
    /* QEMU keeps the descriptor's high dword: access byte in 15:8, AVL/L/
     * D/G in 23:20; VMCS access rights put them in 7:0 and 15:12. */
    uint32_t ar = (s->flags >> 8) & 0xf0ffu;
    if (!(s->flags & DESC_P))
        ar |= 1u << 16;
    return (struct vmdl_x86_segment){s->sel, s->base, s->limit, ar};
}

static uint32_t flags_in(uint32_t ar)
{
    uint32_t f = ((ar & 0xffu) << 8) | ((ar & 0xf000u) << 8);
    return (ar & (1u << 16)) ? f & ~DESC_P : f;
}

/* 0, or the error (recorded) when v is not a hosted x86 vCPU. */
static int hosted_x86(struct vmdl_vcpu *v, const void *st, const char *fn)
{
    if (!v || !st)
        return vmdl_fail(VMDL_EINVAL, "%s: NULL argument", fn);
    if (v->vm->arch != VMDL_ARCH_X86_64 || !X86(v)->hosted)
        return vmdl_fail(VMDL_ENOTSUP, "%s: only hosted x86 vCPUs (real guests)", fn);
    return VMDL_OK;
}

int vmdl_vcpu_get_x86_sys(struct vmdl_vcpu *v, struct vmdl_x86_sys_state *st)
{
    int err = hosted_x86(v, st, "vmdl_vcpu_get_x86_sys");
    if (err)
        return err;
    memset(st, 0, sizeof(*st));
    uc_context_save(v->uc, X86(v)->ctx);
    const char *ctx = (const char *)X86(v)->ctx;
    for (int r = R_ES; r <= R_GS; r++) {
        struct seg s;
        seg_from_ctx(v, ctx, r, &s);
        st->seg[r] = seg_out(&s);
    }
    /* LDTR and TR follow the six segment caches in QEMU's state. */
    for (int r = 6; r < 8; r++) {
        struct seg s;
        seg_from_ctx(v, ctx, r, &s);
        st->seg[r] = seg_out(&s);
    }
    /* QEMU's LTR caches the descriptor before marking it busy; a loaded TR
     * is busy (type 3 or 11), as the CPU reports it in the VMCS. */
    if (!(st->seg[7].ar & (1u << 16)))
        st->seg[7].ar |= 2;
    uc_x86_mmr g, i;
    uc_reg_read(v->uc, UC_X86_REG_GDTR, &g);
    uc_reg_read(v->uc, UC_X86_REG_IDTR, &i);
    st->gdtr_base = g.base;
    st->gdtr_limit = g.limit;
    st->idtr_base = i.base;
    st->idtr_limit = i.limit;
    st->cr0 = rd(v, UC_X86_REG_CR0);
    st->cr3 = rd(v, UC_X86_REG_CR3);
    st->cr4 = rd(v, UC_X86_REG_CR4);
    st->efer = vmdl__x86h_rdmsr(v, MSR_EFER) & ~EFER_SVME;
    st->dr7 = rd(v, UC_X86_REG_DR7);
    st->rflags = rd(v, UC_X86_REG_RFLAGS);
    st->rip = rd(v, UC_X86_REG_RIP);
    st->rsp = rd(v, UC_X86_REG_RSP);
    st->pat = vmdl__x86h_rdmsr(v, 0x277);
    st->sysenter_cs = vmdl__x86h_rdmsr(v, 0x174);
    st->sysenter_esp = vmdl__x86h_rdmsr(v, 0x175);
    st->sysenter_eip = vmdl__x86h_rdmsr(v, 0x176);
    return VMDL_OK;
}

int vmdl_vcpu_set_x86_sys(struct vmdl_vcpu *v, const struct vmdl_x86_sys_state *st)
{
    int err = hosted_x86(v, st, "vmdl_vcpu_set_x86_sys");
    if (err)
        return err;
    vmdl__x86h_wrmsr(v, 0xC0000100u, st->seg[R_FS].base);
    vmdl__x86h_wrmsr(v, 0xC0000101u, st->seg[R_GS].base);
    vmdl__x86h_wrmsr(v, 0x277, st->pat);
    vmdl__x86h_wrmsr(v, 0x174, st->sysenter_cs);
    vmdl__x86h_wrmsr(v, 0x175, st->sysenter_esp);
    vmdl__x86h_wrmsr(v, 0x176, st->sysenter_eip);
    vmdl__x86h_save_guest(v);          /* GPRs, CR2, interrupt shadow */
    static const unsigned off[4] = {S_ES, S_CS, S_SS, S_DS};
    for (unsigned r = 0; r < 4; r++) {
        const struct vmdl_x86_segment *s = &st->seg[r];
        vmcb_seg(v, off[r], s->selector, flags_in(s->ar), s->limit, s->base);
    }
    pw64(v, H_VMCB + S_GDTR + 8, st->gdtr_base);
    pw32(v, H_VMCB + S_GDTR + 4, st->gdtr_limit);
    pw64(v, H_VMCB + S_IDTR + 8, st->idtr_base);
    pw32(v, H_VMCB + S_IDTR + 4, st->idtr_limit);
    pw64(v, H_VMCB + S_CR0, st->cr0);
    pw64(v, H_VMCB + S_CR3, st->cr3);
    pw64(v, H_VMCB + S_CR4, st->cr4);
    pw64(v, H_VMCB + S_EFER, st->efer & ~EFER_SVME);
    pw64(v, H_VMCB + S_DR7, st->dr7);
    pw64(v, H_VMCB + S_RFLAGS, st->rflags | 2);
    pw64(v, H_VMCB + S_RIP, st->rip);
    pw64(v, H_VMCB + S_RSP, st->rsp);
    struct seg ss = {st->seg[R_SS].selector, st->seg[R_SS].base, st->seg[R_SS].limit,
                     flags_in(st->seg[R_SS].ar)};
    uint8_t cpl = (uint8_t)vmdl__x86h_cpl(&ss, st->cr0, st->rflags);
    pw(v, H_VMCB + S_CPL, &cpl, 1);
    pw32(v, H_VMCB + C_INT_STATE, 0);
    X86(v)->hosted_vmrun = true;
    v->halted = false;          /* a VM exit out of a halted L2 wakes it */
    return VMDL_OK;
}

int vmdl_vcpu_set_x86_cpuid_events(struct vmdl_vcpu *v, bool on)
{
    int err = hosted_x86(v, v, "vmdl_vcpu_set_x86_cpuid_events");
    if (err)
        return err;
    X86(v)->cpuid_events = on;
    /* QEMU reads the intercepts at VMRUN: the next entry (which a VM
     * entry or exit forces) intercepts CPUID, so it stops precisely. */
    uint64_t ic = pr64(v, H_VMCB + C_INTERCEPT);
    ic = on ? ic | (1ull << I_CPUID) : ic & ~(1ull << I_CPUID);
    pw64(v, H_VMCB + C_INTERCEPT, ic);
    return VMDL_OK;
}

bool vmdl__x86h_event(struct vmdl_vcpu *v, const struct vmdl_x86_event *ev)
{
    struct vmdl_vm *vm = v->vm;
    return vm->x86_event.fn && vm->x86_event.fn(vm->x86_event.opaque, v, ev);
}
