/* SPDX-License-Identifier: MIT */
/*
 * trap_sites: trapped RDMSR/WRMSR in a loop while TSC-deadline timer
 * interrupts land between (and right after) them.  The machine completes
 * those instructions inside the engine once they have trapped at an
 * address (src/machine/x86/site.c); test_machine_x86 runs this guest with
 * and without that and compares the console, which lists where every
 * interrupt landed (return RIP) and the TSC there (retired instructions),
 * and the final instruction count.  In the second half the deadline passes
 * while IF is clear: the interrupt becomes pending at a completed RDMSR
 * (often the one that reads the TSC past it) or at a block boundary, waits,
 * and must land right after the POPF that sets IF (the block hook watches the interrupt window, also in the block
 * after a completed RDMSR: docs/performance.md, fifth round).
 * Run: virtmodel-run trap_sites.elf --models lapic
 */
#include "guest.h"

#define APIC 0xFEE00000ull
#define VEC 0x41
#define ROUNDS 40

static volatile unsigned hits;
static uint64_t where[2 * ROUNDS], when[2 * ROUNDS];

static void on_timer(struct rt_frame *f)
{
    if (hits < 2 * ROUNDS) {
        where[hits] = f->rip;
        when[hits] = rdmsr(0x10);
    }
    hits++;
    mmio_write32(APIC + 0xB0, 0); /* EOI */
}

int main(void)
{
    rt_set_handler(VEC, on_timer);
    mmio_write32(APIC + 0xF0, 0x1FF);
    mmio_write32(APIC + 0x320, (2u << 17) | VEC); /* TSC-deadline mode */
    uint64_t sum = 0;
    sti();
    for (unsigned r = 0; r < ROUNDS; r++) {
        /* A deadline a few instructions ahead, different each round, so
         * that interrupts land at varied points of the loop below. */
        unsigned before = hits;
        wrmsr(0x6E0, rdmsr(0x10) + 7 + 3 * r);
        for (unsigned i = 0; hits == before && i < 1000; i++)
            sum += rdmsr(0x10) ^ rdmsr(0x1B);
    }
    for (unsigned r = 0; r < ROUNDS; r++) {
        unsigned before = hits;
        cli();
        uint64_t due = rdmsr(0x10) + 7 + 3 * r;
        wrmsr(0x6E0, due);
        /* The RDMSR that reads a TSC past the deadline is often the one
         * whose completion fires the timer: IF is clear, the window opens
         * there, and IF is set a few blocks later. */
        while (rdmsr(0x10) < due)
            sum++;
        /* IF set by POPF, which has no interrupt shadow: the block after
         * it is an ordinary one, where only the window check lands it. */
        __asm__ volatile("pushfq; orq $0x200, (%%rsp); popfq" ::: "memory", "cc");
        /* No trapped instruction here: only the window can land it. */
        for (unsigned i = 0; hits == before && i < 1000; i++)
            sum += i * 3;
    }
    cli();
    mmio_write32(APIC + 0x320, 1u << 16);
    CHECK(hits == 2 * ROUNDS, "%u interrupts for %u deadlines", hits, 2 * ROUNDS);
    for (unsigned r = 0; r < 2 * ROUNDS && r < hits; r++)
        rt_printf("%u: rip 0x%x tsc %u\n", r, (unsigned)where[r], (unsigned)when[r]);
    rt_printf("trap_sites: sum 0x%x%08x, %s\n", (unsigned)(sum >> 32), (unsigned)sum,
              rt_failures ? "FAILED" : "ok");
    return 0;
}
