/* SPDX-License-Identifier: MIT */
/*
 * The "-pmu cannot disable the AMD PMU" scenario: probe the PMU as Linux's
 * AMD driver does (CPUID PerfCtrExtCore picks the MSR bank, then
 * check_hw_exists() writes a counter and reads it back).
 *   --amd-pmu=off:                          "PMU not available due to
 *                                           virtualization" (the fix:
 *                                           KVM_PMU_CAP_DISABLE)
 *   --amd-pmu=off --pmu-quirk-disable-ignored: the counters still work
 */
#include "guest.h"

int main(void)
{
    uint32_t a, b, c, d;
    cpuid_count(0x80000001u, 0, &a, &b, &c, &d);
    bool core = c & (1u << 23);
    uint32_t ctl = core ? 0xC0010200u : 0xC0010000u;
    uint32_t ctr = core ? 0xC0010201u : 0xC0010004u;
    rt_printf("CPUID PerfCtrExtCore: %s\n", core ? "yes" : "no");

    uint64_t v = 0, back = 0;
    int e = rdmsr_safe(ctl, &v);
    e |= rdmsr_safe(ctr, &v);
    v ^= 0xFFFF;
    e |= wrmsr_safe(ctr, v);
    e |= rdmsr_safe(ctr, &back);
    bool works = !e && back == v;
    if (!core) {
        /* With the PMU really off the core-extension bank faults and the
         * legacy bank reads as zero. */
        uint64_t x;
        int gp = rdmsr_safe(0xC0010200u, &x);
        rt_printf("PERF_CTL0 (C001_0200) access: %s\n", gp ? "#GP" : "ok");
        if (!works)
            CHECK(gp == 13, "core-extension MSR did not fault\n");
    }
    rt_printf("Performance Events: %s%s\n", core ? "Fam17h+ core perfctr, " : "",
              works ? "AMD PMU driver."
                    : "PMU not available due to virtualization, using "
                      "software events only.");
    return rt_failures ? 1 : 0;
}
