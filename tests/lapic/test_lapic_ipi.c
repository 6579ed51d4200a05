/* SPDX-License-Identifier: MIT */
/* IPIs: fixed, lowest priority, NMI, INIT, SIPI; shorthands; physical,
 * logical flat, logical cluster and x2APIC cluster destinations;
 * broadcast; external messages on the bus. */
#include "util.h"

#define N 8
static struct vmdl_lapic_bus *bus;
static struct vmdl_lapic *ap[N];
static struct events ev;

static int setup_flags(unsigned flags)
{
    bus = mkbus_ex(N, false, flags, &ev);
    for (unsigned i = 0; i < N; i++) {
        ap[i] = vmdl_lapic_bus_get(bus, i);
        sw_enable(ap[i]);
    }
    return 0;
}

static int setup(void **state)
{
    (void)state;
    return setup_flags(0);
}

static int setup_ppr(void **state)
{
    (void)state;
    return setup_flags(VMDL_LAPIC_F_LOWEST_PPR);
}

static int teardown(void **state)
{
    (void)state;
    vmdl_lapic_bus_destroy(bus);
    return 0;
}

/* bitmask of APICs with `v` in IRR */
static unsigned who(unsigned v)
{
    unsigned m = 0;
    for (unsigned i = 0; i < N; i++)
        if (irr_has(ap[i], v))
            m |= 1u << i;
    return m;
}

static void send(struct vmdl_lapic *s, uint32_t dest, uint32_t low)
{
    wr(s, VMDL_LAPIC_ICR2, dest << 24);
    wr(s, VMDL_LAPIC_ICR, low);
}

static void test_physical_and_broadcast(void **state)
{
    (void)state;
    send(ap[0], 5, 0x40);
    assert_int_equal(who(0x40), 1u << 5);
    send(ap[0], 0xFF, 0x41); /* broadcast */
    assert_int_equal(who(0x41), 0xFF);
    send(ap[0], 9, 0x42); /* nobody */
    assert_int_equal(who(0x42), 0);
    /* ICR reads back without the delivery-status bit */
    assert_int_equal(rd(ap[0], VMDL_LAPIC_ICR), 0x42);
    struct vmdl_lapic_stats st;
    vmdl_lapic_get_stats(ap[0], &st);
    assert_int_equal(st.ipis_sent, 3);
}

static void test_shorthands(void **state)
{
    (void)state;
    send(ap[2], 5, (VMDL_LAPIC_SH_SELF << 18) | 0x50);
    assert_int_equal(who(0x50), 1u << 2);
    send(ap[2], 5, (VMDL_LAPIC_SH_ALL << 18) | 0x51);
    assert_int_equal(who(0x51), 0xFF);
    send(ap[2], 5, (VMDL_LAPIC_SH_OTHERS << 18) | 0x52);
    assert_int_equal(who(0x52), 0xFF & ~(1u << 2));
}

static void test_logical_flat(void **state)
{
    (void)state;
    for (unsigned i = 0; i < N; i++)
        wr(ap[i], VMDL_LAPIC_LDR, (1u << i) << 24);
    send(ap[0], 0x24, VMDL_LAPIC_ICR_LOGICAL | 0x60);
    assert_int_equal(who(0x60), (1u << 2) | (1u << 5));
    send(ap[0], 0xFF, VMDL_LAPIC_ICR_LOGICAL | 0x61);
    assert_int_equal(who(0x61), 0xFF);
    send(ap[0], 0x00, VMDL_LAPIC_ICR_LOGICAL | 0x62);
    assert_int_equal(who(0x62), 0);
}

static void test_logical_cluster(void **state)
{
    (void)state;
    /* clusters 1 and 2, four members each */
    for (unsigned i = 0; i < N; i++) {
        wr(ap[i], VMDL_LAPIC_DFR, 0x0FFFFFFF);
        uint32_t l = ((1u + i / 4) << 4) | (1u << (i % 4));
        wr(ap[i], VMDL_LAPIC_LDR, l << 24);
    }
    send(ap[0], 0x23, VMDL_LAPIC_ICR_LOGICAL | 0x70); /* cluster 2, members 0,1 */
    assert_int_equal(who(0x70), (1u << 4) | (1u << 5));
    send(ap[0], 0x18, VMDL_LAPIC_ICR_LOGICAL | 0x71); /* cluster 1, member 3 */
    assert_int_equal(who(0x71), 1u << 3);
    send(ap[0], 0x38, VMDL_LAPIC_ICR_LOGICAL | 0x72); /* cluster 3: none */
    assert_int_equal(who(0x72), 0);
    /* an unknown DFR model matches nothing */
    wr(ap[3], VMDL_LAPIC_DFR, 0x5FFFFFFF);
    send(ap[0], 0x18, VMDL_LAPIC_ICR_LOGICAL | 0x73);
    assert_int_equal(who(0x73), 0);
}

static void test_x2apic_destinations(void **state)
{
    (void)state;
    for (unsigned i = 0; i < N; i++)
        to_x2apic(ap[i]);
    /* physical */
    wrmsr(ap[0], X2MSR(VMDL_LAPIC_ICR), (6ull << 32) | 0x80);
    assert_int_equal(who(0x80), 1u << 6);
    /* x2APIC logical: cluster 0, members 1 and 7 (LDR from the ID) */
    wrmsr(ap[0], X2MSR(VMDL_LAPIC_ICR), (0x82ull << 32) | VMDL_LAPIC_ICR_LOGICAL | 0x81);
    assert_int_equal(who(0x81), (1u << 1) | (1u << 7));
    /* cluster 1 has nobody on an 8-CPU bus */
    wrmsr(ap[0], X2MSR(VMDL_LAPIC_ICR), (0x10001ull << 32) | VMDL_LAPIC_ICR_LOGICAL | 0x82);
    assert_int_equal(who(0x82), 0);
    /* broadcast is 0xFFFFFFFF; 0xFF is an ordinary ID in x2APIC */
    wrmsr(ap[0], X2MSR(VMDL_LAPIC_ICR), (0xFFFFFFFFull << 32) | 0x83);
    assert_int_equal(who(0x83), 0xFF);
    wrmsr(ap[0], X2MSR(VMDL_LAPIC_ICR), (0xFFull << 32) | 0x84);
    assert_int_equal(who(0x84), 0);
    /* self-IPI MSR */
    wrmsr(ap[3], X2MSR(VMDL_LAPIC_SELF_IPI), 0x85);
    assert_int_equal(who(0x85), 1u << 3);
}

static void test_lowest_priority_kvm_hashing(void **state)
{
    (void)state;
    /* all eight in the flat logical group: vector mod 8 picks */
    for (unsigned i = 0; i < N; i++)
        wr(ap[i], VMDL_LAPIC_LDR, (1u << i) << 24);
    send(ap[0], 0xFF & 0x3C, VMDL_LAPIC_ICR_LOGICAL | (VMDL_LAPIC_DM_LOWEST << 8) | 0x91);
    /* candidates 2,3,4,5; 0x91 = 145, 145 mod 4 = 1 -> APIC 3 */
    assert_int_equal(who(0x91), 1u << 3);
    send(ap[0], 0x3C, VMDL_LAPIC_ICR_LOGICAL | (VMDL_LAPIC_DM_LOWEST << 8) | 0x92);
    assert_int_equal(who(0x92), 1u << 4);
}

static void test_lowest_priority_ppr(void **state)
{
    (void)state;
    for (unsigned i = 0; i < N; i++)
        wr(ap[i], VMDL_LAPIC_TPR, 0x20 + 0x10 * (i % 3));
    /* physical broadcast, lowest priority: PPR 0x20 at 0, 3, 6: lowest ID */
    send(ap[1], 0xFF, (VMDL_LAPIC_DM_LOWEST << 8) | 0xA0);
    assert_int_equal(who(0xA0), 1u << 0);
    wr(ap[0], VMDL_LAPIC_TPR, 0x70);
    send(ap[1], 0xFF, (VMDL_LAPIC_DM_LOWEST << 8) | 0xA1);
    assert_int_equal(who(0xA1), 1u << 3);
}

static void test_nmi_ipi(void **state)
{
    (void)state;
    send(ap[0], 4, (VMDL_LAPIC_DM_NMI << 8));
    assert_true(vmdl_lapic_take_nmi(ap[4]));
    assert_false(vmdl_lapic_take_nmi(ap[4]));
    assert_false(vmdl_lapic_take_nmi(ap[3]));
}

static void test_init_sipi(void **state)
{
    (void)state;
    /* give the AP some state that INIT must clear */
    wr(ap[3], VMDL_LAPIC_TPR, 0x50);
    wr(ap[3], VMDL_LAPIC_ICR, SELF_IPI(0x66));
    /* INIT level de-assert: nothing */
    send(ap[0], 3, (VMDL_LAPIC_DM_INIT << 8) | VMDL_LAPIC_ICR_LEVEL);
    assert_int_equal(ev.inits, 0);
    /* SIPI to a running CPU: ignored */
    send(ap[0], 3, (VMDL_LAPIC_DM_SIPI << 8) | 0x10);
    assert_int_equal(ev.sipis, 0);
    assert_int_equal(vmdl_lapic_take_sipi(ap[3]), -1);
    /* INIT assert */
    send(ap[0], 3, (VMDL_LAPIC_DM_INIT << 8) | VMDL_LAPIC_ICR_LEVEL | VMDL_LAPIC_ICR_ASSERT);
    assert_int_equal(ev.inits, 1);
    assert_int_equal(ev.last_index, 3);
    assert_int_equal(vmdl_lapic_mp_state(ap[3]), VMDL_LAPIC_MP_WAIT_SIPI);
    assert_int_equal(rd(ap[3], VMDL_LAPIC_TPR), 0);
    assert_false(irr_has(ap[3], 0x66));
    assert_int_equal(rd(ap[3], VMDL_LAPIC_SVR), 0xFF);
    assert_int_equal(rd(ap[3], VMDL_LAPIC_ID), 3u << 24);
    /* SIPI: start page vector 0x9A -> 0x9A000 */
    send(ap[0], 3, (VMDL_LAPIC_DM_SIPI << 8) | 0x9A);
    assert_int_equal(ev.sipis, 1);
    assert_int_equal(ev.last_sipi, 0x9A);
    assert_int_equal(vmdl_lapic_mp_state(ap[3]), VMDL_LAPIC_MP_RUNNABLE);
    assert_int_equal(vmdl_lapic_take_sipi(ap[3]), 0x9A);
    assert_int_equal(vmdl_lapic_take_sipi(ap[3]), -1);
    /* a second SIPI is ignored */
    send(ap[0], 3, (VMDL_LAPIC_DM_SIPI << 8) | 0x9B);
    assert_int_equal(ev.sipis, 1);
    /* INIT to all-excluding-self; the BSP stays runnable (KVM) */
    send(ap[1], 0, (VMDL_LAPIC_SH_OTHERS << 18) | (VMDL_LAPIC_DM_INIT << 8) |
                   VMDL_LAPIC_ICR_ASSERT);
    assert_int_equal(ev.inits, 1 + N - 1);
    assert_int_equal(vmdl_lapic_mp_state(ap[0]), VMDL_LAPIC_MP_RUNNABLE);
    assert_int_equal(vmdl_lapic_mp_state(ap[2]), VMDL_LAPIC_MP_WAIT_SIPI);
    assert_int_equal(vmdl_lapic_mp_state(ap[1]), VMDL_LAPIC_MP_RUNNABLE);
}

/* INIT held (KVM's pending_events while INIT is latched in VMX root
 * operation): nothing happens to the APIC until the owner accepts it; a
 * SIPI held alongside is dropped while INIT is not allowed. */
static void test_init_held_until_accepted(void **state)
{
    (void)state;
    ev.hold_mask = 1u << 3;
    wr(ap[3], VMDL_LAPIC_TPR, 0x50);
    unsigned k = ev.kicks;
    send(ap[0], 3, (VMDL_LAPIC_DM_INIT << 8) | VMDL_LAPIC_ICR_LEVEL | VMDL_LAPIC_ICR_ASSERT);
    assert_int_equal(ev.inits, 0);
    assert_int_equal(ev.kicks, k + 1);              /* the owner must look */
    assert_int_equal(vmdl_lapic_mp_state(ap[3]), VMDL_LAPIC_MP_RUNNABLE);
    assert_int_equal(rd(ap[3], VMDL_LAPIC_TPR), 0x50);
    uint8_t v = 0;
    assert_int_equal(vmdl_lapic_pending_events(ap[3], &v), VMDL_LAPIC_EV_INIT);
    /* a SIPI is held too; not allowed: dropped, INIT stays latched */
    send(ap[0], 3, (VMDL_LAPIC_DM_SIPI << 8) | 0x10);
    assert_int_equal(vmdl_lapic_pending_events(ap[3], &v),
                     VMDL_LAPIC_EV_INIT | VMDL_LAPIC_EV_SIPI);
    assert_int_equal(v, 0x10);
    vmdl_lapic_accept_events(ap[3], false);
    assert_int_equal(vmdl_lapic_pending_events(ap[3], NULL), VMDL_LAPIC_EV_INIT);
    assert_int_equal(ev.inits, 0);
    assert_int_equal(rd(ap[3], VMDL_LAPIC_TPR), 0x50);
    /* a later SIPI's vector wins; allowed: INIT, then the SIPI starts it */
    send(ap[0], 3, (VMDL_LAPIC_DM_SIPI << 8) | 0x21);
    send(ap[0], 3, (VMDL_LAPIC_DM_SIPI << 8) | 0x22);
    vmdl_lapic_accept_events(ap[3], true);
    assert_int_equal(ev.inits, 1);
    assert_int_equal(ev.sipis, 1);
    assert_int_equal(ev.last_sipi, 0x22);
    assert_int_equal(rd(ap[3], VMDL_LAPIC_TPR), 0);
    assert_int_equal(vmdl_lapic_mp_state(ap[3]), VMDL_LAPIC_MP_RUNNABLE);
    assert_int_equal(vmdl_lapic_take_sipi(ap[3]), 0x22);
    assert_int_equal(vmdl_lapic_pending_events(ap[3], NULL), 0);
    /* other APICs are not held */
    send(ap[0], 4, (VMDL_LAPIC_DM_INIT << 8) | VMDL_LAPIC_ICR_ASSERT);
    assert_int_equal(ev.inits, 2);
    assert_int_equal(vmdl_lapic_mp_state(ap[4]), VMDL_LAPIC_MP_WAIT_SIPI);
}

/* KVM's INIT sets pending_events to INIT alone: a held SIPI before it is
 * lost.  A held SIPI to a CPU that is not waiting for one starts nothing;
 * INIT de-assert is not held; a consumed event (a VM exit) is gone; RESET
 * forgets what was held. */
static void test_held_events_rules(void **state)
{
    (void)state;
    ev.hold_mask = 1u << 2;
    send(ap[0], 2, (VMDL_LAPIC_DM_SIPI << 8) | 0x30);
    send(ap[0], 2, (VMDL_LAPIC_DM_INIT << 8) | VMDL_LAPIC_ICR_ASSERT);
    assert_int_equal(vmdl_lapic_pending_events(ap[2], NULL), VMDL_LAPIC_EV_INIT);
    vmdl_lapic_clear_events(ap[2], VMDL_LAPIC_EV_INIT);
    vmdl_lapic_accept_events(ap[2], true);
    assert_int_equal(ev.inits, 0);
    assert_int_equal(vmdl_lapic_mp_state(ap[2]), VMDL_LAPIC_MP_RUNNABLE);
    send(ap[0], 2, (VMDL_LAPIC_DM_SIPI << 8) | 0x31);
    vmdl_lapic_accept_events(ap[2], true);
    assert_int_equal(ev.sipis, 0);
    assert_int_equal(vmdl_lapic_take_sipi(ap[2]), -1);
    send(ap[0], 2, (VMDL_LAPIC_DM_INIT << 8) | VMDL_LAPIC_ICR_LEVEL);
    assert_int_equal(vmdl_lapic_pending_events(ap[2], NULL), 0);
    send(ap[0], 2, (VMDL_LAPIC_DM_INIT << 8) | VMDL_LAPIC_ICR_ASSERT);
    vmdl_lapic_reset(ap[2], false);
    assert_int_equal(vmdl_lapic_pending_events(ap[2], NULL), 0);
    /* NULL is harmless */
    assert_int_equal(vmdl_lapic_pending_events(NULL, NULL), 0);
    vmdl_lapic_clear_events(NULL, VMDL_LAPIC_EV_INIT);
    vmdl_lapic_accept_events(NULL, true);
}

/* Held events travel in the state blob (version 3); unknown bits are
 * refused. */
static void test_held_events_in_blob(void **state)
{
    (void)state;
    ev.hold_mask = 1u << 5;
    send(ap[0], 5, (VMDL_LAPIC_DM_INIT << 8) | VMDL_LAPIC_ICR_ASSERT);
    send(ap[0], 5, (VMDL_LAPIC_DM_SIPI << 8) | 0x44);
    uint8_t *blob = NULL;
    size_t len = 0;
    assert_int_equal(vmdl_lapic_export(ap[5], &blob, &len), 0);
    assert_int_equal(blob[4], 3);
    vmdl_lapic_reset(ap[5], false);
    assert_int_equal(vmdl_lapic_import(ap[5], blob, len), 0);
    uint8_t v = 0;
    assert_int_equal(vmdl_lapic_pending_events(ap[5], &v),
                     VMDL_LAPIC_EV_INIT | VMDL_LAPIC_EV_SIPI);
    assert_int_equal(v, 0x44);
    blob[len - 2] |= 0x80;
    uint32_t crc = vmdl_crc32(0, blob + 16, (uint32_t)(len - 16));
    memcpy(blob + 12, &crc, 4);
    assert_int_equal(vmdl_lapic_import(ap[5], blob, len), VMDL_EBADBLOB);
    assert_int_equal(vmdl_lapic_pending_events(ap[5], NULL),
                     VMDL_LAPIC_EV_INIT | VMDL_LAPIC_EV_SIPI);
    free(blob);
}

static void test_disabled_targets_and_kicks(void **state)
{
    (void)state;
    wrmsr(ap[6], 0x1B, 0xFEE00000ull); /* hardware-disable */
    unsigned k = ev.kicks;
    send(ap[0], 0xFF, 0xB0);
    assert_int_equal(who(0xB0), 0xFF & ~(1u << 6));
    assert_int_equal(ev.kicks, k + N - 1);
    /* software-disabled target drops fixed, takes NMI */
    wr(ap[5], VMDL_LAPIC_SVR, 0xFF);
    send(ap[0], 5, 0xB1);
    assert_int_equal(who(0xB1), 0);
    send(ap[0], 5, VMDL_LAPIC_DM_NMI << 8);
    assert_true(vmdl_lapic_take_nmi(ap[5]));
}

static void test_external_messages(void **state)
{
    (void)state;
    assert_int_equal(vmdl_lapic_bus_deliver(bus, 2, false, VMDL_LAPIC_DM_FIXED, 0xC0, false), 1);
    assert_int_equal(who(0xC0), 1u << 2);
    assert_int_equal(vmdl_lapic_bus_deliver(bus, 0xFF, false, VMDL_LAPIC_DM_FIXED, 0xC1, false), N);
    assert_int_equal(vmdl_lapic_bus_deliver(bus, 0xFFFFFFFF, false, VMDL_LAPIC_DM_FIXED, 0xC2, false), N);
    assert_int_equal(vmdl_lapic_bus_deliver(bus, 0, false, 3, 0xC3, false), VMDL_EINVAL);
    assert_int_equal(vmdl_lapic_bus_deliver(NULL, 0, false, 0, 0xC3, false), VMDL_EINVAL);
    /* lowest priority to a set of three (logical flat) */
    for (unsigned i = 0; i < N; i++)
        wr(ap[i], VMDL_LAPIC_LDR, (1u << i) << 24);
    assert_int_equal(vmdl_lapic_bus_deliver(bus, 0x07, true, VMDL_LAPIC_DM_LOWEST, 0xC4, false), 1);
    assert_int_equal(__builtin_popcount(who(0xC4)), 1);
}

/* KVM's PV IPI (kvm_pv_send_ipi): bitmaps of physical IDs from `min`, the
 * count of APICs that took it, IDs past the highest one ignored, min wraps
 * at 32 bits, logical or shorthand ICRs refused with -KVM_EINVAL. */
static void test_pv_send_ipi(void **state)
{
    (void)state;
    /* APICs 1 and 3; bit 9 is beyond APIC 7: ignored */
    assert_int_equal(vmdl_lapic_bus_pv_send_ipi(bus, 0x20Aull, 0, 0, 0xD0, true), 2);
    assert_int_equal(who(0xD0), (1u << 1) | (1u << 3));
    /* from min 2: bits 0 and 5 are APICs 2 and 7 */
    assert_int_equal(vmdl_lapic_bus_pv_send_ipi(bus, 0x21, 0, 2, 0xD1, true), 2);
    assert_int_equal(who(0xD1), (1u << 2) | (1u << 7));
    /* the high bitmap starts at min + 32 (32-bit caller) or min + 64 */
    assert_int_equal(vmdl_lapic_bus_pv_send_ipi(bus, 0, 1, 0xFFFFFFE4u, 0xD2, false), 1);
    assert_int_equal(who(0xD2), 1u << 4);
    assert_int_equal(vmdl_lapic_bus_pv_send_ipi(bus, 0, 1, 0xFFFFFFC5u, 0xD3, true), 1);
    assert_int_equal(who(0xD3), 1u << 5);
    /* min past every APIC, and min + 64 wrapping to 63 with an empty high
     * bitmap (kvm-unit-tests' apic test): nothing */
    assert_int_equal(vmdl_lapic_bus_pv_send_ipi(bus, ~0ull, 0, 0xFFFFFFFFu, 0xD4, true), 0);
    assert_int_equal(who(0xD4), 0);
    /* NMI by delivery mode */
    assert_int_equal(vmdl_lapic_bus_pv_send_ipi(bus, 1u << 6, 0, 0,
                                                VMDL_LAPIC_DM_NMI << 8, true), 1);
    assert_true(vmdl_lapic_take_nmi(ap[6]));
    /* refused: logical destination, any shorthand */
    assert_int_equal(vmdl_lapic_bus_pv_send_ipi(bus, 1, 0, 0, VMDL_LAPIC_ICR_LOGICAL | 0xD5,
                                                true), VMDL_LAPIC_PV_IPI_EINVAL);
    assert_int_equal(vmdl_lapic_bus_pv_send_ipi(bus, 1, 0, 0, (1u << 18) | 0xD5, true),
                     VMDL_LAPIC_PV_IPI_EINVAL);
    assert_int_equal(who(0xD5), 0);
    /* a hardware-disabled APIC is not in the map */
    wrmsr(ap[2], VMDL_MSR_IA32_APIC_BASE, VMDL_LAPIC_DEFAULT_BASE);
    assert_int_equal(vmdl_lapic_bus_pv_send_ipi(bus, 0x4, 0, 0, 0xD6, true), 0);
    assert_int_equal(vmdl_lapic_bus_pv_send_ipi(NULL, 1, 0, 0, 0xD6, true), VMDL_EINVAL);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_physical_and_broadcast), T(test_shorthands),
        T(test_logical_flat),           T(test_logical_cluster),
        T(test_x2apic_destinations),    T(test_lowest_priority_kvm_hashing),
        cmocka_unit_test_setup_teardown(test_lowest_priority_ppr, setup_ppr, teardown),
        T(test_nmi_ipi),                T(test_init_sipi),
        T(test_init_held_until_accepted), T(test_held_events_rules),
        T(test_held_events_in_blob),
        T(test_disabled_targets_and_kicks), T(test_external_messages),
        T(test_pv_send_ipi),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
