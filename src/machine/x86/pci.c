/* SPDX-License-Identifier: MIT */
/*
 * The PC's PCI side (include/virtmodel/attach_pci.h, docs/pci.md, docs/vtd.md):
 * the host bridge's configuration ports, each device's BAR window, bus-
 * master DMA through the VT-d unit when there is one, INTx onto the ISA
 * IRQ lines (8259 and I/O APIC, wired-OR), MSIs through interrupt
 * remapping to the local APICs, and the VT-d unit's registers and its
 * remapping of I/O APIC entries.  The device logic is in src/pci and
 * src/vtd; this file only wires it to ports, MMIO and memory.
 */
#include <stdlib.h>
#include <string.h>

#include "virtmodel/attach_ioapic.h"
#include "virtmodel/attach_lapic.h"
#include "virtmodel/error.h"
#include "virtmodel/lapic.h"
#include "virtmodel/pc_acpi.h"
#include "virtmodel/attach_pci.h"
#include "virtmodel/pci_edu.h"
#include "virtmodel/vtd.h"
#include "x86.h"

#define PCI_WINDOW_END 0xFEC00000ull   /* 32-bit BARs go below the I/O APIC */
#define MAX_EDU 4

struct pc_pci;

struct edu_slot {
    struct pc_pci *p;
    struct vmdl_edu edu;
    uint16_t bdf;
    unsigned irq;           /* the ISA IRQ INTA is routed to */
    uint64_t registered;    /* where the BAR window was added */
    uint64_t bios_bar;      /* what the firmware programmed */
};

struct pc_pci {
    struct vmdl_vm *vm;
    struct vmdl_pci_host host;
    struct vmdl_pci_func bridge;
    bool q35, ports;
    uint64_t next_bar;
    unsigned line_count[16];  /* asserted INTx per ISA IRQ (wired-OR) */
    struct edu_slot *edu[MAX_EDU];
    unsigned nr_edu;
    struct vmdl_vtd *vtd;
};

/* ---- interrupts ---- */

static void to_apics(struct pc_pci *p, const struct vmdl_msi_msg *m)
{
    struct vmdl_lapic_bus *bus = vmdl_vm_lapic_bus(p->vm);
    if (!bus)
        return;          /* no local APIC model: nothing takes it */
    /* 0xFF: the xAPIC broadcast, to x2APIC-mode APICs too (as KVM). */
    uint32_t dest = m->dest == 0xFF ? 0xFFFFFFFFu : m->dest;
    vmdl_lapic_bus_deliver(bus, dest, m->logical, m->delivery_mode, m->vector, m->level);
}

/* A device's MSI write: through interrupt remapping when there is a unit. */
static void send_msi(struct pc_pci *p, int sid, uint64_t addr, uint32_t data)
{
    struct vmdl_msi_msg m;
    if (p->vtd) {
        if (vmdl_vtd_remap_msi(p->vtd, sid, addr, data, &m) != VMDL_VTD_IRQ_OK)
            return;      /* blocked: the fault is recorded */
    } else if (!vmdl_msi_decode(addr, data, &m)) {
        return;          /* not the interrupt range: a DMA write we drop */
    }
    to_apics(p, &m);
}

/* The VT-d unit's own events are never remapped. */
static void vtd_event(void *opaque, uint64_t addr, uint32_t data)
{
    struct vmdl_msi_msg m;
    if (vmdl_msi_decode(addr, data, &m))
        to_apics(opaque, &m);
}

static void set_line(struct pc_pci *p, unsigned irq, bool level)
{
    unsigned before = p->line_count[irq];
    if (level)
        p->line_count[irq]++;
    else if (before)
        p->line_count[irq]--;
    if (!before != !p->line_count[irq])
        vmdl__x86_isa_irq(p->vm, irq, p->line_count[irq] != 0);
}

/* The I/O APIC's entries through interrupt remapping (ioapic.h). */
static int ioapic_remap(void *opaque, uint64_t rte, bool probe, struct vmdl_ioapic_msg *msg)
{
    struct pc_pci *p = opaque;
    struct vmdl_msi_msg m;
    int r = probe ? vmdl_vtd_peek_ioapic(p->vtd, rte, &m)
                  : vmdl_vtd_remap_ioapic(p->vtd, rte, &m);
    if (r == VMDL_VTD_IRQ_PASS)
        return 1;
    if (r != VMDL_VTD_IRQ_OK)
        return -1;
    *msg = (struct vmdl_ioapic_msg){m.dest, m.logical, m.delivery_mode, m.vector, m.level};
    return 0;
}

/* ---- edu ---- */

static int edu_dma(void *opaque, uint64_t addr, void *buf, size_t len, bool write)
{
    struct edu_slot *s = opaque;
    struct vmdl_vm *vm = s->p->vm;
    const struct vmdl_guest_mem *mem = vmdl_vm_guest_mem(vm);
    uint8_t *b = buf;
    while (len) {
        uint64_t pa = addr, room = 0x1000 - (addr & 0xFFF);
        if (s->p->vtd && vmdl_vtd_translate(s->p->vtd, s->bdf, addr, write, &pa, &room))
            return -1;
        size_t n = len < room ? len : (size_t)room;
        int err = write ? mem->write(mem->opaque, pa, b, n) : mem->read(mem->opaque, pa, b, n);
        if (err)
            return -1;   /* not RAM: device-to-device DMA is not modelled */
        addr += n;
        b += n;
        len -= n;
    }
    return 0;
}

static void edu_intx(void *opaque, bool level)
{
    struct edu_slot *s = opaque;
    set_line(s->p, s->irq, level);
}

static void edu_msi(void *opaque)
{
    struct edu_slot *s = opaque;
    uint64_t addr;
    uint32_t data;
    vmdl_pci_msi_message(&s->edu.fn, &addr, &data);
    send_msi(s->p, s->bdf, addr, data);
}

/* The window answers only while the BAR decodes exactly there; a BAR the
 * guest moved moves the window (when the new place is free). */
static bool edu_decodes(struct edu_slot *s, struct vmdl_vcpu *vcpu)
{
    (void)vcpu;
    uint64_t at = vmdl_pci_bar_addr(&s->edu.fn, 0);
    return at != VMDL_PCI_BAR_UNMAPPED;
}

static uint64_t edu_read(void *opaque, struct vmdl_vcpu *vcpu, uint64_t off, unsigned size)
{
    struct edu_slot *s = opaque;
    if (!edu_decodes(s, vcpu))
        return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;   /* master abort */
    return vmdl_edu_mmio_read(&s->edu, off, size);
}

static void edu_write(void *opaque, struct vmdl_vcpu *vcpu, uint64_t off, unsigned size,
                      uint64_t value)
{
    struct edu_slot *s = opaque;
    if (edu_decodes(s, vcpu))
        vmdl_edu_mmio_write(&s->edu, off, size, value);
}

static const struct vmdl_mmio_ops edu_mmio = {edu_read, edu_write};

static void edu_config_written(void *owner, unsigned off, unsigned size)
{
    struct edu_slot *s = owner;
    vmdl_edu_config_written(&s->edu, off, size);
    uint64_t at = vmdl_pci_bar_addr(&s->edu.fn, 0);
    struct vmdl_vm *vm = s->p->vm;
    if (at == VMDL_PCI_BAR_UNMAPPED)
        return;
    for (unsigned i = 0; i < vm->nr_vcpus; i++)
        vmdl_vcpu_move_mmio(vm->vcpus[i], s->registered, at);   /* refused: stays */
}

static const struct vmdl_edu_ops edu_ops_tmpl = {edu_dma, edu_intx, edu_msi, NULL};

/* SeaBIOS's routing of INTx on bus 0 (pciinit.c, pc and q35 alike). */
static unsigned bios_irq(unsigned slot, unsigned pin)
{
    static const uint8_t irqs[4] = {10, 10, 11, 11};
    return irqs[(pin - 1 + slot) & 3];
}

static void edu_firmware(struct edu_slot *s)
{
    struct vmdl_pci_func *f = &s->edu.fn;
    f->written = edu_config_written;
    f->owner = s;
    vmdl_pci_bar_set(f, 0, s->bios_bar);
    vmdl_pci_func_write(f, VMDL_PCI_COMMAND, 2, VMDL_PCI_CMD_MEM | VMDL_PCI_CMD_IO);
    vmdl_pci_func_set_intx(f, 1, (uint8_t)s->irq);
}

static int add_edu(struct pc_pci *p)
{
    if (p->nr_edu == MAX_EDU)
        return vmdl_fail(VMDL_EINVAL, "edu: at most %d", MAX_EDU);
    struct edu_slot *s = calloc(1, sizeof(*s));
    if (!s)
        return vmdl_fail(VMDL_ENOMEM, "edu: out of memory");
    s->p = p;
    struct vmdl_edu_ops ops = edu_ops_tmpl;
    ops.opaque = s;
    vmdl_edu_init(&s->edu, &ops);
    int devfn = vmdl_pci_host_plug(&p->host, -1, &s->edu.fn);
    if (devfn < 0) {
        free(s);
        return devfn;
    }
    p->edu[p->nr_edu++] = s;            /* freed with the rest from here on */
    s->bdf = (uint16_t)devfn;
    s->irq = bios_irq((unsigned)devfn >> 3, 1);
    p->next_bar = (p->next_bar - VMDL_EDU_BAR_SIZE) & ~(VMDL_EDU_BAR_SIZE - 1);
    s->bios_bar = s->registered = p->next_bar;
    edu_firmware(s);
    return vmdl_vm_add_mmio(p->vm, s->registered, VMDL_EDU_BAR_SIZE, &edu_mmio, s);
}

/* ---- VT-d ---- */

static uint64_t vtd_read(void *opaque, struct vmdl_vcpu *vcpu, uint64_t off, unsigned size)
{
    (void)vcpu;
    return vmdl_vtd_mmio_read(opaque, off, size);
}

static void vtd_write(void *opaque, struct vmdl_vcpu *vcpu, uint64_t off, unsigned size,
                      uint64_t value)
{
    (void)vcpu;
    vmdl_vtd_mmio_write(opaque, off, size, value);
}

static const struct vmdl_mmio_ops vtd_mmio = {vtd_read, vtd_write};

/* "on"/"off" (QEMU also takes true/false, yes/no). */
static int on_off(const char *v, size_t n, bool *out)
{
    static const char *const on[] = {"on", "true", "yes"}, *const off[] = {"off", "false", "no"};
    for (unsigned i = 0; i < 3; i++) {
        if (strlen(on[i]) == n && !strncmp(v, on[i], n))
            return *out = true, 0;
        if (strlen(off[i]) == n && !strncmp(v, off[i], n))
            return *out = false, 0;
    }
    return -1;
}

static int parse_iommu(const char *props, struct vmdl_vtd_config *c)
{
    while (props && *props) {
        size_t len = strcspn(props, ",");
        const char *eq = memchr(props, '=', len);
        size_t klen = eq ? (size_t)(eq - props) : len;
        const char *val = eq ? eq + 1 : "";
        size_t vlen = eq ? len - klen - 1 : 0;
        bool b = false;
        int bad = 0;
        if (klen == 8 && !strncmp(props, "intremap", 8))
            bad = on_off(val, vlen, &b), c->intremap = b;
        else if (klen == 3 && !strncmp(props, "eim", 3))
            bad = on_off(val, vlen, &b), c->eim = b;
        else if (klen == 7 && !strncmp(props, "aw-bits", 7))
            c->aw_bits = vlen == 2 && !strncmp(val, "39", 2) ? 39
                         : vlen == 2 && !strncmp(val, "48", 2) ? 48 : (bad = -1, 0);
        else
            bad = -1;
        if (bad)
            return vmdl_fail(VMDL_EINVAL, "intel-iommu: bad property '%.*s' (intremap, "
                             "eim: on|off; aw-bits: 39|48)", (int)len, props);
        props += len + (props[len] == ',');
    }
    return VMDL_OK;
}

/* The ACPI DMAR table a kernel finds the unit by, as QEMU's q35 builds it:
 * the I/O APIC in the scope at QEMU's pseudo platform bus 0xFF, device 0;
 * x2APIC opt-out unless EIM. */
static int add_dmar(struct pc_pci *p, const struct vmdl_vtd_config *c)
{
    struct vmdl_acpi_dmar d = {
        .base = VMDL_VTD_BASE, .haw = c->aw_bits, .intremap = c->intremap,
        .x2apic_opt_out = c->intremap && !c->eim, .ioapic_id = 0, .ioapic_sid = 0xFF00,
    };
    uint8_t *t;
    size_t len;
    int err = vmdl_acpi_build_dmar(&d, &t, &len);
    if (err)
        return err;
    err = vmdl__x86_pc_acpi_table(p->vm, t, len);
    free(t);
    return err;
}

static int add_iommu(struct pc_pci *p, const char *props)
{
    if (p->vtd)
        return vmdl_fail(VMDL_EINVAL, "intel-iommu: only one");
    struct vmdl_vtd_config c = {.aw_bits = 39, .msi = vtd_event, .opaque = p};
    c.mem = *vmdl_vm_guest_mem(p->vm);
    int err = parse_iommu(props, &c);
    if (!err)
        err = vmdl_vtd_create(&c, &p->vtd);
    if (!err)
        err = vmdl_vm_add_mmio(p->vm, VMDL_VTD_BASE, VMDL_VTD_REG_SIZE, &vtd_mmio, p->vtd);
    if (!err && c.intremap && vmdl_vm_ioapic(p->vm))
        err = vmdl_vm_ioapic_set_remap(p->vm, ioapic_remap, p);
    return err ? err : add_dmar(p, &c);
}

/* ---- host bridge, reset, lifetime ---- */

static vmdl_fault cfg_read(void *opaque, struct vmdl_vcpu *vcpu, uint16_t port, unsigned size,
                           uint32_t *value)
{
    (void)vcpu;
    *value = vmdl_pci_host_io_read(opaque, port, size);
    return VMDL_FAULT_NONE;
}

static vmdl_fault cfg_write(void *opaque, struct vmdl_vcpu *vcpu, uint16_t port, unsigned size,
                            uint32_t value)
{
    (void)vcpu;
    vmdl_pci_host_io_write(opaque, port, size, value);
    return VMDL_FAULT_NONE;
}

static const struct vmdl_io_ops cfg_ops = {cfg_read, cfg_write};

static void bridge_init(struct pc_pci *p)
{
    vmdl_pci_func_init(&p->bridge, 0x8086, p->q35 ? 0x29C0 : 0x1237, 0x060000,
                       p->q35 ? 0x00 : 0x02);
}

static void pci_reset(void *opaque, struct vmdl_vm *vm)
{
    (void)vm;
    struct pc_pci *p = opaque;
    p->host.conf_addr = 0;
    bridge_init(p);
    for (unsigned i = 0; i < p->nr_edu; i++) {
        vmdl_edu_reset(&p->edu[i]->edu);
        edu_firmware(p->edu[i]);
        for (unsigned c = 0; c < vm->nr_vcpus; c++)
            vmdl_vcpu_move_mmio(vm->vcpus[c], p->edu[i]->registered, p->edu[i]->registered);
    }
    memset(p->line_count, 0, sizeof(p->line_count));
    if (p->vtd)
        vmdl_vtd_reset(p->vtd);
}

static void pci_free(void *opaque)
{
    struct pc_pci *p = opaque;
    for (unsigned i = 0; i < p->nr_edu; i++)
        free(p->edu[i]);
    vmdl_vtd_destroy(p->vtd);
    free(p);
}

static struct pc_pci *pci_of(struct vmdl_vm *vm)
{
    return vm && vm->arch == VMDL_ARCH_X86_64 && vm->x86h ? vm->x86h->pci : NULL;
}

static int pci_create(struct vmdl_vm *vm, struct pc_pci **out)
{
    if (!vm || vm->arch != VMDL_ARCH_X86_64 || !vm->x86h || !vm->x86h->pc_devices)
        return vmdl_fail(VMDL_EINVAL, "PCI devices need an x86 VM booted as a PC "
                         "(a multiboot kernel)");
    if ((*out = pci_of(vm)))
        return VMDL_OK;
    struct pc_pci *p = calloc(1, sizeof(*p));
    if (!p)
        return vmdl_fail(VMDL_ENOMEM, "PCI: out of memory");
    p->vm = vm;
    p->next_bar = PCI_WINDOW_END;
    vmdl_pci_host_init(&p->host);
    int err = vmdl__add_destroy_hook(vm, pci_free, p);
    if (err) {
        free(p);
        return err;
    }
    vm->x86h->pci = p;
    *out = p;
    return vmdl__add_reset_hook(vm, pci_reset, p);
}

/* The host bridge appears with the first device (or --machine). */
static int plug_bridge(struct pc_pci *p)
{
    if (p->ports)
        return VMDL_OK;
    bridge_init(p);
    int devfn = vmdl_pci_host_plug(&p->host, 0, &p->bridge);
    if (devfn < 0)
        return devfn;
    p->ports = true;
    return vmdl_vm_add_io_range(p->vm, VMDL_PCI_PORT_ADDR, VMDL_PCI_PORT_DATA + 3, &cfg_ops,
                                &p->host);
}

int vmdl_vm_set_machine(struct vmdl_vm *vm, const char *type)
{
    struct pc_pci *p = NULL;
    if (!type || (strcmp(type, "pc") && strcmp(type, "q35")))
        return vmdl_fail(VMDL_EINVAL, "machine '%s': pc or q35", type ? type : "(null)");
    int err = pci_create(vm, &p);
    if (err)
        return err;
    if (p->ports)
        return vmdl_fail(VMDL_EINVAL, "machine: set it before the first device");
    p->q35 = !strcmp(type, "q35");
    return plug_bridge(p);
}

int vmdl_vm_add_device(struct vmdl_vm *vm, const char *spec)
{
    struct pc_pci *p = NULL;
    if (!spec)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vm_add_device: NULL spec");
    int err = pci_create(vm, &p);
    if (!err)
        err = plug_bridge(p);
    if (err)
        return err;
    size_t n = strcspn(spec, ",");
    if (n == 3 && !strncmp(spec, "edu", 3) && !spec[n])
        return add_edu(p);
    if (n == 11 && !strncmp(spec, "intel-iommu", 11))
        return add_iommu(p, spec[n] ? spec + n + 1 : NULL);
    return vmdl_fail(VMDL_EINVAL, "device '%s': edu or intel-iommu[,intremap=on|off]"
                     "[,eim=on|off][,aw-bits=39|48]", spec);
}
