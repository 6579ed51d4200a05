/* SPDX-License-Identifier: MIT */
/*
 * The modelled VMX "hardware": a capability profile (the values of the VMX
 * capability MSRs 0x480-0x492) and the model built from it.
 *
 * Building a model sanitizes in KVM's order (nested_vmx_hardware_setup):
 *   1. validate the profile;
 *   2. compute the supported vmcs12 field set from the profile's features
 *      (a field whose feature the profile lacks is unsupported: VMREAD and
 *      VMWRITE of it fail exactly like an unknown encoding, error 12);
 *   3. THEN compute IA32_VMX_VMCS_ENUM bits 9:1 as the highest field index
 *      among the supported fields (nested_vmx_calc_vmcs_enum_msr), and only
 *      then expose the capability MSRs;
 *   4. filter the shadow-VMCS read/write and read-only field lists
 *      (vmcs_shadow_fields.h) to supported fields.
 */
#ifndef VIRTMODEL_VMX_CAPS_H
#define VIRTMODEL_VMX_CAPS_H

#include <stdbool.h>
#include <stdint.h>

#include "virtmodel/vmx_fields.h"

#ifdef __cplusplus
extern "C" {
#endif

/* VMX MSR indices. */
#define VMDL_MSR_IA32_FEATURE_CONTROL 0x3Au
#define VMDL_MSR_VMX_BASIC 0x480u
#define VMDL_MSR_VMX_PINBASED_CTLS 0x481u
#define VMDL_MSR_VMX_PROCBASED_CTLS 0x482u
#define VMDL_MSR_VMX_EXIT_CTLS 0x483u
#define VMDL_MSR_VMX_ENTRY_CTLS 0x484u
#define VMDL_MSR_VMX_MISC 0x485u
#define VMDL_MSR_VMX_CR0_FIXED0 0x486u
#define VMDL_MSR_VMX_CR0_FIXED1 0x487u
#define VMDL_MSR_VMX_CR4_FIXED0 0x488u
#define VMDL_MSR_VMX_CR4_FIXED1 0x489u
#define VMDL_MSR_VMX_VMCS_ENUM 0x48Au
#define VMDL_MSR_VMX_PROCBASED_CTLS2 0x48Bu
#define VMDL_MSR_VMX_EPT_VPID_CAP 0x48Cu
#define VMDL_MSR_VMX_TRUE_PINBASED_CTLS 0x48Du
#define VMDL_MSR_VMX_TRUE_PROCBASED_CTLS 0x48Eu
#define VMDL_MSR_VMX_TRUE_EXIT_CTLS 0x48Fu
#define VMDL_MSR_VMX_TRUE_ENTRY_CTLS 0x490u
#define VMDL_MSR_VMX_VMFUNC 0x491u
#define VMDL_MSR_VMX_PROCBASED_CTLS3 0x492u

/* IA32_VMX_BASIC bits. */
#define VMDL_VMX_BASIC_REVISION_MASK 0x7FFFFFFFull
#define VMDL_VMX_BASIC_SIZE_SHIFT 32
#define VMDL_VMX_BASIC_MEMTYPE_WB (6ull << 50)
#define VMDL_VMX_BASIC_INOUT (1ull << 54)
#define VMDL_VMX_BASIC_TRUE_CTLS (1ull << 55)
#define VMDL_VMX_BASIC_NO_HW_ERRCODE (1ull << 56)
/* IA32_VMX_MISC bit 29: VMWRITE may write any supported field, including
 * the VM-exit information (read-only) fields. */
#define VMDL_VMX_MISC_VMWRITE_ANY (1ull << 29)
/* Other IA32_VMX_MISC bits and fields (SDM Vol. 3D A.6). */
#define VMDL_VMX_MISC_PREEMPT_RATE_MASK 0x1Full      /* bits 4:0 */
#define VMDL_VMX_MISC_SAVE_EFER_LMA (1ull << 5)
#define VMDL_VMX_MISC_ACTIVITY_HLT (1ull << 6)
#define VMDL_VMX_MISC_ACTIVITY_SHUTDOWN (1ull << 7)
#define VMDL_VMX_MISC_ACTIVITY_WAIT_SIPI (1ull << 8)
#define VMDL_VMX_MISC_CR3_COUNT(m) ((unsigned)(((m) >> 16) & 0x1ff))
#define VMDL_VMX_MISC_MAX_MSR(m) ((unsigned)(((m) >> 25) & 7))
#define VMDL_VMX_MISC_MSEG_REVID(m) ((uint32_t)((m) >> 32))
/* The preemption-timer rate KVM emulates and reports to L1. */
#define VMDL_VMX_MISC_KVM_PREEMPT_RATE 5u

/*
 * IA32_VMX_MISC as KVM reports it to L1, from the host's value (Linux
 * arch/x86/kvm/vmx/nested.c, nested_vmx_setup_misc_data): the host's
 * SAVE_EFER_LMA bit, plus VMWRITE to any field, the emulated preemption-timer
 * rate 5 and the HLT and wait-for-SIPI activity states; nothing else (no
 * CR3-target values, no shutdown activity, bits 63:32 zero).  0x20000165
 * with bit 5, 0x20000145 without.
 */
uint64_t vmdl_vmx_kvm_misc(uint64_t host_misc);

/* Which fields a model supports. */
enum vmdl_vmx_field_policy {
    /* KVM's vmcs12 today: the fields KVM holds, hardware-gated as in
     * cpu_has_vmcs12_field() (PML and preemption timer always present,
     * no CR3-target values, no tertiary controls field). */
    VMDL_VMX_FIELDS_KVM = 0,
    /* Architectural: every field in the table whose feature the profile
     * enumerates, including those KVM does not hold. */
    VMDL_VMX_FIELDS_ARCH = 1,
};

/* The control MSR pairs a builder can change (allowed-1 bits). */
enum vmdl_vmx_ctl {
    VMDL_VMX_CTL_PINBASED,
    VMDL_VMX_CTL_PROCBASED,
    VMDL_VMX_CTL_PROCBASED2,
    VMDL_VMX_CTL_EXIT,
    VMDL_VMX_CTL_ENTRY,
};

/*
 * A capability profile.  Control MSRs hold allowed-0 settings in bits 31:0
 * and allowed-1 settings in bits 63:32; procbased3 is the 64-bit allowed-1
 * mask of MSR 0x492.  vmcs_enum is not part of a profile: it is computed.
 */
struct vmdl_vmx_caps {
    char name[32];
    uint64_t basic;
    uint64_t pinbased, procbased, exit, entry;
    uint64_t true_pinbased, true_procbased, true_exit, true_entry;
    uint64_t misc;
    uint64_t cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1;
    uint64_t procbased2;
    uint64_t ept_vpid_cap;
    uint64_t vmfunc;
    uint64_t procbased3;
    unsigned phys_addr_bits;          /* MAXPHYADDR (32..52) */
    enum vmdl_vmx_field_policy field_policy;
    /* VMWRITE to a guest AR-bytes field drops the reserved bits (keeps
     * 0x1F0FF) as KVM does on every host; false: stored as written. */
    bool ar_bytes_drop_reserved;
    /* Launch-state check of VMLAUNCH/VMRESUME.  false (default, KVM's
     * nested_vmx_run): fail only when the vmcs12 launch-state word equals
     * the instruction's expectation exactly (VMLAUNCH: word == 1 -> error 4;
     * VMRESUME: word == 0 -> error 5), so a word holding any other value
     * passes both.  true: any non-zero word counts as launched (VMLAUNCH
     * of such a region fails with error 4). */
    bool launch_state_any_nonzero;
    /* Where KVM and the SDM differ on an L2 in the wait-for-SIPI activity
     * state (KVM the default, the SDM's behaviour named here):
     *  - sdm_init_blocked_in_wait_for_sipi: an INIT reaching it stays
     *    pending, blocked (SDM Vol. 3C 26.2: INIT is blocked in
     *    wait-for-SIPI and causes no VM exit), so it is a VM exit once L2
     *    is active again, or acts after VMXOFF.  false (KVM's
     *    vmx_check_nested_events): the INIT is consumed without an exit.
     *  - sdm_activity_blocks_injection: VM entry checks the event to
     *    inject against the activity state (SDM 27.3.1.5): none in
     *    wait-for-SIPI; in HLT only an external interrupt, NMI, #DB, #MC
     *    or a pending MTF VM exit; else VM-entry failure, reason 33,
     *    qualification 0.  false (KVM's nested_check_guest_non_reg_state
     *    checks only the state's value): such entries enter. */
    bool sdm_init_blocked_in_wait_for_sipi;
    bool sdm_activity_blocks_injection;
};

/* ---- named profiles ---- */
unsigned vmdl_vmx_profile_count(void);
const char *vmdl_vmx_profile_name(unsigned i);
/* Copy a named profile into *caps (NULL = "sapphire-rapids").  What a KVM
 * L1 sees on such a host (KVM's BASIC and MISC, the part's controls):
 * "sapphire-rapids", "skylake", "broadwell", "nehalem", "core2".  What the
 * bare hardware reports (architectural field set, the CPU's own
 * IA32_VMX_MISC and IA32_VMX_BASIC): "skylake-bare", "core2-bare".  Every
 * MSR as KVM's nested_vmx_setup_ctls_msrs computes it for L1 on the
 * sapphire-rapids host (fewer secondary controls and EPT/VPID features,
 * no tertiary controls): "sapphire-rapids-l1". */
int vmdl_vmx_profile_get(const char *name, struct vmdl_vmx_caps *caps);

/* ---- custom profile builder ---- */
/* Allow (on) or forbid a control bit: sets/clears the allowed-1 bit in the
 * MSR and its TRUE_ twin; forbidding also clears the allowed-0 bit. */
int vmdl_vmx_caps_set_allowed1(struct vmdl_vmx_caps *caps, enum vmdl_vmx_ctl ctl,
                               unsigned bit, bool on);
/* Whether a control bit may be 1. */
bool vmdl_vmx_caps_allowed1(const struct vmdl_vmx_caps *caps,
                            enum vmdl_vmx_ctl ctl, unsigned bit);
/* Does the profile enumerate this feature? */
bool vmdl_vmx_caps_has(const struct vmdl_vmx_caps *caps, enum vmdl_vmx_feature f);

/* ---- the model built from a profile (immutable, shareable) ---- */
struct vmdl_vmx_model;

/* Validate and sanitize caps into a model (steps 1-4 above).  VMDL_EINVAL
 * with a message naming the bad MSR when the profile is inconsistent.  With
 * the KVM field policy IA32_VMX_MISC must also be one KVM would accept from
 * userspace (vmx_restore_vmx_misc against its own value): no CR3-target
 * values, no MSR-list size beyond 512, MSEG revision 0, no reserved bits or
 * feature bits KVM lacks, and rate 5 when the preemption timer is allowed. */
int vmdl_vmx_model_create(const struct vmdl_vmx_caps *caps,
                          struct vmdl_vmx_model **out);
void vmdl_vmx_model_destroy(struct vmdl_vmx_model *m);
const struct vmdl_vmx_caps *vmdl_vmx_model_caps(const struct vmdl_vmx_model *m);
bool vmdl_vmx_model_has(const struct vmdl_vmx_model *m, enum vmdl_vmx_feature f);
/* The supported entry for an encoding, NULL when unknown or unsupported. */
const struct vmdl_vmcs_field *vmdl_vmx_model_field(const struct vmdl_vmx_model *m,
                                                   uint64_t enc);
bool vmdl_vmx_model_field_supported(const struct vmdl_vmx_model *m, uint64_t enc);
unsigned vmdl_vmx_model_nr_supported(const struct vmdl_vmx_model *m);
uint64_t vmdl_vmx_model_vmcs_enum(const struct vmdl_vmx_model *m);
/* A capability MSR (0x480-0x492) as the guest reads it: 0 and *value, or
 * VMDL_ENOENT when the profile does not enumerate that MSR (RDMSR #GP). */
int vmdl_vmx_model_msr(const struct vmdl_vmx_model *m, uint32_t index,
                       uint64_t *value);
/* Shadow-VMCS field lists after filtering (encodings, KVM's order). */
unsigned vmdl_vmx_model_shadow_fields(const struct vmdl_vmx_model *m,
                                      bool read_only, const uint16_t **list);
/* Fingerprint of the sanitized MSR values (checked by state import). */
uint32_t vmdl_vmx_model_fingerprint(const struct vmdl_vmx_model *m);

#ifdef __cplusplus
}
#endif
#endif
