/* SPDX-License-Identifier: MIT */
/*
 * hostile_far: loads and stores far outside the physical address space
 * with the MMU off (0x0001_0000_0000_0000 and 0xFFFF_0000_0000_0000: beyond
 * any PA size).  Architecturally a synchronous Data Abort (ESR_EL1.EC =
 * 0x25, current EL) with an Address size fault (DFSC 0b0000xx) and FAR_EL1 =
 * the address, taken at VBAR_EL1 + 0x200.  Exit 0 when both arrived so,
 * else the failed check's number.
 * Run: virtmodel-run hostile_far.elf --models none
 */
    .include "guest.inc"
    .include "hostile.inc"

    .macro FAR_ACCESS n, addr, insn
    MOVQ x1, \addr
    mov x20, #0
    \insn
    mov w19, #\n
    cmp x20, #1
    b.ne fail
    lsr x0, x22, #26
    cmp x0, #0x25
    b.ne fail
    cmp x27, x1               /* FAR_EL1 */
    b.ne fail
    and x0, x22, #0x3C        /* DFSC[5:2] = 0: address size fault */
    cbnz x0, fail
    .endm

    .section .text.start, "ax"
    .globl _start
_start:
    adr x0, vectors
    msr vbar_el1, x0
    isb
    FAR_ACCESS 1, 0x0001000000000000, "ldr x2, [x1]"
    FAR_ACCESS 2, 0xFFFF000000000000, "str x2, [x1]"
    PUTS "hostile_far: data aborts with FAR\n"
    mov w0, #0
    bl rt_exit
    HOSTILE_TAIL hostile_far

    RT_ROUTINES
