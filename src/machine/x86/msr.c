/* SPDX-License-Identifier: MIT */
/*
 * x86 MSR routing: RDMSR/WRMSR go to the model that claims the index, then
 * to the few MSRs the machine itself keeps (EFER, FS/GS bases, TSC), then to
 * the caller or #GP; RDPMC reads a counter through its MSR; RDTSC is
 * virtual time.
 */
#include <string.h>

#include "x86.h"
#include "virtmodel/bits.h"
#include "virtmodel/error.h"

#define MSR_IA32_TSC 0x10
#define MSR_IA32_DEBUGCTL 0x1D9
#define MSR_IA32_EFER 0xC0000080
#define MSR_IA32_FS_BASE 0xC0000100
#define MSR_IA32_GS_BASE 0xC0000101
#define MSR_IA32_KERNEL_GS_BASE 0xC0000102

/*
 * The guest's TSC is virtual time: retired instructions plus the offset a
 * guest write to IA32_TSC sets.  RDTSC/RDTSCP trap (CR4.TSD is set under
 * the guest) so that runs reproduce; the first read turns on exact
 * instruction counting for good.
 */
uint64_t vmdl__x86_guest_clock(struct vmdl_vcpu *v)
{
    return vmdl__vtime(v) + X86(v)->tsc_offset;
}

uint64_t vmdl__x86_guest_tsc(struct vmdl_vcpu *v)
{
    if (!X86(v)->tsc_observed) {
        X86(v)->tsc_observed = true;
        vmdl_vcpu_need_insn_count(v, true);
    }
    return vmdl__vtime(v) + X86(v)->tsc_offset;
}

/*
 * IA32_DEBUGCTL.  Intel, as current KVM (vmx.c vmx_get_supported_debugctl,
 * vmx_is_valid_debugctl): the vCPU implements BUS_LOCK_DETECT (bit 2) and
 * RTM_DEBUG (bit 15) when CPUID gives the guest bus-lock detection
 * (7.0:ECX[24]) and RTM (7.0:EBX[11]), and LBR / FREEZE_LBRS_ON_PMI only
 * with a PMU that exposes LBRs, which this machine does not model.  BTF and
 * LBR beyond that are dropped without a fault (KVM's long-standing ABI: a
 * guest setting them sees them read back as 0); any other bit is #GP.  AMD,
 * as KVM's svm_set_msr with LBR virtualization: bits 5:0 (LBR, BTF, PB0-3)
 * are kept as written, the others #GP.
 */
#define DEBUGCTL_LBR (1ull << 0)
#define DEBUGCTL_BTF (1ull << 1)
#define DEBUGCTL_BUS_LOCK (1ull << 2)
#define DEBUGCTL_RTM (1ull << 15)
#define DEBUGCTL_AMD_VALID 0x3Full

uint64_t vmdl__x86_debugctl_supported(struct vmdl_vm *vm)
{
    if (vm->cfg.vendor == VMDL_VENDOR_AMD)
        return DEBUGCTL_AMD_VALID;
    uint64_t ok = 0;
    if (vmdl__x86_cpuid_has(vm, 7, 2, 24))
        ok |= DEBUGCTL_BUS_LOCK;
    if (vmdl__x86_cpuid_has(vm, 7, 1, 11))
        ok |= DEBUGCTL_RTM;
    return ok;
}

vmdl_fault vmdl__x86_debugctl_write(struct vmdl_vcpu *v, uint64_t val)
{
    uint64_t ok = vmdl__x86_debugctl_supported(v->vm);
    uint64_t tolerated = v->vm->cfg.vendor == VMDL_VENDOR_AMD ? 0
                                                              : DEBUGCTL_LBR | DEBUGCTL_BTF;
    if (val & ~(ok | tolerated))
        return VMDL_FAULT_GP;
    X86(v)->debugctl = val & ok;
    return VMDL_FAULT_NONE;
}

static vmdl_fault builtin_rdmsr(struct vmdl_vcpu *v, uint32_t idx, uint64_t *val)
{
    switch (idx) {
    case MSR_IA32_EFER: *val = X86(v)->efer; return VMDL_FAULT_NONE;
    case MSR_IA32_FS_BASE: *val = rd(v, UC_X86_REG_FS_BASE); return VMDL_FAULT_NONE;
    case MSR_IA32_GS_BASE: *val = rd(v, UC_X86_REG_GS_BASE); return VMDL_FAULT_NONE;
    case MSR_IA32_KERNEL_GS_BASE: *val = X86(v)->kernel_gs_base; return VMDL_FAULT_NONE;
    case MSR_IA32_TSC: *val = vmdl__x86_guest_tsc(v); return VMDL_FAULT_NONE;
    case MSR_IA32_DEBUGCTL: *val = X86(v)->debugctl; return VMDL_FAULT_NONE;
    default: return VMDL_FAULT_UNCLAIMED;
    }
}

static vmdl_fault builtin_wrmsr(struct vmdl_vcpu *v, uint32_t idx, uint64_t val)
{
    switch (idx) {
    case MSR_IA32_EFER:
        /* SCE, LME, LMA, NXE.  As KVM's set_efer: LMA is read-only (the
         * written bit is replaced by the current one), LME may not change
         * while paging is on, other bits fault. */
        if (val & ~((1ull << 0) | (1ull << 8) | (1ull << 10) | (1ull << 11)))
            return VMDL_FAULT_GP;
        val = (val & ~(1ull << 10)) | (X86(v)->efer & (1ull << 10));
        if ((val ^ X86(v)->efer) & (1ull << 8))
            return VMDL_FAULT_GP;
        X86(v)->efer = val;
        return VMDL_FAULT_NONE;
    case MSR_IA32_TSC:
        X86(v)->tsc_offset = val - vmdl__vtime(v);
        (void)vmdl__x86_guest_tsc(v);
        return VMDL_FAULT_NONE;
    case MSR_IA32_DEBUGCTL:
        return vmdl__x86_debugctl_write(v, val);
    case MSR_IA32_FS_BASE:
    case MSR_IA32_GS_BASE:
    case MSR_IA32_KERNEL_GS_BASE:
        if (!vmdl_is_canonical48(val))
            return VMDL_FAULT_GP;
        if (idx == MSR_IA32_FS_BASE)
            wr(v, UC_X86_REG_FS_BASE, val);
        else if (idx == MSR_IA32_GS_BASE)
            wr(v, UC_X86_REG_GS_BASE, val);
        else
            X86(v)->kernel_gs_base = val;
        return VMDL_FAULT_NONE;
    default: return VMDL_FAULT_UNCLAIMED;
    }
}

int vmdl_vcpu_x86_msr(struct vmdl_vcpu *v, bool write, uint32_t index,
                      uint64_t *value, vmdl_fault *fault)
{
    if (!v || !value || !fault)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vcpu_x86_msr: NULL argument");
    if (v->vm->arch != VMDL_ARCH_X86_64)
        return vmdl_fail(VMDL_ENOTSUP, "vmdl_vcpu_x86_msr: not an x86 vCPU");
    uint64_t val = *value;
    vmdl_fault f;
    if (X86(v)->hosted) {
        f = vmdl__x86h_msr(v, write, index, &val);
    } else {
        struct msr_range *r = vmdl__find_msr(v->vm, index);
        f = VMDL_FAULT_UNCLAIMED;
        if (r)
            f = write ? r->ops->write(r->opaque, v, index, val)
                      : r->ops->read(r->opaque, v, index, &val);
        if (f == VMDL_FAULT_UNCLAIMED)
            f = write ? builtin_wrmsr(v, index, val) : builtin_rdmsr(v, index, &val);
        if (f == VMDL_FAULT_UNCLAIMED)
            f = VMDL_FAULT_GP;
    }
    *fault = f;
    if (f == VMDL_FAULT_NONE && !write)
        *value = val;
    return VMDL_OK;
}

/*
 * The access itself: the claiming model, the built-in MSRs, the caller or
 * #GP.  EMU_DONE: result registers written and the instruction retired;
 * EMU_TO_CALLER: the exit is prepared; EMU_FAULT: *fault is to be raised at
 * rip (by the caller, so that a trap-site hook can leave the engine first).
 */
enum emu_result vmdl__x86_msr_access(struct vmdl_vcpu *v, bool is_write, uint64_t rip,
                                     unsigned len, vmdl_fault *fault)
{
    struct vmdl_vm *vm = v->vm;
    /* RCX for both; EDX:EAX only for a write (each read is an engine call). */
    uint32_t idx = (uint32_t)rd(v, UC_X86_REG_RCX);
    uint64_t val = 0;
    vmdl__x86_exit_cost(v, vmdl__x86_msr_kind(idx, is_write));
    if (is_write)
        val = (rd(v, UC_X86_REG_RDX) << 32) | (uint32_t)rd(v, UC_X86_REG_RAX);
    vmdl_fault f = VMDL_FAULT_UNCLAIMED;
    struct msr_range *r = vmdl__find_msr(vm, idx);
    if (r)
        f = is_write ? r->ops->write(r->opaque, v, idx, val)
                     : r->ops->read(r->opaque, v, idx, &val);
    if (f == VMDL_FAULT_UNCLAIMED)
        f = is_write ? builtin_wrmsr(v, idx, val) : builtin_rdmsr(v, idx, &val);
    char out[64];
    if (f == VMDL_FAULT_UNCLAIMED) {
        if (vm->cfg.msr_exits_to_caller) {
            memset(&v->exit, 0, sizeof(v->exit));
            v->exit.reason = is_write ? VMDL_EXIT_MSR_WRITE : VMDL_EXIT_MSR_READ;
            v->exit.pc = rip;
            v->exit.u.msr.index = idx;
            v->exit.u.msr.data = is_write ? val : 0;
            v->pending = is_write ? PENDING_MSR_WRITE : PENDING_MSR_READ;
            v->pending_len = len;
            vmdl__trace_exit(v, is_write ? "wrmsr" : "rdmsr", rip, "to caller");
            return EMU_TO_CALLER;
        }
        f = VMDL_FAULT_GP; /* KVM's default for an MSR nobody handles */
    }
    /* The outcome is formatted only for a trace: snprintf was a tenth of
     * a trapped MSR access (docs/performance.md). */
    if (f != VMDL_FAULT_NONE) {
        if (vm->trace) {
            snprintf(out, sizeof(out), "msr 0x%x: %s", idx, vmdl_fault_name(f));
            vmdl__trace_exit(v, is_write ? "wrmsr" : "rdmsr", rip, out);
        }
        *fault = f;
        return EMU_FAULT;
    }
    if (vm->trace) {
        snprintf(out, sizeof(out), "msr 0x%x = 0x%llx", idx, (unsigned long long)val);
        vmdl__trace_exit(v, is_write ? "wrmsr" : "rdmsr", rip, out);
    }
    if (!is_write) {
        wr(v, UC_X86_REG_RAX, (uint32_t)val);
        wr(v, UC_X86_REG_RDX, val >> 32);
    }
    /* The instruction is at rip: retire it without reading RIP back. */
    wr(v, UC_X86_REG_RIP, rip + len);
    vmdl__insns_add(v, 1);
    return EMU_DONE;
}

enum emu_result vmdl__x86_emu_msr(struct vmdl_vcpu *v, bool is_write, uint64_t rip,
                                  unsigned len)
{
    vmdl_fault f = VMDL_FAULT_NONE;
    enum emu_result r = vmdl__x86_msr_access(v, is_write, rip, len, &f);
    return r == EMU_FAULT ? vmdl__x86_raise(v, f, rip) : r;
}

/* RDPMC reads a counter by index: route it to the counter's MSR so that
 * the PMU model answers (AMD: PERF_CTRn of the core extension, else the K7
 * counters 0-3; Intel: the P6/architectural PERFCTRn).  Without a model
 * owning it, #GP (KVM: an index past the vPMU's counters). */
vmdl_fault vmdl__x86_rdpmc_read(struct vmdl_vcpu *v, uint32_t ecx, uint64_t *val)
{
    bool amd = v->vm->cfg.vendor == VMDL_VENDOR_AMD;
    uint32_t msr = amd ? 0xC0010201 + 2 * ecx : 0xC1 + ecx;
    if (ecx >= 16)
        return VMDL_FAULT_GP;
    struct msr_range *r = vmdl__find_msr(v->vm, msr);
    *val = 0;
    vmdl_fault f = r ? r->ops->read(r->opaque, v, msr, val) : VMDL_FAULT_GP;
    if (f != VMDL_FAULT_NONE && amd && ecx < 4) {
        msr = 0xC0010004 + ecx;
        r = vmdl__find_msr(v->vm, msr);
        f = r ? r->ops->read(r->opaque, v, msr, val) : VMDL_FAULT_GP;
    }
    return f == VMDL_FAULT_UNCLAIMED ? VMDL_FAULT_GP : f;
}

enum emu_result vmdl__x86_emu_rdpmc(struct vmdl_vcpu *v, uint64_t rip, unsigned len)
{
    uint64_t val;
    vmdl_fault f = vmdl__x86_rdpmc_read(v, (uint32_t)rd(v, UC_X86_REG_RCX), &val);
    if (f)
        return vmdl__x86_raise(v, f, rip);
    wr(v, UC_X86_REG_RAX, (uint32_t)val);
    wr(v, UC_X86_REG_RDX, val >> 32);
    vmdl__x86_retire(v, len);
    return EMU_DONE;
}

void vmdl__x86_rdtsc_stall(struct vmdl_vcpu *v)
{
    uint32_t c = v->vm->cfg.vtime.rdtsc_cycles;
    if (c)
        vmdl__stall_add(v, c);
}

enum emu_result vmdl__x86_emu_rdtsc(struct vmdl_vcpu *v, const cs_insn *in)
{
    /* Read before retiring: the TSC does not include this RDTSC. */
    uint64_t tsc = vmdl__x86_guest_tsc(v);
    wr(v, UC_X86_REG_RAX, (uint32_t)tsc);
    wr(v, UC_X86_REG_RDX, tsc >> 32);
    if (in->id == X86_INS_RDTSCP)
        wr(v, UC_X86_REG_RCX, v->index); /* IA32_TSC_AUX: the vCPU */
    vmdl__x86_retire(v, in->size);
    vmdl__x86_rdtsc_stall(v);
    return EMU_DONE;
}
