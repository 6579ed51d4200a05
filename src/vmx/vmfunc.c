/* SPDX-License-Identifier: MIT */
/*
 * VMFUNC executed by L2 (SDM Vol. 3C 26.5.6 "VM Functions", Vol. 2
 * "VMFUNC"; KVM's handle_vmfunc and nested_vmx_eptp_switching in
 * arch/x86/kvm/vmx/nested.c).  KVM emulates only function 0, EPTP
 * switching: it never enables VM functions in vmcs02, so every VMFUNC of
 * L2 reaches it, and it either performs the switch or reflects the exit
 * (reason 59) to L1.  The order of the checks:
 *   #UD  outside VMX non-root operation, without "enable VM functions"
 *        (secondary control 13, with the secondary controls active), or
 *        EAX > 63 (the #UD comes before any VM exit);
 *   exit the function's bit clear in the VM-function controls, a function
 *        other than 0, then for EPTP switching: no EPT (KVM warns: VM
 *        entry refuses it), ECX >= 512, an EPTP-list entry that cannot be
 *        read, or a new EPTP that fails the EPTP checks of VM entry;
 *   done EPT_POINTER holds the list entry (unchanged when it equals the
 *        current one: KVM then skips the validity check, which the current
 *        one passed at entry).
 * The caller drops what it cached for the old EPTP (KVM: a new shadow EPT
 * MMU, whose A/D role follows bit 6 of the new EPTP, and a guest TLB
 * flush when L2 has no VPID).
 */
#include "virtmodel/error.h"
#include "vmx_priv.h"

#define VMFUNC_EPTP_SWITCHING 0u
#define EPTP_LIST_ENTRIES 512u

static bool vmfunc_enabled(const struct vmdl_vmx *vmx)
{
    return (vmdl__v12(vmx, V12_CPU_BASED_VM_EXEC_CONTROL) & VMDL_PROC_SECONDARY) &&
           (vmdl__v12(vmx, V12_SECONDARY_VM_EXEC_CONTROL) & VMDL_PROC2_VMFUNC);
}

static bool ept_enabled(const struct vmdl_vmx *vmx)
{
    return vmdl__v12(vmx, V12_SECONDARY_VM_EXEC_CONTROL) & VMDL_PROC2_EPT;
}

/* Function 0: the EPTP at index ECX of the list; false when it fails. */
static bool eptp_switch(struct vmdl_vmx *vmx, uint32_t index, struct vmdl_vmx_vmfunc *out)
{
    if (!ept_enabled(vmx) || index >= EPTP_LIST_ENTRIES) {
        out->why = !ept_enabled(vmx) ? "EPTP switching without EPT" : "EPTP index >= 512";
        return false;
    }
    /* KVM reads the list's page by frame number: bits 11:0 of the address
     * do not move the entry (VM entry requires them clear anyway). */
    uint64_t list = vmdl__v12(vmx, V12_EPTP_LIST_ADDRESS) & ~PAGE_MASK_4K;
    uint64_t eptp = 0;
    if (vmdl_guest_read(&vmx->mem, list + 8ull * index, &eptp, 8)) {
        out->why = "EPTP list not readable";
        return false;
    }
    out->old_eptp = vmdl__v12(vmx, V12_EPT_POINTER);
    out->new_eptp = eptp;
    if (eptp == out->old_eptp)
        return true;
    if (!vmdl_vmx_eptp_valid(vmx->model, eptp)) {
        out->why = "new EPTP not valid";
        return false;
    }
    vmdl__v12_set(vmx, V12_EPT_POINTER, eptp);
    out->eptp_changed = true;
    return true;
}

int vmdl_vmx_vmfunc(struct vmdl_vmx *vmx, uint64_t rax, uint64_t rcx, uint32_t insn_len,
                    struct vmdl_vmx_vmfunc *out)
{
    if (!vmx || !out)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vmx_vmfunc: NULL argument");
    memset(out, 0, sizeof(*out));
    uint32_t fn = (uint32_t)rax;    /* EAX and ECX: the upper halves are ignored */
    if (!vmx->guest_mode || !vmfunc_enabled(vmx) || fn > 63) {
        out->outcome = VMDL_VMFUNC_UD;
        out->why = !vmx->guest_mode ? "not in VMX non-root operation"
                   : fn > 63        ? "EAX > 63"
                                    : "VM functions not enabled";
        return VMDL_OK;
    }
    bool ok = false;
    if (!((vmdl__v12(vmx, V12_VM_FUNCTION_CONTROL) >> fn) & 1))
        out->why = "function not enabled in the VM-function controls";
    else if (fn != VMFUNC_EPTP_SWITCHING)
        out->why = "function not emulated (KVM: EPTP switching only)";
    else
        ok = eptp_switch(vmx, (uint32_t)rcx, out);
    if (ok) {
        out->outcome = VMDL_VMFUNC_DONE;
        return VMDL_OK;
    }
    /* The exit is fault-like: RIP stays at VMFUNC; no qualification. */
    out->outcome = VMDL_VMFUNC_EXIT;
    out->eptp_changed = false;
    out->exit.reason = VMDL_VMX_EXIT_VMFUNC;
    out->exit.insn_len = insn_len;
    return VMDL_OK;
}
