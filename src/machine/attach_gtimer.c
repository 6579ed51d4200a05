/* SPDX-License-Identifier: MIT */
/*
 * Machine glue for the generic timer (include/virtmodel/gtimer.h): one timer
 * per vCPU on the machine's virtual time (one count per retired
 * instruction), its lines driving the interrupt controller's PPIs 30 (EL1
 * physical) and 27 (virtual), as KVM wires them.
 *
 * The counter and timer registers are ones QEMU knows, so they do not trap:
 * the arm64 vCPU hands every MRS/MSR of op0 3, CRn 14 to the sysreg handlers
 * first (arm64/trap.c, Unicorn's MRS/MSR instruction hook) with the exact
 * instruction count at that instruction.  As with the local APIC, virtual
 * time is counted from the start, so that a count means the same whether or
 * not something else (a checkpoint, a budget) also needs counting.
 */
#include <stdlib.h>
#include <string.h>

#include "virtmodel/attach_gtimer.h"
#include "virtmodel/error.h"
#include "virtmodel/model.h"
#include "virtmodel/models.h"

struct gtimer_vcpu {
    struct vmdl_gtimer t;
    bool line[2];       /* last level sent to the interrupt controller */
};

struct gtimer_glue {
    struct vmdl_vm *vm;
    unsigned n;
    struct gtimer_vcpu v[];
};

static const unsigned ppi_of[2] = {VMDL_GTIMER_PPI_PHYS, VMDL_GTIMER_PPI_VIRT};

/* Send the lines that changed to the interrupt controller. */
static void sync_lines(struct gtimer_glue *g, struct vmdl_vcpu *vcpu, struct gtimer_vcpu *p)
{
    uint64_t now = vmdl_vcpu_vtime(vcpu);
    for (unsigned id = 0; id < 2; id++) {
        bool up = vmdl_gtimer_line(&p->t, (enum vmdl_gtimer_id)id, now);
        if (up != p->line[id]) {
            p->line[id] = up;
            vmdl_vcpu_device_ppi(vcpu, ppi_of[id], up);
        }
    }
    (void)g;
}

static struct gtimer_vcpu *timer_of(struct gtimer_glue *g, struct vmdl_vcpu *vcpu)
{
    unsigned i = vmdl_vcpu_index(vcpu);
    return i < g->n ? &g->v[i] : NULL;
}

static vmdl_fault gt_sysreg(void *opaque, struct vmdl_vcpu *vcpu, struct vmdl_sysreg_access *a)
{
    struct gtimer_glue *g = opaque;
    struct gtimer_vcpu *p = timer_of(g, vcpu);
    if (!p || a->is_sys)
        return VMDL_FAULT_UNCLAIMED;
    uint64_t pstate = 0;
    vmdl_vcpu_get_reg(vcpu, VMDL_ARM64_PSTATE, &pstate);
    vmdl_fault f = vmdl_gtimer_sysreg(&p->t, vmdl_vcpu_vtime(vcpu), (pstate >> 2) & 3,
                                      a->op0, a->op1, a->crn, a->crm, a->op2,
                                      a->is_write, &a->value);
    if (f == VMDL_FAULT_NONE && a->is_write)
        sync_lines(g, vcpu, p);
    return f;
}

/* ---- virtual time ---- */

static void gt_advance(void *opaque, struct vmdl_vcpu *vcpu, uint64_t now)
{
    struct gtimer_glue *g = opaque;
    struct gtimer_vcpu *p = timer_of(g, vcpu);
    (void)now;
    if (p)
        sync_lines(g, vcpu, p);
}

static uint64_t gt_next_event(void *opaque, struct vmdl_vcpu *vcpu)
{
    struct gtimer_glue *g = opaque;
    struct gtimer_vcpu *p = timer_of(g, vcpu);
    if (!p)
        return UINT64_MAX;
    uint64_t now = vmdl_vcpu_vtime(vcpu), next = UINT64_MAX;
    for (unsigned id = 0; id < 2; id++) {
        if (p->line[id])
            continue; /* up already: nothing new until the guest acts */
        uint64_t at = vmdl_gtimer_next_event(&p->t, (enum vmdl_gtimer_id)id, now);
        if (at < next)
            next = at;
    }
    return next;
}

static const struct vmdl_time_ops gt_time_ops = {
    .advance = gt_advance,
    .next_event = gt_next_event,
};

/* ---- lifecycle ---- */

static void gt_reset(void *opaque, struct vmdl_vm *vm)
{
    struct gtimer_glue *g = opaque;
    for (unsigned i = 0; i < g->n; i++) {
        vmdl_gtimer_reset(&g->v[i].t);
        sync_lines(g, vmdl_vm_vcpu(vm, i), &g->v[i]);
    }
}

#define GTIMER_GLUE_MAGIC VMDL_BLOB_MAGIC('G', 'T', 'M', 'R')

static int gt_state_save(void *opaque, uint8_t **blob, size_t *len)
{
    struct gtimer_glue *g = opaque;
    struct vmdl_blob_writer w;
    vmdl_blob_begin(&w, GTIMER_GLUE_MAGIC, 1);
    vmdl_blob_put_u32(&w, g->n);
    for (unsigned i = 0; i < g->n; i++) {
        vmdl_gtimer_put(&g->v[i].t, &w);
        vmdl_blob_put_u8(&w, g->v[i].line[0]);
        vmdl_blob_put_u8(&w, g->v[i].line[1]);
    }
    return vmdl_blob_finish(&w, blob, len);
}

static int gt_state_load(void *opaque, const uint8_t *blob, size_t len)
{
    struct gtimer_glue *g = opaque;
    struct vmdl_blob_reader r;
    int err = vmdl_blob_open(&r, blob, len, GTIMER_GLUE_MAGIC, 1, "gtimer state");
    if (err)
        return err;
    if (vmdl_blob_get_u32(&r) != g->n)
        vmdl_blob_reject(&r, "saved for another number of vCPUs");
    struct gtimer_vcpu *nv = calloc(g->n ? g->n : 1, sizeof(*nv));
    if (!nv)
        return vmdl_fail(VMDL_ENOMEM, "gtimer state: out of memory");
    for (unsigned i = 0; i < g->n && !r.err; i++) {
        vmdl_gtimer_get(&nv[i].t, &r);
        uint8_t b[2] = {vmdl_blob_get_u8(&r), vmdl_blob_get_u8(&r)};
        if (b[0] > 1 || b[1] > 1)
            vmdl_blob_reject(&r, "flag out of range");
        nv[i].line[0] = b[0];
        nv[i].line[1] = b[1];
    }
    if ((err = vmdl_blob_close(&r))) {
        free(nv);
        return err;
    }
    /* The vCPUs' counting users were cleared with their registers. */
    for (unsigned i = 0; i < g->n; i++) {
        g->v[i] = nv[i];
        vmdl_vcpu_need_insn_count(vmdl_vm_vcpu(g->vm, i), true);
    }
    free(nv);
    return VMDL_OK;
}

static void gt_destroy(void *opaque)
{
    free(opaque);
}

extern const struct vmdl_model_desc vmdl_gtimer_model;

int vmdl_attach_gtimer(struct vmdl_vm *vm, const struct vmdl_gtimer_options *o)
{
    static const struct vmdl_gtimer_options defaults = {0};
    if (!vm)
        return vmdl_fail(VMDL_EINVAL, "vmdl_attach_gtimer: vm is NULL");
    if (vmdl_vm_arch(vm) != VMDL_ARCH_ARM64)
        return vmdl_fail(VMDL_EINVAL, "vmdl_attach_gtimer: the generic timer needs "
                         "an arm64 VM");
    if (!o)
        o = &defaults;
    if (o->flags & ~VMDL_GTIMER_F_ISTATUS_WHEN_DISABLED)
        return vmdl_fail(VMDL_EINVAL, "vmdl_attach_gtimer: unknown flags 0x%x", o->flags);
    unsigned n = vmdl_vm_nr_vcpus(vm);
    struct gtimer_glue *g = calloc(1, sizeof(*g) + n * sizeof(g->v[0]));
    if (!g)
        return vmdl_fail(VMDL_ENOMEM, "vmdl_attach_gtimer: out of memory");
    g->vm = vm;
    g->n = n;
    for (unsigned i = 0; i < n; i++) {
        vmdl_gtimer_init(&g->v[i].t, 0, o->flags);
        g->v[i].t.cntvoff = o->cntvoff;
    }
    int err = vmdl_vm_add_model(vm, &vmdl_gtimer_model, g);
    for (unsigned i = 0; !err && i < n; i++)
        vmdl_vcpu_need_insn_count(vmdl_vm_vcpu(vm, i), true);
    return err;
}

static int attach_from_options(struct vmdl_vm *vm, const struct vmdl_model_options *opts)
{
    struct vmdl_gtimer_options o = {0};
    const char *off = vmdl_model_option(opts, "gtimer-cntvoff");
    if (off) {
        char *end;
        o.cntvoff = strtoull(off, &end, 0);
        if (!*off || *end || off[0] == '-')
            return vmdl_fail(VMDL_EINVAL, "--gtimer-cntvoff: '%s' is not a number", off);
    }
    if (vmdl_model_option(opts, "gtimer-kvm-istatus"))
        o.flags |= VMDL_GTIMER_F_ISTATUS_WHEN_DISABLED;
    return vmdl_attach_gtimer(vm, &o);
}

static const struct vmdl_model_option gtimer_options[] = {
    {"gtimer-cntvoff", "N", "CNTVOFF_EL2 of every vCPU: the virtual count lags the "
                            "physical one by N (default 0)"},
    {"gtimer-kvm-istatus", NULL, "CNTx_CTL.ISTATUS reads the condition even while "
                                 "ENABLE is 0 (KVM's emulated read)"},
    {NULL, NULL, NULL},
};

const struct vmdl_model_desc vmdl_gtimer_model = {
    .name = "gtimer",
    .arch = VMDL_ARCH_ARM64,
    .vendor = -1,
    .summary = "generic timer on virtual time (CNTV/CNTP, PPIs 27/30)",
    .options = gtimer_options,
    .attach = attach_from_options,
    .sysreg = gt_sysreg,
    .time = &gt_time_ops,
    .reset = gt_reset,
    .destroy = gt_destroy,
    .save = gt_state_save,
    .load = gt_state_load,
};
