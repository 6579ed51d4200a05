/* SPDX-License-Identifier: MIT */
/*
 * Internal structures of the machine layer.  Only src/machine sees Unicorn
 * and Capstone.
 */
#ifndef VMDL_MACHINE_INTERNAL_H
#define VMDL_MACHINE_INTERNAL_H

#include <capstone/capstone.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unicorn/unicorn.h>

#include "virtmodel/machine.h"

#define MAX_HANDLERS 32

struct msr_range {
    uint32_t first, last;
    const struct vmdl_msr_ops *ops;
    void *opaque;
};

struct io_range {
    uint16_t first, last;
    const struct vmdl_io_ops *ops;
    void *opaque;
};

struct mmio_region {
    uint64_t base, size;
    const struct vmdl_mmio_ops *ops;
    void *opaque;
    struct vmdl_vm *vm;
};

struct cb_entry {
    void *fn;
    void *opaque;
};

/* Cached instruction layout of one translation block (for exact counts). */
struct block_info {
    uint64_t addr;
    uint32_t size;
    uint32_t ninsns;
    uint16_t *offsets;     /* byte offset of each instruction */
    bool ends_in_branch;   /* last instruction transfers control */
    bool ends_in_shadow;   /* last instruction is STI / MOV SS / POP SS */
    struct block_info *next;
};

#define BLOCK_HASH_SIZE 1024

enum pending_kind {
    PENDING_NONE = 0,
    PENDING_MSR_READ, PENDING_MSR_WRITE,
    PENDING_IO_IN, PENDING_IO_OUT,
    PENDING_MMIO_READ, PENDING_MMIO_WRITE,
    PENDING_SYSREG,
    PENDING_INSN,          /* VMX / SEAM with no handler */
    PENDING_HYPERCALL,
};

/* Why the last uc_emu_start came back (filled by the hooks). */
enum stop_kind {
    STOP_NONE = 0,
    STOP_INTR,          /* exception: vector in stop_vector */
    STOP_INVALID,       /* #UD from Unicorn's invalid-instruction hook */
    STOP_IO_EXIT,       /* port I/O for the caller */
    STOP_MMIO,          /* unmapped access */
    STOP_SHUTDOWN,      /* guest asked to power off */
    STOP_RESET,         /* guest asked for a reset */
    STOP_KICK,          /* time-based: quantum, timer, counter, budget */
    STOP_SYSREG_EXIT,   /* arm64 sysreg access for the caller */
    STOP_HYPERCALL,     /* arm64 HVC/SMC for the caller */
    STOP_IRQ,           /* arm64: an interrupt became deliverable */
    STOP_FAULT,         /* a handler asked for a fault: deliver it */
};

struct vmdl_vcpu {
    struct vmdl_vm *vm;
    unsigned index;
    uc_engine *uc;
    uc_context *ctx;        /* scratch for the x86 exception-state fix */
    uc_context *io_ctx;     /* registers at an I/O exit (see x86_vcpu.c) */
    bool exc_dirty;         /* an exception was raised: clear QEMU's state */
    bool stop_rip_exact;    /* x86: RIP is at the faulting access (TLB fill) */
    bool irq_window;        /* x86: an interrupt waits for RFLAGS.IF */
    uc_hook hooks[12];
    unsigned nr_hooks;
    uc_hook block_hook;
    bool block_hook_on;

    /* Lifecycle. */
    bool started;           /* entered the guest (x86: CPL3 via IRETQ) */
    bool halted;            /* in HLT / WFI */
    bool wait_for_sipi;     /* x86: after INIT, until SIPI */
    uint64_t start_pc;      /* where the vCPU begins on (re)start */

    /* Exit in progress. */
    enum stop_kind stop;
    unsigned stop_vector;
    uint64_t stop_error_code;
    int stop_status;
    enum pending_kind pending;
    struct vmdl_exit exit;  /* the exit the caller sees */
    unsigned pending_len;   /* length of the instruction to retire */
    uint8_t pending_reg;    /* x86: register a completed load writes */
    uint8_t pending_size;
    uint8_t pending_string; /* x86: STOS/MOVS/LODS element (x86_vcpu.c) */
    bool pending_rep;       /* ... with a REP prefix */

    /* Virtual x86 state (the guest believes it runs at CPL0). */
    uint64_t cr0, cr2, cr3, cr4, cr8, efer;
    uint64_t idtr_base, gdtr_base;
    uint64_t kernel_gs_base;
    uint64_t tsc_offset;    /* guest TSC = retired instructions + offset */
    bool tsc_observed;      /* the guest read the TSC: time counts from now on */
    uint64_t xcr0;
    uint16_t idtr_limit, gdtr_limit;
    bool nmi_pending;
    bool nmi_blocked;       /* between NMI delivery and its IRETQ */
    int queued_irq;         /* vector injected by the caller, -1 none */

    /* arm64. */
    bool irq_line;          /* caller-asserted IRQ (no irqchip) */

    /* Virtual time. */
    uint64_t insns;         /* retired instructions, exact at exits */
    uint64_t branches;
    int count_users;
    uint64_t kick_at;       /* stop when insns reaches this */
    uint64_t slice_end;     /* scheduler quantum end */
    uint64_t kick_deadline; /* min of the above and timers, this entry */
    struct block_info *cur_block;
    struct block_info *ran_block; /* ran to its end right before the stop */
    uint64_t shadow_at;     /* x86: RIP right after an STI/MOV SS that ended a block */
    uint64_t cur_block_base; /* insns before cur_block started */
    struct block_info *blocks[BLOCK_HASH_SIZE];

    /* Cost statistics. */
    uint64_t nr_exits;
};

struct vmdl_vm {
    struct vmdl_vm_config cfg;
    enum vmdl_arch arch;
    uint8_t *ram;
    uint64_t ram_base, ram_size;
    struct vmdl_guest_mem mem;
    struct vmdl_vcpu *vcpus[VMDL_MAX_VCPUS];
    unsigned nr_vcpus;
    unsigned next_vcpu;     /* round-robin cursor */
    csh cs;                 /* Capstone handle */

    struct msr_range msrs[MAX_HANDLERS];
    unsigned nr_msrs;
    struct io_range ios[MAX_HANDLERS];
    unsigned nr_ios;
    struct mmio_region mmios[MAX_HANDLERS];
    unsigned nr_mmios;
    struct cb_entry sysregs[MAX_HANDLERS];
    unsigned nr_sysregs;
    struct cb_entry hypercalls[MAX_HANDLERS];
    unsigned nr_hypercalls;
    struct cb_entry resets[MAX_HANDLERS];
    unsigned nr_resets;
    struct cb_entry destroys[MAX_HANDLERS];
    unsigned nr_destroys;
    vmdl_x86_insn_fn vmx_fn, seam_fn;
    void *vmx_opaque, *seam_opaque;
    struct time_hook { const struct vmdl_time_ops *ops; void *opaque; } times[MAX_HANDLERS];
    unsigned nr_times;
    struct state_hook {
        char name[32];
        vmdl_state_save_fn save;
        vmdl_state_load_fn load;
        void *opaque;
    } states[MAX_HANDLERS];
    unsigned nr_states;
    const struct vmdl_irqchip_ops *irqchip;
    void *irqchip_opaque;

    struct vmdl_cpuid_entry *cpuid;
    unsigned nr_cpuid, cap_cpuid;

    /* Image bytes restored on VM reset (snapshot taken at set_entry). */
    struct image_range { uint64_t gpa, len; uint8_t *copy; } images[16];
    unsigned nr_images;
    uint64_t entry;
    uint64_t reset_count;

    /* Limits. */
    uint64_t max_insns;
    double timeout_s;
    double run_started;
    bool limits_armed;
    /* --timeout: one watchdog thread per armed run that stops whichever
     * engine runs once the deadline passes (Unicorn's own per-call timeout
     * starts a thread on every uc_emu_start, about 0.3 ms per exit). */
    pthread_t watchdog;
    bool watchdog_on;
    pthread_mutex_t wd_lock;
    pthread_cond_t wd_cond;
    bool wd_quit;
    struct vmdl_vcpu *running;
    atomic_bool timed_out;

    FILE *trace;
    int x86_exc_offset;     /* offset of QEMU's old_exception in uc_context */
    size_t ctx_size;
    bool entry_set;
};

/* vm.c */
struct msr_range *vmdl__find_msr(struct vmdl_vm *vm, uint32_t index);
struct io_range *vmdl__find_io(struct vmdl_vm *vm, uint16_t port);
void vmdl__console(struct vmdl_vm *vm, const char *buf, size_t len);
double vmdl__now(void);
bool vmdl__unmapped_cb(uc_engine *uc, uc_mem_type type, uint64_t addr, int size,
                       int64_t value, void *user);

/* run.c */
void vmdl__engine_enter(struct vmdl_vcpu *vcpu);
void vmdl__engine_leave(struct vmdl_vcpu *vcpu);
void vmdl__watchdog_stop(struct vmdl_vm *vm);

/* insn_count.c */
void vmdl__count_update_hook(struct vmdl_vcpu *vcpu);
void vmdl__count_at_stop(struct vmdl_vcpu *vcpu, uint64_t pc);
void vmdl__count_free(struct vmdl_vcpu *vcpu);
bool vmdl__last_insn_was_shadow(struct vmdl_vcpu *vcpu, uint64_t pc);
/* While counting: the engine stopped fetching right after a block that ended
 * in a branch (a branch to an address that cannot be fetched).  Gives the
 * branch's address and takes it back out of the instruction and branch
 * counts, since it faults instead of retiring. */
bool vmdl__count_unretire_branch(struct vmdl_vcpu *vcpu, uint64_t *branch_pc);
uint64_t vmdl__next_deadline(struct vmdl_vcpu *vcpu);

/* x86_vcpu.c */
int vmdl__x86_vcpu_init(struct vmdl_vcpu *vcpu);
int vmdl__x86_vcpu_reset(struct vmdl_vcpu *vcpu, uint64_t entry);
int vmdl__x86_run(struct vmdl_vcpu *vcpu, struct vmdl_exit *exit, bool *to_caller);
int vmdl__x86_complete(struct vmdl_vcpu *vcpu, uint64_t value, vmdl_fault fault);
int vmdl__x86_deliver(struct vmdl_vcpu *vcpu, unsigned vector, bool has_error,
                      uint64_t error_code, uint64_t return_rip);
int vmdl__x86_reg(enum vmdl_reg r);
uint64_t vmdl__x86_mem_addr(struct vmdl_vcpu *v, const cs_insn *in, const cs_x86_op *op);

/* x86_decode.c */
int vmdl__x86_decode_special(struct vmdl_vcpu *vcpu, uint64_t rip,
                             struct vmdl_x86_insn *insn);
int vmdl__x86_insn_length(struct vmdl_vcpu *vcpu, uint64_t rip, char *text,
                          size_t text_len, cs_insn **out);
void vmdl__disasm(struct vmdl_vcpu *vcpu, uint64_t pc, char *buf, size_t len);

/* arm64_vcpu.c */
int vmdl__arm64_vcpu_init(struct vmdl_vcpu *vcpu);
int vmdl__arm64_vcpu_reset(struct vmdl_vcpu *vcpu, uint64_t entry);
int vmdl__arm64_run(struct vmdl_vcpu *vcpu, struct vmdl_exit *exit, bool *to_caller);
int vmdl__arm64_complete(struct vmdl_vcpu *vcpu, uint64_t value, vmdl_fault fault);
int vmdl__arm64_reg(enum vmdl_reg r);
int vmdl__arm64_reg_read(struct vmdl_vcpu *v, int reg, uint64_t *x);
int vmdl__arm64_reg_write(struct vmdl_vcpu *v, int reg, uint64_t x);
int vmdl__arm64_deliver_undef(struct vmdl_vcpu *vcpu, uint64_t pc);

/* trace */
void vmdl__trace_exit(struct vmdl_vcpu *vcpu, const char *what, uint64_t pc,
                      const char *outcome);

#endif
