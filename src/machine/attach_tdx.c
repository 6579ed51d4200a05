/* SPDX-License-Identifier: MIT */
/*
 * Machine glue for the TDX module model (include/virtmodel/attach_tdx.h).
 * Only the public machine API is used: a SEAM instruction handler that
 * moves the SEAMCALL registers into the model and back.
 */
#include <stdlib.h>

#include "virtmodel/attach_tdx.h"
#include "virtmodel/error.h"
#include "virtmodel/model.h"
#include "virtmodel/models.h"

/* RFLAGS arithmetic flags that VMsucceed/VMfail* define. */
#define RFLAGS_CF (1u << 0)
#define RFLAGS_PF (1u << 2)
#define RFLAGS_AF (1u << 4)
#define RFLAGS_ZF (1u << 6)
#define RFLAGS_SF (1u << 7)
#define RFLAGS_OF (1u << 11)
#define RFLAGS_VMX_STATUS (RFLAGS_CF | RFLAGS_PF | RFLAGS_AF | RFLAGS_ZF | \
                           RFLAGS_SF | RFLAGS_OF)

static const enum vmdl_reg seam_regs[] = {
    VMDL_X86_RAX, VMDL_X86_RCX, VMDL_X86_RDX, VMDL_X86_R8,
    VMDL_X86_R9, VMDL_X86_R10, VMDL_X86_R11,
};

static vmdl_fault seam_insn(void *opaque, struct vmdl_vcpu *vcpu,
                            const struct vmdl_x86_insn *insn)
{
    struct vmdl_tdx *m = opaque;
    if (insn->kind != VMDL_INSN_SEAMCALL)
        /* TDCALL outside a TD, SEAMRET/SEAMOPS outside SEAM mode. */
        return VMDL_FAULT_UD;
    uint64_t v[7] = {0};
    for (unsigned i = 0; i < 7; i++)
        if (vmdl_vcpu_get_reg(vcpu, seam_regs[i], &v[i]))
            return VMDL_FAULT_UD;
    struct vmdl_tdx_regs r = {.rax = v[0], .rcx = v[1], .rdx = v[2],
                              .r8 = v[3], .r9 = v[4], .r10 = v[5],
                              .r11 = v[6]};
    unsigned lp = vmdl_vcpu_index(vcpu);
    if (lp >= vmdl_tdx_nr_lps(m) || vmdl_tdx_seamcall(m, lp, &r))
        return VMDL_FAULT_UD;
    uint64_t out[7] = {r.rax, r.rcx, r.rdx, r.r8, r.r9, r.r10, r.r11};
    if (!r.cf)
        for (unsigned i = 0; i < 7; i++)
            if (out[i] != v[i])
                vmdl_vcpu_set_reg(vcpu, seam_regs[i], out[i]);
    uint64_t rflags = 0;
    vmdl_vcpu_get_reg(vcpu, VMDL_X86_RFLAGS, &rflags);
    rflags &= ~(uint64_t)RFLAGS_VMX_STATUS;
    if (r.cf)
        rflags |= RFLAGS_CF;   /* VMfailInvalid */
    vmdl_vcpu_set_reg(vcpu, VMDL_X86_RFLAGS, rflags);
    return VMDL_FAULT_NONE;
}

static void tdx_reset(void *opaque, struct vmdl_vm *vm)
{
    (void)vm;
    /* The platform comes back with the module loaded, nothing initialized. */
    vmdl_tdx_load(opaque);
}

/* ---- checkpoints: the module's own state blob ---- */

static int tdx_state_save(void *opaque, uint8_t **blob, size_t *len)
{
    return vmdl_tdx_export(opaque, blob, len);
}

static int tdx_state_load(void *opaque, const uint8_t *blob, size_t len)
{
    return vmdl_tdx_import(opaque, blob, len);
}

static void tdx_free(void *opaque)
{
    vmdl_tdx_destroy(opaque);
}

extern const struct vmdl_model_desc vmdl_tdx_model;

int vmdl_attach_tdx_ex(struct vmdl_vm *vm, const char *profile_name_or_path,
                       struct vmdl_tdx **module)
{
    if (!vm)
        return vmdl_fail(VMDL_EINVAL, "vmdl_attach_tdx: NULL vm");
    if (vmdl_vm_arch(vm) != VMDL_ARCH_X86_64)
        return vmdl_fail(VMDL_EINVAL, "vmdl_attach_tdx: TDX needs an x86 VM");
    const char *name = profile_name_or_path ? profile_name_or_path
                                            : VMDL_TDX_DEFAULT_PROFILE;
    unsigned n = vmdl_vm_nr_vcpus(vm);
    if (n > VMDL_TDX_MAX_LPS)
        return vmdl_fail(VMDL_ERANGE, "vmdl_attach_tdx: %u vCPUs, the model "
                         "has at most %u LPs", n, VMDL_TDX_MAX_LPS);
    struct vmdl_tdx *m = NULL;
    int err = vmdl_tdx_create_named(name, n ? n : 1, &m);
    if (err)
        return err;
    /* TDH.SYS.RDALL writes its list into guest RAM. */
    vmdl_tdx_set_guest_mem(m, vmdl_vm_guest_mem(vm));
    err = vmdl_vm_add_model(vm, &vmdl_tdx_model, m);
    if (err)
        return err;   /* m is freed with the VM */
    if (module)
        *module = m;
    return VMDL_OK;
}

int vmdl_attach_tdx(struct vmdl_vm *vm, const char *profile_name_or_path)
{
    return vmdl_attach_tdx_ex(vm, profile_name_or_path, NULL);
}

static int attach_from_options(struct vmdl_vm *vm, const struct vmdl_model_options *opts)
{
    return vmdl_attach_tdx(vm, vmdl_model_option(opts, "tdx-profile"));
}

static const struct vmdl_model_option tdx_options[] = {
    {"tdx-profile", "P", "TDX module profile name or profile file (tdx model)"},
    {NULL, NULL, NULL},
};

const struct vmdl_model_desc vmdl_tdx_model = {
    .name = "tdx",
    .arch = VMDL_ARCH_X86_64,
    .vendor = VMDL_VENDOR_INTEL,
    .summary = "TDX module global metadata over SEAMCALL (TDH.SYS.RD)",
    .options = tdx_options,
    .attach = attach_from_options,
    .insn_family = VMDL_INSNS_SEAM,
    .insn = seam_insn,
    .reset = tdx_reset,
    .destroy = tdx_free,
    .save = tdx_state_save,
    .load = tdx_state_load,
};
