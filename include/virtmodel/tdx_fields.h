/* SPDX-License-Identifier: MIT */
/*
 * The global (platform-scope) metadata fields of the modelled TDX module:
 * the one table every other part of the tdx model derives from (the
 * metadata store, the TDH.SYS.RD walk order, the profile parser's names,
 * the reader's field IDs, the state blob layout).
 *
 * Field IDs, element sizes and array lengths follow the TDX module's global
 * metadata ("Global Scope Metadata", TDX module 1.5 ABI; the same IDs are
 * hard-coded in Linux arch/x86/virt/vmx/tdx/tdx_global_metadata.c).  The
 * order is the module's own lookup-table order, which is the order the
 * TDH.SYS.RD next-field walk visits.  Platform-info (class 0) and the
 * migration / service-TD / TD-partitioning classes of the real module are
 * not modelled.
 *
 * X(NAME, base field ID, number of fields, elements per field, default)
 * An entry holds nr_fields * nr_elems elements; element k has the ID
 * base + k (no INC_SIZE entries here).  The default is the value of an
 * element a profile does not set.
 */
#ifndef VIRTMODEL_TDX_FIELDS_H
#define VIRTMODEL_TDX_FIELDS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VMDL_TDX_FIELD_TABLE(X)                                              \
    /* class 8: TDX module version */                                      \
    X(VENDOR_ID,             0x0800000200000000ull,  1, 1, 0x8086)          \
    X(BUILD_DATE,            0x8800000200000001ull,  1, 1, 0)               \
    X(BUILD_NUM,             0x8800000100000002ull,  1, 1, 0)               \
    X(MINOR_VERSION,         0x0800000100000003ull,  1, 1, 0)               \
    X(MAJOR_VERSION,         0x0800000100000004ull,  1, 1, 0)               \
    X(UPDATE_VERSION,        0x0800000100000005ull,  1, 1, 0)               \
    X(INTERNAL_VERSION,      0x0800000100000006ull,  1, 1, 0)               \
    /* class 9: module handoff (runtime update) */                         \
    X(MODULE_HV,             0x8900000100000000ull,  1, 1, 0)               \
    X(MIN_UPDATE_HV,         0x8900000100000001ull,  1, 1, 0)               \
    X(NO_DOWNGRADE,          0x8900000000000002ull,  1, 1, 0)               \
    /* class 10: TDX module info */                                        \
    X(SYS_ATTRIBUTES,        0x0A00000200000000ull,  1, 1, 0)               \
    X(NUM_TDX_FEATURES,      0x0A00000000000001ull,  1, 1, 1)               \
    X(TDX_FEATURES0,         0x0A00000300000008ull,  1, 1, 0)               \
    /* class 16: CMR info */                                               \
    X(NUM_CMRS,              0x9000000100000000ull,  1, 1, 0)               \
    X(CMR_BASE,              0x9000000300000080ull, 32, 1, 0)               \
    X(CMR_SIZE,              0x9000000300000100ull, 32, 1, 0)               \
    /* class 17: TDMR info */                                              \
    X(MAX_TDMRS,             0x9100000100000008ull,  1, 1, 0)               \
    X(MAX_RESERVED_PER_TDMR, 0x9100000100000009ull,  1, 1, 0)               \
    X(PAMT_4K_ENTRY_SIZE,    0x9100000100000010ull,  1, 1, 0)               \
    X(PAMT_2M_ENTRY_SIZE,    0x9100000100000011ull,  1, 1, 0)               \
    X(PAMT_1G_ENTRY_SIZE,    0x9100000100000012ull,  1, 1, 0)               \
    /* 16-bit element: the ID Linux's Dynamic PAMT reader uses */         \
    X(PAMT_PAGE_BITMAP_ENTRY_BITS, 0x9100000100000013ull, 1, 1, 0)          \
    /* class 24: TD control structures */                                  \
    X(TDR_BASE_SIZE,         0x9800000100000000ull,  1, 1, 0)               \
    X(TDCS_BASE_SIZE,        0x9800000100000100ull,  1, 1, 0)               \
    X(TDVPS_BASE_SIZE,       0x9800000100000200ull,  1, 1, 0)               \
    /* class 25: TD configurability */                                     \
    X(ATTRIBUTES_FIXED0,     0x1900000300000000ull,  1, 1, 0)               \
    X(ATTRIBUTES_FIXED1,     0x1900000300000001ull,  1, 1, 0)               \
    X(XFAM_FIXED0,           0x1900000300000002ull,  1, 1, 0)               \
    X(XFAM_FIXED1,           0x1900000300000003ull,  1, 1, 0)               \
    X(NUM_CPUID_CONFIG,      0x9900000100000004ull,  1, 1, 0)               \
    X(MAX_VCPUS_PER_TD,      0x9900000100000008ull,  1, 1, 0)               \
    X(CPUID_CONFIG_LEAVES,   0x9900000300000400ull, 32, 1, ~0ull)           \
    X(CPUID_CONFIG_VALUES,   0x9900000300000500ull, 32, 2, 0)

enum vmdl_tdx_field_index {
#define VMDL_TDX_X_ENUM(name, id, nf, ne, def) VMDL_TDX_F_##name,
    VMDL_TDX_FIELD_TABLE(VMDL_TDX_X_ENUM)
#undef VMDL_TDX_X_ENUM
    VMDL_TDX_NR_FIELDS
};

struct vmdl_tdx_field {
    const char *name;      /* "MAJOR_VERSION" */
    uint64_t base_id;      /* ID of element 0 */
    unsigned nr_fields;
    unsigned nr_elems;     /* per field */
    uint64_t def;          /* value of an element nobody set */
};

/* The entry at index (0..VMDL_TDX_NR_FIELDS-1), NULL when out of range. */
const struct vmdl_tdx_field *vmdl_tdx_field(unsigned index);
/* Index of the entry called name (case-sensitive), or VMDL_ENOENT. */
int vmdl_tdx_field_by_name(const char *name);
/*
 * Index of the entry holding element `id` (class and field code match;
 * NON_ARCH, size, context and the sequence bits are not compared, as the
 * module's lookup does), with *elem = element ordinal within the entry.
 * VMDL_ENOENT when no entry holds it.
 */
int vmdl_tdx_field_by_id(uint64_t id, unsigned *elem);
/* Elements in the entry (nr_fields * nr_elems). */
unsigned vmdl_tdx_field_elems(unsigned index);
/* The ID of element `elem` of entry `index`. */
uint64_t vmdl_tdx_field_elem_id(unsigned index, unsigned elem);
/* Class name of a class code ("version", "tdmr", ...), "?" if unknown. */
const char *vmdl_tdx_class_name(unsigned class_code);

#ifdef __cplusplus
}
#endif
#endif
