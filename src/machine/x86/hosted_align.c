/* SPDX-License-Identifier: MIT */
/*
 * Alignment faults the hosted x86 vCPU raises because QEMU 5.0's TCG
 * (Unicorn 2.1.1) never does (its softmmu accesses carry no alignment, and
 * target/i386 has no #AC at all; docs/unicorn.md):
 *
 *  - #AC(0), vector 17: a data or stack access at CPL 3 whose address is
 *    not a multiple of its size while CR0.AM and RFLAGS.AC are both set
 *    (SDM vol. 3A 6.15, "Interrupt 17", table "Alignment Requirements by
 *    Data Type"): word 2, doubleword / 32-bit pointer 4, quadword and
 *    80-bit x87 operands 8, 48-bit far pointer 4, 32-bit far pointer and
 *    selector 2, SGDT/SIDT images 4, FSTENV/FSAVE areas 2 or 4 by operand
 *    size, bit strings 2 or 4.  128-bit operands never raise #AC (the
 *    manual: those are #GP's); accesses that default to CPL 0 (descriptor
 *    tables, the TSS, the stack of an interrupt taken from CPL 3) are not
 *    checked.
 *  - #GP(0): a legacy-SSE instruction with a 16-byte memory operand that is
 *    not 16-byte aligned, except the ones defined unaligned (MOVUPS,
 *    MOVUPD, MOVDQU, LDDQU, the SSE4.2 string compares): SDM vol. 2,
 *    "Exceptions Type 1/2/4".  VEX forms are #UD in QEMU 5.0 (no AVX).
 *
 * Both are checked right before the instruction, by a Unicorn code hook,
 * so the fault is taken with RIP at it and nothing of it done.  What makes
 * them cheap where no check can fire:
 *
 *  - The block hook (insn_count.c) decodes each translation block once
 *    with Capstone; a block holding an aligned-SSE instruction with a memory
 *    operand gets a code hook bounded to that instruction, and the block is
 *    retranslated with it (Unicorn compiles code hooks into blocks: the
 *    engine leaves before the block and runs it again).  Code without such
 *    instructions never calls anything.
 *  - #AC needs CR0.AM, which only MOV to CR0 and VM entries change, all of
 *    them the machine's: while it is clear nothing is watched.  While it is
 *    set, the block hook looks at every block entry (block_watch): QEMU
 *    ends a block at every instruction that can change CPL or RFLAGS.AC
 *    (POPF, IRET, far transfers, SYSRET; both are part of its block key),
 *    so RFLAGS.AC and the CPL at the block's start hold for the whole block.
 *    The first block at CPL 3 with AC set installs a code hook on every
 *    instruction (the translated code is dropped once, 8 MiB zeroed); it
 *    checks only while the current block runs at CPL 3 with AC and stays
 *    until CR0.AM is cleared.
 *
 * Not checked: FXSAVE/FXRSTOR and XSAVE (QEMU raises their #GP itself), the
 * unit a BT/BTS/BTR/BTC with a register bit offset reaches (its operand's
 * address is), CMPXCHG16B (QEMU's #GP), more than X86_MAX_ALIGN_SITES
 * aligned-SSE instructions (the first ones keep their hooks), and code
 * patched after its block was decoded (the block cache keeps the first
 * decoding, so a new aligned-SSE instruction there gets no hook; a hooked
 * one is decoded again when its bytes or the mode change, sse_check).
 */
#include <stdio.h>
#include <string.h>

#include "hosted.h"
#include "walk.h"

#define CR0_TS (1ull << 3)
#define CR0_EM (1ull << 2)
#define CR0_AM (1ull << 18)
#define CR4_OSFXSR (1ull << 9)
#define RFLAGS_VM (1ull << 17)
#define RFLAGS_AC (1ull << 18)

static bool private_code(uint64_t a) { return a >= H_BASE && a < H_BASE + H_SIZE; }

/* ---- which instructions ------------------------------------------------- */

static bool is_xmm(unsigned r) { return r >= X86_REG_XMM0 && r <= X86_REG_XMM31; }

/* VEX (C4/C5), EVEX (62) or XOP (8F) after the legacy prefixes and REX. */
static bool vex_encoded(const cs_insn *in)
{
    unsigned n = 0;
    while (n < in->size && (in->bytes[n] == 0x66 || in->bytes[n] == 0x67 ||
                            in->bytes[n] == 0xF2 || in->bytes[n] == 0xF3 ||
                            in->bytes[n] == 0xF0 || in->bytes[n] == 0x2E ||
                            in->bytes[n] == 0x36 || in->bytes[n] == 0x3E ||
                            in->bytes[n] == 0x26 || in->bytes[n] == 0x64 ||
                            in->bytes[n] == 0x65 || (in->bytes[n] & 0xF0) == 0x40))
        n++;
    return n < in->size && (in->bytes[n] == 0xC4 || in->bytes[n] == 0xC5 ||
                            in->bytes[n] == 0x62 || in->bytes[n] == 0x8F);
}

bool vmdl__x86_insn_align_checked(const cs_insn *in)
{
    if (!in->detail)
        return false;
    switch (in->id) {
    case X86_INS_MOVUPS: case X86_INS_MOVUPD: case X86_INS_MOVDQU: case X86_INS_LDDQU:
    case X86_INS_PCMPESTRI: case X86_INS_PCMPESTRM: case X86_INS_PCMPISTRI:
    case X86_INS_PCMPISTRM:
        return false;
    default:
        break;
    }
    const cs_x86 *x = &in->detail->x86;
    bool xmm = false, m128 = false;
    for (unsigned i = 0; i < x->op_count; i++) {
        if (x->operands[i].type == X86_OP_REG && is_xmm(x->operands[i].reg))
            xmm = true;
        if (x->operands[i].type == X86_OP_MEM && x->operands[i].size == 16)
            m128 = true;
    }
    return xmm && m128 && !vex_encoded(in);
}

/* ---- decoding and addresses at the instruction about to run ------------- */

struct align_ctx {
    struct vmdl_vcpu *v;
    cs_insn *in;
    unsigned bits;           /* code size */
    bool have_segs;
    struct seg segs[6];      /* outside 64-bit mode: every segment's base */
};

/* Up to 15 instruction bytes at la (fewer at the end of a mapped page). */
static size_t read_code(struct vmdl_vcpu *v, uint64_t la, uint8_t b[15])
{
    if (vmdl__x86h_lin_rw(v, la, b, 15, false))
        return 15;
    size_t n = 0x1000 - (la & 0xFFF);
    return n < 15 && vmdl__x86h_lin_rw(v, la, b, n, false) ? n : 0;
}

static cs_insn *decode_at(struct vmdl_vcpu *v, uint64_t la, uint64_t ip)
{
    uint8_t b[15];
    size_t n = read_code(v, la, b);
    cs_insn *in = NULL;
    if (!n || cs_disasm(vmdl__x86_cs(v), b, n, ip, 1, &in) != 1)
        return NULL;
    if (!in->detail) {
        cs_free(in, 1);
        return NULL;
    }
    return in;
}

static uint64_t seg_base(struct align_ctx *c, int r)
{
    if (c->bits == 64)
        return r == R_FS ? rd(c->v, UC_X86_REG_FS_BASE)
                         : r == R_GS ? rd(c->v, UC_X86_REG_GS_BASE) : 0;
    if (!c->have_segs) {
        uc_context_save(c->v->uc, X86(c->v)->ctx);
        for (int i = 0; i < 6; i++)
            seg_from_ctx(c->v, (const char *)X86(c->v)->ctx, i, &c->segs[i]);
        c->have_segs = true;
    }
    return c->segs[r].base;
}

static int seg_of(unsigned cs_seg)
{
    switch (cs_seg) {
    case X86_REG_ES: return R_ES;
    case X86_REG_CS: return R_CS;
    case X86_REG_SS: return R_SS;
    case X86_REG_FS: return R_FS;
    case X86_REG_GS: return R_GS;
    default: return R_DS;
    }
}

static uint64_t addr_mask(unsigned bytes)
{
    return bytes >= 8 ? ~0ull : (1ull << (8 * bytes)) - 1;
}

/* The linear address of a memory operand. */
static uint64_t mem_linear(struct align_ctx *c, const cs_x86_op *op)
{
    const cs_insn *in = c->in;
    uint64_t next = in->address + in->size;
    uint64_t ea = vmdl__x86_reg_value(c->v, op->mem.base, next) +
                  vmdl__x86_reg_value(c->v, op->mem.index, next) * (uint64_t)op->mem.scale +
                  (uint64_t)op->mem.disp;
    ea &= addr_mask(in->detail->x86.addr_size);
    int seg = op->mem.segment != X86_REG_INVALID ? seg_of(op->mem.segment)
              : (op->mem.base == X86_REG_RSP || op->mem.base == X86_REG_ESP ||
                 op->mem.base == X86_REG_SP || op->mem.base == X86_REG_RBP ||
                 op->mem.base == X86_REG_EBP || op->mem.base == X86_REG_BP) ? R_SS : R_DS;
    uint64_t la = seg_base(c, seg) + ea;
    return c->bits == 64 ? la : (uint32_t)la;
}

/* ---- #GP(0) for an aligned-SSE operand ----------------------------------- */

static int8_t site_reg(unsigned cs_reg, uint8_t *size)
{
    int idx = -1, sz = 8;
    bool high = false;
    if (cs_reg == X86_REG_INVALID)
        return -1;
    if (cs_reg == X86_REG_RIP || cs_reg == X86_REG_EIP) {
        *size = cs_reg == X86_REG_RIP ? 8 : 4;
        return X86_ALIGN_RIP;
    }
    if (!vmdl__x86_cs_gpr(0, cs_reg, &idx, &sz, &high) || high)
        return -1;
    *size = (uint8_t)sz;
    return (int8_t)idx;
}

/* Decode the site's instruction (bytes b, the mode now) into its cache. */
static void site_decode(struct vmdl_vcpu *v, struct x86_align_site *s, const uint8_t *b,
                        size_t n, uint16_t sel, bool lma, bool pe)
{
    s->decoded = true;
    s->checked = false;
    s->cs_sel = sel;
    s->lma = lma;
    s->pe = pe;
    s->bits = (uint8_t)vmdl__x86h_code_bits(v);
    cs_insn *in = NULL;
    if (cs_disasm(vmdl__x86_cs_for_bits(v->vm, s->bits), b, n, rd(v, UC_X86_REG_RIP), 1,
                  &in) != 1) {
        s->len = 0;
        return;
    }
    s->len = (uint8_t)in->size;
    memcpy(s->bytes, b, in->size);
    const cs_x86 *x = in->detail ? &in->detail->x86 : NULL;
    for (unsigned i = 0; x && vmdl__x86_insn_align_checked(in) && i < x->op_count; i++) {
        const cs_x86_op *op = &x->operands[i];
        if (op->type != X86_OP_MEM || op->size != 16)
            continue;
        s->base = site_reg(op->mem.base, &s->base_size);
        s->index = site_reg(op->mem.index, &s->index_size);
        s->scale = (uint8_t)op->mem.scale;
        s->disp = op->mem.disp;
        s->asize = x->addr_size;
        bool stack = op->mem.base == X86_REG_RSP || op->mem.base == X86_REG_ESP ||
                     op->mem.base == X86_REG_SP || op->mem.base == X86_REG_RBP ||
                     op->mem.base == X86_REG_EBP || op->mem.base == X86_REG_BP;
        s->seg = (int8_t)(op->mem.segment != X86_REG_INVALID ? seg_of(op->mem.segment)
                                                             : stack ? R_SS : R_DS);
        /* a base or index the table does not know: not checked */
        s->checked = (op->mem.base == X86_REG_INVALID || s->base >= 0) &&
                     (op->mem.index == X86_REG_INVALID || s->index >= 0);
        break;
    }
    cs_free(in, 1);
}

static uint64_t site_reg_value(struct vmdl_vcpu *v, int8_t r, uint8_t size, uint64_t next)
{
    if (r < 0)
        return 0;
    uint64_t x = r == X86_ALIGN_RIP ? next : rd(v, vmdl__x86_gpr_uc[r]);
    return x & addr_mask(size);
}

/* The linear address of the site's 16-byte operand now. */
static uint64_t site_linear(struct vmdl_vcpu *v, const struct x86_align_site *s)
{
    uint64_t next = rd(v, UC_X86_REG_RIP) + s->len;
    uint64_t ea = site_reg_value(v, s->base, s->base_size, next) +
                  site_reg_value(v, s->index, s->index_size, next) * s->scale +
                  (uint64_t)s->disp;
    ea &= addr_mask(s->asize);
    struct align_ctx c = {.v = v, .bits = s->bits};
    uint64_t la = seg_base(&c, s->seg) + ea;
    return s->bits == 64 ? la : (uint32_t)la;
}

/*
 * Is the site's instruction, about to run, an aligned-SSE one with a
 * misaligned operand?  Its decoding is kept with its bytes and the mode
 * (CS selector, EFER.LMA, CR0.PE) and made again when either differs; a
 * mode change that keeps all three (a far jump to the same selector after
 * its descriptor was rewritten) would keep the old decoding.
 */
static bool sse_check(struct vmdl_vcpu *v, struct x86_align_site *s, uint64_t la)
{
    /* #UD (EM, no OSFXSR) and #NM (TS) come first: QEMU raises them. */
    uint64_t cr0 = rd(v, UC_X86_REG_CR0);
    if ((cr0 & (CR0_EM | CR0_TS)) || !(rd(v, UC_X86_REG_CR4) & CR4_OSFXSR))
        return false;
    uint8_t b[15];
    size_t n = read_code(v, la, b);
    if (!n)
        return false;
    uint16_t sel = (uint16_t)rd(v, UC_X86_REG_CS);
    bool lma = vmdl__x86h_rdmsr(v, MSR_EFER) & (1ull << 10), pe = cr0 & 1;
    if (!s->decoded || sel != s->cs_sel || lma != s->lma || pe != s->pe || !s->len ||
        n < s->len || memcmp(b, s->bytes, s->len))
        site_decode(v, s, b, n, sel, lma, pe);
    return s->checked && (site_linear(v, s) & 15);
}

/* ---- #AC(0) ----------------------------------------------------------- */

/* The alignment an explicit memory operand needs (0: none checked). */
static unsigned op_align(const cs_insn *in, const cs_x86_op *op, unsigned opsize)
{
    switch (in->id) {
    case X86_INS_LEA: case X86_INS_NOP: case X86_INS_PREFETCH: case X86_INS_PREFETCHNTA:
    case X86_INS_PREFETCHT0: case X86_INS_PREFETCHT1: case X86_INS_PREFETCHT2:
    case X86_INS_PREFETCHW: case X86_INS_CLFLUSH: case X86_INS_CLFLUSHOPT:
    case X86_INS_CLWB: case X86_INS_INVLPG: case X86_INS_LGDT: case X86_INS_LIDT:
    case X86_INS_LLDT: case X86_INS_LTR: case X86_INS_FXSAVE: case X86_INS_FXSAVE64:
    case X86_INS_FXRSTOR: case X86_INS_FXRSTOR64: case X86_INS_XSAVE: case X86_INS_XSAVE64:
    case X86_INS_XRSTOR: case X86_INS_XRSTOR64: case X86_INS_XSAVEOPT:
    case X86_INS_XSAVEOPT64: case X86_INS_CMPXCHG16B:
        return 0;
    case X86_INS_SGDT: case X86_INS_SIDT:
        return 4;
    case X86_INS_FNSTENV: case X86_INS_FLDENV: case X86_INS_FNSAVE: case X86_INS_FRSTOR:
        return opsize == 2 ? 2 : 4;
    default:
        break;
    }
    switch (op->size) {
    case 2: return 2;
    case 4: return 4;
    case 6: return 4;           /* 48-bit far pointer (m16:32) */
    case 8: return 8;
    case 10: return 8;          /* x87 80-bit, m16:64 far pointer */
    default: return 0;          /* bytes; 128-bit (#GP's) */
    }
}

/* The operand size of a stack access (push/pop width). */
static unsigned stack_size(const struct align_ctx *c)
{
    bool o16 = c->in->detail->x86.prefix[2] == 0x66;
    bool w = c->in->detail->x86.rex & 8;
    if (c->bits == 64)
        return o16 && !w ? 2 : 8;
    return (c->bits == 32) != o16 ? 4 : 2;
}

/* An implicit stack access: its offset from RSP (before the instruction)
 * and whether the instruction makes one. */
static bool stack_access(const struct align_ctx *c, int64_t *off, unsigned *size)
{
    unsigned s = stack_size(c);
    switch (c->in->id) {
    case X86_INS_PUSH: case X86_INS_PUSHF: case X86_INS_PUSHFD: case X86_INS_PUSHFQ:
    case X86_INS_CALL: case X86_INS_LCALL: case X86_INS_ENTER: case X86_INS_PUSHAW:
    case X86_INS_PUSHAL:
        *off = -(int64_t)s;
        break;
    case X86_INS_POP: case X86_INS_POPF: case X86_INS_POPFD: case X86_INS_POPFQ:
    case X86_INS_RET: case X86_INS_RETF: case X86_INS_RETFQ: case X86_INS_IRET:
    case X86_INS_IRETD: case X86_INS_IRETQ: case X86_INS_POPAW: case X86_INS_POPAL:
        *off = 0;
        break;
    default:
        return false;
    }
    *size = s;
    return true;
}

/* Would the access page-fault at CPL 3?  Then the #PF is the fault (the
 * manual lists data page faults before alignment checks). */
static bool would_fault(struct vmdl_vcpu *v, uint64_t la, unsigned n, bool write)
{
    if (!(rd(v, UC_X86_REG_CR0) & VMDL_X86_CR0_PG))
        return false;
    struct vmdl__x86_paging p;
    struct vmdl__x86_pmem m;
    vmdl__x86h_paging_now(v, &p);
    vmdl__x86h_pmem(v, &m);
    unsigned access = VMDL_WALK_CHECK | VMDL_WALK_USER | VMDL_WALK_AC |
                      (write ? VMDL_WALK_WRITE : 0);
    struct vmdl__x86_xlate x;
    return !vmdl__x86_walk(&p, &m, la, access, &x) ||
           (((la + n - 1) ^ la) >> 12 && !vmdl__x86_walk(&p, &m, la + n - 1, access, &x));
}

static bool misaligned(struct vmdl_vcpu *v, uint64_t la, unsigned align, unsigned n,
                       bool write)
{
    return align > 1 && (la & (align - 1)) && !would_fault(v, la, n, write);
}

static unsigned ac_check(struct vmdl_vcpu *v, uint64_t la)
{
    struct align_ctx c = {.v = v, .bits = vmdl__x86h_code_bits(v)};
    c.in = decode_at(v, la, rd(v, UC_X86_REG_RIP));
    if (!c.in)
        return 0;
    const cs_x86 *x = &c.in->detail->x86;
    unsigned opsize = stack_size(&c);
    bool bad = false;
    for (unsigned i = 0; i < x->op_count && !bad; i++) {
        const cs_x86_op *op = &x->operands[i];
        if (op->type != X86_OP_MEM)
            continue;
        unsigned a = op_align(c.in, op, opsize);
        bad = misaligned(v, mem_linear(&c, op), a, op->size ? op->size : a,
                         op->access & CS_AC_WRITE);
    }
    int64_t off = 0;
    unsigned size = 0;
    if (!bad && stack_access(&c, &off, &size)) {
        uint64_t rsp = rd(v, UC_X86_REG_RSP);
        uint64_t mask = ~0ull;
        if (c.bits != 64) {
            (void)seg_base(&c, R_SS);
            mask = (c.segs[R_SS].flags & DESC_B) ? 0xFFFFFFFFull : 0xFFFFull;
        }
        uint64_t sp = (rsp + (uint64_t)off) & mask;
        uint64_t lin = seg_base(&c, R_SS) + sp;
        if (c.bits != 64)
            lin = (uint32_t)lin;
        bad = misaligned(v, lin, size, size, off < 0);
    }
    if (!bad && c.in->id == X86_INS_LEAVE) {       /* pops at RBP */
        uint64_t bp = rd(v, UC_X86_REG_RBP);
        if (c.bits != 64) {
            uint64_t base = seg_base(&c, R_SS);
            bp &= (c.segs[R_SS].flags & DESC_B) ? 0xFFFFFFFFull : 0xFFFFull;
            bp = (uint32_t)(base + bp);
        }
        bad = misaligned(v, bp, opsize, opsize, false);
    }
    cs_free(c.in, 1);
    return bad ? 17 : 0;
}

/* ---- the hooks --------------------------------------------------------- */

static void align_stop(uc_engine *uc, struct vmdl_vcpu *v, unsigned vec)
{
    X86(v)->h_align_vec = vec;
    if (v->stop == STOP_NONE || v->stop == STOP_KICK) {
        v->stop = STOP_INTR;
        v->stop_vector = EXCP_ALIGN;
    }
    uc_emu_stop(uc);
}

static void sse_cb(uc_engine *uc, uint64_t addr, uint32_t size, void *user)
{
    struct x86_align_site *site = user;
    struct vmdl_vcpu *v = site->v;
    (void)size;
    if (v->stop != STOP_NONE || private_code(addr))
        return;
    if (sse_check(v, site, addr))
        align_stop(uc, v, 13);
}

static void ac_cb(uc_engine *uc, uint64_t addr, uint32_t size, void *user)
{
    struct vmdl_vcpu *v = user;
    (void)size;
    if (!X86(v)->h_ac_on || v->stop != STOP_NONE || private_code(addr))
        return;
    unsigned vec = ac_check(v, addr);
    if (vec)
        align_stop(uc, v, vec);
}

bool vmdl__x86_arm_checks(struct vmdl_vcpu *v, const uint64_t *at, unsigned n)
{
    struct x86_vcpu *x = X86(v);
    bool added = false;
    if (!x->hosted)
        return false;
    for (unsigned i = 0; i < n; i++) {
        bool have = false;
        for (unsigned k = 0; k < x->h_sse_n && !have; k++)
            have = x->h_sse[k].la == at[i];
        if (have || x->h_sse_n >= X86_MAX_ALIGN_SITES || private_code(at[i]))
            continue;
        struct x86_align_site *site = &x->h_sse[x->h_sse_n];
        *site = (struct x86_align_site){.v = v, .la = at[i]};
        uc_hook h = 0;
        if (uc_hook_add(v->uc, &h, UC_HOOK_CODE, UC_CB(sse_cb), site, at[i], at[i]) !=
            UC_ERR_OK)
            continue;
        x->h_sse_n++;
        v->code_hooks = true;
        /* Blocks carry their hooks from translation: this one again. */
        uc_ctl_remove_cache(v->uc, at[i], at[i] + 1);
        added = true;
    }
    return added;
}

static bool at_cpl3(struct vmdl_vcpu *v, uint64_t rflags)
{
    if (!(rd(v, UC_X86_REG_CR0) & 1))
        return false;
    return (rflags & RFLAGS_VM) || (rd(v, UC_X86_REG_CS) & 3) == 3;
}

void vmdl__x86_set_block_pc(struct vmdl_vcpu *v, uint64_t addr)
{
    wr(v, UC_X86_REG_RIP, X86(v)->hosted ? vmdl__x86h_block_rip(v, addr) : addr);
}

bool vmdl__x86_block_watch(struct vmdl_vcpu *v, uint64_t addr)
{
    struct x86_vcpu *x = X86(v);
    x->h_ac_on = false;
    if (!x->hosted || private_code(addr))
        return false;
    /* CS.RPL is the CPL in protected mode: most blocks are decided by it
     * alone (reading RFLAGS computes QEMU's lazy flags).  Only legacy
     * protected mode has virtual-8086 mode, CPL 3 whatever CS holds. */
    if (!x->h_ac_vm86 && (rd(v, UC_X86_REG_CS) & 3) != 3)
        return false;
    uint64_t fl = rd(v, UC_X86_REG_RFLAGS);
    if (!(fl & RFLAGS_AC) || !at_cpl3(v, fl))
        return false;
    x->h_ac_on = true;
    if (x->h_ac_hook)
        return false;
    /* The checking hook is not compiled into this code yet: leave before
     * the block, install it (vmdl__x86h_align_sync), run the block again. */
    x->h_ac_want = true;
    return true;
}

/* Before every entry: CR0.AM as the guest will run (a MOV to CR0 that
 * changes AM is never completed inside the engine: it drops the translated
 * code, hosted_cr.c, so the next entry comes here). */
void vmdl__x86h_align_sync(struct vmdl_vcpu *v)
{
    struct x86_vcpu *x = X86(v);
    uint64_t cr0 = x->hosted_vmrun ? pr64(v, H_VMCB + S_CR0) : rd(v, UC_X86_REG_CR0);
    bool am = cr0 & CR0_AM;
    if (am) {
        uint64_t efer = x->hosted_vmrun ? pr64(v, H_VMCB + S_EFER)
                                        : vmdl__x86h_rdmsr(v, MSR_EFER);
        x->h_ac_vm86 = (cr0 & 1) && !(efer & (1ull << 10));
    }
    if (v->block_watch != am) {
        v->block_watch = am;
        vmdl__count_no_fast(v);
    }
    x->h_ac_on = false;
    if (!am && x->h_ac_hook) {
        /* Deleting drops the blocks it was compiled into (Unicorn). */
        uc_hook_del(v->uc, x->h_ac_hook);
        x->h_ac_hook = 0;
    } else if (am && x->h_ac_want && !x->h_ac_hook) {
        if (uc_hook_add(v->uc, &x->h_ac_hook, UC_HOOK_CODE, UC_CB(ac_cb), v, 1, 0) !=
            UC_ERR_OK) {
            x->h_ac_hook = 0;
        } else {
            v->code_hooks = true;
            uc_ctl_flush_tb(v->uc);
        }
    }
    x->h_ac_want = false;
}

/* A check stopped the engine before the instruction (EXCP_ALIGN): the
 * fault, offered to a nested guest's hypervisor first (its exception
 * bitmap), else delivered through the guest's IDT. */
int vmdl__x86h_align_exit(struct vmdl_vcpu *v, bool *triple)
{
    unsigned vec = X86(v)->h_align_vec;
    X86(v)->h_align_vec = 0;
    char out[32];
    snprintf(out, sizeof(out), "%s(0)", vec == 17 ? "#AC" : "#GP");
    vmdl__trace_exit(v, "alignment", rd(v, UC_X86_REG_RIP), out);
    struct vmdl_x86_event ev = {.kind = VMDL_X86_EVENT_EXCEPTION, .vector = vec,
                                .has_error = true, .error_code = 0};
    if (X86(v)->nested && vmdl__x86h_event(v, &ev))
        return VMDL_OK;
    return vmdl__x86h_deliver(v, vec, true, 0, triple);
}
