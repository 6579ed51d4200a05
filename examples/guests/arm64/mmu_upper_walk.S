/* SPDX-License-Identifier: MIT */
/*
 * KVM selftests' arm64 MMU hardening, before the fix: TCR_EL1.EPD1 and TBI1
 * clear, so an access to the upper VA range walks whatever TTBR1 points at
 * (here a stale page that happens to hold a block descriptor: the load
 * succeeds), and a tagged alias is non-canonical (rt/mmu_upper.inc; the
 * fixed way: mmu_upper_fault.S).
 */
    .include "guest.inc"
    .equ MMU_SELFTEST_FIX, 0
    .include "mmu_upper.inc"
