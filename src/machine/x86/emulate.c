/* SPDX-License-Identifier: MIT */
/*
 * Emulation of the x86 privileged instructions that trap at CPL3 (#GP):
 * MOV to/from CR and DR (DR: to the model that serves it), LIDT/LGDT, HLT,
 * CLTS, LMSW, SWAPGS, XSETBV, the TLB/cache no-ops; the instructions Unicorn
 * leaves undefined (RDPMC); and the VMX and SEAM families, handed to the
 * model that serves them or to the caller.
 */
#include <stdlib.h>
#include <string.h>

#include "x86.h"
#include "virtmodel/bits.h"
#include "virtmodel/error.h"

/* PE MP EM TS ET NE WP AM NW CD PG */
#define CR0_DEFINED_BITS 0xE005003Full

/* CR4 bits that exist only when CPUID reports their feature (KVM's
 * __cr4_reserved_bits): the bit, then the CPUID leaf (subleaf 0),
 * register (0 EAX .. 3 EDX) and bit that report it. */
static const struct { uint8_t cr4_bit; uint32_t leaf; uint8_t reg, bit; } cr4_features[] = {
    { 11, 7, 2, 2 },    /* UMIP */
    { 12, 7, 2, 16 },   /* LA57 */
    { 13, 1, 2, 5 },    /* VMXE */
    { 14, 1, 2, 6 },    /* SMXE */
    { 16, 7, 1, 0 },    /* FSGSBASE */
    { 17, 1, 2, 17 },   /* PCIDE */
    { 18, 1, 2, 26 },   /* OSXSAVE needs XSAVE */
    { 20, 7, 1, 7 },    /* SMEP */
    { 21, 7, 1, 20 },   /* SMAP */
    { 22, 7, 2, 3 },    /* PKE */
    { 24, 7, 2, 31 },   /* PKS */
};

/* CR4 bits this vCPU accepts: the architectural ones that its CPUID table
 * advertises (VMXE needs CPUID.1:ECX.VMX, as KVM's kvm_is_valid_cr4). */
uint64_t vmdl__x86_cr4_allowed(struct vmdl_vcpu *v)
{
    uint64_t ok = (1u << 0) | (1u << 1) | (1u << 2) | (1u << 3) | (1u << 4) |
                  (1u << 5) | (1u << 6) | (1u << 7) | (1u << 8) | (1u << 9) |
                  (1u << 10);
    for (unsigned i = 0; i < sizeof(cr4_features) / sizeof(cr4_features[0]); i++)
        if (vmdl__x86_cpuid_has(v->vm, cr4_features[i].leaf, cr4_features[i].reg,
                                cr4_features[i].bit))
            ok |= 1ull << cr4_features[i].cr4_bit;
    return ok;
}

static enum emu_result emu_mov_cr(struct vmdl_vcpu *v, const cs_insn *in,
                                  uint64_t rip)
{
    const cs_x86 *x = &in->detail->x86;
    if (x->op_count != 2 || x->operands[0].type != X86_OP_REG ||
        x->operands[1].type != X86_OP_REG)
        return EMU_NOT_EMULATED;
    const char *dst = cs_reg_name(v->vm->cs, x->operands[0].reg);
    const char *src = cs_reg_name(v->vm->cs, x->operands[1].reg);
    bool to_cr = dst && !strncmp(dst, "cr", 2);
    const char *crn = to_cr ? dst : src;
    if (!crn || strncmp(crn, "cr", 2))
        return EMU_NOT_EMULATED;
    int n = atoi(crn + 2);
    int idx, size;
    bool high;
    if (!vmdl__x86_cs_gpr(v->vm->cs, x->operands[to_cr ? 1 : 0].reg, &idx, &size, &high))
        return EMU_NOT_EMULATED;
    char out[64];
    if (!to_cr) {
        uint64_t val;
        enum vmdl_reg map[9] = {VMDL_X86_CR0, 0, VMDL_X86_CR2, VMDL_X86_CR3,
                                VMDL_X86_CR4, 0, 0, 0, VMDL_X86_CR8};
        if (n > 8 || (n != 0 && !map[n]))
            return vmdl__x86_raise(v, VMDL_FAULT_UD, rip);
        vmdl_vcpu_get_reg(v, map[n], &val);
        wr(v, vmdl__x86_gpr_uc[idx], val);
        snprintf(out, sizeof(out), "cr%d -> 0x%llx", n, (unsigned long long)val);
        vmdl__trace_exit(v, "mov-cr", rip, out);
        vmdl__x86_retire(v, in->size);
        return EMU_DONE;
    }
    uint64_t val = rd(v, vmdl__x86_gpr_uc[idx]);
    uint64_t old = n == 0 ? X86(v)->cr0 : n == 3 ? X86(v)->cr3 : n == 4 ? X86(v)->cr4 : 0;
    vmdl_fault f = VMDL_FAULT_NONE;
    if (n == 0 || n == 4)
        vmdl__x86_exit_cost(v, vmdl__x86_cr_write_kind((unsigned)n, old, val));
    switch (n) {
    case 0:
        /* As KVM's kvm_set_cr0: bits 63:32 fault, reserved bits 31:0 are
         * dropped, ET reads as 1; paging and protection stay on in long
         * mode, and NW without CD faults. */
        if ((val >> 32) || !(val & 1) || !(val & (1ull << 31)) ||
            ((val & (1ull << 29)) && !(val & (1ull << 30))))
            f = VMDL_FAULT_GP;
        else
            X86(v)->cr0 = (val & CR0_DEFINED_BITS) | (1u << 4);
        break;
    case 2: X86(v)->cr2 = val; break;
    case 3:
        if (val >> 52)
            f = VMDL_FAULT_GP;
        else
            X86(v)->cr3 = val; /* recorded: the harness keeps its identity map */
        break;
    case 4:
        if ((val & ~vmdl__x86_cr4_allowed(v)) || !(val & (1u << 5)))
            f = VMDL_FAULT_GP; /* reserved bit, or clearing PAE in long mode */
        else
            X86(v)->cr4 = val;
        break;
    case 8:
        if (val > 15)
            f = VMDL_FAULT_GP;
        else
            vmdl_vcpu_set_reg(v, VMDL_X86_CR8, val);
        break;
    default:
        f = VMDL_FAULT_UD;
        break;
    }
    snprintf(out, sizeof(out), "cr%d <- 0x%llx%s%s", n, (unsigned long long)val,
             f ? " " : "", f ? vmdl_fault_name(f) : "");
    vmdl__trace_exit(v, "mov-cr", rip, out);
    if (f)
        return vmdl__x86_raise(v, f, rip);
    vmdl__x86_serialize_cost(v, (unsigned)n, old, val);
    vmdl__x86_retire(v, in->size);
    return EMU_DONE;
}

/* MOV to/from DRn: answered by the model that serves DR accesses (SEV-ES);
 * without one the #GP stands. */
static enum emu_result emu_mov_dr(struct vmdl_vcpu *v, const cs_insn *in,
                                  uint64_t rip)
{
    const cs_x86 *x = &in->detail->x86;
    const struct dr_handler *h = &v->vm->dr;
    if (!h->fn || x->op_count != 2 || x->operands[0].type != X86_OP_REG ||
        x->operands[1].type != X86_OP_REG)
        return EMU_NOT_EMULATED;
    const char *dst = cs_reg_name(v->vm->cs, x->operands[0].reg);
    bool to_dr = dst && !strncmp(dst, "dr", 2);
    const char *drn = to_dr ? dst : cs_reg_name(v->vm->cs, x->operands[1].reg);
    int idx, size;
    bool high;
    if (!drn || strncmp(drn, "dr", 2) ||
        !vmdl__x86_cs_gpr(v->vm->cs, x->operands[to_dr ? 1 : 0].reg, &idx, &size, &high))
        return EMU_NOT_EMULATED;
    unsigned n = (unsigned)atoi(drn + 2);
    uint64_t val = to_dr ? rd(v, vmdl__x86_gpr_uc[idx]) : 0, code = 0;
    vmdl_fault f = h->fn(h->opaque, v, to_dr, n, &val, &code);
    char out[80];
    snprintf(out, sizeof(out), "dr%u %s 0x%llx%s%s", n, to_dr ? "<-" : "->",
             (unsigned long long)val, f ? " " : "", f ? vmdl_fault_name(f) : "");
    vmdl__trace_exit(v, "mov-dr", rip, out);
    if (f == VMDL_FAULT_UNCLAIMED)
        return EMU_NOT_EMULATED;
    if (f)
        return vmdl__x86_raise_code(v, f, code, rip);
    if (!to_dr)
        wr(v, vmdl__x86_gpr_uc[idx], val);
    vmdl__x86_retire(v, in->size);
    return EMU_DONE;
}

static enum emu_result emu_mov(struct vmdl_vcpu *v, const cs_insn *in, uint64_t rip)
{
    enum emu_result r = emu_mov_cr(v, in, rip);
    return r == EMU_NOT_EMULATED ? emu_mov_dr(v, in, rip) : r;
}

static enum emu_result emu_descriptor_table(struct vmdl_vcpu *v, const cs_insn *in,
                                            uint64_t rip, bool idt)
{
    const cs_x86 *x = &in->detail->x86;
    if (x->op_count != 1 || x->operands[0].type != X86_OP_MEM)
        return EMU_NOT_EMULATED;
    uint64_t addr = vmdl__x86_mem_addr(v, in, &x->operands[0]);
    uint8_t buf[10];
    if (!vmdl_is_canonical48(addr))
        return vmdl__x86_raise(v, VMDL_FAULT_GP, rip);
    if (vmdl_guest_read(&v->vm->mem, addr, buf, sizeof(buf)))
        return vmdl__x86_raise(v, VMDL_FAULT_PF, rip);
    uint16_t limit = (uint16_t)(buf[0] | buf[1] << 8);
    uint64_t base = 0;
    memcpy(&base, buf + 2, 8);
    if (idt) {
        X86(v)->idtr_base = base;
        X86(v)->idtr_limit = limit;
        /* Mirror it so that SIDT (which does not trap at CPL3) reads back
         * what the guest loaded; Unicorn never uses it for delivery. */
        uc_x86_mmr idtr = {0, base, limit, 0};
        uc_reg_write(v->uc, UC_X86_REG_IDTR, &idtr);
    } else {
        X86(v)->gdtr_base = base;
        X86(v)->gdtr_limit = limit;
    }
    char out[64];
    snprintf(out, sizeof(out), "base 0x%llx limit 0x%x", (unsigned long long)base, limit);
    vmdl__trace_exit(v, idt ? "lidt" : "lgdt", rip, out);
    vmdl__x86_retire(v, in->size);
    return EMU_DONE;
}

static enum emu_result done(struct vmdl_vcpu *v, const cs_insn *in)
{
    vmdl__x86_retire(v, in->size);
    return EMU_DONE;
}

/* LMSW loads CR0[3:0] and cannot clear PE. */
static enum emu_result emu_lmsw(struct vmdl_vcpu *v, const cs_insn *in, uint64_t rip)
{
    const cs_x86 *x = &in->detail->x86;
    uint64_t val = 0;
    if (x->operands[0].type == X86_OP_REG)
        val = vmdl__x86_reg_value(v, x->operands[0].reg, rip + in->size);
    else
        vmdl_guest_read(&v->vm->mem, vmdl__x86_mem_addr(v, in, &x->operands[0]), &val, 2);
    X86(v)->cr0 = (X86(v)->cr0 & ~0xEull) | (val & 0xF) | (X86(v)->cr0 & 1);
    return done(v, in);
}

static enum emu_result emu_swapgs(struct vmdl_vcpu *v, const cs_insn *in)
{
    uint64_t gs = rd(v, UC_X86_REG_GS_BASE);
    wr(v, UC_X86_REG_GS_BASE, X86(v)->kernel_gs_base);
    X86(v)->kernel_gs_base = gs;
    return done(v, in);
}

static enum emu_result emu_xsetbv(struct vmdl_vcpu *v, const cs_insn *in, uint64_t rip)
{
    vmdl__x86_exit_cost(v, VMDL_XK_XSETBV);
    uint32_t ecx = (uint32_t)rd(v, UC_X86_REG_RCX);
    uint64_t val = (rd(v, UC_X86_REG_RDX) << 32) | (uint32_t)rd(v, UC_X86_REG_RAX);
    if (ecx != 0 || !(val & 1) || (val & ~7ull) || ((val & 4) && !(val & 2)))
        return vmdl__x86_raise(v, VMDL_FAULT_GP, rip);
    X86(v)->xcr0 = val;
    return done(v, in);
}

static enum emu_result emu_hlt(struct vmdl_vcpu *v, const cs_insn *in, uint64_t rip)
{
    vmdl__x86_exit_cost(v, VMDL_XK_HLT);
    vmdl__trace_exit(v, "hlt", rip, "halted");
    vmdl__x86_retire(v, in->size);
    vmdl__halt(v);
    return EMU_DONE;
}

static enum emu_result emu_one(struct vmdl_vcpu *v, const cs_insn *in, uint64_t rip)
{
    switch (in->id) {
    case X86_INS_RDMSR: return vmdl__x86_emu_msr(v, false, rip, in->size);
    case X86_INS_WRMSR: return vmdl__x86_emu_msr(v, true, rip, in->size);
    case X86_INS_RDPMC: return vmdl__x86_emu_rdpmc(v, rip, in->size);
    case X86_INS_RDTSC:
    case X86_INS_RDTSCP: return vmdl__x86_emu_rdtsc(v, in);
    case X86_INS_HLT: return emu_hlt(v, in, rip);
    case X86_INS_MOV: return emu_mov(v, in, rip);
    case X86_INS_LIDT: return emu_descriptor_table(v, in, rip, true);
    case X86_INS_LGDT: return emu_descriptor_table(v, in, rip, false);
    case X86_INS_CLTS:
        X86(v)->cr0 &= ~(1ull << 3);
        return done(v, in);
    case X86_INS_LMSW: return emu_lmsw(v, in, rip);
    case X86_INS_SWAPGS: return emu_swapgs(v, in);
    case X86_INS_XSETBV: return emu_xsetbv(v, in, rip);
    case X86_INS_INVD: case X86_INS_WBINVD:
        vmdl__x86_exit_cost(v, VMDL_XK_CACHE);
        __attribute__((fallthrough));
    case X86_INS_INVLPG:
    case X86_INS_LTR: case X86_INS_LLDT: case X86_INS_INVPCID:
        /* No TLB, caches or task state to model: retire. */
        vmdl__trace_exit(v, "priv-nop", rip, "retired");
        return done(v, in);
    default:
        return EMU_NOT_EMULATED;
    }
}

/* A #GP at CPL3: the privileged instruction the guest meant at CPL0. */
enum emu_result vmdl__x86_emu_gp(struct vmdl_vcpu *v, uint64_t rip)
{
    /* RDMSR and WRMSR without prefixes (0F 32, 0F 30) are by far the most
     * frequent #GP: known from their two bytes, they skip Capstone, which
     * was a quarter of the trapped access (docs/performance.md).  Any other
     * form, prefixed ones included, takes the general decode below. */
    uint8_t b[2];
    if (vmdl__fetch(v, rip, b, sizeof(b)) == sizeof(b) && b[0] == 0x0F &&
        (b[1] == 0x32 || b[1] == 0x30)) {
        vmdl__x86_site_learn(v, rip);
        return vmdl__x86_emu_msr(v, b[1] == 0x30, rip, 2);
    }
    cs_insn *in = NULL;
    if (vmdl__x86_insn_length(v, rip, NULL, 0, &in) <= 0)
        return EMU_NOT_EMULATED;
    enum emu_result r = emu_one(v, in, rip);
    cs_free(in, 1);
    return r;
}

/* Instructions Unicorn leaves unimplemented (#UD) that the architecture has:
 * RDPMC (QEMU does not implement it). */
static enum emu_result emu_unimplemented(struct vmdl_vcpu *v, uint64_t rip)
{
    cs_insn *in = NULL;
    if (vmdl__x86_insn_length(v, rip, NULL, 0, &in) <= 0)
        return EMU_NOT_EMULATED;
    enum emu_result r = EMU_NOT_EMULATED;
    if (in->id == X86_INS_RDPMC)
        r = vmdl__x86_emu_rdpmc(v, rip, in->size);
    cs_free(in, 1);
    return r;
}

/* ---------------- VMX / SEAM ---------------- */

/*
 * A decoded VMX/SEAM instruction: its handler, or the caller.  EMU_FAULT
 * leaves the fault in *fault for the caller to raise (see
 * vmdl__x86_msr_access).
 */
enum emu_result vmdl__x86_special_access(struct vmdl_vcpu *v, uint64_t rip,
                                         const struct vmdl_x86_insn *insn,
                                         vmdl_fault *fault)
{
    struct vmdl_vm *vm = v->vm;
    bool seam = insn->kind >= VMDL_INSN_SEAMCALL;
    const struct insn_handler *h = seam ? &vm->seam : &vm->vmx;
    if (!h->fn) {
        memset(&v->exit, 0, sizeof(v->exit));
        v->exit.reason = seam ? VMDL_EXIT_SEAM : VMDL_EXIT_VMX;
        v->exit.pc = rip;
        v->exit.u.insn = *insn;
        v->pending = PENDING_INSN;
        v->pending_len = insn->length;
        vmdl__trace_exit(v, seam ? "seam" : "vmx", rip, "to caller");
        return EMU_TO_CALLER;
    }
    vmdl_fault f = h->fn(h->opaque, v, insn);
    vmdl__trace_exit(v, seam ? "seam" : "vmx", rip, f ? vmdl_fault_name(f) : "done");
    if (f) {
        *fault = f;
        return EMU_FAULT;
    }
    /* The instruction is at rip: retire it without reading RIP back. */
    wr(v, UC_X86_REG_RIP, rip + insn->length);
    vmdl__insns_add(v, 1);
    return EMU_DONE;
}

static enum emu_result emu_special(struct vmdl_vcpu *v, uint64_t rip)
{
    struct vmdl_x86_insn insn;
    if (vmdl__x86_decode_special(v, rip, &insn))
        return EMU_NOT_EMULATED;
    vmdl_fault f = VMDL_FAULT_NONE;
    enum emu_result r = vmdl__x86_special_access(v, rip, &insn, &f);
    if (r == EMU_FAULT)
        return vmdl__x86_raise(v, f, rip);
    if (insn.kind == VMDL_INSN_VMREAD || insn.kind == VMDL_INSN_VMWRITE)
        vmdl__x86_site_learn(v, rip);
    return r;
}

/* A #UD: a VMX/SEAM instruction, one Unicorn lacks, or a real #UD. */
enum emu_result vmdl__x86_emu_invalid(struct vmdl_vcpu *v, uint64_t rip)
{
    enum emu_result r = emu_special(v, rip);
    if (r == EMU_NOT_EMULATED)
        r = emu_unimplemented(v, rip);
    if (r == EMU_NOT_EMULATED) {
        vmdl__trace_exit(v, "invalid", rip, "#UD");
        r = vmdl__x86_raise(v, VMDL_FAULT_UD, rip);
    }
    return r;
}
