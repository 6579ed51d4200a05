/* SPDX-License-Identifier: MIT */
/*
 * Instructions the hosted x86 vCPU completes itself because Unicorn's QEMU
 * 5.0 does them differently from hardware (and QEMU 7.2, and KVM): LMSW with
 * a memory operand, SMSW and MOV from CR0, PUSHF's flags image.  The guests
 * are multiboot images assembled here by hand (32-bit protected mode, no
 * paging unless the probe turns it on), with an IDT whose gate for vector
 * n runs a stub that leaves the vector in EDI, the error code (if any) in
 * ESI and the faulting EIP in EBP, then halts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hosted_test_util.h"

#include "virtmodel/checkpoint.h"
#include "virtmodel/error.h"
#include "virtmodel/loader.h"
#include "virtmodel/machine.h"
#include "virtmodel/models.h"
#include "virtmodel/multiboot.h"

#define LOAD 0x100000u
#define IMG 0x4000
#define CODE 0x20
#define IDTR 0x200
#define DATA 0x300
#define IDT 0x400
#define STUBS 0x600      /* 8 bytes per vector */
#define NR_GATES 64
#define PD 0x1000        /* a page directory, if the probe pages */
/* IDT 0x400-0x5FF and stubs 0x600-0x7FF stay below PD */
#define NO_ERR 0xEEEEEEEEu

static void put32(uint8_t *p, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static bool has_error(unsigned vec)
{
    return vec == 8 || (vec >= 10 && vec <= 14) || vec == 17;
}

/* The 8259 master re-initialised with vector base 0x20 and mask imr
 * (ICW1 0x11, ICW2 0x20, ICW3 0x04, ICW4 0x01, OCW1). */
#define PIC_AT_0X20(imr) 0xB0, 0x11, 0xE6, 0x20, 0xB0, 0x20, 0xE6, 0x21, 0xB0, 0x04, \
    0xE6, 0x21, 0xB0, 0x01, 0xE6, 0x21, 0xB0, imr, 0xE6, 0x21

/* Vectors 0-63: pop esi (error code, if any); pop ebp; mov edi, vec; hlt. */
static void make_idt(uint8_t *b)
{
    b[IDTR] = (uint8_t)(NR_GATES * 8 - 1);
    b[IDTR + 1] = (NR_GATES * 8 - 1) >> 8;
    put32(b + IDTR + 2, LOAD + IDT);
    for (unsigned vec = 0; vec < NR_GATES; vec++) {
        uint8_t *s = b + STUBS + vec * 8, *g = b + IDT + vec * 8;
        unsigned i = 0;
        if (has_error(vec))
            s[i++] = 0x5E;
        s[i++] = 0x5D;
        s[i++] = 0xBF;
        put32(s + i, vec);
        s[i + 4] = 0xF4;
        uint32_t target = LOAD + STUBS + vec * 8;
        put32(g, (target & 0xFFFF) | (0x10u << 16));
        put32(g + 4, (target & 0xFFFF0000u) | 0x8E00u);
    }
}

/* mov esp, LOAD + 0x8000; lidt [LOAD + IDTR]; mov esi, NO_ERR */
#define PROLOGUE 0xBC, 0x00, 0x80, 0x10, 0x00, 0x0F, 0x01, 0x1D, 0x00, 0x02, 0x10, 0x00, \
                 0xBE, 0xEE, 0xEE, 0xEE, 0xEE

/* Applied to the next image boot() builds, then cleared. */
static void (*patch_image)(uint8_t *img);
/* The next VM boot() makes has no in-engine completions (no_fast_traps:
 * every intercept and interrupt takes the general path), then cleared. */
static bool boot_slow;

static struct vmdl_vm *boot(const uint8_t *code, size_t n)
{
    static uint8_t img[IMG];
    memset(img, 0xF4, sizeof(img));
    memset(img + DATA, 0, 0x100);
    memset(img + PD, 0, 0x1000);
    put32(img, VMDL_MB_HEADER_MAGIC);
    put32(img + 4, VMDL_MB_FLAG_AOUT_KLUDGE);
    put32(img + 8, (uint32_t)-(VMDL_MB_HEADER_MAGIC + VMDL_MB_FLAG_AOUT_KLUDGE));
    put32(img + 12, LOAD);
    put32(img + 16, LOAD);
    put32(img + 20, 0);
    put32(img + 24, 0);
    put32(img + 28, LOAD + CODE);
    assert_true(n <= IDTR - CODE);
    memcpy(img + CODE, code, n);
    make_idt(img);
    if (patch_image)
        patch_image(img);
    patch_image = NULL;
    struct vmdl_vm_config cfg = { .arch = VMDL_ARCH_X86_64, .ram_size = 16 << 20,
                                  .no_fast_traps = boot_slow };
    boot_slow = false;
    struct vmdl_vm *vm;
    assert_int_equal(vmdl_vm_create(&cfg, &vm), 0);
    struct vmdl_mb_boot mb = { "-x", NULL, 0 };
    assert_int_equal(vmdl_vm_load_multiboot(vm, img, sizeof(img), &mb), 0);
    return vm;
}


/* Halted in the probe itself (no exception): EDI still the prologue's. */
static void assert_no_exception(struct vmdl_vm *vm)
{
    uint64_t rip = reg(vm, VMDL_X86_RIP);
    assert_true(rip > LOAD + CODE && rip <= LOAD + IDTR);
}

static uint32_t ram32(struct vmdl_vm *vm, uint64_t pa)
{
    const uint8_t *p = vmdl_vm_ram_ptr(vm, pa, 4);
    assert_non_null(p);
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static void test_lmsw_memory_operand(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE,
        0xBB, 0x00, 0x03, 0x10, 0x00,             /* mov ebx, LOAD + DATA */
        0x66, 0xC7, 0x43, 0x02, 0x0B, 0x00,       /* mov word [ebx + 2], 0xB */
        0x0F, 0x01, 0x73, 0x02,                   /* lmsw [ebx + 2] */
        0x0F, 0x20, 0xC0,                         /* mov eax, cr0 */
        0x66, 0xC7, 0x05, 0x00, 0x03, 0x00, 0x00, 0x02, 0x00, /* mov word [0x300], 2 */
        0xBE, 0x00, 0x03, 0x10, 0x00,             /* mov esi, LOAD + DATA */
        0x31, 0xDB,                               /* xor ebx, ebx */
        0x67, 0x0F, 0x01, 0x30,                   /* lmsw [bx + si]: 16-bit EA */
        0x0F, 0x20, 0xC2,                         /* mov edx, cr0 */
        0xF4 };
    /* With 16-bit addressing [bx + si] is SI's low 16 bits: 0x300; LMSW 2
     * sets MP, clears EM/TS and cannot clear PE. */
    struct vmdl_vm *vm = boot(code, sizeof(code));
    run_to_hlt(vm);
    assert_no_exception(vm);
    assert_int_equal(reg(vm, VMDL_X86_RAX) & 0xF, 0xB);
    assert_int_equal(reg(vm, VMDL_X86_RDX) & 0xF, 0x3);
    vmdl_vm_destroy(vm);
}

static void test_lmsw_memory_operand_page_fault(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE,
        0x0F, 0x20, 0xE0, 0x83, 0xC8, 0x10, 0x0F, 0x22, 0xE0, /* CR4.PSE */
        0xB8, 0x00, 0x10, 0x10, 0x00,             /* mov eax, LOAD + PD */
        0xC7, 0x00, 0x83, 0x00, 0x00, 0x00,       /* PDE 0: 4 MiB at 0, P|RW|PS */
        0x0F, 0x22, 0xD8,                         /* mov cr3, eax */
        0x0F, 0x20, 0xC0, 0x0D, 0x00, 0x00, 0x00, 0x80,
        0x0F, 0x22, 0xC0,                         /* CR0.PG */
        0xBB, 0x00, 0x00, 0x80, 0x00,             /* mov ebx, 0x800000 */
        0x0F, 0x01, 0x33,                         /* lmsw [ebx]: not present */
        0xF4 };
    struct vmdl_vm *vm = boot(code, sizeof(code));
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RDI), 14);
    assert_int_equal(reg(vm, VMDL_X86_RSI), 0);          /* read, supervisor, not present */
    assert_int_equal(reg(vm, VMDL_X86_RBP), LOAD + CODE + 17 + 39);   /* the LMSW */
    assert_int_equal(reg(vm, VMDL_X86_CR2), 0x800000);
    vmdl_vm_destroy(vm);
}

/* A supervisor write to a read-only 4 MiB page under 32-bit paging with
 * CR0.WP: #PF with P|W (error code 3) at the MOV, and CR2 the linear
 * address written (SDM vol. 3A 4.7), not QEMU's TLB sentinel.  The first
 * 4 MiB (code, stack, IDT) stay writable. */
static void test_pse_write_to_read_only_4m_page_cr2(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE,
        0x0F, 0x20, 0xE0, 0x83, 0xC8, 0x10, 0x0F, 0x22, 0xE0, /* CR4.PSE */
        0xB8, 0x00, 0x10, 0x10, 0x00,             /* mov eax, LOAD + PD */
        0xC7, 0x00, 0x83, 0x00, 0x00, 0x00,       /* PDE 0: 4 MiB at 0, P|RW|PS */
        0xC7, 0x40, 0x04, 0x81, 0x00, 0x40, 0x00, /* PDE 1: 4 MiB at 4 MiB, P|PS */
        0x0F, 0x22, 0xD8,                         /* mov cr3, eax */
        0x0F, 0x20, 0xC0, 0x0D, 0x00, 0x00, 0x01, 0x80,
        0x0F, 0x22, 0xC0,                         /* CR0.PG|WP */
        0xBB, 0x34, 0x12, 0x50, 0x00,             /* mov ebx, 0x501234 */
        0x8B, 0x0B,                               /* mov ecx, [ebx]: readable */
        0xC7, 0x03, 0x01, 0x00, 0x00, 0x00,       /* mov dword [ebx], 1 */
        0xF4 };
    struct vmdl_vm *vm = boot(code, sizeof(code));
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RDI), 14);
    assert_int_equal(reg(vm, VMDL_X86_RSI), 3);          /* write, supervisor, present */
    assert_int_equal(reg(vm, VMDL_X86_RBP), LOAD + CODE + 17 + 48);   /* the MOV */
    assert_int_equal(reg(vm, VMDL_X86_CR2), 0x501234);
    vmdl_vm_destroy(vm);
}

/* The same with a not-present 4 MiB page: every #PF under 32-bit paging
 * lost its CR2 (Unicorn's end-of-run walk of 0x7fffffffffffffff faulted
 * too, on the unmapped 0xFFFFFFFF, and overwrote EXITINFO2). */
static void test_pse_write_to_not_present_page_cr2(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE,
        0x0F, 0x20, 0xE0, 0x83, 0xC8, 0x10, 0x0F, 0x22, 0xE0, /* CR4.PSE */
        0xB8, 0x00, 0x10, 0x10, 0x00,             /* mov eax, LOAD + PD */
        0xC7, 0x00, 0x83, 0x00, 0x00, 0x00,       /* PDE 0: 4 MiB at 0, P|RW|PS */
        0x0F, 0x22, 0xD8,                         /* mov cr3, eax */
        0x0F, 0x20, 0xC0, 0x0D, 0x00, 0x00, 0x00, 0x80,
        0x0F, 0x22, 0xC0,                         /* CR0.PG */
        0xBB, 0x08, 0x00, 0x90, 0x00,             /* mov ebx, 0x900008 */
        0x89, 0x0B,                               /* mov [ebx], ecx */
        0xF4 };
    struct vmdl_vm *vm = boot(code, sizeof(code));
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RDI), 14);
    assert_int_equal(reg(vm, VMDL_X86_RSI), 2);          /* write, not present */
    assert_int_equal(reg(vm, VMDL_X86_RBP), LOAD + CODE + 17 + 39);
    assert_int_equal(reg(vm, VMDL_X86_CR2), 0x900008);
    vmdl_vm_destroy(vm);
}

static void test_smsw_stores_cr0(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE,
        0x0F, 0x20, 0xC3,                         /* mov ebx, cr0 */
        0x81, 0xCB, 0x00, 0x00, 0x00, 0x40,       /* or ebx, CR0.CD */
        0x0F, 0x22, 0xC3,                         /* mov cr0, ebx */
        0xB8, 0x78, 0x56, 0x34, 0x12,             /* mov eax, 0x12345678 */
        0x0F, 0x01, 0xE0,                         /* smsw eax */
        0xB9, 0x78, 0x56, 0x34, 0x12,             /* mov ecx, 0x12345678 */
        0x66, 0x0F, 0x01, 0xE1,                   /* smsw cx */
        0xC7, 0x05, 0x00, 0x03, 0x10, 0x00, 0xAA, 0xAA, 0xAA, 0xAA,
        0x0F, 0x01, 0x25, 0x00, 0x03, 0x10, 0x00, /* smsw [LOAD + DATA] */
        0x8B, 0x15, 0x00, 0x03, 0x10, 0x00,       /* mov edx, [LOAD + DATA] */
        0xF4 };
    struct vmdl_vm *vm = boot(code, sizeof(code));
    run_to_hlt(vm);
    assert_no_exception(vm);
    uint64_t cr0 = reg(vm, VMDL_X86_CR0);
    assert_true(cr0 & 0x40000000u);
    /* SMSW r32: all of CR0's low 32 bits (hardware, QEMU 7.2, KVM) */
    assert_int_equal(reg(vm, VMDL_X86_RAX), cr0);
    assert_int_equal(reg(vm, VMDL_X86_RBX), cr0);
    /* SMSW r16: the low 16 bits, the rest of the register kept */
    assert_int_equal(reg(vm, VMDL_X86_RCX), 0x12340000u | (cr0 & 0xFFFF));
    /* SMSW m16: 16 bits stored */
    assert_int_equal(reg(vm, VMDL_X86_RDX), 0xAAAA0000u | (cr0 & 0xFFFF));
    assert_int_equal(ram32(vm, LOAD + DATA), 0xAAAA0000u | (cr0 & 0xFFFF));
    vmdl_vm_destroy(vm);
}

static void test_pushf_image_has_no_rf(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE,
        0x9C, 0x58,                               /* pushfd; pop eax */
        0x0D, 0x00, 0x00, 0x01, 0x00,             /* or eax, RF */
        0x50, 0x0E,                               /* push eax; push cs */
        0xE8, 0x02, 0x00, 0x00, 0x00,             /* call 1f */
        0xEB, 0x01,                               /* jmp 2f */
        0xCF,                                     /* 1: iretd (sets RF) */
        0x9C, 0x5B,                               /* 2: pushfd; pop ebx */
        0x66, 0x9C, 0x66, 0x59,                   /* pushfw; pop cx */
        0x9C, 0x5A,                               /* pushfd; pop edx */
        0xF4 };
    struct vmdl_vm *vm = boot(code, sizeof(code));
    run_to_hlt(vm);
    assert_no_exception(vm);
    assert_true(reg(vm, VMDL_X86_RAX) & 0x10000u);
    /* PUSHF stores RF (and VM) as 0 (SDM vol. 2B, PUSHF) */
    assert_int_equal(reg(vm, VMDL_X86_RBX) & 0x30000u, 0);
    assert_int_equal(reg(vm, VMDL_X86_RBX) & 0xFFFFu, reg(vm, VMDL_X86_RCX) & 0xFFFFu);
    assert_int_equal(reg(vm, VMDL_X86_RDX) & 0x30000u, 0);
    assert_int_equal(reg(vm, VMDL_X86_RSP), LOAD + 0x8000);   /* balanced */
    /* ... and RF itself is clear once an instruction completed after IRET */
    assert_int_equal(reg(vm, VMDL_X86_RFLAGS) & 0x10000u, 0);
    vmdl_vm_destroy(vm);
}

/* pc-testdev's line 3 through the 8259 master to LINT0 (ExtINT, as the
 * BIOS left it): the interrupt acknowledge hands over base + 3 and wakes
 * the HLT; with LINT0 masked the 8259's INTR reaches nothing. */
static void test_pic_interrupt_through_lint0_extint(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE, PIC_AT_0X20(0xF7),
        0x66, 0xBA, 0x03, 0x20, 0xB0, 0x01, 0xEE,   /* line 3 high */
        0xFB, 0xF4,                                 /* sti; hlt */
        0xF4 };
    struct vmdl_vm *vm = boot(code, sizeof(code));
    assert_int_equal(vmdl_attach_models(vm, "lapic", NULL), 0);
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RDI), 0x23);
    assert_int_equal(reg(vm, VMDL_X86_RBP), LOAD + CODE + sizeof(code) - 1);
    /* in service until the guest's EOI: INTR low, nothing more to take */
    assert_int_equal(vmdl_vm_x86_pic_intr(vm), -1);
    vmdl_vm_destroy(vm);

    static const uint8_t masked[] = { PROLOGUE, PIC_AT_0X20(0xF7),
        0xC7, 0x05, 0x50, 0x03, 0xE0, 0xFE, 0x00, 0x07, 0x01, 0x00,  /* LINT0 masked */
        0x66, 0xBA, 0x03, 0x20, 0xB0, 0x01, 0xEE,
        0xFB, 0xF4,
        0xF4 };
    vm = boot(masked, sizeof(masked));
    assert_int_equal(vmdl_attach_models(vm, "lapic", NULL), 0);
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + CODE + sizeof(masked) - 1);
    assert_int_equal(reg(vm, VMDL_X86_RDI), 0);     /* no handler ran */
    assert_int_equal(vmdl_vm_x86_pic_intr(vm), 0x23);
    vmdl_vm_destroy(vm);
}

/* The BIOS's PIT (mode 3, 65536 counts: 54.925 ms per period) wakes a HLT
 * through IRQ 0 at its first rising edge, in virtual time (one instruction
 * per ns); the real-mode vector table a BIOS leaves points IRQ 0's vector
 * (8) at a handler in segment F000. */
static void test_pit_irq0_wakes_hlt(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE, PIC_AT_0X20(0xFE),
        0xFB, 0xF4,                                 /* sti; hlt */
        0xF4 };
    struct vmdl_vm *vm = boot(code, sizeof(code));
    /* One tick per instruction (no weights): the PIT's rate is tested, not
     * the exits' stall (test_vtime). */
    const struct vmdl_vtime_weights none = { 0, 0, 0, 0, 0 };
    assert_int_equal(vmdl_vm_set_vtime_weights(vm, &none), 0);
    assert_int_equal(vmdl_attach_models(vm, "lapic", NULL), 0);
    const uint8_t *ivt = vmdl_vm_ram_ptr(vm, 8 * 4, 4);
    assert_non_null(ivt);
    assert_int_equal(ivt[3] << 8 | ivt[2], 0xF000);
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RDI), 0x20);
    uint64_t t = vmdl_vcpu_insns(vmdl_vm_vcpu(vm, 0));
    /* tick 65536 of 1193182 Hz begins at 54925401.6 ns */
    assert_true(t >= 54925402 && t < 54925402 + 100);
    vmdl_vm_destroy(vm);
}

/* #DB handler at DATA + 0x80: or dword [esp + 8], RF; iretd (go on past
 * the instruction breakpoint, as kvm-unit-tests' handlers do). */
static void db_handler_sets_rf(uint8_t *img)
{
    static const uint8_t h[] = { 0x81, 0x4C, 0x24, 0x08, 0x00, 0x00, 0x01, 0x00, 0xCF };
    memcpy(img + DATA + 0x80, h, sizeof(h));
    uint32_t target = LOAD + DATA + 0x80;
    put32(img + IDT + 1 * 8, (target & 0xFFFF) | (0x10u << 16));
    put32(img + IDT + 1 * 8 + 4, (target & 0xFFFF0000u) | 0x8E00u);
}

/* An instruction breakpoint hit (the handler resumes with RF), then
 * disarmed (DR7): Unicorn keeps the deleted code hook until its next run
 * ends, and while one exists it leaves a stale PC at a stop before a
 * block.  The first device write after the disarm (pc-testdev memory: the
 * loop looks for interrupts after it) stops the engine there; the guest
 * must go on where it was, not re-run what came before (ESI counts that).
 * kvm-unit-tests' emulator ran memset's prologue twice that way (its
 * length added twice, then a #PF); this short guest did not get a stale PC
 * from the engine even before the fix (hosted_dr.c's rearm), so it guards
 * the path, the emulator run is what showed the fault. */
static void test_no_rerun_after_breakpoint_disarmed(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE,
        0xB8, 0x61, 0x00, 0x10, 0x00, 0x0F, 0x23, 0xC0,   /* dr0 = the NOP below */
        0xB8, 0x01, 0x04, 0x00, 0x00, 0x0F, 0x23, 0xF8,   /* dr7: L0, execute */
        0xEB, 0x1E,                                       /* jmp 2f */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0x90,                                             /* 2: nop (#DB) */
        0xB8, 0x00, 0x04, 0x00, 0x00, 0x0F, 0x23, 0xF8,   /* dr7: none */
        0x46,                                             /* inc esi */
        0xE8, 0x01, 0x00, 0x00, 0x00, 0xF4,               /* call 3f; hlt */
        0xBB, 0x00, 0x00, 0x00, 0xFF,                     /* 3: mov ebx, 0xFF000000 */
        0x31, 0xD2, 0xB9, 0x08, 0x00, 0x00, 0x00,         /* xor edx, edx; mov ecx, 8 */
        0x83, 0xC2, 0x01, 0x88, 0x13,                     /* 1: add edx, 1; mov [ebx], dl */
        0x49, 0x75, 0xF8, 0xC3 };                         /* dec ecx; jnz 1b; ret */
    patch_image = db_handler_sets_rf;
    struct vmdl_vm *vm = boot(code, sizeof(code));
    assert_int_equal(vmdl_attach_models(vm, "lapic", NULL), 0);
    run_to_hlt(vm);
    assert_no_exception(vm);
    assert_int_equal(reg(vm, VMDL_X86_RDX), 8);
    assert_int_equal(reg(vm, VMDL_X86_RSI), NO_ERR + 1);
    assert_int_equal(reg(vm, VMDL_X86_RSP), LOAD + 0x8000);
    vmdl_vm_destroy(vm);
}

/* Gate 6 made not present. */
static void gate6_not_present(uint8_t *img)
{
    img[IDT + 6 * 8 + 5] &= 0x7F;
}

/* A not-present gate met while delivering an exception (an event external
 * to the program) gives #NP with EXT: (6 << 3) | IDT (2) | EXT (1) = 0x33,
 * on the faulting instruction; INT 6 through it is a software interrupt:
 * 0x32, on the INT (SDM vol. 3, 6.13). */
static void test_not_present_gate_ext_bit(void **state)
{
    (void)state;
    static const uint8_t ud[] = { PROLOGUE, 0x0F, 0x0B, 0xF4 };    /* ud2 */
    patch_image = gate6_not_present;
    struct vmdl_vm *vm = boot(ud, sizeof(ud));
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RDI), 11);
    assert_int_equal(reg(vm, VMDL_X86_RSI), 0x33);
    assert_int_equal(reg(vm, VMDL_X86_RBP), LOAD + CODE + 17);
    vmdl_vm_destroy(vm);
    static const uint8_t intn[] = { PROLOGUE, 0xCD, 0x06, 0xF4 };  /* int 6 */
    patch_image = gate6_not_present;
    vm = boot(intn, sizeof(intn));
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RDI), 11);
    assert_int_equal(reg(vm, VMDL_X86_RSI), 0x32);
    assert_int_equal(reg(vm, VMDL_X86_RBP), LOAD + CODE + 17);
    vmdl_vm_destroy(vm);
}

/* INT 6 (CD 06) is a software interrupt through vector 6: trap-like, the
 * frame holds the next instruction, no error code; UD2 is the #UD fault
 * on itself. */
static void test_int6_is_a_software_interrupt(void **state)
{
    (void)state;
    static const uint8_t intn[] = { PROLOGUE, 0xCD, 0x06, 0xF4 };
    struct vmdl_vm *vm = boot(intn, sizeof(intn));
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RDI), 6);
    assert_int_equal(reg(vm, VMDL_X86_RBP), LOAD + CODE + 17 + 2);
    assert_int_equal(reg(vm, VMDL_X86_RSP), LOAD + 0x8000 - 8);   /* CS, EFLAGS left */
    assert_int_equal(ram32(vm, LOAD + 0x8000 - 4) & 0x10000u, 0); /* not a fault: RF 0 */
    vmdl_vm_destroy(vm);
    static const uint8_t ud[] = { PROLOGUE, 0x0F, 0x0B, 0xF4 };
    vm = boot(ud, sizeof(ud));
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RDI), 6);
    assert_int_equal(reg(vm, VMDL_X86_RBP), LOAD + CODE + 17);
    assert_int_equal(ram32(vm, LOAD + 0x8000 - 4) & 0x10000u, 0x10000u); /* a fault */
    vmdl_vm_destroy(vm);
}

/* Long mode for the probe below: 4-level tables at 0x1000/0x2000/0x3000
 * mapping the first 2 MiB, a GDT at 0x3C0 (0x08: 64-bit code, 0x18: data)
 * with its GDTR at 0x3A0, a 64-bit IDT at 0x800 whose #GP gate (13) runs
 * pop rsi; pop rbp; mov edi, 13; hlt at 0x900, its IDTR at 0x3B0. */
static void long_mode_tables(uint8_t *img)
{
    memset(img + 0x1000, 0, 0x3000);
    put32(img + 0x1000, LOAD + 0x2003);
    put32(img + 0x2000, LOAD + 0x3003);
    put32(img + 0x3000, 0x83);
    static const uint32_t gdt[8] = { 0, 0, 0xFFFF, 0x00AF9A00, 0, 0, 0xFFFF, 0x00CF9200 };
    for (unsigned i = 0; i < 8; i++)
        put32(img + 0x3C0 + 4 * i, gdt[i]);
    img[0x3A0] = 31;
    img[0x3A1] = 0;
    put32(img + 0x3A2, LOAD + 0x3C0);
    img[0x3B0] = 16 * 14 - 1;
    img[0x3B1] = 0;
    put32(img + 0x3B2, LOAD + 0x800);
    memset(img + 0x800, 0, 16 * 14);
    uint32_t h = LOAD + 0x900;
    put32(img + 0x800 + 13 * 16, (h & 0xFFFF) | (0x08u << 16));
    put32(img + 0x800 + 13 * 16 + 4, (h & 0xFFFF0000u) | 0x8E00u);
    static const uint8_t handler[] = { 0x5E, 0x5D, 0xBF, 0x0D, 0x00, 0x00, 0x00, 0xF4 };
    memcpy(img + 0x900, handler, sizeof(handler));
}

/* A 64-bit JMP to a non-canonical address: #GP(0) on the JMP (SDM: the
 * target is checked before the transfer); QEMU faults on the fetch at the
 * target, which the machine puts back on the branch. */
static void test_noncanonical_jmp_faults_on_branch(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE,
        0x0F, 0x20, 0xE0, 0x83, 0xC8, 0x20, 0x0F, 0x22, 0xE0,   /* CR4.PAE */
        0xB8, 0x00, 0x10, 0x10, 0x00, 0x0F, 0x22, 0xD8,         /* CR3 */
        0xB9, 0x80, 0x00, 0x00, 0xC0, 0x0F, 0x32,               /* EFER.LME */
        0x0D, 0x00, 0x01, 0x00, 0x00, 0x0F, 0x30,
        0x0F, 0x20, 0xC0, 0x0D, 0x00, 0x00, 0x00, 0x80, 0x0F, 0x22, 0xC0,  /* CR0.PG */
        0x0F, 0x01, 0x15, 0xA0, 0x03, 0x10, 0x00,               /* lgdt */
        0xEA, 0x69, 0x00, 0x10, 0x00, 0x08, 0x00,               /* jmp 0x08:l64 */
        0x0F, 0x01, 0x1C, 0x25, 0xB0, 0x03, 0x10, 0x00,         /* l64: lidt */
        0x48, 0xB8, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA,   /* mov rax, */
        0xFF, 0xE0,                                             /* jmp rax */
        0xF4 };
    patch_image = long_mode_tables;
    struct vmdl_vm *vm = boot(code, sizeof(code));
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RDI), 13);
    assert_int_equal(reg(vm, VMDL_X86_RSI), 0);
    assert_int_equal(reg(vm, VMDL_X86_RBP), LOAD + CODE + 17 + 0x4A);   /* the JMP */
    vmdl_vm_destroy(vm);
}

/* Into 64-bit mode (long_mode_tables), then lidt: l64 is at CODE + 0x49. */
#define TO_LONG_MODE \
        0x0F, 0x20, 0xE0, 0x83, 0xC8, 0x20, 0x0F, 0x22, 0xE0,   /* CR4.PAE */ \
        0xB8, 0x00, 0x10, 0x10, 0x00, 0x0F, 0x22, 0xD8,         /* CR3 */ \
        0xB9, 0x80, 0x00, 0x00, 0xC0, 0x0F, 0x32,               /* EFER.LME */ \
        0x0D, 0x00, 0x01, 0x00, 0x00, 0x0F, 0x30, \
        0x0F, 0x20, 0xC0, 0x0D, 0x00, 0x00, 0x00, 0x80, 0x0F, 0x22, 0xC0,  /* CR0.PG */ \
        0x0F, 0x01, 0x15, 0xA0, 0x03, 0x10, 0x00,               /* lgdt */ \
        0xEA, 0x69, 0x00, 0x10, 0x00, 0x08, 0x00,               /* jmp 0x08:l64 */ \
        0x0F, 0x01, 0x1C, 0x25, 0xB0, 0x03, 0x10, 0x00          /* l64: lidt */

#define IRQ_VEC 0x30
static uint32_t irq_gate_type, irq_gate_sel;

/* long_mode_tables with a 64-bit IDT at 0x400 holding only IRQ_VEC's gate
 * (type irq_gate_type, selector irq_gate_sel) to a handler at 0x980 that
 * copies the frame (RIP, CS, RFLAGS, RSP, SS) to RDI, R8, RSI, R10, R9,
 * RSP to RBP, its own RFLAGS to R11 and CS to R12, then halts (IF clear:
 * the BIOS's PIT keeps ticking through LINT0); GDT entry
 * 0x10 is a second 64-bit code segment. */
static void irq_tables(uint8_t *img)
{
    long_mode_tables(img);
    put32(img + 0x3C0 + 16, 0xFFFF);
    put32(img + 0x3C0 + 20, 0x00AF9A00);
    put32(img + 0x3B0, ((LOAD + 0x400) << 16) | (16 * (IRQ_VEC + 1) - 1));
    img[0x3B4] = (uint8_t)((LOAD + 0x400) >> 16);
    img[0x3B5] = 0;
    memset(img + 0x400, 0, 16 * (IRQ_VEC + 1));
    uint32_t h = LOAD + 0x980;
    put32(img + 0x400 + IRQ_VEC * 16, (h & 0xFFFF) | (irq_gate_sel << 16));
    put32(img + 0x400 + IRQ_VEC * 16 + 4, (h & 0xFFFF0000u) | 0x8000u | (irq_gate_type << 8));
    static const uint8_t handler[] = {
        0x48, 0x8B, 0x3C, 0x24, 0x4C, 0x8B, 0x44, 0x24, 0x08,   /* rdi, r8 */
        0x48, 0x8B, 0x74, 0x24, 0x10, 0x4C, 0x8B, 0x54, 0x24, 0x18,   /* rsi, r10 */
        0x4C, 0x8B, 0x4C, 0x24, 0x20, 0x48, 0x89, 0xE5,         /* r9; mov rbp, rsp */
        0x9C, 0x41, 0x5B, 0x41, 0x8C, 0xCC, 0xFA, 0xF4 };       /* r11, r12; cli; hlt */
    memcpy(img + 0x980, handler, sizeof(handler));
}

struct irq_run {
    uint64_t r[10];
    uint64_t digest;
};

/* x2APIC on, self-IPI IRQ_VEC while IF is clear, RSP 8 off a 16-byte
 * boundary, then sti; nop: the interrupt is taken after the nop. */
static void run_self_ipi_at(uint32_t type, uint32_t sel, bool slow, uint32_t rsp,
                            struct irq_run *out, enum vmdl_exit_reason *reason)
{
    uint8_t code[] = { PROLOGUE, TO_LONG_MODE,
        0xB9, 0x1B, 0x00, 0x00, 0x00, 0x0F, 0x32,               /* APIC_BASE */
        0x0D, 0x00, 0x0C, 0x00, 0x00, 0x0F, 0x30,               /* EN | EXTD */
        0xB9, 0x0F, 0x08, 0x00, 0x00, 0xB8, 0xFF, 0x01, 0x00, 0x00,
        0x31, 0xD2, 0x0F, 0x30,                                 /* SVR: on */
        0x48, 0xC7, 0xC4, 0xF8, 0x7F, 0x10, 0x00,               /* mov rsp */
        0xB9, 0x3F, 0x08, 0x00, 0x00, 0xB8, IRQ_VEC, 0x00, 0x00, 0x00,
        0x0F, 0x30,                                             /* SELF IPI */
        0xFB, 0x90, 0xF4 };                                     /* sti; nop */
    irq_gate_type = type;
    irq_gate_sel = sel;
    patch_image = irq_tables;
    boot_slow = slow;
    put32(code + 17 + 64 + 31, rsp);                        /* mov rsp's imm32 */
    struct vmdl_vm *vm = boot(code, sizeof(code));
    assert_int_equal(vmdl_attach_models(vm, "lapic", NULL), 0);
    struct vmdl_exit e;
    assert_int_equal(vmdl_vm_run(vm, &e), 0);
    *reason = e.reason;
    static const enum vmdl_reg regs[10] = {
        VMDL_X86_RDI, VMDL_X86_R8, VMDL_X86_RSI, VMDL_X86_R10, VMDL_X86_R9,
        VMDL_X86_RBP, VMDL_X86_R11, VMDL_X86_R12, VMDL_X86_RIP, VMDL_X86_RSP };
    for (unsigned i = 0; i < 10; i++)
        out->r[i] = reg(vm, regs[i]);
    out->digest = vmdl_vm_state_digest(vm);
    vmdl_vm_destroy(vm);
}

static void run_self_ipi(uint32_t type, uint32_t sel, bool slow, struct irq_run *out)
{
    enum vmdl_exit_reason reason;
    run_self_ipi_at(type, sel, slow, 0x107FF8, out, &reason);
    assert_int_equal(reason, VMDL_EXIT_HLT);
}

/* An external interrupt in 64-bit mode at CPL 0, delivered without the
 * VMRUN stub where the gate targets the current code segment: the frame
 * (SDM vol. 3A 6.14.2: RSP aligned to 16, SS, RSP, RFLAGS, CS, RIP), the
 * flags (IF cleared by an interrupt gate only), CS and the whole state
 * digest as QEMU's delivery through the stub gives them (no_fast_traps);
 * a gate to another selector takes the stub and loads that CS. */
static void test_irq_delivery_in_64bit_mode(void **state)
{
    (void)state;
    static const struct { uint32_t type, sel; } cases[] = {
        { 0xE, 0x08 }, { 0xF, 0x08 }, { 0xE, 0x10 } };
    for (unsigned i = 0; i < 3; i++) {
        struct irq_run fast, slow;
        run_self_ipi(cases[i].type, cases[i].sel, false, &fast);
        run_self_ipi(cases[i].type, cases[i].sel, true, &slow);
        for (unsigned j = 0; j < 10; j++)
            assert_int_equal(fast.r[j], slow.r[j]);
        assert_int_equal(fast.digest, slow.digest);
        assert_int_equal(fast.r[0], LOAD + CODE + 17 + 64 + 49);   /* after the nop */
        assert_int_equal(fast.r[1], 0x08);                         /* CS */
        assert_int_equal(fast.r[2] & 0x200, 0x200);                /* IF in the frame */
        assert_int_equal(fast.r[3], 0x107FF8);                     /* old RSP */
        assert_int_equal(fast.r[5], 0x107FF0 - 40);                /* aligned frame */
        assert_int_equal(fast.r[6] & 0x200, cases[i].type == 0xF ? 0x200 : 0);
        assert_int_equal(fast.r[7], cases[i].sel);
        assert_int_equal(fast.r[8], LOAD + 0x980 + 35);
    }
}

/* Hostile: the interrupt's stack is not mapped (3 MiB, past the 2 MiB the
 * tables map): the direct path's push faults and it gives up before any
 * change; the stub's delivery raises the #PF, which has no gate here, so
 * the run ends in a triple fault, the same state either way. */
static void test_irq_delivery_to_an_unmapped_stack(void **state)
{
    (void)state;
    struct irq_run fast, slow;
    enum vmdl_exit_reason rf, rs;
    run_self_ipi_at(0xE, 0x08, false, 0x300008, &fast, &rf);
    run_self_ipi_at(0xE, 0x08, true, 0x300008, &slow, &rs);
    assert_int_equal(rf, VMDL_EXIT_FAULT_LOOP);
    assert_int_equal(rs, rf);
    for (unsigned j = 0; j < 10; j++)
        assert_int_equal(fast.r[j], slow.r[j]);
    assert_int_equal(fast.digest, slow.digest);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lmsw_memory_operand),
        cmocka_unit_test(test_lmsw_memory_operand_page_fault),
        cmocka_unit_test(test_pse_write_to_read_only_4m_page_cr2),
        cmocka_unit_test(test_pse_write_to_not_present_page_cr2),
        cmocka_unit_test(test_smsw_stores_cr0),
        cmocka_unit_test(test_pushf_image_has_no_rf),
        cmocka_unit_test(test_pic_interrupt_through_lint0_extint),
        cmocka_unit_test(test_pit_irq0_wakes_hlt),
        cmocka_unit_test(test_no_rerun_after_breakpoint_disarmed),
        cmocka_unit_test(test_not_present_gate_ext_bit),
        cmocka_unit_test(test_int6_is_a_software_interrupt),
        cmocka_unit_test(test_noncanonical_jmp_faults_on_branch),
        cmocka_unit_test(test_irq_delivery_in_64bit_mode),
        cmocka_unit_test(test_irq_delivery_to_an_unmapped_stack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
