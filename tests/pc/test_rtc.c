/* SPDX-License-Identifier: MIT */
/*
 * The MC146818 CMOS RTC model: time and date as functions of virtual time
 * (BCD and binary, 12- and 24-hour), UIP in the 244 us before each update,
 * SET and the divider reset stopping the clock, alarm matching with the
 * "don't care" bytes, periodic rates from RS3-0, register C cleared by
 * reading, IRQ 8, NVRAM and the NMI mask bit of port 0x70, the PC
 * firmware's NVRAM values, the start-date option and checkpoint images.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "virtmodel/error.h"
#include "virtmodel/pc_rtc.h"

#define S 1000000000ull
#define MS 1000000ull

static uint8_t rd(struct vmdl_rtc *r, uint8_t idx, uint64_t now)
{
    vmdl_rtc_write(r, 0x70, idx, now);
    return vmdl_rtc_read(r, 0x71, now);
}

static void wr(struct vmdl_rtc *r, uint8_t idx, uint8_t v, uint64_t now)
{
    vmdl_rtc_write(r, 0x70, idx, now);
    vmdl_rtc_write(r, 0x71, v, now);
}

static void init_at(struct vmdl_rtc *r, const char *date)
{
    int64_t t = 0;
    assert_int_equal(vmdl_rtc_parse_time(date, &t), VMDL_OK);
    vmdl_rtc_init(r, t, 0);
}

static void test_power_on_registers(void **state)
{
    (void)state;
    struct vmdl_rtc r;
    vmdl_rtc_init(&r, VMDL_RTC_DEFAULT_BASE, 0);    /* 2026-01-01, a Thursday */
    assert_int_equal(rd(&r, 0x00, 0), 0x00);
    assert_int_equal(rd(&r, 0x02, 0), 0x00);
    assert_int_equal(rd(&r, 0x04, 0), 0x00);
    assert_int_equal(rd(&r, 0x06, 0), 5);           /* Sunday = 1 */
    assert_int_equal(rd(&r, 0x07, 0), 0x01);
    assert_int_equal(rd(&r, 0x08, 0), 0x01);
    assert_int_equal(rd(&r, 0x09, 0), 0x26);
    assert_int_equal(rd(&r, 0x32, 0), 0x20);
    assert_int_equal(rd(&r, 0x0A, 0), 0x26);
    assert_int_equal(rd(&r, 0x0B, 0), 0x02);
    assert_int_equal(rd(&r, 0x0C, 0), 0x00);
    assert_int_equal(rd(&r, 0x0D, 0), 0x80);
    assert_int_equal(vmdl_rtc_read(&r, 0x70, 0), 0xFF);   /* write-only */
    assert_false(vmdl_rtc_irq(&r));
    assert_int_equal(vmdl_rtc_time(&r, 0), VMDL_RTC_DEFAULT_BASE);
}

static void test_bcd_and_binary(void **state)
{
    (void)state;
    struct vmdl_rtc r;
    init_at(&r, "2026-12-07T09:59:30");
    uint64_t t = 89 * S + 500 * MS;                  /* 10:00:59 */
    assert_int_equal(rd(&r, 0x00, t), 0x59);
    assert_int_equal(rd(&r, 0x02, t), 0x00);
    assert_int_equal(rd(&r, 0x04, t), 0x10);
    assert_int_equal(rd(&r, 0x06, t), 2);            /* Monday */
    assert_int_equal(rd(&r, 0x07, t), 0x07);
    assert_int_equal(rd(&r, 0x08, t), 0x12);
    wr(&r, 0x0B, 0x06, t);                           /* DM: binary */
    assert_int_equal(rd(&r, 0x00, t), 59);
    assert_int_equal(rd(&r, 0x04, t), 10);
    assert_int_equal(rd(&r, 0x08, t), 12);
    assert_int_equal(rd(&r, 0x09, t), 26);
    assert_int_equal(rd(&r, 0x32, t), 20);
    /* switching the mode of a running clock keeps its time */
    assert_int_equal(rd(&r, 0x02, t + S), 1);
    wr(&r, 0x0B, 0x02, t + S);
    assert_int_equal(rd(&r, 0x02, t + S), 0x01);
    assert_int_equal(rd(&r, 0x00, t + S), 0x00);
}

static void test_twelve_hour_mode(void **state)
{
    (void)state;
    struct vmdl_rtc r;
    init_at(&r, "2026-12-07T00:30:00");
    wr(&r, 0x0B, 0x00, 0);                           /* BCD, 12-hour */
    const uint64_t h = 3600 * S, half = 1800 * S;
    assert_int_equal(rd(&r, 0x04, 0), 0x12);         /* 12 AM */
    assert_int_equal(rd(&r, 0x04, 11 * h + half), 0x92);    /* 12 PM */
    assert_int_equal(rd(&r, 0x04, 12 * h + half), 0x81);    /* 1 PM */
    assert_int_equal(rd(&r, 0x04, 23 * h + half - 1), 0x91);   /* 11 PM */
    wr(&r, 0x0B, 0x04, 0);                           /* binary, 12-hour */
    assert_int_equal(rd(&r, 0x04, 23 * h + half - 1), 0x8B);
    assert_int_equal(rd(&r, 0x04, 10 * h), 10);      /* 10:30 AM */
    /* a 12-hour write: 0x87 is 7 PM; the bytes follow a mode change */
    wr(&r, 0x0B, 0x80, 0);                           /* SET, BCD, 12-hour */
    wr(&r, 0x04, 0x87, 0);
    wr(&r, 0x0B, 0x00, 0);                           /* run */
    assert_int_equal(rd(&r, 0x04, 0), 0x87);
    wr(&r, 0x0B, 0x02, 0);                           /* 24-hour */
    assert_int_equal(rd(&r, 0x04, 0), 0x19);
}

static void test_uip_before_each_update(void **state)
{
    (void)state;
    struct vmdl_rtc r;
    vmdl_rtc_init(&r, VMDL_RTC_DEFAULT_BASE, 0);
    uint64_t uip = S - VMDL_RTC_UIP_NS;
    assert_int_equal(rd(&r, 0x0A, uip - 1) & 0x80, 0);
    assert_int_equal(rd(&r, 0x0A, uip) & 0x80, 0x80);
    assert_int_equal(rd(&r, 0x00, S - 1), 0x00);     /* not updated yet */
    assert_int_equal(rd(&r, 0x0A, S - 1) & 0x80, 0x80);
    assert_int_equal(rd(&r, 0x0A, S) & 0x80, 0);     /* the update */
    assert_int_equal(rd(&r, 0x00, S), 0x01);
    assert_int_equal(rd(&r, 0x0A, 2 * S - 1000) & 0x80, 0x80);
    /* UIP is read-only; a stopped clock has no update */
    wr(&r, 0x0A, 0xA6, 2 * S);
    assert_int_equal(rd(&r, 0x0A, 2 * S), 0x26);
    wr(&r, 0x0B, 0x82, 2 * S);
    assert_int_equal(rd(&r, 0x0A, 3 * S - 1000) & 0x80, 0);
}

static void test_set_stops_the_clock(void **state)
{
    (void)state;
    struct vmdl_rtc r;
    vmdl_rtc_init(&r, VMDL_RTC_DEFAULT_BASE, 0);
    wr(&r, 0x0B, 0x12, 0);                           /* UIE */
    wr(&r, 0x0B, 0x92, 10 * S + 300 * MS);           /* SET clears UIE */
    assert_int_equal(rd(&r, 0x0B, 10 * S + 300 * MS), 0x82);
    assert_int_equal(rd(&r, 0x00, 15 * S), 0x10);    /* held at 00:00:10 */
    wr(&r, 0x00, 0x58, 15 * S);
    wr(&r, 0x02, 0x59, 15 * S);
    wr(&r, 0x04, 0x23, 15 * S);
    wr(&r, 0x07, 0x31, 15 * S);
    wr(&r, 0x08, 0x12, 15 * S);
    wr(&r, 0x04 + 0x2E, 0x20, 15 * S);               /* century (0x32) */
    assert_int_equal(rd(&r, 0x00, 19 * S), 0x58);    /* the bytes as written */
    wr(&r, 0x0B, 0x02, 20 * S + 700 * MS);           /* run; the phase is kept */
    assert_int_equal(rd(&r, 0x00, 21 * S - 1), 0x58);
    assert_int_equal(rd(&r, 0x00, 21 * S), 0x59);
    uint64_t t = 22 * S;                             /* 2027-01-01 00:00:00 */
    assert_int_equal(rd(&r, 0x00, t), 0x00);
    assert_int_equal(rd(&r, 0x04, t), 0x00);
    assert_int_equal(rd(&r, 0x07, t), 0x01);
    assert_int_equal(rd(&r, 0x08, t), 0x01);
    assert_int_equal(rd(&r, 0x09, t), 0x27);
    assert_int_equal(rd(&r, 0x06, t), 6);            /* a Friday */
    /* a write to a running clock takes effect at once, same phase */
    wr(&r, 0x02, 0x30, t + 100 * MS);
    assert_int_equal(rd(&r, 0x02, t + 999 * MS), 0x30);
    assert_int_equal(rd(&r, 0x00, t + S), 0x01);
}

static void test_century_rollover(void **state)
{
    (void)state;
    struct vmdl_rtc r;
    init_at(&r, "2099-12-31T23:59:59");
    assert_int_equal(rd(&r, 0x09, 0), 0x99);
    assert_int_equal(rd(&r, 0x32, S), 0x21);
    assert_int_equal(rd(&r, 0x09, S), 0x00);
    assert_int_equal(rd(&r, 0x08, S), 0x01);
}

static void test_update_interrupt_and_reg_c(void **state)
{
    (void)state;
    struct vmdl_rtc r;
    vmdl_rtc_init(&r, VMDL_RTC_DEFAULT_BASE, 0);
    wr(&r, 0x0B, 0x12, 0);                           /* UIE */
    assert_int_equal(vmdl_rtc_next_irq(&r, 0), S);
    vmdl_rtc_advance(&r, S - 1);
    assert_false(vmdl_rtc_irq(&r));
    vmdl_rtc_advance(&r, S);
    assert_true(vmdl_rtc_irq(&r));
    assert_int_equal(vmdl_rtc_next_irq(&r, S), UINT64_MAX);   /* already high */
    assert_int_equal(rd(&r, 0x0C, S), 0x80 | 0x10 | 0x40);   /* IRQF UF, PF too */
    assert_false(vmdl_rtc_irq(&r));
    assert_int_equal(rd(&r, 0x0C, S), 0x00);         /* cleared by the read */
    assert_int_equal(vmdl_rtc_next_irq(&r, S), 2 * S);
    /* a flag already set raises IRQ 8 the moment its enable is written */
    wr(&r, 0x0B, 0x02, S);
    vmdl_rtc_advance(&r, 3 * S);
    assert_false(vmdl_rtc_irq(&r));
    wr(&r, 0x0B, 0x12, 3 * S);
    assert_true(vmdl_rtc_irq(&r));
    /* writes to C and D change nothing */
    wr(&r, 0x0C, 0x00, 3 * S);
    wr(&r, 0x0D, 0x00, 3 * S);
    assert_true(vmdl_rtc_irq(&r));
    assert_int_equal(rd(&r, 0x0D, 3 * S), 0x80);
    /* disabling the source drops IRQF */
    wr(&r, 0x0B, 0x02, 3 * S);
    assert_false(vmdl_rtc_irq(&r));
    assert_int_equal(rd(&r, 0x0C, 3 * S) & 0x90, 0x10);
}

static void test_alarm_exact_match(void **state)
{
    (void)state;
    struct vmdl_rtc r;
    vmdl_rtc_init(&r, VMDL_RTC_DEFAULT_BASE, 0);
    wr(&r, 0x01, 0x05, 0);
    wr(&r, 0x03, 0x00, 0);
    wr(&r, 0x05, 0x00, 0);
    assert_int_equal(vmdl_rtc_next_alarm(&r, 0), UINT64_MAX);   /* AIE clear */
    wr(&r, 0x0B, 0x22, 0);                           /* AIE */
    assert_int_equal(vmdl_rtc_next_alarm(&r, 0), 5 * S);
    assert_int_equal(vmdl_rtc_next_irq(&r, 0), 5 * S);
    vmdl_rtc_advance(&r, 5 * S - 1);
    assert_false(vmdl_rtc_irq(&r));
    assert_int_equal(rd(&r, 0x0C, 5 * S - 1) & 0x20, 0);
    vmdl_rtc_advance(&r, 5 * S);
    assert_true(vmdl_rtc_irq(&r));
    assert_int_equal(rd(&r, 0x0C, 5 * S), 0x80 | 0x20 | 0x10 | 0x40);
    /* the next match is a day later */
    assert_int_equal(vmdl_rtc_next_alarm(&r, 5 * S), 86405 * S);
    /* skipped over in one look, the match still sets AF */
    vmdl_rtc_advance(&r, 90000 * S);
    assert_int_equal(rd(&r, 0x0C, 90000 * S) & 0x20, 0x20);
    /* a byte no time shows never matches: 0x60 seconds, 0x0A in BCD */
    wr(&r, 0x01, 0x60, 90000 * S);
    assert_int_equal(vmdl_rtc_next_alarm(&r, 90000 * S), UINT64_MAX);
    wr(&r, 0x01, 0x0A, 90000 * S);
    assert_int_equal(vmdl_rtc_next_alarm(&r, 90000 * S), UINT64_MAX);
}

static void test_alarm_dont_care(void **state)
{
    (void)state;
    struct vmdl_rtc r;
    vmdl_rtc_init(&r, VMDL_RTC_DEFAULT_BASE, 0);
    /* every byte 0xC0-0xFF is "any": all three is every second */
    wr(&r, 0x01, 0xC0, 0);
    wr(&r, 0x03, 0xFF, 0);
    wr(&r, 0x05, 0xD3, 0);
    wr(&r, 0x0B, 0x22, 200 * MS);
    assert_int_equal(vmdl_rtc_next_alarm(&r, 200 * MS), S);
    assert_int_equal(vmdl_rtc_next_alarm(&r, 7 * S), 8 * S);
    /* any hour, minute 2, second 30: 00:02:30 */
    wr(&r, 0x01, 0x30, 7 * S);
    wr(&r, 0x03, 0x02, 7 * S);
    assert_int_equal(vmdl_rtc_next_alarm(&r, 7 * S), 150 * S);
    /* minute 2, any second: the next is 00:02:00; after 00:02:59, 01:02:00 */
    wr(&r, 0x01, 0xC0, 7 * S);
    assert_int_equal(vmdl_rtc_next_alarm(&r, 7 * S), 120 * S);
    assert_int_equal(vmdl_rtc_next_alarm(&r, 179 * S), 3720 * S);
    /* in 12-hour mode the hour byte carries PM: 0x81 is 13:00 */
    wr(&r, 0x0B, 0x20, 7 * S);
    wr(&r, 0x05, 0x81, 7 * S);
    wr(&r, 0x03, 0x00, 7 * S);
    wr(&r, 0x01, 0x00, 7 * S);
    assert_int_equal(vmdl_rtc_next_alarm(&r, 7 * S), 13 * 3600 * S);
}

static void test_periodic_rates(void **state)
{
    (void)state;
    struct vmdl_rtc r;
    vmdl_rtc_init(&r, VMDL_RTC_DEFAULT_BASE, 0);
    /* rate 6 (the reset value): 1024 Hz, 976.5625 us; PF without PIE */
    vmdl_rtc_advance(&r, 976562);
    assert_int_equal(rd(&r, 0x0C, 976562), 0);
    vmdl_rtc_advance(&r, 976563);
    assert_false(vmdl_rtc_irq(&r));
    assert_int_equal(rd(&r, 0x0C, 976563), 0x40);
    wr(&r, 0x0B, 0x42, 976563);                      /* PIE */
    assert_int_equal(vmdl_rtc_next_irq(&r, 976563), 1953125);
    static const struct { uint8_t rs; uint64_t ns; } rates[] = {
        {1, 3906250}, {2, 7812500}, {3, 122071}, {13, 125000000}, {15, 500000000},
    };
    for (unsigned i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
        wr(&r, 0x0A, (uint8_t)(0x20 | rates[i].rs), 10 * S);
        rd(&r, 0x0C, 10 * S);
        assert_int_equal(vmdl_rtc_next_irq(&r, 10 * S), 10 * S + rates[i].ns);
    }
    wr(&r, 0x0A, 0x20, 10 * S);                      /* rate 0: none */
    rd(&r, 0x0C, 10 * S);
    assert_int_equal(vmdl_rtc_next_irq(&r, 10 * S), UINT64_MAX);
    vmdl_rtc_advance(&r, 20 * S);
    assert_int_equal(rd(&r, 0x0C, 20 * S), 0x10);    /* UF only */
}

static void test_divider_reset(void **state)
{
    (void)state;
    struct vmdl_rtc r;
    vmdl_rtc_init(&r, VMDL_RTC_DEFAULT_BASE, 0);
    wr(&r, 0x0A, 0x76, 2 * S + 200 * MS);            /* DV 111: held */
    rd(&r, 0x0C, 2 * S + 200 * MS);
    vmdl_rtc_advance(&r, 9 * S);
    assert_int_equal(rd(&r, 0x0C, 9 * S), 0);        /* no update, no PF */
    assert_int_equal(rd(&r, 0x00, 9 * S), 0x02);
    wr(&r, 0x0A, 0x26, 9 * S);                       /* first update 500 ms on */
    assert_int_equal(rd(&r, 0x00, 9 * S + 500 * MS - 1), 0x02);
    assert_int_equal(rd(&r, 0x00, 9 * S + 500 * MS), 0x03);
    assert_int_equal(rd(&r, 0x0A, 9 * S + 500 * MS - 1000) & 0x80, 0x80);
}

static void test_reset_clears_enables_and_flags(void **state)
{
    (void)state;
    struct vmdl_rtc r;
    vmdl_rtc_init(&r, VMDL_RTC_DEFAULT_BASE, 0);
    wr(&r, 0x0B, 0x7A, 0);                           /* PIE AIE UIE SQWE */
    vmdl_rtc_advance(&r, 3 * S);
    assert_true(vmdl_rtc_irq(&r));
    vmdl_rtc_reset(&r, 3 * S);
    assert_false(vmdl_rtc_irq(&r));
    assert_int_equal(rd(&r, 0x0B, 3 * S), 0x12);     /* UIE kept, as QEMU */
    assert_int_equal(rd(&r, 0x0C, 3 * S), 0);
    assert_int_equal(rd(&r, 0x00, 3 * S), 0x03);     /* the clock runs on */
}

static void test_nvram_and_nmi_mask(void **state)
{
    (void)state;
    struct vmdl_rtc r;
    vmdl_rtc_init(&r, VMDL_RTC_DEFAULT_BASE, 0);
    vmdl_rtc_write(&r, 0x70, 0xC0, 0);               /* NMI off, index 0x40 */
    assert_true(r.nmi_masked);
    vmdl_rtc_write(&r, 0x71, 0x5A, 0);
    vmdl_rtc_write(&r, 0x70, 0x40, 0);
    assert_false(r.nmi_masked);
    assert_int_equal(vmdl_rtc_read(&r, 0x71, 0), 0x5A);
    wr(&r, 0x7F, 0xA5, 0);
    assert_int_equal(rd(&r, 0xFF, 0), 0xA5);         /* 7-bit index */
    assert_int_equal(vmdl_rtc_read(&r, 0x72, 0), 0xFF);
    assert_int_equal(vmdl_rtc_set_nvram(&r, 0x0E, 1), VMDL_OK);
    assert_int_equal(vmdl_rtc_set_nvram(&r, 0x0D, 1), VMDL_EINVAL);
    assert_int_equal(vmdl_rtc_set_nvram(&r, 0x32, 1), VMDL_EINVAL);
    assert_int_equal(vmdl_rtc_set_nvram(&r, 0x80, 1), VMDL_EINVAL);
    assert_int_equal(vmdl_rtc_set_nvram(NULL, 0x40, 1), VMDL_EINVAL);
}

static void test_pc_firmware_nvram(void **state)
{
    (void)state;
    struct vmdl_rtc r;
    vmdl_rtc_init(&r, VMDL_RTC_DEFAULT_BASE, 0);
    vmdl_rtc_pc_nvram(&r, 128ull << 20, 1ull << 30, 2);
    assert_int_equal(rd(&r, 0x15, 0) | rd(&r, 0x16, 0) << 8, 640);
    assert_int_equal(rd(&r, 0x17, 0) | rd(&r, 0x18, 0) << 8, 0xFFFF);   /* capped */
    assert_int_equal(rd(&r, 0x30, 0) | rd(&r, 0x31, 0) << 8, 0xFFFF);
    assert_int_equal(rd(&r, 0x34, 0) | rd(&r, 0x35, 0) << 8, (128 - 16) * 16);
    assert_int_equal(rd(&r, 0x5B, 0) | rd(&r, 0x5C, 0) << 8 | rd(&r, 0x5D, 0) << 16,
                     16384);
    assert_int_equal(rd(&r, 0x5F, 0), 1);
    assert_int_equal(rd(&r, 0x14, 0), 0x06);
    vmdl_rtc_pc_nvram(&r, 32ull << 20, 0, 1);
    assert_int_equal(rd(&r, 0x17, 0) | rd(&r, 0x18, 0) << 8, 31 * 1024);
    assert_int_equal(rd(&r, 0x34, 0) | rd(&r, 0x35, 0) << 8, 16 * 16);
    assert_int_equal(rd(&r, 0x5F, 0), 0);
    vmdl_rtc_pc_nvram(&r, 512ull << 10, 0, 1);
    assert_int_equal(rd(&r, 0x15, 0) | rd(&r, 0x16, 0) << 8, 512);
    assert_int_equal(rd(&r, 0x17, 0) | rd(&r, 0x18, 0) << 8, 0);
}

static void test_parse_time(void **state)
{
    (void)state;
    int64_t t = 0;
    assert_int_equal(vmdl_rtc_parse_time("2026-12-07T00:00:00", &t), VMDL_OK);
    assert_int_equal(t, 1796601600);
    assert_int_equal(vmdl_rtc_parse_time("2026-01-01", &t), VMDL_OK);
    assert_int_equal(t, VMDL_RTC_DEFAULT_BASE);
    assert_int_equal(vmdl_rtc_parse_time("2024-02-29 00:00:00", &t), VMDL_OK);
    assert_int_equal(t, 1709164800);
    assert_int_equal(vmdl_rtc_parse_time("0000-01-01", &t), VMDL_OK);
    assert_int_equal(t, -719528ll * 86400);
    static const char *bad[] = {
        "2026-02-29", "2100-02-29", "2026-13-01", "2026-00-10", "2026-12-32",
        "2026-12-07T24:00:00", "2026-12-07T00:60:00", "2026-12-07X00:00:00",
        "2026-12-7", "26-12-07", "", "2026-12-07T00:00:00Z", "-026-12-07",
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(vmdl_rtc_parse_time(bad[i], &t), VMDL_EINVAL);
    assert_int_equal(vmdl_rtc_parse_time(NULL, &t), VMDL_EINVAL);
}

static void test_checkpoint_image(void **state)
{
    (void)state;
    struct vmdl_rtc r, n;
    init_at(&r, "2026-12-07T12:00:00");
    wr(&r, 0x0B, 0x32, S / 2);                       /* AIE UIE */
    wr(&r, 0x41, 0x77, S / 2);
    vmdl_rtc_write(&r, 0x70, 0x85, S / 2);
    vmdl_rtc_advance(&r, 2 * S);
    uint8_t *b = NULL;
    size_t len = 0;
    assert_int_equal(vmdl_rtc_export(&r, &b, &len), VMDL_OK);
    vmdl_rtc_init(&n, 0, 0);
    assert_int_equal(vmdl_rtc_import(&n, b, len), VMDL_OK);
    assert_int_equal(memcmp(&n.cmos, &r.cmos, sizeof(r.cmos)), 0);
    assert_true(n.nmi_masked && n.irq);
    assert_int_equal(rd(&n, 0x00, 5 * S), rd(&r, 0x00, 5 * S));
    assert_int_equal(rd(&n, 0x0C, 5 * S), rd(&r, 0x0C, 5 * S));
    /* malformed images are refused and leave the RTC alone */
    struct vmdl_rtc keep = n;
    assert_int_equal(vmdl_rtc_import(&n, b, len - 1), VMDL_EINVAL);
    static const struct { size_t at; uint8_t v; } bad[] = {
        {0, 0x00},                  /* magic */
        {4, 2},                     /* version */
        {8 + 0x0A, 0xA6},           /* UIP stored */
        {8 + 0x0C, 0x80},           /* IRQF stored */
        {8 + 0x0C, 0x01},           /* C's low bits */
        {8 + 0x0D, 0x00},           /* VRT */
        {8 + 128, 0x80},            /* index */
        {8 + 129, 2},               /* NMI mask flag */
        {8 + 128 + 26, 0},          /* IRQ 8 low with IRQF due */
        {8 + 128 + 9, 0x80},        /* t0 negative beyond 500 ms */
        {8 + 128 + 25, 0x80},       /* synced past 2^62 */
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t *c = malloc(len);
        memcpy(c, b, len);
        c[bad[i].at] = bad[i].v;
        assert_int_equal(vmdl_rtc_import(&n, c, len), VMDL_EINVAL);
        assert_int_equal(memcmp(&n, &keep, sizeof(n)), 0);
        free(c);
    }
    assert_int_equal(vmdl_rtc_import(&n, NULL, len), VMDL_EINVAL);
    assert_int_equal(vmdl_rtc_export(&r, NULL, &len), VMDL_EINVAL);
    free(b);
}

/* Every value at every index, time stepping forwards and back: the
 * invariants hold (VRT, C's low nibble, IRQ 8 = IRQF, UIP read-only). */
static void test_hostile_port_sequences(void **state)
{
    (void)state;
    struct vmdl_rtc r;
    vmdl_rtc_init(&r, VMDL_RTC_DEFAULT_BASE, 0);
    uint64_t now = 0;
    uint32_t x = 12345;
    for (unsigned i = 0; i < 200000; i++) {
        x = x * 1103515245u + 12345u;
        uint8_t idx = (uint8_t)(x >> 8), val = (uint8_t)(x >> 16);
        now = (x & 0x80000000u) ? now + (x >> 20) * 1000 : now - (now > 5000 ? 5000 : 0);
        if (x & 1)
            wr(&r, idx, val, now);
        else
            rd(&r, idx, now);
        assert_int_equal(rd(&r, 0x0D, now), 0x80);
        uint8_t c = r.cmos[0x0C];
        assert_int_equal(c & 0x8F, 0);
        assert_int_equal(r.irq, (c & r.cmos[0x0B] & 0x70) != 0);
        assert_int_equal(r.cmos[0x0A] & 0x80, 0);
        assert_true(vmdl_rtc_next_irq(&r, now) > now);
    }
    /* whatever the bytes set (century 0xFF), the state's image imports */
    wr(&r, 0x0B, 0x02, now);
    wr(&r, 0x32, 0xFF, now);
    wr(&r, 0x08, 0x00, now);
    uint8_t *b = NULL;
    size_t len = 0;
    struct vmdl_rtc c;
    assert_int_equal(vmdl_rtc_export(&r, &b, &len), VMDL_OK);
    assert_int_equal(vmdl_rtc_import(&c, b, len), VMDL_OK);
    free(b);
    /* the year range ends stay in 0000-9999 */
    vmdl_rtc_init(&r, INT64_MAX, 0);
    assert_int_equal(rd(&r, 0x09, 0), 0x99);
    assert_int_equal(rd(&r, 0x32, 0), 0x99);
    assert_int_equal(rd(&r, 0x09, S), 0x00);
    assert_int_equal(rd(&r, 0x32, S), 0x00);
    vmdl_rtc_init(&r, INT64_MIN, 0);
    assert_int_equal(rd(&r, 0x32, 0), 0x00);
    assert_int_equal(rd(&r, 0x08, 0), 0x01);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_power_on_registers),
        cmocka_unit_test(test_bcd_and_binary),
        cmocka_unit_test(test_twelve_hour_mode),
        cmocka_unit_test(test_uip_before_each_update),
        cmocka_unit_test(test_set_stops_the_clock),
        cmocka_unit_test(test_century_rollover),
        cmocka_unit_test(test_update_interrupt_and_reg_c),
        cmocka_unit_test(test_alarm_exact_match),
        cmocka_unit_test(test_alarm_dont_care),
        cmocka_unit_test(test_periodic_rates),
        cmocka_unit_test(test_divider_reset),
        cmocka_unit_test(test_reset_clears_enables_and_flags),
        cmocka_unit_test(test_nvram_and_nmi_mask),
        cmocka_unit_test(test_pc_firmware_nvram),
        cmocka_unit_test(test_parse_time),
        cmocka_unit_test(test_checkpoint_image),
        cmocka_unit_test(test_hostile_port_sequences),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
