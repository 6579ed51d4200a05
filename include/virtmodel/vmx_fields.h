/* SPDX-License-Identifier: MIT */
/*
 * The vmcs12 field table: every VMCS field that KVM's nested-VMX vmcs12
 * holds (plus the few architectural fields it does not hold), with its
 * architectural encoding, its offset in the vmcs12 layout and the VMX
 * feature it depends on.
 *
 * The list itself is data in one file (include/virtmodel/vmcs12_fields.def); width,
 * type, index and access type are derived from the encoding bits:
 *
 *   bit  0      access type   0 full, 1 high (upper 32 bits of a 64-bit field)
 *   bits 9:1    index
 *   bits 11:10  type          0 control, 1 VM-exit information (read-only),
 *                             2 guest state, 3 host state
 *   bit  12     reserved (0)
 *   bits 14:13  width         0 16-bit, 1 64-bit, 2 32-bit, 3 natural width
 *   bits 31:15  reserved (0)
 *
 * Lookup is a direct table indexed by ROL16(encoding, 6), as KVM does.
 */
#ifndef VIRTMODEL_VMX_FIELDS_H
#define VIRTMODEL_VMX_FIELDS_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum vmdl_vmcs_width {
    VMDL_VMCS_WIDTH_16 = 0,
    VMDL_VMCS_WIDTH_64 = 1,
    VMDL_VMCS_WIDTH_32 = 2,
    VMDL_VMCS_WIDTH_NATURAL = 3,
};

enum vmdl_vmcs_type {
    VMDL_VMCS_TYPE_CONTROL = 0,
    VMDL_VMCS_TYPE_READ_ONLY = 1, /* VM-exit information fields */
    VMDL_VMCS_TYPE_GUEST = 2,
    VMDL_VMCS_TYPE_HOST = 3,
};

/* VMX capabilities that decide whether a field exists (see vmx_caps.h for
 * how each is derived from the capability MSRs). */
enum vmdl_vmx_feature {
    VMDL_VMXF_NONE = 0,       /* every VMX implementation */
    VMDL_VMXF_SECONDARY,      /* activate secondary controls */
    VMDL_VMXF_TERTIARY,       /* activate tertiary controls */
    VMDL_VMXF_TPR_SHADOW,
    VMDL_VMXF_VPID,
    VMDL_VMXF_POSTED_INTR,
    VMDL_VMXF_TSC_SCALING,
    VMDL_VMXF_APIC_ACCESS,    /* virtualize APIC accesses */
    VMDL_VMXF_VID,            /* virtual-interrupt delivery */
    VMDL_VMXF_VMFUNC,
    VMDL_VMXF_EPT,
    VMDL_VMXF_XSAVES,
    VMDL_VMXF_ENCLS,          /* ENCLS exiting */
    VMDL_VMXF_PERF_GLOBAL,    /* load IA32_PERF_GLOBAL_CTRL on entry and exit */
    VMDL_VMXF_CET,            /* load CET state on entry and exit */
    VMDL_VMXF_PML,
    VMDL_VMXF_PREEMPT_TIMER,
    VMDL_VMXF_SHADOW_VMCS,
    VMDL_VMXF_MPX,            /* load IA32_BNDCFGS on entry */
    VMDL_VMXF_PAT,            /* load IA32_PAT on entry */
    VMDL_VMXF_EFER,           /* load IA32_EFER on entry */
    VMDL_VMXF_COUNT
};

/* How KVM's vmcs12 treats a field. */
enum vmdl_vmcs_kvm {
    VMDL_VMCS_KVM_GATED = 0,  /* held; refused when the hardware lacks the feature */
    VMDL_VMCS_KVM_ALWAYS,     /* held whatever the hardware says */
    VMDL_VMCS_KVM_ABSENT,     /* not held by KVM at all */
};

struct vmdl_vmcs_field {
    uint16_t encoding;
    uint16_t offset;          /* byte offset in the vmcs12 region */
    uint8_t feature;          /* enum vmdl_vmx_feature */
    uint8_t kvm;              /* enum vmdl_vmcs_kvm */
    const char *name;         /* "GUEST_RIP", "IO_BITMAP_A_HIGH", ... */
};

/* Size of the vmcs12 region (VMCS12_SIZE in KVM) and KVM's revision id. */
#define VMDL_VMCS12_SIZE 0x1000u
#define VMDL_VMCS12_REVISION 0x11e57ed0u
/* Offsets of the non-field header words of the vmcs12 layout. */
#define VMDL_VMCS12_OFF_REVISION 0u
#define VMDL_VMCS12_OFF_ABORT 4u
#define VMDL_VMCS12_OFF_LAUNCH_STATE 8u

/* ---- derived from the encoding bits ---- */
static inline enum vmdl_vmcs_width vmdl_vmcs_enc_width(uint64_t enc)
{
    return (enum vmdl_vmcs_width)((enc >> 13) & 3);
}
static inline enum vmdl_vmcs_type vmdl_vmcs_enc_type(uint64_t enc)
{
    return (enum vmdl_vmcs_type)((enc >> 10) & 3);
}
static inline unsigned vmdl_vmcs_enc_index(uint64_t enc)
{
    return (unsigned)((enc >> 1) & 0x1ff);
}
static inline bool vmdl_vmcs_enc_is_high(uint64_t enc)
{
    return enc & 1;
}
/* Bytes a VMREAD/VMWRITE of this encoding touches in vmcs12 (2, 4 or 8):
 * the _HIGH half of a 64-bit field is a 32-bit access. */
static inline unsigned vmdl_vmcs_enc_bytes(uint64_t enc)
{
    if (vmdl_vmcs_enc_is_high(enc))
        return 4;
    switch (vmdl_vmcs_enc_width(enc)) {
    case VMDL_VMCS_WIDTH_16: return 2;
    case VMDL_VMCS_WIDTH_32: return 4;
    default: return 8;
    }
}
/* True when the encoding has the shape of an architectural field encoding:
 * bits 63:15 and 12 clear, access type high only for 64-bit fields. */
bool vmdl_vmcs_enc_well_formed(uint64_t enc);

/* The direct-table index: ROL16(encoding, 6), and its inverse. */
static inline uint16_t vmdl_vmcs_enc_to_idx(uint16_t enc)
{
    return (uint16_t)((enc << 6) | (enc >> 10));
}
static inline uint16_t vmdl_vmcs_idx_to_enc(uint16_t idx)
{
    return (uint16_t)((idx >> 6) | (idx << 10));
}

/* ---- the table ---- */
/* Number of entries (each _HIGH half counts as an entry). */
unsigned vmdl_vmcs_field_count(void);
/* Entry i (0 <= i < count), in table order; NULL when out of range. */
const struct vmdl_vmcs_field *vmdl_vmcs_field_at(unsigned i);
/* Position of a field in the table (for bitmaps over fields). */
unsigned vmdl_vmcs_field_id(const struct vmdl_vmcs_field *f);
/* Entry for an encoding through the ROL16 direct table; NULL when the
 * encoding is not in the table (never aliased: bits 63:16 must be 0 and the
 * slot's entry must carry exactly this encoding). */
const struct vmdl_vmcs_field *vmdl_vmcs_field_lookup(uint64_t enc);
/* The same answer by a linear scan of the list (reference and benchmark). */
const struct vmdl_vmcs_field *vmdl_vmcs_field_lookup_linear(uint64_t enc);
/* Number of slots of the ROL16 table (highest ROL16 index + 1). */
unsigned vmdl_vmcs_rol16_table_size(void);
/* Name of a field ("?" when unknown). */
const char *vmdl_vmcs_field_name(uint64_t enc);
/* Entry by name (NULL when none). */
const struct vmdl_vmcs_field *vmdl_vmcs_field_by_name(const char *name);
/* Name of a feature ("ept", "tsc-scaling", ...). */
const char *vmdl_vmx_feature_name(enum vmdl_vmx_feature f);

#ifdef __cplusplus
}
#endif
#endif
