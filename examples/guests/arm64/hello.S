/* SPDX-License-Identifier: MIT */
/* Hello world for arm64: prints through the PL011 and powers off (status 0). */
    .include "guest.inc"

    .section .text.start, "ax"
    .globl _start
_start:
    PUTS "Hello from an arm64 guest on virtmodel!\n"
    mov w0, #0
    bl rt_exit

    RT_ROUTINES
