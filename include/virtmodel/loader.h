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

#ifdef __cplusplus
}
#endif
#endif
