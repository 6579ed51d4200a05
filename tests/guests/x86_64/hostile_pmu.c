/* SPDX-License-Identifier: MIT */
/*
 * hostile_pmu: the AMD PMU (PerfMonV2, KVM's 6 counters) fed garbage.
 *   - event selects with every reserved bit set (63:36 incl. Host/Guest-only,
 *     21, 19): KVM clears them silently since 2022, so the write succeeds
 *     and reads back without them; with --pmu-quirk-gp-reserved (KVM before
 *     2022) the write #GPs and the register keeps its value.  The guest
 *     prints which of the two it saw and checks it was done consistently;
 *   - counters written with bits above 47: truncated to 48 bits;
 *   - GLOBAL_CTL with every bit set: only one bit per counter sticks;
 *   - GLOBAL_STATUS written: read-only, the write is ignored;
 *   - PERF_CTL/PERF_CTR beyond the last counter: #GP.
 * RDPMC is checked by hostile_rdpmc.c.
 * Run: virtmodel-run hostile_pmu.elf --vendor amd --models amd_pmu
 *      [--pmu-quirk-gp-reserved]
 */
#include "hostile_try.h"

#define PERF_CTL(n) (0xC0010200u + 2 * (n))
#define PERF_CTR(n) (0xC0010201u + 2 * (n))
#define GLOBAL_STATUS 0xC0000300u
#define GLOBAL_CTL 0xC0000301u
#define EVTSEL_RSVD 0xFFFFFFF000280000ull

int main(void)
{
    hx_init();
    uint32_t a, b, c, d;
    cpuid_count(0x80000000u, 0, &a, &b, &c, &d);
    unsigned n = 0;
    if (a >= 0x80000022u) {
        cpuid_count(0x80000022u, 0, &a, &b, &c, &d);
        if (a & 1) /* PerfMonV2 */
            n = b & 0xF;
    }
    if (!n) {
        rt_puts("hostile_pmu: no PerfMonV2 in CPUID (run with --vendor amd --models amd_pmu)\n");
        return 1;
    }
    uint64_t v;
    int gp_mode = -1; /* 0: reserved bits cleared, 1: reserved bits #GP */

    for (unsigned i = 0; i < n; i++) {
        const uint64_t good = 0x4300C0ull + i; /* retired instructions, OS+USR, EN off */
        wrmsr(PERF_CTL(i), good);
        int vec = wrmsr_safe(PERF_CTL(i), good | EVTSEL_RSVD);
        uint64_t back = rdmsr(PERF_CTL(i));
        if (vec == 0) {
            CHECK(back == good, "PERF_CTL%u = 0x%lx after a reserved-bit write, want 0x%lx",
                  i, back, good);
            CHECK(gp_mode != 1, "PERF_CTL%u: cleared, an earlier counter #GPed", i);
            gp_mode = 0;
        } else {
            CHECK(vec == HX_GP, "PERF_CTL%u reserved-bit write: vector %d", i, vec);
            CHECK(back == good, "PERF_CTL%u changed by a refused write: 0x%lx", i, back);
            CHECK(gp_mode != 0, "PERF_CTL%u: #GP, an earlier counter cleared", i);
            gp_mode = 1;
        }
        wrmsr(PERF_CTL(i), 0);

        CHECK(wrmsr_safe(PERF_CTR(i), ~0ull) == 0, "PERF_CTR%u all-ones write faulted", i);
        v = rdmsr(PERF_CTR(i));
        CHECK(v == (1ull << 48) - 1, "PERF_CTR%u = 0x%lx, want 48 bits of ones", i, v);
        wrmsr(PERF_CTR(i), 0);
    }

    /* Beyond the last counter. */
    CHECK(wrmsr_safe(PERF_CTL(n), 0x4300C0) == HX_GP, "PERF_CTL%u (absent) writable", n);
    CHECK(rdmsr_safe(PERF_CTR(n), &v) == HX_GP, "PERF_CTR%u (absent) readable", n);

    /* Global control and status. */
    const uint64_t mask = (1ull << n) - 1;
    CHECK(wrmsr_safe(GLOBAL_CTL, ~0ull) == 0, "GLOBAL_CTL all-ones write faulted");
    v = rdmsr(GLOBAL_CTL);
    CHECK(v == mask, "GLOBAL_CTL = 0x%lx after all ones, want 0x%lx", v, mask);
    const uint64_t st = rdmsr(GLOBAL_STATUS);
    CHECK(wrmsr_safe(GLOBAL_STATUS, ~0ull) == 0, "GLOBAL_STATUS write faulted");
    CHECK(rdmsr(GLOBAL_STATUS) == st, "GLOBAL_STATUS written: 0x%lx", rdmsr(GLOBAL_STATUS));

    rt_printf("hostile_pmu: %u counters, reserved event-select bits %s: %s\n", n,
              gp_mode ? "#GP" : "cleared", rt_failures ? "FAILED" : "ok");
    return 0;
}
