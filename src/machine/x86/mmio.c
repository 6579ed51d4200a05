/* SPDX-License-Identifier: MIT */
/*
 * x86 accesses to memory that is not RAM: device exits to the caller (plain
 * loads and stores, string elements), #GP for non-canonical addresses (on
 * the branch that jumped there), #PF beyond the identity-mapped 4 GiB.
 */
#include <string.h>

#include "x86.h"
#include "virtmodel/bits.h"
#include "virtmodel/error.h"

/* ---------------- MMIO to the caller ---------------- */

/*
 * A fetch from the non-canonical `target` that a branch just jumped to:
 * undo the branch so that the #GP is reported on it, and return its
 * address.  This needs the block layouts of instruction counting (Unicorn
 * does not say where a jump came from), so it is exact whenever counting
 * is on (vmdl_vcpu_need_insn_count, a model that needs time, several vCPUs,
 * an instruction limit); otherwise the fault is reported at the target.
 */
uint64_t vmdl__x86_unbranch(struct vmdl_vcpu *v, uint64_t target)
{
    uint64_t at;
    if (!vmdl__count_unretire_branch(v, &at))
        return target;
    cs_insn *in = NULL;
    if (vmdl__x86_insn_length(v, at, NULL, 0, &in) <= 0)
        return target;
    uint64_t rsp = rd(v, UC_X86_REG_RSP);
    bool near = true;
    switch (in->id) {
    case X86_INS_CALL:      /* the return address was pushed */
        near = in->detail->x86.operands[0].type != X86_OP_MEM ||
               in->detail->x86.operands[0].size == 8;
        rsp += 8;
        break;
    case X86_INS_RET:       /* the return address (and imm16) were popped */
        rsp -= 8 + (in->detail->x86.op_count ? (uint64_t)in->detail->x86.operands[0].imm : 0);
        break;
    case X86_INS_JMP:
        near = in->detail->x86.operands[0].type != X86_OP_MEM ||
               in->detail->x86.operands[0].size == 8;
        break;
    default:                /* Jcc, LOOP, JRCXZ: nothing else changed */
        near = cs_insn_group(v->vm->cs, in, CS_GRP_JUMP);
        break;
    }
    cs_free(in, 1);
    if (!near)
        return target;      /* far transfers: not undone */
    wr(v, UC_X86_REG_RSP, rsp);
    wr(v, UC_X86_REG_RIP, at);
    return at;
}

/*
 * String instructions (MOVS, STOS, LODS) touching memory that is neither
 * RAM nor a device: Unicorn stops at the element that faults, with RSI,
 * RDI and RCX already advanced past the elements before it.  Each such
 * element is one MMIO exit (KVM's emulator also goes element by element);
 * completing it advances the pointers and RCX, and with REP the
 * instruction restarts for the rest, which may run natively, exit again
 * or fault (a #PF beyond 4 GiB then shows RDI and RCX at that element).
 */
enum { STRING_NONE, STRING_MOVS, STRING_STOS, STRING_LODS };

static unsigned string_kind(const cs_insn *in)
{
    const cs_x86 *x = &in->detail->x86;
    if (x->prefix[3] == 0x67)   /* 32-bit addressing: not modelled here */
        return STRING_NONE;
    switch (x->opcode[0]) {
    case 0xA4: case 0xA5: return STRING_MOVS;
    case 0xAA: case 0xAB: return STRING_STOS;
    case 0xAC: case 0xAD: return STRING_LODS;
    default: return STRING_NONE;
    }
}

/* Can this element be completed?  Sets pending_string and pending_rep. */
static bool string_element(struct vmdl_vcpu *v, const cs_insn *in, bool is_write)
{
    unsigned kind = string_kind(in);
    if (kind == STRING_NONE || (kind == STRING_LODS && is_write) ||
        (kind == STRING_STOS && !is_write))
        return false;
    if (kind == STRING_MOVS && !is_write &&
        !vmdl_vm_ram_ptr(v->vm, rd(v, UC_X86_REG_RDI), v->exit.u.mmio.size))
        return false;   /* device to device (or to nowhere): not modelled */
    uint8_t rep = in->detail->x86.prefix[0];
    X86(v)->pending_string = (uint8_t)kind;
    X86(v)->pending_rep = rep == X86_PREFIX_REP || rep == X86_PREFIX_REPNE;
    return true;
}

/* Finish one element; the instruction retires after its last one. */
void vmdl__x86_complete_string(struct vmdl_vcpu *v, uint64_t value, bool is_read)
{
    unsigned size = v->exit.u.mmio.size;
    uint64_t step = rd(v, UC_X86_REG_RFLAGS) & RFLAGS_DF ? (uint64_t)-(int64_t)size : size;
    uint64_t rsi = rd(v, UC_X86_REG_RSI), rdi = rd(v, UC_X86_REG_RDI);
    switch (X86(v)->pending_string) {
    case STRING_LODS:
        vmdl__x86_write_gpr_sized(v, 0, (int)size, false, value);
        wr(v, UC_X86_REG_RSI, rsi + step);
        break;
    case STRING_MOVS:
        if (is_read)    /* the destination was checked to be RAM */
            uc_mem_write(v->uc, rdi, &value, size);   /* little-endian host */
        wr(v, UC_X86_REG_RSI, rsi + step);
        wr(v, UC_X86_REG_RDI, rdi + step);
        break;
    default:
        wr(v, UC_X86_REG_RDI, rdi + step);
        break;
    }
    X86(v)->pending_string = STRING_NONE;
    if (X86(v)->pending_rep) {
        uint64_t rcx = rd(v, UC_X86_REG_RCX) - 1;
        wr(v, UC_X86_REG_RCX, rcx);
        if (rcx)
            return;     /* RIP stays: the next element runs next */
    }
    vmdl__x86_retire(v, v->pending_len);
}

enum emu_result vmdl__x86_mmio_exit(struct vmdl_vcpu *v, uint64_t rip)
{
    bool fetch = v->stop_vector == UC_MEM_FETCH_UNMAPPED;
    bool exact = X86(v)->stop_rip_exact;
    X86(v)->stop_rip_exact = false;
    if (!fetch && !exact) {
        /* RIP is stale (the block's start): find the access itself. */
        struct locate_want w = {.addr = v->exit.u.mmio.addr};
        uint64_t at = vmdl__x86_locate_insn(v, rip, &w);
        if (!at)
            return EMU_NOT_EMULATED;
        rip = at;
        wr(v, UC_X86_REG_RIP, at);
    }
    uint64_t addr = fetch ? rip : v->exit.u.mmio.addr;
    if (!vmdl_is_canonical48(addr)) {
        /* A non-canonical address is #GP(0), not a page fault.  For a
         * branch to one, the CPU faults on the branch itself (SDM JMP/CALL/
         * RET: "IF tempRIP is not canonical THEN #GP(0)" before RIP is
         * loaded); Unicorn reports the fetch at the target. */
        if (fetch)
            rip = vmdl__x86_unbranch(v, rip);
        if (vmdl__x86_deliver(v, 13, true, 0, rip))
            return EMU_TRIPLE;
        vmdl__trace_exit(v, "noncanonical", rip, "#GP(0)");
        return EMU_DONE;
    }
    if (addr >= (1ull << 32)) {
        /* Beyond the identity-mapped 4 GiB nothing is mapped: #PF, with
         * CR2 and the error code's W/R and I/D bits as the CPU reports. */
        X86(v)->cr2 = addr;
        uint64_t ec = (v->exit.u.mmio.is_write ? 2 : 0) | (fetch ? 16 : 0);
        if (vmdl__x86_deliver(v, 14, true, ec, rip))
            return EMU_TRIPLE;
        vmdl__trace_exit(v, "page-fault", rip, "#PF");
        return EMU_DONE;
    }
    if (fetch)
        return EMU_NOT_EMULATED;
    v->exit.reason = VMDL_EXIT_MMIO;
    v->exit.pc = rip;
    cs_insn *in = NULL;
    int len = vmdl__x86_insn_length(v, rip, NULL, 0, &in);
    if (len <= 0)
        return EMU_NOT_EMULATED;
    v->pending_len = (unsigned)len;
    v->pending = v->exit.u.mmio.is_write ? PENDING_MMIO_WRITE : PENDING_MMIO_READ;
    v->pending_reg = 0xFF;
    X86(v)->pending_string = STRING_NONE;
    if (string_kind(in) != STRING_NONE) {
        if (!string_element(v, in, v->exit.u.mmio.is_write)) {
            cs_free(in, 1);
            v->pending = PENDING_NONE;
            return EMU_NOT_EMULATED;
        }
    } else if (!v->exit.u.mmio.is_write) {
        /* Only plain loads into a register can be completed later. */
        const cs_x86 *x = &in->detail->x86;
        int idx, size;
        bool high;
        if ((in->id == X86_INS_MOV || in->id == X86_INS_MOVZX ||
             in->id == X86_INS_MOVSX || in->id == X86_INS_MOVSXD) &&
            x->op_count == 2 && x->operands[0].type == X86_OP_REG &&
            vmdl__x86_cs_gpr(v->vm->cs, x->operands[0].reg, &idx, &size, &high) && !high) {
            v->pending_reg = (uint8_t)idx;
            v->pending_size = (uint8_t)size;
            v->exit.u.mmio.data = in->id == X86_INS_MOVSX || in->id == X86_INS_MOVSXD;
        } else {
            cs_free(in, 1);
            v->pending = PENDING_NONE;
            return EMU_NOT_EMULATED;
        }
    }
    cs_free(in, 1);
    vmdl__trace_exit(v, "mmio", rip, "to caller");
    return EMU_TO_CALLER;
}
