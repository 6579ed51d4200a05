/* SPDX-License-Identifier: MIT */
/*
 * Per-vCPU VMX state and the VMX instructions, as KVM's nested VMX emulates
 * them for an L1 hypervisor in 64-bit mode (VMX root operation only: no L2
 * is ever run).
 *
 * State: outside/inside VMX operation, the VMXON pointer, the current-VMCS
 * pointer and a cached copy of the current vmcs12.  The vmcs12 lives in
 * guest memory (struct vmdl_guest_mem): VMPTRLD of a new pointer writes the
 * previously cached one back and caches the new region, VMCLEAR of the
 * current one writes it back and invalidates the pointer (KVM's
 * nested_release_vmcs12), VMCLEAR of any region sets its launch state to
 * clear in memory.
 *
 * Outcomes are architectural.  An instruction either faults (#UD, #GP(0),
 * or, from the operand helpers, #PF for a memory operand outside RAM) and
 * changes nothing, or completes with VMsucceed / VMfailInvalid /
 * VMfailValid(n) and the RFLAGS arithmetic flags the SDM prescribes:
 *   VMsucceed      CF PF AF ZF SF OF <- 0
 *   VMfailInvalid  CF <- 1, PF AF ZF SF OF <- 0
 *   VMfailValid    ZF <- 1, CF PF AF SF OF <- 0, error in VM_INSTRUCTION_ERROR
 * (VMfail(n) is VMfailValid(n) when a current VMCS exists, VMfailInvalid
 * otherwise.)
 */
#ifndef VIRTMODEL_VMX_H
#define VIRTMODEL_VMX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtmodel/fault.h"
#include "virtmodel/guest_mem.h"
#include "virtmodel/vmx_caps.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VMDL_VMX_INVALID_PTR UINT64_MAX

/* RFLAGS bits touched by VMX instructions. */
#define VMDL_RFLAGS_CF (1ull << 0)
#define VMDL_RFLAGS_PF (1ull << 2)
#define VMDL_RFLAGS_AF (1ull << 4)
#define VMDL_RFLAGS_ZF (1ull << 6)
#define VMDL_RFLAGS_SF (1ull << 7)
#define VMDL_RFLAGS_OF (1ull << 11)
#define VMDL_RFLAGS_ARITH (VMDL_RFLAGS_CF | VMDL_RFLAGS_PF | VMDL_RFLAGS_AF | \
                           VMDL_RFLAGS_ZF | VMDL_RFLAGS_SF | VMDL_RFLAGS_OF)

/* IA32_FEATURE_CONTROL bits modelled. */
#define VMDL_FEAT_CTL_LOCKED (1ull << 0)
#define VMDL_FEAT_CTL_VMX_IN_SMX (1ull << 1)
#define VMDL_FEAT_CTL_VMX_OUTSIDE_SMX (1ull << 2)
#define VMDL_FEAT_CTL_VALID (VMDL_FEAT_CTL_LOCKED | VMDL_FEAT_CTL_VMX_IN_SMX | \
                             VMDL_FEAT_CTL_VMX_OUTSIDE_SMX)

/* VM-instruction error numbers (SDM Vol. 3C, "VM-Instruction Error Numbers"). */
enum vmdl_vmx_error {
    VMDL_VMXERR_VMCLEAR_INVALID_ADDRESS = 2,
    VMDL_VMXERR_VMCLEAR_VMXON_POINTER = 3,
    VMDL_VMXERR_VMLAUNCH_NONCLEAR_VMCS = 4,
    VMDL_VMXERR_VMRESUME_NONLAUNCHED_VMCS = 5,
    VMDL_VMXERR_ENTRY_INVALID_CONTROL_FIELD = 7,
    VMDL_VMXERR_VMPTRLD_INVALID_ADDRESS = 9,
    VMDL_VMXERR_VMPTRLD_VMXON_POINTER = 10,
    VMDL_VMXERR_VMPTRLD_INCORRECT_REVISION = 11,
    VMDL_VMXERR_UNSUPPORTED_VMCS_COMPONENT = 12,
    VMDL_VMXERR_VMWRITE_READ_ONLY_COMPONENT = 13,
    VMDL_VMXERR_VMXON_IN_VMX_ROOT = 15,
    VMDL_VMXERR_ENTRY_EVENTS_BLOCKED_BY_MOV_SS = 26,
};

enum vmdl_vmx_status {
    VMDL_VMX_SUCCEED = 0,
    VMDL_VMX_FAIL_INVALID,
    VMDL_VMX_FAIL_VALID,
    /* VMLAUNCH/VMRESUME passed every check this model makes: a VM entry
     * would start now.  Nothing changed; RFLAGS untouched.  The caller
     * emulates the entry (then calls vmdl_vmx_entry_done) or reports it. */
    VMDL_VMX_ENTRY,
};

/* What the model needs from the vCPU. */
struct vmdl_vmx_ctx {
    uint64_t cr0, cr4;
    uint64_t rflags;            /* in: current RFLAGS */
    unsigned cpl;               /* 0..3 */
    bool mov_ss_blocking;       /* interruptibility: blocking by MOV SS */
    bool compat;                /* IA-32e mode with CS.L clear */
};

/* The modes in which every VMX instruction (VMCALL and VMFUNC aside) is
 * #UD before any other check: CR0.PE clear, RFLAGS.VM set, compatibility
 * mode (SDM Vol. 3C 31.3, each instruction's first line). */
bool vmdl_vmx_insn_mode_ud(const struct vmdl_vmx_ctx *ctx);

struct vmdl_vmx_result {
    vmdl_fault fault;           /* != NONE: nothing else is meaningful */
    enum vmdl_vmx_status status;
    uint32_t error;             /* VMfailValid: the error number */
    uint64_t rflags;            /* RFLAGS after the instruction */
    uint64_t value;             /* VMREAD: field value; VMPTRST: pointer */
};

struct vmdl_vmx;

/* Per-vCPU state over a model (the model must outlive it) and guest memory
 * (copied).  Starts outside VMX operation, IA32_FEATURE_CONTROL = 0. */
int vmdl_vmx_create(const struct vmdl_vmx_model *model,
                    const struct vmdl_guest_mem *mem, struct vmdl_vmx **out);
void vmdl_vmx_destroy(struct vmdl_vmx *vmx);
/* vCPU reset (INIT/RESET): leave VMX operation, drop the cache without
 * writing it back, IA32_FEATURE_CONTROL <- reset value. */
void vmdl_vmx_reset(struct vmdl_vmx *vmx);
const struct vmdl_vmx_model *vmdl_vmx_get_model(const struct vmdl_vmx *vmx);

/* ---- instructions on decoded operand values ---- */
/* VMXON/VMCLEAR/VMPTRLD: ptr is the 64-bit value read from the m64 operand. */
int vmdl_vmx_vmxon(struct vmdl_vmx *vmx, const struct vmdl_vmx_ctx *ctx,
                   uint64_t ptr, struct vmdl_vmx_result *res);
int vmdl_vmx_vmxoff(struct vmdl_vmx *vmx, const struct vmdl_vmx_ctx *ctx,
                    struct vmdl_vmx_result *res);
int vmdl_vmx_vmclear(struct vmdl_vmx *vmx, const struct vmdl_vmx_ctx *ctx,
                     uint64_t ptr, struct vmdl_vmx_result *res);
int vmdl_vmx_vmptrld(struct vmdl_vmx *vmx, const struct vmdl_vmx_ctx *ctx,
                     uint64_t ptr, struct vmdl_vmx_result *res);
/* res->value = the current-VMCS pointer, to be stored to the m64 operand. */
int vmdl_vmx_vmptrst(struct vmdl_vmx *vmx, const struct vmdl_vmx_ctx *ctx,
                     struct vmdl_vmx_result *res);
/* res->value = the field, zero-extended, to be stored to the destination. */
int vmdl_vmx_vmread(struct vmdl_vmx *vmx, const struct vmdl_vmx_ctx *ctx,
                    uint64_t field, struct vmdl_vmx_result *res);
int vmdl_vmx_vmwrite(struct vmdl_vmx *vmx, const struct vmdl_vmx_ctx *ctx,
                     uint64_t field, uint64_t value, struct vmdl_vmx_result *res);
int vmdl_vmx_vmlaunch(struct vmdl_vmx *vmx, const struct vmdl_vmx_ctx *ctx,
                      bool resume, struct vmdl_vmx_result *res);
/* A VM entry that VMDL_VMX_ENTRY announced completed: launch state <- launched. */
int vmdl_vmx_entry_done(struct vmdl_vmx *vmx);
/* ... or failed its (unmodelled) entry checks: turn the VMDL_VMX_ENTRY
 * result into VMfailValid(error) (error stored, RFLAGS set, launch state
 * unchanged).  VMDL_ESTATE when res is not a VMDL_VMX_ENTRY result. */
int vmdl_vmx_entry_failed(struct vmdl_vmx *vmx, uint32_t error,
                          struct vmdl_vmx_result *res);

/* ---- whole instructions with operands ---- */
enum vmdl_vmx_insn {
    VMDL_VMX_INSN_VMXON = 1, VMDL_VMX_INSN_VMXOFF, VMDL_VMX_INSN_VMCLEAR,
    VMDL_VMX_INSN_VMPTRLD, VMDL_VMX_INSN_VMPTRST, VMDL_VMX_INSN_VMREAD,
    VMDL_VMX_INSN_VMWRITE, VMDL_VMX_INSN_VMLAUNCH, VMDL_VMX_INSN_VMRESUME,
    /* op0 = r64 type, op1 = m128 descriptor (vmx_nested.h) */
    VMDL_VMX_INSN_INVEPT, VMDL_VMX_INSN_INVVPID,
};

/* An operand: a register (its value in, its new value out) or memory at a
 * linear address, accessed through the model's guest memory with linear ==
 * physical (identity mapping).  Non-canonical address: #GP(0); not RAM: #PF. */
struct vmdl_vmx_operand {
    enum { VMDL_VMX_OPND_NONE, VMDL_VMX_OPND_REG, VMDL_VMX_OPND_MEM } kind;
    uint64_t value;             /* REG: value in; after a VMREAD, value out */
    uint64_t addr;              /* MEM: linear address */
    bool stack;                 /* MEM: through SS (#SS(0) if non-canonical) */
    bool written;               /* out: REG destination was written */
};

/*
 * Execute one instruction in Intel operand order (VMREAD op0 = r/m64
 * destination, op1 = r64 field; VMWRITE op0 = r64 field, op1 = r/m64
 * source; VMXON/VMCLEAR/VMPTRLD/VMPTRST op0 = m64).  Memory accesses, fault
 * priority and state changes happen as on hardware: a fault leaves state,
 * memory (for VMREAD/VMPTRST stores) and RFLAGS unchanged.
 */
int vmdl_vmx_exec(struct vmdl_vmx *vmx, const struct vmdl_vmx_ctx *ctx,
                  enum vmdl_vmx_insn insn, struct vmdl_vmx_operand *op0,
                  struct vmdl_vmx_operand *op1, struct vmdl_vmx_result *res);
const char *vmdl_vmx_insn_name(enum vmdl_vmx_insn insn);

/* ---- MSRs: IA32_FEATURE_CONTROL (0x3A) and 0x480-0x492, guest view ---- */
vmdl_fault vmdl_vmx_rdmsr(struct vmdl_vmx *vmx, uint32_t index, uint64_t *value);
/* Capability MSRs are read-only (#GP); IA32_FEATURE_CONTROL #GPs once
 * locked or with bits outside VMDL_FEAT_CTL_VALID. */
vmdl_fault vmdl_vmx_wrmsr(struct vmdl_vmx *vmx, uint32_t index, uint64_t value);
/* Host-initiated (firmware/VMM) setting of IA32_FEATURE_CONTROL, ignoring
 * the lock; also becomes the value restored by vmdl_vmx_reset. */
int vmdl_vmx_set_feature_control(struct vmdl_vmx *vmx, uint64_t value);

/* ---- inspection ---- */
bool vmdl_vmx_in_vmx_operation(const struct vmdl_vmx *vmx);
uint64_t vmdl_vmx_vmxon_ptr(const struct vmdl_vmx *vmx);
uint64_t vmdl_vmx_current_vmptr(const struct vmdl_vmx *vmx);
/* Launch state of the current VMCS: its launch-state word is non-zero
 * (false when there is no current VMCS). */
bool vmdl_vmx_launched(const struct vmdl_vmx *vmx);
/* The raw launch-state word of the current vmcs12 (0 when none): 0 clear,
 * 1 launched, anything else read from a guest-written region. */
uint32_t vmdl_vmx_launch_state(const struct vmdl_vmx *vmx);
/* Host-side access to the cached current vmcs12, bypassing the guest
 * checks (read-only fields writable): VMDL_ESTATE without a current VMCS,
 * VMDL_ENOENT for an unsupported field. */
int vmdl_vmx_peek(const struct vmdl_vmx *vmx, uint64_t field, uint64_t *value);
int vmdl_vmx_poke(struct vmdl_vmx *vmx, uint64_t field, uint64_t value);
/* Write the cached vmcs12 back to guest memory (as KVM does before a
 * checkpoint, nested_vmx_... sync).  No-op without a current VMCS. */
int vmdl_vmx_flush(struct vmdl_vmx *vmx);

/* ---- state export/import (checkpoint) ---- */
/* Blob "VMX1" v1: VMX operation, pointers, IA32_FEATURE_CONTROL, the model
 * fingerprint and the cached vmcs12.  Import validates into a temporary and
 * commits only a fully valid blob of the same model. */
int vmdl_vmx_save(const struct vmdl_vmx *vmx, uint8_t **blob, size_t *len);
int vmdl_vmx_load(struct vmdl_vmx *vmx, const void *blob, size_t len);

#ifdef __cplusplus
}
#endif
#endif
