/* SPDX-License-Identifier: MIT */
/* GICv5 IRS config frame (no SPIs, no LPIs): ID values, control, status,
 * RAZ/WI space, access sizes, reset and state blobs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "virtmodel/blob.h"
#include "virtmodel/error.h"
#include "virtmodel/gicv5_irs.h"

static struct vmdl_gicv5_irs mk(unsigned pes)
{
    struct vmdl_gicv5_irs irs;
    assert_int_equal(vmdl_gicv5_irs_init(&irs, pes), VMDL_OK);
    return irs;
}

static uint64_t rd(const struct vmdl_gicv5_irs *irs, uint64_t off)
{
    uint64_t v = 0xDEAD;
    assert_true(vmdl_gicv5_irs_read(irs, off, 4, &v));
    return v;
}

static void test_init_refuses_bad_pe_counts(void **state)
{
    (void)state;
    struct vmdl_gicv5_irs irs;
    assert_int_equal(vmdl_gicv5_irs_init(&irs, 0), VMDL_EINVAL);
    assert_int_equal(vmdl_gicv5_irs_init(&irs, 65536), VMDL_EINVAL);
    assert_int_equal(vmdl_gicv5_irs_init(NULL, 1), VMDL_EINVAL);
    assert_int_equal(vmdl_gicv5_irs_init(&irs, 65535), VMDL_OK);
}

/* What a driver probes: NS domain, 44-bit PA, no virtualization, PE_CNT,
 * 16 IAFFID bits (field = bits - 1), 5 priority bits (field = bits - 1),
 * 16 ID bits with LPI clear, no SPIs, Arm as implementer, GICv5.0 IRS. */
static void test_id_registers(void **state)
{
    (void)state;
    struct vmdl_gicv5_irs irs = mk(4);
    assert_int_equal(rd(&irs, VMDL_IRS_IDR0), 0x11);
    assert_int_equal(rd(&irs, VMDL_IRS_IDR1), (4u << 20) | (15u << 16) | 4u);
    uint64_t idr2 = rd(&irs, VMDL_IRS_IDR2);
    assert_int_equal(idr2 & 0x1F, 16);
    assert_int_equal(idr2 & (1u << 5), 0);          /* LPI */
    assert_int_equal(idr2 >> 6, 0);                 /* no IST fields */
    for (uint64_t off = VMDL_IRS_IDR3; off <= VMDL_IRS_IDR7; off += 4)
        assert_int_equal(rd(&irs, off), 0);         /* no virt, 0 SPIs */
    assert_int_equal(rd(&irs, VMDL_IRS_IIDR), 0x43B);
    assert_int_equal(rd(&irs, VMDL_IRS_AIDR), 0);
}

static void test_id_registers_ignore_writes(void **state)
{
    (void)state;
    struct vmdl_gicv5_irs irs = mk(2);
    const uint64_t ids[] = {VMDL_IRS_IDR0, VMDL_IRS_IDR1, VMDL_IRS_IDR2, VMDL_IRS_IDR5,
                            VMDL_IRS_IDR7, VMDL_IRS_IIDR, VMDL_IRS_AIDR,
                            VMDL_IRS_SYNC_STATUSR, VMDL_IRS_PE_STATUSR,
                            VMDL_IRS_SPI_STATUSR};
    uint64_t before[10];
    for (unsigned i = 0; i < 10; i++)
        before[i] = rd(&irs, ids[i]);
    for (unsigned i = 0; i < 10; i++)
        assert_true(vmdl_gicv5_irs_write(&irs, ids[i], 4, 0xFFFFFFFF));
    for (unsigned i = 0; i < 10; i++)
        assert_int_equal(rd(&irs, ids[i]), before[i]);
}

/* IRSEN is the only writable bit of CR0; IDLE reads 1 whatever was written
 * (the change completes at once), the rest is RES0. */
static void test_cr0_enable_and_idle(void **state)
{
    (void)state;
    struct vmdl_gicv5_irs irs = mk(1);
    assert_int_equal(rd(&irs, VMDL_IRS_CR0), VMDL_IRS_CR0_IDLE);
    assert_true(vmdl_gicv5_irs_write(&irs, VMDL_IRS_CR0, 4, 0xFFFFFFFF));
    assert_int_equal(rd(&irs, VMDL_IRS_CR0), VMDL_IRS_CR0_IDLE | VMDL_IRS_CR0_IRSEN);
    assert_true(vmdl_gicv5_irs_write(&irs, VMDL_IRS_CR0, 4, VMDL_IRS_CR0_IDLE));
    assert_int_equal(rd(&irs, VMDL_IRS_CR0), VMDL_IRS_CR0_IDLE);
}

static void test_cr1_keeps_its_fields_only(void **state)
{
    (void)state;
    struct vmdl_gicv5_irs irs = mk(1);
    assert_int_equal(rd(&irs, VMDL_IRS_CR1), 0);
    assert_true(vmdl_gicv5_irs_write(&irs, VMDL_IRS_CR1, 4, 0xABCD1234));
    assert_int_equal(rd(&irs, VMDL_IRS_CR1), 0x1234);
}

/* SYNCR is write-only (reads 0) and completes at once: SYNC_STATUSR.IDLE
 * stays 1 right after a SYNC, as a driver polling for it expects. */
static void test_sync_completes_at_once(void **state)
{
    (void)state;
    struct vmdl_gicv5_irs irs = mk(1);
    assert_true(vmdl_gicv5_irs_write(&irs, VMDL_IRS_SYNCR, 4, VMDL_IRS_SYNCR_SYNC));
    assert_int_equal(rd(&irs, VMDL_IRS_SYNCR), 0);
    assert_int_equal(rd(&irs, VMDL_IRS_SYNC_STATUSR), VMDL_IRS_STATUSR_IDLE);
}

/* PE_SELR selects an IAFFID; PE_STATUSR says whether a PE has it (IAFFID n
 * is vCPU n) and that it is online; the selector keeps 16 bits. */
static void test_pe_select_and_status(void **state)
{
    (void)state;
    struct vmdl_gicv5_irs irs = mk(3);
    const uint32_t ok = VMDL_IRS_STATUSR_IDLE | VMDL_IRS_STATUSR_V |
                        VMDL_IRS_PE_STATUSR_ONLINE;
    assert_int_equal(rd(&irs, VMDL_IRS_PE_STATUSR), ok);   /* IAFFID 0 at reset */
    assert_true(vmdl_gicv5_irs_write(&irs, VMDL_IRS_PE_SELR, 4, 2));
    assert_int_equal(rd(&irs, VMDL_IRS_PE_SELR), 2);
    assert_int_equal(rd(&irs, VMDL_IRS_PE_STATUSR), ok);
    assert_true(vmdl_gicv5_irs_write(&irs, VMDL_IRS_PE_SELR, 4, 3));
    assert_int_equal(rd(&irs, VMDL_IRS_PE_STATUSR), VMDL_IRS_STATUSR_IDLE);
    assert_true(vmdl_gicv5_irs_write(&irs, VMDL_IRS_PE_SELR, 4, 0x12340001));
    assert_int_equal(rd(&irs, VMDL_IRS_PE_SELR), 1);
    assert_int_equal(rd(&irs, VMDL_IRS_PE_STATUSR), ok);
    /* No 1-of-N: PE_CR0.DPS is RAZ/WI. */
    assert_true(vmdl_gicv5_irs_write(&irs, VMDL_IRS_PE_CR0, 4, 1));
    assert_int_equal(rd(&irs, VMDL_IRS_PE_CR0), 0);
}

/* No SPIs: whatever SPI_SELR holds selects nothing (STATUSR.V 0), and
 * CFGR/DOMAINR read 0 and ignore writes. */
static void test_spi_registers_without_spis(void **state)
{
    (void)state;
    struct vmdl_gicv5_irs irs = mk(1);
    for (uint32_t id = 0; id < 4; id++) {
        assert_true(vmdl_gicv5_irs_write(&irs, VMDL_IRS_SPI_SELR, 4, 0xFF000000u | id));
        assert_int_equal(rd(&irs, VMDL_IRS_SPI_SELR), id);
        assert_int_equal(rd(&irs, VMDL_IRS_SPI_STATUSR), VMDL_IRS_STATUSR_IDLE);
        assert_true(vmdl_gicv5_irs_write(&irs, VMDL_IRS_SPI_CFGR, 4, 1));
        assert_int_equal(rd(&irs, VMDL_IRS_SPI_CFGR), 0);
        assert_true(vmdl_gicv5_irs_write(&irs, VMDL_IRS_SPI_DOMAINR, 4, 3));
        assert_int_equal(rd(&irs, VMDL_IRS_SPI_DOMAINR), 0);
        assert_true(vmdl_gicv5_irs_write(&irs, VMDL_IRS_SPI_RESAMPLER, 4, id));
    }
}

/* No LPIs: the IST registers are RAZ/WI, also as 64-bit accesses. */
static void test_ist_registers_without_lpis(void **state)
{
    (void)state;
    struct vmdl_gicv5_irs irs = mk(1);
    uint64_t v = 1;
    assert_true(vmdl_gicv5_irs_write(&irs, VMDL_IRS_IST_BASER, 8, 0x80000001ull));
    assert_true(vmdl_gicv5_irs_read(&irs, VMDL_IRS_IST_BASER, 8, &v));
    assert_int_equal(v, 0);
    assert_true(vmdl_gicv5_irs_write(&irs, VMDL_IRS_IST_CFGR, 4, 0x10014));
    assert_int_equal(rd(&irs, VMDL_IRS_IST_CFGR), 0);
    assert_int_equal(rd(&irs, VMDL_IRS_IST_STATUSR), 0);
    assert_int_equal(rd(&irs, VMDL_IRS_IST_BASER + 4), 0);
}

/* Reserved space, bad sizes, misalignment and offsets past the frame are
 * RAZ/WI and say so; nothing they do changes a register. */
static void test_reserved_and_bad_accesses_are_razwi(void **state)
{
    (void)state;
    struct vmdl_gicv5_irs irs = mk(2);
    uint64_t v = 7;
    const uint64_t reserved[] = {0x20, 0x3C, 0x48, 0x88, 0xC8, 0x14C, 0x200,
                                 0xFFBC, 0xFFFC};
    for (unsigned i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
        assert_false(vmdl_gicv5_irs_read(&irs, reserved[i], 4, &v));
        assert_int_equal(v, 0);
        assert_false(vmdl_gicv5_irs_write(&irs, reserved[i], 4, 0xFFFFFFFF));
    }
    assert_false(vmdl_gicv5_irs_read(&irs, VMDL_IRS_CR0, 1, &v));
    assert_false(vmdl_gicv5_irs_read(&irs, VMDL_IRS_CR0, 2, &v));
    assert_false(vmdl_gicv5_irs_write(&irs, VMDL_IRS_CR0, 1, 1));
    assert_false(vmdl_gicv5_irs_write(&irs, VMDL_IRS_CR0 + 1, 4, 1));
    assert_false(vmdl_gicv5_irs_write(&irs, VMDL_IRS_CR0, 8, 1));   /* 32-bit reg */
    assert_false(vmdl_gicv5_irs_write(&irs, VMDL_IRS_CR0, 3, 1));
    assert_false(vmdl_gicv5_irs_read(&irs, VMDL_GICV5_IRS_FRAME_SIZE, 4, &v));
    assert_false(vmdl_gicv5_irs_read(&irs, UINT64_MAX - 3, 4, &v));
    assert_false(vmdl_gicv5_irs_write(&irs, VMDL_IRS_PE_SELR, 2, 1));
    assert_int_equal(rd(&irs, VMDL_IRS_CR0), VMDL_IRS_CR0_IDLE);
    assert_int_equal(rd(&irs, VMDL_IRS_PE_SELR), 0);
}

static void test_reset_clears_control_state(void **state)
{
    (void)state;
    struct vmdl_gicv5_irs irs = mk(2);
    vmdl_gicv5_irs_write(&irs, VMDL_IRS_CR0, 4, 1);
    vmdl_gicv5_irs_write(&irs, VMDL_IRS_CR1, 4, 0xFF);
    vmdl_gicv5_irs_write(&irs, VMDL_IRS_PE_SELR, 4, 1);
    vmdl_gicv5_irs_write(&irs, VMDL_IRS_SPI_SELR, 4, 9);
    vmdl_gicv5_irs_reset(&irs);
    assert_int_equal(rd(&irs, VMDL_IRS_CR0), VMDL_IRS_CR0_IDLE);
    assert_int_equal(rd(&irs, VMDL_IRS_CR1), 0);
    assert_int_equal(rd(&irs, VMDL_IRS_PE_SELR), 0);
    assert_int_equal(rd(&irs, VMDL_IRS_SPI_SELR), 0);
    assert_int_equal(rd(&irs, VMDL_IRS_IDR1) & 0xFFFF, 2);  /* configuration stays */
}

static int blob_of(const struct vmdl_gicv5_irs *irs, uint8_t **b, size_t *len)
{
    struct vmdl_blob_writer w;
    vmdl_blob_begin(&w, VMDL_BLOB_MAGIC('T', 'I', 'R', 'S'), 1);
    vmdl_gicv5_irs_put(irs, &w);
    return vmdl_blob_finish(&w, b, len);
}

static int load(struct vmdl_gicv5_irs *irs, const uint8_t *b, size_t len)
{
    struct vmdl_blob_reader r;
    int err = vmdl_blob_open(&r, b, len, VMDL_BLOB_MAGIC('T', 'I', 'R', 'S'), 1, "irs");
    if (err)
        return err;
    vmdl_gicv5_irs_get(irs, &r);
    return vmdl_blob_close(&r);
}

static void test_state_round_trip_and_refusals(void **state)
{
    (void)state;
    struct vmdl_gicv5_irs a = mk(3), b = mk(3), c = mk(4);
    vmdl_gicv5_irs_write(&a, VMDL_IRS_CR0, 4, 1);
    vmdl_gicv5_irs_write(&a, VMDL_IRS_CR1, 4, 0x55);
    vmdl_gicv5_irs_write(&a, VMDL_IRS_PE_SELR, 4, 2);
    uint8_t *blob = NULL;
    size_t len = 0;
    assert_int_equal(blob_of(&a, &blob, &len), VMDL_OK);
    assert_int_equal(load(&b, blob, len), VMDL_OK);
    assert_memory_equal(&a, &b, sizeof(a));
    /* Another PE count: refused, unchanged. */
    struct vmdl_gicv5_irs c0 = c;
    assert_int_not_equal(load(&c, blob, len), VMDL_OK);
    assert_memory_equal(&c, &c0, sizeof(c));
    /* A RES0 bit in CR0 (IDLE is not state), then one in PE_SELR. */
    for (unsigned k = 0; k < 2; k++) {
        struct vmdl_blob_writer w;
        uint8_t *bad = NULL;
        size_t bad_len = 0;
        vmdl_blob_begin(&w, VMDL_BLOB_MAGIC('T', 'I', 'R', 'S'), 1);
        vmdl_blob_put_u32(&w, 3);
        vmdl_blob_put_u32(&w, k == 0 ? 3 : 1);
        vmdl_blob_put_u32(&w, 0);
        vmdl_blob_put_u32(&w, k == 1 ? 0x10000 : 0);
        vmdl_blob_put_u32(&w, 0);
        assert_int_equal(vmdl_blob_finish(&w, &bad, &bad_len), VMDL_OK);
        struct vmdl_gicv5_irs d = mk(3), d0 = d;
        assert_int_not_equal(load(&d, bad, bad_len), VMDL_OK);
        assert_memory_equal(&d, &d0, sizeof(d));
        free(bad);
    }
    free(blob);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_refuses_bad_pe_counts),
        cmocka_unit_test(test_id_registers),
        cmocka_unit_test(test_id_registers_ignore_writes),
        cmocka_unit_test(test_cr0_enable_and_idle),
        cmocka_unit_test(test_cr1_keeps_its_fields_only),
        cmocka_unit_test(test_sync_completes_at_once),
        cmocka_unit_test(test_pe_select_and_status),
        cmocka_unit_test(test_spi_registers_without_spis),
        cmocka_unit_test(test_ist_registers_without_lpis),
        cmocka_unit_test(test_reserved_and_bad_accesses_are_razwi),
        cmocka_unit_test(test_reset_clears_control_state),
        cmocka_unit_test(test_state_round_trip_and_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
