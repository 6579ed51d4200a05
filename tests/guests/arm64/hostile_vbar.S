/* SPDX-License-Identifier: MIT */
/*
 * hostile_vbar: VBAR_EL1 points at 0x10000000 (no RAM, no device), then an
 * UNDEFINED instruction.  The exception is taken to VBAR_EL1 + 0x200, whose
 * fetch has nothing behind it: on hardware an endless chain of instruction
 * aborts; the machine ends the run with its fault-loop exit, status 4,
 * naming the address.  Run: virtmodel-run hostile_vbar.elf --models none
 */
    .include "guest.inc"
    .section .text.start, "ax"
    .globl _start
_start:
    PUTS "hostile_vbar: VBAR_EL1 = 0x10000000, then udf\n"
    MOVQ x0, 0x10000000
    msr vbar_el1, x0
    isb
    udf #0
    PUTS "hostile_vbar: survived (should not happen)\n"
    mov w0, #1
    bl rt_exit
    RT_ROUTINES
