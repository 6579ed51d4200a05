/* SPDX-License-Identifier: MIT */
/*
 * hostile_gicv5: the GICv5 CPU interface abused from EL1 (--models gicv5).
 *   - MSR to read-only registers (ICC_IDR0_EL1, ICC_HPPIR_EL1,
 *     ICC_IAFFIDR_EL1, ICC_PPI_HMR0_EL1): UNDEF, as the model's table
 *     defines read-only access (docs/gicv5.md);
 *   - EL2 registers from EL1 (MRS ICH_VMCR_EL2, MSR ICH_HFGRTR_EL2): UNDEF;
 *   - a system register nobody implements (S3_1_C15_C15_7): UNDEF;
 *   - GICR CDIA and CDNMIA with nothing pending: no fault, result 0 (VALID
 *     clear); GIC CDEOI with nothing active: no fault, ICC_APR_EL1 stays 0;
 *     ICC_HPPIR_EL1 reads 0;
 *   - all-ones writes to ICC_PCR_EL1 and ICC_CR0_EL1: RES0 bits dropped
 *     (reads 0x1F and 0x1).
 * Each UNDEF must arrive at VBAR_EL1 + 0x200 with ESR_EL1.EC = 0 and
 * ELR_EL1 at the instruction; exactly 7 of them.  Exit 0 when all held,
 * else the number of the failed check.
 */
    .include "guest.inc"
    .include "hostile.inc"


    .section .text.start, "ax"
    .globl _start
_start:
    adr x0, vectors
    msr vbar_el1, x0
    isb
    mov x20, #0            /* synchronous exceptions taken */
    mov x1, #-1

    EXPECT_UNDEF 1
    msr S3_0_C12_C10_2, x1 /* ICC_IDR0_EL1 (RO) */
    CHECK_UNDEF 1
    EXPECT_UNDEF 2
    msr S3_0_C12_C10_3, x1 /* ICC_HPPIR_EL1 (RO) */
    CHECK_UNDEF 2
    EXPECT_UNDEF 3
    msr S3_0_C12_C10_5, x1 /* ICC_IAFFIDR_EL1 (RO) */
    CHECK_UNDEF 3
    EXPECT_UNDEF 4
    msr S3_0_C12_C10_0, x1 /* ICC_PPI_HMR0_EL1 (RO) */
    CHECK_UNDEF 4
    EXPECT_UNDEF 5
    mrs x2, S3_4_C12_C11_7 /* ICH_VMCR_EL2 from EL1 */
    CHECK_UNDEF 5
    EXPECT_UNDEF 6
    msr S3_4_C12_C9_4, x1  /* ICH_HFGRTR_EL2 from EL1 */
    CHECK_UNDEF 6
    EXPECT_UNDEF 7
    mrs x2, S3_1_C15_C15_7 /* nobody's register */
    CHECK_UNDEF 7

    /* Things that must not fault. */
    mov w19, #8
    mrs x2, S3_0_C12_C10_2 /* ICC_IDR0_EL1 read */
    mov x2, #-1
    sysl x2, #0, c12, c3, #0   /* GICR CDIA: nothing pending */
    cbnz x2, fail
    mov w19, #9
    mov x2, #-1
    sysl x2, #0, c12, c3, #1   /* GICR CDNMIA */
    cbnz x2, fail
    mov w19, #10
    mov x0, #0
    sys #0, c12, c1, #7, x0    /* GIC CDEOI, nothing active */
    mrs x2, S3_1_C12_C0_0      /* ICC_APR_EL1 */
    cbnz x2, fail
    mov w19, #11
    mrs x2, S3_0_C12_C10_3     /* ICC_HPPIR_EL1 */
    cbnz x2, fail
    mov w19, #12
    msr S3_1_C12_C0_2, x1      /* ICC_PCR_EL1 = all ones */
    mrs x2, S3_1_C12_C0_2
    cmp x2, #0x1F
    b.ne fail
    mov w19, #13
    msr S3_1_C12_C0_1, x1      /* ICC_CR0_EL1 = all ones */
    mrs x2, S3_1_C12_C0_1
    cmp x2, #1
    b.ne fail
    msr S3_1_C12_C0_1, xzr
    mov w19, #14
    cmp x20, #7                /* no UNDEF from the legal accesses */
    b.ne fail

    PUTS "hostile_gicv5: 7 UNDEFs, CDIA/CDNMIA 0, RES0 dropped\n"
    mov w0, #0
    bl rt_exit

    HOSTILE_TAIL hostile_gicv5

    RT_ROUTINES
