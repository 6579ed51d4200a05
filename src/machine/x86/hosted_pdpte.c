/* SPDX-License-Identifier: MIT */
/*
 * PAE paging's PDPTE registers on the hosted x86 vCPU (machine.h,
 * vmdl_vcpu_set_x86_pdptes).
 *
 * A processor in PAE paging (CR0.PG, CR4.PAE, not IA-32e) walks from four
 * PDPTE registers, not from the 32-byte table at CR3: MOV to CR3 and the
 * MOV to CR0/CR4 writes that change CR0.PG/CD/NW or CR4.PAE/PGE/PSE/SMEP
 * load them from that table (SDM vol. 3, 4.4.1), and VM entry with EPT
 * loads them from GUEST_PDPTR0-3 instead (SDM 27.3.2.4), which is the
 * case the VMX glue needs: a PAE L2 whose CR3 names no table at all
 * (kvm-unit-tests vmx_pae_test) runs from the VMCS's entries.
 *
 * The caller sets the registers; while they are in force every walk of
 * the guest takes its PDPTE from them (walk.c, the pdpte pointer of the
 * paging state): the engine's TLB fills (hosted_walk.c, which is why the
 * engine translates through the C walk meanwhile even without the second
 * stage), the machine's own walks for instruction decode, operands and
 * event delivery (vmdl__x86h_paging_now, hosted_state.c), and the VMX
 * glue's store at VM exit (vmdl_vcpu_x86_pdptes).  MOV to CR3 is
 * intercepted meanwhile, and it and a write of one of the paging bits
 * above reload them as the processor does: from the table at the (new)
 * CR3, through the second stage when it is on (an NPF without a linear
 * address when it has no mapping for the table yet: SDM 28.2.1; the
 * instruction runs again once the glue mapped it or L1 took the EPT
 * violation), #GP for a present entry with a reserved bit.  A write that
 * leaves PAE paging, a new state (vmdl_vcpu_set_x86_sys: VM entry and
 * exit) or a reset ends them.  A PAE guest the caller gave no registers
 * (L1, an L2 without EPT, any real guest) is walked by QEMU, which reads
 * the table at CR3 at each walk (docs/architecture.md).
 */
#include <string.h>

#include "hosted.h"
#include "walk.h"

/* CR0.PG, CD, NW; CR4.PSE, PAE, PGE, SMEP: the writes that reload the
 * PDPTEs (SDM 4.4.1; KVM's X86_CR0_PDPTR_BITS and X86_CR4_PDPTR_BITS). */
#define CR0_RELOAD ((1ull << 31) | (1ull << 30) | (1ull << 29))
#define CR4_RELOAD ((1ull << 4) | (1ull << 5) | (1ull << 7) | (1ull << 20))
#define CR_WR_CR3 (1u << 3)

static bool hosted(struct vmdl_vcpu *v)
{
    return v->vm->arch == VMDL_ARCH_X86_64 && X86(v)->hosted;
}

/* The state the guest runs in next: the VMCB's when one waits there. */
static bool pae_paging(struct vmdl_vcpu *v)
{
    bool vmcb = X86(v)->hosted_vmrun;
    uint64_t cr0 = vmcb ? pr64(v, H_VMCB + S_CR0) : rd(v, UC_X86_REG_CR0);
    uint64_t cr4 = vmcb ? pr64(v, H_VMCB + S_CR4) : rd(v, UC_X86_REG_CR4);
    uint64_t efer = vmcb ? pr64(v, H_VMCB + S_EFER) : vmdl__x86h_rdmsr(v, MSR_EFER);
    return (cr0 & (1ull << 31)) && (cr4 & (1ull << 5)) && !(efer & (1ull << 10));
}

/*
 * MOV to CR3 is intercepted while a nested guest's L1 asks for it or the
 * registers are in force.  The VMCB always; the engine's live copy too
 * when turning it on with no VMRUN waiting (one is forced when the copy's
 * place is unknown).  Turning it off leaves the live copy: an extra CR3
 * exit is performed as the write (hosted_nested.c), and this may run in
 * the engine's hook (a CR4.PGE write), where the state is not copied.
 */
void vmdl__x86h_cr3_intercept(struct vmdl_vcpu *v)
{
    struct x86_vcpu *x = X86(v);
    bool on = x->h_pdpte_on || (x->nested && (x->nctl.intercept & VMDL_X86_NESTED_CR3_WRITE));
    uint16_t w = (uint16_t)pr64(v, H_VMCB + C_CR_WR);
    w = on ? (uint16_t)(w | CR_WR_CR3) : (uint16_t)(w & ~CR_WR_CR3);
    pw16(v, H_VMCB + C_CR_WR, w);
    if (!on || x->hosted_vmrun)
        return;
    int crw = v->vm->x86h->crw_off;
    if (crw <= 0) {
        vmdl__x86h_save_guest(v);
        x->hosted_vmrun = true;
        return;
    }
    uc_context_save(v->uc, x->ctx);
    char *ctx = (char *)x->ctx;
    uint16_t live;
    memcpy(&live, ctx + crw, 2);
    live |= CR_WR_CR3;
    memcpy(ctx + crw, &live, 2);
    uc_context_restore(v->uc, x->ctx);
}

int vmdl_vcpu_set_x86_pdptes(struct vmdl_vcpu *v, const uint64_t pdpte[4])
{
    if (!v)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vcpu_set_x86_pdptes: NULL vCPU");
    if (!hosted(v))
        return vmdl_fail(VMDL_ENOTSUP, "vmdl_vcpu_set_x86_pdptes: only hosted x86 vCPUs "
                         "(real guests)");
    if (!pdpte) {
        vmdl__x86h_pdpte_off(v);
        return VMDL_OK;
    }
    if (!pae_paging(v))
        return vmdl_fail(VMDL_ESTATE, "vmdl_vcpu_set_x86_pdptes: the guest is not in PAE "
                         "paging (CR0.PG, CR4.PAE, not IA-32e)");
    struct x86_vcpu *x = X86(v);
    memcpy(x->h_pdpte, pdpte, sizeof(x->h_pdpte));
    x->h_pdpte_on = true;
    uc_ctl_flush_tlb(v->uc);           /* fills made from the table at CR3 */
    vmdl__x86h_cr3_intercept(v);
    /* (The engine translates through the C walk from the next run on:
     * vmdl__x86h_walk_sync.) */
    return VMDL_OK;
}

bool vmdl_vcpu_x86_pdptes(struct vmdl_vcpu *v, uint64_t pdpte[4])
{
    if (!v || !pdpte || !hosted(v) || !X86(v)->h_pdpte_on)
        return false;
    memcpy(pdpte, X86(v)->h_pdpte, sizeof(X86(v)->h_pdpte));
    return true;
}

void vmdl__x86h_pdpte_off(struct vmdl_vcpu *v)
{
    struct x86_vcpu *x = X86(v);
    if (!x->h_pdpte_on)
        return;
    x->h_pdpte_on = false;
    uc_ctl_flush_tlb(v->uc);           /* fills made from the registers */
    vmdl__x86h_cr3_intercept(v);
}

/*
 * A reload while the registers are in force (SDM 4.4.1): the four entries
 * of the 32-byte table at cr3, read through the second stage when it is
 * on.  A present entry with a reserved bit is #GP, and nothing changes
 * (the caller writes no register either).  A table the second stage does
 * not map yet is the NPF of that read when the caller can take one (*npf
 * set, the miss recorded: the MOV runs again once it is mapped); without
 * npf the registers end: the walks read the table at CR3 from then on and
 * reach it through their own NPFs.
 */
vmdl_fault vmdl__x86h_pdpte_reload(struct vmdl_vcpu *v, uint64_t cr3, bool *npf)
{
    struct x86_vcpu *x = X86(v);
    if (!x->h_pdpte_on)
        return VMDL_FAULT_NONE;
    struct vmdl__x86_pmem m;
    if (x->npt.on)
        vmdl__x86h_npt_pmem(v, &m);
    else
        vmdl__x86h_pmem(v, &m);
    uint64_t e[4] = {0};
    bool read = m.read(m.opaque, cr3 & 0xFFFFFFE0u, e, sizeof(e));
    if (!read && npf && x->npt.miss.pending) {
        x->npt.miss.pdpte_load = true;
        *npf = true;
        return VMDL_FAULT_NONE;
    }
    x->npt.miss.pending = false;
    if (!read) {
        vmdl__x86h_pdpte_off(v);
        return VMDL_FAULT_NONE;
    }
    /* (MAXPHYADDR as the walks have it: vmdl__x86h_walk_sync ran at the
     * start of the run, the registers being in force.) */
    for (unsigned i = 0; i < 4; i++)
        if (vmdl__x86_pdpte_reserved(&x->h_walk_paging, e[i]))
            return VMDL_FAULT_GP;
    memcpy(x->h_pdpte, e, sizeof(e));
    uc_ctl_flush_tlb(v->uc);
    return VMDL_FAULT_NONE;
}

vmdl_fault vmdl__x86h_pdpte_cr_write(struct vmdl_vcpu *v, unsigned cr, uint64_t old,
                                     uint64_t val, bool *npf)
{
    if (!X86(v)->h_pdpte_on || !((old ^ val) & (cr == 0 ? CR0_RELOAD : CR4_RELOAD)))
        return VMDL_FAULT_NONE;
    uint64_t cr0 = cr == 0 ? val : rd(v, UC_X86_REG_CR0);
    uint64_t cr4 = cr == 4 ? val : rd(v, UC_X86_REG_CR4);
    bool lme = vmdl__x86h_rdmsr(v, MSR_EFER) & (1ull << 8);
    if ((cr0 & (1ull << 31)) && (cr4 & (1ull << 5)) && !lme)
        return vmdl__x86h_pdpte_reload(v, rd(v, UC_X86_REG_CR3), npf);
    vmdl__x86h_pdpte_off(v);           /* no PAE paging after the write */
    return VMDL_FAULT_NONE;
}
