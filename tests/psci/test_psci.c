/* SPDX-License-Identifier: MIT */
/* PSCI model: the answers KVM gives (arch/arm64/kvm/psci.c) and the power
 * state they leave behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "virtmodel/error.h"
#include "virtmodel/psci.h"

static struct vmdl_psci *mk(unsigned n, uint32_t version)
{
    struct vmdl_psci *p = NULL;
    assert_int_equal(vmdl_psci_create(n, version, &p), VMDL_OK);
    return p;
}

static struct vmdl_psci_result call(struct vmdl_psci *p, unsigned caller, uint64_t fn, uint64_t a1, uint64_t a2, uint64_t a3)
{
    struct vmdl_psci_result r;
    assert_int_equal(vmdl_psci_call(p, caller, fn, a1, a2, a3, &r), VMDL_OK);
    return r;
}

static void test_create_refuses_bad_config(void **s)
{
    (void)s;
    struct vmdl_psci *p = (struct vmdl_psci *)1;
    assert_int_equal(vmdl_psci_create(0, VMDL_PSCI_VERSION_1_1, &p), VMDL_EINVAL);
    assert_null(p);
    assert_int_equal(vmdl_psci_create(VMDL_PSCI_MAX_CPUS + 1, VMDL_PSCI_VERSION_1_1, &p),
                     VMDL_EINVAL);
    assert_int_equal(vmdl_psci_create(2, 0x10002, &p), VMDL_EINVAL);
    assert_int_equal(vmdl_psci_create(2, 1, &p), VMDL_EINVAL); /* 0.1 */
    assert_int_equal(vmdl_psci_create(2, VMDL_PSCI_VERSION_1_1, NULL), VMDL_EINVAL);
}

static void test_reset_state_boot_cpu_only(void **s)
{
    (void)s;
    struct vmdl_psci *p = mk(4, VMDL_PSCI_VERSION_1_1);
    assert_true(vmdl_psci_cpu_is_on(p, 0));
    for (unsigned i = 1; i < 4; i++)
        assert_false(vmdl_psci_cpu_is_on(p, i));
    assert_false(vmdl_psci_cpu_is_on(p, 4));
    vmdl_psci_destroy(p);
}

static void test_version_per_config(void **s)
{
    (void)s;
    uint32_t v[] = {VMDL_PSCI_VERSION_1_1, VMDL_PSCI_VERSION_1_0, VMDL_PSCI_VERSION_0_2};
    for (unsigned i = 0; i < 3; i++) {
        struct vmdl_psci *p = mk(1, v[i]);
        assert_int_equal(call(p, 0, VMDL_PSCI_FN_VERSION, 0, 0, 0).x0, v[i]);
        vmdl_psci_destroy(p);
    }
}

static void test_mpidr_layout_is_kvms(void **s)
{
    (void)s;
    assert_int_equal(vmdl_psci_mpidr(0), 0);
    assert_int_equal(vmdl_psci_mpidr(15), 0xF);
    assert_int_equal(vmdl_psci_mpidr(16), 0x100);
    assert_int_equal(vmdl_psci_mpidr(17), 0x101);
    assert_int_equal(vmdl_psci_mpidr(4096), 0x10000);
}

static void test_cpu_on_starts_target_with_context(void **s)
{
    (void)s;
    struct vmdl_psci *p = mk(4, VMDL_PSCI_VERSION_1_1);
    struct vmdl_psci_result r = call(p, 0, VMDL_PSCI_FN64_CPU_ON, 2, 0x40081000, 0x1234567890ull);
    assert_int_equal(r.x0, VMDL_PSCI_SUCCESS);
    assert_int_equal(r.action, VMDL_PSCI_ACT_CPU_ON);
    assert_int_equal(r.target, 2);
    assert_int_equal(r.entry, 0x40081000);
    assert_int_equal(r.context, 0x1234567890ull);
    assert_true(vmdl_psci_cpu_is_on(p, 2));
    vmdl_psci_destroy(p);
}

static void test_cpu_on_twice_already_on_not_pending(void **s)
{
    (void)s;
    struct vmdl_psci *p = mk(4, VMDL_PSCI_VERSION_1_1);
    assert_int_equal(call(p, 0, VMDL_PSCI_FN64_CPU_ON, 1, 0x40080000, 0).x0, 0);
    /* KVM: the target is runnable at once, so a second CPU_ON (even before
     * it ran) is ALREADY_ON, never ON_PENDING. */
    struct vmdl_psci_result r = call(p, 2, VMDL_PSCI_FN64_CPU_ON, 1, 0x40080000, 0);
    assert_int_equal(r.x0, VMDL_PSCI_ALREADY_ON);
    assert_int_equal(r.action, VMDL_PSCI_ACT_NONE);
    assert_int_equal(call(p, 1, VMDL_PSCI_FN64_CPU_ON, 0, 0, 0).x0, VMDL_PSCI_ALREADY_ON);
    vmdl_psci_destroy(p);
}

static void test_cpu_on_bad_target_invalid_parameters(void **s)
{
    (void)s;
    struct vmdl_psci *p = mk(4, VMDL_PSCI_VERSION_1_1);
    assert_int_equal(call(p, 0, VMDL_PSCI_FN64_CPU_ON, 4, 0, 0).x0,
                     VMDL_PSCI_INVALID_PARAMETERS);
    /* Bits outside Aff3..Aff0 (e.g. MPIDR's RES1 bit 31, MT bit 24). */
    assert_int_equal(call(p, 0, VMDL_PSCI_FN64_CPU_ON, 0x80000001ull, 0, 0).x0,
                     VMDL_PSCI_INVALID_PARAMETERS);
    assert_int_equal(call(p, 0, VMDL_PSCI_FN64_CPU_ON, 0x1000001ull, 0, 0).x0,
                     VMDL_PSCI_INVALID_PARAMETERS);
    assert_false(vmdl_psci_cpu_is_on(p, 1));
    vmdl_psci_destroy(p);
}

static void test_cpu_on_smc32_narrows_arguments(void **s)
{
    (void)s;
    struct vmdl_psci *p = mk(2, VMDL_PSCI_VERSION_1_1);
    /* The 32-bit function id sees only W1..W3: target 1, entry and context
     * truncated. */
    struct vmdl_psci_result r = call(p, 0, VMDL_PSCI_FN_CPU_ON, 0xFFFFFFFF00000001ull, 0x140080000ull, 0xAB00000077ull);
    assert_int_equal(r.x0, 0);
    assert_int_equal(r.target, 1);
    assert_int_equal(r.entry, 0x40080000);
    assert_int_equal(r.context, 0x77);
    vmdl_psci_destroy(p);
}

static void test_function_id_upper_half_ignored(void **s)
{
    (void)s;
    struct vmdl_psci *p = mk(1, VMDL_PSCI_VERSION_1_1);
    assert_int_equal(call(p, 0, 0xFFFFFFFF00000000ull | VMDL_PSCI_FN_VERSION, 0, 0, 0).x0,
                     VMDL_PSCI_VERSION_1_1);
    vmdl_psci_destroy(p);
}

static void test_cpu_off_then_affinity_off_then_on_again(void **s)
{
    (void)s;
    struct vmdl_psci *p = mk(2, VMDL_PSCI_VERSION_1_1);
    assert_int_equal(call(p, 0, VMDL_PSCI_FN64_CPU_ON, 1, 0x1000, 0).x0, 0);
    struct vmdl_psci_result r = call(p, 1, VMDL_PSCI_FN_CPU_OFF, 0, 0, 0);
    assert_int_equal(r.action, VMDL_PSCI_ACT_CPU_OFF);
    assert_false(vmdl_psci_cpu_is_on(p, 1));
    assert_int_equal(call(p, 0, VMDL_PSCI_FN64_AFFINITY_INFO, 1, 0, 0).x0,
                     VMDL_PSCI_AFFINITY_OFF);
    assert_int_equal(call(p, 0, VMDL_PSCI_FN64_CPU_ON, 1, 0x2000, 5).x0, 0);
    assert_int_equal(call(p, 0, VMDL_PSCI_FN64_AFFINITY_INFO, 1, 0, 0).x0,
                     VMDL_PSCI_AFFINITY_ON);
    vmdl_psci_destroy(p);
}

static void test_affinity_info_levels(void **s)
{
    (void)s;
    struct vmdl_psci *p = mk(20, VMDL_PSCI_VERSION_1_1);
    assert_int_equal(call(p, 0, VMDL_PSCI_FN64_AFFINITY_INFO, 0, 0, 0).x0,
                     VMDL_PSCI_AFFINITY_ON);
    assert_int_equal(call(p, 0, VMDL_PSCI_FN64_AFFINITY_INFO, 0x101, 0, 0).x0,
                     VMDL_PSCI_AFFINITY_OFF);
    /* Level 1: cluster 0 (vCPUs 0-15) holds vCPU 0, which is on. */
    assert_int_equal(call(p, 0, VMDL_PSCI_FN64_AFFINITY_INFO, 0x7, 1, 0).x0,
                     VMDL_PSCI_AFFINITY_ON);
    /* Cluster 1 (vCPUs 16-19) is all off. */
    assert_int_equal(call(p, 0, VMDL_PSCI_FN64_AFFINITY_INFO, 0x100, 1, 0).x0,
                     VMDL_PSCI_AFFINITY_OFF);
    /* No vCPU in cluster 2; level 4 does not exist; bits outside Aff. */
    assert_int_equal(call(p, 0, VMDL_PSCI_FN64_AFFINITY_INFO, 0x200, 1, 0).x0,
                     VMDL_PSCI_INVALID_PARAMETERS);
    assert_int_equal(call(p, 0, VMDL_PSCI_FN64_AFFINITY_INFO, 0, 4, 0).x0,
                     VMDL_PSCI_INVALID_PARAMETERS);
    assert_int_equal(call(p, 0, VMDL_PSCI_FN64_AFFINITY_INFO, 1ull << 31, 0, 0).x0,
                     VMDL_PSCI_INVALID_PARAMETERS);
    /* Level 3 compares Aff3 only: every vCPU matches. */
    assert_int_equal(call(p, 0, VMDL_PSCI_FN64_AFFINITY_INFO, 0x100, 3, 0).x0,
                     VMDL_PSCI_AFFINITY_ON);
    vmdl_psci_destroy(p);
}

static void test_features_1_1(void **s)
{
    (void)s;
    struct vmdl_psci *p = mk(1, VMDL_PSCI_VERSION_1_1);
    uint32_t yes[] = {VMDL_PSCI_FN_VERSION, VMDL_PSCI_FN_CPU_SUSPEND,
                      VMDL_PSCI_FN64_CPU_SUSPEND, VMDL_PSCI_FN_CPU_OFF,
                      VMDL_PSCI_FN_CPU_ON, VMDL_PSCI_FN64_CPU_ON,
                      VMDL_PSCI_FN_AFFINITY_INFO, VMDL_PSCI_FN64_AFFINITY_INFO,
                      VMDL_PSCI_FN_MIGRATE_INFO_TYPE, VMDL_PSCI_FN_SYSTEM_OFF,
                      VMDL_PSCI_FN_SYSTEM_RESET, VMDL_PSCI_FN_FEATURES,
                      VMDL_SMCCC_VERSION, VMDL_PSCI_FN_SYSTEM_RESET2,
                      VMDL_PSCI_FN64_SYSTEM_RESET2};
    for (unsigned i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        assert_int_equal(call(p, 0, VMDL_PSCI_FN_FEATURES, yes[i], 0, 0).x0, 0);
    uint32_t no[] = {VMDL_PSCI_FN_MIGRATE, VMDL_PSCI_FN64_MIGRATE, 0x8400000E /* SYSTEM_SUSPEND */,
                     0x84000007 /* MIGRATE_INFO_UP_CPU */, 1337, 0xC4000008};
    for (unsigned i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        assert_int_equal(call(p, 0, VMDL_PSCI_FN_FEATURES, no[i], 0, 0).x0,
                         VMDL_PSCI_NOT_SUPPORTED);
    vmdl_psci_destroy(p);
}

static void test_features_by_version(void **s)
{
    (void)s;
    struct vmdl_psci *p = mk(1, VMDL_PSCI_VERSION_1_0);
    assert_int_equal(call(p, 0, VMDL_PSCI_FN_FEATURES, VMDL_PSCI_FN_SYSTEM_RESET2, 0, 0).x0,
                     VMDL_PSCI_NOT_SUPPORTED);
    assert_int_equal(call(p, 0, VMDL_PSCI_FN_FEATURES, VMDL_PSCI_FN_CPU_ON, 0, 0).x0, 0);
    vmdl_psci_destroy(p);
    p = mk(1, VMDL_PSCI_VERSION_0_2);
    /* FEATURES is a PSCI 1.0 function. */
    assert_int_equal(call(p, 0, VMDL_PSCI_FN_FEATURES, VMDL_PSCI_FN_CPU_ON, 0, 0).x0,
                     VMDL_PSCI_NOT_SUPPORTED);
    vmdl_psci_destroy(p);
}

static void test_migrate_info_type_and_migrate(void **s)
{
    (void)s;
    struct vmdl_psci *p = mk(1, VMDL_PSCI_VERSION_1_1);
    assert_int_equal(call(p, 0, VMDL_PSCI_FN_MIGRATE_INFO_TYPE, 0, 0, 0).x0, VMDL_PSCI_TOS_MP);
    assert_int_equal(call(p, 0, VMDL_PSCI_FN64_MIGRATE, 0, 0, 0).x0, VMDL_PSCI_NOT_SUPPORTED);
    vmdl_psci_destroy(p);
}

static void test_system_off_and_reset_power_everything_off(void **s)
{
    (void)s;
    struct vmdl_psci *p = mk(2, VMDL_PSCI_VERSION_1_1);
    call(p, 0, VMDL_PSCI_FN64_CPU_ON, 1, 0, 0);
    struct vmdl_psci_result r = call(p, 1, VMDL_PSCI_FN_SYSTEM_OFF, 0, 0, 0);
    assert_int_equal(r.action, VMDL_PSCI_ACT_SYSTEM_OFF);
    assert_int_equal(r.x0, VMDL_PSCI_INTERNAL_FAILURE);
    assert_false(vmdl_psci_cpu_is_on(p, 0));
    assert_false(vmdl_psci_cpu_is_on(p, 1));
    vmdl_psci_reset(p);
    r = call(p, 0, VMDL_PSCI_FN_SYSTEM_RESET, 0, 0, 0);
    assert_int_equal(r.action, VMDL_PSCI_ACT_SYSTEM_RESET);
    assert_int_equal(r.x0, VMDL_PSCI_INTERNAL_FAILURE);
    vmdl_psci_destroy(p);
}

static void test_system_reset2_types(void **s)
{
    (void)s;
    struct vmdl_psci *p = mk(1, VMDL_PSCI_VERSION_1_1);
    struct vmdl_psci_result r = call(p, 0, VMDL_PSCI_FN64_SYSTEM_RESET2, 0, 0, 0);
    assert_int_equal(r.action, VMDL_PSCI_ACT_SYSTEM_RESET);
    assert_int_equal(r.reset_type, 0);
    vmdl_psci_reset(p);
    r = call(p, 0, VMDL_PSCI_FN_SYSTEM_RESET2, 0x80000005, 0, 0);
    assert_int_equal(r.action, VMDL_PSCI_ACT_SYSTEM_RESET);
    assert_int_equal(r.reset_type, 0x80000005);
    vmdl_psci_reset(p);
    r = call(p, 0, VMDL_PSCI_FN_SYSTEM_RESET2, 1, 0, 0);
    assert_int_equal(r.x0, VMDL_PSCI_INVALID_PARAMETERS);
    assert_int_equal(r.action, VMDL_PSCI_ACT_NONE);
    vmdl_psci_destroy(p);
    p = mk(1, VMDL_PSCI_VERSION_1_0);
    assert_int_equal(call(p, 0, VMDL_PSCI_FN_SYSTEM_RESET2, 0, 0, 0).x0, VMDL_PSCI_NOT_SUPPORTED);
    vmdl_psci_destroy(p);
}

static void test_suspend_is_wfi(void **s)
{
    (void)s;
    struct vmdl_psci *p = mk(1, VMDL_PSCI_VERSION_1_1);
    struct vmdl_psci_result r = call(p, 0, VMDL_PSCI_FN64_CPU_SUSPEND, 0x10000, 0x4000, 0);
    assert_int_equal(r.x0, 0);
    assert_int_equal(r.action, VMDL_PSCI_ACT_SUSPEND);
    assert_true(vmdl_psci_cpu_is_on(p, 0));
    vmdl_psci_destroy(p);
}

static void test_unknown_and_smccc(void **s)
{
    (void)s;
    struct vmdl_psci *p = mk(1, VMDL_PSCI_VERSION_1_1);
    assert_int_equal(call(p, 0, 1337, 0, 0, 0).x0, VMDL_PSCI_NOT_SUPPORTED);
    assert_int_equal(call(p, 0, 0x8400001F, 0, 0, 0).x0, VMDL_PSCI_NOT_SUPPORTED);
    assert_int_equal(call(p, 0, VMDL_SMCCC_VERSION, 0, 0, 0).x0, 0x10001);
    assert_true(vmdl_psci_owns(VMDL_PSCI_FN_CPU_ON));
    assert_true(vmdl_psci_owns(VMDL_PSCI_FN64_CPU_ON));
    assert_true(vmdl_psci_owns(0x8400001F));
    assert_false(vmdl_psci_owns(0x84000020));
    assert_false(vmdl_psci_owns(0xC6000000));
    assert_false(vmdl_psci_owns(1337));
    vmdl_psci_destroy(p);
}

static void test_call_api_misuse(void **s)
{
    (void)s;
    struct vmdl_psci *p = mk(2, VMDL_PSCI_VERSION_1_1);
    struct vmdl_psci_result r;
    assert_int_equal(vmdl_psci_call(p, 2, VMDL_PSCI_FN_VERSION, 0, 0, 0, &r), VMDL_EINVAL);
    assert_int_equal(vmdl_psci_call(NULL, 0, VMDL_PSCI_FN_VERSION, 0, 0, 0, &r), VMDL_EINVAL);
    assert_int_equal(vmdl_psci_call(p, 0, VMDL_PSCI_FN_VERSION, 0, 0, 0, NULL), VMDL_EINVAL);
    vmdl_psci_destroy(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_refuses_bad_config),
        cmocka_unit_test(test_reset_state_boot_cpu_only),
        cmocka_unit_test(test_version_per_config),
        cmocka_unit_test(test_mpidr_layout_is_kvms),
        cmocka_unit_test(test_cpu_on_starts_target_with_context),
        cmocka_unit_test(test_cpu_on_twice_already_on_not_pending),
        cmocka_unit_test(test_cpu_on_bad_target_invalid_parameters),
        cmocka_unit_test(test_cpu_on_smc32_narrows_arguments),
        cmocka_unit_test(test_function_id_upper_half_ignored),
        cmocka_unit_test(test_cpu_off_then_affinity_off_then_on_again),
        cmocka_unit_test(test_affinity_info_levels),
        cmocka_unit_test(test_features_1_1),
        cmocka_unit_test(test_features_by_version),
        cmocka_unit_test(test_migrate_info_type_and_migrate),
        cmocka_unit_test(test_system_off_and_reset_power_everything_off),
        cmocka_unit_test(test_system_reset2_types),
        cmocka_unit_test(test_suspend_is_wfi),
        cmocka_unit_test(test_unknown_and_smccc),
        cmocka_unit_test(test_call_api_misuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
