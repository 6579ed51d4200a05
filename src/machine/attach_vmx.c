/* SPDX-License-Identifier: MIT */
/*
 * Machine glue for the vmx model (include/virtmodel/attach_vmx.h).  Only the
 * public machine API is used.
 */
#include <stdlib.h>
#include <string.h>

#include "virtmodel/attach_lapic.h"
#include "virtmodel/attach_vmx.h"
#include "virtmodel/error.h"
#include "virtmodel/inspect.h"
#include "virtmodel/model.h"
#include "virtmodel/models.h"
#include "virtmodel/vmx_nested.h"
#include "virtmodel/vmx_vapic.h"
#include "attach_vmx_ept.h"
#include "attach_vmx_state.h"
#include "glue_state.h"

struct vmdl_vmx_attach {
    struct vmdl_vmx_model *model;
    struct vmdl_vm *vm;
    /* The local APICs, once bound (the first VMXON): they hold INIT and
     * SIPI for a vCPU in VMX operation (hold_init_sipi). */
    struct vmdl_lapic_bus *bus;
    uint64_t feature_control;
    unsigned n;
    /* Per vCPU: L2's state fields the machine does not switch live
     * (SYSENTER, PAT, DEBUGCTL, activity ...), kept from the entry. */
    struct vmdl_vmx_cpu *l2;
    /* Per vCPU: the VMX-preemption timer's deadline in virtual time
     * (retired instructions), UINT64_MAX when not counting. */
    uint64_t *timer_at;
    /* Per vCPU: the monitor trap flag's pending VM exit (enum mtf). */
    uint8_t *mtf;
    /* Per vCPU: what the second-stage shadow was built from. */
    struct vmdl__vmx_ept_shadow *shadow;
    /* Per vCPU: L1's NMI blocking at the entry, which L1 has again after
     * the exit (KVM keeps it in vmcs01). */
    bool *l1_nmi_blocked;
    /* Per vCPU: its APIC may hold INIT/SIPI to take at the next advance. */
    bool *look;
    /* The encoding of CPU_BASED_VM_EXEC_CONTROL, read at every RDTSC of L2
     * (a field search by name there was 13% of such an exit, measured). */
    uint64_t enc_proc;
    struct vmdl_vmx *vcpu[];
};

static struct vmdl_vmx *vmx_of(struct vmdl_vmx_attach *h, struct vmdl_vcpu *vcpu)
{
    unsigned i = vmdl_vcpu_index(vcpu);
    return i < h->n ? h->vcpu[i] : NULL;
}

/* A register only written (VMREAD's destination) is not read: each read is
 * an engine call on the trapped-instruction path (docs/performance.md). */
static bool load_operand(struct vmdl_vcpu *vcpu, const struct vmdl_x86_operand *in,
                         struct vmdl_vmx_operand *out, bool write_only)
{
    memset(out, 0, sizeof(*out));
    switch (in->kind) {
    case VMDL_OPND_REG:
        out->kind = VMDL_VMX_OPND_REG;
        return write_only || vmdl_vcpu_get_reg(vcpu, in->reg, &out->value) == 0;
    case VMDL_OPND_MEM:
        out->kind = VMDL_VMX_OPND_MEM;
        out->addr = in->addr;
        out->stack = in->stack;
        return true;
    default:
        out->kind = VMDL_VMX_OPND_NONE;
        return true;
    }
}

/* ---- running L2 on a hosted vCPU (machine.h, vmdl_vcpu_get/set_x86_sys) ---- */

static void sys_to_cpu(const struct vmdl_x86_sys_state *s, struct vmdl_vmx_cpu *c)
{
    c->cr0 = s->cr0;
    c->cr3 = s->cr3;
    c->cr4 = s->cr4;
    c->efer = s->efer;
    c->dr7 = s->dr7;
    c->rflags = s->rflags;
    c->rip = s->rip;
    c->rsp = s->rsp;
    for (unsigned i = 0; i < VMDL_VMX_NSEGS; i++)
        c->seg[i] = (struct vmdl_vmx_segment){s->seg[i].selector, s->seg[i].base,
                                              s->seg[i].limit, s->seg[i].ar};
    c->gdtr_base = s->gdtr_base;
    c->gdtr_limit = s->gdtr_limit;
    c->idtr_base = s->idtr_base;
    c->idtr_limit = s->idtr_limit;
    c->pat = s->pat;
    c->sysenter_cs = (uint32_t)s->sysenter_cs;
    c->sysenter_esp = s->sysenter_esp;
    c->sysenter_eip = s->sysenter_eip;
    c->activity = s->activity;
    c->debugctl = s->debugctl;
    c->interruptibility = s->interruptibility;
}

static void cpu_to_sys(const struct vmdl_vmx_cpu *c, struct vmdl_x86_sys_state *s)
{
    s->cr0 = c->cr0;
    s->cr3 = c->cr3;
    s->cr4 = c->cr4;
    s->efer = c->efer;
    s->dr7 = c->dr7;
    s->rflags = c->rflags;
    s->rip = c->rip;
    s->rsp = c->rsp;
    for (unsigned i = 0; i < VMDL_VMX_NSEGS; i++)
        s->seg[i] = (struct vmdl_x86_segment){c->seg[i].selector, c->seg[i].base,
                                              c->seg[i].limit, c->seg[i].ar};
    s->gdtr_base = c->gdtr_base;
    s->gdtr_limit = c->gdtr_limit;
    s->idtr_base = c->idtr_base;
    s->idtr_limit = c->idtr_limit;
    s->pat = c->pat;
    s->sysenter_cs = c->sysenter_cs;
    s->sysenter_esp = c->sysenter_esp;
    s->sysenter_eip = c->sysenter_eip;
    s->activity = c->activity == 1 ? 1 : 0;
    s->debugctl = c->debugctl;
    s->interruptibility = c->interruptibility & 0xB;
}

static uint64_t field(const struct vmdl_vmx *vmx, const char *name);

/* The MSR lists of an entry or exit reach the vCPU's MSRs with the guest's
 * rules (KVM's nested_vmx_load_msr / nested_vmx_store_msr use kvm_set_msr /
 * kvm_get_msr); the MSRs of struct vmdl_vmx_cpu never get here. */
static vmdl_fault list_msr_read(void *opaque, uint32_t index, uint64_t *value)
{
    vmdl_fault f = VMDL_FAULT_GP;
    return vmdl_vcpu_x86_msr(opaque, false, index, value, &f) ? VMDL_FAULT_GP : f;
}

static vmdl_fault list_msr_write(void *opaque, uint32_t index, uint64_t value)
{
    vmdl_fault f = VMDL_FAULT_GP;
    return vmdl_vcpu_x86_msr(opaque, true, index, &value, &f) ? VMDL_FAULT_GP : f;
}

static struct vmdl_vmx_msr_ops list_msrs(struct vmdl_vcpu *vcpu)
{
    return (struct vmdl_vmx_msr_ops){list_msr_read, list_msr_write, vcpu};
}

/* Which instructions the vCPU intercepts for L2, from vmcs12's controls:
 * those L1 may want beyond what the machine always offers (SDM 26.1). */
static void nested_ctl(const struct vmdl_vmx *vmx, struct vmdl_x86_nested_ctl *n)
{
    uint32_t proc = (uint32_t)field(vmx, "CPU_BASED_VM_EXEC_CONTROL");
    uint32_t proc2 = proc & VMDL_PROC_SECONDARY
                         ? (uint32_t)field(vmx, "SECONDARY_VM_EXEC_CONTROL") : 0;
    static const struct { uint32_t word2, bit, intercept; } map[] = {
        {0, VMDL_PROC_CR3_STORE, VMDL_X86_NESTED_CR3_READ},
        {0, VMDL_PROC_CR3_LOAD, VMDL_X86_NESTED_CR3_WRITE},
        {0, VMDL_PROC_INVLPG, VMDL_X86_NESTED_INVLPG},
        {0, VMDL_PROC_PAUSE, VMDL_X86_NESTED_PAUSE},
        {1, VMDL_PROC2_PAUSE_LOOP, VMDL_X86_NESTED_PAUSE},
        {0, VMDL_PROC_MONITOR, VMDL_X86_NESTED_MONITOR},
        {0, VMDL_PROC_MWAIT, VMDL_X86_NESTED_MWAIT},
        {1, VMDL_PROC2_WBINVD, VMDL_X86_NESTED_WBINVD},
        {1, VMDL_PROC2_DESC_TABLE, VMDL_X86_NESTED_DESC},
    };
    memset(n, 0, sizeof(*n));
    n->intercept = VMDL_X86_NESTED_CPUID | VMDL_X86_NESTED_INVD;   /* always exit */
    /* MOV to CR3 too: L0 checks the value (QEMU's TCG loads any). */
    n->intercept |= VMDL_X86_NESTED_CR3_WRITE;
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if ((map[i].word2 ? proc2 : proc) & map[i].bit)
            n->intercept |= map[i].intercept;
    /* SDM 26.3: without "enable RDTSCP", RDTSCP and RDPID are #UD in L2. */
    if (!(proc2 & VMDL_PROC2_RDTSCP))
        n->intercept |= VMDL_X86_NESTED_NO_RDTSCP;
    n->cr0_mask = field(vmx, "CR0_GUEST_HOST_MASK");
    n->cr0_shadow = field(vmx, "CR0_READ_SHADOW");
    n->cr4_mask = field(vmx, "CR4_GUEST_HOST_MASK");
    n->cr4_shadow = field(vmx, "CR4_READ_SHADOW");
}

/* Make the vCPU run `c` from its next entry, with L2's intercepts (the
 * events L1 may want are offered to the event hook) or none for L1. */
static void switch_to(struct vmdl_vcpu *vcpu, const struct vmdl_vmx *vmx,
                      const struct vmdl_vmx_cpu *c, bool l2)
{
    struct vmdl_x86_sys_state s;
    memset(&s, 0, sizeof(s));
    cpu_to_sys(c, &s);
    vmdl_vcpu_set_x86_sys(vcpu, &s);
    struct vmdl_x86_nested_ctl n;
    if (l2)
        nested_ctl(vmx, &n);
    vmdl_vcpu_set_x86_nested(vcpu, l2 ? &n : NULL);
}

/* ---- the VMX-preemption timer on virtual time ---- */

static uint64_t field(const struct vmdl_vmx *vmx, const char *name)
{
    uint64_t v = 0;
    (void)vmdl_vmx_peek(vmx, vmdl_vmcs_field_by_name(name)->encoding, &v);
    return v;
}

/* The timer counts down once every 2^rate TSC ticks (IA32_VMX_MISC[4:0];
 * KVM emulates rate 5), and the TSC is one tick per retired instruction. */
static unsigned timer_rate(const struct vmdl_vmx *vmx)
{
    return (unsigned)(vmdl_vmx_model_caps(vmdl_vmx_get_model(vmx))->misc &
                      VMDL_VMX_MISC_PREEMPT_RATE_MASK);
}

/* L1's TSC (the timer counts on it, as KVM's kvm_read_l1_tsc). */
static uint64_t l1_tsc(struct vmdl_vcpu *vcpu)
{
    uint64_t tsc = 0;
    vmdl_fault f = VMDL_FAULT_NONE;
    if (vmdl_vcpu_x86_msr(vcpu, false, 0x10, &tsc, &f) || f)
        return vmdl_vcpu_vtime(vcpu);
    return tsc;
}

/* The deadline is where the count reaches zero on the TSC's 2^rate grid
 * (vmdl_vmx_preempt_deadline), kept in virtual time, which the TSC
 * follows one for one. */
static void timer_arm(struct vmdl_vmx_attach *h, struct vmdl_vcpu *vcpu,
                      struct vmdl_vmx *vmx)
{
    unsigned i = vmdl_vcpu_index(vcpu);
    if (!(field(vmx, "PIN_BASED_VM_EXEC_CONTROL") & VMDL_PIN_PREEMPT_TIMER))
        return;
    uint32_t value = (uint32_t)field(vmx, "VMX_PREEMPTION_TIMER_VALUE");
    vmdl_vcpu_need_insn_count(vcpu, true);
    uint64_t tsc = l1_tsc(vcpu), now = vmdl_vcpu_vtime(vcpu);
    uint64_t deadline = vmdl_vmx_preempt_deadline(tsc, value, timer_rate(vmx));
    uint64_t wait = deadline > tsc ? deadline - tsc : 0;
    h->timer_at[i] = wait > UINT64_MAX - now ? UINT64_MAX - 1 : now + wait;
    vmdl_vcpu_kick_after(vcpu, h->timer_at[i] - now);
}

/* At a VM exit: stop counting; with "save VMX-preemption timer value" the
 * remaining count goes to vmcs12 (SDM 28.3.4). */
static void timer_disarm(struct vmdl_vmx_attach *h, struct vmdl_vcpu *vcpu,
                         struct vmdl_vmx *vmx)
{
    unsigned i = vmdl_vcpu_index(vcpu);
    if (h->timer_at[i] == UINT64_MAX)
        return;
    uint64_t now = vmdl_vcpu_vtime(vcpu), tsc = l1_tsc(vcpu);
    uint64_t to_go = now >= h->timer_at[i] ? 0 : h->timer_at[i] - now;
    uint32_t left = vmdl_vmx_preempt_value(tsc, to_go > UINT64_MAX - tsc ? UINT64_MAX
                                                : tsc + to_go, timer_rate(vmx));
    if (field(vmx, "VM_EXIT_CONTROLS") & VMDL_EXITCTL_SAVE_PREEMPT)
        vmdl_vmx_poke(vmx, vmdl_vmcs_field_by_name("VMX_PREEMPTION_TIMER_VALUE")->encoding,
                      left);
    h->timer_at[i] = UINT64_MAX;
    vmdl_vcpu_need_insn_count(vcpu, false);
}

/* ---- the monitor trap flag (SDM 26.5.2, 26.7.2) ---- */

enum mtf {
    MTF_OFF,
    MTF_STEP,   /* after L2's next instruction (the machine steps it alone) */
    MTF_NOW,    /* before it, once the event being delivered is (the exit
                   comes at the first instruction of the handler) */
};

static void mtf_arm(struct vmdl_vmx_attach *h, struct vmdl_vcpu *vcpu,
                    struct vmdl_vmx *vmx, enum mtf when)
{
    if (!(field(vmx, "CPU_BASED_VM_EXEC_CONTROL") & VMDL_PROC_MTF))
        return;
    h->mtf[vmdl_vcpu_index(vcpu)] = (uint8_t)when;
    (void)vmdl_vcpu_x86_step_next(vcpu, when == MTF_STEP);
}

static void mtf_disarm(struct vmdl_vmx_attach *h, struct vmdl_vcpu *vcpu)
{
    if (h->mtf[vmdl_vcpu_index(vcpu)] == MTF_OFF)
        return;
    h->mtf[vmdl_vcpu_index(vcpu)] = MTF_OFF;
    (void)vmdl_vcpu_x86_step_next(vcpu, false);
}

/* Is the MTF exit due: its instruction ran, or its event was delivered? */
static bool mtf_due(struct vmdl_vmx_attach *h, struct vmdl_vcpu *vcpu)
{
    switch (h->mtf[vmdl_vcpu_index(vcpu)]) {
    case MTF_STEP: return !vmdl_vcpu_x86_step_pending(vcpu);
    case MTF_NOW: return !vmdl_vcpu_x86_injection_pending(vcpu);
    default: return false;
    }
}

/* Can L2 take an interrupt now?  RFLAGS.IF and no STI/MOV-SS blocking
 * (SDM 30.2.1; "interrupt-window exiting" is the caller's). */
static bool l2_open(const struct vmdl_vmx_cpu *c)
{
    return (c->rflags & (1ull << 9)) && !(c->interruptibility & 3);
}

static bool l2_if(struct vmdl_vcpu *vcpu)
{
    uint64_t rflags = 0;
    return !vmdl_vcpu_get_reg(vcpu, VMDL_X86_RFLAGS, &rflags) && (rflags & (1ull << 9));
}

/* A VM exit from L2 to L1 with this information. */
static void reflect(struct vmdl_vmx_attach *h, struct vmdl_vcpu *vcpu,
                    struct vmdl_vmx *vmx, const struct vmdl_vmx_exit_info *info)
{
    struct vmdl_x86_sys_state s;
    struct vmdl_vmx_cpu *c = &h->l2[vmdl_vcpu_index(vcpu)];
    if (vmdl_vcpu_get_x86_sys(vcpu, &s))
        return;
    timer_disarm(h, vcpu, vmx);
    mtf_disarm(h, vcpu);
    sys_to_cpu(&s, c);
    vmdl__vmx_ept_save_pdptes(vcpu, vmx, c);
    bool abort = false;
    struct vmdl_vmx_msr_ops msrs = list_msrs(vcpu);
    vmdl_vmx_nested_exit(vmx, info, c, &msrs, &abort);
    if (h->l1_nmi_blocked[vmdl_vcpu_index(vcpu)])
        c->interruptibility |= 8;
    /* KVM: a VMX abort shuts L1 down (nested_vmx_abort -> triple fault);
     * here L1 resumes at its host state with the abort reported. */
    switch_to(vcpu, vmx, c, false);
    vmdl__vmx_ept_leave(vcpu);
}

/*
 * Pending debug exceptions after a VM entry (SDM 27.7.3): without an
 * injected event and without blocking by MOV SS, a #DB with them (B0-B3,
 * BS, RTM) is raised before L2's first instruction: a VM exit when the
 * exception bitmap asks for #DB (qualification: the bits), else delivered
 * in L2.  True when it was a VM exit.
 */
static bool pending_debug_at_entry(struct vmdl_vmx_attach *h, struct vmdl_vcpu *vcpu,
                                   struct vmdl_vmx *vmx, struct vmdl_vmx_cpu *c)
{
    uint64_t bits = c->pending_dbg & 0x1400Full;
    if (!bits || (c->interruptibility & 2))
        return false;
    c->pending_dbg = 0;
    struct vmdl_vmx_l2_event ev = {.kind = VMDL_L2_EXCEPTION, .vector = 1, .addr = bits,
                                   .type = VMDL_INTR_TYPE_HW_EXCEPTION};
    struct vmdl_vmx_exit_info info;
    if (vmdl_vmx_l1_wants(vmx, &ev, &info)) {
        reflect(h, vcpu, vmx, &info);
        return true;
    }
    vmdl_vcpu_inject_x86_event(vcpu, VMDL_INTR_TYPE_HW_EXCEPTION, 1, false, 0, 0);
    return false;
}

/* VMLAUNCH/VMRESUME on a hosted vCPU: the whole nested entry. */
static bool enter_l2(struct vmdl_vmx_attach *h, struct vmdl_vcpu *vcpu,
                     struct vmdl_vmx *vmx, const struct vmdl_vmx_ctx *ctx, bool resume,
                     struct vmdl_vmx_result *res)
{
    struct vmdl_x86_sys_state s;
    if (vmdl_vcpu_get_x86_sys(vcpu, &s))
        return false;
    struct vmdl_vmx_cpu *c = &h->l2[vmdl_vcpu_index(vcpu)];
    memset(c, 0, sizeof(*c));
    sys_to_cpu(&s, c);
    bool l1_nmi = c->interruptibility & 8;
    vmdl_vmx_set_debugctl_supported(vmx, s.debugctl_supported);
    struct vmdl_vmx_entry e;
    struct vmdl_vmx_msr_ops msrs = list_msrs(vcpu);
    if (vmdl_vmx_nested_enter(vmx, ctx, resume, c, &msrs, res, &e))
        return false;
    /* An injected event wakes an L2 entered in the HLT state (SDM 27.7). */
    if (e.outcome == VMDL_VMX_ENTRY_ENTERED && e.inject.valid && c->activity == 1)
        c->activity = 0;
    /* With virtual-interrupt delivery the entry performs PPR
     * virtualization and evaluates pending virtual interrupts (SDM
     * 27.3.2.5); one L2 can take at once (no injected event, no
     * interrupt-window exiting) is delivered, waking a HLT. */
    int virq = -1;
    if (e.outcome == VMDL_VMX_ENTRY_ENTERED && vmdl_vmx_vapic_vid(vmx)) {
        vmdl_vmx_vapic_update_ppr(vmx);
        if (!e.inject.valid && l2_open(c) &&
            !(field(vmx, "CPU_BASED_VM_EXEC_CONTROL") & VMDL_PROC_INTR_WINDOW))
            virq = vmdl_vmx_vapic_deliver(vmx);
        if (virq >= 0)
            c->activity = 0;
    }
    if (e.outcome != VMDL_VMX_ENTRY_VMFAIL)
        switch_to(vcpu, vmx, c, e.outcome == VMDL_VMX_ENTRY_ENTERED);
    if (e.outcome != VMDL_VMX_ENTRY_ENTERED)
        return true;
    vmdl__vmx_ept_load_pdptes(vcpu, vmx, c);
    h->l1_nmi_blocked[vmdl_vcpu_index(vcpu)] = l1_nmi;
    /* A pending MTF VM exit injected (type 7, vector 0): the exit comes
     * right after the entry, before any instruction (SDM 27.6.4). */
    if (e.inject.valid && e.inject.type == VMDL_INTR_TYPE_OTHER) {
        struct vmdl_vmx_exit_info info = {.reason = VMDL_VMX_EXIT_MTF};
        reflect(h, vcpu, vmx, &info);
        return true;
    }
    /* SDM 27.6: the event of the VM-entry interruption-information field
     * is delivered through L2's IDT as the entry completes. */
    if (e.inject.valid)
        vmdl_vcpu_inject_x86_event(vcpu, e.inject.type, e.inject.vector,
                                   e.inject.has_error, e.inject.error_code,
                                   e.inject.insn_len);
    else if (virq >= 0)
        vmdl_vcpu_inject_x86_event(vcpu, VMDL_INTR_TYPE_EXT_INTR, (unsigned)virq, false,
                                   0, 0);
    else if (pending_debug_at_entry(h, vcpu, vmx, c))
        return true;
    timer_arm(h, vcpu, vmx);
    mtf_arm(h, vcpu, vmx, vmdl_vcpu_x86_injection_pending(vcpu) ? MTF_NOW : MTF_STEP);
    vmdl__vmx_ept_enter(vcpu, vmx, &h->shadow[vmdl_vcpu_index(vcpu)]);
    return true;
}

/* ---- INIT and SIPI (KVM: kvm_apic_accept_events, vmx_check_nested_events) ---- */

/* Asked by the APIC bus in the sender's context: a vCPU in VMX operation
 * holds INIT and SIPI (KVM latches INIT in VMX root operation, and in
 * non-root operation both are VM exits); its own next advance takes them.
 * Only an L2 in wait-for-SIPI waits for SIPI in VMX operation: it runs
 * again for that. */
static bool hold_init_sipi(void *opaque, unsigned index)
{
    struct vmdl_vmx_attach *h = opaque;
    if (index >= h->n || !vmdl_vmx_in_vmx_operation(h->vcpu[index]))
        return false;
    h->look[index] = true;
    vmdl_vcpu_x86_set_wait_for_sipi(vmdl_vm_vcpu(h->vm, index), false);
    return true;
}

/* Once, when VMX operation starts (or its state is loaded): without local
 * APICs nothing sends INIT or SIPI. */
static void bind_lapic(struct vmdl_vmx_attach *h)
{
    if (h->bus || !(h->bus = vmdl_vm_lapic_bus(h->vm)))
        return;
    struct vmdl_lapic_init_sink sink = {hold_init_sipi, h};
    (void)vmdl_lapic_set_init_sink(h->vm, &sink);
}

static struct vmdl_lapic *apic_of(struct vmdl_vmx_attach *h, struct vmdl_vcpu *vcpu)
{
    return h->bus ? vmdl_lapic_bus_get(h->bus, vmdl_vcpu_index(vcpu)) : NULL;
}

/* KVM's INIT_RECEIVED with L2 active (entered in wait-for-SIPI): the vCPU
 * runs nothing until INIT or SIPI reaches it.  For a vCPU in VMX
 * operation only. */
static void park_wfs(struct vmdl_vcpu *vcpu, struct vmdl_vmx *vmx)
{
    vmdl_vcpu_x86_set_wait_for_sipi(vcpu, vmdl_vmx_in_guest_mode(vmx) &&
                                              vmdl_vmx_get_mp_state(vmx) ==
                                                  VMDL_MP_INIT_RECEIVED);
}

/* The held INIT/SIPI as L2's events: a VM exit (INIT: 3; SIPI in
 * wait-for-SIPI: 4 with the vector), or consumed without one (INIT in
 * wait-for-SIPI, SIPI otherwise).  False for KVM's -EBUSY: an event being
 * delivered into L2 holds them until it is. */
static bool nested_init_sipi(struct vmdl_vmx_attach *h, struct vmdl_vcpu *vcpu,
                             struct vmdl_vmx *vmx, struct vmdl_lapic *a)
{
    if (vmdl_vcpu_x86_injection_pending(vcpu))
        return false;
    uint8_t vec = 0;
    unsigned held = vmdl_lapic_pending_events(a, &vec);
    struct vmdl_vmx_vcpu_events e;
    vmdl_vmx_get_vcpu_events(vmx, &e);
    e.init_pending = held & VMDL_LAPIC_EV_INIT;
    e.sipi_pending = held & VMDL_LAPIC_EV_SIPI;
    e.sipi_vector = vec;
    vmdl_vmx_set_vcpu_events(vmx, &e);
    struct vmdl_vmx_exit_info info;
    enum vmdl_vmx_nested_check r = vmdl_vmx_check_nested_events(vmx, &info);
    vmdl_vmx_get_vcpu_events(vmx, &e);
    unsigned left = (e.init_pending ? VMDL_LAPIC_EV_INIT : 0) |
                    (e.sipi_pending ? VMDL_LAPIC_EV_SIPI : 0);
    vmdl_lapic_clear_events(a, held & ~left);
    e.init_pending = e.sipi_pending = false;   /* the APIC keeps what is left */
    vmdl_vmx_set_vcpu_events(vmx, &e);
    if (r == VMDL_NESTED_EXIT)
        reflect(h, vcpu, vmx, &info);
    return r != VMDL_NESTED_EBUSY;
}

/* KVM's kvm_apic_accept_events, in the vCPU's own context: L2's exits
 * first, then INIT is latched in VMX root operation (a SIPI dropped) and
 * performed outside VMX operation (an AP then waits for SIPI). */
static void take_init_sipi(struct vmdl_vmx_attach *h, struct vmdl_vcpu *vcpu,
                           struct vmdl_vmx *vmx)
{
    struct vmdl_lapic *a = apic_of(h, vcpu);
    if (a && vmdl_lapic_pending_events(a, NULL) && vmdl_vmx_in_guest_mode(vmx) &&
        !nested_init_sipi(h, vcpu, vmx, a)) {
        /* Looked at again once the event is delivered; an L2 entered in
         * wait-for-SIPI with an event to inject never delivers it, and
         * waits on (KVM's -EBUSY keeps its SIPI pending for good). */
        park_wfs(vcpu, vmx);
        return;
    }
    h->look[vmdl_vcpu_index(vcpu)] = false;
    /* (Blocked: VMX root operation, or an L2 in wait-for-SIPI under the
     * SDM option, whose INIT then stays latched.) */
    vmdl_lapic_accept_events(a, !vmdl_vmx_init_blocked(vmx));
    if (vmdl_vmx_in_vmx_operation(vmx))
        park_wfs(vcpu, vmx);
}

/* After a VM entry or VMXOFF: what the APIC holds is looked at before the
 * next instruction; else an L2 entered in wait-for-SIPI waits. */
static void init_sipi_after(struct vmdl_vmx_attach *h, struct vmdl_vcpu *vcpu,
                            struct vmdl_vmx *vmx)
{
    struct vmdl_lapic *a = apic_of(h, vcpu);
    if (a && vmdl_lapic_pending_events(a, NULL))
        h->look[vmdl_vcpu_index(vcpu)] = true;
    else if (vmdl_vmx_in_vmx_operation(vmx))
        park_wfs(vcpu, vmx);
}

static uint64_t timer_next(void *opaque, struct vmdl_vcpu *vcpu)
{
    struct vmdl_vmx_attach *h = opaque;
    unsigned i = vmdl_vcpu_index(vcpu);
    if (i >= h->n)
        return UINT64_MAX;
    /* An MTF exit after an event's delivery: due at once (the engine stops
     * before the handler's first instruction). */
    if (h->mtf[i] == MTF_NOW)
        return vmdl_vcpu_vtime(vcpu);
    return h->timer_at[i];
}

/* The MTF's instruction completed (or its event was delivered): VM exit
 * 37, ahead of the preemption timer (KVM's vmx_check_nested_events), or
 * the timer reached zero while L2 ran: VM exit 52 (SDM 26.5.1). */
static void timer_advance(void *opaque, struct vmdl_vcpu *vcpu, uint64_t now)
{
    struct vmdl_vmx_attach *h = opaque;
    unsigned i = vmdl_vcpu_index(vcpu);
    /* (The deadlines first: this runs at every exit, and neither is
     * usually armed.) */
    if (i >= h->n || (now < h->timer_at[i] && h->mtf[i] == MTF_OFF && !h->look[i]))
        return;
    struct vmdl_vmx *vmx = vmx_of(h, vcpu);
    if (h->look[i])
        take_init_sipi(h, vcpu, vmx);
    if (!vmx || !vmdl_vmx_in_guest_mode(vmx) || vmdl_vcpu_x86_injection_pending(vcpu))
        return;
    /* (An event being delivered: the exit comes after it, SDM 27.7.4;
     * the engine stops before L2's first instruction, then it is taken.) */
    bool mtf = mtf_due(h, vcpu);
    if (!mtf && now < h->timer_at[i])
        return;
    struct vmdl_vmx_exit_info info = {.reason = mtf ? VMDL_VMX_EXIT_MTF
                                                    : VMDL_VMX_EXIT_PREEMPT_TIMER};
    reflect(h, vcpu, vmx, &info);
}

static const struct vmdl_time_ops vmx_time_ops = {timer_advance, timer_next};

static uint32_t vmx_exit_reason(enum vmdl_x86_special kind)
{
    switch (kind) {
    case VMDL_INSN_VMXON: return VMDL_VMX_EXIT_VMXON;
    case VMDL_INSN_VMXOFF: return VMDL_VMX_EXIT_VMXOFF;
    case VMDL_INSN_VMCLEAR: return VMDL_VMX_EXIT_VMCLEAR;
    case VMDL_INSN_VMPTRLD: return VMDL_VMX_EXIT_VMPTRLD;
    case VMDL_INSN_VMPTRST: return VMDL_VMX_EXIT_VMPTRST;
    case VMDL_INSN_VMREAD: return VMDL_VMX_EXIT_VMREAD;
    case VMDL_INSN_VMWRITE: return VMDL_VMX_EXIT_VMWRITE;
    case VMDL_INSN_VMLAUNCH: return VMDL_VMX_EXIT_VMLAUNCH;
    case VMDL_INSN_VMRESUME: return VMDL_VMX_EXIT_VMRESUME;
    case VMDL_INSN_INVEPT: return VMDL_VMX_EXIT_INVEPT;
    case VMDL_INSN_INVVPID: return VMDL_VMX_EXIT_INVVPID;
    case VMDL_INSN_VMFUNC: return VMDL_VMX_EXIT_VMFUNC;
    default: return VMDL_VMX_EXIT_VMCALL;
    }
}

/* The machine's view of an L2 event as the vmx model's. */
static bool to_l2_event(const struct vmdl_x86_event *ev, struct vmdl_vmx_l2_event *l2)
{
    static const struct { enum vmdl_x86_event_kind from; enum vmdl_vmx_l2_kind to; } same[] = {
        {VMDL_X86_EVENT_CPUID, VMDL_L2_CPUID}, {VMDL_X86_EVENT_HLT, VMDL_L2_HLT},
        {VMDL_X86_EVENT_RDTSC, VMDL_L2_RDTSC}, {VMDL_X86_EVENT_RDTSCP, VMDL_L2_RDTSCP},
        {VMDL_X86_EVENT_RDMSR, VMDL_L2_RDMSR}, {VMDL_X86_EVENT_WRMSR, VMDL_L2_WRMSR},
        {VMDL_X86_EVENT_MOV_TO_CR, VMDL_L2_MOV_TO_CR},
        {VMDL_X86_EVENT_MOV_FROM_CR, VMDL_L2_MOV_FROM_CR},
        {VMDL_X86_EVENT_CLTS, VMDL_L2_CLTS}, {VMDL_X86_EVENT_LMSW, VMDL_L2_LMSW},
        {VMDL_X86_EVENT_IO, VMDL_L2_IO}, {VMDL_X86_EVENT_INVLPG, VMDL_L2_INVLPG},
        {VMDL_X86_EVENT_PAUSE, VMDL_L2_PAUSE}, {VMDL_X86_EVENT_MONITOR, VMDL_L2_MONITOR},
        {VMDL_X86_EVENT_MWAIT, VMDL_L2_MWAIT}, {VMDL_X86_EVENT_RDPMC, VMDL_L2_RDPMC},
        {VMDL_X86_EVENT_WBINVD, VMDL_L2_WBINVD}, {VMDL_X86_EVENT_MOV_DR, VMDL_L2_MOV_DR},
        {VMDL_X86_EVENT_EXT_INTR, VMDL_L2_EXT_INTR}, {VMDL_X86_EVENT_NMI, VMDL_L2_NMI},
        {VMDL_X86_EVENT_INTR_WINDOW, VMDL_L2_INTR_WINDOW},
        {VMDL_X86_EVENT_NMI_WINDOW, VMDL_L2_NMI_WINDOW},
        {VMDL_X86_EVENT_EXCEPTION, VMDL_L2_EXCEPTION},
        {VMDL_X86_EVENT_DESC_TABLE, VMDL_L2_DESC_TABLE},
        {VMDL_X86_EVENT_INVD, VMDL_L2_INVD}, {VMDL_X86_EVENT_RDRAND, VMDL_L2_RDRAND},
        {VMDL_X86_EVENT_RDSEED, VMDL_L2_RDSEED},
        {VMDL_X86_EVENT_TRIPLE_FAULT, VMDL_L2_TRIPLE_FAULT},
    };
    memset(l2, 0, sizeof(*l2));
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++)
        if (same[i].from == ev->kind)
            l2->kind = same[i].to;
    if (!l2->kind)
        return false;
    l2->insn_len = ev->insn_len;
    l2->insn_info = ev->insn_info;
    l2->msr = ev->msr;
    l2->cr = ev->cr;
    l2->dr = ev->dr;
    l2->gpr = ev->gpr;
    l2->to_reg = ev->to_reg;
    l2->value = ev->value;
    l2->port = ev->port;
    l2->size = ev->size;
    l2->in = ev->in;
    l2->string = ev->string;
    l2->rep = ev->rep;
    l2->imm = ev->imm;
    l2->addr = ev->kind != VMDL_X86_EVENT_EXCEPTION ? ev->addr
               : ev->vector == 1                    ? ev->dr6
                                                    : ev->cr2;
    l2->desc = ev->desc;
    l2->disp = ev->disp;
    l2->vector = (uint8_t)ev->vector;
    l2->type = ev->soft ? VMDL_INTR_TYPE_SOFT_EXCEPTION : VMDL_INTR_TYPE_HW_EXCEPTION;
    l2->has_error = ev->has_error;
    l2->error_code = ev->error_code;
    return true;
}

/* ---- APIC virtualization for L2 (vmx_vapic.h) ---- */

static void skip_insn(struct vmdl_vcpu *vcpu, unsigned len)
{
    uint64_t rip = 0;
    if (!vmdl_vcpu_get_reg(vcpu, VMDL_X86_RIP, &rip))
        vmdl_vcpu_set_reg(vcpu, VMDL_X86_RIP, rip + len);
}

/* A #GP(0) in L2 (a virtualized access that faults): a VM exit when the
 * exception bitmap asks for it, else delivered through L2's IDT. */
static void l2_gp(struct vmdl_vmx_attach *h, struct vmdl_vcpu *vcpu, struct vmdl_vmx *vmx)
{
    struct vmdl_vmx_l2_event ev = {.kind = VMDL_L2_EXCEPTION, .vector = 13,
                                   .type = VMDL_INTR_TYPE_HW_EXCEPTION, .has_error = true};
    struct vmdl_vmx_exit_info info;
    if (vmdl_vmx_l1_wants(vmx, &ev, &info)) {
        reflect(h, vcpu, vmx, &info);
        return;
    }
    vmdl_vcpu_inject_x86_event(vcpu, VMDL_INTR_TYPE_HW_EXCEPTION, 13, true, 0, 0);
    if (h->mtf[vmdl_vcpu_index(vcpu)] != MTF_OFF)
        mtf_arm(h, vcpu, vmx, MTF_NOW);
}

/* A MOV to CR3 L1 does not take: a value with bits at or above MAXPHYADDR
 * is #GP (KVM's kvm_set_cr3, kvm_vcpu_is_legal_cr3; bit 63 is the PCID
 * no-flush bit with CR4.PCIDE), else the machine loads it. */
static bool l2_cr3_write(struct vmdl_vmx_attach *h, struct vmdl_vcpu *vcpu,
                         struct vmdl_vmx *vmx, const struct vmdl_x86_event *ev)
{
    uint64_t v = ev->value, cr4 = 0;
    (void)vmdl_vcpu_get_reg(vcpu, VMDL_X86_CR4, &cr4);
    if (cr4 & (1ull << 17))
        v &= ~(1ull << 63);
    if (!(v >> vmdl_vmx_model_caps(h->model)->phys_addr_bits))
        return false;
    l2_gp(h, vcpu, vmx);
    return true;
}

/* Virtual-interrupt delivery (SDM 30.2.2): the vector goes through L2's
 * IDT as an external interrupt would. */
static bool deliver_virtual(struct vmdl_vcpu *vcpu, struct vmdl_vmx *vmx)
{
    int vec = vmdl_vmx_vapic_deliver(vmx);
    if (vec < 0)
        return false;
    vmdl_vcpu_inject_x86_event(vcpu, VMDL_INTR_TYPE_EXT_INTR, (unsigned)vec, false, 0, 0);
    return true;
}

/* RDMSR/WRMSR of an x2APIC MSR L1 lets through, under "virtualize x2APIC
 * mode" (SDM 30.5).  True when virtualized (completed, faulted or exited). */
static bool vapic_msr(struct vmdl_vmx_attach *h, struct vmdl_vcpu *vcpu,
                      struct vmdl_vmx *vmx, const struct vmdl_x86_event *ev)
{
    bool write = ev->kind == VMDL_X86_EVENT_WRMSR;
    uint64_t val = 0, rax = 0, rdx = 0;
    if (write && (vmdl_vcpu_get_reg(vcpu, VMDL_X86_RAX, &rax) ||
                  vmdl_vcpu_get_reg(vcpu, VMDL_X86_RDX, &rdx)))
        return false;
    val = (rdx << 32) | (uint32_t)rax;
    struct vmdl_vmx_exit_info info;
    switch (vmdl_vmx_vapic_msr(vmx, write, ev->msr, &val, &info)) {
    case VMDL_VAPIC_NOT_VIRTUALIZED:
        return false;
    case VMDL_VAPIC_FAULT:
        l2_gp(h, vcpu, vmx);
        return true;
    case VMDL_VAPIC_DONE:
        if (!write) {
            vmdl_vcpu_set_reg(vcpu, VMDL_X86_RAX, (uint32_t)val);
            vmdl_vcpu_set_reg(vcpu, VMDL_X86_RDX, val >> 32);
        }
        skip_insn(vcpu, ev->insn_len);
        return true;
    case VMDL_VAPIC_EXIT:
        /* Trap-like (TPR below threshold, EOI-induced): after the WRMSR. */
        skip_insn(vcpu, ev->insn_len);
        reflect(h, vcpu, vmx, &info);
        return true;
    }
    return false;
}

/* MOV to/from CR8 that L1 does not take, with the TPR shadow: the virtual
 * APIC page's VTPR (SDM 29.3), and a TPR-below-threshold exit after a
 * write that drops VTPR[7:4] below the threshold. */
static bool tpr_shadow(struct vmdl_vmx_attach *h, struct vmdl_vcpu *vcpu,
                       struct vmdl_vmx *vmx, const struct vmdl_x86_event *ev)
{
    if (ev->cr != 8 || !(field(vmx, "CPU_BASED_VM_EXEC_CONTROL") & VMDL_PROC_TPR_SHADOW))
        return false;
    const struct vmdl_guest_mem *mem = vmdl_vm_guest_mem(vmdl_vcpu_vm(vcpu));
    uint64_t page = field(vmx, "VIRTUAL_APIC_PAGE_ADDR");
    uint8_t vtpr = 0;
    uint64_t rip = 0;
    if (vmdl_guest_read(mem, page + 0x80, &vtpr, 1) ||
        vmdl_vcpu_get_reg(vcpu, VMDL_X86_RIP, &rip))
        return false;
    if (ev->kind == VMDL_X86_EVENT_MOV_FROM_CR) {
        vmdl_vcpu_set_reg(vcpu, VMDL_X86_RAX + ev->gpr, vtpr >> 4);
    } else {
        uint32_t zero = 0;
        vtpr = (uint8_t)((ev->value & 0xF) << 4);
        vmdl_guest_write(mem, page + 0x81, &zero, 3);
    }
    vmdl_vcpu_set_reg(vcpu, VMDL_X86_RIP, rip + ev->insn_len);
    /* TPR virtualization: the threshold check, or with virtual-interrupt
     * delivery PPR virtualization (SDM 30.1.2). */
    if (ev->kind == VMDL_X86_EVENT_MOV_TO_CR && vmdl_vmx_vapic_tpr_write(vmx, vtpr)) {
        struct vmdl_vmx_exit_info info = {.reason = VMDL_VMX_EXIT_TPR_BELOW_THRESHOLD};
        reflect(h, vcpu, vmx, &info);
    }
    return true;
}

/* A #DB VM exit: debug exceptions the entry left pending (a MOV SS shadow
 * held them) are reported with it and are no longer pending, as the CPU
 * does.  KVM, for a #DB it synthesized after an instruction it emulated,
 * reports only that #DB's bits and leaves the pending ones in vmcs12 (the
 * behaviour kvm-unit-tests' vmx_db_test expects to fail); the machine's
 * synthesized #DB follows KVM. */
#define PENDING_DBG_REPORTED 0x1400Full   /* B0-B3, BS, RTM */
static void pending_debug_into_db(struct vmdl_vmx_attach *h, struct vmdl_vcpu *vcpu,
                                  const struct vmdl_x86_event *ev,
                                  struct vmdl_vmx_exit_info *info)
{
    struct vmdl_vmx_cpu *c = &h->l2[vmdl_vcpu_index(vcpu)];
    if (ev->synthesized)
        return;
    info->qualification |= c->pending_dbg & PENDING_DBG_REPORTED;
    c->pending_dbg = 0;
}

/* RDTSC, RDTSCP or RDMSR(IA32_TSC) L1 does not take, under "use TSC
 * offsetting": the offset (and scaled) TSC (SDM 26.3).  True when done. */
static bool l2_tsc_read(struct vmdl_vmx_attach *h, struct vmdl_vcpu *vcpu,
                        struct vmdl_vmx *vmx, const struct vmdl_x86_event *ev)
{
    uint64_t proc = 0;
    if ((ev->kind == VMDL_X86_EVENT_RDMSR && ev->msr != 0x10) ||
        vmdl_vmx_peek(vmx, h->enc_proc, &proc) || !(proc & VMDL_PROC_TSC_OFFSETTING))
        return false;
    uint64_t tsc = 0, aux = 0;
    vmdl_fault f = VMDL_FAULT_NONE;
    if (vmdl_vcpu_x86_msr(vcpu, false, 0x10, &tsc, &f) || f)
        return false;
    tsc = vmdl_vmx_l2_tsc(vmx, tsc);
    if (ev->kind == VMDL_X86_EVENT_RDTSCP &&
        (vmdl_vcpu_x86_msr(vcpu, false, 0xC0000103, &aux, &f) || f))
        return false;
    vmdl_vcpu_set_reg(vcpu, VMDL_X86_RAX, (uint32_t)tsc);
    vmdl_vcpu_set_reg(vcpu, VMDL_X86_RDX, tsc >> 32);
    if (ev->kind == VMDL_X86_EVENT_RDTSCP)
        vmdl_vcpu_set_reg(vcpu, VMDL_X86_RCX, (uint32_t)aux);
    skip_insn(vcpu, ev->insn_len);
    return true;
}

/* An L2 event L1 does not take: what the CPU's virtualization does with it
 * before the machine (L0) would. */
static bool l0_handles(struct vmdl_vmx_attach *h, struct vmdl_vcpu *vcpu,
                       struct vmdl_vmx *vmx, const struct vmdl_x86_event *ev)
{
    switch (ev->kind) {
    case VMDL_X86_EVENT_INTR_WINDOW:
        return deliver_virtual(vcpu, vmx);
    case VMDL_X86_EVENT_HLT:
        /* A pending virtual interrupt L2 can take (IF set) ends the HLT
         * at once: it is delivered with RIP after the HLT. */
        if (vmdl_vmx_vapic_pending(vmx) < 0 || !l2_if(vcpu))
            return false;
        skip_insn(vcpu, ev->insn_len);
        return deliver_virtual(vcpu, vmx);
    case VMDL_X86_EVENT_RDTSC:
    case VMDL_X86_EVENT_RDTSCP:
        return l2_tsc_read(h, vcpu, vmx, ev);
    case VMDL_X86_EVENT_RDMSR:
        return l2_tsc_read(h, vcpu, vmx, ev) || vapic_msr(h, vcpu, vmx, ev);
    case VMDL_X86_EVENT_WRMSR:
        return vapic_msr(h, vcpu, vmx, ev);
    case VMDL_X86_EVENT_MOV_TO_CR:
        if (ev->cr == 3)
            return l2_cr3_write(h, vcpu, vmx, ev);
        return tpr_shadow(h, vcpu, vmx, ev);
    default:
        return tpr_shadow(h, vcpu, vmx, ev);
    }
}

/* A #DB trap (single step, data breakpoint) after the instruction the MTF
 * waited for: the MTF exit wins and the trap stays pending in vmcs12's
 * pending debug exceptions (KVM: vmx_is_low_priority_db_trap,
 * nested_vmx_update_pending_dbg), whether or not L1 wants #DB. */
static bool mtf_exception(struct vmdl_vmx_attach *h, struct vmdl_vcpu *vcpu,
                          const struct vmdl_x86_event *ev)
{
    uint64_t trap = ev->dr6 & 0x1400Full;
    if (ev->vector != 1 || !trap || !mtf_due(h, vcpu))
        return false;
    struct vmdl_vmx *vmx = vmx_of(h, vcpu);
    h->l2[vmdl_vcpu_index(vcpu)].pending_dbg = trap;
    struct vmdl_vmx_exit_info info = {.reason = VMDL_VMX_EXIT_MTF};
    reflect(h, vcpu, vmx, &info);
    return true;
}

/* IDT-vectoring information of a software interrupt or exception: the
 * exit reports the instruction length (SDM 28.2.4). */
static bool idt_soft(uint32_t idt_info)
{
    unsigned type = (idt_info >> 8) & 7;
    return (idt_info & VMDL_INTR_INFO_VALID) &&
           (type == VMDL_INTR_TYPE_SOFT_INTR || type == VMDL_INTR_TYPE_PRIV_SW_EXCEPTION ||
            type == VMDL_INTR_TYPE_SOFT_EXCEPTION);
}

/* L1's local APIC ends the interrupt in service (the EOI posted-interrupt
 * processing writes): the x2APIC EOI MSR, or the xAPIC page's EOI
 * register at IA32_APIC_BASE. */
static void l1_apic_eoi(struct vmdl_vcpu *vcpu)
{
    uint64_t base = 0, zero = 0;
    vmdl_fault f = VMDL_FAULT_NONE;
    if (vmdl_vcpu_x86_msr(vcpu, false, 0x1B, &base, &f) || f)
        return;
    if (base & (1ull << 10))
        (void)vmdl_vcpu_x86_msr(vcpu, true, 0x80B, &zero, &f);
    else
        (void)vmdl_vcpu_mmio_write(vcpu, (base & ~0xFFFull) + 0xB0, 4, 0);
}

/* Posted-interrupt processing (SDM 30.6): the notification vector is
 * acknowledged and dismissed with an EOI and the descriptor's PIR moves to
 * the virtual-APIC page; the pending virtual interrupt is then delivered
 * where the machine next looks at L2's interrupt window (before its next
 * instruction, or ending its HLT), as after any virtualized write. */
static bool posted_interrupt(struct vmdl_vcpu *vcpu, struct vmdl_vmx *vmx,
                             const struct vmdl_x86_event *ev)
{
    if (ev->kind != VMDL_X86_EVENT_EXT_INTR || !vmdl_vmx_vapic_notification(vmx, ev->vector) ||
        vmdl_vcpu_x86_irq_ack(vcpu, (int)ev->vector))
        return false;
    l1_apic_eoi(vcpu);
    (void)vmdl_vmx_vapic_posted(vmx);
    return true;
}

/* An L2 event from the machine: exit to L1 when vmcs12 says L1 wants it,
 * else let the machine handle it for L2 (L0 emulation).  A probe only
 * answers. */
static bool vmx_event(void *opaque, struct vmdl_vcpu *vcpu, const struct vmdl_x86_event *ev)
{
    struct vmdl_vmx_attach *h = opaque;
    struct vmdl_vmx *vmx = vmx_of(h, vcpu);
    struct vmdl_vmx_l2_event l2;
    if (!vmx || !vmdl_vmx_in_guest_mode(vmx))
        return false;
    if (ev->kind == VMDL_X86_EVENT_NPF) {
        struct vmdl_vmx_exit_info info;
        uint64_t pa = 0;
        switch (vmdl__vmx_ept_fault(vcpu, vmx, &h->shadow[vmdl_vcpu_index(vcpu)], &ev->npf,
                                    &info, &pa)) {
        case VMDL_VMX_NPF_EXIT:
            info.idt_info = ev->idt_info;
            info.idt_error = ev->idt_error;
            reflect(h, vcpu, vmx, &info);
            break;
        case VMDL_VMX_NPF_APIC_ACCESS:
            if (vmdl__vmx_apic_access(vcpu, vmx, ev, pa, &info))
                reflect(h, vcpu, vmx, &info);
            break;
        default:
            break;
        }
        return true;
    }
    if (!to_l2_event(ev, &l2))
        return false;
    if (ev->kind == VMDL_X86_EVENT_EXCEPTION && mtf_exception(h, vcpu, ev))
        return true;
    struct vmdl_vmx_exit_info info;
    bool wants = vmdl_vmx_l1_wants(vmx, &l2, &info);
    /* An exception the machine delivers to L2 under MTF: the exit comes
     * before the first instruction of its handler (SDM 26.5.2). */
    if (ev->kind == VMDL_X86_EVENT_EXCEPTION && !wants &&
        h->mtf[vmdl_vcpu_index(vcpu)] != MTF_OFF)
        mtf_arm(h, vcpu, vmx, MTF_NOW);
    /* An interrupt window also opens for a pending virtual interrupt,
     * which is recognized only without interrupt-window exiting. */
    if (ev->probe)
        return wants || (ev->kind == VMDL_X86_EVENT_INTR_WINDOW &&
                         vmdl_vmx_vapic_pending(vmx) >= 0);
    if (!wants)
        return l0_handles(h, vcpu, vmx, ev);
    if (posted_interrupt(vcpu, vmx, ev))
        return true;
    if (ev->kind == VMDL_X86_EVENT_EXT_INTR && ev->ack)
        *ev->ack = info.intr_info & VMDL_INTR_INFO_VALID;
    info.idt_info = ev->idt_info;
    info.idt_error = ev->idt_error;
    if (idt_soft(ev->idt_info))
        info.insn_len = ev->insn_len;
    if (ev->kind == VMDL_X86_EVENT_EXCEPTION && ev->vector == 1)
        pending_debug_into_db(h, vcpu, ev, &info);
    reflect(h, vcpu, vmx, &info);
    return true;
}

/* The control and host-state checks give their own VMfailValid (7 or 8);
 * an entry that passes them cannot run L2 on this vCPU, so it is refused
 * as a control-field error (7), launch state unchanged. */
static void entry_without_l2(struct vmdl_vcpu *vcpu, struct vmdl_vmx *vmx,
                             struct vmdl_vmx_result *res)
{
    uint64_t efer = 0;
    (void)vmdl_vcpu_get_reg(vcpu, VMDL_X86_EFER, &efer);
    uint32_t err = vmdl_vmx_check_entry_vmfail(vmx, efer, NULL);
    vmdl_vmx_entry_failed(vmx, err ? err : VMDL_VMXERR_ENTRY_INVALID_CONTROL_FIELD, res);
}

/* 5-level paging support as the VM's CPUID reports it (leaf 7, ECX bit
 * 16): the width of VM entry's and INVVPID's canonical checks. */
static void sync_la57(struct vmdl_vcpu *vcpu, struct vmdl_vmx *vmx)
{
    struct vmdl_cpuid_entry e = {0};
    bool la57 = !vmdl_vm_get_cpuid(vmdl_vcpu_vm(vcpu), 7, 0, &e) && (e.ecx & (1u << 16));
    vmdl_vmx_set_la57(vmx, la57);
}

/* The outcome of an instruction the model ran: its fault, or the
 * register destination and RFLAGS written back. */
static vmdl_fault finish_insn(struct vmdl_vcpu *vcpu, const struct vmdl_x86_insn *insn,
                              const struct vmdl_vmx_ctx *ctx,
                              const struct vmdl_vmx_operand *op0, int err,
                              const struct vmdl_vmx_result *res)
{
    if (err)
        return VMDL_FAULT_UD;
    if (res->fault != VMDL_FAULT_NONE)
        return res->fault;
    if (op0->written && vmdl_vcpu_set_reg(vcpu, insn->op[0].reg, op0->value))
        return VMDL_FAULT_UD;
    if (res->rflags != ctx->rflags)  /* VMsucceed often leaves them as they were */
        vmdl_vcpu_set_reg(vcpu, VMDL_X86_RFLAGS, res->rflags);
    return VMDL_FAULT_NONE;
}

/* A #UD in L2 for an instruction the glue completes: a VM exit when L1's
 * exception bitmap has #UD, else the caller delivers it in L2. */
static vmdl_fault l2_ud(struct vmdl_vmx_attach *h, struct vmdl_vcpu *vcpu,
                        struct vmdl_vmx *vmx)
{
    struct vmdl_vmx_l2_event ev = {.kind = VMDL_L2_EXCEPTION, .vector = 6,
                                   .type = VMDL_INTR_TYPE_HW_EXCEPTION};
    struct vmdl_vmx_exit_info info;
    if (!vmdl_vmx_in_guest_mode(vmx))
        return VMDL_FAULT_UD;
    if (!vmdl_vmx_l1_wants(vmx, &ev, &info)) {
        /* The MTF exit comes after the delivery, at the handler. */
        if (h->mtf[vmdl_vcpu_index(vcpu)] != MTF_OFF)
            mtf_arm(h, vcpu, vmx, MTF_NOW);
        return VMDL_FAULT_UD;
    }
    reflect(h, vcpu, vmx, &info);
    return VMDL_FAULT_NONE;
}

/* VMFUNC (KVM's handle_vmfunc): #UD, a VM exit 59 to L1, or EPTP
 * switching, after which the second stage follows the new EPTP (the
 * shadow of the old one is dropped with the engine's TLB, as KVM loads a
 * new shadow EPT MMU). */
static vmdl_fault l2_vmfunc(struct vmdl_vmx_attach *h, struct vmdl_vcpu *vcpu,
                            struct vmdl_vmx *vmx, const struct vmdl_x86_insn *insn)
{
    uint64_t rax = 0, rcx = 0;
    struct vmdl_vmx_vmfunc out;
    if (vmdl_vcpu_get_reg(vcpu, VMDL_X86_RAX, &rax) ||
        vmdl_vcpu_get_reg(vcpu, VMDL_X86_RCX, &rcx) ||
        vmdl_vmx_vmfunc(vmx, rax, rcx, insn->length, &out))
        return VMDL_FAULT_UD;
    switch (out.outcome) {
    case VMDL_VMFUNC_EXIT:
        reflect(h, vcpu, vmx, &out.exit);
        return VMDL_FAULT_NONE;
    case VMDL_VMFUNC_DONE:
        if (out.eptp_changed)
            vmdl__vmx_ept_enter(vcpu, vmx, &h->shadow[vmdl_vcpu_index(vcpu)]);
        return VMDL_FAULT_NONE;
    default:
        return l2_ud(h, vcpu, vmx);
    }
}

static vmdl_fault vmx_insn(void *opaque, struct vmdl_vcpu *vcpu,
                           const struct vmdl_x86_insn *insn)
{
    struct vmdl_vmx_attach *h = opaque;
    struct vmdl_vmx *vmx = vmx_of(h, vcpu);
    if (!vmx)
        return VMDL_FAULT_UD;
    enum vmdl_vmx_insn kind;
    switch (insn->kind) {
    case VMDL_INSN_VMXON: kind = VMDL_VMX_INSN_VMXON; break;
    case VMDL_INSN_VMXOFF: kind = VMDL_VMX_INSN_VMXOFF; break;
    case VMDL_INSN_VMCLEAR: kind = VMDL_VMX_INSN_VMCLEAR; break;
    case VMDL_INSN_VMPTRLD: kind = VMDL_VMX_INSN_VMPTRLD; break;
    case VMDL_INSN_VMPTRST: kind = VMDL_VMX_INSN_VMPTRST; break;
    case VMDL_INSN_VMREAD: kind = VMDL_VMX_INSN_VMREAD; break;
    case VMDL_INSN_VMWRITE: kind = VMDL_VMX_INSN_VMWRITE; break;
    case VMDL_INSN_VMLAUNCH: kind = VMDL_VMX_INSN_VMLAUNCH; break;
    case VMDL_INSN_VMRESUME: kind = VMDL_VMX_INSN_VMRESUME; break;
    case VMDL_INSN_INVEPT: kind = VMDL_VMX_INSN_INVEPT; break;
    case VMDL_INSN_INVVPID: kind = VMDL_VMX_INSN_INVVPID; break;
    case VMDL_INSN_VMFUNC:
        return l2_vmfunc(h, vcpu, vmx, insn);
    default:
        /* VMCALL in L2 exits to L1; VMCALL from L1 (a KVM hypercall) is
         * not modelled. */
        if (vmdl_vmx_in_guest_mode(vmx)) {
            struct vmdl_vmx_exit_info info = {.reason = vmx_exit_reason(insn->kind),
                                              .insn_len = insn->length};
            reflect(h, vcpu, vmx, &info);
            return VMDL_FAULT_NONE;
        }
        return VMDL_FAULT_UD;
    }
    struct vmdl_vmx_ctx ctx = {0};
    if (vmdl_vcpu_get_reg(vcpu, VMDL_X86_CR0, &ctx.cr0) ||
        vmdl_vcpu_get_reg(vcpu, VMDL_X86_CR4, &ctx.cr4) ||
        vmdl_vcpu_get_reg(vcpu, VMDL_X86_RFLAGS, &ctx.rflags))
        return VMDL_FAULT_UD;
    ctx.mov_ss_blocking = insn->mov_ss_shadow;
    uint64_t efer = 0;
    if (insn->code_bits != 64 && !vmdl_vcpu_get_reg(vcpu, VMDL_X86_EFER, &efer))
        ctx.compat = efer & (1ull << 10);
    /* The mode #UD comes before anything else, a VM exit from L2 too. */
    if (vmdl_vmx_insn_mode_ud(&ctx))
        return VMDL_FAULT_UD;
    struct vmdl_vmx_operand op[2];
    for (unsigned i = 0; i < 2; i++)
        if (!load_operand(vcpu, &insn->op[i], &op[i], kind == VMDL_VMX_INSN_VMREAD && i == 0))
            return VMDL_FAULT_UD;
    struct vmdl_vmx_result res;
    if (vmdl_vmx_in_guest_mode(vmx)) {
        /* VMREAD/VMWRITE L1 lets L2 do on its shadow VMCS; every other VMX
         * instruction (and VMCALL) in L2 exits to L1. */
        bool rd = kind == VMDL_VMX_INSN_VMREAD, access = rd || kind == VMDL_VMX_INSN_VMWRITE;
        if (access && !vmdl_vmx_l2_vmcs_access_exits(vmx, !rd, rd ? op[1].value : op[0].value))
            return finish_insn(vcpu, insn, &ctx, &op[0],
                               vmdl_vmx_exec_shadow(vmx, &ctx, kind, &op[0], &op[1], &res),
                               &res);
        struct vmdl_vmx_exit_info info = {.reason = vmx_exit_reason(insn->kind),
                                          .insn_len = insn->length};
        reflect(h, vcpu, vmx, &info);
        return VMDL_FAULT_NONE;
    }
    if (kind == VMDL_VMX_INSN_VMLAUNCH || kind == VMDL_VMX_INSN_VMRESUME ||
        kind == VMDL_VMX_INSN_INVVPID)
        sync_la57(vcpu, vmx);
    if ((kind == VMDL_VMX_INSN_VMLAUNCH || kind == VMDL_VMX_INSN_VMRESUME) &&
        enter_l2(h, vcpu, vmx, &ctx, kind == VMDL_VMX_INSN_VMRESUME, &res)) {
        init_sipi_after(h, vcpu, vmx);
        if (res.fault != VMDL_FAULT_NONE)
            return res.fault;
        if (res.status != VMDL_VMX_ENTRY)
            vmdl_vcpu_set_reg(vcpu, VMDL_X86_RFLAGS, res.rflags);
        return VMDL_FAULT_NONE;
    }
    if (vmdl_vmx_exec(vmx, &ctx, kind, &op[0], &op[1], &res))
        return VMDL_FAULT_UD;
    if (res.fault != VMDL_FAULT_NONE)
        return res.fault;
    if (res.status == VMDL_VMX_ENTRY)
        entry_without_l2(vcpu, vmx, &res);
    if (kind == VMDL_VMX_INSN_VMXON && vmdl_vmx_in_vmx_operation(vmx))
        bind_lapic(h);
    if (kind == VMDL_VMX_INSN_VMXOFF && !vmdl_vmx_in_vmx_operation(vmx))
        init_sipi_after(h, vcpu, vmx);
    /* INVEPT of any type and VMXOFF drop the EPT shadow. */
    if ((kind == VMDL_VMX_INSN_INVEPT && res.status == VMDL_VMX_SUCCEED) ||
        (kind == VMDL_VMX_INSN_VMXOFF && !vmdl_vmx_in_vmx_operation(vmx)))
        vmdl__vmx_ept_flush(vcpu, &h->shadow[vmdl_vcpu_index(vcpu)]);
    vmdl_fault fin = finish_insn(vcpu, insn, &ctx, &op[0], 0, &res);
    /* L1's VMREAD/VMWRITE touch only vmcs12 (no timer, no interrupt state)
     * and KVM runs them through the shadow VMCS without an exit. */
    if (fin == VMDL_FAULT_NONE && (kind == VMDL_VMX_INSN_VMREAD || kind == VMDL_VMX_INSN_VMWRITE))
        vmdl_vcpu_insn_no_exit(vcpu);
    return fin;
}

static vmdl_fault msr_read(void *opaque, struct vmdl_vcpu *vcpu, uint32_t index,
                           uint64_t *value)
{
    struct vmdl_vmx *vmx = vmx_of(opaque, vcpu);
    if (!vmx)
        return VMDL_FAULT_GP;
    vmdl_fault f = vmdl_vmx_rdmsr(vmx, index, value);
    return f == VMDL_FAULT_UNCLAIMED ? VMDL_FAULT_GP : f;
}

static vmdl_fault msr_write(void *opaque, struct vmdl_vcpu *vcpu, uint32_t index,
                            uint64_t value)
{
    struct vmdl_vmx *vmx = vmx_of(opaque, vcpu);
    if (!vmx)
        return VMDL_FAULT_GP;
    vmdl_fault f = vmdl_vmx_wrmsr(vmx, index, value);
    return f == VMDL_FAULT_UNCLAIMED ? VMDL_FAULT_GP : f;
}

static const struct vmdl_msr_ops vmx_msr_ops = {msr_read, msr_write};

static void vmx_reset(void *opaque, struct vmdl_vm *vm)
{
    (void)vm;
    struct vmdl_vmx_attach *h = opaque;
    for (unsigned i = 0; i < h->n; i++) {
        vmdl_vmx_reset(h->vcpu[i]);
        h->timer_at[i] = UINT64_MAX;
        h->mtf[i] = MTF_OFF;
        h->look[i] = false;
        vmdl__vmx_ept_watch_reset(&h->shadow[i]);
    }
}

/* ---- checkpoints ---- */

#define VMX_GLUE_MAGIC VMDL_BLOB_MAGIC('G', 'V', 'M', 'X')

static int vmx_save_one(void *ctx, unsigned i, uint8_t **b, size_t *n,
                        uint64_t extra[4])
{
    struct vmdl_vmx_attach *h = ctx;
    (void)extra;
    return vmdl_vmx_save(h->vcpu[i], b, n);
}

/* Version 2 wraps version 1's items (the models' blobs) and adds each
 * vCPU's running-L2 record (attach_vmx_state.h). */
static int vmx_state_save(void *opaque, uint8_t **blob, size_t *len)
{
    struct vmdl_vmx_attach *h = opaque;
    uint8_t *items = NULL;
    size_t n = 0;
    int err = glue_save_items(VMX_GLUE_MAGIC, h->n, vmx_save_one, h, &items, &n);
    if (err)
        return err;
    struct vmdl_blob_writer w;
    vmdl_blob_begin(&w, VMX_GLUE_MAGIC, VMDL_VMX_GLUE_STATE_VERSION);
    vmdl_blob_put_blob(&w, items, n);
    free(items);
    for (unsigned i = 0; i < h->n; i++) {
        struct vmdl__vmx_l2_rec r = {
            .active = vmdl_vmx_in_guest_mode(h->vcpu[i]), .l2 = h->l2[i],
            .timer_at = h->timer_at[i], .mtf = h->mtf[i],
            .l1_nmi_blocked = h->l1_nmi_blocked[i], .look = h->look[i]};
        vmdl__vmx_put_l2_rec(&w, &r);
    }
    return vmdl_blob_finish(&w, blob, len);
}

/* A running L2 needs all three to agree: the glue's record, the model's
 * state (in guest mode) and the machine's vCPU (a nested guest on). */
static int check_l2_record(struct vmdl_vmx_attach *h, unsigned i, const struct glue_item *it,
                           const struct vmdl__vmx_l2_rec *r)
{
    struct vmdl_vmx *scratch = NULL;
    int err = vmdl_vmx_create(h->model, vmdl_vm_guest_mem(h->vm), &scratch);
    if (!err)
        err = vmdl_vmx_load(scratch, it->blob, it->len);
    bool guest = !err && vmdl_vmx_in_guest_mode(scratch);
    vmdl_vmx_destroy(scratch);
    if (err)
        return err;
    bool machine = vmdl_vcpu_x86_nested_active(vmdl_vm_vcpu(h->vm, i));
    if (guest != r->active || machine != r->active)
        return vmdl_fail(VMDL_EBADBLOB, "vmx state: vCPU %u: the glue's record says L2 "
                         "%s, the model's state %s, the vCPU %s", i,
                         r->active ? "runs" : "does not run", guest ? "is in guest mode"
                         : "is not in guest mode", machine ? "runs a nested guest"
                         : "runs none");
    return VMDL_OK;
}

/* The record into the glue; a running L2's timer counts again and its
 * (empty) EPT shadow belongs to the current EPTP. */
static void apply_l2_record(struct vmdl_vmx_attach *h, unsigned i,
                            const struct vmdl__vmx_l2_rec *r)
{
    struct vmdl_vcpu *vcpu = vmdl_vm_vcpu(h->vm, i);
    h->l2[i] = r->l2;
    h->timer_at[i] = r->timer_at;
    if (r->timer_at != UINT64_MAX)
        vmdl_vcpu_need_insn_count(vcpu, true);
    h->mtf[i] = r->mtf;
    h->l1_nmi_blocked[i] = r->l1_nmi_blocked;
    h->look[i] = r->look;
    if (r->active)
        vmdl__vmx_ept_rekey(h->vcpu[i], &h->shadow[i]);
    else
        vmdl__vmx_ept_watch_reset(&h->shadow[i]);
}

static int load_items(struct vmdl_vmx_attach *h, const uint8_t *blob, size_t len,
                      const struct vmdl__vmx_l2_rec *recs)
{
    struct glue_item *items = calloc(h->n ? h->n : 1, sizeof(*items));
    if (!items)
        return vmdl_fail(VMDL_ENOMEM, "vmx state: out of memory");
    int err = glue_parse_items(VMX_GLUE_MAGIC, blob, len, h->n, items, "vmx state");
    for (unsigned i = 0; !err && recs && i < h->n; i++)
        err = check_l2_record(h, i, &items[i], &recs[i]);
    for (unsigned i = 0; !err && i < h->n; i++)
        err = vmdl_vmx_load(h->vcpu[i], items[i].blob, items[i].len);
    free(items);
    return err;
}

static int vmx_state_load(void *opaque, const uint8_t *blob, size_t len)
{
    struct vmdl_vmx_attach *h = opaque;
    struct vmdl_blob_reader r;
    int err = vmdl_blob_open(&r, blob, len, VMX_GLUE_MAGIC, VMDL_VMX_GLUE_STATE_VERSION,
                             "vmx state");
    struct vmdl__vmx_l2_rec *recs = NULL;
    const uint8_t *items = blob;
    size_t items_len = len;
    if (!err) {
        recs = calloc(h->n ? h->n : 1, sizeof(*recs));
        if (!recs)
            return vmdl_fail(VMDL_ENOMEM, "vmx state: out of memory");
        vmdl_blob_get_blob(&r, &items, &items_len);
        for (unsigned i = 0; i < h->n && !r.err; i++)
            vmdl__vmx_get_l2_rec(&r, &recs[i], MTF_NOW + 1);
        err = vmdl_blob_close(&r);
    } else if (err == VMDL_EVERSION) {
        err = VMDL_OK;     /* version 1: the items alone, no L2 ever ran */
    }
    if (!err)
        err = load_items(h, items, items_len, recs);
    bind_lapic(h);
    for (unsigned i = 0; !err && i < h->n; i++) {
        if (recs)
            apply_l2_record(h, i, &recs[i]);
        else    /* (version 1) the APICs' held INIT/SIPI are looked at again */
            h->look[i] = true;
    }
    free(recs);
    return err;
}

static void vmx_free(void *opaque)
{
    struct vmdl_vmx_attach *h = opaque;
    free(h->l2);
    free(h->timer_at);
    free(h->mtf);
    free(h->shadow);
    free(h->l1_nmi_blocked);
    free(h->look);
    for (unsigned i = 0; i < h->n; i++)
        vmdl_vmx_destroy(h->vcpu[i]);
    vmdl_vmx_model_destroy(h->model);
    free(h);
}

extern const struct vmdl_model_desc vmdl_vmx_model;

/* "name[:arch|:kvm]" -> caps; without a suffix the profile's own policy
 * (KVM's field set, architectural for the "-bare" profiles). */
/* One ':' suffix of a profile spec: the field policy, or an SDM option
 * where KVM (the default) and the SDM differ. */
static int apply_suffix(const char *opt, struct vmdl_vmx_caps *caps)
{
    if (!strcmp(opt, "arch"))
        caps->field_policy = VMDL_VMX_FIELDS_ARCH;
    else if (!strcmp(opt, "kvm"))
        caps->field_policy = VMDL_VMX_FIELDS_KVM;
    else if (!strcmp(opt, "sdm-init"))
        caps->sdm_init_blocked_in_wait_for_sipi = true;
    else if (!strcmp(opt, "sdm-inject"))
        caps->sdm_activity_blocks_injection = true;
    else
        return vmdl_fail(VMDL_EINVAL, "vmdl_attach_vmx: profile suffix ':%s' is none of "
                         "':kvm', ':arch', ':sdm-init', ':sdm-inject'", opt);
    return VMDL_OK;
}

/* "name[:suffix]...", e.g. "skylake:arch" or "sapphire-rapids:sdm-init". */
static int parse_profile(const char *spec, struct vmdl_vmx_caps *caps)
{
    char buf[128];
    if (spec && strlen(spec) >= sizeof(buf))
        return vmdl_fail(VMDL_EINVAL, "vmdl_attach_vmx: profile spec too long");
    const char *colon = spec ? strchr(spec, ':') : NULL;
    if (!colon)
        return vmdl_vmx_profile_get(spec, caps);
    memcpy(buf, spec, strlen(spec) + 1);
    char *rest = buf + (colon - spec);
    *rest++ = '\0';
    int err = vmdl_vmx_profile_get(buf, caps);
    while (!err && rest) {
        char *next = strchr(rest, ':');
        if (next)
            *next++ = '\0';
        err = apply_suffix(rest, caps);
        rest = next;
    }
    return err;
}

/* CPUID.1:ECX.VMX, and MAXPHYADDR (0x80000008 EAX[7:0]) as wide as the
 * profile's: the VMX checks (VMXON/VMCS/bitmap addresses, EPT) and CPUID
 * must agree, as KVM derives both from one guest CPUID. */
static int set_vmx_cpuid(struct vmdl_vm *vm, const struct vmdl_vmx_caps *c)
{
    struct vmdl_cpuid_entry e;
    if (vmdl_vm_get_cpuid(vm, 1, 0, &e)) {
        memset(&e, 0, sizeof(e));
        e.leaf = 1;
    }
    e.ecx |= 1u << 5;
    int err = vmdl_vm_set_cpuid(vm, &e);
    if (err)
        return err;
    if (vmdl_vm_get_cpuid(vm, 0x80000008, 0, &e)) {
        memset(&e, 0, sizeof(e));
        e.leaf = 0x80000008;
        e.eax = 48u << 8;
    }
    e.eax = (e.eax & ~0xFFu) | (c->phys_addr_bits & 0xFF);
    return vmdl_vm_set_cpuid(vm, &e);
}

/* "Load CET state" (exit control 28, entry control 20) only when the VM's
 * CPUID has shadow stacks (7.0:ECX[7]) or IBT (7.0:EDX[20]): KVM clears
 * both controls without either (setup_vmcs_config / hardware_setup), and
 * without them the vCPU has no CET MSRs to load. */
static void cet_follows_cpuid(struct vmdl_vm *vm, struct vmdl_vmx_caps *c)
{
    struct vmdl_cpuid_entry e = {0};
    if (!vmdl_vm_get_cpuid(vm, 7, 0, &e) && ((e.ecx & (1u << 7)) || (e.edx & (1u << 20))))
        return;
    vmdl_vmx_caps_set_allowed1(c, VMDL_VMX_CTL_EXIT, 28, false);
    vmdl_vmx_caps_set_allowed1(c, VMDL_VMX_CTL_ENTRY, 20, false);
}

int vmdl_attach_vmx_ex(struct vmdl_vm *vm, const struct vmdl_vmx_caps *caps,
                       const char *profile_name_or_null, uint64_t feature_control,
                       struct vmdl_vmx_attach **handle)
{
    if (!vm)
        return vmdl_fail(VMDL_EINVAL, "vmdl_attach_vmx: NULL vm");
    if (vmdl_vm_arch(vm) != VMDL_ARCH_X86_64)
        return vmdl_fail(VMDL_EINVAL, "vmdl_attach_vmx: VMX needs an x86 VM");
    struct vmdl_vmx_caps c;
    int err;
    if (caps)
        c = *caps;
    else if ((err = parse_profile(profile_name_or_null, &c)))
        return err;
    cet_follows_cpuid(vm, &c);
    unsigned n = vmdl_vm_nr_vcpus(vm);
    struct vmdl_vmx_attach *h = calloc(1, sizeof(*h) + n * sizeof(h->vcpu[0]));
    if (!h)
        return vmdl_fail(VMDL_ENOMEM, "vmdl_attach_vmx: out of memory");
    h->feature_control = feature_control;
    h->l2 = calloc(n ? n : 1, sizeof(*h->l2));
    h->timer_at = malloc((n ? n : 1) * sizeof(*h->timer_at));
    h->mtf = calloc(n ? n : 1, sizeof(*h->mtf));
    h->shadow = malloc((n ? n : 1) * sizeof(*h->shadow));
    h->l1_nmi_blocked = calloc(n ? n : 1, sizeof(*h->l1_nmi_blocked));
    h->look = calloc(n ? n : 1, sizeof(*h->look));
    h->vm = vm;
    h->enc_proc = vmdl_vmcs_field_by_name("CPU_BASED_VM_EXEC_CONTROL")->encoding;
    for (unsigned i = 0; h->timer_at && h->shadow && i < n; i++) {
        h->timer_at[i] = UINT64_MAX;
        vmdl__vmx_ept_watch_reset(&h->shadow[i]);
    }
    err = h->l2 && h->timer_at && h->mtf && h->shadow && h->l1_nmi_blocked && h->look
              ? vmdl_vmx_model_create(&c, &h->model)
              : vmdl_fail(VMDL_ENOMEM, "vmdl_attach_vmx: out of memory");
    if (err) {
        free(h->l2);
        free(h->timer_at);
        free(h->mtf);
        free(h->shadow);
        free(h->l1_nmi_blocked);
        free(h->look);
        free(h);
        return err;
    }
    const struct vmdl_guest_mem *mem = vmdl_vm_guest_mem(vm);
    for (unsigned i = 0; i < n && !err; i++) {
        err = vmdl_vmx_create(h->model, mem, &h->vcpu[i]);
        if (!err) {
            h->n = i + 1;
            err = vmdl_vmx_set_feature_control(h->vcpu[i], feature_control);
        }
    }
    if (err) {
        vmx_free(h);
        return err;
    }
    /* From here on h is freed with the VM. */
    if ((err = vmdl_vm_add_model(vm, &vmdl_vmx_model, h)) || (err = set_vmx_cpuid(vm, &c)) ||
        (err = vmdl_vm_set_x86_event_hook(vm, vmx_event, h)))
        return err;
    if (handle)
        *handle = h;
    return VMDL_OK;
}

int vmdl_attach_vmx(struct vmdl_vm *vm, const char *profile_name_or_null)
{
    return vmdl_attach_vmx_ex(vm, NULL, profile_name_or_null,
                              VMDL_VMX_ATTACH_FEATURE_CONTROL, NULL);
}

struct vmdl_vmx *vmdl_vmx_attach_vcpu(struct vmdl_vmx_attach *h, unsigned i)
{
    return h && i < h->n ? h->vcpu[i] : NULL;
}

const struct vmdl_vmx_model *vmdl_vmx_attach_model(struct vmdl_vmx_attach *h)
{
    return h ? h->model : NULL;
}

static int attach_from_options(struct vmdl_vm *vm, const struct vmdl_model_options *opts)
{
    return vmdl_attach_vmx(vm, vmdl_model_option(opts, "vmx-profile"));
}

static const struct vmdl_msr_range vmx_msrs[] = {
    {VMDL_MSR_IA32_FEATURE_CONTROL, VMDL_MSR_IA32_FEATURE_CONTROL},
    {VMDL_MSR_VMX_BASIC, VMDL_MSR_VMX_PROCBASED_CTLS3},
};

static const struct vmdl_model_option vmx_options[] = {
    {"vmx-profile", "NAME", "VMX capability profile (sapphire-rapids, skylake, "
     "broadwell, nehalem, core2, skylake-bare, core2-bare, sapphire-rapids-l1; suffixes: :kvm or :arch "
     "the field policy, :sdm-init and :sdm-inject the SDM's INIT/wait-for-SIPI "
     "rules instead of KVM's)"},
    {NULL, NULL, NULL},
};

const struct vmdl_model_desc vmdl_vmx_model = {
    .name = "vmx",
    .arch = VMDL_ARCH_X86_64,
    .vendor = VMDL_VENDOR_INTEL,
    .summary = "VMX vmcs12: field table, VMREAD/VMWRITE, profiles, VMCS_ENUM "
               "(nested VMX)",
    .options = vmx_options,
    .attach = attach_from_options,
    .msrs = vmx_msrs,
    .nr_msrs = sizeof(vmx_msrs) / sizeof(vmx_msrs[0]),
    .msr_ops = &vmx_msr_ops,
    .insn_family = VMDL_INSNS_VMX,
    .time = &vmx_time_ops,
    .insn = vmx_insn,
    .reset = vmx_reset,
    .destroy = vmx_free,
    .save = vmx_state_save,
    .load = vmx_state_load,
};
