/* SPDX-License-Identifier: MIT */
/*
 * KVM selftests' arm64 MMU hardening, after the fix: TCR_EL1.EPD1 and TBI1
 * set, so any access to the upper VA range, tagged or not, is a level-0
 * translation fault instead of a walk through an uninitialised TTBR1
 * (rt/mmu_upper.inc; the other way round: mmu_upper_walk.S).
 */
    .include "guest.inc"
    .equ MMU_SELFTEST_FIX, 1
    .include "mmu_upper.inc"
