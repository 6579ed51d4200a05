/* SPDX-License-Identifier: MIT */
/* Machine glue for the GICv5 model (include/virtmodel/attach_gicv5.h). */
#include <stdlib.h>

#include "virtmodel/attach_gicv5.h"
#include "virtmodel/gicv5_irs.h"
#include "virtmodel/error.h"
#include "virtmodel/model.h"
#include "virtmodel/models.h"
#include "glue_state.h"
#include "machine_internal.h"

struct gicv5_glue {
    struct vmdl_gicv5 *g;
    struct vmdl_gicv5_irs irs;           /* the config frame at IRS_BASE */
    bool halted[VMDL_GICV5_MAX_VCPUS];   /* put in WFI, not reloaded yet */
};

/* Load vCPU idx if it is not loaded: on pCPU idx % n, evicting its holder. */
static int ensure_loaded(struct gicv5_glue *gl, unsigned idx)
{
    if (vmdl_gicv5_vcpu_pcpu(gl->g, idx) >= 0)
        return VMDL_OK;
    unsigned pcpu = idx % vmdl_gicv5_nr_pcpus(gl->g);
    int holder = vmdl_gicv5_pcpu_vcpu(gl->g, pcpu);
    if (holder >= 0)
        vmdl_gicv5_vcpu_put(gl->g, (unsigned)holder, false);
    gl->halted[idx] = false;
    return vmdl_gicv5_vcpu_load(gl->g, idx, pcpu);
}

static vmdl_fault gv5_sysreg(void *opaque, struct vmdl_vcpu *vcpu,
                             struct vmdl_sysreg_access *a)
{
    struct gicv5_glue *gl = opaque;
    unsigned idx = vmdl_vcpu_index(vcpu);
    if (!vmdl_gicv5_reg_lookup(a->op0, a->op1, a->crn, a->crm, a->op2))
        return VMDL_FAULT_UNCLAIMED;
    if (idx >= vmdl_gicv5_nr_vcpus(gl->g) || ensure_loaded(gl, idx))
        return VMDL_FAULT_UNDEF;
    return vmdl_gicv5_sysreg(gl->g, idx, a->op0, a->op1, a->crn, a->crm,
                             a->op2, a->is_write, &a->value);
}

static int gv5_pending(void *opaque, struct vmdl_vcpu *vcpu)
{
    struct gicv5_glue *gl = opaque;
    unsigned idx = vmdl_vcpu_index(vcpu);
    if (idx >= vmdl_gicv5_nr_vcpus(gl->g))
        return -1;
    if (gl->halted[idx]) {
        /* KVM's wake-up check runs on the shadow state while put. */
        if (!vmdl_gicv5_has_pending_ppi(gl->g, idx))
            return -1;
        if (ensure_loaded(gl, idx))
            return -1;
        /* KVM's check ignores the active state; the line we report is the
         * architectural one, so an active PPI does not end the WFI. */
        return vmdl_gicv5_irq_pending(gl->g, idx);
    }
    if (ensure_loaded(gl, idx))
        return -1;
    return vmdl_gicv5_irq_pending(gl->g, idx);
}

/* The generic timer's lines (PPIs 27 and 30) as their in-kernel device. */
static int gv5_device_ppi(void *opaque, struct vmdl_vcpu *vcpu, unsigned ppi, bool level)
{
    struct gicv5_glue *gl = opaque;
    unsigned idx = vmdl_vcpu_index(vcpu);
    if (idx >= vmdl_gicv5_nr_vcpus(gl->g))
        return VMDL_OK;
    return vmdl_gicv5_device_line(gl->g, idx, ppi, level);
}

static void gv5_halt(void *opaque, struct vmdl_vcpu *vcpu)
{
    struct gicv5_glue *gl = opaque;
    unsigned idx = vmdl_vcpu_index(vcpu);
    if (idx >= vmdl_gicv5_nr_vcpus(gl->g))
        return;
    if (vmdl_gicv5_vcpu_pcpu(gl->g, idx) >= 0)
        vmdl_gicv5_vcpu_put(gl->g, idx, true);     /* IN_WFI: sync priorities */
    gl->halted[idx] = true;
}

static bool gv5_hypercall(void *opaque, struct vmdl_vcpu *vcpu, uint16_t imm,
                          bool is_smc)
{
    struct gicv5_glue *gl = opaque;
    uint64_t x0 = 0, x1 = 0, x2 = 0;
    if (imm != 0 || is_smc)
        return false;
    vmdl_vcpu_get_reg(vcpu, VMDL_ARM64_X0, &x0);
    /* fn 0 (0xC6000000) is the runtime's exit call: not ours. */
    if ((x0 & 0xFFFFFF00u) != VMDL_GICV5_HVC_BASE || (x0 >> 32) ||
        (x0 & 0xFF) < VMDL_GICV5_HVC_LINE || (x0 & 0xFF) > VMDL_GICV5_HVC_DVI)
        return false;
    vmdl_vcpu_get_reg(vcpu, VMDL_ARM64_X0 + 1, &x1);
    vmdl_vcpu_get_reg(vcpu, VMDL_ARM64_X0 + 2, &x2);
    unsigned idx = vmdl_vcpu_index(vcpu);
    int64_t ret;
    /* A vCPU making a hypercall is running: it is loaded somewhere. */
    if (idx < vmdl_gicv5_nr_vcpus(gl->g))
        ensure_loaded(gl, idx);
    struct vmdl_gicv5_masks m;
    switch (x0 & 0xFF) {
    case VMDL_GICV5_HVC_LINE:
        vmdl_gicv5_get_masks(gl->g, &m);
        if (x1 < VMDL_GICV5_NR_PPIS && ((m.userspace[x1 / 64] >> (x1 % 64)) & 1))
            ret = vmdl_gicv5_irq_line(gl->g, idx, (unsigned)x1, x2 != 0);
        else
            ret = vmdl_gicv5_device_line(gl->g, idx,
                                         x1 > 0xFFFFu ? 0xFFFFu : (unsigned)x1,
                                         x2 != 0);
        break;
    case VMDL_GICV5_HVC_MIGRATE:
        if (x1 >= vmdl_gicv5_nr_pcpus(gl->g)) {
            ret = VMDL_ERANGE;
            break;
        }
        if (vmdl_gicv5_vcpu_pcpu(gl->g, idx) >= 0)
            vmdl_gicv5_vcpu_put(gl->g, idx, false);
        {
            int holder = vmdl_gicv5_pcpu_vcpu(gl->g, (unsigned)x1);
            if (holder >= 0)
                vmdl_gicv5_vcpu_put(gl->g, (unsigned)holder, false);
        }
        gl->halted[idx] = false;
        ret = vmdl_gicv5_vcpu_load(gl->g, idx, (unsigned)x1);
        break;
    case VMDL_GICV5_HVC_WHERE:
        ret = vmdl_gicv5_vcpu_pcpu(gl->g, idx);
        break;
    case VMDL_GICV5_HVC_DVI:
        ret = vmdl_gicv5_set_dvi(gl->g, idx,
                                 x1 > 0xFFFFu ? 0xFFFFu : (unsigned)x1, x2 != 0);
        break;
    default:
        return false;
    }
    vmdl_vcpu_set_reg(vcpu, VMDL_ARM64_X0, (uint64_t)ret);
    return true;
}

/* ---- the IRS config frame ---- */

static uint64_t irs_read(void *opaque, struct vmdl_vcpu *vcpu, uint64_t offset,
                         unsigned size)
{
    struct gicv5_glue *gl = opaque;
    uint64_t v;
    (void)vcpu;
    vmdl_gicv5_irs_read(&gl->irs, offset, size, &v);   /* RAZ when reserved */
    return v;
}

static void irs_write(void *opaque, struct vmdl_vcpu *vcpu, uint64_t offset,
                      unsigned size, uint64_t value)
{
    struct gicv5_glue *gl = opaque;
    (void)vcpu;
    vmdl_gicv5_irs_write(&gl->irs, offset, size, value);
}

static const struct vmdl_mmio_ops irs_ops = {.read = irs_read, .write = irs_write};
static const struct vmdl_mmio_window irs_window[] = {
    {VMDL_ARM64_GICV5_IRS_BASE, VMDL_GICV5_IRS_FRAME_SIZE},
};

bool vmdl__gicv5_irs_mapped(const struct vmdl_vm *vm, uint64_t *base, unsigned *nr_pes)
{
    for (unsigned i = 0; i < vm->nr_mmios; i++) {
        if (vm->mmios[i].ops != &irs_ops)
            continue;
        *base = vm->mmios[i].base;
        *nr_pes = ((const struct gicv5_glue *)vm->mmios[i].opaque)->irs.nr_pes;
        return true;
    }
    return false;
}

static void gv5_reset(void *opaque, struct vmdl_vm *vm)
{
    struct gicv5_glue *gl = opaque;
    (void)vm;
    vmdl_gicv5_reset(gl->g);
    vmdl_gicv5_irs_reset(&gl->irs);
    for (unsigned i = 0; i < VMDL_GICV5_MAX_VCPUS; i++)
        gl->halted[i] = false;
}

/* ---- checkpoints ---- */

#define GICV5_GLUE_MAGIC VMDL_BLOB_MAGIC('G', 'G', 'V', '5')
/* 2: the IRS config frame's state follows the vCPUs. */
#define GICV5_GLUE_VERSION 2

/*
 * The model exports only put vCPUs.  A put taken as if in WFI syncs every
 * live register (priorities included) into the shadow state, so the blob
 * holds the complete state; the vCPUs are loaded back where they were, so
 * the run that took the checkpoint goes on unchanged.
 */
static int gv5_state_save(void *opaque, uint8_t **blob, size_t *len)
{
    struct gicv5_glue *gl = opaque;
    unsigned n = vmdl_gicv5_nr_vcpus(gl->g);
    int where[VMDL_GICV5_MAX_VCPUS];
    for (unsigned i = 0; i < n; i++) {
        where[i] = vmdl_gicv5_vcpu_pcpu(gl->g, i);
        if (where[i] >= 0)
            vmdl_gicv5_vcpu_put(gl->g, i, true);
    }
    uint8_t *inner = NULL;
    size_t inner_len = 0;
    int err = vmdl_gicv5_export(gl->g, &inner, &inner_len);
    for (unsigned i = 0; i < n; i++)
        if (where[i] >= 0)
            vmdl_gicv5_vcpu_load(gl->g, i, (unsigned)where[i]);
    if (err)
        return err;
    struct vmdl_blob_writer w;
    vmdl_blob_begin(&w, GICV5_GLUE_MAGIC, GICV5_GLUE_VERSION);
    vmdl_blob_put_blob(&w, inner, inner_len);
    vmdl_blob_put_u32(&w, n);
    for (unsigned i = 0; i < n; i++) {
        vmdl_blob_put_u32(&w, (uint32_t)where[i]);
        vmdl_blob_put_u8(&w, gl->halted[i]);
    }
    vmdl_gicv5_irs_put(&gl->irs, &w);
    free(inner);
    return vmdl_blob_finish(&w, blob, len);
}

static int gv5_state_load(void *opaque, const uint8_t *blob, size_t len)
{
    struct gicv5_glue *gl = opaque;
    unsigned n = vmdl_gicv5_nr_vcpus(gl->g), pcpus = vmdl_gicv5_nr_pcpus(gl->g);
    struct vmdl_blob_reader r;
    int err = vmdl_blob_open(&r, blob, len, GICV5_GLUE_MAGIC, GICV5_GLUE_VERSION,
                             "gicv5 state");
    if (err)
        return err;
    const uint8_t *inner;
    size_t inner_len;
    vmdl_blob_get_blob(&r, &inner, &inner_len);
    if (vmdl_blob_get_u32(&r) != n)
        vmdl_blob_reject(&r, "saved for another number of vCPUs");
    int where[VMDL_GICV5_MAX_VCPUS];
    bool halted[VMDL_GICV5_MAX_VCPUS];
    for (unsigned i = 0; i < n && !r.err; i++) {
        where[i] = (int32_t)vmdl_blob_get_u32(&r);
        halted[i] = vmdl_blob_get_u8(&r) != 0;
        if (where[i] < -1 || where[i] >= (int)pcpus)
            vmdl_blob_reject(&r, "physical CPU out of range");
    }
    struct vmdl_gicv5_irs irs = gl->irs;
    vmdl_gicv5_irs_get(&irs, &r);
    if ((err = vmdl_blob_close(&r)))
        return err;
    for (unsigned i = 0; i < n; i++)
        if (vmdl_gicv5_vcpu_pcpu(gl->g, i) >= 0)
            vmdl_gicv5_vcpu_put(gl->g, i, false);
    if ((err = vmdl_gicv5_import(gl->g, inner, inner_len)))
        return err;
    gl->irs = irs;
    for (unsigned i = 0; i < n; i++) {
        gl->halted[i] = halted[i];
        if (where[i] >= 0 && (err = vmdl_gicv5_vcpu_load(gl->g, i, (unsigned)where[i])))
            return err;
    }
    return VMDL_OK;
}

static void gv5_destroy(void *opaque)
{
    struct gicv5_glue *gl = opaque;
    vmdl_gicv5_destroy(gl->g);
    free(gl);
}

extern const struct vmdl_model_desc vmdl_gicv5_model;

int vmdl_attach_gicv5_ex(struct vmdl_vm *vm, const struct vmdl_gicv5_options *o,
                         struct vmdl_gicv5 **model)
{
    static const struct vmdl_gicv5_options defaults = { .pmu = true };
    if (!vm)
        return vmdl_fail(VMDL_EINVAL, "vmdl_attach_gicv5: vm is NULL");
    if (vmdl_vm_arch(vm) != VMDL_ARCH_ARM64)
        return vmdl_fail(VMDL_EINVAL, "vmdl_attach_gicv5: the GICv5 model "
                         "needs an arm64 VM");
    if (!o)
        o = &defaults;
    struct vmdl_gicv5_config cfg = {
        .nr_vcpus = vmdl_vm_nr_vcpus(vm), .nr_pcpus = o->nr_pcpus,
        .storage = o->storage, .traps = o->traps, .pmu = o->pmu,
    };
    struct gicv5_glue *gl = calloc(1, sizeof(*gl));
    if (!gl)
        return vmdl_fail(VMDL_ENOMEM, "vmdl_attach_gicv5: out of memory");
    int err = vmdl_gicv5_irs_init(&gl->irs, cfg.nr_vcpus);
    if (!err)
        err = vmdl_gicv5_create(&cfg, &gl->g);
    if (err) {
        free(gl);
        return err;
    }
    if ((err = vmdl_vm_add_model(vm, &vmdl_gicv5_model, gl)))
        return err;
    if (model)
        *model = gl->g;
    return VMDL_OK;
}

int vmdl_attach_gicv5(struct vmdl_vm *vm, const struct vmdl_gicv5_options *o)
{
    return vmdl_attach_gicv5_ex(vm, o, NULL);
}

static int attach_from_options(struct vmdl_vm *vm, const struct vmdl_model_options *opts)
{
    struct vmdl_gicv5_options o = { .pmu = true };
    const char *pcpus = vmdl_model_option(opts, "gicv5-pcpus");
    if (pcpus) {
        char *end;
        unsigned long n = strtoul(pcpus, &end, 0);
        if (!*pcpus || *end || pcpus[0] == '-' || n < 1 || n > VMDL_GICV5_MAX_VCPUS)
            return vmdl_fail(VMDL_EINVAL, "--gicv5-pcpus: '%s' is not 1..%d",
                             pcpus, VMDL_GICV5_MAX_VCPUS);
        o.nr_pcpus = (unsigned)n;
    }
    o.storage = vmdl_model_option(opts, "gicv5-sparse") ? VMDL_GICV5_SPARSE
                                                        : VMDL_GICV5_DENSE;
    return vmdl_attach_gicv5(vm, &o);
}

static const struct vmdl_irqchip_ops gv5_chip_ops = {
    .pending = gv5_pending,
    .halt = gv5_halt,
    .device_ppi = gv5_device_ppi,
};

static const struct vmdl_model_option gicv5_options[] = {
    {"gicv5-pcpus", "N", "modelled physical CPUs for the GICv5 model (default 2)"},
    {"gicv5-sparse", NULL, "sparse PPI storage in the GICv5 model"},
    {NULL, NULL, NULL},
};

const struct vmdl_model_desc vmdl_gicv5_model = {
    .name = "gicv5",
    .arch = VMDL_ARCH_ARM64,
    .vendor = -1,
    .summary = "GICv5 CPU interface, PPIs (vGIC-v5), IRS config frame",
    .options = gicv5_options,
    .attach = attach_from_options,
    .sysreg = gv5_sysreg,
    .hypercall = gv5_hypercall,
    .irqchip = &gv5_chip_ops,
    .mmio = irs_window,
    .nr_mmio = 1,
    .mmio_ops = &irs_ops,
    .reset = gv5_reset,
    .destroy = gv5_destroy,
    .save = gv5_state_save,
    .load = gv5_state_load,
};
