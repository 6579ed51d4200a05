/* SPDX-License-Identifier: MIT */
/*
 * PC platform pieces: the ACPI tables (RSDP, RSDT, XSDT, FADT, FACS, DSDT,
 * MADT with the I/O APIC and QEMU's overrides) found the way a guest finds
 * them, the ACPI PM timer on virtual time, the 16550 UART's registers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "virtmodel/pc_acpi.h"
#include "virtmodel/error.h"
#include "virtmodel/lapic_madt.h"
#include "virtmodel/pc_uart.h"

#define BASE 0xE0000u

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
    return le32(p) | (uint64_t)le32(p + 4) << 32;
}

static uint8_t sum(const uint8_t *p, size_t n)
{
    uint8_t s = 0;
    for (size_t i = 0; i < n; i++)
        s = (uint8_t)(s + p[i]);
    return s;
}

/* The MADT as the machine builds it for a PC (x86/pc.c): CPUs, the I/O
 * APIC and QEMU pc's overrides when `ioapic`, LINT1 = NMI. */
static uint8_t *build(unsigned cpus, uint32_t ioapic, size_t *len)
{
    static const struct vmdl_madt_iso isos[] = {
        {0, 2, 0}, {5, 5, 0xD}, {9, 9, 0xD}, {10, 10, 0xD}, {11, 11, 0xD},
    };
    struct vmdl_madt_cpu c[8];
    for (unsigned i = 0; i < cpus; i++)
        c[i] = (struct vmdl_madt_cpu){i, i, true, false};
    struct vmdl_madt_ioapic io = {0, ioapic, 0};
    struct vmdl_madt_config m = {.cpus = c, .nr_cpus = cpus, .lint1_nmi = true,
                                 .ioapics = ioapic ? &io : NULL, .nr_ioapics = ioapic ? 1 : 0,
                                 .isos = ioapic ? isos : NULL, .nr_isos = ioapic ? 5 : 0};
    uint8_t *madt, *b = NULL;
    size_t mlen;
    assert_int_equal(vmdl_madt_build(&m, &madt, &mlen), 0);
    struct vmdl_acpi_pc_config cfg = {.base = BASE, .madt = madt, .madt_len = mlen};
    assert_int_equal(vmdl_acpi_build_pc(&cfg, &b, len), 0);
    free(madt);
    return b;
}

/* A guest address inside the blob. */
static const uint8_t *at(const uint8_t *b, size_t len, uint64_t gpa)
{
    assert_true(gpa >= BASE && gpa < BASE + len);
    return b + (gpa - BASE);
}

/* kvm-unit-tests' lib/acpi.c: RSDP on a 16-byte boundary, revision >= 2
 * means the XSDT, whose entries find the FADT ("FACP") and the MADT. */
static void test_rsdp_and_tables_found_as_a_guest_does(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = build(2, 0xFEC00000u, &len);
    assert_memory_equal(b, "RSD PTR ", 8);
    assert_int_equal(sum(b, 20), 0);
    assert_int_equal(sum(b, 36), 0);
    assert_int_equal(b[15], 2);
    assert_int_equal(le32(b + 20), 36);
    const uint8_t *rsdt = at(b, len, le32(b + 16));
    const uint8_t *xsdt = at(b, len, le64(b + 24));
    assert_int_equal(vmdl_acpi_check(rsdt, len, "RSDT"), 0);
    assert_int_equal(vmdl_acpi_check(xsdt, len, "XSDT"), 0);
    assert_int_equal(le32(rsdt + 4), 36 + 8);
    assert_int_equal(le32(xsdt + 4), 36 + 16);
    const uint8_t *fadt = at(b, len, le64(xsdt + 36));
    const uint8_t *madt = at(b, len, le64(xsdt + 44));
    assert_int_equal(le32(rsdt + 36), le64(xsdt + 36));
    assert_int_equal(le32(rsdt + 40), le64(xsdt + 44));
    assert_int_equal(vmdl_acpi_check(fadt, len, "FACP"), 0);
    assert_int_equal(le32(fadt + 4), VMDL_ACPI_FADT_LEN);
    assert_int_equal(fadt[8], 3);
    assert_int_equal(vmdl_madt_check(madt, len - (size_t)(madt - b)), 0);
    free(b);
}

static void test_fadt_pm_blocks_and_facs(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = build(1, 0xFEC00000u, &len);
    const uint8_t *f = b + VMDL_ACPI_OFF_FADT;
    assert_int_equal(le32(f + 76), 0x608);           /* PM_TMR_BLK */
    assert_int_equal(f[91], 4);                      /* PM_TMR_LEN */
    assert_int_equal(le32(f + 56), 0x600);           /* PM1a_EVT_BLK */
    assert_int_equal(le32(f + 64), 0x604);           /* PM1a_CNT_BLK */
    assert_int_equal(f[46] | f[47] << 8, 9);         /* SCI_INT */
    assert_int_equal(le32(f + 48), 0);               /* no SMI_CMD */
    assert_int_equal(le32(f + 112) & (1u << 8), 0);  /* 24-bit timer */
    assert_int_equal(f[208], 1);                     /* X_PM_TMR_BLK: I/O */
    assert_int_equal(le64(f + 212), 0x608);
    const uint8_t *facs = at(b, len, le32(f + 36));
    assert_memory_equal(facs, "FACS", 4);
    assert_int_equal(le32(facs + 4), 64);
    assert_int_equal((le32(f + 36)) & 63, 0);        /* 64-byte aligned */
    const uint8_t *dsdt = at(b, len, le32(f + 40));
    assert_int_equal(vmdl_acpi_check(dsdt, len, "DSDT"), 0);
    assert_int_equal(le64(f + 140), le32(f + 40));   /* X_DSDT */
    free(b);
}

/* The DSDT declares the sleep types the PM1a control register acts on:
 * \_S3 = 1 (suspend), \_S5 = 0 (power off), as QEMU's PIIX4 DSDT. */
static void test_dsdt_sleep_packages(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = build(1, 0xFEC00000u, &len);
    const uint8_t *d = b + VMDL_ACPI_OFF_DSDT;
    uint32_t n = le32(d + 4);
    assert_true(n > 36 && VMDL_ACPI_OFF_DSDT + n <= VMDL_ACPI_OFF_MADT);
    static const uint8_t s3[] = {0x08, '_', 'S', '3', '_', 0x12, 0x06, 0x04, 0x01, 0x01};
    static const uint8_t s5[] = {0x08, '_', 'S', '5', '_', 0x12, 0x06, 0x04, 0x00, 0x00};
    bool f3 = false, f5 = false;
    for (uint32_t i = 36; i + sizeof(s3) <= n; i++) {
        f3 |= !memcmp(d + i, s3, sizeof(s3));
        f5 |= !memcmp(d + i, s5, sizeof(s5));
    }
    assert_true(f3 && f5);
    assert_int_equal(VMDL_ACPI_SLP_TYP_S3, 1);
    assert_int_equal(VMDL_ACPI_SLP_TYP_S5, 0);
    free(b);
}

/* PM1 status: write-1-to-clear, each bit alone; a wake sets WAK_STS and
 * its source's bit after resetting the rest, as QEMU's wakeup. */
static void test_pm1_status_write_one_to_clear(void **state)
{
    (void)state;
    struct vmdl_acpi_pm pm;
    vmdl_acpi_pm_reset(&pm, 0);
    assert_int_equal(vmdl_acpi_pm_read(&pm, 0, 2, 0), 0);
    vmdl_acpi_pm_write(&pm, 2, 2, 0x0521, 0);              /* enables */
    vmdl_acpi_pm_write(&pm, 4, 2, 0x0400, 0);              /* SLP_TYP 1, no SLP_EN */
    vmdl_acpi_pm_wake(&pm, VMDL_ACPI_PM1_RTC_STS, 0);
    assert_int_equal(vmdl_acpi_pm_read(&pm, 0, 2, 0), 0x8400);
    assert_int_equal(vmdl_acpi_pm_read(&pm, 2, 2, 0), 0);   /* reset by the wake */
    assert_int_equal(vmdl_acpi_pm_read(&pm, 4, 2, 0), 1);   /* SCI_EN */
    assert_int_equal(vmdl_acpi_pm_read(&pm, 0, 4, 0), 0x8400);
    vmdl_acpi_pm_write(&pm, 0, 2, 0x0000, 0);              /* zeros clear nothing */
    assert_int_equal(vmdl_acpi_pm_read(&pm, 0, 2, 0), 0x8400);
    vmdl_acpi_pm_write(&pm, 0, 2, 0x0400, 0);
    assert_int_equal(vmdl_acpi_pm_read(&pm, 0, 2, 0), 0x8000);
    vmdl_acpi_pm_write(&pm, 1, 1, 0x80, 0);                /* byte write */
    assert_int_equal(vmdl_acpi_pm_read(&pm, 0, 2, 0), 0);
    /* a 4-byte write reaches status and enable */
    vmdl_acpi_pm_wake(&pm, VMDL_ACPI_PM1_RTC_STS, 0);
    vmdl_acpi_pm_write(&pm, 0, 4, 0x04008400, 0);
    assert_int_equal(vmdl_acpi_pm_read(&pm, 0, 4, 0), 0x04000000);
    vmdl_acpi_pm_write(&pm, 3, 1, 0x00, 0);
    assert_int_equal(vmdl_acpi_pm_read(&pm, 2, 2, 0), 0);
}

/* TMR_STS: set when bit 23 of the timer changes (every 2^23 ticks at
 * 3.579545 MHz, 2.3435 s), cleared by writing 1, then set again. */
static void test_pm1_timer_status(void **state)
{
    (void)state;
    struct vmdl_acpi_pm pm;
    vmdl_acpi_pm_reset(&pm, 0);
    const uint64_t flip = 2343485000ull;   /* just past 2^23 / 3579545 s */
    assert_int_equal(vmdl_acpi_pm_read(&pm, 0, 2, flip - 1000000) & 1, 0);
    assert_int_equal(vmdl_acpi_pm_read(&pm, 0, 2, flip) & 1, 1);
    vmdl_acpi_pm_write(&pm, 0, 2, 0x0001, flip);
    assert_int_equal(vmdl_acpi_pm_read(&pm, 0, 2, flip) & 1, 0);
    assert_int_equal(vmdl_acpi_pm_read(&pm, 0, 2, 2 * flip - 1000000) & 1, 0);
    assert_int_equal(vmdl_acpi_pm_read(&pm, 0, 2, 2 * flip) & 1, 1);
    /* the timer itself through the block */
    assert_int_equal(vmdl_acpi_pm_read(&pm, 8, 4, 1000000000ull), 3579545);
    vmdl_acpi_pm_write(&pm, 8, 4, 0, 0);                   /* read-only */
}

/* PM1a_CNT: SLP_EN is write-only and acts on SLP_TYP: \_S3's 1 suspends,
 * \_S5's 0 and QEMU's S4 value 2 power off, others do nothing. */
static void test_pm1_control_sleep_types(void **state)
{
    (void)state;
    struct vmdl_acpi_pm pm;
    vmdl_acpi_pm_reset(&pm, 0);
    assert_int_equal(vmdl_acpi_pm_write(&pm, 4, 2, 0x2400, 0), VMDL_ACPI_PM_SUSPEND);
    assert_int_equal(vmdl_acpi_pm_read(&pm, 4, 2, 0), 0x0401);   /* SLP_EN not kept */
    assert_int_equal(vmdl_acpi_pm_write(&pm, 4, 2, 0x2000, 0), VMDL_ACPI_PM_POWER_OFF);
    assert_int_equal(vmdl_acpi_pm_write(&pm, 4, 2, 0x2800, 0), VMDL_ACPI_PM_POWER_OFF);
    for (unsigned typ = 3; typ < 8; typ++)
        assert_int_equal(vmdl_acpi_pm_write(&pm, 4, 2, 0x2000 | typ << 10, 0),
                         VMDL_ACPI_PM_NONE);
    assert_int_equal(vmdl_acpi_pm_write(&pm, 4, 2, 0x0400, 0), VMDL_ACPI_PM_NONE);
    assert_int_equal(vmdl_acpi_pm_write(&pm, 5, 1, 0x24, 0), VMDL_ACPI_PM_SUSPEND);
    assert_int_equal(vmdl_acpi_pm_write(&pm, 0, 2, 0x2400, 0), VMDL_ACPI_PM_NONE);
    assert_int_equal(vmdl_acpi_pm_write(&pm, 6, 2, 0x2400, 0), VMDL_ACPI_PM_NONE);
}

static void test_madt_has_cpus_ioapic_overrides(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = build(4, 0xFEC00000u, &len);
    const uint8_t *m = b + VMDL_ACPI_OFF_MADT;
    size_t mlen = le32(m + 4);
    unsigned cpus = 0, ioapics = 0, isos = 0, nmis = 0;
    bool irq0_on_gsi2 = false;
    for (size_t p = 44; p < mlen; p += m[p + 1]) {
        switch (m[p]) {
        case VMDL_MADT_TYPE_LAPIC: assert_int_equal(m[p + 3], cpus); cpus++; break;
        case VMDL_MADT_TYPE_IOAPIC:
            ioapics++;
            assert_int_equal(le32(m + p + 4), 0xFEC00000u);
            break;
        case VMDL_MADT_TYPE_ISO:
            isos++;
            if (m[p + 3] == 0 && le32(m + p + 4) == 2)
                irq0_on_gsi2 = true;
            break;
        case VMDL_MADT_TYPE_LAPIC_NMI: nmis++; break;
        default: fail();
        }
    }
    assert_int_equal(cpus, 4);
    assert_int_equal(ioapics, 1);
    assert_int_equal(isos, 5);
    assert_int_equal(nmis, 1);
    assert_true(irq0_on_gsi2);
    free(b);
    /* without an I/O APIC: no I/O APIC entry and no overrides */
    b = build(1, 0, &len);
    m = b + VMDL_ACPI_OFF_MADT;
    assert_int_equal(le32(m + 4), 44 + 8 + 6);
    free(b);
}

static void test_acpi_errors(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = build(1, 0, &len);
    const uint8_t *madt = b + VMDL_ACPI_OFF_MADT;
    size_t mlen = len - VMDL_ACPI_OFF_MADT;
    uint8_t *o;
    size_t olen;
    struct vmdl_acpi_pc_config c = {.base = BASE + 16, .madt = madt, .madt_len = mlen};
    assert_int_equal(vmdl_acpi_build_pc(&c, &o, &olen), VMDL_EINVAL);   /* alignment */
    c.base = 0xFFFFF000u;
    assert_int_equal(vmdl_acpi_build_pc(&c, &o, &olen), VMDL_EINVAL);
    c.base = BASE;
    c.madt = NULL;
    assert_int_equal(vmdl_acpi_build_pc(&c, &o, &olen), VMDL_EINVAL);
    c.madt = madt;
    c.madt_len = mlen - 1;           /* length field disagrees */
    assert_int_equal(vmdl_acpi_build_pc(&c, &o, &olen), VMDL_EINVAL);
    c.madt_len = mlen;
    c.madt = b + VMDL_ACPI_OFF_DSDT; /* not an MADT */
    assert_int_equal(vmdl_acpi_build_pc(&c, &o, &olen), VMDL_EINVAL);
    assert_int_equal(vmdl_acpi_build_pc(NULL, &o, &olen), VMDL_EINVAL);
    b[VMDL_ACPI_OFF_FADT + 50] ^= 1;
    assert_int_equal(vmdl_acpi_check(b + VMDL_ACPI_OFF_FADT, len - VMDL_ACPI_OFF_FADT,
                                     "FACP"), VMDL_EFORMAT);
    assert_int_equal(vmdl_acpi_check(b + VMDL_ACPI_OFF_FADT, 20, "FACP"), VMDL_EFORMAT);
    assert_int_equal(vmdl_acpi_check(b + VMDL_ACPI_OFF_DSDT, len, "FACP"), VMDL_EFORMAT);
    free(b);
}

/* The DMAR of QEMU's q35 intel-iommu (VT-d spec chapter 8) and its place
 * after the MADT, listed third in the RSDT and XSDT. */
static void test_dmar(void **state)
{
    (void)state;
    struct vmdl_acpi_dmar d = {.base = 0xFED90000, .haw = 39, .intremap = true,
                               .x2apic_opt_out = true, .ioapic_id = 0, .ioapic_sid = 0xFF00};
    uint8_t *t;
    size_t tlen;
    assert_int_equal(vmdl_acpi_build_dmar(&d, &t, &tlen), 0);
    assert_int_equal(tlen, VMDL_ACPI_DMAR_LEN);
    assert_int_equal(vmdl_acpi_check(t, tlen, "DMAR"), 0);
    assert_int_equal(t[36], 38);                     /* HAW - 1 */
    assert_int_equal(t[37], 3);                      /* INTR_REMAP, X2APIC_OPT_OUT */
    const uint8_t *h = t + 48;                       /* DRHD */
    assert_int_equal(h[0] | h[1] << 8, 0);
    assert_int_equal(h[2] | h[3] << 8, 24);
    assert_int_equal(h[4], 1);                       /* INCLUDE_PCI_ALL */
    assert_true(le64(h + 8) == 0xFED90000ull);
    const uint8_t *sc = h + 16;                      /* I/O APIC scope */
    assert_int_equal(sc[0], 3);
    assert_int_equal(sc[1], 8);
    assert_int_equal(sc[5], 0xFF);
    assert_int_equal(sc[6], 0);
    assert_int_equal(sc[7], 0);
    size_t len;
    uint8_t *b = build(2, 0xFEC00000u, &len);
    const uint8_t *madt = b + VMDL_ACPI_OFF_MADT;
    size_t mlen = len - VMDL_ACPI_OFF_MADT;
    uint8_t *o;
    size_t olen;
    struct vmdl_acpi_pc_config c = {.base = BASE, .madt = madt, .madt_len = mlen,
                                    .extra = t, .extra_len = tlen};
    assert_int_equal(vmdl_acpi_build_pc(&c, &o, &olen), 0);
    const uint8_t *rsdt = o + VMDL_ACPI_OFF_RSDT, *xsdt = o + VMDL_ACPI_OFF_XSDT;
    assert_int_equal(vmdl_acpi_check(rsdt, olen, "RSDT"), 0);
    assert_int_equal(vmdl_acpi_check(xsdt, olen, "XSDT"), 0);
    assert_int_equal(le32(rsdt + 4), 36 + 12);
    assert_int_equal(le32(xsdt + 4), 36 + 24);
    uint32_t at_r = le32(rsdt + 36 + 8);
    assert_true(le64(xsdt + 36 + 16) == at_r);
    assert_int_equal(at_r % 8, 0);
    assert_true(at_r >= BASE + VMDL_ACPI_OFF_MADT + mlen);
    assert_int_equal(vmdl_acpi_check(at(o, olen, at_r), olen - (at_r - BASE), "DMAR"), 0);
    free(o);
    /* refused: a broken extra table, bad DMAR parameters */
    t[40] ^= 1;
    assert_int_equal(vmdl_acpi_build_pc(&c, &o, &olen), VMDL_EINVAL);
    c.extra_len = 20;
    assert_int_equal(vmdl_acpi_build_pc(&c, &o, &olen), VMDL_EINVAL);
    d.haw = 20;
    assert_int_equal(vmdl_acpi_build_dmar(&d, &o, &olen), VMDL_EINVAL);
    d.haw = 39;
    d.base = 0xFED90010;
    assert_int_equal(vmdl_acpi_build_dmar(&d, &o, &olen), VMDL_EINVAL);
    assert_int_equal(vmdl_acpi_build_dmar(NULL, &o, &olen), VMDL_EINVAL);
    free(t);
    free(b);
}

static void test_pm_timer(void **state)
{
    (void)state;
    assert_int_equal(vmdl_acpi_pm_timer(0), 0);
    assert_int_equal(vmdl_acpi_pm_timer(1000000000ull), 3579545u);    /* one second */
    assert_int_equal(vmdl_acpi_pm_timer(1000), 3);                    /* 1 us: 3.58 */
    /* 24 bits: wraps after 2^24 ticks (4.687 s) */
    uint64_t wrap_ns = ((1ull << 24) * 1000000000ull + 3579544) / 3579545;
    assert_true(vmdl_acpi_pm_timer(wrap_ns) < 5);
    assert_true(vmdl_acpi_pm_timer(wrap_ns - 1000) > 0xFFFF00u);
    /* monotonic between wraps, no overflow at large times */
    assert_true(vmdl_acpi_pm_timer(UINT64_MAX) <= 0xFFFFFFu);
    uint32_t prev = vmdl_acpi_pm_timer(5000000000ull);
    for (uint64_t ns = 5000000000ull; ns < 5000100000ull; ns += 997) {
        uint32_t v = vmdl_acpi_pm_timer(ns);
        assert_true(v >= prev);
        prev = v;
    }
}

/* ---- 16550 ---- */

struct sink {
    uint8_t out[64];
    unsigned n;
    bool irq;
    unsigned edges;
};

static void tx(void *o, uint8_t b)
{
    struct sink *s = o;
    if (s->n < sizeof(s->out))
        s->out[s->n++] = b;
}

static void irq(void *o, bool level)
{
    struct sink *s = o;
    s->irq = level;
    s->edges++;
}

static void mk(struct vmdl_uart *u, struct sink *s)
{
    memset(s, 0, sizeof(*s));
    struct vmdl_uart_ops ops = {tx, irq, s};
    vmdl_uart_init(u, &ops);
}

static void test_uart_reset_values(void **state)
{
    (void)state;
    struct vmdl_uart u;
    struct sink s;
    mk(&u, &s);
    assert_int_equal(vmdl_uart_read(&u, 5), 0x60);   /* LSR: THRE | TEMT */
    assert_int_equal(vmdl_uart_read(&u, 2), 0x01);   /* IIR: none */
    assert_int_equal(vmdl_uart_read(&u, 1), 0);      /* IER */
    assert_int_equal(vmdl_uart_read(&u, 3), 0);      /* LCR */
    assert_int_equal(vmdl_uart_read(&u, 4), 0x08);   /* MCR: OUT2 */
    assert_int_equal(vmdl_uart_read(&u, 6), 0xB0);   /* MSR: DCD DSR CTS */
    assert_int_equal(vmdl_uart_read(&u, 7), 0);
    assert_false(s.irq);
}

static void test_uart_transmit_and_divisor(void **state)
{
    (void)state;
    struct vmdl_uart u;
    struct sink s;
    mk(&u, &s);
    vmdl_uart_write(&u, 0, 'A');
    assert_int_equal(s.n, 1);
    assert_int_equal(s.out[0], 'A');
    assert_int_equal(vmdl_uart_read(&u, 5) & 0x60, 0x60);
    /* DLAB: offsets 0 and 1 are the divisor, nothing is sent */
    vmdl_uart_write(&u, 3, 0x83);
    vmdl_uart_write(&u, 0, 0x01);
    vmdl_uart_write(&u, 1, 0x02);
    assert_int_equal(vmdl_uart_read(&u, 0), 0x01);
    assert_int_equal(vmdl_uart_read(&u, 1), 0x02);
    assert_int_equal(s.n, 1);
    vmdl_uart_write(&u, 3, 0x03);
    assert_int_equal(vmdl_uart_read(&u, 1), 0);      /* IER again */
    assert_int_equal(vmdl_uart_read(&u, 3), 0x03);
    vmdl_uart_write(&u, 7, 0x5A);
    assert_int_equal(vmdl_uart_read(&u, 7), 0x5A);
    vmdl_uart_write(&u, 5, 0);                       /* LSR read-only */
    assert_int_equal(vmdl_uart_read(&u, 5), 0x60);
}

static void test_uart_thr_empty_interrupt(void **state)
{
    (void)state;
    struct vmdl_uart u;
    struct sink s;
    mk(&u, &s);
    /* enabling THRI while THR is empty raises it at once */
    vmdl_uart_write(&u, 1, VMDL_UART_IER_THRI);
    assert_true(s.irq);
    assert_int_equal(vmdl_uart_read(&u, 2), VMDL_UART_IIR_THRI);
    /* reading IIR cleared it */
    assert_false(s.irq);
    assert_int_equal(vmdl_uart_read(&u, 2), VMDL_UART_IIR_NONE);
    /* a byte sent: THR empty again, interrupt again */
    vmdl_uart_write(&u, 0, 'x');
    assert_true(s.irq);
    vmdl_uart_write(&u, 1, 0);
    assert_false(s.irq);
}

static void test_uart_receive_fifo_and_overrun(void **state)
{
    (void)state;
    struct vmdl_uart u;
    struct sink s;
    mk(&u, &s);
    vmdl_uart_write(&u, 1, VMDL_UART_IER_RDI | VMDL_UART_IER_RLSI);
    assert_true(vmdl_uart_receive(&u, 'a'));
    assert_true(s.irq);
    assert_int_equal(vmdl_uart_read(&u, 2), VMDL_UART_IIR_RDI);
    assert_true(vmdl_uart_read(&u, 5) & VMDL_UART_LSR_DR);
    /* no FIFO: a second byte overruns */
    assert_false(vmdl_uart_receive(&u, 'b'));
    assert_int_equal(vmdl_uart_read(&u, 2), VMDL_UART_IIR_RLSI);
    assert_true(vmdl_uart_read(&u, 5) & VMDL_UART_LSR_OE);   /* read clears OE */
    assert_false(vmdl_uart_read(&u, 5) & VMDL_UART_LSR_OE);
    assert_int_equal(vmdl_uart_read(&u, 0), 'a');
    assert_false(vmdl_uart_read(&u, 5) & VMDL_UART_LSR_DR);
    assert_false(s.irq);
    /* with FIFOs: 16 bytes, IIR bits 7:6 set */
    vmdl_uart_write(&u, 2, 0x01);
    assert_int_equal(vmdl_uart_read(&u, 2), 0xC1);
    for (unsigned i = 0; i < VMDL_UART_FIFO; i++)
        assert_true(vmdl_uart_receive(&u, (uint8_t)i));
    assert_false(vmdl_uart_receive(&u, 0xEE));
    for (unsigned i = 0; i < VMDL_UART_FIFO; i++)
        assert_int_equal(vmdl_uart_read(&u, 0), i);
    /* FCR bit 1 clears the receive FIFO */
    vmdl_uart_receive(&u, 1);
    vmdl_uart_write(&u, 2, 0x03);
    assert_false(vmdl_uart_read(&u, 5) & VMDL_UART_LSR_DR);
}

static void test_uart_loopback(void **state)
{
    (void)state;
    struct vmdl_uart u;
    struct sink s;
    mk(&u, &s);
    vmdl_uart_write(&u, 4, VMDL_UART_MCR_LOOP | 0x0B);   /* DTR RTS OUT2 */
    assert_int_equal(vmdl_uart_read(&u, 6), 0xB0);       /* DCD DSR CTS */
    vmdl_uart_write(&u, 0, 0x42);
    assert_int_equal(s.n, 0);                            /* not sent out */
    assert_true(vmdl_uart_read(&u, 5) & VMDL_UART_LSR_DR);
    assert_int_equal(vmdl_uart_read(&u, 0), 0x42);
    vmdl_uart_write(&u, 4, 0xFF);
    assert_int_equal(vmdl_uart_read(&u, 4), 0x1F);       /* MCR bits 4:0 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rsdp_and_tables_found_as_a_guest_does),
        cmocka_unit_test(test_fadt_pm_blocks_and_facs),
        cmocka_unit_test(test_madt_has_cpus_ioapic_overrides),
        cmocka_unit_test(test_acpi_errors),
        cmocka_unit_test(test_dmar),
        cmocka_unit_test(test_pm_timer),
        cmocka_unit_test(test_uart_reset_values),
        cmocka_unit_test(test_uart_transmit_and_divisor),
        cmocka_unit_test(test_uart_thr_empty_interrupt),
        cmocka_unit_test(test_uart_receive_fifo_and_overrun),
        cmocka_unit_test(test_uart_loopback),
        cmocka_unit_test(test_dsdt_sleep_packages),
        cmocka_unit_test(test_pm1_status_write_one_to_clear),
        cmocka_unit_test(test_pm1_timer_status),
        cmocka_unit_test(test_pm1_control_sleep_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
