/* SPDX-License-Identifier: MIT */
/*
 * Run statistics of a VM and a periodic progress report for long runs.
 *
 * The report is called from the run loop (vmdl_vm_run), between two engine
 * entries, never from inside an engine hook: with no report set the loop
 * pays one pointer test per machine exit; with one set it also reads a
 * coarse clock.  A guest that runs without any exit (no trap, no timer, one
 * vCPU, no instruction counting) therefore gets its next report at its next
 * exit.
 */
#ifndef VIRTMODEL_PROGRESS_H
#define VIRTMODEL_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct vmdl_vm;

struct vmdl_vm_stats {
    unsigned nr_vcpus;
    uint64_t insns;      /* retired instructions, summed over the vCPUs */
    uint64_t vtime;      /* virtual time: the furthest any one vCPU got
                            (retired instructions + stall, vtime.h) */
    uint64_t exits;      /* machine exits handled (claimed by a model or
                            returned to the caller) */
    double wall_s;       /* seconds since the first vmdl_vm_run (0 before) */
    bool exact;          /* every vCPU counts instructions exactly; else
                            insns/vtime count only trapped instructions */
    uint64_t entries;    /* times the run loop handed a vCPU to the
                            execution engine: an exit completed inside the
                            engine (x86 RDMSR/WRMSR/RDTSC, arm64 system
                            registers) does not count; the difference to
                            exits is what stayed in the engine */
    uint64_t direct_events; /* x86 events (exceptions, INT n, interrupts)
                            a hosted vCPU in 64-bit mode delivered through
                            its IDT by itself, without QEMU's VMRUN
                            (docs/architecture.md) */
};

int vmdl_vm_get_stats(struct vmdl_vm *vm, struct vmdl_vm_stats *out);

typedef void (*vmdl_progress_fn)(void *opaque, const struct vmdl_vm_stats *now);

/* Call fn at most once every interval_s seconds of wall-clock time while
 * vmdl_vm_run runs (fn NULL: off).  interval_s must be positive. */
int vmdl_vm_set_progress(struct vmdl_vm *vm, double interval_s,
                         vmdl_progress_fn fn, void *opaque);

#ifdef __cplusplus
}
#endif
#endif
