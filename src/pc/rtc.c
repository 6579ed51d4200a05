/* SPDX-License-Identifier: MIT */
/*
 * MC146818 CMOS RTC (include/virtmodel/pc_rtc.h).  The clock is a count
 * of seconds at a second boundary of the divider (t0) plus the whole
 * seconds since; while it is stopped (SET, or the divider held in reset)
 * the time bytes themselves hold it, as on the chip, and starting it
 * again converts them back.  The flags are brought up to date lazily:
 * updates, alarm matches and periodic edges between two looks are
 * counted from the times alone.  See docs/pc.md.
 */
#include <stdlib.h>
#include <string.h>

#include "virtmodel/error.h"
#include "virtmodel/pc_rtc.h"

#define NS 1000000000ll
#define DAY 86400ll
#define TICK_HZ 32768ll                 /* the divider's 32.768 kHz stage */
#define HALF_SECOND 500000000ll
#define FLAGS (VMDL_RTC_C_PF | VMDL_RTC_C_AF | VMDL_RTC_C_UF)
#define TIME_MIN (-719528ll * DAY)      /* 0000-01-01T00:00:00 */
#define TIME_MAX (2932897ll * DAY - 1)  /* 9999-12-31T23:59:59 */
/* Beyond what any bytes can set (binary century 255, month 255: year
 * 25776) less 2^62 ns of running: an image's clock must lie within. */
#define SECS_BOUND 1000000000000ll

/* ---- calendar (proleptic Gregorian, UTC) ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Days since 1970-01-01 of y-m-d; a day past its month runs on into the
 * next one, a month outside 1-12 moves the year (as mktime normalises). */
static int64_t days_from_date(int64_t y, int64_t m, int64_t d)
{
    y += floor_div(m - 1, 12);
    m = m - 1 - floor_div(m - 1, 12) * 12 + 1;
    if (m <= 2)
        y--;                                /* the year starts in March */
    int64_t era = floor_div(y, 400), yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

struct date {
    int64_t year;
    int mon, mday, wday, hour, min, sec;    /* wday 0 = Sunday */
};

static void date_from_secs(int64_t t, struct date *o)
{
    int64_t days = floor_div(t, DAY), tod = t - days * DAY;
    o->hour = (int)(tod / 3600);
    o->min = (int)(tod / 60 % 60);
    o->sec = (int)(tod % 60);
    o->wday = (int)(days + 4 - floor_div(days + 4, 7) * 7);   /* 1970-01-01: Thu */
    int64_t z = days + 719468, era = floor_div(z, 146097), doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    o->mday = (int)(doy - (153 * mp + 2) / 5 + 1);
    o->mon = (int)(mp < 10 ? mp + 3 : mp - 9);
    o->year = yoe + era * 400 + (o->mon <= 2);
}

/* ---- register encodings ---- */

static uint8_t reg(const struct vmdl_rtc *r, unsigned i)
{
    return r->cmos[i];
}

static bool binary(const struct vmdl_rtc *r)
{
    return reg(r, VMDL_RTC_REG_B) & VMDL_RTC_B_DM;
}

static uint8_t enc(const struct vmdl_rtc *r, int v)
{
    return binary(r) ? (uint8_t)v : (uint8_t)((v / 10) << 4 | v % 10);
}

/* A BCD byte with digits above 9 decodes arithmetically, as QEMU's. */
static int dec(const struct vmdl_rtc *r, uint8_t b)
{
    return binary(r) ? b : (b >> 4) * 10 + (b & 0x0F);
}

static uint8_t enc_hour(const struct vmdl_rtc *r, int h)
{
    if (reg(r, VMDL_RTC_REG_B) & VMDL_RTC_B_24H)
        return enc(r, h);
    return (uint8_t)(enc(r, h % 12 ? h % 12 : 12) | (h >= 12 ? 0x80 : 0));
}

static int dec_hour(const struct vmdl_rtc *r, uint8_t b)
{
    if (reg(r, VMDL_RTC_REG_B) & VMDL_RTC_B_24H)
        return dec(r, b);
    return dec(r, b & 0x7F) % 12 + ((b & 0x80) ? 12 : 0);
}

/* ---- the clock ---- */

/* Virtual times saturate at 2^62 ns (146 years) so that sums cannot wrap. */
static int64_t ns_of(uint64_t now)
{
    return now > (1ull << 62) ? (int64_t)(1ull << 62) : (int64_t)now;
}

static bool divider_reset(const struct vmdl_rtc *r)
{
    return (reg(r, VMDL_RTC_REG_A) & 0x60) == 0x60;
}

static bool running(const struct vmdl_rtc *r)
{
    return !(reg(r, VMDL_RTC_REG_B) & VMDL_RTC_B_SET) && !divider_reset(r);
}

/* Nanoseconds since t0 (0 before it). */
static int64_t since_t0(const struct vmdl_rtc *r, uint64_t now)
{
    int64_t d = ns_of(now) - r->t0;
    return d > 0 ? d : 0;
}

/* The time the stopped clock's bytes show. */
static int64_t secs_from_bytes(const struct vmdl_rtc *r)
{
    const uint8_t *c = r->cmos;
    int64_t y = (int64_t)dec(r, c[VMDL_RTC_CENTURY]) * 100 + dec(r, c[VMDL_RTC_YEAR]);
    int64_t days = days_from_date(y, dec(r, c[VMDL_RTC_MONTH]), dec(r, c[VMDL_RTC_MDAY]));
    return days * DAY + dec_hour(r, c[VMDL_RTC_HOUR]) * 3600ll +
           dec(r, c[VMDL_RTC_MIN]) * 60ll + dec(r, c[VMDL_RTC_SEC]);
}

int64_t vmdl_rtc_time(const struct vmdl_rtc *r, uint64_t now)
{
    return running(r) ? r->secs + since_t0(r, now) / NS : secs_from_bytes(r);
}

/* Write the clock's time into its bytes (the registers as read). */
static void materialize(struct vmdl_rtc *r, uint64_t now)
{
    struct date d;
    date_from_secs(vmdl_rtc_time(r, now), &d);
    int64_t y = (d.year % 10000 + 10000) % 10000;   /* two BCD bytes: 0-9999 */
    r->cmos[VMDL_RTC_SEC] = enc(r, d.sec);
    r->cmos[VMDL_RTC_MIN] = enc(r, d.min);
    r->cmos[VMDL_RTC_HOUR] = enc_hour(r, d.hour);
    r->cmos[VMDL_RTC_WDAY] = enc(r, d.wday + 1);        /* Sunday = 1 */
    r->cmos[VMDL_RTC_MDAY] = enc(r, d.mday);
    r->cmos[VMDL_RTC_MONTH] = enc(r, d.mon);
    r->cmos[VMDL_RTC_YEAR] = enc(r, (int)(y % 100));
    r->cmos[VMDL_RTC_CENTURY] = enc(r, (int)(y / 100));
}

/* Start the clock from its bytes, keeping the divider's phase. */
static void start(struct vmdl_rtc *r, uint64_t now)
{
    r->secs = secs_from_bytes(r) - since_t0(r, now) / NS;
}

/* ---- alarm ---- */

/* The alarm byte for one field: -1 any value (0xC0-0xFF), the value it
 * matches, or -2 none (no value shows that byte in this mode). */
static int alarm_field(const struct vmdl_rtc *r, unsigned idx, int limit)
{
    uint8_t b = reg(r, idx);
    if ((b & VMDL_RTC_ALARM_DONT_CARE) == VMDL_RTC_ALARM_DONT_CARE)
        return -1;
    for (int v = 0; v < limit; v++)
        if ((idx == VMDL_RTC_HOUR_ALARM ? enc_hour(r, v) : enc(r, v)) == b)
            return v;
    return -2;
}

static bool field_ok(int want, int v)
{
    return want == -1 || want == v;
}

/* The first time of day at or after `from` that the alarm matches, -1. */
static int64_t alarm_tod(const int want[3], int64_t from)
{
    for (int h = 0; h < 24; h++) {
        if (!field_ok(want[0], h) || (h + 1) * 3600ll <= from)
            continue;
        for (int m = 0; m < 60; m++) {
            int64_t base = h * 3600ll + m * 60;
            if (!field_ok(want[1], m) || base + 60 <= from)
                continue;
            for (int s = 0; s < 60; s++)
                if (field_ok(want[2], s) && base + s >= from)
                    return base + s;
        }
    }
    return -1;
}

/* The first second after `cur` whose time matches the alarm registers
 * (compared as the bytes the clock shows), INT64_MAX if none can. */
static int64_t next_match(const struct vmdl_rtc *r, int64_t cur)
{
    int want[3] = { alarm_field(r, VMDL_RTC_HOUR_ALARM, 24),
                    alarm_field(r, VMDL_RTC_MIN_ALARM, 60),
                    alarm_field(r, VMDL_RTC_SEC_ALARM, 60) };
    if (want[0] == -2 || want[1] == -2 || want[2] == -2)
        return INT64_MAX;
    int64_t start_s = cur + 1, day = floor_div(start_s, DAY);
    int64_t tod = alarm_tod(want, start_s - day * DAY);
    if (tod < 0)
        return (day + 1) * DAY + alarm_tod(want, 0);
    return day * DAY + tod;
}

/* ---- flags ---- */

static int64_t ticks(const struct vmdl_rtc *r, uint64_t now)
{
    int64_t d = since_t0(r, now);
    return d / NS * TICK_HZ + d % NS * TICK_HZ / NS;
}

/* The periodic rate in 32.768 kHz ticks (RS 1 and 2 as 8 and 9), 0: off. */
static int64_t period(const struct vmdl_rtc *r)
{
    unsigned rs = reg(r, VMDL_RTC_REG_A) & 0x0F;
    if (!rs || divider_reset(r))
        return 0;
    return 1ll << ((rs <= 2 ? rs + 7 : rs) - 1);
}

static void update_irq(struct vmdl_rtc *r)
{
    r->irq = (reg(r, VMDL_RTC_REG_C) & reg(r, VMDL_RTC_REG_B) & FLAGS) != 0;
}

/* PF for every periodic edge, UF for every update, AF for an update to
 * a matching time, between the last look and now. */
static void sync(struct vmdl_rtc *r, uint64_t now)
{
    if (now <= r->synced)
        return;
    uint8_t f = 0;
    int64_t p = period(r);
    if (p && ticks(r, now) / p > ticks(r, r->synced) / p)
        f |= VMDL_RTC_C_PF;
    if (running(r)) {
        int64_t a = r->secs + since_t0(r, r->synced) / NS;
        int64_t b = r->secs + since_t0(r, now) / NS;
        if (b > a) {
            f |= VMDL_RTC_C_UF;
            if (next_match(r, a) <= b)
                f |= VMDL_RTC_C_AF;
        }
    }
    r->cmos[VMDL_RTC_REG_C] |= f;
    r->synced = now;
    update_irq(r);
}

void vmdl_rtc_advance(struct vmdl_rtc *r, uint64_t now)
{
    sync(r, now);
}

bool vmdl_rtc_irq(const struct vmdl_rtc *r)
{
    return r->irq;
}

/* When the clock (running) reaches second `s`, UINT64_MAX past 2^62 ns. */
static uint64_t time_of_second(const struct vmdl_rtc *r, int64_t s)
{
    if (s == INT64_MAX)
        return UINT64_MAX;
    int64_t k = s - r->secs;
    if (k > ((1ll << 62) - r->t0) / NS)
        return UINT64_MAX;
    return (uint64_t)(r->t0 + k * NS);
}

uint64_t vmdl_rtc_next_alarm(struct vmdl_rtc *r, uint64_t now)
{
    sync(r, now);
    if (!running(r) || !(reg(r, VMDL_RTC_REG_B) & VMDL_RTC_B_AIE))
        return UINT64_MAX;
    return time_of_second(r, next_match(r, vmdl_rtc_time(r, now)));
}

static uint64_t next_edge(const struct vmdl_rtc *r, int64_t p, uint64_t now)
{
    int64_t t = (ticks(r, now) / p + 1) * p;
    int64_t at = r->t0 + t / TICK_HZ * NS + (t % TICK_HZ * NS + TICK_HZ - 1) / TICK_HZ;
    return at > (1ll << 62) ? UINT64_MAX : (uint64_t)at;
}

uint64_t vmdl_rtc_next_irq(struct vmdl_rtc *r, uint64_t now)
{
    sync(r, now);
    if (r->irq)
        return UINT64_MAX;                 /* it rises again after a read of C */
    uint8_t b = reg(r, VMDL_RTC_REG_B);
    uint64_t best = UINT64_MAX;
    int64_t p = period(r);
    if ((b & VMDL_RTC_B_PIE) && p)
        best = next_edge(r, p, now);
    if ((b & VMDL_RTC_B_UIE) && running(r)) {
        uint64_t u = time_of_second(r, vmdl_rtc_time(r, now) + 1);
        best = u < best ? u : best;
    }
    if (b & VMDL_RTC_B_AIE) {
        uint64_t a = vmdl_rtc_next_alarm(r, now);
        best = a < best ? a : best;
    }
    return best;
}

/* ---- ports ---- */

static bool is_time_byte(unsigned i)
{
    return (i <= VMDL_RTC_YEAR && !(i & 1 && i < VMDL_RTC_WDAY)) || i == VMDL_RTC_CENTURY;
}

/* Register A or B: a change that stops the clock leaves its time in the
 * bytes; one that starts it takes the time from them. */
static void write_control(struct vmdl_rtc *r, unsigned idx, uint8_t v, uint64_t now)
{
    bool was = running(r), was_reset = divider_reset(r);
    if (was)
        materialize(r, now);
    if (idx == VMDL_RTC_REG_A) {
        r->cmos[idx] = v & 0x7F;                /* UIP is read-only */
    } else {
        if (v & VMDL_RTC_B_SET)
            v &= (uint8_t)~VMDL_RTC_B_UIE;      /* SET clears UIE (data sheet) */
        r->cmos[idx] = v;
    }
    /* Leaving the divider reset puts the first update 500 ms later (data
     * sheet); SET keeps the phase.  A running clock that stays running
     * (DM or 24/12 changed) keeps its time: the bytes follow the mode. */
    if (was_reset && !divider_reset(r))
        r->t0 = ns_of(now) - HALF_SECOND;
    if (!was && running(r))
        start(r, now);
    update_irq(r);
}

static uint8_t read_data(struct vmdl_rtc *r, uint64_t now)
{
    unsigned i = r->index;
    switch (i) {
    case VMDL_RTC_REG_A: {
        uint8_t a = reg(r, i);
        if (running(r) && since_t0(r, now) % NS >= NS - VMDL_RTC_UIP_NS)
            a |= VMDL_RTC_A_UIP;
        return a;
    }
    case VMDL_RTC_REG_C: {
        uint8_t c = reg(r, i) | (r->irq ? VMDL_RTC_C_IRQF : 0);
        r->cmos[i] = 0;
        r->irq = false;
        return c;
    }
    case VMDL_RTC_REG_D:
        return VMDL_RTC_D_VRT;
    default:
        if (is_time_byte(i) && running(r))
            materialize(r, now);
        return reg(r, i);
    }
}

static void write_data(struct vmdl_rtc *r, uint8_t v, uint64_t now)
{
    unsigned i = r->index;
    if (i == VMDL_RTC_REG_A || i == VMDL_RTC_REG_B) {
        write_control(r, i, v, now);
    } else if (is_time_byte(i) && running(r)) {
        materialize(r, now);
        r->cmos[i] = v;
        start(r, now);                     /* the written time, same phase */
    } else if (i != VMDL_RTC_REG_C && i != VMDL_RTC_REG_D) {
        r->cmos[i] = v;                    /* alarms, stopped time, NVRAM */
    }
}

uint8_t vmdl_rtc_read(struct vmdl_rtc *r, uint16_t port, uint64_t now)
{
    if (port != VMDL_RTC_PORT_DATA)
        return 0xFF;                       /* the index port is write-only */
    sync(r, now);
    return read_data(r, now);
}

void vmdl_rtc_write(struct vmdl_rtc *r, uint16_t port, uint8_t value, uint64_t now)
{
    if (port == VMDL_RTC_PORT) {
        r->index = value & 0x7F;
        r->nmi_masked = value & 0x80;
    } else if (port == VMDL_RTC_PORT_DATA) {
        sync(r, now);
        write_data(r, value, now);
    }
}

/* ---- life cycle ---- */

void vmdl_rtc_init(struct vmdl_rtc *r, int64_t base, uint64_t now)
{
    memset(r, 0, sizeof(*r));
    r->cmos[VMDL_RTC_REG_A] = 0x26;        /* 32.768 kHz, 1024 Hz rate */
    r->cmos[VMDL_RTC_REG_B] = VMDL_RTC_B_24H;
    r->cmos[VMDL_RTC_REG_D] = VMDL_RTC_D_VRT;
    r->t0 = ns_of(now);
    r->secs = base < TIME_MIN ? TIME_MIN : base > TIME_MAX ? TIME_MAX : base;
    r->synced = now;
    materialize(r, now);
}

void vmdl_rtc_reset(struct vmdl_rtc *r, uint64_t now)
{
    sync(r, now);
    r->cmos[VMDL_RTC_REG_B] &= (uint8_t)~(VMDL_RTC_B_PIE | VMDL_RTC_B_AIE | VMDL_RTC_B_SQWE);
    r->cmos[VMDL_RTC_REG_C] = 0;
    r->irq = false;
}

int vmdl_rtc_set_nvram(struct vmdl_rtc *r, unsigned index, uint8_t value)
{
    if (!r || index < 0x0E || index >= VMDL_RTC_NVRAM || index == VMDL_RTC_CENTURY)
        return vmdl_fail(VMDL_EINVAL, "vmdl_rtc_set_nvram: index 0x%x is not NVRAM "
                         "(0x0E-0x7F without the century byte 0x32)", index);
    r->cmos[index] = value;
    return VMDL_OK;
}

static void put16(struct vmdl_rtc *r, unsigned at, uint64_t v)
{
    r->cmos[at] = (uint8_t)v;
    r->cmos[at + 1] = (uint8_t)(v >> 8);
}

void vmdl_rtc_pc_nvram(struct vmdl_rtc *r, uint64_t below_4g, uint64_t above_4g,
                       unsigned cpus)
{
    const uint64_t kib = 1024, mib = kib * kib;
    uint64_t base = below_4g / kib < 640 ? below_4g / kib : 640;
    uint64_t ext = below_4g > mib ? (below_4g - mib) / kib : 0;
    uint64_t hi = below_4g > 16 * mib ? (below_4g - 16 * mib) / (64 * kib) : 0;
    uint64_t top = above_4g / (64 * kib);
    ext = ext > 0xFFFF ? 0xFFFF : ext;
    hi = hi > 0xFFFF ? 0xFFFF : hi;
    put16(r, 0x15, base);
    put16(r, 0x17, ext);
    put16(r, 0x30, ext);
    put16(r, 0x34, hi);
    put16(r, 0x5B, top);
    r->cmos[0x5D] = (uint8_t)(top >> 16);
    r->cmos[0x5F] = (uint8_t)(cpus ? cpus - 1 : 0);
    r->cmos[0x14] = 0x06;                  /* FPU, PS/2 mouse; no floppy */
    r->cmos[0x3D] = 0x12;                  /* boot order "cad": disk, floppy */
    r->cmos[0x38] = 0x30;                  /* then CD-ROM; floppy check on */
}

/* ---- the start date option ---- */

static bool digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

int vmdl_rtc_parse_time(const char *s, int64_t *secs)
{
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
    if (!s || !secs)
        return vmdl_fail(VMDL_EINVAL, "vmdl_rtc_parse_time: NULL argument");
    size_t n = strlen(s);
    bool ok = (n == 10 || n == 19) && digits(s, 4, &y) && s[4] == '-' &&
              digits(s + 5, 2, &mo) && s[7] == '-' && digits(s + 8, 2, &d);
    if (ok && n == 19)
        ok = (s[10] == 'T' || s[10] == ' ') && digits(s + 11, 2, &h) && s[13] == ':' &&
             digits(s + 14, 2, &mi) && s[16] == ':' && digits(s + 17, 2, &se);
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (!ok || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
        (mo == 2 && d == 29 && !leap) || h > 23 || mi > 59 || se > 59)
        return vmdl_fail(VMDL_EINVAL, "RTC start '%s': want YYYY-MM-DD[THH:MM:SS] "
                         "(UTC, years 0000-9999)", s);
    *secs = days_from_date(y, mo, d) * DAY + h * 3600ll + mi * 60ll + se;
    return VMDL_OK;
}

/* ---- checkpoint image ---- */

#define BLOB_MAGIC 0x43545256u             /* "VRTC" */
#define BLOB_VERSION 1u
#define BLOB_LEN (8 + VMDL_RTC_NVRAM + 2 + 24 + 1)

static void put64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

int vmdl_rtc_export(const struct vmdl_rtc *r, uint8_t **blob, size_t *len)
{
    if (!r || !blob || !len)
        return vmdl_fail(VMDL_EINVAL, "vmdl_rtc_export: NULL argument");
    uint8_t *b = malloc(BLOB_LEN);
    if (!b)
        return vmdl_fail(VMDL_ENOMEM, "vmdl_rtc_export: out of memory");
    const uint32_t hdr[2] = { BLOB_MAGIC, BLOB_VERSION };
    memcpy(b, hdr, 8);
    memcpy(b + 8, r->cmos, VMDL_RTC_NVRAM);
    uint8_t *p = b + 8 + VMDL_RTC_NVRAM;
    p[0] = r->index;
    p[1] = r->nmi_masked;
    put64(p + 2, (uint64_t)r->t0);
    put64(p + 10, (uint64_t)r->secs);
    put64(p + 18, r->synced);
    p[26] = r->irq;
    *blob = b;
    *len = BLOB_LEN;
    return VMDL_OK;
}

int vmdl_rtc_import(struct vmdl_rtc *r, const uint8_t *blob, size_t len)
{
    if (!r || !blob)
        return vmdl_fail(VMDL_EINVAL, "vmdl_rtc_import: NULL argument");
    if (len != BLOB_LEN)
        return vmdl_fail(VMDL_EINVAL, "vmdl_rtc_import: %zu bytes, want %u", len,
                         (unsigned)BLOB_LEN);
    uint32_t hdr[2];
    memcpy(hdr, blob, 8);
    struct vmdl_rtc n;
    memcpy(n.cmos, blob + 8, VMDL_RTC_NVRAM);
    const uint8_t *p = blob + 8 + VMDL_RTC_NVRAM;
    n.index = p[0];
    n.nmi_masked = p[1] != 0;
    n.t0 = (int64_t)get64(p + 2);
    n.secs = (int64_t)get64(p + 10);
    n.synced = get64(p + 18);
    n.irq = p[26] != 0;
    /* What the model can reach: UIP and IRQF are never stored, D is VRT,
     * the divider's origin lies at most 500 ms before time 0 and not after
     * the synced time, the clock within SECS_BOUND. */
    bool ok = hdr[0] == BLOB_MAGIC && hdr[1] == BLOB_VERSION && n.index < VMDL_RTC_NVRAM &&
              p[1] <= 1 && p[26] <= 1 && !(n.cmos[VMDL_RTC_REG_A] & VMDL_RTC_A_UIP) &&
              !(n.cmos[VMDL_RTC_REG_C] & (uint8_t)~FLAGS) &&
              n.cmos[VMDL_RTC_REG_D] == VMDL_RTC_D_VRT && n.synced <= (1ull << 62) &&
              n.t0 >= -HALF_SECOND && n.t0 <= ns_of(n.synced) &&
              n.secs >= -SECS_BOUND && n.secs <= SECS_BOUND;
    if (!ok)
        return vmdl_fail(VMDL_EINVAL, "vmdl_rtc_import: not a valid RTC image");
    bool irq = n.irq;
    update_irq(&n);
    if (irq != n.irq)
        return vmdl_fail(VMDL_EINVAL, "vmdl_rtc_import: IRQ 8 disagrees with B and C");
    *r = n;
    return VMDL_OK;
}
