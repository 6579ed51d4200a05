/* SPDX-License-Identifier: MIT */
/*
 * Plain-assembly guest (no runtime C): prints a line, then ends through
 * isa-debug-exit with value 0x15, so the run's exit status is
 * (0x15 << 1) | 1 = 43, as under QEMU's -device isa-debug-exit.
 */
    .section .text.start, "ax"
    .globl main
main:
    leaq msg(%rip), %rsi
    movw $0x3F8, %dx
1:  lodsb
    testb %al, %al
    jz 2f
    outb %al, %dx
    jmp 1b
2:  movb $0x15, %al
    outb %al, $0xF4
3:  hlt
    jmp 3b
msg:
    .asciz "exit-status guest: leaving through isa-debug-exit with 0x15\n"

    .section .note.GNU-stack, "", @progbits
