/* SPDX-License-Identifier: MIT */
/*
 * Machine glue for the GICv5 CPU-interface model (include/virtmodel/gicv5.h)
 * on an arm64 VM: the guest's GICv5 system registers and GIC/GICR/GSB
 * instructions reach the model, the model's IRQ line drives the vCPU's IRQ
 * exception (through VBAR_EL1 + 0x280 when PSTATE.I is clear), and WFI puts
 * the vCPU with the KVM WFI priority sync.  See docs/gicv5.md.
 *
 * vCPU n is loaded on a modelled physical CPU at its first GICv5 access or
 * interrupt check (physical CPU n % nr_pcpus, taking it from whichever vCPU
 * holds it, as a host scheduler would), and put when it enters WFI.
 *
 * Hypercall convention for example guests: HVC #0 with
 * x0 = VMDL_GICV5_HVC_BASE | fn, returning x0 = 0 or a negative vmdl_err:
 *   fn 1  host side: drive PPI x1 to level x2 (SW_PPI through the userspace
 *         KVM_IRQ_LINE path, other exposed PPIs as their in-kernel device);
 *   fn 2  migrate: put this vCPU and load it on physical CPU x1;
 *   fn 3  x0 = the physical CPU this vCPU is loaded on (-1 when put);
 *   fn 4  direct injection (DVI) of device PPI x1 on (x2 = 1) or off.
 */
#ifndef VIRTMODEL_ATTACH_GICV5_H
#define VIRTMODEL_ATTACH_GICV5_H

#include "virtmodel/gicv5.h"
#include "virtmodel/machine.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VMDL_GICV5_HVC_BASE 0xC6000000u
#define VMDL_GICV5_HVC_LINE 1u
#define VMDL_GICV5_HVC_MIGRATE 2u
#define VMDL_GICV5_HVC_WHERE 3u
#define VMDL_GICV5_HVC_DVI 4u

struct vmdl_gicv5_options {
    unsigned nr_pcpus;                 /* 0: 2 */
    enum vmdl_gicv5_storage storage;
    enum vmdl_gicv5_traps traps;
    bool pmu;                          /* expose PMUIRQ 23 */
};

/* Attach to an arm64 VM (NULL options: defaults, PMU exposed).  The model is
 * freed with the VM. */
int vmdl_attach_gicv5(struct vmdl_vm *vm, const struct vmdl_gicv5_options *o);
/* The same, also returning the model (owned by the VM). */
int vmdl_attach_gicv5_ex(struct vmdl_vm *vm, const struct vmdl_gicv5_options *o,
                         struct vmdl_gicv5 **model);


#ifdef __cplusplus
}
#endif
#endif
