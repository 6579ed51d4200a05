/* SPDX-License-Identifier: MIT */
/*
 * AMD PMU: count retired instructions, cycles and branches over a loop of
 * known length through PERF_CTL0/PERF_CTR0, then let counter 0 overflow
 * and take its PMI (an NMI).  Needs PerfCtrExtCore (run with --amd-pmu).
 */
#include "guest.h"

#define PERF_CTL0 0xC0010200u
#define PERF_CTR0 0xC0010201u
#define GLOBAL_STATUS 0xC0000300u
#define GLOBAL_CTL 0xC0000301u
#define GLOBAL_STATUS_CLR 0xC0000302u
#define EVT_EN (1u << 22)
#define EVT_INT (1u << 20)
#define EVT_OS (1u << 17)

static volatile unsigned nmis;

static void on_nmi(struct rt_frame *f)
{
    (void)f;
    nmis++;
}

/* WRMSR(PERF_CTL0, evtsel) ; N x { dec ; jnz } ; RDMSR(PERF_CTR0): a fixed
 * instruction sequence, so count(N) = 2N + constant. */
static uint64_t run_loop(uint32_t evtsel, uint64_t iters)
{
    uint32_t lo, hi, msr = PERF_CTL0;
    /* ECX is rewritten inside (CTL0, then CTR0): it is an in/out operand. */
    __asm__ volatile(
        "wrmsr\n\t"
        "mov %[n], %%r8\n\t"
        "1: dec %%r8\n\t"
        "jnz 1b\n\t"
        "mov $0xC0010201, %%ecx\n\t"
        "rdmsr\n\t"
        : "=a"(lo), "=d"(hi), "+c"(msr)
        : "a"(evtsel), "d"(0), [n] "r"(iters)
        : "r8", "memory", "cc");
    wrmsr(PERF_CTL0, 0);
    return ((uint64_t)hi << 32) | lo;
}

static uint64_t count(uint32_t event, uint64_t iters)
{
    wrmsr(PERF_CTR0, 0);
    return run_loop(EVT_EN | EVT_OS | event, iters);
}



int main(void)
{
    uint32_t a, b, c, d;
    cpuid_count(0x80000001u, 0, &a, &b, &c, &d);
    if (!(c & (1u << 23))) {
        rt_puts("amd_pmu_count: no PerfCtrExtCore in CPUID (run with --amd-pmu)\n");
        return 2;
    }
    cpuid_count(0x80000022u, 0, &a, &b, &c, &d);
    bool v2 = a & 1;
    if (v2)
        CHECK((rdmsr(GLOBAL_CTL) & 1) == 1, "GLOBAL_CTL bit 0 clear at boot\n");
    /* Intel's P6 counter MSRs on an AMD vCPU: KVM reads them as 0 and drops
     * writes (kvm_{get,set}_msr_common in arch/x86/kvm/msrs.c). */
    static const uint32_t p6[] = {0xC1, 0xC2, 0x186, 0x187};
    for (unsigned i = 0; i < 4; i++) {
        uint64_t v = 1;
        CHECK(wrmsr_safe(p6[i], 0x530076) == 0, "WRMSR 0x%x faulted\n", p6[i]);
        CHECK(rdmsr_safe(p6[i], &v) == 0 && v == 0, "MSR 0x%x reads 0x%llx\n",
              p6[i], (unsigned long long)v);
    }
    rt_printf("amd_pmu_count: Intel P6 MSRs read 0\n");

    const uint64_t n1 = 1000, n2 = 51000;
    static const struct { uint32_t event; const char *name; uint64_t per_iter; } ev[] = {
        { 0xC0, "retired instructions", 2 },
        { 0x76, "cycles (CPI 1)", 2 },
        { 0xC4, "retired taken branches", 1 },
    };
    uint64_t insn_base = 0;
    for (unsigned i = 0; i < 3; i++) {
        uint64_t c1 = count(ev[i].event, n1), c2 = count(ev[i].event, n2);
        uint64_t want = ev[i].per_iter * (n2 - n1);
        rt_printf("%s: %llu iterations -> %llu, %llu -> %llu, delta %llu "
                  "(expected %llu)\n", ev[i].name, (unsigned long long)n1,
                  (unsigned long long)c1, (unsigned long long)n2,
                  (unsigned long long)c2, (unsigned long long)(c2 - c1),
                  (unsigned long long)want);
        CHECK(c2 - c1 == want, "%s not exact\n", ev[i].name);
        if (i == 0) {
            insn_base = c1;
            /* The sequence between WRMSR and RDMSR: mov, 2N, mov. */
            CHECK(c1 == 2 * n1 + 2, "absolute count %llu, expected %llu\n",
                  (unsigned long long)c1, (unsigned long long)(2 * n1 + 2));
        }
    }

    /* Overflow: start 100 below 2^48; the loop retires insn_base. */
    rt_set_handler(2, on_nmi);
    rt_lapic_pmi_as_nmi();
    const uint64_t top = 1ull << 48;
    wrmsr(PERF_CTR0, top - 100);
    uint64_t after = run_loop(EVT_EN | EVT_OS | EVT_INT | 0xC0, n1);
    rt_printf("overflow: counter from 2^48-100 after %llu instructions -> %llu\n",
              (unsigned long long)insn_base, (unsigned long long)after);
    CHECK(after == insn_base - 100, "wrapped counter %llu, expected %llu\n",
          (unsigned long long)after, (unsigned long long)(insn_base - 100));
    if (v2) {
        uint64_t st = rdmsr(GLOBAL_STATUS);
        CHECK(st & 1, "GLOBAL_STATUS bit 0 not set (0x%llx)\n",
              (unsigned long long)st);
        wrmsr(GLOBAL_STATUS_CLR, 1);
        CHECK(rdmsr(GLOBAL_STATUS) == 0, "GLOBAL_STATUS_CLR did not clear\n");
    }
    for (volatile int i = 0; i < 100; i++)
        ;
    rt_printf("PMIs (NMIs) taken: %u\n", nmis);
    CHECK(nmis == 1, "expected exactly one PMI, got %u\n", nmis);

    rt_printf("amd_pmu_count: %s\n", rt_failures ? "FAIL" : "PASS");
    return rt_failures ? 1 : 0;
}
