/* SPDX-License-Identifier: MIT */
/*
 * VT-d translation paths (include/virtmodel/vtd.h, docs/vtd.md): legacy-mode
 * second-level DMA remapping (spec 3.4-3.7: root entry by bus, context
 * entry by devfn, a 3- or 4-level table with 2 MiB / 1 GiB leaves) and
 * interrupt remapping (spec 5.1: remappable-format MSI addresses and I/O
 * APIC entries, 128-bit IRTEs, source-id validation).  Reserved-bit masks
 * follow QEMU's intel_iommu.c, which is what guests validated against it
 * expect.
 */
#include "vtd_internal.h"

#define PTE_R 1ull
#define PTE_W 2ull
#define PTE_PS (1ull << 7)
/* Ignored second-level bits (63, 61:52); bit 62 (TM) and 11 (SNP) are
 * reserved without ECAP.DT / ECAP.SC. */
#define SL_IGNORED 0xBFF0000000000000ull

#define IRTE_P 1ull
#define IRTE_FPD (1ull << 1)
#define IRTE_IM (1ull << 15)      /* posted: not supported (no CAP.PI) */

static int rd(struct vmdl_vtd *v, uint64_t gpa, void *buf, size_t len)
{
    return v->cfg.mem.read(v->cfg.mem.opaque, gpa, buf, len);
}

/* ---- DMA remapping ---- */

struct ctx {
    uint64_t lo, hi;
};

static int fault(struct vmdl_vtd *v, uint16_t sid, uint64_t iova, unsigned reason,
                 bool write, bool fpd)
{
    vmdl__vtd_record_fault(v, sid, iova, reason, write, fpd);
    return (int)reason;
}

/* The context entry of `sid`, or a fault reason (no FPD known yet). */
static unsigned find_context(struct vmdl_vtd *v, uint16_t sid, struct ctx *c)
{
    uint64_t re[2], haw = vmdl__vtd_haw_mask(v);
    if (rd(v, v->root + 16ull * (sid >> 8), re, sizeof(re)))
        return VMDL_VTD_FR_ROOT_TABLE_INV;
    if (!(re[0] & 1))
        return VMDL_VTD_FR_ROOT_P;
    if (re[0] & (0xFFEull | ~haw))
        return VMDL_VTD_FR_ROOT_RSVD;
    uint64_t ce[2];
    if (rd(v, (re[0] & ~0xFFFull) + 16ull * (sid & 0xFF), ce, sizeof(ce)))
        return VMDL_VTD_FR_CONTEXT_TABLE_INV;
    c->lo = ce[0];
    c->hi = ce[1];
    return 0;
}

/* Checks of a present context entry; returns its table depth or a fault. */
static unsigned check_context(struct vmdl_vtd *v, const struct ctx *c, unsigned *levels)
{
    uint64_t haw = vmdl__vtd_haw_mask(v);
    if ((c->lo & (0xFF0ull | ~haw)) || (c->hi & ~0xFFFF7Full))
        return VMDL_VTD_FR_CONTEXT_RSVD;
    unsigned tt = (c->lo >> 2) & 3;
    if (tt == 1 || tt == 3)       /* device-TLB (no ECAP.DT) or reserved */
        return VMDL_VTD_FR_CONTEXT_TT;
    unsigned aw = c->hi & 7;
    uint64_t sagaw = (vmdl__vtd_get64(v, VMDL_VTD_CAP) >> 8) & 0x1F;
    if (tt == 0 && (aw > 4 || !((sagaw >> aw) & 1)))
        return VMDL_VTD_FR_CONTEXT_INV;
    *levels = tt == 2 ? 0 : aw + 2;
    return 0;
}

/* Reserved bits of a second-level entry at `level` (QEMU's masks). */
static uint64_t sl_reserved(const struct vmdl_vtd *v, unsigned level, bool leaf)
{
    uint64_t r = 0x800ull | ~(vmdl__vtd_haw_mask(v) | SL_IGNORED);
    if (leaf && level > 1)
        r |= ((1ull << (9 * (level - 1) + 12)) - 1) & ~0xFFFull;
    if (level > 3 || (level == 3 && !(vmdl__vtd_get64(v, VMDL_VTD_CAP) & VMDL_VTD_CAP_SLLPS_1G)))
        r |= PTE_PS;
    return r;
}

static int walk(struct vmdl_vtd *v, uint16_t sid, uint64_t table, unsigned levels,
                uint64_t iova, bool write, bool fpd, uint64_t *pa, uint64_t *len)
{
    if (iova >> (12 + 9 * levels))
        return fault(v, sid, iova, VMDL_VTD_FR_BEYOND_MGAW, write, fpd);
    for (unsigned level = levels;; level--) {
        unsigned shift = 12 + 9 * (level - 1);
        uint64_t pte;
        if (rd(v, table + 8 * ((iova >> shift) & 0x1FF), &pte, 8))
            return fault(v, sid, iova, VMDL_VTD_FR_PAGING_INV, write, fpd);
        if (!(pte & (write ? PTE_W : PTE_R)))
            return fault(v, sid, iova, write ? VMDL_VTD_FR_WRITE : VMDL_VTD_FR_READ, write,
                         fpd);
        bool leaf = level == 1 || (pte & PTE_PS);
        if (pte & sl_reserved(v, level, leaf))
            return fault(v, sid, iova, VMDL_VTD_FR_PAGING_RSVD, write, fpd);
        uint64_t addr = pte & vmdl__vtd_haw_mask(v) & ~0xFFFull;
        if (leaf) {
            uint64_t page = 1ull << shift;
            *pa = (addr & ~(page - 1)) | (iova & (page - 1));
            if (len)
                *len = page - (iova & (page - 1));
            return 0;
        }
        table = addr;
    }
}

int vmdl_vtd_translate(struct vmdl_vtd *v, uint16_t sid, uint64_t iova, bool write,
                       uint64_t *pa, uint64_t *len)
{
    v->st.translations++;
    if (!(vmdl__vtd_get32(v, VMDL_VTD_GSTS) & VMDL_VTD_GCMD_TE)) {
        *pa = iova;
        if (len)
            *len = 0x1000 - (iova & 0xFFF);
        return 0;
    }
    struct ctx c;
    unsigned r = find_context(v, sid, &c), levels = 0;
    if (r)
        return fault(v, sid, iova, r, write, false);
    if (!(c.lo & 1))
        return fault(v, sid, iova, VMDL_VTD_FR_CONTEXT_P, write, false);
    bool fpd = c.lo & 2;
    if ((r = check_context(v, &c, &levels)))
        return fault(v, sid, iova, r, write, fpd);
    if (!levels) {                /* pass-through */
        *pa = iova;
        if (len)
            *len = 0x1000 - (iova & 0xFFF);
        return 0;
    }
    return walk(v, sid, c.lo & vmdl__vtd_haw_mask(v) & ~0xFFFull, levels, iova, write, fpd,
                pa, len);
}

/* ---- interrupt remapping ---- */

static int ir_fault(struct vmdl_vtd *v, int sid, uint32_t index, unsigned reason, bool fpd)
{
    if (v->quiet)
        return (int)reason;
    v->st.blocked++;
    vmdl__vtd_record_fault(v, sid < 0 ? 0 : (uint16_t)sid, (uint64_t)index << 48, reason,
                           true, fpd);
    return (int)reason;
}

/* Source-id validation (spec 9.10, SVT and SQ). */
static bool sid_ok(uint64_t hi, int sid)
{
    static const uint16_t sq_mask[4] = {0xFFFF, 0xFFFB, 0xFFF9, 0xFFF8};
    uint16_t want = (uint16_t)hi;
    if (sid < 0)
        return true;           /* no requester id: nothing to compare */
    switch ((hi >> 18) & 3) {
    case 1: {
        uint16_t m = sq_mask[(hi >> 16) & 3];
        return ((uint16_t)sid & m) == (want & m);
    }
    case 2:
        return (unsigned)(sid >> 8) >= (want >> 8) && (unsigned)(sid >> 8) <= (want & 0xFF);
    default:
        return true;           /* 0: no check (3 is refused as reserved) */
    }
}

static bool irte_reserved(const struct vmdl_vtd *v, uint64_t lo, uint64_t hi)
{
    uint64_t rsvd = 0xFF007000ull | IRTE_IM;
    if (!v->irt_eime)          /* xAPIC: destination in DST[15:8] only */
        rsvd |= 0xFFFF00FF00000000ull;
    return (lo & rsvd) || (hi & ~0xFFFFFull) || ((hi >> 18) & 3) == 3;
}

static int remap_index(struct vmdl_vtd *v, int sid, uint32_t index, struct vmdl_msi_msg *out)
{
    if (index >= v->irt_entries)
        return ir_fault(v, sid, index, VMDL_VTD_FR_IR_INDEX, false);
    uint64_t e[2];
    if (rd(v, v->irt + 16ull * index, e, sizeof(e)))
        return ir_fault(v, sid, index, VMDL_VTD_FR_IR_TABLE, false);
    bool fpd = e[0] & IRTE_FPD;
    if (!(e[0] & IRTE_P))
        return ir_fault(v, sid, index, VMDL_VTD_FR_IR_NOT_PRESENT, fpd);
    if (irte_reserved(v, e[0], e[1]))
        return ir_fault(v, sid, index, VMDL_VTD_FR_IR_IRTE_RSVD, fpd);
    if (!sid_ok(e[1], sid))
        return ir_fault(v, sid, index, VMDL_VTD_FR_IR_SID, fpd);
    uint32_t dst = (uint32_t)(e[0] >> 32);
    *out = (struct vmdl_msi_msg){
        .dest = v->irt_eime ? dst : (dst >> 8) & 0xFF,
        .logical = (e[0] >> 2) & 1,
        .redir_hint = (e[0] >> 3) & 1,
        .level = (e[0] >> 4) & 1,
        .delivery_mode = (e[0] >> 5) & 7,
        .vector = (uint8_t)(e[0] >> 16),
    };
    if (!v->quiet)
        v->st.remapped++;
    return VMDL_VTD_IRQ_OK;
}

int vmdl_vtd_remap_msi(struct vmdl_vtd *v, int sid, uint64_t addr, uint32_t data,
                       struct vmdl_msi_msg *out)
{
    bool ire = vmdl_vtd_ir_enabled(v);
    if (!ire || !(addr & (1u << 4))) {        /* compatibility format */
        if (ire && !(vmdl__vtd_get32(v, VMDL_VTD_GSTS) & VMDL_VTD_GCMD_CFI))
            return ir_fault(v, sid, 0, VMDL_VTD_FR_IR_COMPAT, false);
        if (!vmdl_msi_decode(addr, data, out))
            return ir_fault(v, sid, 0, VMDL_VTD_FR_IR_REQ_RSVD, false);
        return VMDL_VTD_IRQ_OK;
    }
    uint32_t index = ((uint32_t)(addr >> 5) & 0x7FFF) | ((uint32_t)(addr >> 2) & 1) << 15;
    if ((addr & ~0xFFFFFull) != VMDL_MSI_ADDR_BASE || (data & 0xFFFF0000u))
        return ir_fault(v, sid, index, VMDL_VTD_FR_IR_REQ_RSVD, false);
    if (addr & (1u << 3))                     /* SHV: the subhandle adds in */
        index = (index + (data & 0xFFFF)) & 0xFFFF;
    return remap_index(v, sid, index, out);
}

int vmdl_vtd_remap_ioapic(struct vmdl_vtd *v, uint64_t rte, struct vmdl_msi_msg *out)
{
    if (!vmdl_vtd_ir_enabled(v))
        return VMDL_VTD_IRQ_PASS;
    if (!((rte >> 48) & 1)) {
        if (vmdl__vtd_get32(v, VMDL_VTD_GSTS) & VMDL_VTD_GCMD_CFI)
            return VMDL_VTD_IRQ_PASS;
        return ir_fault(v, VMDL_VTD_NO_SID, 0, VMDL_VTD_FR_IR_COMPAT, false);
    }
    uint32_t index = ((uint32_t)(rte >> 49) & 0x7FFF) | ((uint32_t)(rte >> 11) & 1) << 15;
    /* The I/O APIC has no source-id check here: QEMU's IOAPIC sends
     * without a requester id (docs/vtd.md). */
    return remap_index(v, VMDL_VTD_NO_SID, index, out);
}

int vmdl_vtd_peek_ioapic(struct vmdl_vtd *v, uint64_t rte, struct vmdl_msi_msg *out)
{
    v->quiet = true;
    int r = vmdl_vtd_remap_ioapic(v, rte, out);
    v->quiet = false;
    return r;
}
