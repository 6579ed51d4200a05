/* SPDX-License-Identifier: MIT */
/*
 * VM entry into L2 and VM exit back to L1: moving architectural state
 * between struct vmdl_vmx_cpu and vmcs12 (SDM Vol. 3C 27.3 "Loading Guest
 * State", 28.3 "Saving Guest State", 28.5 "Loading Host State"; KVM's
 * prepare_vmcs02, prepare_vmcs12/sync_vmcs02_to_vmcs12 and
 * load_vmcs12_host_state), and the MSR-load/store lists.
 */
#include <stddef.h>
#include <string.h>

#include "virtmodel/bits.h"
#include "virtmodel/error.h"
#include "vmx_priv.h"

#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define RFLAGS_FIXED 2ull

#define MSR_SYSENTER_CS 0x174u
#define MSR_SYSENTER_ESP 0x175u
#define MSR_SYSENTER_EIP 0x176u
#define MSR_DEBUGCTL 0x1d9u
#define MSR_PAT 0x277u
#define MSR_PERF_GLOBAL_CTRL 0x38fu
#define MSR_BNDCFGS 0xd90u
#define MSR_EFER 0xc0000080u
#define MSR_FS_BASE 0xc0000100u
#define MSR_GS_BASE 0xc0000101u
#define MSR_UCODE_WRITE 0x79u
#define MSR_UCODE_REV 0x8bu
#define MSR_SMM_MONITOR_CTL 0x9bu
#define MSR_SMBASE 0x9eu

/* ---- the MSRs that are part of struct vmdl_vmx_cpu ---- */

static uint64_t *cpu_msr(struct vmdl_vmx_cpu *cpu, uint32_t index)
{
    switch (index) {
    case MSR_SYSENTER_ESP: return &cpu->sysenter_esp;
    case MSR_SYSENTER_EIP: return &cpu->sysenter_eip;
    case MSR_DEBUGCTL: return &cpu->debugctl;
    case MSR_PAT: return &cpu->pat;
    case MSR_PERF_GLOBAL_CTRL: return &cpu->perf_global_ctrl;
    case MSR_BNDCFGS: return &cpu->bndcfgs;
    case MSR_EFER: return &cpu->efer;
    default: return NULL;
    }
}

static vmdl_fault msr_get(struct vmdl_vmx_cpu *cpu, const struct vmdl_vmx_msr_ops *ops,
                          uint32_t index, uint64_t *v)
{
    if (index == MSR_SYSENTER_CS) {
        *v = cpu->sysenter_cs;
        return VMDL_FAULT_NONE;
    }
    uint64_t *p = cpu_msr(cpu, index);
    if (p) {
        *v = *p;
        return VMDL_FAULT_NONE;
    }
    return ops && ops->read ? ops->read(ops->opaque, index, v) : VMDL_FAULT_GP;
}

static vmdl_fault msr_set(struct vmdl_vmx_cpu *cpu, const struct vmdl_vmx_msr_ops *ops,
                          uint32_t index, uint64_t v)
{
    if (index == MSR_SYSENTER_CS) {
        cpu->sysenter_cs = (uint32_t)v;
        return VMDL_FAULT_NONE;
    }
    uint64_t *p = cpu_msr(cpu, index);
    if (p) {
        /* EFER: KVM's kvm_valid_efer for an Intel vCPU. */
        if (index == MSR_EFER && (v & ~0xd01ull))
            return VMDL_FAULT_GP;
        *p = v;
        return VMDL_FAULT_NONE;
    }
    return ops && ops->write ? ops->write(ops->opaque, index, v) : VMDL_FAULT_GP;
}

/* Entries a list may hold: 512 * (IA32_VMX_MISC[27:25] + 1). */
static uint64_t max_list(const struct vmdl_vmx *vmx)
{
    return 512ull * (VMDL_VMX_MISC_MAX_MSR(vmdl_vmx_model_caps(vmx->model)->misc) + 1);
}

static bool list_entry(const struct vmdl_vmx *vmx, uint64_t addr, uint64_t i,
                       uint32_t *index, uint32_t *rsvd, uint64_t *value)
{
    uint8_t e[16];
    if (vmdl_guest_read(&vmx->mem, addr + 16 * i, e, sizeof(e)))
        return false;
    *index = (uint32_t)get_le(e, 4);
    *rsvd = (uint32_t)get_le(e + 4, 4);
    *value = get_le(e + 8, 8);
    return true;
}

/* KVM nested_vmx_load_msr_check (+ _msr_check_common): MSRs a load list
 * may not name.  x2APIC MSRs are refused whether or not x2APIC is on (the
 * model does not see the APIC mode; KVM refuses them only in x2APIC mode). */
static bool load_refused(uint32_t index, uint32_t rsvd)
{
    return (index >> 8) == 0x8 || index == MSR_UCODE_WRITE || index == MSR_UCODE_REV ||
           index == MSR_FS_BASE || index == MSR_GS_BASE ||
           index == MSR_SMM_MONITOR_CTL || index == MSR_SMBASE || rsvd != 0;
}

/* Returns 0, or the 1-based number of the entry that failed. */
static uint64_t load_list(const struct vmdl_vmx *vmx, uint64_t addr, uint64_t count,
                          struct vmdl_vmx_cpu *cpu, const struct vmdl_vmx_msr_ops *ops)
{
    for (uint64_t i = 0; i < count; i++) {
        uint32_t index, rsvd;
        uint64_t v;
        if (i >= max_list(vmx) || !list_entry(vmx, addr, i, &index, &rsvd, &v) ||
            load_refused(index, rsvd) || msr_set(cpu, ops, index, v) != VMDL_FAULT_NONE)
            return i + 1;
    }
    return 0;
}

static bool store_list(struct vmdl_vmx *vmx, uint64_t addr, uint64_t count,
                       struct vmdl_vmx_cpu *cpu, const struct vmdl_vmx_msr_ops *ops)
{
    for (uint64_t i = 0; i < count; i++) {
        uint32_t index, rsvd;
        uint64_t v;
        if (i >= max_list(vmx) || !list_entry(vmx, addr, i, &index, &rsvd, &v) ||
            (index >> 8) == 0x8 || index == MSR_SMBASE || rsvd != 0 ||
            msr_get(cpu, ops, index, &v) != VMDL_FAULT_NONE)
            return false;
        uint8_t b[8];
        put_le(b, v, 8);
        if (vmdl_guest_write(&vmx->mem, addr + 16 * i + 8, b, 8))
            return false;
    }
    return true;
}

/* ---- state transfer ---- */

static uint16_t seg_enc(uint16_t first, unsigned i)
{
    return (uint16_t)(first + 2 * i);
}

/* Guest-state fields moved as they are in both directions: vmcs12
 * encoding <-> struct vmdl_vmx_cpu member (the conditional ones, DR7,
 * DEBUGCTL, EFER, PAT, ..., follow their controls below). */
#define CPU_FIELD(enc, member) {(enc), offsetof(struct vmdl_vmx_cpu, member), \
                                sizeof(((struct vmdl_vmx_cpu *)0)->member)}
static const struct { uint16_t enc; uint16_t off; uint8_t size; } guest_fields[] = {
    CPU_FIELD(V12_GUEST_CR0, cr0), CPU_FIELD(V12_GUEST_CR3, cr3),
    CPU_FIELD(V12_GUEST_CR4, cr4), CPU_FIELD(V12_GUEST_RSP, rsp),
    CPU_FIELD(V12_GUEST_RIP, rip), CPU_FIELD(V12_GUEST_RFLAGS, rflags),
    CPU_FIELD(V12_GUEST_GDTR_BASE, gdtr_base), CPU_FIELD(V12_GUEST_GDTR_LIMIT, gdtr_limit),
    CPU_FIELD(V12_GUEST_IDTR_BASE, idtr_base), CPU_FIELD(V12_GUEST_IDTR_LIMIT, idtr_limit),
    CPU_FIELD(V12_GUEST_SYSENTER_CS, sysenter_cs),
    CPU_FIELD(V12_GUEST_SYSENTER_ESP, sysenter_esp),
    CPU_FIELD(V12_GUEST_SYSENTER_EIP, sysenter_eip),
    CPU_FIELD(V12_GUEST_ACTIVITY_STATE, activity),
    CPU_FIELD(V12_GUEST_INTERRUPTIBILITY_INFO, interruptibility),
    CPU_FIELD(V12_GUEST_PENDING_DBG_EXCEPTIONS, pending_dbg),
};

static void cpu_put(struct vmdl_vmx_cpu *cpu, unsigned i, uint64_t v)
{
    uint8_t *p = (uint8_t *)cpu + guest_fields[i].off;
    if (guest_fields[i].size == 8)
        memcpy(p, &v, 8);
    else {
        uint32_t w = (uint32_t)v;
        memcpy(p, &w, 4);
    }
}

static uint64_t cpu_get(const struct vmdl_vmx_cpu *cpu, unsigned i)
{
    const uint8_t *p = (const uint8_t *)cpu + guest_fields[i].off;
    if (guest_fields[i].size == 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        return v;
    }
    uint32_t w;
    memcpy(&w, p, 4);
    return w;
}

#define NGUEST_FIELDS (sizeof(guest_fields) / sizeof(guest_fields[0]))

static void load_segments(const struct vmdl_vmx *vmx, struct vmdl_vmx_cpu *cpu)
{
    for (unsigned i = 0; i < VMDL_VMX_NSEGS; i++) {
        struct vmdl_vmx_segment *s = &cpu->seg[i];
        s->selector = (uint16_t)vmdl__v12(vmx, seg_enc(V12_GUEST_ES_SELECTOR, i));
        s->base = vmdl__v12(vmx, seg_enc(V12_GUEST_ES_BASE, i));
        s->limit = (uint32_t)vmdl__v12(vmx, seg_enc(V12_GUEST_ES_LIMIT, i));
        s->ar = (uint32_t)vmdl__v12(vmx, seg_enc(V12_GUEST_ES_AR_BYTES, i));
    }
}

static void save_segments(struct vmdl_vmx *vmx, const struct vmdl_vmx_cpu *cpu)
{
    for (unsigned i = 0; i < VMDL_VMX_NSEGS; i++) {
        const struct vmdl_vmx_segment *s = &cpu->seg[i];
        vmdl__v12_set(vmx, seg_enc(V12_GUEST_ES_SELECTOR, i), s->selector);
        vmdl__v12_set(vmx, seg_enc(V12_GUEST_ES_BASE, i), s->base);
        vmdl__v12_set(vmx, seg_enc(V12_GUEST_ES_LIMIT, i), s->limit);
        vmdl__v12_set(vmx, seg_enc(V12_GUEST_ES_AR_BYTES, i), s->ar & 0x1f0ffu);
    }
}

static void load_guest_state(const struct vmdl_vmx *vmx, struct vmdl_vmx_cpu *cpu)
{
    uint32_t entry = (uint32_t)vmdl__v12(vmx, V12_VM_ENTRY_CONTROLS);
    for (unsigned i = 0; i < NGUEST_FIELDS; i++)
        cpu_put(cpu, i, vmdl__v12(vmx, guest_fields[i].enc));
    load_segments(vmx, cpu);
    /* KVM: DR7/DEBUGCTL from vmcs12 only with "load debug controls";
     * otherwise L1's values stay.  DEBUGCTL keeps only the bits the vCPU
     * implements (prepare_vmcs02 masks with vmx_get_supported_debugctl). */
    if (entry & VMDL_ENTRYCTL_LOAD_DEBUG) {
        cpu->dr7 = vmdl__v12(vmx, V12_GUEST_DR7);
        cpu->debugctl = vmdl__v12(vmx, V12_GUEST_IA32_DEBUGCTL) & vmx->debugctl_ok;
    }
    /* KVM nested_vmx_calc_efer: without "load EFER", LMA/LME follow the
     * IA-32e mode guest control. */
    if (entry & VMDL_ENTRYCTL_LOAD_EFER)
        cpu->efer = vmdl__v12(vmx, V12_GUEST_IA32_EFER);
    else if (entry & VMDL_ENTRYCTL_IA32E)
        cpu->efer |= EFER_LMA | EFER_LME;
    else
        cpu->efer &= ~(EFER_LMA | EFER_LME);
    if (entry & VMDL_ENTRYCTL_LOAD_PAT)
        cpu->pat = vmdl__v12(vmx, V12_GUEST_IA32_PAT);
    if (entry & VMDL_ENTRYCTL_LOAD_PERF_GLOBAL)
        cpu->perf_global_ctrl = vmdl__v12(vmx, V12_GUEST_IA32_PERF_GLOBAL_CTRL);
    if (entry & VMDL_ENTRYCTL_LOAD_BNDCFGS)
        cpu->bndcfgs = vmdl__v12(vmx, V12_GUEST_BNDCFGS);
}

static void save_guest_state(struct vmdl_vmx *vmx, const struct vmdl_vmx_cpu *cpu)
{
    uint32_t exit = (uint32_t)vmdl__v12(vmx, V12_VM_EXIT_CONTROLS);
    for (unsigned i = 0; i < NGUEST_FIELDS; i++)
        vmdl__v12_set(vmx, guest_fields[i].enc, cpu_get(cpu, i));
    save_segments(vmx, cpu);
    if (exit & VMDL_EXITCTL_SAVE_DEBUG) {
        vmdl__v12_set(vmx, V12_GUEST_DR7, cpu->dr7);
        vmdl__v12_set(vmx, V12_GUEST_IA32_DEBUGCTL, cpu->debugctl);
    }
    if (exit & VMDL_EXITCTL_SAVE_PAT)
        vmdl__v12_set(vmx, V12_GUEST_IA32_PAT, cpu->pat);
    if (exit & VMDL_EXITCTL_SAVE_EFER)
        vmdl__v12_set(vmx, V12_GUEST_IA32_EFER, cpu->efer);
    /* SDM 28.2: the IA-32e mode guest control takes EFER.LMA. */
    uint64_t entry = vmdl__v12(vmx, V12_VM_ENTRY_CONTROLS) & ~(uint64_t)VMDL_ENTRYCTL_IA32E;
    if (cpu->efer & EFER_LMA)
        entry |= VMDL_ENTRYCTL_IA32E;
    vmdl__v12_set(vmx, V12_VM_ENTRY_CONTROLS, entry);
}

static struct vmdl_vmx_segment flat_seg(uint16_t sel, uint64_t base, unsigned type,
                                        bool l)
{
    /* P S G, D/B unless 64-bit code (KVM load_vmcs12_host_state). */
    uint32_t ar = type | 0x10 | 0x80 | (1u << 15) | (l ? 1u << 13 : 1u << 14);
    return (struct vmdl_vmx_segment){sel, base, 0xffffffffu, ar};
}

/* SDM 28.5 as KVM's load_vmcs12_host_state does it.  KVM differs from the
 * SDM in two places, and the model follows KVM: CR0 is loaded whole (the
 * SDM keeps ET/CD/NW and reserved bits) and null DS/ES/FS/GS/SS selectors
 * still give usable segments (the SDM marks them unusable). */
static void load_host_state(const struct vmdl_vmx *vmx, struct vmdl_vmx_cpu *cpu)
{
    uint32_t exit = (uint32_t)vmdl__v12(vmx, V12_VM_EXIT_CONTROLS);
    bool a64 = exit & VMDL_EXITCTL_HOST_ADDR64;
    if (exit & VMDL_EXITCTL_LOAD_EFER)
        cpu->efer = vmdl__v12(vmx, V12_HOST_IA32_EFER);
    else if (a64)
        cpu->efer |= EFER_LMA | EFER_LME;
    else
        cpu->efer &= ~(EFER_LMA | EFER_LME);
    cpu->cr0 = vmdl__v12(vmx, V12_HOST_CR0);
    cpu->cr4 = vmdl__v12(vmx, V12_HOST_CR4);
    cpu->cr3 = vmdl__v12(vmx, V12_HOST_CR3);
    cpu->sysenter_cs = (uint32_t)vmdl__v12(vmx, V12_HOST_IA32_SYSENTER_CS);
    cpu->sysenter_esp = vmdl__v12(vmx, V12_HOST_IA32_SYSENTER_ESP);
    cpu->sysenter_eip = vmdl__v12(vmx, V12_HOST_IA32_SYSENTER_EIP);
    cpu->idtr_base = vmdl__v12(vmx, V12_HOST_IDTR_BASE);
    cpu->idtr_limit = 0xffff;
    cpu->gdtr_base = vmdl__v12(vmx, V12_HOST_GDTR_BASE);
    cpu->gdtr_limit = 0xffff;
    if (exit & VMDL_EXITCTL_LOAD_PAT)
        cpu->pat = vmdl__v12(vmx, V12_HOST_IA32_PAT);
    if (exit & VMDL_EXITCTL_LOAD_PERF_GLOBAL)
        cpu->perf_global_ctrl = vmdl__v12(vmx, V12_HOST_IA32_PERF_GLOBAL_CTRL);
    cpu->dr7 = 0x400;
    cpu->debugctl = 0;
    cpu->rsp = vmdl__v12(vmx, V12_HOST_RSP);
    cpu->rip = vmdl__v12(vmx, V12_HOST_RIP);
    cpu->rflags = RFLAGS_FIXED;
    cpu->seg[VMDL_VMX_SEG_CS] =
        flat_seg((uint16_t)vmdl__v12(vmx, V12_HOST_CS_SELECTOR), 0, 11, a64);
    static const struct { unsigned seg; uint16_t sel; } data[] = {
        {VMDL_VMX_SEG_ES, V12_HOST_ES_SELECTOR}, {VMDL_VMX_SEG_SS, V12_HOST_SS_SELECTOR},
        {VMDL_VMX_SEG_DS, V12_HOST_DS_SELECTOR}, {VMDL_VMX_SEG_FS, V12_HOST_FS_SELECTOR},
        {VMDL_VMX_SEG_GS, V12_HOST_GS_SELECTOR},
    };
    for (size_t i = 0; i < sizeof(data) / sizeof(data[0]); i++)
        cpu->seg[data[i].seg] = flat_seg((uint16_t)vmdl__v12(vmx, data[i].sel), 0, 3, false);
    cpu->seg[VMDL_VMX_SEG_FS].base = vmdl__v12(vmx, V12_HOST_FS_BASE);
    cpu->seg[VMDL_VMX_SEG_GS].base = vmdl__v12(vmx, V12_HOST_GS_BASE);
    cpu->seg[VMDL_VMX_SEG_TR] = (struct vmdl_vmx_segment){
        (uint16_t)vmdl__v12(vmx, V12_HOST_TR_SELECTOR), vmdl__v12(vmx, V12_HOST_TR_BASE),
        0x67, 11 | 0x80};
    cpu->seg[VMDL_VMX_SEG_LDTR] = (struct vmdl_vmx_segment){0, 0, 0, VMDL_VMX_AR_UNUSABLE};
    cpu->activity = 0;
    cpu->interruptibility = 0;
    cpu->pending_dbg = 0;
}

/* Host state, then the VM-exit MSR-load list; false: VMX abort. */
static bool to_host(struct vmdl_vmx *vmx, struct vmdl_vmx_cpu *cpu,
                    const struct vmdl_vmx_msr_ops *ops)
{
    load_host_state(vmx, cpu);
    return load_list(vmx, vmdl__v12(vmx, V12_VM_EXIT_MSR_LOAD_ADDR),
                     vmdl__v12(vmx, V12_VM_EXIT_MSR_LOAD_COUNT), cpu, ops) == 0;
}

static void entry_fail_exit(struct vmdl_vmx *vmx, struct vmdl_vmx_cpu *cpu,
                            const struct vmdl_vmx_msr_ops *ops, uint32_t reason,
                            uint64_t qual, struct vmdl_vmx_entry *out)
{
    out->outcome = VMDL_VMX_ENTRY_FAIL_EXIT;
    out->exit_reason = reason | VMDL_VMX_EXIT_FAILED_ENTRY;
    out->qualification = qual;
    vmdl__v12_set(vmx, V12_VM_EXIT_REASON, out->exit_reason);
    vmdl__v12_set(vmx, V12_EXIT_QUALIFICATION, qual);
    vmx->guest_mode = false;
    /* A failed host MSR load here is a VMX abort; KVM only shuts the
     * vCPU down (nested_vmx_abort), which the caller sees as activity
     * state shutdown. */
    if (!to_host(vmx, cpu, ops))
        cpu->activity = 2;
}

static void pending_event(const struct vmdl_vmx *vmx, struct vmdl_vmx_event *ev)
{
    uint32_t info = (uint32_t)vmdl__v12(vmx, V12_VM_ENTRY_INTR_INFO_FIELD);
    memset(ev, 0, sizeof(*ev));
    if (!(info & VMDL_INTR_INFO_VALID))
        return;
    ev->valid = true;
    ev->vector = (uint8_t)info;
    ev->type = (uint8_t)((info >> 8) & 7);
    ev->has_error = info & VMDL_INTR_INFO_HAS_ERROR;
    ev->error_code = (uint32_t)vmdl__v12(vmx, V12_VM_ENTRY_EXCEPTION_ERROR_CODE);
    ev->insn_len = (uint32_t)vmdl__v12(vmx, V12_VM_ENTRY_INSTRUCTION_LEN);
}

int vmdl_vmx_nested_enter(struct vmdl_vmx *vmx, const struct vmdl_vmx_ctx *ctx,
                          bool resume, struct vmdl_vmx_cpu *cpu,
                          const struct vmdl_vmx_msr_ops *msrs,
                          struct vmdl_vmx_result *res, struct vmdl_vmx_entry *out)
{
    if (!cpu || !out)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vmx_nested_enter: NULL argument");
    memset(out, 0, sizeof(*out));
    out->outcome = VMDL_VMX_ENTRY_VMFAIL;
    if (vmx && vmx->guest_mode)
        return vmdl_fail(VMDL_ESTATE, "vmdl_vmx_nested_enter: L2 is active (a "
                         "VMLAUNCH in L2 is a VM exit to L1)");
    int err = vmdl_vmx_vmlaunch(vmx, ctx, resume, res);
    if (err || res->fault != VMDL_FAULT_NONE || res->status != VMDL_VMX_ENTRY)
        return err;
    uint32_t e = vmdl__vmx_check_vmfail(vmx, cpu->efer, cpu->cr4, &out->check);
    if (e)
        return vmdl_vmx_entry_failed(vmx, e, res);
    uint32_t g = vmdl_vmx_check_entry_guest(vmx, &out->check);
    if (g) {
        entry_fail_exit(vmx, cpu, msrs, VMDL_VMX_EXIT_INVALID_STATE, g - 1, out);
        return VMDL_OK;
    }
    struct vmdl_vmx_cpu l2 = *cpu;
    load_guest_state(vmx, &l2);
    uint64_t bad = load_list(vmx, vmdl__v12(vmx, V12_VM_ENTRY_MSR_LOAD_ADDR),
                             vmdl__v12(vmx, V12_VM_ENTRY_MSR_LOAD_COUNT), &l2, msrs);
    if (bad) {
        out->check = "VM-entry MSR-load list entry";
        entry_fail_exit(vmx, cpu, msrs, VMDL_VMX_EXIT_MSR_LOAD_FAIL, bad, out);
        return VMDL_OK;
    }
    *cpu = l2;
    pending_event(vmx, &out->inject);
    vmx->guest_mode = true;
    /* KVM's nested_vmx_run: an L2 entered in wait-for-SIPI leaves the vCPU
     * in INIT_RECEIVED, where only INIT and SIPI reach it
     * (vmdl_vmx_check_nested_events). */
    if (cpu->activity == VMDL_VMX_ACTIVITY_WAIT_SIPI)
        vmx->mp_state = VMDL_MP_INIT_RECEIVED;
    vmdl_vmx_entry_done(vmx);
    out->outcome = VMDL_VMX_ENTRY_ENTERED;
    return VMDL_OK;
}

static void write_exit_info(struct vmdl_vmx *vmx, const struct vmdl_vmx_exit_info *i)
{
    vmdl__v12_set(vmx, V12_VM_EXIT_REASON, i->reason);
    vmdl__v12_set(vmx, V12_EXIT_QUALIFICATION, i->qualification);
    vmdl__v12_set(vmx, V12_GUEST_LINEAR_ADDRESS, i->guest_linear);
    vmdl__v12_set(vmx, V12_GUEST_PHYSICAL_ADDRESS, i->guest_phys);
    vmdl__v12_set(vmx, V12_VM_EXIT_INTR_INFO, i->intr_info);
    vmdl__v12_set(vmx, V12_VM_EXIT_INTR_ERROR_CODE, i->intr_error);
    vmdl__v12_set(vmx, V12_IDT_VECTORING_INFO_FIELD, i->idt_info);
    vmdl__v12_set(vmx, V12_IDT_VECTORING_ERROR_CODE, i->idt_error);
    vmdl__v12_set(vmx, V12_VM_EXIT_INSTRUCTION_LEN, i->insn_len);
    vmdl__v12_set(vmx, V12_VMX_INSTRUCTION_INFO, i->insn_info);
}

int vmdl_vmx_nested_exit(struct vmdl_vmx *vmx, const struct vmdl_vmx_exit_info *info,
                         struct vmdl_vmx_cpu *cpu,
                         const struct vmdl_vmx_msr_ops *msrs, bool *abort)
{
    if (!vmx || !info || !cpu)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vmx_nested_exit: NULL argument");
    if (!vmx->guest_mode || !vmdl__vmx_has_current(vmx))
        return vmdl_fail(VMDL_ESTATE, "vmdl_vmx_nested_exit: L2 is not active");
    bool ok = true;
    /* KVM's sync_vmcs02_to_vmcs12 saves the activity state from the MP
     * state; the caller's (HLT or active) stands for a runnable vCPU. */
    if (vmx->mp_state == VMDL_MP_INIT_RECEIVED)
        cpu->activity = VMDL_VMX_ACTIVITY_WAIT_SIPI;
    else if (vmx->mp_state == VMDL_MP_HALTED)
        cpu->activity = VMDL_VMX_ACTIVITY_HLT;
    save_guest_state(vmx, cpu);
    write_exit_info(vmx, info);
    /* SDM 28.2.3 / KVM prepare_vmcs12: the entry event is consumed. */
    uint64_t ei = vmdl__v12(vmx, V12_VM_ENTRY_INTR_INFO_FIELD);
    vmdl__v12_set(vmx, V12_VM_ENTRY_INTR_INFO_FIELD, ei & ~(uint64_t)VMDL_INTR_INFO_VALID);
    ok = store_list(vmx, vmdl__v12(vmx, V12_VM_EXIT_MSR_STORE_ADDR),
                    vmdl__v12(vmx, V12_VM_EXIT_MSR_STORE_COUNT), cpu, msrs);
    vmx->guest_mode = false;
    vmx->ev.nested_run_pending = false;
    vmx->mp_state = VMDL_MP_RUNNABLE;   /* nested_vmx_vmexit: L1 runs */
    if (!to_host(vmx, cpu, msrs))
        ok = false;
    /* KVM (nested_vmx_abort) requests a triple fault and writes no VMX
     * abort indicator; the SDM writes the indicator and shuts down. */
    if (abort)
        *abort = !ok;
    return VMDL_OK;
}

bool vmdl_vmx_in_guest_mode(const struct vmdl_vmx *vmx)
{
    return vmx && vmx->guest_mode;
}

int vmdl_vmx_set_guest_mode(struct vmdl_vmx *vmx, bool on)
{
    if (!vmx)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vmx_set_guest_mode: NULL vmx");
    if (on && (!vmx->vmxon || !vmdl__vmx_has_current(vmx)))
        return vmdl_fail(VMDL_ESTATE, "vmdl_vmx_set_guest_mode: no current VMCS");
    vmx->guest_mode = on;
    return VMDL_OK;
}
