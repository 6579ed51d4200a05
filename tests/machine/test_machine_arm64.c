/* SPDX-License-Identifier: MIT */
/*
 * The arm64 machine layer: system-register traps claimed by a handler or
 * sent to the caller, UNDEF and IRQ delivery through VBAR_EL1, WFI, PSCI.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "machine_test_util.h"

/* mrs x1, S3_0_C12_C10_6; msr S3_0_C12_C10_6, x2; mrs x3, S3_1_C15_C15_7;
 * sys #0, C12, C1, #0, x5; movz x0, #8; movk x0, #0x8400, lsl #16; hvc #0 */
static const uint32_t sysreg_code[] = {
    0xD538CAC1, 0xD518CAC2, 0xD539FFE3, 0xD508C105,
    0xD2800100, 0xF2B08000, 0xD4000002,
};

struct sysreg_log {
    unsigned reads, writes, sys;
    uint64_t written;
};

static vmdl_fault claim_ppi_enabler(void *opaque, struct vmdl_vcpu *vcpu,
                                    struct vmdl_sysreg_access *a)
{
    (void)vcpu;
    struct sysreg_log *log = opaque;
    if (a->op0 == 3 && a->op1 == 0 && a->crn == 12 && a->crm == 10 && a->op2 == 6) {
        if (a->is_write) {
            log->writes++;
            log->written = a->value;
        } else {
            log->reads++;
            a->value = 0xFEEDull;
        }
        return VMDL_FAULT_NONE;
    }
    if (a->is_sys && a->op1 == 0 && a->crn == 12 && a->crm == 1 && a->op2 == 0) {
        log->sys++;
        return VMDL_FAULT_NONE;
    }
    return VMDL_FAULT_UNCLAIMED;
}

static void test_sysreg_claimed_and_unclaimed(void **state)
{
    (void)state;
    struct vmdl_vm *vm = vm_with_code(VMDL_ARCH_ARM64, sysreg_code, sizeof(sysreg_code), NULL);
    assert_non_null(vm);
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    struct sysreg_log log = {0};
    assert_int_equal(vmdl_vm_add_sysreg_handler(vm, claim_ppi_enabler, &log), 0);
    vmdl_vcpu_set_reg(v, VMDL_ARM64_X0 + 2, 0x77);
    struct vmdl_exit e;
    assert_int_equal(vmdl_vm_run(vm, &e), 0);
    /* The first two went to the handler; the third (unknown) comes to us. */
    assert_int_equal(log.reads, 1);
    assert_int_equal(log.writes, 1);
    assert_int_equal(log.written, 0x77);
    assert_int_equal(e.reason, VMDL_EXIT_SYSREG);
    assert_int_equal(e.pc, VMDL_ARM64_DEFAULT_LOAD + 8);
    assert_int_equal(e.u.sysreg.op0, 3);
    assert_int_equal(e.u.sysreg.op1, 1);
    assert_int_equal(e.u.sysreg.crn, 15);
    assert_int_equal(e.u.sysreg.crm, 15);
    assert_int_equal(e.u.sysreg.op2, 7);
    assert_int_equal(e.u.sysreg.rt, 3);
    assert_false(e.u.sysreg.is_write);
    assert_int_equal(vmdl_vcpu_complete(v, 0xC0FFEE), 0);
    assert_int_equal(vmdl_vm_run(vm, &e), 0);
    assert_int_equal(e.reason, VMDL_EXIT_SHUTDOWN);
    assert_int_equal(e.u.shutdown.status, 0);
    assert_int_equal(log.sys, 1);
    uint64_t x1, x3;
    vmdl_vcpu_get_reg(v, VMDL_ARM64_X0 + 1, &x1);
    vmdl_vcpu_get_reg(v, VMDL_ARM64_X0 + 3, &x3);
    assert_int_equal(x1, 0xFEED);
    assert_int_equal(x3, 0xC0FFEE);
    vmdl_vm_destroy(vm);
}

static void test_undef_irq_and_wfi_through_vbar(void **state)
{
    (void)state;
    struct console_buf con = {0};
    struct vmdl_vm *vm = vm_with_guest("arm64/machine_exc.elf", 1, &con);
    assert_non_null(vm);
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    struct vmdl_exit e;
    assert_int_equal(vmdl_vm_run(vm, &e), 0);
    assert_int_equal(e.reason, VMDL_EXIT_SYSREG);
    /* Refuse the unknown register the architectural way. */
    assert_int_equal(vmdl_vcpu_complete_fault(v, VMDL_FAULT_GP), VMDL_EINVAL);
    assert_int_equal(vmdl_vcpu_complete_fault(v, VMDL_FAULT_UNDEF), 0);
    assert_int_equal(vmdl_vm_run(vm, &e), 0);
    /* WFI with IRQs unmasked and nothing pending. */
    assert_int_equal(e.reason, VMDL_EXIT_HLT);
    uint64_t esr;
    vmdl_vcpu_get_reg(v, VMDL_ARM64_ESR_EL1, &esr);
    assert_int_equal(esr >> 26, 0);
    assert_true(esr & (1u << 25)); /* IL: 32-bit instruction */
    assert_int_equal(vmdl_vcpu_inject_irq(v, 0), 0);
    assert_int_equal(vmdl_vm_run(vm, &e), 0);
    assert_int_equal(e.reason, VMDL_EXIT_SHUTDOWN);
    assert_int_equal(e.u.shutdown.status, 0);
    assert_non_null(strstr(con.data, "arm64 exceptions: all passed"));
    vmdl_vm_destroy(vm);
}

static void test_exit_hypercall_status_and_unclaimed_hvc(void **state)
{
    (void)state;
    /* movz x0, #0x1234; hvc #5; mov x1, x0 (status = returned x0 low byte);
     * movz x0,#0; movk x0,#0xc600,lsl #16; hvc #0 */
    static const uint32_t code[] = {
        0xD2824680, 0xD40000A2, 0xAA0003E1,
        0xD2800000, 0xF2B8C000, 0xD4000002,
    };
    struct vmdl_vm *vm = vm_with_code(VMDL_ARCH_ARM64, code, sizeof(code), NULL);
    struct vmdl_exit e;
    assert_int_equal(vmdl_vm_run(vm, &e), 0);
    assert_int_equal(e.reason, VMDL_EXIT_HYPERCALL);
    assert_int_equal(e.u.hypercall.imm, 5);
    assert_false(e.u.hypercall.is_smc);
    assert_int_equal(e.u.hypercall.x[0], 0x1234);
    assert_int_equal(vmdl_vcpu_complete(vmdl_vm_vcpu(vm, 0), 42), 0);
    assert_int_equal(vmdl_vm_run(vm, &e), 0);
    assert_int_equal(e.reason, VMDL_EXIT_SHUTDOWN);
    assert_int_equal(e.u.shutdown.status, 42);
    vmdl_vm_destroy(vm);
}

static void test_arm64_mmio_exit(void **state)
{
    (void)state;
    /* movz x6, #0x0a00, lsl #16 (0x0a000000); ldr w4, [x6]; str w4, [x6];
     * movz x0,#8; movk x0,#0x8400,lsl #16; hvc #0 */
    static const uint32_t code[] = {
        0xD2A14006, 0xB94000C4, 0xB90000C4, 0xD2800100, 0xF2B08000, 0xD4000002,
    };
    struct vmdl_vm *vm = vm_with_code(VMDL_ARCH_ARM64, code, sizeof(code), NULL);
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    struct vmdl_exit e;
    assert_int_equal(vmdl_vm_run(vm, &e), 0);
    assert_int_equal(e.reason, VMDL_EXIT_MMIO);
    assert_int_equal(e.u.mmio.addr, 0x0A000000);
    assert_false(e.u.mmio.is_write);
    assert_int_equal(vmdl_vcpu_complete(v, 0xAB), 0);
    assert_int_equal(vmdl_vm_run(vm, &e), 0);
    assert_int_equal(e.reason, VMDL_EXIT_MMIO);
    assert_true(e.u.mmio.is_write);
    assert_int_equal(e.u.mmio.data, 0xAB);
    assert_int_equal(vmdl_vcpu_complete(v, 0), 0);
    assert_int_equal(vmdl_vm_run(vm, &e), 0);
    assert_int_equal(e.reason, VMDL_EXIT_SHUTDOWN);
    vmdl_vm_destroy(vm);
}

static void test_arm64_hello_console(void **state)
{
    (void)state;
    struct console_buf con = {0};
    struct vmdl_vm *vm = vm_with_guest("arm64/hello.elf", 1, &con);
    assert_non_null(vm);
    struct vmdl_exit e;
    assert_int_equal(vmdl_vm_run(vm, &e), 0);
    assert_int_equal(e.reason, VMDL_EXIT_SHUTDOWN);
    assert_string_equal(con.data, "Hello from an arm64 guest on virtmodel!\n");
    vmdl_vm_destroy(vm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sysreg_claimed_and_unclaimed),
        cmocka_unit_test(test_undef_irq_and_wfi_through_vbar),
        cmocka_unit_test(test_exit_hypercall_status_and_unclaimed_hvc),
        cmocka_unit_test(test_arm64_mmio_exit),
        cmocka_unit_test(test_arm64_hello_console),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
