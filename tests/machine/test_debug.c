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

/* x86: the selectors read as the engine has them and refuse writes; the
 * FS/GS bases round-trip. */
static void test_x86_segment_registers(void **state)
{
    (void)state;
    struct vmdl_vm *vm = vm_with_code(VMDL_ARCH_X86_64, prog, sizeof(prog), NULL);
    assert_non_null(vm);
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    uint64_t cs = 0, ss = 0;
    assert_int_equal(vmdl_vcpu_get_reg(v, VMDL_X86_CS, &cs), 0);
    assert_int_equal(vmdl_vcpu_get_reg(v, VMDL_X86_SS, &ss), 0);
    assert_int_not_equal(cs & ~3ull, 0);          /* a real GDT selector */
    assert_int_equal(cs & 3, ss & 3);             /* CPL: CS.RPL = SS.RPL */
    assert_int_equal(vmdl_vcpu_set_reg(v, VMDL_X86_CS, 0x8), VMDL_ENOTSUP);
    assert_int_equal(vmdl_vcpu_set_reg(v, VMDL_X86_FS_BASE, 0x12345000), 0);
    assert_int_equal(vmdl_vcpu_set_reg(v, VMDL_X86_GS_BASE, 0x6000), 0);
    assert_int_equal(reg(vm, VMDL_X86_FS_BASE), 0x12345000);
    assert_int_equal(reg(vm, VMDL_X86_GS_BASE), 0x6000);
    vmdl_vm_destroy(vm);
}

static void put64(struct vmdl_vm *vm, uint64_t pa, uint64_t val)
{
    uint8_t *p = vmdl_vm_ram_ptr(vm, pa, 8);
    assert_non_null(p);
    memcpy(p, &val, 8);
}

/* arm64 with the MMU on: a 4 KiB page and a 2 MiB block of a 48-bit,
 * 4 KiB-granule TTBR0 table, translated as the guest would see them. */
static void test_arm64_translate_walks_the_guest_tables(void **state)
{
    (void)state;
    struct vmdl_vm *vm = vm_with_code(VMDL_ARCH_ARM64, arm_prog, sizeof(arm_prog), NULL);
    assert_non_null(vm);
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    const uint64_t l0 = 0x40100000, l1 = 0x40101000, l2 = 0x40102000, l3 = 0x40103000;
    put64(vm, l0 + 0 * 8, l1 | 3);
    put64(vm, l1 + 0 * 8, l2 | 3);
    put64(vm, l2 + 0x91 * 8, l3 | 3);              /* VA 0x12200000.. */
    put64(vm, l3 + 0x145 * 8, 0x40200000 | 0x403); /* page, AF */
    put64(vm, l2 + 0x92 * 8, 0x40400000 | 0x401);  /* 2 MiB block, AF */
    uint64_t pa = 0;
    /* MMU off: the identity. */
    assert_int_equal(vmdl_vcpu_translate(v, 0x12345678, &pa), 0);
    assert_int_equal(pa, 0x12345678);
    assert_int_equal(vmdl_vcpu_set_reg(v, VMDL_ARM64_TCR_EL1,
                                       16 | (16ull << 16) | (1ull << 23) | (2ull << 30)), 0);
    assert_int_equal(vmdl_vcpu_set_reg(v, VMDL_ARM64_TTBR0_EL1, l0), 0);
    uint64_t sctlr = 0;
    assert_int_equal(vmdl_vcpu_get_reg(v, VMDL_ARM64_SCTLR_EL1, &sctlr), 0);
    assert_int_equal(vmdl_vcpu_set_reg(v, VMDL_ARM64_SCTLR_EL1, sctlr | 1), 0);
    assert_int_equal(vmdl_vcpu_translate(v, 0x12345678, &pa), 0);
    assert_int_equal(pa, 0x40200678);
    assert_int_equal(vmdl_vcpu_translate(v, 0x12456789, &pa), 0);
    assert_int_equal(pa, 0x40456789);
    assert_int_equal(vmdl_vcpu_translate(v, 0x12600000, &pa), VMDL_ENOENT);
    assert_int_equal(vmdl_vcpu_translate(v, 1ull << 48, &pa), VMDL_ENOENT);
    /* TTBR1 walks are disabled (EPD1). */
    assert_int_equal(vmdl_vcpu_translate(v, 0xFFFF000012345678ull, &pa), VMDL_ENOENT);
    /* Debugger accesses go through it and stop at the first hole. */
    put64(vm, 0x40200ff8, 0x1122334455667788ull);
    uint8_t buf[16] = {0};
    assert_int_equal(vmdl_vcpu_access_virt(v, 0x12345ff8, buf, 16, false), 8);
    assert_int_equal(buf[0], 0x88);
    uint32_t w = 0xCAFEF00D;
    assert_int_equal(vmdl_vcpu_access_virt(v, 0x12345000, &w, 4, true), 4);
    uint32_t back = 0;
    memcpy(&back, vmdl_vm_ram_ptr(vm, 0x40200000, 4), 4);
    assert_int_equal(back, 0xCAFEF00D);
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
        cmocka_unit_test(test_x86_segment_registers),
        cmocka_unit_test(test_arm64_translate_walks_the_guest_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
