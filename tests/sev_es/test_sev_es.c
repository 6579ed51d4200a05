/* SPDX-License-Identifier: MIT */
/*
 * SEV-ES model: module load (sev_hardware_setup), the device attribute
 * (sev_dev_get_attr), VM init (sev_guest_init, sev_guest_init2,
 * __sev_guest_init), launch (sev_launch_update_vmsa, sev_es_sync_vmsa), the
 * debug-register world switch (sev_es_init_vmcb,
 * sev_es_prepare_switch_to_guest, dr_interception) and state blobs.
 * Each case names the Linux function whose behaviour it checks.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "virtmodel/blob.h"
#include "virtmodel/error.h"
#include "virtmodel/sev_es.h"

#define DS VMDL_SVM_SEV_FEAT_DEBUG_SWAP

/* ---- helpers ---- */

static struct vmdl_sev_es_module *load_ex(const struct vmdl_sev_es_cpu *cpu,
                                          enum vmdl_sev_es_step step, int param)
{
    struct vmdl_sev_es_load_params p;
    vmdl_sev_es_load_params_init(&p);
    p.step = step;
    p.debug_swap = param;
    struct vmdl_sev_es_module *m = NULL;
    assert_int_equal(vmdl_sev_es_module_load(cpu, &p, &m), 0);
    return m;
}

static struct vmdl_sev_es_module *load(enum vmdl_sev_es_step step, int param)
{
    struct vmdl_sev_es_cpu cpu;
    vmdl_sev_es_cpu_default(&cpu);
    return load_ex(&cpu, step, param);
}

static struct vmdl_sev_es_vm *mkvm(struct vmdl_sev_es_module *m, unsigned type)
{
    struct vmdl_sev_es_vm *vm = NULL;
    assert_int_equal(vmdl_sev_es_vm_create(m, type, &vm), 0);
    return vm;
}

static struct vmdl_sev_es_vcpu *mkvcpu(struct vmdl_sev_es_vm *vm)
{
    struct vmdl_sev_es_vcpu *v = NULL;
    assert_int_equal(vmdl_sev_es_vcpu_create(vm, &v), 0);
    return v;
}

static int init2(struct vmdl_sev_es_vm *vm, uint64_t features, uint32_t flags,
                 uint16_t ghcb)
{
    struct vmdl_sev_init d;
    memset(&d, 0, sizeof(d));
    d.vmsa_features = features;
    d.flags = flags;
    d.ghcb_version = ghcb;
    return vmdl_sev_es_mem_enc_op(vm, VMDL_KVM_SEV_INIT2, &d);
}

static void launch(struct vmdl_sev_es_vm *vm)
{
    assert_int_equal(vmdl_sev_es_mem_enc_op(vm, VMDL_KVM_SEV_LAUNCH_START, NULL), 0);
    assert_int_equal(vmdl_sev_es_mem_enc_op(vm, VMDL_KVM_SEV_LAUNCH_UPDATE_VMSA,
                                            NULL), 0);
    assert_int_equal(vmdl_sev_es_mem_enc_op(vm, VMDL_KVM_SEV_LAUNCH_MEASURE, NULL), 0);
    assert_int_equal(vmdl_sev_es_mem_enc_op(vm, VMDL_KVM_SEV_LAUNCH_FINISH, NULL), 0);
}

/* An SEV-ES VM (KVM_SEV_INIT2 with `features`) with one launched vCPU. */
static struct vmdl_sev_es_vcpu *es_vcpu(struct vmdl_sev_es_module *m,
                                        uint64_t features,
                                        struct vmdl_sev_es_vm **vmp)
{
    struct vmdl_sev_es_vm *vm = mkvm(m, VMDL_KVM_X86_SEV_ES_VM);
    assert_int_equal(init2(vm, features, 0, 0), 0);
    struct vmdl_sev_es_vcpu *v = mkvcpu(vm);
    launch(vm);
    *vmp = vm;
    return v;
}

static void teardown(struct vmdl_sev_es_module *m, struct vmdl_sev_es_vm *vm)
{
    vmdl_sev_es_vm_destroy(vm);
    assert_int_equal(vmdl_sev_es_module_unload(m), 0);
}

static bool msg_has(const char *s)
{
    return strstr(vmdl_last_error(), s) != NULL;
}

/* ---- sev_hardware_setup ---- */

/* sev_hardware_setup: SEV-ES + DEBUG_SWAP + NO_NESTED_DATA_BP gives
 * SVM_SEV_FEAT_DEBUG_SWAP (bit 5) and nothing else. */
static void test_setup_supported_from_cpu(void **state)
{
    (void)state;
    struct vmdl_sev_es_module *m = load(VMDL_SEV_ES_STEP_CURRENT, -1);
    assert_true(vmdl_sev_es_module_sev_enabled(m));
    assert_true(vmdl_sev_es_module_sev_es_enabled(m));
    assert_int_equal(vmdl_sev_es_module_supported_vmsa_features(m), UINT64_C(0x20));
    assert_int_equal(vmdl_sev_es_module_unload(m), 0);
}

/* sev_hardware_setup: each of the three conditions is necessary. */
static void test_setup_each_condition_needed(void **state)
{
    (void)state;
    for (unsigned which = 0; which < 3; which++) {
        struct vmdl_sev_es_cpu cpu;
        vmdl_sev_es_cpu_default(&cpu);
        if (which == 0)
            cpu.debug_swap = false;
        else if (which == 1)
            cpu.no_nested_data_bp = false;
        else
            cpu.sev_es = false;
        struct vmdl_sev_es_module *m = load_ex(&cpu, VMDL_SEV_ES_STEP_CURRENT, -1);
        assert_int_equal(vmdl_sev_es_module_supported_vmsa_features(m), 0);
        assert_true(vmdl_sev_es_module_sev_enabled(m));
        assert_int_equal(vmdl_sev_es_module_sev_es_enabled(m), which != 2);
        assert_int_equal(vmdl_sev_es_module_unload(m), 0);
    }
}

/* sev_hardware_setup: "Has the system been allocated ASIDs for SEV-ES?"
 * (min_sev_asid == 1) and "max_sev_asid == 0" turn features off. */
static void test_setup_asid_ranges(void **state)
{
    (void)state;
    struct vmdl_sev_es_cpu cpu;
    vmdl_sev_es_cpu_default(&cpu);
    cpu.min_sev_asid = 1;
    struct vmdl_sev_es_module *m = load_ex(&cpu, VMDL_SEV_ES_STEP_CURRENT, -1);
    assert_true(vmdl_sev_es_module_sev_enabled(m));
    assert_false(vmdl_sev_es_module_sev_es_enabled(m));
    assert_int_equal(vmdl_sev_es_module_supported_vmsa_features(m), 0);
    vmdl_sev_es_module_unload(m);
    cpu.min_sev_asid = 100;
    cpu.max_sev_asid = 0;
    m = load_ex(&cpu, VMDL_SEV_ES_STEP_CURRENT, -1);
    assert_false(vmdl_sev_es_module_sev_enabled(m));
    assert_false(vmdl_sev_es_module_sev_es_enabled(m));
    vmdl_sev_es_module_unload(m);
}

/* sev_hardware_setup: kvm_amd.sev_es=0 and kvm_amd.sev=0. */
static void test_setup_module_params(void **state)
{
    (void)state;
    struct vmdl_sev_es_cpu cpu;
    vmdl_sev_es_cpu_default(&cpu);
    struct vmdl_sev_es_load_params p;
    vmdl_sev_es_load_params_init(&p);
    p.sev_es_off = true;
    struct vmdl_sev_es_module *m = NULL;
    assert_int_equal(vmdl_sev_es_module_load(&cpu, &p, &m), 0);
    assert_true(vmdl_sev_es_module_sev_enabled(m));
    assert_false(vmdl_sev_es_module_sev_es_enabled(m));
    assert_int_equal(vmdl_sev_es_module_supported_vmsa_features(m), 0);
    vmdl_sev_es_module_unload(m);
    p.sev_es_off = false;
    p.sev_off = true;
    assert_int_equal(vmdl_sev_es_module_load(&cpu, &p, &m), 0);
    assert_false(vmdl_sev_es_module_sev_enabled(m));
    assert_false(vmdl_sev_es_module_sev_es_enabled(m));
    vmdl_sev_es_module_unload(m);
}

/* X86_FEATURE_SEV/SEV_ES/DEBUG_SWAP (CPUID 0x8000001F EAX 1, 3, 14) and
 * X86_FEATURE_NO_NESTED_DATA_BP (0x80000021 EAX 0); ECX/EDX the ASIDs. */
static void test_cpu_from_cpuid(void **state)
{
    (void)state;
    struct vmdl_sev_es_cpu c;
    vmdl_sev_es_cpu_from_cpuid((1u << 1) | (1u << 3) | (1u << 14), 509, 100, 1, &c);
    assert_true(c.sev && c.sev_es && c.debug_swap && c.no_nested_data_bp);
    assert_int_equal(c.max_sev_asid, 509);
    assert_int_equal(c.min_sev_asid, 100);
    vmdl_sev_es_cpu_from_cpuid(~((1u << 1) | (1u << 3) | (1u << 14)), 0, 0, ~1u, &c);
    assert_false(c.sev || c.sev_es || c.debug_swap || c.no_nested_data_bp);
}

/* "Tag sev_supported_vmsa_features as read-only after init": no change
 * after load; the 0444 parameters neither. */
static void test_setup_read_only_after_init(void **state)
{
    (void)state;
    struct vmdl_sev_es_module *m = load(VMDL_SEV_ES_STEP_CURRENT, -1);
    assert_int_equal(vmdl_sev_es_module_set_supported_vmsa_features(m, 0),
                     VMDL_ESTATE);
    assert_true(msg_has("read-only after init"));
    assert_int_equal(vmdl_sev_es_module_supported_vmsa_features(m), DS);
    assert_int_equal(vmdl_sev_es_module_set_param(m, "debug_swap", 0), VMDL_ENOENT);
    assert_int_equal(vmdl_sev_es_module_set_param(m, "sev_es", 0), VMDL_ESTATE);
    assert_true(vmdl_sev_es_module_sev_es_enabled(m));
    vmdl_sev_es_module_unload(m);
    m = load(VMDL_SEV_ES_STEP_REENABLED, -1);
    assert_int_equal(vmdl_sev_es_module_set_param(m, "debug_swap", 0), VMDL_ESTATE);
    assert_int_equal(vmdl_sev_es_module_supported_vmsa_features(m), DS);
    vmdl_sev_es_module_unload(m);
}

/* "Drop the module param": debug_swap= is an unknown parameter, ignored. */
static void test_setup_current_ignores_param(void **state)
{
    (void)state;
    struct vmdl_sev_es_module *m = load(VMDL_SEV_ES_STEP_CURRENT, 0);
    assert_true(vmdl_sev_es_module_param_ignored(m));
    assert_int_equal(vmdl_sev_es_module_supported_vmsa_features(m), DS);
    vmdl_sev_es_module_unload(m);
}

/* sev_hardware_setup at each step of the history: the parameter's default
 * and an explicit value. */
static void test_history_defaults(void **state)
{
    (void)state;
    static const struct {
        enum vmdl_sev_es_step step;
        int param;
        uint64_t want;
    } rows[] = {
        {VMDL_SEV_ES_STEP_ENABLED, -1, DS},
        {VMDL_SEV_ES_STEP_ENABLED, 0, 0},
        {VMDL_SEV_ES_STEP_DEFAULT_OFF, -1, 0},
        {VMDL_SEV_ES_STEP_DEFAULT_OFF, 1, DS},
        {VMDL_SEV_ES_STEP_INIT2, -1, 0},
        {VMDL_SEV_ES_STEP_INIT2, 1, DS},
        {VMDL_SEV_ES_STEP_REENABLED, -1, DS},
        {VMDL_SEV_ES_STEP_REENABLED, 0, 0},
        {VMDL_SEV_ES_STEP_CURRENT, -1, DS},
        {VMDL_SEV_ES_STEP_CURRENT, 0, DS},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct vmdl_sev_es_module *m = load(rows[i].step, rows[i].param);
        assert_int_equal(vmdl_sev_es_module_supported_vmsa_features(m), rows[i].want);
        assert_int_equal(vmdl_sev_es_module_step(m), rows[i].step);
        vmdl_sev_es_module_unload(m);
    }
}

static void test_step_names(void **state)
{
    (void)state;
    for (unsigned s = 0; s < VMDL_SEV_ES_STEP_COUNT; s++) {
        enum vmdl_sev_es_step back;
        assert_int_equal(vmdl_sev_es_step_from_name(vmdl_sev_es_step_name(s), &back), 0);
        assert_int_equal(back, s);
    }
    enum vmdl_sev_es_step back;
    assert_int_equal(vmdl_sev_es_step_from_name("6.9", &back), VMDL_ENOENT);
    assert_false(vmdl_sev_es_step_has_param(VMDL_SEV_ES_STEP_CURRENT));
    assert_true(vmdl_sev_es_step_has_init2(VMDL_SEV_ES_STEP_CURRENT));
    assert_false(vmdl_sev_es_step_has_init2(VMDL_SEV_ES_STEP_DEFAULT_OFF));
}

static void test_load_bad_args(void **state)
{
    (void)state;
    struct vmdl_sev_es_cpu cpu;
    vmdl_sev_es_cpu_default(&cpu);
    struct vmdl_sev_es_load_params p;
    vmdl_sev_es_load_params_init(&p);
    struct vmdl_sev_es_module *m = NULL;
    assert_int_equal(vmdl_sev_es_module_load(NULL, &p, &m), VMDL_EINVAL);
    p.debug_swap = 2;
    assert_int_equal(vmdl_sev_es_module_load(&cpu, &p, &m), VMDL_EINVAL);
    p.debug_swap = -1;
    p.step = VMDL_SEV_ES_STEP_COUNT;
    assert_int_equal(vmdl_sev_es_module_load(&cpu, &p, &m), VMDL_EINVAL);
    p.step = VMDL_SEV_ES_STEP_CURRENT;
    cpu.max_sev_asid = 1u << 20;
    assert_int_equal(vmdl_sev_es_module_load(&cpu, &p, &m), VMDL_ERANGE);
    cpu.max_sev_asid = 10;
    cpu.min_sev_asid = 0;
    assert_int_equal(vmdl_sev_es_module_load(&cpu, &p, &m), VMDL_EINVAL);
    assert_null(m);
}

static void test_unload_in_use(void **state)
{
    (void)state;
    struct vmdl_sev_es_module *m = load(VMDL_SEV_ES_STEP_CURRENT, -1);
    struct vmdl_sev_es_vm *vm = mkvm(m, VMDL_KVM_X86_DEFAULT_VM);
    assert_int_equal(vmdl_sev_es_module_unload(m), VMDL_ESTATE);
    teardown(m, vm);
}

/* ---- sev_dev_get_attr ---- */

/* sev_dev_get_attr: (KVM_X86_GRP_SEV, KVM_X86_SEV_VMSA_FEATURES) returns
 * sev_supported_vmsa_features; anything else -ENXIO. */
static void test_dev_attr(void **state)
{
    (void)state;
    struct vmdl_sev_es_module *m = load(VMDL_SEV_ES_STEP_CURRENT, -1);
    uint64_t v = 0;
    assert_int_equal(vmdl_sev_es_dev_get_attr(m, VMDL_KVM_X86_GRP_SEV,
                                              VMDL_KVM_X86_SEV_VMSA_FEATURES, &v), 0);
    assert_int_equal(v, DS);
    v = 77;
    assert_int_equal(vmdl_sev_es_dev_get_attr(m, VMDL_KVM_X86_GRP_SEV, 1, &v), -ENXIO);
    assert_int_equal(vmdl_sev_es_dev_get_attr(m, 2, 0, &v), -ENXIO);
    assert_int_equal(v, 77);
    assert_int_equal(vmdl_sev_es_dev_get_attr(m, 1, 0, NULL), -EFAULT);
    vmdl_sev_es_module_unload(m);
    m = load(VMDL_SEV_ES_STEP_INIT2, -1);
    assert_int_equal(vmdl_sev_es_dev_get_attr(m, 1, 0, &v), 0);
    assert_int_equal(v, 0);
    vmdl_sev_es_module_unload(m);
}

/* "KVM: SEV: publish supported VMSA features" came with KVM_SEV_INIT2:
 * before it, no such attribute. */
static void test_dev_attr_absent_before_init2(void **state)
{
    (void)state;
    struct vmdl_sev_es_module *m = load(VMDL_SEV_ES_STEP_ENABLED, -1);
    uint64_t v = 0;
    assert_int_equal(vmdl_sev_es_dev_get_attr(m, 1, 0, &v), -ENXIO);
    vmdl_sev_es_module_unload(m);
}

/* ---- VM types (kvm_arch_init_vm, sev_vm_init) ---- */

static void test_vm_types(void **state)
{
    (void)state;
    struct vmdl_sev_es_module *m = load(VMDL_SEV_ES_STEP_CURRENT, -1);
    struct vmdl_sev_es_vm *vm = NULL;
    for (unsigned t = 0; t < 8; t++) {
        int want = (t == 0 || t == 2 || t == 3) ? 0 : -EINVAL;
        assert_int_equal(vmdl_sev_es_vm_create(m, t, &vm), want);
        if (!want) {
            assert_int_equal(vmdl_sev_es_vm_need_init(vm), t != 0);
            assert_false(vmdl_sev_es_vm_active(vm));
            vmdl_sev_es_vm_destroy(vm);
        }
    }
    vmdl_sev_es_module_unload(m);
    struct vmdl_sev_es_load_params p;
    vmdl_sev_es_load_params_init(&p);
    p.sev_es_off = true;
    struct vmdl_sev_es_cpu cpu;
    vmdl_sev_es_cpu_default(&cpu);
    assert_int_equal(vmdl_sev_es_module_load(&cpu, &p, &m), 0);
    assert_int_equal(vmdl_sev_es_vm_create(m, VMDL_KVM_X86_SEV_ES_VM, &vm), -EINVAL);
    assert_int_equal(vmdl_sev_es_vm_create(m, VMDL_KVM_X86_SEV_VM, &vm), 0);
    teardown(m, vm);
    m = load(VMDL_SEV_ES_STEP_DEFAULT_OFF, -1);
    assert_int_equal(vmdl_sev_es_vm_create(m, VMDL_KVM_X86_SEV_ES_VM, &vm), -EINVAL);
    vmdl_sev_es_module_unload(m);
}

/* ---- KVM_SEV_INIT2 (sev_guest_init2, __sev_guest_init) ---- */

/* __sev_guest_init: the VMM's choice becomes the VM's features; GHCB
 * version defaults to 2; an SEV-ES ASID (1..min_sev_asid-1). */
static void test_init2_sets_features(void **state)
{
    (void)state;
    struct vmdl_sev_es_module *m = load(VMDL_SEV_ES_STEP_CURRENT, -1);
    for (unsigned pass = 0; pass < 2; pass++) {
        uint64_t f = pass ? DS : 0;
        struct vmdl_sev_es_vm *vm = mkvm(m, VMDL_KVM_X86_SEV_ES_VM);
        assert_int_equal(init2(vm, f, 0, 0), 0);
        assert_true(vmdl_sev_es_vm_active(vm) && vmdl_sev_es_vm_es_active(vm));
        assert_false(vmdl_sev_es_vm_need_init(vm));
        assert_int_equal(vmdl_sev_es_vm_vmsa_features(vm), f);
        assert_int_equal(vmdl_sev_es_vm_ghcb_version(vm), 2);
        assert_in_range(vmdl_sev_es_vm_asid(vm), 1, 99);
        vmdl_sev_es_vm_destroy(vm);
    }
    vmdl_sev_es_module_unload(m);
}

/* __sev_guest_init: vmsa_features must be a subset of the supported set;
 * a refused init changes nothing. */
static void test_init2_unsupported_features(void **state)
{
    (void)state;
    struct vmdl_sev_es_module *m = load(VMDL_SEV_ES_STEP_CURRENT, -1);
    struct vmdl_sev_es_vm *vm = mkvm(m, VMDL_KVM_X86_SEV_ES_VM);
    static const uint64_t bad[] = {VMDL_SVM_SEV_FEAT_SNP_ACTIVE, 1u << 6,
                                   DS | (UINT64_C(1) << 63), ~UINT64_C(0)};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(init2(vm, bad[i], 0, 0), -EINVAL);
        assert_true(msg_has("vmsa_features"));
        assert_false(vmdl_sev_es_vm_active(vm));
        assert_true(vmdl_sev_es_vm_need_init(vm));
    }
    teardown(m, vm);
    struct vmdl_sev_es_cpu cpu;
    vmdl_sev_es_cpu_default(&cpu);
    cpu.debug_swap = false;
    m = load_ex(&cpu, VMDL_SEV_ES_STEP_CURRENT, -1);
    vm = mkvm(m, VMDL_KVM_X86_SEV_ES_VM);
    assert_int_equal(init2(vm, DS, 0, 0), -EINVAL);
    assert_int_equal(init2(vm, 0, 0, 0), 0);
    teardown(m, vm);
}

/* __sev_guest_init: flags must be 0. */
static void test_init2_flags(void **state)
{
    (void)state;
    struct vmdl_sev_es_module *m = load(VMDL_SEV_ES_STEP_CURRENT, -1);
    struct vmdl_sev_es_vm *vm = mkvm(m, VMDL_KVM_X86_SEV_ES_VM);
    assert_int_equal(init2(vm, 0, 1, 0), -EINVAL);
    assert_int_equal(init2(vm, 0, 0x80000000u, 0), -EINVAL);
    assert_true(msg_has("flags"));
    assert_int_equal(init2(vm, 0, 0, 0), 0);
    teardown(m, vm);
}

/* __sev_guest_init: ghcb_version <= GHCB_VERSION_MAX (2); 0 means 2. */
static void test_init2_ghcb_version(void **state)
{
    (void)state;
    struct vmdl_sev_es_module *m = load(VMDL_SEV_ES_STEP_CURRENT, -1);
    for (unsigned g = 0; g < 5; g++) {
        struct vmdl_sev_es_vm *vm = mkvm(m, VMDL_KVM_X86_SEV_ES_VM);
        assert_int_equal(init2(vm, DS, 0, (uint16_t)g), g <= 2 ? 0 : -EINVAL);
        if (g <= 2)
            assert_int_equal(vmdl_sev_es_vm_ghcb_version(vm), g ? g : 2);
        vmdl_sev_es_vm_destroy(vm);
    }
    vmdl_sev_es_module_unload(m);
}

/* __sev_guest_init: a plain SEV VM has no VMSA: features 0, GHCB 0. */
static void test_init2_sev_vm(void **state)
{
    (void)state;
    struct vmdl_sev_es_module *m = load(VMDL_SEV_ES_STEP_CURRENT, -1);
    struct vmdl_sev_es_vm *vm = mkvm(m, VMDL_KVM_X86_SEV_VM);
    assert_int_equal(init2(vm, DS, 0, 0), -EINVAL);
    assert_int_equal(init2(vm, 0, 0, 1), -EINVAL);
    assert_true(msg_has("ghcb_version"));
    assert_int_equal(init2(vm, 0, 0, 0), 0);
    assert_true(vmdl_sev_es_vm_active(vm));
    assert_false(vmdl_sev_es_vm_es_active(vm));
    assert_int_equal(vmdl_sev_es_vm_ghcb_version(vm), 0);
    assert_in_range(vmdl_sev_es_vm_asid(vm), 100, 509);
    teardown(m, vm);
}

/* __sev_guest_init's order: created vCPUs, flags, features, GHCB version
 * (each failing input also has every later one wrong). */
static void test_init2_check_order(void **state)
{
    (void)state;
    struct vmdl_sev_es_module *m = load(VMDL_SEV_ES_STEP_CURRENT, -1);
    struct vmdl_sev_es_vm *vm = mkvm(m, VMDL_KVM_X86_SEV_ES_VM);
    mkvcpu(vm);
    assert_int_equal(init2(vm, 1, 1, 9), -EINVAL);
    assert_true(msg_has("vCPU"));
    vmdl_sev_es_vm_destroy(vm);
    vm = mkvm(m, VMDL_KVM_X86_SEV_ES_VM);
    assert_int_equal(init2(vm, 1, 1, 9), -EINVAL);
    assert_true(msg_has("flags"));
    assert_int_equal(init2(vm, 1, 0, 9), -EINVAL);
    assert_true(msg_has("vmsa_features"));
    assert_int_equal(init2(vm, 0, 0, 9), -EINVAL);
    assert_true(msg_has("ghcb_version"));
    teardown(m, vm);
}

/* sev_guest_init2: need_init first (a second INIT2, a default VM), then the
 * VM type, then the argument pointer. */
static void test_init2_once_and_type(void **state)
{
    (void)state;
    struct vmdl_sev_es_module *m = load(VMDL_SEV_ES_STEP_CURRENT, -1);
    struct vmdl_sev_es_vm *vm = mkvm(m, VMDL_KVM_X86_SEV_ES_VM);
    assert_int_equal(vmdl_sev_es_mem_enc_op(vm, VMDL_KVM_SEV_INIT2, NULL), -EFAULT);
    assert_int_equal(init2(vm, DS, 0, 0), 0);
    unsigned asid = vmdl_sev_es_vm_asid(vm);
    assert_int_equal(init2(vm, 0, 0, 0), -EINVAL);
    assert_true(msg_has("does not need init"));
    assert_int_equal(vmdl_sev_es_vm_vmsa_features(vm), DS);
    assert_int_equal(vmdl_sev_es_vm_asid(vm), asid);
    vmdl_sev_es_vm_destroy(vm);
    vm = mkvm(m, VMDL_KVM_X86_DEFAULT_VM);
    assert_int_equal(init2(vm, 0, 0, 0), -EINVAL);
    assert_false(vmdl_sev_es_vm_active(vm));
    teardown(m, vm);
}

/* sev_mem_enc_ioctl: KVM_SEV_INIT2 did not exist before its commit. */
static void test_init2_absent_before_its_step(void **state)
{
    (void)state;
    struct vmdl_sev_es_module *m = load(VMDL_SEV_ES_STEP_DEFAULT_OFF, 1);
    struct vmdl_sev_es_vm *vm = mkvm(m, VMDL_KVM_X86_DEFAULT_VM);
    assert_int_equal(init2(vm, 0, 0, 0), -EINVAL);
    assert_false(vmdl_sev_es_vm_active(vm));
    assert_int_equal(vmdl_sev_es_mem_enc_op(vm, 99, NULL), -EINVAL);
    teardown(m, vm);
}

/* ---- legacy KVM_SEV_INIT / KVM_SEV_ES_INIT (sev_guest_init) ---- */

/* sev_guest_init: KVM_SEV_ES_INIT gets no VMSA features and GHCB
 * version 1 even where DebugSwap is supported. */
static void test_legacy_es_init(void **state)
{
    (void)state;
    struct vmdl_sev_es_module *m = load(VMDL_SEV_ES_STEP_CURRENT, -1);
    struct vmdl_sev_es_vm *vm = mkvm(m, VMDL_KVM_X86_DEFAULT_VM);
    assert_int_equal(vmdl_sev_es_mem_enc_op(vm, VMDL_KVM_SEV_ES_INIT, NULL), 0);
    assert_true(vmdl_sev_es_vm_es_active(vm));
    assert_int_equal(vmdl_sev_es_vm_vmsa_features(vm), 0);
    assert_int_equal(vmdl_sev_es_vm_ghcb_version(vm), 1);
    assert_int_equal(vmdl_sev_es_mem_enc_op(vm, VMDL_KVM_SEV_ES_INIT, NULL), -EINVAL);
    assert_true(msg_has("already initialized"));
    vmdl_sev_es_vm_destroy(vm);
    vm = mkvm(m, VMDL_KVM_X86_DEFAULT_VM);
    assert_int_equal(vmdl_sev_es_mem_enc_op(vm, VMDL_KVM_SEV_INIT, NULL), 0);
    assert_false(vmdl_sev_es_vm_es_active(vm));
    assert_int_equal(vmdl_sev_es_vm_ghcb_version(vm), 0);
    teardown(m, vm);
}

/* sev_guest_init: only on KVM_X86_DEFAULT_VM; sev_mem_enc_ioctl: -ENOTTY
 * without SEV, KVM_SEV_ES_INIT -ENOTTY without SEV-ES. */
static void test_legacy_refusals(void **state)
{
    (void)state;
    struct vmdl_sev_es_module *m = load(VMDL_SEV_ES_STEP_CURRENT, -1);
    struct vmdl_sev_es_vm *vm = mkvm(m, VMDL_KVM_X86_SEV_ES_VM);
    assert_int_equal(vmdl_sev_es_mem_enc_op(vm, VMDL_KVM_SEV_ES_INIT, NULL), -EINVAL);
    assert_int_equal(vmdl_sev_es_mem_enc_op(vm, VMDL_KVM_SEV_INIT, NULL), -EINVAL);
    assert_true(vmdl_sev_es_vm_need_init(vm));
    teardown(m, vm);
    struct vmdl_sev_es_cpu cpu;
    vmdl_sev_es_cpu_default(&cpu);
    cpu.sev_es = false;
    m = load_ex(&cpu, VMDL_SEV_ES_STEP_CURRENT, -1);
    vm = mkvm(m, VMDL_KVM_X86_DEFAULT_VM);
    assert_int_equal(vmdl_sev_es_mem_enc_op(vm, VMDL_KVM_SEV_ES_INIT, NULL), -ENOTTY);
    assert_int_equal(vmdl_sev_es_mem_enc_op(vm, VMDL_KVM_SEV_INIT, NULL), 0);
    teardown(m, vm);
    cpu.sev = false;
    m = load_ex(&cpu, VMDL_SEV_ES_STEP_CURRENT, -1);
    vm = mkvm(m, VMDL_KVM_X86_DEFAULT_VM);
    assert_int_equal(vmdl_sev_es_mem_enc_op(vm, VMDL_KVM_SEV_INIT, NULL), -ENOTTY);
    assert_int_equal(vmdl_sev_es_mem_enc_op(vm, VMDL_KVM_SEV_INIT2, NULL), -ENOTTY);
    teardown(m, vm);
}

/* sev_es_sync_vmsa before KVM_SEV_INIT2: the debug_swap parameter alone
 * decided, so KVM_SEV_ES_INIT VMs got DebugSwap; after, never. */
static void test_legacy_history(void **state)
{
    (void)state;
    static const struct {
        enum vmdl_sev_es_step step;
        int param;
        uint64_t want;
    } rows[] = {
        {VMDL_SEV_ES_STEP_ENABLED, -1, DS},
        {VMDL_SEV_ES_STEP_DEFAULT_OFF, -1, 0},
        {VMDL_SEV_ES_STEP_DEFAULT_OFF, 1, DS},
        {VMDL_SEV_ES_STEP_INIT2, 1, 0},
        {VMDL_SEV_ES_STEP_REENABLED, -1, 0},
        {VMDL_SEV_ES_STEP_CURRENT, -1, 0},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct vmdl_sev_es_module *m = load(rows[i].step, rows[i].param);
        struct vmdl_sev_es_vm *vm = mkvm(m, VMDL_KVM_X86_DEFAULT_VM);
        struct vmdl_sev_es_vcpu *v = mkvcpu(vm);
        assert_int_equal(vmdl_sev_es_mem_enc_op(vm, VMDL_KVM_SEV_ES_INIT, NULL),
                         -EINVAL); /* vCPU created first */
        vmdl_sev_es_vm_destroy(vm);
        vm = mkvm(m, VMDL_KVM_X86_DEFAULT_VM);
        assert_int_equal(vmdl_sev_es_mem_enc_op(vm, VMDL_KVM_SEV_ES_INIT, NULL), 0);
        v = mkvcpu(vm);
        launch(vm);
        assert_int_equal(vmdl_sev_es_vcpu_sev_features(v), rows[i].want);
        teardown(m, vm);
    }
}

/* sev_asid_new: -EBUSY when SEV-ES ASIDs run out, reusable after the VM
 * goes; -ENOTTY when the range is empty (min_sev_asid > max_sev_asid). */
static void test_asids(void **state)
{
    (void)state;
    struct vmdl_sev_es_cpu cpu;
    vmdl_sev_es_cpu_default(&cpu);
    cpu.min_sev_asid = 3;
    cpu.max_sev_asid = 2;
    struct vmdl_sev_es_module *m = load_ex(&cpu, VMDL_SEV_ES_STEP_CURRENT, -1);
    struct vmdl_sev_es_vm *a = mkvm(m, VMDL_KVM_X86_SEV_ES_VM);
    struct vmdl_sev_es_vm *b = mkvm(m, VMDL_KVM_X86_SEV_ES_VM);
    struct vmdl_sev_es_vm *c = mkvm(m, VMDL_KVM_X86_SEV_ES_VM);
    struct vmdl_sev_es_vm *s = mkvm(m, VMDL_KVM_X86_SEV_VM);
    assert_int_equal(init2(a, DS, 0, 0), 0);
    assert_int_equal(init2(b, 0, 0, 0), 0);
    assert_int_not_equal(vmdl_sev_es_vm_asid(a), vmdl_sev_es_vm_asid(b));
    assert_int_equal(init2(c, 0, 0, 0), -EBUSY);
    assert_true(vmdl_sev_es_vm_need_init(c));
    assert_false(vmdl_sev_es_vm_active(c));
    assert_int_equal(vmdl_sev_es_vm_vmsa_features(c), 0);
    assert_int_equal(init2(s, 0, 0, 0), -ENOTTY);
    vmdl_sev_es_vm_destroy(a);
    assert_int_equal(init2(c, 0, 0, 0), 0);
    vmdl_sev_es_vm_destroy(b);
    vmdl_sev_es_vm_destroy(c);
    teardown(m, s);
}

/* ---- launch (sev_launch_update_vmsa, sev_es_sync_vmsa) ---- */

/* sev_es_sync_vmsa: save->sev_features = sev->vmsa_features, every vCPU. */
static void test_launch_copies_features(void **state)
{
    (void)state;
    struct vmdl_sev_es_module *m = load(VMDL_SEV_ES_STEP_CURRENT, -1);
    struct vmdl_sev_es_vm *vm = mkvm(m, VMDL_KVM_X86_SEV_ES_VM);
    assert_int_equal(init2(vm, DS, 0, 0), 0);
    struct vmdl_sev_es_vcpu *v0 = mkvcpu(vm), *v1 = mkvcpu(vm);
    assert_int_equal(vmdl_sev_es_vcpu_sev_features(v0), 0);
    assert_false(vmdl_sev_es_vcpu_protected(v0));
    launch(vm);
    assert_int_equal(vmdl_sev_es_vcpu_sev_features(v0), DS);
    assert_int_equal(vmdl_sev_es_vcpu_sev_features(v1), DS);
    assert_true(vmdl_sev_es_vcpu_protected(v1));
    assert_int_equal(vmdl_sev_es_vm_fw_state(vm), VMDL_SEV_FW_RUNNING);
    uint64_t in[4] = {0};
    assert_int_equal(vmdl_sev_es_launch_inputs(vm, in, 4), 2);
    assert_int_equal(in[0], DS);
    assert_int_equal(in[1], DS);
    teardown(m, vm);
}

/* sev_launch_update_vmsa: -ENOTTY for a plain SEV guest; the firmware
 * wants LAUNCH_START first (LUPDATE), MEASURE before FINISH. */
static void test_launch_state_machine(void **state)
{
    (void)state;
    struct vmdl_sev_es_module *m = load(VMDL_SEV_ES_STEP_CURRENT, -1);
    struct vmdl_sev_es_vm *vm = mkvm(m, VMDL_KVM_X86_SEV_VM);
    assert_int_equal(vmdl_sev_es_mem_enc_op(vm, VMDL_KVM_SEV_LAUNCH_START, NULL),
                     -ENOTTY);
    assert_int_equal(init2(vm, 0, 0, 0), 0);
    assert_int_equal(vmdl_sev_es_mem_enc_op(vm, VMDL_KVM_SEV_LAUNCH_UPDATE_VMSA,
                                            NULL), -ENOTTY);
    vmdl_sev_es_vm_destroy(vm);
    vm = mkvm(m, VMDL_KVM_X86_SEV_ES_VM);
    assert_int_equal(init2(vm, DS, 0, 0), 0);
    struct vmdl_sev_es_vcpu *v = mkvcpu(vm);
    assert_int_equal(vmdl_sev_es_mem_enc_op(vm, VMDL_KVM_SEV_LAUNCH_UPDATE_VMSA,
                                            NULL), -EIO);
    assert_int_equal(vmdl_sev_es_mem_enc_op(vm, VMDL_KVM_SEV_LAUNCH_MEASURE, NULL), -EIO);
    assert_int_equal(vmdl_sev_es_mem_enc_op(vm, VMDL_KVM_SEV_LAUNCH_FINISH, NULL), -EIO);
    assert_false(vmdl_sev_es_vcpu_protected(v));
    launch(vm);
    assert_int_equal(vmdl_sev_es_mem_enc_op(vm, VMDL_KVM_SEV_LAUNCH_START, NULL), -EIO);
    assert_int_equal(vmdl_sev_es_mem_enc_op(vm, VMDL_KVM_SEV_LAUNCH_UPDATE_VMSA,
                                            NULL), -EIO);
    assert_int_equal(vmdl_sev_es_mem_enc_op(vm, VMDL_KVM_SEV_LAUNCH_FINISH, NULL), -EIO);
    teardown(m, vm);
}

/* sev_es_sync_vmsa: DR7 beyond DR7_FIXED_1 and guest debug are refused;
 * vCPUs before the failing one stay launched. */
static void test_launch_pre_encryption_checks(void **state)
{
    (void)state;
    struct vmdl_sev_es_module *m = load(VMDL_SEV_ES_STEP_CURRENT, -1);
    struct vmdl_sev_es_vm *vm = mkvm(m, VMDL_KVM_X86_SEV_ES_VM);
    assert_int_equal(init2(vm, DS, 0, 0), 0);
    struct vmdl_sev_es_vcpu *v0 = mkvcpu(vm), *v1 = mkvcpu(vm);
    struct vmdl_sev_es_dregs d;
    vmdl_sev_es_vcpu_vmsa_dregs(v1, &d);
    d.dr7 = 0x401;
    assert_int_equal(vmdl_sev_es_vcpu_set_debugregs(v1, &d), 0);
    assert_int_equal(vmdl_sev_es_mem_enc_op(vm, VMDL_KVM_SEV_LAUNCH_START, NULL), 0);
    assert_int_equal(vmdl_sev_es_mem_enc_op(vm, VMDL_KVM_SEV_LAUNCH_UPDATE_VMSA,
                                            NULL), -EINVAL);
    assert_true(msg_has("DR7"));
    assert_true(vmdl_sev_es_vcpu_protected(v0));
    assert_false(vmdl_sev_es_vcpu_protected(v1));
    assert_int_equal(vmdl_sev_es_vcpu_sev_features(v1), 0);
    d.dr7 = 0x400;
    assert_int_equal(vmdl_sev_es_vcpu_set_debugregs(v1, &d), 0);
    assert_int_equal(vmdl_sev_es_vcpu_set_guest_debug(v1, true), 0);
    assert_int_equal(vmdl_sev_es_mem_enc_op(vm, VMDL_KVM_SEV_LAUNCH_UPDATE_VMSA,
                                            NULL), -EINVAL);
    assert_true(msg_has("GUEST_DEBUG"));
    assert_int_equal(vmdl_sev_es_vcpu_set_guest_debug(v1, false), 0);
    assert_int_equal(vmdl_sev_es_mem_enc_op(vm, VMDL_KVM_SEV_LAUNCH_UPDATE_VMSA,
                                            NULL), 0);
    assert_true(vmdl_sev_es_vcpu_protected(v1));
    teardown(m, vm);
}

/* kvm_vcpu_ioctl_x86_set_debugregs: DR6/DR7 bits 63:32 are -EINVAL. */
static void test_set_debugregs_checks(void **state)
{
    (void)state;
    struct vmdl_sev_es_module *m = load(VMDL_SEV_ES_STEP_CURRENT, -1);
    struct vmdl_sev_es_vm *vm = mkvm(m, VMDL_KVM_X86_SEV_ES_VM);
    struct vmdl_sev_es_vcpu *v = mkvcpu(vm);
    struct vmdl_sev_es_dregs d;
    vmdl_sev_es_vcpu_vmsa_dregs(v, &d);
    assert_int_equal(d.dr7, 0x400);
    assert_int_equal(d.dr6, 0xffff0ff0);
    d.dr7 = UINT64_C(1) << 32;
    assert_int_equal(vmdl_sev_es_vcpu_set_debugregs(v, &d), -EINVAL);
    d.dr7 = 0x400;
    d.dr6 = UINT64_C(1) << 40;
    assert_int_equal(vmdl_sev_es_vcpu_set_debugregs(v, &d), -EINVAL);
    teardown(m, vm);
}

/* After launch the VMSA's SEV_FEATURES are frozen: no re-init, no debug
 * registers or guest debug from the VMM (has_protected_state), a repeated
 * launch refused by the firmware. */
static void test_features_frozen_after_launch(void **state)
{
    (void)state;
    struct vmdl_sev_es_module *m = load(VMDL_SEV_ES_STEP_CURRENT, -1);
    struct vmdl_sev_es_vm *vm;
    struct vmdl_sev_es_vcpu *v = es_vcpu(m, DS, &vm);
    struct vmdl_sev_es_dregs d;
    vmdl_sev_es_vcpu_vmsa_dregs(v, &d);
    assert_int_equal(init2(vm, 0, 0, 0), -EINVAL);
    assert_int_equal(vmdl_sev_es_mem_enc_op(vm, VMDL_KVM_SEV_ES_INIT, NULL), -EINVAL);
    d.dr[0] = 0x1234;
    assert_int_equal(vmdl_sev_es_vcpu_set_debugregs(v, &d), -EINVAL);
    assert_int_equal(vmdl_sev_es_vcpu_set_guest_debug(v, true), -EINVAL);
    struct vmdl_sev_es_vcpu *late = NULL;
    assert_int_equal(vmdl_sev_es_vcpu_create(vm, &late), 0);
    assert_int_equal(vmdl_sev_es_vcpu_sev_features(late), 0);
    assert_int_equal(vmdl_sev_es_vcpu_enter(late), -EINVAL);
    assert_int_equal(vmdl_sev_es_vcpu_sev_features(v), DS);
    assert_int_equal(vmdl_sev_es_vm_vmsa_features(vm), DS);
    struct vmdl_sev_es_dregs after;
    vmdl_sev_es_vcpu_vmsa_dregs(v, &after);
    assert_int_equal(after.dr[0], 0);
    teardown(m, vm);
}

/* A legacy (KVM_X86_DEFAULT_VM) SEV-ES VM has no has_protected_state:
 * KVM_SET_DEBUGREGS succeeds but cannot reach the encrypted VMSA. */
static void test_legacy_set_debugregs_after_launch(void **state)
{
    (void)state;
    struct vmdl_sev_es_module *m = load(VMDL_SEV_ES_STEP_CURRENT, -1);
    struct vmdl_sev_es_vm *vm = mkvm(m, VMDL_KVM_X86_DEFAULT_VM);
    assert_int_equal(vmdl_sev_es_mem_enc_op(vm, VMDL_KVM_SEV_ES_INIT, NULL), 0);
    struct vmdl_sev_es_vcpu *v = mkvcpu(vm);
    launch(vm);
    struct vmdl_sev_es_dregs d;
    vmdl_sev_es_vcpu_vmsa_dregs(v, &d);
    d.dr[1] = 0xabc;
    assert_int_equal(vmdl_sev_es_vcpu_set_debugregs(v, &d), 0);
    vmdl_sev_es_vcpu_vmsa_dregs(v, &d);
    assert_int_equal(d.dr[1], 0);
    teardown(m, vm);
}

/* The attestation break: the same VMM (KVM_SEV_ES_INIT, one vCPU) under
 * the "enabled" and "default-off" kernels measures differently; under
 * KVM_SEV_INIT2 the VMM's choice decides, whatever the default. */
static void test_measurement_differs_between_defaults(void **state)
{
    (void)state;
    uint64_t digest[2], in[2][2];
    for (unsigned k = 0; k < 2; k++) {
        struct vmdl_sev_es_module *m = load(k ? VMDL_SEV_ES_STEP_DEFAULT_OFF
                                              : VMDL_SEV_ES_STEP_ENABLED, -1);
        struct vmdl_sev_es_vm *vm = mkvm(m, VMDL_KVM_X86_DEFAULT_VM);
        assert_int_equal(vmdl_sev_es_mem_enc_op(vm, VMDL_KVM_SEV_ES_INIT, NULL), 0);
        mkvcpu(vm);
        launch(vm);
        assert_int_equal(vmdl_sev_es_launch_inputs(vm, in[k], 2), 1);
        digest[k] = vmdl_sev_es_launch_digest(vm);
        teardown(m, vm);
    }
    assert_int_equal(in[0][0], DS);
    assert_int_equal(in[1][0], 0);
    assert_int_not_equal(digest[0], digest[1]);
    /* INIT2 with features 0 under the "reenabled" and current kernels. */
    for (unsigned k = 0; k < 2; k++) {
        struct vmdl_sev_es_module *m = load(k ? VMDL_SEV_ES_STEP_CURRENT
                                              : VMDL_SEV_ES_STEP_REENABLED, -1);
        struct vmdl_sev_es_vm *vm;
        es_vcpu(m, 0, &vm);
        digest[k] = vmdl_sev_es_launch_digest(vm);
        teardown(m, vm);
    }
    assert_int_equal(digest[0], digest[1]);
}

/* Equal inputs give equal digests; vCPU order counts. */
static void test_measurement_deterministic(void **state)
{
    (void)state;
    struct vmdl_sev_es_module *m = load(VMDL_SEV_ES_STEP_CURRENT, -1);
    struct vmdl_sev_es_vm *a, *b;
    es_vcpu(m, DS, &a);
    es_vcpu(m, DS, &b);
    assert_int_equal(vmdl_sev_es_launch_digest(a), vmdl_sev_es_launch_digest(b));
    struct vmdl_sev_es_vm *c;
    es_vcpu(m, 0, &c);
    assert_int_not_equal(vmdl_sev_es_launch_digest(a), vmdl_sev_es_launch_digest(c));
    vmdl_sev_es_vm_destroy(a);
    vmdl_sev_es_vm_destroy(b);
    teardown(m, c);
}

/* ---- guest view: SEV_STATUS, DR accesses, world switch ---- */

/* SEV_STATUS: SEV bit 0, SEV-ES bit 1, DebugSwap bit 7; read-only. */
static void test_sev_status(void **state)
{
    (void)state;
    struct vmdl_sev_es_module *m = load(VMDL_SEV_ES_STEP_CURRENT, -1);
    struct vmdl_sev_es_vm *vm;
    struct vmdl_sev_es_vcpu *v = es_vcpu(m, DS, &vm);
    uint64_t s = 0;
    assert_int_equal(vmdl_sev_es_rdmsr(v, VMDL_MSR_AMD64_SEV, &s), VMDL_FAULT_NONE);
    assert_int_equal(s, 0x83);
    assert_int_equal(vmdl_sev_es_wrmsr(v, VMDL_MSR_AMD64_SEV, 0), VMDL_FAULT_GP);
    assert_int_equal(vmdl_sev_es_rdmsr(v, VMDL_MSR_AMD64_SEV + 1, &s),
                     VMDL_FAULT_UNCLAIMED);
    vmdl_sev_es_vm_destroy(vm);
    v = es_vcpu(m, 0, &vm);
    assert_int_equal(vmdl_sev_es_sev_status(v), 0x3);
    vmdl_sev_es_vm_destroy(vm);
    vm = mkvm(m, VMDL_KVM_X86_SEV_VM);
    v = mkvcpu(vm);
    assert_int_equal(vmdl_sev_es_rdmsr(v, VMDL_MSR_AMD64_SEV, &s),
                     VMDL_FAULT_UNCLAIMED); /* not initialized yet */
    assert_int_equal(init2(vm, 0, 0, 0), -EINVAL); /* vCPU exists */
    vmdl_sev_es_vm_destroy(vm);
    vm = mkvm(m, VMDL_KVM_X86_SEV_VM);
    assert_int_equal(init2(vm, 0, 0, 0), 0);
    v = mkvcpu(vm);
    assert_int_equal(vmdl_sev_es_sev_status(v), 0x1);
    teardown(m, vm);
}

/* svm_vcpu_pre_run: a VM of an SEV type cannot run before KVM_SEV_INIT2;
 * an SEV-ES vCPU needs its VMSA. */
static void test_enter_preconditions(void **state)
{
    (void)state;
    struct vmdl_sev_es_module *m = load(VMDL_SEV_ES_STEP_CURRENT, -1);
    struct vmdl_sev_es_vm *vm = mkvm(m, VMDL_KVM_X86_SEV_ES_VM);
    struct vmdl_sev_es_vcpu *v = mkvcpu(vm);
    assert_int_equal(vmdl_sev_es_vcpu_enter(v), -EINVAL);
    assert_true(msg_has("KVM_SEV_INIT2"));
    vmdl_sev_es_vm_destroy(vm);
    v = es_vcpu(m, DS, &vm);
    assert_int_equal(vmdl_sev_es_vcpu_exit(v), VMDL_ESTATE);
    assert_int_equal(vmdl_sev_es_vcpu_enter(v), 0);
    assert_int_equal(vmdl_sev_es_vcpu_enter(v), VMDL_ESTATE);
    assert_int_equal(vmdl_sev_es_vcpu_exit(v), 0);
    teardown(m, vm);
}

static void set_host(struct vmdl_sev_es_vcpu *v, uint64_t dr7)
{
    struct vmdl_sev_es_dregs h;
    memset(&h, 0, sizeof(h));
    for (unsigned i = 0; i < 4; i++) {
        h.dr[i] = 0xffffffff81000000ull + i;
        h.addr_mask[i] = 0xf0u + i;
    }
    h.dr6 = VMDL_DR6_RESET;
    h.dr7 = dr7;
    assert_int_equal(vmdl_sev_es_vcpu_set_host_dregs(v, &h), 0);
}

static vmdl_fault movdr(struct vmdl_sev_es_vcpu *v, bool write, unsigned dr,
                        uint64_t *val, uint32_t *code)
{
    return vmdl_sev_es_mov_dr(v, write, dr, false, val, code);
}

/* DebugSwap: DR0-3, DR7 and the masks are the guest's inside, the host's
 * outside; the guest's survive the exit in the VMSA. */
static void test_debug_swap_world_switch(void **state)
{
    (void)state;
    struct vmdl_sev_es_module *m = load(VMDL_SEV_ES_STEP_CURRENT, -1);
    struct vmdl_sev_es_vm *vm;
    struct vmdl_sev_es_vcpu *v = es_vcpu(m, DS, &vm);
    set_host(v, 0x402); /* G0: a host breakpoint armed */
    assert_int_equal(vmdl_sev_es_vcpu_enter(v), 0);
    struct vmdl_sev_es_dregs live;
    vmdl_sev_es_vcpu_live_dregs(v, &live);
    assert_int_equal(live.dr[0], 0);
    assert_int_equal(live.dr7, 0x400);
    assert_int_equal(live.addr_mask[2], 0);
    uint64_t val = 0x7000;
    uint32_t code = 0;
    assert_int_equal(movdr(v, true, 0, &val, &code), VMDL_FAULT_NONE);
    val = 0x2003; /* L0 G0 ... with reserved bits: fixed up */
    assert_int_equal(movdr(v, true, 7, &val, &code), VMDL_FAULT_NONE);
    assert_int_equal(movdr(v, false, 7, &val, &code), VMDL_FAULT_NONE);
    assert_int_equal(val, 0x2403);
    assert_int_equal(vmdl_sev_es_vcpu_exit(v), 0);
    vmdl_sev_es_vcpu_live_dregs(v, &live);
    for (unsigned i = 0; i < 4; i++) {
        assert_int_equal(live.dr[i], 0xffffffff81000000ull + i);
        assert_int_equal(live.addr_mask[i], 0xf0u + i);
    }
    assert_int_equal(live.dr7, 0x402);
    struct vmdl_sev_es_dregs vmsa;
    vmdl_sev_es_vcpu_vmsa_dregs(v, &vmsa);
    assert_int_equal(vmsa.dr[0], 0x7000);
    assert_int_equal(vmsa.dr7, 0x2403);
    assert_int_equal(vmdl_sev_es_vcpu_enter(v), 0);
    assert_int_equal(movdr(v, false, 0, &val, &code), VMDL_FAULT_NONE);
    assert_int_equal(val, 0x7000);
    assert_int_equal(vmdl_sev_es_vcpu_exit(v), 0);
    teardown(m, vm);
}

/* sev_es_init_vmcb without DebugSwap: DR7 reads and writes are intercepted
 * (#VC with SVM_EXIT_READ_DR7 / WRITE_DR7), nothing changes; dr_interception
 * ignores the VMGEXIT. */
static void test_no_debug_swap_dr7_intercepted(void **state)
{
    (void)state;
    struct vmdl_sev_es_module *m = load(VMDL_SEV_ES_STEP_CURRENT, -1);
    struct vmdl_sev_es_vm *vm;
    struct vmdl_sev_es_vcpu *v = es_vcpu(m, 0, &vm);
    set_host(v, 0x402);
    assert_int_equal(vmdl_sev_es_vcpu_enter(v), 0);
    uint64_t val = 0x401;
    uint32_t code = 0;
    assert_int_equal(movdr(v, true, 7, &val, &code), VMDL_FAULT_VC);
    assert_int_equal(code, 0x37);
    assert_int_equal(movdr(v, false, 7, &val, &code), VMDL_FAULT_VC);
    assert_int_equal(code, 0x27);
    assert_int_equal(vmdl_sev_es_mov_dr(v, false, 5, false, &val, &code), VMDL_FAULT_VC);
    assert_int_equal(vmdl_sev_es_vmgexit_dr7(v, true, 0x401), 0);
    struct vmdl_sev_es_dregs live;
    vmdl_sev_es_vcpu_live_dregs(v, &live);
    assert_int_equal(live.dr7, 0x400); /* the VMSA's, swapped as type A */
    assert_int_equal(vmdl_sev_es_vcpu_exit(v), 0);
    vmdl_sev_es_vcpu_live_dregs(v, &live);
    assert_int_equal(live.dr7, 0x402);
    teardown(m, vm);
}

/* Without DebugSwap DR0-3 are neither intercepted nor swapped: the guest
 * writes the host's registers; KVM restores them (hw_breakpoint_restore)
 * only when the host has a breakpoint armed, so the guest then reads the
 * host's value; otherwise its own survives. */
static void test_no_debug_swap_dr0_3_shared(void **state)
{
    (void)state;
    struct vmdl_sev_es_module *m = load(VMDL_SEV_ES_STEP_CURRENT, -1);
    for (unsigned armed = 0; armed < 2; armed++) {
        struct vmdl_sev_es_vm *vm;
        struct vmdl_sev_es_vcpu *v = es_vcpu(m, 0, &vm);
        set_host(v, armed ? 0x402 : 0x400);
        assert_int_equal(vmdl_sev_es_vcpu_enter(v), 0);
        uint64_t val = 0;
        uint32_t code = 0;
        assert_int_equal(movdr(v, false, 1, &val, &code), VMDL_FAULT_NONE);
        assert_int_equal(val, 0xffffffff81000001ull); /* the host's DR1 */
        val = 0x5000;
        assert_int_equal(movdr(v, true, 1, &val, &code), VMDL_FAULT_NONE);
        assert_int_equal(vmdl_sev_es_vcpu_exit(v), 0);
        struct vmdl_sev_es_dregs live;
        vmdl_sev_es_vcpu_live_dregs(v, &live);
        assert_int_equal(live.dr[1], armed ? 0xffffffff81000001ull : 0x5000);
        assert_int_equal(live.addr_mask[1], 0xf1);
        assert_int_equal(vmdl_sev_es_vcpu_enter(v), 0);
        assert_int_equal(movdr(v, false, 1, &val, &code), VMDL_FAULT_NONE);
        assert_int_equal(val, armed ? 0xffffffff81000001ull : 0x5000);
        assert_int_equal(vmdl_sev_es_vcpu_exit(v), 0);
        vmdl_sev_es_vm_destroy(vm);
    }
    vmdl_sev_es_module_unload(m);
}

/* MOV DR encodings: DR4/DR5 alias DR6/DR7 unless CR4.DE (#UD), DR8+ #UD,
 * DR6/DR7 bits 63:32 #GP, DR6 fixed bits; not running or not SEV-ES:
 * not the model's access. */
static void test_mov_dr_encodings(void **state)
{
    (void)state;
    struct vmdl_sev_es_module *m = load(VMDL_SEV_ES_STEP_CURRENT, -1);
    struct vmdl_sev_es_vm *vm;
    struct vmdl_sev_es_vcpu *v = es_vcpu(m, DS, &vm);
    uint64_t val = 0;
    uint32_t code = 0;
    assert_int_equal(movdr(v, false, 0, &val, &code), VMDL_FAULT_UNCLAIMED);
    assert_int_equal(vmdl_sev_es_vcpu_enter(v), 0);
    assert_int_equal(vmdl_sev_es_mov_dr(v, false, 4, true, &val, &code), VMDL_FAULT_UD);
    assert_int_equal(vmdl_sev_es_mov_dr(v, false, 8, false, &val, &code), VMDL_FAULT_UD);
    val = UINT64_C(1) << 32;
    assert_int_equal(movdr(v, true, 6, &val, &code), VMDL_FAULT_GP);
    assert_int_equal(movdr(v, true, 7, &val, &code), VMDL_FAULT_GP);
    val = 0;
    assert_int_equal(vmdl_sev_es_mov_dr(v, true, 4, false, &val, &code), VMDL_FAULT_NONE);
    assert_int_equal(movdr(v, false, 6, &val, &code), VMDL_FAULT_NONE);
    assert_int_equal(val, 0xffff0ff0);
    val = 0x0000e00f | 0x800;
    assert_int_equal(movdr(v, true, 6, &val, &code), VMDL_FAULT_NONE);
    assert_int_equal(movdr(v, false, 6, &val, &code), VMDL_FAULT_NONE);
    assert_int_equal(val, 0xffffeff0 | 0xf);
    val = 0xfffffffffffffff0ull; /* DR0-3 take any 64-bit value */
    assert_int_equal(movdr(v, true, 3, &val, &code), VMDL_FAULT_NONE);
    assert_int_equal(movdr(v, false, 3, &val, &code), VMDL_FAULT_NONE);
    assert_int_equal(val, 0xfffffffffffffff0ull);
    assert_int_equal(vmdl_sev_es_vcpu_exit(v), 0);
    vmdl_sev_es_vm_destroy(vm);
    vm = mkvm(m, VMDL_KVM_X86_DEFAULT_VM);
    v = mkvcpu(vm);
    assert_int_equal(vmdl_sev_es_vcpu_enter(v), 0);
    assert_int_equal(movdr(v, false, 7, &val, &code), VMDL_FAULT_UNCLAIMED);
    assert_int_equal(vmdl_sev_es_rdmsr(v, VMDL_MSR_AMD64_SEV, &val), VMDL_FAULT_UNCLAIMED);
    assert_int_equal(vmdl_sev_es_vcpu_set_host_dregs(v, NULL), VMDL_EINVAL);
    struct vmdl_sev_es_dregs h;
    memset(&h, 0, sizeof(h));
    assert_int_equal(vmdl_sev_es_vcpu_set_host_dregs(v, &h), VMDL_ESTATE);
    assert_int_equal(vmdl_sev_es_vcpu_exit(v), 0);
    teardown(m, vm);
}

/* ---- state ---- */

static void save(const struct vmdl_sev_es_vm *vm, uint8_t **b, size_t *n)
{
    assert_int_equal(vmdl_sev_es_vm_save(vm, b, n), 0);
}

static void reseal(uint8_t *b, size_t n)
{
    uint32_t crc = vmdl_crc32(0, b + VMDL_BLOB_HEADER_SIZE, n - VMDL_BLOB_HEADER_SIZE);
    for (unsigned i = 0; i < 4; i++)
        b[12 + i] = (uint8_t)(crc >> (8 * i));
}

/* A launched, switched VM exported and imported into a fresh one of the
 * same shape reproduces its blob and its guest view. */
static void test_state_round_trip(void **state)
{
    (void)state;
    struct vmdl_sev_es_module *m = load(VMDL_SEV_ES_STEP_CURRENT, -1);
    struct vmdl_sev_es_vm *vm;
    struct vmdl_sev_es_vcpu *v = es_vcpu(m, DS, &vm);
    set_host(v, 0x402);
    assert_int_equal(vmdl_sev_es_vcpu_enter(v), 0);
    uint64_t val = 0x9000;
    assert_int_equal(movdr(v, true, 2, &val, NULL), VMDL_FAULT_NONE);
    assert_int_equal(vmdl_sev_es_vm_save(vm, &(uint8_t *){NULL}, &(size_t){0}),
                     VMDL_ESTATE);
    assert_int_equal(vmdl_sev_es_vcpu_exit(v), 0);
    uint8_t *a, *b;
    size_t na, nb;
    save(vm, &a, &na);
    struct vmdl_sev_es_vm *copy = mkvm(m, VMDL_KVM_X86_SEV_ES_VM);
    struct vmdl_sev_es_vcpu *cv = mkvcpu(copy);
    assert_int_equal(vmdl_sev_es_vm_load(copy, a, na), 0);
    save(copy, &b, &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);
    assert_true(vmdl_sev_es_vm_active(copy));
    assert_int_not_equal(vmdl_sev_es_vm_asid(copy), vmdl_sev_es_vm_asid(vm));
    assert_int_equal(vmdl_sev_es_launch_digest(copy), vmdl_sev_es_launch_digest(vm));
    assert_int_equal(vmdl_sev_es_sev_status(cv), 0x83);
    assert_int_equal(vmdl_sev_es_vcpu_enter(cv), 0);
    assert_int_equal(movdr(cv, false, 2, &val, NULL), VMDL_FAULT_NONE);
    assert_int_equal(val, 0x9000);
    assert_int_equal(vmdl_sev_es_vcpu_exit(cv), 0);
    free(a);
    free(b);
    vmdl_sev_es_vm_destroy(copy);
    teardown(m, vm);
}

/* Truncated, corrupted, other-version blobs are refused; the VM stays. */
static void test_state_refuses_malformed(void **state)
{
    (void)state;
    struct vmdl_sev_es_module *m = load(VMDL_SEV_ES_STEP_CURRENT, -1);
    struct vmdl_sev_es_vm *vm;
    es_vcpu(m, DS, &vm);
    uint8_t *a, *b;
    size_t na, nb;
    save(vm, &a, &na);
    struct vmdl_sev_es_vm *t = mkvm(m, VMDL_KVM_X86_SEV_ES_VM);
    mkvcpu(t);
    uint8_t *before;
    size_t nbefore;
    save(t, &before, &nbefore);
    assert_int_equal(vmdl_sev_es_vm_load(t, a, na - 1), VMDL_EBADBLOB);
    a[na - 3] ^= 0x10;
    assert_int_equal(vmdl_sev_es_vm_load(t, a, na), VMDL_EBADBLOB);
    a[na - 3] ^= 0x10;
    a[4] = 2; /* version */
    assert_int_equal(vmdl_sev_es_vm_load(t, a, na), VMDL_EVERSION);
    a[4] = 1;
    assert_int_equal(vmdl_sev_es_vm_load(t, NULL, 0), VMDL_EINVAL);
    save(t, &b, &nb);
    assert_int_equal(nb, nbefore);
    assert_memory_equal(b, before, nb);
    assert_false(vmdl_sev_es_vm_active(t));
    free(a);
    free(b);
    free(before);
    vmdl_sev_es_vm_destroy(t);
    teardown(m, vm);
}

/* Well-formed blobs with impossible content are refused too (resealed
 * CRC): unsupported features, a VMSA whose features differ from the VM's,
 * another step, a wrong digest. */
static void test_state_refuses_semantics(void **state)
{
    (void)state;
    struct vmdl_sev_es_module *m = load(VMDL_SEV_ES_STEP_CURRENT, -1);
    struct vmdl_sev_es_vm *vm;
    es_vcpu(m, DS, &vm);
    uint8_t *a;
    size_t na;
    save(vm, &a, &na);
    struct vmdl_sev_es_vm *t = mkvm(m, VMDL_KVM_X86_SEV_ES_VM);
    mkvcpu(t);
    const size_t P = VMDL_BLOB_HEADER_SIZE;
    static const struct { size_t off; uint8_t xor_; const char *why; } edits[] = {
        {4, 0x01, "does not support"},   /* features |= SNP_ACTIVE */
        {0, 0x01, "history step"},       /* step */
        {20, 0x01, "digest"},            /* digest */
        {2, 0x04, "need_init"},          /* flags */
        {3, 0x07, "firmware"},           /* fw state 3 -> 4 */
    };
    for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
        uint8_t *c = malloc(na);
        memcpy(c, a, na);
        c[P + edits[i].off] ^= edits[i].xor_;
        reseal(c, na);
        assert_int_equal(vmdl_sev_es_vm_load(t, c, na), VMDL_EBADBLOB);
        assert_true(msg_has(edits[i].why));
        assert_false(vmdl_sev_es_vm_active(t));
        free(c);
    }
    free(a);
    /* A blob from a module without DebugSwap support is fine; one with it
     * is refused by a module that lacks it. */
    struct vmdl_sev_es_module *off = load(VMDL_SEV_ES_STEP_REENABLED, 0);
    struct vmdl_sev_es_module *on = load(VMDL_SEV_ES_STEP_REENABLED, -1);
    struct vmdl_sev_es_vm *src;
    es_vcpu(on, DS, &src);
    save(src, &a, &na);
    struct vmdl_sev_es_vm *dst = mkvm(off, VMDL_KVM_X86_SEV_ES_VM);
    mkvcpu(dst);
    assert_int_equal(vmdl_sev_es_vm_load(dst, a, na), VMDL_EBADBLOB);
    free(a);
    vmdl_sev_es_vm_destroy(dst);
    vmdl_sev_es_vm_destroy(src);
    vmdl_sev_es_module_unload(off);
    vmdl_sev_es_module_unload(on);
    vmdl_sev_es_vm_destroy(t);
    teardown(m, vm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_setup_supported_from_cpu),
        cmocka_unit_test(test_setup_each_condition_needed),
        cmocka_unit_test(test_setup_asid_ranges),
        cmocka_unit_test(test_setup_module_params),
        cmocka_unit_test(test_cpu_from_cpuid),
        cmocka_unit_test(test_setup_read_only_after_init),
        cmocka_unit_test(test_setup_current_ignores_param),
        cmocka_unit_test(test_history_defaults),
        cmocka_unit_test(test_step_names),
        cmocka_unit_test(test_load_bad_args),
        cmocka_unit_test(test_unload_in_use),
        cmocka_unit_test(test_dev_attr),
        cmocka_unit_test(test_dev_attr_absent_before_init2),
        cmocka_unit_test(test_vm_types),
        cmocka_unit_test(test_init2_sets_features),
        cmocka_unit_test(test_init2_unsupported_features),
        cmocka_unit_test(test_init2_flags),
        cmocka_unit_test(test_init2_ghcb_version),
        cmocka_unit_test(test_init2_sev_vm),
        cmocka_unit_test(test_init2_check_order),
        cmocka_unit_test(test_init2_once_and_type),
        cmocka_unit_test(test_init2_absent_before_its_step),
        cmocka_unit_test(test_legacy_es_init),
        cmocka_unit_test(test_legacy_refusals),
        cmocka_unit_test(test_legacy_history),
        cmocka_unit_test(test_asids),
        cmocka_unit_test(test_launch_copies_features),
        cmocka_unit_test(test_launch_state_machine),
        cmocka_unit_test(test_launch_pre_encryption_checks),
        cmocka_unit_test(test_set_debugregs_checks),
        cmocka_unit_test(test_features_frozen_after_launch),
        cmocka_unit_test(test_legacy_set_debugregs_after_launch),
        cmocka_unit_test(test_measurement_differs_between_defaults),
        cmocka_unit_test(test_measurement_deterministic),
        cmocka_unit_test(test_sev_status),
        cmocka_unit_test(test_enter_preconditions),
        cmocka_unit_test(test_debug_swap_world_switch),
        cmocka_unit_test(test_no_debug_swap_dr7_intercepted),
        cmocka_unit_test(test_no_debug_swap_dr0_3_shared),
        cmocka_unit_test(test_mov_dr_encodings),
        cmocka_unit_test(test_state_round_trip),
        cmocka_unit_test(test_state_refuses_malformed),
        cmocka_unit_test(test_state_refuses_semantics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
