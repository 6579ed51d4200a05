/* SPDX-License-Identifier: MIT */
/*
 * Switch to x2APIC through IA32_APIC_BASE and use the MSR interface: IDs,
 * self-IPI MSR, 64-bit ICR, EOI, CR8 <-> TPR, the #GP rules, the MMIO hole.
 * Run: virtmodel-run lapic_x2apic.elf --models lapic [--apicv]
 */
#include "guest.h"

#define SELF_VEC 0x60
#define ICR_VEC 0x61
#define TIMER_VEC 0x62

static volatile unsigned hits[256];

static void on_irq(struct rt_frame *f)
{
    hits[f->vector & 0xFF]++;
    wrmsr(0x80B, 0); /* EOI */
}

int main(void)
{
    uint32_t a, b, c, d;
    uint64_t v;
    cpuid_count(1, 0, &a, &b, &c, &d);
    CHECK(c & (1u << 21), "CPUID.1:ECX.x2APIC clear");
    CHECK(c & (1u << 24), "CPUID.1:ECX.TSC-deadline clear");
    uint64_t base = rdmsr(0x1B);
    CHECK(!(base & (1u << 10)), "starts in x2APIC mode");
    CHECK(rdmsr_safe(0x802, &v) == 13, "x2APIC MSR readable in xAPIC mode");
    wrmsr(0x1B, base | (1u << 10));
    CHECK(rdmsr(0x1B) & (1u << 10), "EXTD did not stick");
    CHECK(rdmsr(0x802) == 0, "x2APIC ID %u", (unsigned)rdmsr(0x802));
    CHECK(rdmsr(0x803) == 0x50014, "version 0x%x", (unsigned)rdmsr(0x803));
    CHECK(rdmsr(0x80D) == 1, "LDR 0x%x", (unsigned)rdmsr(0x80D));
    /* #GP rules */
    CHECK(rdmsr_safe(0x80B, &v) == 13, "EOI readable");
    CHECK(rdmsr_safe(0x83F, &v) == 13, "SELF_IPI readable");
    CHECK(rdmsr_safe(0x831, &v) == 13, "ICR2 readable");
    CHECK(rdmsr_safe(0x80E, &v) == 13, "DFR readable");
    CHECK(wrmsr_safe(0x802, 5) == 13, "ID writable");
    CHECK(wrmsr_safe(0x808, 1ull << 32) == 13, "TPR bits 63:32 accepted");
    CHECK(wrmsr_safe(0x830, 1ull << 20) == 13, "ICR reserved bit accepted");
    CHECK(wrmsr_safe(0x1B, base) == 13, "x2APIC -> xAPIC accepted");
    /* MMIO hole */
    CHECK(mmio_read32(0xFEE00030) == 0xFFFFFFFFu, "MMIO not a hole in x2APIC");
    /* interrupts through MSRs */
    rt_set_handler(SELF_VEC, on_irq);
    rt_set_handler(ICR_VEC, on_irq);
    rt_set_handler(TIMER_VEC, on_irq);
    wrmsr(0x80F, 0x1FF);
    wrmsr(0x83F, SELF_VEC);
    wrmsr(0x830, (0ull << 32) | ICR_VEC); /* physical, destination ID 0 */
    /* STI runs natively: HLT hands control to the run loop, which delivers
     * one interrupt per HLT here (0x61 first: higher priority) */
    while (!hits[SELF_VEC] || !hits[ICR_VEC])
        sti_hlt(), cli();
    CHECK(hits[SELF_VEC] == 1 && hits[ICR_VEC] == 1, "self %u icr %u",
          hits[SELF_VEC], hits[ICR_VEC]);
    /* CR8 is TPR[7:4] */
    write_cr8(3);
    CHECK(rdmsr(0x808) == 0x30, "TPR 0x%x after CR8=3", (unsigned)rdmsr(0x808));
    wrmsr(0x808, 0x50);
    CHECK(read_cr8() == 5, "CR8 %u after TPR=0x50", (unsigned)read_cr8());
    /* TPR class 6 blocks vector 0x60 (class 6) until lowered */
    wrmsr(0x808, 0x60);
    wrmsr(0x83F, SELF_VEC);
    sti();
    (void)rdmsr(0x1B); /* traps: a deliverable interrupt would be taken */
    CHECK(hits[SELF_VEC] == 1, "0x60 delivered while TPR is 0x60");
    write_cr8(0);      /* traps too: now 0x60 is taken on the way back */
    cli();
    CHECK(hits[SELF_VEC] == 2, "0x60 not delivered after CR8=0");
    /* one-shot timer through MSRs */
    wrmsr(0x83E, 0xB);
    wrmsr(0x832, TIMER_VEC);
    wrmsr(0x838, 3000);
    while (!hits[TIMER_VEC])
        sti_hlt(), cli();
    rt_printf("x2apic: id %u, self-IPI, ICR, CR8, timer ok\n", (unsigned)rdmsr(0x802));
    /* back to xAPIC through the disabled state */
    wrmsr(0x1B, base & ~((1ull << 10) | (1ull << 11)));
    wrmsr(0x1B, base);
    CHECK(mmio_read32(0xFEE00030) == 0x50014, "xAPIC MMIO back");
    rt_printf("x2apic: back to xAPIC\n");
    return 0;
}
