/* SPDX-License-Identifier: MIT */
/*
 * The EPT walk of L2 guest-physical addresses (include/virtmodel/vmx_ept.h;
 * SDM Vol. 3C 29.3, KVM's paging_tmpl.h with PTTYPE_EPT).
 *
 * The walk reads one entry per level, stops at a not-present entry
 * (violation) or a misconfigured one (misconfiguration), and at the leaf
 * checks the access against the permissions accumulated over the walk,
 * in that order: KVM's walker checks presence and reserved bits per level
 * and the permissions once, after the leaf, as the SDM describes.
 */
#include <string.h>

#include "virtmodel/error.h"
#include "virtmodel/vmx_ept.h"
#include "vmx_priv.h"

#define ADDR_MASK 0x000FFFFFFFFFF000ull

bool vmdl_ept_eptp_valid(const struct vmdl_ept_config *cfg)
{
    if (!cfg || cfg->maxphyaddr < 32 || cfg->maxphyaddr > 52)
        return false;
    uint64_t eptp = cfg->eptp, cap = cfg->cap;
    switch (eptp & VMDL_EPTP_MT_MASK) {
    case VMDL_EPTP_MT_UC: if (!(cap & (1ull << 8))) return false; break;
    case VMDL_EPTP_MT_WB: if (!(cap & (1ull << 14))) return false; break;
    default: return false;
    }
    switch ((eptp >> VMDL_EPTP_PWL_SHIFT) & 7) {
    case 3: if (!(cap & (1ull << 6))) return false; break;
    case 4: if (!(cap & (1ull << 7))) return false; break;
    default: return false;
    }
    if ((eptp >> cfg->maxphyaddr) || ((eptp >> 7) & 0x1f))
        return false;
    return !(eptp & VMDL_EPTP_AD) || (cap & VMDL_EPT_CAP_AD);
}

/* Bits 2:0 and, under mode-based execute control, bit 10 (SDM 29.3.2). */
static unsigned entry_perms(uint64_t e, bool mbec)
{
    unsigned p = (unsigned)(e & 7);
    if (mbec && (e & VMDL_EPTE_XU))
        p |= VMDL_EPT_PERM_XU;
    return p;
}

/* Is the entry at this level a leaf (a page), given that it is present? */
static bool is_leaf(uint64_t e, unsigned level)
{
    return level == 1 || ((level == 2 || level == 3) && (e & VMDL_EPTE_LARGE));
}

/* SDM 29.3.3.1: the conditions that make a present entry misconfigured. */
static bool misconfigured(const struct vmdl_ept_config *cfg, uint64_t e, unsigned level)
{
    unsigned p = entry_perms(e, cfg->mbec);
    if ((p & VMDL_EPT_PERM_W) && !(p & VMDL_EPT_PERM_R))
        return true;                              /* write without read */
    if (!(p & (VMDL_EPT_PERM_R | VMDL_EPT_PERM_W)) && !(cfg->cap & VMDL_EPT_CAP_EXEC_ONLY))
        return true;                              /* execute-only */
    uint64_t rsvd = ADDR_MASK & ~((1ull << cfg->maxphyaddr) - 1);
    if (level >= 4)
        rsvd |= 0xF8;                             /* bits 7:3 */
    else if (level >= 2 && !(e & VMDL_EPTE_LARGE))
        rsvd |= 0x78;                             /* bits 6:3 of a table */
    else if (level == 3)
        rsvd |= cfg->cap & VMDL_EPT_CAP_1G ? 0x3FFFF000ull : VMDL_EPTE_LARGE;
    else if (level == 2)
        rsvd |= cfg->cap & VMDL_EPT_CAP_2M ? 0x1FF000ull : VMDL_EPTE_LARGE;
    if (e & rsvd)
        return true;
    if (is_leaf(e, level)) {
        unsigned mt = (unsigned)(e >> VMDL_EPTE_MT_SHIFT) & 7;
        return mt == 2 || mt == 3 || mt == 7;
    }
    return false;
}

/* The permission the access needs, in VMDL_EPT_PERM_* terms. */
static unsigned needed(const struct vmdl_ept_config *cfg, const struct vmdl_ept_request *r)
{
    bool ad = cfg->eptp & VMDL_EPTP_AD;
    switch (r->access) {
    case VMDL_EPT_ACC_WRITE:
        return VMDL_EPT_PERM_W;
    case VMDL_EPT_ACC_FETCH:
        return cfg->mbec && r->user ? VMDL_EPT_PERM_XU : VMDL_EPT_PERM_X;
    default:
        /* With A/D flags a paging-structure access is a write (29.3.5). */
        return r->paging_structure && ad ? VMDL_EPT_PERM_W : VMDL_EPT_PERM_R;
    }
}

static uint64_t violation_qual(const struct vmdl_ept_config *cfg,
                               const struct vmdl_ept_request *r, unsigned perms)
{
    uint64_t q = 0;
    /* A guest paging-structure entry is read, and its A/D update (a write
     * request) read and written: bits 0 and 1 both, also for every entry
     * access when EPT A/D flags make them all writes (29.3.5). */
    if (r->access == VMDL_EPT_ACC_FETCH)
        q |= VMDL_EPT_QUAL_FETCH;
    else if (r->paging_structure &&
             (r->access == VMDL_EPT_ACC_WRITE || (cfg->eptp & VMDL_EPTP_AD)))
        q |= VMDL_EPT_QUAL_READ | VMDL_EPT_QUAL_WRITE;
    else if (r->access == VMDL_EPT_ACC_WRITE)
        q |= VMDL_EPT_QUAL_WRITE;
    else
        q |= VMDL_EPT_QUAL_READ;
    q |= (uint64_t)(perms & 7) << 3;
    if (cfg->mbec && (perms & VMDL_EPT_PERM_XU))
        q |= VMDL_EPT_QUAL_XU;
    if (r->gla_valid) {
        q |= VMDL_EPT_QUAL_GLA_VALID;
        if (!r->paging_structure) {
            q |= VMDL_EPT_QUAL_GLA_XLATE;
            /* Bits 9-11 are defined only with bits 7 and 8 set and the
             * advanced-information capability. */
            if (cfg->cap & VMDL_EPT_CAP_ADV_INFO)
                q |= (r->user ? VMDL_EPT_QUAL_GUEST_USER : 0) |
                     (r->guest_rw ? VMDL_EPT_QUAL_GUEST_RW : 0) |
                     (r->guest_nx ? VMDL_EPT_QUAL_GUEST_NX : 0);
        }
    }
    return q;
}

static int fail(struct vmdl_ept_result *out, enum vmdl_ept_outcome o, unsigned level,
                uint64_t e, uint64_t qual)
{
    out->outcome = o;
    out->level = level;
    out->entry = e;
    out->qualification = o == VMDL_EPT_VIOLATION ? qual : 0;
    return VMDL_OK;
}

/* The leaf is about to get its dirty flag: log its page (SDM 29.3.6).
 * False for a log-full event. */
static bool pml_log(const struct vmdl_guest_mem *mem, struct vmdl_ept_pml *pml,
                    uint64_t gpa)
{
    if (pml->index >= 512)
        return false;
    uint64_t page = gpa & ~0xFFFull;
    if (!vmdl_guest_write(mem, pml->addr + 8ull * pml->index, &page, 8))
        pml->index--;
    return true;
}

/* Accessed flags on every entry used, top down, dirty on the leaf of a
 * write (a paging-structure access counts as one, 29.3.5), as KVM's
 * update_accessed_dirty_bits.  False for a page-modification log-full
 * event, which leaves the leaf as it was. */
static bool set_ad(const struct vmdl_guest_mem *mem, const uint64_t addr[5],
                   uint64_t ent[5], unsigned top, unsigned leaf, bool write,
                   struct vmdl_ept_pml *pml, uint64_t gpa)
{
    bool dirtying = write && !(ent[leaf - 1] & VMDL_EPTE_D);
    if (dirtying && pml && pml->sdm_full_sets_no_flags && pml->index >= 512)
        return false;
    for (unsigned l = top; l >= leaf; l--) {
        uint64_t e = ent[l - 1] | VMDL_EPTE_A;
        if (l == leaf && dirtying) {
            if (pml && !pml_log(mem, pml, gpa))
                return false;
            e |= VMDL_EPTE_D;
        }
        if (e != ent[l - 1])
            (void)vmdl_guest_write(mem, addr[l - 1], &e, 8);
        ent[l - 1] = e;
    }
    return true;
}

int vmdl_ept_walk(const struct vmdl_guest_mem *mem, const struct vmdl_ept_config *cfg,
                  const struct vmdl_ept_request *req, struct vmdl_ept_result *out)
{
    return vmdl_ept_walk_pml(mem, cfg, req, NULL, out);
}

int vmdl_ept_walk_pml(const struct vmdl_guest_mem *mem, const struct vmdl_ept_config *cfg,
                      const struct vmdl_ept_request *req, struct vmdl_ept_pml *pml,
                      struct vmdl_ept_result *out)
{
    if (!mem || !cfg || !req || !out)
        return vmdl_fail(VMDL_EINVAL, "vmdl_ept_walk: NULL argument");
    if (!vmdl_ept_eptp_valid(cfg))
        return vmdl_fail(VMDL_EINVAL, "vmdl_ept_walk: EPTP 0x%llx is not valid for "
                         "the capability", (unsigned long long)cfg->eptp);
    memset(out, 0, sizeof(*out));
    unsigned top = ((cfg->eptp >> VMDL_EPTP_PWL_SHIFT) & 7) + 1;
    unsigned perms = VMDL_EPT_PERM_R | VMDL_EPT_PERM_W | VMDL_EPT_PERM_X |
                     (cfg->mbec ? VMDL_EPT_PERM_XU : 0);
    if (req->gpa >> cfg->maxphyaddr)        /* no entry can map it */
        return fail(out, VMDL_EPT_VIOLATION, top, 0, violation_qual(cfg, req, 0));
    uint64_t table = cfg->eptp & ADDR_MASK, addr[5] = {0}, ent[5] = {0};
    for (unsigned level = top; level >= 1; level--) {
        unsigned shift = 12 + 9 * (level - 1);
        uint64_t a = table + ((req->gpa >> shift) & 0x1FF) * 8, e = 0;
        if (vmdl_guest_read(mem, a, &e, 8))
            return fail(out, VMDL_EPT_VIOLATION, level, 0, violation_qual(cfg, req, 0));
        addr[level - 1] = a;
        ent[level - 1] = e;
        perms &= entry_perms(e, cfg->mbec);
        if (!entry_perms(e, cfg->mbec))
            return fail(out, VMDL_EPT_VIOLATION, level, e, violation_qual(cfg, req, 0));
        if (misconfigured(cfg, e, level))
            return fail(out, VMDL_EPT_MISCONFIG, level, e, 0);
        if (!is_leaf(e, level)) {
            table = e & ADDR_MASK;
            continue;
        }
        out->perms = perms;
        unsigned need = needed(cfg, req);
        if (!(perms & need))
            return fail(out, VMDL_EPT_VIOLATION, level, e, violation_qual(cfg, req, perms));
        uint64_t size = 1ull << shift;
        out->outcome = VMDL_EPT_OK;
        out->level = level;
        out->entry = e;
        out->page_size = size;
        out->hpa = (e & ADDR_MASK & ~(size - 1)) | (req->gpa & (size - 1));
        out->memtype = (uint8_t)((e >> VMDL_EPTE_MT_SHIFT) & 7);
        out->ipat = e & VMDL_EPTE_IPAT;
        if ((cfg->eptp & VMDL_EPTP_AD) &&
            !set_ad(mem, addr, ent, top, level,
                    req->access == VMDL_EPT_ACC_WRITE || req->paging_structure, pml,
                    req->gpa))
            return fail(out, VMDL_EPT_PML_FULL, level, e, 0);
        for (unsigned l = level; l <= top; l++) {
            out->entry_addr[l - 1] = addr[l - 1];
            out->entry_val[l - 1] = ent[l - 1];
        }
        return VMDL_OK;
    }
    return vmdl_fail(VMDL_ESTATE, "vmdl_ept_walk: no leaf");  /* not reached */
}

bool vmdl_vmx_ept_config(const struct vmdl_vmx *vmx, struct vmdl_ept_config *cfg)
{
    if (!vmx || !cfg || !vmdl__vmx_has_current(vmx))
        return false;
    uint64_t proc = vmdl__v12(vmx, V12_CPU_BASED_VM_EXEC_CONTROL);
    uint64_t proc2 = vmdl__v12(vmx, V12_SECONDARY_VM_EXEC_CONTROL);
    if (!(proc & VMDL_PROC_SECONDARY) || !(proc2 & VMDL_PROC2_EPT))
        return false;
    const struct vmdl_vmx_caps *c = vmdl_vmx_model_caps(vmx->model);
    cfg->eptp = vmdl__v12(vmx, V12_EPT_POINTER);
    cfg->cap = c->ept_vpid_cap;
    cfg->maxphyaddr = c->phys_addr_bits;
    cfg->mbec = proc2 & VMDL_PROC2_MODE_BASED_EPT;
    return true;
}

int vmdl_vmx_ept_translate(struct vmdl_vmx *vmx, const struct vmdl_ept_request *req,
                           struct vmdl_ept_result *out)
{
    struct vmdl_ept_config cfg;
    if (!vmx || !req || !out)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vmx_ept_translate: NULL argument");
    if (!vmdl_vmx_ept_config(vmx, &cfg))
        return vmdl_fail(VMDL_ENOTSUP, "vmdl_vmx_ept_translate: L2 does not use EPT");
    /* KVM logs for L2 when vmcs12 enables PML (nested_cpu_has_pml); the
     * entry checks made sure EPT is on and the address valid. */
    if (!(vmdl__v12(vmx, V12_SECONDARY_VM_EXEC_CONTROL) & VMDL_PROC2_PML))
        return vmdl_ept_walk(&vmx->mem, &cfg, req, out);
    struct vmdl_ept_pml pml = {
        .addr = vmdl__v12(vmx, V12_PML_ADDRESS),
        .index = (uint16_t)vmdl__v12(vmx, V12_GUEST_PML_INDEX),
    };
    int err = vmdl_ept_walk_pml(&vmx->mem, &cfg, req, &pml, out);
    if (!err)
        vmdl__v12_set(vmx, V12_GUEST_PML_INDEX, pml.index);
    return err;
}

void vmdl_ept_exit_info(const struct vmdl_ept_request *req,
                        const struct vmdl_ept_result *res,
                        struct vmdl_vmx_exit_info *info)
{
    memset(info, 0, sizeof(*info));
    info->guest_phys = req->gpa;
    if (res->outcome == VMDL_EPT_MISCONFIG || res->outcome == VMDL_EPT_PML_FULL) {
        info->reason = res->outcome == VMDL_EPT_MISCONFIG ? VMDL_VMX_EXIT_EPT_MISCONFIG
                                                           : VMDL_VMX_EXIT_PML_FULL;
        return;
    }
    info->reason = VMDL_VMX_EXIT_EPT_VIOLATION;
    info->qualification = res->qualification;
    if (req->gla_valid)
        info->guest_linear = req->gla;
}
