/* SPDX-License-Identifier: MIT */
/*
 * x86 decoding helpers over Capstone: general registers by Capstone id,
 * effective addresses, instruction lengths, and the VMX/SEAM instruction
 * decoder (Capstone 4.0.2 does not know the SEAM family: decoded from
 * their bytes).
 */
#include <stdlib.h>
#include <string.h>

#include "x86.h"
#include "hosted.h"
#include "virtmodel/error.h"


const int vmdl__x86_gpr_uc[16] = {
    UC_X86_REG_RAX, UC_X86_REG_RCX, UC_X86_REG_RDX, UC_X86_REG_RBX,
    UC_X86_REG_RSP, UC_X86_REG_RBP, UC_X86_REG_RSI, UC_X86_REG_RDI,
    UC_X86_REG_R8, UC_X86_REG_R9, UC_X86_REG_R10, UC_X86_REG_R11,
    UC_X86_REG_R12, UC_X86_REG_R13, UC_X86_REG_R14, UC_X86_REG_R15,
};

/* Map a Capstone register to (GPR index, size in bytes, high-byte): by
 * Capstone 4's register numbers (a name comparison cost a string compare
 * per register on every decoded memory operand). */
bool vmdl__x86_cs_gpr(csh cs, unsigned reg, int *idx, int *size, bool *high)
{
    (void)cs;
    static const uint16_t by_size[4][8] = {
        {X86_REG_RAX, X86_REG_RCX, X86_REG_RDX, X86_REG_RBX, X86_REG_RSP, X86_REG_RBP,
         X86_REG_RSI, X86_REG_RDI},
        {X86_REG_EAX, X86_REG_ECX, X86_REG_EDX, X86_REG_EBX, X86_REG_ESP, X86_REG_EBP,
         X86_REG_ESI, X86_REG_EDI},
        {X86_REG_AX, X86_REG_CX, X86_REG_DX, X86_REG_BX, X86_REG_SP, X86_REG_BP,
         X86_REG_SI, X86_REG_DI},
        {X86_REG_AL, X86_REG_CL, X86_REG_DL, X86_REG_BL, X86_REG_SPL, X86_REG_BPL,
         X86_REG_SIL, X86_REG_DIL},
    };
    static const uint16_t high8[4] = {X86_REG_AH, X86_REG_CH, X86_REG_DH, X86_REG_BH};
    static const int bytes[4] = {8, 4, 2, 1};
    *high = false;
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < 8; i++)
            if (reg == by_size[k][i]) {
                *idx = i;
                *size = bytes[k];
                return true;
            }
    for (int i = 0; i < 4; i++)
        if (reg == high8[i]) {
            *idx = i;
            *size = 1;
            *high = true;
            return true;
        }
    static const struct { uint16_t first; int size; } ext[4] = {
        {X86_REG_R8, 8}, {X86_REG_R8D, 4}, {X86_REG_R8W, 2}, {X86_REG_R8B, 1}};
    for (int k = 0; k < 4; k++)
        if (reg >= ext[k].first && reg < ext[k].first + 8u) {
            *idx = 8 + (int)(reg - ext[k].first);
            *size = ext[k].size;
            return true;
        }
    return false;
}

void vmdl__x86_write_gpr_sized(struct vmdl_vcpu *v, int idx, int size, bool high,
                            uint64_t val)
{
    uint64_t old = rd(v, vmdl__x86_gpr_uc[idx]);
    uint64_t nv;
    switch (size) {
    case 8: nv = val; break;
    case 4: nv = (uint32_t)val; break; /* 32-bit writes zero-extend */
    case 2: nv = (old & ~0xFFFFull) | (val & 0xFFFF); break;
    default:
        nv = high ? (old & ~0xFF00ull) | ((val & 0xFF) << 8)
                  : (old & ~0xFFull) | (val & 0xFF);
        break;
    }
    wr(v, vmdl__x86_gpr_uc[idx], nv);
}

static uint64_t seg_base(struct vmdl_vcpu *v, unsigned cs_seg)
{
    if (cs_seg == X86_REG_FS)
        return rd(v, UC_X86_REG_FS_BASE);
    if (cs_seg == X86_REG_GS)
        return rd(v, UC_X86_REG_GS_BASE);
    return 0;
}

uint64_t vmdl__x86_reg_value(struct vmdl_vcpu *v, unsigned cs_reg, uint64_t next_rip)
{
    if (cs_reg == X86_REG_INVALID)
        return 0;
    if (cs_reg == X86_REG_RIP)
        return next_rip;
    int idx, size;
    bool high;
    if (!vmdl__x86_cs_gpr(v->vm->cs, cs_reg, &idx, &size, &high))
        return 0;
    uint64_t x = rd(v, vmdl__x86_gpr_uc[idx]);
    if (high)
        return (x >> 8) & 0xFF;
    return size == 8 ? x : x & ((1ull << (8 * size)) - 1);
}

uint64_t vmdl__x86_mem_addr(struct vmdl_vcpu *v, const cs_insn *in, const cs_x86_op *op)
{
    uint64_t next = in->address + in->size;
    uint64_t a = seg_base(v, op->mem.segment) + vmdl__x86_reg_value(v, op->mem.base, next) +
                 vmdl__x86_reg_value(v, op->mem.index, next) * (uint64_t)op->mem.scale +
                 (uint64_t)op->mem.disp;
    return a;
}

/* The SEAM family, 66 0F 01 xx (unknown to Capstone 4.0.2). */
static const struct seam_insn {
    uint8_t byte;
    enum vmdl_x86_special kind;
    const char *name;
} seam_insns[] = {
    {0xCF, VMDL_INSN_SEAMCALL, "seamcall"}, {0xCC, VMDL_INSN_TDCALL, "tdcall"},
    {0xCD, VMDL_INSN_SEAMRET, "seamret"}, {0xCE, VMDL_INSN_SEAMOPS, "seamops"},
};

static const struct seam_insn *seam_insn(const uint8_t *code, size_t n)
{
    if (n < 4 || code[0] != 0x66 || code[1] != 0x0F || code[2] != 0x01)
        return NULL;
    for (unsigned i = 0; i < sizeof(seam_insns) / sizeof(seam_insns[0]); i++)
        if (code[3] == seam_insns[i].byte)
            return &seam_insns[i];
    return NULL;
}

static const char *seam_name(const uint8_t *code, size_t n)
{
    const struct seam_insn *s = seam_insn(code, n);
    return s ? s->name : NULL;
}

/*
 * The Capstone handle for the code the vCPU runs now.  The VM's own handle
 * decodes 64-bit code; a hosted vCPU may run 16- or 32-bit code, where the
 * same bytes are other instructions (0x40-0x4F are INC/DEC there, REX
 * prefixes in 64-bit mode), so its VM keeps a handle per size.  On the
 * hosted vCPU finding the size costs a copy of the engine's state: callers
 * that decode many instructions of one stretch ask once.
 */
csh vmdl__x86_cs_for_bits(struct vmdl_vm *vm, unsigned bits)
{
    if (bits == 64 || !vm->x86h)
        return vm->cs;
    csh h = bits == 32 ? vm->x86h->cs32 : vm->x86h->cs16;
    return h ? h : vm->cs;
}

csh vmdl__x86_cs(struct vmdl_vcpu *v)
{
    if (!X86(v)->hosted)
        return v->vm->cs;       /* the deprivileged vCPU runs long mode only */
    return vmdl__x86_cs_for_bits(v->vm, vmdl__x86h_code_bits(v));
}

/* One instruction at rip with handle h (length, or -1; *out to cs_free). */
int vmdl__x86_decode_with(struct vmdl_vcpu *v, csh h, uint64_t rip, cs_insn **out)
{
    uint8_t code[15];
    size_t n = vmdl__fetch(v, rip, code, sizeof(code));
    cs_insn *in = NULL;
    if (!n || cs_disasm(h, code, n, rip, 1, &in) != 1)
        return -1;
    int len = in->size;
    if (out)
        *out = in;
    else
        cs_free(in, 1);
    return len;
}

int vmdl__x86_insn_length(struct vmdl_vcpu *v, uint64_t rip, char *text,
                          size_t text_len, cs_insn **out)
{
    uint8_t code[15];
    size_t n = vmdl__fetch(v, rip, code, sizeof(code));
    cs_insn *in = NULL;
    if (!n || cs_disasm(vmdl__x86_cs(v), code, n, rip, 1, &in) != 1)
        return -1;
    if (text)
        snprintf(text, text_len, "%s %s", in->mnemonic, in->op_str);
    int len = in->size;
    if (out)
        *out = in;
    else
        cs_free(in, 1);
    return len;
}

void vmdl__x86_disasm(struct vmdl_vcpu *v, uint64_t pc, char *buf, size_t len)
{
    uint8_t code[15];
    size_t n = vmdl__fetch(v, pc, code, sizeof(code));
    cs_insn *in = NULL;
    if (n && cs_disasm(vmdl__x86_cs(v), code, n, pc, 1, &in) == 1) {
        snprintf(buf, len, "%s %s", in->mnemonic, in->op_str);
        cs_free(in, 1);
        return;
    }
    /* Capstone 4.0.2 does not know the SEAM instructions. */
    const char *name = seam_name(code, n);
    snprintf(buf, len, "%s", name ? name : "(undecodable)");
}

static void fill_operand(struct vmdl_vcpu *v, const cs_insn *in, const cs_x86_op *op,
                         struct vmdl_x86_operand *out)
{
    static const struct { const char *name; enum vmdl_reg reg; } regs[] = {
        {"rax", VMDL_X86_RAX}, {"rcx", VMDL_X86_RCX}, {"rdx", VMDL_X86_RDX},
        {"rbx", VMDL_X86_RBX}, {"rsp", VMDL_X86_RSP}, {"rbp", VMDL_X86_RBP},
        {"rsi", VMDL_X86_RSI}, {"rdi", VMDL_X86_RDI}, {"r8", VMDL_X86_R8},
        {"r9", VMDL_X86_R9}, {"r10", VMDL_X86_R10}, {"r11", VMDL_X86_R11},
        {"r12", VMDL_X86_R12}, {"r13", VMDL_X86_R13}, {"r14", VMDL_X86_R14},
        {"r15", VMDL_X86_R15},
    };
    memset(out, 0, sizeof(*out));
    if (op->type == X86_OP_MEM) {
        out->kind = VMDL_OPND_MEM;
        out->addr = vmdl__x86_mem_addr(v, in, op);
        /* SS: by override, or by default with an RSP/RBP base. */
        unsigned b = op->mem.base;
        out->stack = op->mem.segment == X86_REG_SS ||
                     (op->mem.segment == X86_REG_INVALID &&
                      (b == X86_REG_RSP || b == X86_REG_RBP || b == X86_REG_ESP ||
                       b == X86_REG_EBP));
    } else if (op->type == X86_OP_REG) {
        const char *name = cs_reg_name(v->vm->cs, op->reg);
        for (unsigned i = 0; name && i < sizeof(regs) / sizeof(regs[0]); i++)
            if (!strcmp(name, regs[i].name)) {
                out->kind = VMDL_OPND_REG;
                out->reg = regs[i].reg;
            }
    }
}

/* ---- VMREAD / VMWRITE without Capstone ---- */

static const char *const gpr_name[16] = {
    "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
    "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
};

/* A ModRM memory operand (64-bit addressing). */
struct modrm_mem {
    int base, index;      /* GPR numbers, -1 none; base -2: RIP */
    unsigned scale;
    int64_t disp;
};

static char *put_str(char *p, char *end, const char *s)
{
    while (*s && p < end)
        *p++ = *s++;
    return p;
}

static char *put_hex(char *p, char *end, uint64_t x)
{
    char tmp[16];
    int n = 0;
    do {
        tmp[n++] = "0123456789abcdef"[x & 15];
        x >>= 4;
    } while (x);
    p = put_str(p, end, "0x");
    while (n && p < end)
        *p++ = tmp[--n];
    return p;
}

/* Intel syntax as Capstone prints it: "qword ptr [rax + rcx*8 + 0x10]". */
static char *put_mem(char *p, char *end, const struct modrm_mem *m)
{
    bool any = false;
    p = put_str(p, end, "qword ptr [");
    if (m->base != -1) {
        p = put_str(p, end, m->base == -2 ? "rip" : gpr_name[m->base]);
        any = true;
    }
    if (m->index >= 0) {
        p = put_str(p, end, any ? " + " : "");
        p = put_str(p, end, gpr_name[m->index]);
        p = put_str(p, end, m->scale == 1 ? "" : m->scale == 2 ? "*2" : m->scale == 4 ? "*4" : "*8");
        any = true;
    }
    if (!any) {
        p = put_hex(p, end, (uint64_t)m->disp); /* an absolute address */
    } else if (m->disp) {
        uint64_t mag = m->disp < 0 ? -(uint64_t)m->disp : (uint64_t)m->disp;
        p = put_str(p, end, m->disp < 0 ? " - " : " + ");
        p = put_hex(p, end, mag);
    }
    return put_str(p, end, "]");
}

static void fmt_vmrw(struct vmdl_x86_insn *insn, bool write, int reg, int rm,
                     const struct modrm_mem *m)
{
    char *p = insn->text, *end = insn->text + sizeof(insn->text) - 1;
    p = put_str(p, end, write ? "vmwrite " : "vmread ");
    if (write) {
        p = put_str(p, end, gpr_name[reg]);
        p = put_str(p, end, ", ");
    }
    p = rm >= 0 ? put_str(p, end, gpr_name[rm]) : put_mem(p, end, m);
    if (!write) {
        p = put_str(p, end, ", ");
        p = put_str(p, end, gpr_name[reg]);
    }
    *p = 0;
}

static uint64_t gpr_read(struct vmdl_vcpu *v, int n)
{
    return rd(v, vmdl__x86_gpr_uc[n]);
}

/* ModRM [+ SIB] [+ displacement] from code[0]; bytes used, 0 if truncated.
 * *rm is the register of a register operand, -1 for memory. */
static unsigned decode_modrm(const uint8_t *code, size_t n, uint8_t rex, int *reg,
                             int *rm, struct modrm_mem *m)
{
    if (n < 1)
        return 0;
    unsigned mod = code[0] >> 6, used = 1;
    *reg = ((code[0] >> 3) & 7) | ((rex & 4) << 1);
    unsigned r = code[0] & 7;
    *rm = -1;
    memset(m, 0, sizeof(*m));
    m->base = m->index = -1;
    m->scale = 1;
    if (mod == 3) {
        *rm = (int)(r | ((rex & 1) << 3));
        return used;
    }
    unsigned disp_len = mod == 1 ? 1 : mod == 2 ? 4 : 0;
    if (r == 4) {
        if (n < 2)
            return 0;
        uint8_t sib = code[used++];
        unsigned idx = ((sib >> 3) & 7) | ((rex & 2) << 2), b = sib & 7;
        m->scale = 1u << (sib >> 6);
        m->index = idx == 4 ? -1 : (int)idx;
        if (b == 5 && mod == 0)
            disp_len = 4;
        else
            m->base = (int)(b | ((rex & 1) << 3));
    } else if (r == 5 && mod == 0) {
        m->base = -2; /* RIP-relative */
        disp_len = 4;
    } else {
        m->base = (int)(r | ((rex & 1) << 3));
    }
    if (n < used + disp_len)
        return 0;
    if (disp_len == 1)
        m->disp = (int8_t)code[used];
    else if (disp_len == 4) {
        int32_t d;
        memcpy(&d, code + used, 4);
        m->disp = d;
    }
    return used + disp_len;
}

/*
 * VMREAD (0F 78 /r) and VMWRITE (0F 79 /r) in 64-bit mode, with at most a
 * REX prefix: the fixed encodings a nested hypervisor's hot path uses, so
 * they skip Capstone.  Other prefixes (segment, address size; 66/F2/F3 make
 * them SSE4a instructions) return false and take the general decoder.
 */
bool vmdl__x86_decode_vmrw(struct vmdl_vcpu *v, const uint8_t *code, size_t n,
                           uint64_t rip, struct vmdl_x86_insn *insn)
{
    unsigned p = 0;
    uint8_t rex = 0;
    if (n > 0 && (code[0] & 0xF0) == 0x40)
        rex = code[p++];
    if (n < p + 3 || code[p] != 0x0F || (code[p + 1] != 0x78 && code[p + 1] != 0x79))
        return false;
    bool write = code[p + 1] == 0x79;
    int reg, rm;
    struct modrm_mem m;
    unsigned used = decode_modrm(code + p + 2, n - p - 2, rex, &reg, &rm, &m);
    if (!used)
        return false;
    memset(insn, 0, sizeof(*insn));
    insn->code_bits = 64;
    insn->kind = write ? VMDL_INSN_VMWRITE : VMDL_INSN_VMREAD;
    insn->length = p + 2 + used;
    /* Operands in Intel order (machine.h): VMREAD r/m, reg; VMWRITE reg, r/m. */
    struct vmdl_x86_operand *o_rm = &insn->op[write ? 1 : 0], *o_reg = &insn->op[write ? 0 : 1];
    o_reg->kind = VMDL_OPND_REG;
    o_reg->reg = (enum vmdl_reg)(VMDL_X86_RAX + reg);
    if (rm >= 0) {
        o_rm->kind = VMDL_OPND_REG;
        o_rm->reg = (enum vmdl_reg)(VMDL_X86_RAX + rm);
    } else {
        uint64_t a = (uint64_t)m.disp;
        if (m.base == -2)
            a += rip + insn->length;
        else if (m.base >= 0)
            a += gpr_read(v, m.base);
        if (m.index >= 0)
            a += gpr_read(v, m.index) * m.scale;
        o_rm->kind = VMDL_OPND_MEM;
        o_rm->addr = a;
        o_rm->stack = m.base == 4 || m.base == 5;       /* RSP, RBP: SS */
    }
    fmt_vmrw(insn, write, reg, rm, &m);
    return true;
}

int vmdl__x86_decode_special(struct vmdl_vcpu *v, uint64_t rip,
                             struct vmdl_x86_insn *insn)
{
    memset(insn, 0, sizeof(*insn));
    insn->code_bits = 64;
    uint8_t code[15];
    size_t n = vmdl__fetch(v, rip, code, sizeof(code));
    if (vmdl__x86_decode_vmrw(v, code, n, rip, insn))
        return VMDL_OK;
    const struct seam_insn *s = seam_insn(code, n);
    if (s) {
        insn->kind = s->kind;
        insn->length = 4;
        snprintf(insn->text, sizeof(insn->text), "%s", s->name);
        return VMDL_OK;
    }
    cs_insn *in = NULL;
    if (!n || cs_disasm(v->vm->cs, code, n, rip, 1, &in) != 1)
        return VMDL_ENOENT;
    static const struct { unsigned id; enum vmdl_x86_special k; } map[] = {
        {X86_INS_VMXON, VMDL_INSN_VMXON}, {X86_INS_VMXOFF, VMDL_INSN_VMXOFF},
        {X86_INS_VMCLEAR, VMDL_INSN_VMCLEAR}, {X86_INS_VMPTRLD, VMDL_INSN_VMPTRLD},
        {X86_INS_VMPTRST, VMDL_INSN_VMPTRST}, {X86_INS_VMREAD, VMDL_INSN_VMREAD},
        {X86_INS_VMWRITE, VMDL_INSN_VMWRITE}, {X86_INS_VMLAUNCH, VMDL_INSN_VMLAUNCH},
        {X86_INS_VMRESUME, VMDL_INSN_VMRESUME}, {X86_INS_VMCALL, VMDL_INSN_VMCALL},
        {X86_INS_VMFUNC, VMDL_INSN_VMFUNC}, {X86_INS_INVEPT, VMDL_INSN_INVEPT},
        {X86_INS_INVVPID, VMDL_INSN_INVVPID},
    };
    int err = VMDL_ENOENT;
    for (unsigned i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (in->id != map[i].id)
            continue;
        insn->kind = map[i].k;
        insn->length = in->size;
        snprintf(insn->text, sizeof(insn->text), "%.15s %.46s", in->mnemonic, in->op_str);
        const cs_x86 *x = &in->detail->x86;
        for (unsigned o = 0; o < x->op_count && o < 2; o++)
            fill_operand(v, in, &x->operands[o], &insn->op[o]);
        err = VMDL_OK;
        break;
    }
    cs_free(in, 1);
    return err;
}

bool vmdl__x86_insn_is_branch(const cs_insn *in)
{
    if (!in->detail)
        return false;
    for (unsigned g = 0; g < in->detail->groups_count; g++) {
        switch (in->detail->groups[g]) {
        case CS_GRP_JUMP: case CS_GRP_CALL: case CS_GRP_RET: case CS_GRP_IRET:
            return true;
        default: break;
        }
    }
    return false;
}

/* STI, and MOV SS / POP SS, block interrupts for one instruction. */
bool vmdl__x86_insn_is_shadow(const cs_insn *in)
{
    if (in->id == X86_INS_STI)
        return true;
    if ((in->id == X86_INS_POP || in->id == X86_INS_MOV) && in->detail) {
        const cs_x86 *x = &in->detail->x86;
        if (x->op_count >= 1 && x->operands[0].type == X86_OP_REG &&
            x->operands[0].reg == X86_REG_SS)
            return true;
    }
    return false;
}

