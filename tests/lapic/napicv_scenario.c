/* SPDX-License-Identifier: MIT */
/*
 * The steps of KVM's selftest x86/vmx_apicv_updates_test on one APIC with
 * APICv, under a nested-APICv behaviour, recorded for test_nested_apicv
 * (napicv_scenario.h).  Only the library's API is used, plus two internal
 * APIC helpers of src/lapic/lapic_priv.h.
 */
#include <stdio.h>
#include <string.h>

#include "lapic/lapic_priv.h"
#include "napicv_scenario.h"
#include "virtmodel/error.h"
#include "virtmodel/lapic_apicv.h"

/* ------------------------------------------------------------------ */
/* The selftest's steps                                                */

#define XAPIC_REG(off) ((uint64_t)(off))
#define X2APIC_MSR(off) (VMDL_MSR_X2APIC_FIRST + ((off) >> 4))
#define ISR_OF(vec) (VMDL_LAPIC_ISR + ((vec) / 32) * 0x10)
#define ISR_BIT(vec) (1u << ((vec) % 32))

struct scen {
    struct vmdl_lapic *apic;
    struct vmdl_napicv *n;
    struct napicv_scenario *out;
    unsigned good, bad;
};

/* vmcs01's APICv fields as they are now. */
static struct vmdl_vmcs_apicv vmcs01(struct scen *s)
{
    struct vmdl_vmcs_apicv v;
    vmdl_napicv_get_vmcs(s->n, 1, &v);
    return v;
}

static void fail_once(struct scen *s, const char *what)
{
    if (s->out->passed) {
        s->out->passed = false;
        snprintf(s->out->first_failure, sizeof(s->out->first_failure), "%s", what);
    }
}

/* STI + NOP: take whatever the APIC delivers; the handlers count. */
static void sti_nop(struct scen *s)
{
    for (;;) {
        int v = vmdl_lapic_pending(s->apic);
        if (v < 0)
            return;
        v = vmdl_lapic_ack(s->apic);
        if (v == NAPICV_GOOD_VECTOR)
            s->good++;
        else if (v == NAPICV_BAD_VECTOR) {
            s->bad++;
            /* the bad handler fails the test; end that interrupt */
            vmdl_lapic_mmio_write(s->apic, VMDL_LAPIC_EOI, 4, 0);
        }
    }
}

/* L1 writes an xAPIC register through its linear mapping of 0xFEE00000:
 * with "virtualize APIC accesses" on in vmcs01 the write lands in the
 * APIC-access page (APIC-register virtualization: trap-like APIC-write
 * exit that KVM handles whatever the APIC mode); otherwise it is a plain
 * MMIO access. */
static void l1_xapic_write(struct scen *s, unsigned off, uint32_t val)
{
    uint32_t proc2 = vmcs01(s).proc2_controls;
    if (proc2 & VMDL_PROC2_VIRT_APIC_ACCESSES && proc2 & VMDL_PROC2_APIC_REG_VIRT) {
        vmdl_lapic_write_nodecode(s->apic, off, val);
        return;
    }
    vmdl_lapic_mmio_write(s->apic, off, 4, val);
}

static uint32_t l1_xapic_read(struct scen *s, unsigned off)
{
    uint64_t v = 0;
    vmdl_lapic_mmio_read(s->apic, off, 4, &v);
    return (uint32_t)v;
}

/* L1's x2APIC EOI: virtualized (virtual EOI on vmcs01's SVI) when vmcs01
 * has virtual-interrupt delivery and x2APIC virtualization, else a WRMSR
 * that KVM emulates. */
static void l1_x2apic_eoi(struct scen *s)
{
    struct vmdl_vmcs_apicv v = vmcs01(s);
    if ((v.proc2_controls & VMDL_PROC2_VIRT_INTR_DELIVERY) &&
        (v.proc2_controls & VMDL_PROC2_VIRT_X2APIC_MODE)) {
        bool ex = false;
        int vec = vmdl_apicv_virtual_eoi(s->apic, vmdl_napicv_vmcs01_gis(s->n),
                                         v.eoi_exit_bitmap, &ex);
        if (ex && vec >= 0)
            vmdl_lapic_eoi_side_effects(s->apic, vec);
        s->out->eoi_virtualized = true;
        return;
    }
    vmdl_lapic_msr_write(s->apic, X2APIC_MSR(VMDL_LAPIC_EOI), 0);
}

int napicv_run_selftest_scenario(enum vmdl_napicv_behaviour b,
                                 struct napicv_scenario *out)
{
    if (!out)
        return vmdl_fail(VMDL_EINVAL, "napicv_run_selftest_scenario: NULL out");
    memset(out, 0, sizeof(*out));
    out->behaviour = b;
    out->passed = true;
    struct vmdl_lapic_bus_config cfg = {
        .nr_apics = 1, .x2apic = true, .tsc_deadline = true, .apicv = true,
    };
    struct vmdl_lapic_bus *bus;
    int err = vmdl_lapic_bus_create(&cfg, &bus);
    if (err)
        return err;
    struct scen s = {.apic = vmdl_lapic_bus_get(bus, 0), .out = out};
    err = vmdl_napicv_create(b, &s.n);
    if (err) {
        vmdl_lapic_bus_destroy(bus);
        return err;
    }
    /* vmcs01 as KVM sets it up for an APICv-enabled L1 in xAPIC mode. */
    struct vmdl_vmcs_apicv v01 = {
        .pin_controls = VMDL_PIN_POSTED_INTR,
        .proc_controls = VMDL_PROC_TPR_SHADOW,
        .proc2_controls = VMDL_PROC2_VIRT_APIC_ACCESSES | VMDL_PROC2_APIC_REG_VIRT |
                          VMDL_PROC2_VIRT_INTR_DELIVERY,
        .apic_access_addr = VMDL_LAPIC_DEFAULT_BASE,
        .virtual_apic_addr = 0x1000,
        .posted_intr_nv = VMDL_POSTED_INTR_VECTOR,
    };
    vmdl_napicv_set_vmcs01(s.n, &v01);
    vmdl_napicv_attach_lapic(s.n, s.apic);
    /* L1 prepares vmcs12 for L2 with MSR bitmaps and no APIC virtualization:
     * L2's APIC_BASE and x2APIC accesses reach L0, i.e. L1's own APIC. */
    struct vmdl_vmcs_apicv v02 = {.proc_controls = 0};

    /* L1: xapic_enable() (software-enable through SPIV), then modify the
     * APIC ID to make KVM inhibit APICv. */
    l1_xapic_write(&s, VMDL_LAPIC_SVR,
                   l1_xapic_read(&s, VMDL_LAPIC_SVR) | VMDL_LAPIC_SVR_ENABLE);
    l1_xapic_write(&s, VMDL_LAPIC_ID, 1u << 24);
    out->inhibited_in_l1 = !vmdl_lapic_apicv_active(s.apic);
    /* Self-IPI, taken without EOI: in vISR but not in SVI. */
    l1_xapic_write(&s, VMDL_LAPIC_ICR,
                   (VMDL_LAPIC_SH_SELF << VMDL_LAPIC_SH_SHIFT) | NAPICV_GOOD_VECTOR);
    if (l1_xapic_read(&s, VMDL_LAPIC_ID) != 1u << 24)
        fail_once(&s, "APIC_ID reads back 1 << 24");
    sti_nop(&s);
    out->good_ipis_1 = s.good;
    if (s.good != 1)
        fail_once(&s, "good_ipis_received == 1");
    out->svi_at_launch = *vmdl_napicv_vmcs01_gis(s.n) >> 8;

    /* VMLAUNCH; L2: x2apic_enable(), VMCALL. */
    vmdl_napicv_enter_l2(s.n, &v02);
    vmdl_lapic_msr_write(s.apic, VMDL_MSR_IA32_APIC_BASE,
                         vmdl_lapic_get_base(s.apic) | VMDL_APIC_BASE_EXTD);
    uint64_t spiv = 0;
    vmdl_lapic_msr_read(s.apic, X2APIC_MSR(VMDL_LAPIC_SVR), &spiv);
    vmdl_lapic_msr_write(s.apic, X2APIC_MSR(VMDL_LAPIC_SVR), spiv | VMDL_LAPIC_SVR_ENABLE);
    vmdl_napicv_get_vmcs(s.n, 1, &out->vmcs01_while_l2);
    out->pending_while_l2 = vmdl_napicv_pending(s.n);
    vmdl_napicv_exit_l2(s.n);
    uint64_t base = 0;
    vmdl_lapic_msr_read(s.apic, VMDL_MSR_IA32_APIC_BASE, &base);
    out->x2apic_after_exit1 = (base & VMDL_APIC_BASE_EXTD) != 0;
    if (!out->x2apic_after_exit1)
        fail_once(&s, "APIC_BASE.EXTD after the first L2 exit");
    vmdl_napicv_get_vmcs(s.n, 1, &out->vmcs01_after_exit1);

    /* Scribble the APIC-access page: must not send the bad IPI. */
    l1_xapic_write(&s, VMDL_LAPIC_ICR2, 0xdeadbeefu);
    l1_xapic_write(&s, VMDL_LAPIC_ICR,
                   (VMDL_LAPIC_SH_SELF << VMDL_LAPIC_SH_SHIFT) | NAPICV_BAD_VECTOR);
    sti_nop(&s);
    out->bad_ipis = s.bad;
    if (s.bad)
        fail_once(&s, "ICR write through the APIC-access page was ignored");

    /* The IRQ is still in service; L1's EOI must end it. */
    uint64_t isr = 0;
    vmdl_lapic_msr_read(s.apic, X2APIC_MSR(ISR_OF(NAPICV_GOOD_VECTOR)), &isr);
    out->isr_before_eoi = (isr & ISR_BIT(NAPICV_GOOD_VECTOR)) != 0;
    if (!out->isr_before_eoi)
        fail_once(&s, "vector 0xE0 in ISR before L1's EOI");
    l1_x2apic_eoi(&s);
    vmdl_lapic_msr_read(s.apic, X2APIC_MSR(ISR_OF(NAPICV_GOOD_VECTOR)), &isr);
    out->isr_after_eoi = (isr & ISR_BIT(NAPICV_GOOD_VECTOR)) != 0;
    if (out->isr_after_eoi)
        fail_once(&s, "ISR clear after L1's EOI (SVI must track vISR)");

    /* VMRESUME; L2: xapic_enable() through disabled, APIC_ID write, VMCALL. */
    vmdl_napicv_enter_l2(s.n, &v02);
    base = vmdl_lapic_get_base(s.apic);
    vmdl_lapic_msr_write(s.apic, VMDL_MSR_IA32_APIC_BASE,
                         base & ~(VMDL_APIC_BASE_EXTD | VMDL_APIC_BASE_EN));
    vmdl_lapic_msr_write(s.apic, VMDL_MSR_IA32_APIC_BASE,
                         (base & ~VMDL_APIC_BASE_EXTD) | VMDL_APIC_BASE_EN);
    uint64_t svr = 0;
    vmdl_lapic_mmio_read(s.apic, VMDL_LAPIC_SVR, 4, &svr);
    vmdl_lapic_mmio_write(s.apic, VMDL_LAPIC_SVR, 4, svr | VMDL_LAPIC_SVR_ENABLE);
    vmdl_lapic_mmio_write(s.apic, VMDL_LAPIC_ID, 4, 1u << 24);
    vmdl_napicv_exit_l2(s.n);
    vmdl_lapic_msr_read(s.apic, VMDL_MSR_IA32_APIC_BASE, &base);
    out->x2apic_after_exit2 = (base & VMDL_APIC_BASE_EXTD) != 0;
    if (out->x2apic_after_exit2)
        fail_once(&s, "APIC_BASE.EXTD clear after the second L2 exit");

    l1_xapic_write(&s, VMDL_LAPIC_ICR,
                   (VMDL_LAPIC_SH_SELF << VMDL_LAPIC_SH_SHIFT) | NAPICV_GOOD_VECTOR);
    sti_nop(&s);
    out->good_ipis_2 = s.good;
    if (s.good != 2)
        fail_once(&s, "good_ipis_received == 2");
    uint32_t r = l1_xapic_read(&s, ISR_OF(NAPICV_GOOD_VECTOR));
    out->isr_final_before_eoi = (r & ISR_BIT(NAPICV_GOOD_VECTOR)) != 0;
    if (!out->isr_final_before_eoi)
        fail_once(&s, "vector 0xE0 in ISR before the final EOI");
    l1_xapic_write(&s, VMDL_LAPIC_EOI, 0);
    r = l1_xapic_read(&s, ISR_OF(NAPICV_GOOD_VECTOR));
    out->isr_final_after_eoi = (r & ISR_BIT(NAPICV_GOOD_VECTOR)) != 0;
    if (out->isr_final_after_eoi)
        fail_once(&s, "ISR clear after the final EOI");

    vmdl_napicv_get_stats(s.n, &out->stats);
    vmdl_napicv_destroy(s.n);
    vmdl_lapic_bus_destroy(bus);
    return 0;
}
