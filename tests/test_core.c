/* SPDX-License-Identifier: MIT */
/* Core: error messages, bit helpers, state blobs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "virtmodel/bits.h"
#include "virtmodel/blob.h"
#include "virtmodel/error.h"
#include "virtmodel/guest_mem.h"

#define MAGIC VMDL_BLOB_MAGIC('T', 'E', 'S', 'T')

static void test_fail_records_message(void **state)
{
    (void)state;
    assert_int_equal(vmdl_fail(VMDL_ERANGE, "index %d", 7), VMDL_ERANGE);
    assert_string_equal(vmdl_last_error(), "index 7");
    vmdl_clear_error();
    assert_string_equal(vmdl_last_error(), "");
    assert_string_equal(vmdl_strerror(VMDL_EBADBLOB), "malformed state blob");
}

/* A message may wrap the previous one (callers pass vmdl_last_error() on). */
static void test_fail_wraps_last_message(void **state)
{
    (void)state;
    vmdl_fail(VMDL_ESTATE, "triple fault: vector %d", 13);
    assert_int_equal(vmdl_fail(VMDL_ESTATE, "outer: %s", vmdl_last_error()), VMDL_ESTATE);
    assert_string_equal(vmdl_last_error(), "outer: triple fault: vector 13");
    vmdl_fail(VMDL_ESTATE, "%s", vmdl_last_error());
    assert_string_equal(vmdl_last_error(), "outer: triple fault: vector 13");
}

static void test_genmask_and_fields(void **state)
{
    (void)state;
    assert_int_equal(VMDL_GENMASK(47, 0), 0xFFFFFFFFFFFFull);
    assert_int_equal(VMDL_GENMASK(63, 0), ~0ull);
    assert_int_equal(vmdl_field_get(0xABCD, 11, 4), 0xBC);
    assert_int_equal(vmdl_field_set(0xABCD, 11, 4, 0x12), 0xA12D);
    assert_int_equal(vmdl_sign_extend(0x800000000000ull, 48),
                     0xFFFF800000000000ull);
    assert_true(vmdl_is_canonical48(0x00007FFFFFFFFFFFull));
    assert_false(vmdl_is_canonical48(0x0000800000000000ull));
}

static void test_rol16_inverse(void **state)
{
    (void)state;
    for (unsigned v = 0; v < 0x10000; v++)
        assert_int_equal(vmdl_ror16(vmdl_rol16((uint16_t)v, 6), 6), v);
    assert_int_equal(vmdl_rol16(0x4002, 6), 0x0090 | 0x10);
}

static void test_bitmap_highest(void **state)
{
    (void)state;
    uint64_t map[4] = {0};
    assert_int_equal(vmdl_bitmap_highest(map, 4), -1);
    vmdl_bitmap_set(map, 3);
    vmdl_bitmap_set(map, 200);
    assert_int_equal(vmdl_bitmap_highest(map, 4), 200);
    vmdl_bitmap_clear(map, 200);
    assert_int_equal(vmdl_bitmap_highest(map, 4), 3);
    assert_true(vmdl_bitmap_test(map, 3));
}

static void test_crc32_known_value(void **state)
{
    (void)state;
    /* The standard CRC-32 check value. */
    assert_int_equal(vmdl_crc32(0, "123456789", 9), 0xCBF43926u);
}

static size_t make_blob(uint8_t **out)
{
    struct vmdl_blob_writer w;
    vmdl_blob_begin(&w, MAGIC, 3);
    vmdl_blob_put_u8(&w, 0x11);
    vmdl_blob_put_u16(&w, 0x2233);
    vmdl_blob_put_u32(&w, 0x44556677);
    vmdl_blob_put_u64(&w, 0x8899AABBCCDDEEFFull);
    vmdl_blob_put_bytes(&w, "xyz", 3);
    size_t len = 0;
    assert_int_equal(vmdl_blob_finish(&w, out, &len), 0);
    return len;
}

static void test_blob_round_trip(void **state)
{
    (void)state;
    uint8_t *b;
    size_t len = make_blob(&b);
    assert_int_equal(len, VMDL_BLOB_HEADER_SIZE + 1 + 2 + 4 + 8 + 3);
    struct vmdl_blob_reader r;
    assert_int_equal(vmdl_blob_open(&r, b, len, MAGIC, 3, "test"), 0);
    assert_int_equal(vmdl_blob_get_u8(&r), 0x11);
    assert_int_equal(vmdl_blob_get_u16(&r), 0x2233);
    assert_int_equal(vmdl_blob_get_u32(&r), 0x44556677);
    assert_int_equal(vmdl_blob_get_u64(&r), 0x8899AABBCCDDEEFFull);
    char s[3];
    vmdl_blob_get_bytes(&r, s, 3);
    assert_memory_equal(s, "xyz", 3);
    assert_int_equal(vmdl_blob_close(&r), 0);
    free(b);
}

static void test_blob_refuses_damage(void **state)
{
    (void)state;
    uint8_t *b;
    size_t len = make_blob(&b);
    struct vmdl_blob_reader r;
    /* Truncation at every length. */
    for (size_t n = 0; n < len; n++)
        assert_int_equal(vmdl_blob_open(&r, b, n, MAGIC, 3, "test"),
                         VMDL_EBADBLOB);
    /* A flipped bit anywhere in the payload is caught by the CRC. */
    for (size_t i = VMDL_BLOB_HEADER_SIZE; i < len; i++) {
        b[i] ^= 0x40;
        assert_int_equal(vmdl_blob_open(&r, b, len, MAGIC, 3, "test"),
                         VMDL_EBADBLOB);
        assert_non_null(strstr(vmdl_last_error(), "checksum"));
        b[i] ^= 0x40;
    }
    assert_int_equal(vmdl_blob_open(&r, b, len, MAGIC, 4, "test"),
                     VMDL_EVERSION);
    assert_int_equal(vmdl_blob_open(&r, b, len, MAGIC + 1, 3, "test"),
                     VMDL_EBADBLOB);
    /* Reading past the payload and leaving bytes behind both fail. */
    assert_int_equal(vmdl_blob_open(&r, b, len, MAGIC, 3, "test"), 0);
    vmdl_blob_get_u64(&r);
    assert_int_equal(vmdl_blob_close(&r), VMDL_EBADBLOB);
    assert_int_equal(vmdl_blob_open(&r, b, len, MAGIC, 3, "test"), 0);
    uint8_t big[64];
    vmdl_blob_get_bytes(&r, big, sizeof(big));
    assert_int_equal(vmdl_blob_close(&r), VMDL_EBADBLOB);
    free(b);
}

static void test_flat_mem_bounds(void **state)
{
    (void)state;
    uint8_t ram[64] = {0};
    struct vmdl_flat_mem flat = {ram, 0x1000, sizeof(ram)};
    struct vmdl_guest_mem mem;
    vmdl_flat_mem_init(&mem, &flat);
    uint32_t v = 0xDEADBEEF, back = 0;
    assert_int_equal(vmdl_guest_write(&mem, 0x1000 + 60, &v, 4), 0);
    assert_int_equal(vmdl_guest_read(&mem, 0x1000 + 60, &back, 4), 0);
    assert_int_equal(back, 0xDEADBEEF);
    assert_int_equal(vmdl_guest_read(&mem, 0x1000 + 61, &back, 4), VMDL_ERANGE);
    assert_int_equal(vmdl_guest_read(&mem, 0xFFF, &back, 4), VMDL_ERANGE);
    assert_int_equal(vmdl_guest_read(&mem, UINT64_MAX - 1, &back, 4),
                     VMDL_ERANGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fail_records_message),
        cmocka_unit_test(test_fail_wraps_last_message),
        cmocka_unit_test(test_genmask_and_fields),
        cmocka_unit_test(test_rol16_inverse),
        cmocka_unit_test(test_bitmap_highest),
        cmocka_unit_test(test_crc32_known_value),
        cmocka_unit_test(test_blob_round_trip),
        cmocka_unit_test(test_blob_refuses_damage),
        cmocka_unit_test(test_flat_mem_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
