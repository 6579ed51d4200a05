/* SPDX-License-Identifier: MIT */
/*
 * Machine glue for the SEV-ES VMSA features model (include/virtmodel/sev_es.h,
 * docs/sev-es.md).  Only the public machine API and the model interface.
 *
 * At attach the glue plays kvm-amd and the VMM: it loads the modelled
 * module (the history step and parameters from the options), creates the
 * SEV VM the way the options say (KVM_SEV_INIT2 with --sev-es-vmsa-features,
 * or the legacy KVM_SEV_ES_INIT), one model vCPU per machine vCPU, and
 * launches (LAUNCH_START, LAUNCH_UPDATE_VMSA, LAUNCH_MEASURE, LAUNCH_FINISH).
 * A failing step fails the attach with KVM's error.  The host's debug
 * registers are a fixed pattern with one breakpoint armed (--sev-es-host-dr7
 * changes DR7), so that KVM's restore after an exit is visible.
 *
 * Guest side: SEV_STATUS through the MSR interface, MOV DR through the DR
 * handler (#VC with the SVM exit code when DR7 is intercepted), and a world
 * switch (VMRUN / #VMEXIT) around every stretch the vCPU spends in the
 * engine.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "virtmodel/error.h"
#include "virtmodel/model.h"
#include "virtmodel/models.h"
#include "virtmodel/sev_es.h"

struct sev_glue {
    struct vmdl_sev_es_module *m;
    struct vmdl_sev_es_vm *vm;
    unsigned n;
    struct vmdl_sev_es_vcpu *v[];
};

struct sev_setup {
    struct vmdl_sev_es_load_params load;
    bool cpu_no_debug_swap;
    bool legacy;
    uint64_t vmsa_features;
    uint64_t host_dr7;
};

static struct vmdl_sev_es_vcpu *of(struct sev_glue *g, struct vmdl_vcpu *vcpu)
{
    unsigned i = vmdl_vcpu_index(vcpu);
    return i < g->n ? g->v[i] : NULL;
}

/* ---- guest side ---- */

static vmdl_fault sev_msr_read(void *opaque, struct vmdl_vcpu *vcpu,
                               uint32_t index, uint64_t *value)
{
    return vmdl_sev_es_rdmsr(of(opaque, vcpu), index, value);
}

static vmdl_fault sev_msr_write(void *opaque, struct vmdl_vcpu *vcpu,
                                uint32_t index, uint64_t value)
{
    return vmdl_sev_es_wrmsr(of(opaque, vcpu), index, value);
}

static const struct vmdl_msr_ops sev_msr_ops = {sev_msr_read, sev_msr_write};

static vmdl_fault sev_mov_dr(void *opaque, struct vmdl_vcpu *vcpu, bool write,
                             unsigned dr, uint64_t *value, uint64_t *error_code)
{
    uint64_t cr4 = 0;
    vmdl_vcpu_get_reg(vcpu, VMDL_X86_CR4, &cr4);
    uint32_t code = 0;
    vmdl_fault f = vmdl_sev_es_mov_dr(of(opaque, vcpu), write, dr, cr4 & (1u << 3),
                                      value, &code);
    *error_code = code;
    return f;
}

static void sev_switch(void *opaque, struct vmdl_vcpu *vcpu, bool entering)
{
    struct vmdl_sev_es_vcpu *v = of(opaque, vcpu);
    if (!v)
        return;
    /* The launch was checked at attach: enter cannot be refused here. */
    if (entering)
        vmdl_sev_es_vcpu_enter(v);
    else if (vmdl_sev_es_vcpu_running(v))
        vmdl_sev_es_vcpu_exit(v);
}

/* ---- lifecycle ---- */

static int sev_state_save(void *opaque, uint8_t **blob, size_t *len)
{
    return vmdl_sev_es_vm_save(((struct sev_glue *)opaque)->vm, blob, len);
}

static int sev_state_load(void *opaque, const uint8_t *blob, size_t len)
{
    return vmdl_sev_es_vm_load(((struct sev_glue *)opaque)->vm, blob, len);
}

static void sev_free(void *opaque)
{
    struct sev_glue *g = opaque;
    vmdl_sev_es_vm_destroy(g->vm);
    vmdl_sev_es_module_unload(g->m);
    free(g);
}

/* ---- attach: kvm-amd load, VM creation, init, launch ---- */

static int parse_u64(const char *what, const char *s, uint64_t *out)
{
    char *end = NULL;
    if (!s || !*s)
        return vmdl_fail(VMDL_EINVAL, "--%s needs a value", what);
    unsigned long long v = strtoull(s, &end, 0);
    if (*end)
        return vmdl_fail(VMDL_EINVAL, "--%s %s: not a number", what, s);
    *out = v;
    return VMDL_OK;
}

static int parse_setup(const struct vmdl_model_options *o, struct sev_setup *s)
{
    memset(s, 0, sizeof(*s));
    vmdl_sev_es_load_params_init(&s->load);
    s->host_dr7 = 0x402; /* G0: a host breakpoint armed */
    const char *v;
    int err = 0;
    if ((v = vmdl_model_option(o, "sev-es-quirk")))
        err = vmdl_sev_es_step_from_name(v, &s->load.step);
    if (!err && (v = vmdl_model_option(o, "sev-es-debug-swap-param"))) {
        if (strcmp(v, "0") && strcmp(v, "1"))
            return vmdl_fail(VMDL_EINVAL, "--sev-es-debug-swap-param %s: 0 or 1", v);
        s->load.debug_swap = v[0] - '0';
    }
    if (!err && (v = vmdl_model_option(o, "sev-es-vmsa-features")))
        err = parse_u64("sev-es-vmsa-features", v, &s->vmsa_features);
    if (!err && (v = vmdl_model_option(o, "sev-es-host-dr7")))
        err = parse_u64("sev-es-host-dr7", v, &s->host_dr7);
    if (!err && (v = vmdl_model_option(o, "sev-es-init"))) {
        if (strcmp(v, "init2") && strcmp(v, "legacy"))
            return vmdl_fail(VMDL_EINVAL, "--sev-es-init %s: init2 or legacy", v);
        s->legacy = !strcmp(v, "legacy");
    }
    s->cpu_no_debug_swap = vmdl_model_option(o, "sev-es-cpu-no-debug-swap") != NULL;
    return err;
}

/* A KVM step the attach needs failed: say which, with KVM's errno and why. */
static int kvm_step(int err, const char *what)
{
    if (!err)
        return VMDL_OK;
    char why[256];
    snprintf(why, sizeof(why), "%s", vmdl_last_error());
    return vmdl_fail(VMDL_EINVAL, "sev_es attach: %s failed with %d (%s)", what,
                     err, why);
}

static int create_and_launch(struct sev_glue *g, const struct sev_setup *s)
{
    struct vmdl_sev_init init;
    memset(&init, 0, sizeof(init));
    init.vmsa_features = s->vmsa_features;
    int err = kvm_step(vmdl_sev_es_vm_create(g->m, s->legacy ? VMDL_KVM_X86_DEFAULT_VM
                                                             : VMDL_KVM_X86_SEV_ES_VM,
                                             &g->vm), "KVM_CREATE_VM");
    if (!err)
        err = kvm_step(vmdl_sev_es_mem_enc_op(g->vm, s->legacy ? VMDL_KVM_SEV_ES_INIT
                                                               : VMDL_KVM_SEV_INIT2,
                                              &init),
                       s->legacy ? "KVM_SEV_ES_INIT" : "KVM_SEV_INIT2");
    struct vmdl_sev_es_dregs host;
    memset(&host, 0, sizeof(host));
    for (unsigned i = 0; i < 4; i++) {
        host.dr[i] = 0xffffffff81000000ull + 0x100 * i;
        host.addr_mask[i] = 0xf0u + i;
    }
    host.dr6 = VMDL_DR6_RESET;
    host.dr7 = s->host_dr7;
    for (unsigned i = 0; !err && i < g->n; i++) {
        err = kvm_step(vmdl_sev_es_vcpu_create(g->vm, &g->v[i]), "KVM_CREATE_VCPU");
        if (!err)
            err = vmdl_sev_es_vcpu_set_host_dregs(g->v[i], &host);
    }
    static const uint32_t launch[] = {VMDL_KVM_SEV_LAUNCH_START,
                                      VMDL_KVM_SEV_LAUNCH_UPDATE_VMSA,
                                      VMDL_KVM_SEV_LAUNCH_MEASURE,
                                      VMDL_KVM_SEV_LAUNCH_FINISH};
    for (unsigned i = 0; !err && i < 4; i++)
        err = kvm_step(vmdl_sev_es_mem_enc_op(g->vm, launch[i], NULL), "launch");
    return err;
}

extern const struct vmdl_model_desc vmdl_sev_es_model;

static int attach_from_options(struct vmdl_vm *vm, const struct vmdl_model_options *o)
{
    if (vmdl_vm_arch(vm) != VMDL_ARCH_X86_64 || vmdl_vm_vendor(vm) != VMDL_VENDOR_AMD)
        return vmdl_fail(VMDL_ENOTSUP, "sev_es: SEV-ES needs an AMD x86 VM "
                         "(--vendor amd)");
    struct sev_setup s;
    int err = parse_setup(o, &s);
    if (err)
        return err;
    unsigned n = vmdl_vm_nr_vcpus(vm);
    struct sev_glue *g = calloc(1, sizeof(*g) + n * sizeof(g->v[0]));
    if (!g)
        return vmdl_fail(VMDL_ENOMEM, "sev_es: out of memory");
    g->n = n;
    struct vmdl_sev_es_cpu cpu;
    vmdl_sev_es_cpu_default(&cpu);
    cpu.debug_swap = !s.cpu_no_debug_swap;
    err = vmdl_sev_es_module_load(&cpu, &s.load, &g->m);
    if (!err)
        err = create_and_launch(g, &s);
    if (err) {
        if (g->m) {
            vmdl_sev_es_vm_destroy(g->vm);
            vmdl_sev_es_module_unload(g->m);
        }
        free(g);
        return err;
    }
    return vmdl_vm_add_model(vm, &vmdl_sev_es_model, g);
}

static const struct vmdl_msr_range sev_msrs[] = {
    {VMDL_MSR_AMD64_SEV, VMDL_MSR_AMD64_SEV},
};

static const struct vmdl_model_option sev_options[] = {
    {"sev-es-vmsa-features", "N", "KVM_SEV_INIT2 vmsa_features (0x20: DebugSwap; "
     "default 0) (sev_es model)"},
    {"sev-es-init", "init2|legacy", "create the VM with KVM_SEV_INIT2 (default) or "
     "the legacy KVM_SEV_ES_INIT"},
    {"sev-es-quirk", "STEP", "kvm-amd of an older step of the DebugSwap history: "
     "enabled, default-off, init2, reenabled (default: current)"},
    {"sev-es-debug-swap-param", "0|1", "kvm_amd.debug_swap= in steps that have it"},
    {"sev-es-cpu-no-debug-swap", NULL, "the modelled CPU lacks DebugSwap"},
    {"sev-es-host-dr7", "N", "the host's DR7 (default 0x402: breakpoint 0 armed)"},
    {NULL, NULL, NULL},
};

const struct vmdl_model_desc vmdl_sev_es_model = {
    .name = "sev_es",
    .arch = VMDL_ARCH_X86_64,
    .vendor = VMDL_VENDOR_AMD,
    .not_in_all = true, /* an SEV-ES VM is the VMM's choice, not a device */
    .summary = "SEV-ES VMSA features: DebugSwap fixed at VM creation, SEV_STATUS, "
               "debug-register world switch",
    .options = sev_options,
    .attach = attach_from_options,
    .msrs = sev_msrs,
    .nr_msrs = 1,
    .msr_ops = &sev_msr_ops,
    .dr = sev_mov_dr,
    .world_switch = sev_switch,
    .destroy = sev_free,
    .save = sev_state_save,
    .load = sev_state_load,
};
