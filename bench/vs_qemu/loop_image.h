/* SPDX-License-Identifier: MIT */
/*
 * The loop guests of bench/vs_qemu (x86_loop.S, arm64_loop.S): read one into
 * memory and patch its parameter block (magic "VMDLBNCH", then the
 * operation and the iteration count, both 64-bit little endian).
 */
#ifndef VS_QEMU_LOOP_IMAGE_H
#define VS_QEMU_LOOP_IMAGE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct loop_image {
    uint8_t *data;
    size_t size;
    size_t param_off; /* offset of the magic */
};

/* 0, or -1 with a message on stderr. */
static inline int loop_image_load(const char *path, struct loop_image *im)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s (use --guest-dir)\n", path);
        return -1;
    }
    long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    im->data = size > 0 ? malloc((size_t)size) : NULL;
    if (!im->data || fseek(f, 0, SEEK_SET) ||
        fread(im->data, 1, (size_t)size, f) != (size_t)size) {
        fprintf(stderr, "cannot read %s\n", path);
        fclose(f);
        free(im->data);
        return -1;
    }
    fclose(f);
    im->size = (size_t)size;
    const uint8_t *p = memmem(im->data, im->size, "VMDLBNCH", 8);
    if (!p || (size_t)(p - im->data) + 24 > im->size) {
        fprintf(stderr, "%s: no parameter block\n", path);
        free(im->data);
        return -1;
    }
    im->param_off = (size_t)(p - im->data);
    return 0;
}

static inline void loop_image_patch(struct loop_image *im, uint64_t op, uint64_t n)
{
    memcpy(im->data + im->param_off + 8, &op, 8);
    memcpy(im->data + im->param_off + 16, &n, 8);
}

#endif
