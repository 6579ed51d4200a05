/* SPDX-License-Identifier: MIT */
/*
 * GICv5 CPU interface, PPIs only, as KVM's vGIC-v5 series models it.
 *
 * One struct vmdl_gicv5 is a VM's interrupt controller: per-VM PPI masks
 * (exposed PPIs, handling modes, userspace-driveable PPIs), per-vCPU shadow
 * state (the hypervisor's copy: KVM's vgic_v5_cpu_if and vgic_irq), and the
 * modelled physical CPUs whose live ICH_* / ICC_* registers hold a vCPU's
 * state while it is loaded.  The guest's system-register accesses act on the
 * live registers of the physical CPU its vCPU is loaded on ("direct"), except
 * the accesses the fine-grained traps send to the hypervisor (ICC_PPI_
 * ENABLERx_EL1 writes, ICC_IAFFIDR_EL1 and ICC_IDR0_EL1 reads).  See
 * docs/gicv5.md for what is modelled and how it differs from KVM.
 *
 * Pure C, deterministic, no Unicorn.  Functions return 0 or a negative
 * vmdl_err and record a message (vmdl_last_error()).
 */
#ifndef VIRTMODEL_GICV5_H
#define VIRTMODEL_GICV5_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtmodel/fault.h"
#include "virtmodel/gicv5_regs.h"

#ifdef __cplusplus
extern "C" {
#endif

/* PPI IDs the GICv5 CPU-interface registers can name (two 64-bit banks);
 * the architected PPIs are 0-63, 64-127 are IMPLEMENTATION DEFINED. */
#define VMDL_GICV5_NR_PPIS 128
/* KVM's vGIC-v5 handles the 64 architected PPIs only
 * (VGIC_V5_NR_PRIVATE_IRQS), the model's default; config.nr_ppis = 128 goes
 * beyond KVM. */
#define VMDL_GICV5_KVM_NR_PPIS 64
/* VGIC_V5_MAX_CPUS (include/kvm/arm_vgic.h), max_gic_vcpus for a GICv5 VM. */
#define VMDL_GICV5_MAX_VCPUS 512
#define VMDL_GICV5_MAX_PCPUS 16
#define VMDL_GICV5_PRI_BITS 5
#define VMDL_GICV5_PRIO_IDLE 32    /* running priority with no active one */

/* Architected PPI numbers (Linux include/linux/irqchip/arm-gic-v5.h).
 * They differ from GICv3's PPI INTIDs (e.g. CNTV is 27 in both, but the
 * PMU is 23 here where GICv3 guests usually see INTID 23 as PPI 7). */
#define VMDL_GICV5_PPI_SW 3        /* software PPI: the userspace one */
#define VMDL_GICV5_PPI_PMUIRQ 23
#define VMDL_GICV5_PPI_CNTHP 26
#define VMDL_GICV5_PPI_CNTV 27
#define VMDL_GICV5_PPI_CNTHV 28
#define VMDL_GICV5_PPI_CNTP 30

/* Interrupt ID layout (GICR CDIA result, ICC_HPPIR_EL1, GIC CDDI operand). */
#define VMDL_GICV5_INTID_ID_MASK VMDL_GENMASK(23, 0)
#define VMDL_GICV5_INTID_TYPE_SHIFT 29
#define VMDL_GICV5_TYPE_PPI 1u
#define VMDL_GICV5_CDIA_VALID VMDL_BIT(32)
#define VMDL_GICV5_PPI_INTID(ppi) \
    ((uint64_t)(ppi) | ((uint64_t)VMDL_GICV5_TYPE_PPI << VMDL_GICV5_INTID_TYPE_SHIFT))

/* A few fields the API exposes. */
#define VMDL_GICV5_CR0_EN VMDL_BIT(0)
#define VMDL_GICV5_VMCR_EN VMDL_BIT(0)
#define VMDL_GICV5_VMCR_VPMR_SHIFT 27        /* ICH_VMCR_EL2.VPMR, 31:27 */
#define VMDL_GICV5_VCTLR_EN VMDL_BIT(0)
#define VMDL_GICV5_VCTLR_V3 VMDL_BIT(1)

enum vmdl_gicv5_storage {
    VMDL_GICV5_SPARSE = 0,   /* per-PPI state only for the exposed PPIs */
    VMDL_GICV5_DENSE = 1,    /* per-PPI state for all 128 PPIs */
};

/* Which guest accesses trap to the hypervisor.  KVM changed its mind between
 * postings of the series; both are selectable. */
enum vmdl_gicv5_traps {
    /* v3: ICC_PPI_ENABLERx_EL1 writes, ICC_IAFFIDR_EL1 and ICC_IDR0_EL1
     * reads; everything else direct. */
    VMDL_GICV5_TRAPS_KVM_V3 = 0,
    /* v1: writes of the ENABLER, PENDR, PRIORITYR and ACTIVER PPI registers
     * and reads of ICC_IAFFIDR_EL1 and ICC_PPI_HMRx_EL1; ICC_IDR0_EL1 reads
     * go to the (modelled) hardware, which reports 24 ID bits. */
    VMDL_GICV5_TRAPS_KVM_V1 = 1,
};

struct vmdl_gicv5_config {
    unsigned nr_vcpus;              /* 1..VMDL_GICV5_MAX_VCPUS (0: 1) */
    /* PPIs that exist: 0 or 64 = KVM's 64 architected PPIs; 128 = also the
     * IMPLEMENTATION DEFINED PPIs 64-127, which KVM does not handle (a
     * model extension, e.g. for extra_ppis[1]). */
    unsigned nr_ppis;
    unsigned nr_pcpus;              /* 0: 2; 1..VMDL_GICV5_MAX_PCPUS */
    enum vmdl_gicv5_storage storage;
    enum vmdl_gicv5_traps traps;
    /* In-kernel devices that own PPIs (KVM exposes "PPIs with an owner, and
     * the SW_PPI"): the EL1 timers (CNTV, CNTP) unless no_timers, the PMU
     * interrupt when pmu. */
    bool no_timers;
    bool pmu;
    /* Model extension (not in KVM): further device-owned PPIs to expose, and
     * which of them are level-sensitive.  Lets a test or benchmark vary how
     * many PPIs a VM exposes.  Must not include SW_PPI; word 1 (PPIs
     * 64-127) needs nr_ppis = 128. */
    uint64_t extra_ppis[2];
    uint64_t extra_level[2];
};

struct vmdl_gicv5;

int vmdl_gicv5_create(const struct vmdl_gicv5_config *cfg,
                      struct vmdl_gicv5 **out);
void vmdl_gicv5_destroy(struct vmdl_gicv5 *g);
/* VM reset: every vCPU is put and returns to its reset state; the physical
 * CPUs keep ICH_VCTLR_EL2.En. */
int vmdl_gicv5_reset(struct vmdl_gicv5 *g);

unsigned vmdl_gicv5_nr_vcpus(const struct vmdl_gicv5 *g);
unsigned vmdl_gicv5_nr_pcpus(const struct vmdl_gicv5 *g);

/* Per-VM masks (two words: PPIs 0-63, 64-127). */
struct vmdl_gicv5_masks {
    uint64_t exposed[2];     /* KVM vgic_ppi_mask */
    uint64_t level[2];       /* KVM vgic_ppi_hmr: 1 = level, 0 = edge */
    uint64_t userspace[2];   /* KVM_DEV_ARM_VGIC_USERSPACE_PPIS */
};
void vmdl_gicv5_get_masks(const struct vmdl_gicv5 *g,
                          struct vmdl_gicv5_masks *m);

/* ---- hypervisor side: vcpu load/put through a physical CPU ---- */

/* Load vcpu on physical CPU pcpu (KVM vgic_v5_load + guest entry). */
int vmdl_gicv5_vcpu_load(struct vmdl_gicv5 *g, unsigned vcpu, unsigned pcpu);
/* Put vcpu (guest exit + vgic_v5_put).  in_wfi: the vCPU is blocking in WFI,
 * the only time PPI priorities are synced to the shadow state. */
int vmdl_gicv5_vcpu_put(struct vmdl_gicv5 *g, unsigned vcpu, bool in_wfi);
/* Physical CPU vcpu is loaded on, or -1. */
int vmdl_gicv5_vcpu_pcpu(const struct vmdl_gicv5 *g, unsigned vcpu);
/* vCPU loaded on pcpu, or -1. */
int vmdl_gicv5_pcpu_vcpu(const struct vmdl_gicv5 *g, unsigned pcpu);

/* Read a physical CPU's live ICH_* (EL2) register by table id, as the
 * hypervisor would (introspection for tests and traces). */
int vmdl_gicv5_pcpu_read(const struct vmdl_gicv5 *g, unsigned pcpu,
                         enum vmdl_gicv5_reg_id id, uint64_t *value);

/* ---- guest side ---- */

/*
 * A guest MRS/MSR/SYS/SYSL at EL1 on a GICv5 encoding.  *value is the value
 * written (is_write) or receives the value read.  Returns VMDL_FAULT_NONE,
 * VMDL_FAULT_UNDEF (EL2 register, write to a read-only register, read of a
 * write-only one, vCPU not loaded) or VMDL_FAULT_UNCLAIMED (not a GICv5
 * encoding this model knows: someone else's register).
 */
vmdl_fault vmdl_gicv5_sysreg(struct vmdl_gicv5 *g, unsigned vcpu,
                             unsigned op0, unsigned op1, unsigned crn,
                             unsigned crm, unsigned op2, bool is_write,
                             uint64_t *value);

/* IRQ line to the vCPU: the INTID of the highest-priority pending, enabled,
 * not active PPI that has sufficient priority (ICC_CR0.EN set, priority at
 * or above ICC_PCR_EL1 and above the running priority), or -1.  Uses the
 * live registers when loaded and the shadow state when not. */
int vmdl_gicv5_irq_pending(const struct vmdl_gicv5 *g, unsigned vcpu);
/* KVM's vgic_v5_has_pending_ppi(): the WFI wake-up check on the shadow
 * state (shadow priorities are only as fresh as the last WFI). */
bool vmdl_gicv5_has_pending_ppi(const struct vmdl_gicv5 *g, unsigned vcpu);

/* ---- injection ---- */

/* KVM_IRQ_LINE for a PPI: refused (VMDL_EINVAL) unless the PPI is in the
 * userspace-driveable mask (the SW_PPI). */
int vmdl_gicv5_irq_line(struct vmdl_gicv5 *g, unsigned vcpu, unsigned ppi,
                        bool level);
/* An in-kernel device (timer, PMU, extra) drives the PPI it owns; refused
 * for PPIs no device owns (SW_PPI included). */
int vmdl_gicv5_device_line(struct vmdl_gicv5 *g, unsigned vcpu, unsigned ppi,
                           bool level);
/* Mark a device PPI for direct virtual injection (ICH_PPI_DVIRx_EL2): while
 * the vCPU is loaded its line drives the live pending bit with no kick. */
int vmdl_gicv5_set_dvi(struct vmdl_gicv5 *g, unsigned vcpu, unsigned ppi,
                       bool dvi);

/* ---- introspection ---- */

struct vmdl_gicv5_ppi_state {
    bool exposed, level_sensitive, enabled, active, pending_latch,
        line_level, dvi;
    uint8_t priority;        /* shadow priority (synced on WFI) */
};
/* Shadow (hypervisor-side) state of one PPI. */
int vmdl_gicv5_get_ppi(const struct vmdl_gicv5 *g, unsigned vcpu,
                       unsigned ppi, struct vmdl_gicv5_ppi_state *out);

struct vmdl_gicv5_stats {
    uint64_t traps;          /* guest accesses handled by the hypervisor */
    uint64_t direct;         /* guest accesses handled by the live registers */
    uint64_t kicks;          /* injections that forced an exit + re-entry */
    uint64_t direct_injections;  /* DVI updates of a live pending bit */
    uint64_t loads, puts, wfi_syncs;
};
int vmdl_gicv5_get_stats(const struct vmdl_gicv5 *g, unsigned vcpu,
                         struct vmdl_gicv5_stats *out);

/* Bytes of shadow state one vCPU costs, and the per-VM bytes (masks, slot
 * map, physical CPUs), in the configured storage mode. */
size_t vmdl_gicv5_vcpu_bytes(const struct vmdl_gicv5 *g);
size_t vmdl_gicv5_vm_bytes(const struct vmdl_gicv5 *g);

/* ---- state ---- */

/* Export every vCPU's shadow state (all vCPUs must be put: VMDL_ESTATE). */
int vmdl_gicv5_export(const struct vmdl_gicv5 *g, uint8_t **out,
                      size_t *out_len);
/* Import a blob from a VM with the same vCPU count and masks.  A malformed,
 * corrupted or mismatched blob is refused and changes nothing. */
int vmdl_gicv5_import(struct vmdl_gicv5 *g, const void *blob, size_t len);

#ifdef __cplusplus
}
#endif
#endif
