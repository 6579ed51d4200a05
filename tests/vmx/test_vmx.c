/* SPDX-License-Identifier: MIT */
/* vmx model: field table, ROL16 index, profiles, VMX instructions, state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "virtmodel/bits.h"
#include "virtmodel/blob.h"
#include "virtmodel/error.h"
#include "virtmodel/vmx_nested.h"
#include "virtmodel/vmx.h"

#define RAM_SIZE (1u << 20)
#define VMXON_PA 0x1000u
#define VMCS_A 0x2000u
#define VMCS_B 0x3000u
#define CR0_OK 0x80000031ull /* PG NE ET PE */
#define CR4_OK 0x2020ull     /* VMXE PAE */
#define RFLAGS_IN (VMDL_RFLAGS_ARITH | 0x202ull)

/* Encodings used by name in the tests (checked against the table). */
#define E_VPID 0x0000
#define E_GUEST_INTR_STATUS 0x0810
#define E_GUEST_PML_INDEX 0x0812
#define E_IO_BITMAP_A 0x2000
#define E_IO_BITMAP_A_HIGH 0x2001
#define E_TSC_MULTIPLIER 0x2032
#define E_TERTIARY 0x2034
#define E_EPT_POINTER 0x201a
#define E_ENCLS 0x202e
#define E_PERF_GLOBAL 0x2808
#define E_SECONDARY 0x401e
#define E_TPR_THRESHOLD 0x401c
#define E_VM_INSTRUCTION_ERROR 0x4400
#define E_VM_EXIT_REASON 0x4402
#define E_GUEST_CS_AR 0x4816
#define E_PREEMPT 0x482e
#define E_CR3_TARGET0 0x6008
#define E_GUEST_RIP 0x681e
#define E_GUEST_S_CET 0x6828
#define E_HOST_CR3 0x6c02

struct fx {
    uint8_t *ram;
    struct vmdl_flat_mem flat;
    struct vmdl_guest_mem mem;
    struct vmdl_vmx_model *model;
    struct vmdl_vmx *vmx;
    struct vmdl_vmx_ctx ctx;
};

static void put32(struct fx *f, uint64_t pa, uint32_t v)
{
    memcpy(f->ram + pa, &v, 4);
}

static uint32_t get32(struct fx *f, uint64_t pa)
{
    uint32_t v;
    memcpy(&v, f->ram + pa, 4);
    return v;
}

static void fx_open_caps(struct fx *f, const struct vmdl_vmx_caps *caps)
{
    memset(f, 0, sizeof(*f));
    f->ram = calloc(1, RAM_SIZE);
    assert_non_null(f->ram);
    f->flat = (struct vmdl_flat_mem){f->ram, 0, RAM_SIZE};
    vmdl_flat_mem_init(&f->mem, &f->flat);
    assert_int_equal(vmdl_vmx_model_create(caps, &f->model), 0);
    assert_int_equal(vmdl_vmx_create(f->model, &f->mem, &f->vmx), 0);
    f->ctx = (struct vmdl_vmx_ctx){.cr0 = CR0_OK, .cr4 = CR4_OK, .rflags = RFLAGS_IN};
    uint32_t rev = VMDL_VMCS12_REVISION;
    put32(f, VMXON_PA, rev);
    put32(f, VMCS_A, rev);
    put32(f, VMCS_B, rev);
}

static void fx_open(struct fx *f, const char *profile)
{
    struct vmdl_vmx_caps caps;
    assert_int_equal(vmdl_vmx_profile_get(profile, &caps), 0);
    fx_open_caps(f, &caps);
}

static void fx_close(struct fx *f)
{
    vmdl_vmx_destroy(f->vmx);
    vmdl_vmx_model_destroy(f->model);
    free(f->ram);
}

static void expect_ok(const struct vmdl_vmx_result *r)
{
    assert_int_equal(r->fault, VMDL_FAULT_NONE);
    assert_int_equal(r->status, VMDL_VMX_SUCCEED);
    assert_int_equal(r->rflags, RFLAGS_IN & ~VMDL_RFLAGS_ARITH);
}

static void expect_invalid(const struct vmdl_vmx_result *r)
{
    assert_int_equal(r->fault, VMDL_FAULT_NONE);
    assert_int_equal(r->status, VMDL_VMX_FAIL_INVALID);
    assert_int_equal(r->rflags, (RFLAGS_IN & ~VMDL_RFLAGS_ARITH) | VMDL_RFLAGS_CF);
}

static void expect_valid(struct fx *f, const struct vmdl_vmx_result *r, uint32_t err)
{
    assert_int_equal(r->fault, VMDL_FAULT_NONE);
    assert_int_equal(r->status, VMDL_VMX_FAIL_VALID);
    assert_int_equal(r->error, err);
    assert_int_equal(r->rflags, (RFLAGS_IN & ~VMDL_RFLAGS_ARITH) | VMDL_RFLAGS_ZF);
    uint64_t e = 0;
    assert_int_equal(vmdl_vmx_peek(f->vmx, E_VM_INSTRUCTION_ERROR, &e), 0);
    assert_int_equal(e, err);
}

static void expect_fault(const struct vmdl_vmx_result *r, vmdl_fault fl)
{
    assert_int_equal(r->fault, fl);
}

/* VMXON + VMCLEAR + VMPTRLD of VMCS_A. */
static void fx_enter(struct fx *f)
{
    struct vmdl_vmx_result r;
    assert_int_equal(vmdl_vmx_set_feature_control(f->vmx, 5), 0);
    assert_int_equal(vmdl_vmx_vmxon(f->vmx, &f->ctx, VMXON_PA, &r), 0);
    expect_ok(&r);
    assert_int_equal(vmdl_vmx_vmclear(f->vmx, &f->ctx, VMCS_A, &r), 0);
    expect_ok(&r);
    assert_int_equal(vmdl_vmx_vmptrld(f->vmx, &f->ctx, VMCS_A, &r), 0);
    expect_ok(&r);
}

static uint64_t vread(struct fx *f, uint64_t enc, struct vmdl_vmx_result *r)
{
    assert_int_equal(vmdl_vmx_vmread(f->vmx, &f->ctx, enc, r), 0);
    return r->value;
}

static void vwrite(struct fx *f, uint64_t enc, uint64_t v, struct vmdl_vmx_result *r)
{
    assert_int_equal(vmdl_vmx_vmwrite(f->vmx, &f->ctx, enc, v, r), 0);
}

/* ------------------------------------------------------------------ */
/* Field table                                                        */

static void test_table_shape(void **state)
{
    (void)state;
    unsigned n = vmdl_vmcs_field_count(), kvm = 0;
    assert_int_equal(n, 190);
    uint8_t owner[VMDL_VMCS12_SIZE];
    memset(owner, 0, sizeof(owner));
    for (unsigned i = 0; i < n; i++) {
        const struct vmdl_vmcs_field *f = vmdl_vmcs_field_at(i);
        assert_non_null(f);
        assert_int_equal(vmdl_vmcs_field_id(f), i);
        assert_true(vmdl_vmcs_enc_well_formed(f->encoding));
        if (f->kvm != VMDL_VMCS_KVM_ABSENT)
            kvm++;
        unsigned bytes = vmdl_vmcs_enc_bytes(f->encoding);
        assert_true(f->offset >= 40 && f->offset + bytes <= 1000);
        assert_int_equal(f->offset % bytes, 0);
        if (vmdl_vmcs_enc_width(f->encoding) == VMDL_VMCS_WIDTH_64 &&
            !vmdl_vmcs_enc_is_high(f->encoding)) {
            /* every 64-bit field is followed by its _HIGH half */
            const struct vmdl_vmcs_field *h = vmdl_vmcs_field_at(i + 1);
            assert_non_null(h);
            assert_int_equal(h->encoding, f->encoding | 1);
            assert_int_equal(h->offset, f->offset + 4);
            assert_non_null(strstr(h->name, "_HIGH"));
        }
        if (vmdl_vmcs_enc_is_high(f->encoding))
            continue;
        /* full fields never overlap */
        for (unsigned b = 0; b < bytes; b++) {
            assert_int_equal(owner[f->offset + b], 0);
            owner[f->offset + b] = 1;
        }
        for (unsigned j = 0; j < i; j++)
            assert_int_not_equal(vmdl_vmcs_field_at(j)->encoding, f->encoding);
    }
    assert_int_equal(kvm, 184);
    assert_null(vmdl_vmcs_field_at(n));
}

static void test_encoding_derivation(void **state)
{
    (void)state;
    assert_int_equal(vmdl_vmcs_enc_width(E_GUEST_RIP), VMDL_VMCS_WIDTH_NATURAL);
    assert_int_equal(vmdl_vmcs_enc_type(E_GUEST_RIP), VMDL_VMCS_TYPE_GUEST);
    assert_int_equal(vmdl_vmcs_enc_type(E_VM_EXIT_REASON), VMDL_VMCS_TYPE_READ_ONLY);
    assert_int_equal(vmdl_vmcs_enc_width(E_VM_EXIT_REASON), VMDL_VMCS_WIDTH_32);
    assert_int_equal(vmdl_vmcs_enc_width(E_IO_BITMAP_A), VMDL_VMCS_WIDTH_64);
    assert_int_equal(vmdl_vmcs_enc_type(E_IO_BITMAP_A), VMDL_VMCS_TYPE_CONTROL);
    assert_int_equal(vmdl_vmcs_enc_type(E_HOST_CR3), VMDL_VMCS_TYPE_HOST);
    assert_int_equal(vmdl_vmcs_enc_width(E_VPID), VMDL_VMCS_WIDTH_16);
    assert_int_equal(vmdl_vmcs_enc_index(E_TSC_MULTIPLIER), 0x19);
    assert_int_equal(vmdl_vmcs_enc_bytes(E_IO_BITMAP_A_HIGH), 4);
    assert_int_equal(vmdl_vmcs_enc_bytes(E_IO_BITMAP_A), 8);
    assert_int_equal(vmdl_vmcs_enc_bytes(E_GUEST_CS_AR), 4);
    assert_int_equal(vmdl_vmcs_enc_bytes(E_VPID), 2);
    assert_false(vmdl_vmcs_enc_well_formed(E_GUEST_RIP | 1));   /* HIGH of natural */
    assert_false(vmdl_vmcs_enc_well_formed(0x1000 | E_VPID));   /* bit 12 */
    assert_false(vmdl_vmcs_enc_well_formed(0x8000));
    assert_false(vmdl_vmcs_enc_well_formed(1ull << 32));
    assert_string_equal(vmdl_vmcs_field_name(E_GUEST_RIP), "GUEST_RIP");
    assert_string_equal(vmdl_vmcs_field_name(E_IO_BITMAP_A_HIGH), "IO_BITMAP_A_HIGH");
    assert_string_equal(vmdl_vmcs_field_name(0x6830), "?");
    assert_int_equal(vmdl_vmcs_field_by_name("TSC_MULTIPLIER")->encoding, E_TSC_MULTIPLIER);
    assert_int_equal(vmdl_vmcs_field_by_name("GUEST_PML_INDEX")->offset, 996);
    assert_null(vmdl_vmcs_field_by_name("NO_SUCH_FIELD"));
    assert_string_equal(vmdl_vmx_feature_name(VMDL_VMXF_EPT), "ept");
    assert_string_equal(vmdl_vmx_feature_name(VMDL_VMXF_COUNT), "?");
}

static void test_rol16_index(void **state)
{
    (void)state;
    for (unsigned v = 0; v < 0x10000; v++) {
        assert_int_equal(vmdl_vmcs_idx_to_enc(vmdl_vmcs_enc_to_idx((uint16_t)v)), v);
        assert_int_equal(vmdl_vmcs_enc_to_idx((uint16_t)v), vmdl_rol16((uint16_t)v, 6));
        /* the direct table and the linear list always agree: nothing aliased */
        assert_ptr_equal(vmdl_vmcs_field_lookup(v), vmdl_vmcs_field_lookup_linear(v));
    }
    unsigned n = vmdl_vmcs_field_count(), highest = 0;
    for (unsigned i = 0; i < n; i++) {
        const struct vmdl_vmcs_field *f = vmdl_vmcs_field_at(i);
        uint16_t idx = vmdl_vmcs_enc_to_idx(f->encoding);
        if (idx > highest)
            highest = idx;
        assert_ptr_equal(vmdl_vmcs_field_lookup(f->encoding), f);
        for (unsigned j = 0; j < i; j++)
            assert_int_not_equal(vmdl_vmcs_enc_to_idx(vmdl_vmcs_field_at(j)->encoding), idx);
        /* bits beyond 15 and the reserved bit 12 never alias a field */
        assert_null(vmdl_vmcs_field_lookup(f->encoding | (1ull << 16)));
        assert_null(vmdl_vmcs_field_lookup(f->encoding | (1ull << 32)));
        assert_null(vmdl_vmcs_field_lookup(f->encoding | 0x8000));
        assert_null(vmdl_vmcs_field_lookup(f->encoding | 0x1000));
    }
    assert_true(highest < vmdl_vmcs_rol16_table_size());
    /* dense: under 3.5k slots for encodings reaching 0x6c1c */
    assert_true(highest + 1 <= 27u * 128u);
    assert_null(vmdl_vmcs_field_lookup(~0ull));
}

/* ------------------------------------------------------------------ */
/* Profiles, sanitizing, VMCS_ENUM                                    */

static uint64_t enum_of(const char *profile, enum vmdl_vmx_field_policy pol,
                        unsigned *nr)
{
    struct vmdl_vmx_caps c;
    struct vmdl_vmx_model *m;
    assert_int_equal(vmdl_vmx_profile_get(profile, &c), 0);
    c.field_policy = pol;
    assert_int_equal(vmdl_vmx_model_create(&c, &m), 0);
    uint64_t v = vmdl_vmx_model_vmcs_enum(m), msr = 0;
    assert_int_equal(vmdl_vmx_model_msr(m, VMDL_MSR_VMX_VMCS_ENUM, &msr), 0);
    assert_int_equal(msr, v);
    if (nr)
        *nr = vmdl_vmx_model_nr_supported(m);
    vmdl_vmx_model_destroy(m);
    return v;
}

static void test_vmcs_enum_per_profile(void **state)
{
    (void)state;
    unsigned nr;
    assert_int_equal(vmdl_vmx_profile_count(), 8);
    assert_int_equal(enum_of("sapphire-rapids", VMDL_VMX_FIELDS_KVM, &nr), 0x32);
    assert_int_equal(nr, 184);
    assert_int_equal(enum_of("skylake", VMDL_VMX_FIELDS_KVM, &nr), 0x32);
    assert_int_equal(nr, 184 - 6 - 2);          /* no CET, no ENCLS */
    assert_int_equal(enum_of("broadwell", VMDL_VMX_FIELDS_KVM, &nr), 0x2e);
    assert_int_equal(nr, 184 - 6 - 2 - 2 - 2);  /* nor TSC scaling, XSAVES */
    assert_int_equal(enum_of("nehalem", VMDL_VMX_FIELDS_KVM, NULL), 0x2e);
    assert_int_equal(enum_of("core2", VMDL_VMX_FIELDS_KVM, NULL), 0x2e);
    /* architectural view: tertiary controls field on SPR, no emulated
     * preemption timer on the old parts */
    assert_int_equal(enum_of("sapphire-rapids", VMDL_VMX_FIELDS_ARCH, &nr), 0x34);
    assert_int_equal(enum_of("skylake", VMDL_VMX_FIELDS_ARCH, NULL), 0x32);
    assert_int_equal(enum_of("broadwell", VMDL_VMX_FIELDS_ARCH, NULL), 0x2e);
    assert_int_equal(enum_of("nehalem", VMDL_VMX_FIELDS_ARCH, NULL), 0x2a);
    assert_int_equal(enum_of("core2", VMDL_VMX_FIELDS_ARCH, NULL), 0x2a);
    /* the bare-hardware profiles use the architectural set */
    assert_int_equal(enum_of("skylake-bare", VMDL_VMX_FIELDS_ARCH, NULL), 0x32);
    assert_int_equal(enum_of("core2-bare", VMDL_VMX_FIELDS_ARCH, NULL), 0x2a);
    /* VMCS_ENUM is computed after filtering: dropping TSC scaling from the
     * full profile lowers it to the ENCLS bitmap / preemption timer index */
    struct vmdl_vmx_caps c;
    struct vmdl_vmx_model *m;
    assert_int_equal(vmdl_vmx_profile_get(NULL, &c), 0);
    assert_string_equal(c.name, "sapphire-rapids");
    assert_int_equal(vmdl_vmx_caps_set_allowed1(&c, VMDL_VMX_CTL_PROCBASED2, 25, false), 0);
    assert_false(vmdl_vmx_caps_allowed1(&c, VMDL_VMX_CTL_PROCBASED2, 25));
    assert_int_equal(vmdl_vmx_model_create(&c, &m), 0);
    assert_int_equal(vmdl_vmx_model_vmcs_enum(m), 0x2e);
    assert_false(vmdl_vmx_model_field_supported(m, E_TSC_MULTIPLIER));
    assert_false(vmdl_vmx_model_field_supported(m, E_TSC_MULTIPLIER | 1));
    vmdl_vmx_model_destroy(m);
}

static uint64_t bits_of(const unsigned *b, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= 1ull << b[i];
    return v;
}
#define BITS(...) bits_of((const unsigned[]){__VA_ARGS__}, \
                          sizeof((const unsigned[]){__VA_ARGS__}) / sizeof(unsigned))

/* sapphire-rapids-l1 is KVM's nested_vmx_setup_ctls_msrs applied to the
 * sapphire-rapids host: each MSR recomputed here from the host's by KVM's
 * rules (KVM with EPT + A/D, VPID, unrestricted guest, flexpriority, APICv,
 * SGX), then what follows for L1. */
static void test_kvm_l1_profile(void **state)
{
    (void)state;
    struct vmdl_vmx_caps h, l1;
    assert_int_equal(vmdl_vmx_profile_get("sapphire-rapids", &h), 0);
    assert_int_equal(vmdl_vmx_profile_get("sapphire-rapids-l1", &l1), 0);
    /* EPT: the host's execute-only (0), 4/5-level walks (6, 7), WB (14) and
     * INVEPT (20); always single-context/global INVEPT (25, 26), 2 MiB /
     * 1 GiB pages (16, 17), A/D (21); INVVPID (32) with all four types. */
    uint64_t ept = (h.ept_vpid_cap & BITS(0, 6, 7, 14, 20)) | BITS(16, 17, 21, 25, 26) |
                   BITS(32, 40, 41, 42, 43);
    assert_int_equal(l1.ept_vpid_cap, ept);
    assert_int_equal(ept & BITS(8, 22), 0);             /* no UC, no bit 22 */
    /* Secondary: KVM's list filtered by the host, then what it adds. */
    uint64_t sec = ((h.procbased2 >> 32) & BITS(2, 3, 4, 6, 8, 9, 11, 12, 13, 16, 20, 25, 26)) |
                   BITS(0, 1, 5, 7, 14, 15, 17);
    assert_int_equal(l1.procbased2, sec << 32);
    assert_false(vmdl_vmx_caps_allowed1(&l1, VMDL_VMX_CTL_PROCBASED2, 22)); /* MBEC */
    assert_false(vmdl_vmx_caps_allowed1(&l1, VMDL_VMX_CTL_PROCBASED2, 10)); /* PLE */
    assert_true(vmdl_vmx_caps_allowed1(&h, VMDL_VMX_CTL_PROCBASED2, 22));
    /* Primary: the list, the always-on bits, MSR bitmaps; CR3 exiting free. */
    uint64_t pri = ((h.procbased >> 32) &
                    BITS(2, 3, 7, 9, 10, 11, 12, 15, 16, 19, 20, 21, 22, 23, 24, 25, 27, 29,
                         30, 31)) | 0x0401e172u | BITS(28);
    assert_int_equal(l1.procbased >> 32, pri);
    assert_int_equal(l1.true_procbased, pri << 32 | 0x04006172u);
    assert_false(vmdl_vmx_caps_allowed1(&l1, VMDL_VMX_CTL_PROCBASED, 17)); /* tertiary */
    assert_int_equal(l1.procbased3, 0);
    /* Pin-based: external interrupts, NMIs, virtual NMIs, posted
     * interrupts of the host; the preemption timer KVM emulates. */
    assert_int_equal(l1.pinbased >> 32, ((h.pinbased >> 32) & BITS(0, 3, 5, 7)) | 0x16 |
                                            BITS(6));
    /* Exit / entry: KVM's lists; BNDCFGS only with MPX (the host's entry
     * control 16). */
    bool mpx = vmdl_vmx_caps_allowed1(&h, VMDL_VMX_CTL_ENTRY, 16);
    uint64_t ex = ((h.exit >> 32) & (BITS(9, 18, 19, 28) | (mpx ? BITS(23) : 0))) |
                  0x36dffu | BITS(12, 15, 20, 21, 22);
    assert_int_equal(l1.exit >> 32, ex);
    assert_int_equal(l1.true_exit, ex << 32 | 0x36dfbu);
    uint64_t en = ((h.entry >> 32) & BITS(9, 14, 16, 20)) | 0x11ffu | BITS(13, 15);
    assert_int_equal(l1.entry >> 32, en);
    assert_int_equal(l1.true_entry, en << 32 | 0x11fbu);
    /* Unchanged: BASIC, MISC, fixed bits, VMFUNC, MAXPHYADDR. */
    assert_int_equal(l1.basic, h.basic);
    assert_int_equal(l1.misc, h.misc);
    assert_int_equal(l1.cr0_fixed0, h.cr0_fixed0);
    assert_int_equal(l1.cr4_fixed1, h.cr4_fixed1);
    assert_int_equal(l1.vmfunc, 1);
    assert_int_equal(l1.phys_addr_bits, h.phys_addr_bits);
    /* What L1 then sees: a UC EPTP refused, no tertiary MSR, the same
     * field set. */
    struct vmdl_vmx_model *m, *mh;
    assert_int_equal(vmdl_vmx_model_create(&l1, &m), 0);
    assert_int_equal(vmdl_vmx_model_create(&h, &mh), 0);
    assert_false(vmdl_vmx_eptp_valid(m, 0x1000 | 0x18));
    assert_true(vmdl_vmx_eptp_valid(mh, 0x1000 | 0x18));
    assert_true(vmdl_vmx_eptp_valid(m, 0x1000 | 0x5e));
    uint64_t v = 0;
    assert_int_equal(vmdl_vmx_model_msr(m, VMDL_MSR_VMX_PROCBASED_CTLS3, &v), VMDL_ENOENT);
    assert_int_equal(vmdl_vmx_model_msr(m, VMDL_MSR_VMX_EPT_VPID_CAP, &v), 0);
    assert_int_equal(v, ept);
    assert_int_equal(vmdl_vmx_model_nr_supported(m), vmdl_vmx_model_nr_supported(mh));
    assert_int_equal(vmdl_vmx_model_vmcs_enum(m), 0x32);
    vmdl_vmx_model_destroy(m);
    vmdl_vmx_model_destroy(mh);
}

static void test_unsupported_fields_per_profile(void **state)
{
    (void)state;
    struct {
        const char *p;
        enum vmdl_vmx_field_policy pol;
        uint16_t enc;
        bool ok;
    } cases[] = {
        {"core2", VMDL_VMX_FIELDS_KVM, E_SECONDARY, false},
        {"core2", VMDL_VMX_FIELDS_KVM, E_EPT_POINTER, false},
        {"core2", VMDL_VMX_FIELDS_KVM, E_VPID, false},
        {"core2", VMDL_VMX_FIELDS_KVM, E_PERF_GLOBAL, false},
        {"core2", VMDL_VMX_FIELDS_KVM, E_TPR_THRESHOLD, true},
        {"core2", VMDL_VMX_FIELDS_KVM, E_GUEST_PML_INDEX, true},  /* KVM emulates PML */
        {"core2", VMDL_VMX_FIELDS_KVM, E_PREEMPT, true},          /* and the timer */
        {"core2", VMDL_VMX_FIELDS_ARCH, E_GUEST_PML_INDEX, false},
        {"core2", VMDL_VMX_FIELDS_ARCH, E_PREEMPT, false},
        {"core2", VMDL_VMX_FIELDS_ARCH, E_CR3_TARGET0, true},
        {"nehalem", VMDL_VMX_FIELDS_KVM, E_SECONDARY, true},
        {"nehalem", VMDL_VMX_FIELDS_KVM, E_EPT_POINTER, true},
        {"nehalem", VMDL_VMX_FIELDS_KVM, E_GUEST_INTR_STATUS, false},
        {"nehalem", VMDL_VMX_FIELDS_KVM, E_PERF_GLOBAL, true},
        {"skylake", VMDL_VMX_FIELDS_KVM, E_ENCLS, false},
        {"skylake", VMDL_VMX_FIELDS_KVM, E_GUEST_S_CET, false},
        {"skylake", VMDL_VMX_FIELDS_KVM, E_TSC_MULTIPLIER, true},
        {"sapphire-rapids", VMDL_VMX_FIELDS_KVM, E_GUEST_S_CET, true},
        {"sapphire-rapids", VMDL_VMX_FIELDS_KVM, E_ENCLS, true},
        {"sapphire-rapids", VMDL_VMX_FIELDS_KVM, E_TERTIARY, false},   /* KVM lacks it */
        {"sapphire-rapids", VMDL_VMX_FIELDS_KVM, E_CR3_TARGET0, false},
        {"sapphire-rapids", VMDL_VMX_FIELDS_ARCH, E_TERTIARY, true},
        {"sapphire-rapids", VMDL_VMX_FIELDS_ARCH, E_TERTIARY | 1, true},
    };
    for (unsigned i = 0; i < VMDL_ARRAY_SIZE(cases); i++) {
        struct vmdl_vmx_caps c;
        struct vmdl_vmx_model *m;
        assert_int_equal(vmdl_vmx_profile_get(cases[i].p, &c), 0);
        c.field_policy = cases[i].pol;
        assert_int_equal(vmdl_vmx_model_create(&c, &m), 0);
        if (vmdl_vmx_model_field_supported(m, cases[i].enc) != cases[i].ok)
            fail_msg("%s/%d: field 0x%x expected %s", cases[i].p, cases[i].pol,
                     cases[i].enc, cases[i].ok ? "supported" : "unsupported");
        vmdl_vmx_model_destroy(m);
    }
}

static void test_unsupported_fails_like_unknown(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "core2");
    fx_enter(&f);
    struct vmdl_vmx_result r;
    const uint64_t bad[] = {E_EPT_POINTER, E_SECONDARY, E_VPID, 0x6830, 0x1000,
                            0x8000, 1ull << 32, E_GUEST_RIP | 1, E_CR3_TARGET0};
    for (unsigned i = 0; i < VMDL_ARRAY_SIZE(bad); i++) {
        vread(&f, bad[i], &r);
        expect_valid(&f, &r, VMDL_VMXERR_UNSUPPORTED_VMCS_COMPONENT);
        vwrite(&f, bad[i], 1, &r);
        expect_valid(&f, &r, VMDL_VMXERR_UNSUPPORTED_VMCS_COMPONENT);
    }
    fx_close(&f);
}

static void test_profile_validation(void **state)
{
    (void)state;
    struct vmdl_vmx_caps c, base;
    struct vmdl_vmx_model *m = NULL;
    assert_int_equal(vmdl_vmx_profile_get("skylake", &base), 0);
    assert_int_equal(vmdl_vmx_profile_get("pentium", &c), VMDL_ENOENT);
    assert_non_null(strstr(vmdl_last_error(), "pentium"));
    assert_int_equal(vmdl_vmx_profile_get("skylake", NULL), VMDL_EINVAL);
    assert_int_equal(vmdl_vmx_model_create(NULL, &m), VMDL_EINVAL);

    c = base; c.procbased = (c.procbased & ~0xffffffffull) | 0xffffffffu;
    assert_int_equal(vmdl_vmx_model_create(&c, &m), VMDL_EINVAL);
    assert_non_null(strstr(vmdl_last_error(), "PROCBASED_CTLS"));
    c = base; c.basic |= 0x80000000u;
    assert_int_equal(vmdl_vmx_model_create(&c, &m), VMDL_EINVAL);
    c = base; c.basic &= ~(0x1fffull << 32);
    assert_int_equal(vmdl_vmx_model_create(&c, &m), VMDL_EINVAL);
    c = base; c.phys_addr_bits = 60;
    assert_int_equal(vmdl_vmx_model_create(&c, &m), VMDL_EINVAL);
    c = base; c.cr4_fixed0 = 0;
    assert_int_equal(vmdl_vmx_model_create(&c, &m), VMDL_EINVAL);
    c = base; c.cr0_fixed1 = 0;
    assert_int_equal(vmdl_vmx_model_create(&c, &m), VMDL_EINVAL);
    c = base; c.true_exit ^= 1ull << 40;
    assert_int_equal(vmdl_vmx_model_create(&c, &m), VMDL_EINVAL);
    assert_non_null(strstr(vmdl_last_error(), "TRUE_EXIT_CTLS"));
    c = base; c.field_policy = (enum vmdl_vmx_field_policy)7;
    assert_int_equal(vmdl_vmx_model_create(&c, &m), VMDL_EINVAL);
    assert_null(m);
    c = base;
    assert_int_equal(vmdl_vmx_caps_set_allowed1(&c, VMDL_VMX_CTL_EXIT, 32, true), VMDL_ERANGE);
    assert_int_equal(vmdl_vmx_caps_set_allowed1(NULL, VMDL_VMX_CTL_EXIT, 1, true), VMDL_EINVAL);
    /* forbidding a default1 control also drops the must-be-1 bit */
    assert_int_equal(vmdl_vmx_caps_set_allowed1(&c, VMDL_VMX_CTL_PINBASED, 1, false), 0);
    assert_int_equal(vmdl_vmx_model_create(&c, &m), 0);
    vmdl_vmx_model_destroy(m);
}

static void test_capability_msrs(void **state)
{
    (void)state;
    struct fx f;
    uint64_t v;
    fx_open(&f, "sapphire-rapids");
    assert_int_equal(vmdl_vmx_rdmsr(f.vmx, VMDL_MSR_VMX_BASIC, &v), VMDL_FAULT_NONE);
    assert_int_equal(v & 0x7fffffff, VMDL_VMCS12_REVISION);
    assert_int_equal((v >> 32) & 0x1fff, 0x1000);
    assert_int_equal((v >> 50) & 0xf, 6);
    assert_true(v & VMDL_VMX_BASIC_TRUE_CTLS);
    for (uint32_t i = VMDL_MSR_VMX_BASIC; i <= VMDL_MSR_VMX_PROCBASED_CTLS3; i++)
        assert_int_equal(vmdl_vmx_rdmsr(f.vmx, i, &v), VMDL_FAULT_NONE);
    assert_int_equal(vmdl_vmx_rdmsr(f.vmx, VMDL_MSR_VMX_VMCS_ENUM, &v), VMDL_FAULT_NONE);
    assert_int_equal(v, 0x32);
    assert_int_equal(vmdl_vmx_rdmsr(f.vmx, VMDL_MSR_VMX_PROCBASED_CTLS3, &v), VMDL_FAULT_NONE);
    assert_int_equal(v, 0x11);
    for (uint32_t i = VMDL_MSR_VMX_BASIC; i <= VMDL_MSR_VMX_PROCBASED_CTLS3; i++)
        assert_int_equal(vmdl_vmx_wrmsr(f.vmx, i, 0), VMDL_FAULT_GP);
    assert_int_equal(vmdl_vmx_rdmsr(f.vmx, 0x493, &v), VMDL_FAULT_UNCLAIMED);
    assert_int_equal(vmdl_vmx_wrmsr(f.vmx, 0x10, 0), VMDL_FAULT_UNCLAIMED);
    fx_close(&f);

    fx_open(&f, "skylake");
    assert_int_equal(vmdl_vmx_rdmsr(f.vmx, VMDL_MSR_VMX_PROCBASED_CTLS3, &v), VMDL_FAULT_GP);
    assert_int_equal(vmdl_vmx_rdmsr(f.vmx, VMDL_MSR_VMX_VMFUNC, &v), VMDL_FAULT_NONE);
    fx_close(&f);

    fx_open(&f, "core2");
    assert_int_equal(vmdl_vmx_rdmsr(f.vmx, VMDL_MSR_VMX_PROCBASED_CTLS2, &v), VMDL_FAULT_GP);
    assert_int_equal(vmdl_vmx_rdmsr(f.vmx, VMDL_MSR_VMX_EPT_VPID_CAP, &v), VMDL_FAULT_GP);
    assert_int_equal(vmdl_vmx_rdmsr(f.vmx, VMDL_MSR_VMX_VMFUNC, &v), VMDL_FAULT_GP);
    assert_int_equal(vmdl_vmx_rdmsr(f.vmx, VMDL_MSR_VMX_MISC, &v), VMDL_FAULT_NONE);
    assert_true(v & VMDL_VMX_MISC_VMWRITE_ANY);   /* KVM: always */
    fx_close(&f);

    /* the bare Core 2: no TRUE MSRs without BASIC bit 55, no MISC bit 29 */
    fx_open(&f, "core2-bare");
    assert_int_equal(vmdl_vmx_rdmsr(f.vmx, VMDL_MSR_VMX_BASIC, &v), VMDL_FAULT_NONE);
    assert_false(v & VMDL_VMX_BASIC_TRUE_CTLS);
    assert_int_equal(vmdl_vmx_rdmsr(f.vmx, VMDL_MSR_VMX_TRUE_PINBASED_CTLS, &v), VMDL_FAULT_GP);
    assert_int_equal(vmdl_vmx_rdmsr(f.vmx, VMDL_MSR_VMX_MISC, &v), VMDL_FAULT_NONE);
    assert_int_equal(v, 0x000401c0);
    fx_close(&f);
}

static void test_feature_control_msr(void **state)
{
    (void)state;
    struct fx f;
    uint64_t v;
    fx_open(&f, "skylake");
    assert_int_equal(vmdl_vmx_rdmsr(f.vmx, 0x3a, &v), VMDL_FAULT_NONE);
    assert_int_equal(v, 0);
    assert_int_equal(vmdl_vmx_wrmsr(f.vmx, 0x3a, 1ull << 20), VMDL_FAULT_GP);
    assert_int_equal(vmdl_vmx_wrmsr(f.vmx, 0x3a, 4), VMDL_FAULT_NONE);
    assert_int_equal(vmdl_vmx_wrmsr(f.vmx, 0x3a, 5), VMDL_FAULT_NONE);
    assert_int_equal(vmdl_vmx_wrmsr(f.vmx, 0x3a, 4), VMDL_FAULT_GP); /* locked */
    assert_int_equal(vmdl_vmx_rdmsr(f.vmx, 0x3a, &v), VMDL_FAULT_NONE);
    assert_int_equal(v, 5);
    vmdl_vmx_reset(f.vmx);
    assert_int_equal(vmdl_vmx_rdmsr(f.vmx, 0x3a, &v), VMDL_FAULT_NONE);
    assert_int_equal(v, 0);   /* reset value: not locked */
    assert_int_equal(vmdl_vmx_set_feature_control(f.vmx, 8), VMDL_EINVAL);
    assert_int_equal(vmdl_vmx_set_feature_control(f.vmx, 5), 0);
    vmdl_vmx_reset(f.vmx);
    assert_int_equal(vmdl_vmx_rdmsr(f.vmx, 0x3a, &v), VMDL_FAULT_NONE);
    assert_int_equal(v, 5);
    fx_close(&f);
}

static void test_shadow_lists(void **state)
{
    (void)state;
    const struct {
        const char *p;
        unsigned rw, ro;
    } want[] = {
        {"sapphire-rapids", 24, 11}, {"skylake", 24, 11}, {"broadwell", 24, 11},
        {"nehalem", 21, 11}, {"core2", 21, 11}, {"skylake-bare", 24, 11},
        {"core2-bare", 21, 10},   /* no GUEST_PHYSICAL_ADDRESS without EPT */
    };
    for (unsigned i = 0; i < VMDL_ARRAY_SIZE(want); i++) {
        struct fx f;
        fx_open(&f, want[i].p);
        const uint16_t *l;
        unsigned n = vmdl_vmx_model_shadow_fields(f.model, false, &l);
        assert_int_equal(n, want[i].rw);
        for (unsigned k = 0; k < n; k++) {
            assert_true(vmdl_vmx_model_field_supported(f.model, l[k]));
            assert_int_not_equal(vmdl_vmcs_enc_type(l[k]), VMDL_VMCS_TYPE_READ_ONLY);
        }
        n = vmdl_vmx_model_shadow_fields(f.model, true, &l);
        assert_int_equal(n, want[i].ro);
        for (unsigned k = 0; k < n; k++) {
            assert_true(vmdl_vmx_model_field_supported(f.model, l[k]));
            assert_false(l[k] & 1);
        }
        fx_close(&f);
    }
}

/* ------------------------------------------------------------------ */
/* VMREAD / VMWRITE semantics                                         */

static uint64_t pattern(uint16_t enc)
{
    return 0xA5C3F00F12345678ull ^ ((uint64_t)enc << 20) ^ enc;
}

static void round_trip_profile(const char *profile, enum vmdl_vmx_field_policy pol)
{
    struct vmdl_vmx_caps c;
    assert_int_equal(vmdl_vmx_profile_get(profile, &c), 0);
    c.field_policy = pol;
    struct fx f;
    if (pol == VMDL_VMX_FIELDS_KVM && VMDL_VMX_MISC_CR3_COUNT(c.misc)) {
        /* a bare-hardware MISC under KVM's field set is refused */
        struct vmdl_vmx_model *m = NULL;
        assert_int_equal(vmdl_vmx_model_create(&c, &m), VMDL_EINVAL);
        assert_null(m);
        return;
    }
    fx_open_caps(&f, &c);
    fx_enter(&f);
    bool any_ro = (c.misc & VMDL_VMX_MISC_VMWRITE_ANY) != 0;
    struct vmdl_vmx_result r;
    unsigned n = vmdl_vmcs_field_count(), checked = 0;
    /* first pass: write every supported full field (HIGH halves checked below) */
    for (unsigned i = 0; i < n; i++) {
        const struct vmdl_vmcs_field *fd = vmdl_vmcs_field_at(i);
        uint16_t e = fd->encoding;
        if (!vmdl_vmx_model_field_supported(f.model, e) || (e & 1))
            continue;
        uint64_t before = vread(&f, e, &r);
        expect_ok(&r);
        vwrite(&f, e, pattern(e), &r);
        bool ro = vmdl_vmcs_enc_type(e) == VMDL_VMCS_TYPE_READ_ONLY;
        uint64_t want;
        if (ro && !any_ro) {
            expect_valid(&f, &r, VMDL_VMXERR_VMWRITE_READ_ONLY_COMPONENT);
            want = before;
            if (e == E_VM_INSTRUCTION_ERROR)
                want = VMDL_VMXERR_VMWRITE_READ_ONLY_COMPONENT;
        } else {
            expect_ok(&r);
            unsigned bytes = vmdl_vmcs_enc_bytes(e);
            want = bytes == 8 ? pattern(e) : pattern(e) & ((1ull << (8 * bytes)) - 1);
            if (e >= 0x4814 && e <= 0x4822)
                want &= 0x1f0ff;
        }
        uint64_t got = vread(&f, e, &r);
        expect_ok(&r);
        if (got != want)
            fail_msg("%s: %s read 0x%llx, want 0x%llx", profile, fd->name,
                     (unsigned long long)got, (unsigned long long)want);
        if (vmdl_vmcs_enc_width(e) == VMDL_VMCS_WIDTH_64) {
            uint64_t hi = vread(&f, e | 1, &r);
            expect_ok(&r);
            assert_int_equal(hi, want >> 32);
        }
        checked++;
    }
    assert_true(checked > 60);
    fx_close(&f);
}

static void test_round_trip_every_profile(void **state)
{
    (void)state;
    for (unsigned i = 0; i < vmdl_vmx_profile_count(); i++) {
        round_trip_profile(vmdl_vmx_profile_name(i), VMDL_VMX_FIELDS_KVM);
        round_trip_profile(vmdl_vmx_profile_name(i), VMDL_VMX_FIELDS_ARCH);
    }
    assert_null(vmdl_vmx_profile_name(99));
}

static void test_high_halves_alias(void **state)
{
    (void)state;
    struct fx f;
    struct vmdl_vmx_result r;
    fx_open(&f, "skylake");
    fx_enter(&f);
    vwrite(&f, E_IO_BITMAP_A, 0x1122334455667788ull, &r);
    expect_ok(&r);
    assert_int_equal(vread(&f, E_IO_BITMAP_A_HIGH, &r), 0x11223344);
    vwrite(&f, E_IO_BITMAP_A_HIGH, 0xffffffffaabbccddull, &r);   /* truncated to 32 */
    expect_ok(&r);
    assert_int_equal(vread(&f, E_IO_BITMAP_A, &r), 0xaabbccdd55667788ull);
    assert_int_equal(vread(&f, E_IO_BITMAP_A_HIGH, &r), 0xaabbccdd);
    /* the layout in guest memory after a flush matches KVM's vmcs12 */
    assert_int_equal(vmdl_vmx_flush(f.vmx), 0);
    assert_int_equal(get32(&f, VMCS_A + 40), 0x55667788);
    assert_int_equal(get32(&f, VMCS_A + 44), 0xaabbccdd);
    /* a 16-bit field keeps 16 bits, a 32-bit one 32 */
    vwrite(&f, E_VPID, 0xdeadbeefcafe1234ull, &r);
    assert_int_equal(vread(&f, E_VPID, &r), 0x1234);
    vwrite(&f, E_TPR_THRESHOLD, 0xdeadbeefcafe1234ull, &r);
    assert_int_equal(vread(&f, E_TPR_THRESHOLD, &r), 0xcafe1234);
    vwrite(&f, E_GUEST_RIP, 0xdeadbeefcafe1234ull, &r);
    assert_int_equal(vread(&f, E_GUEST_RIP, &r), 0xdeadbeefcafe1234ull);
    fx_close(&f);
}

static void test_read_only_and_misc29(void **state)
{
    (void)state;
    struct fx f;
    struct vmdl_vmx_result r;
    fx_open(&f, "core2-bare");   /* MISC bit 29 clear */
    fx_enter(&f);
    vwrite(&f, E_VM_EXIT_REASON, 7, &r);
    expect_valid(&f, &r, VMDL_VMXERR_VMWRITE_READ_ONLY_COMPONENT);
    assert_int_equal(vread(&f, E_VM_EXIT_REASON, &r), 0);
    /* the host can still set it */
    assert_int_equal(vmdl_vmx_poke(f.vmx, E_VM_EXIT_REASON, 30), 0);
    assert_int_equal(vread(&f, E_VM_EXIT_REASON, &r), 30);
    fx_close(&f);

    fx_open(&f, "skylake");   /* MISC bit 29 set */
    fx_enter(&f);
    vwrite(&f, E_VM_EXIT_REASON, 7, &r);
    expect_ok(&r);
    assert_int_equal(vread(&f, E_VM_EXIT_REASON, &r), 7);
    fx_close(&f);
}

static void test_ar_bytes_policy(void **state)
{
    (void)state;
    struct vmdl_vmx_caps c;
    struct vmdl_vmx_result r;
    struct fx f;
    assert_int_equal(vmdl_vmx_profile_get("skylake", &c), 0);
    fx_open_caps(&f, &c);
    fx_enter(&f);
    vwrite(&f, E_GUEST_CS_AR, 0xffffffff, &r);
    assert_int_equal(vread(&f, E_GUEST_CS_AR, &r), 0x1f0ff);
    fx_close(&f);
    c.ar_bytes_drop_reserved = false;
    fx_open_caps(&f, &c);
    fx_enter(&f);
    vwrite(&f, E_GUEST_CS_AR, 0xffffffff, &r);
    assert_int_equal(vread(&f, E_GUEST_CS_AR, &r), 0xffffffff);
    fx_close(&f);
}

/* ------------------------------------------------------------------ */
/* Instruction outcomes                                               */

static void test_ud_and_gp(void **state)
{
    (void)state;
    struct fx f;
    struct vmdl_vmx_result r;
    fx_open(&f, "skylake");
    /* outside VMX operation: every instruction but VMXON is #UD */
    vread(&f, E_GUEST_RIP, &r);
    expect_fault(&r, VMDL_FAULT_UD);
    assert_int_equal(vmdl_vmx_vmxoff(f.vmx, &f.ctx, &r), 0);
    expect_fault(&r, VMDL_FAULT_UD);
    assert_int_equal(vmdl_vmx_vmptrst(f.vmx, &f.ctx, &r), 0);
    expect_fault(&r, VMDL_FAULT_UD);
    assert_int_equal(vmdl_vmx_vmlaunch(f.vmx, &f.ctx, false, &r), 0);
    expect_fault(&r, VMDL_FAULT_UD);
    /* VMXON: #UD without CR4.VMXE (before CPL) */
    struct vmdl_vmx_ctx c = f.ctx;
    c.cr4 &= ~(1ull << 13);
    c.cpl = 3;
    assert_int_equal(vmdl_vmx_vmxon(f.vmx, &c, VMXON_PA, &r), 0);
    expect_fault(&r, VMDL_FAULT_UD);
    /* IA32_FEATURE_CONTROL not locked / VMX not enabled: #GP */
    assert_int_equal(vmdl_vmx_vmxon(f.vmx, &f.ctx, VMXON_PA, &r), 0);
    expect_fault(&r, VMDL_FAULT_GP);
    assert_int_equal(vmdl_vmx_set_feature_control(f.vmx, 1), 0);
    assert_int_equal(vmdl_vmx_vmxon(f.vmx, &f.ctx, VMXON_PA, &r), 0);
    expect_fault(&r, VMDL_FAULT_GP);
    assert_int_equal(vmdl_vmx_set_feature_control(f.vmx, 4), 0);
    assert_int_equal(vmdl_vmx_vmxon(f.vmx, &f.ctx, VMXON_PA, &r), 0);
    expect_fault(&r, VMDL_FAULT_GP);
    assert_int_equal(vmdl_vmx_set_feature_control(f.vmx, 5), 0);
    /* CPL 3 */
    c = f.ctx;
    c.cpl = 3;
    assert_int_equal(vmdl_vmx_vmxon(f.vmx, &c, VMXON_PA, &r), 0);
    expect_fault(&r, VMDL_FAULT_GP);
    /* CR0/CR4 fixed bits */
    c = f.ctx;
    c.cr0 &= ~(1ull << 5);  /* NE */
    assert_int_equal(vmdl_vmx_vmxon(f.vmx, &c, VMXON_PA, &r), 0);
    expect_fault(&r, VMDL_FAULT_GP);
    c = f.ctx;
    c.cr4 |= 1ull << 23;    /* CET: not allowed by skylake's CR4_FIXED1 */
    assert_int_equal(vmdl_vmx_vmxon(f.vmx, &c, VMXON_PA, &r), 0);
    expect_fault(&r, VMDL_FAULT_GP);
    assert_false(vmdl_vmx_in_vmx_operation(f.vmx));
    /* inside: CPL > 0 is #GP for everything */
    fx_enter(&f);
    c = f.ctx;
    c.cpl = 1;
    assert_int_equal(vmdl_vmx_vmread(f.vmx, &c, E_GUEST_RIP, &r), 0);
    expect_fault(&r, VMDL_FAULT_GP);
    assert_int_equal(vmdl_vmx_vmwrite(f.vmx, &c, E_GUEST_RIP, 1, &r), 0);
    expect_fault(&r, VMDL_FAULT_GP);
    assert_int_equal(vmdl_vmx_vmxon(f.vmx, &c, VMXON_PA, &r), 0);
    expect_fault(&r, VMDL_FAULT_GP);
    assert_int_equal(vmdl_vmx_vmclear(f.vmx, &c, VMCS_A, &r), 0);
    expect_fault(&r, VMDL_FAULT_GP);
    /* compatibility mode, real mode (CR0.PE clear) and virtual-8086 mode:
     * #UD before the CPL check, VMXON included (SDM pseudo-code) */
    static const struct vmdl_vmx_ctx modes[] = {
        {.cr0 = CR0_OK, .cr4 = CR4_OK, .rflags = RFLAGS_IN, .cpl = 3, .compat = true},
        {.cr0 = CR0_OK & ~1ull, .cr4 = CR4_OK, .rflags = RFLAGS_IN},
        {.cr0 = CR0_OK, .cr4 = CR4_OK, .rflags = RFLAGS_IN | (1ull << 17), .cpl = 3},
    };
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        assert_true(vmdl_vmx_insn_mode_ud(&modes[i]));
        assert_int_equal(vmdl_vmx_vmread(f.vmx, &modes[i], E_GUEST_RIP, &r), 0);
        expect_fault(&r, VMDL_FAULT_UD);
        assert_int_equal(vmdl_vmx_vmxon(f.vmx, &modes[i], VMXON_PA, &r), 0);
        expect_fault(&r, VMDL_FAULT_UD);
        assert_int_equal(vmdl_vmx_invvpid(f.vmx, &modes[i], 2, 0x8000, &r), 0);
        expect_fault(&r, VMDL_FAULT_UD);
    }
    assert_false(vmdl_vmx_insn_mode_ud(&f.ctx));
    c.cpl = 4;
    assert_int_equal(vmdl_vmx_vmread(f.vmx, &c, E_GUEST_RIP, &r), VMDL_EINVAL);
    assert_int_equal(vmdl_vmx_vmread(NULL, &f.ctx, E_GUEST_RIP, &r), VMDL_EINVAL);
    fx_close(&f);
}

static void test_vmxon_outcomes(void **state)
{
    (void)state;
    struct fx f;
    struct vmdl_vmx_result r;
    fx_open(&f, "nehalem");   /* MAXPHYADDR 40 */
    assert_int_equal(vmdl_vmx_set_feature_control(f.vmx, 5), 0);
    assert_int_equal(vmdl_vmx_vmxon(f.vmx, &f.ctx, VMXON_PA + 8, &r), 0);
    expect_invalid(&r);
    assert_int_equal(vmdl_vmx_vmxon(f.vmx, &f.ctx, 1ull << 40, &r), 0);
    expect_invalid(&r);
    assert_int_equal(vmdl_vmx_vmxon(f.vmx, &f.ctx, 0x10000000, &r), 0); /* not RAM */
    expect_invalid(&r);
    put32(&f, VMXON_PA, VMDL_VMCS12_REVISION | 0x80000000u);
    assert_int_equal(vmdl_vmx_vmxon(f.vmx, &f.ctx, VMXON_PA, &r), 0);
    expect_invalid(&r);
    put32(&f, VMXON_PA, VMDL_VMCS12_REVISION + 1);
    assert_int_equal(vmdl_vmx_vmxon(f.vmx, &f.ctx, VMXON_PA, &r), 0);
    expect_invalid(&r);
    assert_false(vmdl_vmx_in_vmx_operation(f.vmx));
    put32(&f, VMXON_PA, VMDL_VMCS12_REVISION);
    assert_int_equal(vmdl_vmx_vmxon(f.vmx, &f.ctx, VMXON_PA, &r), 0);
    expect_ok(&r);
    assert_true(vmdl_vmx_in_vmx_operation(f.vmx));
    assert_int_equal(vmdl_vmx_vmxon_ptr(f.vmx), VMXON_PA);
    assert_int_equal(vmdl_vmx_current_vmptr(f.vmx), VMDL_VMX_INVALID_PTR);
    /* VMXON in VMX root: VMfail(15), invalid without a current VMCS ... */
    assert_int_equal(vmdl_vmx_vmxon(f.vmx, &f.ctx, VMXON_PA, &r), 0);
    expect_invalid(&r);
    /* ... valid with one */
    assert_int_equal(vmdl_vmx_vmptrld(f.vmx, &f.ctx, VMCS_A, &r), 0);
    expect_ok(&r);
    assert_int_equal(vmdl_vmx_vmxon(f.vmx, &f.ctx, VMXON_PA, &r), 0);
    expect_valid(&f, &r, VMDL_VMXERR_VMXON_IN_VMX_ROOT);
    /* VMXOFF leaves; KVM drops the cache without writing it back */
    assert_int_equal(vmdl_vmx_poke(f.vmx, E_GUEST_RIP, 0x1234), 0);
    assert_int_equal(vmdl_vmx_vmxoff(f.vmx, &f.ctx, &r), 0);
    expect_ok(&r);
    assert_false(vmdl_vmx_in_vmx_operation(f.vmx));
    assert_int_equal(get32(&f, VMCS_A + 544), 0);
    fx_close(&f);
}

static void test_vmclear_vmptrld_errors(void **state)
{
    (void)state;
    struct fx f;
    struct vmdl_vmx_result r;
    fx_open(&f, "nehalem");
    assert_int_equal(vmdl_vmx_set_feature_control(f.vmx, 5), 0);
    assert_int_equal(vmdl_vmx_vmxon(f.vmx, &f.ctx, VMXON_PA, &r), 0);
    /* no current VMCS: VMfail is VMfailInvalid */
    assert_int_equal(vmdl_vmx_vmclear(f.vmx, &f.ctx, VMCS_A + 1, &r), 0);
    expect_invalid(&r);
    assert_int_equal(vmdl_vmx_vmptrld(f.vmx, &f.ctx, 1ull << 40, &r), 0);
    expect_invalid(&r);
    assert_int_equal(vmdl_vmx_vmread(f.vmx, &f.ctx, E_GUEST_RIP, &r), 0);
    expect_invalid(&r);
    assert_int_equal(vmdl_vmx_vmwrite(f.vmx, &f.ctx, E_GUEST_RIP, 1, &r), 0);
    expect_invalid(&r);
    assert_int_equal(vmdl_vmx_vmptrld(f.vmx, &f.ctx, VMCS_A, &r), 0);
    expect_ok(&r);
    /* with a current VMCS: VMfailValid and the error number */
    assert_int_equal(vmdl_vmx_vmclear(f.vmx, &f.ctx, VMCS_B + 0x800, &r), 0);
    expect_valid(&f, &r, VMDL_VMXERR_VMCLEAR_INVALID_ADDRESS);
    assert_int_equal(vmdl_vmx_vmclear(f.vmx, &f.ctx, 1ull << 40, &r), 0);
    expect_valid(&f, &r, VMDL_VMXERR_VMCLEAR_INVALID_ADDRESS);
    assert_int_equal(vmdl_vmx_vmclear(f.vmx, &f.ctx, VMXON_PA, &r), 0);
    expect_valid(&f, &r, VMDL_VMXERR_VMCLEAR_VMXON_POINTER);
    assert_int_equal(vmdl_vmx_vmptrld(f.vmx, &f.ctx, VMCS_B + 0x10, &r), 0);
    expect_valid(&f, &r, VMDL_VMXERR_VMPTRLD_INVALID_ADDRESS);
    assert_int_equal(vmdl_vmx_vmptrld(f.vmx, &f.ctx, (1ull << 40) - 0x1000 + 0x1000, &r), 0);
    expect_valid(&f, &r, VMDL_VMXERR_VMPTRLD_INVALID_ADDRESS);
    assert_int_equal(vmdl_vmx_vmptrld(f.vmx, &f.ctx, VMXON_PA, &r), 0);
    expect_valid(&f, &r, VMDL_VMXERR_VMPTRLD_VMXON_POINTER);
    put32(&f, VMCS_B, 0x1234);
    assert_int_equal(vmdl_vmx_vmptrld(f.vmx, &f.ctx, VMCS_B, &r), 0);
    expect_valid(&f, &r, VMDL_VMXERR_VMPTRLD_INCORRECT_REVISION);
    /* shadow-VMCS indicator without shadow VMCS support (nehalem) */
    put32(&f, VMCS_B, VMDL_VMCS12_REVISION | 0x80000000u);
    assert_int_equal(vmdl_vmx_vmptrld(f.vmx, &f.ctx, VMCS_B, &r), 0);
    expect_valid(&f, &r, VMDL_VMXERR_VMPTRLD_INCORRECT_REVISION);
    /* KVM: a region outside RAM reads as all-ones: wrong revision */
    assert_int_equal(vmdl_vmx_vmptrld(f.vmx, &f.ctx, 0x40000000, &r), 0);
    expect_valid(&f, &r, VMDL_VMXERR_VMPTRLD_INCORRECT_REVISION);
    assert_int_equal(vmdl_vmx_current_vmptr(f.vmx), VMCS_A);
    fx_close(&f);

    fx_open(&f, "skylake");   /* has shadow VMCS: the indicator is accepted */
    fx_enter(&f);
    put32(&f, VMCS_B, VMDL_VMCS12_REVISION | 0x80000000u);
    assert_int_equal(vmdl_vmx_vmptrld(f.vmx, &f.ctx, VMCS_B, &r), 0);
    expect_ok(&r);
    /* but a shadow VMCS cannot be launched */
    assert_int_equal(vmdl_vmx_vmlaunch(f.vmx, &f.ctx, false, &r), 0);
    expect_invalid(&r);
    fx_close(&f);
}

static void test_vmcs_caching(void **state)
{
    (void)state;
    struct fx f;
    struct vmdl_vmx_result r;
    fx_open(&f, "skylake");
    fx_enter(&f);
    /* B holds a GUEST_RIP in memory before it is loaded */
    uint64_t rip = 0xfeedface;
    memcpy(f.ram + VMCS_B + 544, &rip, 8);
    vwrite(&f, E_GUEST_RIP, 0x1111, &r);
    assert_int_equal(get32(&f, VMCS_A + 544), 0);   /* cached, not yet in memory */
    assert_int_equal(vmdl_vmx_vmptrld(f.vmx, &f.ctx, VMCS_B, &r), 0);
    expect_ok(&r);
    assert_int_equal(get32(&f, VMCS_A + 544), 0x1111); /* A written back */
    assert_int_equal(vread(&f, E_GUEST_RIP, &r), 0xfeedface);
    assert_int_equal(vmdl_vmx_vmptrst(f.vmx, &f.ctx, &r), 0);
    expect_ok(&r);
    assert_int_equal(r.value, VMCS_B);
    /* reloading the current pointer keeps the cache */
    vwrite(&f, E_GUEST_RIP, 0x2222, &r);
    assert_int_equal(vmdl_vmx_vmptrld(f.vmx, &f.ctx, VMCS_B, &r), 0);
    expect_ok(&r);
    assert_int_equal(vread(&f, E_GUEST_RIP, &r), 0x2222);
    /* VMCLEAR of the current VMCS: flushed, launch state clear, no current */
    assert_int_equal(vmdl_vmx_entry_done(f.vmx), 0);
    assert_true(vmdl_vmx_launched(f.vmx));
    assert_int_equal(vmdl_vmx_vmclear(f.vmx, &f.ctx, VMCS_B, &r), 0);
    expect_ok(&r);
    assert_int_equal(get32(&f, VMCS_B + 544), 0x2222);
    assert_int_equal(get32(&f, VMCS_B + 8), 0);
    assert_int_equal(vmdl_vmx_current_vmptr(f.vmx), VMDL_VMX_INVALID_PTR);
    assert_false(vmdl_vmx_launched(f.vmx));
    assert_int_equal(vmdl_vmx_vmptrst(f.vmx, &f.ctx, &r), 0);
    assert_int_equal(r.value, VMDL_VMX_INVALID_PTR);
    assert_int_equal(vmdl_vmx_entry_done(f.vmx), VMDL_ESTATE);
    /* VMCLEAR of a non-current region: launch state cleared in memory */
    put32(&f, VMCS_A + 8, 1);
    assert_int_equal(vmdl_vmx_vmclear(f.vmx, &f.ctx, VMCS_A, &r), 0);
    expect_ok(&r);
    assert_int_equal(get32(&f, VMCS_A + 8), 0);
    fx_close(&f);
}

static void test_vmlaunch_checks(void **state)
{
    (void)state;
    struct fx f;
    struct vmdl_vmx_result r;
    fx_open(&f, "skylake");
    assert_int_equal(vmdl_vmx_set_feature_control(f.vmx, 5), 0);
    assert_int_equal(vmdl_vmx_vmxon(f.vmx, &f.ctx, VMXON_PA, &r), 0);
    assert_int_equal(vmdl_vmx_vmlaunch(f.vmx, &f.ctx, false, &r), 0);
    expect_invalid(&r);
    assert_int_equal(vmdl_vmx_vmlaunch(f.vmx, &f.ctx, true, &r), 0);
    expect_invalid(&r);
    assert_int_equal(vmdl_vmx_vmclear(f.vmx, &f.ctx, VMCS_A, &r), 0);
    assert_int_equal(vmdl_vmx_vmptrld(f.vmx, &f.ctx, VMCS_A, &r), 0);
    assert_int_equal(vmdl_vmx_vmlaunch(f.vmx, &f.ctx, true, &r), 0);
    expect_valid(&f, &r, VMDL_VMXERR_VMRESUME_NONLAUNCHED_VMCS);
    struct vmdl_vmx_ctx c = f.ctx;
    c.mov_ss_blocking = true;
    assert_int_equal(vmdl_vmx_vmlaunch(f.vmx, &c, false, &r), 0);
    expect_valid(&f, &r, VMDL_VMXERR_ENTRY_EVENTS_BLOCKED_BY_MOV_SS);
    assert_int_equal(vmdl_vmx_vmlaunch(f.vmx, &f.ctx, false, &r), 0);
    assert_int_equal(r.status, VMDL_VMX_ENTRY);
    assert_int_equal(r.rflags, RFLAGS_IN);      /* untouched */
    assert_false(vmdl_vmx_launched(f.vmx));
    /* an entry that fails its (unmodelled) checks: VMfailValid(7) */
    struct vmdl_vmx_result r2 = r;
    assert_int_equal(vmdl_vmx_entry_failed(f.vmx, VMDL_VMXERR_ENTRY_INVALID_CONTROL_FIELD, &r2), 0);
    expect_valid(&f, &r2, VMDL_VMXERR_ENTRY_INVALID_CONTROL_FIELD);
    assert_false(vmdl_vmx_launched(f.vmx));
    assert_int_equal(vmdl_vmx_entry_failed(f.vmx, 7, &r2), VMDL_ESTATE);
    assert_int_equal(vmdl_vmx_entry_failed(NULL, 7, &r2), VMDL_EINVAL);
    assert_int_equal(vmdl_vmx_entry_done(f.vmx), 0);
    assert_int_equal(vmdl_vmx_vmlaunch(f.vmx, &f.ctx, false, &r), 0);
    expect_valid(&f, &r, VMDL_VMXERR_VMLAUNCH_NONCLEAR_VMCS);
    assert_int_equal(vmdl_vmx_vmlaunch(f.vmx, &f.ctx, true, &r), 0);
    assert_int_equal(r.status, VMDL_VMX_ENTRY);
    fx_close(&f);
}

/* ------------------------------------------------------------------ */
/* Issue 16: what a KVM L1 sees                                        */

/* Linux arch/x86/kvm/vmx/vmcs_shadow_fields.h today: 24 SHADOW_FIELD_RW
 * (PIN_BASED_VM_EXEC_CONTROL right after CPU_BASED_VM_EXEC_CONTROL) and 12
 * SHADOW_FIELD_RO (GUEST_PHYSICAL_ADDRESS and its _HIGH half among them). */
static void test_shadow_lists_as_kvm(void **state)
{
    (void)state;
    struct fx f;
    const uint16_t *l;
    fx_open(&f, "sapphire-rapids");
    unsigned n = vmdl_vmx_model_shadow_fields(f.model, false, &l);
    assert_int_equal(n, 24);
    assert_int_equal(l[4], 0x4002);   /* CPU_BASED_VM_EXEC_CONTROL */
    assert_int_equal(l[5], 0x4000);   /* PIN_BASED_VM_EXEC_CONTROL */
    /* 12 read-only in KVM's list; the _HIGH half is dropped on a 64-bit
     * vCPU, which leaves 11 */
    assert_int_equal(vmdl_vmx_model_shadow_fields(f.model, true, &l), 11);
    fx_close(&f);
}

static uint64_t misc_of(const char *profile)
{
    struct fx f;
    uint64_t v = 0;
    fx_open(&f, profile);
    assert_int_equal(vmdl_vmx_rdmsr(f.vmx, VMDL_MSR_VMX_MISC, &v), VMDL_FAULT_NONE);
    fx_close(&f);
    return v;
}

/*
 * IA32_VMX_MISC as KVM reports it to L1 (Linux arch/x86/kvm/vmx/nested.c,
 * nested_vmx_setup_misc_data): the host's SAVE_EFER_LMA (bit 5) plus
 * VMWRITE to any field (29), emulated preemption-timer rate 5, activity
 * states HLT (6) and wait-for-SIPI (8); misc_high = 0 and no CR3-target
 * values.  Bit 5 follows the host: set where it supports unrestricted guest
 * (SDM Vol. 3D A.6), clear on the nehalem/core2 profiles.
 */
static void test_misc_as_kvm_reports(void **state)
{
    (void)state;
    assert_int_equal(misc_of("sapphire-rapids"), 0x20000165);
    assert_int_equal(misc_of("skylake"), 0x20000165);
    assert_int_equal(misc_of("broadwell"), 0x20000165);
    assert_int_equal(misc_of("nehalem"), 0x20000145);
    assert_int_equal(misc_of("core2"), 0x20000145);
    /* Whatever the count of CR3-target values MISC[24:16] advertises,
     * that many CR3_TARGET_VALUEn fields must be VMREAD-able (SDM Vol. 3C
     * 25.6.7): on every profile that claims to be KVM's view. */
    for (unsigned i = 0; i < vmdl_vmx_profile_count(); i++) {
        struct fx f;
        struct vmdl_vmx_result r;
        uint64_t misc = 0;
        fx_open(&f, vmdl_vmx_profile_name(i));
        fx_enter(&f);
        assert_int_equal(vmdl_vmx_rdmsr(f.vmx, VMDL_MSR_VMX_MISC, &misc), VMDL_FAULT_NONE);
        unsigned cr3 = (unsigned)((misc >> 16) & 0x1ff);
        for (unsigned k = 0; k < cr3 && k < 4; k++) {
            vread(&f, E_CR3_TARGET0 + 2 * k, &r);
            expect_ok(&r);
        }
        fx_close(&f);
    }
}

/* KVM's IA32_VMX_BASIC always has TRUE_CTLS (bit 55): Linux
 * arch/x86/kvm/vmx/nested.c, nested_vmx_setup_basic. */
static void test_core2_basic_true_ctls(void **state)
{
    (void)state;
    struct fx f;
    uint64_t basic = 0, tpin = 0, pin = 0;
    fx_open(&f, "core2");
    assert_int_equal(vmdl_vmx_rdmsr(f.vmx, VMDL_MSR_VMX_BASIC, &basic), VMDL_FAULT_NONE);
    assert_true(basic & VMDL_VMX_BASIC_TRUE_CTLS);
    assert_int_equal(vmdl_vmx_rdmsr(f.vmx, VMDL_MSR_VMX_PINBASED_CTLS, &pin), VMDL_FAULT_NONE);
    assert_int_equal(vmdl_vmx_rdmsr(f.vmx, VMDL_MSR_VMX_TRUE_PINBASED_CTLS, &tpin),
                     VMDL_FAULT_NONE);
    assert_int_equal(tpin >> 32, pin >> 32);
    for (uint32_t i = VMDL_MSR_VMX_TRUE_PINBASED_CTLS; i <= VMDL_MSR_VMX_TRUE_ENTRY_CTLS; i++)
        assert_int_equal(vmdl_vmx_rdmsr(f.vmx, i, &tpin), VMDL_FAULT_NONE);
    fx_close(&f);
}

/*
 * Launch state as KVM checks it (Linux arch/x86/kvm/vmx/nested.c,
 * nested_vmx_run): `if (vmcs12->launch_state == launch)` fail with
 * VMLAUNCH_NONCLEAR_VMCS (4) for VMLAUNCH, VMRESUME_NONLAUNCHED_VMCS (5)
 * for VMRESUME.  The word comes from guest memory at VMPTRLD; a value
 * other than 0 or 1 passes both checks.
 */
static void launch_with_word(uint32_t word, bool resume, struct vmdl_vmx_result *r)
{
    struct fx f;
    fx_open(&f, "skylake");
    fx_enter(&f);
    /* VMCLEAR of another VMCS, then a region whose launch-state word the
     * guest scribbled over, made current */
    assert_int_equal(vmdl_vmx_vmclear(f.vmx, &f.ctx, VMCS_B, r), 0);
    put32(&f, VMCS_B + 8, word);
    assert_int_equal(vmdl_vmx_vmptrld(f.vmx, &f.ctx, VMCS_B, r), 0);
    expect_ok(r);
    assert_int_equal(vmdl_vmx_vmlaunch(f.vmx, &f.ctx, resume, r), 0);
    if (r->status == VMDL_VMX_FAIL_VALID) {
        uint64_t e = 0;
        assert_int_equal(vmdl_vmx_peek(f.vmx, E_VM_INSTRUCTION_ERROR, &e), 0);
        assert_int_equal(e, r->error);
    }
    fx_close(&f);
}

/* KVM's formula, and the checks of vmx_restore_vmx_misc a profile under the
 * KVM field policy must pass (Linux arch/x86/kvm/vmx/nested.c). */
static void test_kvm_misc_and_validation(void **state)
{
    (void)state;
    assert_int_equal(vmdl_vmx_kvm_misc(0x600401e5), 0x20000165);
    assert_int_equal(vmdl_vmx_kvm_misc(0x000401c0), 0x20000145);
    assert_int_equal(vmdl_vmx_kvm_misc(0), 0x20000145);
    assert_int_equal(vmdl_vmx_kvm_misc(~0ull), 0x20000165);
    assert_int_equal(misc_of("skylake-bare"), 0x600401e5);
    assert_int_equal(misc_of("core2-bare"), 0x000401c0);

    struct vmdl_vmx_caps c, base;
    struct vmdl_vmx_model *m = NULL;
    assert_int_equal(vmdl_vmx_profile_get("skylake-bare", &c), 0);
    assert_int_equal(c.field_policy, VMDL_VMX_FIELDS_ARCH);
    c.field_policy = VMDL_VMX_FIELDS_KVM;
    assert_int_equal(vmdl_vmx_model_create(&c, &m), VMDL_EINVAL);
    assert_non_null(strstr(vmdl_last_error(), "IA32_VMX_MISC 0x600401e5"));
    assert_int_equal(vmdl_vmx_profile_get("skylake", &base), 0);
    c = base; c.misc |= 4ull << 16;                    /* CR3-target values */
    assert_int_equal(vmdl_vmx_model_create(&c, &m), VMDL_EINVAL);
    assert_non_null(strstr(vmdl_last_error(), "CR3-target"));
    c = base; c.misc |= 1ull << 31;                    /* reserved */
    assert_int_equal(vmdl_vmx_model_create(&c, &m), VMDL_EINVAL);
    c = base; c.misc |= 1ull << 7;                     /* shutdown: KVM lacks it */
    assert_int_equal(vmdl_vmx_model_create(&c, &m), VMDL_EINVAL);
    c = base; c.misc = (c.misc & ~0x1full) | 3;        /* timer rate != 5 */
    assert_int_equal(vmdl_vmx_model_create(&c, &m), VMDL_EINVAL);
    assert_non_null(strstr(vmdl_last_error(), "rate"));
    c = base; c.misc |= 1ull << 25;                    /* bigger MSR lists */
    assert_int_equal(vmdl_vmx_model_create(&c, &m), VMDL_EINVAL);
    c = base; c.misc |= 1ull << 32;                    /* MSEG revision */
    assert_int_equal(vmdl_vmx_model_create(&c, &m), VMDL_EINVAL);
    assert_null(m);
    /* userspace may clear features: VMWRITE-any, the activity states */
    c = base; c.misc &= ~(VMDL_VMX_MISC_VMWRITE_ANY | VMDL_VMX_MISC_ACTIVITY_WAIT_SIPI);
    assert_int_equal(vmdl_vmx_model_create(&c, &m), 0);
    vmdl_vmx_model_destroy(m);
    /* without the preemption timer the rate is not checked */
    assert_int_equal(vmdl_vmx_profile_get("nehalem", &c), 0);
    c.misc &= ~0x1full;
    assert_int_equal(vmdl_vmx_model_create(&c, &m), 0);
    vmdl_vmx_model_destroy(m);
    /* the architectural policy takes any MISC */
    c = base; c.field_policy = VMDL_VMX_FIELDS_ARCH; c.misc = 0x600401e5;
    assert_int_equal(vmdl_vmx_model_create(&c, &m), 0);
    vmdl_vmx_model_destroy(m);
}

/* The option: any non-zero launch-state word counts as launched. */
static void test_launch_state_any_nonzero_option(void **state)
{
    (void)state;
    for (uint32_t word = 0; word < 4; word++) {
        for (int resume = 0; resume < 2; resume++) {
            struct vmdl_vmx_caps c;
            struct fx f;
            struct vmdl_vmx_result r;
            assert_int_equal(vmdl_vmx_profile_get("skylake", &c), 0);
            c.launch_state_any_nonzero = true;
            fx_open_caps(&f, &c);
            fx_enter(&f);
            assert_int_equal(vmdl_vmx_vmclear(f.vmx, &f.ctx, VMCS_B, &r), 0);
            put32(&f, VMCS_B + 8, word);
            assert_int_equal(vmdl_vmx_vmptrld(f.vmx, &f.ctx, VMCS_B, &r), 0);
            assert_int_equal(vmdl_vmx_launch_state(f.vmx), word);
            assert_int_equal(vmdl_vmx_launched(f.vmx), word != 0);
            assert_int_equal(vmdl_vmx_vmlaunch(f.vmx, &f.ctx, resume, &r), 0);
            if (resume && word == 0)
                expect_valid(&f, &r, VMDL_VMXERR_VMRESUME_NONLAUNCHED_VMCS);
            else if (!resume && word != 0)
                expect_valid(&f, &r, VMDL_VMXERR_VMLAUNCH_NONCLEAR_VMCS);
            else
                assert_int_equal(r.status, VMDL_VMX_ENTRY);
            fx_close(&f);
        }
    }
    /* a different option is a different model: blobs do not cross */
    struct vmdl_vmx_caps a, b;
    struct vmdl_vmx_model *ma, *mb;
    assert_int_equal(vmdl_vmx_profile_get("skylake", &a), 0);
    b = a;
    b.launch_state_any_nonzero = true;
    assert_int_equal(vmdl_vmx_model_create(&a, &ma), 0);
    assert_int_equal(vmdl_vmx_model_create(&b, &mb), 0);
    assert_int_not_equal(vmdl_vmx_model_fingerprint(ma), vmdl_vmx_model_fingerprint(mb));
    vmdl_vmx_model_destroy(ma);
    vmdl_vmx_model_destroy(mb);
    assert_int_equal(vmdl_vmx_launch_state(NULL), 0);
}

static void test_launch_state_kvm_compare(void **state)
{
    (void)state;
    struct vmdl_vmx_result r;
    launch_with_word(0, false, &r);
    assert_int_equal(r.status, VMDL_VMX_ENTRY);
    launch_with_word(0, true, &r);
    assert_int_equal(r.status, VMDL_VMX_FAIL_VALID);
    assert_int_equal(r.error, VMDL_VMXERR_VMRESUME_NONLAUNCHED_VMCS);
    launch_with_word(1, false, &r);
    assert_int_equal(r.status, VMDL_VMX_FAIL_VALID);
    assert_int_equal(r.error, VMDL_VMXERR_VMLAUNCH_NONCLEAR_VMCS);
    launch_with_word(1, true, &r);
    assert_int_equal(r.status, VMDL_VMX_ENTRY);
    /* neither 0 nor 1: KVM lets both through */
    launch_with_word(2, false, &r);
    assert_int_equal(r.status, VMDL_VMX_ENTRY);
    launch_with_word(2, true, &r);
    assert_int_equal(r.status, VMDL_VMX_ENTRY);
    launch_with_word(0xffffffffu, false, &r);
    assert_int_equal(r.status, VMDL_VMX_ENTRY);
}

static void test_exec_operands(void **state)
{
    (void)state;
    struct fx f;
    struct vmdl_vmx_result r;
    fx_open(&f, "skylake");
    assert_int_equal(vmdl_vmx_set_feature_control(f.vmx, 5), 0);
    struct vmdl_vmx_operand m = {.kind = VMDL_VMX_OPND_MEM};
    struct vmdl_vmx_operand g = {.kind = VMDL_VMX_OPND_REG};
    /* the register form of VMXON is #UD */
    g.value = VMXON_PA;
    assert_int_equal(vmdl_vmx_exec(f.vmx, &f.ctx, VMDL_VMX_INSN_VMXON, &g, NULL, &r), 0);
    expect_fault(&r, VMDL_FAULT_UD);
    /* non-canonical m64: #GP; outside RAM: #PF; nothing changes */
    m.addr = 0x0000800000000000ull;
    assert_int_equal(vmdl_vmx_exec(f.vmx, &f.ctx, VMDL_VMX_INSN_VMXON, &m, NULL, &r), 0);
    expect_fault(&r, VMDL_FAULT_GP);
    m.addr = 0x20000000;
    assert_int_equal(vmdl_vmx_exec(f.vmx, &f.ctx, VMDL_VMX_INSN_VMXON, &m, NULL, &r), 0);
    expect_fault(&r, VMDL_FAULT_PF);
    m.addr = RAM_SIZE - 4;  /* straddles the end of RAM */
    assert_int_equal(vmdl_vmx_exec(f.vmx, &f.ctx, VMDL_VMX_INSN_VMXON, &m, NULL, &r), 0);
    expect_fault(&r, VMDL_FAULT_PF);
    assert_false(vmdl_vmx_in_vmx_operation(f.vmx));
    /* operand in memory holds the pointer */
    uint64_t p = VMXON_PA;
    memcpy(f.ram + 0x8000, &p, 8);
    m.addr = 0x8000;
    assert_int_equal(vmdl_vmx_exec(f.vmx, &f.ctx, VMDL_VMX_INSN_VMXON, &m, NULL, &r), 0);
    expect_ok(&r);
    p = VMCS_A;
    memcpy(f.ram + 0x8008, &p, 8);
    m.addr = 0x8008;
    assert_int_equal(vmdl_vmx_exec(f.vmx, &f.ctx, VMDL_VMX_INSN_VMCLEAR, &m, NULL, &r), 0);
    expect_ok(&r);
    assert_int_equal(vmdl_vmx_exec(f.vmx, &f.ctx, VMDL_VMX_INSN_VMPTRLD, &m, NULL, &r), 0);
    expect_ok(&r);
    /* VMPTRST to memory, and to a bad address (#GP / #PF, memory intact) */
    m.addr = 0x8010;
    assert_int_equal(vmdl_vmx_exec(f.vmx, &f.ctx, VMDL_VMX_INSN_VMPTRST, &m, NULL, &r), 0);
    expect_ok(&r);
    assert_int_equal(get32(&f, 0x8010), VMCS_A);
    m.addr = 0xffff7fffffff0000ull;
    assert_int_equal(vmdl_vmx_exec(f.vmx, &f.ctx, VMDL_VMX_INSN_VMPTRST, &m, NULL, &r), 0);
    expect_fault(&r, VMDL_FAULT_GP);
    assert_int_equal(r.rflags, RFLAGS_IN);
    /* VMWRITE reg <- reg, VMWRITE reg <- mem, VMREAD reg <- reg, mem <- reg */
    struct vmdl_vmx_operand fld = {.kind = VMDL_VMX_OPND_REG, .value = E_GUEST_RIP};
    struct vmdl_vmx_operand src = {.kind = VMDL_VMX_OPND_REG, .value = 0xabcdef};
    assert_int_equal(vmdl_vmx_exec(f.vmx, &f.ctx, VMDL_VMX_INSN_VMWRITE, &fld, &src, &r), 0);
    expect_ok(&r);
    struct vmdl_vmx_operand dst = {.kind = VMDL_VMX_OPND_REG, .value = 0};
    assert_int_equal(vmdl_vmx_exec(f.vmx, &f.ctx, VMDL_VMX_INSN_VMREAD, &dst, &fld, &r), 0);
    expect_ok(&r);
    assert_true(dst.written);
    assert_int_equal(dst.value, 0xabcdef);
    uint64_t v = 0x55aa;
    memcpy(f.ram + 0x8020, &v, 8);
    src = (struct vmdl_vmx_operand){.kind = VMDL_VMX_OPND_MEM, .addr = 0x8020};
    assert_int_equal(vmdl_vmx_exec(f.vmx, &f.ctx, VMDL_VMX_INSN_VMWRITE, &fld, &src, &r), 0);
    expect_ok(&r);
    dst = (struct vmdl_vmx_operand){.kind = VMDL_VMX_OPND_MEM, .addr = 0x8030};
    assert_int_equal(vmdl_vmx_exec(f.vmx, &f.ctx, VMDL_VMX_INSN_VMREAD, &dst, &fld, &r), 0);
    expect_ok(&r);
    assert_false(dst.written);
    assert_int_equal(get32(&f, 0x8030), 0x55aa);
    /* VMREAD to unmapped memory: #PF; to non-canonical: #GP */
    dst.addr = 0x30000000;
    assert_int_equal(vmdl_vmx_exec(f.vmx, &f.ctx, VMDL_VMX_INSN_VMREAD, &dst, &fld, &r), 0);
    expect_fault(&r, VMDL_FAULT_PF);
    dst.addr = 0x8000000000000000ull;
    assert_int_equal(vmdl_vmx_exec(f.vmx, &f.ctx, VMDL_VMX_INSN_VMREAD, &dst, &fld, &r), 0);
    expect_fault(&r, VMDL_FAULT_GP);
    /* ... through the stack segment (SS override, RSP/RBP base): #SS(0)
     * (SDM: a non-canonical SS-segment reference), also for a VMWRITE
     * source and the INVVPID descriptor */
    dst.stack = true;
    assert_int_equal(vmdl_vmx_exec(f.vmx, &f.ctx, VMDL_VMX_INSN_VMREAD, &dst, &fld, &r), 0);
    expect_fault(&r, VMDL_FAULT_SS);
    struct vmdl_vmx_operand ssrc = {.kind = VMDL_VMX_OPND_MEM, .stack = true,
                                    .addr = 0x8000000000000000ull};
    assert_int_equal(vmdl_vmx_exec(f.vmx, &f.ctx, VMDL_VMX_INSN_VMWRITE, &fld, &ssrc, &r), 0);
    expect_fault(&r, VMDL_FAULT_SS);
    struct vmdl_vmx_operand type = {.kind = VMDL_VMX_OPND_REG, .value = 2};
    assert_int_equal(vmdl_vmx_exec(f.vmx, &f.ctx, VMDL_VMX_INSN_INVVPID, &type, &ssrc, &r), 0);
    expect_fault(&r, VMDL_FAULT_SS);
    ssrc.stack = false;
    assert_int_equal(vmdl_vmx_exec(f.vmx, &f.ctx, VMDL_VMX_INSN_INVVPID, &type, &ssrc, &r), 0);
    expect_fault(&r, VMDL_FAULT_GP);
    assert_string_equal(vmdl_fault_name(VMDL_FAULT_SS), "#SS");
    dst.stack = false;
    /* VMWRITE from unmapped memory faults before the field checks (KVM) */
    src.addr = 0x30000000;
    fld.value = 0x6830; /* unknown too */
    assert_int_equal(vmdl_vmx_exec(f.vmx, &f.ctx, VMDL_VMX_INSN_VMWRITE, &fld, &src, &r), 0);
    expect_fault(&r, VMDL_FAULT_PF);
    /* VMREAD of an unknown field does not touch the destination */
    dst = (struct vmdl_vmx_operand){.kind = VMDL_VMX_OPND_REG, .value = 77};
    assert_int_equal(vmdl_vmx_exec(f.vmx, &f.ctx, VMDL_VMX_INSN_VMREAD, &dst, &fld, &r), 0);
    expect_valid(&f, &r, VMDL_VMXERR_UNSUPPORTED_VMCS_COMPONENT);
    assert_false(dst.written);
    assert_int_equal(dst.value, 77);
    /* malformed operand kinds */
    assert_int_equal(vmdl_vmx_exec(f.vmx, &f.ctx, VMDL_VMX_INSN_VMREAD, &dst, &src, &r), 0);
    expect_fault(&r, VMDL_FAULT_UD);
    assert_int_equal(vmdl_vmx_exec(f.vmx, &f.ctx, VMDL_VMX_INSN_VMWRITE, &src, &dst, &r), 0);
    expect_fault(&r, VMDL_FAULT_UD);
    assert_int_equal(vmdl_vmx_exec(f.vmx, &f.ctx, VMDL_VMX_INSN_VMPTRST, NULL, NULL, &r), 0);
    expect_fault(&r, VMDL_FAULT_UD);
    assert_int_equal(vmdl_vmx_exec(f.vmx, &f.ctx, (enum vmdl_vmx_insn)99, NULL, NULL, &r),
                     VMDL_EINVAL);
    assert_int_equal(vmdl_vmx_exec(f.vmx, &f.ctx, VMDL_VMX_INSN_VMLAUNCH, NULL, NULL, &r), 0);
    assert_int_equal(r.status, VMDL_VMX_ENTRY);
    assert_int_equal(vmdl_vmx_exec(f.vmx, &f.ctx, VMDL_VMX_INSN_VMXOFF, NULL, NULL, &r), 0);
    expect_ok(&r);
    assert_string_equal(vmdl_vmx_insn_name(VMDL_VMX_INSN_VMRESUME), "vmresume");
    fx_close(&f);
}

static void test_peek_poke_errors(void **state)
{
    (void)state;
    struct fx f;
    uint64_t v;
    fx_open(&f, "core2");
    assert_int_equal(vmdl_vmx_peek(f.vmx, E_GUEST_RIP, &v), VMDL_ESTATE);
    fx_enter(&f);
    assert_int_equal(vmdl_vmx_peek(f.vmx, E_EPT_POINTER, &v), VMDL_ENOENT);
    assert_non_null(strstr(vmdl_last_error(), "core2"));
    assert_int_equal(vmdl_vmx_poke(f.vmx, 0x6830, 1), VMDL_ENOENT);
    assert_int_equal(vmdl_vmx_peek(f.vmx, E_GUEST_RIP, NULL), VMDL_EINVAL);
    assert_int_equal(vmdl_vmx_flush(NULL), VMDL_EINVAL);
    fx_close(&f);
}

/* ------------------------------------------------------------------ */
/* State                                                              */

static void test_state_round_trip(void **state)
{
    (void)state;
    struct fx f, g;
    struct vmdl_vmx_result r;
    fx_open(&f, "sapphire-rapids");
    fx_enter(&f);
    vwrite(&f, E_GUEST_RIP, 0x1234567890ull, &r);
    vwrite(&f, E_GUEST_S_CET, 0x44, &r);
    uint8_t *b;
    size_t len;
    assert_int_equal(vmdl_vmx_save(f.vmx, &b, &len), 0);
    fx_open(&g, "sapphire-rapids");
    assert_int_equal(vmdl_vmx_load(g.vmx, b, len), 0);
    assert_true(vmdl_vmx_in_vmx_operation(g.vmx));
    assert_int_equal(vmdl_vmx_current_vmptr(g.vmx), VMCS_A);
    assert_int_equal(vmdl_vmx_vmxon_ptr(g.vmx), VMXON_PA);
    assert_int_equal(vread(&g, E_GUEST_RIP, &r), 0x1234567890ull);
    assert_int_equal(vread(&g, E_GUEST_S_CET, &r), 0x44);
    uint64_t fc;
    assert_int_equal(vmdl_vmx_rdmsr(g.vmx, 0x3a, &fc), VMDL_FAULT_NONE);
    assert_int_equal(fc, 5);
    fx_close(&g);
    /* another profile refuses it, unchanged */
    fx_open(&g, "skylake");
    assert_int_equal(vmdl_vmx_load(g.vmx, b, len), VMDL_EBADBLOB);
    assert_non_null(strstr(vmdl_last_error(), "profile"));
    assert_false(vmdl_vmx_in_vmx_operation(g.vmx));
    fx_close(&g);
    free(b);
    /* out of VMX operation: short blob, round trip too */
    vmdl_vmx_reset(f.vmx);
    assert_int_equal(vmdl_vmx_save(f.vmx, &b, &len), 0);
    assert_int_equal(vmdl_vmx_load(f.vmx, b, len), 0);
    assert_false(vmdl_vmx_in_vmx_operation(f.vmx));
    free(b);
    fx_close(&f);
}

static void test_state_refuses_damage(void **state)
{
    (void)state;
    struct fx f;
    struct vmdl_vmx_result r;
    fx_open(&f, "skylake");
    fx_enter(&f);
    vwrite(&f, E_GUEST_RIP, 0x77, &r);
    uint8_t *b;
    size_t len;
    assert_int_equal(vmdl_vmx_save(f.vmx, &b, &len), 0);
    /* change the live state, then check no failed load touches it */
    vwrite(&f, E_GUEST_RIP, 0x99, &r);
    for (size_t n = 0; n < len; n += 97)
        assert_int_equal(vmdl_vmx_load(f.vmx, b, n), VMDL_EBADBLOB);
    for (size_t i = 0; i < len; i += 13) {
        b[i] ^= 0x10;
        int err = vmdl_vmx_load(f.vmx, b, len);
        assert_true(err == VMDL_EBADBLOB || err == VMDL_EVERSION);
        b[i] ^= 0x10;
    }
    assert_int_equal(vmdl_vmx_load(f.vmx, NULL, len), VMDL_EINVAL);
    assert_int_equal(vread(&f, E_GUEST_RIP, &r), 0x99);
    assert_int_equal(vmdl_vmx_load(f.vmx, b, len), 0);
    assert_int_equal(vread(&f, E_GUEST_RIP, &r), 0x77);
    free(b);

    /* well-formed blobs with impossible contents */
    struct bad {
        uint8_t on;
        uint64_t vmxon, cur;
        uint8_t cached;
        uint64_t fc;
        const char *why;
        /* version 2: L2 active, MP state, event bits, exception vector */
        uint8_t gm, mp;
        uint32_t evbits;
        uint8_t exc_vec;
    } bad[] = {
        {2, VMXON_PA, VMDL_VMX_INVALID_PTR, 0, 5, "flag", 0, 0, 0, 0},
        {0, VMXON_PA, VMDL_VMX_INVALID_PTR, 0, 5, "outside VMX", 0, 0, 0, 0},
        {1, VMXON_PA + 4, VMDL_VMX_INVALID_PTR, 0, 5, "VMXON pointer", 0, 0, 0, 0},
        {1, VMXON_PA, VMXON_PA, 1, 5, "current-VMCS", 0, 0, 0, 0},
        {1, VMXON_PA, VMCS_A, 0, 5, "cached", 0, 0, 0, 0},
        {1, VMXON_PA, VMDL_VMX_INVALID_PTR, 0, 0x100, "FEATURE_CONTROL", 0, 0, 0, 0},
        {1, VMXON_PA, VMDL_VMX_INVALID_PTR, 0, 5, "nested flag", 2, 0, 0, 0},
        {1, VMXON_PA, VMDL_VMX_INVALID_PTR, 0, 5, "L2 active without", 1, 0, 0, 0},
        {1, VMXON_PA, VMDL_VMX_INVALID_PTR, 0, 5, "unknown MP state", 0, 5, 0, 0},
        {1, VMXON_PA, VMDL_VMX_INVALID_PTR, 0, 5, "INIT/SIPI", 0, 2, 0, 0},
        {1, VMXON_PA, VMDL_VMX_INVALID_PTR, 0, 5, "undefined", 0, 0, 1u << 13, 0},
        {1, VMXON_PA, VMDL_VMX_INVALID_PTR, 0, 5, "both pending", 0, 0, 1u | 8u, 0},
        {1, VMXON_PA, VMDL_VMX_INVALID_PTR, 0, 5, "above 31", 0, 0, 1u, 40},
        {1, VMXON_PA, VMDL_VMX_INVALID_PTR, 0, 5, "nested run", 0, 0, 1u << 12, 0},
    };
    for (unsigned i = 0; i < VMDL_ARRAY_SIZE(bad); i++) {
        struct vmdl_blob_writer w;
        vmdl_blob_begin(&w, VMDL_BLOB_MAGIC('V', 'M', 'X', '1'), 2);
        vmdl_blob_put_u32(&w, vmdl_vmx_model_fingerprint(f.model));
        vmdl_blob_put_u64(&w, bad[i].fc);
        vmdl_blob_put_u64(&w, 5);
        vmdl_blob_put_u8(&w, bad[i].on);
        vmdl_blob_put_u64(&w, bad[i].vmxon);
        vmdl_blob_put_u64(&w, bad[i].cur);
        vmdl_blob_put_u8(&w, bad[i].cached);
        if (bad[i].cached)
            for (unsigned k = 0; k < VMDL_VMCS12_SIZE; k++)
                vmdl_blob_put_u8(&w, 0);
        vmdl_blob_put_u8(&w, bad[i].gm);
        vmdl_blob_put_u8(&w, bad[i].mp);
        vmdl_blob_put_u8(&w, 0);
        vmdl_blob_put_u32(&w, bad[i].evbits);
        vmdl_blob_put_u8(&w, bad[i].exc_vec);
        for (unsigned k = 0; k < 3; k++)
            vmdl_blob_put_u8(&w, 0);
        assert_int_equal(vmdl_blob_finish(&w, &b, &len), 0);
        assert_int_equal(vmdl_vmx_load(f.vmx, b, len), VMDL_EBADBLOB);
        if (!strstr(vmdl_last_error(), bad[i].why))
            fail_msg("case %u: message '%s' lacks '%s'", i, vmdl_last_error(), bad[i].why);
        free(b);
    }
    assert_int_equal(vread(&f, E_GUEST_RIP, &r), 0x77);
    assert_int_equal(vmdl_vmx_current_vmptr(f.vmx), VMCS_A);
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_shape),
        cmocka_unit_test(test_encoding_derivation),
        cmocka_unit_test(test_rol16_index),
        cmocka_unit_test(test_vmcs_enum_per_profile),
        cmocka_unit_test(test_kvm_l1_profile),
        cmocka_unit_test(test_unsupported_fields_per_profile),
        cmocka_unit_test(test_unsupported_fails_like_unknown),
        cmocka_unit_test(test_profile_validation),
        cmocka_unit_test(test_capability_msrs),
        cmocka_unit_test(test_feature_control_msr),
        cmocka_unit_test(test_shadow_lists),
        cmocka_unit_test(test_round_trip_every_profile),
        cmocka_unit_test(test_high_halves_alias),
        cmocka_unit_test(test_read_only_and_misc29),
        cmocka_unit_test(test_ar_bytes_policy),
        cmocka_unit_test(test_ud_and_gp),
        cmocka_unit_test(test_vmxon_outcomes),
        cmocka_unit_test(test_vmclear_vmptrld_errors),
        cmocka_unit_test(test_vmcs_caching),
        cmocka_unit_test(test_vmlaunch_checks),
        cmocka_unit_test(test_exec_operands),
        cmocka_unit_test(test_peek_poke_errors),
        cmocka_unit_test(test_state_round_trip),
        cmocka_unit_test(test_state_refuses_damage),
        cmocka_unit_test(test_shadow_lists_as_kvm),
        cmocka_unit_test(test_misc_as_kvm_reports),
        cmocka_unit_test(test_core2_basic_true_ctls),
        cmocka_unit_test(test_launch_state_kvm_compare),
        cmocka_unit_test(test_kvm_misc_and_validation),
        cmocka_unit_test(test_launch_state_any_nonzero_option),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
