/* SPDX-License-Identifier: MIT */
/* Internal state of the gicv5 model, shared by gicv5.c and gicv5_state.c. */
#ifndef VMDL_GICV5_INTERNAL_H
#define VMDL_GICV5_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "virtmodel/gicv5.h"

/* Per-PPI shadow state: the part of KVM's struct vgic_irq a PPI uses. */
#define GV5_F_ENABLED 0x01u
#define GV5_F_ACTIVE 0x02u
#define GV5_F_LATCH 0x04u     /* pending_latch (edge PPIs, and SPENDR) */
#define GV5_F_LINE 0x08u      /* line_level (level PPIs) */
#define GV5_F_ALL 0x0Fu

struct gv5_irq {
    uint8_t priority;     /* shadow priority: synced from saved_prio on WFI */
    uint8_t saved_prio;   /* ICH_PPI_PRIORITYR field saved at guest exit */
    uint8_t flags;
};

/* Per-vCPU shadow: KVM's vgic_v5_cpu_if plus the vgic_irqs of the PPIs. */
struct gv5_vcpu {
    uint64_t vmcr;        /* ICH_VMCR_EL2 as saved at exit */
    uint32_t apr;         /* ICH_APR_EL2 as saved at put */
    uint64_t icsr;        /* ICC_ICSR_EL1 */
    uint64_t enabler[2];  /* written by the ENABLER trap handler */
    uint64_t activer[2];  /* active state saved at exit */
    uint64_t dvir[2];     /* PPIs directly injected */
    bool resident;        /* vgic_v5_load done, vgic_v5_put not yet */
    int pcpu;             /* physical CPU it is loaded on, -1 */
    struct vmdl_gicv5_stats st;
    struct gv5_irq *irqs; /* nslots entries (see slot_of) */
};

/* Live registers of one physical CPU (what the hardware holds while a vCPU
 * runs) plus KVM's per-CPU host data for PPI state. */
struct gv5_pcpu {
    int vcpu;             /* loaded vCPU, -1 */
    uint64_t vctlr, vmcr, apr, icsr, contextr;
    uint64_t dvir[2], enabler[2], pendr[2], activer[2];
    uint64_t priorityr[16];
    uint64_t hfgrtr, hfgwtr, hfgitr;
    struct {
        uint64_t pendr_entry[2], activer_exit[2], pendr_exit[2];
    } host;
};

struct vmdl_gicv5 {
    struct vmdl_gicv5_config cfg;
    unsigned nr_vcpus, nr_pcpus;
    unsigned nr_ppis;                /* 64 (KVM) or 128 */
    struct vmdl_gicv5_masks m;       /* stored once per VM */
    uint64_t device_owned[2];        /* PPIs an in-kernel device drives */
    uint64_t fgt[3];                 /* HFGRTR, HFGWTR, HFGITR for guests */
    unsigned nslots;                 /* per-vCPU PPI slots */
    int16_t slot_of[VMDL_GICV5_NR_PPIS];   /* -1: no storage */
    struct gv5_vcpu *vcpus;
    struct gv5_pcpu *pcpus;
};

static inline bool gv5_bit(const uint64_t *m, unsigned ppi)
{
    return (m[ppi / 64] >> (ppi % 64)) & 1;
}

static inline void gv5_assign(uint64_t *m, unsigned ppi, bool v)
{
    if (v)
        m[ppi / 64] |= UINT64_C(1) << (ppi % 64);
    else
        m[ppi / 64] &= ~(UINT64_C(1) << (ppi % 64));
}

static inline struct gv5_irq *gv5_irq(const struct vmdl_gicv5 *g,
                                      const struct gv5_vcpu *v, unsigned ppi)
{
    int s = g->slot_of[ppi];
    return s < 0 ? 0 : &v->irqs[s];
}

/* Iterate the exposed PPIs in ascending order. */
#define GV5_FOR_EACH_EXPOSED(g, ppi)                                          \
    for (unsigned gv5_w_ = 0; gv5_w_ < 2; gv5_w_++)                           \
        for (uint64_t gv5_m_ = (g)->m.exposed[gv5_w_]; gv5_m_;                \
             gv5_m_ &= gv5_m_ - 1)                                            \
            for (unsigned ppi = gv5_w_ * 64 + (unsigned)__builtin_ctzll(gv5_m_), \
                          gv5_once_ = 1;                                      \
                 gv5_once_; gv5_once_ = 0)

void vmdl__gv5_vcpu_reset(struct vmdl_gicv5 *g, struct gv5_vcpu *v);

#endif
