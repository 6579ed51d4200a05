/* SPDX-License-Identifier: MIT */
/*
 * QEMU's pc-testdev (hw/misc/pc-testdev.c), which kvm-unit-tests' x86
 * runner always adds (-device pc-testdev):
 *  - ports 0xE0-0xE3: a 32-bit scratch register, byte lanes by port;
 *  - ports 0xE4-0xE7: "flush page" (QEMU mprotects a host page so that KVM
 *    refaults it; nothing to do here);
 *  - ports 0x2000-0x2017: interrupt line n to level (data != 0), what
 *    kvm-unit-tests' set_irq_line() drives the I/O APIC with.  QEMU routes
 *    ISA IRQ n to GSI n except IRQ 0, which is GSI 2 (the MADT's interrupt
 *    source override); GSI 2 itself has no I/O APIC input (the 8259
 *    cascade);
 *  - memory at 0xFF000000, 64 KiB, behaving as RAM but reached through the
 *    device path (the emulator and lam tests run instructions on it).
 */
#include <stdlib.h>
#include <string.h>

#include "virtmodel/attach_ioapic.h"
#include "virtmodel/error.h"
#include "x86.h"

#define TESTDEV_PORT 0xE0
#define TESTDEV_FLUSH 0xE4
#define TESTDEV_IRQ 0x2000
#define TESTDEV_IRQS 24
#define TESTDEV_IOMEM 0xFF000000ull
#define TESTDEV_IOMEM_LEN 0x10000u

struct testdev {
    uint32_t port_data;
    uint8_t iomem[TESTDEV_IOMEM_LEN];
};

static vmdl_fault port_read(void *opaque, struct vmdl_vcpu *vcpu, uint16_t port,
                            unsigned size, uint32_t *value)
{
    (void)vcpu;
    (void)size;
    struct testdev *t = opaque;
    *value = port < TESTDEV_FLUSH ? t->port_data >> (8 * (port & 3)) : 0;
    return VMDL_FAULT_NONE;
}

static void set_line(struct vmdl_vcpu *vcpu, unsigned line, bool level)
{
    /* To the 8259 and the I/O APIC (pic.c): ISA IRQ 0 is GSI 2; GSI 2 is
     * nothing (see above). */
    vmdl__x86_isa_irq(vcpu->vm, line, level);
    /* A delivery to this vCPU is taken at the next instruction boundary
     * the engine stops at. */
    vmdl_vcpu_request_exit(vcpu);
}

static vmdl_fault port_write(void *opaque, struct vmdl_vcpu *vcpu, uint16_t port,
                             unsigned size, uint32_t value)
{
    struct testdev *t = opaque;
    if (port >= TESTDEV_IRQ) {
        set_line(vcpu, port - TESTDEV_IRQ, value != 0);
    } else if (port < TESTDEV_FLUSH) {
        unsigned shift = 8 * (port & 3), bits = 8 * (size > 4 ? 4 : size);
        uint32_t mask = (bits == 32 ? 0xFFFFFFFFu : (1u << bits) - 1) << shift;
        t->port_data = (t->port_data & ~mask) | ((value << shift) & mask);
    }
    return VMDL_FAULT_NONE;
}

static const struct vmdl_io_ops port_ops = {port_read, port_write};

static uint64_t iomem_read(void *opaque, struct vmdl_vcpu *vcpu, uint64_t off,
                           unsigned size)
{
    (void)vcpu;
    struct testdev *t = opaque;
    uint64_t v = 0;
    if (off < TESTDEV_IOMEM_LEN && size <= 8 && size <= TESTDEV_IOMEM_LEN - off)
        memcpy(&v, t->iomem + off, size);   /* little-endian host */
    return v;
}

static void iomem_write(void *opaque, struct vmdl_vcpu *vcpu, uint64_t off,
                        unsigned size, uint64_t value)
{
    (void)vcpu;
    struct testdev *t = opaque;
    if (off < TESTDEV_IOMEM_LEN && size <= 8 && size <= TESTDEV_IOMEM_LEN - off)
        memcpy(t->iomem + off, &value, size);
}

static const struct vmdl_mmio_ops iomem_ops = {iomem_read, iomem_write};

int vmdl__x86_testdev(struct vmdl_vm *vm)
{
    struct testdev *t = calloc(1, sizeof(*t));
    if (!t)
        return vmdl_fail(VMDL_ENOMEM, "pc-testdev: out of memory");
    int err = vmdl__add_destroy_hook(vm, free, t);
    if (err) {
        free(t);
        return err;
    }
    if (vm->x86h)
        vm->x86h->testdev = t;
    err = vmdl_vm_add_io_range(vm, TESTDEV_PORT, TESTDEV_FLUSH + 3, &port_ops, t);
    if (!err)
        err = vmdl_vm_add_io_range(vm, TESTDEV_IRQ, TESTDEV_IRQ + TESTDEV_IRQS - 1,
                                   &port_ops, t);
    if (!err && TESTDEV_IOMEM >= vm->ram_base + vm->ram_size)
        err = vmdl_vm_add_mmio(vm, TESTDEV_IOMEM, TESTDEV_IOMEM_LEN, &iomem_ops, t);
    return err;
}

/* ---- checkpoints (hosted_ckpt.c) ---- */

/* The port's data word, then the iomem bytes (their whole range: a guest
 * uses it as scratch memory). */
int vmdl__x86_testdev_save(struct vmdl_vm *vm, struct vmdl_blob_writer *w)
{
    struct testdev *t = vm->x86h->testdev;
    vmdl_blob_put_u8(w, t != NULL);
    if (t) {
        vmdl_blob_put_u32(w, t->port_data);
        vmdl_blob_put_blob(w, t->iomem, sizeof(t->iomem));
    }
    return VMDL_OK;
}

/* *p: the saved port word and iomem (4 + TESTDEV_IOMEM_LEN bytes), NULL
 * when the checkpoint's VM had no testdev. */
void vmdl__x86_testdev_stage(struct vmdl_blob_reader *r, const uint8_t **p, size_t *n)
{
    *p = NULL;
    *n = 0;
    uint8_t has = vmdl_blob_get_u8(r);
    if (has > 1)
        vmdl_blob_reject(r, "pc-testdev flag out of range");
    if (has != 1)
        return;
    *p = r->p + r->pos;
    (void)vmdl_blob_get_u32(r);
    const uint8_t *mem;
    size_t len = 0;
    vmdl_blob_get_blob(r, &mem, &len);
    if (!r->err && len != TESTDEV_IOMEM_LEN)
        vmdl_blob_reject(r, "pc-testdev state of the wrong size");
    *n = r->err ? 0 : 4 + 4 + len;   /* the word, the blob's length, its bytes */
}

void vmdl__x86_testdev_apply(struct vmdl_vm *vm, const uint8_t *p, size_t n)
{
    struct testdev *t = vm->x86h->testdev;
    if (!t || !p || n != 8 + TESTDEV_IOMEM_LEN)
        return;
    memcpy(&t->port_data, p, 4);
    memcpy(t->iomem, p + 8, TESTDEV_IOMEM_LEN);
}
