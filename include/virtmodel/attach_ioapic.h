/* SPDX-License-Identifier: MIT */
/*
 * Machine glue for the I/O APIC model (include/virtmodel/ioapic.h), as
 * KVM's in-kernel IOAPIC next to its local APICs.  See docs/ioapic.md.
 *
 * - memory window at 0xFEC00000 (4 KiB; the model decodes bits 7:0);
 * - messages go to the local APIC model's bus (it must be attached first):
 *   fixed, lowest priority, SMI, NMI, INIT; physical or logical
 *   destination, 0xFF broadcast (also to x2APIC-mode APICs, as KVM);
 * - level EOIs come back from the local APICs only for the vectors the
 *   I/O APIC handles for each APIC (vmdl_lapic_set_eoi_sink);
 * - input pins are driven with vmdl_vm_ioapic_set_irq (KVM_IRQ_LINE's
 *   job; the PC platform's pc-testdev ports 0x2000-0x2017 use it);
 * - VM reset masks every pin; checkpoints carry the state.
 */
#ifndef VIRTMODEL_ATTACH_IOAPIC_H
#define VIRTMODEL_ATTACH_IOAPIC_H

#include <stdbool.h>

#include "virtmodel/ioapic.h"
#include "virtmodel/machine.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vmdl_ioapic_options {
    unsigned version;   /* 0 or 0x11 (KVM), 0x20 (QEMU: EOI register) */
};

/* Attach (opts NULL: KVM's version 0x11).  x86 VMs with the lapic model. */
int vmdl_attach_ioapic(struct vmdl_vm *vm, const struct vmdl_ioapic_options *opts);
/* The attached model, for inspection (NULL when none). */
struct vmdl_ioapic *vmdl_vm_ioapic(struct vmdl_vm *vm);
/* Drive input pin `pin` (0..23); the model's vmdl_ioapic_set_irq result. */
int vmdl_vm_ioapic_set_irq(struct vmdl_vm *vm, unsigned pin, bool level);
/* Put an interrupt-remapping unit between the pins and the APICs (the
 * ioapic.h `remap` contract; fn NULL removes it).  VMDL_ENOENT without an
 * I/O APIC. */
typedef int (*vmdl_ioapic_remap_fn)(void *opaque, uint64_t rte, bool probe,
                                     struct vmdl_ioapic_msg *msg);
int vmdl_vm_ioapic_set_remap(struct vmdl_vm *vm, vmdl_ioapic_remap_fn fn, void *opaque);

#ifdef __cplusplus
}
#endif
#endif
