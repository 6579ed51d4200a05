/* SPDX-License-Identifier: MIT */
/*
 * SEV-ES VMSA features, with DebugSwap fixed at VM creation, as KVM's
 * arch/x86/kvm/svm/sev.c does it (after "KVM: SVM: Drop the module param to
 * control SEV-ES DebugSwap" and "Tag sev_supported_vmsa_features as
 * read-only after init").
 *
 * Three levels, as in KVM:
 *   module  what kvm-amd computes once at load from the CPU (sev_hardware_
 *           setup): SEV / SEV-ES usable, the supported VMSA features; never
 *           changes afterwards.  Older steps of KVM's history (a debug_swap
 *           module parameter and its defaults) are selectable.
 *   VM      KVM_SEV_INIT2 / legacy KVM_SEV_INIT and KVM_SEV_ES_INIT fix the
 *           VM's VMSA features before any vCPU exists (sev_guest_init,
 *           __sev_guest_init), with KVM's checks in KVM's order.
 *   vCPU    KVM_SEV_LAUNCH_UPDATE_VMSA copies the VM's features into the
 *           VMSA (sev_es_sync_vmsa); from then on they are frozen and part
 *           of the launch measurement.  Entry/exit swap the debug registers
 *           as the CPU does with and without DebugSwap, and the guest's
 *           SEV_STATUS MSR and DR accesses are answered.
 *
 * The ioctl-like calls (vmdl_sev_es_vm_create, vmdl_sev_es_mem_enc_op,
 * vmdl_sev_es_dev_get_attr, vmdl_sev_es_vcpu_create ...) return 0 or the
 * negative errno KVM returns (-EINVAL, -ENOTTY, -ENXIO, -EBUSY, -EIO;
 * -EFAULT for a NULL argument, as for a bad user pointer), each with a
 * message in vmdl_last_error().  Load/unload, save/load of state and the
 * accessors return 0 or a negative vmdl_err.
 *
 * Not modelled: memory encryption, the PSP firmware beyond the guest state
 * machine (UNINIT, LUPDATE, LSECRET, RUNNING), the GHCB protocol, SNP.
 * docs/sev-es.md says how the model differs from KVM.
 */
#ifndef VIRTMODEL_SEV_ES_H
#define VIRTMODEL_SEV_ES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtmodel/fault.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- architectural numbers (AMD APM vol. 2, Linux asm/svm.h, msr-index.h) */

/* VMSA SEV_FEATURES bits. */
#define VMDL_SVM_SEV_FEAT_SNP_ACTIVE (UINT64_C(1) << 0)
#define VMDL_SVM_SEV_FEAT_DEBUG_SWAP (UINT64_C(1) << 5)

/* SEV_STATUS (MSR_AMD64_SEV), read-only in the guest. */
#define VMDL_MSR_AMD64_SEV 0xc0010131u
#define VMDL_SEV_STATUS_SEV (UINT64_C(1) << 0)
#define VMDL_SEV_STATUS_SEV_ES (UINT64_C(1) << 1)
#define VMDL_SEV_STATUS_SNP (UINT64_C(1) << 2)
/* SEV_STATUS bit n + 2 reports SEV_FEATURES bit n: DebugSwap is bit 7
 * (Linux: MSR_AMD64_SNP_DEBUG_SWAP_BIT). */
#define VMDL_SEV_STATUS_DEBUG_SWAP (UINT64_C(1) << 7)

/* Breakpoint address-mask MSRs (swapped with DebugSwap). */
#define VMDL_MSR_F16H_DR0_ADDR_MASK 0xc0011027u
#define VMDL_MSR_F16H_DR1_ADDR_MASK 0xc0011019u /* DR2, DR3: +1, +2 */

/* SVM exit codes of DR7 accesses: the #VC error code an SEV-ES guest gets
 * for an intercepted MOV DR7. */
#define VMDL_SVM_EXIT_READ_DR7 0x027u
#define VMDL_SVM_EXIT_WRITE_DR7 0x037u
#define VMDL_X86_TRAP_VC 29u

/* DR6/DR7 fixed bits (KVM's DR7_FIXED_1, DR6_RESET). */
#define VMDL_DR7_FIXED_1 UINT64_C(0x400)
#define VMDL_DR7_VOLATILE UINT64_C(0xffff2bff)
#define VMDL_DR6_RESET UINT64_C(0xffff0ff0)
#define VMDL_DR6_VOLATILE UINT64_C(0x0001e80f)
/* hw_breakpoint_active(): any of G0-G3 in the host's DR7. */
#define VMDL_DR7_GLOBAL_ENABLE_MASK UINT64_C(0xaa)

/* GHCB protocol versions KVM accepts (GHCB_VERSION_MIN/MAX/DEFAULT). */
#define VMDL_SEV_GHCB_VERSION_MIN 1u
#define VMDL_SEV_GHCB_VERSION_MAX 2u
#define VMDL_SEV_GHCB_VERSION_DEFAULT 2u

/* KVM_CREATE_VM machine types (uapi asm/kvm.h). */
enum vmdl_sev_vm_type {
    VMDL_KVM_X86_DEFAULT_VM = 0,
    VMDL_KVM_X86_SW_PROTECTED_VM = 1,
    VMDL_KVM_X86_SEV_VM = 2,
    VMDL_KVM_X86_SEV_ES_VM = 3,
    VMDL_KVM_X86_SNP_VM = 4,
};

/* KVM_MEMORY_ENCRYPT_OP command ids (uapi linux/kvm.h, enum sev_cmd_id). */
enum vmdl_sev_cmd_id {
    VMDL_KVM_SEV_INIT = 0,
    VMDL_KVM_SEV_ES_INIT = 1,
    VMDL_KVM_SEV_LAUNCH_START = 2,
    VMDL_KVM_SEV_LAUNCH_UPDATE_VMSA = 4,
    VMDL_KVM_SEV_LAUNCH_MEASURE = 6,
    VMDL_KVM_SEV_LAUNCH_FINISH = 7,
    VMDL_KVM_SEV_INIT2 = 22,
};

/* KVM_GET_DEVICE_ATTR on /dev/kvm. */
#define VMDL_KVM_X86_GRP_SYSTEM 0u
#define VMDL_KVM_X86_GRP_SEV 1u
#define VMDL_KVM_X86_SEV_VMSA_FEATURES 0u

/* struct kvm_sev_init, the argument of KVM_SEV_INIT2. */
struct vmdl_sev_init {
    uint64_t vmsa_features;
    uint32_t flags;
    uint16_t ghcb_version;
    uint16_t pad1;
    uint32_t pad2[8];
};

/* ---- the modelled host CPU and kvm-amd load ---- */

struct vmdl_sev_es_cpu {
    bool sev;                /* CPUID 0x8000001F EAX[1] */
    bool sev_es;             /* CPUID 0x8000001F EAX[3] */
    bool debug_swap;         /* CPUID 0x8000001F EAX[14] (X86_FEATURE_DEBUG_SWAP) */
    bool no_nested_data_bp;  /* CPUID 0x80000021 EAX[0] */
    uint32_t max_sev_asid;   /* CPUID 0x8000001F ECX: ASIDs 1..max */
    uint32_t min_sev_asid;   /* CPUID 0x8000001F EDX: first SEV (non-ES) ASID */
};

/* The description from raw CPUID words (bit positions as Linux reads them). */
void vmdl_sev_es_cpu_from_cpuid(uint32_t eax_8000001f, uint32_t ecx_8000001f,
                                uint32_t edx_8000001f, uint32_t eax_80000021,
                                struct vmdl_sev_es_cpu *cpu);
/* A Milan/Genoa-like CPU: SEV, SEV-ES, DebugSwap, NoNestedDataBp,
 * ASIDs 1..509 with SEV-ES ASIDs 1..99. */
void vmdl_sev_es_cpu_default(struct vmdl_sev_es_cpu *cpu);

/*
 * The steps of KVM's DebugSwap history.  VMDL_SEV_ES_STEP_CURRENT is KVM
 * today and the default; every other step is a quirk reproducing an older
 * kernel:
 *   ENABLED    d1f85fbe836e "KVM: SEV: Enable data breakpoints in SEV-ES":
 *              debug_swap module parameter, default on; every SEV-ES VM gets
 *              DebugSwap, the VMM cannot ask otherwise (no KVM_SEV_INIT2, no
 *              VM types, no KVM_X86_SEV_VMSA_FEATURES attribute).
 *   DEFAULT_OFF 5abf6dceb066 "SEV: disable SEV-ES DebugSwap by default":
 *              the same, parameter default off.
 *   INIT2      4f5defae7089 "KVM: SEV: introduce KVM_SEV_INIT2 operation":
 *              the VMM chooses through KVM_SEV_INIT2; legacy KVM_SEV_ES_INIT
 *              gets no VMSA features; parameter still default off, so
 *              DebugSwap is supported only with debug_swap=1.
 *   REENABLED  4dd5ecacb9a4 "KVM: SEV: allow SEV-ES DebugSwap again":
 *              parameter default on again.
 *   CURRENT    9587dd7a7ebd + d23051f59a5b: no parameter; the supported set
 *              comes from the CPU alone and is read-only after init.
 */
enum vmdl_sev_es_step {
    VMDL_SEV_ES_STEP_CURRENT = 0,
    VMDL_SEV_ES_STEP_ENABLED,
    VMDL_SEV_ES_STEP_DEFAULT_OFF,
    VMDL_SEV_ES_STEP_INIT2,
    VMDL_SEV_ES_STEP_REENABLED,
    VMDL_SEV_ES_STEP_COUNT
};

/* "current", "enabled", "default-off", "init2", "reenabled". */
const char *vmdl_sev_es_step_name(enum vmdl_sev_es_step step);
/* Returns 0 and *step, or VMDL_ENOENT for an unknown name. */
int vmdl_sev_es_step_from_name(const char *name, enum vmdl_sev_es_step *step);
/* Whether a step has the debug_swap parameter / KVM_SEV_INIT2 and VM types. */
bool vmdl_sev_es_step_has_param(enum vmdl_sev_es_step step);
bool vmdl_sev_es_step_has_init2(enum vmdl_sev_es_step step);

/* kvm-amd module parameters given at load. */
struct vmdl_sev_es_load_params {
    enum vmdl_sev_es_step step;
    bool sev_off;        /* kvm_amd.sev=0 */
    bool sev_es_off;     /* kvm_amd.sev_es=0 */
    /* kvm_amd.debug_swap: -1 the step's default, 0 or 1.  A step without
     * the parameter ignores it, as the kernel ignores an unknown module
     * parameter (vmdl_sev_es_module_param_ignored() reports it). */
    int debug_swap;
};
void vmdl_sev_es_load_params_init(struct vmdl_sev_es_load_params *p);

struct vmdl_sev_es_module;

/* "Load kvm-amd": run sev_hardware_setup once over `cpu`.  VMDL_EINVAL for
 * NULL arguments, a step out of range or debug_swap outside -1..1. */
int vmdl_sev_es_module_load(const struct vmdl_sev_es_cpu *cpu,
                            const struct vmdl_sev_es_load_params *params,
                            struct vmdl_sev_es_module **out);
/* VMDL_ESTATE while VMs of the module exist (the module is in use). */
int vmdl_sev_es_module_unload(struct vmdl_sev_es_module *m);

bool vmdl_sev_es_module_sev_enabled(const struct vmdl_sev_es_module *m);
bool vmdl_sev_es_module_sev_es_enabled(const struct vmdl_sev_es_module *m);
uint64_t vmdl_sev_es_module_supported_vmsa_features(const struct vmdl_sev_es_module *m);
/* The effective debug_swap parameter (false in steps without one). */
bool vmdl_sev_es_module_debug_swap_param(const struct vmdl_sev_es_module *m);
bool vmdl_sev_es_module_param_ignored(const struct vmdl_sev_es_module *m);
enum vmdl_sev_es_step vmdl_sev_es_module_step(const struct vmdl_sev_es_module *m);

/* Attempts to change module state after load: always refused with
 * VMDL_ESTATE and the state left as it was (sev_supported_vmsa_features is
 * __ro_after_init; every parameter is 0444). */
int vmdl_sev_es_module_set_supported_vmsa_features(struct vmdl_sev_es_module *m,
                                                   uint64_t features);
int vmdl_sev_es_module_set_param(struct vmdl_sev_es_module *m, const char *name,
                                 int value);

/* KVM_GET_DEVICE_ATTR on /dev/kvm (sev_dev_get_attr): 0 and *val for
 * (KVM_X86_GRP_SEV, KVM_X86_SEV_VMSA_FEATURES) in steps that have it;
 * -ENXIO otherwise. */
int vmdl_sev_es_dev_get_attr(const struct vmdl_sev_es_module *m, uint32_t group,
                             uint64_t attr, uint64_t *val);

/* ---- VMs ---- */

struct vmdl_sev_es_vm;
struct vmdl_sev_es_vcpu;

/* KVM_CREATE_VM(type): -EINVAL for a type the module does not support
 * (SEV types need SEV / SEV-ES enabled and a step with VM types; SNP and
 * SW_PROTECTED are not modelled). */
int vmdl_sev_es_vm_create(struct vmdl_sev_es_module *m, unsigned type,
                          struct vmdl_sev_es_vm **out);
void vmdl_sev_es_vm_destroy(struct vmdl_sev_es_vm *vm);

/*
 * KVM_MEMORY_ENCRYPT_OP (sev_mem_enc_ioctl).  `init` is the argument of
 * KVM_SEV_INIT2 (NULL: -EFAULT) and ignored by the other commands; a
 * launch command the modelled firmware refuses fails with -EIO.  Modelled commands: INIT, ES_INIT, INIT2, LAUNCH_START,
 * LAUNCH_UPDATE_VMSA, LAUNCH_MEASURE, LAUNCH_FINISH; any other id: -EINVAL.
 */
int vmdl_sev_es_mem_enc_op(struct vmdl_sev_es_vm *vm, uint32_t id,
                           const struct vmdl_sev_init *init);

unsigned vmdl_sev_es_vm_type(const struct vmdl_sev_es_vm *vm);
bool vmdl_sev_es_vm_active(const struct vmdl_sev_es_vm *vm);     /* sev_guest() */
bool vmdl_sev_es_vm_es_active(const struct vmdl_sev_es_vm *vm);  /* sev_es_guest() */
bool vmdl_sev_es_vm_need_init(const struct vmdl_sev_es_vm *vm);
uint64_t vmdl_sev_es_vm_vmsa_features(const struct vmdl_sev_es_vm *vm);
unsigned vmdl_sev_es_vm_ghcb_version(const struct vmdl_sev_es_vm *vm);
unsigned vmdl_sev_es_vm_asid(const struct vmdl_sev_es_vm *vm);
unsigned vmdl_sev_es_vm_nr_vcpus(const struct vmdl_sev_es_vm *vm);
struct vmdl_sev_es_vcpu *vmdl_sev_es_vm_vcpu(struct vmdl_sev_es_vm *vm, unsigned i);

/* Firmware guest states (SEV API "Guest states"). */
enum vmdl_sev_fw_state {
    VMDL_SEV_FW_UNINIT = 0,
    VMDL_SEV_FW_LUPDATE,
    VMDL_SEV_FW_LSECRET,
    VMDL_SEV_FW_RUNNING,
};
enum vmdl_sev_fw_state vmdl_sev_es_vm_fw_state(const struct vmdl_sev_es_vm *vm);

/*
 * Launch measurement input: the SEV_FEATURES of every VMSA measured by
 * LAUNCH_UPDATE_VMSA, in order (the part of the launch digest this model
 * knows).  Returns the number of records; copies at most `max`.  The digest
 * is FNV-1a 64 over (vCPU index, SEV_FEATURES) records: not the PSP's
 * SHA-256/HMAC, but equal exactly when the inputs are.
 */
size_t vmdl_sev_es_launch_inputs(const struct vmdl_sev_es_vm *vm,
                                 uint64_t *features, size_t max);
uint64_t vmdl_sev_es_launch_digest(const struct vmdl_sev_es_vm *vm);

/* ---- vCPUs ---- */

/* KVM_CREATE_VCPU: the VMSA starts at reset (DR7 0x400, DR6 0xffff0ff0). */
int vmdl_sev_es_vcpu_create(struct vmdl_sev_es_vm *vm,
                            struct vmdl_sev_es_vcpu **out);

/* The debug registers of a VMSA or of the host CPU. */
struct vmdl_sev_es_dregs {
    uint64_t dr[4];
    uint64_t dr6, dr7;
    uint32_t addr_mask[4]; /* DR0-3 address masks (MSRs) */
};

/* KVM_SET_DEBUGREGS (DR0-3, DR6, DR7; addr_mask is ignored, KVM has no
 * interface for it): -EINVAL for DR6/DR7 bits 63:32 and, once the guest
 * state is protected, for VM types with protected state; a legacy
 * (KVM_X86_DEFAULT_VM) SEV-ES VM accepts it with no effect on the VMSA.
 * KVM_SET_GUEST_DEBUG: -EINVAL once protected; before, it makes
 * LAUNCH_UPDATE_VMSA fail. */
int vmdl_sev_es_vcpu_set_debugregs(struct vmdl_sev_es_vcpu *v,
                                   const struct vmdl_sev_es_dregs *d);
int vmdl_sev_es_vcpu_set_guest_debug(struct vmdl_sev_es_vcpu *v, bool enable);

bool vmdl_sev_es_vcpu_protected(const struct vmdl_sev_es_vcpu *v);
/* The VMSA's SEV_FEATURES (0 until launch; frozen afterwards). */
uint64_t vmdl_sev_es_vcpu_sev_features(const struct vmdl_sev_es_vcpu *v);
/* The VMSA's debug registers as saved at the last exit. */
void vmdl_sev_es_vcpu_vmsa_dregs(const struct vmdl_sev_es_vcpu *v,
                                 struct vmdl_sev_es_dregs *out);

/* The physical CPU's debug registers: what the host kernel set (call while
 * the vCPU is not running) and what is live now. */
int vmdl_sev_es_vcpu_set_host_dregs(struct vmdl_sev_es_vcpu *v,
                                    const struct vmdl_sev_es_dregs *d);
void vmdl_sev_es_vcpu_live_dregs(const struct vmdl_sev_es_vcpu *v,
                                 struct vmdl_sev_es_dregs *out);
bool vmdl_sev_es_vcpu_running(const struct vmdl_sev_es_vcpu *v);

/*
 * World switch.  enter: KVM's sev_es_prepare_switch_to_guest (save the host
 * address masks when DebugSwap is on) then VMRUN (DR7/DR6 swapped as type A;
 * with DebugSwap DR0-3 and the masks loaded from the VMSA).  exit: #VMEXIT
 * (guest values saved into the VMSA, host DR7/DR6 and, with DebugSwap, the
 * masks and DR0-3 loaded from the host save area) then KVM's
 * hw_breakpoint_restore() when the host has breakpoints armed.
 * enter: -EINVAL when the VM still needs KVM_SEV_INIT2 (svm_vcpu_pre_run)
 * or an SEV-ES vCPU was never launched; VMDL_ESTATE when already running.
 */
int vmdl_sev_es_vcpu_enter(struct vmdl_sev_es_vcpu *v);
int vmdl_sev_es_vcpu_exit(struct vmdl_sev_es_vcpu *v);

/* Guest RDMSR/WRMSR: SEV_STATUS reads the VM's and VMSA's bits and #GPs on
 * write; VMDL_FAULT_UNCLAIMED for any other MSR. */
vmdl_fault vmdl_sev_es_rdmsr(const struct vmdl_sev_es_vcpu *v, uint32_t index,
                             uint64_t *value);
vmdl_fault vmdl_sev_es_wrmsr(struct vmdl_sev_es_vcpu *v, uint32_t index,
                             uint64_t value);
uint64_t vmdl_sev_es_sev_status(const struct vmdl_sev_es_vcpu *v);

/*
 * Guest MOV to/from DRn while running (n = 0..7; DR4/DR5 alias DR6/DR7
 * unless cr4_de, then #UD).  DR0-3 and DR6 are never intercepted for an
 * SEV-ES guest; DR7 is, unless DebugSwap: then VMDL_FAULT_VC and
 * *vc_code = SVM_EXIT_READ_DR7 / SVM_EXIT_WRITE_DR7, nothing changed.
 * Writing bits 63:32 of DR6/DR7 is #GP.  Not running: VMDL_FAULT_UNCLAIMED.
 */
vmdl_fault vmdl_sev_es_mov_dr(struct vmdl_sev_es_vcpu *v, bool write,
                              unsigned dr, bool cr4_de, uint64_t *value,
                              uint32_t *vc_code);

/* The hypervisor's side of a DR7 VMGEXIT (dr_interception): KVM returns at
 * once for SEV-ES guests, so nothing changes; returns 0. */
int vmdl_sev_es_vmgexit_dr7(struct vmdl_sev_es_vcpu *v, bool write, uint64_t rax);

/* ---- state ---- */

/* Versioned blob of one VM (its VM-level state and every vCPU).  Load
 * refuses (VMDL_EBADBLOB / VMDL_EVERSION, VM unchanged) a malformed blob,
 * one of another step or VM type, another vCPU count, features this module
 * does not support, or inconsistent state; VMDL_ESTATE while a vCPU runs. */
int vmdl_sev_es_vm_save(const struct vmdl_sev_es_vm *vm, uint8_t **blob,
                        size_t *len);
int vmdl_sev_es_vm_load(struct vmdl_sev_es_vm *vm, const void *blob, size_t len);

#ifdef __cplusplus
}
#endif
#endif
