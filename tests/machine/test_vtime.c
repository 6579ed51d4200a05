/* SPDX-License-Identifier: MIT */
/*
 * Virtual time with cycle weights (virtmodel/vtime.h): the TSC advances by
 * the PAUSE weight across a PAUSE and by the exit weight across a trap KVM
 * exits on, not across the hosted vCPU's own intercepts; a stop inside a
 * block takes back the stall of what did not run; timer deadlines (the
 * APIC's TSC deadline, the idle skip of HLT) land in virtual time while
 * the instruction budget stays in retired instructions; checkpoints carry
 * the stall; weights 0 give one tick per instruction; bad weights are
 * refused.  The hosted guests are multiboot images assembled here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "virtmodel/attach_lapic.h"
#include "virtmodel/blob.h"
#include "virtmodel/checkpoint.h"
#include "virtmodel/error.h"
#include "virtmodel/loader.h"
#include "virtmodel/machine.h"
#include "virtmodel/multiboot.h"
#include "virtmodel/vtime.h"
#include "hosted_test_util.h"

#define LOAD 0x100000u
#define IMG 0x400
#define CODE 0x40
#define IRQ_VEC 0x20
#define HANDLER 0x380     /* rdtsc; hlt */
#define IDT 0x200         /* 0x21 gates */
#define IDTR 0x1F0
#define PAUSE_W 140u
#define EXIT_W 1200u
#define SER_W 100u
#define RDTSC_W 24u
#define FLUSH_W 600u

/* A multiboot (a.out kludge) image: code at CODE, a 32-bit IDT whose #DE
 * (0), #DB (1) and IRQ_VEC gates go to HANDLER: rdtsc; hlt. */
static struct vmdl_vm *boot_ex(const uint8_t *code, size_t n, bool set,
                               struct vmdl_vtime_weights w, bool lapic, bool slow)
{
    static uint8_t b[IMG];
    memset(b, 0xF4, IMG);
    mb_aout_header(b, LOAD, LOAD + CODE);
    assert_true(n <= IDTR - CODE);
    memcpy(b + CODE, code, n);
    b[IDTR] = 0x07;                          /* limit: 0x21 gates */
    b[IDTR + 1] = 0x01;
    put_le32(b + IDTR + 2, LOAD + IDT);
    memset(b + IDT, 0, 0x21 * 8);
    static const unsigned vecs[] = { 0, 1, IRQ_VEC };
    for (unsigned i = 0; i < 3; i++) {
        uint8_t *g = b + IDT + vecs[i] * 8;
        put_le32(g, ((LOAD + HANDLER) & 0xFFFF) | (0x10u << 16));
        put_le32(g + 4, ((LOAD + HANDLER) & 0xFFFF0000u) | 0x8E00u);
    }
    static const uint8_t handler[] = { 0x0F, 0x31, 0xF4 };
    memcpy(b + HANDLER, handler, sizeof(handler));
    struct vmdl_vm_config cfg = { .arch = VMDL_ARCH_X86_64, .ram_size = 16 << 20,
                                  .vtime_set = set, .vtime = w, .no_fast_traps = slow };
    struct vmdl_vm *vm;
    assert_int_equal(vmdl_vm_create(&cfg, &vm), 0);
    struct vmdl_mb_boot mb = { "", NULL, 0 };
    assert_int_equal(vmdl_vm_load_multiboot(vm, b, IMG, &mb), 0);
    if (lapic)
        assert_int_equal(vmdl_attach_lapic(vm, NULL), 0);
    return vm;
}

static struct vmdl_vm *boot(const uint8_t *code, size_t n, bool set,
                            struct vmdl_vtime_weights w, bool lapic)
{
    return boot_ex(code, n, set, w, lapic, false);
}

/* mov esp, LOAD + 0x8000; lidt [LOAD + IDTR] */
#define PROLOGUE 0xBC, 0x00, 0x80, 0x10, 0x00, 0x0F, 0x01, 0x1D, \
                 (uint8_t)(IDTR), (uint8_t)(IDTR >> 8), 0x10, 0x00
#define RDTSC 0x0F, 0x31
#define START RDTSC, 0x89, 0xC6                   /* rdtsc; mov esi, eax */
#define DIFF RDTSC, 0x29, 0xF0, 0xF4              /* rdtsc; sub eax, esi; hlt */

/* EAX of the guest "START; body; DIFF": the TSC ticks from the first
 * RDTSC to the second, with the given weights. */
static uint32_t ticks_w(const uint8_t *body, size_t n, struct vmdl_vtime_weights w)
{
    uint8_t code[128] = { PROLOGUE, START };
    size_t at = 12 + 4;
    memcpy(code + at, body, n);
    static const uint8_t diff[] = { DIFF };
    memcpy(code + at + n, diff, sizeof(diff));
    struct vmdl_vm *vm = boot(code, at + n + sizeof(diff), true, w, false);
    run_to_hlt(vm);
    uint32_t t = (uint32_t)reg(vm, VMDL_X86_RAX);
    vmdl_vm_destroy(vm);
    return t;
}

static uint32_t ticks(const uint8_t *body, size_t n, uint32_t pause, uint32_t exit_c)
{
    return ticks_w(body, n, (struct vmdl_vtime_weights){ pause, exit_c, 0, 0, 0 });
}

/* The first RDTSC reads before it retires: RDTSC, MOV and the body's
 * instructions are ticks, plus the weights. */
static void test_pause_adds_its_weight(void **state)
{
    (void)state;
    static const uint8_t pause[] = { 0xF3, 0x90 };
    assert_int_equal(ticks(pause, sizeof(pause), 0, 0), 3);
    assert_int_equal(ticks(pause, sizeof(pause), PAUSE_W, 0), 3 + PAUSE_W);
    assert_int_equal(ticks(pause, sizeof(pause), PAUSE_W, EXIT_W), 3 + PAUSE_W);
    static const uint8_t two[] = { 0xF3, 0x90, 0x90, 0xF3, 0x90 };
    assert_int_equal(ticks(two, sizeof(two), 7, 0), 5 + 14);
}

static void test_cpuid_adds_the_exit_weight(void **state)
{
    (void)state;
    static const uint8_t cpuid[] = { 0x31, 0xC0, 0x0F, 0xA2 };   /* xor eax; cpuid */
    assert_int_equal(ticks(cpuid, sizeof(cpuid), 0, 0), 4);
    assert_int_equal(ticks(cpuid, sizeof(cpuid), PAUSE_W, EXIT_W), 4 + EXIT_W);
}

/* KVM exits on port I/O, HLT-free here, and intercepted MSRs (PAT); not on
 * the MSRs it passes through (FS_BASE), nor on what the hosted vCPU traps
 * for itself (PUSHF, MOV from CR0, RDTSC). */
static void test_exit_weight_follows_kvm(void **state)
{
    (void)state;
    static const uint8_t in80[] = { 0xE4, 0x80 };                      /* in al, 0x80 */
    assert_int_equal(ticks(in80, sizeof(in80), 0, EXIT_W), 3 + EXIT_W);
    static const uint8_t pat[] = { 0xB9, 0x77, 0x02, 0x00, 0x00, 0x0F, 0x32 };
    assert_int_equal(ticks(pat, sizeof(pat), 0, EXIT_W), 4 + EXIT_W);
    static const uint8_t fsbase[] = { 0xB9, 0x00, 0x01, 0x00, 0xC0, 0x0F, 0x32 };
    assert_int_equal(ticks(fsbase, sizeof(fsbase), 0, EXIT_W), 4);
    static const uint8_t own[] = { 0x9C, 0x58,               /* pushf; pop eax */
                                   0x0F, 0x20, 0xC0,         /* mov eax, cr0 */
                                   0x0F, 0x31 };             /* rdtsc */
    assert_int_equal(ticks(own, sizeof(own), 0, EXIT_W), 6);
}

/* MOV to CR0 exits when it changes a bit KVM owns (PE, MP, NE...), not
 * when it only changes the guest-owned TS and WP. */
static void test_cr0_write_exits_on_host_owned_bits(void **state)
{
    (void)state;
    static const uint8_t ts[] = { 0x0F, 0x20, 0xC0,                   /* mov eax, cr0 */
                                  0x35, 0x08, 0x00, 0x01, 0x00,       /* xor eax, TS|WP */
                                  0x0F, 0x22, 0xC0 };                 /* mov cr0, eax */
    assert_int_equal(ticks(ts, sizeof(ts), 0, EXIT_W), 5);
    static const uint8_t mp[] = { 0x0F, 0x20, 0xC0,
                                  0x83, 0xF0, 0x02,                   /* xor eax, MP */
                                  0x0F, 0x22, 0xC0 };
    assert_int_equal(ticks(mp, sizeof(mp), 0, EXIT_W), 5 + EXIT_W);
}

/* A fault inside a block whose last instruction is a PAUSE: the engine
 * stops at the faulting DIV, and the PAUSE after it, counted when the block
 * was entered, is taken back: the TSC in the #DE handler (HANDLER: rdtsc;
 * hlt) reads the same with the PAUSE weight as without. */
static uint32_t de_ticks(uint32_t pause)
{
    static const uint8_t code[] = { PROLOGUE, START,
        0x31, 0xC9,                                    /* xor ecx, ecx */
        0xF7, 0xF1,                                    /* div ecx: #DE */
        0xF3, 0x90 };                                  /* pause (not run) */
    struct vmdl_vm *vm = boot(code, sizeof(code), true,
                              (struct vmdl_vtime_weights){ pause, 0, 0, 0, 0 }, false);
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + HANDLER + 3);
    assert_int_equal(vmdl_vcpu_stall(vmdl_vm_vcpu(vm, 0)), 0);
    uint32_t t = (uint32_t)reg(vm, VMDL_X86_RAX) - (uint32_t)reg(vm, VMDL_X86_RSI);
    vmdl_vm_destroy(vm);
    return t;
}

static void test_stop_before_pause_takes_its_stall_back(void **state)
{
    (void)state;
    uint32_t t = de_ticks(0);
    assert_true(t >= 3);             /* rdtsc, mov, xor; the DIV faults */
    assert_int_equal(de_ticks(PAUSE_W), t);
}

/* x2APIC on (IA32_APIC_BASE |= EXTD|EN, SVR = 0x1FF), then the LVT timer in
 * TSC-deadline mode with vector IRQ_VEC. */
#define X2APIC_ON 0xB9, 0x1B, 0x00, 0x00, 0x00, 0x0F, 0x32, \
                  0x0D, 0x00, 0x0C, 0x00, 0x00, 0x0F, 0x30, \
                  0xB9, 0x0F, 0x08, 0x00, 0x00, 0xB8, 0xFF, 0x01, 0x00, 0x00, \
                  0x31, 0xD2, 0x0F, 0x30, \
                  0xB9, 0x32, 0x08, 0x00, 0x00, 0xB8, IRQ_VEC, 0x00, 0x04, 0x00, \
                  0x0F, 0x30
/* rdtsc; add eax, D; adc edx, 0; mov edi, eax; mov ecx, 0x6E0; wrmsr; sti */
#define ARM_DEADLINE(d) RDTSC, 0x05, (uint8_t)(d), (uint8_t)((d) >> 8), \
                        (uint8_t)((d) >> 16), 0x00, 0x83, 0xD2, 0x00, 0x89, 0xC7, \
                        0xB9, 0xE0, 0x06, 0x00, 0x00, 0x0F, 0x30, 0xFB
#define DEADLINE 20000u

/* A PAUSE loop waits for a TSC deadline: the interrupt comes when virtual
 * time reaches it (at most one PAUSE block late), about DEADLINE / 141
 * instructions later, not DEADLINE instructions later. */
static void test_tsc_deadline_fires_in_virtual_time(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE, X2APIC_ON, ARM_DEADLINE(DEADLINE),
        0xF3, 0x90, 0xEB, 0xFC };                      /* 1: pause; jmp 1b */
    struct vmdl_vm *vm = boot(code, sizeof(code), true,
                              (struct vmdl_vtime_weights){ PAUSE_W, 0, 0, 0, 0 }, true);
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + HANDLER + 3);
    uint32_t late = (uint32_t)reg(vm, VMDL_X86_RAX) - (uint32_t)reg(vm, VMDL_X86_RDI);
    assert_true(late <= PAUSE_W + 2);
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    assert_true(vmdl_vcpu_insns(v) < 2 * DEADLINE / PAUSE_W + 100);
    assert_int_equal(vmdl_vcpu_vtime(v), vmdl_vcpu_insns(v) + vmdl_vcpu_stall(v));
    vmdl_vm_destroy(vm);
}

/* HLT until the deadline: the idle skip goes to the deadline's virtual
 * time, stalls before it included (a CPUID and PAUSEs here): the handler's
 * TSC is as far past the deadline as without weights. */
static uint32_t hlt_wake_late(struct vmdl_vtime_weights w, uint64_t *stall)
{
    static const uint8_t code[] = { PROLOGUE, X2APIC_ON, ARM_DEADLINE(DEADLINE),
        0x31, 0xC0, 0x0F, 0xA2,                        /* xor eax; cpuid */
        0xF3, 0x90, 0xF3, 0x90,                        /* pause; pause */
        0xF4, 0xF4 };                                  /* hlt */
    struct vmdl_vm *vm = boot(code, sizeof(code), true, w, true);
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + HANDLER + 3);
    uint32_t late = (uint32_t)reg(vm, VMDL_X86_RAX) - (uint32_t)reg(vm, VMDL_X86_RDI);
    *stall = vmdl_vcpu_stall(vmdl_vm_vcpu(vm, 0));
    vmdl_vm_destroy(vm);
    return late;
}

static void test_hlt_skips_to_the_deadline_in_virtual_time(void **state)
{
    (void)state;
    uint64_t stall;
    uint32_t late = hlt_wake_late((struct vmdl_vtime_weights){ 0, 0, 0, 0, 0 }, &stall);
    assert_int_equal(stall, 0);
    assert_true(late < 8);
    assert_int_equal(hlt_wake_late((struct vmdl_vtime_weights){ PAUSE_W, EXIT_W, 0, 0, 0 }, &stall),
                     late);
    /* Exits: five MSR accesses (APIC base read and write, SVR, LVT
     * timer, TSC deadline), CPUID, the HLT that waited and the handler's
     * HLT; two PAUSEs. */
    assert_int_equal(stall, 8 * EXIT_W + 2 * PAUSE_W);
}

/* An instruction budget counts retired instructions, not stall cycles:
 * a PAUSE loop stops after that many instructions, to the block (not
 * after a thousandth of them, as a budget in virtual time would). */
static void test_budget_counts_instructions(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE, 0x31, 0xDB,   /* xor ebx, ebx */
        0x43, 0xF3, 0x90, 0xEB, 0xFB };               /* 1: inc ebx; pause; jmp 1b */
    struct vmdl_vm *vm = boot(code, sizeof(code), true,
                              (struct vmdl_vtime_weights){ PAUSE_W, EXIT_W, 0, 0, 0 }, false);
    vmdl_vm_set_limits(vm, 1000, 0);
    struct vmdl_exit e;
    assert_int_equal(vmdl_vm_run(vm, &e), 0);
    assert_int_equal(e.reason, VMDL_EXIT_MAX_INSNS);
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    /* The budget is checked between translation blocks (x86 lands no
     * event inside one): the block begun at 999 ([inc; pause]) ends at
     * 1001. */
    assert_true(vmdl_vcpu_insns(v) >= 1000 && vmdl_vcpu_insns(v) <= 1001);
    /* QEMU ends a block at PAUSE, so the engine stopped after one: EBX
     * counts the PAUSEs retired. */
    uint64_t pauses = reg(vm, VMDL_X86_RBX);
    assert_true(pauses > 300);
    assert_int_equal(vmdl_vcpu_stall(v), pauses * PAUSE_W);
    vmdl_vm_destroy(vm);
}

/* The TSC ticks from "rdtsc; mov esi, eax" to the #DB handler's RDTSC
 * (HANDLER: rdtsc; hlt) for a body that raises #DB. */
static uint32_t ticks_to_db(const uint8_t *body, size_t n, uint32_t exit_c)
{
    uint8_t code[128] = { PROLOGUE, START };
    size_t at = 12 + 4;
    memcpy(code + at, body, n);
    code[at + n] = 0xF4;                      /* not reached: the #DB halts */
    struct vmdl_vm *vm = boot(code, at + n + 1, true,
                              (struct vmdl_vtime_weights){ 0, exit_c, 0, 0, 0 }, false);
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RIP), LOAD + HANDLER + 3);
    uint32_t t = (uint32_t)reg(vm, VMDL_X86_RAX) - (uint32_t)reg(vm, VMDL_X86_RSI);
    vmdl_vm_destroy(vm);
    return t;
}

/* KVM intercepts #DB unconditionally (vmx_update_exception_bitmap, since
 * the #DB-loop fix of CVE-2015-8104) and re-injects it: a single-step trap
 * the CPU raises, or ICEBP's, costs an exit.  The single-step trap after an
 * instruction KVM emulated (CPUID here) is queued by that exit's handler
 * (kvm_vcpu_do_singlestep) and costs nothing more. */
static void test_db_exception_costs_an_exit(void **state)
{
    (void)state;
    /* pushf; or dword [esp], 0x100; popf; nop: the trap after the NOP */
    static const uint8_t tf[] = { 0x9C, 0x81, 0x0C, 0x24, 0x00, 0x01, 0x00, 0x00,
                                  0x9D, 0x90 };
    assert_int_equal(ticks_to_db(tf, sizeof(tf), EXIT_W),
                     ticks_to_db(tf, sizeof(tf), 0) + EXIT_W);
    static const uint8_t icebp[] = { 0xF1 };
    assert_int_equal(ticks_to_db(icebp, sizeof(icebp), EXIT_W),
                     ticks_to_db(icebp, sizeof(icebp), 0) + EXIT_W);
    /* ...; xor eax, eax; cpuid: CPUID's exit alone */
    static const uint8_t tf_cpuid[] = { 0x9C, 0x81, 0x0C, 0x24, 0x00, 0x01, 0x00, 0x00,
                                        0x9D, 0x31, 0xC0, 0x0F, 0xA2 };
    uint32_t none = ticks_to_db(tf_cpuid, sizeof(tf_cpuid), 0);
    assert_int_equal(ticks_to_db(tf_cpuid, sizeof(tf_cpuid), EXIT_W), none + EXIT_W);
}

/* The defaults: a VM made by vmdl_vm_create has no weights; a multiboot
 * kernel gets the hardware-like profile unless weights were chosen. */
/* A nested guest's WBINVD, which L1 does not intercept, is still an exit
 * to L0 under KVM (WBINVD exiting): the machine completes it for L2 and
 * charges it like L1's. */
static void test_nested_wbinvd_costs_an_exit(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE, START, 0x0F, 0x09, DIFF };
    struct vmdl_vm *vm = boot(code, sizeof(code), true,
                              (struct vmdl_vtime_weights){ 0, EXIT_W, 0, 0, 0 }, false);
    struct vmdl_x86_nested_ctl ctl = {.intercept = VMDL_X86_NESTED_INVD};
    assert_int_equal(vmdl_vcpu_set_x86_nested(vmdl_vm_vcpu(vm, 0), &ctl), 0);
    run_to_hlt(vm);
    assert_int_equal((uint32_t)reg(vm, VMDL_X86_RAX), 3 + EXIT_W);
    vmdl_vm_destroy(vm);
}

/* A nested VM exit (L2 -> L0 -> L1: the exit, KVM's emulation of it into
 * vmcs12 and the entry into L1) costs two exit weights, the VM entry KVM
 * emulates after L1's VMLAUNCH/VMRESUME (itself an exit, charged as a VMX
 * instruction) one more; reconfiguring a running nested guest, or leaving
 * when not nested, costs nothing, nor does anything with weight 0. */
static void test_nested_transitions_cost_exits(void **state)
{
    (void)state;
    static const uint8_t code[] = { 0xF4 };
    for (unsigned w = 0; w <= EXIT_W; w += EXIT_W) {
        struct vmdl_vm *vm = boot(code, sizeof(code), true,
                                  (struct vmdl_vtime_weights){ 0, w, 0, 0, 0 }, false);
        struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
        struct vmdl_x86_nested_ctl ctl = {0};
        uint64_t t0 = vmdl_vcpu_vtime(v);
        assert_int_equal(vmdl_vcpu_set_x86_nested(v, NULL), 0);
        assert_int_equal(vmdl_vcpu_vtime(v), t0);
        assert_int_equal(vmdl_vcpu_set_x86_nested(v, &ctl), 0);
        assert_int_equal(vmdl_vcpu_vtime(v), t0 + w);
        ctl.intercept = VMDL_X86_NESTED_CPUID;
        assert_int_equal(vmdl_vcpu_set_x86_nested(v, &ctl), 0);
        assert_int_equal(vmdl_vcpu_vtime(v), t0 + w);
        assert_int_equal(vmdl_vcpu_set_x86_nested(v, NULL), 0);
        assert_int_equal(vmdl_vcpu_vtime(v), t0 + 3 * w);
        vmdl_vm_destroy(vm);
    }
}

static uint64_t vmx_seen_vtime;

static vmdl_fault note_vtime(void *opaque, struct vmdl_vcpu *vcpu,
                             const struct vmdl_x86_insn *insn)
{
    (void)opaque;
    (void)insn;
    vmx_seen_vtime = vmdl_vcpu_vtime(vcpu);
    return VMDL_FAULT_NONE;
}

/* A VMX instruction costs an exit.  In a nested guest it is a VM exit to
 * L1 whose MSR-store list records the TSC of the moment of the exit (KVM
 * stores the value the CPU captured at the L2 -> L0 exit,
 * nested_vmx_get_vmexit_msr_value), so the handler sees the time before
 * the cost; L1's own VMX instructions are handled after it. */
static void test_vmx_insn_cost_after_a_nested_exit(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE, 0x0F, 0x01, 0xC1, 0xF4 };   /* vmcall */
    for (int nested = 0; nested < 2; nested++) {
        struct vmdl_vm *vm = boot(code, sizeof(code), true,
                                  (struct vmdl_vtime_weights){ 0, EXIT_W, 0, 0, 0 }, false);
        struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
        assert_int_equal(vmdl_vm_set_vmx_handler(vm, note_vtime, NULL), 0);
        struct vmdl_x86_nested_ctl ctl = {0};
        if (nested)
            assert_int_equal(vmdl_vcpu_set_x86_nested(v, &ctl), 0);
        vmx_seen_vtime = 0;
        run_to_hlt(vm);
        uint64_t end = vmdl_vcpu_vtime(v);
        /* After the handler: the HLT (an exit) and a few ticks, plus the
         * VMCALL's own exit when it was a nested guest's. */
        uint64_t after = (nested ? 2 : 1) * (uint64_t)EXIT_W;
        assert_true(end >= vmx_seen_vtime + after);
        assert_true(end < vmx_seen_vtime + after + 8);
        vmdl_vm_destroy(vm);
    }
}

static void test_defaults(void **state)
{
    (void)state;
    struct vmdl_vm_config cfg = { .arch = VMDL_ARCH_X86_64 };
    struct vmdl_vm *vm;
    struct vmdl_vtime_weights w = { 1, 1, 1, 1, 1 };
    assert_int_equal(vmdl_vm_create(&cfg, &vm), 0);
    vmdl_vm_get_vtime_weights(vm, &w);
    assert_int_equal(w.pause_cycles, 0);
    assert_int_equal(w.exit_cycles, 0);
    assert_int_equal(w.serialize_cycles, 0);
    assert_int_equal(w.rdtsc_cycles, 0);
    assert_int_equal(w.flush_cycles, 0);
    vmdl_vm_destroy(vm);
    static const uint8_t code[] = { 0xF4 };
    vm = boot(code, sizeof(code), false, (struct vmdl_vtime_weights){ 0, 0, 0, 0, 0 }, false);
    vmdl_vm_get_vtime_weights(vm, &w);
    assert_int_equal(w.pause_cycles, VMDL_VTIME_HW_PAUSE_CYCLES);
    assert_int_equal(w.exit_cycles, VMDL_VTIME_HW_EXIT_CYCLES);
    assert_int_equal(w.serialize_cycles, VMDL_VTIME_HW_SERIALIZE_CYCLES);
    assert_int_equal(w.rdtsc_cycles, VMDL_VTIME_HW_RDTSC_CYCLES);
    assert_int_equal(w.flush_cycles, VMDL_VTIME_HW_FLUSH_CYCLES);
    vmdl_vm_destroy(vm);
    vm = boot(code, sizeof(code), true, (struct vmdl_vtime_weights){ 0, 0, 0, 0, 0 }, false);
    vmdl_vm_get_vtime_weights(vm, &w);
    assert_int_equal(w.pause_cycles, 0);
    assert_int_equal(w.exit_cycles, 0);
    vmdl_vm_destroy(vm);
}

static void test_bad_weights_refused(void **state)
{
    (void)state;
    struct vmdl_vm_config cfg = { .arch = VMDL_ARCH_X86_64, .vtime_set = true,
                                  .vtime = { VMDL_VTIME_MAX_WEIGHT + 1, 0, 0, 0, 0 } };
    struct vmdl_vm *vm = NULL;
    assert_int_equal(vmdl_vm_create(&cfg, &vm), VMDL_EINVAL);
    assert_null(vm);
    assert_non_null(strstr(vmdl_last_error(), "at most"));
    cfg.vtime = (struct vmdl_vtime_weights){ 0, 0, 0, 0, 0 };
    assert_int_equal(vmdl_vm_create(&cfg, &vm), 0);
    struct vmdl_vtime_weights w = { 5, VMDL_VTIME_MAX_WEIGHT + 1, 0, 0, 0 };
    assert_int_equal(vmdl_vm_set_vtime_weights(vm, &w), VMDL_EINVAL);
    assert_non_null(strstr(vmdl_last_error(), "at most"));
    vmdl_vm_get_vtime_weights(vm, &w);
    assert_int_equal(w.pause_cycles, 0);               /* unchanged */
    w = (struct vmdl_vtime_weights){ 0, 0, VMDL_VTIME_MAX_WEIGHT + 1, 0, 0 };
    assert_int_equal(vmdl_vm_set_vtime_weights(vm, &w), VMDL_EINVAL);
    assert_non_null(strstr(vmdl_last_error(), "serialize"));
    vmdl_vm_get_vtime_weights(vm, &w);
    assert_int_equal(w.serialize_cycles, 0);
    assert_int_equal(vmdl_vm_set_vtime_weights(vm, NULL), VMDL_EINVAL);
    assert_int_equal(vmdl_vm_set_vtime_weights(NULL, &w), VMDL_EINVAL);
    vmdl_vm_destroy(vm);
}

/* MOV to CR0/CR3/CR4 that is no VM exit costs the serialize weight once
 * it took effect (a WP or PGE toggle, completed inside the engine; a MOV to
 * CR3, which runs natively and is charged with its block); one that exits
 * (CR0.MP) costs the exit weight alone; CLTS and MOV from CR0 cost
 * nothing; with the weight 0 every one is one tick. */
static void test_serializing_cr_writes_add_their_weight(void **state)
{
    (void)state;
    const struct vmdl_vtime_weights ser = { PAUSE_W, EXIT_W, SER_W, 0, 0 };
    static const uint8_t wp[] = { 0x0F, 0x20, 0xC0,                   /* mov eax, cr0 */
                                  0x35, 0x00, 0x00, 0x01, 0x00,       /* xor eax, WP */
                                  0x0F, 0x22, 0xC0 };                 /* mov cr0, eax */
    assert_int_equal(ticks(wp, sizeof(wp), PAUSE_W, EXIT_W), 5);
    assert_int_equal(ticks_w(wp, sizeof(wp), ser), 5 + SER_W);
    static const uint8_t mp[] = { 0x0F, 0x20, 0xC0,
                                  0x83, 0xF0, 0x02,                   /* xor eax, MP */
                                  0x0F, 0x22, 0xC0 };
    assert_int_equal(ticks_w(mp, sizeof(mp), ser), 5 + EXIT_W);
    static const uint8_t pge[] = { 0x0F, 0x20, 0xE0,                  /* mov eax, cr4 */
                                   0x35, 0x80, 0x00, 0x00, 0x00,      /* xor eax, PGE */
                                   0x0F, 0x22, 0xE0 };                /* mov cr4, eax */
    assert_int_equal(ticks_w(pge, sizeof(pge), ser), 5 + SER_W);
    static const uint8_t cr3[] = { 0x0F, 0x20, 0xD8,                  /* mov eax, cr3 */
                                   0x0F, 0x22, 0xD8,                  /* mov cr3, eax */
                                   0x0F, 0x22, 0xD8 };
    assert_int_equal(ticks(cr3, sizeof(cr3), PAUSE_W, EXIT_W), 5);
    assert_int_equal(ticks_w(cr3, sizeof(cr3), ser), 5 + 2 * SER_W);
    static const uint8_t clts[] = { 0x0F, 0x06, 0x0F, 0x20, 0xC0 };   /* clts; mov eax, cr0 */
    assert_int_equal(ticks_w(clts, sizeof(clts), ser), 4);
}

/* The same with every intercept leaving the engine (no_fast_traps): the
 * serialize weight does not depend on where the write was completed. */
static void test_serialize_weight_same_on_the_exit_path(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE, START,
        0x0F, 0x20, 0xC0, 0x35, 0x00, 0x00, 0x01, 0x00, 0x0F, 0x22, 0xC0,  /* WP */
        0x0F, 0x20, 0xE0, 0x35, 0x80, 0x00, 0x00, 0x00, 0x0F, 0x22, 0xE0,  /* PGE */
        DIFF };
    uint32_t t[2];
    for (int slow = 0; slow < 2; slow++) {
        struct vmdl_vm *vm = boot_ex(code, sizeof(code), true,
                                     (struct vmdl_vtime_weights){ 0, EXIT_W, SER_W, 0, 0 },
                                     false, slow);
        run_to_hlt(vm);
        t[slow] = (uint32_t)reg(vm, VMDL_X86_RAX);
        vmdl_vm_destroy(vm);
    }
    assert_int_equal(t[0], 2 + 6 + 2 * SER_W);
    assert_int_equal(t[1], t[0]);
}

/* ---- the deprivileged 64-bit vCPU: counts and checkpoints ---- */

/* mov ecx, 500; 1: pause; dec ecx; jnz 1b; hlt */
static const uint8_t spin[] = { 0xB9, 0xF4, 0x01, 0x00, 0x00,
                                0xF3, 0x90, 0xFF, 0xC9, 0x75, 0xFA, 0xF4 };

static struct vmdl_vm *raw_vm_code(const uint8_t *code, size_t n,
                                    struct vmdl_vtime_weights w)
{
    struct vmdl_vm_config cfg = { .arch = VMDL_ARCH_X86_64, .ram_size = 16 << 20,
                                  .vtime_set = true, .vtime = w };
    struct vmdl_vm *vm;
    assert_int_equal(vmdl_vm_create(&cfg, &vm), 0);
    assert_int_equal(vmdl_vm_load_raw(vm, code, n, VMDL_X86_DEFAULT_LOAD), 0);
    /* A budget keeps instructions counted exactly (insn_count.c). */
    vmdl_vm_set_limits(vm, 1000000, 0);
    return vm;
}

static struct vmdl_vm *raw_vm(uint32_t pause, uint32_t exit_c)
{
    return raw_vm_code(spin, sizeof(spin), (struct vmdl_vtime_weights){ pause, exit_c, 0, 0, 0 });
}

/* rdtsc; mov esi, eax; rdtsc; sub eax, esi; hlt */
static const uint8_t two_rdtsc[] = { 0x0F, 0x31, 0x89, 0xC6, 0x0F, 0x31, 0x29, 0xF0, 0xF4 };

static struct vmdl_vm *raw_vm_rdtsc(uint32_t rdtsc)
{
    return raw_vm_code(two_rdtsc, sizeof(two_rdtsc),
                       (struct vmdl_vtime_weights){ .rdtsc_cycles = rdtsc });
}

/* RDTSC's weight: the TSC a second RDTSC reads is on by the first one's
 * tick and weight and the MOV's tick (the first read does not include its
 * own cycles); two weights of stall at the end.  Weight 0: two ticks. */
static void test_rdtsc_adds_its_weight(void **state)
{
    (void)state;
    for (uint32_t w = 0; w <= RDTSC_W; w += RDTSC_W) {
        struct vmdl_vm *vm = raw_vm_rdtsc(w);
        run_to_hlt(vm);
        assert_int_equal(reg(vm, VMDL_X86_RAX) & 0xFFFFFFFFu, 2 + w);
        assert_int_equal(vmdl_vcpu_stall(vmdl_vm_vcpu(vm, 0)), 2ull * w);
        vmdl_vm_destroy(vm);
    }
    struct vmdl_vm_config cfg = { .arch = VMDL_ARCH_X86_64, .vtime_set = true,
                                  .vtime = { .rdtsc_cycles = VMDL_VTIME_MAX_WEIGHT + 1 } };
    struct vmdl_vm *vm = NULL;
    assert_int_equal(vmdl_vm_create(&cfg, &vm), VMDL_EINVAL);
    assert_non_null(strstr(vmdl_last_error(), "rdtsc"));
}

/* Weight 0 is one tick per instruction: the counts are those of a VM
 * without weights (1 + 3 * 500 instructions, then the HLT, which retires
 * and exits). */
static void test_zero_weights_keep_the_counts(void **state)
{
    (void)state;
    struct vmdl_vm *vm = raw_vm(0, 0);
    run_to_hlt(vm);
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    assert_int_equal(vmdl_vcpu_insns(v), 1 + 3 * 500 + 1);
    assert_int_equal(vmdl_vcpu_stall(v), 0);
    assert_int_equal(vmdl_vcpu_vtime(v), 1 + 3 * 500 + 1);
    uint64_t branches = vmdl_vcpu_branches(v);
    vmdl_vm_destroy(vm);
    vm = raw_vm(PAUSE_W, EXIT_W);
    run_to_hlt(vm);
    v = vmdl_vm_vcpu(vm, 0);
    assert_int_equal(vmdl_vcpu_insns(v), 1 + 3 * 500 + 1);
    assert_int_equal(vmdl_vcpu_branches(v), branches);
    assert_int_equal(vmdl_vcpu_stall(v), 500ull * PAUSE_W + EXIT_W);   /* HLT exits */
    vmdl_vm_destroy(vm);
}

/* Split the PAUSE loop by a checkpoint: the restored VM has the stall, and
 * both finish with the same counts; other weights refuse the checkpoint. */
static void test_checkpoint_keeps_the_stall(void **state)
{
    (void)state;
    struct vmdl_vm *a = raw_vm(PAUSE_W, EXIT_W);
    vmdl_vm_set_limits(a, 301, 0);
    struct vmdl_exit e;
    assert_int_equal(vmdl_vm_run(a, &e), 0);
    assert_int_equal(e.reason, VMDL_EXIT_MAX_INSNS);
    uint64_t stall = vmdl_vcpu_stall(vmdl_vm_vcpu(a, 0));
    assert_int_equal(stall, 100ull * PAUSE_W);
    uint8_t *blob;
    size_t len;
    assert_int_equal(vmdl_vm_checkpoint_save(a, &blob, &len), 0);
    struct vmdl_vm *b = raw_vm(PAUSE_W, EXIT_W);
    assert_int_equal(vmdl_vm_checkpoint_restore(b, blob, len), 0);
    assert_int_equal(vmdl_vcpu_stall(vmdl_vm_vcpu(b, 0)), stall);
    assert_int_equal(vmdl_vcpu_vtime(vmdl_vm_vcpu(b, 0)), 301 + stall);
    vmdl_vm_set_limits(a, 1000000, 0);
    run_to_hlt(a);
    run_to_hlt(b);
    assert_int_equal(vmdl_vcpu_stall(vmdl_vm_vcpu(b, 0)), 500ull * PAUSE_W + EXIT_W);
    assert_int_equal(vmdl_vcpu_vtime(vmdl_vm_vcpu(b, 0)), vmdl_vcpu_vtime(vmdl_vm_vcpu(a, 0)));
    assert_int_equal(vmdl_vm_state_digest(a), vmdl_vm_state_digest(b));
    struct vmdl_vm *c = raw_vm(PAUSE_W + 1, EXIT_W);
    assert_int_equal(vmdl_vm_checkpoint_restore(c, blob, len), VMDL_EINVAL);
    assert_non_null(strstr(vmdl_last_error(), "virtual-time weights"));
    assert_int_equal(vmdl_vcpu_stall(vmdl_vm_vcpu(c, 0)), 0);
    /* A version this library does not read is refused by number. */
    blob[4] = 99;
    assert_int_equal(vmdl_vm_checkpoint_restore(c, blob, len), VMDL_EVERSION);
    assert_non_null(strstr(vmdl_last_error(), "versions 2 to"));
    free(blob);
    vmdl_vm_destroy(a);
    vmdl_vm_destroy(b);
    vmdl_vm_destroy(c);
}

/* An older checkpoint of a VM without models: version 4 (before the
 * architecture section) is the version 5 one less that section (an empty
 * blob, its length 0, before the model count); version 3 (before the
 * serialize, RDTSC and flush weights) also less those three weights after
 * the quantum's pause and exit weights; version 2 (before the weights) less
 * all five and the stall at the end of the one vCPU record.  Re-sealed. */
static uint8_t *as_version(const uint8_t *blob, size_t len, uint32_t version,
                           size_t *out_len)
{
    const size_t hdr = VMDL_BLOB_HEADER_SIZE, weights_at = hdr + 4 + 4 + 8 + 8 + 4 + 8;
    assert_true(len > hdr + 64);
    /* no architecture section, no models */
    assert_memory_equal(blob + len - 8, "\0\0\0\0\0\0\0\0", 8);
    size_t cut_at = version >= 3 ? weights_at + 8 : weights_at;
    size_t cut = version == 4 ? 0 : version == 3 ? 12 : 20, stall = version >= 3 ? 0 : 8;
    uint8_t *old = malloc(len);
    assert_non_null(old);
    memcpy(old, blob, cut_at);
    size_t n = cut_at, rest = len - 8 - stall - (cut_at + cut);
    memcpy(old + n, blob + cut_at + cut, rest);
    n += rest;
    memcpy(old + n, blob + len - 4, 4);
    n += 4;
    put_le32(old + 4, version);
    put_le32(old + 8, (uint32_t)(n - hdr));
    put_le32(old + 12, vmdl_crc32(0, old + hdr, n - hdr));
    *out_len = n;
    return old;
}

/* Version 2, 3 and 4 checkpoints are still read, as the weights (and stall)
 * they lack 0; a VM with those weights refuses them, saying why. */
static void test_checkpoint_older_versions_are_read(void **state)
{
    (void)state;
    struct vmdl_vm *a = raw_vm(0, 0);
    vmdl_vm_set_limits(a, 301, 0);
    struct vmdl_exit e;
    assert_int_equal(vmdl_vm_run(a, &e), 0);
    uint8_t *blob;
    size_t len, len2;
    assert_int_equal(vmdl_vm_checkpoint_save(a, &blob, &len), 0);
    for (uint32_t version = 2; version <= 4; version++) {
        uint8_t *old = as_version(blob, len, version, &len2);
        struct vmdl_vm *b = raw_vm(0, 0);
        assert_int_equal(vmdl_vm_checkpoint_restore(b, old, len2), 0);
        assert_int_equal(vmdl_vcpu_insns(vmdl_vm_vcpu(b, 0)), 301);
        assert_int_equal(vmdl_vcpu_stall(vmdl_vm_vcpu(b, 0)), 0);
        assert_int_equal(vmdl_vm_state_digest(b), vmdl_vm_state_digest(a));
        struct vmdl_vm *c = version == 2 ? raw_vm(PAUSE_W, EXIT_W) : raw_vm_rdtsc(RDTSC_W);
        assert_int_equal(vmdl_vm_checkpoint_restore(c, old, len2), VMDL_EINVAL);
        assert_non_null(strstr(vmdl_last_error(), version == 2 ? "predates the weights"
                                                  : version == 3 ? "predates the serialize"
                                                                 : "virtual-time weights"));
        free(old);
        vmdl_vm_destroy(b);
        vmdl_vm_destroy(c);
    }
    free(blob);
    vmdl_vm_destroy(a);
}

/* CR0.ET is hardwired to 1 (SDM vol. 3A, 2.5) and KVM's kvm_set_cr0 sets
 * it in every value, so the read shadow holds ET: a MOV to CR0 whose source
 * lacks ET differs from the shadow in a host-owned bit and is a VM exit
 * (SDM 26.1.3), each time, however often it toggles WP (the value the
 * guest reads back has ET again).  The same source with ET set only
 * toggles a guest-owned bit: the serialize weight.  Both paths alike. */
static void test_cr0_write_without_et_exits_each_time(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE, START,
        0x0F, 0x20, 0xC0, 0x83, 0xE0, 0xEF,                          /* eax = cr0 & ~ET */
        0x35, 0x00, 0x00, 0x01, 0x00, 0x0F, 0x22, 0xC0,             /* WP on */
        0x35, 0x00, 0x00, 0x01, 0x00, 0x0F, 0x22, 0xC0,             /* WP off */
        0x0F, 0x20, 0xC0, 0x35, 0x00, 0x00, 0x01, 0x00, 0x0F, 0x22, 0xC0, /* ET kept */
        DIFF };
    for (int slow = 0; slow < 2; slow++) {
        struct vmdl_vm *vm = boot_ex(code, sizeof(code), true,
                                     (struct vmdl_vtime_weights){ 0, EXIT_W, SER_W, 0, 0 },
                                     false, slow);
        run_to_hlt(vm);
        assert_int_equal((uint32_t)reg(vm, VMDL_X86_RAX), 2 + 9 + 2 * EXIT_W + SER_W);
        assert_int_equal(reg(vm, VMDL_X86_CR0) & 0x10010u, 0x10010u);
        vmdl_vm_destroy(vm);
    }
}

/* The deprivileged vCPU: the same write without ET exits, and CR0 reads
 * back with ET. */
static void test_cr0_et_on_the_deprivileged_vcpu(void **state)
{
    (void)state;
    static const uint8_t code[] = { 0x0F, 0x20, 0xC0, 0x83, 0xE0, 0xEF,  /* eax = cr0 & ~ET */
                                    0x0F, 0x22, 0xC0, 0x0F, 0x20, 0xC3,  /* cr0 = eax; ebx = cr0 */
                                    0xF4 };
    struct vmdl_vm *vm = raw_vm_code(code, sizeof(code),
                                     (struct vmdl_vtime_weights){ 0, EXIT_W, SER_W, 0, 0 });
    run_to_hlt(vm);
    assert_int_equal(reg(vm, VMDL_X86_RBX) & 0x10u, 0x10u);
    assert_int_equal(reg(vm, VMDL_X86_RAX) & 0x10u, 0);
    assert_int_equal(vmdl_vcpu_stall(vmdl_vm_vcpu(vm, 0)), 2 * EXIT_W);   /* and HLT */
    vmdl_vm_destroy(vm);
}

/* A MOV to CR4 that changes PGE flushes every TLB entry, global ones too
 * (SDM vol. 3A, 4.10.4.1): the flush weight on top of the serialize
 * weight, in the engine and on the exit path alike; a CR4 write that
 * changes another guest-owned bit (OSXMMEXCPT) and a CR0.WP toggle cost the
 * serialize weight alone.  Flush weight 0: as before. */
static void test_pge_toggle_adds_the_flush_weight(void **state)
{
    (void)state;
    static const uint8_t code[] = { PROLOGUE, START,
        0x0F, 0x20, 0xE0, 0x35, 0x80, 0x00, 0x00, 0x00, 0x0F, 0x22, 0xE0,  /* PGE */
        0x35, 0x80, 0x04, 0x00, 0x00, 0x0F, 0x22, 0xE0,                    /* PGE, OSXMMEXCPT */
        0x35, 0x00, 0x04, 0x00, 0x00, 0x0F, 0x22, 0xE0,                    /* OSXMMEXCPT */
        0x0F, 0x20, 0xC0, 0x35, 0x00, 0x00, 0x01, 0x00, 0x0F, 0x22, 0xC0,  /* WP */
        DIFF };
    for (int slow = 0; slow < 2; slow++)
        for (uint32_t fw = 0; fw <= FLUSH_W; fw += FLUSH_W) {
            struct vmdl_vm *vm = boot_ex(code, sizeof(code), true,
                                         (struct vmdl_vtime_weights){ 0, EXIT_W, SER_W, 0, fw },
                                         false, slow);
            run_to_hlt(vm);
            assert_int_equal((uint32_t)reg(vm, VMDL_X86_RAX), 2 + 10 + 4 * SER_W + 2 * fw);
            vmdl_vm_destroy(vm);
        }
    /* The deprivileged vCPU: PGE toggled twice (its CR4 has PAE and PGE). */
    static const uint8_t raw[] = { 0x0F, 0x20, 0xE0, 0x35, 0x80, 0x00, 0x00, 0x00,
                                   0x0F, 0x22, 0xE0, 0x35, 0x80, 0x00, 0x00, 0x00,
                                   0x0F, 0x22, 0xE0, 0xF4 };
    struct vmdl_vm *vm = raw_vm_code(raw, sizeof(raw),
                                     (struct vmdl_vtime_weights){ 0, EXIT_W, SER_W, 0, FLUSH_W });
    run_to_hlt(vm);
    assert_int_equal(vmdl_vcpu_stall(vmdl_vm_vcpu(vm, 0)), 2 * (SER_W + FLUSH_W) + EXIT_W);
    vmdl_vm_destroy(vm);
    struct vmdl_vm_config cfg = { .arch = VMDL_ARCH_X86_64, .vtime_set = true,
                                  .vtime = { .flush_cycles = VMDL_VTIME_MAX_WEIGHT + 1 } };
    vm = NULL;
    assert_int_equal(vmdl_vm_create(&cfg, &vm), VMDL_EINVAL);
    assert_non_null(strstr(vmdl_last_error(), "flush"));
}

/* The deprivileged vCPU traps every MOV to CR: MOV to CR3 and to CR0 (an
 * unchanged value, no exit) cost the serialize weight once each, although
 * the block decoder had counted the MOV to CR3 before the trap took it
 * back; MOV from CR costs nothing. */
static void test_serialize_weight_on_the_deprivileged_vcpu(void **state)
{
    (void)state;
    static const uint8_t code[] = { 0x0F, 0x20, 0xD8, 0x0F, 0x22, 0xD8,   /* cr3 */
                                    0x0F, 0x20, 0xC0, 0x0F, 0x22, 0xC0,   /* cr0 */
                                    0xF4 };
    struct vmdl_vm *vm = raw_vm_code(code, sizeof(code),
                                     (struct vmdl_vtime_weights){ 0, EXIT_W, SER_W, 0, 0 });
    run_to_hlt(vm);
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    assert_int_equal(vmdl_vcpu_insns(v), 5);
    assert_int_equal(vmdl_vcpu_stall(v), 2 * SER_W + EXIT_W);      /* HLT exits */
    vmdl_vm_destroy(vm);
    vm = raw_vm_code(code, sizeof(code), (struct vmdl_vtime_weights){ 0, 0, 0, 0, 0 });
    run_to_hlt(vm);
    assert_int_equal(vmdl_vcpu_stall(vmdl_vm_vcpu(vm, 0)), 0);
    assert_int_equal(vmdl_vcpu_vtime(vmdl_vm_vcpu(vm, 0)), 5);
    vmdl_vm_destroy(vm);
}

/* Version 3 checkpoints are still read, as serialize weight 0; a VM with
 * that weight refuses them, saying why, and a version 4 checkpoint taken
 * with another serialize weight is refused. */
static void test_checkpoint_version3_is_read(void **state)
{
    (void)state;
    struct vmdl_vm *a = raw_vm(PAUSE_W, EXIT_W);
    vmdl_vm_set_limits(a, 301, 0);
    struct vmdl_exit e;
    assert_int_equal(vmdl_vm_run(a, &e), 0);
    uint8_t *blob;
    size_t len, len3;
    assert_int_equal(vmdl_vm_checkpoint_save(a, &blob, &len), 0);
    uint8_t *v3 = as_version(blob, len, 3, &len3);
    struct vmdl_vm *b = raw_vm(PAUSE_W, EXIT_W);
    assert_int_equal(vmdl_vm_checkpoint_restore(b, v3, len3), 0);
    assert_int_equal(vmdl_vcpu_stall(vmdl_vm_vcpu(b, 0)), 100ull * PAUSE_W);
    assert_int_equal(vmdl_vm_state_digest(b), vmdl_vm_state_digest(a));
    struct vmdl_vm *c = raw_vm_code(spin, sizeof(spin),
                                    (struct vmdl_vtime_weights){ PAUSE_W, EXIT_W, SER_W, 0, 0 });
    assert_int_equal(vmdl_vm_checkpoint_restore(c, v3, len3), VMDL_EINVAL);
    assert_non_null(strstr(vmdl_last_error(), "predates the serialize"));
    assert_int_equal(vmdl_vm_checkpoint_restore(c, blob, len), VMDL_EINVAL);
    assert_non_null(strstr(vmdl_last_error(), "serialize 0"));
    free(v3);
    free(blob);
    vmdl_vm_destroy(a);
    vmdl_vm_destroy(b);
    vmdl_vm_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pause_adds_its_weight),
        cmocka_unit_test(test_cpuid_adds_the_exit_weight),
        cmocka_unit_test(test_exit_weight_follows_kvm),
        cmocka_unit_test(test_cr0_write_exits_on_host_owned_bits),
        cmocka_unit_test(test_stop_before_pause_takes_its_stall_back),
        cmocka_unit_test(test_tsc_deadline_fires_in_virtual_time),
        cmocka_unit_test(test_hlt_skips_to_the_deadline_in_virtual_time),
        cmocka_unit_test(test_budget_counts_instructions),
        cmocka_unit_test(test_db_exception_costs_an_exit),
        cmocka_unit_test(test_nested_wbinvd_costs_an_exit),
        cmocka_unit_test(test_nested_transitions_cost_exits),
        cmocka_unit_test(test_vmx_insn_cost_after_a_nested_exit),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_serializing_cr_writes_add_their_weight),
        cmocka_unit_test(test_serialize_weight_same_on_the_exit_path),
        cmocka_unit_test(test_serialize_weight_on_the_deprivileged_vcpu),
        cmocka_unit_test(test_cr0_write_without_et_exits_each_time),
        cmocka_unit_test(test_cr0_et_on_the_deprivileged_vcpu),
        cmocka_unit_test(test_pge_toggle_adds_the_flush_weight),
        cmocka_unit_test(test_checkpoint_version3_is_read),
        cmocka_unit_test(test_bad_weights_refused),
        cmocka_unit_test(test_zero_weights_keep_the_counts),
        cmocka_unit_test(test_checkpoint_keeps_the_stall),
        cmocka_unit_test(test_checkpoint_older_versions_are_read),
        cmocka_unit_test(test_rdtsc_adds_its_weight),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
