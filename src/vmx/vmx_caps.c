/* SPDX-License-Identifier: MIT */
/* VMX capability profiles and the sanitized model built from one. */
#include <stdlib.h>
#include <string.h>

#include "virtmodel/bits.h"
#include "virtmodel/blob.h"
#include "virtmodel/error.h"
#include "virtmodel/vmx_caps.h"

/* Control bits the features are derived from (SDM Vol. 3D appendix A). */
#define PIN_PREEMPT_TIMER 6
#define PIN_POSTED_INTR 7
#define PROC_TERTIARY 17
#define PROC_TPR_SHADOW 21
#define PROC_SECONDARY 31
#define SEC_APIC_ACCESS 0
#define SEC_EPT 1
#define SEC_VPID 5
#define SEC_VID 9
#define SEC_VMFUNC 13
#define SEC_SHADOW_VMCS 14
#define SEC_ENCLS 15
#define SEC_PML 17
#define SEC_XSAVES 20
#define SEC_TSC_SCALING 25
#define EXIT_LOAD_PERF_GLOBAL 12
#define EXIT_LOAD_CET 28
#define ENTRY_LOAD_PERF_GLOBAL 13
#define ENTRY_LOAD_PAT 14
#define ENTRY_LOAD_EFER 15
#define ENTRY_LOAD_BNDCFGS 16
#define ENTRY_LOAD_CET 20

#define BASIC(extra)                                                       \
    (VMDL_VMCS12_REVISION | ((uint64_t)VMDL_VMCS12_SIZE << 32) |          \
     VMDL_VMX_BASIC_MEMTYPE_WB | VMDL_VMX_BASIC_INOUT | (extra))
#define CTL(low, high) (((uint64_t)(high) << 32) | (uint32_t)(low))

/* Defaults: allowed-0 settings (the "default1" bits) of the non-TRUE and
 * TRUE control MSRs. */
#define PIN_LOW 0x00000016u
#define PROC_LOW 0x0401e172u
#define TRUE_PROC_LOW 0x04006172u
#define EXIT_LOW 0x00036dffu
#define TRUE_EXIT_LOW 0x00036dfbu
#define ENTRY_LOW 0x000011ffu
#define TRUE_ENTRY_LOW 0x000011fbu

/*
 * IA32_VMX_MISC of the modelled hardware (SDM Vol. 3D A.6).  Sandy Bridge
 * and later: timer rate 5, SAVE_EFER_LMA (unrestricted guest), activity
 * HLT/shutdown/wait-for-SIPI, 4 CR3-target values, VMWRITE to any field,
 * zero-length injection.  The two old parts: no timer, no unrestricted
 * guest (bit 5 clear), 4 CR3-target values, no VMWRITE to read-only fields.
 */
#define MISC_HW_MODERN 0x600401e5ull
#define MISC_HW_OLD 0x000401c0ull

/* What KVM reports to L1 from the host's MISC (nested_vmx_setup_misc_data);
 * a constant expression so the profile table can use it. */
#define KVM_MISC(hw)                                                        \
    (((hw) & VMDL_VMX_MISC_SAVE_EFER_LMA) | VMDL_VMX_MISC_VMWRITE_ANY |     \
     VMDL_VMX_MISC_KVM_PREEMPT_RATE | VMDL_VMX_MISC_ACTIVITY_HLT |          \
     VMDL_VMX_MISC_ACTIVITY_WAIT_SIPI)

uint64_t vmdl_vmx_kvm_misc(uint64_t host_misc)
{
    return KVM_MISC(host_misc);
}

/* The capability MSRs other than BASIC and MISC, shared by a part's KVM
 * view and its bare-hardware profile. */
#define SKYLAKE_CTLS                                                        \
    .pinbased = CTL(PIN_LOW, 0xffu),                                        \
    .procbased = CTL(PROC_LOW, 0xfff9fffeu),                                \
    .exit = CTL(EXIT_LOW, 0x03ffffffu),                                     \
    .entry = CTL(ENTRY_LOW, 0x0007ffffu),                                   \
    .true_pinbased = CTL(PIN_LOW, 0xffu),                                   \
    .true_procbased = CTL(TRUE_PROC_LOW, 0xfff9fffeu),                      \
    .true_exit = CTL(TRUE_EXIT_LOW, 0x03ffffffu),                           \
    .true_entry = CTL(TRUE_ENTRY_LOW, 0x0007ffffu),                         \
    .cr0_fixed0 = 0x80000021u, .cr0_fixed1 = 0xffffffffu,                   \
    .cr4_fixed0 = 0x2000u, .cr4_fixed1 = 0x7767ffu,                         \
    .procbased2 = CTL(0, 0x035f7fffu),                                      \
    .ept_vpid_cap = 0x00000f0106734141ull,                                  \
    .vmfunc = 1,                                                            \
    .phys_addr_bits = 46,                                                   \
    .ar_bytes_drop_reserved = true
#define CORE2_CTLS                                                          \
    .pinbased = CTL(PIN_LOW, 0x3fu),                                        \
    .procbased = CTL(PROC_LOW, 0x77f9fffeu),                                \
    .exit = CTL(EXIT_LOW, 0x0003edffu),                                     \
    .entry = CTL(ENTRY_LOW, 0x00001fffu),                                   \
    .cr0_fixed0 = 0x80000021u, .cr0_fixed1 = 0xffffffffu,                   \
    .cr4_fixed0 = 0x2000u, .cr4_fixed1 = 0x27ffu,                           \
    .phys_addr_bits = 36,                                                   \
    .ar_bytes_drop_reserved = true
/* KVM's TRUE control MSRs on a Core 2 host: the non-TRUE allowed-1 bits
 * with the default1 bits KVM lets L1 clear (nested_vmx_setup_*_ctls). */
#define CORE2_TRUE_CTLS                                                     \
    .true_pinbased = CTL(PIN_LOW, 0x3fu),                                   \
    .true_procbased = CTL(TRUE_PROC_LOW, 0x77f9fffeu),                      \
    .true_exit = CTL(TRUE_EXIT_LOW, 0x0003edffu),                           \
    .true_entry = CTL(TRUE_ENTRY_LOW, 0x00001fffu)

/*
 * Named profiles.  The first five are plausible parts as a KVM L1 sees them
 * (KVM's revision id and 4 KiB VMCS size, IA32_VMX_BASIC with TRUE_CTLS and
 * IA32_VMX_MISC as nested_vmx_setup_basic / nested_vmx_setup_misc_data
 * build them; the controls are the part's).  The "-bare" ones are what the
 * hardware itself reports: its own MISC (CR3-target values, no VMWRITE to
 * read-only fields on Core 2), no TRUE MSRs on Core 2, and the
 * architectural field set.  The last, "sapphire-rapids-l1", has every MSR
 * as KVM computes it for L1 from the first.  Values are modelled, not
 * dumps of a specific stepping.  (New profiles go at the end: fuzz seeds
 * and tests refer to them by index.)
 */
static const struct vmdl_vmx_caps profiles[] = {
    {
        /* Xeon 4th gen: tertiary controls (IPI virtualization), CET, PKS,
         * ENCLS/ENCLV exiting, TSC scaling, 5-level EPT, no MPX. */
        .name = "sapphire-rapids",
        .basic = BASIC(VMDL_VMX_BASIC_TRUE_CTLS | VMDL_VMX_BASIC_NO_HW_ERRCODE),
        .pinbased = CTL(PIN_LOW, 0xffu),
        .procbased = CTL(PROC_LOW, 0xfffbfffeu),
        .exit = CTL(EXIT_LOW, 0x37ffffffu),
        .entry = CTL(ENTRY_LOW, 0x0076ffffu),
        .true_pinbased = CTL(PIN_LOW, 0xffu),
        .true_procbased = CTL(TRUE_PROC_LOW, 0xfffbfffeu),
        .true_exit = CTL(TRUE_EXIT_LOW, 0x37ffffffu),
        .true_entry = CTL(TRUE_ENTRY_LOW, 0x0076ffffu),
        .misc = KVM_MISC(MISC_HW_MODERN),
        .cr0_fixed0 = 0x80000021u, .cr0_fixed1 = 0xffffffffu,
        .cr4_fixed0 = 0x2000u, .cr4_fixed1 = 0x1ff7fffu,
        .procbased2 = CTL(0, 0xd75fffffu),
        .ept_vpid_cap = 0x00000f01067341c1ull,
        .vmfunc = 1,
        .procbased3 = 0x11,
        .phys_addr_bits = 46,
        .ar_bytes_drop_reserved = true,
    },
    {
        /* Xeon Scalable 1st gen: secondary controls incl. TSC scaling,
         * XSAVES, PML, VMFUNC, shadow VMCS; no SGX, no CET, no tertiary. */
        .name = "skylake",
        .basic = BASIC(VMDL_VMX_BASIC_TRUE_CTLS),
        .misc = KVM_MISC(MISC_HW_MODERN),
        SKYLAKE_CTLS,
    },
    {
        /* Xeon E5 v4: PML, VMFUNC, shadow VMCS, posted interrupts; no TSC
         * scaling, no XSAVES exiting, no SGX. */
        .name = "broadwell",
        .basic = BASIC(VMDL_VMX_BASIC_TRUE_CTLS),
        .pinbased = CTL(PIN_LOW, 0xffu),
        .procbased = CTL(PROC_LOW, 0xfff9fffeu),
        .exit = CTL(EXIT_LOW, 0x007fffffu),
        .entry = CTL(ENTRY_LOW, 0x0000ffffu),
        .true_pinbased = CTL(PIN_LOW, 0xffu),
        .true_procbased = CTL(TRUE_PROC_LOW, 0xfff9fffeu),
        .true_exit = CTL(TRUE_EXIT_LOW, 0x007fffffu),
        .true_entry = CTL(TRUE_ENTRY_LOW, 0x0000ffffu),
        .misc = KVM_MISC(MISC_HW_MODERN),
        .cr0_fixed0 = 0x80000021u, .cr0_fixed1 = 0xffffffffu,
        .cr4_fixed0 = 0x2000u, .cr4_fixed1 = 0x3767ffu,
        .procbased2 = CTL(0, 0x00077fffu),
        .ept_vpid_cap = 0x00000f0106334141ull,
        .vmfunc = 1,
        .phys_addr_bits = 46,
        .ar_bytes_drop_reserved = true,
    },
    {
        /* Core i7 first generation: a few secondary controls (APIC access,
         * EPT, RDTSCP, x2APIC, VPID, WBINVD exiting) and nothing newer: no
         * unrestricted guest (so MISC bit 5 clear), posted interrupts,
         * preemption timer, VMFUNC, PML, shadow VMCS. */
        .name = "nehalem",
        .basic = BASIC(VMDL_VMX_BASIC_TRUE_CTLS),
        .pinbased = CTL(PIN_LOW, 0x3fu),
        .procbased = CTL(PROC_LOW, 0xfff9fffeu),
        .exit = CTL(EXIT_LOW, 0x003fffffu),
        .entry = CTL(ENTRY_LOW, 0x0000ffffu),
        .true_pinbased = CTL(PIN_LOW, 0x3fu),
        .true_procbased = CTL(TRUE_PROC_LOW, 0xfff9fffeu),
        .true_exit = CTL(TRUE_EXIT_LOW, 0x003fffffu),
        .true_entry = CTL(TRUE_ENTRY_LOW, 0x0000ffffu),
        .misc = KVM_MISC(MISC_HW_OLD),
        .cr0_fixed0 = 0x80000021u, .cr0_fixed1 = 0xffffffffu,
        .cr4_fixed0 = 0x2000u, .cr4_fixed1 = 0x67ffu,
        .procbased2 = CTL(0, 0x0000007bu),
        .ept_vpid_cap = 0x00000f0106114141ull,
        .vmfunc = 0,
        .phys_addr_bits = 40,
        .ar_bytes_drop_reserved = true,
    },
    {
        /* Core 2: no secondary controls at all (so no EPT, VPID, ...), no
         * IA32_PERF_GLOBAL_CTRL/PAT/EFER loading, no INS/OUTS information.
         * The host has no TRUE control MSRs, but KVM always gives L1 some
         * (nested_vmx_setup_basic sets VMX_BASIC_TRUE_CTLS). */
        .name = "core2",
        .basic = BASIC(VMDL_VMX_BASIC_TRUE_CTLS) & ~VMDL_VMX_BASIC_INOUT,
        .misc = KVM_MISC(MISC_HW_OLD),
        CORE2_CTLS,
        CORE2_TRUE_CTLS,
    },
    {
        /* The skylake part as the hardware reports it. */
        .name = "skylake-bare",
        .basic = BASIC(VMDL_VMX_BASIC_TRUE_CTLS),
        .misc = MISC_HW_MODERN,
        .field_policy = VMDL_VMX_FIELDS_ARCH,
        SKYLAKE_CTLS,
    },
    {
        /* The core2 part as the hardware reports it: no TRUE control MSRs,
         * MISC bit 29 clear (VMWRITE to a read-only field: error 13). */
        .name = "core2-bare",
        .basic = BASIC(0) & ~VMDL_VMX_BASIC_INOUT,
        .misc = MISC_HW_OLD,
        .field_policy = VMDL_VMX_FIELDS_ARCH,
        CORE2_CTLS,
    },
    {
        /* What KVM's nested_vmx_setup_ctls_msrs (arch/x86/kvm/vmx/nested.c)
         * gives L1 on the sapphire-rapids host above (EPT with A/D bits,
         * VPID, unrestricted guest, flexpriority, APICv and SGX enabled):
         * the controls KVM implements for L1, not the host's.  Primary:
         * no tertiary controls (KVM offers none).  Secondary: KVM's list
         * (descriptor-table exiting, RDTSCP, x2APIC mode, WBINVD exiting,
         * APIC-register virtualization, virtual-interrupt delivery,
         * RDRAND/RDSEED exiting, INVPCID, VM functions, XSAVES, TSC
         * scaling, user wait/pause) filtered by the host, plus what it
         * emulates or adds (shadow VMCS, EPT, PML, VPID, unrestricted
         * guest, APIC-access virtualization, ENCLS exiting); not PAUSE-loop
         * exiting, EPT-violation #VE, the PT controls, mode-based execute
         * control, sub-page write permissions or ENCLV exiting.
         * EPT_VPID_CAP: (execute-only, 4- and 5-level walks, WB, INVEPT)
         * of the host, single-context and global INVEPT, 2 MiB and 1 GiB
         * pages, A/D flags; no UC EPTP and no advanced EPT-violation
         * information (bit 22); INVVPID with all four types whatever the
         * host.  Exit/entry: KVM's lists (host address-space size, PAT,
         * EFER, preemption-timer save, acknowledge interrupt, PERF_GLOBAL
         * load, CET state; IA-32e guest, debug controls free), no MPX. */
        .name = "sapphire-rapids-l1",
        .basic = BASIC(VMDL_VMX_BASIC_TRUE_CTLS | VMDL_VMX_BASIC_NO_HW_ERRCODE),
        .pinbased = CTL(PIN_LOW, 0xffu),
        .procbased = CTL(PROC_LOW, 0xfff9fffeu),
        .exit = CTL(EXIT_LOW, 0x107fffffu),
        .entry = CTL(ENTRY_LOW, 0x0010f3ffu),
        .true_pinbased = CTL(PIN_LOW, 0xffu),
        .true_procbased = CTL(TRUE_PROC_LOW, 0xfff9fffeu),
        .true_exit = CTL(TRUE_EXIT_LOW, 0x107fffffu),
        .true_entry = CTL(TRUE_ENTRY_LOW, 0x0010f3ffu),
        .misc = KVM_MISC(MISC_HW_MODERN),
        .cr0_fixed0 = 0x80000021u, .cr0_fixed1 = 0xffffffffu,
        .cr4_fixed0 = 0x2000u, .cr4_fixed1 = 0x1ff7fffu,
        .procbased2 = CTL(0, 0x0613fbffu),
        .ept_vpid_cap = 0x00000f01063340c1ull,
        .vmfunc = 1,
        .phys_addr_bits = 46,
        .ar_bytes_drop_reserved = true,
    },
};

unsigned vmdl_vmx_profile_count(void)
{
    return VMDL_ARRAY_SIZE(profiles);
}

const char *vmdl_vmx_profile_name(unsigned i)
{
    return i < VMDL_ARRAY_SIZE(profiles) ? profiles[i].name : NULL;
}

int vmdl_vmx_profile_get(const char *name, struct vmdl_vmx_caps *caps)
{
    if (!caps)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vmx_profile_get: NULL caps");
    if (!name)
        name = profiles[0].name;
    for (unsigned i = 0; i < VMDL_ARRAY_SIZE(profiles); i++) {
        if (!strcmp(profiles[i].name, name)) {
            *caps = profiles[i];
            return VMDL_OK;
        }
    }
    return vmdl_fail(VMDL_ENOENT,
                     "vmdl_vmx_profile_get: no VMX profile named '%s' "
                     "(sapphire-rapids, skylake, broadwell, nehalem, core2, "
                     "skylake-bare, core2-bare, sapphire-rapids-l1)",
                     name);
}

/* ---- builder ---- */

static uint64_t *ctl_msr(struct vmdl_vmx_caps *c, enum vmdl_vmx_ctl ctl,
                         uint64_t **true_msr)
{
    *true_msr = NULL;
    switch (ctl) {
    case VMDL_VMX_CTL_PINBASED: *true_msr = &c->true_pinbased; return &c->pinbased;
    case VMDL_VMX_CTL_PROCBASED: *true_msr = &c->true_procbased; return &c->procbased;
    case VMDL_VMX_CTL_EXIT: *true_msr = &c->true_exit; return &c->exit;
    case VMDL_VMX_CTL_ENTRY: *true_msr = &c->true_entry; return &c->entry;
    case VMDL_VMX_CTL_PROCBASED2: return &c->procbased2;
    }
    return NULL;
}

int vmdl_vmx_caps_set_allowed1(struct vmdl_vmx_caps *caps, enum vmdl_vmx_ctl ctl,
                               unsigned bit, bool on)
{
    if (!caps)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vmx_caps_set_allowed1: NULL caps");
    if (bit > 31)
        return vmdl_fail(VMDL_ERANGE,
                         "vmdl_vmx_caps_set_allowed1: bit %u is not a control bit (0..31)",
                         bit);
    uint64_t *t;
    uint64_t *m = ctl_msr(caps, ctl, &t);
    if (!m)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vmx_caps_set_allowed1: bad control %d",
                         (int)ctl);
    uint64_t *msrs[2] = {m, t};
    for (unsigned i = 0; i < 2; i++) {
        if (!msrs[i])
            continue;
        if (on) {
            *msrs[i] |= VMDL_BIT(32 + bit);
        } else {
            *msrs[i] &= ~VMDL_BIT(32 + bit);
            *msrs[i] &= ~VMDL_BIT(bit);
        }
    }
    return VMDL_OK;
}

static bool allowed1(uint64_t msr, unsigned bit)
{
    return (msr >> (32 + bit)) & 1;
}

bool vmdl_vmx_caps_allowed1(const struct vmdl_vmx_caps *caps,
                            enum vmdl_vmx_ctl ctl, unsigned bit)
{
    if (!caps || bit > 31)
        return false;
    uint64_t *t;
    uint64_t *m = ctl_msr((struct vmdl_vmx_caps *)caps, ctl, &t);
    return m && allowed1(*m, bit);
}

bool vmdl_vmx_caps_has(const struct vmdl_vmx_caps *c, enum vmdl_vmx_feature f)
{
    bool sec = allowed1(c->procbased, PROC_SECONDARY);
    switch (f) {
    case VMDL_VMXF_NONE: return true;
    case VMDL_VMXF_SECONDARY: return sec;
    case VMDL_VMXF_TERTIARY:
        return allowed1(c->procbased, PROC_TERTIARY) && c->procbased3 != 0;
    case VMDL_VMXF_TPR_SHADOW: return allowed1(c->procbased, PROC_TPR_SHADOW);
    case VMDL_VMXF_VPID: return sec && allowed1(c->procbased2, SEC_VPID);
    case VMDL_VMXF_POSTED_INTR: return allowed1(c->pinbased, PIN_POSTED_INTR);
    case VMDL_VMXF_TSC_SCALING: return sec && allowed1(c->procbased2, SEC_TSC_SCALING);
    case VMDL_VMXF_APIC_ACCESS: return sec && allowed1(c->procbased2, SEC_APIC_ACCESS);
    case VMDL_VMXF_VID: return sec && allowed1(c->procbased2, SEC_VID);
    case VMDL_VMXF_VMFUNC: return sec && allowed1(c->procbased2, SEC_VMFUNC);
    case VMDL_VMXF_EPT: return sec && allowed1(c->procbased2, SEC_EPT);
    case VMDL_VMXF_XSAVES: return sec && allowed1(c->procbased2, SEC_XSAVES);
    case VMDL_VMXF_ENCLS: return sec && allowed1(c->procbased2, SEC_ENCLS);
    case VMDL_VMXF_PML: return sec && allowed1(c->procbased2, SEC_PML);
    case VMDL_VMXF_SHADOW_VMCS: return sec && allowed1(c->procbased2, SEC_SHADOW_VMCS);
    case VMDL_VMXF_PERF_GLOBAL:
        /* KVM's cpu_has_load_perf_global_ctrl(): both directions. */
        return allowed1(c->entry, ENTRY_LOAD_PERF_GLOBAL) &&
               allowed1(c->exit, EXIT_LOAD_PERF_GLOBAL);
    case VMDL_VMXF_CET:
        /* KVM's cpu_has_load_cet_ctrl(): both directions. */
        return allowed1(c->entry, ENTRY_LOAD_CET) && allowed1(c->exit, EXIT_LOAD_CET);
    case VMDL_VMXF_PREEMPT_TIMER: return allowed1(c->pinbased, PIN_PREEMPT_TIMER);
    case VMDL_VMXF_MPX: return allowed1(c->entry, ENTRY_LOAD_BNDCFGS);
    case VMDL_VMXF_PAT: return allowed1(c->entry, ENTRY_LOAD_PAT);
    case VMDL_VMXF_EFER: return allowed1(c->entry, ENTRY_LOAD_EFER);
    case VMDL_VMXF_COUNT: break;
    }
    return false;
}

/* ---- the model ---- */

#define MAX_FIELDS 256
/* Linux arch/x86/kvm/vmx/vmcs_shadow_fields.h, in its order: 24 SHADOW_FIELD_RW,
 * 12 SHADOW_FIELD_RO. */
static const uint16_t shadow_rw_all[] = {
    0x0810 /* GUEST_INTR_STATUS */, 0x0812 /* GUEST_PML_INDEX */,
    0x0c08 /* HOST_FS_SELECTOR */, 0x0c0a /* HOST_GS_SELECTOR */,
    0x4002 /* CPU_BASED_VM_EXEC_CONTROL */, 0x4000 /* PIN_BASED_VM_EXEC_CONTROL */,
    0x4004 /* EXCEPTION_BITMAP */,
    0x4018 /* VM_ENTRY_EXCEPTION_ERROR_CODE */, 0x4016 /* VM_ENTRY_INTR_INFO_FIELD */,
    0x401a /* VM_ENTRY_INSTRUCTION_LEN */, 0x401c /* TPR_THRESHOLD */,
    0x4824 /* GUEST_INTERRUPTIBILITY_INFO */, 0x482e /* VMX_PREEMPTION_TIMER_VALUE */,
    0x681e /* GUEST_RIP */, 0x681c /* GUEST_RSP */, 0x6800 /* GUEST_CR0 */,
    0x6802 /* GUEST_CR3 */, 0x6804 /* GUEST_CR4 */, 0x6820 /* GUEST_RFLAGS */,
    0x6000 /* CR0_GUEST_HOST_MASK */, 0x6004 /* CR0_READ_SHADOW */,
    0x6006 /* CR4_READ_SHADOW */, 0x6c06 /* HOST_FS_BASE */, 0x6c08 /* HOST_GS_BASE */,
};
static const uint16_t shadow_ro_all[] = {
    0x4402 /* VM_EXIT_REASON */, 0x4404 /* VM_EXIT_INTR_INFO */,
    0x440c /* VM_EXIT_INSTRUCTION_LEN */, 0x4408 /* IDT_VECTORING_INFO_FIELD */,
    0x440a /* IDT_VECTORING_ERROR_CODE */, 0x4406 /* VM_EXIT_INTR_ERROR_CODE */,
    0x4816 /* GUEST_CS_AR_BYTES */, 0x4818 /* GUEST_SS_AR_BYTES */,
    0x6400 /* EXIT_QUALIFICATION */, 0x640a /* GUEST_LINEAR_ADDRESS */,
    0x2400 /* GUEST_PHYSICAL_ADDRESS */, 0x2401 /* GUEST_PHYSICAL_ADDRESS_HIGH */,
};

_Static_assert(VMDL_ARRAY_SIZE(shadow_rw_all) == 24, "KVM shadows 24 read/write fields");
_Static_assert(VMDL_ARRAY_SIZE(shadow_ro_all) == 12, "KVM shadows 12 read-only fields");

struct vmdl_vmx_model {
    struct vmdl_vmx_caps caps;
    uint64_t supported[MAX_FIELDS / 64]; /* bitmap over field ids */
    unsigned nr_supported;
    uint64_t vmcs_enum;
    uint16_t shadow_rw[VMDL_ARRAY_SIZE(shadow_rw_all)];
    uint16_t shadow_ro[VMDL_ARRAY_SIZE(shadow_ro_all)];
    unsigned nr_shadow_rw, nr_shadow_ro;
    uint32_t fingerprint;
};

static int check_ctl(const char *what, uint64_t msr)
{
    uint32_t lo = (uint32_t)msr, hi = (uint32_t)(msr >> 32);
    if (lo & ~hi)
        return vmdl_fail(VMDL_EINVAL,
                         "vmdl_vmx_model_create: %s 0x%016llx requires bits "
                         "(allowed-0 0x%x) that it does not allow to be 1",
                         what, (unsigned long long)msr, lo & ~hi);
    return VMDL_OK;
}

static int check_true(const char *what, uint64_t msr, uint64_t true_msr)
{
    /* TRUE_ may relax the default1 bits (fewer must-be-1) but allows the
     * same 1-settings. */
    if ((uint32_t)true_msr & ~(uint32_t)msr)
        return vmdl_fail(VMDL_EINVAL,
                         "vmdl_vmx_model_create: TRUE_%s requires bits the "
                         "non-TRUE MSR does not", what);
    if ((true_msr >> 32) != (msr >> 32))
        return vmdl_fail(VMDL_EINVAL,
                         "vmdl_vmx_model_create: TRUE_%s allowed-1 bits differ "
                         "from the non-TRUE MSR", what);
    return check_ctl(what, true_msr);
}

/*
 * The checks KVM applies when userspace sets IA32_VMX_MISC for L1 (Linux
 * arch/x86/kvm/vmx/nested.c, vmx_restore_vmx_misc), against the most KVM
 * ever reports (vmdl_vmx_kvm_misc with the host's bit 5 set): a profile that
 * uses KVM's field set must have a MISC that KVM could present.
 */
static int check_kvm_misc(const struct vmdl_vmx_caps *c)
{
    const uint64_t feature_bits = VMDL_VMX_MISC_SAVE_EFER_LMA | (7ull << 6) |
                                  (1ull << 14) | (1ull << 15) | (1ull << 28) |
                                  VMDL_VMX_MISC_VMWRITE_ANY | (1ull << 30);
    const uint64_t reserved_bits = (1ull << 31) | (0x1full << 9);
    uint64_t kvm = vmdl_vmx_kvm_misc(VMDL_VMX_MISC_SAVE_EFER_LMA);
    uint64_t m = c->misc;
    const char *why = NULL;
    if (m & (feature_bits | reserved_bits) & ~kvm)
        why = "sets feature or reserved bits KVM does not offer";
    else if (allowed1(c->pinbased, PIN_PREEMPT_TIMER) &&
             (m & VMDL_VMX_MISC_PREEMPT_RATE_MASK) != VMDL_VMX_MISC_KVM_PREEMPT_RATE)
        why = "has a preemption-timer rate other than KVM's 5";
    else if (VMDL_VMX_MISC_CR3_COUNT(m))
        why = "advertises CR3-target values, which KVM's vmcs12 does not hold";
    else if (VMDL_VMX_MISC_MAX_MSR(m))
        why = "allows more than 512 MSRs in the load/store lists";
    else if (VMDL_VMX_MISC_MSEG_REVID(m))
        why = "has a non-zero MSEG revision";
    if (!why)
        return VMDL_OK;
    return vmdl_fail(VMDL_EINVAL,
                     "vmdl_vmx_model_create: IA32_VMX_MISC 0x%llx %s (KVM field "
                     "policy; use the architectural policy for bare-hardware "
                     "values)", (unsigned long long)m, why);
}

static int validate(const struct vmdl_vmx_caps *c)
{
    int err;
    uint32_t rev = (uint32_t)(c->basic & 0xffffffffu);
    unsigned size = (unsigned)((c->basic >> 32) & 0x1fff);
    if (rev & 0x80000000u)
        return vmdl_fail(VMDL_EINVAL,
                         "vmdl_vmx_model_create: IA32_VMX_BASIC bit 31 must be 0");
    if (size < 1024 || size > VMDL_VMCS12_SIZE)
        return vmdl_fail(VMDL_EINVAL,
                         "vmdl_vmx_model_create: VMCS size %u in IA32_VMX_BASIC "
                         "must be 1024..4096 (the vmcs12 layout needs 1000 bytes)",
                         size);
    if (c->basic & (1ull << 48))
        return vmdl_fail(VMDL_EINVAL,
                         "vmdl_vmx_model_create: IA32_VMX_BASIC bit 48 (32-bit "
                         "addresses) is not modelled on a 64-bit vCPU");
    if (c->phys_addr_bits < 32 || c->phys_addr_bits > 52)
        return vmdl_fail(VMDL_EINVAL,
                         "vmdl_vmx_model_create: phys_addr_bits %u outside 32..52",
                         c->phys_addr_bits);
    if ((err = check_ctl("PINBASED_CTLS", c->pinbased)) ||
        (err = check_ctl("PROCBASED_CTLS", c->procbased)) ||
        (err = check_ctl("EXIT_CTLS", c->exit)) ||
        (err = check_ctl("ENTRY_CTLS", c->entry)) ||
        (err = check_ctl("PROCBASED_CTLS2", c->procbased2)))
        return err;
    if (c->basic & VMDL_VMX_BASIC_TRUE_CTLS) {
        if ((err = check_true("PINBASED_CTLS", c->pinbased, c->true_pinbased)) ||
            (err = check_true("PROCBASED_CTLS", c->procbased, c->true_procbased)) ||
            (err = check_true("EXIT_CTLS", c->exit, c->true_exit)) ||
            (err = check_true("ENTRY_CTLS", c->entry, c->true_entry)))
            return err;
    }
    if (c->cr0_fixed0 & ~c->cr0_fixed1)
        return vmdl_fail(VMDL_EINVAL,
                         "vmdl_vmx_model_create: CR0_FIXED0 has bits CR0_FIXED1 forbids");
    if (c->cr4_fixed0 & ~c->cr4_fixed1)
        return vmdl_fail(VMDL_EINVAL,
                         "vmdl_vmx_model_create: CR4_FIXED0 has bits CR4_FIXED1 forbids");
    if (!(c->cr4_fixed0 & (1u << 13)))
        return vmdl_fail(VMDL_EINVAL,
                         "vmdl_vmx_model_create: CR4_FIXED0 must require CR4.VMXE");
    if (c->field_policy != VMDL_VMX_FIELDS_KVM && c->field_policy != VMDL_VMX_FIELDS_ARCH)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vmx_model_create: bad field_policy %d",
                         (int)c->field_policy);
    if (c->field_policy == VMDL_VMX_FIELDS_KVM)
        return check_kvm_misc(c);
    return VMDL_OK;
}

static bool field_supported(const struct vmdl_vmx_caps *c,
                            const struct vmdl_vmcs_field *f)
{
    if (c->field_policy == VMDL_VMX_FIELDS_KVM) {
        switch (f->kvm) {
        case VMDL_VMCS_KVM_ABSENT: return false;
        case VMDL_VMCS_KVM_ALWAYS: return true;
        default: break;
        }
    }
    return vmdl_vmx_caps_has(c, (enum vmdl_vmx_feature)f->feature);
}

static bool model_has_field(const struct vmdl_vmx_model *m,
                            const struct vmdl_vmcs_field *f)
{
    return f && vmdl_bitmap_test(m->supported, vmdl_vmcs_field_id(f));
}

int vmdl_vmx_model_create(const struct vmdl_vmx_caps *caps,
                          struct vmdl_vmx_model **out)
{
    if (!caps || !out)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vmx_model_create: NULL argument");
    int err = validate(caps);
    if (err)
        return err;
    struct vmdl_vmx_model *m = calloc(1, sizeof(*m));
    if (!m)
        return vmdl_fail(VMDL_ENOMEM, "vmdl_vmx_model_create: out of memory");
    m->caps = *caps;
    m->caps.name[sizeof(m->caps.name) - 1] = '\0';

    /* Step 2: the supported field set. */
    unsigned n = vmdl_vmcs_field_count();
    for (unsigned i = 0; i < n; i++) {
        const struct vmdl_vmcs_field *f = vmdl_vmcs_field_at(i);
        if (field_supported(&m->caps, f)) {
            vmdl_bitmap_set(m->supported, i);
            m->nr_supported++;
        }
    }

    /* Step 3: VMCS_ENUM from the supported set only. */
    unsigned max_idx = 0;
    for (unsigned i = 0; i < n; i++) {
        if (!vmdl_bitmap_test(m->supported, i))
            continue;
        unsigned idx = vmdl_vmcs_enc_index(vmdl_vmcs_field_at(i)->encoding);
        if (idx > max_idx)
            max_idx = idx;
    }
    m->vmcs_enum = (uint64_t)max_idx << 1;

    /* Step 4: shadow lists.  Read-only: supported fields, minus the _HIGH
     * halves (a 64-bit vCPU reads the whole field).  Read/write: supported
     * fields, and PML index / preemption timer only when the hardware has
     * them (KVM emulates both, but the CPU cannot VMWRITE a shadow field
     * that does not exist). */
    for (unsigned i = 0; i < VMDL_ARRAY_SIZE(shadow_ro_all); i++) {
        uint16_t e = shadow_ro_all[i];
        if (!model_has_field(m, vmdl_vmcs_field_lookup(e)) || (e & 1))
            continue;
        m->shadow_ro[m->nr_shadow_ro++] = e;
    }
    for (unsigned i = 0; i < VMDL_ARRAY_SIZE(shadow_rw_all); i++) {
        uint16_t e = shadow_rw_all[i];
        if (!model_has_field(m, vmdl_vmcs_field_lookup(e)))
            continue;
        if (e == 0x0812 && !vmdl_vmx_caps_has(&m->caps, VMDL_VMXF_PML))
            continue;
        if (e == 0x482e && !vmdl_vmx_caps_has(&m->caps, VMDL_VMXF_PREEMPT_TIMER))
            continue;
        m->shadow_rw[m->nr_shadow_rw++] = e;
    }

    /* Fingerprint: every MSR value the guest can observe, plus policy. */
    uint32_t crc = 0;
    for (uint32_t idx = VMDL_MSR_VMX_BASIC; idx <= VMDL_MSR_VMX_PROCBASED_CTLS3; idx++) {
        uint64_t v = 0;
        if (vmdl_vmx_model_msr(m, idx, &v))
            v = ~0ull;
        crc = vmdl_crc32(crc, &v, sizeof(v));
    }
    uint32_t extra[4] = {m->caps.phys_addr_bits, (uint32_t)m->caps.field_policy,
                         m->caps.ar_bytes_drop_reserved,
                         m->caps.launch_state_any_nonzero};
    crc = vmdl_crc32(crc, extra, sizeof(extra));
    /* The SDM options only when one is set: the fingerprints of KVM's
     * behaviour (and the blobs that carry them) stay as they were. */
    uint32_t sdm[2] = {m->caps.sdm_init_blocked_in_wait_for_sipi,
                       m->caps.sdm_activity_blocks_injection};
    if (sdm[0] || sdm[1])
        crc = vmdl_crc32(crc, sdm, sizeof(sdm));
    m->fingerprint = crc;
    *out = m;
    return VMDL_OK;
}

void vmdl_vmx_model_destroy(struct vmdl_vmx_model *m)
{
    free(m);
}

const struct vmdl_vmx_caps *vmdl_vmx_model_caps(const struct vmdl_vmx_model *m)
{
    return &m->caps;
}

bool vmdl_vmx_model_has(const struct vmdl_vmx_model *m, enum vmdl_vmx_feature f)
{
    return vmdl_vmx_caps_has(&m->caps, f);
}

const struct vmdl_vmcs_field *vmdl_vmx_model_field(const struct vmdl_vmx_model *m,
                                                   uint64_t enc)
{
    const struct vmdl_vmcs_field *f = vmdl_vmcs_field_lookup(enc);
    return model_has_field(m, f) ? f : NULL;
}

bool vmdl_vmx_model_field_supported(const struct vmdl_vmx_model *m, uint64_t enc)
{
    return vmdl_vmx_model_field(m, enc) != NULL;
}

unsigned vmdl_vmx_model_nr_supported(const struct vmdl_vmx_model *m)
{
    return m->nr_supported;
}

uint64_t vmdl_vmx_model_vmcs_enum(const struct vmdl_vmx_model *m)
{
    return m->vmcs_enum;
}

int vmdl_vmx_model_msr(const struct vmdl_vmx_model *m, uint32_t index,
                       uint64_t *value)
{
    const struct vmdl_vmx_caps *c = &m->caps;
    bool true_ctls = c->basic & VMDL_VMX_BASIC_TRUE_CTLS;
    bool sec = vmdl_vmx_caps_has(c, VMDL_VMXF_SECONDARY);
    uint64_t v;
    switch (index) {
    case VMDL_MSR_VMX_BASIC: v = c->basic; break;
    case VMDL_MSR_VMX_PINBASED_CTLS: v = c->pinbased; break;
    case VMDL_MSR_VMX_PROCBASED_CTLS: v = c->procbased; break;
    case VMDL_MSR_VMX_EXIT_CTLS: v = c->exit; break;
    case VMDL_MSR_VMX_ENTRY_CTLS: v = c->entry; break;
    case VMDL_MSR_VMX_MISC: v = c->misc; break;
    case VMDL_MSR_VMX_CR0_FIXED0: v = c->cr0_fixed0; break;
    case VMDL_MSR_VMX_CR0_FIXED1: v = c->cr0_fixed1; break;
    case VMDL_MSR_VMX_CR4_FIXED0: v = c->cr4_fixed0; break;
    case VMDL_MSR_VMX_CR4_FIXED1: v = c->cr4_fixed1; break;
    case VMDL_MSR_VMX_VMCS_ENUM: v = m->vmcs_enum; break;
    case VMDL_MSR_VMX_PROCBASED_CTLS2:
        if (!sec)
            return VMDL_ENOENT;
        v = c->procbased2;
        break;
    case VMDL_MSR_VMX_EPT_VPID_CAP:
        if (!vmdl_vmx_caps_has(c, VMDL_VMXF_EPT) && !vmdl_vmx_caps_has(c, VMDL_VMXF_VPID))
            return VMDL_ENOENT;
        v = c->ept_vpid_cap;
        break;
    case VMDL_MSR_VMX_TRUE_PINBASED_CTLS:
        if (!true_ctls)
            return VMDL_ENOENT;
        v = c->true_pinbased;
        break;
    case VMDL_MSR_VMX_TRUE_PROCBASED_CTLS:
        if (!true_ctls)
            return VMDL_ENOENT;
        v = c->true_procbased;
        break;
    case VMDL_MSR_VMX_TRUE_EXIT_CTLS:
        if (!true_ctls)
            return VMDL_ENOENT;
        v = c->true_exit;
        break;
    case VMDL_MSR_VMX_TRUE_ENTRY_CTLS:
        if (!true_ctls)
            return VMDL_ENOENT;
        v = c->true_entry;
        break;
    case VMDL_MSR_VMX_VMFUNC:
        if (!vmdl_vmx_caps_has(c, VMDL_VMXF_VMFUNC))
            return VMDL_ENOENT;
        v = c->vmfunc;
        break;
    case VMDL_MSR_VMX_PROCBASED_CTLS3:
        if (!vmdl_vmx_caps_has(c, VMDL_VMXF_TERTIARY))
            return VMDL_ENOENT;
        v = c->procbased3;
        break;
    default:
        return VMDL_ENOENT;
    }
    if (value)
        *value = v;
    return VMDL_OK;
}

unsigned vmdl_vmx_model_shadow_fields(const struct vmdl_vmx_model *m,
                                      bool read_only, const uint16_t **list)
{
    if (list)
        *list = read_only ? m->shadow_ro : m->shadow_rw;
    return read_only ? m->nr_shadow_ro : m->nr_shadow_rw;
}

uint32_t vmdl_vmx_model_fingerprint(const struct vmdl_vmx_model *m)
{
    return m->fingerprint;
}
