/* SPDX-License-Identifier: MIT */
/*
 * EPT walk of L2 guest-physical addresses (vmx_ept.h): translations at the
 * three page sizes, 4- and 5-level tables, EPT violations with the exit
 * qualification of SDM Vol. 3C table 28-7, EPT misconfigurations (SDM
 * 29.3.3.1), accessed/dirty flags (29.3.5), mode-based execute control, the
 * EPTP rules of VM entry and INVEPT, the exit information of reasons
 * 48 and 49, and page-modification logging (29.3.6, exit reason 62).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "virtmodel/error.h"
#include "virtmodel/vmx.h"
#include "virtmodel/vmx_ept.h"
#include "machine/attach_vmx_ept.h"

#define RAM_SIZE (4u << 20)
#define PML5 0x10000u
#define PML4 0x11000u
#define PDPT 0x12000u
#define PD 0x13000u
#define PT 0x14000u
#define PAGE 0x200000u          /* the 4 KiB page L2's GPA maps to */
#define GPA 0x40201000ull       /* PML4 0, PDPT 1, PD 1, PT 1 */
#define RWX 7ull
#define WB_LEAF (6ull << 3)
/* The Sapphire Rapids profile's capability: execute-only, 4 levels, UC and
 * WB, 2 MiB and 1 GiB pages, INVEPT, A/D, advanced information. */
#define CAP 0x00000f0106734141ull

static uint8_t *ram;
static struct vmdl_flat_mem flat;
static struct vmdl_guest_mem mem;

static void put(uint64_t pa, uint64_t v) { memcpy(ram + pa, &v, 8); }
static uint64_t get(uint64_t pa)
{
    uint64_t v;
    memcpy(&v, ram + pa, 8);
    return v;
}

static uint64_t idx(uint64_t gpa, unsigned level)
{
    return ((gpa >> (12 + 9 * (level - 1))) & 0x1FF) * 8;
}

/* A 4-level map of GPA to PAGE, every entry RWX, WB leaf. */
static int setup(void **state)
{
    (void)state;
    ram = calloc(1, RAM_SIZE);
    if (!ram)
        return -1;
    flat = (struct vmdl_flat_mem){ram, 0, RAM_SIZE};
    vmdl_flat_mem_init(&mem, &flat);
    put(PML4 + idx(GPA, 4), PDPT | RWX);
    put(PDPT + idx(GPA, 3), PD | RWX);
    put(PD + idx(GPA, 2), PT | RWX);
    put(PT + idx(GPA, 1), PAGE | RWX | WB_LEAF);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(ram);
    return 0;
}

static struct vmdl_ept_config cfg4(bool ad)
{
    return (struct vmdl_ept_config){PML4 | VMDL_EPTP_MT_WB | VMDL_EPTP_PWL_4 |
                                    (ad ? VMDL_EPTP_AD : 0), CAP, 46, false};
}

static struct vmdl_ept_request rq(uint64_t gpa, enum vmdl_ept_access acc)
{
    return (struct vmdl_ept_request){.gpa = gpa, .access = acc, .gla_valid = true,
                                     .gla = 0x7000123};
}

static struct vmdl_ept_result walk(const struct vmdl_ept_config *c,
                                   const struct vmdl_ept_request *r)
{
    struct vmdl_ept_result out;
    assert_int_equal(vmdl_ept_walk(&mem, c, r, &out), VMDL_OK);
    return out;
}

/* Set `bits` in the entry of `level` (4 PML4E .. 1 PTE) on GPA's walk. */
static uint64_t entry_addr(unsigned level)
{
    static const uint64_t tab[] = {PT, PD, PDPT, PML4};
    return tab[level - 1] + idx(GPA, level);
}

static void twiddle(unsigned level, uint64_t clear, uint64_t set)
{
    uint64_t a = entry_addr(level);
    put(a, (get(a) & ~clear) | set);
}

#define GLA_BITS (VMDL_EPT_QUAL_GLA_VALID | VMDL_EPT_QUAL_GLA_XLATE)

static void test_eptp_rules(void **state)
{
    (void)state;
    struct vmdl_ept_config c = cfg4(false);
    assert_true(vmdl_ept_eptp_valid(&c));
    c.eptp = PML4 | VMDL_EPTP_MT_UC | VMDL_EPTP_PWL_4;
    assert_true(vmdl_ept_eptp_valid(&c));
    for (uint64_t mt = 1; mt < 8; mt++) {
        c.eptp = PML4 | mt | VMDL_EPTP_PWL_4;
        assert_int_equal(vmdl_ept_eptp_valid(&c), mt == 6);
    }
    c.eptp = PML4 | VMDL_EPTP_MT_WB | VMDL_EPTP_PWL_5;   /* CAP lacks bit 7 */
    assert_false(vmdl_ept_eptp_valid(&c));
    c.cap |= 1ull << 7;
    assert_true(vmdl_ept_eptp_valid(&c));
    c.eptp = PML4 | VMDL_EPTP_MT_WB | (2ull << 3);       /* 3 levels */
    assert_false(vmdl_ept_eptp_valid(&c));
    for (unsigned b = 7; b < 12; b++) {
        c.eptp = PML4 | VMDL_EPTP_MT_WB | VMDL_EPTP_PWL_4 | (1ull << b);
        assert_false(vmdl_ept_eptp_valid(&c));
    }
    c.eptp = (1ull << 46) | VMDL_EPTP_MT_WB | VMDL_EPTP_PWL_4;
    assert_false(vmdl_ept_eptp_valid(&c));
    c.eptp = PML4 | VMDL_EPTP_MT_WB | VMDL_EPTP_PWL_4 | VMDL_EPTP_AD;
    assert_true(vmdl_ept_eptp_valid(&c));
    c.cap &= ~VMDL_EPT_CAP_AD;
    assert_false(vmdl_ept_eptp_valid(&c));
    /* The walk refuses what VM entry would have refused. */
    struct vmdl_ept_request r = rq(GPA, VMDL_EPT_ACC_READ);
    struct vmdl_ept_result out;
    assert_int_equal(vmdl_ept_walk(&mem, &c, &r, &out), VMDL_EINVAL);
    assert_int_equal(vmdl_ept_walk(NULL, &c, &r, &out), VMDL_EINVAL);
}

static void test_translate_4k(void **state)
{
    (void)state;
    struct vmdl_ept_config c = cfg4(false);
    for (int acc = 1; acc <= 4; acc <<= 1) {
        struct vmdl_ept_request r = rq(GPA + 0x123, (enum vmdl_ept_access)acc);
        struct vmdl_ept_result o = walk(&c, &r);
        assert_int_equal(o.outcome, VMDL_EPT_OK);
        assert_int_equal(o.hpa, PAGE + 0x123);
        assert_int_equal(o.page_size, 4096);
        assert_int_equal(o.level, 1);
        assert_int_equal(o.perms, 7);
        assert_int_equal(o.memtype, 6);
        assert_false(o.ipat);
    }
    /* Without A/D enabled the tables are not written. */
    assert_int_equal(get(entry_addr(1)), PAGE | RWX | WB_LEAF);
    assert_int_equal(get(entry_addr(4)), PDPT | RWX);
}

static void test_translate_2m_1g(void **state)
{
    (void)state;
    struct vmdl_ept_config c = cfg4(false);
    uint64_t pde = get(entry_addr(2));
    twiddle(2, ~0ull, 0x600000 | RWX | VMDL_EPTE_LARGE | VMDL_EPTE_IPAT | (4ull << 3));
    struct vmdl_ept_request r = rq(GPA + 0x5678, VMDL_EPT_ACC_WRITE);
    struct vmdl_ept_result o = walk(&c, &r);
    assert_int_equal(o.outcome, VMDL_EPT_OK);
    assert_int_equal(o.level, 2);
    assert_int_equal(o.page_size, 2u << 20);
    assert_int_equal(o.hpa, 0x600000 + (GPA & 0x1FFFFF) + 0x5678);
    assert_int_equal(o.memtype, 4);
    assert_true(o.ipat);
    put(entry_addr(2), pde);
    uint64_t pdpte = get(entry_addr(3));
    twiddle(3, ~0ull, 0xC0000000ull | RWX | VMDL_EPTE_LARGE | WB_LEAF);
    o = walk(&c, &r);
    assert_int_equal(o.outcome, VMDL_EPT_OK);
    assert_int_equal(o.level, 3);
    assert_int_equal(o.page_size, 1u << 30);
    assert_int_equal(o.hpa, 0xC0000000ull + (GPA & 0x3FFFFFFF) + 0x5678);
    put(entry_addr(3), pdpte);
}

static void test_five_levels(void **state)
{
    (void)state;
    struct vmdl_ept_config c = cfg4(false);
    c.cap |= 1ull << 7;
    c.eptp = PML5 | VMDL_EPTP_MT_WB | VMDL_EPTP_PWL_5;
    uint64_t gpa = GPA | (1ull << 48);
    c.maxphyaddr = 52;
    put(PML5 + idx(gpa, 5), PML4 | RWX);
    struct vmdl_ept_request r = rq(gpa, VMDL_EPT_ACC_READ);
    struct vmdl_ept_result o = walk(&c, &r);
    assert_int_equal(o.outcome, VMDL_EPT_OK);
    assert_int_equal(o.hpa, PAGE);
    /* The PML5E is checked like a PML4E: bit 7 is reserved there. */
    put(PML5 + idx(gpa, 5), PML4 | RWX | VMDL_EPTE_LARGE);
    o = walk(&c, &r);
    assert_int_equal(o.outcome, VMDL_EPT_MISCONFIG);
    assert_int_equal(o.level, 5);
    put(PML5 + idx(gpa, 5), 0);
}

/* A not-present entry at any level: violation, permission bits 0. */
static void test_not_present_each_level(void **state)
{
    (void)state;
    struct vmdl_ept_config c = cfg4(false);
    for (unsigned level = 1; level <= 4; level++) {
        uint64_t old = get(entry_addr(level));
        twiddle(level, RWX, 0);
        struct vmdl_ept_request r = rq(GPA, VMDL_EPT_ACC_WRITE);
        struct vmdl_ept_result o = walk(&c, &r);
        assert_int_equal(o.outcome, VMDL_EPT_VIOLATION);
        assert_int_equal(o.level, level);
        assert_int_equal(o.qualification, VMDL_EPT_QUAL_WRITE | GLA_BITS);
        put(entry_addr(level), old);
    }
}

/* SDM 29.3.3.2: the access needs the permission in every entry; bits 5:3
 * of the qualification are the AND over the walk. */
static void test_permission_and_over_levels(void **state)
{
    (void)state;
    struct vmdl_ept_config c = cfg4(false);
    static const struct { enum vmdl_ept_access acc; uint64_t clear; uint64_t qual; } t[] = {
        {VMDL_EPT_ACC_WRITE, VMDL_EPTE_W, VMDL_EPT_QUAL_WRITE | VMDL_EPT_QUAL_R | VMDL_EPT_QUAL_X},
        {VMDL_EPT_ACC_FETCH, VMDL_EPTE_X, VMDL_EPT_QUAL_FETCH | VMDL_EPT_QUAL_R | VMDL_EPT_QUAL_W},
        {VMDL_EPT_ACC_READ, VMDL_EPTE_R | VMDL_EPTE_W, VMDL_EPT_QUAL_READ | VMDL_EPT_QUAL_X},
    };
    for (unsigned i = 0; i < 3; i++)
        for (unsigned level = 1; level <= 4; level++) {
            uint64_t old = get(entry_addr(level));
            twiddle(level, t[i].clear, 0);
            struct vmdl_ept_request r = rq(GPA, t[i].acc);
            struct vmdl_ept_result o = walk(&c, &r);
            if (o.outcome != VMDL_EPT_VIOLATION || o.qualification != (t[i].qual | GLA_BITS))
                fail_msg("case %u level %u: outcome %d qual 0x%llx", i, level, o.outcome,
                         (unsigned long long)o.qualification);
            put(entry_addr(level), old);
        }
}

/* Allowed accesses at the leaf are not violations: a read-only page reads. */
static void test_read_only_page(void **state)
{
    (void)state;
    struct vmdl_ept_config c = cfg4(false);
    twiddle(1, VMDL_EPTE_W | VMDL_EPTE_X, 0);
    struct vmdl_ept_request r = rq(GPA, VMDL_EPT_ACC_READ);
    struct vmdl_ept_result o = walk(&c, &r);
    assert_int_equal(o.outcome, VMDL_EPT_OK);
    assert_int_equal(o.perms, VMDL_EPT_PERM_R);
    r.access = VMDL_EPT_ACC_WRITE;
    o = walk(&c, &r);
    assert_int_equal(o.outcome, VMDL_EPT_VIOLATION);
    assert_int_equal(o.qualification, VMDL_EPT_QUAL_WRITE | VMDL_EPT_QUAL_R | GLA_BITS);
    twiddle(1, 0, VMDL_EPTE_W | VMDL_EPTE_X);
}

static void test_write_without_read_misconfig(void **state)
{
    (void)state;
    struct vmdl_ept_config c = cfg4(false);
    for (unsigned level = 1; level <= 4; level++) {
        for (uint64_t xwr = 2; xwr <= 6; xwr += 4) {   /* -W- and XW- */
            uint64_t old = get(entry_addr(level));
            twiddle(level, RWX, xwr);
            struct vmdl_ept_request r = rq(GPA, VMDL_EPT_ACC_READ);
            struct vmdl_ept_result o = walk(&c, &r);
            assert_int_equal(o.outcome, VMDL_EPT_MISCONFIG);
            assert_int_equal(o.level, level);
            assert_int_equal(o.qualification, 0);
            put(entry_addr(level), old);
        }
    }
}

/* Execute-only (X without R/W) is allowed only with EPT_VPID_CAP bit 0. */
static void test_execute_only(void **state)
{
    (void)state;
    struct vmdl_ept_config c = cfg4(false);
    twiddle(1, RWX, VMDL_EPTE_X);
    struct vmdl_ept_request r = rq(GPA, VMDL_EPT_ACC_FETCH);
    assert_int_equal(walk(&c, &r).outcome, VMDL_EPT_OK);
    r.access = VMDL_EPT_ACC_READ;
    struct vmdl_ept_result o = walk(&c, &r);
    assert_int_equal(o.outcome, VMDL_EPT_VIOLATION);
    assert_int_equal(o.qualification, VMDL_EPT_QUAL_READ | VMDL_EPT_QUAL_X | GLA_BITS);
    c.cap &= ~VMDL_EPT_CAP_EXEC_ONLY;
    r.access = VMDL_EPT_ACC_FETCH;
    assert_int_equal(walk(&c, &r).outcome, VMDL_EPT_MISCONFIG);
    twiddle(1, 0, RWX);
}

static void expect_misconfig(unsigned level, uint64_t set, const struct vmdl_ept_config *c,
                             const char *why)
{
    uint64_t old = get(entry_addr(level));
    twiddle(level, 0, set);
    struct vmdl_ept_request r = rq(GPA, VMDL_EPT_ACC_READ);
    struct vmdl_ept_result o = walk(c, &r);
    if (o.outcome != VMDL_EPT_MISCONFIG || o.level != level)
        fail_msg("%s: outcome %d level %u", why, o.outcome, o.level);
    put(entry_addr(level), old);
}

static void test_reserved_bits(void **state)
{
    (void)state;
    struct vmdl_ept_config c = cfg4(false);
    for (unsigned level = 1; level <= 4; level++) {
        expect_misconfig(level, 1ull << 46, &c, "address bit at MAXPHYADDR");
        expect_misconfig(level, 1ull << 51, &c, "address bit 51");
    }
    for (unsigned b = 3; b <= 7; b++)
        expect_misconfig(4, 1ull << b, &c, "PML4E bits 7:3");
    for (unsigned b = 3; b <= 6; b++) {
        expect_misconfig(3, 1ull << b, &c, "PDPTE (table) bits 6:3");
        expect_misconfig(2, 1ull << b, &c, "PDE (table) bits 6:3");
    }
    /* Bits 63:52 and bits 11:8 of a table are ignored, not reserved. */
    uint64_t old = get(entry_addr(3));
    twiddle(3, 0, (0xFFFull << 52) | (0xEull << 8));
    struct vmdl_ept_request r = rq(GPA, VMDL_EPT_ACC_READ);
    assert_int_equal(walk(&c, &r).outcome, VMDL_EPT_OK);
    put(entry_addr(3), old);
    /* Bit 7 of a PTE is ignored. */
    twiddle(1, 0, VMDL_EPTE_LARGE);
    assert_int_equal(walk(&c, &r).outcome, VMDL_EPT_OK);
    twiddle(1, VMDL_EPTE_LARGE, 0);
}

static void test_large_page_reserved(void **state)
{
    (void)state;
    struct vmdl_ept_config c = cfg4(false);
    uint64_t old2 = get(entry_addr(2)), old3 = get(entry_addr(3));
    /* 2 MiB page: bits 20:12 reserved. */
    put(entry_addr(2), 0x600000 | (1ull << 12) | RWX | VMDL_EPTE_LARGE | WB_LEAF);
    struct vmdl_ept_request r = rq(GPA, VMDL_EPT_ACC_READ);
    assert_int_equal(walk(&c, &r).outcome, VMDL_EPT_MISCONFIG);
    put(entry_addr(2), 0x600000 | RWX | VMDL_EPTE_LARGE | WB_LEAF);
    assert_int_equal(walk(&c, &r).outcome, VMDL_EPT_OK);
    c.cap &= ~VMDL_EPT_CAP_2M;                   /* no 2 MiB pages offered */
    assert_int_equal(walk(&c, &r).outcome, VMDL_EPT_MISCONFIG);
    put(entry_addr(2), old2);
    /* 1 GiB page: bits 29:12 reserved; bit 7 reserved without bit 17. */
    c = cfg4(false);
    put(entry_addr(3), 0x40000000ull | (1ull << 21) | RWX | VMDL_EPTE_LARGE | WB_LEAF);
    assert_int_equal(walk(&c, &r).outcome, VMDL_EPT_MISCONFIG);
    put(entry_addr(3), 0x40000000ull | RWX | VMDL_EPTE_LARGE | WB_LEAF);
    assert_int_equal(walk(&c, &r).outcome, VMDL_EPT_OK);
    c.cap &= ~VMDL_EPT_CAP_1G;
    assert_int_equal(walk(&c, &r).outcome, VMDL_EPT_MISCONFIG);
    put(entry_addr(3), old3);
}

/* A leaf's memory type 2, 3 or 7 is a misconfiguration; 0, 1, 4, 5, 6 are
 * fine (SDM 29.3.3.1). */
static void test_leaf_memory_type(void **state)
{
    (void)state;
    struct vmdl_ept_config c = cfg4(false);
    for (uint64_t mt = 0; mt < 8; mt++) {
        twiddle(1, 7ull << 3, mt << 3);
        struct vmdl_ept_request r = rq(GPA, VMDL_EPT_ACC_READ);
        struct vmdl_ept_result o = walk(&c, &r);
        bool bad = mt == 2 || mt == 3 || mt == 7;
        assert_int_equal(o.outcome, bad ? VMDL_EPT_MISCONFIG : VMDL_EPT_OK);
        if (!bad)
            assert_int_equal(o.memtype, mt);
    }
    twiddle(1, 7ull << 3, WB_LEAF);
}

/* A misconfiguration below wins over a permission violation above: the
 * permissions are checked at the leaf. */
static void test_misconfig_before_permissions(void **state)
{
    (void)state;
    struct vmdl_ept_config c = cfg4(false);
    twiddle(4, VMDL_EPTE_W, 0);
    twiddle(1, 7ull << 3, 3ull << 3);             /* memory type 3 */
    struct vmdl_ept_request r = rq(GPA, VMDL_EPT_ACC_WRITE);
    assert_int_equal(walk(&c, &r).outcome, VMDL_EPT_MISCONFIG);
    twiddle(1, 7ull << 3, WB_LEAF);
    twiddle(4, 0, VMDL_EPTE_W);
    assert_int_equal(walk(&c, &r).outcome, VMDL_EPT_OK);
}

static void test_accessed_dirty(void **state)
{
    (void)state;
    struct vmdl_ept_config c = cfg4(true);
    struct vmdl_ept_request r = rq(GPA, VMDL_EPT_ACC_READ);
    assert_int_equal(walk(&c, &r).outcome, VMDL_EPT_OK);
    for (unsigned level = 1; level <= 4; level++) {
        assert_true(get(entry_addr(level)) & VMDL_EPTE_A);
        assert_false(get(entry_addr(level)) & VMDL_EPTE_D);
    }
    r.access = VMDL_EPT_ACC_WRITE;
    assert_int_equal(walk(&c, &r).outcome, VMDL_EPT_OK);
    assert_true(get(entry_addr(1)) & VMDL_EPTE_D);
    for (unsigned level = 2; level <= 4; level++)
        assert_false(get(entry_addr(level)) & VMDL_EPTE_D);
    for (unsigned level = 1; level <= 4; level++)
        twiddle(level, VMDL_EPTE_A | VMDL_EPTE_D, 0);
    /* A violation sets nothing. */
    twiddle(1, VMDL_EPTE_W, 0);
    assert_int_equal(walk(&c, &r).outcome, VMDL_EPT_VIOLATION);
    for (unsigned level = 1; level <= 4; level++)
        assert_false(get(entry_addr(level)) & (VMDL_EPTE_A | VMDL_EPTE_D));
    twiddle(1, 0, VMDL_EPTE_W);
}

static void test_accessed_dirty_large_leaf(void **state)
{
    (void)state;
    struct vmdl_ept_config c = cfg4(true);
    uint64_t old = get(entry_addr(2));
    put(entry_addr(2), 0x600000 | RWX | VMDL_EPTE_LARGE | WB_LEAF);
    struct vmdl_ept_request r = rq(GPA, VMDL_EPT_ACC_WRITE);
    assert_int_equal(walk(&c, &r).outcome, VMDL_EPT_OK);
    assert_int_equal(get(entry_addr(2)) & (VMDL_EPTE_A | VMDL_EPTE_D),
                     VMDL_EPTE_A | VMDL_EPTE_D);
    assert_true(get(entry_addr(3)) & VMDL_EPTE_A);
    assert_false(get(entry_addr(3)) & VMDL_EPTE_D);
    /* The PT below the large page is not touched. */
    assert_false(get(entry_addr(1)) & VMDL_EPTE_A);
    put(entry_addr(2), old);
    twiddle(3, VMDL_EPTE_A, 0);
    twiddle(4, VMDL_EPTE_A, 0);
}

/* SDM 29.3.5: with A/D flags, guest paging-structure accesses are writes:
 * they need W, set D, and their violation reports bits 0 and 1. */
static void test_paging_structure_access(void **state)
{
    (void)state;
    struct vmdl_ept_config c = cfg4(true);
    struct vmdl_ept_request r = rq(GPA, VMDL_EPT_ACC_READ);
    r.paging_structure = true;
    assert_int_equal(walk(&c, &r).outcome, VMDL_EPT_OK);
    assert_true(get(entry_addr(1)) & VMDL_EPTE_D);
    twiddle(1, VMDL_EPTE_W | VMDL_EPTE_A | VMDL_EPTE_D, 0);
    for (unsigned level = 2; level <= 4; level++)
        twiddle(level, VMDL_EPTE_A, 0);
    struct vmdl_ept_result o = walk(&c, &r);
    assert_int_equal(o.outcome, VMDL_EPT_VIOLATION);
    /* Bit 7 (linear address valid) without bit 8: not the final page. */
    assert_int_equal(o.qualification, VMDL_EPT_QUAL_READ | VMDL_EPT_QUAL_WRITE |
                                      VMDL_EPT_QUAL_R | VMDL_EPT_QUAL_X |
                                      VMDL_EPT_QUAL_GLA_VALID);
    /* Without A/D the access is a read. */
    c = cfg4(false);
    assert_int_equal(walk(&c, &r).outcome, VMDL_EPT_OK);
    twiddle(1, VMDL_EPTE_R, 0);
    twiddle(1, VMDL_EPTE_X, 0);
    twiddle(1, 0, VMDL_EPTE_X);                /* execute-only leaf */
    o = walk(&c, &r);
    assert_int_equal(o.outcome, VMDL_EPT_VIOLATION);
    assert_int_equal(o.qualification, VMDL_EPT_QUAL_READ | VMDL_EPT_QUAL_X |
                                      VMDL_EPT_QUAL_GLA_VALID);
    twiddle(1, 0, RWX);
}

/* An accessed/dirty update of a guest paging-structure entry is a read
 * and a write (the locked update of the entry): without EPT A/D flags it
 * needs W and reports bits 0 and 1, as hardware does for kvm-unit-tests'
 * ept_access_test_paddr_read_only_ad_disabled (a PTE page L1 made
 * read-only, the guest's A flag clear).  It leaves EPT's dirty flag alone
 * when A/D flags are off, and sets it when they are on. */
static void test_paging_structure_ad_update(void **state)
{
    (void)state;
    struct vmdl_ept_config c = cfg4(false);
    struct vmdl_ept_request r = rq(GPA, VMDL_EPT_ACC_WRITE);
    r.paging_structure = true;
    twiddle(1, VMDL_EPTE_W | VMDL_EPTE_X, 0);           /* read-only leaf */
    struct vmdl_ept_result o = walk(&c, &r);
    assert_int_equal(o.outcome, VMDL_EPT_VIOLATION);
    assert_int_equal(o.qualification, VMDL_EPT_QUAL_READ | VMDL_EPT_QUAL_WRITE |
                                      VMDL_EPT_QUAL_R | VMDL_EPT_QUAL_GLA_VALID);
    /* The entry read alone is allowed. */
    r.access = VMDL_EPT_ACC_READ;
    assert_int_equal(walk(&c, &r).outcome, VMDL_EPT_OK);
    twiddle(1, 0, VMDL_EPTE_W | VMDL_EPTE_X);
    r.access = VMDL_EPT_ACC_WRITE;
    assert_int_equal(walk(&c, &r).outcome, VMDL_EPT_OK);
    assert_false(get(entry_addr(1)) & (VMDL_EPTE_A | VMDL_EPTE_D));
    c = cfg4(true);
    assert_int_equal(walk(&c, &r).outcome, VMDL_EPT_OK);
    assert_true(get(entry_addr(1)) & VMDL_EPTE_D);
    twiddle(1, VMDL_EPTE_W | VMDL_EPTE_A | VMDL_EPTE_D, 0);
    for (unsigned level = 2; level <= 4; level++)
        twiddle(level, VMDL_EPTE_A, 0);
    o = walk(&c, &r);
    assert_int_equal(o.qualification, VMDL_EPT_QUAL_READ | VMDL_EPT_QUAL_WRITE |
                                      VMDL_EPT_QUAL_R | VMDL_EPT_QUAL_X |
                                      VMDL_EPT_QUAL_GLA_VALID);
    twiddle(1, 0, VMDL_EPTE_W);
}

static void test_linear_address_bits(void **state)
{
    (void)state;
    struct vmdl_ept_config c = cfg4(false);
    twiddle(1, RWX, 0);
    struct vmdl_ept_request r = rq(GPA, VMDL_EPT_ACC_READ);
    r.gla_valid = false;
    assert_int_equal(walk(&c, &r).qualification, VMDL_EPT_QUAL_READ);
    /* Advanced information (EPT_VPID_CAP bit 22): bits 9-11 with 7 and 8. */
    r.gla_valid = true;
    r.user = r.guest_rw = r.guest_nx = true;
    assert_int_equal(walk(&c, &r).qualification,
                     VMDL_EPT_QUAL_READ | GLA_BITS | VMDL_EPT_QUAL_GUEST_USER |
                     VMDL_EPT_QUAL_GUEST_RW | VMDL_EPT_QUAL_GUEST_NX);
    c.cap &= ~VMDL_EPT_CAP_ADV_INFO;
    assert_int_equal(walk(&c, &r).qualification, VMDL_EPT_QUAL_READ | GLA_BITS);
    c = cfg4(false);
    r.paging_structure = true;                  /* bits 9-11 need bit 8 */
    assert_int_equal(walk(&c, &r).qualification,
                     VMDL_EPT_QUAL_READ | VMDL_EPT_QUAL_GLA_VALID);
    twiddle(1, 0, RWX);
}

/* Mode-based execute control: bit 10 is execute for user-mode linear
 * addresses, bit 2 for supervisor ones; an XU-only entry is present. */
static void test_mbec(void **state)
{
    (void)state;
    struct vmdl_ept_config c = cfg4(false);
    c.mbec = true;
    struct vmdl_ept_request r = rq(GPA, VMDL_EPT_ACC_FETCH);
    r.user = true;
    struct vmdl_ept_result o = walk(&c, &r);
    assert_int_equal(o.outcome, VMDL_EPT_VIOLATION);   /* no XU anywhere */
    assert_int_equal(o.qualification & (VMDL_EPT_QUAL_FETCH | VMDL_EPT_QUAL_X | VMDL_EPT_QUAL_XU),
                     VMDL_EPT_QUAL_FETCH | VMDL_EPT_QUAL_X);
    for (unsigned level = 1; level <= 4; level++)
        twiddle(level, 0, VMDL_EPTE_XU);
    o = walk(&c, &r);
    assert_int_equal(o.outcome, VMDL_EPT_OK);
    assert_int_equal(o.perms, 0xF);
    /* XU only (no R/W/X) at the leaf: present, execute-only for users. */
    twiddle(1, RWX, 0);
    assert_int_equal(walk(&c, &r).outcome, VMDL_EPT_OK);
    r.user = false;
    o = walk(&c, &r);
    assert_int_equal(o.outcome, VMDL_EPT_VIOLATION);
    assert_int_equal(o.qualification & 0x7F, VMDL_EPT_QUAL_FETCH | VMDL_EPT_QUAL_XU);
    /* Without MBEC bit 10 is ignored: the leaf is not present. */
    c.mbec = false;
    r.user = true;
    o = walk(&c, &r);
    assert_int_equal(o.outcome, VMDL_EPT_VIOLATION);
    assert_int_equal(o.level, 1);
    twiddle(1, 0, RWX);
    for (unsigned level = 1; level <= 4; level++)
        twiddle(level, VMDL_EPTE_XU, 0);
}

static void test_unbacked_table_and_gpa(void **state)
{
    (void)state;
    struct vmdl_ept_config c = cfg4(false);
    uint64_t old = get(entry_addr(2));
    twiddle(2, 0x000FFFFFFFFFF000ull, 0x100000000ull);   /* PT outside RAM */
    struct vmdl_ept_request r = rq(GPA, VMDL_EPT_ACC_READ);
    struct vmdl_ept_result o = walk(&c, &r);
    assert_int_equal(o.outcome, VMDL_EPT_VIOLATION);
    assert_int_equal(o.qualification, VMDL_EPT_QUAL_READ | GLA_BITS);
    put(entry_addr(2), old);
    r.gpa = 1ull << 46;                                   /* beyond MAXPHYADDR */
    assert_int_equal(walk(&c, &r).outcome, VMDL_EPT_VIOLATION);
}

static void test_exit_info(void **state)
{
    (void)state;
    struct vmdl_ept_config c = cfg4(false);
    twiddle(1, VMDL_EPTE_W, 0);
    struct vmdl_ept_request r = rq(GPA + 8, VMDL_EPT_ACC_WRITE);
    struct vmdl_ept_result o = walk(&c, &r);
    struct vmdl_vmx_exit_info info;
    vmdl_ept_exit_info(&r, &o, &info);
    assert_int_equal(info.reason, VMDL_VMX_EXIT_EPT_VIOLATION);
    assert_int_equal(info.qualification, o.qualification);
    assert_int_equal(info.guest_phys, GPA + 8);
    assert_int_equal(info.guest_linear, 0x7000123);
    twiddle(1, VMDL_EPTE_R, 0);                           /* now --X */
    twiddle(1, 0, VMDL_EPTE_W);                           /* W without R */
    o = walk(&c, &r);
    vmdl_ept_exit_info(&r, &o, &info);
    assert_int_equal(info.reason, VMDL_VMX_EXIT_EPT_MISCONFIG);
    assert_int_equal(info.qualification, 0);
    assert_int_equal(info.guest_phys, GPA + 8);
    assert_int_equal(info.guest_linear, 0);
    twiddle(1, 0, RWX);
}


/* ---- page-modification logging (SDM 29.3.6; KVM's vmx_write_pml_buffer) ---- */

#define PML_LOG 0x30000u

static uint64_t pml_entry(unsigned i) { return get(PML_LOG + 8 * i); }

static void clear_ad_all(void)
{
    for (unsigned level = 1; level <= 4; level++)
        twiddle(level, VMDL_EPTE_A | VMDL_EPTE_D, 0);
}

static struct vmdl_ept_result walk_pml(const struct vmdl_ept_config *c,
                                       const struct vmdl_ept_request *r,
                                       struct vmdl_ept_pml *pml)
{
    struct vmdl_ept_result out;
    assert_int_equal(vmdl_ept_walk_pml(&mem, c, r, pml, &out), VMDL_OK);
    return out;
}

/* A write that sets the leaf's dirty flag logs its page's GPA at the index,
 * which then counts down; nothing else logs. */
static void test_pml_logs_dirty_gpa(void **state)
{
    (void)state;
    struct vmdl_ept_config c = cfg4(true);
    struct vmdl_ept_pml pml = {.addr = PML_LOG, .index = 511};
    memset(ram + PML_LOG, 0, 4096);
    struct vmdl_ept_request r = rq(GPA + 0x123, VMDL_EPT_ACC_READ);
    assert_int_equal(walk_pml(&c, &r, &pml).outcome, VMDL_EPT_OK);
    assert_int_equal(pml.index, 511);                     /* a read: no log */
    r.access = VMDL_EPT_ACC_WRITE;
    assert_int_equal(walk_pml(&c, &r, &pml).outcome, VMDL_EPT_OK);
    assert_int_equal(pml.index, 510);
    assert_int_equal(pml_entry(511), GPA);                /* page-aligned */
    assert_true(get(entry_addr(1)) & VMDL_EPTE_D);
    assert_int_equal(walk_pml(&c, &r, &pml).outcome, VMDL_EPT_OK);
    assert_int_equal(pml.index, 510);                     /* D already set */
    /* A guest paging-structure access is a write under A/D (29.3.5). */
    twiddle(1, VMDL_EPTE_D, 0);
    r.access = VMDL_EPT_ACC_READ;
    r.paging_structure = true;
    assert_int_equal(walk_pml(&c, &r, &pml).outcome, VMDL_EPT_OK);
    assert_int_equal(pml.index, 509);
    assert_int_equal(pml_entry(510), GPA);
    /* Without A/D flags nothing is dirtied, nothing logged. */
    twiddle(1, VMDL_EPTE_D, 0);
    c = cfg4(false);
    r.paging_structure = false;
    r.access = VMDL_EPT_ACC_WRITE;
    assert_int_equal(walk_pml(&c, &r, &pml).outcome, VMDL_EPT_OK);
    assert_int_equal(pml.index, 509);
    /* A NULL log is the plain walk. */
    c = cfg4(true);
    assert_int_equal(walk_pml(&c, &r, NULL).outcome, VMDL_EPT_OK);
    assert_true(get(entry_addr(1)) & VMDL_EPTE_D);
    clear_ad_all();
}

/* Index 0 is the last slot; the index then wraps to 0xFFFF and the next
 * dirtying write is a log-full event: no log, no dirty flag, index kept.
 * KVM has set the accessed flags of the levels above the leaf by then
 * (update_accessed_dirty_bits walks down), the SDM sets none. */
static void test_pml_full(void **state)
{
    (void)state;
    struct vmdl_ept_config c = cfg4(true);
    struct vmdl_ept_pml pml = {.addr = PML_LOG, .index = 0};
    memset(ram + PML_LOG, 0, 4096);
    struct vmdl_ept_request r = rq(GPA, VMDL_EPT_ACC_WRITE);
    assert_int_equal(walk_pml(&c, &r, &pml).outcome, VMDL_EPT_OK);
    assert_int_equal(pml_entry(0), GPA);
    assert_int_equal(pml.index, 0xFFFF);
    clear_ad_all();
    struct vmdl_ept_result o = walk_pml(&c, &r, &pml);
    assert_int_equal(o.outcome, VMDL_EPT_PML_FULL);
    assert_int_equal(pml.index, 0xFFFF);
    assert_false(get(entry_addr(1)) & (VMDL_EPTE_A | VMDL_EPTE_D));
    for (unsigned level = 2; level <= 4; level++)
        assert_int_equal(get(entry_addr(level)) & (VMDL_EPTE_A | VMDL_EPTE_D),
                         VMDL_EPTE_A);
    struct vmdl_vmx_exit_info info;
    vmdl_ept_exit_info(&r, &o, &info);
    assert_int_equal(info.reason, VMDL_VMX_EXIT_PML_FULL);
    assert_int_equal(info.qualification, 0);
    assert_int_equal(info.guest_phys, GPA);               /* KVM records it */
    assert_int_equal(info.guest_linear, 0);
    /* Any index from 512 on is full; reads and D-set writes still go. */
    clear_ad_all();
    pml.index = 512;
    pml.sdm_full_sets_no_flags = true;
    assert_int_equal(walk_pml(&c, &r, &pml).outcome, VMDL_EPT_PML_FULL);
    for (unsigned level = 1; level <= 4; level++)
        assert_false(get(entry_addr(level)) & (VMDL_EPTE_A | VMDL_EPTE_D));
    r.access = VMDL_EPT_ACC_READ;
    assert_int_equal(walk_pml(&c, &r, &pml).outcome, VMDL_EPT_OK);
    twiddle(1, 0, VMDL_EPTE_D);
    r.access = VMDL_EPT_ACC_WRITE;
    assert_int_equal(walk_pml(&c, &r, &pml).outcome, VMDL_EPT_OK);
    assert_int_equal(pml.index, 512);
    /* A violation is still a violation, whatever the log. */
    twiddle(1, VMDL_EPTE_W | VMDL_EPTE_D, 0);
    assert_int_equal(walk_pml(&c, &r, &pml).outcome, VMDL_EPT_VIOLATION);
    twiddle(1, 0, VMDL_EPTE_W);
    clear_ad_all();
}

/* A log slot that is not RAM: nothing logged, the index kept, the dirty
 * flag set (KVM's vmx_write_pml_buffer returns before the decrement when
 * kvm_write_guest_page fails, and the walk goes on). */
static void test_pml_log_outside_ram(void **state)
{
    (void)state;
    struct vmdl_ept_config c = cfg4(true);
    struct vmdl_ept_pml pml = {.addr = 0x100000000ull, .index = 7};
    struct vmdl_ept_request r = rq(GPA, VMDL_EPT_ACC_WRITE);
    assert_int_equal(walk_pml(&c, &r, &pml).outcome, VMDL_EPT_OK);
    assert_int_equal(pml.index, 7);
    assert_true(get(entry_addr(1)) & VMDL_EPTE_D);
    clear_ad_all();
}

/* A translation reports the entries it used (address, value after the
 * accessed/dirty update): what a shadow of the tables must watch. */
static void test_walk_reports_entries(void **state)
{
    (void)state;
    struct vmdl_ept_config c = cfg4(true);
    struct vmdl_ept_request r = rq(GPA, VMDL_EPT_ACC_WRITE);
    struct vmdl_ept_result o = walk(&c, &r);
    assert_int_equal(o.outcome, VMDL_EPT_OK);
    for (unsigned level = 1; level <= 4; level++) {
        assert_int_equal(o.entry_addr[level - 1], entry_addr(level));
        assert_int_equal(o.entry_val[level - 1], get(entry_addr(level)));
        assert_true(o.entry_val[level - 1] & VMDL_EPTE_A);
    }
    assert_true(o.entry_val[0] & VMDL_EPTE_D);
    assert_int_equal(o.entry_addr[4], 0);                 /* above the top */
    /* A 2 MiB leaf: nothing below level 2. */
    clear_ad_all();
    uint64_t old = get(entry_addr(2));
    put(entry_addr(2), 0x600000 | RWX | VMDL_EPTE_LARGE | WB_LEAF);
    c = cfg4(false);
    r.access = VMDL_EPT_ACC_READ;
    o = walk(&c, &r);
    assert_int_equal(o.outcome, VMDL_EPT_OK);
    assert_int_equal(o.entry_addr[0], 0);
    assert_int_equal(o.entry_addr[1], entry_addr(2));
    assert_int_equal(o.entry_val[1], get(entry_addr(2)));
    put(entry_addr(2), old);
}

/* The machine's shadow of L1's EPT watches the entries its mappings came
 * from: a change to one (L1 clearing a dirty flag, removing a right) makes
 * it stale, as KVM's write protection of shadowed tables would notice. */
static void test_shadow_watch(void **state)
{
    (void)state;
    static struct vmdl__vmx_ept_shadow s;
    vmdl__vmx_ept_watch_reset(&s);
    assert_int_equal(s.eptp, VMDL_VMX_EPT_NO_SHADOW);
    assert_false(vmdl__vmx_ept_stale(&s, &mem));
    struct vmdl_ept_config c = cfg4(true);
    struct vmdl_ept_request r = rq(GPA, VMDL_EPT_ACC_WRITE);
    struct vmdl_ept_result o = walk(&c, &r);
    vmdl__vmx_ept_watch(&s, &o);
    assert_int_equal(s.n, 4);
    vmdl__vmx_ept_watch(&s, &o);                          /* no duplicates */
    assert_int_equal(s.n, 4);
    assert_false(vmdl__vmx_ept_stale(&s, &mem));
    twiddle(1, VMDL_EPTE_D, 0);                           /* L1 clears D */
    assert_true(vmdl__vmx_ept_stale(&s, &mem));
    o = walk(&c, &r);                                     /* walked again: D set */
    vmdl__vmx_ept_watch(&s, &o);
    assert_int_equal(s.n, 4);
    assert_false(vmdl__vmx_ept_stale(&s, &mem));
    twiddle(3, VMDL_EPTE_W, 0);                           /* a non-leaf entry */
    assert_true(vmdl__vmx_ept_stale(&s, &mem));
    twiddle(3, 0, VMDL_EPTE_W);
    assert_false(vmdl__vmx_ept_stale(&s, &mem));
    /* More entries than it can watch: stale until reset. */
    struct vmdl_ept_result many = {0};
    for (unsigned i = 0; i <= VMDL_VMX_EPT_WATCH; i++) {
        many.entry_addr[0] = 0x100000 + 8ull * i;
        vmdl__vmx_ept_watch(&s, &many);
    }
    assert_int_equal(s.n, VMDL_VMX_EPT_WATCH);
    assert_true(s.overflow);
    assert_true(vmdl__vmx_ept_stale(&s, &mem));
    vmdl__vmx_ept_watch_reset(&s);
    assert_false(vmdl__vmx_ept_stale(&s, &mem));
    clear_ad_all();
}

/* The vmcs12 binding: EPT only with secondary controls and "enable EPT";
 * the EPTP, capability and MAXPHYADDR come from vmcs12 and the profile. */
static void test_vmx_binding(void **state)
{
    (void)state;
    struct vmdl_vmx_caps caps;
    struct vmdl_vmx_model *m;
    struct vmdl_vmx *vmx;
    assert_int_equal(vmdl_vmx_profile_get("sapphire-rapids", &caps), 0);
    assert_int_equal(vmdl_vmx_model_create(&caps, &m), 0);
    assert_int_equal(vmdl_vmx_create(m, &mem, &vmx), 0);
    struct vmdl_ept_config cfg;
    assert_false(vmdl_vmx_ept_config(vmx, &cfg));         /* no current VMCS */
    uint32_t rev = (uint32_t)(caps.basic & VMDL_VMX_BASIC_REVISION_MASK);
    memcpy(ram + 0x1000, &rev, 4);
    memcpy(ram + 0x2000, &rev, 4);
    struct vmdl_vmx_ctx ctx = {.cr0 = 0x80000031, .cr4 = 0x2020, .rflags = 2};
    struct vmdl_vmx_result res;
    assert_int_equal(vmdl_vmx_set_feature_control(vmx, 5), 0);
    assert_int_equal(vmdl_vmx_vmxon(vmx, &ctx, 0x1000, &res), 0);
    assert_int_equal(vmdl_vmx_vmptrld(vmx, &ctx, 0x2000, &res), 0);
    uint64_t eptp = PML4 | VMDL_EPTP_MT_WB | VMDL_EPTP_PWL_4;
    vmdl_vmx_poke(vmx, vmdl_vmcs_field_by_name("EPT_POINTER")->encoding, eptp);
    vmdl_vmx_poke(vmx, vmdl_vmcs_field_by_name("SECONDARY_VM_EXEC_CONTROL")->encoding,
                  VMDL_PROC2_EPT);
    assert_false(vmdl_vmx_ept_config(vmx, &cfg));         /* no secondary controls */
    struct vmdl_ept_request r = rq(GPA, VMDL_EPT_ACC_READ);
    struct vmdl_ept_result o;
    assert_int_equal(vmdl_vmx_ept_translate(vmx, &r, &o), VMDL_ENOTSUP);
    vmdl_vmx_poke(vmx, vmdl_vmcs_field_by_name("CPU_BASED_VM_EXEC_CONTROL")->encoding,
                  VMDL_PROC_SECONDARY);
    assert_true(vmdl_vmx_ept_config(vmx, &cfg));
    assert_int_equal(cfg.eptp, eptp);
    assert_int_equal(cfg.cap, caps.ept_vpid_cap);
    assert_int_equal(cfg.maxphyaddr, caps.phys_addr_bits);
    assert_false(cfg.mbec);
    assert_int_equal(vmdl_vmx_ept_translate(vmx, &r, &o), VMDL_OK);
    assert_int_equal(o.hpa, PAGE);
    /* PML: with "enable PML" the log and index of vmcs12. */
    uint16_t pml_idx = vmdl_vmcs_field_by_name("GUEST_PML_INDEX")->encoding;
    vmdl_vmx_poke(vmx, vmdl_vmcs_field_by_name("EPT_POINTER")->encoding, eptp | VMDL_EPTP_AD);
    vmdl_vmx_poke(vmx, vmdl_vmcs_field_by_name("PML_ADDRESS")->encoding, PML_LOG);
    vmdl_vmx_poke(vmx, pml_idx, 300);
    memset(ram + PML_LOG, 0, 4096);
    r.access = VMDL_EPT_ACC_WRITE;
    assert_int_equal(vmdl_vmx_ept_translate(vmx, &r, &o), VMDL_OK);
    uint64_t v = 0;
    assert_int_equal(vmdl_vmx_peek(vmx, pml_idx, &v), VMDL_OK);
    assert_int_equal(v, 300);                             /* PML off */
    clear_ad_all();
    vmdl_vmx_poke(vmx, vmdl_vmcs_field_by_name("SECONDARY_VM_EXEC_CONTROL")->encoding,
                  VMDL_PROC2_EPT | VMDL_PROC2_PML);
    assert_int_equal(vmdl_vmx_ept_translate(vmx, &r, &o), VMDL_OK);
    assert_int_equal(vmdl_vmx_peek(vmx, pml_idx, &v), VMDL_OK);
    assert_int_equal(v, 299);
    assert_int_equal(pml_entry(300), GPA);
    clear_ad_all();
    vmdl_vmx_poke(vmx, pml_idx, 0xFFFF);
    assert_int_equal(vmdl_vmx_ept_translate(vmx, &r, &o), VMDL_OK);
    assert_int_equal(o.outcome, VMDL_EPT_PML_FULL);
    clear_ad_all();
    vmdl_vmx_poke(vmx, vmdl_vmcs_field_by_name("EPT_POINTER")->encoding, eptp);
    /* The VM-entry rule and the walk's rule are one. */
    assert_int_equal(vmdl_vmx_eptp_valid(m, eptp | (1ull << 8)), false);
    assert_int_equal(vmdl_vmx_eptp_valid(m, eptp), true);
    vmdl_vmx_destroy(vmx);
    vmdl_vmx_model_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eptp_rules),
        cmocka_unit_test(test_translate_4k),
        cmocka_unit_test(test_translate_2m_1g),
        cmocka_unit_test(test_five_levels),
        cmocka_unit_test(test_not_present_each_level),
        cmocka_unit_test(test_permission_and_over_levels),
        cmocka_unit_test(test_read_only_page),
        cmocka_unit_test(test_write_without_read_misconfig),
        cmocka_unit_test(test_execute_only),
        cmocka_unit_test(test_reserved_bits),
        cmocka_unit_test(test_large_page_reserved),
        cmocka_unit_test(test_leaf_memory_type),
        cmocka_unit_test(test_misconfig_before_permissions),
        cmocka_unit_test(test_accessed_dirty),
        cmocka_unit_test(test_accessed_dirty_large_leaf),
        cmocka_unit_test(test_paging_structure_access),
        cmocka_unit_test(test_paging_structure_ad_update),
        cmocka_unit_test(test_linear_address_bits),
        cmocka_unit_test(test_mbec),
        cmocka_unit_test(test_unbacked_table_and_gpa),
        cmocka_unit_test(test_exit_info),
        cmocka_unit_test(test_walk_reports_entries),
        cmocka_unit_test(test_shadow_watch),
        cmocka_unit_test(test_pml_logs_dirty_gpa),
        cmocka_unit_test(test_pml_full),
        cmocka_unit_test(test_pml_log_outside_ram),
        cmocka_unit_test(test_vmx_binding),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
