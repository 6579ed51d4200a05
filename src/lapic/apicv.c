/* SPDX-License-Identifier: MIT */
/*
 * APICv backend (SDM vol. 3C ch. 30): RVI/SVI, virtual-interrupt evaluation
 * and delivery, virtual EOI with the EOI-exit bitmap, TPR threshold, and
 * posted interrupts.  The virtual-APIC page is the core's register page.
 */
#include <string.h>

#include "virtmodel/error.h"
#include "lapic_priv.h"

#define RVI(g) ((uint8_t)((g) & 0xFF))
#define SVI(g) ((uint8_t)((g) >> 8))
#define GIS(svi, rvi) ((uint16_t)(((unsigned)(svi) << 8) | (unsigned)(rvi)))

/* ---- posted-interrupt descriptor access ---- */

static int pi_load(const struct vmdl_lapic *a, uint8_t d[VMDL_PI_DESC_SIZE])
{
    if (!a->v.pi_in_guest) {
        memcpy(d, a->v.pi_host, VMDL_PI_DESC_SIZE);
        return 0;
    }
    return vmdl_guest_read(&a->v.pi_mem, a->v.pi_gpa, d, VMDL_PI_DESC_SIZE);
}

static int pi_store(struct vmdl_lapic *a, const uint8_t d[VMDL_PI_DESC_SIZE])
{
    if (!a->v.pi_in_guest) {
        memcpy(a->v.pi_host, d, VMDL_PI_DESC_SIZE);
        return 0;
    }
    return vmdl_guest_write(&a->v.pi_mem, a->v.pi_gpa, d, VMDL_PI_DESC_SIZE);
}

static bool dbit(const uint8_t *d, unsigned bit)
{
    return (d[bit / 8] >> (bit % 8)) & 1;
}

static void dset(uint8_t *d, unsigned bit, bool v)
{
    if (v)
        d[bit / 8] |= (uint8_t)(1u << (bit % 8));
    else
        d[bit / 8] &= (uint8_t)~(1u << (bit % 8));
}

static void pi_set_ndst(struct vmdl_lapic *a, uint8_t *d)
{
    uint32_t ndst = lapic_x2apic(a) ? lapic_get(a, VMDL_LAPIC_ID)
                                    : ((lapic_get(a, VMDL_LAPIC_ID) >> 24) << 8);
    memcpy(d + VMDL_PI_NDST_BYTE, &ndst, 4);
}

/* The descriptor to work on: the host buffer itself, or a copy of the guest
 * one in buf (written back with pi_done). */
static uint8_t *pi_get(struct vmdl_lapic *a, uint8_t *buf)
{
    if (!a->v.pi_in_guest)
        return a->v.pi_host;
    return pi_load(a, buf) ? NULL : buf;
}

static void pi_done(struct vmdl_lapic *a, const uint8_t *d)
{
    if (a->v.pi_in_guest)
        pi_store(a, d);
}

/* Posted-interrupt processing: merge PIR into VIRR, RVI = max(RVI, PIR).
 * The CPU does it on a notification (ON); `force` also takes vectors posted
 * while SN kept ON clear (before the descriptor moves away). */
static void pir_flush(struct vmdl_lapic *a, bool force)
{
    uint8_t buf[VMDL_PI_DESC_SIZE];
    uint8_t *d = pi_get(a, buf);
    if (!d || (!force && !dbit(d, VMDL_PI_ON_BIT)))
        return;
    dset(d, VMDL_PI_ON_BIT, false);
    int high = -1;
    for (unsigned w = 0; w < 8; w++) {
        uint32_t bits;
        memcpy(&bits, d + 4 * w, 4);
        if (!bits)
            continue;
        unsigned off = VMDL_LAPIC_IRR + 0x10 * w;
        lapic_set(a, off, lapic_get(a, off) | bits);
        high = (int)(w * 32 + 31 - (unsigned)__builtin_clz(bits));
        memset(d + 4 * w, 0, 4);
    }
    pi_done(a, d);
    if (high >= 0) {
        a->v.st.pir_syncs++;
        if ((unsigned)high > RVI(a->v.gis))
            a->v.gis = GIS(SVI(a->v.gis), high);
    }
}

static void pir_to_irr(struct vmdl_lapic *a)
{
    pir_flush(a, false);
}

/*
 * Post `vec`.  honour_sn: a poster that obeys SN (VT-d posted interrupts,
 * IPI virtualization) sets ON only with SN clear.  KVM's own path,
 * __vmx_deliver_posted_interrupt() (vmx.c), ignores SN: PIR bit, then ON
 * and the notification unless ON already was.
 */
static void post(struct vmdl_lapic *a, uint8_t vec, bool honour_sn)
{
    uint8_t buf[VMDL_PI_DESC_SIZE];
    uint8_t *d = pi_get(a, buf);
    if (!d)
        return;
    dset(d, vec, true);
    a->v.st.posted++;
    if (!(honour_sn && dbit(d, VMDL_PI_SN_BIT)) && !dbit(d, VMDL_PI_ON_BIT)) {
        dset(d, VMDL_PI_ON_BIT, true);
        a->v.st.notifications++;
    }
    pi_done(a, d);
}

/* ---- backend ops ---- */

static void av_set_irr(struct vmdl_lapic *a, uint8_t vec)
{
    /* KVM's vmx_deliver_interrupt: with APICv every interrupt is posted. */
    post(a, vec, false);
}

static void av_sync(struct vmdl_lapic *a)
{
    pir_to_irr(a);
}

static int av_pending(struct vmdl_lapic *a)
{
    pir_to_irr(a);
    uint8_t rvi = RVI(a->v.gis);
    /* Virtual-interrupt evaluation: RVI[7:4] > VPPR[7:4]. */
    if (!rvi || (rvi & 0xF0u) <= (lapic_get(a, VMDL_LAPIC_PPR) & 0xF0u)) {
        /* RVI 0 means "none"; under KVM's ESR rules (the default)
         * vectors 0-15 may sit in IRR, which the CPU would never deliver
         * either. */
        return -1;
    }
    return rvi;
}

static void av_deliver(struct vmdl_lapic *a, uint8_t vec)
{
    /* Virtual-interrupt delivery (SDM 30.2.2). */
    lapic_vec_set(a, VMDL_LAPIC_ISR, vec);
    lapic_vec_clear(a, VMDL_LAPIC_IRR, vec);
    int high = lapic_vec_highest(a, VMDL_LAPIC_IRR);
    a->v.gis = GIS(vec, high < 0 ? 0 : high);
    vmdl_lapic_update_ppr(a); /* VPPR = vector & 0xF0 via PPR rules */
    a->v.st.virtual_deliveries++;
}

int vmdl_apicv_virtual_eoi(struct vmdl_lapic *a, uint16_t *gis,
                           const uint64_t *bitmap, bool *eoi_exit)
{
    if (!a || !gis)
        return vmdl_fail(VMDL_EINVAL, "vmdl_apicv_virtual_eoi: NULL argument");
    uint8_t vec = SVI(*gis);
    bool had = lapic_vec_test(a, VMDL_LAPIC_ISR, vec);
    lapic_vec_clear(a, VMDL_LAPIC_ISR, vec);
    int high = lapic_vec_highest(a, VMDL_LAPIC_ISR);
    *gis = GIS(high < 0 ? 0 : high, RVI(*gis));
    vmdl_lapic_update_ppr(a);
    bool ex = bitmap && vmdl_bitmap_test(bitmap, vec);
    if (eoi_exit)
        *eoi_exit = ex;
    a->v.st.virtual_eois++;
    if (ex)
        a->v.st.eoi_exits++;
    return had ? vec : -1;
}

static int av_eoi(struct vmdl_lapic *a, bool *side_effects)
{
    if (lapic_vec_highest(a, VMDL_LAPIC_ISR) < 0)
        return -1;
    /* The EOI-exit bitmap is the caller's plus the vectors accepted as
     * level-triggered (standing in for KVM's scan of I/O APIC routes). */
    uint64_t bm[4];
    for (int i = 0; i < 4; i++)
        bm[i] = a->v.eoi_exit[i] | a->v.auto_eoi_exit[i];
    bool ex = false;
    int v = vmdl_apicv_virtual_eoi(a, &a->v.gis, bm, &ex);
    *side_effects = ex; /* EOI-induced exit: the core broadcasts */
    return v;
}

static void av_tpr_written(struct vmdl_lapic *a, uint32_t old)
{
    (void)old;
    if (((lapic_get(a, VMDL_LAPIC_TPR) >> 4) & 0xF) < a->v.tpr_threshold)
        a->v.st.tpr_below_threshold++;
}

void vmdl_apicv_recompute(struct vmdl_lapic *a)
{
    int irr = lapic_vec_highest(a, VMDL_LAPIC_IRR);
    int isr = lapic_vec_highest(a, VMDL_LAPIC_ISR);
    a->v.gis = GIS(isr < 0 ? 0 : isr, irr < 0 ? 0 : irr);
}

static void av_activate(struct vmdl_lapic *a, bool on)
{
    if (on) {
        /* RVI and SVI from the page, SVI included (what KVM's
         * kvm_apic_update_apicv does since SVI joined the APICv update). */
        vmdl_apicv_recompute(a);
        uint8_t d[VMDL_PI_DESC_SIZE];
        if (!pi_load(a, d)) {
            pi_set_ndst(a, d);
            pi_store(a, d);
        }
    } else {
        pir_to_irr(a);
    }
}

const struct lapic_backend vmdl_lapic_apicv_backend = {
    .name = "apicv",
    .set_irr = av_set_irr,
    .pending = av_pending,
    .deliver = av_deliver,
    .eoi = av_eoi,
    .tpr_written = av_tpr_written,
    .sync = av_sync,
    .activate = av_activate,
};

void vmdl_apicv_reset(struct vmdl_lapic *a, bool init_event)
{
    a->v.gis = 0;
    memset(a->v.auto_eoi_exit, 0, sizeof(a->v.auto_eoi_exit));
    uint8_t d[VMDL_PI_DESC_SIZE];
    if (!pi_load(a, d)) {
        memset(d, 0, 32);                 /* PIR */
        dset(d, VMDL_PI_ON_BIT, false);   /* KVM's apicv_post_state_restore */
        /* RESET only: __vmx_vcpu_reset() sets SN (and NV) until the vCPU
         * is next loaded; INIT leaves SN alone. */
        if (!init_event)
            dset(d, VMDL_PI_SN_BIT, true);
        pi_store(a, d);
    }
}

/* vmx_vcpu_pi_load() (posted_intr.c): when the vCPU is loaded, SN is
 * cleared and, if PIR holds vectors, ON set, so that nothing posted while
 * notifications were suppressed is lost.  Nothing to do with SN clear. */
static void pi_write_sn(struct vmdl_lapic *a, uint8_t *d, bool sn)
{
    dset(d, VMDL_PI_SN_BIT, sn);
    if (!sn) {
        bool any = false;
        for (int i = 0; i < 32; i++)
            any |= d[i] != 0;
        if (any && !dbit(d, VMDL_PI_ON_BIT)) {
            dset(d, VMDL_PI_ON_BIT, true);
            a->v.st.notifications++;
        }
    }
    pi_store(a, d);
}

void vmdl_apicv_vcpu_load(struct vmdl_lapic *a)
{
    uint8_t d[VMDL_PI_DESC_SIZE];
    if (pi_load(a, d) || !dbit(d, VMDL_PI_SN_BIT))
        return;
    pi_write_sn(a, d, false);
}

/* ---- public API ---- */

static int need(const struct vmdl_lapic *a, const char *fn)
{
    if (!a)
        return vmdl_fail(VMDL_EINVAL, "%s: NULL apic", fn);
    return 0;
}

uint16_t vmdl_apicv_gis(const struct vmdl_lapic *a)
{
    if (!a)
        return 0;
    ((struct vmdl_lapic *)a)->be->sync((struct vmdl_lapic *)a);
    return a->v.gis;
}

int vmdl_apicv_set_eoi_exit_bitmap(struct vmdl_lapic *a, const uint64_t bm[4])
{
    int e = need(a, "vmdl_apicv_set_eoi_exit_bitmap");
    if (e)
        return e;
    if (!bm)
        return vmdl_fail(VMDL_EINVAL, "vmdl_apicv_set_eoi_exit_bitmap: NULL bitmap");
    memcpy(a->v.eoi_exit, bm, sizeof(a->v.eoi_exit));
    return 0;
}

int vmdl_apicv_get_eoi_exit_bitmap(const struct vmdl_lapic *a, uint64_t bm[4])
{
    int e = need(a, "vmdl_apicv_get_eoi_exit_bitmap");
    if (e)
        return e;
    if (!bm)
        return vmdl_fail(VMDL_EINVAL, "vmdl_apicv_get_eoi_exit_bitmap: NULL bitmap");
    memcpy(bm, a->v.eoi_exit, sizeof(a->v.eoi_exit));
    return 0;
}

int vmdl_apicv_set_tpr_threshold(struct vmdl_lapic *a, uint32_t thr)
{
    int e = need(a, "vmdl_apicv_set_tpr_threshold");
    if (e)
        return e;
    if (thr > 0xF)
        return vmdl_fail(VMDL_ERANGE,
                         "vmdl_apicv_set_tpr_threshold: 0x%x has bits above 3:0",
                         thr);
    a->v.tpr_threshold = thr;
    return 0;
}

uint32_t vmdl_apicv_tpr_threshold(const struct vmdl_lapic *a)
{
    return a ? a->v.tpr_threshold : 0;
}

int vmdl_apicv_set_pi_desc(struct vmdl_lapic *a,
                           const struct vmdl_guest_mem *mem, uint64_t gpa,
                           uint8_t nv)
{
    int e = need(a, "vmdl_apicv_set_pi_desc");
    if (e)
        return e;
    if (mem && (gpa & 63))
        return vmdl_fail(VMDL_EINVAL,
                         "vmdl_apicv_set_pi_desc: gpa 0x%llx not 64-byte aligned",
                         (unsigned long long)gpa);
    uint8_t d[VMDL_PI_DESC_SIZE];
    if (a->be == &vmdl_lapic_apicv_backend)
        pir_flush(a, true); /* nothing may be lost in the move */
    struct lapic_apicv_state old = a->v;
    if (mem) {
        a->v.pi_in_guest = true;
        a->v.pi_mem = *mem;
        a->v.pi_gpa = gpa;
    } else {
        a->v.pi_in_guest = false;
    }
    memset(d, 0, sizeof(d));
    d[VMDL_PI_NV_BYTE] = nv;
    /* As at vCPU creation (__vmx_vcpu_reset): SN set until the vCPU is
     * loaded (vmdl_lapic_vcpu_entry). */
    dset(d, VMDL_PI_SN_BIT, true);
    pi_set_ndst(a, d);
    if (pi_store(a, d)) {
        a->v = old;
        return vmdl_fail(VMDL_ERANGE,
                         "vmdl_apicv_set_pi_desc: gpa 0x%llx is not guest RAM",
                         (unsigned long long)gpa);
    }
    a->v.pi_nv = nv;
    return 0;
}

int vmdl_apicv_read_pi_desc(const struct vmdl_lapic *a,
                            uint8_t out[VMDL_PI_DESC_SIZE])
{
    int e = need(a, "vmdl_apicv_read_pi_desc");
    if (e)
        return e;
    if (!out)
        return vmdl_fail(VMDL_EINVAL, "vmdl_apicv_read_pi_desc: NULL buffer");
    if (pi_load(a, out))
        return vmdl_fail(VMDL_ERANGE, "vmdl_apicv_read_pi_desc: descriptor not in RAM");
    return 0;
}

int vmdl_apicv_post(struct vmdl_lapic *a, uint8_t vector)
{
    int e = need(a, "vmdl_apicv_post");
    if (e)
        return e;
    if (a->be != &vmdl_lapic_apicv_backend)
        return vmdl_fail(VMDL_ESTATE,
                         "vmdl_apicv_post: APIC %u is not using APICv "
                         "(inhibits 0x%x)", a->index, a->apicv_inhibits);
    if (vector < 16)
        return vmdl_fail(VMDL_ERANGE, "vmdl_apicv_post: vector %u is reserved",
                         vector);
    if (!lapic_hw_enabled(a) || !lapic_sw_enabled(a))
        return vmdl_fail(VMDL_ESTATE, "vmdl_apicv_post: APIC %u is disabled",
                         a->index);
    lapic_vec_clear(a, VMDL_LAPIC_TMR, vector);
    post(a, vector, true);
    a->st.accepted++;
    if (a->bus->cfg.ops.kick)
        a->bus->cfg.ops.kick(a->bus->cfg.ops.opaque, a->index);
    return 0;
}

int vmdl_apicv_set_sn(struct vmdl_lapic *a, bool sn)
{
    int e = need(a, "vmdl_apicv_set_sn");
    if (e)
        return e;
    uint8_t d[VMDL_PI_DESC_SIZE];
    if (pi_load(a, d))
        return vmdl_fail(VMDL_ERANGE, "vmdl_apicv_set_sn: descriptor not in RAM");
    pi_write_sn(a, d, sn);
    return 0;
}

int vmdl_apicv_sync_pir(struct vmdl_lapic *a)
{
    int e = need(a, "vmdl_apicv_sync_pir");
    if (e)
        return e;
    pir_to_irr(a);
    return 0;
}

int vmdl_apicv_get_stats(const struct vmdl_lapic *a, struct vmdl_apicv_stats *st)
{
    int e = need(a, "vmdl_apicv_get_stats");
    if (e)
        return e;
    if (!st)
        return vmdl_fail(VMDL_EINVAL, "vmdl_apicv_get_stats: NULL stats");
    *st = a->v.st;
    return 0;
}
