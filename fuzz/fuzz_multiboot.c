/* SPDX-License-Identifier: MIT */
/*
 * fuzz_multiboot: vmdl_multiboot_parse and vmdl_multiboot_place
 * (src/core/multiboot.c, pure) on the raw input as a kernel image, with a
 * module cut from the input's tail and a command line.
 *
 * Invariants: nothing is read outside the input (ASan: exact-size copy) or
 * written outside the RAM buffer (exact-size heap allocation); failures are
 * VMDL_EFORMAT / VMDL_ENOENT with a message; on success every segment's file
 * bytes lie in the input and below 4 GiB, the entry lies in an executable
 * segment; a successful placement leaves the information block, its module
 * list and memory map inside RAM, the module's bytes copied at a page
 * boundary after the image, and the boot-info flags the loader promises.
 */
#include "fuzz_util.h"

#include "virtmodel/error.h"
#include "virtmodel/multiboot.h"

#define RAM_SIZE (6u << 20)

/* A global (ASan puts redzones around it): one allocation for every run. */
static uint8_t ram[RAM_SIZE];

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static void check_placed(const struct vmdl_image *img,
                         const struct vmdl_mb_placed *out, const uint8_t *mod,
                         size_t mod_len)
{
    FZ_CHECK(out->entry == img->entry, "entry");
    FZ_CHECK(out->info_addr % 4096 == 0 && out->info_addr + 88 <= RAM_SIZE,
             "info block at 0x%x", out->info_addr);
    const uint8_t *mbi = ram + out->info_addr;
    FZ_CHECK((get32(mbi) & 0x24F) == 0x24F, "flags 0x%x", get32(mbi));
    FZ_CHECK(get32(mbi + 20) == 1, "module count");
    uint32_t arr = get32(mbi + 24);
    FZ_CHECK(arr + 16 <= RAM_SIZE, "module list outside RAM");
    uint32_t start = get32(ram + arr), end = get32(ram + arr + 4);
    FZ_CHECK(start % 4096 == 0 && end - start == mod_len && end <= RAM_SIZE,
             "module 0x%x-0x%x", start, end);
    FZ_CHECK(!mod_len || !memcmp(ram + start, mod, mod_len), "module bytes");
    for (unsigned i = 0; i < img->nr_segments; i++)
        FZ_CHECK(start >= img->seg[i].paddr + img->seg[i].memsz,
                 "module overlaps segment %u", i);
    FZ_CHECK(get32(mbi + 48) + get32(mbi + 44) <= RAM_SIZE, "memory map");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    struct vmdl_image img;
    vmdl_clear_error();
    int err = vmdl_multiboot_parse(copy, size, &img);
    if (err) {
        FZ_CHECK(err == VMDL_EFORMAT || err == VMDL_ENOENT, "error %d", err);
        FZ_CHECK(vmdl_last_error()[0], "failure without a message");
        free(copy);
        return 0;
    }
    bool entry_ok = false;
    for (unsigned i = 0; i < img.nr_segments; i++) {
        const struct vmdl_image_segment *s = &img.seg[i];
        FZ_CHECK(s->offset <= size && s->filesz <= size - s->offset, "segment %u", i);
        FZ_CHECK(s->filesz <= s->memsz && s->paddr + s->memsz <= 0x100000000ull,
                 "segment %u sizes", i);
        if ((s->flags & 1) && img.entry - s->paddr < s->memsz)
            entry_ok = true;
    }
    FZ_CHECK(entry_ok, "entry 0x%llx", (unsigned long long)img.entry);
    size_t mod_len = size < 64 ? size : 64;
    struct vmdl_mb_module mod = { copy + size - mod_len, mod_len, "mod" };
    struct vmdl_mb_boot boot = { "console=ttyS0", &mod, 1 };
    struct vmdl_mb_placed out;
    err = vmdl_multiboot_place(&img, copy, size, &boot, ram, RAM_SIZE, &out);
    if (!err)
        check_placed(&img, &out, mod.data, mod_len);
    else
        FZ_CHECK(err == VMDL_EFORMAT && vmdl_last_error()[0], "place error %d", err);
    free(copy);
    return 0;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_header(uint8_t *p, uint32_t flags)
{
    put32(p, 0x1BADB002u);
    put32(p + 4, flags);
    put32(p + 8, (uint32_t)-(0x1BADB002u + flags));
}

static void write_seeds(const char *dir)
{
    uint8_t b[0x400];
    /* ELF32 with the header inside its one executable segment */
    memset(b, 0, sizeof(b));
    memcpy(b, "\x7F" "ELF", 4);
    b[4] = 1; b[5] = 1; b[6] = 1; b[16] = 2; b[18] = 3; b[20] = 1;
    put32(b + 24, 0x10000c);
    put32(b + 28, 52);
    b[42] = 32; b[44] = 1;
    put32(b + 52, 1); put32(b + 56, 0x80); put32(b + 60, 0x100000);
    put32(b + 64, 0x100000); put32(b + 68, 0x100); put32(b + 72, 0x2000);
    put32(b + 76, 5);
    put_header(b + 0x80, 3);
    fz_save(dir, "elf32.bin", b, 0x180);
    /* a.out kludge */
    memset(b, 0x90, sizeof(b));
    put_header(b + 0x20, 1u << 16);
    put32(b + 0x2c, 0x100020); put32(b + 0x30, 0x100000);
    put32(b + 0x34, 0x100400); put32(b + 0x38, 0x101000);
    put32(b + 0x3c, 0x100040);
    fz_save(dir, "kludge.bin", b, 0x400);
}

FZ_SEED_WRITER_MAIN()
