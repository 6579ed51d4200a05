/* SPDX-License-Identifier: MIT */
/*
 * Guest image descriptions: what a parsed static ELF64 executable (x86-64 or
 * AArch64) holds.  Parsing is pure and strict: a truncated or malformed
 * header, a segment that lies outside the file, the wrong class or machine
 * is refused with VMDL_EFORMAT and a message that says which.  Loading an
 * image into a VM is the machine's part (loader.h).
 */
#ifndef VIRTMODEL_IMAGE_H
#define VIRTMODEL_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "virtmodel/arch.h"

#ifdef __cplusplus
extern "C" {
#endif

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

#ifdef __cplusplus
}
#endif
#endif
