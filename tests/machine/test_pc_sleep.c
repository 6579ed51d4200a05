/* SPDX-License-Identifier: MIT */
/*
 * The PC's CMOS RTC and ACPI sleep states in a multiboot VM: the RTC's
 * ports and NVRAM with the start date a VM is configured with, IRQ 8
 * through the 8259 on virtual time, S3 entered through PM1a_CNT (memory
 * as it was at the OUT, although Unicorn runs the rest of its block),
 * woken by the RTC alarm with RTC_EN into real mode at the FACS's waking
 * vector with WAK_STS and RTC_STS set, S3 with no wake source, and S5.
 * The guests are a.out-kludge multiboot images assembled here by hand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "virtmodel/attach_lapic.h"
#include "virtmodel/error.h"
#include "virtmodel/loader.h"
#include "virtmodel/machine.h"
#include "virtmodel/multiboot.h"
#include "virtmodel/pc_rtc.h"
#include "hosted_test_util.h"

#define LOAD 0x100000u
#define IMG 0x400
#define CODE 0x20
#define IRQ_HANDLER 0xC0             /* pop esi; hlt */
#define IRQ_VEC 0x28                 /* the slave 8259's base, reprogrammed */
#define IDTR 0x100
#define IDT 0x200
#define RESUME 0x1003                /* waking vector: CS 0x100, IP 3 */

/* mov esp, LOAD + 0x8000; lidt [LOAD + IDTR] */
#define PROLOGUE 0xBC, 0x00, 0x80, 0x10, 0x00, 0x0F, 0x01, 0x1D, \
                 0x00, 0x01, 0x10, 0x00
/* CMOS register i = v; al = CMOS register i */
#define CMOS_W(i, v) 0xB0, (i), 0xE6, 0x70, 0xB0, (v), 0xE6, 0x71
#define CMOS_R(i) 0xB0, (i), 0xE6, 0x70, 0xE4, 0x71
/* out dx = port, ax = value (16-bit) */
#define OUTW(port, v) 0x66, 0xBA, (uint8_t)(port), (uint8_t)((port) >> 8), \
                      0x66, 0xB8, (uint8_t)(v), (uint8_t)((v) >> 8), 0x66, 0xEF

static void gate32(uint8_t *idt, unsigned vec, uint32_t target)
{
    uint8_t *g = idt + vec * 8;
    put_le32(g, (target & 0xFFFF) | (0x10u << 16));
    put_le32(g + 4, (target & 0xFFFF0000u) | 0x8E00u);
}

static struct vmdl_vm *boot_at(const uint8_t *code, size_t n, const char *rtc_base)
{
    static uint8_t img[IMG];
    memset(img, 0xF4, IMG);
    mb_aout_header(img, LOAD, LOAD + CODE);
    memcpy(img + CODE, code, n);
    static const uint8_t irq[] = { 0x5E, 0xF4 };
    memcpy(img + IRQ_HANDLER, irq, sizeof(irq));
    img[IDTR] = 0x7F;                /* 48 gates */
    img[IDTR + 1] = 0x01;
    put_le32(img + IDTR + 2, LOAD + IDT);
    memset(img + IDT, 0, 48 * 8);
    gate32(img + IDT, IRQ_VEC, LOAD + IRQ_HANDLER);
    struct vmdl_vm_config cfg = { .arch = VMDL_ARCH_X86_64, .ram_size = 16 << 20 };
    if (rtc_base) {
        assert_int_equal(vmdl_rtc_parse_time(rtc_base, &cfg.rtc_base), VMDL_OK);
        cfg.rtc_base_set = true;
    }
    struct vmdl_vm *vm;
    assert_int_equal(vmdl_vm_create(&cfg, &vm), 0);
    struct vmdl_mb_boot mb = { "-x", NULL, 0 };
    assert_int_equal(vmdl_vm_load_multiboot(vm, img, IMG, &mb), 0);
    return vm;
}

/* The date the VM was configured with, NVRAM as QEMU's pc firmware
 * leaves it (base memory 640 KiB), VRT. */
static void test_rtc_ports_start_date_and_nvram(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE,
        CMOS_R(0x09), 0x0F, 0xB6, 0xF8,                   /* year -> edi */
        CMOS_R(0x32), 0x0F, 0xB6, 0xF0,                   /* century -> esi */
        CMOS_R(0x15), 0x0F, 0xB6, 0xE8,                   /* base memory lo -> ebp */
        CMOS_R(0x16), 0x0F, 0xB6, 0xD8,                   /* hi -> ebx */
        CMOS_R(0x0D), 0x0F, 0xB6, 0xC8, 0xF4 };           /* D -> ecx */
    struct vmdl_vm *vm = boot_at(code, sizeof(code), "2031-07-04T12:00:00");
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RDI), 0x31);
    assert_int_equal(reg(vm, VMDL_X86_RSI), 0x20);
    assert_int_equal(reg(vm, VMDL_X86_RBP) | reg(vm, VMDL_X86_RBX) << 8, 640);
    assert_int_equal(reg(vm, VMDL_X86_RCX), 0x80);
    vmdl_vm_destroy(vm);
    /* the default start: 2026 */
    vm = boot_at(code, sizeof(code), NULL);
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RDI), 0x26);
    vmdl_vm_destroy(vm);
}

/* The update-ended interrupt on IRQ 8 reaches the slave 8259 (vector
 * base reprogrammed to 0x28) and the BSP through LINT0 after one second
 * of virtual time, skipped while the vCPU halts. */
static void test_rtc_update_interrupt_through_8259(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE,
        0xB0, 0x11, 0xE6, 0xA0, 0xB0, IRQ_VEC, 0xE6, 0xA1, /* ICW1, ICW2 */
        0xB0, 0x02, 0xE6, 0xA1, 0xB0, 0x01, 0xE6, 0xA1,   /* ICW3, ICW4 */
        0xB0, 0xFE, 0xE6, 0xA1,                           /* only IRQ 8 open, */
        0xB0, 0xFB, 0xE6, 0x21,                           /* through the cascade */
        CMOS_W(0x0B, 0x12),                               /* UIE, 24-hour */
        0xFB, 0xF4, 0xF4 };                               /* sti; hlt */
    struct vmdl_vm *vm = boot_at(code, sizeof(code), NULL);
    assert_int_equal(vmdl_attach_lapic(vm, NULL), 0);
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + IRQ_HANDLER + 2);
    assert_int_equal(reg(vm, VMDL_X86_RSI), LOAD + CODE + sizeof(code) - 1);
    vmdl_vm_destroy(vm);
}

/* S3 with the RTC alarm as wake source.  The store after the OUT, in the
 * same block, must not reach memory: the resume code reads 0 there. */
static const uint8_t s3_code[] = { PROLOGUE,
    0xC7, 0x05, 0x4C, 0x00, 0x0E, 0x00,                   /* FACS waking vector */
    (uint8_t)RESUME, (uint8_t)(RESUME >> 8), 0x00, 0x00,
    OUTW(0x602, 0x0400),                                  /* RTC_EN */
    CMOS_W(0x01, 0xC0), CMOS_W(0x03, 0xC0), CMOS_W(0x05, 0xFF),   /* any time */
    CMOS_W(0x0B, 0x22),                                   /* AIE */
    0xC7, 0x05, 0x00, 0x00, 0x00, 0x00, 0, 0, 0, 0,       /* mov dword [0], 0 */
    OUTW(0x604, 0x2400),                                  /* SLP_TYP 1, SLP_EN */
    0xC7, 0x05, 0x00, 0x00, 0x00, 0x00, 1, 0, 0, 0,       /* mov dword [0], 1 */
    0xEB, 0xF4 };                                         /* jmp back to it */

/* Real mode: esi = [0]; bl = RTC seconds; ax = PM1 status; hlt. */
static const uint8_t resume_code[] = {
    0x66, 0xA1, 0x00, 0x00, 0x66, 0x89, 0xC6,
    0xB0, 0x00, 0xE6, 0x70, 0xE4, 0x71, 0x88, 0xC3,
    0xBA, 0x00, 0x06, 0xED, 0xF4 };

static void place_resume(struct vmdl_vm *vm)
{
    uint8_t *p = vmdl_vm_ram_ptr(vm, RESUME, sizeof(resume_code));
    assert_non_null(p);
    memcpy(p, resume_code, sizeof(resume_code));
}

static void test_s3_rtc_alarm_wakes_at_waking_vector(void **state)
{
    (void)state;
    struct vmdl_vm *vm = boot_at(s3_code, sizeof(s3_code), NULL);
    place_resume(vm);
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_CS), RESUME >> 4);
    assert_int_equal(reg(vm, VMDL_X86_RIP), (RESUME & 0xF) + sizeof(resume_code));
    assert_int_equal(reg(vm, VMDL_X86_CR0) & 1, 0);      /* real mode */
    assert_int_equal(reg(vm, VMDL_X86_RSI), 0);          /* the tail's store dropped */
    assert_int_equal(reg(vm, VMDL_X86_RBX) & 0xFF, 0x01); /* woken at 00:00:01 */
    assert_int_equal(reg(vm, VMDL_X86_RAX) & 0xFFFF, 0x8400);   /* WAK_STS, RTC_STS */
    /* RAM stays writable after the wake */
    uint32_t *zero = vmdl_vm_ram_ptr(vm, 0, 4);
    assert_int_equal(*zero, 0);
    vmdl_vm_destroy(vm);
}

/* Without RTC_EN nothing wakes the VM: the run ends as for a halt that
 * nothing can end, with memory as at the OUT and the vCPU not resumed. */
static void test_s3_without_wake_source_stays_asleep(void **state)
{
    (void)state;
    uint8_t code[sizeof(s3_code)];
    memcpy(code, s3_code, sizeof(code));
    code[12 + 10 + 7] = 0x00;                             /* RTC_EN -> 0 */
    struct vmdl_vm *vm = boot_at(code, sizeof(code), NULL);
    place_resume(vm);
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_CR0) & 1, 1);      /* still protected mode */
    uint32_t *zero = vmdl_vm_ram_ptr(vm, 0, 4);
    assert_int_equal(*zero, 0);
    vmdl_vm_destroy(vm);
}

/* \_S5 (SLP_TYP 0) powers off with status 0; a type the DSDT does not
 * declare (5) with SLP_EN does nothing. */
static void test_s5_powers_off_other_types_ignored(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE,
        OUTW(0x604, 0x3400),                              /* SLP_TYP 5 */
        0xBF, 0x07, 0x00, 0x00, 0x00,                     /* mov edi, 7 */
        OUTW(0x604, 0x2000), 0xF4 };                      /* SLP_TYP 0 */
    struct vmdl_vm *vm = boot_at(code, sizeof(code), NULL);
    struct vmdl_exit e;
    assert_int_equal(vmdl_vm_run(vm, &e), 0);
    assert_int_equal(e.reason, VMDL_EXIT_SHUTDOWN);
    assert_int_equal(e.u.shutdown.status, 0);
    assert_int_equal(reg(vm, VMDL_X86_RDI), 7);
    vmdl_vm_destroy(vm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rtc_ports_start_date_and_nvram),
        cmocka_unit_test(test_rtc_update_interrupt_through_8259),
        cmocka_unit_test(test_s3_rtc_alarm_wakes_at_waking_vector),
        cmocka_unit_test(test_s3_without_wake_source_stays_asleep),
        cmocka_unit_test(test_s5_powers_off_other_types_ignored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
