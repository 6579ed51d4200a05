/* SPDX-License-Identifier: MIT */
/*
 * fuzz_elf: vmdl_elf_parse (src/core/elf.c, pure) on the raw input.
 *
 * Invariants: the parser never reads outside the input (ASan: the input is
 * copied into an exact-size heap buffer); on success there is at least one
 * segment and at most VMDL_IMAGE_MAX_SEGMENTS, every segment's file bytes
 * lie within the input, filesz <= memsz, no segment wraps or overlaps
 * another, the entry is inside an executable segment, the architecture is
 * x86-64 or arm64; on failure the error is VMDL_EFORMAT with a message.
 * vmdl_image_is_elf agrees with the magic.
 */
#include "fuzz_util.h"

#include "virtmodel/error.h"
#include "virtmodel/loader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    struct vmdl_image img;
    vmdl_clear_error();
    int err = vmdl_elf_parse(copy, size, &img);
    FZ_CHECK(vmdl_image_is_elf(copy, size) ==
                 (size >= 4 && !memcmp(copy, "\x7F" "ELF", 4)), "is_elf");
    if (err) {
        FZ_CHECK(err == VMDL_EFORMAT, "error %d", err);
        FZ_CHECK(vmdl_last_error()[0], "failure without a message");
        free(copy);
        return 0;
    }
    FZ_CHECK(img.arch == VMDL_ARCH_X86_64 || img.arch == VMDL_ARCH_ARM64, "arch");
    FZ_CHECK(img.nr_segments >= 1 && img.nr_segments <= VMDL_IMAGE_MAX_SEGMENTS,
             "%u segments", img.nr_segments);
    bool entry_ok = false;
    for (unsigned i = 0; i < img.nr_segments; i++) {
        const struct vmdl_image_segment *s = &img.seg[i];
        FZ_CHECK(s->offset <= size && s->filesz <= size - s->offset,
                 "segment %u (0x%llx+0x%llx) outside the %zu-byte input", i,
                 (unsigned long long)s->offset, (unsigned long long)s->filesz, size);
        FZ_CHECK(s->filesz <= s->memsz, "segment %u filesz > memsz", i);
        FZ_CHECK(s->memsz && s->paddr + s->memsz > s->paddr, "segment %u wraps", i);
        for (unsigned k = 0; k < i; k++) {
            const struct vmdl_image_segment *o = &img.seg[k];
            FZ_CHECK(s->paddr >= o->paddr + o->memsz || o->paddr >= s->paddr + s->memsz,
                     "segments %u and %u overlap", k, i);
        }
        /* Touch every file byte of the segment (ASan checks the range). */
        volatile uint8_t sum = 0;
        for (uint64_t b = 0; b < s->filesz; b++)
            sum ^= copy[s->offset + b];
        (void)sum;
        if ((s->flags & 1) && img.entry >= s->paddr && img.entry - s->paddr < s->memsz)
            entry_ok = true;
    }
    FZ_CHECK(entry_ok, "entry 0x%llx outside every executable segment",
             (unsigned long long)img.entry);
    free(copy);
    return 0;
}

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* A minimal static ELF64 executable with nseg PT_LOAD segments. */
static size_t make_elf(uint8_t *b, uint16_t machine, unsigned nseg, uint64_t base)
{
    memset(b, 0, 512);
    memcpy(b, "\x7F" "ELF", 4);
    b[4] = 2; b[5] = 1; b[6] = 1;
    put_le(b + 16, 2, 2);              /* ET_EXEC */
    put_le(b + 18, machine, 2);
    put_le(b + 20, 1, 4);
    put_le(b + 24, base, 8);           /* entry */
    put_le(b + 32, 64, 8);             /* phoff */
    put_le(b + 52, 64, 2);
    put_le(b + 54, 56, 2);
    put_le(b + 56, nseg, 2);
    size_t data = 64 + 56 * nseg;
    for (unsigned i = 0; i < nseg; i++) {
        uint8_t *ph = b + 64 + 56 * i;
        put_le(ph, 1, 4);                          /* PT_LOAD */
        put_le(ph + 4, i == 0 ? 5 : 6, 4);         /* R+X, R+W */
        put_le(ph + 8, data + 16 * i, 8);          /* offset */
        put_le(ph + 16, base + 0x1000 * i, 8);     /* vaddr */
        put_le(ph + 24, base + 0x1000 * i, 8);     /* paddr */
        put_le(ph + 32, 16, 8);                    /* filesz */
        put_le(ph + 40, 0x100, 8);                 /* memsz */
    }
    for (unsigned i = 0; i < 16 * nseg; i++)
        b[data + i] = (uint8_t)(0x90 + i);
    return data + 16 * nseg;
}

static void write_seeds(const char *dir)
{
    uint8_t b[512];
    size_t n = make_elf(b, 62, 1, 0x100000);
    fz_save(dir, "x86_64_1seg.elf", b, n);
    n = make_elf(b, 62, 3, 0x100000);
    fz_save(dir, "x86_64_3seg.elf", b, n);
    n = make_elf(b, 183, 2, 0x40080000);
    fz_save(dir, "arm64_2seg.elf", b, n);
    n = make_elf(b, 183, 1, 0x40080000);
    fz_save(dir, "truncated.elf", b, n - 8);
}

FZ_SEED_WRITER_MAIN()
