/* SPDX-License-Identifier: MIT */
/*
 * fuzz_dtb: the arm64 boot inputs a user hands virtmodel-run (src/core/
 * arm64_image.c, pure): vmdl_arm64_dtb_check (--dtb) and
 * vmdl_arm64_image_parse (a raw or Linux Image kernel) on the raw input.
 *
 * Invariants: neither reads outside the input (copied to an exact-size heap
 * buffer); a device tree the check accepts is within the input and 2 MiB,
 * and libfdt can walk every node and property of it (what the guest and
 * --dump-dtb rely on) without an error, with nothing after the root node; a refused one gets VMDL_EFORMAT and
 * a message.  The image parser says raw (0x80000), Image (page-aligned text
 * offset below 4 GiB, image_size 0 or covering the file) or VMDL_EFORMAT.
 */
#include <libfdt.h>

#include "fuzz_util.h"

#include "virtmodel/arm64_image.h"
#include "virtmodel/error.h"

static void walk(const void *fdt)
{
    int depth = 0, n = 0;
    for (int off = 0; off >= 0 && depth >= 0; off = fdt_next_node(fdt, off, &depth)) {
        int len;
        FZ_CHECK(fdt_get_name(fdt, off, &len), "node at %d has no name", off);
        for (int p = fdt_first_property_offset(fdt, off); p >= 0;
             p = fdt_next_property_offset(fdt, p)) {
            const char *name;
            const void *val = fdt_getprop_by_offset(fdt, p, &name, &len);
            FZ_CHECK(val && name && len >= 0, "property at %d unreadable", p);
            volatile uint8_t sum = 0;
            for (int i = 0; i < len; i++)
                sum ^= ((const uint8_t *)val)[i];
            (void)sum;
        }
        FZ_CHECK(++n < (1 << 20), "node walk does not end");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    vmdl_clear_error();
    int err = vmdl_arm64_dtb_check(copy, size);
    if (err) {
        FZ_CHECK(err == VMDL_EFORMAT, "dtb error %d", err);
        FZ_CHECK(vmdl_last_error()[0], "refusal without a message");
    } else {
        FZ_CHECK(fdt_totalsize(copy) <= size && fdt_totalsize(copy) <= VMDL_ARM64_DTB_MAX,
                 "accepted tree larger than its input");
        walk(copy);
        int depth = 0, off = 0, next;
        while (off >= 0 && depth >= 0)
            off = fdt_next_node(copy, off, &depth);
        FZ_CHECK(off < 0 || fdt_next_tag(copy, off, &next) == FDT_END,
                 "accepted tree has something after the root");
    }
    uint64_t off, isz;
    vmdl_clear_error();
    int kind = vmdl_arm64_image_parse(copy, size, &off, &isz);
    if (kind < 0) {
        FZ_CHECK(kind == VMDL_EFORMAT && vmdl_last_error()[0], "image error %d", kind);
    } else if (kind == 0 || isz == 0) {
        FZ_CHECK(off == VMDL_ARM64_RAW_TEXT_OFFSET && isz == 0, "raw/old image offset");
    } else {
        FZ_CHECK(kind == 1 && !(off & 0xFFF) && off < (1ull << 32) && isz >= size,
                 "Image header accepted with offset 0x%llx size 0x%llx",
                 (unsigned long long)off, (unsigned long long)isz);
    }
    free(copy);
    return 0;
}

static void write_seeds(const char *dir)
{
    uint8_t b[512] = {0};
    /* A Linux Image header: text_offset 2 MiB, image_size 64 KiB. */
    b[8 + 2] = 0x20;
    b[16 + 2] = 0x01;
    memcpy(b + 56, "ARM\x64", 4);
    fz_save(dir, "image-header", b, 64);
    /* A small device tree: /chosen with bootargs, /cpus/cpu@0. */
    memset(b, 0, sizeof(b));
    fdt_create_empty_tree(b, sizeof(b));
    int c = fdt_add_subnode(b, 0, "chosen");
    fdt_setprop_string(b, c, "bootargs", "smp=1");
    int cpus = fdt_add_subnode(b, 0, "cpus");
    fdt_setprop_u32(b, fdt_add_subnode(b, cpus, "cpu@0"), "reg", 0);
    fdt_pack(b);
    fz_save(dir, "small.dtb", b, fdt_totalsize(b));
}

FZ_SEED_WRITER_MAIN()
