/* SPDX-License-Identifier: MIT */
/*
 * fuzz_ept: the EPT walk (src/vmx/ept.c) over EPT tables made of fuzzed
 * entries in a flat memory of 16 pages, with fuzzed EPTPs, capabilities,
 * MAXPHYADDR and requests.
 *
 * Input: the capability bits (execute-only, 2 MiB, 1 GiB, A/D, advanced
 * information, 5 levels), MAXPHYADDR, the EPTP, then entries to store
 * (page, index, value: mostly a table page of the memory with random
 * permission/memory-type bits, sometimes anything), then requests.
 *
 * Invariants after every walk:
 *  - the walk refuses (VMDL_EINVAL) exactly the EPTPs vmdl_ept_eptp_valid
 *    refuses, and changes nothing then;
 *  - OK: the page size matches the leaf level (4 KiB, 2 MiB, 1 GiB, never
 *    a large page the capability lacks), the offset in the page is kept,
 *    the translation lies below MAXPHYADDR, the accumulated permissions
 *    include the access, the memory type is not 2, 3 or 7;
 *  - VIOLATION: bits 2:0 of the qualification are the access (bits 0 and 1
 *    for a paging-structure access with A/D), bits 5:3 are the result's
 *    permissions and lack the one the access needed, bit 8 only with
 *    bit 7, no bit above 11;
 *  - MISCONFIG: qualification 0;
 *  - memory: only bits 8 and 9 (A, D) of entries change, only for an OK walk
 *    with EPTP bit 6, and only from 0 to 1;
 *  - the same request again gives the same outcome and translation.
 */
#include "fuzz_util.h"

#include "virtmodel/error.h"
#include "virtmodel/guest_mem.h"
#include "virtmodel/vmx_ept.h"

#define PAGES 16u
#define MEM_SIZE (PAGES * 4096u)

static uint8_t mem_buf[MEM_SIZE], before[MEM_SIZE];

static uint64_t shaped_entry(struct fz *f)
{
    if (fz_pick(f, 4) == 0)
        return fz_value(f);
    /* A table or page inside the memory, or a large-page address. */
    uint64_t addr = fz_bool(f) ? (uint64_t)fz_pick(f, PAGES) << 12
                               : (uint64_t)fz_pick(f, 8) << (21 + 9 * fz_pick(f, 2));
    uint64_t low = fz_u16(f) & 0x7FF;     /* R W X, memory type, IPAT, large, A, D, XU */
    return addr | low;
}

static void check_ok(const struct vmdl_ept_config *c, const struct vmdl_ept_request *r,
                     const struct vmdl_ept_result *o)
{
    static const uint64_t size[] = {0, 1ull << 12, 1ull << 21, 1ull << 30};
    FZ_CHECK(o->level >= 1 && o->level <= 3 && o->page_size == size[o->level],
             "leaf level %u size 0x%llx", o->level, (unsigned long long)o->page_size);
    FZ_CHECK(o->level != 2 || (c->cap & VMDL_EPT_CAP_2M), "2 MiB page without the cap");
    FZ_CHECK(o->level != 3 || (c->cap & VMDL_EPT_CAP_1G), "1 GiB page without the cap");
    FZ_CHECK((o->hpa & (o->page_size - 1)) == (r->gpa & (o->page_size - 1)), "offset");
    FZ_CHECK(!(o->hpa >> c->maxphyaddr), "hpa 0x%llx beyond MAXPHYADDR",
             (unsigned long long)o->hpa);
    FZ_CHECK(o->memtype != 2 && o->memtype != 3 && o->memtype != 7, "memtype %u",
             o->memtype);
    unsigned need = r->access == VMDL_EPT_ACC_WRITE ? VMDL_EPT_PERM_W
                    : r->access == VMDL_EPT_ACC_FETCH
                        ? (c->mbec && r->user ? VMDL_EPT_PERM_XU : VMDL_EPT_PERM_X)
                    : (r->paging_structure && (c->eptp & VMDL_EPTP_AD)) ? VMDL_EPT_PERM_W
                                                                        : VMDL_EPT_PERM_R;
    FZ_CHECK(o->perms & need, "perms 0x%x lack 0x%x", o->perms, need);
}

static void check_violation(const struct vmdl_ept_config *c,
                            const struct vmdl_ept_request *r,
                            const struct vmdl_ept_result *o)
{
    uint64_t q = o->qualification;
    /* A paging-structure entry's A/D update (WRITE) reads and writes it;
     * with A/D flags every entry access does. */
    bool entry_rw = r->paging_structure && r->access != VMDL_EPT_ACC_FETCH &&
                    (r->access == VMDL_EPT_ACC_WRITE || (c->eptp & VMDL_EPTP_AD));
    uint64_t acc = r->access == VMDL_EPT_ACC_FETCH ? VMDL_EPT_QUAL_FETCH
                   : entry_rw ? VMDL_EPT_QUAL_READ | VMDL_EPT_QUAL_WRITE
                   : r->access == VMDL_EPT_ACC_WRITE ? VMDL_EPT_QUAL_WRITE
                                                     : VMDL_EPT_QUAL_READ;
    FZ_CHECK((q & 7) == acc, "access bits 0x%llx want 0x%llx", (unsigned long long)q,
             (unsigned long long)acc);
    FZ_CHECK(((q >> 3) & 7) == (o->perms & 7), "permission bits 0x%llx perms 0x%x",
             (unsigned long long)q, o->perms);
    FZ_CHECK(!(q & VMDL_EPT_QUAL_GLA_XLATE) || (q & VMDL_EPT_QUAL_GLA_VALID), "bit 8 w/o 7");
    FZ_CHECK(!(q >> 12), "qualification 0x%llx", (unsigned long long)q);
    uint64_t need = acc == VMDL_EPT_QUAL_FETCH ? VMDL_EPT_QUAL_X
                    : (acc & VMDL_EPT_QUAL_WRITE) ? VMDL_EPT_QUAL_W : VMDL_EPT_QUAL_R;
    if (!(c->mbec && r->user && r->access == VMDL_EPT_ACC_FETCH))
        FZ_CHECK(!(q & need), "violation though the permission 0x%llx is there",
                 (unsigned long long)need);
}

/* Only A (8) and D (9) may go from 0 to 1, and only when allowed. */
static void check_memory(bool may_set)
{
    for (unsigned i = 0; i < MEM_SIZE; i += 8) {
        uint64_t a, b;
        memcpy(&a, before + i, 8);
        memcpy(&b, mem_buf + i, 8);
        if (a == b)
            continue;
        FZ_CHECK(may_set && (a & ~b) == 0 && ((a ^ b) & ~0x300ull) == 0,
                 "entry at 0x%x changed 0x%llx -> 0x%llx", i, (unsigned long long)a,
                 (unsigned long long)b);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f;
    fz_init(&f, data, size);
    memset(mem_buf, 0, sizeof(mem_buf));
    struct vmdl_flat_mem flat = {mem_buf, 0, MEM_SIZE};
    struct vmdl_guest_mem mem;
    vmdl_flat_mem_init(&mem, &flat);
    struct vmdl_ept_config c;
    uint8_t capbits = fz_u8(&f);
    c.cap = (1ull << 6) | (1ull << 8) | (1ull << 14) |
            ((capbits & 1) ? VMDL_EPT_CAP_EXEC_ONLY : 0) |
            ((capbits & 2) ? VMDL_EPT_CAP_2M : 0) | ((capbits & 4) ? VMDL_EPT_CAP_1G : 0) |
            ((capbits & 8) ? VMDL_EPT_CAP_AD : 0) |
            ((capbits & 16) ? VMDL_EPT_CAP_ADV_INFO : 0) | ((capbits & 32) ? 1ull << 7 : 0);
    c.mbec = capbits & 64;
    c.maxphyaddr = 32 + fz_pick(&f, 21);
    c.eptp = fz_bool(&f) ? fz_value(&f)
                         : ((uint64_t)fz_pick(&f, PAGES) << 12) | (fz_u8(&f) & 0x7F);
    unsigned nent = fz_pick(&f, 64);
    for (unsigned i = 0; i < nent; i++) {
        unsigned page = fz_pick(&f, PAGES), slot = fz_u16(&f) & 0x1FF;
        uint64_t e = shaped_entry(&f);
        memcpy(mem_buf + page * 4096u + slot * 8u, &e, 8);
    }
    bool valid = vmdl_ept_eptp_valid(&c);
    for (unsigned step = 0; step < 64 && fz_more(&f); step++) {
        struct vmdl_ept_request r = {0};
        r.gpa = fz_bool(&f) ? fz_value(&f) : fz_u32(&f);
        r.access = (enum vmdl_ept_access)(1u << fz_pick(&f, 3));
        uint8_t fl = fz_u8(&f);
        r.paging_structure = fl & 1;
        r.gla_valid = fl & 2;
        r.user = fl & 4;
        r.guest_rw = fl & 8;
        r.guest_nx = fl & 16;
        r.gla = fz_value(&f);
        memcpy(before, mem_buf, MEM_SIZE);
        struct vmdl_ept_result o;
        int err = vmdl_ept_walk(&mem, &c, &r, &o);
        FZ_TRACE("eptp 0x%llx gpa 0x%llx acc %d -> err %d outcome %d level %u qual 0x%llx\n",
                 (unsigned long long)c.eptp, (unsigned long long)r.gpa, r.access, err,
                 err ? -1 : o.outcome, o.level, (unsigned long long)o.qualification);
        FZ_CHECK((err == VMDL_OK) == valid, "walk %d, eptp valid %d", err, valid);
        if (err) {
            check_memory(false);
            continue;
        }
        switch (o.outcome) {
        case VMDL_EPT_OK: check_ok(&c, &r, &o); break;
        case VMDL_EPT_VIOLATION: check_violation(&c, &r, &o); break;
        case VMDL_EPT_MISCONFIG: FZ_CHECK(o.qualification == 0, "misconfig qual"); break;
        default: FZ_CHECK(false, "outcome %d", o.outcome);
        }
        check_memory(o.outcome == VMDL_EPT_OK && (c.eptp & VMDL_EPTP_AD));
        struct vmdl_ept_result again;
        FZ_CHECK(vmdl_ept_walk(&mem, &c, &r, &again) == VMDL_OK, "second walk");
        FZ_CHECK(again.outcome == o.outcome && again.hpa == o.hpa &&
                 again.qualification == o.qualification, "second walk differs");
    }
    return 0;
}

/* Seeds: a 4-level identity-style map of page 8 at GPA 0x1000 with each
 * capability set, and a 2 MiB mapping. */
static void write_seeds(const char *dir)
{
    for (unsigned s = 0; s < 4; s++) {
        struct fz_out o = {.len = 0};
        fz_put8(&o, s == 0 ? 0x7F : s == 1 ? 0x0 : s == 2 ? 0x1B : 0x2F);
        fz_put8(&o, 14);                         /* MAXPHYADDR 46 */
        fz_put8(&o, 0);                          /* shaped EPTP */
        fz_put8(&o, 1);                          /* PML4 = page 1 */
        fz_put8(&o, 0x1E | (s & 1 ? 0x40 : 0));  /* WB, 4 levels, A/D on odd */
        fz_put8(&o, 4);                          /* entries */
        static const unsigned pg[4] = {1, 2, 3, 4}, nx[4] = {2, 3, 4, 8};
        for (unsigned i = 0; i < 4; i++) {
            fz_put8(&o, pg[i]);
            fz_put16(&o, i == 3 ? 1 : 0);
            fz_put8(&o, 1);                      /* shaped */
            fz_put8(&o, 1);                      /* page address */
            fz_put8(&o, nx[i]);
            fz_put16(&o, i == 3 ? 0x37 : (s == 3 && i == 2 ? 0x87 : 0x7));
        }
        for (unsigned a = 0; a < 3; a++) {       /* requests */
            fz_put8(&o, 0);
            fz_put32(&o, 0x1000 + a * 8);
            fz_put8(&o, a);
            fz_put8(&o, (uint8_t)(2 + a));
            fz_putval(&o, 0x401000);
        }
        char name[32];
        snprintf(name, sizeof(name), "map%u", s);
        fz_save_out(dir, name, &o);
    }
}

FZ_SEED_WRITER_MAIN()
