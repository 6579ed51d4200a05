/* SPDX-License-Identifier: MIT */
/*
 * arm64 boot inputs, checked before they reach a VM (pure, no machine): the
 * Linux Image header (Documentation/arch/arm64/booting.rst) and a flattened
 * device tree a user hands in (`--dtb`).  Booting them is arm64_boot.h.
 */
#ifndef VIRTMODEL_ARM64_IMAGE_H
#define VIRTMODEL_ARM64_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VMDL_ARM64_RAW_TEXT_OFFSET 0x80000ull
#define VMDL_ARM64_IMAGE_MAGIC 0x644D5241u /* "ARM\x64" at offset 56 */
#define VMDL_ARM64_DTB_MAX (2u << 20)      /* as Linux: at most 2 MiB */

/* What the image header says.  Returns 1 for a Linux Image (text_offset and
 * image_size from the header; image_size 0 means an old kernel loaded at
 * 0x80000), 0 for a raw image (text_offset 0x80000, image_size 0), or
 * VMDL_EFORMAT for an Image header that cannot be loaded. */
int vmdl_arm64_image_parse(const void *data, size_t size, uint64_t *text_offset,
                           uint64_t *image_size);

/* A device tree blob one can hand to a guest: header, sizes and offsets
 * inside the blob, 4-byte aligned structure block and 8-byte aligned
 * reservation map, every property named in the strings block, exactly one
 * root node with nothing after it, and libfdt's full check.  VMDL_EFORMAT
 * with the reason otherwise.  (Debian 12's libfdt 1.6.1 alone accepts a tree
 * with no root node and dereferences NULL on a property name outside the
 * strings block: the checks before its own are ours.) */
int vmdl_arm64_dtb_check(const void *dtb, size_t size);

#ifdef __cplusplus
}
#endif
#endif
