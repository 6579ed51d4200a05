/* SPDX-License-Identifier: MIT */
/*
 * The x86 page walk (walk.h): SDM vol. 3, 4.3 (32-bit paging), 4.4 (PAE),
 * 4.5 (4- and 5-level), 4.6 (access rights, protection keys), 4.7 (#PF
 * error code) and 4.8 (accessed and dirty flags).
 */
#include <string.h>

#include "walk.h"


#define E_P (1ull << 0)
#define E_RW (1ull << 1)
#define E_US (1ull << 2)
#define E_A (1ull << 5)
#define E_D (1ull << 6)
#define E_PS (1ull << 7)
#define E_XD (1ull << 63)
#define ADDR_MASK 0x000FFFFFFFFFF000ull

/* The entries a walk used, for the A/D updates once the access is allowed. */
struct used {
    uint64_t pa[5], e[5];
    unsigned n, width;        /* width: 4 (32-bit paging) or 8 bytes */
};

static bool ia32e(const struct vmdl__x86_paging *p)
{
    return (p->cr0 & VMDL_X86_CR0_PG) && (p->cr4 & VMDL_X86_CR4_PAE) && (p->efer & VMDL_X86_EFER_LMA);
}

/* The error-code bits every fault of this access has: W, U, and I/D for a
 * fetch when SMEP or PAE-with-NXE makes fetches checked (SDM 4.7). */
static uint32_t fault_base(const struct vmdl__x86_paging *p, unsigned access)
{
    uint32_t pf = access & (VMDL_PF_W | VMDL_PF_U);
    bool id = (p->cr4 & VMDL_X86_CR4_SMEP) || ((p->cr4 & VMDL_X86_CR4_PAE) && (p->efer & VMDL_X86_EFER_NXE));
    if ((access & VMDL_WALK_FETCH) && id)
        pf |= VMDL_PF_ID;
    return pf;
}

/* Protection keys (SDM 4.6.2): PKRU for user pages (any data access),
 * PKRS for supervisor pages (supervisor data accesses); WD stops user
 * writes, and supervisor writes only under CR0.WP.  Fetches are never
 * key-checked. */
static bool key_denies(const struct vmdl__x86_paging *p, const struct vmdl__x86_xlate *x,
                       unsigned access)
{
    bool u = access & VMDL_WALK_USER, w = access & VMDL_WALK_WRITE;
    uint32_t keys;
    if ((access & VMDL_WALK_FETCH) || !ia32e(p))
        return false;
    if (x->user && (p->cr4 & VMDL_X86_CR4_PKE))
        keys = p->pkru;
    else if (!x->user && !u && (p->cr4 & VMDL_X86_CR4_PKS))
        keys = p->pkrs;
    else
        return false;
    bool ad = (keys >> (2 * x->pkey)) & 1, wd = (keys >> (2 * x->pkey + 1)) & 1;
    return ad || (wd && w && (u || (p->cr0 & VMDL_X86_CR0_WP)));
}

uint32_t vmdl__x86_access_fault(const struct vmdl__x86_paging *p,
                                const struct vmdl__x86_xlate *x, unsigned access)
{
    if (!(p->cr0 & VMDL_X86_CR0_PG))
        return 0;
    bool u = access & VMDL_WALK_USER, w = access & VMDL_WALK_WRITE;
    bool f = access & VMDL_WALK_FETCH;
    bool smap_exempt = (access & VMDL_WALK_AC) && !(access & VMDL_WALK_IMPLICIT);
    bool bad = (u && !x->user) ||
               (w && !x->writable && (u || (p->cr0 & VMDL_X86_CR0_WP))) ||
               (f && x->xd) ||
               (f && !u && x->user && (p->cr4 & VMDL_X86_CR4_SMEP)) ||
               (!u && !f && x->user && (p->cr4 & VMDL_X86_CR4_SMAP) && !smap_exempt);
    uint32_t pf = fault_base(p, access) | VMDL_PF_P;
    /* As KVM's permission_fault: PK is reported whenever a key forbids
     * the access, also when the ordinary rights forbid it too. */
    if (key_denies(p, x, access)) {
        bad = true;
        pf |= VMDL_PF_PK;
    }
    return bad ? pf : 0;
}

static bool read_entry(const struct vmdl__x86_pmem *m, uint64_t pa, unsigned width,
                       uint64_t *e)
{
    uint64_t v = 0;
    if (!m->read(m->opaque, pa, &v, width))
        return false;
    *e = width == 4 ? (uint32_t)v : v;
    return true;
}

static void note(struct used *u, uint64_t pa, uint64_t e)
{
    u->pa[u->n] = pa;
    u->e[u->n] = e;
    u->n++;
}

static void take_rights(struct vmdl__x86_xlate *x, uint64_t e, bool nxe)
{
    x->user = x->user && (e & E_US);
    x->writable = x->writable && (e & E_RW);
    x->xd = x->xd || (nxe && (e & E_XD));
}

/* 32-bit paging: a 4-MByte page with CR4.PSE (PSE-36: PDE bits 20:13 are
 * address bits 39:32), else a 4-KByte page. */
static bool walk32(const struct vmdl__x86_paging *p, const struct vmdl__x86_pmem *m,
                   uint64_t la, struct vmdl__x86_xlate *x, struct used *u)
{
    uint64_t pde_pa = (p->cr3 & 0xFFFFF000u) + ((la >> 22) & 0x3FF) * 4, pde, pte;
    u->width = 4;
    if (!read_entry(m, pde_pa, 4, &pde) || !(pde & E_P))
        return false;
    note(u, pde_pa, pde);
    take_rights(x, pde, false);
    if ((pde & E_PS) && (p->cr4 & VMDL_X86_CR4_PSE)) {
        x->page_size = 1ull << 22;
        x->pa = (pde & 0xFFC00000u) | (((pde >> 13) & 0xFF) << 32) | (la & 0x3FFFFF);
        return true;
    }
    uint64_t pte_pa = (pde & 0xFFFFF000u) + ((la >> 12) & 0x3FF) * 4;
    if (!read_entry(m, pte_pa, 4, &pte) || !(pte & E_P))
        return false;
    note(u, pte_pa, pte);
    take_rights(x, pte, false);
    x->pa = (pte & 0xFFFFF000u) | (la & 0xFFF);
    return true;
}

/* Reserved bits of a PAE / 4-level / 5-level entry at level l (1: PTE)
 * that maps (ps) or references the next table (SDM tables 4-8, 4-14..4-20). */
static uint64_t rsvd_bits(const struct vmdl__x86_paging *p, int l, bool ps)
{
    uint64_t r = p->phys_bits < 52 ? (~0ull << p->phys_bits) & ((1ull << 52) - 1) : 0;
    if (!(p->efer & VMDL_X86_EFER_NXE))
        r |= E_XD;
    if (!(p->efer & VMDL_X86_EFER_LMA))
        r |= 0x7FF0000000000000ull;              /* PAE: 62:52 too */
    if (l >= 4)
        r |= E_PS;                               /* PML4E, PML5E */
    else if (l == 3 && ps)
        r |= p->gb_pages ? 0x3FFFE000ull : E_PS; /* 1-GByte page */
    else if (l == 2 && ps)
        r |= 0x1FE000ull;                        /* 2-MByte page */
    return r;
}

bool vmdl__x86_pdpte_reserved(const struct vmdl__x86_paging *p, uint64_t e)
{
    uint64_t r = (p->phys_bits < 52 ? (~0ull << p->phys_bits) & ((1ull << 52) - 1) : 0) |
                 0x1E6ull | E_XD;
    return (e & E_P) && (e & r);
}

/* PAE paging's PDPTE (no rights, no A/D): the table of level 2 or 0.
 * From the registers when the caller has them, else from CR3's table. */
static bool pae_pdpte(const struct vmdl__x86_paging *p, const struct vmdl__x86_pmem *m,
                      uint64_t la, bool check, struct vmdl__x86_xlate *x, uint64_t *table)
{
    unsigned i = (unsigned)((la >> 30) & 3);
    uint64_t e = p->pdpte ? p->pdpte[i] : 0;
    if ((!p->pdpte && !read_entry(m, (p->cr3 & 0xFFFFFFE0u) + i * 8, 8, &e)) || !(e & E_P))
        return false;
    if (check && vmdl__x86_pdpte_reserved(p, e)) {
        x->pfec |= VMDL_PF_P | VMDL_PF_RSVD;
        return false;
    }
    *table = e & ADDR_MASK;
    return true;
}

static bool walk64(const struct vmdl__x86_paging *p, const struct vmdl__x86_pmem *m,
                   uint64_t la, bool check, struct vmdl__x86_xlate *x, struct used *u)
{
    bool lma = p->efer & VMDL_X86_EFER_LMA, nxe = p->efer & VMDL_X86_EFER_NXE;
    int top = lma ? ((p->cr4 & VMDL_X86_CR4_LA57) ? 5 : 4) : 2;
    uint64_t table = p->cr3 & ADDR_MASK;
    u->width = 8;
    if (!lma && !pae_pdpte(p, m, la, check, x, &table))
        return false;
    for (int l = top; l >= 1; l--) {
        unsigned shift = 12 + 9 * (unsigned)(l - 1);
        uint64_t pa = table + ((la >> shift) & 0x1FF) * 8, e;
        if (!read_entry(m, pa, 8, &e) || !(e & E_P))
            return false;
        bool ps = l <= 3 && l >= 2 && (e & E_PS);
        if (check && (e & rsvd_bits(p, l, ps))) {
            x->pfec |= VMDL_PF_P | VMDL_PF_RSVD;
            return false;
        }
        note(u, pa, e);
        take_rights(x, e, nxe);
        if (l == 1 || ps) {
            x->page_size = 1ull << shift;
            x->pa = (e & ADDR_MASK & ~(x->page_size - 1)) | (la & (x->page_size - 1));
            x->pkey = lma ? (unsigned)((e >> 59) & 0xF) : 0;
            return true;
        }
        table = e & ADDR_MASK;
    }
    return false;
}

/* A on every entry used, D on the leaf for a write (SDM 4.8), top down.
 * False when memory refuses an update (a second stage that does not let
 * the entry be written): the updates after it are not made. */
static bool set_ad(const struct vmdl__x86_pmem *m, const struct used *u, bool write,
                   struct vmdl__x86_xlate *x)
{
    for (unsigned i = 0; i < u->n; i++) {
        uint64_t e = u->e[i] | E_A;
        if (i == u->n - 1 && write)
            e |= E_D;
        if (e != u->e[i] && m->write && !m->write(m->opaque, u->pa[i], &e, u->width))
            return false;
    }
    x->dirty = x->dirty || write;
    return true;
}

bool vmdl__x86_walk(const struct vmdl__x86_paging *p, const struct vmdl__x86_pmem *m,
                    uint64_t la, unsigned access, struct vmdl__x86_xlate *x)
{
    memset(x, 0, sizeof(*x));
    x->user = x->writable = true;
    x->page_size = 0x1000;
    if (!(p->cr0 & VMDL_X86_CR0_PG)) {
        x->pa = (p->efer & VMDL_X86_EFER_LMA) ? la : (uint32_t)la;
        return true;
    }
    bool check = access & VMDL_WALK_CHECK;
    struct used u = { .n = 0 };
    x->pfec = fault_base(p, access);
    bool ok = (p->cr4 & VMDL_X86_CR4_PAE) ? walk64(p, m, la, check, x, &u) : walk32(p, m, la, x, &u);
    if (!ok)
        return false;
    x->dirty = u.e[u.n - 1] & E_D;
    if (check) {
        uint32_t pf = vmdl__x86_access_fault(p, x, access);
        if (pf) {
            x->pfec = pf;
            return false;
        }
    }
    x->pfec = 0;
    return !(access & VMDL_WALK_SET_AD) || set_ad(m, &u, access & VMDL_WALK_WRITE, x);
}
