/* SPDX-License-Identifier: MIT */
/*
 * Local APIC model (xAPIC and x2APIC), one per vCPU, grouped in a per-VM bus
 * that carries IPIs between them.
 *
 * The state of an APIC *is* its architectural 4 KiB register page: every
 * register lives at its SDM offset (ID at 0x20, TPR at 0x80, ISR at 0x100,
 * ...), so the page can be handed to an APICv backend as its virtual-APIC
 * page unchanged.  Guest accesses go through vmdl_lapic_mmio_read/write
 * (xAPIC window at the APIC base) and vmdl_lapic_msr_read/write (IA32_APIC_BASE
 * 0x1B, TSC_DEADLINE 0x6E0, x2APIC 0x800-0x8FF) and return the architectural
 * outcome (#GP or none) as a vmdl_fault.
 *
 * Virtual time: the caller passes the vCPU's retired-instruction count to
 * vmdl_lapic_advance().  The APIC bus clock ticks once per instruction
 * before the divide configuration, and the TSC seen by the TSC-deadline
 * timer is the same count (1 per instruction).  Runs therefore reproduce.
 */
#ifndef VIRTMODEL_LAPIC_H
#define VIRTMODEL_LAPIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtmodel/fault.h"
#include "virtmodel/guest_mem.h"
#include "virtmodel/irq.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Register offsets in the APIC page (x2APIC MSR = 0x800 + (offset >> 4)). */
enum vmdl_lapic_reg {
    VMDL_LAPIC_ID = 0x020,
    VMDL_LAPIC_LVR = 0x030,
    VMDL_LAPIC_TPR = 0x080,
    VMDL_LAPIC_APR = 0x090,
    VMDL_LAPIC_PPR = 0x0A0,
    VMDL_LAPIC_EOI = 0x0B0,
    VMDL_LAPIC_RRD = 0x0C0,
    VMDL_LAPIC_LDR = 0x0D0,
    VMDL_LAPIC_DFR = 0x0E0,
    VMDL_LAPIC_SVR = 0x0F0,
    VMDL_LAPIC_ISR = 0x100,  /* 8 registers, 0x10 apart */
    VMDL_LAPIC_TMR = 0x180,
    VMDL_LAPIC_IRR = 0x200,
    VMDL_LAPIC_ESR = 0x280,
    VMDL_LAPIC_LVT_CMCI = 0x2F0,
    VMDL_LAPIC_ICR = 0x300,
    VMDL_LAPIC_ICR2 = 0x310,
    VMDL_LAPIC_LVT_TIMER = 0x320,
    VMDL_LAPIC_LVT_THERMAL = 0x330,
    VMDL_LAPIC_LVT_PERF = 0x340,
    VMDL_LAPIC_LVT_LINT0 = 0x350,
    VMDL_LAPIC_LVT_LINT1 = 0x360,
    VMDL_LAPIC_LVT_ERROR = 0x370,
    VMDL_LAPIC_TMICT = 0x380,
    VMDL_LAPIC_TMCCT = 0x390,
    VMDL_LAPIC_TDCR = 0x3E0,
    VMDL_LAPIC_SELF_IPI = 0x3F0, /* x2APIC only */
};

#define VMDL_LAPIC_DEFAULT_BASE 0xFEE00000ull
#define VMDL_MSR_IA32_APIC_BASE 0x1Bu
#define VMDL_MSR_IA32_TSC_DEADLINE 0x6E0u
#define VMDL_MSR_X2APIC_FIRST 0x800u
#define VMDL_MSR_X2APIC_LAST 0x8FFu

/* IA32_APIC_BASE bits. */
#define VMDL_APIC_BASE_BSP (1ull << 8)
#define VMDL_APIC_BASE_EXTD (1ull << 10)
#define VMDL_APIC_BASE_EN (1ull << 11)

/* LVT / ICR fields. */
#define VMDL_LAPIC_VECTOR_MASK 0xFFu
#define VMDL_LAPIC_DM_SHIFT 8        /* delivery mode bits 10:8 */
#define VMDL_LAPIC_DM_FIXED 0u
#define VMDL_LAPIC_DM_LOWEST 1u
#define VMDL_LAPIC_DM_SMI 2u
#define VMDL_LAPIC_DM_NMI 4u
#define VMDL_LAPIC_DM_INIT 5u
#define VMDL_LAPIC_DM_SIPI 6u
#define VMDL_LAPIC_DM_EXTINT 7u
#define VMDL_LAPIC_ICR_LOGICAL (1u << 11)
#define VMDL_LAPIC_ICR_BUSY (1u << 12)    /* delivery status */
#define VMDL_LAPIC_ICR_ASSERT (1u << 14)
#define VMDL_LAPIC_ICR_LEVEL (1u << 15)   /* trigger mode */
#define VMDL_LAPIC_SH_SHIFT 18            /* destination shorthand 19:18 */
#define VMDL_LAPIC_SH_NONE 0u
#define VMDL_LAPIC_SH_SELF 1u
#define VMDL_LAPIC_SH_ALL 2u
#define VMDL_LAPIC_SH_OTHERS 3u
#define VMDL_LAPIC_LVT_MASKED (1u << 16)
#define VMDL_LAPIC_LVT_LEVEL (1u << 15)
#define VMDL_LAPIC_TIMER_ONESHOT (0u << 17)
#define VMDL_LAPIC_TIMER_PERIODIC (1u << 17)
#define VMDL_LAPIC_TIMER_TSC_DEADLINE (2u << 17)
#define VMDL_LAPIC_SVR_ENABLE (1u << 8)
#define VMDL_LAPIC_SVR_FOCUS_OFF (1u << 9)
#define VMDL_LAPIC_SVR_SUPPRESS_EOI_BCAST (1u << 12)
#define VMDL_LAPIC_LVR_EOI_BCAST_SUPPRESSION (1u << 24)

/* ESR bits (Intel). */
#define VMDL_LAPIC_ESR_SEND_ILLEGAL_VECTOR (1u << 5)
#define VMDL_LAPIC_ESR_RECV_ILLEGAL_VECTOR (1u << 6)
#define VMDL_LAPIC_ESR_ILLEGAL_REGISTER (1u << 7)

enum vmdl_lapic_mode {
    VMDL_LAPIC_MODE_DISABLED = 0,  /* IA32_APIC_BASE.EN = 0 */
    VMDL_LAPIC_MODE_XAPIC = 1,
    VMDL_LAPIC_MODE_X2APIC = 2,
};

/* Multiprocessor state as INIT/SIPI leave it (KVM's mp_state). */
enum vmdl_lapic_mp_state {
    VMDL_LAPIC_MP_RUNNABLE = 0,
    VMDL_LAPIC_MP_WAIT_SIPI = 1,   /* INIT received, waiting for SIPI */
};

/* Behaviour switches where KVM and the architecture differ (see
 * docs/lapic.md).  0 selects KVM's behaviour in each case. */
#define VMDL_LAPIC_F_NO_LINT0_QUIRK (1u << 0) /* BSP LINT0 masked at reset
                                                (SDM) instead of ExtINT (KVM
                                                quirk LINT0_REENABLED) */
#define VMDL_LAPIC_F_NO_MMIO_HOLE (1u << 1)   /* MMIO while x2APIC/disabled
                                                is UNCLAIMED instead of
                                                reads-all-ones/writes-dropped */
/* (1u << 2) was VMDL_LAPIC_F_KVM_ESR while the SDM's ESR rules were the
 * default; it is refused now so that old callers notice. */
#define VMDL_LAPIC_F_SDM_ESR (1u << 4)        /* record send/receive-illegal-
                                                vector errors in ESR and refuse
                                                vectors 0-15 (SDM 11.5.3);
                                                default: KVM, which records no
                                                error and accepts them */
#define VMDL_LAPIC_F_LOWEST_PPR (1u << 3)     /* lowest-priority IPIs go to
                                                the lowest PPR (ties: lowest
                                                APIC ID) instead of KVM's
                                                vector hashing */
#define VMDL_LAPIC_F_NO_MIN_PERIOD (1u << 5)  /* no floor on the periodic
                                                timer (KVM with the module
                                                parameter min_timer_period_us
                                                = 0); default: KVM's floor */
#define VMDL_LAPIC_F_ALL 0x3Bu

struct vmdl_lapic_bus;
struct vmdl_lapic;

/* Notifications a bus owner (the machine glue) receives. */
struct vmdl_lapic_bus_ops {
    /* INIT (is_sipi false) or SIPI (vector) reached APIC `index`. */
    void (*init_sipi)(void *opaque, unsigned index, bool is_sipi,
                      uint8_t vector);
    /* Something became pending on APIC `index` (wake it from HLT). */
    void (*kick)(void *opaque, unsigned index);
    /* A level-triggered EOI was broadcast (an I/O APIC would see it). */
    void (*eoi_broadcast)(void *opaque, unsigned index, uint8_t vector);
    void *opaque;
    /* Optional (NULL: every level EOI is broadcast).  With an I/O APIC, KVM
     * forwards an EOI only for the vectors the I/O APIC handles for this
     * APIC (kvm_ioapic_handles_vector); true: broadcast this one. */
    bool (*eoi_wanted)(void *opaque, unsigned index, uint8_t vector);
    /* Optional (NULL: INIT and SIPI act on arrival).  True: APIC `index`
     * holds INIT and SIPI pending (KVM's apic->pending_events) instead of
     * acting on them, because its vCPU is where INIT is latched (VMX root
     * operation, KVM's vmx_apic_init_signal_blocked) or where INIT/SIPI are
     * VM exits (VMX non-root operation); the owner takes them with
     * vmdl_lapic_pending_events / vmdl_lapic_clear_events /
     * vmdl_lapic_accept_events.  `kick` is called for a held one. */
    bool (*hold_init_sipi)(void *opaque, unsigned index);
};

struct vmdl_lapic_bus_config {
    unsigned nr_apics;          /* 1..VMDL_LAPIC_BUS_MAX; APIC i gets ID i */
    bool x2apic;                /* CPUID.1:ECX.x2APIC (EXTD settable) */
    bool tsc_deadline;          /* CPUID.1:ECX.TSC_DEADLINE */
    bool cmci;                  /* LVT CMCI present (7 LVT entries) */
    bool eoi_bcast_suppression; /* LVR bit 24 (directed EOI) */
    bool amd;                   /* AMD guest: PMI does not mask LVTPC */
    bool apicv;                 /* use the APICv backend (lapic_apicv.h) */
    unsigned flags;             /* VMDL_LAPIC_F_* */
    const uint32_t *apic_ids;   /* optional: APIC ID of each APIC */
    /* KVM's min_timer_period_us: a periodic timer never fires more often
     * than this, in virtual microseconds (one APIC bus cycle per retired
     * instruction = KVM's default 1 ns bus cycle, so 1 us = 1000 ticks).
     * 0: KVM's default, 200.  VMDL_LAPIC_F_NO_MIN_PERIOD removes it. */
    uint32_t min_timer_period_us;
    /* CPUID 0x40000001 EAX bit 6 (KVM_FEATURE_PV_EOI) is not advertised:
     * MSR_KVM_PV_EOI_EN #GPs.  Default: advertised, as KVM and QEMU do. */
    bool no_pv_eoi;
    struct vmdl_lapic_bus_ops ops;
};
#define VMDL_LAPIC_BUS_MAX 256
#define VMDL_LAPIC_MIN_TIMER_PERIOD_US 200   /* KVM's module default */
#define VMDL_LAPIC_TICKS_PER_US 1000         /* 1 ns APIC bus cycle */

/* KVM's paravirtual EOI (Documentation/virt/kvm/x86/msr.rst). */
#define VMDL_MSR_KVM_PV_EOI_EN 0x4B564D04u
#define VMDL_KVM_MSR_ENABLED 1ull            /* bit 0 of the MSR */
#define VMDL_KVM_PV_EOI_FLAG 1u              /* bit 0 of the guest byte */
#define VMDL_KVM_CPUID_SIGNATURE 0x40000000u /* "KVMKVMKVM\0\0\0" */
#define VMDL_KVM_CPUID_FEATURES 0x40000001u
#define VMDL_KVM_FEATURE_PV_EOI 6            /* EAX bit */

/* Create a bus with cfg->nr_apics APICs at their RESET state (APIC 0 BSP). */
int vmdl_lapic_bus_create(const struct vmdl_lapic_bus_config *cfg,
                          struct vmdl_lapic_bus **out);
void vmdl_lapic_bus_destroy(struct vmdl_lapic_bus *bus);
unsigned vmdl_lapic_bus_count(const struct vmdl_lapic_bus *bus);
struct vmdl_lapic *vmdl_lapic_bus_get(struct vmdl_lapic_bus *bus,
                                      unsigned index);
struct vmdl_lapic_bus *vmdl_lapic_get_bus(struct vmdl_lapic *apic);
unsigned vmdl_lapic_index(const struct vmdl_lapic *apic);

/* RESET (power-on) or INIT of one APIC, as kvm_lapic_reset(init_event). */
void vmdl_lapic_reset(struct vmdl_lapic *apic, bool init_event);

/* Guest memory for the PV-EOI flag byte (and nothing else); without it,
 * enabling PV EOI #GPs like an address outside every memslot. */
void vmdl_lapic_bus_set_guest_mem(struct vmdl_lapic_bus *bus,
                                  const struct vmdl_guest_mem *mem);

/*
 * The vCPU leaves / re-enters the guest (KVM's vcpu_enter_guest around the
 * hardware entry).  Exit = kvm_lapic_sync_from_vapic: a PV EOI the guest did
 * by clearing its flag is performed now, a flag still set is cleared.  Every
 * guest-access function here (MMIO, MSRs, pending, ack, advance, CR8) runs
 * it first, so a caller needs it only at exits that touch nothing else.
 * Entry = vmx_vcpu_pi_load (posted-interrupt SN cleared, ON set if PIR
 * holds vectors) and kvm_lapic_sync_to_vapic (the PV-EOI flag set when the
 * interrupt just delivered needs no EOI exit).  Call it after acknowledging
 * an interrupt and before each resumption of the guest.
 */
void vmdl_lapic_vcpu_exit(struct vmdl_lapic *apic);
void vmdl_lapic_vcpu_entry(struct vmdl_lapic *apic);
/*
 * True when an exit and entry now would do nothing but what the timer's
 * next event says (vmdl_lapic_next_event): no PV-EOI flag is offered to the
 * guest (one it cleared would be an EOI to perform) and no posted-interrupt
 * descriptor lives in guest memory (the guest could have changed it).  A
 * machine may then complete an instruction KVM runs without a VM exit
 * (VMREAD/VMWRITE through the shadow VMCS) without the exit's work.
 */
bool vmdl_lapic_exit_quiet(const struct vmdl_lapic *apic);

/* ---- guest accesses ---- */
/* xAPIC MMIO at offset 0..0xFFF of the APIC base; size 1, 2, 4 or 8. */
vmdl_fault vmdl_lapic_mmio_read(struct vmdl_lapic *apic, uint64_t offset,
                                unsigned size, uint64_t *value);
vmdl_fault vmdl_lapic_mmio_write(struct vmdl_lapic *apic, uint64_t offset,
                                 unsigned size, uint64_t value);
/* MSRs 0x1B, 0x6E0, 0x800-0x8FF and MSR_KVM_PV_EOI_EN; UNCLAIMED for any
 * other index. */
vmdl_fault vmdl_lapic_msr_read(struct vmdl_lapic *apic, uint32_t index,
                               uint64_t *value);
vmdl_fault vmdl_lapic_msr_write(struct vmdl_lapic *apic, uint32_t index,
                                uint64_t value);
/* IA32_APIC_BASE from the host side (no transition checks, as KVM's
 * host_initiated); reserved bits are still refused. */
int vmdl_lapic_set_base_host(struct vmdl_lapic *apic, uint64_t value);
uint64_t vmdl_lapic_get_base(const struct vmdl_lapic *apic);
enum vmdl_lapic_mode vmdl_lapic_mode(const struct vmdl_lapic *apic);

/* CR8 <-> TPR[7:4]. */
uint64_t vmdl_lapic_get_cr8(struct vmdl_lapic *apic);
void vmdl_lapic_set_cr8(struct vmdl_lapic *apic, uint64_t cr8);

/* Does the 8259's INTR reach this APIC (KVM's kvm_apic_accept_pic_intr)?
 * Yes when it is hardware-disabled (IA32_APIC_BASE.EN clear) or its LVT
 * LINT0 is unmasked with delivery mode ExtINT. */
bool vmdl_lapic_accepts_extint(const struct vmdl_lapic *apic);

/* Raw register page access for debugging and tests (no side effects). */
uint32_t vmdl_lapic_peek(const struct vmdl_lapic *apic, unsigned offset);
const uint8_t *vmdl_lapic_page(const struct vmdl_lapic *apic);

/* ---- interrupt flow (the machine's irqchip ops) ---- */
/* Highest vector deliverable now (IRR above PPR, APIC enabled), or -1. */
int vmdl_lapic_pending(struct vmdl_lapic *apic);
/* Acknowledge: move the highest deliverable vector IRR -> ISR and return it;
 * returns the spurious vector (SVR[7:0]) when none is deliverable. */
int vmdl_lapic_ack(struct vmdl_lapic *apic);
/* A pending NMI to take (consumed), SMIs are counted but not delivered. */
bool vmdl_lapic_take_nmi(struct vmdl_lapic *apic);
enum vmdl_lapic_mp_state vmdl_lapic_mp_state(const struct vmdl_lapic *apic);
/* The vCPU started after SIPI; returns the SIPI vector or -1 if none. */
int vmdl_lapic_take_sipi(struct vmdl_lapic *apic);

/*
 * INIT and SIPI held pending (bus op hold_init_sipi), as KVM's
 * apic->pending_events: an INIT replaces whatever was pending (a SIPI
 * before it is lost), a SIPI adds to an INIT and its vector replaces an
 * earlier SIPI's.  vmdl_lapic_pending_events returns the VMDL_LAPIC_EV_*
 * bits (and the SIPI vector when SIPI is set); vmdl_lapic_clear_events
 * drops some (a VM exit consumed them).  vmdl_lapic_accept_events is KVM's
 * kvm_apic_accept_events after the nested-event check: with INIT not
 * allowed (`init_allowed` false: VMX root operation) a pending SIPI is
 * dropped and INIT stays latched; otherwise INIT is performed (APIC INIT
 * reset, the BSP runnable, an AP waiting for SIPI, bus op init_sipi), then
 * a SIPI starts a CPU that waits for one and is dropped by any other.
 * RESET clears both.
 */
#define VMDL_LAPIC_EV_INIT 1u
#define VMDL_LAPIC_EV_SIPI 2u
unsigned vmdl_lapic_pending_events(const struct vmdl_lapic *apic, uint8_t *sipi_vector);
void vmdl_lapic_clear_events(struct vmdl_lapic *apic, unsigned events);
void vmdl_lapic_accept_events(struct vmdl_lapic *apic, bool init_allowed);

/*
 * Deliver an interrupt message to the bus as the I/O APIC or an MSI would:
 * destination in `dest` (physical or logical per `logical`), delivery mode
 * VMDL_LAPIC_DM_*, level/edge.  Returns the number of APICs that accepted.
 */
int vmdl_lapic_bus_deliver(struct vmdl_lapic_bus *bus, uint32_t dest,
                           bool logical, unsigned delivery_mode,
                           uint8_t vector, bool level);
/*
 * KVM's paravirtual IPI (hypercall KVM_HC_SEND_IPI, kvm_pv_send_ipi): the
 * interrupt in `icr` (vector, delivery mode, level, trigger; a logical
 * destination or a shorthand is refused with VMDL_LAPIC_PV_IPI_EINVAL) to
 * every APIC whose physical ID is min + i for a set bit i of bitmap_low,
 * then min + (64 or 32, per op_64_bit) + i of bitmap_high; IDs above the
 * highest APIC ID in the VM are ignored.  Returns how many APICs accepted
 * it (the hypercall's result).
 */
#define VMDL_LAPIC_PV_IPI_EINVAL (-22)  /* the hypercall's -KVM_EINVAL */
int vmdl_lapic_bus_pv_send_ipi(struct vmdl_lapic_bus *bus, uint64_t bitmap_low,
                               uint64_t bitmap_high, uint32_t min, uint64_t icr,
                               bool op_64_bit);
/* Would a message to (dest, logical) reach this APIC?  (KVM's
 * kvm_apic_match_dest without shorthand; 0xFF is the xAPIC broadcast,
 * 0xFFFFFFFF the x2APIC one.)  False for a hardware-disabled APIC. */
bool vmdl_lapic_match_dest(const struct vmdl_lapic *apic, uint32_t dest, bool logical);
/* Is `vector` in IRR or ISR (KVM's kvm_apic_pending_eoi)? */
bool vmdl_lapic_pending_eoi(const struct vmdl_lapic *apic, uint8_t vector);
/* Assert a local interrupt through an LVT entry (VMDL_LAPIC_LVT_* offset). */
int vmdl_lapic_local_deliver(struct vmdl_lapic *apic, unsigned lvt_offset);

/* ---- timer ---- */
/* Advance virtual time to `now` (retired instructions); fires timers. */
void vmdl_lapic_advance(struct vmdl_lapic *apic, uint64_t now);
/* Next virtual time at which the timer fires, UINT64_MAX if none. */
uint64_t vmdl_lapic_next_event(const struct vmdl_lapic *apic);
uint64_t vmdl_lapic_now(const struct vmdl_lapic *apic);

/* ---- PMI: LVT performance-counter entry as a vmdl_pmi_sink ---- */
void vmdl_lapic_pmi_sink(struct vmdl_lapic *apic, struct vmdl_pmi_sink *sink);

/* ---- counters for tests and traces ---- */
struct vmdl_lapic_stats {
    uint64_t accepted;        /* fixed/lowest-priority vectors set in IRR */
    uint64_t delivered;       /* acks */
    uint64_t eois;
    uint64_t eoi_broadcasts;  /* level-triggered EOIs sent on */
    uint64_t nmis, smis, inits, sipis;
    uint64_t timer_fires;
    uint64_t ipis_sent;
    uint64_t pv_eois;         /* EOIs the guest did through the PV flag */
    uint64_t timer_periods_raised; /* periodic timers held to the floor */
};
void vmdl_lapic_get_stats(const struct vmdl_lapic *apic,
                          struct vmdl_lapic_stats *st);

/* ---- notifications towards a VMX model (nested APICv) ---- */
struct vmdl_lapic_hooks {
    /* APICv became active / inactive (inhibit set or cleared); max_isr is
     * the highest in-service vector at that moment (-1: none), which a VMX
     * model copies to SVI as part of the update. */
    void (*apicv_update)(void *opaque, struct vmdl_lapic *apic, bool active,
                         int max_isr);
    /* Highest ISR vector changed while APICv is active (-1: none). */
    void (*isr_update)(void *opaque, struct vmdl_lapic *apic, int max_isr);
    /* IA32_APIC_BASE moved the APIC to another mode. */
    void (*mode_update)(void *opaque, struct vmdl_lapic *apic,
                        enum vmdl_lapic_mode mode);
    void *opaque;
};
void vmdl_lapic_set_hooks(struct vmdl_lapic *apic,
                          const struct vmdl_lapic_hooks *hooks);
/* APICv inhibit reasons (KVM's APICV_INHIBIT_REASON_*), as a bit mask. */
#define VMDL_APICV_INHIBIT_DISABLED (1u << 0)      /* bus built without APICv */
#define VMDL_APICV_INHIBIT_APIC_ID_MODIFIED (1u << 1)
#define VMDL_APICV_INHIBIT_APIC_BASE_MODIFIED (1u << 2)
unsigned vmdl_lapic_apicv_inhibits(const struct vmdl_lapic *apic);
bool vmdl_lapic_apicv_active(const struct vmdl_lapic *apic);

/* ---- state ---- */
/* Versioned, CRC-checked blob of one APIC (register page, base, timer,
 * pending events, APICv state).  Import refuses a bad blob and leaves the
 * APIC unchanged. */
int vmdl_lapic_export(const struct vmdl_lapic *apic, uint8_t **blob,
                      size_t *len);
int vmdl_lapic_import(struct vmdl_lapic *apic, const uint8_t *blob,
                      size_t len);

/* Name of a register offset ("TPR", "ISR3", ...) or NULL if reserved. */
const char *vmdl_lapic_reg_name(unsigned offset);

#ifdef __cplusplus
}
#endif
#endif
