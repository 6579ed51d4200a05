/* SPDX-License-Identifier: MIT */
/*
 * KVM's hypercall on the hosted x86 vCPU: VMCALL (Intel vendor) or VMMCALL
 * (AMD vendor) outside a nested guest, as kvm_emulate_hypercall answers it:
 * RAX holds the number, RBX, RCX, RDX and RSI the arguments; any call from
 * CPL > 0 returns -KVM_EPERM; outside 64-bit code the number, the arguments
 * and the result are 32 bits.  KVM_HC_VAPIC_POLL_IRQ returns 0,
 * KVM_HC_SEND_IPI goes to the interrupt controller (kvm_pv_send_ipi), every
 * other number returns -KVM_ENOSYS.  KVM checks the guest's paravirtual
 * CPUID bits (guest_pv_has) only when userspace enables
 * KVM_CAP_ENFORCE_PV_FEATURE_CPUID, which QEMU does not by default: so
 * KVM_HC_SEND_IPI is served although CPUID 0x40000001 does not advertise
 * KVM_FEATURE_PV_SEND_IPI (the deprivileged vCPU has no hypercall to
 * offer it on).  The instruction then
 * retires.  KVM also takes the other vendor's instruction and rewrites it;
 * here that one stays #UD (kvm-unit-tests' hypercall test allows either).
 */
#include <stdio.h>

#include "hosted.h"

#define KVM_ENOSYS 1000
#define KVM_EPERM 1
#define KVM_HC_VAPIC_POLL_IRQ 1
#define KVM_HC_SEND_IPI 10

static int64_t send_ipi(struct vmdl_vcpu *v, bool wide)
{
    struct vmdl_vm *vm = v->vm;
    if (!vm->irqchip || !vm->irqchip->pv_send_ipi)
        return -KVM_ENOSYS;
    static const int regs[4] = { UC_X86_REG_RBX, UC_X86_REG_RCX, UC_X86_REG_RDX,
                                 UC_X86_REG_RSI };
    uint64_t a[4];
    for (unsigned i = 0; i < 4; i++)
        a[i] = wide ? rd(v, regs[i]) : (uint32_t)rd(v, regs[i]);
    return vm->irqchip->pv_send_ipi(vm->irqchip_opaque, v, a, wide);
}

bool vmdl__x86h_hypercall(struct vmdl_vcpu *v)
{
    uint8_t op[3], rex;
    int pfx = vmdl__x86h_opcode_at(v, op, &rex);
    uint8_t last = v->vm->cfg.vendor == VMDL_VENDOR_AMD ? 0xD9 : 0xC1;
    if (pfx < 0 || op[0] != 0x0F || op[1] != 0x01 || op[2] != last)
        return false;
    uc_context_save(v->uc, X86(v)->ctx);
    struct seg cs, ss;
    seg_from_ctx(v, (const char *)X86(v)->ctx, R_CS, &cs);
    seg_from_ctx(v, (const char *)X86(v)->ctx, R_SS, &ss);
    bool wide = (vmdl__x86h_rdmsr(v, MSR_EFER) & (1ull << 10)) && (cs.flags & DESC_L);
    uint64_t nr = rd(v, UC_X86_REG_RAX);
    nr = wide ? nr : (uint32_t)nr;
    int64_t ret = -KVM_ENOSYS;
    if (vmdl__x86h_cpl(&ss, rd(v, UC_X86_REG_CR0), rd(v, UC_X86_REG_RFLAGS)))
        ret = -KVM_EPERM;
    else if (nr == KVM_HC_VAPIC_POLL_IRQ)
        ret = 0;
    else if (nr == KVM_HC_SEND_IPI)
        ret = send_ipi(v, wide);
    wr(v, UC_X86_REG_RAX, wide ? (uint64_t)ret : (uint32_t)ret);
    char out[48];
    snprintf(out, sizeof(out), "nr %llu -> %lld", (unsigned long long)nr, (long long)ret);
    vmdl__trace_exit(v, "hypercall", rd(v, UC_X86_REG_RIP), out);
    vmdl__x86h_retire(v, 3 + (unsigned)pfx);
    return true;
}
