/* SPDX-License-Identifier: MIT */
/*
 * hostile_sysreg: system registers and instructions nobody implements.
 * With no GICv5 model attached (--models none) the GICv5 encodings are as
 * unknown as any other: ICC_IDR0_EL1, GICR CDIA, ICC_PCR_EL1, GIC CDEOI and
 * made-up encodings (S3_1_C15_C15_7, S3_7_C15_C15_7, SYS #7,C15,C15,#7) all
 * UNDEF at VBAR_EL1 + 0x200 with ESR_EL1.EC = 0 and ELR_EL1 at the
 * instruction.  Exit 0 when all 7 did, else the failed check's number.
 * Run: virtmodel-run hostile_sysreg.elf --models none
 */
    .include "guest.inc"
    .include "hostile.inc"


    .section .text.start, "ax"
    .globl _start
_start:
    adr x0, vectors
    msr vbar_el1, x0
    isb
    mov x20, #0
    mov x1, #-1

    EXPECT_UNDEF 1
    mrs x2, S3_0_C12_C10_2     /* ICC_IDR0_EL1 */
    CHECK_UNDEF 1
    EXPECT_UNDEF 2
    sysl x2, #0, c12, c3, #0   /* GICR CDIA */
    CHECK_UNDEF 2
    EXPECT_UNDEF 3
    msr S3_1_C12_C0_2, x1      /* ICC_PCR_EL1 */
    CHECK_UNDEF 3
    EXPECT_UNDEF 4
    sys #0, c12, c1, #7, x0    /* GIC CDEOI */
    CHECK_UNDEF 4
    EXPECT_UNDEF 5
    mrs x2, S3_1_C15_C15_7     /* nobody's register */
    CHECK_UNDEF 5
    EXPECT_UNDEF 6
    msr S3_7_C15_C15_7, x1     /* nobody's register, write */
    CHECK_UNDEF 6
    EXPECT_UNDEF 7
    sys #7, c15, c15, #7, x1   /* nobody's system instruction */
    CHECK_UNDEF 7

    PUTS "hostile_sysreg: 7 UNDEFs\n"
    mov w0, #0
    bl rt_exit

    HOSTILE_TAIL hostile_sysreg

    RT_ROUTINES
