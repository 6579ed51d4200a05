/* SPDX-License-Identifier: MIT */
/*
 * Machine glue for the local APIC model (include/virtmodel/lapic.h): one
 * APIC per vCPU on one bus, as KVM's in-kernel LAPIC.  See docs/lapic.md.
 *
 * - xAPIC MMIO window at 0xFEE00000, 4 KiB, routed to the accessing vCPU's
 *   APIC (in x2APIC mode or disabled: KVM's MMIO hole, reads all ones);
 * - MSRs 0x1B (IA32_APIC_BASE), 0x6E0 (TSC_DEADLINE), 0x800-0x8FF (x2APIC);
 * - the VM's irqchip: pending/ack/take_nmi, timer through advance and
 *   next_event (virtual time = the vCPU's retired instructions), runnable
 *   (INIT/SIPI), CR8 <-> TPR;
 * - INIT and SIPI IPIs reset / start the target vCPU through
 *   vmdl_vcpu_x86_init / vmdl_vcpu_x86_sipi, or are held for the init sink
 *   (vmdl_lapic_set_init_sink: VMX operation latches INIT);
 * - CPUID.1: EDX bit 9 (APIC), ECX bit 21 (x2APIC, unless no_x2apic),
 *   ECX bit 24 (TSC-deadline timer, unless no_tsc_deadline); KVM's leaves
 *   0x40000000 ("KVMKVMKVM") and 0x40000001 EAX bit 6 (KVM_FEATURE_PV_EOI,
 *   unless no_pv_eoi) with MSR_KVM_PV_EOI_EN, the flag byte in guest RAM;
 * - the APIC's exit/entry work (PV EOI, posted-interrupt SN) at every exit
 *   (the irqchip's advance) and after each interrupt acknowledge;
 * - VM reset puts every APIC back to its RESET state; the bus is freed with
 *   the VM.
 */
#ifndef VIRTMODEL_ATTACH_LAPIC_H
#define VIRTMODEL_ATTACH_LAPIC_H

#include <stdbool.h>
#include <stdint.h>

#include "virtmodel/lapic.h"
#include "virtmodel/machine.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vmdl_lapic_options {
    bool apicv;                  /* APICv backend (posted interrupts, RVI/SVI) */
    bool apicv_nested_quirk;     /* old deferred nested updates (recorded for
                                    a VMX model; see lapic_nested.h) */
    bool no_x2apic;              /* hide x2APIC (EXTD reserved) */
    bool no_tsc_deadline;        /* hide the TSC-deadline timer */
    bool no_pv_eoi;              /* hide KVM_FEATURE_PV_EOI (MSR #GPs) */
    uint32_t min_timer_period_us;/* KVM's periodic floor (0: 200 us) */
    unsigned flags;              /* VMDL_LAPIC_F_* */
};

/* Attach (opts NULL: defaults, APICv off).  x86 VMs only, once per VM. */
int vmdl_attach_lapic(struct vmdl_vm *vm, const struct vmdl_lapic_options *opts);
/* The same, also returning the bus (owned by the VM) for inspection. */
int vmdl_attach_lapic_ex(struct vmdl_vm *vm, const struct vmdl_lapic_options *opts,
                         struct vmdl_lapic_bus **bus);

/* The bus of the local APIC model attached to `vm`, NULL when none. */
struct vmdl_lapic_bus *vmdl_vm_lapic_bus(struct vmdl_vm *vm);

/*
 * Where level-triggered EOIs go (an I/O APIC; vmdl_attach_ioapic sets it):
 * `wanted` filters them as KVM's ioapic_handled_vectors does (NULL: all),
 * `eoi` receives those broadcast, `apic_map_changed` is told when an APIC's
 * ID, LDR, DFR or mode changed.  Replaces an earlier sink.
 */
struct vmdl_lapic_eoi_sink {
    bool (*wanted)(void *opaque, unsigned apic, uint8_t vector);
    void (*eoi)(void *opaque, unsigned apic, uint8_t vector);
    void (*apic_map_changed)(void *opaque);
    void *opaque;
};
int vmdl_lapic_set_eoi_sink(struct vmdl_vm *vm, const struct vmdl_lapic_eoi_sink *sink);

/*
 * Who decides whether an APIC holds INIT and SIPI (the bus op
 * hold_init_sipi; the vmx glue sets it at the first VMXON): `hold` true for
 * APIC `apic` keeps them pending in the APIC for the sink's owner
 * (vmdl_lapic_pending_events ...).  Without a sink they act on arrival.
 * Replaces an earlier sink.
 */
struct vmdl_lapic_init_sink {
    bool (*hold)(void *opaque, unsigned apic);
    void *opaque;
};
int vmdl_lapic_set_init_sink(struct vmdl_vm *vm, const struct vmdl_lapic_init_sink *sink);

#ifdef __cplusplus
}
#endif
#endif
