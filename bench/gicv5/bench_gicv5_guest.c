/* SPDX-License-Identifier: MIT */
/*
 * GICv5 guest PPI round trip (issue 6, item 8): inject (HVC to the host),
 * IRQ through VBAR_EL1, GICR CDIA, GSB ACK, GIC CDDI, GIC CDEOI, the host
 * lowers the line (HVC), ERET -- examples/guests/arm64/gicv5_roundtrip.S
 * run through the machine with the gicv5 model, dense and sparse.
 */
#include <stdio.h>
#include <stdlib.h>

#include "bench_util.h"
#include "virtmodel/attach_gicv5.h"
#include "virtmodel/error.h"
#include "virtmodel/loader.h"
#include "virtmodel/machine.h"
#include "virtmodel/models.h"

#define ITERS 100000u

static void quiet(void *o, const char *b, size_t n) { (void)o; (void)b; (void)n; }

static double round_trip_ns(const char *image, bool sparse)
{
    uint8_t *data;
    size_t size;
    if (vmdl_read_file(image, &data, &size)) {
        fprintf(stderr, "bench: %s\n", vmdl_last_error());
        exit(1);
    }
    struct vmdl_vm_config cfg = {.arch = VMDL_ARCH_ARM64, .console = quiet};
    struct vmdl_vm *vm;
    struct vmdl_model_options o = {0};
    if (sparse)
        vmdl_model_options_set(&o, "gicv5-sparse", "");
    if (vmdl_vm_create(&cfg, &vm) || vmdl_vm_load_elf(vm, data, size) ||
        vmdl_attach_models(vm, "gicv5", &o)) {
        fprintf(stderr, "bench: %s\n", vmdl_last_error());
        exit(1);
    }
    free(data);
    vmdl_vcpu_set_reg(vmdl_vm_vcpu(vm, 0), VMDL_ARM64_X0, ITERS);
    struct vmdl_exit e;
    uint64_t t0 = bench_now_ns();
    if (vmdl_vm_run(vm, &e) || e.reason != VMDL_EXIT_SHUTDOWN || e.u.shutdown.status) {
        fprintf(stderr, "bench: guest ended with %s\n", vmdl_exit_reason_name(e.reason));
        exit(1);
    }
    uint64_t t = bench_now_ns() - t0;
    vmdl_vm_destroy(vm);
    return (double)t / ITERS;
}

int main(int argc, char **argv)
{
    const char *image = argc > 1 ? argv[1] : VMDL_GUEST_DIR "/arm64/gicv5_roundtrip.elf";
    double d = 1e30, s = 1e30;
    for (int r = 0; r < 3; r++) {
        double x = round_trip_ns(image, false), y = round_trip_ns(image, true);
        if (x < d) d = x;
        if (y < s) s = y;
    }
    printf("GICv5 guest PPI round trip (inject, IRQ, CDIA, ACK, CDDI, CDEOI, lower), "
           "%u per run, best of 3:\n", ITERS);
    printf("  dense storage   %.2f us\n", d / 1000);
    printf("  sparse storage  %.2f us\n", s / 1000);
    return 0;
}
