/* SPDX-License-Identifier: MIT */
/*
 * VM-entry checks on vmcs12, in the order of KVM's nested_vmx_run
 * (arch/x86/kvm/vmx/nested.c): control fields (VMfailValid 7), host
 * address-space size and host state (VMfailValid 8), guest state (entry
 * failure, exit reason 33).  Each group is a table of named rules checked
 * in order; the first that fails decides.
 *
 * KVM checks in software only part of SDM Vol. 3C 27.2-27.3 and leaves the
 * rest to the CPU running vmcs02 (nested_early_check off): the CPU then
 * fails the entry the same architectural way (error 7, or reason 33).  The
 * rules marked "SDM" below are those hardware checks, done here because
 * there is no hardware underneath.
 */
#include <string.h>

#include "virtmodel/bits.h"
#include "virtmodel/error.h"
#include "virtmodel/vmx_ept.h"
#include "vmx_priv.h"

#define CR0_PE (1ull << 0)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
#define CR4_PCIDE (1ull << 17)
#define CR4_LA57 (1ull << 12)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
/* EFER bits an Intel vCPU may set: SCE, LME, LMA, NXE (kvm_valid_efer with
 * an Intel CPUID). */
#define EFER_VALID 0xd01ull
#define RFLAGS_VM (1ull << 17)
#define RFLAGS_IF (1ull << 9)
/* IA32_PERF_GLOBAL_CTRL bits of the modelled PMU: 8 general-purpose and 3
 * fixed counters (the rest is reserved, as kvm_valid_perf_global_ctrl). */
#define PERF_GLOBAL_VALID 0x7000000ffull
#define BNDCFGS_RSVD 0xffcull
#define DEBUGCTL_DROPPED 0x3ull /* LBR, BTF: tolerated and dropped by KVM */
#define SEL_RPL_TI 0x7u

struct chk {
    const struct vmdl_vmx *vmx;
    const struct vmdl_vmx_caps *caps;
    uint32_t pin, proc, proc2, exit, entry;
    uint64_t l1_efer, l1_cr4;
};

typedef bool (*rule_fn)(const struct chk *c);
struct rule {
    const char *name;
    rule_fn bad;
};

static uint64_t f(const struct chk *c, uint16_t enc)
{
    return vmdl__v12(c->vmx, enc);
}

static unsigned maxpa(const struct chk *c)
{
    return c->caps->phys_addr_bits;
}

static bool page_bad(const struct chk *c, uint64_t gpa)
{
    return (gpa & PAGE_MASK_4K) || (gpa >> maxpa(c));
}

static bool gpa_bad(const struct chk *c, uint64_t gpa)
{
    return gpa >> maxpa(c);
}

/* (value & allowed-1) | allowed-0 == value: KVM's vmx_control_verify. */
static bool ctl_bad(uint32_t v, uint64_t msr)
{
    uint32_t low = (uint32_t)msr, high = (uint32_t)(msr >> 32);
    return ((v & high) | low) != v;
}

/* Bases and MSR addresses: the CPU's linear-address width (KVM's
 * max_host_virt_addr_bits), whatever CR4.LA57. */
static bool non_canonical_base(const struct chk *c, uint64_t a)
{
    return !vmdl_is_canonical(a, c->vmx->la57 ? 57 : 48);
}

/* An instruction pointer: the width of the paging mode it runs in (CR4
 * given), 57 bits only on a CPU with 5-level paging. */
static bool non_canonical_ip(const struct chk *c, uint64_t a, uint64_t cr4)
{
    return !vmdl_is_canonical(a, c->vmx->la57 && (cr4 & CR4_LA57) ? 57 : 48);
}

static bool pat_bad(uint64_t pat)
{
    for (unsigned i = 0; i < 8; i++) {
        unsigned t = (pat >> (8 * i)) & 0xff;
        if (t > 7 || t == 2 || t == 3)
            return true;
    }
    return false;
}

static bool fixed_bad(uint64_t v, uint64_t fixed0, uint64_t fixed1)
{
    return (v & fixed0) != fixed0 || (v & ~fixed1);
}

static bool msr_list_bad(const struct chk *c, uint64_t count, uint64_t addr)
{
    if (!count)
        return false;
    return (addr & 15) || gpa_bad(c, addr) || gpa_bad(c, addr + count * 16 - 1);
}

static bool has2(const struct chk *c, uint32_t bit)
{
    return (c->proc & VMDL_PROC_SECONDARY) && (c->proc2 & bit);
}

/* ---- VM-execution control fields (nested_check_vm_execution_controls) ---- */

static bool r_pin(const struct chk *c)
{
    return ctl_bad(c->pin, vmdl__vmx_ctl_msr(c->caps, VMDL_VMX_CTL_PINBASED));
}
static bool r_proc(const struct chk *c)
{
    return ctl_bad(c->proc, vmdl__vmx_ctl_msr(c->caps, VMDL_VMX_CTL_PROCBASED));
}
static bool r_proc2(const struct chk *c)
{
    return (c->proc & VMDL_PROC_SECONDARY) &&
           ctl_bad(c->proc2, vmdl__vmx_ctl_msr(c->caps, VMDL_VMX_CTL_PROCBASED2));
}
static bool r_cr3_count(const struct chk *c)
{
    return f(c, V12_CR3_TARGET_COUNT) > VMDL_VMX_MISC_CR3_COUNT(c->caps->misc);
}
static bool r_io_bitmaps(const struct chk *c)
{
    return (c->proc & VMDL_PROC_IO_BITMAPS) &&
           (page_bad(c, f(c, V12_IO_BITMAP_A)) || page_bad(c, f(c, V12_IO_BITMAP_B)));
}
static bool r_msr_bitmap(const struct chk *c)
{
    return (c->proc & VMDL_PROC_MSR_BITMAPS) && page_bad(c, f(c, V12_MSR_BITMAP));
}
static bool r_tpr_page(const struct chk *c)
{
    return (c->proc & VMDL_PROC_TPR_SHADOW) &&
           page_bad(c, f(c, V12_VIRTUAL_APIC_PAGE_ADDR));
}
/* SDM 27.2.1.1: TPR threshold bits 31:4 zero without virtual-interrupt
 * delivery, and bits 3:0 not above VTPR[7:4] without APIC-access
 * virtualization as well (the CPU checks it on vmcs02: error 7). */
static bool r_tpr_threshold(const struct chk *c)
{
    if (!(c->proc & VMDL_PROC_TPR_SHADOW) || has2(c, VMDL_PROC2_VID))
        return false;
    uint64_t thr = f(c, V12_TPR_THRESHOLD);
    if (thr & ~0xfull)
        return true;
    if (has2(c, VMDL_PROC2_APIC_ACCESS))
        return false;
    uint8_t vtpr = 0;
    if (vmdl_guest_read(&c->vmx->mem, f(c, V12_VIRTUAL_APIC_PAGE_ADDR) + 0x80,
                        &vtpr, 1))
        return false;
    return thr > (uint64_t)(vtpr >> 4);
}
static bool r_apic_access(const struct chk *c)
{
    return has2(c, VMDL_PROC2_APIC_ACCESS) && page_bad(c, f(c, V12_APIC_ACCESS_ADDR));
}
static bool apicv_any(const struct chk *c)
{
    return has2(c, VMDL_PROC2_X2APIC_MODE) || has2(c, VMDL_PROC2_APIC_REG_VIRT) ||
           has2(c, VMDL_PROC2_VID) || (c->pin & VMDL_PIN_POSTED_INTR);
}
static bool r_x2apic_vs_access(const struct chk *c)
{
    return apicv_any(c) && has2(c, VMDL_PROC2_X2APIC_MODE) &&
           has2(c, VMDL_PROC2_APIC_ACCESS);
}
static bool r_vid_needs_extint(const struct chk *c)
{
    return apicv_any(c) && has2(c, VMDL_PROC2_VID) && !(c->pin & VMDL_PIN_EXT_INTR);
}
static bool r_posted(const struct chk *c)
{
    if (!apicv_any(c) || !(c->pin & VMDL_PIN_POSTED_INTR))
        return false;
    uint64_t desc = f(c, V12_POSTED_INTR_DESC_ADDR);
    return !has2(c, VMDL_PROC2_VID) || !(c->exit & VMDL_EXITCTL_ACK_INTR) ||
           (f(c, V12_POSTED_INTR_NV) & 0xff00) || (desc & 63) || gpa_bad(c, desc);
}
static bool r_apicv_tpr(const struct chk *c)
{
    return apicv_any(c) && !(c->proc & VMDL_PROC_TPR_SHADOW);
}
static bool r_vnmi(const struct chk *c)
{
    return !(c->pin & VMDL_PIN_NMI_EXITING) && (c->pin & VMDL_PIN_VIRTUAL_NMIS);
}
static bool r_nmi_window(const struct chk *c)
{
    return !(c->pin & VMDL_PIN_VIRTUAL_NMIS) && (c->proc & VMDL_PROC_NMI_WINDOW);
}
static bool r_pml(const struct chk *c)
{
    return has2(c, VMDL_PROC2_PML) &&
           (!has2(c, VMDL_PROC2_EPT) || page_bad(c, f(c, V12_PML_ADDRESS)));
}
static bool r_unrestricted(const struct chk *c)
{
    return has2(c, VMDL_PROC2_UNRESTRICTED) && !has2(c, VMDL_PROC2_EPT);
}
static bool r_mode_based_ept(const struct chk *c)
{
    return has2(c, VMDL_PROC2_MODE_BASED_EPT) && !has2(c, VMDL_PROC2_EPT);
}
static bool r_shadow_vmcs(const struct chk *c)
{
    return has2(c, VMDL_PROC2_SHADOW_VMCS) &&
           (page_bad(c, f(c, V12_VMREAD_BITMAP)) || page_bad(c, f(c, V12_VMWRITE_BITMAP)));
}
static bool r_vpid(const struct chk *c)
{
    return has2(c, VMDL_PROC2_VPID) && !f(c, V12_VIRTUAL_PROCESSOR_ID);
}
static bool r_eptp(const struct chk *c)
{
    return has2(c, VMDL_PROC2_EPT) &&
           !vmdl_vmx_eptp_valid(c->vmx->model, f(c, V12_EPT_POINTER));
}
static bool r_vmfunc(const struct chk *c)
{
    if (!has2(c, VMDL_PROC2_VMFUNC))
        return false;
    uint64_t fn = f(c, V12_VM_FUNCTION_CONTROL);
    if (fn & ~c->caps->vmfunc)
        return true;
    /* EPTP switching (function 0) needs EPT and a valid list address. */
    return (fn & 1) && (!has2(c, VMDL_PROC2_EPT) ||
                        page_bad(c, f(c, V12_EPTP_LIST_ADDRESS)));
}

/* ---- VM-exit and VM-entry control fields ---- */

static bool r_exit_ctls(const struct chk *c)
{
    return ctl_bad(c->exit, vmdl__vmx_ctl_msr(c->caps, VMDL_VMX_CTL_EXIT));
}
/* SDM 27.2.1.2: saving the timer value needs the timer. */
static bool r_save_preempt(const struct chk *c)
{
    return (c->exit & VMDL_EXITCTL_SAVE_PREEMPT) && !(c->pin & VMDL_PIN_PREEMPT_TIMER);
}
static bool r_exit_store_list(const struct chk *c)
{
    return msr_list_bad(c, f(c, V12_VM_EXIT_MSR_STORE_COUNT),
                        f(c, V12_VM_EXIT_MSR_STORE_ADDR));
}
static bool r_exit_load_list(const struct chk *c)
{
    return msr_list_bad(c, f(c, V12_VM_EXIT_MSR_LOAD_COUNT),
                        f(c, V12_VM_EXIT_MSR_LOAD_ADDR));
}
static bool r_entry_ctls(const struct chk *c)
{
    return ctl_bad(c->entry, vmdl__vmx_ctl_msr(c->caps, VMDL_VMX_CTL_ENTRY));
}

static uint32_t intr_info(const struct chk *c)
{
    return (uint32_t)f(c, V12_VM_ENTRY_INTR_INFO_FIELD);
}
static unsigned intr_type(const struct chk *c)
{
    return (intr_info(c) >> 8) & 7;
}
static bool injecting(const struct chk *c)
{
    return intr_info(c) & VMDL_INTR_INFO_VALID;
}
static bool r_inject_type(const struct chk *c)
{
    /* Type 1 is reserved; type 7 (MTF pending) needs the MTF control. */
    bool mtf = vmdl__vmx_ctl_msr(c->caps, VMDL_VMX_CTL_PROCBASED) >> 32 & VMDL_PROC_MTF;
    return injecting(c) && (intr_type(c) == 1 || (intr_type(c) == 7 && !mtf));
}
static bool r_inject_vector(const struct chk *c)
{
    unsigned v = intr_info(c) & 0xff, t = intr_type(c);
    return injecting(c) && ((t == VMDL_INTR_TYPE_NMI && v != 2) ||
                            (t == VMDL_INTR_TYPE_HW_EXCEPTION && v > 31) ||
                            (t == VMDL_INTR_TYPE_OTHER && v != 0));
}
static bool vector_has_error_code(unsigned v)
{
    return v == 8 || v == 10 || v == 11 || v == 12 || v == 13 || v == 14 ||
           v == 17 || v == 21;
}
static bool r_inject_error_code(const struct chk *c)
{
    if (!injecting(c))
        return false;
    bool ug = has2(c, VMDL_PROC2_UNRESTRICTED);
    bool prot = !ug || (f(c, V12_GUEST_CR0) & CR0_PE);
    bool hw = intr_type(c) == VMDL_INTR_TYPE_HW_EXCEPTION;
    bool has = intr_info(c) & VMDL_INTR_INFO_HAS_ERROR;
    /* IA32_VMX_BASIC bit 56: any hardware exception may carry one (or not)
     * in protected mode. */
    if (prot && hw && (c->caps->basic & VMDL_VMX_BASIC_NO_HW_ERRCODE))
        return false;
    return has != (hw && prot && vector_has_error_code(intr_info(c) & 0xff));
}
static bool r_inject_error_value(const struct chk *c)
{
    return injecting(c) && (intr_info(c) & VMDL_INTR_INFO_HAS_ERROR) &&
           (f(c, V12_VM_ENTRY_EXCEPTION_ERROR_CODE) & 0xffff0000u);
}
static bool r_inject_reserved(const struct chk *c)
{
    return injecting(c) && (intr_info(c) & 0x7ffff000u);
}
static bool r_inject_length(const struct chk *c)
{
    unsigned t = intr_type(c);
    if (!injecting(c) || (t != VMDL_INTR_TYPE_SOFT_INTR &&
                          t != VMDL_INTR_TYPE_SOFT_EXCEPTION &&
                          t != VMDL_INTR_TYPE_PRIV_SW_EXCEPTION))
        return false;
    uint64_t len = f(c, V12_VM_ENTRY_INSTRUCTION_LEN);
    /* Zero-length injection: IA32_VMX_MISC bit 30. */
    return len > 15 || (len == 0 && !(c->caps->misc & (1ull << 30)));
}
static bool r_entry_load_list(const struct chk *c)
{
    return msr_list_bad(c, f(c, V12_VM_ENTRY_MSR_LOAD_COUNT),
                        f(c, V12_VM_ENTRY_MSR_LOAD_ADDR));
}
/* SDM 27.2.1.3: no entry to SMM / dual-monitor deactivation outside SMM. */
static bool r_entry_smm(const struct chk *c)
{
    return c->entry & (VMDL_ENTRYCTL_SMM | VMDL_ENTRYCTL_DUAL_MONITOR);
}

static const struct rule control_rules[] = {
    {"pin-based controls vs IA32_VMX_(TRUE_)PINBASED_CTLS", r_pin},
    {"primary controls vs IA32_VMX_(TRUE_)PROCBASED_CTLS", r_proc},
    {"secondary controls vs IA32_VMX_PROCBASED_CTLS2", r_proc2},
    {"CR3-target count above IA32_VMX_MISC[24:16]", r_cr3_count},
    {"I/O bitmap address", r_io_bitmaps},
    {"MSR bitmap address", r_msr_bitmap},
    {"virtual-APIC page address", r_tpr_page},
    {"APIC-access address", r_apic_access},
    {"virtualize x2APIC mode with APIC-access virtualization", r_x2apic_vs_access},
    {"virtual-interrupt delivery without external-interrupt exiting", r_vid_needs_extint},
    {"posted-interrupt controls", r_posted},
    {"APIC virtualization without TPR shadow", r_apicv_tpr},
    {"virtual NMIs without NMI exiting", r_vnmi},
    {"NMI-window exiting without virtual NMIs", r_nmi_window},
    {"PML without EPT or bad PML address", r_pml},
    {"unrestricted guest without EPT", r_unrestricted},
    {"mode-based EPT execute control without EPT", r_mode_based_ept},
    {"VMREAD/VMWRITE bitmap address", r_shadow_vmcs},
    {"VPID enabled with VPID 0", r_vpid},
    {"EPT pointer", r_eptp},
    {"VM-function controls", r_vmfunc},
    {"TPR threshold (SDM)", r_tpr_threshold},
    {"VM-exit controls vs IA32_VMX_(TRUE_)EXIT_CTLS", r_exit_ctls},
    {"save preemption timer without the timer (SDM)", r_save_preempt},
    {"VM-exit MSR-store list address", r_exit_store_list},
    {"VM-exit MSR-load list address", r_exit_load_list},
    {"VM-entry controls vs IA32_VMX_(TRUE_)ENTRY_CTLS", r_entry_ctls},
    {"VM-entry interruption type", r_inject_type},
    {"VM-entry interruption vector", r_inject_vector},
    {"VM-entry deliver-error-code bit", r_inject_error_code},
    {"VM-entry exception error code bits 31:16", r_inject_error_value},
    {"VM-entry interruption-information reserved bits", r_inject_reserved},
    {"VM-entry instruction length", r_inject_length},
    {"VM-entry MSR-load list address", r_entry_load_list},
    {"entry to SMM / deactivate dual-monitor outside SMM (SDM)", r_entry_smm},
};

/* ---- host-state area (nested_vmx_check_address_space_size, _host_state) ---- */

static bool addr64(const struct chk *c)
{
    return c->exit & VMDL_EXITCTL_HOST_ADDR64;
}
static bool r_addr_size(const struct chk *c)
{
    return addr64(c) != !!(c->l1_efer & EFER_LMA);
}
static bool r_host_cr0(const struct chk *c)
{
    return fixed_bad(f(c, V12_HOST_CR0), c->caps->cr0_fixed0, c->caps->cr0_fixed1);
}
static bool r_host_cr4(const struct chk *c)
{
    return fixed_bad(f(c, V12_HOST_CR4), c->caps->cr4_fixed0, c->caps->cr4_fixed1);
}
static bool r_host_cr3(const struct chk *c)
{
    return gpa_bad(c, f(c, V12_HOST_CR3));
}
static bool r_host_sysenter(const struct chk *c)
{
    return non_canonical_base(c, f(c, V12_HOST_IA32_SYSENTER_ESP)) ||
           non_canonical_base(c, f(c, V12_HOST_IA32_SYSENTER_EIP));
}
static bool r_host_pat(const struct chk *c)
{
    return (c->exit & VMDL_EXITCTL_LOAD_PAT) && pat_bad(f(c, V12_HOST_IA32_PAT));
}
static bool r_host_perf(const struct chk *c)
{
    return (c->exit & VMDL_EXITCTL_LOAD_PERF_GLOBAL) &&
           (f(c, V12_HOST_IA32_PERF_GLOBAL_CTRL) & ~PERF_GLOBAL_VALID);
}
static bool r_host_mode(const struct chk *c)
{
    if (addr64(c))
        return !(f(c, V12_HOST_CR4) & CR4_PAE);
    return (c->entry & VMDL_ENTRYCTL_IA32E) || (f(c, V12_HOST_CR4) & CR4_PCIDE) ||
           (f(c, V12_HOST_RIP) >> 32);
}
static bool r_host_selectors(const struct chk *c)
{
    static const uint16_t sel[] = {V12_HOST_CS_SELECTOR, V12_HOST_SS_SELECTOR,
                                   V12_HOST_DS_SELECTOR, V12_HOST_ES_SELECTOR,
                                   V12_HOST_FS_SELECTOR, V12_HOST_GS_SELECTOR,
                                   V12_HOST_TR_SELECTOR};
    for (size_t i = 0; i < sizeof(sel) / sizeof(sel[0]); i++)
        if (f(c, sel[i]) & SEL_RPL_TI)
            return true;
    return !f(c, V12_HOST_CS_SELECTOR) || !f(c, V12_HOST_TR_SELECTOR) ||
           (!f(c, V12_HOST_SS_SELECTOR) && !addr64(c));
}
static bool r_host_bases(const struct chk *c)
{
    return non_canonical_base(c, f(c, V12_HOST_FS_BASE)) ||
           non_canonical_base(c, f(c, V12_HOST_GS_BASE)) ||
           non_canonical_base(c, f(c, V12_HOST_GDTR_BASE)) ||
           non_canonical_base(c, f(c, V12_HOST_IDTR_BASE)) ||
           non_canonical_base(c, f(c, V12_HOST_TR_BASE)) ||
           non_canonical_ip(c, f(c, V12_HOST_RIP), c->l1_cr4);
}
static bool r_host_efer(const struct chk *c)
{
    if (!(c->exit & VMDL_EXITCTL_LOAD_EFER))
        return false;
    uint64_t e = f(c, V12_HOST_IA32_EFER);
    return (e & ~EFER_VALID) || addr64(c) != !!(e & EFER_LMA) ||
           addr64(c) != !!(e & EFER_LME);
}

static const struct rule host_rules[] = {
    {"host address-space size vs EFER.LMA", r_addr_size},
    {"HOST_CR0 vs IA32_VMX_CR0_FIXED0/1", r_host_cr0},
    {"HOST_CR4 vs IA32_VMX_CR4_FIXED0/1", r_host_cr4},
    {"HOST_CR3 beyond MAXPHYADDR", r_host_cr3},
    {"host SYSENTER_ESP/EIP not canonical", r_host_sysenter},
    {"HOST_IA32_PAT", r_host_pat},
    {"HOST_IA32_PERF_GLOBAL_CTRL", r_host_perf},
    {"host address-space size vs CR4.PAE / IA-32e guest / PCIDE / RIP", r_host_mode},
    {"host selectors", r_host_selectors},
    {"host bases / RIP not canonical", r_host_bases},
    {"HOST_IA32_EFER", r_host_efer},
};

/* ---- guest-state area (nested_vmx_check_guest_state + SDM 27.3.1) ---- */

static bool ia32e(const struct chk *c)
{
    return c->entry & VMDL_ENTRYCTL_IA32E;
}
static bool ug(const struct chk *c)
{
    return has2(c, VMDL_PROC2_UNRESTRICTED) &&
           vmdl_vmx_caps_allowed1(c->caps, VMDL_VMX_CTL_PROCBASED2, 7);
}
static bool r_guest_cr0(const struct chk *c)
{
    uint64_t fixed0 = c->caps->cr0_fixed0;
    if (ug(c))
        fixed0 &= ~(CR0_PE | CR0_PG);
    return fixed_bad(f(c, V12_GUEST_CR0), fixed0, c->caps->cr0_fixed1);
}
static bool r_guest_cr4(const struct chk *c)
{
    return fixed_bad(f(c, V12_GUEST_CR4), c->caps->cr4_fixed0, c->caps->cr4_fixed1);
}
static bool r_guest_debug(const struct chk *c)
{
    return (c->entry & VMDL_ENTRYCTL_LOAD_DEBUG) &&
           ((f(c, V12_GUEST_DR7) >> 32) || (f(c, V12_GUEST_IA32_DEBUGCTL) & ~(DEBUGCTL_DROPPED | c->vmx->debugctl_ok)));
}
static bool r_guest_pat(const struct chk *c)
{
    return (c->entry & VMDL_ENTRYCTL_LOAD_PAT) && pat_bad(f(c, V12_GUEST_IA32_PAT));
}
static bool r_guest_perf(const struct chk *c)
{
    return (c->entry & VMDL_ENTRYCTL_LOAD_PERF_GLOBAL) &&
           (f(c, V12_GUEST_IA32_PERF_GLOBAL_CTRL) & ~PERF_GLOBAL_VALID);
}
static bool r_guest_pg_pe(const struct chk *c)
{
    return (f(c, V12_GUEST_CR0) & (CR0_PG | CR0_PE)) == CR0_PG;
}
static bool r_guest_ia32e(const struct chk *c)
{
    return ia32e(c) && (!(f(c, V12_GUEST_CR4) & CR4_PAE) || !(f(c, V12_GUEST_CR0) & CR0_PG));
}
static bool r_guest_pcide(const struct chk *c)
{
    return !ia32e(c) && (f(c, V12_GUEST_CR4) & CR4_PCIDE);
}
static bool r_guest_efer(const struct chk *c)
{
    if (!(c->entry & VMDL_ENTRYCTL_LOAD_EFER))
        return false;
    uint64_t e = f(c, V12_GUEST_IA32_EFER);
    return (e & ~EFER_VALID) || ia32e(c) != !!(e & EFER_LMA) ||
           ((f(c, V12_GUEST_CR0) & CR0_PG) && ia32e(c) != !!(e & EFER_LME));
}
static bool r_guest_bndcfgs(const struct chk *c)
{
    uint64_t b = f(c, V12_GUEST_BNDCFGS);
    return (c->entry & VMDL_ENTRYCTL_LOAD_BNDCFGS) &&
           (non_canonical_base(c, b & ~PAGE_MASK_4K) || (b & BNDCFGS_RSVD));
}
static bool r_guest_activity(const struct chk *c)
{
    uint64_t a = f(c, V12_GUEST_ACTIVITY_STATE);
    return a != 0 && a != 1 && a != 3;
}

/* KVM's nested_vmx_load_cr3: kvm_vcpu_is_legal_cr3 (the SDM's rule for
 * the CR3 field, 27.3.1.1), whatever the paging mode. */
static bool r_guest_cr3(const struct chk *c)
{
    return gpa_bad(c, f(c, V12_GUEST_CR3));
}

/* PAE paging outside IA-32e mode: the guest's four PDPTEs are loaded. */
static bool pae_guest(const struct chk *c)
{
    return !ia32e(c) && (f(c, V12_GUEST_CR0) & CR0_PG) && (f(c, V12_GUEST_CR4) & CR4_PAE);
}

/* KVM's pdptr_rsvd_bits: 2:1, 8:5 and MAXPHYADDR up to 63, for a present
 * PDPTE (SDM 4.4.1, 27.3.1.6). */
static bool pdpte_bad(const struct chk *c, uint64_t e)
{
    uint64_t rsvd = 0x1E6ull | ~((1ull << maxpa(c)) - 1);
    return (e & 1) && (e & rsvd);
}

/* The PDPTEs of a PAE guest: from the 32-byte table at CR3 (KVM's
 * load_pdptrs in nested_vmx_load_cr3) without EPT, from GUEST_PDPTR0-3
 * (the processor's check of vmcs02) with EPT.  An unreadable table fails
 * as KVM's load_pdptrs does. */
static bool r_guest_pdptes(const struct chk *c)
{
    if (!pae_guest(c))
        return false;
    bool ept = (c->proc & VMDL_PROC_SECONDARY) && has2(c, VMDL_PROC2_EPT);
    uint64_t table = f(c, V12_GUEST_CR3) & ~0x1Full;
    for (unsigned i = 0; i < 4; i++) {
        uint64_t e = 0;
        if (ept)
            e = f(c, (uint16_t)(V12_GUEST_PDPTR0 + 2 * i));
        else if (vmdl_guest_read(&c->vmx->mem, table + 8 * i, &e, 8))
            return true;
        if (pdpte_bad(c, e))
            return true;
    }
    return false;
}

/* Segment i (ES CS SS DS FS GS LDTR TR): encodings step by 2. */
static uint32_t seg_ar(const struct chk *c, unsigned i)
{
    return (uint32_t)f(c, (uint16_t)(V12_GUEST_ES_AR_BYTES + 2 * i));
}
static uint64_t seg_base(const struct chk *c, unsigned i)
{
    return f(c, (uint16_t)(V12_GUEST_ES_BASE + 2 * i));
}
static uint16_t seg_sel(const struct chk *c, unsigned i)
{
    return (uint16_t)f(c, (uint16_t)(V12_GUEST_ES_SELECTOR + 2 * i));
}
static bool usable(uint32_t ar)
{
    return !(ar & VMDL_VMX_AR_UNUSABLE);
}
static bool r_seg_ar_reserved(const struct chk *c)
{
    for (unsigned i = 0; i < VMDL_VMX_NSEGS; i++) {
        uint32_t ar = seg_ar(c, i);
        if (usable(ar) && (ar & 0xfffe0f00u))
            return true;
    }
    return false;
}
static bool r_seg_cs(const struct chk *c)
{
    uint32_t ar = seg_ar(c, VMDL_VMX_SEG_CS), type = ar & 15;
    bool ok_type = type == 9 || type == 11 || type == 13 || type == 15 ||
                   (ug(c) && type == 3);
    return !usable(ar) || !ok_type || !(ar & 0x10) || !(ar & 0x80);
}
static bool r_seg_ss(const struct chk *c)
{
    uint32_t ar = seg_ar(c, VMDL_VMX_SEG_SS), type = ar & 15;
    return usable(ar) && ((type != 3 && type != 7) || !(ar & 0x10) || !(ar & 0x80));
}
static bool r_seg_tr(const struct chk *c)
{
    uint32_t ar = seg_ar(c, VMDL_VMX_SEG_TR), type = ar & 15;
    bool ok_type = type == 11 || (!ia32e(c) && type == 3);
    return !usable(ar) || !ok_type || (ar & 0x10) || !(ar & 0x80) ||
           (seg_sel(c, VMDL_VMX_SEG_TR) & 4);
}
static bool r_seg_ldtr(const struct chk *c)
{
    uint32_t ar = seg_ar(c, VMDL_VMX_SEG_LDTR);
    return usable(ar) && ((ar & 15) != 2 || (ar & 0x10) || !(ar & 0x80) ||
                          (seg_sel(c, VMDL_VMX_SEG_LDTR) & 4));
}
static bool v86(const struct chk *c)
{
    return f(c, V12_GUEST_RFLAGS) & RFLAGS_VM;
}
static uint32_t seg_limit(const struct chk *c, unsigned i)
{
    return (uint32_t)f(c, (uint16_t)(V12_GUEST_ES_LIMIT + 2 * i));
}
static unsigned dpl(uint32_t ar)
{
    return (ar >> 5) & 3;
}
/* SDM 27.3.1.2: in virtual-8086 mode, CS SS DS ES FS GS have base =
 * selector << 4, limit 0xFFFF and access rights 0xF3. */
static bool r_seg_v86(const struct chk *c)
{
    if (!v86(c))
        return false;
    for (unsigned i = VMDL_VMX_SEG_ES; i <= VMDL_VMX_SEG_GS; i++)
        if (seg_base(c, i) != (uint64_t)seg_sel(c, i) << 4 || seg_limit(c, i) != 0xffff ||
            seg_ar(c, i) != 0xf3)
            return true;
    return false;
}
/* Outside virtual-8086 mode and without unrestricted guest, SS.RPL must
 * equal CS.RPL. */
static bool r_ss_rpl(const struct chk *c)
{
    return !v86(c) && !ug(c) &&
           (seg_sel(c, VMDL_VMX_SEG_SS) & 3) != (seg_sel(c, VMDL_VMX_SEG_CS) & 3);
}
/* DS ES FS GS, when usable: accessed, readable if code, S, P; DPL not
 * below the RPL for data and non-conforming code without unrestricted
 * guest. */
static bool r_seg_data(const struct chk *c)
{
    static const unsigned data[] = {VMDL_VMX_SEG_DS, VMDL_VMX_SEG_ES, VMDL_VMX_SEG_FS,
                                    VMDL_VMX_SEG_GS};
    if (v86(c))
        return false;
    for (size_t i = 0; i < 4; i++) {
        uint32_t ar = seg_ar(c, data[i]), type = ar & 15;
        if (!usable(ar))
            continue;
        if (!(type & 1) || ((type & 8) && !(type & 2)) || !(ar & 0x10) || !(ar & 0x80))
            return true;
        if (!ug(c) && type <= 11 && dpl(ar) < (seg_sel(c, data[i]) & 3u))
            return true;
    }
    return false;
}
/* CS and SS privilege: CS type 3 (unrestricted guest) has DPL 0, a
 * non-conforming CS the DPL of SS, a conforming one at most SS.DPL; SS.DPL
 * equals SS.RPL without unrestricted guest and is 0 when CS is type 3 or
 * CR0.PE is clear; an IA-32e guest's 64-bit CS has D clear. */
static bool r_seg_cs_ss_dpl(const struct chk *c)
{
    if (v86(c))
        return false;
    uint32_t cs = seg_ar(c, VMDL_VMX_SEG_CS), ss = seg_ar(c, VMDL_VMX_SEG_SS);
    uint32_t type = cs & 15;
    if ((type == 3 && dpl(cs) != 0) || ((type == 9 || type == 11) && dpl(cs) != dpl(ss)) ||
        ((type == 13 || type == 15) && dpl(cs) > dpl(ss)))
        return true;
    if (!ug(c) && dpl(ss) != (seg_sel(c, VMDL_VMX_SEG_SS) & 3u))
        return true;
    if ((type == 3 || !(f(c, V12_GUEST_CR0) & CR0_PE)) && dpl(ss) != 0)
        return true;
    return ia32e(c) && (cs & (1u << 13)) && (cs & (1u << 14));
}
/* Limits against G (usable segments; CS and TR always): limit bits 11:0
 * not all ones need G clear, bits 31:20 set need G set. */
static bool r_seg_limits(const struct chk *c)
{
    if (v86(c))
        return false;
    for (unsigned i = 0; i < VMDL_VMX_NSEGS; i++) {
        uint32_t ar = seg_ar(c, i), lim = seg_limit(c, i);
        bool g = ar & (1u << 15);
        if (i != VMDL_VMX_SEG_CS && i != VMDL_VMX_SEG_TR && !usable(ar))
            continue;
        if (((lim & 0xfff) != 0xfff && g) || ((lim >> 20) && !g))
            return true;
    }
    return false;
}
static bool r_guest_sysenter(const struct chk *c)
{
    return non_canonical_base(c, f(c, V12_GUEST_SYSENTER_ESP)) ||
           non_canonical_base(c, f(c, V12_GUEST_SYSENTER_EIP));
}
static bool r_seg_bases(const struct chk *c)
{
    static const unsigned canon[] = {VMDL_VMX_SEG_FS, VMDL_VMX_SEG_GS, VMDL_VMX_SEG_TR};
    for (size_t i = 0; i < 3; i++)
        if (non_canonical_base(c, seg_base(c, canon[i])))
            return true;
    if (usable(seg_ar(c, VMDL_VMX_SEG_LDTR)) &&
        non_canonical_base(c, seg_base(c, VMDL_VMX_SEG_LDTR)))
        return true;
    static const unsigned low[] = {VMDL_VMX_SEG_CS, VMDL_VMX_SEG_SS,
                                   VMDL_VMX_SEG_DS, VMDL_VMX_SEG_ES};
    for (size_t i = 0; i < 4; i++)
        if ((low[i] == VMDL_VMX_SEG_CS || usable(seg_ar(c, low[i]))) &&
            (seg_base(c, low[i]) >> 32))
            return true;
    return false;
}
static bool r_dtr(const struct chk *c)
{
    return non_canonical_base(c, f(c, V12_GUEST_GDTR_BASE)) ||
           non_canonical_base(c, f(c, V12_GUEST_IDTR_BASE)) ||
           (f(c, V12_GUEST_GDTR_LIMIT) >> 16) || (f(c, V12_GUEST_IDTR_LIMIT) >> 16);
}
static bool r_rip(const struct chk *c)
{
    uint64_t rip = f(c, V12_GUEST_RIP);
    bool l = seg_ar(c, VMDL_VMX_SEG_CS) & (1u << 13);
    if (ia32e(c) && l)
        return non_canonical_ip(c, rip, f(c, V12_GUEST_CR4));
    return rip >> 32;
}
static bool r_rflags(const struct chk *c)
{
    uint64_t r = f(c, V12_GUEST_RFLAGS);
    if ((r & 0xffffffffffc08028ull) || !(r & 2))
        return true;
    return (r & RFLAGS_VM) && (ia32e(c) || !(f(c, V12_GUEST_CR0) & CR0_PE));
}
static bool r_activity_supported(const struct chk *c)
{
    uint64_t a = f(c, V12_GUEST_ACTIVITY_STATE);
    uint64_t need[] = {0, VMDL_VMX_MISC_ACTIVITY_HLT, VMDL_VMX_MISC_ACTIVITY_SHUTDOWN,
                       VMDL_VMX_MISC_ACTIVITY_WAIT_SIPI};
    if (a > 3)
        return true;
    if (a && !(c->caps->misc & need[a]))
        return true;
    /* HLT needs SS.DPL 0. */
    return a == 1 && ((seg_ar(c, VMDL_VMX_SEG_SS) >> 5) & 3);
}
/* SDM 27.3.1.5, the option sdm_activity_blocks_injection (KVM checks only
 * the state's value): the event to inject must be one the activity state
 * lets through. */
static bool r_activity_injection(const struct chk *c)
{
    uint32_t ii = (uint32_t)f(c, V12_VM_ENTRY_INTR_INFO_FIELD);
    uint64_t a = f(c, V12_GUEST_ACTIVITY_STATE);
    if (!c->caps->sdm_activity_blocks_injection || !(ii & VMDL_INTR_INFO_VALID) || !a)
        return false;
    unsigned type = (ii >> 8) & 7, vec = ii & 0xff;
    bool nmi_mc = type == VMDL_INTR_TYPE_NMI ||
                  (type == VMDL_INTR_TYPE_HW_EXCEPTION && vec == 18);
    switch (a) {
    case VMDL_VMX_ACTIVITY_HLT:
        return !(nmi_mc || type == VMDL_INTR_TYPE_EXT_INTR ||
                 (type == VMDL_INTR_TYPE_HW_EXCEPTION && vec == 1) ||
                 (type == VMDL_INTR_TYPE_OTHER && vec == 0));
    case VMDL_VMX_ACTIVITY_SHUTDOWN:
        return !nmi_mc;
    default:                    /* wait-for-SIPI: nothing */
        return true;
    }
}
static bool r_interruptibility(const struct chk *c)
{
    uint64_t i = f(c, V12_GUEST_INTERRUPTIBILITY_INFO);
    if ((i & ~0x1full) || (i & 3) == 3)
        return true;
    /* Blocking by STI needs RFLAGS.IF. */
    return (i & 1) && !(f(c, V12_GUEST_RFLAGS) & RFLAGS_IF);
}
static bool r_pending_dbg(const struct chk *c)
{
    return f(c, V12_GUEST_PENDING_DBG_EXCEPTIONS) & ~0x1500full;
}

static const struct rule guest_rules[] = {
    {"GUEST_CR0 vs IA32_VMX_CR0_FIXED0/1", r_guest_cr0},
    {"GUEST_CR4 vs IA32_VMX_CR4_FIXED0/1", r_guest_cr4},
    {"GUEST_DR7 / GUEST_IA32_DEBUGCTL", r_guest_debug},
    {"GUEST_IA32_PAT", r_guest_pat},
    /* (VMCS link pointer: its own qualification, checked separately) */
    {"GUEST_IA32_PERF_GLOBAL_CTRL", r_guest_perf},
    {"CR0.PG without CR0.PE", r_guest_pg_pe},
    {"IA-32e guest without CR4.PAE / CR0.PG", r_guest_ia32e},
    {"GUEST_IA32_EFER", r_guest_efer},
    {"GUEST_BNDCFGS", r_guest_bndcfgs},
    {"guest activity state", r_guest_activity},
};

/* (Between the two: prepare_vmcs02 refuses GUEST_CR3, then the PDPTEs
 * with qualification 2.)  The processor's checks on vmcs02 (SDM 27.3.1),
 * after KVM's own. */
static const struct rule cpu_guest_rules[] = {
    {"CR4.PCIDE outside IA-32e mode (SDM)", r_guest_pcide},
    {"GUEST_SYSENTER_ESP/EIP canonical (SDM)", r_guest_sysenter},
    {"virtual-8086 segments (SDM)", r_seg_v86},
    {"SS.RPL vs CS.RPL (SDM)", r_ss_rpl},
    {"segment access-rights reserved bits (SDM)", r_seg_ar_reserved},
    {"CS access rights (SDM)", r_seg_cs},
    {"SS access rights (SDM)", r_seg_ss},
    {"DS/ES/FS/GS access rights (SDM)", r_seg_data},
    {"CS/SS DPL, CS.D with CS.L (SDM)", r_seg_cs_ss_dpl},
    {"segment limits vs G (SDM)", r_seg_limits},
    {"TR (SDM)", r_seg_tr},
    {"LDTR (SDM)", r_seg_ldtr},
    {"segment bases (SDM)", r_seg_bases},
    {"GDTR/IDTR (SDM)", r_dtr},
    {"RIP (SDM)", r_rip},
    {"RFLAGS (SDM)", r_rflags},
    {"activity state vs IA32_VMX_MISC / SS.DPL (SDM)", r_activity_supported},
    {"event injection vs activity state (SDM option)", r_activity_injection},
    {"interruptibility state (SDM)", r_interruptibility},
    {"pending debug exceptions (SDM)", r_pending_dbg},
};

static const char *first_bad(const struct rule *r, size_t n, const struct chk *c)
{
    for (size_t i = 0; i < n; i++)
        if (r[i].bad(c))
            return r[i].name;
    return NULL;
}

static void chk_init(struct chk *c, const struct vmdl_vmx *vmx, uint64_t efer, uint64_t cr4)
{
    memset(c, 0, sizeof(*c));
    c->vmx = vmx;
    c->caps = vmdl_vmx_model_caps(vmx->model);
    c->pin = (uint32_t)f(c, V12_PIN_BASED_VM_EXEC_CONTROL);
    c->proc = (uint32_t)f(c, V12_CPU_BASED_VM_EXEC_CONTROL);
    c->proc2 = (uint32_t)f(c, V12_SECONDARY_VM_EXEC_CONTROL);
    c->exit = (uint32_t)f(c, V12_VM_EXIT_CONTROLS);
    c->entry = (uint32_t)f(c, V12_VM_ENTRY_CONTROLS);
    c->l1_efer = efer;
    c->l1_cr4 = cr4;
}

uint32_t vmdl_vmx_check_entry_vmfail(const struct vmdl_vmx *vmx, uint64_t l1_efer,
                                     const char **check)
{
    return vmdl__vmx_check_vmfail(vmx, l1_efer, 0, check);
}

uint32_t vmdl__vmx_check_vmfail(const struct vmdl_vmx *vmx, uint64_t l1_efer,
                                uint64_t l1_cr4, const char **check)
{
    const char *dummy;
    if (!check)
        check = &dummy;
    *check = NULL;
    if (!vmx || !vmdl__vmx_has_current(vmx))
        return 0;
    struct chk c;
    chk_init(&c, vmx, l1_efer, l1_cr4);
    if ((*check = first_bad(control_rules, sizeof(control_rules) / sizeof(control_rules[0]), &c)))
        return VMDL_VMXERR_ENTRY_INVALID_CONTROL_FIELD;
    if ((*check = first_bad(host_rules, sizeof(host_rules) / sizeof(host_rules[0]), &c)))
        return VMDL_VMXERR_ENTRY_INVALID_HOST_STATE;
    return 0;
}

/* KVM nested_vmx_check_vmcs_link_ptr: all-ones, or a page whose revision id
 * is ours with the shadow bit exactly when shadow VMCS is enabled. */
static bool link_bad(const struct chk *c)
{
    uint64_t link = f(c, V12_VMCS_LINK_POINTER);
    if (link == UINT64_MAX)
        return false;
    if (page_bad(c, link))
        return true;
    uint8_t b[4];
    if (vmdl_guest_read(&c->vmx->mem, link, b, 4))
        return true;
    uint32_t h = (uint32_t)get_le(b, 4);
    uint32_t rev = (uint32_t)(c->caps->basic & VMDL_VMX_BASIC_REVISION_MASK);
    return (h & 0x7fffffffu) != rev || (bool)(h >> 31) != has2(c, VMDL_PROC2_SHADOW_VMCS);
}

uint32_t vmdl_vmx_check_entry_guest(const struct vmdl_vmx *vmx, const char **check)
{
    const char *dummy;
    if (!check)
        check = &dummy;
    *check = NULL;
    if (!vmx || !vmdl__vmx_has_current(vmx))
        return 0;
    struct chk c;
    chk_init(&c, vmx, 0, 0);
    /* KVM's order: CR0, CR4, debug, PAT, then the link pointer. */
    if ((*check = first_bad(guest_rules, 4, &c)))
        return VMDL_ENTRY_FAIL_DEFAULT + 1;
    if (link_bad(&c)) {
        *check = "VMCS link pointer";
        return VMDL_ENTRY_FAIL_VMCS_LINK + 1;
    }
    /* The rest of KVM's nested_vmx_check_guest_state, then what
     * prepare_vmcs02 refuses (CR3, PDPTEs), then the processor's checks
     * on vmcs02. */
    size_t kvm = sizeof(guest_rules) / sizeof(guest_rules[0]);
    size_t cpu = sizeof(cpu_guest_rules) / sizeof(cpu_guest_rules[0]);
    if ((*check = first_bad(guest_rules + 4, kvm - 4, &c)))
        return VMDL_ENTRY_FAIL_DEFAULT + 1;
    if (r_guest_cr3(&c)) {
        *check = "GUEST_CR3 beyond MAXPHYADDR";
        return VMDL_ENTRY_FAIL_DEFAULT + 1;
    }
    if (r_guest_pdptes(&c)) {
        *check = "PDPTE reserved bits";
        return VMDL_ENTRY_FAIL_PDPTE + 1;
    }
    if ((*check = first_bad(cpu_guest_rules, cpu, &c)))
        return VMDL_ENTRY_FAIL_DEFAULT + 1;
    return 0;
}

bool vmdl_vmx_eptp_valid(const struct vmdl_vmx_model *m, uint64_t eptp)
{
    if (!m)
        return false;
    const struct vmdl_vmx_caps *c = vmdl_vmx_model_caps(m);
    struct vmdl_ept_config cfg = {eptp, c->ept_vpid_cap, c->phys_addr_bits, false};
    return vmdl_ept_eptp_valid(&cfg);
}
