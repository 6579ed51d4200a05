/* SPDX-License-Identifier: MIT */
/* Private to src/tdx: the metadata store shared by profiles and modules. */
#ifndef VMDL_TDX_INTERNAL_H
#define VMDL_TDX_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtmodel/tdx.h"

/* One uint64_t per element, laid out in table order: the layout struct
 * exists only so that offsetof() derives each entry's first slot. */
struct tdx_layout {
#define X(name, id, nf, ne, def) uint64_t name[(nf) * (ne)];
    VMDL_TDX_FIELD_TABLE(X)
#undef X
};
#define TDX_TOTAL_ELEMS (sizeof(struct tdx_layout) / sizeof(uint64_t))

extern const uint16_t vmdl__tdx_elem_base[VMDL_TDX_NR_FIELDS];

#define TDX_F_PRESENT  1u
#define TDX_F_READABLE 2u

struct tdx_store {
    char name[VMDL_TDX_PROFILE_NAME_MAX];
    uint8_t size_check;                 /* enum vmdl_tdx_size_check */
    uint8_t flags[VMDL_TDX_NR_FIELDS];  /* TDX_F_* */
    uint64_t v[TDX_TOTAL_ELEMS];
};

struct vmdl_tdx_profile {
    struct tdx_store s;
};

struct vmdl_tdx {
    struct tdx_store s;
    enum vmdl_tdx_state state;
    unsigned nr_lps;
    uint64_t lp_init;   /* bit n: TDH.SYS.LP.INIT done on LP n */
    struct vmdl_guest_mem mem;  /* where TDH.SYS.RDALL writes */
    bool have_mem;
    unsigned no_entropy;        /* SEAMCALLs still to answer RND_NO_ENTROPY */
};

/* "No field" as the module tests it: all ones, the context code aside. */
static inline bool tdx_is_null_id(uint64_t id)
{
    return (id | UINT64_C(7) << VMDL_TDX_FID_CONTEXT_SHIFT) == VMDL_TDX_FID_NA;
}

/* Present and host-readable. */
bool vmdl__tdx_readable(const struct vmdl_tdx *m, unsigned f);

/* The TDH.SYS.RDALL leaf (after the module-loaded and leaf checks). */
uint64_t vmdl__tdx_sys_rdall(struct vmdl_tdx *m, unsigned lp, uint64_t gpa,
                       uint64_t *r8);

/* TDH.SYS.RDALL's list builder, with the buffer size as a parameter (the
 * leaf uses VMDL_TDX_RDALL_PAGE; tests use small sizes to reach overflow).
 * Returns the status; *len = bytes of buf written (0: none). */
uint64_t vmdl__tdx_dump_list(const struct vmdl_tdx *m, uint64_t start, uint8_t *buf,
                       uint32_t size, uint64_t *next, uint32_t *len);

/* Every entry present and readable, every element at its default. */
void vmdl__tdx_store_defaults(struct tdx_store *s);

#endif
