/* SPDX-License-Identifier: MIT */
/*
 * gicv5 state blob (format version 1), little-endian, inside the common
 * blob envelope (magic "GIV5"):
 *
 *   u32 nr_vcpus
 *   u64 exposed[2], u64 level[2], u64 userspace[2]      per-VM masks
 *   per vCPU:
 *     u64 vmcr, u32 apr, u64 icsr
 *     u64 enabler[2], u64 activer[2], u64 dvir[2]
 *     per exposed PPI, ascending:
 *       u8 ppi, u8 priority (shadow), u8 saved priority, u8 flags
 *       (bit0 enabled, bit1 active, bit2 pending latch, bit3 line level)
 *
 * The format does not depend on sparse or dense storage, so a blob moves
 * between the two.  Only the shadow state is saved: every vCPU must be put.
 */
#include <stdlib.h>
#include <string.h>

#include "gicv5_internal.h"
#include "virtmodel/blob.h"
#include "virtmodel/error.h"

#define GV5_MAGIC VMDL_BLOB_MAGIC('G', 'I', 'V', '5')
#define GV5_VERSION 1u

static int all_put(const struct vmdl_gicv5 *g, const char *fn)
{
    for (unsigned i = 0; i < g->nr_vcpus; i++)
        if (g->vcpus[i].pcpu >= 0)
            return vmdl_fail(VMDL_ESTATE, "%s: vcpu %u is loaded on pcpu %d; "
                             "put it first", fn, i, g->vcpus[i].pcpu);
    return VMDL_OK;
}

int vmdl_gicv5_export(const struct vmdl_gicv5 *g, uint8_t **out,
                      size_t *out_len)
{
    if (!g || !out || !out_len)
        return vmdl_fail(VMDL_EINVAL, "vmdl_gicv5_export: NULL argument");
    int err = all_put(g, "vmdl_gicv5_export");
    if (err)
        return err;
    struct vmdl_blob_writer w;
    vmdl_blob_begin(&w, GV5_MAGIC, GV5_VERSION);
    vmdl_blob_put_u32(&w, g->nr_vcpus);
    for (unsigned i = 0; i < 2; i++) {
        vmdl_blob_put_u64(&w, g->m.exposed[i]);
        vmdl_blob_put_u64(&w, g->m.level[i]);
        vmdl_blob_put_u64(&w, g->m.userspace[i]);
    }
    for (unsigned c = 0; c < g->nr_vcpus; c++) {
        const struct gv5_vcpu *v = &g->vcpus[c];
        vmdl_blob_put_u64(&w, v->vmcr);
        vmdl_blob_put_u32(&w, v->apr);
        vmdl_blob_put_u64(&w, v->icsr);
        for (unsigned i = 0; i < 2; i++) {
            vmdl_blob_put_u64(&w, v->enabler[i]);
            vmdl_blob_put_u64(&w, v->activer[i]);
            vmdl_blob_put_u64(&w, v->dvir[i]);
        }
        GV5_FOR_EACH_EXPOSED(g, ppi) {
            const struct gv5_irq *irq = gv5_irq(g, v, ppi);
            vmdl_blob_put_u8(&w, (uint8_t)ppi);
            vmdl_blob_put_u8(&w, irq->priority);
            vmdl_blob_put_u8(&w, irq->saved_prio);
            vmdl_blob_put_u8(&w, irq->flags);
        }
    }
    return vmdl_blob_finish(&w, out, out_len);
}

/* Everything one vCPU's import produces, staged before commit. */
struct staged {
    struct gv5_vcpu v;
    struct gv5_irq irqs[VMDL_GICV5_NR_PPIS];   /* indexed by PPI */
};

static void read_vcpu(const struct vmdl_gicv5 *g, struct vmdl_blob_reader *r,
                      struct staged *s)
{
    const uint64_t vmcr_ok = VMDL_GICV5_VMCR_EN | VMDL_GENMASK(31, 27);
    const uint64_t icsr_res0 = vmdl_gicv5_reg(VMDL_GICV5_ICC_ICSR_EL1)->res0;
    s->v.vmcr = vmdl_blob_get_u64(r);
    s->v.apr = vmdl_blob_get_u32(r);
    s->v.icsr = vmdl_blob_get_u64(r);
    for (unsigned i = 0; i < 2; i++) {
        s->v.enabler[i] = vmdl_blob_get_u64(r);
        s->v.activer[i] = vmdl_blob_get_u64(r);
        s->v.dvir[i] = vmdl_blob_get_u64(r);
    }
    if (s->v.vmcr & ~vmcr_ok)
        vmdl_blob_reject(r, "ICH_VMCR_EL2 has RES0 bits set");
    if (s->v.icsr & icsr_res0)
        vmdl_blob_reject(r, "ICC_ICSR_EL1 has RES0 bits set");
    for (unsigned i = 0; i < 2; i++) {
        if ((s->v.enabler[i] | s->v.activer[i] | s->v.dvir[i]) &
            ~g->m.exposed[i])
            vmdl_blob_reject(r, "PPI state for a PPI this VM does not "
                             "expose");
        if (s->v.dvir[i] & ~(g->device_owned[i] & g->m.level[i]))
            vmdl_blob_reject(r, "DVI set on a PPI that cannot have it");
    }
    GV5_FOR_EACH_EXPOSED(g, ppi) {
        struct gv5_irq *irq = &s->irqs[ppi];
        unsigned got = vmdl_blob_get_u8(r);
        irq->priority = vmdl_blob_get_u8(r);
        irq->saved_prio = vmdl_blob_get_u8(r);
        irq->flags = vmdl_blob_get_u8(r);
        if (got != ppi)
            vmdl_blob_reject(r, "PPI list does not match the exposed mask");
        if (irq->priority > 31 || irq->saved_prio > 31)
            vmdl_blob_reject(r, "PPI priority above 31");
        if (irq->flags & ~GV5_F_ALL)
            vmdl_blob_reject(r, "unknown PPI flag bits");
        if (((irq->flags & GV5_F_ENABLED) != 0) != gv5_bit(s->v.enabler, ppi) ||
            ((irq->flags & GV5_F_ACTIVE) != 0) != gv5_bit(s->v.activer, ppi))
            vmdl_blob_reject(r, "PPI flags disagree with the enable/active "
                             "registers");
    }
}

int vmdl_gicv5_import(struct vmdl_gicv5 *g, const void *blob, size_t len)
{
    if (!g || !blob)
        return vmdl_fail(VMDL_EINVAL, "vmdl_gicv5_import: NULL argument");
    int err = all_put(g, "vmdl_gicv5_import");
    if (err)
        return err;
    struct vmdl_blob_reader r;
    err = vmdl_blob_open(&r, blob, len, GV5_MAGIC, GV5_VERSION,
                         "gicv5 state");
    if (err)
        return err;
    uint32_t nv = vmdl_blob_get_u32(&r);
    if (!r.err && nv != g->nr_vcpus)
        vmdl_blob_reject(&r, "vCPU count differs from this VM");
    struct vmdl_gicv5_masks m;
    for (unsigned i = 0; i < 2; i++) {
        m.exposed[i] = vmdl_blob_get_u64(&r);
        m.level[i] = vmdl_blob_get_u64(&r);
        m.userspace[i] = vmdl_blob_get_u64(&r);
    }
    if (!r.err && memcmp(&m, &g->m, sizeof(m)) != 0)
        vmdl_blob_reject(&r, "PPI masks differ from this VM's");
    if (r.err)
        return vmdl_blob_close(&r);

    struct staged *st = calloc(g->nr_vcpus, sizeof(*st));
    if (!st)
        return vmdl_fail(VMDL_ENOMEM, "vmdl_gicv5_import: out of memory");
    for (unsigned c = 0; c < g->nr_vcpus && !r.err; c++)
        read_vcpu(g, &r, &st[c]);
    err = vmdl_blob_close(&r);
    if (err) {
        free(st);
        return err;
    }
    /* Commit: keep each vCPU's storage and statistics. */
    for (unsigned c = 0; c < g->nr_vcpus; c++) {
        struct gv5_vcpu *v = &g->vcpus[c];
        struct vmdl_gicv5_stats keep = v->st;
        vmdl__gv5_vcpu_reset(g, v);
        v->vmcr = st[c].v.vmcr;
        v->apr = st[c].v.apr;
        v->icsr = st[c].v.icsr;
        memcpy(v->enabler, st[c].v.enabler, sizeof(v->enabler));
        memcpy(v->activer, st[c].v.activer, sizeof(v->activer));
        memcpy(v->dvir, st[c].v.dvir, sizeof(v->dvir));
        v->st = keep;
        GV5_FOR_EACH_EXPOSED(g, ppi)
            *gv5_irq(g, v, ppi) = st[c].irqs[ppi];
    }
    free(st);
    return VMDL_OK;
}
