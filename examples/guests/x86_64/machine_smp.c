/* SPDX-License-Identifier: MIT */
/*
 * Three vCPUs (run with --vcpus 3) each print a few lines between bursts of
 * work.  The interleaving is decided by the scheduler's quantum, so two runs
 * print exactly the same text: scheduling is deterministic.
 */
#include "guest.h"

static volatile unsigned done;

static void work(unsigned cpu)
{
    for (unsigned i = 0; i < 4; i++) {
        volatile uint64_t x = 0;
        for (unsigned k = 0; k < 30000 * (cpu + 1); k++)
            x += k;
        rt_printf("cpu%u step %u\n", cpu, i);
    }
    __atomic_fetch_add(&done, 1, __ATOMIC_SEQ_CST);
}

void ap_main(unsigned cpu)
{
    work(cpu);
    for (;;)
        cli(), hlt();
}

int main(void)
{
    work(0);
    while (__atomic_load_n(&done, __ATOMIC_SEQ_CST) < 3) {
        /* Without an interrupt controller the other vCPUs cannot be
         * counted, so wait for those that exist; a single-vCPU run ends
         * once its own work is done. */
        if (done == 1) {
            volatile unsigned spins = 0;
            while (done == 1 && spins < 2000000)
                spins++;
            if (done == 1)
                break;
        }
        pause();
    }
    rt_printf("smp: %u vCPU(s) finished\n", done);
    return 0;
}
