/* SPDX-License-Identifier: MIT */
/* The global metadata field table (see include/virtmodel/tdx_fields.h). */
#include <string.h>

#include "virtmodel/error.h"
#include "virtmodel/tdx_field_id.h"
#include "virtmodel/tdx_fields.h"

static const struct vmdl_tdx_field fields[VMDL_TDX_NR_FIELDS] = {
#define X(name, id, nf, ne, def) {#name, (id), (nf), (ne), (uint64_t)(def)},
    VMDL_TDX_FIELD_TABLE(X)
#undef X
};

const struct vmdl_tdx_field *vmdl_tdx_field(unsigned index)
{
    return index < VMDL_TDX_NR_FIELDS ? &fields[index] : NULL;
}

int vmdl_tdx_field_by_name(const char *name)
{
    if (!name)
        return vmdl_fail(VMDL_EINVAL, "vmdl_tdx_field_by_name: NULL name");
    for (unsigned i = 0; i < VMDL_TDX_NR_FIELDS; i++)
        if (!strcmp(fields[i].name, name))
            return (int)i;
    return vmdl_fail(VMDL_ENOENT, "vmdl_tdx_field_by_name: no field \"%s\"",
                     name);
}

unsigned vmdl_tdx_field_elems(unsigned index)
{
    return index < VMDL_TDX_NR_FIELDS
               ? fields[index].nr_fields * fields[index].nr_elems : 0;
}

int vmdl_tdx_field_by_id(uint64_t id, unsigned *elem)
{
    unsigned cls = vmdl_tdx_fid_class(id);
    uint32_t code = vmdl_tdx_fid_field_code(id);
    for (unsigned i = 0; i < VMDL_TDX_NR_FIELDS; i++) {
        uint32_t first = vmdl_tdx_fid_field_code(fields[i].base_id);
        if (vmdl_tdx_fid_class(fields[i].base_id) == cls && code >= first &&
            code - first < vmdl_tdx_field_elems(i)) {
            if (elem)
                *elem = code - first;
            return (int)i;
        }
    }
    return VMDL_ENOENT;
}

uint64_t vmdl_tdx_field_elem_id(unsigned index, unsigned elem)
{
    if (index >= VMDL_TDX_NR_FIELDS || elem >= vmdl_tdx_field_elems(index))
        return VMDL_TDX_FID_NA;
    return fields[index].base_id + elem;
}

const char *vmdl_tdx_class_name(unsigned class_code)
{
    switch (class_code) {
    case 0: return "platform";
    case 8: return "version";
    case 9: return "handoff";
    case 10: return "module-info";
    case 16: return "cmr";
    case 17: return "tdmr";
    case 24: return "td-ctrl";
    case 25: return "td-conf";
    default: return "?";
    }
}
