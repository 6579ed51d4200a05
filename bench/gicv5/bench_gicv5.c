/* SPDX-License-Identifier: MIT */
/*
 * GICv5 model figures, dense and sparse PPI storage side by side:
 *   - bytes of shadow state per vCPU,
 *   - vcpu load + put (one migration step between physical CPUs), ns,
 *   - a model-level PPI round trip (inject, IRQ line, GICR CDIA, GIC CDDI,
 *     GIC CDEOI, lower), ns.
 * Usage: bench_gicv5 [iterations]
 */
#include <stdio.h>
#include <stdlib.h>

#include "bench_util.h"
#include "virtmodel/error.h"
#include "virtmodel/gicv5.h"

static struct vmdl_gicv5 *make(enum vmdl_gicv5_storage st, unsigned extra)
{
    /* The 128-PPI option (beyond KVM's 64) keeps the extra PPIs apart from
     * the architected ones, so every row measures the same layout. */
    struct vmdl_gicv5_config c = { .nr_vcpus = 1, .nr_pcpus = 2,
                                   .storage = st, .pmu = true, .nr_ppis = 128 };
    /* extra device PPIs from 64 upwards (level-sensitive) */
    for (unsigned i = 0; i < extra && i < 64; i++)
        c.extra_ppis[1] |= UINT64_C(1) << i;
    c.extra_level[1] = c.extra_ppis[1];
    struct vmdl_gicv5 *g = NULL;
    if (vmdl_gicv5_create(&c, &g)) {
        fprintf(stderr, "create: %s\n", vmdl_last_error());
        exit(1);
    }
    return g;
}

static void sysreg(struct vmdl_gicv5 *g, enum vmdl_gicv5_reg_id id, bool w,
                   uint64_t *v)
{
    const struct vmdl_gicv5_reg_desc *d = vmdl_gicv5_reg(id);
    if (vmdl_gicv5_sysreg(g, 0, d->op0, d->op1, d->crn, d->crm, d->op2, w, v)) {
        fprintf(stderr, "access %s failed\n", d->name);
        exit(1);
    }
}

static double load_put_ns(struct vmdl_gicv5 *g, unsigned long n)
{
    uint64_t t0 = bench_now_ns();
    for (unsigned long i = 0; i < n; i++) {
        vmdl_gicv5_vcpu_load(g, 0, (unsigned)(i & 1));
        vmdl_gicv5_vcpu_put(g, 0, false);
    }
    return (double)(bench_now_ns() - t0) / (double)n;
}

static double round_trip_ns(struct vmdl_gicv5 *g, unsigned long n)
{
    uint64_t v;
    vmdl_gicv5_vcpu_load(g, 0, 0);
    v = ~UINT64_C(0);
    sysreg(g, VMDL_GICV5_ICC_PPI_ENABLER0_EL1, true, &v);
    v = 0x1F;
    sysreg(g, VMDL_GICV5_ICC_PCR_EL1, true, &v);
    v = 1;
    sysreg(g, VMDL_GICV5_ICC_CR0_EL1, true, &v);
    uint64_t sum = 0, t0 = bench_now_ns();
    for (unsigned long i = 0; i < n; i++) {
        vmdl_gicv5_irq_line(g, 0, VMDL_GICV5_PPI_SW, true);
        sum += (uint64_t)vmdl_gicv5_irq_pending(g, 0);
        sysreg(g, VMDL_GICV5_GICR_CDIA, false, &v);
        sum += v;
        v &= 0xFFFFFFFFu;
        sysreg(g, VMDL_GICV5_GIC_CDDI, true, &v);
        v = 0;
        sysreg(g, VMDL_GICV5_GIC_CDEOI, true, &v);
        vmdl_gicv5_irq_line(g, 0, VMDL_GICV5_PPI_SW, false);
    }
    double ns = (double)(bench_now_ns() - t0) / (double)n;
    bench_keep(sum);
    vmdl_gicv5_vcpu_put(g, 0, false);
    return ns;
}

int main(int argc, char **argv)
{
    unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 0) : 1000000ul;
    static const unsigned extras[] = { 0, 16, 64 };
    printf("gicv5 model, %lu iterations per figure\n", n);
    printf("%-22s %10s %10s %12s %12s %12s %12s\n", "exposed PPIs",
           "dense B", "sparse B", "dense ld+put", "sparse ld+put",
           "dense rt", "sparse rt");
    for (unsigned i = 0; i < sizeof(extras) / sizeof(extras[0]); i++) {
        struct vmdl_gicv5 *d = make(VMDL_GICV5_DENSE, extras[i]);
        struct vmdl_gicv5 *s = make(VMDL_GICV5_SPARSE, extras[i]);
        struct vmdl_gicv5_masks m;
        vmdl_gicv5_get_masks(s, &m);
        unsigned nexp = (unsigned)(__builtin_popcountll(m.exposed[0]) +
                                   __builtin_popcountll(m.exposed[1]));
        double dl = load_put_ns(d, n), sl = load_put_ns(s, n);
        double dr = round_trip_ns(d, n), sr = round_trip_ns(s, n);
        char label[32];
        snprintf(label, sizeof(label), "%u (SW,PMU,timers+%u)", nexp,
                 extras[i]);
        printf("%-22s %10zu %10zu %9.1f ns %9.1f ns %9.1f ns %9.1f ns\n",
               label, vmdl_gicv5_vcpu_bytes(d), vmdl_gicv5_vcpu_bytes(s), dl,
               sl, dr, sr);
        vmdl_gicv5_destroy(d);
        vmdl_gicv5_destroy(s);
    }
    return 0;
}
