/* SPDX-License-Identifier: MIT */
/*
 * Control-register intercepts of the hosted x86 vCPU: MOV to CR0/CR4, CLTS
 * and LMSW checked as KVM checks them, and CR8 as the APIC's TPR.
 */
#include <stdio.h>
#include <string.h>

#include "hosted.h"

/*
 * MOV to CR0/CR4, CLTS and LMSW: QEMU's TCG applies any value (a reserved
 * CR4 bit such as LA57 silently changes the paging mode), so the hosted
 * vCPU checks them as KVM's kvm_set_cr0/kvm_set_cr4 do and then lets QEMU
 * apply the value (mode switches, hflags, TLB flush).
 */
static vmdl_fault check_cr0(struct vmdl_vcpu *v, uint64_t val)
{
    uint64_t cur = rd(v, UC_X86_REG_CR0);
    if (val >> 32)
        return VMDL_FAULT_GP;
    if ((val & (1ull << 29)) && !(val & (1ull << 30)))
        return VMDL_FAULT_GP;                          /* NW without CD */
    if ((val & (1ull << 31)) && !(val & 1))
        return VMDL_FAULT_GP;                          /* PG without PE */
    if (!((cur ^ val) & (1ull << 31)))
        return VMDL_FAULT_NONE;                        /* PG unchanged */
    if (val & (1ull << 31))                            /* long mode needs PAE */
        return (vmdl__x86h_rdmsr(v, MSR_EFER) & (1ull << 8)) &&
               !(rd(v, UC_X86_REG_CR4) & (1ull << 5)) ? VMDL_FAULT_GP : VMDL_FAULT_NONE;
    /* Paging off: not in 64-bit code (the only check needing CS). */
    uc_context_save(v->uc, X86(v)->ctx);
    struct seg cs;
    seg_from_ctx(v, (const char *)X86(v)->ctx, R_CS, &cs);
    return (cs.flags & DESC_L) ? VMDL_FAULT_GP : VMDL_FAULT_NONE;
}

static vmdl_fault check_cr4(struct vmdl_vcpu *v, uint64_t val)
{
    uint64_t cur = rd(v, UC_X86_REG_CR4);
    if (val & ~vmdl__x86_cr4_allowed(v))
        return VMDL_FAULT_GP;
    /* In long mode PAE stays set and LA57 fixed (EFER read only then). */
    if ((!(val & (1ull << 5)) || ((val ^ cur) & (1ull << 12))) &&
        (vmdl__x86h_rdmsr(v, MSR_EFER) & (1ull << 10)))
        return VMDL_FAULT_GP;
    return VMDL_FAULT_NONE;
}

/*
 * CR4 bits QEMU's CPU model inside the engine (qemu64) drops whenever it
 * loads CR4 (cpu_x86_update_cr4: SMAP and PKE need the model's CPUID
 * feature), although its page walk, RDPKRU/WRPKRU and SMAP's MMU index
 * honour them once set: SMAP (bit 21) and PKE (bit 22).  No model of
 * Unicorn 2.1.1 has SVM and PKU, and EPYC, which has SVM and SMAP, also
 * runs RDRAND natively (nested RDRAND exiting would be lost), so the
 * machine puts the bits back into the engine's state (CR4 and hflags'
 * SMAP bit, QEMU 5.0's HF_SMAP_SHIFT 23) after each load.
 */
#define CR4_ENGINE_DROPS ((1ull << 21) | (1ull << 22))
#define HF_SMAP (1u << 23)

void vmdl__x86h_cr4_keep(struct vmdl_vcpu *v, uint64_t cr4)
{
    uint64_t extra = cr4 & CR4_ENGINE_DROPS;
    if (!extra)
        return;
    uc_context_save(v->uc, X86(v)->ctx);
    char *ctx = (char *)X86(v)->ctx;
    int cr4_off = v->vm->x86h->cr_end_off - 8, hf_off = v->vm->x86h->segs_off - 8;
    uint64_t cur;
    memcpy(&cur, ctx + cr4_off, 8);
    uint32_t hflags = ctx_u32(v, ctx, hf_off);
    uint32_t want_hf = (extra & (1ull << 21)) ? hflags | HF_SMAP : hflags;
    if ((cur & extra) == extra && hflags == want_hf)
        return;
    cur |= extra;
    memcpy(ctx + cr4_off, &cur, 8);
    memcpy(ctx + hf_off, &want_hf, 4);
    uc_context_restore(v->uc, X86(v)->ctx);
    uc_ctl_flush_tlb(v->uc);     /* PKE changes what QEMU's TLB allowed */
}

/* LMSW's 16-bit source, a register or memory (read through the guest's
 * segmentation and paging; a failed read is delivered here).  1 with the
 * value and the instruction's length, else what the delivery returned. */
static int lmsw_source(struct vmdl_vcpu *v, uint64_t *val, unsigned *len, bool *triple)
{
    struct hinsn in;
    struct hmodrm m;
    if (vmdl__x86h_fetch_insn(v, &in) || vmdl__x86h_modrm(v, &in, in.pfx + 2, &m))
        return vmdl__x86h_fault(v, VMDL_FAULT_UD, triple);
    *len = m.len;
    if (m.is_reg) {
        *val = rd(v, vmdl__x86_gpr_uc[m.rm]) & 0xFFFF;
        return 1;
    }
    uint16_t w = 0;
    struct hfault f;
    if (!vmdl__x86h_operand_access(v, &in, &m, &w, 2, false, &f)) {
        int err = vmdl__x86h_raise(v, &f, triple);
        return err ? err : 0;
    }
    *val = w;
    return 1;
}

/*
 * Reads of CR0 (intercepted: SMSW r32 outside 64-bit mode stores only
 * CR0[15:0] in Unicorn's QEMU 5.0, all of CR0's low 32 bits on hardware
 * and in QEMU 7.2).  MOV from CR0 writes the register (64 bits in 64-bit
 * mode, else 32); SMSW stores 16 bits to memory, and to a register the
 * operand size's low bits of CR0 (16: the rest kept; 32: zero-extended),
 * as KVM's em_smsw.  Under CR4.UMIP SMSW at CPL > 0 is #GP(0).  cr0 is the
 * value the guest sees (a nested guest's read shadow applied).
 */
int vmdl__x86h_cr0_read(struct vmdl_vcpu *v, uint64_t cr0, bool *triple)
{
    struct hinsn in;
    struct hmodrm m;
    if (vmdl__x86h_fetch_insn(v, &in) || in.op[0] != 0x0F ||
        vmdl__x86h_modrm(v, &in, in.pfx + 2, &m))
        return vmdl__x86h_fault(v, VMDL_FAULT_UD, triple);
    if (in.op[1] == 0x20 && m.reg == 0) {               /* MOV r, CR0 */
        wr(v, vmdl__x86_gpr_uc[m.rm], in.bits == 64 ? cr0 : (uint32_t)cr0);
        vmdl__x86h_retire(v, m.len);
        return VMDL_OK;
    }
    if (in.op[1] != 0x01 || (m.reg & 7) != 4)
        return vmdl__x86h_fault(v, VMDL_FAULT_UD, triple);
    uc_context_save(v->uc, X86(v)->ctx);
    struct seg ss;
    seg_from_ctx(v, (const char *)X86(v)->ctx, R_SS, &ss);
    if ((rd(v, UC_X86_REG_CR4) & (1ull << 11)) &&
        vmdl__x86h_cpl(&ss, rd(v, UC_X86_REG_CR0), rd(v, UC_X86_REG_RFLAGS)) > 0)
        return vmdl__x86h_fault(v, VMDL_FAULT_GP, triple);
    if (m.is_reg) {
        unsigned size = vmdl__x86h_opsize(&in);
        int idx = (int)m.rm;
        vmdl__x86_write_gpr_sized(v, idx, (int)size / 8, false, cr0);
    } else {
        uint16_t w = (uint16_t)cr0;
        struct hfault f;
        if (!vmdl__x86h_operand_access(v, &in, &m, &w, 2, true, &f))
            return vmdl__x86h_raise(v, &f, triple);
    }
    vmdl__x86h_retire(v, m.len);
    return VMDL_OK;
}

/*
 * CR0.ET (bit 4) is hardwired to 1 on every processor since the P6 (SDM
 * vol. 3A, 2.5: "reserved and hardcoded to 1"), and KVM's kvm_set_cr0 sets
 * it in every value it accepts, so a write whose source lacks it leaves it
 * set and reads (MOV from CR0, SMSW, KVM's read shadow) return it.  The
 * engine would take the source as it is: Unicorn 2.1.1's CR0 register
 * write stores the raw value after QEMU's own CR0 load had added ET.  The
 * source operand stays what decides whether KVM exits (exit_cost.c: it is
 * compared with the read shadow, which has ET).
 */
#define CR0_ET (1ull << 4)

static uint64_t cr_value(unsigned cr, uint64_t src)
{
    return cr == 0 ? src | CR0_ET : src;
}

/*
 * After a MOV to CR0/CR4 (or CLTS, LMSW) the machine flushes QEMU's
 * softmmu TLB, which every paging bit needs: CR0.WP changes the rights a
 * supervisor write is checked against (an entry filled under the other
 * setting would let it through, or fault it), a CR4.PGE toggle
 * invalidates every translation, global ones included (SDM vol. 3,
 * 4.10.4.1).  QEMU's own CR0/CR4 loads flush it too; translated code
 * depends on neither (QEMU keys it by physical address and mode flags).
 *
 * Dropping translated code is for another reason: MOV to CR0/CR4 is
 * serializing, and code that a store modified must run as written after
 * it (SDM vol. 3, 9.1.3).  Unicorn 2.1.1 catches only the first store to a
 * page with translated code after each TLB fill, and invalidates only the
 * blocks that store overlaps (docs/unicorn.md), so at the serializing
 * write every translated block is dropped; in Unicorn 2.1.1 that zeroes
 * the whole 8 MiB code buffer (tcg_region_reset_all), about 100 us, and
 * retranslates everything.  A write that only toggles CR0.WP or CR4.PGE is
 * what a guest does to open a write window or flush its global
 * translations, in loops (kvm-unit-tests vmexit toggle_cr0_wp,
 * toggle_cr4_pge: 10^8 such writes): it keeps the code and flushes the
 * TLB only.  Code patched and then run with only such a toggle between
 * them may run stale, as after any other serializing instruction the
 * machine does not hook (CPUID, IRET, WBINVD).
 */
static bool drops_code(unsigned cr, uint64_t old, uint64_t val)
{
    uint64_t tlb_only = cr == 0 ? (1ull << 16) : (1ull << 7);   /* CR0.WP, CR4.PGE */
    uint64_t changed = old ^ val;
    return !changed || (changed & ~tlb_only);
}

/* MOV CRn, reg (0F 22 /n): the value (32 bits outside 64-bit mode, SDM
 * vol. 2, MOV--Move to/from Control Registers) and the length.  False for
 * another encoding. */
static bool mov_to_cr_value(struct vmdl_vcpu *v, const struct hinsn *in, unsigned cr,
                            uint64_t *val, unsigned *len)
{
    if (in->op[0] != 0x0F || in->op[1] != 0x22 || ((in->op[2] >> 3) & 7) != cr)
        return false;
    *val = rd(v, vmdl__x86_gpr_uc[(in->op[2] & 7) | ((in->rex & 1) << 3)]);
    if (in->bits != 64)
        *val = (uint32_t)*val;
    *len = in->pfx + 3;
    return true;
}

/*
 * The write itself, once the value is known: KVM's checks, the PDPTE
 * registers' reload (*npf: the second stage's fault of reading them, the
 * write not made), then the value in the engine, the softmmu TLB flush,
 * the code drop where drops_code asks for it, and the instruction
 * retired.  The fault, or none.
 */
static vmdl_fault cr_apply(struct vmdl_vcpu *v, unsigned cr, uint64_t val, unsigned len,
                           bool mov, bool *npf)
{
    vmdl_fault f = cr == 0 ? check_cr0(v, val) : check_cr4(v, val);
    if (v->vm->trace) {
        char out[48];
        snprintf(out, sizeof(out), "cr%u <- 0x%llx%s", cr, (unsigned long long)val,
                 f ? " #GP" : "");
        vmdl__trace_exit(v, "mov-cr", rd(v, UC_X86_REG_RIP), out);
    }
    if (f)
        return f;
    uint64_t old = rd(v, cr == 0 ? UC_X86_REG_CR0 : UC_X86_REG_CR4), src = val;
    val = cr_value(cr, src);
    f = vmdl__x86h_pdpte_cr_write(v, cr, old, val, npf);   /* PDPTEs reloaded */
    if (f || (npf && *npf))
        return f;
    wr(v, cr == 0 ? UC_X86_REG_CR0 : UC_X86_REG_CR4, val);
    if (cr == 4)
        vmdl__x86h_cr4_keep(v, val);
    /* A WP or PGE toggle: QEMU's own load (cpu_x86_update_cr0/cr4) has
     * just flushed the TLB for it; a second flush would clear QEMU's
     * 4096-entry jump cache once more (tlb_flush_by_mmuidx_async_work). */
    if (drops_code(cr, old, val)) {
        uc_ctl_flush_tlb(v->uc);
        uc_ctl_flush_tb(v->uc);
    }
    vmdl__x86h_walk_sync(v);           /* CR4.PKS, paging, long mode */
    if (mov)
        vmdl__x86_serialize_cost(v, cr, old, src);
    vmdl__x86h_retire(v, len);
    return VMDL_FAULT_NONE;
}

int vmdl__x86h_cr_write(struct vmdl_vcpu *v, unsigned cr, bool *triple)
{
    struct hinsn in;
    uint64_t val = 0;
    unsigned len = 0;
    if (vmdl__x86h_fetch_insn(v, &in) || in.op[0] != 0x0F)
        return vmdl__x86h_fault(v, VMDL_FAULT_UD, triple);
    bool mov = mov_to_cr_value(v, &in, cr, &val, &len);
    if (mov) {
        /* MOV CRn, reg */
    } else if (in.op[1] == 0x06 && cr == 0) {          /* CLTS */
        val = rd(v, UC_X86_REG_CR0) & ~(1ull << 3);
        len = in.pfx + 2;
    } else if (in.op[1] == 0x01 && ((in.op[2] >> 3) & 7) == 6 && cr == 0) { /* LMSW */
        int r = lmsw_source(v, &val, &len, triple);
        if (r <= 0)
            return r;
        uint64_t cur = rd(v, UC_X86_REG_CR0);
        val = (cur & ~0xEull) | (val & 0xF) | (cur & 1);   /* cannot clear PE */
    } else {
        return vmdl__x86h_fault(v, VMDL_FAULT_UD, triple);
    }
    val = vmdl__x86h_nested_cr(v, cr, val);     /* bits a nested L1 owns */
    bool npf = false;
    vmdl_fault f = cr_apply(v, cr, val, len, mov, &npf);
    if (npf)
        return vmdl__x86h_npf_exit(v, triple);
    return f ? vmdl__x86h_fault(v, f, triple) : VMDL_OK;
}

/*
 * Inside the engine (hosted_run.c, vmdl__x86h_complete_in_hook): a MOV to
 * CR0/CR4 from a register that keeps the translated code (drops_code: a
 * CR0.WP or CR4.PGE toggle) is done in the interrupt hook, with the same
 * checks and effects as on the exit path; the engine goes on at the next
 * instruction.  QEMU's CR0/CR4 load (cpu_x86_update_cr0/cr4) and its TLB
 * flush run synchronously there, and the RIP write makes cpu_exec look
 * the next block up under the new flags.  A write that drops code (mode
 * changes, CR0.PG/PE, every other bit) or another encoding (CLTS, LMSW)
 * takes the exit path: false, nothing decoded is kept.
 */
bool vmdl__x86h_cr_fast_decode(struct vmdl_vcpu *v, unsigned cr, struct x86h_cr_op *op)
{
    uint8_t o[3], rex;
    /* (PDPTE registers in force: a reload may need the NPF of reading
     * them, which only the exit path raises.) */
    if (X86(v)->h_pdpte_on)
        return false;
    int pfx = vmdl__x86h_opcode_at(v, o, &rex);
    if (pfx < 0 || o[0] != 0x0F || o[1] != 0x22 || ((o[2] >> 3) & 7) != cr)
        return false;
    op->cr = cr;
    op->gpr = (o[2] & 7) | ((rex & 1) << 3);
    op->val = rd(v, vmdl__x86_gpr_uc[op->gpr]);
    if (vmdl__x86h_saved_code_bits(v) != 64)
        op->val = (uint32_t)op->val;
    op->len = (unsigned)pfx + 3;
    op->old = rd(v, cr == 0 ? UC_X86_REG_CR0 : UC_X86_REG_CR4);
    return !drops_code(cr, op->old, cr_value(cr, op->val));
}

vmdl_fault vmdl__x86h_cr_fast_write(struct vmdl_vcpu *v, const struct x86h_cr_op *op)
{
    return cr_apply(v, op->cr, op->val, op->len, true, NULL);
}

/* MOV r, CR0 (0F 20 /0) inside the engine, outside a nested guest (whose
 * read shadow the exit path applies); SMSW takes the exit path. */
bool vmdl__x86h_cr0_read_decode(struct vmdl_vcpu *v, struct x86h_cr_op *op)
{
    uint8_t o[3], rex;
    int pfx = vmdl__x86h_opcode_at(v, o, &rex);
    if (pfx < 0 || o[0] != 0x0F || o[1] != 0x20 || ((o[2] >> 3) & 7) != 0)
        return false;
    op->cr = 0;
    op->gpr = (o[2] & 7) | ((rex & 1) << 3);
    op->wide = vmdl__x86h_saved_code_bits(v) == 64;
    op->len = (unsigned)pfx + 3;
    return true;
}

void vmdl__x86h_cr0_read_fast(struct vmdl_vcpu *v, const struct x86h_cr_op *op)
{
    uint64_t cr0 = rd(v, UC_X86_REG_CR0);
    wr(v, vmdl__x86_gpr_uc[op->gpr], op->wide ? cr0 : (uint32_t)cr0);
    vmdl__x86h_retire(v, op->len);
}

/* MOV to/from CR8: the APIC's TPR (bits 7:4) through the irqchip, as KVM.
 * On success the instruction retired. */
vmdl_fault vmdl__x86h_cr8_do(struct vmdl_vcpu *v, bool write)
{
    struct vmdl_vm *vm = v->vm;
    uint8_t op[3], rex;
    int pfx = vmdl__x86h_opcode_at(v, op, &rex);
    if (pfx < 0 || op[0] != 0x0F || (op[1] != 0x20 && op[1] != 0x22))
        return VMDL_FAULT_UD;
    unsigned gpr = (op[2] & 7) | ((rex & 1) << 3);
    if (write) {
        uint64_t val = rd(v, vmdl__x86_gpr_uc[gpr]);
        if (val >> 4)
            return VMDL_FAULT_GP;                       /* reserved bits */
        if (vm->irqchip && vm->irqchip->set_cr8)
            vm->irqchip->set_cr8(vm->irqchip_opaque, v, val);
    } else {
        uint64_t val = vm->irqchip && vm->irqchip->get_cr8
                           ? vm->irqchip->get_cr8(vm->irqchip_opaque, v) : 0;
        wr(v, vmdl__x86_gpr_uc[gpr], val);
    }
    vmdl__x86h_retire(v, 3 + (unsigned)pfx);
    return VMDL_FAULT_NONE;
}

int vmdl__x86h_cr8(struct vmdl_vcpu *v, bool write, bool *triple)
{
    vmdl_fault f = vmdl__x86h_cr8_do(v, write);
    return f ? vmdl__x86h_fault(v, f, triple) : VMDL_OK;
}

/*
 * CR8 without exits, as KVM runs an SVM guest: the engine keeps CR8 as
 * V_TPR (V_INTR_MASKING), so MOV from CR8 never exits, and MOV to CR8
 * exits only while the TPR class is above 0.  The APIC model stays the
 * owner of the TPR; the two are made to agree at every point where one
 * side may have moved:
 *  - in (vmdl__x86h_tpr_in): before the model is consulted after the guest
 *    ran (an engine stop, an intercept completed in the engine, a device
 *    access), V_TPR is read from the engine state and given to the model;
 *    only needed while writes run in the engine;
 *  - out (vmdl__x86h_tpr_out): before the guest runs on, a TPR the model
 *    changed (MMIO or x2APIC TPR write, the API, a checkpoint) goes into
 *    V_TPR, and the write intercept follows the TPR.
 * Why writes may run unseen while the TPR class is 0: a MOV to CR8 can make
 * an interrupt deliverable only by lowering the TPR, which a TPR of 0
 * cannot be, and raising it masks more.  KVM intercepts writes only while
 * an interrupt in IRR is blocked by the TPR (svm_update_cr8_intercept);
 * "TPR above 0" is a superset of that which needs nothing but the TPR.
 * Once a write raised it in the engine, the model sees the new class at the
 * next "in", before anything can be delivered or arrive, and the next "out"
 * turns the intercept on.  An interrupt that arrives while the engine runs
 * (a device, an IPI, a timer) stops it first.
 *
 * QEMU loads V_TPR and the intercept bits at VMRUN only (Unicorn never runs
 * #VMEXIT), so between VMRUNs they are read and written in the saved engine
 * state at offsets the start-up calibration found (hosted_setup.c).
 */
static bool tpr_possible(struct vmdl_vcpu *v)
{
    const struct vmdl_irqchip_ops *c = v->vm->irqchip;
    return v->vm->x86h->vtpr_off && c && c->get_cr8 && c->set_cr8 && !X86(v)->nested;
}

static uint8_t model_tpr(struct vmdl_vcpu *v)
{
    struct vmdl_vm *vm = v->vm;
    return (uint8_t)(vm->irqchip->get_cr8(vm->irqchip_opaque, v) & V_TPR_MASK);
}

void vmdl__x86h_tpr_vmcb(struct vmdl_vcpu *v)
{
    struct x86_vcpu *x = X86(v);
    uint32_t ic = (uint32_t)pr64(v, H_VMCB + C_INT_CTL) & ~(V_INTR_MASKING | V_TPR_MASK);
    uint16_t rd_bits = (uint16_t)pr64(v, H_VMCB + C_CR_RD) | (1u << 8);
    uint16_t wr_bits = (uint16_t)pr64(v, H_VMCB + C_CR_WR) | (1u << 8);
    x->h_vtpr = tpr_possible(v);
    if (x->h_vtpr) {
        x->h_vtpr_val = model_tpr(v);
        x->h_cr8w = x->h_vtpr_val != 0;
        ic |= V_INTR_MASKING | x->h_vtpr_val;
        rd_bits &= (uint16_t)~(1u << 8);
        if (!x->h_cr8w)
            wr_bits &= (uint16_t)~(1u << 8);
    }
    pw32(v, H_VMCB + C_INT_CTL, ic);
    pw16(v, H_VMCB + C_CR_RD, rd_bits);
    pw16(v, H_VMCB + C_CR_WR, wr_bits);
}

void vmdl__x86h_tpr_in(struct vmdl_vcpu *v)
{
    struct x86_vcpu *x = X86(v);
    if (!x->h_vtpr || x->h_cr8w)
        return;
    uc_context_save(v->uc, x->ctx);
    uint8_t t = ((const uint8_t *)x->ctx)[v->vm->x86h->vtpr_off] & V_TPR_MASK;
    if (t == x->h_vtpr_val)
        return;
    x->h_vtpr_val = t;
    v->vm->irqchip->set_cr8(v->vm->irqchip_opaque, v, t);
}

void vmdl__x86h_tpr_out(struct vmdl_vcpu *v)
{
    struct x86_vcpu *x = X86(v);
    if (!x->h_vtpr)
        return;
    uint8_t t = model_tpr(v);
    if (t == x->h_vtpr_val && (t != 0) == x->h_cr8w)
        return;
    /* The engine state is copied out and back whole; only these two fields
     * differ from what the engine holds. */
    uc_context_save(v->uc, x->ctx);
    uint8_t *ctx = (uint8_t *)x->ctx;
    int crw = v->vm->x86h->crw_off;
    uint16_t bits;
    memcpy(&bits, ctx + crw, 2);
    bits = t ? (uint16_t)(bits | (1u << 8)) : (uint16_t)(bits & ~(1u << 8));
    memcpy(ctx + crw, &bits, 2);
    ctx[v->vm->x86h->vtpr_off] = t;
    uc_context_restore(v->uc, x->ctx);
    x->h_vtpr_val = t;
    x->h_cr8w = t != 0;
}

/* An MMIO access from inside the engine (the xAPIC page among others): the
 * APIC model sees the guest's CR8 and the engine the model's TPR. */
void vmdl__x86_device_enter(struct vmdl_vcpu *v)
{
    if (X86(v)->hosted)
        vmdl__x86h_tpr_in(v);
}

void vmdl__x86_device_leave(struct vmdl_vcpu *v)
{
    if (X86(v)->hosted)
        vmdl__x86h_tpr_out(v);
}
