/* SPDX-License-Identifier: MIT */
/*
 * The "hosted" x86 vCPU: real guests (multiboot kernels, kvm-unit-tests) run
 * at their own privilege level in every mode QEMU implements (real mode,
 * 16/32-bit protected mode, long mode, with their own GDT/IDT/TSS and page
 * tables), as an SVM guest of QEMU's TCG.  A hidden stub in the private
 * area runs VMRUN once per entry; QEMU's intercept checks then stop the
 * engine on exactly the instructions and exceptions the models must see.
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
 *    so this file pushes it after the delivery.
 *  - IN/OUT are not intercepted through the IOPM in Unicorn (its port hooks
 *    run instead), so ports keep their hooks in x86_vcpu.c.
 *
 * Delivering an event means re-entering through VMRUN: the guest state goes
 * to the VMCB, the engine's mode fields (RFLAGS, hflags, CS, SS, control
 * registers) are spliced back to the host's saved state, and the stub runs.
 */
#include <stdlib.h>
#include <string.h>

#include "virtmodel/bits.h"
#include "virtmodel/error.h"
#include "x86.h"

/* Private physical pages, outside guest RAM (after x86_vcpu.c's area). */
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

#define MSR_EFER 0xC0000080u
#define MSR_VM_HSAVE_PA 0xC0010117u
#define EFER_SVME (1ull << 12)
#define MISC_ENABLE_RO 0x1880ull
#define MISC_ENABLE_RESET 0x1800ull /* BTS and PEBS unavailable, as KVM */

/* VMCB control area (AMD APM vol. 2, appendix B). */
#define C_CR_RD 0x000
#define C_CR_WR 0x002
#define C_EXC 0x008
#define C_INTERCEPT 0x00C
#define C_IOPM 0x040
#define C_MSRPM 0x048
#define C_TSC_OFFSET 0x050
#define C_ASID 0x058
#define C_INT_CTL 0x060
#define C_INT_STATE 0x068
#define C_EXIT_INFO2 0x080
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
#define I_RDTSC 14
#define I_RDPMC 15
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

/* Exit codes. */
#define X_CR8_READ 0x08
#define X_CR8_WRITE 0x18
#define X_CR0_WRITE 0x10
#define X_CR4_WRITE 0x14
#define X_EXCP 0x40
#define X_RDTSC 0x6E
#define X_RDPMC 0x6F
#define X_HLT 0x78
#define X_MSR 0x7C
#define X_SHUTDOWN 0x7F
#define X_RDTSCP 0x87
#define EXCP_VMEXIT 0x100
/* Pseudo intnos for the SYSCALL/SYSENTER hooks (above every exit code). */
#define EXCP_SYSCALL 0x10000000u
#define EXCP_SYSENTER 0x10000001u

/* QEMU's segment-cache flag bits. */
#define DESC_DPL_SHIFT 13
#define DESC_B (1u << 22)
#define DESC_L (1u << 21)

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

static void pw(struct vmdl_vcpu *v, uint64_t a, const void *p, size_t n)
{
    uc_mem_write(v->uc, a, p, n);
}

static void pw64(struct vmdl_vcpu *v, uint64_t a, uint64_t x) { pw(v, a, &x, 8); }
static void pw32(struct vmdl_vcpu *v, uint64_t a, uint32_t x) { pw(v, a, &x, 4); }
static void pw16(struct vmdl_vcpu *v, uint64_t a, uint16_t x) { pw(v, a, &x, 2); }

static uint64_t pr64(struct vmdl_vcpu *v, uint64_t a)
{
    uint64_t x = 0;
    uc_mem_read(v->uc, a, &x, 8);
    return x;
}

/* ---- the raw engine state (offsets found by calibration) ---------------- */

static void seg_from_ctx(const struct vmdl_vcpu *v, const char *ctx, int r,
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

static uint32_t ctx_u32(const struct vmdl_vcpu *v, const char *ctx, int off)
{
    (void)v;
    uint32_t x;
    memcpy(&x, ctx + off, 4);
    return x;
}

static void vmcb_seg(struct vmdl_vcpu *v, unsigned off, uint16_t sel,
                     uint32_t flags, uint32_t limit, uint64_t base)
{
    pw16(v, H_VMCB + off, sel);
    pw16(v, H_VMCB + off + 2, (uint16_t)(((flags >> 8) & 0xFF) |
                                         ((flags >> 12) & 0x0F00)));
    pw32(v, H_VMCB + off + 4, limit);
    pw64(v, H_VMCB + off + 8, base);
}

/* MSR access from outside the guest: QEMU checks the MSR permission map
 * on every access, also Unicorn's, so point the VMCB at an open map. */
static uint64_t host_rdmsr(struct vmdl_vcpu *v, uint32_t idx)
{
    pw64(v, H_VMCB + C_MSRPM, H_MSRPM_OPEN);
    uc_x86_msr m = { idx, 0 };
    uc_reg_read(v->uc, UC_X86_REG_MSR, &m);
    pw64(v, H_VMCB + C_MSRPM, H_MSRPM);
    return m.value;
}

static void host_wrmsr(struct vmdl_vcpu *v, uint32_t idx, uint64_t val)
{
    pw64(v, H_VMCB + C_MSRPM, H_MSRPM_OPEN);
    uc_x86_msr m = { idx, val };
    uc_reg_write(v->uc, UC_X86_REG_MSR, &m);
    pw64(v, H_VMCB + C_MSRPM, H_MSRPM);
}

static void mce_reset(struct x86h_mce *m);
static void syscall_cb(uc_engine *uc, void *user);
static void sysenter_cb(uc_engine *uc, void *user);

/* ---- set-up and calibration ------------------------------------------- */

static int hfail(const char *what)
{
    return vmdl_fail(VMDL_EBACKEND, "hosted x86 vCPU: %s", what);
}

static void write_intercepts(struct vmdl_vcpu *v)
{
    static const unsigned bits[] = { I_RDTSC, I_RDPMC, I_HLT, I_MSR, I_SHUTDOWN,
        I_VMRUN, I_VMMCALL, I_VMLOAD, I_VMSAVE, I_STGI, I_CLGI, I_SKINIT,
        I_RDTSCP, I_INVLPGA };
    uint64_t ic = 0;
    for (unsigned i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
        ic |= 1ull << bits[i];
    pw64(v, H_VMCB + C_INTERCEPT, ic);
    pw32(v, H_VMCB + C_EXC, 0xFFFFFFFFu);      /* every exception */
    pw16(v, H_VMCB + C_CR_RD, 1u << 8);        /* CR8: the APIC's TPR */
    pw16(v, H_VMCB + C_CR_WR, (1u << 0) | (1u << 4) | (1u << 8));
    pw64(v, H_VMCB + C_IOPM, H_IOPM);
    pw64(v, H_VMCB + C_MSRPM, H_MSRPM);
    pw32(v, H_VMCB + C_ASID, 1);
}

static int host_setup(struct vmdl_vcpu *v)
{
    static const uint8_t stub[] = { 0x0F, 0x01, 0xD8, 0xF4 };   /* VMRUN; HLT */
    static uint8_t ones[0x3000], zeros[0x2000];
    memset(ones, 0xFF, sizeof(ones));
    pw(v, H_MSRPM, ones, 0x2000);
    pw(v, H_MSRPM_OPEN, zeros, sizeof(zeros));
    pw(v, H_IOPM, ones, sizeof(ones));
    pw(v, H_STUB, stub, sizeof(stub));
    uc_x86_msr m = { MSR_EFER, 0 };
    if (uc_reg_read(v->uc, UC_X86_REG_MSR, &m))
        return hfail("reading EFER");
    m.value |= EFER_SVME;
    if (uc_reg_write(v->uc, UC_X86_REG_MSR, &m))
        return hfail("setting EFER.SVME");
    uc_x86_msr hs = { MSR_VM_HSAVE_PA, H_HSAVE };
    if (uc_reg_write(v->uc, UC_X86_REG_MSR, &hs))
        return hfail("setting VM_HSAVE_PA");
    write_intercepts(v);
    return VMDL_OK;
}

static int find_u64(const char *a, size_t size, uint64_t x)
{
    int found = -1;
    for (size_t off = 0; off + 8 <= size; off += 4)
        if (!memcmp(a + off, &x, 8)) {
            if (found >= 0)
                return -2;
            found = (int)off;
        }
    return found;
}

/* Where the segment caches and control registers sit in a saved context:
 * a GDT base and a CR3 with unlikely values are searched for. */
static int calibrate_layout(struct vmdl_vcpu *v)
{
    struct vmdl_vm *vm = v->vm;
    size_t size = uc_context_size(v->uc);
    uc_x86_mmr old, gdtr = { 0, 0x00005A5A3C3C1230ull, 0x17, 0 };
    uc_reg_read(v->uc, UC_X86_REG_GDTR, &old);
    uc_reg_write(v->uc, UC_X86_REG_GDTR, &gdtr);
    uint64_t old_cr3 = rd(v, UC_X86_REG_CR3);
    wr(v, UC_X86_REG_CR3, 0x00006B6B4D4D2000ull);
    uc_context_save(v->uc, X86(v)->ctx);
    int g = find_u64((const char *)X86(v)->ctx, size, gdtr.base);
    int c = find_u64((const char *)X86(v)->ctx, size, 0x00006B6B4D4D2000ull);
    uc_reg_write(v->uc, UC_X86_REG_GDTR, &old);
    wr(v, UC_X86_REG_CR3, old_cr3);
    /* gdt is the 9th cache after segs[0]; its base sits 8 bytes in */
    int segs = g - 8 * SEGCACHE - 8;
    if (g < 0 || c != segs + 10 * SEGCACHE + 3 * 8)
        return hfail("start-up self-check: the engine's state layout is not "
                     "QEMU 5.0's (segment caches, then control registers)");
    vm->x86h->segs_off = segs;
    vm->x86h->cr_end_off = segs + 10 * SEGCACHE + 5 * 8;
    return VMDL_OK;
}

/* Where QEMU keeps the pending error code: two guest #GPs with different
 * selector error codes, one int32 holds both. */
static int gp_error_code_run(struct vmdl_vcpu *v, uint16_t sel, char *snap)
{
    /* 64-bit guest, no paging: mov ds, [rip + 1]; hlt; dw sel (the
     * selector in no register, so only the error code holds it) */
    uint8_t code[] = { 0x8E, 0x1D, 0x01, 0x00, 0x00, 0x00, 0xF4,
                       (uint8_t)sel, (uint8_t)(sel >> 8) };
    pw(v, H_CALIB, code, sizeof(code));
    static const uint64_t gdt[3] = { 0, 0x00AF9B000000FFFFull, 0x00CF93000000FFFFull };
    pw(v, H_GDT, gdt, sizeof(gdt));
    vmcb_seg(v, S_CS, 8, 0x00AF9B00u, 0xFFFFFFFF, 0);
    vmcb_seg(v, S_SS, 16, 0x00CF9300u, 0xFFFFFFFF, 0);
    vmcb_seg(v, S_DS, 16, 0x00CF9300u, 0xFFFFFFFF, 0);
    vmcb_seg(v, S_ES, 16, 0x00CF9300u, 0xFFFFFFFF, 0);
    pw64(v, H_VMCB + S_GDTR + 8, H_GDT);
    pw32(v, H_VMCB + S_GDTR + 4, sizeof(gdt) - 1);
    pw64(v, H_VMCB + S_CR0, rd(v, UC_X86_REG_CR0));
    pw64(v, H_VMCB + S_CR4, rd(v, UC_X86_REG_CR4));
    pw64(v, H_VMCB + S_EFER, host_rdmsr(v, MSR_EFER));
    pw64(v, H_VMCB + S_RFLAGS, 2);
    pw64(v, H_VMCB + S_RIP, H_CALIB);
    pw64(v, H_VMCB + S_RSP, H_CALIB + 0x600);
    pw32(v, H_VMCB + C_EVENTINJ, 0);
    uc_context_restore(v->uc, X86(v)->hctx);
    wr(v, UC_X86_REG_RAX, H_VMCB);
    v->stop = STOP_NONE;
    uc_emu_start(v->uc, H_STUB, 1ull << 63, 0, 0);
    if (v->stop != STOP_INTR || v->stop_vector != EXCP_VMEXIT + X_EXCP + 13)
        return -1;
    uc_context_save(v->uc, X86(v)->ctx);
    memcpy(snap, X86(v)->ctx, uc_context_size(v->uc));
    return 0;
}

static int calibrate_error_code(struct vmdl_vcpu *v)
{
    size_t size = uc_context_size(v->uc);
    char *a = malloc(size), *b = malloc(size);
    int found = -1, count = 0;
    if (a && b && !gp_error_code_run(v, 0x5678, a) && !gp_error_code_run(v, 0x6ABC, b))
        for (size_t off = 0; off + 4 <= size; off += 4) {
            uint32_t x, y;
            memcpy(&x, a + off, 4);
            memcpy(&y, b + off, 4);
            if (x == 0x5678 && y == 0x6ABC) {
                found = (int)off;
                count++;
            }
        }
    free(a);
    free(b);
    v->stop = STOP_NONE;
    if (count != 1)
        return hfail("start-up self-check: an intercepted #GP(selector) did not "
                     "leave exactly one error-code field (QEMU SVM intercepts "
                     "unlike Unicorn 2.1.1's)");
    v->vm->x86h->err_off = found;
    return VMDL_OK;
}

/* ---- state to and from the VMCB ---------------------------------------- */

static unsigned cpl_of(const struct seg *ss, uint64_t cr0, uint64_t rflags)
{
    if (!(cr0 & 1))
        return 0;
    if (rflags & (1ull << 17))
        return 3;
    return (ss->flags >> DESC_DPL_SHIFT) & 3;
}

static void set_cr2(struct vmdl_vcpu *v, uint64_t cr2)
{
    X86(v)->h_cr2 = cr2;
    X86(v)->h_cr2_set = true;
}

/* The live guest state into the VMCB save area (what do_vmexit would do). */
static void save_guest(struct vmdl_vcpu *v)
{
    uc_context_save(v->uc, X86(v)->ctx);
    const char *ctx = (const char *)X86(v)->ctx;
    static const struct { int r; unsigned off; } segs[] = {
        { R_ES, S_ES }, { R_CS, S_CS }, { R_SS, S_SS }, { R_DS, S_DS } };
    struct seg s, ss;
    for (unsigned i = 0; i < 4; i++) {
        seg_from_ctx(v, ctx, segs[i].r, &s);
        vmcb_seg(v, segs[i].off, s.sel, s.flags, s.limit, s.base);
    }
    seg_from_ctx(v, ctx, R_SS, &ss);
    uc_x86_mmr g, i;
    uc_reg_read(v->uc, UC_X86_REG_GDTR, &g);
    uc_reg_read(v->uc, UC_X86_REG_IDTR, &i);
    pw64(v, H_VMCB + S_GDTR + 8, g.base);
    pw32(v, H_VMCB + S_GDTR + 4, g.limit);
    pw64(v, H_VMCB + S_IDTR + 8, i.base);
    pw32(v, H_VMCB + S_IDTR + 4, i.limit);
    uint64_t cr0 = rd(v, UC_X86_REG_CR0), rflags = rd(v, UC_X86_REG_RFLAGS);
    pw64(v, H_VMCB + S_CR0, cr0);
    /* A #PF's address goes in through the VMCB: Unicorn's CR2 write also
     * loads the value into CR3 (its CR1/CR2/CR3 cases share
     * cpu_x86_update_cr3; measured on 2.1.1: every later access faulted). */
    pw64(v, H_VMCB + S_CR2, X86(v)->h_cr2_set ? X86(v)->h_cr2 : rd(v, UC_X86_REG_CR2));
    X86(v)->h_cr2_set = false;
    pw64(v, H_VMCB + S_CR3, rd(v, UC_X86_REG_CR3));
    pw64(v, H_VMCB + S_CR4, rd(v, UC_X86_REG_CR4));
    pw64(v, H_VMCB + S_EFER, host_rdmsr(v, MSR_EFER));
    pw64(v, H_VMCB + S_DR6, rd(v, UC_X86_REG_DR6));
    pw64(v, H_VMCB + S_DR7, rd(v, UC_X86_REG_DR7));
    pw64(v, H_VMCB + S_RFLAGS, rflags);
    pw64(v, H_VMCB + S_RIP, rd(v, UC_X86_REG_RIP));
    pw64(v, H_VMCB + S_RSP, rd(v, UC_X86_REG_RSP));
    pw64(v, H_VMCB + S_RAX, rd(v, UC_X86_REG_RAX));
    uint8_t cpl = (uint8_t)cpl_of(&ss, cr0, rflags);
    pw(v, H_VMCB + S_CPL, &cpl, 1);
    /* hflags bit 3: the interrupt shadow of STI / MOV SS */
    uint32_t hflags = ctx_u32(v, ctx, v->vm->x86h->segs_off - 8);
    pw32(v, H_VMCB + C_INT_STATE, (hflags >> 3) & 1);
}

/*
 * Re-enter through VMRUN: splice the host's mode fields (RFLAGS through the
 * control registers: hflags, segment caches, CR0-CR4) into the current
 * state so that FPU/SSE registers, MSRs and the general registers stay the
 * guest's, then run the stub.  VMRUN reloads ES/CS/SS/DS, GDTR/IDTR, the
 * control registers, EFER, RFLAGS, RIP, RSP and RAX from the VMCB; FS, GS,
 * LDTR and TR are put back from the guest's own saved caches.
 */
static void splice_host(struct vmdl_vcpu *v)
{
    /* The VMRUN runs with an instruction count of 1, and Unicorn compiles
     * its counting hook into each translation block: blocks cached from an
     * earlier run would not stop (measured: the handler ran on). */
    uc_ctl_flush_tb(v->uc);
    struct vmdl_vm *vm = v->vm;
    int from = vm->x86h->segs_off - 48, to = vm->x86h->cr_end_off;
    char *cur = (char *)X86(v)->ctx;
    uc_context_save(v->uc, X86(v)->ctx);
    char keep[4 * SEGCACHE];
    memcpy(keep, cur + vm->x86h->segs_off + R_FS * SEGCACHE, sizeof(keep));
    memcpy(cur + from, (char *)X86(v)->hctx + from, (size_t)(to - from));
    /* fs, gs, ldt, tr are contiguous after ds */
    memcpy(cur + vm->x86h->segs_off + R_FS * SEGCACHE, keep, sizeof(keep));
    uc_context_restore(v->uc, X86(v)->ctx);
    uc_ctl_flush_tlb(v->uc);
}

/* ---- page walk (reading the guest's linear memory) ------------------- */

/* Linear to physical with the guest's current paging mode; no permission
 * checks and no A/D updates (used to read the IDT and write an error code,
 * accesses the delivery itself just made). */
static bool walk(struct vmdl_vcpu *v, uint64_t la, uint64_t *pa)
{
    uint64_t cr0 = rd(v, UC_X86_REG_CR0), cr4 = rd(v, UC_X86_REG_CR4);
    uint64_t cr3 = rd(v, UC_X86_REG_CR3);
    if (!(cr0 & (1ull << 31))) {
        *pa = la & 0xFFFFFFFFull;
        return true;
    }
    const uint64_t addr_mask = 0x000FFFFFFFFFF000ull;
    if (!(cr4 & (1ull << 5))) {                      /* 32-bit paging */
        uint32_t pde = 0, pte = 0;
        uc_mem_read(v->uc, (cr3 & 0xFFFFF000u) + ((la >> 22) & 0x3FF) * 4, &pde, 4);
        if (!(pde & 1))
            return false;
        if ((pde & 0x80) && (cr4 & (1ull << 4))) {
            *pa = (pde & 0xFFC00000u) | (la & 0x3FFFFF);
            return true;
        }
        uc_mem_read(v->uc, (pde & 0xFFFFF000u) + ((la >> 12) & 0x3FF) * 4, &pte, 4);
        if (!(pte & 1))
            return false;
        *pa = (pte & 0xFFFFF000u) | (la & 0xFFF);
        return true;
    }
    uint64_t efer = host_rdmsr(v, MSR_EFER);
    int levels = (efer & (1ull << 10)) ? ((cr4 & (1ull << 12)) ? 5 : 4) : 3;
    uint64_t table = levels == 3 ? (cr3 & 0xFFFFFFE0u) : (cr3 & addr_mask);
    for (int l = levels; l >= 1; l--) {
        unsigned shift = 12 + 9 * (unsigned)(l - 1);
        unsigned idx = l == 3 && levels == 3 ? (unsigned)((la >> 30) & 3)
                                             : (unsigned)((la >> shift) & 0x1FF);
        uint64_t e = pr64(v, table + idx * 8);
        if (!(e & 1))
            return false;
        if (l <= 3 && l >= 2 && (e & 0x80) && !(levels == 3 && l == 3)) {
            uint64_t size = 1ull << shift;
            *pa = (e & addr_mask & ~(size - 1)) | (la & (size - 1));
            return true;
        }
        table = e & addr_mask;
    }
    *pa = table | (la & 0xFFF);
    return true;
}

static bool lin_rw(struct vmdl_vcpu *v, uint64_t la, void *buf, size_t n, bool write)
{
    uint8_t *p = buf;
    while (n) {
        uint64_t pa;
        size_t chunk = 0x1000 - (la & 0xFFF);
        chunk = chunk < n ? chunk : n;
        if (!walk(v, la, &pa))
            return false;
        uc_err e = write ? uc_mem_write(v->uc, pa, p, chunk)
                         : uc_mem_read(v->uc, pa, p, chunk);
        if (e)
            return false;
        la += chunk;
        p += chunk;
        n -= chunk;
    }
    return true;
}

/* ---- event delivery ------------------------------------------------- */

static bool vector_has_error(unsigned vec)
{
    return vec == 8 || (vec >= 10 && vec <= 14) || vec == 17 || vec == 21;
}

static bool contributory(unsigned vec)
{
    return vec == 0 || (vec >= 10 && vec <= 13);
}

/* Width of the error code the gate's handler receives (0: none). */
static unsigned error_width(struct vmdl_vcpu *v, unsigned vec)
{
    uint64_t cr0 = rd(v, UC_X86_REG_CR0);
    if (!(cr0 & 1))
        return 0;                                   /* real mode: never */
    if (host_rdmsr(v, MSR_EFER) & (1ull << 10))
        return 8;
    uc_x86_mmr idtr;
    uc_reg_read(v->uc, UC_X86_REG_IDTR, &idtr);
    uint8_t gate[8];
    if (!lin_rw(v, idtr.base + vec * 8, gate, 8, false))
        return 4;
    unsigned type = gate[5] & 0xF;
    return (type == 6 || type == 7) ? 2 : 4;
}

/* After QEMU delivered the event: push the error code below the frame. */
static void push_error(struct vmdl_vcpu *v, unsigned width, uint32_t code)
{
    uc_context_save(v->uc, X86(v)->ctx);
    struct seg ss;
    seg_from_ctx(v, (const char *)X86(v)->ctx, R_SS, &ss);
    uint64_t rsp = rd(v, UC_X86_REG_RSP);
    bool lma = host_rdmsr(v, MSR_EFER) & (1ull << 10);
    uint64_t mask = lma ? ~0ull : (ss.flags & DESC_B) ? 0xFFFFFFFFull : 0xFFFFull;
    uint64_t nsp = (rsp & ~mask) | ((rsp - width) & mask);
    uint64_t base = lma ? 0 : ss.base;
    uint64_t val = code;
    lin_rw(v, base + (nsp & mask), &val, width, true);
    wr(v, UC_X86_REG_RSP, nsp);
}

/*
 * Deliver vector through the guest's IDT/IVT with QEMU's own delivery:
 * VMRUN with an INTR-type injection, one instruction (the VMRUN), then the
 * error code.  A fault while delivering comes back as an exception exit
 * during that instruction and is combined by the double-fault rules.
 */
static int deliver(struct vmdl_vcpu *v, unsigned vec, bool has_err, uint32_t err,
                   bool *triple)
{
    unsigned first = vec;
    for (int depth = 0; depth < 3; depth++) {
        save_guest(v);
        pw32(v, H_VMCB + C_EVENTINJ, (1u << 31) | vec);
        splice_host(v);
        wr(v, UC_X86_REG_RAX, H_VMCB);
        v->stop = STOP_NONE;
        uc_emu_start(v->uc, H_STUB, 1ull << 63, 0, 1);
        pw32(v, H_VMCB + C_EVENTINJ, 0);
        unsigned code = v->stop == STOP_INTR ? v->stop_vector : 0;
        if (!(code >= EXCP_VMEXIT + X_EXCP && code < EXCP_VMEXIT + X_EXCP + 32)) {
            if (has_err) {
                unsigned w = error_width(v, vec);
                if (w)
                    push_error(v, w, err);
            }
            v->stop = STOP_NONE;
            return VMDL_OK;
        }
        /* The delivery faulted: #DF for benign-free pairs, else the new one. */
        unsigned nvec = code - EXCP_VMEXIT - X_EXCP;
        uc_context_save(v->uc, X86(v)->ctx);
        uint32_t nerr = ctx_u32(v, (const char *)X86(v)->ctx, v->vm->x86h->err_off);
        if (vec == 8) {
            *triple = true;
            return vmdl_fail(VMDL_ESTATE, "triple fault: vector %u while "
                             "delivering #DF (first event %u)", nvec, first);
        }
        bool df = (contributory(vec) && contributory(nvec)) ||
                  (vec == 14 && (nvec == 14 || contributory(nvec)));
        /* QEMU restored RIP to the VMRUN; the guest state VMRUN loaded is
         * otherwise intact (delivery commits nothing before it succeeds). */
        wr(v, UC_X86_REG_RIP, pr64(v, H_VMCB + S_RIP));
        if (nvec == 14)
            set_cr2(v, pr64(v, H_VMCB + C_EXIT_INFO2));
        vec = df ? 8 : nvec;
        err = df ? 0 : nerr;
        has_err = vector_has_error(vec);
    }
    *triple = true;
    return vmdl_fail(VMDL_ESTATE, "triple fault delivering vector %u", first);
}

/* ---- public pieces ------------------------------------------------------- */

int vmdl__x86h_enable(struct vmdl_vcpu *v)
{
    struct vmdl_vm *vm = v->vm;
    if (!vm->x86h) {
        vm->x86h = calloc(1, sizeof(*vm->x86h));
        if (!vm->x86h)
            return vmdl_fail(VMDL_ENOMEM, "hosted x86 vCPU: out of memory");
        int e = vmdl__add_destroy_hook(vm, free, vm->x86h);
        if (e) {
            free(vm->x86h);
            vm->x86h = NULL;
            return e;
        }
    }
    if (uc_ctl_tlb_mode(v->uc, UC_TLB_CPU))
        return hfail("switching to the guest's own page tables (UC_TLB_CPU)");
    if (uc_mem_map(v->uc, H_BASE, H_SIZE, UC_PROT_ALL))
        return hfail("mapping the VMCB and stub pages");
    /* Back to the ring-0 state x86_vcpu.c saved before deprivileging: VMRUN
     * needs CPL0. */
    uc_context_restore(v->uc, X86(v)->hctx);
    uc_ctl_flush_tlb(v->uc);
    int err = host_setup(v);
    if (err)
        return err;
    if (!vm->x86h->segs_off && (err = calibrate_layout(v)))
        return err;
    /* CR4.PAE in the host: VMRUN loads the guest's CR0 before its CR4, and
     * QEMU refuses to turn paging on with LME set while the current CR4
     * lacks PAE (the guest's CR0.PG would silently stay clear). */
    wr(v, UC_X86_REG_CR4, rd(v, UC_X86_REG_CR4) | (1ull << 5));
    wr(v, UC_X86_REG_RIP, H_STUB);
    uc_context_save(v->uc, X86(v)->hctx);
    if (!vm->x86h->err_off && (err = calibrate_error_code(v)))
        return err;
    uc_hook h;
    if (uc_hook_add(v->uc, &h, UC_HOOK_INSN, UC_CB(syscall_cb), v, 1, 0,
                    UC_X86_INS_SYSCALL) ||
        uc_hook_add(v->uc, &h, UC_HOOK_INSN, UC_CB(sysenter_cb), v, 1, 0,
                    UC_X86_INS_SYSENTER))
        return hfail("hooking SYSCALL/SYSENTER");
    X86(v)->hosted = true;
    return VMDL_OK;
}

/* Protected-mode flat segments as QEMU's multiboot ROM leaves them. */
static void boot_pm32(struct vmdl_vcpu *v, uint64_t entry)
{
    const struct vmdl_x86_hosted_vm *b = v->vm->x86h;
    vmcb_seg(v, S_CS, 0x10, 0x00CF9B00u, 0xFFFFFFFF, 0);
    vmcb_seg(v, S_SS, 0x18, 0x00CF9300u, 0xFFFFFFFF, 0);
    vmcb_seg(v, S_DS, 0x18, 0x00CF9300u, 0xFFFFFFFF, 0);
    vmcb_seg(v, S_ES, 0x18, 0x00CF9300u, 0xFFFFFFFF, 0);
    pw64(v, H_VMCB + S_GDTR + 8, b->gdt_addr);
    pw32(v, H_VMCB + S_GDTR + 4, 0x1F);
    pw64(v, H_VMCB + S_CR0, 0x11);                /* PE | ET */
    pw64(v, H_VMCB + S_RIP, entry);
    pw64(v, H_VMCB + S_RAX, b->eax);
    wr(v, UC_X86_REG_RBX, b->ebx);
}

/* Real mode at vector:0000, as an AP leaves wait-for-SIPI. */
static void boot_real(struct vmdl_vcpu *v, uint8_t vector)
{
    vmcb_seg(v, S_CS, (uint16_t)(vector << 8), 0x00009B00u, 0xFFFF,
             (uint64_t)vector << 12);
    vmcb_seg(v, S_SS, 0, 0x00009300u, 0xFFFF, 0);
    vmcb_seg(v, S_DS, 0, 0x00009300u, 0xFFFF, 0);
    vmcb_seg(v, S_ES, 0, 0x00009300u, 0xFFFF, 0);
    pw64(v, H_VMCB + S_GDTR + 8, 0);
    pw32(v, H_VMCB + S_GDTR + 4, 0xFFFF);
    pw64(v, H_VMCB + S_CR0, 0x60000010);          /* CD | NW | ET */
    pw64(v, H_VMCB + S_RIP, 0);
    pw64(v, H_VMCB + S_RAX, 0);
}

static void boot_common(struct vmdl_vcpu *v)
{
    static const int gprs[] = { UC_X86_REG_RBX, UC_X86_REG_RCX, UC_X86_REG_RDX,
        UC_X86_REG_RSI, UC_X86_REG_RDI, UC_X86_REG_RBP, UC_X86_REG_R8,
        UC_X86_REG_R9, UC_X86_REG_R10, UC_X86_REG_R11, UC_X86_REG_R12,
        UC_X86_REG_R13, UC_X86_REG_R14, UC_X86_REG_R15 };
    uc_context_restore(v->uc, X86(v)->hctx);
    uc_ctl_flush_tlb(v->uc);
    for (unsigned i = 0; i < sizeof(gprs) / sizeof(gprs[0]); i++)
        wr(v, gprs[i], 0);
    write_intercepts(v);
    pw64(v, H_VMCB + S_IDTR + 8, 0);
    pw32(v, H_VMCB + S_IDTR + 4, 0x3FF);
    pw64(v, H_VMCB + S_CR2, 0);
    pw64(v, H_VMCB + S_CR3, 0);
    pw64(v, H_VMCB + S_CR4, 0);
    pw64(v, H_VMCB + S_EFER, 0);
    pw64(v, H_VMCB + S_DR6, 0xFFFF0FF0);
    pw64(v, H_VMCB + S_DR7, 0x400);
    pw64(v, H_VMCB + S_RFLAGS, 2);
    pw64(v, H_VMCB + S_RSP, 0);
    uint8_t cpl = 0;
    pw(v, H_VMCB + S_CPL, &cpl, 1);
    pw32(v, H_VMCB + C_INT_STATE, 0);
    pw32(v, H_VMCB + C_EVENTINJ, 0);
}

int vmdl__x86h_reset(struct vmdl_vcpu *v, uint64_t entry)
{
    boot_common(v);
    boot_pm32(v, entry);
    X86(v)->hosted_vmrun = true;
    v->halted = v->nmi_pending = false;
    v->queued_irq = -1;
    v->pending = PENDING_NONE;
    v->start_pc = entry;
    X86(v)->tsc_offset = X86(v)->tsc_adjust = 0;
    X86(v)->misc_enable = MISC_ENABLE_RESET;
    mce_reset(&X86(v)->mce);
    return VMDL_OK;
}

int vmdl__x86h_sipi(struct vmdl_vcpu *v, uint8_t vector)
{
    boot_common(v);
    boot_real(v, vector);
    X86(v)->hosted_vmrun = true;
    v->halted = false;
    return VMDL_OK;
}

/* Run the first VMRUN of an entry (the stub from the host state). */
static void enter(struct vmdl_vcpu *v)
{
    splice_host(v);
    wr(v, UC_X86_REG_RAX, H_VMCB);
    v->stop = STOP_NONE;
    uc_emu_start(v->uc, H_STUB, 1ull << 63, 0, 1);
    X86(v)->hosted_vmrun = false;
}

/* ---- MSRs ------------------------------------------------------------- */

struct arch_msr {
    uint32_t index;
    uint8_t check;    /* CANON: canonical address; PAT: memory types; EFER */
};

enum { CHK_NONE, CHK_CANON, CHK_PAT, CHK_EFER, CHK_RO };

/* Architectural MSRs QEMU keeps and implements; KVM's #GP checks in front. */
static const struct arch_msr arch_msrs[] = {
    { 0x174, CHK_NONE },        /* SYSENTER_CS */
    { 0x175, CHK_CANON },       /* SYSENTER_ESP */
    { 0x176, CHK_CANON },       /* SYSENTER_EIP */
    { 0x277, CHK_PAT },         /* PAT */
    { 0xC0000080, CHK_EFER },
    { 0xC0000081, CHK_NONE },   /* STAR */
    { 0xC0000082, CHK_CANON },  /* LSTAR */
    { 0xC0000083, CHK_CANON },  /* CSTAR */
    { 0xC0000084, CHK_NONE },   /* SFMASK */
    { 0xC0000100, CHK_CANON },  /* FS_BASE */
    { 0xC0000101, CHK_CANON },  /* GS_BASE */
    { 0xC0000102, CHK_CANON },  /* KERNEL_GS_BASE */
    { 0xC0000103, CHK_NONE },   /* TSC_AUX (bits 63:32 checked below) */
};

static const struct arch_msr *find_arch(uint32_t idx)
{
    for (unsigned i = 0; i < sizeof(arch_msrs) / sizeof(arch_msrs[0]); i++)
        if (arch_msrs[i].index == idx)
            return &arch_msrs[i];
    return NULL;
}

static bool pat_ok(uint64_t val)
{
    for (unsigned i = 0; i < 8; i++) {
        unsigned t = (val >> (8 * i)) & 0xFF;
        if (t == 2 || t == 3 || t > 7)
            return false;
    }
    return true;
}

static vmdl_fault arch_wrmsr(struct vmdl_vcpu *v, const struct arch_msr *m,
                             uint64_t val)
{
    uint64_t cur = host_rdmsr(v, m->index);
    switch (m->check) {
    case CHK_CANON:
        if (!vmdl_is_canonical48(val))
            return VMDL_FAULT_GP;
        break;
    case CHK_PAT:
        if (!pat_ok(val))
            return VMDL_FAULT_GP;
        break;
    case CHK_EFER: {
        /* SCE, LME, NXE writable; LMA read-only; LME fixed while paging. */
        uint64_t ok = (1ull << 0) | (1ull << 8) | (1ull << 10) | (1ull << 11);
        if (val & ~ok)
            return VMDL_FAULT_GP;
        if (((val ^ cur) & (1ull << 8)) && (rd(v, UC_X86_REG_CR0) >> 31))
            return VMDL_FAULT_GP;
        val = (val & ~(1ull << 10)) | (cur & (1ull << 10));
        break;
    }
    default:
        break;
    }
    if (m->index == 0xC0000103 && (val >> 32))
        return VMDL_FAULT_GP;
    host_wrmsr(v, m->index, val);
    return VMDL_FAULT_NONE;
}

/* MCG_CAP: the bank count and MCG_CTL_P (QEMU's default MCE capability). */
#define MCG_CAP_VALUE (X86H_MCE_BANKS | (1ull << 8))

static void mce_reset(struct x86h_mce *m)
{
    memset(m, 0, sizeof(*m));
    m->mcg_ctl = ~0ull;
    for (unsigned i = 0; i < X86H_MCE_BANKS; i++)
        m->bank[i][0] = ~0ull;
}

/* KVM's set_msr_mce/get_msr_mce rules for a guest access; UNCLAIMED when
 * idx is not a machine-check MSR. */
static vmdl_fault mce_msr(struct vmdl_vcpu *v, bool write, uint32_t idx,
                          uint64_t *val)
{
    struct x86h_mce *m = &X86(v)->mce;
    switch (idx) {
    case 0x179:                                          /* MCG_CAP */
        if (write)
            return VMDL_FAULT_GP;
        *val = MCG_CAP_VALUE;
        return VMDL_FAULT_NONE;
    case 0x17A:                                          /* MCG_STATUS */
        if (write)
            m->mcg_status = *val;
        else
            *val = m->mcg_status;
        return VMDL_FAULT_NONE;
    case 0x17B:                                          /* MCG_CTL */
        if (write && *val && *val != ~0ull)
            return VMDL_FAULT_GP;
        if (write)
            m->mcg_ctl = *val;
        else
            *val = m->mcg_ctl;
        return VMDL_FAULT_NONE;
    default:
        break;
    }
    if (idx < 0x400 || idx >= 0x400 + 4 * 32)
        return VMDL_FAULT_UNCLAIMED;
    unsigned bank = (idx - 0x400) / 4, reg = (idx - 0x400) % 4;
    if (bank >= X86H_MCE_BANKS)
        return VMDL_FAULT_GP;                 /* a bank this CPU lacks */
    if (!write) {
        *val = m->bank[bank][reg];
        return VMDL_FAULT_NONE;
    }
    if (reg == 0 && *val && *val != ~0ull)
        return VMDL_FAULT_GP;                 /* CTL: all or nothing */
    if (reg == 1 && *val)
        return VMDL_FAULT_GP;                 /* STATUS: only cleared */
    m->bank[bank][reg] = *val;
    return VMDL_FAULT_NONE;
}

static vmdl_fault do_msr(struct vmdl_vcpu *v, bool write, uint32_t idx, uint64_t *val)
{
    struct msr_range *r = vmdl__find_msr(v->vm, idx);
    vmdl_fault f = VMDL_FAULT_UNCLAIMED;
    if (r)
        f = write ? r->ops->write(r->opaque, v, idx, *val)
                  : r->ops->read(r->opaque, v, idx, val);
    if (f != VMDL_FAULT_UNCLAIMED)
        return f;
    if (idx == 0x10) {                                 /* IA32_TSC */
        if (write) {
            /* SDM 17.17.3: a TSC write moves IA32_TSC_ADJUST by as much */
            X86(v)->tsc_adjust += *val - vmdl__x86_guest_tsc(v);
            X86(v)->tsc_offset = *val - v->insns;
        } else {
            *val = vmdl__x86_guest_tsc(v);
        }
        return VMDL_FAULT_NONE;
    }
    if ((f = mce_msr(v, write, idx, val)) != VMDL_FAULT_UNCLAIMED)
        return f;
    if (idx == 0x1A0) {                                /* IA32_MISC_ENABLE */
        /* KVM keeps the PMU-owned bits (7 perfmon, 11 BTS and 12 PEBS
         * unavailable) whatever the guest writes. */
        if (write)
            X86(v)->misc_enable = (*val & ~MISC_ENABLE_RO) | (X86(v)->misc_enable & MISC_ENABLE_RO);
        else
            *val = X86(v)->misc_enable;
        return VMDL_FAULT_NONE;
    }
    if (idx == 0x3B) {                                 /* IA32_TSC_ADJUST */
        if (write) {
            X86(v)->tsc_offset += *val - X86(v)->tsc_adjust;
            X86(v)->tsc_adjust = *val;
        } else {
            *val = X86(v)->tsc_adjust;
        }
        return VMDL_FAULT_NONE;
    }
    const struct arch_msr *m = find_arch(idx);
    if (!m)
        return VMDL_FAULT_GP;
    if (write)
        return arch_wrmsr(v, m, *val);
    *val = host_rdmsr(v, idx);
    return VMDL_FAULT_NONE;
}

/* ---- the run loop step -------------------------------------------------- */

static uint64_t err_code(struct vmdl_vcpu *v)
{
    uc_context_save(v->uc, X86(v)->ctx);
    return ctx_u32(v, (const char *)X86(v)->ctx, v->vm->x86h->err_off);
}

static int fault(struct vmdl_vcpu *v, vmdl_fault f, bool *triple)
{
    unsigned vec = f == VMDL_FAULT_UD ? 6 : f == VMDL_FAULT_PF ? 14 : 13;
    return deliver(v, vec, vector_has_error(vec), 0, triple);
}

static void retire(struct vmdl_vcpu *v, unsigned len)
{
    wr(v, UC_X86_REG_RIP, rd(v, UC_X86_REG_RIP) + len);
    v->insns++;
}

/* The intercepted instruction's opcode bytes after its prefixes: QEMU's
 * exit_info_1 (read or write) proved unreliable across vCPUs, the bytes
 * are not. Returns the prefix count, -1 if RIP cannot be read. */
static int opcode_at(struct vmdl_vcpu *v, uint8_t op[3], uint8_t *rex)
{
    uint8_t b[16];
    uint64_t rip = rd(v, UC_X86_REG_RIP);
    uc_context_save(v->uc, X86(v)->ctx);
    struct seg cs;
    seg_from_ctx(v, (const char *)X86(v)->ctx, R_CS, &cs);
    bool lma = host_rdmsr(v, MSR_EFER) & (1ull << 10);
    uint64_t la = (lma && (cs.flags & DESC_L)) ? rip : cs.base + rip;
    if (!lin_rw(v, la, b, sizeof(b), false))
        return -1;
    int n = 0;
    while (n < 14 && ((b[n] >= 0x40 && b[n] <= 0x4F) || b[n] == 0x66 ||
                      b[n] == 0x67 || b[n] == 0xF2 || b[n] == 0xF3 ||
                      b[n] == 0x2E || b[n] == 0x36 || b[n] == 0x3E ||
                      b[n] == 0x26 || b[n] == 0x64 || b[n] == 0x65))
        n++;
    *rex = n && (b[n - 1] & 0xF0) == 0x40 ? b[n - 1] : 0;
    memcpy(op, b + n, 3);
    return n;
}

static int handle_msr(struct vmdl_vcpu *v, bool *triple)
{
    uint8_t op[3], rex;
    int pfx = opcode_at(v, op, &rex);
    if (pfx < 0 || op[0] != 0x0F || (op[1] != 0x30 && op[1] != 0x32))
        return fault(v, VMDL_FAULT_UD, triple);
    bool write = op[1] == 0x30;
    uint32_t idx = (uint32_t)rd(v, UC_X86_REG_RCX);
    uint64_t val = (rd(v, UC_X86_REG_RDX) << 32) | (uint32_t)rd(v, UC_X86_REG_RAX);
    vmdl_fault f = do_msr(v, write, idx, &val);
    char out[64];
    snprintf(out, sizeof(out), "msr 0x%x%s", idx, f ? ": #GP" : "");
    vmdl__trace_exit(v, write ? "wrmsr" : "rdmsr", rd(v, UC_X86_REG_RIP), out);
    if (f)
        return fault(v, f, triple);
    if (!write) {
        wr(v, UC_X86_REG_RAX, (uint32_t)val);
        wr(v, UC_X86_REG_RDX, val >> 32);
    }
    retire(v, 2 + (unsigned)pfx);
    return VMDL_OK;
}


/*
 * MOV to CR0/CR4, CLTS and LMSW: QEMU's TCG applies any value (a reserved
 * CR4 bit such as LA57 silently changes the paging mode), so the hosted
 * vCPU checks them as KVM's kvm_set_cr0/kvm_set_cr4 do and then lets QEMU
 * apply the value (mode switches, hflags, TLB flush).
 */
static vmdl_fault check_cr0(struct vmdl_vcpu *v, uint64_t val)
{
    uint64_t cur = rd(v, UC_X86_REG_CR0), cr4 = rd(v, UC_X86_REG_CR4);
    bool lme = host_rdmsr(v, MSR_EFER) & (1ull << 8);
    if (val >> 32)
        return VMDL_FAULT_GP;
    if ((val & (1ull << 29)) && !(val & (1ull << 30)))
        return VMDL_FAULT_GP;                          /* NW without CD */
    if ((val & (1ull << 31)) && !(val & 1))
        return VMDL_FAULT_GP;                          /* PG without PE */
    if (!(cur & (1ull << 31)) && (val & (1ull << 31)) && lme && !(cr4 & (1ull << 5)))
        return VMDL_FAULT_GP;                          /* long mode needs PAE */
    uc_context_save(v->uc, X86(v)->ctx);
    struct seg cs;
    seg_from_ctx(v, (const char *)X86(v)->ctx, R_CS, &cs);
    if ((cur & (1ull << 31)) && !(val & (1ull << 31)) && (cs.flags & DESC_L))
        return VMDL_FAULT_GP;                          /* paging off in 64-bit code */
    return VMDL_FAULT_NONE;
}

static vmdl_fault check_cr4(struct vmdl_vcpu *v, uint64_t val)
{
    uint64_t cur = rd(v, UC_X86_REG_CR4);
    bool lma = host_rdmsr(v, MSR_EFER) & (1ull << 10);
    if (val & ~vmdl__x86_cr4_allowed(v))
        return VMDL_FAULT_GP;
    if (lma && !(val & (1ull << 5)))
        return VMDL_FAULT_GP;                          /* PAE stays in long mode */
    if (lma && ((val ^ cur) & (1ull << 12)))
        return VMDL_FAULT_GP;                          /* LA57 fixed in long mode */
    return VMDL_FAULT_NONE;
}

static int handle_cr_write(struct vmdl_vcpu *v, unsigned cr, bool *triple)
{
    uint8_t op[3], rex;
    int pfx = opcode_at(v, op, &rex);
    uint64_t val;
    unsigned len;
    if (pfx < 0 || op[0] != 0x0F)
        return fault(v, VMDL_FAULT_UD, triple);
    if (op[1] == 0x22) {                               /* MOV CRn, reg */
        val = rd(v, vmdl__x86_gpr_uc[(op[2] & 7) | ((rex & 1) << 3)]);
        len = 3;
    } else if (op[1] == 0x06 && cr == 0) {            /* CLTS */
        val = rd(v, UC_X86_REG_CR0) & ~(1ull << 3);
        len = 2;
    } else if (op[1] == 0x01 && (op[2] & 0xF8) == 0xF0 && cr == 0) { /* LMSW reg */
        uint64_t src = rd(v, vmdl__x86_gpr_uc[(op[2] & 7) | ((rex & 1) << 3)]);
        uint64_t cur = rd(v, UC_X86_REG_CR0);
        val = (cur & ~0xEull) | (src & 0xF) | (cur & 1);   /* cannot clear PE */
        len = 3;
    } else {
        return fault(v, VMDL_FAULT_UD, triple);       /* LMSW from memory: not yet */
    }
    if (!(rex & 8) && !(host_rdmsr(v, MSR_EFER) & (1ull << 10)))
        val = (uint32_t)val;
    vmdl_fault f = cr == 0 ? check_cr0(v, val) : check_cr4(v, val);
    char out[48];
    snprintf(out, sizeof(out), "cr%u <- 0x%llx%s", cr, (unsigned long long)val,
             f ? " #GP" : "");
    vmdl__trace_exit(v, "mov-cr", rd(v, UC_X86_REG_RIP), out);
    if (f)
        return fault(v, f, triple);
    wr(v, cr == 0 ? UC_X86_REG_CR0 : UC_X86_REG_CR4, val);
    uc_ctl_flush_tlb(v->uc);
    retire(v, len + (unsigned)pfx);
    return VMDL_OK;
}

/* MOV to/from CR8: the APIC's TPR (bits 7:4) through the irqchip, as KVM. */
static int handle_cr8(struct vmdl_vcpu *v, bool write, bool *triple)
{
    struct vmdl_vm *vm = v->vm;
    uint8_t op[3], rex;
    int pfx = opcode_at(v, op, &rex);
    if (pfx < 0 || op[0] != 0x0F || (op[1] != 0x20 && op[1] != 0x22))
        return fault(v, VMDL_FAULT_UD, triple);
    unsigned gpr = (op[2] & 7) | ((rex & 1) << 3);
    if (write) {
        uint64_t val = rd(v, vmdl__x86_gpr_uc[gpr]);
        if (val >> 4)
            return fault(v, VMDL_FAULT_GP, triple);   /* reserved bits */
        if (vm->irqchip && vm->irqchip->set_cr8)
            vm->irqchip->set_cr8(vm->irqchip_opaque, v, val);
    } else {
        uint64_t val = vm->irqchip && vm->irqchip->get_cr8
                           ? vm->irqchip->get_cr8(vm->irqchip_opaque, v) : 0;
        wr(v, vmdl__x86_gpr_uc[gpr], val);
    }
    retire(v, 3 + (unsigned)pfx);
    return VMDL_OK;
}

static void handle_tsc(struct vmdl_vcpu *v, bool rdtscp)
{
    uint64_t tsc = vmdl__x86_guest_tsc(v);
    wr(v, UC_X86_REG_RAX, (uint32_t)tsc);
    wr(v, UC_X86_REG_RDX, tsc >> 32);
    if (rdtscp)
        wr(v, UC_X86_REG_RCX, (uint32_t)host_rdmsr(v, 0xC0000103));
    retire(v, rdtscp ? 3 : 2);
}

/*
 * Instructions the machine advertises that QEMU's CPU model lacks (#UD in
 * the engine): RDTSCP (0F 01 F9) and RDPID (F3 0F C7 /7), both reading
 * IA32_TSC_AUX.  True when emulated.
 */
static bool emulate_ud(struct vmdl_vcpu *v)
{
    uint8_t op[3], rex;
    int pfx = opcode_at(v, op, &rex);
    if (pfx < 0 || op[0] != 0x0F)
        return false;
    if (op[1] == 0x01 && op[2] == 0xF9) {
        wr(v, UC_X86_REG_RIP, rd(v, UC_X86_REG_RIP) + (unsigned)pfx);
        handle_tsc(v, true);
        return true;
    }
    if (op[1] == 0xC7 && (op[2] & 0xF8) == 0xF8 && pfx >= 1) {
        unsigned gpr = (op[2] & 7) | ((rex & 1) << 3);
        wr(v, vmdl__x86_gpr_uc[gpr], (uint32_t)host_rdmsr(v, 0xC0000103));
        retire(v, 3 + (unsigned)pfx);
        return true;
    }
    return false;
}

static int handle_exit(struct vmdl_vcpu *v, unsigned code, bool *triple)
{
    struct vmdl_vm *vm = v->vm;
    if (code == X_EXCP + 6 && emulate_ud(v))
        return VMDL_OK;
    if (code >= X_EXCP && code < X_EXCP + 32) {
        unsigned vec = code - X_EXCP;
        uint32_t e = vector_has_error(vec) ? (uint32_t)err_code(v) : 0;
        if (vec == 14)
            set_cr2(v, pr64(v, H_VMCB + C_EXIT_INFO2));
        char out[48];
        snprintf(out, sizeof(out), "vector %u error 0x%x to guest", vec, e);
        vmdl__trace_exit(v, "exception", rd(v, UC_X86_REG_RIP), out);
        return deliver(v, vec, vector_has_error(vec), e, triple);
    }
    switch (code) {
    case X_MSR:
        return handle_msr(v, triple);
    case X_RDTSC:
    case X_RDTSCP:
        handle_tsc(v, code == X_RDTSCP);
        return VMDL_OK;
    case X_CR0_WRITE:
    case X_CR4_WRITE:
        return handle_cr_write(v, code - X_CR0_WRITE, triple);
    case X_CR8_READ:
    case X_CR8_WRITE:
        return handle_cr8(v, code == X_CR8_WRITE, triple);
    case X_HLT:
        retire(v, 1);
        v->halted = true;
        if (vm->irqchip && vm->irqchip->halt)
            vm->irqchip->halt(vm->irqchip_opaque, v);
        return VMDL_OK;
    case X_SHUTDOWN:
        *triple = true;
        return vmdl_fail(VMDL_ESTATE, "shutdown (triple fault) in the guest");
    case X_RDPMC:
    default:
        /* SVM instructions, RDPMC (no PMU path yet): #UD/#GP as a CPU
         * without those features would give. */
        return fault(v, code == X_RDPMC ? VMDL_FAULT_GP : VMDL_FAULT_UD, triple);
    }
}

/*
 * SYSCALL and SYSENTER: Unicorn replaces QEMU's helpers with "call the hooks,
 * skip the instruction", so the hosted vCPU hooks them and performs the
 * transfer itself (SDM vol. 2B, SYSCALL / SYSENTER operation): the new flat
 * CS/SS, RIP and RFLAGS go to the VMCB and VMRUN loads them.
 */
static void flat_seg(struct vmdl_vcpu *v, unsigned off, uint16_t sel, bool code,
                     bool l64)
{
    uint32_t flags = code ? (l64 ? 0x00AF9B00u : 0x00CF9B00u) : 0x00CF9300u;
    vmcb_seg(v, off, sel, flags, 0xFFFFFFFF, 0);
}

static int do_syscall(struct vmdl_vcpu *v, bool *triple)
{
    uint64_t efer = host_rdmsr(v, MSR_EFER);
    uint64_t next = rd(v, UC_X86_REG_RIP);          /* already past it */
    if (!(efer & 1)) {                               /* EFER.SCE */
        wr(v, UC_X86_REG_RIP, next - 2);
        return fault(v, VMDL_FAULT_UD, triple);
    }
    uint64_t star = host_rdmsr(v, 0xC0000081), rflags = rd(v, UC_X86_REG_RFLAGS);
    uint16_t sel = (uint16_t)((star >> 32) & 0xFFFC);
    bool lma = efer & (1ull << 10);
    uc_context_save(v->uc, X86(v)->ctx);
    struct seg cs;
    seg_from_ctx(v, (const char *)X86(v)->ctx, R_CS, &cs);
    save_guest(v);
    uint64_t rip;
    if (lma) {
        wr(v, UC_X86_REG_RCX, next);
        wr(v, UC_X86_REG_R11, rflags & ~(1ull << 16));
        rip = host_rdmsr(v, (cs.flags & DESC_L) ? 0xC0000082 : 0xC0000083);
        rflags &= ~host_rdmsr(v, 0xC0000084);
    } else {
        wr(v, UC_X86_REG_RCX, (uint32_t)next);
        rip = (uint32_t)star;
        rflags &= ~((1ull << 9) | (1ull << 16) | (1ull << 17));
    }
    flat_seg(v, S_CS, sel, true, lma);
    flat_seg(v, S_SS, (uint16_t)(sel + 8), false, false);
    pw64(v, H_VMCB + S_RIP, rip);
    pw64(v, H_VMCB + S_RFLAGS, (rflags & ~(1ull << 16)) | 2);
    uint8_t cpl = 0;
    pw(v, H_VMCB + S_CPL, &cpl, 1);
    X86(v)->hosted_vmrun = true;
    return VMDL_OK;
}

static int do_sysenter(struct vmdl_vcpu *v, bool *triple)
{
    uint64_t cs_msr = host_rdmsr(v, 0x174);
    bool lma = host_rdmsr(v, MSR_EFER) & (1ull << 10);
    if (!(rd(v, UC_X86_REG_CR0) & 1) || !(cs_msr & 0xFFFC)) {
        wr(v, UC_X86_REG_RIP, rd(v, UC_X86_REG_RIP) - 2);
        return fault(v, VMDL_FAULT_GP, triple);
    }
    save_guest(v);
    uint16_t sel = (uint16_t)(cs_msr & 0xFFFC);
    flat_seg(v, S_CS, sel, true, lma);
    flat_seg(v, S_SS, (uint16_t)(sel + 8), false, false);
    uint64_t rflags = rd(v, UC_X86_REG_RFLAGS);
    rflags &= ~((1ull << 9) | (1ull << 16) | (1ull << 17));
    pw64(v, H_VMCB + S_RFLAGS, rflags | 2);
    uint64_t eip = host_rdmsr(v, 0x176), esp = host_rdmsr(v, 0x175);
    pw64(v, H_VMCB + S_RIP, lma ? eip : (uint32_t)eip);
    pw64(v, H_VMCB + S_RSP, lma ? esp : (uint32_t)esp);
    uint8_t cpl = 0;
    pw(v, H_VMCB + S_CPL, &cpl, 1);
    X86(v)->hosted_vmrun = true;
    return VMDL_OK;
}

static void syscall_cb(uc_engine *uc, void *user)
{
    struct vmdl_vcpu *v = user;
    if (v->stop == STOP_NONE || v->stop == STOP_KICK) {
        v->stop = STOP_INTR;
        v->stop_vector = EXCP_SYSCALL;
    }
    uc_emu_stop(uc);
}

static void sysenter_cb(uc_engine *uc, void *user)
{
    struct vmdl_vcpu *v = user;
    if (v->stop == STOP_NONE || v->stop == STOP_KICK) {
        v->stop = STOP_INTR;
        v->stop_vector = EXCP_SYSENTER;
    }
    uc_emu_stop(uc);
}

/* A software interrupt (INT n / INT3 / INTO): QEMU reported it with RIP
 * already past the instruction; check the gate's DPL, then deliver. */
static int handle_softint(struct vmdl_vcpu *v, unsigned vec, bool *triple)
{
    uint64_t cr0 = rd(v, UC_X86_REG_CR0);
    if (cr0 & 1) {
        uc_context_save(v->uc, X86(v)->ctx);
        struct seg ss;
        seg_from_ctx(v, (const char *)X86(v)->ctx, R_SS, &ss);
        unsigned cpl = cpl_of(&ss, cr0, rd(v, UC_X86_REG_RFLAGS));
        bool lma = host_rdmsr(v, MSR_EFER) & (1ull << 10);
        uc_x86_mmr idtr;
        uc_reg_read(v->uc, UC_X86_REG_IDTR, &idtr);
        uint8_t gate[8] = { 0 };
        unsigned esz = lma ? 16 : 8;
        if ((uint64_t)vec * esz + esz - 1 <= idtr.limit &&
            lin_rw(v, idtr.base + (uint64_t)vec * esz, gate, 8, false) &&
            ((gate[5] >> 5) & 3) < cpl) {
            /* INT n through a gate of lower DPL: #GP(vector * 8 + 2), on the
             * INT instruction itself. */
            return deliver(v, 13, true, vec * 8 + 2, triple);
        }
    }
    return deliver(v, vec, false, 0, triple);
}

static int inject_irq(struct vmdl_vcpu *v, bool *triple)
{
    struct vmdl_vm *vm = v->vm;
    if (!v->nmi_pending && vm->irqchip && vm->irqchip->take_nmi &&
        vm->irqchip->take_nmi(vm->irqchip_opaque, v))
        v->nmi_pending = true;
    if (v->nmi_pending) {
        /* NMI ignores RFLAGS.IF; blocking until IRET is not modelled. */
        v->nmi_pending = false;
        vmdl__trace_exit(v, "nmi", rd(v, UC_X86_REG_RIP), "delivered vector 2");
        return deliver(v, 2, false, 0, triple) ? -1 : 1;
    }
    if (!vm->irqchip || !vm->irqchip->pending)
        return 0;
    if (!(rd(v, UC_X86_REG_RFLAGS) & (1ull << 9)))
        return 0;
    uc_context_save(v->uc, X86(v)->ctx);
    if (ctx_u32(v, (const char *)X86(v)->ctx, vm->x86h->segs_off - 8) & (1u << 3))
        return 0;                              /* STI / MOV SS shadow */
    int vec = vm->irqchip->pending(vm->irqchip_opaque, v);
    if (vec < 0)
        return 0;
    if (vm->irqchip->ack)
        vm->irqchip->ack(vm->irqchip_opaque, v, vec);
    vmdl__trace_exit(v, "interrupt", rd(v, UC_X86_REG_RIP), "delivered");
    return deliver(v, (unsigned)vec, false, 0, triple) ? -1 : 1;
}

/* The architecture interface's delivery (a fault a model or the caller
 * raised): through QEMU's delivery like every other event. */
int vmdl__x86h_deliver_event(struct vmdl_vcpu *v, const struct vmdl_arch_event *ev)
{
    bool triple = false;
    wr(v, UC_X86_REG_RIP, ev->return_pc);
    return deliver(v, ev->vector, ev->has_error, (uint32_t)ev->error_code, &triple);
}

bool vmdl__x86h_get_reg(struct vmdl_vcpu *v, int reg, uint64_t *val)
{
    switch (reg) {
    case VMDL_X86_CR0: *val = rd(v, UC_X86_REG_CR0); return true;
    case VMDL_X86_CR2: *val = rd(v, UC_X86_REG_CR2); return true;
    case VMDL_X86_CR3: *val = rd(v, UC_X86_REG_CR3); return true;
    case VMDL_X86_CR4: *val = rd(v, UC_X86_REG_CR4); return true;
    case VMDL_X86_EFER: *val = host_rdmsr(v, MSR_EFER); return true;
    default: return false;
    }
}

int vmdl__x86h_run(struct vmdl_vcpu *v, struct vmdl_exit *exit, bool *to_caller)
{
    bool triple = false;
    v->halted = false;
    if (X86(v)->hosted_vmrun)
        enter(v);
    else if (inject_irq(v, &triple) < 0 || triple)
        goto triple_fault;
    if (v->stop == STOP_NONE) {
        vmdl__count_update_hook(v);
        v->stop = STOP_NONE;
        vmdl__engine_enter(v);
        uc_emu_start(v->uc, rd(v, UC_X86_REG_RIP), 1ull << 63, 0, 0);
        vmdl__engine_leave(v);
        vmdl__count_at_stop(v, rd(v, UC_X86_REG_RIP));
    }
    enum stop_kind stop = v->stop;
    unsigned intno = v->stop_vector;
    v->stop = STOP_NONE;
    int err = VMDL_OK;
    switch (stop) {
    case STOP_INTR:
        if (intno == EXCP_SYSCALL)
            err = do_syscall(v, &triple);
        else if (intno == EXCP_SYSENTER)
            err = do_sysenter(v, &triple);
        else
            err = intno >= EXCP_VMEXIT ? handle_exit(v, intno - EXCP_VMEXIT, &triple)
                                       : handle_softint(v, intno, &triple);
        break;
    case STOP_SHUTDOWN:
        memset(exit, 0, sizeof(*exit));
        exit->reason = VMDL_EXIT_SHUTDOWN;
        exit->pc = rd(v, UC_X86_REG_RIP);
        exit->u.shutdown.status = v->stop_status;
        *to_caller = true;
        return VMDL_OK;
    case STOP_NONE:
    case STOP_KICK:
        return VMDL_OK;
    case STOP_INVALID:
        err = fault(v, VMDL_FAULT_UD, &triple);
        break;
    default:
        memset(exit, 0, sizeof(*exit));
        exit->reason = VMDL_EXIT_INTERNAL_ERROR;
        exit->pc = rd(v, UC_X86_REG_RIP);
        snprintf(exit->u.internal.message, sizeof(exit->u.internal.message),
                 "hosted x86 vCPU: stop kind %d (address 0x%llx) is not handled "
                 "yet (port I/O or MMIO for the caller)", (int)stop,
                 (unsigned long long)v->exit.u.mmio.addr);
        *to_caller = true;
        return VMDL_OK;
    }
    if (!triple)
        return err;
triple_fault:
    memset(exit, 0, sizeof(*exit));
    exit->reason = VMDL_EXIT_FAULT_LOOP;
    exit->pc = rd(v, UC_X86_REG_RIP);
    snprintf(exit->u.internal.message, sizeof(exit->u.internal.message), "%s",
             vmdl_last_error());
    *to_caller = true;
    return VMDL_OK;
}
