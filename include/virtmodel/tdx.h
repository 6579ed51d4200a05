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
#define VMDL_TDX_METADATA_FIELD_ID_INCORRECT    UINT64_C(0xC0000C0000000000)
#define VMDL_TDX_METADATA_FIELD_NOT_READABLE    UINT64_C(0xC0000C0200000000)
#define VMDL_TDX_METADATA_LIST_OVERFLOW         UINT64_C(0xC0000C0400000000)
#define VMDL_TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT UINT64_C(0x00000C0B00000000)
/* Operand IDs ORed into bits 31:0 of an operand error. */
#define VMDL_TDX_OPERAND_RAX 0
#define VMDL_TDX_OPERAND_RCX 1
#define VMDL_TDX_OPERAND_RDX 2
/* Bit 63 of a status: an error (not a warning/information status). */
#define VMDL_TDX_STATUS_ERROR UINT64_C(0x8000000000000000)
/* Class of a status (bits 63:32), what callers usually compare. */
#define VMDL_TDX_STATUS_CLASS(s) ((s) & UINT64_C(0xFFFFFFFF00000000))

/* Name of a status ("TDX_SUCCESS", ...) compared by class; "unknown". */
const char *vmdl_tdx_status_name(uint64_t status);

/* Bits of TDX_FEATURES0 the reader cares about (Linux asm/tdx.h). */
#define VMDL_TDX_FEATURES0_TD_PRESERVING (UINT64_C(1) << 1)
#define VMDL_TDX_FEATURES0_NO_RBP_MOD    (UINT64_C(1) << 18)
#define VMDL_TDX_FEATURES0_DYNAMIC_PAMT  (UINT64_C(1) << 36)

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

/* TDH.SYS.RD through the C API: returns the status; *value and *next
 * (either may be NULL) receive R8 and RDX. */
uint64_t vmdl_tdx_sys_rd(struct vmdl_tdx *m, unsigned lp, uint64_t field_id,
                         uint64_t *value, uint64_t *next);

/* Bring the module up as Linux does: TDH.SYS.INIT once, then
 * TDH.SYS.LP.INIT on every LP.  Returns the first failing status. */
uint64_t vmdl_tdx_init_all(struct vmdl_tdx *m);

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
