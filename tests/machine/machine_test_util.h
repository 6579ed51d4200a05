/* SPDX-License-Identifier: MIT */
/* Shared helpers for the machine-layer tests: VMs around raw code. */
#ifndef VMDL_MACHINE_TEST_UTIL_H
#define VMDL_MACHINE_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "virtmodel/error.h"
#include "virtmodel/loader.h"
#include "virtmodel/machine.h"

struct console_buf {
    char data[8192];
    size_t len;
};

static inline void console_capture(void *opaque, const char *buf, size_t len)
{
    struct console_buf *c = opaque;
    if (len > sizeof(c->data) - 1 - c->len)
        len = sizeof(c->data) - 1 - c->len;
    memcpy(c->data + c->len, buf, len);
    c->len += len;
    c->data[c->len] = 0;
}

/* A VM of `arch` with `code` loaded at the default address. */
static inline struct vmdl_vm *vm_with_code(enum vmdl_arch arch, const void *code,
                                           size_t len, struct console_buf *con)
{
    struct vmdl_vm_config cfg = {.arch = arch, .ram_size = 16 << 20};
    if (con) {
        cfg.console = console_capture;
        cfg.console_opaque = con;
    }
    struct vmdl_vm *vm = NULL;
    if (vmdl_vm_create(&cfg, &vm)) {
        fprintf(stderr, "vm_create: %s\n", vmdl_last_error());
        return NULL;
    }
    uint64_t at = arch == VMDL_ARCH_X86_64 ? VMDL_X86_DEFAULT_LOAD : VMDL_ARM64_DEFAULT_LOAD;
    if (vmdl_vm_load_raw(vm, code, len, at)) {
        fprintf(stderr, "load_raw: %s\n", vmdl_last_error());
        vmdl_vm_destroy(vm);
        return NULL;
    }
    return vm;
}

/* A VM with an example guest ELF from the build tree. */
static inline struct vmdl_vm *vm_with_guest(const char *rel, unsigned vcpus,
                                            struct console_buf *con)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", VMDL_GUEST_DIR, rel);
    uint8_t *data;
    size_t size;
    if (vmdl_read_file(path, &data, &size)) {
        fprintf(stderr, "%s\n", vmdl_last_error());
        return NULL;
    }
    struct vmdl_image img;
    if (vmdl_elf_parse(data, size, &img)) {
        free(data);
        return NULL;
    }
    struct vmdl_vm_config cfg = {.arch = img.arch, .nr_vcpus = vcpus,
                                 .console = console_capture, .console_opaque = con};
    struct vmdl_vm *vm = NULL;
    if (vmdl_vm_create(&cfg, &vm) || vmdl_vm_load_elf(vm, data, size)) {
        fprintf(stderr, "%s\n", vmdl_last_error());
        vmdl_vm_destroy(vm);
        vm = NULL;
    }
    free(data);
    return vm;
}

#endif
