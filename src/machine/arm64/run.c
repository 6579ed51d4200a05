/* SPDX-License-Identifier: MIT */
/* One entry of an arm64 vCPU into the engine, MMIO exits, completion. */
#include <string.h>

#include "arm64.h"
#include "virtmodel/error.h"

int vmdl__arm64_complete(struct vmdl_vcpu *v, uint64_t value, vmdl_fault fault)
{
    enum pending_kind p = v->pending;
    uint64_t pc = vmdl__arm64_rd(v, UC_ARM64_REG_PC);
    v->pending = PENDING_NONE;
    if (fault == VMDL_FAULT_SYSREG_TRAP && p == PENDING_SYSREG)
        return vmdl__arm64_deliver_sync(v, pc, vmdl__arm64_sysreg_esr(&v->exit.u.sysreg));
    if (fault != VMDL_FAULT_NONE)
        return vmdl__arm64_deliver_undef(v, pc);
    switch (p) {
    case PENDING_SYSREG:
        if (!v->exit.u.sysreg.is_write)
            vmdl__arm64_write_x(v, v->exit.u.sysreg.rt, value);
        break;
    case PENDING_HYPERCALL:
        vmdl__arm64_write_x(v, 0, value);
        break;
    case PENDING_MMIO_READ:
        vmdl__arm64_write_x(v, v->pending_reg, value);
        break;
    case PENDING_MMIO_WRITE:
        break;
    default:
        return vmdl_fail(VMDL_ESTATE, "vmdl_vcpu_complete: nothing to complete");
    }
    vmdl__arm64_wr(v, UC_ARM64_REG_PC, pc + 4);
    vmdl__insns_add(v, 1);
    return VMDL_OK;
}

/* ---------------- run ---------------- */

static void simple_exit(struct vmdl_exit *exit, enum vmdl_exit_reason r, uint64_t pc)
{
    memset(exit, 0, sizeof(*exit));
    exit->reason = r;
    exit->pc = pc;
}

/*
 * Effective address of a single-register load/store (unsigned 12-bit or
 * unscaled 9-bit immediate forms), or false for anything else.  Only these
 * can be completed as a device access.
 */
static bool ldst_address(struct vmdl_vcpu *v, uint32_t w, uint64_t *ea, bool *is_load)
{
    unsigned rn = (w >> 5) & 0x1F;
    uint64_t base = rn == 31 ? vmdl__arm64_rd(v, UC_ARM64_REG_SP) : vmdl__arm64_read_x(v, rn);
    unsigned size = w >> 30;
    unsigned opc = (w >> 22) & 3;
    if ((w & 0x3F000000u) == 0x39000000u) {
        *ea = base + ((uint64_t)((w >> 10) & 0xFFF) << size);
    } else if ((w & 0x3F200C00u) == 0x38000000u) {
        int64_t imm9 = (int64_t)((w >> 12) & 0x1FF);
        if (imm9 & 0x100)
            imm9 -= 0x200;
        *ea = base + (uint64_t)imm9;
    } else {
        return false;
    }
    *is_load = opc != 0;
    return true;
}

/*
 * Unicorn leaves PC at the start of the translation block in an unmapped-
 * memory hook (the registers are current): decode forward to the load or
 * store whose address is the one that faulted.
 */
/* Physical address size of the modelled CPU (Cortex-A72: 44 bits). */
#define ARM64_PA_BITS 44
#define ESR_EC_IABT_LOW 0x20u
#define ESR_EC_IABT_CUR 0x21u
#define ESR_EC_DABT_CUR 0x25u
#define ESR_FSC_EXTABT 0x10u
#define EXCP_PREFETCH_ABORT 3
#define EXCP_DATA_ABORT 4

/*
 * An abort from Unicorn's MMU (translation, permission, access flag,
 * alignment, address size): QEMU computed the syndrome and address but did
 * not enter the exception (abort.c).  ELR_EL1 is the faulting instruction,
 * where Unicorn left the PC.
 */
static bool deliver_abort(struct vmdl_vcpu *v, uint64_t pc)
{
    uint32_t esr;
    uint64_t far;
    unsigned target;
    if (vmdl__arm64_abort_info(v, &esr, &far, &target) || target != 1)
        return false;
    vmdl__arm64_wr(v, UC_ARM64_REG_FAR_EL1, far);
    vmdl__arm64_take_exception(v, pc, 0x000, true, esr);
    vmdl__trace_exit(v, "abort", pc, (esr >> 26) == ESR_EC_IABT_CUR ||
                     (esr >> 26) == ESR_EC_IABT_LOW ? "prefetch abort" : "data abort");
    return true;
}

/* An instruction fetch from a physical address with no RAM and no device:
 * KVM injects a synchronous external abort on instruction fetch
 * (kvm_inject_pabt: IFSC 0x10, FAR = the virtual address, IL set). */
static void fetch_external_abort(struct vmdl_vcpu *v, uint64_t pc)
{
    uint64_t pstate = vmdl__arm64_rd(v, UC_ARM64_REG_PSTATE);
    unsigned ec = vmdl__arm64_pstate_el(pstate) == 0 ? ESR_EC_IABT_LOW : ESR_EC_IABT_CUR;
    vmdl__arm64_wr(v, UC_ARM64_REG_FAR_EL1, pc);
    vmdl__arm64_take_exception(v, pc, 0x000, true, (ec << 26) | ESR_IL | ESR_FSC_EXTABT);
    vmdl__trace_exit(v, "abort", pc, "external abort on instruction fetch");
}

static int mmio_to_caller(struct vmdl_vcpu *v, struct vmdl_exit *exit, uint64_t pc)
{
    uint64_t fault_addr = v->exit.u.mmio.addr;
    bool fetch = v->stop_vector == UC_MEM_FETCH_UNMAPPED;
    if (fetch)
        fault_addr = pc;
    if (fault_addr >> ARM64_PA_BITS) {
        /* With the MMU off, an address beyond the PA size is an Address
         * size fault (DFSC/IFSC 0, level 0), reported in ESR_EL1 and FAR_EL1. */
        uint64_t at = pc;
        if (!fetch) {
            for (unsigned n = 0; n < 64; n++, at += 4) {
                uint64_t ea;
                bool is_load;
                uint32_t w = vmdl__arm64_insn_at(v, at);
                if (ldst_address(v, w, &ea, &is_load) && fault_addr - ea < (1u << (w >> 30)))
                    break;
            }
        }
        uint32_t esr = ((fetch ? ESR_EC_IABT_CUR : ESR_EC_DABT_CUR) << 26) | ESR_IL |
                       (v->exit.u.mmio.is_write ? (1u << 6) : 0);
        uc_reg_write(v->uc, UC_ARM64_REG_FAR_EL1, &fault_addr);
        vmdl__arm64_take_exception(v, at, 0x000, true, esr);
        vmdl__trace_exit(v, "abort", at, "address size fault");
        return 2;
    }
    if (v->stop_vector == UC_MEM_FETCH_UNMAPPED) {
        if (pc != vmdl__arm64_sync_vector(v)) {
            fetch_external_abort(v, pc);
            return 2;
        }
        /* The abort's own vector cannot be fetched: on hardware an endless
         * chain of aborts that makes no progress; end the run instead. */
        simple_exit(exit, VMDL_EXIT_FAULT_LOOP, pc);
        snprintf(exit->u.internal.message, sizeof(exit->u.internal.message),
                 "instruction fetch from 0x%llx, which is not RAM, at the "
                 "exception vector itself (endless prefetch aborts)",
                 (unsigned long long)v->exit.u.mmio.addr);
        return 0;
    }
    uint64_t addr = v->exit.u.mmio.addr;
    for (unsigned n = 0; n < 64; n++, pc += 4) {
        uint32_t w = vmdl__arm64_insn_at(v, pc);
        uint64_t ea;
        bool is_load;
        if (!ldst_address(v, w, &ea, &is_load) || addr < ea ||
            addr >= ea + (1u << (w >> 30)))
            continue;
        vmdl__arm64_wr(v, UC_ARM64_REG_PC, pc);
        v->exit.reason = VMDL_EXIT_MMIO;
        v->exit.pc = pc;
        v->pending = v->exit.u.mmio.is_write ? PENDING_MMIO_WRITE : PENDING_MMIO_READ;
        v->pending_reg = w & 0x1F;
        *exit = v->exit;
        vmdl__trace_exit(v, "mmio", pc, "to caller");
        return 1;
    }
    simple_exit(exit, VMDL_EXIT_INTERNAL_ERROR, pc);
    snprintf(exit->u.internal.message, sizeof(exit->u.internal.message),
             "access to 0x%llx (no RAM, no device) by an instruction that "
             "cannot be completed as a device access",
             (unsigned long long)addr);
    return 0;
}

static int on_hypercall(struct vmdl_vcpu *v, struct vmdl_exit *exit, bool *to_caller)
{
    uint64_t at = v->exit.pc;
    switch (vmdl__arm64_hypercall(v, at)) {
    case HC_DONE:
        return VMDL_OK;
    case HC_ERROR:
        return vmdl_fail(VMDL_ESTATE, "PSCI: %s", vmdl_last_error());
    case HC_TO_CALLER:
        vmdl__trace_exit(v, "hypercall", at, "to caller");
        *exit = v->exit;
        *to_caller = true;
        return VMDL_OK;
    case HC_SHUTDOWN:
        vmdl__trace_exit(v, "psci", at, "SYSTEM_OFF");
        simple_exit(exit, VMDL_EXIT_SHUTDOWN, at);
        exit->u.shutdown.status = v->stop_status;
        *to_caller = true;
        return VMDL_OK;
    case HC_RESET:
        vmdl__trace_exit(v, "psci", at, "SYSTEM_RESET");
        if (vmdl_vm_reset(v->vm))
            return vmdl_fail(VMDL_ESTATE, "%s", vmdl_last_error());
        simple_exit(exit, VMDL_EXIT_RESET, at);
        *to_caller = true;
        return VMDL_OK;
    }
    return VMDL_OK;
}

/* The engine ran out of work: an error, or WFI (docs/unicorn.md fact 8: WFI ends
 * the engine with PC past it). */
static void on_stopped(struct vmdl_vcpu *v, uc_err e, uint64_t pc,
                       struct vmdl_exit *exit, bool *to_caller)
{
    if (e != UC_ERR_OK) {
        simple_exit(exit, VMDL_EXIT_INTERNAL_ERROR, pc);
        snprintf(exit->u.internal.message, sizeof(exit->u.internal.message),
                 "Unicorn stopped: %s", uc_strerror(e));
        *to_caller = true;
    } else if (v->stop == STOP_NONE && vmdl__arm64_insn_at(v, pc - 4) == INSN_WFI) {
        vmdl__trace_exit(v, "wfi", pc - 4, "waiting for interrupt");
        vmdl__halt(v);
    }
}

static int on_exception(struct vmdl_vcpu *v, uint64_t pc, struct vmdl_exit *exit,
                        bool *to_caller)
{
    if (v->stop_vector == EXCP_SWI) {
        /* SVC: QEMU has PC past it already. */
        uint32_t imm = (vmdl__arm64_insn_at(v, pc - 4) >> 5) & 0xFFFF;
        vmdl__arm64_take_exception(v, pc, 0x000, true, (ESR_EC_SVC64 << 26) | ESR_IL | imm);
        return VMDL_OK;
    }
    if ((v->stop_vector == EXCP_PREFETCH_ABORT || v->stop_vector == EXCP_DATA_ABORT) &&
        deliver_abort(v, pc))
        return VMDL_OK;
    simple_exit(exit, VMDL_EXIT_INTERNAL_ERROR, pc);
    snprintf(exit->u.internal.message, sizeof(exit->u.internal.message),
             "unexpected exception %u from the engine", v->stop_vector);
    *to_caller = true;
    return VMDL_OK;
}

/* ---------------- exact event stops ---------------- */

/* Right before the instruction at exact_pc, once the count has reached the
 * event: leave the engine there (Unicorn syncs the PC before a code hook and
 * leaves the block after it). */
static void exact_cb(uc_engine *uc, uint64_t addr, uint32_t size, void *user)
{
    (void)uc;
    (void)size;
    struct vmdl_vcpu *v = user;
    if (addr != v->exact_pc || v->stop != STOP_NONE ||
        vmdl__count_exact(v, addr) < v->exact_at)
        return;
    vmdl__arm64_set_stop(v, STOP_KICK);
}

/*
 * The block hook found the next timer event inside a block (insn_count.c,
 * exact_stop_needed) and stopped before it: for this entry, a code hook
 * bounded to that one instruction, with its block retranslated so that it
 * calls the hook.  A code hook exists from now on, so block-start stops
 * must write the PC themselves (code_hooks; docs/unicorn.md).
 */
static void exact_place(struct vmdl_vcpu *v)
{
    struct arm64_vcpu *a64 = (struct arm64_vcpu *)v;
    v->exact_placed = false;
    if (!v->exact_pc)
        return;
    if (!v->block_hook_on || v->exact_at != v->kick_deadline) {
        v->exact_pc = 0;      /* the deadline moved: the block hook asks again */
        return;
    }
    if (uc_hook_add(v->uc, &a64->exact_hook, UC_HOOK_CODE, UC_CB(exact_cb), v,
                    v->exact_pc, v->exact_pc) != UC_ERR_OK) {
        v->exact_refused = v->exact_at;   /* late by a block rather than never */
        v->exact_pc = 0;
        return;
    }
    v->code_hooks = true;
    uc_ctl_remove_cache(v->uc, v->exact_pc, v->exact_pc + 4);
    v->exact_placed = true;
}

/* Deleting the hook also drops the blocks translated with it. */
static void exact_remove(struct vmdl_vcpu *v)
{
    if (!v->exact_placed)
        return;
    uc_hook_del(v->uc, ((struct arm64_vcpu *)v)->exact_hook);
    v->exact_placed = false;
    v->exact_pc = 0;
}

int vmdl__arm64_run(struct vmdl_vcpu *v, struct vmdl_exit *exit, bool *to_caller)
{
    v->halted = false;
    uint64_t pstate = vmdl__arm64_rd(v, UC_ARM64_REG_PSTATE);
    bool asserted = vmdl__irq_asserted(v);
    if (!(pstate & PSTATE_I) && asserted) {
        v->irq_line = false;
        vmdl__arm64_deliver_irq(v);
        asserted = vmdl__irq_asserted(v);
    }
    /* An IRQ held back by PSTATE.I (masked by DAIF, or taken and not yet
     * acknowledged) must be taken right after whatever clears PSTATE.I:
     * MSR DAIFClr, MSR DAIF and ERET run natively, but each ends QEMU's
     * translation block, so the block hook looks at PSTATE.I at the next
     * instruction (an interrupt window, insn_count.c). */
    v->irq_window = asserted;
    vmdl__count_update_hook(v);
    exact_place(v);
    v->stop = STOP_NONE;
    uint64_t pc = vmdl__arm64_rd(v, UC_ARM64_REG_PC);
    vmdl__engine_enter(v);
    uc_err e = uc_emu_start(v->uc, pc, 0, 0, vmdl__debug_count(v, 0));
    vmdl__engine_leave(v);
    exact_remove(v);
    struct arm64_vcpu *a64 = (struct arm64_vcpu *)v;
    if (a64->hook_fault) {
        a64->hook_fault = false; /* the refused MSR: UNDEF there */
        vmdl__arm64_wr(v, UC_ARM64_REG_PC, a64->hook_fault_pc);
    }
    pc = vmdl__arm64_rd(v, UC_ARM64_REG_PC);
    /* An HVC/SMC stops with the PC past it (QEMU took it to EL2/EL3), but
     * it retires only when handled (vmdl__arm64_hypercall): count up to it,
     * not through it, or it counts twice. */
    vmdl__count_at_stop(v, v->stop == STOP_HYPERCALL ? v->exit.pc : pc);
    switch (v->stop) {
    case STOP_NONE:
    case STOP_KICK:
        on_stopped(v, e, pc, exit, to_caller);
        return VMDL_OK;
    case STOP_IRQ:
        return VMDL_OK; /* delivered on the next entry */
    case STOP_SYSREG_EXIT:
        *exit = v->exit;
        *to_caller = true;
        return VMDL_OK;
    case STOP_FAULT: {
        uint32_t esr = a64->fault_esr;
        a64->fault_esr = 0;
        vmdl__trace_exit(v, "undef", pc, esr ? "MSR/MRS trap to guest" : "UNDEF to guest");
        return vmdl__arm64_deliver_sync(v, pc, esr);
    }
    case STOP_HYPERCALL:
        return on_hypercall(v, exit, to_caller);
    case STOP_MMIO:
        *to_caller = mmio_to_caller(v, exit, pc) != 2;
        return VMDL_OK;
    case STOP_INTR:
        return on_exception(v, pc, exit, to_caller);
    default:
        return VMDL_OK;
    }
}
