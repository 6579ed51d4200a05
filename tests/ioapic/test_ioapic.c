/* SPDX-License-Identifier: MIT */
/*
 * I/O APIC model: register file (ID, version, arbitration, redirection
 * entries with their read-only and reserved bits), edge and level pins,
 * remote IRR and EOI as KVM's arch/x86/kvm/ioapic.c, the handled-vector
 * scan, the version-0x20 EOI register, the EOI storm limit, state blobs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "virtmodel/blob.h"
#include "virtmodel/error.h"
#include "virtmodel/ioapic.h"

/* A fake APIC bus: APIC i has physical ID i and flat logical ID 1 << i. */
struct bus {
    unsigned n;
    int result;                   /* what deliver returns (-2: count matches) */
    unsigned sent;
    struct vmdl_ioapic_msg last;
    uint64_t pending[4][4];       /* IRR|ISR per APIC */
};

static bool fake_match(void *o, unsigned apic, uint32_t dest, bool logical)
{
    (void)o;
    if (dest == 0xFF)
        return true;
    return logical ? (dest >> apic) & 1 : dest == apic;
}

static int fake_deliver(void *o, const struct vmdl_ioapic_msg *m)
{
    struct bus *b = o;
    b->sent++;
    b->last = *m;
    if (b->result != -2)
        return b->result;
    int n = 0;
    for (unsigned i = 0; i < b->n; i++)
        n += fake_match(o, i, m->dest, m->logical);
    return n ? n : -1;
}

static bool fake_pending(void *o, unsigned apic, uint8_t v)
{
    struct bus *b = o;
    return (b->pending[apic][v / 64] >> (v % 64)) & 1;
}

struct fx {
    struct bus bus;
    struct vmdl_ioapic *io;
};

static int setup_version(void **state, unsigned version)
{
    struct fx *f = calloc(1, sizeof(*f));
    f->bus.n = 4;
    f->bus.result = -2;
    struct vmdl_ioapic_config c = {
        .version = version, .nr_apics = 4,
        .ops = {fake_deliver, fake_match, fake_pending, &f->bus, NULL},
    };
    if (vmdl_ioapic_create(&c, &f->io)) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int setup(void **state) { return setup_version(state, 0); }
static int setup_v20(void **state) { return setup_version(state, VMDL_IOAPIC_VERSION_EOI); }

static int teardown(void **state)
{
    struct fx *f = *state;
    vmdl_ioapic_destroy(f->io);
    free(f);
    return 0;
}

static uint32_t rd(struct vmdl_ioapic *io, uint32_t reg)
{
    vmdl_ioapic_mmio_write(io, VMDL_IOAPIC_IOREGSEL, 4, reg);
    return (uint32_t)vmdl_ioapic_mmio_read(io, VMDL_IOAPIC_IOWIN, 4);
}

static void wr(struct vmdl_ioapic *io, uint32_t reg, uint32_t v)
{
    vmdl_ioapic_mmio_write(io, VMDL_IOAPIC_IOREGSEL, 4, reg);
    vmdl_ioapic_mmio_write(io, VMDL_IOAPIC_IOWIN, 4, v);
}

static void set_rte(struct vmdl_ioapic *io, unsigned pin, uint64_t e)
{
    wr(io, 0x10 + 2 * pin, (uint32_t)e);
    wr(io, 0x11 + 2 * pin, (uint32_t)(e >> 32));
}

static uint64_t rte(uint8_t vec, bool level, uint8_t dest)
{
    return vec | (level ? VMDL_IOAPIC_RTE_LEVEL : 0) |
           (uint64_t)dest << VMDL_IOAPIC_RTE_DEST_SHIFT;
}

static void test_reset_values(void **state)
{
    struct fx *f = *state;
    assert_int_equal(rd(f->io, VMDL_IOAPIC_REG_VER), 0x00170011);
    assert_int_equal(rd(f->io, VMDL_IOAPIC_REG_ID), 0);
    assert_int_equal(rd(f->io, VMDL_IOAPIC_REG_ARB), 0);
    for (unsigned pin = 0; pin < VMDL_IOAPIC_PINS; pin++) {
        assert_int_equal(rd(f->io, 0x10 + 2 * pin), VMDL_IOAPIC_RTE_MASKED);
        assert_int_equal(rd(f->io, 0x11 + 2 * pin), 0);
    }
    vmdl_ioapic_mmio_write(f->io, VMDL_IOAPIC_IOREGSEL, 4, 0x12);
    vmdl_ioapic_reset(f->io);
    assert_int_equal(vmdl_ioapic_mmio_read(f->io, VMDL_IOAPIC_IOREGSEL, 4), 0);
}

static void test_version_read_only(void **state)
{
    struct fx *f = *state;
    uint32_t v = rd(f->io, VMDL_IOAPIC_REG_VER);
    wr(f->io, VMDL_IOAPIC_REG_VER, ~v);
    assert_int_equal(rd(f->io, VMDL_IOAPIC_REG_VER), v);
}

static void test_id_bits_27_24_only(void **state)
{
    struct fx *f = *state;
    wr(f->io, VMDL_IOAPIC_REG_ID, 0xFFFFFFFF);
    assert_int_equal(rd(f->io, VMDL_IOAPIC_REG_ID), 0x0F000000);
    assert_int_equal(vmdl_ioapic_id(f->io), 0xF);
    wr(f->io, VMDL_IOAPIC_REG_ID, 0x05123456);
    assert_int_equal(rd(f->io, VMDL_IOAPIC_REG_ID), 0x05000000);
}

static void test_arbitration_follows_id_read_only(void **state)
{
    struct fx *f = *state;
    wr(f->io, VMDL_IOAPIC_REG_ID, 0x0F000000);
    assert_int_equal(rd(f->io, VMDL_IOAPIC_REG_ARB), 0x0F000000);
    wr(f->io, VMDL_IOAPIC_REG_ARB, 0);
    assert_int_equal(rd(f->io, VMDL_IOAPIC_REG_ARB), 0x0F000000);
}

static void test_redir_round_trip_and_reserved_bits(void **state)
{
    struct fx *f = *state;
    /* KVM stores the reserved bits 55:17 as written. */
    wr(f->io, 0x10 + 2 * 5, 0xFFFF7F41u);   /* masked; RO bits 12, 14 set */
    wr(f->io, 0x11 + 2 * 5, 0xAB00FFFFu);
    assert_int_equal(rd(f->io, 0x10 + 2 * 5), 0xFFFF2F41u);
    assert_int_equal(rd(f->io, 0x11 + 2 * 5), 0xAB00FFFFu);
    uint64_t e = vmdl_ioapic_redir(f->io, 5);
    assert_int_equal(e >> 56, 0xAB);
    assert_int_equal(e & VMDL_IOAPIC_RTE_DELIVS, 0);      /* read-only 0 */
    assert_int_equal(e & VMDL_IOAPIC_RTE_REMOTE_IRR, 0);  /* read-only */
    /* a half write leaves the other half alone */
    wr(f->io, 0x11 + 2 * 5, 0x01000000);
    assert_int_equal(rd(f->io, 0x10 + 2 * 5), 0xFFFF2F41u);
}

static void test_registers_beyond_table(void **state)
{
    struct fx *f = *state;
    assert_int_equal(rd(f->io, 0x10 + 2 * VMDL_IOAPIC_PINS), 0xFFFFFFFFu);
    assert_int_equal(rd(f->io, 0x11 + 2 * VMDL_IOAPIC_PINS), 0xFFFFFFFFu);
    assert_int_equal(rd(f->io, 0x03), 0xFFFFFFFFu);
    assert_int_equal(rd(f->io, 0xFF), 0xFFFFFFFFu);
    wr(f->io, 0x10 + 2 * VMDL_IOAPIC_PINS, 0);   /* ignored, no crash */
    for (unsigned pin = 0; pin < VMDL_IOAPIC_PINS; pin++)
        assert_int_equal(vmdl_ioapic_redir(f->io, pin), VMDL_IOAPIC_RTE_MASKED);
}

static void test_window_decoding(void **state)
{
    struct fx *f = *state;
    vmdl_ioapic_mmio_write(f->io, VMDL_IOAPIC_IOREGSEL, 4, 0x1234);
    assert_int_equal(vmdl_ioapic_mmio_read(f->io, VMDL_IOAPIC_IOREGSEL, 4), 0x34);
    vmdl_ioapic_mmio_write(f->io, VMDL_IOAPIC_IOREGSEL, 1, 0x01);
    assert_int_equal(vmdl_ioapic_mmio_read(f->io, VMDL_IOAPIC_IOWIN, 2), 0x0011);
    assert_int_equal(vmdl_ioapic_mmio_read(f->io, VMDL_IOAPIC_IOWIN, 8), 0x00170011);
    /* the window decodes address bits 7:0 */
    assert_int_equal(vmdl_ioapic_mmio_read(f->io, 0x110, 4), 0x00170011);
    assert_int_equal(vmdl_ioapic_mmio_read(f->io, 0x20, 4), 0);
    assert_int_equal(vmdl_ioapic_mmio_read(f->io, 0x04, 4), 0);
    assert_int_equal(vmdl_ioapic_mmio_read(f->io, 0x10, 0), 0);
    assert_int_equal(vmdl_ioapic_mmio_read(f->io, 0x10, 9), 0);
}

static void test_edge_delivers_once_per_edge(void **state)
{
    struct fx *f = *state;
    set_rte(f->io, 14, rte(0x76, false, 0));
    assert_int_equal(f->bus.sent, 0);
    assert_int_equal(vmdl_ioapic_set_irq(f->io, 14, true), 1);
    assert_int_equal(f->bus.sent, 1);
    assert_int_equal(f->bus.last.vector, 0x76);
    assert_false(f->bus.last.level);
    /* still high: a second assertion is coalesced */
    assert_int_equal(vmdl_ioapic_set_irq(f->io, 14, true), 0);
    assert_int_equal(f->bus.sent, 1);
    struct vmdl_ioapic_stats st;
    vmdl_ioapic_get_stats(f->io, &st);
    assert_int_equal(st.coalesced, 1);
    assert_int_equal(vmdl_ioapic_set_irq(f->io, 14, false), 1);
    assert_int_equal(vmdl_ioapic_set_irq(f->io, 14, true), 1);
    assert_int_equal(f->bus.sent, 2);
    assert_int_equal(vmdl_ioapic_redir(f->io, 14) & VMDL_IOAPIC_RTE_REMOTE_IRR, 0);
}

static void test_edge_masked_is_lost(void **state)
{
    struct fx *f = *state;
    set_rte(f->io, 14, rte(0x81, false, 0) | VMDL_IOAPIC_RTE_MASKED);
    assert_int_equal(vmdl_ioapic_set_irq(f->io, 14, true), -1);
    assert_int_equal(f->bus.sent, 0);
    /* unmasking an edge pin does not deliver the latched edge (KVM) */
    set_rte(f->io, 14, rte(0x81, false, 0));
    assert_int_equal(f->bus.sent, 0);
    vmdl_ioapic_set_irq(f->io, 14, false);
    assert_int_equal(vmdl_ioapic_set_irq(f->io, 14, true), 1);
    assert_int_equal(f->bus.sent, 1);
}

static void test_level_remote_irr_and_eoi(void **state)
{
    struct fx *f = *state;
    set_rte(f->io, 14, rte(0x77, true, 0));
    assert_int_equal(vmdl_ioapic_set_irq(f->io, 14, true), 1);
    assert_int_equal(f->bus.sent, 1);
    assert_true(f->bus.last.level);
    assert_true(vmdl_ioapic_redir(f->io, 14) & VMDL_IOAPIC_RTE_REMOTE_IRR);
    /* while remote IRR is set nothing more is sent */
    assert_int_equal(vmdl_ioapic_set_irq(f->io, 14, true), -1);
    assert_int_equal(f->bus.sent, 1);
    /* EOI with the line still high: delivered again */
    vmdl_ioapic_eoi(f->io, 0, 0x77, true, false);
    assert_int_equal(f->bus.sent, 2);
    assert_true(vmdl_ioapic_redir(f->io, 14) & VMDL_IOAPIC_RTE_REMOTE_IRR);
    /* line low, EOI: remote IRR clears, nothing sent */
    vmdl_ioapic_set_irq(f->io, 14, false);
    vmdl_ioapic_eoi(f->io, 0, 0x77, true, false);
    assert_int_equal(f->bus.sent, 2);
    assert_int_equal(vmdl_ioapic_redir(f->io, 14) & VMDL_IOAPIC_RTE_REMOTE_IRR, 0);
    assert_int_equal(rd(f->io, 0x10 + 2 * 14) & VMDL_IOAPIC_RTE_REMOTE_IRR, 0);
}

static void test_remote_irr_not_guest_writable(void **state)
{
    struct fx *f = *state;
    set_rte(f->io, 3, rte(0x40, true, 0) | VMDL_IOAPIC_RTE_REMOTE_IRR);
    assert_int_equal(vmdl_ioapic_redir(f->io, 3) & VMDL_IOAPIC_RTE_REMOTE_IRR, 0);
    vmdl_ioapic_set_irq(f->io, 3, true);
    assert_true(vmdl_ioapic_redir(f->io, 3) & VMDL_IOAPIC_RTE_REMOTE_IRR);
    /* writing it clear keeps it set while the entry stays level */
    wr(f->io, 0x10 + 2 * 3, (uint32_t)rte(0x40, true, 0));
    assert_true(vmdl_ioapic_redir(f->io, 3) & VMDL_IOAPIC_RTE_REMOTE_IRR);
}

static void test_edge_rewrite_clears_remote_irr(void **state)
{
    struct fx *f = *state;
    set_rte(f->io, 9, rte(0x50, true, 0));
    vmdl_ioapic_set_irq(f->io, 9, true);
    assert_true(vmdl_ioapic_redir(f->io, 9) & VMDL_IOAPIC_RTE_REMOTE_IRR);
    wr(f->io, 0x10 + 2 * 9, (uint32_t)rte(0x50, false, 0));
    assert_int_equal(vmdl_ioapic_redir(f->io, 9) & VMDL_IOAPIC_RTE_REMOTE_IRR, 0);
}

static void test_level_masked_delivers_on_unmask(void **state)
{
    struct fx *f = *state;
    set_rte(f->io, 14, rte(0x82, true, 0) | VMDL_IOAPIC_RTE_MASKED);
    assert_int_equal(vmdl_ioapic_set_irq(f->io, 14, true), -1);
    assert_int_equal(f->bus.sent, 0);
    wr(f->io, 0x10 + 2 * 14, (uint32_t)rte(0x82, true, 0));
    assert_int_equal(f->bus.sent, 1);
    assert_int_equal(f->bus.last.vector, 0x82);
}

static void test_eoi_edge_or_directed_ignored(void **state)
{
    struct fx *f = *state;
    set_rte(f->io, 2, rte(0x60, true, 0));
    vmdl_ioapic_set_irq(f->io, 2, true);
    vmdl_ioapic_eoi(f->io, 0, 0x60, false, false);     /* TMR clear */
    assert_true(vmdl_ioapic_redir(f->io, 2) & VMDL_IOAPIC_RTE_REMOTE_IRR);
    vmdl_ioapic_eoi(f->io, 0, 0x60, true, true);       /* directed EOI mode */
    assert_true(vmdl_ioapic_redir(f->io, 2) & VMDL_IOAPIC_RTE_REMOTE_IRR);
    vmdl_ioapic_eoi(f->io, 0, 0x61, true, false);      /* other vector */
    assert_true(vmdl_ioapic_redir(f->io, 2) & VMDL_IOAPIC_RTE_REMOTE_IRR);
    vmdl_ioapic_set_irq(f->io, 2, false);
    vmdl_ioapic_eoi(f->io, 0, 0x60, true, false);
    assert_int_equal(vmdl_ioapic_redir(f->io, 2) & VMDL_IOAPIC_RTE_REMOTE_IRR, 0);
}

static void test_eoi_clears_every_pin_of_vector(void **state)
{
    struct fx *f = *state;
    set_rte(f->io, 4, rte(0x70, true, 0));
    set_rte(f->io, 5, rte(0x70, true, 1));
    vmdl_ioapic_set_irq(f->io, 4, true);
    vmdl_ioapic_set_irq(f->io, 5, true);
    vmdl_ioapic_set_irq(f->io, 4, false);
    vmdl_ioapic_set_irq(f->io, 5, false);
    vmdl_ioapic_eoi(f->io, 0, 0x70, true, false);
    assert_int_equal(vmdl_ioapic_redir(f->io, 4) & VMDL_IOAPIC_RTE_REMOTE_IRR, 0);
    assert_int_equal(vmdl_ioapic_redir(f->io, 5) & VMDL_IOAPIC_RTE_REMOTE_IRR, 0);
}

static void test_message_fields(void **state)
{
    struct fx *f = *state;
    set_rte(f->io, 7, 0x9A | (1ull << VMDL_IOAPIC_RTE_DM_SHIFT) | VMDL_IOAPIC_RTE_LOGICAL |
                          (0x0Dull << VMDL_IOAPIC_RTE_DEST_SHIFT));
    vmdl_ioapic_set_irq(f->io, 7, true);
    assert_int_equal(f->bus.last.vector, 0x9A);
    assert_int_equal(f->bus.last.delivery_mode, 1);
    assert_true(f->bus.last.logical);
    assert_int_equal(f->bus.last.dest, 0x0D);
}

static void test_no_destination_sets_remote_irr(void **state)
{
    struct fx *f = *state;
    /* KVM: kvm_irq_delivery_to_apic() returns -1, non-zero: remote IRR */
    set_rte(f->io, 1, rte(0x55, true, 9));
    assert_int_equal(vmdl_ioapic_set_irq(f->io, 1, true), -1);
    assert_true(vmdl_ioapic_redir(f->io, 1) & VMDL_IOAPIC_RTE_REMOTE_IRR);
    /* a target that refuses (0 accepted) leaves it clear */
    f->bus.result = 0;
    set_rte(f->io, 2, rte(0x56, true, 0));
    assert_int_equal(vmdl_ioapic_set_irq(f->io, 2, true), 0);
    assert_int_equal(vmdl_ioapic_redir(f->io, 2) & VMDL_IOAPIC_RTE_REMOTE_IRR, 0);
}

static void test_handled_vectors(void **state)
{
    struct fx *f = *state;
    set_rte(f->io, 13, rte(0x64, true, 0));
    set_rte(f->io, 14, rte(0x84, false, 0));   /* edge: not handled */
    set_rte(f->io, 15, rte(0x90, true, 2));
    assert_true(vmdl_ioapic_handles_vector(f->io, 0, 0x64));
    assert_false(vmdl_ioapic_handles_vector(f->io, 0, 0x84));
    assert_false(vmdl_ioapic_handles_vector(f->io, 0, 0x90));
    assert_true(vmdl_ioapic_handles_vector(f->io, 2, 0x90));
    assert_false(vmdl_ioapic_handles_vector(f->io, 1, 0x64));
    assert_false(vmdl_ioapic_handles_vector(f->io, 4, 0x64));   /* no APIC 4 */
    /* moved to APIC 1 while 0x64 is in APIC 0's ISR: both keep it */
    f->bus.pending[0][0x64 / 64] |= 1ull << (0x64 % 64);
    set_rte(f->io, 13, rte(0x64, true, 1));
    assert_true(vmdl_ioapic_handles_vector(f->io, 0, 0x64));
    assert_true(vmdl_ioapic_handles_vector(f->io, 1, 0x64));
    /* after the EOI, the next scan drops it for APIC 0 */
    f->bus.pending[0][0x64 / 64] = 0;
    vmdl_ioapic_scan(f->io);
    assert_false(vmdl_ioapic_handles_vector(f->io, 0, 0x64));
    /* logical flat destination 0x0D: APICs 0, 2, 3 */
    set_rte(f->io, 13, rte(0x64, true, 0x0D) | VMDL_IOAPIC_RTE_LOGICAL);
    assert_true(vmdl_ioapic_handles_vector(f->io, 0, 0x64));
    assert_false(vmdl_ioapic_handles_vector(f->io, 1, 0x64));
    assert_true(vmdl_ioapic_handles_vector(f->io, 3, 0x64));
}

/* ---- an interrupt-remapping unit between the pins and the APICs ---- */

struct remap {
    int result;                  /* what the unit answers */
    unsigned calls, probes;
    uint64_t last_rte;
};

static int fake_remap(void *o, uint64_t e, bool probe, struct vmdl_ioapic_msg *m)
{
    struct remap *r = o;
    r->calls++;
    r->probes += probe;
    r->last_rte = e;
    if (r->result == 0)   /* the remapping entry: APIC 3, vector 0x99, level */
        *m = (struct vmdl_ioapic_msg){3, false, 0, 0x99, true};
    return r->result;
}

/* One bus for both callbacks: the remap sits beside the APIC bus. */
struct rfx {
    struct bus bus;
    struct remap remap;
};

static int r_deliver(void *o, const struct vmdl_ioapic_msg *m)
{
    return fake_deliver(&((struct rfx *)o)->bus, m);
}
static bool r_match(void *o, unsigned apic, uint32_t dest, bool logical)
{
    return fake_match(&((struct rfx *)o)->bus, apic, dest, logical);
}
static bool r_pending(void *o, unsigned apic, uint8_t v)
{
    return fake_pending(&((struct rfx *)o)->bus, apic, v);
}
static int r_remap(void *o, uint64_t e, bool probe, struct vmdl_ioapic_msg *m)
{
    return fake_remap(&((struct rfx *)o)->remap, e, probe, m);
}

static void test_remap_hook(void **state)
{
    (void)state;
    struct rfx x = {.bus = {.n = 4, .result = -2}};
    struct vmdl_ioapic_config c = {.nr_apics = 4,
                                   .ops = {r_deliver, r_match, r_pending, &x, r_remap}};
    struct vmdl_ioapic *io;
    assert_int_equal(vmdl_ioapic_create(&c, &io), VMDL_OK);
    /* remapped: the unit's message goes out; the scan asks with probe */
    uint64_t e = 0x99 | VMDL_IOAPIC_RTE_LEVEL | 1ull << 48 | 5ull << 49;
    set_rte(io, 10, e);
    assert_true(x.remap.probes > 0);
    assert_true(vmdl_ioapic_handles_vector(io, 3, 0x99));     /* remapped destination */
    assert_false(vmdl_ioapic_handles_vector(io, 0, 0x99));    /* not the entry's dest 0 */
    unsigned probes = x.remap.probes;
    assert_int_equal(vmdl_ioapic_set_irq(io, 10, true), 1);
    assert_int_equal(x.remap.probes, probes);                 /* a real request */
    assert_true(x.remap.last_rte == e);
    assert_int_equal(x.bus.last.dest, 3);
    assert_int_equal(x.bus.last.vector, 0x99);
    assert_true(vmdl_ioapic_redir(io, 10) & VMDL_IOAPIC_RTE_REMOTE_IRR);
    vmdl_ioapic_eoi(io, 3, 0x99, true, false);
    assert_int_equal(x.bus.sent, 2);                          /* still asserted: again */
    vmdl_ioapic_set_irq(io, 10, false);
    vmdl_ioapic_eoi(io, 3, 0x99, true, false);
    /* pass: the entry as written */
    x.remap.result = 1;
    set_rte(io, 11, rte(0x41, false, 2));
    vmdl_ioapic_set_irq(io, 11, true);
    assert_int_equal(x.bus.last.dest, 2);
    assert_int_equal(x.bus.last.vector, 0x41);
    /* blocked: no message; a level pin waits for an EOI (KVM's -1 rule) */
    x.remap.result = -1;
    unsigned sent = x.bus.sent;
    set_rte(io, 12, rte(0x42, true, 0));
    assert_int_equal(vmdl_ioapic_set_irq(io, 12, true), -1);
    assert_int_equal(x.bus.sent, sent);
    assert_true(vmdl_ioapic_redir(io, 12) & VMDL_IOAPIC_RTE_REMOTE_IRR);
    assert_false(vmdl_ioapic_handles_vector(io, 0, 0x42));    /* blocked: not scanned */
    vmdl_ioapic_destroy(io);
}

static void test_eoi_register_v20(void **state)
{
    struct fx *f = *state;
    assert_int_equal(rd(f->io, VMDL_IOAPIC_REG_VER), 0x00170020);
    set_rte(f->io, 6, rte(0x66, true, 0));
    vmdl_ioapic_set_irq(f->io, 6, true);
    assert_int_equal(f->bus.sent, 1);
    vmdl_ioapic_mmio_write(f->io, VMDL_IOAPIC_EOI, 4, 0x67);   /* other vector */
    assert_true(vmdl_ioapic_redir(f->io, 6) & VMDL_IOAPIC_RTE_REMOTE_IRR);
    vmdl_ioapic_mmio_write(f->io, VMDL_IOAPIC_EOI, 4, 0x66);
    /* still asserted: sent again, remote IRR set again */
    assert_int_equal(f->bus.sent, 2);
    vmdl_ioapic_set_irq(f->io, 6, false);
    vmdl_ioapic_mmio_write(f->io, VMDL_IOAPIC_EOI, 4, 0x66);
    assert_int_equal(vmdl_ioapic_redir(f->io, 6) & VMDL_IOAPIC_RTE_REMOTE_IRR, 0);
    assert_int_equal(f->bus.sent, 2);
}

static void test_no_eoi_register_v11(void **state)
{
    struct fx *f = *state;
    set_rte(f->io, 6, rte(0x66, true, 0));
    vmdl_ioapic_set_irq(f->io, 6, true);
    vmdl_ioapic_set_irq(f->io, 6, false);
    vmdl_ioapic_mmio_write(f->io, VMDL_IOAPIC_EOI, 4, 0x66);
    assert_true(vmdl_ioapic_redir(f->io, 6) & VMDL_IOAPIC_RTE_REMOTE_IRR);
}

static void test_eoi_storm_deferred(void **state)
{
    struct fx *f = *state;
    set_rte(f->io, 8, rte(0x48, true, 0));
    vmdl_ioapic_set_irq(f->io, 8, true);
    for (unsigned i = 1; i < VMDL_IOAPIC_EOI_STORM; i++)
        vmdl_ioapic_eoi(f->io, 0, 0x48, true, false);
    assert_int_equal(f->bus.sent, VMDL_IOAPIC_EOI_STORM);
    /* the 10000th successive re-delivery is held back */
    vmdl_ioapic_eoi(f->io, 0, 0x48, true, false);
    assert_int_equal(f->bus.sent, VMDL_IOAPIC_EOI_STORM);
    assert_int_equal(vmdl_ioapic_redir(f->io, 8) & VMDL_IOAPIC_RTE_REMOTE_IRR, 0);
    struct vmdl_ioapic_stats st;
    vmdl_ioapic_get_stats(f->io, &st);
    assert_int_equal(st.deferred, 1);
    vmdl_ioapic_service_deferred(f->io);
    assert_int_equal(f->bus.sent, VMDL_IOAPIC_EOI_STORM + 1);
    vmdl_ioapic_service_deferred(f->io);    /* nothing left */
    assert_int_equal(f->bus.sent, VMDL_IOAPIC_EOI_STORM + 1);
}

static void test_bad_arguments(void **state)
{
    struct fx *f = *state;
    assert_int_equal(vmdl_ioapic_set_irq(f->io, VMDL_IOAPIC_PINS, true), VMDL_EINVAL);
    assert_int_equal(vmdl_ioapic_set_irq(NULL, 0, true), VMDL_EINVAL);
    struct vmdl_ioapic *io;
    struct vmdl_ioapic_config c = {.nr_apics = 1,
                                   .ops = {fake_deliver, fake_match, fake_pending, NULL, NULL}};
    c.version = 0x12;
    assert_int_equal(vmdl_ioapic_create(&c, &io), VMDL_EINVAL);
    c.version = 0;
    c.nr_apics = 0;
    assert_int_equal(vmdl_ioapic_create(&c, &io), VMDL_EINVAL);
    c.nr_apics = VMDL_IOAPIC_MAX_APICS + 1;
    assert_int_equal(vmdl_ioapic_create(&c, &io), VMDL_EINVAL);
    c.nr_apics = 1;
    c.ops.deliver = NULL;
    assert_int_equal(vmdl_ioapic_create(&c, &io), VMDL_EINVAL);
    assert_int_equal(vmdl_ioapic_create(NULL, &io), VMDL_EINVAL);
}

static void test_state_round_trip(void **state)
{
    struct fx *f = *state;
    wr(f->io, VMDL_IOAPIC_REG_ID, 0x03000000);
    set_rte(f->io, 10, rte(0x71, true, 1));
    vmdl_ioapic_set_irq(f->io, 10, true);
    uint8_t *b, *b2;
    size_t n, n2;
    assert_int_equal(vmdl_ioapic_export(f->io, &b, &n), 0);
    vmdl_ioapic_reset(f->io);
    assert_int_equal(vmdl_ioapic_import(f->io, b, n), 0);
    assert_int_equal(vmdl_ioapic_id(f->io), 3);
    assert_true(vmdl_ioapic_redir(f->io, 10) & VMDL_IOAPIC_RTE_REMOTE_IRR);
    assert_int_equal(vmdl_ioapic_irr(f->io), 1u << 10);
    assert_true(vmdl_ioapic_handles_vector(f->io, 1, 0x71));
    assert_int_equal(vmdl_ioapic_export(f->io, &b2, &n2), 0);
    assert_int_equal(n, n2);
    assert_memory_equal(b, b2, n);
    /* truncated: refused, state unchanged */
    assert_int_not_equal(vmdl_ioapic_import(f->io, b, n - 1), 0);
    assert_int_equal(vmdl_ioapic_id(f->io), 3);
    free(b);
    free(b2);
}

static void test_state_refuses_impossible(void **state)
{
    struct fx *f = *state;
    uint8_t *b;
    size_t n;
    assert_int_equal(vmdl_ioapic_export(f->io, &b, &n), 0);
    /* an IOAPIC of the other version refuses it */
    struct fx *g;
    void *gs = NULL;
    assert_int_equal(setup_v20(&gs), 0);
    g = gs;
    assert_int_equal(vmdl_ioapic_import(g->io, b, n), VMDL_EBADBLOB);
    teardown(&gs);
    free(b);
    /* hand-made blobs with impossible contents */
    for (int bad = 0; bad < 4; bad++) {
        struct vmdl_blob_writer w;
        vmdl_blob_begin(&w, VMDL_BLOB_MAGIC('I', 'O', 'A', 'P'), 1);
        vmdl_blob_put_u8(&w, VMDL_IOAPIC_VERSION_KVM);
        for (unsigned i = 0; i < VMDL_IOAPIC_PINS; i++)   /* remote IRR on edge */
            vmdl_blob_put_u64(&w, i == 0 && bad == 0 ? VMDL_IOAPIC_RTE_REMOTE_IRR : 0);
        vmdl_blob_put_u32(&w, bad == 1 ? 0x100 : 0);      /* IOREGSEL */
        vmdl_blob_put_u32(&w, bad == 2 ? 1u << 24 : 0);   /* IRR beyond pin 23 */
        vmdl_blob_put_u32(&w, 0);
        vmdl_blob_put_u8(&w, bad == 3 ? 0x10 : 0);        /* ID */
        vmdl_blob_put_u32(&w, 0);
        for (unsigned i = 0; i < VMDL_IOAPIC_PINS; i++)
            vmdl_blob_put_u32(&w, 0);
        assert_int_equal(vmdl_blob_finish(&w, &b, &n), 0);
        assert_int_equal(vmdl_ioapic_import(f->io, b, n), VMDL_EBADBLOB);
        free(b);
    }
    /* the same writer with sane values is accepted */
    struct vmdl_blob_writer w;
    vmdl_blob_begin(&w, VMDL_BLOB_MAGIC('I', 'O', 'A', 'P'), 1);
    vmdl_blob_put_u8(&w, VMDL_IOAPIC_VERSION_KVM);
    for (unsigned i = 0; i < VMDL_IOAPIC_PINS; i++)
        vmdl_blob_put_u64(&w, VMDL_IOAPIC_RTE_MASKED);
    for (int i = 0; i < 3; i++)
        vmdl_blob_put_u32(&w, 0);
    vmdl_blob_put_u8(&w, 7);
    vmdl_blob_put_u32(&w, 0);
    for (unsigned i = 0; i < VMDL_IOAPIC_PINS; i++)
        vmdl_blob_put_u32(&w, 0);
    assert_int_equal(vmdl_blob_finish(&w, &b, &n), 0);
    assert_int_equal(vmdl_ioapic_import(f->io, b, n), 0);
    assert_int_equal(vmdl_ioapic_id(f->io), 7);
    free(b);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
#define T20(fn) cmocka_unit_test_setup_teardown(fn, setup_v20, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_reset_values),
        T(test_version_read_only),
        T(test_id_bits_27_24_only),
        T(test_arbitration_follows_id_read_only),
        T(test_redir_round_trip_and_reserved_bits),
        T(test_registers_beyond_table),
        T(test_window_decoding),
        T(test_edge_delivers_once_per_edge),
        T(test_edge_masked_is_lost),
        T(test_level_remote_irr_and_eoi),
        T(test_remote_irr_not_guest_writable),
        T(test_edge_rewrite_clears_remote_irr),
        T(test_level_masked_delivers_on_unmask),
        T(test_eoi_edge_or_directed_ignored),
        T(test_eoi_clears_every_pin_of_vector),
        T(test_message_fields),
        T(test_no_destination_sets_remote_irr),
        T(test_handled_vectors),
        cmocka_unit_test(test_remap_hook),
        T20(test_eoi_register_v20),
        T(test_no_eoi_register_v11),
        T(test_eoi_storm_deferred),
        T(test_bad_arguments),
        T(test_state_round_trip),
        T(test_state_refuses_impossible),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
