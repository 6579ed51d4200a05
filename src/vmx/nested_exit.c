/* SPDX-License-Identifier: MIT */
/*
 * Does L1 want this L2 event?  SDM Vol. 3C 26.1 (instructions that cause VM
 * exits unconditionally / conditionally) and 26.2 (other causes), applied to
 * vmcs12 as KVM's nested_vmx_l1_wants_exit and the helpers it calls
 * (nested_vmx_exit_handled_io/_msr/_cr, nested_vmx_is_page_fault_vmexit).
 * The exit information is built from scratch, as KVM does for a reflected
 * exit (SDM 28.2: qualification, interruption information, instruction
 * length and information).
 */
#include <string.h>

#include "virtmodel/error.h"
#include "vmx_priv.h"

#define CR0_TS (1ull << 3)
#define CR0_PE (1ull << 0)

struct wants {
    const struct vmdl_vmx *vmx;
    uint32_t pin, proc, proc2;
};

static bool has2(const struct wants *w, uint32_t bit)
{
    return (w->proc & VMDL_PROC_SECONDARY) && (w->proc2 & bit);
}

/* Bit `bit` of a bitmap page in guest memory; unreadable -> exit (KVM). */
static bool bitmap_bit(const struct vmdl_vmx *vmx, uint64_t page, uint32_t bit)
{
    uint8_t b;
    if (vmdl_guest_read(&vmx->mem, page + bit / 8, &b, 1))
        return true;
    return (b >> (bit % 8)) & 1;
}

/* SDM 26.1.3 / KVM nested_vmx_exit_handled_io: every port of the access is
 * looked up; an access that wraps past 0xFFFF exits. */
static bool io_exits(const struct wants *w, const struct vmdl_vmx_l2_event *ev)
{
    if (!(w->proc & VMDL_PROC_IO_BITMAPS))
        return w->proc & VMDL_PROC_UNCOND_IO;
    unsigned size = ev->size ? ev->size : 1;
    for (unsigned i = 0; i < size; i++) {
        uint32_t port = (uint32_t)ev->port + i;
        if (port > 0xffff)
            return true;
        uint64_t page = vmdl__v12(w->vmx, port < 0x8000 ? V12_IO_BITMAP_A : V12_IO_BITMAP_B);
        if (bitmap_bit(w->vmx, page, port & 0x7fff))
            return true;
    }
    return false;
}

/* SDM 26.1.3 / KVM nested_vmx_exit_handled_msr: read bitmaps at 0 (low)
 * and 1024 (high), write bitmaps at 2048 and 3072; MSRs outside both
 * ranges always exit. */
static bool msr_exits(const struct wants *w, uint32_t msr, bool write)
{
    if (!(w->proc & VMDL_PROC_MSR_BITMAPS))
        return true;
    uint64_t page = vmdl__v12(w->vmx, V12_MSR_BITMAP);
    uint32_t off = write ? 2048 * 8 : 0;
    if (msr <= 0x1fff)
        return bitmap_bit(w->vmx, page, off + msr);
    if (msr >= 0xc0000000u && msr <= 0xc0001fffu)
        return bitmap_bit(w->vmx, page, off + 1024 * 8 + (msr - 0xc0000000u));
    return true;
}

static uint64_t cr_mask(const struct vmdl_vmx *vmx, unsigned cr)
{
    return vmdl__v12(vmx, cr == 0 ? V12_CR0_GUEST_HOST_MASK : V12_CR4_GUEST_HOST_MASK);
}

static uint64_t cr_shadow(const struct vmdl_vmx *vmx, unsigned cr)
{
    return vmdl__v12(vmx, cr == 0 ? V12_CR0_READ_SHADOW : V12_CR4_READ_SHADOW);
}

static bool cr3_target(const struct vmdl_vmx *vmx, uint64_t val)
{
    static const uint16_t tgt[] = {V12_CR3_TARGET_VALUE0, V12_CR3_TARGET_VALUE1,
                                   V12_CR3_TARGET_VALUE2, V12_CR3_TARGET_VALUE3};
    uint64_t n = vmdl__v12(vmx, V12_CR3_TARGET_COUNT);
    for (uint64_t i = 0; i < n && i < 4; i++)
        if (vmdl__v12(vmx, tgt[i]) == val)
            return true;
    return false;
}

/* SDM 26.1.3 "MOV to CR0/CR3/CR4/CR8", KVM nested_vmx_exit_handled_cr. */
static bool mov_to_cr_exits(const struct wants *w, const struct vmdl_vmx_l2_event *ev)
{
    switch (ev->cr) {
    case 0:
    case 4:
        return cr_mask(w->vmx, ev->cr) & (ev->value ^ cr_shadow(w->vmx, ev->cr));
    case 3:
        return (w->proc & VMDL_PROC_CR3_LOAD) && !cr3_target(w->vmx, ev->value);
    case 8:
        return w->proc & VMDL_PROC_CR8_LOAD;
    default:
        return true;
    }
}

static bool mov_from_cr_exits(const struct wants *w, unsigned cr)
{
    if (cr == 3)
        return w->proc & VMDL_PROC_CR3_STORE;
    if (cr == 8)
        return w->proc & VMDL_PROC_CR8_STORE;
    return false;
}

static bool lmsw_exits(const struct wants *w, uint64_t val)
{
    uint64_t mask = cr_mask(w->vmx, 0), shadow = cr_shadow(w->vmx, 0);
    /* LMSW writes MP EM TS (changes against the shadow exit) and can set,
     * but not clear, PE. */
    if (mask & 0xe & (val ^ shadow))
        return true;
    return (mask & CR0_PE) && !(shadow & CR0_PE) && (val & CR0_PE);
}

static bool clts_exits(const struct wants *w)
{
    return (cr_mask(w->vmx, 0) & CR0_TS) && (cr_shadow(w->vmx, 0) & CR0_TS);
}

/* SDM 26.2: #PF with the error-code mask/match and bit 14 of the bitmap. */
static bool exception_exits(const struct wants *w, const struct vmdl_vmx_l2_event *ev)
{
    uint32_t bitmap = (uint32_t)vmdl__v12(w->vmx, V12_EXCEPTION_BITMAP);
    bool bit = (bitmap >> (ev->vector & 31)) & 1;
    if (ev->vector != 14)
        return ev->vector < 32 && bit;
    uint32_t mask = (uint32_t)vmdl__v12(w->vmx, V12_PAGE_FAULT_ERROR_CODE_MASK);
    uint32_t match = (uint32_t)vmdl__v12(w->vmx, V12_PAGE_FAULT_ERROR_CODE_MATCH);
    bool eq = (ev->error_code & mask) == match;
    return bit ? eq : !eq;
}

/* The exit reasons of the VMX instructions (SDM appendix C): VMCALL
 * through VMXON, INVEPT, INVVPID and VMFUNC. */
static bool is_vmx_insn_reason(uint32_t r)
{
    return (r >= VMDL_VMX_EXIT_VMCALL && r <= VMDL_VMX_EXIT_VMXON) ||
           r == VMDL_VMX_EXIT_INVEPT || r == VMDL_VMX_EXIT_INVVPID ||
           r == VMDL_VMX_EXIT_VMFUNC;
}

static void set_reason(struct vmdl_vmx_exit_info *i, uint32_t reason)
{
    i->reason = reason;
}

static uint32_t exception_info(const struct vmdl_vmx_l2_event *ev)
{
    unsigned type = ev->type ? ev->type : VMDL_INTR_TYPE_HW_EXCEPTION;
    return VMDL_INTR_INFO_VALID | ev->vector | type << 8 |
           (ev->has_error ? VMDL_INTR_INFO_HAS_ERROR : 0);
}

static uint64_t io_qualification(const struct vmdl_vmx_l2_event *ev)
{
    unsigned size = ev->size ? ev->size : 1;
    return (uint64_t)(size - 1) | (ev->in ? 1u << 3 : 0) | (ev->string ? 1u << 4 : 0) |
           (ev->rep ? 1u << 5 : 0) | (ev->imm ? 1u << 6 : 0) | (uint64_t)ev->port << 16;
}

static uint64_t cr_qualification(const struct vmdl_vmx_l2_event *ev, unsigned access)
{
    uint64_t q = (ev->cr & 15) | access << 4 | (uint64_t)(ev->gpr & 15) << 8;
    if (access == 3) /* LMSW: operand type and source data */
        q = (ev->lmsw_mem ? 1u << 6 : 0) | 3u << 4 | (ev->value & 0xffff) << 16;
    if (access == 2)
        q = 2u << 4;
    return q;
}

/* Events that exit on a control bit alone: kind -> (which word, bit, reason). */
struct simple {
    enum vmdl_vmx_l2_kind kind;
    uint8_t word;               /* 0 none (always), 1 primary, 2 secondary */
    uint32_t bit;
    uint16_t reason;
};

static const struct simple simple_exits[] = {
    {VMDL_L2_CPUID, 0, 0, VMDL_VMX_EXIT_CPUID},
    {VMDL_L2_GETSEC, 0, 0, VMDL_VMX_EXIT_GETSEC},
    {VMDL_L2_INVD, 0, 0, VMDL_VMX_EXIT_INVD},
    {VMDL_L2_VMCALL, 0, 0, VMDL_VMX_EXIT_VMCALL},
    {VMDL_L2_XSETBV, 0, 0, VMDL_VMX_EXIT_XSETBV},
    {VMDL_L2_TRIPLE_FAULT, 0, 0, VMDL_VMX_EXIT_TRIPLE_FAULT},
    {VMDL_L2_INIT, 0, 0, VMDL_VMX_EXIT_INIT},
    {VMDL_L2_HLT, 1, VMDL_PROC_HLT, VMDL_VMX_EXIT_HLT},
    {VMDL_L2_INVLPG, 1, VMDL_PROC_INVLPG, VMDL_VMX_EXIT_INVLPG},
    {VMDL_L2_RDPMC, 1, VMDL_PROC_RDPMC, VMDL_VMX_EXIT_RDPMC},
    {VMDL_L2_RDTSC, 1, VMDL_PROC_RDTSC, VMDL_VMX_EXIT_RDTSC},
    {VMDL_L2_RDTSCP, 1, VMDL_PROC_RDTSC, VMDL_VMX_EXIT_RDTSCP},
    {VMDL_L2_MONITOR, 1, VMDL_PROC_MONITOR, VMDL_VMX_EXIT_MONITOR},
    {VMDL_L2_MWAIT, 1, VMDL_PROC_MWAIT, VMDL_VMX_EXIT_MWAIT},
    {VMDL_L2_MOV_DR, 1, VMDL_PROC_MOV_DR, VMDL_VMX_EXIT_DR_ACCESS},
    {VMDL_L2_INTR_WINDOW, 1, VMDL_PROC_INTR_WINDOW, VMDL_VMX_EXIT_INTR_WINDOW},
    {VMDL_L2_NMI_WINDOW, 1, VMDL_PROC_NMI_WINDOW, VMDL_VMX_EXIT_NMI_WINDOW},
    {VMDL_L2_WBINVD, 2, VMDL_PROC2_WBINVD, VMDL_VMX_EXIT_WBINVD},
    {VMDL_L2_RDRAND, 2, VMDL_PROC2_RDRAND, VMDL_VMX_EXIT_RDRAND},
    {VMDL_L2_RDSEED, 2, VMDL_PROC2_RDSEED, VMDL_VMX_EXIT_RDSEED},
    {VMDL_L2_PREEMPT_TIMER, 3, VMDL_PIN_PREEMPT_TIMER, VMDL_VMX_EXIT_PREEMPT_TIMER},
};

static int simple_decision(const struct wants *w, const struct vmdl_vmx_l2_event *ev,
                           uint32_t *reason)
{
    for (size_t i = 0; i < sizeof(simple_exits) / sizeof(simple_exits[0]); i++) {
        const struct simple *s = &simple_exits[i];
        if (s->kind != ev->kind)
            continue;
        *reason = s->reason;
        switch (s->word) {
        case 0: return 1;
        case 1: return (w->proc & s->bit) != 0;
        case 2: return has2(w, s->bit);
        default: return (w->pin & s->bit) != 0;
        }
    }
    return -1;
}

static bool decide(const struct wants *w, const struct vmdl_vmx_l2_event *ev,
                   struct vmdl_vmx_exit_info *i)
{
    uint32_t reason = 0;
    int s = simple_decision(w, ev, &reason);
    if (s >= 0) {
        set_reason(i, reason);
        if (ev->kind == VMDL_L2_INVLPG)
            i->qualification = ev->addr;
        if (ev->kind == VMDL_L2_MOV_DR)
            i->qualification = (ev->dr & 7) | (ev->to_reg ? 1u << 4 : 0) |
                               (uint64_t)(ev->gpr & 15) << 8;
        return s;
    }
    switch (ev->kind) {
    case VMDL_L2_EXCEPTION:
        set_reason(i, VMDL_VMX_EXIT_EXCEPTION_NMI);
        i->intr_info = exception_info(ev);
        i->intr_error = ev->has_error ? ev->error_code : 0;
        if (ev->vector == 14)
            i->qualification = ev->addr;
        /* #DB: B0-B3, BD, BS and RTM in DR6's positions (SDM 28.2.1). */
        if (ev->vector == 1)
            i->qualification = ev->addr & 0x1600Full;
        return exception_exits(w, ev);
    case VMDL_L2_NMI:
        set_reason(i, VMDL_VMX_EXIT_EXCEPTION_NMI);
        i->intr_info = VMDL_INTR_INFO_VALID | VMDL_INTR_TYPE_NMI << 8 | 2;
        return w->pin & VMDL_PIN_NMI_EXITING;
    case VMDL_L2_EXT_INTR: {
        set_reason(i, VMDL_VMX_EXIT_EXTERNAL_INTR);
        /* With "acknowledge interrupt on exit" the vector is reported
         * (and the caller acknowledges it); otherwise the field is invalid. */
        uint32_t exit = (uint32_t)vmdl__v12(w->vmx, V12_VM_EXIT_CONTROLS);
        if (exit & VMDL_EXITCTL_ACK_INTR)
            i->intr_info = VMDL_INTR_INFO_VALID | VMDL_INTR_TYPE_EXT_INTR << 8 | ev->vector;
        return w->pin & VMDL_PIN_EXT_INTR;
    }
    case VMDL_L2_SIPI:
        set_reason(i, VMDL_VMX_EXIT_SIPI);
        i->qualification = ev->vector;
        return true;
    case VMDL_L2_VMX_INSN:
        /* Only the VMX instructions' own reasons: anything else is a bad
         * event from the caller, not something L1 could be asked about. */
        if (!is_vmx_insn_reason(ev->vmx_exit))
            return false;
        set_reason(i, ev->vmx_exit);
        return true;
    case VMDL_L2_MOV_TO_CR:
        set_reason(i, VMDL_VMX_EXIT_CR_ACCESS);
        i->qualification = cr_qualification(ev, 0);
        return mov_to_cr_exits(w, ev);
    case VMDL_L2_MOV_FROM_CR:
        set_reason(i, VMDL_VMX_EXIT_CR_ACCESS);
        i->qualification = cr_qualification(ev, 1);
        return mov_from_cr_exits(w, ev->cr);
    case VMDL_L2_CLTS:
        set_reason(i, VMDL_VMX_EXIT_CR_ACCESS);
        i->qualification = cr_qualification(ev, 2);
        return clts_exits(w);
    case VMDL_L2_LMSW:
        set_reason(i, VMDL_VMX_EXIT_CR_ACCESS);
        i->qualification = cr_qualification(ev, 3);
        i->guest_linear = ev->lmsw_mem ? ev->addr : 0;
        return lmsw_exits(w, ev->value);
    case VMDL_L2_IO:
        set_reason(i, VMDL_VMX_EXIT_IO);
        i->qualification = io_qualification(ev);
        return io_exits(w, ev);
    case VMDL_L2_RDMSR:
    case VMDL_L2_WRMSR:
        set_reason(i, ev->kind == VMDL_L2_RDMSR ? VMDL_VMX_EXIT_RDMSR : VMDL_VMX_EXIT_WRMSR);
        return msr_exits(w, ev->msr, ev->kind == VMDL_L2_WRMSR);
    case VMDL_L2_PAUSE:
        set_reason(i, VMDL_VMX_EXIT_PAUSE);
        /* KVM: PAUSE exiting or PAUSE-loop exiting both mean L1 wants it. */
        return (w->proc & VMDL_PROC_PAUSE) || has2(w, VMDL_PROC2_PAUSE_LOOP);
    case VMDL_L2_INVPCID:
        set_reason(i, VMDL_VMX_EXIT_INVPCID);
        return has2(w, VMDL_PROC2_INVPCID) && (w->proc & VMDL_PROC_INVLPG);
    case VMDL_L2_DESC_TABLE:
        /* SDM 26.1.3 "descriptor-table exiting"; the qualification is the
         * memory operand's displacement (28.2.1), the identity of the
         * instruction is in the instruction information (bits 29:28). */
        if (ev->desc > 7)
            return false;
        set_reason(i, ev->desc < 4 ? VMDL_VMX_EXIT_GDTR_IDTR : VMDL_VMX_EXIT_LDTR_TR);
        i->qualification = ev->disp;
        return has2(w, VMDL_PROC2_DESC_TABLE);
    default:
        return false;
    }
}

/* Exits that report the instruction length (SDM 28.2.4). */
static bool reports_length(uint32_t reason)
{
    switch (reason) {
    case VMDL_VMX_EXIT_EXCEPTION_NMI: case VMDL_VMX_EXIT_EXTERNAL_INTR:
    case VMDL_VMX_EXIT_TRIPLE_FAULT: case VMDL_VMX_EXIT_INIT: case VMDL_VMX_EXIT_SIPI:
    case VMDL_VMX_EXIT_INTR_WINDOW: case VMDL_VMX_EXIT_NMI_WINDOW:
    case VMDL_VMX_EXIT_PREEMPT_TIMER:
        return false;
    default:
        return true;
    }
}

bool vmdl_vmx_l1_wants(const struct vmdl_vmx *vmx, const struct vmdl_vmx_l2_event *ev,
                       struct vmdl_vmx_exit_info *info)
{
    struct vmdl_vmx_exit_info scratch;
    if (!info)
        info = &scratch;
    memset(info, 0, sizeof(*info));
    if (!vmx || !ev || !vmdl__vmx_has_current(vmx))
        return false;
    struct wants w = {vmx, (uint32_t)vmdl__v12(vmx, V12_PIN_BASED_VM_EXEC_CONTROL),
                      (uint32_t)vmdl__v12(vmx, V12_CPU_BASED_VM_EXEC_CONTROL),
                      (uint32_t)vmdl__v12(vmx, V12_SECONDARY_VM_EXEC_CONTROL)};
    bool exits = decide(&w, ev, info);
    bool soft = ev->kind == VMDL_L2_EXCEPTION &&
                (ev->type == VMDL_INTR_TYPE_SOFT_EXCEPTION ||
                 ev->type == VMDL_INTR_TYPE_PRIV_SW_EXCEPTION);
    if (reports_length(info->reason) || soft)
        info->insn_len = ev->insn_len;
    info->insn_info = ev->insn_info;
    return exits;
}

/* (a * b) >> 48 over the full 128-bit product, in 32-bit halves. */
static uint64_t mul_shr48(uint64_t a, uint64_t b)
{
    uint64_t al = (uint32_t)a, ah = a >> 32, bl = (uint32_t)b, bh = b >> 32;
    uint64_t ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
    uint64_t mid = (ll >> 32) + (uint32_t)lh + (uint32_t)hl;
    uint64_t lo = (mid << 32) | (uint32_t)ll;
    uint64_t hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
    return (hi << 16) | (lo >> 48);
}

uint64_t vmdl_vmx_l2_tsc(const struct vmdl_vmx *vmx, uint64_t l1_tsc)
{
    if (!vmx || !vmdl__vmx_has_current(vmx) ||
        !(vmdl__v12(vmx, V12_CPU_BASED_VM_EXEC_CONTROL) & VMDL_PROC_TSC_OFFSETTING))
        return l1_tsc;
    uint64_t tsc = l1_tsc;
    if ((vmdl__v12(vmx, V12_CPU_BASED_VM_EXEC_CONTROL) & VMDL_PROC_SECONDARY) &&
        (vmdl__v12(vmx, V12_SECONDARY_VM_EXEC_CONTROL) & VMDL_PROC2_TSC_SCALING))
        tsc = mul_shr48(tsc, vmdl__v12(vmx, V12_TSC_MULTIPLIER));
    return tsc + vmdl__v12(vmx, V12_TSC_OFFSET);
}

uint64_t vmdl_vmx_preempt_deadline(uint64_t tsc, uint32_t value, unsigned rate)
{
    if (rate > 31)
        rate = 31;
    uint64_t base = tsc >> rate;
    if (base > UINT64_MAX - value || base + value > (UINT64_MAX >> rate))
        return UINT64_MAX;
    return (base + value) << rate;
}

uint32_t vmdl_vmx_preempt_value(uint64_t now, uint64_t deadline, unsigned rate)
{
    if (rate > 31)
        rate = 31;
    if (now >= deadline)
        return 0;
    uint64_t left = (deadline - now) >> rate;
    return left > UINT32_MAX ? UINT32_MAX : (uint32_t)left;
}

uint64_t vmdl_vmx_l2_read_cr(const struct vmdl_vmx *vmx, unsigned cr, uint64_t real)
{
    if (!vmx || (cr != 0 && cr != 4))
        return real;
    uint64_t m = cr_mask(vmx, cr);
    return (real & ~m) | (cr_shadow(vmx, cr) & m);
}

uint64_t vmdl_vmx_l2_write_cr(const struct vmdl_vmx *vmx, unsigned cr,
                              uint64_t real, uint64_t value)
{
    if (!vmx || (cr != 0 && cr != 4))
        return value;
    uint64_t m = cr_mask(vmx, cr);
    return (real & m) | (value & ~m);
}
