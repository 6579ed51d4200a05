/* SPDX-License-Identifier: MIT */
/* The registry of attachable models, used by the harness's --models. */
#include <string.h>

#include "virtmodel/attach_amd_pmu.h"
#include "virtmodel/attach_gicv5.h"
#include "virtmodel/attach_lapic.h"
#include "virtmodel/attach_tdx.h"
#include "virtmodel/attach_vmx.h"
#include "virtmodel/error.h"
#include "virtmodel/models.h"

static int attach_amd_pmu(struct vmdl_vm *vm, const struct vmdl_model_options *o)
{
    return vmdl_attach_amd_pmu_named(vm, o->pmu ? o->pmu : "perfmonv2", o->pmu_quirks);
}

/* Order matters: interrupt controllers first, so that later models (the
 * PMU's PMI) can find them. */
static const struct vmdl_model_info models[] = {
    {"lapic", VMDL_ARCH_X86_64, -1, "local APIC: xAPIC/x2APIC, timer, IPIs, APICv "
     "(--apicv), nested APICv updates", vmdl_attach_lapic_model},
    {"vmx", VMDL_ARCH_X86_64, VMDL_VENDOR_INTEL, "VMX vmcs12: field table, VMREAD/VMWRITE, profiles, "
     "VMCS_ENUM (nested VMX)", vmdl_attach_vmx_model},
    {"tdx", VMDL_ARCH_X86_64, VMDL_VENDOR_INTEL, "TDX module global metadata over SEAMCALL (TDH.SYS.RD)",
     vmdl_attach_tdx_model},
    {"amd_pmu", VMDL_ARCH_X86_64, VMDL_VENDOR_AMD, "AMD PMU: K7/core-extension/PerfMonV2 MSRs "
     "(attaches on --vendor amd)", attach_amd_pmu},
    {"gicv5", VMDL_ARCH_ARM64, -1, "GICv5 CPU interface, PPIs (vGIC-v5)",
     vmdl_attach_gicv5_model},
    {NULL, 0, -1, NULL, NULL},
};

const struct vmdl_model_info *vmdl_models(void)
{
    return models;
}

static const struct vmdl_model_info *find(const char *name, size_t len)
{
    for (const struct vmdl_model_info *m = models; m->name; m++)
        if (strlen(m->name) == len && !strncmp(m->name, name, len))
            return m;
    return NULL;
}

int vmdl_attach_models(struct vmdl_vm *vm, const char *list,
                       const struct vmdl_model_options *opts)
{
    static const struct vmdl_model_options none = {0};
    if (!vm || !list)
        return vmdl_fail(VMDL_EINVAL, "vmdl_attach_models: NULL argument");
    if (!opts)
        opts = &none;
    if (!strcmp(list, "none") || !*list)
        return VMDL_OK;
    if (!strcmp(list, "all")) {
        for (const struct vmdl_model_info *m = models; m->name; m++) {
            if (m->arch != vmdl_vm_arch(vm) ||
                (m->vendor >= 0 && m->vendor != (int)vmdl_vm_vendor(vm)))
                continue;
            int err = m->attach(vm, opts);
            if (err)
                return err;
        }
        return VMDL_OK;
    }
    const char *p = list;
    while (*p) {
        size_t len = strcspn(p, ",");
        const struct vmdl_model_info *m = find(p, len);
        if (!m)
            return vmdl_fail(VMDL_ENOENT, "unknown model '%.*s' (see --help for "
                             "the list)", (int)len, p);
        if (m->arch != vmdl_vm_arch(vm))
            return vmdl_fail(VMDL_EINVAL, "model '%s' is for the other "
                             "architecture", m->name);
        int err = m->attach(vm, opts);
        if (err)
            return err;
        p += len;
        if (*p == ',')
            p++;
    }
    return VMDL_OK;
}
