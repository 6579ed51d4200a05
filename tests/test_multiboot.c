/* SPDX-License-Identifier: MIT */
/* Multiboot v1: header search, ELF32 and a.out-kludge loading, boot info. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "virtmodel/error.h"
#include "virtmodel/multiboot.h"

#define RAM (8u << 20)

static void put32(uint8_t *p, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void put_header(uint8_t *p, uint32_t flags)
{
    put32(p, VMDL_MB_HEADER_MAGIC);
    put32(p + 4, flags);
    put32(p + 8, (uint32_t)-(VMDL_MB_HEADER_MAGIC + flags));
}

/*
 * A 32-bit ELF executable like kvm-unit-tests' .flat files: one R+X segment
 * at 0x400000 holding the multiboot header (file offset 0x80), a second RW
 * segment with bss at 0x402000.
 */
static size_t make_elf32(uint8_t *b, size_t cap)
{
    memset(b, 0, cap);
    memcpy(b, "\x7F" "ELF", 4);
    b[4] = 1; b[5] = 1; b[6] = 1;
    put16(b + 16, 2);
    put16(b + 18, 3);
    put32(b + 20, 1);
    put32(b + 24, 0x40000c);          /* entry: after the header */
    put32(b + 28, 52);                /* phoff */
    put16(b + 40, 52);
    put16(b + 42, 32);
    put16(b + 44, 2);
    uint8_t *ph = b + 52;
    put32(ph, 1); put32(ph + 4, 0x80); put32(ph + 8, 0x400000);
    put32(ph + 12, 0x400000); put32(ph + 16, 0x100); put32(ph + 20, 0x100);
    put32(ph + 24, 5);
    ph += 32;
    put32(ph, 1); put32(ph + 4, 0x180); put32(ph + 8, 0x402000);
    put32(ph + 12, 0x402000); put32(ph + 16, 0x10); put32(ph + 20, 0x3000);
    put32(ph + 24, 6);
    put_header(b + 0x80, VMDL_MB_FLAG_PAGE_ALIGN | VMDL_MB_FLAG_MEMORY_INFO);
    memset(b + 0x8c, 0x90, 0x100 - 0xc);
    memset(b + 0x180, 0xAB, 0x10);
    return 0x190;
}

/* An a.out-kludge image: header at file offset 0x20, loaded at 0x100000. */
static size_t make_kludge(uint8_t *b, size_t cap, uint32_t bss_end)
{
    memset(b, 0xCC, cap);
    uint8_t *h = b + 0x20;
    put_header(h, VMDL_MB_FLAG_AOUT_KLUDGE);
    put32(h + 12, 0x100020);   /* header_addr */
    put32(h + 16, 0x100000);   /* load_addr */
    put32(h + 20, 0x100400);   /* load_end_addr */
    put32(h + 24, bss_end);
    put32(h + 28, 0x100040);   /* entry */
    return 0x400;
}

static void test_find_header_rules(void **state)
{
    (void)state;
    uint8_t b[9000];
    struct vmdl_mb_header h;
    memset(b, 0, sizeof(b));
    assert_int_equal(vmdl_multiboot_find(b, sizeof(b), &h), VMDL_ENOENT);
    put_header(b + 8, 0);
    assert_int_equal(vmdl_multiboot_find(b, sizeof(b), &h), VMDL_OK);
    assert_int_equal(h.offset, 8);
    /* a bad checksum is no header */
    b[16] ^= 1;
    assert_int_equal(vmdl_multiboot_find(b, sizeof(b), &h), VMDL_ENOENT);
    memset(b, 0, sizeof(b));
    /* only 4-byte aligned headers count */
    put_header(b + 6, 0);
    assert_int_equal(vmdl_multiboot_find(b, sizeof(b), &h), VMDL_ENOENT);
    memset(b, 0, sizeof(b));
    /* beyond the first 8 KiB */
    put_header(b + 8192, 0);
    assert_int_equal(vmdl_multiboot_find(b, sizeof(b), &h), VMDL_ENOENT);
    /* within 8 KiB but the file ends inside the header */
    assert_int_equal(vmdl_multiboot_find(b, 8190, &h), VMDL_ENOENT);
}

static void test_find_refuses_unknown_required_flags(void **state)
{
    (void)state;
    uint8_t b[64] = { 0 };
    struct vmdl_mb_header h;
    put_header(b, 1u << 3);
    assert_int_equal(vmdl_multiboot_find(b, sizeof(b), &h), VMDL_EFORMAT);
    assert_non_null(strstr(vmdl_last_error(), "0x8"));
    /* optional bits (16-31) other than the kludge are ignored */
    put_header(b, 1u << 20);
    assert_int_equal(vmdl_multiboot_find(b, sizeof(b), &h), VMDL_OK);
    /* a kludge header cut short */
    put_header(b + 40, VMDL_MB_FLAG_AOUT_KLUDGE);
    memset(b, 0, 40);
    assert_int_equal(vmdl_multiboot_find(b, 60, &h), VMDL_EFORMAT);
}

static void test_parse_elf32(void **state)
{
    (void)state;
    uint8_t b[0x400];
    size_t n = make_elf32(b, sizeof(b));
    struct vmdl_image img;
    assert_int_equal(vmdl_multiboot_parse(b, n, &img), VMDL_OK);
    assert_int_equal(img.entry, 0x40000c);
    assert_int_equal(img.nr_segments, 2);
    assert_int_equal(img.seg[0].paddr, 0x400000);
    assert_int_equal(img.seg[0].offset, 0x80);
    assert_int_equal(img.seg[1].memsz, 0x3000);
    assert_int_equal(img.seg[1].filesz, 0x10);
}

static void test_parse_elf32_refusals(void **state)
{
    (void)state;
    uint8_t b[0x400];
    struct vmdl_image img;
    size_t n = make_elf32(b, sizeof(b));
    b[4] = 2;                                   /* ELF64 */
    assert_int_equal(vmdl_multiboot_parse(b, n, &img), VMDL_EFORMAT);
    assert_non_null(strstr(vmdl_last_error(), "ELFCLASS32"));
    n = make_elf32(b, sizeof(b));
    put16(b + 18, 62);                          /* EM_X86_64 */
    assert_int_equal(vmdl_multiboot_parse(b, n, &img), VMDL_EFORMAT);
    n = make_elf32(b, sizeof(b));
    put32(b + 52 + 4, 0x380);                   /* segment past the file */
    assert_int_equal(vmdl_multiboot_parse(b, n, &img), VMDL_EFORMAT);
    n = make_elf32(b, sizeof(b));
    put32(b + 52 + 16, 0x200);                  /* filesz > memsz */
    assert_int_equal(vmdl_multiboot_parse(b, n, &img), VMDL_EFORMAT);
    n = make_elf32(b, sizeof(b));
    put32(b + 24, 0x402000);                    /* entry in the RW segment */
    assert_int_equal(vmdl_multiboot_parse(b, n, &img), VMDL_EFORMAT);
    n = make_elf32(b, sizeof(b));
    put32(b + 52 + 32 + 12, 0x400080);          /* overlapping segments */
    assert_int_equal(vmdl_multiboot_parse(b, n, &img), VMDL_EFORMAT);
    n = make_elf32(b, sizeof(b));
    put32(b + 52 + 32 + 12, 0xFFFFF000);        /* crosses 4 GiB */
    assert_int_equal(vmdl_multiboot_parse(b, n, &img), VMDL_EFORMAT);
    n = make_elf32(b, sizeof(b));
    put16(b + 44, 0x7FFF);                      /* headers past the end */
    assert_int_equal(vmdl_multiboot_parse(b, n, &img), VMDL_EFORMAT);
    assert_int_equal(img.nr_segments, 0);
}

static void test_parse_kludge(void **state)
{
    (void)state;
    uint8_t b[0x400];
    struct vmdl_image img;
    size_t n = make_kludge(b, sizeof(b), 0x102000);
    assert_int_equal(vmdl_multiboot_parse(b, n, &img), VMDL_OK);
    assert_int_equal(img.nr_segments, 1);
    assert_int_equal(img.seg[0].paddr, 0x100000);
    assert_int_equal(img.seg[0].offset, 0);
    assert_int_equal(img.seg[0].filesz, 0x400);
    assert_int_equal(img.seg[0].memsz, 0x2000);
    assert_int_equal(img.entry, 0x100040);
    /* load_end_addr 0: the rest of the file */
    put32(b + 0x20 + 20, 0);
    put32(b + 0x20 + 24, 0);
    assert_int_equal(vmdl_multiboot_parse(b, n, &img), VMDL_OK);
    assert_int_equal(img.seg[0].filesz, 0x400);
    assert_int_equal(img.seg[0].memsz, 0x400);
}

static void test_parse_kludge_refusals(void **state)
{
    (void)state;
    uint8_t b[0x400];
    struct vmdl_image img;
    size_t n = make_kludge(b, sizeof(b), 0x1000ff);   /* bss end below load end */
    assert_int_equal(vmdl_multiboot_parse(b, n, &img), VMDL_EFORMAT);
    n = make_kludge(b, sizeof(b), 0);
    put32(b + 0x20 + 16, 0x100030);                   /* load_addr > header_addr */
    assert_int_equal(vmdl_multiboot_parse(b, n, &img), VMDL_EFORMAT);
    n = make_kludge(b, sizeof(b), 0);
    put32(b + 0x20 + 16, 0x0FF000);                   /* image starts before file */
    assert_int_equal(vmdl_multiboot_parse(b, n, &img), VMDL_EFORMAT);
    n = make_kludge(b, sizeof(b), 0);
    put32(b + 0x20 + 20, 0x100800);                   /* more than the file has */
    assert_int_equal(vmdl_multiboot_parse(b, n, &img), VMDL_EFORMAT);
    n = make_kludge(b, sizeof(b), 0);
    put32(b + 0x20 + 28, 0x100400);                   /* entry past the image */
    assert_int_equal(vmdl_multiboot_parse(b, n, &img), VMDL_EFORMAT);
}

static void test_place_boot_info(void **state)
{
    (void)state;
    uint8_t b[0x400];
    size_t n = make_elf32(b, sizeof(b));
    struct vmdl_image img;
    assert_int_equal(vmdl_multiboot_parse(b, n, &img), VMDL_OK);
    uint8_t *ram = calloc(1, RAM);
    memset(ram + 0x402000, 0x55, 0x3000);   /* bss must come back zeroed */
    const char env[] = "NR_CPUS=1\n";
    struct vmdl_mb_module mod = { env, sizeof(env) - 1, "env" };
    struct vmdl_mb_boot boot = { "-x 1", &mod, 1 };
    struct vmdl_mb_placed out;
    assert_int_equal(vmdl_multiboot_place(&img, b, n, &boot, ram, RAM, &out), 0);
    assert_int_equal(out.entry, 0x40000c);
    assert_int_equal(get32(ram + 0x400000), VMDL_MB_HEADER_MAGIC);
    assert_int_equal(ram[0x402000], 0xAB);
    assert_int_equal(ram[0x402010], 0);
    assert_int_equal(ram[0x404fff], 0);
    const uint8_t *mbi = ram + out.info_addr;
    assert_int_equal(get32(mbi) & 0x24F, 0x24F);    /* mem, dev, cmdline, mods, mmap, name */
    assert_int_equal(get32(mbi + 4), 639);
    assert_int_equal(get32(mbi + 8), (RAM - 0x100000) / 1024);
    assert_string_equal((const char *)ram + get32(mbi + 16), "-x 1");
    assert_int_equal(get32(mbi + 20), 1);
    const uint8_t *m = ram + get32(mbi + 24);
    assert_int_equal(get32(m), 0x405000);           /* page after the bss */
    assert_int_equal(get32(m + 4), 0x405000 + sizeof(env) - 1);
    assert_memory_equal(ram + get32(m), env, sizeof(env) - 1);
    assert_string_equal((const char *)ram + get32(m + 8), "env");
    assert_string_equal((const char *)ram + get32(mbi + 64), "virtmodel");
    /* the memory map: 4 entries, the last from 1 MiB to the end of RAM */
    assert_int_equal(get32(mbi + 44), 4 * 24);
    const uint8_t *mm = ram + get32(mbi + 48);
    assert_int_equal(get32(mm), 20);
    assert_int_equal(get64(mm + 4), 0);
    assert_int_equal(get64(mm + 12), 0x9FC00);
    assert_int_equal(get32(mm + 20), 1);
    assert_int_equal(get32(mm + 24 + 20), 2);
    assert_int_equal(get64(mm + 72 + 4), 0x100000);
    assert_int_equal(get64(mm + 72 + 12), RAM - 0x100000);
    assert_int_equal(get32(mm + 72 + 20), 1);
    assert_true(out.info_addr >= 0x406000 && out.used_end <= RAM);
    free(ram);
}

/* RAM split around the PCI hole (QEMU pc, -m 4g: 3 GiB at 0, 1 GiB at
 * 4 GiB): a fifth map entry for the RAM above 4 GiB, mem_upper still counts
 * only the RAM below the hole.  The host buffer here is just the low part
 * the placement writes (the image, the module-less boot information). */
static void test_place_split_maps_ram_above_4g(void **state)
{
    (void)state;
    uint8_t b[0x400];
    size_t n = make_elf32(b, sizeof(b));
    struct vmdl_image img;
    assert_int_equal(vmdl_multiboot_parse(b, n, &img), VMDL_OK);
    uint8_t *ram = calloc(1, RAM);
    struct vmdl_mb_placed out;
    assert_int_equal(vmdl_multiboot_place_split(&img, b, n, NULL, ram, RAM, 1ull << 30,
                                                &out), 0);
    const uint8_t *mbi = ram + out.info_addr;
    assert_int_equal(get32(mbi + 8), (RAM - 0x100000) / 1024);
    assert_int_equal(get32(mbi + 44), 5 * 24);
    const uint8_t *mm = ram + get32(mbi + 48);
    assert_int_equal(get64(mm + 72 + 4), 0x100000);             /* below the hole */
    assert_int_equal(get64(mm + 72 + 12), RAM - 0x100000);
    assert_int_equal(get32(mm + 96), 20);
    assert_int_equal(get64(mm + 96 + 4), 0x100000000ull);       /* the rest, at 4 GiB */
    assert_int_equal(get64(mm + 96 + 12), 1ull << 30);
    assert_int_equal(get32(mm + 96 + 20), 1);
    assert_true(out.used_end <= RAM);
    /* Without RAM above 4 GiB the map is the usual four entries. */
    memset(ram, 0, RAM);
    assert_int_equal(vmdl_multiboot_place_split(&img, b, n, NULL, ram, RAM, 0, &out), 0);
    assert_int_equal(get32(ram + out.info_addr + 44), 4 * 24);
    /* RAM above 4 GiB must come after 4 GiB of it at most, in whole pages. */
    memset(ram, 0, RAM);
    assert_int_equal(vmdl_multiboot_place_split(&img, b, n, NULL, ram, 5ull << 30,
                                                1ull << 30, &out), VMDL_EINVAL);
    assert_int_equal(vmdl_multiboot_place_split(&img, b, n, NULL, ram, RAM, 0x800,
                                                &out), VMDL_EINVAL);
    assert_int_equal(ram[0x400000], 0);
    free(ram);
}

static void test_place_refuses_without_writing(void **state)
{
    (void)state;
    uint8_t b[0x400];
    size_t n = make_elf32(b, sizeof(b));
    struct vmdl_image img;
    assert_int_equal(vmdl_multiboot_parse(b, n, &img), VMDL_OK);
    uint8_t *ram = calloc(1, RAM);
    struct vmdl_mb_placed out;
    /* a module that does not fit */
    size_t big = RAM - 0x405000;
    uint8_t *blob = calloc(1, big);
    struct vmdl_mb_module mod = { blob, big, NULL };
    struct vmdl_mb_boot boot = { NULL, &mod, 1 };
    assert_int_equal(vmdl_multiboot_place(&img, b, n, &boot, ram, RAM, &out),
                     VMDL_EFORMAT);
    assert_int_equal(ram[0x400000], 0);
    /* the image beyond RAM */
    assert_int_equal(vmdl_multiboot_place(&img, b, n, NULL, ram, 0x400800, &out),
                     VMDL_EFORMAT);
    assert_int_equal(ram[0x400000], 0);
    /* too many modules, too little RAM */
    boot.nr_mods = VMDL_MB_MAX_MODULES + 1;
    assert_int_equal(vmdl_multiboot_place(&img, b, n, &boot, ram, RAM, &out),
                     VMDL_EINVAL);
    assert_int_equal(vmdl_multiboot_place(&img, b, n, NULL, ram, 0x100000, &out),
                     VMDL_EINVAL);
    /* no command line at all gives an empty string */
    assert_int_equal(vmdl_multiboot_place(&img, b, n, NULL, ram, RAM, &out), 0);
    assert_string_equal((const char *)ram + get32(ram + out.info_addr + 16), "");
    assert_int_equal(get32(ram + out.info_addr + 20), 0);
    free(blob);
    free(ram);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find_header_rules),
        cmocka_unit_test(test_find_refuses_unknown_required_flags),
        cmocka_unit_test(test_parse_elf32),
        cmocka_unit_test(test_parse_elf32_refusals),
        cmocka_unit_test(test_parse_kludge),
        cmocka_unit_test(test_parse_kludge_refusals),
        cmocka_unit_test(test_place_boot_info),
        cmocka_unit_test(test_place_split_maps_ram_above_4g),
        cmocka_unit_test(test_place_refuses_without_writing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
