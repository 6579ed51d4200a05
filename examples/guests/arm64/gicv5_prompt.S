/* SPDX-License-Identifier: MIT */
/*
 * Prompt interrupts (issue 15, item 6): a PPI that becomes deliverable is
 * taken at the instruction boundary right after whatever made it so, with
 * no exit to the host in between.  Each case makes the edge SW_PPI pending
 * by a guest write to ICC_PPI_SPENDR0_EL1 while something holds it back,
 * checks that it is not taken, then removes the obstacle and checks where
 * the IRQ came in (ELR_EL1) and that the instruction after that point had
 * not run (x22 is set by it; the handler records x22 in x24):
 *   1. PSTATE.I, cleared by MSR DAIFClr: taken after the MSR, at the ISB
 *      (QEMU ends its translation block after DAIFClr to look at pending
 *      interrupts; the Arm ARM requires it by the ISB at the latest)
 *   2. PSTATE.I, cleared by MSR DAIF, Xt
 *   3. PSTATE.I, cleared by ERET (SPSR_EL1.I = 0): taken at the target
 *   4. ICC_PCR_EL1 (priority mask), opened by a write
 *   5. ICC_PPI_ENABLER0_EL1, enabled by a write
 * Then DAIFSet: a PPI made pending while masked again stays pending.
 * Needs the gicv5 model; one vCPU, so the machine counts no instructions
 * unless it has to.
 */
    .include "guest.inc"

    .include "gicv5.inc"

    .equ SW_BIT, (1 << PPI_SW)
    .equ PSTATE_EL1H_ONLY, 0x5      /* EL1h, D A I F clear */

    /* ICC_PPI_SPENDR0_EL1 <- SW_PPI, then a loop in which it must not be
     * taken; x22 = 0 */
    .macro PEND_HELD code
    mov x22, #0
    mov x1, #SW_BIT
    msr S3_0_C12_C13_6, x1          /* ICC_PPI_SPENDR0_EL1 */
    MOVQ x9, 2000
1:  subs x9, x9, #1
    b.ne 1b
    mrs x1, S3_0_C12_C13_6
    tbnz x1, #PPI_SW, 1f            /* still pending */
    FAIL \code
1:  cmp x19, x23                   /* and not taken */
    b.eq 1f
    FAIL (\code + 5)
1:
    .endm

    /* the IRQ came in at `label`, before the instruction there ran */
    .macro TAKEN_AT label, code
    add x23, x23, #1
    cmp x19, x23
    b.eq 1f
    FAIL \code
1:  adr x1, \label
    cmp x21, x1
    b.eq 1f
    FAIL (\code + 1)
1:  cbz x24, 1f
    FAIL (\code + 2)
1:
    .endm

    .text
    .global _start
_start:
    adr x1, vectors
    msr vbar_el1, x1
    isb
    mov x19, #0                     /* IRQs taken */
    mov x23, #0                     /* IRQs expected so far */
    PUTS "gicv5_prompt: start\n"
    GICV5_CPU_ENABLE                /* PSTATE.I is still set (reset) */

    /* ---- 1. MSR DAIFClr ---- */
    PEND_HELD 10
    msr daifclr, #2
daifclr_next:
    isb
    mov x22, #1
    TAKEN_AT daifclr_next, 11
    PUTS "gicv5_prompt: DAIFClr: taken at the ISB after it\n"

    /* ---- 2. MSR DAIF, Xt ---- */
    msr daifset, #2
    PEND_HELD 20
    msr daif, xzr
daif_next:
    mov x22, #1
    TAKEN_AT daif_next, 21
    PUTS "gicv5_prompt: MSR DAIF: taken at the next instruction\n"

    /* ---- 3. ERET to EL1h with SPSR_EL1.I clear ---- */
    msr daifset, #2
    PEND_HELD 30
    mov x1, #PSTATE_EL1H_ONLY
    msr spsr_el1, x1
    adr x1, eret_target
    msr elr_el1, x1
    eret
eret_target:
    mov x22, #1
    TAKEN_AT eret_target, 31
    PUTS "gicv5_prompt: ERET: taken at its target\n"

    /* ---- 4. ICC_PCR_EL1 opens the priority mask (IRQs unmasked) ---- */
    mrs x1, S3_0_C12_C14_0          /* PPIs 0..7: SW_PPI is byte 3 */
    bic x1, x1, #(0xFF << 24)
    orr x1, x1, #(0x18 << 24)       /* 0x18: below the mask 0x10 */
    msr S3_0_C12_C14_0, x1
    PEND_HELD 40
    mov x1, #0x1F
    msr S3_1_C12_C0_2, x1           /* ICC_PCR_EL1 */
pcr_next:
    mov x22, #1
    TAKEN_AT pcr_next, 41
    mov x1, #0x10
    msr S3_1_C12_C0_2, x1
    mrs x1, S3_0_C12_C14_0
    bic x1, x1, #(0xFF << 24)
    orr x1, x1, #(0x10 << 24)
    msr S3_0_C12_C14_0, x1
    PUTS "gicv5_prompt: ICC_PCR_EL1: taken at the next instruction\n"

    /* ---- 5. ICC_PPI_ENABLER0_EL1 enables the PPI (IRQs unmasked) ---- */
    mov x1, #(1 << PPI_PMU)
    msr S3_0_C12_C10_6, x1          /* SW_PPI disabled */
    PEND_HELD 50
    MOVQ x1, (SW_BIT | (1 << PPI_PMU))
    msr S3_0_C12_C10_6, x1
enabler_next:
    mov x22, #1
    TAKEN_AT enabler_next, 51
    PUTS "gicv5_prompt: ICC_PPI_ENABLER0_EL1: taken at the next instruction\n"

    /* ---- DAIFSet holds it back again ---- */
    msr daifset, #2
    PEND_HELD 60
    mov x1, #SW_BIT
    msr S3_0_C12_C13_4, x1          /* ICC_PPI_CPENDR0_EL1: withdraw it */
    msr daifclr, #2
    isb
    cmp x19, x23
    b.eq 1f
    FAIL 61
1:  PUTS "gicv5_prompt: PASS\n"
    mov w0, #0
    bl rt_exit

    FAIL_ROUTINE gicv5_prompt

/* Record where the IRQ came in (x21 = ELR_EL1) and whether the instruction
 * there had run (x24 = x22), then acknowledge, deactivate, drop priority. */
irq_handler:
    mrs x21, elr_el1
    mov x24, x22
    GICV5_ACK_EOI 8f
    add x19, x19, #1
8:  eret

bad_vector:
    mov w0, #2
    b fail

    VECTOR_TABLE vectors, bad_vector, irq_handler, bad_vector

    RT_ROUTINES
