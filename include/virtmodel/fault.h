/* SPDX-License-Identifier: MIT */
/*
 * Architectural outcome of a guest access handled by a model.
 *
 * Models never deliver exceptions themselves: an access function returns one
 * of these and the machine layer delivers it through the guest's own vectors
 * (x86 IDT, arm64 VBAR_EL1), as KVM injects the fault its emulation decided.
 */
#ifndef VIRTMODEL_FAULT_H
#define VIRTMODEL_FAULT_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vmdl_fault {
    VMDL_FAULT_NONE = 0,        /* access completed */
    VMDL_FAULT_UD = 6,          /* x86 #UD */
    VMDL_FAULT_SS = 12,         /* x86 #SS(0): a non-canonical stack-segment
                                   memory operand */
    VMDL_FAULT_GP = 13,         /* x86 #GP(0) */
    VMDL_FAULT_PF = 14,         /* x86 #PF (memory operand not mapped) */
    VMDL_FAULT_VC = 29,         /* x86 #VC: an SEV-ES guest's intercepted
                                   instruction; error code = SVM exit code */
    VMDL_FAULT_UNDEF = 0x100,   /* arm64 UNDEFINED instruction (ESR EC 0) */
    VMDL_FAULT_SYSREG_TRAP = 0x101, /* arm64 MSR/MRS/SYS trapped to EL1 (ESR EC
                                   0x18, ISS = the access), e.g. an EL0 timer
                                   access CNTKCTL_EL1 does not allow */
    VMDL_FAULT_UNCLAIMED = 0x200, /* the handler does not own this access */
} vmdl_fault;

const char *vmdl_fault_name(vmdl_fault f);

#ifdef __cplusplus
}
#endif
#endif
