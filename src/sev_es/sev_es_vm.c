/* SPDX-License-Identifier: MIT */
/*
 * SEV-ES model, VM level: KVM_CREATE_VM types, KVM_MEMORY_ENCRYPT_OP
 * (sev_mem_enc_ioctl) with the init commands (sev_guest_init,
 * sev_guest_init2, __sev_guest_init) and the launch commands, the launch
 * measurement input.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sev_es_priv.h"
#include "virtmodel/error.h"

static bool type_supported(const struct vmdl_sev_es_module *m, unsigned type)
{
    if (type == VMDL_KVM_X86_DEFAULT_VM)
        return true;
    if (!vmdl_sev_es_step_has_init2(m->step))
        return false; /* VM types came with KVM_SEV_INIT2 */
    if (type == VMDL_KVM_X86_SEV_VM)
        return m->sev_enabled;
    if (type == VMDL_KVM_X86_SEV_ES_VM)
        return m->sev_es_enabled;
    return false; /* SW_PROTECTED and SNP are not modelled */
}

int vmdl_sev_es_vm_create(struct vmdl_sev_es_module *m, unsigned type,
                          struct vmdl_sev_es_vm **out)
{
    if (!m || !out)
        return vmdl_fail(-EFAULT, "vmdl_sev_es_vm_create: NULL %s",
                         !m ? "module" : "out");
    if (!type_supported(m, type))
        return vmdl_fail(-EINVAL, "KVM_CREATE_VM: type %u not supported "
                         "(step '%s', SEV %s, SEV-ES %s)", type,
                         vmdl_sev_es_step_name(m->step),
                         m->sev_enabled ? "on" : "off",
                         m->sev_es_enabled ? "on" : "off");
    struct vmdl_sev_es_vm *vm = calloc(1, sizeof(*vm));
    if (!vm)
        return vmdl_fail(VMDL_ENOMEM, "vmdl_sev_es_vm_create: out of memory");
    vm->m = m;
    vm->type = type;
    /* sev_vm_init: a VM of an SEV type cannot run before KVM_SEV_INIT2. */
    vm->need_init = type != VMDL_KVM_X86_DEFAULT_VM;
    vm->digest = vmdl__sev_es_digest_init();
    m->nr_vms++;
    *out = vm;
    return 0;
}

void vmdl_sev_es_vm_destroy(struct vmdl_sev_es_vm *vm)
{
    if (!vm)
        return;
    if (vm->active)
        vmdl__sev_es_asid_free(vm->m, vm->asid);
    for (unsigned i = 0; i < vm->nr_vcpus; i++)
        free(vm->vcpus[i]);
    vm->m->nr_vms--;
    free(vm);
}

/* Legacy KVM_SEV_ES_INIT: every VMSA feature the module supports before
 * KVM_SEV_INIT2 existed (the debug_swap parameter decided), none after. */
static uint64_t legacy_es_features(const struct vmdl_sev_es_vm *vm)
{
    return vmdl_sev_es_step_has_init2(vm->m->step)
               ? 0 : vm->m->supported_vmsa_features;
}

/* __sev_guest_init: the checks, in KVM's order, then the ASID. */
static int guest_init(struct vmdl_sev_es_vm *vm, const struct vmdl_sev_init *d,
                      unsigned vm_type, uint64_t legacy_features)
{
    bool es = vm_type != VMDL_KVM_X86_SEV_VM;
    uint64_t valid = es ? vm->m->supported_vmsa_features : 0;
    if (vm->nr_vcpus)
        return vmdl_fail(-EINVAL, "SEV init: %u vCPU(s) already created",
                         vm->nr_vcpus);
    if (d->flags)
        return vmdl_fail(-EINVAL, "SEV init: flags 0x%x must be 0", d->flags);
    if (d->vmsa_features & ~valid)
        return vmdl_fail(-EINVAL, "SEV init: vmsa_features 0x%llx not a subset "
                         "of 0x%llx", (unsigned long long)d->vmsa_features,
                         (unsigned long long)valid);
    if (d->ghcb_version > VMDL_SEV_GHCB_VERSION_MAX || (!es && d->ghcb_version))
        return vmdl_fail(-EINVAL, "SEV init: ghcb_version %u (max %u, 0 for SEV)",
                         d->ghcb_version, VMDL_SEV_GHCB_VERSION_MAX);
    if (vm->active)
        return vmdl_fail(-EINVAL, "SEV init: the VM is already initialized");
    unsigned asid;
    int err = vmdl__sev_es_asid_new(vm->m, es, &asid);
    if (err)
        return err;
    vm->active = true;
    vm->es_active = es;
    vm->vmsa_features = d->vmsa_features | legacy_features;
    vm->ghcb_version = d->ghcb_version;
    if (es && !vm->ghcb_version)
        vm->ghcb_version = VMDL_SEV_GHCB_VERSION_DEFAULT;
    vm->asid = asid;
    vm->need_init = false;
    return 0;
}

/* sev_guest_init: KVM_SEV_INIT / KVM_SEV_ES_INIT on a default-type VM. */
static int legacy_init(struct vmdl_sev_es_vm *vm, uint32_t id)
{
    struct vmdl_sev_init d;
    memset(&d, 0, sizeof(d));
    if (vm->type != VMDL_KVM_X86_DEFAULT_VM)
        return vmdl_fail(-EINVAL, "KVM_SEV_%sINIT on a VM of type %u (use "
                         "KVM_SEV_INIT2)", id == VMDL_KVM_SEV_ES_INIT ? "ES_" : "",
                         vm->type);
    unsigned t = id == VMDL_KVM_SEV_INIT ? VMDL_KVM_X86_SEV_VM : VMDL_KVM_X86_SEV_ES_VM;
    uint64_t legacy = 0;
    if (t == VMDL_KVM_X86_SEV_ES_VM) {
        /* Deprecated: only the minimal GHCB protocol version. */
        d.ghcb_version = VMDL_SEV_GHCB_VERSION_MIN;
        legacy = legacy_es_features(vm);
    }
    return guest_init(vm, &d, t, legacy);
}

/* sev_guest_init2 */
static int init2(struct vmdl_sev_es_vm *vm, const struct vmdl_sev_init *d)
{
    if (!vm->need_init)
        return vmdl_fail(-EINVAL, "KVM_SEV_INIT2: the VM does not need init "
                         "(type %u, %s)", vm->type,
                         vm->active ? "already initialized" : "default type");
    if (vm->type != VMDL_KVM_X86_SEV_VM && vm->type != VMDL_KVM_X86_SEV_ES_VM)
        return vmdl_fail(-EINVAL, "KVM_SEV_INIT2: VM type %u", vm->type);
    if (!d)
        return vmdl_fail(-EFAULT, "KVM_SEV_INIT2: NULL struct kvm_sev_init");
    return guest_init(vm, d, vm->type, 0);
}

static int launch_start(struct vmdl_sev_es_vm *vm)
{
    if (!vm->active)
        return vmdl_fail(-ENOTTY, "KVM_SEV_LAUNCH_START: not an SEV guest");
    if (vm->fw != VMDL_SEV_FW_UNINIT)
        return vmdl_fail(-EIO, "KVM_SEV_LAUNCH_START: firmware refuses, the "
                         "ASID is already bound to a launch");
    vm->fw = VMDL_SEV_FW_LUPDATE;
    return 0;
}

/* sev_es_sync_vmsa: the pre-encryption checks, then SEV_FEATURES. */
static int sync_vmsa(struct vmdl_sev_es_vcpu *v)
{
    if (v->guest_debug)
        return vmdl_fail(-EINVAL, "KVM_SEV_LAUNCH_UPDATE_VMSA: vCPU %u has "
                         "KVM_SET_GUEST_DEBUG", v->index);
    if (v->vmsa.dr7 & ~VMDL_DR7_FIXED_1)
        return vmdl_fail(-EINVAL, "KVM_SEV_LAUNCH_UPDATE_VMSA: vCPU %u DR7 "
                         "0x%llx has bits besides 0x400", v->index,
                         (unsigned long long)v->vmsa.dr7);
    v->sev_features = v->vm->vmsa_features;
    /* The VMSA's address masks come from the VMCB save area: zero. */
    memset(v->vmsa.addr_mask, 0, sizeof(v->vmsa.addr_mask));
    return 0;
}

static void measure(struct vmdl_sev_es_vm *vm, const struct vmdl_sev_es_vcpu *v)
{
    if (vm->nr_measured < SEV_ES_MAX_RECORDS) {
        vm->measured[vm->nr_measured] = v->sev_features;
        vm->measured_vcpu[vm->nr_measured] = (uint16_t)v->index;
    }
    if (vm->nr_measured < UINT32_MAX)
        vm->nr_measured++;
    vm->digest = vmdl__sev_es_digest_add(vm->digest, v->index, v->sev_features);
}

/* sev_launch_update_vmsa: vCPU by vCPU, stopping at the first failure
 * (earlier vCPUs stay launched, as in KVM). */
static int launch_update_vmsa(struct vmdl_sev_es_vm *vm)
{
    if (!vm->es_active)
        return vmdl_fail(-ENOTTY, "KVM_SEV_LAUNCH_UPDATE_VMSA: not an SEV-ES "
                         "guest");
    if (vm->fw != VMDL_SEV_FW_LUPDATE)
        return vmdl_fail(-EIO, "KVM_SEV_LAUNCH_UPDATE_VMSA: firmware guest "
                         "state is not LUPDATE");
    for (unsigned i = 0; i < vm->nr_vcpus; i++) {
        struct vmdl_sev_es_vcpu *v = vm->vcpus[i];
        int err = sync_vmsa(v);
        if (err)
            return err;
        measure(vm, v);
        v->protected_state = true;
    }
    return 0;
}

static int launch_measure(struct vmdl_sev_es_vm *vm)
{
    if (!vm->active)
        return vmdl_fail(-ENOTTY, "KVM_SEV_LAUNCH_MEASURE: not an SEV guest");
    if (vm->fw != VMDL_SEV_FW_LUPDATE)
        return vmdl_fail(-EIO, "KVM_SEV_LAUNCH_MEASURE: firmware guest state "
                         "is not LUPDATE");
    vm->fw = VMDL_SEV_FW_LSECRET;
    return 0;
}

static int launch_finish(struct vmdl_sev_es_vm *vm)
{
    if (!vm->active)
        return vmdl_fail(-ENOTTY, "KVM_SEV_LAUNCH_FINISH: not an SEV guest");
    if (vm->fw != VMDL_SEV_FW_LSECRET)
        return vmdl_fail(-EIO, "KVM_SEV_LAUNCH_FINISH: firmware guest state "
                         "is not LSECRET");
    vm->fw = VMDL_SEV_FW_RUNNING;
    return 0;
}

int vmdl_sev_es_mem_enc_op(struct vmdl_sev_es_vm *vm, uint32_t id,
                           const struct vmdl_sev_init *init)
{
    if (!vm)
        return vmdl_fail(-EFAULT, "vmdl_sev_es_mem_enc_op: NULL VM");
    if (!vm->m->sev_enabled)
        return vmdl_fail(-ENOTTY, "KVM_MEMORY_ENCRYPT_OP: SEV is not enabled");
    switch (id) {
    case VMDL_KVM_SEV_ES_INIT:
        if (!vm->m->sev_es_enabled)
            return vmdl_fail(-ENOTTY, "KVM_SEV_ES_INIT: SEV-ES is not enabled");
        /* fall through */
    case VMDL_KVM_SEV_INIT:
        return legacy_init(vm, id);
    case VMDL_KVM_SEV_INIT2:
        if (!vmdl_sev_es_step_has_init2(vm->m->step))
            break;
        return init2(vm, init);
    case VMDL_KVM_SEV_LAUNCH_START:
        return launch_start(vm);
    case VMDL_KVM_SEV_LAUNCH_UPDATE_VMSA:
        return launch_update_vmsa(vm);
    case VMDL_KVM_SEV_LAUNCH_MEASURE:
        return launch_measure(vm);
    case VMDL_KVM_SEV_LAUNCH_FINISH:
        return launch_finish(vm);
    default:
        break;
    }
    return vmdl_fail(-EINVAL, "KVM_MEMORY_ENCRYPT_OP: command %u unknown or not "
                     "modelled (step '%s')", id, vmdl_sev_es_step_name(vm->m->step));
}

unsigned vmdl_sev_es_vm_type(const struct vmdl_sev_es_vm *vm)
{
    return vm ? vm->type : 0;
}

bool vmdl_sev_es_vm_active(const struct vmdl_sev_es_vm *vm)
{
    return vm && vm->active;
}

bool vmdl_sev_es_vm_es_active(const struct vmdl_sev_es_vm *vm)
{
    return vm && vm->es_active;
}

bool vmdl_sev_es_vm_need_init(const struct vmdl_sev_es_vm *vm)
{
    return vm && vm->need_init;
}

uint64_t vmdl_sev_es_vm_vmsa_features(const struct vmdl_sev_es_vm *vm)
{
    return vm ? vm->vmsa_features : 0;
}

unsigned vmdl_sev_es_vm_ghcb_version(const struct vmdl_sev_es_vm *vm)
{
    return vm ? vm->ghcb_version : 0;
}

unsigned vmdl_sev_es_vm_asid(const struct vmdl_sev_es_vm *vm)
{
    return vm ? vm->asid : 0;
}

unsigned vmdl_sev_es_vm_nr_vcpus(const struct vmdl_sev_es_vm *vm)
{
    return vm ? vm->nr_vcpus : 0;
}

struct vmdl_sev_es_vcpu *vmdl_sev_es_vm_vcpu(struct vmdl_sev_es_vm *vm, unsigned i)
{
    return vm && i < vm->nr_vcpus ? vm->vcpus[i] : NULL;
}

enum vmdl_sev_fw_state vmdl_sev_es_vm_fw_state(const struct vmdl_sev_es_vm *vm)
{
    return vm ? vm->fw : VMDL_SEV_FW_UNINIT;
}

size_t vmdl_sev_es_launch_inputs(const struct vmdl_sev_es_vm *vm,
                                 uint64_t *features, size_t max)
{
    if (!vm)
        return 0;
    size_t kept = vm->nr_measured < SEV_ES_MAX_RECORDS ? vm->nr_measured
                                                       : SEV_ES_MAX_RECORDS;
    for (size_t i = 0; features && i < kept && i < max; i++)
        features[i] = vm->measured[i];
    return vm->nr_measured;
}

uint64_t vmdl_sev_es_launch_digest(const struct vmdl_sev_es_vm *vm)
{
    return vm ? vm->digest : 0;
}

/* FNV-1a 64 over little-endian (u32 index, u64 SEV_FEATURES) records. */
uint64_t vmdl__sev_es_digest_init(void)
{
    return UINT64_C(0xcbf29ce484222325);
}

uint64_t vmdl__sev_es_digest_add(uint64_t h, unsigned index, uint64_t features)
{
    uint8_t rec[12];
    for (unsigned i = 0; i < 4; i++)
        rec[i] = (uint8_t)(index >> (8 * i));
    for (unsigned i = 0; i < 8; i++)
        rec[4 + i] = (uint8_t)(features >> (8 * i));
    for (unsigned i = 0; i < sizeof(rec); i++) {
        h ^= rec[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}
