/* SPDX-License-Identifier: MIT */
/*
 * hostile_triple: load an empty IDT (limit 0), then UD2.  #UD cannot be
 * delivered (gate outside the limit: #GP), #DF cannot be delivered either:
 * a triple fault, which ends the run with status 4 and a message naming the
 * vector and the IDT.  Run: virtmodel-run hostile_triple.elf --models none
 */
#include "guest.h"

int main(void)
{
    struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) idtr = {0, 0};
    rt_puts("hostile_triple: empty IDT, then ud2\n");
    __asm__ volatile("lidt %0\n\tud2" : : "m"(idtr) : "memory");
    rt_puts("hostile_triple: survived (should not happen)\n");
    return 1;
}
