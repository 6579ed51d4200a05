/* SPDX-License-Identifier: MIT */
/* Nested APICv updates: on-demand vmcs01 writes vs the deferred quirk, and
 * the vmx_apicv_updates_test scenario under each behaviour. */
#include "util.h"

#include "napicv_scenario.h"
#include "virtmodel/lapic_nested.h"

static struct vmdl_napicv *mk(enum vmdl_napicv_behaviour b)
{
    struct vmdl_napicv *n = NULL;
    assert_int_equal(vmdl_napicv_create(b, &n), 0);
    assert_int_equal(vmdl_napicv_behaviour(n), b);
    return n;
}

static const struct vmdl_vmcs_apicv v02 = {.proc_controls = 0x1234};

static void test_updates_outside_l2_are_direct(void **state)
{
    (void)state;
    for (int b = 0; b < 2; b++) {
        struct vmdl_napicv *n = mk((enum vmdl_napicv_behaviour)b);
        struct vmdl_vmcs_apicv v;
        assert_int_equal(vmdl_napicv_set_tpr_threshold(n, 7), 0);
        assert_int_equal(vmdl_napicv_set_pml(n, true), 0);
        assert_int_equal(vmdl_napicv_set_apic_access_page(n, 0xFEE00000), 0);
        assert_int_equal(vmdl_napicv_set_virtual_apic_mode(n, VMDL_LAPIC_MODE_XAPIC), 0);
        assert_int_equal(vmdl_napicv_refresh_apicv(n, true, 0x31), 0);
        vmdl_napicv_get_vmcs(n, 1, &v);
        assert_int_equal(v.tpr_threshold, 7);
        assert_int_equal(v.proc2_controls,
                         VMDL_PROC2_ENABLE_PML | VMDL_PROC2_VIRT_APIC_ACCESSES |
                         VMDL_PROC2_APIC_REG_VIRT | VMDL_PROC2_VIRT_INTR_DELIVERY);
        assert_int_equal(v.pin_controls, VMDL_PIN_POSTED_INTR);
        assert_int_equal(v.apic_access_addr, 0xFEE00000);
        assert_int_equal(v.guest_intr_status, 0x3100);
        assert_int_equal(vmdl_napicv_pending(n), 0);
        struct vmdl_napicv_stats st;
        vmdl_napicv_get_stats(n, &st);
        assert_int_equal(st.vmcs_loads, 0);
        vmdl_napicv_destroy(n);
    }
}

static void test_immediate_switches_to_vmcs01(void **state)
{
    (void)state;
    struct vmdl_napicv *n = mk(VMDL_NAPICV_IMMEDIATE);
    struct vmdl_vmcs_apicv v;
    assert_int_equal(vmdl_napicv_enter_l2(n, &v02), 0);
    assert_true(vmdl_napicv_l2_active(n));
    vmdl_napicv_set_tpr_threshold(n, 3);
    vmdl_napicv_set_pml(n, true);
    vmdl_napicv_set_apic_access_page(n, 0x5000);
    vmdl_napicv_set_virtual_apic_mode(n, VMDL_LAPIC_MODE_X2APIC);
    vmdl_napicv_refresh_apicv(n, true, 0xE0);
    vmdl_napicv_hwapic_isr_update(n, 0xD0);
    vmdl_napicv_get_vmcs(n, 1, &v);
    assert_int_equal(v.tpr_threshold, 3);
    assert_int_equal(v.apic_access_addr, 0x5000);
    assert_true(v.proc2_controls & VMDL_PROC2_ENABLE_PML);
    assert_true(v.proc2_controls & VMDL_PROC2_VIRT_X2APIC_MODE);
    assert_true(v.proc2_controls & VMDL_PROC2_VIRT_INTR_DELIVERY);
    assert_int_equal(v.guest_intr_status >> 8, 0xD0);
    /* vmcs02 untouched */
    vmdl_napicv_get_vmcs(n, 2, &v);
    assert_int_equal(v.proc_controls, 0x1234);
    assert_int_equal(v.proc2_controls, 0);
    assert_int_equal(vmdl_napicv_pending(n), 0);
    struct vmdl_napicv_stats st;
    vmdl_napicv_get_stats(n, &st);
    assert_int_equal(st.on_demand, 6);
    assert_int_equal(st.vmcs_loads, 1 + 12); /* entry + 2 per update */
    assert_int_equal(st.deferred, 0);
    assert_int_equal(vmdl_napicv_exit_l2(n), 0);
    vmdl_napicv_destroy(n);
}

static void test_deferred_until_exit(void **state)
{
    (void)state;
    struct vmdl_napicv *n = mk(VMDL_NAPICV_DEFERRED_QUIRK);
    struct vmdl_vmcs_apicv v, before;
    vmdl_napicv_get_vmcs(n, 1, &before);
    vmdl_napicv_enter_l2(n, &v02);
    vmdl_napicv_set_tpr_threshold(n, 3);
    vmdl_napicv_set_pml(n, true);
    vmdl_napicv_set_apic_access_page(n, 0x5000);
    vmdl_napicv_set_virtual_apic_mode(n, VMDL_LAPIC_MODE_X2APIC);
    vmdl_napicv_refresh_apicv(n, true, 0xE0);
    vmdl_napicv_get_vmcs(n, 1, &v);
    assert_memory_equal(&v, &before, sizeof(v));
    assert_int_equal(vmdl_napicv_pending(n),
                     VMDL_NAPICV_PEND_TPR_THRESHOLD | VMDL_NAPICV_PEND_PML |
                     VMDL_NAPICV_PEND_APIC_ACCESS_PAGE |
                     VMDL_NAPICV_PEND_VIRTUAL_APIC_MODE | VMDL_NAPICV_PEND_APICV_STATUS);
    assert_int_equal(vmdl_napicv_exit_l2(n), 0);
    vmdl_napicv_get_vmcs(n, 1, &v);
    assert_int_equal(v.tpr_threshold, 3);
    assert_int_equal(v.apic_access_addr, 0x5000);
    assert_true(v.proc2_controls & VMDL_PROC2_VIRT_INTR_DELIVERY);
    assert_true(v.proc2_controls & VMDL_PROC2_VIRT_X2APIC_MODE);
    /* the APICv update carried no SVI in the old flow */
    assert_int_equal(v.guest_intr_status >> 8, 0);
    assert_int_equal(vmdl_napicv_pending(n), 0);
    struct vmdl_napicv_stats st;
    vmdl_napicv_get_stats(n, &st);
    assert_int_equal(st.deferred, 5);
    assert_int_equal(st.deferred_applied, 5);
    assert_int_equal(st.on_demand, 0);
    /* an ISR change while L2 runs is deferred too, and then applied */
    vmdl_napicv_enter_l2(n, &v02);
    vmdl_napicv_hwapic_isr_update(n, 0xC1);
    vmdl_napicv_get_vmcs(n, 1, &v);
    assert_int_equal(v.guest_intr_status >> 8, 0);
    vmdl_napicv_exit_l2(n);
    vmdl_napicv_get_vmcs(n, 1, &v);
    assert_int_equal(v.guest_intr_status >> 8, 0xC1);
    vmdl_napicv_destroy(n);
}

static void test_errors(void **state)
{
    (void)state;
    struct vmdl_napicv *n = NULL;
    assert_int_equal(vmdl_napicv_create(7, &n), VMDL_EINVAL);
    assert_int_equal(vmdl_napicv_create(0, NULL), VMDL_EINVAL);
    n = mk(VMDL_NAPICV_IMMEDIATE);
    assert_int_equal(vmdl_napicv_exit_l2(n), VMDL_ESTATE);
    assert_int_equal(vmdl_napicv_enter_l2(n, NULL), VMDL_EINVAL);
    vmdl_napicv_enter_l2(n, &v02);
    assert_int_equal(vmdl_napicv_enter_l2(n, &v02), VMDL_ESTATE);
    assert_int_equal(vmdl_napicv_set_vmcs01(n, &v02), VMDL_ESTATE);
    assert_int_equal(vmdl_napicv_set_tpr_threshold(n, 16), VMDL_ERANGE);
    assert_int_equal(vmdl_napicv_set_apic_access_page(n, 0x123), VMDL_EINVAL);
    assert_int_equal(vmdl_napicv_set_virtual_apic_mode(n, 9), VMDL_EINVAL);
    struct vmdl_vmcs_apicv v;
    assert_int_equal(vmdl_napicv_get_vmcs(n, 3, &v), VMDL_EINVAL);
    assert_int_equal(vmdl_napicv_attach_lapic(n, NULL), VMDL_EINVAL);
    assert_int_equal(vmdl_napicv_refresh_apicv(NULL, true, 0), VMDL_EINVAL);
    assert_int_equal(napicv_run_selftest_scenario(0, NULL), VMDL_EINVAL);
    vmdl_napicv_destroy(n);
}

static void test_attach_lapic_routes_updates(void **state)
{
    (void)state;
    struct vmdl_lapic_bus *bus = mkbus_ex(1, true, 0, NULL);
    struct vmdl_lapic *a = vmdl_lapic_bus_get(bus, 0);
    sw_enable(a);
    struct vmdl_napicv *n = mk(VMDL_NAPICV_IMMEDIATE);
    assert_int_equal(vmdl_napicv_attach_lapic(n, a), 0);
    wr(a, VMDL_LAPIC_ICR, SELF_IPI(0x91));
    vmdl_lapic_ack(a);
    struct vmdl_vmcs_apicv v;
    vmdl_napicv_get_vmcs(n, 1, &v);
    assert_int_equal(v.guest_intr_status >> 8, 0x91); /* hwapic_isr_update */
    to_x2apic(a);
    vmdl_napicv_get_vmcs(n, 1, &v);
    assert_true(v.proc2_controls & VMDL_PROC2_VIRT_X2APIC_MODE);
    vmdl_napicv_destroy(n);
    vmdl_lapic_bus_destroy(bus);
}

static void test_scenario_immediate(void **state)
{
    (void)state;
    struct napicv_scenario s;
    assert_int_equal(napicv_run_selftest_scenario(VMDL_NAPICV_IMMEDIATE, &s), 0);
    assert_true(s.inhibited_in_l1);
    assert_int_equal(s.good_ipis_1, 1);
    assert_int_equal(s.svi_at_launch, 0); /* in vISR, not in SVI */
    /* while L2 ran, vmcs01 was already updated on demand */
    assert_int_equal(s.pending_while_l2, 0);
    assert_true(s.vmcs01_while_l2.proc2_controls & VMDL_PROC2_VIRT_X2APIC_MODE);
    assert_false(s.vmcs01_while_l2.proc2_controls & VMDL_PROC2_VIRT_APIC_ACCESSES);
    assert_true(s.vmcs01_while_l2.proc2_controls & VMDL_PROC2_VIRT_INTR_DELIVERY);
    assert_int_equal(s.vmcs01_while_l2.guest_intr_status >> 8, 0xE0);
    assert_true(s.x2apic_after_exit1);
    assert_int_equal(s.vmcs01_after_exit1.guest_intr_status >> 8, 0xE0);
    assert_int_equal(s.bad_ipis, 0);
    assert_true(s.isr_before_eoi);
    assert_true(s.eoi_virtualized);
    assert_false(s.isr_after_eoi);
    assert_false(s.x2apic_after_exit2);
    assert_int_equal(s.good_ipis_2, 2);
    assert_true(s.isr_final_before_eoi);
    assert_false(s.isr_final_after_eoi);
    assert_true(s.passed);
    assert_string_equal(s.first_failure, "");
    assert_true(s.stats.on_demand > 0);
    assert_int_equal(s.stats.deferred, 0);
}

static void test_scenario_deferred_quirk(void **state)
{
    (void)state;
    struct napicv_scenario s;
    assert_int_equal(napicv_run_selftest_scenario(VMDL_NAPICV_DEFERRED_QUIRK, &s), 0);
    assert_true(s.inhibited_in_l1);
    assert_int_equal(s.good_ipis_1, 1);
    /* while L2 ran, vmcs01 still had L1's old xAPIC/inhibited controls */
    assert_int_equal(s.pending_while_l2,
                     VMDL_NAPICV_PEND_VIRTUAL_APIC_MODE | VMDL_NAPICV_PEND_APICV_STATUS);
    assert_true(s.vmcs01_while_l2.proc2_controls & VMDL_PROC2_VIRT_APIC_ACCESSES);
    assert_false(s.vmcs01_while_l2.proc2_controls & VMDL_PROC2_VIRT_INTR_DELIVERY);
    /* after the exit the controls are right but SVI is stale */
    assert_true(s.x2apic_after_exit1);
    assert_true(s.vmcs01_after_exit1.proc2_controls & VMDL_PROC2_VIRT_INTR_DELIVERY);
    assert_true(s.vmcs01_after_exit1.proc2_controls & VMDL_PROC2_VIRT_X2APIC_MODE);
    assert_int_equal(s.vmcs01_after_exit1.guest_intr_status >> 8, 0);
    assert_int_equal(s.bad_ipis, 0);
    assert_true(s.isr_before_eoi);
    assert_true(s.eoi_virtualized);
    /* the virtual EOI ended nothing: L1's interrupt stays in service */
    assert_true(s.isr_after_eoi);
    assert_false(s.passed);
    assert_string_equal(s.first_failure, "ISR clear after L1's EOI (SVI must track vISR)");
    /* knock-on effect: the stuck 0xE0 blocks the second 0xE0 */
    assert_int_equal(s.good_ipis_2, 1);
    assert_true(s.stats.deferred > 0);
    assert_int_equal(s.stats.on_demand, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_updates_outside_l2_are_direct),
        cmocka_unit_test(test_immediate_switches_to_vmcs01),
        cmocka_unit_test(test_deferred_until_exit),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_attach_lapic_routes_updates),
        cmocka_unit_test(test_scenario_immediate),
        cmocka_unit_test(test_scenario_deferred_quirk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
