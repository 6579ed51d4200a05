/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "virtmodel/error.h"
#include "virtmodel/guest_mem.h"

static int flat_check(const struct vmdl_flat_mem *f, uint64_t gpa, size_t len)
{
    if (gpa < f->base || len > f->size || gpa - f->base > f->size - len)
        return vmdl_fail(VMDL_ERANGE,
                         "guest memory: 0x%llx+%zu is outside RAM",
                         (unsigned long long)gpa, len);
    return VMDL_OK;
}

static int flat_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
    struct vmdl_flat_mem *f = opaque;
    int err = flat_check(f, gpa, len);
    if (!err)
        memcpy(buf, f->data + (gpa - f->base), len);
    return err;
}

static int flat_write(void *opaque, uint64_t gpa, const void *buf, size_t len)
{
    struct vmdl_flat_mem *f = opaque;
    int err = flat_check(f, gpa, len);
    if (!err)
        memcpy(f->data + (gpa - f->base), buf, len);
    return err;
}

void vmdl_flat_mem_init(struct vmdl_guest_mem *mem, struct vmdl_flat_mem *flat)
{
    mem->read = flat_read;
    mem->write = flat_write;
    mem->opaque = flat;
}
