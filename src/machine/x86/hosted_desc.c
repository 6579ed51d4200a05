/* SPDX-License-Identifier: MIT */
/*
 * Descriptor-table loads of the hosted x86 vCPU.  In 64-bit mode LGDT and
 * LIDT #GP(0) on a base that is not canonical, and LLDT and LTR
 * #GP(selector) on a 16-byte descriptor whose base is not (SDM vol. 2;
 * KVM's em_lgdt_lidt and __load_segment_descriptor).  The width is the
 * CPU's widest linear address, 57 bits when it supports LA57, whatever
 * CR4.LA57 is (vmdl__x86_max_vaddr_bits).  QEMU 5.0 inside Unicorn 2.1.1
 * loads any base, so the machine intercepts the four loads (the VMCB's
 * GDTR/IDTR/LDTR/TR write intercepts), checks the base, and then lets the
 * engine run the instruction alone with those intercepts off, as the IRET
 * of an NMI handler is run (hosted_irq.c): every other check, fault and
 * the TSS busy bit stay QEMU's.
 */
#include "hosted.h"

/* Intercept vector bits of the four loads (IDTR, GDTR, LDTR, TR writes). */
#define I_LOAD_IDTR 10
#define DT_LOADS (0xFull << I_LOAD_IDTR)
#define X_IDTR_WRITE 0x6A
#define X_GDTR_WRITE 0x6B
#define X_LDTR_WRITE 0x6C

static bool base_ok(struct vmdl_vcpu *v, uint64_t base)
{
    return vmdl_is_canonical(base, vmdl__x86_max_vaddr_bits(v->vm));
}

static bool code64(struct vmdl_vcpu *v)
{
    uc_context_save(v->uc, X86(v)->ctx);
    struct seg cs;
    seg_from_ctx(v, (const char *)X86(v)->ctx, R_CS, &cs);
    return (vmdl__x86h_rdmsr(v, MSR_EFER) & (1ull << 10)) && (cs.flags & DESC_L);
}

/* The instruction at RIP, fetched through the guest's page tables (RIP is
 * linear in 64-bit mode; the code need not be identity-mapped). */
static cs_insn *decode_at_rip(struct vmdl_vcpu *v)
{
    uint64_t rip = rd(v, UC_X86_REG_RIP);
    uint8_t code[15];
    size_t n = sizeof(code), first = 0x1000 - (rip & 0xFFF);
    if (first < n && !vmdl__x86h_lin_rw(v, rip + first, code + first, n - first, false))
        n = first;                  /* the next page is not mapped */
    if (!vmdl__x86h_lin_rw(v, rip, code, n < first ? n : first, false))
        return NULL;
    cs_insn *in = NULL;
    if (cs_disasm(v->vm->cs, code, n, rip, 1, &in) != 1)
        return NULL;
    return in;
}

/* The instruction's operand: a register's value or a memory operand's
 * linear address (64-bit mode: no segment base but FS/GS). */
static bool operand(struct vmdl_vcpu *v, bool *mem, uint64_t *x)
{
    cs_insn *in = decode_at_rip(v);
    if (!in)
        return false;
    const cs_x86 *d = &in->detail->x86;
    bool found = false;
    for (unsigned i = 0; i < d->op_count && !found; i++) {
        const cs_x86_op *op = &d->operands[i];
        if (op->type == X86_OP_MEM) {
            *mem = true;
            *x = vmdl__x86_mem_addr(v, in, op);
            found = true;
        } else if (op->type == X86_OP_REG) {
            *mem = false;
            *x = vmdl__x86_reg_value(v, op->reg, in->address + in->size);
            found = true;
        }
    }
    cs_free(in, 1);
    return found;
}

/* LGDT/LIDT m16&64: the new base. */
static bool check_dt(struct vmdl_vcpu *v, uint32_t *err)
{
    bool mem;
    uint64_t a, base;
    if (!operand(v, &mem, &a) || !mem || !vmdl__x86h_lin_rw(v, a + 2, &base, 8, false))
        return true;                 /* the engine raises what it must */
    *err = 0;
    return base_ok(v, base);
}

/* LLDT/LTR: a present LDT (type 2) or available 64-bit TSS (type 9)
 * descriptor in the GDT, its base from all 16 bytes.  Anything else is
 * left to the engine's own checks (null, LDT selector, limit, type,
 * not present), which come first. */
static bool check_sys(struct vmdl_vcpu *v, unsigned type, uint32_t *err)
{
    bool mem;
    uint64_t x;
    uint16_t sel;
    if (!operand(v, &mem, &x))
        return true;
    if (!mem)
        sel = (uint16_t)x;
    else if (!vmdl__x86h_lin_rw(v, x, &sel, 2, false))
        return true;
    uc_x86_mmr gdtr;
    uc_reg_read(v->uc, UC_X86_REG_GDTR, &gdtr);
    uint32_t d[4];
    if (!(sel & 0xFFFC) || (sel & 4) || (uint32_t)(sel & ~7u) + 15 > gdtr.limit ||
        !vmdl__x86h_lin_rw(v, gdtr.base + (sel & ~7u), d, 16, false))
        return true;
    if ((d[1] & (1u << 12)) || ((d[1] >> 8) & 0xF) != type || !(d[1] & (1u << 15)))
        return true;
    uint64_t base = (d[0] >> 16) | ((d[1] & 0xFFu) << 16) | (d[1] & 0xFF000000u) |
                    ((uint64_t)d[2] << 32);
    *err = sel & 0xFFFC;
    return base_ok(v, base);
}

static void set_loads(struct vmdl_vcpu *v, bool on)
{
    uint64_t ic = pr64(v, H_VMCB + C_INTERCEPT);
    pw64(v, H_VMCB + C_INTERCEPT, on ? ic | DT_LOADS : ic & ~DT_LOADS);
}

int vmdl__x86h_desc_exit(struct vmdl_vcpu *v, unsigned code, bool *triple)
{
    if (code64(v)) {
        uint32_t err = 0;
        bool ok = code == X_IDTR_WRITE || code == X_GDTR_WRITE
                      ? check_dt(v, &err)
                      : check_sys(v, code == X_LDTR_WRITE ? 2 : 9, &err);
        if (!ok) {
            vmdl__trace_exit(v, "desc-load", rd(v, UC_X86_REG_RIP),
                             "non-canonical base #GP");
            return vmdl__x86h_deliver(v, 13, true, err, triple);
        }
    }
    set_loads(v, false);
    vmdl__x86h_save_guest(v);
    vmdl__x86h_enter(v);
    X86(v)->h_desc_step = true;
    return VMDL_OK;
}

/* After the stepped load: intercepted again from the next VMRUN on, which
 * a fault's delivery does anyway and a plain re-entry does otherwise. */
void vmdl__x86h_desc_done(struct vmdl_vcpu *v)
{
    X86(v)->h_desc_step = false;
    set_loads(v, true);
    bool fault = v->stop == STOP_INTR && v->stop_vector >= EXCP_VMEXIT + X_EXCP &&
                 v->stop_vector < EXCP_VMEXIT + X_EXCP + 32;
    if (!fault) {
        vmdl__x86h_save_guest(v);
        X86(v)->hosted_vmrun = true;
    }
}

/* The intercept bits the machine keeps for itself (hosted_setup.c). */
uint64_t vmdl__x86h_desc_intercepts(void)
{
    return DT_LOADS;
}
