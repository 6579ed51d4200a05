/* SPDX-License-Identifier: MIT */
/* SEV-ES model: internal structures shared by sev_es.c and sev_es_state.c. */
#ifndef VMDL_SEV_ES_PRIV_H
#define VMDL_SEV_ES_PRIV_H

#include "virtmodel/sev_es.h"

/* KVM's own limit is KVM_MAX_VCPUS (4096); the model keeps a small fixed
 * table, enough for every guest the machine runs. */
#define SEV_ES_MAX_VCPUS 64u
/* Launch-measurement records kept for inspection (the digest covers all). */
#define SEV_ES_MAX_RECORDS 256u
/* The ASID bitmap is allocated from CPUID; refuse absurd descriptions. */
#define SEV_ES_MAX_ASID 65536u

struct vmdl_sev_es_module {
    struct vmdl_sev_es_cpu cpu;
    enum vmdl_sev_es_step step;
    bool sev_enabled;
    bool sev_es_enabled;
    bool debug_swap_param;
    bool param_ignored;
    uint64_t supported_vmsa_features;
    unsigned nr_vms;
    uint8_t *asid_used; /* max_sev_asid + 1 entries, index = ASID */
};

struct vmdl_sev_es_vcpu {
    struct vmdl_sev_es_vm *vm;
    unsigned index;
    bool protected_state; /* vcpu->arch.guest_state_protected */
    bool guest_debug;
    bool running;
    uint64_t sev_features;          /* VMSA SEV_FEATURES */
    struct vmdl_sev_es_dregs vmsa;  /* the guest's saved debug state */
    struct vmdl_sev_es_dregs host;  /* what the host kernel set */
    struct vmdl_sev_es_dregs hostsa; /* host save area */
    struct vmdl_sev_es_dregs live;  /* the physical registers */
};

struct vmdl_sev_es_vm {
    struct vmdl_sev_es_module *m;
    unsigned type;
    bool active;
    bool es_active;
    bool need_init;
    uint64_t vmsa_features;
    unsigned ghcb_version;
    unsigned asid;
    enum vmdl_sev_fw_state fw;
    unsigned nr_vcpus;
    struct vmdl_sev_es_vcpu *vcpus[SEV_ES_MAX_VCPUS];
    uint32_t nr_measured;
    uint64_t measured[SEV_ES_MAX_RECORDS];
    uint16_t measured_vcpu[SEV_ES_MAX_RECORDS];
    uint64_t digest;
};

/* Shared helpers. */
void vmdl__sev_es_dregs_reset(struct vmdl_sev_es_dregs *d);
uint64_t vmdl__sev_es_digest_init(void);
uint64_t vmdl__sev_es_digest_add(uint64_t h, unsigned index, uint64_t features);
int vmdl__sev_es_asid_new(struct vmdl_sev_es_module *m, bool es, unsigned *asid);
void vmdl__sev_es_asid_free(struct vmdl_sev_es_module *m, unsigned asid);

#endif
