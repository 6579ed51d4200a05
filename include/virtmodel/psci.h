/* SPDX-License-Identifier: MIT */
/*
 * PSCI 1.1 (Arm DEN 0022) as Linux KVM implements it for its guests
 * (arch/arm64/kvm/psci.c): the power state of every vCPU of a VM and the
 * answer to each call.  A pure state machine: the machine layer decodes the
 * HVC/SMC, calls vmdl_psci_call and carries out the action it returns
 * (start a vCPU at an entry point with a context id in x0, stop one, power
 * the system off or reset it).
 *
 * KVM's choices, kept here: CPU_ON of a vCPU that is not off returns
 * ALREADY_ON (KVM never answers ON_PENDING: the target is runnable as soon
 * as CPU_ON returns); CPU_SUSPEND is a WFI (every power state keeps the
 * context); MIGRATE_INFO_TYPE is 2 ("Trusted OS not present or does not
 * need migration"); AFFINITY_INFO rejects affinity bits outside MPIDR's
 * Aff fields and lowest levels above 3 with INVALID_PARAMETERS; SYSTEM_OFF
 * and SYSTEM_RESET leave INTERNAL_FAILURE in x0 should the vCPU ever run on.
 */
#ifndef VIRTMODEL_PSCI_H
#define VIRTMODEL_PSCI_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Function ids (SMC32 0x84..., SMC64 0xC4...). */
#define VMDL_PSCI_FN_VERSION 0x84000000u
#define VMDL_PSCI_FN_CPU_SUSPEND 0x84000001u
#define VMDL_PSCI_FN64_CPU_SUSPEND 0xC4000001u
#define VMDL_PSCI_FN_CPU_OFF 0x84000002u
#define VMDL_PSCI_FN_CPU_ON 0x84000003u
#define VMDL_PSCI_FN64_CPU_ON 0xC4000003u
#define VMDL_PSCI_FN_AFFINITY_INFO 0x84000004u
#define VMDL_PSCI_FN64_AFFINITY_INFO 0xC4000004u
#define VMDL_PSCI_FN_MIGRATE 0x84000005u
#define VMDL_PSCI_FN64_MIGRATE 0xC4000005u
#define VMDL_PSCI_FN_MIGRATE_INFO_TYPE 0x84000006u
#define VMDL_PSCI_FN_SYSTEM_OFF 0x84000008u
#define VMDL_PSCI_FN_SYSTEM_RESET 0x84000009u
#define VMDL_PSCI_FN_FEATURES 0x8400000Au
#define VMDL_PSCI_FN_SYSTEM_RESET2 0x84000012u
#define VMDL_PSCI_FN64_SYSTEM_RESET2 0xC4000012u
#define VMDL_SMCCC_VERSION 0x80000000u

/* Return values (signed, in x0). */
#define VMDL_PSCI_SUCCESS 0
#define VMDL_PSCI_NOT_SUPPORTED (-1)
#define VMDL_PSCI_INVALID_PARAMETERS (-2)
#define VMDL_PSCI_DENIED (-3)
#define VMDL_PSCI_ALREADY_ON (-4)
#define VMDL_PSCI_ON_PENDING (-5)
#define VMDL_PSCI_INTERNAL_FAILURE (-6)
#define VMDL_PSCI_NOT_PRESENT (-7)
#define VMDL_PSCI_DISABLED (-8)
#define VMDL_PSCI_INVALID_ADDRESS (-9)

#define VMDL_PSCI_AFFINITY_ON 0
#define VMDL_PSCI_AFFINITY_OFF 1
#define VMDL_PSCI_TOS_MP 2          /* MIGRATE_INFO_TYPE: no migration needed */
#define VMDL_PSCI_VERSION_1_1 0x10001u
#define VMDL_PSCI_VERSION_1_0 0x10000u
#define VMDL_PSCI_VERSION_0_2 0x00002u
#define VMDL_PSCI_MAX_CPUS 512

/* What the machine must do after a call. */
enum vmdl_psci_action {
    VMDL_PSCI_ACT_NONE = 0,     /* write x0 and go on */
    VMDL_PSCI_ACT_CPU_ON,       /* reset vCPU `target` to EL1, PC = entry, x0 = context */
    VMDL_PSCI_ACT_CPU_OFF,      /* the caller stops (it does not return) */
    VMDL_PSCI_ACT_SUSPEND,      /* the caller waits for an interrupt (WFI) */
    VMDL_PSCI_ACT_SYSTEM_OFF,   /* end the VM */
    VMDL_PSCI_ACT_SYSTEM_RESET, /* reset the VM (reset_type: SYSTEM_RESET2's) */
};

struct vmdl_psci_result {
    int64_t x0;                 /* value the caller sees in x0 */
    enum vmdl_psci_action action;
    unsigned target;            /* CPU_ON: vCPU index */
    uint64_t entry, context;    /* CPU_ON */
    uint32_t reset_type;        /* SYSTEM_RESET2 */
};

struct vmdl_psci;

/* version: VMDL_PSCI_VERSION_1_1 (KVM's default), _1_0 or _0_2. */
int vmdl_psci_create(unsigned nr_cpus, uint32_t version, struct vmdl_psci **out);
void vmdl_psci_destroy(struct vmdl_psci *p);
/* VM reset: vCPU 0 on, the others off (as a VMM that starts secondaries
 * with KVM_ARM_VCPU_POWER_OFF). */
void vmdl_psci_reset(struct vmdl_psci *p);
/* Is this function id one PSCI owns (SMCCC standard service 0x84/0xC4
 * 0x00-0x1F)?  The machine sends the rest elsewhere. */
bool vmdl_psci_owns(uint32_t fn);
/* A call by vCPU `caller` with x0..x3 = fn, a1, a2, a3 (32-bit function
 * ids see only the low 32 bits of the arguments, as KVM narrows them). */
int vmdl_psci_call(struct vmdl_psci *p, unsigned caller, uint64_t fn, uint64_t a1,
                   uint64_t a2, uint64_t a3, struct vmdl_psci_result *r);
bool vmdl_psci_cpu_is_on(const struct vmdl_psci *p, unsigned cpu);
/* Set a vCPU's power state from outside (the machine keeps its own run
 * state, e.g. restored from a checkpoint, and syncs it before each call). */
void vmdl_psci_set_on(struct vmdl_psci *p, unsigned cpu, bool on);
/* The MPIDR_EL1 affinity KVM gives vCPU `index` (reset_mpidr): Aff0 =
 * index[3:0], Aff1 = index[11:4], Aff2 = index[19:12]; without the RES1
 * bit 31.  Device-tree cpu reg values are these. */
uint64_t vmdl_psci_mpidr(unsigned index);

#ifdef __cplusplus
}
#endif
#endif
