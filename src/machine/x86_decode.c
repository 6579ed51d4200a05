/* SPDX-License-Identifier: MIT */
/*
 * Decoding of trapped instructions with Capstone, and the few that Capstone
 * 4.0.2 does not know (the SEAM family), decoded from their bytes.
 */
#include <string.h>

#include "machine_internal.h"
#include "virtmodel/error.h"


static size_t fetch(struct vmdl_vcpu *v, uint64_t pc, uint8_t *buf, size_t max)
{
    /* Read what is readable, up to max bytes (an instruction may end right
     * before the end of RAM). */
    size_t n = max;
    while (n > 0 && uc_mem_read(v->uc, pc, buf, n) != UC_ERR_OK)
        n--;
    return n;
}

int vmdl__x86_insn_length(struct vmdl_vcpu *v, uint64_t rip, char *text,
                          size_t text_len, cs_insn **out)
{
    uint8_t code[15];
    size_t n = fetch(v, rip, code, sizeof(code));
    cs_insn *in = NULL;
    if (!n || cs_disasm(v->vm->cs, code, n, rip, 1, &in) != 1)
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

void vmdl__disasm(struct vmdl_vcpu *v, uint64_t pc, char *buf, size_t len)
{
    uint8_t code[16];
    size_t n = fetch(v, pc, code, v->vm->arch == VMDL_ARCH_X86_64 ? 15 : 4);
    cs_insn *in = NULL;
    if (n && cs_disasm(v->vm->cs, code, n, pc, 1, &in) == 1) {
        snprintf(buf, len, "%s %s", in->mnemonic, in->op_str);
        cs_free(in, 1);
        return;
    }
    /* Capstone 4.0.2 does not know the SEAM instructions. */
    if (v->vm->arch == VMDL_ARCH_X86_64 && n >= 4 && code[0] == 0x66 &&
        code[1] == 0x0F && code[2] == 0x01) {
        const char *name = code[3] == 0xCF ? "seamcall" : code[3] == 0xCC ? "tdcall"
                         : code[3] == 0xCD ? "seamret" : code[3] == 0xCE ? "seamops" : NULL;
        if (name) {
            snprintf(buf, len, "%s", name);
            return;
        }
    }
    if (v->vm->arch == VMDL_ARCH_ARM64 && n == 4) {
        uint32_t w;
        memcpy(&w, code, 4);
        snprintf(buf, len, ".inst 0x%08x", w);
        return;
    }
    snprintf(buf, len, "(undecodable)");
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
    } else if (op->type == X86_OP_REG) {
        const char *name = cs_reg_name(v->vm->cs, op->reg);
        for (unsigned i = 0; name && i < sizeof(regs) / sizeof(regs[0]); i++)
            if (!strcmp(name, regs[i].name)) {
                out->kind = VMDL_OPND_REG;
                out->reg = regs[i].reg;
            }
    }
}

int vmdl__x86_decode_special(struct vmdl_vcpu *v, uint64_t rip,
                             struct vmdl_x86_insn *insn)
{
    memset(insn, 0, sizeof(*insn));
    uint8_t code[15];
    size_t n = fetch(v, rip, code, sizeof(code));
    if (n >= 4 && code[0] == 0x66 && code[1] == 0x0F && code[2] == 0x01) {
        static const struct { uint8_t b; enum vmdl_x86_special k; const char *t; } seam[] = {
            {0xCF, VMDL_INSN_SEAMCALL, "seamcall"}, {0xCC, VMDL_INSN_TDCALL, "tdcall"},
            {0xCD, VMDL_INSN_SEAMRET, "seamret"}, {0xCE, VMDL_INSN_SEAMOPS, "seamops"},
        };
        for (unsigned i = 0; i < 4; i++)
            if (code[3] == seam[i].b) {
                insn->kind = seam[i].k;
                insn->length = 4;
                snprintf(insn->text, sizeof(insn->text), "%s", seam[i].t);
                return VMDL_OK;
            }
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
