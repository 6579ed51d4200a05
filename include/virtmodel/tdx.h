/* SPDX-License-Identifier: MIT */
/*
 * A modelled TDX module: its global-metadata store and the SEAMCALL leaves
 * a host kernel uses to bring it up and read that metadata
 * (TDH.SYS.INIT, TDH.SYS.LP.INIT, TDH.SYS.RD).
 *
 * Module life cycle, as the real module's:
 *   UNLOADED      no module: every SEAMCALL fails with VMfailInvalid (CF=1);
 *                 Linux turns that into TDX_SEAMCALL_VMFAILINVALID
 *   LOADED        module loaded, TDH.SYS.INIT pending
 *   SYSINIT_DONE  TDH.SYS.INIT done; each logical processor (LP) then needs
 *                 its own TDH.SYS.LP.INIT before it may call TDH.SYS.RD
 *                 (else TDX_SYS_LP_INIT_NOT_DONE)
 *
 * Completion status is the 64-bit TDX status in RAX (TDX_SUCCESS = 0).
 */
#ifndef VIRTMODEL_TDX_H
#define VIRTMODEL_TDX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtmodel/guest_mem.h"
#include "virtmodel/tdx_field_id.h"
#include "virtmodel/tdx_fields.h"
#include "virtmodel/tdx_profile.h"

#ifdef __cplusplus
extern "C" {
#endif

/* SEAMCALL leaf numbers (RAX bits 15:0; bits 23:16 are the leaf version). */
#define VMDL_TDH_SYS_INIT      33
#define VMDL_TDH_SYS_RD        34
#define VMDL_TDH_SYS_LP_INIT   35
#define VMDL_TDH_SYS_RDALL     37

/* TDX module completion status codes (RAX after SEAMCALL). */
#define VMDL_TDX_SUCCESS                        UINT64_C(0x0000000000000000)
#define VMDL_TDX_OPERAND_INVALID                UINT64_C(0xC000010000000000)
#define VMDL_TDX_SYS_INIT_NOT_PENDING           UINT64_C(0xC000050000000000)
#define VMDL_TDX_SYS_LP_INIT_NOT_DONE           UINT64_C(0xC000050200000000)
#define VMDL_TDX_SYS_LP_INIT_DONE               UINT64_C(0xC000050300000000)
#define VMDL_TDX_SYS_LP_INIT_NOT_PENDING        UINT64_C(0xC000050B00000000)
#define VMDL_TDX_OPERAND_BUSY                   UINT64_C(0x8000020000000000)
#define VMDL_TDX_SYS_BUSY                       UINT64_C(0x8000020200000000)
/* RDRAND/RDSEED ran dry inside the module: the caller retries (Linux's
 * sc_retry, up to RDRAND_RETRY_LOOPS = 10 calls). */
#define VMDL_TDX_RND_NO_ENTROPY                 UINT64_C(0x8000020300000000)
/* Metadata statuses, class 0x0C (TDX module ABI, as listed in the
 * published module sources' error codes); this model returns the ones
 * TDH.SYS.RD and TDH.SYS.RDALL can give, the rest are named for callers. */
#define VMDL_TDX_METADATA_FIELD_ID_INCORRECT    UINT64_C(0xC0000C0000000000)
#define VMDL_TDX_METADATA_FIELD_NOT_WRITABLE    UINT64_C(0xC0000C0100000000)
#define VMDL_TDX_METADATA_FIELD_NOT_READABLE    UINT64_C(0xC0000C0200000000)
#define VMDL_TDX_METADATA_FIELD_VALUE_NOT_VALID UINT64_C(0xC0000C0300000000)
#define VMDL_TDX_METADATA_LIST_OVERFLOW         UINT64_C(0xC0000C0400000000)
#define VMDL_TDX_INVALID_METADATA_LIST_HEADER   UINT64_C(0xC0000C0500000000)
#define VMDL_TDX_REQUIRED_METADATA_FIELD_MISSING UINT64_C(0xC0000C0600000000)
#define VMDL_TDX_METADATA_ELEMENT_SIZE_INCORRECT UINT64_C(0xC0000C0700000000)
#define VMDL_TDX_METADATA_LAST_ELEMENT_INCORRECT UINT64_C(0xC0000C0800000000)
#define VMDL_TDX_METADATA_FIELD_CURRENTLY_NOT_WRITABLE UINT64_C(0xC0000C0900000000)
#define VMDL_TDX_METADATA_WR_MASK_NOT_VALID     UINT64_C(0xC0000C0A00000000)
#define VMDL_TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT UINT64_C(0x00000C0B00000000)
#define VMDL_TDX_METADATA_FIELD_SKIP            UINT64_C(0x00000C0C00000000)

/*
 * Linux's software statuses (arch/x86/include/asm/tdx.h): class bits 47:40
 * all ones, never used by the module.  Linux's SEAMCALL wrapper returns them
 * when the instruction itself did not reach the module: VMfailInvalid (no
 * module loaded), #GP or #UD (caught by the exception fixup).
 */
#define VMDL_TDX_SW_ERROR               UINT64_C(0x8000FF0000000000)
#define VMDL_TDX_SEAMCALL_VMFAILINVALID (VMDL_TDX_SW_ERROR | UINT64_C(0xFFFF0000))
#define VMDL_TDX_SEAMCALL_GP            (VMDL_TDX_SW_ERROR | 13)
#define VMDL_TDX_SEAMCALL_UD            (VMDL_TDX_SW_ERROR | 6)
/* Operand IDs ORed into bits 31:0 of an operand error. */
#define VMDL_TDX_OPERAND_RAX 0
#define VMDL_TDX_OPERAND_RCX 1
#define VMDL_TDX_OPERAND_RDX 2
/* Bit 63 of a status: an error (not a warning/information status). */
#define VMDL_TDX_STATUS_ERROR UINT64_C(0x8000000000000000)
/* Class of a status (bits 63:32), what callers usually compare. */
#define VMDL_TDX_STATUS_CLASS(s) ((s) & UINT64_C(0xFFFFFFFF00000000))

/* Name of a status ("TDX_SUCCESS", ...): module statuses compared by class,
 * Linux's software statuses exactly; "unknown". */
const char *vmdl_tdx_status_name(uint64_t status);

/*
 * TDX_FEATURES0 bits (TDX module ABI: the module's tdx_features_enum0_t,
 * bit 36 from Linux's Dynamic PAMT series).  The reader tests
 * TD_PRESERVING, NO_RBP_MOD and DYNAMIC_PAMT, as Linux does.
 */
#define VMDL_TDX_FEATURES0_TD_MIGRATION       (UINT64_C(1) << 0)
#define VMDL_TDX_FEATURES0_TD_PRESERVING      (UINT64_C(1) << 1)
#define VMDL_TDX_FEATURES0_SERVICE_TD         (UINT64_C(1) << 2)
#define VMDL_TDX_FEATURES0_TDG_VP_RDWR        (UINT64_C(1) << 3)
#define VMDL_TDX_FEATURES0_RELAXED_MEM_MNG_CONCURRENCY (UINT64_C(1) << 4)
#define VMDL_TDX_FEATURES0_CPUID_VIRT_GUEST_CTRL (UINT64_C(1) << 5)
#define VMDL_TDX_FEATURES0_TD_PARTITIONING    (UINT64_C(1) << 7)
#define VMDL_TDX_FEATURES0_LOCAL_ATTESTATION  (UINT64_C(1) << 8)
#define VMDL_TDX_FEATURES0_TD_ENTRY_ENHANCEMENTS (UINT64_C(1) << 9)
#define VMDL_TDX_FEATURES0_HOST_PRIORITY_LOCKS (UINT64_C(1) << 10)
#define VMDL_TDX_FEATURES0_CONFIG_IA32_ARCH_CAP (UINT64_C(1) << 11)
#define VMDL_TDX_FEATURES0_PENDING_EPT_VIOLATION_V2 (UINT64_C(1) << 16)
#define VMDL_TDX_FEATURES0_FMS_CONFIG         (UINT64_C(1) << 17)
#define VMDL_TDX_FEATURES0_NO_RBP_MOD         (UINT64_C(1) << 18)
#define VMDL_TDX_FEATURES0_L2_TLB_INVD_OPT    (UINT64_C(1) << 19)
#define VMDL_TDX_FEATURES0_TOPOLOGY_ENUM      (UINT64_C(1) << 20)
#define VMDL_TDX_FEATURES0_PARTITIONED_TD_MIGRATION (UINT64_C(1) << 21)
#define VMDL_TDX_FEATURES0_ICSSD              (UINT64_C(1) << 25)
#define VMDL_TDX_FEATURES0_FIXED_CTR12_PROF   (UINT64_C(1) << 26)
#define VMDL_TDX_FEATURES0_MAXPA_VIRT         (UINT64_C(1) << 27)
#define VMDL_TDX_FEATURES0_APX                (UINT64_C(1) << 28)
#define VMDL_TDX_FEATURES0_CPUID2_VIRT        (UINT64_C(1) << 29)
#define VMDL_TDX_FEATURES0_DYNAMIC_PAMT       (UINT64_C(1) << 36)

/* Name of a TDX_FEATURES0 bit ("NO_RBP_MOD"), NULL for a bit the ABI does
 * not define. */
const char *vmdl_tdx_features0_name(unsigned bit);

enum vmdl_tdx_state {
    VMDL_TDX_UNLOADED = 0,
    VMDL_TDX_LOADED = 1,
    VMDL_TDX_SYSINIT_DONE = 2,
};

/* How TDH.SYS.RD treats ELEMENT_SIZE_CODE of the requested field ID. */
enum vmdl_tdx_size_check {
    /* Refuse an ID whose size code differs from the field's with
     * TDX_METADATA_FIELD_ID_INCORRECT (what the module ABI documents for
     * reading a single element, and the default here). */
    VMDL_TDX_SIZE_STRICT = 0,
    /* Ignore the size code: what the published TDX module sources do
     * (md_check_as_single_element_id ignores it), so a reader with a
     * wrong size still gets the value. */
    VMDL_TDX_SIZE_IGNORE = 1,
};

#define VMDL_TDX_MAX_LPS 64

struct vmdl_tdx;

/* General-purpose registers a SEAMCALL takes and returns. */
struct vmdl_tdx_regs {
    uint64_t rax;   /* in: leaf (15:0) and version (23:16); out: status */
    uint64_t rcx, rdx, r8, r9, r10, r11;
    bool cf;        /* out: VMfailInvalid (no module loaded); RAX untouched */
};

/*
 * Create a module from a profile (copied: the profile may be freed after),
 * LOADED with TDH.SYS.INIT pending, for nr_lps logical processors
 * (1..VMDL_TDX_MAX_LPS).
 */
int vmdl_tdx_create(const struct vmdl_tdx_profile *profile, unsigned nr_lps,
                    struct vmdl_tdx **out);
/* Shortcut: vmdl_tdx_profile_open(name_or_path) + vmdl_tdx_create. */
int vmdl_tdx_create_named(const char *name_or_path, unsigned nr_lps,
                          struct vmdl_tdx **out);
void vmdl_tdx_destroy(struct vmdl_tdx *m);

const char *vmdl_tdx_profile_of(const struct vmdl_tdx *m);
unsigned vmdl_tdx_nr_lps(const struct vmdl_tdx *m);
enum vmdl_tdx_state vmdl_tdx_get_state(const struct vmdl_tdx *m);
bool vmdl_tdx_lp_initialized(const struct vmdl_tdx *m, unsigned lp);
int vmdl_tdx_set_size_check(struct vmdl_tdx *m, enum vmdl_tdx_size_check c);
enum vmdl_tdx_size_check vmdl_tdx_get_size_check(const struct vmdl_tdx *m);

/* Unload the module (UNLOADED) or load it again fresh (LOADED, no LP
 * initialized), as a platform reset or module (re)load does. */
void vmdl_tdx_unload(struct vmdl_tdx *m);
void vmdl_tdx_load(struct vmdl_tdx *m);

/*
 * Execute SEAMCALL on logical processor lp with the registers in regs;
 * outputs are written back into regs as the module ABI defines:
 *   TDH.SYS.INIT     RCX = 0 (attributes, reserved)
 *   TDH.SYS.LP.INIT  RCX, RDX, R8 cleared
 *   TDH.SYS.RD       in RDX = field ID (all ones: "first field");
 *                    out RDX = next readable field ID (all ones at the end
 *                    or on error), R8 = the element's value (0 on error)
 *   TDH.SYS.RDALL    in RDX = guest-physical address of a 4 KiB-aligned
 *                    page, R8 = first field ID (all ones: from the start);
 *                    the page receives a metadata list (8-byte list header
 *                    {u16 list_buff_size, u16 num_sequences, u32 0}, then
 *                    sequences: a sequence-header field ID whose
 *                    LAST_ELEMENT_IN_FIELD / LAST_FIELD_IN_SEQUENCE give its
 *                    shape, followed by one u64 per element); out R8 = next
 *                    field ID to ask for when the page was too small
 *                    (status TDX_METADATA_LIST_OVERFLOW), all ones when done.
 *                    Needs guest memory (vmdl_tdx_set_guest_mem), else the
 *                    address is refused as TDX_OPERAND_INVALID|RDX.
 * Returns 0 when the instruction executed (whatever its status), or a
 * negative vmdl_err for a bad call (NULL, lp out of range).
 */
int vmdl_tdx_seamcall(struct vmdl_tdx *m, unsigned lp,
                      struct vmdl_tdx_regs *regs);

/* Guest memory TDH.SYS.RDALL writes its list to (NULL: none).  The
 * structure is copied; what it points to must outlive the module. */
void vmdl_tdx_set_guest_mem(struct vmdl_tdx *m, const struct vmdl_guest_mem *mem);

/* Size of the TDH.SYS.RDALL output page and of its list header. */
#define VMDL_TDX_RDALL_PAGE 4096
#define VMDL_TDX_MD_LIST_HEADER_SIZE 8

/*
 * Walk a metadata list as TDH.SYS.RDALL writes it: call fn for every
 * element (its field ID and value).  Returns 0, or VMDL_EFORMAT when the
 * list is malformed (sizes disagree, sequence past the end).
 */
int vmdl_tdx_md_list_walk(const void *list, size_t len,
                          void (*fn)(void *opaque, uint64_t id, uint64_t value),
                          void *opaque);

/* TDH.SYS.RD through the C API: returns the status (Linux's
 * TDX_SEAMCALL_VMFAILINVALID when no module is loaded, as Linux's SEAMCALL
 * wrapper reports CF=1); *value and *next (either may be NULL) receive R8
 * and RDX. */
uint64_t vmdl_tdx_sys_rd(struct vmdl_tdx *m, unsigned lp, uint64_t field_id,
                         uint64_t *value, uint64_t *next);

/* Bring the module up as Linux does: TDH.SYS.INIT once, then
 * TDH.SYS.LP.INIT on every LP, each call retried while it answers
 * TDX_RND_NO_ENTROPY (at most VMDL_TDX_RND_RETRY_LOOPS calls, Linux's
 * sc_retry).  Returns the first failing status; with no module loaded
 * Linux's TDX_SEAMCALL_VMFAILINVALID. */
uint64_t vmdl_tdx_init_all(struct vmdl_tdx *m);

/* RDRAND_RETRY_LOOPS (Linux asm/archrandom.h): how many times sc_retry
 * issues a SEAMCALL that keeps answering TDX_RND_NO_ENTROPY. */
#define VMDL_TDX_RND_RETRY_LOOPS 10

/* Test hook: the next `count` SEAMCALLs on a loaded module complete with
 * TDX_RND_NO_ENTROPY and no other effect, as when the module's RDRAND /
 * RDSEED run dry.  Transient host-side setting, not part of the state blob
 * (an import clears it). */
void vmdl_tdx_inject_no_entropy(struct vmdl_tdx *m, unsigned count);

/*
 * State blob (magic "TDXM", version 1): life-cycle state, per-LP init bits,
 * size-check mode and the whole metadata store (profile name, per-entry
 * presence/readability, every element), so a blob restores a module built
 * from a custom profile too.  Import refuses a bad blob and leaves m as it
 * was.
 */
int vmdl_tdx_export(const struct vmdl_tdx *m, uint8_t **blob, size_t *len);
int vmdl_tdx_import(struct vmdl_tdx *m, const void *blob, size_t len);

#ifdef __cplusplus
}
#endif
#endif
