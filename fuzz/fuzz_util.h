/* SPDX-License-Identifier: MIT */
/*
 * Shared helpers of the libFuzzer targets: a byte-stream decoder (reads past
 * the end return zeros, so every input is a valid program), an encoder used
 * by the seed-writing helper mode, invariant checks that abort with a
 * message, and an optional trace of the decoded operations.
 *
 * Environment:
 *   VMDL_FUZZ_WRITE_SEEDS=DIR  write the target's seed inputs into DIR and
 *                              exit (how fuzz/corpus/<target>/ was made)
 *   VMDL_FUZZ_TRACE=1          print every decoded operation to stderr
 *                              (use it to read a crash reproducer)
 */
#ifndef VMDL_FUZZ_UTIL_H
#define VMDL_FUZZ_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- decoding ---- */

struct fz {
    const uint8_t *p;
    size_t n, pos;
};

static inline void fz_init(struct fz *f, const uint8_t *p, size_t n)
{
    f->p = p;
    f->n = n;
    f->pos = 0;
}

static inline bool fz_more(const struct fz *f)
{
    return f->pos < f->n;
}

static inline uint8_t fz_u8(struct fz *f)
{
    return f->pos < f->n ? f->p[f->pos++] : 0;
}

static inline uint64_t fz_uint(struct fz *f, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++)
        v |= (uint64_t)fz_u8(f) << (8 * i);
    return v;
}

static inline uint16_t fz_u16(struct fz *f) { return (uint16_t)fz_uint(f, 2); }
static inline uint32_t fz_u32(struct fz *f) { return (uint32_t)fz_uint(f, 4); }
static inline uint64_t fz_u64(struct fz *f) { return fz_uint(f, 8); }
static inline bool fz_bool(struct fz *f) { return fz_u8(f) & 1; }

/* 0..n-1 (n <= 256). */
static inline unsigned fz_pick(struct fz *f, unsigned n)
{
    return n ? fz_u8(f) % n : 0;
}

/*
 * A 64-bit value shaped to reach edge cases: raw bytes, small numbers,
 * single bits, all-ones, inverted bits, low masks and values near 2^48.
 */
static inline uint64_t fz_value(struct fz *f)
{
    unsigned kind = fz_u8(f);
    switch (kind & 7) {
    case 0: case 1: return fz_u64(f);
    case 2: return fz_u8(f);
    case 3: return UINT64_C(1) << (fz_u8(f) & 63);
    case 4: return ~UINT64_C(0) >> (fz_u8(f) & 63);
    case 5: return ~(UINT64_C(1) << (fz_u8(f) & 63));
    case 6: return fz_u32(f);
    default: return (UINT64_C(1) << 48) - 1 - fz_u8(f) + (kind >> 7);
    }
}

/* ---- invariants ---- */

#define FZ_CHECK(cond, ...)                                                  \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "\nINVARIANT VIOLATED at %s:%d: %s\n  ",         \
                    __FILE__, __LINE__, #cond);                              \
            fprintf(stderr, __VA_ARGS__);                                    \
            fprintf(stderr, "\n");                                           \
            abort();                                                         \
        }                                                                    \
    } while (0)

/* ---- trace ---- */

static int fz_trace_on = -1;
static inline bool fz_tracing(void)
{
    if (fz_trace_on < 0) {
        const char *e = getenv("VMDL_FUZZ_TRACE");
        fz_trace_on = e && *e && *e != '0';
    }
    return fz_trace_on;
}
#define FZ_TRACE(...)                                                        \
    do {                                                                     \
        if (fz_tracing())                                                    \
            fprintf(stderr, __VA_ARGS__);                                    \
    } while (0)

/* ---- encoding (seed writer) ---- */

struct fz_out {
    uint8_t buf[4096];
    size_t len;
};

static inline void fz_put(struct fz_out *o, uint64_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes && o->len < sizeof(o->buf); i++)
        o->buf[o->len++] = (uint8_t)(v >> (8 * i));
}
static inline void fz_put8(struct fz_out *o, uint64_t v) { fz_put(o, v, 1); }
static inline void fz_put16(struct fz_out *o, uint64_t v) { fz_put(o, v, 2); }
static inline void fz_put32(struct fz_out *o, uint64_t v) { fz_put(o, v, 4); }
static inline void fz_put64(struct fz_out *o, uint64_t v) { fz_put(o, v, 8); }
/* A raw value as fz_value() decodes it (kind 0). */
static inline void fz_putval(struct fz_out *o, uint64_t v)
{
    fz_put8(o, 0);
    fz_put64(o, v);
}

static inline void fz_save(const char *dir, const char *name,
                           const void *data, size_t len)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *fp = fopen(path, "wb");
    if (!fp || fwrite(data, 1, len, fp) != len) {
        fprintf(stderr, "cannot write seed %s\n", path);
        exit(1);
    }
    fclose(fp);
}

static inline void fz_save_out(const char *dir, const char *name,
                               const struct fz_out *o)
{
    fz_save(dir, name, o->buf, o->len);
}

/* Each target defines this and FZ_SEED_WRITER_MAIN() wires it in. */
static void write_seeds(const char *dir);

#define FZ_SEED_WRITER_MAIN()                                                \
    int LLVMFuzzerInitialize(int *argc, char ***argv);                       \
    int LLVMFuzzerInitialize(int *argc, char ***argv)                        \
    {                                                                        \
        (void)argc;                                                          \
        (void)argv;                                                          \
        const char *dir = getenv("VMDL_FUZZ_WRITE_SEEDS");                   \
        if (dir && *dir) {                                                   \
            write_seeds(dir);                                                \
            exit(0);                                                         \
        }                                                                    \
        return 0;                                                            \
    }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
