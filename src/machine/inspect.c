/* SPDX-License-Identifier: MIT */
/*
 * Model registers from outside the guest (virtmodel/inspect.h): the same
 * handlers a trapped guest access reaches, called directly.
 */
#include "machine_internal.h"
#include "virtmodel/error.h"
#include "virtmodel/inspect.h"

static int msr_check(struct vmdl_vcpu *vcpu, uint32_t index, struct msr_range **r,
                     const char *fn)
{
    if (!vcpu)
        return vmdl_fail(VMDL_EINVAL, "%s: NULL vcpu", fn);
    if (vcpu->vm->arch != VMDL_ARCH_X86_64)
        return vmdl_fail(VMDL_EINVAL, "%s: MSRs are x86", fn);
    *r = vmdl__find_msr(vcpu->vm, index);
    if (!*r)
        return vmdl_fail(VMDL_ENOENT, "%s: no model serves MSR 0x%x", fn, index);
    return VMDL_OK;
}

static int fault_result(vmdl_fault f, const char *fn, uint64_t what)
{
    if (f == VMDL_FAULT_NONE)
        return VMDL_OK;
    if (f == VMDL_FAULT_UNCLAIMED)
        return vmdl_fail(VMDL_ENOENT, "%s: 0x%llx is not served", fn,
                         (unsigned long long)what);
    return vmdl_fail(VMDL_ERANGE, "%s: the guest would get %s for 0x%llx", fn,
                     vmdl_fault_name(f), (unsigned long long)what);
}

int vmdl_vcpu_msr_read(struct vmdl_vcpu *vcpu, uint32_t index, uint64_t *value)
{
    struct msr_range *r;
    if (!value)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vcpu_msr_read: NULL value");
    int err = msr_check(vcpu, index, &r, "vmdl_vcpu_msr_read");
    if (err)
        return err;
    if (!r->ops->read)
        return fault_result(VMDL_FAULT_GP, "vmdl_vcpu_msr_read", index);
    *value = 0;
    return fault_result(r->ops->read(r->opaque, vcpu, index, value),
                        "vmdl_vcpu_msr_read", index);
}

int vmdl_vcpu_msr_write(struct vmdl_vcpu *vcpu, uint32_t index, uint64_t value)
{
    struct msr_range *r;
    int err = msr_check(vcpu, index, &r, "vmdl_vcpu_msr_write");
    if (err)
        return err;
    if (!r->ops->write)
        return fault_result(VMDL_FAULT_GP, "vmdl_vcpu_msr_write", index);
    return fault_result(r->ops->write(r->opaque, vcpu, index, value),
                        "vmdl_vcpu_msr_write", index);
}

static int find_mmio(struct vmdl_vcpu *vcpu, uint64_t gpa, unsigned size,
                     struct mmio_region **out, uint64_t *off, const char *fn)
{
    if (!vcpu)
        return vmdl_fail(VMDL_EINVAL, "%s: NULL vcpu", fn);
    if (size != 1 && size != 2 && size != 4 && size != 8)
        return vmdl_fail(VMDL_EINVAL, "%s: size %u is not 1, 2, 4 or 8", fn, size);
    struct vmdl_vm *vm = vcpu->vm;
    for (unsigned i = 0; i < vm->nr_mmios; i++) {
        struct mmio_region *r = &vm->mmios[i];
        uint64_t at = vmdl__mmio_at(r, vcpu);
        if (gpa >= at && gpa - at < r->size && r->size - (gpa - at) >= size) {
            *out = r;
            *off = gpa - at;
            return VMDL_OK;
        }
    }
    return vmdl_fail(VMDL_ENOENT, "%s: no model serves 0x%llx", fn,
                     (unsigned long long)gpa);
}

int vmdl_vcpu_mmio_read(struct vmdl_vcpu *vcpu, uint64_t gpa, unsigned size,
                        uint64_t *value)
{
    struct mmio_region *r;
    uint64_t off;
    if (!value)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vcpu_mmio_read: NULL value");
    int err = find_mmio(vcpu, gpa, size, &r, &off, "vmdl_vcpu_mmio_read");
    if (err)
        return err;
    *value = r->ops->read ? r->ops->read(r->opaque, vcpu, off, size) : 0;
    return VMDL_OK;
}

int vmdl_vcpu_mmio_write(struct vmdl_vcpu *vcpu, uint64_t gpa, unsigned size,
                         uint64_t value)
{
    struct mmio_region *r;
    uint64_t off;
    int err = find_mmio(vcpu, gpa, size, &r, &off, "vmdl_vcpu_mmio_write");
    if (err)
        return err;
    if (r->ops->write)
        r->ops->write(r->opaque, vcpu, off, size, value);
    return VMDL_OK;
}
