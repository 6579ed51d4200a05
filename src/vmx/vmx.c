/* SPDX-License-Identifier: MIT */
/*
 * Per-vCPU VMX root-operation state and the VMX instructions (SDM Vol. 3C
 * chapter "VMX Instruction Reference"), with KVM's nested-VMX choices where
 * the SDM leaves room; each such choice is marked "KVM:" below.
 */
#include <stdlib.h>
#include <string.h>

#include "virtmodel/bits.h"
#include "virtmodel/blob.h"
#include "virtmodel/error.h"
#include "virtmodel/vmx.h"
#include "virtmodel/vmx_nested.h"

#include "vmx_priv.h"

#define CR4_VMXE (1ull << 13)
#define AR_BYTES_KEEP 0x1f0ffull

/* ---- small helpers ---- */

uint64_t vmdl__v12(const struct vmdl_vmx *vmx, uint16_t enc)
{
    const struct vmdl_vmcs_field *f = vmdl_vmcs_field_lookup(enc);
    return f ? get_le(vmx->cache + f->offset, vmdl_vmcs_enc_bytes(enc)) : 0;
}

void vmdl__v12_set(struct vmdl_vmx *vmx, uint16_t enc, uint64_t v)
{
    const struct vmdl_vmcs_field *f = vmdl_vmcs_field_lookup(enc);
    if (f)
        put_le(vmx->cache + f->offset, v, vmdl_vmcs_enc_bytes(enc));
}

uint64_t vmdl__vmx_ctl_msr(const struct vmdl_vmx_caps *c, enum vmdl_vmx_ctl ctl)
{
    bool t = c->basic & VMDL_VMX_BASIC_TRUE_CTLS;
    switch (ctl) {
    case VMDL_VMX_CTL_PINBASED: return t ? c->true_pinbased : c->pinbased;
    case VMDL_VMX_CTL_PROCBASED: return t ? c->true_procbased : c->procbased;
    case VMDL_VMX_CTL_PROCBASED2: return c->procbased2;
    case VMDL_VMX_CTL_EXIT: return t ? c->true_exit : c->exit;
    case VMDL_VMX_CTL_ENTRY: return t ? c->true_entry : c->entry;
    }
    return 0;
}

static uint32_t revision(const struct vmdl_vmx *vmx)
{
    return (uint32_t)(vmdl_vmx_model_caps(vmx->model)->basic &
                      VMDL_VMX_BASIC_REVISION_MASK);
}

bool vmdl__vmx_page_ok(const struct vmdl_vmx *vmx, uint64_t p)
{
    unsigned bits = vmdl_vmx_model_caps(vmx->model)->phys_addr_bits;
    return !(p & PAGE_MASK_4K) && !(p >> bits);
}

bool vmdl__vmx_has_current(const struct vmdl_vmx *vmx)
{
    return vmx->current != VMDL_VMX_INVALID_PTR;
}

void vmdl__vmx_result_init(struct vmdl_vmx_result *res, const struct vmdl_vmx_ctx *ctx)
{
    memset(res, 0, sizeof(*res));
    res->rflags = ctx->rflags;
}

int vmdl__vmx_fault(struct vmdl_vmx_result *res, vmdl_fault f)
{
    res->fault = f;
    return VMDL_OK;
}

int vmdl__vmx_succeed(struct vmdl_vmx_result *res)
{
    res->status = VMDL_VMX_SUCCEED;
    res->rflags &= ~VMDL_RFLAGS_ARITH;
    return VMDL_OK;
}

int vmdl__vmx_fail_invalid(struct vmdl_vmx_result *res)
{
    res->status = VMDL_VMX_FAIL_INVALID;
    res->rflags = (res->rflags & ~VMDL_RFLAGS_ARITH) | VMDL_RFLAGS_CF;
    return VMDL_OK;
}

int vmdl__vmx_fail_valid(struct vmdl_vmx *vmx, struct vmdl_vmx_result *res,
                      uint32_t err)
{
    res->status = VMDL_VMX_FAIL_VALID;
    res->error = err;
    res->rflags = (res->rflags & ~VMDL_RFLAGS_ARITH) | VMDL_RFLAGS_ZF;
    put_le(vmx->cache + vmx->err_offset, err, 4);
    return VMDL_OK;
}

/* SDM "VMfail(ErrorNumber)". */
int vmdl__vmx_vmfail(struct vmdl_vmx *vmx, struct vmdl_vmx_result *res, uint32_t err)
{
    return vmdl__vmx_has_current(vmx) ? vmdl__vmx_fail_valid(vmx, res, err) : vmdl__vmx_fail_invalid(res);
}

/* Write the cached vmcs12 back to its region (KVM ignores failures). */
static void writeback(struct vmdl_vmx *vmx)
{
    if (vmdl__vmx_has_current(vmx))
        (void)vmdl_guest_write(&vmx->mem, vmx->current, vmx->cache,
                               VMDL_VMCS12_SIZE);
}

/* Checks common to every instruction but VMXON: #UD outside VMX operation,
 * #GP(0) at CPL > 0.  Returns true when the instruction is finished. */
bool vmdl_vmx_insn_mode_ud(const struct vmdl_vmx_ctx *ctx)
{
    return ctx && (!(ctx->cr0 & 1) || (ctx->rflags & (1ull << 17)) || ctx->compat);
}

bool vmdl__vmx_common_checks(const struct vmdl_vmx *vmx, const struct vmdl_vmx_ctx *ctx,
                          struct vmdl_vmx_result *res)
{
    if (vmdl_vmx_insn_mode_ud(ctx) || !vmx->vmxon || !(ctx->cr4 & CR4_VMXE)) {
        vmdl__vmx_fault(res, VMDL_FAULT_UD);
        return true;
    }
    if (ctx->cpl) {
        vmdl__vmx_fault(res, VMDL_FAULT_GP);
        return true;
    }
    return false;
}

int vmdl__vmx_check_args(const struct vmdl_vmx *vmx, const struct vmdl_vmx_ctx *ctx,
                      const struct vmdl_vmx_result *res, const char *fn)
{
    if (!vmx || !ctx || !res)
        return vmdl_fail(VMDL_EINVAL, "%s: NULL argument", fn);
    if (ctx->cpl > 3)
        return vmdl_fail(VMDL_EINVAL, "%s: cpl %u is not 0..3", fn, ctx->cpl);
    return VMDL_OK;
}

/* An operand source: a value already read, or memory still to read. */
struct src {
    bool mem;
    uint64_t value;
    uint64_t addr;
    bool stack;
};

/* A non-canonical linear address: #SS(0) through the stack segment, else
 * #GP(0) (SDM Vol. 3A 6.15, interrupts 12 and 13). */
static vmdl_fault canon_fault(uint64_t addr, bool stack)
{
    if (vmdl_is_canonical48(addr) && vmdl_is_canonical48(addr + 7))
        return VMDL_FAULT_NONE;
    return stack ? VMDL_FAULT_SS : VMDL_FAULT_GP;
}

vmdl_fault vmdl__vmx_mem_read64(struct vmdl_vmx *vmx, uint64_t addr, bool stack, uint64_t *v)
{
    vmdl_fault f = canon_fault(addr, stack);
    if (f != VMDL_FAULT_NONE)
        return f;
    uint8_t b[8];
    if (vmdl_guest_read(&vmx->mem, addr, b, 8))
        return VMDL_FAULT_PF;
    *v = get_le(b, 8);
    return VMDL_FAULT_NONE;
}

static vmdl_fault mem_write64(struct vmdl_vmx *vmx, uint64_t addr, bool stack, uint64_t v)
{
    vmdl_fault f = canon_fault(addr, stack);
    if (f != VMDL_FAULT_NONE)
        return f;
    uint8_t b[8];
    put_le(b, v, 8);
    if (vmdl_guest_write(&vmx->mem, addr, b, 8))
        return VMDL_FAULT_PF;
    return VMDL_FAULT_NONE;
}

/* Fetch a source operand; false (and res->fault set) on a fault. */
static bool fetch(struct vmdl_vmx *vmx, const struct src *s, uint64_t *v,
                  struct vmdl_vmx_result *res)
{
    if (!s->mem) {
        *v = s->value;
        return true;
    }
    vmdl_fault f = vmdl__vmx_mem_read64(vmx, s->addr, s->stack, v);
    if (f != VMDL_FAULT_NONE) {
        vmdl__vmx_fault(res, f);
        return false;
    }
    return true;
}

/* ---- lifecycle ---- */

int vmdl_vmx_create(const struct vmdl_vmx_model *model,
                    const struct vmdl_guest_mem *mem, struct vmdl_vmx **out)
{
    if (!model || !mem || !out || !mem->read || !mem->write)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vmx_create: NULL model, memory or output");
    struct vmdl_vmx *vmx = calloc(1, sizeof(*vmx));
    if (!vmx)
        return vmdl_fail(VMDL_ENOMEM, "vmdl_vmx_create: out of memory");
    vmx->model = model;
    vmx->mem = *mem;
    vmx->ar_first = vmdl_vmcs_field_by_name("GUEST_ES_AR_BYTES")->encoding;
    vmx->ar_last = vmdl_vmcs_field_by_name("GUEST_TR_AR_BYTES")->encoding;
    vmx->err_offset = vmdl_vmcs_field_by_name("VM_INSTRUCTION_ERROR")->offset;
    vmdl_vmx_reset(vmx);
    *out = vmx;
    return VMDL_OK;
}

void vmdl_vmx_destroy(struct vmdl_vmx *vmx)
{
    free(vmx);
}

void vmdl_vmx_reset(struct vmdl_vmx *vmx)
{
    if (!vmx)
        return;
    vmx->vmxon = false;
    vmx->vmxon_ptr = VMDL_VMX_INVALID_PTR;
    vmx->current = VMDL_VMX_INVALID_PTR;
    vmx->feat_ctl = vmx->feat_ctl_reset;
    vmx->guest_mode = false;
    vmx->mp_state = VMDL_MP_RUNNABLE;
    memset(&vmx->ev, 0, sizeof(vmx->ev));
    memset(vmx->cache, 0, sizeof(vmx->cache));
}

const struct vmdl_vmx_model *vmdl_vmx_get_model(const struct vmdl_vmx *vmx)
{
    return vmx ? vmx->model : NULL;
}

/* ---- instructions ---- */

static int do_vmxon(struct vmdl_vmx *vmx, const struct vmdl_vmx_ctx *ctx,
                    const struct src *op, struct vmdl_vmx_result *res)
{
    const struct vmdl_vmx_caps *c = vmdl_vmx_model_caps(vmx->model);
    vmdl__vmx_result_init(res, ctx);
    /* KVM checks CR4.VMXE itself (hardware can't: L1 runs with VMXE=1). */
    if (!(ctx->cr4 & CR4_VMXE) || vmdl_vmx_insn_mode_ud(ctx))
        return vmdl__vmx_fault(res, VMDL_FAULT_UD);
    /* CPL is checked both outside and in VMX root operation, before the
     * VMfail for "already in VMX operation". */
    if (ctx->cpl)
        return vmdl__vmx_fault(res, VMDL_FAULT_GP);
    if (vmx->vmxon)
        return vmdl__vmx_vmfail(vmx, res, VMDL_VMXERR_VMXON_IN_VMX_ROOT);
    if ((ctx->cr0 & c->cr0_fixed0) != c->cr0_fixed0 || (ctx->cr0 & ~c->cr0_fixed1) ||
        (ctx->cr4 & c->cr4_fixed0) != c->cr4_fixed0 || (ctx->cr4 & ~c->cr4_fixed1))
        return vmdl__vmx_fault(res, VMDL_FAULT_GP);
    const uint64_t need = VMDL_FEAT_CTL_LOCKED | VMDL_FEAT_CTL_VMX_OUTSIDE_SMX;
    if ((vmx->feat_ctl & need) != need)
        return vmdl__vmx_fault(res, VMDL_FAULT_GP);
    uint64_t ptr;
    if (!fetch(vmx, op, &ptr, res))
        return VMDL_OK;
    if (!vmdl__vmx_page_ok(vmx, ptr))
        return vmdl__vmx_fail_invalid(res);
    /* rev[30:0] must match and rev[31] (shadow indicator) be 0.  KVM: a
     * region outside RAM fails the same way (its read fails). */
    uint8_t b[4];
    if (vmdl_guest_read(&vmx->mem, ptr, b, 4) || get_le(b, 4) != revision(vmx))
        return vmdl__vmx_fail_invalid(res);
    vmx->vmxon = true;
    vmx->vmxon_ptr = ptr;
    vmx->current = VMDL_VMX_INVALID_PTR;
    return vmdl__vmx_succeed(res);
}

int vmdl_vmx_vmxon(struct vmdl_vmx *vmx, const struct vmdl_vmx_ctx *ctx,
                   uint64_t ptr, struct vmdl_vmx_result *res)
{
    int err = vmdl__vmx_check_args(vmx, ctx, res, "vmdl_vmx_vmxon");
    if (err)
        return err;
    struct src s = {false, ptr, 0, false};
    return do_vmxon(vmx, ctx, &s, res);
}

int vmdl_vmx_vmxoff(struct vmdl_vmx *vmx, const struct vmdl_vmx_ctx *ctx,
                    struct vmdl_vmx_result *res)
{
    int err = vmdl__vmx_check_args(vmx, ctx, res, "vmdl_vmx_vmxoff");
    if (err)
        return err;
    vmdl__vmx_result_init(res, ctx);
    if (vmdl__vmx_common_checks(vmx, ctx, res))
        return VMDL_OK;
    /* KVM (free_nested): the cached vmcs12 is dropped, not written back;
     * the SDM asks software to VMCLEAR first. */
    vmx->vmxon = false;
    vmx->vmxon_ptr = VMDL_VMX_INVALID_PTR;
    vmx->current = VMDL_VMX_INVALID_PTR;
    return vmdl__vmx_succeed(res);
}

static int do_vmclear(struct vmdl_vmx *vmx, const struct vmdl_vmx_ctx *ctx,
                      const struct src *op, struct vmdl_vmx_result *res)
{
    vmdl__vmx_result_init(res, ctx);
    if (vmdl__vmx_common_checks(vmx, ctx, res))
        return VMDL_OK;
    uint64_t ptr;
    if (!fetch(vmx, op, &ptr, res))
        return VMDL_OK;
    if (!vmdl__vmx_page_ok(vmx, ptr))
        return vmdl__vmx_vmfail(vmx, res, VMDL_VMXERR_VMCLEAR_INVALID_ADDRESS);
    if (ptr == vmx->vmxon_ptr)
        return vmdl__vmx_vmfail(vmx, res, VMDL_VMXERR_VMCLEAR_VMXON_POINTER);
    if (ptr == vmx->current) {
        writeback(vmx);
        vmx->current = VMDL_VMX_INVALID_PTR;
    }
    /* Launch state <- clear in the region (KVM ignores a write failure). */
    uint8_t zero[4] = {0};
    (void)vmdl_guest_write(&vmx->mem, ptr + VMDL_VMCS12_OFF_LAUNCH_STATE, zero, 4);
    return vmdl__vmx_succeed(res);
}

int vmdl_vmx_vmclear(struct vmdl_vmx *vmx, const struct vmdl_vmx_ctx *ctx,
                     uint64_t ptr, struct vmdl_vmx_result *res)
{
    int err = vmdl__vmx_check_args(vmx, ctx, res, "vmdl_vmx_vmclear");
    if (err)
        return err;
    struct src s = {false, ptr, 0, false};
    return do_vmclear(vmx, ctx, &s, res);
}

static int do_vmptrld(struct vmdl_vmx *vmx, const struct vmdl_vmx_ctx *ctx,
                      const struct src *op, struct vmdl_vmx_result *res)
{
    vmdl__vmx_result_init(res, ctx);
    if (vmdl__vmx_common_checks(vmx, ctx, res))
        return VMDL_OK;
    uint64_t ptr;
    if (!fetch(vmx, op, &ptr, res))
        return VMDL_OK;
    if (!vmdl__vmx_page_ok(vmx, ptr))
        return vmdl__vmx_vmfail(vmx, res, VMDL_VMXERR_VMPTRLD_INVALID_ADDRESS);
    if (ptr == vmx->vmxon_ptr)
        return vmdl__vmx_vmfail(vmx, res, VMDL_VMXERR_VMPTRLD_VMXON_POINTER);
    if (ptr == vmx->current)
        return vmdl__vmx_succeed(res);
    uint8_t hdr[4];
    /* KVM: an unbacked region reads as all-ones, which cannot match the
     * revision id, hence error 11 rather than 9. */
    if (vmdl_guest_read(&vmx->mem, ptr, hdr, 4))
        return vmdl__vmx_vmfail(vmx, res, VMDL_VMXERR_VMPTRLD_INCORRECT_REVISION);
    uint32_t h = (uint32_t)get_le(hdr, 4);
    bool shadow = h >> 31;
    if ((h & 0x7fffffffu) != revision(vmx) ||
        (shadow && !vmdl_vmx_model_has(vmx->model, VMDL_VMXF_SHADOW_VMCS)))
        return vmdl__vmx_vmfail(vmx, res, VMDL_VMXERR_VMPTRLD_INCORRECT_REVISION);
    if (vmdl_guest_read(&vmx->mem, ptr, vmx->incoming, sizeof(vmx->incoming)))
        return vmdl__vmx_vmfail(vmx, res, VMDL_VMXERR_VMPTRLD_INVALID_ADDRESS);
    writeback(vmx);
    memcpy(vmx->cache, vmx->incoming, sizeof(vmx->incoming));
    vmx->current = ptr;
    return vmdl__vmx_succeed(res);
}

int vmdl_vmx_vmptrld(struct vmdl_vmx *vmx, const struct vmdl_vmx_ctx *ctx,
                     uint64_t ptr, struct vmdl_vmx_result *res)
{
    int err = vmdl__vmx_check_args(vmx, ctx, res, "vmdl_vmx_vmptrld");
    if (err)
        return err;
    struct src s = {false, ptr, 0, false};
    return do_vmptrld(vmx, ctx, &s, res);
}

int vmdl_vmx_vmptrst(struct vmdl_vmx *vmx, const struct vmdl_vmx_ctx *ctx,
                     struct vmdl_vmx_result *res)
{
    int err = vmdl__vmx_check_args(vmx, ctx, res, "vmdl_vmx_vmptrst");
    if (err)
        return err;
    vmdl__vmx_result_init(res, ctx);
    if (vmdl__vmx_common_checks(vmx, ctx, res))
        return VMDL_OK;
    res->value = vmx->current;
    return vmdl__vmx_succeed(res);
}

static uint64_t cache_read(const struct vmdl_vmx *vmx, const struct vmdl_vmcs_field *f)
{
    return get_le(vmx->cache + f->offset, vmdl_vmcs_enc_bytes(f->encoding));
}

static void cache_write(struct vmdl_vmx *vmx, const struct vmdl_vmcs_field *f,
                        uint64_t v)
{
    put_le(vmx->cache + f->offset, v, vmdl_vmcs_enc_bytes(f->encoding));
}

/* VMREAD with the arguments checked and res initialised (vmdl_vmx_exec
 * has done both: not again on every trapped VMREAD). */
static int do_vmread(struct vmdl_vmx *vmx, const struct vmdl_vmx_ctx *ctx,
                     uint64_t field, struct vmdl_vmx_result *res)
{
    if (vmdl__vmx_common_checks(vmx, ctx, res))
        return VMDL_OK;
    if (!vmdl__vmx_has_current(vmx))
        return vmdl__vmx_fail_invalid(res);
    const struct vmdl_vmcs_field *f = vmdl_vmx_model_field(vmx->model, field);
    if (!f)
        return vmdl__vmx_fail_valid(vmx, res, VMDL_VMXERR_UNSUPPORTED_VMCS_COMPONENT);
    res->value = cache_read(vmx, f);
    return vmdl__vmx_succeed(res);
}

int vmdl_vmx_vmread(struct vmdl_vmx *vmx, const struct vmdl_vmx_ctx *ctx,
                    uint64_t field, struct vmdl_vmx_result *res)
{
    int err = vmdl__vmx_check_args(vmx, ctx, res, "vmdl_vmx_vmread");
    if (err)
        return err;
    vmdl__vmx_result_init(res, ctx);
    return do_vmread(vmx, ctx, field, res);
}

static int do_vmwrite(struct vmdl_vmx *vmx, const struct vmdl_vmx_ctx *ctx,
                      uint64_t field, const struct src *op,
                      struct vmdl_vmx_result *res)
{
    vmdl__vmx_result_init(res, ctx);
    if (vmdl__vmx_common_checks(vmx, ctx, res))
        return VMDL_OK;
    if (!vmdl__vmx_has_current(vmx))
        return vmdl__vmx_fail_invalid(res);
    /* KVM reads a memory source before the field checks. */
    uint64_t value;
    if (!fetch(vmx, op, &value, res))
        return VMDL_OK;
    const struct vmdl_vmcs_field *f = vmdl_vmx_model_field(vmx->model, field);
    if (!f)
        return vmdl__vmx_fail_valid(vmx, res, VMDL_VMXERR_UNSUPPORTED_VMCS_COMPONENT);
    const struct vmdl_vmx_caps *c = vmdl_vmx_model_caps(vmx->model);
    if (vmdl_vmcs_enc_type(f->encoding) == VMDL_VMCS_TYPE_READ_ONLY &&
        !(c->misc & VMDL_VMX_MISC_VMWRITE_ANY))
        return vmdl__vmx_fail_valid(vmx, res, VMDL_VMXERR_VMWRITE_READ_ONLY_COMPONENT);
    /* KVM: drop the AR-bytes reserved bits as some CPUs do, so that L1
     * sees the same value whichever path reads it back. */
    if (c->ar_bytes_drop_reserved && f->encoding >= vmx->ar_first &&
        f->encoding <= vmx->ar_last)
        value &= AR_BYTES_KEEP;
    cache_write(vmx, f, value);
    return vmdl__vmx_succeed(res);
}

int vmdl_vmx_vmwrite(struct vmdl_vmx *vmx, const struct vmdl_vmx_ctx *ctx,
                     uint64_t field, uint64_t value, struct vmdl_vmx_result *res)
{
    int err = vmdl__vmx_check_args(vmx, ctx, res, "vmdl_vmx_vmwrite");
    if (err)
        return err;
    struct src s = {false, value, 0, false};
    return do_vmwrite(vmx, ctx, field, &s, res);
}

/*
 * The launch-state check.  The word comes from guest memory at VMPTRLD, so
 * it can hold anything.  KVM (nested_vmx_run) fails only on an exact match
 * with the instruction's expectation, `launch_state == launch`: VMLAUNCH
 * when the word is 1, VMRESUME when it is 0.  The option treats every
 * non-zero word as launched.
 */
static bool launch_state_refuses(const struct vmdl_vmx *vmx, bool resume)
{
    uint32_t word = (uint32_t)get_le(vmx->cache + VMDL_VMCS12_OFF_LAUNCH_STATE, 4);
    if (vmdl_vmx_model_caps(vmx->model)->launch_state_any_nonzero)
        return resume ? word == 0 : word != 0;
    return word == (resume ? 0u : 1u);
}

int vmdl_vmx_vmlaunch(struct vmdl_vmx *vmx, const struct vmdl_vmx_ctx *ctx,
                      bool resume, struct vmdl_vmx_result *res)
{
    int err = vmdl__vmx_check_args(vmx, ctx, res, "vmdl_vmx_vmlaunch");
    if (err)
        return err;
    vmdl__vmx_result_init(res, ctx);
    if (vmdl__vmx_common_checks(vmx, ctx, res))
        return VMDL_OK;
    if (!vmdl__vmx_has_current(vmx))
        return vmdl__vmx_fail_invalid(res);
    /* A shadow VMCS cannot be the target of a VM entry. */
    if (get_le(vmx->cache + VMDL_VMCS12_OFF_REVISION, 4) >> 31)
        return vmdl__vmx_fail_invalid(res);
    if (ctx->mov_ss_blocking)
        return vmdl__vmx_fail_valid(vmx, res, VMDL_VMXERR_ENTRY_EVENTS_BLOCKED_BY_MOV_SS);
    if (launch_state_refuses(vmx, resume))
        return vmdl__vmx_fail_valid(vmx, res, resume ? VMDL_VMXERR_VMRESUME_NONLAUNCHED_VMCS
                                           : VMDL_VMXERR_VMLAUNCH_NONCLEAR_VMCS);
    res->status = VMDL_VMX_ENTRY;
    return VMDL_OK;
}

int vmdl_vmx_entry_done(struct vmdl_vmx *vmx)
{
    if (!vmx)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vmx_entry_done: NULL vmx");
    if (!vmdl__vmx_has_current(vmx))
        return vmdl_fail(VMDL_ESTATE, "vmdl_vmx_entry_done: no current VMCS");
    put_le(vmx->cache + VMDL_VMCS12_OFF_LAUNCH_STATE, 1, 4);
    return VMDL_OK;
}

int vmdl_vmx_entry_failed(struct vmdl_vmx *vmx, uint32_t error,
                          struct vmdl_vmx_result *res)
{
    if (!vmx || !res)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vmx_entry_failed: NULL argument");
    if (res->fault != VMDL_FAULT_NONE || res->status != VMDL_VMX_ENTRY ||
        !vmdl__vmx_has_current(vmx))
        return vmdl_fail(VMDL_ESTATE,
                         "vmdl_vmx_entry_failed: not a pending VM entry");
    vmdl__vmx_fail_valid(vmx, res, error);
    return VMDL_OK;
}

/* ---- whole instructions ---- */

const char *vmdl_vmx_insn_name(enum vmdl_vmx_insn insn)
{
    switch (insn) {
    case VMDL_VMX_INSN_VMXON: return "vmxon";
    case VMDL_VMX_INSN_VMXOFF: return "vmxoff";
    case VMDL_VMX_INSN_VMCLEAR: return "vmclear";
    case VMDL_VMX_INSN_VMPTRLD: return "vmptrld";
    case VMDL_VMX_INSN_VMPTRST: return "vmptrst";
    case VMDL_VMX_INSN_VMREAD: return "vmread";
    case VMDL_VMX_INSN_VMWRITE: return "vmwrite";
    case VMDL_VMX_INSN_VMLAUNCH: return "vmlaunch";
    case VMDL_VMX_INSN_VMRESUME: return "vmresume";
    case VMDL_VMX_INSN_INVEPT: return "invept";
    case VMDL_VMX_INSN_INVVPID: return "invvpid";
    }
    return "?";
}

static bool is_kind(const struct vmdl_vmx_operand *op, int kind)
{
    return op && (int)op->kind == kind;
}

static bool is_rm(const struct vmdl_vmx_operand *op)
{
    return is_kind(op, VMDL_VMX_OPND_REG) || is_kind(op, VMDL_VMX_OPND_MEM);
}

int vmdl_vmx_exec(struct vmdl_vmx *vmx, const struct vmdl_vmx_ctx *ctx,
                  enum vmdl_vmx_insn insn, struct vmdl_vmx_operand *op0,
                  struct vmdl_vmx_operand *op1, struct vmdl_vmx_result *res)
{
    int err = vmdl__vmx_check_args(vmx, ctx, res, "vmdl_vmx_exec");
    if (err)
        return err;
    if (op0)
        op0->written = false;
    if (op1)
        op1->written = false;
    vmdl__vmx_result_init(res, ctx);
    switch (insn) {
    case VMDL_VMX_INSN_VMXON:
    case VMDL_VMX_INSN_VMCLEAR:
    case VMDL_VMX_INSN_VMPTRLD: {
        /* The register form of these opcodes is not these instructions. */
        if (!is_kind(op0, VMDL_VMX_OPND_MEM))
            return vmdl__vmx_fault(res, VMDL_FAULT_UD);
        struct src s = {true, 0, op0->addr, op0->stack};
        if (insn == VMDL_VMX_INSN_VMXON)
            return do_vmxon(vmx, ctx, &s, res);
        if (insn == VMDL_VMX_INSN_VMCLEAR)
            return do_vmclear(vmx, ctx, &s, res);
        return do_vmptrld(vmx, ctx, &s, res);
    }
    case VMDL_VMX_INSN_VMPTRST: {
        if (!is_kind(op0, VMDL_VMX_OPND_MEM))
            return vmdl__vmx_fault(res, VMDL_FAULT_UD);
        vmdl_vmx_vmptrst(vmx, ctx, res);
        if (res->fault == VMDL_FAULT_NONE) {
            vmdl_fault f = mem_write64(vmx, op0->addr, op0->stack, res->value);
            if (f != VMDL_FAULT_NONE) {
                vmdl__vmx_result_init(res, ctx);
                return vmdl__vmx_fault(res, f);
            }
        }
        return VMDL_OK;
    }
    case VMDL_VMX_INSN_VMXOFF:
        return vmdl_vmx_vmxoff(vmx, ctx, res);
    case VMDL_VMX_INSN_VMLAUNCH:
    case VMDL_VMX_INSN_VMRESUME:
        return vmdl_vmx_vmlaunch(vmx, ctx, insn == VMDL_VMX_INSN_VMRESUME, res);
    case VMDL_VMX_INSN_VMREAD:
        if (!is_rm(op0) || !is_kind(op1, VMDL_VMX_OPND_REG))
            return vmdl__vmx_fault(res, VMDL_FAULT_UD);
        do_vmread(vmx, ctx, op1->value, res);
        if (res->fault != VMDL_FAULT_NONE || res->status != VMDL_VMX_SUCCEED)
            return VMDL_OK;
        if (op0->kind == VMDL_VMX_OPND_REG) {
            op0->value = res->value;
            op0->written = true;
        } else {
            vmdl_fault f = mem_write64(vmx, op0->addr, op0->stack, res->value);
            if (f != VMDL_FAULT_NONE) {
                vmdl__vmx_result_init(res, ctx);
                return vmdl__vmx_fault(res, f);
            }
        }
        return VMDL_OK;
    case VMDL_VMX_INSN_VMWRITE: {
        if (!is_kind(op0, VMDL_VMX_OPND_REG) || !is_rm(op1))
            return vmdl__vmx_fault(res, VMDL_FAULT_UD);
        struct src s = {op1->kind == VMDL_VMX_OPND_MEM, op1->value, op1->addr, op1->stack};
        return do_vmwrite(vmx, ctx, op0->value, &s, res);
    }
    case VMDL_VMX_INSN_INVEPT:
    case VMDL_VMX_INSN_INVVPID:
        if (!is_kind(op0, VMDL_VMX_OPND_REG) || !is_kind(op1, VMDL_VMX_OPND_MEM))
            return vmdl__vmx_fault(res, VMDL_FAULT_UD);
        return vmdl__vmx_inv(vmx, ctx, insn == VMDL_VMX_INSN_INVEPT, op0->value,
                             op1->addr, op1->stack, res);
    }
    return vmdl_fail(VMDL_EINVAL, "vmdl_vmx_exec: unknown instruction %d", (int)insn);
}

/* ---- VMREAD/VMWRITE in L2 with VMCS shadowing (SDM 25.1.3, 24.10) ---- */

bool vmdl_vmx_l2_vmcs_access_exits(const struct vmdl_vmx *vmx, bool write, uint64_t field)
{
    if (!vmx || !vmdl__vmx_has_current(vmx))
        return true;
    uint64_t proc = vmdl__v12(vmx, V12_CPU_BASED_VM_EXEC_CONTROL);
    uint64_t proc2 = (proc & VMDL_PROC_SECONDARY) ? vmdl__v12(vmx, V12_SECONDARY_VM_EXEC_CONTROL)
                                                  : 0;
    /* KVM's nested_vmx_exit_handled_vmcs_access: no shadowing, a field
     * beyond the 32-KiB bitmap, an unreadable bitmap, or its bit set. */
    if (!(proc2 & VMDL_PROC2_SHADOW_VMCS) || (field >> 15))
        return true;
    uint64_t bitmap = vmdl__v12(vmx, write ? V12_VMWRITE_BITMAP : V12_VMREAD_BITMAP);
    uint8_t b = 0;
    if (vmdl_guest_read(&vmx->mem, bitmap + field / 8, &b, 1))
        return true;
    return (b >> (field & 7)) & 1u;
}

/* The instruction runs on the shadow VMCS (the 4-KiB region at the VMCS
 * link pointer, in vmcs12's layout, as KVM's cached_shadow_vmcs12): swapped
 * in for the current VMCS's cache, so that the field table, the
 * read-only rule and the AR-bytes mask are VMREAD/VMWRITE's own.  A
 * VMfailValid error goes to the current VMCS (KVM's nested_vmx_fail on
 * get_vmcs12), a successful VMWRITE to the shadow region. */
int vmdl_vmx_exec_shadow(struct vmdl_vmx *vmx, const struct vmdl_vmx_ctx *ctx,
                         enum vmdl_vmx_insn insn, struct vmdl_vmx_operand *op0,
                         struct vmdl_vmx_operand *op1, struct vmdl_vmx_result *res)
{
    int err = vmdl__vmx_check_args(vmx, ctx, res, "vmdl_vmx_exec_shadow");
    if (err)
        return err;
    if (insn != VMDL_VMX_INSN_VMREAD && insn != VMDL_VMX_INSN_VMWRITE)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vmx_exec_shadow: only VMREAD and VMWRITE");
    vmdl__vmx_result_init(res, ctx);
    if (vmdl__vmx_common_checks(vmx, ctx, res))
        return VMDL_OK;
    uint64_t link = vmdl__v12(vmx, V12_VMCS_LINK_POINTER);
    uint8_t current[VMDL_VMCS12_SIZE];
    if (link == UINT64_MAX || !vmdl__vmx_has_current(vmx) ||
        vmdl_guest_read(&vmx->mem, link, current, sizeof(current)))
        return vmdl__vmx_fail_invalid(res);
    /* current <-> cache: the shadow's bytes now in the cache. */
    uint8_t *cache = vmx->cache;
    for (size_t i = 0; i < VMDL_VMCS12_SIZE; i++) {
        uint8_t t = cache[i];
        cache[i] = current[i];
        current[i] = t;
    }
    err = vmdl_vmx_exec(vmx, ctx, insn, op0, op1, res);
    if (!err && res->fault == VMDL_FAULT_NONE && res->status == VMDL_VMX_SUCCEED &&
        insn == VMDL_VMX_INSN_VMWRITE)
        (void)vmdl_guest_write(&vmx->mem, link, cache, VMDL_VMCS12_SIZE);
    memcpy(cache, current, VMDL_VMCS12_SIZE);
    if (!err && res->fault == VMDL_FAULT_NONE && res->status == VMDL_VMX_FAIL_VALID)
        put_le(cache + vmx->err_offset, res->error, 4);
    return err;
}

/* ---- MSRs ---- */

vmdl_fault vmdl_vmx_rdmsr(struct vmdl_vmx *vmx, uint32_t index, uint64_t *value)
{
    if (!vmx || !value)
        return VMDL_FAULT_GP;
    if (index == VMDL_MSR_IA32_FEATURE_CONTROL) {
        *value = vmx->feat_ctl;
        return VMDL_FAULT_NONE;
    }
    if (index >= VMDL_MSR_VMX_BASIC && index <= VMDL_MSR_VMX_PROCBASED_CTLS3) {
        if (vmdl_vmx_model_msr(vmx->model, index, value))
            return VMDL_FAULT_GP;
        return VMDL_FAULT_NONE;
    }
    return VMDL_FAULT_UNCLAIMED;
}

vmdl_fault vmdl_vmx_wrmsr(struct vmdl_vmx *vmx, uint32_t index, uint64_t value)
{
    if (!vmx)
        return VMDL_FAULT_GP;
    if (index == VMDL_MSR_IA32_FEATURE_CONTROL) {
        if ((vmx->feat_ctl & VMDL_FEAT_CTL_LOCKED) || (value & ~VMDL_FEAT_CTL_VALID))
            return VMDL_FAULT_GP;
        vmx->feat_ctl = value;
        return VMDL_FAULT_NONE;
    }
    /* KVM: the capability MSRs are read-only to the guest (host-initiated
     * writes only). */
    if (index >= VMDL_MSR_VMX_BASIC && index <= VMDL_MSR_VMX_PROCBASED_CTLS3)
        return VMDL_FAULT_GP;
    return VMDL_FAULT_UNCLAIMED;
}

int vmdl_vmx_set_feature_control(struct vmdl_vmx *vmx, uint64_t value)
{
    if (!vmx)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vmx_set_feature_control: NULL vmx");
    if (value & ~VMDL_FEAT_CTL_VALID)
        return vmdl_fail(VMDL_EINVAL,
                         "vmdl_vmx_set_feature_control: value 0x%llx has bits "
                         "outside 0x%llx",
                         (unsigned long long)value,
                         (unsigned long long)VMDL_FEAT_CTL_VALID);
    vmx->feat_ctl = value;
    vmx->feat_ctl_reset = value;
    return VMDL_OK;
}

/* ---- inspection ---- */

bool vmdl_vmx_in_vmx_operation(const struct vmdl_vmx *vmx)
{
    return vmx && vmx->vmxon;
}

uint64_t vmdl_vmx_vmxon_ptr(const struct vmdl_vmx *vmx)
{
    return vmx ? vmx->vmxon_ptr : VMDL_VMX_INVALID_PTR;
}

uint64_t vmdl_vmx_current_vmptr(const struct vmdl_vmx *vmx)
{
    return vmx ? vmx->current : VMDL_VMX_INVALID_PTR;
}

bool vmdl_vmx_launched(const struct vmdl_vmx *vmx)
{
    return vmdl_vmx_launch_state(vmx) != 0;
}

uint32_t vmdl_vmx_launch_state(const struct vmdl_vmx *vmx)
{
    if (!vmx || !vmdl__vmx_has_current(vmx))
        return 0;
    return (uint32_t)get_le(vmx->cache + VMDL_VMCS12_OFF_LAUNCH_STATE, 4);
}

static int peek_poke_field(const struct vmdl_vmx *vmx, uint64_t field,
                           const struct vmdl_vmcs_field **f, const char *fn)
{
    if (!vmx)
        return vmdl_fail(VMDL_EINVAL, "%s: NULL vmx", fn);
    if (!vmdl__vmx_has_current(vmx))
        return vmdl_fail(VMDL_ESTATE, "%s: no current VMCS", fn);
    *f = vmdl_vmx_model_field(vmx->model, field);
    if (!*f)
        return vmdl_fail(VMDL_ENOENT,
                         "%s: field 0x%llx is unknown or unsupported by profile %s",
                         fn, (unsigned long long)field,
                         vmdl_vmx_model_caps(vmx->model)->name);
    return VMDL_OK;
}

int vmdl_vmx_peek(const struct vmdl_vmx *vmx, uint64_t field, uint64_t *value)
{
    const struct vmdl_vmcs_field *f = NULL;
    int err = peek_poke_field(vmx, field, &f, "vmdl_vmx_peek");
    if (err)
        return err;
    if (!value)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vmx_peek: NULL value");
    *value = cache_read(vmx, f);
    return VMDL_OK;
}

int vmdl_vmx_poke(struct vmdl_vmx *vmx, uint64_t field, uint64_t value)
{
    const struct vmdl_vmcs_field *f = NULL;
    int err = peek_poke_field(vmx, field, &f, "vmdl_vmx_poke");
    if (err)
        return err;
    cache_write(vmx, f, value);
    return VMDL_OK;
}

int vmdl_vmx_flush(struct vmdl_vmx *vmx)
{
    if (!vmx)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vmx_flush: NULL vmx");
    if (!vmdl__vmx_has_current(vmx))
        return VMDL_OK;
    int err = vmdl_guest_write(&vmx->mem, vmx->current, vmx->cache, VMDL_VMCS12_SIZE);
    if (err)
        return vmdl_fail(err, "vmdl_vmx_flush: vmcs12 region 0x%llx is not RAM",
                         (unsigned long long)vmx->current);
    return VMDL_OK;
}

/* ---- state blob ---- */

#define VMX_BLOB_MAGIC VMDL_BLOB_MAGIC('V', 'M', 'X', '1')
/* Version 2: the nested state (L2 active, MP state, vCPU events, the
 * -EBUSY quirk) after the cached vmcs12. */
#define VMX_BLOB_VERSION 2

/* The vCPU events of a nested guest, in the blob's byte order. */
static void put_events(struct vmdl_blob_writer *w, const struct vmdl_vmx_vcpu_events *e)
{
    const bool b[] = {e->exception_injected, e->interrupt_injected, e->nmi_injected,
                      e->exception_pending, e->nmi_pending, e->init_pending,
                      e->sipi_pending, e->irq_pending, e->irq_blocked, e->nmi_blocked,
                      e->mtf_pending, e->preempt_timer_expired, e->nested_run_pending};
    uint16_t bits = 0;
    for (unsigned i = 0; i < sizeof(b) / sizeof(b[0]); i++)
        bits |= (uint16_t)(b[i] << i);
    vmdl_blob_put_u32(w, bits);
    vmdl_blob_put_u8(w, e->exception_vector);
    vmdl_blob_put_u8(w, e->interrupt_vector);
    vmdl_blob_put_u8(w, e->irq_vector);
    vmdl_blob_put_u8(w, e->sipi_vector);
}

static uint32_t get_events(struct vmdl_blob_reader *r, struct vmdl_vmx_vcpu_events *e)
{
    uint32_t bits = vmdl_blob_get_u32(r);
    bool *b[] = {&e->exception_injected, &e->interrupt_injected, &e->nmi_injected,
                 &e->exception_pending, &e->nmi_pending, &e->init_pending,
                 &e->sipi_pending, &e->irq_pending, &e->irq_blocked, &e->nmi_blocked,
                 &e->mtf_pending, &e->preempt_timer_expired, &e->nested_run_pending};
    for (unsigned i = 0; i < sizeof(b) / sizeof(b[0]); i++)
        *b[i] = (bits >> i) & 1;
    e->exception_vector = vmdl_blob_get_u8(r);
    e->interrupt_vector = vmdl_blob_get_u8(r);
    e->irq_vector = vmdl_blob_get_u8(r);
    e->sipi_vector = vmdl_blob_get_u8(r);
    return bits >> (sizeof(b) / sizeof(b[0]));     /* undefined bits */
}

int vmdl_vmx_save(const struct vmdl_vmx *vmx, uint8_t **blob, size_t *len)
{
    if (!vmx || !blob || !len)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vmx_save: NULL argument");
    struct vmdl_blob_writer w;
    vmdl_blob_begin(&w, VMX_BLOB_MAGIC, VMX_BLOB_VERSION);
    vmdl_blob_put_u32(&w, vmdl_vmx_model_fingerprint(vmx->model));
    vmdl_blob_put_u64(&w, vmx->feat_ctl);
    vmdl_blob_put_u64(&w, vmx->feat_ctl_reset);
    vmdl_blob_put_u8(&w, vmx->vmxon);
    vmdl_blob_put_u64(&w, vmx->vmxon_ptr);
    vmdl_blob_put_u64(&w, vmx->current);
    vmdl_blob_put_u8(&w, vmdl__vmx_has_current(vmx));
    if (vmdl__vmx_has_current(vmx))
        vmdl_blob_put_bytes(&w, vmx->cache, VMDL_VMCS12_SIZE);
    vmdl_blob_put_u8(&w, vmx->guest_mode);
    vmdl_blob_put_u8(&w, (uint8_t)vmx->mp_state);
    vmdl_blob_put_u8(&w, vmx->quirk_block_ebusy);
    put_events(&w, &vmx->ev);
    return vmdl_blob_finish(&w, blob, len);
}

/* The nested part of a version-2 blob, refused unless it describes a state
 * the API could have reached: L2 only with a current VMCS, an MP state KVM
 * knows (INIT/SIPI_RECEIVED not in VMX root operation), exception vectors
 * up to 31, no event both pending and injected, a pending nested run only in L2
 * (vmdl_vmx_set_mp_state / vmdl_vmx_set_vcpu_events apply the same rules). */
static void load_nested(struct vmdl_blob_reader *r, struct vmdl_vmx *t)
{
    uint8_t gm = vmdl_blob_get_u8(r), mp = vmdl_blob_get_u8(r), quirk = vmdl_blob_get_u8(r);
    uint32_t undef = get_events(r, &t->ev);
    if (r->err)
        return;
    const struct vmdl_vmx_vcpu_events *e = &t->ev;
    if (gm > 1 || quirk > 1)
        vmdl_blob_reject(r, "nested flag byte is not 0 or 1");
    else if (gm && t->current == VMDL_VMX_INVALID_PTR)
        vmdl_blob_reject(r, "L2 active without a current VMCS");
    else if (mp > VMDL_MP_SIPI_RECEIVED)
        vmdl_blob_reject(r, "unknown MP state");
    else if ((mp == VMDL_MP_INIT_RECEIVED || mp == VMDL_MP_SIPI_RECEIVED) && t->vmxon && !gm)
        vmdl_blob_reject(r, "INIT/SIPI received in VMX root operation");
    else if (undef)
        vmdl_blob_reject(r, "undefined vCPU event bits");
    else if ((e->exception_injected || e->exception_pending) && e->exception_vector > 31)
        vmdl_blob_reject(r, "exception vector above 31");
    else if (e->exception_pending && e->exception_injected)
        vmdl_blob_reject(r, "exception both pending and injected");
    else if (e->nested_run_pending && !gm)
        vmdl_blob_reject(r, "nested run pending outside L2");
    t->guest_mode = gm == 1;
    t->mp_state = (enum vmdl_vmx_mp_state)mp;
    t->quirk_block_ebusy = quirk == 1;
}

int vmdl_vmx_load(struct vmdl_vmx *vmx, const void *blob, size_t len)
{
    if (!vmx)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vmx_load: NULL vmx");
    struct vmdl_blob_reader r;
    int err = vmdl_blob_open(&r, blob, len, VMX_BLOB_MAGIC, VMX_BLOB_VERSION,
                             "vmx state");
    if (err)
        return err;
    struct vmdl_vmx *t = malloc(sizeof(*t));
    if (!t)
        return vmdl_fail(VMDL_ENOMEM, "vmdl_vmx_load: out of memory");
    *t = *vmx;
    uint32_t fp = vmdl_blob_get_u32(&r);
    t->feat_ctl = vmdl_blob_get_u64(&r);
    t->feat_ctl_reset = vmdl_blob_get_u64(&r);
    uint8_t on = vmdl_blob_get_u8(&r);
    t->vmxon_ptr = vmdl_blob_get_u64(&r);
    t->current = vmdl_blob_get_u64(&r);
    uint8_t cached = vmdl_blob_get_u8(&r);
    if (!r.err) {
        if (fp != vmdl_vmx_model_fingerprint(vmx->model))
            vmdl_blob_reject(&r, "saved with another VMX capability profile");
        else if (on > 1 || cached > 1)
            vmdl_blob_reject(&r, "flag byte is not 0 or 1");
        else if ((t->feat_ctl | t->feat_ctl_reset) & ~VMDL_FEAT_CTL_VALID)
            vmdl_blob_reject(&r, "IA32_FEATURE_CONTROL has reserved bits set");
        else if (!on && (t->vmxon_ptr != VMDL_VMX_INVALID_PTR ||
                         t->current != VMDL_VMX_INVALID_PTR))
            vmdl_blob_reject(&r, "pointers set outside VMX operation");
        else if (on && !vmdl__vmx_page_ok(t, t->vmxon_ptr))
            vmdl_blob_reject(&r, "invalid VMXON pointer");
        else if (t->current != VMDL_VMX_INVALID_PTR &&
                 (!vmdl__vmx_page_ok(t, t->current) || t->current == t->vmxon_ptr))
            vmdl_blob_reject(&r, "invalid current-VMCS pointer");
        else if (cached != (t->current != VMDL_VMX_INVALID_PTR))
            vmdl_blob_reject(&r, "cached vmcs12 present without a current VMCS or missing");
    }
    t->vmxon = on == 1;
    if (!r.err) {
        if (cached)
            vmdl_blob_get_bytes(&r, t->cache, VMDL_VMCS12_SIZE);
        else
            memset(t->cache, 0, VMDL_VMCS12_SIZE);
    }
    load_nested(&r, t);
    err = vmdl_blob_close(&r);
    if (!err)
        *vmx = *t;
    free(t);
    return err;
}
