/* SPDX-License-Identifier: MIT */
/*
 * Virtual time with cycle weights (docs/architecture.md, "Virtual time").
 *
 * A vCPU's virtual time is its retired-instruction count plus its stall
 * cycles.  Everything that reads time reads virtual time: the TSC, the
 * local APIC timer and TSC deadline, the ACPI PM timer, the PIT, the
 * VMX-preemption timer, the run loop's idle skip.  Retired instructions
 * (vmdl_vcpu_insns: the PMU's instructions-retired event, the scheduler
 * quantum, instruction budgets) keep their meaning.
 *
 * Stall cycles come from five weights:
 *  - pause_cycles: each retired x86 PAUSE (a spin-loop hint whose latency
 *    the architecture leaves to the implementation);
 *  - rdtsc_cycles: each x86 RDTSC/RDTSCP beyond its one tick (a microcoded
 *    read of the time-stamp counter, far slower than one cycle, which KVM
 *    runs without a VM exit);
 *  - exit_cycles: each trapped operation that KVM on Intel VMX, with its
 *    default features, takes as a VM exit (CPUID, port I/O, HLT, intercepted
 *    MSRs, ...; the table is in src/machine/x86/exit_cost.c).  The hosted
 *    vCPU's own intercepts that KVM would not exit on cost nothing;
 *  - serialize_cycles: each x86 MOV to CR0, CR3 or CR4 that is no VM exit
 *    (a serializing instruction: the pipeline drains before it and the
 *    processor fetches anew after it; an exiting one costs exit_cycles);
 *  - flush_cycles: each such non-exiting MOV to CR4 that changes CR4.PGE,
 *    on top of serialize_cycles (it invalidates every TLB entry, global
 *    ones included, and every paging-structure cache entry).
 * All 0 (the default of vmdl_vm_create): one tick per instruction, as
 * before the weights existed.
 */
#ifndef VIRTMODEL_VTIME_H
#define VIRTMODEL_VTIME_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct vmdl_vm;
struct vmdl_vcpu;

struct vmdl_vtime_weights {
    uint32_t pause_cycles;   /* per PAUSE; 0: none */
    uint32_t exit_cycles;    /* per VM-exit-like trap; 0: none */
    uint32_t serialize_cycles; /* per MOV to CR0/CR3/CR4 that does not exit; 0: none */
    uint32_t rdtsc_cycles;   /* per RDTSC/RDTSCP beyond its tick; 0: none */
    uint32_t flush_cycles;   /* per non-exiting CR4.PGE toggle, beyond serialize; 0: none */
};

/* The largest weight accepted (10^6 cycles: beyond any PAUSE or exit). */
#define VMDL_VTIME_MAX_WEIGHT 1000000u

/*
 * The "hardware-like" profile a multiboot kernel gets unless weights were
 * set: PAUSE as on Intel Skylake-SP and later (about 140 cycles, Intel 64
 * and IA-32 Architectures Optimization Reference Manual, "Pause latency in
 * Skylake microarchitecture"), a VM exit and re-entry with KVM's handling
 * of a simple exit on a recent Intel server core (about 1,200 cycles;
 * docs/architecture.md says where the figure comes from), a serializing
 * control-register write that does not exit (about 100 cycles: Linux's
 * Documentation/arch/x86/pti.rst gives "on the order of a hundred
 * cycles" for a MOV to CR3).
 */
#define VMDL_VTIME_HW_PAUSE_CYCLES 140u
#define VMDL_VTIME_HW_EXIT_CYCLES 1200u
#define VMDL_VTIME_HW_SERIALIZE_CYCLES 100u
/* RDTSC's cost on Intel cores: microcoded (about 20 uops), one every 25
 * cycles on Skylake (Agner Fog's instruction tables; 25-35 cycles of
 * latency measured by J. McCalpin, Intel developer forum "Latency of RDTSC
 * and RDTSCP instructions"); 24 cycles on top of its tick. */
#define VMDL_VTIME_HW_RDTSC_CYCLES 24u
/* A MOV to CR4 toggling PGE flushes the whole TLB and the paging-structure
 * caches: Linux commit d8bced79af1d measured saving RFLAGS, two such writes
 * and restoring RFLAGS at about 539 ns on a Skylake laptop, some 270 ns a
 * write, 700 cycles or more at 2.6 GHz and above; 600 on top of the
 * serialize weight. */
#define VMDL_VTIME_HW_FLUSH_CYCLES 600u

/* Set the weights (each <= VMDL_VTIME_MAX_WEIGHT, else VMDL_EINVAL).  They
 * apply from the next instruction on; a later multiboot load keeps them. */
int vmdl_vm_set_vtime_weights(struct vmdl_vm *vm, const struct vmdl_vtime_weights *w);
void vmdl_vm_get_vtime_weights(const struct vmdl_vm *vm, struct vmdl_vtime_weights *w);

/* Virtual time of the vCPU (retired instructions + stall cycles), exact
 * between exits; its stall cycles alone. */
uint64_t vmdl_vcpu_vtime(struct vmdl_vcpu *vcpu);
uint64_t vmdl_vcpu_stall(struct vmdl_vcpu *vcpu);

#ifdef __cplusplus
}
#endif

#endif
