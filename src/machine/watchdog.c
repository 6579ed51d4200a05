/* SPDX-License-Identifier: MIT */
/*
 * The --timeout watchdog: one thread per armed run that stops whichever
 * engine is running once the wall-clock deadline passes.
 */
#include <errno.h>
#include <time.h>

#include "machine_internal.h"

static void *watchdog_main(void *arg)
{
    struct vmdl_vm *vm = arg;
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    double secs = vm->timeout_s - (vmdl__now() - vm->run_started);
    if (secs < 0)
        secs = 0;
    deadline.tv_sec += (time_t)secs;
    deadline.tv_nsec += (long)((secs - (double)(time_t)secs) * 1e9);
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&vm->wd_lock);
    while (!vm->wd_quit &&
           pthread_cond_timedwait(&vm->wd_cond, &vm->wd_lock, &deadline) != ETIMEDOUT)
        ;
    if (!vm->wd_quit)
        atomic_store(&vm->timed_out, true);
    /* Keep stopping the running engine until the run loop notices: a stop
     * that lands between two uc_emu_start calls is otherwise lost. */
    while (!vm->wd_quit) {
        if (vm->running)
            uc_emu_stop(vm->running->uc);
        struct timespec again;
        clock_gettime(CLOCK_REALTIME, &again);
        again.tv_nsec += 10000000L;
        if (again.tv_nsec >= 1000000000L) {
            again.tv_sec++;
            again.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&vm->wd_cond, &vm->wd_lock, &again);
    }
    pthread_mutex_unlock(&vm->wd_lock);
    return NULL;
}

void vmdl__watchdog_start(struct vmdl_vm *vm)
{
    vm->wd_quit = false;
    vm->watchdog_on = pthread_create(&vm->watchdog, NULL, watchdog_main, vm) == 0;
}

void vmdl__watchdog_stop(struct vmdl_vm *vm)
{
    if (!vm->watchdog_on)
        return;
    pthread_mutex_lock(&vm->wd_lock);
    vm->wd_quit = true;
    pthread_cond_signal(&vm->wd_cond);
    pthread_mutex_unlock(&vm->wd_lock);
    pthread_join(vm->watchdog, NULL);
    vm->watchdog_on = false;
}

void vmdl__engine_enter(struct vmdl_vcpu *vcpu)
{
    struct vmdl_vm *vm = vcpu->vm;
    /* Guest debugging stops the engine from another thread too. */
    if (!vm->watchdog_on && !vm->dbg)
        return;
    pthread_mutex_lock(&vm->wd_lock);
    vm->running = vcpu;
    pthread_mutex_unlock(&vm->wd_lock);
}

void vmdl__engine_leave(struct vmdl_vcpu *vcpu)
{
    struct vmdl_vm *vm = vcpu->vm;
    if (!vm->watchdog_on && !vm->dbg)
        return;
    pthread_mutex_lock(&vm->wd_lock);
    vm->running = NULL;
    pthread_mutex_unlock(&vm->wd_lock);
}

