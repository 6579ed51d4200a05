/* SPDX-License-Identifier: MIT */
/* APIC timer: one-shot, periodic, TSC-deadline, divide configuration,
 * current count, masking, mode switches.  Clock: 1 APIC bus tick and 1 TSC
 * tick per retired instruction. */
#include "util.h"

static struct vmdl_lapic_bus *bus;
static struct vmdl_lapic *a;

static int setup(void **state)
{
    (void)state;
    /* Short periods keep these cases readable: no periodic floor here;
     * test_periodic_floor and test_periodic_floor_* cover KVM's. */
    bus = mkbus_ex(1, false, VMDL_LAPIC_F_NO_MIN_PERIOD, NULL);
    a = vmdl_lapic_bus_get(bus, 0);
    sw_enable(a);
    wr(a, VMDL_LAPIC_TDCR, 0xB); /* divide by 1 */
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    vmdl_lapic_bus_destroy(bus);
    return 0;
}

static unsigned fires(void)
{
    struct vmdl_lapic_stats st;
    vmdl_lapic_get_stats(a, &st);
    return (unsigned)st.timer_fires;
}

static void test_divide_values(void **state)
{
    (void)state;
    /* TDCR encodings 0,1,2,3,8,9,A,B -> 2,4,8,16,32,64,128,1 */
    static const uint32_t enc[] = {0, 1, 2, 3, 8, 9, 0xA, 0xB};
    static const uint32_t div[] = {2, 4, 8, 16, 32, 64, 128, 1};
    wr(a, VMDL_LAPIC_LVT_TIMER, VMDL_LAPIC_LVT_MASKED | 0x20);
    for (int i = 0; i < 8; i++) {
        wr(a, VMDL_LAPIC_TDCR, enc[i]);
        uint64_t t0 = vmdl_lapic_now(a);
        wr(a, VMDL_LAPIC_TMICT, 10);
        assert_int_equal(vmdl_lapic_next_event(a), t0 + 10 * div[i]);
        vmdl_lapic_advance(a, t0 + 10 * div[i]);
    }
}

static void test_one_shot(void **state)
{
    (void)state;
    wr(a, VMDL_LAPIC_LVT_TIMER, 0x30);
    wr(a, VMDL_LAPIC_TMICT, 100);
    assert_int_equal(rd(a, VMDL_LAPIC_TMCCT), 100);
    vmdl_lapic_advance(a, 40);
    assert_int_equal(rd(a, VMDL_LAPIC_TMCCT), 60);
    assert_int_equal(vmdl_lapic_pending(a), -1);
    vmdl_lapic_advance(a, 99);
    assert_int_equal(fires(), 0);
    vmdl_lapic_advance(a, 100);
    assert_int_equal(fires(), 1);
    assert_int_equal(vmdl_lapic_ack(a), 0x30);
    assert_int_equal(rd(a, VMDL_LAPIC_TMCCT), 0);
    assert_int_equal(rd(a, VMDL_LAPIC_TMICT), 100); /* initial count kept */
    assert_int_equal(vmdl_lapic_next_event(a), UINT64_MAX);
    vmdl_lapic_advance(a, 1000);
    assert_int_equal(fires(), 1);
    /* time never goes backwards */
    vmdl_lapic_advance(a, 10);
    assert_int_equal(vmdl_lapic_now(a), 1000);
    /* writing 0 stops a running timer */
    wr(a, VMDL_LAPIC_TMICT, 50);
    wr(a, VMDL_LAPIC_TMICT, 0);
    vmdl_lapic_advance(a, 2000);
    assert_int_equal(fires(), 1);
}

static void test_periodic_and_masked(void **state)
{
    (void)state;
    wr(a, VMDL_LAPIC_LVT_TIMER, VMDL_LAPIC_TIMER_PERIODIC | 0x31);
    wr(a, VMDL_LAPIC_TMICT, 50);
    for (unsigned k = 1; k <= 4; k++) {
        vmdl_lapic_advance(a, 50 * k);
        assert_int_equal(fires(), k);
        assert_int_equal(vmdl_lapic_ack(a), 0x31);
        wr(a, VMDL_LAPIC_EOI, 0);
        assert_int_equal(vmdl_lapic_next_event(a), 50 * (k + 1));
    }
    vmdl_lapic_advance(a, 225);
    assert_int_equal(rd(a, VMDL_LAPIC_TMCCT), 25);
    /* several missed periods coalesce into one interrupt */
    vmdl_lapic_advance(a, 520);
    assert_int_equal(fires(), 5);
    assert_int_equal(vmdl_lapic_next_event(a), 550);
    assert_int_equal(vmdl_lapic_ack(a), 0x31);
    assert_int_equal(vmdl_lapic_pending(a), -1);
    wr(a, VMDL_LAPIC_EOI, 0);
    /* masked: the timer runs, no interrupt */
    wr(a, VMDL_LAPIC_LVT_TIMER, VMDL_LAPIC_LVT_MASKED | VMDL_LAPIC_TIMER_PERIODIC | 0x31);
    vmdl_lapic_advance(a, 600);
    assert_int_equal(fires(), 6);
    assert_int_equal(vmdl_lapic_pending(a), -1);
}

/*
 * KVM's limit_periodic_timer_frequency() (arch/x86/kvm/lapic.c): a periodic
 * timer's period is raised to min_timer_period_us (module parameter, 200 us
 * by default).  Virtual time: one bus cycle per instruction, KVM's default
 * 1 ns APIC bus cycle, so 200 us = 200,000 ticks.  One-shot and TSC-deadline
 * timers are not limited.
 */
#define FLOOR (200u * 1000u)

static struct vmdl_lapic *floor_apic(struct vmdl_lapic_bus **b, uint32_t us)
{
    struct vmdl_lapic_bus_config c = {.nr_apics = 1, .x2apic = true,
                                      .tsc_deadline = true,
                                      .min_timer_period_us = us};
    assert_int_equal(vmdl_lapic_bus_create(&c, b), 0);
    struct vmdl_lapic *x = vmdl_lapic_bus_get(*b, 0);
    sw_enable(x);
    wr(x, VMDL_LAPIC_TDCR, 0xB);
    return x;
}

static void test_periodic_floor(void **state)
{
    (void)state;
    struct vmdl_lapic_bus *b;
    struct vmdl_lapic *x = floor_apic(&b, 0);
    wr(x, VMDL_LAPIC_LVT_TIMER, VMDL_LAPIC_TIMER_PERIODIC | 0x31);
    wr(x, VMDL_LAPIC_TMICT, 50);
    /* the first expiry is already a full floor away */
    assert_int_equal(vmdl_lapic_next_event(x), FLOOR);
    vmdl_lapic_advance(x, 50);
    assert_int_equal(vmdl_lapic_pending(x), -1);
    /* TMCCT counts the limited period down (KVM: remaining / divide) */
    assert_int_equal(rd(x, VMDL_LAPIC_TMCCT), FLOOR - 50);
    vmdl_lapic_advance(x, FLOOR);
    assert_int_equal(vmdl_lapic_ack(x), 0x31);
    wr(x, VMDL_LAPIC_EOI, 0);
    assert_int_equal(vmdl_lapic_next_event(x), 2 * FLOOR);
    struct vmdl_lapic_stats st;
    vmdl_lapic_get_stats(x, &st);
    assert_int_equal(st.timer_periods_raised, 1);
    /* a period at or above the floor is left alone (divide by 2) */
    wr(x, VMDL_LAPIC_TDCR, 0x0);
    wr(x, VMDL_LAPIC_TMICT, FLOOR);
    assert_int_equal(vmdl_lapic_next_event(x), FLOOR + 2 * FLOOR);
    /* a divider change rescales what is left and limits the period again */
    wr(x, VMDL_LAPIC_TMICT, 10);
    assert_int_equal(vmdl_lapic_next_event(x), FLOOR + FLOOR);
    wr(x, VMDL_LAPIC_TDCR, 0xB);   /* /1: the F left become F/2 */
    assert_int_equal(vmdl_lapic_next_event(x), FLOOR + FLOOR / 2);
    vmdl_lapic_advance(x, 2 * FLOOR);
    assert_int_equal(vmdl_lapic_next_event(x), 2 * FLOOR + FLOOR / 2);
    vmdl_lapic_bus_destroy(b);
}

static void test_periodic_floor_not_oneshot_deadline(void **state)
{
    (void)state;
    struct vmdl_lapic_bus *b;
    struct vmdl_lapic *x = floor_apic(&b, 0);
    /* one-shot: not limited */
    wr(x, VMDL_LAPIC_LVT_TIMER, 0x32);
    wr(x, VMDL_LAPIC_TMICT, 50);
    assert_int_equal(vmdl_lapic_next_event(x), 50);
    /* turning it periodic raises the periods after the pending expiry
     * (apic_update_lvtt) */
    wr(x, VMDL_LAPIC_LVT_TIMER, VMDL_LAPIC_TIMER_PERIODIC | 0x32);
    assert_int_equal(vmdl_lapic_next_event(x), 50);
    vmdl_lapic_advance(x, 50);
    assert_int_equal(vmdl_lapic_next_event(x), 50 + FLOOR);
    /* TSC deadline: not limited */
    wr(x, VMDL_LAPIC_LVT_TIMER, VMDL_LAPIC_TIMER_TSC_DEADLINE | 0x33);
    assert_int_equal(vmdl_lapic_msr_write(x, VMDL_MSR_IA32_TSC_DEADLINE, 100), VMDL_FAULT_NONE);
    assert_int_equal(vmdl_lapic_next_event(x), 100);
    vmdl_lapic_bus_destroy(b);
    /* the module parameter: another floor, or none */
    x = floor_apic(&b, 1);
    wr(x, VMDL_LAPIC_LVT_TIMER, VMDL_LAPIC_TIMER_PERIODIC | 0x31);
    wr(x, VMDL_LAPIC_TMICT, 50);
    assert_int_equal(vmdl_lapic_next_event(x), 1000);
    vmdl_lapic_bus_destroy(b);
}

static void test_divide_change_rescales(void **state)
{
    (void)state;
    wr(a, VMDL_LAPIC_LVT_TIMER, 0x32);
    wr(a, VMDL_LAPIC_TMICT, 100); /* /1: fires at 100 */
    vmdl_lapic_advance(a, 60);
    wr(a, VMDL_LAPIC_TDCR, 0x0); /* /2: 40 left become 80 */
    assert_int_equal(vmdl_lapic_next_event(a), 140);
    assert_int_equal(rd(a, VMDL_LAPIC_TMCCT), 40);
}

static void test_tsc_deadline(void **state)
{
    (void)state;
    uint64_t v;
    /* outside TSC-deadline mode the MSR reads 0 and ignores writes */
    wrmsr(a, VMDL_MSR_IA32_TSC_DEADLINE, 500);
    assert_int_equal(rdmsr(a, VMDL_MSR_IA32_TSC_DEADLINE), 0);
    wr(a, VMDL_LAPIC_LVT_TIMER, VMDL_LAPIC_TIMER_TSC_DEADLINE | 0x33);
    assert_int_equal(rdmsr(a, VMDL_MSR_IA32_TSC_DEADLINE), 0);
    wrmsr(a, VMDL_MSR_IA32_TSC_DEADLINE, 500);
    assert_int_equal(rdmsr(a, VMDL_MSR_IA32_TSC_DEADLINE), 500);
    assert_int_equal(vmdl_lapic_next_event(a), 500);
    /* TMICT is ignored and TMCCT reads 0 in this mode */
    wr(a, VMDL_LAPIC_TMICT, 10);
    assert_int_equal(rd(a, VMDL_LAPIC_TMICT), 0);
    assert_int_equal(rd(a, VMDL_LAPIC_TMCCT), 0);
    vmdl_lapic_advance(a, 499);
    assert_int_equal(fires(), 0);
    vmdl_lapic_advance(a, 500);
    assert_int_equal(fires(), 1);
    assert_int_equal(vmdl_lapic_ack(a), 0x33);
    /* disarmed: the MSR reads 0 after it fired */
    assert_int_equal(rdmsr(a, VMDL_MSR_IA32_TSC_DEADLINE), 0);
    assert_int_equal(vmdl_lapic_next_event(a), UINT64_MAX);
    wr(a, VMDL_LAPIC_EOI, 0);
    /* a deadline in the past fires at once; 0 disarms */
    wrmsr(a, VMDL_MSR_IA32_TSC_DEADLINE, 100);
    assert_int_equal(fires(), 2);
    wrmsr(a, VMDL_MSR_IA32_TSC_DEADLINE, 900);
    wrmsr(a, VMDL_MSR_IA32_TSC_DEADLINE, 0);
    vmdl_lapic_advance(a, 1000);
    assert_int_equal(fires(), 2);
    /* leaving TSC-deadline mode disarms it */
    wrmsr(a, VMDL_MSR_IA32_TSC_DEADLINE, 1500);
    wr(a, VMDL_LAPIC_LVT_TIMER, 0x33);
    assert_int_equal(vmdl_lapic_next_event(a), UINT64_MAX);
    wr(a, VMDL_LAPIC_LVT_TIMER, VMDL_LAPIC_TIMER_TSC_DEADLINE | 0x33);
    assert_int_equal(rdmsr(a, VMDL_MSR_IA32_TSC_DEADLINE), 0);
    (void)v;
}

static void test_mode_switch_stops_count(void **state)
{
    (void)state;
    wr(a, VMDL_LAPIC_LVT_TIMER, 0x34);
    wr(a, VMDL_LAPIC_TMICT, 100);
    wr(a, VMDL_LAPIC_LVT_TIMER, VMDL_LAPIC_TIMER_TSC_DEADLINE | 0x34);
    assert_int_equal(rd(a, VMDL_LAPIC_TMICT), 0);
    assert_int_equal(vmdl_lapic_next_event(a), UINT64_MAX);
    /* one-shot <-> periodic keeps the count */
    wr(a, VMDL_LAPIC_LVT_TIMER, 0x34);
    wr(a, VMDL_LAPIC_TMICT, 100);
    wr(a, VMDL_LAPIC_LVT_TIMER, VMDL_LAPIC_TIMER_PERIODIC | 0x34);
    assert_int_equal(vmdl_lapic_next_event(a), 100);
    /* mode 3 is reserved: bit 18 not writable without TSC deadline */
}

static void test_no_tsc_deadline_support(void **state)
{
    (void)state;
    struct vmdl_lapic_bus_config c = {.nr_apics = 1};
    struct vmdl_lapic_bus *b;
    assert_int_equal(vmdl_lapic_bus_create(&c, &b), 0);
    struct vmdl_lapic *x = vmdl_lapic_bus_get(b, 0);
    sw_enable(x);
    wr(x, VMDL_LAPIC_LVT_TIMER, VMDL_LAPIC_TIMER_TSC_DEADLINE | 0x35);
    assert_int_equal(rd(x, VMDL_LAPIC_LVT_TIMER), 0x35);
    vmdl_lapic_bus_destroy(b);
}

static void test_timer_after_sw_disable(void **state)
{
    (void)state;
    wr(a, VMDL_LAPIC_LVT_TIMER, VMDL_LAPIC_TIMER_PERIODIC | 0x36);
    wr(a, VMDL_LAPIC_TMICT, 10);
    wr(a, VMDL_LAPIC_SVR, 0xFF); /* masks the LVT */
    vmdl_lapic_advance(a, 10);
    assert_int_equal(vmdl_lapic_pending(a), -1);
    assert_true(rd(a, VMDL_LAPIC_LVT_TIMER) & VMDL_LAPIC_LVT_MASKED);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_divide_values),        T(test_one_shot),
        T(test_periodic_and_masked),  T(test_divide_change_rescales),
        T(test_tsc_deadline),         T(test_mode_switch_stops_count),
        T(test_no_tsc_deadline_support), T(test_timer_after_sw_disable),
        cmocka_unit_test(test_periodic_floor),
        cmocka_unit_test(test_periodic_floor_not_oneshot_deadline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
