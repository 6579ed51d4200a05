/* SPDX-License-Identifier: MIT */
/*
 * Machine glue for the AMD PMU model (see include/virtmodel/attach_amd_pmu.h
 * and docs/amd-pmu.md).  Only the public machine API is used.
 *
 * Counting: while a counter is live the vCPU's instruction (and branch)
 * accounting is switched on with vmdl_vcpu_need_insn_count(); the counters
 * are brought up to date from vmdl_vcpu_insns()/vmdl_vcpu_branches() at
 * every PMU MSR access and VM reset, and the machine is asked to come back
 * (vmdl_vcpu_kick_after) when the first counter can overflow.  With no
 * counter live nothing is hooked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "virtmodel/attach_amd_pmu.h"
#include "virtmodel/model.h"
#include "virtmodel/models.h"
#include "glue_state.h"
#include "virtmodel/error.h"

struct pmu_vcpu {
    struct vmdl_amd_pmu_attach *a;
    struct vmdl_vcpu *vcpu;
    struct vmdl_amd_pmu *pmu;
    uint64_t last_insns, last_branches;
    bool counting;
};

struct vmdl_amd_pmu_attach {
    struct vmdl_vm *vm;
    unsigned n;
    struct pmu_vcpu v[];
};

/* Default PMI route: the machine's interrupt controller (the local APIC's
 * LVT PERF entry when the lapic model is attached), else an NMI. */
static void pmi_to_nmi(void *opaque)
{
    struct pmu_vcpu *pv = opaque;
    vmdl_vcpu_raise_pmi(pv->vcpu);
}

static void snapshot(struct pmu_vcpu *pv)
{
    pv->last_insns = vmdl_vcpu_insns(pv->vcpu);
    pv->last_branches = vmdl_vcpu_branches(pv->vcpu);
}

/* Guests of this machine run at virtual CPL 0. */
static void sync_one(struct pmu_vcpu *pv)
{
    uint64_t insns = vmdl_vcpu_insns(pv->vcpu);
    uint64_t br = vmdl_vcpu_branches(pv->vcpu);
    if (pv->counting) {
        /* A machine-side reset of the counts restarts from zero. */
        uint64_t di = insns >= pv->last_insns ? insns - pv->last_insns : insns;
        uint64_t db = br >= pv->last_branches ? br - pv->last_branches : br;
        vmdl_amd_pmu_retire(pv->pmu, di, db, 0);
    }
    pv->last_insns = insns;
    pv->last_branches = br;
}

/* After any change: hook or unhook the accounting, re-arm the kick. */
static void update_counting(struct pmu_vcpu *pv)
{
    bool live = vmdl_amd_pmu_live(pv->pmu);
    if (live != pv->counting) {
        vmdl_vcpu_need_insn_count(pv->vcpu, live);
        pv->counting = live;
        snapshot(pv);
    }
    if (live)
        vmdl_vcpu_kick_after(pv->vcpu, vmdl_amd_pmu_insns_to_overflow(pv->pmu));
}

static struct pmu_vcpu *of(struct vmdl_amd_pmu_attach *a, struct vmdl_vcpu *vcpu)
{
    unsigned i = vmdl_vcpu_index(vcpu);
    return i < a->n ? &a->v[i] : NULL;
}

static vmdl_fault msr_read(void *opaque, struct vmdl_vcpu *vcpu, uint32_t index,
                           uint64_t *value)
{
    struct pmu_vcpu *pv = of(opaque, vcpu);
    if (!pv)
        return VMDL_FAULT_UNCLAIMED;
    sync_one(pv);
    vmdl_fault f = vmdl_amd_pmu_rdmsr(pv->pmu, index, value);
    update_counting(pv);
    return f;
}

static vmdl_fault msr_write(void *opaque, struct vmdl_vcpu *vcpu, uint32_t index,
                            uint64_t value)
{
    struct pmu_vcpu *pv = of(opaque, vcpu);
    if (!pv)
        return VMDL_FAULT_UNCLAIMED;
    sync_one(pv);
    /*
     * The WRMSR itself retires under the configuration it replaces, as on
     * hardware and in KVM's pmu_counters_test: the write that enables a
     * counter is not counted, the one that disables it is.  (A write that
     * then faults was counted one instruction too many; it does not retire.)
     */
    if (pv->counting)
        vmdl_amd_pmu_retire(pv->pmu, 1, 0, 0);
    vmdl_fault f = vmdl_amd_pmu_wrmsr(pv->pmu, index, value);
    update_counting(pv);
    /* The machine adds the WRMSR to its count after this handler returns:
     * it has been accounted for already. */
    if (f == VMDL_FAULT_NONE)
        pv->last_insns = vmdl_vcpu_insns(pv->vcpu) + 1;
    return f;
}

static const struct vmdl_msr_ops msr_ops = { msr_read, msr_write };

static void on_reset(void *opaque, struct vmdl_vm *vm)
{
    (void)vm;
    struct vmdl_amd_pmu_attach *a = opaque;
    for (unsigned i = 0; i < a->n; i++) {
        sync_one(&a->v[i]);
        vmdl_amd_pmu_vm_reset(a->v[i].pmu);
        snapshot(&a->v[i]);
        update_counting(&a->v[i]);
    }
}

/* ---- checkpoints: each vCPU's PMU plus the glue's sync point ---- */

#define PMU_GLUE_MAGIC VMDL_BLOB_MAGIC('G', 'P', 'M', 'U')

static int pmu_save_one(void *ctx, unsigned i, uint8_t **b, size_t *n,
                        uint64_t extra[4])
{
    struct vmdl_amd_pmu_attach *a = ctx;
    extra[0] = a->v[i].last_insns;
    extra[1] = a->v[i].last_branches;
    return vmdl_amd_pmu_save(a->v[i].pmu, b, n);
}

static int pmu_state_save(void *opaque, uint8_t **blob, size_t *len)
{
    struct vmdl_amd_pmu_attach *a = opaque;
    return glue_save_items(PMU_GLUE_MAGIC, a->n, pmu_save_one, a, blob, len);
}

static int pmu_state_load(void *opaque, const uint8_t *blob, size_t len)
{
    struct vmdl_amd_pmu_attach *a = opaque;
    struct glue_item *items = calloc(a->n ? a->n : 1, sizeof(*items));
    if (!items)
        return vmdl_fail(VMDL_ENOMEM, "amd_pmu state: out of memory");
    int err = glue_parse_items(PMU_GLUE_MAGIC, blob, len, a->n, items, "amd_pmu state");
    for (unsigned i = 0; !err && i < a->n; i++)
        err = vmdl_amd_pmu_load(a->v[i].pmu, items[i].blob, items[i].len);
    for (unsigned i = 0; !err && i < a->n; i++) {
        /* Re-derive counting (the machine forgot its users), then put the
         * sync point back where it was. */
        a->v[i].counting = false;
        update_counting(&a->v[i]);
        a->v[i].last_insns = items[i].extra[0];
        a->v[i].last_branches = items[i].extra[1];
    }
    free(items);
    return err;
}

static void on_destroy(void *opaque)
{
    struct vmdl_amd_pmu_attach *a = opaque;
    for (unsigned i = 0; i < a->n; i++)
        vmdl_amd_pmu_destroy(a->v[i].pmu);
    free(a);
}

/* Merge the PMU's CPUID bits into the VM's table. */
static int publish_cpuid(struct vmdl_vm *vm, const struct vmdl_amd_pmu_config *cfg)
{
    struct vmdl_amd_pmu_cpuid_leaf l[VMDL_AMD_PMU_CPUID_LEAVES];
    int err = vmdl_amd_pmu_cpuid(cfg, l);
    if (err)
        return err;
    struct vmdl_cpuid_entry e;
    /* The extended range must reach 0x80000022 for the guest to see it. */
    if (vmdl_vm_get_cpuid(vm, 0x80000000u, 0, &e) == 0) {
        if (e.eax < 0x80000022u) {
            e.eax = 0x80000022u;
            if ((err = vmdl_vm_set_cpuid(vm, &e)))
                return err;
        }
    } else {
        e = (struct vmdl_cpuid_entry){ .leaf = 0x80000000u, .eax = 0x80000022u,
                                       .ebx = 0x68747541u, /* "Auth" */
                                       .edx = 0x69746E65u, /* "enti" */
                                       .ecx = 0x444D4163u  /* "cAMD" */ };
        if ((err = vmdl_vm_set_cpuid(vm, &e)))
            return err;
    }
    for (unsigned k = 0; k < VMDL_AMD_PMU_CPUID_LEAVES; k++) {
        if (vmdl_vm_get_cpuid(vm, l[k].leaf, l[k].subleaf, &e) != 0)
            e = (struct vmdl_cpuid_entry){ .leaf = l[k].leaf,
                                           .subleaf = l[k].subleaf };
        uint32_t *reg[4] = { &e.eax, &e.ebx, &e.ecx, &e.edx };
        for (int r = 0; r < 4; r++)
            *reg[r] = (*reg[r] & ~l[k].mask[r]) | (l[k].value[r] & l[k].mask[r]);
        if ((err = vmdl_vm_set_cpuid(vm, &e)))
            return err;
    }
    return VMDL_OK;
}

extern const struct vmdl_model_desc vmdl_amd_pmu_model;

int vmdl_attach_amd_pmu_ex(struct vmdl_vm *vm, const struct vmdl_amd_pmu_config *cfg,
                           struct vmdl_amd_pmu_attach **out)
{
    if (out)
        *out = NULL;
    if (!vm || !cfg)
        return vmdl_fail(VMDL_EINVAL, "vmdl_attach_amd_pmu: NULL %s",
                         vm ? "config" : "vm");
    if (vmdl_vm_arch(vm) != VMDL_ARCH_X86_64)
        return vmdl_fail(VMDL_ENOTSUP, "vmdl_attach_amd_pmu: not an x86 VM");
    struct vmdl_cpuid_entry v0;
    if (vmdl_vm_get_cpuid(vm, 0, 0, &v0) == 0 &&
        !(v0.ebx == 0x68747541u && v0.edx == 0x69746E65u && v0.ecx == 0x444D4163u))
        return vmdl_fail(VMDL_ENOTSUP, "vmdl_attach_amd_pmu: the VM's CPUID "
                         "vendor is not AuthenticAMD (create it with "
                         "VMDL_VENDOR_AMD)");
    int err = vmdl_amd_pmu_config_check(cfg);
    if (err)
        return err;
    unsigned n = vmdl_vm_nr_vcpus(vm);
    struct vmdl_amd_pmu_attach *a = calloc(1, sizeof(*a) + n * sizeof(a->v[0]));
    if (!a)
        return vmdl_fail(VMDL_ENOMEM, "vmdl_attach_amd_pmu: out of memory");
    a->vm = vm;
    for (unsigned i = 0; i < n; i++) {
        struct pmu_vcpu *pv = &a->v[i];
        pv->a = a;
        pv->vcpu = vmdl_vm_vcpu(vm, i);
        struct vmdl_pmi_sink sink = { pmi_to_nmi, pv };
        if ((err = vmdl_amd_pmu_create(cfg, &sink, &pv->pmu)))
            goto fail;
        a->n = i + 1;
        snapshot(pv);
    }
    if ((err = publish_cpuid(vm, cfg)))
        goto fail;
    /* From here on the attachment is freed with the VM. */
    if ((err = vmdl_vm_add_model(vm, &vmdl_amd_pmu_model, a)))
        return err;
    if (out)
        *out = a;
    return VMDL_OK;
fail:
    on_destroy(a);
    return err;
}

int vmdl_attach_amd_pmu(struct vmdl_vm *vm, const struct vmdl_amd_pmu_config *cfg)
{
    return vmdl_attach_amd_pmu_ex(vm, cfg, NULL);
}

struct vmdl_amd_pmu *vmdl_amd_pmu_attach_pmu(struct vmdl_amd_pmu_attach *a,
                                             unsigned index)
{
    return a && index < a->n ? a->v[index].pmu : NULL;
}

int vmdl_amd_pmu_attach_set_sink(struct vmdl_amd_pmu_attach *a, unsigned index,
                                 const struct vmdl_pmi_sink *sink)
{
    if (!a || index >= a->n)
        return vmdl_fail(VMDL_ERANGE, "vmdl_amd_pmu_attach_set_sink: no vCPU %u",
                         index);
    if (!sink) {
        struct vmdl_pmi_sink nmi = { pmi_to_nmi, &a->v[index] };
        return vmdl_amd_pmu_set_sink(a->v[index].pmu, &nmi);
    }
    return vmdl_amd_pmu_set_sink(a->v[index].pmu, sink);
}

void vmdl_amd_pmu_attach_sync(struct vmdl_amd_pmu_attach *a, unsigned index)
{
    if (a && index < a->n) {
        sync_one(&a->v[index]);
        update_counting(&a->v[index]);
    }
}

/* ---------------- harness options ---------------- */

static bool vm_is_amd(struct vmdl_vm *vm)
{
    struct vmdl_cpuid_entry v0;
    return vmdl_vm_get_cpuid(vm, 0, 0, &v0) != 0 ||
           (v0.ebx == 0x68747541u && v0.edx == 0x69746E65u &&
            v0.ecx == 0x444D4163u);
}

int vmdl_amd_pmu_config_from_name(const char *name, uint32_t quirks,
                                  struct vmdl_amd_pmu_config *cfg)
{
    if (!cfg)
        return vmdl_fail(VMDL_EINVAL, "vmdl_amd_pmu_config_from_name: NULL cfg");
    struct vmdl_amd_pmu_options o;
    vmdl_amd_pmu_options_init(&o);
    if (name && strcmp(name, "perfmonv2") != 0) {
        char arg[64];
        if (strlen(name) > 40)
            return vmdl_fail(VMDL_EINVAL, "--pmu %.40s...: too long", name);
        snprintf(arg, sizeof(arg), "--amd-pmu=%s", name);
        int r = vmdl_amd_pmu_parse_option(&o, arg);
        if (r < 0)
            return r;
    }
    o.cfg.quirks = quirks;
    int err = vmdl_amd_pmu_config_check(&o.cfg);
    if (err)
        return err;
    *cfg = o.cfg;
    return VMDL_OK;
}

int vmdl_attach_amd_pmu_named(struct vmdl_vm *vm, const char *name,
                              uint32_t quirks)
{
    if (!vm)
        return vmdl_fail(VMDL_EINVAL, "vmdl_attach_amd_pmu_named: NULL vm");
    if (vmdl_vm_arch(vm) != VMDL_ARCH_X86_64 || !vm_is_amd(vm))
        return VMDL_OK;
    struct vmdl_amd_pmu_config cfg;
    int err = vmdl_amd_pmu_config_from_name(name, quirks, &cfg);
    return err ? err : vmdl_attach_amd_pmu(vm, &cfg);
}

const char vmdl_amd_pmu_options_help[] =
    "  --amd-pmu[=legacy|core|v2[:N]|off]  attach the AMD PMU (default v2:6)\n"
    "  --pmu-quirk-evtsel-rsvd-gp   reserved event-select bits raise #GP (KVM < 2022)\n"
    "  --pmu-quirk-no-vm-reset      VM reset leaves PMU state (QEMU before the fix)\n"
    "  --pmu-quirk-disable-ignored  PMU disable never reaches the PMU (old QEMU)\n"
    "  --pmu-quirk-no-status-set    GLOBAL_STATUS_SET raises #GP (KVM < 2025)\n"
    "  --pmu-quirk-global-ctl-zero  GLOBAL_CTL starts at 0 (KVM 6.0-6.9)\n"
    "  --pmu-arch-counters          up to 15 PerfMonV2 counters (KVM caps at 6)\n";

void vmdl_amd_pmu_options_init(struct vmdl_amd_pmu_options *o)
{
    memset(o, 0, sizeof(*o));
    o->cfg.family = 0x19;
    o->cfg.perfctr_core = true;
    o->cfg.perfmon_v2 = true;
    o->cfg.nr_counters = 6;
}

static const struct {
    const char *flag;
    uint32_t quirk;
} quirk_flags[] = {
    { "--pmu-quirk-evtsel-rsvd-gp", VMDL_AMD_PMU_QUIRK_EVTSEL_RSVD_GP },
    { "--pmu-quirk-no-vm-reset", VMDL_AMD_PMU_QUIRK_NO_VM_RESET },
    { "--pmu-quirk-disable-ignored", VMDL_AMD_PMU_QUIRK_DISABLE_IGNORED },
    { "--pmu-quirk-no-status-set", VMDL_AMD_PMU_QUIRK_NO_STATUS_SET },
    { "--pmu-quirk-global-ctl-zero", VMDL_AMD_PMU_QUIRK_GLOBAL_CTL_ZERO },
    { "--pmu-arch-counters", VMDL_AMD_PMU_QUIRK_ARCH_COUNTERS },
};

int vmdl_amd_pmu_parse_option(struct vmdl_amd_pmu_options *o, const char *arg)
{
    if (!o || !arg)
        return vmdl_fail(VMDL_EINVAL, "vmdl_amd_pmu_parse_option: NULL argument");
    for (size_t i = 0; i < sizeof(quirk_flags) / sizeof(quirk_flags[0]); i++)
        if (!strcmp(arg, quirk_flags[i].flag)) {
            o->cfg.quirks |= quirk_flags[i].quirk;
            o->attach = true;
            return 1;
        }
    if (strcmp(arg, "--amd-pmu") == 0) {
        o->attach = true;
        return 1;
    }
    if (strncmp(arg, "--amd-pmu=", 10) != 0)
        return 0;
    const char *v = arg + 10;
    uint32_t quirks = o->cfg.quirks;
    vmdl_amd_pmu_options_init(o);
    o->cfg.quirks = quirks;
    o->attach = true;
    if (!strcmp(v, "legacy")) {
        o->cfg.perfctr_core = o->cfg.perfmon_v2 = false;
        o->cfg.nr_counters = 0;
    } else if (!strcmp(v, "core")) {
        o->cfg.perfmon_v2 = false;
        o->cfg.nr_counters = 0;
    } else if (!strcmp(v, "off")) {
        o->cfg.disabled = true;
    } else if (!strncmp(v, "v2", 2) && (v[2] == '\0' || v[2] == ':')) {
        if (v[2] == ':') {
            char *end = NULL;
            unsigned long n = strtoul(v + 3, &end, 10);
            if (!v[3] || *end || n < 1 || n > VMDL_AMD_PMU_MAX_COUNTERS)
                return vmdl_fail(VMDL_EINVAL, "%s: counters must be 1..%u", arg,
                                 VMDL_AMD_PMU_MAX_COUNTERS);
            o->cfg.nr_counters = (unsigned)n;
        }
    } else {
        return vmdl_fail(VMDL_EINVAL, "%s: expected legacy, core, v2[:N] or off",
                         arg);
    }
    return 1;
}

/* ---------------- the model description ---------------- */

/* The harness's quirk flags (--pmu-quirk-*), by option name. */
static const struct {
    const char *option;
    uint32_t quirk;
} harness_quirks[] = {
    {"pmu-quirk-no-reset", VMDL_AMD_PMU_QUIRK_NO_VM_RESET},
    {"pmu-quirk-gp-reserved", VMDL_AMD_PMU_QUIRK_EVTSEL_RSVD_GP},
    {"pmu-quirk-disable-ignored", VMDL_AMD_PMU_QUIRK_DISABLE_IGNORED},
    {"pmu-quirk-no-status-set", VMDL_AMD_PMU_QUIRK_NO_STATUS_SET},
    {"pmu-quirk-global-ctl-zero", VMDL_AMD_PMU_QUIRK_GLOBAL_CTL_ZERO},
    {"pmu-arch-counters", VMDL_AMD_PMU_QUIRK_ARCH_COUNTERS},
};

static int attach_from_options(struct vmdl_vm *vm, const struct vmdl_model_options *opts)
{
    const char *name = vmdl_model_option(opts, "pmu");
    uint32_t quirks = 0;
    for (size_t i = 0; i < sizeof(harness_quirks) / sizeof(harness_quirks[0]); i++)
        if (vmdl_model_option(opts, harness_quirks[i].option))
            quirks |= harness_quirks[i].quirk;
    return vmdl_attach_amd_pmu_named(vm, name ? name : "perfmonv2", quirks);
}

/* Where the PMU's MSRs lie (amd_pmu_tables.c has the per-register rows):
 * K7 PERF_CTL0-3 and PERF_CTR0-3, the core-extension pairs, the PerfMonV2
 * global registers and the Intel P6 counters.  The model answers UNCLAIMED inside these
 * for what its configuration lacks. */
static const struct vmdl_msr_range pmu_msrs[] = {
    {VMDL_MSR_K7_EVNTSEL0, VMDL_MSR_K7_PERFCTR0 + 3},
    {VMDL_MSR_F15H_PERF_CTL0, VMDL_MSR_F15H_PERF_CTL0 + 2 * VMDL_AMD_PMU_MAX_COUNTERS - 1},
    {VMDL_MSR_AMD64_PERF_CNTR_GLOBAL_STATUS, VMDL_MSR_AMD64_PERF_CNTR_GLOBAL_STATUS_SET},
    /* Intel's P6 counter MSRs, which KVM reads as 0 on an AMD vCPU. */
    {VMDL_MSR_P6_PERFCTR0, VMDL_MSR_P6_PERFCTR0 + 1},
    {VMDL_MSR_P6_EVNTSEL0, VMDL_MSR_P6_EVNTSEL0 + 1},
};

static const struct vmdl_model_option pmu_options[] = {
    {"pmu", "CONFIG", "AMD PMU: perfmonv2 (default), v2:N, core, legacy, off"},
    {"pmu-quirk-no-reset", NULL, "PMU state survives a VM reset (QEMU before its fix)"},
    {"pmu-quirk-gp-reserved", NULL, "#GP on reserved event-select bits (KVM before 2022)"},
    {"pmu-quirk-disable-ignored", NULL, "--pmu off does not reach the vCPU (QEMU "
     "before KVM_PMU_CAP_DISABLE)"},
    {"pmu-quirk-no-status-set", NULL, "GLOBAL_STATUS_SET #GPs (older KVM)"},
    {"pmu-quirk-global-ctl-zero", NULL, "GLOBAL_CTL starts at 0 (KVM 6.0-6.9)"},
    {"pmu-arch-counters", NULL, "up to 15 PerfMonV2 counters instead of KVM's 6"},
    {NULL, NULL, NULL},
};

const struct vmdl_model_desc vmdl_amd_pmu_model = {
    .name = "amd_pmu",
    .arch = VMDL_ARCH_X86_64,
    .vendor = VMDL_VENDOR_AMD,
    .summary = "AMD PMU: K7/core-extension/PerfMonV2 MSRs (attaches on --vendor amd)",
    .options = pmu_options,
    .attach = attach_from_options,
    .msrs = pmu_msrs,
    .nr_msrs = sizeof(pmu_msrs) / sizeof(pmu_msrs[0]),
    .msr_ops = &msr_ops,
    .reset = on_reset,
    .destroy = on_destroy,
    .save = pmu_state_save,
    .load = pmu_state_load,
};
