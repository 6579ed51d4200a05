/* SPDX-License-Identifier: MIT */
/* Internals of the AMD PMU model shared by its source files. */
#ifndef VMDL_AMD_PMU_PRIV_H
#define VMDL_AMD_PMU_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtmodel/amd_pmu.h"

enum amd_pmu_msr_kind {
    MSR_KIND_CTL,     /* event selects, one index per counter */
    MSR_KIND_CTR,     /* counters, one index per counter */
    MSR_KIND_PAIR,    /* CTL at even offsets, CTR at odd */
    MSR_KIND_GSTATUS,
    MSR_KIND_GCTL,
    MSR_KIND_GCLR,
    MSR_KIND_GSET,
    MSR_KIND_P6,      /* Intel P6 counter MSRs: read 0, writes dropped */
};

enum amd_pmu_need {
    NEED_LEGACY, /* any PMU; reads 0 / drops writes when disabled */
    NEED_CORE,   /* PerfCtrExtCore */
    NEED_V2,     /* PerfMonV2 */
    NEED_NONE,   /* every configuration, the disabled PMU included */
};

struct amd_pmu_msr_desc {
    uint32_t first, last;
    enum amd_pmu_msr_kind kind;
    unsigned stride;
    enum amd_pmu_need need;
    const char *name;
};

extern const struct amd_pmu_msr_desc vmdl__amd_pmu_msr_table[];
extern const size_t vmdl__amd_pmu_msr_table_len;
const struct amd_pmu_msr_desc *vmdl__amd_pmu_msr_lookup(uint32_t index);

/* The configuration as it takes effect (quirks applied, defaults filled). */
struct amd_pmu_effective {
    unsigned version;      /* 0, 1, 2 */
    unsigned nr;           /* counters usable by the guest */
    bool perfctr_core;     /* as the guest's CPUID shows it */
    bool perfmon_v2;
    unsigned cpuid_nr;     /* EBX[3:0] as published */
};

void vmdl__amd_pmu_effective(const struct vmdl_amd_pmu_config *cfg,
                       struct amd_pmu_effective *eff);

/* Architectural registers: the exported state. */
struct amd_pmu_regs {
    uint64_t ctl[VMDL_AMD_PMU_MAX_COUNTERS];
    uint64_t ctr[VMDL_AMD_PMU_MAX_COUNTERS];
    uint64_t global_ctl;
    uint64_t global_status;
};

struct vmdl_amd_pmu {
    struct vmdl_amd_pmu_config cfg;
    struct amd_pmu_effective eff;
    struct vmdl_pmi_sink sink;
    struct amd_pmu_regs r;
    uint64_t pmis;
    /* Derived from r by vmdl__amd_pmu_recalc(); never exported. */
    uint32_t live;         /* counters that may count */
    uint32_t os_mask;      /* live & OS */
    uint32_t usr_mask;     /* live & USR */
    uint32_t branch_mask;  /* live & counting branches */
};

void vmdl__amd_pmu_recalc(struct vmdl_amd_pmu *pmu);
uint64_t vmdl__amd_pmu_counter_valid_mask(const struct vmdl_amd_pmu *pmu);

#endif
