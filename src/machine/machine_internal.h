/* SPDX-License-Identifier: MIT */
/*
 * Internal structures of the machine layer, shared by the generic code
 * (vm.c, registry.c, run.c, scheduler.c, checkpoint.c, insn_count.c, ...)
 * and the architectures (x86/, arm64/).  Generic code reaches an
 * architecture only through vm->arch_ops (arch_ops.h).  Only src/machine
 * sees Unicorn and Capstone.
 */
#ifndef VMDL_MACHINE_INTERNAL_H
#define VMDL_MACHINE_INTERNAL_H

#include <capstone/capstone.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unicorn/unicorn.h>

#include "virtmodel/machine.h"
#include "virtmodel/model.h"

struct vmdl_vm_stats;

#define MAX_HANDLERS 32

/*
 * Unicorn takes every hook callback as a void *.  ISO C has no conversion
 * from a function pointer to void *; POSIX guarantees they have the same
 * representation, so copy the bits instead of casting (-Wpedantic clean).
 */
typedef void (*vmdl__any_fn)(void);
_Static_assert(sizeof(vmdl__any_fn) == sizeof(void *), "function pointer size");
static inline void *vmdl__uc_cb(vmdl__any_fn fn)
{
    void *p;
    memcpy(&p, &fn, sizeof(p));
    return p;
}
#define UC_CB(fn) vmdl__uc_cb((vmdl__any_fn)(fn))

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

struct mmio_binding;
struct mmio_region {
    uint64_t base, size;
    const struct vmdl_mmio_ops *ops;
    void *opaque;
    struct vmdl_vm *vm;
    struct mmio_binding *bind;  /* one per vCPU: where its engine maps it */
};

struct sysreg_handler { vmdl_sysreg_fn fn; void *opaque; };
struct hypercall_handler { vmdl_hypercall_fn fn; void *opaque; };
struct reset_hook { vmdl_reset_fn fn; void *opaque; };
struct destroy_hook { vmdl_destroy_fn fn; void *opaque; };
struct time_hook { const struct vmdl_time_ops *ops; void *opaque; };
struct insn_handler { vmdl_x86_insn_fn fn; void *opaque; };
struct dr_handler { vmdl_x86_dr_fn fn; void *opaque; };
struct switch_hook { vmdl_world_switch_fn fn; void *opaque; };
struct state_hook {
    char name[32];
    vmdl_state_save_fn save;
    vmdl_state_load_fn load;
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
    /* Not for the block hook's fast paths: ends in a shadow, or stalls
     * (insn_count.c, set_cur_block). */
    bool no_fast;
    /* Instructions that stall virtual time (vtime.c): an x86 PAUSE, or
     * one KVM exits on that the engine runs natively (WBINVD...). */
    uint16_t nstall;
    struct block_stall { uint16_t idx; uint8_t kind; } *stalls; /* ascending idx */
    uint64_t stall;        /* stall cycles the block adds at the VM's weights */
    /* Instructions checked before they run (arch_ops->insn_checked), and
     * whether their hooks were asked for. */
    uint16_t nchecks;
    bool checks_armed;
    uint64_t *checks;
    struct block_info *next;
};

#define BLOCK_HASH_SIZE 1024
/* Blocks the block hook's second fast path finds without a chain walk
 * (insn_count.c): one slot per hash of the address. */
#define BLOCK_RECENT_SIZE 256

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
    STOP_SITE,          /* x86: a trap-site hook handled an instruction and
                           left the rest (fault, exit) to the loop */
    STOP_SLEEP,         /* the guest put the VM to sleep (ACPI S3) */
};

/*
 * The architecture-independent part of a vCPU.  Each architecture embeds
 * it as the first member of its own vCPU structure (x86/x86.h,
 * arm64/arm64.h) and allocates it (arch_ops->vcpu_size).
 */
struct vmdl_vcpu {
    struct vmdl_vm *vm;
    unsigned index;
    uc_engine *uc;
    uc_hook hooks[12];
    unsigned nr_hooks;
    uc_hook block_hook;
    bool block_hook_on;

    /* Lifecycle. */
    bool started;           /* entered the guest (x86: CPL3 via IRETQ) */
    bool halted;            /* in HLT / WFI */
    bool wait_for_sipi;     /* waiting for a start-up event (x86 INIT/SIPI,
                             * arm64 PSCI CPU_ON: arm64/boot.c) */
    uint64_t start_pc;      /* where the vCPU begins on (re)start */

    /* Exit in progress. */
    enum stop_kind stop;
    unsigned stop_vector;
    uint64_t stop_error_code;
    int stop_status;
    enum pending_kind pending;
    struct vmdl_exit exit;  /* the exit the caller sees */
    unsigned pending_len;   /* length of the instruction to retire */
    uint8_t pending_reg;    /* register a completed load writes */
    uint8_t pending_size;

    /* Pending events (saved in checkpoints). */
    bool nmi_pending;
    bool nmi_blocked;       /* between NMI delivery and its return */
    int queued_irq;         /* vector injected by the caller, -1 none */
    bool irq_line;          /* caller-asserted IRQ line (no irqchip) */
    bool irq_window;        /* an interrupt waits for the guest to unmask */
    bool window_hook_kept;  /* the block hook stays once a window needed it */
    bool block_watch;       /* every block entry goes to arch_ops->block_watch */

    /* Virtual time (docs/architecture.md, "Virtual time"): retired
     * instructions plus stall cycles (PAUSE, VM-exit-like traps). */
    /* Retired instructions and branches: read them with vmdl__insns /
     * vmdl__branches, change them with vmdl__insns_set / _add (the block
     * hook's fast path leaves its entries to be folded in: fast_left). */
    uint64_t insns_done;
    uint64_t stall;         /* stall cycles, exact at exits (vtime.c) */
    uint64_t branches_done;
    int count_users;
    bool code_hooks;        /* address-bounded code hooks exist (x86 trap sites) */
    /* Set by an instruction handler that completed an instruction KVM runs
     * without a VM exit and that changed nothing the between-exits work
     * looks at (an L1 VMREAD/VMWRITE: the shadow VMCS); vmdl__hook_no_exit. */
    bool insn_no_exit;
    uint64_t kick_at;       /* stop when virtual time reaches this */
    uint64_t slice_end;     /* scheduler quantum end (retired instructions) */
    /* When the block hook stops the engine, in retired instructions: the
     * min of the quantum, the budget and vt_deadline converted at the
     * current stall (lowered whenever the stall grows, vmdl__stall_add). */
    uint64_t kick_deadline;  /* written through vmdl__set_kick */
    uint64_t vt_deadline;   /* its virtual-time part: kick_at and timers */
    uint64_t event_deadline; /* the timers' part of it (vmdl__next_deadline) */
    uint64_t exact_pc;      /* stop right before this instruction once the */
    uint64_t exact_at;      /*   count is here (0: none asked; insn_count.c) */
    bool exact_placed;      /* the architecture placed that stop this entry */
    uint64_t exact_refused; /* a deadline it could not place one for */
    struct block_info *cur_block;
    /* cur_block as the block hook's fast path sees it: set only while the
     * next entry of that block may be counted without looking anything up
     * (insn_count.c, set_cur_block); fast_size 0 otherwise.  fast_addr is
     * VMDL_FAST_NONE when the next block must take the slow path, and
     * VMDL_FAST_BETWEEN after an instruction completed inside a hook
     * (vmdl__count_at_insn): no block is current and the next one may be
     * counted from the recently seen blocks. */
    uint64_t fast_addr;
    uint32_t fast_size;
    uint32_t fast_ninsns;
    uint64_t fast_branch;
    /* The fast path's countdown: it takes an entry of the current block
     * while --fast_left stays above 0, i.e. fast_left - 1 more entries fit
     * before kick_deadline (vmdl__count_rearm), and counts nothing itself:
     * the fast_mark - fast_left entries since the last fold are not in
     * insns_done / branches_done yet (vmdl__insns adds them). */
    uint64_t fast_left;
    uint64_t fast_mark;
    struct block_info *ran_block; /* ran to its end right before the stop */
    uint64_t shadow_at;     /* PC right after an interrupt-shadow insn ending a block */
    struct block_info *blocks[BLOCK_HASH_SIZE];
    struct block_info *recent[BLOCK_RECENT_SIZE];

    /* Cost statistics. */
    uint64_t nr_exits;
    uint64_t nr_entries;    /* run-loop entries (vmdl_vm_stats.entries) */
    uint64_t direct_events; /* vmdl_vm_stats.direct_events */
};

struct vmdl_arch_ops;
struct vmdl_x86_hosted_vm;

struct vmdl_vm {
    struct vmdl_vm_config cfg;
    enum vmdl_arch arch;
    const struct vmdl_arch_ops *arch_ops;
    uint8_t *ram;
    uint64_t ram_base, ram_size;
    /* RAM is one host mapping of ram_size bytes: its first ram_low bytes
     * are at ram_base, the rest (if any) at ram_high_base (x86 above 4 GiB,
     * vmdl_vm_ram_ranges). */
    uint64_t ram_low, ram_high_base;
    struct vmdl_guest_mem mem;
    struct vmdl_vcpu *vcpus[VMDL_MAX_VCPUS];
    unsigned nr_vcpus;
    unsigned next_vcpu;     /* round-robin cursor */
    bool quantum_defaulted; /* cfg.quantum was 0 (a loader may pick another) */
    csh cs;                 /* Capstone handle */
    /* A sleeping VM (ACPI S3, x86/rtc.c): no vCPU runs; virtual time skips
     * to wake_at (UINT64_MAX: nothing wakes it), where wake() resumes it
     * (run.c). */
    bool suspended;
    uint64_t wake_at;
    void (*wake)(struct vmdl_vm *vm, uint64_t now);

    /* Routing tables (registry.c). */
    struct msr_range msrs[MAX_HANDLERS];
    unsigned nr_msrs;
    struct io_range ios[MAX_HANDLERS];
    unsigned nr_ios;
    struct mmio_region mmios[MAX_HANDLERS];
    unsigned nr_mmios;
    struct sysreg_handler sysregs[MAX_HANDLERS];
    unsigned nr_sysregs;
    struct hypercall_handler hypercalls[MAX_HANDLERS];
    unsigned nr_hypercalls;
    struct reset_hook resets[MAX_HANDLERS];
    unsigned nr_resets;
    struct destroy_hook destroys[MAX_HANDLERS];
    unsigned nr_destroys;
    struct insn_handler vmx, seam;
    struct { vmdl_x86_event_fn fn; void *opaque; } x86_event;
    struct dr_handler dr;
    struct switch_hook switches[MAX_HANDLERS];
    unsigned nr_switches;
    struct time_hook times[MAX_HANDLERS];
    unsigned nr_times;
    struct state_hook states[MAX_HANDLERS];
    unsigned nr_states;
    const struct vmdl_irqchip_ops *irqchip;
    void *irqchip_opaque;
    /* Models added (vmdl_vm_find_model). */
    struct { const struct vmdl_model_desc *desc; void *opaque; } models[MAX_HANDLERS];
    unsigned nr_models;

    struct vmdl_cpuid_entry *cpuid;
    unsigned nr_cpuid, cap_cpuid;
    unsigned cpuid_gen;     /* bumped by every change of the table */

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
    int trace_format;       /* enum vmdl_trace_format */
    uint64_t trace_seq;     /* JSON trace: records written */
    /* Progress report (progress.c), polled by the run loop. */
    void (*progress_fn)(void *opaque, const struct vmdl_vm_stats *now);
    void *progress_opaque;
    double progress_interval, progress_next;
    bool entry_set;
    /* x86 guests booted like a PC (multiboot): the hosted vCPU's VM state
     * (x86/hosted_*.c); NULL otherwise.  Checkpoints refuse it for now. */
    struct vmdl_x86_hosted_vm *x86h;
    void *arch_vm;          /* the architecture's VM-wide state (arm64/boot.c) */
    struct vmdl_debug *dbg; /* guest debugging (debug.c), NULL until used */
};

/* vm.c */
void vmdl__console(struct vmdl_vm *vm, const char *buf, size_t len);
/* Host bytes of RAM at gpa and how many follow in the same RAM range
 * (*left), or NULL when gpa is not RAM. */
uint8_t *vmdl__ram_span(struct vmdl_vm *vm, uint64_t gpa, uint64_t *left);
/* Firmware data rewritten after the image was loaded (the ACPI tables when
 * a device adds one): the image range at gpa now spans len bytes and VM
 * reset restores what RAM holds there now. */
int vmdl__refresh_image_range(struct vmdl_vm *vm, uint64_t gpa, uint64_t len);
/* "0x0-0x...[ and 0x100000000-0x...]" for messages. */
void vmdl__ram_describe(const struct vmdl_vm *vm, char *buf, size_t n);
double vmdl__now(void);

/* registry.c: routing and the model-only hooks */
struct msr_range *vmdl__find_msr(struct vmdl_vm *vm, uint32_t index);
struct io_range *vmdl__find_io(struct vmdl_vm *vm, uint16_t port);
int vmdl__add_hypercall(struct vmdl_vm *vm, vmdl_hypercall_fn fn, void *opaque);
/* Where a device window is mapped for this vCPU (vmdl_vcpu_move_mmio). */
uint64_t vmdl__mmio_at(const struct mmio_region *r, const struct vmdl_vcpu *vcpu);
int vmdl__add_reset_hook(struct vmdl_vm *vm, vmdl_reset_fn fn, void *opaque);
int vmdl__add_destroy_hook(struct vmdl_vm *vm, vmdl_destroy_fn fn, void *opaque);
int vmdl__set_dr_handler(struct vmdl_vm *vm, vmdl_x86_dr_fn fn, void *opaque);
int vmdl__add_switch_hook(struct vmdl_vm *vm, vmdl_world_switch_fn fn, void *opaque);
/* Tell the world-switch hooks that a vCPU enters or leaves the engine. */
void vmdl__world_switch_hooks(struct vmdl_vcpu *v, bool entering);
/* Inline: called twice per trap-site completion, and most VMs have no
 * switch hook. */
static inline void vmdl__world_switch(struct vmdl_vcpu *v, bool entering)
{
    if (v->vm->nr_switches)
        vmdl__world_switch_hooks(v, entering);
}
int vmdl__add_time_hook(struct vmdl_vm *vm, const struct vmdl_time_ops *ops,
                        void *opaque);
int vmdl__set_insn_handler(struct vmdl_vm *vm, enum vmdl_insn_family family,
                           vmdl_x86_insn_fn fn, void *opaque);
int vmdl__set_irqchip(struct vmdl_vm *vm, const struct vmdl_irqchip_ops *ops,
                      void *opaque);
int vmdl__add_state_hook(struct vmdl_vm *vm, const char *name,
                         vmdl_state_save_fn save, vmdl_state_load_fn load,
                         void *opaque);
/* The sysreg handlers in turn; VMDL_FAULT_UNCLAIMED when none claims it.
 * Inline: it is on the arm64 MRS/MSR trap path (see arm64.h). */
static inline vmdl_fault vmdl__route_sysreg(struct vmdl_vcpu *vcpu,
                                            struct vmdl_sysreg_access *a)
{
    struct vmdl_vm *vm = vcpu->vm;
    vmdl_fault f = VMDL_FAULT_UNCLAIMED;
    for (unsigned i = 0; i < vm->nr_sysregs && f == VMDL_FAULT_UNCLAIMED; i++)
        f = vm->sysregs[i].fn(vm->sysregs[i].opaque, vcpu, a);
    return f;
}
/* The hypercall handlers in turn; true when one claimed the call. */
bool vmdl__route_hypercall(struct vmdl_vcpu *vcpu, uint16_t imm, bool is_smc);
void vmdl__run_reset_hooks(struct vmdl_vm *vm);
void vmdl__run_destroy_hooks(struct vmdl_vm *vm);
/* attach_gicv5.c: is a GICv5 IRS config frame mapped (for the device
 * tree), where, and for how many PEs? */
bool vmdl__gicv5_irs_mapped(const struct vmdl_vm *vm, uint64_t *base, unsigned *nr_pes);
/* Unicorn's unmapped-memory hook, for every architecture. */
bool vmdl__unmapped_cb(uc_engine *uc, uc_mem_type type, uint64_t addr, int size,
                       int64_t value, void *user);

/* watchdog.c */
void vmdl__engine_enter(struct vmdl_vcpu *vcpu);
void vmdl__engine_leave(struct vmdl_vcpu *vcpu);
void vmdl__watchdog_start(struct vmdl_vm *vm);
void vmdl__watchdog_stop(struct vmdl_vm *vm);

/* run.c */
bool vmdl__irq_asserted(struct vmdl_vcpu *vcpu);
void vmdl__halt(struct vmdl_vcpu *vcpu);

/* insn_count.c */
void vmdl__count_update_hook(struct vmdl_vcpu *vcpu);
/* The block hook's fast path is off until the next block is looked up
 * (an interrupt window opened while a block runs). */
void vmdl__count_no_fast(struct vmdl_vcpu *vcpu);
#define VMDL_FAST_NONE UINT64_MAX
#define VMDL_FAST_BETWEEN (UINT64_MAX - 1)

/* Entries the block hook's fast path took since the last fold. */
static inline uint64_t vmdl__fast_pending(const struct vmdl_vcpu *vcpu)
{
    return vcpu->fast_mark - vcpu->fast_left;
}

/* Retired instructions / taken branches, exact at any time. */
static inline uint64_t vmdl__insns(const struct vmdl_vcpu *vcpu)
{
    return vcpu->insns_done + vmdl__fast_pending(vcpu) * vcpu->fast_ninsns;
}

static inline uint64_t vmdl__branches(const struct vmdl_vcpu *vcpu)
{
    return vcpu->branches_done + vmdl__fast_pending(vcpu) * vcpu->fast_branch;
}

/* Put the fast path's entries into insns_done / branches_done. */
static inline void vmdl__count_fold(struct vmdl_vcpu *vcpu)
{
    uint64_t p = vmdl__fast_pending(vcpu);
    if (!p)
        return;
    vcpu->insns_done += p * vcpu->fast_ninsns;
    vcpu->branches_done += p * vcpu->fast_branch;
    vcpu->fast_mark = vcpu->fast_left;
}

/* The fast path's countdown for the count and deadline as they are now
 * (insn_count.c); call after either changed. */
void vmdl__count_rearm(struct vmdl_vcpu *vcpu);

/* (Without a fast block, fast_size 0, nothing is pending: whoever ends
 * the fast path folds first, vmdl__count_no_fast / _forget_block.) */
static inline void vmdl__insns_set(struct vmdl_vcpu *vcpu, uint64_t n)
{
    if (!vcpu->fast_size) {
        vcpu->insns_done = n;
        return;
    }
    vmdl__count_fold(vcpu);
    vcpu->insns_done = n;
    vmdl__count_rearm(vcpu);
}

static inline void vmdl__insns_add(struct vmdl_vcpu *vcpu, uint64_t n)
{
    vmdl__insns_set(vcpu, vmdl__insns(vcpu) + n);
}

static inline void vmdl__branches_set(struct vmdl_vcpu *vcpu, uint64_t n)
{
    vmdl__count_fold(vcpu);
    vcpu->branches_done = n;
}

static inline void vmdl__set_kick(struct vmdl_vcpu *vcpu, uint64_t d)
{
    vcpu->kick_deadline = d;
    if (vcpu->fast_size) {
        vmdl__count_fold(vcpu);
        vmdl__count_rearm(vcpu);
    }
}

/* No block is current any more (a stop, an entry, a restore). */
static inline void vmdl__count_forget_block(struct vmdl_vcpu *vcpu)
{
    vmdl__count_fold(vcpu);
    vcpu->cur_block = NULL;
    vcpu->fast_addr = VMDL_FAST_NONE;
    vcpu->fast_size = 0;
}
void vmdl__count_at_stop(struct vmdl_vcpu *vcpu, uint64_t pc);
bool vmdl__count_at_insn(struct vmdl_vcpu *vcpu, uint64_t pc);
bool vmdl__count_needed(struct vmdl_vcpu *vcpu, uint64_t deadline);
void vmdl__count_free(struct vmdl_vcpu *vcpu);
bool vmdl__last_insn_was_shadow(struct vmdl_vcpu *vcpu, uint64_t pc);
/* While counting: the engine stopped fetching right after a block that ended
 * in a branch (a branch to an address that cannot be fetched).  Gives the
 * branch's address and takes it back out of the instruction and branch
 * counts, since it faults instead of retiring. */
bool vmdl__count_unretire_branch(struct vmdl_vcpu *vcpu, uint64_t *branch_pc);
uint64_t vmdl__next_deadline(struct vmdl_vcpu *vcpu);
/* An instruction completed inside a hook: the loop's work between exit and
 * entry, and whether the engine may run on (run.c). */
bool vmdl__hook_reenter(struct vmdl_vcpu *vcpu);
bool vmdl__hook_deadline_ok(struct vmdl_vcpu *vcpu);
bool vmdl__hook_no_exit(struct vmdl_vcpu *vcpu);
bool vmdl__hook_quiet(struct vmdl_vcpu *vcpu);
/* Instructions retired before `pc`, inside the block that runs now (from a
 * hook that does not stop the engine); vcpu->insns outside one. */
uint64_t vmdl__count_exact(struct vmdl_vcpu *vcpu, uint64_t pc);

/* vtime.c: virtual time = retired instructions + stall cycles */
static inline uint64_t vmdl__vtime(const struct vmdl_vcpu *vcpu)
{
    return vmdl__insns(vcpu) + vcpu->stall;
}
/* An absolute virtual time as a retired-instruction count at the current
 * stall (0 when already passed). */
static inline uint64_t vmdl__vt_to_insns(const struct vmdl_vcpu *vcpu, uint64_t t)
{
    return t == UINT64_MAX ? UINT64_MAX : t > vcpu->stall ? t - vcpu->stall : 0;
}
/* Add stall cycles, bringing the block hook's deadline closer by as much. */
void vmdl__stall_add(struct vmdl_vcpu *vcpu, uint64_t cycles);
void vmdl__block_weigh(const struct vmdl_vm *vm, struct block_info *b);
/* Every weight within VMDL_VTIME_MAX_WEIGHT? */
bool vmdl__vtime_weights_ok(const struct vmdl_vtime_weights *w);
/* What stalls: enum vmdl__stall_kind, the weight of one of them. */
enum vmdl__stall_kind { VMDL_STALL_NONE, VMDL_STALL_PAUSE, VMDL_STALL_EXIT,
                         VMDL_STALL_SERIALIZE };
uint64_t vmdl__stall_weight(const struct vmdl_vm *vm, enum vmdl__stall_kind k);
/* Every weight at most VMDL_VTIME_MAX_WEIGHT? */
bool vmdl__vtime_weights_ok(const struct vmdl_vtime_weights *w);

/* trace.c: one line per exit when a trace is on.  The check is inline:
 * the call is on every trapped instruction, and a trace is rarely on. */
void vmdl__trace_exit_line(struct vmdl_vcpu *vcpu, const char *what, uint64_t pc,
                           const char *outcome);
static inline void vmdl__trace_exit(struct vmdl_vcpu *vcpu, const char *what,
                                    uint64_t pc, const char *outcome)
{
    if (vcpu->vm->trace)
        vmdl__trace_exit_line(vcpu, what, pc, outcome);
}
/* Read what is readable at pc, up to max bytes (an instruction may end
 * right before the end of RAM); the number of bytes read. */
size_t vmdl__fetch(struct vmdl_vcpu *vcpu, uint64_t pc, uint8_t *buf, size_t max);
/* debug.c: the run loop's side of guest debugging (vm->dbg set) */
void vmdl__debug_free(struct vmdl_vm *vm);
bool vmdl__debug_stepping(struct vmdl_vcpu *vcpu);
/* The count for uc_emu_start given the run's own (0: none). */
size_t vmdl__debug_count(struct vmdl_vcpu *vcpu, size_t count);
/* Before choosing a vCPU: a stop to report now (*stop, exit filled), or
 * the vCPU that must run (single step), or NULL for the scheduler's. */
struct vmdl_vcpu *vmdl__debug_before(struct vmdl_vm *vm, struct vmdl_exit *exit,
                                     bool *stop);
/* After a run of vcpu: true when vmdl_vm_run returns (exit filled). */
bool vmdl__debug_after(struct vmdl_vcpu *vcpu, struct vmdl_exit *exit, bool to_caller);
/* progress.c: report progress if the interval has passed */
void vmdl__progress_poll(struct vmdl_vm *vm);
/* Is a progress report due (the poll would call the callback)? */
bool vmdl__progress_due(struct vmdl_vm *vm);
/* trace_json.c: the VMDL_TRACE_JSONL record of one exit */
void vmdl__trace_json(struct vmdl_vcpu *vcpu, const char *what, uint64_t pc,
                      const char *outcome);

#endif
