/* SPDX-License-Identifier: MIT */
/*
 * INVEPT and INVVPID from L1 (SDM Vol. 3C "INVEPT", "INVVPID"; KVM's
 * handle_invept / handle_invvpid).  The model keeps no TLB, so a successful
 * invalidation changes nothing but RFLAGS; what matters to L1 is the order
 * of the checks and the outcome:
 *   #UD when the profile lacks EPT+INVEPT (VPID+INVVPID), outside VMX
 *   operation or without CR4.VMXE; #GP(0) at CPL > 0; VMfailValid(28) for a
 *   type IA32_VMX_EPT_VPID_CAP does not list; then the 128-bit descriptor
 *   is read (#GP/#PF), even for types that do not use it; then the
 *   descriptor checks (VMfailValid(28)).
 */
#include "virtmodel/bits.h"
#include "virtmodel/error.h"
#include "vmx_priv.h"

#define EPT_CAP_INVEPT (1ull << 20)
#define VPID_CAP_INVVPID (1ull << 32)

static bool read_desc(struct vmdl_vmx *vmx, uint64_t addr, bool stack, uint64_t d[2],
                      struct vmdl_vmx_result *res)
{
    for (unsigned i = 0; i < 2; i++) {
        vmdl_fault f = vmdl__vmx_mem_read64(vmx, addr + 8 * i, stack, &d[i]);
        if (f != VMDL_FAULT_NONE) {
            vmdl__vmx_fault(res, f);
            return false;
        }
    }
    return true;
}

static bool feature_ud(const struct vmdl_vmx *vmx, unsigned proc2_bit, uint64_t cap_bit)
{
    const struct vmdl_vmx_caps *c = vmdl_vmx_model_caps(vmx->model);
    return !vmdl_vmx_caps_allowed1(c, VMDL_VMX_CTL_PROCBASED2, proc2_bit) ||
           !vmdl_vmx_caps_allowed1(c, VMDL_VMX_CTL_PROCBASED, 31) ||
           !(c->ept_vpid_cap & cap_bit);
}

/* The checks INVEPT and INVVPID share, in their order: feature #UD, VMX
 * operation #UD, CPL #GP, the type against the capability's type bits
 * (VMfail 28), then the descriptor read.  Returns true when the
 * instruction is finished (fault or VMfail). */
static bool inv_common(struct vmdl_vmx *vmx, const struct vmdl_vmx_ctx *ctx,
                       unsigned proc2_bit, uint64_t cap_bit, uint64_t types,
                       uint64_t type, uint64_t desc_addr, bool stack, uint64_t d[2],
                       struct vmdl_vmx_result *res)
{
    vmdl__vmx_result_init(res, ctx);
    if (feature_ud(vmx, proc2_bit, cap_bit)) {
        vmdl__vmx_fault(res, VMDL_FAULT_UD);
        return true;
    }
    if (vmdl__vmx_common_checks(vmx, ctx, res))
        return true;
    if (type >= 32 || !(types & (1ull << type))) {
        vmdl__vmx_vmfail(vmx, res, VMDL_VMXERR_INVALID_OPERAND_INVEPT_INVVPID);
        return true;
    }
    return !read_desc(vmx, desc_addr, stack, d, res);
}

static int invept(struct vmdl_vmx *vmx, const struct vmdl_vmx_ctx *ctx,
                  uint64_t type, uint64_t desc_addr, bool stack, struct vmdl_vmx_result *res)
{
    /* Types 1 (single context) and 2 (global): EPT_VPID_CAP bits 25, 26. */
    uint64_t types = (vmdl_vmx_model_caps(vmx->model)->ept_vpid_cap >> 24) & 6;
    uint64_t d[2];
    if (inv_common(vmx, ctx, 1, EPT_CAP_INVEPT, types, type, desc_addr, stack, d, res))
        return VMDL_OK;
    if (type == 1 && !vmdl_vmx_eptp_valid(vmx->model, d[0]))
        return vmdl__vmx_vmfail(vmx, res, VMDL_VMXERR_INVALID_OPERAND_INVEPT_INVVPID);
    return vmdl__vmx_succeed(res);
}

static int invvpid(struct vmdl_vmx *vmx, const struct vmdl_vmx_ctx *ctx,
                   uint64_t type, uint64_t desc_addr, bool stack, struct vmdl_vmx_result *res)
{
    /* Types 0 individual address, 1 single context, 2 all contexts,
     * 3 single context retaining globals: EPT_VPID_CAP bits 40-43. */
    uint64_t types = (vmdl_vmx_model_caps(vmx->model)->ept_vpid_cap >> 40) & 0xf;
    uint64_t d[2];
    if (inv_common(vmx, ctx, 5, VPID_CAP_INVVPID, types, type, desc_addr, stack, d, res))
        return VMDL_OK;
    uint64_t vpid = d[0], gla = d[1];
    /* Descriptor bits 63:16 are reserved. */
    /* The address: 57-bit canonical on a CPU with 5-level paging (KVM's
     * is_noncanonical_invlpg_address), whatever CR4.LA57. */
    bool bad = (vpid >> 16) ||
               (type == 0 && (!vpid || !vmdl_is_canonical(gla, vmx->la57 ? 57 : 48))) ||
               ((type == 1 || type == 3) && !vpid);
    if (bad)
        return vmdl__vmx_vmfail(vmx, res, VMDL_VMXERR_INVALID_OPERAND_INVEPT_INVVPID);
    return vmdl__vmx_succeed(res);
}

int vmdl__vmx_inv(struct vmdl_vmx *vmx, const struct vmdl_vmx_ctx *ctx, bool ept,
                  uint64_t type, uint64_t desc_addr, bool stack,
                  struct vmdl_vmx_result *res)
{
    int err = vmdl__vmx_check_args(vmx, ctx, res, ept ? "vmdl_vmx_invept" : "vmdl_vmx_invvpid");
    if (err)
        return err;
    return ept ? invept(vmx, ctx, type, desc_addr, stack, res)
               : invvpid(vmx, ctx, type, desc_addr, stack, res);
}

int vmdl_vmx_invept(struct vmdl_vmx *vmx, const struct vmdl_vmx_ctx *ctx,
                    uint64_t type, uint64_t desc_addr, struct vmdl_vmx_result *res)
{
    return vmdl__vmx_inv(vmx, ctx, true, type, desc_addr, false, res);
}

int vmdl_vmx_invvpid(struct vmdl_vmx *vmx, const struct vmdl_vmx_ctx *ctx,
                     uint64_t type, uint64_t desc_addr, struct vmdl_vmx_result *res)
{
    return vmdl__vmx_inv(vmx, ctx, false, type, desc_addr, false, res);
}
