/* SPDX-License-Identifier: MIT */
/*
 * gtimer: the Arm generic timer as an EL1 guest of KVM sees it, one
 * instance per vCPU (Arm ARM D11 "The Generic Timer in AArch64 state").
 * Pure: the caller passes the physical count (the machine's virtual time).
 *
 *   CNTFRQ_EL0       counter frequency (read-only below the highest EL)
 *   CNTPCT_EL0       physical count
 *   CNTVCT_EL0       virtual count = physical count - CNTVOFF_EL2
 *   CNTP_CTL/CVAL/TVAL_EL0   EL1 physical timer (GICv5 PPI 30)
 *   CNTV_CTL/CVAL/TVAL_EL0   virtual timer (GICv5 PPI 27)
 *   CNTKCTL_EL1      which of the above EL0 may use
 *
 * CTL: ENABLE (bit 0), IMASK (bit 1), ISTATUS (bit 2, read-only): the
 * condition "count >= CVAL" (unsigned 64-bit, the virtual count for the
 * virtual timer) while ENABLE is set; the timer's interrupt is asserted
 * while ENABLE and ISTATUS are set and IMASK is clear (a level).  TVAL is a
 * signed 32-bit view of CVAL: a read gives (CVAL - count)[31:0], a write
 * sets CVAL = count + SignExtend(TVAL[31:0]).
 *
 * CNTVOFF_EL2 belongs to the hypervisor: it is set through the API (KVM's
 * counter offset), the guest at EL1 cannot reach it.
 */
#ifndef VIRTMODEL_GTIMER_H
#define VIRTMODEL_GTIMER_H

#include <stdbool.h>
#include <stdint.h>

#include "virtmodel/blob.h"
#include "virtmodel/fault.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VMDL_GTIMER_CTL_ENABLE 0x1u
#define VMDL_GTIMER_CTL_IMASK 0x2u
#define VMDL_GTIMER_CTL_ISTATUS 0x4u

/* CNTKCTL_EL1 bits (ARMv8.0: bits 9:0; the rest RES0). */
#define VMDL_GTIMER_KCTL_EL0PCTEN (1u << 0)
#define VMDL_GTIMER_KCTL_EL0VCTEN (1u << 1)
#define VMDL_GTIMER_KCTL_EL0VTEN (1u << 8)
#define VMDL_GTIMER_KCTL_EL0PTEN (1u << 9)
#define VMDL_GTIMER_KCTL_MASK 0x3FFu

/* The interrupts, as KVM and QEMU's virt machine wire them (GICv5 PPI
 * numbers; the same INTIDs 30 and 27 under GICv3). */
#define VMDL_GTIMER_PPI_PHYS 30
#define VMDL_GTIMER_PPI_VIRT 27

/* 1 GHz: one count per retired instruction, the machine's 1 ns of virtual
 * time (the frequency Armv8.6 requires; KVM shows the host's). */
#define VMDL_GTIMER_DEFAULT_FREQ 1000000000u

enum vmdl_gtimer_id { VMDL_GTIMER_PHYS = 0, VMDL_GTIMER_VIRT = 1 };

/* KVM's emulated read of CNTx_CTL (read_timer_ctl in arch/arm64/kvm/
 * arch_timer.c) reports ISTATUS from the comparison even while ENABLE is 0,
 * which the Arm ARM leaves UNKNOWN.  Default: 0 while disabled, as QEMU and
 * the timer hardware a KVM guest reads directly. */
#define VMDL_GTIMER_F_ISTATUS_WHEN_DISABLED 0x1u

struct vmdl_gtimer {
    uint32_t freq;
    uint32_t flags;
    uint32_t cntkctl;
    uint64_t cntvoff;
    struct { uint32_t ctl; uint64_t cval; } t[2];  /* by enum vmdl_gtimer_id */
};

/* Reset values (KVM's kvm_timer_vcpu_reset and sys_regs reset): CTL 0
 * (disabled, unmasked), CVAL 0, CNTKCTL_EL1 0; freq, flags and CNTVOFF are
 * configuration and survive.  freq 0 means the default. */
void vmdl_gtimer_init(struct vmdl_gtimer *t, uint32_t freq, uint32_t flags);
void vmdl_gtimer_reset(struct vmdl_gtimer *t);

/* An MRS/MSR of the register op0/op1/CRn/CRm/op2 at exception level `el`
 * (0 or 1) when the physical count is `cnt`.  VMDL_FAULT_UNCLAIMED for an
 * encoding that is not one of the above; VMDL_FAULT_UNDEF for a write to a
 * read-only register (CNTFRQ, CNTPCT, CNTVCT) or CNTKCTL_EL1 from EL0;
 * VMDL_FAULT_SYSREG_TRAP (ESR EC 0x18 to EL1) for an EL0 access CNTKCTL_EL1
 * does not allow. */
vmdl_fault vmdl_gtimer_sysreg(struct vmdl_gtimer *t, uint64_t cnt, unsigned el,
                              unsigned op0, unsigned op1, unsigned crn, unsigned crm,
                              unsigned op2, bool is_write, uint64_t *value);

/* The count a timer compares against: physical, or physical - CNTVOFF. */
uint64_t vmdl_gtimer_count(const struct vmdl_gtimer *t, enum vmdl_gtimer_id id,
                           uint64_t cnt);
/* CTL as the guest reads it (ISTATUS computed). */
uint32_t vmdl_gtimer_ctl(const struct vmdl_gtimer *t, enum vmdl_gtimer_id id, uint64_t cnt);
/* The timer's interrupt line: ENABLE, ISTATUS and not IMASK. */
bool vmdl_gtimer_line(const struct vmdl_gtimer *t, enum vmdl_gtimer_id id, uint64_t cnt);
/* The physical count at which the line rises, `cnt` if it is up already,
 * UINT64_MAX if it cannot rise with time (disabled or masked). */
uint64_t vmdl_gtimer_next_event(const struct vmdl_gtimer *t, enum vmdl_gtimer_id id,
                                uint64_t cnt);

/* State as part of a larger blob (checkpoints); get refuses reserved bits
 * through vmdl_blob_reject. */
void vmdl_gtimer_put(const struct vmdl_gtimer *t, struct vmdl_blob_writer *w);
void vmdl_gtimer_get(struct vmdl_gtimer *t, struct vmdl_blob_reader *r);

#ifdef __cplusplus
}
#endif
#endif
