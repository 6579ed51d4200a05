/* SPDX-License-Identifier: MIT */
/*
 * fuzz_ioapic: an I/O APIC (version 0x11 or 0x20, 1-4 APICs on a fake bus
 * that accepts, refuses or finds no destination as the input says) driven
 * by window reads and writes of any size and offset, pin changes, EOIs
 * with any trigger mode, rescans, deferred service, reset and state
 * save/load.
 *
 * Invariants after every step:
 *  - delivery status (bit 12) is never set; remote IRR never stays set on
 *    an edge-triggered entry;
 *  - the window shows the same entries as vmdl_ioapic_redir(); version and
 *    ID read as KVM's;
 *  - a level entry with remote IRR set sends nothing on a pin change;
 *  - the handled vectors are exactly the level entries whose destination
 *    matches or whose vector the APIC holds;
 *  - export -> import -> export reproduces the blob; a truncated blob is
 *    refused and changes nothing.
 */
#include "fuzz_util.h"

#include "virtmodel/error.h"
#include "virtmodel/ioapic.h"

struct bus {
    unsigned n;
    int mode;               /* 0 count matches, 1 refuse (0), 2 no dest (-1) */
    unsigned sent;
    uint64_t pending[4][4];
};

static bool fb_match(void *o, unsigned apic, uint32_t dest, bool logical)
{
    (void)o;
    if (dest == 0xFF)
        return true;
    return logical ? (dest >> apic) & 1 : dest == apic;
}

static int fb_deliver(void *o, const struct vmdl_ioapic_msg *m)
{
    struct bus *b = o;
    b->sent++;
    if (b->mode == 1)
        return 0;
    if (b->mode == 2)
        return -1;
    int n = 0;
    for (unsigned i = 0; i < b->n; i++)
        n += fb_match(o, i, m->dest, m->logical);
    return n ? n : -1;
}

static bool fb_pending(void *o, unsigned apic, uint8_t v)
{
    struct bus *b = o;
    return (b->pending[apic][v / 64] >> (v % 64)) & 1;
}

static uint32_t window(struct vmdl_ioapic *io, uint32_t reg)
{
    vmdl_ioapic_mmio_write(io, VMDL_IOAPIC_IOREGSEL, 4, reg);
    return (uint32_t)vmdl_ioapic_mmio_read(io, VMDL_IOAPIC_IOWIN, 4);
}

static void check(struct vmdl_ioapic *io, struct bus *b, unsigned version)
{
    for (unsigned pin = 0; pin < VMDL_IOAPIC_PINS; pin++) {
        uint64_t e = vmdl_ioapic_redir(io, pin);
        FZ_CHECK(!(e & VMDL_IOAPIC_RTE_DELIVS), "pin %u: delivery status set", pin);
        FZ_CHECK(!(e & VMDL_IOAPIC_RTE_REMOTE_IRR) || (e & VMDL_IOAPIC_RTE_LEVEL),
                 "pin %u: remote IRR on an edge entry %llx", pin, (unsigned long long)e);
        FZ_CHECK(window(io, 0x10 + 2 * pin) == (uint32_t)e &&
                 window(io, 0x11 + 2 * pin) == (uint32_t)(e >> 32),
                 "pin %u: window disagrees", pin);
        for (unsigned a = 0; a < b->n; a++) {
            uint8_t v = (uint8_t)e;
            bool want = (e & VMDL_IOAPIC_RTE_LEVEL) &&
                        (fb_match(b, a, (uint32_t)(e >> 56), e & VMDL_IOAPIC_RTE_LOGICAL) ||
                         fb_pending(b, a, v));
            FZ_CHECK(!want || vmdl_ioapic_handles_vector(io, a, v),
                     "APIC %u: level pin %u vector 0x%x not handled", a, pin, v);
        }
    }
    FZ_CHECK(window(io, VMDL_IOAPIC_REG_VER) == (0x170000u | version), "version");
    FZ_CHECK((window(io, VMDL_IOAPIC_REG_ID) & ~0x0F000000u) == 0, "ID reserved bits");
    FZ_CHECK(window(io, VMDL_IOAPIC_REG_ARB) == window(io, VMDL_IOAPIC_REG_ID), "ARB");
}

static void state_round_trip(struct vmdl_ioapic *io)
{
    uint8_t *a = NULL, *c = NULL;
    size_t na = 0, nc = 0;
    FZ_CHECK(vmdl_ioapic_export(io, &a, &na) == 0, "export");
    FZ_CHECK(vmdl_ioapic_import(io, a, na - 1) != 0, "truncated blob accepted");
    FZ_CHECK(vmdl_ioapic_import(io, a, na) == 0, "own blob refused: %s", vmdl_last_error());
    FZ_CHECK(vmdl_ioapic_export(io, &c, &nc) == 0, "export");
    FZ_CHECK(na == nc && !memcmp(a, c, na), "round trip changed the state");
    free(a);
    free(c);
}

static void step(struct fz *f, struct vmdl_ioapic *io, struct bus *b)
{
    switch (fz_pick(f, 9)) {
    case 0:
        vmdl_ioapic_mmio_write(io, fz_u16(f) & 0xFFF, 1 + fz_pick(f, 8), fz_value(f));
        break;
    case 1:
        vmdl_ioapic_mmio_read(io, fz_u16(f) & 0xFFF, fz_pick(f, 10));
        break;
    case 2: {   /* a redirection half through the window */
        unsigned reg = 0x10 + fz_pick(f, 2 * VMDL_IOAPIC_PINS + 4);
        vmdl_ioapic_mmio_write(io, VMDL_IOAPIC_IOREGSEL, 4, reg);
        vmdl_ioapic_mmio_write(io, VMDL_IOAPIC_IOWIN, 4, fz_value(f));
        break;
    }
    case 3: {
        unsigned pin = fz_pick(f, VMDL_IOAPIC_PINS);
        bool level = fz_bool(f);
        uint64_t e = vmdl_ioapic_redir(io, pin);
        unsigned before = b->sent;
        int r = vmdl_ioapic_set_irq(io, pin, level);
        FZ_CHECK(r >= -1 && r <= 1, "set_irq result %d", r);
        if ((e & VMDL_IOAPIC_RTE_LEVEL) && (e & VMDL_IOAPIC_RTE_REMOTE_IRR))
            FZ_CHECK(b->sent == before, "sent while remote IRR was set");
        break;
    }
    case 4:
        vmdl_ioapic_eoi(io, fz_pick(f, b->n), fz_u8(f), fz_bool(f), fz_bool(f));
        break;
    case 5: {   /* an APIC's IRR/ISR changes, then the rescan KVM would do */
        unsigned a = fz_pick(f, b->n), v = fz_u8(f);
        b->pending[a][v / 64] ^= 1ull << (v % 64);
        vmdl_ioapic_scan(io);
        break;
    }
    case 6:
        vmdl_ioapic_service_deferred(io);
        break;
    case 7:
        b->mode = (int)fz_pick(f, 3);
        break;
    default:
        if (fz_pick(f, 8) == 0)
            vmdl_ioapic_reset(io);
        else
            state_round_trip(io);
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f;
    fz_init(&f, data, size);
    struct bus b = {.n = 1 + fz_pick(&f, 4), .mode = 0};
    unsigned version = fz_bool(&f) ? VMDL_IOAPIC_VERSION_EOI : VMDL_IOAPIC_VERSION_KVM;
    struct vmdl_ioapic_config c = {.version = version, .nr_apics = b.n,
                                   .ops = {fb_deliver, fb_match, fb_pending, &b, NULL}};
    struct vmdl_ioapic *io;
    if (vmdl_ioapic_create(&c, &io))
        abort();
    for (unsigned i = 0; i < 256 && fz_more(&f); i++) {
        step(&f, io, &b);
        check(io, &b, version);
    }
    vmdl_ioapic_destroy(io);
    return 0;
}

/* A level pin delivered, EOI'd while asserted (re-sent), lowered, EOI'd. */
static void write_seeds(const char *dir)
{
    struct fz_out o = {.len = 0};
    fz_put8(&o, 1);                 /* 2 APICs */
    fz_put8(&o, 0);                 /* version 0x11 */
    static const uint8_t steps[] = {
        2, 28, 6, 0x77, 0x80, 0, 0, /* entry 14 low: vector 0x77, level */
        3, 14, 1,                   /* line 14 high */
        4, 0, 0x77, 1, 0,           /* EOI, level: sent again */
        3, 14, 0,                   /* line low */
        4, 0, 0x77, 1, 0,           /* EOI: remote IRR clear */
        8, 1,                       /* state round trip */
    };
    for (unsigned i = 0; i < sizeof(steps); i++)
        fz_put8(&o, steps[i]);
    fz_save_out(dir, "level-eoi", &o);
}

FZ_SEED_WRITER_MAIN()
