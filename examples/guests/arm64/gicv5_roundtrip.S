/* SPDX-License-Identifier: MIT */
/*
 * GICv5 PPI round trip for the benchmark (bench/gicv5/bench_gicv5_guest):
 * the set-up of gicv5_ppi.S, then N times: the host raises SW_PPI (HVC),
 * the IRQ is taken at VBAR_EL1 + 0x280, GICR CDIA, GSB ACK, GIC CDDI,
 * GIC CDEOI, the host lowers the line (HVC), ERET.  N is in x0 at entry
 * (the vCPU index register) when the benchmark sets it, else 10000.
 */
    .include "guest.inc"

    .equ HVC_LINE, 0xC6000001
    .equ PPI_SW, 3
    .equ PPI_PMU, 23
    .equ TYPE_PPI, (1 << 29)

    .macro FAIL code
    mov w0, #\code
    b fail
    .endm

    /* wait until x19 (IRQs taken) == n, bounded */
    .macro WAIT_IRQS n, code
    MOVQ x9, 200000
1:  cmp x19, #\n
    b.eq 2f
    subs x9, x9, #1
    b.ne 1b
    FAIL \code
2:
    .endm

    .macro HOST_LINE ppi, level
    MOVQ x0, HVC_LINE
    mov x1, #\ppi
    mov x2, #\level
    hvc #0
    .endm

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

    /* ICC_IDR0_EL1: 5 priority bits, 16 ID bits (as KVM emulates it) */
    mrs x1, S3_0_C12_C10_2
    cmp x1, #0x40
    b.eq 1f
    FAIL 2
1:  /* gicv5_cpu_enable_interrupts() */
    msr S3_0_C12_C10_6, xzr         /* ICC_PPI_ENABLER0_EL1 */
    msr S3_0_C12_C10_7, xzr         /* ICC_PPI_ENABLER1_EL1 */
    MOVQ x1, 0x1010101010101010
    msr S3_0_C12_C14_0, x1          /* ICC_PPI_PRIORITYR0..15_EL1 */
    msr S3_0_C12_C14_1, x1
    msr S3_0_C12_C14_2, x1
    msr S3_0_C12_C14_3, x1
    msr S3_0_C12_C14_4, x1
    msr S3_0_C12_C14_5, x1
    msr S3_0_C12_C14_6, x1
    msr S3_0_C12_C14_7, x1
    msr S3_0_C12_C15_0, x1
    msr S3_0_C12_C15_1, x1
    msr S3_0_C12_C15_2, x1
    msr S3_0_C12_C15_3, x1
    msr S3_0_C12_C15_4, x1
    msr S3_0_C12_C15_5, x1
    msr S3_0_C12_C15_6, x1
    msr S3_0_C12_C15_7, x1
    isb
    mov x1, #0x10
    msr S3_1_C12_C0_2, x1           /* ICC_PCR_EL1 */
    mov x1, #1
    msr S3_1_C12_C0_1, x1           /* ICC_CR0_EL1.EN */
    /* enable SW_PPI and PMUIRQ; the enable write traps and is masked */
    MOVQ x1, 0xFFFFFFFFFFFFFFFF
    msr S3_0_C12_C10_6, x1
    mrs x2, S3_0_C12_C10_6
    tbz x2, #PPI_SW, 9f
    tbz x2, #PPI_PMU, 9f
    tbnz x2, #5, 9f                 /* PPI 5 is not exposed: RAZ */
    b 1f
9:  FAIL 3
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

/* IRQ handler: acknowledge, deactivate, drop priority, host lowers line. */
irq_handler:
    stp x0, x1, [sp, #-48]!
    stp x2, x3, [sp, #16]
    str x30, [sp, #32]
    sysl x1, #0, c12, c3, #0        /* GICR CDIA */
    tbz x1, #32, 8f                 /* not valid: spurious */
    sys #0, c12, c0, #1, xzr        /* GSB ACK */
    and x2, x1, #0xFFFFFFFF
    sys #0, c12, c2, #0, x2         /* GIC CDDI */
    sys #0, c12, c1, #7, xzr        /* GIC CDEOI */
    add x19, x19, #1
    mov x20, x2
    MOVQ x0, HVC_LINE
    and x1, x2, #0xFFFFFF
    mov x2, #0
    hvc #0                          /* host lowers the line */
8:  ldr x30, [sp, #32]
    ldp x2, x3, [sp, #16]
    ldp x0, x1, [sp], #48
    eret

bad_vector:
    mov w0, #20
    b fail

    .balign 2048
vectors:
    .rept 5
    b bad_vector
    .balign 128
    .endr
    b irq_handler                   /* +0x280: IRQ, current EL, SP_ELx */
    .balign 128
    .rept 10
    b bad_vector
    .balign 128
    .endr

    RT_ROUTINES
