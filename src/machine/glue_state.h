/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the model glue's checkpoint hooks: a list of per-vCPU model
 * blobs (plus a few glue words each) packed into one state blob.
 */
#ifndef VMDL_GLUE_STATE_H
#define VMDL_GLUE_STATE_H

#include <stdlib.h>

#include "virtmodel/blob.h"
#include "virtmodel/error.h"

#define VMDL_GLUE_STATE_VERSION 1

typedef int (*glue_item_save)(void *ctx, unsigned i, uint8_t **blob, size_t *len,
                              uint64_t extra[4]);

/* Save `n` items: each a nested model blob and four extra words. */
static inline int glue_save_items(uint32_t magic, unsigned n, glue_item_save fn,
                                  void *ctx, uint8_t **out, size_t *out_len)
{
    struct vmdl_blob_writer w;
    vmdl_blob_begin(&w, magic, VMDL_GLUE_STATE_VERSION);
    vmdl_blob_put_u32(&w, n);
    for (unsigned i = 0; i < n; i++) {
        uint8_t *b = NULL;
        size_t len = 0;
        uint64_t extra[4] = {0, 0, 0, 0};
        int err = fn(ctx, i, &b, &len, extra);
        if (err) {
            vmdl_blob_discard(&w);
            return err;
        }
        vmdl_blob_put_blob(&w, b, len);
        for (int k = 0; k < 4; k++)
            vmdl_blob_put_u64(&w, extra[k]);
        free(b);
    }
    return vmdl_blob_finish(&w, out, out_len);
}

struct glue_item {
    const uint8_t *blob;
    size_t len;
    uint64_t extra[4];
};

/* Parse what glue_save_items wrote; items must hold n entries.  Nothing is
 * applied here: the caller validates/applies each item. */
static inline int glue_parse_items(uint32_t magic, const uint8_t *blob, size_t len,
                                   unsigned n, struct glue_item *items,
                                   const char *what)
{
    struct vmdl_blob_reader r;
    int err = vmdl_blob_open(&r, blob, len, magic, VMDL_GLUE_STATE_VERSION, what);
    if (err)
        return err;
    if (vmdl_blob_get_u32(&r) != n)
        vmdl_blob_reject(&r, "saved for another number of vCPUs");
    for (unsigned i = 0; i < n && !r.err; i++) {
        vmdl_blob_get_blob(&r, &items[i].blob, &items[i].len);
        for (int k = 0; k < 4; k++)
            items[i].extra[k] = vmdl_blob_get_u64(&r);
    }
    return vmdl_blob_close(&r);
}

#endif
