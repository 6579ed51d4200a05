/* SPDX-License-Identifier: MIT */
/*
 * A second stage of address translation for the hosted x86 vCPU (machine.h,
 * vmdl_vcpu_set_x86_npt): how a nested guest's EPT runs.
 *
 * The table is a shadow that the event hook fills page by page (the vmx
 * glue from L1's EPT through the EPT model): 4 KiB leaves in AMD64 format
 * in a pool of table pages in C memory, dropped whole when the pool is full
 * or the caller flushes.  While it is on, the engine translates through the
 * machine's C walk (hosted_walk.c, UC_TLB_VIRTUAL): the guest's own page
 * walk reads its paging-structure entries through this table (an A/D
 * update needs W there) and the walk's result goes through it once more
 * for the access itself.  An access it refuses stops the engine before the
 * instruction (RIP at it) with everything the NPF event says: the exact
 * guest-physical address of a paging-structure entry, or the page of the
 * final access with its linear address and rights.
 *
 * Why not QEMU's own nested paging (SVM NP_ENABLE, which this file drove
 * before): Unicorn 2.1.1's get_hphys clears PAGE_EXEC through a NULL
 * pointer when a page the guest's walk reads is mapped with NX (the walk
 * passes no rights to restrict), which killed the process with SIGSEGV as
 * soon as L1 gave an L2 page-table page no execute right; its NPF also
 * loses the "final translation / paging structure" bits (QEMU's error code
 * is an int) and it walks the guest's tables as writes (docs/unicorn.md).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hosted.h"
#include "walk.h"

#define H_NPT_PAGES 256u
#define PTE_P 1ull
#define PTE_W 2ull
#define PTE_NX (1ull << 63)       /* no fetch through a supervisor-mode address */
#define PTE_NXU (1ull << 62)      /* no fetch through a user-mode address (a
                                   * bit of the C table only) */
#define ADDR_MASK 0x000FFFFFFFFFF000ull

static int hosted_only(struct vmdl_vcpu *v, const char *fn)
{
    if (!v)
        return vmdl_fail(VMDL_EINVAL, "%s: NULL vCPU", fn);
    if (v->vm->arch != VMDL_ARCH_X86_64 || !X86(v)->hosted)
        return vmdl_fail(VMDL_ENOTSUP, "%s: only hosted x86 vCPUs (real guests)", fn);
    return VMDL_OK;
}

static void flush(struct vmdl_vcpu *v)
{
    struct x86h_npt *n = &X86(v)->npt;
    memset(n->pool, 0, 4096);
    n->used = 1;
    uc_ctl_flush_tlb(v->uc);
}

int vmdl_vcpu_set_x86_npt(struct vmdl_vcpu *v, bool on)
{
    int err = hosted_only(v, "vmdl_vcpu_set_x86_npt");
    if (err)
        return err;
    struct x86h_npt *n = &X86(v)->npt;
    if (on && !n->pool) {
        n->pool = calloc(H_NPT_PAGES, 4096);
        if (!n->pool)
            return vmdl_fail(VMDL_ENOMEM, "vmdl_vcpu_set_x86_npt: the table pool");
        flush(v);
    }
    /* The translation mode follows at the next run (vmdl__x86h_walk_sync). */
    n->on = on;
    return VMDL_OK;
}

int vmdl_vcpu_x86_npt_flush(struct vmdl_vcpu *v)
{
    int err = hosted_only(v, "vmdl_vcpu_x86_npt_flush");
    if (err)
        return err;
    if (X86(v)->npt.pool)
        flush(v);
    return VMDL_OK;
}

void vmdl__x86h_npt_free(struct vmdl_vcpu *v)
{
    free(X86(v)->npt.pool);
    X86(v)->npt.pool = NULL;
    X86(v)->npt.on = false;
}

/* The entry of the table page at index `table` for gpa at level (4 .. 1). */
static uint64_t *slot(struct x86h_npt *n, uint64_t table, uint64_t gpa, unsigned level)
{
    return n->pool + table * 512 + ((gpa >> (12 + 9 * (level - 1))) & 0x1FF);
}

/* The leaf for gpa (0 when none).  A table entry holds the index of the
 * next table page in its address field. */
static uint64_t lookup(struct x86h_npt *n, uint64_t gpa)
{
    uint64_t table = 0;
    for (unsigned level = 4; level >= 2; level--) {
        uint64_t e = *slot(n, table, gpa, level);
        if (!(e & PTE_P))
            return 0;
        table = (e & ADDR_MASK) >> 12;
    }
    return *slot(n, table, gpa, 1);
}

static bool map_once(struct vmdl_vcpu *v, uint64_t gpa, uint64_t pa, unsigned prot)
{
    struct x86h_npt *n = &X86(v)->npt;
    uint64_t table = 0;
    for (unsigned level = 4; level >= 2; level--) {
        uint64_t *e = slot(n, table, gpa, level);
        if (!(*e & PTE_P)) {
            if (n->used >= H_NPT_PAGES)
                return false;
            memset(n->pool + (uint64_t)n->used * 512, 0, 4096);
            *e = ((uint64_t)n->used++ << 12) | PTE_P | PTE_W;
        }
        table = (*e & ADDR_MASK) >> 12;
    }
    uint64_t *leaf = slot(n, table, gpa, 1);
    uint64_t old = *leaf;
    uint64_t e = (pa & ADDR_MASK) | PTE_P | ((prot & VMDL_NPT_WRITE) ? PTE_W : 0) |
                 ((prot & VMDL_NPT_EXEC_SUPER) ? 0 : PTE_NX) |
                 ((prot & VMDL_NPT_EXEC_USER) ? 0 : PTE_NXU);
    *leaf = e;
    /* Fewer rights than before: what the engine cached from the old entry
     * must go (more rights refill on the next access by themselves). */
    if ((old & PTE_P) && ((old & ~e & PTE_W) || (e & ~old & (PTE_NX | PTE_NXU)) ||
                          (old & ADDR_MASK) != (e & ADDR_MASK)))
        uc_ctl_flush_tlb(v->uc);
    return true;
}

int vmdl_vcpu_x86_npt_map(struct vmdl_vcpu *v, uint64_t gpa, uint64_t pa, unsigned prot)
{
    int err = hosted_only(v, "vmdl_vcpu_x86_npt_map");
    if (err)
        return err;
    if (!X86(v)->npt.pool)
        return vmdl_fail(VMDL_ESTATE, "vmdl_vcpu_x86_npt_map: second stage never enabled");
    if ((gpa >> 48) || (pa >> 52) || (prot & ~(VMDL_NPT_WRITE | VMDL_NPT_EXEC)))
        return vmdl_fail(VMDL_EINVAL, "vmdl_vcpu_x86_npt_map: gpa 0x%" PRIx64 " pa 0x%" PRIx64
                         " prot 0x%x out of range", gpa, pa, prot);
    if (map_once(v, gpa, pa, prot))
        return VMDL_OK;
    flush(v);                   /* pool full: start over */
    map_once(v, gpa, pa, prot);
    return VMDL_OK;
}

/* ---- the guest's walk through the table (hosted_walk.c) ----------------- */

static bool miss(struct vmdl_vcpu *v, uint64_t gpa, bool write)
{
    X86(v)->npt.miss = (struct x86h_npf_miss){ .pending = true, .gpa = gpa, .write = write,
                                               .walk = true };
    return false;
}

bool vmdl__x86h_npt_xlate(struct vmdl_vcpu *v, uint64_t gpa, bool write, uint64_t *pa)
{
    struct x86h_npt *n = &X86(v)->npt;
    uint64_t e = (gpa >> 48) || !n->pool ? 0 : lookup(n, gpa);
    if (!(e & PTE_P) || (write && !(e & PTE_W)))
        return false;
    *pa = (e & ADDR_MASK) | (gpa & 0xFFF);
    return true;
}

/* A paging-structure entry: readable when mapped, an A/D update needs W. */
static bool through(struct vmdl_vcpu *v, uint64_t gpa, bool write, uint64_t *pa)
{
    return vmdl__x86h_npt_xlate(v, gpa, write, pa) || miss(v, gpa, write);
}

static bool npt_read(void *opaque, uint64_t gpa, void *buf, unsigned n)
{
    struct vmdl_vcpu *v = opaque;
    struct vmdl__x86_pmem m;
    uint64_t pa = 0;
    vmdl__x86h_pmem(v, &m);
    return through(v, gpa, false, &pa) && m.read(m.opaque, pa, buf, n);
}

static bool npt_write(void *opaque, uint64_t gpa, const void *buf, unsigned n)
{
    struct vmdl_vcpu *v = opaque;
    struct vmdl__x86_pmem m;
    uint64_t pa = 0;
    vmdl__x86h_pmem(v, &m);
    return through(v, gpa, true, &pa) && m.write(m.opaque, pa, buf, n);
}

void vmdl__x86h_npt_pmem(struct vmdl_vcpu *v, struct vmdl__x86_pmem *m)
{
    X86(v)->npt.miss.pending = false;
    m->read = npt_read;
    m->write = npt_write;
    m->opaque = v;
}

/* The same without a miss recorded: the machine's own accesses (a
 * delivery's checks, reading an instruction), which report a refusal as
 * a failed access and leave the fault, if any, to the engine's path. */
static bool quiet_rw(struct vmdl_vcpu *v, uint64_t gpa, void *buf, unsigned n, bool write)
{
    struct vmdl__x86_pmem m;
    uint64_t pa = 0;
    vmdl__x86h_pmem(v, &m);
    if ((gpa & 0xFFF) + n > 0x1000 || !vmdl__x86h_npt_xlate(v, gpa, write, &pa))
        return false;
    return write ? m.write(m.opaque, pa, buf, n) : m.read(m.opaque, pa, buf, n);
}

static bool quiet_read(void *opaque, uint64_t gpa, void *buf, unsigned n)
{
    return quiet_rw(opaque, gpa, buf, n, false);
}

static bool quiet_write(void *opaque, uint64_t gpa, const void *buf, unsigned n)
{
    return quiet_rw(opaque, gpa, (void *)buf, n, true);
}

void vmdl__x86h_guest_pmem(struct vmdl_vcpu *v, struct vmdl__x86_pmem *m)
{
    if (!X86(v)->npt.on) {
        vmdl__x86h_pmem(v, m);
        return;
    }
    m->read = quiet_read;
    m->write = quiet_write;
    m->opaque = v;
}

bool vmdl__x86h_npt_final(struct vmdl_vcpu *v, const struct vmdl__x86_paging *p,
                          const struct vmdl__x86_xlate *xl, unsigned access,
                          uint64_t *pa, uc_prot *prot)
{
    struct x86h_npt *n = &X86(v)->npt;
    uint64_t gpa = xl->pa & ~0xFFFull;
    uint64_t e = (gpa >> 48) ? 0 : lookup(n, gpa);
    bool write = access & VMDL_WALK_WRITE, fetch = access & VMDL_WALK_FETCH;
    bool paged = p->cr0 & VMDL_X86_CR0_PG, user = paged && xl->user;
    uint64_t nx = user ? PTE_NXU : PTE_NX;      /* the page's user-ness is fixed */
    if (!(e & PTE_P) || (write && !(e & PTE_W)) || (fetch && (e & nx))) {
        n->miss = (struct x86h_npf_miss){
            .pending = true, .gpa = gpa, .write = write, .fetch = fetch,
            .user = user, .writable = xl->writable, .xd = paged && xl->xd,
        };
        return false;
    }
    *pa = e & ADDR_MASK;
    if (!(e & PTE_W))
        *prot &= ~(uc_prot)UC_PROT_WRITE;
    if (e & nx)
        *prot &= ~(uc_prot)UC_PROT_EXEC;
    return true;
}

bool vmdl__x86h_npt_data(struct vmdl_vcpu *v, const struct vmdl__x86_paging *p,
                         const struct vmdl__x86_xlate *xl, bool write, uint64_t *pa)
{
    if (vmdl__x86h_npt_xlate(v, xl->pa, write, pa))
        return true;
    bool paged = p->cr0 & VMDL_X86_CR0_PG;
    X86(v)->npt.miss = (struct x86h_npf_miss){
        .pending = true, .gpa = xl->pa & ~0xFFFull, .write = write,
        .user = paged && xl->user, .writable = xl->writable, .xd = paged && xl->xd,
    };
    return false;
}

/* The instruction at the linear RIP, decoded in the guest's code size. */
static cs_insn *decode_at(struct vmdl_vcpu *v, uint64_t rip)
{
    uint8_t code[15];
    size_t n = sizeof(code);
    while (n && !vmdl__x86h_lin_rw(v, rip, code, n, false))
        n--;
    if (!n)
        return NULL;
    cs_insn *in = NULL;
    size_t got = cs_disasm(vmdl__x86_cs(v), code, n, rip, 1, &in);
    if (got != 1 || !in->detail) {
        if (got)
            cs_free(in, got);
        return NULL;
    }
    return in;
}

/* A MOV (MOVZX) between a memory operand and a GPR, or of an immediate to
 * memory: the register operand (NULL for the immediate store), the memory
 * operand and whether it stores.  False for anything else. */
static bool mov_form(const cs_insn *in, const cs_x86_op **reg, const cs_x86_op **mem,
                     bool *store)
{
    const cs_x86 *x = &in->detail->x86;
    if ((in->id != X86_INS_MOV && in->id != X86_INS_MOVZX) || x->op_count != 2 ||
        x->prefix[0] == X86_PREFIX_LOCK)
        return false;
    const cs_x86_op *a = &x->operands[0], *b = &x->operands[1];
    if (a->type == X86_OP_REG && b->type == X86_OP_MEM) {
        *reg = a, *mem = b, *store = false;
        return true;
    }
    if (a->type == X86_OP_MEM && in->id == X86_INS_MOV &&
        (b->type == X86_OP_REG || b->type == X86_OP_IMM)) {
        *reg = b->type == X86_OP_REG ? b : NULL, *mem = a, *store = true;
        return true;
    }
    return false;
}

/* The MOV's register operand as a GPR (index, bytes, AH-BH). */
static bool mov_gpr(struct vmdl_vcpu *v, const cs_x86_op *reg, int *idx, int *size, bool *high)
{
    return vmdl__x86_cs_gpr(v->vm->cs, reg->reg, idx, size, high) && *idx >= 0 && *idx < 16;
}

/* Fill the MOV description of an NPF (size, mov, store). */
static void describe_mov(struct vmdl_vcpu *v, const cs_insn *in, struct vmdl_x86_npf *f)
{
    const cs_x86_op *reg = NULL, *mem = NULL;
    bool store = false;
    int idx = 0, size = 0;
    bool high = false;
    if (!mov_form(in, &reg, &mem, &store) || store != f->write || f->walk)
        return;
    if (reg && !mov_gpr(v, reg, &idx, &size, &high))
        return;
    f->mov = true;
    if (!store)
        return;
    f->store = reg ? vmdl__x86_reg_value(v, reg->reg, in->address + in->size)
                   : (uint64_t)in->detail->x86.operands[1].imm;
    if (mem->size < 8)
        f->store &= (1ull << (8 * mem->size)) - 1;
}

int vmdl_vcpu_x86_npf_complete_mov(struct vmdl_vcpu *v, uint64_t loaded)
{
    int err = hosted_only(v, "vmdl_vcpu_x86_npf_complete_mov");
    if (err)
        return err;
    cs_insn *in = decode_at(v, rd(v, UC_X86_REG_RIP));
    const cs_x86_op *reg = NULL, *mem = NULL;
    bool store = false;
    int idx = 0, size = 0;
    bool high = false;
    if (!in || !mov_form(in, &reg, &mem, &store) || (reg && !mov_gpr(v, reg, &idx, &size, &high))) {
        if (in)
            cs_free(in, 1);
        return vmdl_fail(VMDL_EINVAL, "vmdl_vcpu_x86_npf_complete_mov: not a MOV with "
                         "a memory operand at RIP");
    }
    if (!store) {
        if (mem->size < 8)
            loaded &= (1ull << (8 * mem->size)) - 1;
        vmdl__x86_write_gpr_sized(v, idx, size, high, loaded);  /* MOVZX: zero-extended */
    }
    wr(v, UC_X86_REG_RIP, rd(v, UC_X86_REG_RIP) + in->size);
    cs_free(in, 1);
    return VMDL_OK;
}

/* What the instruction at RIP says about a data access it missed: its
 * length, the memory operand's size and, for a MOV, what completing it
 * takes (fetches and paging-structure accesses have no operand). */
static void describe_insn(struct vmdl_vcpu *v, struct vmdl_x86_npf *f)
{
    if (f->fetch)
        return;
    cs_insn *in = decode_at(v, rd(v, UC_X86_REG_RIP));
    if (!in)
        return;
    f->insn_len = in->size;
    const cs_x86 *x = &in->detail->x86;
    const cs_x86_op *rd_op = NULL, *wr_op = NULL;
    for (unsigned i = 0; i < x->op_count; i++) {
        const cs_x86_op *op = &x->operands[i];
        if (op->type != X86_OP_MEM)
            continue;
        if ((op->access & CS_AC_WRITE) && !wr_op)
            wr_op = op;
        if (!rd_op)
            rd_op = op;
    }
    const cs_x86_op *op = f->write && wr_op ? wr_op : rd_op;
    if (op && !f->walk) {
        f->size = op->size;
        if (!f->delivery)       /* else the access is not the instruction's */
            describe_mov(v, in, f);
    }
    cs_free(in, 1);
}

/* The access the C walk refused (hosted_walk.c): the event for the hook,
 * with the linear address the refused fill was for (EXIT_INFO2: exact for
 * fetches and operands found at RIP, else the page; a delivery's access
 * keeps the page). */
int vmdl__x86h_npf_exit(struct vmdl_vcpu *v, bool *triple)
{
    (void)triple;
    struct x86h_npf_miss *ms = &X86(v)->npt.miss;
    if (!ms->pending)
        return vmdl_fail(VMDL_ESTATE, "second-stage fault without a refused access");
    ms->pending = false;
    uint64_t la = pr64(v, H_VMCB + C_EXIT_INFO2);
    struct vmdl_x86_event ev = {.kind = VMDL_X86_EVENT_NPF};
    ev.npf.gpa = ms->walk ? ms->gpa : ms->gpa | (la & 0xFFF);
    ev.npf.write = ms->write;
    ev.npf.fetch = ms->fetch;
    ev.npf.walk = ms->walk;
    ev.npf.gla_valid = !ms->pdpte_load;
    ev.npf.gla = ms->pdpte_load ? 0 : la;
    ev.npf.user = ms->user;
    ev.npf.writable = ms->writable;
    ev.npf.xd = ms->xd;
    /* A miss of the delivery's own accesses (hosted_deliver.c): the event
     * being delivered, as for an exception during delivery. */
    if (X86(v)->h_vectoring) {
        ev.npf.delivery = true;
        ev.idt_info = X86(v)->h_vectoring;
        ev.idt_error = X86(v)->h_vectoring_err;
    }
    describe_insn(v, &ev.npf);
    char out[64];
    snprintf(out, sizeof(out), "gpa 0x%" PRIx64 "%s%s%s", ev.npf.gpa,
             ev.npf.write ? " write" : "", ev.npf.fetch ? " fetch" : "",
             ev.npf.walk ? " walk" : "");
    vmdl__trace_exit(v, "npf", rd(v, UC_X86_REG_RIP), out);
    /* Taken: the instruction runs again from RIP (the new fill walks
     * again), or a VM exit replaced the state. */
    if (vmdl__x86h_event(v, &ev))
        return VMDL_OK;
    return vmdl_fail(VMDL_ESTATE, "nested page fault at GPA 0x%" PRIx64 "%s%s%s that no "
                     "model handles", ev.npf.gpa, ev.npf.write ? " (write)" : "",
                     ev.npf.fetch ? " (fetch)" : "", ev.npf.walk ? " (page walk)" : "");
}
