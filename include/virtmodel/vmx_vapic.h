/* SPDX-License-Identifier: MIT */
/*
 * APIC virtualization for a running L2 (SDM Vol. 3C ch. 30), on what L1
 * put in vmcs12: the virtual-APIC page at VIRTUAL_APIC_PAGE_ADDR (read and
 * written in guest memory, as the CPU uses the page KVM maps for vmcs02),
 * the guest interrupt status (RVI bits 7:0, SVI bits 15:8), the EOI-exit
 * bitmap and the TPR threshold.
 *
 *   - PPR virtualization (30.1.3): VPPR = VTPR when VTPR[7:4] >= SVI[7:4],
 *     else SVI & 0xF0;
 *   - evaluation of pending virtual interrupts (30.2.1): with
 *     "virtual-interrupt delivery", RVI[7:4] > VPPR[7:4];
 *   - virtual-interrupt delivery (30.2.2): VISR and SVI take RVI, VIRR
 *     loses it, RVI becomes the next VIRR vector, VPPR = vector & 0xF0;
 *   - TPR, EOI and self-IPI virtualization (30.1.2, 30.1.4, 30.1.5), and
 *     the virtualized x2APIC MSR accesses of 30.5 ("virtualize x2APIC
 *     mode", with or without "APIC-register virtualization").
 *
 * The machine glue decides when L2 can take the interrupt (RFLAGS.IF, the
 * interrupt shadow, "interrupt-window exiting" clear) and delivers it.
 */
#ifndef VIRTMODEL_VMX_VAPIC_H
#define VIRTMODEL_VMX_VAPIC_H

#include <stdbool.h>
#include <stdint.h>

#include "virtmodel/fault.h"
#include "virtmodel/vmx_nested.h"

#ifdef __cplusplus
extern "C" {
#endif

/* "virtual-interrupt delivery" in force for the current vmcs12 (the
 * secondary controls active and bit 9 set). */
bool vmdl_vmx_vapic_vid(const struct vmdl_vmx *vmx);

/* PPR virtualization on the virtual-APIC page; returns VPPR. */
uint8_t vmdl_vmx_vapic_update_ppr(struct vmdl_vmx *vmx);

/* The vector a pending virtual interrupt would deliver (RVI), or -1:
 * no virtual-interrupt delivery, RVI 0, or RVI[7:4] <= VPPR[7:4]. */
int vmdl_vmx_vapic_pending(const struct vmdl_vmx *vmx);

/* Virtual-interrupt delivery of the pending vector (the caller then
 * delivers it through L2's IDT as an external interrupt).  Returns the
 * vector, or -1 when none is pending. */
int vmdl_vmx_vapic_deliver(struct vmdl_vmx *vmx);

enum vmdl_vapic_outcome {
    VMDL_VAPIC_NOT_VIRTUALIZED = 0, /* the access proceeds as without APICv */
    VMDL_VAPIC_DONE,                /* completed on the virtual-APIC page */
    VMDL_VAPIC_EXIT,                /* completed, then a VM exit (*exit) */
    VMDL_VAPIC_FAULT,               /* #GP(0): not retired */
};

/*
 * RDMSR (write false; *value out) or WRMSR (*value in) of ECX = msr by L2,
 * one L1 does not intercept, under "virtualize x2APIC mode" (30.5):
 *   every read of 800H-8FFH with "APIC-register virtualization" returns
 *   the 8 bytes at offset (msr & 0xFF) << 4 of the page, without it only
 *   TPR (808H) is virtualized;
 *   writes of TPR (808H), and with "virtual-interrupt delivery" of EOI
 *   (80BH) and SELF IPI (83FH), are virtualized: bits 63:8 (EOI: 63:0)
 *   set are #GP; TPR virtualization may give a TPR-below-threshold exit
 *   (43), EOI virtualization an EOI-induced exit (45, qualification the
 *   vector).
 * Anything else is NOT_VIRTUALIZED.
 */
enum vmdl_vapic_outcome vmdl_vmx_vapic_msr(struct vmdl_vmx *vmx, bool write, uint32_t msr,
                                           uint64_t *value,
                                           struct vmdl_vmx_exit_info *exit);

/* TPR virtualization of a VTPR write (MOV to CR8 with the TPR shadow, or
 * the x2APIC TPR): stores it, then without virtual-interrupt delivery the
 * TPR threshold check (true: a TPR-below-threshold exit is due), with it
 * PPR virtualization. */
bool vmdl_vmx_vapic_tpr_write(struct vmdl_vmx *vmx, uint8_t vtpr);

#ifdef __cplusplus
}
#endif
#endif
