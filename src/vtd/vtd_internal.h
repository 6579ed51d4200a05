/* SPDX-License-Identifier: MIT */
/* The VT-d unit's state, shared by the register file (vtd.c) and the
 * translation paths (vtd_xlate.c). */
#ifndef VMDL_VTD_INTERNAL_H
#define VMDL_VTD_INTERNAL_H

#include "virtmodel/vtd.h"

#define VTD_REGS 0x230u     /* through the one fault recording register */
#define VTD_NFR 1u          /* fault recording registers (CAP.NFR + 1) */

struct vmdl_vtd {
    struct vmdl_vtd_config cfg;
    uint8_t csr[VTD_REGS];
    uint8_t wmask[VTD_REGS];
    uint8_t w1cmask[VTD_REGS];
    uint64_t root;          /* latched by SRTP */
    uint64_t irt;           /* latched by SIRTP: base, entries, EIME */
    uint32_t irt_entries;
    bool irt_eime;
    uint64_t iq;            /* latched when queued invalidation is enabled */
    uint32_t iq_entries;
    bool quiet;             /* a probe: record no fault, count nothing */
    struct vmdl_vtd_stats st;
};

uint64_t vmdl__vtd_get64(const struct vmdl_vtd *v, unsigned off);
uint32_t vmdl__vtd_get32(const struct vmdl_vtd *v, unsigned off);
uint64_t vmdl__vtd_haw_mask(const struct vmdl_vtd *v);
/* Record a primary fault (spec 7.3.1); `fi` is the page address of a DMA
 * fault or the interrupt index << 48 of a remapping fault. */
void vmdl__vtd_record_fault(struct vmdl_vtd *v, uint16_t sid, uint64_t fi, unsigned reason,
                            bool is_write, bool fpd);

#endif
