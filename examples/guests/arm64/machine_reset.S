/* SPDX-License-Identifier: MIT */
/*
 * PSCI SYSTEM_RESET resets the VM: the image is reloaded (initialized data
 * back to its value) and RAM outside the image keeps its contents, so a
 * marker left at the top of RAM tells the second boot from the first.
 */
    .include "guest.inc"

    .equ MARKER_ADDR, 0x40001000     /* below the image, inside RAM */
    .equ MAGIC, 0x5245534554

    .section .text.start, "ax"
    .globl _start
_start:
    MOVQ x10, MARKER_ADDR
    MOVQ x11, MAGIC
    adr x12, data_word
    ldr x1, [x10]
    cmp x1, x11
    b.eq second_boot
    PUTS "arm64 boot 1: setting marker, dirtying data, resetting\n"
    str x11, [x10]
    mov x1, #2
    str x1, [x12]
    bl rt_reset

second_boot:
    str xzr, [x10]
    ldr x1, [x12]
    cmp x1, #1
    b.ne 1f
    PUTS "arm64 boot 2: data reloaded, marker kept\n"
    mov w0, #0
    bl rt_exit
1:  PUTS "arm64 boot 2: data NOT reloaded\n"
    mov w0, #1
    bl rt_exit

    .data
    .balign 8
data_word:
    .quad 1

    RT_ROUTINES
