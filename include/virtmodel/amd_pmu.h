/* SPDX-License-Identifier: MIT */
/*
 * AMD core performance-monitoring unit of one vCPU, as KVM's vPMU
 * (arch/x86/kvm/pmu.c + svm/pmu.c) presents it to a guest:
 *
 *   - legacy K7 event selects / counters       0xC0010000-3 / 0xC0010004-7
 *   - core-extension (PerfCtrExtCore) pairs    0xC0010200 + 2n (CTL), +2n+1 (CTR),
 *     aliasing the same counters as the K7 MSRs
 *   - PerfMonV2 global status / control /      0xC0000300 - 0xC0000303
 *     status-clear / status-set
 *   - Intel P6 PERFCTR0/1, EVNTSEL0/1          0xC1-0xC2, 0x186-0x187:
 *     read 0, writes dropped, whatever the configuration (as KVM)
 *
 * A pure state machine: the caller tells it how many instructions and taken
 * branches retired (vmdl_amd_pmu_retire) and it counts, overflows at 48
 * bits and raises the PMI through a struct vmdl_pmi_sink.  Where today's KVM
 * differs from its own past (or from the architecture) the old behaviour is
 * selectable with a quirk bit; docs/amd-pmu.md gives the source of each rule.
 */
#ifndef VIRTMODEL_AMD_PMU_H
#define VIRTMODEL_AMD_PMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtmodel/fault.h"
#include "virtmodel/irq.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- architectural constants (AMD APM vol. 2 13.2, vol. 3 CPUID) ---- */

#define VMDL_MSR_K7_EVNTSEL0 0xC0010000u
#define VMDL_MSR_K7_PERFCTR0 0xC0010004u
#define VMDL_MSR_F15H_PERF_CTL0 0xC0010200u /* CTLn = CTL0 + 2n */
#define VMDL_MSR_F15H_PERF_CTR0 0xC0010201u /* CTRn = CTR0 + 2n */
#define VMDL_MSR_AMD64_PERF_CNTR_GLOBAL_STATUS 0xC0000300u
#define VMDL_MSR_AMD64_PERF_CNTR_GLOBAL_CTL 0xC0000301u
#define VMDL_MSR_AMD64_PERF_CNTR_GLOBAL_STATUS_CLR 0xC0000302u
#define VMDL_MSR_AMD64_PERF_CNTR_GLOBAL_STATUS_SET 0xC0000303u
/* Intel P6 counters: an AMD vCPU under KVM reads them as 0 and drops writes
 * (kvm_get_msr_common / kvm_set_msr_common), so the model claims them too. */
#define VMDL_MSR_P6_PERFCTR0 0xC1u  /* and 0xC2 */
#define VMDL_MSR_P6_EVNTSEL0 0x186u /* and 0x187 */

/* Counters: 4 legacy, 6 with PerfCtrExtCore, CPUID 0x80000022 EBX[3:0]
 * (a 4-bit field, so at most 15) with PerfMonV2. */
#define VMDL_AMD_PMU_LEGACY_COUNTERS 4
#define VMDL_AMD_PMU_CORE_COUNTERS 6
#define VMDL_AMD_PMU_MAX_COUNTERS 15
#define VMDL_AMD_PMU_COUNTER_BITS 48
#define VMDL_AMD_PMU_COUNTER_MASK ((UINT64_C(1) << 48) - 1)

/* PERF_CTL (event select) fields. */
#define VMDL_AMD_EVTSEL_EVENT_LO 0x00000000000000FFull /* EventSelect[7:0] */
#define VMDL_AMD_EVTSEL_UMASK 0x000000000000FF00ull
#define VMDL_AMD_EVTSEL_USR (1ull << 16)  /* count at CPL > 0 */
#define VMDL_AMD_EVTSEL_OS (1ull << 17)   /* count at CPL 0 */
#define VMDL_AMD_EVTSEL_EDGE (1ull << 18)
#define VMDL_AMD_EVTSEL_INT (1ull << 20)  /* PMI on overflow */
#define VMDL_AMD_EVTSEL_EN (1ull << 22)
#define VMDL_AMD_EVTSEL_INV (1ull << 23)
#define VMDL_AMD_EVTSEL_CMASK 0x00000000FF000000ull
#define VMDL_AMD_EVTSEL_EVENT_HI 0x0000000F00000000ull /* EventSelect[11:8] */
#define VMDL_AMD_EVTSEL_GUESTONLY (1ull << 40)
#define VMDL_AMD_EVTSEL_HOSTONLY (1ull << 41)
/*
 * What KVM treats as reserved in a guest's event select
 * (amd_pmu_refresh: pmu->reserved_bits): bits 63:36 -- which include
 * Host/Guest-only -- and bits 21 and 19.
 */
#define VMDL_AMD_EVTSEL_RESERVED 0xFFFFFFF000280000ull

/* CPUID bits. */
#define VMDL_CPUID_80000001_ECX_PERFCTR_CORE (1u << 23)
#define VMDL_CPUID_80000022_EAX_PERFMON_V2 (1u << 0)
#define VMDL_CPUID_80000022_EBX_NUM_CORE_PMC 0xFu

/* ---- configuration ---- */

/*
 * Quirks: bit n selects an older (or alternative) behaviour instead of what
 * KVM + QEMU do today.  See docs/amd-pmu.md for the history of each.
 */
enum vmdl_amd_pmu_quirk {
    /* Writing a reserved event-select bit raises #GP (KVM before the 2022
     * "Clear reserved bits written to PerfEvtSeln MSRs") instead of the bit
     * being silently cleared. */
    VMDL_AMD_PMU_QUIRK_EVTSEL_RSVD_GP = 1u << 0,
    /* VM reset leaves the PMU alone (QEMU before the AMD PMU reset fix):
     * counters keep counting across the reboot. */
    VMDL_AMD_PMU_QUIRK_NO_VM_RESET = 1u << 1,
    /* The VMM's "PMU disabled" never reaches the PMU (QEMU before it used
     * KVM_PMU_CAP_DISABLE): counters work and CPUID advertises them. */
    VMDL_AMD_PMU_QUIRK_DISABLE_IGNORED = 1u << 2,
    /* GLOBAL_STATUS_SET raises #GP (KVM before it emulated the MSR, 2025). */
    VMDL_AMD_PMU_QUIRK_NO_STATUS_SET = 1u << 3,
    /* GLOBAL_CTL is 0 at vCPU creation (KVM 6.0-6.9) instead of having one
     * enable bit per counter. */
    VMDL_AMD_PMU_QUIRK_GLOBAL_CTL_ZERO = 1u << 4,
    /* Not a KVM behaviour: honour up to 15 PerfMonV2 counters as CPUID
     * EBX[3:0] can encode, instead of KVM's cap of 6
     * (KVM_MAX_NR_AMD_GP_COUNTERS). */
    VMDL_AMD_PMU_QUIRK_ARCH_COUNTERS = 1u << 5,
};
#define VMDL_AMD_PMU_QUIRKS_ALL 0x3Fu

struct vmdl_amd_pmu_config {
    /* CPU family as CPUID reports it (0: 0x19, Zen 3/4).  At least 6;
     * PerfCtrExtCore needs >= 0x15, PerfMonV2 >= 0x19. */
    unsigned family;
    bool perfctr_core;   /* CPUID 0x80000001 ECX[23] */
    bool perfmon_v2;     /* CPUID 0x80000022 EAX[0]; needs perfctr_core */
    /* PerfMonV2 only: CPUID 0x80000022 EBX[3:0], 1..15 (0: 6).  Without
     * PerfMonV2 it must be 0 or the implied count (4 or 6). */
    unsigned nr_counters;
    /* The VMM disabled PMU virtualization (KVM_PMU_CAP_DISABLE). */
    bool disabled;
    uint32_t quirks;     /* enum vmdl_amd_pmu_quirk bits */
};

/* Check a configuration; 0 or VMDL_EINVAL with a message. */
int vmdl_amd_pmu_config_check(const struct vmdl_amd_pmu_config *cfg);

/* Build a configuration from what the guest's CPUID says. */
int vmdl_amd_pmu_config_from_cpuid(unsigned family, uint32_t ecx_80000001,
                                   uint32_t eax_80000022,
                                   uint32_t ebx_80000022,
                                   struct vmdl_amd_pmu_config *cfg);

/*
 * The CPUID bits this configuration owns.  `mask` says which bits of each
 * register (eax, ebx, ecx, edx) belong to the PMU: merge them into an
 * existing leaf as (old & ~mask) | (value & mask).
 */
struct vmdl_amd_pmu_cpuid_leaf {
    uint32_t leaf, subleaf;
    uint32_t value[4]; /* eax, ebx, ecx, edx */
    uint32_t mask[4];
};
#define VMDL_AMD_PMU_CPUID_LEAVES 2
int vmdl_amd_pmu_cpuid(const struct vmdl_amd_pmu_config *cfg,
                       struct vmdl_amd_pmu_cpuid_leaf out[VMDL_AMD_PMU_CPUID_LEAVES]);

/* ---- the model ---- */

struct vmdl_amd_pmu;

/* Create the PMU of one vCPU in its vCPU-creation state.  sink may be NULL
 * (PMIs are then only counted). */
int vmdl_amd_pmu_create(const struct vmdl_amd_pmu_config *cfg,
                        const struct vmdl_pmi_sink *sink,
                        struct vmdl_amd_pmu **out);
void vmdl_amd_pmu_destroy(struct vmdl_amd_pmu *pmu);
int vmdl_amd_pmu_set_sink(struct vmdl_amd_pmu *pmu,
                          const struct vmdl_pmi_sink *sink);

/* Effective version as KVM computes it: 0 disabled, 1, or 2 (PerfMonV2). */
unsigned vmdl_amd_pmu_version(const struct vmdl_amd_pmu *pmu);
/* Effective number of counters (0 when disabled; capped at 6 like KVM). */
unsigned vmdl_amd_pmu_nr_counters(const struct vmdl_amd_pmu *pmu);
const struct vmdl_amd_pmu_config *vmdl_amd_pmu_get_config(const struct vmdl_amd_pmu *pmu);

/* ---- MSRs ---- */

/*
 * Guest RDMSR / WRMSR.  VMDL_FAULT_UNCLAIMED for an index outside the PMU's
 * MSR table, VMDL_FAULT_GP for one the configuration does not have.
 */
vmdl_fault vmdl_amd_pmu_rdmsr(struct vmdl_amd_pmu *pmu, uint32_t index,
                              uint64_t *value);
vmdl_fault vmdl_amd_pmu_wrmsr(struct vmdl_amd_pmu *pmu, uint32_t index,
                              uint64_t value);
/* Guest RDPMC: ECX selects the counter.  Outside CPL 0 with CR4.PCE clear
 * (and protected mode) it faults, as kvm_pmu_rdpmc does. */
vmdl_fault vmdl_amd_pmu_rdpmc(struct vmdl_amd_pmu *pmu, uint32_t ecx,
                              unsigned cpl, bool cr4_pce, uint64_t *value);

/* The MSR index ranges in the table (for registering handlers). */
struct vmdl_amd_pmu_msr_range {
    uint32_t first, last;
    const char *name;
};
const struct vmdl_amd_pmu_msr_range *vmdl_amd_pmu_msr_ranges(size_t *count);
bool vmdl_amd_pmu_owns_msr(uint32_t index);

/* ---- events and counting ---- */

enum vmdl_amd_pmu_source {
    VMDL_AMD_PMU_SRC_NONE = 0,     /* known, never counts in this model */
    VMDL_AMD_PMU_SRC_INSNS,        /* retired instructions */
    VMDL_AMD_PMU_SRC_CYCLES,       /* core cycles = instructions (CPI 1) */
    VMDL_AMD_PMU_SRC_BRANCHES,     /* retired taken branches */
};

struct vmdl_amd_pmu_event {
    uint16_t code; /* EventSelect[11:0] */
    enum vmdl_amd_pmu_source source;
    const char *name;
};
/* The event table; unit mask and edge detect are ignored, counter mask and
 * invert apply with one instruction per cycle (vmdl_amd_pmu_retire). */
const struct vmdl_amd_pmu_event *vmdl_amd_pmu_events(size_t *count);
/* Entry for the event an event select programs, or NULL. */
const struct vmdl_amd_pmu_event *vmdl_amd_pmu_event_of(uint64_t evtsel);

/*
 * `insns` instructions, of which `branches` taken branches, retired at
 * privilege level `cpl` (the machine's guests run at virtual CPL 0).
 * Counts them into every live counter whose OS/USR bit matches; a counter
 * passing 2^48 wraps, sets its GLOBAL_STATUS bit (PerfMonV2) and, with INT,
 * raises the PMI.
 */
void vmdl_amd_pmu_retire(struct vmdl_amd_pmu *pmu, uint64_t insns,
                         uint64_t branches, unsigned cpl);
/* Bitmap of counters that can count now (enabled, globally enabled, a
 * modelled event, OS or USR set).  0: the machine needs no accounting. */
uint32_t vmdl_amd_pmu_live_mask(const struct vmdl_amd_pmu *pmu);
static inline bool vmdl_amd_pmu_live(const struct vmdl_amd_pmu *pmu)
{
    return vmdl_amd_pmu_live_mask(pmu) != 0;
}
/* Does any live counter count branches (the machine must count them)? */
bool vmdl_amd_pmu_wants_branches(const struct vmdl_amd_pmu *pmu);
/*
 * Retired instructions after which the first live counter can overflow
 * (exact for instruction and cycle events, a safe lower bound for branch
 * events), UINT64_MAX when nothing is live.  Never 0: a counter at
 * 2^48 - 1 answers 1.
 */
uint64_t vmdl_amd_pmu_insns_to_overflow(const struct vmdl_amd_pmu *pmu);
/* PMIs raised so far. */
uint64_t vmdl_amd_pmu_pmi_count(const struct vmdl_amd_pmu *pmu);

/* ---- resets ---- */

/* vCPU creation state (KVM's kvm_pmu_init/refresh): everything zero except
 * GLOBAL_CTL, which has one enable bit per counter with PerfMonV2. */
void vmdl_amd_pmu_creation_reset(struct vmdl_amd_pmu *pmu);
/*
 * VM reset as a fixed VMM performs it: every CTL and CTR zero and, with
 * PerfMonV2, GLOBAL_STATUS and GLOBAL_CTL zero (zero, not the creation
 * value).  Under VMDL_AMD_PMU_QUIRK_NO_VM_RESET nothing changes.
 */
void vmdl_amd_pmu_vm_reset(struct vmdl_amd_pmu *pmu);

/* ---- state ---- */

/* Export (malloc'd blob, caller frees) and import.  Import refuses blobs
 * from another configuration or with out-of-range values and then leaves
 * the model untouched. */
int vmdl_amd_pmu_save(const struct vmdl_amd_pmu *pmu, uint8_t **blob,
                      size_t *len);
int vmdl_amd_pmu_load(struct vmdl_amd_pmu *pmu, const void *blob, size_t len);

#ifdef __cplusplus
}
#endif
#endif
