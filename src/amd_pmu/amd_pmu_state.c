/* SPDX-License-Identifier: MIT */
/*
 * AMD PMU state export/import.
 *
 * Blob: magic "APMU", version 1, payload (little-endian):
 *   u8  family, u8 flags (bit0 perfctr_core, bit1 perfmon_v2, bit2 disabled),
 *   u8  nr_counters (as configured), u8 effective counters
 *   u32 quirks
 *   VMDL_AMD_PMU_MAX_COUNTERS x { u64 ctl, u64 ctr }
 *   u64 global_ctl, u64 global_status, u64 pmis
 * The configuration fields must equal the importing model's.
 */
#include <string.h>

#include "amd_pmu_priv.h"
#include "virtmodel/blob.h"
#include "virtmodel/error.h"

#define APMU_MAGIC VMDL_BLOB_MAGIC('A', 'P', 'M', 'U')
#define APMU_VERSION 1u

static uint8_t cfg_flags(const struct vmdl_amd_pmu_config *c)
{
    return (uint8_t)((c->perfctr_core ? 1 : 0) | (c->perfmon_v2 ? 2 : 0) |
                     (c->disabled ? 4 : 0));
}

int vmdl_amd_pmu_save(const struct vmdl_amd_pmu *pmu, uint8_t **blob,
                      size_t *len)
{
    if (!pmu || !blob || !len)
        return vmdl_fail(VMDL_EINVAL, "vmdl_amd_pmu_save: NULL %s",
                         !pmu ? "pmu" : !blob ? "blob" : "len");
    struct vmdl_blob_writer w;
    vmdl_blob_begin(&w, APMU_MAGIC, APMU_VERSION);
    vmdl_blob_put_u8(&w, (uint8_t)pmu->cfg.family);
    vmdl_blob_put_u8(&w, cfg_flags(&pmu->cfg));
    vmdl_blob_put_u8(&w, (uint8_t)pmu->cfg.nr_counters);
    vmdl_blob_put_u8(&w, (uint8_t)pmu->eff.nr);
    vmdl_blob_put_u32(&w, pmu->cfg.quirks);
    for (unsigned i = 0; i < VMDL_AMD_PMU_MAX_COUNTERS; i++) {
        vmdl_blob_put_u64(&w, pmu->r.ctl[i]);
        vmdl_blob_put_u64(&w, pmu->r.ctr[i]);
    }
    vmdl_blob_put_u64(&w, pmu->r.global_ctl);
    vmdl_blob_put_u64(&w, pmu->r.global_status);
    vmdl_blob_put_u64(&w, pmu->pmis);
    return vmdl_blob_finish(&w, blob, len);
}

int vmdl_amd_pmu_load(struct vmdl_amd_pmu *pmu, const void *blob, size_t len)
{
    if (!pmu)
        return vmdl_fail(VMDL_EINVAL, "vmdl_amd_pmu_load: NULL pmu");
    struct vmdl_blob_reader r;
    int err = vmdl_blob_open(&r, blob, len, APMU_MAGIC, APMU_VERSION,
                             "AMD PMU state");
    if (err)
        return err;

    uint8_t family = vmdl_blob_get_u8(&r);
    uint8_t flags = vmdl_blob_get_u8(&r);
    uint8_t nr_cfg = vmdl_blob_get_u8(&r);
    uint8_t nr_eff = vmdl_blob_get_u8(&r);
    uint32_t quirks = vmdl_blob_get_u32(&r);
    if (!r.err && (family != pmu->cfg.family || flags != cfg_flags(&pmu->cfg) ||
                   nr_cfg != pmu->cfg.nr_counters || nr_eff != pmu->eff.nr ||
                   quirks != pmu->cfg.quirks))
        vmdl_blob_reject(&r, "state of a differently configured PMU");

    /* Decode into a temporary; commit only when everything checks. */
    struct amd_pmu_regs t;
    memset(&t, 0, sizeof(t));
    for (unsigned i = 0; i < VMDL_AMD_PMU_MAX_COUNTERS; i++) {
        t.ctl[i] = vmdl_blob_get_u64(&r);
        t.ctr[i] = vmdl_blob_get_u64(&r);
    }
    t.global_ctl = vmdl_blob_get_u64(&r);
    t.global_status = vmdl_blob_get_u64(&r);
    uint64_t pmis = vmdl_blob_get_u64(&r);

    uint64_t valid = vmdl__amd_pmu_counter_valid_mask(pmu);
    for (unsigned i = 0; i < VMDL_AMD_PMU_MAX_COUNTERS && !r.err; i++) {
        if (t.ctl[i] & VMDL_AMD_EVTSEL_RESERVED)
            vmdl_blob_reject(&r, "reserved event-select bits set");
        else if (t.ctr[i] & ~VMDL_AMD_PMU_COUNTER_MASK)
            vmdl_blob_reject(&r, "counter wider than 48 bits");
        else if (i >= pmu->eff.nr && (t.ctl[i] || t.ctr[i]))
            vmdl_blob_reject(&r, "state for a counter this PMU lacks");
    }
    if (!r.err && pmu->eff.version < 2 && (t.global_ctl || t.global_status))
        vmdl_blob_reject(&r, "global registers without PerfMonV2");
    if (!r.err && ((t.global_ctl | t.global_status) & ~valid))
        vmdl_blob_reject(&r, "global register bits for missing counters");
    err = vmdl_blob_close(&r);
    if (err)
        return err;

    pmu->r = t;
    pmu->pmis = pmis;
    vmdl__amd_pmu_recalc(pmu);
    return VMDL_OK;
}
