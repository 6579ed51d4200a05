/* SPDX-License-Identifier: MIT */
/*
 * Multiboot v1: header search, load description (a.out kludge or ELF32) and
 * the boot information block, all pure (no machine dependency).  Field
 * offsets follow the Multiboot Specification 0.6.96, sections 3.1 and 3.3.
 */
#include <stdbool.h>
#include <string.h>

#include "virtmodel/error.h"
#include "virtmodel/multiboot.h"

#define FOUR_GIB 0x100000000ull
#define PAGE 4096ull
#define EM_386 3
#define ET_EXEC 2
#define PT_LOAD 1
#define PF_X 1
#define EHDR32_SIZE 52
#define PHDR32_SIZE 32
#define MBI_SIZE 88
#define MOD_ENTRY_SIZE 16
#define MMAP_ENTRY_SIZE 24 /* the size field (20) plus the 20 bytes it counts */
#define LOW_RAM_END 0x9FC00ull /* the EBDA starts here, as on a PC */
#define HIGH_RAM_START 0x100000ull
#define LOADER_NAME "virtmodel"

/* Header flags a loader must understand (bits 0-15 are "required"). */
#define KNOWN_REQUIRED (VMDL_MB_FLAG_PAGE_ALIGN | VMDL_MB_FLAG_MEMORY_INFO | \
                        VMDL_MB_FLAG_VIDEO_MODE)

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (unsigned i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

static int read_kludge(const uint8_t *p, size_t size, uint32_t off,
                       struct vmdl_mb_header *h)
{
    if (size - off < 32)
        return vmdl_fail(VMDL_EFORMAT, "multiboot: the header at 0x%x asks for the "
                         "a.out kludge but the file ends inside its address fields", off);
    h->header_addr = le32(p + off + 12);
    h->load_addr = le32(p + off + 16);
    h->load_end_addr = le32(p + off + 20);
    h->bss_end_addr = le32(p + off + 24);
    h->entry_addr = le32(p + off + 28);
    return VMDL_OK;
}

int vmdl_multiboot_find(const void *data, size_t size, struct vmdl_mb_header *h)
{
    const uint8_t *p = data;
    if (!data || !h)
        return vmdl_fail(VMDL_EINVAL, "vmdl_multiboot_find: NULL argument");
    memset(h, 0, sizeof(*h));
    size_t limit = size < VMDL_MB_SEARCH_BYTES ? size : VMDL_MB_SEARCH_BYTES;
    for (size_t off = 0; off + 12 <= limit; off += 4) {
        uint32_t magic = le32(p + off), flags = le32(p + off + 4);
        if (magic != VMDL_MB_HEADER_MAGIC ||
            (uint32_t)(magic + flags + le32(p + off + 8)) != 0)
            continue;
        h->offset = (uint32_t)off;
        h->flags = flags;
        if (flags & 0xFFFFu & ~KNOWN_REQUIRED)
            return vmdl_fail(VMDL_EFORMAT, "multiboot: header flags 0x%x ask for "
                             "features this loader does not know (required bits "
                             "0x%x)", flags, flags & 0xFFFFu & ~KNOWN_REQUIRED);
        if (flags & VMDL_MB_FLAG_AOUT_KLUDGE)
            return read_kludge(p, size, (uint32_t)off, h);
        return VMDL_OK;
    }
    return vmdl_fail(VMDL_ENOENT, "multiboot: no header (magic 0x%08x with a valid "
                     "checksum) in the first %u bytes", VMDL_MB_HEADER_MAGIC,
                     VMDL_MB_SEARCH_BYTES);
}

static int check_segments(struct vmdl_image *img)
{
    bool entry_ok = false;
    for (unsigned i = 0; i < img->nr_segments; i++) {
        const struct vmdl_image_segment *s = &img->seg[i];
        if (s->paddr >= FOUR_GIB || s->memsz > FOUR_GIB - s->paddr)
            return vmdl_fail(VMDL_EFORMAT, "multiboot: segment 0x%llx+0x%llx does "
                             "not fit below 4 GiB", (unsigned long long)s->paddr,
                             (unsigned long long)s->memsz);
        for (unsigned k = 0; k < i; k++) {
            const struct vmdl_image_segment *o = &img->seg[k];
            if (s->paddr < o->paddr + o->memsz && o->paddr < s->paddr + s->memsz)
                return vmdl_fail(VMDL_EFORMAT, "multiboot: segments %u and %u "
                                 "overlap", k, i);
        }
        if ((s->flags & PF_X) && img->entry >= s->paddr &&
            img->entry - s->paddr < s->memsz)
            entry_ok = true;
    }
    if (!entry_ok)
        return vmdl_fail(VMDL_EFORMAT, "multiboot: entry 0x%llx lies outside every "
                         "loaded executable range", (unsigned long long)img->entry);
    return VMDL_OK;
}

static int parse_kludge(const struct vmdl_mb_header *h, size_t size,
                        struct vmdl_image *img)
{
    if (h->load_addr > h->header_addr || h->header_addr - h->load_addr > h->offset)
        return vmdl_fail(VMDL_EFORMAT, "multiboot: load_addr 0x%x and header_addr "
                         "0x%x put the image before the file's start",
                         h->load_addr, h->header_addr);
    uint64_t file_off = h->offset - (h->header_addr - h->load_addr);
    uint64_t load_len = h->load_end_addr ? (uint64_t)h->load_end_addr - h->load_addr
                                         : size - file_off;
    if (h->load_end_addr && h->load_end_addr <= h->load_addr)
        return vmdl_fail(VMDL_EFORMAT, "multiboot: load_end_addr 0x%x is not above "
                         "load_addr 0x%x", h->load_end_addr, h->load_addr);
    if (load_len > size - file_off)
        return vmdl_fail(VMDL_EFORMAT, "multiboot: 0x%llx bytes to load from file "
                         "offset 0x%llx, but the file has 0x%zx",
                         (unsigned long long)load_len, (unsigned long long)file_off,
                         size);
    uint64_t mem_len = load_len;
    if (h->bss_end_addr) {
        if (h->bss_end_addr < h->load_addr + load_len)
            return vmdl_fail(VMDL_EFORMAT, "multiboot: bss_end_addr 0x%x lies below "
                             "the loaded range's end 0x%llx", h->bss_end_addr,
                             (unsigned long long)(h->load_addr + load_len));
        mem_len = (uint64_t)h->bss_end_addr - h->load_addr;
    }
    if (!mem_len)
        return vmdl_fail(VMDL_EFORMAT, "multiboot: nothing to load");
    img->nr_segments = 1;
    img->seg[0] = (struct vmdl_image_segment){ .paddr = h->load_addr,
        .offset = file_off, .filesz = load_len, .memsz = mem_len, .flags = 7 };
    img->entry = h->entry_addr;
    return VMDL_OK;
}

static int parse_phdr32(const uint8_t *ph, size_t size, struct vmdl_image *img)
{
    uint32_t off = le32(ph + 4), paddr = le32(ph + 12);
    uint32_t filesz = le32(ph + 16), memsz = le32(ph + 20);
    if (filesz > memsz)
        return vmdl_fail(VMDL_EFORMAT, "multiboot ELF: segment filesz 0x%x > memsz "
                         "0x%x", filesz, memsz);
    if (off > size || filesz > size - off)
        return vmdl_fail(VMDL_EFORMAT, "multiboot ELF: segment 0x%x+0x%x lies "
                         "outside the 0x%zx-byte file", off, filesz, size);
    if (!memsz)
        return VMDL_OK;
    if (img->nr_segments == VMDL_IMAGE_MAX_SEGMENTS)
        return vmdl_fail(VMDL_EFORMAT, "multiboot ELF: more than %d loadable "
                         "segments", VMDL_IMAGE_MAX_SEGMENTS);
    img->seg[img->nr_segments++] = (struct vmdl_image_segment){ .paddr = paddr,
        .offset = off, .filesz = filesz, .memsz = memsz, .flags = le32(ph + 24) };
    return VMDL_OK;
}

static int parse_elf32(const uint8_t *p, size_t size, struct vmdl_image *img)
{
    if (size < EHDR32_SIZE || memcmp(p, "\x7F" "ELF", 4))
        return vmdl_fail(VMDL_EFORMAT, "multiboot: no a.out kludge and not an ELF "
                         "file");
    if (p[4] != 1)
        return vmdl_fail(VMDL_EFORMAT, "multiboot: ELF class %u; a multiboot "
                         "kernel is ELFCLASS32 (as QEMU requires)", p[4]);
    if (p[5] != 1 || p[6] != 1)
        return vmdl_fail(VMDL_EFORMAT, "multiboot ELF: not little-endian version 1");
    if (le16(p + 16) != ET_EXEC || le16(p + 18) != EM_386)
        return vmdl_fail(VMDL_EFORMAT, "multiboot ELF: type %u machine %u, not an "
                         "i386 executable", le16(p + 16), le16(p + 18));
    uint32_t phoff = le32(p + 28);
    uint16_t phentsize = le16(p + 42), phnum = le16(p + 44);
    if (!phnum || phentsize < PHDR32_SIZE || phoff > size ||
        (uint64_t)phnum * phentsize > size - phoff)
        return vmdl_fail(VMDL_EFORMAT, "multiboot ELF: program headers (%u x %u at "
                         "0x%x) missing or outside the file", phnum, phentsize, phoff);
    img->entry = le32(p + 24);
    for (unsigned i = 0; i < phnum; i++) {
        const uint8_t *ph = p + phoff + (size_t)i * phentsize;
        if (le32(ph) != PT_LOAD)
            continue;
        int err = parse_phdr32(ph, size, img);
        if (err)
            return err;
    }
    if (!img->nr_segments)
        return vmdl_fail(VMDL_EFORMAT, "multiboot ELF: no loadable segment");
    return VMDL_OK;
}

int vmdl_multiboot_parse(const void *data, size_t size, struct vmdl_image *img)
{
    struct vmdl_mb_header h;
    if (!data || !img)
        return vmdl_fail(VMDL_EINVAL, "vmdl_multiboot_parse: NULL argument");
    memset(img, 0, sizeof(*img));
    int err = vmdl_multiboot_find(data, size, &h);
    if (err)
        return err;
    img->arch = VMDL_ARCH_X86_64;
    err = (h.flags & VMDL_MB_FLAG_AOUT_KLUDGE) ? parse_kludge(&h, size, img)
                                                : parse_elf32(data, size, img);
    if (!err)
        err = check_segments(img);
    if (err)
        memset(img, 0, sizeof(*img));
    return err;
}

/* ---- placement ---------------------------------------------------------- */

struct layout {
    uint64_t mods, info, mods_arr, mmap, strings, end;
    uint64_t str_len;
    unsigned nr_mmap;
};

static uint64_t image_end(const struct vmdl_image *img)
{
    uint64_t end = 0;
    for (unsigned i = 0; i < img->nr_segments; i++)
        if (img->seg[i].paddr + img->seg[i].memsz > end)
            end = img->seg[i].paddr + img->seg[i].memsz;
    return end;
}

static uint64_t strings_len(const struct vmdl_mb_boot *b)
{
    uint64_t n = sizeof(LOADER_NAME) + strlen(b->cmdline ? b->cmdline : "") + 1;
    for (unsigned i = 0; i < b->nr_mods; i++)
        n += strlen(b->mods[i].cmdline ? b->mods[i].cmdline : "") + 1;
    return n;
}

static int plan(const struct vmdl_image *img, const struct vmdl_mb_boot *b,
                uint64_t ram_size, uint64_t high_size, struct layout *l)
{
    uint64_t top = ram_size < FOUR_GIB ? ram_size : FOUR_GIB;
    l->mods = align_up(image_end(img), PAGE);
    uint64_t at = l->mods;
    for (unsigned i = 0; i < b->nr_mods; i++) {
        if (b->mods[i].size > top)
            return vmdl_fail(VMDL_EFORMAT, "multiboot: module %u (%zu bytes) is "
                             "larger than RAM", i, b->mods[i].size);
        at = align_up(at + b->mods[i].size, PAGE);
    }
    l->nr_mmap = high_size ? 5 : 4;
    l->info = at;
    l->mods_arr = l->info + MBI_SIZE;
    l->mmap = l->mods_arr + (uint64_t)MOD_ENTRY_SIZE * b->nr_mods;
    l->strings = l->mmap + (uint64_t)MMAP_ENTRY_SIZE * l->nr_mmap;
    l->str_len = strings_len(b);
    l->end = l->strings + l->str_len;
    if (l->end > top)
        return vmdl_fail(VMDL_EFORMAT, "multiboot: the image, %u module(s) and the "
                         "boot information need RAM up to 0x%llx; RAM below 4 GiB "
                         "ends at 0x%llx", b->nr_mods, (unsigned long long)l->end,
                         (unsigned long long)top);
    return VMDL_OK;
}

static void write_mmap(uint8_t *p, uint64_t top, uint64_t high_size)
{
    static const struct { uint64_t base, end; uint32_t type; } fixed[3] = {
        { 0, LOW_RAM_END, 1 },
        { LOW_RAM_END, 0xA0000, 2 },
        { 0xF0000, HIGH_RAM_START, 2 }, /* BIOS area: ACPI RSDP lives here */
    };
    for (unsigned i = 0; i < 3; i++, p += MMAP_ENTRY_SIZE) {
        put32(p, 20);
        put64(p + 4, fixed[i].base);
        put64(p + 12, fixed[i].end - fixed[i].base);
        put32(p + 20, fixed[i].type);
    }
    put32(p, 20);
    put64(p + 4, HIGH_RAM_START);
    put64(p + 12, top - HIGH_RAM_START);
    put32(p + 20, 1);
    if (!high_size)
        return;
    p += MMAP_ENTRY_SIZE;   /* RAM split around the PCI hole: the rest */
    put32(p, 20);
    put64(p + 4, FOUR_GIB);
    put64(p + 12, high_size);
    put32(p + 20, 1);
}

static uint32_t put_string(uint8_t *ram, uint64_t *at, const char *s)
{
    size_t n = strlen(s ? s : "") + 1;
    memcpy(ram + *at, s ? s : "", n);
    uint32_t addr = (uint32_t)*at;
    *at += n;
    return addr;
}

static void write_info(const struct vmdl_mb_boot *b, const struct layout *l,
                       uint8_t *ram, uint64_t top, uint64_t high_size)
{
    uint8_t *mbi = ram + l->info;
    uint64_t str = l->strings;
    memset(mbi, 0, MBI_SIZE);
    put32(mbi + 0, VMDL_MBI_MEM | VMDL_MBI_BOOT_DEVICE | VMDL_MBI_CMDLINE |
                       VMDL_MBI_MODS | VMDL_MBI_MMAP | VMDL_MBI_LOADER_NAME);
    put32(mbi + 4, (uint32_t)(LOW_RAM_END / 1024));
    put32(mbi + 8, (uint32_t)((top - HIGH_RAM_START) / 1024));
    put32(mbi + 12, 0x8000FFFFu); /* first hard disk, no partition (as QEMU) */
    put32(mbi + 16, put_string(ram, &str, b->cmdline));
    put32(mbi + 20, b->nr_mods);
    put32(mbi + 24, (uint32_t)l->mods_arr);
    put32(mbi + 44, (uint32_t)(MMAP_ENTRY_SIZE * l->nr_mmap));
    put32(mbi + 48, (uint32_t)l->mmap);
    put32(mbi + 64, put_string(ram, &str, LOADER_NAME));
    uint64_t at = l->mods;
    for (unsigned i = 0; i < b->nr_mods; i++) {
        uint8_t *e = ram + l->mods_arr + (uint64_t)MOD_ENTRY_SIZE * i;
        if (b->mods[i].size)
            memcpy(ram + at, b->mods[i].data, b->mods[i].size);
        put32(e, (uint32_t)at);
        put32(e + 4, (uint32_t)(at + b->mods[i].size));
        put32(e + 8, put_string(ram, &str, b->mods[i].cmdline));
        put32(e + 12, 0);
        at = align_up(at + b->mods[i].size, PAGE);
    }
    write_mmap(ram + l->mmap, top, high_size);
}

int vmdl_multiboot_place(const struct vmdl_image *img, const void *data,
                         size_t size, const struct vmdl_mb_boot *boot,
                         uint8_t *ram, uint64_t ram_size,
                         struct vmdl_mb_placed *out)
{
    return vmdl_multiboot_place_split(img, data, size, boot, ram, ram_size, 0, out);
}

int vmdl_multiboot_place_split(const struct vmdl_image *img, const void *data,
                               size_t size, const struct vmdl_mb_boot *boot,
                               uint8_t *ram, uint64_t ram_size, uint64_t high_size,
                               struct vmdl_mb_placed *out)
{
    static const struct vmdl_mb_boot none;
    struct layout l = { 0 };
    if (!img || !data || !ram || !out)
        return vmdl_fail(VMDL_EINVAL, "vmdl_multiboot_place: NULL argument");
    boot = boot ? boot : &none;
    if (boot->nr_mods > VMDL_MB_MAX_MODULES || (boot->nr_mods && !boot->mods))
        return vmdl_fail(VMDL_EINVAL, "multiboot: %u modules (at most %d)",
                         boot->nr_mods, VMDL_MB_MAX_MODULES);
    if (ram_size < 2 * HIGH_RAM_START)
        return vmdl_fail(VMDL_EINVAL, "multiboot: needs at least 2 MiB of RAM");
    for (unsigned i = 0; i < img->nr_segments; i++) {
        const struct vmdl_image_segment *s = &img->seg[i];
        if (s->paddr > ram_size || s->memsz > ram_size - s->paddr ||
            s->offset > size || s->filesz > size - s->offset || s->filesz > s->memsz)
            return vmdl_fail(VMDL_EFORMAT, "multiboot: segment 0x%llx+0x%llx lies "
                             "outside RAM (0x%llx bytes) or outside the file",
                             (unsigned long long)s->paddr,
                             (unsigned long long)s->memsz,
                             (unsigned long long)ram_size);
    }
    if (high_size && (ram_size > FOUR_GIB || (high_size & (PAGE - 1))))
        return vmdl_fail(VMDL_EINVAL, "multiboot: RAM above 4 GiB (0x%llx bytes) needs "
                         "page-sized RAM below it (0x%llx bytes)",
                         (unsigned long long)high_size, (unsigned long long)ram_size);
    int err = plan(img, boot, ram_size, high_size, &l);
    if (err)
        return err;
    for (unsigned i = 0; i < img->nr_segments; i++) {
        const struct vmdl_image_segment *s = &img->seg[i];
        memcpy(ram + s->paddr, (const uint8_t *)data + s->offset, s->filesz);
        memset(ram + s->paddr + s->filesz, 0, s->memsz - s->filesz);
    }
    write_info(boot, &l, ram, ram_size < FOUR_GIB ? ram_size : FOUR_GIB, high_size);
    *out = (struct vmdl_mb_placed){ .info_addr = (uint32_t)l.info,
        .entry = (uint32_t)img->entry, .used_start = l.mods, .used_end = l.end };
    return VMDL_OK;
}
