/* SPDX-License-Identifier: MIT */
/*
 * fuzz_amd_pmu: MSR reads/writes on every PMU MSR (and foreign ones),
 * retirement of instructions and branches, RDPMC, VM reset, vCPU-creation
 * reset and state save/load on one vmdl_amd_pmu whose configuration
 * (family, PerfCtrExtCore, PerfMonV2, counter count, disabled, quirks) comes
 * from the first bytes; invalid configurations must be refused.
 *
 * Invariants checked after every step (all through the guest's MSR view):
 *  - every counter < 2^48; no event select ever reads back a reserved bit
 *    (the #GP quirk refuses them, the default clears them);
 *  - GLOBAL_STATUS and GLOBAL_CTL only hold bits of existing counters;
 *    GLOBAL_STATUS ignores writes, STATUS_CLR clears, STATUS_SET sets;
 *    STATUS_CLR/SET read as 0;
 *  - a disabled PMU: version 0, no counters, K7 MSRs read 0 and drop
 *    writes, every other PMU MSR #GPs, nothing counts, no PMI;
 *  - live_mask only names existing counters, insns_to_overflow is never 0;
 *  - retire: counters outside the live mask never move, live ones advance
 *    by exactly the instructions (or branches) modulo 2^48, an overflow sets
 *    the status bit (PerfMonV2) and raises one PMI when INT is set, and the
 *    sink sees exactly the PMIs the model counts;
 *  - VM reset zeroes every CTL/CTR (and GLOBAL_CTL/STATUS) unless the
 *    NO_VM_RESET quirk; creation reset leaves GLOBAL_CTL at its creation
 *    value; RDPMC returns the counter;
 *  - save -> load -> save reproduces the blob, a truncated one is refused.
 */
#include "fuzz_util.h"

#include "virtmodel/amd_pmu.h"
#include "virtmodel/error.h"

struct view {
    unsigned nr;
    uint64_t ctl[VMDL_AMD_PMU_MAX_COUNTERS], ctr[VMDL_AMD_PMU_MAX_COUNTERS];
    uint64_t gstatus, gctl;
};

struct run {
    struct vmdl_amd_pmu *pmu;
    struct vmdl_amd_pmu_config cfg;
    unsigned version, nr;
    uint64_t sink_pmis;
};

static void raise_pmi(void *opaque)
{
    ((struct run *)opaque)->sink_pmis++;
}

static uint32_t ctl_msr(const struct run *r, unsigned i)
{
    return r->cfg.perfctr_core ? VMDL_MSR_F15H_PERF_CTL0 + 2 * i
                               : VMDL_MSR_K7_EVNTSEL0 + i;
}

static uint32_t ctr_msr(const struct run *r, unsigned i)
{
    return r->cfg.perfctr_core ? VMDL_MSR_F15H_PERF_CTR0 + 2 * i
                               : VMDL_MSR_K7_PERFCTR0 + i;
}

static uint64_t valid_mask(const struct run *r)
{
    return r->nr ? (UINT64_C(1) << r->nr) - 1 : 0;
}

static void read_view(struct run *r, struct view *v)
{
    memset(v, 0, sizeof(*v));
    v->nr = r->nr;
    for (unsigned i = 0; i < r->nr; i++) {
        FZ_CHECK(vmdl_amd_pmu_rdmsr(r->pmu, ctl_msr(r, i), &v->ctl[i]) ==
                     VMDL_FAULT_NONE, "CTL%u unreadable", i);
        FZ_CHECK(vmdl_amd_pmu_rdmsr(r->pmu, ctr_msr(r, i), &v->ctr[i]) ==
                     VMDL_FAULT_NONE, "CTR%u unreadable", i);
        /* With PerfCtrExtCore the K7 MSRs alias counters 0-3. */
        if (r->cfg.perfctr_core && i < 4) {
            uint64_t k7;
            FZ_CHECK(vmdl_amd_pmu_rdmsr(r->pmu, VMDL_MSR_K7_PERFCTR0 + i, &k7) ==
                         VMDL_FAULT_NONE && k7 == v->ctr[i],
                     "K7 PERFCTR%u does not alias the core counter", i);
        }
    }
    if (r->version >= 2) {
        FZ_CHECK(vmdl_amd_pmu_rdmsr(r->pmu, VMDL_MSR_AMD64_PERF_CNTR_GLOBAL_STATUS,
                                    &v->gstatus) == VMDL_FAULT_NONE, "GSTATUS");
        FZ_CHECK(vmdl_amd_pmu_rdmsr(r->pmu, VMDL_MSR_AMD64_PERF_CNTR_GLOBAL_CTL,
                                    &v->gctl) == VMDL_FAULT_NONE, "GCTL");
    }
}

static void check_view(struct run *r, const struct view *v)
{
    for (unsigned i = 0; i < v->nr; i++) {
        FZ_CHECK(v->ctr[i] <= VMDL_AMD_PMU_COUNTER_MASK, "CTR%u = 0x%llx >= 2^48",
                 i, (unsigned long long)v->ctr[i]);
        FZ_CHECK(!(v->ctl[i] & VMDL_AMD_EVTSEL_RESERVED),
                 "CTL%u = 0x%llx has reserved bits", i,
                 (unsigned long long)v->ctl[i]);
    }
    FZ_CHECK(!(v->gstatus & ~valid_mask(r)), "GLOBAL_STATUS 0x%llx",
             (unsigned long long)v->gstatus);
    FZ_CHECK(!(v->gctl & ~valid_mask(r)), "GLOBAL_CTL 0x%llx",
             (unsigned long long)v->gctl);
    FZ_CHECK(!(vmdl_amd_pmu_live_mask(r->pmu) & ~valid_mask(r)), "live mask");
    FZ_CHECK(vmdl_amd_pmu_insns_to_overflow(r->pmu) != 0, "insns_to_overflow 0");
    FZ_CHECK(vmdl_amd_pmu_pmi_count(r->pmu) == r->sink_pmis,
             "model counted %llu PMIs, sink saw %llu",
             (unsigned long long)vmdl_amd_pmu_pmi_count(r->pmu),
             (unsigned long long)r->sink_pmis);
    if (r->version == 0) {
        FZ_CHECK(vmdl_amd_pmu_pmi_count(r->pmu) == 0, "PMI from a disabled PMU");
        for (unsigned i = 0; i < 4; i++) {
            uint64_t x = 1;
            FZ_CHECK(vmdl_amd_pmu_rdmsr(r->pmu, VMDL_MSR_K7_PERFCTR0 + i, &x) ==
                         VMDL_FAULT_NONE && x == 0, "disabled K7 counter reads 0x%llx",
                     (unsigned long long)x);
        }
    }
}

/* Intel's P6 counter MSRs, which an AMD vCPU reads as 0 (KVM msrs.c). */
static bool is_p6(uint32_t index)
{
    return index - VMDL_MSR_P6_PERFCTR0 < 2 || index - VMDL_MSR_P6_EVNTSEL0 < 2;
}

static uint32_t pick_msr(struct fz *f)
{
    size_t n;
    const struct vmdl_amd_pmu_msr_range *rg = vmdl_amd_pmu_msr_ranges(&n);
    unsigned k = fz_u8(f);
    if ((k & 7) == 0)
        return fz_u32(f);
    if ((k & 7) == 1)
        return rg[fz_pick(f, (unsigned)n)].last + 1 + (fz_u8(f) & 1);
    const struct vmdl_amd_pmu_msr_range *e = &rg[fz_pick(f, (unsigned)n)];
    return e->first + fz_u8(f) % (e->last - e->first + 1);
}

static uint64_t pick_evtsel(struct fz *f)
{
    size_t n;
    const struct vmdl_amd_pmu_event *ev = vmdl_amd_pmu_events(&n);
    unsigned k = fz_u8(f);
    if (k & 1)
        return fz_value(f);
    uint64_t code = ev[fz_pick(f, (unsigned)n)].code;
    uint64_t v = (code & 0xff) | ((code >> 8) << 32);
    v |= (uint64_t)(k & 0xe0) << 15; /* some of OS/USR/EDGE... */
    v |= (k & 2) ? VMDL_AMD_EVTSEL_EN : 0;
    v |= (k & 4) ? VMDL_AMD_EVTSEL_INT : 0;
    v |= (k & 8) ? VMDL_AMD_EVTSEL_OS : 0;
    v |= (k & 16) ? VMDL_AMD_EVTSEL_USR : 0;
    return v;
}

static void do_wrmsr(struct run *r, struct fz *f)
{
    uint32_t index = pick_msr(f);
    bool is_ctl_guess = fz_bool(f);
    uint64_t value = is_ctl_guess ? pick_evtsel(f) : fz_value(f);
    struct view before, after;
    read_view(r, &before);
    vmdl_fault fl = vmdl_amd_pmu_wrmsr(r->pmu, index, value);
    FZ_TRACE("wrmsr 0x%x 0x%llx -> %d\n", index, (unsigned long long)value, fl);
    FZ_CHECK(fl == VMDL_FAULT_NONE || fl == VMDL_FAULT_GP ||
                 fl == VMDL_FAULT_UNCLAIMED, "wrmsr fault %d", fl);
    FZ_CHECK((fl == VMDL_FAULT_UNCLAIMED) == !vmdl_amd_pmu_owns_msr(index),
             "MSR 0x%x claimed %d but owns %d", index, fl,
             vmdl_amd_pmu_owns_msr(index));
    read_view(r, &after);
    if (is_p6(index)) {
        /* KVM's kvm_set_msr_common(): dropped, whatever the value. */
        FZ_CHECK(fl == VMDL_FAULT_NONE, "P6 MSR 0x%x write faulted %d", index, fl);
        FZ_CHECK(!memcmp(&before, &after, sizeof(before)),
                 "P6 MSR 0x%x write changed the PMU", index);
        return;
    }
    if (fl != VMDL_FAULT_NONE) {
        FZ_CHECK(!memcmp(&before, &after, sizeof(before)),
                 "refused write to 0x%x changed the PMU", index);
        return;
    }
    if (r->version == 0) {
        FZ_CHECK(index >= VMDL_MSR_K7_EVNTSEL0 && index <= VMDL_MSR_K7_PERFCTR0 + 3,
                 "disabled PMU accepted MSR 0x%x", index);
        FZ_CHECK(!memcmp(&before, &after, sizeof(before)), "disabled PMU changed");
        return;
    }
    switch (index) {
    case VMDL_MSR_AMD64_PERF_CNTR_GLOBAL_STATUS:
        FZ_CHECK(after.gstatus == before.gstatus, "GLOBAL_STATUS writable");
        return;
    case VMDL_MSR_AMD64_PERF_CNTR_GLOBAL_STATUS_CLR:
        FZ_CHECK(after.gstatus == (before.gstatus & ~value), "STATUS_CLR");
        return;
    case VMDL_MSR_AMD64_PERF_CNTR_GLOBAL_STATUS_SET:
        FZ_CHECK(!(r->cfg.quirks & VMDL_AMD_PMU_QUIRK_NO_STATUS_SET), "SET quirk");
        FZ_CHECK(after.gstatus == (before.gstatus | (value & valid_mask(r))),
                 "STATUS_SET");
        return;
    case VMDL_MSR_AMD64_PERF_CNTR_GLOBAL_CTL:
        FZ_CHECK(after.gctl == (value & valid_mask(r)), "GLOBAL_CTL");
        return;
    default:
        break;
    }
    /* A CTL or CTR. */
    for (unsigned i = 0; i < r->nr; i++) {
        bool alias_k7 = i < 4;
        if (index == ctl_msr(r, i) || (alias_k7 && index == VMDL_MSR_K7_EVNTSEL0 + i)) {
            if (r->cfg.quirks & VMDL_AMD_PMU_QUIRK_EVTSEL_RSVD_GP)
                FZ_CHECK(!(value & VMDL_AMD_EVTSEL_RESERVED),
                         "reserved event-select bits accepted under the #GP quirk");
            FZ_CHECK(after.ctl[i] == (value & ~VMDL_AMD_EVTSEL_RESERVED),
                     "CTL%u = 0x%llx after writing 0x%llx", i,
                     (unsigned long long)after.ctl[i], (unsigned long long)value);
            return;
        }
        if (index == ctr_msr(r, i) || (alias_k7 && index == VMDL_MSR_K7_PERFCTR0 + i)) {
            FZ_CHECK(after.ctr[i] == (value & VMDL_AMD_PMU_COUNTER_MASK),
                     "CTR%u = 0x%llx after writing 0x%llx", i,
                     (unsigned long long)after.ctr[i], (unsigned long long)value);
            return;
        }
    }
    FZ_CHECK(0, "write to 0x%x accepted but names no counter", index);
}

static void do_rdmsr(struct run *r, struct fz *f)
{
    uint32_t index = pick_msr(f);
    uint64_t v = 0;
    vmdl_fault fl = vmdl_amd_pmu_rdmsr(r->pmu, index, &v);
    FZ_TRACE("rdmsr 0x%x -> %d 0x%llx\n", index, fl, (unsigned long long)v);
    FZ_CHECK((fl == VMDL_FAULT_UNCLAIMED) == !vmdl_amd_pmu_owns_msr(index),
             "rdmsr 0x%x claim", index);
    if (is_p6(index))
        FZ_CHECK(fl == VMDL_FAULT_NONE && v == 0, "P6 MSR 0x%x: fault %d value 0x%llx",
                 index, fl, (unsigned long long)v);
    if (fl != VMDL_FAULT_NONE)
        return;
    if (index == VMDL_MSR_AMD64_PERF_CNTR_GLOBAL_STATUS_CLR ||
        index == VMDL_MSR_AMD64_PERF_CNTR_GLOBAL_STATUS_SET)
        FZ_CHECK(v == 0, "write-only MSR 0x%x reads 0x%llx", index,
                 (unsigned long long)v);
    if (r->version == 0)
        FZ_CHECK(v == 0, "disabled PMU MSR 0x%x reads 0x%llx", index,
                 (unsigned long long)v);
}

/*
 * What a live counter must add (AMD APM vol. 2, 13.2.1: with a counter
 * mask the counter adds one per cycle in which the event occurred at
 * least CMASK times, or fewer times with INV).  The model retires one
 * instruction per cycle and an event at most once in it, so CMASK 1 counts
 * the events, a larger CMASK nothing, and INV the other cycles.
 */
static uint64_t expected_count(uint64_t ctl, const struct vmdl_amd_pmu_event *ev,
                               uint64_t insns, uint64_t branches)
{
    uint64_t events = ev->source == VMDL_AMD_PMU_SRC_BRANCHES ? branches : insns;
    unsigned cmask = (unsigned)((ctl >> 24) & 0xFF);
    if (cmask == 0)
        return events;
    uint64_t cycles_at_cmask = cmask == 1 ? events : 0;
    return (ctl & VMDL_AMD_EVTSEL_INV) ? insns - cycles_at_cmask : cycles_at_cmask;
}

static void do_retire(struct run *r, struct fz *f)
{
    uint64_t insns, branches;
    unsigned k = fz_u8(f);
    switch (k & 3) {
    case 0: insns = fz_u8(f); break;
    case 1: insns = fz_u32(f); break;
    case 2: insns = vmdl_amd_pmu_insns_to_overflow(r->pmu) - (fz_u8(f) & 1); break;
    default: insns = fz_value(f); break;
    }
    branches = (k & 4) ? fz_value(f) : insns < 256 ? fz_u8(f) % (insns + 1) : fz_u8(f);
    unsigned cpl = (k >> 3) & 3;
    struct view before, after;
    read_view(r, &before);
    uint32_t live = vmdl_amd_pmu_live_mask(r->pmu);
    uint64_t pmis = vmdl_amd_pmu_pmi_count(r->pmu);
    uint64_t to_ovf = vmdl_amd_pmu_insns_to_overflow(r->pmu);
    vmdl_amd_pmu_retire(r->pmu, insns, branches, cpl);
    FZ_TRACE("retire %llu insns %llu branches cpl %u\n", (unsigned long long)insns,
             (unsigned long long)branches, cpl);
    read_view(r, &after);
    uint64_t want_pmis = pmis, want_status = before.gstatus;
    for (unsigned i = 0; i < r->nr; i++) {
        uint64_t ctl = before.ctl[i];
        bool counts = (live >> i) & 1;
        if (counts)
            counts = cpl == 0 ? (ctl & VMDL_AMD_EVTSEL_OS) : (ctl & VMDL_AMD_EVTSEL_USR);
        if (!counts) {
            FZ_CHECK(after.ctr[i] == before.ctr[i], "counter %u moved while not "
                     "counting", i);
            continue;
        }
        const struct vmdl_amd_pmu_event *ev = vmdl_amd_pmu_event_of(ctl);
        FZ_CHECK(ev && ev->source != VMDL_AMD_PMU_SRC_NONE, "live counter %u "
                 "without a countable event", i);
        uint64_t n = expected_count(ctl, ev, insns, branches);
        FZ_CHECK(after.ctr[i] == ((before.ctr[i] + n) & VMDL_AMD_PMU_COUNTER_MASK),
                 "counter %u: 0x%llx + %llu -> 0x%llx", i,
                 (unsigned long long)before.ctr[i], (unsigned long long)n,
                 (unsigned long long)after.ctr[i]);
        if (n && n >= VMDL_AMD_PMU_COUNTER_MASK + 1 - before.ctr[i]) {
            if (r->version >= 2)
                want_status |= UINT64_C(1) << i;
            if (ctl & VMDL_AMD_EVTSEL_INT)
                want_pmis++;
        }
    }
    FZ_CHECK(after.gstatus == want_status, "GLOBAL_STATUS 0x%llx, expected 0x%llx",
             (unsigned long long)after.gstatus, (unsigned long long)want_status);
    FZ_CHECK(vmdl_amd_pmu_pmi_count(r->pmu) == want_pmis, "PMIs %llu expected %llu",
             (unsigned long long)vmdl_amd_pmu_pmi_count(r->pmu),
             (unsigned long long)want_pmis);
    if (insns < to_ovf && !vmdl_amd_pmu_wants_branches(r->pmu))
        FZ_CHECK(want_pmis == pmis && want_status == before.gstatus,
                 "overflow before insns_to_overflow (%llu < %llu)",
                 (unsigned long long)insns, (unsigned long long)to_ovf);
}

static void do_resets(struct run *r, struct fz *f)
{
    struct view v;
    if (fz_bool(f)) {
        struct view before;
        read_view(r, &before);
        vmdl_amd_pmu_vm_reset(r->pmu);
        FZ_TRACE("vm_reset\n");
        read_view(r, &v);
        if (r->cfg.quirks & VMDL_AMD_PMU_QUIRK_NO_VM_RESET) {
            FZ_CHECK(!memcmp(&before, &v, sizeof(v)), "NO_VM_RESET quirk reset");
        } else {
            for (unsigned i = 0; i < r->nr; i++)
                FZ_CHECK(!v.ctl[i] && !v.ctr[i], "counter %u survives VM reset", i);
            FZ_CHECK(!v.gctl && !v.gstatus, "global MSRs survive VM reset");
        }
    } else {
        vmdl_amd_pmu_creation_reset(r->pmu);
        FZ_TRACE("creation_reset\n");
        read_view(r, &v);
        for (unsigned i = 0; i < r->nr; i++)
            FZ_CHECK(!v.ctl[i] && !v.ctr[i], "counter %u survives creation", i);
        uint64_t want = (r->version >= 2 &&
                         !(r->cfg.quirks & VMDL_AMD_PMU_QUIRK_GLOBAL_CTL_ZERO))
                            ? valid_mask(r) : 0;
        FZ_CHECK(v.gctl == want && !v.gstatus, "creation GLOBAL_CTL 0x%llx",
                 (unsigned long long)v.gctl);
    }
}

static void do_rdpmc(struct run *r, struct fz *f)
{
    uint32_t ecx = fz_bool(f) ? fz_u32(f) : fz_u8(f) % 16;
    unsigned cpl = fz_u8(f) & 3;
    bool pce = fz_bool(f);
    uint64_t v = 0;
    vmdl_fault fl = vmdl_amd_pmu_rdpmc(r->pmu, ecx, cpl, pce, &v);
    FZ_CHECK(fl == VMDL_FAULT_NONE || fl == VMDL_FAULT_GP, "rdpmc fault %d", fl);
    if (fl == VMDL_FAULT_NONE) {
        FZ_CHECK(ecx < r->nr && (cpl == 0 || pce), "rdpmc %u allowed", ecx);
        uint64_t m;
        vmdl_amd_pmu_rdmsr(r->pmu, ctr_msr(r, ecx), &m);
        FZ_CHECK(v == m, "RDPMC %u = 0x%llx, MSR 0x%llx", ecx,
                 (unsigned long long)v, (unsigned long long)m);
    } else if (r->nr && ecx < r->nr) {
        FZ_CHECK(cpl != 0 && !pce, "RDPMC %u #GP at CPL0 or with PCE", ecx);
    }
}

static void do_roundtrip(struct run *r)
{
    uint8_t *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    struct view before, after;
    read_view(r, &before);
    FZ_CHECK(vmdl_amd_pmu_save(r->pmu, &a, &na) == 0, "save: %s", vmdl_last_error());
    FZ_CHECK(vmdl_amd_pmu_load(r->pmu, a, na) == 0, "load own blob: %s",
             vmdl_last_error());
    FZ_CHECK(vmdl_amd_pmu_save(r->pmu, &b, &nb) == 0, "save 2");
    FZ_CHECK(na == nb && !memcmp(a, b, na), "save/load/save differs");
    read_view(r, &after);
    FZ_CHECK(!memcmp(&before, &after, sizeof(before)), "load changed the PMU");
    FZ_CHECK(vmdl_amd_pmu_load(r->pmu, a, na - 1) != 0, "truncated blob accepted");
    read_view(r, &after);
    FZ_CHECK(!memcmp(&before, &after, sizeof(before)), "refused load changed the PMU");
    free(a);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f;
    fz_init(&f, data, size);
    static const unsigned families[] = {0, 0x19, 0x1a, 0x17, 0x15, 0x10, 6, 5};
    struct run r = {0};
    unsigned b0 = fz_u8(&f), b1 = fz_u8(&f);
    if ((b0 & 0xc0) == 0xc0) {
        /* From CPUID words. */
        unsigned fam = fz_u8(&f);
        uint32_t ecx = fz_u32(&f), eax = fz_u32(&f), ebx = fz_u32(&f);
        if (vmdl_amd_pmu_config_from_cpuid(fam, ecx, eax, ebx, &r.cfg))
            return 0;
    } else {
        r.cfg.family = families[b0 & 7];
        r.cfg.perfctr_core = b0 & 8;
        r.cfg.perfmon_v2 = b0 & 16;
        r.cfg.disabled = b0 & 32;
        r.cfg.nr_counters = b1 & 15;
    }
    r.cfg.quirks = (b1 >> 2) & VMDL_AMD_PMU_QUIRKS_ALL;
    if ((b1 & 3) == 3)
        r.cfg.quirks = fz_u32(&f);
    struct vmdl_pmi_sink sink = {raise_pmi, &r};
    int check = vmdl_amd_pmu_config_check(&r.cfg);
    int err = vmdl_amd_pmu_create(&r.cfg, &sink, &r.pmu);
    FZ_CHECK((check == 0) == (err == 0), "config_check %d but create %d", check, err);
    if (err)
        return 0;
    struct vmdl_amd_pmu_cpuid_leaf leaves[VMDL_AMD_PMU_CPUID_LEAVES];
    FZ_CHECK(vmdl_amd_pmu_cpuid(&r.cfg, leaves) == 0, "cpuid");
    r.version = vmdl_amd_pmu_version(r.pmu);
    r.nr = vmdl_amd_pmu_nr_counters(r.pmu);
    FZ_CHECK(r.version <= 2, "version %u", r.version);
    FZ_CHECK(r.nr <= ((r.cfg.quirks & VMDL_AMD_PMU_QUIRK_ARCH_COUNTERS)
                          ? VMDL_AMD_PMU_MAX_COUNTERS : VMDL_AMD_PMU_CORE_COUNTERS),
             "%u counters", r.nr);
    FZ_CHECK((r.version == 0) == (r.nr == 0), "version %u with %u counters",
             r.version, r.nr);
    if (r.cfg.disabled && !(r.cfg.quirks & VMDL_AMD_PMU_QUIRK_DISABLE_IGNORED))
        FZ_CHECK(r.version == 0, "disabled PMU has version %u", r.version);
    if (r.version == 2)
        FZ_CHECK(r.cfg.perfmon_v2, "version 2 without PerfMonV2");
    if (r.version && !r.cfg.perfctr_core)
        FZ_CHECK(r.nr == VMDL_AMD_PMU_LEGACY_COUNTERS, "legacy PMU with %u", r.nr);

    struct view v;
    read_view(&r, &v);
    check_view(&r, &v);
    unsigned steps = 0;
    while (fz_more(&f) && steps++ < 4096) {
        switch (fz_u8(&f) % 10) {
        case 0: case 1: case 2: do_wrmsr(&r, &f); break;
        case 3: do_rdmsr(&r, &f); break;
        case 4: case 5: case 6: do_retire(&r, &f); break;
        case 7: do_resets(&r, &f); break;
        case 8: do_rdpmc(&r, &f); break;
        default: do_roundtrip(&r); break;
        }
        read_view(&r, &v);
        check_view(&r, &v);
    }
    vmdl_amd_pmu_destroy(r.pmu);
    return 0;
}

static void write_seeds(const char *dir)
{
    /* Configurations: v2 (6 counters), core, legacy, disabled, arch 15. */
    static const uint8_t cfgs[][2] = {
        {0x18 | 1, 0}, {0x08 | 4, 0}, {0x00 | 4, 0}, {0x38 | 1, 0},
        {0x18 | 1, 15 | (0x20 << 2)}, {0x18 | 1, 6 | (0x01 << 2)},
        {0x18 | 1, 6 | (0x02 << 2)}, {0x18 | 1, 6 | (0x08 << 2)},
    };
    for (unsigned c = 0; c < sizeof(cfgs) / sizeof(cfgs[0]); c++) {
        struct fz_out o;
        memset(&o, 0, sizeof(o));
        fz_put8(&o, cfgs[c][0]);
        fz_put8(&o, cfgs[c][1]);
        /* Program counter 0 to count instructions with INT, set it near
         * overflow, enable it globally, retire across the overflow. */
        fz_put8(&o, 0); fz_put8(&o, 2); fz_put8(&o, 2); fz_put8(&o, 0);
        fz_put8(&o, 1); fz_put8(&o, 0x02 | 0x04 | 0x08 | 0x10); fz_put8(&o, 1);
        fz_put8(&o, 0); fz_put8(&o, 2); fz_put8(&o, 2); fz_put8(&o, 1);
        fz_put8(&o, 0); fz_put8(&o, 7); fz_put8(&o, 0xf0);
        fz_put8(&o, 0); fz_put8(&o, 2); fz_put8(&o, 4); fz_put8(&o, 0);
        fz_put8(&o, 0); fz_putval(&o, 0x3f);
        fz_put8(&o, 4); fz_put8(&o, 2); fz_put8(&o, 0);
        fz_put8(&o, 4); fz_put8(&o, 3); fz_putval(&o, 0x1000000000000ull);
        fz_put8(&o, 8); fz_put8(&o, 0); fz_put8(&o, 0); fz_put8(&o, 0);
        fz_put8(&o, 9);
        fz_put8(&o, 7); fz_put8(&o, 1);
        fz_put8(&o, 7); fz_put8(&o, 0);
        char name[32];
        snprintf(name, sizeof(name), "config%u", c);
        fz_save_out(dir, name, &o);
    }
}

FZ_SEED_WRITER_MAIN()
