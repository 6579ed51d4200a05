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
 *   vector); a SELF IPI of a vector below 16 is stored at 3F0H and ends
 *   in an APIC-write exit (56, qualification 3F0H) instead of a self-IPI.
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

/*
 * Posted-interrupt processing for L2 (30.6).  With "process posted
 * interrupts" (pin-based control 7, with virtual-interrupt delivery as VM
 * entry requires, on a profile that has both) an external interrupt whose
 * acknowledged vector is POSTED_INTR_NV is not a VM exit: the caller
 * acknowledges it and writes EOI to L1's local APIC, then
 * vmdl_vmx_vapic_posted takes the descriptor at POSTED_INTR_DESC_ADDR:
 * ON (bit 256) cleared, PIR (bits 255:0) ORed into VIRR and cleared, RVI
 * raised to the highest vector taken; the caller then evaluates pending
 * virtual interrupts.  As KVM's vmx_complete_nested_posted_interrupt, a
 * descriptor with ON clear gives nothing (the SDM merges PIR whatever
 * ON says).
 */
bool vmdl_vmx_vapic_notification(const struct vmdl_vmx *vmx, unsigned vector);
/* The highest vector taken from PIR (0: none, ON clear, or a descriptor
 * outside RAM), -1 when posted-interrupt processing is not in force. */
int vmdl_vmx_vapic_posted(struct vmdl_vmx *vmx);

/*
 * The APIC-access page (30.4): with "virtualize APIC accesses" (secondary
 * control 0, the secondary controls active) an access whose physical
 * address -- L1's guest-physical address, after L1's EPT when L2 has one
 * -- lies in the page at APIC_ACCESS_ADDR is virtualized on the
 * virtual-APIC page or causes an APIC-access VM exit (44).  The caller
 * (the machine) finds the access, asks whether it is virtualized and then
 * completes it with _read or _write; page faults and EPT violations of
 * the same access come first (30.4.1), which is the caller's order.
 */

/* Access types, bits 15:12 of the APIC-access exit qualification. */
enum vmdl_apic_access_type {
    VMDL_APIC_ACC_LINEAR_READ = 0,   /* data read during instruction execution */
    VMDL_APIC_ACC_LINEAR_WRITE = 1,  /* data write (also read-modify-write) */
    VMDL_APIC_ACC_LINEAR_FETCH = 2,  /* instruction fetch */
    VMDL_APIC_ACC_LINEAR_EVENT = 3,  /* read or write during event delivery */
    VMDL_APIC_ACC_GPA_EVENT = 10,    /* guest-physical access during event delivery */
    VMDL_APIC_ACC_GPA_INSN = 15,     /* guest-physical access otherwise (EPT: L2
                                      * paging-structure entries, ...) */
};

struct vmdl_vmx_apic_access {
    uint64_t pa;                     /* L1-physical address of the first byte */
    unsigned size;                   /* bytes */
    enum vmdl_apic_access_type type;
};

/* Is pa on the APIC-access page with "virtualize APIC accesses" in force? */
bool vmdl_vmx_apic_access_page(const struct vmdl_vmx *vmx, uint64_t pa);

/*
 * Is the access virtualized?  False: an APIC-access VM exit (*exit: reason
 * 44, qualification = page offset | type << 12; the offset is reported as
 * 0 for the guest-physical types, where the SDM leaves it undefined).
 * Changes nothing.  Rules (30.4.2, 30.4.3.1): only linear data reads and
 * writes of at most 32 bits that stay within the low 4 bytes of a 16-byte
 * register, with "use TPR shadow"; reads of VTPR (offset 080H), with
 * APIC-register virtualization of the registers 30.4.2 lists (ID, version,
 * TPR, EOI, LDR, DFR, SVR, ISR/TMR/IRR, ESR, ICR, LVTs, initial count,
 * divide configuration); writes of VTPR, with virtual-interrupt delivery
 * of EOI and ICR low (offsets 0B0H, 300H), with APIC-register
 * virtualization of ID, TPR, EOI, LDR, DFR, SVR, ESR, ICR, LVTs, initial
 * count and divide configuration.  Anything else is an exit: fetches,
 * guest-physical accesses, accesses during event delivery (a model
 * choice: the SDM applies the read/write rules to them, but type 3 does
 * not say which, and the machine delivers events in the engine, where it
 * could not complete one), and a request off the page, of size 0 or of
 * an unknown type.
 */
bool vmdl_vmx_apic_access_virtualized(const struct vmdl_vmx *vmx,
                                      const struct vmdl_vmx_apic_access *a,
                                      struct vmdl_vmx_exit_info *exit);

/* The APIC-access exit of an access (reason 44, qualification as above),
 * whether or not the rules would virtualize it: for a caller that cannot
 * complete a virtualized access. */
void vmdl_vmx_apic_access_exit(const struct vmdl_vmx_apic_access *a,
                               struct vmdl_vmx_exit_info *exit);

/* A virtualized read: the size bytes at the same offset of the
 * virtual-APIC page, zero-extended (0 for an access not virtualized or a
 * page outside RAM). */
uint32_t vmdl_vmx_apic_access_read(const struct vmdl_vmx *vmx,
                                   const struct vmdl_vmx_apic_access *a);

/*
 * A virtualized write of the low size bytes of value: stored at the same
 * offset of the virtual-APIC page, then APIC-write emulation (30.4.3.2):
 * VTPR (080H-083H): bytes 3:1 cleared, TPR virtualization (a
 * TPR-below-threshold exit 43, or PPR virtualization with virtual-interrupt
 * delivery); EOI (0B0H-0B3H): EOI virtualization with virtual-interrupt
 * delivery (maybe an EOI-induced exit 45), else an APIC-write exit; ICR low
 * (300H-303H): self-IPI virtualization when virtual-interrupt delivery is
 * on and VICR_LO is a self IPI (shorthand 01, fixed, edge, delivery status
 * 0, bits 31:20, 17:16 and 13 clear, vector 16 or more), else an
 * APIC-write exit; ICR high (310H-313H): bytes 2:0 cleared; anything else:
 * an APIC-write exit (56, qualification = the offset of the write).
 * Returns DONE, EXIT (trap-like: after the instruction; *exit) or
 * NOT_VIRTUALIZED (nothing written: the access is an APIC-access exit).
 */
enum vmdl_vapic_outcome vmdl_vmx_apic_access_write(struct vmdl_vmx *vmx,
                                                   const struct vmdl_vmx_apic_access *a,
                                                   uint32_t value,
                                                   struct vmdl_vmx_exit_info *exit);

#ifdef __cplusplus
}
#endif
#endif
