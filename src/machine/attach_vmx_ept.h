/* SPDX-License-Identifier: MIT */
/*
 * The vmx glue's EPT side (attach_vmx_ept.c): L2's guest-physical accesses
 * through L1's EPT on a hosted vCPU, with the machine's second stage
 * (vmdl_vcpu_set_x86_npt) as the shadow of L1's tables.
 */
#ifndef VMDL_ATTACH_VMX_EPT_H
#define VMDL_ATTACH_VMX_EPT_H

#include <stdbool.h>
#include <stdint.h>

#include "virtmodel/guest_mem.h"
#include "virtmodel/machine.h"
#include "virtmodel/vmx_ept.h"
#include "virtmodel/vmx_nested.h"
#include "virtmodel/vmx_vapic.h"

/* No shadow built yet (no EPTP has bits 11:7 set in a valid entry). */
#define VMDL_VMX_EPT_NO_SHADOW UINT64_MAX
/* The shadow is L2 = L1 identity (no EPT), on only to keep the
 * APIC-access page out of it. */
#define VMDL_VMX_EPT_IDENTITY (UINT64_MAX - 1)
/* L1 EPT entries one shadow watches; beyond that it is rebuilt at the
 * next entry. */
#define VMDL_VMX_EPT_WATCH 1024u

/*
 * The shadow of one vCPU: the EPTP it was built from and the L1 EPT
 * entries its mappings came from (address, value after the walk).  KVM
 * write-protects the guest tables it shadows, so an L1 write to one of
 * them (clearing a dirty flag for PML, removing a right) drops what was
 * built from it without an INVEPT; here the watched entries are compared
 * at every entry into L2, which is when a change can first matter to L2
 * on this vCPU.
 */
struct vmdl__vmx_ept_shadow {
    uint64_t eptp;
    uint64_t apic_access;       /* the APIC-access page kept out, or UINT64_MAX */
    unsigned n;
    bool overflow;
    uint64_t addr[VMDL_VMX_EPT_WATCH], val[VMDL_VMX_EPT_WATCH];
};

/* Nothing built (EPTP VMDL_VMX_EPT_NO_SHADOW, no entries watched). */
void vmdl__vmx_ept_watch_reset(struct vmdl__vmx_ept_shadow *s);
/* Watch the entries of a successful walk (new or changed ones). */
void vmdl__vmx_ept_watch(struct vmdl__vmx_ept_shadow *s, const struct vmdl_ept_result *o);
/* Has a watched entry changed (or could one not be watched)? */
bool vmdl__vmx_ept_stale(const struct vmdl__vmx_ept_shadow *s,
                         const struct vmdl_guest_mem *mem);

/* After an entry into L2: the second stage on with "enable EPT" or with
 * "virtualize APIC accesses" (then L2's addresses are L1's and the shadow
 * maps them one to one), kept when it was built from this EPTP for this
 * APIC-access page and no watched entry changed; else off. */
void vmdl__vmx_ept_enter(struct vmdl_vcpu *vcpu, const struct vmdl_vmx *vmx,
                         struct vmdl__vmx_ept_shadow *s);
/* After a checkpoint restored a running L2: the shadow (empty, rebuilt
 * page by page) keyed as vmdl__vmx_ept_enter keyed it for this vmcs12. */
void vmdl__vmx_ept_rekey(const struct vmdl_vmx *vmx, struct vmdl__vmx_ept_shadow *s);
/* At a VM exit to L1: the second stage off (the shadow stays). */
void vmdl__vmx_ept_leave(struct vmdl_vcpu *vcpu);
/* INVEPT (any type), VMXOFF or a reset: the shadow is dropped. */
void vmdl__vmx_ept_flush(struct vmdl_vcpu *vcpu, struct vmdl__vmx_ept_shadow *s);
/* An L2 access missed the shadow. */
enum vmdl__vmx_npf_outcome {
    VMDL_VMX_NPF_MAPPED,        /* the page is mapped, L2 retries */
    VMDL_VMX_NPF_EXIT,          /* EPT violation, misconfiguration or PML
                                 * log-full event for L1 (*info) */
    VMDL_VMX_NPF_APIC_ACCESS,   /* the access reaches the APIC-access page,
                                 * at L1-physical *pa (never mapped) */
};
enum vmdl__vmx_npf_outcome vmdl__vmx_ept_fault(struct vmdl_vcpu *vcpu, struct vmdl_vmx *vmx,
                                               struct vmdl__vmx_ept_shadow *s,
                                               const struct vmdl_x86_npf *npf,
                                               struct vmdl_vmx_exit_info *info, uint64_t *pa);
/* An L2 access that reached the APIC-access page at L1-physical pa: a
 * MOV the rules virtualize is completed on the virtual-APIC page (RIP
 * past it); true when a VM exit is due (*info): the APIC-access exit
 * (fault-like, RIP at the instruction) or a trap-like exit of APIC-write
 * emulation. */
bool vmdl__vmx_apic_access(struct vmdl_vcpu *vcpu, struct vmdl_vmx *vmx,
                           const struct vmdl_x86_event *ev, uint64_t pa,
                           struct vmdl_vmx_exit_info *info);
/* At a VM entry into a PAE-paging L2 under EPT: the PDPTE registers from
 * vmcs12's GUEST_PDPTR0-3 (SDM 27.3.2.4).  Right after the state switch. */
void vmdl__vmx_ept_load_pdptes(struct vmdl_vcpu *vcpu, const struct vmdl_vmx *vmx,
                               const struct vmdl_vmx_cpu *l2);
/* At a VM exit from a PAE-paging L2 under EPT: its PDPTE registers into
 * vmcs12's GUEST_PDPTR0-3 (SDM 28.3.4).  Before the state switch. */
void vmdl__vmx_ept_save_pdptes(struct vmdl_vcpu *vcpu, struct vmdl_vmx *vmx,
                               const struct vmdl_vmx_cpu *l2);

#endif
