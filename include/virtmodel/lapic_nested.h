/* SPDX-License-Identifier: MIT */
/*
 * Nested APICv updates: vmcs01 and vmcs02 as far as the APICv fields go,
 * and how an update that concerns L1 reaches vmcs01 while L2 is active.
 *
 * KVM keeps L1's controls in vmcs01 and runs L2 on vmcs02.  When something
 * changes L1's APIC virtualization while L2 runs (APICv (un)inhibited, the
 * x2APIC switch, SVI, TPR threshold, PML, the APIC-access page), KVM used to
 * set a flag and apply the change at the next nested VM-exit.  The series
 * "KVM: VMX: Rip out deferred nested VM-Exit updates" (Sean Christopherson,
 * Dec 2025) instead loads vmcs01, writes the field and loads vmcs02 again,
 * on demand, and makes SVI part of the APICv update.
 *   VMDL_NAPICV_IMMEDIATE       today's KVM (the default)
 *   VMDL_NAPICV_DEFERRED_QUIRK  the old flags, applied at nested VM-exit in
 *                               KVM's order; an APICv activation carries no
 *                               SVI (it was refreshed only by ISR changes),
 *                               which is what left L1 with a stale SVI.
 */
#ifndef VIRTMODEL_LAPIC_NESTED_H
#define VIRTMODEL_LAPIC_NESTED_H

#include <stdbool.h>
#include <stdint.h>

#include "virtmodel/lapic.h"

#ifdef __cplusplus
extern "C" {
#endif

/* VMX execution controls involved (SDM vol. 3C 25.6). */
#define VMDL_PIN_POSTED_INTR (1u << 7)
#define VMDL_PROC_TPR_SHADOW (1u << 21)
#define VMDL_PROC2_VIRT_APIC_ACCESSES (1u << 0)
#define VMDL_PROC2_VIRT_X2APIC_MODE (1u << 4)
#define VMDL_PROC2_APIC_REG_VIRT (1u << 8)
#define VMDL_PROC2_VIRT_INTR_DELIVERY (1u << 9)
#define VMDL_PROC2_ENABLE_PML (1u << 17)

/* The APICv-related fields of one VMCS. */
struct vmdl_vmcs_apicv {
    uint32_t pin_controls;
    uint32_t proc_controls;
    uint32_t proc2_controls;
    uint32_t tpr_threshold;      /* 0x401C */
    uint16_t guest_intr_status;  /* 0x0810: SVI << 8 | RVI */
    uint64_t apic_access_addr;   /* 0x2014 */
    uint64_t virtual_apic_addr;  /* 0x2012 */
    uint64_t eoi_exit_bitmap[4]; /* 0x201C.. */
    uint16_t posted_intr_nv;     /* 0x0002 */
    uint64_t posted_intr_desc;   /* 0x2016 */
};

enum vmdl_napicv_behaviour {
    VMDL_NAPICV_IMMEDIATE = 0,
    VMDL_NAPICV_DEFERRED_QUIRK = 1,
};

/* Deferred updates waiting for the nested VM-exit (quirk only). */
#define VMDL_NAPICV_PEND_TPR_THRESHOLD (1u << 0)
#define VMDL_NAPICV_PEND_VIRTUAL_APIC_MODE (1u << 1)
#define VMDL_NAPICV_PEND_PML (1u << 2)
#define VMDL_NAPICV_PEND_APIC_ACCESS_PAGE (1u << 3)
#define VMDL_NAPICV_PEND_APICV_STATUS (1u << 4)
#define VMDL_NAPICV_PEND_HWAPIC_ISR (1u << 5)

struct vmdl_napicv;

int vmdl_napicv_create(enum vmdl_napicv_behaviour b, struct vmdl_napicv **out);
void vmdl_napicv_destroy(struct vmdl_napicv *n);
enum vmdl_napicv_behaviour vmdl_napicv_behaviour(const struct vmdl_napicv *n);

/* L1's vmcs01 as L0 set it up (before any nested entry). */
int vmdl_napicv_set_vmcs01(struct vmdl_napicv *n, const struct vmdl_vmcs_apicv *v);
/* Nested VM-entry (VMLAUNCH/VMRESUME): vmcs02 becomes the loaded VMCS. */
int vmdl_napicv_enter_l2(struct vmdl_napicv *n, const struct vmdl_vmcs_apicv *vmcs02);
/* Nested VM-exit: vmcs01 loaded again; deferred updates applied (quirk). */
int vmdl_napicv_exit_l2(struct vmdl_napicv *n);
bool vmdl_napicv_l2_active(const struct vmdl_napicv *n);
/* which: 1 = vmcs01, 2 = vmcs02; the raw fields as they are now. */
int vmdl_napicv_get_vmcs(const struct vmdl_napicv *n, unsigned which,
                         struct vmdl_vmcs_apicv *out);
/* Writable view of vmcs01's guest interrupt status (what the CPU uses for
 * L1's virtual EOI). */
uint16_t *vmdl_napicv_vmcs01_gis(struct vmdl_napicv *n);
unsigned vmdl_napicv_pending(const struct vmdl_napicv *n);

/* Updates that concern L1 (KVM's vmx_* hooks). */
int vmdl_napicv_refresh_apicv(struct vmdl_napicv *n, bool active, int max_isr);
int vmdl_napicv_hwapic_isr_update(struct vmdl_napicv *n, int max_isr);
int vmdl_napicv_set_virtual_apic_mode(struct vmdl_napicv *n,
                                      enum vmdl_lapic_mode mode);
int vmdl_napicv_set_apic_access_page(struct vmdl_napicv *n, uint64_t gpa);
int vmdl_napicv_set_tpr_threshold(struct vmdl_napicv *n, uint32_t thr);
int vmdl_napicv_set_pml(struct vmdl_napicv *n, bool enable);

/* Route an APIC's notifications (vmdl_lapic_hooks) to these updates. */
int vmdl_napicv_attach_lapic(struct vmdl_napicv *n, struct vmdl_lapic *apic);

struct vmdl_napicv_stats {
    uint64_t vmcs_loads;       /* VMPTRLDs: entries, exits, on-demand switches */
    uint64_t on_demand;        /* vmcs01 updates done by switching while L2 ran */
    uint64_t deferred;         /* updates parked in a flag */
    uint64_t deferred_applied; /* flags consumed at nested VM-exit */
};
int vmdl_napicv_get_stats(const struct vmdl_napicv *n,
                          struct vmdl_napicv_stats *st);

#ifdef __cplusplus
}
#endif
#endif
