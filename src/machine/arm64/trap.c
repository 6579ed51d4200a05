/* SPDX-License-Identifier: MIT */
/* The arm64 trap hook: system registers, HVC/SMC, and PSCI. */
#include <string.h>

#include "arm64.h"
#include "virtmodel/error.h"
#include "virtmodel/psci.h"


/* ---------------- decode ---------------- */

bool vmdl__arm64_decode_sysreg(uint32_t w, struct vmdl_sysreg_access *a)
{
    /* System instruction class: 1101 0101 00 L op0 op1 CRn CRm op2 Rt. */
    if ((w & 0xFFC00000u) != 0xD5000000u)
        return false;
    memset(a, 0, sizeof(*a));
    bool l = (w >> 21) & 1;
    a->op0 = (w >> 19) & 3;
    a->op1 = (w >> 16) & 7;
    a->crn = (w >> 12) & 0xF;
    a->crm = (w >> 8) & 0xF;
    a->op2 = (w >> 5) & 7;
    a->rt = w & 0x1F;
    if (a->op0 == 0)
        return false; /* hints, barriers, MSR (immediate) */
    a->is_sys = a->op0 == 1;
    a->is_write = !l;
    return true;
}

bool vmdl__arm64_decode_hypercall(uint32_t w, uint16_t *imm, bool *is_smc)
{
    /* HVC #imm: D4000002 | imm16 << 5; SMC #imm: D4000003 | imm16 << 5. */
    if ((w & 0xFFE0001Fu) == 0xD4000002u || (w & 0xFFE0001Fu) == 0xD4000003u) {
        *imm = (uint16_t)((w >> 5) & 0xFFFF);
        *is_smc = (w & 3) == 3;
        return true;
    }
    return false;
}

/* ---------------- the trap hook ---------------- */

static void handle_sysreg_in_hook(struct vmdl_vcpu *v, uint64_t pc,
                                  struct vmdl_sysreg_access *a)
{
    struct vmdl_vm *vm = v->vm;
    if (a->is_write)
        a->value = vmdl__arm64_read_x(v, a->rt);
    vmdl_fault f = vmdl__route_sysreg(v, a);
    char out[80];
    if (f == VMDL_FAULT_UNCLAIMED) {
        memset(&v->exit, 0, sizeof(v->exit));
        v->exit.reason = VMDL_EXIT_SYSREG;
        v->exit.pc = pc;
        v->exit.u.sysreg = *a;
        v->pending = PENDING_SYSREG;
        vmdl__trace_exit(v, "sysreg", pc, "to caller");
        vmdl__arm64_set_stop(v, STOP_SYSREG_EXIT);
        return;
    }
    if (f != VMDL_FAULT_NONE) {
        vmdl__trace_exit(v, "sysreg", pc, vmdl_fault_name(f));
        vmdl__arm64_stop_fault(v, a, f);
        return;
    }
    if (!a->is_write)
        vmdl__arm64_write_x(v, a->rt, a->value);
    if (vm->trace) {
        snprintf(out, sizeof(out), "%s 0x%llx", a->is_write ? "wrote" : "read",
                 (unsigned long long)a->value);
        vmdl__trace_exit(v, "sysreg", pc, out);
    }
    /* The block hook counted the whole block; the engine goes on in a new
     * block after this instruction: only what came before it and the
     * instruction itself have retired. */
    vmdl__count_at_insn(v, pc);
    vmdl__arm64_wr(v, UC_ARM64_REG_PC, pc + 4);
    vmdl__insns_add(v, 1);
    vmdl__arm64_irq_recheck(v);
}

void vmdl__arm64_stop_fault(struct vmdl_vcpu *v, const struct vmdl_sysreg_access *a,
                            vmdl_fault f)
{
    ((struct arm64_vcpu *)v)->fault_esr =
        f == VMDL_FAULT_SYSREG_TRAP ? vmdl__arm64_sysreg_esr(a) : 0;
    vmdl__arm64_set_stop(v, STOP_FAULT);
}

/*
 * After an access completed inside a hook: a write may have made an
 * interrupt deliverable (ICC_PCR_EL1, ICC_CR0_EL1, an enable, a pending bit,
 * CDEOI, a timer) or moved a timer's deadline.  Deliverable now: leave the
 * engine, which the loop enters again through the IRQ vector.  Asserted but
 * held back by PSTATE.I: the block hook must watch for the unmasking; it
 * already runs, or the engine stops so that the loop installs it.
 */
void vmdl__arm64_irq_recheck(struct vmdl_vcpu *v)
{
    if (v->block_hook_on)
        vmdl__set_kick(v, vmdl__next_deadline(v));
    if (!vmdl__irq_asserted(v)) {
        v->irq_window = false; /* acknowledged (CDIA) or withdrawn */
        return;
    }
    if (!(vmdl__arm64_rd(v, UC_ARM64_REG_PSTATE) & PSTATE_I))
        vmdl__arm64_set_stop(v, STOP_IRQ);
    else if (v->block_hook_on) {
        v->irq_window = true;
        vmdl__count_no_fast(v);  /* the next block looks at PSTATE.I */
    }
    else
        vmdl__arm64_set_stop(v, STOP_IRQ);
}

/*
 * MRS/MSR of a register QEMU implements itself, from Unicorn's instruction
 * hook (called before QEMU's own access, PC synced; returning 1 skips that
 * access).  The generic timer's registers (op0 3, CRn 14) go to the sysreg
 * handlers first, with the exact instruction count at this instruction.  A
 * claimed read writes Xt here; a claimed write is re-checked like a trapped
 * one (an MSR ends QEMU's block, so a stop takes effect right after it).  A
 * refused write stops with UNDEF at the MSR; a refused read is left to QEMU,
 * whose own copy of CNTKCTL_EL1 stays 0 (the model keeps the guest's), so it
 * traps every EL0 access the model refuses and the trap path below asks the
 * model again.
 */
uint32_t vmdl__arm64_sysreg_insn_cb(uc_engine *uc, uc_arm64_reg reg,
                                    const uc_arm64_cp_reg *cp, void *user)
{
    (void)uc;
    (void)reg;
    struct vmdl_vcpu *v = user;
    struct vmdl_sysreg_access a;
    if (cp->op0 != 3 || cp->crn != 14 || !v->vm->nr_sysregs)
        return 0;
    uint64_t pc = vmdl__arm64_rd(v, UC_ARM64_REG_PC);
    if (!vmdl__arm64_decode_sysreg(vmdl__arm64_insn_at(v, pc), &a))
        return 0;
    if (a.is_write)
        a.value = cp->val;
    uint64_t insns = vmdl__insns(v);
    vmdl__insns_set(v, vmdl__count_exact(v, pc));
    vmdl_fault f = vmdl__route_sysreg(v, &a);
    vmdl__insns_set(v, insns);
    if (f == VMDL_FAULT_UNCLAIMED || (f != VMDL_FAULT_NONE && !a.is_write))
        return 0;
    if (f != VMDL_FAULT_NONE) {
        struct arm64_vcpu *a64 = (struct arm64_vcpu *)v;
        a64->hook_fault = true;
        a64->hook_fault_pc = pc;
        vmdl__arm64_stop_fault(v, &a, f);
        return 1;
    }
    if (!a.is_write)
        vmdl__arm64_write_x(v, a.rt, a.value);
    /* A handler that asked for exact counting gets it from the next entry. */
    if (!v->block_hook_on && v->count_users > 0)
        vmdl__arm64_set_stop(v, STOP_KICK);
    vmdl__arm64_irq_recheck(v);
    return 1;
}

void vmdl__arm64_intr_cb(uc_engine *uc, uint32_t intno, void *user)
{
    (void)uc;
    struct vmdl_vcpu *v = user;
    uint64_t pc = vmdl__arm64_rd(v, UC_ARM64_REG_PC);
    if (v->stop != STOP_NONE && v->stop != STOP_KICK) {
        uc_emu_stop(v->uc);
        return;
    }
    v->stop_vector = intno;
    if (intno == EXCP_UDEF) {
        uint32_t w = vmdl__arm64_insn_at(v, pc);
        struct vmdl_sysreg_access a;
        uint16_t imm;
        bool smc;
        if (vmdl__arm64_decode_sysreg(w, &a)) {
            handle_sysreg_in_hook(v, pc, &a);
            return;
        }
        if (vmdl__arm64_decode_hypercall(w, &imm, &smc)) {
            v->exit.u.hypercall.imm = imm;
            v->exit.u.hypercall.is_smc = smc;
            v->exit.pc = pc;
            vmdl__arm64_set_stop(v, STOP_HYPERCALL);
            return;
        }
        vmdl__arm64_set_stop(v, STOP_FAULT);
        return;
    }
    if (intno == EXCP_HVC || intno == EXCP_SMC) {
        /* Taken to a higher EL in QEMU: the return address is past it. */
        uint64_t at = vmdl__arm64_insn_at(v, pc - 4) ? pc - 4 : pc;
        uint16_t imm = 0;
        bool smc = intno == EXCP_SMC;
        vmdl__arm64_decode_hypercall(vmdl__arm64_insn_at(v, at), &imm, &smc);
        v->exit.u.hypercall.imm = imm;
        v->exit.u.hypercall.is_smc = smc;
        v->exit.pc = at;
        vmdl__arm64_set_stop(v, STOP_HYPERCALL);
        return;
    }
    vmdl__arm64_set_stop(v, STOP_INTR);
}

/* ---------------- hypercalls (PSCI) ---------------- */

/* PSCI through the model (boot.c), with its action carried out here. */
static enum hc_result psci_call(struct vmdl_vcpu *v)
{
    uint64_t x[4];
    enum vmdl__psci_outcome o;
    for (unsigned i = 0; i < 4; i++)
        x[i] = vmdl__arm64_read_x(v, i);
    if (vmdl__arm64_psci(v, x, &o))
        return HC_ERROR;
    vmdl__arm64_write_x(v, 0, x[0]);
    switch (o) {
    case VMDL__PSCI_STOPPED:
        vmdl__trace_exit(v, "psci", v->exit.pc, "CPU_OFF");
        break;
    case VMDL__PSCI_WFI:
        vmdl__halt(v);
        break;
    case VMDL__PSCI_SYSTEM_OFF:
        v->stop_status = 0;
        return HC_SHUTDOWN;
    case VMDL__PSCI_SYSTEM_RESET:
        return HC_RESET;
    case VMDL__PSCI_DONE:
        break;
    }
    return HC_DONE;
}

enum hc_result vmdl__arm64_hypercall(struct vmdl_vcpu *v, uint64_t pc)
{
    uint16_t imm = v->exit.u.hypercall.imm;
    bool smc = v->exit.u.hypercall.is_smc;
    uint32_t fn = (uint32_t)vmdl__arm64_read_x(v, 0);
    vmdl__arm64_wr(v, UC_ARM64_REG_PC, pc + 4);
    vmdl__insns_add(v, 1);
    if (imm == 0 && fn == VMDL_HC_EXIT) {
        v->stop_status = (int)(vmdl__arm64_read_x(v, 1) & 0xFF);
        return HC_SHUTDOWN;
    }
    /* KVM takes SMCCC calls through HVC #0 and SMC #0 alike. */
    if (imm == 0 && vmdl_psci_owns(fn))
        return psci_call(v);
    if (vmdl__route_hypercall(v, imm, smc))
        return HC_DONE;
    /* Nobody claimed it: the caller completes it (x0 = its value). */
    vmdl__arm64_wr(v, UC_ARM64_REG_PC, pc);
    vmdl__insns_set(v, vmdl__insns(v) - 1);
    memset(&v->exit, 0, sizeof(v->exit));
    v->exit.reason = VMDL_EXIT_HYPERCALL;
    v->exit.pc = pc;
    v->exit.u.hypercall.imm = imm;
    v->exit.u.hypercall.is_smc = smc;
    for (unsigned i = 0; i < 4; i++)
        v->exit.u.hypercall.x[i] = vmdl__arm64_read_x(v, i);
    v->pending = PENDING_HYPERCALL;
    return HC_TO_CALLER;
}
