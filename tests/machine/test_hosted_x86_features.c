/* SPDX-License-Identifier: MIT */
/*
 * CPU features of the hosted x86 vCPU beyond the base set: what CPUID
 * advertises, the CR4 bits that follow it (KVM's __cr4_reserved_bits), and
 * the behaviour behind them, probed with a 64-bit guest.  LA57: the
 * descriptor-table loads (LGDT, LIDT, LLDT, LTR) check their base for
 * canonicality with the CPU's widest linear address, as hardware and KVM's
 * "model canonical checks more precisely" do (57 bits when the CPU
 * supports LA57, whatever CR4.LA57 is).
 *
 * The guest (tests/machine/guests/hosted_lm64.S, assembled with
 * "as --64" and "ld -N -Ttext=0x100000 --oformat binary") enters long mode
 * with 2 MiB identity pages (the first one supervisor, the others user) and
 * runs the 64-bit payload a test puts at PAYLOAD; #GP, #PF and #UD go to handlers that leave the vector in R13,
 * the error code in R14 and the faulting RIP in R15, then HLT.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "virtmodel/attach_amd_pmu.h"
#include "virtmodel/loader.h"
#include "virtmodel/machine.h"
#include "virtmodel/multiboot.h"
#include "hosted_test_util.h"
#include "machine/hosted_lm64.h"   /* bench/: bench_pks runs it too */

#define LOAD LM64_LOAD
#define PAYLOAD LM64_PAYLOAD
#define DATA 0x380u        /* the value a payload loads */
#define GDT 0x100u
#define SPARE_SEL 0x28u    /* a 16-byte system descriptor slot in the GDT */
#define IDT 0x200u
#define GP_HANDLER 0xC0u
#define PF_HANDLER 0xC8u
#define UD_HANDLER 0xD3u
#define IMG_SIZE 0x600u

#define CANONICAL_48 0x00007FAAAAAAAAAAull
#define CANONICAL_57 0xFFAAAAAAAAAAAAAAull   /* canonical with 57 bits only */
#define NONCANONICAL 0xAAAAAAAAAAAAAAAAull

static void put64(uint8_t *p, uint64_t v)
{
    for (unsigned i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* A 64-bit interrupt gate to code selector 8. */
static void gate64(uint8_t *img, unsigned vec, uint32_t target)
{
    uint64_t lo = (target & 0xFFFFull) | (0x08ull << 16) | (0x8E00ull << 32) |
                  ((uint64_t)(target >> 16) << 48);
    put64(img + IDT + vec * 16, lo);
    put64(img + IDT + vec * 16 + 8, 0);
}

/* A 16-byte system descriptor (LDT type 2, TSS type 9) at SPARE_SEL. */
static void sys_desc(uint8_t *img, unsigned type, uint64_t base)
{
    uint64_t lo = 0x67 | ((base & 0xFFFFFFull) << 16) | ((uint64_t)type << 40) |
                  (1ull << 47) | (((base >> 24) & 0xFF) << 56);
    put64(img + GDT + SPARE_SEL, lo);
    put64(img + GDT + SPARE_SEL + 8, base >> 32);
}

static uint8_t img[IMG_SIZE];

static void image(const uint8_t *payload, size_t n, uint64_t data)
{
    memset(img, 0, sizeof(img));
    memcpy(img, hosted_lm64_image, sizeof(hosted_lm64_image));
    gate64(img, 6, LOAD + UD_HANDLER);
    gate64(img, 13, LOAD + GP_HANDLER);
    gate64(img, 14, LOAD + PF_HANDLER);
    memcpy(img + PAYLOAD, payload, n);
    put64(img + DATA, data);
}

static struct vmdl_vm *boot_vendor(enum vmdl_x86_vendor vendor)
{
    struct vmdl_vm_config cfg = { .arch = VMDL_ARCH_X86_64, .ram_size = 16 << 20,
                                  .vendor = vendor };
    struct vmdl_vm *vm;
    assert_int_equal(vmdl_vm_create(&cfg, &vm), 0);
    if (vendor == VMDL_VENDOR_AMD)
        assert_int_equal(vmdl_attach_amd_pmu_named(vm, "perfmonv2", 0), 0);
    struct vmdl_mb_boot mb = { "features", NULL, 0 };
    assert_int_equal(vmdl_vm_load_multiboot(vm, img, sizeof(img), &mb), 0);
    return vm;
}

static struct vmdl_vm *boot(void)
{
    return boot_vendor(VMDL_VENDOR_INTEL);
}

/* Run a payload; the vector it faulted with (0 when it reached its HLT). */
static unsigned run_payload(const uint8_t *payload, size_t n, uint64_t data,
                            struct vmdl_vm **out)
{
    image(payload, n, data);
    struct vmdl_vm *vm = boot();
    run_to_hlt(vm);
    *out = vm;
    return (unsigned)reg(vm, VMDL_X86_R13);
}

/* ---- LA57 ---------------------------------------------------------------- */

/* mov DATA, rax; movw 0x3f/0xff, 0x100390; mov rax, 0x100392;
 * lgdt/lidt 0x100390; sgdt/sidt 0x1003A0; mov 0x1003A2, rbx; hlt */
#define DT_PAYLOAD(limit, load, store) \
    0x48, 0x8B, 0x04, 0x25, 0x80, 0x03, 0x10, 0x00, \
    0x66, 0xC7, 0x04, 0x25, 0x90, 0x03, 0x10, 0x00, limit, 0x00, \
    0x48, 0x89, 0x04, 0x25, 0x92, 0x03, 0x10, 0x00, \
    0x0F, 0x01, load, 0x25, 0x90, 0x03, 0x10, 0x00, \
    0x0F, 0x01, store, 0x25, 0xA0, 0x03, 0x10, 0x00, \
    0x48, 0x8B, 0x1C, 0x25, 0xA2, 0x03, 0x10, 0x00, 0xF4
static const uint8_t lgdt_p[] = { DT_PAYLOAD(0x3F, 0x14, 0x04) };
static const uint8_t lidt_p[] = { DT_PAYLOAD(0xFF, 0x1C, 0x0C) };
#define LOAD_INSN 26        /* offset of the LGDT/LIDT in the payload */

/* LGDT/LIDT: a base canonical with 48 or (LA57 supported) 57 bits loads;
 * one that is not canonical with 57 bits is #GP(0) and leaves the old
 * base (KVM's em_lgdt_lidt with X86EMUL_F_DT_LOAD). */
static void dt_load_case(const uint8_t *p, size_t n, uint64_t base, bool ok)
{
    struct vmdl_vm *vm;
    unsigned vec = run_payload(p, n, base, &vm);
    if (ok) {
        assert_int_equal(vec, 0);
        assert_int_equal(reg(vm, VMDL_X86_RBX), base);
    } else {
        assert_int_equal(vec, 13);
        assert_int_equal(reg(vm, VMDL_X86_R14), 0);
        assert_int_equal(reg(vm, VMDL_X86_R15), LOAD + PAYLOAD + LOAD_INSN);
    }
    vmdl_vm_destroy(vm);
}

static void test_lgdt_canonical_base(void **state)
{
    (void)state;
    dt_load_case(lgdt_p, sizeof(lgdt_p), CANONICAL_48, true);
    dt_load_case(lgdt_p, sizeof(lgdt_p), CANONICAL_57, true);
    dt_load_case(lgdt_p, sizeof(lgdt_p), NONCANONICAL, false);
}

static void test_lidt_canonical_base(void **state)
{
    (void)state;
    dt_load_case(lidt_p, sizeof(lidt_p), CANONICAL_48, true);
    dt_load_case(lidt_p, sizeof(lidt_p), CANONICAL_57, true);
    dt_load_case(lidt_p, sizeof(lidt_p), NONCANONICAL, false);
}

/* The check reads the instruction through the guest's page tables: the
 * LGDT runs at VA 0x40100420, an alias of its physical page 0x100420
 * (PDPT[1] -> the same page directory), not at its physical address. */
static void test_lgdt_check_at_aliased_rip(void **state)
{
    (void)state;
    /* movl $0x202007, 0x201008 (PDPT[1]); mov eax, 0x40100420; jmp rax */
    uint8_t p[0x20 + sizeof(lgdt_p)] = { 0xC7, 0x04, 0x25, 0x08, 0x10, 0x20, 0x00,
        0x07, 0x20, 0x20, 0x00, 0xB8, 0x20, 0x04, 0x10, 0x40, 0xFF, 0xE0 };
    memcpy(p + 0x20, lgdt_p, sizeof(lgdt_p));
    struct vmdl_vm *vm;
    assert_int_equal(run_payload(p, sizeof(p), NONCANONICAL, &vm), 13);
    assert_int_equal(reg(vm, VMDL_X86_R15), 0x40000000u + LOAD + PAYLOAD + 0x20 + LOAD_INSN);
    vmdl_vm_destroy(vm);
}

/* mov eax, SPARE_SEL; lldt/ltr ax; sldt/str ebx; hlt */
static const uint8_t lldt_p[] = { 0xB8, SPARE_SEL, 0, 0, 0, 0x0F, 0x00, 0xD0,
                                  0x0F, 0x00, 0xC3, 0xF4 };
static const uint8_t ltr_p[] = { 0xB8, SPARE_SEL, 0, 0, 0, 0x0F, 0x00, 0xD8,
                                 0x0F, 0x00, 0xCB, 0xF4 };

/* LLDT/LTR of a 16-byte descriptor whose base is not canonical:
 * #GP(selector) (KVM's __load_segment_descriptor); a canonical one loads,
 * and LTR marks the TSS busy (type 9 -> 11). */
static void sys_load_case(const uint8_t *p, unsigned type, uint64_t base, bool ok)
{
    image(p, 12, 0);
    sys_desc(img, type, base);
    struct vmdl_vm *vm = boot();
    run_to_hlt(vm);
    if (ok) {
        assert_int_equal(reg(vm, VMDL_X86_R13), 0);
        assert_int_equal(reg(vm, VMDL_X86_RBX), SPARE_SEL);
    } else {
        assert_int_equal(reg(vm, VMDL_X86_R13), 13);
        assert_int_equal(reg(vm, VMDL_X86_R14), SPARE_SEL);
        assert_int_equal(reg(vm, VMDL_X86_R15), LOAD + PAYLOAD + 5);
    }
    uint8_t d[8];
    assert_int_equal(vmdl_guest_read(vmdl_vm_guest_mem(vm), LOAD + GDT + SPARE_SEL, d, 8), 0);
    assert_int_equal(d[5] & 0xF, type == 9 && ok ? 11 : type);
    vmdl_vm_destroy(vm);
}

static void test_lldt_canonical_base(void **state)
{
    (void)state;
    sys_load_case(lldt_p, 2, CANONICAL_48, true);
    sys_load_case(lldt_p, 2, CANONICAL_57, true);
    sys_load_case(lldt_p, 2, NONCANONICAL, false);
}

static void test_ltr_canonical_base(void **state)
{
    (void)state;
    sys_load_case(ltr_p, 9, CANONICAL_48, true);
    sys_load_case(ltr_p, 9, CANONICAL_57, true);
    sys_load_case(ltr_p, 9, NONCANONICAL, false);
}

/* CPUID reports LA57 (7.0:ECX[16]) and 57 linear-address bits
 * (0x80000008:EAX[15:8]): QEMU's page walk in the engine does 5-level
 * paging, and the canonical checks above follow it. */
static void test_cpuid_reports_la57(void **state)
{
    (void)state;
    static const uint8_t p[] = { 0xB8, 0x07, 0, 0, 0, 0x31, 0xC9, 0x0F, 0xA2,
        0x89, 0xCE, 0xB8, 0x08, 0x00, 0x00, 0x80, 0x0F, 0xA2, 0x41, 0x89, 0xC4, 0xF4 };
    struct vmdl_vm *vm;
    assert_int_equal(run_payload(p, sizeof(p), 0, &vm), 0);
    assert_true(reg(vm, VMDL_X86_RSI) & (1u << 16));
    assert_int_equal((reg(vm, VMDL_X86_R12) >> 8) & 0xFF, 57);
    vmdl_vm_destroy(vm);
}

/* mov DATA, rax; split into EDX:EAX; wrmsr FS_BASE; rdmsr; rbx = EDX:EAX */
static const uint8_t fs_base_p[] = {
    0x48, 0x8B, 0x04, 0x25, 0x80, 0x03, 0x10, 0x00, 0x48, 0x89, 0xC2,
    0x48, 0xC1, 0xEA, 0x20, 0xB9, 0x00, 0x01, 0x00, 0xC0, 0x0F, 0x30,
    0x31, 0xC0, 0x31, 0xD2, 0x0F, 0x32, 0x48, 0xC1, 0xE2, 0x20,
    0x48, 0x09, 0xD0, 0x48, 0x89, 0xC3, 0xF4 };

/* WRMSR FS_BASE takes a 57-bit canonical base with CR4.LA57 clear (the
 * CPU's width, as KVM's X86EMUL_F_MSR check) and #GPs on one that is not
 * canonical at all. */
static void test_fs_base_canonical_width(void **state)
{
    (void)state;
    struct vmdl_vm *vm;
    assert_int_equal(run_payload(fs_base_p, sizeof(fs_base_p), CANONICAL_57, &vm), 0);
    assert_int_equal(reg(vm, VMDL_X86_RBX), CANONICAL_57);
    assert_int_equal(reg(vm, VMDL_X86_CR4) & (1u << 12), 0);
    vmdl_vm_destroy(vm);
    assert_int_equal(run_payload(fs_base_p, sizeof(fs_base_p), NONCANONICAL, &vm), 13);
    assert_int_equal(reg(vm, VMDL_X86_R15), LOAD + PAYLOAD + 20);
    vmdl_vm_destroy(vm);
}

/* ---- RDPMC (AMD PMU model) ------------------------------------------------ */

/* PERF_CTR0 = 0x123456789A; RDPMC 0 -> RBX.  PERF_CTL0 = retired
 * instructions (0xC0), OS, EN; PERF_CTR0 = 0; mov esi, 100; 1: dec esi;
 * jnz 1b; xor ecx, ecx; RDPMC 0 -> R12; RDPMC 6 -> #GP(0). */
static const uint8_t rdpmc_p[] = {
    0xB9, 0x01, 0x02, 0x01, 0xC0, 0xB8, 0x9A, 0x78, 0x56, 0x34, 0xBA, 0x12, 0x00,
    0x00, 0x00, 0x0F, 0x30, 0x31, 0xC9, 0x0F, 0x33, 0x48, 0xC1, 0xE2, 0x20, 0x48,
    0x09, 0xD0, 0x48, 0x89, 0xC3, 0xB9, 0x00, 0x02, 0x01, 0xC0, 0xB8, 0xC0, 0x00,
    0x42, 0x00, 0x31, 0xD2, 0x0F, 0x30, 0xB9, 0x01, 0x02, 0x01, 0xC0, 0x31, 0xC0,
    0x0F, 0x30, 0xBE, 0x64, 0x00, 0x00, 0x00, 0xFF, 0xCE, 0x75, 0xFC, 0x31, 0xC9,
    0x0F, 0x33, 0x49, 0x89, 0xC4, 0xB9, 0x06, 0x00, 0x00, 0x00, 0x0F, 0x33, 0xF4 };

/* RDPMC on the hosted vCPU reads the AMD PMU model's counters (KVM's
 * kvm_pmu_rdpmc; counter n is PERF_CTRn), counts retired instructions on
 * virtual time, and an index past the counters is #GP(0). */
static void test_rdpmc_reads_amd_counters(void **state)
{
    (void)state;
    image(rdpmc_p, sizeof(rdpmc_p), 0);
    struct vmdl_vm *vm = boot_vendor(VMDL_VENDOR_AMD);
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RBX), 0x123456789Aull);
    /* mov esi; 100 x (dec, jnz); xor ecx: the counter-zeroing WRMSR and
     * the RDPMC itself are not in it */
    assert_int_equal(reg(vm, VMDL_X86_R12), 1 + 200 + 1);
    assert_int_equal(reg(vm, VMDL_X86_R13), 13);
    assert_int_equal(reg(vm, VMDL_X86_R14), 0);
    assert_int_equal(reg(vm, VMDL_X86_R15), LOAD + PAYLOAD + sizeof(rdpmc_p) - 3);
    vmdl_vm_destroy(vm);
}

/* ---- SMAP, PKU, PKS -------------------------------------------------------- */

/* CR4.SMAP on; STAC; load from the user page at 0x300000 -> RBX; CLAC;
 * the same load -> #PF; hlt */
static const uint8_t smap_p[] = {
    0x0F, 0x20, 0xE0, 0x48, 0x0D, 0x00, 0x00, 0x20, 0x00, 0x0F, 0x22, 0xE0,
    0x0F, 0x01, 0xCB, 0x48, 0x8B, 0x1C, 0x25, 0x00, 0x00, 0x30, 0x00,
    0x0F, 0x01, 0xCA, 0x48, 0x8B, 0x0C, 0x25, 0x00, 0x00, 0x30, 0x00, 0xF4 };

/* SMAP (CPUID.7.0:EBX[20], CR4.SMAP): a supervisor data access to a user
 * page faults unless RFLAGS.AC is set (STAC), with the #PF error code of a
 * present-page supervisor read and CR2 the address (SDM vol. 3, 4.6.1). */
static void test_smap_supervisor_access_to_user_page(void **state)
{
    (void)state;
    struct vmdl_vm *vm;
    assert_int_equal(run_payload(smap_p, sizeof(smap_p), 0, &vm), 14);
    assert_int_equal(reg(vm, VMDL_X86_CR4) & (1u << 21), 1u << 21);
    assert_int_equal(reg(vm, VMDL_X86_RBX), 0);          /* loaded (zeroes) */
    assert_int_equal(reg(vm, VMDL_X86_R14), 1);          /* P, read, supervisor */
    assert_int_equal(reg(vm, VMDL_X86_R15), LOAD + PAYLOAD + 26);
    assert_int_equal(reg(vm, VMDL_X86_CR2), 0x300000);
    vmdl_vm_destroy(vm);
}

/* PKU (CPUID.7.0:ECX[3]) is reported and OSPKE (ECX[4]) follows CR4.PKE;
 * with PKRU.AD for key 0 (WRPKRU, read back with RDPKRU) a supervisor read
 * of a user page with key 0 faults with the PK bit in the #PF error code
 * (SDM vol. 3, 4.6.2: the keys apply to supervisor accesses to user pages).
 * QEMU's CPU model drops CR4.PKE; the machine keeps it (hosted_cr.c). */
static const uint8_t pku_p[] = {
    0xB8, 0x07, 0x00, 0x00, 0x00, 0x31, 0xC9, 0x0F, 0xA2, 0x89, 0xCE, 0x0F, 0x20, 0xE0,
    0x48, 0x0D, 0x00, 0x00, 0x40, 0x00, 0x0F, 0x22, 0xE0, 0xB8, 0x07, 0x00, 0x00, 0x00,
    0x31, 0xC9, 0x0F, 0xA2, 0x89, 0xCF, 0xB8, 0x01, 0x00, 0x00, 0x00, 0x31, 0xC9, 0x31,
    0xD2, 0x0F, 0x01, 0xEF, 0x31, 0xC9, 0x0F, 0x01, 0xEE, 0x89, 0xC3, 0x48, 0x8B, 0x04,
    0x25, 0x00, 0x00, 0x30, 0x00, 0xF4 };

static void test_pku_access_disable_faults(void **state)
{
    (void)state;
    struct vmdl_vm *vm;
    assert_int_equal(run_payload(pku_p, sizeof(pku_p), 0, &vm), 14);
    assert_int_equal(reg(vm, VMDL_X86_RSI) & 0x18, 0x08);   /* PKU, not OSPKE */
    assert_int_equal(reg(vm, VMDL_X86_RDI) & 0x18, 0x18);   /* PKU and OSPKE */
    assert_int_equal(reg(vm, VMDL_X86_RBX), 1);             /* RDPKRU */
    assert_int_equal(reg(vm, VMDL_X86_R14), 0x21);          /* P | PK */
    assert_int_equal(reg(vm, VMDL_X86_R15), LOAD + PAYLOAD + sizeof(pku_p) - 9);
    assert_int_equal(reg(vm, VMDL_X86_CR2), 0x300000);
    assert_int_equal(reg(vm, VMDL_X86_CR4) & (1u << 22), 1u << 22);
    vmdl_vm_destroy(vm);
}

/* ---- PKS: CR4.PKS, IA32_PKRS, supervisor keys (hosted_walk.c) ------------ */

/* mov rax, cr4; or rax, 1 << 24; mov cr4, rax (CR4.PKS) */
#define PKS_ON 0x0F, 0x20, 0xE0, 0x48, 0x0D, 0x00, 0x00, 0x00, 0x01, 0x0F, 0x22, 0xE0
/* mov rax, imm64; mov [0x202000 + 8 * n], rax; invlpg [n << 21]: the 2 MiB
 * page n with the entry imm64 */
#define PDE(n, e) 0x48, 0xB8, (uint8_t)(e), (uint8_t)((e) >> 8), (uint8_t)((e) >> 16), \
    (uint8_t)((e) >> 24), (uint8_t)((e) >> 32), (uint8_t)((e) >> 40), \
    (uint8_t)((e) >> 48), (uint8_t)((e) >> 56), \
    0x48, 0x89, 0x04, 0x25, (uint8_t)(8 * (n)), 0x20, 0x20, 0x00, \
    0x0F, 0x01, 0x3C, 0x25, 0x00, 0x00, (uint8_t)((n) << 5), 0x00
/* mov ecx, 0x6E1; mov eax, v; xor edx, edx; wrmsr */
#define PKRS(v) 0xB9, 0xE1, 0x06, 0x00, 0x00, 0xB8, (uint8_t)(v), 0x00, 0x00, 0x00, \
    0x31, 0xD2, 0x0F, 0x30
#define SUP_KEY1(n) (((uint64_t)(n) << 21) | 0x83 | (1ull << 59))
#define USER_KEY1(n) (((uint64_t)(n) << 21) | 0x87 | (1ull << 59))

/* PKS (CPUID.7.0:ECX[31]) is reported; CR4.PKS sets; IA32_PKRS (0x6E1)
 * reads back what was written; its bits 63:32 are reserved (#GP(0)). */
static void test_pks_reported_pkrs_msr(void **state)
{
    (void)state;
    struct vmdl_vm *vm;
    static const uint8_t p[] = {
        0xB8, 0x07, 0, 0, 0, 0x31, 0xC9, 0x0F, 0xA2, 0x89, 0xCE,   /* cpuid -> esi */
        PKS_ON, PKRS(0x5C),
        0xB9, 0xE1, 0x06, 0x00, 0x00, 0x0F, 0x32, 0x89, 0xC3,     /* rdmsr -> ebx */
        0xB9, 0xE1, 0x06, 0x00, 0x00, 0x31, 0xC0, 0xBA, 0x01, 0, 0, 0, /* edx = 1 */
        0x0F, 0x30, 0xF4 };
    assert_int_equal(run_payload(p, sizeof(p), 0, &vm), 13);
    assert_int_equal(reg(vm, VMDL_X86_RSI) & (1u << 31), 1u << 31);
    assert_int_equal(reg(vm, VMDL_X86_CR4) & (1u << 24), 1u << 24);
    assert_int_equal(reg(vm, VMDL_X86_RBX), 0x5C);
    assert_int_equal(reg(vm, VMDL_X86_R14), 0);
    assert_int_equal(reg(vm, VMDL_X86_R15), LOAD + PAYLOAD + sizeof(p) - 3);
    vmdl_vm_destroy(vm);
}

/* Without PKS in CPUID (a VMM's choice), CR4.PKS is reserved and IA32_PKRS
 * does not exist: both #GP(0), as KVM's __cr4_reserved_bits and its PKRS
 * MSR rules. */
static void test_pks_absent_without_cpuid(void **state)
{
    (void)state;
    static const uint8_t cr4_p[] = { PKS_ON, 0xF4 };
    static const uint8_t msr_p[] = { 0xB9, 0xE1, 0x06, 0, 0, 0x0F, 0x32, 0xF4 };
    const uint8_t *ps[2] = { cr4_p, msr_p };
    size_t ns[2] = { sizeof(cr4_p), sizeof(msr_p) };
    uint64_t at[2] = { 9, 5 };
    for (unsigned i = 0; i < 2; i++) {
        image(ps[i], ns[i], 0);
        struct vmdl_vm *vm = boot();
        struct vmdl_cpuid_entry e;
        assert_int_equal(vmdl_vm_get_cpuid(vm, 7, 0, &e), 0);
        e.ecx &= ~(1u << 31);
        assert_int_equal(vmdl_vm_set_cpuid(vm, &e), 0);
        run_to_hlt(vm);
        assert_int_equal(reg(vm, VMDL_X86_R13), 13);
        assert_int_equal(reg(vm, VMDL_X86_R15), LOAD + PAYLOAD + at[i]);
        assert_int_equal(reg(vm, VMDL_X86_CR4) & (1u << 24), 0);
        vmdl_vm_destroy(vm);
    }
}

/* A supervisor page with key 1 under PKRS.AD1: a supervisor read faults
 * with P and PK (0x21), CR2 the exact address (SDM vol. 3, 4.6.2). */
static void test_pks_access_disable_faults(void **state)
{
    (void)state;
    struct vmdl_vm *vm;
    static const uint8_t p[] = { PKS_ON, PDE(2, SUP_KEY1(2)), PKRS(0x4),
        0x48, 0x8B, 0x1C, 0x25, 0x08, 0x00, 0x40, 0x00, 0xF4 };   /* mov rbx, [0x400008] */
    assert_int_equal(run_payload(p, sizeof(p), 0, &vm), 14);
    assert_int_equal(reg(vm, VMDL_X86_R14), 0x21);
    assert_int_equal(reg(vm, VMDL_X86_R15), LOAD + PAYLOAD + sizeof(p) - 9);
    assert_int_equal(reg(vm, VMDL_X86_CR2), 0x400008);
    vmdl_vm_destroy(vm);
}

/* PKRS.WD1: a supervisor write goes through while CR0.WP is clear and
 * faults (P | W | PK) once it is set; reads stay allowed. */
static void test_pks_write_disable_needs_wp(void **state)
{
    (void)state;
    struct vmdl_vm *vm;
    static const uint8_t p[] = { PKS_ON, PDE(2, SUP_KEY1(2)), PKRS(0x8),
        0x48, 0xC7, 0x04, 0x25, 0x10, 0x00, 0x40, 0x00, 0x55, 0, 0, 0, /* [0x400010] = 0x55 */
        0x48, 0x8B, 0x1C, 0x25, 0x10, 0x00, 0x40, 0x00,               /* rbx = [0x400010] */
        0x0F, 0x20, 0xC0, 0x48, 0x0D, 0x00, 0x00, 0x01, 0x00, 0x0F, 0x22, 0xC0, /* WP */
        0x48, 0xC7, 0x04, 0x25, 0x18, 0x00, 0x40, 0x00, 0x66, 0, 0, 0, /* [0x400018] = 0x66 */
        0xF4 };
    assert_int_equal(run_payload(p, sizeof(p), 0, &vm), 14);
    assert_int_equal(reg(vm, VMDL_X86_RBX), 0x55);
    assert_int_equal(reg(vm, VMDL_X86_R14), 0x23);
    assert_int_equal(reg(vm, VMDL_X86_R15), LOAD + PAYLOAD + sizeof(p) - 13);
    assert_int_equal(reg(vm, VMDL_X86_CR2), 0x400018);
    vmdl_vm_destroy(vm);
}

/* PKRS does not apply to user pages: with PKRS.AD1 a supervisor read and
 * write of a user page with key 1 go through (SMAP off); the walk set A
 * and D in the page's entry (SDM 4.8). */
static void test_pks_user_page_unaffected_ad_set(void **state)
{
    (void)state;
    struct vmdl_vm *vm;
    static const uint8_t p[] = { PKS_ON, PDE(3, USER_KEY1(3)), PKRS(0x4),
        0x48, 0x8B, 0x1C, 0x25, 0x00, 0x00, 0x60, 0x00,               /* rbx = [0x600000] */
        0x48, 0x8B, 0x34, 0x25, 0x18, 0x20, 0x20, 0x00,               /* rsi = PDE 3 */
        0x48, 0x89, 0x1C, 0x25, 0x00, 0x00, 0x60, 0x00,               /* [0x600000] = rbx */
        0x48, 0x8B, 0x3C, 0x25, 0x18, 0x20, 0x20, 0x00,               /* rdi = PDE 3 */
        0xF4 };
    assert_int_equal(run_payload(p, sizeof(p), 0, &vm), 0);
    assert_int_equal(reg(vm, VMDL_X86_RSI) & 0x60, 0x20);         /* A, not D */
    assert_int_equal(reg(vm, VMDL_X86_RDI) & 0x60, 0x60);         /* A and D */
    vmdl_vm_destroy(vm);
}

/* Hostile entries while the machine walks: a reserved bit (51, above the
 * 40 physical-address bits CPUID reports) is #PF with P | RSVD (0x09),
 * CR2 the address. */
static void test_pks_reserved_bit_faults(void **state)
{
    (void)state;
    struct vmdl_vm *vm;
    static const uint8_t p[] = { PKS_ON, PDE(3, ((3ull << 21) | 0x83 | (1ull << 51))),
        0x48, 0x8B, 0x1C, 0x25, 0x20, 0x00, 0x60, 0x00, 0xF4 };      /* rbx = [0x600020] */
    assert_int_equal(run_payload(p, sizeof(p), 0, &vm), 14);
    assert_int_equal(reg(vm, VMDL_X86_R14), 0x09);
    assert_int_equal(reg(vm, VMDL_X86_CR2), 0x600020);
    vmdl_vm_destroy(vm);
}

/* A PKRS write takes effect without any TLB flush by the guest (as
 * WRPKRU): a read that went through before PKRS.AD1 faults after it. */
static void test_pks_pkrs_write_needs_no_invlpg(void **state)
{
    (void)state;
    struct vmdl_vm *vm;
    static const uint8_t p[] = { PKS_ON, PDE(2, SUP_KEY1(2)),
        0x48, 0x8B, 0x1C, 0x25, 0x08, 0x00, 0x40, 0x00,               /* rbx = [0x400008] */
        PKRS(0x4),
        0x48, 0x8B, 0x0C, 0x25, 0x08, 0x00, 0x40, 0x00, 0xF4 };       /* rcx = [0x400008] */
    assert_int_equal(run_payload(p, sizeof(p), 0, &vm), 14);
    assert_int_equal(reg(vm, VMDL_X86_R14), 0x21);
    assert_int_equal(reg(vm, VMDL_X86_R15), LOAD + PAYLOAD + sizeof(p) - 9);
    vmdl_vm_destroy(vm);
}

/* With CR4.PKS on the machine also applies PKRU (CR4.PKE) to user pages,
 * from the PKRU QEMU keeps: a supervisor read of a user page with key 1
 * goes through, then faults (P | PK) once WRPKRU sets AD1. */
static void test_pks_walk_applies_pkru(void **state)
{
    (void)state;
    struct vmdl_vm *vm;
    static const uint8_t p[] = { PKS_ON,
        0x0F, 0x20, 0xE0, 0x48, 0x0D, 0x00, 0x00, 0x40, 0x00, 0x0F, 0x22, 0xE0, /* PKE */
        PDE(3, USER_KEY1(3)),
        0x48, 0x8B, 0x1C, 0x25, 0x00, 0x00, 0x60, 0x00,               /* rbx = [0x600000] */
        0xB8, 0x04, 0, 0, 0, 0x31, 0xC9, 0x31, 0xD2, 0x0F, 0x01, 0xEF, /* wrpkru AD1 */
        0x48, 0x8B, 0x0C, 0x25, 0x00, 0x00, 0x60, 0x00, 0xF4 };       /* rcx = [0x600000] */
    assert_int_equal(run_payload(p, sizeof(p), 0, &vm), 14);
    assert_int_equal(reg(vm, VMDL_X86_R14), 0x21);
    assert_int_equal(reg(vm, VMDL_X86_R15), LOAD + PAYLOAD + sizeof(p) - 9);
    assert_int_equal(reg(vm, VMDL_X86_CR2), 0x600000);
    vmdl_vm_destroy(vm);
}

/* Instruction fetches are never key-checked: a RET on a supervisor page
 * with key 1 runs under PKRS.AD1 (the IDT and stack, on page 0 with key
 * 0, stay readable).  A fetch from an XD page (EFER.NXE) is #PF with P |
 * I/D (0x11), CR2 the target. */
static void test_pks_fetch_keys_and_xd(void **state)
{
    (void)state;
    struct vmdl_vm *vm;
    static const uint8_t p[] = { PKS_ON, PDE(2, SUP_KEY1(2)),
        0xC6, 0x04, 0x25, 0x00, 0x00, 0x40, 0x00, 0xC3,             /* [0x400000] = ret */
        PKRS(0x4),
        0xB9, 0x80, 0x00, 0x00, 0xC0, 0x0F, 0x32, 0x0D, 0x00, 0x08, 0x00, 0x00, 0x0F, 0x30,
        0x48, 0xC7, 0xC0, 0x00, 0x00, 0x40, 0x00, 0xFF, 0xD0,       /* call 0x400000 */
        PDE(3, ((3ull << 21) | 0x83 | (1ull << 63))),               /* XD */
        0x48, 0xC7, 0xC0, 0x10, 0x00, 0x60, 0x00, 0xFF, 0xE0, 0xF4 }; /* jmp 0x600010 */
    assert_int_equal(run_payload(p, sizeof(p), 0, &vm), 14);
    assert_int_equal(reg(vm, VMDL_X86_R14), 0x11);
    assert_int_equal(reg(vm, VMDL_X86_R15), 0x600010);
    assert_int_equal(reg(vm, VMDL_X86_CR2), 0x600010);
    vmdl_vm_destroy(vm);
}

/* Hostile mapping while the machine walks: a 2 MiB page whose frame is
 * unassigned physical memory (0xC0000000, no RAM or device): writes are
 * dropped and reads give 0, as QEMU's pc machine and the CR4.PKS-off
 * path do; nothing faults. */
static void test_pks_unassigned_frame(void **state)
{
    (void)state;
    struct vmdl_vm *vm;
    static const uint8_t p[] = { PKS_ON, PDE(4, 0xC0000083ull),
        0x48, 0xC7, 0x04, 0x25, 0x10, 0x00, 0x80, 0x00, 0x55, 0, 0, 0, /* [0x800010] = 0x55 */
        0x48, 0xC7, 0xC3, 0x77, 0x00, 0x00, 0x00,                     /* rbx = 0x77 */
        0x48, 0x8B, 0x1C, 0x25, 0x10, 0x00, 0x80, 0x00, 0xF4 };       /* rbx = [0x800010] */
    assert_int_equal(run_payload(p, sizeof(p), 0, &vm), 0);
    assert_int_equal(reg(vm, VMDL_X86_RBX), 0);
    vmdl_vm_destroy(vm);
}

/* Clearing CR4.PKS gives the guest QEMU's own walk back: the same access
 * that faulted under PKRS.AD1 goes through. */
static void test_pks_off_again(void **state)
{
    (void)state;
    struct vmdl_vm *vm;
    static const uint8_t p[] = { PKS_ON, PDE(2, SUP_KEY1(2)), PKRS(0x4),
        0x0F, 0x20, 0xE0, 0x48, 0x0F, 0xBA, 0xF0, 0x18, 0x0F, 0x22, 0xE0, /* btr rax, 24 */
        0x48, 0x8B, 0x1C, 0x25, 0x08, 0x00, 0x40, 0x00, 0xF4 };
    assert_int_equal(run_payload(p, sizeof(p), 0, &vm), 0);
    assert_int_equal(reg(vm, VMDL_X86_CR4) & (1u << 24), 0);
    vmdl_vm_destroy(vm);
}

/* RDTSCP (emulated on the engine's #UD): EDX:EAX the TSC, ECX
 * IA32_TSC_AUX, and execution goes on after its three bytes. */
static void test_rdtscp_reads_tsc_aux(void **state)
{
    (void)state;
    static const uint8_t p[] = { 0xB9, 0x03, 0x01, 0x00, 0xC0, 0xB8, 0x34, 0x12, 0x00,
        0x00, 0x31, 0xD2, 0x0F, 0x30, 0x31, 0xC9, 0x0F, 0x01, 0xF9, 0x89, 0xCE, 0xF4 };
    struct vmdl_vm *vm;
    assert_int_equal(run_payload(p, sizeof(p), 0, &vm), 0);
    assert_int_equal(reg(vm, VMDL_X86_RSI), 0x1234);
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + PAYLOAD + sizeof(p));
    assert_true(reg(vm, VMDL_X86_RAX) != 0);
    vmdl_vm_destroy(vm);
}

/* #PF error codes reach the guest: a write to a not-present page is
 * W (2), CR2 the address.  QEMU's error-code field reads 0 after the engine
 * stops on a page-walk #PF; the machine keeps it from the interrupt hook
 * (hosted_state.c; before, every #PF was delivered with error code 0). */
static void test_pf_error_code_not_present_write(void **state)
{
    (void)state;
    struct vmdl_vm *vm;
    /* mov qword [0x40000000], 1 (past the 1 GiB the guest maps) */
    static const uint8_t p[] = { 0x48, 0xC7, 0x04, 0x25, 0x00, 0x00, 0x00, 0x40,
                                 0x01, 0x00, 0x00, 0x00, 0xF4 };
    assert_int_equal(run_payload(p, sizeof(p), 0, &vm), 14);
    assert_int_equal(reg(vm, VMDL_X86_R14), 2);
    assert_int_equal(reg(vm, VMDL_X86_R15), LOAD + PAYLOAD);
    assert_int_equal(reg(vm, VMDL_X86_CR2), 0x40000000);
    vmdl_vm_destroy(vm);
}

/* ---- the second stage (vmdl_vcpu_set_x86_npt) with 4-level paging ------ */

#define NPT_PML4 0x200000u     /* the guest's tables (hosted_lm64.S) */
#define NPT_PDPT 0x201000u
#define NPT_PD 0x202000u
#define NPT_CODE 0x600000u     /* code the payload jumps to */
#define NPT_MAX 16

static struct vmdl_x86_npf npfs[NPT_MAX];
static unsigned n_npf;
static uint64_t npt_mapped[NPT_MAX];
static unsigned n_mapped;

/* Identity.  The page directory's page is first mapped read-only and not
 * executable (an L1 EPT giving an L2 page-table page R only), NPT_CODE
 * executable for supervisor-mode addresses only (mode-based execute
 * control: XS without XU) while the guest reaches it through a user-mode
 * one; any second fault on a page maps it with every right. */
static bool npt_hook(void *opaque, struct vmdl_vcpu *vcpu, const struct vmdl_x86_event *ev)
{
    (void)opaque;
    if (ev->kind != VMDL_X86_EVENT_NPF || n_npf == NPT_MAX)
        return false;
    npfs[n_npf++] = ev->npf;
    uint64_t page = ev->npf.gpa & ~0xFFFull;
    bool again = false;
    for (unsigned i = 0; i < n_mapped; i++)
        again = again || npt_mapped[i] == page;
    unsigned prot = VMDL_NPT_WRITE | VMDL_NPT_EXEC;
    if (page == NPT_PD && !again)
        prot = 0;
    if (page == NPT_CODE && !again)
        prot = VMDL_NPT_WRITE | VMDL_NPT_EXEC_SUPER;
    if (!again && n_mapped < NPT_MAX)
        npt_mapped[n_mapped++] = page;
    return !vmdl_vcpu_x86_npt_map(vcpu, page, page, prot);
}

/* Run the payload to its first HLT, turn the second stage on and run on
 * to the next HLT. */
static struct vmdl_vm *npt_run(const uint8_t *p, size_t n, uint64_t clear_pde_a)
{
    image(p, n, 0);
    struct vmdl_vm *vm = boot();
    run_to_hlt(vm);
    const struct vmdl_guest_mem *m = vmdl_vm_guest_mem(vm);
    uint64_t e = 0x12345678ABCDull;
    assert_int_equal(vmdl_guest_write(m, 0x400010, &e, 8), 0);
    static const uint8_t code[] = { 0xBB, 0x77, 0x00, 0x00, 0x00, 0xF4 };
    assert_int_equal(vmdl_guest_write(m, NPT_CODE, code, sizeof(code)), 0);
    assert_int_equal(vmdl_guest_read(m, NPT_PD + 8 * clear_pde_a, &e, 8), 0);
    e &= ~0x20ull;                                  /* accessed */
    assert_int_equal(vmdl_guest_write(m, NPT_PD + 8 * clear_pde_a, &e, 8), 0);
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    struct vmdl_x86_sys_state st;
    assert_int_equal(vmdl_vcpu_get_x86_sys(v, &st), 0);
    st.activity = 0;                                /* run on from the HLT */
    assert_int_equal(vmdl_vcpu_set_x86_sys(v, &st), 0);
    n_npf = n_mapped = 0;
    assert_int_equal(vmdl_vm_set_x86_event_hook(vm, npt_hook, NULL), 0);
    assert_int_equal(vmdl_vcpu_set_x86_npt(v, true), 0);
    run_to_hlt(vm);
    return vm;
}

static void assert_npf(unsigned i, uint64_t gpa, bool walk, bool write, bool fetch,
                       uint64_t gla)
{
    assert_true(i < n_npf);
    assert_int_equal(npfs[i].gpa, gpa);
    assert_int_equal(npfs[i].walk, walk);
    assert_int_equal(npfs[i].write, write);
    assert_int_equal(npfs[i].fetch, fetch);
    assert_true(npfs[i].gla_valid);
    assert_int_equal(npfs[i].gla, gla);
}

/*
 * The guest's own page walk goes through the second stage: each table page
 * faults as a walk at the entry's exact address with the linear address
 * being translated, a page-table page mapped without execute right keeps
 * working for the walk (Unicorn 2.1.1's nested walk crashed the process
 * with SIGSEGV there: docs/unicorn.md), setting an accessed flag in a
 * read-only table page is a write fault of the walk, and the final access
 * carries the linear address's rights.
 */
static void test_npt_guest_walk_through_second_stage(void **state)
{
    (void)state;
    /* hlt; mov rax, [0x400010]; hlt */
    static const uint8_t p[] = { 0xF4, 0x48, 0x8B, 0x04, 0x25, 0x10, 0x00, 0x40, 0x00, 0xF4 };
    struct vmdl_vm *vm = npt_run(p, sizeof(p), 2);
    uint64_t rip = LOAD + PAYLOAD + 1;
    assert_int_equal(reg(vm, VMDL_X86_RAX), 0x12345678ABCDull);
    assert_int_equal(n_npf, 6);
    assert_npf(0, NPT_PML4, true, false, false, rip);
    assert_npf(1, NPT_PDPT, true, false, false, rip);
    assert_npf(2, NPT_PD, true, false, false, rip);
    assert_npf(3, rip, false, false, true, rip);
    assert_false(npfs[3].user);                     /* the first 2 MiB: supervisor */
    assert_npf(4, NPT_PD + 16, true, true, false, 0x400010);   /* PDE 2's A flag */
    assert_npf(5, 0x400010, false, false, false, 0x400010);
    assert_true(npfs[5].user && npfs[5].writable && !npfs[5].xd);
    assert_int_equal(npfs[5].size, 8);
    uint64_t pde = 0;
    assert_int_equal(vmdl_guest_read(vmdl_vm_guest_mem(vm), NPT_PD + 16, &pde, 8), 0);
    assert_true(pde & 0x20);
    vmdl_vm_destroy(vm);
}

/* A fetch from a page the second stage maps without execute right for
 * this kind of linear address (user-mode here: U/S set at every level,
 * whatever the CPL) is a fetch fault at RIP, not a walk; mapped again
 * with it, the code runs. */
static void test_npt_fetch_needs_exec(void **state)
{
    (void)state;
    /* hlt; mov eax, NPT_CODE; jmp rax (there: mov ebx, 0x77; hlt) */
    static const uint8_t p[] = { 0xF4, 0xB8, 0x00, 0x00, 0x60, 0x00, 0xFF, 0xE0 };
    struct vmdl_vm *vm = npt_run(p, sizeof(p), 0);
    assert_int_equal(reg(vm, VMDL_X86_RBX), 0x77);
    unsigned fetches = 0;
    for (unsigned i = 0; i < n_npf; i++) {
        if ((npfs[i].gpa & ~0xFFFull) != NPT_CODE)
            continue;
        assert_npf(i, NPT_CODE, false, false, true, NPT_CODE);
        assert_true(npfs[i].user);                  /* a user page, run at CPL 0 */
        fetches++;
    }
    assert_int_equal(fetches, 2);                   /* not mapped; supervisor only */
    vmdl_vm_destroy(vm);
}

/*
 * PUSHF, which the machine completes itself (the flags image without RF
 * and VM), writes the guest's stack through the second stage too: to a
 * page the table does not map yet that is the NPF event of a write at the
 * exact linear and guest-physical address, after which (the page mapped)
 * the instruction runs again and pushes the image there.
 */
static void test_npt_emulated_pushf_goes_through_second_stage(void **state)
{
    (void)state;
    /* hlt; mov esp, 0x500000; pushfq; pop rax; hlt */
    static const uint8_t p[] = { 0xF4, 0xBC, 0x00, 0x00, 0x50, 0x00, 0x9C, 0x58, 0xF4 };
    struct vmdl_vm *vm = npt_run(p, sizeof(p), 0);
    assert_int_equal(reg(vm, VMDL_X86_RAX) & 0x30002, 0x2);   /* bit 1, no RF or VM */
    assert_int_equal(reg(vm, VMDL_X86_RSP), 0x500000);
    unsigned pushes = 0;
    for (unsigned i = 0; i < n_npf; i++) {
        if ((npfs[i].gpa & ~0xFFFull) != 0x4FF000)
            continue;
        assert_npf(i, 0x4FFFF8, false, true, false, 0x4FFFF8);
        assert_true(npfs[i].user && npfs[i].writable);
        pushes++;
    }
    assert_int_equal(pushes, 1);
    uint64_t image = 0;
    assert_int_equal(vmdl_guest_read(vmdl_vm_guest_mem(vm), 0x4FFFF8, &image, 8), 0);
    assert_int_equal(image, reg(vm, VMDL_X86_RAX));
    vmdl_vm_destroy(vm);
}

/*
 * Paging turned on while the second stage is already on, as an L2 under
 * EPT in unrestricted-guest mode boots (real or protected mode without
 * paging, then its own tables, CR3, CR4.PAE, EFER.LME, CR0.PG): the guest
 * runs from its first instruction under the second stage.  The guest's
 * tables and the data page live at other host frames than their
 * guest-physical addresses, so a table read or a final access that missed
 * the second stage would find zeros.  The GDT load after the CR0 write
 * runs alone (an instruction count); the VMRUN stub's entry after it looked
 * the page of that load up with the host's CR3 and the guest's CR0 and
 * recorded an NPF that no access made (docs/vmx.md).
 */
#define SHIFT 0x800000u           /* host frame = GPA + SHIFT for the pages below */
static unsigned npt_boot_faults;

static bool shifted(uint64_t page)
{
    return (page >= NPT_PML4 && page <= NPT_PD) || page == 0x400000;
}

static bool npt_boot_hook(void *opaque, struct vmdl_vcpu *vcpu, const struct vmdl_x86_event *ev)
{
    (void)opaque;
    if (ev->kind != VMDL_X86_EVENT_NPF)
        return false;
    npt_boot_faults++;
    uint64_t page = ev->npf.gpa & ~0xFFFull;
    if (n_npf < NPT_MAX)
        npfs[n_npf++] = ev->npf;
    return !vmdl_vcpu_x86_npt_map(vcpu, page, shifted(page) ? page + SHIFT : page,
                                  VMDL_NPT_WRITE | VMDL_NPT_EXEC);
}

static void test_npt_paging_turned_on_under_second_stage(void **state)
{
    (void)state;
    /* mov rax, [0x400010]; hlt */
    static const uint8_t p[] = { 0x48, 0x8B, 0x04, 0x25, 0x10, 0x00, 0x40, 0x00, 0xF4 };
    image(p, sizeof(p), 0);
    struct vmdl_vm *vm = boot();
    const struct vmdl_guest_mem *m = vmdl_vm_guest_mem(vm);
    uint64_t there = 0x1122334455667788ull, here = 0xDEADull;
    assert_int_equal(vmdl_guest_write(m, 0x400010 + SHIFT, &there, 8), 0);
    assert_int_equal(vmdl_guest_write(m, 0x400010, &here, 8), 0);
    n_npf = npt_boot_faults = 0;
    assert_int_equal(vmdl_vm_set_x86_event_hook(vm, npt_boot_hook, NULL), 0);
    assert_int_equal(vmdl_vcpu_set_x86_npt(vmdl_vm_vcpu(vm, 0), true), 0);
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_R13), 0);          /* no #PF, #GP, #UD */
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + PAYLOAD + sizeof(p));
    assert_int_equal(reg(vm, VMDL_X86_RAX), there);
    assert_true(reg(vm, VMDL_X86_CR0) & 0x80000000u);
    assert_true(reg(vm, VMDL_X86_EFER) & 0x400);         /* LMA */
    /* The tables the guest built are at the shifted frames only. */
    uint64_t e = 0;
    assert_int_equal(vmdl_guest_read(m, NPT_PML4 + SHIFT, &e, 8), 0);
    assert_int_equal(e & ~0x60ull, 0x201007);            /* A (and D) may be set */
    assert_int_equal(vmdl_guest_read(m, NPT_PML4, &e, 8), 0);
    assert_int_equal(e, 0);
    /* The guest's stores mapped its table pages before CR0.PG: no walk
     * faults (one at GPA 0 would be a walk from CR3 0). */
    for (unsigned i = 0; i < n_npf; i++)
        assert_false(npfs[i].walk);
    vmdl_vm_destroy(vm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lgdt_canonical_base),
        cmocka_unit_test(test_lidt_canonical_base),
        cmocka_unit_test(test_lgdt_check_at_aliased_rip),
        cmocka_unit_test(test_lldt_canonical_base),
        cmocka_unit_test(test_ltr_canonical_base),
        cmocka_unit_test(test_cpuid_reports_la57),
        cmocka_unit_test(test_fs_base_canonical_width),
        cmocka_unit_test(test_rdpmc_reads_amd_counters),
        cmocka_unit_test(test_smap_supervisor_access_to_user_page),
        cmocka_unit_test(test_pku_access_disable_faults),
        cmocka_unit_test(test_pks_reported_pkrs_msr),
        cmocka_unit_test(test_pks_absent_without_cpuid),
        cmocka_unit_test(test_pks_access_disable_faults),
        cmocka_unit_test(test_pks_write_disable_needs_wp),
        cmocka_unit_test(test_pks_user_page_unaffected_ad_set),
        cmocka_unit_test(test_pks_reserved_bit_faults),
        cmocka_unit_test(test_pks_off_again),
        cmocka_unit_test(test_pks_pkrs_write_needs_no_invlpg),
        cmocka_unit_test(test_pks_walk_applies_pkru),
        cmocka_unit_test(test_pks_fetch_keys_and_xd),
        cmocka_unit_test(test_pks_unassigned_frame),
        cmocka_unit_test(test_rdtscp_reads_tsc_aux),
        cmocka_unit_test(test_pf_error_code_not_present_write),
        cmocka_unit_test(test_npt_guest_walk_through_second_stage),
        cmocka_unit_test(test_npt_fetch_needs_exec),
        cmocka_unit_test(test_npt_emulated_pushf_goes_through_second_stage),
        cmocka_unit_test(test_npt_paging_turned_on_under_second_stage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
