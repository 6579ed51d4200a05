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

/*
 * A claimed system-register access completes inside the engine's hook and
 * retires once: movz x9, #10; 1: mrs x1, S3_0_C12_C10_6; subs x9, x9, #1;
 * b.ne 1b; then the exit HVC.  With time counted, the count at the exit is
 * 1 + 3 * 10 + 2 (movz/movk of x0) + 1 (the HVC).  (Each MRS used to be
 * counted twice: once with its block, once when completed.)
 */
static void test_claimed_sysreg_retires_once(void **state)
{
    (void)state;
    static const uint32_t code[] = {
        0xD2800149, 0xD538CAC1, 0xF1000529, 0x54FFFFC1,
        0xD2800100, 0xF2B08000, 0xD4000002,
    };
    struct vmdl_vm *vm = vm_with_code(VMDL_ARCH_ARM64, code, sizeof(code), NULL);
    assert_non_null(vm);
    struct sysreg_log log = {0};
    assert_int_equal(vmdl_vm_add_sysreg_handler(vm, claim_ppi_enabler, &log), 0);
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    vmdl_vcpu_need_insn_count(v, true);
    struct vmdl_exit e;
    assert_int_equal(vmdl_vm_run(vm, &e), 0);
    assert_int_equal(e.reason, VMDL_EXIT_SHUTDOWN);
    assert_int_equal(log.reads, 10);
    uint64_t n = vmdl_vcpu_insns(v);
    /* 33 before the HVC, and the HVC (it retires when handled; it too was
     * counted twice, with its block and when handled) */
    assert_int_equal(n, 34);
    vmdl_vm_destroy(vm);
}

/*
 * arm64 RAM may go past 4 GiB (QEMU's virt machine puts RAM at 1 GiB and
 * lets it grow to 256 GiB): a 4 GiB guest is accepted and its last
 * doubleword, at 0x13FFFFFF8, is RAM.  ldr x2, =0x13FFFFFF8 (movz/movk);
 * str x2, [x2]; ldr x3, [x2]; then the exit HVC with x1 = 0.  Past 256 GiB
 * is refused.
 */
static void test_arm64_ram_past_4gib(void **state)
{
    (void)state;
    static const uint32_t code[] = {
        0xD29FFF02, /* movz x2, #0xfff8 */
        0xF2A7FFE2, /* movk x2, #0x3fff, lsl 16 */
        0xF2C00022, /* movk x2, #0x1, lsl 32 */
        0xF9000042, /* str x2, [x2] */
        0xF9400043, /* ldr x3, [x2] */
        0xD2800001, /* movz x1, #0 */
        0xD2800000, /* movz x0, #0 */
        0xF2B8C000, /* movk x0, #0xc600, lsl 16: VMDL_HC_EXIT */
        0xD4000002, /* hvc #0 */
    };
    struct vmdl_vm_config cfg = {.arch = VMDL_ARCH_ARM64, .ram_size = 4ull << 30};
    struct vmdl_vm *vm;
    assert_int_equal(vmdl_vm_create(&cfg, &vm), 0);
    assert_int_equal(vmdl_vm_ram_size(vm), 4ull << 30);
    assert_int_equal(vmdl_vm_load_raw(vm, code, sizeof(code), VMDL_ARM64_DEFAULT_LOAD), 0);
    struct vmdl_exit e;
    assert_int_equal(vmdl_vm_run(vm, &e), 0);
    assert_int_equal(e.reason, VMDL_EXIT_SHUTDOWN);
    uint64_t x3 = 0;
    vmdl_vcpu_get_reg(vmdl_vm_vcpu(vm, 0), VMDL_ARM64_X0 + 3, &x3);
    assert_int_equal(x3, 0x13FFFFFF8ull);
    uint64_t *top = vmdl_vm_ram_ptr(vm, 0x13FFFFFF8ull, 8);
    assert_non_null(top);
    assert_int_equal(*top, 0x13FFFFFF8ull);
    vmdl_vm_destroy(vm);
    cfg.ram_size = 255ull << 30;
    cfg.ram_base = 2ull << 30;
    assert_int_equal(vmdl_vm_create(&cfg, &vm), VMDL_ERANGE);
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
        cmocka_unit_test(test_claimed_sysreg_retires_once),
        cmocka_unit_test(test_arm64_ram_past_4gib),
        cmocka_unit_test(test_undef_irq_and_wfi_through_vbar),
        cmocka_unit_test(test_exit_hypercall_status_and_unclaimed_hvc),
        cmocka_unit_test(test_arm64_mmio_exit),
        cmocka_unit_test(test_arm64_hello_console),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
