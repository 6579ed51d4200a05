/* SPDX-License-Identifier: MIT */
/*
 * The AMD "PMU survives VM reset" scenario.  Boot 1 programs PERF_CTL0 =
 * 0x530076 (what `perf top` leaves: cycles, EN|INT|OS|USR) with the counter
 * close to overflow, then asks for a reset (0x06 to port 0xCF9).  Boot 2
 * (told apart by a marker in RAM outside the image, which a reset keeps)
 * checks the event selects the way Linux's check_hw_exists() does.
 *   fixed VMM (default):       clean "AMD PMU driver" line
 *   --pmu-quirk-no-vm-reset:   "[Firmware Bug]: the BIOS has corrupted
 *                              hw-PMU resources (MSR c0010200 is 530076)",
 *                              and the stale counter's NMI arrives unasked.
 */
#include "guest.h"

#define MARKER_ADDR 0x3F00000ull /* 63 MiB: RAM, not part of the image */
#define MARKER 0x504D5552534554ull /* "TESRUMP" */
#define EVT_EN (1ull << 22)

static volatile unsigned nmis;

static void on_nmi(struct rt_frame *f)
{
    (void)f;
    nmis++;
    rt_printf("Uhhuh. NMI received for unknown reason 00 on CPU %u.\n", rt_cpu());
}

struct pmu_layout {
    uint32_t ctl, ctr, stride;
    unsigned n;
    bool core, v2;
};

static struct pmu_layout layout(void)
{
    uint32_t a, b, c, d;
    struct pmu_layout l = { 0xC0010000u, 0xC0010004u, 1, 4, false, false };
    cpuid_count(0x80000001u, 0, &a, &b, &c, &d);
    if (c & (1u << 23)) {
        l = (struct pmu_layout){ 0xC0010200u, 0xC0010201u, 2, 6, true, false };
        cpuid_count(0x80000022u, 0, &a, &b, &c, &d);
        if (a & 1) {
            l.v2 = true;
            l.n = b & 0xF;
        }
    }
    return l;
}

static void boot1(struct pmu_layout l)
{
    rt_puts("boot 1: perf top: PERF_CTL0 = 0x530076, counter near overflow\n");
    wrmsr(l.ctr, (1ull << 48) - 30000);
    wrmsr(l.ctl, 0x530076);
    if (l.v2)
        wrmsr(0xC0000301u, rdmsr(0xC0000301u) | 1);
    for (volatile int i = 0; i < 1000; i++)
        ;
    rt_printf("boot 1: counted %llu so far; rebooting\n",
              (unsigned long long)(rdmsr(l.ctr) - ((1ull << 48) - 30000)));
    rt_reset();
}

/* What Linux's check_hw_exists() does with the general-purpose counters. */
static void boot2(struct pmu_layout l)
{
    bool bios_fail = false;
    uint32_t reg_fail = 0;
    uint64_t val_fail = 0;
    int reg_safe = -1;
    for (unsigned i = 0; i < l.n; i++) {
        uint64_t v;
        uint32_t reg = l.ctl + i * l.stride;
        if (rdmsr_safe(reg, &v)) {
            rt_puts("Performance Events: PMU not available due to virtualization, "
                    "using software events only.\n");
            return;
        }
        if (v & EVT_EN) {
            bios_fail = true;
            reg_fail = reg;
            val_fail = v;
        } else {
            reg_safe = (int)i;
        }
    }
    bool works = false;
    if (reg_safe >= 0) {
        uint32_t reg = l.ctr + (unsigned)reg_safe * l.stride;
        uint64_t v = 0, back = 0;
        int e = rdmsr_safe(reg, &v);
        v ^= 0xFFFF;
        e |= wrmsr_safe(reg, v);
        e |= rdmsr_safe(reg, &back);
        works = !e && back == v;
    }
    rt_printf("Performance Events: %s", l.core ? "Fam17h+ core perfctr, " : "");
    if (!works) {
        rt_puts("PMU not available due to virtualization, using software "
                "events only.\n");
        return;
    }
    if (bios_fail) {
        rt_puts("Broken BIOS detected, complain to your hardware vendor.\n");
        rt_printf("[Firmware Bug]: the BIOS has corrupted hw-PMU resources "
                  "(MSR %x is %llx)\n", reg_fail, (unsigned long long)val_fail);
    } else {
        rt_puts("AMD PMU driver.\n");
    }
}



int main(void)
{
    volatile uint64_t *marker = (volatile uint64_t *)MARKER_ADDR;
    struct pmu_layout l = layout();
    rt_set_handler(2, on_nmi);
    rt_lapic_pmi_as_nmi();
    if (*marker != MARKER) {
        *marker = MARKER;
        boot1(l);
    }
    *marker = 0;
    rt_puts("boot 2: checking the PMU like Linux's check_hw_exists()\n");
    boot2(l);
    /* Run on for a while: a counter left live by boot 1 overflows now. */
    for (volatile int i = 0; i < 20000; i++)
        ;
    (void)rdmsr(l.ctr); /* an exit: the PMU catches up */
    for (volatile int i = 0; i < 100; i++)
        ;
    rt_printf("boot 2: unexpected NMIs: %u\n", nmis);
    return 0;
}
