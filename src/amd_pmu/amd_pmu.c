/* SPDX-License-Identifier: MIT */
/*
 * AMD PMU model: configuration, MSR semantics, counting, resets.
 *
 * Every rule below names where KVM implements it (Linux arch/x86/kvm/pmu.c
 * and svm/pmu.c, mid-2025) and, where KVM changed its mind, the quirk bit
 * that restores the older behaviour.
 */
#include <stdlib.h>
#include <string.h>

#include "amd_pmu_priv.h"
#include "virtmodel/bits.h"
#include "virtmodel/error.h"

#define DEFAULT_FAMILY 0x19u
/* KVM_MAX_NR_AMD_GP_COUNTERS: KVM never exposes more than six. */
#define KVM_MAX_AMD_COUNTERS 6u

/* ------------------------------------------------------------------ */
/* Configuration                                                      */

int vmdl_amd_pmu_config_check(const struct vmdl_amd_pmu_config *cfg)
{
    if (!cfg)
        return vmdl_fail(VMDL_EINVAL, "vmdl_amd_pmu_config_check: NULL config");
    unsigned family = cfg->family ? cfg->family : DEFAULT_FAMILY;
    if (family < 6 || family > 0xFF)
        return vmdl_fail(VMDL_EINVAL,
                         "vmdl_amd_pmu_config_check: family 0x%x has no "
                         "PMU this model knows (need 0x6..0xff)", family);
    if (cfg->quirks & ~VMDL_AMD_PMU_QUIRKS_ALL)
        return vmdl_fail(VMDL_EINVAL,
                         "vmdl_amd_pmu_config_check: unknown quirk bits 0x%x",
                         cfg->quirks & ~VMDL_AMD_PMU_QUIRKS_ALL);
    if (cfg->perfctr_core && family < 0x15)
        return vmdl_fail(VMDL_EINVAL,
                         "vmdl_amd_pmu_config_check: PerfCtrExtCore needs "
                         "family 0x15 or later (family 0x%x)", family);
    if (cfg->perfmon_v2) {
        if (family < 0x19)
            return vmdl_fail(VMDL_EINVAL,
                             "vmdl_amd_pmu_config_check: PerfMonV2 needs "
                             "family 0x19 or later (family 0x%x)", family);
        if (!cfg->perfctr_core)
            return vmdl_fail(VMDL_EINVAL,
                             "vmdl_amd_pmu_config_check: PerfMonV2 without "
                             "PerfCtrExtCore (its counters live in the "
                             "core-extension MSRs)");
        if (cfg->nr_counters > VMDL_AMD_PMU_MAX_COUNTERS)
            return vmdl_fail(VMDL_EINVAL,
                             "vmdl_amd_pmu_config_check: nr_counters %u does "
                             "not fit CPUID 0x80000022 EBX[3:0] (max %u)",
                             cfg->nr_counters, VMDL_AMD_PMU_MAX_COUNTERS);
    } else {
        unsigned implied = cfg->perfctr_core ? VMDL_AMD_PMU_CORE_COUNTERS
                                             : VMDL_AMD_PMU_LEGACY_COUNTERS;
        if (cfg->nr_counters && cfg->nr_counters != implied)
            return vmdl_fail(VMDL_EINVAL,
                             "vmdl_amd_pmu_config_check: nr_counters %u: "
                             "without PerfMonV2 the count is fixed at %u",
                             cfg->nr_counters, implied);
    }
    return VMDL_OK;
}

int vmdl_amd_pmu_config_from_cpuid(unsigned family, uint32_t ecx_80000001,
                                   uint32_t eax_80000022,
                                   uint32_t ebx_80000022,
                                   struct vmdl_amd_pmu_config *cfg)
{
    if (!cfg)
        return vmdl_fail(VMDL_EINVAL,
                         "vmdl_amd_pmu_config_from_cpuid: NULL config");
    struct vmdl_amd_pmu_config c = {0};
    c.family = family;
    c.perfctr_core = (ecx_80000001 & VMDL_CPUID_80000001_ECX_PERFCTR_CORE) != 0;
    c.perfmon_v2 = (eax_80000022 & VMDL_CPUID_80000022_EAX_PERFMON_V2) != 0;
    if (c.perfmon_v2) {
        c.nr_counters = ebx_80000022 & VMDL_CPUID_80000022_EBX_NUM_CORE_PMC;
        if (!c.nr_counters)
            return vmdl_fail(VMDL_EINVAL,
                             "vmdl_amd_pmu_config_from_cpuid: PerfMonV2 "
                             "with EBX[3:0] = 0 counters");
    }
    int err = vmdl_amd_pmu_config_check(&c);
    if (err)
        return err;
    *cfg = c;
    return VMDL_OK;
}

/*
 * Mirror of amd_pmu_refresh() (svm/pmu.c) and kvm_pmu_refresh() (pmu.c):
 * version 0 when the VMM disabled the PMU (kvm->arch.enable_pmu false),
 * 2 with PerfMonV2 (counters from CPUID 0x80000022 EBX[3:0]), else 1 with
 * 6 (PerfCtrExtCore) or 4 counters; then capped at
 * KVM_MAX_NR_AMD_GP_COUNTERS.
 */
void vmdl__amd_pmu_effective(const struct vmdl_amd_pmu_config *cfg,
                       struct amd_pmu_effective *eff)
{
    memset(eff, 0, sizeof(*eff));
    if (cfg->disabled && !(cfg->quirks & VMDL_AMD_PMU_QUIRK_DISABLE_IGNORED))
        return;
    eff->perfctr_core = cfg->perfctr_core;
    eff->perfmon_v2 = cfg->perfmon_v2;
    if (cfg->perfmon_v2) {
        eff->version = 2;
        eff->cpuid_nr = cfg->nr_counters ? cfg->nr_counters
                                         : VMDL_AMD_PMU_CORE_COUNTERS;
        eff->nr = eff->cpuid_nr;
        if (!(cfg->quirks & VMDL_AMD_PMU_QUIRK_ARCH_COUNTERS) &&
            eff->nr > KVM_MAX_AMD_COUNTERS)
            eff->nr = KVM_MAX_AMD_COUNTERS;
    } else {
        eff->version = 1;
        eff->nr = cfg->perfctr_core ? VMDL_AMD_PMU_CORE_COUNTERS
                                    : VMDL_AMD_PMU_LEGACY_COUNTERS;
    }
}

int vmdl_amd_pmu_cpuid(const struct vmdl_amd_pmu_config *cfg,
                       struct vmdl_amd_pmu_cpuid_leaf out[VMDL_AMD_PMU_CPUID_LEAVES])
{
    if (!out)
        return vmdl_fail(VMDL_EINVAL, "vmdl_amd_pmu_cpuid: NULL output");
    int err = vmdl_amd_pmu_config_check(cfg);
    if (err)
        return err;
    struct amd_pmu_effective eff;
    vmdl__amd_pmu_effective(cfg, &eff);
    memset(out, 0, sizeof(out[0]) * VMDL_AMD_PMU_CPUID_LEAVES);

    /* Fn8000_0001 ECX[23] PerfCtrExtCore: only that bit is ours. */
    out[0].leaf = 0x80000001u;
    out[0].value[2] = eff.perfctr_core ? VMDL_CPUID_80000001_ECX_PERFCTR_CORE : 0;
    out[0].mask[2] = VMDL_CPUID_80000001_ECX_PERFCTR_CORE;

    /* Fn8000_0022 (ExtPerfMonAndDbg): the whole leaf.  LBR stack, the
     * northbridge and UMC counters are not modelled and read as zero. */
    out[1].leaf = 0x80000022u;
    out[1].value[0] = eff.perfmon_v2 ? VMDL_CPUID_80000022_EAX_PERFMON_V2 : 0;
    out[1].value[1] = eff.perfmon_v2 ? eff.cpuid_nr : 0;
    for (int r = 0; r < 4; r++)
        out[1].mask[r] = 0xFFFFFFFFu;
    return VMDL_OK;
}

/* ------------------------------------------------------------------ */
/* Life cycle                                                         */

int vmdl_amd_pmu_create(const struct vmdl_amd_pmu_config *cfg,
                        const struct vmdl_pmi_sink *sink,
                        struct vmdl_amd_pmu **out)
{
    if (!out)
        return vmdl_fail(VMDL_EINVAL, "vmdl_amd_pmu_create: NULL output");
    *out = NULL;
    int err = vmdl_amd_pmu_config_check(cfg);
    if (err)
        return err;
    if (sink && !sink->raise_pmi)
        return vmdl_fail(VMDL_EINVAL,
                         "vmdl_amd_pmu_create: PMI sink without raise_pmi");
    struct vmdl_amd_pmu *pmu = calloc(1, sizeof(*pmu));
    if (!pmu)
        return vmdl_fail(VMDL_ENOMEM, "vmdl_amd_pmu_create: out of memory");
    pmu->cfg = *cfg;
    if (!pmu->cfg.family)
        pmu->cfg.family = DEFAULT_FAMILY;
    vmdl__amd_pmu_effective(&pmu->cfg, &pmu->eff);
    if (sink)
        pmu->sink = *sink;
    vmdl_amd_pmu_creation_reset(pmu);
    *out = pmu;
    return VMDL_OK;
}

void vmdl_amd_pmu_destroy(struct vmdl_amd_pmu *pmu)
{
    free(pmu);
}

int vmdl_amd_pmu_set_sink(struct vmdl_amd_pmu *pmu,
                          const struct vmdl_pmi_sink *sink)
{
    if (!pmu)
        return vmdl_fail(VMDL_EINVAL, "vmdl_amd_pmu_set_sink: NULL pmu");
    if (sink && !sink->raise_pmi)
        return vmdl_fail(VMDL_EINVAL,
                         "vmdl_amd_pmu_set_sink: sink without raise_pmi");
    if (sink)
        pmu->sink = *sink;
    else
        memset(&pmu->sink, 0, sizeof(pmu->sink));
    return VMDL_OK;
}

unsigned vmdl_amd_pmu_version(const struct vmdl_amd_pmu *pmu)
{
    return pmu ? pmu->eff.version : 0;
}

unsigned vmdl_amd_pmu_nr_counters(const struct vmdl_amd_pmu *pmu)
{
    return pmu ? pmu->eff.nr : 0;
}

const struct vmdl_amd_pmu_config *vmdl_amd_pmu_get_config(const struct vmdl_amd_pmu *pmu)
{
    return pmu ? &pmu->cfg : NULL;
}

uint64_t vmdl__amd_pmu_counter_valid_mask(const struct vmdl_amd_pmu *pmu)
{
    return pmu->eff.nr ? VMDL_GENMASK(pmu->eff.nr - 1, 0) : 0;
}

/*
 * vCPU creation: kvm_pmu_init() zeroes everything, then kvm_pmu_refresh()
 * sets one GLOBAL_CTL enable bit per counter (since the 2024 commit "KVM:
 * x86/pmu: Set enable bits for GP counters in PERF_GLOBAL_CTRL at RESET";
 * before it, from 6.0 on, GLOBAL_CTL started at 0: QUIRK_GLOBAL_CTL_ZERO).
 */
void vmdl_amd_pmu_creation_reset(struct vmdl_amd_pmu *pmu)
{
    if (!pmu)
        return;
    memset(&pmu->r, 0, sizeof(pmu->r));
    if (pmu->eff.version >= 2 &&
        !(pmu->cfg.quirks & VMDL_AMD_PMU_QUIRK_GLOBAL_CTL_ZERO))
        pmu->r.global_ctl = vmdl__amd_pmu_counter_valid_mask(pmu);
    vmdl__amd_pmu_recalc(pmu);
}

/*
 * VM reset.  KVM does not touch the PMU when userspace resets a vCPU
 * (f2f63f7ec6fd "KVM: x86/pmu: Stop calling kvm_pmu_reset() at RESET"
 * covers creation only; INIT never reset it), so the VMM must write the
 * reset state back: QEMU's "target/i386/kvm: reset AMD PMU registers
 * during VM reset" and "support perfmon-v2 for reset" put zero into every
 * CTL/CTR and, with PerfMonV2, into GLOBAL_STATUS and GLOBAL_CTL.
 */
void vmdl_amd_pmu_vm_reset(struct vmdl_amd_pmu *pmu)
{
    if (!pmu || (pmu->cfg.quirks & VMDL_AMD_PMU_QUIRK_NO_VM_RESET))
        return;
    memset(pmu->r.ctl, 0, sizeof(pmu->r.ctl));
    memset(pmu->r.ctr, 0, sizeof(pmu->r.ctr));
    pmu->r.global_ctl = 0;
    pmu->r.global_status = 0;
    vmdl__amd_pmu_recalc(pmu);
}

/* ------------------------------------------------------------------ */
/* Counting                                                           */

/*
 * Which counters count: enable bit (pmc_speculative_in_use), GLOBAL_CTL
 * with PerfMonV2 (pmc_is_globally_enabled), an event this model derives,
 * and OS or USR (KVM gives perf exclude_kernel = !OS, exclude_user = !USR,
 * so with both clear nothing is counted).
 */
void vmdl__amd_pmu_recalc(struct vmdl_amd_pmu *pmu)
{
    pmu->live = pmu->os_mask = pmu->usr_mask = pmu->branch_mask = 0;
    for (unsigned i = 0; i < pmu->eff.nr; i++) {
        uint64_t ctl = pmu->r.ctl[i];
        uint32_t bit = 1u << i;
        if (!(ctl & VMDL_AMD_EVTSEL_EN))
            continue;
        if (pmu->eff.version >= 2 && !(pmu->r.global_ctl & bit))
            continue;
        const struct vmdl_amd_pmu_event *ev = vmdl_amd_pmu_event_of(ctl);
        if (!ev || ev->source == VMDL_AMD_PMU_SRC_NONE)
            continue;
        if (!(ctl & (VMDL_AMD_EVTSEL_OS | VMDL_AMD_EVTSEL_USR)))
            continue;
        pmu->live |= bit;
        if (ctl & VMDL_AMD_EVTSEL_OS)
            pmu->os_mask |= bit;
        if (ctl & VMDL_AMD_EVTSEL_USR)
            pmu->usr_mask |= bit;
        if (ev->source == VMDL_AMD_PMU_SRC_BRANCHES)
            pmu->branch_mask |= bit;
    }
}

/* __kvm_perf_overflow(): status bit, then the PMI if the INT bit asks. */
static void overflow(struct vmdl_amd_pmu *pmu, unsigned i)
{
    if (pmu->eff.version >= 2)
        pmu->r.global_status |= VMDL_BIT(i);
    if (pmu->r.ctl[i] & VMDL_AMD_EVTSEL_INT) {
        pmu->pmis++;
        if (pmu->sink.raise_pmi)
            pmu->sink.raise_pmi(pmu->sink.opaque);
    }
}

/*
 * What counter i adds for `insns` retired instructions of which `branches`
 * taken branches.  The model's core retires one instruction per cycle
 * (CPI 1), so every instruction is a cycle in which the instruction and
 * cycle events increment by 1 and the branch event by 1 or 0.  A counter
 * mask c counts the cycles whose increment is at least c, with INV those
 * below it; INV without a counter mask has no effect (APM vol. 2, 13.2.1).
 * Edge detect is not modelled (counted as level).
 */
static uint64_t counted(const struct vmdl_amd_pmu *pmu, unsigned i, uint64_t insns,
                        uint64_t branches)
{
    uint64_t ctl = pmu->r.ctl[i];
    uint64_t events = (pmu->branch_mask >> i) & 1 ? branches : insns;
    uint64_t cmask = (ctl & VMDL_AMD_EVTSEL_CMASK) >> 24;
    if (!cmask)
        return events;
    uint64_t at_least = cmask == 1 ? events : 0;
    return (ctl & VMDL_AMD_EVTSEL_INV) ? insns - at_least : at_least;
}

void vmdl_amd_pmu_retire(struct vmdl_amd_pmu *pmu, uint64_t insns,
                         uint64_t branches, unsigned cpl)
{
    if (!pmu)
        return;
    /* AMD: OS counts at CPL 0, USR at CPL 1-3 (cpl_is_matched()). */
    uint32_t m = cpl == 0 ? pmu->os_mask : pmu->usr_mask;
    while (m) {
        unsigned i = (unsigned)__builtin_ctz(m);
        m &= m - 1;
        uint64_t n = counted(pmu, i, insns, branches);
        if (!n)
            continue;
        uint64_t ctr = pmu->r.ctr[i];
        uint64_t room = VMDL_AMD_PMU_COUNTER_MASK + 1 - ctr;
        /* Modulo 2^48; u64 wrap-around keeps it exact. */
        pmu->r.ctr[i] = (ctr + n) & VMDL_AMD_PMU_COUNTER_MASK;
        if (n >= room)
            overflow(pmu, i);
    }
}

uint32_t vmdl_amd_pmu_live_mask(const struct vmdl_amd_pmu *pmu)
{
    return pmu ? pmu->live : 0;
}

bool vmdl_amd_pmu_wants_branches(const struct vmdl_amd_pmu *pmu)
{
    return pmu && pmu->branch_mask;
}

uint64_t vmdl_amd_pmu_insns_to_overflow(const struct vmdl_amd_pmu *pmu)
{
    uint64_t best = UINT64_MAX;
    if (!pmu)
        return best;
    for (uint32_t m = pmu->live; m; m &= m - 1) {
        unsigned i = (unsigned)__builtin_ctz(m);
        /* A branch is at least one instruction, so a branch counter cannot
         * overflow before this many instructions either. */
        uint64_t room = VMDL_AMD_PMU_COUNTER_MASK + 1 - pmu->r.ctr[i];
        if (room < best)
            best = room;
    }
    return best;
}

uint64_t vmdl_amd_pmu_pmi_count(const struct vmdl_amd_pmu *pmu)
{
    return pmu ? pmu->pmis : 0;
}

/* ------------------------------------------------------------------ */
/* MSRs                                                               */

/*
 * Find the register behind an index and check the guest may touch it.
 * *legacy_off: the PMU is disabled and this is a K7 MSR, which
 * kvm_{get,set}_msr_common() read as 0 and write-ignore (5753785fa977 "KVM:
 * do not #GP on perf MSR writes when vPMU is disabled", 2012).  Everything
 * else the configuration lacks is #GP: amd_is_valid_msr() fails or
 * get_gp_pmc_amd() finds no counter (index >= nr_arch_gp_counters).
 * NEED_NONE rows (the Intel P6 MSRs) are decoded for every configuration.
 */
static vmdl_fault decode(const struct vmdl_amd_pmu *pmu, uint32_t index,
                         const struct amd_pmu_msr_desc **out, unsigned *ctr,
                         bool *is_ctl, bool *legacy_off)
{
    const struct amd_pmu_msr_desc *d = vmdl__amd_pmu_msr_lookup(index);
    *legacy_off = false;
    if (!d)
        return VMDL_FAULT_UNCLAIMED;
    *out = d;
    if (d->need == NEED_NONE)
        return VMDL_FAULT_NONE;
    if (pmu->eff.version == 0) {
        if (d->need == NEED_LEGACY) {
            *legacy_off = true;
            return VMDL_FAULT_NONE;
        }
        return VMDL_FAULT_GP;
    }
    if (d->need == NEED_CORE && !pmu->eff.perfctr_core)
        return VMDL_FAULT_GP;
    if (d->need == NEED_V2 && pmu->eff.version < 2)
        return VMDL_FAULT_GP;
    switch (d->kind) {
    case MSR_KIND_CTL:
    case MSR_KIND_CTR:
        *ctr = index - d->first;
        *is_ctl = d->kind == MSR_KIND_CTL;
        break;
    case MSR_KIND_PAIR:
        *ctr = (index - d->first) / d->stride;
        *is_ctl = ((index - d->first) % d->stride) == 0;
        break;
    default:
        return VMDL_FAULT_NONE;
    }
    if (*ctr >= pmu->eff.nr)
        return VMDL_FAULT_GP;
    return VMDL_FAULT_NONE;
}

vmdl_fault vmdl_amd_pmu_rdmsr(struct vmdl_amd_pmu *pmu, uint32_t index,
                              uint64_t *value)
{
    if (!pmu || !value) {
        vmdl_fail(VMDL_EINVAL, "vmdl_amd_pmu_rdmsr: NULL %s",
                  pmu ? "value" : "pmu");
        return VMDL_FAULT_UNCLAIMED;
    }
    const struct amd_pmu_msr_desc *d = NULL;
    unsigned ctr = 0;
    bool is_ctl = false, legacy_off;
    vmdl_fault f = decode(pmu, index, &d, &ctr, &is_ctl, &legacy_off);
    if (f != VMDL_FAULT_NONE)
        return f;
    if (legacy_off) {
        *value = 0;
        return VMDL_FAULT_NONE;
    }
    switch (d->kind) {
    case MSR_KIND_CTL:
    case MSR_KIND_CTR:
    case MSR_KIND_PAIR:
        *value = is_ctl ? pmu->r.ctl[ctr] : pmu->r.ctr[ctr];
        break;
    case MSR_KIND_GSTATUS:
        *value = pmu->r.global_status;
        break;
    case MSR_KIND_GCTL:
        *value = pmu->r.global_ctl;
        break;
    case MSR_KIND_GSET:
        if (pmu->cfg.quirks & VMDL_AMD_PMU_QUIRK_NO_STATUS_SET)
            return VMDL_FAULT_GP;
        *value = 0; /* write-only: reads as 0 */
        break;
    case MSR_KIND_GCLR:
    case MSR_KIND_P6:
        *value = 0;
        break;
    }
    return VMDL_FAULT_NONE;
}

vmdl_fault vmdl_amd_pmu_wrmsr(struct vmdl_amd_pmu *pmu, uint32_t index,
                              uint64_t value)
{
    if (!pmu) {
        vmdl_fail(VMDL_EINVAL, "vmdl_amd_pmu_wrmsr: NULL pmu");
        return VMDL_FAULT_UNCLAIMED;
    }
    const struct amd_pmu_msr_desc *d = NULL;
    unsigned ctr = 0;
    bool is_ctl = false, legacy_off;
    vmdl_fault f = decode(pmu, index, &d, &ctr, &is_ctl, &legacy_off);
    if (f != VMDL_FAULT_NONE)
        return f;
    if (legacy_off)
        return VMDL_FAULT_NONE; /* dropped */
    uint64_t valid = vmdl__amd_pmu_counter_valid_mask(pmu);
    switch (d->kind) {
    case MSR_KIND_CTL:
    case MSR_KIND_CTR:
    case MSR_KIND_PAIR:
        if (!is_ctl) {
            /* pmc_write_counter(): truncated to the 48-bit width. */
            pmu->r.ctr[ctr] = value & VMDL_AMD_PMU_COUNTER_MASK;
            return VMDL_FAULT_NONE;
        }
        /* amd_pmu_set_msr(): reserved bits cleared ("Clear reserved bits
         * written to PerfEvtSeln MSRs", 2022); #GP before it. */
        if (value & VMDL_AMD_EVTSEL_RESERVED) {
            if (pmu->cfg.quirks & VMDL_AMD_PMU_QUIRK_EVTSEL_RSVD_GP)
                return VMDL_FAULT_GP;
            value &= ~VMDL_AMD_EVTSEL_RESERVED;
        }
        pmu->r.ctl[ctr] = value;
        break;
    case MSR_KIND_GSTATUS:
        /* kvm_pmu_set_msr(): read-only per the PPR, guest writes ignored. */
        return VMDL_FAULT_NONE;
    case MSR_KIND_GCTL:
        /* Reserved bits (one per missing counter and above) cleared. */
        pmu->r.global_ctl = value & valid;
        break;
    case MSR_KIND_GCLR:
        pmu->r.global_status &= ~value;
        return VMDL_FAULT_NONE;
    case MSR_KIND_GSET:
        if (pmu->cfg.quirks & VMDL_AMD_PMU_QUIRK_NO_STATUS_SET)
            return VMDL_FAULT_GP;
        pmu->r.global_status |= value & valid;
        return VMDL_FAULT_NONE;
    case MSR_KIND_P6:
        return VMDL_FAULT_NONE; /* dropped, any value (msrs.c) */
    }
    vmdl__amd_pmu_recalc(pmu);
    return VMDL_FAULT_NONE;
}

/* kvm_pmu_rdpmc() + amd_rdpmc_ecx_to_pmc(). */
vmdl_fault vmdl_amd_pmu_rdpmc(struct vmdl_amd_pmu *pmu, uint32_t ecx,
                              unsigned cpl, bool cr4_pce, uint64_t *value)
{
    if (!pmu || !value) {
        vmdl_fail(VMDL_EINVAL, "vmdl_amd_pmu_rdpmc: NULL %s",
                  pmu ? "value" : "pmu");
        return VMDL_FAULT_UNCLAIMED;
    }
    if (pmu->eff.version == 0 || ecx >= pmu->eff.nr)
        return VMDL_FAULT_GP;
    if (!cr4_pce && cpl != 0)
        return VMDL_FAULT_GP;
    *value = pmu->r.ctr[ecx];
    return VMDL_FAULT_NONE;
}
