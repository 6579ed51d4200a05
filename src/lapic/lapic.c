/* SPDX-License-Identifier: MIT */
/*
 * Local APIC core: the register page, its access rules in xAPIC and x2APIC
 * mode, IA32_APIC_BASE transitions, priorities, EOI, LVTs, ESR and timer.
 * IPI routing is in bus.c, the APICv backend in apicv.c.
 *
 * Facts follow the Intel SDM vol. 3A ch. 11 (APIC) and what Linux KVM's
 * arch/x86/kvm/lapic.c does today; where they differ the comment says so and
 * docs/lapic.md lists the switch (VMDL_LAPIC_F_*) that selects either.
 */
#include <stdlib.h>
#include <string.h>

#include "virtmodel/blob.h"
#include "virtmodel/error.h"
#include "lapic_priv.h"

/* Guest physical address width assumed for IA32_APIC_BASE reserved bits
 * (QEMU's default phys-bits). */
#define LAPIC_MAXPHYADDR 40

/* ------------------------------------------------------------------ */
/* The register table: the one place that says which offsets exist and  */
/* how each mode may access them.                                       */

#define R_X 0x01 /* readable through xAPIC MMIO */
#define R_2 0x02 /* readable through x2APIC MSR */
#define W_X 0x04 /* writable through xAPIC MMIO */
#define W_2 0x08 /* writable through x2APIC MSR */
#define RW (R_X | R_2 | W_X | W_2)
#define CMCI 0x10 /* present only with LVT CMCI */

struct lapic_reg_desc {
    uint16_t off;
    uint8_t count; /* consecutive registers 0x10 apart (ISR/TMR/IRR: 8) */
    uint8_t flags;
    const char *name;
};

static const struct lapic_reg_desc reg_table[] = {
    {VMDL_LAPIC_ID, 1, R_X | R_2 | W_X, "ID"},
    {VMDL_LAPIC_LVR, 1, R_X | R_2, "LVR"},
    {VMDL_LAPIC_TPR, 1, RW, "TPR"},
    {VMDL_LAPIC_APR, 1, R_X, "APR"},
    {VMDL_LAPIC_PPR, 1, R_X | R_2, "PPR"},
    {VMDL_LAPIC_EOI, 1, W_X | W_2, "EOI"},
    {VMDL_LAPIC_RRD, 1, 0, "RRD"},
    {VMDL_LAPIC_LDR, 1, R_X | R_2 | W_X, "LDR"},
    {VMDL_LAPIC_DFR, 1, R_X | W_X, "DFR"},
    {VMDL_LAPIC_SVR, 1, RW, "SVR"},
    {VMDL_LAPIC_ISR, 8, R_X | R_2, "ISR"},
    {VMDL_LAPIC_TMR, 8, R_X | R_2, "TMR"},
    {VMDL_LAPIC_IRR, 8, R_X | R_2, "IRR"},
    {VMDL_LAPIC_ESR, 1, RW, "ESR"},
    {VMDL_LAPIC_LVT_CMCI, 1, RW | CMCI, "LVT_CMCI"},
    {VMDL_LAPIC_ICR, 1, RW, "ICR"},
    {VMDL_LAPIC_ICR2, 1, R_X | W_X, "ICR2"},
    {VMDL_LAPIC_LVT_TIMER, 1, RW, "LVT_TIMER"},
    {VMDL_LAPIC_LVT_THERMAL, 1, RW, "LVT_THERMAL"},
    {VMDL_LAPIC_LVT_PERF, 1, RW, "LVT_PERF"},
    {VMDL_LAPIC_LVT_LINT0, 1, RW, "LVT_LINT0"},
    {VMDL_LAPIC_LVT_LINT1, 1, RW, "LVT_LINT1"},
    {VMDL_LAPIC_LVT_ERROR, 1, RW, "LVT_ERROR"},
    {VMDL_LAPIC_TMICT, 1, RW, "TMICT"},
    {VMDL_LAPIC_TMCCT, 1, R_X | R_2, "TMCCT"},
    {VMDL_LAPIC_TDCR, 1, RW, "TDCR"},
    {VMDL_LAPIC_SELF_IPI, 1, W_2, "SELF_IPI"},
};

static const struct lapic_reg_desc *reg_lookup(unsigned off, unsigned *sub)
{
    if (off & 0xF)
        return NULL;
    for (size_t i = 0; i < VMDL_ARRAY_SIZE(reg_table); i++) {
        const struct lapic_reg_desc *d = &reg_table[i];
        if (off >= d->off && off < d->off + 0x10u * d->count) {
            if (sub)
                *sub = (off - d->off) / 0x10;
            return d;
        }
    }
    return NULL;
}

const char *vmdl_lapic_reg_name(unsigned offset)
{
    static const char *const banked[3][8] = {
        {"ISR0", "ISR1", "ISR2", "ISR3", "ISR4", "ISR5", "ISR6", "ISR7"},
        {"TMR0", "TMR1", "TMR2", "TMR3", "TMR4", "TMR5", "TMR6", "TMR7"},
        {"IRR0", "IRR1", "IRR2", "IRR3", "IRR4", "IRR5", "IRR6", "IRR7"},
    };
    unsigned sub = 0;
    const struct lapic_reg_desc *d = reg_lookup(offset, &sub);
    if (!d)
        return NULL;
    if (d->count == 8)
        return banked[d->off == VMDL_LAPIC_ISR ? 0 : d->off == VMDL_LAPIC_TMR ? 1 : 2][sub];
    return d->name;
}

static unsigned reg_flags(const struct vmdl_lapic *a, unsigned off)
{
    const struct lapic_reg_desc *d = reg_lookup(off, NULL);
    if (!d)
        return 0;
    if ((d->flags & CMCI) && a->bus->nr_lvt < 7)
        return 0;
    return d->flags;
}

/* Writable bits of each LVT (KVM's apic_lvt_mask): vector, delivery
 * status, mask; plus delivery mode where it exists; LINT0/1 add polarity,
 * remote IRR and trigger mode.  The timer adds its mode bits. */
#define LVT_BASE_MASK (VMDL_LAPIC_LVT_MASKED | VMDL_LAPIC_ICR_BUSY | 0xFFu)
#define LVT_DM_MASK 0x700u
#define LVT_LINT_MASK (LVT_BASE_MASK | LVT_DM_MASK | 0x2000u | 0x4000u | 0x8000u)

static uint32_t lvt_write_mask(const struct vmdl_lapic *a, unsigned off)
{
    switch (off) {
    case VMDL_LAPIC_LVT_TIMER:
        return LVT_BASE_MASK | VMDL_LAPIC_TIMER_PERIODIC |
               (a->bus->cfg.tsc_deadline ? VMDL_LAPIC_TIMER_TSC_DEADLINE : 0);
    case VMDL_LAPIC_LVT_THERMAL:
    case VMDL_LAPIC_LVT_PERF:
    case VMDL_LAPIC_LVT_CMCI:
        return LVT_BASE_MASK | LVT_DM_MASK;
    case VMDL_LAPIC_LVT_LINT0:
    case VMDL_LAPIC_LVT_LINT1:
        return LVT_LINT_MASK;
    case VMDL_LAPIC_LVT_ERROR:
        return LVT_BASE_MASK;
    }
    return 0;
}

static const unsigned lvt_offsets[] = {
    VMDL_LAPIC_LVT_TIMER, VMDL_LAPIC_LVT_THERMAL, VMDL_LAPIC_LVT_PERF,
    VMDL_LAPIC_LVT_LINT0, VMDL_LAPIC_LVT_LINT1,   VMDL_LAPIC_LVT_ERROR,
    VMDL_LAPIC_LVT_CMCI,
};

/* ------------------------------------------------------------------ */
/* Priorities                                                          */

int vmdl_lapic_ppr_of(uint32_t tpr, int isrv)
{
    uint32_t isr_class = isrv < 0 ? 0 : ((unsigned)isrv & 0xF0);
    if ((tpr & 0xF0) >= isr_class)
        return (int)(tpr & 0xFF);
    return (int)isr_class;
}

void vmdl_lapic_update_ppr(struct vmdl_lapic *a)
{
    lapic_set(a, VMDL_LAPIC_PPR,
              (uint32_t)vmdl_lapic_ppr_of(lapic_get(a, VMDL_LAPIC_TPR),
                                          lapic_vec_highest(a, VMDL_LAPIC_ISR)));
}

void vmdl_lapic_notify_isr(struct vmdl_lapic *a)
{
    if (a->be == &vmdl_lapic_apicv_backend && a->hooks.isr_update)
        a->hooks.isr_update(a->hooks.opaque, a,
                            lapic_vec_highest(a, VMDL_LAPIC_ISR));
}

/* ------------------------------------------------------------------ */
/* The software backend: scan IRR and ISR in the page.                 */

static void sw_set_irr(struct vmdl_lapic *a, uint8_t vec)
{
    lapic_vec_set(a, VMDL_LAPIC_IRR, vec);
}

static int sw_pending(struct vmdl_lapic *a)
{
    int v = lapic_vec_highest(a, VMDL_LAPIC_IRR);
    if (v < 0 || ((unsigned)v & 0xF0) <= (lapic_get(a, VMDL_LAPIC_PPR) & 0xF0))
        return -1;
    return v;
}

static void sw_deliver(struct vmdl_lapic *a, uint8_t vec)
{
    lapic_vec_clear(a, VMDL_LAPIC_IRR, vec);
    lapic_vec_set(a, VMDL_LAPIC_ISR, vec);
    vmdl_lapic_update_ppr(a);
}

static int sw_eoi(struct vmdl_lapic *a, bool *side_effects)
{
    int v = lapic_vec_highest(a, VMDL_LAPIC_ISR);
    if (v < 0)
        return -1;
    lapic_vec_clear(a, VMDL_LAPIC_ISR, (unsigned)v);
    vmdl_lapic_update_ppr(a);
    *side_effects = true;
    return v;
}

static void sw_noop_tpr(struct vmdl_lapic *a, uint32_t old)
{
    (void)a;
    (void)old;
}

static void sw_noop(struct vmdl_lapic *a)
{
    (void)a;
}

static void sw_activate(struct vmdl_lapic *a, bool on)
{
    (void)a;
    (void)on;
}

const struct lapic_backend vmdl_lapic_sw_backend = {
    .name = "software",
    .set_irr = sw_set_irr,
    .pending = sw_pending,
    .deliver = sw_deliver,
    .eoi = sw_eoi,
    .tpr_written = sw_noop_tpr,
    .sync = sw_noop,
    .activate = sw_activate,
};

/* ------------------------------------------------------------------ */
/* INIT performed (KVM's kvm_apic_accept_events after the INIT bit): APIC
 * INIT reset, the BSP runnable again, an AP waiting for SIPI. */
static void do_init(struct vmdl_lapic *a)
{
    const struct vmdl_lapic_bus_ops *ops = &a->bus->cfg.ops;
    vmdl_lapic_reset(a, true);
    a->mp_state = (a->apic_base & VMDL_APIC_BASE_BSP) ? VMDL_LAPIC_MP_RUNNABLE
                                                      : VMDL_LAPIC_MP_WAIT_SIPI;
    if (ops->init_sipi)
        ops->init_sipi(ops->opaque, a->index, false, 0);
}

/* A SIPI starts a CPU waiting for one; any other drops it (false). */
static bool do_sipi(struct vmdl_lapic *a, uint8_t vec)
{
    const struct vmdl_lapic_bus_ops *ops = &a->bus->cfg.ops;
    if (a->mp_state != VMDL_LAPIC_MP_WAIT_SIPI)
        return false;
    a->st.sipis++;
    a->sipi_vector = vec;
    a->mp_state = VMDL_LAPIC_MP_RUNNABLE;
    if (ops->init_sipi)
        ops->init_sipi(ops->opaque, a->index, true, vec);
    return true;
}

/* Errors (ESR) and local delivery                                     */

static int accept_irq(struct vmdl_lapic *a, unsigned dm, unsigned vec,
                      bool level_assert, bool trig_level);

void vmdl_lapic_error(struct vmdl_lapic *a, uint32_t bit)
{
    /* KVM records no APIC error at all: ESR stays 0 (lapic.c has no code
     * that sets it).  Only the SDM option accumulates them. */
    if (!(a->bus->cfg.flags & VMDL_LAPIC_F_SDM_ESR))
        return;
    a->esr_pending |= bit;
    /* An LVT error entry with an illegal vector would report itself
     * forever; deliver at most one level deep (per APIC: no state is shared
     * between VMs or threads). */
    if (a->error_depth)
        return;
    a->error_depth++;
    vmdl_lapic_local_deliver(a, VMDL_LAPIC_LVT_ERROR);
    a->error_depth--;
}

int vmdl_lapic_local_deliver(struct vmdl_lapic *a, unsigned lvt_offset)
{
    if (!a)
        return vmdl_fail(VMDL_EINVAL, "vmdl_lapic_local_deliver: NULL apic");
    if (!lvt_write_mask(a, lvt_offset) ||
        (lvt_offset == VMDL_LAPIC_LVT_CMCI && a->bus->nr_lvt < 7))
        return vmdl_fail(VMDL_EINVAL,
                         "vmdl_lapic_local_deliver: 0x%x is not an LVT entry",
                         lvt_offset);
    uint32_t reg = lapic_get(a, lvt_offset);
    if (!lapic_hw_enabled(a) || (reg & VMDL_LAPIC_LVT_MASKED))
        return 0;
    unsigned dm = (reg >> VMDL_LAPIC_DM_SHIFT) & 7;
    if (lvt_offset == VMDL_LAPIC_LVT_TIMER || lvt_offset == VMDL_LAPIC_LVT_ERROR)
        dm = VMDL_LAPIC_DM_FIXED; /* these entries have no delivery mode */
    bool level = (lvt_offset == VMDL_LAPIC_LVT_LINT0 ||
                  lvt_offset == VMDL_LAPIC_LVT_LINT1) &&
                 (reg & VMDL_LAPIC_LVT_LEVEL);
    int r = accept_irq(a, dm, reg & 0xFF, true, level);
    /* KVM (kvm_apic_local_deliver) masks LVTPC after a PMI was accepted,
     * for Intel-compatible guests only, as Intel CPUs do; AMD does not. */
    if (r && lvt_offset == VMDL_LAPIC_LVT_PERF && !a->bus->cfg.amd)
        lapic_set(a, VMDL_LAPIC_LVT_PERF, reg | VMDL_LAPIC_LVT_MASKED);
    return r;
}

/* Accept one interrupt message (KVM's __apic_accept_irq).  Returns 1 when
 * it was taken. */
static int accept_irq(struct vmdl_lapic *a, unsigned dm, unsigned vec,
                      bool level_assert, bool trig_level)
{
    const struct vmdl_lapic_bus_ops *ops = &a->bus->cfg.ops;
    switch (dm) {
    case VMDL_LAPIC_DM_FIXED:
    case VMDL_LAPIC_DM_LOWEST:
        if (!lapic_hw_enabled(a) || !lapic_sw_enabled(a))
            return 0;
        /* KVM's __apic_accept_irq() takes vectors 0-15 like any other
         * (they never rise above PPR, so they stay in IRR); the SDM
         * refuses them with a receive-illegal-vector error. */
        if (vec < 16 && (a->bus->cfg.flags & VMDL_LAPIC_F_SDM_ESR)) {
            vmdl_lapic_error(a, VMDL_LAPIC_ESR_RECV_ILLEGAL_VECTOR);
            return 0;
        }
        if (trig_level) {
            lapic_vec_set(a, VMDL_LAPIC_TMR, vec);
            vmdl_bitmap_set(a->v.auto_eoi_exit, vec);
        } else {
            lapic_vec_clear(a, VMDL_LAPIC_TMR, vec);
        }
        a->be->set_irr(a, (uint8_t)vec);
        a->st.accepted++;
        break;
    case VMDL_LAPIC_DM_NMI:
        a->nmi_pending++;
        a->st.nmis++;
        break;
    case VMDL_LAPIC_DM_SMI:
        a->st.smis++;
        break;
    case VMDL_LAPIC_DM_INIT:
        /* INIT level de-assert is a no-op on everything since P4. */
        if (trig_level && !level_assert)
            return 0;
        a->st.inits++;
        if (ops->hold_init_sipi && ops->hold_init_sipi(ops->opaque, a->index))
            a->held_events = VMDL_LAPIC_EV_INIT;   /* KVM: replaces a SIPI */
        else
            do_init(a);
        break;
    case VMDL_LAPIC_DM_SIPI:
        if (ops->hold_init_sipi && ops->hold_init_sipi(ops->opaque, a->index)) {
            /* KVM accepts every SIPI; whether it starts anything is
             * decided when it is taken (vmdl_lapic_accept_events). */
            a->held_events |= VMDL_LAPIC_EV_SIPI;
            a->held_sipi_vector = (uint8_t)vec;
            break;
        }
        if (!do_sipi(a, (uint8_t)vec))
            return 0;
        break;
    default:
        /* ExtINT comes from a PIC this model does not have. */
        return 0;
    }
    if (ops->kick)
        ops->kick(ops->opaque, a->index);
    return 1;
}

int vmdl_lapic_accept(struct vmdl_lapic *a, unsigned dm, unsigned vec,
                      bool level_assert, bool trig_level)
{
    return accept_irq(a, dm, vec, level_assert, trig_level);
}

void vmdl_lapic_eoi_side_effects(struct vmdl_lapic *a, int vec)
{
    if (vec < 0 || !lapic_vec_test(a, VMDL_LAPIC_TMR, (unsigned)vec))
        return;
    /* Level-triggered: broadcast the EOI unless software suppressed it
     * (SVR bit 12, only when LVR advertises the capability). */
    if ((lapic_get(a, VMDL_LAPIC_SVR) & VMDL_LAPIC_SVR_SUPPRESS_EOI_BCAST) &&
        (lapic_get(a, VMDL_LAPIC_LVR) & VMDL_LAPIC_LVR_EOI_BCAST_SUPPRESSION))
        return;
    const struct vmdl_lapic_bus_ops *ops = &a->bus->cfg.ops;
    if (ops->eoi_wanted && !ops->eoi_wanted(ops->opaque, a->index, (uint8_t)vec))
        return;
    a->st.eoi_broadcasts++;
    if (a->bus->cfg.ops.eoi_broadcast)
        a->bus->cfg.ops.eoi_broadcast(a->bus->cfg.ops.opaque, a->index,
                                      (uint8_t)vec);
}

static void do_eoi(struct vmdl_lapic *a)
{
    bool side = false;
    int v = a->be->eoi(a, &side);
    if (v < 0)
        return;
    a->isr_cache_valid = false; /* apic_clear_isr(): highest_isr_cache = -1 */
    a->st.eois++;
    if (side)
        vmdl_lapic_eoi_side_effects(a, v);
    vmdl_lapic_notify_isr(a);
}

/* ------------------------------------------------------------------ */
/* KVM paravirtual EOI (lapic.c: pv_eoi_*, apic_sync_pv_eoi_{to,from}_guest) */

static bool pv_eoi_enabled(const struct vmdl_lapic *a)
{
    return (a->pv_eoi_msr & VMDL_KVM_MSR_ENABLED) != 0;
}

static uint64_t pv_eoi_gpa(const struct vmdl_lapic *a)
{
    return a->pv_eoi_msr & ~VMDL_KVM_MSR_ENABLED;
}

static int pv_eoi_put(struct vmdl_lapic *a, uint8_t val)
{
    if (!a->bus->has_mem)
        return -1;
    return vmdl_guest_write(&a->bus->mem, pv_eoi_gpa(a), &val, 1);
}

/* kvm_lapic_sync_from_vapic(): the guest cleared the flag instead of
 * writing EOI, so the EOI happens now; a flag still set is cleared (the
 * next entry sets it again if it still may). */
void vmdl_lapic_vcpu_exit(struct vmdl_lapic *a)
{
    if (!a || !a->pv_eoi_pending)
        return;
    a->pv_eoi_pending = false;
    uint8_t val = 0;
    /* RAM does not go away under the model, but a restored blob may name
     * an address the new VM lacks: then there is nothing to read and
     * nothing is done (KVM would retry at every exit). */
    if (!a->bus->has_mem ||
        vmdl_guest_read(&a->bus->mem, pv_eoi_gpa(a), &val, 1))
        return;
    if (val & VMDL_KVM_PV_EOI_FLAG) {
        pv_eoi_put(a, 0);
        return;
    }
    a->st.pv_eois++;
    do_eoi(a);
}

/*
 * kvm_lapic_sync_to_vapic(): offer PV EOI when nothing is pending in IRR,
 * the last ISR change was the delivery of the in-service vector (so its EOI
 * cannot unmask anything but the vectors below it), and the vector needs no
 * EOI exit (KVM: kvm_ioapic_handles_vector; here a level-triggered vector
 * or one in the EOI-exit bitmap).  With APICv active KVM has no ISR cache
 * and never offers it.
 */
static void pv_eoi_sync_to_guest(struct vmdl_lapic *a)
{
    if (!pv_eoi_enabled(a) || !a->isr_cache_valid ||
        a->be != &vmdl_lapic_sw_backend)
        return;
    if (lapic_vec_highest(a, VMDL_LAPIC_IRR) >= 0)
        return;
    int vec = lapic_vec_highest(a, VMDL_LAPIC_ISR);
    if (vec < 0 || lapic_vec_test(a, VMDL_LAPIC_TMR, (unsigned)vec) ||
        vmdl_bitmap_test(a->v.eoi_exit, (unsigned)vec) ||
        vmdl_bitmap_test(a->v.auto_eoi_exit, (unsigned)vec))
        return;
    if (pv_eoi_put(a, VMDL_KVM_PV_EOI_FLAG))
        return;
    a->pv_eoi_pending = true;
}

bool vmdl_lapic_exit_quiet(const struct vmdl_lapic *a)
{
    return a && !a->pv_eoi_pending && !(a->bus->cfg.apicv && a->v.pi_in_guest);
}

void vmdl_lapic_vcpu_entry(struct vmdl_lapic *a)
{
    if (!a)
        return;
    vmdl_lapic_vcpu_exit(a); /* an entry always follows an exit */
    if (a->bus->cfg.apicv)
        vmdl_apicv_vcpu_load(a);
    pv_eoi_sync_to_guest(a);
}

/* kvm_lapic_set_pv_eoi() and the MSR_KVM_PV_EOI_EN cases of
 * kvm_{get,set}_msr_common(): #GP unless CPUID advertises PV EOI; the
 * address (bits 63:1) must be 4-byte aligned; enabling needs the byte to be
 * guest RAM (kvm_gfn_to_hva_cache_init); any other value is stored as is. */
static vmdl_fault pv_eoi_msr_write(struct vmdl_lapic *a, uint64_t value)
{
    uint64_t gpa = value & ~VMDL_KVM_MSR_ENABLED;
    if (a->bus->cfg.no_pv_eoi || (gpa & 3))
        return VMDL_FAULT_GP;
    if (value & VMDL_KVM_MSR_ENABLED) {
        uint8_t probe;
        if (!a->bus->has_mem ||
            vmdl_guest_read(&a->bus->mem, gpa, &probe, 1))
            return VMDL_FAULT_GP;
    }
    a->pv_eoi_msr = value;
    return VMDL_FAULT_NONE;
}

/* ------------------------------------------------------------------ */
/* Timer                                                               */

static unsigned timer_mode(const struct vmdl_lapic *a)
{
    return (lapic_get(a, VMDL_LAPIC_LVT_TIMER) >> 17) & 3;
}

static void update_divide(struct vmdl_lapic *a)
{
    uint32_t tdcr = lapic_get(a, VMDL_LAPIC_TDCR) & 0xF;
    uint32_t t = ((tdcr & 3) | ((tdcr & 8) >> 1)) + 1;
    a->divide = 1u << (t & 7);
}

static void timer_cancel(struct vmdl_lapic *a)
{
    a->timer_expiry = UINT64_MAX;
}

/*
 * KVM's limit_periodic_timer_frequency(): a periodic timer's period is at
 * least min_timer_period_us (200 us by default).  One-shot and TSC-deadline
 * timers are not limited.  KVM applies it wherever the period is computed:
 * TMICT writes, divider changes and LVTT mode changes.
 */
static void limit_periodic(struct vmdl_lapic *a)
{
    uint64_t floor = a->bus->min_period;
    if (timer_mode(a) == TM_PERIODIC && a->timer_period &&
        a->timer_period < floor) {
        a->timer_period = floor;
        a->st.timer_periods_raised++;
    }
}

static void timer_start(struct vmdl_lapic *a)
{
    uint32_t tmict = lapic_get(a, VMDL_LAPIC_TMICT);
    a->timer_period = (uint64_t)tmict * a->divide;
    limit_periodic(a);
    a->timer_start = a->now;
    /* The first expiry is a full (limited) period away, as KVM's
     * set_target_expiration(). */
    a->timer_expiry = tmict ? a->now + a->timer_period : UINT64_MAX;
}

static void timer_fire(struct vmdl_lapic *a)
{
    a->st.timer_fires++;
    vmdl_lapic_local_deliver(a, VMDL_LAPIC_LVT_TIMER);
}

static void timer_check(struct vmdl_lapic *a)
{
    if (timer_mode(a) == TM_DEADLINE) {
        if (a->tsc_deadline && a->now >= a->tsc_deadline) {
            a->tsc_deadline = 0; /* KVM clears it: the MSR then reads 0 */
            timer_fire(a);
        }
        return;
    }
    if (a->timer_expiry > a->now)
        return;
    timer_fire(a);
    if (timer_mode(a) == TM_PERIODIC && a->timer_period) {
        /* Missed periods coalesce into one interrupt, as in KVM. */
        /* The next expiry is on the grid of the one that fired (KVM's
         * advance_periodic_target_expiration adds the period to it), the
         * first one after now. */
        uint64_t k = (a->now - a->timer_expiry) / a->timer_period + 1;
        a->timer_expiry += k * a->timer_period;
        a->timer_start = a->timer_expiry - a->timer_period;
    } else {
        timer_cancel(a);
    }
}

static uint32_t timer_current_count(const struct vmdl_lapic *a)
{
    if (timer_mode(a) == TM_DEADLINE || a->timer_expiry == UINT64_MAX ||
        a->timer_expiry <= a->now)
        return 0;
    return (uint32_t)((a->timer_expiry - a->now) / a->divide);
}

static void lvtt_mode_changed(struct vmdl_lapic *a, unsigned old_mode)
{
    unsigned m = timer_mode(a);
    if (m == old_mode)
        return;
    /* apic_update_lvtt(): the period a one-shot count gave becomes subject
     * to the floor once the timer turns periodic (the pending expiry
     * stays; the periods after it are the new length). */
    limit_periodic(a);
    if ((m == TM_DEADLINE) != (old_mode == TM_DEADLINE)) {
        /* Switching into or out of TSC-deadline mode disarms everything
         * (SDM 11.5.4.1; KVM apic_update_lvtt). */
        timer_cancel(a);
        lapic_set(a, VMDL_LAPIC_TMICT, 0);
        a->timer_period = 0;
        a->tsc_deadline = 0;
    }
}

void vmdl_lapic_advance(struct vmdl_lapic *a, uint64_t now)
{
    if (!a)
        return;
    vmdl_lapic_vcpu_exit(a);
    if (now < a->now)
        return;
    a->now = now;
    timer_check(a);
}

uint64_t vmdl_lapic_next_event(const struct vmdl_lapic *a)
{
    if (!a)
        return UINT64_MAX;
    if (timer_mode(a) == TM_DEADLINE)
        return a->tsc_deadline ? a->tsc_deadline : UINT64_MAX;
    return a->timer_expiry;
}

uint64_t vmdl_lapic_now(const struct vmdl_lapic *a)
{
    return a ? a->now : 0;
}

/* ------------------------------------------------------------------ */
/* IDs and APIC base                                                   */

static void set_xapic_id(struct vmdl_lapic *a, uint8_t id)
{
    lapic_set(a, VMDL_LAPIC_ID, (uint32_t)id << 24);
}

static void set_x2apic_id(struct vmdl_lapic *a, uint32_t id)
{
    lapic_set(a, VMDL_LAPIC_ID, id);
    lapic_set(a, VMDL_LAPIC_LDR, ((id >> 4) << 16) | (1u << (id & 0xF)));
}

enum vmdl_lapic_mode vmdl_lapic_mode(const struct vmdl_lapic *a)
{
    if (!lapic_hw_enabled(a))
        return VMDL_LAPIC_MODE_DISABLED;
    return lapic_x2apic(a) ? VMDL_LAPIC_MODE_X2APIC : VMDL_LAPIC_MODE_XAPIC;
}

static bool mode_invalid(uint64_t v)
{
    return (v & VMDL_APIC_BASE_EXTD) && !(v & VMDL_APIC_BASE_EN);
}

static uint64_t base_reserved(const struct vmdl_lapic *a)
{
    return VMDL_GENMASK(63, LAPIC_MAXPHYADDR) | 0x2FFu |
           (a->bus->cfg.x2apic ? 0 : VMDL_APIC_BASE_EXTD);
}

static void apply_base(struct vmdl_lapic *a, uint64_t value)
{
    uint64_t old = a->apic_base;
    enum vmdl_lapic_mode old_mode = vmdl_lapic_mode(a);
    a->apic_base = value;
    if ((old ^ value) & VMDL_APIC_BASE_EN) {
        if (value & VMDL_APIC_BASE_EN)
            set_xapic_id(a, (uint8_t)a->initial_id);
    }
    if ((old ^ value) & VMDL_APIC_BASE_EXTD) {
        if (value & VMDL_APIC_BASE_EXTD)
            set_x2apic_id(a, a->initial_id);
        else if (value & VMDL_APIC_BASE_EN)
            set_xapic_id(a, (uint8_t)a->initial_id);
    }
    enum vmdl_lapic_mode mode = vmdl_lapic_mode(a);
    if (mode != old_mode && a->hooks.mode_update)
        a->hooks.mode_update(a->hooks.opaque, a, mode);
    vmdl_lapic_bus_recompute_inhibits(a->bus);
}

static int set_base(struct vmdl_lapic *a, uint64_t value, bool host)
{
    if (value == a->apic_base)
        return 0;
    if ((value & base_reserved(a)) || mode_invalid(value))
        return 1;
    if (!host) {
        enum vmdl_lapic_mode o = vmdl_lapic_mode(a);
        enum vmdl_lapic_mode n = !(value & VMDL_APIC_BASE_EN)
                                     ? VMDL_LAPIC_MODE_DISABLED
                                 : (value & VMDL_APIC_BASE_EXTD)
                                     ? VMDL_LAPIC_MODE_X2APIC
                                     : VMDL_LAPIC_MODE_XAPIC;
        if (o == VMDL_LAPIC_MODE_X2APIC && n == VMDL_LAPIC_MODE_XAPIC)
            return 1;
        if (o == VMDL_LAPIC_MODE_DISABLED && n == VMDL_LAPIC_MODE_X2APIC)
            return 1;
    }
    apply_base(a, value);
    return 0;
}

int vmdl_lapic_set_base_host(struct vmdl_lapic *a, uint64_t value)
{
    if (!a)
        return vmdl_fail(VMDL_EINVAL, "vmdl_lapic_set_base_host: NULL apic");
    if (set_base(a, value, true))
        return vmdl_fail(VMDL_EINVAL,
                         "vmdl_lapic_set_base_host: value 0x%llx has reserved "
                         "bits or EXTD without EN",
                         (unsigned long long)value);
    return 0;
}

uint64_t vmdl_lapic_get_base(const struct vmdl_lapic *a)
{
    return a ? a->apic_base : 0;
}

/* ------------------------------------------------------------------ */
/* Reset                                                               */

void vmdl_lapic_reset(struct vmdl_lapic *a, bool init_event)
{
    if (!a)
        return;
    struct vmdl_lapic_bus *bus = a->bus;
    if (!init_event) {
        uint64_t v = VMDL_LAPIC_DEFAULT_BASE | VMDL_APIC_BASE_EN;
        if (a->index == 0)
            v |= VMDL_APIC_BASE_BSP;
        memset(a->regs, 0, sizeof(a->regs));
        a->apic_base = 0; /* force the EN transition: sets the xAPIC ID */
        a->apic_base = v;
        a->mp_state = VMDL_LAPIC_MP_RUNNABLE;
        a->sipi_vector = -1;
        a->held_events = 0;
        memset(&a->st, 0, sizeof(a->st));
    }
    timer_cancel(a);
    /* The xAPIC ID is set at RESET, kept at INIT (KVM). */
    if (!init_event)
        set_xapic_id(a, (uint8_t)a->initial_id);
    uint32_t lvr = 0x14u | ((bus->nr_lvt - 1) << 16);
    if (bus->cfg.eoi_bcast_suppression)
        lvr |= VMDL_LAPIC_LVR_EOI_BCAST_SUPPRESSION;
    lapic_set(a, VMDL_LAPIC_LVR, lvr);
    for (unsigned i = 0; i < bus->nr_lvt; i++)
        lapic_set(a, lvt_offsets[i], VMDL_LAPIC_LVT_MASKED);
    /* KVM quirk LINT0_REENABLED: the BSP's LINT0 comes out of RESET/INIT
     * unmasked in ExtINT mode; the SDM has every LVT masked. */
    if ((a->apic_base & VMDL_APIC_BASE_BSP) &&
        !(bus->cfg.flags & VMDL_LAPIC_F_NO_LINT0_QUIRK))
        lapic_set(a, VMDL_LAPIC_LVT_LINT0,
                  VMDL_LAPIC_DM_EXTINT << VMDL_LAPIC_DM_SHIFT);
    lapic_set(a, VMDL_LAPIC_DFR, 0xFFFFFFFFu);
    lapic_set(a, VMDL_LAPIC_SVR, 0xFF);
    lapic_set(a, VMDL_LAPIC_TPR, 0);
    if (!lapic_x2apic(a))
        lapic_set(a, VMDL_LAPIC_LDR, 0);
    lapic_set(a, VMDL_LAPIC_ESR, 0);
    a->esr_pending = 0;
    lapic_set(a, VMDL_LAPIC_ICR, 0);
    lapic_set(a, VMDL_LAPIC_ICR + 4, 0);
    lapic_set(a, VMDL_LAPIC_ICR2, 0);
    lapic_set(a, VMDL_LAPIC_TDCR, 0);
    lapic_set(a, VMDL_LAPIC_TMICT, 0);
    for (unsigned i = 0; i < 8; i++) {
        lapic_set(a, VMDL_LAPIC_IRR + 0x10 * i, 0);
        lapic_set(a, VMDL_LAPIC_ISR + 0x10 * i, 0);
        lapic_set(a, VMDL_LAPIC_TMR + 0x10 * i, 0);
    }
    update_divide(a);
    a->timer_period = 0;
    a->timer_start = a->now;
    a->tsc_deadline = 0;
    a->nmi_pending = 0;
    vmdl_apicv_reset(a, init_event);
    /* kvm_lapic_reset(): PV EOI off and no attention bit, RESET and INIT. */
    a->pv_eoi_msr = 0;
    a->pv_eoi_pending = false;
    a->isr_cache_valid = false;
    vmdl_lapic_update_ppr(a);
    if (!init_event)
        vmdl_lapic_bus_recompute_inhibits(bus);
}

/* ------------------------------------------------------------------ */
/* Register read/write (KVM's kvm_lapic_reg_read / _write)              */

static void sync_backend(struct vmdl_lapic *a)
{
    a->be->sync(a);
}

/* Returns 1 when the register is not readable in the current mode. */
static int reg_read(struct vmdl_lapic *a, unsigned off, uint32_t *out)
{
    unsigned f = reg_flags(a, off);
    if (!(f & (lapic_x2apic(a) ? R_2 : R_X)))
        return 1;
    switch (off) {
    case VMDL_LAPIC_APR:
        *out = 0; /* KVM reads ARBPRI as 0; the SDM computes it */
        return 0;
    case VMDL_LAPIC_TMCCT:
        *out = timer_current_count(a);
        return 0;
    case VMDL_LAPIC_PPR:
        vmdl_lapic_update_ppr(a);
        break;
    default:
        if (off >= VMDL_LAPIC_ISR && off < VMDL_LAPIC_ESR)
            sync_backend(a);
        break;
    }
    *out = lapic_get(a, off);
    return 0;
}

static void set_tpr(struct vmdl_lapic *a, uint32_t tpr)
{
    uint32_t old = lapic_get(a, VMDL_LAPIC_TPR);
    lapic_set(a, VMDL_LAPIC_TPR, tpr & 0xFF);
    vmdl_lapic_update_ppr(a);
    a->be->tpr_written(a, old);
}

static void set_svr(struct vmdl_lapic *a, uint32_t val)
{
    uint32_t mask = 0x3FF;
    if (lapic_get(a, VMDL_LAPIC_LVR) & VMDL_LAPIC_LVR_EOI_BCAST_SUPPRESSION)
        mask |= VMDL_LAPIC_SVR_SUPPRESS_EOI_BCAST;
    lapic_set(a, VMDL_LAPIC_SVR, val & mask);
    if (!(val & VMDL_LAPIC_SVR_ENABLE)) {
        /* Software disable masks every LVT entry (SDM 11.4.7.2). */
        for (unsigned i = 0; i < a->bus->nr_lvt; i++)
            lapic_set(a, lvt_offsets[i],
                      lapic_get(a, lvt_offsets[i]) | VMDL_LAPIC_LVT_MASKED);
    }
    vmdl_lapic_bus_recompute_inhibits(a->bus);
}

/* Returns 1 when the write is refused (#GP in x2APIC, ignored in xAPIC). */
static int reg_write(struct vmdl_lapic *a, unsigned off, uint32_t val)
{
    bool x2 = lapic_x2apic(a);
    unsigned f = reg_flags(a, off);
    if (!(f & (x2 ? W_2 : W_X)))
        return 1;
    switch (off) {
    case VMDL_LAPIC_ID:
        set_xapic_id(a, (uint8_t)(val >> 24));
        vmdl_lapic_bus_recompute_inhibits(a->bus);
        break;
    case VMDL_LAPIC_TPR:
        set_tpr(a, val);
        break;
    case VMDL_LAPIC_EOI:
        /* The SDM wants #GP for a non-zero x2APIC EOI write; KVM accepts
         * any value, and so does the model. */
        do_eoi(a);
        break;
    case VMDL_LAPIC_LDR:
        lapic_set(a, VMDL_LAPIC_LDR, val & 0xFF000000u);
        break;
    case VMDL_LAPIC_DFR:
        lapic_set(a, VMDL_LAPIC_DFR, val | 0x0FFFFFFFu);
        break;
    case VMDL_LAPIC_SVR:
        set_svr(a, val);
        break;
    case VMDL_LAPIC_ESR:
        if (x2 && val != 0)
            return 1;
        /* A write latches the errors seen since the previous write. */
        lapic_set(a, VMDL_LAPIC_ESR, a->esr_pending);
        a->esr_pending = 0;
        break;
    case VMDL_LAPIC_ICR:
        /* xAPIC only here: the x2APIC ICR is written as 64 bits. */
        val &= ~VMDL_LAPIC_ICR_BUSY;
        lapic_set(a, VMDL_LAPIC_ICR, val);
        vmdl_lapic_send_ipi(a, val, lapic_get(a, VMDL_LAPIC_ICR2) >> 24);
        break;
    case VMDL_LAPIC_ICR2:
        lapic_set(a, VMDL_LAPIC_ICR2, val & 0xFF000000u);
        break;
    case VMDL_LAPIC_LVT_TIMER: {
        unsigned old_mode = timer_mode(a);
        if (!lapic_sw_enabled(a))
            val |= VMDL_LAPIC_LVT_MASKED;
        val &= lvt_write_mask(a, off);
        /* Mode 3 is reserved: KVM's mask keeps only the supported bits. */
        lapic_set(a, off, val);
        lvtt_mode_changed(a, old_mode);
        break;
    }
    case VMDL_LAPIC_LVT_THERMAL:
    case VMDL_LAPIC_LVT_PERF:
    case VMDL_LAPIC_LVT_LINT0:
    case VMDL_LAPIC_LVT_LINT1:
    case VMDL_LAPIC_LVT_ERROR:
    case VMDL_LAPIC_LVT_CMCI:
        if (!lapic_sw_enabled(a))
            val |= VMDL_LAPIC_LVT_MASKED;
        lapic_set(a, off, val & lvt_write_mask(a, off));
        break;
    case VMDL_LAPIC_TMICT:
        if (timer_mode(a) == TM_DEADLINE)
            break; /* ignored in TSC-deadline mode */
        lapic_set(a, VMDL_LAPIC_TMICT, val);
        timer_start(a);
        break;
    case VMDL_LAPIC_TDCR: {
        uint32_t old_div = a->divide;
        lapic_set(a, VMDL_LAPIC_TDCR, val & 0xB);
        update_divide(a);
        if (a->divide != old_div && a->timer_expiry != UINT64_MAX &&
            timer_mode(a) != TM_DEADLINE) {
            /* Rescale what is left of the count, as KVM does. */
            uint64_t rem = a->timer_expiry > a->now ? a->timer_expiry - a->now : 0;
            rem = rem / old_div * a->divide;
            a->timer_period = (uint64_t)lapic_get(a, VMDL_LAPIC_TMICT) * a->divide;
            limit_periodic(a); /* update_target_expiration() */
            a->timer_expiry = a->now + rem;
            a->timer_start = a->timer_expiry - a->timer_period;
        }
        break;
    }
    case VMDL_LAPIC_SELF_IPI:
        if (val & ~0xFFu)
            return 1;
        vmdl_lapic_send_ipi(a, (VMDL_LAPIC_SH_SELF << VMDL_LAPIC_SH_SHIFT) | val, 0);
        break;
    default:
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Guest accesses                                                      */

static bool mmio_hole(const struct vmdl_lapic *a)
{
    return !lapic_hw_enabled(a) || lapic_x2apic(a);
}

vmdl_fault vmdl_lapic_mmio_read(struct vmdl_lapic *a, uint64_t offset,
                                unsigned size, uint64_t *value)
{
    if (!a || !value || offset >= LAPIC_PAGE_SIZE)
        return VMDL_FAULT_UNCLAIMED;
    vmdl_lapic_vcpu_exit(a);
    if (mmio_hole(a)) {
        if (a->bus->cfg.flags & VMDL_LAPIC_F_NO_MMIO_HOLE)
            return VMDL_FAULT_UNCLAIMED;
        /* KVM quirk LAPIC_MMIO_HOLE: reads return all ones. */
        *value = size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
        return VMDL_FAULT_NONE;
    }
    *value = 0;
    unsigned align = offset & 0xF;
    uint32_t r;
    if (align + size > 4 || reg_read(a, (unsigned)offset & ~0xFu, &r))
        return VMDL_FAULT_NONE; /* not a readable register: reads 0 */
    r >>= 8 * align;
    *value = size == 4 ? r : r & ((1u << (8 * size)) - 1);
    return VMDL_FAULT_NONE;
}

vmdl_fault vmdl_lapic_mmio_write(struct vmdl_lapic *a, uint64_t offset,
                                 unsigned size, uint64_t value)
{
    if (!a || offset >= LAPIC_PAGE_SIZE)
        return VMDL_FAULT_UNCLAIMED;
    vmdl_lapic_vcpu_exit(a);
    if (mmio_hole(a))
        return (a->bus->cfg.flags & VMDL_LAPIC_F_NO_MMIO_HOLE)
                   ? VMDL_FAULT_UNCLAIMED
                   : VMDL_FAULT_NONE; /* dropped */
    /* Registers are written as aligned 32-bit quantities (SDM 11.4.1);
     * KVM ignores anything else. */
    if (size != 4 || (offset & 0xF))
        return VMDL_FAULT_NONE;
    reg_write(a, (unsigned)offset, (uint32_t)value);
    return VMDL_FAULT_NONE;
}

#define X2APIC_ICR_RESERVED \
    (VMDL_GENMASK(31, 20) | VMDL_GENMASK(17, 16) | VMDL_BIT(13))

vmdl_fault vmdl_lapic_msr_read(struct vmdl_lapic *a, uint32_t index,
                               uint64_t *value)
{
    if (!a || !value)
        return VMDL_FAULT_UNCLAIMED;
    vmdl_lapic_vcpu_exit(a);
    if (index == VMDL_MSR_IA32_APIC_BASE) {
        *value = a->apic_base;
        return VMDL_FAULT_NONE;
    }
    if (index == VMDL_MSR_KVM_PV_EOI_EN) {
        if (a->bus->cfg.no_pv_eoi)
            return VMDL_FAULT_GP;
        *value = a->pv_eoi_msr;
        return VMDL_FAULT_NONE;
    }
    if (index == VMDL_MSR_IA32_TSC_DEADLINE) {
        *value = (lapic_hw_enabled(a) && timer_mode(a) == TM_DEADLINE)
                     ? a->tsc_deadline
                     : 0;
        return VMDL_FAULT_NONE;
    }
    if (index < VMDL_MSR_X2APIC_FIRST || index > VMDL_MSR_X2APIC_LAST)
        return VMDL_FAULT_UNCLAIMED;
    if (!lapic_x2apic(a))
        return VMDL_FAULT_GP;
    unsigned off = (index - VMDL_MSR_X2APIC_FIRST) << 4;
    if (off == VMDL_LAPIC_ICR) {
        *value = lapic_get(a, VMDL_LAPIC_ICR) |
                 (uint64_t)lapic_get(a, VMDL_LAPIC_ICR + 4) << 32;
        return VMDL_FAULT_NONE;
    }
    uint32_t r;
    if (reg_read(a, off, &r))
        return VMDL_FAULT_GP;
    *value = r;
    return VMDL_FAULT_NONE;
}

vmdl_fault vmdl_lapic_msr_write(struct vmdl_lapic *a, uint32_t index,
                                uint64_t value)
{
    if (!a)
        return VMDL_FAULT_UNCLAIMED;
    vmdl_lapic_vcpu_exit(a);
    if (index == VMDL_MSR_IA32_APIC_BASE)
        return set_base(a, value, false) ? VMDL_FAULT_GP : VMDL_FAULT_NONE;
    if (index == VMDL_MSR_KVM_PV_EOI_EN)
        return pv_eoi_msr_write(a, value);
    if (index == VMDL_MSR_IA32_TSC_DEADLINE) {
        /* Writes outside TSC-deadline mode are ignored (SDM 11.5.4.1). */
        if (lapic_hw_enabled(a) && timer_mode(a) == TM_DEADLINE) {
            a->tsc_deadline = value;
            timer_check(a);
        }
        return VMDL_FAULT_NONE;
    }
    if (index < VMDL_MSR_X2APIC_FIRST || index > VMDL_MSR_X2APIC_LAST)
        return VMDL_FAULT_UNCLAIMED;
    if (!lapic_x2apic(a))
        return VMDL_FAULT_GP;
    unsigned off = (index - VMDL_MSR_X2APIC_FIRST) << 4;
    if (off == VMDL_LAPIC_ICR) {
        if (value & X2APIC_ICR_RESERVED)
            return VMDL_FAULT_GP;
        value &= ~(uint64_t)VMDL_LAPIC_ICR_BUSY;
        lapic_set(a, VMDL_LAPIC_ICR, (uint32_t)value);
        lapic_set(a, VMDL_LAPIC_ICR + 4, (uint32_t)(value >> 32));
        vmdl_lapic_send_ipi(a, (uint32_t)value, (uint32_t)(value >> 32));
        return VMDL_FAULT_NONE;
    }
    if (value >> 32)
        return VMDL_FAULT_GP; /* bits 63:32 reserved in every other MSR */
    return reg_write(a, off, (uint32_t)value) ? VMDL_FAULT_GP : VMDL_FAULT_NONE;
}

/* A trap-like APIC-write VM exit (APIC-register virtualization): the value
 * is already in the virtual-APIC page; act on it as KVM's
 * kvm_apic_write_nodecode does, whatever the APIC mode. */
void vmdl_lapic_write_nodecode(struct vmdl_lapic *a, unsigned off, uint32_t val)
{
    if (off == VMDL_LAPIC_ICR && lapic_x2apic(a)) {
        lapic_set(a, VMDL_LAPIC_ICR, val & ~VMDL_LAPIC_ICR_BUSY);
        vmdl_lapic_send_ipi(a, val & ~VMDL_LAPIC_ICR_BUSY,
                            lapic_get(a, VMDL_LAPIC_ICR + 4));
        return;
    }
    bool x2 = lapic_x2apic(a);
    a->apic_base &= ~VMDL_APIC_BASE_EXTD; /* decode as the xAPIC register */
    reg_write(a, off, val);
    if (x2)
        a->apic_base |= VMDL_APIC_BASE_EXTD;
}

uint64_t vmdl_lapic_get_cr8(struct vmdl_lapic *a)
{
    if (!a)
        return 0;
    vmdl_lapic_vcpu_exit(a);
    return (lapic_get(a, VMDL_LAPIC_TPR) >> 4) & 0xF;
}

void vmdl_lapic_set_cr8(struct vmdl_lapic *a, uint64_t cr8)
{
    if (!a)
        return;
    vmdl_lapic_vcpu_exit(a);
    set_tpr(a, (uint32_t)(cr8 & 0xF) << 4);
}

uint32_t vmdl_lapic_peek(const struct vmdl_lapic *a, unsigned offset)
{
    if (!a || offset > LAPIC_PAGE_SIZE - 4)
        return 0;
    return lapic_get(a, offset & ~3u);
}

bool vmdl_lapic_accepts_extint(const struct vmdl_lapic *a)
{
    if (!(vmdl_lapic_get_base(a) & VMDL_APIC_BASE_EN))
        return true;
    uint32_t lvt0 = lapic_get(a, VMDL_LAPIC_LVT_LINT0);
    return !(lvt0 & VMDL_LAPIC_LVT_MASKED) && ((lvt0 >> 8) & 7) == VMDL_LAPIC_DM_EXTINT;
}

const uint8_t *vmdl_lapic_page(const struct vmdl_lapic *a)
{
    return a ? a->regs : NULL;
}

/* ------------------------------------------------------------------ */
/* Interrupt flow                                                      */

int vmdl_lapic_pending(struct vmdl_lapic *a)
{
    if (!a)
        return -1;
    vmdl_lapic_vcpu_exit(a);
    if (!lapic_hw_enabled(a))
        return -1;
    return a->be->pending(a);
}

int vmdl_lapic_ack(struct vmdl_lapic *a)
{
    if (!a)
        return -1;
    int v = vmdl_lapic_pending(a);
    if (v < 0)
        return (int)(lapic_get(a, VMDL_LAPIC_SVR) & 0xFF);
    a->be->deliver(a, (uint8_t)v);
    a->st.delivered++;
    /* apic_set_isr(): highest_isr_cache = vec, software backend only. */
    a->isr_cache_valid = a->be == &vmdl_lapic_sw_backend;
    vmdl_lapic_notify_isr(a);
    return v;
}

bool vmdl_lapic_pending_eoi(const struct vmdl_lapic *a, uint8_t vector)
{
    /* The register page only, as KVM (posted but unsynced vectors in PIR
     * are not seen). */
    return a && (lapic_vec_test(a, VMDL_LAPIC_ISR, vector) ||
                 lapic_vec_test(a, VMDL_LAPIC_IRR, vector));
}

bool vmdl_lapic_take_nmi(struct vmdl_lapic *a)
{
    if (!a || !a->nmi_pending)
        return false;
    a->nmi_pending--;
    return true;
}

enum vmdl_lapic_mp_state vmdl_lapic_mp_state(const struct vmdl_lapic *a)
{
    return a ? a->mp_state : VMDL_LAPIC_MP_RUNNABLE;
}

unsigned vmdl_lapic_pending_events(const struct vmdl_lapic *a, uint8_t *sipi_vector)
{
    if (!a)
        return 0;
    if (sipi_vector && (a->held_events & VMDL_LAPIC_EV_SIPI))
        *sipi_vector = a->held_sipi_vector;
    return a->held_events;
}

void vmdl_lapic_clear_events(struct vmdl_lapic *a, unsigned events)
{
    if (a)
        a->held_events &= ~events;
}

void vmdl_lapic_accept_events(struct vmdl_lapic *a, bool init_allowed)
{
    if (!a || !a->held_events)
        return;
    if (!init_allowed) {
        a->held_events &= ~VMDL_LAPIC_EV_SIPI;
        return;
    }
    unsigned ev = a->held_events;
    a->held_events = 0;
    if (ev & VMDL_LAPIC_EV_INIT)
        do_init(a);
    if (ev & VMDL_LAPIC_EV_SIPI)
        (void)do_sipi(a, a->held_sipi_vector);
}

int vmdl_lapic_take_sipi(struct vmdl_lapic *a)
{
    if (!a || a->sipi_vector < 0)
        return -1;
    int v = a->sipi_vector;
    a->sipi_vector = -1;
    return v;
}

static void pmi_raise(void *opaque)
{
    vmdl_lapic_local_deliver(opaque, VMDL_LAPIC_LVT_PERF);
}

void vmdl_lapic_pmi_sink(struct vmdl_lapic *a, struct vmdl_pmi_sink *sink)
{
    if (!sink)
        return;
    sink->raise_pmi = pmi_raise;
    sink->opaque = a;
}

void vmdl_lapic_get_stats(const struct vmdl_lapic *a,
                          struct vmdl_lapic_stats *st)
{
    if (a && st)
        *st = a->st;
}

void vmdl_lapic_set_hooks(struct vmdl_lapic *a,
                          const struct vmdl_lapic_hooks *hooks)
{
    if (!a)
        return;
    if (hooks)
        a->hooks = *hooks;
    else
        memset(&a->hooks, 0, sizeof(a->hooks));
}

unsigned vmdl_lapic_apicv_inhibits(const struct vmdl_lapic *a)
{
    return a ? a->apicv_inhibits : 0;
}

bool vmdl_lapic_apicv_active(const struct vmdl_lapic *a)
{
    return a && a->be == &vmdl_lapic_apicv_backend;
}

/* Called by the bus when the VM-wide inhibit mask changes. */
void vmdl_lapic_set_inhibits(struct vmdl_lapic *a, unsigned inhibits)
{
    a->apicv_inhibits = inhibits;
    if ((inhibits != 0) != (a->be == &vmdl_lapic_sw_backend))
        a->isr_cache_valid = false; /* kvm_apic_update_apicv() */
    const struct lapic_backend *want =
        inhibits ? &vmdl_lapic_sw_backend : &vmdl_lapic_apicv_backend;
    if (want == a->be)
        return;
    bool on = want == &vmdl_lapic_apicv_backend;
    if (!on)
        a->be->activate(a, false); /* flush PIR into IRR first */
    a->be = want;
    if (on)
        a->be->activate(a, true);
    if (a->hooks.apicv_update)
        a->hooks.apicv_update(a->hooks.opaque, a, on,
                              lapic_vec_highest(a, VMDL_LAPIC_ISR));
}

/* ------------------------------------------------------------------ */
/* State export / import                                               */

#define LAPIC_BLOB_MAGIC VMDL_BLOB_MAGIC('L', 'A', 'P', 'C')
/* Version 2 (issue 16) appends the PV-EOI state; version 1 blobs are still
 * read, as "PV EOI off, no ISR cache".  Version 3 appends the held INIT /
 * SIPI (VMDL_LAPIC_EV_* and the SIPI vector); versions 1 and 2 are read as
 * "none held". */
#define LAPIC_BLOB_VERSION 3

int vmdl_lapic_export(const struct vmdl_lapic *a, uint8_t **blob, size_t *len)
{
    if (!a || !blob || !len)
        return vmdl_fail(VMDL_EINVAL, "vmdl_lapic_export: NULL argument");
    struct vmdl_lapic *m = (struct vmdl_lapic *)a;
    m->be->sync(m); /* PIR is part of the state: fold it into IRR */
    struct vmdl_blob_writer w;
    vmdl_blob_begin(&w, LAPIC_BLOB_MAGIC, LAPIC_BLOB_VERSION);
    vmdl_blob_put_u32(&w, a->initial_id);
    vmdl_blob_put_bytes(&w, a->regs, sizeof(a->regs));
    vmdl_blob_put_u64(&w, a->apic_base);
    vmdl_blob_put_u32(&w, a->esr_pending);
    vmdl_blob_put_u64(&w, a->now);
    vmdl_blob_put_u64(&w, a->timer_start);
    vmdl_blob_put_u64(&w, a->timer_period);
    vmdl_blob_put_u64(&w, a->timer_expiry);
    vmdl_blob_put_u64(&w, a->tsc_deadline);
    vmdl_blob_put_u32(&w, a->nmi_pending);
    vmdl_blob_put_u8(&w, (uint8_t)a->mp_state);
    vmdl_blob_put_u16(&w, (uint16_t)(a->sipi_vector < 0 ? 0xFFFF : a->sipi_vector));
    vmdl_blob_put_u16(&w, a->v.gis);
    for (int i = 0; i < 4; i++)
        vmdl_blob_put_u64(&w, a->v.eoi_exit[i]);
    for (int i = 0; i < 4; i++)
        vmdl_blob_put_u64(&w, a->v.auto_eoi_exit[i]);
    vmdl_blob_put_u32(&w, a->v.tpr_threshold);
    vmdl_blob_put_u8(&w, a->v.pi_nv);
    vmdl_blob_put_u64(&w, a->pv_eoi_msr);
    vmdl_blob_put_u8(&w, (uint8_t)((a->pv_eoi_pending ? 1 : 0) |
                                   (a->isr_cache_valid ? 2 : 0)));
    vmdl_blob_put_u8(&w, (uint8_t)a->held_events);
    vmdl_blob_put_u8(&w, a->held_sipi_vector);
    return vmdl_blob_finish(&w, blob, len);
}

int vmdl_lapic_import(struct vmdl_lapic *a, const uint8_t *blob, size_t len)
{
    if (!a)
        return vmdl_fail(VMDL_EINVAL, "vmdl_lapic_import: NULL apic");
    struct vmdl_blob_reader r;
    /* The header's version word picks the layout; anything but 1 is
     * checked against the current version by vmdl_blob_open. */
    uint32_t version = LAPIC_BLOB_VERSION;
    if (blob && len >= 8) {
        uint32_t v;
        memcpy(&v, (const uint8_t *)blob + 4, 4);
        if (v == 1 || v == 2)
            version = v;
    }
    int err = vmdl_blob_open(&r, blob, len, LAPIC_BLOB_MAGIC, version,
                             "lapic state");
    if (err)
        return err;
    struct vmdl_lapic *t = malloc(sizeof(*t));
    if (!t)
        return vmdl_fail(VMDL_ENOMEM, "vmdl_lapic_import: out of memory");
    *t = *a;
    uint32_t id = vmdl_blob_get_u32(&r);
    vmdl_blob_get_bytes(&r, t->regs, sizeof(t->regs));
    t->apic_base = vmdl_blob_get_u64(&r);
    t->esr_pending = vmdl_blob_get_u32(&r);
    t->now = vmdl_blob_get_u64(&r);
    t->timer_start = vmdl_blob_get_u64(&r);
    t->timer_period = vmdl_blob_get_u64(&r);
    t->timer_expiry = vmdl_blob_get_u64(&r);
    t->tsc_deadline = vmdl_blob_get_u64(&r);
    t->nmi_pending = vmdl_blob_get_u32(&r);
    uint8_t mp = vmdl_blob_get_u8(&r);
    uint16_t sipi = vmdl_blob_get_u16(&r);
    t->v.gis = vmdl_blob_get_u16(&r);
    for (int i = 0; i < 4; i++)
        t->v.eoi_exit[i] = vmdl_blob_get_u64(&r);
    for (int i = 0; i < 4; i++)
        t->v.auto_eoi_exit[i] = vmdl_blob_get_u64(&r);
    t->v.tpr_threshold = vmdl_blob_get_u32(&r);
    t->v.pi_nv = vmdl_blob_get_u8(&r);
    uint8_t pv_flags = 0;
    t->pv_eoi_msr = 0;
    if (version >= 2) {
        t->pv_eoi_msr = vmdl_blob_get_u64(&r);
        pv_flags = vmdl_blob_get_u8(&r);
    }
    t->held_events = 0;
    t->held_sipi_vector = 0;
    if (version >= 3) {
        t->held_events = vmdl_blob_get_u8(&r);
        t->held_sipi_vector = vmdl_blob_get_u8(&r);
    }
    t->pv_eoi_pending = pv_flags & 1;
    t->isr_cache_valid = (pv_flags & 2) != 0;
    if (!r.err) {
        if (id != a->initial_id)
            vmdl_blob_reject(&r, "state of another APIC (initial APIC ID differs)");
        else if ((t->apic_base & base_reserved(a)) || mode_invalid(t->apic_base))
            vmdl_blob_reject(&r, "IA32_APIC_BASE has reserved bits or EXTD without EN");
        else if (mp > VMDL_LAPIC_MP_WAIT_SIPI)
            vmdl_blob_reject(&r, "unknown multiprocessor state");
        else if (sipi != 0xFFFF && sipi > 0xFF)
            vmdl_blob_reject(&r, "SIPI vector out of range");
        /* (An expiry before the start is legitimate: a TSC deadline written
         * in the past fires at once; fuzz_lapic found the old check refusing
         * such an APIC's own export.) */
        else if (t->v.tpr_threshold > 0xF)
            vmdl_blob_reject(&r, "TPR threshold has reserved bits");
        else if (lapic_get(t, VMDL_LAPIC_TDCR) & ~0xBu)
            vmdl_blob_reject(&r, "TDCR has reserved bits");
        else if (t->held_events & ~(VMDL_LAPIC_EV_INIT | VMDL_LAPIC_EV_SIPI))
            vmdl_blob_reject(&r, "unknown held INIT/SIPI bits");
        else if (pv_flags & ~3u)
            vmdl_blob_reject(&r, "unknown PV-EOI flags");
        else if (t->pv_eoi_msr & 2)
            vmdl_blob_reject(&r, "PV-EOI address not 4-byte aligned");
        else if ((t->pv_eoi_pending || t->pv_eoi_msr) && a->bus->cfg.no_pv_eoi)
            vmdl_blob_reject(&r, "PV EOI in use but not advertised to this VM");
        else if (t->pv_eoi_pending && !(t->pv_eoi_msr & VMDL_KVM_MSR_ENABLED))
            vmdl_blob_reject(&r, "PV-EOI flag pending with PV EOI disabled");
        else if (lapic_get(t, VMDL_LAPIC_ISR) & 0xFFFFu)
            /* Vectors 0-15 are class 0, never above PPR: nothing can put
             * them in service (found by fuzz_blobs; regression:
             * fuzz/regressions/blobs). */
            vmdl_blob_reject(&r, "vectors 0-15 in service");
        else if ((a->bus->cfg.flags & VMDL_LAPIC_F_SDM_ESR) &&
                 (lapic_get(t, VMDL_LAPIC_IRR) & 0xFFFFu))
            /* Under the SDM's rules they are refused on receipt; under
             * KVM's they may sit in IRR. */
            vmdl_blob_reject(&r, "vectors 0-15 pending (SDM ESR rules)");
    }
    err = vmdl_blob_close(&r);
    if (err) {
        free(t);
        return err;
    }
    t->mp_state = (enum vmdl_lapic_mp_state)mp;
    t->sipi_vector = sipi == 0xFFFF ? -1 : sipi;
    /* Commit.  The PIR was folded into IRR on export: start it empty. */
    memset(t->v.pi_host, 0, 32);
    update_divide(t);
    enum vmdl_lapic_mode old_mode = vmdl_lapic_mode(a);
    *a = *t;
    free(t);
    vmdl_lapic_update_ppr(a);
    if (a->be == &vmdl_lapic_apicv_backend)
        vmdl_apicv_recompute(a);
    if (vmdl_lapic_mode(a) != old_mode && a->hooks.mode_update)
        a->hooks.mode_update(a->hooks.opaque, a, vmdl_lapic_mode(a));
    vmdl_lapic_bus_recompute_inhibits(a->bus);
    return 0;
}
