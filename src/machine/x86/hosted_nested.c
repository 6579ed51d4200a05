/* SPDX-License-Identifier: MIT */
/*
 * The hosted x86 vCPU's side of nested guests: reading and replacing the
 * system state a VMX transition switches (machine.h, vmdl_vcpu_get/
 * set_x86_sys), and the event hook the VMX glue uses to see L2's CPUID,
 * HLT, MSR, RDTSC and exceptions before the machine handles them.
 *
 * A new state goes to the VMCB save area and the next entry runs VMRUN,
 * which loads ES/CS/SS/DS, GDTR/IDTR, CR0/CR3/CR4, EFER, DR7, RFLAGS, RIP,
 * RSP and RAX; the FS/GS bases, PAT and SYSENTER are written as MSRs
 * before that.  FS, GS, LDTR and TR, which VMRUN does not load, go
 * into the live segment caches, which the re-entry keeps.
 */
#include <string.h>

#include "hosted.h"


static struct vmdl_x86_segment seg_out(const struct seg *s)
{
    /* QEMU keeps the descriptor's high dword: access byte in 15:8, AVL/L/
     * D/G in 23:20; VMCS access rights put them in 7:0 and 15:12. */
    uint32_t ar = (s->flags >> 8) & 0xf0ffu;
    if (!(s->flags & DESC_P))
        ar |= 1u << 16;
    return (struct vmdl_x86_segment){s->sel, s->base, s->limit, ar};
}

static uint32_t flags_in(uint32_t ar)
{
    uint32_t f = ((ar & 0xffu) << 8) | ((ar & 0xf000u) << 8);
    return (ar & (1u << 16)) ? f & ~DESC_P : f;
}

/* 0, or the error (recorded) when v is not a hosted x86 vCPU. */
static int hosted_x86(struct vmdl_vcpu *v, const void *st, const char *fn)
{
    if (!v || !st)
        return vmdl_fail(VMDL_EINVAL, "%s: NULL argument", fn);
    if (v->vm->arch != VMDL_ARCH_X86_64 || !X86(v)->hosted)
        return vmdl_fail(VMDL_ENOTSUP, "%s: only hosted x86 vCPUs (real guests)", fn);
    return VMDL_OK;
}

/* Run the VMRUN of a state installed for the next entry now.  The block
 * hook must not stop the stub before its VMRUN (a kick or a passed
 * deadline would leave the engine in the stub, as hosted_deliver.c notes). */
static void enter_now(struct vmdl_vcpu *v)
{
    uint64_t deadline = v->kick_deadline;
    vmdl__set_kick(v, UINT64_MAX);
    vmdl__x86h_enter(v);
    vmdl__set_kick(v, deadline);
}

int vmdl_vcpu_get_x86_sys(struct vmdl_vcpu *v, struct vmdl_x86_sys_state *st)
{
    int err = hosted_x86(v, st, "vmdl_vcpu_get_x86_sys");
    if (err)
        return err;
    memset(st, 0, sizeof(*st));
    /* A state installed for the next entry (a VM entry or exit just ran)
     * is made live first: it is the one to report. */
    if (X86(v)->hosted_vmrun)
        enter_now(v);
    uc_context_save(v->uc, X86(v)->ctx);
    const char *ctx = (const char *)X86(v)->ctx;
    for (int r = R_ES; r <= R_GS; r++) {
        struct seg s;
        seg_from_ctx(v, ctx, r, &s);
        st->seg[r] = seg_out(&s);
    }
    /* LDTR and TR follow the six segment caches in QEMU's state. */
    for (int r = 6; r < 8; r++) {
        struct seg s;
        seg_from_ctx(v, ctx, r, &s);
        st->seg[r] = seg_out(&s);
    }
    /* QEMU's LTR caches the descriptor before marking it busy; a loaded TR
     * is busy (type 3 or 11), as the CPU reports it in the VMCS. */
    if (!(st->seg[7].ar & (1u << 16)))
        st->seg[7].ar |= 2;
    uc_x86_mmr g, i;
    uc_reg_read(v->uc, UC_X86_REG_GDTR, &g);
    uc_reg_read(v->uc, UC_X86_REG_IDTR, &i);
    st->gdtr_base = g.base;
    st->gdtr_limit = g.limit;
    st->idtr_base = i.base;
    st->idtr_limit = i.limit;
    st->cr0 = rd(v, UC_X86_REG_CR0);
    st->cr3 = rd(v, UC_X86_REG_CR3);
    st->cr4 = rd(v, UC_X86_REG_CR4);
    st->efer = vmdl__x86h_rdmsr(v, MSR_EFER) & ~EFER_SVME;
    st->dr7 = X86(v)->h_dr7;
    st->rflags = rd(v, UC_X86_REG_RFLAGS);
    st->rip = rd(v, UC_X86_REG_RIP);
    st->rsp = rd(v, UC_X86_REG_RSP);
    st->pat = vmdl__x86h_rdmsr(v, 0x277);
    st->sysenter_cs = vmdl__x86h_rdmsr(v, 0x174);
    st->sysenter_esp = vmdl__x86h_rdmsr(v, 0x175);
    st->sysenter_eip = vmdl__x86h_rdmsr(v, 0x176);
    st->activity = v->halted ? 1 : 0;
    st->debugctl = X86(v)->debugctl;
    st->debugctl_supported = vmdl__x86_debugctl_supported(v->vm);
    if (vmdl__x86h_in_shadow(v))
        st->interruptibility = vmdl__x86h_in_mov_ss_shadow(v) ? 2 : 1;
    if (X86(v)->h_nmi_blocked)
        st->interruptibility |= 8;
    return VMDL_OK;
}

/* FS, GS, LDTR, TR (selector, base, limit, access rights) into the live
 * caches: QEMU keeps LDTR and TR right after the six segments. */
static void load_live_segs(struct vmdl_vcpu *v, const struct vmdl_x86_sys_state *st)
{
    uc_context_save(v->uc, X86(v)->ctx);
    char *ctx = (char *)X86(v)->ctx;
    for (int r = R_FS; r < 8; r++) {
        const struct vmdl_x86_segment *s = &st->seg[r];
        char *p = ctx + v->vm->x86h->segs_off + r * SEGCACHE;
        uint32_t sel = s->selector, limit = s->limit, flags = flags_in(s->ar);
        memcpy(p, &sel, 4);
        memcpy(p + 8, &s->base, 8);
        memcpy(p + 16, &limit, 4);
        memcpy(p + 20, &flags, 4);
    }
    uc_context_restore(v->uc, X86(v)->ctx);
}

int vmdl_vcpu_set_x86_sys(struct vmdl_vcpu *v, const struct vmdl_x86_sys_state *st)
{
    int err = hosted_x86(v, st, "vmdl_vcpu_set_x86_sys");
    if (err)
        return err;
    vmdl__x86h_pdpte_off(v);           /* the new state's CR3 from now on */
    load_live_segs(v, st);
    vmdl__x86h_wrmsr(v, 0x277, st->pat);
    vmdl__x86h_wrmsr(v, 0x174, st->sysenter_cs);
    vmdl__x86h_wrmsr(v, 0x175, st->sysenter_esp);
    vmdl__x86h_wrmsr(v, 0x176, st->sysenter_eip);
    vmdl__x86h_save_guest(v);          /* GPRs, CR2, interrupt shadow */
    static const unsigned off[4] = {S_ES, S_CS, S_SS, S_DS};
    for (unsigned r = 0; r < 4; r++) {
        const struct vmdl_x86_segment *s = &st->seg[r];
        vmcb_seg(v, off[r], s->selector, flags_in(s->ar), s->limit, s->base);
    }
    pw64(v, H_VMCB + S_GDTR + 8, st->gdtr_base);
    pw32(v, H_VMCB + S_GDTR + 4, st->gdtr_limit);
    pw64(v, H_VMCB + S_IDTR + 8, st->idtr_base);
    pw32(v, H_VMCB + S_IDTR + 4, st->idtr_limit);
    pw64(v, H_VMCB + S_CR0, st->cr0);
    pw64(v, H_VMCB + S_CR3, st->cr3);
    pw64(v, H_VMCB + S_CR4, st->cr4);
    pw64(v, H_VMCB + S_EFER, st->efer & ~EFER_SVME);
    /* The debug registers are virtual (hosted_dr.c): VMRUN loads the
     * engine's disarmed DR7. */
    vmdl__x86h_set_dr7(v, st->dr7);
    pw64(v, H_VMCB + S_DR7, X86_IO_STOP_DR7);     /* the engine's (io.c) */
    X86(v)->debugctl = st->debugctl & vmdl__x86_debugctl_supported(v->vm);
    pw64(v, H_VMCB + S_RFLAGS, st->rflags | 2);
    pw64(v, H_VMCB + S_RIP, st->rip);
    pw64(v, H_VMCB + S_RSP, st->rsp);
    struct seg ss = {st->seg[R_SS].selector, st->seg[R_SS].base, st->seg[R_SS].limit,
                     flags_in(st->seg[R_SS].ar)};
    uint8_t cpl = (uint8_t)vmdl__x86h_cpl(&ss, st->cr0, st->rflags);
    pw(v, H_VMCB + S_CPL, &cpl, 1);
    /* STI / MOV SS blocking: QEMU's one interrupt shadow (an entry's
     * blocking only holds off the first instruction); NMI blocking lasts
     * until an IRET, which the vCPU then intercepts. */
    pw32(v, H_VMCB + C_INT_STATE, (st->interruptibility & 3) ? 1 : 0);
    X86(v)->h_shadow_at = (st->interruptibility & 3) ? st->rip : UINT64_MAX;
    X86(v)->h_shadow_movss = st->interruptibility & 2;
    bool nmi = st->interruptibility & 8;
    X86(v)->h_nmi_blocked = nmi;
    /* (Also drops an IRET intercept the outgoing state's FS/GS bases
     * wanted, hosted_iret.c: its policy decides again for a non-nested
     * state; a nested guest's IRETs are L2's own.) */
    uint64_t ic = pr64(v, H_VMCB + C_INTERCEPT);
    pw64(v, H_VMCB + C_INTERCEPT, nmi ? ic | (1ull << I_IRET) : ic & ~(1ull << I_IRET));
    X86(v)->hosted_vmrun = true;
    X86(v)->h_emulated = false;        /* the new state's shadow holds */
    /* A VM exit out of a halted L2 wakes it; an entry with activity state
     * HLT halts. */
    v->halted = st->activity == 1;
    return VMDL_OK;
}

int vmdl_vcpu_set_x86_cpuid_events(struct vmdl_vcpu *v, bool on)
{
    int err = hosted_x86(v, v, "vmdl_vcpu_set_x86_cpuid_events");
    if (err)
        return err;
    X86(v)->cpuid_events = on;
    /* QEMU reads the intercepts at VMRUN: the next entry (which a VM
     * entry or exit forces) intercepts CPUID, so it stops precisely. */
    uint64_t ic = pr64(v, H_VMCB + C_INTERCEPT);
    ic = on ? ic | (1ull << I_CPUID) : ic & ~(1ull << I_CPUID);
    pw64(v, H_VMCB + C_INTERCEPT, ic);
    return VMDL_OK;
}

bool vmdl__x86h_event(struct vmdl_vcpu *v, const struct vmdl_x86_event *ev)
{
    struct vmdl_vm *vm = v->vm;
    return vm->x86_event.fn && vm->x86_event.fn(vm->x86_event.opaque, v, ev);
}

/* ---- the intercepts of a running nested guest ------------------------ */

static void set_bit64(uint64_t *w, unsigned bit, bool on)
{
    *w = on ? *w | (1ull << bit) : *w & ~(1ull << bit);
}

static void set_bit16(struct vmdl_vcpu *v, unsigned off, unsigned bit, bool on)
{
    uint16_t w = 0;
    memcpy(&w, X86(v)->h_mem + (H_VMCB - H_BASE) + off, 2);
    w = on ? (uint16_t)(w | (1u << bit)) : (uint16_t)(w & ~(1u << bit));
    pw16(v, H_VMCB + off, w);
}

int vmdl_vcpu_set_x86_nested(struct vmdl_vcpu *v, const struct vmdl_x86_nested_ctl *ctl)
{
    int err = hosted_x86(v, v, "vmdl_vcpu_set_x86_nested");
    if (err)
        return err;
    static const struct vmdl_x86_nested_ctl none;
    const struct vmdl_x86_nested_ctl *c = ctl ? ctl : &none;
    /* Entering or leaving the nested guest: KVM's emulated transition
     * (exit_cost.c). */
    if (X86(v)->nested != (ctl != NULL))
        vmdl__x86_exit_cost(v, ctl ? VMDL_XK_NESTED_ENTRY : VMDL_XK_NESTED_EXIT);
    X86(v)->nested = ctl != NULL;
    X86(v)->nctl = *c;
    X86(v)->h_io_pass = false;
    uint32_t n = c->intercept;
    uint64_t ic = pr64(v, H_VMCB + C_INTERCEPT);
    set_bit64(&ic, I_PAUSE, n & VMDL_X86_NESTED_PAUSE);
    set_bit64(&ic, I_INVLPG, n & VMDL_X86_NESTED_INVLPG);
    set_bit64(&ic, I_WBINVD, n & (VMDL_X86_NESTED_WBINVD | VMDL_X86_NESTED_INVD));
    set_bit64(&ic, I_MONITOR, n & VMDL_X86_NESTED_MONITOR);
    set_bit64(&ic, I_MWAIT, n & VMDL_X86_NESTED_MWAIT);
    set_bit64(&ic, I_INVD, n & VMDL_X86_NESTED_INVD);
    for (unsigned b = I_STORE_IDTR; b < I_STORE_IDTR + 8; b++)
        set_bit64(&ic, b, n & VMDL_X86_NESTED_DESC);
    ic |= vmdl__x86h_desc_intercepts();     /* the loads' canonical checks */
    pw64(v, H_VMCB + C_INTERCEPT, ic);
    /* CR4 reads only when a bit is masked (the shadow is read); CR0 reads
     * always (SMSW, hosted_cr.c). */
    set_bit16(v, C_CR_RD, 0, true);
    set_bit16(v, C_CR_RD, 4, c->cr4_mask != 0);
    set_bit16(v, C_CR_RD, 3, n & VMDL_X86_NESTED_CR3_READ);
    vmdl__x86h_cr3_intercept(v);       /* L1's, or the PDPTE registers' */
    return vmdl_vcpu_set_x86_cpuid_events(v, n & VMDL_X86_NESTED_CPUID);
}

int vmdl_vcpu_inject_x86_event(struct vmdl_vcpu *v, unsigned type, unsigned vector,
                               bool has_error, uint32_t error, unsigned insn_len)
{
    int err = hosted_x86(v, v, "vmdl_vcpu_inject_x86_event");
    if (err)
        return err;
    if (type > 6 || type == 1 || vector > 255 || insn_len > 15)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vcpu_inject_x86_event: type %u vector %u "
                         "length %u", type, vector, insn_len);
    X86(v)->h_inj.valid = true;
    X86(v)->h_inj.type = (uint8_t)type;
    X86(v)->h_inj.vector = (uint8_t)vector;
    X86(v)->h_inj.has_err = has_error;
    X86(v)->h_inj.err = error;
    X86(v)->h_inj.len = insn_len;
    return VMDL_OK;
}

bool vmdl_vcpu_x86_injection_pending(const struct vmdl_vcpu *v)
{
    const struct x86_vcpu *x = (const struct x86_vcpu *)v;
    return v && v->vm->arch == VMDL_ARCH_X86_64 && x->hosted && x->h_inj.valid;
}

bool vmdl_vcpu_x86_nested_active(const struct vmdl_vcpu *v)
{
    const struct x86_vcpu *x = (const struct x86_vcpu *)v;
    return v && v->vm->arch == VMDL_ARCH_X86_64 && x->hosted && x->nested;
}

int vmdl_vcpu_x86_step_next(struct vmdl_vcpu *v, bool on)
{
    if (!v)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vcpu_x86_step_next: NULL vCPU");
    if (v->vm->arch != VMDL_ARCH_X86_64 || !X86(v)->hosted)
        return vmdl_fail(VMDL_ENOTSUP, "vmdl_vcpu_x86_step_next: only hosted x86 vCPUs");
    X86(v)->h_step_next = on;
    return VMDL_OK;
}

bool vmdl_vcpu_x86_step_pending(const struct vmdl_vcpu *v)
{
    const struct x86_vcpu *x = (const struct x86_vcpu *)v;
    return v && v->vm->arch == VMDL_ARCH_X86_64 && x->hosted && x->h_step_next;
}

/* What a MOV to CR0/CR4 (CLTS, LMSW) the hook did not take writes: the
 * bits L1 owns (set in the guest/host mask) keep their value. */
uint64_t vmdl__x86h_nested_cr(struct vmdl_vcpu *v, unsigned cr, uint64_t val)
{
    if (!X86(v)->nested || (cr != 0 && cr != 4))
        return val;
    uint64_t m = cr == 0 ? X86(v)->nctl.cr0_mask : X86(v)->nctl.cr4_mask;
    uint64_t cur = rd(v, cr == 0 ? UC_X86_REG_CR0 : UC_X86_REG_CR4);
    return (cur & m) | (val & ~m);
}

/* Long mode with a 64-bit code segment? (Leaves the context saved.) */
static bool code64(struct vmdl_vcpu *v)
{
    return vmdl__x86h_code_bits(v) == 64;
}

static bool offer_ev(struct vmdl_vcpu *v, struct vmdl_x86_event *ev)
{
    return vmdl__x86h_event(v, ev);
}

/* MOV r, CRn (0F 20 /r): the GPR, or -1. */
static int mov_from_cr_gpr(struct vmdl_vcpu *v, int *pfx)
{
    uint8_t op[3], rex;
    *pfx = vmdl__x86h_opcode_at(v, op, &rex);
    if (*pfx < 0 || op[0] != 0x0F || op[1] != 0x20)
        return -1;
    return (op[2] & 7) | ((rex & 1) << 3);
}

static void write_gpr(struct vmdl_vcpu *v, unsigned gpr, uint64_t val)
{
    wr(v, vmdl__x86_gpr_uc[gpr], code64(v) ? val : (uint32_t)val);
}

/* MOV from CR0/CR4 with masked bits: the read shadow's value for them. */
static int cr_read(struct vmdl_vcpu *v, unsigned cr, bool *triple)
{
    const struct vmdl_x86_nested_ctl *c = &X86(v)->nctl;
    uint64_t m = cr == 0 ? c->cr0_mask : c->cr4_mask;
    uint64_t sh = cr == 0 ? c->cr0_shadow : c->cr4_shadow;
    uint64_t real = rd(v, cr == 0 ? UC_X86_REG_CR0 : UC_X86_REG_CR4);
    if (cr == 0)                        /* MOV from CR0 and SMSW */
        return vmdl__x86h_cr0_read(v, (real & ~m) | (sh & m), triple);
    int pfx, gpr = mov_from_cr_gpr(v, &pfx);
    if (gpr < 0)
        return vmdl__x86h_fault(v, VMDL_FAULT_UD, triple);
    write_gpr(v, (unsigned)gpr, (real & ~m) | (sh & m));
    vmdl__x86h_retire(v, 3 + (unsigned)pfx);
    return VMDL_OK;
}

/* MOV to/from CR3 (and CR8, offered only): the hook's, else done here. */
static bool cr_access(struct vmdl_vcpu *v, unsigned cr, bool write, int *err,
                      bool *triple)
{
    uint8_t op[3], rex;
    int pfx = vmdl__x86h_opcode_at(v, op, &rex);
    if (pfx < 0 || op[0] != 0x0F || op[1] != (write ? 0x22 : 0x20))
        return false;
    unsigned gpr = (op[2] & 7) | ((rex & 1) << 3);
    struct vmdl_x86_event ev = {.kind = write ? VMDL_X86_EVENT_MOV_TO_CR
                                              : VMDL_X86_EVENT_MOV_FROM_CR,
                                .cr = cr, .gpr = gpr, .insn_len = 3 + (unsigned)pfx};
    ev.value = rd(v, vmdl__x86_gpr_uc[gpr]);
    if (X86(v)->nested && offer_ev(v, &ev))
        return true;
    if (cr == 8)
        return false;                   /* the APIC's TPR (hosted_cr.c) */
    if (write) {
        uint64_t cr3 = code64(v) ? ev.value : (uint32_t)ev.value;
        bool npf = false;
        vmdl_fault f = vmdl__x86h_pdpte_reload(v, cr3, &npf);     /* SDM 4.4.1 */
        if (f || npf) {
            *err = f ? vmdl__x86h_fault(v, f, triple) : vmdl__x86h_npf_exit(v, triple);
            return true;
        }
        wr(v, UC_X86_REG_CR3, cr3);
        uc_ctl_flush_tlb(v->uc);
    } else {
        write_gpr(v, gpr, rd(v, UC_X86_REG_CR3));
    }
    vmdl__x86h_retire(v, ev.insn_len);
    return true;
}

/* Capstone's register -> 0..15, or -1 (none / not a GPR). */
static int gpr_num(struct vmdl_vcpu *v, unsigned reg)
{
    int idx, size;
    bool high;
    if (reg == X86_REG_INVALID || !vmdl__x86_cs_gpr(v->vm->cs, reg, &idx, &size, &high))
        return -1;
    return idx;
}

static unsigned seg_num(unsigned reg, unsigned dflt)
{
    switch (reg) {
    case X86_REG_ES: return 0;
    case X86_REG_CS: return 1;
    case X86_REG_SS: return 2;
    case X86_REG_DS: return 3;
    case X86_REG_FS: return 4;
    case X86_REG_GS: return 5;
    default: return dflt;
    }
}

static unsigned addr_size_code(unsigned bytes)
{
    return bytes == 2 ? 0 : bytes == 4 ? 1 : 2;
}

/*
 * VM-exit instruction information of a memory operand (SDM Vol. 3C
 * 28.2.5, tables for INVLPG-style and descriptor-table exits): scaling
 * 1:0, address size 9:7, segment 17:15, index 21:18 (invalid 22), base
 * 26:23 (invalid 27).
 */
static uint32_t mem_info(struct vmdl_vcpu *v, const cs_insn *in, const cs_x86_op *op)
{
    const cs_x86 *x = &in->detail->x86;
    unsigned scale = op->mem.scale == 8 ? 3 : op->mem.scale == 4 ? 2 :
                     op->mem.scale == 2 ? 1 : 0;
    int index = gpr_num(v, op->mem.index), base = gpr_num(v, op->mem.base);
    unsigned dseg = (base == 4 || base == 5) ? 2 : 3;   /* RSP/RBP: SS */
    uint32_t info = scale | addr_size_code(x->addr_size) << 7 |
                    seg_num(op->mem.segment, dseg) << 15;
    info |= index < 0 ? 1u << 22 : (uint32_t)index << 18;
    info |= base < 0 ? 1u << 27 : (uint32_t)base << 23;
    return info;
}

/* SGDT ... LTR (reasons 46/47): instruction information and address. */
static bool desc_event(struct vmdl_vcpu *v, unsigned code, struct vmdl_x86_event *ev)
{
    static const uint8_t which[8] = {
        VMDL_X86_DESC_SIDT, VMDL_X86_DESC_SGDT, VMDL_X86_DESC_SLDT, VMDL_X86_DESC_STR,
        VMDL_X86_DESC_LIDT, VMDL_X86_DESC_LGDT, VMDL_X86_DESC_LLDT, VMDL_X86_DESC_LTR};
    cs_insn *in = NULL;
    int len = vmdl__x86_insn_length(v, rd(v, UC_X86_REG_RIP), NULL, 0, &in);
    if (len <= 0)
        return false;
    ev->kind = VMDL_X86_EVENT_DESC_TABLE;
    ev->desc = which[code - X_IDTR_READ];
    ev->insn_len = (unsigned)len;
    const cs_x86 *x = &in->detail->x86;
    uint32_t ident = ev->desc & 3;
    ev->insn_info = ident << 28;
    if (ev->desc < VMDL_X86_DESC_SLDT)   /* operand size 11: 32-bit unless 66 */
        ev->insn_info |= (x->prefix[2] == 0x66 ? 0u : 1u) << 11;
    for (unsigned i = 0; i < x->op_count; i++) {
        const cs_x86_op *op = &x->operands[i];
        if (op->type == X86_OP_MEM) {
            ev->insn_info |= mem_info(v, in, op);
            ev->addr = vmdl__x86_mem_addr(v, in, op);
            ev->disp = (uint64_t)op->mem.disp;
        } else if (op->type == X86_OP_REG && ev->desc >= VMDL_X86_DESC_SLDT) {
            int r = gpr_num(v, op->reg);
            ev->insn_info |= 1u << 10 | (uint32_t)(r < 0 ? 0 : r) << 3;
        }
    }
    cs_free(in, 1);
    return true;
}

static bool invlpg_event(struct vmdl_vcpu *v, struct vmdl_x86_event *ev)
{
    cs_insn *in = NULL;
    int len = vmdl__x86_insn_length(v, rd(v, UC_X86_REG_RIP), NULL, 0, &in);
    if (len <= 0)
        return false;
    ev->kind = VMDL_X86_EVENT_INVLPG;
    ev->insn_len = (unsigned)len;
    const cs_x86 *x = &in->detail->x86;
    for (unsigned i = 0; i < x->op_count; i++)
        if (x->operands[i].type == X86_OP_MEM)
            ev->addr = vmdl__x86_mem_addr(v, in, &x->operands[i]);
    cs_free(in, 1);
    return true;
}

/* An instruction the nested guest's L1 may want and the machine otherwise
 * completes as a no-op (PAUSE, MWAIT, WBINVD, MONITOR) or flush (INVLPG). */
static bool simple_insn(struct vmdl_vcpu *v, enum vmdl_x86_event_kind kind, unsigned len)
{
    struct vmdl_x86_event ev = {.kind = kind, .insn_len = len};
    if (kind == VMDL_X86_EVENT_INVLPG && !invlpg_event(v, &ev))
        return false;
    if (offer_ev(v, &ev))
        return true;
    if (kind == VMDL_X86_EVENT_INVLPG)
        uc_ctl_flush_tlb(v->uc);
    vmdl__x86h_retire(v, ev.insn_len);
    return true;
}

/* INVD (0F 08) and WBINVD (0F 09), told apart by their opcode: Unicorn's
 * QEMU 5 checks the WBINVD intercept for both (measured: INVD with only
 * the INVD intercept set ran without an exit), so both are set together. */
static bool invd_wbinvd(struct vmdl_vcpu *v)
{
    uint8_t op[3], rex;
    int pfx = vmdl__x86h_opcode_at(v, op, &rex);
    if (pfx < 0 || op[0] != 0x0F || (op[1] != 0x08 && op[1] != 0x09))
        return false;
    return simple_insn(v, op[1] == 0x08 ? VMDL_X86_EVENT_INVD : VMDL_X86_EVENT_WBINVD,
                       2 + (unsigned)pfx);
}

/* MOV DR (0F 21 / 0F 23): offered first; hosted_dr.c keeps them otherwise. */
static bool dr_access(struct vmdl_vcpu *v, unsigned code)
{
    uint8_t op[3], rex;
    int pfx = vmdl__x86h_opcode_at(v, op, &rex);
    if (pfx < 0 || op[0] != 0x0F || (op[1] != 0x21 && op[1] != 0x23))
        return false;
    struct vmdl_x86_event ev = {.kind = VMDL_X86_EVENT_MOV_DR, .dr = (code & 0xF) & 7,
                                .gpr = (op[2] & 7) | ((rex & 1) << 3),
                                .to_reg = op[1] == 0x21, .insn_len = 3 + (unsigned)pfx};
    return offer_ev(v, &ev);
}

/*
 * An SVM exit while a nested guest runs: the instructions only the nested
 * intercepts catch, and those L1 may want before the machine's own
 * handling (CR8, MOV DR, RDPMC).  True when handled here (*err set).
 */
bool vmdl__x86h_nested_exit(struct vmdl_vcpu *v, unsigned code, int *err, bool *triple)
{
    *err = VMDL_OK;
    /* Outside a nested guest MOV to CR3 is intercepted for the PDPTE
     * registers (hosted_pdpte.c), or left on from then: performed. */
    if (!X86(v)->nested)
        return code == X_CR3_WRITE && cr_access(v, 3, true, err, triple);
    switch (code) {
    case X_CR0_READ:
    case X_CR4_READ:
        *err = cr_read(v, code - X_CR0_READ, triple);
        return true;
    case X_CR3_READ:
    case X_CR3_WRITE:
        return cr_access(v, 3, code == X_CR3_WRITE, err, triple);
    case X_CR8_READ:
    case X_CR8_WRITE:
        return cr_access(v, 8, code == X_CR8_WRITE, err, triple);
    case X_PAUSE:
        return simple_insn(v, VMDL_X86_EVENT_PAUSE, 2);
    case X_MONITOR:
        return simple_insn(v, VMDL_X86_EVENT_MONITOR, 3);
    case X_MWAIT:
        return simple_insn(v, VMDL_X86_EVENT_MWAIT, 3);
    case X_WBINVD:
    case X_INVD:
        return invd_wbinvd(v);
    case X_INVLPG:
        return simple_insn(v, VMDL_X86_EVENT_INVLPG, 0);
    case X_RDPMC: {
        struct vmdl_x86_event ev = {.kind = VMDL_X86_EVENT_RDPMC, .insn_len = 2};
        return offer_ev(v, &ev);
    }
    default:
        break;
    }
    if (code >= X_DR_READ && code < X_DR_WRITE + 8)
        return dr_access(v, code);
    if (code >= X_IDTR_READ && code <= X_TR_WRITE) {
        /* The loads are intercepted for the machine's own checks too. */
        if (!(X86(v)->nctl.intercept & VMDL_X86_NESTED_DESC))
            return false;
        struct vmdl_x86_event ev = {0};
        if (desc_event(v, code, &ev) && offer_ev(v, &ev))
            return true;
        /* Intercepted only when L1 asked for every one of them. */
        *err = vmdl__x86h_fault(v, VMDL_FAULT_UD, triple);
        return true;
    }
    return false;
}

/* Is `want` among the pfx prefix bytes of the instruction at RIP? */
bool vmdl__x86h_has_prefix(struct vmdl_vcpu *v, int pfx, uint8_t want)
{
    uint8_t b[15];
    uint64_t rip = rd(v, UC_X86_REG_RIP);
    bool c64 = code64(v);
    struct seg cs;
    seg_from_ctx(v, (const char *)X86(v)->ctx, R_CS, &cs);   /* code64 saved it */
    if (pfx <= 0 || pfx > 14 ||
        !vmdl__x86h_lin_rw(v, c64 ? rip : cs.base + rip, b, (size_t)pfx, false))
        return false;
    return memchr(b, want, (size_t)pfx) != NULL;
}

/*
 * RDRAND / RDSEED (0F C7 /6, /7, register form, no F3 prefix): QEMU's CPU
 * model has neither, so they raise #UD; in a nested guest whose L1 asked
 * for RDRAND/RDSEED exiting (the capability MSRs offer it) the exit is
 * taken instead.  True when the hook took it.
 */
bool vmdl__x86h_nested_ud(struct vmdl_vcpu *v)
{
    uint8_t op[3], rex;
    if (!X86(v)->nested)
        return false;
    int pfx = vmdl__x86h_opcode_at(v, op, &rex);
    if (pfx < 0 || op[0] != 0x0F || op[1] != 0xC7 || (op[2] & 0xC0) != 0xC0)
        return false;
    unsigned reg = (op[2] >> 3) & 7;
    if ((reg != 6 && reg != 7) || vmdl__x86h_has_prefix(v, pfx, 0xF3) ||
        vmdl__x86h_has_prefix(v, pfx, 0xF2))
        return false;                           /* RDPID and others */
    unsigned gpr = (op[2] & 7) | ((rex & 1) << 3);
    /* Instruction information (SDM 28.2.5): operand size 12:11, reg 6:3. */
    unsigned osz = (rex & 8) ? 2 : vmdl__x86h_has_prefix(v, pfx, 0x66) ? 0 : 1;
    struct vmdl_x86_event ev = {.kind = reg == 6 ? VMDL_X86_EVENT_RDRAND
                                                 : VMDL_X86_EVENT_RDSEED,
                                .gpr = gpr, .insn_len = 3 + (unsigned)pfx,
                                .insn_info = gpr << 3 | osz << 11};
    if (offer_ev(v, &ev))
        return true;
    /* Not wanted: complete it for L2 as a CPU with the instruction would
     * (the VMX capabilities that offer the exiting imply it), with a
     * deterministic xorshift sequence and CF = 1. */
    uint64_t x = X86(v)->h_rand ? X86(v)->h_rand : 0x9E3779B97F4A7C15ull;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    X86(v)->h_rand = x;
    uint64_t val = osz == 2 ? x : osz == 1 ? (uint32_t)x : (x & 0xFFFF);
    if (osz == 0)
        val |= rd(v, vmdl__x86_gpr_uc[gpr]) & ~0xFFFFull;
    wr(v, vmdl__x86_gpr_uc[gpr], val);
    wr(v, UC_X86_REG_RFLAGS, (rd(v, UC_X86_REG_RFLAGS) & ~0x8D5ull) | 1);
    vmdl__x86h_retire(v, ev.insn_len);
    return true;
}

/* ---- port I/O of a nested guest ---------------------------------------- */

/*
 * Inside a port hook (engine running): would L1 take this access?  If so,
 * stop precisely at the IN/OUT (io.c's tail mode) and return true; the
 * run step then offers it for real (vmdl__x86h_nested_io).
 */
bool vmdl__x86h_io_probe(struct vmdl_vcpu *v, uint16_t port, int size, bool in)
{
    if (!X86(v)->nested)
        return false;
    if (X86(v)->h_io_pass) {
        X86(v)->h_io_pass = false;
        return false;
    }
    struct vmdl_x86_event ev = {.kind = VMDL_X86_EVENT_IO, .port = port,
                                .size = (uint8_t)size, .in = in, .probe = true};
    if (!vmdl__x86h_event(v, &ev))
        return false;
    memset(&v->exit, 0, sizeof(v->exit));
    v->exit.u.io.port = port;
    v->exit.u.io.size = (uint8_t)size;
    v->exit.u.io.is_write = !in;
    uc_context_save(v->uc, X86(v)->io_ctx);
    vmdl__x86_io_stop(v, STOP_IO_EXIT, port);
    return true;
}

/* The IN/OUT/INS/OUTS at RIP: string, REP, immediate, and for the string
 * forms the instruction information and linear address (SDM 28.2.5). */
static bool io_decode(struct vmdl_vcpu *v, struct vmdl_x86_event *ev)
{
    uint8_t op[3], rex, b[15];
    int pfx = vmdl__x86h_opcode_at(v, op, &rex);
    if (pfx < 0)
        return false;
    uint64_t rip = rd(v, UC_X86_REG_RIP);
    bool c64 = code64(v);
    uc_context_save(v->uc, X86(v)->ctx);
    struct seg cs, sg;
    seg_from_ctx(v, (const char *)X86(v)->ctx, R_CS, &cs);
    vmdl__x86h_lin_rw(v, c64 ? rip : cs.base + rip, b, (size_t)pfx, false);
    unsigned seg = R_DS, asz = c64 ? 8 : (cs.flags & DESC_B) ? 4 : 2;
    for (int i = 0; i < pfx; i++) {
        switch (b[i]) {
        case 0xF3: case 0xF2: ev->rep = true; break;
        case 0x67: asz = asz == 8 ? 4 : asz == 4 ? 2 : 4; break;
        case 0x26: seg = R_ES; break;
        case 0x2E: seg = R_CS; break;
        case 0x36: seg = R_SS; break;
        case 0x3E: seg = R_DS; break;
        case 0x64: seg = R_FS; break;
        case 0x65: seg = R_GS; break;
        default: break;
        }
    }
    uint8_t o = op[0];
    ev->insn_len = (unsigned)pfx + ((o & 0xFC) == 0xE4 ? 2 : 1);
    ev->imm = (o & 0xFC) == 0xE4;
    ev->string = (o & 0xFC) == 0x6C;
    if (!ev->string) {
        ev->rep = false;
        return (o & 0xF4) == 0xE4;     /* E4-E7, EC-EF */
    }
    bool ins = o <= 0x6D;
    if (ins)
        seg = R_ES;                     /* INS always writes ES:rDI */
    seg_from_ctx(v, (const char *)X86(v)->ctx, (int)seg, &sg);
    uint64_t off = rd(v, ins ? UC_X86_REG_RDI : UC_X86_REG_RSI);
    off &= asz == 8 ? ~0ull : asz == 4 ? 0xFFFFFFFFull : 0xFFFFull;
    bool flat = c64 && seg != R_FS && seg != R_GS;
    ev->addr = (flat ? 0 : sg.base) + off;
    ev->insn_info = addr_size_code(asz) << 7 | seg << 15;
    return true;
}

/* The run step after a probed port access stopped the engine. */
int vmdl__x86h_nested_io(struct vmdl_vcpu *v, bool *triple)
{
    bool in = !v->exit.u.io.is_write;
    struct vmdl_x86_event ev = {.kind = VMDL_X86_EVENT_IO, .port = v->exit.u.io.port,
                                .size = v->exit.u.io.size, .in = in};
    bool precise = X86(v)->io_precise;
    if (!vmdl__x86_rewind_io_exit(v) || !io_decode(v, &ev)) {
        *triple = true;
        return vmdl_fail(VMDL_ESTATE, "nested I/O exit: the IN/OUT at port 0x%x "
                         "was not found", ev.port);
    }
    /* The stop came right after the access, which the counter took as
     * retired: it has not (L1 completes it, or it runs again). */
    if (precise && v->block_hook_on && vmdl__insns(v))
        vmdl__insns_set(v, vmdl__insns(v) - 1);
    v->pending = PENDING_NONE;
    if (!vmdl__x86h_event(v, &ev))
        X86(v)->h_io_pass = true;       /* run it for the machine this time */
    return VMDL_OK;
}

/* ---- events into and out of a nested guest ------------------------------ */

/* After the hook took an event (a VM exit installed L1's state): load it,
 * so that the run step goes on in L1. */
static void reload(struct vmdl_vcpu *v)
{
    if (X86(v)->hosted_vmrun)
        enter_now(v);
}

/* VM-entry event injection (vmdl_vcpu_inject_x86_event), at the entry. */
static int deliver_injected(struct vmdl_vcpu *v, bool *triple)
{
    struct x86_vcpu *x = X86(v);
    x->h_inj.valid = false;
    v->halted = false;
    unsigned type = x->h_inj.type;
    x->h_vectoring = (1u << 31) | type << 8 | x->h_inj.vector |
                     (x->h_inj.has_err ? 1u << 11 : 0);
    x->h_vectoring_err = x->h_inj.err;
    if (type >= 4) {                    /* software: push the next RIP */
        uint64_t rip = rd(v, UC_X86_REG_RIP);
        x->h_soft_rip = rip;
        x->h_soft_len = x->h_inj.len;
        wr(v, UC_X86_REG_RIP, rip + x->h_inj.len);
    }
    if (type == 2) {                    /* NMI: blocked until IRET */
        x->h_nmi_blocked = true;
        pw64(v, H_VMCB + C_INTERCEPT, pr64(v, H_VMCB + C_INTERCEPT) | (1ull << I_IRET));
    }
    int err = vmdl__x86h_deliver(v, x->h_inj.vector, x->h_inj.has_err, x->h_inj.err,
                                 triple);
    x->h_soft_rip = 0;
    x->h_vectoring = 0;
    return err;
}

static bool rflags_if(struct vmdl_vcpu *v)
{
    return rd(v, UC_X86_REG_RFLAGS) & (1ull << 9);
}

/*
 * NMI window (SDM 26.7.6): before an instruction, or in HLT, with no NMI
 * blocking and no MOV-SS shadow, when the hook wants it.  A MOV-SS shadow
 * holds it off for exactly one instruction, which the next run step runs
 * alone.  True when the hook took it (a VM exit).
 */
static bool nmi_window(struct vmdl_vcpu *v)
{
    struct vmdl_x86_event ev = {.kind = VMDL_X86_EVENT_NMI_WINDOW, .probe = true};
    if (X86(v)->h_nmi_blocked || !vmdl__x86h_event(v, &ev))
        return false;
    if (!v->halted && vmdl__x86h_in_mov_ss_shadow(v)) {
        X86(v)->h_shadow_step = true;
        return false;
    }
    ev.probe = false;
    return vmdl__x86h_event(v, &ev);
}

/*
 * Before the run step enters a nested guest: the event VM entry injects,
 * then an interrupt window L1 asked for that is already open (SDM 26.2:
 * the exit comes before the first instruction).
 */
int vmdl__x86h_nested_pre(struct vmdl_vcpu *v, bool *triple)
{
    struct x86_vcpu *x = X86(v);
    if (!x->nested && !x->h_inj.valid)
        return VMDL_OK;
    reload(v);
    int err = VMDL_OK;
    if (x->h_inj.valid)
        err = deliver_injected(v, triple);
    if (err || *triple || !x->nested || nmi_window(v) || v->halted)
        goto out;
    /* The probe first: it is cheap, the shadow needs the engine's state.
     * A shadow the entry installed is stepped through here (QEMU does not
     * keep one VMRUN loads, so its own interrupt check would not wait). */
    if (vmdl__x86h_nested_window(v) && rflags_if(v) && vmdl__x86h_in_shadow(v) &&
        x->h_shadow_at != UINT64_MAX) {
        x->h_shadow_step = true;
    } else if (vmdl__x86h_nested_window(v) && rflags_if(v) && !vmdl__x86h_in_shadow(v)) {
        struct vmdl_x86_event ev = {.kind = VMDL_X86_EVENT_INTR_WINDOW};
        /* The hook may deliver an interrupt instead of exiting (a virtual
         * interrupt of APIC virtualization): before the first instruction. */
        if (vmdl__x86h_event(v, &ev) && x->nested && x->h_inj.valid) {
            reload(v);
            err = deliver_injected(v, triple);
        }
    }
out:
    reload(v);
    return err;
}

/* Does L1 want an interrupt-window exit?  Then the vCPU opens its own
 * window (V_IRQ) while L2 has interrupts blocked, and the entry after the
 * VINTR exit finds them unblocked. */
bool vmdl__x86h_nested_window(struct vmdl_vcpu *v)
{
    struct vmdl_x86_event ev = {.kind = VMDL_X86_EVENT_INTR_WINDOW, .probe = true};
    return X86(v)->nested && vmdl__x86h_event(v, &ev);
}

bool vmdl__x86h_nested_window_wakes(struct vmdl_vcpu *v, bool rflags_if)
{
    struct vmdl_x86_event nmi = {.kind = VMDL_X86_EVENT_NMI_WINDOW, .probe = true};
    if (!X86(v)->nested)
        return false;
    if (!X86(v)->h_nmi_blocked && vmdl__x86h_event(v, &nmi))
        return true;
    return rflags_if && vmdl__x86h_nested_window(v);
}

bool vmdl__x86h_nested_wakes(struct vmdl_vcpu *v)
{
    struct vmdl_x86_event ev = {.kind = VMDL_X86_EVENT_EXT_INTR, .probe = true};
    return X86(v)->nested && vmdl__x86h_event(v, &ev);
}

/* An NMI or interrupt the irqchip has while a nested guest runs: offered
 * before RFLAGS.IF is looked at (external-interrupt exiting is not masked
 * by L2's IF).  1: taken (L1 runs), 0: the machine delivers it to L2. */
int vmdl__x86h_nested_irq(struct vmdl_vcpu *v, bool nmi)
{
    struct vmdl_vm *vm = v->vm;
    if (!X86(v)->nested)
        return 0;
    if (nmi) {
        struct vmdl_x86_event ev = {.kind = VMDL_X86_EVENT_NMI, .vector = 2};
        if (!vmdl__x86h_event(v, &ev))
            return 0;
        v->nmi_pending = false;
        reload(v);
        return 1;
    }
    int vec = vm->irqchip->pending(vm->irqchip_opaque, v);
    if (vec < 0)
        return 0;
    bool ack = false;
    struct vmdl_x86_event ev = {.kind = VMDL_X86_EVENT_EXT_INTR, .vector = (unsigned)vec,
                                .ack = &ack};
    if (!vmdl__x86h_event(v, &ev))
        return 0;
    if (ack && vm->irqchip->ack)
        vm->irqchip->ack(vm->irqchip_opaque, v, vec);
    reload(v);
    return 1;
}

/* The VMX interruption information of the event vmdl__x86h_deliver is
 * about to deliver in a nested guest (IDT-vectoring information). */
void vmdl__x86h_nested_vectoring(struct vmdl_vcpu *v, unsigned vec, bool has_err,
                                 uint32_t err)
{
    struct x86_vcpu *x = X86(v);
    if (!x->nested || x->h_vectoring)
        return;
    /* INT3 / INTO (one byte) are software exceptions, INT n (CD ib, also
     * INT 3) software interrupts. */
    unsigned type = x->h_soft_rip ? ((vec == 3 || vec == 4) && x->h_soft_len == 1 ? 6 : 4)
                    : vec == 2 ? 2 : vec < 32 ? 3 : 0;
    x->h_vectoring = (1u << 31) | type << 8 | vec | (has_err ? 1u << 11 : 0);
    x->h_vectoring_err = err;
}

/* A fault while delivering in a nested guest: L1 may want it (with the
 * event being delivered as IDT-vectoring information).  True when taken. */
bool vmdl__x86h_nested_delivery_fault(struct vmdl_vcpu *v, unsigned vec, uint32_t err,
                                      uint64_t cr2)
{
    struct x86_vcpu *x = X86(v);
    if (!x->nested || !x->h_vectoring)
        return false;
    struct vmdl_x86_event ev = {.kind = VMDL_X86_EVENT_EXCEPTION, .vector = vec,
                                .has_error = vmdl__x86h_has_error(vec),
                                .error_code = err, .cr2 = cr2,
                                .idt_info = x->h_vectoring,
                                .idt_error = x->h_vectoring_err};
    /* Delivering a software interrupt or exception: the exit reports the
     * instruction's length (SDM 28.2.4). */
    unsigned type = (x->h_vectoring >> 8) & 7;
    if (type == 4 || type == 5 || type == 6)
        ev.insn_len = x->h_soft_len;
    if (!vmdl__x86h_event(v, &ev))
        return false;
    x->h_vectoring = 0;
    return true;
}
