/* SPDX-License-Identifier: MIT */
/*
 * The run loop: deterministic round-robin scheduling of the vCPUs, limits,
 * idle skipping to the next timer event, and the exit/complete protocol.
 */
#include <string.h>

#include "arch_ops.h"
#include "virtmodel/error.h"
#include "virtmodel/trace.h"

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
        [VMDL_EXIT_DEBUG] = "debug",
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

static uint64_t total_insns(struct vmdl_vm *vm)
{
    uint64_t t = 0;
    for (unsigned i = 0; i < vm->nr_vcpus; i++)
        t += vmdl__insns(vm->vcpus[i]);
    return t;
}

/* The earliest event of the interrupt controller or a time source (the
 * arm64 generic timer): a deadline of a running vCPU, or what wakes a
 * halted one. */
static uint64_t next_wake_event(struct vmdl_vm *vm, struct vmdl_vcpu *v)
{
    if (vm->suspended)
        return vm->wake_at;        /* only the wake event: the CPUs are off */
    uint64_t best = UINT64_MAX;
    if (vm->irqchip && vm->irqchip->next_event)
        best = vm->irqchip->next_event(vm->irqchip_opaque, v);
    for (unsigned i = 0; i < vm->nr_times; i++) {
        if (!vm->times[i].ops->next_event)
            continue;
        uint64_t ev = vm->times[i].ops->next_event(vm->times[i].opaque, v);
        if (ev < best)
            best = ev;
    }
    return best;
}

static bool vcpu_runnable(struct vmdl_vcpu *vcpu);

/* May a runnable vCPU run now: not halted, or something wakes it, and the
 * VM is not asleep. */
static bool awake(struct vmdl_vcpu *u)
{
    return !u->vm->suspended && (!u->halted || u->vm->arch_ops->can_wake(u));
}

/* Would the loop pick another vCPU if this one's slice ended?  (A halted
 * one only if something could wake it now.) */
static bool other_can_run(struct vmdl_vcpu *vcpu)
{
    struct vmdl_vm *vm = vcpu->vm;
    for (unsigned i = 0; i < vm->nr_vcpus; i++) {
        struct vmdl_vcpu *u = vm->vcpus[i];
        if (u != vcpu && vcpu_runnable(u) && awake(u))
            return true;
    }
    return false;
}

uint64_t vmdl__next_deadline(struct vmdl_vcpu *vcpu)
{
    struct vmdl_vm *vm = vcpu->vm;
    /* Kicks and timer events are virtual times, the quantum and the budget
     * retired instructions: the block hook counts the latter, so the former
     * are converted at the current stall (vtime.c keeps that right as the
     * stall grows). */
    uint64_t ev = next_wake_event(vm, vcpu);
    vcpu->vt_deadline = ev < vcpu->kick_at ? ev : vcpu->kick_at;
    vcpu->event_deadline = vmdl__vt_to_insns(vcpu, ev);
    uint64_t d = vmdl__vt_to_insns(vcpu, vcpu->vt_deadline);
    /* The slice ends only for another vCPU's sake: one running alone (the
     * others halted, or waiting for SIPI) is not stopped every quantum.
     * Whatever makes another one runnable (an IPI, an INIT/SIPI) is a
     * trapped access after which the deadline is recomputed. */
    if (vcpu->slice_end < d && other_can_run(vcpu))
        d = vcpu->slice_end;
    if (vm->max_insns) {
        uint64_t t = total_insns(vm);
        uint64_t left = t >= vm->max_insns ? 0 : vm->max_insns - t;
        if (vmdl__insns(vcpu) + left < d)
            d = vmdl__insns(vcpu) + left;
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
    uint64_t now = vmdl__vtime(vcpu);
    if (vcpu->kick_at <= now)
        vcpu->kick_at = UINT64_MAX; /* reached: the models get control now */
    if (vm->suspended && now >= vm->wake_at) {
        vm->suspended = false;
        vm->wake(vm, now);
    }
    for (unsigned i = 0; i < vm->nr_times; i++)
        if (vm->times[i].ops->advance)
            vm->times[i].ops->advance(vm->times[i].opaque, vcpu, now);
    if (vm->irqchip && vm->irqchip->advance)
        vm->irqchip->advance(vm->irqchip_opaque, vcpu, now);
}

/* Is an external interrupt waiting (queued by the caller, the IRQ line,
 * or the interrupt controller)? */
bool vmdl__irq_asserted(struct vmdl_vcpu *vcpu)
{
    struct vmdl_vm *vm = vcpu->vm;
    if (vcpu->queued_irq >= 0 || vcpu->irq_line)
        return true;
    return vm->irqchip && vm->irqchip->pending &&
           vm->irqchip->pending(vm->irqchip_opaque, vcpu) >= 0;
}

/* The vCPU enters HLT / WFI (the GICv5 syncs priorities here). */
void vmdl__halt(struct vmdl_vcpu *vcpu)
{
    struct vmdl_vm *vm = vcpu->vm;
    vcpu->halted = true;
    if (vm->irqchip && vm->irqchip->halt)
        vm->irqchip->halt(vm->irqchip_opaque, vcpu);
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
        uint64_t ev = next_wake_event(vm, v);
        if (ev < best_ev) {
            best_ev = ev;
            best = v;
        }
    }
    if (best && best_ev != UINT64_MAX) {
        /* The skip is in virtual time; the halted time counts as retired
         * instructions, as it always has (the budget and the PMU see it). */
        uint64_t now = vmdl__vtime(best);
        uint64_t skip = best_ev > now ? best_ev - now : 0;
        if (vm->max_insns && total_insns(vm) + skip > vm->max_insns)
            skip = vm->max_insns - total_insns(vm);
        vmdl__insns_add(best, skip);
        advance_time(best);
        return 1;
    }
    memset(exit, 0, sizeof(*exit));
    exit->reason = VMDL_EXIT_HLT;
    if (first_halted) {
        exit->vcpu = first_halted->index;
        vmdl_vcpu_get_reg(first_halted, vm->arch_ops->pc_reg, &exit->pc);
    }
    return 0;
}

/*
 * With several vCPUs, after an exit of this one: the scheduling step of the
 * loop below (the end of its slice, then the scan from next_vcpu), done
 * from an engine hook.  True when the loop would pick this vCPU again; its
 * slice is then renewed as the loop renews it.  False when another vCPU
 * runs next; the state is then what the loop leaves after that exit, and
 * the loop, redoing this step, reaches the same answer.  A vCPU before this
 * one that may run but is halted has its time advanced and is asked whether
 * it can wake, as the loop asks it: one that cannot is passed over.  (Every
 * advance hook is idempotent at an unchanged count, so the loop's second
 * look changes nothing.)  Called after this vCPU's own time was advanced,
 * as the loop does.
 */
static bool picked_again(struct vmdl_vcpu *vcpu)
{
    struct vmdl_vm *vm = vcpu->vm;
    if (vmdl__insns(vcpu) >= vcpu->slice_end) {
        vcpu->slice_end = 0;
        vm->next_vcpu = (vcpu->index + 1) % vm->nr_vcpus;
    }
    for (unsigned k = 0; k < vm->nr_vcpus; k++) {
        struct vmdl_vcpu *u = vm->vcpus[(vm->next_vcpu + k) % vm->nr_vcpus];
        if (u == vcpu)
            break;
        if (!vcpu_runnable(u))
            continue;
        advance_time(u);
        if (!vcpu_runnable(u) || !awake(u))
            continue;
        return false;
    }
    if (vcpu->slice_end <= vmdl__insns(vcpu))
        vcpu->slice_end = vmdl__insns(vcpu) + vm->cfg.quantum;
    return true;
}

/*
 * A trapped instruction was completed inside an engine hook, without
 * leaving the engine.  Do here what the loop below does between that exit
 * and the next entry of the same vCPU (world switch out, count the exit,
 * advance time, progress, world switch in), so that models see the same
 * sequence either way.  Returns false, having done nothing, when the
 * loop would do more than re-enter this vCPU (a limit, the timeout, a
 * halted or blocked vCPU, a debugger attached), and false after that work
 * when another vCPU runs next (picked_again): the hook then stops the
 * engine and the loop takes over.  The
 * architecture still delivers what became pending and re-checks the
 * deadline (vmdl__hook_deadline_ok).
 */
bool vmdl__hook_reenter(struct vmdl_vcpu *vcpu)
{
    struct vmdl_vm *vm = vcpu->vm;
    if (vm->dbg || vcpu->halted || vm->suspended || !vcpu_runnable(vcpu) ||
        (vm->max_insns && total_insns(vm) >= vm->max_insns))
        return false;
    if (vm->timeout_s > 0 && (atomic_load(&vm->timed_out) ||
                              vmdl__now() - vm->run_started >= vm->timeout_s))
        return false;
    vmdl__world_switch(vcpu, false);
    vcpu->nr_exits++;
    advance_time(vcpu);
    /* The loop advances time again when it picks the vCPU.  At the same
     * count, with nothing run in between, that second call finds nothing
     * new (each advance hook is idempotent at an unchanged count: the
     * APIC timer fired or re-armed past it, the VMX-preemption timer's
     * exit was taken, the generic timer's lines are in sync; PV EOI is
     * taken back and offered again, leaving the same flag): it is made
     * only when the progress callback ran in between, which may act on the
     * VM.  Half of the cost of the models' per-exit work on this path. */
    if (vm->progress_fn) {
        vmdl__progress_poll(vm);
        advance_time(vcpu);
    }
    bool again = vcpu_runnable(vcpu) && (vm->nr_vcpus == 1 || picked_again(vcpu));
    vmdl__world_switch(vcpu, true);
    if (!again)
        vcpu->nr_exits--;   /* the loop counts this exit when the engine returns */
    return again;
}

/*
 * An instruction that KVM runs without a VM exit and that touches nothing a
 * model owns (RDTSC: the TSC is virtual time) was completed inside an
 * engine hook.  May the engine go on without vmdl__hook_reenter's
 * between-exits work?  Yes when that work would find nothing to do, so
 * that the guest sees the same either way (and the same as with every
 * intercept leaving the engine): no deadline reached (the vCPU's timer
 * events, kicks, the instruction budget, and the slice end whenever another
 * vCPU could run are all in kick_deadline: advancing time would fire
 * nothing), the slice not over (the loop would renew it or switch), no
 * world-switch hooks or debugger to call, the VM not asleep (S3), no
 * timeout, no progress report due.  Whether another vCPU can run changes only at an exit of this one or
 * an advance of time, neither of which happened since kick_deadline was
 * computed.  (Without the block hook nothing was counted: the loop
 * decides.)  The caller counts the exit, as the loop would.
 */
bool vmdl__hook_quiet(struct vmdl_vcpu *vcpu)
{
    struct vmdl_vm *vm = vcpu->vm;
    if (!vcpu->block_hook_on || vmdl__insns(vcpu) >= vcpu->kick_deadline ||
        vmdl__insns(vcpu) >= vcpu->slice_end || vm->suspended || vm->nr_switches || vm->dbg ||
        atomic_load(&vm->timed_out) || (vm->progress_fn && vmdl__progress_due(vm)))
        return false;
    /* An interrupt controller with per-exit work of its own (PV EOI) wants
     * the exit, as for vmdl__hook_no_exit (its one-vCPU counterpart for
     * VMREAD/VMWRITE). */
    return !vm->irqchip || (vm->irqchip->exit_quiet &&
                            vm->irqchip->exit_quiet(vm->irqchip_opaque, vcpu));
}

/*
 * After vmdl__hook_reenter: may the engine run on under the block hook it
 * has?  The deadline is recomputed as an entry would; false when the hook
 * would have to be added or removed, when the new deadline has already
 * passed, or when a device asked for an exit (vmdl_vcpu_request_exit).
 */
bool vmdl__hook_deadline_ok(struct vmdl_vcpu *vcpu)
{
    if (vcpu->kick_deadline == 0)
        return false;
    uint64_t d = vmdl__next_deadline(vcpu);
    if (vmdl__count_needed(vcpu, d) != vcpu->block_hook_on || d <= vmdl__insns(vcpu))
        return false;
    if (d != vcpu->kick_deadline)
        vmdl__set_kick(vcpu, d);
    return true;
}

/*
 * An instruction KVM runs without a VM exit (VMREAD/VMWRITE of L1, through
 * the shadow VMCS) was completed inside an engine hook by a handler that
 * changed nothing the between-exits work looks at (vcpu->insn_no_exit).
 * True when that work (vmdl__hook_reenter, the pending-interrupt check, the
 * new deadline) would find nothing to do, so the engine may simply go on:
 * one vCPU (no scheduling), no debugger, progress callback or world-switch
 * hook, no interrupt window or shadow (the block hook's to watch), the count
 * short of every deadline (each time source's and the controller's next
 * event, the budget; 0 after a device asked for an exit, so an interrupt
 * that became deliverable since the last check is taken there), and an
 * interrupt controller without per-exit work of its own.  Nothing pending
 * was deliverable at the last check (the entry or the last completion);
 * what makes one deliverable since goes through one of those (a device
 * write, a timer event, a trapped access that takes the full path).  The
 * exit is still counted.  Measured: about 620 host instructions per VMREAD
 * (docs/performance.md, sixth round).
 */
bool vmdl__hook_no_exit(struct vmdl_vcpu *vcpu)
{
    struct vmdl_vm *vm = vcpu->vm;
    if (vm->nr_vcpus != 1 || vm->dbg || vm->progress_fn || vm->nr_switches ||
        vcpu->irq_window || vcpu->shadow_at || vmdl__insns(vcpu) >= vcpu->kick_deadline)
        return false;
    if (vm->irqchip && (!vm->irqchip->exit_quiet ||
                        !vm->irqchip->exit_quiet(vm->irqchip_opaque, vcpu)))
        return false;
    vcpu->nr_exits++;
    return true;
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
            vmdl__watchdog_start(vm);
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
        if (vm->dbg) {
            bool stop;
            vcpu = vmdl__debug_before(vm, exit, &stop);
            if (stop)
                return VMDL_OK;
        }
        for (unsigned k = 0; !vcpu && k < vm->nr_vcpus; k++) {
            struct vmdl_vcpu *v = vm->vcpus[(vm->next_vcpu + k) % vm->nr_vcpus];
            if (!vcpu_runnable(v))
                continue;
            /* (Time may stop it: a latched INIT taken after VMXOFF.) */
            advance_time(v);
            if (!vcpu_runnable(v) || !awake(v))
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
        if (vm->nr_vcpus > 1 && vcpu->slice_end <= vmdl__insns(vcpu))
            vcpu->slice_end = vmdl__insns(vcpu) + vm->cfg.quantum;
        else if (vm->nr_vcpus == 1)
            vcpu->slice_end = UINT64_MAX;
        bool to_caller = false;
        vcpu->nr_entries++;
        vmdl__world_switch(vcpu, true);
        int err = vm->arch_ops->run(vcpu, exit, &to_caller);
        vmdl__world_switch(vcpu, false);
        if (err)
            return err;
        vcpu->nr_exits++;
        advance_time(vcpu);
        if (vm->progress_fn)
            vmdl__progress_poll(vm);
        if (vm->nr_vcpus > 1 && (vmdl__insns(vcpu) >= vcpu->slice_end || vcpu->halted ||
                                 !vcpu_runnable(vcpu))) {
            vcpu->slice_end = 0;
            vm->next_vcpu = (vcpu->index + 1) % vm->nr_vcpus;
        }
        if (vm->dbg && vmdl__debug_after(vcpu, exit, to_caller)) {
            if (to_caller)
                exit->vcpu = vcpu->index;
            return VMDL_OK;
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
    return vcpu->vm->arch_ops->complete(vcpu, value, VMDL_FAULT_NONE);
}

int vmdl_vcpu_complete_fault(struct vmdl_vcpu *vcpu, vmdl_fault fault)
{
    if (!vcpu)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vcpu_complete_fault: NULL vcpu");
    if (vcpu->pending == PENDING_NONE)
        return vmdl_fail(VMDL_ESTATE, "vmdl_vcpu_complete_fault: vCPU %u has "
                         "no exit to complete", vcpu->index);
    const struct vmdl_arch_ops *ops = vcpu->vm->arch_ops;
    if (!ops->fault_valid(fault))
        return vmdl_fail(VMDL_EINVAL, "vmdl_vcpu_complete_fault: %s is not a "
                         "fault of this architecture", vmdl_fault_name(fault));
    return ops->complete(vcpu, 0, fault);
}

int vmdl_vcpu_inject_irq(struct vmdl_vcpu *vcpu, unsigned vector)
{
    if (!vcpu)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vcpu_inject_irq: NULL vcpu");
    return vcpu->vm->arch_ops->inject_irq(vcpu, vector);
}

int vmdl_vcpu_inject_nmi(struct vmdl_vcpu *vcpu)
{
    if (!vcpu || !vcpu->vm->arch_ops->inject_nmi)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vcpu_inject_nmi: not an x86 vCPU");
    return vcpu->vm->arch_ops->inject_nmi(vcpu);
}

int vmdl_vcpu_get_reg(struct vmdl_vcpu *vcpu, enum vmdl_reg reg, uint64_t *val)
{
    if (!vcpu || !val)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vcpu_get_reg: NULL argument");
    return vcpu->vm->arch_ops->get_reg(vcpu, reg, val);
}

int vmdl_vcpu_set_reg(struct vmdl_vcpu *vcpu, enum vmdl_reg reg, uint64_t val)
{
    if (!vcpu)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vcpu_set_reg: NULL vcpu");
    return vcpu->vm->arch_ops->set_reg(vcpu, reg, val);
}

uint64_t vmdl_vcpu_insns(struct vmdl_vcpu *vcpu) { return vmdl__insns(vcpu); }
uint64_t vmdl_vcpu_branches(struct vmdl_vcpu *vcpu) { return vmdl__branches(vcpu); }

int vmdl_vcpu_device_ppi(struct vmdl_vcpu *vcpu, unsigned ppi, bool level)
{
    struct vmdl_vm *vm = vcpu->vm;
    if (!vm->irqchip || !vm->irqchip->device_ppi)
        return VMDL_OK;
    return vm->irqchip->device_ppi(vm->irqchip_opaque, vcpu, ppi, level);
}

void vmdl_vcpu_need_insn_count(struct vmdl_vcpu *vcpu, bool on)
{
    if (on)
        vcpu->count_users++;
    else if (vcpu->count_users > 0)
        vcpu->count_users--;
}

void vmdl_vcpu_kick_after(struct vmdl_vcpu *vcpu, uint64_t insns)
{
    /* In virtual time: never later than `insns` retired instructions. */
    uint64_t now = vmdl__vtime(vcpu);
    uint64_t at = now + insns;
    if (at < now)
        at = UINT64_MAX;
    if (vcpu->kick_at <= now || at < vcpu->kick_at)
        vcpu->kick_at = at;
}

int vmdl_vcpu_raise_fault(struct vmdl_vcpu *vcpu, vmdl_fault fault)
{
    if (!vcpu)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vcpu_raise_fault: NULL vcpu");
    const struct vmdl_arch_ops *ops = vcpu->vm->arch_ops;
    if (!ops->fault_valid(fault))
        return vmdl_fail(VMDL_EINVAL, "vmdl_vcpu_raise_fault: %s is not a fault "
                         "of this architecture", vmdl_fault_name(fault));
    return ops->raise_fault(vcpu, fault);
}

/* Without an interrupt controller that takes it, a PMI is an NMI (x86);
 * an architecture without NMIs drops it. */
void vmdl_vcpu_raise_pmi(struct vmdl_vcpu *vcpu)
{
    struct vmdl_vm *vm = vcpu->vm;
    if (vm->irqchip && vm->irqchip->pmi)
        vm->irqchip->pmi(vm->irqchip_opaque, vcpu);
    else if (vm->arch_ops->inject_nmi)
        vm->arch_ops->inject_nmi(vcpu);
    vmdl_vcpu_request_exit(vcpu);
}

void vmdl_vcpu_insn_no_exit(struct vmdl_vcpu *vcpu)
{
    if (vcpu)
        vcpu->insn_no_exit = true;
}

void vmdl_vcpu_request_exit(struct vmdl_vcpu *vcpu)
{
    /*
     * Not uc_emu_stop(): called from an MMIO callback it makes Unicorn
     * 2.0.1 re-run the block from its start.  The block hook, when installed
     * (virtual time in use), stops cleanly at the next block boundary; else
     * the interrupt is taken at the next exit.
     */
    vmdl__set_kick(vcpu, 0);
}
