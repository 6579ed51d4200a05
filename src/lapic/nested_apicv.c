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
