/* SPDX-License-Identifier: MIT */
/* The Linux-like global-metadata reader (see include/virtmodel/tdx_reader.h). */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "virtmodel/bits.h"
#include "virtmodel/error.h"
#include "virtmodel/tdx.h"
#include "virtmodel/tdx_reader.h"

enum kind { MANDATORY, COND, OPTIONAL };

/*
 * What the reader reads, in Linux's order: the field (from the one field
 * table), where it lands, its size there, and how a failure counts.
 * Arrays (CPUID configuration) are read by code after NUM_CPUID_CONFIG.
 */
struct rd_item {
    enum vmdl_tdx_field_index field;
    size_t offset;
    unsigned size;
    enum kind kind;
    uint64_t feature;      /* COND: TDX_FEATURES0 bit required */
    unsigned have;         /* COND/OPTIONAL: bit set in info->have */
};

#define M(f, member) \
    {VMDL_TDX_F_##f, offsetof(struct vmdl_tdx_sys_info, member), \
     sizeof(((struct vmdl_tdx_sys_info *)0)->member), MANDATORY, 0, 0}
#define C(f, member, feat, h) \
    {VMDL_TDX_F_##f, offsetof(struct vmdl_tdx_sys_info, member), \
     sizeof(((struct vmdl_tdx_sys_info *)0)->member), COND, feat, h}
#define O(f, member, h) \
    {VMDL_TDX_F_##f, offsetof(struct vmdl_tdx_sys_info, member), \
     sizeof(((struct vmdl_tdx_sys_info *)0)->member), OPTIONAL, 0, h}

static const struct rd_item version_items[] = {
    M(MINOR_VERSION, version.minor_version),
    M(MAJOR_VERSION, version.major_version),
    M(UPDATE_VERSION, version.update_version),
};

static const struct rd_item main_items[] = {
    M(TDX_FEATURES0, features.tdx_features0),
    M(MAX_TDMRS, tdmr.max_tdmrs),
    M(MAX_RESERVED_PER_TDMR, tdmr.max_reserved_per_tdmr),
    M(PAMT_4K_ENTRY_SIZE, tdmr.pamt_4k_entry_size),
    M(PAMT_2M_ENTRY_SIZE, tdmr.pamt_2m_entry_size),
    M(PAMT_1G_ENTRY_SIZE, tdmr.pamt_1g_entry_size),
    C(PAMT_PAGE_BITMAP_ENTRY_BITS, tdmr.pamt_page_bitmap_entry_bits,
      VMDL_TDX_FEATURES0_DYNAMIC_PAMT, VMDL_TDX_HAVE_DPAMT_BITS),
    M(TDR_BASE_SIZE, td_ctrl.tdr_base_size),
    M(TDCS_BASE_SIZE, td_ctrl.tdcs_base_size),
    M(TDVPS_BASE_SIZE, td_ctrl.tdvps_base_size),
    M(ATTRIBUTES_FIXED0, td_conf.attributes_fixed0),
    M(ATTRIBUTES_FIXED1, td_conf.attributes_fixed1),
    M(XFAM_FIXED0, td_conf.xfam_fixed0),
    M(XFAM_FIXED1, td_conf.xfam_fixed1),
    M(NUM_CPUID_CONFIG, td_conf.num_cpuid_config),
    M(MAX_VCPUS_PER_TD, td_conf.max_vcpus_per_td),
};

static const struct rd_item tail_items[] = {
    C(MODULE_HV, handoff.module_hv, VMDL_TDX_FEATURES0_TD_PRESERVING,
      VMDL_TDX_HAVE_HANDOFF),
    O(BUILD_NUM, build.build_num, VMDL_TDX_HAVE_BUILD_NUM),
    O(BUILD_DATE, build.build_date, VMDL_TDX_HAVE_BUILD_DATE),
};

struct rd_state {
    vmdl_tdx_rd_fn rd;
    void *opaque;
    struct vmdl_tdx_sys_info *info;
    struct vmdl_tdx_read_result *res;
};

int vmdl_tdx_seamcall_errno(uint64_t status)
{
    if (status == VMDL_TDX_SUCCESS)
        return 0;
    if (status == VMDL_TDX_SEAMCALL_VMFAILINVALID)
        return -VMDL_LINUX_ENODEV;
    if (status == VMDL_TDX_SEAMCALL_GP)
        return -VMDL_LINUX_EOPNOTSUPP;
    if (status == VMDL_TDX_SEAMCALL_UD)
        return -VMDL_LINUX_EACCES;
    return -VMDL_LINUX_EIO;
}

int vmdl_tdx_format_seamcall_err(uint64_t fn, uint64_t status,
                                 const struct vmdl_tdx_regs *regs, char *buf,
                                 size_t len)
{
    if (!buf)
        return vmdl_fail(VMDL_EINVAL, "vmdl_tdx_format_seamcall_err: NULL buf");
    int n;
    if (regs)
        n = snprintf(buf, len,
                     "virt/tdx: SEAMCALL (0x%016llx) failed: 0x%016llx\n"
                     "virt/tdx: RCX 0x%016llx RDX 0x%016llx R08 0x%016llx\n"
                     "virt/tdx: R09 0x%016llx R10 0x%016llx R11 0x%016llx",
                     (unsigned long long)fn, (unsigned long long)status,
                     (unsigned long long)regs->rcx, (unsigned long long)regs->rdx,
                     (unsigned long long)regs->r8, (unsigned long long)regs->r9,
                     (unsigned long long)regs->r10, (unsigned long long)regs->r11);
    else
        n = snprintf(buf, len, "virt/tdx: SEAMCALL (0x%016llx) failed: 0x%016llx",
                     (unsigned long long)fn, (unsigned long long)status);
    if (n < 0 || (size_t)n >= len)
        return vmdl_fail(VMDL_ERANGE,
                         "vmdl_tdx_format_seamcall_err: buffer of %zu bytes too "
                         "small", len);
    return n;
}

static int fail_read(struct rd_state *st, uint64_t id, unsigned field,
                     uint64_t status)
{
    st->res->status = status;
    st->res->field_id = id;
    st->res->field_name = vmdl_tdx_field(field)->name;
    st->res->linux_err = vmdl_tdx_seamcall_errno(status);
    /* Linux prints only the module's own errors (sc_retry_prerr). */
    if (st->res->linux_err == -VMDL_LINUX_EIO)
        vmdl_tdx_format_seamcall_err(VMDL_TDH_SYS_RD, status, NULL,
                                     st->res->message, sizeof(st->res->message));
    return vmdl_fail(VMDL_EIO,
                     "vmdl_tdx_read_sys_info: TDH.SYS.RD of %s (0x%016llx) "
                     "failed: 0x%016llx (%s)",
                     vmdl_tdx_field(field)->name, (unsigned long long)id,
                     (unsigned long long)status, vmdl_tdx_status_name(status));
}

/* One element into dst (size bytes); *missing for an absent optional. */
static int read_one(struct rd_state *st, unsigned field, unsigned elem,
                    void *dst, unsigned size, enum kind kind, bool *missing)
{
    /* base + index, as Linux computes it: no bounds check against the
     * module's array length (the module answers for that). */
    uint64_t id = vmdl_tdx_field(field)->base_id + elem;
    if (vmdl_tdx_fid_elem_size(id) != size)
        /* Linux refuses this at build time (BUILD_BUG_ON). */
        return vmdl_fail(VMDL_EINVAL,
                         "vmdl_tdx_read_sys_info: %s is %u bytes but its "
                         "structure member %u", vmdl_tdx_field(field)->name,
                         vmdl_tdx_fid_elem_size(id), size);
    uint64_t v = 0, status;
    unsigned calls = 0;
    /* Linux's sc_retry: again while the module has no entropy. */
    do {
        v = 0;
        status = st->rd(st->opaque, id, &v);
        st->res->nr_reads++;
    } while (status == VMDL_TDX_RND_NO_ENTROPY && ++calls < VMDL_TDX_RND_RETRY_LOOPS);
    if (status != VMDL_TDX_SUCCESS) {
        if (kind == OPTIONAL &&
            VMDL_TDX_STATUS_CLASS(status) == VMDL_TDX_METADATA_FIELD_ID_INCORRECT) {
            *missing = true;
            return VMDL_OK;
        }
        return fail_read(st, id, field, status);
    }
    switch (size) {
    case 1: { uint8_t x = (uint8_t)v; memcpy(dst, &x, 1); break; }
    case 2: { uint16_t x = (uint16_t)v; memcpy(dst, &x, 2); break; }
    case 4: { uint32_t x = (uint32_t)v; memcpy(dst, &x, 4); break; }
    default: memcpy(dst, &v, 8); break;
    }
    return VMDL_OK;
}

static int read_items(struct rd_state *st, const struct rd_item *it,
                      unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        if (it[i].kind == COND &&
            !(st->info->features.tdx_features0 & it[i].feature))
            continue;
        bool missing = false;
        int err = read_one(st, it[i].field, 0,
                           (uint8_t *)st->info + it[i].offset, it[i].size,
                           it[i].kind, &missing);
        if (err)
            return err;
        if (!missing)
            st->info->have |= it[i].have;
    }
    return VMDL_OK;
}

int vmdl_tdx_read_sys_info(vmdl_tdx_rd_fn rd, void *opaque,
                           struct vmdl_tdx_sys_info *info,
                           struct vmdl_tdx_read_result *result)
{
    struct vmdl_tdx_read_result dummy;
    if (!rd || !info)
        return vmdl_fail(VMDL_EINVAL, "vmdl_tdx_read_sys_info: NULL argument");
    if (!result)
        result = &dummy;
    memset(info, 0, sizeof(*info));
    memset(result, 0, sizeof(*result));
    struct rd_state st = {rd, opaque, info, result};

    int err = read_items(&st, version_items, VMDL_ARRAY_SIZE(version_items));
    if (err)
        return err;
    result->version_ok = 1;
    err = read_items(&st, main_items, VMDL_ARRAY_SIZE(main_items));
    if (err)
        return err;

    struct vmdl_tdx_sys_info_td_conf *c = &info->td_conf;
    if (c->num_cpuid_config > VMDL_TDX_MAX_CPUID_CONFIG) {
        result->linux_err = -VMDL_LINUX_EINVAL;
        return vmdl_fail(VMDL_ERANGE,
                         "vmdl_tdx_read_sys_info: NUM_CPUID_CONFIG %u exceeds "
                         "%u", c->num_cpuid_config, VMDL_TDX_MAX_CPUID_CONFIG);
    }
    bool missing = false;
    for (unsigned i = 0; i < c->num_cpuid_config; i++) {
        err = read_one(&st, VMDL_TDX_F_CPUID_CONFIG_LEAVES, i,
                       &c->cpuid_config_leaves[i], 8, MANDATORY, &missing);
        if (err)
            return err;
    }
    for (unsigned i = 0; i < c->num_cpuid_config; i++)
        for (unsigned j = 0; j < 2; j++) {
            err = read_one(&st, VMDL_TDX_F_CPUID_CONFIG_VALUES, i * 2 + j,
                           &c->cpuid_config_values[i][j], 8, MANDATORY,
                           &missing);
            if (err)
                return err;
        }
    return read_items(&st, tail_items, VMDL_ARRAY_SIZE(tail_items));
}

int vmdl_tdx_format_version(const struct vmdl_tdx_sys_info_version *v,
                            char *buf, size_t len)
{
    if (!v || !buf)
        return vmdl_fail(VMDL_EINVAL, "vmdl_tdx_format_version: NULL argument");
    int n = snprintf(buf, len, "virt/tdx: Module version: %u.%u.%02u",
                     v->major_version, v->minor_version, v->update_version);
    if (n < 0 || (size_t)n >= len)
        return vmdl_fail(VMDL_ERANGE,
                         "vmdl_tdx_format_version: buffer of %zu bytes too "
                         "small", len);
    return n;
}

int vmdl_tdx_check_features(const struct vmdl_tdx_sys_info *info)
{
    if (!info)
        return vmdl_fail(VMDL_EINVAL, "vmdl_tdx_check_features: NULL info");
    if (!(info->features.tdx_features0 & VMDL_TDX_FEATURES0_NO_RBP_MOD))
        return vmdl_fail(VMDL_ENOTSUP, "frame pointer (RBP) clobber bug "
                                       "present, upgrade TDX module");
    return VMDL_OK;
}

uint64_t vmdl_tdx_rd_module(void *opaque, uint64_t field_id, uint64_t *value)
{
    struct vmdl_tdx_rd_ctx *ctx = opaque;
    return vmdl_tdx_sys_rd(ctx->module, ctx->lp, field_id, value, NULL);
}
