/* SPDX-License-Identifier: MIT */
/*
 * VT-d register file (include/virtmodel/vtd.h, docs/vtd.md): the global
 * command and status, the root and interrupt-remapping table pointers, the
 * register-based and queued invalidation interfaces, primary fault
 * recording and the event interrupts.  Register attributes come from the
 * VT-d specification, chapter 11; the capability values are QEMU's
 * intel-iommu (hw/i386/intel_iommu.c) with its defaults.
 */
#include <stdlib.h>
#include <string.h>

#include "virtmodel/error.h"
#include "vtd_internal.h"

#define VTD_VERSION 0x10u              /* major 1, minor 0 (QEMU) */
#define CAP_ND 6ull                     /* 16-bit domain IDs */
#define CAP_MAMV (18ull << 48)
#define CAP_FRO ((uint64_t)(VMDL_VTD_FRCD >> 4) << 24)
#define CAP_DRAIN ((1ull << 54) | (1ull << 55))
#define ECAP_IRO ((uint64_t)(VMDL_VTD_IVA >> 4) << 8)
#define ECAP_MHMV (0xFull << 20)

#define CCMD_ICC (1ull << 63)
#define IOTLB_IVT (1ull << 63)
#define FRCD_F (1ull << 63)
#define FRCD_T (1ull << 62)
#define IRTA_EIME (1ull << 11)

/* Invalidation descriptor types and the bits each may hold (the rest of
 * the 128 bits is reserved: an invalidation queue error). */
enum { DESC_CC = 1, DESC_IOTLB = 2, DESC_DEVTLB = 3, DESC_IEC = 4, DESC_WAIT = 5 };
#define CC_LO_OK 0x0003FFFFFFFF0030ull   /* G, DID, SID, FM */
#define IOTLB_LO_OK 0x00000000FFFF00F0ull /* G, DW, DR, DID */
#define IOTLB_HI_OK 0xFFFFFFFFFFFFF07Full /* ADDR, IH, AM */
#define IEC_LO_OK 0x0000FFFFF8000010ull   /* G, IM, IIDX */
#define WAIT_LO_OK 0xFFFFFFFF00000070ull  /* IF, SW, FN, status data */
#define WAIT_IF (1ull << 4)
#define WAIT_SW (1ull << 5)

/* ---- register file ---- */

static void put(uint8_t *a, unsigned off, unsigned size, uint64_t v)
{
    for (unsigned i = 0; i < size; i++)
        a[off + i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get(const uint8_t *a, unsigned off, unsigned size)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint64_t)a[off + i] << (8 * i);
    return v;
}

uint64_t vmdl__vtd_get64(const struct vmdl_vtd *v, unsigned off) { return get(v->csr, off, 8); }
uint32_t vmdl__vtd_get32(const struct vmdl_vtd *v, unsigned off)
{
    return (uint32_t)get(v->csr, off, 4);
}
static void set32(struct vmdl_vtd *v, unsigned off, uint32_t x) { put(v->csr, off, 4, x); }
static void set64(struct vmdl_vtd *v, unsigned off, uint64_t x) { put(v->csr, off, 8, x); }
static void or32(struct vmdl_vtd *v, unsigned off, uint32_t x)
{
    set32(v, off, vmdl__vtd_get32(v, off) | x);
}
static void and32(struct vmdl_vtd *v, unsigned off, uint32_t keep)
{
    set32(v, off, vmdl__vtd_get32(v, off) & keep);
}

uint64_t vmdl__vtd_haw_mask(const struct vmdl_vtd *v)
{
    return (1ull << v->cfg.aw_bits) - 1;
}

static uint64_t cap_value(const struct vmdl_vtd *v)
{
    uint64_t sagaw = VMDL_VTD_CAP_SAGAW_39 | (v->cfg.aw_bits == 48 ? VMDL_VTD_CAP_SAGAW_48 : 0);
    return CAP_ND | sagaw | ((uint64_t)(v->cfg.aw_bits - 1) << 16) | CAP_FRO |
           VMDL_VTD_CAP_SLLPS_2M | VMDL_VTD_CAP_SLLPS_1G | VMDL_VTD_CAP_PSI |
           ((uint64_t)(VTD_NFR - 1) << 40) | CAP_MAMV | CAP_DRAIN;
}

static uint64_t ecap_value(const struct vmdl_vtd *v)
{
    return VMDL_VTD_ECAP_QI | VMDL_VTD_ECAP_PT | ECAP_IRO | ECAP_MHMV |
           (v->cfg.intremap ? VMDL_VTD_ECAP_IR : 0) | (v->cfg.eim ? VMDL_VTD_ECAP_EIM : 0);
}

/* Writable and write-1-to-clear bits per register (reserved bits of a
 * feature the unit lacks are read-only 0). */
static void define_masks(struct vmdl_vtd *v)
{
    uint64_t page = vmdl__vtd_haw_mask(v) & ~0xFFFull;
    memset(v->wmask, 0, sizeof(v->wmask));
    memset(v->w1cmask, 0, sizeof(v->w1cmask));
    put(v->wmask, VMDL_VTD_RTADDR, 8, page);
    put(v->wmask, VMDL_VTD_CCMD, 8, 0xE0000003FFFFFFFFull);   /* ICC CIRG FM SID DID */
    put(v->w1cmask, VMDL_VTD_FSTS, 4, VMDL_VTD_FSTS_PFO | VMDL_VTD_FSTS_IQE |
                                        VMDL_VTD_FSTS_ICE | VMDL_VTD_FSTS_ITE);
    put(v->wmask, VMDL_VTD_FECTL, 4, VMDL_VTD_CTL_IM);
    put(v->wmask, VMDL_VTD_FEDATA, 4, 0xFFFFFFFFu);
    put(v->wmask, VMDL_VTD_FEADDR, 4, 0xFFFFFFFCu);
    put(v->wmask, VMDL_VTD_FEUADDR, 4, 0xFFFFFFFFu);
    put(v->wmask, VMDL_VTD_IQT, 8, 0x7FFF0ull);
    put(v->wmask, VMDL_VTD_IQA, 8, page | 0x7);
    put(v->w1cmask, VMDL_VTD_ICS, 4, VMDL_VTD_ICS_IWC);
    put(v->wmask, VMDL_VTD_IECTL, 4, VMDL_VTD_CTL_IM);
    put(v->wmask, VMDL_VTD_IEDATA, 4, 0xFFFFFFFFu);
    put(v->wmask, VMDL_VTD_IEADDR, 4, 0xFFFFFFFCu);
    put(v->wmask, VMDL_VTD_IEUADDR, 4, 0xFFFFFFFFu);
    if (v->cfg.intremap)
        put(v->wmask, VMDL_VTD_IRTA, 8, page | 0xF | (v->cfg.eim ? IRTA_EIME : 0));
    put(v->wmask, VMDL_VTD_IVA, 8, page | 0x7F);
    put(v->wmask, VMDL_VTD_IOTLB, 8, 0xB003FFFF00000000ull);  /* IVT IIRG DR DW DID */
    for (unsigned i = 0; i < VTD_NFR; i++)
        put(v->w1cmask, VMDL_VTD_FRCD + 16 * i + 8, 8, FRCD_F);
}

int vmdl_vtd_create(const struct vmdl_vtd_config *cfg, struct vmdl_vtd **out)
{
    if (!cfg || !out || !cfg->mem.read || !cfg->mem.write || !cfg->msi)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vtd_create: NULL argument or callback");
    unsigned aw = cfg->aw_bits ? cfg->aw_bits : 39;
    if (aw != 39 && aw != 48)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vtd_create: aw_bits %u (39 or 48)", aw);
    if (cfg->eim && !cfg->intremap)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vtd_create: eim needs intremap");
    struct vmdl_vtd *v = calloc(1, sizeof(*v));
    if (!v)
        return vmdl_fail(VMDL_ENOMEM, "vmdl_vtd_create: out of memory");
    v->cfg = *cfg;
    v->cfg.aw_bits = aw;
    vmdl_vtd_reset(v);
    *out = v;
    return VMDL_OK;
}

void vmdl_vtd_destroy(struct vmdl_vtd *v)
{
    free(v);
}

void vmdl_vtd_reset(struct vmdl_vtd *v)
{
    if (!v)
        return;
    memset(v->csr, 0, sizeof(v->csr));
    define_masks(v);
    set32(v, VMDL_VTD_VER, VTD_VERSION);
    set64(v, VMDL_VTD_CAP, cap_value(v));
    set64(v, VMDL_VTD_ECAP, ecap_value(v));
    set32(v, VMDL_VTD_FECTL, VMDL_VTD_CTL_IM);
    set32(v, VMDL_VTD_IECTL, VMDL_VTD_CTL_IM);
    v->root = v->irt = v->iq = 0;
    v->irt_entries = v->iq_entries = 0;
    v->irt_eime = false;
}

/* ---- events ---- */

static void send(struct vmdl_vtd *v, unsigned ctl)
{
    uint64_t addr = vmdl__vtd_get32(v, ctl + 8) |
                    (uint64_t)vmdl__vtd_get32(v, ctl + 12) << 32;
    v->cfg.msi(v->cfg.opaque, addr, vmdl__vtd_get32(v, ctl + 4));
}

/* An event on FECTL or IECTL (spec 7.3.1, 6.5.2.10): pending while
 * masked, sent at once otherwise; one at a time until software clears
 * the status that caused it. */
static void event(struct vmdl_vtd *v, unsigned ctl)
{
    uint32_t c = vmdl__vtd_get32(v, ctl);
    if (c & VMDL_VTD_CTL_IP)
        return;
    if (c & VMDL_VTD_CTL_IM) {
        or32(v, ctl, VMDL_VTD_CTL_IP);
        return;
    }
    send(v, ctl);
}

static void unmask(struct vmdl_vtd *v, unsigned ctl)
{
    uint32_t c = vmdl__vtd_get32(v, ctl);
    if (!(c & VMDL_VTD_CTL_IM) && (c & VMDL_VTD_CTL_IP)) {
        and32(v, ctl, ~VMDL_VTD_CTL_IP);
        send(v, ctl);
    }
}

#define FSTS_STATUS (VMDL_VTD_FSTS_PPF | VMDL_VTD_FSTS_PFO | VMDL_VTD_FSTS_IQE | \
                     VMDL_VTD_FSTS_ICE | VMDL_VTD_FSTS_ITE)

/* Setting a status field is an interrupt condition only when no status
 * field was set before (spec 11.4.10, FECTL.IP); an overflow never is. */
static void fsts_set(struct vmdl_vtd *v, uint32_t bit)
{
    uint32_t before = vmdl__vtd_get32(v, VMDL_VTD_FSTS);
    or32(v, VMDL_VTD_FSTS, bit);
    if (!(before & FSTS_STATUS) && bit != VMDL_VTD_FSTS_PFO)
        event(v, VMDL_VTD_FECTL);
}

/* PPF follows the F bits; FECTL.IP drops once nothing is left to report. */
static void update_ppf(struct vmdl_vtd *v)
{
    bool any = false;
    for (unsigned i = 0; i < VTD_NFR; i++)
        any |= (vmdl__vtd_get64(v, VMDL_VTD_FRCD + 16 * i + 8) & FRCD_F) != 0;
    if (any)
        or32(v, VMDL_VTD_FSTS, VMDL_VTD_FSTS_PPF);
    else
        and32(v, VMDL_VTD_FSTS, ~VMDL_VTD_FSTS_PPF);
    if (!(vmdl__vtd_get32(v, VMDL_VTD_FSTS) & FSTS_STATUS))
        and32(v, VMDL_VTD_FECTL, ~VMDL_VTD_CTL_IP);
}

void vmdl__vtd_record_fault(struct vmdl_vtd *v, uint16_t sid, uint64_t fi, unsigned reason,
                            bool is_write, bool fpd)
{
    if (fpd) {
        v->st.faults_suppressed++;
        return;
    }
    uint32_t fsts = vmdl__vtd_get32(v, VMDL_VTD_FSTS);
    if (fsts & VMDL_VTD_FSTS_PFO) {
        v->st.faults_overflowed++;
        return;
    }
    unsigned fri = (fsts >> 8) & 0xFF;
    unsigned at = VMDL_VTD_FRCD + 16 * fri;
    if (vmdl__vtd_get64(v, at + 8) & FRCD_F) {
        v->st.faults_overflowed++;
        fsts_set(v, VMDL_VTD_FSTS_PFO);
        return;
    }
    set64(v, at, fi & ~0xFFFull);
    set64(v, at + 8, FRCD_F | (is_write ? 0 : FRCD_T) | ((uint64_t)(reason & 0xFF) << 32) | sid);
    v->st.faults_recorded++;
    set32(v, VMDL_VTD_FSTS, (fsts & ~0xFF00u) | (((fri + 1) % VTD_NFR) << 8));
    update_ppf(v);
    if (!(fsts & FSTS_STATUS))
        event(v, VMDL_VTD_FECTL);
}

/* ---- global command ---- */

static void latch_irt(struct vmdl_vtd *v)
{
    uint64_t irta = vmdl__vtd_get64(v, VMDL_VTD_IRTA);
    v->irt = irta & vmdl__vtd_haw_mask(v) & ~0xFFFull;
    v->irt_entries = 2u << (irta & 0xF);
    v->irt_eime = (irta & IRTA_EIME) != 0;
}

static void set_status(struct vmdl_vtd *v, uint32_t bit, bool on)
{
    if (on)
        or32(v, VMDL_VTD_GSTS, bit);
    else
        and32(v, VMDL_VTD_GSTS, ~bit);
}

static void gcmd(struct vmdl_vtd *v, uint32_t cmd)
{
    uint32_t sts = vmdl__vtd_get32(v, VMDL_VTD_GSTS);
    if (cmd & VMDL_VTD_GCMD_SRTP) {
        v->root = vmdl__vtd_get64(v, VMDL_VTD_RTADDR);
        set_status(v, VMDL_VTD_GCMD_SRTP, true);
    }
    set_status(v, VMDL_VTD_GCMD_TE, cmd & VMDL_VTD_GCMD_TE);
    bool qie = cmd & VMDL_VTD_GCMD_QIE;
    if (qie && !(sts & VMDL_VTD_GCMD_QIE)) {
        uint64_t iqa = vmdl__vtd_get64(v, VMDL_VTD_IQA);
        v->iq = iqa & ~0xFFFull;
        v->iq_entries = 256u << (iqa & 7);
        set_status(v, VMDL_VTD_GCMD_QIE, true);
    } else if (!qie && (sts & VMDL_VTD_GCMD_QIE) &&
               vmdl__vtd_get64(v, VMDL_VTD_IQH) == vmdl__vtd_get64(v, VMDL_VTD_IQT)) {
        /* Disabling waits for an empty queue (spec 6.5.2); the head restarts. */
        set64(v, VMDL_VTD_IQH, 0);
        set_status(v, VMDL_VTD_GCMD_QIE, false);
    }
    if (!v->cfg.intremap)
        return;
    if (cmd & VMDL_VTD_GCMD_SIRTP) {
        latch_irt(v);
        set_status(v, VMDL_VTD_GCMD_SIRTP, true);
    }
    set_status(v, VMDL_VTD_GCMD_IRE, cmd & VMDL_VTD_GCMD_IRE);
    set_status(v, VMDL_VTD_GCMD_CFI, cmd & VMDL_VTD_GCMD_CFI);
}

/* ---- invalidation ---- */

/* Register-based invalidations complete at once at the granularity asked
 * for (nothing is cached); a reserved granularity reports 0 (not done). */
static void ccmd(struct vmdl_vtd *v)
{
    uint64_t c = vmdl__vtd_get64(v, VMDL_VTD_CCMD);
    if (!(c & CCMD_ICC))
        return;
    uint64_t g = (c >> 61) & 3;
    set64(v, VMDL_VTD_CCMD, (c & ~CCMD_ICC & ~(3ull << 59)) | (g << 59));
}

static void iotlb(struct vmdl_vtd *v)
{
    uint64_t c = vmdl__vtd_get64(v, VMDL_VTD_IOTLB);
    if (!(c & IOTLB_IVT))
        return;
    uint64_t g = (c >> 60) & 3;
    set64(v, VMDL_VTD_IOTLB, (c & ~IOTLB_IVT & ~(3ull << 57)) | (g << 57));
}

static bool wait_desc(struct vmdl_vtd *v, uint64_t lo, uint64_t hi)
{
    if ((hi & 3) || (lo & ~(WAIT_LO_OK | 0xF)))
        return false;
    if (lo & WAIT_SW) {
        uint32_t data = (uint32_t)(lo >> 32);
        if (v->cfg.mem.write(v->cfg.mem.opaque, hi & ~3ull, &data, 4))
            return false;
        v->st.wait_writes++;
    }
    if (lo & WAIT_IF) {
        bool was = vmdl__vtd_get32(v, VMDL_VTD_ICS) & VMDL_VTD_ICS_IWC;
        or32(v, VMDL_VTD_ICS, VMDL_VTD_ICS_IWC);
        if (!was)
            event(v, VMDL_VTD_IECTL);
    }
    return true;
}

static bool run_desc(struct vmdl_vtd *v, uint64_t lo, uint64_t hi)
{
    uint64_t type = lo & 0xF;
    if (lo & 0xE00)        /* type bits 11:9: the scalable-mode descriptors */
        return false;
    switch (type) {
    case DESC_CC:
        return !(lo & ~(CC_LO_OK | 0xF)) && !hi && ((lo >> 4) & 3);
    case DESC_IOTLB:
        return !(lo & ~(IOTLB_LO_OK | 0xF)) && !(hi & ~IOTLB_HI_OK) && ((lo >> 4) & 3);
    case DESC_IEC:
        return v->cfg.intremap && !(lo & ~(IEC_LO_OK | 0xF)) && !hi;
    case DESC_WAIT:
        return wait_desc(v, lo, hi);
    default:
        return false;     /* device-TLB (no ECAP.DT), PASID types, 0 */
    }
}

/* Fetch and execute descriptors from the head up to the tail; stop at a
 * bad one with FSTS.IQE and the head pointing at it (spec 6.5.2.10). */
static void process_queue(struct vmdl_vtd *v)
{
    if (!(vmdl__vtd_get32(v, VMDL_VTD_GSTS) & VMDL_VTD_GCMD_QIE) ||
        (vmdl__vtd_get32(v, VMDL_VTD_FSTS) & VMDL_VTD_FSTS_IQE))
        return;
    uint32_t head = (uint32_t)(vmdl__vtd_get64(v, VMDL_VTD_IQH) >> 4) & 0x7FFF;
    uint32_t tail = (uint32_t)(vmdl__vtd_get64(v, VMDL_VTD_IQT) >> 4) & 0x7FFF;
    if (tail >= v->iq_entries) {
        fsts_set(v, VMDL_VTD_FSTS_IQE);
        return;
    }
    while (head != tail) {
        uint64_t d[2];
        if (v->cfg.mem.read(v->cfg.mem.opaque, v->iq + 16ull * head, d, sizeof(d)) ||
            !run_desc(v, d[0], d[1])) {
            fsts_set(v, VMDL_VTD_FSTS_IQE);
            break;
        }
        v->st.descriptors++;
        head = (head + 1) % v->iq_entries;
    }
    set64(v, VMDL_VTD_IQH, (uint64_t)head << 4);
}

/* ---- MMIO ---- */

uint64_t vmdl_vtd_mmio_read(struct vmdl_vtd *v, uint64_t off, unsigned size)
{
    if ((size != 4 && size != 8) || (off & (size - 1)) || off + size > VTD_REGS)
        return 0;
    return get(v->csr, (unsigned)off, size);
}

static bool hits(uint64_t off, unsigned size, unsigned reg, unsigned len)
{
    return off < reg + len && reg < off + size;
}

void vmdl_vtd_mmio_write(struct vmdl_vtd *v, uint64_t off, unsigned size, uint64_t value)
{
    if ((size != 4 && size != 8) || (off & (size - 1)) || off + size > VTD_REGS)
        return;
    for (unsigned i = 0; i < size; i++) {
        unsigned o = (unsigned)off + i;
        uint8_t b = (uint8_t)(value >> (8 * i));
        uint8_t n = (uint8_t)((v->csr[o] & ~v->wmask[o]) | (b & v->wmask[o]));
        v->csr[o] = (uint8_t)(n & ~(b & v->w1cmask[o]));
    }
    if (off == VMDL_VTD_GCMD || (off == VMDL_VTD_GCMD - 4 && size == 8))
        gcmd(v, (uint32_t)(off == VMDL_VTD_GCMD ? value : value >> 32));
    if (hits(off, size, VMDL_VTD_CCMD + 4, 4))
        ccmd(v);
    if (hits(off, size, VMDL_VTD_IOTLB + 4, 4))
        iotlb(v);
    if (hits(off, size, VMDL_VTD_FSTS, 4) || hits(off, size, VMDL_VTD_FRCD, 16 * VTD_NFR))
        update_ppf(v);
    if (hits(off, size, VMDL_VTD_FECTL, 4))
        unmask(v, VMDL_VTD_FECTL);
    if (hits(off, size, VMDL_VTD_ICS, 4) &&
        !(vmdl__vtd_get32(v, VMDL_VTD_ICS) & VMDL_VTD_ICS_IWC))
        and32(v, VMDL_VTD_IECTL, ~VMDL_VTD_CTL_IP);
    if (hits(off, size, VMDL_VTD_IECTL, 4))
        unmask(v, VMDL_VTD_IECTL);
    if (hits(off, size, VMDL_VTD_IQT, 4))
        process_queue(v);
}

bool vmdl_vtd_ir_enabled(const struct vmdl_vtd *v)
{
    return v && (vmdl__vtd_get32(v, VMDL_VTD_GSTS) & VMDL_VTD_GCMD_IRE);
}

void vmdl_vtd_get_stats(const struct vmdl_vtd *v, struct vmdl_vtd_stats *st)
{
    *st = v->st;
}
