/* SPDX-License-Identifier: MIT */
/*
 * The guest loader: a valid ELF64 loads at its physical addresses, and every
 * malformed image is refused with VMDL_EFORMAT and a message saying why.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "virtmodel/error.h"
#include "virtmodel/loader.h"

#define IMG_SIZE 256

static void put(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* A minimal static executable: header, one PT_LOAD of 16 bytes at paddr. */
static void make_elf(uint8_t *b, uint16_t machine, uint64_t paddr)
{
    memset(b, 0, IMG_SIZE);
    memcpy(b, "\x7F" "ELF", 4);
    b[4] = 2; /* ELFCLASS64 */
    b[5] = 1; /* little-endian */
    b[6] = 1;
    put(b + 16, 2, 2);        /* ET_EXEC */
    put(b + 18, machine, 2);
    put(b + 20, 1, 4);
    put(b + 24, paddr, 8);    /* entry */
    put(b + 32, 64, 8);       /* phoff */
    put(b + 52, 64, 2);
    put(b + 54, 56, 2);       /* phentsize */
    put(b + 56, 1, 2);        /* phnum */
    uint8_t *ph = b + 64;
    put(ph, 1, 4);            /* PT_LOAD */
    put(ph + 4, 5, 4);        /* R+X */
    put(ph + 8, 192, 8);      /* offset */
    put(ph + 16, paddr, 8);
    put(ph + 24, paddr, 8);
    put(ph + 32, 16, 8);      /* filesz */
    put(ph + 40, 32, 8);      /* memsz */
    memset(b + 192, 0x90, 16);
}

static void expect_refused(const uint8_t *b, size_t n, const char *needle)
{
    struct vmdl_image img;
    assert_int_equal(vmdl_elf_parse(b, n, &img), VMDL_EFORMAT);
    if (!strstr(vmdl_last_error(), needle))
        fail_msg("message '%s' lacks '%s'", vmdl_last_error(), needle);
}

static void test_valid_elf_parses(void **state)
{
    (void)state;
    uint8_t b[IMG_SIZE];
    make_elf(b, 62, 0x100000);
    struct vmdl_image img;
    assert_int_equal(vmdl_elf_parse(b, sizeof(b), &img), 0);
    assert_int_equal(img.arch, VMDL_ARCH_X86_64);
    assert_int_equal(img.entry, 0x100000);
    assert_int_equal(img.nr_segments, 1);
    assert_int_equal(img.seg[0].filesz, 16);
    assert_int_equal(img.seg[0].memsz, 32);
    make_elf(b, 183, 0x40080000);
    assert_int_equal(vmdl_elf_parse(b, sizeof(b), &img), 0);
    assert_int_equal(img.arch, VMDL_ARCH_ARM64);
}

static void test_truncated_at_every_length(void **state)
{
    (void)state;
    uint8_t b[IMG_SIZE];
    make_elf(b, 62, 0x100000);
    struct vmdl_image img;
    /* Every prefix shorter than the end of the segment data is refused. */
    for (size_t n = 0; n < 208; n++)
        assert_int_equal(vmdl_elf_parse(b, n, &img), VMDL_EFORMAT);
    assert_int_equal(vmdl_elf_parse(b, 208, &img), 0);
}

static void test_header_errors(void **state)
{
    (void)state;
    uint8_t b[IMG_SIZE];
    make_elf(b, 62, 0x100000);
    b[0] = 'X';
    expect_refused(b, sizeof(b), "magic");
    make_elf(b, 62, 0x100000);
    b[4] = 1;
    expect_refused(b, sizeof(b), "ELFCLASS64");
    make_elf(b, 62, 0x100000);
    b[5] = 2;
    expect_refused(b, sizeof(b), "little-endian");
    make_elf(b, 3, 0x100000);
    expect_refused(b, sizeof(b), "machine 3");
    make_elf(b, 62, 0x100000);
    put(b + 16, 3, 2); /* ET_DYN */
    expect_refused(b, sizeof(b), "static executable");
    make_elf(b, 62, 0x100000);
    put(b + 56, 0, 2);
    expect_refused(b, sizeof(b), "no program headers");
    make_elf(b, 62, 0x100000);
    put(b + 54, 32, 2);
    expect_refused(b, sizeof(b), "header size");
    make_elf(b, 62, 0x100000);
    put(b + 32, 0xFFFFFFFFFFFFFF00ull, 8);
    expect_refused(b, sizeof(b), "past the end");
    make_elf(b, 62, 0x100000);
    put(b + 56, 0xFFFF, 2);
    expect_refused(b, sizeof(b), "past the end");
}

static void test_segment_errors(void **state)
{
    (void)state;
    uint8_t b[IMG_SIZE];
    make_elf(b, 62, 0x100000);
    put(b + 64 + 32, 64, 8); /* filesz > memsz */
    expect_refused(b, sizeof(b), "filesz");
    make_elf(b, 62, 0x100000);
    put(b + 64 + 8, 0xFFFFFFFFFFFFFFF0ull, 8); /* offset overflow */
    expect_refused(b, sizeof(b), "past the end");
    make_elf(b, 62, 0x100000);
    put(b + 64 + 24, 0xFFFFFFFFFFFFFFF0ull, 8); /* paddr wraps */
    expect_refused(b, sizeof(b), "wraps");
    make_elf(b, 62, 0x100000);
    put(b + 64, 4, 4); /* no PT_LOAD left */
    expect_refused(b, sizeof(b), "no loadable");
    make_elf(b, 62, 0x100000);
    put(b + 24, 0x200000, 8); /* entry outside */
    expect_refused(b, sizeof(b), "entry point");
    make_elf(b, 62, 0x100000);
    put(b + 64 + 4, 6, 4); /* R+W, no X: entry not executable */
    expect_refused(b, sizeof(b), "entry point");
}

static void test_overlapping_segments(void **state)
{
    (void)state;
    uint8_t b[IMG_SIZE];
    make_elf(b, 62, 0x100000);
    put(b + 56, 2, 2);
    memcpy(b + 120, b + 64, 56);
    put(b + 120 + 24, 0x100010, 8); /* second segment overlaps the first */
    expect_refused(b, sizeof(b), "overlap");
    put(b + 120 + 24, 0x100020, 8); /* adjacent is fine */
    struct vmdl_image img;
    assert_int_equal(vmdl_elf_parse(b, sizeof(b), &img), 0);
    assert_int_equal(img.nr_segments, 2);
}

static void test_load_into_vm_checks_ram_and_arch(void **state)
{
    (void)state;
    uint8_t b[IMG_SIZE];
    struct vmdl_vm *vm;
    struct vmdl_vm_config cfg = {.arch = VMDL_ARCH_X86_64, .ram_size = 2 << 20};
    assert_int_equal(vmdl_vm_create(&cfg, &vm), 0);
    make_elf(b, 183, 0x40080000);
    assert_int_equal(vmdl_vm_load_elf(vm, b, sizeof(b)), VMDL_EFORMAT);
    assert_non_null(strstr(vmdl_last_error(), "cannot run"));
    make_elf(b, 62, 0x300000); /* beyond 2 MiB of RAM */
    assert_int_equal(vmdl_vm_load_elf(vm, b, sizeof(b)), VMDL_EFORMAT);
    assert_non_null(strstr(vmdl_last_error(), "outside guest RAM"));
    make_elf(b, 62, 0xFEE00000); /* on the APIC window */
    assert_int_equal(vmdl_vm_load_elf(vm, b, sizeof(b)), VMDL_EFORMAT);
    make_elf(b, 62, 0x100000);
    assert_int_equal(vmdl_vm_load_elf(vm, b, sizeof(b)), 0);
    uint8_t *ram = vmdl_vm_ram_ptr(vm, 0x100000, 32);
    assert_int_equal(ram[0], 0x90);
    assert_int_equal(ram[15], 0x90);
    assert_int_equal(ram[16], 0); /* zero-filled up to memsz */
    assert_int_equal(vmdl_vm_load_raw(vm, b, sizeof(b), (2 << 20) - 8), VMDL_EFORMAT);
    vmdl_vm_destroy(vm);
}

static void test_read_file_errors(void **state)
{
    (void)state;
    uint8_t *d;
    size_t n;
    assert_int_equal(vmdl_read_file("/nonexistent/guest.elf", &d, &n), VMDL_EIO);
    assert_non_null(strstr(vmdl_last_error(), "No such file"));
    assert_int_equal(vmdl_read_file("/", &d, &n), VMDL_EIO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_elf_parses),
        cmocka_unit_test(test_truncated_at_every_length),
        cmocka_unit_test(test_header_errors),
        cmocka_unit_test(test_segment_errors),
        cmocka_unit_test(test_overlapping_segments),
        cmocka_unit_test(test_load_into_vm_checks_ram_and_arch),
        cmocka_unit_test(test_read_file_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
