/* SPDX-License-Identifier: MIT */
/*
 * vmcs01/vmcs02 APICv fields and the two ways an L1-concerning update
 * reaches vmcs01 while L2 is active: on demand (switch to vmcs01, write,
 * switch back: today's KVM) or deferred to the next nested VM-exit (the
 * quirk: KVM before "VMX: Rip out deferred nested VM-Exit updates").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "virtmodel/error.h"
#include "virtmodel/lapic_apicv.h"
#include "virtmodel/lapic_nested.h"
#include "lapic_priv.h"

struct vmdl_napicv {
    enum vmdl_napicv_behaviour b;
    struct vmdl_vmcs_apicv vmcs01, vmcs02;
    struct vmdl_vmcs_apicv *loaded;
    bool l2_active;
    /* deferred updates (quirk) and the values they carry */
    unsigned pend;
    uint32_t d_tpr_threshold;
    enum vmdl_lapic_mode d_mode;
    bool d_pml;
    uint64_t d_apic_access;
    bool d_apicv_active;
    int d_max_isr;
    struct vmdl_napicv_stats st;
};

int vmdl_napicv_create(enum vmdl_napicv_behaviour b, struct vmdl_napicv **out)
{
    if (!out)
        return vmdl_fail(VMDL_EINVAL, "vmdl_napicv_create: NULL out");
    *out = NULL;
    if (b != VMDL_NAPICV_IMMEDIATE && b != VMDL_NAPICV_DEFERRED_QUIRK)
        return vmdl_fail(VMDL_EINVAL, "vmdl_napicv_create: behaviour %d unknown",
                         (int)b);
    struct vmdl_napicv *n = calloc(1, sizeof(*n));
    if (!n)
        return vmdl_fail(VMDL_ENOMEM, "vmdl_napicv_create: out of memory");
    n->b = b;
    n->loaded = &n->vmcs01;
    *out = n;
    return 0;
}

void vmdl_napicv_destroy(struct vmdl_napicv *n)
{
    free(n);
}

enum vmdl_napicv_behaviour vmdl_napicv_behaviour(const struct vmdl_napicv *n)
{
    return n ? n->b : VMDL_NAPICV_IMMEDIATE;
}

#define CHECK(n, fn)                                                        \
    do {                                                                    \
        if (!(n))                                                           \
            return vmdl_fail(VMDL_EINVAL, fn ": NULL napicv");              \
    } while (0)

int vmdl_napicv_set_vmcs01(struct vmdl_napicv *n, const struct vmdl_vmcs_apicv *v)
{
    CHECK(n, "vmdl_napicv_set_vmcs01");
    if (!v)
        return vmdl_fail(VMDL_EINVAL, "vmdl_napicv_set_vmcs01: NULL vmcs");
    if (n->l2_active)
        return vmdl_fail(VMDL_ESTATE, "vmdl_napicv_set_vmcs01: L2 is active");
    n->vmcs01 = *v;
    return 0;
}

int vmdl_napicv_enter_l2(struct vmdl_napicv *n, const struct vmdl_vmcs_apicv *v)
{
    CHECK(n, "vmdl_napicv_enter_l2");
    if (!v)
        return vmdl_fail(VMDL_EINVAL, "vmdl_napicv_enter_l2: NULL vmcs02");
    if (n->l2_active)
        return vmdl_fail(VMDL_ESTATE, "vmdl_napicv_enter_l2: L2 already active");
    n->vmcs02 = *v;
    n->loaded = &n->vmcs02;
    n->l2_active = true;
    n->st.vmcs_loads++;
    return 0;
}

/* ---- the field writers, each applied to vmcs01 ---- */

static void w_tpr_threshold(struct vmdl_vmcs_apicv *v, uint32_t thr)
{
    v->tpr_threshold = thr;
}

static void w_svi(struct vmdl_vmcs_apicv *v, int max_isr)
{
    uint8_t svi = max_isr < 0 ? 0 : (uint8_t)max_isr;
    v->guest_intr_status = (uint16_t)((svi << 8) | (v->guest_intr_status & 0xFF));
}

static void w_mode(struct vmdl_vmcs_apicv *v, enum vmdl_lapic_mode m)
{
    /* KVM's vmx_set_virtual_apic_mode. */
    v->proc2_controls &= ~(VMDL_PROC2_VIRT_APIC_ACCESSES | VMDL_PROC2_VIRT_X2APIC_MODE);
    if (m == VMDL_LAPIC_MODE_XAPIC)
        v->proc2_controls |= VMDL_PROC2_VIRT_APIC_ACCESSES;
    else if (m == VMDL_LAPIC_MODE_X2APIC)
        v->proc2_controls |= VMDL_PROC2_VIRT_X2APIC_MODE;
}

static void w_pml(struct vmdl_vmcs_apicv *v, bool on)
{
    if (on)
        v->proc2_controls |= VMDL_PROC2_ENABLE_PML;
    else
        v->proc2_controls &= ~VMDL_PROC2_ENABLE_PML;
}

static void w_apicv(struct vmdl_vmcs_apicv *v, bool on)
{
    /* KVM's vmx_refresh_apicv_exec_ctrl. */
    const uint32_t p2 = VMDL_PROC2_APIC_REG_VIRT | VMDL_PROC2_VIRT_INTR_DELIVERY;
    if (on) {
        v->pin_controls |= VMDL_PIN_POSTED_INTR;
        v->proc2_controls |= p2;
    } else {
        v->pin_controls &= ~VMDL_PIN_POSTED_INTR;
        v->proc2_controls &= ~p2;
    }
}

/* Immediate path: write vmcs01 now, switching to it if L2 runs. */
static struct vmdl_vmcs_apicv *load01(struct vmdl_napicv *n)
{
    if (n->l2_active) {
        n->loaded = &n->vmcs01;
        n->st.vmcs_loads++;
        n->st.on_demand++;
    }
    return &n->vmcs01;
}

static void put01(struct vmdl_napicv *n)
{
    if (n->l2_active) {
        n->loaded = &n->vmcs02;
        n->st.vmcs_loads++;
    }
}

static bool defer(struct vmdl_napicv *n, unsigned flag)
{
    if (!n->l2_active || n->b != VMDL_NAPICV_DEFERRED_QUIRK)
        return false;
    n->pend |= flag;
    n->st.deferred++;
    return true;
}

int vmdl_napicv_set_tpr_threshold(struct vmdl_napicv *n, uint32_t thr)
{
    CHECK(n, "vmdl_napicv_set_tpr_threshold");
    if (thr > 0xF)
        return vmdl_fail(VMDL_ERANGE,
                         "vmdl_napicv_set_tpr_threshold: 0x%x above bits 3:0", thr);
    if (defer(n, VMDL_NAPICV_PEND_TPR_THRESHOLD)) {
        n->d_tpr_threshold = thr;
        return 0;
    }
    w_tpr_threshold(load01(n), thr);
    put01(n);
    return 0;
}

int vmdl_napicv_set_virtual_apic_mode(struct vmdl_napicv *n, enum vmdl_lapic_mode m)
{
    CHECK(n, "vmdl_napicv_set_virtual_apic_mode");
    if (m > VMDL_LAPIC_MODE_X2APIC)
        return vmdl_fail(VMDL_EINVAL, "vmdl_napicv_set_virtual_apic_mode: mode %d",
                         (int)m);
    if (defer(n, VMDL_NAPICV_PEND_VIRTUAL_APIC_MODE)) {
        n->d_mode = m;
        return 0;
    }
    w_mode(load01(n), m);
    put01(n);
    return 0;
}

int vmdl_napicv_set_pml(struct vmdl_napicv *n, bool on)
{
    CHECK(n, "vmdl_napicv_set_pml");
    if (defer(n, VMDL_NAPICV_PEND_PML)) {
        n->d_pml = on;
        return 0;
    }
    w_pml(load01(n), on);
    put01(n);
    return 0;
}

int vmdl_napicv_set_apic_access_page(struct vmdl_napicv *n, uint64_t gpa)
{
    CHECK(n, "vmdl_napicv_set_apic_access_page");
    if (gpa & 0xFFF)
        return vmdl_fail(VMDL_EINVAL,
                         "vmdl_napicv_set_apic_access_page: 0x%llx not page aligned",
                         (unsigned long long)gpa);
    if (defer(n, VMDL_NAPICV_PEND_APIC_ACCESS_PAGE)) {
        n->d_apic_access = gpa;
        return 0;
    }
    load01(n)->apic_access_addr = gpa;
    put01(n);
    return 0;
}

int vmdl_napicv_refresh_apicv(struct vmdl_napicv *n, bool active, int max_isr)
{
    CHECK(n, "vmdl_napicv_refresh_apicv");
    if (defer(n, VMDL_NAPICV_PEND_APICV_STATUS)) {
        /* The old path carried no SVI with the APICv update. */
        n->d_apicv_active = active;
        return 0;
    }
    struct vmdl_vmcs_apicv *v = load01(n);
    w_apicv(v, active);
    if (active)
        w_svi(v, max_isr); /* SVI refreshed as part of the APICv update */
    put01(n);
    return 0;
}

int vmdl_napicv_hwapic_isr_update(struct vmdl_napicv *n, int max_isr)
{
    CHECK(n, "vmdl_napicv_hwapic_isr_update");
    if (defer(n, VMDL_NAPICV_PEND_HWAPIC_ISR)) {
        n->d_max_isr = max_isr;
        return 0;
    }
    w_svi(load01(n), max_isr);
    put01(n);
    return 0;
}

int vmdl_napicv_exit_l2(struct vmdl_napicv *n)
{
    CHECK(n, "vmdl_napicv_exit_l2");
    if (!n->l2_active)
        return vmdl_fail(VMDL_ESTATE, "vmdl_napicv_exit_l2: L2 is not active");
    n->l2_active = false;
    n->loaded = &n->vmcs01;
    n->st.vmcs_loads++;
    /* KVM's __nested_vmx_vmexit order. */
    struct vmdl_vmcs_apicv *v = &n->vmcs01;
    static const unsigned order[] = {
        VMDL_NAPICV_PEND_TPR_THRESHOLD, VMDL_NAPICV_PEND_VIRTUAL_APIC_MODE,
        VMDL_NAPICV_PEND_PML,           VMDL_NAPICV_PEND_APIC_ACCESS_PAGE,
        VMDL_NAPICV_PEND_APICV_STATUS,  VMDL_NAPICV_PEND_HWAPIC_ISR,
    };
    for (size_t i = 0; i < VMDL_ARRAY_SIZE(order); i++) {
        if (!(n->pend & order[i]))
            continue;
        n->st.deferred_applied++;
        switch (order[i]) {
        case VMDL_NAPICV_PEND_TPR_THRESHOLD: w_tpr_threshold(v, n->d_tpr_threshold); break;
        case VMDL_NAPICV_PEND_VIRTUAL_APIC_MODE: w_mode(v, n->d_mode); break;
        case VMDL_NAPICV_PEND_PML: w_pml(v, n->d_pml); break;
        case VMDL_NAPICV_PEND_APIC_ACCESS_PAGE: v->apic_access_addr = n->d_apic_access; break;
        case VMDL_NAPICV_PEND_APICV_STATUS: w_apicv(v, n->d_apicv_active); break;
        case VMDL_NAPICV_PEND_HWAPIC_ISR: w_svi(v, n->d_max_isr); break;
        }
    }
    n->pend = 0;
    return 0;
}

bool vmdl_napicv_l2_active(const struct vmdl_napicv *n)
{
    return n && n->l2_active;
}

int vmdl_napicv_get_vmcs(const struct vmdl_napicv *n, unsigned which,
                         struct vmdl_vmcs_apicv *out)
{
    CHECK(n, "vmdl_napicv_get_vmcs");
    if (!out || (which != 1 && which != 2))
        return vmdl_fail(VMDL_EINVAL, "vmdl_napicv_get_vmcs: which %u (1 or 2)", which);
    *out = which == 1 ? n->vmcs01 : n->vmcs02;
    return 0;
}

uint16_t *vmdl_napicv_vmcs01_gis(struct vmdl_napicv *n)
{
    return n ? &n->vmcs01.guest_intr_status : NULL;
}

unsigned vmdl_napicv_pending(const struct vmdl_napicv *n)
{
    return n ? n->pend : 0;
}

int vmdl_napicv_get_stats(const struct vmdl_napicv *n, struct vmdl_napicv_stats *st)
{
    CHECK(n, "vmdl_napicv_get_stats");
    if (!st)
        return vmdl_fail(VMDL_EINVAL, "vmdl_napicv_get_stats: NULL stats");
    *st = n->st;
    return 0;
}

static void hook_apicv(void *o, struct vmdl_lapic *a, bool on, int max_isr)
{
    (void)a;
    vmdl_napicv_refresh_apicv(o, on, max_isr);
}

static void hook_isr(void *o, struct vmdl_lapic *a, int max_isr)
{
    (void)a;
    vmdl_napicv_hwapic_isr_update(o, max_isr);
}

static void hook_mode(void *o, struct vmdl_lapic *a, enum vmdl_lapic_mode m)
{
    (void)a;
    vmdl_napicv_set_virtual_apic_mode(o, m);
}

int vmdl_napicv_attach_lapic(struct vmdl_napicv *n, struct vmdl_lapic *apic)
{
    CHECK(n, "vmdl_napicv_attach_lapic");
    if (!apic)
        return vmdl_fail(VMDL_EINVAL, "vmdl_napicv_attach_lapic: NULL apic");
    struct vmdl_lapic_hooks h = {hook_apicv, hook_isr, hook_mode, n};
    vmdl_lapic_set_hooks(apic, &h);
    return 0;
}

/* ------------------------------------------------------------------ */
/* The selftest's steps                                                */

#define XAPIC_REG(off) ((uint64_t)(off))
#define X2APIC_MSR(off) (VMDL_MSR_X2APIC_FIRST + ((off) >> 4))
#define ISR_OF(vec) (VMDL_LAPIC_ISR + ((vec) / 32) * 0x10)
#define ISR_BIT(vec) (1u << ((vec) % 32))

struct scen {
    struct vmdl_lapic *apic;
    struct vmdl_napicv *n;
    struct vmdl_napicv_scenario *out;
    unsigned good, bad;
};

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
        if (v == VMDL_NAPICV_GOOD_VECTOR)
            s->good++;
        else if (v == VMDL_NAPICV_BAD_VECTOR) {
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
    if (s->n->vmcs01.proc2_controls & VMDL_PROC2_VIRT_APIC_ACCESSES &&
        s->n->vmcs01.proc2_controls & VMDL_PROC2_APIC_REG_VIRT) {
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
    struct vmdl_vmcs_apicv *v = &s->n->vmcs01;
    if ((v->proc2_controls & VMDL_PROC2_VIRT_INTR_DELIVERY) &&
        (v->proc2_controls & VMDL_PROC2_VIRT_X2APIC_MODE)) {
        bool ex = false;
        int vec = vmdl_apicv_virtual_eoi(s->apic, &v->guest_intr_status,
                                         v->eoi_exit_bitmap, &ex);
        if (ex && vec >= 0)
            vmdl_lapic_eoi_side_effects(s->apic, vec);
        s->out->eoi_virtualized = true;
        return;
    }
    vmdl_lapic_msr_write(s->apic, X2APIC_MSR(VMDL_LAPIC_EOI), 0);
}

int vmdl_napicv_run_selftest_scenario(enum vmdl_napicv_behaviour b,
                                      struct vmdl_napicv_scenario *out)
{
    if (!out)
        return vmdl_fail(VMDL_EINVAL, "vmdl_napicv_run_selftest_scenario: NULL out");
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
                   (VMDL_LAPIC_SH_SELF << VMDL_LAPIC_SH_SHIFT) | VMDL_NAPICV_GOOD_VECTOR);
    if (l1_xapic_read(&s, VMDL_LAPIC_ID) != 1u << 24)
        fail_once(&s, "APIC_ID reads back 1 << 24");
    sti_nop(&s);
    out->good_ipis_1 = s.good;
    if (s.good != 1)
        fail_once(&s, "good_ipis_received == 1");
    out->svi_at_launch = s.n->vmcs01.guest_intr_status >> 8;

    /* VMLAUNCH; L2: x2apic_enable(), VMCALL. */
    vmdl_napicv_enter_l2(s.n, &v02);
    vmdl_lapic_msr_write(s.apic, VMDL_MSR_IA32_APIC_BASE,
                         vmdl_lapic_get_base(s.apic) | VMDL_APIC_BASE_EXTD);
    uint64_t spiv = 0;
    vmdl_lapic_msr_read(s.apic, X2APIC_MSR(VMDL_LAPIC_SVR), &spiv);
    vmdl_lapic_msr_write(s.apic, X2APIC_MSR(VMDL_LAPIC_SVR), spiv | VMDL_LAPIC_SVR_ENABLE);
    out->vmcs01_while_l2 = s.n->vmcs01;
    out->pending_while_l2 = s.n->pend;
    vmdl_napicv_exit_l2(s.n);
    uint64_t base = 0;
    vmdl_lapic_msr_read(s.apic, VMDL_MSR_IA32_APIC_BASE, &base);
    out->x2apic_after_exit1 = (base & VMDL_APIC_BASE_EXTD) != 0;
    if (!out->x2apic_after_exit1)
        fail_once(&s, "APIC_BASE.EXTD after the first L2 exit");
    out->vmcs01_after_exit1 = s.n->vmcs01;

    /* Scribble the APIC-access page: must not send the bad IPI. */
    l1_xapic_write(&s, VMDL_LAPIC_ICR2, 0xdeadbeefu);
    l1_xapic_write(&s, VMDL_LAPIC_ICR,
                   (VMDL_LAPIC_SH_SELF << VMDL_LAPIC_SH_SHIFT) | VMDL_NAPICV_BAD_VECTOR);
    sti_nop(&s);
    out->bad_ipis = s.bad;
    if (s.bad)
        fail_once(&s, "ICR write through the APIC-access page was ignored");

    /* The IRQ is still in service; L1's EOI must end it. */
    uint64_t isr = 0;
    vmdl_lapic_msr_read(s.apic, X2APIC_MSR(ISR_OF(VMDL_NAPICV_GOOD_VECTOR)), &isr);
    out->isr_before_eoi = (isr & ISR_BIT(VMDL_NAPICV_GOOD_VECTOR)) != 0;
    if (!out->isr_before_eoi)
        fail_once(&s, "vector 0xE0 in ISR before L1's EOI");
    l1_x2apic_eoi(&s);
    vmdl_lapic_msr_read(s.apic, X2APIC_MSR(ISR_OF(VMDL_NAPICV_GOOD_VECTOR)), &isr);
    out->isr_after_eoi = (isr & ISR_BIT(VMDL_NAPICV_GOOD_VECTOR)) != 0;
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
                   (VMDL_LAPIC_SH_SELF << VMDL_LAPIC_SH_SHIFT) | VMDL_NAPICV_GOOD_VECTOR);
    sti_nop(&s);
    out->good_ipis_2 = s.good;
    if (s.good != 2)
        fail_once(&s, "good_ipis_received == 2");
    uint32_t r = l1_xapic_read(&s, ISR_OF(VMDL_NAPICV_GOOD_VECTOR));
    out->isr_final_before_eoi = (r & ISR_BIT(VMDL_NAPICV_GOOD_VECTOR)) != 0;
    if (!out->isr_final_before_eoi)
        fail_once(&s, "vector 0xE0 in ISR before the final EOI");
    l1_xapic_write(&s, VMDL_LAPIC_EOI, 0);
    r = l1_xapic_read(&s, ISR_OF(VMDL_NAPICV_GOOD_VECTOR));
    out->isr_final_after_eoi = (r & ISR_BIT(VMDL_NAPICV_GOOD_VECTOR)) != 0;
    if (out->isr_final_after_eoi)
        fail_once(&s, "ISR clear after the final EOI");

    out->stats = s.n->st;
    vmdl_napicv_destroy(s.n);
    vmdl_lapic_bus_destroy(bus);
    return 0;
}
