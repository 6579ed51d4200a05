/* SPDX-License-Identifier: MIT */
/*
 * GICv5 migration guest: with IRQs masked, make SW_PPI (edge) and PMUIRQ
 * (level) pending, acknowledge one, then ask the host to move this vCPU to
 * the other modelled physical CPU (HVC 0xC6000002: put + load) and check
 * that nothing was lost: enables, priorities, mask, active state, active
 * priorities and both pending PPIs; then take the pending one as an IRQ on
 * the new CPU, migrate back with an edge pending, and take that too.
 * Needs the gicv5 model (include/virtmodel/attach_gicv5.h).
 */
    .include "guest.inc"

    .equ HVC_LINE, 0xC6000001
    .equ HVC_MIGRATE, 0xC6000002
    .equ HVC_WHERE, 0xC6000003

    .macro FAIL code
    mov w0, #\code
    b fail
    .endm
    .macro HVC3 fn, a1, a2
    MOVQ x0, \fn
    mov x1, #\a1
    mov x2, #\a2
    hvc #0
    .endm
    .macro EXPECT_X0 val, code
    cmp x0, #\val
    b.eq 1f
    FAIL \code
1:
    .endm

    .text
    .global _start
_start:
    adr x1, vectors
    msr vbar_el1, x1
    isb
    mov x19, #0
    mov x20, #0
    PUTS "gicv5_migrate: start\n"
    HVC3 HVC_WHERE, 0, 0
    EXPECT_X0 0, 2
    MOVQ x1, 0x1010101010101010
    msr S3_0_C12_C14_0, x1
    msr S3_0_C12_C14_2, x1
    mov x1, #0x1F
    msr S3_1_C12_C0_2, x1           /* PCR */
    mov x1, #1
    msr S3_1_C12_C0_1, x1           /* CR0.EN */
    MOVQ x1, ((1 << 3) | (1 << 23))
    msr S3_0_C12_C10_6, x1          /* enable SW_PPI, PMUIRQ */
    /* SW_PPI priority 8 (beats PMU's 0x10) */
    mrs x1, S3_0_C12_C14_0
    bic x1, x1, #(0xFF << 24)
    orr x1, x1, #(0x08 << 24)
    msr S3_0_C12_C14_0, x1
    HVC3 HVC_LINE, 3, 1             /* edge SW_PPI */
    HVC3 HVC_LINE, 23, 1            /* level PMUIRQ, stays high */
    /* acknowledge SW_PPI by hand (IRQs masked): active at priority 8 */
    sysl x1, #0, c12, c3, #0
    and x1, x1, #0xFFFFFF
    cmp x1, #3
    b.eq 1f
    FAIL 3
1:  HVC3 HVC_MIGRATE, 1, 0
    EXPECT_X0 0, 4
    HVC3 HVC_WHERE, 0, 0
    EXPECT_X0 1, 5
    PUTS "gicv5_migrate: now on physical CPU 1\n"
    mrs x1, S3_0_C12_C10_6          /* enables survived */
    MOVQ x2, ((1 << 3) | (1 << 23))
    cmp x1, x2
    b.eq 1f
    FAIL 6
1:  mrs x1, S3_0_C12_C14_0          /* priorities survived */
    lsr x1, x1, #24
    and x1, x1, #0xFF
    cmp x1, #8
    b.eq 1f
    FAIL 7
1:  mrs x1, S3_1_C12_C0_2           /* PCR survived */
    cmp x1, #0x1F
    b.eq 1f
    FAIL 8
1:  mrs x1, S3_1_C12_C0_0           /* APR: priority 8 still active */
    cmp x1, #(1 << 8)
    b.eq 1f
    FAIL 9
1:  mrs x1, S3_0_C12_C13_2          /* SW_PPI still active */
    tbnz x1, #3, 1f
    FAIL 10
1:  mrs x1, S3_0_C12_C13_6          /* PMUIRQ still pending */
    tbnz x1, #23, 1f
    FAIL 11
1:  /* finish SW_PPI on the new CPU */
    MOVQ x2, ((1 << 29) | 3)
    sys #0, c12, c2, #0, x2         /* CDDI */
    sys #0, c12, c1, #7, xzr        /* CDEOI */
    mrs x1, S3_1_C12_C0_0
    cbz x1, 1f
    FAIL 12
1:  msr daifclr, #2                 /* the pending PMUIRQ is taken here */
    MOVQ x9, 200000
2:  cmp x19, #1
    b.eq 3f
    subs x9, x9, #1
    b.ne 2b
    FAIL 13
3:  cmp x20, #23
    b.eq 1f
    FAIL 14
1:  PUTS "gicv5_migrate: pending PMUIRQ taken after the migration\n"
    /* edge pending while masked, then back to pCPU 0 */
    msr daifset, #2
    HVC3 HVC_LINE, 3, 1
    HVC3 HVC_MIGRATE, 0, 0
    EXPECT_X0 0, 15
    HVC3 HVC_WHERE, 0, 0
    EXPECT_X0 0, 16
    msr daifclr, #2
    MOVQ x9, 200000
2:  cmp x19, #2
    b.eq 3f
    subs x9, x9, #1
    b.ne 2b
    FAIL 17
3:  cmp x20, #3
    b.eq 1f
    FAIL 18
1:  PUTS "gicv5_migrate: edge SW_PPI survived the way back\n"
    PUTS "gicv5_migrate: PASS\n"
    mov w0, #0
    bl rt_exit

fail:
    mov w21, w0
    PUTS "gicv5_migrate: FAIL "
    mov x0, x21
    bl rt_puthex
    PUTS "\n"
    mov w0, w21
    bl rt_exit

irq_handler:
    stp x0, x1, [sp, #-48]!
    stp x2, x3, [sp, #16]
    str x30, [sp, #32]
    sysl x1, #0, c12, c3, #0        /* GICR CDIA */
    tbz x1, #32, 8f
    sys #0, c12, c0, #1, xzr        /* GSB ACK */
    and x2, x1, #0xFFFFFFFF
    sys #0, c12, c2, #0, x2         /* GIC CDDI */
    sys #0, c12, c1, #7, xzr        /* GIC CDEOI */
    add x19, x19, #1
    and x20, x2, #0xFFFFFF
    MOVQ x0, HVC_LINE
    mov x1, x20
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
    b irq_handler
    .balign 128
    .rept 10
    b bad_vector
    .balign 128
    .endr

    RT_ROUTINES
