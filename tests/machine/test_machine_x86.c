/* SPDX-License-Identifier: MIT */
/*
 * The x86-64 machine layer: every exit kind, fault delivery, interrupt
 * delivery, the exception-state fix (a million trapped RDMSRs), HLT, resets,
 * limits and multi-vCPU determinism.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <capstone/capstone.h>

#include "machine_test_util.h"
#include "test_msr_model.h"
#include "virtmodel/attach_vmx.h"
#include "virtmodel/models.h"
#include "virtmodel/progress.h"
#include "virtmodel/vmx_caps.h"
#include "virtmodel/model.h"

/* mov ecx, TEST_MSR; mov r8d, 1000000; 1: rdmsr; dec r8; jnz 1b;
 * mov al, 0x2a; out 0xf4, al */
static const uint8_t rdmsr_loop[] = {
    0xB9, 0x00, 0x4D, 0x56, 0x4B, 0x41, 0xB8, 0x40, 0x42, 0x0F, 0x00,
    0x0F, 0x32, 0x49, 0xFF, 0xC8, 0x75, 0xF9, 0xB0, 0x2A, 0xE6, 0xF4,
};

static struct vmdl_exit run(struct vmdl_vm *vm)
{
    struct vmdl_exit e;
    assert_int_equal(vmdl_vm_run(vm, &e), 0);
    return e;
}

static void test_million_rdmsr_no_double_fault(void **state)
{
    (void)state;
    struct vmdl_vm *vm = vm_with_code(VMDL_ARCH_X86_64, rdmsr_loop, sizeof(rdmsr_loop), NULL);
    assert_non_null(vm);
    struct msr_state s = {0, 0, 0x1234};
    assert_int_equal(vmdl_vm_add_msr_range(vm, TEST_MSR, TEST_MSR, &test_msr_ops, &s), 0);
    struct vmdl_exit e = run(vm);
    assert_int_equal(e.reason, VMDL_EXIT_SHUTDOWN);
    assert_int_equal(e.u.shutdown.status, (0x2A << 1) | 1);
    assert_int_equal(s.reads, 1000000);
    uint64_t rax;
    vmdl_vcpu_get_reg(vmdl_vm_vcpu(vm, 0), VMDL_X86_RAX, &rax);
    assert_int_equal(rax & 0xFFFFFF00, 0x1200);
    vmdl_vm_destroy(vm);
}

/* mov ecx, 0x12345; rdmsr; mov rbx, rax; mov al, 1; out 0xf4, al */
static const uint8_t unclaimed_rdmsr[] = {
    0xB9, 0x45, 0x23, 0x01, 0x00, 0x0F, 0x32, 0x48, 0x89, 0xC3, 0xB0, 0x01, 0xE6, 0xF4,
};

static void test_unclaimed_msr_exits_to_caller_when_asked(void **state)
{
    (void)state;
    struct vmdl_vm_config cfg = {.arch = VMDL_ARCH_X86_64, .ram_size = 16 << 20,
                                 .msr_exits_to_caller = true};
    struct vmdl_vm *vm;
    assert_int_equal(vmdl_vm_create(&cfg, &vm), 0);
    assert_int_equal(vmdl_vm_load_raw(vm, unclaimed_rdmsr, sizeof(unclaimed_rdmsr), 0x100000), 0);
    struct vmdl_exit e = run(vm);
    assert_int_equal(e.reason, VMDL_EXIT_MSR_READ);
    assert_int_equal(e.u.msr.index, 0x12345);
    assert_int_equal(e.pc, 0x100005);
    /* Running again before completing is refused. */
    struct vmdl_exit e2;
    assert_int_equal(vmdl_vm_run(vm, &e2), VMDL_ESTATE);
    assert_int_equal(vmdl_vcpu_complete(vmdl_vm_vcpu(vm, 0), 0xABCD00000077ull), 0);
    e = run(vm);
    assert_int_equal(e.reason, VMDL_EXIT_SHUTDOWN);
    uint64_t rbx, rdx;
    vmdl_vcpu_get_reg(vmdl_vm_vcpu(vm, 0), VMDL_X86_RBX, &rbx);
    vmdl_vcpu_get_reg(vmdl_vm_vcpu(vm, 0), VMDL_X86_RDX, &rdx);
    assert_int_equal(rbx, 0x77);
    assert_int_equal(rdx, 0xABCD);
    vmdl_vm_destroy(vm);
}

static void test_unclaimed_msr_is_gp_by_default(void **state)
{
    (void)state;
    /* No IDT loaded: the #GP cannot be delivered, so the run ends with a
     * triple-fault (fault-loop) exit, not a crash. */
    struct vmdl_vm *vm = vm_with_code(VMDL_ARCH_X86_64, unclaimed_rdmsr,
                                      sizeof(unclaimed_rdmsr), NULL);
    assert_non_null(vm);
    struct vmdl_exit e = run(vm);
    assert_int_equal(e.reason, VMDL_EXIT_FAULT_LOOP);
    assert_int_equal(e.pc, 0x100005);
    assert_non_null(strstr(e.u.internal.message, "triple fault"));
    vmdl_vm_destroy(vm);
}

/* in al, 0x60; mov bl, al; out 0xf4, al */
static const uint8_t io_in[] = {0xE4, 0x60, 0x88, 0xC3, 0xE6, 0xF4};

static void test_io_in_exit_and_completion(void **state)
{
    (void)state;
    struct vmdl_vm *vm = vm_with_code(VMDL_ARCH_X86_64, io_in, sizeof(io_in), NULL);
    assert_non_null(vm);
    struct vmdl_exit e = run(vm);
    assert_int_equal(e.reason, VMDL_EXIT_IO);
    assert_int_equal(e.u.io.port, 0x60);
    assert_int_equal(e.u.io.size, 1);
    assert_false(e.u.io.is_write);
    assert_int_equal(vmdl_vcpu_complete(vmdl_vm_vcpu(vm, 0), 0x5A), 0);
    e = run(vm);
    assert_int_equal(e.reason, VMDL_EXIT_SHUTDOWN);
    /* The value reached AL before the next instruction used it. */
    assert_int_equal(e.u.shutdown.status, (0x5A << 1) | 1);
    uint64_t rbx;
    vmdl_vcpu_get_reg(vmdl_vm_vcpu(vm, 0), VMDL_X86_RBX, &rbx);
    assert_int_equal(rbx & 0xFF, 0x5A);
    vmdl_vm_destroy(vm);
}

/* 1: in al, 0x60; jmp 1b  (a guest polling a port) */
static const uint8_t io_in_loop[] = {0xE4, 0x60, 0xEB, 0xFC};

/* Every pass of a tight IN loop exits at the IN itself.  The IN hook sees
 * a stale RIP (the engine chains the loop's blocks without syncing it), so
 * finding the instruction must not depend on where RIP was left. */
static void test_io_in_tight_loop_exits_every_time(void **state)
{
    (void)state;
    struct vmdl_vm *vm = vm_with_code(VMDL_ARCH_X86_64, io_in_loop, sizeof(io_in_loop),
                                      NULL);
    assert_non_null(vm);
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    uint64_t base = 0;
    for (unsigned i = 0; i < 6; i++) {
        if (i == 3) {   /* with exact counting too (a block hook) */
            vmdl_vcpu_need_insn_count(v, true);
            base = vmdl_vcpu_insns(v);
        }
        struct vmdl_exit e = run(vm);
        if (e.reason != VMDL_EXIT_IO)
            fprintf(stderr, "pass %u: %s: %s\n", i, vmdl_exit_reason_name(e.reason),
                    e.u.internal.message);
        assert_int_equal(e.reason, VMDL_EXIT_IO);
        assert_int_equal(e.pc, 0x100000);
        assert_int_equal(e.u.io.port, 0x60);
        assert_false(e.u.io.is_write);
        if (i >= 3)   /* every JMP retired once, every IN on completion */
            assert_int_equal(vmdl_vcpu_insns(v), base + 1 + 2 * (i - 3));
        assert_int_equal(vmdl_vcpu_complete(v, i), 0);
    }
    vmdl_vm_destroy(vm);
}

/* out 0x70, al: an exit the caller completes with a fault; no IDT, so the
 * #GP cannot be delivered. */
static const uint8_t io_out_no_idt[] = {0xE6, 0x70, 0xF4};

static void test_complete_fault_triple_fault_says_why(void **state)
{
    (void)state;
    struct vmdl_vm *vm = vm_with_code(VMDL_ARCH_X86_64, io_out_no_idt,
                                      sizeof(io_out_no_idt), NULL);
    assert_non_null(vm);
    struct vmdl_exit e = run(vm);
    assert_int_equal(e.reason, VMDL_EXIT_IO);
    vmdl_clear_error();
    assert_int_equal(vmdl_vcpu_complete_fault(vmdl_vm_vcpu(vm, 0), VMDL_FAULT_GP),
                     VMDL_ESTATE);
    const char *msg = vmdl_last_error();
    assert_non_null(strstr(msg, "triple fault"));
    assert_non_null(strstr(msg, "#GP"));
    vmdl_vm_destroy(vm);
}

/* An APIC_BASE "model" that counts its reads: CPUID leaf 1 consults it
 * for the APIC bit (cpuid.c), once per CPUID that retires. */
static vmdl_fault apic_base_read(void *opaque, struct vmdl_vcpu *vcpu, uint32_t idx,
                                 uint64_t *value)
{
    (void)vcpu;
    (void)idx;
    ++*(unsigned *)opaque;
    *value = 0xFEE00900u;        /* enabled, BSP */
    return VMDL_FAULT_NONE;
}

static vmdl_fault apic_base_write(void *opaque, struct vmdl_vcpu *vcpu, uint32_t idx,
                                  uint64_t value)
{
    (void)opaque;
    (void)vcpu;
    (void)idx;
    (void)value;
    return VMDL_FAULT_GP;
}

static const struct vmdl_msr_ops apic_base_ops = { apic_base_read, apic_base_write };

/* mov eax, 1; out 0x70, al; cpuid; mov al, 0x2a; out 0xf4, al: the port
 * exits to the caller in the middle of a block. */
static const uint8_t io_then_cpuid[] = {0xB8, 0x01, 0x00, 0x00, 0x00, 0xE6, 0x70,
                                        0x0F, 0xA2, 0xB0, 0x2A, 0xE6, 0xF4};

/* The instructions after a port exit in its block do not run before the
 * caller completes it: the CPUID after it consults the models once, when it
 * retires, and hands back its answer (the APIC bit from the model). */
static void test_cpuid_after_io_exit_consults_models_once(void **state)
{
    (void)state;
    struct vmdl_vm *vm = vm_with_code(VMDL_ARCH_X86_64, io_then_cpuid,
                                      sizeof(io_then_cpuid), NULL);
    assert_non_null(vm);
    unsigned reads = 0;
    assert_int_equal(vmdl_vm_add_msr_range(vm, 0x1B, 0x1B, &apic_base_ops, &reads), 0);
    struct vmdl_exit e = run(vm);
    assert_int_equal(e.reason, VMDL_EXIT_IO);
    assert_int_equal(e.u.io.port, 0x70);
    assert_int_equal(e.pc, 0x100005);
    assert_int_equal(reads, 0);
    assert_int_equal(vmdl_vcpu_complete(vmdl_vm_vcpu(vm, 0), 0), 0);
    e = run(vm);
    assert_int_equal(e.reason, VMDL_EXIT_SHUTDOWN);
    assert_int_equal(reads, 1);
    uint64_t rdx;
    vmdl_vcpu_get_reg(vmdl_vm_vcpu(vm, 0), VMDL_X86_RDX, &rdx);
    assert_true(rdx & (1u << 9));                    /* CPUID.1:EDX.APIC */
    vmdl_vm_destroy(vm);
}

/* nop; nop; nop; mov al, 0; out 0xf4, al: the debug-exit OUT ends the run
 * inside its block; the four instructions before it and the OUT retired. */
static const uint8_t out_after_nops[] = {0x90, 0x90, 0x90, 0xB0, 0x00, 0xE6, 0xF4};

static void test_debug_exit_counts_the_block_before_it(void **state)
{
    (void)state;
    struct vmdl_vm *vm = vm_with_code(VMDL_ARCH_X86_64, out_after_nops,
                                      sizeof(out_after_nops), NULL);
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    vmdl_vcpu_need_insn_count(v, true);
    struct vmdl_exit e = run(vm);
    assert_int_equal(e.reason, VMDL_EXIT_SHUTDOWN);
    assert_int_equal(e.u.shutdown.status, 1);
    assert_int_equal(vmdl_vcpu_insns(v), 5);
    vmdl_vm_destroy(vm);
}

/* The 64-bit counterpart of the hosted vCPU's 16- and 32-bit loop tests:
 * mov ecx, n; 1: dec ecx (FF C9: 0x49 is a REX prefix here); jnz 1b;
 * xor eax, eax; out 0xf4, al.  MOV, 2n, XOR and the OUT retire. */
static void test_insn_count_64bit_loop(void **state)
{
    (void)state;
    for (uint32_t n = 10; n <= 1010; n += 1000) {
        const uint8_t code[] = { 0xB9, (uint8_t)n, (uint8_t)(n >> 8), 0, 0,
                                 0xFF, 0xC9, 0x75, 0xFC, 0x31, 0xC0, 0xE6, 0xF4 };
        struct vmdl_vm *vm = vm_with_code(VMDL_ARCH_X86_64, code, sizeof(code), NULL);
        struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
        vmdl_vcpu_need_insn_count(v, true);
        struct vmdl_exit e = run(vm);
        assert_int_equal(e.reason, VMDL_EXIT_SHUTDOWN);
        assert_int_equal(vmdl_vcpu_insns(v), 1 + 2 * n + 2);
        vmdl_vm_destroy(vm);
    }
}

/* mov ebx, 0xd0000000; mov eax, [rbx]; out 0xf4, al;
 * then: mov [rbx], eax; out 0xf4, al */
static const uint8_t mmio_rw[] = {
    0xBB, 0x00, 0x00, 0x00, 0xD0, 0x8B, 0x03, 0xE6, 0xF4,
};
static const uint8_t mmio_w[] = {
    0xBB, 0x00, 0x00, 0x00, 0xD0, 0xB8, 0x44, 0x33, 0x22, 0x11, 0x89, 0x03, 0xE6, 0xF4,
};

/* mov edi, 0xd0000000; mov ecx, 3; mov eax, 0x55; rep stosw;
 * mov esi, 0xd0000100; std; lodsd; cld; out 0xf4, al */
static const uint8_t mmio_string[] = {
    0xBF, 0x00, 0x00, 0x00, 0xD0, 0xB9, 0x03, 0x00, 0x00, 0x00,
    0xB8, 0x55, 0x00, 0x00, 0x00, 0x66, 0xF3, 0xAB,
    0xBE, 0x00, 0x01, 0x00, 0xD0, 0xFD, 0xAD, 0xFC, 0xE6, 0xF4,
};

/* A string instruction on unbacked memory: one MMIO exit per element, with
 * the pointers and the count moving as each element completes. */
static void test_mmio_string_element_exits(void **state)
{
    (void)state;
    struct vmdl_vm *vm = vm_with_code(VMDL_ARCH_X86_64, mmio_string, sizeof(mmio_string),
                                      NULL);
    assert_non_null(vm);
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    for (unsigned i = 0; i < 3; i++) {
        struct vmdl_exit e = run(vm);
        assert_int_equal(e.reason, VMDL_EXIT_MMIO);
        assert_true(e.u.mmio.is_write);
        assert_int_equal(e.u.mmio.addr, 0xD0000000u + 2 * i);
        assert_int_equal(e.u.mmio.size, 2);
        assert_int_equal(e.u.mmio.data, 0x55);
        uint64_t rcx;
        vmdl_vcpu_get_reg(v, VMDL_X86_RCX, &rcx);
        assert_int_equal(rcx, 3 - i);
        assert_int_equal(vmdl_vcpu_complete(v, 0), 0);
    }
    uint64_t rdi, rcx;
    vmdl_vcpu_get_reg(v, VMDL_X86_RDI, &rdi);
    vmdl_vcpu_get_reg(v, VMDL_X86_RCX, &rcx);
    assert_int_equal(rdi, 0xD0000006u);
    assert_int_equal(rcx, 0);
    /* LODSD with DF set: RSI goes down by 4, EAX zero-extends into RAX. */
    struct vmdl_exit e = run(vm);
    assert_int_equal(e.reason, VMDL_EXIT_MMIO);
    assert_false(e.u.mmio.is_write);
    assert_int_equal(e.u.mmio.addr, 0xD0000100u);
    assert_int_equal(e.u.mmio.size, 4);
    assert_int_equal(vmdl_vcpu_complete(v, 0xFFFFFFFF8badf00dull), 0);
    uint64_t rsi, rax;
    vmdl_vcpu_get_reg(v, VMDL_X86_RSI, &rsi);
    vmdl_vcpu_get_reg(v, VMDL_X86_RAX, &rax);
    assert_int_equal(rsi, 0xD00000FCu);
    assert_int_equal(rax, 0x8badf00du);
    e = run(vm);
    assert_int_equal(e.reason, VMDL_EXIT_SHUTDOWN);
    assert_int_equal(e.u.shutdown.status, (0x0d << 1) | 1);
    vmdl_vm_destroy(vm);
}

/* mov rax, 0x8000000000000000; call rax */
static const uint8_t call_noncanonical[] = {
    0x48, 0xB8, 0, 0, 0, 0, 0, 0, 0, 0x80, 0xFF, 0xD0,
};

/* With counting on, the #GP of a CALL to a non-canonical address is on the
 * CALL: RIP there, the push undone, the CALL not retired.  (No IDT: the #GP
 * ends in a fault-loop exit at the faulting RIP.)  Without counting it is
 * reported at the target, the documented limit. */
static void test_branch_to_noncanonical_faults_on_branch(void **state)
{
    (void)state;
    for (int counting = 0; counting < 2; counting++) {
        struct vmdl_vm *vm = vm_with_code(VMDL_ARCH_X86_64, call_noncanonical,
                                          sizeof(call_noncanonical), NULL);
        assert_non_null(vm);
        struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
        if (counting)
            vmdl_vcpu_need_insn_count(v, true);
        uint64_t rsp0, rsp;
        vmdl_vcpu_get_reg(v, VMDL_X86_RSP, &rsp0);
        struct vmdl_exit e = run(vm);
        assert_int_equal(e.reason, VMDL_EXIT_FAULT_LOOP);
        vmdl_vcpu_get_reg(v, VMDL_X86_RSP, &rsp);
        if (counting) {
            assert_int_equal(e.pc, 0x10000A);
            assert_int_equal(rsp, rsp0);
            assert_int_equal(vmdl_vcpu_insns(v), 1);
        } else {
            assert_int_equal(e.pc, 0x8000000000000000ull);
            assert_int_equal(rsp, rsp0 - 8);
        }
        vmdl_vm_destroy(vm);
    }
}

static void test_mmio_read_and_write_exits(void **state)
{
    (void)state;
    struct vmdl_vm *vm = vm_with_code(VMDL_ARCH_X86_64, mmio_rw, sizeof(mmio_rw), NULL);
    assert_non_null(vm);
    struct vmdl_exit e = run(vm);
    assert_int_equal(e.reason, VMDL_EXIT_MMIO);
    assert_int_equal(e.u.mmio.addr, 0xD0000000u);
    assert_int_equal(e.u.mmio.size, 4);
    assert_false(e.u.mmio.is_write);
    assert_int_equal(vmdl_vcpu_complete(vmdl_vm_vcpu(vm, 0), 0x1F), 0);
    e = run(vm);
    assert_int_equal(e.reason, VMDL_EXIT_SHUTDOWN);
    assert_int_equal(e.u.shutdown.status, (0x1F << 1) | 1);
    vmdl_vm_destroy(vm);

    vm = vm_with_code(VMDL_ARCH_X86_64, mmio_w, sizeof(mmio_w), NULL);
    e = run(vm);
    assert_int_equal(e.reason, VMDL_EXIT_MMIO);
    assert_true(e.u.mmio.is_write);
    assert_int_equal(e.u.mmio.data, 0x11223344);
    assert_int_equal(vmdl_vcpu_complete(vmdl_vm_vcpu(vm, 0), 0), 0);
    e = run(vm);
    assert_int_equal(e.reason, VMDL_EXIT_SHUTDOWN);
    assert_int_equal(e.u.shutdown.status, (0x44 << 1) | 1);
    vmdl_vm_destroy(vm);
}

/*
 * movabs rdx, 0x100001000; mov qword [rdx], 0x5A5A1234; mov rbx, [rdx];
 * mov eax, 0xC0000000; mov ecx, [rax]; mov al, cl; out 0xf4, al
 */
static const uint8_t split_ram_code[] = {
    0x48, 0xBA, 0x00, 0x10, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
    0x48, 0xC7, 0x02, 0x34, 0x12, 0x5A, 0x5A,
    0x48, 0x8B, 0x1A,
    0xB8, 0x00, 0x00, 0x00, 0xC0,
    0x8B, 0x08,
    0x88, 0xC8, 0xE6, 0xF4,
};

/* x86 RAM from 3.5 GiB on: 3 GiB at 0, the rest from 4 GiB (QEMU pc). */
static void test_ram_split_around_pci_hole(void **state)
{
    (void)state;
    struct vmdl_vm_config cfg = {.arch = VMDL_ARCH_X86_64, .ram_size = 0xE0000000ull - 0x1000};
    struct vmdl_vm *vm;
    struct vmdl_ram_range r[VMDL_MAX_RAM_RANGES];
    /* Just below the split size: one range, as before. */
    assert_int_equal(vmdl_vm_create(&cfg, &vm), 0);
    assert_int_equal(vmdl_vm_ram_ranges(vm, r), 1);
    assert_int_equal(r[0].gpa, 0);
    assert_int_equal(r[0].size, 0xE0000000ull - 0x1000);
    vmdl_vm_destroy(vm);
    cfg.ram_size = 0xE0000000ull;   /* 3.5 GiB: split */
    assert_int_equal(vmdl_vm_create(&cfg, &vm), 0);
    assert_int_equal(vmdl_vm_ram_ranges(vm, r), 2);
    assert_int_equal(r[0].size, 0xC0000000ull);
    assert_int_equal(r[1].gpa, 0x100000000ull);
    assert_int_equal(r[1].size, 0x20000000ull);
    vmdl_vm_destroy(vm);

    cfg.ram_size = 4ull << 30;
    assert_int_equal(vmdl_vm_create(&cfg, &vm), 0);
    assert_int_equal(vmdl_vm_ram_size(vm), 4ull << 30);
    assert_int_equal(vmdl_vm_ram_ranges(vm, r), 2);
    assert_int_equal(r[0].gpa, 0);
    assert_int_equal(r[0].size, 3ull << 30);
    assert_int_equal(r[1].gpa, 4ull << 30);
    assert_int_equal(r[1].size, 1ull << 30);
    /* The host bytes follow the ranges in order; the hole is not RAM, nor
     * is a range that runs from RAM into it or past the end. */
    uint8_t *low = vmdl_vm_ram_ptr(vm, 0, 8);
    assert_non_null(low);
    assert_ptr_equal(vmdl_vm_ram_ptr(vm, 4ull << 30, 8), low + (3ull << 30));
    assert_non_null(vmdl_vm_ram_ptr(vm, 0xBFFFFFF8ull, 8));
    assert_null(vmdl_vm_ram_ptr(vm, 0xBFFFFFFCull, 8));
    assert_null(vmdl_vm_ram_ptr(vm, 0xC0000000ull, 1));
    assert_null(vmdl_vm_ram_ptr(vm, 0xFFFFF000ull, 0x2000));
    assert_non_null(vmdl_vm_ram_ptr(vm, (5ull << 30) - 8, 8));
    assert_null(vmdl_vm_ram_ptr(vm, (5ull << 30) - 4, 8));
    assert_null(vmdl_vm_ram_ptr(vm, 5ull << 30, 1));
    /* A device may sit in the hole, not over either range. */
    static const struct vmdl_mmio_ops no_ops = {0};
    assert_int_equal(vmdl_vm_add_mmio(vm, 0xFED00000ull, 0x1000, &no_ops, NULL), 0);
    assert_int_equal(vmdl_vm_add_mmio(vm, 0xBFFFF000ull, 0x1000, &no_ops, NULL),
                     VMDL_EINVAL);
    assert_int_equal(vmdl_vm_add_mmio(vm, (4ull << 30) + 0x1000, 0x1000, &no_ops, NULL),
                     VMDL_EINVAL);

    /* The guest stores above 4 GiB and reads it back; an access in the hole
     * is MMIO; its stack starts at the top of the RAM below the hole. */
    assert_int_equal(vmdl_vm_load_raw(vm, split_ram_code, sizeof(split_ram_code),
                                      VMDL_X86_DEFAULT_LOAD), 0);
    uint64_t rsp = 0;
    assert_int_equal(vmdl_vcpu_get_reg(vmdl_vm_vcpu(vm, 0), VMDL_X86_RSP, &rsp), 0);
    assert_true(rsp < (3ull << 30) && rsp > (3ull << 30) - 0x100);
    struct vmdl_exit e = run(vm);
    assert_int_equal(e.reason, VMDL_EXIT_MMIO);
    assert_int_equal(e.u.mmio.addr, 0xC0000000ull);
    assert_false(e.u.mmio.is_write);
    uint64_t rbx = 0;
    assert_int_equal(vmdl_vcpu_get_reg(vmdl_vm_vcpu(vm, 0), VMDL_X86_RBX, &rbx), 0);
    assert_int_equal(rbx, 0x5A5A1234u);
    uint64_t stored;
    memcpy(&stored, vmdl_vm_ram_ptr(vm, 0x100001000ull, 8), 8);
    assert_int_equal(stored, 0x5A5A1234u);
    assert_int_equal(vmdl_vcpu_complete(vmdl_vm_vcpu(vm, 0), 0x21), 0);
    e = run(vm);
    assert_int_equal(e.reason, VMDL_EXIT_SHUTDOWN);
    assert_int_equal(e.u.shutdown.status, (0x21 << 1) | 1);
    vmdl_vm_destroy(vm);
}

/* vmread rax, rbx; out 0xf4, al */
static const uint8_t vmread_code[] = {0x0F, 0x78, 0xD8, 0xE6, 0xF4};
/* seamcall; out 0xf4, al */
static const uint8_t seamcall_code[] = {0x66, 0x0F, 0x01, 0xCF, 0xE6, 0xF4};

static vmdl_fault fake_vmx(void *opaque, struct vmdl_vcpu *vcpu,
                           const struct vmdl_x86_insn *insn)
{
    unsigned *calls = opaque;
    (*calls)++;
    assert_int_equal(insn->kind, VMDL_INSN_VMREAD);
    assert_int_equal(insn->length, 3);
    assert_int_equal(insn->op[0].kind, VMDL_OPND_REG);
    assert_int_equal(insn->op[0].reg, VMDL_X86_RAX);
    assert_int_equal(insn->op[1].reg, VMDL_X86_RBX);
    vmdl_vcpu_set_reg(vcpu, VMDL_X86_RAX, 0x33);
    return VMDL_FAULT_NONE;
}

static void test_vmx_instruction_decoded_and_routed(void **state)
{
    (void)state;
    struct vmdl_vm *vm = vm_with_code(VMDL_ARCH_X86_64, vmread_code, sizeof(vmread_code), NULL);
    assert_non_null(vm);
    /* Without a handler: an exit carrying the decoded instruction. */
    struct vmdl_exit e = run(vm);
    assert_int_equal(e.reason, VMDL_EXIT_VMX);
    assert_int_equal(e.u.insn.kind, VMDL_INSN_VMREAD);
    assert_non_null(strstr(e.u.insn.text, "vmread"));
    assert_int_equal(vmdl_vcpu_complete(vmdl_vm_vcpu(vm, 0), 0), 0);
    e = run(vm);
    assert_int_equal(e.reason, VMDL_EXIT_SHUTDOWN);
    vmdl_vm_destroy(vm);
    /* With a handler: handled inside. */
    vm = vm_with_code(VMDL_ARCH_X86_64, vmread_code, sizeof(vmread_code), NULL);
    unsigned calls = 0;
    vmdl_vm_set_vmx_handler(vm, fake_vmx, &calls);
    e = run(vm);
    assert_int_equal(e.reason, VMDL_EXIT_SHUTDOWN);
    assert_int_equal(e.u.shutdown.status, (0x33 << 1) | 1);
    assert_int_equal(calls, 1);
    vmdl_vm_destroy(vm);
}

/* mov rax, 0x1234; mov dr3, rax; mov rbx, dr3; out 0xe0, al (no device:
 * an exit to the caller); mov al, bl; out 0xf4, al */
static const uint8_t mov_dr_code[] = {
    0x48, 0xB8, 0x34, 0x12, 0, 0, 0, 0, 0, 0, 0x0F, 0x23, 0xD8, 0x0F, 0x21, 0xDB,
    0xE6, 0xE0, 0x88, 0xD8, 0xE6, 0xF4,
};

struct dr_model {
    uint64_t dr3;
    unsigned calls, enters, exits;
    bool in;
};

static vmdl_fault dr_model_access(void *opaque, struct vmdl_vcpu *vcpu, bool write,
                                  unsigned dr, uint64_t *value, uint64_t *code)
{
    (void)vcpu;
    (void)code;
    struct dr_model *m = opaque;
    if (dr != 3)
        return VMDL_FAULT_UNCLAIMED;
    m->calls++;
    if (write)
        m->dr3 = *value;
    else
        *value = m->dr3;
    return VMDL_FAULT_NONE;
}

static void dr_model_switch(void *opaque, struct vmdl_vcpu *vcpu, bool entering)
{
    (void)vcpu;
    struct dr_model *m = opaque;
    assert_int_not_equal(m->in, entering); /* strictly alternating */
    m->in = entering;
    if (entering)
        m->enters++;
    else
        m->exits++;
}

static const struct vmdl_model_desc dr_model_desc = {
    .name = "dr-test", .arch = VMDL_ARCH_X86_64, .vendor = -1,
    .dr = dr_model_access, .world_switch = dr_model_switch,
};

/* MOV DR reaches the model's DR handler (the guest's #GP at CPL3 is
 * emulated), and a world switch brackets every stretch in the engine: an
 * exit to the caller is one. At most one DR handler per VM. */
static void test_mov_dr_routed_and_world_switch(void **state)
{
    (void)state;
    struct vmdl_vm *vm = vm_with_code(VMDL_ARCH_X86_64, mov_dr_code,
                                      sizeof(mov_dr_code), NULL);
    assert_non_null(vm);
    struct dr_model m = {0}, other = {0};
    assert_int_equal(vmdl_vm_add_model(vm, &dr_model_desc, &m), 0);
    assert_int_equal(vmdl_vm_add_model(vm, &dr_model_desc, &other), VMDL_ESTATE);
    struct vmdl_exit e = run(vm);
    assert_int_equal(e.reason, VMDL_EXIT_IO);
    assert_int_equal(e.u.io.port, 0xE0);
    assert_int_equal(m.calls, 2);
    assert_int_equal(m.dr3, 0x1234);
    assert_false(m.in);
    assert_int_equal(m.enters, m.exits);
    unsigned before = m.enters;
    assert_int_equal(vmdl_vcpu_complete(vmdl_vm_vcpu(vm, 0), 0), 0);
    e = run(vm);
    assert_int_equal(e.reason, VMDL_EXIT_SHUTDOWN);
    assert_int_equal(e.u.shutdown.status, (0x34 << 1) | 1);
    assert_true(m.enters > before);
    assert_int_equal(m.enters, m.exits);
    assert_int_equal(other.calls + other.enters, 0);
    vmdl_vm_destroy(vm);
}

static void test_seamcall_decoded_without_capstone(void **state)
{
    (void)state;
    struct vmdl_vm *vm = vm_with_code(VMDL_ARCH_X86_64, seamcall_code, sizeof(seamcall_code), NULL);
    struct vmdl_exit e = run(vm);
    assert_int_equal(e.reason, VMDL_EXIT_SEAM);
    assert_int_equal(e.u.insn.kind, VMDL_INSN_SEAMCALL);
    assert_int_equal(e.u.insn.length, 4);
    assert_string_equal(e.u.insn.text, "seamcall");
    vmdl_vm_destroy(vm);
}

/* cli; hlt; out 0xf4, al */
static const uint8_t cli_hlt[] = {0xFA, 0xF4, 0xE6, 0xF4};

static void test_hlt_with_interrupts_disabled_ends_cleanly(void **state)
{
    (void)state;
    struct vmdl_vm *vm = vm_with_code(VMDL_ARCH_X86_64, cli_hlt, sizeof(cli_hlt), NULL);
    struct vmdl_exit e = run(vm);
    assert_int_equal(e.reason, VMDL_EXIT_HLT);
    /* An NMI still wakes it: delivery needs an IDT, which this code lacks,
     * so the wake ends in a clean fault-loop exit rather than a hang. */
    vmdl_vcpu_inject_nmi(vmdl_vm_vcpu(vm, 0));
    e = run(vm);
    assert_int_equal(e.reason, VMDL_EXIT_FAULT_LOOP);
    vmdl_vm_destroy(vm);
}

/* ud2 */
static const uint8_t ud2_code[] = {0x0F, 0x0B};

static void test_undefined_opcode_without_idt_is_fault_loop(void **state)
{
    (void)state;
    struct vmdl_vm *vm = vm_with_code(VMDL_ARCH_X86_64, ud2_code, sizeof(ud2_code), NULL);
    struct vmdl_exit e = run(vm);
    assert_int_equal(e.reason, VMDL_EXIT_FAULT_LOOP);
    assert_int_equal(e.pc, 0x100000);
    vmdl_vm_destroy(vm);
}

/* 1: jmp 1b */
static const uint8_t spin[] = {0xEB, 0xFE};

static void test_limits_end_runaway_loops(void **state)
{
    (void)state;
    struct vmdl_vm *vm = vm_with_code(VMDL_ARCH_X86_64, spin, sizeof(spin), NULL);
    vmdl_vm_set_limits(vm, 100000, 0);
    struct vmdl_exit e = run(vm);
    assert_int_equal(e.reason, VMDL_EXIT_MAX_INSNS);
    uint64_t n = vmdl_vcpu_insns(vmdl_vm_vcpu(vm, 0));
    assert_true(n >= 100000 && n < 100000 + 64);
    vmdl_vm_set_limits(vm, 0, 0.2);
    e = run(vm);
    assert_int_equal(e.reason, VMDL_EXIT_TIMEOUT);
    vmdl_vm_destroy(vm);
}

/* Exact instruction counting: mov ecx, 1000; 1: dec ecx; jnz 1b; out. */
static const uint8_t counted[] = {0xB9, 0xE8, 0x03, 0x00, 0x00, 0xFF, 0xC9, 0x75,
                                  0xFC, 0xE6, 0xF4};

static void test_instruction_count_is_exact(void **state)
{
    (void)state;
    struct vmdl_vm *vm = vm_with_code(VMDL_ARCH_X86_64, counted, sizeof(counted), NULL);
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    vmdl_vcpu_need_insn_count(v, true);
    struct vmdl_exit e = run(vm);
    assert_int_equal(e.reason, VMDL_EXIT_SHUTDOWN);
    /* mov + 1000 * (dec + jnz) + the OUT that ended the run. */
    assert_int_equal(vmdl_vcpu_insns(v), 1 + 2000 + 1);
    assert_int_equal(vmdl_vcpu_branches(v) >= 999, 1);
    vmdl_vm_destroy(vm);
}

static void test_cpuid_table(void **state)
{
    (void)state;
    /* cpuid with eax=0; mov al, bl; out 0xf4, al  (status from EBX low byte) */
    static const uint8_t code[] = {0x31, 0xC0, 0x0F, 0xA2, 0x88, 0xD8, 0xE6, 0xF4};
    struct vmdl_vm *vm = vm_with_code(VMDL_ARCH_X86_64, code, sizeof(code), NULL);
    struct vmdl_exit e = run(vm);
    assert_int_equal(e.reason, VMDL_EXIT_SHUTDOWN);
    assert_int_equal(e.u.shutdown.status, ('G' << 1) | 1); /* "Genu" */
    struct vmdl_cpuid_entry ent = {.leaf = 0x40000000, .ebx = 0x4D4C4456};
    assert_int_equal(vmdl_vm_set_cpuid(vm, &ent), 0);
    struct vmdl_cpuid_entry back;
    assert_int_equal(vmdl_vm_get_cpuid(vm, 0x40000000, 0, &back), 0);
    assert_int_equal(back.ebx, 0x4D4C4456);
    assert_int_equal(vmdl_vm_get_cpuid(vm, 0x40000001, 0, &back), VMDL_ENOENT);
    vmdl_vm_destroy(vm);
}

/*
 * CPUID answers from the table as it is when the instruction executes:
 * the vCPU keeps the last leaf it looked up (cpuid.c), so a change of the
 * table between two CPUIDs of the same leaf, and a second subleaf of a
 * leaf that has them, must still give the new answer.  (The JMP ends the
 * translation block at the IN: the instructions after an I/O exit in the
 * same block run once and are rolled back, x86/io.c.)
 *   mov eax, 0x40000000; cpuid; in al, 0x60 (exit: the host changes the
 *   leaf); jmp .+2; mov eax, 0x40000000; cpuid; mov esi, ebx;
 *   mov eax, 7; xor ecx, ecx; cpuid; mov edi, ebx;
 *   mov eax, 7; mov ecx, 1; cpuid; mov al, 1; out 0xf4, al
 */
static void test_cpuid_follows_table_changes_and_subleaves(void **state)
{
    (void)state;
    static const uint8_t code[] = {
        0xB8, 0x00, 0x00, 0x00, 0x40, 0x0F, 0xA2, 0xE4, 0x60, 0xEB, 0x00,
        0xB8, 0x00, 0x00, 0x00, 0x40, 0x0F, 0xA2, 0x89, 0xDE,
        0xB8, 0x07, 0x00, 0x00, 0x00, 0x31, 0xC9, 0x0F, 0xA2, 0x89, 0xDF,
        0xB8, 0x07, 0x00, 0x00, 0x00, 0xB9, 0x01, 0x00, 0x00, 0x00, 0x0F, 0xA2,
        0xB0, 0x01, 0xE6, 0xF4,
    };
    struct vmdl_vm *vm = vm_with_code(VMDL_ARCH_X86_64, code, sizeof(code), NULL);
    assert_non_null(vm);
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    struct vmdl_cpuid_entry ent = {.leaf = 0x40000000, .ebx = 0x11111111};
    assert_int_equal(vmdl_vm_set_cpuid(vm, &ent), 0);
    struct vmdl_cpuid_entry l7 = {.leaf = 7, .subleaf = 0, .ebx = 0x70};
    assert_int_equal(vmdl_vm_set_cpuid(vm, &l7), 0);
    l7.subleaf = 1;
    l7.ebx = 0x71;
    assert_int_equal(vmdl_vm_set_cpuid(vm, &l7), 0);
    struct vmdl_exit e = run(vm);
    assert_int_equal(e.reason, VMDL_EXIT_IO);
    uint64_t rbx = 0, rsi = 0, rdi = 0;
    assert_int_equal(vmdl_vcpu_get_reg(v, VMDL_X86_RBX, &rbx), 0);
    assert_int_equal(rbx, 0x11111111);
    ent.ebx = 0x22222222;
    assert_int_equal(vmdl_vm_set_cpuid(vm, &ent), 0);
    assert_int_equal(vmdl_vcpu_complete(v, 0), 0);
    e = run(vm);
    assert_int_equal(e.reason, VMDL_EXIT_SHUTDOWN);
    assert_int_equal(vmdl_vcpu_get_reg(v, VMDL_X86_RSI, &rsi), 0);
    assert_int_equal(rsi, 0x22222222);
    assert_int_equal(vmdl_vcpu_get_reg(v, VMDL_X86_RDI, &rdi), 0);
    assert_int_equal(rdi, 0x70);
    assert_int_equal(vmdl_vcpu_get_reg(v, VMDL_X86_RBX, &rbx), 0);
    assert_int_equal(rbx, 0x71);
    vmdl_vm_destroy(vm);
}

/* MAXPHYADDR in CPUID.80000008H:EAX[7:0] is the attached VMX profile's, so
 * that the address checks of VMXON/VMPTRLD/EPT and CPUID agree. */
static void test_cpuid_maxphyaddr_follows_vmx_profile(void **state)
{
    (void)state;
    static const char *const names[] = { NULL, "core2", "nehalem" };
    for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        struct vmdl_vm *vm;
        struct vmdl_vm_config cfg = {.arch = VMDL_ARCH_X86_64};
        assert_int_equal(vmdl_vm_create(&cfg, &vm), 0);
        struct vmdl_cpuid_entry e;
        assert_int_equal(vmdl_vm_get_cpuid(vm, 0x80000008, 0, &e), 0);
        assert_int_equal(e.eax, 0x3028);                  /* 40 bits without VMX */
        assert_int_equal(vmdl_attach_vmx(vm, names[i]), 0);
        struct vmdl_vmx_caps c;
        assert_int_equal(vmdl_vmx_profile_get(names[i], &c), 0);
        assert_int_equal(vmdl_vm_get_cpuid(vm, 0x80000008, 0, &e), 0);
        assert_int_equal(e.eax & 0xFF, c.phys_addr_bits);
        assert_int_equal((e.eax >> 8) & 0xFF, 48);        /* linear width kept */
        vmdl_vm_destroy(vm);
    }
}

/* Profile suffixes: the field policy and the SDM options, in any order;
 * unknown or empty ones are refused. */
static void test_vmx_profile_suffixes(void **state)
{
    (void)state;
    static const struct {
        const char *spec;
        int err;
        enum vmdl_vmx_field_policy pol;
        bool init, inject;
    } c[] = {
        {"skylake", 0, VMDL_VMX_FIELDS_KVM, false, false},
        {"skylake:arch", 0, VMDL_VMX_FIELDS_ARCH, false, false},
        {"skylake:sdm-init", 0, VMDL_VMX_FIELDS_KVM, true, false},
        {"skylake:sdm-inject:arch", 0, VMDL_VMX_FIELDS_ARCH, false, true},
        {"sapphire-rapids:sdm-init:sdm-inject", 0, VMDL_VMX_FIELDS_KVM, true, true},
        {"skylake:", VMDL_EINVAL, 0, false, false},
        {"skylake:sdm", VMDL_EINVAL, 0, false, false},
        {"skylake:arch:", VMDL_EINVAL, 0, false, false},
        {"nosuch:arch", VMDL_ENOENT, 0, false, false},
    };
    for (unsigned i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        struct vmdl_vm *vm;
        struct vmdl_vm_config cfg = {.arch = VMDL_ARCH_X86_64};
        assert_int_equal(vmdl_vm_create(&cfg, &vm), 0);
        struct vmdl_vmx_attach *h = NULL;
        int err = vmdl_attach_vmx_ex(vm, NULL, c[i].spec, VMDL_VMX_ATTACH_FEATURE_CONTROL, &h);
        if (err != c[i].err)
            fail_msg("%s: %d (%s), want %d", c[i].spec, err, vmdl_last_error(), c[i].err);
        if (!err) {
            const struct vmdl_vmx_caps *m = vmdl_vmx_model_caps(vmdl_vmx_attach_model(h));
            assert_int_equal(m->field_policy, c[i].pol);
            assert_int_equal(m->sdm_init_blocked_in_wait_for_sipi, c[i].init);
            assert_int_equal(m->sdm_activity_blocks_injection, c[i].inject);
        }
        vmdl_vm_destroy(vm);
    }
}

/* "Load CET state" (exit control bit 28, entry control bit 20) is offered
 * only when the VM's CPUID has shadow stacks or IBT: KVM clears both
 * controls without either (its vmcs_config), and the machine's vCPU has no
 * CET MSRs for them to load. */
static void test_vmx_load_cet_follows_cpuid(void **state)
{
    (void)state;
    for (int cet = 0; cet < 2; cet++) {
        struct vmdl_vm *vm;
        struct vmdl_vm_config cfg = {.arch = VMDL_ARCH_X86_64};
        assert_int_equal(vmdl_vm_create(&cfg, &vm), 0);
        struct vmdl_cpuid_entry e = {.leaf = 7};
        if (!vmdl_vm_get_cpuid(vm, 7, 0, &e)) {
            assert_int_equal(e.ecx & (1u << 7), 0);       /* no SHSTK */
            assert_int_equal(e.edx & (1u << 20), 0);      /* no IBT */
        }
        if (cet) {
            e.edx |= 1u << 20;
            assert_int_equal(vmdl_vm_set_cpuid(vm, &e), 0);
        }
        struct vmdl_vmx_attach *h = NULL;
        assert_int_equal(vmdl_attach_vmx_ex(vm, NULL, "sapphire-rapids",
                                            VMDL_VMX_ATTACH_FEATURE_CONTROL, &h), 0);
        struct vmdl_vmx_caps c;
        assert_int_equal(vmdl_vmx_profile_get("sapphire-rapids", &c), 0);
        assert_true(vmdl_vmx_caps_allowed1(&c, VMDL_VMX_CTL_EXIT, 28));
        const struct vmdl_vmx_caps *got = vmdl_vmx_model_caps(vmdl_vmx_attach_model(h));
        assert_int_equal(vmdl_vmx_caps_allowed1(got, VMDL_VMX_CTL_EXIT, 28), cet);
        assert_int_equal(vmdl_vmx_caps_allowed1(got, VMDL_VMX_CTL_ENTRY, 20), cet);
        vmdl_vm_destroy(vm);
    }
}

static void test_bad_arguments(void **state)
{
    (void)state;
    struct vmdl_vm *vm;
    struct vmdl_vm_config cfg = {.arch = 7};
    assert_int_equal(vmdl_vm_create(&cfg, &vm), VMDL_EINVAL);
    assert_non_null(strstr(vmdl_last_error(), "architecture"));
    cfg.arch = VMDL_ARCH_X86_64;
    cfg.nr_vcpus = 1000;
    assert_int_equal(vmdl_vm_create(&cfg, &vm), VMDL_ERANGE);
    cfg.nr_vcpus = 1;
    cfg.ram_size = 12345;
    assert_int_equal(vmdl_vm_create(&cfg, &vm), VMDL_ERANGE);
    /* RAM that does not start at 0 is one range and must end below the
     * APIC window (only RAM at 0 is split around the PCI hole). */
    cfg.ram_base = 0x1000000;
    cfg.ram_size = 0xFE000000;
    assert_int_equal(vmdl_vm_create(&cfg, &vm), VMDL_ERANGE);
    assert_non_null(strstr(vmdl_last_error(), "APIC window"));
    cfg.ram_base = 0;
    /* Split RAM ends at 1 TiB (the vCPU's 40 physical address bits). */
    cfg.ram_size = 1ull << 40;
    assert_int_equal(vmdl_vm_create(&cfg, &vm), VMDL_ERANGE);
    assert_non_null(strstr(vmdl_last_error(), "1 TiB"));
    cfg.ram_size = 0;
    assert_int_equal(vmdl_vm_create(&cfg, &vm), 0);
    struct vmdl_exit e;
    assert_int_equal(vmdl_vm_run(vm, &e), VMDL_ESTATE); /* nothing loaded */
    assert_int_equal(vmdl_vcpu_complete(vmdl_vm_vcpu(vm, 0), 0), VMDL_ESTATE);
    assert_null(vmdl_vm_vcpu(vm, 1));
    assert_int_equal(vmdl_vcpu_inject_irq(vmdl_vm_vcpu(vm, 0), 5), VMDL_ERANGE);
    assert_int_equal(vmdl_vm_add_mmio(vm, 0x1000, 0x1000, NULL, NULL), VMDL_EINVAL);
    uint64_t x;
    assert_int_equal(vmdl_vcpu_get_reg(vmdl_vm_vcpu(vm, 0), VMDL_ARM64_PC, &x), VMDL_EINVAL);
    assert_int_equal(vmdl_vcpu_set_reg(vmdl_vm_vcpu(vm, 0), VMDL_X86_CR8, 16), VMDL_ERANGE);
    vmdl_vm_destroy(vm);
}

/* ---- guest-ELF tests (examples/guests/x86_64/machine_*.c) ---- */

static void test_guest_exceptions_through_idt(void **state)
{
    (void)state;
    struct console_buf con = {0};
    struct vmdl_vm *vm = vm_with_guest("x86_64/machine_faults.elf", 1, &con);
    assert_non_null(vm);
    struct vmdl_exit e = run(vm);
    if (e.reason != VMDL_EXIT_SHUTDOWN || e.u.shutdown.status != 0)
        fprintf(stderr, "%s", con.data);
    assert_int_equal(e.reason, VMDL_EXIT_SHUTDOWN);
    assert_int_equal(e.u.shutdown.status, 0);
    assert_non_null(strstr(con.data, "faults: all passed"));
    vmdl_vm_destroy(vm);
}

static void test_guest_interrupt_injection(void **state)
{
    (void)state;
    struct console_buf con = {0};
    struct vmdl_vm *vm = vm_with_guest("x86_64/machine_irq.elf", 1, &con);
    assert_non_null(vm);
    unsigned injected = 0;
    for (;;) {
        struct vmdl_exit e = run(vm);
        if (e.reason == VMDL_EXIT_HLT) {
            /* The guest waits with STI; HLT: give it vector 0x40 + n. */
            assert_int_equal(vmdl_vcpu_inject_irq(vmdl_vm_vcpu(vm, 0), 0x40 + injected), 0);
            injected++;
            assert_true(injected <= 3);
            continue;
        }
        assert_int_equal(e.reason, VMDL_EXIT_SHUTDOWN);
        assert_int_equal(e.u.shutdown.status, 0);
        break;
    }
    assert_int_equal(injected, 3);
    assert_non_null(strstr(con.data, "irq: got 0x40 0x41 0x42"));
    vmdl_vm_destroy(vm);
}

static void run_multi(struct console_buf *con, uint64_t *insns)
{
    struct vmdl_vm *vm = vm_with_guest("x86_64/machine_smp.elf", 3, con);
    assert_non_null(vm);
    struct vmdl_exit e = run(vm);
    assert_int_equal(e.reason, VMDL_EXIT_SHUTDOWN);
    for (unsigned i = 0; i < 3; i++)
        insns[i] = vmdl_vcpu_insns(vmdl_vm_vcpu(vm, i));
    vmdl_vm_destroy(vm);
}

static void test_multi_vcpu_runs_reproduce(void **state)
{
    (void)state;
    static struct console_buf a, b;
    uint64_t ia[3], ib[3];
    run_multi(&a, ia);
    run_multi(&b, ib);
    assert_string_equal(a.data, b.data);
    assert_memory_equal(ia, ib, sizeof(ia));
    /* All three vCPUs ran and interleaved. */
    assert_non_null(strstr(a.data, "cpu1"));
    assert_non_null(strstr(a.data, "cpu2"));
}

static void test_guest_reset_reloads_image_keeps_ram(void **state)
{
    (void)state;
    struct console_buf con = {0};
    struct vmdl_vm *vm = vm_with_guest("x86_64/machine_reset.elf", 1, &con);
    assert_non_null(vm);
    struct vmdl_exit e = run(vm);
    assert_int_equal(e.reason, VMDL_EXIT_RESET);
    e = run(vm);
    assert_int_equal(e.reason, VMDL_EXIT_SHUTDOWN);
    assert_int_equal(e.u.shutdown.status, 0);
    assert_non_null(strstr(con.data, "boot 1"));
    assert_non_null(strstr(con.data, "boot 2: data reloaded, marker kept"));
    vmdl_vm_destroy(vm);
}

/* ---- trap sites (src/machine/x86/site.c) ---- */

/*
 * mov r8d, 5; 1: mov ecx, TEST_MSR; rdmsr; mov ecx, TEST_MSR+1; rdmsr;
 * add r9, rax; vmread rbx, rdx; add r9, rbx; dec r8; jnz 1b;
 * mov eax, r9d; out 0xf4, al
 * The first RDMSR and the VMREAD are claimed (completed inside the engine
 * once they have trapped); the second RDMSR nobody claims: an exit to the
 * caller from the same kind of site.
 */
static const uint8_t site_loop[] = {
    0x41, 0xB8, 0x05, 0x00, 0x00, 0x00,
    0xB9, 0x00, 0x4D, 0x56, 0x4B, 0x0F, 0x32,
    0xB9, 0x01, 0x4D, 0x56, 0x4B, 0x0F, 0x32,
    0x49, 0x01, 0xC1,
    0x0F, 0x78, 0xD3,
    0x49, 0x01, 0xD9,
    0x49, 0xFF, 0xC8, 0x75, 0xE4,
    0x44, 0x89, 0xC8, 0xE6, 0xF4,
};

static vmdl_fault count_vmx(void *opaque, struct vmdl_vcpu *vcpu,
                            const struct vmdl_x86_insn *insn)
{
    unsigned *calls = opaque;
    (*calls)++;
    assert_int_equal(insn->kind, VMDL_INSN_VMREAD);
    assert_int_equal(insn->op[0].reg, VMDL_X86_RBX);
    vmdl_vcpu_set_reg(vcpu, VMDL_X86_RBX, *calls);
    return VMDL_FAULT_NONE;
}

struct site_run {
    uint64_t exits_pc[16], insns[16], final_insns;
    unsigned nr_exits, vmx_calls, reads;
    int status;
};

static void run_site_loop(bool slow, struct site_run *out)
{
    struct vmdl_vm_config cfg = {.arch = VMDL_ARCH_X86_64, .ram_size = 16 << 20,
                                 .msr_exits_to_caller = true, .no_fast_traps = slow};
    struct vmdl_vm *vm;
    assert_int_equal(vmdl_vm_create(&cfg, &vm), 0);
    assert_int_equal(vmdl_vm_load_raw(vm, site_loop, sizeof(site_loop),
                                      VMDL_X86_DEFAULT_LOAD), 0);
    struct msr_state ms = {0, 0, 0x10};
    assert_int_equal(vmdl_vm_add_msr_range(vm, TEST_MSR, TEST_MSR, &test_msr_ops, &ms), 0);
    memset(out, 0, sizeof(*out));
    vmdl_vm_set_vmx_handler(vm, count_vmx, &out->vmx_calls);
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    vmdl_vcpu_need_insn_count(v, true); /* exact virtual time */
    for (;;) {
        struct vmdl_exit e = run(vm);
        if (e.reason == VMDL_EXIT_SHUTDOWN) {
            out->status = e.u.shutdown.status;
            break;
        }
        assert_int_equal(e.reason, VMDL_EXIT_MSR_READ);
        assert_int_equal(e.u.msr.index, TEST_MSR + 1);
        assert_true(out->nr_exits < 16);
        out->exits_pc[out->nr_exits] = e.pc;
        out->insns[out->nr_exits++] = vmdl_vcpu_insns(v);
        assert_int_equal(vmdl_vcpu_complete(v, 0x100), 0);
    }
    out->final_insns = vmdl_vcpu_insns(v);
    out->reads = (unsigned)ms.reads;
    vmdl_vm_destroy(vm);
}

static void test_trap_sites_match_the_trap_path(void **state)
{
    (void)state;
    struct site_run fast, slow;
    run_site_loop(false, &fast);
    run_site_loop(true, &slow);
    /* 5 rounds: r9 = 5 * 0x100 (the second RDMSR's value) + (1 + ... + 5) */
    assert_int_equal(slow.status, (((5 * 0x100 + 15) & 0xFF) << 1) | 1);
    assert_int_equal(fast.status, slow.status);
    assert_int_equal(slow.nr_exits, 5);
    assert_int_equal(fast.nr_exits, 5);
    for (unsigned i = 0; i < 5; i++) {
        assert_int_equal(fast.exits_pc[i], VMDL_X86_DEFAULT_LOAD + 18);
        /* before the unclaimed RDMSR of round i: 1 + 9 * i + 3 retired */
        assert_int_equal(slow.insns[i], 4 + 9 * i);
        assert_int_equal(fast.insns[i], slow.insns[i]);
    }
    assert_int_equal(fast.final_insns, slow.final_insns);
    assert_int_equal(fast.vmx_calls, 5);
    assert_int_equal(fast.reads, 5);
}

/* The fixture's timer interrupts land at the same instruction, at the same
 * virtual time, whether trapped instructions leave the engine or not. */
/*
 * Two vCPUs (a short quantum: they take turns inside the loops) run this:
 * 3 times { 12 rounds of 16 RDMSRs at 16 addresses, then 30 rounds of 4
 * RDMSRs at 4 more }, summing the values; the first to finish powers off.
 * 20 addresses: more than there are trap sites, and the two groups take
 * turns being the busier one.  Every read is logged with the vCPU and its
 * retired-instruction count; the value read is the number of reads so far,
 * so the sum depends on the order of the reads as well.
 */
#define SMP_LOG 4096
struct smp_log {
    unsigned n;
    uint8_t vcpu[SMP_LOG];
    uint64_t insns[SMP_LOG];
};

static vmdl_fault smp_msr_read(void *opaque, struct vmdl_vcpu *vcpu, uint32_t idx,
                               uint64_t *value)
{
    struct smp_log *l = opaque;
    (void)idx;
    assert_true(l->n < SMP_LOG);
    l->vcpu[l->n] = (uint8_t)vmdl_vcpu_index(vcpu);
    l->insns[l->n] = vmdl_vcpu_insns(vcpu);
    *value = ++l->n;
    return VMDL_FAULT_NONE;
}

static const struct vmdl_msr_ops smp_msr_ops = {smp_msr_read, test_msr_write};

static size_t emit_rdmsr_loop(uint8_t *c, size_t n, unsigned count, unsigned rounds)
{
    const uint8_t mov_r8[] = {0x41, 0xB8};          /* mov r8d, rounds */
    memcpy(c + n, mov_r8, 2);
    memcpy(c + n + 2, &rounds, 4);
    n += 6;
    size_t top = n;
    for (unsigned i = 0; i < count; i++) {
        const uint8_t body[] = {0x0F, 0x32, 0x49, 0x01, 0xC1};  /* rdmsr; add r9, rax */
        memcpy(c + n, body, sizeof(body));
        n += sizeof(body);
    }
    const uint8_t tail[] = {0x49, 0xFF, 0xC8, 0x75};   /* dec r8; jnz top */
    memcpy(c + n, tail, sizeof(tail));
    n += sizeof(tail);
    c[n] = (uint8_t)(top - (n + 1));
    return n + 1;
}

static void run_smp_sites(bool slow, struct smp_log *log, uint64_t *insns, int *status)
{
    uint8_t code[256];
    size_t n = 0;
    const uint8_t head[] = {0xB9, 0x00, 0x4D, 0x56, 0x4B,   /* mov ecx, TEST_MSR */
                            0x41, 0xBA, 0x03, 0x00, 0x00, 0x00}; /* mov r10d, 3 */
    memcpy(code, head, sizeof(head));
    n = sizeof(head);
    size_t outer = n;
    n = emit_rdmsr_loop(code, n, 16, 12);
    n = emit_rdmsr_loop(code, n, 4, 30);
    const uint8_t again[] = {0x49, 0xFF, 0xCA, 0x0F, 0x85};  /* dec r10; jnz outer */
    memcpy(code + n, again, sizeof(again));
    n += sizeof(again);
    int32_t rel = (int32_t)outer - (int32_t)(n + 4);
    memcpy(code + n, &rel, 4);
    n += 4;
    const uint8_t end[] = {0x44, 0x89, 0xC8, 0xE6, 0xF4};   /* mov eax, r9d; out 0xf4, al */
    memcpy(code + n, end, sizeof(end));
    n += sizeof(end);
    assert_true(n <= sizeof(code));

    struct vmdl_vm_config cfg = {.arch = VMDL_ARCH_X86_64, .ram_size = 16 << 20,
                                 .nr_vcpus = 2, .quantum = 37, .no_fast_traps = slow};
    struct vmdl_vm *vm;
    assert_int_equal(vmdl_vm_create(&cfg, &vm), 0);
    assert_int_equal(vmdl_vm_load_raw(vm, code, n, VMDL_X86_DEFAULT_LOAD), 0);
    memset(log, 0, sizeof(*log));
    assert_int_equal(vmdl_vm_add_msr_range(vm, TEST_MSR, TEST_MSR, &smp_msr_ops, log), 0);
    struct vmdl_exit e = run(vm);
    assert_int_equal(e.reason, VMDL_EXIT_SHUTDOWN);
    *status = e.u.shutdown.status;
    for (unsigned i = 0; i < 2; i++)
        insns[i] = vmdl_vcpu_insns(vmdl_vm_vcpu(vm, i));
    vmdl_vm_destroy(vm);
}

/* Trap sites on a VM with several vCPUs and more addresses than sites:
 * the same reads, in the same order, at the same instruction counts. */
static void test_trap_sites_smp_and_more_than_sixteen(void **state)
{
    (void)state;
    static struct smp_log fast, slow;
    uint64_t n_fast[2], n_slow[2];
    int s_fast, s_slow;
    run_smp_sites(false, &fast, n_fast, &s_fast);
    run_smp_sites(true, &slow, n_slow, &s_slow);
    /* Both vCPUs ran, taking turns, until one powered off. */
    assert_true(slow.n > 900);
    unsigned turns = 0;
    for (unsigned i = 1; i < slow.n; i++)
        turns += slow.vcpu[i] != slow.vcpu[i - 1];
    assert_true(turns > 50);
    assert_int_equal(fast.n, slow.n);
    assert_memory_equal(fast.vcpu, slow.vcpu, slow.n);
    assert_memory_equal(fast.insns, slow.insns, slow.n * sizeof(slow.insns[0]));
    assert_int_equal(n_fast[0], n_slow[0]);
    assert_int_equal(n_fast[1], n_slow[1]);
    assert_int_equal(s_fast, s_slow);
}

static void run_trap_sites_guest(bool slow, struct console_buf *con, uint64_t *insns)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/x86_64/trap_sites.elf", VMDL_FIXTURE_DIR);
    uint8_t *data;
    size_t size;
    assert_int_equal(vmdl_read_file(path, &data, &size), 0);
    struct vmdl_vm_config cfg = {.arch = VMDL_ARCH_X86_64, .console = console_capture,
                                 .console_opaque = con, .no_fast_traps = slow};
    struct vmdl_vm *vm;
    assert_int_equal(vmdl_vm_create(&cfg, &vm), 0);
    assert_int_equal(vmdl_vm_load_elf(vm, data, size), 0);
    free(data);
    assert_int_equal(vmdl_attach_models(vm, "lapic", NULL), 0);
    struct vmdl_exit e = run(vm);
    assert_int_equal(e.reason, VMDL_EXIT_SHUTDOWN);
    assert_int_equal(e.u.shutdown.status, 0);
    *insns = vmdl_vcpu_insns(vmdl_vm_vcpu(vm, 0));
    vmdl_vm_destroy(vm);
}

static void test_trap_sites_keep_timer_interrupts_in_place(void **state)
{
    (void)state;
    struct console_buf fast = {0}, slow = {0};
    uint64_t n_fast, n_slow;
    run_trap_sites_guest(false, &fast, &n_fast);
    run_trap_sites_guest(true, &slow, &n_slow);
    assert_non_null(strstr(slow.data, "39: rip"));
    assert_non_null(strstr(slow.data, "trap_sites: sum"));
    assert_null(strstr(slow.data, "FAIL"));
    assert_string_equal(fast.data, slow.data);
    assert_int_equal(n_fast, n_slow);
}

/*
 * A guest with the vmx model (and the lapic) attached, run with trap sites
 * or with every VMREAD/VMWRITE trapped (no_fast_traps): console, retired
 * instructions and the exits counted.  Sites complete L1's VMREAD/VMWRITE in
 * the engine without the between-exits work while nothing is due
 * (run.c, vmdl__hook_no_exit); everything must come out the same.
 */
struct vmx_run {
    struct console_buf con;
    uint64_t insns;
    struct vmdl_vm_stats st;
    int status;
};

static void run_vmx_guest(const char *path, bool slow, struct vmx_run *out)
{
    uint8_t *data;
    size_t size;
    assert_int_equal(vmdl_read_file(path, &data, &size), 0);
    memset(out, 0, sizeof(*out));
    struct vmdl_vm_config cfg = {.arch = VMDL_ARCH_X86_64, .console = console_capture,
                                 .console_opaque = &out->con, .no_fast_traps = slow};
    struct vmdl_vm *vm;
    assert_int_equal(vmdl_vm_create(&cfg, &vm), 0);
    assert_int_equal(vmdl_vm_load_elf(vm, data, size), 0);
    free(data);
    assert_int_equal(vmdl_attach_models(vm, "vmx,lapic", NULL), 0);
    struct vmdl_exit e = run(vm);
    assert_int_equal(e.reason, VMDL_EXIT_SHUTDOWN);
    out->status = e.u.shutdown.status;
    out->insns = vmdl_vcpu_insns(vmdl_vm_vcpu(vm, 0));
    assert_int_equal(vmdl_vm_get_stats(vm, &out->st), 0);
    vmdl_vm_destroy(vm);
}

static void check_vmx_guest_same(const char *path, const char *must)
{
    static struct vmx_run fast, slow;
    run_vmx_guest(path, false, &fast);
    run_vmx_guest(path, true, &slow);
    assert_int_equal(slow.status, 0);
    assert_non_null(strstr(slow.con.data, must));
    assert_null(strstr(slow.con.data, "FAIL"));
    assert_string_equal(fast.con.data, slow.con.data);
    assert_int_equal(fast.status, slow.status);
    assert_int_equal(fast.insns, slow.insns);
    assert_int_equal(fast.st.exits, slow.st.exits);
    /* The sites did their work: far fewer entries into the engine. */
    assert_true(fast.st.entries * 4 < slow.st.entries);
}

/* Timer interrupts land at the same instruction and TSC in loops of
 * VMREAD/VMWRITE, with IF set and behind an interrupt window; every field
 * width and an unsupported field (VMfailValid 12) give the same results. */
static void test_vmx_sites_keep_timer_interrupts_in_place(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof(path), "%s/x86_64/vmx_sites.elf", VMDL_FIXTURE_DIR);
    check_vmx_guest_same(path, "47: rip");
}

/* Every vmcs12 field (each width, _HIGH halves, read-only and unsupported
 * ones) through the guest's one VMREAD and one VMWRITE address: the results
 * in the engine are the trap path's. */
static void test_vmx_fields_same_in_the_engine(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof(path), "%s/x86_64/vmx_fields.elf", VMDL_GUEST_DIR);
    check_vmx_guest_same(path, "vmx_fields:");
}

/* VMREAD/VMWRITE are decoded by hand (decode.c): every ModRM form, with
 * and without REX, against Capstone's decoding of the same bytes. */
static unsigned cs_gpr(csh cs, unsigned reg)
{
    static const char *const names[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi",
                                          "rdi", "r8", "r9", "r10", "r11", "r12", "r13",
                                          "r14", "r15"};
    const char *n = cs_reg_name(cs, reg);
    for (unsigned i = 0; n && i < 16; i++)
        if (!strcmp(n, names[i]))
            return i;
    return 99;
}

static void check_vmrw_exit(csh cs, const uint8_t *code, size_t len, uint64_t at,
                            const struct vmdl_exit *e, const uint64_t *gpr)
{
    cs_insn *in = NULL;
    assert_int_equal(cs_disasm(cs, code, len, at, 1, &in), 1);
    assert_true(in->id == X86_INS_VMREAD || in->id == X86_INS_VMWRITE);
    assert_int_equal(e->reason, VMDL_EXIT_VMX);
    assert_int_equal(e->pc, at);
    assert_int_equal(e->u.insn.kind,
                     in->id == X86_INS_VMREAD ? VMDL_INSN_VMREAD : VMDL_INSN_VMWRITE);
    assert_int_equal(e->u.insn.length, in->size);
    const cs_x86 *x = &in->detail->x86;
    assert_int_equal(x->op_count, 2);
    for (unsigned o = 0; o < 2; o++) {
        const cs_x86_op *op = &x->operands[o];
        const struct vmdl_x86_operand *got = &e->u.insn.op[o];
        if (op->type == X86_OP_REG) {
            assert_int_equal(got->kind, VMDL_OPND_REG);
            assert_int_equal(got->reg, VMDL_X86_RAX + cs_gpr(cs, op->reg));
            continue;
        }
        assert_int_equal(got->kind, VMDL_OPND_MEM);
        uint64_t a = (uint64_t)op->mem.disp;
        if (op->mem.base == X86_REG_RIP)
            a += at + in->size;
        else if (op->mem.base != X86_REG_INVALID)
            a += gpr[cs_gpr(cs, op->mem.base)];
        if (op->mem.index != X86_REG_INVALID)
            a += gpr[cs_gpr(cs, op->mem.index)] * (uint64_t)op->mem.scale;
        assert_int_equal(got->addr, a);
    }
    char want[256];
    snprintf(want, sizeof(want), "%s %s", in->mnemonic, in->op_str);
    assert_string_equal(e->u.insn.text, want);
    cs_free(in, 1);
}

/* The VMREAD operands each call saw (op[0]: VMREAD's destination). */
struct vmrw_seen {
    unsigned n;
    enum vmdl_reg dst[8];
};

static vmdl_fault record_vmread(void *opaque, struct vmdl_vcpu *vcpu,
                                const struct vmdl_x86_insn *insn)
{
    (void)vcpu;
    struct vmrw_seen *s = opaque;
    assert_int_equal(insn->kind, VMDL_INSN_VMREAD);
    assert_true(s->n < 8);
    s->dst[s->n++] = insn->op[0].reg;
    return VMDL_FAULT_NONE;
}

/*
 * A trap site keeps its decoded VMREAD (site.c) only while the bytes are
 * the same: the guest rewrites the ModRM of a VMREAD it has run twice
 * (the second time through the site's hook), and the next two calls see
 * the new destination, with and without trap sites.
 *   call X; call X; mov byte [rip + (X + 2)], 0xD1; call X; call X;
 *   mov al, 1; out 0xf4, al;  X: vmread rbx, rdx; ret
 * (0F 78 D3: vmread rbx, rdx; ModRM D1: vmread rcx, rdx.)
 */
static void test_trap_site_vmread_rewritten(void **state)
{
    (void)state;
    static const uint8_t code[] = {
        0xE8, 0x1A, 0x00, 0x00, 0x00,             /* 0: call 31 */
        0xE8, 0x15, 0x00, 0x00, 0x00,             /* 5: call 31 */
        0xC6, 0x05, 0x10, 0x00, 0x00, 0x00, 0xD1, /* 10: mov byte [rip+16], 0xD1 */
        0xE8, 0x09, 0x00, 0x00, 0x00,             /* 17: call 31 */
        0xE8, 0x04, 0x00, 0x00, 0x00,             /* 22: call 31 */
        0xB0, 0x01, 0xE6, 0xF4,                   /* 27: mov al, 1; out 0xf4, al */
        0x0F, 0x78, 0xD3, 0xC3,                   /* 31: vmread rbx, rdx; ret */
    };
    for (int slow = 0; slow < 2; slow++) {
        struct vmdl_vm_config cfg = {.arch = VMDL_ARCH_X86_64, .ram_size = 16 << 20,
                                     .no_fast_traps = slow};
        struct vmdl_vm *vm;
        assert_int_equal(vmdl_vm_create(&cfg, &vm), 0);
        assert_int_equal(vmdl_vm_load_raw(vm, code, sizeof(code), VMDL_X86_DEFAULT_LOAD), 0);
        struct vmrw_seen seen = {0};
        vmdl_vm_set_vmx_handler(vm, record_vmread, &seen);
        struct vmdl_exit e = run(vm);
        assert_int_equal(e.reason, VMDL_EXIT_SHUTDOWN);
        assert_int_equal(seen.n, 4);
        assert_int_equal(seen.dst[0], VMDL_X86_RBX);
        assert_int_equal(seen.dst[1], VMDL_X86_RBX);
        assert_int_equal(seen.dst[2], VMDL_X86_RCX);
        assert_int_equal(seen.dst[3], VMDL_X86_RCX);
        vmdl_vm_destroy(vm);
    }
}

static void test_vmread_vmwrite_decoded_by_hand_as_capstone(void **state)
{
    (void)state;
    csh cs;
    assert_int_equal(cs_open(CS_ARCH_X86, CS_MODE_64, &cs), CS_ERR_OK);
    cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON);
    uint8_t nop = 0x90;
    struct vmdl_vm *vm = vm_with_code(VMDL_ARCH_X86_64, &nop, 1, NULL);
    assert_non_null(vm);
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    uint64_t gpr[16];
    uint64_t at = VMDL_X86_DEFAULT_LOAD + 0x1000;
    unsigned checked = 0;
    static const uint8_t sibs[] = {0x00, 0x24, 0x25, 0x4C, 0x65, 0xA5, 0xE3, 0xFF};
    for (unsigned rex = 0x3F; rex <= 0x4F; rex += (rex == 0x3F ? 1 : 5)) {
        for (unsigned opc = 0x78; opc <= 0x79; opc++) {
            for (unsigned modrm = 0; modrm < 256; modrm++) {
                unsigned nsib = (modrm >> 6) != 3 && (modrm & 7) == 4 ? sizeof(sibs) : 1;
                for (unsigned k = 0; k < nsib; k++) {
                    uint8_t code[16] = {0};
                    size_t n = 0;
                    if (rex != 0x3F)
                        code[n++] = (uint8_t)rex;
                    code[n++] = 0x0F;
                    code[n++] = (uint8_t)opc;
                    code[n++] = (uint8_t)modrm;
                    if (nsib > 1)
                        code[n++] = sibs[k];
                    /* displacement bytes (negative 8-bit, mixed 32-bit) */
                    code[n++] = 0xF0;
                    code[n++] = 0x12;
                    code[n++] = 0x34;
                    code[n++] = 0x80;
                    uint8_t *ram = vmdl_vm_ram_ptr(vm, at, sizeof(code));
                    assert_non_null(ram);
                    memcpy(ram, code, sizeof(code));
                    for (unsigned r = 0; r < 16; r++) {
                        gpr[r] = 0x1111000000ull * (r + 1) + 0x40 * r;
                        vmdl_vcpu_set_reg(v, (enum vmdl_reg)(VMDL_X86_RAX + r), gpr[r]);
                    }
                    vmdl_vcpu_set_reg(v, VMDL_X86_RIP, at);
                    struct vmdl_exit e = run(vm);
                    check_vmrw_exit(cs, code, sizeof(code), at, &e, gpr);
                    assert_int_equal(vmdl_vcpu_complete(v, 0), 0);
                    at += 32;
                    checked++;
                }
            }
        }
    }
    assert_true(checked > 3000);
    cs_close(&cs);
    vmdl_vm_destroy(vm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_million_rdmsr_no_double_fault),
        cmocka_unit_test(test_unclaimed_msr_exits_to_caller_when_asked),
        cmocka_unit_test(test_unclaimed_msr_is_gp_by_default),
        cmocka_unit_test(test_io_in_exit_and_completion),
        cmocka_unit_test(test_cpuid_after_io_exit_consults_models_once),
        cmocka_unit_test(test_io_in_tight_loop_exits_every_time),
        cmocka_unit_test(test_complete_fault_triple_fault_says_why),
        cmocka_unit_test(test_debug_exit_counts_the_block_before_it),
        cmocka_unit_test(test_insn_count_64bit_loop),
        cmocka_unit_test(test_branch_to_noncanonical_faults_on_branch),
        cmocka_unit_test(test_mmio_read_and_write_exits),
        cmocka_unit_test(test_mmio_string_element_exits),
        cmocka_unit_test(test_vmx_instruction_decoded_and_routed),
        cmocka_unit_test(test_mov_dr_routed_and_world_switch),
        cmocka_unit_test(test_seamcall_decoded_without_capstone),
        cmocka_unit_test(test_hlt_with_interrupts_disabled_ends_cleanly),
        cmocka_unit_test(test_undefined_opcode_without_idt_is_fault_loop),
        cmocka_unit_test(test_limits_end_runaway_loops),
        cmocka_unit_test(test_instruction_count_is_exact),
        cmocka_unit_test(test_cpuid_table),
        cmocka_unit_test(test_cpuid_follows_table_changes_and_subleaves),
        cmocka_unit_test(test_cpuid_maxphyaddr_follows_vmx_profile),
        cmocka_unit_test(test_vmx_profile_suffixes),
        cmocka_unit_test(test_vmx_load_cet_follows_cpuid),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_ram_split_around_pci_hole),
        cmocka_unit_test(test_guest_exceptions_through_idt),
        cmocka_unit_test(test_guest_interrupt_injection),
        cmocka_unit_test(test_multi_vcpu_runs_reproduce),
        cmocka_unit_test(test_guest_reset_reloads_image_keeps_ram),
        cmocka_unit_test(test_trap_sites_match_the_trap_path),
        cmocka_unit_test(test_trap_sites_keep_timer_interrupts_in_place),
        cmocka_unit_test(test_trap_sites_smp_and_more_than_sixteen),
        cmocka_unit_test(test_trap_site_vmread_rewritten),
        cmocka_unit_test(test_vmx_sites_keep_timer_interrupts_in_place),
        cmocka_unit_test(test_vmx_fields_same_in_the_engine),
        cmocka_unit_test(test_vmread_vmwrite_decoded_by_hand_as_capstone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
