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
    s->apic_access = UINT64_MAX;
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

/* The APIC-access page of the current vmcs12 when "virtualize APIC
 * accesses" is in force, else UINT64_MAX. */
static uint64_t apic_access_page(const struct vmdl_vmx *vmx)
{
    uint64_t pa = 0;
    const struct vmdl_vmcs_field *f = vmdl_vmcs_field_by_name("APIC_ACCESS_ADDR");
    if (!f || vmdl_vmx_peek(vmx, f->encoding, &pa) || !vmdl_vmx_apic_access_page(vmx, pa))
        return UINT64_MAX;
    return pa & ~0xFFFull;
}

void vmdl__vmx_ept_enter(struct vmdl_vcpu *vcpu, const struct vmdl_vmx *vmx,
                         struct vmdl__vmx_ept_shadow *s)
{
    struct vmdl_ept_config cfg;
    bool ept = vmdl_vmx_ept_config(vmx, &cfg);
    uint64_t acc = apic_access_page(vmx);
    if (!ept && acc == UINT64_MAX) {
        (void)vmdl_vcpu_set_x86_npt(vcpu, false);
        return;
    }
    if (vmdl_vcpu_set_x86_npt(vcpu, true))
        return;
    /* The shadow belongs to one EPTP (KVM keys its shadow pages by it), to
     * the APIC-access page it leaves out and to the entries it was built
     * from. */
    uint64_t key = ept ? cfg.eptp : VMDL_VMX_EPT_IDENTITY;
    if (s->eptp != key || s->apic_access != acc ||
        vmdl__vmx_ept_stale(s, vmdl_vm_guest_mem(vmdl_vcpu_vm(vcpu)))) {
        vmdl__vmx_ept_flush(vcpu, s);
        s->eptp = key;
        s->apic_access = acc;
    }
}

void vmdl__vmx_ept_rekey(const struct vmdl_vmx *vmx, struct vmdl__vmx_ept_shadow *s)
{
    vmdl__vmx_ept_watch_reset(s);
    struct vmdl_ept_config cfg;
    bool ept = vmdl_vmx_ept_config(vmx, &cfg);
    uint64_t acc = apic_access_page(vmx);
    if (!ept && acc == UINT64_MAX)
        return;
    s->eptp = ept ? cfg.eptp : VMDL_VMX_EPT_IDENTITY;
    s->apic_access = acc;
}

void vmdl__vmx_ept_leave(struct vmdl_vcpu *vcpu)
{
    (void)vmdl_vcpu_set_x86_npt(vcpu, false);
}

/* What the shadow may grant for a page the walk allowed: W only once the
 * dirty flag is set when L1 enabled A/D flags (a write, or any access to
 * a paging-structure entry, 29.3.5), so that the first write walks again
 * and sets it.  Under mode-based execute control X (XS) allows fetches
 * through supervisor-mode linear addresses and XU through user-mode ones;
 * without it X allows both. */
static unsigned shadow_prot(const struct vmdl_ept_config *cfg,
                            const struct vmdl_ept_request *r,
                            const struct vmdl_ept_result *o)
{
    unsigned prot = 0;
    bool ad = cfg->eptp & VMDL_EPTP_AD;
    if ((o->perms & VMDL_EPT_PERM_W) &&
        (!ad || r->access == VMDL_EPT_ACC_WRITE || r->paging_structure))
        prot |= VMDL_NPT_WRITE;
    if (!cfg->mbec)
        return prot | ((o->perms & VMDL_EPT_PERM_X) ? VMDL_NPT_EXEC : 0);
    if (o->perms & VMDL_EPT_PERM_X)
        prot |= VMDL_NPT_EXEC_SUPER;
    if (o->perms & VMDL_EPT_PERM_XU)
        prot |= VMDL_NPT_EXEC_USER;
    return prot;
}

/* The 4 KiB page of L1-physical pa into the shadow, unless it is the
 * APIC-access page: those accesses are virtualized or exit (SDM 30.4),
 * after the EPT walk that produced pa (an EPT violation comes first). */
static enum vmdl__vmx_npf_outcome map_or_apic(struct vmdl_vcpu *vcpu, const struct vmdl_vmx *vmx,
                                              uint64_t gpa, uint64_t pa, unsigned prot,
                                              uint64_t *apic_pa)
{
    if (vmdl_vmx_apic_access_page(vmx, pa)) {
        *apic_pa = pa;
        return VMDL_VMX_NPF_APIC_ACCESS;
    }
    (void)vmdl_vcpu_x86_npt_map(vcpu, gpa, pa, prot);
    return VMDL_VMX_NPF_MAPPED;
}

enum vmdl__vmx_npf_outcome vmdl__vmx_ept_fault(struct vmdl_vcpu *vcpu, struct vmdl_vmx *vmx,
                                               struct vmdl__vmx_ept_shadow *s,
                                               const struct vmdl_x86_npf *npf,
                                               struct vmdl_vmx_exit_info *info, uint64_t *apic_pa)
{
    struct vmdl_ept_config cfg;
    struct vmdl_ept_request r = {
        .gpa = npf->gpa,
        .access = npf->fetch ? VMDL_EPT_ACC_FETCH
                  : npf->write ? VMDL_EPT_ACC_WRITE : VMDL_EPT_ACC_READ,
        .paging_structure = npf->walk,
        .gla_valid = npf->gla_valid,
        .gla = npf->gla,
        .user = npf->user,
        .guest_rw = npf->writable,
        .guest_nx = npf->xd,
    };
    struct vmdl_ept_result o;
    if (!vmdl_vmx_ept_config(vmx, &cfg) || vmdl_vmx_ept_translate(vmx, &r, &o)) {
        /* No EPT in force (the entry checked the EPTP): L2's addresses
         * are L1's. */
        return map_or_apic(vcpu, vmx, npf->gpa, npf->gpa, VMDL_NPT_WRITE | VMDL_NPT_EXEC,
                           apic_pa);
    }
    if (o.outcome == VMDL_EPT_OK) {
        vmdl__vmx_ept_watch(s, &o);
        return map_or_apic(vcpu, vmx, npf->gpa, o.hpa, shadow_prot(&cfg, &r, &o), apic_pa);
    }
    vmdl_ept_exit_info(&r, &o, info);
    return VMDL_VMX_NPF_EXIT;
}

/* The access type of the qualification: an L2 paging-structure entry is
 * a guest-physical access (with EPT the SDM's case; without EPT it is a
 * physical access, for which the SDM allows an exit with an undefined
 * qualification, and the machine reports it the same way). */
static enum vmdl_apic_access_type access_type(const struct vmdl_x86_npf *n)
{
    if (n->walk)
        return n->delivery ? VMDL_APIC_ACC_GPA_EVENT : VMDL_APIC_ACC_GPA_INSN;
    if (n->delivery)
        return VMDL_APIC_ACC_LINEAR_EVENT;
    if (n->fetch)
        return VMDL_APIC_ACC_LINEAR_FETCH;
    return n->write ? VMDL_APIC_ACC_LINEAR_WRITE : VMDL_APIC_ACC_LINEAR_READ;
}

bool vmdl__vmx_apic_access(struct vmdl_vcpu *vcpu, struct vmdl_vmx *vmx,
                           const struct vmdl_x86_event *ev, uint64_t pa,
                           struct vmdl_vmx_exit_info *info)
{
    const struct vmdl_x86_npf *n = &ev->npf;
    struct vmdl_vmx_apic_access a = {.pa = pa, .size = n->size, .type = access_type(n)};
    if (vmdl_vmx_apic_access_virtualized(vmx, &a, info)) {
        /* Only a MOV is completed here; any other instruction the rules
         * would virtualize (read-modify-write, string, ...) exits instead. */
        bool read = a.type == VMDL_APIC_ACC_LINEAR_READ;
        uint64_t loaded = read ? vmdl_vmx_apic_access_read(vmx, &a) : 0;
        if (n->mov && !vmdl_vcpu_x86_npf_complete_mov(vcpu, loaded))
            return !read && vmdl_vmx_apic_access_write(vmx, &a, (uint32_t)n->store, info) ==
                                VMDL_VAPIC_EXIT;
        vmdl_vmx_apic_access_exit(&a, info);
    }
    /* The APIC-access exit is fault-like: RIP stays at the instruction,
     * whose length L1 may use to skip it. */
    info->insn_len = n->insn_len;
    info->idt_info = ev->idt_info;
    info->idt_error = ev->idt_error;
    return true;
}

static bool pae_paging(const struct vmdl_vmx_cpu *c)
{
    return (c->cr0 & (1ull << 31)) && (c->cr4 & (1ull << 5)) && !(c->efer & (1ull << 10));
}

static uint16_t pdptr_field(unsigned i)
{
    return (uint16_t)(vmdl_vmcs_field_by_name("GUEST_PDPTR0")->encoding + 2 * i);
}

/* SDM 27.3.2.4: VM entry into a PAE-paging L2 with EPT loads the PDPTE
 * registers from GUEST_PDPTR0-3, not from the table at CR3 (KVM's
 * nested_vmx_load_cr3 calls load_pdptrs only without EPT; prepare_vmcs02
 * copies the four fields into vmcs02).  The entry checks have refused
 * reserved bits in them already (nested_checks.c). */
void vmdl__vmx_ept_load_pdptes(struct vmdl_vcpu *vcpu, const struct vmdl_vmx *vmx,
                               const struct vmdl_vmx_cpu *l2)
{
    struct vmdl_ept_config cfg;
    if (!pae_paging(l2) || !vmdl_vmx_ept_config(vmx, &cfg))
        return;
    uint64_t pdpte[4] = {0};
    for (unsigned i = 0; i < 4; i++)
        (void)vmdl_vmx_peek(vmx, pdptr_field(i), &pdpte[i]);
    (void)vmdl_vcpu_set_x86_pdptes(vcpu, pdpte);
}

/* SDM 28.3.4: a VM exit from a PAE-paging L2 under EPT stores the PDPTE
 * registers in GUEST_PDPTR0-3 (KVM copies vmcs02's): the ones the entry
 * loaded or L2's MOV to CR3 / paging-bit write reloaded since
 * (vmdl_vcpu_x86_pdptes).  Without registers (L2 entered without paging
 * and turned PAE paging on itself: kvm-unit-tests vmx_mtf_pdpte_test)
 * they are read from L2's table at CR3 through L1's EPT, without setting
 * accessed flags. */
void vmdl__vmx_ept_save_pdptes(struct vmdl_vcpu *vcpu, struct vmdl_vmx *vmx,
                               const struct vmdl_vmx_cpu *l2)
{
    struct vmdl_ept_config cfg;
    if (!pae_paging(l2) || !vmdl_vmx_ept_config(vmx, &cfg))
        return;
    uint64_t regs[4] = {0};
    if (vmdl_vcpu_x86_pdptes(vcpu, regs)) {
        for (unsigned i = 0; i < 4; i++)
            vmdl_vmx_poke(vmx, pdptr_field(i), regs[i]);
        return;
    }
    cfg.eptp &= ~VMDL_EPTP_AD;
    struct vmdl_ept_request r = {.gpa = l2->cr3 & 0xFFFFFFE0ull, .access = VMDL_EPT_ACC_READ};
    struct vmdl_ept_result o;
    const struct vmdl_guest_mem *mem = vmdl_vm_guest_mem(vmdl_vcpu_vm(vcpu));
    uint64_t pdpte[4];
    if (vmdl_ept_walk(mem, &cfg, &r, &o) || o.outcome != VMDL_EPT_OK ||
        vmdl_guest_read(mem, o.hpa, pdpte, sizeof(pdpte)))
        return;
    for (unsigned i = 0; i < 4; i++)
        vmdl_vmx_poke(vmx, pdptr_field(i), pdpte[i]);
}
