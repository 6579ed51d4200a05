/* SPDX-License-Identifier: MIT */
/*
 * hostile_storm: an interrupt storm from the guest itself.
 *   1. With IF clear, 100000 self-IPIs on one vector through the x2APIC
 *      SELF_IPI MSR: IRR holds the vector once, so exactly one interrupt
 *      arrives after STI (and ISR/IRR are empty after its EOI).
 *   2. 20000 self-IPIs with IF set, each taken before the next is sent
 *      (the handler EOIs): every one arrives, in order, none lost, none twice.
 *   3. A handler that never EOIs while more IPIs of lower and equal priority
 *      are sent: the in-service vector blocks its class (PPR), so nothing
 *      nests; after the EOI the pending one arrives.
 * The host process must neither stall nor grow.  Exit 0 when the counts are
 * exact.  Run: virtmodel-run hostile_storm.elf --models lapic [--apicv]
 */
#include "hostile_try.h"

#define VEC 0x70
#define VEC_LOW 0x60
#define N_MASKED 100000u
#define N_OPEN 20000u

static volatile unsigned count[256];
static volatile unsigned depth, max_depth;
static volatile int eoi_in_handler = 1;

static void on_irq(struct rt_frame *f)
{
    count[f->vector & 0xFF]++;
    if (++depth > max_depth)
        max_depth = depth;
    if (eoi_in_handler)
        wrmsr(0x80B, 0);
    depth--;
}

static uint64_t isr_irr_any(void)
{
    uint64_t any = 0;
    for (unsigned i = 0; i < 8; i++)
        any |= rdmsr(0x810 + i) | rdmsr(0x820 + i);
    return any;
}

int main(void)
{
    hx_init();
    rt_set_handler(VEC, on_irq);
    rt_set_handler(VEC_LOW, on_irq);
    wrmsr(0x1B, rdmsr(0x1B) | (1u << 10)); /* x2APIC */
    wrmsr(0x80F, 0x1FF);                   /* software-enable */

    /* 1: masked storm coalesces. */
    for (unsigned i = 0; i < N_MASKED; i++)
        wrmsr(0x83F, VEC);
    CHECK(count[VEC] == 0, "interrupt taken with IF clear");
    sti();
    (void)rdmsr(0x1B); /* a trapping instruction: delivery point */
    cli();
    CHECK(count[VEC] == 1, "masked storm: %u interrupts, want 1 (IRR coalesces)", count[VEC]);
    CHECK(isr_irr_any() == 0, "ISR/IRR not empty after the storm");

    /* 2: open storm: one interrupt per IPI. */
    count[VEC] = 0;
    sti();
    for (unsigned i = 0; i < N_OPEN; i++) {
        wrmsr(0x83F, VEC);
        CHECK(count[VEC] == i + 1, "IPI %u: %u interrupts so far", i, count[VEC]);
        if (rt_failures)
            break;
    }
    cli();
    CHECK(count[VEC] == N_OPEN, "open storm: %u interrupts, want %u", count[VEC], N_OPEN);
    CHECK(max_depth == 1, "handlers nested %u deep", max_depth);

    /* 3: no EOI: the in-service vector masks its class and below. */
    count[VEC] = count[VEC_LOW] = 0;
    eoi_in_handler = 0;
    sti();
    wrmsr(0x83F, VEC);          /* taken, stays in service */
    for (unsigned i = 0; i < 1000; i++) {
        wrmsr(0x83F, VEC);      /* same class: pending, blocked by PPR */
        wrmsr(0x83F, VEC_LOW);  /* lower class: pending, blocked */
    }
    cli();
    CHECK(count[VEC] == 1 && count[VEC_LOW] == 0,
          "without EOI: 0x70 x%u, 0x60 x%u, want 1 and 0", count[VEC], count[VEC_LOW]);
    CHECK(rdmsr(0x80A) == 0x70, "PPR 0x%lx, want 0x70", rdmsr(0x80A));
    eoi_in_handler = 1;
    wrmsr(0x80B, 0);            /* EOI the first: 0x70 then 0x60 follow */
    sti();
    (void)rdmsr(0x1B);
    (void)rdmsr(0x1B);
    cli();
    CHECK(count[VEC] == 2 && count[VEC_LOW] == 1,
          "after EOI: 0x70 x%u, 0x60 x%u, want 2 and 1", count[VEC], count[VEC_LOW]);
    CHECK(isr_irr_any() == 0, "ISR/IRR not empty at the end");

    rt_printf("hostile_storm: %s\n", rt_failures ? "FAILED"
              : "100000 masked self-IPIs -> 1 interrupt, 20000 open -> 20000, PPR blocks");
    return 0;
}
