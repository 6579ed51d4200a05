/* SPDX-License-Identifier: MIT */
/*
 * Event delivery through a 64-bit IDT gate done by the machine itself, for
 * the common case of the hosted x86 vCPU: a guest in 64-bit mode (or a
 * nested guest's, once L1 declined the event) whose engine state is the
 * one it runs in.
 *
 * Why: QEMU's own delivery (hosted_deliver.c) needs a VMRUN from the host
 * state, and that costs three flushes of QEMU's softmmu TLB and its
 * jump cache per event (the host state spliced in, VMRUN's CR0 and CR3
 * loads), after which every page the guest touches is walked again.  perf
 * on kvm-unit-tests' access test (one #PF and one INT per check, 19
 * million checks) put most of its time there.  Switching privilege
 * changes only QEMU's hflags (the CPL selects the MMU index, and
 * translated code is keyed by the flags), so a delivery that loads CS/SS,
 * RSP, RIP and RFLAGS in the engine state keeps every TLB entry.
 *
 * What it does is IA-32e-mode delivery as the SDM describes it (vol. 3,
 * 6.14): the 16-byte gate (present, 64-bit interrupt or trap gate), the
 * target code segment from the GDT (present, 64-bit code, DPL <= CPL; a
 * conforming one keeps the CPL), the stack from the TSS (RSPn on a
 * privilege change, ISTn whenever the gate names one), RSP aligned down
 * to 16, then SS, RSP, RFLAGS, CS, RIP and the error code pushed, TF, NT,
 * RF and VM cleared, IF too for an interrupt gate, SS null with RPL = the
 * new CPL on a privilege change.  Every access is an implicit supervisor
 * access through the guest's paging (walk.c: rights, SMAP, protection
 * keys, A/D bits set as the processor sets them).  In a nested guest
 * under the second stage (L1's EPT: hosted_ept.c) every one of those
 * guest-physical addresses, the walk's own entry reads and A/D updates
 * included, then goes through the second stage's table (SDM 29.3.2).
 *
 * Anything else is left to QEMU's delivery, untouched: a gate or segment
 * that would fault (the #GP/#NP/#TS/#SS/#PF and the double-fault rules
 * stay QEMU's and hosted_deliver.c's), an access the second stage's table
 * does not allow yet (that delivery then takes the NPF event: a fill, or
 * L1's EPT violation with the event as IDT-vectoring information, SDM
 * 27.2.4), an LDT code segment, compatibility mode, the C walk's mode for
 * CR4.PKS alone, a state waiting in the VMCB, or an intercept set
 * in the VMCB that the engine does not have yet (NMI blocking's IRET
 * intercept, a descriptor-table load's step: they are loaded by the next
 * VMRUN, which the slow delivery provides).  The check is made before
 * anything is written, so the fallback starts from the unchanged state.
 *
 * An IST stack at the same CPL is left to QEMU too: QEMU's do_interrupt64
 * then loads SS with a null selector, where the SDM (6.14.4, 6.14.5) and
 * Bochs change SS only with the CPL; the two paths keep giving the same
 * frame.  A gate whose upper type field is not 0 is also QEMU's to judge.
 */
#include <string.h>

#include "hosted.h"
#include "walk.h"

struct sysmem {
    struct vmdl__x86_paging p;
    struct vmdl__x86_pmem m;    /* for the walk (through the second stage) */
    struct vmdl__x86_pmem phys; /* for the bytes, at the final address */
    bool two;                   /* a second stage: guest-physical -> physical */
    unsigned access;            /* VMDL_WALK_* of an implicit supervisor access */
};

static bool canonical(const struct sysmem *s, uint64_t la)
{
    unsigned bits = (s->p.cr4 & VMDL_X86_CR4_LA57) ? 57 : 48;
    uint64_t top = la >> (bits - 1);
    return top == 0 || top == (~0ull >> (bits - 1));
}

/*
 * n bytes at la (at most two pages), every page translated and checked
 * before a byte moves: false when an access would fault in either stage
 * (the slow path then raises that fault, or takes the second stage's NPF).
 * A and D bits are set as the walk allows.
 */
static bool sys_rw(struct vmdl_vcpu *v, const struct sysmem *s, uint64_t la, void *buf,
                   unsigned n, bool write)
{
    uint64_t pa[2] = { 0, 0 };
    unsigned len[2];
    len[0] = 0x1000u - (unsigned)(la & 0xFFF);
    len[0] = len[0] < n ? len[0] : n;
    len[1] = n - len[0];
    for (unsigned i = 0; i < 2; i++) {
        uint64_t at = i ? la + len[0] : la;
        struct vmdl__x86_xlate x;
        if (!len[i])
            break;
        if (!canonical(s, at) || !canonical(s, at + len[i] - 1) ||
            !vmdl__x86_walk(&s->p, &s->m, at, s->access | (write ? VMDL_WALK_WRITE : 0), &x) ||
            (s->two && !vmdl__x86h_npt_xlate(v, x.pa, write, &x.pa)))
            return false;
        pa[i] = x.pa;
    }
    uint8_t *b = buf;
    for (unsigned i = 0; i < 2 && len[i]; i++) {
        bool ok = write ? s->phys.write(s->phys.opaque, pa[i], b, len[i])
                        : s->phys.read(s->phys.opaque, pa[i], b, len[i]);
        if (!ok)
            return false;
        b += len[i];
    }
    return true;
}

/* The engine's intercept words equal the VMCB's (what the next VMRUN would
 * load), CR8's bits aside: the TPR code keeps those in step itself. */
static bool intercepts_loaded(struct vmdl_vcpu *v, const char *ctx)
{
    int crw = v->vm->x86h->crw_off;
    uint64_t live_ic, vmcb_ic = pr64(v, H_VMCB + C_INTERCEPT);
    uint16_t live_cr[4], vmcb_cr[4];
    uint32_t live_exc, vmcb_exc = (uint32_t)pr64(v, H_VMCB + C_EXC);
    memcpy(&live_ic, ctx + crw - 10, 8);
    memcpy(live_cr, ctx + crw - 2, 8);           /* CR read, CR write, DR read, DR write */
    memcpy(&live_exc, ctx + crw + 6, 4);
    uint64_t w = pr64(v, H_VMCB + C_CR_RD);
    for (unsigned i = 0; i < 4; i++)
        vmcb_cr[i] = (uint16_t)(w >> (16 * i));
    live_cr[0] |= 1u << 8;
    live_cr[1] |= 1u << 8;
    vmcb_cr[0] |= 1u << 8;
    vmcb_cr[1] |= 1u << 8;
    return live_ic == vmcb_ic && live_exc == vmcb_exc && !memcmp(live_cr, vmcb_cr, 8);
}

/* May this vCPU take the fast delivery at all right now?  The C walk's
 * translation mode only while it is the second stage's (CR4.PKS alone
 * keeps QEMU's delivery). */
static bool eligible(struct vmdl_vcpu *v)
{
    const struct x86_vcpu *x = X86(v);
    return !v->vm->cfg.no_fast_traps && !x->hosted_vmrun && (!x->h_walk || x->npt.on) &&
           !x->h_iret_step && !x->h_desc_step && v->vm->x86h->crw_off > 0;
}

struct target {
    uint64_t rip, rsp;
    uint32_t cs_sel, cs_limit, cs_flags;
    uint64_t cs_base;
    unsigned cpl;
    bool trap_gate;
};

/* The gate, the code segment and the stack of vector vec, or false. */
static bool find_target(struct vmdl_vcpu *v, const struct sysmem *s, const char *ctx,
                        unsigned vec, unsigned cpl, bool soft, struct target *t)
{
    uc_x86_mmr idtr, gdtr;
    uc_reg_read(v->uc, UC_X86_REG_IDTR, &idtr);
    uc_reg_read(v->uc, UC_X86_REG_GDTR, &gdtr);
    uint32_t g[4];
    if ((uint64_t)vec * 16 + 15 > idtr.limit ||
        !sys_rw(v, s, idtr.base + (uint64_t)vec * 16, g, 16, false))
        return false;
    unsigned type = (g[1] >> 8) & 0x1F, ist = g[1] & 7;
    if (!(g[1] & DESC_P) || (type != 0x0E && type != 0x0F) || ((g[3] >> 8) & 0x1F) ||
        (soft && ((g[1] >> 13) & 3) < cpl))      /* INT n below the gate's DPL */
        return false;
    uint32_t sel = g[0] >> 16;
    t->rip = (g[0] & 0xFFFF) | (g[1] & 0xFFFF0000u) | ((uint64_t)g[2] << 32);
    t->trap_gate = type == 0x0F;
    if (!(sel & 0xFFFC) || (sel & 4) || (uint64_t)(sel & ~7u) + 7 > gdtr.limit ||
        !canonical(s, t->rip))
        return false;
    uint32_t d[2];
    if (!sys_rw(v, s, gdtr.base + (sel & ~7u), d, 8, false))
        return false;
    unsigned dpl = (d[1] >> 13) & 3;
    if ((d[1] & (DESC_S | DESC_CODE | DESC_P | DESC_L | DESC_B)) != (DESC_S | DESC_CODE | DESC_P | DESC_L) || dpl > cpl)
        return false;
    t->cpl = (d[1] & DESC_E) ? cpl : dpl;
    t->cs_sel = (sel & ~3u) | t->cpl;
    t->cs_base = (d[0] >> 16) | ((uint64_t)(d[1] & 0xFF) << 16) | (d[1] & 0xFF000000u);
    t->cs_limit = (d[0] & 0xFFFF) | (d[1] & 0x000F0000u);
    if (d[1] & DESC_G)
        t->cs_limit = (t->cs_limit << 12) | 0xFFF;
    t->cs_flags = d[1];
    t->rsp = rd(v, UC_X86_REG_RSP);
    if (ist && t->cpl == cpl)
        return false;                   /* QEMU's choice stands (top of file) */
    if (ist || t->cpl < cpl) {
        struct seg tr;
        seg_from_ctx(v, ctx, 7, &tr);                /* ES..GS, LDTR, TR */
        unsigned off = ist ? 36 + (ist - 1) * 8 : 4 + t->cpl * 8;
        unsigned tr_type = (tr.flags >> 8) & 0x1F;   /* 64-bit TSS, busy or not */
        if (!(tr.flags & DESC_P) || (tr_type != 0x09 && tr_type != 0x0B) || off + 7 > tr.limit ||
            !sys_rw(v, s, tr.base + off, &t->rsp, 8, false) || !canonical(s, t->rsp))
            return false;
    }
    t->rsp &= ~0xFull;
    return true;
}

bool vmdl__x86h_deliver64(struct vmdl_vcpu *v, unsigned vec, bool has_err, uint32_t err,
                          bool fault, bool soft)
{
    if (!eligible(v))
        return false;
    struct sysmem s;
    vmdl__x86h_paging_now(v, &s.p);
    vmdl__x86h_guest_pmem(v, &s.m);
    vmdl__x86h_pmem(v, &s.phys);
    s.two = X86(v)->npt.on;
    int pkru_off = (s.p.cr4 & VMDL_X86_CR4_PKE) ? vmdl__x86h_pkru_off(v) : 0;
    if (pkru_off < 0)
        return false;
    uc_context_save(v->uc, X86(v)->ctx);
    char *ctx = (char *)X86(v)->ctx;
    if (pkru_off)
        s.p.pkru = ctx_u32(v, ctx, pkru_off);
    int hf_off = v->vm->x86h->segs_off - 8;
    uint32_t hflags = ctx_u32(v, ctx, hf_off);
    if ((hflags & (HF_LMA | HF_CS64)) != (HF_LMA | HF_CS64) ||
        !intercepts_loaded(v, ctx))
        return false;
    unsigned cpl = hflags & HF_CPL_MASK;
    uint64_t rflags = rd(v, UC_X86_REG_RFLAGS);
    s.access = VMDL_WALK_CHECK | VMDL_WALK_SET_AD |
               (cpl == 3 ? VMDL_WALK_IMPLICIT : (rflags & RFL_AC) ? VMDL_WALK_AC : 0);
    struct target t;
    if (!find_target(v, &s, ctx, vec, cpl, soft, &t))
        return false;
    struct seg cs, ss;
    seg_from_ctx(v, ctx, R_CS, &cs);
    seg_from_ctx(v, ctx, R_SS, &ss);
    uint64_t frame[6];
    unsigned n = 0;
    if (has_err)
        frame[n++] = err;
    frame[n++] = rd(v, UC_X86_REG_RIP);
    frame[n++] = cs.sel;
    frame[n++] = fault ? rflags | RFL_RF : rflags;
    frame[n++] = rd(v, UC_X86_REG_RSP);
    frame[n++] = ss.sel;
    uint64_t sp = t.rsp - 8 * n;
    if (!sys_rw(v, &s, sp, frame, 8 * n, true))
        return false;
    /* Committed: the engine state takes the new CS (and SS), hflags, CR2. */
    seg_to_ctx(v, ctx, R_CS, t.cs_sel, t.cs_base, t.cs_limit, t.cs_flags);
    uint32_t ss_flags = ss.flags;
    if (t.cpl != cpl) {
        ss_flags = t.cpl << DESC_DPL_SHIFT;
        seg_to_ctx(v, ctx, R_SS, t.cpl, 0, 0, ss_flags);
    }
    hflags &= ~(HF_CPL_MASK | HF_INHIBIT_IRQ | HF_SS32 | HF_ADDSEG);
    hflags |= t.cpl | HF_CS32 | HF_CS64 | ((ss_flags & DESC_B) ? HF_SS32 : 0);
    memcpy(ctx + hf_off, &hflags, 4);
    if (X86(v)->h_cr2_set) {
        memcpy(ctx + v->vm->x86h->segs_off + 10 * SEGCACHE + 2 * 8, &X86(v)->h_cr2, 8);
        X86(v)->h_cr2_set = false;
    }
    /* QEMU's exception_is_int, which only a delivery clears (an INT n left
     * it set; hosted_state.c, vmdl__x86h_end_soft_int). */
    uint32_t zero = 0;
    memcpy(ctx + v->vm->x86h->err_off + 4, &zero, 4);
    uc_context_restore(v->uc, X86(v)->ctx);
    wr(v, UC_X86_REG_RSP, sp);
    wr(v, UC_X86_REG_RIP, t.rip);
    uint64_t clear = RFL_TF | RFL_NT | RFL_RF | RFL_VM | (t.trap_gate ? 0 : RFL_IF);
    wr(v, UC_X86_REG_RFLAGS, rflags & ~clear);
    vmdl__count_forget_block(v);
    X86(v)->h_vectoring = 0;
    v->direct_events++;
    v->stop = STOP_NONE;
    return true;
}
