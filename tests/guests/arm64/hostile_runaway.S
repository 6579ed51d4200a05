/* SPDX-License-Identifier: MIT */
/*
 * hostile_runaway (arm64): a loop that never traps.  Only --max-insns
 * (status 125) or --timeout (status 124) stops it.
 * Run: virtmodel-run hostile_runaway.elf --models none --max-insns 1000000
 */
    .include "guest.inc"
    .section .text.start, "ax"
    .globl _start
_start:
    PUTS "hostile_runaway: spinning\n"
1:  add x1, x1, #1
    b 1b
    RT_ROUTINES
