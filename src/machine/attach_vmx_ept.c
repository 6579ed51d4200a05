/* SPDX-License-Identifier: MIT */
/*
 * L2's EPT on a hosted vCPU (docs/vmx.md, "EPT for L2 on the hosted vCPU").
 *
 * The machine's second stage is a shadow of L1's EPT, filled page by page:
 * an L2 access that misses it comes here, the EPT model walks L1's tables
 * (setting their A/D flags), and either the 4 KiB page is mapped with the
 * permissions the walk allows, or the walk's violation/misconfiguration
 * becomes a VM exit to L1 (reasons 48/49).  The shadow holds only what a
 * walk allowed, so it never grants more than L1's tables did when it was
 * filled; L1 removing rights must INVEPT (SDM 29.4.3), which drops it.
 */
#include "attach_vmx_ept.h"

void vmdl__vmx_ept_watch_reset(struct vmdl__vmx_ept_shadow *s)
{
    s->eptp = VMDL_VMX_EPT_NO_SHADOW;
    s->n = 0;
    s->overflow = false;
}

void vmdl__vmx_ept_watch(struct vmdl__vmx_ept_shadow *s, const struct vmdl_ept_result *o)
{
    for (unsigned l = 0; l < 5; l++) {
        uint64_t a = o->entry_addr[l];
        if (!a)
            continue;
        unsigned i = 0;
        while (i < s->n && s->addr[i] != a)
            i++;
        if (i == s->n) {
            if (s->n == VMDL_VMX_EPT_WATCH) {
                s->overflow = true;
                continue;
            }
            s->addr[s->n++] = a;
        }
        s->val[i] = o->entry_val[l];
    }
}

bool vmdl__vmx_ept_stale(const struct vmdl__vmx_ept_shadow *s,
                         const struct vmdl_guest_mem *mem)
{
    if (s->overflow)
        return true;
    for (unsigned i = 0; i < s->n; i++) {
        uint64_t v;
        if (vmdl_guest_read(mem, s->addr[i], &v, 8) || v != s->val[i])
            return true;
    }
    return false;
}

void vmdl__vmx_ept_flush(struct vmdl_vcpu *vcpu, struct vmdl__vmx_ept_shadow *s)
{
    vmdl__vmx_ept_watch_reset(s);
    (void)vmdl_vcpu_x86_npt_flush(vcpu);
}

void vmdl__vmx_ept_enter(struct vmdl_vcpu *vcpu, const struct vmdl_vmx *vmx,
                         struct vmdl__vmx_ept_shadow *s)
{
    struct vmdl_ept_config cfg;
    if (!vmdl_vmx_ept_config(vmx, &cfg)) {
        (void)vmdl_vcpu_set_x86_npt(vcpu, false);
        return;
    }
    if (vmdl_vcpu_set_x86_npt(vcpu, true))
        return;
    /* The shadow belongs to one EPTP (KVM keys its shadow pages by it) and
     * to the entries it was built from. */
    if (s->eptp != cfg.eptp ||
        vmdl__vmx_ept_stale(s, vmdl_vm_guest_mem(vmdl_vcpu_vm(vcpu)))) {
        vmdl__vmx_ept_flush(vcpu, s);
        s->eptp = cfg.eptp;
    }
}

void vmdl__vmx_ept_leave(struct vmdl_vcpu *vcpu)
{
    (void)vmdl_vcpu_set_x86_npt(vcpu, false);
}

/* What the shadow may grant for a page the walk allowed: W only once the
 * dirty flag is set (a write walk) when L1 enabled A/D flags, so that the
 * first write walks again and sets it; the walk of L2's own page tables
 * needs W in the engine (QEMU walks them as writes) whenever R is given. */
static unsigned shadow_prot(const struct vmdl_ept_config *cfg,
                            const struct vmdl_ept_request *r,
                            const struct vmdl_ept_result *o)
{
    unsigned prot = 0;
    bool ad = cfg->eptp & VMDL_EPTP_AD;
    if ((o->perms & VMDL_EPT_PERM_W) && (!ad || r->access == VMDL_EPT_ACC_WRITE))
        prot |= VMDL_NPT_WRITE;
    if (r->paging_structure && (o->perms & VMDL_EPT_PERM_R))
        prot |= VMDL_NPT_WRITE;
    if (o->perms & (VMDL_EPT_PERM_X | VMDL_EPT_PERM_XU))
        prot |= VMDL_NPT_EXEC;
    return prot;
}

bool vmdl__vmx_ept_fault(struct vmdl_vcpu *vcpu, struct vmdl_vmx *vmx,
                         struct vmdl__vmx_ept_shadow *s, const struct vmdl_x86_npf *npf,
                         struct vmdl_vmx_exit_info *info)
{
    struct vmdl_ept_config cfg;
    struct vmdl_ept_request r = {
        .gpa = npf->gpa,
        .access = npf->fetch ? VMDL_EPT_ACC_FETCH
                  : npf->write && !npf->walk ? VMDL_EPT_ACC_WRITE : VMDL_EPT_ACC_READ,
        .paging_structure = npf->walk,
        .gla_valid = npf->gla_valid,
        .gla = npf->gla,
        .user = npf->user,
    };
    struct vmdl_ept_result o;
    if (!vmdl_vmx_ept_config(vmx, &cfg) || vmdl_vmx_ept_translate(vmx, &r, &o)) {
        /* No EPT in force (the entry checked the EPTP): L2's addresses
         * are L1's. */
        (void)vmdl_vcpu_x86_npt_map(vcpu, npf->gpa, npf->gpa,
                                    VMDL_NPT_WRITE | VMDL_NPT_EXEC);
        return false;
    }
    if (o.outcome == VMDL_EPT_OK) {
        vmdl__vmx_ept_watch(s, &o);
        (void)vmdl_vcpu_x86_npt_map(vcpu, npf->gpa, o.hpa, shadow_prot(&cfg, &r, &o));
        return false;
    }
    vmdl_ept_exit_info(&r, &o, info);
    return true;
}

/* SDM 28.3.4: a VM exit from a PAE-paging L2 under EPT stores the PDPTEs
 * in GUEST_PDPTR0-3 (KVM copies vmcs02's).  The engine keeps no PDPTE
 * registers (QEMU reads them at each walk), so they come from L2's table
 * at CR3 through L1's EPT, read without setting accessed flags. */
void vmdl__vmx_ept_save_pdptes(struct vmdl_vcpu *vcpu, struct vmdl_vmx *vmx,
                               const struct vmdl_vmx_cpu *l2)
{
    struct vmdl_ept_config cfg;
    bool pae = (l2->cr0 & (1ull << 31)) && (l2->cr4 & (1ull << 5)) &&
               !(l2->efer & (1ull << 10));
    if (!pae || !vmdl_vmx_ept_config(vmx, &cfg))
        return;
    cfg.eptp &= ~VMDL_EPTP_AD;
    struct vmdl_ept_request r = {.gpa = l2->cr3 & 0xFFFFFFE0ull, .access = VMDL_EPT_ACC_READ};
    struct vmdl_ept_result o;
    const struct vmdl_guest_mem *mem = vmdl_vm_guest_mem(vmdl_vcpu_vm(vcpu));
    uint64_t pdpte[4];
    if (vmdl_ept_walk(mem, &cfg, &r, &o) || o.outcome != VMDL_EPT_OK ||
        vmdl_guest_read(mem, o.hpa, pdpte, sizeof(pdpte)))
        return;
    for (unsigned i = 0; i < 4; i++)
        vmdl_vmx_poke(vmx, (uint16_t)(vmdl_vmcs_field_by_name("GUEST_PDPTR0")->encoding + 2 * i),
                      pdpte[i]);
}
