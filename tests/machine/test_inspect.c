/* SPDX-License-Identifier: MIT */
/*
 * Model registers read and written from outside the guest
 * (virtmodel/inspect.h): the same handlers a guest access reaches.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#ifndef VMDL_GUEST_DIR
#define VMDL_GUEST_DIR "."
#endif
#include "machine_test_util.h"
#include "virtmodel/inspect.h"
#include "virtmodel/models.h"

/* mov al, 1; out 0xf4, al */
static const uint8_t exit1[] = { 0xB0, 0x01, 0xE6, 0xF4 };

static struct vmdl_vm *x86_vm(unsigned vcpus, enum vmdl_x86_vendor vendor,
                              const char *models, const char *pmu)
{
    struct vmdl_vm_config cfg = {.arch = VMDL_ARCH_X86_64, .vendor = vendor,
                                 .ram_size = 16 << 20, .nr_vcpus = vcpus};
    struct vmdl_vm *vm = NULL;
    if (vmdl_vm_create(&cfg, &vm) || vmdl_vm_load_raw(vm, exit1, sizeof(exit1), 0x100000))
        return NULL;
    struct vmdl_model_options o = {0};
    if ((pmu && vmdl_model_options_set(&o, "pmu", pmu)) ||
        vmdl_attach_models(vm, models, &o)) {
        vmdl_vm_destroy(vm);
        return NULL;
    }
    return vm;
}

static void test_pmu_counter_msrs_round_trip(void **state)
{
    (void)state;
    struct vmdl_vm *vm = x86_vm(1, VMDL_VENDOR_AMD, "amd_pmu", "perfmonv2");
    assert_non_null(vm);
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    uint64_t val = 1;
    assert_int_equal(vmdl_vcpu_msr_read(v, 0xC0010201, &val), 0);
    assert_int_equal(val, 0);
    /* Counters are 48 bits wide: the upper bits of a write are dropped. */
    assert_int_equal(vmdl_vcpu_msr_write(v, 0xC0010201, 0xFFFF123456789ABCull), 0);
    assert_int_equal(vmdl_vcpu_msr_read(v, 0xC0010201, &val), 0);
    assert_int_equal(val, 0x123456789ABCull);
    /* Counter 6 does not exist with KVM's six PerfMonV2 counters: #GP. */
    assert_int_equal(vmdl_vcpu_msr_read(v, 0xC0010201 + 2 * 6, &val), VMDL_ERANGE);
    assert_non_null(strstr(vmdl_last_error(), "#GP"));
    vmdl_vm_destroy(vm);
}

static void test_unserved_msr_and_bad_arguments(void **state)
{
    (void)state;
    struct vmdl_vm *vm = x86_vm(1, VMDL_VENDOR_INTEL, "none", NULL);
    assert_non_null(vm);
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    uint64_t val;
    assert_int_equal(vmdl_vcpu_msr_read(v, 0xC0010201, &val), VMDL_ENOENT);
    assert_int_equal(vmdl_vcpu_msr_write(v, 0x1B, 0), VMDL_ENOENT);
    assert_int_equal(vmdl_vcpu_msr_read(v, 0x1B, NULL), VMDL_EINVAL);
    assert_int_equal(vmdl_vcpu_msr_read(NULL, 0x1B, &val), VMDL_EINVAL);
    assert_int_equal(vmdl_vcpu_mmio_read(v, 0xFEE00030, 4, &val), VMDL_ENOENT);
    vmdl_vm_destroy(vm);
}

static void test_apic_page_through_mmio_per_vcpu(void **state)
{
    (void)state;
    struct vmdl_vm *vm = x86_vm(2, VMDL_VENDOR_INTEL, "lapic", NULL);
    assert_non_null(vm);
    struct vmdl_vcpu *v0 = vmdl_vm_vcpu(vm, 0), *v1 = vmdl_vm_vcpu(vm, 1);
    uint64_t val;
    /* Version: 0x14, LVT entries - 1 in 23:16; ID in 31:24 per vCPU. */
    assert_int_equal(vmdl_vcpu_mmio_read(v0, 0xFEE00030, 4, &val), 0);
    assert_int_equal(val & 0xFF, 0x14);
    assert_int_equal(vmdl_vcpu_mmio_read(v1, 0xFEE00020, 4, &val), 0);
    assert_int_equal(val, 1u << 24);
    /* A TPR write lands on that vCPU's page only. */
    assert_int_equal(vmdl_vcpu_mmio_write(v0, 0xFEE00080, 4, 0x20), 0);
    assert_int_equal(vmdl_vcpu_mmio_read(v0, 0xFEE00080, 4, &val), 0);
    assert_int_equal(val, 0x20);
    assert_int_equal(vmdl_vcpu_mmio_read(v1, 0xFEE00080, 4, &val), 0);
    assert_int_equal(val, 0);
    /* IA32_APIC_BASE through the MSR side: BSP flag on vCPU 0 only. */
    assert_int_equal(vmdl_vcpu_msr_read(v0, 0x1B, &val), 0);
    assert_int_equal(val, 0xFEE00900);
    assert_int_equal(vmdl_vcpu_msr_read(v1, 0x1B, &val), 0);
    assert_int_equal(val, 0xFEE00800);
    /* Sizes other than 1/2/4/8 and accesses past the window are refused. */
    assert_int_equal(vmdl_vcpu_mmio_read(v0, 0xFEE00030, 3, &val), VMDL_EINVAL);
    assert_int_equal(vmdl_vcpu_mmio_read(v0, 0xFEE00FFC, 8, &val), VMDL_ENOENT);
    vmdl_vm_destroy(vm);
}

static void test_msrs_refused_on_arm64(void **state)
{
    (void)state;
    static const uint8_t wfi[] = { 0x7F, 0x20, 0x03, 0xD5 };
    struct vmdl_vm *vm = vm_with_code(VMDL_ARCH_ARM64, wfi, sizeof(wfi), NULL);
    assert_non_null(vm);
    uint64_t val;
    assert_int_equal(vmdl_vcpu_msr_read(vmdl_vm_vcpu(vm, 0), 0x1B, &val), VMDL_EINVAL);
    vmdl_vm_destroy(vm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pmu_counter_msrs_round_trip),
        cmocka_unit_test(test_unserved_msr_and_bad_arguments),
        cmocka_unit_test(test_apic_page_through_mmio_per_vcpu),
        cmocka_unit_test(test_msrs_refused_on_arm64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
