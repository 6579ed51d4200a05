/* SPDX-License-Identifier: MIT */
/*
 * arm64 exception delivery through VBAR_EL1: an UNDEFINED instruction and
 * an unknown system register both arrive at the current-EL synchronous
 * vector with ESR_EL1.EC = 0 and ELR_EL1 at the instruction; then the guest
 * unmasks IRQs and waits in WFI for the host to inject one, which arrives
 * at the IRQ vector (VBAR_EL1 + 0x280).
 */
    .include "guest.inc"

    .section .text.start, "ax"
    .globl _start
_start:
    adr x0, vectors
    msr vbar_el1, x0
    isb
    mov x20, #0            /* synchronous exceptions taken */
    mov x21, #0            /* IRQs taken */
    mov x22, #0            /* last ESR */

    adr x23, 1f
1:  udf #0
    cmp x20, #1
    b.ne fail
    lsr x0, x22, #26
    cbnz x0, fail          /* EC must be 0 (unknown reason) */
    cmp x24, x23           /* ELR pointed at the UDF */
    b.ne fail

    adr x23, 2f
2:  mrs x3, s3_1_c15_c15_7 /* no model owns it: UNDEF */
    cmp x20, #2
    b.ne fail
    cmp x24, x23
    b.ne fail

    msr daifclr, #2        /* unmask IRQ */
3:  wfi
    cbz x21, 3b
    msr daifset, #2
    PUTS "arm64 exceptions: all passed\n"
    mov w0, #0
    bl rt_exit

fail:
    PUTS "arm64 exceptions: FAILED\n"
    mov w0, #1
    bl rt_exit

    VECTOR_TABLE vectors, sync_handler, irq_handler, unexpected

sync_handler:
    add x20, x20, #1
    mrs x22, esr_el1
    mrs x24, elr_el1
    add x25, x24, #4
    msr elr_el1, x25
    eret

irq_handler:
    add x21, x21, #1
    eret

unexpected:
    PUTS "unexpected exception\n"
    mov w0, #2
    bl rt_exit

    RT_ROUTINES
