/* SPDX-License-Identifier: MIT */
/*
 * Model state seen from outside the guest (scripts, debuggers, the Python
 * package): read and write the MSRs and MMIO registers that attached models
 * serve, exactly as a guest access would reach them, but without running or
 * faulting the guest.  Between two vmdl_vm_run calls only.
 *
 * Returns VMDL_OK; VMDL_ENOENT when no model serves the MSR or address;
 * VMDL_ERANGE when the model would raise a fault for this access (named in
 * vmdl_last_error(); the guest sees nothing); VMDL_EINVAL for bad
 * arguments or a vCPU of the other architecture.
 */
#ifndef VIRTMODEL_INSPECT_H
#define VIRTMODEL_INSPECT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct vmdl_vcpu;

/* x86: an MSR a model claims (AMD PMU counters, x2APIC registers, VMX
 * capabilities ...), as seen by this vCPU. */
int vmdl_vcpu_msr_read(struct vmdl_vcpu *vcpu, uint32_t index, uint64_t *value);
int vmdl_vcpu_msr_write(struct vmdl_vcpu *vcpu, uint32_t index, uint64_t value);

/* A model's MMIO register at guest-physical gpa (size 1, 2, 4 or 8), as
 * this vCPU sees it (the xAPIC page is per vCPU). */
int vmdl_vcpu_mmio_read(struct vmdl_vcpu *vcpu, uint64_t gpa, unsigned size,
                        uint64_t *value);
int vmdl_vcpu_mmio_write(struct vmdl_vcpu *vcpu, uint64_t gpa, unsigned size,
                         uint64_t value);

#ifdef __cplusplus
}
#endif
#endif
