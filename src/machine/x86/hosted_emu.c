/* SPDX-License-Identifier: MIT */
/*
 * Operands of the instructions the hosted x86 vCPU completes itself (LMSW
 * and SMSW with a memory operand, PUSHF): the instruction's prefixes and
 * ModRM decoded in the guest's current mode (16-, 32- or 64-bit code and
 * addressing), the segment checks of a data access (SDM vol. 3, 5.3-5.4)
 * and the access through the guest's paging with its rights.  A failed
 * access is returned as the architectural fault, never performed in part.
 */
#include <string.h>

#include "hosted.h"

static bool is_prefix(uint8_t b, bool lma)
{
    return b == 0x66 || b == 0x67 || b == 0xF0 || b == 0xF2 || b == 0xF3 || b == 0x2E ||
           b == 0x36 || b == 0x3E || b == 0x26 || b == 0x64 || b == 0x65 ||
           (lma && (b & 0xF0) == 0x40);
}

static int seg_prefix(uint8_t b)
{
    switch (b) {
    case 0x26: return R_ES;
    case 0x2E: return R_CS;
    case 0x36: return R_SS;
    case 0x3E: return R_DS;
    case 0x64: return R_FS;
    case 0x65: return R_GS;
    default: return -1;
    }
}

int vmdl__x86h_fetch_insn(struct vmdl_vcpu *v, struct hinsn *in)
{
    memset(in, 0, sizeof(*in));
    in->seg = -1;
    if (vmdl__x86h_opcode_at(v, in->op, &in->rex) < 0)
        return -1;
    const char *ctx = (const char *)X86(v)->ctx;   /* opcode_at saved it */
    seg_from_ctx(v, ctx, R_CS, &in->cs);
    uint32_t hflags = ctx_u32(v, ctx, v->vm->x86h->segs_off - 8);
    in->lma = hflags & HF_LMA;
    in->bits = (hflags & HF_CS64) ? 64 : (in->cs.flags & DESC_B) ? 32 : 16;
    uint64_t rip = rd(v, UC_X86_REG_RIP);
    in->rip = rip;
    in->la = in->bits == 64 ? rip : (uint32_t)(in->cs.base + rip);
    /* The whole instruction (at most 15 bytes); bytes on an unmapped page
     * read as zero: QEMU fetched the instruction before it intercepted. */
    if (!vmdl__x86h_lin_rw(v, in->la, in->b, sizeof(in->b), false)) {
        size_t first = 0x1000 - (in->la & 0xFFF);
        if (first >= sizeof(in->b) || !vmdl__x86h_lin_rw(v, in->la, in->b, first, false))
            return -1;
    }
    unsigned n = 0;
    while (n < 14 && is_prefix(in->b[n], in->bits == 64)) {
        uint8_t p = in->b[n];
        if (p == 0x66)
            in->opsize = true;
        else if (p == 0x67)
            in->adsize = true;
        else if (seg_prefix(p) >= 0)
            in->seg = seg_prefix(p);
        in->rex = (p & 0xF0) == 0x40 ? p : 0;   /* REX counts only last */
        n++;
    }
    in->pfx = n;
    memcpy(in->op, in->b + n, 3);
    return 0;
}

/* Operand size of an instruction whose default is the code size (16 with
 * 66h in 32-bit code, 64 with REX.W in 64-bit code). */
unsigned vmdl__x86h_opsize(const struct hinsn *in)
{
    if (in->bits == 64)
        return (in->rex & 8) ? 64 : in->opsize ? 16 : 32;
    return (in->bits == 32) != in->opsize ? 32 : 16;
}

static uint64_t gpr(struct vmdl_vcpu *v, unsigned n)
{
    return rd(v, vmdl__x86_gpr_uc[n]);
}

/* 16-bit addressing: the eight base/index pairs (SDM vol. 2, table 2-1). */
static uint64_t ea16(struct vmdl_vcpu *v, unsigned mod, unsigned rm, int64_t disp,
                     int *dseg)
{
    static const int8_t base[8] = { 3, 3, 5, 5, -1, -1, 5, 3 };  /* BX, BP */
    static const int8_t index[8] = { 6, 7, 6, 7, 6, 7, -1, -1 }; /* SI, DI */
    if (mod == 0 && rm == 6)
        return (uint64_t)disp & 0xFFFF;
    uint64_t a = (uint64_t)disp;
    if (base[rm] >= 0)
        a += gpr(v, (unsigned)base[rm]);
    if (index[rm] >= 0)
        a += gpr(v, (unsigned)index[rm]);
    *dseg = base[rm] == 5 ? R_SS : R_DS;
    return a & 0xFFFF;
}

int vmdl__x86h_modrm(struct vmdl_vcpu *v, const struct hinsn *in, unsigned at,
                     struct hmodrm *m)
{
    memset(m, 0, sizeof(*m));
    const uint8_t *b = in->b;
    if (at >= sizeof(in->b))
        return -1;
    unsigned modrm = b[at], mod = modrm >> 6, rm = modrm & 7, used = at + 1;
    m->reg = ((modrm >> 3) & 7) | ((in->rex & 4) << 1);
    if (mod == 3) {
        m->is_reg = true;
        m->rm = rm | ((in->rex & 1) << 3);
        m->len = used;
        return 0;
    }
    unsigned asz = in->bits == 64 ? (in->adsize ? 32 : 64)
                                  : ((in->bits == 32) != in->adsize ? 32 : 16);
    int dseg = R_DS;
    int64_t disp = 0;
    uint64_t off;
    if (asz == 16) {
        unsigned dl = mod == 1 ? 1 : (mod == 2 || (mod == 0 && rm == 6)) ? 2 : 0;
        if (used + dl > sizeof(in->b))
            return -1;
        disp = dl == 1 ? (int8_t)b[used] : dl == 2 ? (int16_t)(b[used] | b[used + 1] << 8) : 0;
        used += dl;
        off = ea16(v, mod, rm, disp, &dseg);
    } else {
        int base = -1, index = -1;
        unsigned scale = 0, dl = mod == 1 ? 1 : mod == 2 ? 4 : 0;
        bool riprel = false;
        if (rm == 4) {
            if (used >= sizeof(in->b))
                return -1;
            uint8_t sib = b[used++];
            unsigned idx = ((sib >> 3) & 7) | ((in->rex & 2) << 2), sb = sib & 7;
            scale = sib >> 6;
            index = idx == 4 ? -1 : (int)idx;
            if (sb == 5 && mod == 0)
                dl = 4;
            else
                base = (int)(sb | ((in->rex & 1) << 3));
        } else if (rm == 5 && mod == 0) {
            dl = 4;
            riprel = in->bits == 64;
        } else {
            base = (int)(rm | ((in->rex & 1) << 3));
        }
        if (used + dl > sizeof(in->b))
            return -1;
        if (dl == 1)
            disp = (int8_t)b[used];
        else if (dl == 4)
            disp = (int32_t)((uint32_t)b[used] | (uint32_t)b[used + 1] << 8 |
                             (uint32_t)b[used + 2] << 16 | (uint32_t)b[used + 3] << 24);
        used += dl;
        off = (uint64_t)disp;
        if (base >= 0)
            off += gpr(v, (unsigned)base);
        if (index >= 0)
            off += gpr(v, (unsigned)index) << scale;
        if (base == 4 || base == 5)
            dseg = R_SS;
        m->riprel = riprel;
        if (asz == 32)
            off = (uint32_t)off;
    }
    m->off = off;
    m->seg = in->seg >= 0 ? in->seg : dseg;
    m->asz = asz;
    m->len = used;
    return 0;
}

static unsigned cpl_now(struct vmdl_vcpu *v, const char *ctx)
{
    struct seg ss;
    seg_from_ctx(v, ctx, R_SS, &ss);
    return vmdl__x86h_cpl(&ss, rd(v, UC_X86_REG_CR0), rd(v, UC_X86_REG_RFLAGS));
}

static bool canonical(uint64_t la)
{
    return ((la + (1ull << 47)) >> 48) == 0;   /* bits 63:47 all equal */
}

/*
 * A data access of n bytes at seg:off (off already truncated to the
 * address size).  Segment checks outside 64-bit mode: a null or
 * not-present segment, a write to a read-only or code segment, a read of
 * an execute-only one, and the limit (expand-down too) give #GP(0), #SS(0)
 * for SS; in 64-bit mode a non-canonical address does.  Then the page
 * walk's rights (#PF).  Real and virtual-8086 mode check only the limit.
 */
bool vmdl__x86h_seg_access(struct vmdl_vcpu *v, bool lma64, int seg, uint64_t off,
                           void *buf, unsigned n, bool write, struct hfault *f)
{
    uc_context_save(v->uc, X86(v)->ctx);
    const char *ctx = (const char *)X86(v)->ctx;
    struct seg s;
    seg_from_ctx(v, ctx, seg, &s);
    unsigned cpl = cpl_now(v, ctx);
    memset(f, 0, sizeof(*f));
    f->vec = seg == R_SS ? 12 : 13;
    f->has_err = true;
    uint64_t la;
    if (lma64) {
        la = off + ((seg == R_FS || seg == R_GS) ? s.base : 0);
        if (!canonical(la) || !canonical(la + n - 1))
            return false;
    } else {
        bool prot = (rd(v, UC_X86_REG_CR0) & 1) && !(rd(v, UC_X86_REG_RFLAGS) & (1ull << 17));
        if (prot) {
            if (!(s.flags & DESC_P) || !(s.flags & DESC_S))
                return false;
            bool code = s.flags & DESC_CODE;
            if ((write && (code || !(s.flags & DESC_W))) || (!write && code && !(s.flags & DESC_W)))
                return false;
        }
        uint64_t last = off + n - 1;
        if (!(s.flags & DESC_CODE) && (s.flags & DESC_E) && prot) {
            uint64_t upper = (s.flags & DESC_B) ? 0xFFFFFFFFull : 0xFFFFull;
            if (off <= s.limit || last > upper)
                return false;
        } else if (last > s.limit) {
            return false;
        }
        la = (uint32_t)(s.base + off);
    }
    uint32_t err;
    uint64_t addr;
    if (!vmdl__x86h_lin_access(v, la, buf, n, write, cpl, &err, &addr)) {
        f->vec = err == VMDL__X86H_PF_NPF ? HFAULT_NPF : 14;
        f->err = err;
        f->cr2 = addr;
        return false;
    }
    return true;
}

int vmdl__x86h_raise(struct vmdl_vcpu *v, const struct hfault *f, bool *triple)
{
    if (f->vec == HFAULT_NPF) {
        /* The NPF event, with RIP still at the instruction: mapped, it
         * runs (and is completed) again. */
        pw64(v, H_VMCB + C_EXIT_INFO2, f->cr2);
        return vmdl__x86h_npf_exit(v, triple);
    }
    if (f->vec == 14)
        vmdl__x86h_set_cr2(v, f->cr2);
    return vmdl__x86h_deliver(v, f->vec, f->has_err, f->err, triple);
}

/* The memory operand of m as read or written by the instruction in. */
bool vmdl__x86h_operand_access(struct vmdl_vcpu *v, const struct hinsn *in,
                               const struct hmodrm *m, void *buf, unsigned n,
                               bool write, struct hfault *f)
{
    uint64_t off = m->off;
    if (m->riprel)
        off += in->rip + m->len;   /* LMSW/SMSW/PUSHF: no immediate follows */
    return vmdl__x86h_seg_access(v, in->bits == 64, m->seg, off, buf, n, write, f);
}

/*
 * PUSHF/PUSHFD/PUSHFQ (SDM vol. 2B): the flags image has VM and RF clear,
 * whatever their value; in virtual-8086 mode with IOPL < 3 it is #GP(0).
 * Unicorn's QEMU pushes RF, which its IRET set and which it clears only at
 * the end of a translation block that does not chain to the next one.
 */
int vmdl__x86h_pushf(struct vmdl_vcpu *v, bool *triple)
{
    struct hinsn in;
    if (vmdl__x86h_fetch_insn(v, &in) || in.op[0] != 0x9C)
        return vmdl__x86h_fault(v, VMDL_FAULT_UD, triple);
    uint64_t rflags = rd(v, UC_X86_REG_RFLAGS);
    if ((rflags & (1ull << 17)) && ((rflags >> 12) & 3) != 3)
        return vmdl__x86h_fault(v, VMDL_FAULT_GP, triple);
    unsigned size = in.bits == 64 ? (in.opsize ? 2 : 8) : vmdl__x86h_opsize(&in) / 8;
    uint64_t image = rflags & ~((1ull << 16) | (1ull << 17));
    uc_context_save(v->uc, X86(v)->ctx);
    struct seg ss;
    seg_from_ctx(v, (const char *)X86(v)->ctx, R_SS, &ss);
    uint64_t rsp = rd(v, UC_X86_REG_RSP);
    uint64_t mask = in.bits == 64 ? ~0ull : (ss.flags & DESC_B) ? 0xFFFFFFFFull : 0xFFFFull;
    uint64_t nsp = (rsp & ~mask) | ((rsp - size) & mask);
    struct hfault f;
    if (!vmdl__x86h_seg_access(v, in.bits == 64, R_SS, nsp & mask, &image, size, true, &f))
        return vmdl__x86h_raise(v, &f, triple);
    wr(v, UC_X86_REG_RSP, nsp);
    vmdl__x86h_retire(v, in.pfx + 1);
    return VMDL_OK;
}
