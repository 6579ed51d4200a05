/* SPDX-License-Identifier: MIT */
/*
 * fuzz_tdx: SEAMCALL sequences (TDH.SYS.INIT, TDH.SYS.LP.INIT, TDH.SYS.RD,
 * TDH.SYS.RDALL and unknown leaves, with leaf versions) with field IDs from
 * the field table (any element size code, sequence bits, context) and
 * random ones, module unload/load, the element-size rule, and state
 * export/import, on a module built from a built-in profile or from profile
 * text taken from the input (which fuzzes the profile parser too).
 *
 * Invariants checked after every step:
 *  - an unloaded module answers every SEAMCALL with VMfailInvalid (CF) and
 *    leaves the registers untouched;
 *  - every status is one the model names (vmdl_tdx_status_name), errors
 *    have bit 63 set;
 *  - TDH.SYS.RD succeeds only on an initialized LP, for a present and
 *    readable field, and then returns the profile's value masked to the
 *    field's element size; on failure R8 = 0;
 *  - the next-field chain from "first field" visits every readable element
 *    of the profile exactly once, in table order, and ends (no cycles);
 *  - TDH.SYS.RDALL writes a well-formed list whose every element reads the
 *    same through TDH.SYS.RD;
 *  - export -> import -> export reproduces the blob, a truncated blob is
 *    refused and changes nothing;
 *  - while TDX_RND_NO_ENTROPY answers are injected, every SEAMCALL gets one
 *    and nothing else changes (registers, module state, LP init bits).
 */
#include "fuzz_util.h"

#include "virtmodel/error.h"
#include "virtmodel/tdx.h"

#define NLPS 4

struct run {
    struct vmdl_tdx *m;
    struct vmdl_tdx_profile *p;
    uint8_t page[2 * VMDL_TDX_RDALL_PAGE];
    struct vmdl_flat_mem flat;
    struct vmdl_guest_mem gm;
    unsigned rdall_lp;
    /* Bumped when what a reader of the module can see changes: its state,
     * which LPs are initialized, the size rule.  The whole-module checks
     * (chain walk, round trip) cost hundreds of reads each; repeated on a
     * module in the same state they find nothing new, so they are skipped
     * (every single RD and RDALL is still checked against the profile). */
    unsigned gen;
    unsigned sig;
    bool ignore_size;
    unsigned walked_gen[NLPS + 1];
    unsigned roundtrip_gen;
};

static bool profile_readable(const struct run *r, unsigned f)
{
    return vmdl_tdx_profile_present(r->p, f) == 1 &&
           vmdl_tdx_profile_readable(r->p, f) == 1;
}

static void check_status(uint64_t s)
{
    FZ_CHECK(strcmp(vmdl_tdx_status_name(s), "unknown") != 0,
             "status 0x%016llx has no name", (unsigned long long)s);
    if (s != VMDL_TDX_SUCCESS &&
        VMDL_TDX_STATUS_CLASS(s) != VMDL_TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT)
        FZ_CHECK(s & VMDL_TDX_STATUS_ERROR, "error status 0x%016llx without bit 63",
                 (unsigned long long)s);
}

/* Check one TDH.SYS.RD answer against the profile. */
static void check_rd(struct run *r, unsigned lp, uint64_t id, uint64_t status,
                     uint64_t r8, uint64_t next)
{
    check_status(status);
    if (status != VMDL_TDX_SUCCESS) {
        FZ_CHECK(r8 == 0, "failed TDH.SYS.RD left R8 0x%llx", (unsigned long long)r8);
        return;
    }
    FZ_CHECK(vmdl_tdx_get_state(r->m) == VMDL_TDX_SYSINIT_DONE &&
                 vmdl_tdx_lp_initialized(r->m, lp), "RD before init succeeded");
    unsigned elem = 0;
    int f = vmdl_tdx_field_by_id(id, &elem);
    FZ_CHECK(f >= 0, "RD of unknown ID 0x%016llx succeeded", (unsigned long long)id);
    FZ_CHECK(profile_readable(r, (unsigned)f), "RD of %s succeeded but the profile "
             "has it absent or unreadable", vmdl_tdx_field((unsigned)f)->name);
    uint64_t want = 0;
    FZ_CHECK(vmdl_tdx_profile_get(r->p, (unsigned)f, elem, &want) == 0, "profile_get");
    want &= vmdl_tdx_fid_elem_mask(vmdl_tdx_field((unsigned)f)->base_id);
    FZ_CHECK(r8 == want, "RD %s[%u] = 0x%llx, profile says 0x%llx",
             vmdl_tdx_field((unsigned)f)->name, elem, (unsigned long long)r8,
             (unsigned long long)want);
    if (vmdl_tdx_get_size_check(r->m) == VMDL_TDX_SIZE_STRICT)
        FZ_CHECK(vmdl_tdx_fid_elem_size_code(id) ==
                     vmdl_tdx_fid_elem_size_code(vmdl_tdx_field((unsigned)f)->base_id),
                 "strict size check let a wrong size code through");
    if (next != VMDL_TDX_FID_NA)
        FZ_CHECK(vmdl_tdx_field_by_id(next, NULL) >= 0, "next ID 0x%016llx unknown",
                 (unsigned long long)next);
}

static void note_changes(struct run *r)
{
    unsigned sig = (unsigned)vmdl_tdx_get_state(r->m) | (unsigned)r->ignore_size << 4;
    for (unsigned lp = 0; lp < NLPS; lp++)
        sig |= (unsigned)vmdl_tdx_lp_initialized(r->m, lp) << (8 + lp);
    if (sig != r->sig) {
        r->sig = sig;
        r->gen++;
    }
}

/* Walk the whole chain from "first field": every readable element once. */
static void walk_chain(struct run *r, unsigned lp)
{
    if (r->walked_gen[lp] == r->gen)
        return;
    r->walked_gen[lp] = r->gen;
    if (vmdl_tdx_get_state(r->m) != VMDL_TDX_SYSINIT_DONE ||
        !vmdl_tdx_lp_initialized(r->m, lp))
        return;
    unsigned expect = 0;
    for (unsigned f = 0; f < VMDL_TDX_NR_FIELDS; f++)
        if (profile_readable(r, f))
            expect += vmdl_tdx_field_elems(f);
    uint64_t v, next;
    uint64_t s = vmdl_tdx_sys_rd(r->m, lp, VMDL_TDX_FID_NA, &v, &next);
    FZ_CHECK(VMDL_TDX_STATUS_CLASS(s) == VMDL_TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT,
             "first-field status 0x%016llx", (unsigned long long)s);
    unsigned n = 0;
    int last_f = -1;
    unsigned last_e = 0;
    while (next != VMDL_TDX_FID_NA) {
        FZ_CHECK(n <= expect, "next-field chain longer than the %u readable "
                 "elements (cycle?)", expect);
        uint64_t id = next;
        s = vmdl_tdx_sys_rd(r->m, lp, id, &v, &next);
        FZ_CHECK(s == VMDL_TDX_SUCCESS, "chain ID 0x%016llx reads 0x%016llx",
                 (unsigned long long)id, (unsigned long long)s);
        check_rd(r, lp, id, s, v, next);
        unsigned e;
        int f = vmdl_tdx_field_by_id(id, &e);
        FZ_CHECK(f > last_f || (f == last_f && e > last_e) || last_f < 0,
                 "chain goes backwards at 0x%016llx", (unsigned long long)id);
        last_f = f;
        last_e = e;
        n++;
    }
    FZ_CHECK(n == expect, "chain visited %u of %u readable elements", n, expect);
}

static void rdall_elem(void *opaque, uint64_t id, uint64_t value)
{
    struct run *r = opaque;
    uint64_t v, next;
    uint64_t s = vmdl_tdx_sys_rd(r->m, r->rdall_lp, id, &v, &next);
    FZ_CHECK(s == VMDL_TDX_SUCCESS && v == value, "RDALL element 0x%016llx = 0x%llx, "
             "TDH.SYS.RD says 0x%llx (status 0x%016llx)", (unsigned long long)id,
             (unsigned long long)value, (unsigned long long)v, (unsigned long long)s);
}

static uint64_t pick_id(struct fz *f)
{
    unsigned k = fz_u8(f);
    if (k < 32)
        return fz_u64(f);
    if (k < 40)
        return VMDL_TDX_FID_NA ^ (fz_bool(f) ? UINT64_C(7) << VMDL_TDX_FID_CONTEXT_SHIFT : 0);
    unsigned idx = fz_u8(f) % VMDL_TDX_NR_FIELDS;
    unsigned elems = vmdl_tdx_field_elems(idx);
    uint64_t id = vmdl_tdx_field_elem_id(idx, fz_u8(f) % (elems + 1));
    if (k >= 200) {
        /* Perturb: size code, sequence bits, context, non-arch, reserved. */
        switch (fz_u8(f) & 7) {
        case 0: id ^= (uint64_t)(fz_u8(f) & 3) << VMDL_TDX_FID_ELEM_SIZE_SHIFT; break;
        case 1: id |= (uint64_t)(fz_u8(f) & 15) << VMDL_TDX_FID_LAST_ELEM_SHIFT; break;
        case 2: id ^= (uint64_t)(fz_u8(f) & 7) << VMDL_TDX_FID_CONTEXT_SHIFT; break;
        case 3: id ^= UINT64_C(1) << VMDL_TDX_FID_NON_ARCH_BIT; break;
        case 4: id |= UINT64_C(1) << VMDL_TDX_FID_INC_SIZE_BIT; break;
        default: id ^= UINT64_C(1) << (fz_u8(f) & 63); break;
        }
    }
    return id;
}

static void do_seamcall(struct run *r, struct fz *f)
{
    static const uint64_t leaves[] = {VMDL_TDH_SYS_INIT, VMDL_TDH_SYS_LP_INIT,
                                      VMDL_TDH_SYS_RD, VMDL_TDH_SYS_RD,
                                      VMDL_TDH_SYS_RD, VMDL_TDH_SYS_RDALL};
    unsigned k = fz_u8(f);
    struct vmdl_tdx_regs regs = {0};
    regs.rax = k < 240 ? leaves[k % 6] : fz_u64(f);
    if (k >= 224 && k < 240)
        regs.rax |= (uint64_t)fz_u8(f) << 16;
    unsigned lp = fz_u8(f) % (NLPS + 1);
    if (regs.rax == VMDL_TDH_SYS_RDALL)
        regs.rdx = fz_bool(f) ? 0x1000 + (fz_u16(f) & 0x1fff) : 0x1000;
    else
        regs.rdx = pick_id(f);
    regs.rcx = fz_u8(f) < 240 ? 0 : fz_u64(f);
    regs.r8 = regs.rax == VMDL_TDH_SYS_RDALL ? pick_id(f) : fz_u64(f);
    struct vmdl_tdx_regs in = regs;
    enum vmdl_tdx_state st = vmdl_tdx_get_state(r->m);
    bool lp_ok = lp < NLPS && vmdl_tdx_lp_initialized(r->m, lp);
    if (in.rax == VMDL_TDH_SYS_RDALL)
        memset(r->page, 0xAA, sizeof(r->page));   /* so stale bytes never pass */
    int e = vmdl_tdx_seamcall(r->m, lp, &regs);
    FZ_TRACE("seamcall lp %u rax 0x%llx rdx 0x%016llx r8 0x%llx -> %d cf %d rax 0x%016llx "
             "rdx 0x%016llx r8 0x%llx\n", lp, (unsigned long long)in.rax,
             (unsigned long long)in.rdx, (unsigned long long)in.r8, e, regs.cf,
             (unsigned long long)regs.rax, (unsigned long long)regs.rdx,
             (unsigned long long)regs.r8);
    if (lp >= NLPS) {
        FZ_CHECK(e == VMDL_ERANGE, "lp %u accepted", lp);
        return;
    }
    FZ_CHECK(e == 0, "seamcall: %s", vmdl_last_error());
    if (st == VMDL_TDX_UNLOADED) {
        struct vmdl_tdx_regs x = in;
        x.cf = true;
        FZ_CHECK(!memcmp(&x, &regs, sizeof(x)), "unloaded module touched registers");
        return;
    }
    FZ_CHECK(!regs.cf, "CF with a module loaded");
    check_status(regs.rax);
    if (in.rax == VMDL_TDH_SYS_RD) {
        check_rd(r, lp, in.rdx, regs.rax, regs.r8, regs.rdx);
        if (regs.rax == VMDL_TDX_SUCCESS)
            FZ_CHECK(lp_ok, "RD on an uninitialized LP");
    } else if (in.rax == VMDL_TDH_SYS_RDALL &&
               (regs.rax == VMDL_TDX_SUCCESS ||
                regs.rax == VMDL_TDX_METADATA_LIST_OVERFLOW)) {
        FZ_CHECK(lp_ok, "RDALL on an uninitialized LP");
        uint64_t off = in.rdx - r->flat.base;
        r->rdall_lp = lp;
        FZ_CHECK(!(in.rdx & 0xfff) && off + VMDL_TDX_RDALL_PAGE <= sizeof(r->page),
                 "RDALL wrote to 0x%llx", (unsigned long long)in.rdx);
        FZ_CHECK(vmdl_tdx_md_list_walk(r->page + off, VMDL_TDX_RDALL_PAGE,
                                       rdall_elem, r) == 0,
                 "RDALL list malformed: %s", vmdl_last_error());
    }
}

static void do_roundtrip(struct run *r)
{
    if (r->roundtrip_gen == r->gen)
        return;
    r->roundtrip_gen = r->gen;
    uint8_t *x = NULL, *y = NULL;
    size_t nx = 0, ny = 0;
    FZ_CHECK(vmdl_tdx_export(r->m, &x, &nx) == 0, "export: %s", vmdl_last_error());
    FZ_CHECK(vmdl_tdx_import(r->m, x, nx) == 0, "import own blob: %s", vmdl_last_error());
    FZ_CHECK(vmdl_tdx_export(r->m, &y, &ny) == 0, "export 2");
    FZ_CHECK(nx == ny && !memcmp(x, y, nx), "export/import/export differs");
    free(y);
    FZ_CHECK(vmdl_tdx_import(r->m, x, nx - 1) != 0, "truncated blob accepted");
    FZ_CHECK(vmdl_tdx_export(r->m, &y, &ny) == 0, "export 3");
    FZ_CHECK(nx == ny && !memcmp(x, y, nx), "refused import changed the module");
    free(x);
    free(y);
}

/* The module's entropy runs dry for n SEAMCALLs: each answers
 * TDX_RND_NO_ENTROPY and has no other effect. */
static void do_no_entropy(struct run *r, struct fz *f)
{
    if (vmdl_tdx_get_state(r->m) == VMDL_TDX_UNLOADED)
        return;
    unsigned n = 1 + fz_u8(f) % 3;
    enum vmdl_tdx_state st = vmdl_tdx_get_state(r->m);
    uint64_t lps = 0;
    for (unsigned lp = 0; lp < NLPS; lp++)
        lps |= (uint64_t)vmdl_tdx_lp_initialized(r->m, lp) << lp;
    vmdl_tdx_inject_no_entropy(r->m, n);
    for (unsigned i = 0; i < n; i++) {
        static const uint64_t leaves[] = {VMDL_TDH_SYS_INIT, VMDL_TDH_SYS_RD,
                                          VMDL_TDH_SYS_LP_INIT, VMDL_TDH_SYS_RDALL};
        struct vmdl_tdx_regs in = {.rax = leaves[fz_u8(f) % 4], .rcx = fz_u64(f),
                                   .rdx = fz_u64(f), .r8 = fz_u64(f)};
        struct vmdl_tdx_regs out = in;
        FZ_CHECK(vmdl_tdx_seamcall(r->m, fz_u8(f) % NLPS, &out) == 0, "seamcall");
        FZ_CHECK(!out.cf && out.rax == VMDL_TDX_RND_NO_ENTROPY,
                 "injected no-entropy answered 0x%016llx", (unsigned long long)out.rax);
        check_status(out.rax);
        FZ_CHECK(out.rcx == in.rcx && out.rdx == in.rdx && out.r8 == in.r8,
                 "no-entropy answer changed registers");
    }
    uint64_t lps_after = 0;
    for (unsigned lp = 0; lp < NLPS; lp++)
        lps_after |= (uint64_t)vmdl_tdx_lp_initialized(r->m, lp) << lp;
    FZ_CHECK(vmdl_tdx_get_state(r->m) == st && lps_after == lps,
             "no-entropy answers changed the module");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f;
    fz_init(&f, data, size);
    static struct run r;
    memset(&r, 0, sizeof(r));
    r.gen = 1;      /* the whole-module checks have not run yet */
    r.sig = ~0u;
    bool own_profile = true;
    unsigned b0 = fz_u8(&f);
    if (b0 & 0x80) {
        /* Profile text from the input: up to the first NUL byte. */
        size_t len = 0;
        while (f.pos + len < f.n && f.p[f.pos + len] && len < 4096)
            len++;
        int e = vmdl_tdx_profile_parse((const char *)f.p + f.pos, len, "fuzz", &r.p);
        f.pos += len + 1;
        if (e) {
            FZ_CHECK(e == VMDL_EFORMAT || e == VMDL_EINVAL || e == VMDL_ENOENT ||
                         e == VMDL_ERANGE || e == VMDL_EIO,
                     "profile parse error %d", e);
            FZ_CHECK(vmdl_last_error()[0], "parse failure without a message");
            return 0;
        }
    } else {
        /* Built-in profiles are parsed once (the module copies them). */
        static struct vmdl_tdx_profile *builtin[16];
        unsigned i = b0 % vmdl_tdx_builtin_count() % 16;
        if (!builtin[i])
            FZ_CHECK(vmdl_tdx_profile_builtin(vmdl_tdx_builtin_name(i), &builtin[i]) == 0,
                     "builtin");
        r.p = builtin[i];
        own_profile = false;
    }
    FZ_CHECK(vmdl_tdx_create(r.p, NLPS, &r.m) == 0, "create: %s", vmdl_last_error());
    r.flat = (struct vmdl_flat_mem){r.page, 0x1000, sizeof(r.page)};
    vmdl_flat_mem_init(&r.gm, &r.flat);
    if (!(b0 & 0x40))
        vmdl_tdx_set_guest_mem(r.m, &r.gm);
    if (b0 & 0x20) {
        r.ignore_size = true;
        vmdl_tdx_set_size_check(r.m, VMDL_TDX_SIZE_IGNORE);
    }
    if (b0 & 0x10) {
        check_status(vmdl_tdx_init_all(r.m));
        note_changes(&r);
        walk_chain(&r, 0);
    }
    unsigned steps = 0;
    while (fz_more(&f) && steps++ < 1024) {
        switch (fz_u8(&f) % 8) {
        case 0: case 1: case 2: case 3:
            do_seamcall(&r, &f);
            break;
        case 4: {
            unsigned k = fz_u8(&f) % 6;
            FZ_TRACE("lifecycle %u\n", k);
            if (k == 5)
                do_no_entropy(&r, &f);
            else if (k == 0)
                vmdl_tdx_unload(r.m);
            else if (k == 1)
                vmdl_tdx_load(r.m);
            else if (k == 2)
                check_status(vmdl_tdx_init_all(r.m));
            else {
                r.ignore_size = k == 4;
                FZ_CHECK(vmdl_tdx_set_size_check(r.m, r.ignore_size ? VMDL_TDX_SIZE_IGNORE
                                                                    : VMDL_TDX_SIZE_STRICT) == 0,
                         "size check");
            }
            break;
        }
        case 5:
            walk_chain(&r, fz_u8(&f) % NLPS);
            break;
        case 6:
            do_roundtrip(&r);
            break;
        default: {
            char buf[128];
            uint64_t id = pick_id(&f);
            struct vmdl_tdx_fid d;
            vmdl_tdx_fid_decode(id, &d);
            uint64_t back;
            if (!d.reserved) {
                FZ_CHECK(vmdl_tdx_fid_encode(&d, &back) == 0 && back == id,
                         "field ID 0x%016llx does not round-trip", (unsigned long long)id);
            }
            FZ_CHECK(vmdl_tdx_fid_describe(id, buf, sizeof(buf)) >= 0, "describe");
            break;
        }
        }
        note_changes(&r);
    }
    vmdl_tdx_destroy(r.m);
    if (own_profile)
        vmdl_tdx_profile_free(r.p);
    return 0;
}

static void write_seeds(const char *dir)
{
    for (unsigned b = 0; b < vmdl_tdx_builtin_count() && b < 8; b++) {
        struct fz_out o;
        memset(&o, 0, sizeof(o));
        fz_put8(&o, 0x10 | b);
        /* RD of a few table fields on LP 0, the chain, RDALL, round trip */
        for (unsigned i = 0; i < 12; i++) {
            fz_put8(&o, 0); fz_put8(&o, 2); fz_put8(&o, 0);
            fz_put8(&o, 100); fz_put8(&o, i * 3); fz_put8(&o, 0);
            fz_put8(&o, 0); fz_put64(&o, 0);
        }
        fz_put8(&o, 5); fz_put8(&o, 0);
        fz_put8(&o, 0); fz_put8(&o, 5); fz_put8(&o, 0); fz_put8(&o, 0);
        fz_put8(&o, 0); fz_put8(&o, 39);
        fz_put8(&o, 6);
        fz_put8(&o, 4); fz_put8(&o, 0);
        fz_put8(&o, 0); fz_put8(&o, 2); fz_put8(&o, 0); fz_put8(&o, 39);
        fz_put8(&o, 0); fz_put64(&o, 0);
        char name[32];
        snprintf(name, sizeof(name), "builtin%u", b);
        fz_save_out(dir, name, &o);
    }
    /* A custom profile from text, then init and reads. */
    const char *text = "vmdl-tdx-profile 1\nname fuzz\nbase tdx-1.5.08\n"
                       "field MAJOR_VERSION = 7\nunreadable CMR_BASE\n"
                       "absent PAMT_PAGE_BITMAP_ENTRY_BITS\n";
    struct fz_out o;
    memset(&o, 0, sizeof(o));
    fz_put8(&o, 0x90);
    for (const char *c = text; *c; c++)
        fz_put8(&o, (uint8_t)*c);
    fz_put8(&o, 0);
    fz_put8(&o, 5); fz_put8(&o, 0);
    fz_put8(&o, 0); fz_put8(&o, 2); fz_put8(&o, 0); fz_put8(&o, 100); fz_put8(&o, 4);
    fz_put8(&o, 0); fz_put8(&o, 0); fz_put64(&o, 0);
    fz_save_out(dir, "custom", &o);
}

FZ_SEED_WRITER_MAIN()
