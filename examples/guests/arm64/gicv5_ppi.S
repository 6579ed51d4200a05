/* SPDX-License-Identifier: MIT */
/*
 * GICv5 PPI guest following the flow of KVM's selftest arm64/vgic_v5.c:
 * install vectors, enable the CPU interface (every PPI priority 0b10000,
 * ICC_PCR_EL1 0b10000, ICC_CR0_EL1.EN), enable PPIs, ask the host to inject,
 * take the IRQ at VBAR_EL1 + 0x280, acknowledge with GICR CDIA, GSB ACK,
 * deactivate with GIC CDDI, priority drop with GIC CDEOI, then the host
 * lowers the line.  Done for the edge SW_PPI (3, through the userspace
 * KVM_IRQ_LINE path) and the level PMUIRQ (23, an in-kernel device), then
 * priority masking.  Host calls: HVC #0, x0 = 0xC6000001, x1 = PPI,
 * x2 = level (include/virtmodel/attach_gicv5.h).  Needs the gicv5 model.
 */
    .include "guest.inc"

    .include "gicv5.inc"

    .text
    .global _start
_start:
    adr x1, vectors
    msr vbar_el1, x1
    isb
    mov x19, #0                     /* IRQs taken */
    mov x20, #0                     /* last INTID */
    PUTS "gicv5_ppi: start\n"

    GICV5_CPU_ENABLE
1:  msr daifclr, #2                 /* unmask IRQ */

    /* ---- edge: SW_PPI ---- */
    HOST_LINE PPI_SW, 1
    WAIT_IRQS 1, 4
    MOVQ x1, (TYPE_PPI | PPI_SW)
    cmp x20, x1
    b.eq 1f
    FAIL 5
1:  PUTS "gicv5_ppi: edge SW_PPI taken, acknowledged, EOIed\n"
    HOST_LINE PPI_SW, 1             /* second edge */
    WAIT_IRQS 2, 6

    /* ---- level: PMUIRQ ---- */
    HOST_LINE PPI_PMU, 1
    WAIT_IRQS 3, 7
    MOVQ x1, (TYPE_PPI | PPI_PMU)
    cmp x20, x1
    b.eq 1f
    FAIL 8
1:  mrs x1, S3_0_C12_C10_0          /* ICC_PPI_HMR0_EL1: PMU is level */
    tbz x1, #PPI_PMU, 9f
    tbnz x1, #PPI_SW, 9f
    b 1f
9:  FAIL 9
1:  PUTS "gicv5_ppi: level PMUIRQ taken, line lowered by the host\n"

    /* ---- priorities and masking ---- */
    mrs x1, S3_0_C12_C14_2          /* PPIs 16..23 */
    bic x1, x1, #(0xFF << 56)
    orr x1, x1, #(0x18 << 56)       /* PMU priority 0x18 < mask 0x10 */
    msr S3_0_C12_C14_2, x1
    isb
    HOST_LINE PPI_PMU, 1
    MOVQ x9, 20000
1:  subs x9, x9, #1                 /* it must not arrive */
    b.ne 1b
    cmp x19, #3
    b.eq 1f
    FAIL 10
1:  mrs x1, S3_0_C12_C10_3          /* ICC_HPPIR_EL1: nothing qualifies */
    cbz x1, 1f
    FAIL 11
1:  mov x1, #0x1F
    msr S3_1_C12_C0_2, x1           /* open the mask: taken right after */
    isb
    WAIT_IRQS 4, 12
    PUTS "gicv5_ppi: priority mask held the PPI back until PCR opened\n"

    /* nothing pending: GICR CDIA reports no interrupt */
    msr daifset, #2
    sysl x1, #0, c12, c3, #0
    cbz x1, 1f
    FAIL 13
1:  PUTS "gicv5_ppi: PASS\n"
    mov w0, #0
    bl rt_exit

fail:
    mov w21, w0
    PUTS "gicv5_ppi: FAIL "
    mov x0, x21
    bl rt_puthex
    PUTS "\n"
    mov w0, w21
    bl rt_exit

    GICV5_HANDLER_AND_VECTORS

    RT_ROUTINES
