/* SPDX-License-Identifier: MIT */
/*
 * Multiboot (version 1) images, as QEMU's -kernel boots them: the header
 * search, the 32-bit ELF or "a.out kludge" load description, and the boot
 * information structure (memory sizes, memory map, command line, modules)
 * the boot loader leaves at EBX.  Pure and strict: a header that fails its
 * checksum, load addresses that contradict each other, a segment outside the
 * file or outside RAM are refused with VMDL_EFORMAT and a message.
 */
#ifndef VIRTMODEL_MULTIBOOT_H
#define VIRTMODEL_MULTIBOOT_H

#include <stddef.h>
#include <stdint.h>

#include "virtmodel/image.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VMDL_MB_HEADER_MAGIC 0x1BADB002u  /* in the image */
#define VMDL_MB_BOOT_MAGIC 0x2BADB002u    /* in EAX at entry */
#define VMDL_MB_SEARCH_BYTES 8192u        /* the header lies in the first 8 KiB */
#define VMDL_MB_MAX_MODULES 16

/* Header flags (multiboot 1, section 3.1.2). */
#define VMDL_MB_FLAG_PAGE_ALIGN (1u << 0)
#define VMDL_MB_FLAG_MEMORY_INFO (1u << 1)
#define VMDL_MB_FLAG_VIDEO_MODE (1u << 2)
#define VMDL_MB_FLAG_AOUT_KLUDGE (1u << 16)

/* Boot information flags (section 3.3). */
#define VMDL_MBI_MEM (1u << 0)
#define VMDL_MBI_BOOT_DEVICE (1u << 1)
#define VMDL_MBI_CMDLINE (1u << 2)
#define VMDL_MBI_MODS (1u << 3)
#define VMDL_MBI_MMAP (1u << 6)
#define VMDL_MBI_LOADER_NAME (1u << 9)

struct vmdl_mb_header {
    uint32_t offset;        /* of the header in the file */
    uint32_t flags;
    /* valid with VMDL_MB_FLAG_AOUT_KLUDGE */
    uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr;
};

/*
 * Find and check the header: 0 when found (h filled), VMDL_ENOENT when the
 * file has no multiboot header, VMDL_EFORMAT when it has a header whose
 * checksum holds but that asks for something a boot loader cannot give
 * (unknown required flags, a truncated kludge).
 */
int vmdl_multiboot_find(const void *data, size_t size, struct vmdl_mb_header *h);

/*
 * The load description: segments (paddr, file offset, sizes) and the entry,
 * from the a.out kludge fields when the header has them, otherwise from the
 * file's ELF32 (EM_386) program headers.  img->arch is VMDL_ARCH_X86_64 (the
 * machine that boots it).
 */
int vmdl_multiboot_parse(const void *data, size_t size, struct vmdl_image *img);

struct vmdl_mb_module {
    const void *data;
    size_t size;
    const char *cmdline;  /* may be NULL */
};

struct vmdl_mb_boot {
    const char *cmdline;                 /* the kernel's; may be NULL */
    const struct vmdl_mb_module *mods;
    unsigned nr_mods;                    /* at most VMDL_MB_MAX_MODULES */
};

struct vmdl_mb_placed {
    uint32_t info_addr;   /* EBX at entry */
    uint32_t entry;       /* EIP at entry */
    uint64_t used_start;  /* RAM written besides the image's segments: */
    uint64_t used_end;    /*   modules, strings and the information block */
};

/*
 * Lay out a parsed image in guest RAM (guest-physical 0 .. ram_size-1, host
 * memory ram): copy its segments, the modules (page-aligned, after the
 * highest segment), the strings and the information block (memory map:
 * 0-0x9FBFF and 1 MiB up to the end of RAM below 4 GiB available, the rest
 * reserved), all below 4 GiB.  Checks everything before writing anything.
 */
int vmdl_multiboot_place(const struct vmdl_image *img, const void *data,
                         size_t size, const struct vmdl_mb_boot *boot,
                         uint8_t *ram, uint64_t ram_size,
                         struct vmdl_mb_placed *out);
/*
 * The same for RAM split around the PCI hole (QEMU pc, -m 3584 and more):
 * ram holds ram_size bytes at guest-physical 0 (at most 4 GiB) and
 * high_size more from 4 GiB; the memory map gets a fifth entry, 4 GiB up
 * to 4 GiB + high_size, available.  Everything placed stays below 4 GiB.
 */
int vmdl_multiboot_place_split(const struct vmdl_image *img, const void *data,
                               size_t size, const struct vmdl_mb_boot *boot,
                               uint8_t *ram, uint64_t ram_size, uint64_t high_size,
                               struct vmdl_mb_placed *out);

#ifdef __cplusplus
}
#endif

#endif
