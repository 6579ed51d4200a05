/* SPDX-License-Identifier: MIT */
/*
 * A host-kernel-like reader of the TDX module's global metadata, following
 * Linux (arch/x86/virt/vmx/tdx/tdx_global_metadata.c and tdx.c): it fills
 * the structures below field by field through TDH.SYS.RD, in Linux's order,
 * and formats the version line Linux prints during TDX init.
 *
 * The reader talks to the module only through a read callback, so it works
 * over the C API (vmdl_tdx_rd_module) or over anything else that can issue
 * TDH.SYS.RD (a recorded trace, a remote machine...).
 *
 * Field kinds:
 *   mandatory    any failure stops the read with the module's status
 *   conditional  read only when a TDX_FEATURES0 bit says the module has it
 *                (Linux: handoff MODULE_HV needs TD_PRESERVING, Dynamic PAMT
 *                PAMT_PAGE_BITMAP_ENTRY_BITS needs DYNAMIC_PAMT); a failure
 *                then is fatal, as in Linux
 *   optional     extras Linux does not read (build number and date): a
 *                TDX_METADATA_FIELD_ID_INCORRECT answer just marks them
 *                missing
 *
 * Each read is issued as Linux's read_sys_metadata_field issues it
 * (seamcall_prerr_ret): repeated while the module answers
 * TDX_RND_NO_ENTROPY, up to RDRAND_RETRY_LOOPS calls (sc_retry), and a
 * failure is turned into the errno Linux returns (sc_retry_prerr) with the
 * line Linux prints.
 */
#ifndef VIRTMODEL_TDX_READER_H
#define VIRTMODEL_TDX_READER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct vmdl_tdx;

/* Issue TDH.SYS.RD for field_id: return the TDX status, *value = R8. */
typedef uint64_t (*vmdl_tdx_rd_fn)(void *opaque, uint64_t field_id,
                                   uint64_t *value);

#define VMDL_TDX_MAX_CPUID_CONFIG 128

struct vmdl_tdx_sys_info_version {
    uint16_t minor_version;
    uint16_t major_version;
    uint16_t update_version;
};

struct vmdl_tdx_sys_info_features {
    uint64_t tdx_features0;
};

struct vmdl_tdx_sys_info_tdmr {
    uint16_t max_tdmrs;
    uint16_t max_reserved_per_tdmr;
    uint16_t pamt_4k_entry_size;
    uint16_t pamt_2m_entry_size;
    uint16_t pamt_1g_entry_size;
    /* conditional: Dynamic PAMT.  A 16-bit element (ID 0x9100000100000013);
     * Linux stores it in a u8, here the member has the element's size. */
    uint16_t pamt_page_bitmap_entry_bits;
};

struct vmdl_tdx_sys_info_td_ctrl {
    uint16_t tdr_base_size;
    uint16_t tdcs_base_size;
    uint16_t tdvps_base_size;
};

struct vmdl_tdx_sys_info_td_conf {
    uint64_t attributes_fixed0;
    uint64_t attributes_fixed1;
    uint64_t xfam_fixed0;
    uint64_t xfam_fixed1;
    uint16_t num_cpuid_config;
    uint16_t max_vcpus_per_td;
    uint64_t cpuid_config_leaves[VMDL_TDX_MAX_CPUID_CONFIG];
    uint64_t cpuid_config_values[VMDL_TDX_MAX_CPUID_CONFIG][2];
};

struct vmdl_tdx_sys_info_handoff {
    uint16_t module_hv;                    /* conditional: TD_PRESERVING */
};

struct vmdl_tdx_sys_info_build {
    uint16_t build_num;                    /* optional */
    uint32_t build_date;                   /* optional, yyyymmdd */
};

/* Which conditional/optional parts were read (bits). */
#define VMDL_TDX_HAVE_HANDOFF     (1u << 0)
#define VMDL_TDX_HAVE_DPAMT_BITS  (1u << 1)
#define VMDL_TDX_HAVE_BUILD_NUM   (1u << 2)
#define VMDL_TDX_HAVE_BUILD_DATE  (1u << 3)

struct vmdl_tdx_sys_info {
    struct vmdl_tdx_sys_info_version version;
    struct vmdl_tdx_sys_info_features features;
    struct vmdl_tdx_sys_info_tdmr tdmr;
    struct vmdl_tdx_sys_info_td_ctrl td_ctrl;
    struct vmdl_tdx_sys_info_td_conf td_conf;
    struct vmdl_tdx_sys_info_handoff handoff;
    struct vmdl_tdx_sys_info_build build;
    unsigned have;                          /* VMDL_TDX_HAVE_* */
};

/* Linux's errno values (include/uapi/asm-generic/errno-base.h, errno.h). */
enum vmdl_linux_errno {
    VMDL_LINUX_EIO = 5,
    VMDL_LINUX_EACCES = 13,
    VMDL_LINUX_ENODEV = 19,
    VMDL_LINUX_EINVAL = 22,
    VMDL_LINUX_EOPNOTSUPP = 95,
};

/*
 * The errno Linux's sc_retry_prerr (arch/x86/virt/vmx/tdx/tdx.c; in newer
 * trees seamcall_internal.h) makes of a
 * SEAMCALL's final status: 0 for TDX_SUCCESS, -ENODEV for
 * TDX_SEAMCALL_VMFAILINVALID (no module), -EOPNOTSUPP for TDX_SEAMCALL_GP,
 * -EACCES for TDX_SEAMCALL_UD, -EIO for anything else (the module's error;
 * the only case Linux prints).
 */
int vmdl_tdx_seamcall_errno(uint64_t status);

/*
 * What Linux prints for a failed SEAMCALL (seamcall_err, and with regs the
 * two register lines of seamcall_err_ret), "virt/tdx: " prefixed, lines
 * separated by '\n', no trailing newline.  regs: the registers after the
 * call, or NULL for the first line only.  Returns the length, or a negative
 * vmdl_err when buf is too small.
 */
struct vmdl_tdx_regs;
int vmdl_tdx_format_seamcall_err(uint64_t fn, uint64_t status,
                                 const struct vmdl_tdx_regs *regs, char *buf,
                                 size_t len);

/* What went wrong (or how far it got). */
struct vmdl_tdx_read_result {
    uint64_t status;         /* status of the failing read, 0 when none */
    uint64_t field_id;       /* ID of the failing read */
    const char *field_name;  /* its name in the field table */
    unsigned nr_reads;       /* TDH.SYS.RD calls made, retries included */
    int version_ok;          /* the three version fields were read */
    /* What Linux's get_tdx_sys_info() returns: 0, the sc_retry_prerr errno
     * of the failing read, or -EINVAL for too many CPUID configurations. */
    int linux_err;
    /* For -EIO, the first line Linux prints ("virt/tdx: SEAMCALL
     * (0x0000000000000022) failed: 0x..."); empty otherwise.  The register
     * lines need the registers, which the read callback does not carry. */
    char message[80];
};

/*
 * Fill *info (zeroed first).  Returns 0, or VMDL_EIO when a mandatory or
 * conditional field read failed (result->status is the module's status,
 * result->field_name the field), or VMDL_ERANGE when the module reports
 * more CPUID configurations than the structure holds (Linux: -EINVAL).
 * result may be NULL.  The version is valid when result->version_ok, even
 * on failure later: Linux prints the version line before the other reads.
 */
int vmdl_tdx_read_sys_info(vmdl_tdx_rd_fn rd, void *opaque,
                           struct vmdl_tdx_sys_info *info,
                           struct vmdl_tdx_read_result *result);

/* "virt/tdx: Module version: 1.5.08" exactly as Linux prints it (no
 * newline).  Returns the length, or a negative vmdl_err when buf is too
 * small. */
int vmdl_tdx_format_version(const struct vmdl_tdx_sys_info_version *v,
                            char *buf, size_t len);

/*
 * Linux's check_features(): the module must have NO_RBP_MOD.  Returns 0 or
 * VMDL_ENOTSUP with the message Linux prints ("frame pointer (RBP) clobber
 * bug present, upgrade TDX module").
 */
int vmdl_tdx_check_features(const struct vmdl_tdx_sys_info *info);

/* Read callback over the C API: opaque is a struct vmdl_tdx_rd_ctx. */
struct vmdl_tdx_rd_ctx {
    struct vmdl_tdx *module;
    unsigned lp;
};
uint64_t vmdl_tdx_rd_module(void *opaque, uint64_t field_id, uint64_t *value);

#ifdef __cplusplus
}
#endif
#endif
