/* SPDX-License-Identifier: MIT */
/*
 * Machine glue for the local APIC model (include/virtmodel/attach_lapic.h).
 * Only the public machine API is used.
 */
#include <stdlib.h>

#include "virtmodel/attach_lapic.h"
#include "virtmodel/error.h"
#include "virtmodel/lapic_apicv.h"
#include "virtmodel/model.h"
#include "virtmodel/models.h"
#include "glue_state.h"

struct lapic_glue {
    struct vmdl_vm *vm;
    struct vmdl_lapic_bus *bus;
    bool counting[VMDL_MAX_VCPUS]; /* holds vmdl_vcpu_need_insn_count */
    struct vmdl_lapic_eoi_sink sink; /* an I/O APIC's side of level EOIs */
    struct vmdl_lapic_init_sink init_sink; /* VMX: INIT/SIPI held */
};

/* An APIC's ID, logical ID or mode changed: an I/O APIC recomputes which
 * EOIs it wants (KVM rescans when it recalculates its APIC map). */
static void apic_map_changed(struct lapic_glue *g)
{
    if (g->sink.apic_map_changed)
        g->sink.apic_map_changed(g->sink.opaque);
}

static struct vmdl_lapic *apic_of(struct lapic_glue *g, struct vmdl_vcpu *vcpu)
{
    return vmdl_lapic_bus_get(g->bus, vmdl_vcpu_index(vcpu));
}

/* An armed timer needs exact virtual time on its vCPU (a: its APIC). */
static void update_counting_of(struct lapic_glue *g, struct vmdl_vcpu *vcpu,
                               struct vmdl_lapic *a)
{
    unsigned i = vmdl_vcpu_index(vcpu);
    bool armed = vmdl_lapic_next_event(a) != UINT64_MAX;
    if (armed != g->counting[i]) {
        g->counting[i] = armed;
        vmdl_vcpu_need_insn_count(vcpu, armed);
    }
}

static void update_counting(struct lapic_glue *g, struct vmdl_vcpu *vcpu)
{
    update_counting_of(g, vcpu, apic_of(g, vcpu));
}

static struct vmdl_lapic *sync(struct lapic_glue *g, struct vmdl_vcpu *vcpu)
{
    struct vmdl_lapic *a = apic_of(g, vcpu);
    vmdl_lapic_advance(a, vmdl_vcpu_vtime(vcpu));
    return a;
}

/* ---- MMIO ---- */

static uint64_t mmio_read(void *opaque, struct vmdl_vcpu *vcpu, uint64_t off,
                          unsigned size)
{
    struct lapic_glue *g = opaque;
    uint64_t v = 0;
    if (vmdl_lapic_mmio_read(sync(g, vcpu), off, size, &v) != VMDL_FAULT_NONE)
        v = ~0ull; /* nothing claims it: open bus */
    return v;
}

static void mmio_write(void *opaque, struct vmdl_vcpu *vcpu, uint64_t off,
                       unsigned size, uint64_t value)
{
    struct lapic_glue *g = opaque;
    vmdl_lapic_mmio_write(sync(g, vcpu), off, size, value);
    update_counting(g, vcpu);
    if (off == VMDL_LAPIC_ID || off == VMDL_LAPIC_LDR || off == VMDL_LAPIC_DFR)
        apic_map_changed(g);
}

static const struct vmdl_mmio_ops mmio_ops = {mmio_read, mmio_write};

/* KVM decodes each APIC's MMIO page at its own vCPU's IA32_APIC_BASE
 * (apic_mmio_in_range): the window follows a relocation.  Where it cannot
 * go (RAM or another device there) it stays, and the guest reads what is
 * at the new address. */
static void follow_base(struct lapic_glue *g, struct vmdl_vcpu *vcpu)
{
    uint64_t base = vmdl_lapic_get_base(apic_of(g, vcpu)) & ~0xFFFull;
    vmdl_vcpu_move_mmio(vcpu, VMDL_LAPIC_DEFAULT_BASE, base);
}

/* ---- MSRs ---- */

static vmdl_fault msr_read(void *opaque, struct vmdl_vcpu *vcpu, uint32_t idx,
                           uint64_t *value)
{
    struct lapic_glue *g = opaque;
    vmdl_fault f = vmdl_lapic_msr_read(sync(g, vcpu), idx, value);
    return f == VMDL_FAULT_UNCLAIMED ? VMDL_FAULT_GP : f;
}

static vmdl_fault msr_write(void *opaque, struct vmdl_vcpu *vcpu, uint32_t idx,
                            uint64_t value)
{
    struct lapic_glue *g = opaque;
    struct vmdl_lapic *a = sync(g, vcpu);
    uint64_t base = vmdl_lapic_get_base(a);
    vmdl_fault f = vmdl_lapic_msr_write(a, idx, value);
    update_counting_of(g, vcpu, a);
    /* Only a change of IA32_APIC_BASE (enable, x2APIC mode, relocation)
     * can move the APIC's IDs or its window: a write of the value it has
     * (a common guest idiom) does not rescan the I/O APIC's routes (KVM
     * marks its APIC map dirty only when the value changes). */
    if (idx == VMDL_MSR_IA32_APIC_BASE && vmdl_lapic_get_base(a) != base) {
        apic_map_changed(g);
        follow_base(g, vcpu);
    }
    return f == VMDL_FAULT_UNCLAIMED ? VMDL_FAULT_GP : f;
}

static const struct vmdl_msr_ops msr_ops = {msr_read, msr_write};

/* ---- irqchip ---- */

/* An ExtINT from the 8259 comes before the APIC's own interrupts and
 * ignores its priorities (KVM's kvm_cpu_get_interrupt). */
static int chip_pending(void *opaque, struct vmdl_vcpu *vcpu)
{
    struct lapic_glue *g = opaque;
    struct vmdl_lapic *a = apic_of(g, vcpu);
    int ext = vmdl_lapic_accepts_extint(a) ? vmdl_vm_x86_pic_intr(g->vm) : -1;
    return ext >= 0 ? ext : vmdl_lapic_pending(a);
}

static void chip_ack(void *opaque, struct vmdl_vcpu *vcpu, int vector)
{
    (void)vector; /* the APIC acknowledges its own highest deliverable one */
    struct lapic_glue *g = opaque;
    struct vmdl_lapic *a = apic_of(g, vcpu);
    if (vmdl_lapic_accepts_extint(a) && vmdl_vm_x86_pic_intr(g->vm) >= 0)
        vmdl_vm_x86_pic_inta(g->vm);
    else
        vmdl_lapic_ack(a);
    vmdl_lapic_vcpu_entry(a); /* the guest runs next: PV EOI may be offered */
}

static bool chip_take_nmi(void *opaque, struct vmdl_vcpu *vcpu)
{
    return vmdl_lapic_take_nmi(apic_of(opaque, vcpu));
}

/* Called after every exit and before every entry: the APIC's exit and
 * entry work (PV EOI, posted-interrupt SN) happens here. */
static void chip_advance(void *opaque, struct vmdl_vcpu *vcpu, uint64_t now)
{
    struct lapic_glue *g = opaque;
    struct vmdl_lapic *a = apic_of(g, vcpu);
    vmdl_lapic_advance(a, now);
    vmdl_lapic_vcpu_entry(a);
    update_counting_of(g, vcpu, a);
}

static bool chip_exit_quiet(void *opaque, struct vmdl_vcpu *vcpu)
{
    return vmdl_lapic_exit_quiet(apic_of(opaque, vcpu));
}

static uint64_t chip_next_event(void *opaque, struct vmdl_vcpu *vcpu)
{
    return vmdl_lapic_next_event(apic_of(opaque, vcpu));
}

static bool chip_runnable(void *opaque, struct vmdl_vcpu *vcpu)
{
    return vmdl_lapic_mp_state(apic_of(opaque, vcpu)) == VMDL_LAPIC_MP_RUNNABLE;
}

static uint64_t chip_get_cr8(void *opaque, struct vmdl_vcpu *vcpu)
{
    return vmdl_lapic_get_cr8(apic_of(opaque, vcpu));
}

static void chip_set_cr8(void *opaque, struct vmdl_vcpu *vcpu, uint64_t cr8)
{
    vmdl_lapic_set_cr8(apic_of(opaque, vcpu), cr8);
}

/* The PMU's PMI goes through LVT PERF, with KVM's masking rule. */
static void chip_pmi(void *opaque, struct vmdl_vcpu *vcpu)
{
    struct vmdl_pmi_sink sink;
    vmdl_lapic_pmi_sink(apic_of(opaque, vcpu), &sink);
    sink.raise_pmi(sink.opaque);
}

static int64_t chip_pv_send_ipi(void *opaque, struct vmdl_vcpu *vcpu,
                                const uint64_t a[4], bool op_64_bit)
{
    struct lapic_glue *g = opaque;
    sync(g, vcpu);
    return vmdl_lapic_bus_pv_send_ipi(g->bus, a[0], a[1], (uint32_t)a[2], a[3],
                                      op_64_bit);
}

static const struct vmdl_irqchip_ops chip_ops = {
    .pending = chip_pending,
    .ack = chip_ack,
    .take_nmi = chip_take_nmi,
    .advance = chip_advance,
    .next_event = chip_next_event,
    .halt = NULL,
    .runnable = chip_runnable,
    .get_cr8 = chip_get_cr8,
    .set_cr8 = chip_set_cr8,
    .pmi = chip_pmi,
    .pv_send_ipi = chip_pv_send_ipi,
    .exit_quiet = chip_exit_quiet,
};

/* ---- bus events ---- */

static void on_init_sipi(void *opaque, unsigned index, bool is_sipi,
                         uint8_t vector)
{
    struct lapic_glue *g = opaque;
    struct vmdl_vcpu *vcpu = vmdl_vm_vcpu(g->vm, index);
    if (!vcpu)
        return;
    if (is_sipi) {
        vmdl_lapic_take_sipi(vmdl_lapic_bus_get(g->bus, index));
        vmdl_vcpu_x86_sipi(vcpu, vector);
    } else {
        vmdl_vcpu_x86_init(vcpu);
    }
}

static void on_eoi(void *opaque, unsigned index, uint8_t vector)
{
    struct lapic_glue *g = opaque;
    if (g->sink.eoi)
        g->sink.eoi(g->sink.opaque, index, vector);
}

static bool on_hold_init_sipi(void *opaque, unsigned index)
{
    struct lapic_glue *g = opaque;
    return g->init_sink.hold && g->init_sink.hold(g->init_sink.opaque, index);
}

static bool on_eoi_wanted(void *opaque, unsigned index, uint8_t vector)
{
    struct lapic_glue *g = opaque;
    return !g->sink.wanted || g->sink.wanted(g->sink.opaque, index, vector);
}

extern const struct vmdl_model_desc vmdl_lapic_model;

struct vmdl_lapic_bus *vmdl_vm_lapic_bus(struct vmdl_vm *vm)
{
    struct lapic_glue *g = vmdl_vm_find_model(vm, &vmdl_lapic_model);
    return g ? g->bus : NULL;
}

int vmdl_lapic_set_eoi_sink(struct vmdl_vm *vm, const struct vmdl_lapic_eoi_sink *sink)
{
    struct lapic_glue *g = vmdl_vm_find_model(vm, &vmdl_lapic_model);
    if (!g)
        return vmdl_fail(VMDL_ENOENT, "vmdl_lapic_set_eoi_sink: no local APIC attached");
    if (!sink)
        return vmdl_fail(VMDL_EINVAL, "vmdl_lapic_set_eoi_sink: NULL sink");
    g->sink = *sink;
    return VMDL_OK;
}

int vmdl_lapic_set_init_sink(struct vmdl_vm *vm, const struct vmdl_lapic_init_sink *sink)
{
    struct lapic_glue *g = vmdl_vm_find_model(vm, &vmdl_lapic_model);
    if (!g)
        return vmdl_fail(VMDL_ENOENT, "vmdl_lapic_set_init_sink: no local APIC attached");
    if (!sink)
        return vmdl_fail(VMDL_EINVAL, "vmdl_lapic_set_init_sink: NULL sink");
    g->init_sink = *sink;
    return VMDL_OK;
}

static void lapic_reset(void *opaque, struct vmdl_vm *vm)
{
    struct lapic_glue *g = opaque;
    for (unsigned i = 0; i < vmdl_lapic_bus_count(g->bus); i++) {
        vmdl_lapic_reset(vmdl_lapic_bus_get(g->bus, i), false);
        struct vmdl_vcpu *vcpu = vmdl_vm_vcpu(vm, i);
        if (vcpu) {
            update_counting(g, vcpu);
            follow_base(g, vcpu);
        }
    }
}

/* ---- checkpoints ---- */

#define LAPIC_GLUE_MAGIC VMDL_BLOB_MAGIC('G', 'L', 'A', 'P')

static int lapic_save_one(void *ctx, unsigned i, uint8_t **b, size_t *n,
                          uint64_t extra[4])
{
    struct lapic_glue *g = ctx;
    (void)extra;
    return vmdl_lapic_export(vmdl_lapic_bus_get(g->bus, i), b, n);
}

static int lapic_state_save(void *opaque, uint8_t **blob, size_t *len)
{
    struct lapic_glue *g = opaque;
    return glue_save_items(LAPIC_GLUE_MAGIC, vmdl_lapic_bus_count(g->bus),
                           lapic_save_one, g, blob, len);
}

static int lapic_state_load(void *opaque, const uint8_t *blob, size_t len)
{
    struct lapic_glue *g = opaque;
    unsigned n = vmdl_lapic_bus_count(g->bus);
    struct glue_item items[VMDL_MAX_VCPUS];
    int err = glue_parse_items(LAPIC_GLUE_MAGIC, blob, len, n, items, "lapic state");
    for (unsigned i = 0; !err && i < n; i++)
        err = vmdl_lapic_import(vmdl_lapic_bus_get(g->bus, i), items[i].blob, items[i].len);
    /* The machine forgot who counts: take the APIC's permanent hold again
     * and re-derive the timer's. */
    for (unsigned i = 0; !err && i < n; i++) {
        struct vmdl_vcpu *vcpu = vmdl_vm_vcpu(g->vm, i);
        g->counting[i] = false;
        if (vcpu) {
            vmdl_vcpu_need_insn_count(vcpu, true);
            update_counting(g, vcpu);
            follow_base(g, vcpu);
        }
    }
    return err;
}

static void lapic_free(void *opaque)
{
    struct lapic_glue *g = opaque;
    vmdl_lapic_bus_destroy(g->bus);
    free(g);
}

static int set_cpuid_bits(struct vmdl_vm *vm, const struct vmdl_lapic_options *o)
{
    struct vmdl_cpuid_entry e;
    if (vmdl_vm_get_cpuid(vm, 1, 0, &e)) {
        e = (struct vmdl_cpuid_entry){0};
        e.leaf = 1;
    }
    e.edx |= 1u << 9;
    if (!o->no_x2apic)
        e.ecx |= 1u << 21;
    else
        e.ecx &= ~(1u << 21);
    if (!o->no_tsc_deadline)
        e.ecx |= 1u << 24;
    else
        e.ecx &= ~(1u << 24);
    int err = vmdl_vm_set_cpuid(vm, &e);
    if (err || o->no_pv_eoi)
        return err;
    /* KVM's paravirtual leaves: the signature, and KVM_FEATURE_PV_EOI. */
    if (vmdl_vm_get_cpuid(vm, VMDL_KVM_CPUID_SIGNATURE, 0, &e)) {
        e = (struct vmdl_cpuid_entry){.leaf = VMDL_KVM_CPUID_SIGNATURE,
                                      .ebx = 0x4B4D564Bu,  /* "KVMK" */
                                      .ecx = 0x564B4D56u,  /* "VMKV" */
                                      .edx = 0x0000004Du}; /* "M\0\0\0" */
    }
    if (e.eax < VMDL_KVM_CPUID_FEATURES)
        e.eax = VMDL_KVM_CPUID_FEATURES;
    if ((err = vmdl_vm_set_cpuid(vm, &e)))
        return err;
    if (vmdl_vm_get_cpuid(vm, VMDL_KVM_CPUID_FEATURES, 0, &e))
        e = (struct vmdl_cpuid_entry){.leaf = VMDL_KVM_CPUID_FEATURES};
    e.eax |= 1u << VMDL_KVM_FEATURE_PV_EOI;
    return vmdl_vm_set_cpuid(vm, &e);
}

int vmdl_attach_lapic_ex(struct vmdl_vm *vm, const struct vmdl_lapic_options *opts,
                         struct vmdl_lapic_bus **busp)
{
    static const struct vmdl_lapic_options defaults = {0};
    if (!vm)
        return vmdl_fail(VMDL_EINVAL, "vmdl_attach_lapic: NULL vm");
    if (vmdl_vm_arch(vm) != VMDL_ARCH_X86_64)
        return vmdl_fail(VMDL_EINVAL, "vmdl_attach_lapic: the local APIC needs an x86 VM");
    if (!opts)
        opts = &defaults;
    struct lapic_glue *g = calloc(1, sizeof(*g));
    if (!g)
        return vmdl_fail(VMDL_ENOMEM, "vmdl_attach_lapic: out of memory");
    g->vm = vm;
    struct vmdl_lapic_bus_config cfg = {
        .nr_apics = vmdl_vm_nr_vcpus(vm),
        .x2apic = !opts->no_x2apic,
        .tsc_deadline = !opts->no_tsc_deadline,
        .apicv = opts->apicv,
        .flags = opts->flags,
        .min_timer_period_us = opts->min_timer_period_us,
        .no_pv_eoi = opts->no_pv_eoi,
        .ops = {.init_sipi = on_init_sipi, .eoi_broadcast = on_eoi,
                .eoi_wanted = on_eoi_wanted, .opaque = g,
                .hold_init_sipi = on_hold_init_sipi},
    };
    struct vmdl_cpuid_entry v0;
    if (!vmdl_vm_get_cpuid(vm, 0, 0, &v0) && v0.ebx == 0x68747541u) /* "Auth" */
        cfg.amd = true;
    int err = vmdl_lapic_bus_create(&cfg, &g->bus);
    if (err) {
        free(g);
        return err;
    }
    vmdl_lapic_bus_set_guest_mem(g->bus, vmdl_vm_guest_mem(vm));
    if (opts->apicv)
        for (unsigned i = 0; i < cfg.nr_apics; i++)
            vmdl_apicv_set_pi_desc(vmdl_lapic_bus_get(g->bus, i), NULL, 0,
                                   VMDL_POSTED_INTR_VECTOR);
    /* From here on g is freed with the VM. */
    err = vmdl_vm_add_model(vm, &vmdl_lapic_model, g);
    if (!err)
        err = set_cpuid_bits(vm, opts);
    /*
     * Virtual time drives the APIC timer and the TSC-deadline clock: with an
     * APIC it counts from the start, so that it means the same whether or
     * not something else (a checkpoint, a budget) also needs it.
     */
    for (unsigned i = 0; !err && i < vmdl_vm_nr_vcpus(vm); i++)
        vmdl_vcpu_need_insn_count(vmdl_vm_vcpu(vm, i), true);
    if (err)
        return err;
    if (busp)
        *busp = g->bus;
    return VMDL_OK;
}

int vmdl_attach_lapic(struct vmdl_vm *vm, const struct vmdl_lapic_options *opts)
{
    return vmdl_attach_lapic_ex(vm, opts, NULL);
}

static int attach_from_options(struct vmdl_vm *vm, const struct vmdl_model_options *opts)
{
    struct vmdl_lapic_options o = {0};
    o.apicv = vmdl_model_option(opts, "apicv") != NULL;
    o.apicv_nested_quirk = vmdl_model_option(opts, "apicv-deferred-nested-updates") != NULL;
    o.no_x2apic = vmdl_model_option(opts, "no-x2apic") != NULL;
    return vmdl_attach_lapic(vm, &o);
}

static const struct vmdl_msr_range lapic_msrs[] = {
    {VMDL_MSR_IA32_APIC_BASE, VMDL_MSR_IA32_APIC_BASE},
    {VMDL_MSR_IA32_TSC_DEADLINE, VMDL_MSR_IA32_TSC_DEADLINE},
    {VMDL_MSR_X2APIC_FIRST, VMDL_MSR_X2APIC_LAST},
    {VMDL_MSR_KVM_PV_EOI_EN, VMDL_MSR_KVM_PV_EOI_EN},
};

static const struct vmdl_mmio_window lapic_mmio[] = {
    {VMDL_LAPIC_DEFAULT_BASE, 0x1000},
};

static const struct vmdl_model_option lapic_options[] = {
    {"apicv", NULL, "use the APICv backend of the local APIC model"},
    {"apicv-deferred-nested-updates", NULL, "old KVM behaviour (quirk)"},
    {"no-x2apic", NULL, "hide x2APIC (CPUID.1:ECX[21] clear, EXTD reserved), "
     "as QEMU's -cpu ...,-x2apic"},
    {NULL, NULL, NULL},
};

const struct vmdl_model_desc vmdl_lapic_model = {
    .name = "lapic",
    .arch = VMDL_ARCH_X86_64,
    .vendor = -1,
    .summary = "local APIC: xAPIC/x2APIC, timer, IPIs, APICv (--apicv), nested "
               "APICv updates",
    .options = lapic_options,
    .attach = attach_from_options,
    .msrs = lapic_msrs,
    .nr_msrs = sizeof(lapic_msrs) / sizeof(lapic_msrs[0]),
    .msr_ops = &msr_ops,
    .mmio = lapic_mmio,
    .nr_mmio = sizeof(lapic_mmio) / sizeof(lapic_mmio[0]),
    .mmio_ops = &mmio_ops,
    .irqchip = &chip_ops,
    .reset = lapic_reset,
    .destroy = lapic_free,
    .save = lapic_state_save,
    .load = lapic_state_load,
};
