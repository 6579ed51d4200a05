/* SPDX-License-Identifier: MIT */
/*
 * SEV-ES model, vCPU level: the VMSA, the world switch of the debug
 * registers with and without DebugSwap (APM "SEV-ES" swap types; KVM's
 * sev_es_init_vmcb, sev_es_prepare_switch_to_guest, hw_breakpoint_restore),
 * and the guest's SEV_STATUS and MOV DR accesses.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sev_es_priv.h"
#include "virtmodel/error.h"

void vmdl__sev_es_dregs_reset(struct vmdl_sev_es_dregs *d)
{
    memset(d, 0, sizeof(*d));
    d->dr6 = VMDL_DR6_RESET;
    d->dr7 = VMDL_DR7_FIXED_1;
}

int vmdl_sev_es_vcpu_create(struct vmdl_sev_es_vm *vm,
                            struct vmdl_sev_es_vcpu **out)
{
    if (!vm || !out)
        return vmdl_fail(-EFAULT, "vmdl_sev_es_vcpu_create: NULL %s",
                         !vm ? "VM" : "out");
    if (vm->nr_vcpus >= SEV_ES_MAX_VCPUS)
        return vmdl_fail(-EINVAL, "KVM_CREATE_VCPU: the model allows %u vCPUs",
                         SEV_ES_MAX_VCPUS);
    struct vmdl_sev_es_vcpu *v = calloc(1, sizeof(*v));
    if (!v)
        return vmdl_fail(VMDL_ENOMEM, "vmdl_sev_es_vcpu_create: out of memory");
    v->vm = vm;
    v->index = vm->nr_vcpus;
    vmdl__sev_es_dregs_reset(&v->vmsa);
    vmdl__sev_es_dregs_reset(&v->host);
    vmdl__sev_es_dregs_reset(&v->hostsa);
    vmdl__sev_es_dregs_reset(&v->live);
    vm->vcpus[vm->nr_vcpus++] = v;
    *out = v;
    return 0;
}

int vmdl_sev_es_vcpu_set_debugregs(struct vmdl_sev_es_vcpu *v,
                                   const struct vmdl_sev_es_dregs *d)
{
    if (!v || !d)
        return vmdl_fail(-EFAULT, "KVM_SET_DEBUGREGS: NULL %s", !v ? "vCPU" : "regs");
    if (v->protected_state && v->vm->type != VMDL_KVM_X86_DEFAULT_VM)
        return vmdl_fail(-EINVAL, "KVM_SET_DEBUGREGS: guest state is protected");
    if ((d->dr6 | d->dr7) >> 32)
        return vmdl_fail(-EINVAL, "KVM_SET_DEBUGREGS: DR6/DR7 bits 63:32 set");
    if (v->protected_state)
        return 0; /* legacy VM: KVM's copy changes, the encrypted VMSA not */
    memcpy(v->vmsa.dr, d->dr, sizeof(v->vmsa.dr));
    v->vmsa.dr6 = d->dr6;
    v->vmsa.dr7 = d->dr7;
    return 0;
}

int vmdl_sev_es_vcpu_set_guest_debug(struct vmdl_sev_es_vcpu *v, bool enable)
{
    if (!v)
        return vmdl_fail(-EFAULT, "KVM_SET_GUEST_DEBUG: NULL vCPU");
    if (v->protected_state)
        return vmdl_fail(-EINVAL, "KVM_SET_GUEST_DEBUG: not supported for a "
                         "launched SEV-ES guest");
    v->guest_debug = enable;
    return 0;
}

bool vmdl_sev_es_vcpu_protected(const struct vmdl_sev_es_vcpu *v)
{
    return v && v->protected_state;
}

uint64_t vmdl_sev_es_vcpu_sev_features(const struct vmdl_sev_es_vcpu *v)
{
    return v ? v->sev_features : 0;
}

void vmdl_sev_es_vcpu_vmsa_dregs(const struct vmdl_sev_es_vcpu *v,
                                 struct vmdl_sev_es_dregs *out)
{
    if (v && out)
        *out = v->vmsa;
}

int vmdl_sev_es_vcpu_set_host_dregs(struct vmdl_sev_es_vcpu *v,
                                    const struct vmdl_sev_es_dregs *d)
{
    if (!v || !d)
        return vmdl_fail(VMDL_EINVAL, "vmdl_sev_es_vcpu_set_host_dregs: NULL %s",
                         !v ? "vCPU" : "regs");
    if (v->running)
        return vmdl_fail(VMDL_ESTATE, "vmdl_sev_es_vcpu_set_host_dregs: vCPU %u "
                         "is running (the guest owns the registers)", v->index);
    if ((d->dr6 | d->dr7) >> 32)
        return vmdl_fail(VMDL_EINVAL, "vmdl_sev_es_vcpu_set_host_dregs: DR6/DR7 "
                         "bits 63:32 set");
    v->host = *d;
    v->live = *d;
    return VMDL_OK;
}

void vmdl_sev_es_vcpu_live_dregs(const struct vmdl_sev_es_vcpu *v,
                                 struct vmdl_sev_es_dregs *out)
{
    if (v && out)
        *out = v->live;
}

bool vmdl_sev_es_vcpu_running(const struct vmdl_sev_es_vcpu *v)
{
    return v && v->running;
}

static bool has_debug_swap(const struct vmdl_sev_es_vcpu *v)
{
    return v->vm->es_active && (v->sev_features & VMDL_SVM_SEV_FEAT_DEBUG_SWAP);
}

/* VMRUN of an SEV-ES guest: type A (DR7, DR6) saved to the host save area
 * and loaded from the VMSA; with DebugSwap, DR0-3 and the masks are type B:
 * loaded from the VMSA, the host's not saved by the CPU. */
static void vmrun_swap(struct vmdl_sev_es_vcpu *v)
{
    v->hostsa.dr7 = v->live.dr7;
    v->hostsa.dr6 = v->live.dr6;
    v->live.dr7 = v->vmsa.dr7;
    v->live.dr6 = v->vmsa.dr6;
    if (has_debug_swap(v)) {
        memcpy(v->live.dr, v->vmsa.dr, sizeof(v->live.dr));
        memcpy(v->live.addr_mask, v->vmsa.addr_mask, sizeof(v->live.addr_mask));
    }
}

/* #VMEXIT: guest state saved into the VMSA, host state loaded from the host
 * save area (DR0-3 there are never written by KVM). */
static void vmexit_swap(struct vmdl_sev_es_vcpu *v)
{
    v->vmsa.dr7 = v->live.dr7;
    v->vmsa.dr6 = v->live.dr6;
    v->live.dr7 = v->hostsa.dr7;
    v->live.dr6 = v->hostsa.dr6;
    if (has_debug_swap(v)) {
        memcpy(v->vmsa.dr, v->live.dr, sizeof(v->vmsa.dr));
        memcpy(v->vmsa.addr_mask, v->live.addr_mask, sizeof(v->vmsa.addr_mask));
        memcpy(v->live.addr_mask, v->hostsa.addr_mask, sizeof(v->live.addr_mask));
        memcpy(v->live.dr, v->hostsa.dr, sizeof(v->live.dr));
    }
}

/* vcpu_enter_guest after the exit: hw_breakpoint_restore() when the host
 * has a breakpoint armed; otherwise the host does not care what DR0-3 hold. */
static void host_restore(struct vmdl_sev_es_vcpu *v)
{
    if (!(v->host.dr7 & VMDL_DR7_GLOBAL_ENABLE_MASK))
        return;
    memcpy(v->live.dr, v->host.dr, sizeof(v->live.dr));
    v->live.dr6 = VMDL_DR6_RESET;
    v->live.dr7 = v->host.dr7;
}

int vmdl_sev_es_vcpu_enter(struct vmdl_sev_es_vcpu *v)
{
    if (!v)
        return vmdl_fail(-EFAULT, "KVM_RUN: NULL vCPU");
    if (v->running)
        return vmdl_fail(VMDL_ESTATE, "KVM_RUN: vCPU %u is already in the guest",
                         v->index);
    if (v->vm->need_init)
        return vmdl_fail(-EINVAL, "KVM_RUN: VM of type %u needs KVM_SEV_INIT2",
                         v->vm->type);
    if (v->vm->es_active && !v->protected_state)
        return vmdl_fail(-EINVAL, "KVM_RUN: SEV-ES vCPU %u was never launched "
                         "(KVM_SEV_LAUNCH_UPDATE_VMSA)", v->index);
    if (v->vm->es_active) {
        /* sev_es_prepare_switch_to_guest: KVM saves the masks itself. */
        if (has_debug_swap(v))
            memcpy(v->hostsa.addr_mask, v->live.addr_mask,
                   sizeof(v->hostsa.addr_mask));
        vmrun_swap(v);
    }
    v->running = true;
    return 0;
}

int vmdl_sev_es_vcpu_exit(struct vmdl_sev_es_vcpu *v)
{
    if (!v)
        return vmdl_fail(-EFAULT, "vmdl_sev_es_vcpu_exit: NULL vCPU");
    if (!v->running)
        return vmdl_fail(VMDL_ESTATE, "vmdl_sev_es_vcpu_exit: vCPU %u is not "
                         "running", v->index);
    if (v->vm->es_active) {
        vmexit_swap(v);
        host_restore(v);
    }
    v->running = false;
    return 0;
}

uint64_t vmdl_sev_es_sev_status(const struct vmdl_sev_es_vcpu *v)
{
    if (!v || !v->vm->active)
        return 0;
    uint64_t s = VMDL_SEV_STATUS_SEV;
    if (v->vm->es_active) {
        s |= VMDL_SEV_STATUS_SEV_ES;
        if (v->sev_features & VMDL_SVM_SEV_FEAT_DEBUG_SWAP)
            s |= VMDL_SEV_STATUS_DEBUG_SWAP;
    }
    return s;
}

vmdl_fault vmdl_sev_es_rdmsr(const struct vmdl_sev_es_vcpu *v, uint32_t index,
                             uint64_t *value)
{
    if (!v || !value || index != VMDL_MSR_AMD64_SEV || !v->vm->active)
        return VMDL_FAULT_UNCLAIMED;
    *value = vmdl_sev_es_sev_status(v);
    return VMDL_FAULT_NONE;
}

vmdl_fault vmdl_sev_es_wrmsr(struct vmdl_sev_es_vcpu *v, uint32_t index,
                             uint64_t value)
{
    (void)value;
    if (!v || index != VMDL_MSR_AMD64_SEV || !v->vm->active)
        return VMDL_FAULT_UNCLAIMED;
    return VMDL_FAULT_GP; /* SEV_STATUS is read-only */
}

static vmdl_fault dr_write(struct vmdl_sev_es_vcpu *v, unsigned dr, uint64_t val)
{
    if (dr < 4) {
        v->live.dr[dr] = val;
        return VMDL_FAULT_NONE;
    }
    if (val >> 32)
        return VMDL_FAULT_GP;
    if (dr == 6)
        v->live.dr6 = (val & VMDL_DR6_VOLATILE) | VMDL_DR6_RESET;
    else
        v->live.dr7 = (val & VMDL_DR7_VOLATILE) | VMDL_DR7_FIXED_1;
    return VMDL_FAULT_NONE;
}

vmdl_fault vmdl_sev_es_mov_dr(struct vmdl_sev_es_vcpu *v, bool write,
                              unsigned dr, bool cr4_de, uint64_t *value,
                              uint32_t *vc_code)
{
    if (!v || !value || !v->running || !v->vm->es_active)
        return VMDL_FAULT_UNCLAIMED;
    if (dr == 4 || dr == 5) {
        if (cr4_de)
            return VMDL_FAULT_UD;
        dr += 2;
    }
    if (dr > 7)
        return VMDL_FAULT_UD;
    /* sev_es_init_vmcb: only DR7 is intercepted, and not with DebugSwap. */
    if (dr == 7 && !has_debug_swap(v)) {
        if (vc_code)
            *vc_code = write ? VMDL_SVM_EXIT_WRITE_DR7 : VMDL_SVM_EXIT_READ_DR7;
        return VMDL_FAULT_VC;
    }
    if (write)
        return dr_write(v, dr, *value);
    *value = dr < 4 ? v->live.dr[dr] : dr == 6 ? v->live.dr6 : v->live.dr7;
    return VMDL_FAULT_NONE;
}

int vmdl_sev_es_vmgexit_dr7(struct vmdl_sev_es_vcpu *v, bool write, uint64_t rax)
{
    (void)write;
    (void)rax;
    if (!v)
        return vmdl_fail(-EFAULT, "vmdl_sev_es_vmgexit_dr7: NULL vCPU");
    /* dr_interception: KVM cannot change an SEV-ES guest's DR7. */
    return 0;
}
