/* SPDX-License-Identifier: MIT */
/*
 * hostile_rdpmc: RDPMC on the AMD PMU (PerfMonV2, 6 counters), right and
 * wrong: RDPMC n for every counter returns PERF_CTRn (written with all ones:
 * 48 bits), RDPMC of the first absent counter, of 16 and of 0x80000000 #GP
 * (KVM's kvm_pmu_rdpmc()/amd_rdpmc_ecx_to_pmc()).  Never #UD: the CPU has
 * RDPMC.  Run: virtmodel-run hostile_rdpmc.elf --vendor amd --models amd_pmu
 */
#include "hostile_try.h"

#define PERF_CTR(n) (0xC0010201u + 2 * (n))

static int rdpmc_try(uint32_t ecx, uint64_t *v)
{
    uint32_t lo = 0, hi = 0;
    int vec = HX_TRY("rdpmc", HX_ARGS("=a"(lo), "=d"(hi)), "c"(ecx));
    *v = ((uint64_t)hi << 32) | lo;
    return vec;
}

int main(void)
{
    hx_init();
    const unsigned n = 6;
    uint64_t v;
    for (unsigned i = 0; i < n; i++) {
        wrmsr(PERF_CTR(i), ~0ull);
        int vec = rdpmc_try(i, &v);
        CHECK(vec == HX_NONE && v == (1ull << 48) - 1, "RDPMC %u: vector %d value 0x%lx",
              i, vec, v);
        wrmsr(PERF_CTR(i), 0);
    }
    EXPECT_VEC(rdpmc_try(n, &v), HX_GP, "RDPMC of the first absent counter");
    EXPECT_VEC(rdpmc_try(16, &v), HX_GP, "RDPMC 16");
    EXPECT_VEC(rdpmc_try(0x80000000u, &v), HX_GP, "RDPMC 0x80000000");
    rt_printf("hostile_rdpmc: %s\n", rt_failures ? "FAILED" : "counters read, absent ones #GP");
    return 0;
}
