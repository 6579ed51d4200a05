/* SPDX-License-Identifier: MIT */
/*
 * A second stage of address translation for the hosted x86 vCPU (machine.h,
 * vmdl_vcpu_set_x86_npt): how a nested guest's EPT runs.
 *
 * QEMU's TCG implements SVM nested paging: with NP_ENABLE in the VMCB,
 * VMRUN makes every guest-physical address of a paged guest go through an
 * AMD64 page table at nCR3 (QEMU's get_hphys), and a miss stops the engine
 * with exit code NPF (0x400): exit_info_2 (the guest-physical address) is
 * written to the VMCB, exit_info_1 (P, R/W, U/S, RSVD, I/D) stays in QEMU's
 * error code, truncated to 32 bits, so its "final translation / page walk"
 * bits 32-33 are lost.  The table here is a shadow that the event hook
 * fills page by page (the vmx glue from L1's EPT through the EPT model):
 * 4 KiB leaves in a pool of private pages, dropped whole when the pool is
 * full or the caller flushes.
 *
 * Measured facts this relies on (Unicorn 2.1.1, docs/unicorn.md):
 *  - VMRUN sets the nested-paging flag but nothing clears it (Unicorn never
 *    runs do_vmexit); every re-entry splices the host's hflags2 back
 *    (vmdl__x86h_splice_host), which clears it, so NP_ENABLE of the VMCB
 *    decides it at each VMRUN;
 *  - the nested walk takes PAE/LMA from the host and NXE from the EFER
 *    that is live when the stub runs (the guest's): with LMA set, NXE is
 *    set there before the stub so that NX in the shadow means "no fetch";
 *  - table entries must stay below QEMU's 40 physical address bits (the
 *    walk treats higher bits as reserved), hence the pool below 1 TiB;
 *  - the walk of the guest's own page tables reaches the nested table as
 *    a write (QEMU may set accessed flags), so table pages need W.
 */
#include <inttypes.h>
#include <stdio.h>

#include "hosted.h"

/* The pool: 256 table pages just below 2^40, above any guest RAM. */
#define H_NPT_BASE 0xFFFFF00000ull
#define H_NPT_PAGES 256u
#define PTE_P 1ull
#define PTE_W 2ull
#define PTE_U 4ull
#define PTE_A 0x20ull
#define PTE_D 0x40ull
#define PTE_NX (1ull << 63)
#define ADDR_MASK 0x000FFFFFFFFFF000ull
/* exit_info_1 of an NPF, low bits (AMD APM vol. 2, 15.25.6). */
#define NPF_P 1u
#define NPF_RW 2u
#define NPF_RSVD 8u
#define NPF_ID 16u

static int hosted_only(struct vmdl_vcpu *v, const char *fn)
{
    if (!v)
        return vmdl_fail(VMDL_EINVAL, "%s: NULL vCPU", fn);
    if (v->vm->arch != VMDL_ARCH_X86_64 || !X86(v)->hosted)
        return vmdl_fail(VMDL_ENOTSUP, "%s: only hosted x86 vCPUs (real guests)", fn);
    return VMDL_OK;
}

static void clear_page(struct vmdl_vcpu *v, uint64_t pa)
{
    static const uint8_t zero[4096];
    pw(v, pa, zero, sizeof(zero));
}

static void flush(struct vmdl_vcpu *v)
{
    clear_page(v, H_NPT_BASE);
    X86(v)->npt.used = 1;
    uc_ctl_flush_tlb(v->uc);
}

int vmdl_vcpu_set_x86_npt(struct vmdl_vcpu *v, bool on)
{
    int err = hosted_only(v, "vmdl_vcpu_set_x86_npt");
    if (err)
        return err;
    struct x86h_npt *n = &X86(v)->npt;
    if (on && !n->pool) {
        /* (The end-of-run walk of `until` - 1, which would raise an NPF
         * outside any run, is off for every hosted vCPU: hosted_setup.c.) */
        if (uc_mem_map(v->uc, H_NPT_BASE, H_NPT_PAGES * 4096ull, UC_PROT_ALL))
            return vmdl_fail(VMDL_EBACKEND, "vmdl_vcpu_set_x86_npt: mapping the table pool");
        n->pool = true;
        flush(v);
    }
    if (n->on == on)
        return VMDL_OK;
    n->on = on;
    /* NP_ENABLE is read at VMRUN: re-enter through it, from the live state
     * unless a new state is already waiting in the VMCB. */
    if (!X86(v)->hosted_vmrun) {
        vmdl__x86h_save_guest(v);
        X86(v)->hosted_vmrun = true;
    }
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

/* The table page an entry points to, made when absent; 0 when the pool is
 * exhausted. */
static uint64_t next_table(struct vmdl_vcpu *v, uint64_t entry_pa)
{
    uint64_t e = pr64(v, entry_pa);
    if (e & PTE_P)
        return e & ADDR_MASK;
    struct x86h_npt *n = &X86(v)->npt;
    if (n->used >= H_NPT_PAGES)
        return 0;
    uint64_t t = H_NPT_BASE + 4096ull * n->used++;
    clear_page(v, t);
    pw64(v, entry_pa, t | PTE_P | PTE_W | PTE_U | PTE_A);
    return t;
}

static bool map_once(struct vmdl_vcpu *v, uint64_t gpa, uint64_t pa, unsigned prot)
{
    uint64_t table = H_NPT_BASE;
    for (unsigned level = 4; level >= 2; level--) {
        table = next_table(v, table + ((gpa >> (12 + 9 * (level - 1))) & 0x1FF) * 8);
        if (!table)
            return false;
    }
    uint64_t leaf = table + ((gpa >> 12) & 0x1FF) * 8;
    uint64_t old = pr64(v, leaf);
    uint64_t e = (pa & ADDR_MASK) | PTE_P | PTE_U | PTE_A | PTE_D |
                 ((prot & VMDL_NPT_WRITE) ? PTE_W : 0) |
                 (!(prot & VMDL_NPT_EXEC) && X86(v)->npt.nx ? PTE_NX : 0);
    pw64(v, leaf, e);
    /* Fewer rights than before: what the engine cached from the old entry
     * must go (more rights refill on the next access by themselves). */
    if ((old & PTE_P) && ((old & ~e & PTE_W) || (e & ~old & PTE_NX) ||
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
    if ((gpa >> 48) || (pa >> 40) || (prot & ~(VMDL_NPT_WRITE | VMDL_NPT_EXEC)))
        return vmdl_fail(VMDL_EINVAL, "vmdl_vcpu_x86_npt_map: gpa 0x%" PRIx64 " pa 0x%" PRIx64
                         " prot 0x%x out of range", gpa, pa, prot);
    if (map_once(v, gpa, pa, prot))
        return VMDL_OK;
    flush(v);                   /* pool full: start over */
    map_once(v, gpa, pa, prot);
    return VMDL_OK;
}

/* Before each VMRUN (after the host state is spliced in): NP_ENABLE and
 * nCR3 for this entry, and NXE for the nested walk. */
void vmdl__x86h_npt_prepare(struct vmdl_vcpu *v)
{
    struct x86h_npt *n = &X86(v)->npt;
    pw64(v, H_VMCB + C_NP_ENABLE, n->on ? 1 : 0);
    if (!n->on)
        return;
    pw64(v, H_VMCB + C_NCR3, H_NPT_BASE);
    uint64_t efer = vmdl__x86h_rdmsr(v, MSR_EFER);
    /* LMA cannot be written: only with it set may EFER be rewritten without
     * taking the host out of long mode.  The write recomputes the engine's
     * SVME flag, which the stub's VMRUN needs. */
    if ((efer & (1ull << 10)) && !(efer & (1ull << 11))) {
        vmdl__x86h_wrmsr(v, MSR_EFER, efer | (1ull << 11) | EFER_SVME);
        efer = vmdl__x86h_rdmsr(v, MSR_EFER);
    }
    bool nx = efer & (1ull << 11);
    if (nx != n->nx) {
        n->nx = nx;
        flush(v);
    }
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

/* Attribute the fault to a linear address: a fetch to RIP; a data access
 * to the instruction's memory operand (a write fault on an instruction
 * that writes no memory comes from the walk of the guest's page tables,
 * which QEMU performs as writes). */
static void classify(struct vmdl_vcpu *v, struct vmdl_x86_npf *f)
{
    uint64_t rip = rd(v, UC_X86_REG_RIP);
    f->user = (rd(v, UC_X86_REG_CS) & 3) == 3;
    if (f->fetch) {
        f->gla_valid = true;
        f->gla = rip;
        return;
    }
    cs_insn *in = decode_at(v, rip);
    if (!in) {
        f->walk = f->write;
        return;
    }
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
    const cs_x86_op *op = f->write ? wr_op : rd_op;
    if (f->write && !wr_op) {
        f->walk = true;
        op = rd_op;
    }
    if (op) {
        f->gla_valid = true;
        f->gla = vmdl__x86_mem_addr(v, in, op);
        f->size = op->size;
        if (!f->delivery)       /* else the access is not the instruction's */
            describe_mov(v, in, f);
    } else if (f->walk) {
        f->gla_valid = true;    /* the fetch's own translation */
        f->gla = rip;
    }
    cs_free(in, 1);
}

int vmdl__x86h_npf_exit(struct vmdl_vcpu *v, bool *triple)
{
    (void)triple;
    uint32_t info = (uint32_t)vmdl__x86h_err_code(v);
    struct vmdl_x86_event ev = {.kind = VMDL_X86_EVENT_NPF};
    ev.npf.gpa = pr64(v, H_VMCB + C_EXIT_INFO2);
    if (info & NPF_RSVD)
        return vmdl_fail(VMDL_ESTATE, "second-stage entry for GPA 0x%" PRIx64
                         " refused by the engine (reserved bits)", ev.npf.gpa);
    ev.npf.fetch = info & NPF_ID;
    ev.npf.write = (info & NPF_RW) && !ev.npf.fetch;
    /* A miss of the delivery's own accesses (hosted_deliver.c): the event
     * being delivered, as for an exception during delivery. */
    if (X86(v)->h_vectoring) {
        ev.npf.delivery = true;
        ev.idt_info = X86(v)->h_vectoring;
        ev.idt_error = X86(v)->h_vectoring_err;
    }
    classify(v, &ev.npf);
    char out[64];
    snprintf(out, sizeof(out), "gpa 0x%" PRIx64 "%s%s%s", ev.npf.gpa,
             ev.npf.write ? " write" : "", ev.npf.fetch ? " fetch" : "",
             ev.npf.walk ? " walk" : "");
    vmdl__trace_exit(v, "npf", rd(v, UC_X86_REG_RIP), out);
    /* Taken: the instruction runs again from RIP (the engine stays in
     * guest mode, the new entry refills its TLB), or a VM exit replaced
     * the state. */
    if (vmdl__x86h_event(v, &ev))
        return VMDL_OK;
    return vmdl_fail(VMDL_ESTATE, "nested page fault at GPA 0x%" PRIx64
                     " (exit_info_1 0x%x) that no model handles", ev.npf.gpa, info);
}
