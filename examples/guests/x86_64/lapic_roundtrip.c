/* SPDX-License-Identifier: MIT */
/*
 * Interrupt round trips for the benchmark: N times, a self-IPI through the
 * x2APIC SELF_IPI MSR, STI;HLT, the handler, EOI.  Prints N at the end.
 * Run: virtmodel-run lapic_roundtrip.elf --models lapic [--apicv]
 */
#include "guest.h"

#define VEC 0x70
#define N 20000

static volatile unsigned hits;

static void on_irq(struct rt_frame *f)
{
    (void)f;
    hits++;
    wrmsr(0x80B, 0); /* EOI */
}

int main(void)
{
    rt_set_handler(VEC, on_irq);
    wrmsr(0x1B, rdmsr(0x1B) | (1u << 10));
    wrmsr(0x80F, 0x1FF);
    for (unsigned i = 1; i <= N; i++) {
        wrmsr(0x83F, VEC);
        while (hits < i)
            sti_hlt(), cli();
    }
    rt_printf("roundtrip: %u interrupts\n", hits);
    return hits == N ? 0 : 1;
}
