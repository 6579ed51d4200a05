/* SPDX-License-Identifier: MIT */
/*
 * The vmx glue's EPT side (attach_vmx_ept.c): L2's guest-physical accesses
 * through L1's EPT on a hosted vCPU, with the machine's second stage
 * (vmdl_vcpu_set_x86_npt) as the shadow of L1's tables.
 */
#ifndef VMDL_ATTACH_VMX_EPT_H
#define VMDL_ATTACH_VMX_EPT_H

#include <stdbool.h>
#include <stdint.h>

#include "virtmodel/machine.h"
#include "virtmodel/vmx_nested.h"

/* No shadow built yet (no EPTP has bits 11:7 set in a valid entry). */
#define VMDL_VMX_EPT_NO_SHADOW UINT64_MAX

/* After an entry into L2: the second stage on with "enable EPT" (the shadow
 * kept when the EPTP is the one it was built from, *shadow_eptp), else off. */
void vmdl__vmx_ept_enter(struct vmdl_vcpu *vcpu, const struct vmdl_vmx *vmx,
                         uint64_t *shadow_eptp);
/* At a VM exit to L1: the second stage off (the shadow stays). */
void vmdl__vmx_ept_leave(struct vmdl_vcpu *vcpu);
/* INVEPT (any type), VMXOFF or a reset: the shadow is dropped. */
void vmdl__vmx_ept_flush(struct vmdl_vcpu *vcpu, uint64_t *shadow_eptp);
/* An L2 access missed the shadow: true when it is an EPT violation or
 * misconfiguration for L1 (*info filled in), false when the page was
 * mapped and L2 retries. */
bool vmdl__vmx_ept_fault(struct vmdl_vcpu *vcpu, struct vmdl_vmx *vmx,
                         const struct vmdl_x86_npf *npf, struct vmdl_vmx_exit_info *info);

#endif
