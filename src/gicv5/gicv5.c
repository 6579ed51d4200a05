/* SPDX-License-Identifier: MIT */
/*
 * GICv5 CPU interface (PPIs) following KVM's vGIC-v5 series: per-VM masks,
 * per-vCPU shadow state, per-physical-CPU live registers, load/put, the
 * guest's system-register interface and PPI injection.
 *
 * Names of the steps follow KVM so the two can be read side by side:
 *   guest entry = flush (shadow pending -> host data) + restore_state
 *                 (ICSR) + restore_ppi_state (DVIR, ACTIVER, ENABLER,
 *                 PENDR of non-DVI PPIs, PRIORITYR) into the physical CPU;
 *   guest exit  = save_state (VMCR, ICSR) + save_ppi_state (ACTIVER, PENDR,
 *                 PRIORITYR; DVI off) + fold (host data -> shadow);
 *   load        = vgic_v5_load (VMCR, APR; GICv3 compat off) + entry;
 *   put         = exit + vgic_v5_put (APR; priorities to the shadow only
 *                 when the vCPU blocks in WFI).
 */
#include <stdlib.h>
#include <string.h>

#include "gicv5_internal.h"
#include "virtmodel/error.h"

enum { FGT_R = 0, FGT_W = 1, FGT_I = 2 };

/* ICC_IDR0_EL1 fields (Linux sysreg): ID_BITS 3:0, PRI_BITS 7:4. */
#define IDR0_PRI_BITS_5 (UINT64_C(4) << 4)
#define IDR0_ID_BITS_16 UINT64_C(0)
#define IDR0_ID_BITS_24 UINT64_C(1)
/* ICC_ICSR_EL1.F: the last GIC CDRCFG found no such interrupt. */
#define ICSR_F VMDL_BIT(0)

static const struct vmdl_gicv5_config default_cfg;

/* ------------------------------------------------------------------ */
/* creation                                                            */

static bool is_level(const struct vmdl_gicv5 *g, unsigned ppi)
{
    return gv5_bit(g->m.level, ppi);
}

static void compute_fgts(struct vmdl_gicv5 *g)
{
    /* Negative polarity: a set bit lets the access through, a clear bit
     * traps it.  Start from every defined bit set (no trap), as the EL2 init
     * code does, then clear the bits the trap policy needs. */
    for (unsigned i = 0; i < 3; i++)
        g->fgt[i] = vmdl_gicv5_fgt_defined(i);
    const struct vmdl_gicv5_reg_desc *r;
    r = vmdl_gicv5_reg(VMDL_GICV5_ICC_IAFFIDR_EL1);
    g->fgt[FGT_R] &= ~VMDL_BIT(r->fgt_read);
    r = vmdl_gicv5_reg(VMDL_GICV5_ICC_PPI_ENABLER0_EL1);
    g->fgt[FGT_W] &= ~VMDL_BIT(r->fgt_write);
    if (g->cfg.traps == VMDL_GICV5_TRAPS_KVM_V3) {
        r = vmdl_gicv5_reg(VMDL_GICV5_ICC_IDR0_EL1);
        g->fgt[FGT_R] &= ~VMDL_BIT(r->fgt_read);
    } else {
        static const enum vmdl_gicv5_reg_id wr[] = {
            VMDL_GICV5_ICC_PPI_SPENDR0_EL1, VMDL_GICV5_ICC_PPI_SACTIVER0_EL1,
            VMDL_GICV5_ICC_PPI_PRIORITYR0_EL1,
        };
        for (unsigned i = 0; i < VMDL_ARRAY_SIZE(wr); i++)
            g->fgt[FGT_W] &= ~VMDL_BIT(vmdl_gicv5_reg(wr[i])->fgt_write);
        r = vmdl_gicv5_reg(VMDL_GICV5_ICC_PPI_HMR0_EL1);
        g->fgt[FGT_R] &= ~VMDL_BIT(r->fgt_read);
    }
}

static void pcpu_reset(struct gv5_pcpu *p)
{
    memset(p, 0, sizeof(*p));
    p->vcpu = -1;
    /* EL2 init: ICH_VCTLR_EL2.En set (virtual CPU interface on, GICv3
     * compatibility off); FGTs at "no trap" until a vCPU loads its own. */
    p->vctlr = VMDL_GICV5_VCTLR_EN;
    p->hfgrtr = vmdl_gicv5_fgt_defined(FGT_R);
    p->hfgwtr = vmdl_gicv5_fgt_defined(FGT_W);
    p->hfgitr = vmdl_gicv5_fgt_defined(FGT_I);
}

void vmdl__gv5_vcpu_reset(struct vmdl_gicv5 *g, struct gv5_vcpu *v)
{
    struct gv5_irq *irqs = v->irqs;
    int pcpu = v->pcpu;
    memset(v, 0, sizeof(*v));
    v->irqs = irqs;
    v->pcpu = pcpu;
    memset(irqs, 0, g->nslots * sizeof(*irqs));
}

int vmdl_gicv5_create(const struct vmdl_gicv5_config *cfg,
                      struct vmdl_gicv5 **out)
{
    if (!out)
        return vmdl_fail(VMDL_EINVAL, "vmdl_gicv5_create: out is NULL");
    *out = NULL;
    if (!cfg)
        cfg = &default_cfg;
    unsigned nv = cfg->nr_vcpus ? cfg->nr_vcpus : 1;
    unsigned np = cfg->nr_pcpus ? cfg->nr_pcpus : 2;
    if (nv > VMDL_GICV5_MAX_VCPUS)
        return vmdl_fail(VMDL_ERANGE,
                         "vmdl_gicv5_create: nr_vcpus %u exceeds %u", nv,
                         VMDL_GICV5_MAX_VCPUS);
    if (np > VMDL_GICV5_MAX_PCPUS)
        return vmdl_fail(VMDL_ERANGE,
                         "vmdl_gicv5_create: nr_pcpus %u exceeds %u", np,
                         VMDL_GICV5_MAX_PCPUS);
    unsigned nppi = cfg->nr_ppis ? cfg->nr_ppis : VMDL_GICV5_KVM_NR_PPIS;
    if (nppi != VMDL_GICV5_KVM_NR_PPIS && nppi != VMDL_GICV5_NR_PPIS)
        return vmdl_fail(VMDL_EINVAL,
                         "vmdl_gicv5_create: nr_ppis %u is neither 64 (KVM's "
                         "architected PPIs) nor 128", cfg->nr_ppis);
    if (nppi == VMDL_GICV5_KVM_NR_PPIS &&
        (cfg->extra_ppis[1] || cfg->extra_level[1]))
        return vmdl_fail(VMDL_EINVAL,
                         "vmdl_gicv5_create: extra PPIs 64-127 need nr_ppis "
                         "128 (KVM handles the 64 architected PPIs only)");
    if (cfg->storage != VMDL_GICV5_SPARSE && cfg->storage != VMDL_GICV5_DENSE)
        return vmdl_fail(VMDL_EINVAL, "vmdl_gicv5_create: bad storage %d",
                         (int)cfg->storage);
    if (cfg->traps != VMDL_GICV5_TRAPS_KVM_V3 &&
        cfg->traps != VMDL_GICV5_TRAPS_KVM_V1)
        return vmdl_fail(VMDL_EINVAL, "vmdl_gicv5_create: bad traps %d",
                         (int)cfg->traps);
    if (gv5_bit(cfg->extra_ppis, VMDL_GICV5_PPI_SW))
        return vmdl_fail(VMDL_EINVAL,
                         "vmdl_gicv5_create: extra_ppis includes SW_PPI 3, "
                         "which belongs to userspace");
    for (unsigned w = 0; w < 2; w++)
        if (cfg->extra_level[w] & ~cfg->extra_ppis[w])
            return vmdl_fail(VMDL_EINVAL,
                             "vmdl_gicv5_create: extra_level[%u] names PPIs "
                             "not in extra_ppis", w);

    struct vmdl_gicv5 *g = calloc(1, sizeof(*g));
    if (!g)
        return vmdl_fail(VMDL_ENOMEM, "vmdl_gicv5_create: out of memory");
    g->cfg = *cfg;
    g->cfg.nr_vcpus = nv;
    g->cfg.nr_pcpus = np;
    g->cfg.nr_ppis = nppi;
    g->nr_ppis = nppi;
    g->nr_vcpus = nv;
    g->nr_pcpus = np;

    /* Exposed: the PPIs with an owner (timers, PMU, extras) plus SW_PPI.
     * Handling modes: SW_PPI is edge, the timers and PMU are level. */
    gv5_assign(g->m.exposed, VMDL_GICV5_PPI_SW, true);
    if (!cfg->no_timers) {
        gv5_assign(g->device_owned, VMDL_GICV5_PPI_CNTV, true);
        gv5_assign(g->device_owned, VMDL_GICV5_PPI_CNTP, true);
        gv5_assign(g->m.level, VMDL_GICV5_PPI_CNTV, true);
        gv5_assign(g->m.level, VMDL_GICV5_PPI_CNTP, true);
    }
    if (cfg->pmu) {
        gv5_assign(g->device_owned, VMDL_GICV5_PPI_PMUIRQ, true);
        gv5_assign(g->m.level, VMDL_GICV5_PPI_PMUIRQ, true);
    }
    for (unsigned w = 0; w < 2; w++) {
        g->device_owned[w] |= cfg->extra_ppis[w];
        g->m.level[w] |= cfg->extra_level[w];
        g->m.exposed[w] |= g->device_owned[w];
    }
    /* Userspace may drive only the SW_PPI (the series' UAPI mask). */
    gv5_assign(g->m.userspace, VMDL_GICV5_PPI_SW, true);

    /* Storage: sparse keeps a slot per exposed PPI, dense one per PPI. */
    for (unsigned i = 0; i < VMDL_GICV5_NR_PPIS; i++)
        g->slot_of[i] = -1;
    if (cfg->storage == VMDL_GICV5_DENSE) {
        for (unsigned i = 0; i < nppi; i++)
            g->slot_of[i] = (int16_t)i;
        g->nslots = nppi;
    } else {
        GV5_FOR_EACH_EXPOSED(g, ppi)
            g->slot_of[ppi] = (int16_t)g->nslots++;
    }
    compute_fgts(g);

    g->vcpus = calloc(nv, sizeof(*g->vcpus));
    g->pcpus = calloc(np, sizeof(*g->pcpus));
    if (!g->vcpus || !g->pcpus)
        goto nomem;
    for (unsigned i = 0; i < nv; i++) {
        g->vcpus[i].irqs = calloc(g->nslots ? g->nslots : 1,
                                  sizeof(struct gv5_irq));
        if (!g->vcpus[i].irqs)
            goto nomem;
        g->vcpus[i].pcpu = -1;
        vmdl__gv5_vcpu_reset(g, &g->vcpus[i]);
    }
    for (unsigned i = 0; i < np; i++)
        pcpu_reset(&g->pcpus[i]);
    *out = g;
    return VMDL_OK;
nomem:
    vmdl_gicv5_destroy(g);
    return vmdl_fail(VMDL_ENOMEM, "vmdl_gicv5_create: out of memory");
}

void vmdl_gicv5_destroy(struct vmdl_gicv5 *g)
{
    if (!g)
        return;
    if (g->vcpus)
        for (unsigned i = 0; i < g->nr_vcpus; i++)
            free(g->vcpus[i].irqs);
    free(g->vcpus);
    free(g->pcpus);
    free(g);
}

unsigned vmdl_gicv5_nr_vcpus(const struct vmdl_gicv5 *g) { return g->nr_vcpus; }
unsigned vmdl_gicv5_nr_pcpus(const struct vmdl_gicv5 *g) { return g->nr_pcpus; }

void vmdl_gicv5_get_masks(const struct vmdl_gicv5 *g,
                          struct vmdl_gicv5_masks *m)
{
    *m = g->m;
}

size_t vmdl_gicv5_vcpu_bytes(const struct vmdl_gicv5 *g)
{
    return sizeof(struct gv5_vcpu) + g->nslots * sizeof(struct gv5_irq);
}

size_t vmdl_gicv5_vm_bytes(const struct vmdl_gicv5 *g)
{
    return sizeof(*g) + g->nr_pcpus * sizeof(struct gv5_pcpu);
}

/* ------------------------------------------------------------------ */
/* guest entry / exit, load / put                                      */

static bool irq_is_pending(const struct vmdl_gicv5 *g, unsigned ppi,
                           const struct gv5_irq *irq)
{
    if (irq->flags & GV5_F_LATCH)
        return true;
    return is_level(g, ppi) && (irq->flags & GV5_F_LINE);
}

static unsigned prio_field(const uint64_t *priorityr, unsigned ppi)
{
    return (unsigned)(priorityr[ppi / 8] >> ((ppi % 8) * 8)) & 31u;
}

static void guest_entry(struct vmdl_gicv5 *g, struct gv5_vcpu *v,
                        struct gv5_pcpu *p)
{
    uint64_t pendr[2] = {0, 0}, dvi_line[2] = {0, 0};

    /* flush: build the entry pending state; edge latches move into the
     * hardware and are re-folded at exit. */
    GV5_FOR_EACH_EXPOSED(g, ppi) {
        struct gv5_irq *irq = gv5_irq(g, v, ppi);
        gv5_assign(pendr, ppi, irq_is_pending(g, ppi, irq));
        if (!is_level(g, ppi))
            irq->flags &= (uint8_t)~GV5_F_LATCH;
        gv5_assign(dvi_line, ppi, (irq->flags & GV5_F_LINE) != 0);
    }
    memcpy(p->host.pendr_entry, pendr, sizeof(pendr));

    /* restore_state + restore_ppi_state */
    p->icsr = v->icsr;
    memset(p->priorityr, 0, sizeof(p->priorityr));
    for (unsigned w = 0; w < 2; w++) {
        p->dvir[w] = v->dvir[w];
        p->activer[w] = v->activer[w];
        p->enabler[w] = v->enabler[w];
        /* Only the non-DVI PPIs get their pending bit from the hypervisor;
         * DVI PPIs follow their (physical) line directly. */
        p->pendr[w] = (pendr[w] & ~v->dvir[w]) | (dvi_line[w] & v->dvir[w]);
    }
    GV5_FOR_EACH_EXPOSED(g, ppi)
        p->priorityr[ppi / 8] |= (uint64_t)gv5_irq(g, v, ppi)->saved_prio
                                 << ((ppi % 8) * 8);
    p->hfgrtr = g->fgt[FGT_R];
    p->hfgwtr = g->fgt[FGT_W];
    p->hfgitr = g->fgt[FGT_I];
}

static void guest_exit(struct vmdl_gicv5 *g, struct gv5_vcpu *v,
                       struct gv5_pcpu *p)
{
    /* save_state */
    v->vmcr = p->vmcr;
    v->icsr = p->icsr;
    /* save_ppi_state: the enable state is not saved (its writes trap, so
     * the shadow copy is already the latest); DVI is turned off. */
    for (unsigned w = 0; w < 2; w++) {
        p->host.activer_exit[w] = p->activer[w];
        p->host.pendr_exit[w] = p->pendr[w];
        p->dvir[w] = 0;
    }
    /* fold */
    GV5_FOR_EACH_EXPOSED(g, ppi) {
        struct gv5_irq *irq = gv5_irq(g, v, ppi);
        irq->saved_prio = (uint8_t)prio_field(p->priorityr, ppi);
        if (gv5_bit(p->host.activer_exit, ppi))
            irq->flags |= GV5_F_ACTIVE;
        else
            irq->flags &= (uint8_t)~GV5_F_ACTIVE;
        /* OR, so an edge that arrived meanwhile is not lost */
        if (!is_level(g, ppi) && gv5_bit(p->host.pendr_exit, ppi))
            irq->flags |= GV5_F_LATCH;
    }
    memcpy(v->activer, p->host.activer_exit, sizeof(v->activer));
}

static int check_vcpu(const struct vmdl_gicv5 *g, unsigned vcpu,
                      const char *fn)
{
    if (!g)
        return vmdl_fail(VMDL_EINVAL, "%s: gic is NULL", fn);
    if (vcpu >= g->nr_vcpus)
        return vmdl_fail(VMDL_ERANGE, "%s: vcpu %u out of range (%u vCPUs)",
                         fn, vcpu, g->nr_vcpus);
    return VMDL_OK;
}

int vmdl_gicv5_vcpu_load(struct vmdl_gicv5 *g, unsigned vcpu, unsigned pcpu)
{
    int err = check_vcpu(g, vcpu, "vmdl_gicv5_vcpu_load");
    if (err)
        return err;
    if (pcpu >= g->nr_pcpus)
        return vmdl_fail(VMDL_ERANGE,
                         "vmdl_gicv5_vcpu_load: pcpu %u out of range (%u)",
                         pcpu, g->nr_pcpus);
    struct gv5_vcpu *v = &g->vcpus[vcpu];
    struct gv5_pcpu *p = &g->pcpus[pcpu];
    if (v->pcpu >= 0)
        return vmdl_fail(VMDL_ESTATE,
                         "vmdl_gicv5_vcpu_load: vcpu %u already loaded on "
                         "pcpu %d", vcpu, v->pcpu);
    if (p->vcpu >= 0)
        return vmdl_fail(VMDL_ESTATE,
                         "vmdl_gicv5_vcpu_load: pcpu %u busy with vcpu %d",
                         pcpu, p->vcpu);
    v->pcpu = (int)pcpu;
    p->vcpu = (int)vcpu;
    /* vgic_v5_load: GICv3 compat off, VMCR and APR in */
    p->vctlr &= ~VMDL_GICV5_VCTLR_V3;
    p->vmcr = v->vmcr;
    p->apr = v->apr;
    p->contextr = 0;
    v->resident = true;
    guest_entry(g, v, p);
    v->st.loads++;
    return VMDL_OK;
}

int vmdl_gicv5_vcpu_put(struct vmdl_gicv5 *g, unsigned vcpu, bool in_wfi)
{
    int err = check_vcpu(g, vcpu, "vmdl_gicv5_vcpu_put");
    if (err)
        return err;
    struct gv5_vcpu *v = &g->vcpus[vcpu];
    if (v->pcpu < 0)
        return vmdl_fail(VMDL_ESTATE, "vmdl_gicv5_vcpu_put: vcpu %u is not "
                         "loaded", vcpu);
    struct gv5_pcpu *p = &g->pcpus[v->pcpu];
    guest_exit(g, v, p);
    /* vgic_v5_put */
    v->apr = (uint32_t)p->apr;
    v->resident = false;
    if (in_wfi) {
        GV5_FOR_EACH_EXPOSED(g, ppi) {
            struct gv5_irq *irq = gv5_irq(g, v, ppi);
            irq->priority = irq->saved_prio;
        }
        v->st.wfi_syncs++;
    }
    /* The physical CPU goes back to the host: nothing of the guest stays in
     * its live registers (the next load restores everything). */
    uint64_t vctlr = p->vctlr;
    pcpu_reset(p);
    p->vctlr = vctlr;
    v->pcpu = -1;
    v->st.puts++;
    return VMDL_OK;
}

int vmdl_gicv5_vcpu_pcpu(const struct vmdl_gicv5 *g, unsigned vcpu)
{
    if (!g || vcpu >= g->nr_vcpus)
        return -1;
    return g->vcpus[vcpu].pcpu;
}

int vmdl_gicv5_pcpu_vcpu(const struct vmdl_gicv5 *g, unsigned pcpu)
{
    if (!g || pcpu >= g->nr_pcpus)
        return -1;
    return g->pcpus[pcpu].vcpu;
}

/* A kick: the vCPU exits and re-enters, which refreshes the live state from
 * the shadow state (KVM_REQ_IRQ_PENDING + kvm_vcpu_kick). */
static void kick(struct vmdl_gicv5 *g, struct gv5_vcpu *v)
{
    if (v->pcpu < 0)
        return;
    struct gv5_pcpu *p = &g->pcpus[v->pcpu];
    guest_exit(g, v, p);
    guest_entry(g, v, p);
    v->st.kicks++;
}

int vmdl_gicv5_reset(struct vmdl_gicv5 *g)
{
    if (!g)
        return vmdl_fail(VMDL_EINVAL, "vmdl_gicv5_reset: gic is NULL");
    for (unsigned i = 0; i < g->nr_vcpus; i++) {
        if (g->vcpus[i].pcpu >= 0)
            vmdl_gicv5_vcpu_put(g, i, false);
        vmdl__gv5_vcpu_reset(g, &g->vcpus[i]);
    }
    for (unsigned i = 0; i < g->nr_pcpus; i++)
        pcpu_reset(&g->pcpus[i]);
    return VMDL_OK;
}

int vmdl_gicv5_pcpu_read(const struct vmdl_gicv5 *g, unsigned pcpu,
                         enum vmdl_gicv5_reg_id id, uint64_t *value)
{
    if (!g || !value)
        return vmdl_fail(VMDL_EINVAL, "vmdl_gicv5_pcpu_read: NULL argument");
    if (pcpu >= g->nr_pcpus)
        return vmdl_fail(VMDL_ERANGE, "vmdl_gicv5_pcpu_read: pcpu %u out of "
                         "range (%u)", pcpu, g->nr_pcpus);
    const struct gv5_pcpu *p = &g->pcpus[pcpu];
    const struct vmdl_gicv5_reg_desc *d = vmdl_gicv5_reg(id);
    if (!d || d->el != 2)
        return vmdl_fail(VMDL_EINVAL, "vmdl_gicv5_pcpu_read: id %d is not "
                         "an ICH_* (EL2) register", (int)id);
    switch (id) {
    case VMDL_GICV5_ICH_APR_EL2: *value = p->apr; break;
    case VMDL_GICV5_ICH_HFGRTR_EL2: *value = p->hfgrtr; break;
    case VMDL_GICV5_ICH_HFGWTR_EL2: *value = p->hfgwtr; break;
    case VMDL_GICV5_ICH_HFGITR_EL2: *value = p->hfgitr; break;
    case VMDL_GICV5_ICH_PPI_DVIR0_EL2: *value = p->dvir[0]; break;
    case VMDL_GICV5_ICH_PPI_DVIR1_EL2: *value = p->dvir[1]; break;
    case VMDL_GICV5_ICH_PPI_ENABLER0_EL2: *value = p->enabler[0]; break;
    case VMDL_GICV5_ICH_PPI_ENABLER1_EL2: *value = p->enabler[1]; break;
    case VMDL_GICV5_ICH_PPI_PENDR0_EL2: *value = p->pendr[0]; break;
    case VMDL_GICV5_ICH_PPI_PENDR1_EL2: *value = p->pendr[1]; break;
    case VMDL_GICV5_ICH_PPI_ACTIVER0_EL2: *value = p->activer[0]; break;
    case VMDL_GICV5_ICH_PPI_ACTIVER1_EL2: *value = p->activer[1]; break;
    case VMDL_GICV5_ICH_VCTLR_EL2: *value = p->vctlr; break;
    case VMDL_GICV5_ICH_CONTEXTR_EL2: *value = p->contextr; break;
    case VMDL_GICV5_ICH_VMCR_EL2: *value = p->vmcr; break;
    default:
        *value = p->priorityr[id - VMDL_GICV5_ICH_PPI_PRIORITYR0_EL2];
        break;
    }
    return VMDL_OK;
}

/* ------------------------------------------------------------------ */
/* priority logic on the live registers                                */

static unsigned running_priority(uint64_t apr)
{
    apr &= 0xFFFFFFFFu;
    return apr ? (unsigned)__builtin_ctzll(apr) : VMDL_GICV5_PRIO_IDLE;
}

/* Highest-priority pending, enabled, inactive PPI with sufficient priority
 * on a loaded vCPU's physical CPU; -1 when none. */
static int live_hppi(const struct vmdl_gicv5 *g, const struct gv5_pcpu *p,
                     unsigned *prio_out)
{
    if (!(p->vmcr & VMDL_GICV5_VMCR_EN))
        return -1;
    unsigned pmr = (unsigned)(p->vmcr >> VMDL_GICV5_VMCR_VPMR_SHIFT) & 31u;
    unsigned rpr = running_priority(p->apr);
    int best = -1;
    unsigned best_prio = VMDL_GICV5_PRIO_IDLE;
    for (unsigned w = 0; w < 2; w++) {
        uint64_t c = p->enabler[w] & p->pendr[w] & ~p->activer[w] &
                     g->m.exposed[w];
        for (; c; c &= c - 1) {
            unsigned ppi = w * 64 + (unsigned)__builtin_ctzll(c);
            unsigned pr = prio_field(p->priorityr, ppi);
            if (pr < best_prio) {     /* ties: lowest PPI number wins */
                best_prio = pr;
                best = (int)ppi;
            }
        }
    }
    /* Sufficient priority: at or above the mask, above the running one. */
    if (best < 0 || best_prio > pmr || best_prio >= rpr)
        return -1;
    if (prio_out)
        *prio_out = best_prio;
    return best;
}

/* KVM's effective priority mask on the shadow state: 0 masks everything. */
static unsigned shadow_mask(const struct gv5_vcpu *v)
{
    if (!(v->vmcr & VMDL_GICV5_VMCR_EN))
        return 0;
    unsigned pmr = (unsigned)(v->vmcr >> VMDL_GICV5_VMCR_VPMR_SHIFT) & 31u;
    unsigned hap = running_priority(v->apr);
    return hap < pmr + 1 ? hap : pmr + 1;
}

bool vmdl_gicv5_has_pending_ppi(const struct vmdl_gicv5 *g, unsigned vcpu)
{
    if (!g || vcpu >= g->nr_vcpus)
        return false;
    const struct gv5_vcpu *v = &g->vcpus[vcpu];
    unsigned mask = shadow_mask(v);
    if (!mask)
        return false;
    GV5_FOR_EACH_EXPOSED(g, ppi) {
        const struct gv5_irq *irq = gv5_irq(g, v, ppi);
        if (!(irq->flags & GV5_F_ENABLED) || irq->priority >= mask)
            continue;
        bool pend = gv5_bit(v->dvir, ppi) ? (irq->flags & GV5_F_LINE) != 0
                                          : irq_is_pending(g, ppi, irq);
        if (pend)
            return true;
    }
    return false;
}

int vmdl_gicv5_irq_pending(const struct vmdl_gicv5 *g, unsigned vcpu)
{
    if (!g || vcpu >= g->nr_vcpus)
        return -1;
    const struct gv5_vcpu *v = &g->vcpus[vcpu];
    if (v->pcpu >= 0) {
        int ppi = live_hppi(g, &g->pcpus[v->pcpu], NULL);
        return ppi < 0 ? -1 : (int)VMDL_GICV5_PPI_INTID(ppi);
    }
    unsigned mask = shadow_mask(v);
    int best = -1;
    unsigned best_prio = VMDL_GICV5_PRIO_IDLE;
    GV5_FOR_EACH_EXPOSED(g, ppi) {
        const struct gv5_irq *irq = gv5_irq(g, v, ppi);
        if (!(irq->flags & GV5_F_ENABLED) || (irq->flags & GV5_F_ACTIVE) ||
            !irq_is_pending(g, ppi, irq))
            continue;
        if (irq->priority < mask && irq->priority < best_prio) {
            best_prio = irq->priority;
            best = (int)ppi;
        }
    }
    return best < 0 ? -1 : (int)VMDL_GICV5_PPI_INTID(best);
}

/* ------------------------------------------------------------------ */
/* guest system-register interface                                     */

/* ICC_IDR0_EL1 as KVM emulates it: 16 ID bits, 5 priority bits, no GICv3
 * legacy interface. */
static uint64_t emulated_idr0(void)
{
    return IDR0_PRI_BITS_5 | IDR0_ID_BITS_16;
}

/* The modelled hardware's own ICC_IDR0_EL1 (what an untrapped read sees):
 * a host GIC with 24 ID bits, which is why KVM v3 traps the read. */
static uint64_t hardware_idr0(void)
{
    return IDR0_PRI_BITS_5 | IDR0_ID_BITS_24;
}

static uint64_t exposed_prio_mask(const struct vmdl_gicv5 *g, unsigned n)
{
    uint64_t m = 0;
    for (unsigned i = 0; i < 8; i++)
        if (gv5_bit(g->m.exposed, n * 8 + i))
            m |= UINT64_C(0x1F) << (i * 8);
    return m;
}

static uint64_t cdia(const struct vmdl_gicv5 *g, struct gv5_pcpu *p)
{
    unsigned prio;
    int ppi = live_hppi(g, p, &prio);
    if (ppi < 0)
        return 0;                       /* nothing to acknowledge */
    p->apr |= UINT64_C(1) << prio;     /* running priority rises */
    gv5_assign(p->activer, (unsigned)ppi, true);
    if (!is_level(g, (unsigned)ppi))
        gv5_assign(p->pendr, (unsigned)ppi, false);   /* edge: consumed */
    return VMDL_GICV5_PPI_INTID(ppi) | VMDL_GICV5_CDIA_VALID;
}

/* An access that reaches the live registers.  value already masked. */
static vmdl_fault access_live(struct vmdl_gicv5 *g, unsigned vcpu,
                              struct gv5_pcpu *p,
                              const struct vmdl_gicv5_reg_desc *d,
                              bool is_write, uint64_t *value)
{
    const uint64_t *ex = g->m.exposed;
    uint64_t val = is_write ? *value : 0;
    unsigned w = d->op2 & 1;
    (void)vcpu;

    switch (d->id) {
    case VMDL_GICV5_GSB_SYS:
    case VMDL_GICV5_GSB_ACK:
        return VMDL_FAULT_NONE;         /* barriers: nothing is deferred */
    case VMDL_GICV5_GIC_CDDIS:
    case VMDL_GICV5_GIC_CDEN:
    case VMDL_GICV5_GIC_CDPRI:
    case VMDL_GICV5_GIC_CDAFF:
    case VMDL_GICV5_GIC_CDPEND:
    case VMDL_GICV5_GIC_CDHM:
        /* These configure IRS-managed interrupts (SPIs, LPIs); a PPI-only
         * VM has no IRS, so they have no effect. */
        return VMDL_FAULT_NONE;
    case VMDL_GICV5_GIC_CDRCFG:
        p->icsr = ICSR_F;               /* no such interrupt to report */
        return VMDL_FAULT_NONE;
    case VMDL_GICV5_GIC_CDEOI:
        p->apr &= p->apr - 1;           /* priority drop: lowest set bit */
        return VMDL_FAULT_NONE;
    case VMDL_GICV5_GIC_CDDI: {
        unsigned type = (unsigned)(val >> VMDL_GICV5_INTID_TYPE_SHIFT) & 7u;
        uint64_t id = val & VMDL_GICV5_INTID_ID_MASK;
        if (type == VMDL_GICV5_TYPE_PPI && id < g->nr_ppis &&
            gv5_bit(ex, (unsigned)id))
            gv5_assign(p->activer, (unsigned)id, false);
        return VMDL_FAULT_NONE;
    }
    case VMDL_GICV5_GICR_CDIA:
        *value = cdia(g, p);
        return VMDL_FAULT_NONE;
    case VMDL_GICV5_GICR_CDNMIA:
        *value = 0;     /* no NMIs: priority 0 is not Superpriority here */
        return VMDL_FAULT_NONE;
    case VMDL_GICV5_ICC_PPI_HMR0_EL1:
    case VMDL_GICV5_ICC_PPI_HMR1_EL1:
        *value = g->m.level[w] & ex[w];
        return VMDL_FAULT_NONE;
    case VMDL_GICV5_ICC_IDR0_EL1:
        *value = hardware_idr0();
        return VMDL_FAULT_NONE;
    case VMDL_GICV5_ICC_HPPIR_EL1: {
        int ppi = live_hppi(g, p, NULL);
        *value = ppi < 0 ? 0 : VMDL_GICV5_PPI_INTID(ppi) | VMDL_BIT(32);
        return VMDL_FAULT_NONE;
    }
    case VMDL_GICV5_ICC_ICSR_EL1:
        if (is_write)
            p->icsr = val;
        else
            *value = p->icsr;
        return VMDL_FAULT_NONE;
    case VMDL_GICV5_ICC_IAFFIDR_EL1:
        *value = 0;     /* the physical IAFFID; guests always trap here */
        return VMDL_FAULT_NONE;
    case VMDL_GICV5_ICC_PPI_ENABLER0_EL1:
    case VMDL_GICV5_ICC_PPI_ENABLER1_EL1:
        if (is_write)
            p->enabler[w] = val & ex[w];
        else
            *value = p->enabler[w];
        return VMDL_FAULT_NONE;
    case VMDL_GICV5_ICC_PPI_CACTIVER0_EL1:
    case VMDL_GICV5_ICC_PPI_CACTIVER1_EL1:
    case VMDL_GICV5_ICC_PPI_SACTIVER0_EL1:
    case VMDL_GICV5_ICC_PPI_SACTIVER1_EL1:
        if (!is_write)
            *value = p->activer[w];
        else if (d->op2 & 2)
            p->activer[w] |= val & ex[w];
        else
            p->activer[w] &= ~(val & ex[w]);
        return VMDL_FAULT_NONE;
    case VMDL_GICV5_ICC_PPI_CPENDR0_EL1:
    case VMDL_GICV5_ICC_PPI_CPENDR1_EL1:
    case VMDL_GICV5_ICC_PPI_SPENDR0_EL1:
    case VMDL_GICV5_ICC_PPI_SPENDR1_EL1:
        if (!is_write) {
            *value = p->pendr[w];
            return VMDL_FAULT_NONE;
        }
        /* The pending bit of a level PPI follows its line: read-only. */
        val &= ex[w] & ~g->m.level[w];
        if (d->op2 & 2)
            p->pendr[w] |= val;
        else
            p->pendr[w] &= ~val;
        return VMDL_FAULT_NONE;
    case VMDL_GICV5_ICC_APR_EL1:
        if (is_write)
            p->apr = val;
        else
            *value = p->apr;
        return VMDL_FAULT_NONE;
    case VMDL_GICV5_ICC_CR0_EL1:
        if (is_write)
            p->vmcr = (p->vmcr & ~VMDL_GICV5_VMCR_EN) |
                      (val & VMDL_GICV5_CR0_EN);
        else
            *value = p->vmcr & VMDL_GICV5_VMCR_EN;
        return VMDL_FAULT_NONE;
    case VMDL_GICV5_ICC_PCR_EL1:
        if (is_write)
            p->vmcr = (p->vmcr & ~VMDL_GENMASK(31, 27)) |
                      ((val & 31u) << VMDL_GICV5_VMCR_VPMR_SHIFT);
        else
            *value = (p->vmcr >> VMDL_GICV5_VMCR_VPMR_SHIFT) & 31u;
        return VMDL_FAULT_NONE;
    default:
        if (d->id >= VMDL_GICV5_ICC_PPI_PRIORITYR0_EL1 &&
            d->id <= VMDL_GICV5_ICC_PPI_PRIORITYR15_EL1) {
            unsigned n = d->id - VMDL_GICV5_ICC_PPI_PRIORITYR0_EL1;
            if (is_write)
                p->priorityr[n] = val & exposed_prio_mask(g, n);
            else
                *value = p->priorityr[n];
            return VMDL_FAULT_NONE;
        }
        return VMDL_FAULT_UNDEF;
    }
}

/* An access the fine-grained traps send to the hypervisor (KVM sys_regs.c
 * handlers).  A trap is a guest exit; the handler runs on the shadow state
 * where KVM's does, and the guest re-enters. */
static vmdl_fault access_trapped(struct vmdl_gicv5 *g, unsigned vcpu,
                                 struct gv5_vcpu *v, struct gv5_pcpu *p,
                                 const struct vmdl_gicv5_reg_desc *d,
                                 bool is_write, uint64_t *value)
{
    unsigned w = d->op2 & 1;
    switch (d->id) {
    case VMDL_GICV5_ICC_IAFFIDR_EL1:
        /* The IAFFID of a vCPU is its VPE ID, which is the vCPU ID. */
        *value = vcpu & 0xFFFFu;
        return VMDL_FAULT_NONE;
    case VMDL_GICV5_ICC_IDR0_EL1:
        *value = emulated_idr0();
        return VMDL_FAULT_NONE;
    case VMDL_GICV5_ICC_PPI_HMR0_EL1:
    case VMDL_GICV5_ICC_PPI_HMR1_EL1:
        *value = g->m.level[w] & g->m.exposed[w];
        return VMDL_FAULT_NONE;
    case VMDL_GICV5_ICC_PPI_ENABLER0_EL1:
    case VMDL_GICV5_ICC_PPI_ENABLER1_EL1:
        if (!is_write)
            break;
        guest_exit(g, v, p);
        v->enabler[w] = *value & g->m.exposed[w];
        for (uint64_t m = g->m.exposed[w]; m; m &= m - 1) {
            unsigned ppi = w * 64 + (unsigned)__builtin_ctzll(m);
            struct gv5_irq *irq = gv5_irq(g, v, ppi);
            if (gv5_bit(v->enabler, ppi))
                irq->flags |= GV5_F_ENABLED;
            else
                irq->flags &= (uint8_t)~GV5_F_ENABLED;
        }
        guest_entry(g, v, p);
        return VMDL_FAULT_NONE;
    default:
        /* KVM v1 also trapped writes of the pending, active and priority
         * registers: the handler applied the same masked update. */
        if (is_write)
            return access_live(g, vcpu, p, d, is_write, value);
        break;
    }
    return VMDL_FAULT_UNDEF;
}

vmdl_fault vmdl_gicv5_sysreg(struct vmdl_gicv5 *g, unsigned vcpu,
                             unsigned op0, unsigned op1, unsigned crn,
                             unsigned crm, unsigned op2, bool is_write,
                             uint64_t *value)
{
    const struct vmdl_gicv5_reg_desc *d =
        vmdl_gicv5_reg_lookup(op0, op1, crn, crm, op2);
    if (!d)
        return VMDL_FAULT_UNCLAIMED;
    if (!g || !value || vcpu >= g->nr_vcpus) {
        vmdl_fail(VMDL_EINVAL, "vmdl_gicv5_sysreg: bad gic, value or vcpu %u",
                  vcpu);
        return VMDL_FAULT_UNDEF;
    }
    /* EL2 registers do not exist for an EL1 guest (no nested virt). */
    if (d->el != 1)
        return VMDL_FAULT_UNDEF;
    if ((is_write && !(d->access & VMDL_GICV5_WO)) ||
        (!is_write && !(d->access & VMDL_GICV5_RO)))
        return VMDL_FAULT_UNDEF;
    struct gv5_vcpu *v = &g->vcpus[vcpu];
    if (v->pcpu < 0) {
        vmdl_fail(VMDL_ESTATE, "vmdl_gicv5_sysreg: vcpu %u is not loaded on "
                  "a physical CPU", vcpu);
        return VMDL_FAULT_UNDEF;
    }
    struct gv5_pcpu *p = &g->pcpus[v->pcpu];
    if (is_write)
        *value &= ~d->res0;

    /* Trap decision from the loaded fine-grained trap registers. */
    int bit;
    uint64_t fgt;
    if (d->kind == VMDL_GICV5_INSN) {
        bit = d->fgt_insn;
        fgt = p->hfgitr;
    } else if (is_write) {
        bit = d->fgt_write;
        fgt = p->hfgwtr;
    } else {
        bit = d->fgt_read;
        fgt = p->hfgrtr;
    }
    if (bit >= 0 && !(fgt & VMDL_BIT(bit))) {
        v->st.traps++;
        return access_trapped(g, vcpu, v, p, d, is_write, value);
    }
    v->st.direct++;
    return access_live(g, vcpu, p, d, is_write, value);
}

/* ------------------------------------------------------------------ */
/* injection                                                           */

static int inject(struct vmdl_gicv5 *g, unsigned vcpu, unsigned ppi,
                  bool level)
{
    struct gv5_vcpu *v = &g->vcpus[vcpu];
    struct gv5_irq *irq = gv5_irq(g, v, ppi);
    if (is_level(g, ppi)) {
        if (((irq->flags & GV5_F_LINE) != 0) == level)
            return VMDL_OK;             /* no change on the line */
        if (level)
            irq->flags |= GV5_F_LINE;
        else
            irq->flags &= (uint8_t)~GV5_F_LINE;
    } else {
        if (!level)
            return VMDL_OK;             /* edge: only a raise counts */
        irq->flags |= GV5_F_LATCH;
    }
    if (v->pcpu < 0)
        return VMDL_OK;
    if (gv5_bit(v->dvir, ppi)) {
        /* Direct virtual injection: the line reaches the live pending bit
         * without the hypervisor. */
        gv5_assign(g->pcpus[v->pcpu].pendr, ppi, level);
        v->st.direct_injections++;
        return VMDL_OK;
    }
    kick(g, v);
    return VMDL_OK;
}

int vmdl_gicv5_irq_line(struct vmdl_gicv5 *g, unsigned vcpu, unsigned ppi,
                        bool level)
{
    int err = check_vcpu(g, vcpu, "vmdl_gicv5_irq_line");
    if (err)
        return err;
    if (ppi >= g->nr_ppis)
        return vmdl_fail(VMDL_ERANGE, "vmdl_gicv5_irq_line: ppi %u out of "
                         "range (0..%u)", ppi, g->nr_ppis - 1);
    if (!gv5_bit(g->m.userspace, ppi))
        return vmdl_fail(VMDL_EINVAL, "vmdl_gicv5_irq_line: ppi %u is not "
                         "userspace-driveable (only SW_PPI 3 is)", ppi);
    return inject(g, vcpu, ppi, level);
}

int vmdl_gicv5_device_line(struct vmdl_gicv5 *g, unsigned vcpu, unsigned ppi,
                           bool level)
{
    int err = check_vcpu(g, vcpu, "vmdl_gicv5_device_line");
    if (err)
        return err;
    if (ppi >= g->nr_ppis)
        return vmdl_fail(VMDL_ERANGE, "vmdl_gicv5_device_line: ppi %u out of "
                         "range (0..%u)", ppi, g->nr_ppis - 1);
    if (!gv5_bit(g->device_owned, ppi))
        return vmdl_fail(VMDL_EINVAL, "vmdl_gicv5_device_line: ppi %u has no "
                         "in-kernel device owner in this VM", ppi);
    return inject(g, vcpu, ppi, level);
}

int vmdl_gicv5_set_dvi(struct vmdl_gicv5 *g, unsigned vcpu, unsigned ppi,
                       bool dvi)
{
    int err = check_vcpu(g, vcpu, "vmdl_gicv5_set_dvi");
    if (err)
        return err;
    if (ppi >= g->nr_ppis)
        return vmdl_fail(VMDL_ERANGE, "vmdl_gicv5_set_dvi: ppi %u out of "
                         "range (0..%u)", ppi, g->nr_ppis - 1);
    if (!gv5_bit(g->device_owned, ppi) || !is_level(g, ppi))
        return vmdl_fail(VMDL_EINVAL, "vmdl_gicv5_set_dvi: ppi %u is not a "
                         "level-sensitive device PPI", ppi);
    struct gv5_vcpu *v = &g->vcpus[vcpu];
    gv5_assign(v->dvir, ppi, dvi);
    kick(g, v);      /* new DVIR reaches the hardware on re-entry */
    return VMDL_OK;
}

/* ------------------------------------------------------------------ */
/* introspection                                                       */

int vmdl_gicv5_get_ppi(const struct vmdl_gicv5 *g, unsigned vcpu,
                       unsigned ppi, struct vmdl_gicv5_ppi_state *out)
{
    int err = check_vcpu(g, vcpu, "vmdl_gicv5_get_ppi");
    if (err)
        return err;
    if (!out)
        return vmdl_fail(VMDL_EINVAL, "vmdl_gicv5_get_ppi: out is NULL");
    if (ppi >= g->nr_ppis)
        return vmdl_fail(VMDL_ERANGE, "vmdl_gicv5_get_ppi: ppi %u out of "
                         "range (0..%u)", ppi, g->nr_ppis - 1);
    memset(out, 0, sizeof(*out));
    if (!gv5_bit(g->m.exposed, ppi))
        return VMDL_OK;
    const struct gv5_vcpu *v = &g->vcpus[vcpu];
    const struct gv5_irq *irq = gv5_irq(g, v, ppi);
    out->exposed = true;
    out->level_sensitive = is_level(g, ppi);
    out->enabled = irq->flags & GV5_F_ENABLED;
    out->active = irq->flags & GV5_F_ACTIVE;
    out->pending_latch = irq->flags & GV5_F_LATCH;
    out->line_level = irq->flags & GV5_F_LINE;
    out->dvi = gv5_bit(v->dvir, ppi);
    out->priority = irq->priority;
    return VMDL_OK;
}

int vmdl_gicv5_get_stats(const struct vmdl_gicv5 *g, unsigned vcpu,
                         struct vmdl_gicv5_stats *out)
{
    int err = check_vcpu(g, vcpu, "vmdl_gicv5_get_stats");
    if (err)
        return err;
    if (!out)
        return vmdl_fail(VMDL_EINVAL, "vmdl_gicv5_get_stats: out is NULL");
    *out = g->vcpus[vcpu].st;
    return VMDL_OK;
}
