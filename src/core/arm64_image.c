/* SPDX-License-Identifier: MIT */
/*
 * arm64 boot inputs, checked before they reach a VM (pure: fuzz_dtb runs
 * them without a machine): the Linux Image header (Documentation/arch/
 * arm64/booting.rst: text_offset at 8, image_size at 16, magic "ARM\x64" at
 * 56, little-endian) and a flattened device tree handed to a guest.
 */
#include <libfdt.h>
#include <string.h>

#include "virtmodel/arm64_image.h"
#include "virtmodel/error.h"

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

int vmdl_arm64_image_parse(const void *data, size_t size, uint64_t *text_offset,
                           uint64_t *image_size)
{
    if (!data || !text_offset || !image_size)
        return vmdl_fail(VMDL_EINVAL, "vmdl_arm64_image_parse: NULL argument");
    const uint8_t *d = data;
    *text_offset = VMDL_ARM64_RAW_TEXT_OFFSET;
    *image_size = 0;
    if (size < 64 || le64(d + 56) % (1ull << 32) != VMDL_ARM64_IMAGE_MAGIC)
        return 0;
    uint64_t off = le64(d + 8), isz = le64(d + 16);
    if (isz == 0)
        return 1; /* before Linux 3.17: text offset unknown, 0x80000 */
    if (off & 0xFFF || off >= (1ull << 32))
        return vmdl_fail(VMDL_EFORMAT, "arm64 Image: text_offset 0x%llx is not a "
                         "page-aligned offset", (unsigned long long)off);
    if (isz < size || isz >= (1ull << 32))
        return vmdl_fail(VMDL_EFORMAT, "arm64 Image: image_size 0x%llx is smaller "
                         "than the file (0x%zx bytes) or absurd",
                         (unsigned long long)isz, size);
    *text_offset = off;
    *image_size = isz;
    return 1;
}

/* Every property's name lies in the strings block.  Debian 12's libfdt
 * 1.6.1 fdt_check_full dereferences NULL on a name that does not (found by
 * fuzz_dtb), so this runs first. */
static int props_named(const void *dtb)
{
    int off = 0, next = 0;
    for (unsigned n = 0; n < VMDL_ARM64_DTB_MAX / 4; n++, off = next) {
        uint32_t tag = fdt_next_tag(dtb, off, &next);
        if (next < 0)
            return vmdl_fail(VMDL_EFORMAT, "device tree: %s in the structure block",
                             fdt_strerror(next));
        if (tag == FDT_END)
            return VMDL_OK;
        if (tag != FDT_PROP)
            continue;
        /* struct fdt_property: tag, len, nameoff (big-endian), the value. */
        const uint8_t *p = fdt_offset_ptr(dtb, off, 12);
        int len;
        if (!p || !fdt_get_string(dtb, (int)((uint32_t)p[8] << 24 | (uint32_t)p[9] << 16 |
                                             (uint32_t)p[10] << 8 | p[11]), &len))
            return vmdl_fail(VMDL_EFORMAT, "device tree: the property at offset %d has "
                             "no name in the strings block", off);
    }
    return vmdl_fail(VMDL_EFORMAT, "device tree: structure block does not end");
}

int vmdl_arm64_dtb_check(const void *dtb, size_t size)
{
    if (!dtb)
        return vmdl_fail(VMDL_EINVAL, "device tree: NULL");
    if (size < sizeof(struct fdt_header))
        return vmdl_fail(VMDL_EFORMAT, "device tree: %zu bytes is shorter than its "
                         "header", size);
    if (fdt_magic(dtb) != FDT_MAGIC)
        return vmdl_fail(VMDL_EFORMAT, "device tree: bad magic 0x%08x (want 0x%08x)",
                         fdt_magic(dtb), FDT_MAGIC);
    if (fdt_totalsize(dtb) > size)
        return vmdl_fail(VMDL_EFORMAT, "device tree: header says %u bytes, the file "
                         "has %zu", fdt_totalsize(dtb), size);
    if (fdt_totalsize(dtb) > VMDL_ARM64_DTB_MAX)
        return vmdl_fail(VMDL_EFORMAT, "device tree: %u bytes (at most 2 MiB)",
                         fdt_totalsize(dtb));
    int e = fdt_check_header(dtb);
    if (e)
        return vmdl_fail(VMDL_EFORMAT, "device tree: %s", fdt_strerror(e));
    /* The specification aligns the structure block to 4 bytes and the
     * memory reservation block to 8 (libfdt 1.6 does not check). */
    if (fdt_off_dt_struct(dtb) % 4 || fdt_off_mem_rsvmap(dtb) % 8)
        return vmdl_fail(VMDL_EFORMAT, "device tree: misaligned structure (0x%x) or "
                         "reservation (0x%x) block", fdt_off_dt_struct(dtb),
                         fdt_off_mem_rsvmap(dtb));
    if ((e = props_named(dtb)))
        return e;
    e = fdt_check_full(dtb, fdt_totalsize(dtb));
    if (e)
        return vmdl_fail(VMDL_EFORMAT, "device tree: %s", fdt_strerror(e));
    /* One named root node with named nodes under it, then the end: libfdt
     * 1.6's full check accepts a structure block with no root node (found
     * by fuzz_dtb). */
    int depth = 0, off = 0;
    while (off >= 0 && depth >= 0) {
        if (!fdt_get_name(dtb, off, NULL))
            return vmdl_fail(VMDL_EFORMAT, "device tree: no valid node at offset %d%s",
                             off, off ? "" : " (no root node)");
        off = fdt_next_node(dtb, off, &depth);
    }
    /* Leaving the root, libfdt returns the offset after its end: FDT_END
     * must be there. */
    int next;
    if (off >= 0 && fdt_next_tag(dtb, off, &next) != FDT_END)
        return vmdl_fail(VMDL_EFORMAT, "device tree: something at offset %d follows "
                         "the root node", off);
    return VMDL_OK;
}

