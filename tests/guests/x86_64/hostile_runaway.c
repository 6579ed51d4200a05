/* SPDX-License-Identifier: MIT */
/*
 * hostile_runaway: a loop that never ends and never traps (no I/O, no MSR,
 * no HLT): only --max-insns (status 125) or --timeout (status 124) stops it,
 * each with its message.  Run: virtmodel-run hostile_runaway.elf
 * --models none --max-insns 1000000   (or --timeout 1)
 */
#include "guest.h"

int main(void)
{
    rt_puts("hostile_runaway: spinning\n");
    __asm__ volatile("cli\n1:\tincq %%rax\n\tjmp 1b" : : : "rax");
    return 1;
}
