/* SPDX-License-Identifier: MIT */
/*
 * Loading guest images (image.h: parsed static ELF64 executables, and raw
 * binaries) into a VM.  A segment outside guest RAM is refused with
 * VMDL_EFORMAT and a message that says which.
 */
#ifndef VIRTMODEL_LOADER_H
#define VIRTMODEL_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "virtmodel/image.h"
#include "virtmodel/machine.h"
#include "virtmodel/multiboot.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Copy a parsed image into the VM's RAM (checks every segment against RAM),
 * register its bytes for reset, and set the entry point. */
int vmdl_vm_load_elf(struct vmdl_vm *vm, const void *data, size_t size);

/* Load a raw binary at addr and start there. */
int vmdl_vm_load_raw(struct vmdl_vm *vm, const void *data, size_t size,
                     uint64_t addr);

/* Read a whole file (malloc'd; caller frees).  Refuses files over 1 GiB. */
int vmdl_read_file(const char *path, uint8_t **data, size_t *size);

/*
 * Load a multiboot kernel into an x86 VM (RAM at 0) as QEMU's -kernel does
 * and make it the entry: the bootstrap processor starts in 32-bit protected
 * mode (flat CS 0x10 / DS 0x18, paging off, interrupts off) with
 * EAX = VMDL_MB_BOOT_MAGIC and EBX at the information block; every vCPU
 * runs the guest at its own privilege level (docs/architecture.md, "Real
 * x86 guests").  boot may be NULL (no command line, no modules).
 */
int vmdl_vm_load_multiboot(struct vmdl_vm *vm, const void *data, size_t size,
                           const struct vmdl_mb_boot *boot);

#ifdef __cplusplus
}
#endif
#endif
