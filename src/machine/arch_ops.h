/* SPDX-License-Identifier: MIT */
/*
 * The architecture interface.  Each architecture implements it once
 * (x86/x86_ops.c, arm64/arm64_ops.c); the generic VM, run loop, scheduler
 * and checkpoint code reach an architecture only through vm->arch_ops, found
 * by vmdl__arch_ops() at VM creation.
 *
 * Where future work goes:
 *  - more guest state (segment and system registers, FPU, arm64 EL1
 *    registers): a row in the register table plus its save/load words;
 *  - a GDB stub: regs[] (names and ids), get_reg/set_reg, translate, and
 *    single-step / breakpoints on top of run (uc_emu_start with a count);
 *  - real-mode / protected-mode / paged x86 guests and the arm64 MMU:
 *    translate, and deliver_exception for every mode;
 *  - prompt interrupt delivery and IOAPIC / PSCI CPU_ON / timers: devices are
 *    models (model.h); the vCPU side is inject_irq, can_wake, and run.
 */
#ifndef VMDL_ARCH_OPS_H
#define VMDL_ARCH_OPS_H

#include "machine_internal.h"
#include "virtmodel/blob.h"

/* One row of an architecture's register table. */
struct vmdl_arch_reg {
    enum vmdl_reg id;
    const char *name;     /* GDB-style name */
    int uc;               /* Unicorn register id; -1: kept by the machine */
};

/* An exception or interrupt to deliver into the guest. */
struct vmdl_arch_event {
    unsigned vector;      /* x86: IDT vector; arm64: offset in the vector table */
    bool has_error;       /* x86: push error_code */
    uint64_t error_code;  /* x86: error code; arm64: ESR_EL1 for a sync one */
    uint64_t return_pc;   /* where the handler returns to */
};

struct vmdl_arch_ops {
    enum vmdl_arch arch;
    size_t vcpu_size;                 /* the architecture's vCPU structure */
    uint64_t default_ram_base;
    int cs_arch, cs_mode;             /* Capstone */
    enum vmdl_reg pc_reg;
    unsigned insn_families;           /* bit (1 << enum vmdl_insn_family) */
    /* The architecture lands an interrupt controller's or time source's
     * event at its exact instruction: the block hook asks for a stop right
     * before it (vcpu->exact_pc) and the architecture's run places it. */
    bool exact_events;

    /* VM: refuse a RAM layout the architecture cannot hold (*low: how many
     * of the ram_size bytes lie at ram_base; the rest goes at 4 GiB, x86);
     * set up VM-wide defaults (the x86 CPUID table). */
    int (*check_layout)(uint64_t ram_base, uint64_t ram_size, uint64_t *low);
    void (*vm_init)(struct vmdl_vm *vm);

    /* vCPU lifecycle: open the engine, reset to the image entry, free. */
    int (*vcpu_init)(struct vmdl_vcpu *vcpu);
    int (*vcpu_reset)(struct vmdl_vcpu *vcpu, uint64_t entry);
    void (*vcpu_free)(struct vmdl_vcpu *vcpu);

    /* Run until an exit (*to_caller: the caller must see it), and complete
     * the pending exit with a value or a fault. */
    int (*run)(struct vmdl_vcpu *vcpu, struct vmdl_exit *exit, bool *to_caller);
    int (*complete)(struct vmdl_vcpu *vcpu, uint64_t value, vmdl_fault fault);
    /* Is `fault` one this architecture can raise? */
    bool (*fault_valid)(vmdl_fault fault);
    int (*raise_fault)(struct vmdl_vcpu *vcpu, vmdl_fault fault);
    int (*deliver_exception)(struct vmdl_vcpu *vcpu, const struct vmdl_arch_event *ev);

    /* Interrupts: accept an external interrupt / NMI (NULL: none on this
     * architecture); could one end a HLT/WFI now? */
    int (*inject_irq)(struct vmdl_vcpu *vcpu, unsigned vector);
    int (*inject_nmi)(struct vmdl_vcpu *vcpu);
    bool (*can_wake)(struct vmdl_vcpu *vcpu);
    /* In the block hook while an interrupt waits: has the guest unmasked? */
    bool (*irq_window_open)(struct vmdl_vcpu *vcpu);
    /* Around a device access made from inside the engine (MMIO): state the
     * engine keeps for a model goes to it before and back after (x86: the
     * TPR as the hosted vCPU's V_TPR).  NULL: nothing to do. */
    void (*device_enter)(struct vmdl_vcpu *vcpu);
    /* A device access from inside the engine, for its cost in virtual
     * time (x86/exit_cost.c).  NULL: none. */
    void (*mmio_cost)(struct vmdl_vcpu *vcpu, uint64_t gpa, bool write);
    void (*device_leave)(struct vmdl_vcpu *vcpu);

    /* Registers: the table, and access by id. */
    const struct vmdl_arch_reg *regs;
    unsigned nr_regs;
    int (*get_reg)(struct vmdl_vcpu *vcpu, enum vmdl_reg reg, uint64_t *val);
    int (*set_reg)(struct vmdl_vcpu *vcpu, enum vmdl_reg reg, uint64_t val);

    /* Guest-virtual to guest-physical (identity while paging is not
     * modelled); VMDL_EFAULT-style error when unmapped. */
    int (*translate)(struct vmdl_vcpu *vcpu, uint64_t va, uint64_t *pa);

    /* Decoding: one line of disassembly; does this instruction open an
     * interrupt shadow (x86 STI / MOV SS / POP SS; NULL: never)? */
    void (*disasm)(struct vmdl_vcpu *vcpu, uint64_t pc, char *buf, size_t len);
    /* The guest's own clock at the vCPU's virtual time (x86: the TSC), read
     * without side effects, for traces; NULL: the architecture has none
     * the machine models. */
    uint64_t (*guest_clock)(struct vmdl_vcpu *vcpu);
    bool (*insn_is_shadow)(const cs_insn *insn);
    /* Does the instruction stall virtual time when it retires in the
     * engine (enum vmdl__stall_kind: x86 PAUSE; vtime.c)?  NULL: none. */
    int (*insn_stall)(const cs_insn *insn);
    /* The Capstone handle for code the vCPU runs now (x86: by the code
     * segment's size on the hosted vCPU); NULL: the VM's handle. */
    csh (*code_cs)(struct vmdl_vcpu *vcpu);
    /* Instructions the machine checks right before they run, with a code
     * hook bounded to each (x86: aligned-SSE operands, hosted_align.c):
     * which ones, and the hooks for a block's (true: some were added, the
     * engine leaves before the block so that it is translated with them).
     * NULL: none. */
    bool (*insn_checked)(const cs_insn *insn);
    bool (*arm_checks)(struct vmdl_vcpu *vcpu, const uint64_t *at, unsigned n);
    /* While vcpu->block_watch: a look at every block entry (no fast path);
     * true leaves before the block. */
    bool (*block_watch)(struct vmdl_vcpu *vcpu, uint64_t addr);
    /* Put the PC at the start of the block at addr (the block hook's
     * address) after leaving before it; NULL: the PC register is addr. */
    void (*set_block_pc)(struct vmdl_vcpu *vcpu, uint64_t addr);

    /* Checkpoints: the architectural words of a vCPU record.  save writes
     * them, load reads and checks them into words[] (at most
     * VMDL_ARCH_STATE_WORDS), apply puts checked words into the vCPU. */
    void (*save_state)(struct vmdl_vcpu *vcpu, struct vmdl_blob_writer *w);
    void (*load_state)(struct vmdl_blob_reader *r, uint64_t *words);
    void (*apply_state)(struct vmdl_vcpu *vcpu, const uint64_t *words);
    /* The architecture's own section of a checkpoint (x86: hosted vCPUs
     * and the PC platform; format 5): save gives a blob (empty: none),
     * stage parses and checks one (*staged NULL for an empty one), apply
     * puts what stage checked into the VM, free drops it.  NULL: none. */
    int (*ext_save)(struct vmdl_vm *vm, uint8_t **blob, size_t *len);
    int (*ext_stage)(struct vmdl_vm *vm, const uint8_t *blob, size_t len, void **staged);
    void (*ext_apply)(struct vmdl_vm *vm, const void *staged);
    void (*ext_free)(void *staged);
};

#define VMDL_ARCH_STATE_WORDS 192

extern const struct vmdl_arch_ops vmdl__x86_ops;
extern const struct vmdl_arch_ops vmdl__arm64_ops;

/* The table for an architecture, NULL for an unknown one. */
const struct vmdl_arch_ops *vmdl__arch_ops(enum vmdl_arch arch);

/* Look a register up in ops->regs (NULL: not this architecture's). */
const struct vmdl_arch_reg *vmdl__arch_reg(const struct vmdl_arch_ops *ops,
                                           enum vmdl_reg reg);

#endif
