/* SPDX-License-Identifier: MIT */
/*
 * Running an image built on hosted_lm64.h (its 64-bit payload written in)
 * for a benchmark: one VM, one run to the payload's HLT, the CPU time of
 * the run.  Any other end (an exit, a recorded #GP/#PF/#UD in R13) ends the
 * program with a message.  Used by bench_pks.c and bench_align.c.
 */
#ifndef VMDL_BENCH_LM64_RUN_H
#define VMDL_BENCH_LM64_RUN_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "virtmodel/error.h"
#include "virtmodel/loader.h"
#include "virtmodel/machine.h"
#include "virtmodel/multiboot.h"

static inline double lm64_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static inline double lm64_run_ns(const char *who, const uint8_t *img, size_t n)
{
    struct vmdl_vm_config cfg = { .arch = VMDL_ARCH_X86_64, .ram_size = 32 << 20 };
    struct vmdl_vm *vm;
    struct vmdl_mb_boot mb = { "bench", NULL, 0 };
    if (vmdl_vm_create(&cfg, &vm) || vmdl_vm_load_multiboot(vm, img, n, &mb)) {
        fprintf(stderr, "%s: %s\n", who, vmdl_last_error());
        exit(1);
    }
    struct vmdl_exit e;
    double t0 = lm64_cpu_ns();
    int err = vmdl_vm_run(vm, &e);
    double t = lm64_cpu_ns() - t0;
    uint64_t r13 = 1;
    vmdl_vcpu_get_reg(vmdl_vm_vcpu(vm, 0), VMDL_X86_R13, &r13);
    if (err || e.reason != VMDL_EXIT_HLT || r13) {
        fprintf(stderr, "%s: the guest ended with %s, vector %" PRIu64 " (%s)\n", who,
                vmdl_exit_reason_name(e.reason), r13, err ? vmdl_last_error() : "");
        exit(1);
    }
    vmdl_vm_destroy(vm);
    return t;
}

#endif
