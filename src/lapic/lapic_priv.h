/* SPDX-License-Identifier: MIT */
/* Internal state of the local APIC model, shared by its source files. */
#ifndef VMDL_LAPIC_PRIV_H
#define VMDL_LAPIC_PRIV_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "virtmodel/bits.h"
#include "virtmodel/guest_mem.h"
#include "virtmodel/lapic.h"
#include "virtmodel/lapic_apicv.h"

#define LAPIC_PAGE_SIZE 4096

struct vmdl_lapic;

/*
 * The backend ops table (bhyve-style): the core calls these for the parts
 * of interrupt flow that hardware assists change.  `sw` scans IRR/ISR in
 * the register page; `apicv` keeps RVI/SVI and a posted-interrupt
 * descriptor.
 */
struct lapic_backend {
    const char *name;
    /* Accept a fixed/lowest-priority vector (IRR set, TMR already set). */
    void (*set_irr)(struct vmdl_lapic *a, uint8_t vec);
    /* Highest deliverable vector or -1 (APIC known enabled). */
    int (*pending)(struct vmdl_lapic *a);
    /* Deliver `vec` (IRR -> ISR). */
    void (*deliver)(struct vmdl_lapic *a, uint8_t vec);
    /* Guest EOI write: returns the vector ended or -1; *side_effects says
     * whether the core must act on it (level-triggered broadcast). */
    int (*eoi)(struct vmdl_lapic *a, bool *side_effects);
    /* TPR changed (PPR recomputation done by the core). */
    void (*tpr_written)(struct vmdl_lapic *a, uint32_t old_tpr);
    /* Make IRR/ISR in the page current before a read. */
    void (*sync)(struct vmdl_lapic *a);
    /* Backend (re)activated or deactivated (inhibits changed). */
    void (*activate)(struct vmdl_lapic *a, bool on);
};

extern const struct lapic_backend vmdl_lapic_sw_backend;
extern const struct lapic_backend vmdl_lapic_apicv_backend;

enum lapic_timer_mode { TM_ONESHOT = 0, TM_PERIODIC = 1, TM_DEADLINE = 2 };

struct lapic_apicv_state {
    uint16_t gis;                  /* SVI << 8 | RVI */
    uint64_t eoi_exit[4];
    uint64_t auto_eoi_exit[4];     /* level-triggered vectors seen */
    uint32_t tpr_threshold;
    uint8_t pi_host[VMDL_PI_DESC_SIZE];
    bool pi_in_guest;
    struct vmdl_guest_mem pi_mem;
    uint64_t pi_gpa;
    uint8_t pi_nv;
    struct vmdl_apicv_stats st;
};

struct vmdl_lapic {
    uint8_t regs[LAPIC_PAGE_SIZE] __attribute__((aligned(64)));
    struct vmdl_lapic_bus *bus;
    unsigned index;
    uint32_t initial_id;           /* vcpu_id: x2APIC ID, xAPIC ID at reset */
    uint64_t apic_base;
    uint32_t esr_pending;          /* errors since the last ESR write */
    unsigned error_depth;          /* LVT error delivery in progress (lapic.c) */
    /* timer */
    uint64_t now;                  /* virtual time (instructions) */
    uint64_t timer_start;
    uint64_t timer_period;         /* TMICT * divide, in ticks */
    uint64_t timer_expiry;         /* UINT64_MAX: not armed */
    uint64_t tsc_deadline;
    uint32_t divide;
    /* KVM PV EOI: the MSR as written, KVM_APIC_PV_EOI_PENDING (the flag was
     * set at the last entry) and highest_isr_cache != -1 (the last ISR
     * change was a delivery by the software backend). */
    uint64_t pv_eoi_msr;
    bool pv_eoi_pending;
    bool isr_cache_valid;
    /* events */
    unsigned nmi_pending;
    enum vmdl_lapic_mp_state mp_state;
    int sipi_vector;               /* -1: none to take */
    unsigned held_events;          /* VMDL_LAPIC_EV_*: held INIT / SIPI */
    uint8_t held_sipi_vector;
    unsigned apicv_inhibits;
    const struct lapic_backend *be;
    struct lapic_apicv_state v;
    struct vmdl_lapic_hooks hooks;
    struct vmdl_lapic_stats st;
};

struct vmdl_lapic_bus {
    struct vmdl_lapic_bus_config cfg;
    unsigned n;
    unsigned nr_lvt;
    unsigned sticky_inhibits;      /* KVM never clears APIC_BASE_MODIFIED */
    uint64_t min_period;           /* periodic floor in ticks, 0: none */
    bool has_mem;
    struct vmdl_guest_mem mem;     /* for the PV-EOI flag */
    struct vmdl_lapic *apics[];
};

/* ---- register page helpers ---- */
static inline uint32_t lapic_get(const struct vmdl_lapic *a, unsigned off)
{
    uint32_t v;
    memcpy(&v, a->regs + off, 4);
    return v;
}

static inline void lapic_set(struct vmdl_lapic *a, unsigned off, uint32_t v)
{
    memcpy(a->regs + off, &v, 4);
}

/* 256-bit vector bitmaps stored as 8 registers 0x10 apart. */
static inline bool lapic_vec_test(const struct vmdl_lapic *a, unsigned base,
                                  unsigned vec)
{
    return (lapic_get(a, base + (vec / 32) * 0x10) >> (vec % 32)) & 1;
}

static inline void lapic_vec_set(struct vmdl_lapic *a, unsigned base,
                                 unsigned vec)
{
    unsigned off = base + (vec / 32) * 0x10;
    lapic_set(a, off, lapic_get(a, off) | (1u << (vec % 32)));
}

static inline void lapic_vec_clear(struct vmdl_lapic *a, unsigned base,
                                   unsigned vec)
{
    unsigned off = base + (vec / 32) * 0x10;
    lapic_set(a, off, lapic_get(a, off) & ~(1u << (vec % 32)));
}

/* Highest set vector of a register bitmap, -1 if none. */
static inline int lapic_vec_highest(const struct vmdl_lapic *a, unsigned base)
{
    /* Usually empty (IRR at every exit, ISR outside handlers): eight
     * loads and ORs without a branch each (docs/performance.md). */
    uint32_t any = 0;
    for (unsigned i = 0; i < 8; i++)
        any |= lapic_get(a, base + i * 0x10);
    if (!any)
        return -1;
    for (int i = 7; i >= 0; i--) {
        uint32_t w = lapic_get(a, base + (unsigned)i * 0x10);
        if (w)
            return i * 32 + 31 - __builtin_clz(w);
    }
    return -1;
}

static inline bool lapic_x2apic(const struct vmdl_lapic *a)
{
    return (a->apic_base & VMDL_APIC_BASE_EXTD) != 0;
}

static inline bool lapic_hw_enabled(const struct vmdl_lapic *a)
{
    return (a->apic_base & VMDL_APIC_BASE_EN) != 0;
}

static inline bool lapic_sw_enabled(const struct vmdl_lapic *a)
{
    return (lapic_get(a, VMDL_LAPIC_SVR) & VMDL_LAPIC_SVR_ENABLE) != 0;
}

/* core helpers used by the backends */
void vmdl_lapic_update_ppr(struct vmdl_lapic *a);
int vmdl_lapic_ppr_of(uint32_t tpr, int isrv);
void vmdl_lapic_eoi_side_effects(struct vmdl_lapic *a, int vec);
void vmdl_lapic_notify_isr(struct vmdl_lapic *a);
void vmdl_apicv_reset(struct vmdl_lapic *a, bool init_event);
void vmdl_apicv_vcpu_load(struct vmdl_lapic *a);
void vmdl_lapic_error(struct vmdl_lapic *a, uint32_t esr_bit);
int vmdl_lapic_accept(struct vmdl_lapic *a, unsigned dm, unsigned vec,
                      bool level_assert, bool trig_level);
void vmdl_lapic_send_ipi(struct vmdl_lapic *a, uint32_t icr_low,
                         uint32_t dest);
void vmdl_lapic_bus_recompute_inhibits(struct vmdl_lapic_bus *bus);
void vmdl_lapic_write_nodecode(struct vmdl_lapic *a, unsigned off,
                               uint32_t val);
void vmdl_lapic_set_inhibits(struct vmdl_lapic *a, unsigned inhibits);
void vmdl_apicv_recompute(struct vmdl_lapic *a);

#endif
