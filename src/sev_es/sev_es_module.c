/* SPDX-License-Identifier: MIT */
/*
 * SEV-ES model, module level: what kvm-amd computes once at load
 * (sev_hardware_setup), the history steps, the device attribute, ASIDs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sev_es_priv.h"
#include "virtmodel/error.h"

struct step_info {
    const char *name;
    bool has_param;
    bool param_default;
    bool has_init2; /* KVM_SEV_INIT2, VM types, the VMSA-features attribute */
};

/* One row per step of the history (enum vmdl_sev_es_step order). */
static const struct step_info steps[VMDL_SEV_ES_STEP_COUNT] = {
    [VMDL_SEV_ES_STEP_CURRENT] = {"current", false, false, true},
    [VMDL_SEV_ES_STEP_ENABLED] = {"enabled", true, true, false},
    [VMDL_SEV_ES_STEP_DEFAULT_OFF] = {"default-off", true, false, false},
    [VMDL_SEV_ES_STEP_INIT2] = {"init2", true, false, true},
    [VMDL_SEV_ES_STEP_REENABLED] = {"reenabled", true, true, true},
};

const char *vmdl_sev_es_step_name(enum vmdl_sev_es_step step)
{
    return (unsigned)step < VMDL_SEV_ES_STEP_COUNT ? steps[step].name : "?";
}

int vmdl_sev_es_step_from_name(const char *name, enum vmdl_sev_es_step *step)
{
    for (unsigned i = 0; name && step && i < VMDL_SEV_ES_STEP_COUNT; i++) {
        if (!strcmp(name, steps[i].name)) {
            *step = (enum vmdl_sev_es_step)i;
            return VMDL_OK;
        }
    }
    return vmdl_fail(VMDL_ENOENT, "unknown SEV-ES history step '%s' (current, "
                     "enabled, default-off, init2, reenabled)",
                     name ? name : "(null)");
}

bool vmdl_sev_es_step_has_param(enum vmdl_sev_es_step step)
{
    return (unsigned)step < VMDL_SEV_ES_STEP_COUNT && steps[step].has_param;
}

bool vmdl_sev_es_step_has_init2(enum vmdl_sev_es_step step)
{
    return (unsigned)step < VMDL_SEV_ES_STEP_COUNT && steps[step].has_init2;
}

void vmdl_sev_es_cpu_from_cpuid(uint32_t eax_8000001f, uint32_t ecx_8000001f,
                                uint32_t edx_8000001f, uint32_t eax_80000021,
                                struct vmdl_sev_es_cpu *cpu)
{
    if (!cpu)
        return;
    memset(cpu, 0, sizeof(*cpu));
    cpu->sev = (eax_8000001f >> 1) & 1;
    cpu->sev_es = (eax_8000001f >> 3) & 1;
    cpu->debug_swap = (eax_8000001f >> 14) & 1;
    cpu->no_nested_data_bp = eax_80000021 & 1;
    cpu->max_sev_asid = ecx_8000001f;
    cpu->min_sev_asid = edx_8000001f;
}

void vmdl_sev_es_cpu_default(struct vmdl_sev_es_cpu *cpu)
{
    if (!cpu)
        return;
    memset(cpu, 0, sizeof(*cpu));
    cpu->sev = cpu->sev_es = cpu->debug_swap = cpu->no_nested_data_bp = true;
    cpu->max_sev_asid = 509;
    cpu->min_sev_asid = 100;
}

void vmdl_sev_es_load_params_init(struct vmdl_sev_es_load_params *p)
{
    if (!p)
        return;
    memset(p, 0, sizeof(*p));
    p->step = VMDL_SEV_ES_STEP_CURRENT;
    p->debug_swap = -1;
}

static int check_load_args(const struct vmdl_sev_es_cpu *cpu,
                           const struct vmdl_sev_es_load_params *p,
                           struct vmdl_sev_es_module **out)
{
    if (!cpu || !p || !out)
        return vmdl_fail(VMDL_EINVAL, "vmdl_sev_es_module_load: NULL %s",
                         !cpu ? "cpu" : !p ? "params" : "out");
    if ((unsigned)p->step >= VMDL_SEV_ES_STEP_COUNT)
        return vmdl_fail(VMDL_EINVAL, "vmdl_sev_es_module_load: step %u out of "
                         "range", (unsigned)p->step);
    if (p->debug_swap < -1 || p->debug_swap > 1)
        return vmdl_fail(VMDL_EINVAL, "vmdl_sev_es_module_load: debug_swap=%d "
                         "(not -1, 0 or 1)", p->debug_swap);
    if (cpu->max_sev_asid > SEV_ES_MAX_ASID)
        return vmdl_fail(VMDL_ERANGE, "vmdl_sev_es_module_load: %u ASIDs (the "
                         "model allows %u)", cpu->max_sev_asid, SEV_ES_MAX_ASID);
    if (cpu->sev && cpu->max_sev_asid && !cpu->min_sev_asid)
        return vmdl_fail(VMDL_EINVAL, "vmdl_sev_es_module_load: CPUID "
                         "0x8000001F EDX (first SEV ASID) is 0");
    return VMDL_OK;
}

/*
 * sev_hardware_setup: SEV needs the CPU feature and ASIDs; SEV-ES needs SEV,
 * its own feature and ASIDs below min_sev_asid.  NPT, NRIPS, decode assists,
 * flush-by-ASID, LBRV, MMIO caching and the PSP are taken as present.
 */
static void hardware_setup(struct vmdl_sev_es_module *m, bool sev_param,
                           bool sev_es_param)
{
    const struct vmdl_sev_es_cpu *c = &m->cpu;
    bool sev = sev_param && c->sev && c->max_sev_asid;
    bool es = sev && sev_es_param && c->sev_es && c->min_sev_asid != 1;
    m->sev_enabled = sev;
    m->sev_es_enabled = es;
    bool allowed = steps[m->step].has_param ? m->debug_swap_param : true;
    m->supported_vmsa_features = 0;
    if (es && c->debug_swap && c->no_nested_data_bp && allowed)
        m->supported_vmsa_features |= VMDL_SVM_SEV_FEAT_DEBUG_SWAP;
}

int vmdl_sev_es_module_load(const struct vmdl_sev_es_cpu *cpu,
                            const struct vmdl_sev_es_load_params *p,
                            struct vmdl_sev_es_module **out)
{
    int err = check_load_args(cpu, p, out);
    if (err)
        return err;
    struct vmdl_sev_es_module *m = calloc(1, sizeof(*m));
    if (!m)
        return vmdl_fail(VMDL_ENOMEM, "vmdl_sev_es_module_load: out of memory");
    m->asid_used = calloc((size_t)cpu->max_sev_asid + 1, 1);
    if (!m->asid_used) {
        free(m);
        return vmdl_fail(VMDL_ENOMEM, "vmdl_sev_es_module_load: out of memory");
    }
    m->cpu = *cpu;
    m->step = p->step;
    if (steps[p->step].has_param)
        m->debug_swap_param = p->debug_swap < 0 ? steps[p->step].param_default
                                                : p->debug_swap == 1;
    else
        m->param_ignored = p->debug_swap >= 0;
    hardware_setup(m, !p->sev_off, !p->sev_es_off);
    *out = m;
    return VMDL_OK;
}

int vmdl_sev_es_module_unload(struct vmdl_sev_es_module *m)
{
    if (!m)
        return VMDL_OK;
    if (m->nr_vms)
        return vmdl_fail(VMDL_ESTATE, "vmdl_sev_es_module_unload: %u VM(s) "
                         "still use the module", m->nr_vms);
    free(m->asid_used);
    free(m);
    return VMDL_OK;
}

bool vmdl_sev_es_module_sev_enabled(const struct vmdl_sev_es_module *m)
{
    return m && m->sev_enabled;
}

bool vmdl_sev_es_module_sev_es_enabled(const struct vmdl_sev_es_module *m)
{
    return m && m->sev_es_enabled;
}

uint64_t vmdl_sev_es_module_supported_vmsa_features(const struct vmdl_sev_es_module *m)
{
    return m ? m->supported_vmsa_features : 0;
}

bool vmdl_sev_es_module_debug_swap_param(const struct vmdl_sev_es_module *m)
{
    return m && m->debug_swap_param;
}

bool vmdl_sev_es_module_param_ignored(const struct vmdl_sev_es_module *m)
{
    return m && m->param_ignored;
}

enum vmdl_sev_es_step vmdl_sev_es_module_step(const struct vmdl_sev_es_module *m)
{
    return m ? m->step : VMDL_SEV_ES_STEP_CURRENT;
}

int vmdl_sev_es_module_set_supported_vmsa_features(struct vmdl_sev_es_module *m,
                                                   uint64_t features)
{
    if (!m)
        return vmdl_fail(VMDL_EINVAL, "vmdl_sev_es_module_set_supported_"
                         "vmsa_features: NULL module");
    return vmdl_fail(VMDL_ESTATE, "sev_supported_vmsa_features is read-only "
                     "after init (kept 0x%llx, refused 0x%llx)",
                     (unsigned long long)m->supported_vmsa_features,
                     (unsigned long long)features);
}

int vmdl_sev_es_module_set_param(struct vmdl_sev_es_module *m, const char *name,
                                 int value)
{
    if (!m || !name)
        return vmdl_fail(VMDL_EINVAL, "vmdl_sev_es_module_set_param: NULL %s",
                         !m ? "module" : "name");
    if (!strcmp(name, "debug_swap") && !steps[m->step].has_param)
        return vmdl_fail(VMDL_ENOENT, "kvm_amd has no parameter debug_swap in "
                         "step '%s'", steps[m->step].name);
    return vmdl_fail(VMDL_ESTATE, "kvm_amd.%s is read-only (0444) after load; "
                     "refused %d", name, value);
}

int vmdl_sev_es_dev_get_attr(const struct vmdl_sev_es_module *m, uint32_t group,
                             uint64_t attr, uint64_t *val)
{
    if (!m || !val)
        return vmdl_fail(-EFAULT, "vmdl_sev_es_dev_get_attr: NULL %s",
                         !m ? "module" : "val");
    if (!steps[m->step].has_init2)
        return vmdl_fail(-ENXIO, "KVM_GET_DEVICE_ATTR: no group %u in step "
                         "'%s' (predates KVM_X86_GRP_SEV)", group,
                         steps[m->step].name);
    if (group != VMDL_KVM_X86_GRP_SEV)
        return vmdl_fail(-ENXIO, "KVM_GET_DEVICE_ATTR: group %u is not "
                         "modelled or does not exist", group);
    if (attr != VMDL_KVM_X86_SEV_VMSA_FEATURES)
        return vmdl_fail(-ENXIO, "KVM_GET_DEVICE_ATTR: no attribute %llu in "
                         "KVM_X86_GRP_SEV", (unsigned long long)attr);
    *val = m->supported_vmsa_features;
    return 0;
}

/*
 * sev_asid_new: SEV-ES guests use ASIDs 1..min_sev_asid-1, SEV guests
 * min_sev_asid..max_sev_asid; -ENOTTY when the range is empty, -EBUSY when
 * every ASID is taken.  Freed ASIDs are reusable at once (KVM reclaims them
 * with a flush on the next allocation that needs one).
 */
int vmdl__sev_es_asid_new(struct vmdl_sev_es_module *m, bool es, unsigned *asid)
{
    unsigned lo = es ? 1 : m->cpu.min_sev_asid;
    unsigned hi = es ? m->cpu.min_sev_asid - 1 : m->cpu.max_sev_asid;
    if (hi > m->cpu.max_sev_asid)
        hi = m->cpu.max_sev_asid;
    if (lo > hi)
        return vmdl_fail(-ENOTTY, "sev_asid_new: no %s ASIDs (%u..%u)",
                         es ? "SEV-ES" : "SEV", lo, hi);
    for (unsigned a = lo; a <= hi; a++) {
        if (!m->asid_used[a]) {
            m->asid_used[a] = 1;
            *asid = a;
            return 0;
        }
    }
    return vmdl_fail(-EBUSY, "sev_asid_new: all %s ASIDs %u..%u in use",
                     es ? "SEV-ES" : "SEV", lo, hi);
}

void vmdl__sev_es_asid_free(struct vmdl_sev_es_module *m, unsigned asid)
{
    if (asid && asid <= m->cpu.max_sev_asid)
        m->asid_used[asid] = 0;
}
