/* SPDX-License-Identifier: MIT */
/*
 * The modelled TDX module: life cycle and the SEAMCALL leaves that bring it
 * up and read its global metadata.  Behaviour follows the TDX module ABI and
 * the published module sources (TDH.SYS.RD: default outputs RDX = all ones,
 * R8 = 0; LP-init check first; an all-ones field ID asks for the first
 * field; single-element ID checks; class + field-code lookup; next readable
 * element in table order).
 */
#include <stdlib.h>
#include <string.h>

#include "virtmodel/blob.h"
#include "virtmodel/error.h"
#include "tdx/tdx_internal.h"

const uint16_t vmdl__tdx_elem_base[VMDL_TDX_NR_FIELDS] = {
#define X(name, id, nf, ne, def) \
    (uint16_t)(offsetof(struct tdx_layout, name) / sizeof(uint64_t)),
    VMDL_TDX_FIELD_TABLE(X)
#undef X
};

void vmdl__tdx_store_defaults(struct tdx_store *s)
{
    memset(s, 0, sizeof(*s));
    for (unsigned i = 0; i < VMDL_TDX_NR_FIELDS; i++) {
        s->flags[i] = TDX_F_PRESENT | TDX_F_READABLE;
        uint64_t mask = vmdl_tdx_fid_elem_mask(vmdl_tdx_field(i)->base_id);
        for (unsigned k = 0; k < vmdl_tdx_field_elems(i); k++)
            s->v[vmdl__tdx_elem_base[i] + k] = vmdl_tdx_field(i)->def & mask;
    }
}

const char *vmdl_tdx_status_name(uint64_t status)
{
#define S(x) {VMDL_##x, #x}
    static const struct { uint64_t s; const char *name; } names[] = {
        S(TDX_SUCCESS), S(TDX_OPERAND_INVALID), S(TDX_OPERAND_BUSY),
        S(TDX_SYS_BUSY), S(TDX_RND_NO_ENTROPY), S(TDX_SYS_INIT_NOT_PENDING),
        S(TDX_SYS_LP_INIT_NOT_DONE), S(TDX_SYS_LP_INIT_DONE),
        S(TDX_SYS_LP_INIT_NOT_PENDING),
        S(TDX_METADATA_FIELD_ID_INCORRECT), S(TDX_METADATA_FIELD_NOT_WRITABLE),
        S(TDX_METADATA_FIELD_NOT_READABLE), S(TDX_METADATA_FIELD_VALUE_NOT_VALID),
        S(TDX_METADATA_LIST_OVERFLOW), S(TDX_INVALID_METADATA_LIST_HEADER),
        S(TDX_REQUIRED_METADATA_FIELD_MISSING),
        S(TDX_METADATA_ELEMENT_SIZE_INCORRECT),
        S(TDX_METADATA_LAST_ELEMENT_INCORRECT),
        S(TDX_METADATA_FIELD_CURRENTLY_NOT_WRITABLE),
        S(TDX_METADATA_WR_MASK_NOT_VALID),
        S(TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT), S(TDX_METADATA_FIELD_SKIP),
    };
    /* Linux's software statuses share one class: compare them exactly. */
    static const struct { uint64_t s; const char *name; } sw[] = {
        S(TDX_SEAMCALL_VMFAILINVALID), S(TDX_SEAMCALL_GP), S(TDX_SEAMCALL_UD),
    };
#undef S
    for (unsigned i = 0; i < sizeof(sw) / sizeof(sw[0]); i++)
        if (status == sw[i].s)
            return sw[i].name;
    if ((status & VMDL_TDX_SW_ERROR) == VMDL_TDX_SW_ERROR)
        return "unknown";
    for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (VMDL_TDX_STATUS_CLASS(status) == names[i].s)
            return names[i].name;
    return "unknown";
}

const char *vmdl_tdx_features0_name(unsigned bit)
{
    static const char *const names[64] = {
        [0] = "TD_MIGRATION", [1] = "TD_PRESERVING", [2] = "SERVICE_TD",
        [3] = "TDG_VP_RDWR", [4] = "RELAXED_MEM_MNG_CONCURRENCY",
        [5] = "CPUID_VIRT_GUEST_CTRL", [7] = "TD_PARTITIONING",
        [8] = "LOCAL_ATTESTATION", [9] = "TD_ENTRY_ENHANCEMENTS",
        [10] = "HOST_PRIORITY_LOCKS", [11] = "CONFIG_IA32_ARCH_CAP",
        [16] = "PENDING_EPT_VIOLATION_V2", [17] = "FMS_CONFIG",
        [18] = "NO_RBP_MOD", [19] = "L2_TLB_INVD_OPT", [20] = "TOPOLOGY_ENUM",
        [21] = "PARTITIONED_TD_MIGRATION", [25] = "ICSSD",
        [26] = "FIXED_CTR12_PROF", [27] = "MAXPA_VIRT", [28] = "APX",
        [29] = "CPUID2_VIRT", [36] = "DYNAMIC_PAMT",
    };
    return bit < 64 ? names[bit] : NULL;
}

int vmdl_tdx_create(const struct vmdl_tdx_profile *profile, unsigned nr_lps,
                    struct vmdl_tdx **out)
{
    if (!profile || !out)
        return vmdl_fail(VMDL_EINVAL, "vmdl_tdx_create: NULL argument");
    if (nr_lps < 1 || nr_lps > VMDL_TDX_MAX_LPS)
        return vmdl_fail(VMDL_ERANGE,
                         "vmdl_tdx_create: nr_lps %u not in 1..%u", nr_lps,
                         VMDL_TDX_MAX_LPS);
    struct vmdl_tdx *m = calloc(1, sizeof(*m));
    if (!m)
        return vmdl_fail(VMDL_ENOMEM, "vmdl_tdx_create: out of memory");
    m->s = profile->s;
    m->nr_lps = nr_lps;
    m->state = VMDL_TDX_LOADED;
    *out = m;
    return VMDL_OK;
}

int vmdl_tdx_create_named(const char *name_or_path, unsigned nr_lps,
                          struct vmdl_tdx **out)
{
    struct vmdl_tdx_profile *p;
    int err = vmdl_tdx_profile_open(name_or_path, &p);
    if (err)
        return err;
    err = vmdl_tdx_create(p, nr_lps, out);
    vmdl_tdx_profile_free(p);
    return err;
}

void vmdl_tdx_destroy(struct vmdl_tdx *m)
{
    free(m);
}

const char *vmdl_tdx_profile_of(const struct vmdl_tdx *m) { return m->s.name; }
unsigned vmdl_tdx_nr_lps(const struct vmdl_tdx *m) { return m->nr_lps; }
enum vmdl_tdx_state vmdl_tdx_get_state(const struct vmdl_tdx *m) { return m->state; }

bool vmdl_tdx_lp_initialized(const struct vmdl_tdx *m, unsigned lp)
{
    return lp < m->nr_lps && ((m->lp_init >> lp) & 1);
}

int vmdl_tdx_set_size_check(struct vmdl_tdx *m, enum vmdl_tdx_size_check c)
{
    if (c != VMDL_TDX_SIZE_STRICT && c != VMDL_TDX_SIZE_IGNORE)
        return vmdl_fail(VMDL_EINVAL,
                         "vmdl_tdx_set_size_check: unknown mode %d", (int)c);
    m->s.size_check = (uint8_t)c;
    return VMDL_OK;
}

enum vmdl_tdx_size_check vmdl_tdx_get_size_check(const struct vmdl_tdx *m)
{
    return (enum vmdl_tdx_size_check)m->s.size_check;
}

void vmdl_tdx_unload(struct vmdl_tdx *m)
{
    m->state = VMDL_TDX_UNLOADED;
    m->lp_init = 0;
}

void vmdl_tdx_load(struct vmdl_tdx *m)
{
    m->state = VMDL_TDX_LOADED;
    m->lp_init = 0;
}

void vmdl_tdx_inject_no_entropy(struct vmdl_tdx *m, unsigned count)
{
    m->no_entropy = count;
}

void vmdl_tdx_set_guest_mem(struct vmdl_tdx *m, const struct vmdl_guest_mem *mem)
{
    m->have_mem = mem != NULL;
    if (mem)
        m->mem = *mem;
}

bool vmdl__tdx_readable(const struct vmdl_tdx *m, unsigned f)
{
    return (m->s.flags[f] & (TDX_F_PRESENT | TDX_F_READABLE)) ==
           (TDX_F_PRESENT | TDX_F_READABLE);
}

/* The first readable element at or after (f, elem) in table order. */
static uint64_t next_readable(const struct vmdl_tdx *m, unsigned f,
                              unsigned elem)
{
    for (; f < VMDL_TDX_NR_FIELDS; f++, elem = 0)
        if (vmdl__tdx_readable(m, f) && elem < vmdl_tdx_field_elems(f))
            return vmdl_tdx_field(f)->base_id + elem;
    return VMDL_TDX_FID_NA;
}

/* Find a present entry holding id; -1 when the module has none. */
static int lookup(const struct vmdl_tdx *m, uint64_t id, unsigned *elem)
{
    int f = vmdl_tdx_field_by_id(id, elem);
    if (f < 0 || !(m->s.flags[f] & TDX_F_PRESENT))
        return -1;
    return f;
}

static uint64_t sys_rd(struct vmdl_tdx *m, unsigned lp, uint64_t id,
                       uint64_t *r8, uint64_t *rdx)
{
    *rdx = VMDL_TDX_FID_NA;
    *r8 = 0;
    /* LP-scope init implies TDH.SYS.INIT was done. */
    if (!((m->lp_init >> lp) & 1))
        return VMDL_TDX_SYS_LP_INIT_NOT_DONE;
    if (tdx_is_null_id(id)) {   /* context code bits aside */
        *rdx = next_readable(m, 0, 0);
        return VMDL_TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT;
    }
    if (!vmdl_tdx_fid_is_single_element(id))
        return VMDL_TDX_METADATA_FIELD_ID_INCORRECT;
    /* CONTEXT_CODE is implied (SYS) and not checked, as on the module. */
    unsigned elem = 0;
    int f = lookup(m, id, &elem);
    if (f < 0)
        return VMDL_TDX_METADATA_FIELD_ID_INCORRECT;
    uint64_t base = vmdl_tdx_field(f)->base_id;
    if (m->s.size_check == VMDL_TDX_SIZE_STRICT &&
        vmdl_tdx_fid_elem_size_code(id) != vmdl_tdx_fid_elem_size_code(base))
        return VMDL_TDX_METADATA_FIELD_ID_INCORRECT;
    if (!(m->s.flags[f] & TDX_F_READABLE))
        return VMDL_TDX_METADATA_FIELD_NOT_READABLE;
    *r8 = m->s.v[vmdl__tdx_elem_base[f] + elem] & vmdl_tdx_fid_elem_mask(base);
    *rdx = next_readable(m, (unsigned)f, elem + 1);
    return VMDL_TDX_SUCCESS;
}

int vmdl_tdx_seamcall(struct vmdl_tdx *m, unsigned lp,
                      struct vmdl_tdx_regs *regs)
{
    if (!m || !regs)
        return vmdl_fail(VMDL_EINVAL, "vmdl_tdx_seamcall: NULL argument");
    if (lp >= m->nr_lps)
        return vmdl_fail(VMDL_ERANGE,
                         "vmdl_tdx_seamcall: lp %u but the module has %u LPs",
                         lp, m->nr_lps);
    regs->cf = false;
    if (m->state == VMDL_TDX_UNLOADED) {
        /* No SEAM module: VMfailInvalid, registers untouched. */
        regs->cf = true;
        return VMDL_OK;
    }
    if (m->no_entropy) {
        /* The module found its entropy source dry: nothing else happens. */
        m->no_entropy--;
        regs->rax = VMDL_TDX_RND_NO_ENTROPY;
        return VMDL_OK;
    }
    uint64_t leaf = regs->rax & 0xFFFF;
    if (regs->rax >> 16) {
        /* Only version 0 of these leaves exists; bits 63:24 reserved. */
        regs->rax = VMDL_TDX_OPERAND_INVALID | VMDL_TDX_OPERAND_RAX;
        return VMDL_OK;
    }
    switch (leaf) {
    case VMDL_TDH_SYS_INIT:
        if (regs->rcx)
            regs->rax = VMDL_TDX_OPERAND_INVALID | VMDL_TDX_OPERAND_RCX;
        else if (m->state != VMDL_TDX_LOADED)
            regs->rax = VMDL_TDX_SYS_INIT_NOT_PENDING;
        else {
            m->state = VMDL_TDX_SYSINIT_DONE;
            regs->rax = VMDL_TDX_SUCCESS;
        }
        break;
    case VMDL_TDH_SYS_LP_INIT:
        regs->rcx = regs->rdx = regs->r8 = 0;
        if (m->state != VMDL_TDX_SYSINIT_DONE)
            regs->rax = VMDL_TDX_SYS_LP_INIT_NOT_PENDING;
        else if ((m->lp_init >> lp) & 1)
            regs->rax = VMDL_TDX_SYS_LP_INIT_DONE;
        else {
            m->lp_init |= UINT64_C(1) << lp;
            regs->rax = VMDL_TDX_SUCCESS;
        }
        break;
    case VMDL_TDH_SYS_RD:
        regs->rax = sys_rd(m, lp, regs->rdx, &regs->r8, &regs->rdx);
        break;
    case VMDL_TDH_SYS_RDALL:
        regs->rax = vmdl__tdx_sys_rdall(m, lp, regs->rdx, &regs->r8);
        break;
    default:
        /* Leaves outside this model (TDH.SYS.CONFIG, TDH.MNG.*, ...). */
        regs->rax = VMDL_TDX_OPERAND_INVALID | VMDL_TDX_OPERAND_RAX;
        break;
    }
    return VMDL_OK;
}

uint64_t vmdl_tdx_sys_rd(struct vmdl_tdx *m, unsigned lp, uint64_t field_id,
                         uint64_t *value, uint64_t *next)
{
    struct vmdl_tdx_regs r = {.rax = VMDL_TDH_SYS_RD, .rdx = field_id};
    if (vmdl_tdx_seamcall(m, lp, &r))
        return VMDL_TDX_OPERAND_INVALID;
    if (r.cf)
        r.rax = VMDL_TDX_SEAMCALL_VMFAILINVALID;
    if (value)
        *value = r.r8;
    if (next)
        *next = r.rdx;
    return r.rax;
}

/* One SEAMCALL as Linux's sc_retry issues it: again while the module has
 * no entropy, at most RDRAND_RETRY_LOOPS times; CF=1 becomes Linux's
 * TDX_SEAMCALL_VMFAILINVALID. */
static uint64_t sc_retry(struct vmdl_tdx *m, unsigned lp, uint64_t leaf)
{
    uint64_t status;
    unsigned calls = 0;
    do {
        struct vmdl_tdx_regs r = {.rax = leaf};
        vmdl_tdx_seamcall(m, lp, &r);
        status = r.cf ? VMDL_TDX_SEAMCALL_VMFAILINVALID : r.rax;
    } while (status == VMDL_TDX_RND_NO_ENTROPY && ++calls < VMDL_TDX_RND_RETRY_LOOPS);
    return status;
}

uint64_t vmdl_tdx_init_all(struct vmdl_tdx *m)
{
    uint64_t status = sc_retry(m, 0, VMDL_TDH_SYS_INIT);
    if (status)
        return status;
    for (unsigned lp = 0; lp < m->nr_lps; lp++) {
        status = sc_retry(m, lp, VMDL_TDH_SYS_LP_INIT);
        if (status)
            return status;
    }
    return VMDL_TDX_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* State blob                                                         */

#define TDX_BLOB_MAGIC VMDL_BLOB_MAGIC('T', 'D', 'X', 'M')
#define TDX_BLOB_VERSION 1

int vmdl_tdx_export(const struct vmdl_tdx *m, uint8_t **blob, size_t *len)
{
    if (!m || !blob || !len)
        return vmdl_fail(VMDL_EINVAL, "vmdl_tdx_export: NULL argument");
    struct vmdl_blob_writer w;
    vmdl_blob_begin(&w, TDX_BLOB_MAGIC, TDX_BLOB_VERSION);
    vmdl_blob_put_u8(&w, (uint8_t)m->state);
    vmdl_blob_put_u8(&w, m->s.size_check);
    vmdl_blob_put_u16(&w, (uint16_t)m->nr_lps);
    vmdl_blob_put_u64(&w, m->lp_init);
    vmdl_blob_put_bytes(&w, m->s.name, sizeof(m->s.name));
    vmdl_blob_put_u16(&w, VMDL_TDX_NR_FIELDS);
    for (unsigned f = 0; f < VMDL_TDX_NR_FIELDS; f++) {
        vmdl_blob_put_u64(&w, vmdl_tdx_field(f)->base_id);
        vmdl_blob_put_u8(&w, m->s.flags[f]);
        vmdl_blob_put_u16(&w, (uint16_t)vmdl_tdx_field_elems(f));
        for (unsigned k = 0; k < vmdl_tdx_field_elems(f); k++)
            vmdl_blob_put_u64(&w, m->s.v[vmdl__tdx_elem_base[f] + k]);
    }
    return vmdl_blob_finish(&w, blob, len);
}

int vmdl_tdx_import(struct vmdl_tdx *m, const void *blob, size_t len)
{
    if (!m)
        return vmdl_fail(VMDL_EINVAL, "vmdl_tdx_import: NULL module");
    struct vmdl_blob_reader r;
    int err = vmdl_blob_open(&r, blob, len, TDX_BLOB_MAGIC, TDX_BLOB_VERSION,
                             "tdx module state");
    if (err)
        return err;
    struct vmdl_tdx t = {0};
    t.state = vmdl_blob_get_u8(&r);
    t.s.size_check = vmdl_blob_get_u8(&r);
    t.nr_lps = vmdl_blob_get_u16(&r);
    t.lp_init = vmdl_blob_get_u64(&r);
    vmdl_blob_get_bytes(&r, t.s.name, sizeof(t.s.name));
    if (vmdl_blob_get_u16(&r) != VMDL_TDX_NR_FIELDS)
        vmdl_blob_reject(&r, "field table size differs from this build");
    for (unsigned f = 0; f < VMDL_TDX_NR_FIELDS && !r.err; f++) {
        uint64_t mask = vmdl_tdx_fid_elem_mask(vmdl_tdx_field(f)->base_id);
        if (vmdl_blob_get_u64(&r) != vmdl_tdx_field(f)->base_id)
            vmdl_blob_reject(&r, "field table differs from this build");
        t.s.flags[f] = vmdl_blob_get_u8(&r);
        if (t.s.flags[f] & ~(TDX_F_PRESENT | TDX_F_READABLE))
            vmdl_blob_reject(&r, "unknown field flags");
        if (vmdl_blob_get_u16(&r) != vmdl_tdx_field_elems(f))
            vmdl_blob_reject(&r, "field element count differs");
        for (unsigned k = 0; k < vmdl_tdx_field_elems(f); k++) {
            uint64_t v = vmdl_blob_get_u64(&r);
            if (v & ~mask)
                vmdl_blob_reject(&r, "element value wider than its field");
            t.s.v[vmdl__tdx_elem_base[f] + k] = v;
        }
    }
    if (t.state > VMDL_TDX_SYSINIT_DONE)
        vmdl_blob_reject(&r, "unknown module state");
    if (t.s.size_check > VMDL_TDX_SIZE_IGNORE)
        vmdl_blob_reject(&r, "unknown size-check mode");
    if (t.nr_lps != m->nr_lps)
        vmdl_blob_reject(&r, "number of LPs differs from this module");
    if (t.nr_lps < 64 && (t.lp_init >> t.nr_lps))
        vmdl_blob_reject(&r, "LP init bits beyond the number of LPs");
    if (t.lp_init && t.state != VMDL_TDX_SYSINIT_DONE)
        vmdl_blob_reject(&r, "LPs initialized before TDH.SYS.INIT");
    if (memchr(t.s.name, 0, sizeof(t.s.name)) == NULL)
        vmdl_blob_reject(&r, "profile name not terminated");
    err = vmdl_blob_close(&r);
    if (err)
        return err;
    /* The guest-memory binding is the host's, not part of the state. */
    t.mem = m->mem;
    t.have_mem = m->have_mem;
    *m = t;
    return VMDL_OK;
}
