/* SPDX-License-Identifier: MIT */
/*
 * fuzz_rtc: the PC's CMOS RTC driven through its ports (any value to
 * either port, reads of any index, time moving forwards by any amount or
 * backwards), the RESET input, the NVRAM setter; the ACPI PM1a block
 * (any offset, size and value); the checkpoint image of the state reached,
 * imported as is and with any bytes changed.
 *
 * Invariants:
 *  - register D reads VRT; C's low nibble is 0 and C is 0 after a read;
 *    A's UIP is never stored; IRQ 8 is exactly IRQF (B & C & 0x70);
 *  - the next IRQ 8 event, when there is one, lies after now, and the
 *    next alarm is an update time no earlier than now;
 *  - a PM1 status bit written as 1 reads 0 afterwards (TMR_STS aside,
 *    which time sets again), SCI_EN reads 1, SLP_EN reads 0;
 *  - an exported image imports into an RTC that then reads the same;
 *    a changed image is refused or imports into a state that keeps the
 *    invariants.
 */
#include "fuzz_util.h"

#include "virtmodel/pc_acpi.h"
#include "virtmodel/pc_rtc.h"

static void check_rtc(struct vmdl_rtc *r, uint64_t now)
{
    uint8_t b = r->cmos[VMDL_RTC_REG_B], c = r->cmos[VMDL_RTC_REG_C];
    FZ_CHECK(!(c & 0x8F), "C stores 0x%x", c);
    FZ_CHECK(!(r->cmos[VMDL_RTC_REG_A] & VMDL_RTC_A_UIP), "UIP stored");
    FZ_CHECK(r->irq == ((b & c & 0x70) != 0), "IRQ 8 %d, B 0x%x C 0x%x", r->irq, b, c);
    FZ_CHECK(r->index < 0x80, "index 0x%x", r->index);
    uint64_t next = vmdl_rtc_next_irq(r, now);
    FZ_CHECK(next > now, "next IRQ %llu not after %llu", (unsigned long long)next,
             (unsigned long long)now);
    uint64_t alarm = vmdl_rtc_next_alarm(r, now);
    FZ_CHECK(alarm == UINT64_MAX || (alarm > now && alarm <= (1ull << 62)),
             "next alarm %llu at %llu", (unsigned long long)alarm, (unsigned long long)now);
}

static void rtc_step(struct fz *f, struct vmdl_rtc *r, uint64_t *now)
{
    switch (fz_pick(f, 8)) {
    case 0: case 1:
        vmdl_rtc_write(r, VMDL_RTC_PORT, fz_u8(f), *now);
        break;
    case 2: case 3:
        vmdl_rtc_write(r, VMDL_RTC_PORT_DATA, fz_u8(f), *now);
        break;
    case 4: {
        unsigned idx = r->index;
        uint8_t v = vmdl_rtc_read(r, VMDL_RTC_PORT_DATA, *now);
        if (idx == VMDL_RTC_REG_D)
            FZ_CHECK(v == VMDL_RTC_D_VRT, "D 0x%x", v);
        if (idx == VMDL_RTC_REG_C)
            FZ_CHECK(r->cmos[VMDL_RTC_REG_C] == 0 && !r->irq, "C after its read");
        break;
    }
    case 5:
        *now += fz_value(f) & ((1ull << 40) - 1);
        vmdl_rtc_advance(r, *now);
        break;
    case 6:
        *now -= *now < 1000000 ? *now : fz_u32(f) % 1000000;
        vmdl_rtc_read(r, (uint16_t)(0x6F + fz_pick(f, 4)), *now);
        break;
    default:
        if (fz_bool(f))
            vmdl_rtc_reset(r, *now);
        else
            vmdl_rtc_set_nvram(r, fz_u8(f), fz_u8(f));
        break;
    }
}

static void pm_step(struct fz *f, struct vmdl_acpi_pm *pm, uint64_t now)
{
    unsigned off = fz_pick(f, 12), size = 1u << fz_pick(f, 3);
    uint32_t v = fz_u32(f);
    if (fz_bool(f)) {
        vmdl_acpi_pm_read(pm, off, size, now);
        return;
    }
    vmdl_acpi_pm_write(pm, off, size, v, now);
    uint32_t sts = vmdl_acpi_pm_read(pm, 0, 2, now);
    if (off == 0)
        FZ_CHECK(!(sts & v & 0xFFFE & (size == 1 ? 0xFF : 0xFFFF)), "W1C: 0x%x", sts);
    uint32_t cnt = vmdl_acpi_pm_read(pm, 4, 2, now);
    FZ_CHECK((cnt & VMDL_ACPI_PM1_SCI_EN) && !(cnt & VMDL_ACPI_PM1_SLP_EN), "CNT 0x%x", cnt);
}

static void image_round_trip(struct fz *f, struct vmdl_rtc *r, uint64_t now)
{
    uint8_t *b = NULL;
    size_t n = 0;
    FZ_CHECK(!vmdl_rtc_export(r, &b, &n), "export");
    struct vmdl_rtc c;
    vmdl_rtc_init(&c, 0, 0);
    FZ_CHECK(!vmdl_rtc_import(&c, b, n), "own image refused");
    uint64_t later = now + fz_u32(f);
    for (unsigned i = 0; i < 0x80; i++) {
        vmdl_rtc_write(r, VMDL_RTC_PORT, (uint8_t)i, later);
        vmdl_rtc_write(&c, VMDL_RTC_PORT, (uint8_t)i, later);
        FZ_CHECK(vmdl_rtc_read(r, VMDL_RTC_PORT_DATA, later) ==
                     vmdl_rtc_read(&c, VMDL_RTC_PORT_DATA, later), "index 0x%x differs", i);
    }
    unsigned changes = fz_pick(f, 4);
    for (unsigned i = 0; i < changes; i++)
        b[fz_u16(f) % n] = fz_u8(f);
    if (!vmdl_rtc_import(&c, b, n))
        check_rtc(&c, c.synced);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f;
    fz_init(&f, data, size);
    struct vmdl_rtc r;
    uint64_t now = fz_value(&f) & ((1ull << 40) - 1);
    vmdl_rtc_init(&r, (int64_t)fz_u64(&f), now);
    struct vmdl_acpi_pm pm;
    vmdl_acpi_pm_reset(&pm, now);
    for (unsigned i = 0; i < 256 && fz_more(&f); i++) {
        if (fz_pick(&f, 4))
            rtc_step(&f, &r, &now);
        else
            pm_step(&f, &pm, now);
        check_rtc(&r, now);
    }
    image_round_trip(&f, &r, now);
    return 0;
}

/* Set the time with SET, alarms "don't care", AIE and UIE on, a periodic
 * rate, a second of time, reads of C and of the clock. */
static void write_seeds(const char *dir)
{
    static const uint8_t seq[] = {
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0x0B, 2, 0x82, 0, 0x04, 2, 0x23, 0, 0x0B, 2, 0x02,
        0, 0x01, 2, 0xC0, 0, 0x03, 2, 0xC0, 0, 0x05, 2, 0xC0,
        0, 0x0B, 2, 0x72, 0, 0x0A, 2, 0x23,
        5, 2, 0xFF, 0, 0x0C, 4, 0, 0x00, 4, 0, 0x0A, 4,
    };
    struct fz_out o = {.len = 0};
    for (unsigned i = 0; i < sizeof(seq); i++)
        fz_put8(&o, seq[i]);
    fz_save_out(dir, "set-alarm-periodic", &o);
}

FZ_SEED_WRITER_MAIN()
