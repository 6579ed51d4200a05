/* SPDX-License-Identifier: MIT */
/* The generic timer model: reset values, ISTATUS and the interrupt line per
 * the Arm ARM, TVAL as a signed 32-bit view of CVAL, the counters and
 * CNTVOFF, EL0 access through CNTKCTL_EL1, next events, state round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "virtmodel/error.h"
#include "virtmodel/gtimer.h"

/* Encodings: op0 3, op1 3, CRn 14 (op1 0 for CNTKCTL_EL1). */
enum { FRQ, PCT, VCT, P_TVAL, P_CTL, P_CVAL, V_TVAL, V_CTL, V_CVAL, KCTL };
static const unsigned enc[][3] = {
    [FRQ] = {3, 0, 0}, [PCT] = {3, 0, 1}, [VCT] = {3, 0, 2},
    [P_TVAL] = {3, 2, 0}, [P_CTL] = {3, 2, 1}, [P_CVAL] = {3, 2, 2},
    [V_TVAL] = {3, 3, 0}, [V_CTL] = {3, 3, 1}, [V_CVAL] = {3, 3, 2},
    [KCTL] = {0, 1, 0},
};

static vmdl_fault acc(struct vmdl_gtimer *t, uint64_t cnt, unsigned el, int r, bool w,
                      uint64_t *v)
{
    return vmdl_gtimer_sysreg(t, cnt, el, 3, enc[r][0], 14, enc[r][1], enc[r][2], w, v);
}

static uint64_t rd(struct vmdl_gtimer *t, uint64_t cnt, int r)
{
    uint64_t v = 0xDEAD;
    assert_int_equal(acc(t, cnt, 1, r, false, &v), VMDL_FAULT_NONE);
    return v;
}

static void wr(struct vmdl_gtimer *t, uint64_t cnt, int r, uint64_t v)
{
    assert_int_equal(acc(t, cnt, 1, r, true, &v), VMDL_FAULT_NONE);
}

static void test_reset_values(void **s)
{
    (void)s;
    struct vmdl_gtimer t;
    vmdl_gtimer_init(&t, 0, 0);
    assert_int_equal(rd(&t, 5, FRQ), VMDL_GTIMER_DEFAULT_FREQ);
    assert_int_equal(rd(&t, 5, P_CTL), 0);
    assert_int_equal(rd(&t, 5, V_CTL), 0); /* disabled: no ISTATUS though CVAL 0 <= 5 */
    assert_int_equal(rd(&t, 5, P_CVAL), 0);
    assert_int_equal(rd(&t, 5, V_CVAL), 0);
    assert_int_equal(rd(&t, 5, KCTL), 0);
    assert_int_equal(rd(&t, 5, PCT), 5);
    assert_int_equal(rd(&t, 5, VCT), 5);
    /* A reset clears the guest's registers, keeps the configuration. */
    t.cntvoff = 3;
    wr(&t, 9, V_CTL, 3);
    wr(&t, 9, V_CVAL, 100);
    wr(&t, 9, KCTL, 0x3FF);
    vmdl_gtimer_reset(&t);
    assert_int_equal(rd(&t, 9, V_CTL), 0);
    assert_int_equal(rd(&t, 9, V_CVAL), 0);
    assert_int_equal(rd(&t, 9, KCTL), 0);
    assert_int_equal(rd(&t, 9, VCT), 6);
    vmdl_gtimer_init(&t, 24000000, 0);
    assert_int_equal(rd(&t, 0, FRQ), 24000000);
}

static void test_istatus_and_line(void **s)
{
    (void)s;
    struct vmdl_gtimer t;
    vmdl_gtimer_init(&t, 0, 0);
    wr(&t, 0, V_CVAL, 1000);
    wr(&t, 0, V_CTL, VMDL_GTIMER_CTL_ENABLE);
    assert_int_equal(rd(&t, 999, V_CTL), VMDL_GTIMER_CTL_ENABLE);
    assert_false(vmdl_gtimer_line(&t, VMDL_GTIMER_VIRT, 999));
    /* The condition is count >= CVAL: met at 1000 exactly. */
    assert_int_equal(rd(&t, 1000, V_CTL), VMDL_GTIMER_CTL_ENABLE | VMDL_GTIMER_CTL_ISTATUS);
    assert_true(vmdl_gtimer_line(&t, VMDL_GTIMER_VIRT, 1000));
    assert_false(vmdl_gtimer_line(&t, VMDL_GTIMER_PHYS, 1000));
    /* IMASK keeps ISTATUS, drops the line. */
    wr(&t, 1000, V_CTL, VMDL_GTIMER_CTL_ENABLE | VMDL_GTIMER_CTL_IMASK);
    assert_int_equal(rd(&t, 1000, V_CTL), 7);
    assert_false(vmdl_gtimer_line(&t, VMDL_GTIMER_VIRT, 1000));
    /* ISTATUS is read-only, bits above 2 RES0. */
    wr(&t, 1000, V_CTL, ~0ull & ~(uint64_t)VMDL_GTIMER_CTL_ENABLE);
    assert_int_equal(rd(&t, 1000, V_CTL), VMDL_GTIMER_CTL_IMASK);
    /* Disabled: ISTATUS reads 0 (UNKNOWN in the Arm ARM) ... */
    wr(&t, 1000, V_CTL, 0);
    assert_int_equal(rd(&t, 5000, V_CTL), 0);
    /* ... or the condition, KVM's emulated read. */
    struct vmdl_gtimer k;
    vmdl_gtimer_init(&k, 0, VMDL_GTIMER_F_ISTATUS_WHEN_DISABLED);
    wr(&k, 0, V_CVAL, 1000);
    assert_int_equal(rd(&k, 5000, V_CTL), VMDL_GTIMER_CTL_ISTATUS);
    assert_false(vmdl_gtimer_line(&k, VMDL_GTIMER_VIRT, 5000));
    /* The comparison is unsigned 64-bit: CVAL near the top never met early. */
    wr(&t, 0, P_CVAL, ~0ull);
    wr(&t, 0, P_CTL, 1);
    assert_int_equal(rd(&t, 1ull << 63, P_CTL), 1);
    assert_int_equal(rd(&t, ~0ull, P_CTL), 5);
}

static void test_tval_signed_view(void **s)
{
    (void)s;
    struct vmdl_gtimer t;
    vmdl_gtimer_init(&t, 0, 0);
    /* TVAL write: CVAL = count + SignExtend(value[31:0]). */
    wr(&t, 1000, P_TVAL, 500);
    assert_int_equal(rd(&t, 1000, P_CVAL), 1500);
    assert_int_equal(rd(&t, 1200, P_TVAL), 300);
    /* After the deadline TVAL counts on below zero: (CVAL - count)[31:0]. */
    assert_int_equal(rd(&t, 1600, P_TVAL), 0xFFFFFF9Cull); /* -100, zero-extended */
    /* A negative TVAL puts CVAL in the past; upper bits are ignored. */
    wr(&t, 1000, P_TVAL, 0xABCD0000FFFFFFFFull); /* -1 */
    assert_int_equal(rd(&t, 1000, P_CVAL), 999);
    wr(&t, 1000, P_CTL, 1);
    assert_int_equal(rd(&t, 1000, P_CTL), 5);
    /* 0x80000000 is the most negative. */
    wr(&t, 1ull << 40, P_TVAL, 0x80000000u);
    assert_int_equal(rd(&t, 0, P_CVAL), (1ull << 40) - 0x80000000ull);
    /* The virtual TVAL works on the virtual count. */
    t.cntvoff = 100;
    wr(&t, 1000, V_TVAL, 50);
    assert_int_equal(rd(&t, 1000, V_CVAL), 950);
    assert_int_equal(rd(&t, 1000, V_TVAL), 50);
    /* CVAL itself is a full 64-bit register. */
    wr(&t, 0, V_CVAL, 0x123456789ABCDEF0ull);
    assert_int_equal(rd(&t, 0, V_CVAL), 0x123456789ABCDEF0ull);
}

static void test_counters_and_offset(void **s)
{
    (void)s;
    struct vmdl_gtimer t;
    vmdl_gtimer_init(&t, 0, 0);
    t.cntvoff = 1000;
    assert_int_equal(rd(&t, 5000, PCT), 5000);
    assert_int_equal(rd(&t, 5000, VCT), 4000);
    assert_int_equal(rd(&t, 10, VCT), (uint64_t)10 - 1000); /* wraps, as the ARM */
    /* The virtual timer compares with the virtual count. */
    wr(&t, 0, V_CVAL, 4000);
    wr(&t, 0, V_CTL, 1);
    assert_false(vmdl_gtimer_line(&t, VMDL_GTIMER_VIRT, 4999));
    assert_true(vmdl_gtimer_line(&t, VMDL_GTIMER_VIRT, 5000));
    /* Counters and CNTFRQ are read-only at EL1: the write is UNDEFINED. */
    uint64_t v = 1;
    assert_int_equal(acc(&t, 0, 1, PCT, true, &v), VMDL_FAULT_UNDEF);
    assert_int_equal(acc(&t, 0, 1, VCT, true, &v), VMDL_FAULT_UNDEF);
    assert_int_equal(acc(&t, 0, 1, FRQ, true, &v), VMDL_FAULT_UNDEF);
    assert_int_equal(rd(&t, 0, FRQ), VMDL_GTIMER_DEFAULT_FREQ);
}

static void test_el0_access(void **s)
{
    (void)s;
    struct vmdl_gtimer t;
    vmdl_gtimer_init(&t, 0, 0);
    uint64_t v;
    /* CNTKCTL_EL1 0: EL0 may use nothing: the Arm ARM traps each access to
     * EL1 with EC 0x18.  CNTKCTL_EL1 itself is an EL1 register: UNDEFINED
     * at EL0, as are writes to the read-only counters at any EL. */
    for (int r = FRQ; r < KCTL; r++)
        assert_int_equal(acc(&t, 0, 0, r, false, &v), VMDL_FAULT_SYSREG_TRAP);
    assert_int_equal(acc(&t, 0, 0, KCTL, false, &v), VMDL_FAULT_UNDEF);
    assert_int_equal(acc(&t, 0, 0, VCT, true, &v), VMDL_FAULT_UNDEF);
    assert_int_equal(acc(&t, 0, 0, FRQ, true, &v), VMDL_FAULT_UNDEF);
    wr(&t, 0, KCTL, VMDL_GTIMER_KCTL_EL0VCTEN);
    assert_int_equal(acc(&t, 7, 0, VCT, false, &v), VMDL_FAULT_NONE);
    assert_int_equal(v, 7);
    assert_int_equal(acc(&t, 7, 0, FRQ, false, &v), VMDL_FAULT_NONE); /* either counter bit */
    assert_int_equal(acc(&t, 7, 0, PCT, false, &v), VMDL_FAULT_SYSREG_TRAP);
    assert_int_equal(acc(&t, 7, 0, V_CTL, false, &v), VMDL_FAULT_SYSREG_TRAP);
    wr(&t, 0, KCTL, VMDL_GTIMER_KCTL_EL0VTEN);
    v = 1;
    assert_int_equal(acc(&t, 7, 0, V_CTL, true, &v), VMDL_FAULT_NONE);
    assert_int_equal(acc(&t, 7, 0, P_CTL, true, &v), VMDL_FAULT_SYSREG_TRAP);
    assert_int_equal(acc(&t, 7, 0, KCTL, false, &v), VMDL_FAULT_UNDEF);
    /* CNTKCTL_EL1 keeps bits 9:0 only. */
    wr(&t, 0, KCTL, ~0ull);
    assert_int_equal(rd(&t, 0, KCTL), 0x3FF);
}

static void test_unclaimed_encodings(void **s)
{
    (void)s;
    struct vmdl_gtimer t;
    vmdl_gtimer_init(&t, 0, 0);
    uint64_t v = 0;
    /* CNTVOFF_EL2 (3,4,14,0,3), CNTHCTL_EL2, other CRn, CNTPS at op1 7. */
    assert_int_equal(vmdl_gtimer_sysreg(&t, 0, 1, 3, 4, 14, 0, 3, false, &v),
                     VMDL_FAULT_UNCLAIMED);
    assert_int_equal(vmdl_gtimer_sysreg(&t, 0, 1, 3, 4, 14, 1, 0, false, &v),
                     VMDL_FAULT_UNCLAIMED);
    assert_int_equal(vmdl_gtimer_sysreg(&t, 0, 1, 3, 3, 13, 0, 2, false, &v),
                     VMDL_FAULT_UNCLAIMED);
    assert_int_equal(vmdl_gtimer_sysreg(&t, 0, 1, 3, 7, 14, 2, 1, false, &v),
                     VMDL_FAULT_UNCLAIMED);
    assert_int_equal(vmdl_gtimer_sysreg(&t, 0, 1, 3, 3, 14, 0, 5, false, &v),
                     VMDL_FAULT_UNCLAIMED); /* CNTPCTSS: ECV, not modelled */
    assert_int_equal(vmdl_gtimer_sysreg(&t, 0, 1, 3, 3, 14, 3, 3, false, &v),
                     VMDL_FAULT_UNCLAIMED);
    assert_int_equal(vmdl_gtimer_sysreg(&t, 0, 1, 2, 3, 14, 3, 1, false, &v),
                     VMDL_FAULT_UNCLAIMED);
}

static void test_next_event(void **s)
{
    (void)s;
    struct vmdl_gtimer t;
    vmdl_gtimer_init(&t, 0, 0);
    assert_int_equal(vmdl_gtimer_next_event(&t, VMDL_GTIMER_VIRT, 10), UINT64_MAX);
    wr(&t, 10, V_TVAL, 90);
    assert_int_equal(vmdl_gtimer_next_event(&t, VMDL_GTIMER_VIRT, 10), UINT64_MAX); /* off */
    wr(&t, 10, V_CTL, 1);
    assert_int_equal(vmdl_gtimer_next_event(&t, VMDL_GTIMER_VIRT, 10), 100);
    assert_int_equal(vmdl_gtimer_next_event(&t, VMDL_GTIMER_VIRT, 150), 150); /* up */
    wr(&t, 10, V_CTL, 3);
    assert_int_equal(vmdl_gtimer_next_event(&t, VMDL_GTIMER_VIRT, 10), UINT64_MAX);
    /* With CNTVOFF the event is in physical counts. */
    t.cntvoff = 1000;
    wr(&t, 0, V_CTL, 1);
    wr(&t, 0, V_CVAL, 500);
    assert_int_equal(vmdl_gtimer_next_event(&t, VMDL_GTIMER_VIRT, 1200), 1500);
    /* Beyond the 64-bit count: never. */
    wr(&t, 0, P_CVAL, ~0ull);
    wr(&t, 0, P_CTL, 1);
    t.cntvoff = 0;
    assert_int_equal(vmdl_gtimer_next_event(&t, VMDL_GTIMER_PHYS, 5), ~0ull);
}

static void test_state_round_trip(void **s)
{
    (void)s;
    struct vmdl_gtimer t, u;
    vmdl_gtimer_init(&t, 50000000, VMDL_GTIMER_F_ISTATUS_WHEN_DISABLED);
    t.cntvoff = 77;
    wr(&t, 0, V_CVAL, 1234);
    wr(&t, 0, P_CTL, 3);
    wr(&t, 0, KCTL, 0x303);
    struct vmdl_blob_writer w;
    vmdl_blob_begin(&w, VMDL_BLOB_MAGIC('T', 'G', 'T', 'M'), 1);
    vmdl_gtimer_put(&t, &w);
    uint8_t *blob;
    size_t len;
    assert_int_equal(vmdl_blob_finish(&w, &blob, &len), VMDL_OK);
    struct vmdl_blob_reader r;
    assert_int_equal(vmdl_blob_open(&r, blob, len, VMDL_BLOB_MAGIC('T', 'G', 'T', 'M'), 1,
                                    "t"), VMDL_OK);
    vmdl_gtimer_init(&u, 0, 0);
    vmdl_gtimer_get(&u, &r);
    assert_int_equal(vmdl_blob_close(&r), VMDL_OK);
    assert_int_equal(u.freq, 50000000);
    assert_int_equal(u.cntvoff, 77);
    assert_int_equal(rd(&u, 0, V_CVAL), 1234);
    assert_int_equal(rd(&u, 0, P_CTL), 3 | VMDL_GTIMER_CTL_ISTATUS);
    assert_int_equal(rd(&u, 0, KCTL), 0x303);
    free(blob);
    /* Reserved CTL bits in a blob: refused, the timer unchanged. */
    t.t[VMDL_GTIMER_VIRT].ctl = 0x8;
    vmdl_blob_begin(&w, VMDL_BLOB_MAGIC('T', 'G', 'T', 'M'), 1);
    vmdl_gtimer_put(&t, &w);
    assert_int_equal(vmdl_blob_finish(&w, &blob, &len), VMDL_OK);
    assert_int_equal(vmdl_blob_open(&r, blob, len, VMDL_BLOB_MAGIC('T', 'G', 'T', 'M'), 1,
                                    "t"), VMDL_OK);
    vmdl_gtimer_get(&u, &r);
    assert_true(vmdl_blob_close(&r) < 0);
    assert_int_equal(rd(&u, 0, V_CVAL), 1234);
    free(blob);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reset_values),
        cmocka_unit_test(test_istatus_and_line),
        cmocka_unit_test(test_tval_signed_view),
        cmocka_unit_test(test_counters_and_offset),
        cmocka_unit_test(test_el0_access),
        cmocka_unit_test(test_unclaimed_encodings),
        cmocka_unit_test(test_next_event),
        cmocka_unit_test(test_state_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
