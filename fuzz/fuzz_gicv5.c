/* SPDX-License-Identifier: MIT */
/*
 * fuzz_gicv5: guest system-register accesses on every GICv5 encoding of the
 * table (and random ones), the GIC/GICR system instructions (CDIA, CDEOI,
 * CDDI, ...), userspace and device PPI lines, direct virtual injection,
 * vcpu load/put on random physical CPUs (WFI puts included), VM resets and
 * state export/import, on one vmdl_gicv5 whose configuration (vCPUs,
 * physical CPUs, storage, trap set, timers, PMU, extra PPIs) comes from the
 * first bytes.
 *
 * Invariants checked after every step:
 *  - for a loaded vCPU, the expected highest-priority pending interrupt is
 *    computed from what the guest reads (ENABLER, SPENDR, SACTIVER,
 *    PRIORITYR, PCR, CR0, APR): ICC_HPPIR_EL1 and the IRQ line
 *    (vmdl_gicv5_irq_pending) both equal it;
 *  - GICR CDIA never returns a PPI that is masked by the priority mask,
 *    disabled, not exposed, already active or not pending, or when CR0.EN
 *    is clear; it returns exactly the expected one and leaves it active (an
 *    edge PPI no longer pending); with nothing to acknowledge it returns 0;
 *  - the guest never sees PPIs outside the exposed mask in ENABLER, PENDR,
 *    ACTIVER or non-zero PRIORITYR fields;
 *  - for a put vCPU, an IRQ-line PPI is exposed, enabled and not active in
 *    the shadow state;
 *  - accesses return NONE, UNDEF or UNCLAIMED; unknown encodings are
 *    UNCLAIMED; EL2 registers are UNDEF;
 *  - export -> import -> export reproduces the blob when every vCPU is put.
 */
#include "fuzz_util.h"

#include "virtmodel/error.h"
#include "virtmodel/gicv5.h"

struct run {
    struct vmdl_gicv5 *g;
    struct vmdl_gicv5_config cfg;
    struct vmdl_gicv5_masks m;
    unsigned nv, np;
};

static vmdl_fault sysreg_id(struct run *r, unsigned vcpu, enum vmdl_gicv5_reg_id id,
                            bool wr, uint64_t *v)
{
    const struct vmdl_gicv5_reg_desc *d = vmdl_gicv5_reg(id);
    return vmdl_gicv5_sysreg(r->g, vcpu, d->op0, d->op1, d->crn, d->crm, d->op2,
                             wr, v);
}

static uint64_t rd(struct run *r, unsigned vcpu, enum vmdl_gicv5_reg_id id)
{
    uint64_t v = 0;
    FZ_CHECK(sysreg_id(r, vcpu, id, false, &v) == VMDL_FAULT_NONE,
             "read of %s faulted", vmdl_gicv5_reg(id)->name);
    return v;
}

static bool bit(const uint64_t *w, unsigned i)
{
    return (w[i / 64] >> (i % 64)) & 1;
}

struct live {
    uint64_t en[2], pend[2], act[2], prio[16], pcr, cr0, apr;
};

static void read_live(struct run *r, unsigned vcpu, struct live *l)
{
    l->en[0] = rd(r, vcpu, VMDL_GICV5_ICC_PPI_ENABLER0_EL1);
    l->en[1] = rd(r, vcpu, VMDL_GICV5_ICC_PPI_ENABLER1_EL1);
    l->pend[0] = rd(r, vcpu, VMDL_GICV5_ICC_PPI_SPENDR0_EL1);
    l->pend[1] = rd(r, vcpu, VMDL_GICV5_ICC_PPI_SPENDR1_EL1);
    l->act[0] = rd(r, vcpu, VMDL_GICV5_ICC_PPI_SACTIVER0_EL1);
    l->act[1] = rd(r, vcpu, VMDL_GICV5_ICC_PPI_SACTIVER1_EL1);
    for (unsigned i = 0; i < 16; i++)
        l->prio[i] = rd(r, vcpu, VMDL_GICV5_ICC_PPI_PRIORITYR0_EL1 + i);
    l->pcr = rd(r, vcpu, VMDL_GICV5_ICC_PCR_EL1);
    l->cr0 = rd(r, vcpu, VMDL_GICV5_ICC_CR0_EL1);
    l->apr = rd(r, vcpu, VMDL_GICV5_ICC_APR_EL1);
}

static unsigned prio_of(const struct live *l, unsigned ppi)
{
    return (unsigned)(l->prio[ppi / 8] >> ((ppi % 8) * 8)) & 31u;
}

/* The architectural answer: -1 or the PPI to signal. */
static int expected_hppi(const struct run *r, const struct live *l)
{
    if (!(l->cr0 & 1))
        return -1;
    uint32_t apr = (uint32_t)l->apr;
    unsigned rpr = apr ? (unsigned)__builtin_ctz(apr) : VMDL_GICV5_PRIO_IDLE;
    int best = -1;
    unsigned best_prio = 32;
    for (unsigned ppi = 0; ppi < VMDL_GICV5_NR_PPIS; ppi++) {
        if (!bit(r->m.exposed, ppi) || !bit(l->en, ppi) || !bit(l->pend, ppi) ||
            bit(l->act, ppi))
            continue;
        if (prio_of(l, ppi) < best_prio) {
            best_prio = prio_of(l, ppi);
            best = (int)ppi;
        }
    }
    if (best < 0 || best_prio > (l->pcr & 31) || best_prio >= rpr)
        return -1;
    return best;
}

static void check_vcpu(struct run *r, unsigned vcpu)
{
    int line = vmdl_gicv5_irq_pending(r->g, vcpu);
    if (vmdl_gicv5_vcpu_pcpu(r->g, vcpu) < 0) {
        if (line >= 0) {
            unsigned ppi = (unsigned)line & VMDL_GICV5_INTID_ID_MASK;
            struct vmdl_gicv5_ppi_state s;
            FZ_CHECK(ppi < VMDL_GICV5_NR_PPIS &&
                         vmdl_gicv5_get_ppi(r->g, vcpu, ppi, &s) == 0,
                     "IRQ line names 0x%x", line);
            FZ_CHECK(s.exposed && s.enabled && !s.active,
                     "vCPU %u (put): IRQ line for PPI %u exposed %d enabled %d "
                     "active %d", vcpu, ppi, s.exposed, s.enabled, s.active);
        }
        return;
    }
    struct live l;
    read_live(r, vcpu, &l);
    for (unsigned w = 0; w < 2; w++) {
        uint64_t out = ~r->m.exposed[w];
        FZ_CHECK(!(l.en[w] & out) && !(l.pend[w] & out) && !(l.act[w] & out),
                 "vCPU %u: unexposed PPIs visible (word %u en 0x%llx pend 0x%llx "
                 "act 0x%llx)", vcpu, w, (unsigned long long)l.en[w],
                 (unsigned long long)l.pend[w], (unsigned long long)l.act[w]);
    }
    for (unsigned ppi = 0; ppi < VMDL_GICV5_NR_PPIS; ppi++)
        if (!bit(r->m.exposed, ppi))
            FZ_CHECK(prio_of(&l, ppi) == 0, "priority of unexposed PPI %u", ppi);
    int want = expected_hppi(r, &l);
    uint64_t hppir = rd(r, vcpu, VMDL_GICV5_ICC_HPPIR_EL1);
    uint64_t want_hppir = want < 0 ? 0 : VMDL_GICV5_PPI_INTID(want) | VMDL_BIT(32);
    FZ_CHECK(hppir == want_hppir, "vCPU %u: HPPIR 0x%llx, expected 0x%llx", vcpu,
             (unsigned long long)hppir, (unsigned long long)want_hppir);
    int want_line = want < 0 ? -1 : (int)VMDL_GICV5_PPI_INTID(want);
    FZ_CHECK(line == want_line, "vCPU %u: IRQ line %d, expected %d", vcpu, line,
             want_line);
}

static void check_all(struct run *r)
{
    for (unsigned v = 0; v < r->nv; v++)
        check_vcpu(r, v);
}

static void do_cdia(struct run *r, unsigned vcpu)
{
    if (vmdl_gicv5_vcpu_pcpu(r->g, vcpu) < 0) {
        uint64_t v = 0;
        FZ_CHECK(sysreg_id(r, vcpu, VMDL_GICV5_GICR_CDIA, false, &v) ==
                     VMDL_FAULT_UNDEF, "CDIA on a put vCPU");
        return;
    }
    struct live l;
    read_live(r, vcpu, &l);
    int want = expected_hppi(r, &l);
    uint64_t v = 0;
    vmdl_fault fl = sysreg_id(r, vcpu, VMDL_GICV5_GICR_CDIA, false, &v);
    FZ_TRACE("vcpu %u CDIA -> %d 0x%llx (expected %d)\n", vcpu, fl,
             (unsigned long long)v, want);
    FZ_CHECK(fl == VMDL_FAULT_NONE, "CDIA fault %d", fl);
    if (!(v & VMDL_GICV5_CDIA_VALID)) {
        FZ_CHECK(v == 0 && want < 0, "CDIA returned 0x%llx, expected PPI %d",
                 (unsigned long long)v, want);
        return;
    }
    unsigned ppi = (unsigned)(v & VMDL_GICV5_INTID_ID_MASK);
    FZ_CHECK(((v >> VMDL_GICV5_INTID_TYPE_SHIFT) & 7) == VMDL_GICV5_TYPE_PPI &&
                 ppi < VMDL_GICV5_NR_PPIS, "CDIA INTID 0x%llx", (unsigned long long)v);
    FZ_CHECK(l.cr0 & 1, "CDIA acknowledged PPI %u with CR0.EN clear", ppi);
    FZ_CHECK(bit(r->m.exposed, ppi), "CDIA acknowledged unexposed PPI %u", ppi);
    FZ_CHECK(bit(l.en, ppi), "CDIA acknowledged disabled PPI %u", ppi);
    FZ_CHECK(bit(l.pend, ppi) && !bit(l.act, ppi), "CDIA of PPI %u: pending %d "
             "active %d", ppi, bit(l.pend, ppi), bit(l.act, ppi));
    FZ_CHECK(prio_of(&l, ppi) <= (l.pcr & 31), "CDIA acknowledged PPI %u priority "
             "%u below the mask %llu", ppi, prio_of(&l, ppi),
             (unsigned long long)(l.pcr & 31));
    FZ_CHECK((int)ppi == want, "CDIA acknowledged PPI %u, expected %d", ppi, want);
    struct live a;
    read_live(r, vcpu, &a);
    FZ_CHECK(bit(a.act, ppi), "acknowledged PPI %u not active", ppi);
    if (!bit(r->m.level, ppi))
        FZ_CHECK(!bit(a.pend, ppi), "edge PPI %u still pending after CDIA", ppi);
}

static unsigned pick_ppi(struct run *r, struct fz *f)
{
    unsigned k = fz_u8(f);
    if (k < 128)
        return k;
    /* An exposed one. */
    unsigned start = fz_u8(f) & 127;
    for (unsigned i = 0; i < 128; i++) {
        unsigned p = (start + i) & 127;
        if (bit(r->m.exposed, p))
            return p;
    }
    return VMDL_GICV5_PPI_SW;
}

static void do_sysreg(struct run *r, struct fz *f, unsigned vcpu)
{
    unsigned k = fz_u8(f);
    unsigned op0, op1, crn, crm, op2;
    const struct vmdl_gicv5_reg_desc *d = NULL;
    if (k < 16) {
        op0 = fz_u8(f) & 3; op1 = fz_u8(f) & 7; crn = fz_u8(f) & 15;
        crm = fz_u8(f) & 15; op2 = fz_u8(f) & 7;
    } else {
        d = vmdl_gicv5_reg(fz_u8(f) % VMDL_GICV5_NR_REGS);
        op0 = d->op0; op1 = d->op1; crn = d->crn; crm = d->crm; op2 = d->op2;
    }
    bool wr = k & 1;
    uint64_t v = 0;
    if (wr) {
        if (d && d->id == VMDL_GICV5_GIC_CDDI)
            v = VMDL_GICV5_PPI_INTID(pick_ppi(r, f));
        else
            v = fz_value(f);
    }
    vmdl_fault fl = vmdl_gicv5_sysreg(r->g, vcpu, op0, op1, crn, crm, op2, wr, &v);
    FZ_TRACE("vcpu %u %s S%u_%u_C%u_C%u_%u 0x%llx -> %d\n", vcpu, wr ? "write" : "read",
             op0, op1, crn, crm, op2, (unsigned long long)v, fl);
    const struct vmdl_gicv5_reg_desc *known = vmdl_gicv5_reg_lookup(op0, op1, crn, crm, op2);
    if (!known) {
        FZ_CHECK(fl == VMDL_FAULT_UNCLAIMED, "unknown encoding claimed (%d)", fl);
        return;
    }
    FZ_CHECK(fl == VMDL_FAULT_NONE || fl == VMDL_FAULT_UNDEF, "sysreg fault %d", fl);
    if (known->el != 1)
        FZ_CHECK(fl == VMDL_FAULT_UNDEF, "EL2 register %s reachable", known->name);
    if ((wr && !(known->access & VMDL_GICV5_WO)) || (!wr && !(known->access & VMDL_GICV5_RO)))
        FZ_CHECK(fl == VMDL_FAULT_UNDEF, "%s of %s allowed", wr ? "write" : "read",
                 known->name);
    if (vmdl_gicv5_vcpu_pcpu(r->g, vcpu) < 0)
        FZ_CHECK(fl == VMDL_FAULT_UNDEF, "access on a put vCPU");
    if (!wr && fl == VMDL_FAULT_NONE && known->kind == VMDL_GICV5_SYSREG)
        FZ_CHECK(!(v & known->res0), "%s read 0x%llx with RES0 bits", known->name,
                 (unsigned long long)v);
}

static void do_roundtrip(struct run *r)
{
    uint8_t *x = NULL, *y = NULL;
    size_t nx = 0, ny = 0;
    bool all_put = true;
    for (unsigned v = 0; v < r->nv; v++)
        all_put &= vmdl_gicv5_vcpu_pcpu(r->g, v) < 0;
    int e = vmdl_gicv5_export(r->g, &x, &nx);
    if (!all_put) {
        FZ_CHECK(e == VMDL_ESTATE, "export with a loaded vCPU returned %d", e);
        return;
    }
    FZ_CHECK(e == 0, "export: %s", vmdl_last_error());
    FZ_CHECK(vmdl_gicv5_import(r->g, x, nx) == 0, "import own blob: %s",
             vmdl_last_error());
    FZ_CHECK(vmdl_gicv5_export(r->g, &y, &ny) == 0, "export 2");
    FZ_CHECK(nx == ny && !memcmp(x, y, nx), "export/import/export differs");
    free(y);
    FZ_CHECK(vmdl_gicv5_import(r->g, x, nx - 1) != 0, "truncated blob accepted");
    FZ_CHECK(vmdl_gicv5_export(r->g, &y, &ny) == 0, "export 3");
    FZ_CHECK(nx == ny && !memcmp(x, y, nx), "refused import changed state");
    free(x);
    free(y);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f;
    fz_init(&f, data, size);
    struct run r;
    memset(&r, 0, sizeof(r));
    unsigned b0 = fz_u8(&f), b1 = fz_u8(&f);
    r.cfg.nr_vcpus = 1 + (b0 & 3);
    r.cfg.nr_pcpus = (b0 >> 2) & 3;
    r.cfg.storage = (b0 >> 4) & 1 ? VMDL_GICV5_DENSE : VMDL_GICV5_SPARSE;
    r.cfg.traps = (b0 >> 5) & 1 ? VMDL_GICV5_TRAPS_KVM_V1 : VMDL_GICV5_TRAPS_KVM_V3;
    r.cfg.no_timers = (b0 >> 6) & 1;
    r.cfg.pmu = (b0 >> 7) & 1;
    r.cfg.nr_ppis = (b1 & 4) ? 128 : 0; /* 0: KVM's 64 */
    if (b1 & 1) {
        r.cfg.extra_ppis[0] = fz_u64(&f);
        r.cfg.extra_ppis[1] = fz_u64(&f);
        r.cfg.extra_level[0] = fz_u64(&f);
        r.cfg.extra_level[1] = fz_u64(&f);
        if (b1 & 2) {
            /* Keep it valid most of the time: no SW_PPI, levels exposed. */
            r.cfg.extra_ppis[0] &= ~(UINT64_C(1) << VMDL_GICV5_PPI_SW);
            r.cfg.extra_level[0] &= r.cfg.extra_ppis[0];
            r.cfg.extra_level[1] &= r.cfg.extra_ppis[1];
            if (!r.cfg.nr_ppis)
                r.cfg.extra_ppis[1] = r.cfg.extra_level[1] = 0;
        }
    }
    if (vmdl_gicv5_create(&r.cfg, &r.g))
        return 0;
    r.nv = vmdl_gicv5_nr_vcpus(r.g);
    r.np = vmdl_gicv5_nr_pcpus(r.g);
    vmdl_gicv5_get_masks(r.g, &r.m);
    FZ_CHECK(bit(r.m.exposed, VMDL_GICV5_PPI_SW) && bit(r.m.userspace, VMDL_GICV5_PPI_SW),
             "SW_PPI not exposed to userspace");
    for (unsigned w = 0; w < 2; w++)
        FZ_CHECK(!(r.m.level[w] & ~r.m.exposed[w]) && !(r.m.userspace[w] & ~r.m.exposed[w]),
                 "masks outside the exposed set");

    check_all(&r);
    unsigned steps = 0;
    while (fz_more(&f) && steps++ < 2048) {
        unsigned op = fz_u8(&f);
        unsigned vcpu = fz_u8(&f) % r.nv;
        switch (op % 12) {
        case 0: case 1: case 2:
            do_sysreg(&r, &f, vcpu);
            break;
        case 3:
            do_cdia(&r, vcpu);
            break;
        case 4: {
            unsigned ppi = fz_u8(&f) < 200 ? VMDL_GICV5_PPI_SW : fz_u8(&f);
            bool level = fz_bool(&f);
            int e = vmdl_gicv5_irq_line(r.g, vcpu, ppi, level);
            FZ_TRACE("irq_line vcpu %u ppi %u %d -> %d\n", vcpu, ppi, level, e);
            if (ppi >= VMDL_GICV5_NR_PPIS || !bit(r.m.userspace, ppi))
                FZ_CHECK(e != 0, "irq_line on PPI %u accepted", ppi);
            break;
        }
        case 5: {
            unsigned ppi = pick_ppi(&r, &f);
            bool level = fz_bool(&f);
            int e = vmdl_gicv5_device_line(r.g, vcpu, ppi, level);
            FZ_TRACE("device_line vcpu %u ppi %u %d -> %d\n", vcpu, ppi, level, e);
            if (ppi == VMDL_GICV5_PPI_SW || !bit(r.m.exposed, ppi))
                FZ_CHECK(e != 0, "device_line on PPI %u accepted", ppi);
            break;
        }
        case 6: {
            unsigned ppi = pick_ppi(&r, &f);
            int e = vmdl_gicv5_set_dvi(r.g, vcpu, ppi, fz_bool(&f));
            FZ_TRACE("set_dvi vcpu %u ppi %u -> %d\n", vcpu, ppi, e);
            break;
        }
        case 7: case 8: {
            unsigned pcpu = fz_u8(&f) % (r.np + 1);
            int e = vmdl_gicv5_vcpu_load(r.g, vcpu, pcpu);
            FZ_TRACE("load vcpu %u pcpu %u -> %d\n", vcpu, pcpu, e);
            if (pcpu >= r.np)
                FZ_CHECK(e != 0, "load on pcpu %u of %u", pcpu, r.np);
            if (e == 0)
                FZ_CHECK(vmdl_gicv5_vcpu_pcpu(r.g, vcpu) == (int)pcpu &&
                             vmdl_gicv5_pcpu_vcpu(r.g, pcpu) == (int)vcpu,
                         "load bookkeeping");
            break;
        }
        case 9: {
            bool wfi = fz_bool(&f);
            int e = vmdl_gicv5_vcpu_put(r.g, vcpu, wfi);
            FZ_TRACE("put vcpu %u wfi %d -> %d\n", vcpu, wfi, e);
            if (e == 0)
                FZ_CHECK(vmdl_gicv5_vcpu_pcpu(r.g, vcpu) < 0, "put left it loaded");
            break;
        }
        case 10:
            if (fz_u8(&f) < 32) {
                FZ_TRACE("reset\n");
                FZ_CHECK(vmdl_gicv5_reset(r.g) == 0, "reset");
                for (unsigned v = 0; v < r.nv; v++)
                    FZ_CHECK(vmdl_gicv5_vcpu_pcpu(r.g, v) < 0, "reset left vCPU loaded");
            } else {
                do_roundtrip(&r);
            }
            break;
        default: {
            /* Priority drop and deactivate, as a handler ends. */
            uint64_t v = 0;
            vmdl_fault a = sysreg_id(&r, vcpu, VMDL_GICV5_GIC_CDEOI, true, &v);
            v = VMDL_GICV5_PPI_INTID(pick_ppi(&r, &f));
            vmdl_fault b = sysreg_id(&r, vcpu, VMDL_GICV5_GIC_CDDI, true, &v);
            FZ_TRACE("vcpu %u EOI+DI -> %d %d\n", vcpu, a, b);
            break;
        }
        }
        check_all(&r);
    }
    vmdl_gicv5_destroy(r.g);
    return 0;
}

static void write_seeds(const char *dir)
{
    static const uint8_t cfg0[] = {0x00, 0x81, 0x25, 0x1b, 0xc2};
    const struct vmdl_gicv5_reg_desc *en0 = vmdl_gicv5_reg(VMDL_GICV5_ICC_PPI_ENABLER0_EL1);
    (void)en0;
    for (unsigned c = 0; c < sizeof(cfg0); c++) {
        struct fz_out o;
        memset(&o, 0, sizeof(o));
        fz_put8(&o, cfg0[c]);
        fz_put8(&o, c == 4 ? 3 : 0);
        if (c == 4)
            for (int i = 0; i < 4; i++)
                fz_put64(&o, i == 1 ? 0xff00ull : 0x0f000000f0ull);
        /* load vCPU 0 on pCPU 0 */
        fz_put8(&o, 7); fz_put8(&o, 0); fz_put8(&o, 0);
        /* CR0.EN = 1, PCR = 31, ENABLER0 = all, SPENDR0 = all, prio */
        fz_put8(&o, 1); fz_put8(&o, 0); fz_put8(&o, 17);
        fz_put8(&o, VMDL_GICV5_ICC_CR0_EL1); fz_putval(&o, 1);
        fz_put8(&o, 1); fz_put8(&o, 0); fz_put8(&o, 17);
        fz_put8(&o, VMDL_GICV5_ICC_PCR_EL1); fz_putval(&o, 31);
        fz_put8(&o, 1); fz_put8(&o, 0); fz_put8(&o, 17);
        fz_put8(&o, VMDL_GICV5_ICC_PPI_ENABLER0_EL1); fz_putval(&o, ~0ull);
        fz_put8(&o, 1); fz_put8(&o, 0); fz_put8(&o, 17);
        fz_put8(&o, VMDL_GICV5_ICC_PPI_PRIORITYR0_EL1); fz_putval(&o, 0x0102030405060708ull);
        /* SW_PPI line high, CDIA, EOI, put with WFI, load elsewhere */
        fz_put8(&o, 4); fz_put8(&o, 0); fz_put8(&o, 0); fz_put8(&o, 1);
        fz_put8(&o, 3); fz_put8(&o, 0);
        fz_put8(&o, 11); fz_put8(&o, 0); fz_put8(&o, VMDL_GICV5_PPI_SW);
        fz_put8(&o, 4); fz_put8(&o, 0); fz_put8(&o, 0); fz_put8(&o, 0);
        fz_put8(&o, 5); fz_put8(&o, 0); fz_put8(&o, 128 + 1); fz_put8(&o, 0); fz_put8(&o, 1);
        fz_put8(&o, 3); fz_put8(&o, 0);
        fz_put8(&o, 9); fz_put8(&o, 0); fz_put8(&o, 1);
        fz_put8(&o, 10); fz_put8(&o, 0); fz_put8(&o, 200);
        fz_put8(&o, 7); fz_put8(&o, 0); fz_put8(&o, 1);
        fz_put8(&o, 3); fz_put8(&o, 0);
        fz_put8(&o, 7); fz_put8(&o, 1); fz_put8(&o, 0);
        fz_put8(&o, 10); fz_put8(&o, 0); fz_put8(&o, 0);
        char name[32];
        snprintf(name, sizeof(name), "vm%u", c);
        fz_save_out(dir, name, &o);
    }
}

FZ_SEED_WRITER_MAIN()
