/* SPDX-License-Identifier: MIT */
/*
 * Port I/O that stops the engine is precise: nothing after the IN, OUT,
 * INS or OUTS runs before the stop is handled, in every form (imm8 and DX
 * ports, byte/word/dword, string with and without REP) and in every mode.
 *
 * The deprivileged vCPU (64-bit code) returns I/O to the caller: the rest
 * of the translation block must run once, after the completion, with the
 * value an IN got.  The hosted vCPU (real guests, every mode) completes
 * port I/O itself and stops for a power-off or a nested guest's access:
 * the instructions after the OUT that powered off must not run at all.
 * Before the engine stopped at the I/O instruction itself the rest of the
 * block ran before the exit was handled and again after it: a store after
 * an OUT happened twice.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hosted_test_util.h"
#include "machine/hosted_lm64.h"      /* bench/ */
#include "virtmodel/attach_lapic.h"
#include "virtmodel/loader.h"
#include "virtmodel/machine.h"

/* ---- the deprivileged vCPU: I/O exits to the caller ------------------- */

#define CODE_AT 0x100000u
#define MEM 0x101000u           /* counters the guests increment */
#define BUF 0x101100u           /* string I/O source/destination */

/* mov ebx, [MEM]: the page of the counters in the engine's TLB, so that
 * nothing but the stop itself keeps a store after the I/O from running */
#define TOUCH_MEM 0x8B, 0x1C, 0x25, 0x00, 0x10, 0x10, 0x00
/* inc dword [abs32] (64-bit: ModRM 04, SIB 25) */
#define INC_MEM(a) 0xFF, 0x04, 0x25, (uint8_t)(a), (uint8_t)((a) >> 8), \
                   (uint8_t)((a) >> 16), (uint8_t)((a) >> 24)
/* xor eax, eax; out 0xf4, al: power off with status 1 */
#define POWER_OFF 0x31, 0xC0, 0xE6, 0xF4

static struct vmdl_vm *vm_code(const uint8_t *code, size_t n, bool count)
{
    struct vmdl_vm_config cfg = {.arch = VMDL_ARCH_X86_64, .ram_size = 16 << 20};
    struct vmdl_vm *vm = NULL;
    assert_int_equal(vmdl_vm_create(&cfg, &vm), 0);
    assert_int_equal(vmdl_vm_load_raw(vm, code, n, CODE_AT), 0);
    if (count)
        vmdl_vcpu_need_insn_count(vmdl_vm_vcpu(vm, 0), true);
    return vm;
}

static struct vmdl_exit run(struct vmdl_vm *vm)
{
    struct vmdl_exit e;
    assert_int_equal(vmdl_vm_run(vm, &e), 0);
    return e;
}

static uint32_t ram32(struct vmdl_vm *vm, uint64_t pa)
{
    uint32_t x = 0;
    memcpy(&x, vmdl_vm_ram_ptr(vm, pa, 4), 4);
    return x;
}

static uint64_t vreg(struct vmdl_vm *vm, enum vmdl_reg r)
{
    uint64_t x = 0;
    assert_int_equal(vmdl_vcpu_get_reg(vmdl_vm_vcpu(vm, 0), r, &x), 0);
    return x;
}

static void expect_io(const struct vmdl_exit *e, uint64_t pc, uint16_t port,
                      unsigned size, bool write)
{
    assert_int_equal(e->reason, VMDL_EXIT_IO);
    assert_int_equal(e->pc, pc);
    assert_int_equal(e->u.io.port, port);
    assert_int_equal(e->u.io.size, size);
    assert_int_equal(e->u.io.is_write, write);
}

/* out 0x70, al; inc dword [MEM]; power off: the store after the OUT runs
 * once, with and without instruction counting (the block hook changes how
 * the engine chains blocks), and the count is exact: MOV, OUT, INC, XOR,
 * OUT. */
static void test_out_imm8_store_after_runs_once(void **state)
{
    (void)state;
    static const uint8_t code[] = { TOUCH_MEM, 0xE6, 0x70, INC_MEM(MEM), POWER_OFF };
    for (int count = 0; count < 2; count++) {
        struct vmdl_vm *vm = vm_code(code, sizeof(code), count);
        struct vmdl_exit e = run(vm);
        expect_io(&e, CODE_AT + 7, 0x70, 1, true);
        assert_int_equal(ram32(vm, MEM), 0);          /* nothing ran past the OUT */
        assert_int_equal(vmdl_vcpu_complete(vmdl_vm_vcpu(vm, 0), 0), 0);
        e = run(vm);
        assert_int_equal(e.reason, VMDL_EXIT_SHUTDOWN);
        assert_int_equal(ram32(vm, MEM), 1);
        if (count)
            assert_int_equal(vmdl_vcpu_insns(vmdl_vm_vcpu(vm, 0)), 5);
        vmdl_vm_destroy(vm);
    }
}

/* mov dx, 0x60; in eax, dx; add [MEM], eax; inc dword [MEM + 4]; power
 * off: the block after the IN sees the caller's dword, once. */
static void test_in_dx_dword_value_used_once(void **state)
{
    (void)state;
    static const uint8_t code[] = {
        0x66, 0xBA, 0x60, 0x00,                         /* mov dx, 0x60 */
        TOUCH_MEM,
        0xED,                                           /* in eax, dx */
        0x01, 0x04, 0x25, 0x00, 0x10, 0x10, 0x00,       /* add [MEM], eax */
        INC_MEM(MEM + 4), POWER_OFF };
    struct vmdl_vm *vm = vm_code(code, sizeof(code), true);
    struct vmdl_exit e = run(vm);
    expect_io(&e, CODE_AT + 11, 0x60, 4, false);
    assert_int_equal(ram32(vm, MEM + 4), 0);
    assert_int_equal(vmdl_vcpu_complete(vmdl_vm_vcpu(vm, 0), 0x12345678), 0);
    e = run(vm);
    assert_int_equal(e.reason, VMDL_EXIT_SHUTDOWN);
    assert_int_equal(ram32(vm, MEM), 0x12345678);
    assert_int_equal(ram32(vm, MEM + 4), 1);
    assert_int_equal(vmdl_vcpu_insns(vmdl_vm_vcpu(vm, 0)), 7);
    vmdl_vm_destroy(vm);
}

/* mov ax, 0xbeef; out 0x72, ax; in al, 0x71; mov [MEM], al; power off:
 * a word OUT and a byte IN in one block, each exactly once. */
static void test_word_out_then_byte_in(void **state)
{
    (void)state;
    static const uint8_t code[] = {
        TOUCH_MEM,
        0x66, 0xB8, 0xEF, 0xBE,                         /* mov ax, 0xbeef */
        0x66, 0xE7, 0x72,                               /* out 0x72, ax */
        0xE4, 0x71,                                     /* in al, 0x71 */
        0x88, 0x04, 0x25, 0x00, 0x10, 0x10, 0x00,       /* mov [MEM], al */
        INC_MEM(MEM + 4), POWER_OFF };
    struct vmdl_vm *vm = vm_code(code, sizeof(code), false);
    struct vmdl_exit e = run(vm);
    expect_io(&e, CODE_AT + 11, 0x72, 2, true);
    assert_int_equal(e.u.io.data, 0xBEEF);
    assert_int_equal(vmdl_vcpu_complete(vmdl_vm_vcpu(vm, 0), 0), 0);
    e = run(vm);
    expect_io(&e, CODE_AT + 14, 0x71, 1, false);
    assert_int_equal(ram32(vm, MEM + 4), 0);
    assert_int_equal(vmdl_vcpu_complete(vmdl_vm_vcpu(vm, 0), 0xA5), 0);
    e = run(vm);
    assert_int_equal(e.reason, VMDL_EXIT_SHUTDOWN);
    assert_int_equal(ram32(vm, MEM) & 0xFF, 0xA5);
    assert_int_equal(ram32(vm, MEM + 4), 1);
    vmdl_vm_destroy(vm);
}

/* mov esi, BUF; mov ecx, 3; mov dx, 0x70; rep outsb; inc dword [MEM];
 * power off: one exit per element, in order; RSI and RCX advance with
 * each completed element; the store after it runs once. */
static void test_rep_outsb_exits_per_element(void **state)
{
    (void)state;
    static const uint8_t code[] = {
        0xBE, 0x00, 0x11, 0x10, 0x00,                   /* mov esi, BUF */
        0xB9, 0x03, 0x00, 0x00, 0x00,                   /* mov ecx, 3 */
        0x66, 0xBA, 0x70, 0x00,                         /* mov dx, 0x70 */
        0xF3, 0x6E,                                     /* rep outsb */
        INC_MEM(MEM), POWER_OFF };
    struct vmdl_vm *vm = vm_code(code, sizeof(code), true);
    memcpy(vmdl_vm_ram_ptr(vm, BUF, 3), "abc", 3);
    for (unsigned i = 0; i < 3; i++) {
        struct vmdl_exit e = run(vm);
        expect_io(&e, CODE_AT + 14, 0x70, 1, true);
        assert_int_equal(e.u.io.data, (uint8_t)"abc"[i]);
        assert_int_equal(vreg(vm, VMDL_X86_RSI), BUF + i);
        assert_int_equal(vreg(vm, VMDL_X86_RCX), 3 - i);
        assert_int_equal(ram32(vm, MEM), 0);
        assert_int_equal(vmdl_vcpu_complete(vmdl_vm_vcpu(vm, 0), 0), 0);
    }
    struct vmdl_exit e = run(vm);
    assert_int_equal(e.reason, VMDL_EXIT_SHUTDOWN);
    assert_int_equal(vreg(vm, VMDL_X86_RSI), BUF + 3);
    assert_int_equal(vreg(vm, VMDL_X86_RCX), 0);
    assert_int_equal(ram32(vm, MEM), 1);
    /* Three MOVs, REP OUTSB once per element, INC, XOR, OUT. */
    assert_int_equal(vmdl_vcpu_insns(vmdl_vm_vcpu(vm, 0)), 3 + 3 + 3);
    vmdl_vm_destroy(vm);
}

/* mov edi, BUF; mov ecx, 2; mov dx, 0x60; std; ... : rep insw with DF
 * clear stores each completed word at RDI and moves on; outsd without REP
 * is one element.  mov edi, BUF; mov ecx, 2; mov dx, 0x60; rep insw;
 * mov esi, BUF; outsd; inc dword [MEM]; power off. */
static void test_rep_insw_and_outsd(void **state)
{
    (void)state;
    static const uint8_t code[] = {
        0xBF, 0x00, 0x11, 0x10, 0x00,                   /* mov edi, BUF */
        0xB9, 0x02, 0x00, 0x00, 0x00,                   /* mov ecx, 2 */
        0x66, 0xBA, 0x60, 0x00,                         /* mov dx, 0x60 */
        0x66, 0xF3, 0x6D,                               /* rep insw */
        0xBE, 0x00, 0x11, 0x10, 0x00,                   /* mov esi, BUF */
        0x6F,                                           /* outsd */
        INC_MEM(MEM), POWER_OFF };
    struct vmdl_vm *vm = vm_code(code, sizeof(code), false);
    static const uint16_t words[2] = { 0x1111, 0x2222 };
    for (unsigned i = 0; i < 2; i++) {
        struct vmdl_exit e = run(vm);
        expect_io(&e, CODE_AT + 14, 0x60, 2, false);
        assert_int_equal(vreg(vm, VMDL_X86_RDI), BUF + 2 * i);
        assert_int_equal(vmdl_vcpu_complete(vmdl_vm_vcpu(vm, 0), words[i]), 0);
    }
    struct vmdl_exit e = run(vm);
    expect_io(&e, CODE_AT + 22, 0x60, 4, true);
    assert_int_equal(e.u.io.data, 0x22221111u);
    assert_int_equal(vreg(vm, VMDL_X86_RDI), BUF + 4);
    assert_int_equal(vreg(vm, VMDL_X86_RCX), 0);
    assert_int_equal(vreg(vm, VMDL_X86_RSI), BUF);
    assert_int_equal(vmdl_vcpu_complete(vmdl_vm_vcpu(vm, 0), 0), 0);
    e = run(vm);
    assert_int_equal(e.reason, VMDL_EXIT_SHUTDOWN);
    assert_int_equal(vreg(vm, VMDL_X86_RSI), BUF + 4);
    assert_int_equal(ram32(vm, MEM), 1);
    vmdl_vm_destroy(vm);
}

/* An IN that exits on every turn of a loop: the same exits, counts and
 * memory each time, with counting (the block hook) and without it (the
 * engine then chains the loop's blocks and leaves RIP stale at the stop:
 * the third exit was an internal error "could not find the I/O
 * instruction" before the engine stopped right after the IN). */
static void test_io_exits_in_a_loop(void **state)
{
    (void)state;
    static const uint8_t code[] = {
        0xB9, 0x20, 0x00, 0x00, 0x00,                   /* mov ecx, 32 */
        0xE4, 0x60,                                     /* 1: in al, 0x60 */
        0x00, 0x04, 0x25, 0x00, 0x10, 0x10, 0x00,       /* add [MEM], al */
        0xFF, 0xC9, 0x75, 0xF3,                         /* dec ecx; jnz 1b */
        POWER_OFF };
    uint64_t insns[2];
    for (int count = 0; count < 2; count++) {
        struct vmdl_vm *vm = vm_code(code, sizeof(code), count);
        for (unsigned i = 0; i < 32; i++) {
            struct vmdl_exit e = run(vm);
            expect_io(&e, CODE_AT + 5, 0x60, 1, false);
            assert_int_equal(vreg(vm, VMDL_X86_RCX), 32 - i);
            if (count)
                assert_int_equal(vmdl_vcpu_insns(vmdl_vm_vcpu(vm, 0)), 1 + 4 * i);
            assert_int_equal(vmdl_vcpu_complete(vmdl_vm_vcpu(vm, 0), i + 1), 0);
        }
        struct vmdl_exit e = run(vm);
        assert_int_equal(e.reason, VMDL_EXIT_SHUTDOWN);
        assert_int_equal(ram32(vm, MEM), (32 * 33 / 2) & 0xFF);   /* a byte sum */
        insns[count] = vmdl_vcpu_insns(vmdl_vm_vcpu(vm, 0));
        vmdl_vm_destroy(vm);
    }
    assert_int_equal(insns[1], 1 + 4 * 32 + 2);
}

/* ---- the hosted vCPU: nothing runs after the OUT that powered off ------ */

#define HLOAD 0x100000u
#define HIMG 0x1000u
#define HCODE 0x40u
#define HMEM 0x300000u         /* the counter: a page of its own */
#define GDT 0x900u
#define GDTR 0x9F0u

/* mov al, 0x21; out 0xf4, al: power off with status 0x43 */
#define OFF_0X21 0xB0, 0x21, 0xE6, 0xF4

static uint8_t himg[HIMG];

static void put_u32(uint8_t *p, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static struct vmdl_vm *hosted_boot(const uint8_t *code, size_t n, unsigned vcpus)
{
    memset(himg, 0xF4, sizeof(himg));
    mb_aout_header(himg, HLOAD, HLOAD + HCODE);
    memcpy(himg + HCODE, code, n);
    /* GDT: 0x08 32-bit code, 0x10 16-bit code at HLOAD, 0x18 data (flat) */
    static const uint8_t gdt[] = { 0, 0, 0, 0, 0, 0, 0, 0,
        0xFF, 0xFF, 0, 0, 0, 0x9A, 0xCF, 0,
        0xFF, 0xFF, 0, 0, 0x10, 0x9A, 0x00, 0,          /* base HLOAD, 64 KiB */
        0xFF, 0xFF, 0, 0, 0, 0x92, 0xCF, 0 };
    memcpy(himg + GDT, gdt, sizeof(gdt));
    himg[GDTR] = sizeof(gdt) - 1;
    himg[GDTR + 1] = 0;
    put_u32(himg + GDTR + 2, HLOAD + GDT);
    struct vmdl_vm_config cfg = { .arch = VMDL_ARCH_X86_64, .ram_size = 16 << 20,
                                  .nr_vcpus = vcpus, .quantum = 1000 };
    struct vmdl_vm *vm;
    assert_int_equal(vmdl_vm_create(&cfg, &vm), 0);
    struct vmdl_mb_boot mb = { "io", NULL, 0 };
    assert_int_equal(vmdl_vm_load_multiboot(vm, himg, sizeof(himg), &mb), 0);
    vmdl_vcpu_need_insn_count(vmdl_vm_vcpu(vm, 0), true);
    return vm;
}

static void expect_power_off(struct vmdl_vm *vm, int status)
{
    struct vmdl_exit e;
    assert_int_equal(vmdl_vm_run(vm, &e), 0);
    if (e.reason != VMDL_EXIT_SHUTDOWN)
        print_message("exit %d at 0x%llx: %s\n", (int)e.reason,
                      (unsigned long long)e.pc, e.u.internal.message);
    assert_int_equal(e.reason, VMDL_EXIT_SHUTDOWN);
    assert_int_equal(e.u.shutdown.status, status);
}

/* 32-bit protected mode (as multiboot starts): read the counter, power
 * off, then inc dword [HMEM]: the counter stays 0; MOV, MOV, OUT retired. */
static void test_hosted_32bit_power_off_is_last(void **state)
{
    (void)state;
    static const uint8_t code[] = {
        0x8B, 0x1D, 0x00, 0x00, 0x30, 0x00,             /* mov ebx, [HMEM] */
        OFF_0X21,
        0xFF, 0x05, 0x00, 0x00, 0x30, 0x00,             /* inc dword [HMEM] */
        0xF4 };
    struct vmdl_vm *vm = hosted_boot(code, sizeof(code), 1);
    expect_power_off(vm, (0x21 << 1) | 1);
    assert_int_equal(ram32(vm, HMEM), 0);
    assert_int_equal(vmdl_vcpu_insns(vmdl_vm_vcpu(vm, 0)), 3);
    vmdl_vm_destroy(vm);
}

/* 16-bit protected mode: lgdt; far jump to a 16-bit code segment; power
 * off with OUT DX (word), then addr32 inc dword [HLOAD + HMEM]. */
static void test_hosted_16bit_protected_power_off_is_last(void **state)
{
    (void)state;
    const uint32_t target = HCODE + 0x20;            /* in the segment at HLOAD */
    uint8_t code[0x40];
    memset(code, 0x90, sizeof(code));
    static const uint8_t head[] = {
        0x0F, 0x01, 0x15, (uint8_t)GDTR, (uint8_t)(GDTR >> 8), 0x10, 0x00,  /* lgdt */
        0xEA, 0, 0, 0, 0, 0x10, 0x00 };                 /* jmp 0x10:target */
    memcpy(code, head, sizeof(head));
    put_u32(code + 8, target);
    static const uint8_t body[] = {
        0xB8, 0x21, 0x00,                               /* mov ax, 0x21 */
        0xBA, 0xF4, 0x00,                               /* mov dx, 0xf4 */
        0x67, 0x66, 0x8B, 0x1D, 0x00, 0x00, 0x30, 0x00, /* mov ebx, [HMEM] */
        0xEF,                                           /* out dx, ax */
        0x67, 0x66, 0xFF, 0x05, 0x00, 0x00, 0x30, 0x00, /* inc dword [HMEM] */
        0xF4 };
    memcpy(code + 0x20, body, sizeof(body));
    struct vmdl_vm *vm = hosted_boot(code, sizeof(code), 1);
    expect_power_off(vm, (0x21 << 1) | 1);
    assert_int_equal(ram32(vm, HMEM), 0);
    /* LGDT, JMP, then (16-bit code) MOV, MOV, MOV, OUT */
    assert_int_equal(vmdl_vcpu_insns(vmdl_vm_vcpu(vm, 0)), 6);
    vmdl_vm_destroy(vm);
}

/* Real mode: the AP, after INIT/SIPI, powers off with out 0xf4, al and
 * then would increment a byte; the BSP spins meanwhile. */
#define AP_VECTOR 0x10u
#define AP_FLAG 0x300u
static void test_hosted_real_mode_power_off_is_last(void **state)
{
    (void)state;
    static const uint8_t code[] = {
        0xBC, 0x00, 0x80, 0x10, 0x00,                   /* mov esp, ... */
        /* IA32_APIC_BASE |= EN | EXTD; ICR: INIT, then SIPI to APIC ID 1 */
        0xB9, 0x1B, 0x00, 0x00, 0x00, 0x0F, 0x32, 0x0D, 0x00, 0x0C, 0x00, 0x00, 0x0F, 0x30,
        0xB9, 0x30, 0x08, 0x00, 0x00, 0xBA, 0x01, 0x00, 0x00, 0x00,
        0xB8, 0x00, 0x45, 0x00, 0x00, 0x0F, 0x30,
        0xB8, (uint8_t)AP_VECTOR, 0x46, 0x00, 0x00, 0x0F, 0x30,
        0xBD, 0x00, 0x00, 0x10, 0x00, 0x4D, 0x75, 0xFD,  /* spin */
        0xF4 };
    struct vmdl_vm *vm = hosted_boot(code, sizeof(code), 2);
    static const uint8_t ap[] = {
        0xA0, (uint8_t)AP_FLAG, (uint8_t)(AP_FLAG >> 8),         /* mov al, [flag] */
        OFF_0X21,
        0xFE, 0x06, (uint8_t)AP_FLAG, (uint8_t)(AP_FLAG >> 8),  /* inc byte [flag] */
        0xF4 };
    memcpy(vmdl_vm_ram_ptr(vm, AP_VECTOR << 12, sizeof(ap)), ap, sizeof(ap));
    *(uint8_t *)vmdl_vm_ram_ptr(vm, AP_FLAG, 1) = 0;
    assert_int_equal(vmdl_attach_lapic(vm, NULL), 0);
    expect_power_off(vm, (0x21 << 1) | 1);
    assert_int_equal(*(uint8_t *)vmdl_vm_ram_ptr(vm, AP_FLAG, 1), 0);
    assert_int_equal(vmdl_vcpu_insns(vmdl_vm_vcpu(vm, 1)), 3);
    vmdl_vm_destroy(vm);
}

/* Long mode (the lm64 guest): power off with a dword OUT to port 0xf4 via
 * DX, then inc dword [HMEM]. */
static void test_hosted_long_mode_power_off_is_last(void **state)
{
    (void)state;
    static uint8_t img[0x600];
    memset(img, 0, sizeof(img));
    memcpy(img, hosted_lm64_image, sizeof(hosted_lm64_image));
    static const uint8_t payload[] = {
        0x8B, 0x1C, 0x25, 0x00, 0x00, 0x30, 0x00,       /* mov ebx, [HMEM] */
        0xB8, 0x21, 0x00, 0x00, 0x00,                   /* mov eax, 0x21 */
        0x66, 0xBA, 0xF4, 0x00,                         /* mov dx, 0xf4 */
        0xEF,                                           /* out dx, eax */
        0xFF, 0x04, 0x25, 0x00, 0x00, 0x30, 0x00,       /* inc dword [HMEM] */
        0xF4 };
    memcpy(img + LM64_PAYLOAD, payload, sizeof(payload));
    struct vmdl_vm_config cfg = { .arch = VMDL_ARCH_X86_64, .ram_size = 16 << 20 };
    struct vmdl_vm *vm;
    assert_int_equal(vmdl_vm_create(&cfg, &vm), 0);
    struct vmdl_mb_boot mb = { "io", NULL, 0 };
    assert_int_equal(vmdl_vm_load_multiboot(vm, img, sizeof(img), &mb), 0);
    expect_power_off(vm, (0x21 << 1) | 1);
    assert_int_equal(ram32(vm, HMEM), 0);
    vmdl_vm_destroy(vm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_out_imm8_store_after_runs_once),
        cmocka_unit_test(test_in_dx_dword_value_used_once),
        cmocka_unit_test(test_word_out_then_byte_in),
        cmocka_unit_test(test_rep_outsb_exits_per_element),
        cmocka_unit_test(test_rep_insw_and_outsd),
        cmocka_unit_test(test_io_exits_in_a_loop),
        cmocka_unit_test(test_hosted_32bit_power_off_is_last),
        cmocka_unit_test(test_hosted_16bit_protected_power_off_is_last),
        cmocka_unit_test(test_hosted_real_mode_power_off_is_last),
        cmocka_unit_test(test_hosted_long_mode_power_off_is_last),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
