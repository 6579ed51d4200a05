/* SPDX-License-Identifier: MIT */
/*
 * Guest VMREAD/VMWRITE round trip through the machine layer: runs the
 * vmx_bench example guest (examples/guests/x86_64/vmx_bench.c) with the vmx
 * model attached and times its phases between the markers it writes to
 * MSR 0x40000100 (claimed here through the machine's MSR handler API).  Each VMX instruction traps in Unicorn as undefined, is
 * decoded with Capstone, handled by the model and resumed.
 *   bench_vmx_guest [IMAGE [PROFILE]]
 */
#include <stdio.h>
#include <stdlib.h>

#include "bench_util.h"
#include "virtmodel/attach_vmx.h"
#include "virtmodel/error.h"
#include "virtmodel/loader.h"

#ifndef VMX_BENCH_GUEST
#define VMX_BENCH_GUEST "vmx_bench.elf"
#endif
#define N 100000.0
#define MARK_MSR 0x40000100u

static uint64_t mark[5];

static vmdl_fault mark_read(void *opaque, struct vmdl_vcpu *vcpu, uint32_t index,
                            uint64_t *value)
{
    (void)opaque, (void)vcpu, (void)index;
    *value = 0;
    return VMDL_FAULT_NONE;
}

static vmdl_fault mark_write(void *opaque, struct vmdl_vcpu *vcpu, uint32_t index,
                             uint64_t value)
{
    (void)opaque, (void)vcpu, (void)index;
    if (value < 5)
        mark[value] = bench_now_ns();
    return VMDL_FAULT_NONE;
}

static const struct vmdl_msr_ops mark_ops = {mark_read, mark_write};

int main(int argc, char **argv)
{
    const char *image = argc > 1 ? argv[1] : VMX_BENCH_GUEST;
    const char *profile = argc > 2 ? argv[2] : "sapphire-rapids";
    uint8_t *data;
    size_t size;
    if (vmdl_read_file(image, &data, &size)) {
        fprintf(stderr, "%s: %s (build with -DVMDL_BUILD_GUESTS=ON)\n", image,
                vmdl_last_error());
        return 1;
    }
    struct vmdl_vm_config cfg = {.arch = VMDL_ARCH_X86_64};
    struct vmdl_vm *vm;
    if (vmdl_vm_create(&cfg, &vm) || vmdl_vm_load_elf(vm, data, size) ||
        vmdl_attach_vmx(vm, profile) ||
        vmdl_vm_add_msr_range(vm, MARK_MSR, MARK_MSR, &mark_ops, NULL)) {
        fprintf(stderr, "setup: %s\n", vmdl_last_error());
        return 1;
    }
    free(data);
    int status = -1;
    while (status < 0) {
        struct vmdl_exit e;
        if (vmdl_vm_run(vm, &e)) {
            fprintf(stderr, "run: %s\n", vmdl_last_error());
            return 1;
        }
        if (e.reason == VMDL_EXIT_SHUTDOWN) {
            status = e.u.shutdown.status;
        } else if (e.reason == VMDL_EXIT_IO || e.reason == VMDL_EXIT_MSR_READ ||
                   e.reason == VMDL_EXIT_MSR_WRITE || e.reason == VMDL_EXIT_MMIO) {
            vmdl_vcpu_complete(vmdl_vm_vcpu(vm, e.vcpu), 0);
        } else {
            fprintf(stderr, "unexpected exit %s\n", vmdl_exit_reason_name(e.reason));
            return 1;
        }
    }
    vmdl_vm_destroy(vm);
    if (status || !mark[0] || !mark[3]) {
        fprintf(stderr, "guest failed (status %d)\n", status);
        return 1;
    }
    printf("guest round trips through the machine layer (%s):\n", profile);
    printf("  RDMSR IA32_VMX_BASIC     : %8.0f ns/insn\n", (mark[1] - mark[0]) / N);
    printf("  VMREAD  (reg, GUEST_RIP) : %8.0f ns/insn\n", (mark[2] - mark[1]) / N);
    printf("  VMWRITE (reg, GUEST_RIP) : %8.0f ns/insn\n", (mark[3] - mark[2]) / N);
    return 0;
}
