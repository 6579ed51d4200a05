/* SPDX-License-Identifier: MIT */
/*
 * PCI devices of an x86 PC guest (a multiboot VM): the host bridge on
 * configuration mechanism #1, QEMU's "edu" device, and the q35 machine's
 * Intel VT-d unit ("intel-iommu") in front of them.  See docs/pci.md and
 * docs/vtd.md.
 *
 * Devices are added after the image is loaded and the models are attached
 * (MSIs and INTx go to the lapic and ioapic models when present); the
 * firmware state a BIOS would leave is set up here: BARs assigned from the
 * top of the 32-bit PCI window down, memory decode on, the interrupt line
 * register holding the ISA IRQ the INTx pin is routed to (SeaBIOS's
 * 10/10/11/11 rotation by slot and pin), where the model drives it.
 */
#ifndef VIRTMODEL_ATTACH_PCI_H
#define VIRTMODEL_ATTACH_PCI_H

#include "virtmodel/machine.h"

#ifdef __cplusplus
extern "C" {
#endif

/* "pc" (the default: i440FX host bridge 8086:1237) or "q35" (MCH
 * 8086:29C0).  Before the first device. */
int vmdl_vm_set_machine(struct vmdl_vm *vm, const char *type);

/*
 * One device in QEMU's -device syntax:
 *   edu
 *   intel-iommu[,intremap=on|off][,eim=on|off][,aw-bits=39|48]
 * (intremap, eim default to off, aw-bits to 39).  VMDL_EINVAL for an
 * unknown device or property or a second intel-iommu; VMDL_ENOENT when
 * bus 0 is full.
 */
int vmdl_vm_add_device(struct vmdl_vm *vm, const char *spec);

#ifdef __cplusplus
}
#endif
#endif
