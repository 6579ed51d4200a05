/* SPDX-License-Identifier: MIT */
/*
 * APICv backend of the local APIC model (Intel VMX APIC virtualization).
 *
 * Selected per bus with vmdl_lapic_bus_config.apicv.  The core APIC logic
 * stays the same; the backend replaces how interrupts become pending,
 * delivered and ended, the way a CPU with "virtual-interrupt delivery" does
 * (SDM vol. 3C ch. 30 "APIC Virtualization and Virtual Interrupts"):
 *   - the virtual-APIC page is the APIC register page itself (as KVM points
 *     VIRTUAL_APIC_PAGE_ADDR at its own apic->regs);
 *   - guest interrupt status: RVI (bits 7:0, highest requesting vector) and
 *     SVI (bits 15:8, highest in-service vector), kept up to date instead of
 *     scanning IRR/ISR;
 *   - virtual-interrupt evaluation (RVI[7:4] > VPPR[7:4]) and delivery;
 *   - virtual EOI with the 256-bit EOI-exit bitmap (a set bit turns the EOI
 *     into an EOI-induced exit, handled by the core: level-triggered EOI
 *     broadcast);
 *   - posted interrupts through a 64-byte descriptor: PIR (bits 255:0),
 *     ON (bit 256), SN (bit 257), NV (bits 279:272), NDST (bits 319:288),
 *     held in a host buffer or in guest memory.
 * The same guest code sees the same architectural results with APICv on
 * or off; only the work done to get there (and the counters below) differ.
 */
#ifndef VIRTMODEL_LAPIC_APICV_H
#define VIRTMODEL_LAPIC_APICV_H

#include <stdbool.h>
#include <stdint.h>

#include "virtmodel/guest_mem.h"
#include "virtmodel/lapic.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VMDL_PI_DESC_SIZE 64
#define VMDL_PI_ON_BIT 256
#define VMDL_PI_SN_BIT 257
#define VMDL_PI_NV_BYTE 34          /* bits 279:272 */
#define VMDL_PI_NDST_BYTE 36        /* bits 319:288 */
#define VMDL_POSTED_INTR_VECTOR 0xF2 /* KVM's notification vector */

/* Guest interrupt status as in the VMCS field 0x0810: SVI << 8 | RVI. */
uint16_t vmdl_apicv_gis(const struct vmdl_lapic *apic);

/* EOI-exit bitmap (VMCS EOI_EXIT_BITMAP0..3). */
int vmdl_apicv_set_eoi_exit_bitmap(struct vmdl_lapic *apic,
                                   const uint64_t bitmap[4]);
int vmdl_apicv_get_eoi_exit_bitmap(const struct vmdl_lapic *apic,
                                   uint64_t bitmap[4]);

/* TPR threshold (VMCS 0x401C, bits 3:0): a TPR write that drops VTPR[7:4]
 * below it counts a TPR-below-threshold exit.  KVM programs it only while
 * virtual-interrupt delivery is off; the model counts it either way. */
int vmdl_apicv_set_tpr_threshold(struct vmdl_lapic *apic, uint32_t thr);
uint32_t vmdl_apicv_tpr_threshold(const struct vmdl_lapic *apic);

/*
 * Place the posted-interrupt descriptor: in guest memory at `gpa` (mem not
 * NULL, 64-byte aligned) or in a host buffer inside the model (mem NULL).
 * nv is the notification vector.  The descriptor is cleared, NDST set from
 * the APIC ID (xAPIC: ID in bits 15:8; x2APIC: the 32-bit ID), and SN set,
 * as KVM's __vmx_vcpu_reset() leaves it at vCPU creation; the next
 * vmdl_lapic_vcpu_entry() clears it (vmx_vcpu_pi_load).  A RESET sets SN
 * again, an INIT does not.
 */
int vmdl_apicv_set_pi_desc(struct vmdl_lapic *apic,
                           const struct vmdl_guest_mem *mem, uint64_t gpa,
                           uint8_t nv);
int vmdl_apicv_read_pi_desc(const struct vmdl_lapic *apic,
                            uint8_t out[VMDL_PI_DESC_SIZE]);
/* Post `vector` as a device would (VT-d posted interrupts, IPI
 * virtualization): PIR bit, then ON and a notification unless SN is set or
 * ON already was.  (The APIC's own deliveries follow KVM's
 * __vmx_deliver_posted_interrupt, which ignores SN.)  VMDL_ESTATE when the
 * APIC is not using the APICv backend. */
int vmdl_apicv_post(struct vmdl_lapic *apic, uint8_t vector);
/* Set or clear SN (suppress notification); clearing it with PIR bits
 * outstanding sets ON, as KVM does when the vCPU is loaded again. */
int vmdl_apicv_set_sn(struct vmdl_lapic *apic, bool sn);
/* Posted-interrupt processing: PIR -> VIRR, RVI update (done by the model
 * before every evaluation and register read; exposed for tests). */
int vmdl_apicv_sync_pir(struct vmdl_lapic *apic);

/*
 * Virtual EOI (SDM 30.1.2) on the APIC's vISR using the guest interrupt
 * status *gis (SVI picks the vector) and an EOI-exit bitmap (NULL: none).
 * Updates *gis and PPR; returns the vector ended (or -1 when SVI's ISR bit
 * was clear) and sets *eoi_exit when the bitmap asks for an EOI-induced
 * exit.  The backend's own EOI uses this with its own status; a VMX model
 * can pass a VMCS field to see what the CPU would do with a stale SVI.
 */
int vmdl_apicv_virtual_eoi(struct vmdl_lapic *apic, uint16_t *gis,
                           const uint64_t *eoi_exit_bitmap, bool *eoi_exit);

struct vmdl_apicv_stats {
    uint64_t posted;           /* vmdl_apicv_post and internal accepts */
    uint64_t notifications;    /* ON went 0 -> 1 with SN clear */
    uint64_t pir_syncs;        /* PIR -> VIRR merges with bits */
    uint64_t virtual_deliveries;
    uint64_t virtual_eois;
    uint64_t eoi_exits;        /* EOI-induced exits */
    uint64_t tpr_below_threshold;
};
int vmdl_apicv_get_stats(const struct vmdl_lapic *apic,
                         struct vmdl_apicv_stats *st);

#ifdef __cplusplus
}
#endif
#endif
