/* SPDX-License-Identifier: MIT */
/*
 * Nested VMX: VM entry from the current vmcs12 into L2, VM exits back to L1,
 * the decision whether L1 wants an L2 event, INVEPT/INVVPID, and the vCPU
 * event state KVM keeps around a nested guest (MP state, injected and
 * pending events, the nested-event check of a halted vCPU).
 *
 * Pure: the caller (the machine layer, or a test) owns the registers.  It
 * passes the architectural state of the vCPU in a struct vmdl_vmx_cpu; an
 * entry replaces it with L2's state, an exit with L1's host state.  General
 * purpose registers other than RSP never change across these transitions
 * (SDM Vol. 3C 26 and 28), so they are not part of the struct.
 *
 * Order of VM entry, as KVM's nested_vmx_run / nested_vmx_enter_non_root_mode
 * (arch/x86/kvm/vmx/nested.c):
 *   1. VMLAUNCH/VMRESUME checks (vmdl_vmx_vmlaunch: #UD/#GP, VMfailInvalid,
 *      error 26, launch state 4/5);
 *   2. VM-execution, VM-exit and VM-entry control fields against the
 *      capability MSRs and their dependent fields -> VMfailValid(7);
 *   3. host address-space size against the current EFER.LMA, then the
 *      host-state area -> VMfailValid(8);
 *   4. guest-state area -> VM-entry failure: exit reason 33 | 0x80000000,
 *      qualification 0 (or 4 for the VMCS link pointer), host state loaded;
 *   5. guest state loaded, then the VM-entry MSR-load list -> on a bad entry
 *      exit reason 34 | 0x80000000 with the 1-based entry number as
 *      qualification, host state loaded;
 *   6. success: launch state <- launched, L2 runs, the event of the VM-entry
 *      interruption-information field is handed back for injection.
 */
#ifndef VIRTMODEL_VMX_NESTED_H
#define VIRTMODEL_VMX_NESTED_H

#include <stdbool.h>
#include <stdint.h>

#include "virtmodel/vmx.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- control bits (SDM Vol. 3C 25.6, 25.7, 25.8) ---- */
#define VMDL_PIN_EXT_INTR (1u << 0)
#define VMDL_PIN_NMI_EXITING (1u << 3)
#define VMDL_PIN_VIRTUAL_NMIS (1u << 5)
#define VMDL_PIN_PREEMPT_TIMER (1u << 6)
#define VMDL_PIN_POSTED_INTR (1u << 7)

#define VMDL_PROC_INTR_WINDOW (1u << 2)
#define VMDL_PROC_TSC_OFFSETTING (1u << 3)
#define VMDL_PROC_HLT (1u << 7)
#define VMDL_PROC_INVLPG (1u << 9)
#define VMDL_PROC_MWAIT (1u << 10)
#define VMDL_PROC_RDPMC (1u << 11)
#define VMDL_PROC_RDTSC (1u << 12)
#define VMDL_PROC_CR3_LOAD (1u << 15)
#define VMDL_PROC_CR3_STORE (1u << 16)
#define VMDL_PROC_TERTIARY (1u << 17)
#define VMDL_PROC_CR8_LOAD (1u << 19)
#define VMDL_PROC_CR8_STORE (1u << 20)
#define VMDL_PROC_TPR_SHADOW (1u << 21)
#define VMDL_PROC_NMI_WINDOW (1u << 22)
#define VMDL_PROC_MOV_DR (1u << 23)
#define VMDL_PROC_UNCOND_IO (1u << 24)
#define VMDL_PROC_IO_BITMAPS (1u << 25)
#define VMDL_PROC_MTF (1u << 27)
#define VMDL_PROC_MSR_BITMAPS (1u << 28)
#define VMDL_PROC_MONITOR (1u << 29)
#define VMDL_PROC_PAUSE (1u << 30)
#define VMDL_PROC_SECONDARY (1u << 31)

#define VMDL_PROC2_APIC_ACCESS (1u << 0)
#define VMDL_PROC2_EPT (1u << 1)
#define VMDL_PROC2_DESC_TABLE (1u << 2)
#define VMDL_PROC2_RDTSCP (1u << 3)
#define VMDL_PROC2_X2APIC_MODE (1u << 4)
#define VMDL_PROC2_VPID (1u << 5)
#define VMDL_PROC2_WBINVD (1u << 6)
#define VMDL_PROC2_UNRESTRICTED (1u << 7)
#define VMDL_PROC2_APIC_REG_VIRT (1u << 8)
#define VMDL_PROC2_VID (1u << 9)
#define VMDL_PROC2_PAUSE_LOOP (1u << 10)
#define VMDL_PROC2_RDRAND (1u << 11)
#define VMDL_PROC2_INVPCID (1u << 12)
#define VMDL_PROC2_VMFUNC (1u << 13)
#define VMDL_PROC2_SHADOW_VMCS (1u << 14)
#define VMDL_PROC2_RDSEED (1u << 16)
#define VMDL_PROC2_PML (1u << 17)
#define VMDL_PROC2_XSAVES (1u << 20)
#define VMDL_PROC2_MODE_BASED_EPT (1u << 22)
#define VMDL_PROC2_TSC_SCALING (1u << 25)

#define VMDL_EXITCTL_SAVE_DEBUG (1u << 2)
#define VMDL_EXITCTL_HOST_ADDR64 (1u << 9)
#define VMDL_EXITCTL_LOAD_PERF_GLOBAL (1u << 12)
#define VMDL_EXITCTL_ACK_INTR (1u << 15)
#define VMDL_EXITCTL_SAVE_PAT (1u << 18)
#define VMDL_EXITCTL_LOAD_PAT (1u << 19)
#define VMDL_EXITCTL_SAVE_EFER (1u << 20)
#define VMDL_EXITCTL_LOAD_EFER (1u << 21)
#define VMDL_EXITCTL_SAVE_PREEMPT (1u << 22)

#define VMDL_ENTRYCTL_LOAD_DEBUG (1u << 2)
#define VMDL_ENTRYCTL_IA32E (1u << 9)
#define VMDL_ENTRYCTL_SMM (1u << 10)
#define VMDL_ENTRYCTL_DUAL_MONITOR (1u << 11)
#define VMDL_ENTRYCTL_LOAD_PERF_GLOBAL (1u << 13)
#define VMDL_ENTRYCTL_LOAD_PAT (1u << 14)
#define VMDL_ENTRYCTL_LOAD_EFER (1u << 15)
#define VMDL_ENTRYCTL_LOAD_BNDCFGS (1u << 16)

/* Interruption-information fields (entry, exit, IDT vectoring). */
#define VMDL_INTR_INFO_VALID (1u << 31)
#define VMDL_INTR_INFO_HAS_ERROR (1u << 11)
#define VMDL_INTR_INFO_NMI_UNBLOCK (1u << 12)
#define VMDL_INTR_TYPE_EXT_INTR 0u
#define VMDL_INTR_TYPE_NMI 2u
#define VMDL_INTR_TYPE_HW_EXCEPTION 3u
#define VMDL_INTR_TYPE_SOFT_INTR 4u
#define VMDL_INTR_TYPE_PRIV_SW_EXCEPTION 5u
#define VMDL_INTR_TYPE_SOFT_EXCEPTION 6u
#define VMDL_INTR_TYPE_OTHER 7u

/* Basic exit reasons (SDM Vol. 3D appendix C). */
enum vmdl_vmx_exit_reason {
    VMDL_VMX_EXIT_EXCEPTION_NMI = 0, VMDL_VMX_EXIT_EXTERNAL_INTR = 1,
    VMDL_VMX_EXIT_TRIPLE_FAULT = 2, VMDL_VMX_EXIT_INIT = 3, VMDL_VMX_EXIT_SIPI = 4,
    VMDL_VMX_EXIT_INTR_WINDOW = 7, VMDL_VMX_EXIT_NMI_WINDOW = 8,
    VMDL_VMX_EXIT_TASK_SWITCH = 9, VMDL_VMX_EXIT_CPUID = 10, VMDL_VMX_EXIT_GETSEC = 11,
    VMDL_VMX_EXIT_HLT = 12, VMDL_VMX_EXIT_INVD = 13, VMDL_VMX_EXIT_INVLPG = 14,
    VMDL_VMX_EXIT_RDPMC = 15, VMDL_VMX_EXIT_RDTSC = 16, VMDL_VMX_EXIT_VMCALL = 18,
    VMDL_VMX_EXIT_VMCLEAR = 19, VMDL_VMX_EXIT_VMLAUNCH = 20, VMDL_VMX_EXIT_VMPTRLD = 21,
    VMDL_VMX_EXIT_VMPTRST = 22, VMDL_VMX_EXIT_VMREAD = 23, VMDL_VMX_EXIT_VMRESUME = 24,
    VMDL_VMX_EXIT_VMWRITE = 25, VMDL_VMX_EXIT_VMXOFF = 26, VMDL_VMX_EXIT_VMXON = 27,
    VMDL_VMX_EXIT_CR_ACCESS = 28, VMDL_VMX_EXIT_DR_ACCESS = 29, VMDL_VMX_EXIT_IO = 30,
    VMDL_VMX_EXIT_RDMSR = 31, VMDL_VMX_EXIT_WRMSR = 32, VMDL_VMX_EXIT_INVALID_STATE = 33,
    VMDL_VMX_EXIT_MSR_LOAD_FAIL = 34, VMDL_VMX_EXIT_MWAIT = 36, VMDL_VMX_EXIT_MTF = 37,
    VMDL_VMX_EXIT_MONITOR = 39, VMDL_VMX_EXIT_PAUSE = 40,
    VMDL_VMX_EXIT_TPR_BELOW_THRESHOLD = 43, VMDL_VMX_EXIT_APIC_ACCESS = 44,
    VMDL_VMX_EXIT_EOI_INDUCED = 45, VMDL_VMX_EXIT_GDTR_IDTR = 46,
    VMDL_VMX_EXIT_LDTR_TR = 47, VMDL_VMX_EXIT_EPT_VIOLATION = 48,
    VMDL_VMX_EXIT_EPT_MISCONFIG = 49, VMDL_VMX_EXIT_INVEPT = 50, VMDL_VMX_EXIT_RDTSCP = 51,
    VMDL_VMX_EXIT_PREEMPT_TIMER = 52, VMDL_VMX_EXIT_INVVPID = 53,
    VMDL_VMX_EXIT_WBINVD = 54, VMDL_VMX_EXIT_XSETBV = 55, VMDL_VMX_EXIT_APIC_WRITE = 56,
    VMDL_VMX_EXIT_RDRAND = 57, VMDL_VMX_EXIT_INVPCID = 58, VMDL_VMX_EXIT_VMFUNC = 59,
    VMDL_VMX_EXIT_RDSEED = 61, VMDL_VMX_EXIT_PML_FULL = 62, VMDL_VMX_EXIT_XSAVES = 63, VMDL_VMX_EXIT_XRSTORS = 64,
};
#define VMDL_VMX_EXIT_FAILED_ENTRY (1u << 31)
/* Exit qualification of a guest-state entry failure (reason 33). */
#define VMDL_ENTRY_FAIL_DEFAULT 0u
#define VMDL_ENTRY_FAIL_PDPTE 2u
#define VMDL_ENTRY_FAIL_VMCS_LINK 4u

/* Further VM-instruction error numbers used by the nested paths. */
#define VMDL_VMXERR_ENTRY_INVALID_HOST_STATE 8u
#define VMDL_VMXERR_INVALID_OPERAND_INVEPT_INVVPID 28u

/* ---- the architectural vCPU state that VM entries and exits move ---- */
enum vmdl_vmx_seg_id {
    VMDL_VMX_SEG_ES, VMDL_VMX_SEG_CS, VMDL_VMX_SEG_SS, VMDL_VMX_SEG_DS,
    VMDL_VMX_SEG_FS, VMDL_VMX_SEG_GS, VMDL_VMX_SEG_LDTR, VMDL_VMX_SEG_TR,
    VMDL_VMX_NSEGS
};
/* Access rights in the VMCS format: type 3:0, S 4, DPL 6:5, P 7, AVL 12,
 * L 13, D/B 14, G 15, unusable 16. */
#define VMDL_VMX_AR_UNUSABLE (1u << 16)
struct vmdl_vmx_segment {
    uint16_t selector;
    uint64_t base;
    uint32_t limit;
    uint32_t ar;
};

/* The guest activity state (SDM 24.4.2). */
#define VMDL_VMX_ACTIVITY_ACTIVE 0u
#define VMDL_VMX_ACTIVITY_HLT 1u
#define VMDL_VMX_ACTIVITY_SHUTDOWN 2u
#define VMDL_VMX_ACTIVITY_WAIT_SIPI 3u

struct vmdl_vmx_cpu {
    uint64_t cr0, cr3, cr4, dr7;
    uint64_t rsp, rip, rflags;
    struct vmdl_vmx_segment seg[VMDL_VMX_NSEGS];
    uint64_t gdtr_base, idtr_base;
    uint32_t gdtr_limit, idtr_limit;
    uint64_t efer, pat, debugctl, perf_global_ctrl, bndcfgs;
    uint32_t sysenter_cs;
    uint64_t sysenter_esp, sysenter_eip;
    uint32_t activity;          /* 0 active, 1 HLT, 2 shutdown, 3 wait-for-SIPI */
    uint32_t interruptibility;  /* bit 0 STI, 1 MOV SS, 2 SMI, 3 NMI blocking */
    uint64_t pending_dbg;
};

/* MSR access for the MSR-load/store lists (VM entry loads, VM exit stores
 * and loads).  Return VMDL_FAULT_NONE or a fault (the list entry fails).
 * NULL ops: MSRs other than those in struct vmdl_vmx_cpu fail. */
struct vmdl_vmx_msr_ops {
    vmdl_fault (*read)(void *opaque, uint32_t index, uint64_t *value);
    vmdl_fault (*write)(void *opaque, uint32_t index, uint64_t value);
    void *opaque;
};

/* An event to inject into L2 (from the VM-entry interruption information). */
struct vmdl_vmx_event {
    bool valid;
    uint8_t type;               /* VMDL_INTR_TYPE_* */
    uint8_t vector;
    bool has_error;
    uint32_t error_code;
    uint32_t insn_len;          /* software interrupts/exceptions */
};

enum vmdl_vmx_entry_outcome {
    VMDL_VMX_ENTRY_VMFAIL = 1,  /* res holds the VMfail; nothing else changed */
    VMDL_VMX_ENTRY_FAIL_EXIT,   /* entry-failure exit: cpu = L1 host state */
    VMDL_VMX_ENTRY_ENTERED,     /* cpu = L2 state; L2 is active */
};

struct vmdl_vmx_entry {
    enum vmdl_vmx_entry_outcome outcome;
    uint32_t exit_reason;       /* FAIL_EXIT: 33 or 34 | 0x80000000 */
    uint64_t qualification;
    struct vmdl_vmx_event inject; /* ENTERED: the event to deliver in L2 */
    const char *check;          /* the check that failed (diagnostic) */
};

/* The IA32_DEBUGCTL bits the vCPU implements (KVM's
 * vmx_get_supported_debugctl(vcpu, false): BUS_LOCK_DETECT, RTM_DEBUG,
 * LBR / FREEZE_LBRS_ON_PMI as the guest's CPUID and PMU allow; 0 by
 * default).  With "load debug controls", GUEST_IA32_DEBUGCTL may also have
 * LBR and BTF (dropped, KVM's ABI); any other bit outside the set fails the
 * entry (reason 33), and L2 gets the value masked with the set. */
int vmdl_vmx_set_debugctl_supported(struct vmdl_vmx *vmx, uint64_t bits);

/* Whether the vCPU's CPU supports 5-level paging (CPUID.(EAX=7,ECX=0):
 * ECX[16]; false by default).  The canonical checks of VM entry follow
 * current KVM (is_noncanonical_msr_address / _base_address): host and
 * guest SYSENTER_ESP/EIP and segment, GDTR, IDTR, TR bases are 57-bit
 * canonical with it, 48-bit without, whatever CR4.LA57; HOST_RIP follows
 * L1's CR4.LA57 (KVM: is_noncanonical_address with the vCPU's mode) and a
 * 64-bit GUEST_RIP GUEST_CR4.LA57, both only with the support. */
int vmdl_vmx_set_la57(struct vmdl_vmx *vmx, bool supported);

/*
 * VMLAUNCH (resume false) or VMRESUME from L1.  cpu: L1's state on input
 * (CR0/CR4 for the instruction checks, EFER.LMA for the address-space-size
 * check).  A fault (#UD/#GP) or a VMfail from the instruction checks comes
 * back in res with outcome VMDL_VMX_ENTRY_VMFAIL and nothing changed.
 */
int vmdl_vmx_nested_enter(struct vmdl_vmx *vmx, const struct vmdl_vmx_ctx *ctx,
                          bool resume, struct vmdl_vmx_cpu *cpu,
                          const struct vmdl_vmx_msr_ops *msrs,
                          struct vmdl_vmx_result *res, struct vmdl_vmx_entry *out);

/* Only the control-field and host-state checks (steps 2-3): 0 when they
 * pass, else the VM-instruction error (7 or 8); *check names the rule. */
uint32_t vmdl_vmx_check_entry_vmfail(const struct vmdl_vmx *vmx, uint64_t l1_efer,
                                     const char **check);
/* Only the guest-state checks (step 4): 0 when they pass, else the exit
 * qualification + 1 (1: default, 3: PDPTEs, 5: VMCS link pointer). */
uint32_t vmdl_vmx_check_entry_guest(const struct vmdl_vmx *vmx, const char **check);

/* Is L2 active (VMX non-root operation)? */
bool vmdl_vmx_in_guest_mode(const struct vmdl_vmx *vmx);

/* Exit information written to vmcs12 by a VM exit. */
struct vmdl_vmx_exit_info {
    uint32_t reason;            /* basic reason (bits 15:0) and flags */
    uint64_t qualification;
    uint64_t guest_linear;
    uint64_t guest_phys;
    uint32_t intr_info, intr_error;
    uint32_t idt_info, idt_error;
    uint32_t insn_len, insn_info;
};

/*
 * VM exit from L2 to L1 (SDM Vol. 3C 28; KVM nested_vmx_vmexit with
 * prepare_vmcs12 and load_vmcs12_host_state): L2's state (cpu) is saved
 * into vmcs12, the exit information written, the VM-entry interruption
 * information invalidated, the MSR-store list written, the host state
 * loaded into cpu and the VM-exit MSR-load list performed.  *abort: a
 * VMX abort (an MSR-store/load list failure); KVM then shuts L1 down
 * (triple fault), and so does the caller.
 */
int vmdl_vmx_nested_exit(struct vmdl_vmx *vmx, const struct vmdl_vmx_exit_info *info,
                         struct vmdl_vmx_cpu *cpu,
                         const struct vmdl_vmx_msr_ops *msrs, bool *abort);

/* ---- the exit decision: does L1 want this L2 event? ---- */
enum vmdl_vmx_l2_kind {
    VMDL_L2_EXCEPTION = 1,      /* vector, type, error code; PF: addr = CR2 */
    VMDL_L2_NMI,
    VMDL_L2_EXT_INTR,           /* vector (the interrupt a controller has) */
    VMDL_L2_TRIPLE_FAULT,
    VMDL_L2_INIT,
    VMDL_L2_SIPI,               /* vector */
    VMDL_L2_INTR_WINDOW,        /* L2 can take interrupts now */
    VMDL_L2_NMI_WINDOW,
    VMDL_L2_PREEMPT_TIMER,      /* the timer counted down to zero */
    VMDL_L2_CPUID, VMDL_L2_GETSEC, VMDL_L2_HLT, VMDL_L2_INVD,
    VMDL_L2_INVLPG,             /* addr = linear address */
    VMDL_L2_RDPMC, VMDL_L2_RDTSC, VMDL_L2_RDTSCP, VMDL_L2_VMCALL,
    VMDL_L2_VMX_INSN,           /* vmx_exit = the instruction's exit reason */
    VMDL_L2_MOV_TO_CR,          /* cr, gpr, value */
    VMDL_L2_MOV_FROM_CR,        /* cr, gpr */
    VMDL_L2_CLTS,
    VMDL_L2_LMSW,               /* value = source operand, addr: memory operand */
    VMDL_L2_MOV_DR,             /* dr, gpr, to_reg (from DR) */
    VMDL_L2_IO,                 /* port, size, in, string, rep, imm */
    VMDL_L2_RDMSR, VMDL_L2_WRMSR, /* msr */
    VMDL_L2_PAUSE, VMDL_L2_MONITOR, VMDL_L2_MWAIT,
    VMDL_L2_WBINVD, VMDL_L2_XSETBV, VMDL_L2_RDRAND, VMDL_L2_RDSEED,
    VMDL_L2_INVPCID,
    VMDL_L2_DESC_TABLE,         /* desc 0-3 SGDT SIDT LGDT LIDT (reason 46),
                                   4-7 SLDT STR LLDT LTR (47); disp, insn_info */
};

struct vmdl_vmx_l2_event {
    enum vmdl_vmx_l2_kind kind;
    uint8_t vector;
    uint8_t type;               /* exceptions: VMDL_INTR_TYPE_HW/SOFT_EXCEPTION... */
    bool has_error;
    uint32_t error_code;
    uint64_t addr;              /* PF: CR2; #DB: its DR6 bits; INVLPG: address;
                                   LMSW: memory address */
    uint64_t value;             /* MOV to CR / LMSW: the value */
    unsigned cr, dr, gpr;       /* register numbers (gpr 0 RAX .. 15 R15) */
    bool to_reg;                /* MOV DR: DR -> GPR */
    bool lmsw_mem;              /* LMSW with a memory operand */
    uint16_t port;
    uint8_t size;               /* 1, 2, 4 */
    bool in, string, rep, imm;
    uint32_t msr;
    uint32_t vmx_exit;          /* VMDL_L2_VMX_INSN: e.g. VMDL_VMX_EXIT_VMREAD */
    uint32_t insn_len, insn_info;
    unsigned desc;              /* DESC_TABLE: which instruction */
    uint64_t disp;              /* DESC_TABLE: displacement (the qualification) */
};

/*
 * SDM Vol. 3C 26.1-26.2 as KVM's nested_vmx_l1_wants_exit applies them to
 * vmcs12: true when the event causes a VM exit to L1, with *info filled in
 * (reason, qualification, interruption information, instruction length and
 * information); false when L2 handles it (L0 emulates it for L2).
 * Bitmaps (I/O, MSR) are read from guest memory; a bitmap that cannot be
 * read makes the event exit, as in KVM.
 */
bool vmdl_vmx_l1_wants(const struct vmdl_vmx *vmx, const struct vmdl_vmx_l2_event *ev,
                       struct vmdl_vmx_exit_info *info);

/* What L2 reads from CR0/CR4: guest/host-masked bits from the read shadow. */
/* The TSC L2 reads (RDTSC, RDTSCP, RDMSR of IA32_TSC) when L1 does not
 * exit on them, from L1's TSC: with "use TSC offsetting", times
 * TSC_MULTIPLIER (48 fractional bits) under "use TSC scaling", plus
 * TSC_OFFSET (SDM 26.3); L1's TSC otherwise. */
uint64_t vmdl_vmx_l2_tsc(const struct vmdl_vmx *vmx, uint64_t l1_tsc);

/* The VMX-preemption timer (SDM 26.5.1) counts down by one each time bit
 * `rate` (IA32_VMX_MISC[4:0]) of the TSC changes.  Loaded with `value` at
 * TSC `tsc`, it reaches zero at the TSC returned ((tsc >> rate) + value)
 * << rate, saturated at UINT64_MAX).  KVM's hrtimer starts the count at
 * the entry's TSC instead of the last bit change, so it can fire up to
 * 2^rate - 1 ticks later than this.  vmdl_vmx_preempt_value is what "save
 * VMX-preemption timer value" stores at TSC `now`: KVM's
 * vmx_get_preemption_timer_value, the ticks left to the deadline >> rate
 * (0 once reached), which is one less than the SDM's count of bit changes
 * still to come whenever `now` is not a multiple of 2^rate: with VM
 * entries and exits that take no virtual time, the SDM's count would store
 * the loaded value back after a short run of L2. */
uint64_t vmdl_vmx_preempt_deadline(uint64_t tsc, uint32_t value, unsigned rate);
uint32_t vmdl_vmx_preempt_value(uint64_t now, uint64_t deadline, unsigned rate);

uint64_t vmdl_vmx_l2_read_cr(const struct vmdl_vmx *vmx, unsigned cr, uint64_t real);
/* The real CR0/CR4 after an L2 write that did not exit: bits owned by L1
 * (set in the mask) keep their value. */
uint64_t vmdl_vmx_l2_write_cr(const struct vmdl_vmx *vmx, unsigned cr,
                              uint64_t real, uint64_t value);

/* ---- INVEPT / INVVPID (VMX root operation) ---- */
/* type: the register operand; desc: the 128-bit descriptor in memory at
 * desc_addr (read even when the type does not need it, as the SDM and KVM
 * do).  Faults: #UD without EPT/INVEPT (VPID/INVVPID) in the profile or
 * outside VMX operation, #GP at CPL > 0, #GP/#PF for the descriptor.
 * VMfailValid(28) for an unsupported type or a bad descriptor. */
int vmdl_vmx_invept(struct vmdl_vmx *vmx, const struct vmdl_vmx_ctx *ctx,
                    uint64_t type, uint64_t desc_addr, struct vmdl_vmx_result *res);
int vmdl_vmx_invvpid(struct vmdl_vmx *vmx, const struct vmdl_vmx_ctx *ctx,
                     uint64_t type, uint64_t desc_addr, struct vmdl_vmx_result *res);
/* Would this EPTP pass KVM's nested_vmx_check_eptp against the profile? */
bool vmdl_vmx_eptp_valid(const struct vmdl_vmx_model *m, uint64_t eptp);

/* ---- VMFUNC (SDM Vol. 3C 26.5.6; KVM's handle_vmfunc) ---- */
enum vmdl_vmx_vmfunc_outcome {
    VMDL_VMFUNC_UD = 1,         /* #UD: not in L2, "enable VM functions" off, or
                                 * EAX > 63 (raised in L2, under L1's
                                 * exception bitmap) */
    VMDL_VMFUNC_DONE,           /* performed: the caller skips the instruction */
    VMDL_VMFUNC_EXIT,           /* VM exit 59 to L1 (fault-like): exit */
};
struct vmdl_vmx_vmfunc {
    enum vmdl_vmx_vmfunc_outcome outcome;
    bool eptp_changed;          /* DONE: EPT_POINTER now new_eptp; whatever was
                                 * cached for old_eptp must go */
    uint64_t old_eptp, new_eptp;
    struct vmdl_vmx_exit_info exit; /* EXIT: reason 59, the instruction length */
    const char *why;            /* UD / EXIT: the check that decided */
};
/*
 * VMFUNC with EAX = rax, ECX = rcx (the upper halves ignored).  KVM
 * emulates only function 0, EPTP switching (bit 0 of IA32_VMX_VMFUNC):
 * with its bit set in the VM-function controls, EPT on, ECX < 512, the
 * 8-byte entry ECX of the EPTP list (L1-physical, read through the
 * model's guest memory) readable and a valid EPTP (vmdl_vmx_eptp_valid),
 * EPT_POINTER becomes that entry; any other case is the VM exit.
 */
int vmdl_vmx_vmfunc(struct vmdl_vmx *vmx, uint64_t rax, uint64_t rcx, uint32_t insn_len,
                    struct vmdl_vmx_vmfunc *out);

/* ---- vCPU events around a nested guest (KVM_SET_MP_STATE/VCPU_EVENTS) ---- */
enum vmdl_vmx_mp_state {
    VMDL_MP_RUNNABLE = 0, VMDL_MP_UNINITIALIZED = 1, VMDL_MP_INIT_RECEIVED = 2,
    VMDL_MP_HALTED = 3, VMDL_MP_SIPI_RECEIVED = 4,
};
struct vmdl_vmx_vcpu_events {
    /* Injected: already being delivered to the guest (needs re-injection). */
    bool exception_injected, interrupt_injected, nmi_injected;
    uint8_t exception_vector, interrupt_vector;
    /* Pending: not yet delivered. */
    bool exception_pending, nmi_pending, init_pending, sipi_pending;
    bool irq_pending;           /* the interrupt controller has one */
    uint8_t irq_vector, sipi_vector;
    bool irq_blocked;           /* RFLAGS.IF = 0 or an STI/MOV SS shadow */
    bool nmi_blocked;
    bool mtf_pending, preempt_timer_expired;
    bool nested_run_pending;    /* a VMLAUNCH/VMRESUME not yet completed */
};

int vmdl_vmx_set_mp_state(struct vmdl_vmx *vmx, enum vmdl_vmx_mp_state s);
enum vmdl_vmx_mp_state vmdl_vmx_get_mp_state(const struct vmdl_vmx *vmx);
int vmdl_vmx_set_vcpu_events(struct vmdl_vmx *vmx, const struct vmdl_vmx_vcpu_events *ev);
int vmdl_vmx_get_vcpu_events(const struct vmdl_vmx *vmx, struct vmdl_vmx_vcpu_events *ev);
/* Test/host hook: mark L2 active without an entry (as KVM_SET_NESTED_STATE
 * does); needs a current VMCS. */
int vmdl_vmx_set_guest_mode(struct vmdl_vmx *vmx, bool on);

enum vmdl_vmx_nested_check {
    VMDL_NESTED_NO_EXIT = 0,    /* nothing for L1; L2 takes what it can */
    VMDL_NESTED_EXIT,           /* an event exits to L1: *info */
    VMDL_NESTED_EBUSY,          /* an event wants L1 but an injected event
                                   (or a pending nested run) blocks it */
};
/* KVM's vmx_check_nested_events, in its priority order: INIT, SIPI (in
 * wait-for-SIPI), pending exception, MTF, preemption timer, NMI, external
 * interrupt.  Consumes the event that exits (clears it from the events). */
enum vmdl_vmx_nested_check vmdl_vmx_check_nested_events(struct vmdl_vmx *vmx,
                                                        struct vmdl_vmx_exit_info *info);

/* Is INIT blocked (held pending, no VM exit, not performed)?  In VMX root
 * operation (KVM's vmx_apic_init_signal_blocked, SDM 24.8), and for an L2
 * in wait-for-SIPI under caps.sdm_init_blocked_in_wait_for_sipi. */
bool vmdl_vmx_init_blocked(const struct vmdl_vmx *vmx);

/* Quirk: KVM before commit ead63640d4e7 ("KVM: x86: Ignore -EBUSY when
 * checking nested events from vcpu_block()") exits to userspace with
 * KVM_EXIT_UNKNOWN on -EBUSY.  Default off (current KVM: ignore -EBUSY). */
int vmdl_vmx_set_quirk_block_ebusy_exits(struct vmdl_vmx *vmx, bool old);

enum vmdl_vmx_block_outcome {
    VMDL_BLOCK_STAY = 0,        /* nothing wakes the vCPU: stays halted */
    VMDL_BLOCK_WAKE,            /* MP state -> RUNNABLE, run again */
    VMDL_BLOCK_NESTED_EXIT,     /* woke with a VM exit to L1 (*info) */
    VMDL_BLOCK_EXIT_UNKNOWN,    /* exit to userspace, KVM_EXIT_UNKNOWN */
};
/* KVM's vcpu_block() after the halted vCPU was woken, for a vCPU whose MP
 * state is HALTED: with L2 active, check nested events first; -EBUSY is
 * ignored (wake-up continues) unless the quirk is set. */
enum vmdl_vmx_block_outcome vmdl_vmx_vcpu_block(struct vmdl_vmx *vmx,
                                                struct vmdl_vmx_exit_info *info);

/*
 * VMREAD/VMWRITE executed by L2 (SDM 25.1.3, 24.10 "VMCS shadowing"):
 * vmdl_vmx_l2_vmcs_access_exits says whether L1 takes it (VM exit 23 /
 * 25), as KVM's nested_vmx_exit_handled_vmcs_access: without "VMCS
 * shadowing" (secondary control 14), for a field with bits 63:15 set, an
 * unreadable bitmap, or the field's bit set in the VMREAD / VMWRITE bitmap
 * (field bits 14:0 index the 4-KiB bitmap).  Otherwise vmdl_vmx_exec_shadow
 * runs it on the shadow VMCS at the VMCS link pointer (in vmcs12's layout,
 * as KVM's cached shadow vmcs12): VMfailInvalid when the link pointer is
 * all ones or the region is not RAM; the field rules, errors 12/13 and the
 * operand handling are VMREAD/VMWRITE's, the error number goes to the
 * current VMCS (L1's vmcs12 of L2), a VMWRITE lands in the shadow region.
 */
bool vmdl_vmx_l2_vmcs_access_exits(const struct vmdl_vmx *vmx, bool write, uint64_t field);
int vmdl_vmx_exec_shadow(struct vmdl_vmx *vmx, const struct vmdl_vmx_ctx *ctx,
                         enum vmdl_vmx_insn insn, struct vmdl_vmx_operand *op0,
                         struct vmdl_vmx_operand *op1, struct vmdl_vmx_result *res);

#ifdef __cplusplus
}
#endif
#endif
