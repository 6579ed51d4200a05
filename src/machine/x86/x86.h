/* SPDX-License-Identifier: MIT */
/*
 * The x86-64 vCPU over Unicorn (internal to src/machine/x86/).
 *
 * The guest believes it runs at CPL0; underneath it runs at CPL3 with IOPL 3
 * so that every privileged instruction (RDMSR, WRMSR, HLT, MOV CR, LIDT,
 * ...) raises #GP and reaches us, while CLI/STI/POPF/IRETQ run natively and
 * keep RFLAGS.IF exact.  Unicorn never delivers exceptions through the guest
 * IDT, so deliver.c does.  The files, by concern:
 *   vcpu.c     engine set-up, reset, INIT/SIPI
 *   run.c      one entry into the engine and the dispatch of its stop
 *   deliver.c  exception and interrupt delivery through the guest IDT
 *   emulate.c  privileged instructions (MOV CR, LIDT, HLT, ...) and VMX/SEAM
 *   msr.c      RDMSR/WRMSR/RDPMC routing and the built-in MSRs
 *   cpuid.c    the CPUID table and the CPUID hook
 *   io.c       port I/O hooks and exits
 *   mmio.c     MMIO exits, string elements, non-canonical and >4 GiB faults
 *   decode.c   Capstone helpers: operands, lengths, the VMX/SEAM decoder
 *   site.c     trap sites: RDMSR/WRMSR/VMREAD/VMWRITE completed in the engine
 *   regs.c     register table and access, checkpoint words
 *   x86_ops.c  the struct vmdl_arch_ops table
 *   multiboot.c, pc.c  PC-style boot (multiboot) and fw_cfg
 *   hosted_*.c the hosted vCPU for real guests (an SVM guest of QEMU's TCG;
 *              hosted.h lists its files)
 */
#ifndef VMDL_X86_H
#define VMDL_X86_H

#include "../arch_ops.h"
#include "virtmodel/pc_acpi.h"
#include "virtmodel/pc_pit.h"
#include "virtmodel/pc_rtc.h"
#include "virtmodel/pc_uart.h"
#include "virtmodel/pic8259.h"
#include "walk.h"

/* A private page range outside the guest's 4 GiB: GDT, entry stubs, stack. */
#define HIDDEN_BASE 0x7FFFFFF00000ull
#define HIDDEN_SIZE 0x10000ull
#define HIDDEN_GDT (HIDDEN_BASE + 0x0)
#define HIDDEN_IRETQ (HIDDEN_BASE + 0x100)
#define HIDDEN_HLT (HIDDEN_BASE + 0x110)
#define HIDDEN_IOSTOP (HIDDEN_BASE + 0x120)  /* the I/O-stop set-up (io.c) */
#define HIDDEN_STACK (HIDDEN_BASE + 0x8000)
#define SEL_USER_CS 0x1B
#define SEL_USER_SS 0x23
#define RFLAGS_IF (1ull << 9)
#define RFLAGS_DF (1ull << 10)
#define RFLAGS_FIXED 0x3002ull /* bit 1 and IOPL 3 */

/* Machine-check state as KVM keeps it per vCPU (hosted_msr.c). */
#define X86H_MCE_BANKS 10           /* QEMU's default, as KVM userspace sets */
struct x86h_mce {
    uint64_t mcg_status, mcg_ctl;
    uint64_t bank[X86H_MCE_BANKS][4];   /* CTL, STATUS, ADDR, MISC */
};

/* How the bootstrap processor of a hosted VM starts (multiboot: 32-bit
 * protected mode), and what the hosted vCPU found at start-up. */
struct vmdl_x86_hosted_vm {
    int segs_off;        /* segment caches in a saved engine context */
    int cr_end_off;      /* end of the control registers there */
    int err_off;         /* QEMU's pending error code (exit_info_1) */
    int vtpr_off;        /* QEMU's v_tpr (0: not found, CR8 always exits) */
    int crw_off;         /* QEMU's CR write intercept bits */
    int pkru_off;        /* QEMU's PKRU (0: not looked for, -1: not found;
                            hosted_walk.c) */
    uint32_t eax, ebx;   /* entry registers */
    uint64_t gdt_addr;   /* flat code 0x10 / data 0x18, as QEMU's ROM leaves */
    bool pc_devices;     /* fw_cfg, pc-testdev, ... registered (pc.c) */
    struct vmdl_uart com1;       /* COM1 of a PC guest (pc.c, io.c) */
    struct vmdl_acpi_pm pm;      /* ACPI PM1a event/control, PM timer (pc.c) */
    struct vmdl_rtc rtc;         /* the CMOS RTC (rtc.c) */
    uint64_t rtc_now;            /* virtual time the RTC is synced to */
    bool irq8;                   /* IRQ 8's level as the controllers saw it */
    struct vmdl_vcpu *sleep_ro;  /* the vCPU that entered S3, its engine's
                                    RAM write-protected until its run
                                    returns (rtc.c), or NULL */
    struct vmdl_pic8259 pic;     /* the 8259A pair (pic.c) */
    struct vmdl_pit pit;         /* the 8254 (pic.c) */
    uint64_t pit_now;            /* virtual time the PIT's IRQ 0 is synced to */
    bool irq0;                   /* IRQ 0's level as the controllers saw it */
    bool fw_lapic;               /* the BSP's APIC still needs the BIOS's set-up */
    struct pc_pci *pci;          /* PCI host and devices (pci.c), NULL: none */
    struct vmdl_fw_cfg *fw_cfg;  /* fw_cfg's selection (pc.c), NULL: none */
    struct testdev *testdev;     /* pc-testdev (testdev.c), NULL: none */
    csh cs16, cs32;              /* Capstone for 16- and 32-bit code (decode.c) */
};

/* Outcome of handling a trapped instruction or access.  EMU_FAULT: a fault
 * the caller raises (the trap-site hooks leave the engine first). */
enum emu_result { EMU_DONE, EMU_TO_CALLER, EMU_NOT_EMULATED, EMU_TRIPLE, EMU_FAULT };

/* Addresses of RDMSR/WRMSR/VMREAD/VMWRITE completed inside the engine at
 * one time (site.c), and of those waiting for a place. */
#define X86_MAX_SITES 16
/* Aligned-SSE instructions checked by a code hook each (hosted_align.c). */
#define X86_MAX_ALIGN_SITES 64
/* One of them: where, and its last decoding (the bytes and the mode it
 * was decoded in, its 16-byte operand's address parts). */
struct x86_align_site {
    struct vmdl_vcpu *v;
    uint64_t la;
    bool decoded, checked;      /* decoded; an aligned-SSE memory operand */
    uint8_t len, bits, asize, scale;
    uint8_t bytes[15];
    uint16_t cs_sel;            /* the mode: CS selector, EFER.LMA, CR0.PE */
    bool lma, pe;
    int8_t base, index;         /* GPR number, -1 none, X86_ALIGN_RIP */
    uint8_t base_size, index_size;
    int8_t seg;                 /* R_ES ... R_GS (hosted.h) */
    int64_t disp;
};
#define X86_ALIGN_RIP 16
#define X86_MAX_SITE_CANDIDATES 16

/*
 * The engine's DR7 and idle DR0 (io.c): one enabled global I/O breakpoint
 * (DR0, R/W 10b, one byte; bit 10 reads as 1), which QEMU checks right after
 * every IN, OUT, INS and OUTS (helper_bpt_io), on a port no instruction
 * reaches until an I/O hook arms it.  Global, so that a task switch (which
 * clears the local enables) keeps it.
 */
#define X86_IO_STOP_DR7 0x20402ull
#define X86_IO_STOP_IDLE 0x20000ull

struct vmdl_vcpu;

/* One trap site: its code hook's user data. */
struct x86_site {
    struct vmdl_vcpu *v;
    uint64_t rip;
    uint64_t hits;      /* completions (halved now and then, site.c) */
    uc_hook hook;
    bool live;          /* the hook exists (its slot never moves: the
                         * hook's user data points at it) */
    /* VMREAD/VMWRITE with register operands only: the decoded instruction
     * and the bytes it came from (it depends on nothing else), so that the
     * hook decodes only when the bytes changed (site.c). */
    bool decoded;
    uint8_t code[15];
    struct vmdl_x86_insn insn;
};

/* An address that trapped while every site was taken. */
struct x86_site_candidate {
    uint64_t rip;
    uint64_t traps;     /* traps (halved now and then, site.c) */
};

/* A guest-physical access the second stage refused: recorded by the C
 * walk's fill (hosted_walk.c), turned into the NPF event (hosted_ept.c). */
struct x86h_npf_miss {
    bool pending;
    uint64_t gpa;               /* a paging-structure entry's own address; the
                                 * page of a final access */
    bool write, fetch;          /* the refused access (an A/D update writes) */
    bool walk;                  /* to a paging-structure entry of the guest */
    bool pdpte_load;            /* ... the PDPTEs MOV to CR3 loads (no linear
                                 * address: SDM 28.2.1) */
    bool user, writable, xd;    /* final access: the linear address's rights */
};

/* The second-stage table of a hosted vCPU (hosted_ept.c): AMD64-format
 * tables in C memory, read by the machine's walk (never by the engine). */
struct x86h_npt {
    bool on;                    /* requested for the next entries */
    uint64_t *pool;             /* table pages (512 entries each), page 0 the root */
    unsigned used;              /* table pages in use */
    struct x86h_npf_miss miss;
};

/* A hosted field a run depends on (not a cache the machine rebuilds) also
 * goes into hosted_ckpt.c's table, or checkpoints lose it. */
struct x86_vcpu {
    struct vmdl_vcpu common;    /* first: a struct vmdl_vcpu * points here */
    /* hosted_*.c: the guest runs at its own privilege level as an SVM guest */
    uc_context *hctx;           /* ring-0 state at the VMRUN stub */
    uint8_t *h_mem;             /* the private pages (hosted.h, H_BASE) */
    bool hosted;                /* this vCPU is hosted */
    unsigned unassigned_pages;  /* unassigned memory pages mapped (vcpu.c) */
    bool hosted_vmrun;          /* ... and enters through VMRUN next time */
    bool cpuid_events;          /* CPUID stops for the VM's event hook */
    struct {                    /* the last leaf looked up (cpuid.c) */
        bool valid;
        unsigned gen;           /* vm->cpuid_gen it was looked up at */
        uint32_t leaf, sub;
        bool has_sub;
        struct vmdl_cpuid_entry e;   /* zeros for an absent leaf */
    } cpuid_last;
    /* hosted_nested.c: a nested guest (L2) runs on this vCPU */
    bool nested;
    struct vmdl_x86_nested_ctl nctl;
    bool h_io_pass;             /* the next port access skips the probe */
    uint64_t h_rand;            /* RDRAND/RDSEED of a nested guest */
    struct {                    /* VM-entry event injection, due at entry */
        bool valid, has_err;
        uint8_t type, vector;
        uint32_t err;
        unsigned len;
    } h_inj;
    uint32_t h_vectoring, h_vectoring_err; /* the event being delivered (VMX
                                              format) while nested, or 0 */
    uint64_t tsc_adjust;        /* IA32_TSC_ADJUST */
    uint64_t misc_enable;       /* IA32_MISC_ENABLE */
    uint64_t debugctl;          /* IA32_DEBUGCTL (msr.c) */
    struct x86h_mce mce;        /* machine-check banks */
    uint64_t h_cr2;             /* CR2 for the next VMRUN (a #PF's address) */
    uint64_t h_db[4], h_dr6, h_dr7; /* the guest's debug registers (hosted_dr.c) */
    bool h_ss_trap;             /* a single-step #DB is owed (TF, emulated insn) */
    uc_hook h_bp_hook[4];       /* DR0-DR3 instruction breakpoints (0: none) */
    uc_hook h_wp_mem, h_wp_step; /* data breakpoints: accesses, boundaries */
    uint8_t h_bp_hit;           /* DR6 B0-B3 of the breakpoint that stopped */
    uint8_t h_wp_hit;           /* data breakpoints the last instruction hit */
    uint64_t h_wp_prev;         /* where that instruction starts */
    uint16_t h_kseg_sel[2];     /* FS, GS as last seen at CPL 0 (hosted_state.c) */
    uint64_t h_kseg_base[2];
    bool h_gif, h_virq;         /* engine GIF set; V_IRQ latched (hosted_irq.c) */
    /* CR8 as the engine's V_TPR, KVM's SVM way (hosted_cr.c): reads never
     * exit, writes exit only while the TPR is above 0. */
    bool h_vtpr;                /* the engine runs with V_INTR_MASKING */
    bool h_cr8w;                /* ... and intercepts CR8 writes */
    uint8_t h_vtpr_val;         /* V_TPR as the APIC last saw it */
    bool h_emulated;            /* an emulated instruction retired since the
                                   guest last ran (ends an STI shadow) */
    bool h_nmi_blocked;         /* an NMI was delivered, its IRET not yet run */
    bool h_nmi_second;          /* a second NMI pending (KVM's limit of 2) */
    bool h_nmi_shadow;          /* an NMI waits for the interrupt shadow's end */
    bool h_iret_step;           /* the next entry runs that IRET alone */
    bool h_desc_step;           /* ... or a descriptor-table load (hosted_desc.c) */
    uint32_t h_exc_err;         /* error code of the last exception intercept */
    uint64_t h_shadow_at;       /* RIP of the instruction an installed STI /
                                   MOV-SS shadow covers (QEMU drops a shadow
                                   VMRUN loads), UINT64_MAX: none */
    bool h_shadow_movss;        /* ... blocking by MOV SS (else by STI) */
    bool h_shadow_step;         /* ... or the instruction of a MOV-SS shadow a
                                   nested guest's NMI window waits for */
    bool h_step_next;           /* ... or whatever comes next (a nested
                                   guest's monitor trap flag) */
    uint64_t h_soft_rip;        /* the INT n being delivered starts here (or 0) */
    unsigned h_soft_len;        /* ... and is this long (IDT-vectoring exits) */
    bool h_not_fault;           /* the next delivery is an interrupt or INT n */
    struct x86h_npt npt;        /* second-stage translation (hosted_ept.c) */
    /* hosted_pdpte.c: PAE's PDPTE registers, set by the caller (a VM entry
     * under EPT loads GUEST_PDPTR0-3) and in force until a reload */
    bool h_pdpte_on;
    uint64_t h_pdpte[4];
    bool h_cr2_set;
    uint32_t pkrs;              /* IA32_PKRS (hosted_msr.c) */
    /* hosted_walk.c: the C page walk (UC_TLB_VIRTUAL) while CR4.PKS is on */
    bool h_walk;                /* the engine translates through the C walk */
    bool h_walk_stub;           /* the VMRUN stub runs: host fetches, and the
                                   delivery's implicit supervisor accesses */
    bool h_walk_refused;        /* the last stop is a page the walk refused */
    bool h_walk_fetch;          /* ... by a fetch */
    uint64_t h_walk_page;       /* ... of this page */
    struct vmdl__x86_paging h_walk_paging; /* CR0, CR4, EFER, CPUID's part
                                              as of the last sync */
    uint64_t h_walk_fills;      /* pages the walk installed (bench) */
    vmdl_fault h_fault;         /* a fault found in the hook (EXCP_HFAULT) */
    /* hosted_align.c: alignment checks QEMU 5.0 does not make */
    bool h_ac_on;               /* the current block runs at CPL 3 with AC */
    bool h_ac_want;             /* ... and the #AC hook must be installed */
    bool h_ac_vm86;             /* virtual-8086 mode possible (legacy mode) */
    uc_hook h_ac_hook;          /* the per-instruction #AC check (0: none) */
    unsigned h_align_vec;       /* the fault a check found (EXCP_ALIGN) */
    unsigned h_sse_n;           /* aligned-SSE instructions with a hook */
    struct x86_align_site h_sse[X86_MAX_ALIGN_SITES];
    bool h_counts;              /* counts instructions for its VMRUN stops */
    bool h_uc_counted;          /* Unicorn's own counting hook exists (a run
                                   with a count: hosted_state.c) */
    bool h_fill_quiet;          /* every TLB fill refused, nothing recorded */
    uc_context *ctx;            /* scratch for the exception-state fix */
    uc_context *io_ctx;         /* registers at an I/O exit (io.c) */
    bool io_armed;              /* an I/O hook armed DR0: #DB after the insn */
    bool io_precise;            /* ... and it came: RIP is right after it */
    bool io_calib;              /* the set-up's OUT is running (io.c) */
    bool io_string, io_rep;     /* the exit's instruction: INS/OUTS, REP */
    uint8_t io_asz;             /* ... its address size in bytes */
    uint64_t io_dr6;            /* the engine's DR6 before the arming */
    uint64_t io_from;           /* RIP (stale) in the hook that armed it */
    bool exc_dirty;             /* an exception was raised: clear QEMU's state */
    bool stop_rip_exact;        /* RIP is at the faulting access (TLB fill) */
    uint64_t stop_block;        /* start of the block that stopped (0: unknown) */
    uint16_t stop_port;         /* the port of an OUT that ended the run */
    int exc_offset;             /* offset of QEMU's old_exception in uc_context */
    struct x86_site sites[X86_MAX_SITES]; /* trap sites with a code hook (site.c) */
    unsigned nr_sites;
    struct x86_site_candidate site_cands[X86_MAX_SITE_CANDIDATES];
    uint64_t site_traps;        /* traps at addresses without a site */
    uint64_t site_replacements;
    enum emu_result site_result;  /* what a site hook left to the loop */
    vmdl_fault site_fault;
    uint8_t pending_string;     /* STOS/MOVS/LODS element (mmio.c) */
    bool pending_rep;           /* ... with a REP prefix */

    /* Virtual x86 state (the guest believes it runs at CPL0). */
    uint64_t cr0, cr2, cr3, cr4, cr8, efer;
    uint64_t idtr_base, gdtr_base;
    uint64_t kernel_gs_base;
    uint64_t tsc_offset;        /* guest TSC = retired instructions + offset */
    bool tsc_observed;          /* the guest read the TSC: time counts from now on */
    uint64_t xcr0;
    uint16_t idtr_limit, gdtr_limit;
};

static inline struct x86_vcpu *X86(struct vmdl_vcpu *v)
{
    return (struct x86_vcpu *)v;
}

static inline uint64_t rd(struct vmdl_vcpu *v, int ucreg)
{
    uint64_t x = 0;
    uc_reg_read(v->uc, ucreg, &x);
    return x;
}

static inline void wr(struct vmdl_vcpu *v, int ucreg, uint64_t x)
{
    uc_reg_write(v->uc, ucreg, &x);
}


extern const int vmdl__x86_gpr_uc[16];

/* hosted_*.c (hosted.h has their internals) */
int vmdl__x86h_enable(struct vmdl_vcpu *v);
void vmdl__x86h_free(struct vmdl_vcpu *v);
/* A nested guest's port access L1 takes: stop at it (hosted_nested.c). */
bool vmdl__x86h_io_probe(struct vmdl_vcpu *v, uint16_t port, int size, bool in);
/* Does a nested guest's L1 exit on external interrupts (L2's IF aside)? */
bool vmdl__x86h_nested_wakes(struct vmdl_vcpu *v);
bool vmdl__x86h_nested_window_wakes(struct vmdl_vcpu *v, bool rflags_if);
/* Linear to physical through the guest's page tables (no permission
 * checks, no accessed/dirty updates). */
int vmdl__x86h_translate(struct vmdl_vcpu *v, uint64_t la, uint64_t *pa);
/* Is reg kept in the VMCB until the next entry (not writable now)? */
bool vmdl__x86h_in_vmcb(struct vmdl_vcpu *v, int reg);
/* An MSR access with the guest's rules (hosted_msr.c); UNCLAIMED never. */
vmdl_fault vmdl__x86h_msr(struct vmdl_vcpu *v, bool write, uint32_t idx, uint64_t *val);
int vmdl__x86h_reset(struct vmdl_vcpu *v, uint64_t entry);
int vmdl__x86h_sipi(struct vmdl_vcpu *v, uint8_t vector);
/* Resume from S3: reset, then real mode at the waking vector (rtc.c). */
int vmdl__x86h_wake(struct vmdl_vcpu *v, uint32_t vector);
int vmdl__x86h_run(struct vmdl_vcpu *v, struct vmdl_exit *exit, bool *to_caller);
int vmdl__x86h_deliver_event(struct vmdl_vcpu *v, const struct vmdl_arch_event *ev);
/* CR0/CR2/CR3/CR4/EFER of a hosted vCPU; false for other registers. */
bool vmdl__x86h_get_reg(struct vmdl_vcpu *v, int reg, uint64_t *val);
/* Called from the UC_HOOK_INTR hook with every interrupt number. */
/* True when the intercept was completed inside the engine (hosted_run.c). */
bool vmdl__x86h_intr_hook(struct vmdl_vcpu *v, uint32_t intno);
/* UC_HOOK_TLB_FILL of a hosted vCPU in the C-walk mode (hosted_walk.c). */
bool vmdl__x86h_walk_fill(struct vmdl_vcpu *v, uint64_t page, uc_mem_type type,
                          uc_tlb_entry *entry);
/* cpuid.c: answer CPUID from the VM's table into RAX/RBX/RCX/RDX */
void vmdl__x86_cpuid_answer(struct vmdl_vcpu *v);
/* pc.c: fw_cfg for guests booted like a PC */
int vmdl__x86_pc_devices(struct vmdl_vm *vm);
/* Rebuild the PC's ACPI tables with one more table (the DMAR of pci.c). */
int vmdl__x86_pc_acpi_table(struct vmdl_vm *vm, const uint8_t *table, size_t len);
int vmdl__x86_testdev(struct vmdl_vm *vm);     /* testdev.c: QEMU's pc-testdev */
/* ... its state in a checkpoint's hosted section (hosted_ckpt.c) */
int vmdl__x86_testdev_save(struct vmdl_vm *vm, struct vmdl_blob_writer *w);
void vmdl__x86_testdev_stage(struct vmdl_blob_reader *r, const uint8_t **p, size_t *n);
void vmdl__x86_testdev_apply(struct vmdl_vm *vm, const uint8_t *p, size_t n);
/* hosted_ckpt.c: hosted vCPUs and the PC platform in a checkpoint */
/* (struct vmdl_arch_ops ext_*: an empty section for a VM without them) */
int vmdl__x86_ckpt_save(struct vmdl_vm *vm, uint8_t **blob, size_t *len);
int vmdl__x86_ckpt_stage(struct vmdl_vm *vm, const uint8_t *blob, size_t len,
                         void **staged);
void vmdl__x86_ckpt_apply(struct vmdl_vm *vm, const void *staged);
void vmdl__x86_ckpt_free(void *staged);
/* pic.c: the 8259A pair, the 8254, ISA IRQ routing, the BIOS's state */
int vmdl__x86_pic_devices(struct vmdl_vm *vm);
bool vmdl__x86_isa_irq_wanted(struct vmdl_vm *vm, unsigned irq);
bool vmdl__x86_halted_masked(struct vmdl_vcpu *vcpu);
/* Where pc.c puts the ACPI tables (the BIOS area). */
#define VMDL_X86_ACPI_BASE 0xE0000ull
/* rtc.c: the CMOS RTC on 0x70/0x71 and IRQ 8, ACPI S3 sleep and wake */
int vmdl__x86_rtc_devices(struct vmdl_vm *vm);
void vmdl__x86_suspend(struct vmdl_vcpu *v);
void vmdl__x86_sleep_done(struct vmdl_vcpu *v);
/* io.c: ACPI power-off through `port` (a shutdown exit, status 0) */
void vmdl__x86_power_off(struct vmdl_vcpu *v, uint16_t port);
void vmdl__x86_isa_irq(struct vmdl_vm *vm, unsigned irq, bool level);
void vmdl__x86_pc_firmware(struct vmdl_vcpu *v);
/* emulate.c: the CR4 bits a guest may set (CPUID-dependent, as KVM) */
uint64_t vmdl__x86_cr4_allowed(struct vmdl_vcpu *v);
/* msr.c: the guest's TSC (virtual time) */
uint64_t vmdl__x86_guest_tsc(struct vmdl_vcpu *v);
/* After an RDTSC/RDTSCP retired: its cycles beyond its tick (the RDTSC
 * weight, vtime.h), which the TSC it returned does not include. */
void vmdl__x86_rdtsc_stall(struct vmdl_vcpu *v);

/* vcpu.c */
int vmdl__x86_vcpu_init(struct vmdl_vcpu *v);
int vmdl__x86_vcpu_reset(struct vmdl_vcpu *v, uint64_t entry);
void vmdl__x86_vcpu_free(struct vmdl_vcpu *v);
void vmdl__x86_clear_exception_state(struct vmdl_vcpu *v);
void vmdl__x86_set_stop(struct vmdl_vcpu *v, enum stop_kind k);

/* run.c */
int vmdl__x86_run(struct vmdl_vcpu *v, struct vmdl_exit *exit, bool *to_caller);
int vmdl__x86_complete(struct vmdl_vcpu *v, uint64_t value, vmdl_fault fault);
void vmdl__x86_retire(struct vmdl_vcpu *v, unsigned len);

/* deliver.c */
bool vmdl__x86_has_error_code(unsigned vector);
int vmdl__x86_deliver(struct vmdl_vcpu *v, unsigned vector, bool has_err,
                      uint64_t err, uint64_t return_rip);
int vmdl__x86_deliver_event(struct vmdl_vcpu *v, const struct vmdl_arch_event *ev);
enum emu_result vmdl__x86_raise(struct vmdl_vcpu *v, vmdl_fault f, uint64_t rip);
/* The same with an error code (#VC: the SVM exit code). */
enum emu_result vmdl__x86_raise_code(struct vmdl_vcpu *v, vmdl_fault f,
                                     uint64_t code, uint64_t rip);
/* Deliver what is pending and allowed: 1 delivered, 0 nothing, -1 in an
 * interrupt shadow (one more instruction first).  *triple on failure. */
int vmdl__x86_inject_pending(struct vmdl_vcpu *v, bool *triple);
int vmdl__x86_inject_irq(struct vmdl_vcpu *v, unsigned vector);
int vmdl__x86_inject_nmi(struct vmdl_vcpu *v);
bool vmdl__x86_can_wake(struct vmdl_vcpu *v);
bool vmdl__x86_irq_window_open(struct vmdl_vcpu *v);
/* hosted_cr.c: around an MMIO access made from inside the engine */
void vmdl__x86_device_enter(struct vmdl_vcpu *v);
void vmdl__x86_device_leave(struct vmdl_vcpu *v);
bool vmdl__x86_fault_valid(vmdl_fault f);
int vmdl__x86_raise_fault(struct vmdl_vcpu *v, vmdl_fault f);

/* emulate.c */
enum emu_result vmdl__x86_emu_gp(struct vmdl_vcpu *v, uint64_t rip);
enum emu_result vmdl__x86_special_access(struct vmdl_vcpu *v, uint64_t rip,
                                         const struct vmdl_x86_insn *insn,
                                         vmdl_fault *fault);

/* site.c */
void vmdl__x86_site_learn(struct vmdl_vcpu *v, uint64_t rip);
enum emu_result vmdl__x86_emu_invalid(struct vmdl_vcpu *v, uint64_t rip);

/* msr.c */
enum emu_result vmdl__x86_emu_msr(struct vmdl_vcpu *v, bool is_write, uint64_t rip,
                                  unsigned len);
enum emu_result vmdl__x86_msr_access(struct vmdl_vcpu *v, bool is_write, uint64_t rip,
                                     unsigned len, vmdl_fault *fault);
enum emu_result vmdl__x86_emu_rdpmc(struct vmdl_vcpu *v, uint64_t rip, unsigned len);
/* RDPMC's counter ECX through the PMU model's MSRs (msr.c). */
vmdl_fault vmdl__x86_rdpmc_read(struct vmdl_vcpu *v, uint32_t ecx, uint64_t *val);
enum emu_result vmdl__x86_emu_rdtsc(struct vmdl_vcpu *v, const cs_insn *in);
uint64_t vmdl__x86_guest_clock(struct vmdl_vcpu *v);

/* cpuid.c */
void vmdl__x86_vm_init(struct vmdl_vm *vm);
int vmdl__x86_cpuid_cb(uc_engine *uc, void *user);
bool vmdl__x86_cpuid_has(struct vmdl_vm *vm, uint32_t leaf, int reg, unsigned bit);
/* 57 with LA57 in CPUID, else 48: MSR and descriptor-table base checks. */
unsigned vmdl__x86_max_vaddr_bits(struct vmdl_vm *vm);
uint64_t vmdl__x86_debugctl_supported(struct vmdl_vm *vm);
vmdl_fault vmdl__x86_debugctl_write(struct vmdl_vcpu *v, uint64_t val);

/* io.c */
uint32_t vmdl__x86_in_cb(uc_engine *uc, uint32_t port, int size, void *user);
void vmdl__x86_out_cb(uc_engine *uc, uint32_t port, int size, uint32_t value,
                      void *user);
bool vmdl__x86_rewind_io_exit(struct vmdl_vcpu *v);
void vmdl__x86_io_stop(struct vmdl_vcpu *v, enum stop_kind k, uint16_t port);
uint64_t vmdl__x86_rewind_power_off(struct vmdl_vcpu *v);
bool vmdl__x86_io_stop_hit(struct vmdl_vcpu *v, uint32_t intno);
void vmdl__x86_io_entry(struct vmdl_vcpu *v);
void vmdl__x86_io_after_run(struct vmdl_vcpu *v);
void vmdl__x86_complete_io(struct vmdl_vcpu *v, uint64_t value, bool in);
int vmdl__x86_io_setup(struct vmdl_vcpu *v);
/* Hook results are unreliable after a stop was requested (tail mode). */
bool vmdl__x86_in_tail(struct vmdl_vcpu *v);

/* mmio.c */
enum emu_result vmdl__x86_mmio_exit(struct vmdl_vcpu *v, uint64_t rip);
/* A fetch from the non-canonical target a 64-bit branch just jumped to:
 * the branch undone (RIP and RSP as before it), its address; the target
 * when the branch cannot be found (mmio.c). */
uint64_t vmdl__x86_unbranch(struct vmdl_vcpu *v, uint64_t target);
void vmdl__x86_complete_string(struct vmdl_vcpu *v, uint64_t value, bool is_read);
/* Decode forward from a stale RIP to the instruction that made an access
 * (io: port I/O, else memory at addr); 0 when none within 64. */
struct locate_want {
    bool io;             /* IN/OUT (else a memory access) */
    bool is_write;
    uint16_t port;
    unsigned size;
    uint64_t addr;       /* memory: the faulting address */
    uint64_t end;        /* where the instruction ends, if known (else 0) */
};
uint64_t vmdl__x86_locate_insn(struct vmdl_vcpu *v, uint64_t from,
                               const struct locate_want *w);
uint64_t vmdl__x86_locate_port(struct vmdl_vcpu *v, const struct locate_want *w);

/* decode.c */
bool vmdl__x86_cs_gpr(csh cs, unsigned reg, int *idx, int *size, bool *high);
void vmdl__x86_write_gpr_sized(struct vmdl_vcpu *v, int idx, int size, bool high,
                               uint64_t val);
uint64_t vmdl__x86_reg_value(struct vmdl_vcpu *v, unsigned cs_reg, uint64_t next_rip);
uint64_t vmdl__x86_mem_addr(struct vmdl_vcpu *v, const cs_insn *in, const cs_x86_op *op);
csh vmdl__x86_cs(struct vmdl_vcpu *v);
csh vmdl__x86_cs_for_bits(struct vmdl_vm *vm, unsigned bits);
int vmdl__x86_decode_with(struct vmdl_vcpu *v, csh h, uint64_t rip, cs_insn **out);
int vmdl__x86_insn_length(struct vmdl_vcpu *v, uint64_t rip, char *text,
                          size_t text_len, cs_insn **out);
int vmdl__x86_decode_special(struct vmdl_vcpu *v, uint64_t rip,
                             struct vmdl_x86_insn *insn);
bool vmdl__x86_decode_vmrw(struct vmdl_vcpu *v, const uint8_t *code, size_t n,
                           uint64_t rip, struct vmdl_x86_insn *insn);
void vmdl__x86_disasm(struct vmdl_vcpu *v, uint64_t pc, char *buf, size_t len);
bool vmdl__x86_insn_is_shadow(const cs_insn *in);
int vmdl__x86_insn_stall(const cs_insn *in);
/* hosted_align.c: a legacy-SSE instruction whose 16-byte memory operand
 * must be aligned; hooks for such instructions of a block (true: added,
 * the block must be translated again); the block hook's look at each
 * block while CR0.AM is set (true: leave before the block). */
bool vmdl__x86_insn_align_checked(const cs_insn *in);
bool vmdl__x86_arm_checks(struct vmdl_vcpu *v, const uint64_t *at, unsigned n);
bool vmdl__x86_block_watch(struct vmdl_vcpu *v, uint64_t addr);
/* After leaving before the block at linear address addr: RIP at it. */
void vmdl__x86_set_block_pc(struct vmdl_vcpu *v, uint64_t addr);

/* exit_cost.c: which trapped operations cost a VM exit in virtual time */
enum vmdl_x86_exit_kind {
    VMDL_XK_CPUID, VMDL_XK_XSETBV, VMDL_XK_CACHE, VMDL_XK_VMX, VMDL_XK_HLT,
    VMDL_XK_IO, VMDL_XK_MMIO, VMDL_XK_MSR, VMDL_XK_CR_WRITE, VMDL_XK_RDPMC,
    VMDL_XK_DR, VMDL_XK_DB, VMDL_XK_HYPERCALL, VMDL_XK_MSR_PASS, VMDL_XK_CR_OWNED,
    VMDL_XK_CR_READ, VMDL_XK_CR8, VMDL_XK_RDTSC, VMDL_XK_VMREAD_VMWRITE,
    VMDL_XK_INTERNAL, VMDL_XK_NESTED_ENTRY, VMDL_XK_NESTED_EXIT, VMDL_XK_NR
};
const char *vmdl__x86_exit_kind_name(enum vmdl_x86_exit_kind k);
bool vmdl__x86_exit_kind_exits(enum vmdl_x86_exit_kind k);
/* Add the exit weight when KVM would exit on this kind. */
void vmdl__x86_exit_cost(struct vmdl_vcpu *v, enum vmdl_x86_exit_kind k);
enum vmdl_x86_exit_kind vmdl__x86_msr_kind(uint32_t idx, bool write);
enum vmdl_x86_exit_kind vmdl__x86_cr_write_kind(unsigned cr, uint64_t old, uint64_t val);
/* The serialize weight of a MOV to CR0/CR3/CR4 that took effect without a
 * VM exit (vtime.h). */
void vmdl__x86_serialize_cost(struct vmdl_vcpu *v, unsigned cr, uint64_t old, uint64_t val);
enum vmdl_x86_exit_kind vmdl__x86_mmio_kind(uint64_t gpa, bool write);
void vmdl__x86_mmio_cost(struct vmdl_vcpu *v, uint64_t gpa, bool write);
bool vmdl__x86_insn_is_branch(const cs_insn *in);

/* regs.c */
int vmdl__x86_get_reg(struct vmdl_vcpu *v, enum vmdl_reg reg, uint64_t *val);
int vmdl__x86_set_reg(struct vmdl_vcpu *v, enum vmdl_reg reg, uint64_t val);
int vmdl__x86_translate(struct vmdl_vcpu *v, uint64_t va, uint64_t *pa);
void vmdl__x86_save_state(struct vmdl_vcpu *v, struct vmdl_blob_writer *w);
void vmdl__x86_load_state(struct vmdl_blob_reader *r, uint64_t *words);
void vmdl__x86_apply_state(struct vmdl_vcpu *v, const uint64_t *words);

#endif
