/* SPDX-License-Identifier: MIT */
/*
 * The vmcs12 field table and its ROL16(encoding, 6) direct index, both
 * generated at compile time from vmcs12_fields.def.
 *
 * Why rotating left by 6 makes a dense index
 * -------------------------------------------
 * A field encoding spreads its information over 15 bits, but the bits that
 * vary most widely are at the top: width in 14:13 and type in 11:10 pick one
 * of 16 "groups" spaced 0x400 apart (0x0000, 0x0400, ..., 0x6C00), while the
 * index in bits 9:1 only ever reaches a few dozen (0x1A today) and the
 * access-type bit 0 selects a _HIGH half.  Indexed by the raw encoding a
 * table would need 0x6C1D slots (about 27,700) to reach HOST_INTR_SSP_TABLE.
 *
 * ROL16(enc, 6) moves bits 15:10 (reserved bit 15, width, reserved bit 12,
 * type) down to bits 5:0, the access type (bit 0) to bit 6, and the index
 * (bits 9:1) to bits 15:7.  All 16 width/type groups and both halves now
 * share the low 7 bits (128 slots per index value) and the large, slowly
 * growing index selects a 128-slot row.  The table size is therefore
 * (highest index + 1) * 128: 27 rows, about 3,500 one-byte slots, for any
 * new field Intel adds at a small index in any group.  Rotation is a
 * bijection on 16 bits, so the inverse is ROL16(idx, 10) and no two
 * encodings can share a slot; bits 31:16 are checked separately.
 */
#include <stddef.h>
#include <string.h>

#include "virtmodel/vmx_fields.h"

/* Field ids in table order: VMDL_FID_<NAME> (and _HIGH for 64-bit fields). */
enum {
#define F(name, enc, off, feat, kvm) VMDL_FID_##name,
#define F64(name, enc, off, feat, kvm) VMDL_FID_##name, VMDL_FID_##name##_HIGH,
#include "virtmodel/vmcs12_fields.def"
#undef F
#undef F64
    VMDL_FID_COUNT
};

/* Compile-time checks of the .def: F64 only for 64-bit encodings with the
 * access-type bit clear, F never for them. */
#define F(name, enc, off, feat, kvm)                                          \
    _Static_assert((((enc) >> 13) & 3) != 1 && ((enc) & 0x9001) == 0,        \
                   #name ": F() used for a 64-bit or malformed encoding");
#define F64(name, enc, off, feat, kvm)                                        \
    _Static_assert((((enc) >> 13) & 3) == 1 && ((enc) & 0x9001) == 0,        \
                   #name ": F64() needs a 64-bit full encoding");
#include "virtmodel/vmcs12_fields.def"
#undef F
#undef F64

_Static_assert(VMDL_FID_COUNT < 255, "field ids must fit the uint8_t index table");

#define KVM_G VMDL_VMCS_KVM_GATED
#define KVM_A VMDL_VMCS_KVM_ALWAYS
#define KVM_X VMDL_VMCS_KVM_ABSENT

static const struct vmdl_vmcs_field fields[VMDL_FID_COUNT] = {
#define F(name, enc, off, feat, kvm) \
    {(enc), (off), VMDL_VMXF_##feat, KVM_##kvm, #name},
#define F64(name, enc, off, feat, kvm)                         \
    {(enc), (off), VMDL_VMXF_##feat, KVM_##kvm, #name},        \
    {(enc) | 1, (off) + 4, VMDL_VMXF_##feat, KVM_##kvm, #name "_HIGH"},
#include "virtmodel/vmcs12_fields.def"
#undef F
#undef F64
};

#define ROL16_6(e) ((uint16_t)(((e) << 6) | ((e) >> 10)))

/* Rows of 128 slots, one row per index value; index 0x1F is far above any
 * field defined so far (0x1A), and the _Static_assert below keeps it so. */
#define ROL16_TABLE_SIZE (32u * 128u)

#define F(name, enc, off, feat, kvm)                                          \
    _Static_assert(ROL16_6(enc) < ROL16_TABLE_SIZE, #name " beyond the ROL16 table");
#define F64(name, enc, off, feat, kvm)                                        \
    _Static_assert(ROL16_6((enc) | 1) < ROL16_TABLE_SIZE, #name " beyond the ROL16 table");
#include "virtmodel/vmcs12_fields.def"
#undef F
#undef F64

/* Slot -> field id + 1 (0: no field).  Designated initializers place each
 * entry at its rotated encoding; a duplicate would be a compile warning
 * (-Woverride-init is in -Wextra) and is also checked by the tests. */
static const uint8_t rol16_table[ROL16_TABLE_SIZE] = {
#define F(name, enc, off, feat, kvm) [ROL16_6(enc)] = VMDL_FID_##name + 1,
#define F64(name, enc, off, feat, kvm)                  \
    [ROL16_6(enc)] = VMDL_FID_##name + 1,               \
    [ROL16_6((enc) | 1)] = VMDL_FID_##name##_HIGH + 1,
#include "virtmodel/vmcs12_fields.def"
#undef F
#undef F64
};

bool vmdl_vmcs_enc_well_formed(uint64_t enc)
{
    if (enc >> 15)
        return false;
    if (enc & (1u << 12))
        return false;
    if ((enc & 1) && vmdl_vmcs_enc_width(enc) != VMDL_VMCS_WIDTH_64)
        return false;
    return true;
}

unsigned vmdl_vmcs_field_count(void)
{
    return VMDL_FID_COUNT;
}

const struct vmdl_vmcs_field *vmdl_vmcs_field_at(unsigned i)
{
    return i < VMDL_FID_COUNT ? &fields[i] : NULL;
}

unsigned vmdl_vmcs_field_id(const struct vmdl_vmcs_field *f)
{
    return (unsigned)(f - fields);
}

const struct vmdl_vmcs_field *vmdl_vmcs_field_lookup(uint64_t enc)
{
    if (enc >> 16)
        return NULL;
    uint16_t idx = vmdl_vmcs_enc_to_idx((uint16_t)enc);
    if (idx >= ROL16_TABLE_SIZE)
        return NULL;
    unsigned id = rol16_table[idx];
    if (!id)
        return NULL;
    return &fields[id - 1];
}

const struct vmdl_vmcs_field *vmdl_vmcs_field_lookup_linear(uint64_t enc)
{
    for (unsigned i = 0; i < VMDL_FID_COUNT; i++)
        if (fields[i].encoding == enc)
            return &fields[i];
    return NULL;
}

unsigned vmdl_vmcs_rol16_table_size(void)
{
    return ROL16_TABLE_SIZE;
}

const char *vmdl_vmcs_field_name(uint64_t enc)
{
    const struct vmdl_vmcs_field *f = vmdl_vmcs_field_lookup(enc);
    return f ? f->name : "?";
}

const struct vmdl_vmcs_field *vmdl_vmcs_field_by_name(const char *name)
{
    if (!name)
        return NULL;
    for (unsigned i = 0; i < VMDL_FID_COUNT; i++)
        if (!strcmp(fields[i].name, name))
            return &fields[i];
    return NULL;
}

const char *vmdl_vmx_feature_name(enum vmdl_vmx_feature f)
{
    static const char *const names[VMDL_VMXF_COUNT] = {
        [VMDL_VMXF_NONE] = "none",
        [VMDL_VMXF_SECONDARY] = "secondary-controls",
        [VMDL_VMXF_TERTIARY] = "tertiary-controls",
        [VMDL_VMXF_TPR_SHADOW] = "tpr-shadow",
        [VMDL_VMXF_VPID] = "vpid",
        [VMDL_VMXF_POSTED_INTR] = "posted-interrupts",
        [VMDL_VMXF_TSC_SCALING] = "tsc-scaling",
        [VMDL_VMXF_APIC_ACCESS] = "apic-access",
        [VMDL_VMXF_VID] = "virtual-interrupt-delivery",
        [VMDL_VMXF_VMFUNC] = "vmfunc",
        [VMDL_VMXF_EPT] = "ept",
        [VMDL_VMXF_XSAVES] = "xsaves",
        [VMDL_VMXF_ENCLS] = "encls-exiting",
        [VMDL_VMXF_PERF_GLOBAL] = "load-perf-global-ctrl",
        [VMDL_VMXF_CET] = "load-cet-state",
        [VMDL_VMXF_PML] = "pml",
        [VMDL_VMXF_PREEMPT_TIMER] = "preemption-timer",
        [VMDL_VMXF_SHADOW_VMCS] = "shadow-vmcs",
        [VMDL_VMXF_MPX] = "load-bndcfgs",
        [VMDL_VMXF_PAT] = "load-pat",
        [VMDL_VMXF_EFER] = "load-efer",
    };
    if ((unsigned)f >= VMDL_VMXF_COUNT)
        return "?";
    return names[f];
}
