/* SPDX-License-Identifier: MIT */
/*
 * The generic timer on virtual time through the GICv5 model (issue 15,
 * item 5): one count per retired instruction, CNTFRQ_EL0 1 GHz, the virtual
 * timer on PPI 27 and the EL1 physical timer on PPI 30 (level), as KVM
 * wires them.  The handler acknowledges (CDIA), records CNTVCT/CNTPCT at
 * entry, the INTID and the timer's CTL, turns the timer off (the level
 * drops), deactivates and drops priority.  Cases:
 *   1. CNTV_CVAL 5000 counts ahead, WFI: taken when the count reaches CVAL
 *      (the idle vCPU's time jumps to the event)
 *   2. CNTV_TVAL 3031, busy loop whose body is one 63-instruction block:
 *      taken exactly at CVAL (the handler's CNTVCT read, after the vector's
 *      branch, is CVAL + 1), not at the end of the block the count crossed
 *      it in (32 or more counts late before exact event stops)
 *   3. CNTP_CVAL, WFI: PPI 30
 *   4. IMASK holds the line back while ISTATUS shows the condition;
 *      clearing IMASK: the IRQ comes in at the next instruction
 *   5. prints CNTPCT - CNTVCT, which is CNTVOFF (--gtimer-cntvoff)
 *   6. MSR to CNTFRQ_EL0 (writable only at the highest EL) and to the
 *      read-only CNTVCT_EL0: UNDEF at the MSR, nothing changed
 * Needs the gicv5 and gtimer models.
 */
    .include "guest.inc"

    .include "gicv5.inc"

    .equ PPI_CNTV, 27
    .equ PPI_CNTP, 30
    .equ SLACK, 32                  /* counts between CVAL and the handler */

    /* x1 = x21 - x23 (handler's count minus CVAL), FAIL if not below SLACK */
    .macro CHECK_DELTA count, code
    sub x1, \count, x23
    cmp x1, #SLACK
    b.lo 1f
    FAIL \code
1:  mov x22, x1
    .endm

    .macro PRINT_DELTA
    mov x0, x22
    bl rt_puthex
    PUTS " counts after CVAL\n"
    .endm

    .text
    .global _start
_start:
    adr x1, vectors
    msr vbar_el1, x1
    isb
    mov x19, #0                     /* IRQs taken */
    PUTS "gicv5_timer: start\n"
    GICV5_CPU_ENABLE                /* every exposed PPI, 27 and 30 too */
    mrs x1, cntfrq_el0
    MOVQ x2, 1000000000
    cmp x1, x2
    b.eq 1f
    FAIL 10
1:  msr daifclr, #2

    /* ---- 1. virtual timer, CVAL, WFI ---- */
    mrs x1, cntvct_el0
    MOVQ x2, 5000
    add x23, x1, x2
    msr cntv_cval_el0, x23
    mov x1, #1
    msr cntv_ctl_el0, x1
2:  wfi
    cmp x19, #1
    b.ne 2b
    cmp x20, #PPI_CNTV
    b.eq 1f
    FAIL 11
1:  cmp x24, #5                     /* ENABLE | ISTATUS */
    b.eq 1f
    FAIL 12
1:  CHECK_DELTA x21, 13
    PUTS "gicv5_timer: CNTV (PPI 27) in WFI, "
    PRINT_DELTA

    /* ---- 2. virtual timer, TVAL, busy loop ---- */
    MOVQ x2, 3031
    msr cntv_tval_el0, x2
    mrs x23, cntv_cval_el0
    mov x1, #1
    msr cntv_ctl_el0, x1
    MOVQ x9, 100000
2:  cmp x19, #2
    b.eq 3f
    .rept 61                        /* one long block: CVAL falls inside it */
    add x10, x10, #1
    .endr
    subs x9, x9, #1
    b.ne 2b
    FAIL 14
3:  CHECK_DELTA x21, 15
    cmp x22, #1                     /* exactly at CVAL: only the vector's */
    b.eq 1f                         /* branch ran before the CNTVCT read */
    FAIL 32
1:
    mrs x1, cntv_tval_el0           /* CVAL passed: negative, 32 bits */
    tbnz x1, #31, 1f
    FAIL 16
1:  lsr x2, x1, #32
    cbz x2, 1f
    FAIL 17
1:  PUTS "gicv5_timer: CNTV from TVAL in a busy loop, "
    PRINT_DELTA

    /* ---- 3. EL1 physical timer, PPI 30 ---- */
    mrs x1, cntpct_el0
    MOVQ x2, 2000
    add x23, x1, x2
    msr cntp_cval_el0, x23
    mov x1, #1
    msr cntp_ctl_el0, x1
2:  wfi
    cmp x19, #3
    b.ne 2b
    cmp x20, #PPI_CNTP
    b.eq 1f
    FAIL 18
1:  cmp x24, #5
    b.eq 1f
    FAIL 19
1:  CHECK_DELTA x26, 20
    PUTS "gicv5_timer: CNTP (PPI 30) in WFI, "
    PRINT_DELTA

    /* ---- 4. IMASK ---- */
    MOVQ x2, 100
    msr cntv_tval_el0, x2
    mov x1, #3                      /* ENABLE | IMASK */
    msr cntv_ctl_el0, x1
    MOVQ x9, 2000
2:  subs x9, x9, #1
    b.ne 2b
    cmp x19, #3
    b.eq 1f
    FAIL 21
1:  mrs x1, cntv_ctl_el0
    cmp x1, #7                      /* ISTATUS shows through IMASK */
    b.eq 1f
    FAIL 22
1:  mov x27, #0
    mov x1, #1
    msr cntv_ctl_el0, x1            /* unmask: the line rises now */
imask_next:
    mov x27, #1
    cmp x19, #4
    b.eq 1f
    FAIL 23
1:  adr x1, imask_next
    cmp x25, x1
    b.eq 1f
    FAIL 24
1:  cbz x28, 1f
    FAIL 25
1:  PUTS "gicv5_timer: IMASK held the line; cleared, taken at the next instruction\n"

    /* ---- 6. read-only registers: an MSR is UNDEFINED at EL1 ---- */
    mov x13, #0                     /* synchronous exceptions taken */
    mrs x14, cntfrq_el0
    mov x1, #1234
cntfrq_write:
    msr cntfrq_el0, x1
    cmp x13, #1
    b.eq 1f
    FAIL 26
1:  adr x1, cntfrq_write
    cmp x15, x1                     /* ELR_EL1: the MSR itself */
    b.eq 1f
    FAIL 27
1:  lsr x1, x16, #26                /* ESR_EL1.EC 0: unknown reason */
    cbz x1, 1f
    FAIL 28
1:  mrs x1, cntfrq_el0
    cmp x1, x14
    b.eq 1f
    FAIL 29
1:  mrs x2, cntvct_el0
cntvct_write:
    msr cntvct_el0, x2              /* not writable by any MSR */
    cmp x13, #2
    b.eq 1f
    FAIL 30
1:  adr x1, cntvct_write
    cmp x15, x1
    b.eq 1f
    FAIL 31
1:  PUTS "gicv5_timer: MSR CNTFRQ_EL0 / CNTVCT_EL0 at EL1: UNDEF at the MSR, unchanged\n"

    /* ---- 5. CNTVOFF ---- */
    mrs x1, cntvct_el0
    mrs x2, cntpct_el0
    sub x2, x2, x1
    sub x21, x2, #1                 /* one instruction between the reads */
    PUTS "gicv5_timer: CNTPCT - CNTVCT = "
    mov x0, x21
    bl rt_puthex
    PUTS "\ngicv5_timer: PASS\n"
    mov w0, #0
    bl rt_exit

    FAIL_ROUTINE gicv5_timer

/* x21/x26 = CNTVCT/CNTPCT at entry, x25 = ELR_EL1, x28 = x27 (did the
 * instruction at ELR run?), x20 = INTID, x24 = the timer's CTL; the timer
 * is turned off before the deactivation so that its level is low. */
irq_handler:
    mrs x21, cntvct_el0
    mrs x26, cntpct_el0
    mrs x25, elr_el1
    mov x28, x27
    sysl x1, #0, c12, c3, #0        /* GICR CDIA */
    tbz x1, #32, 8f
    sys #0, c12, c0, #1, xzr        /* GSB ACK */
    and x20, x1, #0xFFFFFF
    cmp x20, #PPI_CNTV
    b.ne 1f
    mrs x24, cntv_ctl_el0
    msr cntv_ctl_el0, xzr
    b 2f
1:  cmp x20, #PPI_CNTP
    b.ne 2f
    mrs x24, cntp_ctl_el0
    msr cntp_ctl_el0, xzr
2:  and x2, x1, #0xFFFFFFFF
    sys #0, c12, c2, #0, x2         /* GIC CDDI */
    sys #0, c12, c1, #7, xzr        /* GIC CDEOI */
    add x19, x19, #1
8:  eret

/* x13 counts synchronous exceptions, x15/x16 = ELR_EL1/ESR_EL1; skips the
 * instruction. */
sync_handler:
    add x13, x13, #1
    mrs x15, elr_el1
    mrs x16, esr_el1
    add x1, x15, #4
    msr elr_el1, x1
    eret

bad_vector:
    mov w0, #2
    b fail

    VECTOR_TABLE vectors, sync_handler, irq_handler, bad_vector

    RT_ROUTINES
