/* SPDX-License-Identifier: MIT */
/* Small bit helpers used by every model.  Header-only. */
#ifndef VIRTMODEL_BITS_H
#define VIRTMODEL_BITS_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VMDL_BIT(n) (UINT64_C(1) << (n))
/* Mask of bits hi..lo inclusive, e.g. VMDL_GENMASK(47, 0). */
#define VMDL_GENMASK(hi, lo) \
    ((~UINT64_C(0) >> (63 - (hi))) & (~UINT64_C(0) << (lo)))
#define VMDL_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static inline uint64_t vmdl_field_get(uint64_t v, unsigned hi, unsigned lo)
{
    return (v & VMDL_GENMASK(hi, lo)) >> lo;
}

static inline uint64_t vmdl_field_set(uint64_t v, unsigned hi, unsigned lo,
                                      uint64_t field)
{
    uint64_t mask = VMDL_GENMASK(hi, lo);
    return (v & ~mask) | ((field << lo) & mask);
}

static inline uint16_t vmdl_rol16(uint16_t v, unsigned n)
{
    n &= 15;
    return (uint16_t)((v << n) | (v >> ((16 - n) & 15)));
}

static inline uint16_t vmdl_ror16(uint16_t v, unsigned n)
{
    n &= 15;
    return (uint16_t)((v >> n) | (v << ((16 - n) & 15)));
}

/* Bitmaps of any size, as arrays of uint64_t. */
static inline bool vmdl_bitmap_test(const uint64_t *map, unsigned bit)
{
    return (map[bit / 64] >> (bit % 64)) & 1;
}

static inline void vmdl_bitmap_set(uint64_t *map, unsigned bit)
{
    map[bit / 64] |= VMDL_BIT(bit % 64);
}

static inline void vmdl_bitmap_clear(uint64_t *map, unsigned bit)
{
    map[bit / 64] &= ~VMDL_BIT(bit % 64);
}

/* Highest set bit in a bitmap of nwords words, or -1 when empty. */
static inline int vmdl_bitmap_highest(const uint64_t *map, unsigned nwords)
{
    for (unsigned i = nwords; i-- > 0;)
        if (map[i])
            return (int)(i * 64 + 63 - (unsigned)__builtin_clzll(map[i]));
    return -1;
}

/* Sign-extend the value whose sign bit is bit `bits - 1`. */
static inline uint64_t vmdl_sign_extend(uint64_t v, unsigned bits)
{
    unsigned shift = 64 - bits;
    return (uint64_t)((int64_t)(v << shift) >> shift);
}

/* Canonical 48-bit virtual address (x86-64 four-level paging). */
static inline bool vmdl_is_canonical48(uint64_t va)
{
    return vmdl_sign_extend(va, 48) == va;
}

/* Canonical with `bits` linear-address bits (48, or 57 with LA57). */
static inline bool vmdl_is_canonical(uint64_t va, unsigned bits)
{
    return vmdl_sign_extend(va, bits) == va;
}

#ifdef __cplusplus
}
#endif
#endif
