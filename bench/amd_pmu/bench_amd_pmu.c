/* SPDX-License-Identifier: MIT */
/*
 * Model-level cost of the AMD PMU: the retire accounting the machine calls
 * at each exit/kick, with 0, 1 and 6 live counters, and MSR dispatch.
 * Prints ns per call; no assertions.
 */
#include <stdio.h>
#include <stdlib.h>

#include "bench_util.h"
#include "virtmodel/amd_pmu.h"

#define N 20000000ull

static struct vmdl_amd_pmu *make(unsigned live)
{
    struct vmdl_amd_pmu_config c = { .family = 0x19, .perfctr_core = true,
                                     .perfmon_v2 = true, .nr_counters = 6 };
    struct vmdl_amd_pmu *p = NULL;
    if (vmdl_amd_pmu_create(&c, NULL, &p))
        exit(1);
    static const uint64_t ev[6] = { 0xC0, 0x76, 0xC4, 0xC2, 0xC0, 0x76 };
    for (unsigned i = 0; i < live; i++)
        vmdl_amd_pmu_wrmsr(p, VMDL_MSR_F15H_PERF_CTL0 + 2 * i,
                           VMDL_AMD_EVTSEL_EN | VMDL_AMD_EVTSEL_OS |
                           VMDL_AMD_EVTSEL_INT | ev[i]);
    return p;
}

static double bench_retire(unsigned live)
{
    struct vmdl_amd_pmu *p = make(live);
    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < N; i++)
        vmdl_amd_pmu_retire(p, 1000 + (i & 7), 100, 0);
    uint64_t t1 = bench_now_ns();
    uint64_t v = 0;
    vmdl_amd_pmu_rdmsr(p, VMDL_MSR_F15H_PERF_CTR0, &v);
    bench_keep(v + vmdl_amd_pmu_insns_to_overflow(p));
    vmdl_amd_pmu_destroy(p);
    return (double)(t1 - t0) / (double)N;
}

static double bench_kick_query(unsigned live)
{
    struct vmdl_amd_pmu *p = make(live);
    uint64_t acc = 0, t0 = bench_now_ns();
    for (uint64_t i = 0; i < N; i++)
        acc += vmdl_amd_pmu_insns_to_overflow(p) + vmdl_amd_pmu_live_mask(p);
    uint64_t t1 = bench_now_ns();
    bench_keep(acc);
    vmdl_amd_pmu_destroy(p);
    return (double)(t1 - t0) / (double)N;
}

static double bench_msr(bool write)
{
    struct vmdl_amd_pmu *p = make(1);
    uint64_t acc = 0, t0 = bench_now_ns();
    for (uint64_t i = 0; i < N; i++) {
        uint32_t msr = VMDL_MSR_F15H_PERF_CTL0 + (uint32_t)(i % 12);
        if (write)
            acc += vmdl_amd_pmu_wrmsr(p, msr | 1, i); /* counters only */
        else {
            uint64_t v;
            acc += vmdl_amd_pmu_rdmsr(p, msr, &v) + v;
        }
    }
    uint64_t t1 = bench_now_ns();
    bench_keep(acc);
    vmdl_amd_pmu_destroy(p);
    return (double)(t1 - t0) / (double)N;
}

int main(void)
{
    double r0 = bench_retire(0), r1 = bench_retire(1), r6 = bench_retire(6);
    printf("amd_pmu retire, 0 live counters : %6.2f ns/call\n", r0);
    printf("amd_pmu retire, 1 live counter  : %6.2f ns/call\n", r1);
    printf("amd_pmu retire, 6 live counters : %6.2f ns/call\n", r6);
    printf("amd_pmu insns_to_overflow+live, 1 live: %6.2f ns/call\n",
           bench_kick_query(1));
    printf("amd_pmu insns_to_overflow+live, 6 live: %6.2f ns/call\n",
           bench_kick_query(6));
    printf("amd_pmu rdmsr (CTL/CTR pairs)   : %6.2f ns/call\n", bench_msr(false));
    printf("amd_pmu wrmsr (counters)        : %6.2f ns/call\n", bench_msr(true));
    return 0;
}
