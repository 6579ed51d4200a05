/* SPDX-License-Identifier: MIT */
/*
 * The x86 page walk in C (src/machine/x86/walk.c) on a plain byte array:
 * translations (4 KiB, 2 MiB, 1 GiB, 4 MiB, 4- and 5-level, PAE), the
 * rights of SDM vol. 3, 4.6 with protection keys (PKRU on user pages, PKRS
 * on supervisor pages, WD and CR0.WP, fetches never key-checked), SMEP,
 * SMAP with RFLAGS.AC and implicit accesses, reserved bits (#PF with RSVD),
 * not-present entries, and the accessed/dirty updates of 4.8.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "machine/x86/walk.h"

#define MEM_SIZE (1u << 20)
static uint8_t mem[MEM_SIZE];
static unsigned writes;

static bool mread(void *o, uint64_t pa, void *buf, unsigned n)
{
    (void)o;
    if (pa + n > MEM_SIZE)
        return false;
    memcpy(buf, mem + pa, n);
    return true;
}

static bool mwrite(void *o, uint64_t pa, const void *buf, unsigned n)
{
    (void)o;
    if (pa + n > MEM_SIZE)
        return false;
    memcpy(mem + pa, buf, n);
    writes++;
    return true;
}

static const struct vmdl__x86_pmem pmem = { mread, mwrite, NULL };

static void put(uint64_t pa, uint64_t v) { memcpy(mem + pa, &v, 8); }
static uint64_t get(uint64_t pa) { uint64_t v; memcpy(&v, mem + pa, 8); return v; }

#define CR0_PG_PE_WP 0x80010001ull
#define EFER_LMA_NXE 0xD00ull
#define LA 0x400000ull          /* PML4[0] PDPT[0] PD[2] PT[0] */
#define PAGE 0x10000ull
#define PML4 0x1000ull
#define PDPT 0x2000ull
#define PD 0x3000ull
#define PT 0x4000ull

/* 4-level tables mapping LA to PAGE; upper levels user+writable, the PTE
 * as given (P added). */
static void map4(uint64_t pte)
{
    memset(mem, 0, 0x20000);
    put(PML4, PDPT | 7);
    put(PDPT, PD | 7);
    put(PD + 2 * 8, PT | 7);
    put(PT, PAGE | pte | 1);
    writes = 0;
}

static struct vmdl__x86_paging lm(uint64_t cr4, uint32_t pkru, uint32_t pkrs)
{
    struct vmdl__x86_paging p = { .cr0 = CR0_PG_PE_WP, .cr3 = PML4,
                                  .cr4 = VMDL_X86_CR4_PAE | cr4, .efer = EFER_LMA_NXE,
                                  .pkru = pkru, .pkrs = pkrs, .phys_bits = 40 };
    return p;
}

/* The error code of one access (0: allowed). */
static uint32_t access_pfec(const struct vmdl__x86_paging *p, unsigned access)
{
    struct vmdl__x86_xlate x;
    bool ok = vmdl__x86_walk(p, &pmem, LA + 0x123, access | VMDL_WALK_CHECK, &x);
    if (ok) {
        assert_int_equal(x.pa, PAGE + 0x123);
        return 0;
    }
    return x.pfec;
}

#define KEY(k) ((uint64_t)(k) << 59)
#define AD(k) (1u << (2 * (k)))
#define WD(k) (2u << (2 * (k)))
#define R 0u
#define W VMDL_WALK_WRITE
#define U VMDL_WALK_USER
#define F VMDL_WALK_FETCH

struct pcase {
    const char *what;
    uint64_t pte;             /* U/S (4), R/W (2), XD, key */
    bool wp;
    uint64_t cr4;
    uint32_t pkru, pkrs;
    unsigned access;
    uint32_t pfec;
};

static const struct pcase cases[] = {
    { "sup page key 2, PKRS.AD: supervisor read", KEY(2) | 2, true, VMDL_X86_CR4_PKS, 0, AD(2), R, 0x21 },
    { "sup page key 2, PKRS.AD: supervisor write, WP=1", KEY(2) | 2, true, VMDL_X86_CR4_PKS, 0, AD(2), W, 0x23 },
    { "sup page key 2, PKRS.AD: supervisor write, WP=0", KEY(2) | 2, false, VMDL_X86_CR4_PKS, 0, AD(2), W, 0x23 },
    { "sup page key 2, PKRS.WD: supervisor write, WP=1", KEY(2) | 2, true, VMDL_X86_CR4_PKS, 0, WD(2), W, 0x23 },
    { "sup page key 2, PKRS.WD: supervisor write, WP=0", KEY(2) | 2, false, VMDL_X86_CR4_PKS, 0, WD(2), W, 0 },
    { "sup page key 2, PKRS.WD: supervisor read", KEY(2) | 2, true, VMDL_X86_CR4_PKS, 0, WD(2), R, 0 },
    { "sup page key 2, PKRS.AD: fetch not key-checked", KEY(2) | 2, true, VMDL_X86_CR4_PKS, 0, AD(2), F, 0 },
    { "sup page key 2, PKRS.AD of key 1 only", KEY(2) | 2, true, VMDL_X86_CR4_PKS, 0, AD(1), R, 0 },
    { "sup page, PKRS.AD without CR4.PKS", KEY(2) | 2, true, 0, 0, AD(2), R, 0 },
    { "sup page, PKRU.AD (PKE): PKRU is for user pages", KEY(2) | 2, true, VMDL_X86_CR4_PKE, AD(2), 0, R, 0 },
    { "user page, PKRS.AD: supervisor read", KEY(2) | 6, true, VMDL_X86_CR4_PKS, 0, AD(2), R, 0 },
    { "user page, PKRS.WD: user write", KEY(2) | 6, true, VMDL_X86_CR4_PKS, 0, WD(2), U | W, 0 },
    { "user page, PKRS.WD: supervisor write, WP=0", KEY(2) | 6, false, VMDL_X86_CR4_PKS, 0, WD(2), W, 0 },
    { "user page, PKRU.AD: user read", KEY(3) | 6, true, VMDL_X86_CR4_PKE, AD(3), 0, U, 0x25 },
    { "user page, PKRU.AD: supervisor read", KEY(3) | 6, true, VMDL_X86_CR4_PKE, AD(3), 0, R, 0x21 },
    { "user page, PKRU.WD: user write", KEY(3) | 6, false, VMDL_X86_CR4_PKE, WD(3), 0, U | W, 0x27 },
    { "user page, PKRU.WD: supervisor write, WP=0", KEY(3) | 6, false, VMDL_X86_CR4_PKE, WD(3), 0, W, 0 },
    { "user page, PKRU.WD: supervisor write, WP=1", KEY(3) | 6, true, VMDL_X86_CR4_PKE, WD(3), 0, W, 0x23 },
    { "user page, PKRU.AD: user fetch", KEY(3) | 6, true, VMDL_X86_CR4_PKE, AD(3), 0, U | F, 0 },
    { "sup page, user read: U/S, no PK", KEY(2) | 2, true, VMDL_X86_CR4_PKS, 0, AD(2), U, 0x05 },
    { "read-only sup page, supervisor write, WP=1", 0, true, 0, 0, 0, W, 0x03 },
    { "read-only sup page, supervisor write, WP=0", 0, false, 0, 0, 0, W, 0 },
    { "read-only user page, user write, WP=0", 4, false, 0, 0, 0, U | W, 0x07 },
    { "XD page, fetch (NXE)", (1ull << 63) | 2, true, 0, 0, 0, F, 0x11 },
    { "XD page, read", (1ull << 63) | 2, true, 0, 0, 0, R, 0 },
    { "SMEP: supervisor fetch from a user page", 6, true, VMDL_X86_CR4_SMEP, 0, 0, F, 0x11 },
    { "SMAP: supervisor read of a user page", 6, true, VMDL_X86_CR4_SMAP, 0, 0, R, 0x01 },
    { "SMAP: supervisor read of a user page with AC", 6, true, VMDL_X86_CR4_SMAP, 0, 0, VMDL_WALK_AC, 0 },
    { "SMAP: implicit read of a user page with AC", 6, true, VMDL_X86_CR4_SMAP, 0, 0,
      VMDL_WALK_AC | VMDL_WALK_IMPLICIT, 0x01 },
    { "SMAP: user read of a user page", 6, true, VMDL_X86_CR4_SMAP, 0, 0, U, 0 },
    { "reserved bit 51 (MAXPHYADDR 40)", (1ull << 51) | 2, true, 0, 0, 0, R, 0x09 },
    { "reserved bit 40 (MAXPHYADDR 40), user write", (1ull << 40) | 6, true, 0, 0, 0, U | W, 0x0F },
};

static void test_rights_table(void **state)
{
    (void)state;
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct pcase *c = &cases[i];
        map4(c->pte);
        struct vmdl__x86_paging p = lm(c->cr4, c->pkru, c->pkrs);
        if (!c->wp)
            p.cr0 &= ~(1ull << 16);
        uint32_t got = access_pfec(&p, c->access);
        if (got != c->pfec)
            print_message("case %u (%s): pfec 0x%x, want 0x%x\n", i, c->what, got, c->pfec);
        assert_int_equal(got, c->pfec);
    }
}

/* Keys exist only with 4- and 5-level paging: PAE paging ignores them. */
static void test_keys_only_in_ia32e(void **state)
{
    (void)state;
    memset(mem, 0, 0x20000);
    put(PDPT, PD | 1);                     /* PAE PDPTE 0: P only */
    put(PD + 2 * 8, PT | 7);
    put(PT, PAGE | KEY(2) | 3);
    struct vmdl__x86_paging p = { .cr0 = CR0_PG_PE_WP, .cr3 = PDPT,
                                  .cr4 = VMDL_X86_CR4_PAE | VMDL_X86_CR4_PKS, .efer = 0x800,
                                  .pkrs = AD(2), .phys_bits = 40 };
    struct vmdl__x86_xlate x;
    /* bits 62:52 of a PAE PTE are reserved unless they hold XD: here the
     * key sits in them, so the walk reports RSVD, not PK */
    assert_false(vmdl__x86_walk(&p, &pmem, LA, VMDL_WALK_CHECK, &x));
    assert_int_equal(x.pfec, 0x09);
    put(PT, PAGE | 3);
    assert_true(vmdl__x86_walk(&p, &pmem, LA + 8, VMDL_WALK_CHECK, &x));
    assert_int_equal(x.pa, PAGE + 8);
    /* a reserved PDPTE bit (bit 1) */
    put(PDPT, PD | 3);
    assert_false(vmdl__x86_walk(&p, &pmem, LA, VMDL_WALK_CHECK | VMDL_WALK_WRITE, &x));
    assert_int_equal(x.pfec, 0x0B);
}

/* PAE with PDPTE registers (SDM 4.4.1): the walk takes the entry from
 * them, never from the table at CR3, with the same reserved-bit check;
 * a register not present faults as a not-present entry.  Outside PAE
 * paging (IA-32e) they are ignored. */
static void test_pae_pdpte_registers(void **state)
{
    (void)state;
    memset(mem, 0, 0x20000);
    put(PDPT, 0x7000 | 1);                 /* the table at CR3: another PD */
    put(0x7000 + 2 * 8, 0x400000 | 0x83);  /* ... mapping LA to itself (2 MiB) */
    put(PD + 2 * 8, PT | 7);
    put(PT, PAGE | 3);
    uint64_t regs[4] = { PD | 1, 0, 0, 0 };
    struct vmdl__x86_paging p = { .cr0 = CR0_PG_PE_WP, .cr3 = PDPT,
                                  .cr4 = VMDL_X86_CR4_PAE, .efer = 0x800, .phys_bits = 40 };
    struct vmdl__x86_xlate x;
    assert_true(vmdl__x86_walk(&p, &pmem, LA + 8, VMDL_WALK_CHECK, &x));
    assert_int_equal(x.pa, 0x400008);                  /* the table at CR3 */
    p.pdpte = regs;
    assert_true(vmdl__x86_walk(&p, &pmem, LA + 8, VMDL_WALK_CHECK, &x));
    assert_int_equal(x.pa, PAGE + 8);                  /* the registers */
    assert_int_equal(get(PDPT), 0x7000 | 1);           /* the table untouched */
    /* PDPTE 1 not present in the registers (present in the table) */
    put(PDPT + 8, 0x7000 | 1);
    assert_false(vmdl__x86_walk(&p, &pmem, LA + 0x40000000ull, VMDL_WALK_CHECK, &x));
    assert_int_equal(x.pfec, 0);
    /* a reserved bit (bit 1) in the register */
    regs[0] |= 2;
    assert_false(vmdl__x86_walk(&p, &pmem, LA, VMDL_WALK_CHECK | VMDL_WALK_WRITE, &x));
    assert_int_equal(x.pfec, 0x0B);
    /* IA-32e: CR3 is the PML4, the registers play no part */
    map4(2);
    p = lm(0, 0, 0);
    p.pdpte = regs;
    assert_true(vmdl__x86_walk(&p, &pmem, LA + 8, VMDL_WALK_CHECK, &x));
    assert_int_equal(x.pa, PAGE + 8);
}

static void test_not_present(void **state)
{
    (void)state;
    map4(2);
    put(PD + 2 * 8, 0);
    struct vmdl__x86_paging p = lm(VMDL_X86_CR4_SMEP, 0, 0);
    assert_int_equal(access_pfec(&p, R), 0);        /* not present: error code 0 */
    put(PD + 2 * 8, PT | 7);
    put(PT, 0);
    assert_int_equal(access_pfec(&p, U | W), 0x06);
    assert_int_equal(access_pfec(&p, F), 0x10);     /* I/D: SMEP or NXE */
    assert_int_equal(writes, 0);
}

/* A set on every level of an allowed access, D on the leaf only for a
 * write; nothing for a refused access. */
static void test_accessed_dirty(void **state)
{
    (void)state;
    map4(KEY(1) | 2);
    struct vmdl__x86_paging p = lm(VMDL_X86_CR4_PKS, 0, AD(1));
    struct vmdl__x86_xlate x;
    unsigned a = VMDL_WALK_CHECK | VMDL_WALK_SET_AD;
    assert_false(vmdl__x86_walk(&p, &pmem, LA, a, &x));
    assert_int_equal(writes, 0);
    assert_int_equal(get(PT) & 0x60, 0);
    p.pkrs = 0;
    assert_true(vmdl__x86_walk(&p, &pmem, LA, a, &x));
    assert_false(x.dirty);
    assert_int_equal(get(PML4) & 0x60, 0x20);
    assert_int_equal(get(PDPT) & 0x60, 0x20);
    assert_int_equal(get(PD + 16) & 0x60, 0x20);
    assert_int_equal(get(PT) & 0x60, 0x20);
    assert_true(vmdl__x86_walk(&p, &pmem, LA, a | VMDL_WALK_WRITE, &x));
    assert_true(x.dirty);
    assert_int_equal(get(PT) & 0x60, 0x60);
    assert_int_equal(get(PD + 16) & 0x60, 0x20);    /* D only on the leaf */
    unsigned before = writes;
    assert_true(vmdl__x86_walk(&p, &pmem, LA, a | VMDL_WALK_WRITE, &x));
    assert_int_equal(writes, before);               /* already set: no writes */
    /* without VMDL_WALK_SET_AD nothing changes */
    map4(2);
    assert_true(vmdl__x86_walk(&p, &pmem, LA, VMDL_WALK_CHECK | VMDL_WALK_WRITE, &x));
    assert_int_equal(writes, 0);
}

static void test_large_pages_and_levels(void **state)
{
    (void)state;
    struct vmdl__x86_xlate x;
    map4(2);
    put(PD + 2 * 8, 0x600000 | 0x83);               /* 2 MiB at 4 MiB */
    struct vmdl__x86_paging p = lm(0, 0, 0);
    assert_true(vmdl__x86_walk(&p, &pmem, LA + 0x12345, VMDL_WALK_CHECK, &x));
    assert_int_equal(x.pa, 0x612345);
    assert_int_equal(x.page_size, 2u << 20);
    put(PD + 2 * 8, 0x600000 | 0x83 | (1ull << 13)); /* bit 13 reserved */
    assert_false(vmdl__x86_walk(&p, &pmem, LA, VMDL_WALK_CHECK, &x));
    assert_int_equal(x.pfec, 0x09);
    /* 1 GiB page: reserved without gb_pages, translated with it */
    put(PDPT, 0x40000000 | 0x83);
    assert_false(vmdl__x86_walk(&p, &pmem, LA, VMDL_WALK_CHECK, &x));
    assert_int_equal(x.pfec, 0x09);
    p.gb_pages = true;
    assert_true(vmdl__x86_walk(&p, &pmem, LA, VMDL_WALK_CHECK, &x));
    assert_int_equal(x.pa, 0x40000000 + LA);
    /* PS in a PML4E is reserved */
    put(PML4, PDPT | 0x87);
    assert_false(vmdl__x86_walk(&p, &pmem, LA, VMDL_WALK_CHECK, &x));
    assert_int_equal(x.pfec, 0x09);
    /* 5-level: one more table on top */
    map4(2);
    put(0x5000, PML4 | 7);
    p.cr3 = 0x5000;
    p.cr4 |= VMDL_X86_CR4_LA57;
    assert_true(vmdl__x86_walk(&p, &pmem, LA + 4, VMDL_WALK_CHECK, &x));
    assert_int_equal(x.pa, PAGE + 4);
    /* without checks a reserved bit does not stop the walk */
    put(PT, PAGE | 3 | (1ull << 51));
    assert_true(vmdl__x86_walk(&p, &pmem, LA, 0, &x));
}

/* 32-bit paging: 4 KiB pages and, with CR4.PSE, 4 MiB pages. */
static void test_paging32(void **state)
{
    (void)state;
    memset(mem, 0, 0x20000);
    uint32_t pde = 0x4000 | 7, pte = 0x10000 | 5, big = 0x00800000u | 0x87;
    memcpy(mem + 0x1000 + 1 * 4, &pde, 4);          /* la 0x400000 */
    memcpy(mem + 0x4000, &pte, 4);
    memcpy(mem + 0x1000 + 3 * 4, &big, 4);          /* la 0xC00000 */
    struct vmdl__x86_paging p = { .cr0 = CR0_PG_PE_WP, .cr3 = 0x1000, .cr4 = 0x10,
                                  .phys_bits = 40 };
    struct vmdl__x86_xlate x;
    assert_true(vmdl__x86_walk(&p, &pmem, 0x400010, VMDL_WALK_CHECK | U, &x));
    assert_int_equal(x.pa, 0x10010);
    assert_false(vmdl__x86_walk(&p, &pmem, 0x400010, VMDL_WALK_CHECK | U | W, &x));
    assert_int_equal(x.pfec, 0x07);
    assert_true(vmdl__x86_walk(&p, &pmem, 0xC12345, VMDL_WALK_CHECK | VMDL_WALK_SET_AD, &x));
    assert_int_equal(x.pa, 0x812345);
    uint32_t after;
    memcpy(&after, mem + 0x1000 + 3 * 4, 4);
    assert_int_equal(after & 0x60, 0x20);
    p.cr0 = 1;                                      /* paging off */
    assert_true(vmdl__x86_walk(&p, &pmem, 0x1234567890ull, VMDL_WALK_CHECK, &x));
    assert_int_equal(x.pa, 0x34567890);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rights_table),
        cmocka_unit_test(test_keys_only_in_ia32e),
        cmocka_unit_test(test_pae_pdpte_registers),
        cmocka_unit_test(test_not_present),
        cmocka_unit_test(test_accessed_dirty),
        cmocka_unit_test(test_large_pages_and_levels),
        cmocka_unit_test(test_paging32),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
