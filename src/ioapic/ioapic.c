/* SPDX-License-Identifier: MIT */
/*
 * I/O APIC model (include/virtmodel/ioapic.h, docs/ioapic.md).  The rules
 * are KVM's arch/x86/kvm/ioapic.c: pin latching in ioapic_set_irq(),
 * delivery in ioapic_service(), redirection writes in
 * ioapic_write_indirect(), EOI in kvm_ioapic_update_eoi_one(), the handled
 * vectors in kvm_ioapic_scan_entry().
 */
#include <stdlib.h>
#include <string.h>

#include "virtmodel/blob.h"
#include "virtmodel/error.h"
#include "virtmodel/ioapic.h"

#define IOAPIC_BLOB_MAGIC VMDL_BLOB_MAGIC('I', 'O', 'A', 'P')
#define IOAPIC_BLOB_VERSION 1

/* Fields the guest cannot write (KVM keeps them across a write). */
#define RTE_RO (VMDL_IOAPIC_RTE_REMOTE_IRR | VMDL_IOAPIC_RTE_DELIVS)

struct vmdl_ioapic {
    struct vmdl_ioapic_config cfg;
    uint64_t rte[VMDL_IOAPIC_PINS];
    uint32_t ioregsel;
    uint32_t irr;            /* asserted level / latched edge per pin */
    uint32_t irr_delivered;  /* edge pins delivered since their edge */
    uint8_t id;
    uint32_t irq_eoi[VMDL_IOAPIC_PINS]; /* successive EOI re-deliveries */
    uint32_t deferred;       /* pins held back by the storm limit */
    uint64_t (*handled)[4];  /* [apic][vector / 64] */
    struct vmdl_ioapic_stats st;
};

static bool rte_level(uint64_t e) { return (e & VMDL_IOAPIC_RTE_LEVEL) != 0; }
static bool rte_masked(uint64_t e) { return (e & VMDL_IOAPIC_RTE_MASKED) != 0; }
static uint8_t rte_vector(uint64_t e) { return (uint8_t)(e & VMDL_IOAPIC_RTE_VECTOR); }
static uint32_t rte_dest(uint64_t e) { return (uint32_t)(e >> VMDL_IOAPIC_RTE_DEST_SHIFT); }
static bool rte_logical(uint64_t e) { return (e & VMDL_IOAPIC_RTE_LOGICAL) != 0; }

int vmdl_ioapic_create(const struct vmdl_ioapic_config *cfg, struct vmdl_ioapic **out)
{
    if (!cfg || !out || !cfg->ops.deliver || !cfg->ops.match || !cfg->ops.pending_eoi)
        return vmdl_fail(VMDL_EINVAL, "vmdl_ioapic_create: NULL argument or callback");
    if (!cfg->nr_apics || cfg->nr_apics > VMDL_IOAPIC_MAX_APICS)
        return vmdl_fail(VMDL_EINVAL, "vmdl_ioapic_create: %u APICs (1..%d)",
                         cfg->nr_apics, VMDL_IOAPIC_MAX_APICS);
    unsigned version = cfg->version ? cfg->version : VMDL_IOAPIC_VERSION_KVM;
    if (version != VMDL_IOAPIC_VERSION_KVM && version != VMDL_IOAPIC_VERSION_EOI)
        return vmdl_fail(VMDL_EINVAL, "vmdl_ioapic_create: version 0x%x (0x11 or 0x20)",
                         version);
    struct vmdl_ioapic *io = calloc(1, sizeof(*io));
    if (!io || !(io->handled = calloc(cfg->nr_apics, sizeof(*io->handled)))) {
        free(io);
        return vmdl_fail(VMDL_ENOMEM, "vmdl_ioapic_create: out of memory");
    }
    io->cfg = *cfg;
    io->cfg.version = version;
    vmdl_ioapic_reset(io);
    *out = io;
    return VMDL_OK;
}

void vmdl_ioapic_destroy(struct vmdl_ioapic *io)
{
    if (!io)
        return;
    free(io->handled);
    free(io);
}

void vmdl_ioapic_reset(struct vmdl_ioapic *io)
{
    if (!io)
        return;
    /* kvm_ioapic_reset() sets only the mask bit; a fresh IOAPIC is zeroed. */
    for (unsigned i = 0; i < VMDL_IOAPIC_PINS; i++)
        io->rte[i] = VMDL_IOAPIC_RTE_MASKED;
    io->ioregsel = 0;
    io->irr = 0;
    io->irr_delivered = 0;
    io->id = 0;
    io->deferred = 0;
    memset(io->irq_eoi, 0, sizeof(io->irq_eoi));
    memset(io->handled, 0, io->cfg.nr_apics * sizeof(*io->handled));
}

/* ---- delivery ---- */

/* The message entry `e` sends: 0 with *m filled, -1 when an interrupt
 * remapping unit blocks it. */
static int entry_msg(const struct vmdl_ioapic *io, uint64_t e, bool probe,
                     struct vmdl_ioapic_msg *m)
{
    *m = (struct vmdl_ioapic_msg){
        .dest = rte_dest(e),
        .logical = rte_logical(e),
        .delivery_mode = (unsigned)(e >> VMDL_IOAPIC_RTE_DM_SHIFT) & 7,
        .vector = rte_vector(e),
        .level = rte_level(e),
    };
    const struct vmdl_ioapic_ops *o = &io->cfg.ops;
    if (!o->remap)
        return 0;
    struct vmdl_ioapic_msg r;
    int res = o->remap(o->opaque, e, probe, &r);
    if (res == 0)
        *m = r;
    return res < 0 ? -1 : 0;
}

/* KVM's ioapic_service(): -1 when the pin may not send now. */
static int service(struct vmdl_ioapic *io, unsigned pin)
{
    uint64_t e = io->rte[pin];
    if (rte_masked(e) || (rte_level(e) && (e & VMDL_IOAPIC_RTE_REMOTE_IRR)))
        return -1;
    struct vmdl_ioapic_msg m;
    bool blocked = entry_msg(io, e, false, &m) < 0;
    if (!rte_level(e))
        io->irr_delivered |= 1u << pin;
    io->st.deliveries++;
    int r = blocked ? -1 : io->cfg.ops.deliver(io->cfg.ops.opaque, &m);
    /* KVM sets remote IRR for any non-zero result, also -1 (no APIC
     * matched): the pin then waits for an EOI that never comes, as there. */
    if (r && rte_level(e))
        io->rte[pin] |= VMDL_IOAPIC_RTE_REMOTE_IRR;
    return r;
}

int vmdl_ioapic_set_irq(struct vmdl_ioapic *io, unsigned pin, bool level)
{
    if (!io || pin >= VMDL_IOAPIC_PINS)
        return vmdl_fail(VMDL_EINVAL, "vmdl_ioapic_set_irq: pin %u (0..%d)", pin,
                         VMDL_IOAPIC_PINS - 1);
    uint32_t bit = 1u << pin;
    if (!level) {
        io->irr &= ~bit;
        return 1;
    }
    bool edge = !rte_level(io->rte[pin]);
    uint32_t old = io->irr;
    io->irr |= bit;
    if (edge) {
        io->irr_delivered &= ~bit;
        if (old == io->irr) {   /* the edge is already latched */
            io->st.coalesced++;
            return 0;
        }
    }
    return service(io, pin);
}

/* ---- handled vectors (the EOIs the IOAPIC wants) ---- */

static void scan_apic(struct vmdl_ioapic *io, unsigned apic)
{
    const struct vmdl_ioapic_ops *o = &io->cfg.ops;
    memset(io->handled[apic], 0, sizeof(io->handled[apic]));
    for (unsigned pin = 0; pin < VMDL_IOAPIC_PINS; pin++) {
        uint64_t e = io->rte[pin];
        if (!rte_level(e))
            continue;
        uint8_t vec = rte_vector(e);
        struct vmdl_ioapic_msg m;
        if (entry_msg(io, e, true, &m) < 0)
            continue;
        if (o->match(o->opaque, apic, m.dest, m.logical) ||
            o->pending_eoi(o->opaque, apic, vec))
            io->handled[apic][vec / 64] |= 1ull << (vec % 64);
    }
}

void vmdl_ioapic_scan(struct vmdl_ioapic *io)
{
    if (!io)
        return;
    for (unsigned a = 0; a < io->cfg.nr_apics; a++)
        scan_apic(io, a);
}

bool vmdl_ioapic_handles_vector(const struct vmdl_ioapic *io, unsigned apic,
                                uint8_t vector)
{
    if (!io || apic >= io->cfg.nr_apics)
        return false;
    return (io->handled[apic][vector / 64] >> (vector % 64)) & 1;
}

/* ---- EOI ---- */

/* KVM's kvm_ioapic_update_eoi_one() after its trigger-mode checks, also
 * what QEMU's EOI register does for one pin. */
static void eoi_pin(struct vmdl_ioapic *io, unsigned pin)
{
    io->rte[pin] &= ~VMDL_IOAPIC_RTE_REMOTE_IRR;
    io->st.eois++;
    if (rte_masked(io->rte[pin]) || !(io->irr & (1u << pin))) {
        io->irq_eoi[pin] = 0;
        return;
    }
    if (++io->irq_eoi[pin] == VMDL_IOAPIC_EOI_STORM) {
        /* An interrupt storm: KVM re-delivers from a work item later. */
        io->irq_eoi[pin] = 0;
        io->deferred |= 1u << pin;
        io->st.deferred++;
        return;
    }
    service(io, pin);
}

void vmdl_ioapic_eoi(struct vmdl_ioapic *io, unsigned apic, uint8_t vector,
                     bool level, bool directed_eoi_mode)
{
    (void)apic; /* KVM's RTC tracking would use it; no RTC pin here */
    if (!io || !level || directed_eoi_mode)
        return;
    for (unsigned pin = 0; pin < VMDL_IOAPIC_PINS; pin++)
        if (rte_vector(io->rte[pin]) == vector && rte_level(io->rte[pin]))
            eoi_pin(io, pin);
}

/* QEMU's EOI register (version 0x20): pins whose remote IRR is set. */
static void eoi_register(struct vmdl_ioapic *io, uint8_t vector)
{
    for (unsigned pin = 0; pin < VMDL_IOAPIC_PINS; pin++) {
        uint64_t e = io->rte[pin];
        if (rte_vector(e) == vector && rte_level(e) && (e & VMDL_IOAPIC_RTE_REMOTE_IRR))
            eoi_pin(io, pin);
    }
}

void vmdl_ioapic_service_deferred(struct vmdl_ioapic *io)
{
    if (!io || !io->deferred)
        return;
    io->deferred = 0;
    /* kvm_ioapic_eoi_inject_work(): every asserted level pin without
     * remote IRR. */
    for (unsigned pin = 0; pin < VMDL_IOAPIC_PINS; pin++)
        if (rte_level(io->rte[pin]) && (io->irr & (1u << pin)) &&
            !(io->rte[pin] & VMDL_IOAPIC_RTE_REMOTE_IRR))
            service(io, pin);
}

/* ---- registers ---- */

static uint32_t read_indirect(const struct vmdl_ioapic *io)
{
    switch (io->ioregsel) {
    case VMDL_IOAPIC_REG_VER:
        return ((VMDL_IOAPIC_PINS - 1) << 16) | io->cfg.version;
    case VMDL_IOAPIC_REG_ID:
    case VMDL_IOAPIC_REG_ARB:   /* KVM: the arbitration ID reads as the ID */
        return (uint32_t)(io->id & 0xF) << 24;
    default: {
        uint32_t idx = (io->ioregsel - VMDL_IOAPIC_REG_REDIR) >> 1;
        /* Registers 0x03-0x0F and beyond the last entry read all ones. */
        uint64_t e = io->ioregsel >= VMDL_IOAPIC_REG_REDIR && idx < VMDL_IOAPIC_PINS
                         ? io->rte[idx] : ~0ull;
        return (uint32_t)(io->ioregsel & 1 ? e >> 32 : e);
    }
    }
}

static void write_redir(struct vmdl_ioapic *io, unsigned pin, uint32_t val)
{
    uint64_t e = io->rte[pin], ro = e & RTE_RO;
    if (io->ioregsel & 1)
        e = (e & 0xFFFFFFFFull) | (uint64_t)val << 32;
    else
        e = (e & ~0xFFFFFFFFull) | val;
    e = (e & ~RTE_RO) | ro;
    /* Guests (Linux, Xen) clear a stuck remote IRR by switching the pin to
     * edge; KVM clears it whenever the entry is edge-triggered. */
    if (!rte_level(e))
        e &= ~VMDL_IOAPIC_RTE_REMOTE_IRR;
    io->rte[pin] = e;
    if (rte_level(e) && (io->irr & (1u << pin)))
        service(io, pin);
    vmdl_ioapic_scan(io);
}

static void write_indirect(struct vmdl_ioapic *io, uint32_t val)
{
    switch (io->ioregsel) {
    case VMDL_IOAPIC_REG_VER:
    case VMDL_IOAPIC_REG_ARB:
        return;             /* read-only */
    case VMDL_IOAPIC_REG_ID:
        io->id = (val >> 24) & 0xF;
        return;
    default:
        if (io->ioregsel >= VMDL_IOAPIC_REG_REDIR &&
            (io->ioregsel - VMDL_IOAPIC_REG_REDIR) / 2 < VMDL_IOAPIC_PINS)
            write_redir(io, (io->ioregsel - VMDL_IOAPIC_REG_REDIR) / 2, val);
        return;
    }
}

uint64_t vmdl_ioapic_mmio_read(struct vmdl_ioapic *io, uint64_t off, unsigned size)
{
    if (!io || !size || size > 8)
        return 0;
    uint32_t r;
    switch (off & 0xFF) {
    case VMDL_IOAPIC_IOREGSEL: r = io->ioregsel; break;
    case VMDL_IOAPIC_IOWIN: r = read_indirect(io); break;
    default: r = 0; break;
    }
    return size >= 4 ? r : r & ((1u << (8 * size)) - 1);
}

void vmdl_ioapic_mmio_write(struct vmdl_ioapic *io, uint64_t off, unsigned size,
                            uint64_t value)
{
    if (!io || !size || size > 8)
        return;
    /* KVM: 8-byte writes take the low 32 bits, narrower ones zero-extend. */
    uint32_t data = size >= 4 ? (uint32_t)value
                              : (uint32_t)value & ((1u << (8 * size)) - 1);
    switch (off & 0xFF) {
    case VMDL_IOAPIC_IOREGSEL:
        io->ioregsel = data & 0xFF;   /* an 8-bit register */
        break;
    case VMDL_IOAPIC_IOWIN:
        write_indirect(io, data);
        break;
    case VMDL_IOAPIC_EOI:
        if (io->cfg.version >= VMDL_IOAPIC_VERSION_EOI)
            eoi_register(io, (uint8_t)data);
        break;
    default:
        break;
    }
}

/* ---- inspection, state ---- */

uint64_t vmdl_ioapic_redir(const struct vmdl_ioapic *io, unsigned pin)
{
    return io && pin < VMDL_IOAPIC_PINS ? io->rte[pin] : 0;
}

uint32_t vmdl_ioapic_irr(const struct vmdl_ioapic *io) { return io ? io->irr : 0; }
uint8_t vmdl_ioapic_id(const struct vmdl_ioapic *io) { return io ? io->id : 0; }

void vmdl_ioapic_get_stats(const struct vmdl_ioapic *io, struct vmdl_ioapic_stats *st)
{
    if (io && st)
        *st = io->st;
}

int vmdl_ioapic_export(const struct vmdl_ioapic *io, uint8_t **blob, size_t *len)
{
    if (!io || !blob || !len)
        return vmdl_fail(VMDL_EINVAL, "vmdl_ioapic_export: NULL argument");
    struct vmdl_blob_writer w;
    vmdl_blob_begin(&w, IOAPIC_BLOB_MAGIC, IOAPIC_BLOB_VERSION);
    vmdl_blob_put_u8(&w, (uint8_t)io->cfg.version);
    for (unsigned i = 0; i < VMDL_IOAPIC_PINS; i++)
        vmdl_blob_put_u64(&w, io->rte[i]);
    vmdl_blob_put_u32(&w, io->ioregsel);
    vmdl_blob_put_u32(&w, io->irr);
    vmdl_blob_put_u32(&w, io->irr_delivered);
    vmdl_blob_put_u8(&w, io->id);
    vmdl_blob_put_u32(&w, io->deferred);
    for (unsigned i = 0; i < VMDL_IOAPIC_PINS; i++)
        vmdl_blob_put_u32(&w, io->irq_eoi[i]);
    return vmdl_blob_finish(&w, blob, len);
}

int vmdl_ioapic_import(struct vmdl_ioapic *io, const uint8_t *blob, size_t len)
{
    if (!io)
        return vmdl_fail(VMDL_EINVAL, "vmdl_ioapic_import: NULL ioapic");
    struct vmdl_blob_reader r;
    int err = vmdl_blob_open(&r, blob, len, IOAPIC_BLOB_MAGIC, IOAPIC_BLOB_VERSION,
                             "ioapic state");
    if (err)
        return err;
    uint64_t rte[VMDL_IOAPIC_PINS];
    uint32_t eoi[VMDL_IOAPIC_PINS];
    uint8_t version = vmdl_blob_get_u8(&r);
    for (unsigned i = 0; i < VMDL_IOAPIC_PINS; i++)
        rte[i] = vmdl_blob_get_u64(&r);
    uint32_t sel = vmdl_blob_get_u32(&r), irr = vmdl_blob_get_u32(&r);
    uint32_t delivered = vmdl_blob_get_u32(&r);
    uint8_t id = vmdl_blob_get_u8(&r);
    uint32_t deferred = vmdl_blob_get_u32(&r);
    for (unsigned i = 0; i < VMDL_IOAPIC_PINS; i++)
        eoi[i] = vmdl_blob_get_u32(&r);
    uint32_t pins = (1u << VMDL_IOAPIC_PINS) - 1;
    if (!r.err && version != io->cfg.version)
        vmdl_blob_reject(&r, "state of an IOAPIC of another version");
    else if (!r.err && (sel > 0xFF || id > 0xF || (irr | delivered | deferred) & ~pins))
        vmdl_blob_reject(&r, "register value out of range");
    for (unsigned i = 0; !r.err && i < VMDL_IOAPIC_PINS; i++)
        if (eoi[i] >= VMDL_IOAPIC_EOI_STORM ||
            ((rte[i] & VMDL_IOAPIC_RTE_REMOTE_IRR) && !rte_level(rte[i])) ||
            (rte[i] & VMDL_IOAPIC_RTE_DELIVS))
            vmdl_blob_reject(&r, "redirection entry state impossible");
    if ((err = vmdl_blob_close(&r)))
        return err;
    memcpy(io->rte, rte, sizeof(rte));
    memcpy(io->irq_eoi, eoi, sizeof(eoi));
    io->ioregsel = sel;
    io->irr = irr;
    io->irr_delivered = delivered;
    io->id = id;
    io->deferred = deferred;
    vmdl_ioapic_scan(io);
    return VMDL_OK;
}
