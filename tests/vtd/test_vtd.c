/* SPDX-License-Identifier: MIT */
/*
 * VT-d remapping unit: reset and capability values (QEMU's intel-iommu),
 * register attributes, the global command, DMA remapping through root,
 * context and second-level tables (4 KiB, 2 MiB, 1 GiB pages, pass-through),
 * fault recording and the fault event, queued invalidation (wait
 * descriptors, queue errors), register-based invalidation, interrupt
 * remapping of MSIs and I/O APIC entries with its faults.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "virtmodel/error.h"
#include "virtmodel/vtd.h"

#define RAM (4u << 20)
#define ROOT 0x10000u
#define CTX 0x11000u
#define PT3 0x12000u
#define PT2 0x13000u
#define PT1 0x14000u
#define IRT 0x20000u
#define IQ 0x30000u

struct fx {
    uint8_t *ram;
    struct vmdl_flat_mem flat;
    struct vmdl_vtd *v;
    unsigned events;
    uint64_t ev_addr;
    uint32_t ev_data;
};

static void on_msi(void *o, uint64_t addr, uint32_t data)
{
    struct fx *x = o;
    x->events++;
    x->ev_addr = addr;
    x->ev_data = data;
}

static int make(void **state, bool intremap, bool eim)
{
    struct fx *x = calloc(1, sizeof(*x));
    x->ram = calloc(1, RAM);
    x->flat = (struct vmdl_flat_mem){x->ram, 0, RAM};
    struct vmdl_vtd_config c = {.intremap = intremap, .eim = eim, .msi = on_msi, .opaque = x};
    vmdl_flat_mem_init(&c.mem, &x->flat);
    if (vmdl_vtd_create(&c, &x->v))
        return -1;
    *state = x;
    return 0;
}

static int setup(void **state) { return make(state, true, false); }
static int setup_noir(void **state) { return make(state, false, false); }
static int setup_eim(void **state) { return make(state, true, true); }

static int teardown(void **state)
{
    struct fx *x = *state;
    vmdl_vtd_destroy(x->v);
    free(x->ram);
    free(x);
    return 0;
}

static uint32_t r32(struct fx *x, unsigned off) { return (uint32_t)vmdl_vtd_mmio_read(x->v, off, 4); }
static uint64_t r64(struct fx *x, unsigned off) { return vmdl_vtd_mmio_read(x->v, off, 8); }
static void w32(struct fx *x, unsigned off, uint32_t v) { vmdl_vtd_mmio_write(x->v, off, 4, v); }
static void w64(struct fx *x, unsigned off, uint64_t v) { vmdl_vtd_mmio_write(x->v, off, 8, v); }
static void put64(struct fx *x, uint64_t gpa, uint64_t v) { memcpy(x->ram + gpa, &v, 8); }

/* kvm-unit-tests' way: GCMD = GSTS | one command. */
static void gcmd(struct fx *x, uint32_t cmd)
{
    w32(x, VMDL_VTD_GCMD, r32(x, VMDL_VTD_GSTS) | cmd);
}

/* Root entry for bus 0 -> CTX; context for devfn 8 -> PT3 (39-bit). */
static void map_device(struct fx *x, uint64_t ctx_lo_flags, uint64_t ctx_hi)
{
    put64(x, ROOT, CTX | 1);
    put64(x, CTX + 16 * 8, PT3 | 1 | ctx_lo_flags);
    put64(x, CTX + 16 * 8 + 8, ctx_hi);
    w64(x, VMDL_VTD_RTADDR, ROOT);
    gcmd(x, VMDL_VTD_GCMD_SRTP);
    gcmd(x, VMDL_VTD_GCMD_TE);
}

static void test_reset_values(void **state)
{
    struct fx *x = *state;
    assert_int_equal(r32(x, VMDL_VTD_VER), 0x10);
    uint64_t cap = r64(x, VMDL_VTD_CAP);
    assert_true((cap >> 8 & 0x1F) == 0x2);              /* SAGAW: 39-bit only */
    assert_true((cap >> 16 & 0x3F) == 38);              /* MGAW - 1 */
    assert_true((cap >> 24 & 0x3FF) == VMDL_VTD_FRCD >> 4);
    assert_true((cap >> 40 & 0xFF) == 0);               /* one fault record */
    assert_true(cap & VMDL_VTD_CAP_SLLPS_2M && cap & VMDL_VTD_CAP_SLLPS_1G);
    assert_true(cap & VMDL_VTD_CAP_PSI);
    assert_true((cap & 7) == 6);                        /* 16-bit domain ids */
    uint64_t ecap = r64(x, VMDL_VTD_ECAP);
    assert_true(ecap & VMDL_VTD_ECAP_QI && ecap & VMDL_VTD_ECAP_IR && ecap & VMDL_VTD_ECAP_PT);
    assert_false(ecap & VMDL_VTD_ECAP_EIM);
    assert_true((ecap >> 8 & 0x3FF) == VMDL_VTD_IVA >> 4);
    assert_int_equal(r32(x, VMDL_VTD_GSTS), 0);
    assert_int_equal(r32(x, VMDL_VTD_FSTS), 0);
    assert_int_equal(r32(x, VMDL_VTD_FECTL), VMDL_VTD_CTL_IM);
    assert_int_equal(r32(x, VMDL_VTD_IECTL), VMDL_VTD_CTL_IM);
    /* the high halves read as 32-bit registers too */
    assert_int_equal(r32(x, VMDL_VTD_CAP + 4), (uint32_t)(cap >> 32));
}

static void test_capabilities_follow_config(void **state)
{
    (void)state;
    uint8_t ram[64];
    struct vmdl_flat_mem flat = {ram, 0, sizeof(ram)};
    struct vmdl_vtd_config c = {.aw_bits = 48, .msi = on_msi};
    vmdl_flat_mem_init(&c.mem, &flat);
    struct vmdl_vtd *v;
    assert_int_equal(vmdl_vtd_create(&c, &v), VMDL_OK);
    uint64_t cap = vmdl_vtd_mmio_read(v, VMDL_VTD_CAP, 8);
    assert_true((cap >> 8 & 0x1F) == 0x6 && (cap >> 16 & 0x3F) == 47);
    assert_false(vmdl_vtd_mmio_read(v, VMDL_VTD_ECAP, 8) & VMDL_VTD_ECAP_IR);
    vmdl_vtd_destroy(v);
    c.aw_bits = 40;
    assert_int_equal(vmdl_vtd_create(&c, &v), VMDL_EINVAL);
    c.aw_bits = 0;
    c.eim = true;                                       /* EIM needs IR */
    assert_int_equal(vmdl_vtd_create(&c, &v), VMDL_EINVAL);
    c.eim = false;
    c.msi = NULL;
    assert_int_equal(vmdl_vtd_create(&c, &v), VMDL_EINVAL);
    assert_int_equal(vmdl_vtd_create(NULL, &v), VMDL_EINVAL);
}

static void test_register_attributes(void **state)
{
    struct fx *x = *state;
    w64(x, VMDL_VTD_CAP, 0);                             /* read-only */
    assert_true(r64(x, VMDL_VTD_CAP) != 0);
    w64(x, VMDL_VTD_RTADDR, ~0ull);                      /* 38:12 only */
    assert_true(r64(x, VMDL_VTD_RTADDR) == 0x7FFFFFF000ull);
    w64(x, VMDL_VTD_IRTA, ~0ull);                        /* no EIME without EIM */
    assert_true(r64(x, VMDL_VTD_IRTA) == 0x7FFFFFF00Full);
    w32(x, VMDL_VTD_GCMD, 0);
    assert_int_equal(r32(x, VMDL_VTD_GCMD), 0);          /* write-only */
    w32(x, VMDL_VTD_FECTL, 0xFFFFFFFF);                  /* IP is read-only */
    assert_int_equal(r32(x, VMDL_VTD_FECTL), VMDL_VTD_CTL_IM);
    w32(x, VMDL_VTD_FEADDR, 0xFEE00003);
    assert_int_equal(r32(x, VMDL_VTD_FEADDR), 0xFEE00000);
    w64(x, VMDL_VTD_IQA, ~0ull);
    assert_true(r64(x, VMDL_VTD_IQA) == 0x7FFFFFF007ull);   /* no DW */
    /* odd sizes and misaligned accesses: nothing */
    vmdl_vtd_mmio_write(x->v, VMDL_VTD_FEDATA, 2, 0x1234);
    vmdl_vtd_mmio_write(x->v, VMDL_VTD_FEDATA + 1, 4, 0x1234);
    vmdl_vtd_mmio_write(x->v, 0xFFC, 8, ~0ull);
    assert_int_equal(r32(x, VMDL_VTD_FEDATA), 0);
    assert_true(vmdl_vtd_mmio_read(x->v, VMDL_VTD_VER, 2) == 0);
    assert_true(vmdl_vtd_mmio_read(x->v, VMDL_VTD_CAP + 4, 8) == 0);
    assert_true(vmdl_vtd_mmio_read(x->v, 0x800, 4) == 0);
}

static void test_no_intremap_registers(void **state)
{
    struct fx *x = *state;
    w64(x, VMDL_VTD_IRTA, IRT | 7);
    assert_true(r64(x, VMDL_VTD_IRTA) == 0);
    gcmd(x, VMDL_VTD_GCMD_SIRTP);
    gcmd(x, VMDL_VTD_GCMD_IRE);
    assert_int_equal(r32(x, VMDL_VTD_GSTS), 0);
    assert_false(vmdl_vtd_ir_enabled(x->v));
}

static void test_global_command(void **state)
{
    struct fx *x = *state;
    gcmd(x, VMDL_VTD_GCMD_QIE);
    assert_int_equal(r32(x, VMDL_VTD_GSTS), VMDL_VTD_GCMD_QIE);
    w64(x, VMDL_VTD_RTADDR, ROOT);
    gcmd(x, VMDL_VTD_GCMD_SRTP);
    w64(x, VMDL_VTD_IRTA, IRT | 0xF);
    gcmd(x, VMDL_VTD_GCMD_SIRTP);
    gcmd(x, VMDL_VTD_GCMD_TE);
    gcmd(x, VMDL_VTD_GCMD_IRE);
    assert_int_equal(r32(x, VMDL_VTD_GSTS),
                     VMDL_VTD_GCMD_QIE | VMDL_VTD_GCMD_SRTP | VMDL_VTD_GCMD_SIRTP |
                     VMDL_VTD_GCMD_TE | VMDL_VTD_GCMD_IRE);
    assert_true(vmdl_vtd_ir_enabled(x->v));
    /* turning bits off */
    w32(x, VMDL_VTD_GCMD, r32(x, VMDL_VTD_GSTS) & ~(VMDL_VTD_GCMD_TE | VMDL_VTD_GCMD_IRE));
    assert_false(r32(x, VMDL_VTD_GSTS) & (VMDL_VTD_GCMD_TE | VMDL_VTD_GCMD_IRE));
    /* SFL, WBF: no advanced fault log, no write buffer: nothing */
    gcmd(x, VMDL_VTD_GCMD_SFL | VMDL_VTD_GCMD_WBF);
    assert_false(r32(x, VMDL_VTD_GSTS) & (VMDL_VTD_GCMD_SFL | VMDL_VTD_GCMD_WBF));
    vmdl_vtd_reset(x->v);
    assert_int_equal(r32(x, VMDL_VTD_GSTS), 0);
}

static void test_dma_4k_page(void **state)
{
    struct fx *x = *state;
    map_device(x, 0, 1 /* AW 39 */ | (8 << 8));
    put64(x, PT3, PT2 | 3);
    put64(x, PT2, PT1 | 3);
    put64(x, PT1 + 8 * 1, 0x345000 | 3);               /* IOVA 0x1000 -> 0x345000 */
    uint64_t pa, len;
    assert_int_equal(vmdl_vtd_translate(x->v, 0x0008, 0x1234, true, &pa, &len), 0);
    assert_true(pa == 0x345234 && len == 0x1000 - 0x234);
    assert_int_equal(vmdl_vtd_translate(x->v, 0x0008, 0x1FFF, false, &pa, NULL), 0);
    assert_true(pa == 0x345FFF);
    assert_int_equal(r32(x, VMDL_VTD_FSTS), 0);
}

static void test_dma_superpages(void **state)
{
    struct fx *x = *state;
    map_device(x, 0, 1);
    put64(x, PT3, PT2 | 3);
    put64(x, PT2 + 8, 0x40000000ull | 0x80 | 3);          /* 2 MiB at IOVA 2M */
    put64(x, PT3 + 8, 0x80000000ull | 0x80 | 1);          /* 1 GiB at IOVA 1G, RO */
    uint64_t pa, len;
    assert_int_equal(vmdl_vtd_translate(x->v, 8, 0x212345, true, &pa, &len), 0);
    assert_true(pa == 0x40012345ull && len == 0x200000 - 0x12345);
    assert_int_equal(vmdl_vtd_translate(x->v, 8, 0x40000010ull, false, &pa, &len), 0);
    assert_true(pa == 0x80000010ull && len == 0x40000000 - 0x10);
    /* written through a read-only leaf: a write fault */
    assert_int_equal(vmdl_vtd_translate(x->v, 8, 0x40000010ull, true, &pa, &len),
                     VMDL_VTD_FR_WRITE);
}

static void test_dma_translation_off_and_pass_through(void **state)
{
    struct fx *x = *state;
    uint64_t pa;
    assert_int_equal(vmdl_vtd_translate(x->v, 8, 0x123456789ull, true, &pa, NULL), 0);
    assert_true(pa == 0x123456789ull);
    map_device(x, 2 << 2 /* TT pass-through */, 1);
    assert_int_equal(vmdl_vtd_translate(x->v, 8, 0xABC000, true, &pa, NULL), 0);
    assert_true(pa == 0xABC000);
}

static void test_dma_fault_recorded(void **state)
{
    struct fx *x = *state;
    map_device(x, 0, 1);
    put64(x, PT3, PT2 | 3);                                 /* no level 1 */
    w32(x, VMDL_VTD_FEDATA, 0x45);
    w32(x, VMDL_VTD_FEADDR, 0xFEE00000);
    w32(x, VMDL_VTD_FECTL, 0);                              /* unmask */
    uint64_t pa;
    assert_int_equal(vmdl_vtd_translate(x->v, 0x0008, 0x5678, false, &pa, NULL),
                     VMDL_VTD_FR_READ);
    assert_int_equal(r32(x, VMDL_VTD_FSTS), VMDL_VTD_FSTS_PPF);
    assert_true(r64(x, VMDL_VTD_FRCD) == 0x5000);
    uint64_t hi = r64(x, VMDL_VTD_FRCD + 8);
    assert_true(hi >> 63);                                   /* F */
    assert_true((hi >> 62) & 1);                             /* T: a read */
    assert_true(((hi >> 32) & 0xFF) == VMDL_VTD_FR_READ);
    assert_true((hi & 0xFFFF) == 0x0008);
    assert_int_equal(x->events, 1);
    assert_true(x->ev_addr == 0xFEE00000 && x->ev_data == 0x45);
    /* a second fault while the record is full: overflow, not an interrupt
     * condition (spec 11.4.10) */
    assert_int_equal(vmdl_vtd_translate(x->v, 8, 0x9000, true, &pa, NULL), VMDL_VTD_FR_WRITE);
    assert_int_equal(r32(x, VMDL_VTD_FSTS), VMDL_VTD_FSTS_PPF | VMDL_VTD_FSTS_PFO);
    assert_true(r64(x, VMDL_VTD_FRCD) == 0x5000);
    assert_int_equal(x->events, 1);
    /* clearing F (write 1) and PFO: empty again, the next fault records */
    w32(x, VMDL_VTD_FRCD + 12, 0x80000000u);
    w32(x, VMDL_VTD_FSTS, VMDL_VTD_FSTS_PFO);
    assert_int_equal(r32(x, VMDL_VTD_FSTS), 0);
    assert_int_equal(vmdl_vtd_translate(x->v, 8, 0x9000, true, &pa, NULL), VMDL_VTD_FR_WRITE);
    hi = r64(x, VMDL_VTD_FRCD + 8);
    assert_false((hi >> 62) & 1);                            /* T: a write */
    assert_int_equal(x->events, 2);
    struct vmdl_vtd_stats st;
    vmdl_vtd_get_stats(x->v, &st);
    assert_true(st.faults_recorded == 2 && st.faults_overflowed == 1);
}

static void test_fault_event_masked(void **state)
{
    struct fx *x = *state;
    map_device(x, 0, 1);
    uint64_t pa;
    assert_int_equal(vmdl_vtd_translate(x->v, 8, 0, true, &pa, NULL), VMDL_VTD_FR_WRITE);
    assert_int_equal(x->events, 0);
    assert_int_equal(r32(x, VMDL_VTD_FECTL), VMDL_VTD_CTL_IM | VMDL_VTD_CTL_IP);
    w32(x, VMDL_VTD_FECTL, 0);                              /* unmask: sent now */
    assert_int_equal(x->events, 1);
    assert_int_equal(r32(x, VMDL_VTD_FECTL), 0);
}

static void test_fault_reporting_disabled(void **state)
{
    struct fx *x = *state;
    map_device(x, 2 /* FPD */, 1);
    uint64_t pa;
    assert_int_equal(vmdl_vtd_translate(x->v, 8, 0, true, &pa, NULL), VMDL_VTD_FR_WRITE);
    assert_int_equal(r32(x, VMDL_VTD_FSTS), 0);
    struct vmdl_vtd_stats st;
    vmdl_vtd_get_stats(x->v, &st);
    assert_true(st.faults_suppressed == 1);
}

static void test_dma_fault_reasons(void **state)
{
    struct fx *x = *state;
    uint64_t pa;
    map_device(x, 0, 1);
    /* bus 1 has no root entry */
    assert_int_equal(vmdl_vtd_translate(x->v, 0x0108, 0, false, &pa, NULL), VMDL_VTD_FR_ROOT_P);
    w32(x, VMDL_VTD_FRCD + 12, 0x80000000u);
    /* devfn 9 has no context entry */
    assert_int_equal(vmdl_vtd_translate(x->v, 0x0009, 0, false, &pa, NULL),
                     VMDL_VTD_FR_CONTEXT_P);
    w32(x, VMDL_VTD_FRCD + 12, 0x80000000u);
    /* IOVA beyond the 39-bit width */
    assert_int_equal(vmdl_vtd_translate(x->v, 8, 1ull << 39, false, &pa, NULL),
                     VMDL_VTD_FR_BEYOND_MGAW);
    /* a reserved bit (SNP, bit 11) in a table entry */
    put64(x, PT3, PT2 | 0x800 | 3);
    assert_int_equal(vmdl_vtd_translate(x->v, 8, 0, false, &pa, NULL), VMDL_VTD_FR_PAGING_RSVD);
    /* a 2 MiB leaf with address bits below 2 MiB */
    put64(x, PT3, PT2 | 3);
    put64(x, PT2, 0x201000 | 0x80 | 3);
    assert_int_equal(vmdl_vtd_translate(x->v, 8, 0, false, &pa, NULL), VMDL_VTD_FR_PAGING_RSVD);
    /* device-TLB translation type without ECAP.DT */
    put64(x, CTX + 16 * 8, PT3 | 1 | (1 << 2));
    assert_int_equal(vmdl_vtd_translate(x->v, 8, 0, false, &pa, NULL), VMDL_VTD_FR_CONTEXT_TT);
    /* a 48-bit table on a 39-bit unit */
    put64(x, CTX + 16 * 8, PT3 | 1);
    put64(x, CTX + 16 * 8 + 8, 2);
    assert_int_equal(vmdl_vtd_translate(x->v, 8, 0, false, &pa, NULL), VMDL_VTD_FR_CONTEXT_INV);
    /* reserved context bits */
    put64(x, CTX + 16 * 8 + 8, 1 | (1ull << 30));
    assert_int_equal(vmdl_vtd_translate(x->v, 8, 0, false, &pa, NULL), VMDL_VTD_FR_CONTEXT_RSVD);
    /* root reserved bits */
    put64(x, ROOT, CTX | 1 | 0x10);
    assert_int_equal(vmdl_vtd_translate(x->v, 8, 0, false, &pa, NULL), VMDL_VTD_FR_ROOT_RSVD);
    /* a root table outside memory */
    w64(x, VMDL_VTD_RTADDR, 0x7FFFFFF000ull);
    gcmd(x, VMDL_VTD_GCMD_SRTP);
    assert_int_equal(vmdl_vtd_translate(x->v, 8, 0, false, &pa, NULL),
                     VMDL_VTD_FR_ROOT_TABLE_INV);
}

/* ---- invalidation ---- */

static void queue(struct fx *x, unsigned slot, uint64_t lo, uint64_t hi)
{
    put64(x, IQ + 16 * slot, lo);
    put64(x, IQ + 16 * slot + 8, hi);
}

static void test_queued_invalidation_wait(void **state)
{
    struct fx *x = *state;
    w64(x, VMDL_VTD_IQA, IQ);                               /* 256 entries */
    gcmd(x, VMDL_VTD_GCMD_QIE);
    queue(x, 0, 1 | (1 << 4), 0);                           /* context: global */
    queue(x, 1, 2 | (1 << 4), 0);                           /* IOTLB: global */
    queue(x, 2, 4, 0);                                      /* IEC: global */
    queue(x, 3, 5 | (1 << 5) | (0xC0FFEEull << 32), 0x40000);  /* wait + status write */
    w64(x, VMDL_VTD_IQT, 4 << 4);
    assert_true(r64(x, VMDL_VTD_IQH) == 4 << 4);
    uint32_t status;
    memcpy(&status, x->ram + 0x40000, 4);
    assert_int_equal(status, 0xC0FFEE);
    assert_int_equal(r32(x, VMDL_VTD_FSTS), 0);
    /* IF: completion status and the event (masked: pending) */
    queue(x, 4, 5 | (1 << 4), 0);
    w64(x, VMDL_VTD_IQT, 5 << 4);
    assert_int_equal(r32(x, VMDL_VTD_ICS), VMDL_VTD_ICS_IWC);
    assert_int_equal(r32(x, VMDL_VTD_IECTL), VMDL_VTD_CTL_IM | VMDL_VTD_CTL_IP);
    w32(x, VMDL_VTD_ICS, 1);                                /* clearing IWC drops IP */
    assert_int_equal(r32(x, VMDL_VTD_IECTL), VMDL_VTD_CTL_IM);
    w32(x, VMDL_VTD_IEDATA, 0x51);
    w32(x, VMDL_VTD_IEADDR, 0xFEE01000);
    w32(x, VMDL_VTD_IECTL, 0);
    queue(x, 5, 5 | (1 << 4), 0);
    w64(x, VMDL_VTD_IQT, 6 << 4);
    assert_int_equal(x->events, 1);
    assert_true(x->ev_data == 0x51 && x->ev_addr == 0xFEE01000);
    /* the queue wraps */
    struct vmdl_vtd_stats st;
    vmdl_vtd_get_stats(x->v, &st);
    assert_true(st.descriptors == 6 && st.wait_writes == 1);
    /* disabling with an empty queue resets the head */
    w32(x, VMDL_VTD_GCMD, r32(x, VMDL_VTD_GSTS) & ~VMDL_VTD_GCMD_QIE);
    assert_false(r32(x, VMDL_VTD_GSTS) & VMDL_VTD_GCMD_QIE);
    assert_true(r64(x, VMDL_VTD_IQH) == 0);
}

static void test_queued_invalidation_errors(void **state)
{
    struct fx *x = *state;
    w64(x, VMDL_VTD_IQA, IQ);
    w32(x, VMDL_VTD_FECTL, 0);
    gcmd(x, VMDL_VTD_GCMD_QIE);
    queue(x, 0, 5, 0);                                      /* fine */
    queue(x, 1, 3, 0);                                      /* device-TLB: no ECAP.DT */
    queue(x, 2, 5, 0);
    w64(x, VMDL_VTD_IQT, 3 << 4);
    assert_int_equal(r32(x, VMDL_VTD_FSTS), VMDL_VTD_FSTS_IQE);
    assert_true(r64(x, VMDL_VTD_IQH) == 1 << 4);            /* at the bad one */
    assert_int_equal(x->events, 1);
    /* nothing runs while IQE is set */
    queue(x, 1, 5, 0);
    w64(x, VMDL_VTD_IQT, 3 << 4);
    assert_true(r64(x, VMDL_VTD_IQH) == 1 << 4);
    w32(x, VMDL_VTD_FSTS, VMDL_VTD_FSTS_IQE);               /* RW1C */
    w64(x, VMDL_VTD_IQT, 3 << 4);
    assert_true(r64(x, VMDL_VTD_IQH) == 3 << 4);
    /* reserved bits, granularity 0, scalable-mode type bits, a bad status
     * address, a tail beyond the queue: each an IQE */
    static const uint64_t bad[][2] = {
        {2 | (1 << 4) | (1ull << 8), 0}, {1, 0}, {5 | 0x200, 0}, {5 | (1 << 5), 0x7FF0000000ull},
        {5, 1}, {4 | (1 << 5), 0}, {0, 0}, {6, 0},
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        queue(x, 3 + i, bad[i][0], bad[i][1]);
        w64(x, VMDL_VTD_IQT, (uint64_t)(4 + i) << 4);
        assert_int_equal(r32(x, VMDL_VTD_FSTS), VMDL_VTD_FSTS_IQE);
        assert_true(r64(x, VMDL_VTD_IQH) == (uint64_t)(3 + i) << 4);
        queue(x, 3 + i, 5, 0);                              /* repair, go on */
        w32(x, VMDL_VTD_FSTS, VMDL_VTD_FSTS_IQE);
        w64(x, VMDL_VTD_IQT, (uint64_t)(4 + i) << 4);
        assert_int_equal(r32(x, VMDL_VTD_FSTS), 0);
    }
    w64(x, VMDL_VTD_IQT, 300 << 4);                         /* 256 entries */
    assert_int_equal(r32(x, VMDL_VTD_FSTS), VMDL_VTD_FSTS_IQE);
}

static void test_register_invalidation(void **state)
{
    struct fx *x = *state;
    w64(x, VMDL_VTD_CCMD, (1ull << 63) | (2ull << 61) | 0x55);     /* domain */
    uint64_t c = r64(x, VMDL_VTD_CCMD);
    assert_false(c >> 63);
    assert_true(((c >> 59) & 3) == 2);
    w32(x, VMDL_VTD_IOTLB + 4, (1u << 31) | (1u << 28));           /* global, 32-bit */
    c = r64(x, VMDL_VTD_IOTLB);
    assert_false(c >> 63);
    assert_true(((c >> 57) & 3) == 1);
}

/* ---- interrupt remapping ---- */

static void irte(struct fx *x, unsigned index, uint64_t lo, uint64_t hi)
{
    put64(x, IRT + 16 * index, lo);
    put64(x, IRT + 16 * index + 8, hi);
}

static void enable_ir(struct fx *x, unsigned size_field)
{
    w64(x, VMDL_VTD_IRTA, IRT | size_field);
    gcmd(x, VMDL_VTD_GCMD_SIRTP);
    gcmd(x, VMDL_VTD_GCMD_IRE);
}

/* Present, physical, edge, fixed, vector, xAPIC destination. */
static uint64_t irte_lo(uint8_t vector, uint8_t dest)
{
    return 1 | (uint64_t)vector << 16 | (uint64_t)dest << 40;
}

static uint64_t remappable(uint32_t index)
{
    return 0xFEE00000ull | 1 << 4 | (uint64_t)(index & 0x7FFF) << 5 | ((index >> 15) & 1) << 2;
}

static void test_ir_msi(void **state)
{
    struct fx *x = *state;
    enable_ir(x, 0xF);
    irte(x, 2, irte_lo(0xEE, 3) | (1 << 4) /* level */ | (1 << 2) /* logical */, 0x0008 | 1 << 18);
    struct vmdl_msi_msg m;
    assert_int_equal(vmdl_vtd_remap_msi(x->v, 0x0008, remappable(2), 0, &m), VMDL_VTD_IRQ_OK);
    assert_int_equal(m.vector, 0xEE);
    assert_int_equal(m.dest, 3);
    assert_true(m.level && m.logical);
    assert_int_equal(m.delivery_mode, 0);
    /* SHV: the subhandle in the data adds to the handle */
    irte(x, 7, irte_lo(0x31, 1), 0);
    assert_int_equal(vmdl_vtd_remap_msi(x->v, 0x0010, remappable(2) | 1 << 3, 5, &m), 0);
    assert_int_equal(m.vector, 0x31);
    /* handle bit 15 sits in address bit 2 */
    irte(x, 0x8001, irte_lo(0x42, 0), 0);
    assert_int_equal(vmdl_vtd_remap_msi(x->v, VMDL_VTD_NO_SID, remappable(0x8001), 0, &m), 0);
    assert_int_equal(m.vector, 0x42);
    assert_int_equal(r32(x, VMDL_VTD_FSTS), 0);
}

static void test_ir_faults(void **state)
{
    struct fx *x = *state;
    enable_ir(x, 3);                                        /* 16 entries */
    w32(x, VMDL_VTD_FECTL, 0);
    struct vmdl_msi_msg m;
    /* not present: fault 0x22 with the index in FI, no message */
    assert_int_equal(vmdl_vtd_remap_msi(x->v, 0x0008, remappable(5), 0, &m),
                     VMDL_VTD_FR_IR_NOT_PRESENT);
    assert_true(r64(x, VMDL_VTD_FRCD) == 5ull << 48);
    uint64_t hi = r64(x, VMDL_VTD_FRCD + 8);
    assert_true(((hi >> 32) & 0xFF) == VMDL_VTD_FR_IR_NOT_PRESENT && (hi & 0xFFFF) == 8);
    assert_int_equal(x->events, 1);
    struct { uint32_t index; uint64_t lo, hi; int sid; uint64_t addr_or; uint32_t data; int want; }
    cases[] = {
        {16, 0, 0, 8, 0, 0, VMDL_VTD_FR_IR_INDEX},                    /* beyond 16 */
        {1, irte_lo(0x30, 0) | (1 << 12), 0, 8, 0, 0, VMDL_VTD_FR_IR_IRTE_RSVD},
        {1, irte_lo(0x30, 0) | (1 << 15), 0, 8, 0, 0, VMDL_VTD_FR_IR_IRTE_RSVD}, /* posted */
        {1, irte_lo(0x30, 0) | (1ull << 32), 0, 8, 0, 0, VMDL_VTD_FR_IR_IRTE_RSVD}, /* DST[7:0] */
        {1, irte_lo(0x30, 0), 3ull << 18, 8, 0, 0, VMDL_VTD_FR_IR_IRTE_RSVD},  /* SVT 3 */
        {1, irte_lo(0x30, 0), 1ull << 20, 8, 0, 0, VMDL_VTD_FR_IR_IRTE_RSVD},
        {1, irte_lo(0x30, 0), 0x0010 | 1ull << 18, 8, 0, 0, VMDL_VTD_FR_IR_SID},
        {1, irte_lo(0x30, 0), 0x0203 | 2ull << 18, 0x0108, 0, 0, VMDL_VTD_FR_IR_SID},
        {1, irte_lo(0x30, 0), 0, 8, 0, 0x10000, VMDL_VTD_FR_IR_REQ_RSVD},
    };
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        w32(x, VMDL_VTD_FRCD + 12, 0x80000000u);
        irte(x, 1, cases[i].lo, cases[i].hi);
        assert_int_equal(vmdl_vtd_remap_msi(x->v, cases[i].sid, remappable(cases[i].index) |
                                            cases[i].addr_or, cases[i].data, &m), cases[i].want);
        assert_true(((r64(x, VMDL_VTD_FRCD + 8) >> 32) & 0xFF) == (uint64_t)cases[i].want);
    }
    /* source-id qualifier: SQ 3 ignores the function */
    irte(x, 1, irte_lo(0x30, 0), 0x0008 | 1ull << 18 | 3ull << 16);
    assert_int_equal(vmdl_vtd_remap_msi(x->v, 0x000F, remappable(1), 0, &m), 0);
    /* bus range: 1..2 */
    irte(x, 1, irte_lo(0x30, 0), 0x0102 | 2ull << 18);
    assert_int_equal(vmdl_vtd_remap_msi(x->v, 0x0208, remappable(1), 0, &m), 0);
    /* FPD: blocked silently */
    w32(x, VMDL_VTD_FRCD + 12, 0x80000000u);
    irte(x, 1, irte_lo(0x30, 0) | 2 | (1 << 12), 0);
    assert_int_equal(vmdl_vtd_remap_msi(x->v, 8, remappable(1), 0, &m), VMDL_VTD_FR_IR_IRTE_RSVD);
    assert_int_equal(r32(x, VMDL_VTD_FSTS), 0);
}

static void test_ir_compat(void **state)
{
    struct fx *x = *state;
    struct vmdl_msi_msg m;
    /* remapping off: compatibility format decoded as is */
    assert_int_equal(vmdl_vtd_remap_msi(x->v, 8, 0xFEE02000, 0x4061, &m), 0);
    assert_true(m.dest == 2 && m.vector == 0x61);
    enable_ir(x, 0xF);
    assert_int_equal(vmdl_vtd_remap_msi(x->v, 8, 0xFEE02000, 0x61, &m), VMDL_VTD_FR_IR_COMPAT);
    gcmd(x, VMDL_VTD_GCMD_CFI);
    assert_int_equal(vmdl_vtd_remap_msi(x->v, 8, 0xFEE02000, 0x61, &m), 0);
    assert_true(m.dest == 2);
}

static void test_ir_ioapic(void **state)
{
    struct fx *x = *state;
    struct vmdl_msi_msg m;
    uint64_t rte = 0xED | 1ull << 48 | 1ull << 49;         /* remappable, index 1 */
    assert_int_equal(vmdl_vtd_remap_ioapic(x->v, rte, &m), VMDL_VTD_IRQ_PASS);
    enable_ir(x, 0xF);
    irte(x, 1, irte_lo(0xED, 0), 0x0008 | 1ull << 18);   /* SID check: none for the IOAPIC */
    assert_int_equal(vmdl_vtd_remap_ioapic(x->v, rte, &m), VMDL_VTD_IRQ_OK);
    assert_true(m.vector == 0xED && m.dest == 0 && !m.level);
    irte(x, 0x8003, irte_lo(0x50, 1) | 1 << 4, 0);
    assert_int_equal(vmdl_vtd_remap_ioapic(x->v, 0x50 | 1ull << 48 | 3ull << 49 | 1 << 11, &m), 0);
    assert_true(m.vector == 0x50 && m.dest == 1 && m.level);
    /* a compatibility entry is blocked while remapping is on, unless CFI */
    assert_int_equal(vmdl_vtd_peek_ioapic(x->v, 0x30, &m), VMDL_VTD_FR_IR_COMPAT);
    assert_int_equal(r32(x, VMDL_VTD_FSTS), 0);          /* the peek records nothing */
    assert_int_equal(vmdl_vtd_remap_ioapic(x->v, 0x30, &m), VMDL_VTD_FR_IR_COMPAT);
    assert_int_equal(r32(x, VMDL_VTD_FSTS), VMDL_VTD_FSTS_PPF);
    gcmd(x, VMDL_VTD_GCMD_CFI);
    assert_int_equal(vmdl_vtd_remap_ioapic(x->v, 0x30, &m), VMDL_VTD_IRQ_PASS);
    /* an invalid entry: a fault, not a delivery */
    w32(x, VMDL_VTD_FRCD + 12, 0x80000000u);
    irte(x, 1, 0, 0);
    assert_int_equal(vmdl_vtd_remap_ioapic(x->v, rte, &m), VMDL_VTD_FR_IR_NOT_PRESENT);
    assert_true(r64(x, VMDL_VTD_FRCD) == 1ull << 48);
}

static void test_ir_x2apic_destination(void **state)
{
    struct fx *x = *state;
    w64(x, VMDL_VTD_IRTA, IRT | 0xF | 1 << 11);            /* EIME */
    gcmd(x, VMDL_VTD_GCMD_SIRTP);
    gcmd(x, VMDL_VTD_GCMD_IRE);
    irte(x, 1, 1 | 0x77ull << 16 | 0x12345ull << 32, 0);
    struct vmdl_msi_msg m;
    assert_int_equal(vmdl_vtd_remap_msi(x->v, 8, remappable(1), 0, &m), 0);
    assert_int_equal(m.dest, 0x12345);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
#define N(f) cmocka_unit_test_setup_teardown(f, setup_noir, teardown)
#define X(f) cmocka_unit_test_setup_teardown(f, setup_eim, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_reset_values),
        cmocka_unit_test(test_capabilities_follow_config),
        T(test_register_attributes),
        N(test_no_intremap_registers),
        T(test_global_command),
        T(test_dma_4k_page),
        T(test_dma_superpages),
        T(test_dma_translation_off_and_pass_through),
        T(test_dma_fault_recorded),
        T(test_fault_event_masked),
        T(test_fault_reporting_disabled),
        T(test_dma_fault_reasons),
        T(test_queued_invalidation_wait),
        T(test_queued_invalidation_errors),
        T(test_register_invalidation),
        T(test_ir_msi),
        T(test_ir_faults),
        T(test_ir_compat),
        T(test_ir_ioapic),
        X(test_ir_x2apic_destination),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
