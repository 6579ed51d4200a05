/* SPDX-License-Identifier: MIT */
/*
 * hostile_wfi: every interrupt masked (PSTATE.DAIF), nothing pending, no
 * timer armed, then WFI.  Nothing can ever wake the vCPU: the harness stops
 * with status 3 and a message saying so.
 * Run: virtmodel-run hostile_wfi.elf --models none|gicv5
 */
    .include "guest.inc"
    .section .text.start, "ax"
    .globl _start
_start:
    PUTS "hostile_wfi: WFI with DAIF masked and nothing pending\n"
    msr daifset, #0xf
1:  wfi
    PUTS "hostile_wfi: woke up (should not happen)\n"
    mov w0, #1
    bl rt_exit
    RT_ROUTINES
