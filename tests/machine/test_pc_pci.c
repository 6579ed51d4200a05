/* SPDX-License-Identifier: MIT */
/*
 * The PC's PCI side in a multiboot VM (include/virtmodel/attach_pci.h): the
 * host bridge on ports 0xCF8/0xCFC, the edu device's BAR where the
 * firmware put it, the VT-d registers at 0xFED90000, and the API's refusals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hosted_test_util.h"
#include "virtmodel/error.h"
#include "virtmodel/loader.h"
#include "virtmodel/multiboot.h"
#include "virtmodel/attach_pci.h"

#define LOAD 0x100000u
#define IMG 0x200
#define CODE 0x20

/* An a.out-kludge multiboot image: the whole file at LOAD, entry at CODE. */
static struct vmdl_vm *boot(const uint8_t *code, size_t n)
{
    static uint8_t b[IMG];
    memset(b, 0xF4, IMG);
    mb_aout_header(b, LOAD, LOAD + CODE);
    memcpy(b + CODE, code, n);
    struct vmdl_vm_config cfg = {.arch = VMDL_ARCH_X86_64, .ram_size = 16 << 20};
    struct vmdl_vm *vm;
    assert_int_equal(vmdl_vm_create(&cfg, &vm), 0);
    assert_int_equal(vmdl_vm_load_multiboot(vm, b, IMG, NULL), 0);
    return vm;
}

static const uint8_t probe[] = {
    0xB8, 0x00, 0x08, 0x00, 0x80,              /* mov eax, 0x80000800 (00:01.0) */
    0x66, 0xBA, 0xF8, 0x0C, 0xEF,              /* mov dx, 0xCF8; out dx, eax */
    0x66, 0xBA, 0xFC, 0x0C, 0xED,              /* mov dx, 0xCFC; in eax, dx */
    0x89, 0xC3,                                /* mov ebx, eax */
    0xA1, 0x00, 0x00, 0xB0, 0xFE,              /* mov eax, [0xFEB00000] */
    0xC7, 0x05, 0x04, 0x00, 0xB0, 0xFE, 0x78, 0x56, 0x34, 0x12,
    0x8B, 0x0D, 0x04, 0x00, 0xB0, 0xFE,        /* mov ecx, [0xFEB00004] */
    0x8B, 0x35, 0x00, 0x00, 0xD9, 0xFE,        /* mov esi, [0xFED90000] */
    0xF4,
};

static void test_guest_sees_devices(void **state)
{
    (void)state;
    struct vmdl_vm *vm = boot(probe, sizeof(probe));
    assert_int_equal(vmdl_vm_set_machine(vm, "q35"), VMDL_OK);
    assert_int_equal(vmdl_vm_add_device(vm, "intel-iommu,intremap=on,eim=off"), VMDL_OK);
    assert_int_equal(vmdl_vm_add_device(vm, "edu"), VMDL_OK);
    run_to_hlt(vm);
    assert_true(reg(vm, VMDL_X86_RBX) == 0x11E81234u);      /* edu at slot 1 */
    assert_true(reg(vm, VMDL_X86_RAX) == 0x010000EDu);      /* BAR0 at 0xFEB00000 */
    assert_true(reg(vm, VMDL_X86_RCX) == 0xEDCBA987u);      /* liveness inverts */
    assert_true(reg(vm, VMDL_X86_RSI) == 0x10);             /* VT-d version */
    vmdl_vm_destroy(vm);
}

static void test_without_devices_no_bridge(void **state)
{
    (void)state;
    struct vmdl_vm *vm = boot(probe, sizeof(probe));
    run_to_hlt(vm);
    /* no host bridge: the ports and the windows read as unassigned */
    assert_true(reg(vm, VMDL_X86_RBX) == 0xFFFFFFFFu);
    vmdl_vm_destroy(vm);
}

/* The firmware tables get the unit's DMAR, also after a VM reset. */
static void test_dmar_in_acpi(void **state)
{
    (void)state;
    struct vmdl_vm *vm = boot(probe, sizeof(probe));
    const uint8_t *rsdt = vmdl_vm_ram_ptr(vm, 0xE0080, 64);
    assert_non_null(rsdt);
    assert_int_equal(rsdt[4], 36 + 8);                      /* FADT, MADT */
    assert_int_equal(vmdl_vm_add_device(vm, "intel-iommu,intremap=on"), VMDL_OK);
    for (int pass = 0; pass < 2; pass++) {
        assert_int_equal(rsdt[4], 36 + 12);
        uint32_t at;
        memcpy(&at, rsdt + 36 + 8, 4);
        const uint8_t *d = vmdl_vm_ram_ptr(vm, at, 72);
        assert_non_null(d);
        assert_memory_equal(d, "DMAR", 4);
        assert_int_equal(d[37], 3);                          /* IR, x2APIC opt-out */
        uint64_t base;
        memcpy(&base, d + 48 + 8, 8);
        assert_true(base == 0xFED90000ull);
        assert_int_equal(vmdl_vm_reset(vm), 0);
    }
    vmdl_vm_destroy(vm);
}

static void test_refusals(void **state)
{
    (void)state;
    struct vmdl_vm_config cfg = {.arch = VMDL_ARCH_X86_64, .ram_size = 16 << 20};
    struct vmdl_vm *vm;
    assert_int_equal(vmdl_vm_create(&cfg, &vm), 0);
    assert_int_equal(vmdl_vm_add_device(vm, "edu"), VMDL_EINVAL);   /* not a PC guest */
    vmdl_vm_destroy(vm);
    vm = boot(probe, sizeof(probe));
    assert_int_equal(vmdl_vm_set_machine(vm, "isapc"), VMDL_EINVAL);
    assert_int_equal(vmdl_vm_add_device(vm, "e1000"), VMDL_EINVAL);
    assert_int_equal(vmdl_vm_add_device(vm, "edu,x=1"), VMDL_EINVAL);
    assert_int_equal(vmdl_vm_add_device(vm, "intel-iommu,intremap=maybe"), VMDL_EINVAL);
    assert_int_equal(vmdl_vm_add_device(vm, "intel-iommu,aw-bits=40"), VMDL_EINVAL);
    assert_int_equal(vmdl_vm_add_device(vm, "intel-iommu,caching-mode=on"), VMDL_EINVAL);
    assert_int_equal(vmdl_vm_add_device(vm, "intel-iommu,eim=on"), VMDL_EINVAL); /* no IR */
    assert_int_equal(vmdl_vm_add_device(vm, "intel-iommu"), VMDL_OK);
    assert_int_equal(vmdl_vm_add_device(vm, "intel-iommu"), VMDL_EINVAL);  /* only one */
    assert_int_equal(vmdl_vm_set_machine(vm, "q35"), VMDL_EINVAL);         /* too late */
    assert_int_equal(vmdl_vm_add_device(vm, NULL), VMDL_EINVAL);
    vmdl_vm_destroy(vm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_guest_sees_devices),
        cmocka_unit_test(test_without_devices_no_bridge),
        cmocka_unit_test(test_dmar_in_acpi),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
