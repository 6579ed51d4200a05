/* SPDX-License-Identifier: MIT */
/*
 * The arm64 loop guest of bench/vs_qemu: the same ELF runs under virtmodel
 * and under qemu-system-aarch64 -M virt -cpu max -kernel (both enter _start
 * at EL1 with the MMU off).  The bench patches the operation and the
 * iteration count in the parameter block (found by its magic).
 */
    .section .text.start, "ax"
    .globl _start
_start:
    adr x2, params
    ldr x3, [x2, #8]                /* operation */
    ldr x1, [x2, #16]               /* iterations */
    cmp x3, #6
    b.hs done
    adr x4, ops
    ldr x4, [x4, x3, lsl #3]
    br x4

    .p2align 3
params:
    .ascii "VMDLBNCH"
    .quad 0
    .quad 1
ops:
    .quad op_compute, op_mrs_gicv5, op_mrs_gicv3, op_hvc, op_mmio, done

/* 10 instructions per iteration: 8 independent ALU operations, SUBS, B.NE. */
op_compute:
    mov x5, #1
    mov x6, #2
1:  add x4, x4, x5
    eor x7, x7, x6
    add x8, x8, #7
    sub x9, x9, #3
    add x10, x4, #1
    orr x11, x11, x5
    and x12, x12, x7
    add x13, x13, x6
    subs x1, x1, #1
    b.ne 1b
    b done

/* ICC_PCR_EL1, GICv5's running-priority mask (virtmodel's GICv5 model). */
op_mrs_gicv5:
1:  mrs x4, S3_1_C12_C0_2
    subs x1, x1, #1
    b.ne 1b
    b done

/* ICC_PMR_EL1, GICv3's priority mask (QEMU's GICv3 CPU interface). */
op_mrs_gicv3:
1:  mrs x4, S3_0_C4_C6_0
    subs x1, x1, #1
    b.ne 1b
    b done

/* PSCI_VERSION through HVC #0. */
op_hvc:
1:  movz w0, #0x8400, lsl #16
    hvc #0
    subs x1, x1, #1
    b.ne 1b
    b done

/* PL011 flag register. */
op_mmio:
    movz x6, #0x0900, lsl #16
1:  ldr w4, [x6, #0x18]
    subs x1, x1, #1
    b.ne 1b

done:
    movz w0, #0x8400, lsl #16
    movk w0, #0x0008                /* PSCI SYSTEM_OFF */
    hvc #0
2:  wfi
    b 2b
