/* SPDX-License-Identifier: MIT */
/*
 * x86 registers: the table of the ids the API names (Unicorn's register or
 * the machine's virtual copy), access by id, and the architectural words of
 * a checkpoint's vCPU record (whose layout the checkpoint format fixes).
 */
#include <string.h>

#include "x86.h"
#include "virtmodel/error.h"

static uint64_t get_cr8(struct vmdl_vcpu *v)
{
    struct vmdl_vm *vm = v->vm;
    return vm->irqchip && vm->irqchip->get_cr8
               ? vm->irqchip->get_cr8(vm->irqchip_opaque, v)
               : X86(v)->cr8;
}

static int set_cr8(struct vmdl_vcpu *v, uint64_t val)
{
    struct vmdl_vm *vm = v->vm;
    if (val > 15)
        return vmdl_fail(VMDL_ERANGE, "vmdl_vcpu_set_reg: CR8 0x%llx "
                         "has reserved bits", (unsigned long long)val);
    if (vm->irqchip && vm->irqchip->set_cr8)
        vm->irqchip->set_cr8(vm->irqchip_opaque, v, val);
    else
        X86(v)->cr8 = val;
    return VMDL_OK;
}

static uint64_t *virtual_reg(struct vmdl_vcpu *v, enum vmdl_reg reg)
{
    struct x86_vcpu *x = X86(v);
    switch (reg) {
    case VMDL_X86_CR0: return &x->cr0;
    case VMDL_X86_CR2: return &x->cr2;
    case VMDL_X86_CR3: return &x->cr3;
    case VMDL_X86_CR4: return &x->cr4;
    case VMDL_X86_EFER: return &x->efer;
    default: return NULL;
    }
}

/*
 * The registers the model glue reads and writes on every trapped
 * instruction of the deprivileged vCPU (the GPRs of VMREAD/VMWRITE
 * operands, RFLAGS, CR0 and CR4 for the vmx glue's checks): straight to
 * the engine or the machine's copies, in a function without a frame; the
 * table walk and the general cases are out of line (get_reg_any).  The
 * Unicorn register of one, or -1; *virt its machine copy instead.
 */
static inline int fast_reg(struct vmdl_vcpu *v, enum vmdl_reg reg, uint64_t **virt)
{
    *virt = NULL;
    if (X86(v)->hosted)
        return -1;
    if (reg >= VMDL_X86_RAX && reg <= VMDL_X86_R15)
        return vmdl__x86_gpr_uc[reg - VMDL_X86_RAX];
    if (reg == VMDL_X86_RFLAGS)
        return UC_X86_REG_RFLAGS;
    if (reg == VMDL_X86_CR0 || reg == VMDL_X86_CR4)
        *virt = virtual_reg(v, reg);
    return -1;
}

static __attribute__((noinline)) int engine_failed(const char *fn, const char *call)
{
    return vmdl_fail(VMDL_EBACKEND, "%s: %s failed", fn, call);
}

static __attribute__((noinline)) int get_reg_any(struct vmdl_vcpu *v, enum vmdl_reg reg,
                                                 uint64_t *val)
{
    const struct vmdl_arch_reg *r = vmdl__arch_reg(&vmdl__x86_ops, reg);
    if (!r)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vcpu_get_reg: %d is not an x86 "
                         "register", (int)reg);
    if (reg == VMDL_X86_CR8) {
        *val = get_cr8(v);
        return VMDL_OK;
    }
    if (X86(v)->hosted && vmdl__x86h_get_reg(v, reg, val))
        return VMDL_OK;   /* the guest's own control registers and EFER */
    if (r->uc < 0) {
        *val = *virtual_reg(v, reg);
        return VMDL_OK;
    }
    *val = 0;
    return uc_reg_read(v->uc, r->uc, val) == UC_ERR_OK
               ? VMDL_OK
               : engine_failed("vmdl_vcpu_get_reg", "uc_reg_read");
}

int vmdl__x86_get_reg(struct vmdl_vcpu *v, enum vmdl_reg reg, uint64_t *val)
{
    uint64_t *virt;
    int ucreg = fast_reg(v, reg, &virt);
    if (virt) {
        *val = *virt;
        return VMDL_OK;
    }
    if (ucreg < 0)
        return get_reg_any(v, reg, val);
    *val = 0;
    if (__builtin_expect(uc_reg_read(v->uc, ucreg, val) == UC_ERR_OK, 1))
        return VMDL_OK;
    return engine_failed("vmdl_vcpu_get_reg", "uc_reg_read");
}

static __attribute__((noinline)) int set_reg_any(struct vmdl_vcpu *v, enum vmdl_reg reg,
                                                 uint64_t val)
{
    const struct vmdl_arch_reg *r = vmdl__arch_reg(&vmdl__x86_ops, reg);
    if (!r)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vcpu_set_reg: %d is not an x86 "
                         "register", (int)reg);
    if (reg == VMDL_X86_CR8)
        return set_cr8(v, val);
    if (reg >= VMDL_X86_CS && reg <= VMDL_X86_GS)
        return vmdl_fail(VMDL_ENOTSUP, "vmdl_vcpu_set_reg: segment selectors are "
                         "read-only (a load also reads the descriptor tables)");
    if (X86(v)->hosted && r->uc < 0)
        return vmdl_fail(VMDL_ENOTSUP, "vmdl_vcpu_set_reg: control registers "
                         "of a hosted x86 vCPU are the guest's own");
    if (r->uc < 0) {
        *virtual_reg(v, reg) = val;
        return VMDL_OK;
    }
    if (X86(v)->hosted && vmdl__x86h_in_vmcb(v, (int)reg))
        return vmdl_fail(VMDL_ESTATE, "vmdl_vcpu_set_reg: %s of the hosted x86 vCPU "
                         "is in its VMCB until the guest is entered (step first)",
                         r->name);
    return uc_reg_write(v->uc, r->uc, &val) == UC_ERR_OK
               ? VMDL_OK
               : engine_failed("vmdl_vcpu_set_reg", "uc_reg_write");
}

int vmdl__x86_set_reg(struct vmdl_vcpu *v, enum vmdl_reg reg, uint64_t val)
{
    uint64_t *virt;
    int ucreg = fast_reg(v, reg, &virt);
    if (ucreg < 0)   /* (CR0 and CR4 too: a write has more to it) */
        return set_reg_any(v, reg, val);
    if (reg == VMDL_X86_RFLAGS)
        val = (val & ~0x3000ull) | RFLAGS_FIXED; /* IOPL 3 underneath (x86.h) */
    if (__builtin_expect(uc_reg_write(v->uc, ucreg, &val) == UC_ERR_OK, 1))
        return VMDL_OK;
    return engine_failed("vmdl_vcpu_set_reg", "uc_reg_write");
}

/* The harness identity-maps the first 4 GiB and nothing else. */
int vmdl__x86_translate(struct vmdl_vcpu *v, uint64_t va, uint64_t *pa)
{
    if (X86(v)->hosted)
        return vmdl__x86h_translate(v, va, pa);
    if (va >> 32)
        return VMDL_ERANGE;
    *pa = va;
    return VMDL_OK;
}

bool vmdl_vcpu_in_long_mode(struct vmdl_vcpu *vcpu)
{
    return vcpu->vm->arch_ops == &vmdl__x86_ops && (X86(vcpu)->efer & (1u << 10));
}

/* ---------------- checkpoint words ---------------- */

/* Record layout (version 1 of the checkpoint format): these Unicorn
 * registers, XMM0-15 as two words each, then the virtual state. */
static const int state_regs[] = {
    UC_X86_REG_RAX, UC_X86_REG_RCX, UC_X86_REG_RDX, UC_X86_REG_RBX,
    UC_X86_REG_RSP, UC_X86_REG_RBP, UC_X86_REG_RSI, UC_X86_REG_RDI,
    UC_X86_REG_R8, UC_X86_REG_R9, UC_X86_REG_R10, UC_X86_REG_R11,
    UC_X86_REG_R12, UC_X86_REG_R13, UC_X86_REG_R14, UC_X86_REG_R15,
    UC_X86_REG_RIP, UC_X86_REG_RFLAGS, UC_X86_REG_FS_BASE, UC_X86_REG_GS_BASE,
    UC_X86_REG_MXCSR,
};
#define NR_STATE_REGS (sizeof(state_regs) / sizeof(state_regs[0]))
#define NR_XMM 16
#define NR_VIRT 14
#define VIRT_AT (NR_STATE_REGS + 2 * NR_XMM)
#define NR_WORDS (VIRT_AT + NR_VIRT)

void vmdl__x86_save_state(struct vmdl_vcpu *v, struct vmdl_blob_writer *w)
{
    struct x86_vcpu *x = X86(v);
    for (unsigned i = 0; i < NR_STATE_REGS; i++)
        vmdl_blob_put_u64(w, rd(v, state_regs[i]));
    for (int i = 0; i < NR_XMM; i++) {
        uint64_t xmm[2] = {0, 0};
        uc_reg_read(v->uc, UC_X86_REG_XMM0 + i, xmm);
        vmdl_blob_put_u64(w, xmm[0]);
        vmdl_blob_put_u64(w, xmm[1]);
    }
    const uint64_t virt[NR_VIRT] = {x->cr0, x->cr2, x->cr3, x->cr4, x->cr8, x->efer,
                                    x->xcr0, x->kernel_gs_base, x->idtr_base,
                                    x->idtr_limit, x->gdtr_base, x->gdtr_limit,
                                    x->tsc_offset, x->tsc_observed};
    for (unsigned i = 0; i < NR_VIRT; i++)
        vmdl_blob_put_u64(w, virt[i]);
}

void vmdl__x86_load_state(struct vmdl_blob_reader *r, uint64_t *words)
{
    for (unsigned i = 0; i < NR_WORDS; i++)
        words[i] = vmdl_blob_get_u64(r);
    const uint64_t *virt = words + VIRT_AT;
    if (virt[9] > 0xFFFF || virt[11] > 0xFFFF || virt[13] > 1)
        vmdl_blob_reject(r, "vCPU record has an out-of-range descriptor-table limit");
}

void vmdl__x86_apply_state(struct vmdl_vcpu *v, const uint64_t *words)
{
    struct x86_vcpu *x = X86(v);
    for (unsigned i = 0; i < NR_STATE_REGS; i++)
        uc_reg_write(v->uc, state_regs[i], &words[i]);
    for (int i = 0; i < NR_XMM; i++)
        uc_reg_write(v->uc, UC_X86_REG_XMM0 + i, &words[NR_STATE_REGS + 2 * i]);
    const uint64_t *virt = words + VIRT_AT;
    x->cr0 = virt[0];
    x->cr2 = virt[1];
    x->cr3 = virt[2];
    x->cr4 = virt[3];
    x->cr8 = virt[4];
    x->efer = virt[5];
    x->xcr0 = virt[6];
    x->kernel_gs_base = virt[7];
    x->idtr_base = virt[8];
    x->idtr_limit = (uint16_t)virt[9];
    x->gdtr_base = virt[10];
    x->gdtr_limit = (uint16_t)virt[11];
    x->tsc_offset = virt[12];
    x->tsc_observed = virt[13] != 0;
    uc_x86_mmr idtr = {0, x->idtr_base, x->idtr_limit, 0};
    uc_reg_write(v->uc, UC_X86_REG_IDTR, &idtr);
    /* Models re-derive who needs instruction counting when they load; the
     * TSC's hold is the machine's own. */
    v->count_users = x->tsc_observed ? 1 : 0;
}
