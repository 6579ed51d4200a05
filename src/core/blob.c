/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "virtmodel/blob.h"
#include "virtmodel/error.h"

/* Refuse absurd sizes early: no model state comes near this. */
#define BLOB_MAX_PAYLOAD (UINT32_C(1) << 31)

/* In fuzz builds, coverage feedback from this loop says nothing (it has no
 * input-dependent branch) and costs a callback per byte of every blob. */
#if defined(__clang__)
#define VMDL_NO_COVERAGE __attribute__((no_sanitize("coverage")))
#else
#define VMDL_NO_COVERAGE
#endif

VMDL_NO_COVERAGE
uint32_t vmdl_crc32(uint32_t crc, const void *buf, size_t len)
{
    static uint32_t table[256];
    static _Atomic int ready;
    if (!ready) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        ready = 1;
    }
    const uint8_t *p = buf;
    crc = ~crc;
    while (len--)
        crc = table[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static uint8_t *writer_reserve(struct vmdl_blob_writer *w, size_t n)
{
    if (w->err)
        return NULL;
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 4096;   /* most blobs: one allocation */
        while (cap < w->len + n)
            cap *= 2;
        uint8_t *nb = realloc(w->buf, cap);
        if (!nb) {
            w->err = VMDL_ENOMEM;
            return NULL;
        }
        w->buf = nb;
        w->cap = cap;
    }
    uint8_t *p = w->buf + w->len;
    w->len += n;
    return p;
}

void vmdl_blob_begin(struct vmdl_blob_writer *w, uint32_t magic,
                     uint32_t version)
{
    memset(w, 0, sizeof(*w));
    uint8_t *h = writer_reserve(w, VMDL_BLOB_HEADER_SIZE);
    if (!h)
        return;
    memset(h, 0, VMDL_BLOB_HEADER_SIZE);
    put_le(h, magic, 4);
    put_le(h + 4, version, 4);
}

static void put_int(struct vmdl_blob_writer *w, uint64_t v, unsigned n)
{
    uint8_t *p = writer_reserve(w, n);
    if (p)
        put_le(p, v, n);
}

void vmdl_blob_put_u8(struct vmdl_blob_writer *w, uint8_t v) { put_int(w, v, 1); }
void vmdl_blob_put_u16(struct vmdl_blob_writer *w, uint16_t v) { put_int(w, v, 2); }
void vmdl_blob_put_u32(struct vmdl_blob_writer *w, uint32_t v) { put_int(w, v, 4); }
void vmdl_blob_put_u64(struct vmdl_blob_writer *w, uint64_t v) { put_int(w, v, 8); }

void vmdl_blob_put_bytes(struct vmdl_blob_writer *w, const void *src, size_t n)
{
    uint8_t *p = writer_reserve(w, n);
    if (p && n)
        memcpy(p, src, n);
}

void vmdl_blob_put_blob(struct vmdl_blob_writer *w, const void *p, size_t n)
{
    if (n > UINT32_MAX) {
        if (!w->err)
            w->err = VMDL_ERANGE;
        return;
    }
    vmdl_blob_put_u32(w, (uint32_t)n);
    vmdl_blob_put_bytes(w, p, n);
}

void vmdl_blob_discard(struct vmdl_blob_writer *w)
{
    free(w->buf);
    w->buf = NULL;
    w->len = w->cap = 0;
}

int vmdl_blob_finish(struct vmdl_blob_writer *w, uint8_t **out,
                     size_t *out_len)
{
    if (!out || !out_len) {
        vmdl_blob_discard(w);
        return vmdl_fail(VMDL_EINVAL, "vmdl_blob_finish: NULL output pointer");
    }
    if (w->err || !w->buf) {
        int err = w->err ? w->err : VMDL_ENOMEM;
        vmdl_blob_discard(w);
        return vmdl_fail(err, "state blob: could not build (%s)",
                         vmdl_strerror(err));
    }
    size_t payload = w->len - VMDL_BLOB_HEADER_SIZE;
    if (payload >= BLOB_MAX_PAYLOAD) {
        vmdl_blob_discard(w);
        return vmdl_fail(VMDL_ERANGE, "state blob: payload too large");
    }
    put_le(w->buf + 8, payload, 4);
    put_le(w->buf + 12,
           vmdl_crc32(0, w->buf + VMDL_BLOB_HEADER_SIZE, payload), 4);
    *out = w->buf;
    *out_len = w->len;
    w->buf = NULL;
    w->len = w->cap = 0;
    return VMDL_OK;
}

static int reader_fail(struct vmdl_blob_reader *r, int err, const char *why)
{
    if (!r->err) {
        r->err = err;
        vmdl_fail(err, "%s: %s", r->what ? r->what : "state blob", why);
    }
    return err;
}

int vmdl_blob_open(struct vmdl_blob_reader *r, const void *blob, size_t len,
                   uint32_t magic, uint32_t version, const char *what)
{
    memset(r, 0, sizeof(*r));
    r->what = what;
    if (!blob)
        return reader_fail(r, VMDL_EINVAL, "NULL blob");
    const uint8_t *p = blob;
    if (len < VMDL_BLOB_HEADER_SIZE)
        return reader_fail(r, VMDL_EBADBLOB, "truncated header");
    if (get_le(p, 4) != magic)
        return reader_fail(r, VMDL_EBADBLOB, "wrong magic (not this kind of state)");
    if (get_le(p + 4, 4) != version)
        return reader_fail(r, VMDL_EVERSION, "unsupported format version");
    uint64_t payload = get_le(p + 8, 4);
    if (payload != len - VMDL_BLOB_HEADER_SIZE)
        return reader_fail(r, VMDL_EBADBLOB, "length field does not match the blob size (truncated?)");
    if (get_le(p + 12, 4) != vmdl_crc32(0, p + VMDL_BLOB_HEADER_SIZE, payload))
        return reader_fail(r, VMDL_EBADBLOB, "checksum mismatch (corrupted)");
    r->p = p + VMDL_BLOB_HEADER_SIZE;
    r->len = payload;
    return VMDL_OK;
}

static const uint8_t *reader_take(struct vmdl_blob_reader *r, size_t n)
{
    if (r->err)
        return NULL;
    if (n > r->len - r->pos) {
        reader_fail(r, VMDL_EBADBLOB, "payload shorter than its contents");
        return NULL;
    }
    const uint8_t *p = r->p + r->pos;
    r->pos += n;
    return p;
}

static uint64_t get_int(struct vmdl_blob_reader *r, unsigned n)
{
    const uint8_t *p = reader_take(r, n);
    return p ? get_le(p, n) : 0;
}

uint8_t vmdl_blob_get_u8(struct vmdl_blob_reader *r) { return (uint8_t)get_int(r, 1); }
uint16_t vmdl_blob_get_u16(struct vmdl_blob_reader *r) { return (uint16_t)get_int(r, 2); }
uint32_t vmdl_blob_get_u32(struct vmdl_blob_reader *r) { return (uint32_t)get_int(r, 4); }
uint64_t vmdl_blob_get_u64(struct vmdl_blob_reader *r) { return get_int(r, 8); }

void vmdl_blob_get_bytes(struct vmdl_blob_reader *r, void *dst, size_t n)
{
    const uint8_t *p = reader_take(r, n);
    if (p && n)
        memcpy(dst, p, n);
    else if (n)
        memset(dst, 0, n);
}

void vmdl_blob_get_blob(struct vmdl_blob_reader *r, const uint8_t **p, size_t *n)
{
    uint32_t len = vmdl_blob_get_u32(r);
    const uint8_t *q = reader_take(r, len);
    *p = q;
    *n = q ? len : 0;
}

void vmdl_blob_reject(struct vmdl_blob_reader *r, const char *why)
{
    reader_fail(r, VMDL_EBADBLOB, why);
}

int vmdl_blob_close(struct vmdl_blob_reader *r)
{
    if (!r->err && r->pos != r->len)
        reader_fail(r, VMDL_EBADBLOB, "trailing bytes after the state");
    return r->err;
}
