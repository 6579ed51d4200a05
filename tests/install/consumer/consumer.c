/* SPDX-License-Identifier: MIT */
/* Uses the installed libvirtmodel.a: runs a tiny x86 guest that prints. */
#include <stdio.h>
#include <virtmodel/error.h>
#include <virtmodel/loader.h>
#include <virtmodel/machine.h>

int main(void)
{
    /* mov dx, 0x3f8; mov al, 'k'; out dx, al; mov al, 0; out 0xf4, al */
    static const unsigned char code[] = {0x66, 0xBA, 0xF8, 0x03, 0xB0, 'k', 0xEE,
                                         0xB0, 0x00, 0xE6, 0xF4};
    struct vmdl_vm_config cfg = {.arch = VMDL_ARCH_X86_64};
    struct vmdl_vm *vm;
    if (vmdl_vm_create(&cfg, &vm) || vmdl_vm_load_raw(vm, code, sizeof(code), 0x100000)) {
        fprintf(stderr, "consumer: %s\n", vmdl_last_error());
        return 1;
    }
    struct vmdl_exit e;
    int err = vmdl_vm_run(vm, &e);
    printf("\nconsumer: exit %s status %d\n", vmdl_exit_reason_name(e.reason),
           e.u.shutdown.status);
    vmdl_vm_destroy(vm);
    return err || e.reason != VMDL_EXIT_SHUTDOWN || e.u.shutdown.status != 1;
}
