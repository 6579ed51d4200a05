/* SPDX-License-Identifier: MIT */
/* AMD PMU model: MSRs, configurations, counting, overflow, resets, state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "virtmodel/amd_pmu.h"
#include "virtmodel/blob.h"
#include "virtmodel/error.h"

#define CTL(n) (VMDL_MSR_F15H_PERF_CTL0 + 2 * (n))
#define CTR(n) (VMDL_MSR_F15H_PERF_CTR0 + 2 * (n))
#define K7CTL(n) (VMDL_MSR_K7_EVNTSEL0 + (n))
#define K7CTR(n) (VMDL_MSR_K7_PERFCTR0 + (n))
#define GSTATUS VMDL_MSR_AMD64_PERF_CNTR_GLOBAL_STATUS
#define GCTL VMDL_MSR_AMD64_PERF_CNTR_GLOBAL_CTL
#define GCLR VMDL_MSR_AMD64_PERF_CNTR_GLOBAL_STATUS_CLR
#define GSET VMDL_MSR_AMD64_PERF_CNTR_GLOBAL_STATUS_SET
#define MASK48 VMDL_AMD_PMU_COUNTER_MASK
#define EN VMDL_AMD_EVTSEL_EN
#define OS VMDL_AMD_EVTSEL_OS
#define USR VMDL_AMD_EVTSEL_USR
#define INT VMDL_AMD_EVTSEL_INT
/* Linux's cycles event as perf programs it: EN|INT|OS|USR|0x76. */
#define LINUX_CYCLES 0x530076ull

static const struct vmdl_amd_pmu_config CFG_LEGACY = { .family = 0x10 };
static const struct vmdl_amd_pmu_config CFG_CORE = {
    .family = 0x17, .perfctr_core = true };
static const struct vmdl_amd_pmu_config CFG_V2 = {
    .family = 0x19, .perfctr_core = true, .perfmon_v2 = true, .nr_counters = 6 };
static const struct vmdl_amd_pmu_config CFG_OFF = {
    .family = 0x19, .perfctr_core = true, .perfmon_v2 = true, .nr_counters = 6,
    .disabled = true };

struct pmi_rec {
    int count;
};

static void rec_pmi(void *opaque)
{
    ((struct pmi_rec *)opaque)->count++;
}

static struct vmdl_amd_pmu *mk(const struct vmdl_amd_pmu_config *base,
                               uint32_t quirks, struct pmi_rec *rec)
{
    struct vmdl_amd_pmu_config c = *base;
    c.quirks |= quirks;
    struct vmdl_pmi_sink sink = { rec_pmi, rec };
    struct vmdl_amd_pmu *p = NULL;
    assert_int_equal(vmdl_amd_pmu_create(&c, rec ? &sink : NULL, &p), 0);
    assert_non_null(p);
    return p;
}

static uint64_t rd(struct vmdl_amd_pmu *p, uint32_t msr)
{
    uint64_t v = 0xDEADBEEF;
    assert_int_equal(vmdl_amd_pmu_rdmsr(p, msr, &v), VMDL_FAULT_NONE);
    return v;
}

static void wr(struct vmdl_amd_pmu *p, uint32_t msr, uint64_t v)
{
    assert_int_equal(vmdl_amd_pmu_wrmsr(p, msr, v), VMDL_FAULT_NONE);
}

static void expect_gp(struct vmdl_amd_pmu *p, uint32_t msr)
{
    uint64_t v;
    assert_int_equal(vmdl_amd_pmu_rdmsr(p, msr, &v), VMDL_FAULT_GP);
    assert_int_equal(vmdl_amd_pmu_wrmsr(p, msr, 0), VMDL_FAULT_GP);
}

/* ---------------- configuration and CPUID ---------------- */

static void test_config_defaults(void **s)
{
    (void)s;
    struct vmdl_amd_pmu_config c = {0};
    assert_int_equal(vmdl_amd_pmu_config_check(&c), 0);
    struct vmdl_amd_pmu *p = mk(&c, 0, NULL);
    assert_int_equal(vmdl_amd_pmu_get_config(p)->family, 0x19);
    assert_int_equal(vmdl_amd_pmu_version(p), 1);
    assert_int_equal(vmdl_amd_pmu_nr_counters(p), 4);
    vmdl_amd_pmu_destroy(p);
}

static void test_config_errors(void **s)
{
    (void)s;
    struct vmdl_amd_pmu_config c;
    assert_int_equal(vmdl_amd_pmu_config_check(NULL), VMDL_EINVAL);
    c = (struct vmdl_amd_pmu_config){ .family = 5 };
    assert_int_equal(vmdl_amd_pmu_config_check(&c), VMDL_EINVAL);
    assert_non_null(strstr(vmdl_last_error(), "family"));
    c = (struct vmdl_amd_pmu_config){ .family = 0x100 };
    assert_int_equal(vmdl_amd_pmu_config_check(&c), VMDL_EINVAL);
    c = (struct vmdl_amd_pmu_config){ .quirks = 1u << 31 };
    assert_int_equal(vmdl_amd_pmu_config_check(&c), VMDL_EINVAL);
    assert_non_null(strstr(vmdl_last_error(), "quirk"));
    c = (struct vmdl_amd_pmu_config){ .family = 0x10, .perfctr_core = true };
    assert_int_equal(vmdl_amd_pmu_config_check(&c), VMDL_EINVAL);
    assert_non_null(strstr(vmdl_last_error(), "PerfCtrExtCore"));
    c = (struct vmdl_amd_pmu_config){ .family = 0x17, .perfctr_core = true,
                                      .perfmon_v2 = true };
    assert_int_equal(vmdl_amd_pmu_config_check(&c), VMDL_EINVAL);
    c = (struct vmdl_amd_pmu_config){ .family = 0x19, .perfmon_v2 = true };
    assert_int_equal(vmdl_amd_pmu_config_check(&c), VMDL_EINVAL);
    assert_non_null(strstr(vmdl_last_error(), "without PerfCtrExtCore"));
    c = CFG_V2;
    c.nr_counters = 16;
    assert_int_equal(vmdl_amd_pmu_config_check(&c), VMDL_EINVAL);
    assert_non_null(strstr(vmdl_last_error(), "EBX[3:0]"));
    c = CFG_CORE;
    c.nr_counters = 4;
    assert_int_equal(vmdl_amd_pmu_config_check(&c), VMDL_EINVAL);
    c.nr_counters = 6;
    assert_int_equal(vmdl_amd_pmu_config_check(&c), 0);
    c = CFG_LEGACY;
    c.nr_counters = 4;
    assert_int_equal(vmdl_amd_pmu_config_check(&c), 0);
}

static void test_create_errors(void **s)
{
    (void)s;
    struct vmdl_amd_pmu *p = (void *)1;
    assert_int_equal(vmdl_amd_pmu_create(&CFG_V2, NULL, NULL), VMDL_EINVAL);
    struct vmdl_amd_pmu_config bad = { .family = 2 };
    assert_int_equal(vmdl_amd_pmu_create(&bad, NULL, &p), VMDL_EINVAL);
    assert_null(p);
    struct vmdl_pmi_sink sink = { NULL, NULL };
    assert_int_equal(vmdl_amd_pmu_create(&CFG_V2, &sink, &p), VMDL_EINVAL);
    assert_non_null(strstr(vmdl_last_error(), "raise_pmi"));
    p = mk(&CFG_V2, 0, NULL);
    assert_int_equal(vmdl_amd_pmu_set_sink(p, &sink), VMDL_EINVAL);
    assert_int_equal(vmdl_amd_pmu_set_sink(NULL, NULL), VMDL_EINVAL);
    vmdl_amd_pmu_destroy(p);
    vmdl_amd_pmu_destroy(NULL);
}

static void cpuid_of(const struct vmdl_amd_pmu_config *c, uint32_t quirks,
                     struct vmdl_amd_pmu_cpuid_leaf l[2])
{
    struct vmdl_amd_pmu_config cc = *c;
    cc.quirks |= quirks;
    assert_int_equal(vmdl_amd_pmu_cpuid(&cc, l), 0);
    assert_int_equal(l[0].leaf, 0x80000001u);
    assert_int_equal(l[1].leaf, 0x80000022u);
    assert_int_equal(l[0].mask[2], 1u << 23);
    assert_int_equal(l[0].mask[0] | l[0].mask[1] | l[0].mask[3], 0);
    for (int r = 0; r < 4; r++)
        assert_int_equal(l[1].mask[r], 0xFFFFFFFFu);
}

static void test_cpuid_leaves(void **s)
{
    (void)s;
    struct vmdl_amd_pmu_cpuid_leaf l[2];
    cpuid_of(&CFG_LEGACY, 0, l);
    assert_int_equal(l[0].value[2], 0);
    assert_int_equal(l[1].value[0] | l[1].value[1], 0);
    cpuid_of(&CFG_CORE, 0, l);
    assert_int_equal(l[0].value[2], 1u << 23);
    assert_int_equal(l[1].value[0], 0);
    cpuid_of(&CFG_V2, 0, l);
    assert_int_equal(l[0].value[2], 1u << 23);
    assert_int_equal(l[1].value[0], 1);
    assert_int_equal(l[1].value[1], 6);
    assert_int_equal(l[1].value[2] | l[1].value[3], 0);
    /* Disabled: nothing advertised... */
    cpuid_of(&CFG_OFF, 0, l);
    assert_int_equal(l[0].value[2], 0);
    assert_int_equal(l[1].value[0] | l[1].value[1], 0);
    /* ...unless the disable never reached the PMU (old QEMU). */
    cpuid_of(&CFG_OFF, VMDL_AMD_PMU_QUIRK_DISABLE_IGNORED, l);
    assert_int_equal(l[0].value[2], 1u << 23);
    assert_int_equal(l[1].value[0], 1);
    /* CPUID shows the configured count even where KVM caps it. */
    struct vmdl_amd_pmu_config c = CFG_V2;
    c.nr_counters = 8;
    cpuid_of(&c, 0, l);
    assert_int_equal(l[1].value[1], 8);
    assert_int_equal(vmdl_amd_pmu_cpuid(NULL, l), VMDL_EINVAL);
    assert_int_equal(vmdl_amd_pmu_cpuid(&CFG_V2, NULL), VMDL_EINVAL);
}

static void test_config_from_cpuid_round_trip(void **s)
{
    (void)s;
    const struct vmdl_amd_pmu_config *cfgs[] = { &CFG_LEGACY, &CFG_CORE, &CFG_V2 };
    for (size_t i = 0; i < 3; i++) {
        struct vmdl_amd_pmu_cpuid_leaf l[2];
        assert_int_equal(vmdl_amd_pmu_cpuid(cfgs[i], l), 0);
        struct vmdl_amd_pmu_config back;
        assert_int_equal(vmdl_amd_pmu_config_from_cpuid(cfgs[i]->family,
                                                        l[0].value[2], l[1].value[0],
                                                        l[1].value[1], &back), 0);
        assert_int_equal(back.perfctr_core, cfgs[i]->perfctr_core);
        assert_int_equal(back.perfmon_v2, cfgs[i]->perfmon_v2);
        assert_int_equal(back.nr_counters, cfgs[i]->nr_counters);
    }
    struct vmdl_amd_pmu_config c;
    /* PerfMonV2 reporting zero counters, and bad family. */
    assert_int_equal(vmdl_amd_pmu_config_from_cpuid(0x19, 1u << 23, 1, 0, &c),
                     VMDL_EINVAL);
    assert_int_equal(vmdl_amd_pmu_config_from_cpuid(0x10, 1u << 23, 0, 0, &c),
                     VMDL_EINVAL);
    assert_int_equal(vmdl_amd_pmu_config_from_cpuid(0x19, 0, 0, 0, NULL),
                     VMDL_EINVAL);
    /* Only EBX[3:0] counts. */
    assert_int_equal(vmdl_amd_pmu_config_from_cpuid(0x19, 1u << 23, 1, 0xF3, &c), 0);
    assert_int_equal(c.nr_counters, 3);
}

static void test_counter_count_per_config(void **s)
{
    (void)s;
    struct vmdl_amd_pmu *p;
    p = mk(&CFG_LEGACY, 0, NULL);
    assert_int_equal(vmdl_amd_pmu_nr_counters(p), 4);
    vmdl_amd_pmu_destroy(p);
    p = mk(&CFG_CORE, 0, NULL);
    assert_int_equal(vmdl_amd_pmu_nr_counters(p), 6);
    assert_int_equal(vmdl_amd_pmu_version(p), 1);
    vmdl_amd_pmu_destroy(p);
    p = mk(&CFG_OFF, 0, NULL);
    assert_int_equal(vmdl_amd_pmu_nr_counters(p), 0);
    assert_int_equal(vmdl_amd_pmu_version(p), 0);
    vmdl_amd_pmu_destroy(p);
    struct vmdl_amd_pmu_config c = CFG_V2;
    c.nr_counters = 8; /* KVM caps at KVM_MAX_NR_AMD_GP_COUNTERS = 6 */
    p = mk(&c, 0, NULL);
    assert_int_equal(vmdl_amd_pmu_version(p), 2);
    assert_int_equal(vmdl_amd_pmu_nr_counters(p), 6);
    expect_gp(p, CTL(6));
    assert_int_equal(rd(p, GCTL), 0x3F);
    vmdl_amd_pmu_destroy(p);
    c.nr_counters = 15;
    p = mk(&c, VMDL_AMD_PMU_QUIRK_ARCH_COUNTERS, NULL);
    assert_int_equal(vmdl_amd_pmu_nr_counters(p), 15);
    wr(p, CTL(14), EN | OS | 0xC0);
    assert_int_equal(rd(p, CTL(14)), EN | OS | 0xC0);
    assert_int_equal(rd(p, GCTL), 0x7FFF);
    vmdl_amd_pmu_destroy(p);
    c.nr_counters = 0; /* 0 means the usual six */
    p = mk(&c, 0, NULL);
    assert_int_equal(vmdl_amd_pmu_nr_counters(p), 6);
    vmdl_amd_pmu_destroy(p);
}

/* ---------------- MSR reset values and availability ---------------- */

static void test_reset_values_all_configs(void **s)
{
    (void)s;
    const struct vmdl_amd_pmu_config *cfgs[] = { &CFG_LEGACY, &CFG_CORE, &CFG_V2 };
    for (size_t k = 0; k < 3; k++) {
        struct vmdl_amd_pmu *p = mk(cfgs[k], 0, NULL);
        unsigned n = vmdl_amd_pmu_nr_counters(p);
        for (unsigned i = 0; i < 4; i++) {
            assert_int_equal(rd(p, K7CTL(i)), 0);
            assert_int_equal(rd(p, K7CTR(i)), 0);
        }
        if (cfgs[k]->perfctr_core)
            for (unsigned i = 0; i < n; i++) {
                assert_int_equal(rd(p, CTL(i)), 0);
                assert_int_equal(rd(p, CTR(i)), 0);
            }
        if (cfgs[k]->perfmon_v2) {
            assert_int_equal(rd(p, GSTATUS), 0);
            assert_int_equal(rd(p, GCTL), 0x3F); /* one bit per counter */
            assert_int_equal(rd(p, GCLR), 0);
            assert_int_equal(rd(p, GSET), 0);
        }
        assert_int_equal(vmdl_amd_pmu_live_mask(p), 0);
        assert_int_equal(vmdl_amd_pmu_insns_to_overflow(p), UINT64_MAX);
        vmdl_amd_pmu_destroy(p);
    }
}

static void test_global_ctl_zero_quirk(void **s)
{
    (void)s;
    struct vmdl_amd_pmu *p = mk(&CFG_V2, VMDL_AMD_PMU_QUIRK_GLOBAL_CTL_ZERO, NULL);
    assert_int_equal(rd(p, GCTL), 0);
    /* A v1-style driver enabling CTL0 alone then counts nothing. */
    wr(p, CTL(0), EN | OS | 0xC0);
    assert_int_equal(vmdl_amd_pmu_live_mask(p), 0);
    vmdl_amd_pmu_destroy(p);
}

static void test_legacy_config_msrs(void **s)
{
    (void)s;
    struct vmdl_amd_pmu *p = mk(&CFG_LEGACY, 0, NULL);
    for (unsigned i = 0; i < 4; i++) {
        wr(p, K7CTL(i), 0xC0 | OS | (uint64_t)i << 8);
        wr(p, K7CTR(i), 1000 + i);
        assert_int_equal(rd(p, K7CTL(i)), 0xC0 | OS | (uint64_t)i << 8);
        assert_int_equal(rd(p, K7CTR(i)), 1000 + i);
    }
    for (unsigned i = 0; i < 6; i++) {
        expect_gp(p, CTL(i));
        expect_gp(p, CTR(i));
    }
    expect_gp(p, GSTATUS);
    expect_gp(p, GCTL);
    expect_gp(p, GCLR);
    expect_gp(p, GSET);
    vmdl_amd_pmu_destroy(p);
}

static void test_core_extension_aliasing(void **s)
{
    (void)s;
    struct vmdl_amd_pmu *p = mk(&CFG_CORE, 0, NULL);
    wr(p, K7CTL(2), 0x4300C0);
    assert_int_equal(rd(p, CTL(2)), 0x4300C0);
    wr(p, CTR(3), 0x123456789ABCull);
    assert_int_equal(rd(p, K7CTR(3)), 0x123456789ABCull);
    wr(p, CTL(0), LINUX_CYCLES);
    assert_int_equal(rd(p, K7CTL(0)), LINUX_CYCLES);
    /* Counters 4 and 5 only through the core-extension MSRs. */
    wr(p, CTL(5), 0x4200C4);
    wr(p, CTR(4), 77);
    assert_int_equal(rd(p, CTL(5)), 0x4200C4);
    assert_int_equal(rd(p, CTR(4)), 77);
    /* CTL and CTR of one pair are distinct registers. */
    assert_int_equal(rd(p, CTR(5)), 0);
    assert_int_equal(rd(p, CTL(4)), 0);
    /* Past the sixth pair: #GP, and no globals without PerfMonV2. */
    expect_gp(p, CTL(6));
    expect_gp(p, CTR(6));
    expect_gp(p, GCTL);
    expect_gp(p, GSTATUS);
    vmdl_amd_pmu_destroy(p);
}

static void test_counters_beyond_configured_fault(void **s)
{
    (void)s;
    struct vmdl_amd_pmu_config c = CFG_V2;
    c.nr_counters = 2;
    struct vmdl_amd_pmu *p = mk(&c, 0, NULL);
    wr(p, CTL(1), 0x4000C0);
    wr(p, K7CTR(1), 5);
    expect_gp(p, K7CTL(2));
    expect_gp(p, K7CTR(3));
    expect_gp(p, CTL(2));
    expect_gp(p, CTR(5));
    assert_int_equal(rd(p, GCTL), 0x3);
    wr(p, GCTL, ~0ull); /* reserved bits cleared, not faulted */
    assert_int_equal(rd(p, GCTL), 0x3);
    wr(p, GSET, ~0ull);
    assert_int_equal(rd(p, GSTATUS), 0x3);
    vmdl_amd_pmu_destroy(p);
}

static void test_disabled_pmu(void **s)
{
    (void)s;
    struct pmi_rec rec = {0};
    struct vmdl_amd_pmu *p = mk(&CFG_OFF, 0, &rec);
    for (unsigned i = 0; i < 4; i++) {
        wr(p, K7CTL(i), LINUX_CYCLES); /* dropped */
        wr(p, K7CTR(i), 0xFFFF);
        assert_int_equal(rd(p, K7CTL(i)), 0);
        assert_int_equal(rd(p, K7CTR(i)), 0);
    }
    for (unsigned i = 0; i < 6; i++) {
        expect_gp(p, CTL(i));
        expect_gp(p, CTR(i));
    }
    expect_gp(p, GSTATUS);
    expect_gp(p, GCTL);
    expect_gp(p, GCLR);
    expect_gp(p, GSET);
    uint64_t v;
    assert_int_equal(vmdl_amd_pmu_rdpmc(p, 0, 0, false, &v), VMDL_FAULT_GP);
    vmdl_amd_pmu_retire(p, 1000000, 1000, 0);
    assert_int_equal(vmdl_amd_pmu_live_mask(p), 0);
    assert_int_equal(rec.count, 0);
    vmdl_amd_pmu_destroy(p);
}

static void test_disable_ignored_quirk(void **s)
{
    (void)s;
    struct vmdl_amd_pmu *p = mk(&CFG_OFF, VMDL_AMD_PMU_QUIRK_DISABLE_IGNORED, NULL);
    assert_int_equal(vmdl_amd_pmu_version(p), 2);
    wr(p, K7CTR(0), 0xFFFF);
    assert_int_equal(rd(p, K7CTR(0)), 0xFFFF);
    wr(p, CTL(0), LINUX_CYCLES);
    assert_int_equal(rd(p, CTL(0)), LINUX_CYCLES);
    vmdl_amd_pmu_destroy(p);
}

/*
 * The Intel P6 counter MSRs on an AMD vCPU.  KVM's kvm_get_msr_common() /
 * kvm_set_msr_common() (arch/x86/kvm/msrs.c; x86.c before the split) route
 * MSR_P6_PERFCTR0/1 (0xC1, 0xC2) and MSR_P6_EVNTSEL0/1 (0x186, 0x187) to the
 * vPMU only when kvm_pmu_is_valid_msr() says so, which amd_is_valid_msr()
 * and amd_msr_idx_to_pmc() (svm/pmu.c) never do: reads return 0 and writes
 * of any value are dropped, PMU enabled or not.  Nothing counts.
 */
static void test_p6_msrs_read_zero_drop_writes(void **s)
{
    (void)s;
    const struct vmdl_amd_pmu_config *cfgs[] = { &CFG_LEGACY, &CFG_CORE,
                                                 &CFG_V2, &CFG_OFF };
    const uint32_t p6[] = { 0xC1, 0xC2, 0x186, 0x187 };
    for (size_t c = 0; c < sizeof(cfgs) / sizeof(cfgs[0]); c++) {
        struct pmi_rec rec = {0};
        struct vmdl_amd_pmu *p = mk(cfgs[c], 0, &rec);
        for (size_t i = 0; i < sizeof(p6) / sizeof(p6[0]); i++) {
            assert_true(vmdl_amd_pmu_owns_msr(p6[i]));
            assert_int_equal(rd(p, p6[i]), 0);
            wr(p, p6[i], LINUX_CYCLES);
            wr(p, p6[i], ~0ull);
            assert_int_equal(rd(p, p6[i]), 0);
        }
        /* The writes touched no AMD counter and armed nothing. */
        assert_int_equal(vmdl_amd_pmu_live_mask(p), 0);
        if (vmdl_amd_pmu_version(p))
            assert_int_equal(rd(p, K7CTL(0)), 0);
        vmdl_amd_pmu_retire(p, 1u << 20, 100, 0);
        assert_int_equal(rec.count, 0);
        vmdl_amd_pmu_destroy(p);
    }
    /* Their neighbours stay someone else's. */
    struct vmdl_amd_pmu *p = mk(&CFG_V2, 0, NULL);
    const uint32_t near[] = { 0xC0, 0xC3, 0x185, 0x188 };
    uint64_t v;
    for (size_t i = 0; i < sizeof(near) / sizeof(near[0]); i++) {
        assert_false(vmdl_amd_pmu_owns_msr(near[i]));
        assert_int_equal(vmdl_amd_pmu_rdmsr(p, near[i], &v), VMDL_FAULT_UNCLAIMED);
    }
    vmdl_amd_pmu_destroy(p);
}

static void test_unclaimed_and_ranges(void **s)
{
    (void)s;
    struct vmdl_amd_pmu *p = mk(&CFG_V2, 0, NULL);
    uint64_t v;
    const uint32_t outside[] = { 0xC0010008u, 0xC00101FFu, 0xC000030Fu,
                                 0xC0000304u, 0xC00002FFu, 0x10, 0x38F };
    for (size_t i = 0; i < sizeof(outside) / sizeof(outside[0]); i++) {
        assert_int_equal(vmdl_amd_pmu_rdmsr(p, outside[i], &v), VMDL_FAULT_UNCLAIMED);
        assert_int_equal(vmdl_amd_pmu_wrmsr(p, outside[i], 1), VMDL_FAULT_UNCLAIMED);
        assert_false(vmdl_amd_pmu_owns_msr(outside[i]));
    }
    size_t n = 0;
    const struct vmdl_amd_pmu_msr_range *r = vmdl_amd_pmu_msr_ranges(&n);
    assert_int_equal(n, 9); /* 7 AMD rows + the two Intel P6 pairs */
    for (size_t i = 0; i < n; i++) {
        assert_true(r[i].first <= r[i].last);
        assert_true(vmdl_amd_pmu_owns_msr(r[i].first));
        assert_true(vmdl_amd_pmu_owns_msr(r[i].last));
        assert_non_null(r[i].name);
    }
    assert_int_equal(r[2].first, 0xC0010200u);
    assert_int_equal(r[2].last, 0xC0010200u + 2 * 15 - 1);
    assert_int_equal(vmdl_amd_pmu_rdmsr(p, CTL(0), NULL), VMDL_FAULT_UNCLAIMED);
    assert_int_equal(vmdl_amd_pmu_rdmsr(NULL, CTL(0), &v), VMDL_FAULT_UNCLAIMED);
    assert_int_equal(vmdl_amd_pmu_wrmsr(NULL, CTL(0), 0), VMDL_FAULT_UNCLAIMED);
    vmdl_amd_pmu_destroy(p);
}

/* ---------------- reserved bits and widths ---------------- */

static void test_evtsel_reserved_bits_cleared(void **s)
{
    (void)s;
    struct vmdl_amd_pmu *p = mk(&CFG_V2, 0, NULL);
    wr(p, CTL(1), ~0ull);
    assert_int_equal(rd(p, CTL(1)), ~VMDL_AMD_EVTSEL_RESERVED);
    assert_int_equal(~VMDL_AMD_EVTSEL_RESERVED, 0x0000000FFFD7FFFFull);
    /* One bit at a time: 19, 21, Guest/Host-only, 36 and 63 vanish. */
    const unsigned rsvd[] = { 19, 21, 36, 40, 41, 63 };
    for (size_t i = 0; i < sizeof(rsvd) / sizeof(rsvd[0]); i++) {
        wr(p, CTL(0), 0xC0 | OS | (1ull << rsvd[i]));
        assert_int_equal(rd(p, CTL(0)), 0xC0 | OS);
    }
    /* EventSelect[11:8], CMASK, INV, EDGE are kept. */
    wr(p, CTL(0), 0xF00000000ull | 0xFF000000ull | (1ull << 23) | (1ull << 18));
    assert_int_equal(rd(p, CTL(0)),
                     0xF00000000ull | 0xFF000000ull | (1ull << 23) | (1ull << 18));
    /* Legacy alias clears the same bits. */
    wr(p, K7CTL(3), LINUX_CYCLES | VMDL_AMD_EVTSEL_HOSTONLY);
    assert_int_equal(rd(p, CTL(3)), LINUX_CYCLES);
    vmdl_amd_pmu_destroy(p);
}

static void test_evtsel_reserved_gp_quirk(void **s)
{
    (void)s;
    struct vmdl_amd_pmu *p = mk(&CFG_CORE, VMDL_AMD_PMU_QUIRK_EVTSEL_RSVD_GP, NULL);
    wr(p, CTL(0), LINUX_CYCLES);
    assert_int_equal(vmdl_amd_pmu_wrmsr(p, CTL(0), 0xC0 | (1ull << 21)),
                     VMDL_FAULT_GP);
    assert_int_equal(vmdl_amd_pmu_wrmsr(p, K7CTL(0), VMDL_AMD_EVTSEL_GUESTONLY),
                     VMDL_FAULT_GP);
    assert_int_equal(rd(p, CTL(0)), LINUX_CYCLES); /* unchanged */
    vmdl_amd_pmu_destroy(p);
}

static void test_counter_is_48_bits(void **s)
{
    (void)s;
    struct vmdl_amd_pmu *p = mk(&CFG_CORE, 0, NULL);
    wr(p, CTR(0), ~0ull);
    assert_int_equal(rd(p, CTR(0)), MASK48);
    wr(p, K7CTR(1), 0xABCD000000000001ull);
    assert_int_equal(rd(p, CTR(1)), 0x1);
    vmdl_amd_pmu_destroy(p);
}

static void test_global_status_clr_set(void **s)
{
    (void)s;
    struct vmdl_amd_pmu *p = mk(&CFG_V2, 0, NULL);
    wr(p, GSET, 0x5);
    assert_int_equal(rd(p, GSTATUS), 0x5);
    wr(p, GSTATUS, 0);           /* read-only: ignored */
    wr(p, GSTATUS, ~0ull);
    assert_int_equal(rd(p, GSTATUS), 0x5);
    wr(p, GSET, 1ull << 59 | 1ull << 6 | 0x2); /* only counter bits */
    assert_int_equal(rd(p, GSTATUS), 0x7);
    wr(p, GCLR, 0x4);
    assert_int_equal(rd(p, GSTATUS), 0x3);
    wr(p, GCLR, ~0ull);
    assert_int_equal(rd(p, GSTATUS), 0);
    assert_int_equal(rd(p, GCLR), 0);
    assert_int_equal(rd(p, GSET), 0);
    vmdl_amd_pmu_destroy(p);
}

static void test_no_status_set_quirk(void **s)
{
    (void)s;
    struct vmdl_amd_pmu *p = mk(&CFG_V2, VMDL_AMD_PMU_QUIRK_NO_STATUS_SET, NULL);
    expect_gp(p, GSET);
    wr(p, GCLR, 1); /* the others are unaffected */
    assert_int_equal(rd(p, GSTATUS), 0);
    vmdl_amd_pmu_destroy(p);
}

static void test_global_ctl_reserved_cleared(void **s)
{
    (void)s;
    struct vmdl_amd_pmu *p = mk(&CFG_V2, 0, NULL);
    wr(p, GCTL, 0xFFFFFFFFFFFFFFC5ull);
    assert_int_equal(rd(p, GCTL), 0x05);
    wr(p, GCTL, 0);
    assert_int_equal(rd(p, GCTL), 0);
    vmdl_amd_pmu_destroy(p);
}

/* ---------------- events and counting ---------------- */

static void test_event_table(void **s)
{
    (void)s;
    size_t n = 0;
    const struct vmdl_amd_pmu_event *t = vmdl_amd_pmu_events(&n);
    assert_true(n >= 4);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            assert_int_not_equal(t[i].code, t[j].code);
    assert_int_equal(vmdl_amd_pmu_event_of(0xC0)->source, VMDL_AMD_PMU_SRC_INSNS);
    assert_int_equal(vmdl_amd_pmu_event_of(LINUX_CYCLES)->source,
                     VMDL_AMD_PMU_SRC_CYCLES);
    assert_int_equal(vmdl_amd_pmu_event_of(0xC4 | 0xFF00)->source, /* umask ignored */
                     VMDL_AMD_PMU_SRC_BRANCHES);
    assert_null(vmdl_amd_pmu_event_of(0x1000000C0ull)); /* event 0x1C0 */
    assert_null(vmdl_amd_pmu_event_of(0x00));
}

static void test_counting_sources(void **s)
{
    (void)s;
    struct vmdl_amd_pmu *p = mk(&CFG_V2, 0, NULL);
    wr(p, CTL(0), EN | OS | 0xC0);  /* instructions */
    wr(p, CTL(1), EN | OS | 0x76);  /* cycles, CPI 1 */
    wr(p, CTL(2), EN | OS | 0xC4);  /* taken branches */
    wr(p, CTL(3), EN | OS | 0xC2);  /* branches (taken only) */
    wr(p, CTL(4), EN | OS | 0xC3);  /* mispredicts: not modelled */
    wr(p, CTL(5), EN | OS | 0x1000000C0ull); /* event 0x1C0: unknown */
    assert_int_equal(vmdl_amd_pmu_live_mask(p), 0xF);
    assert_true(vmdl_amd_pmu_wants_branches(p));
    vmdl_amd_pmu_retire(p, 1000, 37, 0);
    vmdl_amd_pmu_retire(p, 234, 5, 0);
    assert_int_equal(rd(p, CTR(0)), 1234);
    assert_int_equal(rd(p, CTR(1)), 1234);
    assert_int_equal(rd(p, CTR(2)), 42);
    assert_int_equal(rd(p, CTR(3)), 42);
    assert_int_equal(rd(p, CTR(4)), 0);
    assert_int_equal(rd(p, CTR(5)), 0);
    vmdl_amd_pmu_destroy(p);
}

/*
 * Counter mask and invert, with one instruction per cycle (CPI 1): each
 * retired instruction is a cycle in which the instruction and cycle
 * events increment by 1 and the branch event by 1 or 0.  CMASK c counts
 * the cycles whose increment is at least c (INV: below c); INV without a
 * CMASK is ignored (APM vol. 2, 13.2.1 PerfEvtSel).
 */
static void test_cmask_and_invert(void **s)
{
    (void)s;
    struct vmdl_amd_pmu *p = mk(&CFG_V2, 0, NULL);
    uint64_t c1 = 1ull << 24, c2 = 2ull << 24, inv = VMDL_AMD_EVTSEL_INV;
    wr(p, CTL(0), EN | OS | 0xC0 | c2);          /* >= 2 insns a cycle: never */
    wr(p, CTL(1), EN | OS | 0xC0 | c1);          /* >= 1: every cycle */
    wr(p, CTL(2), EN | OS | 0xC0 | c1 | inv);    /* < 1: never */
    wr(p, CTL(3), EN | OS | 0xC0 | c2 | inv);    /* < 2: every cycle */
    wr(p, CTL(4), EN | OS | 0xC4 | c1 | inv);    /* cycles without a branch */
    wr(p, CTL(5), EN | OS | 0xC0 | inv);         /* INV alone: ignored */
    vmdl_amd_pmu_retire(p, 1000, 37, 0);
    assert_int_equal(rd(p, CTR(0)), 0);
    assert_int_equal(rd(p, CTR(1)), 1000);
    assert_int_equal(rd(p, CTR(2)), 0);
    assert_int_equal(rd(p, CTR(3)), 1000);
    assert_int_equal(rd(p, CTR(4)), 963);
    assert_int_equal(rd(p, CTR(5)), 1000);
    /* The branch-free cycles are instructions: they reach the overflow
     * bound as fast as instructions do. */
    wr(p, CTR(4), MASK48 - 9);
    assert_int_equal(vmdl_amd_pmu_insns_to_overflow(p), 10);
    vmdl_amd_pmu_destroy(p);
}

static void test_os_usr_bits(void **s)
{
    (void)s;
    struct vmdl_amd_pmu *p = mk(&CFG_CORE, 0, NULL);
    wr(p, CTL(0), EN | OS | 0xC0);
    wr(p, CTL(1), EN | USR | 0xC0);
    wr(p, CTL(2), EN | OS | USR | 0xC0);
    wr(p, CTL(3), EN | 0xC0); /* neither: counts nothing */
    assert_int_equal(vmdl_amd_pmu_live_mask(p), 0x7);
    vmdl_amd_pmu_retire(p, 100, 0, 0);
    vmdl_amd_pmu_retire(p, 10, 0, 3);
    vmdl_amd_pmu_retire(p, 1, 0, 1); /* CPL 1 is "user" too */
    assert_int_equal(rd(p, CTR(0)), 100);
    assert_int_equal(rd(p, CTR(1)), 11);
    assert_int_equal(rd(p, CTR(2)), 111);
    assert_int_equal(rd(p, CTR(3)), 0);
    vmdl_amd_pmu_destroy(p);
}

static void test_enable_and_global_enable(void **s)
{
    (void)s;
    struct vmdl_amd_pmu *p = mk(&CFG_V2, 0, NULL);
    wr(p, CTL(0), OS | 0xC0); /* EN clear */
    vmdl_amd_pmu_retire(p, 50, 0, 0);
    assert_int_equal(rd(p, CTR(0)), 0);
    wr(p, CTL(0), EN | OS | 0xC0);
    wr(p, GCTL, 0x3E); /* counter 0 globally off */
    assert_int_equal(vmdl_amd_pmu_live_mask(p), 0);
    vmdl_amd_pmu_retire(p, 50, 0, 0);
    assert_int_equal(rd(p, CTR(0)), 0);
    wr(p, GCTL, 0x01);
    assert_int_equal(vmdl_amd_pmu_live_mask(p), 1);
    vmdl_amd_pmu_retire(p, 50, 0, 0);
    assert_int_equal(rd(p, CTR(0)), 50);
    assert_false(vmdl_amd_pmu_wants_branches(p));
    vmdl_amd_pmu_destroy(p);
    /* No global control without PerfMonV2: EN alone suffices. */
    p = mk(&CFG_CORE, 0, NULL);
    wr(p, CTL(5), EN | OS | 0xC0);
    vmdl_amd_pmu_retire(p, 9, 0, 0);
    assert_int_equal(rd(p, CTR(5)), 9);
    vmdl_amd_pmu_destroy(p);
}

static void test_insns_to_overflow(void **s)
{
    (void)s;
    struct vmdl_amd_pmu *p = mk(&CFG_V2, 0, NULL);
    wr(p, CTR(0), MASK48 - 99);
    wr(p, CTL(0), EN | OS | 0xC0);
    assert_int_equal(vmdl_amd_pmu_insns_to_overflow(p), 100);
    wr(p, CTR(1), MASK48 - 9);
    wr(p, CTL(1), EN | OS | 0xC4); /* branch counter bounds it too */
    assert_int_equal(vmdl_amd_pmu_insns_to_overflow(p), 10);
    wr(p, CTR(0), MASK48);
    assert_int_equal(vmdl_amd_pmu_insns_to_overflow(p), 1);
    wr(p, CTL(0), 0);
    wr(p, CTL(1), 0);
    assert_int_equal(vmdl_amd_pmu_insns_to_overflow(p), UINT64_MAX);
    wr(p, CTR(2), 0);
    wr(p, CTL(2), EN | OS | 0x76);
    assert_int_equal(vmdl_amd_pmu_insns_to_overflow(p), MASK48 + 1);
    assert_int_equal(vmdl_amd_pmu_insns_to_overflow(NULL), UINT64_MAX);
    vmdl_amd_pmu_destroy(p);
}

static void test_overflow_status_and_pmi(void **s)
{
    (void)s;
    struct pmi_rec rec = {0};
    struct vmdl_amd_pmu *p = mk(&CFG_V2, 0, &rec);
    wr(p, CTR(0), MASK48 - 9);
    wr(p, CTL(0), EN | OS | INT | 0xC0);
    wr(p, CTR(1), MASK48 - 9);
    wr(p, CTL(1), EN | OS | 0xC0); /* no INT */
    vmdl_amd_pmu_retire(p, 9, 0, 0);
    assert_int_equal(rd(p, CTR(0)), MASK48);
    assert_int_equal(rd(p, GSTATUS), 0);
    assert_int_equal(rec.count, 0);
    vmdl_amd_pmu_retire(p, 1, 0, 0);
    assert_int_equal(rd(p, CTR(0)), 0);
    assert_int_equal(rd(p, CTR(1)), 0);
    assert_int_equal(rd(p, GSTATUS), 0x3);
    assert_int_equal(rec.count, 1);
    assert_int_equal(vmdl_amd_pmu_pmi_count(p), 1);
    /* Keeps counting after the wrap. */
    vmdl_amd_pmu_retire(p, 5, 0, 0);
    assert_int_equal(rd(p, CTR(0)), 5);
    assert_int_equal(rec.count, 1);
    wr(p, GCLR, 0x3);
    assert_int_equal(rd(p, GSTATUS), 0);
    vmdl_amd_pmu_destroy(p);
}

static void test_overflow_crossing_in_one_step(void **s)
{
    (void)s;
    struct pmi_rec rec = {0};
    struct vmdl_amd_pmu *p = mk(&CFG_V2, 0, &rec);
    wr(p, CTR(2), MASK48 - 2);
    wr(p, CTL(2), EN | OS | INT | 0x76);
    vmdl_amd_pmu_retire(p, 10, 0, 0);
    assert_int_equal(rd(p, CTR(2)), 7);
    assert_int_equal(rd(p, GSTATUS), 0x4);
    assert_int_equal(rec.count, 1);
    /* A delta larger than 2^48 wraps modulo 2^48. */
    wr(p, CTR(2), 5);
    vmdl_amd_pmu_retire(p, (MASK48 + 1) * 3 + 11, 0, 0);
    assert_int_equal(rd(p, CTR(2)), 16);
    assert_int_equal(rec.count, 2);
    vmdl_amd_pmu_destroy(p);
}

static void test_overflow_legacy_pmi_no_status(void **s)
{
    (void)s;
    struct pmi_rec rec = {0};
    struct vmdl_amd_pmu *p = mk(&CFG_LEGACY, 0, &rec);
    wr(p, K7CTR(3), MASK48);
    wr(p, K7CTL(3), EN | OS | INT | 0xC0);
    vmdl_amd_pmu_retire(p, 1, 0, 0);
    assert_int_equal(rd(p, K7CTR(3)), 0);
    assert_int_equal(rec.count, 1);
    expect_gp(p, GSTATUS);
    /* Without a sink PMIs are still counted. */
    assert_int_equal(vmdl_amd_pmu_set_sink(p, NULL), 0);
    wr(p, K7CTR(3), MASK48);
    vmdl_amd_pmu_retire(p, 1, 0, 0);
    assert_int_equal(rec.count, 1);
    assert_int_equal(vmdl_amd_pmu_pmi_count(p), 2);
    vmdl_amd_pmu_destroy(p);
}

/* A guest loop of known length, retired in irregular chunks as a machine
 * would report it between exits: the count must be exact. */
static void test_loop_count_exact(void **s)
{
    (void)s;
    struct vmdl_amd_pmu *p = mk(&CFG_V2, 0, NULL);
    wr(p, CTL(0), EN | OS | USR | 0xC0);
    const uint64_t iters = 100003, per_iter = 5; /* dec; jnz; add; xor; nop */
    uint64_t total = iters * per_iter, done = 0, seed = 12345;
    while (done < total) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t chunk = (seed >> 33) % 4000 + 1;
        if (chunk > total - done)
            chunk = total - done;
        vmdl_amd_pmu_retire(p, chunk, chunk / per_iter, 0);
        done += chunk;
    }
    assert_int_equal(rd(p, CTR(0)), total);
    vmdl_amd_pmu_destroy(p);
}

/* The machine's kick pattern: run exactly insns_to_overflow() instructions,
 * take the PMI, re-arm (perf writes -period), repeat. */
static void test_sampling_kicks_exact(void **s)
{
    (void)s;
    struct pmi_rec rec = {0};
    struct vmdl_amd_pmu *p = mk(&CFG_V2, 0, &rec);
    const uint64_t period = 1000;
    wr(p, CTR(0), (MASK48 + 1 - period) & MASK48);
    wr(p, CTL(0), EN | OS | INT | 0xC0);
    for (int k = 1; k <= 50; k++) {
        uint64_t n = vmdl_amd_pmu_insns_to_overflow(p);
        assert_int_equal(n, period);
        vmdl_amd_pmu_retire(p, n - 1, 0, 0);
        assert_int_equal(rec.count, k - 1);
        vmdl_amd_pmu_retire(p, 1, 0, 0);
        assert_int_equal(rec.count, k);
        assert_int_equal(rd(p, CTR(0)), 0);
        wr(p, GCLR, 1);
        wr(p, CTR(0), (MASK48 + 1 - period) & MASK48);
    }
    vmdl_amd_pmu_destroy(p);
}

static void test_rdpmc(void **s)
{
    (void)s;
    struct vmdl_amd_pmu *p = mk(&CFG_CORE, 0, NULL);
    wr(p, CTR(5), 4242);
    uint64_t v = 0;
    assert_int_equal(vmdl_amd_pmu_rdpmc(p, 5, 0, false, &v), VMDL_FAULT_NONE);
    assert_int_equal(v, 4242);
    assert_int_equal(vmdl_amd_pmu_rdpmc(p, 6, 0, false, &v), VMDL_FAULT_GP);
    assert_int_equal(vmdl_amd_pmu_rdpmc(p, 5, 3, false, &v), VMDL_FAULT_GP);
    assert_int_equal(vmdl_amd_pmu_rdpmc(p, 5, 3, true, &v), VMDL_FAULT_NONE);
    assert_int_equal(vmdl_amd_pmu_rdpmc(p, 5, 0, false, NULL), VMDL_FAULT_UNCLAIMED);
    vmdl_amd_pmu_destroy(p);
}

/* ---------------- resets ---------------- */

static void program_perf_top(struct vmdl_amd_pmu *p)
{
    wr(p, CTR(0), MASK48 - 500);
    wr(p, CTL(0), LINUX_CYCLES);
    wr(p, CTL(1), EN | OS | 0xC0);
    wr(p, CTR(1), 77);
}

static void test_vm_reset_fix(void **s)
{
    (void)s;
    struct pmi_rec rec = {0};
    struct vmdl_amd_pmu *p = mk(&CFG_V2, 0, &rec);
    program_perf_top(p);
    wr(p, GSET, 0x2);
    assert_int_not_equal(vmdl_amd_pmu_live_mask(p), 0);
    vmdl_amd_pmu_vm_reset(p);
    for (unsigned i = 0; i < 6; i++) {
        assert_int_equal(rd(p, CTL(i)), 0);
        assert_int_equal(rd(p, CTR(i)), 0);
    }
    assert_int_equal(rd(p, GSTATUS), 0);
    assert_int_equal(rd(p, GCTL), 0); /* zero, not the creation value */
    assert_int_equal(vmdl_amd_pmu_live_mask(p), 0);
    vmdl_amd_pmu_retire(p, 10000, 0, 0);
    assert_int_equal(rec.count, 0);
    /* Linux's check_hw_exists(): no event select has EN set. */
    for (unsigned i = 0; i < 6; i++)
        assert_int_equal(rd(p, CTL(i)) & EN, 0);
    vmdl_amd_pmu_destroy(p);
}

static void test_vm_reset_quirk_keeps_counting(void **s)
{
    (void)s;
    struct pmi_rec rec = {0};
    struct vmdl_amd_pmu *p = mk(&CFG_V2, VMDL_AMD_PMU_QUIRK_NO_VM_RESET, &rec);
    program_perf_top(p);
    vmdl_amd_pmu_vm_reset(p);
    /* What the rebooted guest's check_hw_exists() finds. */
    assert_int_equal(rd(p, 0xC0010200u), 0x530076);
    assert_int_equal(rd(p, GCTL), 0x3F);
    /* ...and the counter still runs into an NMI the new kernel never
     * asked for. */
    vmdl_amd_pmu_retire(p, 501, 0, 0);
    assert_int_equal(rec.count, 1);
    vmdl_amd_pmu_destroy(p);
}

static void test_vm_reset_legacy_and_core(void **s)
{
    (void)s;
    struct vmdl_amd_pmu *p = mk(&CFG_LEGACY, 0, NULL);
    wr(p, K7CTL(0), LINUX_CYCLES);
    wr(p, K7CTR(2), 99);
    vmdl_amd_pmu_vm_reset(p);
    assert_int_equal(rd(p, K7CTL(0)), 0);
    assert_int_equal(rd(p, K7CTR(2)), 0);
    vmdl_amd_pmu_destroy(p);
    p = mk(&CFG_CORE, 0, NULL);
    wr(p, CTL(5), LINUX_CYCLES);
    vmdl_amd_pmu_vm_reset(p);
    assert_int_equal(rd(p, CTL(5)), 0);
    vmdl_amd_pmu_destroy(p);
    vmdl_amd_pmu_vm_reset(NULL);
}

static void test_creation_reset_differs_from_vm_reset(void **s)
{
    (void)s;
    struct vmdl_amd_pmu *p = mk(&CFG_V2, 0, NULL);
    program_perf_top(p);
    vmdl_amd_pmu_vm_reset(p);
    assert_int_equal(rd(p, GCTL), 0);
    vmdl_amd_pmu_creation_reset(p);
    assert_int_equal(rd(p, GCTL), 0x3F);
    assert_int_equal(rd(p, CTL(0)), 0);
    assert_int_equal(rd(p, CTR(0)), 0);
    vmdl_amd_pmu_destroy(p);
}

/* ---------------- state ---------------- */

static void test_state_round_trip(void **s)
{
    (void)s;
    struct pmi_rec rec = {0};
    struct vmdl_amd_pmu *a = mk(&CFG_V2, 0, &rec);
    program_perf_top(a);
    wr(a, GSET, 0x20);
    wr(a, GCTL, 0x23);
    vmdl_amd_pmu_retire(a, 501, 0, 0); /* one PMI */
    uint8_t *blob = NULL;
    size_t len = 0;
    assert_int_equal(vmdl_amd_pmu_save(a, &blob, &len), 0);
    struct vmdl_amd_pmu *b = mk(&CFG_V2, 0, NULL);
    assert_int_equal(vmdl_amd_pmu_load(b, blob, len), 0);
    for (unsigned i = 0; i < 6; i++) {
        assert_int_equal(rd(b, CTL(i)), rd(a, CTL(i)));
        assert_int_equal(rd(b, CTR(i)), rd(a, CTR(i)));
    }
    assert_int_equal(rd(b, GCTL), 0x23);
    assert_int_equal(rd(b, GSTATUS), rd(a, GSTATUS));
    assert_int_equal(vmdl_amd_pmu_live_mask(b), vmdl_amd_pmu_live_mask(a));
    assert_int_equal(vmdl_amd_pmu_pmi_count(b), 1);
    assert_int_equal(vmdl_amd_pmu_insns_to_overflow(b),
                     vmdl_amd_pmu_insns_to_overflow(a));
    free(blob);
    vmdl_amd_pmu_destroy(a);
    vmdl_amd_pmu_destroy(b);
}

static void test_state_rejects_corruption(void **s)
{
    (void)s;
    struct vmdl_amd_pmu *a = mk(&CFG_V2, 0, NULL);
    program_perf_top(a);
    uint8_t *blob = NULL;
    size_t len = 0;
    assert_int_equal(vmdl_amd_pmu_save(a, &blob, &len), 0);
    struct vmdl_amd_pmu *b = mk(&CFG_V2, 0, NULL);
    wr(b, CTR(3), 1234);

    for (size_t off = 0; off < len; off += 7) {
        uint8_t *c = malloc(len);
        memcpy(c, blob, len);
        c[off] ^= 0x40;
        int err = vmdl_amd_pmu_load(b, c, len);
        assert_true(err == VMDL_EBADBLOB || err == VMDL_EVERSION);
        free(c);
    }
    assert_int_equal(vmdl_amd_pmu_load(b, blob, len - 1), VMDL_EBADBLOB);
    assert_int_equal(vmdl_amd_pmu_load(b, blob, 3), VMDL_EBADBLOB);
    assert_int_equal(vmdl_amd_pmu_load(b, NULL, len), VMDL_EINVAL);
    assert_int_equal(vmdl_amd_pmu_load(NULL, blob, len), VMDL_EINVAL);
    /* Nothing changed. */
    assert_int_equal(rd(b, CTR(3)), 1234);
    assert_int_equal(rd(b, CTL(0)), 0);
    assert_int_equal(rd(b, GCTL), 0x3F);
    /* Version bump (with a valid CRC: the header is not covered). */
    uint8_t *c = malloc(len);
    memcpy(c, blob, len);
    c[4] = 2;
    assert_int_equal(vmdl_amd_pmu_load(b, c, len), VMDL_EVERSION);
    free(c);
    free(blob);
    vmdl_amd_pmu_destroy(a);
    vmdl_amd_pmu_destroy(b);
}

static void test_state_rejects_other_config(void **s)
{
    (void)s;
    struct vmdl_amd_pmu *a = mk(&CFG_V2, 0, NULL);
    uint8_t *blob = NULL;
    size_t len = 0;
    assert_int_equal(vmdl_amd_pmu_save(a, &blob, &len), 0);
    struct vmdl_amd_pmu *b = mk(&CFG_CORE, 0, NULL);
    assert_int_equal(vmdl_amd_pmu_load(b, blob, len), VMDL_EBADBLOB);
    assert_non_null(strstr(vmdl_last_error(), "differently configured"));
    struct vmdl_amd_pmu *c = mk(&CFG_V2, VMDL_AMD_PMU_QUIRK_NO_VM_RESET, NULL);
    assert_int_equal(vmdl_amd_pmu_load(c, blob, len), VMDL_EBADBLOB);
    free(blob);
    vmdl_amd_pmu_destroy(a);
    vmdl_amd_pmu_destroy(b);
    vmdl_amd_pmu_destroy(c);
}

/* Build a well-formed (correct CRC) blob with chosen contents, following
 * the documented layout, to exercise the semantic checks. */
static size_t craft(uint8_t **out, unsigned bad_what)
{
    struct vmdl_blob_writer w;
    vmdl_blob_begin(&w, VMDL_BLOB_MAGIC('A', 'P', 'M', 'U'), 1);
    vmdl_blob_put_u8(&w, 0x19);
    vmdl_blob_put_u8(&w, 3);
    vmdl_blob_put_u8(&w, 6);
    vmdl_blob_put_u8(&w, 6);
    vmdl_blob_put_u32(&w, 0);
    for (unsigned i = 0; i < VMDL_AMD_PMU_MAX_COUNTERS; i++) {
        uint64_t ctl = 0, ctr = 0;
        if (i == 0 && bad_what == 1)
            ctl = LINUX_CYCLES | (1ull << 21);
        if (i == 1 && bad_what == 2)
            ctr = 1ull << 48;
        if (i == 7 && bad_what == 3)
            ctr = 1;
        if (i == 2 && bad_what == 0)
            ctl = LINUX_CYCLES;
        vmdl_blob_put_u64(&w, ctl);
        vmdl_blob_put_u64(&w, ctr);
    }
    vmdl_blob_put_u64(&w, bad_what == 4 ? 0x40 : 0x3F);
    vmdl_blob_put_u64(&w, 0);
    vmdl_blob_put_u64(&w, 0);
    if (bad_what == 5)
        vmdl_blob_put_u8(&w, 0);
    size_t len = 0;
    assert_int_equal(vmdl_blob_finish(&w, out, &len), 0);
    return len;
}

static void test_state_semantic_checks(void **s)
{
    (void)s;
    struct vmdl_amd_pmu *b = mk(&CFG_V2, 0, NULL);
    uint8_t *blob;
    size_t len = craft(&blob, 0);
    assert_int_equal(vmdl_amd_pmu_load(b, blob, len), 0);
    assert_int_equal(rd(b, CTL(2)), LINUX_CYCLES);
    assert_int_equal(vmdl_amd_pmu_live_mask(b), 0x4);
    free(blob);
    vmdl_amd_pmu_creation_reset(b);
    for (unsigned bad = 1; bad <= 5; bad++) {
        len = craft(&blob, bad);
        assert_int_equal(vmdl_amd_pmu_load(b, blob, len), VMDL_EBADBLOB);
        free(blob);
        assert_int_equal(rd(b, CTL(2)), 0);
        assert_int_equal(rd(b, GCTL), 0x3F);
    }
    vmdl_amd_pmu_destroy(b);
}

static void test_save_errors(void **s)
{
    (void)s;
    struct vmdl_amd_pmu *p = mk(&CFG_V2, 0, NULL);
    uint8_t *blob;
    size_t len;
    assert_int_equal(vmdl_amd_pmu_save(NULL, &blob, &len), VMDL_EINVAL);
    assert_int_equal(vmdl_amd_pmu_save(p, NULL, &len), VMDL_EINVAL);
    assert_int_equal(vmdl_amd_pmu_save(p, &blob, NULL), VMDL_EINVAL);
    vmdl_amd_pmu_destroy(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_defaults),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_create_errors),
        cmocka_unit_test(test_cpuid_leaves),
        cmocka_unit_test(test_config_from_cpuid_round_trip),
        cmocka_unit_test(test_counter_count_per_config),
        cmocka_unit_test(test_reset_values_all_configs),
        cmocka_unit_test(test_global_ctl_zero_quirk),
        cmocka_unit_test(test_legacy_config_msrs),
        cmocka_unit_test(test_core_extension_aliasing),
        cmocka_unit_test(test_counters_beyond_configured_fault),
        cmocka_unit_test(test_disabled_pmu),
        cmocka_unit_test(test_disable_ignored_quirk),
        cmocka_unit_test(test_p6_msrs_read_zero_drop_writes),
        cmocka_unit_test(test_unclaimed_and_ranges),
        cmocka_unit_test(test_evtsel_reserved_bits_cleared),
        cmocka_unit_test(test_evtsel_reserved_gp_quirk),
        cmocka_unit_test(test_counter_is_48_bits),
        cmocka_unit_test(test_global_status_clr_set),
        cmocka_unit_test(test_no_status_set_quirk),
        cmocka_unit_test(test_global_ctl_reserved_cleared),
        cmocka_unit_test(test_event_table),
        cmocka_unit_test(test_counting_sources),
        cmocka_unit_test(test_cmask_and_invert),
        cmocka_unit_test(test_os_usr_bits),
        cmocka_unit_test(test_enable_and_global_enable),
        cmocka_unit_test(test_insns_to_overflow),
        cmocka_unit_test(test_overflow_status_and_pmi),
        cmocka_unit_test(test_overflow_crossing_in_one_step),
        cmocka_unit_test(test_overflow_legacy_pmi_no_status),
        cmocka_unit_test(test_loop_count_exact),
        cmocka_unit_test(test_sampling_kicks_exact),
        cmocka_unit_test(test_rdpmc),
        cmocka_unit_test(test_vm_reset_fix),
        cmocka_unit_test(test_vm_reset_quirk_keeps_counting),
        cmocka_unit_test(test_vm_reset_legacy_and_core),
        cmocka_unit_test(test_creation_reset_differs_from_vm_reset),
        cmocka_unit_test(test_state_round_trip),
        cmocka_unit_test(test_state_rejects_corruption),
        cmocka_unit_test(test_state_rejects_other_config),
        cmocka_unit_test(test_state_semantic_checks),
        cmocka_unit_test(test_save_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
