/* SPDX-License-Identifier: MIT */
/*
 * The run loop: deterministic round-robin scheduling of the vCPUs, limits,
 * idle skipping to the next timer event, and the exit/complete protocol.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "machine_internal.h"
#include "virtmodel/error.h"

const char *vmdl_exit_reason_name(enum vmdl_exit_reason r)
{
    static const char *const names[] = {
        [VMDL_EXIT_NONE] = "none",
        [VMDL_EXIT_MSR_READ] = "msr-read",
        [VMDL_EXIT_MSR_WRITE] = "msr-write",
        [VMDL_EXIT_IO] = "io",
        [VMDL_EXIT_MMIO] = "mmio",
        [VMDL_EXIT_SYSREG] = "sysreg",
        [VMDL_EXIT_VMX] = "vmx",
        [VMDL_EXIT_SEAM] = "seam",
        [VMDL_EXIT_HYPERCALL] = "hypercall",
        [VMDL_EXIT_HLT] = "hlt",
        [VMDL_EXIT_SHUTDOWN] = "shutdown",
        [VMDL_EXIT_RESET] = "reset",
        [VMDL_EXIT_MAX_INSNS] = "max-insns",
        [VMDL_EXIT_TIMEOUT] = "timeout",
        [VMDL_EXIT_FAULT_LOOP] = "fault-loop",
        [VMDL_EXIT_INTERNAL_ERROR] = "internal-error",
    };
    if ((unsigned)r < sizeof(names) / sizeof(names[0]) && names[r])
        return names[r];
    return "?";
}

void vmdl_vm_set_limits(struct vmdl_vm *vm, uint64_t max_insns, double timeout_s)
{
    vmdl__watchdog_stop(vm);
    vm->max_insns = max_insns;
    vm->timeout_s = timeout_s > 0 ? timeout_s : 0;
    vm->limits_armed = false;
    atomic_store(&vm->timed_out, false);
}

/* ---- the --timeout watchdog ---- */

static void *watchdog_main(void *arg)
{
    struct vmdl_vm *vm = arg;
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    double secs = vm->timeout_s - (vmdl__now() - vm->run_started);
    if (secs < 0)
        secs = 0;
    deadline.tv_sec += (time_t)secs;
    deadline.tv_nsec += (long)((secs - (double)(time_t)secs) * 1e9);
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&vm->wd_lock);
    while (!vm->wd_quit &&
           pthread_cond_timedwait(&vm->wd_cond, &vm->wd_lock, &deadline) != ETIMEDOUT)
        ;
    if (!vm->wd_quit)
        atomic_store(&vm->timed_out, true);
    /* Keep stopping the running engine until the run loop notices: a stop
     * that lands between two uc_emu_start calls is otherwise lost. */
    while (!vm->wd_quit) {
        if (vm->running)
            uc_emu_stop(vm->running->uc);
        struct timespec again;
        clock_gettime(CLOCK_REALTIME, &again);
        again.tv_nsec += 10000000L;
        if (again.tv_nsec >= 1000000000L) {
            again.tv_sec++;
            again.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&vm->wd_cond, &vm->wd_lock, &again);
    }
    pthread_mutex_unlock(&vm->wd_lock);
    return NULL;
}

static void watchdog_start(struct vmdl_vm *vm)
{
    vm->wd_quit = false;
    vm->watchdog_on = pthread_create(&vm->watchdog, NULL, watchdog_main, vm) == 0;
}

void vmdl__watchdog_stop(struct vmdl_vm *vm)
{
    if (!vm->watchdog_on)
        return;
    pthread_mutex_lock(&vm->wd_lock);
    vm->wd_quit = true;
    pthread_cond_signal(&vm->wd_cond);
    pthread_mutex_unlock(&vm->wd_lock);
    pthread_join(vm->watchdog, NULL);
    vm->watchdog_on = false;
}

void vmdl__engine_enter(struct vmdl_vcpu *vcpu)
{
    struct vmdl_vm *vm = vcpu->vm;
    if (!vm->watchdog_on)
        return;
    pthread_mutex_lock(&vm->wd_lock);
    vm->running = vcpu;
    pthread_mutex_unlock(&vm->wd_lock);
}

void vmdl__engine_leave(struct vmdl_vcpu *vcpu)
{
    struct vmdl_vm *vm = vcpu->vm;
    if (!vm->watchdog_on)
        return;
    pthread_mutex_lock(&vm->wd_lock);
    vm->running = NULL;
    pthread_mutex_unlock(&vm->wd_lock);
}

void vmdl_vm_set_trace(struct vmdl_vm *vm, void *stream)
{
    vm->trace = stream;
}

void vmdl__trace_exit(struct vmdl_vcpu *vcpu, const char *what, uint64_t pc,
                      const char *outcome)
{
    FILE *f = vcpu->vm->trace;
    if (!f)
        return;
    char text[96];
    vmdl__disasm(vcpu, pc, text, sizeof(text));
    fprintf(f, "[vcpu%u] %-10s pc=0x%08llx  %-32s -> %s\n", vcpu->index, what,
            (unsigned long long)pc, text, outcome);
}

static uint64_t total_insns(struct vmdl_vm *vm)
{
    uint64_t t = 0;
    for (unsigned i = 0; i < vm->nr_vcpus; i++)
        t += vm->vcpus[i]->insns;
    return t;
}

uint64_t vmdl__next_deadline(struct vmdl_vcpu *vcpu)
{
    struct vmdl_vm *vm = vcpu->vm;
    uint64_t d = vcpu->kick_at;
    if (vcpu->slice_end < d)
        d = vcpu->slice_end;
    if (vm->irqchip && vm->irqchip->next_event) {
        uint64_t ev = vm->irqchip->next_event(vm->irqchip_opaque, vcpu);
        if (ev < d)
            d = ev;
    }
    for (unsigned i = 0; i < vm->nr_times; i++) {
        if (!vm->times[i].ops->next_event)
            continue;
        uint64_t ev = vm->times[i].ops->next_event(vm->times[i].opaque, vcpu);
        if (ev < d)
            d = ev;
    }
    if (vm->max_insns) {
        uint64_t t = total_insns(vm);
        uint64_t left = t >= vm->max_insns ? 0 : vm->max_insns - t;
        if (vcpu->insns + left < d)
            d = vcpu->insns + left;
    }
    return d;
}

static bool vcpu_runnable(struct vmdl_vcpu *vcpu)
{
    struct vmdl_vm *vm = vcpu->vm;
    if (vcpu->wait_for_sipi)
        return false;
    if (vm->irqchip && vm->irqchip->runnable &&
        !vm->irqchip->runnable(vm->irqchip_opaque, vcpu))
        return false;
    return true;
}

static void advance_time(struct vmdl_vcpu *vcpu)
{
    struct vmdl_vm *vm = vcpu->vm;
    if (vcpu->kick_at <= vcpu->insns)
        vcpu->kick_at = UINT64_MAX; /* reached: the models get control now */
    for (unsigned i = 0; i < vm->nr_times; i++)
        if (vm->times[i].ops->advance)
            vm->times[i].ops->advance(vm->times[i].opaque, vcpu, vcpu->insns);
    if (vm->irqchip && vm->irqchip->advance)
        vm->irqchip->advance(vm->irqchip_opaque, vcpu, vcpu->insns);
}

/* Could an interrupt end this vCPU's HLT/WFI right now? */
static bool can_wake(struct vmdl_vcpu *vcpu)
{
    struct vmdl_vm *vm = vcpu->vm;
    if (vm->arch == VMDL_ARCH_X86_64) {
        if (vcpu->nmi_pending)
            return true;
        if (vm->irqchip && vm->irqchip->take_nmi) {
            /* take_nmi consumes: remember it as pending. */
            if (vm->irqchip->take_nmi(vm->irqchip_opaque, vcpu)) {
                vcpu->nmi_pending = true;
                return true;
            }
        }
        uint64_t rflags = 0;
        vmdl_vcpu_get_reg(vcpu, VMDL_X86_RFLAGS, &rflags);
        if (!(rflags & (1u << 9)))
            return false;
    }
    if (vcpu->queued_irq >= 0 || vcpu->irq_line)
        return true;
    return vm->irqchip && vm->irqchip->pending &&
           vm->irqchip->pending(vm->irqchip_opaque, vcpu) >= 0;
}

static int arch_run(struct vmdl_vcpu *vcpu, struct vmdl_exit *exit, bool *to_caller)
{
    return vcpu->vm->arch == VMDL_ARCH_X86_64
               ? vmdl__x86_run(vcpu, exit, to_caller)
               : vmdl__arm64_run(vcpu, exit, to_caller);
}

static int idle_skip(struct vmdl_vm *vm, struct vmdl_exit *exit)
{
    /* Every runnable vCPU is halted: jump virtual time to the earliest timer
     * event (a tickless idle), or report that nothing can ever wake them. */
    struct vmdl_vcpu *best = NULL;
    uint64_t best_ev = UINT64_MAX;
    struct vmdl_vcpu *first_halted = NULL;
    for (unsigned i = 0; i < vm->nr_vcpus; i++) {
        struct vmdl_vcpu *v = vm->vcpus[i];
        if (!vcpu_runnable(v))
            continue;
        if (!first_halted)
            first_halted = v;
        if (vm->irqchip && vm->irqchip->next_event) {
            uint64_t ev = vm->irqchip->next_event(vm->irqchip_opaque, v);
            if (ev < best_ev) {
                best_ev = ev;
                best = v;
            }
        }
    }
    if (best && best_ev != UINT64_MAX) {
        uint64_t target = best_ev > best->insns ? best_ev : best->insns;
        if (vm->max_insns && total_insns(vm) + (target - best->insns) > vm->max_insns)
            target = best->insns + (vm->max_insns - total_insns(vm));
        best->insns = target;
        advance_time(best);
        return 1;
    }
    memset(exit, 0, sizeof(*exit));
    exit->reason = VMDL_EXIT_HLT;
    if (first_halted) {
        exit->vcpu = first_halted->index;
        vmdl_vcpu_get_reg(first_halted, vm->arch == VMDL_ARCH_X86_64 ? VMDL_X86_RIP
                                                                    : VMDL_ARM64_PC,
                          &exit->pc);
    }
    return 0;
}

int vmdl_vm_run(struct vmdl_vm *vm, struct vmdl_exit *exit)
{
    if (!vm || !exit)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vm_run: NULL argument");
    if (!vm->entry_set)
        return vmdl_fail(VMDL_ESTATE, "vmdl_vm_run: no guest loaded (call "
                         "vmdl_vm_set_entry after loading an image)");
    for (unsigned i = 0; i < vm->nr_vcpus; i++)
        if (vm->vcpus[i]->pending != PENDING_NONE)
            return vmdl_fail(VMDL_ESTATE, "vmdl_vm_run: vCPU %u has an exit "
                             "that was not completed", i);
    if (!vm->limits_armed) {
        vm->run_started = vmdl__now();
        vm->limits_armed = true;
        if (vm->timeout_s > 0)
            watchdog_start(vm);
    }
    for (;;) {
        memset(exit, 0, sizeof(*exit));
        if (vm->timeout_s > 0 && (atomic_load(&vm->timed_out) ||
                                  vmdl__now() - vm->run_started >= vm->timeout_s)) {
            exit->reason = VMDL_EXIT_TIMEOUT;
            return VMDL_OK;
        }
        if (vm->max_insns && total_insns(vm) >= vm->max_insns) {
            exit->reason = VMDL_EXIT_MAX_INSNS;
            return VMDL_OK;
        }
        struct vmdl_vcpu *vcpu = NULL;
        for (unsigned k = 0; k < vm->nr_vcpus; k++) {
            struct vmdl_vcpu *v = vm->vcpus[(vm->next_vcpu + k) % vm->nr_vcpus];
            if (!vcpu_runnable(v))
                continue;
            advance_time(v);
            if (v->halted && !can_wake(v))
                continue;
            vcpu = v;
            break;
        }
        if (!vcpu) {
            int r = idle_skip(vm, exit);
            if (r > 0)
                continue;
            return VMDL_OK;
        }
        if (vm->nr_vcpus > 1 && vcpu->slice_end <= vcpu->insns)
            vcpu->slice_end = vcpu->insns + vm->cfg.quantum;
        else if (vm->nr_vcpus == 1)
            vcpu->slice_end = UINT64_MAX;
        bool to_caller = false;
        int err = arch_run(vcpu, exit, &to_caller);
        if (err)
            return err;
        vcpu->nr_exits++;
        advance_time(vcpu);
        if (vm->nr_vcpus > 1 && (vcpu->insns >= vcpu->slice_end || vcpu->halted ||
                                 !vcpu_runnable(vcpu))) {
            vcpu->slice_end = 0;
            vm->next_vcpu = (vcpu->index + 1) % vm->nr_vcpus;
        }
        if (to_caller) {
            exit->vcpu = vcpu->index;
            return VMDL_OK;
        }
    }
}

int vmdl_vcpu_complete(struct vmdl_vcpu *vcpu, uint64_t value)
{
    if (!vcpu)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vcpu_complete: NULL vcpu");
    if (vcpu->pending == PENDING_NONE)
        return vmdl_fail(VMDL_ESTATE, "vmdl_vcpu_complete: vCPU %u has no "
                         "exit to complete", vcpu->index);
    return vcpu->vm->arch == VMDL_ARCH_X86_64
               ? vmdl__x86_complete(vcpu, value, VMDL_FAULT_NONE)
               : vmdl__arm64_complete(vcpu, value, VMDL_FAULT_NONE);
}

int vmdl_vcpu_complete_fault(struct vmdl_vcpu *vcpu, vmdl_fault fault)
{
    if (!vcpu)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vcpu_complete_fault: NULL vcpu");
    if (vcpu->pending == PENDING_NONE)
        return vmdl_fail(VMDL_ESTATE, "vmdl_vcpu_complete_fault: vCPU %u has "
                         "no exit to complete", vcpu->index);
    bool x86 = vcpu->vm->arch == VMDL_ARCH_X86_64;
    if (fault == VMDL_FAULT_NONE || fault == VMDL_FAULT_UNCLAIMED ||
        (x86 && fault == VMDL_FAULT_UNDEF) || (!x86 && fault != VMDL_FAULT_UNDEF))
        return vmdl_fail(VMDL_EINVAL, "vmdl_vcpu_complete_fault: %s is not a "
                         "fault of this architecture", vmdl_fault_name(fault));
    return x86 ? vmdl__x86_complete(vcpu, 0, fault)
               : vmdl__arm64_complete(vcpu, 0, fault);
}

int vmdl_vcpu_inject_irq(struct vmdl_vcpu *vcpu, unsigned vector)
{
    if (!vcpu)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vcpu_inject_irq: NULL vcpu");
    if (vcpu->vm->arch == VMDL_ARCH_ARM64) {
        vcpu->irq_line = true;
        return VMDL_OK;
    }
    if (vector < 32 || vector > 255)
        return vmdl_fail(VMDL_ERANGE, "vmdl_vcpu_inject_irq: vector %u is not "
                         "an external-interrupt vector (32..255)", vector);
    if (vcpu->queued_irq >= 0)
        return vmdl_fail(VMDL_ESTATE, "vmdl_vcpu_inject_irq: vector %d is "
                         "still waiting for delivery", vcpu->queued_irq);
    vcpu->queued_irq = (int)vector;
    return VMDL_OK;
}

int vmdl_vcpu_inject_nmi(struct vmdl_vcpu *vcpu)
{
    if (!vcpu || vcpu->vm->arch != VMDL_ARCH_X86_64)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vcpu_inject_nmi: not an x86 vCPU");
    vcpu->nmi_pending = true;
    return VMDL_OK;
}

int vmdl_vcpu_get_reg(struct vmdl_vcpu *vcpu, enum vmdl_reg reg, uint64_t *val)
{
    if (!vcpu || !val)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vcpu_get_reg: NULL argument");
    if (vcpu->vm->arch == VMDL_ARCH_X86_64) {
        switch (reg) {
        case VMDL_X86_CR0: *val = vcpu->cr0; return VMDL_OK;
        case VMDL_X86_CR2: *val = vcpu->cr2; return VMDL_OK;
        case VMDL_X86_CR3: *val = vcpu->cr3; return VMDL_OK;
        case VMDL_X86_CR4: *val = vcpu->cr4; return VMDL_OK;
        case VMDL_X86_EFER: *val = vcpu->efer; return VMDL_OK;
        case VMDL_X86_CR8: {
            struct vmdl_vm *vm = vcpu->vm;
            *val = vm->irqchip && vm->irqchip->get_cr8
                       ? vm->irqchip->get_cr8(vm->irqchip_opaque, vcpu)
                       : vcpu->cr8;
            return VMDL_OK;
        }
        default: break;
        }
        int ucr = vmdl__x86_reg(reg);
        if (ucr < 0)
            return vmdl_fail(VMDL_EINVAL, "vmdl_vcpu_get_reg: %d is not an x86 "
                             "register", (int)reg);
        *val = 0;
        return uc_reg_read(vcpu->uc, ucr, val) == UC_ERR_OK
                   ? VMDL_OK
                   : vmdl_fail(VMDL_EBACKEND, "vmdl_vcpu_get_reg: uc_reg_read failed");
    }
    int ucr = vmdl__arm64_reg(reg);
    if (ucr < 0)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vcpu_get_reg: %d is not an arm64 "
                         "register", (int)reg);
    return vmdl__arm64_reg_read(vcpu, ucr, val) == 0
               ? VMDL_OK
               : vmdl_fail(VMDL_EBACKEND, "vmdl_vcpu_get_reg: uc_reg_read failed");
}

int vmdl_vcpu_set_reg(struct vmdl_vcpu *vcpu, enum vmdl_reg reg, uint64_t val)
{
    if (!vcpu)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vcpu_set_reg: NULL vcpu");
    if (vcpu->vm->arch == VMDL_ARCH_X86_64) {
        switch (reg) {
        case VMDL_X86_CR0: vcpu->cr0 = val; return VMDL_OK;
        case VMDL_X86_CR2: vcpu->cr2 = val; return VMDL_OK;
        case VMDL_X86_CR3: vcpu->cr3 = val; return VMDL_OK;
        case VMDL_X86_CR4: vcpu->cr4 = val; return VMDL_OK;
        case VMDL_X86_EFER: vcpu->efer = val; return VMDL_OK;
        case VMDL_X86_CR8: {
            struct vmdl_vm *vm = vcpu->vm;
            if (val > 15)
                return vmdl_fail(VMDL_ERANGE, "vmdl_vcpu_set_reg: CR8 0x%llx "
                                 "has reserved bits", (unsigned long long)val);
            if (vm->irqchip && vm->irqchip->set_cr8)
                vm->irqchip->set_cr8(vm->irqchip_opaque, vcpu, val);
            else
                vcpu->cr8 = val;
            return VMDL_OK;
        }
        case VMDL_X86_RFLAGS:
            /* The guest runs at IOPL 3 underneath (see x86_vcpu.c). */
            val = (val & ~0x3000ull) | 0x3002ull;
            break;
        default: break;
        }
        int ucr = vmdl__x86_reg(reg);
        if (ucr < 0)
            return vmdl_fail(VMDL_EINVAL, "vmdl_vcpu_set_reg: %d is not an x86 "
                             "register", (int)reg);
        return uc_reg_write(vcpu->uc, ucr, &val) == UC_ERR_OK
                   ? VMDL_OK
                   : vmdl_fail(VMDL_EBACKEND, "vmdl_vcpu_set_reg: uc_reg_write failed");
    }
    int ucr = vmdl__arm64_reg(reg);
    if (ucr < 0)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vcpu_set_reg: %d is not an arm64 "
                         "register", (int)reg);
    return vmdl__arm64_reg_write(vcpu, ucr, val) == 0
               ? VMDL_OK
               : vmdl_fail(VMDL_EBACKEND, "vmdl_vcpu_set_reg: uc_reg_write failed");
}

uint64_t vmdl_vcpu_insns(struct vmdl_vcpu *vcpu) { return vcpu->insns; }
uint64_t vmdl_vcpu_branches(struct vmdl_vcpu *vcpu) { return vcpu->branches; }

void vmdl_vcpu_need_insn_count(struct vmdl_vcpu *vcpu, bool on)
{
    if (on)
        vcpu->count_users++;
    else if (vcpu->count_users > 0)
        vcpu->count_users--;
}

void vmdl_vcpu_kick_after(struct vmdl_vcpu *vcpu, uint64_t insns)
{
    uint64_t at = vcpu->insns + insns;
    if (at < vcpu->insns)
        at = UINT64_MAX;
    if (vcpu->kick_at <= vcpu->insns || at < vcpu->kick_at)
        vcpu->kick_at = at;
}

bool vmdl_vcpu_in_long_mode(struct vmdl_vcpu *vcpu)
{
    return vcpu->vm->arch == VMDL_ARCH_X86_64 && (vcpu->efer & (1u << 10));
}

int vmdl_vcpu_raise_fault(struct vmdl_vcpu *vcpu, vmdl_fault fault)
{
    if (!vcpu)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vcpu_raise_fault: NULL vcpu");
    uint64_t pc = 0;
    if (vcpu->vm->arch == VMDL_ARCH_ARM64) {
        if (fault != VMDL_FAULT_UNDEF)
            return vmdl_fail(VMDL_EINVAL, "vmdl_vcpu_raise_fault: arm64 takes UNDEF only");
        vmdl_vcpu_get_reg(vcpu, VMDL_ARM64_PC, &pc);
        return vmdl__arm64_deliver_undef(vcpu, pc);
    }
    if (fault != VMDL_FAULT_GP && fault != VMDL_FAULT_UD && fault != VMDL_FAULT_PF)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vcpu_raise_fault: not an x86 fault");
    vmdl_vcpu_get_reg(vcpu, VMDL_X86_RIP, &pc);
    return vmdl__x86_deliver(vcpu, (unsigned)fault, fault != VMDL_FAULT_UD, 0, pc);
}

void vmdl_vcpu_raise_pmi(struct vmdl_vcpu *vcpu)
{
    struct vmdl_vm *vm = vcpu->vm;
    if (vm->irqchip && vm->irqchip->pmi)
        vm->irqchip->pmi(vm->irqchip_opaque, vcpu);
    else if (vm->arch == VMDL_ARCH_X86_64)
        vcpu->nmi_pending = true;
    vmdl_vcpu_request_exit(vcpu);
}

void vmdl_vcpu_request_exit(struct vmdl_vcpu *vcpu)
{
    /*
     * Not uc_emu_stop(): called from an MMIO callback it makes Unicorn
     * 2.0.1 re-run the block from its start.  The block hook, when installed
     * (virtual time in use), stops cleanly at the next block boundary; else
     * the interrupt is taken at the next exit.
     */
    vcpu->kick_deadline = 0;
}
