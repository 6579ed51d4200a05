/* SPDX-License-Identifier: MIT */
/*
 * Guest debugging, the way KVM_SET_GUEST_DEBUG and KVM_EXIT_DEBUG work for
 * a VMM: breakpoints on guest addresses, watchpoints on guest memory,
 * single-stepping one vCPU, and an asynchronous interrupt; each stop comes
 * back from vmdl_vm_run() as VMDL_EXIT_DEBUG with u.debug filled.  The GDB
 * stub (gdbstub.h) is built on these calls.
 *
 * A breakpoint stops before the instruction at its address executes (PC =
 * the address); resuming executes it.  A watchpoint stops after the
 * accessing instruction retired (PC = the next instruction), with the
 * accessed address.  Breakpoint and watchpoint addresses are the ones the
 * engine runs at: guest-virtual (the example convention's flat mapping,
 * or the guest's own page tables on the hosted x86 vCPU and the arm64 MMU).
 */
#ifndef VIRTMODEL_DEBUG_H
#define VIRTMODEL_DEBUG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct vmdl_vm;
struct vmdl_vcpu;

enum vmdl_debug_kind {
    VMDL_DEBUG_STEP = 1,       /* the single-stepped instruction retired */
    VMDL_DEBUG_BREAKPOINT,     /* about to execute a breakpoint address */
    VMDL_DEBUG_WATCHPOINT,     /* a watched access retired */
    VMDL_DEBUG_INTERRUPT,      /* vmdl_vm_interrupt() */
};

enum vmdl_watch_type {
    VMDL_WATCH_WRITE = 1,
    VMDL_WATCH_READ = 2,
    VMDL_WATCH_ACCESS = 3,
};

#define VMDL_MAX_BREAKPOINTS 64

/* On every vCPU.  VMDL_ERANGE when the table is full; adding one twice or
 * removing one that is not there is VMDL_ENOENT / no-op as documented. */
int vmdl_vm_add_breakpoint(struct vmdl_vm *vm, uint64_t addr);
int vmdl_vm_remove_breakpoint(struct vmdl_vm *vm, uint64_t addr);
int vmdl_vm_add_watchpoint(struct vmdl_vm *vm, uint64_t addr, uint64_t len,
                           enum vmdl_watch_type type);
int vmdl_vm_remove_watchpoint(struct vmdl_vm *vm, uint64_t addr, uint64_t len,
                              enum vmdl_watch_type type);

/* While on, the next vmdl_vm_run runs only this vCPU, one instruction (or
 * the delivery of one interrupt/exception into its handler), and returns
 * VMDL_EXIT_DEBUG / VMDL_DEBUG_STEP. */
int vmdl_vcpu_set_single_step(struct vmdl_vcpu *vcpu, bool on);

/* Set up debugging (the other calls do it when first used); needed before
 * another thread may call vmdl_vm_interrupt. */
int vmdl_vm_enable_debug(struct vmdl_vm *vm);

/* Guest code at va..va+len (the addresses it runs at) was changed from
 * outside the guest (a debugger's memory write): drop what the engine
 * translated from it. */
void vmdl_vm_code_changed(struct vmdl_vm *vm, uint64_t va, uint64_t len);

/*
 * A guest-virtual address as the vCPU sees it now (KVM_TRANSLATE): its
 * physical address through the guest's page tables (x86 paging on the
 * hosted vCPU, the arm64 stage-1 EL1&0 regime with the MMU on; identity
 * otherwise).  No permission checks and no accessed/dirty updates.
 * VMDL_ENOENT when unmapped.
 */
int vmdl_vcpu_translate(struct vmdl_vcpu *vcpu, uint64_t va, uint64_t *pa);

/* Read or write guest-virtual memory as a debugger does: page by page
 * through vmdl_vcpu_translate, RAM only (never a device).  Returns the
 * number of bytes done, which stops at the first unmapped or non-RAM
 * byte.  A write drops what the engine translated from the bytes. */
size_t vmdl_vcpu_access_virt(struct vmdl_vcpu *vcpu, uint64_t va, void *buf,
                             size_t len, bool write);

/* From any thread: the running (or next) vmdl_vm_run returns
 * VMDL_EXIT_DEBUG / VMDL_DEBUG_INTERRUPT at the next block boundary. */
void vmdl_vm_interrupt(struct vmdl_vm *vm);

#ifdef __cplusplus
}
#endif
#endif
