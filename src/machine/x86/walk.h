/* SPDX-License-Identifier: MIT */
/*
 * The x86 page walk in C (SDM vol. 3, chapter 4): 32-bit, PAE, 4- and
 * 5-level paging, large pages, the reserved-bit checks, accessed/dirty
 * updates and the access rights of 4.6 (U/S, R/W with CR0.WP, XD with
 * EFER.NXE, SMEP, SMAP with RFLAGS.AC and implicit supervisor accesses,
 * protection keys: PKRU for user pages, PKRS for supervisor pages).
 *
 * Pure C: guest-physical memory comes through the two callbacks, so the
 * walk is unit-tested on a plain byte array (tests/machine/test_x86_walk.c).
 * The hosted vCPU uses it to read guest memory (hosted_state.c) and, while
 * CR4.PKS is on, as the translation of every guest access (hosted_walk.c).
 */
#ifndef VMDL_X86_WALK_H
#define VMDL_X86_WALK_H

#include <stdbool.h>
#include <stdint.h>

/* Control-register and EFER bits the walk reads. */
#define VMDL_X86_CR0_WP (1ull << 16)
#define VMDL_X86_CR0_PG (1ull << 31)
#define VMDL_X86_CR4_PSE (1ull << 4)
#define VMDL_X86_CR4_PAE (1ull << 5)
#define VMDL_X86_CR4_LA57 (1ull << 12)
#define VMDL_X86_CR4_SMEP (1ull << 20)
#define VMDL_X86_CR4_SMAP (1ull << 21)
#define VMDL_X86_CR4_PKE (1ull << 22)
#define VMDL_X86_CR4_PKS (1ull << 24)
#define VMDL_X86_EFER_LMA (1ull << 10)
#define VMDL_X86_EFER_NXE (1ull << 11)

/* #PF error-code bits (SDM vol. 3, 4.7). */
#define VMDL_PF_P (1u << 0)
#define VMDL_PF_W (1u << 1)
#define VMDL_PF_U (1u << 2)
#define VMDL_PF_RSVD (1u << 3)
#define VMDL_PF_ID (1u << 4)
#define VMDL_PF_PK (1u << 5)

/* What an access is (the low bits match the error code's). */
#define VMDL_WALK_WRITE VMDL_PF_W     /* a write (else a read or fetch) */
#define VMDL_WALK_USER VMDL_PF_U      /* user-mode: an explicit access at CPL 3 */
#define VMDL_WALK_FETCH VMDL_PF_ID    /* an instruction fetch */
#define VMDL_WALK_IMPLICIT (1u << 8)  /* implicit supervisor (descriptor
                                         tables, delivery stacks): SMAP
                                         whatever RFLAGS.AC says */
#define VMDL_WALK_AC (1u << 9)        /* RFLAGS.AC at the access */
#define VMDL_WALK_CHECK (1u << 10)    /* reserved bits and rights checked */
#define VMDL_WALK_SET_AD (1u << 11)   /* set A (and D for a write) when allowed */

/* The paging state of the vCPU. */
struct vmdl__x86_paging {
    uint64_t cr0, cr3, cr4, efer;
    uint32_t pkru, pkrs;
    unsigned phys_bits;       /* MAXPHYADDR: entry bits from it to 51 reserved */
    bool gb_pages;            /* 1-GByte pages (CPUID.80000001H:EDX[26]) */
    const uint64_t *pdpte;    /* PAE paging: the four PDPTE registers the
                                 processor walks from (SDM 4.4.1), or NULL
                                 to read the 32-byte table at CR3 */
};

/* Guest-physical memory (entries are read and written 4 or 8 bytes). */
struct vmdl__x86_pmem {
    bool (*read)(void *opaque, uint64_t pa, void *buf, unsigned n);
    bool (*write)(void *opaque, uint64_t pa, const void *buf, unsigned n);
    void *opaque;
};

/* A translation and what the walk found on the way. */
struct vmdl__x86_xlate {
    uint64_t pa;              /* of the linear address walked */
    uint64_t page_size;
    bool user, writable, xd;  /* effective rights over all levels */
    bool dirty;               /* the leaf's D flag (after any update) */
    unsigned pkey;            /* the leaf's protection key (4/5-level) */
    uint32_t pfec;            /* #PF error code when the walk fails */
};

/* Translate la for access (VMDL_WALK_*).  False when the access faults
 * (x->pfec: P clear for a not-present entry, RSVD for a reserved bit, PK
 * when a protection key forbids it) or, without VMDL_WALK_CHECK, when an
 * entry is not present, and when memory refuses to read an entry or to
 * write an A/D update (the caller's pmem knows which: a second stage).
 * A/D bits change only for an allowed access. */
bool vmdl__x86_walk(const struct vmdl__x86_paging *p, const struct vmdl__x86_pmem *m,
                    uint64_t la, unsigned access, struct vmdl__x86_xlate *x);

/* A present PAE PDPTE with a reserved bit set (2:1, 8:5, MAXPHYADDR..63;
 * SDM 4.4.1, KVM's pdptr_rsvd_bits). */
bool vmdl__x86_pdpte_reserved(const struct vmdl__x86_paging *p, uint64_t e);

/* The rights check alone: 0 when the translation x allows access, else
 * the #PF error code. */
uint32_t vmdl__x86_access_fault(const struct vmdl__x86_paging *p,
                                const struct vmdl__x86_xlate *x, unsigned access);

#endif
