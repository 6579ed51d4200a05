/* SPDX-License-Identifier: MIT */
/*
 * Which trapped operations stall virtual time as VM exits (virtmodel/
 * vtime.h, docs/architecture.md "Virtual time").
 *
 * The machine traps far more than KVM does: the hosted vCPU intercepts
 * PUSHF, IRET, MOV from CR0, RDTSC, CR8 and more for its own bookkeeping,
 * and the deprivileged one everything privileged.  Virtual time should
 * advance as on hardware running KVM, so only what KVM on Intel VMX exits
 * on with its default features (EPT, unrestricted guest, TPR shadow,
 * APICv, shadow VMCS; kvm_intel's defaults on a recent server core) costs
 * the exit weight; the rest costs nothing beyond its instruction.
 *
 * Sources: Intel SDM vol. 3C, chapter 26 (26.1.3 "Instructions That Cause
 * VM Exits Conditionally", 26.1.2 unconditionally: CPUID, INVD, XSETBV,
 * VMX instructions), chapter 29 (APIC virtualization: which APIC accesses
 * are virtualized); Linux arch/x86/kvm/vmx/vmx.c (vmx_create_vcpu's MSR
 * pass-through, the CR0/CR4 guest/host masks from KVM_POSSIBLE_CR0/CR4_
 * GUEST_BITS in kvm_cache_regs.h, vmx_update_msr_bitmap_x2apic,
 * kvm_vmx_exit_handlers[]).
 */
#include "x86.h"
#include "virtmodel/lapic.h"

static const struct {
    const char *name;
    unsigned exits;     /* VM exits' worth under KVM with default features */
} kinds[VMDL_XK_NR] = {
    /* Unconditional exits (SDM 26.1.2). */
    [VMDL_XK_CPUID] = {"cpuid", 1},
    [VMDL_XK_XSETBV] = {"xsetbv", 1},
    [VMDL_XK_CACHE] = {"invd/wbinvd", 1},         /* WBINVD exiting: KVM sets it */
    [VMDL_XK_VMX] = {"vmx-insn", 1},              /* VMCALL, VMLAUNCH, VMPTRLD ... */
    /* Exits KVM asks for. */
    [VMDL_XK_HLT] = {"hlt", 1},
    [VMDL_XK_IO] = {"io", 1},                     /* unconditional I/O exiting */
    [VMDL_XK_MMIO] = {"mmio", 1},                 /* emulated device (EPT misconfig) */
    [VMDL_XK_MSR] = {"msr", 1},                   /* intercepted in the MSR bitmap */
    [VMDL_XK_CR_WRITE] = {"mov-to-cr0/cr4", 1},   /* a host-owned bit changes */
    [VMDL_XK_RDPMC] = {"rdpmc", 1},               /* RDPMC exiting */
    [VMDL_XK_DR] = {"mov-dr", 1},                 /* MOV-DR exiting until the guest
                                                   * owns DR7 (KVM_DEBUGREG_WONT_EXIT) */
    [VMDL_XK_HYPERCALL] = {"hypercall", 1},
    /* #DB the CPU raises (single-step, breakpoints, ICEBP): KVM intercepts
     * it whatever the guest does (the exception bitmap always has #DB,
     * since the fix for CVE-2015-8104) and re-injects it.  The single-step
     * trap after an instruction KVM emulated is queued by that exit's
     * handler (kvm_vcpu_do_singlestep): not charged again. */
    [VMDL_XK_DB] = {"#db", 1},
    /* No exit under KVM: guest-owned state, or the hosted vCPU's own
     * bookkeeping that hardware does natively. */
    [VMDL_XK_MSR_PASS] = {"msr-passthrough", 0},
    [VMDL_XK_CR_OWNED] = {"mov-to-cr (guest-owned bits)", 0},
    [VMDL_XK_CR_READ] = {"mov-from-cr0/cr4", 0},  /* read shadow */
    [VMDL_XK_CR8] = {"mov-cr8", 0},               /* TPR shadow */
    [VMDL_XK_RDTSC] = {"rdtsc/rdtscp", 0},        /* TSC offsetting */
    [VMDL_XK_VMREAD_VMWRITE] = {"vmread/vmwrite", 0}, /* shadow VMCS */
    [VMDL_XK_INTERNAL] = {"internal", 0},         /* PUSHF, IRET, STAC/CLAC, ... */
    /*
     * Nested VMX transitions, which KVM (L0) emulates for L1 (nested.c).
     * Entering L2: L1's VMLAUNCH/VMRESUME exits to L0 (charged as a VMX
     * instruction), then nested_vmx_run checks vmcs12 and builds vmcs02
     * (prepare_vmcs02) and enters L2: one exit's worth more.  Leaving L2
     * for L1 (nested_vmx_vmexit: sync_vmcs02_to_vmcs12, the exit
     * information, load_vmcs12_host_state, then the entry into L1): two
     * exits' worth, on top of what the trap that caused it costs.  A
     * nested round trip is thus several times a plain exit, as measured
     * nested CPUID exits are (several thousand cycles against about a
     * thousand).
     */
    [VMDL_XK_NESTED_ENTRY] = {"nested-vm-entry", 1},
    [VMDL_XK_NESTED_EXIT] = {"nested-vm-exit", 2},
};

const char *vmdl__x86_exit_kind_name(enum vmdl_x86_exit_kind k)
{
    return (unsigned)k < VMDL_XK_NR && kinds[k].name ? kinds[k].name : "?";
}

bool vmdl__x86_exit_kind_exits(enum vmdl_x86_exit_kind k)
{
    return (unsigned)k < VMDL_XK_NR && kinds[k].exits;
}

void vmdl__x86_exit_cost(struct vmdl_vcpu *v, enum vmdl_x86_exit_kind k)
{
    uint64_t c = v->vm->cfg.vtime.exit_cycles;
    if (c && vmdl__x86_exit_kind_exits(k))
        vmdl__stall_add(v, c * kinds[k].exits);
}

/* MSRs vmx_create_vcpu passes through (read and write unless noted). */
static const struct { uint32_t idx; bool read_only; } pass_msrs[] = {
    {0x10, true},            /* IA32_TSC: reads only */
    {0x174, false}, {0x175, false}, {0x176, false},   /* SYSENTER_CS/ESP/EIP */
    {0xC0000100, false}, {0xC0000101, false}, {0xC0000102, false}, /* FS/GS/KGS base */
};

/* x2APIC registers with APICv (vmx_update_msr_bitmap_x2apic): TPR, EOI
 * and SELF IPI are virtualized for writes; every read but the timer's
 * current count (TMCCT) is served from the virtual-APIC page. */
static bool x2apic_passthrough(uint32_t idx, bool write)
{
    if (idx < 0x800 || idx > 0x8FF)
        return false;
    if (!write)
        return idx != 0x839;
    return idx == 0x808 || idx == 0x80B || idx == 0x83F;
}

enum vmdl_x86_exit_kind vmdl__x86_msr_kind(uint32_t idx, bool write)
{
    for (unsigned i = 0; i < sizeof(pass_msrs) / sizeof(pass_msrs[0]); i++)
        if (pass_msrs[i].idx == idx && (!write || !pass_msrs[i].read_only))
            return VMDL_XK_MSR_PASS;
    return x2apic_passthrough(idx, write) ? VMDL_XK_MSR_PASS : VMDL_XK_MSR;
}

/*
 * MOV to CR0/CR4 exits when it changes a bit the host owns (SDM 26.1.3:
 * a bit set in the guest/host mask whose new value differs from the read
 * shadow, which KVM keeps equal to the guest's value).  KVM with EPT lets
 * the guest own CR0.TS and CR0.WP, and CR4.PVI, DE, PCE, OSFXSR,
 * OSXMMEXCPT, PGE, TSD and FSGSBASE.
 */
#define CR0_GUEST_OWNED ((1ull << 3) | (1ull << 16))
#define CR4_GUEST_OWNED ((1ull << 1) | (1ull << 3) | (1ull << 8) | (1ull << 9) | \
                         (1ull << 10) | (1ull << 7) | (1ull << 2) | (1ull << 16))

enum vmdl_x86_exit_kind vmdl__x86_cr_write_kind(unsigned cr, uint64_t old, uint64_t val)
{
    uint64_t owned = cr == 0 ? CR0_GUEST_OWNED : cr == 4 ? CR4_GUEST_OWNED : 0;
    if (cr != 0 && cr != 4)
        return VMDL_XK_CR_OWNED;   /* CR3 with EPT, CR8 with TPR shadow */
    return ((old ^ val) & ~owned) ? VMDL_XK_CR_WRITE : VMDL_XK_CR_OWNED;
}

/*
 * MOV to CR0, CR3 or CR4 is serializing (SDM vol. 3A, "Serializing
 * Instructions": the processor finishes every earlier instruction and
 * drains its buffered writes before it, and fetches anew after it), so it
 * costs cycles even when it is no VM exit: the serialize weight, charged
 * once the write took effect.  One that exits costs the exit weight
 * instead.  (Other serializing instructions, IRET, LGDT/LIDT, INVLPG, are
 * not weighted.)  One that changes CR4.PGE also invalidates every TLB
 * entry, global ones included, and the paging-structure caches (SDM vol.
 * 3A, 4.10.4.1): the flush weight on top, a cost the processor pays with
 * EPT as without (the TLB refills after it are part of the measured
 * figure, vtime.h).  CR4.PGE is guest-owned under KVM with EPT, so such a
 * toggle normally does not exit.
 */
#define CR4_PGE (1ull << 7)

void vmdl__x86_serialize_cost(struct vmdl_vcpu *v, unsigned cr, uint64_t old, uint64_t val)
{
    const struct vmdl_vtime_weights *w = &v->vm->cfg.vtime;
    uint64_t c = w->serialize_cycles;
    if (cr == 4 && ((old ^ val) & CR4_PGE))
        c += w->flush_cycles;
    if (c && (cr == 0 || cr == 3 || cr == 4) &&
        !vmdl__x86_exit_kind_exits(vmdl__x86_cr_write_kind(cr, old, val)))
        vmdl__stall_add(v, c);
}

/* MOV CR3, reg (0F 22 /3) runs natively on the hosted vCPU: its block
 * carries the serialize weight (a trap at it takes the stall back, and the
 * handler charges it). */
static bool is_mov_to_cr3(const cs_insn *in)
{
    const uint8_t *b = in->bytes;
    return in->id == X86_INS_MOV && in->size >= 3 && b[in->size - 3] == 0x0F &&
           b[in->size - 2] == 0x22 && ((b[in->size - 1] >> 3) & 7) == 3;
}

/* xAPIC page with APICv (SDM 29.4, 29.5): reads are virtualized but for
 * the timer's current count; writes to TPR, EOI and the self-IPI register
 * are virtualized, others exit (APIC-write exit).  Other MMIO exits. */
enum vmdl_x86_exit_kind vmdl__x86_mmio_kind(uint64_t gpa, bool write)
{
    if (gpa < VMDL_LAPIC_DEFAULT_BASE || gpa >= VMDL_LAPIC_DEFAULT_BASE + 0x1000)
        return VMDL_XK_MMIO;
    unsigned off = (unsigned)(gpa - VMDL_LAPIC_DEFAULT_BASE) & 0xFF0;
    if (!write)
        return off == 0x390 ? VMDL_XK_MMIO : VMDL_XK_MSR_PASS;
    return off == 0x80 || off == 0xB0 || off == 0x3F0 ? VMDL_XK_MSR_PASS : VMDL_XK_MMIO;
}

void vmdl__x86_mmio_cost(struct vmdl_vcpu *v, uint64_t gpa, bool write)
{
    vmdl__x86_exit_cost(v, vmdl__x86_mmio_kind(gpa, write));
}

/* Instructions the engine runs natively that KVM exits on: charged when
 * their block runs (insn_count.c); PAUSE is the spin-loop stall, MOV to
 * CR3 the serializing one. */
int vmdl__x86_insn_stall(const cs_insn *in)
{
    switch (in->id) {
    case X86_INS_PAUSE: return VMDL_STALL_PAUSE;
    case X86_INS_INVD: case X86_INS_WBINVD: case X86_INS_XSETBV: return VMDL_STALL_EXIT;
    default: return is_mov_to_cr3(in) ? VMDL_STALL_SERIALIZE : VMDL_STALL_NONE;
    }
}
