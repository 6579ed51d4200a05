/* SPDX-License-Identifier: MIT */
/*
 * The PC devices a real x86 guest (a multiboot kernel, kvm-unit-tests)
 * expects besides the console and isa-debug-exit of io.c: QEMU's
 * fw_cfg on ports 0x510/0x511 (src/core/fw_cfg.c holds the items).
 */
#include <stdlib.h>

#include "virtmodel/error.h"
#include "virtmodel/fw_cfg.h"
#include "x86.h"

static vmdl_fault fw_cfg_read(void *opaque, struct vmdl_vcpu *vcpu, uint16_t port,
                              unsigned size, uint32_t *value)
{
    (void)vcpu;
    struct vmdl_fw_cfg *f = opaque;
    uint32_t v = 0;
    if (port == VMDL_FW_CFG_PORT_DATA)   /* wider reads take consecutive bytes */
        for (unsigned i = 0; i < size; i++)
            v |= (uint32_t)vmdl_fw_cfg_read(f) << (8 * i);
    *value = v;
    return VMDL_FAULT_NONE;
}

static vmdl_fault fw_cfg_write(void *opaque, struct vmdl_vcpu *vcpu, uint16_t port,
                               unsigned size, uint32_t value)
{
    (void)vcpu;
    (void)size;
    if (port == VMDL_FW_CFG_PORT_SEL)
        vmdl_fw_cfg_select(opaque, (uint16_t)value);
    return VMDL_FAULT_NONE;   /* data-port writes: the read-only items ignore them */
}

static const struct vmdl_io_ops fw_cfg_ops = { fw_cfg_read, fw_cfg_write };

int vmdl__x86_pc_devices(struct vmdl_vm *vm)
{
    if (vm->x86h->pc_devices)
        return VMDL_OK;
    struct vmdl_fw_cfg *f = malloc(sizeof(*f));
    if (!f)
        return vmdl_fail(VMDL_ENOMEM, "fw_cfg: out of memory");
    /* FW_CFG_RAM_SIZE is all of RAM, below and above 4 GiB (as QEMU). */
    vmdl_fw_cfg_init(f, vm->ram_size, vm->nr_vcpus);
    int err = vmdl__add_destroy_hook(vm, free, f);
    if (err) {
        free(f);
        return err;
    }
    err = vmdl_vm_add_io_range(vm, VMDL_FW_CFG_PORT_SEL, VMDL_FW_CFG_PORT_DATA,
                               &fw_cfg_ops, f);
    if (!err)
        err = vmdl__x86_testdev(vm);
    if (!err)
        vm->x86h->pc_devices = true;
    return err;
}
