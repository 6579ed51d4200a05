/* SPDX-License-Identifier: MIT */
/*
 * The machine layer: a VM (guest memory, devices, attached models) and its
 * vCPUs, each stepped by one Unicorn engine, with a run call that returns
 * KVM-style exits.
 *
 * Exits that an attached model claims (an MSR range, an MMIO window, a
 * system register, the VMX instructions...) are completed inside the run
 * call, as KVM's in-kernel devices complete them; the rest come back to the
 * caller in struct vmdl_exit, and the caller completes them with
 * vmdl_vcpu_complete*() before running again, as a VMM does after KVM_RUN.
 */
#ifndef VIRTMODEL_MACHINE_H
#define VIRTMODEL_MACHINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtmodel/arch.h"
#include "virtmodel/fault.h"
#include "virtmodel/guest_mem.h"
#include "virtmodel/vtime.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vmdl_vm;
struct vmdl_vcpu;

enum vmdl_x86_vendor {
    VMDL_VENDOR_INTEL = 0,
    VMDL_VENDOR_AMD = 1,
};

/* Guest-memory conventions (QEMU-compatible, see docs/guest-guide.md). */
#define VMDL_X86_RAM_BASE 0x0ull
/*
 * x86 RAM that does not fit below the PCI hole is split as QEMU's pc
 * machine splits it: a VM with at least VMDL_X86_SPLIT_AT bytes of RAM (at
 * 0) has VMDL_X86_RAM_BELOW_4G of it at 0 and the rest from 4 GiB; the
 * multiboot memory map says so and fw_cfg gives the total.
 */
#define VMDL_X86_SPLIT_AT 0xE0000000ull
#define VMDL_X86_RAM_BELOW_4G 0xC0000000ull
#define VMDL_X86_RAM_ABOVE_4G 0x100000000ull
#define VMDL_X86_DEFAULT_LOAD 0x100000ull
#define VMDL_ARM64_RAM_BASE 0x40000000ull
#define VMDL_ARM64_DEFAULT_LOAD 0x40080000ull
#define VMDL_DEFAULT_RAM_SIZE (64ull << 20)
#define VMDL_X86_COM1_PORT 0x3F8
#define VMDL_X86_DEBUG_EXIT_PORT 0xF4
#define VMDL_ARM64_PL011_BASE 0x09000000ull
/* The GICv5 IRS config frame (64 KiB) where QEMU's virt puts its GIC's
 * distributor: the gicv5 model maps it (docs/gicv5.md, "The IRS"). */
#define VMDL_ARM64_GICV5_IRS_BASE 0x08000000ull
#define VMDL_PSCI_SYSTEM_OFF 0x84000008u
#define VMDL_PSCI_SYSTEM_RESET 0x84000009u
/* arm64: HVC #0 with x0 = VMDL_HC_EXIT ends the run with status x1 (a
 * vendor-specific hypervisor call; under QEMU it returns NOT_SUPPORTED and
 * a guest falls back to PSCI SYSTEM_OFF).  Models use 0xC6000001 and up. */
#define VMDL_HC_EXIT 0xC6000000u
#define VMDL_MAX_VCPUS 64
/* The default quantum of a VM running a multiboot kernel (real SMP guests
 * synchronise through memory: short turns; docs/kvm-unit-tests.md). */
#define VMDL_X86_HOSTED_QUANTUM 1000

struct vmdl_vm_config {
    enum vmdl_arch arch;
    enum vmdl_x86_vendor vendor; /* x86 only: CPUID vendor string */
    uint64_t ram_base;           /* 0: the architecture's default */
    uint64_t ram_size;           /* 0: VMDL_DEFAULT_RAM_SIZE */
    unsigned nr_vcpus;           /* 0: one */
    /*
     * Instructions a vCPU runs before the scheduler moves to the next one
     * when several are runnable (deterministic round robin); 0: 100000,
     * or VMDL_X86_HOSTED_QUANTUM once a multiboot kernel is loaded.
     */
    uint64_t quantum;
    /* Console sink: bytes the guest writes to COM1 / PL011 (NULL: stdout). */
    void (*console)(void *opaque, const char *buf, size_t len);
    void *console_opaque;
    /*
     * x86: MSRs no model claims come back to the caller as
     * VMDL_EXIT_MSR_READ/WRITE (as with KVM_CAP_X86_USER_SPACE_MSR) instead
     * of raising #GP in the guest (KVM's default).
     */
    bool msr_exits_to_caller;
    /*
     * x86: complete every trapped RDMSR/WRMSR/VMREAD/VMWRITE by leaving the
     * engine, as before trap sites (docs/performance.md).  Guest-visible
     * results and virtual time are the same either way; only slower.  For
     * comparisons and debugging.
     */
    bool no_fast_traps;
    /*
     * Virtual-time weights (virtmodel/vtime.h), used when vtime_set.  Not
     * set: none (one tick per retired instruction), or the hardware-like
     * profile (VMDL_VTIME_HW_*) once a multiboot kernel is loaded.
     */
    bool vtime_set;
    struct vmdl_vtime_weights vtime;
    /*
     * x86 PC guests: the CMOS RTC's date at virtual time 0, in seconds
     * since 1970-01-01T00:00:00 UTC (vmdl_rtc_parse_time reads the usual
     * spelling), used when rtc_base_set; otherwise VMDL_RTC_DEFAULT_BASE
     * (2026-01-01T00:00:00), never the host's clock, so runs repeat.
     */
    bool rtc_base_set;
    int64_t rtc_base;
};

int vmdl_vm_create(const struct vmdl_vm_config *cfg, struct vmdl_vm **out);
void vmdl_vm_destroy(struct vmdl_vm *vm);

enum vmdl_arch vmdl_vm_arch(const struct vmdl_vm *vm);
enum vmdl_x86_vendor vmdl_vm_vendor(const struct vmdl_vm *vm);
unsigned vmdl_vm_nr_vcpus(const struct vmdl_vm *vm);
struct vmdl_vcpu *vmdl_vm_vcpu(struct vmdl_vm *vm, unsigned index);
struct vmdl_vm *vmdl_vcpu_vm(struct vmdl_vcpu *vcpu);
unsigned vmdl_vcpu_index(const struct vmdl_vcpu *vcpu);

/* Guest physical memory as models see it (RAM only). */
const struct vmdl_guest_mem *vmdl_vm_guest_mem(struct vmdl_vm *vm);
/* Host pointer to RAM at gpa..gpa+len, or NULL when not all RAM (a range
 * that runs from one RAM range into the next is not). */
void *vmdl_vm_ram_ptr(struct vmdl_vm *vm, uint64_t gpa, uint64_t len);
/* Where RAM starts, and how much there is in all (every range). */
uint64_t vmdl_vm_ram_base(const struct vmdl_vm *vm);
uint64_t vmdl_vm_ram_size(const struct vmdl_vm *vm);
/* Guest RAM as guest-physical ranges in address order: one, or two for an
 * x86 VM split around the PCI hole (VMDL_X86_SPLIT_AT).  Returns how many
 * were written. */
#define VMDL_MAX_RAM_RANGES 2
struct vmdl_ram_range {
    uint64_t gpa, size;
};
unsigned vmdl_vm_ram_ranges(const struct vmdl_vm *vm,
                            struct vmdl_ram_range out[VMDL_MAX_RAM_RANGES]);

/* ------------------------------------------------------------------ */
/* Registers                                                          */

enum vmdl_reg {
    /* x86-64 */
    VMDL_X86_RAX, VMDL_X86_RCX, VMDL_X86_RDX, VMDL_X86_RBX,
    VMDL_X86_RSP, VMDL_X86_RBP, VMDL_X86_RSI, VMDL_X86_RDI,
    VMDL_X86_R8, VMDL_X86_R9, VMDL_X86_R10, VMDL_X86_R11,
    VMDL_X86_R12, VMDL_X86_R13, VMDL_X86_R14, VMDL_X86_R15,
    VMDL_X86_RIP, VMDL_X86_RFLAGS,
    /* The control registers as the guest sees them (virtualized). */
    VMDL_X86_CR0, VMDL_X86_CR2, VMDL_X86_CR3, VMDL_X86_CR4, VMDL_X86_CR8,
    VMDL_X86_EFER,
    /* Segment selectors (read-only: loading one is the guest's business)
     * and the FS/GS bases. */
    VMDL_X86_CS, VMDL_X86_SS, VMDL_X86_DS, VMDL_X86_ES, VMDL_X86_FS, VMDL_X86_GS,
    VMDL_X86_FS_BASE, VMDL_X86_GS_BASE,
    /* arm64 */
    VMDL_ARM64_X0 = 0x100, /* X0..X30 are VMDL_ARM64_X0 + n */
    VMDL_ARM64_SP = VMDL_ARM64_X0 + 31,
    VMDL_ARM64_PC, VMDL_ARM64_PSTATE, VMDL_ARM64_VBAR_EL1,
    VMDL_ARM64_ELR_EL1, VMDL_ARM64_SPSR_EL1, VMDL_ARM64_ESR_EL1,
    /* The EL1 system registers of the translation regime and exceptions. */
    VMDL_ARM64_SCTLR_EL1, VMDL_ARM64_TCR_EL1, VMDL_ARM64_TTBR0_EL1,
    VMDL_ARM64_TTBR1_EL1, VMDL_ARM64_MAIR_EL1, VMDL_ARM64_FAR_EL1,
    VMDL_ARM64_SP_EL0, VMDL_ARM64_SP_EL1, VMDL_ARM64_TPIDR_EL1, VMDL_ARM64_CPACR_EL1,
};

int vmdl_vcpu_get_reg(struct vmdl_vcpu *vcpu, enum vmdl_reg reg, uint64_t *val);
int vmdl_vcpu_set_reg(struct vmdl_vcpu *vcpu, enum vmdl_reg reg, uint64_t val);

/* ------------------------------------------------------------------ */
/* Exits                                                              */

enum vmdl_exit_reason {
    VMDL_EXIT_NONE = 0,
    VMDL_EXIT_MSR_READ,      /* x86 RDMSR nobody claimed: complete with value */
    VMDL_EXIT_MSR_WRITE,     /* x86 WRMSR nobody claimed */
    VMDL_EXIT_IO,            /* x86 IN/OUT nobody claimed */
    VMDL_EXIT_MMIO,          /* access outside RAM nobody claimed */
    VMDL_EXIT_SYSREG,        /* arm64 MRS/MSR/SYS nobody claimed */
    VMDL_EXIT_VMX,           /* x86 VMX instruction with no VMX model */
    VMDL_EXIT_SEAM,          /* x86 SEAMCALL/TDCALL... with no TDX model */
    VMDL_EXIT_HYPERCALL,     /* arm64 HVC/SMC nobody claimed */
    VMDL_EXIT_HLT,           /* HLT/WFI with no interrupt that could wake it */
    VMDL_EXIT_SHUTDOWN,      /* guest ended the run (debug-exit, SYSTEM_OFF) */
    VMDL_EXIT_RESET,         /* guest asked for a VM reset (already done) */
    VMDL_EXIT_MAX_INSNS,     /* the instruction budget ran out */
    VMDL_EXIT_TIMEOUT,       /* the wall-clock budget ran out */
    VMDL_EXIT_FAULT_LOOP,    /* exception with no usable guest handler */
    VMDL_EXIT_INTERNAL_ERROR,
    VMDL_EXIT_DEBUG,         /* a debug stop (debug.h): breakpoint, step ... */
};

const char *vmdl_exit_reason_name(enum vmdl_exit_reason r);

/* Instructions of the VMX and SEAM families, as decoded by the harness. */
enum vmdl_x86_special {
    VMDL_INSN_VMXON = 1, VMDL_INSN_VMXOFF, VMDL_INSN_VMCLEAR,
    VMDL_INSN_VMPTRLD, VMDL_INSN_VMPTRST, VMDL_INSN_VMREAD,
    VMDL_INSN_VMWRITE, VMDL_INSN_VMLAUNCH, VMDL_INSN_VMRESUME,
    VMDL_INSN_VMCALL, VMDL_INSN_VMFUNC, VMDL_INSN_INVEPT, VMDL_INSN_INVVPID,
    VMDL_INSN_SEAMCALL, VMDL_INSN_TDCALL, VMDL_INSN_SEAMRET, VMDL_INSN_SEAMOPS,
};

/* One decoded x86 operand: a register, or memory at a linear address. */
struct vmdl_x86_operand {
    enum { VMDL_OPND_NONE, VMDL_OPND_REG, VMDL_OPND_MEM } kind;
    enum vmdl_reg reg;   /* VMDL_OPND_REG: the 64-bit register */
    uint64_t addr;       /* VMDL_OPND_MEM: effective (linear) address */
    bool stack;          /* VMDL_OPND_MEM through SS (override, or RSP/RBP
                            base): a non-canonical address is #SS, not #GP */
};

struct vmdl_x86_insn {
    enum vmdl_x86_special kind;
    unsigned length;                 /* bytes */
    /*
     * Operands in Intel order: VMREAD dst=op[0] (r/m64), src=op[1] (r64
     * encoding); VMWRITE dst=op[0] (r64 encoding), src=op[1] (r/m64);
     * VMXON/VMCLEAR/VMPTRLD/VMPTRST op[0] = m64.
     */
    struct vmdl_x86_operand op[2];
    unsigned code_bits;              /* 64, or CS.D's 32/16 outside 64-bit
                                        mode (compatibility, legacy) */
    bool mov_ss_shadow;              /* right after MOV SS / POP SS (blocking
                                        by MOV SS; hosted vCPU only) */
    char text[64];                   /* disassembly for traces */
};

struct vmdl_sysreg_access {
    uint8_t op0, op1, crn, crm, op2;
    uint8_t rt;                      /* 31 = XZR */
    bool is_write;                   /* MSR/SYS: true; MRS/SYSL: false */
    bool is_sys;                     /* SYS/SYSL instruction (op0 == 1) */
    uint64_t value;                  /* value written / value to return */
};

struct vmdl_exit {
    enum vmdl_exit_reason reason;
    unsigned vcpu;                   /* index of the vCPU that exited */
    uint64_t pc;                     /* RIP / PC of the instruction */
    union {
        struct { uint32_t index; uint64_t data; } msr;
        struct { uint16_t port; uint8_t size; bool is_write; uint32_t data; } io;
        struct { uint64_t addr; uint8_t size; bool is_write; uint64_t data; } mmio;
        struct vmdl_sysreg_access sysreg;
        struct vmdl_x86_insn insn;   /* VMDL_EXIT_VMX, VMDL_EXIT_SEAM */
        struct { uint16_t imm; bool is_smc; uint64_t x[4]; } hypercall;
        struct { int status; } shutdown;
        struct { unsigned vector; uint64_t error_code; } fault;
        struct { char message[160]; } internal;
        /* VMDL_EXIT_DEBUG: enum vmdl_debug_kind, the watched address and
         * enum vmdl_watch_type for a watchpoint. */
        struct { int kind; uint64_t addr; int watch; } debug;
    } u;
};

/*
 * Run the VM's vCPUs (deterministic round robin when there are several)
 * until an exit must go to the caller.  Returns 0 with *exit filled, or a
 * negative vmdl_err when the call itself is wrong.
 */
int vmdl_vm_run(struct vmdl_vm *vm, struct vmdl_exit *exit);

/* Complete the pending exit of vcpu: supply the read value (MSR, IN, MMIO
 * read, MRS, ...) or accept a write; the instruction retires. */
int vmdl_vcpu_complete(struct vmdl_vcpu *vcpu, uint64_t value);
/* Complete the pending exit by raising an architectural fault instead. */
int vmdl_vcpu_complete_fault(struct vmdl_vcpu *vcpu, vmdl_fault fault);

/* Bound every later vmdl_vm_run: total retired instructions (0: none) and
 * wall-clock seconds (0: none). */
void vmdl_vm_set_limits(struct vmdl_vm *vm, uint64_t max_insns, double timeout_s);

/* ------------------------------------------------------------------ */
/* Interrupts                                                         */

/*
 * Inject an external interrupt: x86 `vector` through the guest IDT when
 * RFLAGS.IF allows it and no STI/MOV SS shadow is active (held pending
 * otherwise); arm64 IRQ through VBAR_EL1 when PSTATE.I is clear (vector
 * ignored).  A queued interrupt also wakes a HLT/WFI.
 */
int vmdl_vcpu_inject_irq(struct vmdl_vcpu *vcpu, unsigned vector);
int vmdl_vcpu_inject_nmi(struct vmdl_vcpu *vcpu);

/*
 * An interrupt controller model attaches through these operations, as KVM's
 * in-kernel irqchip: the machine asks it before each guest entry whether an
 * interrupt is deliverable and acknowledges the vector it delivers.
 */
struct vmdl_irqchip_ops {
    /* x86: highest deliverable vector or -1; arm64: >=0 while the IRQ line
     * is asserted.  Called with interrupts enabled in the guest. */
    int (*pending)(void *opaque, struct vmdl_vcpu *vcpu);
    /* x86: the vector was delivered (IRR -> ISR).  arm64: unused (NULL). */
    void (*ack)(void *opaque, struct vmdl_vcpu *vcpu, int vector);
    /* A pending NMI (x86) to take, consumed by the call; NULL if none. */
    bool (*take_nmi)(void *opaque, struct vmdl_vcpu *vcpu);
    /* Virtual time advanced to `now` (vmdl_vcpu_vtime; timers). */
    void (*advance)(void *opaque, struct vmdl_vcpu *vcpu, uint64_t now);
    /* Next virtual time at which something fires, UINT64_MAX for none. */
    uint64_t (*next_event)(void *opaque, struct vmdl_vcpu *vcpu);
    /* The vCPU is entering HLT/WFI (GICv5 syncs priorities here). */
    void (*halt)(void *opaque, struct vmdl_vcpu *vcpu);
    /* May this vCPU run? (false: waiting for INIT/SIPI) */
    bool (*runnable)(void *opaque, struct vmdl_vcpu *vcpu);
    /* x86 MOV from/to CR8: the task-priority class (TPR[7:4]).  NULL: the
     * machine keeps CR8 as a plain register. */
    uint64_t (*get_cr8)(void *opaque, struct vmdl_vcpu *vcpu);
    void (*set_cr8)(void *opaque, struct vmdl_vcpu *vcpu, uint64_t cr8);
    /* x86: a performance-monitoring interrupt (LVT PERF).  NULL: an NMI. */
    void (*pmi)(void *opaque, struct vmdl_vcpu *vcpu);
    /* arm64: a device of the vCPU (the generic timer) drives the private
     * interrupt `ppi` to `level`.  0 or a negative vmdl_err. */
    int (*device_ppi)(void *opaque, struct vmdl_vcpu *vcpu, unsigned ppi, bool level);
    /* x86: KVM's paravirtual IPI hypercall (KVM_HC_SEND_IPI) with the
     * guest's arguments a0-a3 (RBX, RCX, RDX, RSI; 32 bits each outside
     * 64-bit mode): the value it returns in RAX.  NULL: the hypercall is
     * unknown (-KVM_ENOSYS). */
    int64_t (*pv_send_ipi)(void *opaque, struct vmdl_vcpu *vcpu, const uint64_t a[4],
                           bool op_64_bit);
    /* x86: would an exit now, before next_event, change nothing here (no
     * per-exit work such as a PV-EOI flag to take back)?  Then an
     * instruction KVM runs without a VM exit may skip the between-exits
     * work.  NULL: never quiet. */
    bool (*exit_quiet)(void *opaque, struct vmdl_vcpu *vcpu);
};

/*
 * x86 PC VMs (multiboot): the 8259A pair's INTR as a local APIC sees it on
 * LINT0 in ExtINT mode (KVM's kvm_cpu_has_extint / kvm_cpu_get_extint).
 * vmdl_vm_x86_pic_intr: the vector an acknowledge would return now, -1
 * when INTR is low or the VM has no 8259; vmdl_vm_x86_pic_inta: the
 * interrupt-acknowledge cycle (IRR -> ISR), its vector (-1: no 8259).
 */
int vmdl_vm_x86_pic_intr(struct vmdl_vm *vm);
int vmdl_vm_x86_pic_inta(struct vmdl_vm *vm);

/* Raise the PMI of a vCPU through the attached interrupt controller (the
 * local APIC's LVT performance-counter entry), or as an NMI without one. */
void vmdl_vcpu_raise_pmi(struct vmdl_vcpu *vcpu);

/* arm64: a device private to the vCPU (the generic timer) drives its PPI
 * through the VM's interrupt controller; VMDL_OK without a controller that
 * takes such lines (the interrupt then goes nowhere, as with no GIC). */
int vmdl_vcpu_device_ppi(struct vmdl_vcpu *vcpu, unsigned ppi, bool level);

/* From inside a handler: leave the engine soon (at the end of the current
 * translation block) so that the run loop re-evaluates interrupts. */
void vmdl_vcpu_request_exit(struct vmdl_vcpu *vcpu);

/* From inside an instruction handler (VMX/SEAM): the instruction it
 * completes is one KVM runs without a VM exit (VMREAD/VMWRITE of L1 through
 * the shadow VMCS), and it changed nothing but its own model's state (no
 * timer, no interrupt, no mode).  The machine may then skip the work it does
 * between exits when that work would find nothing (it checks). */
void vmdl_vcpu_insn_no_exit(struct vmdl_vcpu *vcpu);

/* ------------------------------------------------------------------ */
/* Handlers: the in-kernel side of an exit.  Models declare theirs in a  */
/* struct vmdl_model_desc (model.h); a caller with a device of its own  */
/* may register single handlers with the vmdl_vm_add_* calls below.    */

struct vmdl_msr_ops {
    vmdl_fault (*read)(void *opaque, struct vmdl_vcpu *vcpu, uint32_t index,
                       uint64_t *value);
    vmdl_fault (*write)(void *opaque, struct vmdl_vcpu *vcpu, uint32_t index,
                        uint64_t value);
};
/* Claim MSRs first..last (inclusive). Later registrations win on overlap. */
int vmdl_vm_add_msr_range(struct vmdl_vm *vm, uint32_t first, uint32_t last,
                          const struct vmdl_msr_ops *ops, void *opaque);

struct vmdl_io_ops {
    vmdl_fault (*read)(void *opaque, struct vmdl_vcpu *vcpu, uint16_t port,
                       unsigned size, uint32_t *value);
    vmdl_fault (*write)(void *opaque, struct vmdl_vcpu *vcpu, uint16_t port,
                        unsigned size, uint32_t value);
};
int vmdl_vm_add_io_range(struct vmdl_vm *vm, uint16_t first, uint16_t last,
                         const struct vmdl_io_ops *ops, void *opaque);

struct vmdl_mmio_ops {
    /* offset is relative to the region base; size 1, 2, 4 or 8. */
    uint64_t (*read)(void *opaque, struct vmdl_vcpu *vcpu, uint64_t offset,
                     unsigned size);
    void (*write)(void *opaque, struct vmdl_vcpu *vcpu, uint64_t offset,
                  unsigned size, uint64_t value);
};
/* A device window outside RAM (page-aligned). */
int vmdl_vm_add_mmio(struct vmdl_vm *vm, uint64_t base, uint64_t size,
                     const struct vmdl_mmio_ops *ops, void *opaque);
/* Move, for this vCPU only, the window registered at `base` to new_base
 * (page-aligned), as each local APIC follows its own vCPU's
 * IA32_APIC_BASE in KVM.  VMDL_EINVAL, and the window stays, when it would
 * overlap RAM or another device (KVM would let the APIC hide RAM there);
 * VMDL_ENOENT when nothing is registered at `base`. */
int vmdl_vcpu_move_mmio(struct vmdl_vcpu *vcpu, uint64_t base, uint64_t new_base);

/* arm64 system registers and system instructions: each handler is asked in
 * turn; it returns VMDL_FAULT_UNCLAIMED for encodings it does not own. */
typedef vmdl_fault (*vmdl_sysreg_fn)(void *opaque, struct vmdl_vcpu *vcpu,
                                     struct vmdl_sysreg_access *access);
int vmdl_vm_add_sysreg_handler(struct vmdl_vm *vm, vmdl_sysreg_fn fn,
                               void *opaque);

/* x86 VMX instruction handler (one; a model serving the SEAM family
 * declares it in its model description, model.h).  The handler reads and
 * writes registers and memory through the vcpu API and returns the fault to
 * raise, or VMDL_FAULT_NONE to retire the instruction. */
typedef vmdl_fault (*vmdl_x86_insn_fn)(void *opaque, struct vmdl_vcpu *vcpu,
                                       const struct vmdl_x86_insn *insn);
int vmdl_vm_set_vmx_handler(struct vmdl_vm *vm, vmdl_x86_insn_fn fn, void *opaque);

/*
 * Nested guests on a hosted x86 vCPU (real guests; docs/vmx.md).  The
 * system state a VM entry or exit switches, segments with access rights in
 * the VMCS format (bit 16 = unusable).  vmdl_vcpu_set_x86_sys takes effect
 * at the next entry into the guest: ES/CS/SS/DS, GDTR/IDTR, CR0/CR3/CR4,
 * EFER, DR7 (the guest's virtual one), RFLAGS, RIP, RSP, FS, GS, LDTR and
 * TR (selector, base, limit, access rights), IA32_PAT, IA32_DEBUGCTL and the
 * SYSENTER MSRs are loaded.  activity
 * reports a halted vCPU (1); set, 1 halts the vCPU (an entry in the HLT
 * activity state) and 0 runs it from the new state.  A state installed for
 * the next entry is what get reports.  VMDL_ENOTSUP on a deprivileged vCPU.
 */
struct vmdl_x86_segment {
    uint16_t selector;
    uint64_t base;
    uint32_t limit;
    uint32_t ar;
};
struct vmdl_x86_sys_state {
    uint64_t cr0, cr3, cr4, efer, dr7, rflags, rip, rsp;
    struct vmdl_x86_segment seg[8];     /* ES CS SS DS FS GS LDTR TR */
    uint64_t gdtr_base, idtr_base;
    uint32_t gdtr_limit, idtr_limit;
    uint64_t pat, sysenter_cs, sysenter_esp, sysenter_eip;
    uint32_t activity;          /* 0 active, 1 halted (HLT) */
    /* IA32_DEBUGCTL: set keeps the bits the vCPU implements (KVM masks
     * vmcs12's value the same way); debugctl_supported (get only) is that
     * set, KVM's vmx_get_supported_debugctl for the guest. */
    uint64_t debugctl, debugctl_supported;
    /* VMX format: bit 0 blocking by STI, 1 by MOV SS, 3 NMI blocking. */
    uint32_t interruptibility;
};
int vmdl_vcpu_get_x86_sys(struct vmdl_vcpu *vcpu, struct vmdl_x86_sys_state *st);
int vmdl_vcpu_set_x86_sys(struct vmdl_vcpu *vcpu, const struct vmdl_x86_sys_state *st);

/* An MSR access with the guest's rules, from outside the guest (the MSR
 * lists of a nested VM entry or exit, as KVM's nested_vmx_load_msr): the
 * claiming model, then the machine's own MSRs, #GP for the rest.  The
 * outcome goes to *fault (nothing changes on a fault); the return value is
 * an API error (NULL argument, not an x86 vCPU). */
int vmdl_vcpu_x86_msr(struct vmdl_vcpu *vcpu, bool write, uint32_t index,
                      uint64_t *value, vmdl_fault *fault);

/* Acknowledge `vector` at the VM's interrupt controller for this vCPU
 * (IRR -> ISR), as the CPU's interrupt-acknowledge cycle: for an event
 * hook that consumes an external interrupt itself (posted-interrupt
 * processing).  VMDL_ENOTSUP without an x86 interrupt controller. */
int vmdl_vcpu_x86_irq_ack(struct vmdl_vcpu *vcpu, int vector);

/* Events of a hosted vCPU offered to the VM's event hook before the machine
 * handles them; the hook returns true when it took the event (a VM exit to
 * L1 replaced the vCPU's state with vmdl_vcpu_set_x86_sys).  RIP is at the
 * instruction (or the faulting instruction).  The hook may be called from
 * inside the engine (an intercept completed without leaving it, e.g. RDMSR):
 * it may read and set the vCPU's state but must not run, reset or destroy
 * the VM or any of its vCPUs. */
enum vmdl_x86_event_kind {
    VMDL_X86_EVENT_CPUID = 1, VMDL_X86_EVENT_HLT, VMDL_X86_EVENT_EXCEPTION,
    VMDL_X86_EVENT_RDMSR, VMDL_X86_EVENT_WRMSR, VMDL_X86_EVENT_RDTSC,
    VMDL_X86_EVENT_RDTSCP,
    VMDL_X86_EVENT_MOV_TO_CR,   /* MOV to CR0/CR3/CR4/CR8: cr, gpr, value */
    VMDL_X86_EVENT_CLTS, VMDL_X86_EVENT_LMSW, /* LMSW (register form): value */
    VMDL_X86_EVENT_MOV_FROM_CR, /* MOV from CR3/CR8: cr, gpr */
    VMDL_X86_EVENT_IO,          /* port, size, in, string, rep, imm (probed) */
    VMDL_X86_EVENT_INVLPG,      /* addr: the linear address */
    VMDL_X86_EVENT_PAUSE, VMDL_X86_EVENT_MONITOR, VMDL_X86_EVENT_MWAIT,
    VMDL_X86_EVENT_RDPMC, VMDL_X86_EVENT_WBINVD,
    VMDL_X86_EVENT_DESC_TABLE,  /* desc: VMDL_X86_DESC_*, insn_info, addr */
    VMDL_X86_EVENT_MOV_DR,      /* dr, gpr, to_reg */
    VMDL_X86_EVENT_EXT_INTR,    /* vector: the irqchip's; *ack (see below) */
    VMDL_X86_EVENT_NMI,
    VMDL_X86_EVENT_INTR_WINDOW, /* interrupts became unblocked (probed) */
    VMDL_X86_EVENT_INVD,
    VMDL_X86_EVENT_RDRAND, VMDL_X86_EVENT_RDSEED, /* gpr; offered before #UD */
    VMDL_X86_EVENT_NPF,         /* second-stage fault: npf (vmdl_vcpu_set_x86_npt) */
    VMDL_X86_EVENT_NMI_WINDOW,  /* no NMI blocking and no MOV-SS shadow before
                                   an instruction, or in HLT (probed) */
    VMDL_X86_EVENT_TRIPLE_FAULT, /* a nested guest's: RIP at the instruction
                                    whose event could not be delivered */
};
/* DESC_TABLE: the instruction (its identity bits of the VMX instruction
 * information, GDTR/IDTR group first). */
enum vmdl_x86_desc_insn {
    VMDL_X86_DESC_SGDT, VMDL_X86_DESC_SIDT, VMDL_X86_DESC_LGDT, VMDL_X86_DESC_LIDT,
    VMDL_X86_DESC_SLDT, VMDL_X86_DESC_STR, VMDL_X86_DESC_LLDT, VMDL_X86_DESC_LTR,
};
/* A second-stage (nested paging) fault: the guest-physical address, how it
 * was accessed, and the linear address the machine attributes it to. */
struct vmdl_x86_npf {
    uint64_t gpa;
    bool write, fetch;
    bool walk;                  /* an access to a guest paging-structure entry */
    bool gla_valid;
    uint64_t gla;               /* the linear address being translated */
    /* The final access (walk false): the linear address's rights over its
     * paging-structure entries: U/S set in all of them (a user-mode
     * address), R/W set in all, XD set in one (with EFER.NXE); false with
     * paging off, and for a paging-structure access. */
    bool user, writable, xd;
    bool delivery;              /* during an event's delivery (the event is in
                                 * the event's idt_info/idt_error) */
    unsigned size;              /* bytes of the memory operand, 0 unknown */
    unsigned insn_len;          /* bytes of the instruction at RIP, 0 unknown */
    /* The instruction is a MOV (MOVZX) between this memory operand and a
     * general-purpose register, or a MOV of an immediate to it, which the
     * hook may complete without the memory (vmdl_vcpu_x86_npf_complete_mov);
     * for a store, the value it writes. */
    bool mov;
    uint64_t store;
};
struct vmdl_x86_event {
    enum vmdl_x86_event_kind kind;
    unsigned vector;            /* EXCEPTION */
    bool has_error;
    uint32_t error_code;
    uint64_t cr2;               /* #PF */
    uint32_t msr;               /* RDMSR/WRMSR: ECX */
    unsigned insn_len;          /* instructions */
    unsigned cr, gpr;           /* MOV to/from CR, MOV DR */
    uint64_t value;             /* MOV to CR, LMSW */
    /* IO: the access; string (INS/OUTS) with its linear address in addr */
    uint16_t port;
    uint8_t size;               /* 1, 2, 4 */
    bool in, string, rep, imm;
    uint64_t addr;              /* INVLPG, DESC_TABLE and string IO: linear */
    uint32_t insn_info;         /* VMX instruction information (IO, DESC_TABLE) */
    unsigned desc;              /* DESC_TABLE: enum vmdl_x86_desc_insn */
    uint64_t disp;              /* DESC_TABLE: the memory operand's displacement */
    unsigned dr;                /* MOV DR */
    bool to_reg;                /* MOV DR: DR -> GPR */
    /* probe: only answer whether the hook would take it (no side effects);
     * the machine then stops precisely and offers it again without probe. */
    bool probe;
    /* EXT_INTR: the hook sets *ack when it took the interrupt and L1
     * acknowledges it on exit (the irqchip then hands it over). */
    bool *ack;
    /* EXCEPTION during an event's delivery: that event (VMX interruption-
     * information format) and its error code, else 0. */
    uint32_t idt_info, idt_error;
    /* EXCEPTION 1 (#DB): the DR6 bits it reports (B0-B3, BD, BS, RTM), and
     * whether the machine synthesized it after an instruction it completed
     * (single-step, as KVM's kvm_vcpu_do_singlestep) rather than the CPU. */
    uint64_t dr6;
    bool synthesized;
    /* EXCEPTION 3 / 4 raised by INT3 / INTO: a software exception (VMX
     * interruption type 6), RIP at the instruction, insn_len its length.
     * INT n is a software interrupt and never offered. */
    bool soft;
    struct vmdl_x86_npf npf;    /* NPF */
};
typedef bool (*vmdl_x86_event_fn)(void *opaque, struct vmdl_vcpu *vcpu,
                                  const struct vmdl_x86_event *ev);
int vmdl_vm_set_x86_event_hook(struct vmdl_vm *vm, vmdl_x86_event_fn fn, void *opaque);
/* Offer CPUID to the event hook too (it is answered inside the engine
 * otherwise): set while the vCPU runs a nested guest. */
int vmdl_vcpu_set_x86_cpuid_events(struct vmdl_vcpu *vcpu, bool on);

/* While a nested guest runs: which further instructions are intercepted and
 * offered to the event hook, and the CR0/CR4 guest/host masks with their
 * read shadows (MOV from CR0/CR4 reads masked bits from the shadow; a MOV
 * to CR0/CR4, CLTS or LMSW the hook did not take keeps the masked bits).
 * I/O, CR8, MOV DR, RDPMC, MSRs, HLT, RDTSC(P) and exceptions are always
 * offered.  NULL: none (back in L1).  Takes effect at the next entry. */
#define VMDL_X86_NESTED_CPUID (1u << 0)
#define VMDL_X86_NESTED_CR3_READ (1u << 1)
#define VMDL_X86_NESTED_CR3_WRITE (1u << 2)
#define VMDL_X86_NESTED_INVLPG (1u << 3)
#define VMDL_X86_NESTED_PAUSE (1u << 4)
#define VMDL_X86_NESTED_MONITOR (1u << 5)
#define VMDL_X86_NESTED_MWAIT (1u << 6)
#define VMDL_X86_NESTED_WBINVD (1u << 7)
#define VMDL_X86_NESTED_DESC (1u << 8)
#define VMDL_X86_NESTED_INVD (1u << 9)
/* RDTSCP and RDPID raise #UD ("enable RDTSCP" clear) */
#define VMDL_X86_NESTED_NO_RDTSCP (1u << 10)
struct vmdl_x86_nested_ctl {
    uint32_t intercept;         /* VMDL_X86_NESTED_* */
    uint64_t cr0_mask, cr0_shadow, cr4_mask, cr4_shadow;
};
int vmdl_vcpu_set_x86_nested(struct vmdl_vcpu *vcpu, const struct vmdl_x86_nested_ctl *ctl);
/* Deliver an event through the guest's IDT at the next entry, as VM-entry
 * event injection does: type as the VMX interruption type (0 external
 * interrupt, 2 NMI, 3 hardware exception, 4 software interrupt, 5
 * privileged software exception, 6 software exception); software events
 * push RIP + insn_len.  A fault during the delivery is offered to the event
 * hook with the injected event in idt_info. */
int vmdl_vcpu_inject_x86_event(struct vmdl_vcpu *vcpu, unsigned type, unsigned vector,
                               bool has_error, uint32_t error, unsigned insn_len);
/* An event vmdl_vcpu_inject_x86_event queued is not delivered yet (false
 * for a vCPU that is not hosted x86). */
bool vmdl_vcpu_x86_injection_pending(const struct vmdl_vcpu *vcpu);
/* The vCPU runs a nested guest (vmdl_vcpu_set_x86_nested with a control
 * and not NULL since); false for a vCPU that is not hosted x86. */
bool vmdl_vcpu_x86_nested_active(const struct vmdl_vcpu *vcpu);
/* Hosted x86 vCPU: the next run step that enters the engine runs one
 * instruction alone (even inside a translation block) and the run loop
 * regains control after it (a monitor trap flag); off again after that
 * step or when called with false.  VMDL_EINVAL / VMDL_ENOTSUP for another
 * vCPU.  _pending: asked for and not run yet. */
int vmdl_vcpu_x86_step_next(struct vmdl_vcpu *vcpu, bool on);
bool vmdl_vcpu_x86_step_pending(const struct vmdl_vcpu *vcpu);

/*
 * A second stage of address translation for a hosted vCPU (how a nested
 * guest's EPT runs; docs/vmx.md).  While on (from the next entry into the
 * guest), every guest-physical address the guest's own paging produces goes
 * through a table the caller fills on demand: an access to a page not mapped
 * (or a write to a read-only one, a fetch from a non-executable one) is
 * offered to the event hook as VMDL_X86_EVENT_NPF, with RIP at the
 * instruction; the hook maps the page and returns true (the instruction is
 * retried), or replaces the state (a VM exit).  The guest's own page walk
 * reads its paging-structure entries through the table too (walk set, the
 * entry's exact guest-physical address): reading needs the page mapped,
 * setting an accessed or dirty flag needs it writable.  A fault nobody
 * takes stops the run with VMDL_ESTATE.  A guest with CR0.PG clear is
 * translated as well (its linear addresses are its guest-physical ones).
 * The mappings stay until vmdl_vcpu_x86_npt_flush.
 * VMDL_ENOTSUP on a deprivileged vCPU.
 */
#define VMDL_NPT_WRITE 1u
/* Fetches through supervisor-mode / user-mode linear addresses (U/S set in
 * every entry of the guest's walk; supervisor-mode with paging off), as
 * EPT's mode-based execute control tells them apart. */
#define VMDL_NPT_EXEC_SUPER 2u
#define VMDL_NPT_EXEC_USER 4u
#define VMDL_NPT_EXEC (VMDL_NPT_EXEC_SUPER | VMDL_NPT_EXEC_USER)
int vmdl_vcpu_set_x86_npt(struct vmdl_vcpu *vcpu, bool on);
/* Map the 4 KiB guest-physical page of gpa to the physical page of pa
 * (VMDL_NPT_* permissions; always readable). */
int vmdl_vcpu_x86_npt_map(struct vmdl_vcpu *vcpu, uint64_t gpa, uint64_t pa,
                          unsigned prot);
/* Drop every mapping (and what the engine cached from them). */
int vmdl_vcpu_x86_npt_flush(struct vmdl_vcpu *vcpu);
/* Complete the MOV an NPF event described (npf.mov) as if its memory
 * operand had been accessed: a load writes `loaded` (the operand's bytes,
 * zero-extended) to its register with the usual width rules; RIP moves
 * past the instruction.  VMDL_EINVAL when the instruction at RIP is not
 * such a MOV. */
int vmdl_vcpu_x86_npf_complete_mov(struct vmdl_vcpu *vcpu, uint64_t loaded);

/*
 * PAE paging's four PDPTE registers (SDM vol. 3, 4.4.1) of a hosted x86
 * vCPU.  A processor in PAE paging walks from them, not from the 32-byte
 * table at CR3; VM entry with EPT loads them from the VMCS's
 * GUEST_PDPTR0-3 (SDM 27.3.2.4) and VM exit stores them there (28.3.4),
 * which is what the VMX glue uses this for.  Set: every walk of the guest
 * (the engine's, and the machine's own for decode, operands and event
 * delivery) takes its PDPTEs from pdpte[]; a MOV to CR3 and a write of a
 * paging bit of CR0 (PG, CD, NW) or CR4 (PAE, PGE, PSE, SMEP) reload them
 * from the table at CR3 as a processor does (through the second stage:
 * an NPF event without a linear address when it has no mapping for the
 * table; #GP for a present entry with a reserved bit).  They end when a
 * write leaves PAE paging, a new state is installed
 * (vmdl_vcpu_set_x86_sys) or the vCPU resets; a guest without them is
 * walked from the table at CR3 at each walk.  CR3 itself is not changed.
 * NULL: off now.  VMDL_ESTATE outside PAE paging (CR0.PG, CR4.PAE, not
 * IA-32e), VMDL_ENOTSUP on a deprivileged vCPU.
 */
int vmdl_vcpu_set_x86_pdptes(struct vmdl_vcpu *vcpu, const uint64_t pdpte[4]);
/* The registers in force: true with pdpte[] filled while set by the call
 * above (or reloaded since); false when the walks read the table at CR3
 * (and for any vCPU that is not a hosted x86 one).  Part of the
 * vCPU's state next to vmdl_vcpu_get_x86_sys (which does not carry them):
 * whoever saves and restores a vCPU in PAE paging saves these too and
 * sets them after vmdl_vcpu_set_x86_sys. */
bool vmdl_vcpu_x86_pdptes(struct vmdl_vcpu *vcpu, uint64_t pdpte[4]);

/* arm64 HVC/SMC handlers: return true when claimed (x0.. updated through the
 * register API).  PSCI SYSTEM_OFF/SYSTEM_RESET are built in. */
typedef bool (*vmdl_hypercall_fn)(void *opaque, struct vmdl_vcpu *vcpu,
                                  uint16_t imm, bool is_smc);

/* Called on every VM reset (guest request or vmdl_vm_reset), after the
 * vCPUs are back at their reset state. */
typedef void (*vmdl_reset_fn)(void *opaque, struct vmdl_vm *vm);
int vmdl_vm_reset(struct vmdl_vm *vm);
/*
 * Set where the vCPUs start (the image's entry point).  Call after loading
 * the image: the RAM contents at that moment are what a VM reset restores
 * for the image's own bytes (QEMU reloads its ROM blobs the same way); RAM
 * outside the loaded segments keeps its contents across a reset.
 */
int vmdl_vm_set_entry(struct vmdl_vm *vm, uint64_t entry);
/* Mark guest-physical gpa..gpa+len as image bytes restored on reset. */
int vmdl_vm_add_image_range(struct vmdl_vm *vm, uint64_t gpa, uint64_t len);

/*
 * Models contribute to whole-VM checkpoints (checkpoint.h) through the
 * save/load pair of their description (model.h): save returns a malloc'd blob, load validates one and applies it (or
 * refuses it and changes nothing).  Model names are unique in a VM.
 */
typedef int (*vmdl_state_save_fn)(void *opaque, uint8_t **blob, size_t *len);
typedef int (*vmdl_state_load_fn)(void *opaque, const uint8_t *blob, size_t len);

/* Called when the VM is destroyed: models free what they attached. */
typedef void (*vmdl_destroy_fn)(void *opaque);

/* ------------------------------------------------------------------ */
/* x86 CPUID table (per VM).  Models publish their leaves here.        */

struct vmdl_cpuid_entry {
    uint32_t leaf, subleaf;
    uint32_t eax, ebx, ecx, edx;
};
int vmdl_vm_set_cpuid(struct vmdl_vm *vm, const struct vmdl_cpuid_entry *e);
/* Returns 0 and fills *e when the table has the leaf (subleaf matched for
 * leaves that have them), VMDL_ENOENT otherwise. */
int vmdl_vm_get_cpuid(struct vmdl_vm *vm, uint32_t leaf, uint32_t subleaf,
                      struct vmdl_cpuid_entry *e);

/* ------------------------------------------------------------------ */
/* Virtual time and event counts                                      */

/* Instructions retired by this vCPU so far (exact at every exit). */
uint64_t vmdl_vcpu_insns(struct vmdl_vcpu *vcpu);
/* Taken branches retired, counted only while enabled (it costs a hook). */
uint64_t vmdl_vcpu_branches(struct vmdl_vcpu *vcpu);
/*
 * Ask for exact instruction accounting (and branch counting) while `on`:
 * a model with a live counter or an armed timer turns it on.  Counted, so
 * several users may hold it.
 */
void vmdl_vcpu_need_insn_count(struct vmdl_vcpu *vcpu, bool on);
/* Ask the run loop to come back to the models no later than after `insns`
 * more units of virtual time (virtmodel/vtime.h: retired instructions plus
 * stall cycles, never fewer than the instructions), for a counter overflow
 * or a timer deadline.  The earliest outstanding request wins; it is
 * dropped once reached. */
void vmdl_vcpu_kick_after(struct vmdl_vcpu *vcpu, uint64_t insns);

/*
 * Models with their own notion of time (a PMU counter that will overflow)
 * register these: next_event gives the virtual time (vmdl_vcpu_vtime)
 * at which the model wants control back, UINT64_MAX for never; advance is
 * called whenever the run loop regains control with the current time.
 * When every vCPU is halted, the run loop also skips virtual time to the
 * earliest next_event (as to an APIC timer's): a source whose time does not
 * pass while the vCPU is halted (an instruction counter) returns UINT64_MAX
 * for a halted vCPU.
 */
struct vmdl_time_ops {
    void (*advance)(void *opaque, struct vmdl_vcpu *vcpu, uint64_t now);
    uint64_t (*next_event)(void *opaque, struct vmdl_vcpu *vcpu);
};

/* Per-vCPU x86 state the machine keeps virtual (guest believes CPL0). */
bool vmdl_vcpu_in_long_mode(struct vmdl_vcpu *vcpu);

/* x86 INIT/SIPI from an interrupt controller: reset the vCPU to wait for
 * SIPI, then start it in real-mode-like 64-bit entry at vector << 12. */
int vmdl_vcpu_x86_init(struct vmdl_vcpu *vcpu);
int vmdl_vcpu_x86_sipi(struct vmdl_vcpu *vcpu, uint8_t vector);
/* The vCPU waits for SIPI (runs nothing, not even its time hooks) or no
 * longer does, with its state untouched: a nested guest entered in the
 * wait-for-SIPI activity state, whose SIPI is a VM exit to L1 rather than
 * a restart (vmdl_vcpu_x86_sipi ignores a SIPI to a vCPU that does not
 * wait). */
int vmdl_vcpu_x86_set_wait_for_sipi(struct vmdl_vcpu *vcpu, bool wait);

/* Trace: one line per exit to the stream (NULL: off). */
void vmdl_vm_set_trace(struct vmdl_vm *vm, void *stream /* FILE * */);

/* Raise arm64 UNDEF / x86 #GP etc. in the guest now (from a handler). */
int vmdl_vcpu_raise_fault(struct vmdl_vcpu *vcpu, vmdl_fault fault);

#ifdef __cplusplus
}
#endif
#endif
