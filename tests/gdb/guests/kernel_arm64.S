/* SPDX-License-Identifier: MIT */
/*
 * A real-guest fixture for the GDB tests: a raw arm64 kernel image booted
 * the way QEMU's -kernel does (x0 = the device tree), which counts down x1
 * and powers off through PSCI SYSTEM_OFF.
 */
    .text
    .globl _start, work, done
_start:
    mov x19, x0                 /* the device tree */
    mov x1, #3
work:
    sub x1, x1, #1
    cbnz x1, work
done:
    ldr x0, =0x84000008         /* PSCI SYSTEM_OFF */
    hvc #0
1:  b 1b
