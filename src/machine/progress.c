/* SPDX-License-Identifier: MIT */
/*
 * Run statistics and the periodic progress report (virtmodel/progress.h).
 * The report is polled by the run loop after each machine exit; the coarse
 * monotonic clock (a few ns, no TSC read) keeps that poll cheap, and nothing
 * here runs inside an engine hook.
 */
#include <time.h>

#include "machine_internal.h"
#include "virtmodel/error.h"
#include "virtmodel/progress.h"

static double coarse_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int vmdl_vm_get_stats(struct vmdl_vm *vm, struct vmdl_vm_stats *out)
{
    if (!vm || !out)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vm_get_stats: NULL argument");
    *out = (struct vmdl_vm_stats){ .nr_vcpus = vm->nr_vcpus, .exact = true };
    for (unsigned i = 0; i < vm->nr_vcpus; i++) {
        const struct vmdl_vcpu *v = vm->vcpus[i];
        out->insns += vmdl__insns(v);
        if (vmdl__vtime(v) > out->vtime)
            out->vtime = vmdl__vtime(v);
        out->exits += v->nr_exits;
        out->entries += v->nr_entries;
        out->direct_events += v->direct_events;
        out->exact = out->exact && v->block_hook_on;
    }
    out->wall_s = vm->limits_armed ? vmdl__now() - vm->run_started : 0;
    return VMDL_OK;
}

int vmdl_vm_set_progress(struct vmdl_vm *vm, double interval_s,
                         vmdl_progress_fn fn, void *opaque)
{
    if (!vm)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vm_set_progress: NULL vm");
    if (fn && !(interval_s > 0))
        return vmdl_fail(VMDL_EINVAL, "vmdl_vm_set_progress: the interval must "
                         "be positive");
    vm->progress_fn = fn;
    vm->progress_opaque = opaque;
    vm->progress_interval = interval_s;
    vm->progress_next = coarse_now() + interval_s;
    return VMDL_OK;
}

bool vmdl__progress_due(struct vmdl_vm *vm)
{
    return coarse_now() >= vm->progress_next;
}

void vmdl__progress_poll(struct vmdl_vm *vm)
{
    double now = coarse_now();
    if (now < vm->progress_next)
        return;
    vm->progress_next = now + vm->progress_interval;
    struct vmdl_vm_stats s;
    vmdl_vm_get_stats(vm, &s);
    vm->progress_fn(vm->progress_opaque, &s);
}
