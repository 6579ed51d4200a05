/* SPDX-License-Identifier: MIT */
/*
 * Intel VT-d remapping hardware unit (Intel Virtualization Technology for
 * Directed I/O, Architecture Specification, rev. 3.x), with the capability
 * values of QEMU's intel-iommu device on the q35 machine: legacy-mode
 * (root/context table) second-level DMA translation with 39-bit (and 48-bit
 * with aw_bits 48) guest address widths and 2 MiB / 1 GiB pages,
 * pass-through contexts, interrupt remapping (xAPIC or, with EIM, x2APIC
 * destinations), queued invalidation with wait descriptors, register-based
 * context and IOTLB invalidation, one primary fault recording register and
 * the fault / invalidation-completion event interrupts.  See docs/vtd.md.
 *
 * The model caches nothing: every translation and every interrupt walks
 * the tables in guest memory, so the invalidations complete at once and
 * change nothing (hardware may use stale entries until invalidated).
 * Not thread-safe: one caller at a time.
 */
#ifndef VIRTMODEL_VTD_H
#define VIRTMODEL_VTD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtmodel/guest_mem.h"
#include "virtmodel/msi.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VMDL_VTD_BASE 0xFED90000ull     /* q35: Q35_HOST_BRIDGE_IOMMU_ADDR */
#define VMDL_VTD_REG_SIZE 0x1000u

/* Register offsets (spec chapter 11). */
#define VMDL_VTD_VER 0x00
#define VMDL_VTD_CAP 0x08
#define VMDL_VTD_ECAP 0x10
#define VMDL_VTD_GCMD 0x18
#define VMDL_VTD_GSTS 0x1C
#define VMDL_VTD_RTADDR 0x20
#define VMDL_VTD_CCMD 0x28
#define VMDL_VTD_FSTS 0x34
#define VMDL_VTD_FECTL 0x38
#define VMDL_VTD_FEDATA 0x3C
#define VMDL_VTD_FEADDR 0x40
#define VMDL_VTD_FEUADDR 0x44
#define VMDL_VTD_IQH 0x80
#define VMDL_VTD_IQT 0x88
#define VMDL_VTD_IQA 0x90
#define VMDL_VTD_ICS 0x9C
#define VMDL_VTD_IECTL 0xA0
#define VMDL_VTD_IEDATA 0xA4
#define VMDL_VTD_IEADDR 0xA8
#define VMDL_VTD_IEUADDR 0xAC
#define VMDL_VTD_IRTA 0xB8
#define VMDL_VTD_IVA 0xF0
#define VMDL_VTD_IOTLB 0xF8
#define VMDL_VTD_FRCD 0x220     /* CAP.FRO = 0x22 */

/* GCMD / GSTS bits. */
#define VMDL_VTD_GCMD_TE (1u << 31)
#define VMDL_VTD_GCMD_SRTP (1u << 30)
#define VMDL_VTD_GCMD_SFL (1u << 29)
#define VMDL_VTD_GCMD_EAFL (1u << 28)
#define VMDL_VTD_GCMD_WBF (1u << 27)
#define VMDL_VTD_GCMD_QIE (1u << 26)
#define VMDL_VTD_GCMD_IRE (1u << 25)
#define VMDL_VTD_GCMD_SIRTP (1u << 24)
#define VMDL_VTD_GCMD_CFI (1u << 23)

/* CAP / ECAP fields. */
#define VMDL_VTD_CAP_SAGAW_39 (0x2ull << 8)
#define VMDL_VTD_CAP_SAGAW_48 (0x4ull << 8)
#define VMDL_VTD_CAP_SLLPS_2M (1ull << 34)
#define VMDL_VTD_CAP_SLLPS_1G (1ull << 35)
#define VMDL_VTD_CAP_PSI (1ull << 39)
#define VMDL_VTD_ECAP_QI (1ull << 1)
#define VMDL_VTD_ECAP_IR (1ull << 3)
#define VMDL_VTD_ECAP_EIM (1ull << 4)
#define VMDL_VTD_ECAP_PT (1ull << 6)

/* FSTS / FECTL / ICS / IECTL bits. */
#define VMDL_VTD_FSTS_PFO (1u << 0)
#define VMDL_VTD_FSTS_PPF (1u << 1)
#define VMDL_VTD_FSTS_IQE (1u << 4)
#define VMDL_VTD_FSTS_ICE (1u << 5)
#define VMDL_VTD_FSTS_ITE (1u << 6)
#define VMDL_VTD_CTL_IM (1u << 31)
#define VMDL_VTD_CTL_IP (1u << 30)
#define VMDL_VTD_ICS_IWC 1u

/* Fault reasons (spec 7.1.3 and 5.1.4.1). */
#define VMDL_VTD_FR_ROOT_P 0x1
#define VMDL_VTD_FR_CONTEXT_P 0x2
#define VMDL_VTD_FR_CONTEXT_INV 0x3
#define VMDL_VTD_FR_BEYOND_MGAW 0x4
#define VMDL_VTD_FR_WRITE 0x5
#define VMDL_VTD_FR_READ 0x6
#define VMDL_VTD_FR_PAGING_INV 0x7
#define VMDL_VTD_FR_ROOT_TABLE_INV 0x8
#define VMDL_VTD_FR_CONTEXT_TABLE_INV 0x9
#define VMDL_VTD_FR_ROOT_RSVD 0xA
#define VMDL_VTD_FR_CONTEXT_RSVD 0xB
#define VMDL_VTD_FR_PAGING_RSVD 0xC
#define VMDL_VTD_FR_CONTEXT_TT 0xD
#define VMDL_VTD_FR_IR_REQ_RSVD 0x20
#define VMDL_VTD_FR_IR_INDEX 0x21
#define VMDL_VTD_FR_IR_NOT_PRESENT 0x22
#define VMDL_VTD_FR_IR_TABLE 0x23
#define VMDL_VTD_FR_IR_IRTE_RSVD 0x24
#define VMDL_VTD_FR_IR_COMPAT 0x25
#define VMDL_VTD_FR_IR_SID 0x26

/* Results of the interrupt paths besides a fault reason. */
#define VMDL_VTD_IRQ_OK 0
#define VMDL_VTD_IRQ_PASS 1   /* remapping off: the IOAPIC decodes its own entry */

#define VMDL_VTD_NO_SID (-1)  /* a request without a source-id to validate */

struct vmdl_vtd_config {
    bool intremap;        /* ECAP.IR (QEMU's intremap=on) */
    bool eim;             /* ECAP.EIM: x2APIC destinations (eim=on) */
    unsigned aw_bits;     /* 39 (0: that) or 48 */
    struct vmdl_guest_mem mem;   /* the tables and queues live there */
    /* The unit's own interrupts (fault event, invalidation completion):
     * compatibility-format messages, never remapped. */
    void (*msi)(void *opaque, uint64_t addr, uint32_t data);
    void *opaque;
};

struct vmdl_vtd_stats {
    uint64_t translations, faults_recorded, faults_suppressed, faults_overflowed;
    uint64_t remapped, blocked, descriptors, wait_writes;
};

struct vmdl_vtd;

int vmdl_vtd_create(const struct vmdl_vtd_config *cfg, struct vmdl_vtd **out);
void vmdl_vtd_destroy(struct vmdl_vtd *v);
/* Reset values: translation and remapping off, FECTL/IECTL masked. */
void vmdl_vtd_reset(struct vmdl_vtd *v);

/* Register accesses (offset from the base; 4- or 8-byte, naturally
 * aligned; anything else reads 0 and writes nothing). */
uint64_t vmdl_vtd_mmio_read(struct vmdl_vtd *v, uint64_t off, unsigned size);
void vmdl_vtd_mmio_write(struct vmdl_vtd *v, uint64_t off, unsigned size, uint64_t value);

/*
 * DMA remapping of a request from source-id `sid` (bus << 8 | devfn) for
 * the byte at `iova`.  0: *pa is where it goes and *len (optional) how many
 * bytes on from there stay in the same page; otherwise the fault reason
 * (recorded in the fault registers unless the context entry disables
 * fault reporting).  With translation disabled *pa = iova.
 */
int vmdl_vtd_translate(struct vmdl_vtd *v, uint16_t sid, uint64_t iova, bool write,
                       uint64_t *pa, uint64_t *len);

/*
 * An interrupt request: a memory write of `data` to `addr` in the interrupt
 * range 0xFEExxxxx from `sid` (or VMDL_VTD_NO_SID).  VMDL_VTD_IRQ_OK and
 * *out to deliver, or the fault reason when it is blocked (recorded unless
 * the IRTE disables fault reporting).  With remapping off every request is
 * compatibility format.
 */
int vmdl_vtd_remap_msi(struct vmdl_vtd *v, int sid, uint64_t addr, uint32_t data,
                       struct vmdl_msi_msg *out);
/*
 * An I/O APIC redirection entry about to be sent: remappable format (bit
 * 48, index in 63:49 and 11) goes through the interrupt remapping table;
 * VMDL_VTD_IRQ_PASS when remapping is off (the I/O APIC's own format
 * applies); a compatibility-format entry is blocked while remapping is on
 * unless GSTS.CFIS is set (then VMDL_VTD_IRQ_PASS).
 */
int vmdl_vtd_remap_ioapic(struct vmdl_vtd *v, uint64_t rte, struct vmdl_msi_msg *out);
/* The same lookup without recording a fault or counting (where an I/O APIC
 * entry would go: the I/O APIC's scan of the vectors it wants EOIs for). */
int vmdl_vtd_peek_ioapic(struct vmdl_vtd *v, uint64_t rte, struct vmdl_msi_msg *out);

bool vmdl_vtd_ir_enabled(const struct vmdl_vtd *v);
void vmdl_vtd_get_stats(const struct vmdl_vtd *v, struct vmdl_vtd_stats *st);

#ifdef __cplusplus
}
#endif
#endif
