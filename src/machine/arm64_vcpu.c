/* SPDX-License-Identifier: MIT */
/*
 * The arm64 vCPU over Unicorn: EL1, MMU off.  System-register accesses QEMU
 * does not know (every GICv5 register and system instruction) raise UNDEF,
 * which reaches UC_HOOK_INTR with the PC at the instruction (DESIGN.md fact
 * 6); the hook decodes MRS/MSR/SYS, asks the handlers, writes Xt and
 * resumes at PC+4 without leaving the engine.  Whatever needs the run loop
 * (an exit to the caller, an exception to deliver, an IRQ that became
 * deliverable) stops the engine instead.  Exceptions are delivered here,
 * through VBAR_EL1, since Unicorn does not.
 */
#include <string.h>

#include "machine_internal.h"
#include "virtmodel/error.h"

#define EXCP_UDEF 1
#define EXCP_SWI 2
#define EXCP_HVC 11
#define EXCP_SMC 13
#define PSTATE_I (1u << 7)
#define PSTATE_DAIF 0x3C0u
#define PSTATE_EL1H 0x5u
#define INSN_WFI 0xD503207Fu
#define ESR_IL (1u << 25)
#define ESR_EC_UNKNOWN 0x00u
#define ESR_EC_SVC64 0x15u
#define PSCI_VERSION 0x84000000u
#define PSCI_FEATURES 0x8400000Au
#define PL011_DR 0x000
#define PL011_FR 0x018

/* Unicorn 2.0.1 has no SPSR_EL1 register id: reach it as a CP register. */
#define REG_SPSR_EL1 0x10000

int vmdl__arm64_reg(enum vmdl_reg r)
{
    if (r >= VMDL_ARM64_X0 && r <= VMDL_ARM64_X0 + 28)
        return UC_ARM64_REG_X0 + (int)(r - VMDL_ARM64_X0);
    if ((int)r == VMDL_ARM64_X0 + 29)
        return UC_ARM64_REG_X29;
    if ((int)r == VMDL_ARM64_X0 + 30)
        return UC_ARM64_REG_X30;
    switch (r) {
    case VMDL_ARM64_SP: return UC_ARM64_REG_SP;
    case VMDL_ARM64_PC: return UC_ARM64_REG_PC;
    case VMDL_ARM64_PSTATE: return UC_ARM64_REG_PSTATE;
    case VMDL_ARM64_VBAR_EL1: return UC_ARM64_REG_VBAR_EL1;
    case VMDL_ARM64_ELR_EL1: return UC_ARM64_REG_ELR_EL1;
    case VMDL_ARM64_SPSR_EL1: return REG_SPSR_EL1;
    case VMDL_ARM64_ESR_EL1: return UC_ARM64_REG_ESR_EL1;
    default: return -1;
    }
}

int vmdl__arm64_reg_read(struct vmdl_vcpu *v, int reg, uint64_t *x)
{
    if (reg == REG_SPSR_EL1) {
        uc_arm64_cp_reg cp = {.crn = 4, .crm = 0, .op0 = 3, .op1 = 0, .op2 = 0};
        uc_err e = uc_reg_read(v->uc, UC_ARM64_REG_CP_REG, &cp);
        *x = cp.val;
        return e == UC_ERR_OK ? 0 : -1;
    }
    *x = 0;
    return uc_reg_read(v->uc, reg, x) == UC_ERR_OK ? 0 : -1;
}

int vmdl__arm64_reg_write(struct vmdl_vcpu *v, int reg, uint64_t x)
{
    if (reg == REG_SPSR_EL1) {
        uc_arm64_cp_reg cp = {.crn = 4, .crm = 0, .op0 = 3, .op1 = 0, .op2 = 0, .val = x};
        return uc_reg_write(v->uc, UC_ARM64_REG_CP_REG, &cp) == UC_ERR_OK ? 0 : -1;
    }
    return uc_reg_write(v->uc, reg, &x) == UC_ERR_OK ? 0 : -1;
}

static uint64_t rd(struct vmdl_vcpu *v, int reg)
{
    uint64_t x = 0;
    vmdl__arm64_reg_read(v, reg, &x);
    return x;
}

static void wr(struct vmdl_vcpu *v, int reg, uint64_t x)
{
    vmdl__arm64_reg_write(v, reg, x);
}

static uint64_t read_x(struct vmdl_vcpu *v, unsigned n)
{
    return n == 31 ? 0 : rd(v, vmdl__arm64_reg(VMDL_ARM64_X0 + n));
}

static void write_x(struct vmdl_vcpu *v, unsigned n, uint64_t val)
{
    if (n != 31)
        wr(v, vmdl__arm64_reg(VMDL_ARM64_X0 + n), val);
}

static void set_stop(struct vmdl_vcpu *v, enum stop_kind k)
{
    if (v->stop == STOP_NONE || v->stop == STOP_KICK)
        v->stop = k;
    uc_emu_stop(v->uc);
}

/* ---------------- exception delivery ---------------- */

static void take_exception(struct vmdl_vcpu *v, uint64_t return_pc,
                           unsigned vector_offset, bool sync, uint32_t esr)
{
    uint64_t pstate = rd(v, UC_ARM64_REG_PSTATE);
    /* Current EL with SP_EL1 (EL1h) uses the 0x200 group, EL1t the 0x000. */
    uint64_t base = (pstate & 1) ? 0x200 : 0x000;
    wr(v, UC_ARM64_REG_ELR_EL1, return_pc);
    wr(v, REG_SPSR_EL1, pstate);
    if (sync)
        wr(v, UC_ARM64_REG_ESR_EL1, esr);
    wr(v, UC_ARM64_REG_PSTATE, (pstate & ~0xFull) | PSTATE_DAIF | PSTATE_EL1H);
    wr(v, UC_ARM64_REG_PC, rd(v, UC_ARM64_REG_VBAR_EL1) + base + vector_offset);
    v->halted = false;
}

int vmdl__arm64_deliver_undef(struct vmdl_vcpu *v, uint64_t pc)
{
    take_exception(v, pc, 0x000, true, (ESR_EC_UNKNOWN << 26) | ESR_IL);
    v->insns++;
    return VMDL_OK;
}

static void deliver_irq(struct vmdl_vcpu *v)
{
    uint64_t pc = rd(v, UC_ARM64_REG_PC);
    take_exception(v, pc, 0x080, false, 0);
    vmdl__trace_exit(v, "irq", pc, "IRQ taken at VBAR_EL1+0x280");
}

static bool irq_asserted(struct vmdl_vcpu *v)
{
    struct vmdl_vm *vm = v->vm;
    if (v->irq_line)
        return true;
    return vm->irqchip && vm->irqchip->pending &&
           vm->irqchip->pending(vm->irqchip_opaque, v) >= 0;
}

/* ---------------- decode ---------------- */

static bool decode_sysreg(uint32_t w, struct vmdl_sysreg_access *a)
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

static bool decode_hypercall(uint32_t w, uint16_t *imm, bool *is_smc)
{
    /* HVC #imm: D4000002 | imm16 << 5; SMC #imm: D4000003 | imm16 << 5. */
    if ((w & 0xFFE0001Fu) == 0xD4000002u || (w & 0xFFE0001Fu) == 0xD4000003u) {
        *imm = (uint16_t)((w >> 5) & 0xFFFF);
        *is_smc = (w & 3) == 3;
        return true;
    }
    return false;
}

static uint32_t insn_at(struct vmdl_vcpu *v, uint64_t pc)
{
    uint32_t w = 0;
    if (uc_mem_read(v->uc, pc, &w, 4) != UC_ERR_OK)
        return 0;
    return w;
}

/* ---------------- the trap hook ---------------- */

static void handle_sysreg_in_hook(struct vmdl_vcpu *v, uint64_t pc,
                                  struct vmdl_sysreg_access *a)
{
    struct vmdl_vm *vm = v->vm;
    if (a->is_write)
        a->value = read_x(v, a->rt);
    vmdl_fault f = VMDL_FAULT_UNCLAIMED;
    for (unsigned i = 0; i < vm->nr_sysregs && f == VMDL_FAULT_UNCLAIMED; i++)
        f = ((vmdl_sysreg_fn)vm->sysregs[i].fn)(vm->sysregs[i].opaque, v, a);
    char out[80];
    if (f == VMDL_FAULT_UNCLAIMED) {
        memset(&v->exit, 0, sizeof(v->exit));
        v->exit.reason = VMDL_EXIT_SYSREG;
        v->exit.pc = pc;
        v->exit.u.sysreg = *a;
        v->pending = PENDING_SYSREG;
        vmdl__trace_exit(v, "sysreg", pc, "to caller");
        set_stop(v, STOP_SYSREG_EXIT);
        return;
    }
    if (f != VMDL_FAULT_NONE) {
        vmdl__trace_exit(v, "sysreg", pc, "UNDEF");
        set_stop(v, STOP_FAULT);
        return;
    }
    if (!a->is_write)
        write_x(v, a->rt, a->value);
    if (vm->trace) {
        snprintf(out, sizeof(out), "%s 0x%llx", a->is_write ? "wrote" : "read",
                 (unsigned long long)a->value);
        vmdl__trace_exit(v, "sysreg", pc, out);
    }
    wr(v, UC_ARM64_REG_PC, pc + 4);
    v->insns++;
    /* A write may have made an interrupt deliverable (e.g. an enable). */
    if (!(rd(v, UC_ARM64_REG_PSTATE) & PSTATE_I) && irq_asserted(v))
        set_stop(v, STOP_IRQ);
}

static void intr_cb(uc_engine *uc, uint32_t intno, void *user)
{
    (void)uc;
    struct vmdl_vcpu *v = user;
    uint64_t pc = rd(v, UC_ARM64_REG_PC);
    if (v->stop != STOP_NONE && v->stop != STOP_KICK) {
        uc_emu_stop(v->uc);
        return;
    }
    v->stop_vector = intno;
    if (intno == EXCP_UDEF) {
        uint32_t w = insn_at(v, pc);
        struct vmdl_sysreg_access a;
        uint16_t imm;
        bool smc;
        if (decode_sysreg(w, &a)) {
            handle_sysreg_in_hook(v, pc, &a);
            return;
        }
        if (decode_hypercall(w, &imm, &smc)) {
            v->exit.u.hypercall.imm = imm;
            v->exit.u.hypercall.is_smc = smc;
            v->exit.pc = pc;
            set_stop(v, STOP_HYPERCALL);
            return;
        }
        set_stop(v, STOP_FAULT);
        return;
    }
    if (intno == EXCP_HVC || intno == EXCP_SMC) {
        /* Taken to a higher EL in QEMU: the return address is past it. */
        uint64_t at = insn_at(v, pc - 4) ? pc - 4 : pc;
        uint16_t imm = 0;
        bool smc = intno == EXCP_SMC;
        decode_hypercall(insn_at(v, at), &imm, &smc);
        v->exit.u.hypercall.imm = imm;
        v->exit.u.hypercall.is_smc = smc;
        v->exit.pc = at;
        set_stop(v, STOP_HYPERCALL);
        return;
    }
    set_stop(v, STOP_INTR);
}


/* PL011: data register writes are console bytes; the flag register says
 * "transmit FIFO empty, receive FIFO empty". */
static uint64_t pl011_read(uc_engine *uc, uint64_t off, unsigned size, void *user)
{
    (void)uc; (void)size; (void)user;
    return off == PL011_FR ? 0x90 : 0;
}

static void pl011_write(uc_engine *uc, uint64_t off, unsigned size, uint64_t val,
                        void *user)
{
    (void)uc; (void)size;
    struct vmdl_vcpu *v = user;
    if (off == PL011_DR) {
        char c = (char)val;
        vmdl__console(v->vm, &c, 1);
    }
}

/* ---------------- set-up ---------------- */

static int uc_check(uc_err e, const char *what)
{
    if (e == UC_ERR_OK)
        return VMDL_OK;
    return vmdl_fail(VMDL_EBACKEND, "arm64 vCPU: %s failed: %s", what, uc_strerror(e));
}

int vmdl__arm64_vcpu_init(struct vmdl_vcpu *v)
{
    struct vmdl_vm *vm = v->vm;
    int err = uc_check(uc_open(UC_ARCH_ARM64, UC_MODE_ARM, &v->uc), "uc_open");
    if (err)
        return err;
    if ((err = uc_check(uc_mem_map_ptr(v->uc, vm->ram_base, vm->ram_size,
                                       UC_PROT_ALL, vm->ram), "mapping guest RAM")))
        return err;
    if ((err = uc_check(uc_mmio_map(v->uc, VMDL_ARM64_PL011_BASE, 0x1000, pl011_read,
                                    v, pl011_write, v), "mapping the PL011")))
        return err;
    if ((err = uc_check(uc_hook_add(v->uc, &v->hooks[v->nr_hooks++], UC_HOOK_INTR,
                                    (void *)intr_cb, v, 1, 0), "uc_hook_add")))
        return err;
    if ((err = uc_check(uc_hook_add(v->uc, &v->hooks[v->nr_hooks++],
                                    UC_HOOK_MEM_UNMAPPED, (void *)vmdl__unmapped_cb, v, 1, 0),
                        "uc_hook_add")))
        return err;
    return VMDL_OK;
}

int vmdl__arm64_vcpu_reset(struct vmdl_vcpu *v, uint64_t entry)
{
    struct vmdl_vm *vm = v->vm;
    for (unsigned i = 0; i <= 30; i++)
        write_x(v, i, 0);
    write_x(v, 0, v->index);
    wr(v, UC_ARM64_REG_PSTATE, PSTATE_DAIF | PSTATE_EL1H);
    wr(v, UC_ARM64_REG_SP, vm->ram_base + vm->ram_size - v->index * 0x10000ull - 16);
    wr(v, UC_ARM64_REG_PC, entry);
    wr(v, UC_ARM64_REG_VBAR_EL1, 0);
    v->halted = false;
    v->irq_line = false;
    v->pending = PENDING_NONE;
    v->start_pc = entry;
    v->started = true;
    return VMDL_OK;
}

/* ---------------- hypercalls (PSCI) ---------------- */

enum hc_result { HC_DONE, HC_TO_CALLER, HC_SHUTDOWN, HC_RESET };

static enum hc_result hypercall(struct vmdl_vcpu *v, uint64_t pc)
{
    struct vmdl_vm *vm = v->vm;
    uint16_t imm = v->exit.u.hypercall.imm;
    bool smc = v->exit.u.hypercall.is_smc;
    uint32_t fn = (uint32_t)read_x(v, 0);
    wr(v, UC_ARM64_REG_PC, pc + 4);
    v->insns++;
    if (imm == 0 && fn == VMDL_PSCI_SYSTEM_OFF) {
        v->stop_status = 0;
        return HC_SHUTDOWN;
    }
    if (imm == 0 && fn == VMDL_HC_EXIT) {
        v->stop_status = (int)(read_x(v, 1) & 0xFF);
        return HC_SHUTDOWN;
    }
    if (imm == 0 && fn == VMDL_PSCI_SYSTEM_RESET)
        return HC_RESET;
    if (imm == 0 && fn == PSCI_VERSION) {
        write_x(v, 0, 0x10001); /* PSCI 1.1 */
        return HC_DONE;
    }
    for (unsigned i = 0; i < vm->nr_hypercalls; i++)
        if (((vmdl_hypercall_fn)vm->hypercalls[i].fn)(vm->hypercalls[i].opaque, v,
                                                      imm, smc))
            return HC_DONE;
    /* Nobody claimed it: the caller completes it (x0 = its value). */
    wr(v, UC_ARM64_REG_PC, pc);
    v->insns--;
    memset(&v->exit, 0, sizeof(v->exit));
    v->exit.reason = VMDL_EXIT_HYPERCALL;
    v->exit.pc = pc;
    v->exit.u.hypercall.imm = imm;
    v->exit.u.hypercall.is_smc = smc;
    for (unsigned i = 0; i < 4; i++)
        v->exit.u.hypercall.x[i] = read_x(v, i);
    v->pending = PENDING_HYPERCALL;
    return HC_TO_CALLER;
}

int vmdl__arm64_complete(struct vmdl_vcpu *v, uint64_t value, vmdl_fault fault)
{
    enum pending_kind p = v->pending;
    uint64_t pc = rd(v, UC_ARM64_REG_PC);
    v->pending = PENDING_NONE;
    if (fault != VMDL_FAULT_NONE)
        return vmdl__arm64_deliver_undef(v, pc);
    switch (p) {
    case PENDING_SYSREG:
        if (!v->exit.u.sysreg.is_write)
            write_x(v, v->exit.u.sysreg.rt, value);
        break;
    case PENDING_HYPERCALL:
        write_x(v, 0, value);
        break;
    case PENDING_MMIO_READ:
        write_x(v, v->pending_reg, value);
        break;
    case PENDING_MMIO_WRITE:
        break;
    default:
        return vmdl_fail(VMDL_ESTATE, "vmdl_vcpu_complete: nothing to complete");
    }
    wr(v, UC_ARM64_REG_PC, pc + 4);
    v->insns++;
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
    uint64_t base = rn == 31 ? rd(v, UC_ARM64_REG_SP) : read_x(v, rn);
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
#define ESR_EC_IABT_CUR 0x21u
#define ESR_EC_DABT_CUR 0x25u

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
                uint32_t w = insn_at(v, at);
                if (ldst_address(v, w, &ea, &is_load) && fault_addr - ea < (1u << (w >> 30)))
                    break;
            }
        }
        uint32_t esr = ((fetch ? ESR_EC_IABT_CUR : ESR_EC_DABT_CUR) << 26) | ESR_IL |
                       (v->exit.u.mmio.is_write ? (1u << 6) : 0);
        uc_reg_write(v->uc, UC_ARM64_REG_FAR_EL1, &fault_addr);
        take_exception(v, at, 0x000, true, esr);
        vmdl__trace_exit(v, "abort", at, "address size fault");
        return 2;
    }
    if (v->stop_vector == UC_MEM_FETCH_UNMAPPED) {
        simple_exit(exit, VMDL_EXIT_INTERNAL_ERROR, pc);
        snprintf(exit->u.internal.message, sizeof(exit->u.internal.message),
                 "instruction fetch from 0x%llx, which is not RAM",
                 (unsigned long long)v->exit.u.mmio.addr);
        return 0;
    }
    uint64_t addr = v->exit.u.mmio.addr;
    for (unsigned n = 0; n < 64; n++, pc += 4) {
        uint32_t w = insn_at(v, pc);
        uint64_t ea;
        bool is_load;
        if (!ldst_address(v, w, &ea, &is_load) || addr < ea ||
            addr >= ea + (1u << (w >> 30)))
            continue;
        wr(v, UC_ARM64_REG_PC, pc);
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

int vmdl__arm64_run(struct vmdl_vcpu *v, struct vmdl_exit *exit, bool *to_caller)
{
    struct vmdl_vm *vm = v->vm;
    v->halted = false;
    uint64_t pstate = rd(v, UC_ARM64_REG_PSTATE);
    if (!(pstate & PSTATE_I) && irq_asserted(v)) {
        v->irq_line = false;
        deliver_irq(v);
    }
    vmdl__count_update_hook(v);
    v->stop = STOP_NONE;
    uint64_t pc = rd(v, UC_ARM64_REG_PC);
    vmdl__engine_enter(v);
    uc_err e = uc_emu_start(v->uc, pc, 0, 0, 0);
    vmdl__engine_leave(v);
    pc = rd(v, UC_ARM64_REG_PC);
    vmdl__count_at_stop(v, pc);
    switch (v->stop) {
    case STOP_NONE:
    case STOP_KICK:
        if (e != UC_ERR_OK) {
            simple_exit(exit, VMDL_EXIT_INTERNAL_ERROR, pc);
            snprintf(exit->u.internal.message, sizeof(exit->u.internal.message),
                     "Unicorn stopped: %s", uc_strerror(e));
            *to_caller = true;
        } else if (v->stop == STOP_NONE && insn_at(v, pc - 4) == INSN_WFI) {
            /* WFI ends the engine with PC past it (DESIGN.md fact 8). */
            vmdl__trace_exit(v, "wfi", pc - 4, "waiting for interrupt");
            v->halted = true;
            if (vm->irqchip && vm->irqchip->halt)
                vm->irqchip->halt(vm->irqchip_opaque, v);
        }
        return VMDL_OK;
    case STOP_IRQ:
        return VMDL_OK; /* delivered on the next entry */
    case STOP_SYSREG_EXIT:
        *exit = v->exit;
        *to_caller = true;
        return VMDL_OK;
    case STOP_FAULT:
        vmdl__trace_exit(v, "undef", pc, "UNDEF to guest");
        return vmdl__arm64_deliver_undef(v, pc);
    case STOP_HYPERCALL: {
        uint64_t at = v->exit.pc;
        switch (hypercall(v, at)) {
        case HC_DONE:
            return VMDL_OK;
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
            if (vmdl_vm_reset(vm))
                return vmdl_fail(VMDL_ESTATE, "%s", vmdl_last_error());
            simple_exit(exit, VMDL_EXIT_RESET, at);
            *to_caller = true;
            return VMDL_OK;
        }
        return VMDL_OK;
    }
    case STOP_MMIO:
        *to_caller = mmio_to_caller(v, exit, pc) != 2;
        return VMDL_OK;
    case STOP_INTR:
        if (v->stop_vector == EXCP_SWI) {
            /* SVC: QEMU has PC past it already. */
            uint32_t imm = (insn_at(v, pc - 4) >> 5) & 0xFFFF;
            take_exception(v, pc, 0x000, true, (ESR_EC_SVC64 << 26) | ESR_IL | imm);
            return VMDL_OK;
        }
        simple_exit(exit, VMDL_EXIT_INTERNAL_ERROR, pc);
        snprintf(exit->u.internal.message, sizeof(exit->u.internal.message),
                 "unexpected exception %u from the engine", v->stop_vector);
        *to_caller = true;
        return VMDL_OK;
    default:
        return VMDL_OK;
    }
}
