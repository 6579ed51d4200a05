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

/* CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), one entry per byte
 * value: a constant, so that no thread ever fills it in. */
static const uint32_t crc_table[256] = {
    0x00000000u, 0x77073096u, 0xEE0E612Cu, 0x990951BAu, 0x076DC419u, 0x706AF48Fu,
    0xE963A535u, 0x9E6495A3u, 0x0EDB8832u, 0x79DCB8A4u, 0xE0D5E91Eu, 0x97D2D988u,
    0x09B64C2Bu, 0x7EB17CBDu, 0xE7B82D07u, 0x90BF1D91u, 0x1DB71064u, 0x6AB020F2u,
    0xF3B97148u, 0x84BE41DEu, 0x1ADAD47Du, 0x6DDDE4EBu, 0xF4D4B551u, 0x83D385C7u,
    0x136C9856u, 0x646BA8C0u, 0xFD62F97Au, 0x8A65C9ECu, 0x14015C4Fu, 0x63066CD9u,
    0xFA0F3D63u, 0x8D080DF5u, 0x3B6E20C8u, 0x4C69105Eu, 0xD56041E4u, 0xA2677172u,
    0x3C03E4D1u, 0x4B04D447u, 0xD20D85FDu, 0xA50AB56Bu, 0x35B5A8FAu, 0x42B2986Cu,
    0xDBBBC9D6u, 0xACBCF940u, 0x32D86CE3u, 0x45DF5C75u, 0xDCD60DCFu, 0xABD13D59u,
    0x26D930ACu, 0x51DE003Au, 0xC8D75180u, 0xBFD06116u, 0x21B4F4B5u, 0x56B3C423u,
    0xCFBA9599u, 0xB8BDA50Fu, 0x2802B89Eu, 0x5F058808u, 0xC60CD9B2u, 0xB10BE924u,
    0x2F6F7C87u, 0x58684C11u, 0xC1611DABu, 0xB6662D3Du, 0x76DC4190u, 0x01DB7106u,
    0x98D220BCu, 0xEFD5102Au, 0x71B18589u, 0x06B6B51Fu, 0x9FBFE4A5u, 0xE8B8D433u,
    0x7807C9A2u, 0x0F00F934u, 0x9609A88Eu, 0xE10E9818u, 0x7F6A0DBBu, 0x086D3D2Du,
    0x91646C97u, 0xE6635C01u, 0x6B6B51F4u, 0x1C6C6162u, 0x856530D8u, 0xF262004Eu,
    0x6C0695EDu, 0x1B01A57Bu, 0x8208F4C1u, 0xF50FC457u, 0x65B0D9C6u, 0x12B7E950u,
    0x8BBEB8EAu, 0xFCB9887Cu, 0x62DD1DDFu, 0x15DA2D49u, 0x8CD37CF3u, 0xFBD44C65u,
    0x4DB26158u, 0x3AB551CEu, 0xA3BC0074u, 0xD4BB30E2u, 0x4ADFA541u, 0x3DD895D7u,
    0xA4D1C46Du, 0xD3D6F4FBu, 0x4369E96Au, 0x346ED9FCu, 0xAD678846u, 0xDA60B8D0u,
    0x44042D73u, 0x33031DE5u, 0xAA0A4C5Fu, 0xDD0D7CC9u, 0x5005713Cu, 0x270241AAu,
    0xBE0B1010u, 0xC90C2086u, 0x5768B525u, 0x206F85B3u, 0xB966D409u, 0xCE61E49Fu,
    0x5EDEF90Eu, 0x29D9C998u, 0xB0D09822u, 0xC7D7A8B4u, 0x59B33D17u, 0x2EB40D81u,
    0xB7BD5C3Bu, 0xC0BA6CADu, 0xEDB88320u, 0x9ABFB3B6u, 0x03B6E20Cu, 0x74B1D29Au,
    0xEAD54739u, 0x9DD277AFu, 0x04DB2615u, 0x73DC1683u, 0xE3630B12u, 0x94643B84u,
    0x0D6D6A3Eu, 0x7A6A5AA8u, 0xE40ECF0Bu, 0x9309FF9Du, 0x0A00AE27u, 0x7D079EB1u,
    0xF00F9344u, 0x8708A3D2u, 0x1E01F268u, 0x6906C2FEu, 0xF762575Du, 0x806567CBu,
    0x196C3671u, 0x6E6B06E7u, 0xFED41B76u, 0x89D32BE0u, 0x10DA7A5Au, 0x67DD4ACCu,
    0xF9B9DF6Fu, 0x8EBEEFF9u, 0x17B7BE43u, 0x60B08ED5u, 0xD6D6A3E8u, 0xA1D1937Eu,
    0x38D8C2C4u, 0x4FDFF252u, 0xD1BB67F1u, 0xA6BC5767u, 0x3FB506DDu, 0x48B2364Bu,
    0xD80D2BDAu, 0xAF0A1B4Cu, 0x36034AF6u, 0x41047A60u, 0xDF60EFC3u, 0xA867DF55u,
    0x316E8EEFu, 0x4669BE79u, 0xCB61B38Cu, 0xBC66831Au, 0x256FD2A0u, 0x5268E236u,
    0xCC0C7795u, 0xBB0B4703u, 0x220216B9u, 0x5505262Fu, 0xC5BA3BBEu, 0xB2BD0B28u,
    0x2BB45A92u, 0x5CB36A04u, 0xC2D7FFA7u, 0xB5D0CF31u, 0x2CD99E8Bu, 0x5BDEAE1Du,
    0x9B64C2B0u, 0xEC63F226u, 0x756AA39Cu, 0x026D930Au, 0x9C0906A9u, 0xEB0E363Fu,
    0x72076785u, 0x05005713u, 0x95BF4A82u, 0xE2B87A14u, 0x7BB12BAEu, 0x0CB61B38u,
    0x92D28E9Bu, 0xE5D5BE0Du, 0x7CDCEFB7u, 0x0BDBDF21u, 0x86D3D2D4u, 0xF1D4E242u,
    0x68DDB3F8u, 0x1FDA836Eu, 0x81BE16CDu, 0xF6B9265Bu, 0x6FB077E1u, 0x18B74777u,
    0x88085AE6u, 0xFF0F6A70u, 0x66063BCAu, 0x11010B5Cu, 0x8F659EFFu, 0xF862AE69u,
    0x616BFFD3u, 0x166CCF45u, 0xA00AE278u, 0xD70DD2EEu, 0x4E048354u, 0x3903B3C2u,
    0xA7672661u, 0xD06016F7u, 0x4969474Du, 0x3E6E77DBu, 0xAED16A4Au, 0xD9D65ADCu,
    0x40DF0B66u, 0x37D83BF0u, 0xA9BCAE53u, 0xDEBB9EC5u, 0x47B2CF7Fu, 0x30B5FFE9u,
    0xBDBDF21Cu, 0xCABAC28Au, 0x53B39330u, 0x24B4A3A6u, 0xBAD03605u, 0xCDD70693u,
    0x54DE5729u, 0x23D967BFu, 0xB3667A2Eu, 0xC4614AB8u, 0x5D681B02u, 0x2A6F2B94u,
    0xB40BBE37u, 0xC30C8EA1u, 0x5A05DF1Bu, 0x2D02EF8Du,
};

VMDL_NO_COVERAGE
uint32_t vmdl_crc32(uint32_t crc, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    crc = ~crc;
    while (len--)
        crc = crc_table[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
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
