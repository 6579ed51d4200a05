/* SPDX-License-Identifier: MIT */
/* Strict ELF64 parsing for guest images (no machine dependency). */
#include <stdbool.h>
#include <string.h>

#include "virtmodel/error.h"
#include "virtmodel/image.h"

#define EM_X86_64 62
#define EM_AARCH64 183
#define PT_LOAD 1
#define ET_EXEC 2
#define EHDR_SIZE 64
#define PHDR_SIZE 56

static uint64_t le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

int vmdl_image_is_elf(const void *data, size_t size)
{
    return data && size >= 4 && !memcmp(data, "\x7F" "ELF", 4);
}

int vmdl_elf_parse(const void *data, size_t size, struct vmdl_image *img)
{
    const uint8_t *p = data;
    if (!data || !img)
        return vmdl_fail(VMDL_EINVAL, "vmdl_elf_parse: NULL argument");
    memset(img, 0, sizeof(*img));
    if (size < 4 || memcmp(p, "\x7F" "ELF", 4))
        return vmdl_fail(VMDL_EFORMAT, "ELF: bad magic (not an ELF file)");
    if (size < EHDR_SIZE)
        return vmdl_fail(VMDL_EFORMAT, "ELF: file is %zu bytes, shorter than "
                         "the 64-byte ELF64 header (truncated?)", size);
    if (p[4] != 2)
        return vmdl_fail(VMDL_EFORMAT, "ELF: class %u is not ELFCLASS64 "
                         "(a 32-bit image?)", p[4]);
    if (p[5] != 1)
        return vmdl_fail(VMDL_EFORMAT, "ELF: not little-endian");
    if (p[6] != 1)
        return vmdl_fail(VMDL_EFORMAT, "ELF: unknown ELF version %u", p[6]);
    uint16_t type = (uint16_t)le(p + 16, 2), machine = (uint16_t)le(p + 18, 2);
    if (type != ET_EXEC)
        return vmdl_fail(VMDL_EFORMAT, "ELF: type %u is not a static executable "
                         "(ET_EXEC); link with -static and no PIE", type);
    if (machine == EM_X86_64)
        img->arch = VMDL_ARCH_X86_64;
    else if (machine == EM_AARCH64)
        img->arch = VMDL_ARCH_ARM64;
    else
        return vmdl_fail(VMDL_EFORMAT, "ELF: machine %u is neither x86-64 (62) "
                         "nor AArch64 (183)", machine);
    img->entry = le(p + 24, 8);
    uint64_t phoff = le(p + 32, 8);
    uint16_t phentsize = (uint16_t)le(p + 54, 2), phnum = (uint16_t)le(p + 56, 2);
    if (phnum == 0)
        return vmdl_fail(VMDL_EFORMAT, "ELF: no program headers");
    if (phentsize != PHDR_SIZE)
        return vmdl_fail(VMDL_EFORMAT, "ELF: program header size %u (expected 56)",
                         phentsize);
    if (phoff > size || (uint64_t)phnum * PHDR_SIZE > size - phoff)
        return vmdl_fail(VMDL_EFORMAT, "ELF: program headers (%u at offset "
                         "0x%llx) run past the end of the file (truncated?)",
                         phnum, (unsigned long long)phoff);
    bool entry_ok = false;
    for (unsigned i = 0; i < phnum; i++) {
        const uint8_t *ph = p + phoff + (uint64_t)i * PHDR_SIZE;
        if (le(ph, 4) != PT_LOAD)
            continue;
        struct vmdl_image_segment s = {
            .flags = (uint32_t)le(ph + 4, 4),
            .offset = le(ph + 8, 8),
            .paddr = le(ph + 24, 8),
            .filesz = le(ph + 32, 8),
            .memsz = le(ph + 40, 8),
        };
        if (s.filesz > s.memsz)
            return vmdl_fail(VMDL_EFORMAT, "ELF: segment %u has filesz 0x%llx > "
                             "memsz 0x%llx", i, (unsigned long long)s.filesz,
                             (unsigned long long)s.memsz);
        if (s.offset > size || s.filesz > size - s.offset)
            return vmdl_fail(VMDL_EFORMAT, "ELF: segment %u (offset 0x%llx, 0x%llx "
                             "bytes) runs past the end of the %zu-byte file "
                             "(truncated?)", i, (unsigned long long)s.offset,
                             (unsigned long long)s.filesz, size);
        if (s.paddr + s.memsz < s.paddr)
            return vmdl_fail(VMDL_EFORMAT, "ELF: segment %u wraps the address space", i);
        if (!s.memsz)
            continue;
        if (img->nr_segments == VMDL_IMAGE_MAX_SEGMENTS)
            return vmdl_fail(VMDL_EFORMAT, "ELF: more than %d loadable segments",
                             VMDL_IMAGE_MAX_SEGMENTS);
        for (unsigned k = 0; k < img->nr_segments; k++) {
            const struct vmdl_image_segment *o = &img->seg[k];
            if (s.paddr < o->paddr + o->memsz && o->paddr < s.paddr + s.memsz)
                return vmdl_fail(VMDL_EFORMAT, "ELF: segments %u and %u overlap", k, i);
        }
        if ((s.flags & 1) && img->entry >= s.paddr && img->entry < s.paddr + s.memsz)
            entry_ok = true;
        img->seg[img->nr_segments++] = s;
    }
    if (!img->nr_segments)
        return vmdl_fail(VMDL_EFORMAT, "ELF: no loadable (PT_LOAD) segment");
    if (!entry_ok)
        return vmdl_fail(VMDL_EFORMAT, "ELF: entry point 0x%llx is not inside an "
                         "executable segment", (unsigned long long)img->entry);
    return VMDL_OK;
}
