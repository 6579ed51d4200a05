/* SPDX-License-Identifier: MIT */
/*
 * Machine glue for the I/O APIC model (include/virtmodel/attach_ioapic.h).
 * Only the public machine API is used.
 */
#include <stdlib.h>
#include <string.h>

#include "virtmodel/attach_ioapic.h"
#include "virtmodel/attach_lapic.h"
#include "virtmodel/error.h"
#include "virtmodel/model.h"
#include "virtmodel/models.h"

struct ioapic_glue {
    struct vmdl_vm *vm;
    struct vmdl_lapic_bus *bus;
    struct vmdl_ioapic *io;
    vmdl_ioapic_remap_fn remap;   /* an interrupt-remapping unit, or NULL */
    void *remap_opaque;
};

/* An 8-bit I/O APIC destination of 0xFF is a broadcast also for APICs in
 * x2APIC mode (KVM's kvm_apic_mda). */
static uint32_t mda(uint32_t dest)
{
    return dest == 0xFF ? 0xFFFFFFFFu : dest;
}

static bool bus_match(void *opaque, unsigned apic, uint32_t dest, bool logical)
{
    struct ioapic_glue *g = opaque;
    return vmdl_lapic_match_dest(vmdl_lapic_bus_get(g->bus, apic), mda(dest), logical);
}

static int bus_deliver(void *opaque, const struct vmdl_ioapic_msg *m)
{
    struct ioapic_glue *g = opaque;
    bool any = false;
    for (unsigned i = 0; i < vmdl_lapic_bus_count(g->bus) && !any; i++)
        any = bus_match(g, i, m->dest, m->logical);
    if (!any)
        return -1;    /* kvm_irq_delivery_to_apic(): no destination */
    int n = vmdl_lapic_bus_deliver(g->bus, mda(m->dest), m->logical, m->delivery_mode,
                                   m->vector, m->level);
    return n < 0 ? 0 : n;
}

static bool bus_pending_eoi(void *opaque, unsigned apic, uint8_t vector)
{
    struct ioapic_glue *g = opaque;
    return vmdl_lapic_pending_eoi(vmdl_lapic_bus_get(g->bus, apic), vector);
}

static int bus_remap(void *opaque, uint64_t rte, bool probe, struct vmdl_ioapic_msg *msg)
{
    struct ioapic_glue *g = opaque;
    return g->remap ? g->remap(g->remap_opaque, rte, probe, msg) : 1;
}

/* ---- the local APICs' side ---- */

static bool eoi_wanted(void *opaque, unsigned apic, uint8_t vector)
{
    struct ioapic_glue *g = opaque;
    return vmdl_ioapic_handles_vector(g->io, apic, vector);
}

static void eoi(void *opaque, unsigned apic, uint8_t vector)
{
    struct ioapic_glue *g = opaque;
    /* The APIC forwards only level EOIs outside directed-EOI mode. */
    vmdl_ioapic_eoi(g->io, apic, vector, true, false);
}

static void apic_map_changed(void *opaque)
{
    vmdl_ioapic_scan(((struct ioapic_glue *)opaque)->io);
}

/* ---- MMIO window ---- */

static uint64_t mmio_read(void *opaque, struct vmdl_vcpu *vcpu, uint64_t off,
                          unsigned size)
{
    (void)vcpu;
    struct ioapic_glue *g = opaque;
    vmdl_ioapic_service_deferred(g->io);
    return vmdl_ioapic_mmio_read(g->io, off, size);
}

static void mmio_write(void *opaque, struct vmdl_vcpu *vcpu, uint64_t off,
                       unsigned size, uint64_t value)
{
    (void)vcpu; /* the machine looks for a deliverable interrupt after it */
    struct ioapic_glue *g = opaque;
    vmdl_ioapic_service_deferred(g->io);
    vmdl_ioapic_mmio_write(g->io, off, size, value);
}

static const struct vmdl_mmio_ops mmio_ops = {mmio_read, mmio_write};

/* ---- VM hooks ---- */

static void ioapic_reset(void *opaque, struct vmdl_vm *vm)
{
    (void)vm;
    vmdl_ioapic_reset(((struct ioapic_glue *)opaque)->io);
}

static int ioapic_save(void *opaque, uint8_t **blob, size_t *len)
{
    return vmdl_ioapic_export(((struct ioapic_glue *)opaque)->io, blob, len);
}

static int ioapic_load(void *opaque, const uint8_t *blob, size_t len)
{
    return vmdl_ioapic_import(((struct ioapic_glue *)opaque)->io, blob, len);
}

static void ioapic_free(void *opaque)
{
    struct ioapic_glue *g = opaque;
    vmdl_ioapic_destroy(g->io);
    free(g);
}

extern const struct vmdl_model_desc vmdl_ioapic_model;

int vmdl_attach_ioapic(struct vmdl_vm *vm, const struct vmdl_ioapic_options *opts)
{
    if (!vm)
        return vmdl_fail(VMDL_EINVAL, "vmdl_attach_ioapic: NULL vm");
    struct vmdl_lapic_bus *bus = vmdl_vm_lapic_bus(vm);
    if (!bus)
        return vmdl_fail(VMDL_ENOENT, "vmdl_attach_ioapic: the I/O APIC needs the "
                         "lapic model attached first");
    if (vmdl_vm_find_model(vm, &vmdl_ioapic_model))
        return vmdl_fail(VMDL_EINVAL, "vmdl_attach_ioapic: attached already");
    struct ioapic_glue *g = calloc(1, sizeof(*g));
    if (!g)
        return vmdl_fail(VMDL_ENOMEM, "vmdl_attach_ioapic: out of memory");
    g->vm = vm;
    g->bus = bus;
    struct vmdl_ioapic_config cfg = {
        .version = opts ? opts->version : 0,
        .nr_apics = vmdl_lapic_bus_count(bus),
        .ops = {bus_deliver, bus_match, bus_pending_eoi, g, bus_remap},
    };
    int err = vmdl_ioapic_create(&cfg, &g->io);
    if (err) {
        free(g);
        return err;
    }
    /* From here on g is freed with the VM. */
    if ((err = vmdl_vm_add_model(vm, &vmdl_ioapic_model, g)))
        return err;
    struct vmdl_lapic_eoi_sink sink = {eoi_wanted, eoi, apic_map_changed, g};
    return vmdl_lapic_set_eoi_sink(vm, &sink);
}

struct vmdl_ioapic *vmdl_vm_ioapic(struct vmdl_vm *vm)
{
    struct ioapic_glue *g = vmdl_vm_find_model(vm, &vmdl_ioapic_model);
    return g ? g->io : NULL;
}

int vmdl_vm_ioapic_set_irq(struct vmdl_vm *vm, unsigned pin, bool level)
{
    struct vmdl_ioapic *io = vmdl_vm_ioapic(vm);
    if (!io)
        return vmdl_fail(VMDL_ENOENT, "vmdl_vm_ioapic_set_irq: no I/O APIC attached");
    vmdl_ioapic_service_deferred(io);
    return vmdl_ioapic_set_irq(io, pin, level);
}

int vmdl_vm_ioapic_set_remap(struct vmdl_vm *vm, vmdl_ioapic_remap_fn fn, void *opaque)
{
    struct ioapic_glue *g = vmdl_vm_find_model(vm, &vmdl_ioapic_model);
    if (!g)
        return vmdl_fail(VMDL_ENOENT, "vmdl_vm_ioapic_set_remap: no I/O APIC attached");
    g->remap = fn;
    g->remap_opaque = opaque;
    vmdl_ioapic_scan(g->io);
    return VMDL_OK;
}

static int attach_from_options(struct vmdl_vm *vm, const struct vmdl_model_options *opts)
{
    struct vmdl_ioapic_options o = {0};
    if (vmdl_model_option(opts, "ioapic-eoi-register"))
        o.version = VMDL_IOAPIC_VERSION_EOI;
    return vmdl_attach_ioapic(vm, &o);
}

static const struct vmdl_mmio_window ioapic_mmio[] = {
    {VMDL_IOAPIC_DEFAULT_BASE, 0x1000},
};

static const struct vmdl_model_option ioapic_options[] = {
    {"ioapic-eoi-register", NULL, "I/O APIC version 0x20 with the EOI register "
     "(QEMU's userspace IOAPIC) instead of KVM's 0x11"},
    {NULL, NULL, NULL},
};

const struct vmdl_model_desc vmdl_ioapic_model = {
    .name = "ioapic",
    .arch = VMDL_ARCH_X86_64,
    .vendor = -1,
    .summary = "I/O APIC: 24 pins, edge/level, remote IRR and EOI as KVM "
               "(needs lapic)",
    .options = ioapic_options,
    .attach = attach_from_options,
    .mmio = ioapic_mmio,
    .nr_mmio = sizeof(ioapic_mmio) / sizeof(ioapic_mmio[0]),
    .mmio_ops = &mmio_ops,
    .reset = ioapic_reset,
    .destroy = ioapic_free,
    .save = ioapic_save,
    .load = ioapic_load,
};
