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
 * caller-supplied device tree is used instead after a structural check.
 */
#ifndef VIRTMODEL_ARM64_BOOT_H
#define VIRTMODEL_ARM64_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "virtmodel/machine.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VMDL_ARM64_RAW_TEXT_OFFSET 0x80000ull
#define VMDL_ARM64_IMAGE_MAGIC 0x644D5241u /* "ARM\x64" at offset 56 */
#define VMDL_ARM64_DTB_MAX (2u << 20)      /* as Linux: at most 2 MiB */

struct vmdl_arm64_boot {
    const void *kernel;      /* Linux Image or raw binary (required) */
    size_t kernel_size;
    const void *initrd;      /* optional */
    size_t initrd_size;
    const char *cmdline;     /* optional: /chosen bootargs */
    const void *dtb;         /* optional: use this device tree instead */
    size_t dtb_size;
};

/* What the image header says.  Returns 1 for a Linux Image (text_offset and
 * image_size from the header; image_size 0 means an old kernel loaded at
 * 0x80000), 0 for a raw image (text_offset 0x80000, image_size 0), or
 * VMDL_EFORMAT for an Image header that cannot be loaded. */
int vmdl_arm64_image_parse(const void *data, size_t size, uint64_t *text_offset,
                           uint64_t *image_size);

/* A device tree blob one can hand to a guest: header, sizes and offsets
 * inside the blob, version 17 (or compatible), and a structure block that
 * libfdt can walk to the end.  VMDL_EFORMAT with the reason otherwise. */
int vmdl_arm64_dtb_check(const void *dtb, size_t size);

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
