/* SPDX-License-Identifier: MIT */
/* GICv5 CPU interface (PPIs) model: registers, traps, load/put, injection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "virtmodel/blob.h"
#include "virtmodel/error.h"
#include "virtmodel/gicv5.h"

#define SW VMDL_GICV5_PPI_SW
#define PMU VMDL_GICV5_PPI_PMUIRQ
#define CNTV VMDL_GICV5_PPI_CNTV
#define CNTP VMDL_GICV5_PPI_CNTP
#define INTID(p) (VMDL_GICV5_PPI_INTID(p))
#define ID(n) VMDL_GICV5_##n

static struct vmdl_gicv5 *mk(unsigned nv, bool pmu,
                             enum vmdl_gicv5_storage st,
                             enum vmdl_gicv5_traps traps)
{
    struct vmdl_gicv5_config c = {
        .nr_vcpus = nv, .nr_pcpus = 2, .storage = st, .traps = traps,
        .pmu = pmu,
    };
    struct vmdl_gicv5 *g = NULL;
    assert_int_equal(vmdl_gicv5_create(&c, &g), VMDL_OK);
    assert_non_null(g);
    return g;
}

static vmdl_fault acc(struct vmdl_gicv5 *g, unsigned v,
                      enum vmdl_gicv5_reg_id id, bool wr, uint64_t *val)
{
    const struct vmdl_gicv5_reg_desc *d = vmdl_gicv5_reg(id);
    assert_non_null(d);
    return vmdl_gicv5_sysreg(g, v, d->op0, d->op1, d->crn, d->crm, d->op2,
                             wr, val);
}

static uint64_t rd(struct vmdl_gicv5 *g, unsigned v, enum vmdl_gicv5_reg_id id)
{
    uint64_t val = 0xDEAD;
    assert_int_equal(acc(g, v, id, false, &val), VMDL_FAULT_NONE);
    return val;
}

static void wr(struct vmdl_gicv5 *g, unsigned v, enum vmdl_gicv5_reg_id id,
               uint64_t val)
{
    assert_int_equal(acc(g, v, id, true, &val), VMDL_FAULT_NONE);
}

static uint64_t ich(struct vmdl_gicv5 *g, unsigned pcpu,
                    enum vmdl_gicv5_reg_id id)
{
    uint64_t val = 0xDEAD;
    assert_int_equal(vmdl_gicv5_pcpu_read(g, pcpu, id, &val), VMDL_OK);
    return val;
}

/* The selftest's gicv5_cpu_enable_interrupts(): all PPIs disabled, every
 * priority 0b10000, PCR 0b10000, CR0.EN. */
static void guest_enable(struct vmdl_gicv5 *g, unsigned v)
{
    wr(g, v, ID(ICC_PPI_ENABLER0_EL1), 0);
    wr(g, v, ID(ICC_PPI_ENABLER1_EL1), 0);
    for (unsigned n = 0; n < 16; n++)
        wr(g, v, ID(ICC_PPI_PRIORITYR0_EL1) + n, 0x1010101010101010ull);
    wr(g, v, ID(ICC_PCR_EL1), 0x10);
    wr(g, v, ID(ICC_CR0_EL1), 1);
}

static void set_prio(struct vmdl_gicv5 *g, unsigned v, unsigned ppi,
                     unsigned prio)
{
    enum vmdl_gicv5_reg_id id = ID(ICC_PPI_PRIORITYR0_EL1) + ppi / 8;
    uint64_t r = rd(g, v, id);
    unsigned sh = (ppi % 8) * 8;
    r = (r & ~(0xFFull << sh)) | ((uint64_t)prio << sh);
    wr(g, v, id, r);
}

/* A loaded, enabled VM: vCPU 0 on pCPU 0, PMU exposed. */
static struct vmdl_gicv5 *ready(enum vmdl_gicv5_storage st)
{
    struct vmdl_gicv5 *g = mk(1, true, st, VMDL_GICV5_TRAPS_KVM_V3);
    assert_int_equal(vmdl_gicv5_vcpu_load(g, 0, 0), VMDL_OK);
    guest_enable(g, 0);
    return g;
}

/* ------------------------------------------------------------------ */
/* the encoding table                                                  */

static void test_table_sorted_and_lookup(void **state)
{
    (void)state;
    for (unsigned i = 0; i < VMDL_GICV5_NR_REGS; i++) {
        const struct vmdl_gicv5_reg_desc *d = &vmdl_gicv5_regs[i];
        assert_int_equal(d->id, i);
        if (i > 0) {
            const struct vmdl_gicv5_reg_desc *p = &vmdl_gicv5_regs[i - 1];
            assert_true(VMDL_GICV5_ENC(p->op0, p->op1, p->crn, p->crm, p->op2) <
                        VMDL_GICV5_ENC(d->op0, d->op1, d->crn, d->crm, d->op2));
        }
        assert_ptr_equal(vmdl_gicv5_reg_lookup(d->op0, d->op1, d->crn, d->crm,
                                               d->op2), d);
        assert_int_equal(d->crn, 12);
        assert_true(d->kind == VMDL_GICV5_INSN ? d->op0 == 1 : d->op0 == 3);
    }
    assert_null(vmdl_gicv5_reg_lookup(3, 0, 12, 10, 8));  /* op2 too big */
    assert_null(vmdl_gicv5_reg_lookup(3, 0, 12, 12, 5));  /* GICv3 ICC_CTLR */
    assert_null(vmdl_gicv5_reg_lookup(1, 0, 12, 1, 6));   /* gap in GIC ops */
    assert_null(vmdl_gicv5_reg(VMDL_GICV5_NR_REGS));
}

static void test_table_encodings(void **state)
{
    (void)state;
    static const struct { enum vmdl_gicv5_reg_id id; unsigned e[5]; } k[] = {
        { ID(ICC_PPI_ENABLER0_EL1), {3, 0, 12, 10, 6} },
        { ID(ICC_PPI_ENABLER1_EL1), {3, 0, 12, 10, 7} },
        { ID(ICC_PPI_HMR0_EL1), {3, 0, 12, 10, 0} },
        { ID(ICC_IDR0_EL1), {3, 0, 12, 10, 2} },
        { ID(ICC_IAFFIDR_EL1), {3, 0, 12, 10, 5} },
        { ID(ICC_PPI_SPENDR1_EL1), {3, 0, 12, 13, 7} },
        { ID(ICC_PPI_PRIORITYR8_EL1), {3, 0, 12, 15, 0} },
        { ID(ICC_APR_EL1), {3, 1, 12, 0, 0} },
        { ID(ICC_CR0_EL1), {3, 1, 12, 0, 1} },
        { ID(ICC_PCR_EL1), {3, 1, 12, 0, 2} },
        { ID(GICR_CDIA), {1, 0, 12, 3, 0} },
        { ID(GIC_CDEOI), {1, 0, 12, 1, 7} },
        { ID(GIC_CDDI), {1, 0, 12, 2, 0} },
        { ID(GSB_ACK), {1, 0, 12, 0, 1} },
        { ID(ICH_VMCR_EL2), {3, 4, 12, 11, 7} },
        { ID(ICH_VCTLR_EL2), {3, 4, 12, 11, 4} },
        { ID(ICH_PPI_DVIR1_EL2), {3, 4, 12, 10, 1} },
        { ID(ICH_HFGWTR_EL2), {3, 4, 12, 9, 6} },
        { ID(ICH_PPI_PRIORITYR15_EL2), {3, 4, 12, 15, 7} },
    };
    for (unsigned i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
        const struct vmdl_gicv5_reg_desc *d = vmdl_gicv5_reg(k[i].id);
        assert_int_equal(d->op0, k[i].e[0]);
        assert_int_equal(d->op1, k[i].e[1]);
        assert_int_equal(d->crn, k[i].e[2]);
        assert_int_equal(d->crm, k[i].e[3]);
        assert_int_equal(d->op2, k[i].e[4]);
    }
    assert_string_equal(vmdl_gicv5_reg(ID(ICC_PCR_EL1))->name, "ICC_PCR_EL1");
}

static void test_table_fgt_bits_defined(void **state)
{
    (void)state;
    assert_int_equal(vmdl_gicv5_fgt_defined(0), 0x1F00FFull);
    assert_int_equal(vmdl_gicv5_fgt_defined(1), 0x1E0065ull);
    assert_int_equal(vmdl_gicv5_fgt_defined(2), 0x7FFull);
    assert_int_equal(vmdl_gicv5_fgt_defined(3), 0);
    for (unsigned i = 0; i < VMDL_GICV5_NR_REGS; i++) {
        const struct vmdl_gicv5_reg_desc *d = &vmdl_gicv5_regs[i];
        if (d->fgt_read >= 0)
            assert_true(vmdl_gicv5_fgt_defined(0) & VMDL_BIT(d->fgt_read));
        if (d->fgt_write >= 0)
            assert_true(vmdl_gicv5_fgt_defined(1) & VMDL_BIT(d->fgt_write));
        if (d->fgt_insn >= 0)
            assert_true(vmdl_gicv5_fgt_defined(2) & VMDL_BIT(d->fgt_insn));
        /* a write trap bit only on writable registers */
        if (d->fgt_write >= 0)
            assert_true(d->access & VMDL_GICV5_WO);
        if (d->el == 2)
            assert_true(d->fgt_read < 0 && d->fgt_write < 0 && d->fgt_insn < 0);
    }
}

/* ------------------------------------------------------------------ */
/* configuration, masks, reset                                         */

static void test_default_masks(void **state)
{
    (void)state;
    struct vmdl_gicv5 *g = mk(1, false, VMDL_GICV5_SPARSE, 0);
    struct vmdl_gicv5_masks m;
    vmdl_gicv5_get_masks(g, &m);
    assert_int_equal(m.exposed[0], VMDL_BIT(SW) | VMDL_BIT(CNTV) | VMDL_BIT(CNTP));
    assert_int_equal(m.exposed[1], 0);
    assert_int_equal(m.level[0], VMDL_BIT(CNTV) | VMDL_BIT(CNTP));
    assert_int_equal(m.userspace[0], VMDL_BIT(SW));
    assert_int_equal(m.userspace[1], 0);
    assert_int_equal(vmdl_gicv5_nr_pcpus(g), 2);
    vmdl_gicv5_destroy(g);

    g = mk(1, true, VMDL_GICV5_SPARSE, 0);
    vmdl_gicv5_get_masks(g, &m);
    assert_true(m.exposed[0] & VMDL_BIT(PMU));
    assert_true(m.level[0] & VMDL_BIT(PMU));
    vmdl_gicv5_destroy(g);

    struct vmdl_gicv5_config c = {
        .nr_vcpus = 1, .no_timers = true, .nr_ppis = 128,
        .extra_ppis = { VMDL_BIT(40), VMDL_BIT(5) },
        .extra_level = { 0, VMDL_BIT(5) },
    };
    assert_int_equal(vmdl_gicv5_create(&c, &g), VMDL_OK);
    vmdl_gicv5_get_masks(g, &m);
    assert_int_equal(m.exposed[0], VMDL_BIT(SW) | VMDL_BIT(40));
    assert_int_equal(m.exposed[1], VMDL_BIT(5));
    assert_int_equal(m.level[0], 0);
    assert_int_equal(m.level[1], VMDL_BIT(5));
    vmdl_gicv5_destroy(g);
}

/*
 * KVM's vGIC-v5 limits: 64 PPIs (the architected ones; VGIC_V5_NR_PRIVATE_IRQS
 * is 64 in tools/testing/selftests/kvm/arm64/vgic_v5.c, and
 * arch/arm64/kvm/vgic/vgic-v5-sysregs handlers such as set_gic_ppi_enabler()
 * ignore the PPI 64-127 registers when it is) and 512 vCPUs
 * (VGIC_V5_MAX_CPUS in include/kvm/arm_vgic.h, which vgic_v5_probe() makes
 * max_gic_vcpus).  128 PPIs stay available as an option beyond KVM.
 */
static void test_kvm_limits_64_ppis_512_vcpus(void **state)
{
    (void)state;
    struct vmdl_gicv5 *g = NULL;
    struct vmdl_gicv5_config c = { .nr_vcpus = 512 };
    assert_int_equal(vmdl_gicv5_create(&c, &g), VMDL_OK);
    assert_int_equal(vmdl_gicv5_nr_vcpus(g), 512);
    assert_int_equal(vmdl_gicv5_irq_line(g, 511, SW, true), VMDL_OK);
    assert_int_equal(vmdl_gicv5_irq_line(g, 512, SW, true), VMDL_ERANGE);
    /* PPIs 64-127 do not exist in the default (KVM) configuration. */
    struct vmdl_gicv5_ppi_state ps;
    assert_int_equal(vmdl_gicv5_get_ppi(g, 0, 63, &ps), VMDL_OK);
    assert_int_equal(vmdl_gicv5_get_ppi(g, 0, 64, &ps), VMDL_ERANGE);
    assert_int_equal(vmdl_gicv5_device_line(g, 0, 100, true), VMDL_ERANGE);
    assert_int_equal(vmdl_gicv5_set_dvi(g, 0, 64, true), VMDL_ERANGE);
    assert_int_equal(vmdl_gicv5_irq_line(g, 0, 127, true), VMDL_ERANGE);
    vmdl_gicv5_destroy(g);
    c.nr_vcpus = 513;
    assert_int_equal(vmdl_gicv5_create(&c, &g), VMDL_ERANGE);

    /* A device PPI above 63 needs the 128-PPI option. */
    c = (struct vmdl_gicv5_config){ .extra_ppis = { 0, VMDL_BIT(5) } };
    assert_int_equal(vmdl_gicv5_create(&c, &g), VMDL_EINVAL);
    assert_non_null(strstr(vmdl_last_error(), "nr_ppis"));
    c.nr_ppis = 100;
    assert_int_equal(vmdl_gicv5_create(&c, &g), VMDL_EINVAL);
    c.nr_ppis = 128;
    assert_int_equal(vmdl_gicv5_create(&c, &g), VMDL_OK);
    assert_int_equal(vmdl_gicv5_device_line(g, 0, 69, true), VMDL_OK);
    assert_int_equal(vmdl_gicv5_get_ppi(g, 0, 69, &ps), VMDL_OK);
    assert_true(ps.exposed && ps.pending_latch);
    vmdl_gicv5_destroy(g);

    /* Dense storage holds one slot per PPI the configuration has. */
    struct vmdl_gicv5 *d64 = NULL, *d128 = NULL;
    c = (struct vmdl_gicv5_config){ .storage = VMDL_GICV5_DENSE };
    assert_int_equal(vmdl_gicv5_create(&c, &d64), VMDL_OK);
    c.nr_ppis = 128;
    assert_int_equal(vmdl_gicv5_create(&c, &d128), VMDL_OK);
    assert_int_equal(vmdl_gicv5_vcpu_bytes(d128) - vmdl_gicv5_vcpu_bytes(d64),
                     64 * 3);
    vmdl_gicv5_destroy(d64);
    vmdl_gicv5_destroy(d128);
}

static void test_create_errors(void **state)
{
    (void)state;
    struct vmdl_gicv5 *g = (void *)1;
    struct vmdl_gicv5_config c = { .nr_vcpus = 513 };
    assert_int_equal(vmdl_gicv5_create(&c, &g), VMDL_ERANGE);
    assert_null(g);
    assert_non_null(strstr(vmdl_last_error(), "nr_vcpus"));
    c = (struct vmdl_gicv5_config){ .nr_pcpus = 17 };
    assert_int_equal(vmdl_gicv5_create(&c, &g), VMDL_ERANGE);
    c = (struct vmdl_gicv5_config){ .extra_ppis = { VMDL_BIT(SW), 0 } };
    assert_int_equal(vmdl_gicv5_create(&c, &g), VMDL_EINVAL);
    assert_non_null(strstr(vmdl_last_error(), "SW_PPI"));
    c = (struct vmdl_gicv5_config){ .extra_level = { VMDL_BIT(9), 0 } };
    assert_int_equal(vmdl_gicv5_create(&c, &g), VMDL_EINVAL);
    c = (struct vmdl_gicv5_config){ .storage = 7 };
    assert_int_equal(vmdl_gicv5_create(&c, &g), VMDL_EINVAL);
    c = (struct vmdl_gicv5_config){ .traps = 9 };
    assert_int_equal(vmdl_gicv5_create(&c, &g), VMDL_EINVAL);
    assert_int_equal(vmdl_gicv5_create(&c, NULL), VMDL_EINVAL);
    /* NULL config: defaults (1 vCPU, 2 pCPUs) */
    assert_int_equal(vmdl_gicv5_create(NULL, &g), VMDL_OK);
    assert_int_equal(vmdl_gicv5_nr_vcpus(g), 1);
    vmdl_gicv5_destroy(g);
    vmdl_gicv5_destroy(NULL);
}

static void test_reset_values(void **state)
{
    (void)state;
    struct vmdl_gicv5 *g = mk(3, true, VMDL_GICV5_SPARSE, 0);
    /* EL2 init: every physical CPU has ICH_VCTLR_EL2.En, no V3 */
    for (unsigned p = 0; p < 2; p++) {
        assert_int_equal(ich(g, p, ID(ICH_VCTLR_EL2)), VMDL_GICV5_VCTLR_EN);
        assert_int_equal(ich(g, p, ID(ICH_HFGRTR_EL2)), 0x1F00FFull);
    }
    assert_int_equal(vmdl_gicv5_vcpu_load(g, 2, 1), VMDL_OK);
    assert_int_equal(rd(g, 2, ID(ICC_CR0_EL1)), 0);
    assert_int_equal(rd(g, 2, ID(ICC_PCR_EL1)), 0);
    assert_int_equal(rd(g, 2, ID(ICC_APR_EL1)), 0);
    assert_int_equal(rd(g, 2, ID(ICC_ICSR_EL1)), 0);
    assert_int_equal(rd(g, 2, ID(ICC_PPI_ENABLER0_EL1)), 0);
    assert_int_equal(rd(g, 2, ID(ICC_PPI_SPENDR0_EL1)), 0);
    assert_int_equal(rd(g, 2, ID(ICC_PPI_SACTIVER0_EL1)), 0);
    for (unsigned n = 0; n < 16; n++)
        assert_int_equal(rd(g, 2, ID(ICC_PPI_PRIORITYR0_EL1) + n), 0);
    /* 5 priority bits (PRI_BITS 0b0100), 16 ID bits, no GICv3 legacy */
    assert_int_equal(rd(g, 2, ID(ICC_IDR0_EL1)), 0x40);
    /* IAFFID = VPE ID = vCPU ID */
    assert_int_equal(rd(g, 2, ID(ICC_IAFFIDR_EL1)), 2);
    assert_int_equal(rd(g, 2, ID(ICC_HPPIR_EL1)), 0);
    assert_int_equal(ich(g, 1, ID(ICH_VMCR_EL2)), 0);
    vmdl_gicv5_destroy(g);
}

static void test_fgt_values_kvm_v3(void **state)
{
    (void)state;
    struct vmdl_gicv5 *g = mk(1, false, VMDL_GICV5_SPARSE,
                              VMDL_GICV5_TRAPS_KVM_V3);
    assert_int_equal(vmdl_gicv5_vcpu_load(g, 0, 1), VMDL_OK);
    /* Reads of IAFFIDR (bit 7) and IDRn (bit 1) trap; writes of the
     * ENABLER registers (bit 17) trap; no instruction traps. */
    assert_int_equal(ich(g, 1, ID(ICH_HFGRTR_EL2)), 0x1F00FFull & ~0x82ull);
    assert_int_equal(ich(g, 1, ID(ICH_HFGWTR_EL2)), 0x1E0065ull & ~VMDL_BIT(17));
    assert_int_equal(ich(g, 1, ID(ICH_HFGITR_EL2)), 0x7FF);
    /* RES0 bits of the loaded values are clear */
    assert_int_equal(ich(g, 1, ID(ICH_HFGRTR_EL2)) &
                     vmdl_gicv5_reg(ID(ICH_HFGRTR_EL2))->res0, 0);
    vmdl_gicv5_destroy(g);
}

static void test_fgt_values_kvm_v1(void **state)
{
    (void)state;
    struct vmdl_gicv5 *g = mk(1, false, VMDL_GICV5_SPARSE,
                              VMDL_GICV5_TRAPS_KVM_V1);
    assert_int_equal(vmdl_gicv5_vcpu_load(g, 0, 0), VMDL_OK);
    assert_int_equal(ich(g, 0, ID(ICH_HFGRTR_EL2)),
                     0x1F00FFull & ~(VMDL_BIT(7) | VMDL_BIT(16)));
    assert_int_equal(ich(g, 0, ID(ICH_HFGWTR_EL2)), 0x65ull);
    vmdl_gicv5_destroy(g);
}

/* ------------------------------------------------------------------ */
/* traps                                                               */

static void test_trap_counts_v3(void **state)
{
    (void)state;
    struct vmdl_gicv5 *g = mk(1, false, VMDL_GICV5_SPARSE, 0);
    assert_int_equal(vmdl_gicv5_vcpu_load(g, 0, 0), VMDL_OK);
    struct vmdl_gicv5_stats s0, s1;
    assert_int_equal(vmdl_gicv5_get_stats(g, 0, &s0), VMDL_OK);
    wr(g, 0, ID(ICC_PPI_ENABLER0_EL1), VMDL_BIT(SW));      /* trap */
    (void)rd(g, 0, ID(ICC_PPI_ENABLER0_EL1));              /* direct */
    wr(g, 0, ID(ICC_PPI_PRIORITYR0_EL1), 0);               /* direct */
    wr(g, 0, ID(ICC_PPI_SPENDR0_EL1), 0);                  /* direct */
    (void)rd(g, 0, ID(ICC_IDR0_EL1));                      /* trap */
    (void)rd(g, 0, ID(ICC_IAFFIDR_EL1));                   /* trap */
    (void)rd(g, 0, ID(ICC_PPI_HMR0_EL1));                  /* direct */
    uint64_t z = 0;
    assert_int_equal(acc(g, 0, ID(GIC_CDEOI), true, &z), VMDL_FAULT_NONE);
    assert_int_equal(vmdl_gicv5_get_stats(g, 0, &s1), VMDL_OK);
    assert_int_equal(s1.traps - s0.traps, 3);
    assert_int_equal(s1.direct - s0.direct, 5);
    vmdl_gicv5_destroy(g);
}

static void test_trap_policy_v1(void **state)
{
    (void)state;
    struct vmdl_gicv5 *g = mk(1, true, VMDL_GICV5_SPARSE,
                              VMDL_GICV5_TRAPS_KVM_V1);
    assert_int_equal(vmdl_gicv5_vcpu_load(g, 0, 0), VMDL_OK);
    struct vmdl_gicv5_stats s0, s1;
    assert_int_equal(vmdl_gicv5_get_stats(g, 0, &s0), VMDL_OK);
    /* v1 did not trap ICC_IDR0_EL1: the guest saw the host's 24 ID bits */
    assert_int_equal(rd(g, 0, ID(ICC_IDR0_EL1)), 0x41);
    wr(g, 0, ID(ICC_PPI_PRIORITYR0_EL1), 0xFFFFFFFFFFFFFFFFull);   /* trap */
    assert_int_equal(rd(g, 0, ID(ICC_PPI_PRIORITYR0_EL1)), 0x1Full << 24);
    assert_int_equal(rd(g, 0, ID(ICC_PPI_HMR0_EL1)),                 /* trap */
                     VMDL_BIT(PMU) | VMDL_BIT(CNTV) | VMDL_BIT(CNTP));
    wr(g, 0, ID(ICC_PPI_SPENDR0_EL1), VMDL_BIT(SW));                  /* trap */
    assert_int_equal(rd(g, 0, ID(ICC_PPI_SPENDR0_EL1)), VMDL_BIT(SW));
    assert_int_equal(vmdl_gicv5_get_stats(g, 0, &s1), VMDL_OK);
    assert_int_equal(s1.traps - s0.traps, 3);
    assert_int_equal(s1.direct - s0.direct, 3);
    vmdl_gicv5_destroy(g);
}

static void test_enabler_trap_masks_to_exposed(void **state)
{
    (void)state;
    struct vmdl_gicv5 *g = mk(1, true, VMDL_GICV5_SPARSE, 0);
    assert_int_equal(vmdl_gicv5_vcpu_load(g, 0, 0), VMDL_OK);
    wr(g, 0, ID(ICC_PPI_ENABLER0_EL1), ~0ull);
    wr(g, 0, ID(ICC_PPI_ENABLER1_EL1), ~0ull);
    uint64_t ex = VMDL_BIT(SW) | VMDL_BIT(PMU) | VMDL_BIT(CNTV) | VMDL_BIT(CNTP);
    assert_int_equal(rd(g, 0, ID(ICC_PPI_ENABLER0_EL1)), ex);
    assert_int_equal(rd(g, 0, ID(ICC_PPI_ENABLER1_EL1)), 0);
    assert_int_equal(ich(g, 0, ID(ICH_PPI_ENABLER0_EL2)), ex);
    /* the trap handler synced the shadow enable state */
    struct vmdl_gicv5_ppi_state s;
    assert_int_equal(vmdl_gicv5_get_ppi(g, 0, PMU, &s), VMDL_OK);
    assert_true(s.enabled);
    wr(g, 0, ID(ICC_PPI_ENABLER0_EL1), VMDL_BIT(SW));
    assert_int_equal(vmdl_gicv5_get_ppi(g, 0, PMU, &s), VMDL_OK);
    assert_false(s.enabled);
    assert_int_equal(vmdl_gicv5_get_ppi(g, 0, SW, &s), VMDL_OK);
    assert_true(s.enabled);
    vmdl_gicv5_destroy(g);
}

static void test_unexposed_raz_wi(void **state)
{
    (void)state;
    struct vmdl_gicv5 *g = mk(1, false, VMDL_GICV5_DENSE, 0);
    assert_int_equal(vmdl_gicv5_vcpu_load(g, 0, 0), VMDL_OK);
    wr(g, 0, ID(ICC_PPI_SPENDR0_EL1), VMDL_BIT(5));
    wr(g, 0, ID(ICC_PPI_SPENDR1_EL1), ~0ull);
    assert_int_equal(rd(g, 0, ID(ICC_PPI_CPENDR0_EL1)), 0);
    assert_int_equal(rd(g, 0, ID(ICC_PPI_CPENDR1_EL1)), 0);
    wr(g, 0, ID(ICC_PPI_SACTIVER0_EL1), VMDL_BIT(10) | VMDL_BIT(SW));
    assert_int_equal(rd(g, 0, ID(ICC_PPI_CACTIVER0_EL1)), VMDL_BIT(SW));
    wr(g, 0, ID(ICC_PPI_PRIORITYR0_EL1), 0x1F1F1F1F1F1F1F1Full);
    assert_int_equal(rd(g, 0, ID(ICC_PPI_PRIORITYR0_EL1)), 0x1Full << 24);
    wr(g, 0, ID(ICC_PPI_PRIORITYR5_EL1), ~0ull);
    assert_int_equal(rd(g, 0, ID(ICC_PPI_PRIORITYR5_EL1)), 0);
    /* PRIORITYR3 holds PPIs 24..31: CNTV (27) and CNTP (30) are exposed */
    wr(g, 0, ID(ICC_PPI_PRIORITYR3_EL1), ~0ull);
    assert_int_equal(rd(g, 0, ID(ICC_PPI_PRIORITYR3_EL1)),
                     (0x1Full << 24) | (0x1Full << 48));
    assert_int_equal(rd(g, 0, ID(ICC_PPI_HMR1_EL1)), 0);
    vmdl_gicv5_destroy(g);
}

static void test_res0_bits_masked(void **state)
{
    (void)state;
    struct vmdl_gicv5 *g = mk(1, false, VMDL_GICV5_SPARSE, 0);
    assert_int_equal(vmdl_gicv5_vcpu_load(g, 0, 0), VMDL_OK);
    wr(g, 0, ID(ICC_PCR_EL1), ~0ull);
    assert_int_equal(rd(g, 0, ID(ICC_PCR_EL1)), 0x1F);
    /* PCR lands in ICH_VMCR_EL2.VPMR (31:27) */
    assert_int_equal(ich(g, 0, ID(ICH_VMCR_EL2)), 0x1Full << 27);
    wr(g, 0, ID(ICC_CR0_EL1), ~0ull);
    assert_int_equal(rd(g, 0, ID(ICC_CR0_EL1)), 1);
    assert_int_equal(ich(g, 0, ID(ICH_VMCR_EL2)), (0x1Full << 27) | 1);
    wr(g, 0, ID(ICC_APR_EL1), ~0ull);
    assert_int_equal(rd(g, 0, ID(ICC_APR_EL1)), 0xFFFFFFFFull);
    assert_int_equal(ich(g, 0, ID(ICH_APR_EL2)), 0xFFFFFFFFull);
    wr(g, 0, ID(ICC_ICSR_EL1), ~0ull);
    assert_int_equal(rd(g, 0, ID(ICC_ICSR_EL1)),
                     VMDL_GENMASK(47, 32) | VMDL_GENMASK(15, 11) |
                     VMDL_GENMASK(5, 0));
    wr(g, 0, ID(ICC_PPI_PRIORITYR0_EL1), 0xFFull << 24);
    assert_int_equal(rd(g, 0, ID(ICC_PPI_PRIORITYR0_EL1)), 0x1Full << 24);
    vmdl_gicv5_destroy(g);
}

static void test_undef_and_unclaimed(void **state)
{
    (void)state;
    struct vmdl_gicv5 *g = mk(1, false, VMDL_GICV5_SPARSE, 0);
    uint64_t v = 0;
    /* not loaded: no physical CPU holds its interface */
    assert_int_equal(acc(g, 0, ID(ICC_PCR_EL1), false, &v), VMDL_FAULT_UNDEF);
    assert_non_null(strstr(vmdl_last_error(), "not loaded"));
    assert_int_equal(vmdl_gicv5_vcpu_load(g, 0, 0), VMDL_OK);
    static const enum vmdl_gicv5_reg_id ro[] = {
        ID(ICC_IDR0_EL1), ID(ICC_PPI_HMR0_EL1), ID(ICC_IAFFIDR_EL1),
        ID(ICC_HPPIR_EL1), ID(GICR_CDIA), ID(GICR_CDNMIA),
    };
    for (unsigned i = 0; i < sizeof(ro) / sizeof(ro[0]); i++) {
        v = 0;
        assert_int_equal(acc(g, 0, ro[i], true, &v), VMDL_FAULT_UNDEF);
    }
    static const enum vmdl_gicv5_reg_id wo[] = {
        ID(GIC_CDEOI), ID(GIC_CDDI), ID(GSB_SYS), ID(GIC_CDEN),
    };
    for (unsigned i = 0; i < sizeof(wo) / sizeof(wo[0]); i++)
        assert_int_equal(acc(g, 0, wo[i], false, &v), VMDL_FAULT_UNDEF);
    /* EL2 registers from the EL1 guest */
    assert_int_equal(acc(g, 0, ID(ICH_VMCR_EL2), false, &v), VMDL_FAULT_UNDEF);
    assert_int_equal(acc(g, 0, ID(ICH_PPI_DVIR0_EL2), true, &v),
                     VMDL_FAULT_UNDEF);
    /* not ours */
    assert_int_equal(vmdl_gicv5_sysreg(g, 0, 3, 0, 12, 12, 4, false, &v),
                     VMDL_FAULT_UNCLAIMED);
    assert_int_equal(vmdl_gicv5_sysreg(g, 0, 3, 0, 1, 0, 0, false, &v),
                     VMDL_FAULT_UNCLAIMED);
    /* bad vCPU */
    assert_int_equal(acc(g, 7, ID(ICC_PCR_EL1), false, &v), VMDL_FAULT_UNDEF);
    vmdl_gicv5_destroy(g);
}

static void test_hmr_reports_level_ppis(void **state)
{
    (void)state;
    struct vmdl_gicv5 *g = mk(1, true, VMDL_GICV5_SPARSE, 0);
    assert_int_equal(vmdl_gicv5_vcpu_load(g, 0, 0), VMDL_OK);
    /* level: timers and PMU; SW_PPI is edge */
    assert_int_equal(rd(g, 0, ID(ICC_PPI_HMR0_EL1)),
                     VMDL_BIT(PMU) | VMDL_BIT(CNTV) | VMDL_BIT(CNTP));
    assert_int_equal(rd(g, 0, ID(ICC_PPI_HMR1_EL1)), 0);
    vmdl_gicv5_destroy(g);
}

/* ------------------------------------------------------------------ */
/* acknowledge, EOI, deactivate                                        */

static void test_edge_sw_ppi_flow(void **state)
{
    (void)state;
    struct vmdl_gicv5 *g = ready(VMDL_GICV5_SPARSE);
    wr(g, 0, ID(ICC_PPI_ENABLER0_EL1), VMDL_BIT(SW));
    assert_int_equal(vmdl_gicv5_irq_pending(g, 0), -1);
    assert_int_equal(vmdl_gicv5_irq_line(g, 0, SW, true), VMDL_OK);
    assert_int_equal(vmdl_gicv5_irq_pending(g, 0), (int)INTID(SW));
    assert_int_equal(rd(g, 0, ID(ICC_HPPIR_EL1)), INTID(SW) | VMDL_BIT(32));
    uint64_t ia = rd(g, 0, ID(GICR_CDIA));
    assert_int_equal(ia, VMDL_BIT(32) | (1ull << 29) | SW);
    assert_int_equal(rd(g, 0, ID(ICC_APR_EL1)), VMDL_BIT(0x10));
    assert_int_equal(rd(g, 0, ID(ICC_PPI_SACTIVER0_EL1)), VMDL_BIT(SW));
    /* edge: acknowledging consumed the pending state */
    assert_int_equal(rd(g, 0, ID(ICC_PPI_SPENDR0_EL1)), 0);
    assert_int_equal(vmdl_gicv5_irq_pending(g, 0), -1);
    assert_int_equal(rd(g, 0, ID(GICR_CDIA)), 0);     /* nothing else */
    uint64_t v = ia & 0xFFFFFFFFull;
    assert_int_equal(acc(g, 0, ID(GIC_CDDI), true, &v), VMDL_FAULT_NONE);
    assert_int_equal(rd(g, 0, ID(ICC_PPI_SACTIVER0_EL1)), 0);
    v = 0;
    assert_int_equal(acc(g, 0, ID(GIC_CDEOI), true, &v), VMDL_FAULT_NONE);
    assert_int_equal(rd(g, 0, ID(ICC_APR_EL1)), 0);
    assert_int_equal(vmdl_gicv5_irq_pending(g, 0), -1);
    /* lowering an edge PPI does nothing; raising again re-pends */
    assert_int_equal(vmdl_gicv5_irq_line(g, 0, SW, false), VMDL_OK);
    assert_int_equal(vmdl_gicv5_irq_pending(g, 0), -1);
    assert_int_equal(vmdl_gicv5_irq_line(g, 0, SW, true), VMDL_OK);
    assert_int_equal(vmdl_gicv5_irq_pending(g, 0), (int)INTID(SW));
    vmdl_gicv5_destroy(g);
}

static void test_level_ppi_follows_line(void **state)
{
    (void)state;
    struct vmdl_gicv5 *g = ready(VMDL_GICV5_DENSE);
    wr(g, 0, ID(ICC_PPI_ENABLER0_EL1), VMDL_BIT(PMU));
    assert_int_equal(vmdl_gicv5_device_line(g, 0, PMU, true), VMDL_OK);
    assert_int_equal(vmdl_gicv5_irq_pending(g, 0), (int)INTID(PMU));
    assert_int_equal(rd(g, 0, ID(GICR_CDIA)),
                     VMDL_BIT(32) | (1ull << 29) | PMU);
    /* level: still pending while the line is high, but active */
    assert_true(rd(g, 0, ID(ICC_PPI_SPENDR0_EL1)) & VMDL_BIT(PMU));
    assert_int_equal(vmdl_gicv5_irq_pending(g, 0), -1);
    /* the guest cannot clear a level PPI's pending bit */
    wr(g, 0, ID(ICC_PPI_CPENDR0_EL1), VMDL_BIT(PMU));
    assert_true(rd(g, 0, ID(ICC_PPI_SPENDR0_EL1)) & VMDL_BIT(PMU));
    uint64_t v = INTID(PMU);
    assert_int_equal(acc(g, 0, ID(GIC_CDDI), true, &v), VMDL_FAULT_NONE);
    v = 0;
    assert_int_equal(acc(g, 0, ID(GIC_CDEOI), true, &v), VMDL_FAULT_NONE);
    /* line still high: it fires again */
    assert_int_equal(vmdl_gicv5_irq_pending(g, 0), (int)INTID(PMU));
    assert_int_equal(vmdl_gicv5_device_line(g, 0, PMU, false), VMDL_OK);
    assert_int_equal(vmdl_gicv5_irq_pending(g, 0), -1);
    assert_int_equal(rd(g, 0, ID(ICC_PPI_SPENDR0_EL1)), 0);
    /* nor set it */
    wr(g, 0, ID(ICC_PPI_SPENDR0_EL1), VMDL_BIT(PMU));
    assert_int_equal(rd(g, 0, ID(ICC_PPI_SPENDR0_EL1)), 0);
    vmdl_gicv5_destroy(g);
}

static void test_edge_guest_set_clear_pending(void **state)
{
    (void)state;
    struct vmdl_gicv5 *g = ready(VMDL_GICV5_SPARSE);
    wr(g, 0, ID(ICC_PPI_ENABLER0_EL1), VMDL_BIT(SW));
    wr(g, 0, ID(ICC_PPI_SPENDR0_EL1), VMDL_BIT(SW));
    assert_int_equal(vmdl_gicv5_irq_pending(g, 0), (int)INTID(SW));
    wr(g, 0, ID(ICC_PPI_CPENDR0_EL1), VMDL_BIT(SW));
    assert_int_equal(vmdl_gicv5_irq_pending(g, 0), -1);
    vmdl_gicv5_destroy(g);
}

static void test_cdia_none_cases(void **state)
{
    (void)state;
    struct vmdl_gicv5 *g = ready(VMDL_GICV5_SPARSE);
    assert_int_equal(rd(g, 0, ID(GICR_CDIA)), 0);
    assert_int_equal(rd(g, 0, ID(ICC_APR_EL1)), 0);
    /* pending but disabled */
    assert_int_equal(vmdl_gicv5_irq_line(g, 0, SW, true), VMDL_OK);
    assert_int_equal(rd(g, 0, ID(GICR_CDIA)), 0);
    /* enabled but CR0.EN clear */
    wr(g, 0, ID(ICC_PPI_ENABLER0_EL1), VMDL_BIT(SW));
    wr(g, 0, ID(ICC_CR0_EL1), 0);
    assert_int_equal(vmdl_gicv5_irq_pending(g, 0), -1);
    assert_int_equal(rd(g, 0, ID(GICR_CDIA)), 0);
    assert_int_equal(rd(g, 0, ID(ICC_HPPIR_EL1)), 0);
    wr(g, 0, ID(ICC_CR0_EL1), 1);
    /* already active: not acknowledged again */
    wr(g, 0, ID(ICC_PPI_SACTIVER0_EL1), VMDL_BIT(SW));
    assert_int_equal(rd(g, 0, ID(GICR_CDIA)), 0);
    wr(g, 0, ID(ICC_PPI_CACTIVER0_EL1), VMDL_BIT(SW));
    assert_int_equal(rd(g, 0, ID(GICR_CDIA)) & VMDL_BIT(32), VMDL_BIT(32));
    vmdl_gicv5_destroy(g);
}

static void test_priority_mask(void **state)
{
    (void)state;
    struct vmdl_gicv5 *g = ready(VMDL_GICV5_SPARSE);
    wr(g, 0, ID(ICC_PPI_ENABLER0_EL1), VMDL_BIT(SW));
    assert_int_equal(vmdl_gicv5_irq_line(g, 0, SW, true), VMDL_OK);
    wr(g, 0, ID(ICC_PCR_EL1), 0x0F);              /* 0x10 is below mask */
    assert_int_equal(vmdl_gicv5_irq_pending(g, 0), -1);
    assert_int_equal(rd(g, 0, ID(GICR_CDIA)), 0);
    wr(g, 0, ID(ICC_PCR_EL1), 0x10);              /* equal: sufficient */
    assert_int_equal(vmdl_gicv5_irq_pending(g, 0), (int)INTID(SW));
    set_prio(g, 0, SW, 0);
    wr(g, 0, ID(ICC_PCR_EL1), 0);                 /* PCR 0 lets prio 0 in */
    assert_int_equal(vmdl_gicv5_irq_pending(g, 0), (int)INTID(SW));
    vmdl_gicv5_destroy(g);
}

static void test_priority_order_and_preemption(void **state)
{
    (void)state;
    struct vmdl_gicv5 *g = ready(VMDL_GICV5_SPARSE);
    wr(g, 0, ID(ICC_PCR_EL1), 31);
    wr(g, 0, ID(ICC_PPI_ENABLER0_EL1), VMDL_BIT(SW) | VMDL_BIT(PMU));
    set_prio(g, 0, SW, 20);
    set_prio(g, 0, PMU, 8);
    /* both pending: the higher priority (lower value) wins */
    assert_int_equal(vmdl_gicv5_irq_line(g, 0, SW, true), VMDL_OK);
    assert_int_equal(vmdl_gicv5_device_line(g, 0, PMU, true), VMDL_OK);
    assert_int_equal(rd(g, 0, ID(GICR_CDIA)) & 0xFFFFFF, PMU);
    /* running priority 8: SW (20) cannot preempt */
    assert_int_equal(vmdl_gicv5_irq_pending(g, 0), -1);
    assert_int_equal(vmdl_gicv5_device_line(g, 0, PMU, false), VMDL_OK);
    uint64_t v = INTID(PMU);
    assert_int_equal(acc(g, 0, ID(GIC_CDDI), true, &v), VMDL_FAULT_NONE);
    v = 0;
    assert_int_equal(acc(g, 0, ID(GIC_CDEOI), true, &v), VMDL_FAULT_NONE);
    assert_int_equal(rd(g, 0, ID(GICR_CDIA)) & 0xFFFFFF, SW);
    assert_int_equal(rd(g, 0, ID(ICC_APR_EL1)), VMDL_BIT(20));
    /* now PMU (8) preempts SW (20): nested acknowledge */
    assert_int_equal(vmdl_gicv5_device_line(g, 0, PMU, true), VMDL_OK);
    assert_int_equal(vmdl_gicv5_irq_pending(g, 0), (int)INTID(PMU));
    assert_int_equal(rd(g, 0, ID(GICR_CDIA)) & 0xFFFFFF, PMU);
    assert_int_equal(rd(g, 0, ID(ICC_APR_EL1)), VMDL_BIT(20) | VMDL_BIT(8));
    /* priority drop removes the highest active priority first */
    assert_int_equal(acc(g, 0, ID(GIC_CDEOI), true, &v), VMDL_FAULT_NONE);
    assert_int_equal(rd(g, 0, ID(ICC_APR_EL1)), VMDL_BIT(20));
    assert_int_equal(acc(g, 0, ID(GIC_CDEOI), true, &v), VMDL_FAULT_NONE);
    assert_int_equal(rd(g, 0, ID(ICC_APR_EL1)), 0);
    /* CDEOI with nothing active is harmless */
    assert_int_equal(acc(g, 0, ID(GIC_CDEOI), true, &v), VMDL_FAULT_NONE);
    assert_int_equal(rd(g, 0, ID(ICC_APR_EL1)), 0);
    vmdl_gicv5_destroy(g);
}

static void test_equal_priority_lowest_ppi_wins(void **state)
{
    (void)state;
    struct vmdl_gicv5 *g = ready(VMDL_GICV5_SPARSE);
    wr(g, 0, ID(ICC_PPI_ENABLER0_EL1), VMDL_BIT(SW) | VMDL_BIT(CNTV));
    assert_int_equal(vmdl_gicv5_device_line(g, 0, CNTV, true), VMDL_OK);
    assert_int_equal(vmdl_gicv5_irq_line(g, 0, SW, true), VMDL_OK);
    assert_int_equal(vmdl_gicv5_irq_pending(g, 0), (int)INTID(SW));
    vmdl_gicv5_destroy(g);
}

static void test_cddi_type_and_range(void **state)
{
    (void)state;
    struct vmdl_gicv5 *g = ready(VMDL_GICV5_SPARSE);
    wr(g, 0, ID(ICC_PPI_SACTIVER0_EL1), VMDL_BIT(SW));
    uint64_t v = (2ull << 29) | SW;                 /* an LPI, not a PPI */
    assert_int_equal(acc(g, 0, ID(GIC_CDDI), true, &v), VMDL_FAULT_NONE);
    assert_int_equal(rd(g, 0, ID(ICC_PPI_SACTIVER0_EL1)), VMDL_BIT(SW));
    v = (1ull << 29) | 200;                         /* no such PPI */
    assert_int_equal(acc(g, 0, ID(GIC_CDDI), true, &v), VMDL_FAULT_NONE);
    assert_int_equal(rd(g, 0, ID(ICC_PPI_SACTIVER0_EL1)), VMDL_BIT(SW));
    v = (1ull << 29) | SW | (0xFFull << 40);        /* RES0 bits ignored */
    assert_int_equal(acc(g, 0, ID(GIC_CDDI), true, &v), VMDL_FAULT_NONE);
    assert_int_equal(rd(g, 0, ID(ICC_PPI_SACTIVER0_EL1)), 0);
    vmdl_gicv5_destroy(g);
}

static void test_other_instructions(void **state)
{
    (void)state;
    struct vmdl_gicv5 *g = ready(VMDL_GICV5_SPARSE);
    uint64_t v = 0;
    assert_int_equal(acc(g, 0, ID(GSB_SYS), true, &v), VMDL_FAULT_NONE);
    assert_int_equal(acc(g, 0, ID(GSB_ACK), true, &v), VMDL_FAULT_NONE);
    v = (1ull << 29) | SW;
    assert_int_equal(acc(g, 0, ID(GIC_CDEN), true, &v), VMDL_FAULT_NONE);
    assert_int_equal(rd(g, 0, ID(ICC_PPI_ENABLER0_EL1)), 0);  /* no effect */
    v = (3ull << 29) | 40;
    assert_int_equal(acc(g, 0, ID(GIC_CDRCFG), true, &v), VMDL_FAULT_NONE);
    assert_int_equal(rd(g, 0, ID(ICC_ICSR_EL1)), 1);          /* F: none */
    /* CDNMIA: no NMIs even for a priority-0 interrupt */
    set_prio(g, 0, SW, 0);
    wr(g, 0, ID(ICC_PPI_ENABLER0_EL1), VMDL_BIT(SW));
    assert_int_equal(vmdl_gicv5_irq_line(g, 0, SW, true), VMDL_OK);
    assert_int_equal(rd(g, 0, ID(GICR_CDNMIA)), 0);
    assert_int_equal(rd(g, 0, ID(GICR_CDIA)) & 0xFFFFFF, SW);
    vmdl_gicv5_destroy(g);
}

/* ------------------------------------------------------------------ */
/* load / put / migration                                              */

static void test_migration_keeps_state(void **state)
{
    (void)state;
    struct vmdl_gicv5 *g = ready(VMDL_GICV5_SPARSE);
    wr(g, 0, ID(ICC_PPI_ENABLER0_EL1), VMDL_BIT(SW) | VMDL_BIT(PMU));
    set_prio(g, 0, SW, 9);
    set_prio(g, 0, CNTP, 3);
    wr(g, 0, ID(ICC_PCR_EL1), 0x1E);
    wr(g, 0, ID(ICC_ICSR_EL1), 0x8001);
    assert_int_equal(vmdl_gicv5_device_line(g, 0, PMU, true), VMDL_OK);
    set_prio(g, 0, PMU, 2);
    assert_int_equal(rd(g, 0, ID(GICR_CDIA)) & 0xFFFFFF, PMU);  /* active */
    assert_int_equal(vmdl_gicv5_irq_line(g, 0, SW, true), VMDL_OK);
    uint64_t before[VMDL_GICV5_NR_REGS];
    for (unsigned i = 0; i < VMDL_GICV5_NR_REGS; i++) {
        const struct vmdl_gicv5_reg_desc *d = &vmdl_gicv5_regs[i];
        before[i] = 0;
        if (d->el == 1 && d->kind == VMDL_GICV5_SYSREG)
            before[i] = rd(g, 0, (enum vmdl_gicv5_reg_id)i);
    }
    assert_int_equal(vmdl_gicv5_vcpu_put(g, 0, false), VMDL_OK);
    assert_int_equal(vmdl_gicv5_vcpu_pcpu(g, 0), -1);
    assert_int_equal(vmdl_gicv5_pcpu_vcpu(g, 0), -1);
    /* pCPU 0 keeps nothing of the guest */
    assert_int_equal(ich(g, 0, ID(ICH_PPI_PENDR0_EL2)), 0);
    assert_int_equal(ich(g, 0, ID(ICH_PPI_ENABLER0_EL2)), 0);
    assert_int_equal(ich(g, 0, ID(ICH_APR_EL2)), 0);
    assert_int_equal(ich(g, 0, ID(ICH_VMCR_EL2)), 0);
    assert_int_equal(ich(g, 0, ID(ICH_VCTLR_EL2)), VMDL_GICV5_VCTLR_EN);
    assert_int_equal(vmdl_gicv5_vcpu_load(g, 0, 1), VMDL_OK);
    assert_int_equal(vmdl_gicv5_vcpu_pcpu(g, 0), 1);
    assert_int_equal(vmdl_gicv5_pcpu_vcpu(g, 1), 0);
    for (unsigned i = 0; i < VMDL_GICV5_NR_REGS; i++) {
        const struct vmdl_gicv5_reg_desc *d = &vmdl_gicv5_regs[i];
        if (d->el == 1 && d->kind == VMDL_GICV5_SYSREG)
            assert_int_equal(rd(g, 0, (enum vmdl_gicv5_reg_id)i), before[i]);
    }
    /* the pending SW_PPI is still there and is taken once PMU is done */
    assert_int_equal(vmdl_gicv5_irq_pending(g, 0), -1);   /* PMU active */
    uint64_t v = 0;
    assert_int_equal(acc(g, 0, ID(GIC_CDEOI), true, &v), VMDL_FAULT_NONE);
    assert_int_equal(vmdl_gicv5_irq_pending(g, 0), (int)INTID(SW));
    vmdl_gicv5_destroy(g);
}

static void test_load_put_errors(void **state)
{
    (void)state;
    struct vmdl_gicv5 *g = mk(2, false, VMDL_GICV5_SPARSE, 0);
    assert_int_equal(vmdl_gicv5_vcpu_put(g, 0, false), VMDL_ESTATE);
    assert_int_equal(vmdl_gicv5_vcpu_load(g, 0, 2), VMDL_ERANGE);
    assert_int_equal(vmdl_gicv5_vcpu_load(g, 2, 0), VMDL_ERANGE);
    assert_int_equal(vmdl_gicv5_vcpu_load(NULL, 0, 0), VMDL_EINVAL);
    assert_int_equal(vmdl_gicv5_vcpu_load(g, 0, 0), VMDL_OK);
    assert_int_equal(vmdl_gicv5_vcpu_load(g, 0, 1), VMDL_ESTATE);
    assert_non_null(strstr(vmdl_last_error(), "already loaded"));
    assert_int_equal(vmdl_gicv5_vcpu_load(g, 1, 0), VMDL_ESTATE);
    assert_non_null(strstr(vmdl_last_error(), "busy"));
    assert_int_equal(vmdl_gicv5_vcpu_load(g, 1, 1), VMDL_OK);
    assert_int_equal(vmdl_gicv5_vcpu_pcpu(g, 5), -1);
    assert_int_equal(vmdl_gicv5_pcpu_vcpu(g, 5), -1);
    uint64_t v;
    assert_int_equal(vmdl_gicv5_pcpu_read(g, 2, ID(ICH_APR_EL2), &v),
                     VMDL_ERANGE);
    assert_int_equal(vmdl_gicv5_pcpu_read(g, 0, ID(ICC_PCR_EL1), &v),
                     VMDL_EINVAL);
    assert_int_equal(vmdl_gicv5_pcpu_read(g, 0, ID(ICH_APR_EL2), NULL),
                     VMDL_EINVAL);
    struct vmdl_gicv5_stats s;
    assert_int_equal(vmdl_gicv5_get_stats(g, 0, &s), VMDL_OK);
    assert_int_equal(s.loads, 1);
    assert_int_equal(vmdl_gicv5_get_stats(g, 0, NULL), VMDL_EINVAL);
    vmdl_gicv5_destroy(g);
}

static void test_edge_pending_survives_put(void **state)
{
    (void)state;
    struct vmdl_gicv5 *g = ready(VMDL_GICV5_SPARSE);
    wr(g, 0, ID(ICC_PPI_SPENDR0_EL1), VMDL_BIT(SW));   /* guest sets it */
    assert_int_equal(vmdl_gicv5_vcpu_put(g, 0, false), VMDL_OK);
    struct vmdl_gicv5_ppi_state s;
    assert_int_equal(vmdl_gicv5_get_ppi(g, 0, SW, &s), VMDL_OK);
    assert_true(s.pending_latch);          /* folded back into the shadow */
    assert_int_equal(vmdl_gicv5_vcpu_load(g, 0, 1), VMDL_OK);
    assert_int_equal(rd(g, 0, ID(ICC_PPI_SPENDR0_EL1)), VMDL_BIT(SW));
    /* cleared by the guest: gone after the next exit too */
    wr(g, 0, ID(ICC_PPI_CPENDR0_EL1), VMDL_BIT(SW));
    assert_int_equal(vmdl_gicv5_vcpu_put(g, 0, false), VMDL_OK);
    assert_int_equal(vmdl_gicv5_get_ppi(g, 0, SW, &s), VMDL_OK);
    assert_false(s.pending_latch);
    vmdl_gicv5_destroy(g);
}

static void test_inject_while_put_and_kicks(void **state)
{
    (void)state;
    struct vmdl_gicv5 *g = ready(VMDL_GICV5_SPARSE);
    wr(g, 0, ID(ICC_PPI_ENABLER0_EL1), VMDL_BIT(SW));
    struct vmdl_gicv5_stats s0, s1;
    assert_int_equal(vmdl_gicv5_get_stats(g, 0, &s0), VMDL_OK);
    assert_int_equal(vmdl_gicv5_vcpu_put(g, 0, false), VMDL_OK);
    assert_int_equal(vmdl_gicv5_irq_line(g, 0, SW, true), VMDL_OK);
    assert_int_equal(vmdl_gicv5_get_stats(g, 0, &s1), VMDL_OK);
    assert_int_equal(s1.kicks, s0.kicks);              /* nobody to kick */
    /* not loaded: the IRQ line comes from the shadow state */
    assert_int_equal(vmdl_gicv5_irq_pending(g, 0), (int)INTID(SW));
    assert_int_equal(vmdl_gicv5_vcpu_load(g, 0, 0), VMDL_OK);
    assert_int_equal(rd(g, 0, ID(ICC_PPI_SPENDR0_EL1)), VMDL_BIT(SW));
    assert_int_equal(vmdl_gicv5_device_line(g, 0, CNTV, true), VMDL_OK);
    assert_int_equal(vmdl_gicv5_get_stats(g, 0, &s1), VMDL_OK);
    assert_int_equal(s1.kicks, s0.kicks + 1);
    assert_int_equal(rd(g, 0, ID(ICC_PPI_SPENDR0_EL1)),
                     VMDL_BIT(SW) | VMDL_BIT(CNTV));
    /* unchanged level line: no kick */
    assert_int_equal(vmdl_gicv5_device_line(g, 0, CNTV, true), VMDL_OK);
    assert_int_equal(vmdl_gicv5_get_stats(g, 0, &s1), VMDL_OK);
    assert_int_equal(s1.kicks, s0.kicks + 1);
    vmdl_gicv5_destroy(g);
}

static void test_wfi_priority_sync(void **state)
{
    (void)state;
    struct vmdl_gicv5 *g = ready(VMDL_GICV5_SPARSE);
    wr(g, 0, ID(ICC_PPI_ENABLER0_EL1), VMDL_BIT(SW));
    assert_int_equal(vmdl_gicv5_irq_line(g, 0, SW, true), VMDL_OK);
    /* the guest lowers SW_PPI's priority below its mask (0x10) */
    set_prio(g, 0, SW, 31);
    assert_int_equal(vmdl_gicv5_irq_pending(g, 0), -1);
    /* an ordinary put does not sync priorities: the shadow is stale */
    assert_int_equal(vmdl_gicv5_vcpu_put(g, 0, false), VMDL_OK);
    struct vmdl_gicv5_ppi_state s;
    assert_int_equal(vmdl_gicv5_get_ppi(g, 0, SW, &s), VMDL_OK);
    assert_int_equal(s.priority, 0);
    assert_true(vmdl_gicv5_has_pending_ppi(g, 0));
    assert_int_equal(vmdl_gicv5_vcpu_load(g, 0, 0), VMDL_OK);
    assert_int_equal(vmdl_gicv5_irq_pending(g, 0), -1);
    /* blocking in WFI syncs them */
    assert_int_equal(vmdl_gicv5_vcpu_put(g, 0, true), VMDL_OK);
    assert_int_equal(vmdl_gicv5_get_ppi(g, 0, SW, &s), VMDL_OK);
    assert_int_equal(s.priority, 31);
    assert_false(vmdl_gicv5_has_pending_ppi(g, 0));
    struct vmdl_gicv5_stats st;
    assert_int_equal(vmdl_gicv5_get_stats(g, 0, &st), VMDL_OK);
    assert_int_equal(st.wfi_syncs, 1);
    vmdl_gicv5_destroy(g);
}

static void test_has_pending_ppi_masks(void **state)
{
    (void)state;
    struct vmdl_gicv5 *g = ready(VMDL_GICV5_SPARSE);
    wr(g, 0, ID(ICC_PPI_ENABLER0_EL1), VMDL_BIT(SW) | VMDL_BIT(CNTV));
    assert_int_equal(vmdl_gicv5_vcpu_put(g, 0, true), VMDL_OK);
    assert_false(vmdl_gicv5_has_pending_ppi(g, 0));
    assert_int_equal(vmdl_gicv5_irq_line(g, 0, SW, true), VMDL_OK);
    assert_true(vmdl_gicv5_has_pending_ppi(g, 0));      /* wakes WFI */
    /* CR0.EN clear: nothing can be signalled */
    assert_int_equal(vmdl_gicv5_vcpu_load(g, 0, 0), VMDL_OK);
    wr(g, 0, ID(ICC_CR0_EL1), 0);
    assert_int_equal(vmdl_gicv5_vcpu_put(g, 0, true), VMDL_OK);
    assert_false(vmdl_gicv5_has_pending_ppi(g, 0));
    assert_int_equal(vmdl_gicv5_irq_pending(g, 0), -1);
    /* an active priority at or above the PPI's masks it */
    assert_int_equal(vmdl_gicv5_vcpu_load(g, 0, 0), VMDL_OK);
    wr(g, 0, ID(ICC_CR0_EL1), 1);
    wr(g, 0, ID(ICC_APR_EL1), VMDL_BIT(0x10));
    assert_int_equal(vmdl_gicv5_vcpu_put(g, 0, true), VMDL_OK);
    assert_false(vmdl_gicv5_has_pending_ppi(g, 0));
    assert_false(vmdl_gicv5_has_pending_ppi(g, 9));      /* bad vCPU */
    assert_int_equal(vmdl_gicv5_irq_pending(g, 9), -1);
    vmdl_gicv5_destroy(g);
}

/* ------------------------------------------------------------------ */
/* injection API and DVI                                               */

static void test_irq_line_refusals(void **state)
{
    (void)state;
    struct vmdl_gicv5 *g = mk(1, true, VMDL_GICV5_SPARSE, 0);
    assert_int_equal(vmdl_gicv5_irq_line(g, 0, CNTV, true), VMDL_EINVAL);
    assert_non_null(strstr(vmdl_last_error(), "userspace-driveable"));
    assert_int_equal(vmdl_gicv5_irq_line(g, 0, PMU, true), VMDL_EINVAL);
    assert_int_equal(vmdl_gicv5_irq_line(g, 0, 128, true), VMDL_ERANGE);
    assert_int_equal(vmdl_gicv5_irq_line(g, 1, SW, true), VMDL_ERANGE);
    assert_int_equal(vmdl_gicv5_irq_line(NULL, 0, SW, true), VMDL_EINVAL);
    assert_int_equal(vmdl_gicv5_device_line(g, 0, SW, true), VMDL_EINVAL);
    assert_non_null(strstr(vmdl_last_error(), "owner"));
    assert_int_equal(vmdl_gicv5_device_line(g, 0, 40, true), VMDL_EINVAL);
    assert_int_equal(vmdl_gicv5_device_line(g, 0, 300, true), VMDL_ERANGE);
    assert_int_equal(vmdl_gicv5_device_line(g, 0, PMU, true), VMDL_OK);
    struct vmdl_gicv5_ppi_state s;
    assert_int_equal(vmdl_gicv5_get_ppi(g, 0, CNTV, &s), VMDL_OK);
    assert_false(s.line_level);                 /* refused: nothing moved */
    assert_int_equal(vmdl_gicv5_get_ppi(g, 0, PMU, &s), VMDL_OK);
    assert_true(s.line_level && s.level_sensitive && s.exposed);
    assert_int_equal(vmdl_gicv5_get_ppi(g, 0, 40, &s), VMDL_OK);
    assert_false(s.exposed);
    assert_int_equal(vmdl_gicv5_get_ppi(g, 0, 128, &s), VMDL_ERANGE);
    assert_int_equal(vmdl_gicv5_get_ppi(g, 0, 3, NULL), VMDL_EINVAL);
    vmdl_gicv5_destroy(g);
}

static void test_dvi_direct_injection(void **state)
{
    (void)state;
    struct vmdl_gicv5 *g = ready(VMDL_GICV5_SPARSE);
    wr(g, 0, ID(ICC_PPI_ENABLER0_EL1), VMDL_BIT(CNTV) | VMDL_BIT(CNTP));
    assert_int_equal(vmdl_gicv5_set_dvi(g, 0, CNTV, true), VMDL_OK);
    assert_int_equal(ich(g, 0, ID(ICH_PPI_DVIR0_EL2)), VMDL_BIT(CNTV));
    struct vmdl_gicv5_stats s0, s1;
    assert_int_equal(vmdl_gicv5_get_stats(g, 0, &s0), VMDL_OK);
    assert_int_equal(vmdl_gicv5_device_line(g, 0, CNTV, true), VMDL_OK);
    assert_int_equal(vmdl_gicv5_get_stats(g, 0, &s1), VMDL_OK);
    assert_int_equal(s1.kicks, s0.kicks);                  /* no exit */
    assert_int_equal(s1.direct_injections, s0.direct_injections + 1);
    assert_int_equal(vmdl_gicv5_irq_pending(g, 0), (int)INTID(CNTV));
    /* the non-DVI timer needs the hypervisor */
    assert_int_equal(vmdl_gicv5_device_line(g, 0, CNTP, true), VMDL_OK);
    assert_int_equal(vmdl_gicv5_get_stats(g, 0, &s1), VMDL_OK);
    assert_int_equal(s1.kicks, s0.kicks + 1);
    /* exit turns DVI off in hardware; entry on another CPU turns it on and
     * takes the pending state from the line */
    assert_int_equal(vmdl_gicv5_vcpu_put(g, 0, false), VMDL_OK);
    assert_int_equal(ich(g, 0, ID(ICH_PPI_DVIR0_EL2)), 0);
    assert_int_equal(vmdl_gicv5_vcpu_load(g, 0, 1), VMDL_OK);
    assert_int_equal(ich(g, 1, ID(ICH_PPI_DVIR0_EL2)), VMDL_BIT(CNTV));
    assert_true(ich(g, 1, ID(ICH_PPI_PENDR0_EL2)) & VMDL_BIT(CNTV));
    assert_int_equal(vmdl_gicv5_device_line(g, 0, CNTV, false), VMDL_OK);
    assert_false(ich(g, 1, ID(ICH_PPI_PENDR0_EL2)) & VMDL_BIT(CNTV));
    struct vmdl_gicv5_ppi_state ps;
    assert_int_equal(vmdl_gicv5_get_ppi(g, 0, CNTV, &ps), VMDL_OK);
    assert_true(ps.dvi);
    assert_int_equal(vmdl_gicv5_set_dvi(g, 0, CNTV, false), VMDL_OK);
    assert_int_equal(ich(g, 1, ID(ICH_PPI_DVIR0_EL2)), 0);
    /* only level-sensitive device PPIs */
    assert_int_equal(vmdl_gicv5_set_dvi(g, 0, SW, true), VMDL_EINVAL);
    assert_int_equal(vmdl_gicv5_set_dvi(g, 0, 50, true), VMDL_EINVAL);
    assert_int_equal(vmdl_gicv5_set_dvi(g, 0, 128, true), VMDL_ERANGE);
    vmdl_gicv5_destroy(g);
}

static void test_vcpus_are_independent(void **state)
{
    (void)state;
    struct vmdl_gicv5 *g = mk(2, false, VMDL_GICV5_SPARSE, 0);
    assert_int_equal(vmdl_gicv5_vcpu_load(g, 0, 0), VMDL_OK);
    assert_int_equal(vmdl_gicv5_vcpu_load(g, 1, 1), VMDL_OK);
    guest_enable(g, 0);
    guest_enable(g, 1);
    wr(g, 0, ID(ICC_PPI_ENABLER0_EL1), VMDL_BIT(SW));
    wr(g, 1, ID(ICC_PPI_ENABLER0_EL1), VMDL_BIT(SW));
    assert_int_equal(vmdl_gicv5_irq_line(g, 1, SW, true), VMDL_OK);
    assert_int_equal(vmdl_gicv5_irq_pending(g, 0), -1);
    assert_int_equal(vmdl_gicv5_irq_pending(g, 1), (int)INTID(SW));
    assert_int_equal(rd(g, 0, ID(ICC_IAFFIDR_EL1)), 0);
    assert_int_equal(rd(g, 1, ID(ICC_IAFFIDR_EL1)), 1);
    vmdl_gicv5_destroy(g);
}

/* ------------------------------------------------------------------ */
/* storage modes                                                       */

/* A fixed script on one VM; returns its exported state. */
static uint8_t *script(struct vmdl_gicv5 *g, size_t *len)
{
    assert_int_equal(vmdl_gicv5_vcpu_load(g, 0, 0), VMDL_OK);
    guest_enable(g, 0);
    wr(g, 0, ID(ICC_PPI_ENABLER0_EL1), ~0ull);
    wr(g, 0, ID(ICC_PPI_ENABLER1_EL1), ~0ull);
    set_prio(g, 0, 70, 4);
    assert_int_equal(vmdl_gicv5_device_line(g, 0, 70, true), VMDL_OK);
    assert_int_equal(vmdl_gicv5_irq_line(g, 0, SW, true), VMDL_OK);
    assert_int_equal(rd(g, 0, ID(GICR_CDIA)) & 0xFFFFFF, 70);
    assert_int_equal(vmdl_gicv5_vcpu_put(g, 0, true), VMDL_OK);
    assert_int_equal(vmdl_gicv5_vcpu_load(g, 0, 1), VMDL_OK);
    assert_int_equal(rd(g, 0, ID(ICC_PPI_ENABLER1_EL1)), VMDL_BIT(6));
    assert_int_equal(vmdl_gicv5_vcpu_put(g, 0, false), VMDL_OK);
    uint8_t *b = NULL;
    assert_int_equal(vmdl_gicv5_export(g, &b, len), VMDL_OK);
    return b;
}

static struct vmdl_gicv5 *mk_extra(enum vmdl_gicv5_storage st)
{
    struct vmdl_gicv5_config c = {
        .nr_vcpus = 1, .storage = st, .pmu = true, .nr_ppis = 128,
        .extra_ppis = { 0, VMDL_BIT(6) }, .extra_level = { 0, VMDL_BIT(6) },
    };
    struct vmdl_gicv5 *g = NULL;
    assert_int_equal(vmdl_gicv5_create(&c, &g), VMDL_OK);
    return g;
}

static void test_sparse_and_dense_agree(void **state)
{
    (void)state;
    struct vmdl_gicv5 *s = mk_extra(VMDL_GICV5_SPARSE);
    struct vmdl_gicv5 *d = mk_extra(VMDL_GICV5_DENSE);
    size_t ls, ld;
    uint8_t *bs = script(s, &ls), *bd = script(d, &ld);
    assert_int_equal(ls, ld);
    assert_memory_equal(bs, bd, ls);
    /* five exposed PPIs: SW, PMU, CNTV, CNTP, 70 */
    assert_true(vmdl_gicv5_vcpu_bytes(s) < vmdl_gicv5_vcpu_bytes(d));
    size_t per_ppi = (vmdl_gicv5_vcpu_bytes(d) - vmdl_gicv5_vcpu_bytes(s)) /
                     (128 - 5);
    assert_true(per_ppi > 0);
    assert_int_equal(vmdl_gicv5_vcpu_bytes(d) - vmdl_gicv5_vcpu_bytes(s),
                     per_ppi * 123);
    assert_true(vmdl_gicv5_vm_bytes(s) > 0);
    free(bs);
    free(bd);
    vmdl_gicv5_destroy(s);
    vmdl_gicv5_destroy(d);
}

/* ------------------------------------------------------------------ */
/* state blobs                                                         */

static void test_export_import_roundtrip(void **state)
{
    (void)state;
    struct vmdl_gicv5 *a = mk_extra(VMDL_GICV5_SPARSE);
    size_t len;
    uint8_t *blob = script(a, &len);
    /* into a dense VM of the same shape */
    struct vmdl_gicv5 *b = mk_extra(VMDL_GICV5_DENSE);
    assert_int_equal(vmdl_gicv5_import(b, blob, len), VMDL_OK);
    struct vmdl_gicv5_ppi_state pa, pb;
    for (unsigned ppi = 0; ppi < 128; ppi++) {
        assert_int_equal(vmdl_gicv5_get_ppi(a, 0, ppi, &pa), VMDL_OK);
        assert_int_equal(vmdl_gicv5_get_ppi(b, 0, ppi, &pb), VMDL_OK);
        assert_memory_equal(&pa, &pb, sizeof(pa));
    }
    assert_int_equal(vmdl_gicv5_vcpu_load(a, 0, 0), VMDL_OK);
    assert_int_equal(vmdl_gicv5_vcpu_load(b, 0, 1), VMDL_OK);
    for (unsigned i = 0; i < VMDL_GICV5_NR_REGS; i++) {
        const struct vmdl_gicv5_reg_desc *d = &vmdl_gicv5_regs[i];
        if (d->el == 1 && d->kind == VMDL_GICV5_SYSREG)
            assert_int_equal(rd(a, 0, (enum vmdl_gicv5_reg_id)i),
                             rd(b, 0, (enum vmdl_gicv5_reg_id)i));
    }
    /* both continue the same way: 70 active at prio 4, SW pending */
    assert_int_equal(rd(b, 0, ID(ICC_APR_EL1)), VMDL_BIT(4));
    assert_int_equal(vmdl_gicv5_irq_pending(b, 0), -1);
    free(blob);
    vmdl_gicv5_destroy(a);
    vmdl_gicv5_destroy(b);
}

static void patch_crc(uint8_t *b, size_t len)
{
    uint32_t crc = vmdl_crc32(0, b + VMDL_BLOB_HEADER_SIZE,
                              len - VMDL_BLOB_HEADER_SIZE);
    memcpy(b + 12, &crc, 4);
}

static void test_import_refuses_bad_blobs(void **state)
{
    (void)state;
    struct vmdl_gicv5 *a = mk_extra(VMDL_GICV5_SPARSE);
    size_t len;
    uint8_t *blob = script(a, &len);
    struct vmdl_gicv5 *b = mk_extra(VMDL_GICV5_SPARSE);
    uint8_t *ref;
    size_t reflen;
    assert_int_equal(vmdl_gicv5_export(b, &ref, &reflen), VMDL_OK);
    uint8_t *bad = malloc(len);

    /* truncated */
    assert_int_equal(vmdl_gicv5_import(b, blob, len - 1), VMDL_EBADBLOB);
    assert_int_equal(vmdl_gicv5_import(b, blob, 10), VMDL_EBADBLOB);
    /* corrupted byte */
    memcpy(bad, blob, len);
    bad[len - 3] ^= 0x40;
    assert_int_equal(vmdl_gicv5_import(b, bad, len), VMDL_EBADBLOB);
    /* other version */
    memcpy(bad, blob, len);
    bad[4] = 2;
    assert_int_equal(vmdl_gicv5_import(b, bad, len), VMDL_EVERSION);
    /* valid CRC, bad content: a priority of 40 in the last PPI record */
    memcpy(bad, blob, len);
    bad[len - 3] = 40;
    patch_crc(bad, len);
    assert_int_equal(vmdl_gicv5_import(b, bad, len), VMDL_EBADBLOB);
    assert_non_null(strstr(vmdl_last_error(), "priority"));
    /* valid CRC, unknown flag bits */
    memcpy(bad, blob, len);
    bad[len - 1] |= 0x80;
    patch_crc(bad, len);
    assert_int_equal(vmdl_gicv5_import(b, bad, len), VMDL_EBADBLOB);
    /* valid CRC, vmcr RES0 bit (first u64 after the 4+48 byte header) */
    memcpy(bad, blob, len);
    bad[VMDL_BLOB_HEADER_SIZE + 4 + 48 + 1] |= 0x01;
    patch_crc(bad, len);
    assert_int_equal(vmdl_gicv5_import(b, bad, len), VMDL_EBADBLOB);
    /* a VM with different masks */
    struct vmdl_gicv5 *c = mk(1, true, VMDL_GICV5_SPARSE, 0);
    assert_int_equal(vmdl_gicv5_import(c, blob, len), VMDL_EBADBLOB);
    assert_non_null(strstr(vmdl_last_error(), "masks"));
    struct vmdl_gicv5 *two = mk(2, true, VMDL_GICV5_SPARSE, 0);
    assert_int_equal(vmdl_gicv5_import(two, blob, len), VMDL_EBADBLOB);
    /* nothing changed in b */
    uint8_t *now;
    size_t nowlen;
    assert_int_equal(vmdl_gicv5_export(b, &now, &nowlen), VMDL_OK);
    assert_int_equal(nowlen, reflen);
    assert_memory_equal(now, ref, reflen);
    /* and the good one still imports */
    assert_int_equal(vmdl_gicv5_import(b, blob, len), VMDL_OK);
    /* loaded vCPU: refused */
    assert_int_equal(vmdl_gicv5_vcpu_load(b, 0, 0), VMDL_OK);
    assert_int_equal(vmdl_gicv5_import(b, blob, len), VMDL_ESTATE);
    uint8_t *x;
    size_t xl;
    assert_int_equal(vmdl_gicv5_export(b, &x, &xl), VMDL_ESTATE);
    assert_int_equal(vmdl_gicv5_export(b, NULL, &xl), VMDL_EINVAL);
    assert_int_equal(vmdl_gicv5_import(b, NULL, 3), VMDL_EINVAL);
    free(now);
    free(ref);
    free(bad);
    free(blob);
    vmdl_gicv5_destroy(a);
    vmdl_gicv5_destroy(b);
    vmdl_gicv5_destroy(c);
    vmdl_gicv5_destroy(two);
}

static void test_vm_reset(void **state)
{
    (void)state;
    struct vmdl_gicv5 *g = ready(VMDL_GICV5_SPARSE);
    wr(g, 0, ID(ICC_PPI_ENABLER0_EL1), VMDL_BIT(SW));
    assert_int_equal(vmdl_gicv5_irq_line(g, 0, SW, true), VMDL_OK);
    (void)rd(g, 0, ID(GICR_CDIA));
    assert_int_equal(vmdl_gicv5_reset(g), VMDL_OK);
    assert_int_equal(vmdl_gicv5_vcpu_pcpu(g, 0), -1);
    struct vmdl_gicv5_ppi_state s;
    assert_int_equal(vmdl_gicv5_get_ppi(g, 0, SW, &s), VMDL_OK);
    assert_false(s.enabled || s.active || s.pending_latch);
    assert_int_equal(ich(g, 0, ID(ICH_VCTLR_EL2)), VMDL_GICV5_VCTLR_EN);
    assert_int_equal(vmdl_gicv5_vcpu_load(g, 0, 0), VMDL_OK);
    assert_int_equal(rd(g, 0, ID(ICC_CR0_EL1)), 0);
    assert_int_equal(rd(g, 0, ID(ICC_APR_EL1)), 0);
    assert_int_equal(rd(g, 0, ID(ICC_PCR_EL1)), 0);
    assert_int_equal(vmdl_gicv5_reset(NULL), VMDL_EINVAL);
    vmdl_gicv5_destroy(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_sorted_and_lookup),
        cmocka_unit_test(test_table_encodings),
        cmocka_unit_test(test_table_fgt_bits_defined),
        cmocka_unit_test(test_default_masks),
        cmocka_unit_test(test_create_errors),
        cmocka_unit_test(test_kvm_limits_64_ppis_512_vcpus),
        cmocka_unit_test(test_reset_values),
        cmocka_unit_test(test_fgt_values_kvm_v3),
        cmocka_unit_test(test_fgt_values_kvm_v1),
        cmocka_unit_test(test_trap_counts_v3),
        cmocka_unit_test(test_trap_policy_v1),
        cmocka_unit_test(test_enabler_trap_masks_to_exposed),
        cmocka_unit_test(test_unexposed_raz_wi),
        cmocka_unit_test(test_res0_bits_masked),
        cmocka_unit_test(test_undef_and_unclaimed),
        cmocka_unit_test(test_hmr_reports_level_ppis),
        cmocka_unit_test(test_edge_sw_ppi_flow),
        cmocka_unit_test(test_level_ppi_follows_line),
        cmocka_unit_test(test_edge_guest_set_clear_pending),
        cmocka_unit_test(test_cdia_none_cases),
        cmocka_unit_test(test_priority_mask),
        cmocka_unit_test(test_priority_order_and_preemption),
        cmocka_unit_test(test_equal_priority_lowest_ppi_wins),
        cmocka_unit_test(test_cddi_type_and_range),
        cmocka_unit_test(test_other_instructions),
        cmocka_unit_test(test_migration_keeps_state),
        cmocka_unit_test(test_load_put_errors),
        cmocka_unit_test(test_edge_pending_survives_put),
        cmocka_unit_test(test_inject_while_put_and_kicks),
        cmocka_unit_test(test_wfi_priority_sync),
        cmocka_unit_test(test_has_pending_ppi_masks),
        cmocka_unit_test(test_irq_line_refusals),
        cmocka_unit_test(test_dvi_direct_injection),
        cmocka_unit_test(test_vcpus_are_independent),
        cmocka_unit_test(test_sparse_and_dense_agree),
        cmocka_unit_test(test_export_import_roundtrip),
        cmocka_unit_test(test_import_refuses_bad_blobs),
        cmocka_unit_test(test_vm_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
