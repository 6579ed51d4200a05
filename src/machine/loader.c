/* SPDX-License-Identifier: MIT */
/* Loading parsed images into a VM's RAM. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "machine_internal.h"
#include "virtmodel/error.h"
#include "virtmodel/loader.h"

int vmdl_vm_load_elf(struct vmdl_vm *vm, const void *data, size_t size)
{
    struct vmdl_image img;
    int err = vmdl_elf_parse(data, size, &img);
    if (err)
        return err;
    if (img.arch != vm->arch)
        return vmdl_fail(VMDL_EFORMAT, "ELF: an %s image cannot run in an %s VM",
                         vmdl_arch_name(img.arch), vmdl_arch_name(vm->arch));
    for (unsigned i = 0; i < img.nr_segments; i++) {
        const struct vmdl_image_segment *s = &img.seg[i];
        if (!vmdl_vm_ram_ptr(vm, s->paddr, s->memsz)) {
            char ram[96];
            vmdl__ram_describe(vm, ram, sizeof(ram));
            return vmdl_fail(VMDL_EFORMAT, "ELF: segment 0x%llx-0x%llx lies outside "
                             "guest RAM %s (or over a device)",
                             (unsigned long long)s->paddr,
                             (unsigned long long)(s->paddr + s->memsz - 1), ram);
        }
    }
    for (unsigned i = 0; i < img.nr_segments; i++) {
        const struct vmdl_image_segment *s = &img.seg[i];
        uint8_t *dst = vmdl_vm_ram_ptr(vm, s->paddr, s->memsz);
        memcpy(dst, (const uint8_t *)data + s->offset, s->filesz);
        memset(dst + s->filesz, 0, s->memsz - s->filesz);
        if ((err = vmdl_vm_add_image_range(vm, s->paddr, s->memsz)))
            return err;
    }
    return vmdl_vm_set_entry(vm, img.entry);
}

int vmdl_vm_load_raw(struct vmdl_vm *vm, const void *data, size_t size,
                     uint64_t addr)
{
    if (!vm || !data || !size)
        return vmdl_fail(VMDL_EINVAL, "raw image: empty");
    void *dst = vmdl_vm_ram_ptr(vm, addr, size);
    if (!dst) {
        char ram[96];
        vmdl__ram_describe(vm, ram, sizeof(ram));
        return vmdl_fail(VMDL_EFORMAT, "raw image: 0x%zx bytes at 0x%llx do not "
                         "fit in guest RAM %s", size, (unsigned long long)addr, ram);
    }
    memcpy(dst, data, size);
    int err = vmdl_vm_add_image_range(vm, addr, size);
    return err ? err : vmdl_vm_set_entry(vm, addr);
}

int vmdl_read_file(const char *path, uint8_t **data, size_t *size)
{
    if (!path || !data || !size)
        return vmdl_fail(VMDL_EINVAL, "vmdl_read_file: NULL argument");
    FILE *f = fopen(path, "rb");
    if (!f)
        return vmdl_fail(VMDL_EIO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {
        fclose(f);
        return vmdl_fail(VMDL_EIO, "%s: not a regular file", path);
    }
    if (st.st_size > (1 << 30)) {
        fclose(f);
        return vmdl_fail(VMDL_EFORMAT, "%s: larger than 1 GiB", path);
    }
    size_t n = (size_t)st.st_size;
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) {
        fclose(f);
        return vmdl_fail(VMDL_ENOMEM, "%s: out of memory", path);
    }
    if (n && fread(buf, 1, n, f) != n) {
        free(buf);
        fclose(f);
        return vmdl_fail(VMDL_EIO, "%s: read failed", path);
    }
    fclose(f);
    *data = buf;
    *size = n;
    return VMDL_OK;
}
