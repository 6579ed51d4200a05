/* SPDX-License-Identifier: MIT */
/*
 * The AMD PMU's tables: MSR layout and events.  Everything else (range
 * registration, decoding, the counting sources) is derived from these.
 */
#include "amd_pmu_priv.h"

/*
 * MSR layout.  Each row: index range, what it is, how many MSR indices a
 * counter occupies (1 for the split K7 banks, 2 for the interleaved
 * core-extension pairs, 0 for the global registers) and which CPUID feature
 * the guest needs for it (AMD APM vol. 2 13.2.1-13.2.3; Linux
 * msr-index.h; KVM get_gp_pmc_amd / amd_is_valid_msr).
 */
#define AMD_PMU_MSRS(X)                                                      \
    X(VMDL_MSR_K7_EVNTSEL0, VMDL_MSR_K7_EVNTSEL0 + 3,                        \
      MSR_KIND_CTL, 1, NEED_LEGACY, "K7 PERF_CTL0-3")                          \
    X(VMDL_MSR_K7_PERFCTR0, VMDL_MSR_K7_PERFCTR0 + 3,                        \
      MSR_KIND_CTR, 1, NEED_LEGACY, "K7 PERF_CTR0-3")                          \
    X(VMDL_MSR_F15H_PERF_CTL0,                                               \
      VMDL_MSR_F15H_PERF_CTL0 + 2 * VMDL_AMD_PMU_MAX_COUNTERS - 1,           \
      MSR_KIND_PAIR, 2, NEED_CORE, "core PERF_CTL/PERF_CTR pairs")             \
    X(VMDL_MSR_AMD64_PERF_CNTR_GLOBAL_STATUS,                                \
      VMDL_MSR_AMD64_PERF_CNTR_GLOBAL_STATUS,                                \
      MSR_KIND_GSTATUS, 0, NEED_V2, "PERF_CNTR_GLOBAL_STATUS")                 \
    X(VMDL_MSR_AMD64_PERF_CNTR_GLOBAL_CTL, VMDL_MSR_AMD64_PERF_CNTR_GLOBAL_CTL, \
      MSR_KIND_GCTL, 0, NEED_V2, "PERF_CNTR_GLOBAL_CTL")                       \
    X(VMDL_MSR_AMD64_PERF_CNTR_GLOBAL_STATUS_CLR,                            \
      VMDL_MSR_AMD64_PERF_CNTR_GLOBAL_STATUS_CLR,                            \
      MSR_KIND_GCLR, 0, NEED_V2, "PERF_CNTR_GLOBAL_STATUS_CLR")                \
    X(VMDL_MSR_AMD64_PERF_CNTR_GLOBAL_STATUS_SET,                            \
      VMDL_MSR_AMD64_PERF_CNTR_GLOBAL_STATUS_SET,                            \
      MSR_KIND_GSET, 0, NEED_V2, "PERF_CNTR_GLOBAL_STATUS_SET")              \
    /* Intel's MSR_P6_PERFCTR0/1 and MSR_P6_EVNTSEL0/1: KVM's               \
     * kvm_{get,set}_msr_common() (arch/x86/kvm/msrs.c) read them as 0 and  \
     * drop writes unless the vPMU claims them, which svm/pmu.c never does. \
     */                                                                      \
    X(VMDL_MSR_P6_PERFCTR0, VMDL_MSR_P6_PERFCTR0 + 1,                        \
      MSR_KIND_P6, 0, NEED_NONE, "P6 PERFCTR0-1 (Intel, read 0)")              \
    X(VMDL_MSR_P6_EVNTSEL0, VMDL_MSR_P6_EVNTSEL0 + 1,                        \
      MSR_KIND_P6, 0, NEED_NONE, "P6 EVNTSEL0-1 (Intel, read 0)")

#define AMD_PMU_DESC(first, last, kind, stride, need, name) \
    {first, last, kind, stride, need, name},
const struct amd_pmu_msr_desc vmdl__amd_pmu_msr_table[] = {AMD_PMU_MSRS(AMD_PMU_DESC)};
const size_t vmdl__amd_pmu_msr_table_len = sizeof(vmdl__amd_pmu_msr_table) /
                                     sizeof(vmdl__amd_pmu_msr_table[0]);

/*
 * Events (AMD PPR for family 17h/19h, "Core Performance Monitor Counters";
 * the same codes name the same events back to K8).  The machine reports
 * retired instructions and retired taken branches; cycles are derived from
 * instructions with a CPI of exactly 1.
 */
static const struct vmdl_amd_pmu_event event_table[] = {
    { 0x076, VMDL_AMD_PMU_SRC_CYCLES, "cycles not in halt" },
    { 0x0C0, VMDL_AMD_PMU_SRC_INSNS, "retired instructions" },
    /* All retired branches: the machine only sees taken ones, so this
     * counts taken branches (a lower bound). */
    { 0x0C2, VMDL_AMD_PMU_SRC_BRANCHES, "retired branch instructions" },
    { 0x0C3, VMDL_AMD_PMU_SRC_NONE, "retired branches mispredicted" },
    { 0x0C4, VMDL_AMD_PMU_SRC_BRANCHES, "retired taken branch instructions" },
};

const struct vmdl_amd_pmu_event *vmdl_amd_pmu_events(size_t *count)
{
    if (count)
        *count = sizeof(event_table) / sizeof(event_table[0]);
    return event_table;
}

const struct vmdl_amd_pmu_event *vmdl_amd_pmu_event_of(uint64_t evtsel)
{
    uint16_t code = (uint16_t)((evtsel & VMDL_AMD_EVTSEL_EVENT_LO) |
                               ((evtsel & VMDL_AMD_EVTSEL_EVENT_HI) >> 24));
    for (size_t i = 0; i < sizeof(event_table) / sizeof(event_table[0]); i++)
        if (event_table[i].code == code)
            return &event_table[i];
    return NULL;
}

/* Ranges for handler registration: the same rows, as a constant (no lazy
 * cache shared between threads). */
#define AMD_PMU_RANGE(first, last, kind, stride, need, name) {first, last, name},
static const struct vmdl_amd_pmu_msr_range ranges[] = {AMD_PMU_MSRS(AMD_PMU_RANGE)};

const struct vmdl_amd_pmu_msr_range *vmdl_amd_pmu_msr_ranges(size_t *count)
{
    if (count)
        *count = sizeof(ranges) / sizeof(ranges[0]);
    return ranges;
}

const struct amd_pmu_msr_desc *vmdl__amd_pmu_msr_lookup(uint32_t index)
{
    for (size_t i = 0; i < vmdl__amd_pmu_msr_table_len; i++)
        if (index >= vmdl__amd_pmu_msr_table[i].first &&
            index <= vmdl__amd_pmu_msr_table[i].last)
            return &vmdl__amd_pmu_msr_table[i];
    return NULL;
}

bool vmdl_amd_pmu_owns_msr(uint32_t index)
{
    return vmdl__amd_pmu_msr_lookup(index) != NULL;
}
