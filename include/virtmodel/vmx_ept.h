/* SPDX-License-Identifier: MIT */
/*
 * EPT: the translation of L2 guest-physical addresses through L1's extended
 * page tables (Intel SDM Vol. 3C 29.3), as KVM's nested EPT walker does it
 * for L2 (arch/x86/kvm/mmu/paging_tmpl.h with PTTYPE_EPT).
 *
 * Pure: the tables are read (and their accessed/dirty flags written) through
 * a struct vmdl_guest_mem in L1's physical address space.  The walk gives a
 * translation, an EPT violation with the exit qualification of SDM Vol. 3C
 * 28.2.1 (table "Exit Qualification for EPT Violations"), or an EPT
 * misconfiguration.
 *
 * What the walk checks, level by level from the EPTP (4 or 5 levels):
 *   - an entry with bits 2:0 clear (and bit 10 clear under mode-based
 *     execute control) is not present: EPT violation;
 *   - a present entry is misconfigured when it is writable but not
 *     readable, execute-only without IA32_VMX_EPT_VPID_CAP bit 0, has a
 *     reserved bit set (address bits 51:MAXPHYADDR; bits 7:3 of a non-leaf
 *     entry; bit 7 of a PML5E/PML4E; a 2 MiB/1 GiB page the capability
 *     does not offer (bits 16/17); bits 20:12 of a 2 MiB or 29:12 of a 1 GiB
 *     page), or is a leaf with memory type 2, 3 or 7: EPT misconfiguration
 *     (exit reason 49, qualification 0);
 *   - at the leaf, the access needs R (read), W (write) or X (fetch; XU for
 *     user-mode linear addresses under mode-based execute control) in every
 *     entry of the walk: else EPT violation (exit reason 48).
 * With accessed/dirty flags enabled (EPTP bit 6) a successful walk sets the
 * accessed flag (bit 8) of every entry it used and the dirty flag (bit 9)
 * of the leaf for a write; an access to a guest paging-structure entry then
 * counts as a write (SDM 29.3.5), and its violation reports bits 0 and 1.
 * A failed walk changes nothing (KVM sets the flags only after the
 * permission check passed).
 *
 * Page-modification logging (SDM 29.3.6; KVM emulates it for L2 in
 * vmx_write_pml_buffer): when a walk is about to set the dirty flag of a
 * leaf (0 to 1), the 4 KiB-aligned guest-physical address is written to
 * the log at PML address + 8 * index and the index counts down.  An index
 * outside 0..511 is a log-full event instead (exit reason 62): nothing is
 * logged, the leaf keeps its flags, the access does not happen.
 */
#ifndef VIRTMODEL_VMX_EPT_H
#define VIRTMODEL_VMX_EPT_H

#include <stdbool.h>
#include <stdint.h>

#include "virtmodel/guest_mem.h"
#include "virtmodel/vmx_nested.h"

#ifdef __cplusplus
extern "C" {
#endif

/* EPTP fields (SDM Vol. 3C 25.6.11). */
#define VMDL_EPTP_MT_MASK 0x7ull
#define VMDL_EPTP_MT_UC 0ull
#define VMDL_EPTP_MT_WB 6ull
#define VMDL_EPTP_PWL_SHIFT 3
#define VMDL_EPTP_PWL_4 (3ull << VMDL_EPTP_PWL_SHIFT)
#define VMDL_EPTP_PWL_5 (4ull << VMDL_EPTP_PWL_SHIFT)
#define VMDL_EPTP_AD (1ull << 6)

/* EPT paging-structure entry bits. */
#define VMDL_EPTE_R (1ull << 0)
#define VMDL_EPTE_W (1ull << 1)
#define VMDL_EPTE_X (1ull << 2)
#define VMDL_EPTE_MT_SHIFT 3
#define VMDL_EPTE_IPAT (1ull << 6)
#define VMDL_EPTE_LARGE (1ull << 7)
#define VMDL_EPTE_A (1ull << 8)
#define VMDL_EPTE_D (1ull << 9)
#define VMDL_EPTE_XU (1ull << 10)

/* IA32_VMX_EPT_VPID_CAP bits the walk uses. */
#define VMDL_EPT_CAP_EXEC_ONLY (1ull << 0)
#define VMDL_EPT_CAP_2M (1ull << 16)
#define VMDL_EPT_CAP_1G (1ull << 17)
#define VMDL_EPT_CAP_AD (1ull << 21)
#define VMDL_EPT_CAP_ADV_INFO (1ull << 22)

/* Exit qualification of an EPT violation (SDM Vol. 3C table 28-7). */
#define VMDL_EPT_QUAL_READ (1ull << 0)
#define VMDL_EPT_QUAL_WRITE (1ull << 1)
#define VMDL_EPT_QUAL_FETCH (1ull << 2)
#define VMDL_EPT_QUAL_R (1ull << 3)       /* AND of bit 0 over the walk */
#define VMDL_EPT_QUAL_W (1ull << 4)
#define VMDL_EPT_QUAL_X (1ull << 5)
#define VMDL_EPT_QUAL_XU (1ull << 6)      /* AND of bit 10 (MBEC) */
#define VMDL_EPT_QUAL_GLA_VALID (1ull << 7)
#define VMDL_EPT_QUAL_GLA_XLATE (1ull << 8) /* the final translation */
#define VMDL_EPT_QUAL_GUEST_USER (1ull << 9)  /* advanced information */
#define VMDL_EPT_QUAL_GUEST_RW (1ull << 10)
#define VMDL_EPT_QUAL_GUEST_NX (1ull << 11)
#define VMDL_EPT_QUAL_NMI_UNBLOCK (1ull << 12)

/* Permissions (perms of a result): R, W, X as entry bits 2:0, XU bit 3. */
#define VMDL_EPT_PERM_R 1u
#define VMDL_EPT_PERM_W 2u
#define VMDL_EPT_PERM_X 4u
#define VMDL_EPT_PERM_XU 8u

enum vmdl_ept_access {
    VMDL_EPT_ACC_READ = 1,
    VMDL_EPT_ACC_WRITE = 2,
    VMDL_EPT_ACC_FETCH = 4,
};

struct vmdl_ept_config {
    uint64_t eptp;              /* EPT_POINTER of vmcs12 */
    uint64_t cap;               /* IA32_VMX_EPT_VPID_CAP */
    unsigned maxphyaddr;        /* 32..52 */
    bool mbec;                  /* "mode-based execute control for EPT" */
};

struct vmdl_ept_request {
    uint64_t gpa;
    enum vmdl_ept_access access;
    bool paging_structure;      /* an access to a guest paging-structure entry:
                                 * READ reads it, WRITE sets its A/D flags */
    bool gla_valid;             /* a guest linear address goes with it */
    uint64_t gla;
    bool user;                  /* user-mode linear address (MBEC, bit 9) */
    bool guest_rw, guest_nx;    /* the guest's R/W and XD (bits 10, 11) */
};

enum vmdl_ept_outcome {
    VMDL_EPT_OK = 0,
    VMDL_EPT_VIOLATION,         /* exit reason 48 */
    VMDL_EPT_MISCONFIG,         /* exit reason 49 */
    VMDL_EPT_PML_FULL,          /* exit reason 62 (page-modification log full) */
};

/* The page-modification log of a walk (vmcs12's PML_ADDRESS and
 * GUEST_PML_INDEX under "enable PML"). */
struct vmdl_ept_pml {
    uint64_t addr;              /* 4 KiB log of 512 guest-physical addresses */
    uint16_t index;             /* next slot; counts down, 512.. is full */
    /*
     * A log-full event leaves every entry of the walk as it was (the SDM).
     * False (KVM's update_accessed_dirty_bits): the accessed flags of the
     * levels above the leaf, set on the way down, stay set.
     */
    bool sdm_full_sets_no_flags;
};

struct vmdl_ept_result {
    enum vmdl_ept_outcome outcome;
    uint64_t hpa;               /* OK: L1 physical address of gpa */
    uint64_t page_size;         /* OK: 4 KiB, 2 MiB or 1 GiB */
    unsigned perms;             /* VMDL_EPT_PERM_*: AND over the walk */
    unsigned level;             /* the leaf or the failing entry: 1 PTE .. 5 */
    uint64_t entry;             /* its value (as read, before A/D) */
    uint8_t memtype;            /* OK: leaf bits 5:3 */
    bool ipat;                  /* OK: leaf bit 6 */
    uint64_t qualification;     /* VIOLATION: table 28-7; MISCONFIG: 0 */
    /* OK: the entries the walk used, at index level - 1 (PTE .. PML5E):
     * their addresses in L1's physical space and their values after the
     * accessed/dirty updates; 0 for levels the walk did not use. */
    uint64_t entry_addr[5], entry_val[5];
};

/* Is this a valid EPTP for cfg->cap and cfg->maxphyaddr (memory type
 * UC/WB as bits 8/14, 4 or 5 levels as bits 6/7, bits 11:7 zero, no bit at
 * or above MAXPHYADDR, A/D only with bit 21)?  The same rule as
 * vmdl_vmx_eptp_valid (VM entry, INVEPT), from the raw capability. */
bool vmdl_ept_eptp_valid(const struct vmdl_ept_config *cfg);

/*
 * Translate req->gpa.  Returns VMDL_OK with *out filled in (outcome OK,
 * VIOLATION or MISCONFIG); VMDL_EINVAL for NULL arguments or an EPTP that
 * vmdl_ept_eptp_valid refuses (VM entry never lets such an EPTP run L2).
 * A table that is not RAM makes the walk stop with an EPT violation
 * without permissions, as KVM's walker does when it cannot read an entry.
 */
int vmdl_ept_walk(const struct vmdl_guest_mem *mem, const struct vmdl_ept_config *cfg,
                  const struct vmdl_ept_request *req, struct vmdl_ept_result *out);
/* The same with page-modification logging into *pml (NULL: none).  A log
 * slot outside RAM is skipped without counting down (KVM). */
int vmdl_ept_walk_pml(const struct vmdl_guest_mem *mem, const struct vmdl_ept_config *cfg,
                      const struct vmdl_ept_request *req, struct vmdl_ept_pml *pml,
                      struct vmdl_ept_result *out);

/* The EPT configuration of the current vmcs12: false (cfg untouched) when
 * there is no current VMCS or "enable EPT" (with secondary controls) is
 * off. */
bool vmdl_vmx_ept_config(const struct vmdl_vmx *vmx, struct vmdl_ept_config *cfg);

/* Translate through the current vmcs12's EPT over the vCPU's guest memory,
 * logging dirtied pages when vmcs12 enables PML (GUEST_PML_INDEX is
 * updated); VMDL_ENOTSUP when L2 does not use EPT. */
int vmdl_vmx_ept_translate(struct vmdl_vmx *vmx, const struct vmdl_ept_request *req,
                           struct vmdl_ept_result *out);

/* The VM exit a failed translation causes: reason 48 with the
 * qualification, guest-physical and (when valid) guest-linear address, or
 * 49 or 62 with qualification 0 and the guest-physical address (KVM
 * records it for a log-full exit too; bit 12, NMI unblocking, is the
 * caller's). */
void vmdl_ept_exit_info(const struct vmdl_ept_request *req,
                        const struct vmdl_ept_result *res,
                        struct vmdl_vmx_exit_info *info);

#ifdef __cplusplus
}
#endif
#endif
