/* SPDX-License-Identifier: MIT */
/*
 * Runs an x86-64 example guest with the vmx model attached through
 * vmdl_attach_vmx() (not through the harness's model registry), so the
 * machine glue is tested on its own:  vmx_guest_runner IMAGE [PROFILE]
 * Exit status: the guest's, or 100+ when the run itself went wrong.
 */
#include <stdio.h>
#include <stdlib.h>

#include "virtmodel/attach_vmx.h"
#include "virtmodel/error.h"
#include "virtmodel/loader.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s IMAGE [PROFILE[:arch]]\n", argv[0]);
        return 100;
    }
    uint8_t *data;
    size_t size;
    if (vmdl_read_file(argv[1], &data, &size)) {
        fprintf(stderr, "%s: %s\n", argv[1], vmdl_last_error());
        return 101;
    }
    struct vmdl_vm_config cfg = {.arch = VMDL_ARCH_X86_64};
    struct vmdl_vm *vm;
    if (vmdl_vm_create(&cfg, &vm) || vmdl_vm_load_elf(vm, data, size) ||
        vmdl_attach_vmx(vm, argc > 2 ? argv[2] : NULL)) {
        fprintf(stderr, "setup: %s\n", vmdl_last_error());
        free(data);
        return 102;
    }
    free(data);
    vmdl_vm_set_limits(vm, 200000000, 60);
    int status = -1;
    while (status < 0) {
        struct vmdl_exit e;
        if (vmdl_vm_run(vm, &e)) {
            fprintf(stderr, "run: %s\n", vmdl_last_error());
            status = 103;
            break;
        }
        switch (e.reason) {
        case VMDL_EXIT_SHUTDOWN:
            status = e.u.shutdown.status;
            break;
        case VMDL_EXIT_MSR_READ:
        case VMDL_EXIT_IO:
        case VMDL_EXIT_MMIO:
            vmdl_vcpu_complete(vmdl_vm_vcpu(vm, e.vcpu), 0);
            break;
        case VMDL_EXIT_MSR_WRITE:
            vmdl_vcpu_complete(vmdl_vm_vcpu(vm, e.vcpu), 0);
            break;
        default:
            fprintf(stderr, "exit %s at 0x%llx\n", vmdl_exit_reason_name(e.reason),
                    (unsigned long long)e.pc);
            status = 104;
            break;
        }
    }
    vmdl_vm_destroy(vm);
    return status;
}
