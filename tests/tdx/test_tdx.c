/* SPDX-License-Identifier: MIT */
/* TDX global metadata: field IDs, the modelled module, profiles, reader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "virtmodel/blob.h"
#include "virtmodel/error.h"
#include "virtmodel/tdx.h"
#include "virtmodel/tdx_reader.h"
#include "tdx/tdx_internal.h"

#define NA VMDL_TDX_FID_NA

static struct vmdl_tdx *make(const char *profile)
{
    struct vmdl_tdx *m = NULL;
    assert_int_equal(vmdl_tdx_create_named(profile, 2, &m), 0);
    return m;
}

static struct vmdl_tdx *make_ready(const char *profile)
{
    struct vmdl_tdx *m = make(profile);
    assert_int_equal(vmdl_tdx_init_all(m), VMDL_TDX_SUCCESS);
    return m;
}

static struct vmdl_tdx_profile *parse(const char *text)
{
    struct vmdl_tdx_profile *p = NULL;
    int err = vmdl_tdx_profile_parse(text, strlen(text), "t.tdx", &p);
    if (err)
        fail_msg("parse failed: %s", vmdl_last_error());
    return p;
}

static struct vmdl_tdx *make_text(const char *text)
{
    struct vmdl_tdx_profile *p = parse(text);
    struct vmdl_tdx *m = NULL;
    assert_int_equal(vmdl_tdx_create(p, 2, &m), 0);
    vmdl_tdx_profile_free(p);
    assert_int_equal(vmdl_tdx_init_all(m), VMDL_TDX_SUCCESS);
    return m;
}

static int field(const char *name)
{
    int f = vmdl_tdx_field_by_name(name);
    assert_true(f >= 0);
    return f;
}

static uint64_t fid(const char *name)
{
    return vmdl_tdx_field((unsigned)field(name))->base_id;
}

/* ------------------------------------------------------------------ */
/* Field IDs                                                          */

static void test_fid_layout_facts(void **state)
{
    (void)state;
    struct vmdl_tdx_fid f;
    /* MAJOR_VERSION as Linux reads it: class 8, field 4, 16-bit, arch. */
    vmdl_tdx_fid_decode(0x0800000100000004ull, &f);
    assert_int_equal(f.class_code, 8);
    assert_int_equal(f.field_code, 4);
    assert_int_equal(f.elem_size_code, 1);
    assert_false(f.non_arch);
    assert_int_equal(f.context, VMDL_TDX_CTX_SYS);
    /* MAX_TDMRS: non-architectural, class 17. */
    vmdl_tdx_fid_decode(0x9100000100000008ull, &f);
    assert_true(f.non_arch);
    assert_int_equal(f.class_code, 17);
    assert_int_equal(f.field_code, 8);
    /* A sequence header with every component set. */
    vmdl_tdx_fid_decode(0x3F7FFFFF00ABCDEFull & ~VMDL_TDX_FID_RESERVED_MASK, &f);
    assert_int_equal(f.field_code, 0xABCDEF);
    assert_int_equal(f.last_elem, 0xF);
    assert_int_equal(f.last_field, 0x1FF);
    assert_true(f.inc_size);
    assert_true(f.write_mask_valid);
    assert_int_equal(f.context, 7);
    assert_int_equal(f.class_code, 0x3F);
    assert_int_equal(f.reserved, 0);
}

static void test_fid_roundtrip_all_elements(void **state)
{
    (void)state;
    unsigned n = 0;
    for (unsigned i = 0; i < VMDL_TDX_NR_FIELDS; i++)
        for (unsigned k = 0; k < vmdl_tdx_field_elems(i); k++) {
            uint64_t id = vmdl_tdx_field_elem_id(i, k), back = 0;
            struct vmdl_tdx_fid f;
            vmdl_tdx_fid_decode(id, &f);
            assert_int_equal(f.reserved, 0);
            assert_int_equal(vmdl_tdx_fid_encode(&f, &back), 0);
            assert_int_equal(back, id);
            n++;
        }
    assert_true(n > 150);
}

static void test_fid_roundtrip_sweep(void **state)
{
    (void)state;
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < 100000; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        uint64_t id = x & ~VMDL_TDX_FID_RESERVED_MASK, back = 0;
        struct vmdl_tdx_fid f;
        vmdl_tdx_fid_decode(id, &f);
        assert_int_equal(vmdl_tdx_fid_encode(&f, &back), 0);
        assert_int_equal(back, id);
        /* With reserved bits: decode reports exactly those. */
        vmdl_tdx_fid_decode(x, &f);
        assert_int_equal(f.reserved, x & VMDL_TDX_FID_RESERVED_MASK);
    }
}

static void test_fid_encode_errors(void **state)
{
    (void)state;
    uint64_t id;
    struct vmdl_tdx_fid f = {0};
    assert_int_equal(vmdl_tdx_fid_encode(NULL, &id), VMDL_EINVAL);
    assert_int_equal(vmdl_tdx_fid_encode(&f, NULL), VMDL_EINVAL);
#define BAD(member, value, word)                                         \
    do {                                                                 \
        struct vmdl_tdx_fid g = {0};                                     \
        g.member = value;                                                \
        assert_int_equal(vmdl_tdx_fid_encode(&g, &id), VMDL_ERANGE);     \
        assert_non_null(strstr(vmdl_last_error(), word));                \
    } while (0)
    BAD(field_code, 0x1000000, "field_code");
    BAD(elem_size_code, 4, "elem_size_code");
    BAD(last_elem, 16, "last_elem");
    BAD(last_field, 512, "last_field");
    BAD(context, 8, "context");
    BAD(class_code, 64, "class_code");
    BAD(reserved, 1ull << 24, "reserved");
#undef BAD
    f.field_code = 0xFFFFFF;
    f.elem_size_code = 3;
    f.class_code = 0x3F;
    f.non_arch = true;
    assert_int_equal(vmdl_tdx_fid_encode(&f, &id), 0);
    assert_int_equal(id, 0xBF00000300FFFFFFull);
}

static void test_fid_elem_size(void **state)
{
    (void)state;
    for (unsigned c = 0; c < 4; c++) {
        uint64_t id = (uint64_t)c << 32;
        assert_int_equal(vmdl_tdx_fid_elem_size(id), 1u << c);
        assert_int_equal(vmdl_tdx_fid_elem_mask(id),
                         c == 3 ? ~0ull : (1ull << (8u << c)) - 1);
    }
    assert_int_equal(vmdl_tdx_fid_elem_size(fid("MAJOR_VERSION")), 2);
    assert_int_equal(vmdl_tdx_fid_elem_size(fid("BUILD_DATE")), 4);
    assert_int_equal(vmdl_tdx_fid_elem_size(fid("TDX_FEATURES0")), 8);
    assert_int_equal(vmdl_tdx_fid_elem_size(fid("NO_DOWNGRADE")), 1);
}

static void test_fid_single_element_rules(void **state)
{
    (void)state;
    uint64_t id = fid("MAJOR_VERSION");
    assert_true(vmdl_tdx_fid_is_single_element(id));
    static const unsigned reserved_bits[] = {24, 27, 31, 47, 48, 49, 55, 62};
    for (unsigned i = 0; i < sizeof(reserved_bits) / sizeof(unsigned); i++)
        assert_false(vmdl_tdx_fid_is_single_element(id | 1ull << reserved_bits[i]));
    assert_false(vmdl_tdx_fid_is_single_element(id | 1ull << 34)); /* last elem */
    assert_false(vmdl_tdx_fid_is_single_element(id | 1ull << 38)); /* last field */
    /* Ignored components do not make it invalid. */
    assert_true(vmdl_tdx_fid_is_single_element(id | 1ull << 50));
    assert_true(vmdl_tdx_fid_is_single_element(id | 1ull << 51));
    assert_true(vmdl_tdx_fid_is_single_element(id | 1ull << 52));
}

static void test_fid_describe(void **state)
{
    (void)state;
    char buf[96];
    assert_int_equal(vmdl_tdx_fid_describe(0x9100000100000008ull, buf, sizeof buf), 0);
    assert_string_equal(buf, "0x9100000100000008 (class 17 field 0x8 16-bit "
                             "non-arch ctx SYS)");
    assert_int_equal(vmdl_tdx_fid_describe(NA, buf, sizeof buf), 0);
    assert_non_null(strstr(buf, "none"));
    assert_int_equal(vmdl_tdx_fid_describe(1, NULL, 0), VMDL_EINVAL);
}

/* ------------------------------------------------------------------ */
/* Field table                                                        */

static void test_table_linux_ids(void **state)
{
    (void)state;
    /* The IDs Linux's generated reader hard-codes. */
    static const struct { const char *n; uint64_t id; } linux_ids[] = {
        {"MINOR_VERSION", 0x0800000100000003ull},
        {"MAJOR_VERSION", 0x0800000100000004ull},
        {"UPDATE_VERSION", 0x0800000100000005ull},
        {"TDX_FEATURES0", 0x0A00000300000008ull},
        {"MAX_TDMRS", 0x9100000100000008ull},
        {"MAX_RESERVED_PER_TDMR", 0x9100000100000009ull},
        {"PAMT_4K_ENTRY_SIZE", 0x9100000100000010ull},
        {"PAMT_2M_ENTRY_SIZE", 0x9100000100000011ull},
        {"PAMT_1G_ENTRY_SIZE", 0x9100000100000012ull},
        {"TDR_BASE_SIZE", 0x9800000100000000ull},
        {"TDCS_BASE_SIZE", 0x9800000100000100ull},
        {"TDVPS_BASE_SIZE", 0x9800000100000200ull},
        {"ATTRIBUTES_FIXED0", 0x1900000300000000ull},
        {"ATTRIBUTES_FIXED1", 0x1900000300000001ull},
        {"XFAM_FIXED0", 0x1900000300000002ull},
        {"XFAM_FIXED1", 0x1900000300000003ull},
        {"NUM_CPUID_CONFIG", 0x9900000100000004ull},
        {"MAX_VCPUS_PER_TD", 0x9900000100000008ull},
        {"CPUID_CONFIG_LEAVES", 0x9900000300000400ull},
        {"CPUID_CONFIG_VALUES", 0x9900000300000500ull},
        {"MODULE_HV", 0x8900000100000000ull},
        /* Dynamic PAMT series, get_tdx_sys_info_tdmr: a 16-bit element */
        {"PAMT_PAGE_BITMAP_ENTRY_BITS", 0x9100000100000013ull},
    };
    for (unsigned i = 0; i < sizeof(linux_ids) / sizeof(linux_ids[0]); i++)
        assert_int_equal(fid(linux_ids[i].n), linux_ids[i].id);
}

static void test_table_lookup_consistent(void **state)
{
    (void)state;
    for (unsigned i = 0; i < VMDL_TDX_NR_FIELDS; i++) {
        const struct vmdl_tdx_field *f = vmdl_tdx_field(i);
        assert_int_equal(vmdl_tdx_field_by_name(f->name), (int)i);
        assert_true(vmdl_tdx_fid_is_single_element(f->base_id));
        assert_int_equal(vmdl_tdx_fid_context(f->base_id), VMDL_TDX_CTX_SYS);
        assert_string_not_equal(vmdl_tdx_class_name(vmdl_tdx_fid_class(f->base_id)), "?");
        for (unsigned k = 0; k < vmdl_tdx_field_elems(i); k++) {
            unsigned e = 99;
            /* No two entries overlap: each element maps back to its own. */
            assert_int_equal(vmdl_tdx_field_by_id(f->base_id + k, &e), (int)i);
            assert_int_equal(e, k);
        }
    }
    assert_null(vmdl_tdx_field(VMDL_TDX_NR_FIELDS));
    assert_int_equal(vmdl_tdx_field_by_name("NOPE"), VMDL_ENOENT);
    assert_int_equal(vmdl_tdx_field_by_id(0x0800000100000077ull, NULL), VMDL_ENOENT);
    assert_int_equal(vmdl_tdx_field_elem_id(0, 1), NA);
    assert_int_equal(vmdl_tdx_field_elems(field("CPUID_CONFIG_VALUES")), 64);
}

/* ------------------------------------------------------------------ */
/* Module: life cycle and SEAMCALL                                    */

static uint64_t call(struct vmdl_tdx *m, unsigned lp, uint64_t rax,
                     uint64_t rcx, uint64_t rdx, struct vmdl_tdx_regs *out)
{
    struct vmdl_tdx_regs r = {.rax = rax, .rcx = rcx, .rdx = rdx,
                              .r8 = 0x5555, .r9 = 9};
    assert_int_equal(vmdl_tdx_seamcall(m, lp, &r), 0);
    if (out)
        *out = r;
    return r.rax;
}

static void test_init_sequence_and_states(void **state)
{
    (void)state;
    struct vmdl_tdx *m = make("tdx-1.5.08");
    struct vmdl_tdx_regs r;
    assert_int_equal(vmdl_tdx_get_state(m), VMDL_TDX_LOADED);
    /* TDH.SYS.RD before anything: LP not initialized. */
    assert_int_equal(call(m, 0, VMDL_TDH_SYS_RD, 0, fid("MAJOR_VERSION"), &r),
                     VMDL_TDX_SYS_LP_INIT_NOT_DONE);
    assert_int_equal(r.rdx, NA);
    assert_int_equal(r.r8, 0);
    /* LP.INIT before SYS.INIT. */
    assert_int_equal(call(m, 0, VMDL_TDH_SYS_LP_INIT, 0, 0, NULL),
                     VMDL_TDX_SYS_LP_INIT_NOT_PENDING);
    /* SYS.INIT with reserved attributes. */
    assert_int_equal(call(m, 0, VMDL_TDH_SYS_INIT, 1, 0, NULL),
                     VMDL_TDX_OPERAND_INVALID | VMDL_TDX_OPERAND_RCX);
    assert_int_equal(vmdl_tdx_get_state(m), VMDL_TDX_LOADED);
    assert_int_equal(call(m, 1, VMDL_TDH_SYS_INIT, 0, 0, NULL), VMDL_TDX_SUCCESS);
    assert_int_equal(vmdl_tdx_get_state(m), VMDL_TDX_SYSINIT_DONE);
    assert_int_equal(call(m, 0, VMDL_TDH_SYS_INIT, 0, 0, NULL),
                     VMDL_TDX_SYS_INIT_NOT_PENDING);
    /* Still no LP init: SYS.RD refuses. */
    assert_int_equal(call(m, 0, VMDL_TDH_SYS_RD, 0, fid("MAJOR_VERSION"), NULL),
                     VMDL_TDX_SYS_LP_INIT_NOT_DONE);
    assert_int_equal(call(m, 0, VMDL_TDH_SYS_LP_INIT, 7, 7, &r), VMDL_TDX_SUCCESS);
    assert_int_equal(r.rcx, 0);
    assert_int_equal(r.rdx, 0);
    assert_int_equal(r.r8, 0);
    assert_true(vmdl_tdx_lp_initialized(m, 0));
    assert_false(vmdl_tdx_lp_initialized(m, 1));
    assert_false(vmdl_tdx_lp_initialized(m, 5));
    assert_int_equal(call(m, 0, VMDL_TDH_SYS_LP_INIT, 0, 0, NULL),
                     VMDL_TDX_SYS_LP_INIT_DONE);
    /* LP 0 may read, LP 1 may not yet. */
    assert_int_equal(call(m, 0, VMDL_TDH_SYS_RD, 0, fid("MAJOR_VERSION"), &r),
                     VMDL_TDX_SUCCESS);
    assert_int_equal(r.r8, 1);
    assert_int_equal(r.r9, 9); /* untouched */
    assert_int_equal(call(m, 1, VMDL_TDH_SYS_RD, 0, fid("MAJOR_VERSION"), NULL),
                     VMDL_TDX_SYS_LP_INIT_NOT_DONE);
    vmdl_tdx_destroy(m);
}

/*
 * Linux's Dynamic PAMT reader (arch/x86/virt/vmx/tdx/tdx_global_metadata.c,
 * get_tdx_sys_info_tdmr in the Dynamic PAMT series) reads
 * PAMT_PAGE_BITMAP_ENTRY_BITS with field ID 0x9100000100000013: element
 * size code 1 (16 bits).  On a module that checks the size code that ID
 * must be served; the 8-bit ID must not.
 */
static void test_dpamt_bits_linux_id(void **state)
{
    (void)state;
    struct vmdl_tdx *m = make_ready("tdx-2.0.02");
    assert_int_equal(vmdl_tdx_get_size_check(m), VMDL_TDX_SIZE_STRICT);
    uint64_t v = 0;
    assert_int_equal(vmdl_tdx_sys_rd(m, 0, 0x9100000100000013ull, &v, NULL),
                     VMDL_TDX_SUCCESS);
    assert_int_equal(v, 1);
    assert_int_equal(vmdl_tdx_sys_rd(m, 0, 0x9100000000000013ull, &v, NULL),
                     VMDL_TDX_METADATA_FIELD_ID_INCORRECT);
    vmdl_tdx_destroy(m);
}

static void test_unloaded_vmfailinvalid(void **state)
{
    (void)state;
    struct vmdl_tdx *m = make_ready("tdx-1.5.08");
    vmdl_tdx_unload(m);
    assert_int_equal(vmdl_tdx_get_state(m), VMDL_TDX_UNLOADED);
    assert_false(vmdl_tdx_lp_initialized(m, 0));
    struct vmdl_tdx_regs r = {.rax = VMDL_TDH_SYS_INIT, .rdx = 3};
    assert_int_equal(vmdl_tdx_seamcall(m, 0, &r), 0);
    assert_true(r.cf);
    assert_int_equal(r.rax, VMDL_TDH_SYS_INIT); /* untouched */
    assert_int_equal(r.rdx, 3);
    vmdl_tdx_load(m);
    assert_int_equal(vmdl_tdx_get_state(m), VMDL_TDX_LOADED);
    r = (struct vmdl_tdx_regs){.rax = VMDL_TDH_SYS_RD, .rdx = NA};
    assert_int_equal(vmdl_tdx_seamcall(m, 0, &r), 0);
    assert_false(r.cf);
    assert_int_equal(r.rax, VMDL_TDX_SYS_LP_INIT_NOT_DONE);
    assert_int_equal(vmdl_tdx_init_all(m), VMDL_TDX_SUCCESS);
    vmdl_tdx_destroy(m);
}

static void test_bad_leaf_and_args(void **state)
{
    (void)state;
    struct vmdl_tdx *m = make_ready("tdx-2.0.02");
    assert_int_equal(call(m, 0, 45 /* TDH.SYS.CONFIG */, 0, 0, NULL),
                     VMDL_TDX_OPERAND_INVALID | VMDL_TDX_OPERAND_RAX);
    assert_int_equal(call(m, 0, VMDL_TDH_SYS_RD | 1u << 16, 0,
                          fid("MAJOR_VERSION"), NULL),
                     VMDL_TDX_OPERAND_INVALID | VMDL_TDX_OPERAND_RAX);
    assert_int_equal(call(m, 0, VMDL_TDH_SYS_RD | 1ull << 40, 0,
                          fid("MAJOR_VERSION"), NULL),
                     VMDL_TDX_OPERAND_INVALID);
    struct vmdl_tdx_regs r = {0};
    assert_int_equal(vmdl_tdx_seamcall(m, 2, &r), VMDL_ERANGE);
    assert_non_null(strstr(vmdl_last_error(), "lp 2"));
    assert_int_equal(vmdl_tdx_seamcall(m, 0, NULL), VMDL_EINVAL);
    assert_int_equal(vmdl_tdx_seamcall(NULL, 0, &r), VMDL_EINVAL);
    struct vmdl_tdx *x = NULL;
    struct vmdl_tdx_profile *p = NULL;
    assert_int_equal(vmdl_tdx_profile_builtin("tdx-1.5.08", &p), 0);
    assert_int_equal(vmdl_tdx_create(p, 0, &x), VMDL_ERANGE);
    assert_int_equal(vmdl_tdx_create(p, VMDL_TDX_MAX_LPS + 1, &x), VMDL_ERANGE);
    assert_int_equal(vmdl_tdx_create(NULL, 1, &x), VMDL_EINVAL);
    vmdl_tdx_profile_free(p);
    assert_int_equal(vmdl_tdx_create_named("no-such-profile-or-file", 1, &x),
                     VMDL_EIO);
    assert_int_equal(vmdl_tdx_set_size_check(m, (enum vmdl_tdx_size_check)5),
                     VMDL_EINVAL);
    vmdl_tdx_destroy(m);
}

/* Every element of every field of the profile, read back by its own ID. */
static void check_every_field(const char *profile)
{
    struct vmdl_tdx_profile *p = NULL;
    assert_int_equal(vmdl_tdx_profile_builtin(profile, &p), 0);
    struct vmdl_tdx *m = NULL;
    assert_int_equal(vmdl_tdx_create(p, 1, &m), 0);
    assert_int_equal(vmdl_tdx_init_all(m), VMDL_TDX_SUCCESS);
    unsigned readable = 0;
    for (unsigned f = 0; f < VMDL_TDX_NR_FIELDS; f++) {
        for (unsigned k = 0; k < vmdl_tdx_field_elems(f); k++) {
            uint64_t id = vmdl_tdx_field_elem_id(f, k), v = 77, next = 0, want;
            uint64_t st = vmdl_tdx_sys_rd(m, 0, id, &v, &next);
            int present = vmdl_tdx_profile_get(p, f, k, &want);
            if (present == VMDL_ENOENT) {
                assert_int_equal(st, VMDL_TDX_METADATA_FIELD_ID_INCORRECT);
                assert_int_equal(v, 0);
                assert_int_equal(next, NA);
                continue;
            }
            assert_int_equal(present, 0);
            assert_int_equal(st, VMDL_TDX_SUCCESS);
            assert_int_equal(v, want);
            /* The value fits the element size the ID encodes. */
            assert_int_equal(v & ~vmdl_tdx_fid_elem_mask(id), 0);
            assert_true(next == NA || next > 0);
            readable++;
        }
    }
    assert_true(readable > 150);
    vmdl_tdx_destroy(m);
    vmdl_tdx_profile_free(p);
}

static void test_every_field_1_5_05(void **s) { (void)s; check_every_field("tdx-1.5.05"); }
static void test_every_field_1_5_08(void **s) { (void)s; check_every_field("tdx-1.5.08"); }
static void test_every_field_2_0_02(void **s) { (void)s; check_every_field("tdx-2.0.02"); }

/* Walk with next-field IDs from "first"; every readable element once. */
static unsigned walk(struct vmdl_tdx *m, const struct vmdl_tdx_profile *p)
{
    unsigned char seen[VMDL_TDX_NR_FIELDS][64] = {{0}};
    uint64_t id = NA, v, next;
    assert_int_equal(vmdl_tdx_sys_rd(m, 0, NA, &v, &next),
                     VMDL_TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT);
    assert_int_equal(v, 0);
    /* The context code is not part of the "no field" test. */
    uint64_t first = next;
    assert_int_equal(vmdl_tdx_sys_rd(m, 0, NA & ~(7ull << 52), &v, &next),
                     VMDL_TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT);
    assert_int_equal(next, first);
    unsigned visits = 0;
    for (id = next; id != NA; id = next) {
        unsigned k;
        int f = vmdl_tdx_field_by_id(id, &k);
        assert_true(f >= 0);
        assert_int_equal(id, vmdl_tdx_field_elem_id((unsigned)f, k));
        assert_int_equal(vmdl_tdx_sys_rd(m, 0, id, &v, &next), VMDL_TDX_SUCCESS);
        assert_int_equal(seen[f][k], 0);
        seen[f][k] = 1;
        visits++;
        assert_true(visits < 1000);
    }
    for (unsigned f = 0; f < VMDL_TDX_NR_FIELDS; f++)
        for (unsigned k = 0; k < vmdl_tdx_field_elems(f); k++)
            assert_int_equal(seen[f][k], vmdl_tdx_profile_readable(p, f) == 1);
    return visits;
}

static void check_walk(const char *profile, unsigned absent_elems)
{
    struct vmdl_tdx_profile *p = NULL;
    assert_int_equal(vmdl_tdx_profile_builtin(profile, &p), 0);
    struct vmdl_tdx *m = NULL;
    assert_int_equal(vmdl_tdx_create(p, 1, &m), 0);
    assert_int_equal(vmdl_tdx_init_all(m), VMDL_TDX_SUCCESS);
    unsigned total = 0;
    for (unsigned f = 0; f < VMDL_TDX_NR_FIELDS; f++)
        total += vmdl_tdx_field_elems(f);
    assert_int_equal(walk(m, p), total - absent_elems);
    vmdl_tdx_destroy(m);
    vmdl_tdx_profile_free(p);
}

static void test_walk_1_5_05(void **s) { (void)s; check_walk("tdx-1.5.05", 4); }
static void test_walk_1_5_08(void **s) { (void)s; check_walk("tdx-1.5.08", 1); }
static void test_walk_2_0_02(void **s) { (void)s; check_walk("tdx-2.0.02", 0); }

static void test_walk_skips_unreadable(void **state)
{
    (void)state;
    static const char text[] = "vmdl-tdx-profile 1\nname hide\n"
                               "base tdx-2.0.02\nunreadable CMR_BASE\n"
                               "unreadable CPUID_CONFIG_VALUES\n";
    struct vmdl_tdx_profile *p = parse(text);
    struct vmdl_tdx *m = make_text(text);
    uint64_t v, next;
    assert_int_equal(vmdl_tdx_sys_rd(m, 0, fid("NUM_CMRS"), &v, &next),
                     VMDL_TDX_SUCCESS);
    assert_int_equal(next, fid("CMR_SIZE"));
    /* The last element before the hidden last entry ends the walk. */
    assert_int_equal(vmdl_tdx_sys_rd(m, 0, fid("CPUID_CONFIG_LEAVES") + 31,
                                     &v, &next), VMDL_TDX_SUCCESS);
    assert_int_equal(next, NA);
    assert_int_equal(vmdl_tdx_sys_rd(m, 0, fid("CMR_BASE") + 1, &v, &next),
                     VMDL_TDX_METADATA_FIELD_NOT_READABLE);
    assert_int_equal(v, 0);
    assert_int_equal(next, NA);
    walk(m, p);
    vmdl_tdx_destroy(m);
    vmdl_tdx_profile_free(p);
}

static void test_rd_error_paths(void **state)
{
    (void)state;
    struct vmdl_tdx *m = make_ready("tdx-1.5.08");
    uint64_t v, next;
    uint64_t major = fid("MAJOR_VERSION");
#define RD(id) vmdl_tdx_sys_rd(m, 0, (id), &v, &next)
    /* Unknown field code in a known class, unknown class. */
    assert_int_equal(RD(0x0800000100000077ull), VMDL_TDX_METADATA_FIELD_ID_INCORRECT);
    assert_int_equal(next, NA);
    assert_int_equal(RD(0x3300000100000000ull), VMDL_TDX_METADATA_FIELD_ID_INCORRECT);
    /* Absent in this module (1.5.08 has no Dynamic PAMT). */
    assert_int_equal(RD(fid("PAMT_PAGE_BITMAP_ENTRY_BITS")),
                     VMDL_TDX_METADATA_FIELD_ID_INCORRECT);
    /* Past the end of an array. */
    assert_int_equal(RD(fid("CMR_BASE") + 32), VMDL_TDX_METADATA_FIELD_ID_INCORRECT);
    assert_int_equal(RD(fid("CMR_BASE") + 31), VMDL_TDX_SUCCESS);
    /* Sequence-header bits and reserved bits. */
    assert_int_equal(RD(major | 1ull << 34), VMDL_TDX_METADATA_FIELD_ID_INCORRECT);
    assert_int_equal(RD(major | 1ull << 38), VMDL_TDX_METADATA_FIELD_ID_INCORRECT);
    assert_int_equal(RD(major | 1ull << 30), VMDL_TDX_METADATA_FIELD_ID_INCORRECT);
    assert_int_equal(RD(major | 1ull << 62), VMDL_TDX_METADATA_FIELD_ID_INCORRECT);
    /* Ignored: context code, WRITE_MASK_VALID, INC_SIZE, NON_ARCH. */
    assert_int_equal(RD(major | 1ull << 52), VMDL_TDX_SUCCESS);
    assert_int_equal(v, 1);
    assert_int_equal(RD(major | 1ull << 51 | 1ull << 50), VMDL_TDX_SUCCESS);
    assert_int_equal(RD(major | 1ull << 63), VMDL_TDX_SUCCESS);
    assert_int_equal(next, fid("UPDATE_VERSION"));
    /* Wrong element size: refused in strict mode (the default)... */
    assert_int_equal(vmdl_tdx_get_size_check(m), VMDL_TDX_SIZE_STRICT);
    uint64_t major64 = (major & ~(3ull << 32)) | 3ull << 32;
    assert_int_equal(RD(major64), VMDL_TDX_METADATA_FIELD_ID_INCORRECT);
    assert_int_equal(v, 0);
    /* ...and served at the field's own size when ignored. */
    assert_int_equal(vmdl_tdx_set_size_check(m, VMDL_TDX_SIZE_IGNORE), 0);
    assert_int_equal(RD(major64), VMDL_TDX_SUCCESS);
    assert_int_equal(v, 1);
    assert_int_equal(next, fid("UPDATE_VERSION"));
    uint64_t feat8 = fid("TDX_FEATURES0") & ~(3ull << 32);
    assert_int_equal(RD(feat8), VMDL_TDX_SUCCESS);
    assert_int_equal(v, 0x40003); /* full 64-bit value: the ID's size is ignored */
#undef RD
    vmdl_tdx_destroy(m);
}

static void test_status_names(void **state)
{
    (void)state;
    assert_string_equal(vmdl_tdx_status_name(0), "TDX_SUCCESS");
    assert_string_equal(vmdl_tdx_status_name(VMDL_TDX_OPERAND_INVALID | 2),
                        "TDX_OPERAND_INVALID");
    assert_string_equal(vmdl_tdx_status_name(VMDL_TDX_SYS_LP_INIT_NOT_DONE),
                        "TDX_SYS_LP_INIT_NOT_DONE");
    assert_string_equal(vmdl_tdx_status_name(0xC0000C0200000000ull),
                        "TDX_METADATA_FIELD_NOT_READABLE");
    assert_string_equal(vmdl_tdx_status_name(0x1234ull << 32), "unknown");
}

/* ------------------------------------------------------------------ */
/* Reader                                                             */

static int read_info(struct vmdl_tdx *m, struct vmdl_tdx_sys_info *info,
                     struct vmdl_tdx_read_result *res)
{
    struct vmdl_tdx_rd_ctx ctx = {m, 0};
    return vmdl_tdx_read_sys_info(vmdl_tdx_rd_module, &ctx, info, res);
}

static uint64_t pv(const struct vmdl_tdx_profile *p, const char *name,
                   unsigned k)
{
    uint64_t v = 0;
    assert_int_equal(vmdl_tdx_profile_get(p, (unsigned)field(name), k, &v), 0);
    return v;
}

static void check_reader(const char *profile, const char *line,
                         unsigned have, unsigned reads, int features_ok)
{
    struct vmdl_tdx_profile *p = NULL;
    assert_int_equal(vmdl_tdx_profile_builtin(profile, &p), 0);
    struct vmdl_tdx *m = NULL;
    assert_int_equal(vmdl_tdx_create(p, 1, &m), 0);
    assert_int_equal(vmdl_tdx_init_all(m), VMDL_TDX_SUCCESS);
    static struct vmdl_tdx_sys_info info;
    struct vmdl_tdx_read_result res;
    assert_int_equal(read_info(m, &info, &res), 0);
    assert_int_equal(res.status, 0);
    assert_true(res.version_ok);
    assert_int_equal(res.nr_reads, reads);
    assert_int_equal(info.have, have);
    char buf[64];
    assert_int_equal(vmdl_tdx_format_version(&info.version, buf, sizeof buf),
                     (int)strlen(line));
    assert_string_equal(buf, line);
    assert_int_equal(vmdl_tdx_check_features(&info), features_ok ? 0 : VMDL_ENOTSUP);
    if (!features_ok)
        assert_string_equal(vmdl_last_error(), "frame pointer (RBP) clobber "
                                               "bug present, upgrade TDX module");
    /* Round trip: every field the reader filled equals the module's. */
    assert_int_equal(info.version.major_version, pv(p, "MAJOR_VERSION", 0));
    assert_int_equal(info.version.minor_version, pv(p, "MINOR_VERSION", 0));
    assert_int_equal(info.version.update_version, pv(p, "UPDATE_VERSION", 0));
    assert_int_equal(info.features.tdx_features0, pv(p, "TDX_FEATURES0", 0));
    assert_int_equal(info.tdmr.max_tdmrs, pv(p, "MAX_TDMRS", 0));
    assert_int_equal(info.tdmr.max_reserved_per_tdmr, pv(p, "MAX_RESERVED_PER_TDMR", 0));
    assert_int_equal(info.tdmr.pamt_4k_entry_size, pv(p, "PAMT_4K_ENTRY_SIZE", 0));
    assert_int_equal(info.tdmr.pamt_2m_entry_size, pv(p, "PAMT_2M_ENTRY_SIZE", 0));
    assert_int_equal(info.tdmr.pamt_1g_entry_size, pv(p, "PAMT_1G_ENTRY_SIZE", 0));
    if (have & VMDL_TDX_HAVE_DPAMT_BITS)
        assert_int_equal(info.tdmr.pamt_page_bitmap_entry_bits,
                         pv(p, "PAMT_PAGE_BITMAP_ENTRY_BITS", 0));
    assert_int_equal(info.td_ctrl.tdr_base_size, pv(p, "TDR_BASE_SIZE", 0));
    assert_int_equal(info.td_ctrl.tdcs_base_size, pv(p, "TDCS_BASE_SIZE", 0));
    assert_int_equal(info.td_ctrl.tdvps_base_size, pv(p, "TDVPS_BASE_SIZE", 0));
    assert_int_equal(info.td_conf.attributes_fixed0, pv(p, "ATTRIBUTES_FIXED0", 0));
    assert_int_equal(info.td_conf.attributes_fixed1, pv(p, "ATTRIBUTES_FIXED1", 0));
    assert_int_equal(info.td_conf.xfam_fixed0, pv(p, "XFAM_FIXED0", 0));
    assert_int_equal(info.td_conf.xfam_fixed1, pv(p, "XFAM_FIXED1", 0));
    assert_int_equal(info.td_conf.num_cpuid_config, pv(p, "NUM_CPUID_CONFIG", 0));
    assert_int_equal(info.td_conf.max_vcpus_per_td, pv(p, "MAX_VCPUS_PER_TD", 0));
    for (unsigned i = 0; i < info.td_conf.num_cpuid_config; i++) {
        assert_int_equal(info.td_conf.cpuid_config_leaves[i],
                         pv(p, "CPUID_CONFIG_LEAVES", i));
        for (unsigned j = 0; j < 2; j++)
            assert_int_equal(info.td_conf.cpuid_config_values[i][j],
                             pv(p, "CPUID_CONFIG_VALUES", 2 * i + j));
    }
    if (have & VMDL_TDX_HAVE_HANDOFF)
        assert_int_equal(info.handoff.module_hv, pv(p, "MODULE_HV", 0));
    assert_int_equal(info.build.build_num, pv(p, "BUILD_NUM", 0));
    assert_int_equal(info.build.build_date, pv(p, "BUILD_DATE", 0));
    vmdl_tdx_destroy(m);
    vmdl_tdx_profile_free(p);
}

#define BUILD (VMDL_TDX_HAVE_BUILD_NUM | VMDL_TDX_HAVE_BUILD_DATE)
static void test_reader_1_5_05(void **s)
{
    (void)s;
    check_reader("tdx-1.5.05", "virt/tdx: Module version: 1.5.05", BUILD,
                 3 + 15 + 3 * 6 + 2, 0);
}
static void test_reader_1_5_08(void **s)
{
    (void)s;
    check_reader("tdx-1.5.08", "virt/tdx: Module version: 1.5.08",
                 BUILD | VMDL_TDX_HAVE_HANDOFF, 3 + 15 + 3 * 6 + 3, 1);
}
static void test_reader_2_0_02(void **s)
{
    (void)s;
    check_reader("tdx-2.0.02", "virt/tdx: Module version: 2.0.02",
                 BUILD | VMDL_TDX_HAVE_HANDOFF | VMDL_TDX_HAVE_DPAMT_BITS,
                 3 + 16 + 3 * 8 + 3, 1);
}

static void expect_reader_failure(const char *text, int err, uint64_t status,
                                  const char *field_name, int version_ok)
{
    struct vmdl_tdx *m = make_text(text);
    static struct vmdl_tdx_sys_info info;
    struct vmdl_tdx_read_result res;
    assert_int_equal(read_info(m, &info, &res), err);
    assert_int_equal(res.status, status);
    if (field_name)
        assert_string_equal(res.field_name, field_name);
    assert_int_equal(res.version_ok, version_ok);
    vmdl_tdx_destroy(m);
}

static void test_reader_missing_mandatory(void **state)
{
    (void)state;
    expect_reader_failure("vmdl-tdx-profile 1\nname x\nbase tdx-1.5.08\n"
                          "absent MAX_TDMRS\n",
                          VMDL_EIO, VMDL_TDX_METADATA_FIELD_ID_INCORRECT,
                          "MAX_TDMRS", 1);
    assert_non_null(strstr(vmdl_last_error(), "MAX_TDMRS"));
    assert_non_null(strstr(vmdl_last_error(), "TDX_METADATA_FIELD_ID_INCORRECT"));
    expect_reader_failure("vmdl-tdx-profile 1\nname x\nbase tdx-1.5.08\n"
                          "absent MINOR_VERSION\n",
                          VMDL_EIO, VMDL_TDX_METADATA_FIELD_ID_INCORRECT,
                          "MINOR_VERSION", 0);
    expect_reader_failure("vmdl-tdx-profile 1\nname x\nbase tdx-1.5.08\n"
                          "unreadable XFAM_FIXED1\n",
                          VMDL_EIO, VMDL_TDX_METADATA_FIELD_NOT_READABLE,
                          "XFAM_FIXED1", 1);
    /* The module has fewer CPUID configurations than it claims. */
    expect_reader_failure("vmdl-tdx-profile 1\nname x\nbase tdx-1.5.08\n"
                          "field NUM_CPUID_CONFIG = 33\n",
                          VMDL_EIO, VMDL_TDX_METADATA_FIELD_ID_INCORRECT,
                          "CPUID_CONFIG_LEAVES", 1);
    /* More than the structure holds (Linux: -EINVAL before reading). */
    expect_reader_failure("vmdl-tdx-profile 1\nname x\nbase tdx-1.5.08\n"
                          "field NUM_CPUID_CONFIG = 129\n",
                          VMDL_ERANGE, 0, NULL, 1);
}

static void test_reader_conditional_and_optional(void **state)
{
    (void)state;
    /* TD_PRESERVING claimed but the handoff field is missing: fatal. */
    expect_reader_failure("vmdl-tdx-profile 1\nname x\nbase tdx-1.5.08\n"
                          "absent MODULE_HV\n",
                          VMDL_EIO, VMDL_TDX_METADATA_FIELD_ID_INCORRECT,
                          "MODULE_HV", 1);
    /* Dynamic PAMT claimed without its field. */
    expect_reader_failure("vmdl-tdx-profile 1\nname x\nbase tdx-2.0.02\n"
                          "absent PAMT_PAGE_BITMAP_ENTRY_BITS\n",
                          VMDL_EIO, VMDL_TDX_METADATA_FIELD_ID_INCORRECT,
                          "PAMT_PAGE_BITMAP_ENTRY_BITS", 1);
    /* Optional build info missing: fine, just not marked. */
    struct vmdl_tdx *m = make_text("vmdl-tdx-profile 1\nname x\n"
                                   "base tdx-1.5.08\nabsent BUILD_NUM\n");
    static struct vmdl_tdx_sys_info info;
    struct vmdl_tdx_read_result res;
    assert_int_equal(read_info(m, &info, &res), 0);
    assert_int_equal(info.have & VMDL_TDX_HAVE_BUILD_NUM, 0);
    assert_true(info.have & VMDL_TDX_HAVE_BUILD_DATE);
    assert_int_equal(info.build.build_date, 20240305);
    vmdl_tdx_destroy(m);
    /* Optional but unreadable is a real error. */
    expect_reader_failure("vmdl-tdx-profile 1\nname x\nbase tdx-1.5.08\n"
                          "unreadable BUILD_DATE\n",
                          VMDL_EIO, VMDL_TDX_METADATA_FIELD_NOT_READABLE,
                          "BUILD_DATE", 1);
}

static void test_reader_uninitialized_module(void **state)
{
    (void)state;
    struct vmdl_tdx *m = make("tdx-1.5.08");
    static struct vmdl_tdx_sys_info info;
    struct vmdl_tdx_read_result res;
    assert_int_equal(read_info(m, &info, &res), VMDL_EIO);
    assert_int_equal(res.status, VMDL_TDX_SYS_LP_INIT_NOT_DONE);
    assert_string_equal(res.field_name, "MINOR_VERSION");
    assert_int_equal(res.nr_reads, 1);
    assert_false(res.version_ok);
    assert_int_equal(vmdl_tdx_read_sys_info(NULL, NULL, &info, NULL), VMDL_EINVAL);
    vmdl_tdx_destroy(m);
}

static void test_reader_size_mismatch_in_ignore_mode(void **state)
{
    (void)state;
    /* A module that ignores the size code still serves Linux's reads. */
    struct vmdl_tdx *m = make_text("vmdl-tdx-profile 1\nname x\n"
                                   "base tdx-2.0.02\nsize-check ignore\n");
    assert_int_equal(vmdl_tdx_get_size_check(m), VMDL_TDX_SIZE_IGNORE);
    static struct vmdl_tdx_sys_info info;
    assert_int_equal(read_info(m, &info, NULL), 0);
    assert_int_equal(info.version.major_version, 2);
    vmdl_tdx_destroy(m);
}

/* A read callback that answers TDX_RND_NO_ENTROPY (0x8000020300000000,
 * Linux asm/tdx.h) a number of times per field before asking the module,
 * or a fixed status for every read. */
struct flaky {
    struct vmdl_tdx_rd_ctx ctx;
    unsigned dry_per_field;   /* NO_ENTROPY answers before each real read */
    unsigned left;
    uint64_t last_id;
    uint64_t fixed;           /* non-zero: answer this for every read */
    unsigned calls;
};

static uint64_t flaky_rd(void *opaque, uint64_t id, uint64_t *value)
{
    struct flaky *f = opaque;
    f->calls++;
    if (f->fixed)
        return f->fixed;
    if (id != f->last_id) {
        f->last_id = id;
        f->left = f->dry_per_field;
    }
    if (f->left) {
        f->left--;
        return 0x8000020300000000ull;
    }
    return vmdl_tdx_rd_module(&f->ctx, id, value);
}

/*
 * Linux's sc_retry (asm/tdx.h; seamcall_internal.h in newer trees): a
 * SEAMCALL answering TDX_RND_NO_ENTROPY is issued again, at most
 * RDRAND_RETRY_LOOPS (10, asm/archrandom.h) times in all.
 */
static void test_reader_retries_no_entropy(void **state)
{
    (void)state;
    struct vmdl_tdx *m = make_ready("tdx-1.5.08");
    static struct vmdl_tdx_sys_info info;
    struct vmdl_tdx_read_result res;
    struct flaky f = {.ctx = {m, 0}, .dry_per_field = 9, .last_id = NA};
    assert_int_equal(vmdl_tdx_read_sys_info(flaky_rd, &f, &info, &res), 0);
    assert_int_equal(res.nr_reads, 10u * (3 + 15 + 3 * 6 + 3));
    assert_int_equal(f.calls, res.nr_reads);
    assert_int_equal(info.version.minor_version, 5);
    /* ten dry answers for one read: Linux gives up, -EIO */
    f = (struct flaky){.ctx = {m, 0}, .dry_per_field = 10, .last_id = NA};
    assert_int_equal(vmdl_tdx_read_sys_info(flaky_rd, &f, &info, &res), VMDL_EIO);
    assert_int_equal(res.status, 0x8000020300000000ull);
    assert_int_equal(res.nr_reads, 10);
    assert_string_equal(res.field_name, "MINOR_VERSION");
    vmdl_tdx_destroy(m);
}

/*
 * sc_retry_prerr (Linux arch/x86/virt/vmx/tdx/tdx.c): VMfailInvalid ->
 * -ENODEV, #GP -> -EOPNOTSUPP, #UD -> -EACCES, any module error -> -EIO
 * with "SEAMCALL (0x%016llx) failed: 0x%016llx" printed; the software
 * statuses are TDX_SW_ERROR (bit 63 | bits 47:40) | 0xFFFF0000 / trap number
 * (asm/tdx.h).
 */
static void test_seamcall_errno_mapping(void **state)
{
    (void)state;
    assert_int_equal(VMDL_TDX_SEAMCALL_VMFAILINVALID, 0x8000FF00FFFF0000ull);
    assert_int_equal(VMDL_TDX_SEAMCALL_GP, 0x8000FF000000000Dull);
    assert_int_equal(VMDL_TDX_SEAMCALL_UD, 0x8000FF0000000006ull);
    assert_int_equal(VMDL_TDX_RND_NO_ENTROPY, 0x8000020300000000ull);
    assert_int_equal(vmdl_tdx_seamcall_errno(0), 0);
    assert_int_equal(vmdl_tdx_seamcall_errno(VMDL_TDX_SEAMCALL_VMFAILINVALID), -19);
    assert_int_equal(vmdl_tdx_seamcall_errno(VMDL_TDX_SEAMCALL_GP), -95);
    assert_int_equal(vmdl_tdx_seamcall_errno(VMDL_TDX_SEAMCALL_UD), -13);
    assert_int_equal(vmdl_tdx_seamcall_errno(VMDL_TDX_METADATA_FIELD_ID_INCORRECT), -5);
    assert_int_equal(vmdl_tdx_seamcall_errno(VMDL_TDX_RND_NO_ENTROPY), -5);
    /* an informational status is not TDX_SUCCESS either */
    assert_int_equal(vmdl_tdx_seamcall_errno(VMDL_TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT), -5);

    char buf[256];
    struct vmdl_tdx_regs r = {.rcx = 1, .rdx = NA, .r8 = 0, .r9 = 2, .r10 = 3, .r11 = 4};
    assert_true(vmdl_tdx_format_seamcall_err(34, 0xC0000C0000000000ull, NULL, buf,
                                             sizeof buf) > 0);
    assert_string_equal(buf, "virt/tdx: SEAMCALL (0x0000000000000022) failed: "
                             "0xc0000c0000000000");
    assert_true(vmdl_tdx_format_seamcall_err(34, 0xC0000C0000000000ull, &r, buf,
                                             sizeof buf) > 0);
    assert_string_equal(buf,
        "virt/tdx: SEAMCALL (0x0000000000000022) failed: 0xc0000c0000000000\n"
        "virt/tdx: RCX 0x0000000000000001 RDX 0xffffffffffffffff R08 0x0000000000000000\n"
        "virt/tdx: R09 0x0000000000000002 R10 0x0000000000000003 R11 0x0000000000000004");
    assert_int_equal(vmdl_tdx_format_seamcall_err(34, 0, &r, buf, 20), VMDL_ERANGE);
    assert_int_equal(vmdl_tdx_format_seamcall_err(34, 0, NULL, NULL, 20), VMDL_EINVAL);
}

static void expect_errno(struct flaky *f, int err, int linux_err, const char *msg)
{
    static struct vmdl_tdx_sys_info info;
    struct vmdl_tdx_read_result res;
    assert_int_equal(vmdl_tdx_read_sys_info(flaky_rd, f, &info, &res), err);
    assert_int_equal(res.linux_err, linux_err);
    assert_string_equal(res.message, msg);
}

static void test_reader_linux_errno(void **state)
{
    (void)state;
    struct vmdl_tdx *m = make_ready("tdx-1.5.08");
    struct flaky f = {.ctx = {m, 0}, .last_id = NA};
    expect_errno(&f, 0, 0, "");
    f.fixed = VMDL_TDX_SEAMCALL_GP;
    expect_errno(&f, VMDL_EIO, -VMDL_LINUX_EOPNOTSUPP, "");
    f.fixed = VMDL_TDX_SEAMCALL_UD;
    expect_errno(&f, VMDL_EIO, -VMDL_LINUX_EACCES, "");
    /* no module: the C API reports what Linux's wrapper makes of CF=1 */
    f.fixed = 0;
    vmdl_tdx_unload(m);
    assert_int_equal(vmdl_tdx_sys_rd(m, 0, fid("MINOR_VERSION"), NULL, NULL),
                     VMDL_TDX_SEAMCALL_VMFAILINVALID);
    expect_errno(&f, VMDL_EIO, -VMDL_LINUX_ENODEV, "");
    vmdl_tdx_destroy(m);
    /* a module error: -EIO and Linux's line */
    m = make_text("vmdl-tdx-profile 1\nname x\nbase tdx-1.5.08\n"
                  "unreadable MAX_TDMRS\n");
    f = (struct flaky){.ctx = {m, 0}, .last_id = NA};
    expect_errno(&f, VMDL_EIO, -VMDL_LINUX_EIO,
                 "virt/tdx: SEAMCALL (0x0000000000000022) failed: 0xc0000c0200000000");
    vmdl_tdx_destroy(m);
    /* more CPUID configurations than the structure holds: -EINVAL */
    m = make_text("vmdl-tdx-profile 1\nname x\nbase tdx-1.5.08\n"
                  "field NUM_CPUID_CONFIG = 129\n");
    f = (struct flaky){.ctx = {m, 0}, .last_id = NA};
    expect_errno(&f, VMDL_ERANGE, -VMDL_LINUX_EINVAL, "");
    vmdl_tdx_destroy(m);
}

/* vmdl_tdx_init_all retries like Linux's sc_retry; a dry module changes
 * nothing. */
static void test_init_all_retries_no_entropy(void **state)
{
    (void)state;
    struct vmdl_tdx *m = make("tdx-1.5.08");
    vmdl_tdx_inject_no_entropy(m, 9);
    assert_int_equal(vmdl_tdx_init_all(m), VMDL_TDX_SUCCESS);
    assert_true(vmdl_tdx_lp_initialized(m, 1));
    vmdl_tdx_load(m);
    vmdl_tdx_inject_no_entropy(m, 10);
    assert_int_equal(vmdl_tdx_init_all(m), VMDL_TDX_RND_NO_ENTROPY);
    assert_int_equal(vmdl_tdx_get_state(m), VMDL_TDX_LOADED);
    assert_int_equal(vmdl_tdx_init_all(m), VMDL_TDX_SUCCESS);
    /* one dry answer per LP.INIT: still brought up */
    vmdl_tdx_load(m);
    struct vmdl_tdx_regs r = {.rax = VMDL_TDH_SYS_INIT};
    assert_int_equal(vmdl_tdx_seamcall(m, 0, &r), 0);
    assert_int_equal(r.rax, 0);
    vmdl_tdx_inject_no_entropy(m, 1);
    r = (struct vmdl_tdx_regs){.rax = VMDL_TDH_SYS_LP_INIT, .rcx = 7};
    assert_int_equal(vmdl_tdx_seamcall(m, 1, &r), 0);
    assert_int_equal(r.rax, VMDL_TDX_RND_NO_ENTROPY);
    assert_int_equal(r.rcx, 7);               /* nothing else happened */
    assert_false(vmdl_tdx_lp_initialized(m, 1));
    /* an import clears a pending injection */
    uint8_t *blob;
    size_t len;
    assert_int_equal(vmdl_tdx_export(m, &blob, &len), 0);
    vmdl_tdx_inject_no_entropy(m, 5);
    assert_int_equal(vmdl_tdx_import(m, blob, len), 0);
    free(blob);
    assert_int_equal(vmdl_tdx_sys_rd(m, 0, NA, NULL, NULL), VMDL_TDX_SYS_LP_INIT_NOT_DONE);
    vmdl_tdx_unload(m);
    assert_int_equal(vmdl_tdx_init_all(m), VMDL_TDX_SEAMCALL_VMFAILINVALID);
    vmdl_tdx_destroy(m);
}

/* Every metadata status of the ABI's class 0x0C and Linux's software
 * statuses have names; TDX_FEATURES0 bit names follow the module's
 * tdx_features_enum0_t (bit 36 DYNAMIC_PAMT from Linux's DPAMT series). */
static void test_status_and_feature_names(void **state)
{
    (void)state;
    static const struct { uint64_t s; const char *n; } st[] = {
        {0xC0000C0100000000ull, "TDX_METADATA_FIELD_NOT_WRITABLE"},
        {0xC0000C0300000000ull, "TDX_METADATA_FIELD_VALUE_NOT_VALID"},
        {0xC0000C0400000000ull, "TDX_METADATA_LIST_OVERFLOW"},
        {0xC0000C0500000000ull, "TDX_INVALID_METADATA_LIST_HEADER"},
        {0xC0000C0600000000ull, "TDX_REQUIRED_METADATA_FIELD_MISSING"},
        {0xC0000C0700000000ull, "TDX_METADATA_ELEMENT_SIZE_INCORRECT"},
        {0xC0000C0800000000ull, "TDX_METADATA_LAST_ELEMENT_INCORRECT"},
        {0xC0000C0900000000ull, "TDX_METADATA_FIELD_CURRENTLY_NOT_WRITABLE"},
        {0xC0000C0A00000000ull, "TDX_METADATA_WR_MASK_NOT_VALID"},
        {0x00000C0B00000000ull, "TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT"},
        {0x00000C0C00000000ull, "TDX_METADATA_FIELD_SKIP"},
        {0x8000020300000000ull, "TDX_RND_NO_ENTROPY"},
        {0x8000020200000000ull, "TDX_SYS_BUSY"},
        {0x8000020000000000ull, "TDX_OPERAND_BUSY"},
        {0x8000FF00FFFF0000ull, "TDX_SEAMCALL_VMFAILINVALID"},
        {0x8000FF000000000Dull, "TDX_SEAMCALL_GP"},
        {0x8000FF0000000006ull, "TDX_SEAMCALL_UD"},
        {0x8000FF0000000007ull, "unknown"},
    };
    for (unsigned i = 0; i < sizeof(st) / sizeof(st[0]); i++)
        assert_string_equal(vmdl_tdx_status_name(st[i].s), st[i].n);
    static const struct { unsigned bit; const char *n; } fb[] = {
        {0, "TD_MIGRATION"}, {1, "TD_PRESERVING"}, {2, "SERVICE_TD"},
        {3, "TDG_VP_RDWR"}, {4, "RELAXED_MEM_MNG_CONCURRENCY"},
        {5, "CPUID_VIRT_GUEST_CTRL"}, {7, "TD_PARTITIONING"},
        {8, "LOCAL_ATTESTATION"}, {9, "TD_ENTRY_ENHANCEMENTS"},
        {10, "HOST_PRIORITY_LOCKS"}, {11, "CONFIG_IA32_ARCH_CAP"},
        {16, "PENDING_EPT_VIOLATION_V2"}, {17, "FMS_CONFIG"}, {18, "NO_RBP_MOD"},
        {19, "L2_TLB_INVD_OPT"}, {20, "TOPOLOGY_ENUM"},
        {21, "PARTITIONED_TD_MIGRATION"}, {25, "ICSSD"}, {26, "FIXED_CTR12_PROF"},
        {27, "MAXPA_VIRT"}, {28, "APX"}, {29, "CPUID2_VIRT"}, {36, "DYNAMIC_PAMT"},
    };
    unsigned named = 0;
    for (unsigned b = 0; b < 70; b++)
        named += vmdl_tdx_features0_name(b) != NULL;
    assert_int_equal(named, sizeof(fb) / sizeof(fb[0]));
    for (unsigned i = 0; i < sizeof(fb) / sizeof(fb[0]); i++)
        assert_string_equal(vmdl_tdx_features0_name(fb[i].bit), fb[i].n);
    assert_null(vmdl_tdx_features0_name(6));
    assert_null(vmdl_tdx_features0_name(64));
    assert_int_equal(VMDL_TDX_FEATURES0_NO_RBP_MOD, 1ull << 18);
    assert_int_equal(VMDL_TDX_FEATURES0_DYNAMIC_PAMT, 1ull << 36);
}

static void test_format_version(void **state)
{
    (void)state;
    struct vmdl_tdx_sys_info_version v = {.major_version = 1,
                                          .minor_version = 5,
                                          .update_version = 0};
    char buf[64];
    assert_int_equal(vmdl_tdx_format_version(&v, buf, sizeof buf), 32);
    assert_string_equal(buf, "virt/tdx: Module version: 1.5.00");
    v.update_version = 123;
    v.major_version = 65535;
    vmdl_tdx_format_version(&v, buf, sizeof buf);
    assert_string_equal(buf, "virt/tdx: Module version: 65535.5.123");
    assert_int_equal(vmdl_tdx_format_version(&v, buf, 10), VMDL_ERANGE);
    assert_int_equal(vmdl_tdx_format_version(NULL, buf, 10), VMDL_EINVAL);
}

/* ------------------------------------------------------------------ */
/* Profiles                                                           */

static void test_builtin_profiles(void **state)
{
    (void)state;
    assert_int_equal(vmdl_tdx_builtin_count(), 3);
    for (unsigned i = 0; i < vmdl_tdx_builtin_count(); i++) {
        struct vmdl_tdx_profile *p = NULL;
        assert_int_equal(vmdl_tdx_profile_builtin(vmdl_tdx_builtin_name(i), &p), 0);
        assert_string_equal(vmdl_tdx_profile_name(p), vmdl_tdx_builtin_name(i));
        assert_non_null(strstr(vmdl_tdx_builtin_text(i), "vmdl-tdx-profile 1"));
        vmdl_tdx_profile_free(p);
    }
    assert_null(vmdl_tdx_builtin_name(3));
    assert_null(vmdl_tdx_builtin_text(3));
    struct vmdl_tdx_profile *p = NULL;
    assert_int_equal(vmdl_tdx_profile_builtin("tdx-9.9.99", &p), VMDL_ENOENT);
    /* Profile differences. */
    assert_int_equal(vmdl_tdx_profile_builtin("tdx-1.5.05", &p), 0);
    assert_int_equal(vmdl_tdx_profile_present(p, (unsigned)field("MODULE_HV")), 0);
    assert_int_equal(vmdl_tdx_profile_present(p, (unsigned)field("PAMT_PAGE_BITMAP_ENTRY_BITS")), 0);
    uint64_t v = 1;
    assert_int_equal(vmdl_tdx_profile_get(p, (unsigned)field("MODULE_HV"), 0, &v), VMDL_ENOENT);
    assert_int_equal(v, 0);
    assert_int_equal(vmdl_tdx_profile_get(p, VMDL_TDX_NR_FIELDS, 0, &v), VMDL_ERANGE);
    assert_int_equal(vmdl_tdx_profile_get(p, 0, 1, &v), VMDL_ERANGE);
    assert_int_equal(vmdl_tdx_profile_present(p, VMDL_TDX_NR_FIELDS), VMDL_ERANGE);
    /* Defaults: unset CPUID leaves read as all ones, VENDOR_ID 0x8086. */
    assert_int_equal(pv(p, "CPUID_CONFIG_LEAVES", 31), ~0ull);
    assert_int_equal(pv(p, "VENDOR_ID", 0), 0x8086);
    vmdl_tdx_profile_free(p);
    assert_int_equal(vmdl_tdx_profile_builtin("tdx-2.0.02", &p), 0);
    assert_int_equal(vmdl_tdx_profile_present(p, (unsigned)field("PAMT_PAGE_BITMAP_ENTRY_BITS")), 1);
    assert_int_equal(pv(p, "MAX_VCPUS_PER_TD", 0), 2048);
    /* Inherited from 1.5.05 through 1.5.08. */
    assert_int_equal(pv(p, "XFAM_FIXED1", 0), 3);
    vmdl_tdx_profile_free(p);
}

static void test_profile_syntax_accepted(void **state)
{
    (void)state;
    struct vmdl_tdx_profile *p =
        parse("# leading comment\r\n\r\n  vmdl-tdx-profile 1   # header\r\n"
              "name custom_1.0+x\n"
              "field MAJOR_VERSION = 3\n"
              "field\tMINOR_VERSION\t=\t0x2\n"
              "field 0x0800000100000005 = 11\n"
              "field CPUID_CONFIG_VALUES[63] = 0xFFFFFFFFFFFFFFFF\n"
              "absent CMR_SIZE\npresent CMR_SIZE\nunreadable BUILD_NUM\n"
              "readable BUILD_NUM\nunreadable NUM_CMRS\n"
              "size-check ignore\n");
    assert_string_equal(vmdl_tdx_profile_name(p), "custom_1.0+x");
    assert_int_equal(pv(p, "MAJOR_VERSION", 0), 3);
    assert_int_equal(pv(p, "MINOR_VERSION", 0), 2);
    assert_int_equal(pv(p, "UPDATE_VERSION", 0), 11);
    assert_int_equal(pv(p, "CPUID_CONFIG_VALUES", 63), ~0ull);
    assert_int_equal(vmdl_tdx_profile_readable(p, (unsigned)field("BUILD_NUM")), 1);
    assert_int_equal(vmdl_tdx_profile_readable(p, (unsigned)field("NUM_CMRS")), 0);
    assert_int_equal(vmdl_tdx_profile_present(p, (unsigned)field("NUM_CMRS")), 1);
    assert_int_equal(vmdl_tdx_profile_present(p, (unsigned)field("CMR_SIZE")), 1);
    vmdl_tdx_profile_free(p);
    /* A base: values inherited, then overridden; own name kept. */
    p = parse("vmdl-tdx-profile 1\nname mine\nbase tdx-1.5.08\n"
              "field UPDATE_VERSION = 9\n");
    assert_string_equal(vmdl_tdx_profile_name(p), "mine");
    assert_int_equal(pv(p, "UPDATE_VERSION", 0), 9);
    assert_int_equal(pv(p, "MODULE_HV", 0), 1);
    vmdl_tdx_profile_free(p);
}

static void test_profile_refusals(void **state)
{
    (void)state;
    static const struct { const char *text; const char *msg; } cases[] = {
        {"", "t.tdx:0: empty profile"},
        {"# only a comment\n", "t.tdx:1: empty profile"},
        {"name x\n", "t.tdx:1: missing header"},
        {"vmdl-tdx-profile 2\n", "t.tdx:1: unsupported profile format version"},
        {"vmdl-tdx-profile\n", "t.tdx:1: unsupported profile format version"},
        {"vmdl-tdx-profile 1\n", "t.tdx:1: no 'name' line"},
        {"vmdl-tdx-profile 1\nvmdl-tdx-profile 1\n", "t.tdx:2: second header"},
        {"vmdl-tdx-profile 1\nname a b\n", "t.tdx:2: bad name"},
        {"vmdl-tdx-profile 1\nname a/b\n", "t.tdx:2: bad name"},
        {"vmdl-tdx-profile 1\nname\n", "t.tdx:2: bad name"},
        {"vmdl-tdx-profile 1\nname a\nname b\n", "t.tdx:3: second 'name'"},
        {"vmdl-tdx-profile 1\nname a\nfrobnicate X\n",
         "t.tdx:3: unknown directive \"frobnicate\""},
        {"vmdl-tdx-profile 1\nname a\nfield NOPE = 1\n",
         "t.tdx:3: unknown field \"NOPE\""},
        {"vmdl-tdx-profile 1\nname a\nfield MAJOR_VERSION 1\n",
         "t.tdx:3: expected 'field NAME = VALUE'"},
        {"vmdl-tdx-profile 1\nname a\nfield MAJOR_VERSION =\n",
         "t.tdx:3: expected 'field NAME = VALUE'"},
        {"vmdl-tdx-profile 1\nname a\nfield MAJOR_VERSION = 1 2\n",
         "t.tdx:3: unexpected text after the value"},
        {"vmdl-tdx-profile 1\nname a\nfield MAJOR_VERSION = one\n",
         "t.tdx:3: bad value \"one\""},
        {"vmdl-tdx-profile 1\nname a\nfield MAJOR_VERSION = -1\n",
         "t.tdx:3: bad value \"-1\""},
        {"vmdl-tdx-profile 1\nname a\nfield MAJOR_VERSION = 010\n",
         "t.tdx:3: bad value \"010\""},
        {"vmdl-tdx-profile 1\nname a\nfield MAJOR_VERSION = 0x10000\n",
         "t.tdx:3: value 0x10000 does not fit MAJOR_VERSION (16-bit elements)"},
        {"vmdl-tdx-profile 1\nname a\nfield TDX_FEATURES0 = 0x10000000000000000\n",
         "t.tdx:3: bad value"},
        {"vmdl-tdx-profile 1\nname a\nfield CMR_BASE[32] = 1\n",
         "t.tdx:3: index 32 out of range: CMR_BASE has 32 elements"},
        {"vmdl-tdx-profile 1\nname a\nfield CMR_BASE[x] = 1\n",
         "t.tdx:3: bad element index \"x\""},
        {"vmdl-tdx-profile 1\nname a\nfield CMR_BASE[1 = 1\n",
         "t.tdx:3: bad element index"},
        {"vmdl-tdx-profile 1\nname a\nfield 0x0800000101000004 = 1\n",
         "t.tdx:3: field ID 0x0800000101000004 has reserved or sequence bits set"},
        {"vmdl-tdx-profile 1\nname a\nfield 0x0800000100000077 = 1\n",
         "t.tdx:3: no modelled field has ID 0x0800000100000077"},
        {"vmdl-tdx-profile 1\nname a\nfield 0x0800000300000004 = 1\n",
         "t.tdx:3: field ID 0x0800000300000004 does not match MAJOR_VERSION"},
        {"vmdl-tdx-profile 1\nname a\nfield 0x0810000100000004 = 1\n",
         "not a platform-scope (SYS) field"},
        {"vmdl-tdx-profile 1\nname a\nbase tdx-0.1\n",
         "t.tdx:3: unknown base profile \"tdx-0.1\""},
        {"vmdl-tdx-profile 1\nname a\nfield MAJOR_VERSION = 1\nbase tdx-1.5.08\n",
         "t.tdx:4: 'base' must come before"},
        {"vmdl-tdx-profile 1\nbase tdx-1.5.08\nbase tdx-1.5.08\n",
         "t.tdx:3: second 'base' line"},
        {"vmdl-tdx-profile 1\nname a\nbase tdx-1.5.05\nfield MODULE_HV = 1\n",
         "t.tdx:4: MODULE_HV is absent: add 'present MODULE_HV' first"},
        {"vmdl-tdx-profile 1\nname a\nabsent CMR_BASE\nunreadable CMR_BASE\n",
         "t.tdx:4: CMR_BASE is absent"},
        {"vmdl-tdx-profile 1\nname a\nabsent CMR_BASE[0]\n",
         "t.tdx:3: an index is not allowed here"},
        {"vmdl-tdx-profile 1\nname a\nabsent 0x0800000100000004\n",
         "t.tdx:3: give a field name here"},
        {"vmdl-tdx-profile 1\nname a\nabsent\n", "t.tdx:3: expected 'absent NAME'"},
        {"vmdl-tdx-profile 1\nname a\nabsent CMR_BASE CMR_SIZE\n",
         "t.tdx:3: unexpected text after the field name"},
        {"vmdl-tdx-profile 1\nname a\nsize-check maybe\n",
         "t.tdx:3: expected 'size-check strict' or 'size-check ignore'"},
    };
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct vmdl_tdx_profile *p = (void *)1;
        int err = vmdl_tdx_profile_parse(cases[i].text, strlen(cases[i].text),
                                         "t.tdx", &p);
        if (err != VMDL_EFORMAT || !strstr(vmdl_last_error(), cases[i].msg))
            fail_msg("case %u: err %d message \"%s\", want \"%s\"", i, err,
                     vmdl_last_error(), cases[i].msg);
        assert_ptr_equal(p, (void *)1); /* untouched on failure */
    }
    /* Long line and NUL byte. */
    char longline[700] = "vmdl-tdx-profile 1\nname a\n# ";
    memset(longline + strlen(longline), 'x', 600);
    longline[sizeof longline - 1] = '\0';
    struct vmdl_tdx_profile *p = NULL;
    assert_int_equal(vmdl_tdx_profile_parse(longline, strlen(longline), "t.tdx", &p),
                     VMDL_EFORMAT);
    assert_non_null(strstr(vmdl_last_error(), "t.tdx:3: line longer than"));
    static const char nul[] = "vmdl-tdx-profile 1\nna\0me a\n";
    assert_int_equal(vmdl_tdx_profile_parse(nul, sizeof nul - 1, "t.tdx", &p),
                     VMDL_EFORMAT);
    assert_non_null(strstr(vmdl_last_error(), "t.tdx:2: NUL byte"));
    assert_int_equal(vmdl_tdx_profile_parse(NULL, 0, "t", &p), VMDL_EINVAL);
}

static void test_profile_files(void **state)
{
    (void)state;
    char path[] = "/tmp/vmdl_tdx_profile_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    static const char good[] = "vmdl-tdx-profile 1\nname from-file\n"
                               "base tdx-2.0.02\nfield UPDATE_VERSION = 7\n";
    assert_int_equal(write(fd, good, sizeof good - 1), (ssize_t)(sizeof good - 1));
    close(fd);
    struct vmdl_tdx *m = NULL;
    assert_int_equal(vmdl_tdx_create_named(path, 1, &m), 0);
    assert_string_equal(vmdl_tdx_profile_of(m), "from-file");
    assert_int_equal(vmdl_tdx_nr_lps(m), 1);
    assert_int_equal(vmdl_tdx_init_all(m), 0);
    static struct vmdl_tdx_sys_info info;
    assert_int_equal(read_info(m, &info, NULL), 0);
    char buf[64];
    vmdl_tdx_format_version(&info.version, buf, sizeof buf);
    assert_string_equal(buf, "virt/tdx: Module version: 2.0.07");
    vmdl_tdx_destroy(m);
    /* A malformed file: the message names the path and the line. */
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("vmdl-tdx-profile 1\nname bad\n\nfield MAX_TDMRS = 70000\n", f);
    fclose(f);
    struct vmdl_tdx_profile *p = NULL;
    assert_int_equal(vmdl_tdx_profile_load(path, &p), VMDL_EFORMAT);
    char want[128];
    snprintf(want, sizeof want, "%s:4: value 70000 does not fit MAX_TDMRS", path);
    assert_non_null(strstr(vmdl_last_error(), want));
    unlink(path);
    assert_int_equal(vmdl_tdx_profile_load(path, &p), VMDL_EIO);
    assert_non_null(strstr(vmdl_last_error(), "cannot open"));
    assert_int_equal(vmdl_tdx_profile_open(NULL, &p), VMDL_EINVAL);
}

#ifdef TDX_PROFILE_DIR
/* The profile files shipped for the guest tests. */
static void test_profile_files_in_tree(void **state)
{
    (void)state;
    struct vmdl_tdx *m = NULL;
    assert_int_equal(vmdl_tdx_create_named(TDX_PROFILE_DIR "/custom-3.1.04.tdx",
                                           1, &m), 0);
    assert_int_equal(vmdl_tdx_init_all(m), 0);
    static struct vmdl_tdx_sys_info info;
    assert_int_equal(read_info(m, &info, NULL), 0);
    char buf[64];
    vmdl_tdx_format_version(&info.version, buf, sizeof buf);
    assert_string_equal(buf, "virt/tdx: Module version: 3.1.04");
    assert_int_equal(info.tdmr.max_tdmrs, 32);
    vmdl_tdx_destroy(m);
    struct vmdl_tdx_profile *p = NULL;
    assert_int_equal(vmdl_tdx_profile_load(TDX_PROFILE_DIR "/bad-value.tdx", &p),
                     VMDL_EFORMAT);
    assert_non_null(strstr(vmdl_last_error(),
                           "bad-value.tdx:4: value 70000 does not fit MAX_TDMRS"));
}
#endif

/* ------------------------------------------------------------------ */
/* State blobs                                                        */

static void test_blob_roundtrip(void **state)
{
    (void)state;
    struct vmdl_tdx *a = make_text("vmdl-tdx-profile 1\nname custom\n"
                                   "base tdx-1.5.08\nfield MINOR_VERSION = 6\n"
                                   "unreadable CMR_SIZE\nsize-check ignore\n");
    /* Partially initialized: LP 1 not yet. */
    struct vmdl_tdx *b = make("tdx-2.0.02");
    vmdl_tdx_destroy(a);
    a = make("tdx-1.5.08");
    struct vmdl_tdx_regs r = {.rax = VMDL_TDH_SYS_INIT};
    vmdl_tdx_seamcall(a, 0, &r);
    r = (struct vmdl_tdx_regs){.rax = VMDL_TDH_SYS_LP_INIT};
    vmdl_tdx_seamcall(a, 0, &r);
    uint8_t *blob = NULL;
    size_t len = 0;
    assert_int_equal(vmdl_tdx_export(a, &blob, &len), 0);
    assert_int_equal(vmdl_tdx_import(b, blob, len), 0);
    assert_string_equal(vmdl_tdx_profile_of(b), "tdx-1.5.08");
    assert_int_equal(vmdl_tdx_get_state(b), VMDL_TDX_SYSINIT_DONE);
    assert_true(vmdl_tdx_lp_initialized(b, 0));
    assert_false(vmdl_tdx_lp_initialized(b, 1));
    uint64_t v;
    assert_int_equal(vmdl_tdx_sys_rd(b, 0, fid("MAJOR_VERSION"), &v, NULL), 0);
    assert_int_equal(v, 1);
    assert_int_equal(vmdl_tdx_sys_rd(b, 1, fid("MAJOR_VERSION"), &v, NULL),
                     VMDL_TDX_SYS_LP_INIT_NOT_DONE);
    /* Exports of equal states are equal. */
    uint8_t *blob2 = NULL;
    size_t len2 = 0;
    assert_int_equal(vmdl_tdx_export(b, &blob2, &len2), 0);
    assert_int_equal(len2, len);
    assert_memory_equal(blob, blob2, len);
    free(blob2);
    free(blob);
    vmdl_tdx_destroy(b);
    /* A custom store survives, flags and size mode included. */
    b = make_text("vmdl-tdx-profile 1\nname custom\nbase tdx-1.5.08\n"
                  "field MINOR_VERSION = 6\nunreadable CMR_SIZE\n"
                  "size-check ignore\n");
    assert_int_equal(vmdl_tdx_export(b, &blob, &len), 0);
    struct vmdl_tdx *c = make("tdx-1.5.05");
    assert_int_equal(vmdl_tdx_import(c, blob, len), 0);
    assert_int_equal(vmdl_tdx_get_size_check(c), VMDL_TDX_SIZE_IGNORE);
    assert_int_equal(vmdl_tdx_sys_rd(c, 1, fid("MINOR_VERSION"), &v, NULL), 0);
    assert_int_equal(v, 6);
    assert_int_equal(vmdl_tdx_sys_rd(c, 1, fid("CMR_SIZE"), &v, NULL),
                     VMDL_TDX_METADATA_FIELD_NOT_READABLE);
    free(blob);
    vmdl_tdx_destroy(b);
    vmdl_tdx_destroy(c);
    vmdl_tdx_destroy(a);
}

static void reseal(uint8_t *blob, size_t len)
{
    uint32_t crc = vmdl_crc32(0, blob + VMDL_BLOB_HEADER_SIZE,
                              len - VMDL_BLOB_HEADER_SIZE);
    for (int i = 0; i < 4; i++)
        blob[12 + i] = (uint8_t)(crc >> (8 * i));
}

static void test_blob_refusals_leave_state(void **state)
{
    (void)state;
    struct vmdl_tdx *src = make_ready("tdx-2.0.02");
    struct vmdl_tdx *dst = make("tdx-1.5.05");
    uint8_t *blob = NULL, *before = NULL, *after = NULL;
    size_t len = 0, blen = 0, alen = 0;
    assert_int_equal(vmdl_tdx_export(src, &blob, &len), 0);
    assert_int_equal(vmdl_tdx_export(dst, &before, &blen), 0);
    uint8_t *bad = malloc(len);
    /* Corrupted byte. */
    memcpy(bad, blob, len);
    bad[len / 2] ^= 0x40;
    assert_int_equal(vmdl_tdx_import(dst, bad, len), VMDL_EBADBLOB);
    assert_non_null(strstr(vmdl_last_error(), "checksum"));
    /* Truncated. */
    assert_int_equal(vmdl_tdx_import(dst, blob, len - 3), VMDL_EBADBLOB);
    assert_int_equal(vmdl_tdx_import(dst, blob, 8), VMDL_EBADBLOB);
    /* Other version. */
    memcpy(bad, blob, len);
    bad[4] = 9;
    assert_int_equal(vmdl_tdx_import(dst, bad, len), VMDL_EVERSION);
    /* Valid checksum, bad contents: state byte, size mode, LP count,
     * LP bits, value too wide for its field. */
    static const struct { size_t off; uint8_t val; const char *why; } sem[] = {
        {16, 7, "unknown module state"},
        {17, 3, "unknown size-check mode"},
        {18, 5, "number of LPs"},
        {20, 0xFF, "LP init bits beyond"},
    };
    for (unsigned i = 0; i < sizeof(sem) / sizeof(sem[0]); i++) {
        memcpy(bad, blob, len);
        bad[sem[i].off] = sem[i].val;
        reseal(bad, len);
        assert_int_equal(vmdl_tdx_import(dst, bad, len), VMDL_EBADBLOB);
        assert_non_null(strstr(vmdl_last_error(), sem[i].why));
    }
    /* LP bits with module only LOADED. */
    memcpy(bad, blob, len);
    bad[16] = VMDL_TDX_LOADED;
    reseal(bad, len);
    assert_int_equal(vmdl_tdx_import(dst, bad, len), VMDL_EBADBLOB);
    assert_non_null(strstr(vmdl_last_error(), "before TDH.SYS.INIT"));
    /* First element value (VENDOR_ID, 32-bit) made 64-bit wide. Layout:
     * 16 hdr + 1+1+2+8 + 48 name + 2 count + (8 id + 1 flags + 2 n) = 89. */
    memcpy(bad, blob, len);
    bad[89 + 7] = 0x80;
    reseal(bad, len);
    assert_int_equal(vmdl_tdx_import(dst, bad, len), VMDL_EBADBLOB);
    assert_non_null(strstr(vmdl_last_error(), "wider than its field"));
    /* Field ID in the blob differs from the table. */
    memcpy(bad, blob, len);
    bad[78] ^= 1;
    reseal(bad, len);
    assert_int_equal(vmdl_tdx_import(dst, bad, len), VMDL_EBADBLOB);
    assert_int_equal(vmdl_tdx_import(dst, NULL, len), VMDL_EINVAL);
    assert_int_equal(vmdl_tdx_import(NULL, blob, len), VMDL_EINVAL);
    /* After all that, dst is exactly as before. */
    assert_int_equal(vmdl_tdx_export(dst, &after, &alen), 0);
    assert_int_equal(alen, blen);
    assert_memory_equal(before, after, blen);
    assert_int_equal(vmdl_tdx_export(dst, NULL, &alen), VMDL_EINVAL);
    free(bad);
    free(blob);
    free(before);
    free(after);
    vmdl_tdx_destroy(src);
    vmdl_tdx_destroy(dst);
}


/* ------------------------------------------------------------------ */
/* TDH.SYS.RDALL                                                      */

struct collect {
    struct vmdl_tdx *m;
    unsigned char seen[VMDL_TDX_NR_FIELDS][64];
    unsigned n;
    int dup, bad;
};

static void collect_fn(void *opaque, uint64_t id, uint64_t value)
{
    struct collect *c = opaque;
    unsigned k;
    int f = vmdl_tdx_field_by_id(id, &k);
    uint64_t v = 0;
    if (f < 0 || vmdl_tdx_sys_rd(c->m, 0, id, &v, NULL) || v != value ||
        vmdl_tdx_fid_elem_size_code(id) !=
            vmdl_tdx_fid_elem_size_code(vmdl_tdx_field((unsigned)f)->base_id)) {
        c->bad++;
        return;
    }
    if (c->seen[f][k]++)
        c->dup++;
    c->n++;
}

static uint8_t rdall_ram[3 * 4096];

static uint64_t rdall(struct vmdl_tdx *m, uint64_t gpa, uint64_t start,
                      uint64_t *next)
{
    struct vmdl_tdx_regs r = {.rax = VMDL_TDH_SYS_RDALL, .rdx = gpa, .r8 = start};
    assert_int_equal(vmdl_tdx_seamcall(m, 0, &r), 0);
    *next = r.r8;
    assert_int_equal(r.rdx, gpa);
    return r.rax;
}

static void check_rdall(const char *profile, unsigned want)
{
    static struct vmdl_flat_mem flat = {rdall_ram, 0x10000, sizeof rdall_ram};
    struct vmdl_guest_mem mem;
    vmdl_flat_mem_init(&mem, &flat);
    struct vmdl_tdx *m = make_ready(profile);
    vmdl_tdx_set_guest_mem(m, &mem);
    memset(rdall_ram, 0xEE, sizeof rdall_ram);
    uint64_t next = 0;
    assert_int_equal(rdall(m, 0x11000, NA, &next), VMDL_TDX_SUCCESS);
    assert_int_equal(next, NA);
    static struct collect c;
    memset(&c, 0, sizeof c);
    c.m = m;
    uint8_t *page = rdall_ram + 0x1000;
    uint16_t size = (uint16_t)(page[0] | page[1] << 8);
    assert_int_equal(vmdl_tdx_md_list_walk(page, 4096, collect_fn, &c), 0);
    assert_int_equal(c.bad, 0);
    assert_int_equal(c.dup, 0);
    assert_int_equal(c.n, want);
    /* Only the list's own bytes were written. */
    assert_int_equal(page[size], 0xEE);
    assert_int_equal(rdall_ram[0xFFF], 0xEE);
    /* First sequence: VENDOR_ID and BUILD_DATE (class 8, codes 0-1, 32-bit),
     * 2 fields of 1 element. */
    uint64_t h = 0;
    for (int i = 0; i < 8; i++)
        h |= (uint64_t)page[8 + i] << (8 * i);
    assert_int_equal(h, fid("VENDOR_ID") | 1ull << 38);
    vmdl_tdx_destroy(m);
}

static void test_rdall_1_5_05(void **s) { (void)s; check_rdall("tdx-1.5.05", 185); }
static void test_rdall_1_5_08(void **s) { (void)s; check_rdall("tdx-1.5.08", 188); }
static void test_rdall_2_0_02(void **s) { (void)s; check_rdall("tdx-2.0.02", 189); }

static void test_rdall_errors(void **state)
{
    (void)state;
    static struct vmdl_flat_mem flat = {rdall_ram, 0x10000, sizeof rdall_ram};
    struct vmdl_guest_mem mem;
    vmdl_flat_mem_init(&mem, &flat);
    struct vmdl_tdx *m = make("tdx-1.5.08");
    uint64_t next = 0;
    /* LP not initialized (checked before the address). */
    assert_int_equal(rdall(m, 3, NA, &next), VMDL_TDX_SYS_LP_INIT_NOT_DONE);
    assert_int_equal(next, NA);
    assert_int_equal(vmdl_tdx_init_all(m), 0);
    /* No guest memory bound, misaligned, not RAM. */
    assert_int_equal(rdall(m, 0x11000, NA, &next),
                     VMDL_TDX_OPERAND_INVALID | VMDL_TDX_OPERAND_RDX);
    vmdl_tdx_set_guest_mem(m, &mem);
    assert_int_equal(rdall(m, 0x11008, NA, &next),
                     VMDL_TDX_OPERAND_INVALID | VMDL_TDX_OPERAND_RDX);
    assert_int_equal(rdall(m, 0x13000, NA, &next),
                     VMDL_TDX_OPERAND_INVALID | VMDL_TDX_OPERAND_RDX);
    assert_int_equal(rdall(m, 0x0, NA, &next),
                     VMDL_TDX_OPERAND_INVALID | VMDL_TDX_OPERAND_RDX);
    /* Start IDs: not a field start, wrong size, absent, unknown. */
    assert_int_equal(rdall(m, 0x11000, fid("CPUID_CONFIG_VALUES") + 1, &next),
                     VMDL_TDX_METADATA_FIELD_ID_INCORRECT);
    assert_int_equal(rdall(m, 0x11000, fid("MAJOR_VERSION") | 3ull << 32, &next),
                     VMDL_TDX_METADATA_FIELD_ID_INCORRECT);
    assert_int_equal(rdall(m, 0x11000, fid("PAMT_PAGE_BITMAP_ENTRY_BITS"), &next),
                     VMDL_TDX_METADATA_FIELD_ID_INCORRECT);
    assert_int_equal(rdall(m, 0x11000, 0x0800000100000077ull, &next),
                     VMDL_TDX_METADATA_FIELD_ID_INCORRECT);
    assert_int_equal(next, NA);
    /* All ones but the context code: from the start. */
    assert_int_equal(rdall(m, 0x11000, NA & ~(7ull << 52), &next), VMDL_TDX_SUCCESS);
    assert_int_equal(next, NA);
    assert_int_equal(rdall_ram[0x1000 + 8], 0);  /* VENDOR_ID's field code */
    /* A start in the middle: the list begins there; context code ignored. */
    assert_int_equal(rdall(m, 0x11000, (fid("CPUID_CONFIG_VALUES") + 62) | 1ull << 52,
                           &next), VMDL_TDX_SUCCESS);
    uint8_t *page = rdall_ram + 0x1000;
    assert_int_equal(page[0] | page[1] << 8, 8 + 8 + 16);
    assert_int_equal(page[2], 1);
    vmdl_tdx_destroy(m);
}

static void test_rdall_overflow_resume(void **state)
{
    (void)state;
    struct vmdl_tdx *m = make_text("vmdl-tdx-profile 1\nname x\n"
                                   "base tdx-2.0.02\nunreadable CMR_BASE\n");
    uint8_t buf[4096];
    uint64_t next = 0;
    uint32_t len = 99;
    /* Too small for anything. */
    assert_int_equal(vmdl__tdx_dump_list(m, fid("NUM_CMRS"), buf, 23, &next, &len),
                     VMDL_TDX_METADATA_LIST_OVERFLOW);
    assert_int_equal(next, fid("NUM_CMRS"));
    assert_int_equal(len, 0);
    /* Starting on an unreadable field: its sequence is empty, skipped. */
    assert_int_equal(vmdl__tdx_dump_list(m, fid("CMR_BASE") + 3, buf, 4096, &next, &len),
                     VMDL_TDX_SUCCESS);
    uint64_t h = 0;
    for (int i = 0; i < 8; i++)
        h |= (uint64_t)buf[8 + i] << (8 * i);
    assert_int_equal(h, fid("CMR_SIZE") | 31ull << 38);
    /* Small pages (room for at least one 2-element field): every call
     * overflows but the last, and the pieces
     * together hold every readable element exactly once. */
    for (uint32_t size = 32; size <= 112; size += 40) {
        static struct collect c;
        memset(&c, 0, sizeof c);
        c.m = m;
        uint64_t start = NA;
        unsigned calls = 0;
        for (;;) {
            uint64_t st = vmdl__tdx_dump_list(m, start, buf, size, &next, &len);
            calls++;
            assert_true(len <= size);
            assert_int_equal(vmdl_tdx_md_list_walk(buf, len, collect_fn, &c), 0);
            if (st == VMDL_TDX_SUCCESS) {
                assert_int_equal(next, NA);
                break;
            }
            assert_int_equal(st, VMDL_TDX_METADATA_LIST_OVERFLOW);
            assert_true(next != NA && next != start);
            start = next;
            assert_true(calls < 1000);
        }
        assert_int_equal(c.bad, 0);
        assert_int_equal(c.dup, 0);
        assert_int_equal(c.n, 189 - 32);
        assert_true(calls > 5);
    }
    vmdl_tdx_destroy(m);
}

static void test_md_list_walk_refusals(void **state)
{
    (void)state;
    uint8_t b[64] = {0};
    static struct collect c;
    assert_int_equal(vmdl_tdx_md_list_walk(b, 4, collect_fn, &c), VMDL_EFORMAT);
    b[0] = 8;
    b[4] = 1;  /* reserved */
    assert_int_equal(vmdl_tdx_md_list_walk(b, 64, collect_fn, &c), VMDL_EFORMAT);
    b[4] = 0;
    b[0] = 80; /* bigger than the buffer */
    assert_int_equal(vmdl_tdx_md_list_walk(b, 64, collect_fn, &c), VMDL_EFORMAT);
    b[0] = 16;
    b[2] = 1;  /* one sequence of 1x1 element needs 24 bytes */
    assert_int_equal(vmdl_tdx_md_list_walk(b, 64, collect_fn, &c), VMDL_EFORMAT);
    b[0] = 32; /* 8 bytes too many */
    assert_int_equal(vmdl_tdx_md_list_walk(b, 64, collect_fn, &c), VMDL_EFORMAT);
    assert_non_null(strstr(vmdl_last_error(), "header says 32"));
    b[0] = 8;
    b[2] = 1;  /* a sequence header past the end */
    assert_int_equal(vmdl_tdx_md_list_walk(b, 64, collect_fn, &c), VMDL_EFORMAT);
    assert_int_equal(vmdl_tdx_md_list_walk(NULL, 64, collect_fn, &c), VMDL_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fid_layout_facts),
        cmocka_unit_test(test_fid_roundtrip_all_elements),
        cmocka_unit_test(test_fid_roundtrip_sweep),
        cmocka_unit_test(test_fid_encode_errors),
        cmocka_unit_test(test_fid_elem_size),
        cmocka_unit_test(test_fid_single_element_rules),
        cmocka_unit_test(test_fid_describe),
        cmocka_unit_test(test_table_linux_ids),
        cmocka_unit_test(test_table_lookup_consistent),
        cmocka_unit_test(test_init_sequence_and_states),
        cmocka_unit_test(test_unloaded_vmfailinvalid),
        cmocka_unit_test(test_dpamt_bits_linux_id),
        cmocka_unit_test(test_bad_leaf_and_args),
        cmocka_unit_test(test_every_field_1_5_05),
        cmocka_unit_test(test_every_field_1_5_08),
        cmocka_unit_test(test_every_field_2_0_02),
        cmocka_unit_test(test_walk_1_5_05),
        cmocka_unit_test(test_walk_1_5_08),
        cmocka_unit_test(test_walk_2_0_02),
        cmocka_unit_test(test_walk_skips_unreadable),
        cmocka_unit_test(test_rd_error_paths),
        cmocka_unit_test(test_status_names),
        cmocka_unit_test(test_reader_1_5_05),
        cmocka_unit_test(test_reader_1_5_08),
        cmocka_unit_test(test_reader_2_0_02),
        cmocka_unit_test(test_reader_missing_mandatory),
        cmocka_unit_test(test_reader_conditional_and_optional),
        cmocka_unit_test(test_reader_uninitialized_module),
        cmocka_unit_test(test_reader_size_mismatch_in_ignore_mode),
        cmocka_unit_test(test_reader_retries_no_entropy),
        cmocka_unit_test(test_seamcall_errno_mapping),
        cmocka_unit_test(test_reader_linux_errno),
        cmocka_unit_test(test_init_all_retries_no_entropy),
        cmocka_unit_test(test_status_and_feature_names),
        cmocka_unit_test(test_format_version),
        cmocka_unit_test(test_builtin_profiles),
        cmocka_unit_test(test_profile_syntax_accepted),
        cmocka_unit_test(test_profile_refusals),
        cmocka_unit_test(test_profile_files),
#ifdef TDX_PROFILE_DIR
        cmocka_unit_test(test_profile_files_in_tree),
#endif
        cmocka_unit_test(test_rdall_1_5_05),
        cmocka_unit_test(test_rdall_1_5_08),
        cmocka_unit_test(test_rdall_2_0_02),
        cmocka_unit_test(test_rdall_errors),
        cmocka_unit_test(test_rdall_overflow_resume),
        cmocka_unit_test(test_md_list_walk_refusals),
        cmocka_unit_test(test_blob_roundtrip),
        cmocka_unit_test(test_blob_refusals_leave_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
