/* SPDX-License-Identifier: MIT */
/*
 * Inside the vmx model: the per-vCPU struct shared by the instruction code
 * (vmx.c), the nested entry/exit code (nested*.c) and INVEPT/INVVPID, plus
 * vmcs12 field access by encoding through the one field table.
 */
#ifndef VMDL_VMX_PRIV_H
#define VMDL_VMX_PRIV_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "virtmodel/vmx.h"
#include "virtmodel/vmx_nested.h"

#define PAGE_MASK_4K 0xfffull

struct vmdl_vmx {
    const struct vmdl_vmx_model *model;
    struct vmdl_guest_mem mem;
    bool vmxon;
    uint64_t vmxon_ptr;
    uint64_t current;           /* current-VMCS pointer */
    uint64_t feat_ctl;          /* IA32_FEATURE_CONTROL */
    uint64_t feat_ctl_reset;
    uint16_t ar_first, ar_last; /* GUEST_ES_AR_BYTES..GUEST_TR_AR_BYTES */
    uint16_t err_offset;        /* VM_INSTRUCTION_ERROR in vmcs12 */
    /* Nested state (vmx_nested.h). */
    bool guest_mode;            /* L2 active */
    bool quirk_block_ebusy;     /* pre-ead63640d4e7 vcpu_block */
    uint64_t debugctl_ok;       /* IA32_DEBUGCTL bits the vCPU implements */
    bool la57;                  /* the CPU supports 5-level paging */
    enum vmdl_vmx_mp_state mp_state;
    struct vmdl_vmx_vcpu_events ev;
    uint8_t cache[VMDL_VMCS12_SIZE];
    /* VMPTRLD reads the new region here first, so that a failed read leaves
     * the current VMCS untouched (per vCPU: nothing shared between threads). */
    uint8_t incoming[VMDL_VMCS12_SIZE];
};

/* vmcs12 field encodings by name: V12_GUEST_RIP ... (from the one table). */
enum vmdl_v12_enc {
#define F(name, enc, off, feat, kvm) V12_##name = (enc),
#define F64(name, enc, off, feat, kvm) V12_##name = (enc),
#include "virtmodel/vmcs12_fields.def"
#undef F
#undef F64
};

static inline uint64_t vmdl__get_le(const uint8_t *p, unsigned n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* One load per field width on a little-endian host: every VMREAD and
     * VMWRITE of a cached field comes through here. */
    if (n == 8) {
        uint64_t v8;
        memcpy(&v8, p, 8);
        return v8;
    }
    if (n == 4) {
        uint32_t v4;
        memcpy(&v4, p, 4);
        return v4;
    }
#endif
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static inline void vmdl__put_le(uint8_t *p, uint64_t v, unsigned n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (n == 8 || n == 4) {   /* as above */
        memcpy(p, &v, n);
        return;
    }
#endif
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
#define get_le vmdl__get_le
#define put_le vmdl__put_le

/* Read/write a vmcs12 field of the cached current VMCS by encoding,
 * whatever the profile supports (KVM reads its struct directly). */
uint64_t vmdl__v12(const struct vmdl_vmx *vmx, uint16_t enc);
void vmdl__v12_set(struct vmdl_vmx *vmx, uint16_t enc, uint64_t v);

/* Shared helpers of vmx.c. */
bool vmdl__vmx_page_ok(const struct vmdl_vmx *vmx, uint64_t p);
bool vmdl__vmx_has_current(const struct vmdl_vmx *vmx);
/* The control and host-state checks with L1's CR4 (HOST_RIP's width). */
uint32_t vmdl__vmx_check_vmfail(const struct vmdl_vmx *vmx, uint64_t l1_efer,
                                uint64_t l1_cr4, const char **check);
void vmdl__vmx_result_init(struct vmdl_vmx_result *res, const struct vmdl_vmx_ctx *ctx);
int vmdl__vmx_fault(struct vmdl_vmx_result *res, vmdl_fault f);
int vmdl__vmx_succeed(struct vmdl_vmx_result *res);
int vmdl__vmx_fail_invalid(struct vmdl_vmx_result *res);
int vmdl__vmx_fail_valid(struct vmdl_vmx *vmx, struct vmdl_vmx_result *res,
                         uint32_t err);
int vmdl__vmx_vmfail(struct vmdl_vmx *vmx, struct vmdl_vmx_result *res, uint32_t err);
bool vmdl__vmx_common_checks(const struct vmdl_vmx *vmx, const struct vmdl_vmx_ctx *ctx,
                             struct vmdl_vmx_result *res);
int vmdl__vmx_check_args(const struct vmdl_vmx *vmx, const struct vmdl_vmx_ctx *ctx,
                         const struct vmdl_vmx_result *res, const char *fn);
vmdl_fault vmdl__vmx_mem_read64(struct vmdl_vmx *vmx, uint64_t addr, bool stack,
                                uint64_t *v);
/* INVEPT (ept) or INVVPID with the descriptor's segment (invept.c). */
int vmdl__vmx_inv(struct vmdl_vmx *vmx, const struct vmdl_vmx_ctx *ctx, bool ept,
                  uint64_t type, uint64_t desc_addr, bool stack,
                  struct vmdl_vmx_result *res);

/* Control MSR pair in force for the entry checks: the TRUE_ MSR when
 * IA32_VMX_BASIC bit 55 says they exist (KVM keeps only those). */
uint64_t vmdl__vmx_ctl_msr(const struct vmdl_vmx_caps *c, enum vmdl_vmx_ctl ctl);

#endif
