/* SPDX-License-Identifier: MIT */
/*
 * Machine glue for the vmx model: the guest's VMX instructions (which trap
 * as undefined in Unicorn and are decoded with Capstone by the machine
 * layer) reach one struct vmdl_vmx per vCPU, as an L1 hypervisor's do with
 * KVM's nested VMX.  See docs/vmx.md.
 *
 * - VMXON, VMXOFF, VMCLEAR, VMPTRLD, VMPTRST, VMREAD, VMWRITE, VMLAUNCH and
 *   VMRESUME go to the model; register operands are read and written through
 *   the vCPU API, memory operands at their linear address (identity mapped:
 *   non-canonical -> #GP(0), outside RAM -> #PF), RFLAGS is updated as the
 *   SDM says.  The guest is at (virtual) CPL 0; MOV-SS blocking is not
 *   tracked by the machine and taken as clear.
 * - VMLAUNCH/VMRESUME that pass the launch-state checks go through the
 *   control-field and host-state checks of the nested entry
 *   (vmx_nested.h: VMfailValid 7 or 8 with KVM's rules); an entry that
 *   passes them would enter L2, which this vCPU cannot run: it completes
 *   with VMfailValid(7) and leaves the launch state unchanged.
 * - INVEPT and INVVPID go to the model (types, descriptor, error 28).
 * - VMFUNC: #UD in L1; in L2 EPTP switching or VM exit 59 (vmx_nested.h).
 * - VMCALL outside L2 raises #UD (the machine then tries a KVM hypercall).
 * - MSRs 0x3A (IA32_FEATURE_CONTROL) and 0x480-0x492 are claimed.
 * - CPUID.1:ECX bit 5 (VMX) is set, which also lets the guest set CR4.VMXE.
 * - A VM reset puts every vCPU outside VMX operation and restores
 *   IA32_FEATURE_CONTROL to the attach value; the state is freed with the VM.
 */
#ifndef VIRTMODEL_ATTACH_VMX_H
#define VIRTMODEL_ATTACH_VMX_H

#include <stdint.h>

#include "virtmodel/machine.h"
#include "virtmodel/vmx.h"

#ifdef __cplusplus
extern "C" {
#endif

/* IA32_FEATURE_CONTROL after attach and after each reset: locked with VMX
 * enabled outside SMX, as firmware leaves it (KVM's userspace does the same). */
#define VMDL_VMX_ATTACH_FEATURE_CONTROL (VMDL_FEAT_CTL_LOCKED | VMDL_FEAT_CTL_VMX_OUTSIDE_SMX)

/*
 * Attach the vmx model with a named profile (NULL: "sapphire-rapids").
 * Suffixes, each after a ':': "arch" selects the architectural field
 * policy, "kvm" KVM's (the default except for the -bare profiles);
 * "sdm-init" and "sdm-inject" the SDM's behaviour where KVM's is the
 * default (vmx_caps.h: sdm_init_blocked_in_wait_for_sipi,
 * sdm_activity_blocks_injection), e.g. "skylake:arch" or
 * "sapphire-rapids:sdm-init:sdm-inject".
 */
int vmdl_attach_vmx(struct vmdl_vm *vm, const char *profile_name_or_null);

struct vmdl_vmx_attach;
/*
 * Full control: a profile (caps != NULL wins over name), the
 * IA32_FEATURE_CONTROL value after attach/reset, and optionally the handle
 * (owned by the VM) to reach each vCPU's state.
 */
int vmdl_attach_vmx_ex(struct vmdl_vm *vm, const struct vmdl_vmx_caps *caps,
                       const char *profile_name_or_null, uint64_t feature_control,
                       struct vmdl_vmx_attach **handle);
/* The state of vCPU i (NULL when out of range). */
struct vmdl_vmx *vmdl_vmx_attach_vcpu(struct vmdl_vmx_attach *h, unsigned i);
const struct vmdl_vmx_model *vmdl_vmx_attach_model(struct vmdl_vmx_attach *h);


#ifdef __cplusplus
}
#endif
#endif
