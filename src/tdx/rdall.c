/* SPDX-License-Identifier: MIT */
/*
 * TDH.SYS.RDALL: dump the readable global metadata as a metadata list, as
 * the TDX module does: a list header, then sequences of consecutive fields
 * (same class, field codes contiguous, same elements per field, same
 * element size) each behind a sequence header; as many complete fields as
 * fit, and the ID of the next field to ask for when they do not all fit.
 */
#include <string.h>

#include "virtmodel/error.h"
#include "tdx/tdx_internal.h"

/* Smallest buffer accepted: list header + sequence header + one element. */
#define MIN_LIST_BUF 24

/* A position: entry f, field fi within it (field granularity). */
struct pos {
    int f;          /* -1: none left */
    unsigned fi;
};

static unsigned nelem(int f) { return vmdl_tdx_field((unsigned)f)->nr_elems; }

static uint64_t pos_id(struct pos p)
{
    return vmdl_tdx_field((unsigned)p.f)->base_id + (uint64_t)p.fi * nelem(p.f);
}

/* The next readable field after p (the first one when p.f < 0). */
static struct pos next_field(const struct vmdl_tdx *m, struct pos p)
{
    if (p.f >= 0 && vmdl__tdx_readable(m, (unsigned)p.f) &&
        p.fi + 1 < vmdl_tdx_field((unsigned)p.f)->nr_fields)
        return (struct pos){p.f, p.fi + 1};
    for (unsigned f = (unsigned)(p.f + 1); f < VMDL_TDX_NR_FIELDS; f++)
        if (vmdl__tdx_readable(m, f))
            return (struct pos){(int)f, 0};
    return (struct pos){-1, 0};
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static bool sequential(struct pos a, struct pos b)
{
    uint64_t ia = pos_id(a), ib = pos_id(b);
    return vmdl_tdx_fid_class(ia) == vmdl_tdx_fid_class(ib) &&
           vmdl_tdx_fid_field_code(ia) + nelem(a.f) == vmdl_tdx_fid_field_code(ib) &&
           nelem(a.f) == nelem(b.f) &&
           vmdl_tdx_fid_elem_size_code(ia) == vmdl_tdx_fid_elem_size_code(ib);
}

uint64_t vmdl__tdx_dump_list(const struct vmdl_tdx *m, uint64_t start, uint8_t *buf,
                       uint32_t size, uint64_t *next, uint32_t *len)
{
    *next = VMDL_TDX_FID_NA;
    *len = 0;
    if (size < MIN_LIST_BUF) {
        *next = start;
        return VMDL_TDX_METADATA_LIST_OVERFLOW;
    }
    struct pos cur;
    if (start == VMDL_TDX_FID_NA) {
        cur = next_field(m, (struct pos){-1, 0});
        if (cur.f < 0)
            return VMDL_TDX_SUCCESS;   /* nothing readable: nothing written */
    } else {
        /* The start must be the first element of a field of this module,
         * with the field's element size (sequence-header rules). */
        unsigned elem;
        int f = vmdl_tdx_field_by_id(start, &elem);
        if (f < 0 || !(m->s.flags[f] & TDX_F_PRESENT) ||
            elem % nelem(f) != 0 ||
            vmdl_tdx_fid_elem_size_code(start) !=
                vmdl_tdx_fid_elem_size_code(vmdl_tdx_field((unsigned)f)->base_id))
            return VMDL_TDX_METADATA_FIELD_ID_INCORRECT;
        cur = (struct pos){f, elem / nelem(f)};
    }

    uint32_t buff = size - VMDL_TDX_MD_LIST_HEADER_SIZE;
    uint32_t used = VMDL_TDX_MD_LIST_HEADER_SIZE;
    uint16_t nseq = 0;
    uint64_t status = VMDL_TDX_METADATA_LIST_OVERFLOW;

    while (cur.f >= 0 && buff >= 8 + nelem(cur.f) * 8u) {
        /* One sequence at buf + used. */
        uint8_t *seq = buf + used;
        uint32_t rem = buff - 8, idx = 0, nfields = 0;
        enum { NO_SPACE, EMPTY, DONE } st = NO_SPACE;
        uint64_t header = 0;
        while (rem >= nelem(cur.f) * 8u) {
            bool ok = vmdl__tdx_readable(m, (unsigned)cur.f);
            if (ok) {
                unsigned n = nelem(cur.f);
                const uint64_t *v = &m->s.v[vmdl__tdx_elem_base[cur.f] + cur.fi * n];
                for (unsigned k = 0; k < n; k++)
                    put64(seq + 8 + 8 * (idx + k), v[k]);
                if (!nfields)
                    header = pos_id(cur) |
                             (uint64_t)(n - 1) << VMDL_TDX_FID_LAST_ELEM_SHIFT;
                rem -= n * 8;
                idx += n;
                nfields++;
            }
            struct pos prev = cur;
            cur = next_field(m, cur);
            if (!ok || cur.f < 0 || !sequential(prev, cur)) {
                st = idx ? DONE : EMPTY;
                break;
            }
        }
        if (st != EMPTY) {
            header |= (uint64_t)(nfields - 1) << VMDL_TDX_FID_LAST_FIELD_SHIFT;
            put64(seq, header);
            nseq++;
            used += 8 + idx * 8;
            buff -= 8 + idx * 8;
        }
        if (st == NO_SPACE)
            break;
    }
    if (cur.f < 0)
        status = VMDL_TDX_SUCCESS;
    else
        *next = pos_id(cur);
    /* List header: u16 list_buff_size, u16 num_sequences, u32 reserved. */
    put64(buf, (uint64_t)used | (uint64_t)nseq << 16);
    *len = used;
    return status;
}

uint64_t vmdl__tdx_sys_rdall(struct vmdl_tdx *m, unsigned lp, uint64_t gpa,
                       uint64_t *r8)
{
    uint64_t start = *r8;
    *r8 = VMDL_TDX_FID_NA;
    if (!((m->lp_init >> lp) & 1))
        return VMDL_TDX_SYS_LP_INIT_NOT_DONE;
    uint8_t page[VMDL_TDX_RDALL_PAGE];
    /* The page must be 4 KiB aligned RAM the host may write. */
    if ((gpa & (VMDL_TDX_RDALL_PAGE - 1)) || !m->have_mem ||
        vmdl_guest_read(&m->mem, gpa, page, sizeof(page)))
        return VMDL_TDX_OPERAND_INVALID | VMDL_TDX_OPERAND_RDX;
    /* CONTEXT_CODE is implicit (SYS); all ones (context aside): start. */
    if (tdx_is_null_id(start))
        start = VMDL_TDX_FID_NA;
    else
        start &= ~(UINT64_C(7) << VMDL_TDX_FID_CONTEXT_SHIFT);
    uint32_t len = 0;
    uint64_t next;
    uint64_t st = vmdl__tdx_dump_list(m, start, page, sizeof(page), &next, &len);
    if (len && vmdl_guest_write(&m->mem, gpa, page, len))
        return VMDL_TDX_OPERAND_INVALID | VMDL_TDX_OPERAND_RDX;
    *r8 = next;
    return st;
}

int vmdl_tdx_md_list_walk(const void *list, size_t len,
                          void (*fn)(void *opaque, uint64_t id, uint64_t value),
                          void *opaque)
{
    const uint8_t *p = list;
    if (!p || !fn)
        return vmdl_fail(VMDL_EINVAL, "vmdl_tdx_md_list_walk: NULL argument");
    if (len < VMDL_TDX_MD_LIST_HEADER_SIZE)
        return vmdl_fail(VMDL_EFORMAT, "vmdl_tdx_md_list_walk: %zu bytes, no "
                         "list header", len);
    uint64_t h = get64(p);
    uint32_t size = h & 0xFFFF, nseq = (h >> 16) & 0xFFFF;
    if (h >> 32)
        return vmdl_fail(VMDL_EFORMAT, "vmdl_tdx_md_list_walk: reserved "
                         "header bits set");
    if (size > len || size < VMDL_TDX_MD_LIST_HEADER_SIZE)
        return vmdl_fail(VMDL_EFORMAT, "vmdl_tdx_md_list_walk: list size %u "
                         "does not fit %zu bytes", size, len);
    uint32_t off = VMDL_TDX_MD_LIST_HEADER_SIZE;
    for (uint32_t s = 0; s < nseq; s++) {
        if (off + 8 > size)
            return vmdl_fail(VMDL_EFORMAT, "vmdl_tdx_md_list_walk: sequence "
                             "%u header past the list end", s);
        struct vmdl_tdx_fid f;
        uint64_t sh = get64(p + off);
        vmdl_tdx_fid_decode(sh, &f);
        uint32_t n = (uint32_t)(f.last_elem + 1) * (f.last_field + 1u);
        off += 8;
        if (off + 8ull * n > size)
            return vmdl_fail(VMDL_EFORMAT, "vmdl_tdx_md_list_walk: sequence "
                             "%u (%u elements) past the list end", s, n);
        uint64_t base = sh & ~(UINT64_C(0xF) << VMDL_TDX_FID_LAST_ELEM_SHIFT |
                               UINT64_C(0x1FF) << VMDL_TDX_FID_LAST_FIELD_SHIFT);
        for (uint32_t k = 0; k < n; k++)
            fn(opaque, base + k, get64(p + off + 8 * k));
        off += 8 * n;
    }
    if (off != size)
        return vmdl_fail(VMDL_EFORMAT, "vmdl_tdx_md_list_walk: %u bytes of "
                         "sequences but the header says %u", off, size);
    return VMDL_OK;
}
