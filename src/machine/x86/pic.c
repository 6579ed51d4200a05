/* SPDX-License-Identifier: MIT */
/*
 * The PC's legacy interrupt path in a multiboot VM: the 8259A pair
 * (src/pic8259) on ports 0x20/0x21, 0xA0/0xA1 and the ELCR at
 * 0x4D0/0x4D1, the 8254 PIT (src/pc/pit8254.c) on 0x40-0x43 and 0x61 with
 * channel 0 on IRQ 0, and the routing of an ISA IRQ to both the 8259 and
 * the I/O APIC as KVM's default GSI routing does (QEMU's pc machine moves
 * IRQ 0 to I/O APIC pin 2; pin 2 of the 8259 is the cascade).  The 8259's
 * INTR reaches a vCPU through its local APIC's LINT0 (ExtINT): the lapic
 * glue asks vmdl_vm_x86_pic_intr, as KVM's kvm_cpu_has_extint.
 *
 * A guest booted with -kernel runs after SeaBIOS, which leaves the 8259s
 * initialised (vector bases 0x08 and 0x70), the PIT at 18.2 Hz, the BSP's
 * LINT0 in ExtINT and an interrupt vector table whose hardware-IRQ entries
 * acknowledge the 8259; vmdl__x86_pic_devices and vmdl__x86_pc_firmware
 * set that state up (docs/pic8259.md has the measurements).
 */
#include <string.h>

#include "virtmodel/attach_ioapic.h"
#include "virtmodel/attach_lapic.h"
#include "virtmodel/error.h"
#include "virtmodel/lapic.h"
#include "x86.h"

/* ---- ISA IRQs ---- */

void vmdl__x86_isa_irq(struct vmdl_vm *vm, unsigned irq, bool level)
{
    if (irq == VMDL_PIC_CASCADE_IRQ)
        return;                          /* no device line: the cascade */
    if (vm->x86h && vm->x86h->pc_devices && irq < 16)
        vmdl_pic8259_set_irq(&vm->x86h->pic, irq, level);
    if (vmdl_vm_ioapic(vm))
        vmdl_vm_ioapic_set_irq(vm, irq == 0 ? 2 : irq, level);
}

static struct vmdl_pic8259 *pic_of(struct vmdl_vm *vm)
{
    return vm && vm->arch == VMDL_ARCH_X86_64 && vm->x86h && vm->x86h->pc_devices
               ? &vm->x86h->pic : NULL;
}

int vmdl_vm_x86_pic_intr(struct vmdl_vm *vm)
{
    struct vmdl_pic8259 *p = pic_of(vm);
    return p ? vmdl_pic8259_peek(p) : -1;
}

int vmdl_vm_x86_pic_inta(struct vmdl_vm *vm)
{
    struct vmdl_pic8259 *p = pic_of(vm);
    return p ? vmdl_pic8259_inta(p) : -1;
}

/* ---- ports ---- */

/* A request the 8259 now presents is taken at the next boundary the
 * engine stops at. */
static void kick_if_intr(struct vmdl_vcpu *vcpu)
{
    if (vmdl_pic8259_output(&vcpu->vm->x86h->pic))
        vmdl_vcpu_request_exit(vcpu);
}

static vmdl_fault pic_read(void *opaque, struct vmdl_vcpu *vcpu, uint16_t port,
                           unsigned size, uint32_t *value)
{
    struct vmdl_pic8259 *p = opaque;
    uint32_t v = 0;
    for (unsigned i = 0; i < size && i < 4; i++)
        v |= (uint32_t)vmdl_pic8259_read(p, (uint16_t)(port + i)) << (8 * i);
    *value = v;
    kick_if_intr(vcpu);                 /* a poll read may change INTR */
    return VMDL_FAULT_NONE;
}

static vmdl_fault pic_write(void *opaque, struct vmdl_vcpu *vcpu, uint16_t port,
                            unsigned size, uint32_t value)
{
    struct vmdl_pic8259 *p = opaque;
    for (unsigned i = 0; i < size && i < 4; i++)
        vmdl_pic8259_write(p, (uint16_t)(port + i), (uint8_t)(value >> (8 * i)));
    kick_if_intr(vcpu);
    return VMDL_FAULT_NONE;
}

static const struct vmdl_io_ops pic_ops = { pic_read, pic_write };

/* IRQ 0 follows channel 0's OUT up to `now`.  A rising edge since the
 * last sync reaches the edge-triggered inputs even when OUT is low again
 * (several edges in one stretch are one interrupt: no catch-up). */
static void sync_irq0(struct vmdl_vm *vm, uint64_t now)
{
    struct vmdl_x86_hosted_vm *h = vm->x86h;
    if (now <= h->pit_now)
        return;                         /* one clock for the VM: the latest */
    bool rose = false, level = h->irq0;
    uint64_t t = h->pit_now;
    for (unsigned n = 0;; n++) {
        uint64_t next = vmdl_pit_next_change(&h->pit, 0, t);
        if (next > now)
            break;
        if (n == 4) {
            rose = true;                /* more edges than looked at */
            break;
        }
        bool out = vmdl_pit_out(&h->pit, 0, next);
        rose |= out && !level;
        level = out;
        t = next;
    }
    h->pit_now = now;
    if (rose) {
        if (h->irq0)
            vmdl__x86_isa_irq(vm, 0, false);
        vmdl__x86_isa_irq(vm, 0, true);
        h->irq0 = true;
    }
    bool out = vmdl_pit_out(&h->pit, 0, now);
    if (out != h->irq0)
        vmdl__x86_isa_irq(vm, 0, out);
    h->irq0 = out;
}

static vmdl_fault pit_read(void *opaque, struct vmdl_vcpu *vcpu, uint16_t port,
                           unsigned size, uint32_t *value)
{
    struct vmdl_vm *vm = opaque;
    uint64_t now = vmdl_vcpu_vtime(vcpu);
    sync_irq0(vm, now);
    uint32_t v = 0;
    for (unsigned i = 0; i < size && i < 4; i++)
        v |= (uint32_t)vmdl_pit_read(&vm->x86h->pit, (uint16_t)(port + i),
                                     vm->x86h->pit_now) << (8 * i);
    *value = v;
    return VMDL_FAULT_NONE;
}

static vmdl_fault pit_write(void *opaque, struct vmdl_vcpu *vcpu, uint16_t port,
                            unsigned size, uint32_t value)
{
    struct vmdl_vm *vm = opaque;
    uint64_t now = vmdl_vcpu_vtime(vcpu);
    sync_irq0(vm, now);
    for (unsigned i = 0; i < size && i < 4; i++)
        vmdl_pit_write(&vm->x86h->pit, (uint16_t)(port + i), (uint8_t)(value >> (8 * i)),
                       vm->x86h->pit_now);
    sync_irq0(vm, vm->x86h->pit_now + 1);   /* a reload may change OUT at once */
    kick_if_intr(vcpu);
    return VMDL_FAULT_NONE;
}

static const struct vmdl_io_ops pit_ops = { pit_read, pit_write };

/* ---- virtual time ---- */

static void pit_advance(void *opaque, struct vmdl_vcpu *vcpu, uint64_t now)
{
    (void)vcpu;
    sync_irq0(opaque, now);
}

/* Does the 8259's INTR reach any local APIC (LINT0 in ExtINT mode, or
 * the APIC hardware-disabled)?  Without the lapic model nothing takes it. */
static bool extint_reachable(struct vmdl_vm *vm)
{
    struct vmdl_lapic_bus *bus = vmdl_vm_lapic_bus(vm);
    for (unsigned i = 0; bus && i < vmdl_lapic_bus_count(bus); i++)
        if (vmdl_lapic_accepts_extint(vmdl_lapic_bus_get(bus, i)))
            return true;
    return false;
}

/* Can ISA IRQ `irq` be taken anywhere?  Unmasked at an initialised 8259
 * (for the slave's, with the cascade open at the master) whose INTR
 * reaches an APIC, or on its I/O APIC pin.  (Otherwise its edges would
 * keep an idle VM that nothing else can wake skipping time.) */
bool vmdl__x86_isa_irq_wanted(struct vmdl_vm *vm, unsigned irq)
{
    const struct vmdl_pic_chip *m = &vm->x86h->pic.chip[0], *s = &vm->x86h->pic.chip[1];
    const struct vmdl_pic_chip *c = irq < 8 ? m : s;
    bool open = c->init_state == 0 && c->irq_base && !(c->imr & (1u << (irq & 7)));
    if (irq >= 8)
        open = open && m->init_state == 0 && !(m->imr & (1u << VMDL_PIC_CASCADE_IRQ));
    if (open && extint_reachable(vm))
        return true;
    struct vmdl_ioapic *io = vmdl_vm_ioapic(vm);
    return io && !(vmdl_ioapic_redir(io, irq == 0 ? 2 : irq) & VMDL_IOAPIC_RTE_MASKED);
}

/* A vCPU halted with interrupts disabled cannot take a device's IRQ: no
 * event for it, so that an idle VM that nothing can wake still ends
 * (run.c's idle_skip). */
bool vmdl__x86_halted_masked(struct vmdl_vcpu *vcpu)
{
    uint64_t rflags = 0;
    return vcpu->halted && !vmdl_vcpu_get_reg(vcpu, VMDL_X86_RFLAGS, &rflags) &&
           !(rflags & (1u << 9));
}

/* The next change of IRQ 0, while anything listens to it. */
static uint64_t pit_next(void *opaque, struct vmdl_vcpu *vcpu)
{
    struct vmdl_vm *vm = opaque;
    if (vmdl__x86_halted_masked(vcpu) || !vmdl__x86_isa_irq_wanted(vm, 0))
        return UINT64_MAX;
    return vmdl_pit_next_change(&vm->x86h->pit, 0, vm->x86h->pit_now);
}

static const struct vmdl_time_ops pit_time = { pit_advance, pit_next };

/* ---- the BIOS's state ---- */

/*
 * SeaBIOS on QEMU's pc machine, measured with QEMU 7.2's pic_ioport_write
 * and apic_mem_writel traces before a multiboot kernel starts: ICW1 0x11,
 * ICW2 0x08 / 0x70, ICW3 0x04 / 0x02, ICW4 0x01, then the masks its
 * drivers leave: master 0xB8 (IRQ 0, 1, 2, 6 open), slave 0x8E (IRQ 8,
 * 12, 13, 14 open); the PIT's channel 0 at the BIOS rate (mode 3, count
 * 65536: 18.2 Hz); LINT0 = 0x8700 (ExtINT), LINT1 = 0x8400 (NMI) and SVR
 * 0x1FF on the BSP.
 */
static void bios_pic_pit(struct vmdl_x86_hosted_vm *h)
{
    static const uint16_t seq[][2] = {
        {0x20, 0x11}, {0xA0, 0x11}, {0x21, 0x08}, {0xA1, 0x70}, {0x21, 0x04},
        {0xA1, 0x02}, {0x21, 0x01}, {0xA1, 0x01}, {0x21, 0xB8}, {0xA1, 0x8E},
    };
    vmdl_pic8259_reset(&h->pic);
    for (unsigned i = 0; i < sizeof(seq) / sizeof(seq[0]); i++)
        vmdl_pic8259_write(&h->pic, seq[i][0], (uint8_t)seq[i][1]);
    vmdl_pit_reset(&h->pit);
    vmdl_pit_write(&h->pit, VMDL_PIT_PORT + 3, 0x36, 0);
    vmdl_pit_write(&h->pit, VMDL_PIT_PORT, 0, 0);
    vmdl_pit_write(&h->pit, VMDL_PIT_PORT, 0, 0);
    h->pit_now = 0;
    h->irq0 = vmdl_pit_out(&h->pit, 0, 0);
    h->fw_lapic = true;
}

/*
 * The interrupt vector table a BIOS leaves: every vector at an IRET, the
 * 8259's vectors (0x08-0x0F, 0x70-0x77) at handlers that send the
 * non-specific EOI (to both chips for the slave's) and return, in the
 * reserved BIOS segment F000 below the boot GDT.  BIOS services (INT 10h,
 * 13h, 15h, ...) are not provided.
 */
#define BIOS_STUBS 0xFFE00u
static int bios_ivt(struct vmdl_vm *vm)
{
    static const uint8_t stubs[] = {
        0xCF,                                           /* +0: iret */
        0x50, 0xB0, 0x20, 0xE6, 0x20, 0x58, 0xCF,       /* +1: EOI master */
        0x50, 0xB0, 0x20, 0xE6, 0xA0, 0xE6, 0x20, 0x58, 0xCF,  /* +8: both */
    };
    if (vm->ram_base != 0 || vm->ram_size < 0x100000)
        return VMDL_OK;
    memcpy(vm->ram + BIOS_STUBS, stubs, sizeof(stubs));
    for (unsigned vec = 0; vec < 256; vec++) {
        unsigned off = (vec >= 0x08 && vec < 0x10) ? 1 : (vec >= 0x70 && vec < 0x78) ? 8 : 0;
        uint16_t ip = (uint16_t)(BIOS_STUBS - 0xF0000u + off), cs = 0xF000;
        memcpy(vm->ram + vec * 4, &ip, 2);
        memcpy(vm->ram + vec * 4 + 2, &cs, 2);
    }
    int err = vmdl_vm_add_image_range(vm, 0, 0x400);
    return err ? err : vmdl_vm_add_image_range(vm, BIOS_STUBS, sizeof(stubs));
}

static void pic_reset_hook(void *opaque, struct vmdl_vm *vm)
{
    (void)opaque;
    bios_pic_pit(vm->x86h);
}

/* At the BSP's first entry after a boot or reset (the lapic model is
 * attached after the image is loaded). */
void vmdl__x86_pc_firmware(struct vmdl_vcpu *v)
{
    struct vmdl_vm *vm = v->vm;
    if (!vm->x86h->fw_lapic || v->index != 0)
        return;
    vm->x86h->fw_lapic = false;
    struct vmdl_lapic_bus *bus = vmdl_vm_lapic_bus(vm);
    struct vmdl_lapic *a = bus ? vmdl_lapic_bus_get(bus, 0) : NULL;
    if (!a || vmdl_lapic_mode(a) != VMDL_LAPIC_MODE_XAPIC)
        return;
    vmdl_lapic_mmio_write(a, VMDL_LAPIC_SVR, 4, 0x1FF);
    vmdl_lapic_mmio_write(a, VMDL_LAPIC_LVT_LINT0, 4, 0x8700);
    vmdl_lapic_mmio_write(a, VMDL_LAPIC_LVT_LINT1, 4, 0x8400);
}

int vmdl__x86_pic_devices(struct vmdl_vm *vm)
{
    struct vmdl_x86_hosted_vm *h = vm->x86h;
    bios_pic_pit(h);
    int err = bios_ivt(vm);
    if (!err)
        err = vmdl_vm_add_io_range(vm, VMDL_PIC_MASTER, VMDL_PIC_MASTER + 1, &pic_ops, &h->pic);
    if (!err)
        err = vmdl_vm_add_io_range(vm, VMDL_PIC_SLAVE, VMDL_PIC_SLAVE + 1, &pic_ops, &h->pic);
    if (!err)
        err = vmdl_vm_add_io_range(vm, VMDL_PIC_ELCR, VMDL_PIC_ELCR + 1, &pic_ops, &h->pic);
    if (!err)
        err = vmdl_vm_add_io_range(vm, VMDL_PIT_PORT, VMDL_PIT_PORT + 3, &pit_ops, vm);
    if (!err)
        err = vmdl_vm_add_io_range(vm, VMDL_PIT_PORT_61, VMDL_PIT_PORT_61, &pit_ops, vm);
    if (!err)
        err = vmdl__add_time_hook(vm, &pit_time, vm);
    if (!err)
        err = vmdl__add_reset_hook(vm, pic_reset_hook, NULL);
    return err;
}
