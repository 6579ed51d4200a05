/* SPDX-License-Identifier: MIT */
/* TDX metadata field identifiers: encode, decode, check. */
#include <stdio.h>

#include "virtmodel/error.h"
#include "virtmodel/tdx_field_id.h"

#define LAST_ELEM_MASK  UINT64_C(0xF)
#define LAST_FIELD_MASK UINT64_C(0x1FF)

int vmdl_tdx_fid_encode(const struct vmdl_tdx_fid *f, uint64_t *id)
{
    if (!f || !id)
        return vmdl_fail(VMDL_EINVAL, "vmdl_tdx_fid_encode: NULL argument");
    if (f->field_code > VMDL_TDX_FID_FIELD_CODE_MASK)
        return vmdl_fail(VMDL_ERANGE,
                         "vmdl_tdx_fid_encode: field_code 0x%x exceeds 24 bits",
                         f->field_code);
    if (f->elem_size_code > 3)
        return vmdl_fail(VMDL_ERANGE,
                         "vmdl_tdx_fid_encode: elem_size_code %u exceeds 2 bits",
                         f->elem_size_code);
    if (f->last_elem > LAST_ELEM_MASK)
        return vmdl_fail(VMDL_ERANGE,
                         "vmdl_tdx_fid_encode: last_elem %u exceeds 4 bits",
                         f->last_elem);
    if (f->last_field > LAST_FIELD_MASK)
        return vmdl_fail(VMDL_ERANGE,
                         "vmdl_tdx_fid_encode: last_field %u exceeds 9 bits",
                         f->last_field);
    if (f->context > 7)
        return vmdl_fail(VMDL_ERANGE,
                         "vmdl_tdx_fid_encode: context %u exceeds 3 bits",
                         f->context);
    if (f->class_code > 0x3F)
        return vmdl_fail(VMDL_ERANGE,
                         "vmdl_tdx_fid_encode: class_code %u exceeds 6 bits",
                         f->class_code);
    if (f->reserved)
        return vmdl_fail(VMDL_ERANGE,
                         "vmdl_tdx_fid_encode: reserved bits 0x%llx must be 0",
                         (unsigned long long)f->reserved);
    *id = (uint64_t)f->field_code |
          (uint64_t)f->elem_size_code << VMDL_TDX_FID_ELEM_SIZE_SHIFT |
          (uint64_t)f->last_elem << VMDL_TDX_FID_LAST_ELEM_SHIFT |
          (uint64_t)f->last_field << VMDL_TDX_FID_LAST_FIELD_SHIFT |
          (uint64_t)f->inc_size << VMDL_TDX_FID_INC_SIZE_BIT |
          (uint64_t)f->write_mask_valid << VMDL_TDX_FID_WMASK_VALID_BIT |
          (uint64_t)f->context << VMDL_TDX_FID_CONTEXT_SHIFT |
          (uint64_t)f->class_code << VMDL_TDX_FID_CLASS_SHIFT |
          (uint64_t)f->non_arch << VMDL_TDX_FID_NON_ARCH_BIT;
    return VMDL_OK;
}

void vmdl_tdx_fid_decode(uint64_t id, struct vmdl_tdx_fid *f)
{
    f->field_code = vmdl_tdx_fid_field_code(id);
    f->elem_size_code = (uint8_t)vmdl_tdx_fid_elem_size_code(id);
    f->last_elem = (uint8_t)((id >> VMDL_TDX_FID_LAST_ELEM_SHIFT) & LAST_ELEM_MASK);
    f->last_field = (uint16_t)((id >> VMDL_TDX_FID_LAST_FIELD_SHIFT) & LAST_FIELD_MASK);
    f->inc_size = (id >> VMDL_TDX_FID_INC_SIZE_BIT) & 1;
    f->write_mask_valid = (id >> VMDL_TDX_FID_WMASK_VALID_BIT) & 1;
    f->context = (uint8_t)vmdl_tdx_fid_context(id);
    f->class_code = (uint8_t)vmdl_tdx_fid_class(id);
    f->non_arch = (id >> VMDL_TDX_FID_NON_ARCH_BIT) & 1;
    f->reserved = id & VMDL_TDX_FID_RESERVED_MASK;
}

bool vmdl_tdx_fid_is_single_element(uint64_t id)
{
    struct vmdl_tdx_fid f;
    vmdl_tdx_fid_decode(id, &f);
    return !f.reserved && !f.last_elem && !f.last_field;
}

int vmdl_tdx_fid_describe(uint64_t id, char *buf, unsigned len)
{
    static const char *const ctx[] = {"SYS", "TD", "VCPU", "ctx3",
                                      "ctx4", "ctx5", "ctx6", "ctx7"};
    if (!buf || !len)
        return vmdl_fail(VMDL_EINVAL, "vmdl_tdx_fid_describe: no buffer");
    if (id == VMDL_TDX_FID_NA) {
        snprintf(buf, len, "0xffffffffffffffff (none)");
        return VMDL_OK;
    }
    struct vmdl_tdx_fid f;
    vmdl_tdx_fid_decode(id, &f);
    snprintf(buf, len, "0x%016llx (class %u field 0x%x %u-bit %s ctx %s%s)",
             (unsigned long long)id, f.class_code, f.field_code,
             8u << f.elem_size_code, f.non_arch ? "non-arch" : "arch",
             ctx[f.context], f.reserved ? " RESERVED-BITS-SET" : "");
    return VMDL_OK;
}
