/* SPDX-License-Identifier: MIT */
/*
 * hostile_hlt: CLI; HLT with nothing that could ever wake the vCPU (no
 * interrupt controller, or an APIC with nothing armed).  On KVM the vCPU
 * would sleep forever; the harness detects that every vCPU is halted with
 * no wake-up source and stops with status 3 and a message saying so.
 * Run: virtmodel-run hostile_hlt.elf [--models none|lapic]
 */
#include "guest.h"

int main(void)
{
    rt_puts("hostile_hlt: halting with interrupts masked\n");
    __asm__ volatile("cli\n\thlt" ::: "memory");
    rt_puts("hostile_hlt: woke up (should not happen)\n");
    return 1;
}
