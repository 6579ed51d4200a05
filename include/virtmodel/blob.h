/* SPDX-License-Identifier: MIT */
/*
 * Versioned, checksummed state blobs: the one serialization format used by
 * every model's export/import and by whole-VM checkpoints.
 *
 * Layout (all integers little-endian):
 *   offset 0  u32 magic        four ASCII characters naming the producer
 *   offset 4  u32 version      format version of that producer
 *   offset 8  u32 payload_len  bytes of payload that follow the header
 *   offset 12 u32 crc32        CRC-32 (IEEE 802.3) of the payload
 *   offset 16 payload
 *
 * A reader refuses a blob whose magic, version, length or checksum does not
 * match, and one whose payload is not consumed exactly, with VMDL_EBADBLOB or
 * VMDL_EVERSION and a message naming what was wrong.
 */
#ifndef VIRTMODEL_BLOB_H
#define VIRTMODEL_BLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VMDL_BLOB_HEADER_SIZE 16
#define VMDL_BLOB_MAGIC(a, b, c, d)                                      \
    ((uint32_t)(a) | ((uint32_t)(b) << 8) | ((uint32_t)(c) << 16) |      \
     ((uint32_t)(d) << 24))

struct vmdl_blob_writer {
    uint8_t *buf;
    size_t len;
    size_t cap;
    int err; /* first error, sticky */
};

/* Start a blob; the header is filled in by vmdl_blob_finish. */
void vmdl_blob_begin(struct vmdl_blob_writer *w, uint32_t magic,
                     uint32_t version);
void vmdl_blob_put_u8(struct vmdl_blob_writer *w, uint8_t v);
void vmdl_blob_put_u16(struct vmdl_blob_writer *w, uint16_t v);
void vmdl_blob_put_u32(struct vmdl_blob_writer *w, uint32_t v);
void vmdl_blob_put_u64(struct vmdl_blob_writer *w, uint64_t v);
void vmdl_blob_put_bytes(struct vmdl_blob_writer *w, const void *p, size_t n);
/* A nested blob or byte string: u32 length, then the bytes. */
void vmdl_blob_put_blob(struct vmdl_blob_writer *w, const void *p, size_t n);
/*
 * Seal the blob.  On success *out (malloc'd, caller frees) and *out_len
 * receive it and 0 is returned; otherwise a negative vmdl_err, and the
 * writer's buffer is freed either way.
 */
int vmdl_blob_finish(struct vmdl_blob_writer *w, uint8_t **out,
                     size_t *out_len);
/* Abandon a writer (frees its buffer). */
void vmdl_blob_discard(struct vmdl_blob_writer *w);

struct vmdl_blob_reader {
    const uint8_t *p;
    size_t len;
    size_t pos;
    int err; /* first error, sticky; reads after an error return zero */
    const char *what; /* producer name for messages */
};

/*
 * Validate the header of blob (magic, version, length, CRC) and position the
 * reader on its payload.  `what` names the producer in error messages
 * ("vmcs12 state", ...).  Returns 0 or a negative vmdl_err.
 */
int vmdl_blob_open(struct vmdl_blob_reader *r, const void *blob, size_t len,
                   uint32_t magic, uint32_t version, const char *what);
uint8_t vmdl_blob_get_u8(struct vmdl_blob_reader *r);
uint16_t vmdl_blob_get_u16(struct vmdl_blob_reader *r);
uint32_t vmdl_blob_get_u32(struct vmdl_blob_reader *r);
uint64_t vmdl_blob_get_u64(struct vmdl_blob_reader *r);
void vmdl_blob_get_bytes(struct vmdl_blob_reader *r, void *p, size_t n);
/* Read a nested blob written by vmdl_blob_put_blob: *p points into the
 * reader's buffer (NULL and 0 after an error). */
void vmdl_blob_get_blob(struct vmdl_blob_reader *r, const uint8_t **p, size_t *n);
/* Mark the blob invalid from a semantic check (value out of range, ...). */
void vmdl_blob_reject(struct vmdl_blob_reader *r, const char *why);
/* Finish: 0 when no error happened and the payload was consumed exactly. */
int vmdl_blob_close(struct vmdl_blob_reader *r);

/* CRC-32 (IEEE) of a buffer, chainable: start with crc = 0. */
uint32_t vmdl_crc32(uint32_t crc, const void *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
