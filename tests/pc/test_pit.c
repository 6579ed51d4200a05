/* SPDX-License-Identifier: MIT */
/*
 * The 8254 PIT model: counts and outputs as functions of time (1193182 Hz
 * input, time in ns), the BIOS's 18.2 Hz square wave, a mode-0 one-shot,
 * the rate generator, byte access, the counter latch, read-back and port
 * 0x61 (channel 2's gate and output).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "virtmodel/pc_pit.h"

/* ns at which tick t after a load at 0 begins (rounded up). */
static uint64_t at_tick(uint64_t t)
{
    return (t * 1000000000ull + VMDL_PIT_HZ - 1) / VMDL_PIT_HZ;
}

static void program(struct vmdl_pit *p, unsigned ch, unsigned mode, uint16_t count,
                    uint64_t now)
{
    vmdl_pit_write(p, 0x43, (uint8_t)((ch << 6) | 0x30 | (mode << 1)), now);
    vmdl_pit_write(p, (uint16_t)(0x40 + ch), (uint8_t)count, now);
    vmdl_pit_write(p, (uint16_t)(0x40 + ch), (uint8_t)(count >> 8), now);
}

static void test_bios_square_wave(void **state)
{
    (void)state;
    struct vmdl_pit p;
    vmdl_pit_reset(&p);
    program(&p, 0, 3, 0, 0);                        /* count 0 = 65536 */
    assert_true(vmdl_pit_out(&p, 0, 0));
    /* high for the first half, low for the second: 18.2 Hz */
    assert_int_equal(vmdl_pit_next_change(&p, 0, 0), at_tick(32768));
    assert_true(vmdl_pit_out(&p, 0, at_tick(32768) - 1));
    assert_false(vmdl_pit_out(&p, 0, at_tick(32768)));
    assert_int_equal(vmdl_pit_next_change(&p, 0, at_tick(32768)), at_tick(65536));
    assert_true(vmdl_pit_out(&p, 0, at_tick(65536)));
    /* a period is 54.925 ms */
    assert_int_equal(at_tick(65536) / 1000, 54925);
}

static void test_mode0_one_shot(void **state)
{
    (void)state;
    struct vmdl_pit p;
    vmdl_pit_reset(&p);
    program(&p, 0, 0, 1000, 5000);
    assert_false(vmdl_pit_out(&p, 0, 5000));
    uint64_t fire = 5000 + at_tick(1000);
    assert_int_equal(vmdl_pit_next_change(&p, 0, 5000), fire);
    assert_false(vmdl_pit_out(&p, 0, fire - 1));
    assert_true(vmdl_pit_out(&p, 0, fire));
    assert_int_equal(vmdl_pit_next_change(&p, 0, fire), UINT64_MAX);
    /* the count runs down (and wraps after 0) */
    vmdl_pit_write(&p, 0x43, 0x00, 5000 + at_tick(10));       /* latch ch 0 */
    uint8_t lo = vmdl_pit_read(&p, 0x40, 0), hi = vmdl_pit_read(&p, 0x40, 0);
    assert_int_equal(lo | hi << 8, 990);
}

static void test_rate_generator(void **state)
{
    (void)state;
    struct vmdl_pit p;
    vmdl_pit_reset(&p);
    program(&p, 0, 2, 100, 0);
    /* KVM's and QEMU's mode 2: OUT high for the tick the count reloads */
    assert_false(vmdl_pit_out(&p, 0, 0));
    assert_int_equal(vmdl_pit_next_change(&p, 0, 0), at_tick(100));
    assert_true(vmdl_pit_out(&p, 0, at_tick(100)));
    assert_int_equal(vmdl_pit_next_change(&p, 0, at_tick(100)), at_tick(101));
    assert_false(vmdl_pit_out(&p, 0, at_tick(101)));
    assert_int_equal(vmdl_pit_next_change(&p, 0, at_tick(101)), at_tick(200));
}

static void test_byte_access_latch_and_read_back(void **state)
{
    (void)state;
    struct vmdl_pit p;
    vmdl_pit_reset(&p);
    /* LSB only: count 0x0050 */
    vmdl_pit_write(&p, 0x43, 0x50 | (0 << 1), 0);              /* ch 1, LSB, mode 0 */
    vmdl_pit_write(&p, 0x41, 0x50, 0);
    assert_int_equal(vmdl_pit_read(&p, 0x41, at_tick(0x10)), 0x40);
    /* the first latch holds until it is read */
    program(&p, 0, 0, 0x1234, 0);
    vmdl_pit_write(&p, 0x43, 0x00, at_tick(4));
    vmdl_pit_write(&p, 0x43, 0x00, at_tick(100));
    assert_int_equal(vmdl_pit_read(&p, 0x40, at_tick(200)), 0x30);
    assert_int_equal(vmdl_pit_read(&p, 0x40, at_tick(200)), 0x12);
    /* read-back: status then count of channel 0 */
    vmdl_pit_write(&p, 0x43, 0xC2, at_tick(0x34));
    uint8_t status = vmdl_pit_read(&p, 0x40, 0);
    assert_int_equal(status, 0x30);               /* OUT 0, LSB+MSB, mode 0, binary */
    assert_int_equal(vmdl_pit_read(&p, 0x40, 0), 0x00);
    assert_int_equal(vmdl_pit_read(&p, 0x40, 0), 0x12);
    /* a control word sets null count until the count is written */
    vmdl_pit_write(&p, 0x43, 0x34, 0);
    vmdl_pit_write(&p, 0x43, 0xE2, 0);            /* status only */
    assert_int_equal(vmdl_pit_read(&p, 0x40, 0) & 0x40, 0x40);
    assert_int_equal(vmdl_pit_read(&p, 0x43, 0), 0xFF);       /* write-only */
}

static void test_port61_gate_and_out2(void **state)
{
    (void)state;
    struct vmdl_pit p;
    vmdl_pit_reset(&p);
    assert_int_equal(vmdl_pit_read(&p, 0x61, 0) & 0x03, 0);
    program(&p, 2, 0, 100, 0);
    vmdl_pit_write(&p, 0x61, 0x01, 0);             /* gate 2 on */
    assert_int_equal(vmdl_pit_read(&p, 0x61, 0) & 0x21, 0x01);
    assert_int_equal(vmdl_pit_read(&p, 0x61, at_tick(100)) & 0x20, 0x20);
    /* a rising gate restarts a mode-2 count */
    program(&p, 2, 2, 100, 0);
    vmdl_pit_write(&p, 0x61, 0x00, at_tick(50));
    vmdl_pit_write(&p, 0x61, 0x01, at_tick(60));
    assert_int_equal(vmdl_pit_next_change(&p, 2, at_tick(60)), at_tick(60) + at_tick(100));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bios_square_wave),
        cmocka_unit_test(test_mode0_one_shot),
        cmocka_unit_test(test_rate_generator),
        cmocka_unit_test(test_byte_access_latch_and_read_back),
        cmocka_unit_test(test_port61_gate_and_out2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
