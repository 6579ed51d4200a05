/* SPDX-License-Identifier: MIT */
/*
 * Guest debugging (virtmodel/debug.h): breakpoints stop before the
 * instruction, resuming executes it, single steps retire one instruction,
 * watchpoints stop after the access, an interrupt stops a runaway guest.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>
#include <cmocka.h>

#ifndef VMDL_GUEST_DIR
#define VMDL_GUEST_DIR "."
#endif
#include "machine_test_util.h"
#include "virtmodel/debug.h"

#define AT 0x100000ull

/* 0: inc rax; 3: inc rax; 6: mov [0x8000], rax; 14: inc rbx;
 * 17: mov al, 1; 19: out 0xf4, al */
static const uint8_t prog[] = {
    0x48, 0xFF, 0xC0, 0x48, 0xFF, 0xC0,
    0x48, 0x89, 0x04, 0x25, 0x00, 0x80, 0x00, 0x00,
    0x48, 0xFF, 0xC3, 0xB0, 0x01, 0xE6, 0xF4,
};

static uint64_t reg(struct vmdl_vm *vm, enum vmdl_reg r)
{
    uint64_t v = 0;
    vmdl_vcpu_get_reg(vmdl_vm_vcpu(vm, 0), r, &v);
    return v;
}

static struct vmdl_exit run(struct vmdl_vm *vm)
{
    struct vmdl_exit e;
    assert_int_equal(vmdl_vm_run(vm, &e), 0);
    return e;
}

static void test_breakpoint_stops_before_and_resumes_through(void **state)
{
    (void)state;
    struct vmdl_vm *vm = vm_with_code(VMDL_ARCH_X86_64, prog, sizeof(prog), NULL);
    assert_non_null(vm);
    assert_int_equal(vmdl_vm_add_breakpoint(vm, AT + 3), 0);
    assert_int_equal(vmdl_vm_add_breakpoint(vm, AT + 3), 0);   /* idempotent */
    struct vmdl_exit e = run(vm);
    assert_int_equal(e.reason, VMDL_EXIT_DEBUG);
    assert_int_equal(e.u.debug.kind, VMDL_DEBUG_BREAKPOINT);
    assert_int_equal(e.pc, AT + 3);
    assert_int_equal(reg(vm, VMDL_X86_RAX), 1);      /* second inc not run */
    e = run(vm);                                      /* executes it */
    assert_int_equal(e.reason, VMDL_EXIT_SHUTDOWN);
    assert_int_equal(reg(vm, VMDL_X86_RAX) & 0xFF, 1); /* mov al, 1 */
    assert_int_equal(reg(vm, VMDL_X86_RBX), 1);
    assert_int_equal(vmdl_vm_remove_breakpoint(vm, AT + 3), 0);
    assert_int_equal(vmdl_vm_remove_breakpoint(vm, AT + 3), VMDL_ENOENT);
    vmdl_vm_destroy(vm);
}

static void test_single_step_retires_one_instruction(void **state)
{
    (void)state;
    struct vmdl_vm *vm = vm_with_code(VMDL_ARCH_X86_64, prog, sizeof(prog), NULL);
    assert_non_null(vm);
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    vmdl_vcpu_need_insn_count(v, true);
    assert_int_equal(vmdl_vcpu_set_single_step(v, true), 0);
    static const uint64_t pcs[] = {AT + 3, AT + 6, AT + 14, AT + 17, AT + 19};
    for (unsigned i = 0; i < 5; i++) {
        struct vmdl_exit e = run(vm);
        assert_int_equal(e.reason, VMDL_EXIT_DEBUG);
        assert_int_equal(e.u.debug.kind, VMDL_DEBUG_STEP);
        assert_int_equal(e.pc, pcs[i]);
        assert_int_equal(vmdl_vcpu_insns(v), i + 1);
    }
    assert_int_equal(run(vm).reason, VMDL_EXIT_SHUTDOWN);
    vmdl_vm_destroy(vm);
}

static void test_write_watchpoint_stops_after_the_store(void **state)
{
    (void)state;
    struct vmdl_vm *vm = vm_with_code(VMDL_ARCH_X86_64, prog, sizeof(prog), NULL);
    assert_non_null(vm);
    assert_int_equal(vmdl_vm_add_watchpoint(vm, 0x8004, 4, VMDL_WATCH_WRITE), 0);
    /* A read watchpoint on the same bytes does not fire for a store. */
    assert_int_equal(vmdl_vm_add_watchpoint(vm, 0x8000, 8, VMDL_WATCH_READ), 0);
    struct vmdl_exit e = run(vm);
    assert_int_equal(e.reason, VMDL_EXIT_DEBUG);
    assert_int_equal(e.u.debug.kind, VMDL_DEBUG_WATCHPOINT);
    assert_int_equal(e.u.debug.watch, VMDL_WATCH_WRITE);
    assert_int_equal(e.u.debug.addr, 0x8000);        /* the access's address */
    assert_int_equal(e.pc, AT + 14);                  /* after the store */
    uint64_t *mem = vmdl_vm_ram_ptr(vm, 0x8000, 8);
    assert_int_equal(*mem, 2);                        /* the store happened */
    assert_int_equal(reg(vm, VMDL_X86_RBX), 0);
    assert_int_equal(run(vm).reason, VMDL_EXIT_SHUTDOWN);
    assert_int_equal(vmdl_vm_remove_watchpoint(vm, 0x8004, 4, VMDL_WATCH_WRITE), 0);
    assert_int_equal(vmdl_vm_add_watchpoint(vm, 0x8000, 0, VMDL_WATCH_WRITE), VMDL_EINVAL);
    assert_int_equal(vmdl_vm_add_watchpoint(vm, 0x8000, 1, 7), VMDL_EINVAL);
    vmdl_vm_destroy(vm);
}

/* jmp $ */
static const uint8_t spin[] = { 0xEB, 0xFE };

static void *interrupt_later(void *arg)
{
    usleep(100 * 1000);
    vmdl_vm_interrupt(arg);
    return NULL;
}

static void test_interrupt_stops_a_spinning_guest(void **state)
{
    (void)state;
    struct vmdl_vm *vm = vm_with_code(VMDL_ARCH_X86_64, spin, sizeof(spin), NULL);
    assert_non_null(vm);
    vmdl_vm_set_limits(vm, 0, 30);   /* a broken interrupt fails, never hangs */
    assert_int_equal(vmdl_vm_enable_debug(vm), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, interrupt_later, vm), 0);
    struct vmdl_exit e = run(vm);
    pthread_join(t, NULL);
    assert_int_equal(e.reason, VMDL_EXIT_DEBUG);
    assert_int_equal(e.u.debug.kind, VMDL_DEBUG_INTERRUPT);
    assert_int_equal(e.pc, AT);
    /* An interrupt asked for between runs stops the next one at once. */
    vmdl_vm_interrupt(vm);
    e = run(vm);
    assert_int_equal(e.u.debug.kind, VMDL_DEBUG_INTERRUPT);
    vmdl_vm_destroy(vm);
}

/* arm64: 0: add x0, x0, #1; 4: add x0, x0, #1; 8: hvc #0 (x0 = 2: not
 * VMDL_HC_EXIT, the caller sees a hypercall) */
static const uint8_t arm_prog[] = {
    0x00, 0x04, 0x00, 0x91, 0x00, 0x04, 0x00, 0x91, 0x02, 0x00, 0x00, 0xD4,
};

static void test_arm64_breakpoint_and_step(void **state)
{
    (void)state;
    struct vmdl_vm *vm = vm_with_code(VMDL_ARCH_ARM64, arm_prog, sizeof(arm_prog), NULL);
    assert_non_null(vm);
    const uint64_t at = VMDL_ARM64_DEFAULT_LOAD;
    assert_int_equal(vmdl_vm_add_breakpoint(vm, at + 4), 0);
    struct vmdl_exit e = run(vm);
    assert_int_equal(e.u.debug.kind, VMDL_DEBUG_BREAKPOINT);
    assert_int_equal(e.pc, at + 4);
    uint64_t x0;
    vmdl_vcpu_get_reg(vmdl_vm_vcpu(vm, 0), VMDL_ARM64_X0, &x0);
    assert_int_equal(x0, 1);
    vmdl_vcpu_set_single_step(vmdl_vm_vcpu(vm, 0), true);
    e = run(vm);
    assert_int_equal(e.u.debug.kind, VMDL_DEBUG_STEP);
    assert_int_equal(e.pc, at + 8);
    vmdl_vcpu_get_reg(vmdl_vm_vcpu(vm, 0), VMDL_ARM64_X0, &x0);
    assert_int_equal(x0, 2);
    vmdl_vm_destroy(vm);
}

static void test_breakpoint_table_is_bounded(void **state)
{
    (void)state;
    struct vmdl_vm *vm = vm_with_code(VMDL_ARCH_X86_64, prog, sizeof(prog), NULL);
    assert_non_null(vm);
    for (unsigned i = 0; i < VMDL_MAX_BREAKPOINTS; i++)
        assert_int_equal(vmdl_vm_add_breakpoint(vm, 0x200000 + i), 0);
    assert_int_equal(vmdl_vm_add_breakpoint(vm, 0x300000), VMDL_ERANGE);
    assert_int_equal(run(vm).reason, VMDL_EXIT_SHUTDOWN);   /* none is hit */
    vmdl_vm_destroy(vm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_breakpoint_stops_before_and_resumes_through),
        cmocka_unit_test(test_single_step_retires_one_instruction),
        cmocka_unit_test(test_write_watchpoint_stops_after_the_store),
        cmocka_unit_test(test_interrupt_stops_a_spinning_guest),
        cmocka_unit_test(test_arm64_breakpoint_and_step),
        cmocka_unit_test(test_breakpoint_table_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
