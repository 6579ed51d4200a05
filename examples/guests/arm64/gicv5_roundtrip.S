/* SPDX-License-Identifier: MIT */
/*
 * GICv5 PPI round trip for the benchmark (bench/gicv5/bench_gicv5_guest):
 * the set-up of gicv5_ppi.S, then N times: the host raises SW_PPI (HVC),
 * the IRQ is taken at VBAR_EL1 + 0x280, GICR CDIA, GSB ACK, GIC CDDI,
 * GIC CDEOI, the host lowers the line (HVC), ERET.  N is in x0 at entry
 * (the vCPU index register) when the benchmark sets it, else 10000.
 */
    .include "guest.inc"

    .include "gicv5.inc"

    .text
    .global _start
_start:
    adr x1, vectors
    msr vbar_el1, x1
    isb
    mov x24, x0                     /* iterations from the host (0: default) */
    mov x19, #0                     /* IRQs taken */
    mov x20, #0                     /* last INTID */
    PUTS "gicv5_roundtrip: start\n"

    GICV5_CPU_ENABLE
1:  msr daifclr, #2                 /* unmask IRQ */
    MOVQ x25, 10000
    cbz x24, 2f
    mov x25, x24
2:  mov x26, #0
3:  HOST_LINE PPI_SW, 1
    add x26, x26, #1
    cmp x19, x26
    b.ne 9f
    cmp x26, x25
    b.ne 3b
    PUTS "gicv5_roundtrip: done\n"
    mov w0, #0
    bl rt_exit
9:  FAIL 9

fail:
    PUTS "gicv5_roundtrip: FAIL\n"
    bl rt_exit

    GICV5_HANDLER_AND_VECTORS

    RT_ROUTINES
