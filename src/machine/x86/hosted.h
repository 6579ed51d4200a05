/* SPDX-License-Identifier: MIT */
/*
 * The "hosted" x86 vCPU (internal to src/machine/x86/hosted_*.c): real
 * guests (multiboot kernels, kvm-unit-tests) run at their own privilege
 * level in every mode QEMU implements (real mode, 16/32-bit protected mode,
 * long mode, with their own GDT/IDT/TSS and page tables), as an SVM guest of
 * QEMU's TCG.  A hidden stub in the private area runs VMRUN once per entry;
 * QEMU's intercept checks then stop the engine on exactly the instructions
 * and exceptions the models must see.
 *
 * Measured on Unicorn 2.1.1 (docs/unicorn.md, "The hosted x86 vCPU"):
 *  - VMRUN works from Unicorn's 64-bit mode once EFER.SVME and
 *    VM_HSAVE_PA are set; the guest starts in whatever mode the VMCB says.
 *  - An intercept raises EXCP_VMEXIT + exit code to UC_HOOK_INTR with RIP
 *    at the instruction.  Unicorn never calls QEMU's do_vmexit, so the CPU
 *    stays in guest mode with the guest's state live: handle the exit,
 *    write the registers, resume.  The VMCB's exit fields are not written
 *    (exit_info_1 stays in QEMU's error_code; #PF's address is written to
 *    exit_info_2 directly).
 *  - VMRUN's event injection of type INTR calls QEMU's own interrupt
 *    delivery (do_interrupt_x86_hardirq): IVT in real mode, 16/32-bit gates,
 *    64-bit gates with IST, TSS stack switches.  It pushes no error code,
 *    so hosted_deliver.c pushes it after the delivery.
 *  - IN/OUT are not intercepted through the IOPM in Unicorn (its port hooks
 *    run instead), so ports keep their hooks in io.c.
 *
 * Delivering an event means re-entering through VMRUN: the guest state goes
 * to the VMCB, the engine's mode fields (RFLAGS, hflags, CS, SS, control
 * registers) are spliced back to the host's saved state, and the stub runs.
 *
 * The files, by concern:
 *   hosted_setup.c    VMCB, intercepts, stub, start-up calibration, entry
 *                     states (multiboot BSP, AP after SIPI)
 *   hosted_state.c    guest state <-> VMCB, re-entry through VMRUN,
 *                     host-side MSR access, guest linear memory
 *   hosted_run.c      the run step and intercept dispatch, SYSCALL/SYSENTER
 *   hosted_deliver.c  exception/interrupt delivery, #DF and triple fault
 *   hosted_irq.c      interrupt window (V_IRQ/VINTR), NMI blocking until IRET
 *   hosted_cr.c       CR0/CR4/CR8 intercepts
 *   hosted_desc.c     LGDT/LIDT/LLDT/LTR: canonical bases
 *   hosted_msr.c      RDMSR/WRMSR intercepts
 *   hosted_dr.c       debug registers (kept virtual), #DB, ICEBP
 *   hosted_align.c    #AC and the aligned-SSE #GP (checks QEMU 5.0 lacks)
 */
#ifndef VMDL_X86_HOSTED_H
#define VMDL_X86_HOSTED_H

#include <string.h>

#include "virtmodel/bits.h"
#include "virtmodel/error.h"
#include "x86.h"

/* Private physical pages, outside guest RAM (after vcpu.c's area). */
#define H_BASE 0x7FFFFFF10000ull
#define H_SIZE 0x10000ull
#define H_VMCB (H_BASE + 0x0000)
#define H_HSAVE (H_BASE + 0x1000)
#define H_MSRPM (H_BASE + 0x2000)        /* 8 KiB: every MSR intercepted */
#define H_MSRPM_OPEN (H_BASE + 0x4000)   /* 8 KiB of zeros: host-side access */
#define H_IOPM (H_BASE + 0x6000)         /* 12 KiB */
#define H_STUB (H_BASE + 0x9000)
#define H_CALIB (H_BASE + 0x9100)
#define H_GDT (H_BASE + 0x9800)

/* VMCB int_ctl: V_TPR (bits 3:0) and CR8 as V_TPR (AMD APM vol. 2, 15.21.1) */
#define V_TPR_MASK 0x0Fu
#define V_INTR_MASKING (1u << 24)

#define MSR_EFER 0xC0000080u
#define MSR_VM_HSAVE_PA 0xC0010117u
#define EFER_SVME (1ull << 12)
#define MISC_ENABLE_RO 0x1880ull
#define MISC_ENABLE_RESET 0x1800ull /* BTS and PEBS unavailable, as KVM */

/* VMCB control area (AMD APM vol. 2, appendix B). */
#define C_CR_RD 0x000
#define C_CR_WR 0x002
#define C_DR_RD 0x004
#define C_DR_WR 0x006
#define C_EXC 0x008
#define C_INTERCEPT 0x00C
#define C_IOPM 0x040
#define C_MSRPM 0x048
#define C_TSC_OFFSET 0x050
#define C_ASID 0x058
#define C_INT_CTL 0x060
#define C_INT_STATE 0x068
#define C_EXIT_INFO2 0x080
#define C_NP_ENABLE 0x090
#define C_NCR3 0x0B0
#define C_EVENTINJ 0x0A8
/* Save area. */
#define S_ES 0x400
#define S_CS 0x410
#define S_SS 0x420
#define S_DS 0x430
#define S_GDTR 0x460
#define S_IDTR 0x480
#define S_CPL 0x4CB
#define S_EFER 0x4D0
#define S_CR4 0x548
#define S_CR3 0x550
#define S_CR0 0x558
#define S_DR7 0x560
#define S_DR6 0x568
#define S_RFLAGS 0x570
#define S_RIP 0x578
#define S_RSP 0x5D8
#define S_RAX 0x5F8
#define S_CR2 0x640

/* Intercept vector bits (QEMU numbers them from the INTR bit). */
#define I_VINTR 4
#define I_IRET 20
#define I_RDTSC 14
#define I_PUSHF 16
#define I_RDPMC 15
#define I_CPUID 18
#define I_HLT 24
#define I_MSR 28
#define I_SHUTDOWN 31
#define I_VMRUN 32
#define I_VMMCALL 33
#define I_VMLOAD 34
#define I_VMSAVE 35
#define I_STGI 36
#define I_CLGI 37
#define I_SKINIT 38
#define I_RDTSCP 39
#define I_INVLPGA 26
#define I_ICEBP 40

/* ... and those only a nested guest's intercepts use (hosted_nested.c). */
#define I_STORE_IDTR 6          /* ... 13: GDTR/LDTR/TR stores, then loads */
#define I_INVD 22
#define I_PAUSE 23
#define I_INVLPG 25
#define I_WBINVD 41
#define I_MONITOR 42
#define I_MWAIT 43
#define X_CR0_READ 0x00
#define X_CR3_READ 0x03
#define X_CR4_READ 0x04
#define X_CR3_WRITE 0x13
#define X_IDTR_READ 0x66        /* GDTR 0x67, LDTR 0x68, TR 0x69, then writes */
#define X_TR_WRITE 0x6D
#define X_INVD 0x76
#define X_PAUSE 0x77
#define X_INVLPG 0x79
#define X_WBINVD 0x89
#define X_MONITOR 0x8A
#define X_MWAIT 0x8B

/* Exit codes. */
#define X_CR8_READ 0x08
#define X_CR8_WRITE 0x18
#define X_CR0_WRITE 0x10
#define X_CR4_WRITE 0x14
#define X_DR_READ 0x20
#define X_DR_WRITE 0x30
#define X_EXCP 0x40
#define X_ICEBP 0x88
#define X_VINTR 0x64
#define X_RDTSC 0x6E
#define X_PUSHF 0x70
#define X_IRET 0x74
#define X_RDPMC 0x6F
#define X_CPUID 0x72
#define X_HLT 0x78
#define X_MSR 0x7C
#define X_SHUTDOWN 0x7F
#define X_RDTSCP 0x87
#define X_VMMCALL 0x81
#define X_NPF 0x400
#define EXCP_VMEXIT 0x100
/* Pseudo intnos for the SYSCALL/SYSENTER hooks (above every exit code). */
#define EXCP_SYSCALL 0x10000000u
#define EXCP_SYSENTER 0x10000001u
/* ... and for a DR0-DR3 breakpoint the hosted_dr.c hooks matched. */
#define EXCP_DEBUG_HIT 0x10000002u
/* ... and for a fault an in-engine completion left to the loop (h_fault). */
#define EXCP_HFAULT 0x10000003u
/* ... and for an alignment check's fault (hosted_align.c, h_align_vec). */
#define EXCP_ALIGN 0x10000004u

/* QEMU's segment-cache flag bits (a descriptor's high dword). */
#define DESC_A (1u << 8)
#define DESC_W (1u << 9)        /* writable (data) / readable (code) */
#define DESC_E (1u << 10)       /* expand-down (data) / conforming (code) */
#define DESC_CODE (1u << 11)
#define DESC_S (1u << 12)
#define DESC_DPL_SHIFT 13
#define DESC_P (1u << 15)
#define DESC_L (1u << 21)
#define DESC_B (1u << 22)
#define DESC_G (1u << 23)

/* RFLAGS bits. */
#define RFL_ARITH 0x8D5ull          /* CF PF AF ZF SF OF */
#define RFL_TF (1ull << 8)
#define RFL_IF (1ull << 9)
#define RFL_DF (1ull << 10)
#define RFL_IOPL (3ull << 12)
#define RFL_NT (1ull << 14)
#define RFL_RF (1ull << 16)
#define RFL_VM (1ull << 17)
#define RFL_AC (1ull << 18)
#define RFL_ID (1ull << 21)

/* QEMU 5.0's hflags bits (target/i386/cpu.h); the CPL is SS's DPL. */
#define HF_CPL_MASK 3u
#define HF_INHIBIT_IRQ (1u << 3)
#define HF_CS32 (1u << 4)
#define HF_SS32 (1u << 5)
#define HF_ADDSEG (1u << 6)
#define HF_LMA (1u << 14)
#define HF_CS64 (1u << 15)

/* SegmentCache is {u32 selector; u64 base; u32 limit; u32 flags} = 24 bytes;
 * CPUX86State keeps segs[6], ldt, tr, gdt, idt, then cr[5] (QEMU 5.0). */
#define SEGCACHE 24
#define R_ES 0
#define R_CS 1
#define R_SS 2
#define R_DS 3
#define R_FS 4
#define R_GS 5

struct seg {
    uint16_t sel;
    uint64_t base;
    uint32_t limit, flags;
};

/*
 * The private pages below H_CODE (VMCB, host save area, permission maps)
 * are host memory the vCPU owns (X86(v)->h_mem, mapped with uc_mem_map_ptr):
 * the VMCB is written field by field around every event, and a write
 * through Unicorn (address-space lookup, TB invalidation check) cost about
 * as much as the rest of the save (perf: 11% of vmexit tscdeadline_immed).
 * QEMU reads and writes them through its address space, which sees the
 * same bytes; no code runs from them, so no translated block can go stale.
 * The code page (the VMRUN stub, the calibration code) is written through
 * Unicorn, which invalidates what was translated from it.
 */
#define H_CODE (H_BASE + 0x9000)

static inline bool h_direct(struct vmdl_vcpu *v, uint64_t a, size_t n)
{
    return X86(v)->h_mem && a >= H_BASE && a + n <= H_CODE;
}

static inline void pw(struct vmdl_vcpu *v, uint64_t a, const void *p, size_t n)
{
    if (h_direct(v, a, n))
        memcpy(X86(v)->h_mem + (a - H_BASE), p, n);
    else
        uc_mem_write(v->uc, a, p, n);
}

static inline void pw64(struct vmdl_vcpu *v, uint64_t a, uint64_t x) { pw(v, a, &x, 8); }
static inline void pw32(struct vmdl_vcpu *v, uint64_t a, uint32_t x) { pw(v, a, &x, 4); }
static inline void pw16(struct vmdl_vcpu *v, uint64_t a, uint16_t x) { pw(v, a, &x, 2); }

static inline uint64_t pr64(struct vmdl_vcpu *v, uint64_t a)
{
    uint64_t x = 0;
    if (h_direct(v, a, 8))
        memcpy(&x, X86(v)->h_mem + (a - H_BASE), 8);
    else
        uc_mem_read(v->uc, a, &x, 8);
    return x;
}

/* ---- the raw engine state (offsets found by calibration) ---------------- */

static inline void seg_from_ctx(const struct vmdl_vcpu *v, const char *ctx, int r,
                         struct seg *s)
{
    const char *p = ctx + v->vm->x86h->segs_off + r * SEGCACHE;
    uint32_t sel;
    memcpy(&sel, p, 4);
    memcpy(&s->base, p + 8, 8);
    memcpy(&s->limit, p + 16, 4);
    memcpy(&s->flags, p + 20, 4);
    s->sel = (uint16_t)sel;
}

static inline void seg_to_ctx(const struct vmdl_vcpu *v, char *ctx, int r, uint32_t sel,
                              uint64_t base, uint32_t limit, uint32_t flags)
{
    char *p = ctx + v->vm->x86h->segs_off + r * SEGCACHE;
    memcpy(p, &sel, 4);
    memcpy(p + 8, &base, 8);
    memcpy(p + 16, &limit, 4);
    memcpy(p + 20, &flags, 4);
}

static inline uint32_t ctx_u32(const struct vmdl_vcpu *v, const char *ctx, int off)
{
    (void)v;
    uint32_t x;
    memcpy(&x, ctx + off, 4);
    return x;
}

static inline void vmcb_seg(struct vmdl_vcpu *v, unsigned off, uint16_t sel,
                     uint32_t flags, uint32_t limit, uint64_t base)
{
    pw16(v, H_VMCB + off, sel);
    pw16(v, H_VMCB + off + 2, (uint16_t)(((flags >> 8) & 0xFF) |
                                         ((flags >> 12) & 0x0F00)));
    pw32(v, H_VMCB + off + 4, limit);
    pw64(v, H_VMCB + off + 8, base);
}

/* hosted_state.c */
uint64_t vmdl__x86h_rdmsr(struct vmdl_vcpu *v, uint32_t idx);
void vmdl__x86h_wrmsr(struct vmdl_vcpu *v, uint32_t idx, uint64_t val);
unsigned vmdl__x86h_cpl(const struct seg *ss, uint64_t cr0, uint64_t rflags);
void vmdl__x86h_set_cr2(struct vmdl_vcpu *v, uint64_t cr2);
void vmdl__x86h_save_guest(struct vmdl_vcpu *v);
void vmdl__x86h_splice_host(struct vmdl_vcpu *v);
void vmdl__x86h_save_and_splice(struct vmdl_vcpu *v);
void vmdl__x86h_run_stub(struct vmdl_vcpu *v);
size_t vmdl__x86h_emu_count(struct vmdl_vcpu *v, size_t count);
void vmdl__x86h_enter(struct vmdl_vcpu *v);
bool vmdl__x86h_lin_rw(struct vmdl_vcpu *v, uint64_t la, void *buf, size_t n,
                       bool write);
uint64_t vmdl__x86h_err_code(struct vmdl_vcpu *v);
/* From the interrupt hook: keep an exception (or NPF) intercept's code. */
void vmdl__x86h_note_err_code(struct vmdl_vcpu *v, uint32_t intno);
/* FS/GS bases across IRET to CPL 3 (QEMU zeroes them): note them at CPL 0,
 * put them back when the guest comes back from CPL 3. */
void vmdl__x86h_note_kseg(struct vmdl_vcpu *v);
void vmdl__x86h_restore_kseg(struct vmdl_vcpu *v);
void vmdl__x86h_retire(struct vmdl_vcpu *v, unsigned len);
int vmdl__x86h_opcode_at(struct vmdl_vcpu *v, uint8_t op[3], uint8_t *rex);
unsigned vmdl__x86h_saved_code_bits(struct vmdl_vcpu *v);

/* Linear access with the guest's paging rights at CPL cpl (n <= 4096):
 * false with the #PF error code and address when it faults; with the
 * error code VMDL__X86H_PF_NPF when the second stage refused it (the miss
 * recorded for vmdl__x86h_npf_exit, the address the linear one). */
#define VMDL__X86H_PF_NPF 0x80000000u
bool vmdl__x86h_lin_access(struct vmdl_vcpu *v, uint64_t la, void *buf, size_t n,
                           bool write, unsigned cpl, uint32_t *pf_err,
                           uint64_t *pf_addr);

/* hosted_emu.c: operands of the instructions the machine completes */
struct hinsn {
    uint8_t b[15];          /* the instruction bytes from RIP */
    uint8_t op[3];          /* after the prefixes */
    uint8_t rex;
    unsigned pfx;           /* prefix bytes */
    unsigned bits;          /* code size: 16, 32, 64 */
    bool lma, opsize, adsize;
    int seg;                /* segment override (R_ES..R_GS), -1 none */
    uint64_t rip, la;
    struct seg cs;
};
struct hmodrm {
    bool is_reg, riprel;
    unsigned reg, rm;       /* ModRM reg (with REX.R), register rm (with REX.B) */
    unsigned len;           /* bytes up to the end of ModRM/SIB/displacement */
    unsigned asz;           /* address size */
    int seg;                /* effective segment of a memory operand */
    uint64_t off;           /* its offset (RIP-relative: from the next insn) */
};
#define HFAULT_NPF 0x100u      /* not an exception: the second stage refused */
struct hfault {
    unsigned vec;
    bool has_err;
    uint32_t err;
    uint64_t cr2;
};
int vmdl__x86h_fetch_insn(struct vmdl_vcpu *v, struct hinsn *in);
unsigned vmdl__x86h_opsize(const struct hinsn *in);
/* ModRM at in->b[at]. */
int vmdl__x86h_modrm(struct vmdl_vcpu *v, const struct hinsn *in, unsigned at,
                     struct hmodrm *m);
bool vmdl__x86h_seg_access(struct vmdl_vcpu *v, bool lma64, int seg, uint64_t off,
                           void *buf, unsigned n, bool write, struct hfault *f);
bool vmdl__x86h_operand_access(struct vmdl_vcpu *v, const struct hinsn *in,
                               const struct hmodrm *m, void *buf, unsigned n,
                               bool write, struct hfault *f);
int vmdl__x86h_raise(struct vmdl_vcpu *v, const struct hfault *f, bool *triple);
int vmdl__x86h_pushf(struct vmdl_vcpu *v, bool *triple);

/* hosted_setup.c */
void vmdl__x86h_write_intercepts(struct vmdl_vcpu *v);

/* hosted_deliver.c */
bool vmdl__x86h_has_error(unsigned vec);
int vmdl__x86h_deliver(struct vmdl_vcpu *v, unsigned vec, bool has_err,
                       uint32_t err, bool *triple);
/* An external interrupt: directly where that is a few stores (64-bit mode
 * at CPL 0, hosted_deliver.c), else through vmdl__x86h_deliver. */
int vmdl__x86h_deliver_irq(struct vmdl_vcpu *v, unsigned vec, bool *triple);
int vmdl__x86h_fault(struct vmdl_vcpu *v, vmdl_fault f, bool *triple);
int vmdl__x86h_softint(struct vmdl_vcpu *v, unsigned vec, bool *triple);
void vmdl__x86h_end_soft_int(struct vmdl_vcpu *v);

/* hosted_deliver64.c: delivery through a 64-bit gate without VMRUN; false
 * (nothing changed) when the case is QEMU's to handle. */
bool vmdl__x86h_deliver64(struct vmdl_vcpu *v, unsigned vec, bool has_err, uint32_t err,
                          bool fault, bool soft);

/* hosted_iret.c: IRETQ keeping the FS/GS bases QEMU's IRET would zero */
void vmdl__x86h_iret_policy(struct vmdl_vcpu *v);
bool vmdl__x86h_iret_emulate(struct vmdl_vcpu *v, uint64_t count_pc);

/* hosted_irq.c */
/* 1 delivered, 0 nothing deliverable, -1 the delivery failed. */
int vmdl__x86h_inject_irq(struct vmdl_vcpu *v, bool *triple);
void vmdl__x86h_irq_window(struct vmdl_vcpu *v);
/* An STI / MOV SS shadow blocks interrupts now (an emulated instruction
 * since ended it: cleared). */
bool vmdl__x86h_in_shadow(struct vmdl_vcpu *v);
bool vmdl__x86h_in_mov_ss_shadow(struct vmdl_vcpu *v);
void vmdl__x86h_vmrun_done(struct vmdl_vcpu *v);
int vmdl__x86h_iret_exit(struct vmdl_vcpu *v);
void vmdl__x86h_collect_nmis(struct vmdl_vcpu *v);
void vmdl__x86h_iret_done(struct vmdl_vcpu *v);

/* hosted_desc.c: LGDT/LIDT/LLDT/LTR (canonical bases), run alone after */
int vmdl__x86h_desc_exit(struct vmdl_vcpu *v, unsigned code, bool *triple);
void vmdl__x86h_desc_done(struct vmdl_vcpu *v);
uint64_t vmdl__x86h_desc_intercepts(void);

/* hosted_cr.c */
int vmdl__x86h_cr_write(struct vmdl_vcpu *v, unsigned cr, bool *triple);
/* A CR0/CR4 access completed inside the engine (MOV to CR0/CR4 that keeps
 * the translated code, MOV from CR0): decoded first, so that the hook can
 * decline before it counts anything, then done. */
struct x86h_cr_op {
    unsigned cr, len, gpr;
    bool wide;                  /* MOV from CR0: 64-bit destination */
    uint64_t val, old;          /* MOV to CR: the new and the old value */
};
bool vmdl__x86h_cr_fast_decode(struct vmdl_vcpu *v, unsigned cr, struct x86h_cr_op *op);
vmdl_fault vmdl__x86h_cr_fast_write(struct vmdl_vcpu *v, const struct x86h_cr_op *op);
bool vmdl__x86h_cr0_read_decode(struct vmdl_vcpu *v, struct x86h_cr_op *op);
void vmdl__x86h_cr0_read_fast(struct vmdl_vcpu *v, const struct x86h_cr_op *op);
/* Put back the CR4 bits of cr4 QEMU's CPU model dropped (SMAP, PKE). */
void vmdl__x86h_cr4_keep(struct vmdl_vcpu *v, uint64_t cr4);
int vmdl__x86h_cr0_read(struct vmdl_vcpu *v, uint64_t cr0, bool *triple);
vmdl_fault vmdl__x86h_cr8_do(struct vmdl_vcpu *v, bool write);
int vmdl__x86h_cr8(struct vmdl_vcpu *v, bool write, bool *triple);
/* CR8 as V_TPR: the VMCB before a VMRUN, the APIC's TPR from the engine
 * (after the guest ran), the engine's from the APIC (before it runs on). */
void vmdl__x86h_tpr_vmcb(struct vmdl_vcpu *v);
void vmdl__x86h_tpr_in(struct vmdl_vcpu *v);
void vmdl__x86h_tpr_out(struct vmdl_vcpu *v);

/* hosted_msr.c */
void vmdl__x86h_mce_reset(struct x86h_mce *m);
vmdl_fault vmdl__x86h_msr_do(struct vmdl_vcpu *v);
int vmdl__x86h_msr_exit(struct vmdl_vcpu *v, bool *triple);
int vmdl__x86h_rdpmc_exit(struct vmdl_vcpu *v, bool *triple);

/* hosted_dr.c */
void vmdl__x86h_dr_reset(struct vmdl_vcpu *v);
void vmdl__x86h_dr_rearm(struct vmdl_vcpu *v);
void vmdl__x86h_dr_disarm(struct vmdl_vcpu *v);
void vmdl__x86h_set_dr7(struct vmdl_vcpu *v, uint64_t val);
unsigned vmdl__x86h_code_bits(struct vmdl_vcpu *v);
uint64_t vmdl__x86h_count_pc(struct vmdl_vcpu *v);
uint64_t vmdl__x86h_block_rip(struct vmdl_vcpu *v, uint64_t la);
int vmdl__x86h_dr_exit(struct vmdl_vcpu *v, unsigned code, bool *triple);
int vmdl__x86h_db_exit(struct vmdl_vcpu *v, bool *triple);
bool vmdl__x86h_at_icebp(struct vmdl_vcpu *v);
int vmdl__x86h_icebp_exit(struct vmdl_vcpu *v, bool *triple);
/* The single-step #DB owed after an emulated instruction, if any. */
int vmdl__x86h_step_trap(struct vmdl_vcpu *v, bool *triple);
/* A DR0-DR3 match stopped the engine (EXCP_DEBUG_HIT): deliver its #DB. */
int vmdl__x86h_bp_exit(struct vmdl_vcpu *v, bool *triple);
/* Data-breakpoint matches still owed after a software interrupt. */
int vmdl__x86h_wp_owed(struct vmdl_vcpu *v, bool *triple);
/* hosted_nested.c: offer an event to the VM's event hook (true: taken) */
bool vmdl__x86h_event(struct vmdl_vcpu *v, const struct vmdl_x86_event *ev);
/* ... and the nested guest's intercepts, I/O, injection and interrupts */
uint64_t vmdl__x86h_nested_cr(struct vmdl_vcpu *v, unsigned cr, uint64_t val);
bool vmdl__x86h_nested_exit(struct vmdl_vcpu *v, unsigned code, int *err, bool *triple);
int vmdl__x86h_nested_io(struct vmdl_vcpu *v, bool *triple);
int vmdl__x86h_nested_pre(struct vmdl_vcpu *v, bool *triple);
int vmdl__x86h_nested_irq(struct vmdl_vcpu *v, bool nmi);
bool vmdl__x86h_nested_window(struct vmdl_vcpu *v);
bool vmdl__x86h_nested_ud(struct vmdl_vcpu *v);
bool vmdl__x86h_has_prefix(struct vmdl_vcpu *v, int pfx, uint8_t want);
void vmdl__x86h_nested_vectoring(struct vmdl_vcpu *v, unsigned vec, bool has_err,
                                 uint32_t err);
bool vmdl__x86h_nested_delivery_fault(struct vmdl_vcpu *v, unsigned vec, uint32_t err,
                                      uint64_t cr2);

/* hosted_align.c: #AC and the aligned-SSE #GP QEMU 5.0 does not raise */
void vmdl__x86h_align_sync(struct vmdl_vcpu *v);
int vmdl__x86h_align_exit(struct vmdl_vcpu *v, bool *triple);

/* hosted_hc.c: KVM's hypercall (VMCALL / VMMCALL); true when handled */
bool vmdl__x86h_hypercall(struct vmdl_vcpu *v);

/* hosted_walk.c: the C page walk while CR4.PKS is on or the second
 * stage is */
struct vmdl__x86_paging;
struct vmdl__x86_pmem;
struct vmdl__x86_xlate;

/* hosted_ept.c: the second stage.  _pmem: guest-physical memory for the
 * guest's walk through the table (a refused entry access is recorded in
 * npt.miss); _final: the walk's result through it for the access itself
 * (the physical page, the rights *prot keeps), or false with the miss
 * recorded; _npf_exit: the recorded miss as the NPF event. */
void vmdl__x86h_npt_pmem(struct vmdl_vcpu *v, struct vmdl__x86_pmem *m);
/* _guest_pmem: the guest's physical memory for the machine's own accesses:
 * through the second stage while it is on (a page it does not map, or maps
 * read-only for a write, fails the access and records no NPF), else
 * vmdl__x86h_pmem.  _npt_xlate: one guest-physical address through the
 * table, the same way (the table need not be on). */
void vmdl__x86h_guest_pmem(struct vmdl_vcpu *v, struct vmdl__x86_pmem *m);
bool vmdl__x86h_npt_xlate(struct vmdl_vcpu *v, uint64_t gpa, bool write, uint64_t *pa);
/* _npt_data: the final data access of a walk's result xl through the table
 * (*pa), or false with the miss recorded as _final records it. */
bool vmdl__x86h_npt_data(struct vmdl_vcpu *v, const struct vmdl__x86_paging *p,
                         const struct vmdl__x86_xlate *xl, bool write, uint64_t *pa);
bool vmdl__x86h_npt_final(struct vmdl_vcpu *v, const struct vmdl__x86_paging *p,
                          const struct vmdl__x86_xlate *xl, unsigned access,
                          uint64_t *pa, uc_prot *prot);
int vmdl__x86h_npf_exit(struct vmdl_vcpu *v, bool *triple);
void vmdl__x86h_npt_free(struct vmdl_vcpu *v);

void vmdl__x86h_pmem(struct vmdl_vcpu *v, struct vmdl__x86_pmem *m);
void vmdl__x86h_paging_now(struct vmdl_vcpu *v, struct vmdl__x86_paging *p);
/* hosted_pdpte.c: PAE's PDPTE registers (vmdl_vcpu_set_x86_pdptes).  Every
 * paging state the machine builds for a walk of the guest takes pdpte
 * from vmdl__x86h_pdptes (NULL: the table at CR3).  _off: they end (a new
 * state, a reset); _reload: a MOV to CR3 of cr3 while they are in force
 * (the fault to raise instead, e.g. #GP for a reserved bit, or *npf: the
 * second stage's fault of reading the table, recorded); _cr_write: a
 * MOV to CR0/CR4 from old to val, which reloads when it changes a paging
 * bit; _cr3_intercept: MOV to CR3 intercepted as the registers and a
 * nested guest's controls ask. */
static inline const uint64_t *vmdl__x86h_pdptes(struct vmdl_vcpu *v)
{
    return X86(v)->h_pdpte_on ? X86(v)->h_pdpte : NULL;
}
void vmdl__x86h_pdpte_off(struct vmdl_vcpu *v);
vmdl_fault vmdl__x86h_pdpte_reload(struct vmdl_vcpu *v, uint64_t cr3, bool *npf);
vmdl_fault vmdl__x86h_pdpte_cr_write(struct vmdl_vcpu *v, unsigned cr, uint64_t old,
                                     uint64_t val, bool *npf);
void vmdl__x86h_cr3_intercept(struct vmdl_vcpu *v);
int vmdl__x86h_pkru_off(struct vmdl_vcpu *v);
void vmdl__x86h_walk_sync(struct vmdl_vcpu *v);
void vmdl__x86h_walk_cr2(struct vmdl_vcpu *v);

/* hosted_run.c */
int vmdl__x86h_hook_sys(struct vmdl_vcpu *v);
/* UC_HOOK_INTR: an intercept completed inside the engine (true), or left
 * to the run loop (false: the engine stops as for any intercept). */
bool vmdl__x86h_complete_in_hook(struct vmdl_vcpu *v, uint32_t intno);

#endif
