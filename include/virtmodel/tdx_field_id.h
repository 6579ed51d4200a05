/* SPDX-License-Identifier: MIT */
/*
 * TDX metadata field identifiers (MD_FIELD_ID), as the TDX module ABI
 * defines them.  One 64-bit value names one element of one field:
 *
 *   bits 23:0   FIELD_CODE             field (and element) within the class
 *   bits 31:24  reserved (0)
 *   bits 33:32  ELEMENT_SIZE_CODE      0: 8, 1: 16, 2: 32, 3: 64 bits
 *   bits 37:34  LAST_ELEMENT_IN_FIELD  sequence headers only (0 for one element)
 *   bits 46:38  LAST_FIELD_IN_SEQUENCE sequence headers only (0 for one element)
 *   bits 49:47  reserved (0)
 *   bit  50     INC_SIZE               element stride 2 instead of 1
 *   bit  51     WRITE_MASK_VALID       writes through a sequence only
 *   bits 54:52  CONTEXT_CODE           0: platform (SYS), 1: TD, 2: VCPU
 *   bit  55     reserved (0)
 *   bits 61:56  CLASS_CODE
 *   bit  62     reserved (0)
 *   bit  63     NON_ARCH               field is not architectural
 *
 * The value MD_FIELD_ID_NA (all ones) means "no field": TDH.SYS.RD takes it
 * as "give me the first field" and returns it as "no next field".
 */
#ifndef VIRTMODEL_TDX_FIELD_ID_H
#define VIRTMODEL_TDX_FIELD_ID_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VMDL_TDX_FID_NA UINT64_C(0xFFFFFFFFFFFFFFFF)

#define VMDL_TDX_FID_FIELD_CODE_MASK   UINT64_C(0x0000000000FFFFFF)
#define VMDL_TDX_FID_ELEM_SIZE_SHIFT   32
#define VMDL_TDX_FID_LAST_ELEM_SHIFT   34
#define VMDL_TDX_FID_LAST_FIELD_SHIFT  38
#define VMDL_TDX_FID_INC_SIZE_BIT      50
#define VMDL_TDX_FID_WMASK_VALID_BIT   51
#define VMDL_TDX_FID_CONTEXT_SHIFT     52
#define VMDL_TDX_FID_CLASS_SHIFT       56
#define VMDL_TDX_FID_NON_ARCH_BIT      63
/* Bits that must be zero in every field ID: 31:24, 49:47, 55, 62. */
#define VMDL_TDX_FID_RESERVED_MASK     UINT64_C(0x40838000FF000000)

enum vmdl_tdx_context {
    VMDL_TDX_CTX_SYS = 0,
    VMDL_TDX_CTX_TD = 1,
    VMDL_TDX_CTX_VCPU = 2,
};

/* The components of a field ID, each right-aligned. */
struct vmdl_tdx_fid {
    uint32_t field_code;      /* 24 bits */
    uint8_t elem_size_code;   /* 2 bits */
    uint8_t last_elem;        /* 4 bits */
    uint16_t last_field;      /* 9 bits */
    bool inc_size;
    bool write_mask_valid;
    uint8_t context;          /* 3 bits */
    uint8_t class_code;       /* 6 bits */
    bool non_arch;
    uint64_t reserved;        /* decode only: the reserved bits found set */
};

/*
 * Build a field ID.  Fails with VMDL_ERANGE (message names the component)
 * when a component does not fit its width or f->reserved is non-zero.
 */
int vmdl_tdx_fid_encode(const struct vmdl_tdx_fid *f, uint64_t *id);
/* Split a field ID into its components (always succeeds; reserved bits
 * that are set land in f->reserved). */
void vmdl_tdx_fid_decode(uint64_t id, struct vmdl_tdx_fid *f);

static inline unsigned vmdl_tdx_fid_elem_size_code(uint64_t id)
{
    return (unsigned)((id >> VMDL_TDX_FID_ELEM_SIZE_SHIFT) & 3);
}
/* Element size in bytes (1, 2, 4 or 8), derived from ELEMENT_SIZE_CODE. */
static inline unsigned vmdl_tdx_fid_elem_size(uint64_t id)
{
    return 1u << vmdl_tdx_fid_elem_size_code(id);
}
/* Mask of the bits an element of this ID can hold. */
static inline uint64_t vmdl_tdx_fid_elem_mask(uint64_t id)
{
    unsigned bits = 8u * vmdl_tdx_fid_elem_size(id);
    return bits == 64 ? ~UINT64_C(0) : (UINT64_C(1) << bits) - 1;
}
static inline uint32_t vmdl_tdx_fid_field_code(uint64_t id)
{
    return (uint32_t)(id & VMDL_TDX_FID_FIELD_CODE_MASK);
}
static inline unsigned vmdl_tdx_fid_class(uint64_t id)
{
    return (unsigned)((id >> VMDL_TDX_FID_CLASS_SHIFT) & 0x3F);
}
static inline unsigned vmdl_tdx_fid_context(uint64_t id)
{
    return (unsigned)((id >> VMDL_TDX_FID_CONTEXT_SHIFT) & 7);
}
/*
 * Is id acceptable as a single-element identifier (what TDH.SYS.RD takes):
 * reserved bits, LAST_ELEMENT_IN_FIELD and LAST_FIELD_IN_SEQUENCE all zero.
 */
bool vmdl_tdx_fid_is_single_element(uint64_t id);

/* Format "0x0800000100000003 (class 8 field 0x3 16-bit arch ctx SYS)". */
int vmdl_tdx_fid_describe(uint64_t id, char *buf, unsigned len);

#ifdef __cplusplus
}
#endif
#endif
