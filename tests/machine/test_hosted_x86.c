/* SPDX-License-Identifier: MIT */
/*
 * The hosted x86 vCPU (multiboot guests at their own privilege level):
 * the boot state QEMU's multiboot loader leaves, exception delivery through
 * the guest's own 32-bit IDT with the right error code, the architectural
 * MSRs behind KVM's #GP rules, and the refusals around it.  The debug
 * registers are virtual (never armed in the engine) with KVM's DR6/DR7
 * rules.  The guests are a.out-kludge multiboot images assembled here by
 * hand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "virtmodel/attach_ioapic.h"
#include "virtmodel/attach_lapic.h"
#include "virtmodel/checkpoint.h"
#include "virtmodel/error.h"
#include "virtmodel/inspect.h"
#include "virtmodel/machine.h"
#include "virtmodel/loader.h"
#include "virtmodel/multiboot.h"
#include "virtmodel/progress.h"
#include "hosted_test_util.h"
#include "test_msr_model.h"
/* Flat guests assembled at build time (tests/machine/guests). */
#include "hosted_cr8_image.h"
#include "hosted_deliver64_image.h"
#include "hosted_gs_image.h"
#include "hosted_iret_image.h"

#define LOAD 0x100000u
#define IMG 0x400
#define CODE 0x20        /* entry offset */
#define HANDLER 0x80     /* #GP handler offset */
#define DB_HANDLER 0xA0  /* #DB and #UD handler offset */
#define IRQ_HANDLER 0xC0 /* vector IRQ_VEC: pop esi; hlt */
#define NMI_HANDLER 0xD0
#define IRQ_VEC 0x20
#define DATA 0x3C0       /* scratch after the IDT */
#define IDTR 0x100
#define IDT 0x200

static void put32(uint8_t *p, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void gate32(uint8_t *idt, unsigned vec, uint32_t target)
{
    uint8_t *g = idt + vec * 8;
    put32(g, (target & 0xFFFF) | (0x10u << 16));
    put32(g + 4, (target & 0xFFFF0000u) | 0x8E00u);
}

/* Header at offset 0 loading the whole file at LOAD, entry at CODE, and a
 * 32-bit IDT whose #GP gate (vector 13) points at HANDLER: pop edi (error
 * code); pop esi (faulting EIP); hlt; #DB and #UD (1, 6) at DB_HANDLER:
 * pop esi (EIP); mov ecx, dr6; mov edx, dr7; hlt; IRQ_VEC at IRQ_HANDLER;
 * NMI at NMI_HANDLER: the first time, send another NMI to itself and copy
 * the entry count (EBX) to EDI; iret. */
static void make_image(uint8_t *b, const uint8_t *code, size_t n)
{
    memset(b, 0xF4, IMG);
    mb_aout_header(b, LOAD, LOAD + CODE);
    memcpy(b + CODE, code, n);
    static const uint8_t handler[] = { 0x5F, 0x5E, 0xF4 };
    memcpy(b + HANDLER, handler, sizeof(handler));
    static const uint8_t db[] = { 0x5E, 0x0F, 0x21, 0xF1, 0x0F, 0x21, 0xFA, 0xF4 };
    memcpy(b + DB_HANDLER, db, sizeof(db));
    static const uint8_t irq[] = { 0x5E, 0xF4 };
    memcpy(b + IRQ_HANDLER, irq, sizeof(irq));
    static const uint8_t nmi[] = { 0x43, 0x83, 0xFB, 0x01, 0x75, 0x10,
        0xB9, 0x30, 0x08, 0x00, 0x00, 0xB8, 0x00, 0x04, 0x04, 0x00,
        0x31, 0xD2, 0x0F, 0x30, 0x89, 0xDF, 0xCF };
    memcpy(b + NMI_HANDLER, nmi, sizeof(nmi));
    b[IDTR] = 0x7F;               /* 48 gates */
    b[IDTR + 1] = 0x01;
    put32(b + IDTR + 2, LOAD + IDT);
    memset(b + IDT, 0, 48 * 8);
    gate32(b + IDT, 13, LOAD + HANDLER);
    gate32(b + IDT, 11, LOAD + HANDLER);
    gate32(b + IDT, 1, LOAD + DB_HANDLER);
    gate32(b + IDT, 6, LOAD + DB_HANDLER);
    gate32(b + IDT, 2, LOAD + NMI_HANDLER);
    gate32(b + IDT, IRQ_VEC, LOAD + IRQ_HANDLER);
}

/* mov esp, LOAD + 0x8000; lidt [LOAD + IDTR] */
#define PROLOGUE 0xBC, 0x00, 0x80, 0x10, 0x00, 0x0F, 0x01, 0x1D, \
                 0x00, 0x01, 0x10, 0x00

static struct vmdl_vm *boot_cfg(const uint8_t *code, size_t n,
                                 const struct vmdl_vm_config *cfg)
{
    static uint8_t img[IMG];
    make_image(img, code, n);
    struct vmdl_vm *vm;
    assert_int_equal(vmdl_vm_create(cfg, &vm), 0);
    const char env[] = "A=1\n";
    struct vmdl_mb_module mod = { env, sizeof(env) - 1, "env" };
    struct vmdl_mb_boot mb = { "-x", &mod, 1 };
    assert_int_equal(vmdl_vm_load_multiboot(vm, img, IMG, &mb), 0);
    return vm;
}

static struct vmdl_vm *boot(const uint8_t *code, size_t n)
{
    struct vmdl_vm_config cfg = { .arch = VMDL_ARCH_X86_64, .ram_size = 16 << 20 };
    return boot_cfg(code, n, &cfg);
}

static void test_boot_state_is_multiboot(void **state)
{
    (void)state;
    static const uint8_t code[] = { 0xF4 };
    struct vmdl_vm *vm = boot(code, sizeof(code));
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RAX), VMDL_MB_BOOT_MAGIC);
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + CODE + 1);
    assert_int_equal(reg(vm, VMDL_X86_CR0) & 0x80000001u, 1); /* PE, no paging */
    assert_int_equal(reg(vm, VMDL_X86_RFLAGS) & (1u << 9), 0);  /* IF clear */
    const uint8_t *mbi = vmdl_vm_ram_ptr(vm, reg(vm, VMDL_X86_RBX), 88);
    assert_non_null(mbi);
    assert_int_equal(mbi[20], 1);                               /* one module */
    vmdl_vm_destroy(vm);
}

static void test_gp_error_code_through_idt32(void **state)
{
    (void)state;
    /* mov ax, 0x1238; mov ds, ax: the selector lies past the GDT limit */
    static const uint8_t code[] = { PROLOGUE, 0x66, 0xB8, 0x38, 0x12, 0x8E, 0xD8,
                                    0xF4 };
    struct vmdl_vm *vm = boot(code, sizeof(code));
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + HANDLER + 3);
    assert_int_equal(reg(vm, VMDL_X86_RDI), 0x1238);            /* error code */
    assert_int_equal(reg(vm, VMDL_X86_RSI), LOAD + CODE + 16);  /* the MOV DS */
    /* error code, EIP popped; CS and EFLAGS left on the handler's stack */
    assert_int_equal(reg(vm, VMDL_X86_RSP), LOAD + 0x8000 - 8);
    vmdl_vm_destroy(vm);
}

/* A fault's frame has RFLAGS.RF set (SDM vol. 3, 18.3.1.1); a software
 * interrupt's has the RF the instruction ran with (0). */
static uint32_t frame_eflags(struct vmdl_vm *vm)
{
    const uint8_t *p = vmdl_vm_ram_ptr(vm, LOAD + 0x8000 - 4, 4);
    assert_non_null(p);
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static void test_fault_frame_has_rf(void **state)
{
    (void)state;
    static const uint8_t gp[] = { PROLOGUE, 0x66, 0xB8, 0x38, 0x12, 0x8E, 0xD8, 0xF4 };
    struct vmdl_vm *vm = boot(gp, sizeof(gp));
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + HANDLER + 3);
    assert_int_equal(frame_eflags(vm) & 0x10000u, 0x10000u);
    vmdl_vm_destroy(vm);
    static const uint8_t intn[] = { PROLOGUE, 0xCD, IRQ_VEC, 0xF4 };
    vm = boot(intn, sizeof(intn));
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + IRQ_HANDLER + 2);
    assert_int_equal(frame_eflags(vm) & 0x10000u, 0);
    vmdl_vm_destroy(vm);
}

static void test_arch_msr_round_trip_and_gp(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE,
        0xB9, 0x81, 0x00, 0x00, 0xC0,          /* mov ecx, STAR */
        0xB8, 0x44, 0x33, 0x22, 0x11,          /* mov eax, 0x11223344 */
        0xBA, 0x10, 0x00, 0x08, 0x00,          /* mov edx, 0x00080010 */
        0x0F, 0x30,                            /* wrmsr */
        0x31, 0xC0, 0x31, 0xD2,                /* xor eax, eax; xor edx, edx */
        0x0F, 0x32,                            /* rdmsr */
        0x89, 0xC3, 0x89, 0xD5,                /* mov ebx, eax; mov ebp, edx */
        0xB9, 0x82, 0x00, 0x00, 0xC0,          /* mov ecx, LSTAR */
        0xBA, 0x00, 0x00, 0x00, 0x01,          /* mov edx, 0x01000000: bit 56 */
                                               /* set, not canonical with 57 bits */
        0x0F, 0x30,                            /* wrmsr -> #GP(0) */
        0xF4 };
    struct vmdl_vm *vm = boot(code, sizeof(code));
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RBX), 0x11223344);
    assert_int_equal(reg(vm, VMDL_X86_RBP), 0x00080010);
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + HANDLER + 3);
    assert_int_equal(reg(vm, VMDL_X86_RDI), 0);
    assert_int_equal(reg(vm, VMDL_X86_RSI), LOAD + CODE + sizeof(code) - 3);
    vmdl_vm_destroy(vm);
}

static void test_unknown_msr_gp(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE,
        0xB9, 0x78, 0x56, 0x34, 0x12,          /* mov ecx, 0x12345678 */
        0x0F, 0x32,                            /* rdmsr -> #GP(0), as KVM */
        0xF4 };
    struct vmdl_vm *vm = boot(code, sizeof(code));
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + HANDLER + 3);
    assert_int_equal(reg(vm, VMDL_X86_RSI), LOAD + CODE + 17);
    vmdl_vm_destroy(vm);
}

/* QEMU's TCG would take any CR4 value (LA57 included); KVM's rules #GP. */
static void test_cr4_reserved_bits_gp(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE,
        0xB8, 0xFF, 0xFF, 0xFF, 0xFF,          /* mov eax, 0xffffffff */
        0x0F, 0x22, 0xE0,                      /* mov cr4, eax -> #GP(0) */
        0xF4 };
    struct vmdl_vm *vm = boot(code, sizeof(code));
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + HANDLER + 3);
    assert_int_equal(reg(vm, VMDL_X86_RDI), 0);
    assert_int_equal(reg(vm, VMDL_X86_RSI), LOAD + CODE + 17);
    assert_int_equal(reg(vm, VMDL_X86_CR4), 0);
    vmdl_vm_destroy(vm);
}

/* CR4.OSXSAVE is reserved while CPUID.1:ECX.XSAVE is clear (KVM's
 * __cr4_reserved_bits): the write is #GP(0) and CR4 keeps its value. */
static void test_cr4_osxsave_needs_xsave(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE,
        0xB8, 0x01, 0x00, 0x00, 0x00,          /* mov eax, 1 */
        0x0F, 0xA2,                            /* cpuid */
        0x89, 0xCB,                            /* mov ebx, ecx */
        0xB8, 0x00, 0x00, 0x04, 0x00,          /* mov eax, CR4.OSXSAVE */
        0x0F, 0x22, 0xE0,                      /* mov cr4, eax -> #GP(0) */
        0xF4 };
    struct vmdl_vm *vm = boot(code, sizeof(code));
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RBX) & (1u << 26), 0);  /* no XSAVE */
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + HANDLER + 3);
    assert_int_equal(reg(vm, VMDL_X86_RSI), LOAD + CODE + 12 + 14);
    assert_int_equal(reg(vm, VMDL_X86_CR4), 0);
    vmdl_vm_destroy(vm);
}

#define MOV_EAX(x) 0xB8, (uint8_t)(x), (uint8_t)((x) >> 8), (uint8_t)((x) >> 16), \
                   (uint8_t)((x) >> 24)
#define MOV_ADDR(x) (uint8_t)(x), (uint8_t)((x) >> 8), (uint8_t)((x) >> 16), \
                    (uint8_t)((x) >> 24)
#define DR6_INIT 0xFFFF0FF0u   /* reset value; RTM and bus-lock bits read 1 */

/* DR7 and DR6 read back through KVM's masks: DR7 keeps 0xFFFF2BFF with
 * bit 10 set, DR6's fixed bits read 1.  No breakpoint is enabled here. */
static void test_dr7_dr6_masks(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE,
        MOV_EAX(LOAD + DATA), 0x0F, 0x23, 0xC8,           /* dr1 = data */
        MOV_EAX(0xFFFFDF00u), 0x0F, 0x23, 0xF8,           /* dr7: no enables */
        0xA3, MOV_ADDR(LOAD + DATA),                      /* mov [data], eax */
        0x0F, 0x21, 0xFB,                                 /* mov ebx, dr7 */
        0x0F, 0x21, 0xC9,                                 /* mov ecx, dr1 */
        MOV_EAX(0), 0x0F, 0x23, 0xF0,                     /* dr6 = 0 */
        0x0F, 0x21, 0xF5,                                 /* mov ebp, dr6 */
        0xF4 };
    struct vmdl_vm *vm = boot(code, sizeof(code));
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + CODE + sizeof(code));
    assert_int_equal(reg(vm, VMDL_X86_RBX), 0xFFFF0F00u);  /* & 0xFFFF2BFF | 0x400 */
    assert_int_equal(reg(vm, VMDL_X86_RCX), LOAD + DATA);
    assert_int_equal(reg(vm, VMDL_X86_RBP), DR6_INIT);      /* fixed bits read 1 */
    vmdl_vm_destroy(vm);
}

/* An instruction breakpoint (DR0, R/W 00, G0): a fault-like #DB before the
 * instruction, EIP in the frame at it, DR6.B0. */
static void test_dr0_instruction_breakpoint(void **state)
{
    (void)state;
    enum { NOP = 12 + 5 + 3 + 5 + 3 };
    static const uint8_t code[] = { PROLOGUE,
        MOV_EAX(LOAD + CODE + NOP), 0x0F, 0x23, 0xC0,     /* dr0 = &nop */
        MOV_EAX(0x402u), 0x0F, 0x23, 0xF8,                /* dr7 = G0, execute */
        0x90,                                             /* nop: #DB */
        0xF4 };
    struct vmdl_vm *vm = boot(code, sizeof(code));
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + DB_HANDLER + 8);
    assert_int_equal(reg(vm, VMDL_X86_RSI), LOAD + CODE + NOP);
    assert_int_equal(reg(vm, VMDL_X86_RCX), DR6_INIT | 1u);
    assert_int_equal(reg(vm, VMDL_X86_RDX), 0x402u);
    vmdl_vm_destroy(vm);
}

/* RFLAGS.RF (here loaded by IRET) suppresses the instruction breakpoint
 * once: the instruction runs and the next one is reached. */
static void test_rf_suppresses_instruction_breakpoint(void **state)
{
    (void)state;
    enum { TARGET = 12 + 5 + 3 + 5 + 3 + 5 + 1 + 5 + 1 + 5 + 1 };
    static const uint8_t code[] = { PROLOGUE,
        MOV_EAX(LOAD + CODE + TARGET), 0x0F, 0x23, 0xC0,  /* dr0 = target */
        MOV_EAX(0x402u), 0x0F, 0x23, 0xF8,                /* dr7 = G0, execute */
        0x68, MOV_ADDR(0x10002u),                         /* push RF | 2 */
        0x0E,                                             /* push cs */
        0x68, MOV_ADDR(LOAD + CODE + TARGET),             /* push target */
        0xCF,                                             /* iret */
        MOV_EAX(0), 0xF4,                                 /* (skipped) */
        0x90,                                             /* target: nop */
        0xF4 };
    struct vmdl_vm *vm = boot(code, sizeof(code));
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + CODE + TARGET + 2);
    vmdl_vm_destroy(vm);
}

/* A data breakpoint on writes (DR1, R/W 01, LEN 4): a trap-like #DB after
 * the store, DR6.B1; DR6.BS the guest set stays. */
static void test_dr1_write_watchpoint_traps_after_store(void **state)
{
    (void)state;
    enum { STORE = 12 + 5 + 3 + 5 + 3 + 5 + 3 };
    static const uint8_t code[] = { PROLOGUE,
        MOV_EAX(LOAD + DATA), 0x0F, 0x23, 0xC8,           /* dr1 = data */
        MOV_EAX(0x00D00408u), 0x0F, 0x23, 0xF8,           /* dr7: G1, write, 4 */
        MOV_EAX(0x4000u), 0x0F, 0x23, 0xF0,               /* dr6 = BS */
        0xA1, MOV_ADDR(LOAD + DATA),                      /* load: no match */
        0xA3, MOV_ADDR(LOAD + DATA + 2),                  /* store overlapping */
        0x90, 0xF4 };
    struct vmdl_vm *vm = boot(code, sizeof(code));
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + DB_HANDLER + 8);
    assert_int_equal(reg(vm, VMDL_X86_RSI), LOAD + CODE + STORE + 10);
    assert_int_equal(reg(vm, VMDL_X86_RCX), DR6_INIT | 0x4000u | 2u);
    vmdl_vm_destroy(vm);
}

/* A data breakpoint MOV SS matches waits one more instruction (SDM vol. 3,
 * 6.8.3): the #DB frame points after the instruction that follows it. */
static void test_watchpoint_after_mov_ss_waits_one_insn(void **state)
{
    (void)state;
    enum { MOVSS = 12 + 9 + 5 + 3 + 5 + 3 };
    static const uint8_t code[] = { PROLOGUE,
        0x66, 0xC7, 0x05, MOV_ADDR(LOAD + DATA), 0x18, 0x00, /* [data] = 0x18 */
        MOV_EAX(LOAD + DATA), 0x0F, 0x23, 0xC8,           /* dr1 = data */
        MOV_EAX(0x00F00408u), 0x0F, 0x23, 0xF8,           /* dr7: G1, r/w, 4 */
        0x8E, 0x15, MOV_ADDR(LOAD + DATA),                /* mov ss, [data] */
        0x90, 0x90, 0xF4 };
    struct vmdl_vm *vm = boot(code, sizeof(code));
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + DB_HANDLER + 8);
    assert_int_equal(reg(vm, VMDL_X86_RSI), LOAD + CODE + MOVSS + 6 + 1);
    assert_int_equal(reg(vm, VMDL_X86_RCX), DR6_INIT | 2u);
    vmdl_vm_destroy(vm);
}

/* DR4 is DR6 while CR4.DE is clear, and #UD once it is set. */
static void test_dr4_alias_and_ud_with_cr4_de(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE,
        MOV_EAX(0x4001u), 0x0F, 0x23, 0xE0,               /* dr4 = BS | B0 */
        0x0F, 0x21, 0xF3,                                 /* mov ebx, dr6 */
        0x0F, 0x20, 0xE0, 0x83, 0xC8, 0x08, 0x0F, 0x22, 0xE0,  /* CR4.DE = 1 */
        0x0F, 0x21, 0xE0,                                 /* mov eax, dr4: #UD */
        0xF4 };
    struct vmdl_vm *vm = boot(code, sizeof(code));
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RBX), DR6_INIT | 0x4001u);
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + DB_HANDLER + 8);
    assert_int_equal(reg(vm, VMDL_X86_RSI), LOAD + CODE + sizeof(code) - 4);
    assert_int_equal(reg(vm, VMDL_X86_CR4), 8);
    vmdl_vm_destroy(vm);
}

/* DR7.GD: the next MOV DR is a fault-like #DB with DR6.BD; the delivery
 * clears GD, so the handler reads DR6 and DR7 freely. */
static void test_dr7_general_detect(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE,
        MOV_EAX(0x2400u), 0x0F, 0x23, 0xF8,               /* dr7 = GD */
        0x0F, 0x21, 0xF0,                                 /* mov eax, dr6: #DB */
        0xF4 };
    struct vmdl_vm *vm = boot(code, sizeof(code));
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + DB_HANDLER + 8);
    assert_int_equal(reg(vm, VMDL_X86_RSI), LOAD + CODE + sizeof(code) - 4);
    assert_int_equal(reg(vm, VMDL_X86_RCX), DR6_INIT | 0x2000u);  /* BD */
    assert_int_equal(reg(vm, VMDL_X86_RDX), 0x400);
    vmdl_vm_destroy(vm);
}

/* ICEBP (F1): a trap-like #DB after it, no DR6 status bit. */
static void test_icebp_trap(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE, 0xF1, 0xF4 };
    struct vmdl_vm *vm = boot(code, sizeof(code));
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + DB_HANDLER + 8);
    assert_int_equal(reg(vm, VMDL_X86_RSI), LOAD + CODE + sizeof(code) - 1);
    assert_int_equal(reg(vm, VMDL_X86_RCX), DR6_INIT);
    vmdl_vm_destroy(vm);
}

/* RFLAGS.TF over an instruction the machine emulates (RDTSC): the
 * single-step #DB comes right after it, with DR6.BS. */
static void test_single_step_after_emulated_insn(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE,
        0x9C, 0x58, 0x0D, 0x00, 0x01, 0x00, 0x00, 0x50, 0x9D,  /* TF = 1 */
        0x0F, 0x31,                                       /* rdtsc */
        0x90, 0xF4 };
    struct vmdl_vm *vm = boot(code, sizeof(code));
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + DB_HANDLER + 8);
    assert_int_equal(reg(vm, VMDL_X86_RSI), LOAD + CODE + sizeof(code) - 2);
    assert_int_equal(reg(vm, VMDL_X86_RCX), DR6_INIT | 0x4000u);  /* BS */
    vmdl_vm_destroy(vm);
}

/* vmdl_vcpu_get/set_x86_sys: the boot state in VMCS form, and a new state
 * (another RIP, RSP and RFLAGS) that the next entry runs from. */
static void test_sys_state_round_trip(void **state)
{
    (void)state;
    /* hlt; then at +8: mov eax, 0x1234; hlt */
    static const uint8_t code[] = { 0xF4, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90,
                                    0xB8, 0x34, 0x12, 0x00, 0x00, 0xF4 };
    struct vmdl_vm *vm = boot(code, sizeof(code));
    run_to_hlt(vm);
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    struct vmdl_x86_sys_state st;
    assert_int_equal(vmdl_vcpu_get_x86_sys(v, &st), 0);
    /* QEMU's multiboot entry: flat 32-bit code (type 11, S, P, D, G). */
    assert_int_equal(st.seg[1].ar & 0xf0ff, 0xc09b);
    assert_int_equal(st.seg[1].limit, 0xffffffffu);
    assert_int_equal(st.cr0 & 1, 1);
    assert_int_equal(st.efer & (1u << 12), 0);  /* SVME stays underneath */
    assert_int_equal(st.rip, LOAD + CODE + 1);
    assert_int_equal(st.activity, 1);           /* halted at the HLT */
    st.activity = 0;                            /* runs from the new state */
    st.rip = LOAD + CODE + 8;
    st.rsp = LOAD + 0x7000;
    st.rflags = 0x2 | (1u << 11);               /* OF: not from the old state */
    /* FS, GS, LDTR and TR are switched too (a VM entry or exit loads them). */
    st.seg[4] = (struct vmdl_x86_segment){0x18, 0x1234000, 0xfffff, 0xc093};
    st.seg[5] = (struct vmdl_x86_segment){0x18, 0x5678000, 0xfffff, 0xc093};
    st.seg[6] = (struct vmdl_x86_segment){0x28, 0x3000, 0x57, 0x82};
    st.seg[7] = (struct vmdl_x86_segment){0x20, 0x4000, 0x67, 0x8b};
    assert_int_equal(vmdl_vcpu_set_x86_sys(v, &st), 0);
    run_to_hlt(vm);
    struct vmdl_x86_sys_state now;
    assert_int_equal(vmdl_vcpu_get_x86_sys(v, &now), 0);
    for (unsigned i = 4; i < 8; i++) {
        assert_int_equal(now.seg[i].selector, st.seg[i].selector);
        assert_int_equal(now.seg[i].base, st.seg[i].base);
        assert_int_equal(now.seg[i].limit, st.seg[i].limit);
        assert_int_equal(now.seg[i].ar, st.seg[i].ar);
    }
    assert_int_equal(reg(vm, VMDL_X86_RAX), 0x1234);
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + CODE + 14);
    assert_int_equal(reg(vm, VMDL_X86_RSP), LOAD + 0x7000);
    assert_int_equal(reg(vm, VMDL_X86_RFLAGS) & (1u << 11), 1u << 11);
    assert_int_not_equal(vmdl_vcpu_get_x86_sys(v, NULL), 0);
    vmdl_vm_destroy(vm);
}

/* IA32_DEBUGCTL as KVM's vmx_set_msr: without LBRs exposed (this machine
 * models no LBR stack) LBR and BTF are dropped without a fault and read
 * back as 0; any other bit the vCPU lacks is #GP. */
static void test_debugctl_kvm_rules(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE,
        0xB9, 0xD9, 0x01, 0x00, 0x00,          /* mov ecx, IA32_DEBUGCTL */
        0x31, 0xD2,                            /* xor edx, edx */
        0xB8, 0x01, 0x00, 0x00, 0x00,          /* mov eax, 1 (LBR) */
        0x0F, 0x30, 0x0F, 0x32,                /* wrmsr; rdmsr */
        0x89, 0xC3,                            /* mov ebx, eax */
        0xB8, 0x02, 0x00, 0x00, 0x00,          /* mov eax, 2 (BTF) */
        0x0F, 0x30, 0x0F, 0x32,                /* wrmsr; rdmsr */
        0x89, 0xC5,                            /* mov ebp, eax */
        0xB8, 0x10, 0x00, 0x00, 0x00,          /* mov eax, 0x10 (reserved here) */
        0x0F, 0x30,                            /* wrmsr -> #GP(0) */
        0xF4 };
    struct vmdl_vm *vm = boot(code, sizeof(code));
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RBX), 0);
    assert_int_equal(reg(vm, VMDL_X86_RBP), 0);
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + HANDLER + 3);
    assert_int_equal(reg(vm, VMDL_X86_RSI), LOAD + CODE + sizeof(code) - 3);
    vmdl_vm_destroy(vm);
}

/* DR7 and DEBUGCTL in the system state: DR7 is the guest's virtual one
 * (never the engine's), DEBUGCTL keeps the bits the vCPU implements, which
 * follow CPUID (RTM_DEBUG with CPUID.7.0:EBX.RTM, as KVM). */
static void test_sys_state_dr7_debugctl(void **state)
{
    (void)state;
    /* hlt; then at +8: mov eax, dr7; mov ecx, IA32_DEBUGCTL; mov esi, eax;
     * rdmsr; hlt */
    static const uint8_t code[] = { 0xF4, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90,
                                    0x0F, 0x21, 0xF8, 0xB9, 0xD9, 0x01, 0x00, 0x00,
                                    0x89, 0xC6, 0x0F, 0x32, 0xF4 };
    struct vmdl_vm *vm = boot(code, sizeof(code));
    struct vmdl_cpuid_entry e;
    assert_int_equal(vmdl_vm_get_cpuid(vm, 7, 0, &e), 0);
    e.ebx |= 1u << 11;                          /* RTM */
    assert_int_equal(vmdl_vm_set_cpuid(vm, &e), 0);
    run_to_hlt(vm);
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    struct vmdl_x86_sys_state st;
    assert_int_equal(vmdl_vcpu_get_x86_sys(v, &st), 0);
    assert_int_equal(st.dr7, 0x400);
    assert_int_equal(st.debugctl, 0);
    assert_int_equal(st.debugctl_supported, 1u << 15);
    st.activity = 0;
    st.rip = LOAD + CODE + 8;
    st.dr7 = 0x700;                             /* LE, GE: no breakpoint */
    st.debugctl = 0x8001;                       /* RTM_DEBUG kept, LBR dropped */
    assert_int_equal(vmdl_vcpu_set_x86_sys(v, &st), 0);
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RSI), 0x700);
    assert_int_equal(reg(vm, VMDL_X86_RAX), 0x8000);
    struct vmdl_x86_sys_state now;
    assert_int_equal(vmdl_vcpu_get_x86_sys(v, &now), 0);
    assert_int_equal(now.dr7, 0x700);
    assert_int_equal(now.debugctl, 0x8000);
    vmdl_vm_destroy(vm);
}

/* vmdl_vcpu_x86_msr: an MSR access with the guest's rules from outside
 * (a nested entry's MSR-load list): KERNEL_GS_BASE reaches the vCPU, a
 * non-canonical value or an MSR nobody has faults and changes nothing. */
static void test_msr_access_from_outside(void **state)
{
    (void)state;
    /* mov ecx, KERNEL_GS_BASE; rdmsr; hlt */
    static const uint8_t code[] = { 0xB9, 0x02, 0x01, 0x00, 0xC0, 0x0F, 0x32, 0xF4 };
    struct vmdl_vm *vm = boot(code, sizeof(code));
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    vmdl_fault f = VMDL_FAULT_UD;
    uint64_t val = 0x31415926;
    assert_int_equal(vmdl_vcpu_x86_msr(v, true, 0xC0000102, &val, &f), 0);
    assert_int_equal(f, VMDL_FAULT_NONE);
    val = 1ull << 63;
    assert_int_equal(vmdl_vcpu_x86_msr(v, true, 0xC0000102, &val, &f), 0);
    assert_int_equal(f, VMDL_FAULT_GP);
    assert_int_equal(vmdl_vcpu_x86_msr(v, false, 0x12345678, &val, &f), 0);
    assert_int_equal(f, VMDL_FAULT_GP);
    val = 0;
    assert_int_equal(vmdl_vcpu_x86_msr(v, false, 0xC0000102, &val, &f), 0);
    assert_int_equal(f, VMDL_FAULT_NONE);
    assert_int_equal(val, 0x31415926);
    assert_int_not_equal(vmdl_vcpu_x86_msr(v, false, 0xC0000102, NULL, &f), 0);
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RAX), 0x31415926);
    vmdl_vm_destroy(vm);
}

static unsigned movss_n;
static bool movss_seen[4];

static vmdl_fault note_movss(void *opaque, struct vmdl_vcpu *vcpu,
                             const struct vmdl_x86_insn *insn)
{
    (void)opaque;
    (void)vcpu;
    if (movss_n < 4)
        movss_seen[movss_n++] = insn->mov_ss_shadow;
    return VMDL_FAULT_NONE;
}

/* A VMX instruction right after MOV SS is in its shadow (VMLAUNCH then
 * fails with error 26); after STI, or with no shadow, it is not. */
static void test_vmx_insn_in_mov_ss_shadow(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE,
        0x66, 0x8C, 0xD0,                       /* mov ax, ss */
        0x8E, 0xD0,                             /* mov ss, ax */
        0x0F, 0x01, 0xC2,                       /* vmlaunch: MOV SS shadow */
        0xFA, 0xFB,                             /* cli; sti */
        0x0F, 0x01, 0xC2,                       /* vmlaunch: STI shadow */
        0x0F, 0x01, 0xC2,                       /* vmlaunch: no shadow */
        0xF4 };
    struct vmdl_vm *vm = boot(code, sizeof(code));
    movss_n = 0;
    assert_int_equal(vmdl_vm_set_vmx_handler(vm, note_movss, NULL), 0);
    run_to_hlt(vm);
    assert_int_equal(movss_n, 3);
    assert_true(movss_seen[0]);
    assert_false(movss_seen[1]);
    assert_false(movss_seen[2]);
    vmdl_vm_destroy(vm);
}

static unsigned cpuid_seen;

static bool take_cpuid(void *opaque, struct vmdl_vcpu *vcpu, const struct vmdl_x86_event *ev)
{
    (void)opaque;
    if (ev->kind != VMDL_X86_EVENT_CPUID)
        return false;
    cpuid_seen++;
    assert_int_equal(ev->insn_len, 2);
    /* Take it: continue after the CPUID with EBX marked. */
    struct vmdl_x86_sys_state st;
    assert_int_equal(vmdl_vcpu_get_x86_sys(vcpu, &st), 0);
    st.rip += 2;
    assert_int_equal(vmdl_vcpu_set_x86_sys(vcpu, &st), 0);
    assert_int_equal(vmdl_vcpu_set_reg(vcpu, VMDL_X86_RBX, 0x5a5a), 0);
    return true;
}

/* The event hook sees CPUID only while CPUID events are on; otherwise the
 * CPUID table answers inside the engine. */
static void test_event_hook_cpuid(void **state)
{
    (void)state;
    /* xor eax, eax; cpuid; hlt; xor eax, eax; cpuid; hlt */
    static const uint8_t code[] = { 0x31, 0xC0, 0x0F, 0xA2, 0xF4,
                                    0x31, 0xC0, 0x0F, 0xA2, 0xF4 };
    struct vmdl_vm *vm = boot(code, sizeof(code));
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    cpuid_seen = 0;
    assert_int_equal(vmdl_vm_set_x86_event_hook(vm, take_cpuid, NULL), 0);
    run_to_hlt(vm);
    assert_int_equal(cpuid_seen, 0);
    assert_int_equal(reg(vm, VMDL_X86_RBX), 0x756e6547);       /* "Genu" */
    /* On: the next entry intercepts CPUID (set_x86_sys forces one). */
    struct vmdl_x86_sys_state st;
    assert_int_equal(vmdl_vcpu_get_x86_sys(v, &st), 0);
    st.activity = 0;
    assert_int_equal(vmdl_vcpu_set_x86_sys(v, &st), 0);
    assert_int_equal(vmdl_vcpu_set_x86_cpuid_events(v, true), 0);
    run_to_hlt(vm);
    assert_int_equal(cpuid_seen, 1);
    assert_int_equal(reg(vm, VMDL_X86_RBX), 0x5a5a);
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + CODE + 10);
    vmdl_vm_destroy(vm);
}

/* ---- a nested guest's intercepts (vmdl_vcpu_set_x86_nested) ---- */

static struct vmdl_x86_event io_seen[8];
static unsigned io_n, io_probes;

/* Takes I/O to ports 0x510 and 0x60 (as an L1 with those bits in its I/O
 * bitmap): continue after the instruction, IN reads 0xBEEF. */
static bool take_io(void *opaque, struct vmdl_vcpu *vcpu, const struct vmdl_x86_event *ev)
{
    (void)opaque;
    if (ev->kind != VMDL_X86_EVENT_IO || (ev->port != 0x510 && ev->port != 0x60))
        return false;
    if (ev->probe) {
        io_probes++;
        return true;
    }
    if (io_n < 8)
        io_seen[io_n++] = *ev;
    /* General registers first: set_x86_sys moves them into the next entry. */
    if (ev->in)
        assert_int_equal(vmdl_vcpu_set_reg(vcpu, VMDL_X86_RAX, 0xBEEF), 0);
    struct vmdl_x86_sys_state st;
    assert_int_equal(vmdl_vcpu_get_x86_sys(vcpu, &st), 0);
    st.rip += ev->insn_len;
    assert_int_equal(vmdl_vcpu_set_x86_sys(vcpu, &st), 0);
    return true;
}

/* Port I/O of a nested guest: a port the hook claims stops precisely at
 * the IN/OUT with the access (size, direction, string, REP, immediate and,
 * for OUTS, the linear address and the address-size/segment instruction
 * information of SDM 28.2.5); other ports reach the machine's devices. */
static void test_nested_io_exits(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE,
        0x66, 0xBA, 0x10, 0x05,                 /* mov dx, 0x510 */
        0xB0, 0x42,                             /* mov al, 0x42 */
        0xEE,                                   /* out dx, al */
        0x66, 0xE5, 0x60,                       /* in ax, 0x60 */
        0x89, 0xC3,                             /* mov ebx, eax */
        0xBE, 0xC0, 0x03, 0x10, 0x00,           /* mov esi, LOAD + DATA */
        0xB9, 0x01, 0x00, 0x00, 0x00,           /* mov ecx, 1 */
        0xF3, 0x6E,                             /* rep outsb */
        0xE6, 0x80,                             /* out 0x80, al: not claimed */
        0xF4 };
    struct vmdl_vm *vm = boot(code, sizeof(code));
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    io_n = io_probes = 0;
    memset(io_seen, 0, sizeof(io_seen));
    assert_int_equal(vmdl_vm_set_x86_event_hook(vm, take_io, NULL), 0);
    struct vmdl_x86_nested_ctl ctl = {0};
    assert_int_equal(vmdl_vcpu_set_x86_nested(v, &ctl), 0);
    run_to_hlt(vm);
    assert_int_equal(io_n, 3);
    assert_int_equal(io_probes, 3);
    assert_int_equal(io_seen[0].port, 0x510);
    assert_int_equal(io_seen[0].size, 1);
    assert_false(io_seen[0].in);
    assert_false(io_seen[0].imm);
    assert_int_equal(io_seen[0].insn_len, 1);
    assert_int_equal(io_seen[1].port, 0x60);
    assert_int_equal(io_seen[1].size, 2);
    assert_true(io_seen[1].in);
    assert_true(io_seen[1].imm);
    assert_int_equal(io_seen[1].insn_len, 3);
    assert_true(io_seen[2].string);
    assert_true(io_seen[2].rep);
    assert_int_equal(io_seen[2].insn_len, 2);
    assert_int_equal(io_seen[2].addr, LOAD + DATA);
    assert_int_equal(io_seen[2].insn_info, 1u << 7 | 3u << 15);  /* 32-bit, DS */
    assert_int_equal(reg(vm, VMDL_X86_RBX) & 0xFFFF, 0xBEEF);
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + CODE + sizeof(code));
    vmdl_vm_destroy(vm);
}

/* CR0 with TS owned by L1: MOV from CR0 reads the shadow's TS, a MOV to CR0
 * the hook leaves keeps the real TS (KVM's nested CR0 handling). */
static void test_nested_cr0_shadow(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE,
        0x0F, 0x20, 0xC0,                       /* mov eax, cr0 */
        0x89, 0xC3,                             /* mov ebx, eax */
        0x0F, 0x22, 0xC0,                       /* mov cr0, eax (TS from shadow) */
        0xF4 };
    struct vmdl_vm *vm = boot(code, sizeof(code));
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    struct vmdl_x86_nested_ctl ctl = {.cr0_mask = 1u << 3, .cr0_shadow = 1u << 3};
    assert_int_equal(vmdl_vcpu_set_x86_nested(v, &ctl), 0);
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RBX) & 0x9, 0x9);       /* PE, shadow TS */
    assert_int_equal(reg(vm, VMDL_X86_CR0) & 0x8, 0);         /* real TS kept */
    vmdl_vm_destroy(vm);
}

/* VM-entry style injection: an external interrupt pushes the current EIP,
 * a software interrupt EIP + its length. */
static void test_nested_inject_event(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE, 0xF4, 0x90, 0x90, 0xF4 };
    const uint64_t after_hlt = LOAD + CODE + 13;
    for (unsigned type = 0; type < 5; type += 4) {
        struct vmdl_vm *vm = boot(code, sizeof(code));
        struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
        run_to_hlt(vm);
        struct vmdl_x86_sys_state st;
        assert_int_equal(vmdl_vcpu_get_x86_sys(v, &st), 0);
        st.activity = 0;
        assert_int_equal(vmdl_vcpu_set_x86_sys(v, &st), 0);
        assert_false(vmdl_vcpu_x86_injection_pending(v));
        assert_int_equal(vmdl_vcpu_inject_x86_event(v, type, IRQ_VEC, false, 0, 2), 0);
        assert_true(vmdl_vcpu_x86_injection_pending(v));
        run_to_hlt(vm);
        assert_false(vmdl_vcpu_x86_injection_pending(v));
        assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + IRQ_HANDLER + 2);
        assert_int_equal(reg(vm, VMDL_X86_RSI), after_hlt + (type == 4 ? 2 : 0));
        vmdl_vm_destroy(vm);
    }
}

static struct { unsigned vector, len; bool soft; uint64_t rip; } soft_seen[4];
static unsigned soft_n, other_n;
static bool soft_decline;

/* Takes #BP and #OF (an L1 with bits 3 and 4 in its exception bitmap):
 * note the event and where L2 stood, go on after the instruction. */
static bool take_soft(void *opaque, struct vmdl_vcpu *vcpu, const struct vmdl_x86_event *ev)
{
    (void)opaque;
    if (ev->kind != VMDL_X86_EVENT_EXCEPTION || (ev->vector != 3 && ev->vector != 4)) {
        other_n++;
        return false;
    }
    if (soft_decline || soft_n >= 4)
        return false;
    struct vmdl_x86_sys_state st;
    assert_int_equal(vmdl_vcpu_get_x86_sys(vcpu, &st), 0);
    soft_seen[soft_n].vector = ev->vector;
    soft_seen[soft_n].len = ev->insn_len;
    soft_seen[soft_n].soft = ev->soft;
    soft_seen[soft_n++].rip = st.rip;
    st.rip += ev->insn_len;
    assert_int_equal(vmdl_vcpu_set_x86_sys(vcpu, &st), 0);
    return true;
}

/* INT3 and INTO in a nested guest are software exceptions (VMX type 6)
 * that L1's exception bitmap catches (SDM 26.2): offered with RIP at the
 * instruction and its length 1; INTO with OF clear raises nothing; INT 3
 * (CD 03) is a software interrupt, which no bitmap catches. */
static void test_nested_int3_into_offered(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE,
        0xCC,                                   /* int3 */
        0x90, 0xF4,                             /* nop; hlt: RIP right */
        0x31, 0xC0,                             /* xor eax, eax: OF = 0 */
        0xCE,                                   /* into: nothing */
        0xB0, 0x7F, 0x00, 0xC0,                 /* mov al, 0x7f; add al, al: OF */
        0xCE,                                   /* into: #OF */
        0xCD, 0x03,                             /* int 3: through gate 3 */
        0xF4 };
    struct vmdl_vm *vm = boot(code, sizeof(code));
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    uint8_t *idt = vmdl_vm_ram_ptr(vm, LOAD + IDT, 48 * 8);
    assert_non_null(idt);
    gate32(idt, 3, LOAD + IRQ_HANDLER);
    soft_n = other_n = 0;
    soft_decline = false;
    assert_int_equal(vmdl_vm_set_x86_event_hook(vm, take_soft, NULL), 0);
    struct vmdl_x86_nested_ctl ctl = {0};
    assert_int_equal(vmdl_vcpu_set_x86_nested(v, &ctl), 0);
    /* The intercepts after a taken INT3 report their own RIP (QEMU keeps
     * the software interrupt's return address for them otherwise). */
    run_to_hlt(vm);
    assert_int_equal(soft_n, 1);
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + CODE + 15);
    struct vmdl_x86_sys_state st;
    assert_int_equal(vmdl_vcpu_get_x86_sys(v, &st), 0);
    st.activity = 0;
    assert_int_equal(vmdl_vcpu_set_x86_sys(v, &st), 0);
    run_to_hlt(vm);
    assert_int_equal(soft_n, 2);
    assert_int_equal(soft_seen[0].vector, 3);
    assert_true(soft_seen[0].soft);
    assert_int_equal(soft_seen[0].len, 1);
    assert_int_equal(soft_seen[0].rip, LOAD + CODE + 12);
    assert_int_equal(soft_seen[1].vector, 4);
    assert_true(soft_seen[1].soft);
    assert_int_equal(soft_seen[1].len, 1);
    assert_int_equal(soft_seen[1].rip, LOAD + CODE + 22);
    /* INT 3 went through the IDT, return address past it */
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + IRQ_HANDLER + 2);
    assert_int_equal(reg(vm, VMDL_X86_RSI), LOAD + CODE + 25);
    vmdl_vm_destroy(vm);
}

/* A software exception L1 does not take is delivered through L2's IDT as
 * before: a trap frame returning past the INT3. */
static void test_nested_int3_declined_delivered(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE, 0xCC, 0xF4 };
    struct vmdl_vm *vm = boot(code, sizeof(code));
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    uint8_t *idt = vmdl_vm_ram_ptr(vm, LOAD + IDT, 48 * 8);
    assert_non_null(idt);
    gate32(idt, 3, LOAD + IRQ_HANDLER);
    soft_n = other_n = 0;
    soft_decline = true;
    assert_int_equal(vmdl_vm_set_x86_event_hook(vm, take_soft, NULL), 0);
    struct vmdl_x86_nested_ctl ctl = {0};
    assert_int_equal(vmdl_vcpu_set_x86_nested(v, &ctl), 0);
    run_to_hlt(vm);
    assert_int_equal(soft_n, 0);
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + IRQ_HANDLER + 2);
    assert_int_equal(reg(vm, VMDL_X86_RSI), LOAD + CODE + 13);
    vmdl_vm_destroy(vm);
}

static enum vmdl_x86_event_kind kinds_seen[8];
static unsigned kinds_n;

/* Takes RDSEED and INVD (as an L1 with RDSEED exiting; INVD always exits),
 * leaves RDRAND and WBINVD to the machine. */
static bool take_rdseed_invd(void *opaque, struct vmdl_vcpu *vcpu,
                             const struct vmdl_x86_event *ev)
{
    (void)opaque;
    if ((ev->kind != VMDL_X86_EVENT_RDRAND && ev->kind != VMDL_X86_EVENT_RDSEED &&
         ev->kind != VMDL_X86_EVENT_INVD && ev->kind != VMDL_X86_EVENT_WBINVD) ||
        kinds_n >= 8)
        return false;
    kinds_seen[kinds_n++] = ev->kind;
    if (ev->kind != VMDL_X86_EVENT_RDSEED && ev->kind != VMDL_X86_EVENT_INVD)
        return false;
    if (ev->kind == VMDL_X86_EVENT_RDSEED) {
        assert_int_equal(ev->gpr, 3);                   /* EBX */
        assert_int_equal(ev->insn_info, 3u << 3 | 1u << 11);
    }
    assert_int_equal(vmdl_vcpu_set_reg(vcpu, VMDL_X86_RDI, ev->kind), 0);
    struct vmdl_x86_sys_state st;
    assert_int_equal(vmdl_vcpu_get_x86_sys(vcpu, &st), 0);
    st.rip += ev->insn_len;
    assert_int_equal(vmdl_vcpu_set_x86_sys(vcpu, &st), 0);
    return true;
}

/* RDRAND/RDSEED (QEMU's CPU lacks both) and INVD/WBINVD in a nested guest:
 * offered in program order; RDRAND the hook leaves completes with CF = 1,
 * WBINVD as a no-op. */
static void test_nested_rdrand_invd(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE,
        0x0F, 0xC7, 0xF0,                       /* rdrand eax */
        0x9C, 0x5E,                             /* pushf; pop esi */
        0x0F, 0xC7, 0xFB,                       /* rdseed ebx */
        0x0F, 0x09,                             /* wbinvd */
        0x0F, 0x08,                             /* invd */
        0xF4 };
    struct vmdl_vm *vm = boot(code, sizeof(code));
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    kinds_n = 0;
    assert_int_equal(vmdl_vm_set_x86_event_hook(vm, take_rdseed_invd, NULL), 0);
    struct vmdl_x86_nested_ctl ctl = {.intercept = VMDL_X86_NESTED_INVD};
    assert_int_equal(vmdl_vcpu_set_x86_nested(v, &ctl), 0);
    run_to_hlt(vm);
    assert_int_equal(kinds_n, 4);
    assert_int_equal(kinds_seen[0], VMDL_X86_EVENT_RDRAND);
    assert_int_equal(kinds_seen[1], VMDL_X86_EVENT_RDSEED);
    assert_int_equal(kinds_seen[2], VMDL_X86_EVENT_WBINVD);
    assert_int_equal(kinds_seen[3], VMDL_X86_EVENT_INVD);
    assert_int_equal(reg(vm, VMDL_X86_RSI) & 1, 1);           /* RDRAND: CF */
    assert_int_equal(reg(vm, VMDL_X86_RDI), VMDL_X86_EVENT_INVD);
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + CODE + sizeof(code));
    vmdl_vm_destroy(vm);
}

static bool take_rdtscp(void *opaque, struct vmdl_vcpu *vcpu,
                        const struct vmdl_x86_event *ev)
{
    (void)opaque;
    if (ev->kind != VMDL_X86_EVENT_RDTSCP || kinds_n >= 8)
        return false;
    kinds_seen[kinds_n++] = ev->kind;
    assert_int_equal(ev->insn_len, 3);
    struct vmdl_x86_sys_state st;
    assert_int_equal(vmdl_vcpu_get_x86_sys(vcpu, &st), 0);
    st.rip += ev->insn_len;
    assert_int_equal(vmdl_vcpu_set_x86_sys(vcpu, &st), 0);
    return true;
}

/* RDTSCP and RDPID in a nested guest whose "enable RDTSCP" control is
 * clear raise #UD (SDM 26.3: both); with it set, RDTSCP (which QEMU's CPU
 * lacks and the machine completes) is offered to the hook first. */
static void test_nested_rdtscp_ud(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE,
        0x0F, 0x01, 0xF9,                       /* rdtscp -> #UD */
        0xF4 };
    struct vmdl_vm *vm = boot(code, sizeof(code));
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    struct vmdl_x86_nested_ctl ctl = {.intercept = VMDL_X86_NESTED_NO_RDTSCP};
    assert_int_equal(vmdl_vcpu_set_x86_nested(v, &ctl), 0);
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + DB_HANDLER + 8);
    assert_int_equal(reg(vm, VMDL_X86_RSI), LOAD + CODE + 12);
    vmdl_vm_destroy(vm);
    static const uint8_t rdpid[] = { PROLOGUE,
        0xF3, 0x0F, 0xC7, 0xF8,                 /* rdpid eax -> #UD */
        0xF4 };
    vm = boot(rdpid, sizeof(rdpid));
    v = vmdl_vm_vcpu(vm, 0);
    assert_int_equal(vmdl_vcpu_set_x86_nested(v, &ctl), 0);
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + DB_HANDLER + 8);
    assert_int_equal(reg(vm, VMDL_X86_RSI), LOAD + CODE + 12);
    vmdl_vm_destroy(vm);
    vm = boot(code, sizeof(code));
    v = vmdl_vm_vcpu(vm, 0);
    kinds_n = 0;
    assert_int_equal(vmdl_vm_set_x86_event_hook(vm, take_rdtscp, NULL), 0);
    ctl.intercept = 0;
    assert_int_equal(vmdl_vcpu_set_x86_nested(v, &ctl), 0);
    run_to_hlt(vm);
    assert_int_equal(kinds_n, 1);
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + CODE + sizeof(code));
    vmdl_vm_destroy(vm);
}

static struct vmdl_x86_event db_seen[4];
static unsigned db_n;

/* Take each #DB of the nested guest (a VM exit): note it, go on at the
 * next instruction with TF clear. */
static bool take_db(void *opaque, struct vmdl_vcpu *vcpu, const struct vmdl_x86_event *ev)
{
    (void)opaque;
    if (ev->kind != VMDL_X86_EVENT_EXCEPTION || ev->vector != 1 || db_n >= 4)
        return false;
    db_seen[db_n++] = *ev;
    struct vmdl_x86_sys_state st;
    assert_int_equal(vmdl_vcpu_get_x86_sys(vcpu, &st), 0);
    st.rflags &= ~(1ull << 8);
    assert_int_equal(vmdl_vcpu_set_x86_sys(vcpu, &st), 0);
    return true;
}

/* Single-step #DB in a nested guest reaches the hook with its DR6 bits
 * (BS), whether QEMU raised it after a native instruction or the machine
 * synthesized it after one it completed (WBINVD), marked so; the guest's
 * DR6 is not touched by a #DB the hook takes (a VM exit). */
static void test_nested_db_payload(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE,
        0x9C, 0x81, 0x0C, 0x24, 0x00, 0x01, 0x00, 0x00, /* pushf; or [esp], TF */
        0x9D,                                   /* popf */
        0x90,                                   /* nop: #DB after it */
        0x9C, 0x81, 0x0C, 0x24, 0x00, 0x01, 0x00, 0x00,
        0x9D,
        0x0F, 0x09,                             /* wbinvd (completed): #DB */
        0x0F, 0x21, 0xF0,                       /* mov eax, dr6 */
        0xF4 };
    struct vmdl_vm *vm = boot(code, sizeof(code));
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    db_n = 0;
    assert_int_equal(vmdl_vm_set_x86_event_hook(vm, take_db, NULL), 0);
    /* The INVD intercept brings WBINVD's with it (as the vmx glue runs
     * every L2): the machine completes the WBINVD. */
    struct vmdl_x86_nested_ctl ctl = {.intercept = VMDL_X86_NESTED_INVD};
    assert_int_equal(vmdl_vcpu_set_x86_nested(v, &ctl), 0);
    run_to_hlt(vm);
    assert_int_equal(db_n, 2);
    assert_int_equal(db_seen[0].dr6, 1u << 14);
    assert_false(db_seen[0].synthesized);
    assert_int_equal(db_seen[1].dr6, 1u << 14);
    assert_true(db_seen[1].synthesized);
    assert_int_equal(reg(vm, VMDL_X86_RAX) & (1u << 14), 0);   /* DR6.BS clear */
    vmdl_vm_destroy(vm);
}

static uint32_t intr_seen[4];
static unsigned intr_n;

static bool note_intr_state(void *opaque, struct vmdl_vcpu *vcpu,
                            const struct vmdl_x86_event *ev)
{
    (void)opaque;
    if (ev->kind != VMDL_X86_EVENT_CPUID || intr_n >= 4)
        return false;
    struct vmdl_x86_sys_state st;
    assert_int_equal(vmdl_vcpu_get_x86_sys(vcpu, &st), 0);
    intr_seen[intr_n++] = st.interruptibility;
    st.rip += 2;
    st.interruptibility = 0;    /* the completed CPUID ends the shadow */
    assert_int_equal(vmdl_vcpu_set_x86_sys(vcpu, &st), 0);
    return true;
}

/* The interruptibility state in the system state: blocking by MOV SS
 * right after MOV SS, by STI right after STI, none otherwise. */
static void test_sys_state_interruptibility(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE,
        0x66, 0x8C, 0xD0, 0x8E, 0xD0,           /* mov ax, ss; mov ss, ax */
        0x0F, 0xA2,                             /* cpuid: MOV SS blocking */
        0xFA, 0xFB,                             /* cli; sti */
        0x0F, 0xA2,                             /* cpuid: STI blocking */
        0x0F, 0xA2,                             /* cpuid: none */
        0xF4 };
    struct vmdl_vm *vm = boot(code, sizeof(code));
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    intr_n = 0;
    assert_int_equal(vmdl_vm_set_x86_event_hook(vm, note_intr_state, NULL), 0);
    assert_int_equal(vmdl_vcpu_set_x86_cpuid_events(v, true), 0);
    run_to_hlt(vm);
    assert_int_equal(intr_n, 3);
    assert_int_equal(intr_seen[0], 2);
    assert_int_equal(intr_seen[1], 1);
    assert_int_equal(intr_seen[2], 0);
    vmdl_vm_destroy(vm);
}

static uint64_t nmiw_rip[4];
static unsigned nmiw_n;
static bool nmiw_armed;

/* Wants the NMI window once; when it opens, note RIP and go to the final
 * HLT (as an L1 would clear "NMI-window exiting"). */
static bool take_nmi_window(void *opaque, struct vmdl_vcpu *vcpu,
                            const struct vmdl_x86_event *ev)
{
    (void)opaque;
    if (ev->kind != VMDL_X86_EVENT_NMI_WINDOW || !nmiw_armed)
        return false;
    if (ev->probe)
        return true;
    nmiw_armed = false;
    struct vmdl_x86_sys_state st;
    assert_int_equal(vmdl_vcpu_get_x86_sys(vcpu, &st), 0);
    if (nmiw_n < 4)
        nmiw_rip[nmiw_n++] = st.rip;
    st.rip = LOAD + CODE + 16;
    assert_int_equal(vmdl_vcpu_set_x86_sys(vcpu, &st), 0);
    return true;
}

/* NMI-window: with NMIs unblocked the event comes before the first
 * instruction; a MOV-SS shadow holds it off for one instruction. */
static void test_nested_nmi_window(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE,
        0xF4,                                   /* hlt (boot stops here) */
        0x90, 0x90, 0x90,                       /* nop x3 */
        0xF4 };                                 /* +16: hlt */
    struct vmdl_vm *vm = boot(code, sizeof(code));
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    run_to_hlt(vm);
    nmiw_n = 0;
    assert_int_equal(vmdl_vm_set_x86_event_hook(vm, take_nmi_window, NULL), 0);
    struct vmdl_x86_nested_ctl ctl = {0};
    assert_int_equal(vmdl_vcpu_set_x86_nested(v, &ctl), 0);
    static const uint32_t blocking[2] = {0, 2};
    for (unsigned i = 0; i < 2; i++) {
        struct vmdl_x86_sys_state st;
        assert_int_equal(vmdl_vcpu_get_x86_sys(v, &st), 0);
        st.activity = 0;
        st.rip = LOAD + CODE + 13;
        st.interruptibility = blocking[i];
        assert_int_equal(vmdl_vcpu_set_x86_sys(v, &st), 0);
        nmiw_armed = true;
        run_to_hlt(vm);
    }
    assert_int_equal(nmiw_n, 2);
    assert_int_equal(nmiw_rip[0], LOAD + CODE + 13);
    assert_int_equal(nmiw_rip[1], LOAD + CODE + 14);
    vmdl_vm_destroy(vm);
}

/* Bad injections are refused: reserved type 1, type 7, vector > 255,
 * instruction length > 15. */
static void test_nested_inject_refused(void **state)
{
    (void)state;
    static const uint8_t code[] = { 0xF4 };
    struct vmdl_vm *vm = boot(code, sizeof(code));
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    assert_int_equal(vmdl_vcpu_inject_x86_event(v, 1, 32, false, 0, 0), VMDL_EINVAL);
    assert_int_equal(vmdl_vcpu_inject_x86_event(v, 7, 0, false, 0, 0), VMDL_EINVAL);
    assert_int_equal(vmdl_vcpu_inject_x86_event(v, 0, 256, false, 0, 0), VMDL_EINVAL);
    assert_int_equal(vmdl_vcpu_inject_x86_event(v, 4, 32, false, 0, 16), VMDL_EINVAL);
    run_to_hlt(vm);                         /* nothing was injected */
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + CODE + 1);
    vmdl_vm_destroy(vm);
}

static unsigned triple_seen;

/* Takes a nested guest's triple fault (an L1 always exits on it): resume
 * at the HLT after the UD2. */
static bool take_triple(void *opaque, struct vmdl_vcpu *vcpu, const struct vmdl_x86_event *ev)
{
    (void)opaque;
    if (ev->kind != VMDL_X86_EVENT_TRIPLE_FAULT)
        return false;
    triple_seen++;
    struct vmdl_x86_sys_state st;
    assert_int_equal(vmdl_vcpu_get_x86_sys(vcpu, &st), 0);
    assert_int_equal(st.rip, LOAD + CODE + 20);           /* at the UD2 */
    st.rip += 2;
    assert_int_equal(vmdl_vcpu_set_x86_sys(vcpu, &st), 0);
    return true;
}

/* A nested guest whose #UD cannot be delivered (IDT limit 0: #GP, then
 * #DF, then a fault delivering #DF) offers a triple fault to the event
 * hook (VM exit reason 2) instead of stopping the VM; a guest that is not
 * nested still shuts down. */
static void test_nested_triple_fault(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE,
        0x6A, 0x00, 0x6A, 0x00,                 /* push 0; push 0 */
        0x0F, 0x01, 0x1C, 0x24,                 /* lidt [esp]: limit 0 */
        0x0F, 0x0B,                             /* ud2 */
        0xF4 };
    struct vmdl_vm *vm = boot(code, sizeof(code));
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    triple_seen = 0;
    assert_int_equal(vmdl_vm_set_x86_event_hook(vm, take_triple, NULL), 0);
    struct vmdl_x86_nested_ctl ctl = {0};
    assert_int_equal(vmdl_vcpu_set_x86_nested(v, &ctl), 0);
    run_to_hlt(vm);
    assert_int_equal(triple_seen, 1);
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + CODE + sizeof(code));
    vmdl_vm_destroy(vm);
    vm = boot(code, sizeof(code));
    assert_int_equal(vmdl_vm_set_x86_event_hook(vm, take_triple, NULL), 0);
    struct vmdl_exit e;
    assert_int_not_equal(vmdl_vm_run(vm, &e) == 0 && e.reason == VMDL_EXIT_HLT, 1);
    assert_int_equal(triple_seen, 1);
    vmdl_vm_destroy(vm);
}

/* vmdl_vcpu_x86_step_next: pending until a run step has run (one
 * instruction, then the loop regains control; the nested example's MTF
 * exit checks the stop itself), refused off the hosted vCPU. */
static void test_step_next(void **state)
{
    (void)state;
    static const uint8_t code[] = { 0x90, 0x90, 0xF4 };
    struct vmdl_vm *vm = boot(code, sizeof(code));
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    assert_false(vmdl_vcpu_x86_step_pending(v));
    assert_int_equal(vmdl_vcpu_x86_step_next(v, true), 0);
    assert_true(vmdl_vcpu_x86_step_pending(v));
    assert_int_equal(vmdl_vcpu_x86_step_next(v, false), 0);
    assert_false(vmdl_vcpu_x86_step_pending(v));
    assert_int_equal(vmdl_vcpu_x86_step_next(v, true), 0);
    run_to_hlt(vm);
    assert_false(vmdl_vcpu_x86_step_pending(v));
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + CODE + sizeof(code));
    assert_int_equal(vmdl_vcpu_x86_step_next(NULL, true), VMDL_EINVAL);
    assert_false(vmdl_vcpu_x86_step_pending(NULL));
    vmdl_vm_destroy(vm);
    struct vmdl_vm_config cfg = { .arch = VMDL_ARCH_X86_64, .ram_size = 1 << 20 };
    assert_int_equal(vmdl_vm_create(&cfg, &vm), 0);
    assert_int_equal(vmdl_vcpu_x86_step_next(vmdl_vm_vcpu(vm, 0), true), VMDL_ENOTSUP);
    vmdl_vm_destroy(vm);
}

/* ---- the second stage (vmdl_vcpu_set_x86_npt) ---- */

#define NPT_PD 0x200000u        /* the guest's page directory (4 MiB pages) */
static unsigned npf_count, npf_walks;
static struct vmdl_x86_npf npf_last;
static struct vmdl_x86_npf npf_pdpt;   /* the last one at 0x300000 (PAE's PDPT) */
static bool npf_refuse;

/* Identity, except GPA page 0x800000 -> 0x900000; 0x801000 is read-only
 * until a write faults on it. */
static bool take_npf(void *opaque, struct vmdl_vcpu *vcpu, const struct vmdl_x86_event *ev)
{
    (void)opaque;
    if (ev->kind != VMDL_X86_EVENT_NPF || npf_refuse)
        return false;
    npf_count++;
    npf_walks += ev->npf.walk;
    uint64_t page = ev->npf.gpa & ~0xFFFull;
    if (page == 0x800000 || page == 0x801000)
        npf_last = ev->npf;
    if (page == 0x300000)
        npf_pdpt = ev->npf;
    uint64_t pa = page == 0x800000 ? 0x900000 : page;
    unsigned prot = VMDL_NPT_EXEC | (page == 0x801000 && !ev->npf.write ? 0 : VMDL_NPT_WRITE);
    if (vmdl_vcpu_x86_npt_map(vcpu, page, pa, prot))
        fail_msg("map 0x%llx: %s", (unsigned long long)page, vmdl_last_error());
    return true;
}

/* A page directory at pd_frame mapping 16 MiB 1:1 with 4 MiB pages, and
 * the words the remapped page (0x800000 -> 0x900000) reads on both sides. */
static void npt_memory(struct vmdl_vm *vm, uint32_t pd_frame)
{
    const struct vmdl_guest_mem *m = vmdl_vm_guest_mem(vm);
    for (uint32_t i = 0; i < 4; i++) {
        uint32_t pde = (i << 22) | 0x87;
        assert_int_equal(vmdl_guest_write(m, pd_frame + 4 * i, &pde, 4), 0);
    }
    uint32_t v1 = 0x55, v2 = 0x11223344;
    assert_int_equal(vmdl_guest_write(m, 0x800000, &v1, 4), 0);
    assert_int_equal(vmdl_guest_write(m, 0x900000, &v2, 4), 0);
}

static struct vmdl_vm *paged_guest(const uint8_t *code, size_t n)
{
    struct vmdl_vm *vm = boot(code, n);
    run_to_hlt(vm);
    npt_memory(vm, NPT_PD);
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    struct vmdl_x86_sys_state st;
    assert_int_equal(vmdl_vcpu_get_x86_sys(v, &st), 0);
    st.cr3 = NPT_PD;
    st.cr4 |= 0x10;                             /* PSE */
    st.cr0 |= 0x80000000u;                      /* PG */
    st.rsp = LOAD + 0x8000;
    st.activity = 0;                            /* run on from the HLT */
    assert_int_equal(vmdl_vcpu_set_x86_sys(v, &st), 0);
    npf_count = npf_walks = 0;
    npf_refuse = false;
    memset(&npf_last, 0, sizeof(npf_last));
    memset(&npf_pdpt, 0, sizeof(npf_pdpt));
    assert_int_equal(vmdl_vm_set_x86_event_hook(vm, take_npf, NULL), 0);
    assert_int_equal(vmdl_vcpu_set_x86_npt(v, true), 0);
    return vm;
}

/* A paged guest's accesses go through the second stage: a remapped page
 * reads its new frame, the guest's page-directory accesses fault as walks,
 * a write to a read-only page faults as a write with its linear address. */
static void test_npt_remaps_and_faults(void **state)
{
    (void)state;
    /* hlt; (+8) mov eax, [0x800000]; mov dword [0x801010], 0x77; hlt */
    static const uint8_t code[] = { 0xF4, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90,
        0xA1, 0x00, 0x00, 0x80, 0x00,
        0xC7, 0x05, 0x10, 0x10, 0x80, 0x00, 0x77, 0x00, 0x00, 0x00, 0xF4 };
    struct vmdl_vm *vm = paged_guest(code, sizeof(code));
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RAX), 0x11223344);
    assert_true(npf_walks >= 1);                /* the PD page, while walking */
    assert_true(npf_last.write);
    assert_false(npf_last.walk);
    assert_true(npf_last.gla_valid);
    assert_int_equal(npf_last.gla, 0x801010);
    assert_int_equal(npf_last.gpa, 0x801010);
    uint32_t w = 0;
    assert_int_equal(vmdl_guest_read(vmdl_vm_guest_mem(vm), 0x801010, &w, 4), 0);
    assert_int_equal(w, 0x77);
    /* Flushed: the next run faults again; with nobody taking it, the run
     * stops with an error instead of running on. */
    assert_int_equal(vmdl_vcpu_x86_npt_flush(v), 0);
    struct vmdl_x86_sys_state st;
    assert_int_equal(vmdl_vcpu_get_x86_sys(v, &st), 0);
    st.rip = LOAD + CODE + 8;
    st.activity = 0;
    assert_int_equal(vmdl_vcpu_set_x86_sys(v, &st), 0);
    npf_refuse = true;
    struct vmdl_exit e;
    assert_int_not_equal(vmdl_vm_run(vm, &e) == 0 && e.reason == VMDL_EXIT_HLT, 1);
    vmdl_vm_destroy(vm);
}

/* The page at 0xA00000 is never mapped: each access is described (MOV,
 * size, stored value, length) and a MOV is completed without memory, as
 * the vmx glue does for the APIC-access page; anything else is skipped. */
static struct vmdl_x86_npf dev_npf[8];
static unsigned dev_n;
static bool take_dev_npf(void *opaque, struct vmdl_vcpu *vcpu, const struct vmdl_x86_event *ev)
{
    if (ev->kind != VMDL_X86_EVENT_NPF || (ev->npf.gpa & ~0xFFFull) != 0xA00000)
        return take_npf(opaque, vcpu, ev);
    if (dev_n < 8)
        dev_npf[dev_n++] = ev->npf;
    if (ev->npf.mov)
        return !vmdl_vcpu_x86_npf_complete_mov(vcpu, 0xCAFEBABEull);
    assert_int_equal(vmdl_vcpu_x86_npf_complete_mov(vcpu, 0), VMDL_EINVAL);
    uint64_t rip = 0;
    assert_int_equal(vmdl_vcpu_get_reg(vcpu, VMDL_X86_RIP, &rip), 0);
    return !vmdl_vcpu_set_reg(vcpu, VMDL_X86_RIP, rip + ev->npf.insn_len);
}

static void test_npf_describes_and_completes_mov(void **state)
{
    (void)state;
    static const uint8_t code[] = { 0xF4, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90,
        0xBB, 0x44, 0x33, 0x22, 0x11,               /* mov ebx, 0x11223344 */
        0x8B, 0x05, 0x10, 0x00, 0xA0, 0x00,         /* mov eax, [0xA00010] */
        0xC7, 0x05, 0x20, 0x00, 0xA0, 0x00, 0x34, 0x12, 0x00, 0x00, /* mov dword [0xA00020], 0x1234 */
        0x88, 0x1D, 0x30, 0x00, 0xA0, 0x00,         /* mov [0xA00030], bl */
        0x0F, 0xB7, 0x0D, 0x40, 0x00, 0xA0, 0x00,   /* movzx ecx, word [0xA00040] */
        0x01, 0x05, 0x50, 0x00, 0xA0, 0x00,         /* add [0xA00050], eax */
        0xF4 };
    struct vmdl_vm *vm = paged_guest(code, sizeof(code));
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    dev_n = 0;
    assert_int_equal(vmdl_vm_set_x86_event_hook(vm, take_dev_npf, NULL), 0);
    run_to_hlt(vm);
    assert_int_equal(dev_n, 5);
    assert_int_equal(reg(vm, VMDL_X86_RAX), 0xCAFEBABE);
    assert_int_equal(reg(vm, VMDL_X86_RCX), 0xBABE);
    assert_true(dev_npf[0].mov && !dev_npf[0].write);
    assert_int_equal(dev_npf[0].size, 4);
    assert_int_equal(dev_npf[0].insn_len, 6);
    assert_int_equal(dev_npf[0].gpa, 0xA00010);
    assert_true(dev_npf[1].mov && dev_npf[1].write);
    assert_int_equal(dev_npf[1].store, 0x1234);
    assert_int_equal(dev_npf[1].insn_len, 10);
    assert_true(dev_npf[2].mov && dev_npf[2].write);
    assert_int_equal(dev_npf[2].size, 1);
    assert_int_equal(dev_npf[2].store, 0x44);
    assert_true(dev_npf[3].mov && !dev_npf[3].write);
    assert_int_equal(dev_npf[3].size, 2);
    assert_false(dev_npf[4].mov);                   /* read-modify-write */
    assert_int_equal(dev_npf[4].insn_len, 6);
    for (unsigned i = 0; i < dev_n; i++)
        assert_false(dev_npf[i].delivery);
    uint32_t w = 0;                                 /* nothing reached memory */
    assert_int_equal(vmdl_guest_read(vmdl_vm_guest_mem(vm), 0xA00020, &w, 4), 0);
    assert_int_equal(w, 0);
    assert_int_equal(vmdl_vcpu_x86_npf_complete_mov(NULL, 0), VMDL_EINVAL);
    (void)v;
    vmdl_vm_destroy(vm);
}

/*
 * Paging turned on while the second stage is on (an L2 under EPT in
 * unrestricted-guest mode, booting): the guest starts in protected mode
 * without paging under the second stage, loads CR3, sets CR4.PSE and
 * CR0.PG, reloads its GDT (one instruction run alone, a descriptor-table
 * load) and reads the remapped page.  Its page directory is at another
 * host frame than its guest-physical address: only a walk through the
 * second stage finds it.  Until the fix, the entry after the GDT load
 * walked the page of that load with the VMCB's CR0 (paging on) and the
 * host's CR3 (0) and recorded an NPF that no access made.
 */
#define PD_FRAME 0xA00000u
static bool take_shifted_pd(void *opaque, struct vmdl_vcpu *vcpu, const struct vmdl_x86_event *ev)
{
    if (ev->kind == VMDL_X86_EVENT_NPF && (ev->npf.gpa & ~0xFFFull) == NPT_PD) {
        npf_count++;
        npf_walks += ev->npf.walk;
        return !vmdl_vcpu_x86_npt_map(vcpu, NPT_PD, PD_FRAME, VMDL_NPT_WRITE);
    }
    return take_npf(opaque, vcpu, ev);
}

/* Load CR3 (NPT_PD), set cr4_bit (PSE or PAE), turn paging on, reload the
 * GDT, read the remapped word: to the HLT. */
static struct vmdl_vm *paging_on_run(uint8_t cr4_bit, void (*tables)(struct vmdl_vm *))
{
    uint8_t code[] = {
        0xB8, 0x00, 0x00, 0x20, 0x00,             /* mov eax, NPT_PD */
        0x0F, 0x22, 0xD8,                         /* mov cr3, eax */
        0x0F, 0x20, 0xE0, 0x83, 0xC8, cr4_bit,    /* mov eax, cr4; or eax, cr4_bit */
        0x0F, 0x22, 0xE0,                         /* mov cr4, eax */
        0x0F, 0x20, 0xC0, 0x0D, 0x00, 0x00, 0x00, 0x80, /* mov eax, cr0; or eax, PG */
        0x0F, 0x22, 0xC0,                         /* mov cr0, eax */
        0x0F, 0x01, 0x05, 0xC0, 0x03, 0x10, 0x00, /* sgdt [LOAD + DATA] */
        0x0F, 0x01, 0x15, 0xC0, 0x03, 0x10, 0x00, /* lgdt [LOAD + DATA] */
        0xA1, 0x00, 0x00, 0x80, 0x00,             /* mov eax, [0x800000] */
        0xF4 };
    struct vmdl_vm *vm = boot(code, sizeof(code));
    tables(vm);
    npf_count = npf_walks = 0;
    npf_refuse = false;
    assert_int_equal(vmdl_vm_set_x86_event_hook(vm, take_shifted_pd, NULL), 0);
    assert_int_equal(vmdl_vcpu_set_x86_npt(vmdl_vm_vcpu(vm, 0), true), 0);
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + CODE + sizeof(code));
    assert_int_equal(reg(vm, VMDL_X86_RAX), 0x11223344);
    assert_true(reg(vm, VMDL_X86_CR0) & 0x80000000u);
    return vm;
}

static void pse_tables(struct vmdl_vm *vm)
{
    npt_memory(vm, PD_FRAME);
}

static void test_npt_paging_turned_on_32bit(void **state)
{
    (void)state;
    struct vmdl_vm *vm = paging_on_run(0x10, pse_tables);
    assert_int_equal(npf_walks, 1);             /* the directory, once */
    uint32_t pde = 0;                           /* its accessed flag, there */
    assert_int_equal(vmdl_guest_read(vmdl_vm_guest_mem(vm), PD_FRAME + 8, &pde, 4), 0);
    assert_true(pde & 0x20);
    vmdl_vm_destroy(vm);
}

/* PAE paging (no long mode): the page-directory-pointer table in the page
 * at NPT_PD (host frame PD_FRAME), its first entry pointing to a directory
 * of 2 MiB pages at 0x201000 (1:1 in the second stage). */
#define PAE_PD 0x201000u
static void pae_tables(struct vmdl_vm *vm)
{
    const struct vmdl_guest_mem *m = vmdl_vm_guest_mem(vm);
    npt_memory(vm, PD_FRAME);                   /* the words; the PDEs are overwritten */
    uint64_t zero[512] = {0}, pdpte = PAE_PD | 1;
    assert_int_equal(vmdl_guest_write(m, PD_FRAME, zero, sizeof(zero)), 0);
    assert_int_equal(vmdl_guest_write(m, PD_FRAME, &pdpte, 8), 0);
    for (uint64_t i = 0; i < 8; i++) {          /* 16 MiB 1:1 */
        uint64_t pde = (i << 21) | 0x83;
        assert_int_equal(vmdl_guest_write(m, PAE_PD + 8 * i, &pde, 8), 0);
    }
}

static void test_npt_paging_turned_on_pae(void **state)
{
    (void)state;
    struct vmdl_vm *vm = paging_on_run(0x20, pae_tables);
    assert_false(reg(vm, VMDL_X86_EFER) & 0x400);         /* not IA-32e */
    assert_int_equal(npf_walks, 2);             /* the PDPT's page, the directory's */
    uint64_t pde = 0;                           /* PDE 4 (0x800000): accessed */
    assert_int_equal(vmdl_guest_read(vmdl_vm_guest_mem(vm), PAE_PD + 32, &pde, 8), 0);
    assert_true(pde & 0x20);
    vmdl_vm_destroy(vm);
}

/*
 * A second-stage change after an instruction run alone: the stepped
 * instruction (jmp to another page, which the second stage does not map
 * yet) runs by itself, the fetch at its target faults, and the hook maps
 * the target and takes every right from the page of the jmp.  The guest
 * never fetches that page again: no NPF for it may follow.  Unicorn's
 * next run without an instruction count used to look the stepped block's
 * page up first (dropping its counting hook) and recorded the refusal as
 * an NPF, which the target's fill then cleared: the run ended with
 * "second-stage fault without a refused access".
 */
#define STEP_TARGET 0x300000u
static unsigned code_page_npfs;
static bool take_and_revoke(void *opaque, struct vmdl_vcpu *vcpu, const struct vmdl_x86_event *ev)
{
    if (ev->kind != VMDL_X86_EVENT_NPF)
        return false;
    uint64_t page = ev->npf.gpa & ~0xFFFull;
    if (page == LOAD)
        code_page_npfs++;
    if (page != STEP_TARGET)
        return take_npf(opaque, vcpu, ev);
    return !vmdl_vcpu_x86_npt_map(vcpu, STEP_TARGET, STEP_TARGET, VMDL_NPT_EXEC) &&
           !vmdl_vcpu_x86_npt_map(vcpu, LOAD, LOAD, 0);
}

static void test_npt_change_after_step_no_stray_fault(void **state)
{
    (void)state;
    /* hlt; mov eax, STEP_TARGET; hlt; jmp eax (there: mov ebx, 0x77; hlt) */
    static const uint8_t code[] = { 0xF4, 0xB8, 0x00, 0x00, 0x30, 0x00, 0xF4, 0xFF, 0xE0 };
    static const uint8_t there[] = { 0xBB, 0x77, 0x00, 0x00, 0x00, 0xF4 };
    struct vmdl_vm *vm = paged_guest(code, sizeof(code));
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    assert_int_equal(vmdl_guest_write(vmdl_vm_guest_mem(vm), STEP_TARGET, there,
                                      sizeof(there)), 0);
    run_to_hlt(vm);                             /* mapped the code page */
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + CODE + 7);
    struct vmdl_x86_sys_state st;
    assert_int_equal(vmdl_vcpu_get_x86_sys(v, &st), 0);
    st.activity = 0;
    assert_int_equal(vmdl_vcpu_set_x86_sys(v, &st), 0);
    code_page_npfs = 0;
    assert_int_equal(vmdl_vm_set_x86_event_hook(vm, take_and_revoke, NULL), 0);
    assert_int_equal(vmdl_vcpu_x86_step_next(v, true), 0);
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RBX), 0x77);
    assert_int_equal(reg(vm, VMDL_X86_RIP), STEP_TARGET + sizeof(there));
    assert_int_equal(code_page_npfs, 0);
    vmdl_vm_destroy(vm);
}

/* Turned off, the same guest reads its own page again. */
static void test_npt_off_is_identity(void **state)
{
    (void)state;
    static const uint8_t code[] = { 0xF4, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90,
        0xA1, 0x00, 0x00, 0x80, 0x00, 0xF4 };
    struct vmdl_vm *vm = paged_guest(code, sizeof(code));
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    assert_int_equal(vmdl_vcpu_set_x86_npt(v, false), 0);
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RAX), 0x55);
    assert_int_equal(npf_count, 0);
    assert_int_equal(vmdl_vcpu_x86_npt_map(v, 1ull << 48, 0, 0), VMDL_EINVAL);
    assert_int_equal(vmdl_vcpu_x86_npt_map(v, 0, 1ull << 52, 0), VMDL_EINVAL);
    assert_int_equal(vmdl_vcpu_x86_npt_map(v, 0, 0, 8), VMDL_EINVAL);       /* unknown right */
    vmdl_vm_destroy(vm);
}

/* ---- PAE's PDPTE registers (vmdl_vcpu_set_x86_pdptes) ---- */

/*
 * PAE tables: CR3's (0x300000) directory maps 16 MiB identity with 2 MiB
 * pages except the alias window at 0xC00000 (not present); the directory
 * of the registers (0x302000) maps linear 0x400000 to 0x600000 and the
 * window to the low 2 MiB (the code).  The words at 0x400000 and 0x600000
 * tell which was used.
 */
#define PAE_CR3 0x300000u
#define PAE_ALIAS 0xC00000u
static void pdpte_tables(struct vmdl_vm *vm, uint64_t regs[4])
{
    const struct vmdl_guest_mem *m = vmdl_vm_guest_mem(vm);
    uint64_t pdpt = 0x301000 | 1;
    assert_int_equal(vmdl_guest_write(m, PAE_CR3, &pdpt, 8), 0);
    for (uint64_t j = 0; j < 8; j++) {
        uint64_t a = j == 6 ? 0 : (j << 21) | 0x83;
        uint64_t b = (j == 2 ? 0x600000 : j == 6 ? 0 : j << 21) | 0x83;
        assert_int_equal(vmdl_guest_write(m, 0x301000 + 8 * j, &a, 8), 0);
        assert_int_equal(vmdl_guest_write(m, 0x302000 + 8 * j, &b, 8), 0);
    }
    uint32_t own = 0xAAAA0000, other = 0xBBBB0000;
    assert_int_equal(vmdl_guest_write(m, 0x400000, &own, 4), 0);
    assert_int_equal(vmdl_guest_write(m, 0x600000, &other, 4), 0);
    regs[0] = 0x302000 | 1;
    regs[1] = regs[2] = regs[3] = 0;
}

/* Into PAE paging with CR3 at the table above (CR4.PGE as asked). */
static void enter_pae(struct vmdl_vcpu *v, bool pge)
{
    struct vmdl_x86_sys_state st;
    assert_int_equal(vmdl_vcpu_get_x86_sys(v, &st), 0);
    st.cr3 = PAE_CR3;
    st.cr4 = (st.cr4 | 0x20) & ~0x80ull;
    if (pge)
        st.cr4 |= 0x80;
    assert_int_equal(vmdl_vcpu_set_x86_sys(v, &st), 0);
}

/*
 * The guest reads 0x400000 through the registers, runs a MOV to CR4 (no
 * paging bit) from the alias window that only the registers map (the
 * fetch and the machine's decode of the intercepted write both walk
 * through them), reads CR3 (its own value), reloads CR3 (the registers
 * from the table at it: SDM 4.4.1) and reads 0x400000 again.  With the
 * second stage on (a nested guest under EPT), where the reload's read of
 * the table, never walked before, is an NPF of a paging-structure access
 * without a linear address (SDM 28.2.1), and without it.
 */
static void pdpte_until_cr3_write(bool second_stage)
{
    enum { ALIAS_AT = 24, BACK = 43 };
    uint32_t alias = PAE_ALIAS + LOAD + CODE + ALIAS_AT, back = LOAD + CODE + BACK;
    const uint8_t code[] = { 0xF4, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90,
        0xA1, 0x00, 0x00, 0x40, 0x00,                           /* mov eax, [0x400000] */
        0xBA, (uint8_t)alias, (uint8_t)(alias >> 8), (uint8_t)(alias >> 16),
        (uint8_t)(alias >> 24), 0xFF, 0xE2,                     /* mov edx, alias; jmp edx */
        0x90, 0x90, 0x90, 0x90,
        /* ALIAS_AT: mov ecx, cr4; or ecx, OSFXSR; mov cr4, ecx */
        0x0F, 0x20, 0xE1, 0x81, 0xC9, 0x00, 0x02, 0x00, 0x00, 0x0F, 0x22, 0xE1,
        0xBA, (uint8_t)back, (uint8_t)(back >> 8), (uint8_t)(back >> 16),
        (uint8_t)(back >> 24), 0xFF, 0xE2,                      /* mov edx, back; jmp edx */
        /* BACK: mov ecx, cr3; mov cr3, ecx; mov ebx, [0x400000]; mov esi, cr4 */
        0x0F, 0x20, 0xD9, 0x0F, 0x22, 0xD9, 0x8B, 0x1D, 0x00, 0x00, 0x40, 0x00,
        0x0F, 0x20, 0xE6, 0xF4 };
    struct vmdl_vm *vm = paged_guest(code, sizeof(code));
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    if (!second_stage)
        assert_int_equal(vmdl_vcpu_set_x86_npt(v, false), 0);
    uint64_t regs[4], got[4];
    pdpte_tables(vm, regs);
    /* Not in PAE paging yet (32-bit paging with PSE): refused. */
    assert_int_equal(vmdl_vcpu_set_x86_pdptes(v, regs), VMDL_ESTATE);
    assert_false(vmdl_vcpu_x86_pdptes(v, got));
    enter_pae(v, false);
    assert_false(vmdl_vcpu_x86_pdptes(v, got));
    assert_int_equal(vmdl_vcpu_set_x86_pdptes(v, regs), 0);
    assert_true(vmdl_vcpu_x86_pdptes(v, got));
    assert_memory_equal(got, regs, sizeof(got));
    assert_int_equal(reg(vm, VMDL_X86_CR3), PAE_CR3);      /* CR3 unchanged */
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RAX), 0xBBBB0000);   /* the registers */
    assert_int_equal(reg(vm, VMDL_X86_RCX), PAE_CR3);
    assert_int_equal(reg(vm, VMDL_X86_RBX), 0xAAAA0000);   /* CR3's table */
    assert_true(reg(vm, VMDL_X86_RSI) & 0x200);            /* the MOV to CR4 ran */
    assert_true(vmdl_vcpu_x86_pdptes(v, got));              /* reloaded */
    assert_int_equal(got[0], 0x301001);
    assert_int_equal(got[1] | got[2] | got[3], 0);
    assert_int_equal(reg(vm, VMDL_X86_CR3), PAE_CR3);
    if (second_stage) {
        assert_int_equal(npf_pdpt.gpa, PAE_CR3);
        assert_true(npf_pdpt.walk && !npf_pdpt.write && !npf_pdpt.fetch);
        assert_false(npf_pdpt.gla_valid);
    }
    vmdl_vm_destroy(vm);
}

static void test_pdpte_registers_until_cr3_write(void **state)
{
    (void)state;
    pdpte_until_cr3_write(true);
}

static void test_pdpte_registers_without_second_stage(void **state)
{
    (void)state;
    pdpte_until_cr3_write(false);
}

/* The code run to its HLT in PAE paging (CR4.PGE as asked) with the
 * registers of pdpte_tables in force from the start. */
static struct vmdl_vm *pae_run(const uint8_t *code, size_t n, bool pge, uint64_t regs[4])
{
    struct vmdl_vm *vm = paged_guest(code, n);
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    pdpte_tables(vm, regs);
    enter_pae(v, pge);
    assert_int_equal(vmdl_vcpu_set_x86_pdptes(v, regs), 0);
    run_to_hlt(vm);
    return vm;
}

/* The PDPTE registers are part of a hosted vCPU's checkpoint: a fresh VM
 * restored from it reads 0x400000 through the registers, not through the
 * table at CR3 (which maps 0xAAAA0000 there). */
static void test_pdpte_registers_survive_checkpoint(void **state)
{
    (void)state;
    static const uint8_t code[] = { 0xF4, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90,
        0xA1, 0x00, 0x00, 0x40, 0x00,                           /* mov eax, [0x400000] */
        0xF4 };
    uint64_t regs[4], got[4];
    struct vmdl_vm *vm = paged_guest(code, sizeof(code));
    pdpte_tables(vm, regs);
    enter_pae(vmdl_vm_vcpu(vm, 0), false);
    assert_int_equal(vmdl_vcpu_set_x86_pdptes(vmdl_vm_vcpu(vm, 0), regs), 0);
    uint8_t *blob = NULL;
    size_t len = 0;
    assert_int_equal(vmdl_vm_checkpoint_save(vm, &blob, &len), 0);
    vmdl_vm_destroy(vm);
    struct vmdl_vm *again = paged_guest(code, sizeof(code));
    assert_int_equal(vmdl_vm_checkpoint_restore(again, blob, len), 0);
    free(blob);
    assert_true(vmdl_vcpu_x86_pdptes(vmdl_vm_vcpu(again, 0), got));
    assert_memory_equal(got, regs, sizeof(got));
    run_to_hlt(again);
    assert_int_equal(reg(again, VMDL_X86_RAX), 0xBBBB0000);   /* the registers */
    vmdl_vm_destroy(again);
}

/* A write of CR4.PGE (a paging bit) reloads the PDPTEs from CR3's table;
 * a new state ends them; NULL turns them off; bad calls refused. */
static void test_pdpte_registers_end_at_cr4_paging_write(void **state)
{
    (void)state;
    static const uint8_t code[] = { 0xF4, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90,
        0x0F, 0x20, 0xE1, 0x81, 0xC9, 0x80, 0x00, 0x00, 0x00,   /* mov ecx, cr4; or ecx, PGE */
        0x0F, 0x22, 0xE1,                                       /* mov cr4, ecx */
        0xA1, 0x00, 0x00, 0x40, 0x00,                           /* mov eax, [0x400000] */
        0xF4 };
    uint64_t regs[4], got[4];
    struct vmdl_vm *vm = pae_run(code, sizeof(code), false, regs);
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    assert_int_equal(reg(vm, VMDL_X86_RAX), 0xAAAA0000);
    assert_true(vmdl_vcpu_x86_pdptes(v, got));
    assert_int_equal(got[0], 0x301001);
    /* A new state (a VM entry or exit) ends them. */
    struct vmdl_x86_sys_state st;
    assert_int_equal(vmdl_vcpu_get_x86_sys(v, &st), 0);
    assert_int_equal(vmdl_vcpu_set_x86_sys(v, &st), 0);
    assert_false(vmdl_vcpu_x86_pdptes(v, got));
    assert_int_equal(vmdl_vcpu_set_x86_pdptes(v, regs), 0);
    assert_int_equal(vmdl_vcpu_set_x86_pdptes(v, NULL), 0);
    assert_false(vmdl_vcpu_x86_pdptes(v, got));
    assert_int_equal(vmdl_vcpu_set_x86_pdptes(NULL, regs), VMDL_EINVAL);
    assert_false(vmdl_vcpu_x86_pdptes(NULL, got));
    vmdl_vm_destroy(vm);
}

/* A reload from a table with a reserved bit in a present entry (bit 1 of
 * PDPTE 1) is #GP (SDM 4.4.1) at the MOV to CR3, which changes nothing:
 * CR3 and the registers stay; the #GP handler gets EIP of the MOV. */
static void test_pdpte_reload_reserved_bit_is_gp(void **state)
{
    (void)state;
    static const uint8_t code[] = { 0xF4, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90,
        PROLOGUE,
        0x0F, 0x20, 0xD9, 0xBF, 0x11, 0x11, 0x11, 0x11,          /* mov ecx, cr3; mov edi, .. */
        0x0F, 0x22, 0xD9,                                       /* mov cr3, ecx: #GP */
        0xF4 };
    struct vmdl_vm *vm = paged_guest(code, sizeof(code));
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    uint64_t regs[4], got[4];
    pdpte_tables(vm, regs);
    uint64_t bad = 0x301000 | 3;
    assert_int_equal(vmdl_guest_write(vmdl_vm_guest_mem(vm), PAE_CR3 + 8, &bad, 8), 0);
    enter_pae(v, false);
    assert_int_equal(vmdl_vcpu_set_x86_pdptes(v, regs), 0);
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RSI), LOAD + CODE + 8 + 12 + 8);
    assert_int_equal(reg(vm, VMDL_X86_RDI), 0);             /* the error code */
    assert_int_equal(reg(vm, VMDL_X86_CR3), PAE_CR3);
    assert_true(vmdl_vcpu_x86_pdptes(v, got));
    assert_memory_equal(got, regs, sizeof(got));
    vmdl_vm_destroy(vm);
}

/* Paging turned off ends them (nothing to walk); the guest's read is
 * physical then. */
static void test_pdpte_registers_end_with_paging(void **state)
{
    (void)state;
    static const uint8_t code[] = { 0xF4, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90,
        0x0F, 0x20, 0xC1, 0x81, 0xE1, 0xFF, 0xFF, 0xFF, 0x7F,   /* mov ecx, cr0; and ecx, ~PG */
        0x0F, 0x22, 0xC1,                                       /* mov cr0, ecx */
        0xA1, 0x00, 0x00, 0x60, 0x00,                           /* mov eax, [0x600000] */
        0xF4 };
    uint64_t regs[4], got[4];
    struct vmdl_vm *vm = pae_run(code, sizeof(code), false, regs);
    assert_int_equal(reg(vm, VMDL_X86_RAX), 0xBBBB0000);
    assert_false(reg(vm, VMDL_X86_CR0) & 0x80000000u);
    assert_false(vmdl_vcpu_x86_pdptes(vmdl_vm_vcpu(vm, 0), got));
    vmdl_vm_destroy(vm);
}

/* A CR4 write that changes no paging bit (OSXMMEXCPT) keeps them, and so
 * does a CR0 write of a bit that is not CD, NW or PG (MP); the guest reads
 * through the registers after both. */
static void test_pdpte_registers_kept_by_other_cr_writes(void **state)
{
    (void)state;
    static const uint8_t code[] = { 0xF4, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90,
        0x0F, 0x20, 0xE1, 0x81, 0xC9, 0x00, 0x04, 0x00, 0x00,   /* mov ecx, cr4; or ecx, 0x400 */
        0x0F, 0x22, 0xE1,                                       /* mov cr4, ecx */
        0x0F, 0x20, 0xC1, 0x83, 0xC9, 0x02,                     /* mov ecx, cr0; or ecx, MP */
        0x0F, 0x22, 0xC1,                                       /* mov cr0, ecx */
        0xA1, 0x00, 0x00, 0x40, 0x00,                           /* mov eax, [0x400000] */
        0xF4 };
    uint64_t regs[4], got[4];
    struct vmdl_vm *vm = pae_run(code, sizeof(code), true, regs);
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    assert_int_equal(reg(vm, VMDL_X86_RAX), 0xBBBB0000);
    assert_true(reg(vm, VMDL_X86_CR0) & 2);
    assert_true(vmdl_vcpu_x86_pdptes(v, got));
    assert_memory_equal(got, regs, sizeof(got));
    vmdl_vm_destroy(vm);
}

static void test_sys_state_refused_off_hosted(void **state)
{
    (void)state;
    struct vmdl_vm_config cfg = { .arch = VMDL_ARCH_X86_64, .ram_size = 16 << 20 };
    struct vmdl_vm *vm;
    assert_int_equal(vmdl_vm_create(&cfg, &vm), 0);
    struct vmdl_x86_sys_state st;
    assert_int_equal(vmdl_vcpu_get_x86_sys(vmdl_vm_vcpu(vm, 0), &st), VMDL_ENOTSUP);
    assert_int_equal(vmdl_vcpu_set_x86_sys(vmdl_vm_vcpu(vm, 0), &st), VMDL_ENOTSUP);
    assert_int_equal(vmdl_vcpu_set_x86_cpuid_events(vmdl_vm_vcpu(vm, 0), true),
                     VMDL_ENOTSUP);
    struct vmdl_x86_nested_ctl ctl = {0};
    assert_int_equal(vmdl_vcpu_set_x86_nested(vmdl_vm_vcpu(vm, 0), &ctl), VMDL_ENOTSUP);
    assert_int_equal(vmdl_vcpu_inject_x86_event(vmdl_vm_vcpu(vm, 0), 0, 32, false, 0, 0),
                     VMDL_ENOTSUP);
    uint64_t regs[4] = {0};
    assert_int_equal(vmdl_vcpu_set_x86_pdptes(vmdl_vm_vcpu(vm, 0), regs), VMDL_ENOTSUP);
    assert_false(vmdl_vcpu_x86_pdptes(vmdl_vm_vcpu(vm, 0), regs));
    vmdl_vm_destroy(vm);
    cfg.arch = VMDL_ARCH_ARM64;
    assert_int_equal(vmdl_vm_create(&cfg, &vm), 0);
    assert_int_equal(vmdl_vm_set_x86_event_hook(vm, take_cpuid, NULL), VMDL_EINVAL);
    vmdl_vm_destroy(vm);
}

/* x2APIC on, APIC software-enabled (SVR 0x1FF), EBX/EDX cleared. */
#define X2APIC_ON 0xB9, 0x1B, 0x00, 0x00, 0x00, 0x0F, 0x32, \
                  0x0D, 0x00, 0x0C, 0x00, 0x00, 0x0F, 0x30, \
                  0xB9, 0x0F, 0x08, 0x00, 0x00, MOV_EAX(0x1FFu), \
                  0x31, 0xD2, 0x0F, 0x30, 0x31, 0xDB
/* wrmsr ICR (0x830) = x: a self IPI */
#define SELF_IPI(x) 0xB9, 0x30, 0x08, 0x00, 0x00, MOV_EAX(x), 0x31, 0xD2, \
                    0x0F, 0x30

static struct vmdl_vm *boot_lapic(const uint8_t *code, size_t n)
{
    struct vmdl_vm *vm = boot(code, n);
    assert_int_equal(vmdl_attach_lapic(vm, NULL), 0);
    return vm;
}

/* An interrupt that arrives while IF is clear is taken right after the
 * instruction in STI's shadow, not at the next exit (here: the HLT). */
static void test_irq_taken_after_sti_shadow(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE, X2APIC_ON,
        SELF_IPI(0x40000u | IRQ_VEC),                     /* pending, IF = 0 */
        0xFB, 0x90,                                       /* sti; nop (shadow) */
        0x90, 0xF4 };                                     /* taken before this */
    struct vmdl_vm *vm = boot_lapic(code, sizeof(code));
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + IRQ_HANDLER + 2);
    assert_int_equal(reg(vm, VMDL_X86_RSI), LOAD + CODE + sizeof(code) - 2);
    vmdl_vm_destroy(vm);
}

/* HLT in STI's shadow with an interrupt pending: the HLT completes (the
 * shadow ends with it, as KVM's skip of an emulated instruction clears it)
 * and the interrupt wakes the vCPU at once, returning after the HLT. */
static void test_irq_wakes_hlt_in_sti_shadow(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE, X2APIC_ON,
        SELF_IPI(0x40000u | IRQ_VEC),                     /* pending, IF = 0 */
        0xFB, 0xF4,                                       /* sti; hlt */
        0xFA, 0x90, 0xF4 };                               /* cli; nop; hlt */
    struct vmdl_vm *vm = boot_lapic(code, sizeof(code));
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + IRQ_HANDLER + 2);
    assert_int_equal(reg(vm, VMDL_X86_RSI), LOAD + CODE + sizeof(code) - 3);
    vmdl_vm_destroy(vm);
}

/* vmdl_vcpu_x86_irq_ack: the interrupt-acknowledge cycle an event hook
 * performs itself (IRR -> ISR at the local APIC). */
static void test_irq_ack_by_hook(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE, X2APIC_ON,
        SELF_IPI(0x40000u | IRQ_VEC), 0xF4 };          /* pending, IF = 0 */
    struct vmdl_vm *vm = boot_lapic(code, sizeof(code));
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    run_to_hlt(vm);
    uint64_t irr = 0, isr = 0;
    assert_int_equal(vmdl_vcpu_msr_read(v, 0x820 + IRQ_VEC / 32, &irr), 0);
    assert_true(irr >> (IRQ_VEC % 32) & 1);
    assert_int_equal(vmdl_vcpu_x86_irq_ack(v, IRQ_VEC), 0);
    assert_int_equal(vmdl_vcpu_msr_read(v, 0x820 + IRQ_VEC / 32, &irr), 0);
    assert_int_equal(vmdl_vcpu_msr_read(v, 0x810 + IRQ_VEC / 32, &isr), 0);
    assert_false(irr >> (IRQ_VEC % 32) & 1);
    assert_true(isr >> (IRQ_VEC % 32) & 1);
    assert_int_equal(vmdl_vcpu_x86_irq_ack(NULL, IRQ_VEC), VMDL_EINVAL);
    assert_int_equal(vmdl_vcpu_x86_irq_ack(v, 256), VMDL_EINVAL);
    assert_int_equal(vmdl_vcpu_x86_irq_ack(v, -1), VMDL_EINVAL);
    vmdl_vm_destroy(vm);
    vm = boot(code, sizeof(code));                     /* no interrupt controller */
    assert_int_equal(vmdl_vcpu_x86_irq_ack(vmdl_vm_vcpu(vm, 0), IRQ_VEC), VMDL_ENOTSUP);
    vmdl_vm_destroy(vm);
}

/* mov dword [addr], imm32 *//* mov dword [addr], imm32 */
#define MOV_MEM(addr, imm) 0xC7, 0x05, (uint8_t)(addr), (uint8_t)((addr) >> 8), \
    (uint8_t)((addr) >> 16), (uint8_t)((addr) >> 24), (uint8_t)(imm), \
    (uint8_t)((imm) >> 8), (uint8_t)((imm) >> 16), (uint8_t)((imm) >> 24)
/* I/O APIC pin 14: IOREGSEL = 0x2C (low half), IOWIN = entry */
#define IOAPIC_PIN14(entry) MOV_MEM(0xFEC00000u, 0x2Cu), MOV_MEM(0xFEC00010u, entry)
/* mov al, 0xFF; out 0x21, al; out 0xA1, al: both 8259s masked, as
 * kvm-unit-tests' start-up does (the BIOS leaves IRQ 14 open and LINT0 in
 * ExtINT: the 8259 would deliver pc-testdev's line too) */
#define MASK_PIC 0xB0, 0xFF, 0xE6, 0x21, 0xE6, 0xA1
/* mov dx, 0x2000 + line; mov al, level; out dx, al (pc-testdev) */
#define SET_LINE(line, level) 0x66, 0xBA, (uint8_t)(line), 0x20, 0xB0, level, 0xEE

static struct vmdl_vm *boot_ioapic(const uint8_t *code, size_t n)
{
    struct vmdl_vm *vm = boot_lapic(code, n);
    assert_int_equal(vmdl_attach_ioapic(vm, NULL), 0);
    return vm;
}

/* pc-testdev's line 14 through the I/O APIC to the local APIC (xAPIC MMIO,
 * software-enabled): the edge interrupt is taken with the handler seeing
 * the instruction after the OUT's block, before the guest's HLT. */
static void test_ioapic_edge_through_testdev(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE, MASK_PIC,
        MOV_MEM(0xFEE000F0u, 0x1FFu),                     /* SVR: enabled */
        IOAPIC_PIN14(IRQ_VEC),                            /* edge, dest 0 */
        0xFB, SET_LINE(14, 1), 0xEB, 0x00,                /* sti; out; jmp $+2 */
        0x90, 0xF4 };                                     /* taken before this */
    struct vmdl_vm *vm = boot_ioapic(code, sizeof(code));
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + IRQ_HANDLER + 2);
    assert_int_equal(reg(vm, VMDL_X86_RSI), LOAD + CODE + sizeof(code) - 2);
    struct vmdl_ioapic_stats st;
    vmdl_ioapic_get_stats(vmdl_vm_ioapic(vm), &st);
    assert_int_equal(st.deliveries, 1);
    vmdl_vm_destroy(vm);
}

/* A level pin: remote IRR set at delivery, cleared by the local APIC's EOI
 * (MMIO write 0xFEE000B0), which the I/O APIC wanted for that vector. */
static void test_ioapic_level_eoi_clears_remote_irr(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE, MASK_PIC,
        MOV_MEM(0xFEE000F0u, 0x1FFu),
        IOAPIC_PIN14(0x8000u | IRQ_VEC),                  /* level, dest 0 */
        0xFB, SET_LINE(14, 1), 0xEB, 0x00, 0x90, 0xF4 };
    struct vmdl_vm *vm = boot_ioapic(code, sizeof(code));
    run_to_hlt(vm);                                       /* in the handler */
    struct vmdl_ioapic *io = vmdl_vm_ioapic(vm);
    assert_true(vmdl_ioapic_redir(io, 14) & VMDL_IOAPIC_RTE_REMOTE_IRR);
    assert_true(vmdl_ioapic_handles_vector(io, 0, IRQ_VEC));
    /* lower the line, EOI from the host side of the APIC as the guest would */
    assert_int_equal(vmdl_vm_ioapic_set_irq(vm, 14, false), 1);
    struct vmdl_lapic *apic = vmdl_lapic_bus_get(vmdl_vm_lapic_bus(vm), 0);
    assert_int_equal(vmdl_lapic_mmio_write(apic, VMDL_LAPIC_EOI, 4, 0), VMDL_FAULT_NONE);
    assert_int_equal(vmdl_ioapic_redir(io, 14) & VMDL_IOAPIC_RTE_REMOTE_IRR, 0);
    vmdl_vm_destroy(vm);
}

/* Unassigned physical memory reads 0 and drops writes (QEMU's pc machine);
 * pc-testdev's memory at 0xFF000000 keeps what is written. */
static void test_unassigned_and_testdev_memory(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE,
        MOV_MEM(0xE0000000u, 0x12345678u),
        0xA1, 0x00, 0x00, 0x00, 0xE0,                     /* mov eax, [0xE0000000] */
        0x89, 0xC7,                                       /* mov edi, eax */
        MOV_MEM(0xFF000010u, 0xCAFEF00Du),
        0x8B, 0x35, 0x10, 0x00, 0x00, 0xFF,               /* mov esi, [0xFF000010] */
        0x66, 0xBA, 0xE0, 0x00, MOV_EAX(0xA1B2C3D4u), 0xEF, /* out 0xE0, eax */
        0x31, 0xC0, 0xEC,                                 /* in al, dx */
        0x89, 0xC5, 0xF4 };                               /* mov ebp, eax */
    struct vmdl_vm *vm = boot(code, sizeof(code));
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RDI), 0);
    assert_int_equal(reg(vm, VMDL_X86_RSI), 0xCAFEF00Du);
    assert_int_equal(reg(vm, VMDL_X86_RBP), 0xD4);
    vmdl_vm_destroy(vm);
}

/* The RSDP is where kvm-unit-tests' lib/acpi.c looks (0xE0000); the PM
 * timer at 0x608 counts at 3.579545 MHz of virtual time (a 1000-iteration
 * LOOP is about 3.6 ticks); PM1a_CNT reads SCI_EN. */
static void test_acpi_rsdp_and_pm_timer(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE,
        0x8B, 0x3D, 0x00, 0x00, 0x0E, 0x00,               /* mov edi, [0xE0000] */
        0x66, 0xBA, 0x08, 0x06, 0xED, 0x89, 0xC6,         /* in eax, 0x608; esi */
        0xB9, 0xE8, 0x03, 0x00, 0x00, 0xE2, 0xFE,         /* loop 1000 */
        0xED, 0x89, 0xC5,                                 /* in eax, dx; ebp */
        0x66, 0xBA, 0x04, 0x06, 0x66, 0xED,               /* in ax, 0x604 */
        0x0F, 0xB7, 0xD8, 0xF4 };                         /* movzx ebx, ax */
    struct vmdl_vm *vm = boot(code, sizeof(code));
    /* One tick per instruction (no weights): the timer's rate is tested,
     * not the port reads' exit stall (test_vtime). */
    const struct vmdl_vtime_weights none = { 0, 0, 0, 0, 0 };
    assert_int_equal(vmdl_vm_set_vtime_weights(vm, &none), 0);
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RDI), 0x20445352u);   /* "RSD " */
    uint64_t t0 = reg(vm, VMDL_X86_RSI), t1 = reg(vm, VMDL_X86_RBP);
    assert_true(t0 <= 0xFFFFFF && t1 <= 0xFFFFFF);
    assert_in_range(t1 - t0, 3, 5);
    assert_int_equal(reg(vm, VMDL_X86_RBX) & 1, 1);
    vmdl_vm_destroy(vm);
}

/* COM1 is a 16550: LSR THRE|TEMT, the THR-empty interrupt raised by
 * enabling it and cleared by reading IIR, the scratch register. */
static void test_com1_line_status(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE,
        0x66, 0xBA, 0xFD, 0x03, 0xEC, 0x0F, 0xB6, 0xF8,   /* LSR -> edi */
        0x66, 0xBA, 0xF9, 0x03, 0xB0, 0x02, 0xEE,         /* IER = THRI */
        0x66, 0xBA, 0xFA, 0x03, 0xEC, 0x0F, 0xB6, 0xF0,   /* IIR -> esi */
        0xEC, 0x0F, 0xB6, 0xE8,                           /* IIR -> ebp */
        0x66, 0xBA, 0xFF, 0x03, 0xB0, 0x5A, 0xEE,         /* SCR = 0x5A */
        0xEC, 0x0F, 0xB6, 0xD8, 0xF4 };                   /* SCR -> ebx */
    struct vmdl_vm *vm = boot(code, sizeof(code));
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RDI), 0x60);
    assert_int_equal(reg(vm, VMDL_X86_RSI), 0x02);
    assert_int_equal(reg(vm, VMDL_X86_RBP), 0x01);
    assert_int_equal(reg(vm, VMDL_X86_RBX), 0x5A);
    vmdl_vm_destroy(vm);
}

/* An NMI sent from inside the NMI handler waits for its IRET: the handler
 * is not re-entered (EDI = 1), the second NMI runs after it (EBX = 2). */
static void test_nmi_blocked_until_iret(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE, X2APIC_ON,
        SELF_IPI(0x40400u),                               /* NMI */
        0x90, 0x89, 0xDE, 0xF4 };                         /* mov esi, ebx */
    struct vmdl_vm *vm = boot_lapic(code, sizeof(code));
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + CODE + sizeof(code));
    assert_int_equal(reg(vm, VMDL_X86_RDI), 1);
    assert_int_equal(reg(vm, VMDL_X86_RSI), 2);
    vmdl_vm_destroy(vm);
}

/* NMIs sent while one is being handled collapse into one pending NMI (x86
 * latches one; KVM's process_nmi caps the queue at 1 while NMIs are
 * blocked): the handler sends three to itself and runs twice in all. */
static void test_nmis_collapse_while_blocked(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE, X2APIC_ON,
        SELF_IPI(0x40400u),                               /* NMI */
        0x90, 0x89, 0xDE, 0xF4 };                         /* mov esi, ebx */
    /* inc ebx; cmp ebx, 1; jne out; ecx = ICR; eax = NMI to self; edx = 0;
     * wrmsr x3; out: mov edi, ebx; iret */
    static const uint8_t nmi3[] = { 0x43, 0x83, 0xFB, 0x01, 0x75, 0x12,
        0xB9, 0x30, 0x08, 0x00, 0x00, 0xB8, 0x00, 0x04, 0x04, 0x00, 0x31, 0xD2,
        0x0F, 0x30, 0x0F, 0x30, 0x0F, 0x30, 0x89, 0xDF, 0xCF };
    _Static_assert(NMI_HANDLER + sizeof(nmi3) <= IDTR, "handler runs into the IDT");
    struct vmdl_vm *vm = boot_lapic(code, sizeof(code));
    memcpy(vmdl_vm_ram_ptr(vm, LOAD + NMI_HANDLER, sizeof(nmi3)), nmi3, sizeof(nmi3));
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + CODE + sizeof(code));
    assert_int_equal(reg(vm, VMDL_X86_RDI), 2);
    assert_int_equal(reg(vm, VMDL_X86_RSI), 2);
    vmdl_vm_destroy(vm);
}

/* IA32_APIC_BASE relocates the vCPU's APIC page, as KVM decodes it at
 * apic->base_address: LVR reads the same at 0xFED40000 after the move as
 * at 0xFEE00000 after moving back, also when the guest read the new page
 * as unassigned memory (0) before. */
static void test_apic_base_relocates_mmio_window(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE,
        0x8B, 0x2D, 0x30, 0x00, 0xD4, 0xFE,               /* ebp = [0xFED40030] */
        0xB9, 0x1B, 0x00, 0x00, 0x00, 0x31, 0xD2,         /* ecx = APIC_BASE */
        MOV_EAX(0xFEE00100u), 0x0F, 0x30,                 /* disabled */
        MOV_EAX(0xFED40900u), 0x0F, 0x30,                 /* EN | BSP, moved */
        0x8B, 0x35, 0x30, 0x00, 0xD4, 0xFE,               /* esi = LVR there */
        MOV_EAX(0xFEE00900u), 0x0F, 0x30,                 /* back */
        0x8B, 0x3D, 0x30, 0x00, 0xE0, 0xFE,               /* edi = LVR */
        0xF4 };
    _Static_assert(CODE + sizeof(code) <= HANDLER, "code runs into the handlers");
    struct vmdl_vm *vm = boot_lapic(code, sizeof(code));
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + CODE + sizeof(code));
    assert_int_equal(reg(vm, VMDL_X86_RBP), 0);
    assert_int_equal(reg(vm, VMDL_X86_RSI) & 0xFF, 0x14);   /* version */
    assert_int_equal(reg(vm, VMDL_X86_RSI), reg(vm, VMDL_X86_RDI));
    /* the inspection API follows the vCPU's window too */
    uint64_t lvr = 0;
    assert_int_equal(vmdl_vcpu_mmio_read(vmdl_vm_vcpu(vm, 0), 0xFEE00030, 4, &lvr), 0);
    assert_int_equal(lvr, reg(vm, VMDL_X86_RDI));
    /* refused where RAM is, and for a window nobody registered */
    assert_int_equal(vmdl_vcpu_move_mmio(vmdl_vm_vcpu(vm, 0), 0xFEE00000, 0x100000),
                     VMDL_EINVAL);
    assert_int_equal(vmdl_vcpu_move_mmio(vmdl_vm_vcpu(vm, 0), 0xFEE01000, 0xFED40000),
                     VMDL_ENOENT);
    assert_int_equal(vmdl_vcpu_mmio_read(vmdl_vm_vcpu(vm, 0), 0xFEE00030, 4, &lvr), 0);
    vmdl_vm_destroy(vm);
}

/* An NMI that becomes pending right after STI waits for the end of the
 * interrupt shadow, as KVM never injects an NMI there (svm_nmi_blocked,
 * vmx_nmi_blocked; the SDM lets STI block NMIs for one instruction):
 * kvm-unit-tests apic's nmi-after-sti.  The run stops after the STI (an
 * instruction limit: STI ends a translation block), the NMI is injected,
 * and the handler sees the return address after the shadowed NOP. */
static void test_nmi_waits_for_sti_shadow(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE, 0xFB, 0x90, 0xFA, 0xF4 };
    static const uint8_t nmi[] = { 0x8B, 0x34, 0x24, 0xCF };  /* esi = [esp]; iret */
    struct vmdl_vm *vm = boot(code, sizeof(code));
    memcpy(vmdl_vm_ram_ptr(vm, LOAD + NMI_HANDLER, sizeof(nmi)), nmi, sizeof(nmi));
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    struct vmdl_exit e;
    uint64_t limit = 1;
    do {
        vmdl_vm_set_limits(vm, limit++, 0);
        assert_int_equal(vmdl_vm_run(vm, &e), 0);
        assert_int_equal(e.reason, VMDL_EXIT_MAX_INSNS);
        assert_true(limit < 64);
    } while (reg(vm, VMDL_X86_RIP) != LOAD + CODE + sizeof(code) - 3);
    assert_int_equal(vmdl_vcpu_inject_nmi(v), 0);
    vmdl_vm_set_limits(vm, 0, 0);
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RSI), LOAD + CODE + sizeof(code) - 2);
    vmdl_vm_destroy(vm);
}

/* ---- intercepts completed inside the engine (hosted_run.c) ------------- */

struct loop_run {
    uint64_t ebp, ebx, esi, edi, rip, insns, branches, exits;
    struct msr_state ms;
};

/* Boot code with or without in-engine completion (no_fast_traps), run it
 * to its HLT and record what the guest and the machine saw. */
static void run_loop_guest(const uint8_t *code, size_t n, bool slow, bool lapic,
                           struct loop_run *out)
{
    static uint8_t img[IMG];
    make_image(img, code, n);
    struct vmdl_vm_config cfg = { .arch = VMDL_ARCH_X86_64, .ram_size = 16 << 20,
                                  .no_fast_traps = slow };
    struct vmdl_vm *vm;
    assert_int_equal(vmdl_vm_create(&cfg, &vm), 0);
    struct vmdl_mb_boot mb = { "-x", NULL, 0 };
    assert_int_equal(vmdl_vm_load_multiboot(vm, img, IMG, &mb), 0);
    if (lapic)
        assert_int_equal(vmdl_attach_lapic(vm, NULL), 0);
    memset(out, 0, sizeof(*out));
    assert_int_equal(vmdl_vm_add_msr_range(vm, TEST_MSR, TEST_MSR, &test_msr_ops,
                                           &out->ms), 0);
    run_to_hlt(vm);
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    out->ebp = reg(vm, VMDL_X86_RBP);
    out->ebx = reg(vm, VMDL_X86_RBX);
    out->esi = reg(vm, VMDL_X86_RSI);
    out->edi = reg(vm, VMDL_X86_RDI);
    out->rip = reg(vm, VMDL_X86_RIP);
    out->insns = vmdl_vcpu_insns(v);
    out->branches = vmdl_vcpu_branches(v);
    struct vmdl_vm_stats st;
    assert_int_equal(vmdl_vm_get_stats(vm, &st), 0);
    out->exits = st.exits;
    vmdl_vm_destroy(vm);
}

static void assert_same_run(const struct loop_run *a, const struct loop_run *b)
{
    assert_int_equal(a->ebp, b->ebp);
    assert_int_equal(a->ebx, b->ebx);
    assert_int_equal(a->esi, b->esi);
    assert_int_equal(a->edi, b->edi);
    assert_int_equal(a->rip, b->rip);
    assert_int_equal(a->insns, b->insns);
    assert_int_equal(a->branches, b->branches);
    assert_int_equal(a->exits, b->exits);
    assert_int_equal(a->ms.reads, b->ms.reads);
    assert_int_equal(a->ms.writes, b->ms.writes);
    assert_int_equal(a->ms.value, b->ms.value);
}

#define LOOPS 200
#define LOOP_BODY 45

/* 200 rounds of RDTSC, a model's MSR read, WRMSR/RDMSR of STAR and a model
 * write, then a model write the model refuses (#GP on that WRMSR).  The
 * answers, the #GP, the TSC (virtual time) and the retired-instruction and
 * branch counts are the same whether the intercepts complete inside the
 * engine or leave it. */
static void test_in_engine_intercepts_match_exit_path(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE,
        0xBF, LOOPS, 0x00, 0x00, 0x00,         /* mov edi, LOOPS */
        0x31, 0xED,                            /* xor ebp, ebp */
        0x0F, 0x31,                            /* 1: rdtsc */
        0x89, 0xC3,                            /* mov ebx, eax */
        0xB9, 0x00, 0x4D, 0x56, 0x4B,          /* mov ecx, TEST_MSR */
        0x0F, 0x32,                            /* rdmsr */
        0x01, 0xC5,                            /* add ebp, eax */
        0xB9, 0x81, 0x00, 0x00, 0xC0,          /* mov ecx, STAR */
        0x89, 0xF8,                            /* mov eax, edi */
        0x31, 0xD2,                            /* xor edx, edx */
        0x0F, 0x30,                            /* wrmsr */
        0x31, 0xC0,                            /* xor eax, eax */
        0x0F, 0x32,                            /* rdmsr */
        0x01, 0xC5,                            /* add ebp, eax */
        0xB9, 0x00, 0x4D, 0x56, 0x4B,          /* mov ecx, TEST_MSR */
        0x8D, 0x04, 0x3F,                      /* lea eax, [edi + edi] */
        0x0F, 0x30,                            /* wrmsr */
        0x83, 0xEF, 0x01,                      /* sub edi, 1 */
        0x75, (uint8_t)-LOOP_BODY,             /* jnz 1b */
        0xB8, 0x01, 0x00, 0x00, 0x00,          /* mov eax, 1: odd */
        0x0F, 0x30,                            /* wrmsr -> #GP(0) */
        0xF4 };
    struct loop_run fast, slow;
    run_loop_guest(code, sizeof(code), false, false, &fast);
    run_loop_guest(code, sizeof(code), true, false, &slow);
    /* The model read returns the previous round's 2 * EDI, STAR EDI. */
    uint64_t sum = 0;
    for (unsigned e = LOOPS; e >= 1; e--)
        sum += (e < LOOPS ? 2 * (e + 1) : 0) + e;
    assert_int_equal(slow.ebp, sum);
    assert_int_equal(slow.rip, LOAD + HANDLER + 3);
    assert_int_equal(slow.edi, 0);                          /* error code */
    assert_int_equal(slow.esi, LOAD + CODE + sizeof(code) - 3);
    assert_int_equal(slow.ms.reads, LOOPS);
    assert_int_equal(slow.ms.writes, LOOPS);
    assert_int_equal(slow.ms.value, 2);
    /* Every RDTSC read virtual time: the last one is well past the loop's
     * first 199 rounds of 17 instructions. */
    assert_same_run(&fast, &slow);
    assert_true(slow.ebx > (LOOPS - 1) * 17);
}

/* A self IPI sent by an x2APIC WRMSR completed inside the engine is taken
 * right after that WRMSR, as when the WRMSR left the engine. */
static void test_in_engine_wrmsr_irq_taken_after_it(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE, X2APIC_ON,
        0xFB, 0x90,                                       /* sti; nop */
        0x0F, 0x31,                                       /* rdtsc */
        SELF_IPI(0x40000u | IRQ_VEC),
        0x90, 0x90, 0xF4 };                               /* taken before these */
    struct loop_run fast, slow;
    run_loop_guest(code, sizeof(code), false, true, &fast);
    run_loop_guest(code, sizeof(code), true, true, &slow);
    assert_int_equal(slow.rip, LOAD + IRQ_HANDLER + 2);
    assert_int_equal(slow.esi, LOAD + CODE + sizeof(code) - 3);
    assert_same_run(&fast, &slow);
}

/* CPUID.1:EDX.APIC follows IA32_APIC_BASE.EN (KVM's runtime CPUID update):
 * clear after the guest disables its APIC, set again once re-enabled. */
static void test_cpuid_apic_bit_follows_apic_base(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE,
        0xB9, 0x1B, 0x00, 0x00, 0x00, 0x0F, 0x32,         /* rdmsr APIC_BASE */
        0x25, 0xFF, 0xF7, 0xFF, 0xFF, 0x0F, 0x30,         /* EN = 0 */
        MOV_EAX(1), 0x0F, 0xA2, 0x89, 0xD6,               /* cpuid; esi = edx */
        0xB9, 0x1B, 0x00, 0x00, 0x00, 0x0F, 0x32,
        0x0D, 0x00, 0x08, 0x00, 0x00, 0x0F, 0x30,         /* EN = 1 */
        MOV_EAX(1), 0x0F, 0xA2, 0x89, 0xD7,               /* cpuid; edi = edx */
        0xF4 };
    struct vmdl_vm *vm = boot_lapic(code, sizeof(code));
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + CODE + sizeof(code));
    assert_int_equal((reg(vm, VMDL_X86_RSI) >> 9) & 1, 0);
    assert_int_equal((reg(vm, VMDL_X86_RDI) >> 9) & 1, 1);
    vmdl_vm_destroy(vm);
}

/* INT n through a not-present gate: #NP(n * 8 + 2 | IDT) reported on the
 * INT instruction, not after it (the fault happens while delivering). */
static void test_int_n_not_present_gate_faults_on_insn(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE, 0xCD, 0x21, 0xF4 };
    struct vmdl_vm *vm = boot(code, sizeof(code));
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + HANDLER + 3);
    assert_int_equal(reg(vm, VMDL_X86_RSI), LOAD + CODE + sizeof(code) - 3);
    assert_int_equal(reg(vm, VMDL_X86_RDI), 0x21 * 8 + 2);
    vmdl_vm_destroy(vm);
}

/*
 * -m 4g as QEMU's pc lays it out: the multiboot memory map has the RAM
 * below the PCI hole and a fifth entry from 4 GiB; fw_cfg's RAM size is
 * all of it.  The guest reads FW_CFG_RAM_SIZE: mov dx, 0x510; mov ax, 3;
 * out dx, ax; mov dx, 0x511; in eax, dx; mov esi, eax; in eax, dx;
 * mov edi, eax; hlt.
 */
static void test_ram_above_4g_in_map_and_fw_cfg(void **state)
{
    (void)state;
    static const uint8_t code[] = { 0x66, 0xBA, 0x10, 0x05, 0x66, 0xB8, 0x03, 0x00,
        0x66, 0xEF, 0x66, 0xBA, 0x11, 0x05, 0xED, 0x89, 0xC6, 0xED, 0x89, 0xC7, 0xF4 };
    static uint8_t img[IMG];
    make_image(img, code, sizeof(code));
    struct vmdl_vm_config cfg = { .arch = VMDL_ARCH_X86_64, .ram_size = 4ull << 30 };
    struct vmdl_vm *vm;
    assert_int_equal(vmdl_vm_create(&cfg, &vm), 0);
    assert_int_equal(vmdl_vm_load_multiboot(vm, img, IMG, NULL), 0);
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RSI), 0);           /* 0x1_0000_0000 */
    assert_int_equal(reg(vm, VMDL_X86_RDI), 1);
    const uint8_t *mbi = vmdl_vm_ram_ptr(vm, reg(vm, VMDL_X86_RBX), 88);
    assert_non_null(mbi);
    uint32_t upper, len, at;
    memcpy(&upper, mbi + 8, 4);
    memcpy(&len, mbi + 44, 4);
    memcpy(&at, mbi + 48, 4);
    assert_int_equal(upper, ((3ull << 30) - 0x100000) / 1024);
    assert_int_equal(len, 5 * 24);
    const uint8_t *mm = vmdl_vm_ram_ptr(vm, at, len);
    assert_non_null(mm);
    uint64_t base, size;
    memcpy(&base, mm + 72 + 4, 8);
    memcpy(&size, mm + 72 + 12, 8);
    assert_int_equal(base + size, 3ull << 30);
    memcpy(&base, mm + 96 + 4, 8);
    memcpy(&size, mm + 96 + 12, 8);
    assert_int_equal(base, 4ull << 30);
    assert_int_equal(size, 1ull << 30);
    assert_int_equal(mm[96 + 20], 1);
    vmdl_vm_destroy(vm);
}

/* Code patched in a page that already holds translated code, then a MOV
 * to CR0 (serializing) before it runs again: the patched instruction runs.
 * Unicorn 2.1.1 notices only the first write to such a page after a TLB
 * fill (docs/unicorn.md), here the one to DATA, so the patch would run
 * stale without the machine's invalidation at the serializing write. */
#define PATCH 0x3E0        /* mov eax, imm32; ret */
static void test_patched_code_runs_after_mov_cr0(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE,
        0xC7, 0x05, MOV_ADDR(LOAD + PATCH), 0xB8, 0x01, 0x00, 0x00,     /* mov eax, 1 */
        0xC7, 0x05, MOV_ADDR(LOAD + PATCH + 4), 0x00, 0xC3, 0xF4, 0xF4, /* ret */
        0xE8, 0x9B, 0x03, 0x00, 0x00,                    /* call PATCH: EAX 1 */
        0x89, 0xC3,                                      /* mov ebx, eax */
        0xC6, 0x05, MOV_ADDR(LOAD + DATA), 0x90,         /* a write elsewhere */
        0xC6, 0x05, MOV_ADDR(LOAD + PATCH + 1), 0x02,    /* mov eax, 2 */
        0x0F, 0x20, 0xC1, 0x0F, 0x22, 0xC1,              /* mov ecx, cr0; mov cr0, ecx */
        0xE8, 0x80, 0x03, 0x00, 0x00,                    /* call PATCH */
        0xF4 };
    /* the two calls' displacements: PATCH - (CODE + offset after the call) */
    _Static_assert(CODE + 12 + 20 + 5 + 0x39B == PATCH, "first call");
    _Static_assert(CODE + sizeof(code) - 1 + 0x380 == PATCH, "second call");
    struct vmdl_vm *vm = boot(code, sizeof(code));
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RBX), 1);
    assert_int_equal(reg(vm, VMDL_X86_RAX), 2);
    vmdl_vm_destroy(vm);
}

/*
 * A 64-bit kernel whose GS selector is its DPL-0 data segment, GS base
 * 0x12345000, returns to CPL 3 with IRETQ and comes back with INT 0x40:
 * IRET nulls the selector (SDM vol. 2, IRET: data segments above the new
 * CPL) and leaves the base, so the handler reads its base back.  QEMU's
 * IRET also zeroes the base (docs/unicorn.md).  The guest:
 * tests/machine/guests/hosted_gs.S.
 */

static void test_iret_to_cpl3_keeps_gs_base(void **state)
{
    (void)state;
    struct vmdl_vm_config cfg = { .arch = VMDL_ARCH_X86_64, .ram_size = 16 << 20 };
    struct vmdl_vm *vm;
    assert_int_equal(vmdl_vm_create(&cfg, &vm), 0);
    struct vmdl_mb_boot mb = { "gs", NULL, 0 };
    assert_int_equal(vmdl_vm_load_multiboot(vm, hosted_gs_image, sizeof(hosted_gs_image),
                                            &mb), 0);
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RIP), 0x1000C0);      /* past the handler's HLT */
    assert_int_equal(reg(vm, VMDL_X86_RAX), 0x12345000);    /* GS base */
    assert_int_equal(reg(vm, VMDL_X86_RBX), 0);             /* GS selector: null */
    vmdl_vm_destroy(vm);
}

/*
 * IRETQ to CPL 3 makes the DPL-0 GS and DS null (SDM vol. 2, IRET) and the
 * user code still reads through GS's base (kvm-unit-tests emulator, "ret/
 * iret with a nullified segment"): QEMU's IRET would zero that base inside
 * the engine, so the machine intercepts IRET while an FS/GS base is at risk
 * and performs it (hosted_iret.c), in the engine or from the loop
 * (no_fast_traps).  An IRETQ at CPL 0 to CPL 0 before it pops RFLAGS and
 * SS:RSP as usual. The guest:
 * tests/machine/guests/hosted_iret.S.
 */

static void test_iretq_to_cpl3_user_reads_through_gs_base(void **state)
{
    (void)state;
    for (int slow = 0; slow < 2; slow++) {
        struct vmdl_vm_config cfg = { .arch = VMDL_ARCH_X86_64, .ram_size = 16 << 20,
                                      .no_fast_traps = slow };
        struct vmdl_vm *vm;
        assert_int_equal(vmdl_vm_create(&cfg, &vm), 0);
        struct vmdl_mb_boot mb = { "iret", NULL, 0 };
        assert_int_equal(vmdl_vm_load_multiboot(vm, hosted_iret_image,
                                                sizeof(hosted_iret_image), &mb), 0);
        run_to_hlt(vm);
        assert_int_equal(reg(vm, VMDL_X86_R12) & 0xFFF, 0x46);  /* the popped flags */
        assert_int_equal(reg(vm, VMDL_X86_R13), 0x106000);      /* the popped RSP */
        assert_int_equal(reg(vm, VMDL_X86_R8), 0x1122334455667788ull);
        assert_int_equal(reg(vm, VMDL_X86_R9), 0);              /* GS null at CPL 3 */
        assert_int_equal(reg(vm, VMDL_X86_R10), 0);             /* DS null too */
        assert_int_equal(reg(vm, VMDL_X86_RAX), 0x180000);      /* the base, back at CPL 0 */
        vmdl_vm_destroy(vm);
    }
}

/*
 * Deliveries through 64-bit IDT gates, which the machine makes itself
 * (hosted_deliver64.c) unless no_fast_traps sends every event through
 * QEMU's VMRUN: both must build the same frames (SDM vol. 3, 6.14).
 * INT 0x41 at CPL 0 through a trap gate (no stack switch, IF kept, SS
 * kept), INT 0x42 from CPL 3 through a DPL-3 interrupt gate with IST1 (the
 * IST pointer aligned down to 16, SS null with RPL 0), then a user read of
 * a not-present page: #PF (error code 4, CR2, RF in the frame's RFLAGS)
 * on TSS.RSP0, IF cleared by the interrupt gate. The guest:
 * tests/machine/guests/hosted_deliver64.S.
 */

/* The guest image (or a patched copy) loaded in a new VM. */
static struct vmdl_vm *d64_vm(bool slow, const uint8_t *img, size_t n)
{
    struct vmdl_vm_config cfg = { .arch = VMDL_ARCH_X86_64, .ram_size = 16 << 20,
                                  .no_fast_traps = slow };
    struct vmdl_vm *vm;
    assert_int_equal(vmdl_vm_create(&cfg, &vm), 0);
    struct vmdl_mb_boot mb = { "d64", NULL, 0 };
    assert_int_equal(vmdl_vm_load_multiboot(vm, img, n, &mb), 0);
    return vm;
}

/* What the handlers saw of the three frames. */
static void d64_assert_frames(struct vmdl_vm *vm)
{
    assert_int_equal(reg(vm, VMDL_X86_R8), 0x106000 - 40);   /* INT 0x41: same stack */
    assert_true(reg(vm, VMDL_X86_R9) & 0x200);               /* trap gate: IF kept */
    assert_int_equal(reg(vm, VMDL_X86_R9) & 0x10100, 0);     /* TF, RF clear */
    assert_int_equal(reg(vm, VMDL_X86_R10), 0x10);           /* SS kept */
    assert_int_equal(reg(vm, VMDL_X86_R11), 0x10A000 - 40);  /* IST1, aligned */
    assert_int_equal(reg(vm, VMDL_X86_R12), 0);              /* SS null, RPL 0 */
    assert_int_equal(reg(vm, VMDL_X86_R14), 4);              /* #PF: user read, P=0 */
    assert_int_equal(reg(vm, VMDL_X86_R15), 0x1000D4);       /* the faulting MOV */
    assert_int_equal(reg(vm, VMDL_X86_RDI), 0x1B);
    assert_int_equal(reg(vm, VMDL_X86_RDX), 0x10202);        /* IF, RF (a fault) */
    assert_int_equal(reg(vm, VMDL_X86_RCX), 0x107000);
    assert_int_equal(reg(vm, VMDL_X86_RAX), 0x23);
    assert_int_equal(reg(vm, VMDL_X86_R13), 0x108000 - 48);  /* RSP0, error code */
    assert_int_equal(reg(vm, VMDL_X86_RBX), 0x300000);       /* CR2 */
    assert_int_equal(reg(vm, VMDL_X86_RBP), 0x2);            /* interrupt gate: IF off */
    assert_int_equal(reg(vm, VMDL_X86_RSI), 0);
}

static void deliver64_run(bool slow, uint64_t *direct)
{
    struct vmdl_vm *vm = d64_vm(slow, hosted_deliver64_image, sizeof(hosted_deliver64_image));
    run_to_hlt(vm);
    d64_assert_frames(vm);
    struct vmdl_vm_stats st;
    assert_int_equal(vmdl_vm_get_stats(vm, &st), 0);
    *direct = st.direct_events;
    vmdl_vm_destroy(vm);
}

/* The same guest with TSS.RSP0 on a page that is not present: the #PF
 * from CPL 3 cannot push its frame, which the machine's delivery sees
 * before it changes anything; QEMU's then raises the #PF of the push
 * (#DF: a #PF while delivering a #PF), and with no gate 8 the vCPU triple
 * faults, the same with either path. */
static void test_deliver64_unwritable_stack_is_double_fault(void **state)
{
    (void)state;
    for (int slow = 0; slow < 2; slow++) {
        static uint8_t img[sizeof(hosted_deliver64_image)];
        memcpy(img, hosted_deliver64_image, sizeof(img));
        put_le32(img + 0x160 + 4, 0x301000);          /* tss.rsp0: not present */
        struct vmdl_vm *vm = d64_vm(slow, img, sizeof(img));
        struct vmdl_exit e;
        assert_int_equal(vmdl_vm_run(vm, &e), 0);
        assert_int_equal(e.reason, VMDL_EXIT_FAULT_LOOP);
        assert_non_null(strstr(e.u.internal.message, "triple fault"));
        struct vmdl_vm_stats st;
        assert_int_equal(vmdl_vm_get_stats(vm, &st), 0);
        assert_int_equal(st.direct_events, slow ? 0 : 2);  /* the two INTs */
        vmdl_vm_destroy(vm);
    }
}

static void test_deliver64_frames_match_qemu_delivery(void **state)
{
    (void)state;
    uint64_t fast = 0, slow = 0;
    deliver64_run(false, &fast);
    deliver64_run(true, &slow);
    assert_int_equal(fast, 3);          /* INT 0x41, INT 0x42, #PF */
    assert_int_equal(slow, 0);
}

/*
 * The same guest as a nested guest (L2) whose physical addresses go
 * through a second stage (L1's EPT, vmdl_vcpu_set_x86_npt) that maps the
 * first 4 MiB ahead of time, identity except four pages L1 put elsewhere:
 * the IDT page and the three stack pages the INT 0x41, the #PF and the IST
 * delivery push to.  The gate, the TSS stack pointers and the frames go through L2's
 * page walk and then the second stage (SDM 29.3: every guest-physical
 * address, implicit supervisor accesses too), so the frames land in the
 * remapped pages and nothing is written at the pages' own numbers.  The
 * machine's own delivery and QEMU's (no_fast_traps) must agree, and with
 * every page mapped the machine's delivers all three events.
 */
#define D64_REMAP 0x400000u
static const uint64_t d64_remapped[] = { 0x105000, 0x107000, 0x109000, 0x110000 };
static uint64_t d64_refused = UINT64_MAX;       /* a page the hook will not map */
static struct vmdl_x86_event d64_npf[4];
static unsigned d64_n_npf;

static uint64_t d64_host_page(uint64_t gpa)
{
    for (size_t i = 0; i < sizeof(d64_remapped) / sizeof(d64_remapped[0]); i++)
        if ((gpa & ~0xFFFull) == d64_remapped[i])
            return d64_remapped[i] + D64_REMAP;
    return gpa & ~0xFFFull;
}

/* L1: declines every exception and HLT (L2 handles them), maps a missing
 * page unless it is the refused one, whose EPT violation stays L1's: the
 * hook does not take it and the run stops. */
static bool d64_l1(void *opaque, struct vmdl_vcpu *vcpu, const struct vmdl_x86_event *ev)
{
    (void)opaque;
    if (ev->kind != VMDL_X86_EVENT_NPF)
        return false;
    if (d64_n_npf < 4)
        d64_npf[d64_n_npf++] = *ev;
    uint64_t page = ev->npf.gpa & ~0xFFFull;
    return page != d64_refused &&
           !vmdl_vcpu_x86_npt_map(vcpu, page, d64_host_page(page),
                                  VMDL_NPT_WRITE | VMDL_NPT_EXEC);
}

/* The guest with its CLD made a HLT (DF is clear from the boot already):
 * there, in long mode with paging on, it becomes L2 under the second
 * stage and runs on: its copies of the gates land in the IDT page L1 put
 * elsewhere, and it loads IDTR as L2. */
static struct vmdl_vm *d64_nested_ept_vm(bool slow)
{
    static uint8_t img[sizeof(hosted_deliver64_image)];
    memcpy(img, hosted_deliver64_image, sizeof(img));
    assert_int_equal(img[0x8F], 0xFC);
    img[0x8F] = 0xF4;
    struct vmdl_vm *vm = d64_vm(slow, img, sizeof(img));
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RIP), 0x100090);
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    struct vmdl_x86_sys_state st;
    assert_int_equal(vmdl_vcpu_get_x86_sys(v, &st), 0);
    st.activity = 0;                                /* run on from the HLT */
    assert_int_equal(vmdl_vcpu_set_x86_sys(v, &st), 0);
    assert_int_equal(vmdl_vm_set_x86_event_hook(vm, d64_l1, NULL), 0);
    struct vmdl_x86_nested_ctl ctl = {0};
    assert_int_equal(vmdl_vcpu_set_x86_nested(v, &ctl), 0);
    assert_int_equal(vmdl_vcpu_set_x86_npt(v, true), 0);
    for (uint64_t page = 0; page < D64_REMAP; page += 0x1000)
        if (page != d64_refused)
            assert_int_equal(vmdl_vcpu_x86_npt_map(v, page, d64_host_page(page),
                                                   VMDL_NPT_WRITE | VMDL_NPT_EXEC), 0);
    d64_n_npf = 0;
    return vm;
}

static void test_deliver64_nested_ept_frames_match(void **state)
{
    (void)state;
    for (int slow = 0; slow < 2; slow++) {
        d64_refused = UINT64_MAX;
        struct vmdl_vm *vm = d64_nested_ept_vm(slow);
        run_to_hlt(vm);
        d64_assert_frames(vm);
        assert_int_equal(d64_n_npf, 0);
        /* The frames are in L1's pages, nothing at the pages' own numbers. */
        const struct vmdl_guest_mem *m = vmdl_vm_guest_mem(vm);
        uint64_t frame[6], zero[6] = { 0 };
        assert_int_equal(vmdl_guest_read(m, D64_REMAP + 0x108000 - 48, frame, 48), 0);
        assert_int_equal(frame[0], 4);
        assert_int_equal(frame[1], 0x1000D4);
        assert_int_equal(frame[2], 0x1B);
        assert_int_equal(frame[3], 0x10202);
        assert_int_equal(frame[4], 0x107000);
        assert_int_equal(frame[5], 0x23);
        assert_int_equal(vmdl_guest_read(m, 0x108000 - 48, frame, 48), 0);
        assert_memory_equal(frame, zero, 48);
        assert_int_equal(vmdl_guest_read(m, D64_REMAP + 0x10A000 - 40, frame, 40), 0);
        assert_int_equal(frame[1], 0x1B);                        /* IST1 frame: CS */
        assert_int_equal(vmdl_guest_read(m, 0x10A000 - 40, frame, 40), 0);
        assert_memory_equal(frame, zero, 40);
        uint32_t gate = 0;                                       /* 0x41: h41, selector 8 */
        assert_int_equal(vmdl_guest_read(m, D64_REMAP + 0x110000 + 0x41 * 16, &gate, 4), 0);
        assert_int_equal(gate, 0x000800DDu);
        assert_int_equal(vmdl_guest_read(m, 0x110000 + 0x41 * 16, &gate, 4), 0);
        assert_int_equal(gate, 0);
        assert_int_equal(vmdl_guest_read(m, D64_REMAP + 0x106000 - 40, frame, 40), 0);
        assert_int_equal(frame[1], 0x1B);   /* over INT 0x41's: the IRETQ frame's CS */
        assert_int_equal(vmdl_guest_read(m, 0x106000 - 40, frame, 40), 0);
        assert_memory_equal(frame, zero, 40);
        struct vmdl_vm_stats st;
        assert_int_equal(vmdl_vm_get_stats(vm, &st), 0);
        assert_int_equal(st.direct_events, slow ? 0 : 3);       /* INT 0x41, 0x42, #PF */
        vmdl_vm_destroy(vm);
    }
}

/*
 * The second stage refuses the page of TSS.RSP0 (L1's EPT has no entry for
 * it): the #PF from CPL 3 cannot push its frame.  That is an EPT violation
 * during event delivery (SDM 27.2.4): the NPF event for the write of the
 * frame's first slot, with the #PF being delivered (hardware exception,
 * vector 14, error code 4) as IDT-vectoring information, not a #DF; the
 * same with either delivery, the machine's leaving it to QEMU's from an
 * unchanged state.
 */
static void test_deliver64_nested_ept_refused_stack(void **state)
{
    (void)state;
    for (int slow = 0; slow < 2; slow++) {
        d64_refused = 0x107000;
        struct vmdl_vm *vm = d64_nested_ept_vm(slow);
        struct vmdl_exit e;
        assert_int_not_equal(vmdl_vm_run(vm, &e), 0);       /* L1 did not take it */
        assert_int_equal(d64_n_npf, 1);
        const struct vmdl_x86_event *ev = &d64_npf[0];
        assert_int_equal(ev->npf.gpa & ~0xFFFull, 0x107000);
        assert_true(ev->npf.write);
        assert_false(ev->npf.fetch);
        assert_false(ev->npf.walk);
        assert_true(ev->npf.delivery);
        assert_true(ev->npf.gla_valid);
        assert_int_equal(ev->npf.gla & ~0xFFFull, 0x107000);
        assert_int_equal(ev->idt_info, 0x80000B0Eu);        /* valid, error, HW exc., #PF */
        assert_int_equal(ev->idt_error, 4);
        assert_int_equal(reg(vm, VMDL_X86_RIP), 0x1000D4);  /* at the faulting MOV */
        assert_int_equal(reg(vm, VMDL_X86_RSP), 0x107000);  /* still L2's user stack */
        struct vmdl_vm_stats st;
        assert_int_equal(vmdl_vm_get_stats(vm, &st), 0);
        assert_int_equal(st.direct_events, slow ? 0 : 2);   /* the two INTs */
        vmdl_vm_destroy(vm);
        d64_refused = UINT64_MAX;
    }
}

/*
 * CR8 and the APIC's TPR seen from both sides in a 64-bit guest (xAPIC
 * MMIO): a MOV to CR8 the engine completed alone (TPR 0 before, no exit)
 * shows in the APIC's TPR register; a TPR written through MMIO is what the
 * next MOV from CR8 reads, in the same translated block; a self IPI below
 * the TPR waits, and the MOV to CR8 that lowers the TPR under it takes it
 * right after that instruction (KVM: CR8 writes exit while an interrupt is
 * blocked by the TPR). The guest:
 * tests/machine/guests/hosted_cr8.S.
 */

static void test_cr8_and_apic_tpr_agree(void **state)
{
    (void)state;
    struct vmdl_vm_config cfg = { .arch = VMDL_ARCH_X86_64, .ram_size = 16 << 20 };
    struct vmdl_vm *vm;
    assert_int_equal(vmdl_vm_create(&cfg, &vm), 0);
    assert_int_equal(vmdl_attach_lapic(vm, NULL), 0);
    struct vmdl_mb_boot mb = { "cr8", NULL, 0 };
    assert_int_equal(vmdl_vm_load_multiboot(vm, hosted_cr8_image, sizeof(hosted_cr8_image),
                                            &mb), 0);
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RIP), 0x1000E4);      /* past the handler's HLT */
    assert_int_equal(reg(vm, VMDL_X86_RSI), 0x1000E1);      /* right after MOV to CR8 */
    assert_int_equal(reg(vm, VMDL_X86_RBX), 0x70);          /* TPR after MOV to CR8 */
    assert_int_equal(reg(vm, VMDL_X86_RDI), 5);             /* CR8 after the TPR write */
    assert_int_equal(reg(vm, VMDL_X86_CR8), 3);
    vmdl_vm_destroy(vm);
}

/* VMCALL on the Intel vendor is KVM's hypercall (kvm_emulate_hypercall):
 * an unknown number returns -KVM_ENOSYS (-1000), KVM_HC_VAPIC_POLL_IRQ 0,
 * and the instruction retires instead of raising #UD. */
static void test_vmcall_is_kvm_hypercall(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE,
        MOV_EAX(0xFFFFFFFFu), 0x0F, 0x01, 0xC1,           /* vmcall: nr -1 */
        0x89, 0xC3,                                       /* mov ebx, eax */
        MOV_EAX(1u), 0x0F, 0x01, 0xC1,                    /* vmcall: VAPIC_POLL_IRQ */
        0xF4 };
    struct vmdl_vm *vm = boot(code, sizeof(code));
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + CODE + sizeof(code));
    assert_int_equal(reg(vm, VMDL_X86_RBX), (uint32_t)-1000);
    assert_int_equal(reg(vm, VMDL_X86_RAX), 0);
    vmdl_vm_destroy(vm);
}

/* ---- SMP: start-up and IPIs between hosted vCPUs -------------------- */

#define IMM32(x) (uint8_t)(x), (uint8_t)((x) >> 8), (uint8_t)((x) >> 16), \
                 (uint8_t)((x) >> 24)
/* mov ebp, n; dec ebp; jnz $-1: long enough for other vCPUs' turns */
#define SPIN(n) 0xBD, IMM32(n), 0x4D, 0x75, 0xFD
/* IA32_APIC_BASE |= EN | EXTD (x2APIC, software-disabled); ECX = ICR */
#define X2APIC_EN 0xB9, 0x1B, 0x00, 0x00, 0x00, 0x0F, 0x32, \
                  0x0D, 0x00, 0x0C, 0x00, 0x00, 0x0F, 0x30, \
                  0xB9, 0x30, 0x08, 0x00, 0x00
/* wrmsr ICR = EDX:lo (after X2APIC_EN) */
#define ICR_LO(lo) MOV_EAX(lo), 0x0F, 0x30
#define AP_FLAG 0x300u    /* the AP's 16-bit code increments this byte */
#define AP_VECTOR 0x10u   /* SIPI vector: the AP starts at 0x10000 */

static struct vmdl_vm *boot_smp(const uint8_t *code, size_t n, unsigned vcpus)
{
    struct vmdl_vm_config cfg = { .arch = VMDL_ARCH_X86_64, .ram_size = 16 << 20,
                                  .nr_vcpus = vcpus, .quantum = 1000 };
    struct vmdl_vm *vm = boot_cfg(code, n, &cfg);
    /* AP start-up code at vector:0000: inc byte [AP_FLAG]; hlt */
    static const uint8_t ap[] = { 0xFE, 0x06, (uint8_t)AP_FLAG,
                                  (uint8_t)(AP_FLAG >> 8), 0xF4 };
    uint8_t *at = vmdl_vm_ram_ptr(vm, AP_VECTOR << 12, sizeof(ap));
    assert_non_null(at);
    memcpy(at, ap, sizeof(ap));
    return vm;
}

/* After power-on an application processor waits for the BSP's INIT/SIPI
 * (SDM 9.4: APs "wait for a startup signal"; KVM: every vCPU but the BSP
 * starts uninitialized): it does not run the multiboot entry beside the
 * BSP, however long the BSP runs. */
static void test_aps_wait_for_sipi_at_power_on(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE,
        0xF0, 0xFF, 0x05, IMM32(LOAD + DATA),             /* lock inc [data] */
        SPIN(20000), 0xF4 };
    struct vmdl_vm *vm = boot_smp(code, sizeof(code), 2);
    uint32_t *count = vmdl_vm_ram_ptr(vm, LOAD + DATA, 4);
    *count = 0;
    run_to_hlt(vm);
    assert_int_equal(*count, 1);
    assert_int_equal(vmdl_vcpu_insns(vmdl_vm_vcpu(vm, 1)), 0);
    vmdl_vm_destroy(vm);
}

/* As in KVM (kvm_apic_accept_events), a SIPI reaches only a CPU that took
 * an INIT: sent alone to a powered-on AP it is dropped; INIT then SIPI
 * starts the AP in real mode at vector:0000. */
static void test_ap_starts_on_init_then_sipi(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE, X2APIC_EN,
        0xBA, IMM32(1u),                                  /* edx: APIC ID 1 */
        ICR_LO(0x4600u | AP_VECTOR), SPIN(20000),         /* SIPI alone */
        0x8B, 0x35, IMM32(AP_FLAG),                       /* mov esi, [flag] */
        ICR_LO(0x4500u),                                  /* INIT */
        ICR_LO(0x4600u | AP_VECTOR), SPIN(20000),         /* SIPI */
        0x8B, 0x3D, IMM32(AP_FLAG),                       /* mov edi, [flag] */
        0xF4 };
    _Static_assert(CODE + sizeof(code) <= HANDLER, "code runs into the handlers");
    struct vmdl_vm *vm = boot_smp(code, sizeof(code), 2);
    assert_int_equal(vmdl_attach_lapic(vm, NULL), 0);
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + CODE + sizeof(code));
    assert_int_equal(reg(vm, VMDL_X86_RSI) & 0xFF, 0);
    assert_int_equal(reg(vm, VMDL_X86_RDI) & 0xFF, 1);
    uint64_t rip = 0;
    assert_int_equal(vmdl_vcpu_get_reg(vmdl_vm_vcpu(vm, 1), VMDL_X86_RIP, &rip), 0);
    assert_int_equal(rip, 5);                             /* after its HLT */
    vmdl_vm_destroy(vm);
}

/* Retired instructions of the BSP (32-bit protected mode, as multiboot
 * starts it) running mov ecx, n; 1: dec ecx; jnz 1b; hlt. */
static uint64_t insns_of_32bit_loop(uint32_t n)
{
    const uint8_t code[] = { PROLOGUE,
        0xB9, IMM32(n),                                   /* mov ecx, n */
        0x49, 0x75, 0xFD,                                 /* 1: dec ecx; jnz 1b */
        0xF4 };
    struct vmdl_vm *vm = boot(code, sizeof(code));
    vmdl_vcpu_need_insn_count(vmdl_vm_vcpu(vm, 0), true);
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RCX), 0);
    uint64_t insns = vmdl_vcpu_insns(vmdl_vm_vcpu(vm, 0));
    vmdl_vm_destroy(vm);
    return insns;
}

/* In 32-bit code 0x49 is DEC ECX, an instruction of its own (in 64-bit
 * code the same byte is a REX prefix): the loop retires two instructions
 * per turn, so 1000 more turns are 2000 more instructions.  The whole
 * run: the prologue's two, MOV, 2n, and the HLT (which retires when the
 * halt is taken, as on hardware). */
static void test_insn_count_32bit_loop(void **state)
{
    (void)state;
    uint64_t a = insns_of_32bit_loop(10), b = insns_of_32bit_loop(1010);
    assert_int_equal(b - a, 2000);
    assert_int_equal(a, 2 + 1 + 2 * 10 + 1);
}

/* The AP's retired instructions when it runs, in real mode after SIPI:
 * mov cx, n; 1: dec cx; jnz 1b; hlt (16-bit code: B9 takes an imm16). */
static uint64_t insns_of_real_mode_loop(uint16_t n)
{
    static const uint8_t code[] = { PROLOGUE, X2APIC_EN,
        0xBA, IMM32(1u),                                  /* edx: APIC ID 1 */
        ICR_LO(0x4500u), ICR_LO(0x4600u | AP_VECTOR),     /* INIT, SIPI */
        SPIN(20000), 0xF4 };
    struct vmdl_vm *vm = boot_smp(code, sizeof(code), 2);
    const uint8_t ap[] = { 0xB9, (uint8_t)n, (uint8_t)(n >> 8),   /* mov cx, n */
                           0x49, 0x75, 0xFD,                      /* dec cx; jnz */
                           0xF4 };
    memcpy(vmdl_vm_ram_ptr(vm, AP_VECTOR << 12, sizeof(ap)), ap, sizeof(ap));
    assert_int_equal(vmdl_attach_lapic(vm, NULL), 0);
    run_to_hlt(vm);
    uint64_t rip = 0, rcx = 0;
    assert_int_equal(vmdl_vcpu_get_reg(vmdl_vm_vcpu(vm, 1), VMDL_X86_RIP, &rip), 0);
    assert_int_equal(vmdl_vcpu_get_reg(vmdl_vm_vcpu(vm, 1), VMDL_X86_RCX, &rcx), 0);
    assert_int_equal(rip, sizeof(ap));                    /* after its HLT */
    assert_int_equal(rcx & 0xFFFF, 0);
    uint64_t insns = vmdl_vcpu_insns(vmdl_vm_vcpu(vm, 1));
    vmdl_vm_destroy(vm);
    return insns;
}

/* The same loop in real mode (the AP after SIPI): MOV, 2n, HLT. */
static void test_insn_count_real_mode_loop(void **state)
{
    (void)state;
    uint64_t a = insns_of_real_mode_loop(10), b = insns_of_real_mode_loop(3010);
    assert_int_equal(b - a, 6000);
    assert_int_equal(a, 1 + 2 * 10 + 1);
}

/* What one run of the halted-AP RDTSC loop below leaves. */
struct smp_tsc_run {
    uint64_t eax, edx, rip, insns0, insns1, exits, entries;
    uint8_t ap_flag;
};

/* The BSP starts the AP (which halts with IF clear: nothing can wake it),
 * then runs 3,000 rounds of rdtsc; sub edi, 1; jnz over nine
 * 1000-instruction quanta.  Run with or without in-engine completion
 * (no_fast_traps). */
static void run_halted_ap_rdtsc(bool slow, struct smp_tsc_run *out)
{
    static const uint8_t code[] = { PROLOGUE, X2APIC_EN,
        0xBA, IMM32(1u),                                  /* edx: APIC ID 1 */
        ICR_LO(0x4500u), ICR_LO(0x4600u | AP_VECTOR),     /* INIT, SIPI */
        SPIN(2000),
        0xBF, IMM32(3000u),                               /* mov edi, 3000 */
        0x0F, 0x31, 0x83, 0xEF, 0x01, 0x75, 0xF9,         /* 1: rdtsc; sub edi, 1; jnz 1b */
        0xF4 };
    _Static_assert(CODE + sizeof(code) <= HANDLER, "code runs into the handlers");
    struct vmdl_vm_config cfg = { .arch = VMDL_ARCH_X86_64, .ram_size = 16 << 20,
                                  .nr_vcpus = 2, .quantum = 1000,
                                  .no_fast_traps = slow };
    struct vmdl_vm *vm = boot_cfg(code, sizeof(code), &cfg);
    static const uint8_t ap[] = { 0xFE, 0x06, (uint8_t)AP_FLAG,
                                  (uint8_t)(AP_FLAG >> 8), 0xF4 };
    memcpy(vmdl_vm_ram_ptr(vm, AP_VECTOR << 12, sizeof(ap)), ap, sizeof(ap));
    assert_int_equal(vmdl_attach_lapic(vm, NULL), 0);
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + CODE + sizeof(code));
    out->eax = reg(vm, VMDL_X86_RAX);
    out->edx = reg(vm, VMDL_X86_RDX);
    out->rip = reg(vm, VMDL_X86_RIP);
    out->insns0 = vmdl_vcpu_insns(vmdl_vm_vcpu(vm, 0));
    out->insns1 = vmdl_vcpu_insns(vmdl_vm_vcpu(vm, 1));
    out->ap_flag = *(uint8_t *)vmdl_vm_ram_ptr(vm, AP_FLAG, 1);
    struct vmdl_vm_stats st;
    assert_int_equal(vmdl_vm_get_stats(vm, &st), 0);
    out->exits = st.exits;
    out->entries = st.entries;
    vmdl_vm_destroy(vm);
}

/* A vCPU running beside a halted one that nothing can wake keeps
 * completing its intercepts inside the engine across the ends of its
 * slices: the run loop would pick it again at once (it passes over the
 * halted vCPU after advancing its time), so leaving the engine would only
 * cost time.  Same TSC readings, counts and exits either way; the engine
 * is entered a few times per slice at most, not once per RDTSC. */
static void test_halted_vcpu_keeps_intercepts_in_engine(void **state)
{
    (void)state;
    struct smp_tsc_run fast, slow;
    run_halted_ap_rdtsc(false, &fast);
    run_halted_ap_rdtsc(true, &slow);
    assert_int_equal(slow.ap_flag, 1);
    assert_true(slow.insns0 > 9000);
    assert_int_equal(fast.eax, slow.eax);
    assert_int_equal(fast.edx, slow.edx);
    assert_int_equal(fast.rip, slow.rip);
    assert_int_equal(fast.insns0, slow.insns0);
    assert_int_equal(fast.insns1, slow.insns1);
    assert_int_equal(fast.ap_flag, slow.ap_flag);
    assert_int_equal(fast.exits, slow.exits);
    assert_true(slow.entries >= 3000);
    assert_true(fast.entries < 100);
}

/* A multiboot kernel's RDTSC costs VMDL_VTIME_HW_RDTSC_CYCLES beyond its
 * tick (vtime.h): a second RDTSC reads the first one's tick and weight and
 * the MOV's tick on, completed in the engine or not. */
static void test_rdtsc_weight_on_hosted_vcpu(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE,
        0x0F, 0x31, 0x89, 0xC6, 0x0F, 0x31, 0x29, 0xF0, 0xF4 };
    for (int slow = 0; slow < 2; slow++) {
        struct vmdl_vm_config cfg = { .arch = VMDL_ARCH_X86_64, .ram_size = 16 << 20,
                                      .no_fast_traps = slow };
        struct vmdl_vm *vm = boot_cfg(code, sizeof(code), &cfg);
        run_to_hlt(vm);
        assert_int_equal(reg(vm, VMDL_X86_RAX) & 0xFFFFFFFFu, 2 + VMDL_VTIME_HW_RDTSC_CYCLES);
        vmdl_vm_destroy(vm);
    }
}

/* What a one-shot APIC timer interrupting an RDTSC loop leaves. */
struct timer_tsc_run {
    uint64_t rip, esi, edi, eax, edx, insns, vtime, exits;
};

/* x2APIC on; LVT timer = IRQ_VEC (one-shot), divide by 1, TMICT = count;
 * sti; mov edi, 3000; 1: rdtsc; sub edi, 1; jnz 1b; hlt.  The interrupt
 * handler stores the interrupted EIP in ESI and halts. */
static void run_timer_in_rdtsc_loop(bool slow, uint32_t count, struct timer_tsc_run *out)
{
    static uint8_t code[] = { PROLOGUE, X2APIC_ON,
        0xB9, IMM32(0x832u), MOV_EAX(IRQ_VEC), 0x0F, 0x30,  /* LVT timer */
        0xB9, IMM32(0x83Eu), MOV_EAX(0xBu), 0x0F, 0x30,     /* TDCR: 1 */
        0xBF, IMM32(3000u), 0xFB,                           /* mov edi; sti */
        0xB9, IMM32(0x838u), MOV_EAX(0u), 0x0F, 0x30,       /* TMICT */
        0x0F, 0x31, 0x83, 0xEF, 0x01, 0x75, 0xF9,           /* the loop */
        0xF4 };
    _Static_assert(CODE + sizeof(code) <= HANDLER, "code runs into the handlers");
    put32(code + sizeof(code) - 14, count);       /* TMICT's MOV EAX */
    struct vmdl_vm_config cfg = { .arch = VMDL_ARCH_X86_64, .ram_size = 16 << 20,
                                  .no_fast_traps = slow };
    struct vmdl_vm *vm = boot_cfg(code, sizeof(code), &cfg);
    assert_int_equal(vmdl_attach_lapic(vm, NULL), 0);
    run_to_hlt(vm);
    out->rip = reg(vm, VMDL_X86_RIP);
    out->esi = reg(vm, VMDL_X86_RSI);
    out->edi = reg(vm, VMDL_X86_RDI);
    out->eax = reg(vm, VMDL_X86_RAX);
    out->edx = reg(vm, VMDL_X86_RDX);
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    out->insns = vmdl_vcpu_insns(v);
    out->vtime = vmdl_vcpu_vtime(v);
    struct vmdl_vm_stats st;
    assert_int_equal(vmdl_vm_get_stats(vm, &st), 0);
    out->exits = st.exits;
    vmdl_vm_destroy(vm);
}

/* RDTSCs completed in the engine without the loop's between-exits work
 * (nothing reached a deadline) leave a timer interrupt where every RDTSC
 * leaving the engine puts it: the same interrupted instruction, loop count,
 * last TSC reading, retired instructions and exits, for expiries landing
 * on each instruction of the three-instruction loop, right after an RDTSC
 * included. */
static void test_timer_lands_alike_with_quiet_rdtsc(void **state)
{
    (void)state;
    const uint64_t loop = LOAD + CODE + 84;        /* the RDTSC */
    for (uint32_t count = 2000; count < 2003; count++) {
        struct timer_tsc_run fast, slow;
        run_timer_in_rdtsc_loop(false, count, &fast);
        run_timer_in_rdtsc_loop(true, count, &slow);
        assert_int_equal(slow.rip, LOAD + IRQ_HANDLER + 2);
        assert_true(slow.esi >= loop && slow.esi <= loop + 5);
        assert_true(slow.edi > 0 && slow.edi < 3000);
        /* every field (all uint64_t: no padding) */
        assert_memory_equal(&fast, &slow, sizeof(fast));
    }
}

/* ---- paging bits that flush the TLB but keep translated code ---------- */

#define PD 0x200000u       /* page directory (4 MiB pages) */
#define RO_PAGE 0x400000u  /* VA of the second 4 MiB page */
#define CR4_ON(bits) 0x0F, 0x20, 0xE0, 0x0D, IMM32(bits), 0x0F, 0x22, 0xE0
#define CR3_PD 0xB8, IMM32(PD), 0x0F, 0x22, 0xD8
#define CR0_ON(bits) 0x0F, 0x20, 0xC0, 0x0D, IMM32(bits), 0x0F, 0x22, 0xC0

/* Boot code with a page directory of two 4 MiB pages: 0-4 MiB identity,
 * read-write; VA RO_PAGE -> PA pde1's frame with pde1's flags. */
static struct vmdl_vm *boot_paged(const uint8_t *code, size_t n, uint32_t pde1)
{
    struct vmdl_vm *vm = boot(code, n);
    uint8_t *pd = vmdl_vm_ram_ptr(vm, PD, 8);
    assert_non_null(pd);
    put32(pd, 0x00000083u);                          /* P, RW, PS */
    put32(pd + 4, pde1);
    gate32(vmdl_vm_ram_ptr(vm, LOAD + IDT, 48 * 8), 14, LOAD + HANDLER);
    return vm;
}

/* CR0.WP toggled, with QEMU's TLB holding an entry filled under the other
 * setting each time: a supervisor write to a read-only page goes through
 * once WP is clear, and faults (#PF, error code P|W) once WP is set again,
 * at the write (SDM vol. 3, 4.6.1). */
static void test_cr0_wp_toggle_rechecks_supervisor_writes(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE,
        CR4_ON(0x10u), CR3_PD, CR0_ON(0x80010000u),        /* PSE; PG, WP */
        0x8B, 0x1D, IMM32(RO_PAGE),                       /* mov ebx, [ro] */
        0x25, IMM32(~0x10000u), 0x0F, 0x22, 0xC0,         /* WP off */
        0xC7, 0x05, IMM32(RO_PAGE), IMM32(0x11u),         /* allowed */
        0x0D, IMM32(0x10000u), 0x0F, 0x22, 0xC0,          /* WP on */
        0xC7, 0x05, IMM32(RO_PAGE + 4), IMM32(0x22u),     /* #PF */
        0xF4 };
    _Static_assert(CODE + sizeof(code) <= HANDLER, "code runs into the handlers");
    struct vmdl_vm *vm = boot_paged(code, sizeof(code), RO_PAGE | 0x81u);   /* P, PS */
    run_to_hlt(vm);
    const uint8_t *ro = vmdl_vm_ram_ptr(vm, RO_PAGE, 8);
    assert_int_equal(ro[0], 0x11);
    assert_int_equal(ro[4], 0);
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + HANDLER + 3);
    assert_int_equal(reg(vm, VMDL_X86_RDI), 3);           /* P | W, CPL 0 */
    assert_int_equal(reg(vm, VMDL_X86_RSI), LOAD + CODE + sizeof(code) - 11);
    assert_int_equal(reg(vm, VMDL_X86_CR0) & 0x80010000u, 0x80010000u);
    vmdl_vm_destroy(vm);
}

/* A global translation is gone after CR4.PGE is toggled: the page
 * directory entry rewritten behind it is walked again (SDM vol. 3,
 * 4.10.4.1: "MOV to CR4 ... modifies CR4.PGE: all TLB entries are
 * invalidated, including global ones").  (Whether it survives a CR3 write
 * is the processor's choice; QEMU drops it.) */
static void test_cr4_pge_toggle_drops_global_translations(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE,
        CR4_ON(0x90u), CR3_PD, CR0_ON(0x80000000u),        /* PSE, PGE; PG */
        0x8B, 0x1D, IMM32(RO_PAGE),                       /* mov ebx, [va] */
        0xC7, 0x05, IMM32(PD + 4), IMM32(0x00C00181u),    /* pde1 -> 12 MiB */
        0x0F, 0x20, 0xE0, 0x25, IMM32(~0x80u), 0x0F, 0x22, 0xE0,  /* PGE off */
        0x0D, IMM32(0x80u), 0x0F, 0x22, 0xE0,             /* PGE on */
        0x8B, 0x0D, IMM32(RO_PAGE),                       /* mov ecx, [va] */
        0xF4 };
    _Static_assert(CODE + sizeof(code) <= HANDLER, "code runs into the handlers");
    struct vmdl_vm *vm = boot_paged(code, sizeof(code), 0x00800181u);   /* P, PS, G */
    put32(vmdl_vm_ram_ptr(vm, 0x800000, 4), 0xAAAAu);
    put32(vmdl_vm_ram_ptr(vm, 0xC00000, 4), 0xBBBBu);
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + CODE + sizeof(code));
    assert_int_equal(reg(vm, VMDL_X86_RBX), 0xAAAA);
    assert_int_equal(reg(vm, VMDL_X86_RCX), 0xBBBB);
    assert_int_equal(reg(vm, VMDL_X86_CR4) & 0x90u, 0x90u);
    vmdl_vm_destroy(vm);
}

/* ---- CR0/CR4 accesses completed inside the engine --------------------- */

/* What one run of a CR loop leaves. */
struct cr_run {
    uint64_t rax, rbx, rcx, rdi, rsi, rip, cr0, cr4, insns, exits, entries;
};

static void run_cr_code(const uint8_t *code, size_t n, uint32_t pde1, bool slow,
                        struct cr_run *out)
{
    struct vmdl_vm_config cfg = { .arch = VMDL_ARCH_X86_64, .ram_size = 16 << 20,
                                  .no_fast_traps = slow };
    struct vmdl_vm *vm = boot_cfg(code, n, &cfg);
    uint8_t *pd = vmdl_vm_ram_ptr(vm, PD, 8);
    put32(pd, 0x00000083u);                          /* P, RW, PS */
    put32(pd + 4, pde1);
    gate32(vmdl_vm_ram_ptr(vm, LOAD + IDT, 48 * 8), 14, LOAD + HANDLER);
    put32(vmdl_vm_ram_ptr(vm, RO_PAGE, 4), 0xAAAAu);
    put32(vmdl_vm_ram_ptr(vm, 0x800000, 4), 0xBBBBu);
    run_to_hlt(vm);
    out->rax = reg(vm, VMDL_X86_RAX);
    out->rbx = reg(vm, VMDL_X86_RBX);
    out->rcx = reg(vm, VMDL_X86_RCX);
    out->rdi = reg(vm, VMDL_X86_RDI);
    out->rsi = reg(vm, VMDL_X86_RSI);
    out->rip = reg(vm, VMDL_X86_RIP);
    out->cr0 = reg(vm, VMDL_X86_CR0);
    out->cr4 = reg(vm, VMDL_X86_CR4);
    out->insns = vmdl_vcpu_insns(vmdl_vm_vcpu(vm, 0));
    struct vmdl_vm_stats st;
    assert_int_equal(vmdl_vm_get_stats(vm, &st), 0);
    out->exits = st.exits;
    out->entries = st.entries;
    vmdl_vm_destroy(vm);
}

/* The same guest with and without in-engine completion (no_fast_traps):
 * the same registers, counts and exits. */
static void run_cr_both(const uint8_t *code, size_t n, uint32_t pde1,
                        struct cr_run *fast, struct cr_run *slow)
{
    run_cr_code(code, n, pde1, false, fast);
    run_cr_code(code, n, pde1, true, slow);
    assert_int_equal(fast->rax, slow->rax);
    assert_int_equal(fast->rbx, slow->rbx);
    assert_int_equal(fast->rcx, slow->rcx);
    assert_int_equal(fast->rdi, slow->rdi);
    assert_int_equal(fast->rsi, slow->rsi);
    assert_int_equal(fast->rip, slow->rip);
    assert_int_equal(fast->cr0, slow->cr0);
    assert_int_equal(fast->cr4, slow->cr4);
    assert_int_equal(fast->insns, slow->insns);
    assert_int_equal(fast->exits, slow->exits);
}

/* 200 rounds of MOV from CR0, CR0.WP toggled, CR4.PGE toggled (the
 * kvm-unit-tests vmexit toggle_cr0_wp / toggle_cr4_pge pattern): each
 * access is an intercept, completed inside the engine (a few engine
 * entries in all, not one per MOV), with the same outcome as on the exit
 * path. */
static void test_cr_toggles_complete_in_engine(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE,
        0xBF, IMM32(200u),                                /* mov edi, 200 */
        0x0F, 0x20, 0xC0, 0x35, IMM32(0x10000u), 0x0F, 0x22, 0xC0,  /* CR0.WP ^= 1 */
        0x0F, 0x20, 0xE3, 0x81, 0xF3, IMM32(0x80u), 0x0F, 0x22, 0xE3, /* CR4.PGE ^= 1 */
        0x0F, 0x20, 0xC1,                                 /* mov ecx, cr0 */
        0x83, 0xEF, 0x01, 0x75, 0xE1,                     /* sub edi, 1; jnz */
        0xF4 };
    _Static_assert(CODE + sizeof(code) <= HANDLER, "code runs into the handlers");
    struct cr_run fast, slow;
    run_cr_both(code, sizeof(code), 0, &fast, &slow);
    assert_int_equal(fast.rip, LOAD + CODE + sizeof(code));
    assert_int_equal(fast.rdi, 0);
    assert_int_equal(fast.cr0 & 0x10000u, 0);             /* toggled 200 times */
    assert_int_equal(fast.cr4 & 0x80u, 0);
    assert_int_equal(fast.rcx, fast.cr0 & 0xFFFFFFFFu);
    assert_true(slow.entries >= 600);
    assert_true(fast.entries < 20);
}

/* CR0.ET is hardwired to 1 (SDM vol. 3A, 2.5; KVM's kvm_set_cr0 sets it in
 * every value): a MOV to CR0 from a source without ET leaves it set, and
 * MOV from CR0 and SMSW read it back, in the engine as on the exit path. */
static void test_cr0_et_reads_as_one(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE,
        0xB8, IMM32(0x10001u), 0x0F, 0x22, 0xC0,          /* cr0 = PE | WP */
        0x0F, 0x20, 0xC3,                                 /* mov ebx, cr0 */
        0x35, IMM32(0x10000u), 0x0F, 0x22, 0xC0,          /* cr0 = PE */
        0x0F, 0x20, 0xC1,                                 /* mov ecx, cr0 */
        0x0F, 0x01, 0xE6,                                 /* smsw esi */
        0xF4 };
    _Static_assert(CODE + sizeof(code) <= HANDLER, "code runs into the handlers");
    struct cr_run fast, slow;
    run_cr_both(code, sizeof(code), 0, &fast, &slow);
    assert_int_equal(fast.rip, LOAD + CODE + sizeof(code));
    assert_int_equal(fast.rax, 0x1u);
    assert_int_equal(fast.rbx & 0xFFFFFFFFu, 0x10011u);
    assert_int_equal(fast.rcx & 0xFFFFFFFFu, 0x11u);
    assert_int_equal(fast.rsi & 0xFFFFFFFFu, 0x11u);
    assert_int_equal(fast.cr0 & 0xFFFFFFFFu, 0x11u);
}

/* A MOV to CR0 that sets NW without CD, and a MOV to CR4 with a reserved
 * bit (bit 31), in a loop whose WP toggles complete in the engine: both
 * still raise #GP(0) at the MOV and leave the register as it was (KVM's
 * kvm_set_cr0 / kvm_is_valid_cr4). */
static void test_cr_reserved_bits_gp_beside_fast_toggles(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE,
        0xBF, IMM32(50u),
        0x0F, 0x20, 0xC0, 0x35, IMM32(0x10000u), 0x0F, 0x22, 0xC0,  /* WP ^= 1 */
        0x83, 0xEF, 0x01, 0x75, 0xF0,
        0x0F, 0x20, 0xE3, 0x81, 0xCB, IMM32(0x80000000u), /* or ebx, bit 31 */
        0x0F, 0x22, 0xE3,                                 /* mov cr4, ebx: #GP */
        0xF4 };
    static const uint8_t code_nw[] = { PROLOGUE,
        0xBF, IMM32(50u),
        0x0F, 0x20, 0xC0, 0x35, IMM32(0x10000u), 0x0F, 0x22, 0xC0,
        0x83, 0xEF, 0x01, 0x75, 0xF0,
        0x0F, 0x20, 0xC0, 0x25, IMM32(~0x40000000u),      /* CD off */
        0x0D, IMM32(0x20000000u), 0x0F, 0x22, 0xC0,       /* NW on: #GP */
        0xF4 };
    _Static_assert(CODE + sizeof(code_nw) <= HANDLER, "code runs into the handlers");
    struct cr_run fast, slow;
    run_cr_both(code, sizeof(code), 0, &fast, &slow);
    assert_int_equal(fast.rip, LOAD + HANDLER + 3);
    assert_int_equal(fast.rdi, 0);                        /* error code */
    assert_int_equal(fast.rsi, LOAD + CODE + sizeof(code) - 4);
    assert_int_equal(fast.cr4 >> 31, 0);
    assert_true(fast.entries < slow.entries);
    run_cr_both(code_nw, sizeof(code_nw), 0, &fast, &slow);
    assert_int_equal(fast.rip, LOAD + HANDLER + 3);
    assert_int_equal(fast.rdi, 0);
    assert_int_equal(fast.rsi, LOAD + CODE + sizeof(code_nw) - 4);
    assert_int_equal(fast.cr0 & 0x20000000u, 0);
    assert_true(fast.entries < slow.entries);
}

/* CR0.PG toggled 20 times in a loop (paging with the page directory of
 * boot_paged: VA RO_PAGE maps PA 8 MiB): every change of PG drops the
 * translated code and leaves the engine (drops_code), and each read of
 * VA RO_PAGE goes through the mode just set: the physical page with PG
 * clear, the mapped one with PG set. */
static void test_cr0_pg_toggles_take_the_exit_path(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE,
        CR4_ON(0x10u), CR3_PD, CR0_ON(0x80000000u),       /* PSE; PG */
        0xBF, IMM32(20u), 0x31, 0xDB, 0x31, 0xC9,         /* edi = 20; ebx = ecx = 0 */
        0x0F, 0x20, 0xC0, 0x35, IMM32(0x80000000u), 0x0F, 0x22, 0xC0,  /* PG off */
        0x03, 0x1D, IMM32(RO_PAGE),                       /* add ebx, [va] */
        0x0F, 0x20, 0xC0, 0x35, IMM32(0x80000000u), 0x0F, 0x22, 0xC0,  /* PG on */
        0x03, 0x0D, IMM32(RO_PAGE),                       /* add ecx, [va] */
        0x83, 0xEF, 0x01, 0x75, 0xD9,
        0xF4 };
    _Static_assert(CODE + sizeof(code) <= HANDLER, "code runs into the handlers");
    struct cr_run fast, slow;
    run_cr_both(code, sizeof(code), 0x00800083u, &fast, &slow);
    assert_int_equal(fast.rip, LOAD + CODE + sizeof(code));
    assert_int_equal(fast.rbx, 20 * 0xAAAAu);             /* PA 4 MiB */
    assert_int_equal(fast.rcx, 20 * 0xBBBBu);             /* PA 8 MiB */
    assert_int_equal(fast.cr0 >> 31, 1);
    assert_true(fast.entries >= 40);                      /* one per PG change */
    assert_true(slow.entries >= 80);                      /* and per CR0 read */
}

/* KVM_HC_SEND_IPI (kvm_pv_send_ipi) through the APIC model: a bitmap
 * from min = 0xFFFFFFFF reaches nobody (0, kvm-unit-tests' apic test),
 * bit 0 from min 0 is this vCPU's APIC (1), and the interrupt is taken. */
static void test_vmcall_pv_send_ipi(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE, X2APIC_ON,
        MOV_EAX(10u), 0xBB, IMM32(0xFFFFFFFFu), 0x31, 0xC9,  /* a0 = ~0, a1 = 0 */
        0xBA, IMM32(0xFFFFFFFFu), 0xBE, IMM32(IRQ_VEC),       /* min, icr */
        0x0F, 0x01, 0xC1, 0x89, 0xC7,                         /* vmcall; edi = eax */
        MOV_EAX(10u), 0xBB, IMM32(1u), 0x31, 0xD2,            /* a0 = 1, min 0 */
        0x0F, 0x01, 0xC1,
        0xFB, 0x90, 0x90, 0xF4 };                             /* sti; nop; nop; hlt */
    _Static_assert(CODE + sizeof(code) <= HANDLER, "code runs into the handlers");
    struct vmdl_vm *vm = boot_lapic(code, sizeof(code));
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RDI), 0);
    assert_int_equal(reg(vm, VMDL_X86_RAX), 1);
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + IRQ_HANDLER + 2);
    assert_int_equal(reg(vm, VMDL_X86_RSI), LOAD + CODE + sizeof(code) - 2);
    vmdl_vm_destroy(vm);
}

static void test_refusals(void **state)
{
    (void)state;
    uint8_t junk[64] = { 0 };
    struct vmdl_vm_config cfg = { .arch = VMDL_ARCH_X86_64, .ram_size = 16 << 20 };
    struct vmdl_vm *vm;
    assert_int_equal(vmdl_vm_create(&cfg, &vm), 0);
    assert_int_equal(vmdl_vm_load_multiboot(vm, junk, sizeof(junk), NULL), VMDL_ENOENT);
    vmdl_vm_destroy(vm);
    cfg.arch = VMDL_ARCH_ARM64;
    assert_int_equal(vmdl_vm_create(&cfg, &vm), 0);
    static uint8_t img[IMG];
    make_image(img, (const uint8_t[]){ 0xF4 }, 1);
    assert_int_equal(vmdl_vm_load_multiboot(vm, img, IMG, NULL), VMDL_EINVAL);
    vmdl_vm_destroy(vm);
    /* hosted vCPUs are checkpointed (format 5, test_checkpoint): a fresh
     * VM restores the same state; CR0 is not written from outside */
    vm = boot((const uint8_t[]){ 0xF4 }, 1);
    uint8_t *blob = NULL;
    size_t len = 0;
    assert_int_equal(vmdl_vm_checkpoint_save(vm, &blob, &len), 0);
    struct vmdl_vm *again = boot((const uint8_t[]){ 0xF4 }, 1);
    assert_int_equal(vmdl_vm_checkpoint_restore(again, blob, len), 0);
    assert_int_equal(vmdl_vm_state_digest(again), vmdl_vm_state_digest(vm));
    vmdl_vm_destroy(again);
    free(blob);
    assert_int_equal(vmdl_vcpu_set_reg(vmdl_vm_vcpu(vm, 0), VMDL_X86_CR0, 0),
                     VMDL_ENOTSUP);
    vmdl_vm_destroy(vm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_boot_state_is_multiboot),
        cmocka_unit_test(test_gp_error_code_through_idt32),
        cmocka_unit_test(test_fault_frame_has_rf),
        cmocka_unit_test(test_arch_msr_round_trip_and_gp),
        cmocka_unit_test(test_unknown_msr_gp),
        cmocka_unit_test(test_cr4_reserved_bits_gp),
        cmocka_unit_test(test_cr4_osxsave_needs_xsave),
        cmocka_unit_test(test_dr7_dr6_masks),
        cmocka_unit_test(test_dr0_instruction_breakpoint),
        cmocka_unit_test(test_rf_suppresses_instruction_breakpoint),
        cmocka_unit_test(test_dr1_write_watchpoint_traps_after_store),
        cmocka_unit_test(test_watchpoint_after_mov_ss_waits_one_insn),
        cmocka_unit_test(test_dr4_alias_and_ud_with_cr4_de),
        cmocka_unit_test(test_dr7_general_detect),
        cmocka_unit_test(test_icebp_trap),
        cmocka_unit_test(test_single_step_after_emulated_insn),
        cmocka_unit_test(test_irq_taken_after_sti_shadow),
        cmocka_unit_test(test_irq_wakes_hlt_in_sti_shadow),
        cmocka_unit_test(test_irq_ack_by_hook),
        cmocka_unit_test(test_ioapic_edge_through_testdev),
        cmocka_unit_test(test_ioapic_level_eoi_clears_remote_irr),
        cmocka_unit_test(test_unassigned_and_testdev_memory),
        cmocka_unit_test(test_acpi_rsdp_and_pm_timer),
        cmocka_unit_test(test_com1_line_status),
        cmocka_unit_test(test_nmi_blocked_until_iret),
        cmocka_unit_test(test_nmis_collapse_while_blocked),
        cmocka_unit_test(test_nmi_waits_for_sti_shadow),
        cmocka_unit_test(test_apic_base_relocates_mmio_window),
        cmocka_unit_test(test_cpuid_apic_bit_follows_apic_base),
        cmocka_unit_test(test_in_engine_intercepts_match_exit_path),
        cmocka_unit_test(test_in_engine_wrmsr_irq_taken_after_it),
        cmocka_unit_test(test_int_n_not_present_gate_faults_on_insn),
        cmocka_unit_test(test_ram_above_4g_in_map_and_fw_cfg),
        cmocka_unit_test(test_patched_code_runs_after_mov_cr0),
        cmocka_unit_test(test_iret_to_cpl3_keeps_gs_base),
        cmocka_unit_test(test_iretq_to_cpl3_user_reads_through_gs_base),
        cmocka_unit_test(test_deliver64_frames_match_qemu_delivery),
        cmocka_unit_test(test_deliver64_unwritable_stack_is_double_fault),
        cmocka_unit_test(test_deliver64_nested_ept_frames_match),
        cmocka_unit_test(test_deliver64_nested_ept_refused_stack),
        cmocka_unit_test(test_cr8_and_apic_tpr_agree),
        cmocka_unit_test(test_vmcall_is_kvm_hypercall),
        cmocka_unit_test(test_aps_wait_for_sipi_at_power_on),
        cmocka_unit_test(test_ap_starts_on_init_then_sipi),
        cmocka_unit_test(test_insn_count_32bit_loop),
        cmocka_unit_test(test_insn_count_real_mode_loop),
        cmocka_unit_test(test_vmcall_pv_send_ipi),
        cmocka_unit_test(test_halted_vcpu_keeps_intercepts_in_engine),
        cmocka_unit_test(test_timer_lands_alike_with_quiet_rdtsc),
        cmocka_unit_test(test_rdtsc_weight_on_hosted_vcpu),
        cmocka_unit_test(test_cr0_wp_toggle_rechecks_supervisor_writes),
        cmocka_unit_test(test_cr4_pge_toggle_drops_global_translations),
        cmocka_unit_test(test_cr_toggles_complete_in_engine),
        cmocka_unit_test(test_cr0_et_reads_as_one),
        cmocka_unit_test(test_cr_reserved_bits_gp_beside_fast_toggles),
        cmocka_unit_test(test_cr0_pg_toggles_take_the_exit_path),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_sys_state_round_trip),
        cmocka_unit_test(test_debugctl_kvm_rules),
        cmocka_unit_test(test_sys_state_dr7_debugctl),
        cmocka_unit_test(test_msr_access_from_outside),
        cmocka_unit_test(test_vmx_insn_in_mov_ss_shadow),
        cmocka_unit_test(test_event_hook_cpuid),
        cmocka_unit_test(test_sys_state_refused_off_hosted),
        cmocka_unit_test(test_nested_io_exits),
        cmocka_unit_test(test_nested_cr0_shadow),
        cmocka_unit_test(test_nested_inject_event),
        cmocka_unit_test(test_nested_int3_into_offered),
        cmocka_unit_test(test_nested_int3_declined_delivered),
        cmocka_unit_test(test_nested_inject_refused),
        cmocka_unit_test(test_nested_triple_fault),
        cmocka_unit_test(test_step_next),
        cmocka_unit_test(test_nested_rdrand_invd),
        cmocka_unit_test(test_nested_rdtscp_ud),
        cmocka_unit_test(test_nested_db_payload),
        cmocka_unit_test(test_sys_state_interruptibility),
        cmocka_unit_test(test_nested_nmi_window),
        cmocka_unit_test(test_npt_remaps_and_faults),
        cmocka_unit_test(test_npt_off_is_identity),
        cmocka_unit_test(test_pdpte_registers_until_cr3_write),
        cmocka_unit_test(test_pdpte_registers_without_second_stage),
        cmocka_unit_test(test_pdpte_registers_end_at_cr4_paging_write),
        cmocka_unit_test(test_pdpte_registers_kept_by_other_cr_writes),
        cmocka_unit_test(test_pdpte_registers_survive_checkpoint),
        cmocka_unit_test(test_pdpte_reload_reserved_bit_is_gp),
        cmocka_unit_test(test_pdpte_registers_end_with_paging),
        cmocka_unit_test(test_npf_describes_and_completes_mov),
        cmocka_unit_test(test_npt_paging_turned_on_32bit),
        cmocka_unit_test(test_npt_paging_turned_on_pae),
        cmocka_unit_test(test_npt_change_after_step_no_stray_fault),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
