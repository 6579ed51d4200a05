/* SPDX-License-Identifier: MIT */
/*
 * Booting an arm64 kernel the way QEMU's -kernel does on its virt machine
 * (and Linux's Documentation/arch/arm64/booting.rst asks): the image at RAM
 * base + text offset (a Linux Image header's, or 0x80000 for a raw image such
 * as kvm-unit-tests' .flat), an optional initrd at RAM base + min(RAM/2,
 * 128 MiB), a flattened device tree 2 MiB-aligned after it, x0 = the device
 * tree's address, x1..x3 = 0, MMU off, EL1h with DAIF masked on vCPU 0; the
 * other vCPUs powered off until PSCI CPU_ON (as a VMM starts them with
 * KVM_ARM_VCPU_POWER_OFF).
 *
 * The device tree is built with libfdt from the VM's configuration and
 * follows QEMU's virt machine where a guest looks: /memory, /cpus (enable-
 * method psci, reg = KVM's MPIDR), /psci (HVC conduit), /timer, the PL011 at
 * 0x09000000 with its clock, /chosen (bootargs, stdout-path, initrd).  A
 * caller-supplied device tree is used instead after a structural check
 * (arm64_image.h).
 */
#ifndef VIRTMODEL_ARM64_BOOT_H
#define VIRTMODEL_ARM64_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "virtmodel/arm64_image.h"
#include "virtmodel/machine.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vmdl_arm64_boot {
    const void *kernel;      /* Linux Image or raw binary (required) */
    size_t kernel_size;
    const void *initrd;      /* optional */
    size_t initrd_size;
    const char *cmdline;     /* optional: /chosen bootargs */
    const void *dtb;         /* optional: use this device tree instead */
    size_t dtb_size;
};

/* Load kernel, initrd and device tree into an arm64 VM's RAM, register them
 * as image bytes (restored on reset) and set the boot state above. */
int vmdl_vm_boot_arm64(struct vmdl_vm *vm, const struct vmdl_arm64_boot *boot);

/* The device tree the VM boots with (after vmdl_vm_boot_arm64), and where. */
int vmdl_vm_arm64_dtb(struct vmdl_vm *vm, const void **dtb, size_t *size,
                      uint64_t *gpa);

#ifdef __cplusplus
}
#endif
#endif
