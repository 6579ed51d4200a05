/* SPDX-License-Identifier: MIT */
/*
 * Event state around a nested guest, as KVM keeps it: the MP state
 * (KVM_GET/SET_MP_STATE), injected and pending events (KVM_GET/SET_VCPU_EVENTS),
 * KVM's vmx_check_nested_events (arch/x86/kvm/vmx/nested.c) and the part of
 * vcpu_block (arch/x86/kvm/x86.c) that runs after a halted vCPU was woken.
 *
 * The -EBUSY story: an event L1 wants (an interrupt with external-interrupt
 * exiting, the preemption timer, ...) cannot cause a nested VM exit while
 * an event is already injected into L2 or a VMLAUNCH/VMRESUME is pending:
 * vmx_check_nested_events returns -EBUSY.  Architecturally a halted vCPU
 * cannot hold an injected event, but userspace can stuff one with
 * KVM_SET_MP_STATE + KVM_SET_VCPU_EVENTS.  Until commit ead63640d4e7 ("KVM:
 * x86: Ignore -EBUSY when checking nested events from vcpu_block()"),
 * vcpu_block returned 0 on any error, so KVM_RUN went back to userspace with
 * KVM_EXIT_UNKNOWN; since then -EBUSY is ignored and the wake-up goes on.
 */
#include <string.h>

#include "virtmodel/error.h"
#include "vmx_priv.h"

int vmdl_vmx_set_mp_state(struct vmdl_vmx *vmx, enum vmdl_vmx_mp_state s)
{
    if (!vmx)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vmx_set_mp_state: NULL vmx");
    if ((unsigned)s > VMDL_MP_SIPI_RECEIVED)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vmx_set_mp_state: state %u unknown", (unsigned)s);
    /* KVM refuses INIT_RECEIVED/SIPI_RECEIVED while INIT is latched (SMM or
     * VMX root operation): kvm_apic_init_sipi_allowed. */
    if ((s == VMDL_MP_INIT_RECEIVED || s == VMDL_MP_SIPI_RECEIVED) && vmx->vmxon &&
        !vmx->guest_mode)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vmx_set_mp_state: INIT is blocked in VMX "
                         "root operation");
    vmx->mp_state = s;
    return VMDL_OK;
}

enum vmdl_vmx_mp_state vmdl_vmx_get_mp_state(const struct vmdl_vmx *vmx)
{
    return vmx ? vmx->mp_state : VMDL_MP_RUNNABLE;
}

int vmdl_vmx_set_vcpu_events(struct vmdl_vmx *vmx, const struct vmdl_vmx_vcpu_events *ev)
{
    if (!vmx || !ev)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vmx_set_vcpu_events: NULL argument");
    /* KVM_SET_VCPU_EVENTS: an exception vector above 31 is refused, and
     * so is an exception both pending and injected. */
    if ((ev->exception_injected || ev->exception_pending) && ev->exception_vector > 31)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vmx_set_vcpu_events: exception vector %u",
                         ev->exception_vector);
    if (ev->exception_injected && ev->exception_pending)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vmx_set_vcpu_events: exception both "
                         "pending and injected");
    if (ev->nested_run_pending && !vmx->guest_mode)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vmx_set_vcpu_events: nested run pending "
                         "without L2");
    vmx->ev = *ev;
    return VMDL_OK;
}

int vmdl_vmx_get_vcpu_events(const struct vmdl_vmx *vmx, struct vmdl_vmx_vcpu_events *ev)
{
    if (!vmx || !ev)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vmx_get_vcpu_events: NULL argument");
    *ev = vmx->ev;
    return VMDL_OK;
}

int vmdl_vmx_set_debugctl_supported(struct vmdl_vmx *vmx, uint64_t bits)
{
    if (!vmx)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vmx_set_debugctl_supported: NULL vmx");
    vmx->debugctl_ok = bits;
    return VMDL_OK;
}

int vmdl_vmx_set_la57(struct vmdl_vmx *vmx, bool supported)
{
    if (!vmx)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vmx_set_la57: NULL vmx");
    vmx->la57 = supported;
    return VMDL_OK;
}

bool vmdl_vmx_init_blocked(const struct vmdl_vmx *vmx)
{
    if (!vmx || !vmx->vmxon)
        return false;
    if (!vmx->guest_mode)
        return true;
    return vmx->mp_state == VMDL_MP_INIT_RECEIVED &&
           vmdl_vmx_model_caps(vmx->model)->sdm_init_blocked_in_wait_for_sipi;
}

int vmdl_vmx_set_quirk_block_ebusy_exits(struct vmdl_vmx *vmx, bool old)
{
    if (!vmx)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vmx_set_quirk_block_ebusy_exits: NULL vmx");
    vmx->quirk_block_ebusy = old;
    return VMDL_OK;
}

static uint32_t pin(const struct vmdl_vmx *vmx)
{
    return (uint32_t)vmdl__v12(vmx, V12_PIN_BASED_VM_EXEC_CONTROL);
}

static void exit_to(struct vmdl_vmx_exit_info *info, uint32_t reason, uint32_t intr,
                    uint64_t qual)
{
    memset(info, 0, sizeof(*info));
    info->reason = reason;
    info->intr_info = intr;
    info->qualification = qual;
}

static enum vmdl_vmx_nested_check check_irq(struct vmdl_vmx *vmx, bool blocked,
                                            struct vmdl_vmx_exit_info *info)
{
    struct vmdl_vmx_vcpu_events *e = &vmx->ev;
    if (!(pin(vmx) & VMDL_PIN_EXT_INTR))
        return blocked ? VMDL_NESTED_EBUSY : VMDL_NESTED_NO_EXIT;
    if (blocked)
        return VMDL_NESTED_EBUSY;
    uint32_t exit = (uint32_t)vmdl__v12(vmx, V12_VM_EXIT_CONTROLS);
    uint32_t intr = 0;
    if (exit & VMDL_EXITCTL_ACK_INTR) {
        /* Acknowledged on exit: the interrupt leaves the controller. */
        intr = VMDL_INTR_INFO_VALID | VMDL_INTR_TYPE_EXT_INTR << 8 | e->irq_vector;
        e->irq_pending = false;
    }
    exit_to(info, VMDL_VMX_EXIT_EXTERNAL_INTR, intr, 0);
    return VMDL_NESTED_EXIT;
}

enum vmdl_vmx_nested_check vmdl_vmx_check_nested_events(struct vmdl_vmx *vmx,
                                                        struct vmdl_vmx_exit_info *info)
{
    struct vmdl_vmx_exit_info scratch;
    if (!info)
        info = &scratch;
    memset(info, 0, sizeof(*info));
    if (!vmx || !vmx->guest_mode)
        return VMDL_NESTED_NO_EXIT;
    struct vmdl_vmx_vcpu_events *e = &vmx->ev;
    bool block_exc = e->nested_run_pending;
    bool block = block_exc || e->exception_injected || e->interrupt_injected ||
                 e->nmi_injected;
    /* The SDM option: blocked INIT stays pending and does not hold back
     * what follows (a SIPI exit). */
    bool init_blocked = vmdl_vmx_init_blocked(vmx);
    if (e->init_pending && !init_blocked) {
        if (block)
            return VMDL_NESTED_EBUSY;
        e->init_pending = false;
        e->mtf_pending = false;
        if (vmx->mp_state == VMDL_MP_INIT_RECEIVED)
            return VMDL_NESTED_NO_EXIT;
        exit_to(info, VMDL_VMX_EXIT_INIT, 0, 0);
        return VMDL_NESTED_EXIT;
    }
    if (e->sipi_pending) {
        if (block)
            return VMDL_NESTED_EBUSY;
        e->sipi_pending = false;
        if (vmx->mp_state == VMDL_MP_INIT_RECEIVED) {
            exit_to(info, VMDL_VMX_EXIT_SIPI, 0, e->sipi_vector);
            return VMDL_NESTED_EXIT;
        }
    }
    /* A pending exception is decided by the exception bitmap when it is
     * delivered (vmdl_vmx_l1_wants); here it only blocks lower priorities. */
    if (e->exception_pending)
        return block_exc ? VMDL_NESTED_EBUSY : VMDL_NESTED_NO_EXIT;
    if (e->mtf_pending) {
        if (block)
            return VMDL_NESTED_EBUSY;
        e->mtf_pending = false;
        exit_to(info, VMDL_VMX_EXIT_MTF, 0, 0);
        return VMDL_NESTED_EXIT;
    }
    if (e->preempt_timer_expired && (pin(vmx) & VMDL_PIN_PREEMPT_TIMER)) {
        if (block)
            return VMDL_NESTED_EBUSY;
        e->preempt_timer_expired = false;
        exit_to(info, VMDL_VMX_EXIT_PREEMPT_TIMER, 0, 0);
        return VMDL_NESTED_EXIT;
    }
    if (e->nmi_pending && !e->nmi_blocked) {
        if (block)
            return VMDL_NESTED_EBUSY;
        if (!(pin(vmx) & VMDL_PIN_NMI_EXITING))
            return VMDL_NESTED_NO_EXIT;
        e->nmi_pending = false;
        e->nmi_blocked = true;
        exit_to(info, VMDL_VMX_EXIT_EXCEPTION_NMI,
                VMDL_INTR_INFO_VALID | VMDL_INTR_TYPE_NMI << 8 | 2, 0);
        return VMDL_NESTED_EXIT;
    }
    if (e->irq_pending && !e->irq_blocked)
        return check_irq(vmx, block, info);
    return VMDL_NESTED_NO_EXIT;
}

/* KVM's kvm_vcpu_has_events for the modelled state: what ends a halt. */
static bool has_events(const struct vmdl_vmx *vmx)
{
    const struct vmdl_vmx_vcpu_events *e = &vmx->ev;
    if (e->exception_pending || e->exception_injected)
        return true;
    if (e->init_pending || (e->sipi_pending && vmx->mp_state == VMDL_MP_INIT_RECEIVED))
        return true;
    if (e->nmi_pending && !e->nmi_blocked)
        return true;
    if (e->irq_pending && !e->irq_blocked)
        return true;
    return vmx->guest_mode && (e->mtf_pending ||
                               (e->preempt_timer_expired &&
                                (pin(vmx) & VMDL_PIN_PREEMPT_TIMER)));
}

enum vmdl_vmx_block_outcome vmdl_vmx_vcpu_block(struct vmdl_vmx *vmx,
                                                struct vmdl_vmx_exit_info *info)
{
    struct vmdl_vmx_exit_info scratch;
    if (!info)
        info = &scratch;
    memset(info, 0, sizeof(*info));
    if (!vmx || vmx->mp_state != VMDL_MP_HALTED || !has_events(vmx))
        return VMDL_BLOCK_STAY;
    enum vmdl_vmx_nested_check r = VMDL_NESTED_NO_EXIT;
    if (vmx->guest_mode) {
        r = vmdl_vmx_check_nested_events(vmx, info);
        if (r == VMDL_NESTED_EBUSY && vmx->quirk_block_ebusy)
            return VMDL_BLOCK_EXIT_UNKNOWN;
    }
    vmx->mp_state = VMDL_MP_RUNNABLE;
    return r == VMDL_NESTED_EXIT ? VMDL_BLOCK_NESTED_EXIT : VMDL_BLOCK_WAKE;
}
