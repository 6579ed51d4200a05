/* SPDX-License-Identifier: MIT */
/*
 * How a pure model reaches guest physical memory without knowing about the
 * machine layer (e.g. the vmcs12 region, the virtual-APIC page, a posted-
 * interrupt descriptor).  The machine layer fills it in; tests use a flat
 * buffer (vmdl_flat_mem).
 */
#ifndef VIRTMODEL_GUEST_MEM_H
#define VIRTMODEL_GUEST_MEM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct vmdl_guest_mem {
    /* Return 0 on success, a negative vmdl_err when gpa..gpa+len is not RAM. */
    int (*read)(void *opaque, uint64_t gpa, void *buf, size_t len);
    int (*write)(void *opaque, uint64_t gpa, const void *buf, size_t len);
    void *opaque;
};

/* A guest memory backed by one host buffer starting at guest address base. */
struct vmdl_flat_mem {
    uint8_t *data;
    uint64_t base;
    uint64_t size;
};

/* Point mem at flat; flat must outlive mem. */
void vmdl_flat_mem_init(struct vmdl_guest_mem *mem, struct vmdl_flat_mem *flat);

static inline int vmdl_guest_read(const struct vmdl_guest_mem *m, uint64_t gpa,
                                  void *buf, size_t len)
{
    return m->read(m->opaque, gpa, buf, len);
}

static inline int vmdl_guest_write(const struct vmdl_guest_mem *m,
                                   uint64_t gpa, const void *buf, size_t len)
{
    return m->write(m->opaque, gpa, buf, len);
}

#ifdef __cplusplus
}
#endif
#endif
