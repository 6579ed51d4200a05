/* SPDX-License-Identifier: MIT */
/*
 * The per-VM APIC bus: owns every vCPU's APIC, routes IPIs and external
 * interrupt messages (physical / logical flat / logical cluster / x2APIC
 * cluster destinations, shorthands, broadcast), picks the target of a
 * lowest-priority message deterministically, and keeps the VM-wide APICv
 * inhibit mask as KVM does.
 */
#include <stdlib.h>
#include <string.h>

#include "virtmodel/error.h"
#include "lapic_priv.h"

int vmdl_lapic_bus_create(const struct vmdl_lapic_bus_config *cfg,
                          struct vmdl_lapic_bus **out)
{
    if (!cfg || !out)
        return vmdl_fail(VMDL_EINVAL, "vmdl_lapic_bus_create: NULL argument");
    *out = NULL;
    if (cfg->nr_apics == 0 || cfg->nr_apics > VMDL_LAPIC_BUS_MAX)
        return vmdl_fail(VMDL_ERANGE,
                         "vmdl_lapic_bus_create: nr_apics %u not in 1..%u",
                         cfg->nr_apics, VMDL_LAPIC_BUS_MAX);
    if (cfg->flags & ~VMDL_LAPIC_F_ALL)
        return vmdl_fail(VMDL_EINVAL,
                         "vmdl_lapic_bus_create: unknown flags 0x%x (bit 2, "
                         "the old VMDL_LAPIC_F_KVM_ESR, is the default now; "
                         "VMDL_LAPIC_F_SDM_ESR selects the SDM's ESR rules)",
                         cfg->flags & ~VMDL_LAPIC_F_ALL);
    if (cfg->apic_ids) {
        for (unsigned i = 0; i < cfg->nr_apics; i++) {
            if (cfg->apic_ids[i] == 0xFFFFFFFFu ||
                (!cfg->x2apic && cfg->apic_ids[i] > 0xFE))
                return vmdl_fail(VMDL_ERANGE,
                                 "vmdl_lapic_bus_create: apic_ids[%u] = 0x%x "
                                 "is a broadcast ID or needs x2APIC",
                                 i, cfg->apic_ids[i]);
            for (unsigned j = 0; j < i; j++)
                if (cfg->apic_ids[j] == cfg->apic_ids[i])
                    return vmdl_fail(VMDL_EINVAL,
                                     "vmdl_lapic_bus_create: apic_ids[%u] "
                                     "repeats apic_ids[%u]", i, j);
        }
    }
    struct vmdl_lapic_bus *bus =
        calloc(1, sizeof(*bus) + cfg->nr_apics * sizeof(bus->apics[0]));
    if (!bus)
        return vmdl_fail(VMDL_ENOMEM, "vmdl_lapic_bus_create: out of memory");
    bus->cfg = *cfg;
    bus->cfg.apic_ids = NULL; /* not kept: the caller's array */
    bus->n = cfg->nr_apics;
    bus->nr_lvt = cfg->cmci ? 7 : 6;
    if (!(cfg->flags & VMDL_LAPIC_F_NO_MIN_PERIOD))
        bus->min_period = (uint64_t)(cfg->min_timer_period_us
                                         ? cfg->min_timer_period_us
                                         : VMDL_LAPIC_MIN_TIMER_PERIOD_US) *
                          VMDL_LAPIC_TICKS_PER_US;
    for (unsigned i = 0; i < bus->n; i++) {
        struct vmdl_lapic *a = aligned_alloc(64, sizeof(*a));
        if (!a) {
            vmdl_lapic_bus_destroy(bus);
            return vmdl_fail(VMDL_ENOMEM, "vmdl_lapic_bus_create: out of memory");
        }
        memset(a, 0, sizeof(*a));
        a->bus = bus;
        a->index = i;
        a->initial_id = cfg->apic_ids ? cfg->apic_ids[i] : i;
        a->be = &vmdl_lapic_sw_backend;
        a->timer_expiry = UINT64_MAX;
        bus->apics[i] = a;
    }
    for (unsigned i = 0; i < bus->n; i++)
        vmdl_lapic_reset(bus->apics[i], false);
    *out = bus;
    return 0;
}

void vmdl_lapic_bus_destroy(struct vmdl_lapic_bus *bus)
{
    if (!bus)
        return;
    for (unsigned i = 0; i < bus->n; i++)
        free(bus->apics[i]);
    free(bus);
}

unsigned vmdl_lapic_bus_count(const struct vmdl_lapic_bus *bus)
{
    return bus ? bus->n : 0;
}

struct vmdl_lapic *vmdl_lapic_bus_get(struct vmdl_lapic_bus *bus,
                                      unsigned index)
{
    if (!bus || index >= bus->n)
        return NULL;
    return bus->apics[index];
}

struct vmdl_lapic_bus *vmdl_lapic_get_bus(struct vmdl_lapic *apic)
{
    return apic ? apic->bus : NULL;
}

unsigned vmdl_lapic_index(const struct vmdl_lapic *apic)
{
    return apic ? apic->index : 0;
}

/*
 * KVM keeps APICv inhibits per VM: any xAPIC whose ID differs from its
 * vCPU ID inhibits APICv for all (APIC_ID_MODIFIED, cleared again when the
 * IDs are back, e.g. after a switch to x2APIC whose ID is read-only), and a
 * relocated APIC base inhibits it for good (APIC_BASE_MODIFIED).
 */
void vmdl_lapic_bus_recompute_inhibits(struct vmdl_lapic_bus *bus)
{
    unsigned inh = 0;
    if (!bus->cfg.apicv)
        inh |= VMDL_APICV_INHIBIT_DISABLED;
    for (unsigned i = 0; i < bus->n; i++) {
        struct vmdl_lapic *a = bus->apics[i];
        if (!a || !lapic_hw_enabled(a))
            continue;
        if ((a->apic_base & VMDL_GENMASK(39, 12)) != VMDL_LAPIC_DEFAULT_BASE)
            bus->sticky_inhibits |= VMDL_APICV_INHIBIT_APIC_BASE_MODIFIED;
        if (!lapic_x2apic(a) &&
            (lapic_get(a, VMDL_LAPIC_ID) >> 24) != (a->initial_id & 0xFF))
            inh |= VMDL_APICV_INHIBIT_APIC_ID_MODIFIED;
    }
    inh |= bus->sticky_inhibits;
    for (unsigned i = 0; i < bus->n; i++)
        if (bus->apics[i])
            vmdl_lapic_set_inhibits(bus->apics[i], inh);
}

/* Does APIC t match destination `dest` (already known not broadcast)? */
static bool match_dest(const struct vmdl_lapic *t, uint32_t dest, bool logical)
{
    uint32_t id = lapic_get(t, VMDL_LAPIC_ID);
    uint32_t ldr = lapic_get(t, VMDL_LAPIC_LDR);
    if (lapic_x2apic(t)) {
        if (!logical)
            return id == dest;
        /* x2APIC logical: cluster in 31:16, member bitmap in 15:0. */
        return (ldr >> 16) == (dest >> 16) && (ldr & dest & 0xFFFF);
    }
    if (dest > 0xFF)
        return false;
    if (!logical)
        return (id >> 24) == dest;
    uint32_t l8 = ldr >> 24;
    switch (lapic_get(t, VMDL_LAPIC_DFR) >> 28) {
    case 0xF: /* flat: 8-bit mask */
        return (l8 & dest) != 0;
    case 0x0: /* cluster: 4-bit cluster, 4-bit member mask */
        return (l8 >> 4) == (dest >> 4) && (l8 & dest & 0xF);
    default:
        return false;
    }
}

bool vmdl_lapic_match_dest(const struct vmdl_lapic *apic, uint32_t dest, bool logical)
{
    if (!apic || !lapic_hw_enabled(apic))
        return false;
    if (dest == 0xFFFFFFFFu || (dest == 0xFF && !lapic_x2apic(apic)))
        return true;
    return match_dest(apic, dest, logical);
}

static uint32_t apic_id_of(const struct vmdl_lapic *a)
{
    uint32_t id = lapic_get(a, VMDL_LAPIC_ID);
    return lapic_x2apic(a) ? id : id >> 24;
}

/*
 * Pick the one target of a lowest-priority message among n candidates.
 * KVM (vector hashing, its default): the (vector mod n)-th candidate in
 * APIC ID order.  VMDL_LAPIC_F_LOWEST_PPR: the lowest PPR, ties to the
 * lowest APIC ID (what the SDM's arbitration amounts to without focus).
 */
static struct vmdl_lapic *pick_lowest(struct vmdl_lapic_bus *bus,
                                      struct vmdl_lapic **cand, unsigned n,
                                      unsigned vector)
{
    /* insertion sort by APIC ID */
    for (unsigned i = 1; i < n; i++)
        for (unsigned j = i; j > 0 && apic_id_of(cand[j]) < apic_id_of(cand[j - 1]); j--) {
            struct vmdl_lapic *t = cand[j];
            cand[j] = cand[j - 1];
            cand[j - 1] = t;
        }
    if (!(bus->cfg.flags & VMDL_LAPIC_F_LOWEST_PPR))
        return cand[vector % n];
    struct vmdl_lapic *best = cand[0];
    for (unsigned i = 1; i < n; i++)
        if (lapic_get(cand[i], VMDL_LAPIC_PPR) < lapic_get(best, VMDL_LAPIC_PPR))
            best = cand[i];
    return best;
}

static int deliver_to(struct vmdl_lapic_bus *bus, struct vmdl_lapic **cand,
                      unsigned n, unsigned dm, unsigned vec, bool level_assert,
                      bool trig_level)
{
    if (!n)
        return 0;
    if (dm == VMDL_LAPIC_DM_LOWEST && n > 1) {
        cand[0] = pick_lowest(bus, cand, n, vec);
        n = 1;
    }
    int taken = 0;
    for (unsigned i = 0; i < n; i++)
        taken += vmdl_lapic_accept(cand[i], dm, vec, level_assert, trig_level);
    return taken;
}

void vmdl_lapic_send_ipi(struct vmdl_lapic *a, uint32_t low, uint32_t dest)
{
    struct vmdl_lapic_bus *bus = a->bus;
    unsigned dm = (low >> VMDL_LAPIC_DM_SHIFT) & 7;
    unsigned vec = low & 0xFF;
    unsigned sh = (low >> VMDL_LAPIC_SH_SHIFT) & 3;
    bool logical = (low & VMDL_LAPIC_ICR_LOGICAL) != 0;
    bool level = (low & VMDL_LAPIC_ICR_LEVEL) != 0;
    bool assert_ = (low & VMDL_LAPIC_ICR_ASSERT) != 0;
    a->st.ipis_sent++;
    /* KVM's kvm_apic_send_ipi() sends any vector; the SDM option refuses
     * 0-15 with a send-illegal-vector error and sends nothing. */
    if ((dm == VMDL_LAPIC_DM_FIXED || dm == VMDL_LAPIC_DM_LOWEST) && vec < 16 &&
        (bus->cfg.flags & VMDL_LAPIC_F_SDM_ESR)) {
        vmdl_lapic_error(a, VMDL_LAPIC_ESR_SEND_ILLEGAL_VECTOR);
        return;
    }
    /* For fixed IPIs the level bit picks the trigger mode; INIT uses
     * level + assert to tell INIT from INIT level de-assert. */
    if (dm != VMDL_LAPIC_DM_INIT)
        assert_ = true;
    uint32_t bcast = lapic_x2apic(a) ? 0xFFFFFFFFu : 0xFFu;
    struct vmdl_lapic *cand[VMDL_LAPIC_BUS_MAX];
    unsigned n = 0;
    for (unsigned i = 0; i < bus->n; i++) {
        struct vmdl_lapic *t = bus->apics[i];
        bool m;
        switch (sh) {
        case VMDL_LAPIC_SH_SELF: m = t == a; break;
        case VMDL_LAPIC_SH_ALL: m = true; break;
        case VMDL_LAPIC_SH_OTHERS: m = t != a; break;
        default: m = dest == bcast || match_dest(t, dest, logical); break;
        }
        if (m && lapic_hw_enabled(t))
            cand[n++] = t;
    }
    deliver_to(bus, cand, n, dm, vec, assert_, level);
}

int vmdl_lapic_bus_deliver(struct vmdl_lapic_bus *bus, uint32_t dest,
                           bool logical, unsigned delivery_mode,
                           uint8_t vector, bool level)
{
    if (!bus)
        return vmdl_fail(VMDL_EINVAL, "vmdl_lapic_bus_deliver: NULL bus");
    if (delivery_mode > 7 || delivery_mode == 3)
        return vmdl_fail(VMDL_EINVAL,
                         "vmdl_lapic_bus_deliver: delivery mode %u reserved",
                         delivery_mode);
    struct vmdl_lapic *cand[VMDL_LAPIC_BUS_MAX];
    unsigned n = 0;
    for (unsigned i = 0; i < bus->n; i++) {
        struct vmdl_lapic *t = bus->apics[i];
        bool bc = dest == 0xFFFFFFFFu || (dest == 0xFF && !lapic_x2apic(t));
        if (lapic_hw_enabled(t) && (bc || match_dest(t, dest, logical)))
            cand[n++] = t;
    }
    return deliver_to(bus, cand, n, delivery_mode, vector, true, level);
}

/*
 * KVM's physical APIC map (kvm_recalculate_phys_map with QEMU's 32-bit
 * x2APIC IDs): an APIC in x2APIC mode sits at its x2APIC ID, one in xAPIC
 * mode at its xAPIC ID unless an x2APIC-mode one took that slot.  Only
 * hardware-enabled APICs are in the map.
 */
static struct vmdl_lapic *phys_map_lookup(struct vmdl_lapic_bus *bus, uint32_t id)
{
    struct vmdl_lapic *xapic = NULL;
    for (unsigned i = 0; i < bus->n; i++) {
        struct vmdl_lapic *t = bus->apics[i];
        if (!lapic_hw_enabled(t) || apic_id_of(t) != id)
            continue;
        if (lapic_x2apic(t))
            return t;
        if (!xapic)
            xapic = t;
    }
    return xapic;
}

/* The map's max_apic_id: the highest initial x2APIC ID of an APIC in it. */
static uint32_t max_apic_id(const struct vmdl_lapic_bus *bus)
{
    uint32_t max = 0;
    for (unsigned i = 0; i < bus->n; i++)
        if (lapic_hw_enabled(bus->apics[i]) && bus->apics[i]->initial_id > max)
            max = bus->apics[i]->initial_id;
    return max;
}

/* One bitmap of KVM's __pv_send_ipi: bit i targets APIC ID min + i. */
static int pv_ipi_bitmap(struct vmdl_lapic_bus *bus, uint64_t bitmap, uint32_t min,
                         unsigned dm, unsigned vec, bool level, bool trig)
{
    uint32_t max = max_apic_id(bus);
    if (min > max)
        return 0;
    /* Bits past max_apic_id are ignored; the bound is a full 64 bits
     * whatever the guest's mode (KVM's BITS_PER_LONG). */
    uint64_t span = (uint64_t)max - min + 1;
    unsigned nbits = span < 64 ? (unsigned)span : 64;
    int count = 0;
    for (unsigned i = 0; i < nbits; i++) {
        if (!(bitmap >> i & 1))
            continue;
        struct vmdl_lapic *t = phys_map_lookup(bus, min + i);
        if (t)
            count += vmdl_lapic_accept(t, dm, vec, level, trig);
    }
    return count;
}

int vmdl_lapic_bus_pv_send_ipi(struct vmdl_lapic_bus *bus, uint64_t bitmap_low,
                               uint64_t bitmap_high, uint32_t min, uint64_t icr,
                               bool op_64_bit)
{
    if (!bus)
        return vmdl_fail(VMDL_EINVAL, "vmdl_lapic_bus_pv_send_ipi: NULL bus");
    if (icr & (VMDL_LAPIC_ICR_LOGICAL | (3u << VMDL_LAPIC_SH_SHIFT)))
        return VMDL_LAPIC_PV_IPI_EINVAL;
    unsigned dm = (icr >> VMDL_LAPIC_DM_SHIFT) & 7, vec = icr & 0xFF;
    bool level = (icr & VMDL_LAPIC_ICR_ASSERT) != 0;
    bool trig = (icr & VMDL_LAPIC_ICR_LEVEL) != 0;
    int count = pv_ipi_bitmap(bus, bitmap_low, min, dm, vec, level, trig);
    /* The high bitmap starts one cluster on; min is 32 bits and wraps
     * (kvm-unit-tests' apic test sends min = 0xFFFFFFFF: nothing). */
    min += op_64_bit ? 64 : 32;
    return count + pv_ipi_bitmap(bus, bitmap_high, min, dm, vec, level, trig);
}

void vmdl_lapic_bus_set_guest_mem(struct vmdl_lapic_bus *bus,
                                  const struct vmdl_guest_mem *mem)
{
    if (!bus)
        return;
    bus->has_mem = mem != NULL;
    if (mem)
        bus->mem = *mem;
}
