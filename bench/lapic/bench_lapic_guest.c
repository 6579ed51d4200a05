/* SPDX-License-Identifier: MIT */
/*
 * A guest's interrupt round trip through the machine layer: self-IPI
 * (x2APIC SELF_IPI MSR), STI;HLT, delivery through the guest IDT, handler,
 * EOI (x2APIC MSR), in microseconds per round trip, APICv off and on.
 * Uses examples/guests/x86_64/lapic_roundtrip.c (20000 round trips).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "virtmodel/attach_lapic.h"
#include "virtmodel/error.h"
#include "virtmodel/loader.h"
#include "virtmodel/machine.h"

#define ROUND_TRIPS 20000

static void quiet(void *o, const char *s, size_t n)
{
    (void)o;
    (void)s;
    (void)n;
}

static double run(bool apicv, const uint8_t *img, size_t sz, uint64_t *delivered)
{
    struct vmdl_vm_config cfg = {.arch = VMDL_ARCH_X86_64, .console = quiet};
    struct vmdl_vm *vm;
    struct vmdl_lapic_bus *bus;
    struct vmdl_lapic_options o = {.apicv = apicv};
    if (vmdl_vm_create(&cfg, &vm) || vmdl_vm_load_elf(vm, img, sz) ||
        vmdl_attach_lapic_ex(vm, &o, &bus)) {
        fprintf(stderr, "setup failed: %s\n", vmdl_last_error());
        exit(1);
    }
    uint64_t t0 = bench_now_ns();
    struct vmdl_exit e;
    do {
        if (vmdl_vm_run(vm, &e))
            exit(1);
    } while (e.reason != VMDL_EXIT_SHUTDOWN &&
             (e.reason == VMDL_EXIT_IO || e.reason == VMDL_EXIT_MMIO) &&
             !vmdl_vcpu_complete(vmdl_vm_vcpu(vm, e.vcpu), 0));
    uint64_t t1 = bench_now_ns();
    if (e.reason != VMDL_EXIT_SHUTDOWN || e.u.shutdown.status != 0) {
        fprintf(stderr, "guest did not finish: %s\n", vmdl_exit_reason_name(e.reason));
        exit(1);
    }
    struct vmdl_lapic_stats st;
    vmdl_lapic_get_stats(vmdl_lapic_bus_get(bus, 0), &st);
    *delivered = st.delivered;
    vmdl_vm_destroy(vm);
    return (double)(t1 - t0) / 1000.0 / ROUND_TRIPS;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : VMDL_GUEST_DIR "/x86_64/lapic_roundtrip.elf";
    uint8_t *img;
    size_t sz;
    if (vmdl_read_file(path, &img, &sz)) {
        fprintf(stderr, "%s\n", vmdl_last_error());
        return 1;
    }
    uint64_t d0, d1;
    double off = run(false, img, sz, &d0);
    double on = run(true, img, sz, &d1);
    free(img);
    printf("lapic guest interrupt round trip (self-IPI, HLT, IDT delivery, "
           "handler, EOI), %d round trips\n", ROUND_TRIPS);
    printf("  %-30s %8.2f us/round trip (%llu delivered)\n", "APICv off", off,
           (unsigned long long)d0);
    printf("  %-30s %8.2f us/round trip (%llu delivered)\n", "APICv on", on,
           (unsigned long long)d1);
    return 0;
}
