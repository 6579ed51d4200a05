/* SPDX-License-Identifier: MIT */
/*
 * Entry points of the x86-64 guest runtime.  The harness starts every vCPU in
 * 64-bit mode with a valid stack and RDI = vCPU index (see
 * docs/guest-guide.md), so there is nothing to set up before C.
 */
    .section .text.start, "ax"
    .globl _start
_start:
    cld
    andq $-16, %rsp
    call rt_start              /* rt_start(cpu = %rdi) never returns */
1:  hlt
    jmp 1b

/* SIPI vector 0x08 lands here (0x8000) with RDI = vCPU index and a stack. */
    .section .text.sipi, "ax"
    .globl rt_sipi_entry
rt_sipi_entry:
    cld
    andq $-16, %rsp
    movabsq $rt_ap_start, %rax
    call *%rax
2:  hlt
    jmp 2b

/*
 * Interrupt and exception stubs: one per vector, each pushing a dummy error
 * code where the CPU pushes none, then the vector, then jumping to the
 * common path, which saves the general registers and calls rt_trap().
 */
    .text
    .align 16
    .globl rt_isr_stubs
rt_isr_stubs:
    .set vec, 0
    .rept 256
    .align 16
    .if (vec == 8) || (vec >= 10 && vec <= 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
    .else
    pushq $0
    .endif
    pushq $vec
    jmp rt_isr_common
    .set vec, vec + 1
    .endr

rt_isr_common:
    pushq %rax
    pushq %rcx
    pushq %rdx
    pushq %rbx
    pushq %rbp
    pushq %rsi
    pushq %rdi
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, %rdi
    movq %rsp, %rbx
    andq $-16, %rsp
    call rt_trap
    movq %rbx, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rdi
    popq %rsi
    popq %rbp
    popq %rbx
    popq %rdx
    popq %rcx
    popq %rax
    addq $16, %rsp            /* vector and error code */
    iretq

    .section .note.GNU-stack, "", @progbits
