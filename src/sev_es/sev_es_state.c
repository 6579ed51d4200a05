/* SPDX-License-Identifier: MIT */
/*
 * SEV-ES model: VM state export/import.
 *
 * Blob: magic "SVES", version 1, payload (little-endian):
 *   u8 step, u8 type, u8 flags (bit0 active, bit1 es_active, bit2 need_init),
 *   u8 firmware state, u64 vmsa_features, u16 ghcb_version, u16 nr_vcpus,
 *   u32 nr_measured, u64 digest,
 *   min(nr_measured, 256) x { u16 vCPU index, u64 SEV_FEATURES },
 *   per vCPU: u8 flags (bit0 protected, bit1 guest_debug), u64 sev_features,
 *             4 x dregs (VMSA, host, host save area, live): 4 x u64 DR0-3,
 *             u64 DR6, u64 DR7, 4 x u32 address masks.
 * The ASID is not saved: an imported active VM gets one from this module.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sev_es_priv.h"
#include "virtmodel/blob.h"
#include "virtmodel/error.h"

#define SVES_MAGIC VMDL_BLOB_MAGIC('S', 'V', 'E', 'S')
#define SVES_VERSION 1u

static void put_dregs(struct vmdl_blob_writer *w, const struct vmdl_sev_es_dregs *d)
{
    for (unsigned i = 0; i < 4; i++)
        vmdl_blob_put_u64(w, d->dr[i]);
    vmdl_blob_put_u64(w, d->dr6);
    vmdl_blob_put_u64(w, d->dr7);
    for (unsigned i = 0; i < 4; i++)
        vmdl_blob_put_u32(w, d->addr_mask[i]);
}

static void get_dregs(struct vmdl_blob_reader *r, struct vmdl_sev_es_dregs *d)
{
    for (unsigned i = 0; i < 4; i++)
        d->dr[i] = vmdl_blob_get_u64(r);
    d->dr6 = vmdl_blob_get_u64(r);
    d->dr7 = vmdl_blob_get_u64(r);
    for (unsigned i = 0; i < 4; i++)
        d->addr_mask[i] = vmdl_blob_get_u32(r);
    if (!r->err && ((d->dr6 | d->dr7) >> 32))
        vmdl_blob_reject(r, "DR6/DR7 with bits 63:32 set");
}

static unsigned kept_records(uint32_t nr)
{
    return nr < SEV_ES_MAX_RECORDS ? nr : SEV_ES_MAX_RECORDS;
}

int vmdl_sev_es_vm_save(const struct vmdl_sev_es_vm *vm, uint8_t **blob,
                        size_t *len)
{
    if (!vm || !blob || !len)
        return vmdl_fail(VMDL_EINVAL, "vmdl_sev_es_vm_save: NULL %s",
                         !vm ? "VM" : !blob ? "blob" : "len");
    for (unsigned i = 0; i < vm->nr_vcpus; i++)
        if (vm->vcpus[i]->running)
            return vmdl_fail(VMDL_ESTATE, "vmdl_sev_es_vm_save: vCPU %u is in "
                             "the guest", i);
    struct vmdl_blob_writer w;
    vmdl_blob_begin(&w, SVES_MAGIC, SVES_VERSION);
    vmdl_blob_put_u8(&w, (uint8_t)vm->m->step);
    vmdl_blob_put_u8(&w, (uint8_t)vm->type);
    vmdl_blob_put_u8(&w, (uint8_t)((vm->active ? 1 : 0) | (vm->es_active ? 2 : 0) |
                                   (vm->need_init ? 4 : 0)));
    vmdl_blob_put_u8(&w, (uint8_t)vm->fw);
    vmdl_blob_put_u64(&w, vm->vmsa_features);
    vmdl_blob_put_u16(&w, (uint16_t)vm->ghcb_version);
    vmdl_blob_put_u16(&w, (uint16_t)vm->nr_vcpus);
    vmdl_blob_put_u32(&w, vm->nr_measured);
    vmdl_blob_put_u64(&w, vm->digest);
    for (unsigned i = 0; i < kept_records(vm->nr_measured); i++) {
        vmdl_blob_put_u16(&w, vm->measured_vcpu[i]);
        vmdl_blob_put_u64(&w, vm->measured[i]);
    }
    for (unsigned i = 0; i < vm->nr_vcpus; i++) {
        const struct vmdl_sev_es_vcpu *v = vm->vcpus[i];
        vmdl_blob_put_u8(&w, (uint8_t)((v->protected_state ? 1 : 0) |
                                       (v->guest_debug ? 2 : 0)));
        vmdl_blob_put_u64(&w, v->sev_features);
        put_dregs(&w, &v->vmsa);
        put_dregs(&w, &v->host);
        put_dregs(&w, &v->hostsa);
        put_dregs(&w, &v->live);
    }
    return vmdl_blob_finish(&w, blob, len);
}

/* The decoded blob, checked before anything is committed. */
struct decoded {
    struct vmdl_sev_es_vm vm;          /* VM-level fields only */
    struct vmdl_sev_es_vcpu vcpus[SEV_ES_MAX_VCPUS];
};

static void check_vm_fields(struct vmdl_blob_reader *r, const struct vmdl_sev_es_vm *d,
                            const struct vmdl_sev_es_vm *vm)
{
    uint64_t supported = vm->m->supported_vmsa_features;
    if (r->err)
        return;
    if (d->vmsa_features & ~(d->es_active ? supported : 0))
        vmdl_blob_reject(r, "VMSA features this module does not support");
    else if (d->es_active && !d->active)
        vmdl_blob_reject(r, "SEV-ES without SEV");
    else if (d->es_active ? (d->ghcb_version < VMDL_SEV_GHCB_VERSION_MIN ||
                             d->ghcb_version > VMDL_SEV_GHCB_VERSION_MAX)
                          : d->ghcb_version != 0)
        vmdl_blob_reject(r, "GHCB version out of range");
    else if (d->active && vm->type != VMDL_KVM_X86_DEFAULT_VM &&
             d->es_active != (vm->type == VMDL_KVM_X86_SEV_ES_VM))
        vmdl_blob_reject(r, "SEV-ES state that does not match the VM type");
    else if (d->need_init != (vm->type != VMDL_KVM_X86_DEFAULT_VM && !d->active))
        vmdl_blob_reject(r, "need_init inconsistent with type and activity");
    else if (d->fw > VMDL_SEV_FW_RUNNING || (d->fw && !d->active))
        vmdl_blob_reject(r, "firmware state without an SEV guest");
    else if (d->nr_measured && !d->es_active)
        vmdl_blob_reject(r, "measured VMSAs in a VM without SEV-ES");
}

static void check_vcpu(struct vmdl_blob_reader *r, const struct vmdl_sev_es_vm *d,
                       const struct vmdl_sev_es_vcpu *v)
{
    if (r->err)
        return;
    if (v->protected_state && (!d->es_active || d->fw == VMDL_SEV_FW_UNINIT))
        vmdl_blob_reject(r, "launched vCPU without an SEV-ES launch");
    else if (v->sev_features != (v->protected_state ? d->vmsa_features : 0))
        vmdl_blob_reject(r, "VMSA SEV_FEATURES differ from the VM's");
    else if (v->protected_state && v->guest_debug)
        vmdl_blob_reject(r, "guest debug on a launched vCPU");
}

/* With every record kept, the digest must be theirs. */
static void check_digest(struct vmdl_blob_reader *r, const struct vmdl_sev_es_vm *d)
{
    if (r->err || d->nr_measured > SEV_ES_MAX_RECORDS)
        return;
    uint64_t h = vmdl__sev_es_digest_init();
    for (unsigned i = 0; i < d->nr_measured; i++)
        h = vmdl__sev_es_digest_add(h, d->measured_vcpu[i], d->measured[i]);
    if (h != d->digest)
        vmdl_blob_reject(r, "launch digest does not match its records");
}

static void decode(struct vmdl_blob_reader *r, const struct vmdl_sev_es_vm *vm,
                   struct decoded *d)
{
    uint8_t step = vmdl_blob_get_u8(r);
    uint8_t type = vmdl_blob_get_u8(r);
    uint8_t flags = vmdl_blob_get_u8(r);
    d->vm.fw = (enum vmdl_sev_fw_state)vmdl_blob_get_u8(r);
    d->vm.vmsa_features = vmdl_blob_get_u64(r);
    d->vm.ghcb_version = vmdl_blob_get_u16(r);
    unsigned nr = vmdl_blob_get_u16(r);
    d->vm.nr_measured = vmdl_blob_get_u32(r);
    d->vm.digest = vmdl_blob_get_u64(r);
    d->vm.active = flags & 1;
    d->vm.es_active = flags & 2;
    d->vm.need_init = flags & 4;
    if (!r->err && (step != vm->m->step || type != vm->type))
        vmdl_blob_reject(r, "state of another history step or VM type");
    else if (!r->err && (nr != vm->nr_vcpus || (flags & ~7u)))
        vmdl_blob_reject(r, "vCPU count or VM flags do not match");
    check_vm_fields(r, &d->vm, vm);
    for (unsigned i = 0; !r->err && i < kept_records(d->vm.nr_measured); i++) {
        d->vm.measured_vcpu[i] = vmdl_blob_get_u16(r);
        d->vm.measured[i] = vmdl_blob_get_u64(r);
        if (!r->err && (d->vm.measured_vcpu[i] >= nr ||
                        d->vm.measured[i] != d->vm.vmsa_features))
            vmdl_blob_reject(r, "launch record of another vCPU or features");
    }
    check_digest(r, &d->vm);
    for (unsigned i = 0; !r->err && i < nr; i++) {
        struct vmdl_sev_es_vcpu *v = &d->vcpus[i];
        uint8_t vf = vmdl_blob_get_u8(r);
        if (!r->err && (vf & ~3u))
            vmdl_blob_reject(r, "unknown vCPU flags");
        v->protected_state = vf & 1;
        v->guest_debug = vf & 2;
        v->sev_features = vmdl_blob_get_u64(r);
        get_dregs(r, &v->vmsa);
        get_dregs(r, &v->host);
        get_dregs(r, &v->hostsa);
        get_dregs(r, &v->live);
        check_vcpu(r, &d->vm, v);
    }
}

static void commit(struct vmdl_sev_es_vm *vm, const struct decoded *d)
{
    vm->active = d->vm.active;
    vm->es_active = d->vm.es_active;
    vm->need_init = d->vm.need_init;
    vm->fw = d->vm.fw;
    vm->vmsa_features = d->vm.vmsa_features;
    vm->ghcb_version = d->vm.ghcb_version;
    vm->nr_measured = d->vm.nr_measured;
    vm->digest = d->vm.digest;
    memcpy(vm->measured, d->vm.measured, sizeof(vm->measured));
    memcpy(vm->measured_vcpu, d->vm.measured_vcpu, sizeof(vm->measured_vcpu));
    for (unsigned i = 0; i < vm->nr_vcpus; i++) {
        struct vmdl_sev_es_vcpu *v = vm->vcpus[i];
        const struct vmdl_sev_es_vcpu *s = &d->vcpus[i];
        v->protected_state = s->protected_state;
        v->guest_debug = s->guest_debug;
        v->sev_features = s->sev_features;
        v->vmsa = s->vmsa;
        v->host = s->host;
        v->hostsa = s->hostsa;
        v->live = s->live;
        v->running = false;
    }
}

/* The imported VM's ASID: keep ours, take one, or give ours back. */
static int settle_asid(struct vmdl_sev_es_vm *vm, const struct decoded *d,
                       unsigned *asid)
{
    *asid = vm->asid;
    if (d->vm.active && (!vm->active || vm->es_active != d->vm.es_active)) {
        int err = vmdl__sev_es_asid_new(vm->m, d->vm.es_active, asid);
        if (err)
            return vmdl_fail(VMDL_ESTATE, "SEV-ES state: no ASID for the "
                             "imported VM (%s)", vmdl_last_error());
    }
    return VMDL_OK;
}

int vmdl_sev_es_vm_load(struct vmdl_sev_es_vm *vm, const void *blob, size_t len)
{
    if (!vm)
        return vmdl_fail(VMDL_EINVAL, "vmdl_sev_es_vm_load: NULL VM");
    for (unsigned i = 0; i < vm->nr_vcpus; i++)
        if (vm->vcpus[i]->running)
            return vmdl_fail(VMDL_ESTATE, "vmdl_sev_es_vm_load: vCPU %u is in "
                             "the guest", i);
    struct vmdl_blob_reader r;
    int err = vmdl_blob_open(&r, blob, len, SVES_MAGIC, SVES_VERSION,
                             "SEV-ES state");
    if (err)
        return err;
    struct decoded *d = calloc(1, sizeof(*d));
    if (!d)
        return vmdl_fail(VMDL_ENOMEM, "vmdl_sev_es_vm_load: out of memory");
    decode(&r, vm, d);
    err = vmdl_blob_close(&r);
    unsigned asid = 0;
    if (!err)
        err = settle_asid(vm, d, &asid);
    if (!err) {
        if (vm->active && (asid != vm->asid || !d->vm.active))
            vmdl__sev_es_asid_free(vm->m, vm->asid);
        vm->asid = d->vm.active ? asid : 0;
        commit(vm, d);
    }
    free(d);
    return err;
}
