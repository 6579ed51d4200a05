/* SPDX-License-Identifier: MIT */
/*
 * IRETQ to an outer privilege level keeps the FS/GS bases on the hosted
 * x86 vCPU.
 *
 * IRET to an outer privilege level makes DS, ES, FS and GS null when they
 * hold a data (or non-conforming code) segment more privileged than the new
 * CPL (SDM vol. 2, IRET); only the selector changes, and in 64-bit mode
 * the FS/GS bases stay usable (kvm-unit-tests' emulator checks this: a
 * kernel whose GS is its DPL-0 data segment with a per-CPU base returns to
 * CPL 3, and the user code reads through GS).  QEMU 5.0's IRET inside the
 * engine (validate_seg) zeroes the base with the selector, with no exit.
 *
 * So while such a base is at risk - IA-32e mode, CPL below 3, FS or GS
 * holding a non-null selector with a non-zero base - the IRET intercept is
 * on (in the VMCB and in the engine's live copy), and the intercepted
 * IRETQ (REX.W CF, 64-bit code returning to 64-bit code) is performed
 * here as QEMU's helper_ret_protected does it, except that a nulled FS/GS
 * keeps its base and limit (as QEMU 7.2 and hardware: the segment is only
 * marked not present).  Anything else (an IRET that faults, a return to
 * compatibility mode, other operand sizes, TF set, NMI blocking, a nested
 * guest) is run by QEMU alone as NMI blocking's IRET is (hosted_irq.c),
 * and the machine's noted kernel bases are put back after it
 * (vmdl__x86h_restore_kseg).
 *
 * The cost: one intercept per IRET while the risk holds, completed inside
 * the engine when the loop has nothing to do (hosted_run.c).
 */
#include <string.h>

#include "hosted.h"
#include "walk.h"

/* ---- when the intercept is on ------------------------------------------ */

/* The risk without the IA-32e condition (register reads only). */
static bool kseg_loaded(struct vmdl_vcpu *v)
{
    if ((rd(v, UC_X86_REG_CS) & 3) == 3)
        return false;
    return ((rd(v, UC_X86_REG_FS) & 0xFFFC) && rd(v, UC_X86_REG_FS_BASE)) ||
           ((rd(v, UC_X86_REG_GS) & 0xFFFC) && rd(v, UC_X86_REG_GS_BASE));
}

/*
 * Before the guest runs on: the IRET intercept follows the risk.  The VMCB
 * holds what the engine has (every VMRUN loads it, and this changes both),
 * except while NMI blocking owns the intercept or a state waits for its
 * VMRUN.
 */
void vmdl__x86h_iret_policy(struct vmdl_vcpu *v)
{
    struct x86_vcpu *x = X86(v);
    int crw = v->vm->x86h->crw_off;
    if (x->nested || x->h_nmi_blocked || x->h_iret_step || x->hosted_vmrun || crw <= 0)
        return;
    /* Run after every exit: EFER (an MSR read) only when the bit would
     * change, which a guest does not switch modes often enough for. */
    uint64_t ic = pr64(v, H_VMCB + C_INTERCEPT);
    bool on = (ic >> I_IRET) & 1, want = kseg_loaded(v);
    if (want == on ||
        (want && !(vmdl__x86h_rdmsr(v, MSR_EFER) & (1ull << 10))))
        return;
    ic = want ? ic | (1ull << I_IRET) : ic & ~(1ull << I_IRET);
    pw64(v, H_VMCB + C_INTERCEPT, ic);
    uc_context_save(v->uc, x->ctx);
    memcpy((char *)x->ctx + crw - 10, &ic, 8);     /* QEMU's env->intercept */
    uc_context_restore(v->uc, x->ctx);
}

/* ---- the IRETQ ---------------------------------------------------------- */

struct iret_plan {
    uint64_t rip, rsp, rflags;
    uint32_t cs, ss;
    uint32_t cs_d[2], ss_d[2];
    unsigned cpl, rpl;
};

static uint64_t desc_base(const uint32_t d[2])
{
    return (d[0] >> 16) | ((uint64_t)(d[1] & 0xFF) << 16) | (d[1] & 0xFF000000u);
}

static uint32_t desc_limit(const uint32_t d[2])
{
    uint32_t l = (d[0] & 0xFFFF) | (d[1] & 0x000F0000u);
    return (d[1] & DESC_G) ? (l << 12) | 0xFFF : l;
}

/* A GDT descriptor through the guest's paging, or false. */
static bool gdt_desc(struct vmdl_vcpu *v, const struct vmdl__x86_paging *p,
                     const struct vmdl__x86_pmem *m, uint32_t sel, uint32_t d[2])
{
    uc_x86_mmr gdtr;
    uc_reg_read(v->uc, UC_X86_REG_GDTR, &gdtr);
    if ((sel & 4) || (uint64_t)(sel & ~7u) + 7 > gdtr.limit)
        return false;
    uint64_t la = gdtr.base + (sel & ~7u);
    struct vmdl__x86_xlate x;
    if ((la & 0xFFF) > 0xFF8 ||
        !vmdl__x86_walk(p, m, la, VMDL_WALK_CHECK | VMDL_WALK_SET_AD, &x))
        return false;
    return m->read(m->opaque, x.pa, d, 8);
}

/* Everything IRETQ would check and read, nothing written; false when it
 * would fault or is not the case handled here. */
static bool plan_iret(struct vmdl_vcpu *v, const char *ctx, struct iret_plan *pl)
{
    uint32_t hflags = ctx_u32(v, ctx, v->vm->x86h->segs_off - 8);
    uint64_t rflags = rd(v, UC_X86_REG_RFLAGS), rip = rd(v, UC_X86_REG_RIP);
    if ((hflags & (HF_LMA | HF_CS64)) != (HF_LMA | HF_CS64) || (rflags & (RFL_NT | RFL_TF)))
        return false;
    pl->cpl = hflags & HF_CPL_MASK;
    struct vmdl__x86_paging p;
    struct vmdl__x86_pmem m;
    vmdl__x86h_paging_now(v, &p);
    vmdl__x86h_pmem(v, &m);
    /* The instruction: REX.W IRET (48-4F, CF) alone, within one page (in
     * 64-bit mode its linear address is RIP; QEMU fetched it already). */
    uint8_t op[2];
    struct vmdl__x86_xlate x;
    if ((rip & 0xFFF) == 0xFFF || !vmdl__x86_walk(&p, &m, rip, 0, &x) ||
        !m.read(m.opaque, x.pa, op, 2) || (op[0] & 0xF8) != 0x48 || op[1] != 0xCF)
        return false;
    uint64_t frame[5], rsp = rd(v, UC_X86_REG_RSP);
    unsigned acc = VMDL_WALK_CHECK | VMDL_WALK_SET_AD | ((rflags & RFL_AC) ? VMDL_WALK_AC : 0);
    if ((rsp & 0xFFF) > 0x1000 - sizeof(frame) || !vmdl__x86_walk(&p, &m, rsp, acc, &x) ||
        !m.read(m.opaque, x.pa, frame, sizeof(frame)))
        return false;                   /* (a frame across pages: QEMU's) */
    pl->rip = frame[0];
    pl->cs = (uint16_t)frame[1];
    pl->rflags = frame[2];
    pl->rsp = frame[3];
    pl->ss = (uint16_t)frame[4];
    pl->rpl = pl->cs & 3;
    if (!(pl->cs & 0xFFFC) || pl->rpl < pl->cpl || !gdt_desc(v, &p, &m, pl->cs, pl->cs_d))
        return false;
    uint32_t e2 = pl->cs_d[1];
    unsigned dpl = (e2 >> 13) & 3;
    if ((e2 & (DESC_S | DESC_CODE | DESC_P | DESC_L | DESC_B)) != (DESC_S | DESC_CODE | DESC_P | DESC_L) ||
        ((e2 & DESC_E) ? dpl > pl->rpl : dpl != pl->rpl))
        return false;
    uint64_t top = pl->rip >> 47;
    if (top && top != 0x1FFFF)
        return false;                   /* not canonical: QEMU's #GP */
    if (!(pl->ss & 0xFFFC)) {
        if (pl->rpl == 3)
            return false;
        pl->ss_d[0] = 0;
        pl->ss_d[1] = 0;
        return true;
    }
    if ((pl->ss & 3) != pl->rpl || !gdt_desc(v, &p, &m, pl->ss, pl->ss_d))
        return false;
    e2 = pl->ss_d[1];
    return (e2 & (DESC_S | DESC_CODE | DESC_W | DESC_P)) == (DESC_S | DESC_W | DESC_P) &&
           ((e2 >> 13) & 3) == pl->rpl;
}

/* IRET's rule for ES, DS, FS, GS at the new CPL: a data or non-conforming
 * code segment of a lower DPL becomes null; base and limit stay, the
 * segment is no longer present. */
static void null_outer_seg(struct vmdl_vcpu *v, char *ctx, int r, unsigned cpl)
{
    struct seg s;
    seg_from_ctx(v, ctx, r, &s);
    if (!(s.sel & 0xFFFC) && (r == R_FS || r == R_GS))
        return;
    bool conforming_code = (s.flags & DESC_CODE) && (s.flags & DESC_E);
    if (!conforming_code && ((s.flags >> 13) & 3) < cpl)
        seg_to_ctx(v, ctx, r, 0, s.base, s.limit, s.flags & ~DESC_P);
}

static void commit_iret(struct vmdl_vcpu *v, char *ctx, const struct iret_plan *pl)
{
    seg_to_ctx(v, ctx, R_CS, pl->cs, desc_base(pl->cs_d), desc_limit(pl->cs_d), pl->cs_d[1]);
    uint32_t ss_flags;
    if (pl->ss & 0xFFFC) {
        ss_flags = pl->ss_d[1];
        seg_to_ctx(v, ctx, R_SS, pl->ss, desc_base(pl->ss_d), desc_limit(pl->ss_d), ss_flags);
    } else {
        /* a null SS below CPL 3, as QEMU loads it in long mode */
        ss_flags = DESC_G | DESC_B | DESC_P | DESC_S | (pl->rpl << DESC_DPL_SHIFT) | DESC_W | DESC_A;
        seg_to_ctx(v, ctx, R_SS, pl->ss, 0, 0xFFFFFFFFu, ss_flags);
    }
    static const int data_segs[4] = { R_ES, R_DS, R_FS, R_GS };
    for (unsigned i = 0; i < 4; i++)
        null_outer_seg(v, ctx, data_segs[i], pl->rpl);
    int hf_off = v->vm->x86h->segs_off - 8;
    uint32_t hflags = ctx_u32(v, ctx, hf_off);
    hflags &= ~(HF_CPL_MASK | HF_INHIBIT_IRQ | HF_SS32 | HF_ADDSEG);
    hflags |= ((ss_flags >> DESC_DPL_SHIFT) & 3) | HF_CS32 | HF_CS64 |
              ((ss_flags & DESC_B) ? HF_SS32 : 0);
    memcpy(ctx + hf_off, &hflags, 4);
}

/* The new RFLAGS as QEMU's IRET loads them (cpu_load_eflags with its
 * mask): IOPL only from CPL 0, IF only when CPL <= IOPL; VM, VIF, VIP and
 * reserved bits kept. */
static uint64_t iret_rflags(uint64_t cur, uint64_t popped, unsigned cpl)
{
    uint64_t mask = RFL_TF | RFL_AC | RFL_ID | RFL_RF | RFL_NT | RFL_ARITH | RFL_DF;
    if (cpl == 0)
        mask |= RFL_IOPL;
    if (cpl <= ((cur & RFL_IOPL) >> 12))
        mask |= RFL_IF;
    return (cur & ~mask) | (popped & mask) | 2;
}

/*
 * The intercepted IRET at RIP, performed; false with nothing changed when
 * it is not the case handled here.  count_pc: inside the engine, where the
 * stop is placed in the counted block first (vmdl__count_at_insn; false if
 * it cannot be); UINT64_MAX in the loop, which placed it already.
 */
bool vmdl__x86h_iret_emulate(struct vmdl_vcpu *v, uint64_t count_pc)
{
    struct x86_vcpu *x = X86(v);
    if (x->nested || x->h_nmi_blocked || x->hosted_vmrun)
        return false;
    struct iret_plan pl;
    uc_context_save(v->uc, x->ctx);
    if (!plan_iret(v, (const char *)x->ctx, &pl) ||
        (count_pc != UINT64_MAX && !vmdl__count_at_insn(v, count_pc)))
        return false;
    uint64_t rflags = iret_rflags(rd(v, UC_X86_REG_RFLAGS), pl.rflags, pl.cpl);
    commit_iret(v, (char *)x->ctx, &pl);
    uc_context_restore(v->uc, x->ctx);
    wr(v, UC_X86_REG_RSP, pl.rsp);
    wr(v, UC_X86_REG_RIP, pl.rip);
    wr(v, UC_X86_REG_RFLAGS, rflags);
    vmdl__insns_add(v, 1);
    vmdl__branches_set(v, vmdl__branches(v) + 1);   /* IRET is a taken branch */
    x->h_emulated = true;
    vmdl__trace_exit(v, "iret", rd(v, UC_X86_REG_RIP), "performed, FS/GS bases kept");
    return true;
}
