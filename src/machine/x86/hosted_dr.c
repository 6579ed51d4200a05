/* SPDX-License-Identifier: MIT */
/*
 * Debug registers of the hosted x86 vCPU.  Every MOV to or from DR0-DR7 is
 * intercepted and the registers live here, never in the engine: a DR7
 * write reaching QEMU's helper inside Unicorn 2.1.1 arms its breakpoint
 * machinery, and the process then dies with SIGSEGV in translated code
 * (measured with kvm-unit-tests' debug test, docs/unicorn.md).  The engine
 * runs with DR7 = 0x400 and DR0-DR3 at a non-canonical address, so QEMU
 * never matches a breakpoint.  Single-step (RFLAGS.TF) stays QEMU's; the
 * DR6.BS it sets is folded into the virtual DR6 when the #DB is
 * intercepted.
 *
 * The rules are KVM's kvm_set_dr/kvm_get_dr (x86.c) and its #DB payload
 * handling, which follow the SDM (vol. 3, 18.2):
 *  - DR4/DR5 alias DR6/DR7 while CR4.DE is clear, else #UD;
 *  - writing bits 63:32 of DR6/DR7 is #GP; DR6 keeps its volatile bits
 *    (B0-B3, BD, BS, BT; RTM and bus-lock only with those features) and
 *    reads every other bit as 1; DR7 keeps 0xFFFF2BFF, bit 10 reads 1;
 *  - DR7.GD: any MOV DR is a fault-like #DB with DR6.BD set; delivering a
 *    #DB clears DR7.GD.
 * Breakpoint enables are stored, not armed: DR0-DR3 matches raise no #DB
 * (docs/architecture.md, "Real x86 guests").
 */
#include <stdio.h>

#include "hosted.h"

#define DR6_ACTIVE_LOW 0xFFFF0FF0ull
#define DR6_VOLATILE 0x0001E80Full
#define DR6_TRAP_BITS 0xFull
#define DR6_BUS_LOCK (1ull << 11)
#define DR6_BD (1ull << 13)
#define DR6_BS (1ull << 14)
#define DR6_RTM (1ull << 16)
#define DR7_FIXED_1 0x400ull
#define DR7_VOLATILE 0xFFFF2BFFull
#define DR7_GD (1ull << 13)
#define CR4_DE (1ull << 3)
#define RFLAGS_TF (1ull << 8)
/* Where the engine's DR0-DR3 point: no instruction ever sits there. */
#define DR_NOWHERE 0x8000000000000000ull

/* The DR6 bits that read as 1 whatever is written (KVM's kvm_dr6_fixed). */
static uint64_t dr6_fixed(struct vmdl_vcpu *v)
{
    uint64_t fixed = DR6_ACTIVE_LOW & ~DR6_VOLATILE;
    if (!vmdl__x86_cpuid_has(v->vm, 7, 1, 11))          /* RTM */
        fixed |= DR6_RTM;
    if (!vmdl__x86_cpuid_has(v->vm, 7, 2, 24))          /* BUS_LOCK_DETECT */
        fixed |= DR6_BUS_LOCK;
    return fixed;
}

void vmdl__x86h_dr_reset(struct vmdl_vcpu *v)
{
    struct x86_vcpu *x = X86(v);
    memset(x->h_db, 0, sizeof(x->h_db));
    x->h_dr6 = DR6_ACTIVE_LOW;
    x->h_dr7 = DR7_FIXED_1;
    x->h_ss_trap = false;
}

/* The engine's own debug registers: nothing QEMU could match. */
void vmdl__x86h_dr_disarm(struct vmdl_vcpu *v)
{
    static const int dr[4] = { UC_X86_REG_DR0, UC_X86_REG_DR1, UC_X86_REG_DR2,
                               UC_X86_REG_DR3 };
    for (unsigned i = 0; i < 4; i++)
        wr(v, dr[i], DR_NOWHERE);
    wr(v, UC_X86_REG_DR6, DR6_ACTIVE_LOW);
    wr(v, UC_X86_REG_DR7, DR7_FIXED_1);
}

/*
 * A #DB is about to be delivered with these DR6 bits (a payload in KVM's
 * sense: active-high bits set, trap bits replaced); the delivery clears
 * DR7.GD, as the SDM says and KVM's inject_pending_event does.
 */
static int debug_exception(struct vmdl_vcpu *v, uint64_t payload, bool *triple)
{
    struct x86_vcpu *x = X86(v);
    x->h_dr6 = ((x->h_dr6 & ~DR6_TRAP_BITS) | DR6_ACTIVE_LOW | payload) &
               ~(1ull << 12);
    x->h_dr6 = (x->h_dr6 & DR6_VOLATILE) | dr6_fixed(v);
    x->h_dr7 &= ~DR7_GD;
    return vmdl__x86h_deliver(v, 1, false, 0, triple);
}

/* An intercepted #DB that QEMU raised (single-step): take its DR6 bits. */
int vmdl__x86h_db_exit(struct vmdl_vcpu *v, bool *triple)
{
    uint64_t engine = rd(v, UC_X86_REG_DR6);
    wr(v, UC_X86_REG_DR6, DR6_ACTIVE_LOW);
    uint64_t payload = (engine & ~DR6_ACTIVE_LOW) & DR6_VOLATILE & ~DR6_TRAP_BITS;
    vmdl__trace_exit(v, "exception", rd(v, UC_X86_REG_RIP), "#DB (single-step)");
    return debug_exception(v, payload, triple);
}

static bool code64(struct vmdl_vcpu *v)
{
    if (!(vmdl__x86h_rdmsr(v, MSR_EFER) & (1ull << 10)))
        return false;
    uc_context_save(v->uc, X86(v)->ctx);
    struct seg cs;
    seg_from_ctx(v, (const char *)X86(v)->ctx, R_CS, &cs);
    return cs.flags & DESC_L;
}

static uint64_t get_dr(struct vmdl_vcpu *v, unsigned dr)
{
    struct x86_vcpu *x = X86(v);
    if (dr < 4)
        return x->h_db[dr];
    return (dr == 4 || dr == 6) ? x->h_dr6 : x->h_dr7;
}

static vmdl_fault set_dr(struct vmdl_vcpu *v, unsigned dr, uint64_t val)
{
    struct x86_vcpu *x = X86(v);
    if (dr < 4) {
        x->h_db[dr] = val;
        return VMDL_FAULT_NONE;
    }
    if (val >> 32)
        return VMDL_FAULT_GP;
    if (dr == 4 || dr == 6)
        x->h_dr6 = (val & DR6_VOLATILE) | dr6_fixed(v);
    else
        x->h_dr7 = (val & DR7_VOLATILE) | DR7_FIXED_1;
    return VMDL_FAULT_NONE;
}

/* MOV to/from DRn (exit codes 0x20-0x27 read, 0x30-0x37 write). */
int vmdl__x86h_dr_exit(struct vmdl_vcpu *v, unsigned code, bool *triple)
{
    bool write = code >= X_DR_WRITE;
    unsigned dr = code & 7;
    uint8_t op[3], rex;
    int pfx = vmdl__x86h_opcode_at(v, op, &rex);
    if (pfx < 0 || op[0] != 0x0F || op[1] != (write ? 0x23 : 0x21))
        return vmdl__x86h_fault(v, VMDL_FAULT_UD, triple);
    if ((dr == 4 || dr == 5) && (rd(v, UC_X86_REG_CR4) & CR4_DE))
        return vmdl__x86h_fault(v, VMDL_FAULT_UD, triple);
    if (X86(v)->h_dr7 & DR7_GD) {
        vmdl__trace_exit(v, "mov-dr", rd(v, UC_X86_REG_RIP), "DR7.GD: #DB");
        return debug_exception(v, DR6_BD, triple);
    }
    unsigned gpr = (op[2] & 7) | ((rex & 1) << 3);
    bool wide = code64(v);
    vmdl_fault f = VMDL_FAULT_NONE;
    if (write) {
        uint64_t val = rd(v, vmdl__x86_gpr_uc[gpr]);
        f = set_dr(v, dr, wide ? val : (uint32_t)val);
    } else {
        uint64_t val = get_dr(v, dr);
        wr(v, vmdl__x86_gpr_uc[gpr], wide ? val : (uint32_t)val);
    }
    char out[48];
    snprintf(out, sizeof(out), "dr%u %s%s", dr, write ? "written" : "read",
             f ? ": #GP" : "");
    vmdl__trace_exit(v, "mov-dr", rd(v, UC_X86_REG_RIP), out);
    if (f)
        return vmdl__x86h_fault(v, f, triple);
    vmdl__x86h_retire(v, 3 + (unsigned)pfx);
    return VMDL_OK;
}

/* Is RIP at ICEBP (INT1, F1 after prefixes)?  Unicorn 2.1.1's QEMU is
 * built without it and raises #UD there; its ICEBP intercept is kept for
 * engines that have it. */
bool vmdl__x86h_at_icebp(struct vmdl_vcpu *v)
{
    uint8_t op[3], rex;
    return vmdl__x86h_opcode_at(v, op, &rex) >= 0 && op[0] == 0xF1;
}

/* ICEBP: a trap-like #DB after the instruction; DR6 gets no status bit,
 * the trap bits are cleared as for every #DB (KVM's payload rules). */
int vmdl__x86h_icebp_exit(struct vmdl_vcpu *v, bool *triple)
{
    uint8_t op[3], rex;
    int pfx = vmdl__x86h_opcode_at(v, op, &rex);
    if (pfx < 0 || op[0] != 0xF1)
        return vmdl__x86h_fault(v, VMDL_FAULT_UD, triple);
    wr(v, UC_X86_REG_RIP, rd(v, UC_X86_REG_RIP) + 1 + (unsigned)pfx);
    vmdl__trace_exit(v, "icebp", rd(v, UC_X86_REG_RIP), "#DB");
    return debug_exception(v, 0, triple);
}

/* After an instruction the machine emulated: the single-step trap the
 * guest's RFLAGS.TF asked for (KVM's kvm_vcpu_do_singlestep). */
int vmdl__x86h_step_trap(struct vmdl_vcpu *v, bool *triple)
{
    if (!X86(v)->h_ss_trap)
        return VMDL_OK;
    X86(v)->h_ss_trap = false;
    return debug_exception(v, DR6_BS, triple);
}
