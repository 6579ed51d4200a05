/* SPDX-License-Identifier: MIT */
/* arm64 vCPU: engine set-up, reset, registers, exception delivery. */
#include <string.h>

#include "arm64.h"
#include "virtmodel/error.h"

#define PL011_DR 0x000
#define PL011_FR 0x018

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
    default: break;
    }
    const struct vmdl_arch_reg *a = vmdl__arch_reg(&vmdl__arm64_ops, r);
    return a ? a->uc : -1;
}

/* The system registers reached as CP registers: their MRS encodings
 * (op0, op1, CRn, CRm, op2), the one place they are written down. */
#define CP(id_, o0, o1, n, m, o2) \
    {id_, {.op0 = o0, .op1 = o1, .crn = n, .crm = m, .op2 = o2}}
static const struct { int id; uc_arm64_cp_reg enc; } cp_regs[] = {
    CP(REG_SPSR_EL1, 3, 0, 4, 0, 0),
    CP(REG_SCTLR_EL1, 3, 0, 1, 0, 0),
    CP(REG_TCR_EL1, 3, 0, 2, 0, 2),
    CP(REG_MAIR_EL1, 3, 0, 10, 2, 0),
    CP(REG_AMAIR_EL1, 3, 0, 10, 3, 0),
    CP(REG_TTBR0_EL1, 3, 0, 2, 0, 0),
    CP(REG_TTBR1_EL1, 3, 0, 2, 0, 1),
    CP(REG_CONTEXTIDR_EL1, 3, 0, 13, 0, 1),
    CP(REG_PAR_EL1, 3, 0, 7, 4, 0),
    CP(REG_CPACR_EL1, 3, 0, 1, 0, 2),
};
#undef CP

static const uc_arm64_cp_reg *cp_reg(int reg)
{
    for (unsigned i = 0; i < sizeof(cp_regs) / sizeof(cp_regs[0]); i++)
        if (cp_regs[i].id == reg)
            return &cp_regs[i].enc;
    return NULL;
}

int vmdl__arm64_reg_read(struct vmdl_vcpu *v, int reg, uint64_t *x)
{
    const uc_arm64_cp_reg *enc = cp_reg(reg);
    if (enc) {
        uc_arm64_cp_reg cp = *enc;
        uc_err e = uc_reg_read(v->uc, UC_ARM64_REG_CP_REG, &cp);
        *x = cp.val;
        return e == UC_ERR_OK ? 0 : -1;
    }
    *x = 0;
    return uc_reg_read(v->uc, reg, x) == UC_ERR_OK ? 0 : -1;
}

int vmdl__arm64_reg_write(struct vmdl_vcpu *v, int reg, uint64_t x)
{
    const uc_arm64_cp_reg *enc = cp_reg(reg);
    if (enc) {
        uc_arm64_cp_reg cp = *enc;
        cp.val = x;
        return uc_reg_write(v->uc, UC_ARM64_REG_CP_REG, &cp) == UC_ERR_OK ? 0 : -1;
    }
    if (uc_reg_write(v->uc, reg, &x) != UC_ERR_OK)
        return -1;
    if (reg == UC_ARM64_REG_PSTATE) {
        /* Unicorn 2.1.1 does not rebuild QEMU's cached translation flags
         * (current EL, SP select) on a PSTATE write, so code after an EL
         * change would be translated for the old EL; any CP-register write
         * rebuilds them (measured): write SPSR_EL1 back unchanged. */
        uint64_t spsr;
        if (vmdl__arm64_reg_read(v, REG_SPSR_EL1, &spsr) ||
            vmdl__arm64_reg_write(v, REG_SPSR_EL1, spsr))
            return -1;
    }
    return 0;
}

/* ---------------- exception delivery ---------------- */

unsigned vmdl__arm64_pstate_el(uint64_t pstate)
{
    return (pstate >> 2) & 3;
}

/* Where a synchronous exception taken now would start: from EL0 (AArch64)
 * the lower-EL group at 0x400; from EL1 with SP_EL1 (EL1h) the 0x200 group,
 * with SP_EL0 (EL1t) the 0x000 one. */
uint64_t vmdl__arm64_sync_vector(struct vmdl_vcpu *v)
{
    uint64_t pstate = vmdl__arm64_rd(v, UC_ARM64_REG_PSTATE);
    uint64_t base = vmdl__arm64_pstate_el(pstate) == 0 ? 0x400
                    : (pstate & 1)                    ? 0x200 : 0x000;
    return vmdl__arm64_rd(v, UC_ARM64_REG_VBAR_EL1) + base;
}

void vmdl__arm64_take_exception(struct vmdl_vcpu *v, uint64_t return_pc,
                           unsigned vector_offset, bool sync, uint32_t esr)
{
    uint64_t pstate = vmdl__arm64_rd(v, UC_ARM64_REG_PSTATE);
    uint64_t vector = vmdl__arm64_sync_vector(v) + vector_offset;
    vmdl__arm64_wr(v, UC_ARM64_REG_ELR_EL1, return_pc);
    if (sync)
        vmdl__arm64_wr(v, UC_ARM64_REG_ESR_EL1, esr);
    /* QEMU keeps the current stack pointer in SP and the other one banked:
     * bank the one in use, switch to EL1h, load SP_EL1. */
    bool on_sp_el0 = vmdl__arm64_pstate_el(pstate) == 0 || !(pstate & 1);
    vmdl__arm64_wr(v, on_sp_el0 ? UC_ARM64_REG_SP_EL0 : UC_ARM64_REG_SP_EL1,
                   vmdl__arm64_rd(v, UC_ARM64_REG_SP));
    vmdl__arm64_wr(v, UC_ARM64_REG_PSTATE, (pstate & ~0xFull) | PSTATE_DAIF | PSTATE_EL1H);
    vmdl__arm64_wr(v, UC_ARM64_REG_SP, vmdl__arm64_rd(v, UC_ARM64_REG_SP_EL1));
    vmdl__arm64_wr(v, REG_SPSR_EL1, pstate);
    vmdl__arm64_wr(v, UC_ARM64_REG_PC, vector);
    v->halted = false;
}

int vmdl__arm64_deliver_sync(struct vmdl_vcpu *v, uint64_t pc, uint32_t esr)
{
    vmdl__arm64_take_exception(v, pc, 0x000, true,
                               esr ? esr : (ESR_EC_UNKNOWN << 26) | ESR_IL);
    vmdl__insns_add(v, 1);
    return VMDL_OK;
}

int vmdl__arm64_deliver_undef(struct vmdl_vcpu *v, uint64_t pc)
{
    return vmdl__arm64_deliver_sync(v, pc, 0);
}

uint32_t vmdl__arm64_sysreg_esr(const struct vmdl_sysreg_access *a)
{
    return ESR_EC_SYSREG << 26 | ESR_IL | (uint32_t)(a->op0 & 3) << 20 |
           (uint32_t)(a->op2 & 7) << 17 | (uint32_t)(a->op1 & 7) << 14 |
           (uint32_t)(a->crn & 15) << 10 | (uint32_t)(a->rt & 31) << 5 |
           (uint32_t)(a->crm & 15) << 1 | (a->is_write ? 0u : 1u);
}

void vmdl__arm64_deliver_irq(struct vmdl_vcpu *v)
{
    uint64_t pc = vmdl__arm64_rd(v, UC_ARM64_REG_PC);
    vmdl__arm64_take_exception(v, pc, 0x080, false, 0);
    vmdl__trace_exit(v, "irq", pc, "IRQ taken at VBAR_EL1+0x280");
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
    if ((err = vmdl__arm64_abort_init()))
        return err;
    if ((err = uc_check(uc_context_alloc(v->uc, &((struct arm64_vcpu *)v)->ctx),
                        "uc_context_alloc")))
        return err;
    if ((err = uc_check(uc_mem_map_ptr(v->uc, vm->ram_base, vm->ram_size,
                                       UC_PROT_ALL, vm->ram), "mapping guest RAM")))
        return err;
    if ((err = uc_check(uc_mmio_map(v->uc, VMDL_ARM64_PL011_BASE, 0x1000, pl011_read,
                                    v, pl011_write, v), "mapping the PL011")))
        return err;
    if ((err = uc_check(uc_hook_add(v->uc, &v->hooks[v->nr_hooks++], UC_HOOK_INTR,
                                    UC_CB(vmdl__arm64_intr_cb), v, 1, 0), "uc_hook_add")))
        return err;
    if ((err = uc_check(uc_hook_add(v->uc, &v->hooks[v->nr_hooks++],
                                    UC_HOOK_MEM_UNMAPPED, UC_CB(vmdl__unmapped_cb), v, 1, 0),
                        "uc_hook_add")))
        return err;
    /* Registers QEMU knows (the generic timer's) reach the handlers through
     * the MRS/MSR instruction hooks (trap.c), compiled into every block. */
    static const int sys_insns[] = {UC_ARM64_INS_MRS, UC_ARM64_INS_MSR};
    for (unsigned i = 0; i < 2; i++)
        if ((err = uc_check(uc_hook_add(v->uc, &v->hooks[v->nr_hooks++], UC_HOOK_INSN,
                                        UC_CB(vmdl__arm64_sysreg_insn_cb), v, 1, 0,
                                        sys_insns[i]), "uc_hook_add (MRS/MSR)")))
            return err;
    return VMDL_OK;
}

int vmdl__arm64_vcpu_reset(struct vmdl_vcpu *v, uint64_t entry)
{
    struct vmdl_vm *vm = v->vm;
    uint64_t x0;
    bool off;
    vmdl__arm64_wr(v, UC_ARM64_REG_PSTATE, PSTATE_DAIF | PSTATE_EL1H);
    int err = vmdl__arm64_reset_sysregs(v);
    if (err)
        return err;
    vmdl__arm64_boot_regs(v, &x0, &off);
    for (unsigned i = 0; i <= 30; i++)
        vmdl__arm64_write_x(v, i, 0);
    vmdl__arm64_write_x(v, 0, x0);
    v->wait_for_sipi = off;
    vmdl__arm64_wr(v, UC_ARM64_REG_SP, vm->ram_base + vm->ram_size - v->index * 0x10000ull - 16);
    vmdl__arm64_wr(v, UC_ARM64_REG_PC, entry);
    vmdl__arm64_wr(v, UC_ARM64_REG_VBAR_EL1, 0);
    v->halted = false;
    v->irq_line = false;
    v->pending = PENDING_NONE;
    v->start_pc = entry;
    v->started = true;
    return VMDL_OK;
}
