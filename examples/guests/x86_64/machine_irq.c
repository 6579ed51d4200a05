/* SPDX-License-Identifier: MIT */
/*
 * Waits for three external interrupts injected by the host (vectors 0x40,
 * 0x41, 0x42) with the STI; HLT idiom, checking that each arrives through
 * the IDT with interrupts disabled in the handler.
 */
#include "guest.h"

static volatile unsigned count;
static volatile unsigned vectors[3];
static volatile int if_in_handler = -1;

static void on_irq(struct rt_frame *f)
{
    if (count < 3)
        vectors[count] = (unsigned)f->vector;
    if_in_handler = (read_rflags() >> 9) & 1;
    count++;
}

int main(void)
{
    for (unsigned v = 0x40; v < 0x43; v++)
        rt_set_handler(v, on_irq);
    while (count < 3) {
        cli();
        if (count >= 3)
            break;
        sti_hlt();
    }
    cli();
    CHECK(if_in_handler == 0, "IF was set inside the interrupt handler");
    rt_printf("irq: got 0x%x 0x%x 0x%x\n", vectors[0], vectors[1], vectors[2]);
    return vectors[0] == 0x40 && vectors[1] == 0x41 && vectors[2] == 0x42 ? 0 : 1;
}
