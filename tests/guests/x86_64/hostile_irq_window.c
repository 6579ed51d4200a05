/* SPDX-License-Identifier: MIT */
/*
 * hostile_irq_window: an interrupt that became pending while IF was clear
 * must be taken right after the instruction following STI (STI's one-
 * instruction shadow), even when no instruction in between traps to the
 * machine:  cli; self-IPI; sti; nop; <interrupt here>; cli.
 * The guest pends the interrupt through an xAPIC MMIO write (a device
 * region, no exit) and then runs only native instructions.  Exit 0 when the
 * interrupt arrived inside the window.
 * Run: virtmodel-run hostile_irq_window.elf --models lapic
 */
#include "hostile_try.h"

#define APIC 0xFEE00000ull
#define VEC 0x70

static volatile unsigned hits;

static void on_irq(struct rt_frame *f)
{
    (void)f;
    hits++;
    mmio_write32(APIC + 0xB0, 0);
}

int main(void)
{
    hx_init();
    rt_set_handler(VEC, on_irq);
    mmio_write32(APIC + 0xF0, 0x1FF);
    cli();
    mmio_write32(APIC + 0x300, (1u << 18) | VEC); /* self-IPI, IF clear */
    __asm__ volatile("sti\n\tnop\n\tnop\n\tcli" ::: "memory");
    unsigned in_window = hits;
    sti();
    (void)rdmsr(0x1B); /* late delivery point, to tell "late" from "lost" */
    cli();
    CHECK(in_window == 1, "interrupt not taken in the STI window (taken later: %s)",
          hits ? "yes" : "no");
    rt_printf("hostile_irq_window: %s\n", rt_failures ? "FAILED" : "taken after STI's shadow");
    return 0;
}
