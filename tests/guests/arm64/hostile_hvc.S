/* SPDX-License-Identifier: MIT */
/*
 * hostile_hvc: hypercalls nobody implements.  HVC #0 with unknown function
 * IDs (0x12345678, an unassigned PSCI ID 0x8400005F, an unassigned SMCCC
 * vendor-hypervisor ID 0xC6FF0000), HVC #1 with PSCI_VERSION (not the
 * PSCI conduit) and SMC #0 with an unknown ID: the harness completes each
 * with x0 = -1 (SMCCC NOT_SUPPORTED / PSCI NOT_SUPPORTED), PC past the
 * instruction, x1-x3 untouched.  PSCI_VERSION over HVC #0 still answers.
 * Exit 0 when all held, else the failed check's number.
 * Run: virtmodel-run hostile_hvc.elf --models none|gicv5
 */
    .include "guest.inc"

    .macro UNKNOWN_CALL n, id, insn
    MOVQ x0, \id
    mov x1, #0x11
    mov x2, #0x22
    mov x3, #0x33
    \insn
    mov w19, #\n
    cmn x0, #1                 /* x0 == -1 */
    b.ne fail
    cmp x1, #0x11
    b.ne fail
    cmp x2, #0x22
    b.ne fail
    cmp x3, #0x33
    b.ne fail
    .endm

    .section .text.start, "ax"
    .globl _start
_start:
    UNKNOWN_CALL 1, 0x12345678, "hvc #0"
    UNKNOWN_CALL 2, 0x8400005F, "hvc #0"
    UNKNOWN_CALL 3, 0xC6FF0000, "hvc #0"
    UNKNOWN_CALL 4, 0x84000000, "hvc #1"
    UNKNOWN_CALL 5, 0x12345678, "smc #0"
    UNKNOWN_CALL 6, 0xFFFFFFFF, "hvc #0xffff"
    mov w19, #7
    MOVQ x0, 0x84000000        /* PSCI_VERSION */
    hvc #0
    MOVQ x1, 0x10001
    cmp x0, x1
    b.ne fail
    PUTS "hostile_hvc: unknown calls return -1\n"
    mov w0, #0
    bl rt_exit
fail:
    PUTS "hostile_hvc: FAILED check "
    mov x0, x19
    bl rt_puthex
    PUTS "\n"
    mov w0, w19
    bl rt_exit
    RT_ROUTINES
