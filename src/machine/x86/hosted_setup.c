/* SPDX-License-Identifier: MIT */
/*
 * Setting the hosted x86 vCPU up: the VMCB and its intercepts, the VMRUN
 * stub, the start-up calibration of the engine's state layout, and the
 * entry states (multiboot BSP in 32-bit protected mode; an AP after SIPI in
 * real mode).
 */
#include <stdlib.h>
#include <string.h>

#include "hosted.h"

/* ---- set-up and calibration ------------------------------------------- */

static int hfail(const char *what)
{
    return vmdl_fail(VMDL_EBACKEND, "hosted x86 vCPU: %s", what);
}

void vmdl__x86h_write_intercepts(struct vmdl_vcpu *v)
{
    static const unsigned bits[] = { I_VINTR, I_RDTSC, I_RDPMC, I_HLT, I_MSR, I_SHUTDOWN,
        I_VMRUN, I_VMMCALL, I_VMLOAD, I_VMSAVE, I_STGI, I_CLGI, I_SKINIT,
        I_RDTSCP, I_INVLPGA, I_ICEBP, I_PUSHF };
    uint64_t ic = 0;
    for (unsigned i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
        ic |= 1ull << bits[i];
    ic |= vmdl__x86h_desc_intercepts();
    pw64(v, H_VMCB + C_INTERCEPT, ic);
    pw32(v, H_VMCB + C_EXC, 0xFFFFFFFFu);      /* every exception */
    /* CR0: SMSW (hosted_cr.c); CR8: the APIC's TPR */
    pw16(v, H_VMCB + C_CR_RD, (1u << 0) | (1u << 8));
    pw16(v, H_VMCB + C_CR_WR, (1u << 0) | (1u << 4) | (1u << 8));
    pw16(v, H_VMCB + C_DR_RD, 0xFF);           /* DR0-DR7: hosted_dr.c */
    pw16(v, H_VMCB + C_DR_WR, 0xFF);
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
    vmdl__x86h_write_intercepts(v);
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
static int gp_error_code_run(struct vmdl_vcpu *v, uint16_t sel, uint8_t tpr,
                             uint16_t cr_wr, char *snap)
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
    pw64(v, H_VMCB + S_EFER, vmdl__x86h_rdmsr(v, MSR_EFER));
    pw64(v, H_VMCB + S_RFLAGS, 2);
    pw64(v, H_VMCB + S_RIP, H_CALIB);
    pw64(v, H_VMCB + S_RSP, H_CALIB + 0x600);
    pw32(v, H_VMCB + C_EVENTINJ, 0);
    pw32(v, H_VMCB + C_INT_CTL, V_INTR_MASKING | tpr);
    pw16(v, H_VMCB + C_CR_WR, cr_wr);
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

/* Where the two runs left a and b (n bytes wide, n-aligned): the offset,
 * 0 unless exactly one place holds them. */
static int find_pair(const char *sa, const char *sb, size_t size, unsigned n,
                     uint32_t a, uint32_t b)
{
    int found = 0, count = 0;
    for (size_t off = 0; off + n <= size; off += n) {
        uint32_t x = 0, y = 0;
        memcpy(&x, sa + off, n);
        memcpy(&y, sb + off, n);
        if (x == a && y == b) {
            found = (int)off;
            count++;
        }
    }
    return count == 1 ? found : 0;
}

/*
 * The same two runs also find QEMU's V_TPR (loaded from the VMCB's
 * int_ctl under V_INTR_MASKING) and its CR-write intercept bits, which
 * the hosted vCPU's CR8 handling reads and writes in the engine state
 * (hosted_cr.c).  Not finding them is not an error: CR8 then always exits.
 */
static int calibrate_error_code(struct vmdl_vcpu *v)
{
    size_t size = uc_context_size(v->uc);
    char *a = malloc(size), *b = malloc(size);
    int found = 0;
    if (a && b && !gp_error_code_run(v, 0x5678, 0xB, 0x0111, a) &&
        !gp_error_code_run(v, 0x6ABC, 0x5, 0x0011, b)) {
        found = find_pair(a, b, size, 4, 0x5678, 0x6ABC);
        v->vm->x86h->vtpr_off = find_pair(a, b, size, 1, 0xB, 0x5);
        v->vm->x86h->crw_off = find_pair(a, b, size, 2, 0x0111, 0x0011);
        if (!v->vm->x86h->crw_off)
            v->vm->x86h->vtpr_off = 0;
    }
    free(a);
    free(b);
    pw32(v, H_VMCB + C_INT_CTL, 0);
    vmdl__x86h_write_intercepts(v);
    v->stop = STOP_NONE;
    if (!found)
        return hfail("start-up self-check: an intercepted #GP(selector) did not "
                     "leave exactly one error-code field (QEMU SVM intercepts "
                     "unlike Unicorn 2.1.1's)");
    v->vm->x86h->err_off = found;
    return VMDL_OK;
}

/* ---- public pieces ------------------------------------------------------- */

/* Before the engine closes: the private pages it maps are the vCPU's. */
void vmdl__x86h_free(struct vmdl_vcpu *v)
{
    vmdl__x86h_npt_free(v);
    if (!X86(v)->h_mem)
        return;
    uc_mem_unmap(v->uc, H_BASE, H_SIZE);
    free(X86(v)->h_mem);
    X86(v)->h_mem = NULL;
}

static void hosted_vm_free(void *opaque)
{
    struct vmdl_x86_hosted_vm *h = opaque;
    if (h->cs16)
        cs_close(&h->cs16);
    if (h->cs32)
        cs_close(&h->cs32);
    free(h);
}

/* Capstone for the 16- and 32-bit code a hosted guest runs (decode.c). */
static int open_decoders(struct vmdl_x86_hosted_vm *h)
{
    if (cs_open(CS_ARCH_X86, CS_MODE_16, &h->cs16) != CS_ERR_OK ||
        cs_open(CS_ARCH_X86, CS_MODE_32, &h->cs32) != CS_ERR_OK)
        return vmdl_fail(VMDL_EBACKEND, "hosted x86 vCPU: Capstone cs_open failed");
    cs_option(h->cs16, CS_OPT_DETAIL, CS_OPT_ON);
    cs_option(h->cs32, CS_OPT_DETAIL, CS_OPT_ON);
    return VMDL_OK;
}

int vmdl__x86h_enable(struct vmdl_vcpu *v)
{
    struct vmdl_vm *vm = v->vm;
    if (!vm->x86h) {
        struct vmdl_x86_hosted_vm *h = calloc(1, sizeof(*h));
        if (!h)
            return vmdl_fail(VMDL_ENOMEM, "hosted x86 vCPU: out of memory");
        int e = vmdl__add_destroy_hook(vm, hosted_vm_free, h);
        if (e) {
            free(h);
            return e;
        }
        vm->x86h = h;
        if ((e = open_decoders(h)))
            return e;
    }
    if (uc_ctl_tlb_mode(v->uc, UC_TLB_CPU))
        return hfail("switching to the guest's own page tables (UC_TLB_CPU)");
    /* Unicorn ends every uc_emu_start by invalidating the code at until - 1
     * through the guest's translation.  The hosted vCPU never stops at
     * `until` (2^63), so that walk translates 0x7fffffffffffffff: under
     * 32-bit paging (the address truncated to 0xFFFFFFFF) or with nested
     * paging it faults outside any run, and QEMU's #PF intercept writes
     * that address over the EXITINFO2 (CR2) of the fault that really
     * stopped the run.  An empty exit list replaces `until` for good. */
    if (uc_ctl_exits_enable(v->uc))
        return hfail("turning off the stop address (UC_CTL_UC_USE_EXITS)");
    if (!X86(v)->h_mem) {
        X86(v)->h_mem = aligned_alloc(0x1000, H_SIZE);
        if (!X86(v)->h_mem)
            return vmdl_fail(VMDL_ENOMEM, "hosted x86 vCPU: out of memory");
        memset(X86(v)->h_mem, 0, H_SIZE);
        if (uc_mem_map_ptr(v->uc, H_BASE, H_SIZE, UC_PROT_ALL, X86(v)->h_mem)) {
            free(X86(v)->h_mem);
            X86(v)->h_mem = NULL;
            return hfail("mapping the VMCB and stub pages");
        }
    }
    /* Back to the ring-0 state x86_vcpu.c saved before deprivileging: VMRUN
     * needs CPL0. */
    uc_context_restore(v->uc, X86(v)->hctx);
    uc_ctl_flush_tlb(v->uc);
    vmdl__x86h_dr_disarm(v);
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
    if (vmdl__x86h_hook_sys(v))
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

/* Real mode at sel:ip with the segment base sel << 4. */
static void boot_real_at(struct vmdl_vcpu *v, uint16_t sel, uint16_t ip)
{
    vmcb_seg(v, S_CS, sel, 0x00009B00u, 0xFFFF, (uint64_t)sel << 4);
    vmcb_seg(v, S_SS, 0, 0x00009300u, 0xFFFF, 0);
    vmcb_seg(v, S_DS, 0, 0x00009300u, 0xFFFF, 0);
    vmcb_seg(v, S_ES, 0, 0x00009300u, 0xFFFF, 0);
    pw64(v, H_VMCB + S_GDTR + 8, 0);
    pw32(v, H_VMCB + S_GDTR + 4, 0xFFFF);
    pw64(v, H_VMCB + S_CR0, 0x60000010);          /* CD | NW | ET */
    pw64(v, H_VMCB + S_RIP, ip);
    pw64(v, H_VMCB + S_RAX, 0);
}

/* Real mode at vector:0000, as an AP leaves wait-for-SIPI. */
static void boot_real(struct vmdl_vcpu *v, uint8_t vector)
{
    boot_real_at(v, (uint16_t)(vector << 8), 0);
}

static void boot_common(struct vmdl_vcpu *v)
{
    static const int gprs[] = { UC_X86_REG_RBX, UC_X86_REG_RCX, UC_X86_REG_RDX,
        UC_X86_REG_RSI, UC_X86_REG_RDI, UC_X86_REG_RBP, UC_X86_REG_R8,
        UC_X86_REG_R9, UC_X86_REG_R10, UC_X86_REG_R11, UC_X86_REG_R12,
        UC_X86_REG_R13, UC_X86_REG_R14, UC_X86_REG_R15 };
    uc_context_restore(v->uc, X86(v)->hctx);
    uc_ctl_flush_tlb(v->uc);
    X86(v)->npt.on = false;     /* no second stage after a reset */
    X86(v)->h_pdpte_on = false; /* nor PDPTE registers (hosted_pdpte.c) */
    X86(v)->pkrs = 0;
    if (X86(v)->h_walk) {       /* QEMU's own walk again (hosted_walk.c) */
        uc_ctl_tlb_mode(v->uc, UC_TLB_CPU);
        X86(v)->h_walk = false;
    }
    for (unsigned i = 0; i < sizeof(gprs) / sizeof(gprs[0]); i++)
        wr(v, gprs[i], 0);
    vmdl__x86h_write_intercepts(v);
    X86(v)->nested = X86(v)->cpuid_events = false;     /* no nested guest */
    memset(&X86(v)->nctl, 0, sizeof(X86(v)->nctl));
    X86(v)->h_inj.valid = false;
    pw64(v, H_VMCB + S_IDTR + 8, 0);
    pw32(v, H_VMCB + S_IDTR + 4, 0x3FF);
    pw64(v, H_VMCB + S_CR2, 0);
    pw64(v, H_VMCB + S_CR3, 0);
    pw64(v, H_VMCB + S_CR4, 0);
    pw64(v, H_VMCB + S_EFER, 0);
    pw64(v, H_VMCB + S_DR6, 0xFFFF0FF0);
    pw64(v, H_VMCB + S_DR7, X86_IO_STOP_DR7);     /* the engine's (io.c) */
    pw64(v, H_VMCB + S_RFLAGS, 2);
    pw64(v, H_VMCB + S_RSP, 0);
    uint8_t cpl = 0;
    pw(v, H_VMCB + S_CPL, &cpl, 1);
    pw32(v, H_VMCB + C_INT_STATE, 0);
    pw32(v, H_VMCB + C_EVENTINJ, 0);
    pw32(v, H_VMCB + C_INT_CTL, 0);
    vmdl__x86h_dr_reset(v);
    X86(v)->h_nmi_blocked = X86(v)->h_iret_step = X86(v)->h_desc_step = false;
    X86(v)->h_nmi_second = X86(v)->h_nmi_shadow = false;
    X86(v)->h_shadow_step = X86(v)->h_step_next = false;
    X86(v)->h_shadow_at = UINT64_MAX;
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
    X86(v)->debugctl = 0;
    vmdl__x86h_mce_reset(&X86(v)->mce);
    return VMDL_OK;
}

int vmdl__x86h_wake(struct vmdl_vcpu *v, uint32_t vector)
{
    int err = vmdl__x86h_reset(v, vector);
    if (err)
        return err;
    boot_real_at(v, (uint16_t)(vector >> 4), (uint16_t)(vector & 0xF));
    wr(v, UC_X86_REG_RBX, 0);            /* no multiboot information */
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
