/* SPDX-License-Identifier: MIT */
/*
 * The arm64 vCPU over Unicorn (internal to src/machine/arm64/): EL1, MMU
 * off.  System-register accesses QEMU does not know (every GICv5 register
 * and system instruction) raise UNDEF, which reaches UC_HOOK_INTR with the
 * PC at the instruction (docs/unicorn.md fact 6); the hook decodes MRS/MSR/SYS,
 * asks the handlers, writes Xt and resumes at PC+4 without leaving the
 * engine.  Whatever needs the run loop (an exit to the caller, an exception
 * to deliver, an IRQ that became deliverable) stops the engine instead.
 * Exceptions are delivered here, through VBAR_EL1, since Unicorn does not.
 *   vcpu.c       engine set-up, reset, registers, exception delivery
 *   trap.c       the trap hook: system registers, HVC/SMC, PSCI
 *   run.c        one entry into the engine, MMIO exits, completion
 *   arm64_ops.c  the struct vmdl_arch_ops table, checkpoint words
 *   boot.c       QEMU -kernel style boot, device tree, EL2/EL3 state, PSCI
 *   abort.c      aborts from Unicorn's MMU: QEMU's syndrome and address
 */
#ifndef VMDL_ARM64_H
#define VMDL_ARM64_H

#include "../arch_ops.h"

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
#define ESR_EC_SYSREG 0x18u

/* EL1 system registers the machine reaches as CP registers (Unicorn names
 * no id for SPSR_EL1, SCTLR_EL1, TCR_EL1, AMAIR_EL1, CONTEXTIDR_EL1; the
 * rest go the same way so that one table in vcpu.c holds every encoding
 * and a write rebuilds QEMU's cached translation flags). */
#define REG_SPSR_EL1 0x10000
#define REG_SCTLR_EL1 0x10001
#define REG_TCR_EL1 0x10002
#define REG_MAIR_EL1 0x10003
#define REG_AMAIR_EL1 0x10004
#define REG_TTBR0_EL1 0x10005
#define REG_TTBR1_EL1 0x10006
#define REG_CONTEXTIDR_EL1 0x10007
#define REG_PAR_EL1 0x10008
#define REG_CPACR_EL1 0x10009

struct arm64_vcpu {
    struct vmdl_vcpu common;    /* first: a struct vmdl_vcpu * points here */
    uc_context *ctx;            /* scratch: reading QEMU's abort record (abort.c) */
    bool hook_fault;            /* an MSR refused in the instruction hook: */
    uint64_t hook_fault_pc;     /*   UNDEF at this PC once the engine stops */
    uint32_t fault_esr;         /* ESR of the pending STOP_FAULT; 0: UNDEF */
    uc_hook exact_hook;         /* the stop at vcpu->exact_pc (run.c) */
};

/* vcpu.c */
int vmdl__arm64_reg(enum vmdl_reg r);
int vmdl__arm64_reg_read(struct vmdl_vcpu *v, int reg, uint64_t *x);
int vmdl__arm64_reg_write(struct vmdl_vcpu *v, int reg, uint64_t x);
void vmdl__arm64_take_exception(struct vmdl_vcpu *v, uint64_t return_pc,
                                unsigned vector_offset, bool sync, uint32_t esr);
int vmdl__arm64_deliver_undef(struct vmdl_vcpu *v, uint64_t pc);
/* A synchronous exception with this ESR (or UNDEF for 0) for the
 * instruction at pc, which counts as executed. */
int vmdl__arm64_deliver_sync(struct vmdl_vcpu *v, uint64_t pc, uint32_t esr);
/* The ESR of a trapped MSR/MRS/SYS (EC 0x18): Op0, Op2, Op1, CRn, Rt, CRm,
 * direction (1 = read), as the Arm ARM's ISS encoding for EC 0x18. */
uint32_t vmdl__arm64_sysreg_esr(const struct vmdl_sysreg_access *a);
/* Stop the engine to deliver what a handler's fault asks for. */
void vmdl__arm64_stop_fault(struct vmdl_vcpu *v, const struct vmdl_sysreg_access *a,
                            vmdl_fault f);
void vmdl__arm64_deliver_irq(struct vmdl_vcpu *v);
int vmdl__arm64_vcpu_init(struct vmdl_vcpu *v);
int vmdl__arm64_vcpu_reset(struct vmdl_vcpu *v, uint64_t entry);
unsigned vmdl__arm64_pstate_el(uint64_t pstate);
uint64_t vmdl__arm64_sync_vector(struct vmdl_vcpu *v);

/*
 * The accessors of the trap path (an MRS of a GICv5 register goes through
 * each of them once or twice), inline: as out-of-line calls into vcpu.c
 * they made the MRS round trip 9-20% slower after the machine split
 * (issue 13, docs/performance.md).  Only SPSR_EL1 (a CP register) and
 * PSTATE (which needs QEMU's flags rebuilt) take the general path.
 */
static inline uint64_t vmdl__arm64_rd(struct vmdl_vcpu *v, int reg)
{
    uint64_t x = 0;
    if (__builtin_expect(reg == REG_SPSR_EL1, 0))
        vmdl__arm64_reg_read(v, reg, &x);
    else
        uc_reg_read(v->uc, reg, &x);
    return x;
}

static inline void vmdl__arm64_wr(struct vmdl_vcpu *v, int reg, uint64_t x)
{
    if (__builtin_expect(reg == REG_SPSR_EL1 || reg == UC_ARM64_REG_PSTATE, 0))
        vmdl__arm64_reg_write(v, reg, x);
    else
        uc_reg_write(v->uc, reg, &x);
}

/* Xn by number; 31 is XZR (reads 0, writes dropped). */
static inline int vmdl__arm64_x_reg(unsigned n)
{
    return n <= 28 ? UC_ARM64_REG_X0 + (int)n : n == 29 ? UC_ARM64_REG_X29 : UC_ARM64_REG_X30;
}

static inline uint64_t vmdl__arm64_read_x(struct vmdl_vcpu *v, unsigned n)
{
    return n == 31 ? 0 : vmdl__arm64_rd(v, vmdl__arm64_x_reg(n));
}

static inline void vmdl__arm64_write_x(struct vmdl_vcpu *v, unsigned n, uint64_t val)
{
    if (n != 31)
        vmdl__arm64_wr(v, vmdl__arm64_x_reg(n), val);
}

static inline void vmdl__arm64_set_stop(struct vmdl_vcpu *v, enum stop_kind k)
{
    if (v->stop == STOP_NONE || v->stop == STOP_KICK)
        v->stop = k;
    uc_emu_stop(v->uc);
}

/* The instruction word at pc (virtual), 0 when it cannot be read. */
static inline uint32_t vmdl__arm64_insn_at(struct vmdl_vcpu *v, uint64_t pc)
{
    uint32_t w = 0;
    if (uc_mem_read(v->uc, pc, &w, 4) != UC_ERR_OK)
        return 0;
    return w;
}

/* boot.c */
enum vmdl__psci_outcome {
    VMDL__PSCI_DONE,         /* x0 written: resume after the HVC */
    VMDL__PSCI_STOPPED,      /* CPU_OFF: the caller is powered off */
    VMDL__PSCI_WFI,          /* CPU_SUSPEND: wait for an interrupt */
    VMDL__PSCI_SYSTEM_OFF,
    VMDL__PSCI_SYSTEM_RESET,
};
/* EL3/EL2 state under the guest's EL1, SCTLR_EL1 and the TLB at reset. */
int vmdl__arm64_reset_sysregs(struct vmdl_vcpu *v);
void vmdl__arm64_boot_regs(struct vmdl_vcpu *v, uint64_t *x0, bool *off);
/* x[0..3] in: the caller's x0..x3; out: x[0] the value for x0. */
int vmdl__arm64_psci(struct vmdl_vcpu *v, uint64_t x[4], enum vmdl__psci_outcome *out);

/* abort.c: where QEMU keeps an abort's syndrome and address. */
int vmdl__arm64_abort_init(void);
int vmdl__arm64_abort_info(struct vmdl_vcpu *v, uint32_t *esr, uint64_t *far,
                           unsigned *target_el);

/* trap.c */
void vmdl__arm64_intr_cb(uc_engine *uc, uint32_t intno, void *user);
bool vmdl__arm64_decode_hypercall(uint32_t w, uint16_t *imm, bool *is_smc);
/* An MRS/MSR/SYS/SYSL word (op0 != 0) into an access; false otherwise. */
bool vmdl__arm64_decode_sysreg(uint32_t w, struct vmdl_sysreg_access *a);
enum hc_result { HC_DONE, HC_TO_CALLER, HC_SHUTDOWN, HC_RESET, HC_ERROR };
enum hc_result vmdl__arm64_hypercall(struct vmdl_vcpu *v, uint64_t pc);
void vmdl__arm64_irq_recheck(struct vmdl_vcpu *v);
uint32_t vmdl__arm64_sysreg_insn_cb(uc_engine *uc, uc_arm64_reg reg,
                                    const uc_arm64_cp_reg *cp, void *user);

/* run.c */
int vmdl__arm64_run(struct vmdl_vcpu *v, struct vmdl_exit *exit, bool *to_caller);
int vmdl__arm64_complete(struct vmdl_vcpu *v, uint64_t value, vmdl_fault fault);

#endif
