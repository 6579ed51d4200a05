/* SPDX-License-Identifier: MIT */
/* ACPI tables of a PC-like VM and the PM timer (include/virtmodel/pc_acpi.h). */
#include <stdlib.h>
#include <string.h>

#include "virtmodel/pc_acpi.h"
#include "virtmodel/error.h"

#define HEADER_LEN 36
#define FACS_LEN 64
/* The DSDT's AML: Name (_S3_, Package (4) {1, 1, 0, 0}) and Name (_S5_,
 * Package (4) {0, 0, 0, 0}), the sleep types QEMU's PIIX4 DSDT declares
 * (NameOp, NameSeg, PackageOp, PkgLength 6, NumElements 4, One/Zero). */
static const uint8_t dsdt_aml[] = {
    0x08, '_', 'S', '3', '_', 0x12, 0x06, 0x04, 0x01, 0x01, 0x00, 0x00,
    0x08, '_', 'S', '5', '_', 0x12, 0x06, 0x04, 0x00, 0x00, 0x00, 0x00,
};
#define DSDT_LEN (HEADER_LEN + sizeof(dsdt_aml))
#define MAX_TABLES 3         /* FADT, MADT and an extra one in the RSDT and XSDT */

static void put(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint8_t sum(const uint8_t *p, size_t n)
{
    uint8_t s = 0;
    for (size_t i = 0; i < n; i++)
        s = (uint8_t)(s + p[i]);
    return s;
}

/* The common header; the checksum is set once the body is written. */
static void header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
    memcpy(t, sig, 4);
    put(t + 4, len, 4);
    t[8] = rev;
    memcpy(t + 10, "VMDL  ", 6);
    memcpy(t + 16, "VIRTMODL", 8);
    put(t + 24, 1, 4);         /* OEM revision */
    memcpy(t + 28, "VMDL", 4); /* creator */
    put(t + 32, 1, 4);
}

static void seal(uint8_t *t, size_t len)
{
    t[9] = 0;
    t[9] = (uint8_t)(0x100 - sum(t, len));
}

/* Generic address structure: a system I/O port block. */
static void gas_io(uint8_t *p, uint16_t port, uint8_t bits, uint8_t access)
{
    p[0] = 1;       /* system I/O */
    p[1] = bits;
    p[2] = 0;
    p[3] = access;  /* 1 byte, 2 word, 3 dword */
    put(p + 4, port, 8);
}

static void build_rsdp(uint8_t *p, uint64_t base)
{
    memcpy(p, "RSD PTR ", 8);
    memcpy(p + 9, "VMDL  ", 6);
    p[15] = 2;                                 /* ACPI 2.0+ */
    put(p + 16, base + VMDL_ACPI_OFF_RSDT, 4);
    put(p + 20, 36, 4);
    put(p + 24, base + VMDL_ACPI_OFF_XSDT, 8);
    p[8] = (uint8_t)(0x100 - sum(p, 20));      /* ACPI 1.0 part */
    p[32] = (uint8_t)(0x100 - sum(p, 36));     /* whole structure */
}

static void build_facs(uint8_t *p)
{
    memcpy(p, "FACS", 4);
    put(p + 4, FACS_LEN, 4);
    p[32] = 1;                                 /* version (ACPI 2.0+) */
}

static void build_sdts(uint8_t *b, uint64_t base, size_t extra_off)
{
    unsigned offs[MAX_TABLES] = {VMDL_ACPI_OFF_FADT, VMDL_ACPI_OFF_MADT, (unsigned)extra_off};
    unsigned n = extra_off ? 3 : 2;
    uint8_t *r = b + VMDL_ACPI_OFF_RSDT, *x = b + VMDL_ACPI_OFF_XSDT;
    header(r, "RSDT", HEADER_LEN + 4 * n, 1);
    header(x, "XSDT", HEADER_LEN + 8 * n, 1);
    for (unsigned i = 0; i < n; i++) {
        put(r + HEADER_LEN + 4 * i, base + offs[i], 4);
        put(x + HEADER_LEN + 8 * i, base + offs[i], 8);
    }
    seal(r, HEADER_LEN + 4 * n);
    seal(x, HEADER_LEN + 8 * n);
}

/* FADT revision 3 (ACPI 2.0 layout), the fields QEMU's pc machine sets
 * that apply here: no SMI command port (no SMM: always in ACPI mode, so
 * PM1a_CNT.SCI_EN reads 1), SCI on IRQ 9, a 24-bit PM timer. */
static void build_fadt(uint8_t *f, uint64_t base, uint16_t pm)
{
    header(f, "FACP", VMDL_ACPI_FADT_LEN, 3);
    put(f + 36, base + VMDL_ACPI_OFF_FACS, 4);          /* FIRMWARE_CTRL */
    put(f + 40, base + VMDL_ACPI_OFF_DSDT, 4);          /* DSDT */
    put(f + 46, VMDL_ACPI_SCI_IRQ, 2);                  /* SCI_INT */
    put(f + 56, pm, 4);                                 /* PM1a_EVT_BLK */
    put(f + 64, pm + VMDL_ACPI_PM1_CNT_OFF, 4);         /* PM1a_CNT_BLK */
    put(f + 76, pm + VMDL_ACPI_PM_TMR_OFF, 4);          /* PM_TMR_BLK */
    f[88] = 4;                                          /* PM1_EVT_LEN */
    f[89] = 2;                                          /* PM1_CNT_LEN */
    f[91] = 4;                                          /* PM_TMR_LEN */
    put(f + 96, 0xFFF, 2);                              /* no C2 */
    put(f + 98, 0xFFF, 2);                              /* no C3 */
    f[108] = 0x32;                                      /* RTC century index */
    /* WBINVD, PROC_C1, SLP_BUTTON, RTC_S4, RESET_REG_SUP; TMR_VAL_EXT
     * (bit 8) clear: the timer is 24 bits. */
    put(f + 112, (1u << 0) | (1u << 2) | (1u << 5) | (1u << 7) | (1u << 10), 4);
    gas_io(f + 116, 0xCF9, 8, 1);                       /* RESET_REG */
    f[128] = 0x06;                                      /* RESET_VALUE */
    put(f + 140, base + VMDL_ACPI_OFF_DSDT, 8);         /* X_DSDT */
    gas_io(f + 148, pm, 32, 1);                         /* X_PM1a_EVT_BLK */
    gas_io(f + 172, pm + VMDL_ACPI_PM1_CNT_OFF, 16, 2); /* X_PM1a_CNT_BLK */
    gas_io(f + 208, pm + VMDL_ACPI_PM_TMR_OFF, 32, 3);  /* X_PM_TMR_BLK */
    seal(f, VMDL_ACPI_FADT_LEN);
}

int vmdl_acpi_build_pc(const struct vmdl_acpi_pc_config *cfg, uint8_t **out, size_t *len)
{
    if (!cfg || !out || !len)
        return vmdl_fail(VMDL_EINVAL, "vmdl_acpi_build_pc: NULL argument");
    if ((cfg->base & 63) || cfg->base >= (1ull << 32) - 0x10000)
        return vmdl_fail(VMDL_EINVAL, "vmdl_acpi_build_pc: base 0x%llx must be 64-byte "
                         "aligned and below 4 GiB", (unsigned long long)cfg->base);
    size_t mlen = cfg->madt_len;
    if (!cfg->madt || mlen < 44 || mlen > 0x10000 || vmdl_acpi_check(cfg->madt, mlen, "APIC") ||
        (cfg->madt[4] | cfg->madt[5] << 8 | cfg->madt[6] << 16 | (uint32_t)cfg->madt[7] << 24) != mlen)
        return vmdl_fail(VMDL_EINVAL, "vmdl_acpi_build_pc: the MADT is missing or not "
                         "a whole, checksummed \"APIC\" table");
    if (cfg->extra && (cfg->extra_len < HEADER_LEN || cfg->extra_len > 0x10000 ||
                       vmdl_acpi_check(cfg->extra, cfg->extra_len, (const char *)cfg->extra) ||
                       (size_t)(cfg->extra[4] | cfg->extra[5] << 8 | cfg->extra[6] << 16 |
                                (uint32_t)cfg->extra[7] << 24) != cfg->extra_len))
        return vmdl_fail(VMDL_EINVAL, "vmdl_acpi_build_pc: the extra table is not a whole, "
                         "checksummed table");
    size_t extra_off = cfg->extra ? (VMDL_ACPI_OFF_MADT + mlen + 7) & ~(size_t)7 : 0;
    size_t total = cfg->extra ? extra_off + cfg->extra_len : VMDL_ACPI_OFF_MADT + mlen;
    uint8_t *b = calloc(1, total);
    if (!b)
        return vmdl_fail(VMDL_ENOMEM, "vmdl_acpi_build_pc: out of memory");
    uint16_t pm = cfg->pm_base ? cfg->pm_base : VMDL_ACPI_PM_BASE;
    build_rsdp(b + VMDL_ACPI_OFF_RSDP, cfg->base);
    build_facs(b + VMDL_ACPI_OFF_FACS);
    build_sdts(b, cfg->base, extra_off);
    build_fadt(b + VMDL_ACPI_OFF_FADT, cfg->base, pm);
    header(b + VMDL_ACPI_OFF_DSDT, "DSDT", DSDT_LEN, 2);
    memcpy(b + VMDL_ACPI_OFF_DSDT + HEADER_LEN, dsdt_aml, sizeof(dsdt_aml));
    seal(b + VMDL_ACPI_OFF_DSDT, DSDT_LEN);
    memcpy(b + VMDL_ACPI_OFF_MADT, cfg->madt, mlen);
    if (cfg->extra)
        memcpy(b + extra_off, cfg->extra, cfg->extra_len);
    *out = b;
    *len = total;
    return VMDL_OK;
}

int vmdl_acpi_check(const uint8_t *t, size_t len, const char signature[4])
{
    if (!t || !signature)
        return vmdl_fail(VMDL_EINVAL, "vmdl_acpi_check: NULL argument");
    if (len < HEADER_LEN || memcmp(t, signature, 4))
        return vmdl_fail(VMDL_EFORMAT, "vmdl_acpi_check: not a %.4s table", signature);
    uint32_t l = (uint32_t)t[4] | (uint32_t)t[5] << 8 | (uint32_t)t[6] << 16 |
                 (uint32_t)t[7] << 24;
    if (l < HEADER_LEN || l > len)
        return vmdl_fail(VMDL_EFORMAT, "vmdl_acpi_check: length %u, %zu bytes", l, len);
    if (sum(t, l))
        return vmdl_fail(VMDL_EFORMAT, "vmdl_acpi_check: %.4s checksum", signature);
    return VMDL_OK;
}

uint32_t vmdl_acpi_pm_timer(uint64_t ns)
{
    /* ns * 3579545 / 10^9 without overflowing 64 bits */
    uint64_t s = ns / 1000000000u, r = ns % 1000000000u;
    uint64_t ticks = s * VMDL_ACPI_PM_TIMER_HZ + r * VMDL_ACPI_PM_TIMER_HZ / 1000000000u;
    return (uint32_t)(ticks & 0xFFFFFF);
}

/* ---- DMAR (VT-d specification, chapter 8) ---- */

#define DMAR_LEN VMDL_ACPI_DMAR_LEN   /* header 48, DRHD 16, one scope 8 */

int vmdl_acpi_build_dmar(const struct vmdl_acpi_dmar *d, uint8_t **out, size_t *len)
{
    if (!d || !out || !len)
        return vmdl_fail(VMDL_EINVAL, "vmdl_acpi_build_dmar: NULL argument");
    if (d->haw < 32 || d->haw > 64 || (d->base & 0xFFF))
        return vmdl_fail(VMDL_EINVAL, "vmdl_acpi_build_dmar: address width %u or register "
                         "base 0x%llx", d->haw, (unsigned long long)d->base);
    uint8_t *t = calloc(1, DMAR_LEN);
    if (!t)
        return vmdl_fail(VMDL_ENOMEM, "vmdl_acpi_build_dmar: out of memory");
    header(t, "DMAR", DMAR_LEN, 1);
    t[36] = (uint8_t)(d->haw - 1);                 /* host address width - 1 */
    t[37] = (uint8_t)((d->intremap ? 1 : 0) | (d->x2apic_opt_out ? 2 : 0));
    uint8_t *h = t + 48;                           /* DRHD: the one unit */
    put(h, 0, 2);
    put(h + 2, 16 + 8, 2);
    h[4] = 1;                                      /* INCLUDE_PCI_ALL */
    put(h + 6, 0, 2);                              /* segment 0 */
    put(h + 8, d->base, 8);
    uint8_t *s = h + 16;                           /* device scope: the I/O APIC */
    s[0] = 3;
    s[1] = 8;
    s[4] = d->ioapic_id;                           /* enumeration id */
    s[5] = (uint8_t)(d->ioapic_sid >> 8);          /* start bus */
    s[6] = (uint8_t)((d->ioapic_sid >> 3) & 0x1F); /* path: device, function */
    s[7] = (uint8_t)(d->ioapic_sid & 7);
    seal(t, DMAR_LEN);
    *out = t;
    *len = DMAR_LEN;
    return VMDL_OK;
}
