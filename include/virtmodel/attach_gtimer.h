/* SPDX-License-Identifier: MIT */
/*
 * Machine glue for the generic timer model (include/virtmodel/gtimer.h) on
 * an arm64 VM: every vCPU's CNTFRQ/CNTPCT/CNTVCT, CNTP_* and CNTV_* and
 * CNTKCTL_EL1 served by the model on virtual time (one count per retired
 * instruction, CNTFRQ_EL0 1 GHz), the timers' lines driving PPI 30 (EL1
 * physical) and PPI 27 (virtual) of the interrupt controller (the GICv5
 * model).  Without this model the guest sees Unicorn's own timer, which
 * counts host time and raises no interrupt.  See docs/arm64-timer.md.
 */
#ifndef VIRTMODEL_ATTACH_GTIMER_H
#define VIRTMODEL_ATTACH_GTIMER_H

#include "virtmodel/gtimer.h"
#include "virtmodel/machine.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vmdl_gtimer_options {
    uint64_t cntvoff;     /* CNTVOFF_EL2 of every vCPU */
    uint32_t flags;       /* VMDL_GTIMER_F_* */
};

/* Attach to an arm64 VM (NULL options: CNTVOFF 0, Arm ARM ISTATUS). */
int vmdl_attach_gtimer(struct vmdl_vm *vm, const struct vmdl_gtimer_options *o);

#ifdef __cplusplus
}
#endif
#endif
