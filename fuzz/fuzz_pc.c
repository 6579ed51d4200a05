/* SPDX-License-Identifier: MIT */
/*
 * fuzz_pc: the PC platform's guest-facing pieces: a 16550 UART driven by
 * register reads and writes of any value at any offset and by received
 * bytes, the ACPI table builder over any CPU count and base (with any
 * bytes or a DMAR from any parameters as the extra table), and the PM
 * timer over any virtual time.
 *
 * Invariants:
 *  - LSR always has THRE and TEMT (transmission is instant); DR is set
 *    exactly when received bytes wait; at most 16 (1 without FIFO) wait;
 *  - IIR's low nibble is 1 (none), 2, 4 or 6, bits 7:6 follow FCR bit 0,
 *    and the interrupt line equals "IIR reports an interrupt";
 *  - MCR keeps bits 4:0, IER bits 3:0;
 *  - the PM timer is below 2^24; the ACPI blob's tables pass their checks,
 *    a DMAR that builds passes its own, the extra table is copied last.
 */
#include "fuzz_util.h"

#include "virtmodel/pc_acpi.h"
#include "virtmodel/lapic_madt.h"
#include "virtmodel/pc_uart.h"

static bool line;

static void on_irq(void *o, bool level)
{
    (void)o;
    line = level;
}

static void check_uart(struct vmdl_uart *u)
{
    uint8_t lsr = u->lsr;
    FZ_CHECK((lsr & 0x60) == 0x60, "LSR 0x%x lost THRE/TEMT", lsr);
    FZ_CHECK(((lsr & VMDL_UART_LSR_DR) != 0) == (u->rx_count != 0), "DR vs FIFO");
    /* (Turning the FIFO off empties it, so one byte is the most without.) */
    FZ_CHECK(u->rx_count <= ((u->fcr & 1) ? VMDL_UART_FIFO : 1), "FIFO count %u",
             u->rx_count);
    FZ_CHECK(!(u->mcr & ~0x1F) && !(u->ier & ~0x0F), "MCR/IER reserved bits");
    /* A peek at IIR without its read side effect: copy the UART. */
    struct vmdl_uart c = *u;
    c.ops.irq = NULL;
    uint8_t iir = vmdl_uart_read(&c, 2);
    unsigned id = iir & 0x0F;
    FZ_CHECK(id == 1 || id == 2 || id == 4 || id == 6, "IIR 0x%x", iir);
    FZ_CHECK(((iir & 0xC0) == 0xC0) == ((u->fcr & 1) != 0), "IIR FIFO bits");
    FZ_CHECK(line == (id != 1), "line %d, IIR 0x%x", line, iir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f;
    fz_init(&f, data, size);
    struct vmdl_uart u;
    struct vmdl_uart_ops ops = {NULL, on_irq, NULL};
    line = false;
    vmdl_uart_init(&u, &ops);
    for (unsigned i = 0; i < 512 && fz_more(&f); i++) {
        switch (fz_pick(&f, 4)) {
        case 0: vmdl_uart_write(&u, fz_u8(&f), fz_u8(&f)); break;
        case 1: vmdl_uart_read(&u, fz_u8(&f)); break;
        case 2: vmdl_uart_receive(&u, fz_u8(&f)); break;
        default: {
            uint32_t t = vmdl_acpi_pm_timer(fz_value(&f));
            FZ_CHECK(t <= 0xFFFFFF, "PM timer 0x%x", t);
            break;
        }
        }
        check_uart(&u);
    }
    /* any bytes as the MADT: refused unless a whole checksummed table */
    size_t mlen = fz_u16(&f) % 512;
    uint8_t madt[512];
    for (size_t i = 0; i < mlen; i++)
        madt[i] = fz_u8(&f);
    struct vmdl_acpi_pc_config c = {.base = fz_u32(&f) & ~63u, .madt = madt, .madt_len = mlen};
    /* a further table: any bytes, or a DMAR from any parameters */
    size_t xlen = fz_u8(&f) % 128;
    uint8_t extra[128];
    for (size_t i = 0; i < xlen; i++)
        extra[i] = fz_u8(&f);
    struct vmdl_acpi_dmar d = {.base = fz_u64(&f), .haw = fz_u8(&f), .intremap = fz_bool(&f),
                               .x2apic_opt_out = fz_bool(&f), .ioapic_id = fz_u8(&f),
                               .ioapic_sid = fz_u16(&f)};
    uint8_t *dm = NULL, *b;
    size_t dn = 0, n;
    if (!vmdl_acpi_build_dmar(&d, &dm, &dn))
        FZ_CHECK(!vmdl_acpi_check(dm, dn, "DMAR"), "DMAR checksum or length");
    if (dm && fz_bool(&f)) {
        c.extra = dm;
        c.extra_len = dn;
    } else if (xlen) {
        c.extra = extra;
        c.extra_len = xlen;
    }
    if (!vmdl_acpi_build_pc(&c, &b, &n)) {
        FZ_CHECK(!vmdl_acpi_check(b + VMDL_ACPI_OFF_FADT, n - VMDL_ACPI_OFF_FADT, "FACP"),
                 "FADT");
        FZ_CHECK(!vmdl_madt_check(b + VMDL_ACPI_OFF_MADT, n - VMDL_ACPI_OFF_MADT), "MADT");
        FZ_CHECK(!vmdl_acpi_check(b + VMDL_ACPI_OFF_RSDT, n - VMDL_ACPI_OFF_RSDT, "RSDT") &&
                 !vmdl_acpi_check(b + VMDL_ACPI_OFF_XSDT, n - VMDL_ACPI_OFF_XSDT, "XSDT"),
                 "RSDT/XSDT");
        if (c.extra)
            FZ_CHECK(!memcmp(b + n - c.extra_len, c.extra, c.extra_len), "extra table moved");
        free(b);
    }
    free(dm);
    return 0;
}

/* THR-empty interrupt on, a byte out, FIFO on, bytes in, loopback. */
static void write_seeds(const char *dir)
{
    static const uint8_t seq[] = {0, 1, 2, 1, 2, 0, 0, 0x41, 0, 2, 1, 2, 7, 2, 8,
                                  0, 4, 0x10, 0, 0, 0x55, 1, 5, 1, 0};
    struct fz_out o = {.len = 0};
    for (unsigned i = 0; i < sizeof(seq); i++)
        fz_put8(&o, seq[i]);
    fz_save_out(dir, "thri-fifo-loop", &o);
}

FZ_SEED_WRITER_MAIN()
