/* SPDX-License-Identifier: MIT */
/*
 * Guest images: static ELF64 executables (x86-64 or AArch64) and raw
 * binaries.  Parsing is pure and strict: a truncated or malformed header, a
 * segment that lies outside the file, the wrong class or machine, or a
 * segment outside guest RAM is refused with VMDL_EFORMAT and a message that
 * says which.
 */
#ifndef VIRTMODEL_LOADER_H
#define VIRTMODEL_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "virtmodel/machine.h"

#define VMDL_IMAGE_MAX_SEGMENTS 32

struct vmdl_image_segment {
    uint64_t paddr;   /* guest-physical load address */
    uint64_t offset;  /* in the file */
    uint64_t filesz;  /* bytes copied from the file */
    uint64_t memsz;   /* bytes occupied (the rest is zero-filled) */
    uint32_t flags;   /* PF_X | PF_W | PF_R */
};

struct vmdl_image {
    enum vmdl_arch arch;
    uint64_t entry;
    unsigned nr_segments;
    struct vmdl_image_segment seg[VMDL_IMAGE_MAX_SEGMENTS];
};

/* Parse and validate an ELF64 executable held in memory. */
int vmdl_elf_parse(const void *data, size_t size, struct vmdl_image *img);

/* Is this buffer an ELF file at all (magic only)? */
int vmdl_image_is_elf(const void *data, size_t size);

/* Copy a parsed image into the VM's RAM (checks every segment against RAM),
 * register its bytes for reset, and set the entry point. */
int vmdl_vm_load_elf(struct vmdl_vm *vm, const void *data, size_t size);

/* Load a raw binary at addr and start there. */
int vmdl_vm_load_raw(struct vmdl_vm *vm, const void *data, size_t size,
                     uint64_t addr);

/* Read a whole file (malloc'd; caller frees).  Refuses files over 1 GiB. */
int vmdl_read_file(const char *path, uint8_t **data, size_t *size);

#endif
