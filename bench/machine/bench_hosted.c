/* SPDX-License-Identifier: MIT */
/*
 * Intercept round trips on the hosted x86 vCPU (the one real multiboot
 * guests and kvm-unit-tests run on): a 32-bit protected-mode loop of N
 * CPUIDs, RDMSRs of IA32_APIC_BASE (the APIC model's), RDTSCs or #GP
 * deliveries (RDMSR of an unknown MSR, the handler skips it), run with the
 * intercepts completed inside the engine and, for comparison, with every
 * intercept leaving the engine (no_fast_traps).  Cost per operation =
 * (CPU time at N - CPU time at 0) / N, best of ROUNDS; CPU time, not wall
 * time, because the machine this runs on is shared.
 *
 * Two vCPUs (multiboot's 1000-instruction quantum): the BSP starts the AP
 * with INIT/SIPI, the AP either halts with IF clear (nothing can wake it)
 * or spins, and the BSP runs its loop.  "RDTSC beside a halted vCPU" is
 * the RDTSC row with the halted AP; "slice switch" is (CPU time with the
 * AP spinning - CPU time with it halted) / slice switches, both runs
 * stopped after the same number of guest instructions.  Prints its
 * figures; asserts nothing.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "virtmodel/attach_lapic.h"
#include "virtmodel/error.h"
#include "virtmodel/loader.h"
#include "virtmodel/machine.h"
#include "virtmodel/multiboot.h"

#define LOAD 0x100000u
#define IMG 0x400
#define CODE 0x40
#define GP_HANDLER 0x100
#define IDTR 0x180
#define IDT 0x200
#define ROUNDS 3
#define AP_PAGE 0x10u           /* SIPI vector: the AP starts at 0x10000 */

static void put32(uint8_t *p, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

struct op {
    const char *name;
    uint8_t bytes[16];
    unsigned len;
};

static const struct op ops[] = {
    {"CPUID leaf 0", {0x31, 0xC0, 0x0F, 0xA2}, 4},
    {"RDMSR IA32_APIC_BASE", {0xB9, 0x1B, 0x00, 0x00, 0x00, 0x0F, 0x32}, 7},
    {"RDTSC", {0x0F, 0x31}, 2},
    {"#GP delivered (RDMSR 0x12345678)", {0xB9, 0x78, 0x56, 0x34, 0x12, 0x0F, 0x32}, 7},
    /* mov eax, cr0; xor eax, CR0.WP; mov cr0, eax: one MOV to CR0 and one
     * MOV from CR0, WP toggled every round */
    {"MOV to CR0 (WP toggled) + MOV from", {0x0F, 0x20, 0xC0, 0x35, 0x00, 0x00, 0x01, 0x00,
                                            0x0F, 0x22, 0xC0}, 11},
    {"MOV from CR0", {0x0F, 0x20, 0xC0}, 3},
    {"PUSHF; POP EAX", {0x9C, 0x58}, 2},
    /* A delay() iteration (kvm-unit-tests' lib/x86/delay.c): PAUSE ends its
     * translation block (QEMU's helper_pause leaves the CPU loop). */
    {"PAUSE; RDTSC", {0xF3, 0x90, 0x0F, 0x31}, 4},
    /* sgdt [LOAD + 0x3F0]; lgdt [LOAD + 0x3F0]: LGDT is intercepted,
     * checked and run alone (an instruction count), then the entry after
     * it drops Unicorn's counting hook (hosted_state.c) */
    {"SGDT; LGDT (a descriptor-table step)", {0x0F, 0x01, 0x05, 0xF0, 0x03, 0x10, 0x00,
                                              0x0F, 0x01, 0x15, 0xF0, 0x03, 0x10, 0x00}, 14},
};
#define GP_ROW 3
#define STEP_ROW 8

/* Multiboot (a.out kludge) image: mov esp; lidt; mov edi, n; 1: op;
 * sub edi, 1; jnz 1b; hlt.  #GP handler: drop the error code, skip the
 * two-byte RDMSR, iret. */
static void make_image(uint8_t *b, const struct op *op, uint32_t n, bool smp)
{
    memset(b, 0xF4, IMG);
    put32(b, VMDL_MB_HEADER_MAGIC);
    put32(b + 4, VMDL_MB_FLAG_AOUT_KLUDGE);
    put32(b + 8, (uint32_t)-(VMDL_MB_HEADER_MAGIC + VMDL_MB_FLAG_AOUT_KLUDGE));
    put32(b + 12, LOAD);
    put32(b + 16, LOAD);
    put32(b + 20, 0);
    put32(b + 24, 0);
    put32(b + 28, LOAD + CODE);
    uint8_t *c = b + CODE;
    *c++ = 0xBC; put32(c, LOAD + 0x8000); c += 4;                 /* mov esp */
    *c++ = 0x0F; *c++ = 0x01; *c++ = 0x1D; put32(c, LOAD + IDTR); c += 4;
    if (smp) {
        /* IA32_APIC_BASE |= EN | EXTD; ICR (EDX = APIC ID 1) = INIT, SIPI */
        static const uint8_t start_ap[] = {
            0xB9, 0x1B, 0x00, 0x00, 0x00, 0x0F, 0x32, 0x0D, 0x00, 0x0C, 0x00, 0x00,
            0x0F, 0x30, 0xB9, 0x30, 0x08, 0x00, 0x00, 0xBA, 0x01, 0x00, 0x00, 0x00,
            0xB8, 0x00, 0x45, 0x00, 0x00, 0x0F, 0x30,
            0xB8, AP_PAGE, 0x46, 0x00, 0x00, 0x0F, 0x30 };
        memcpy(c, start_ap, sizeof(start_ap));
        c += sizeof(start_ap);
    }
    *c++ = 0xBF; put32(c, n); c += 4;                             /* mov edi, n */
    if (n) {
        uint8_t *top = c;
        memcpy(c, op->bytes, op->len);
        c += op->len;
        *c++ = 0x83; *c++ = 0xEF; *c++ = 0x01;                    /* sub edi, 1 */
        *c++ = 0x75;
        *c = (uint8_t)(top - (c + 1));                            /* jnz top */
        c++;
    }
    *c = 0xF4;
    static const uint8_t gp[] = {0x83, 0xC4, 0x04, 0x83, 0x04, 0x24, 0x02, 0xCF};
    memcpy(b + GP_HANDLER, gp, sizeof(gp));
    b[IDTR] = 0xFF;                                               /* 32 gates */
    b[IDTR + 1] = 0x00;
    put32(b + IDTR + 2, LOAD + IDT);
    memset(b + IDT, 0, 32 * 8);
    uint8_t *g = b + IDT + 13 * 8;
    uint32_t target = LOAD + GP_HANDLER;
    put32(g, (target & 0xFFFF) | (0x10u << 16));
    put32(g + 4, (target & 0xFFFF0000u) | 0x8E00u);
}

static double cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

enum ap { AP_NONE, AP_HALTED, AP_SPINNING };

/* CPU time of one boot-to-HLT run of n operations (with an AP: to
 * max_insns, when given). */
static double run_ns(const struct op *op, uint32_t n, bool slow, enum ap ap,
                     uint64_t max_insns)
{
    static uint8_t img[IMG];
    make_image(img, op, n, ap != AP_NONE);
    struct vmdl_vm_config cfg = {.arch = VMDL_ARCH_X86_64, .ram_size = 16 << 20,
                                 .no_fast_traps = slow,
                                 .nr_vcpus = ap != AP_NONE ? 2 : 1};
    struct vmdl_vm *vm;
    struct vmdl_mb_boot mb = {"bench", NULL, 0};
    if (vmdl_vm_create(&cfg, &vm) || vmdl_vm_load_multiboot(vm, img, IMG, &mb) ||
        vmdl_attach_lapic(vm, NULL)) {
        fprintf(stderr, "bench_hosted: %s\n", vmdl_last_error());
        exit(1);
    }
    if (ap != AP_NONE) {
        /* real mode at AP_PAGE:0000: cli; hlt, or jmp $ */
        static const uint8_t halt[] = {0xFA, 0xF4}, spin[] = {0xEB, 0xFE};
        memcpy(vmdl_vm_ram_ptr(vm, AP_PAGE << 12, 2), ap == AP_HALTED ? halt : spin, 2);
    }
    vmdl_vm_set_limits(vm, max_insns, 0);
    struct vmdl_exit e;
    double t0 = cpu_ns();
    int err = vmdl_vm_run(vm, &e);
    double t = cpu_ns() - t0;
    if (err || e.reason != (max_insns ? VMDL_EXIT_MAX_INSNS : VMDL_EXIT_HLT)) {
        fprintf(stderr, "bench_hosted: %s ended with %s (%s)\n", op->name,
                vmdl_exit_reason_name(e.reason), err ? vmdl_last_error() : "");
        exit(1);
    }
    vmdl_vm_destroy(vm);
    return t;
}

static double per_op_ns(const struct op *op, uint32_t n, bool slow, enum ap ap)
{
    double best = 0;
    for (int r = 0; r < ROUNDS; r++) {
        double d = (run_ns(op, n, slow, ap, 0) - run_ns(op, 0, slow, ap, 0)) / n;
        if (r == 0 || d < best)
            best = d;
    }
    return best;
}

/* Two vCPUs taking 1000-instruction turns against one running alone, over
 * the same 20 * n guest instructions (the BSP's loop of nothing but
 * sub edi, 1; jnz is long enough for them). */
static void slice_switch(uint32_t n)
{
    static const struct op none = {"", {0}, 0};
    uint64_t insns = 20ull * n;
    double best = 0;
    for (int r = 0; r < ROUNDS; r++) {
        double d = (run_ns(&none, 0xFFFFFFFFu, false, AP_SPINNING, insns) -
                    run_ns(&none, 0xFFFFFFFFu, false, AP_HALTED, insns)) /
                   ((double)insns / VMDL_X86_HOSTED_QUANTUM);
        if (r == 0 || d < best)
            best = d;
    }
    printf("%-34s %12.1f\n", "slice switch (2 vCPUs)", best);
}

int main(int argc, char **argv)
{
    uint32_t n = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 0) : 1000000u;
    /* [N [ROW [fast]]]: one row, only in the engine (for profiling); the
     * rows in the order printed */
    int only = argc > 2 ? atoi(argv[2]) : -1;
    printf("hosted x86 vCPU, %u operations per run, CPU ns per operation "
           "(best of %d)\n", n, ROUNDS);
    printf("%-34s %12s %12s\n", "operation", "in engine", "engine exit");
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        if (only >= 0 && (size_t)only != i)
            continue;
        uint32_t k = i == GP_ROW || i == GP_ROW + 1 ? n / 10 : n;   /* these cost more */
        if (i == STEP_ROW)
            k = n / 1000;        /* each step flushes the translated code */
        double fast = per_op_ns(&ops[i], k, false, AP_NONE);
        double slow = argc > 3 ? 0 : per_op_ns(&ops[i], k, true, AP_NONE);
        printf("%-34s %12.1f %12.1f\n", ops[i].name, fast, slow);
    }
    size_t nops = sizeof(ops) / sizeof(ops[0]);
    if (only < 0 || (size_t)only == nops) {
        double fast = per_op_ns(&ops[2], n, false, AP_HALTED);
        double slow = argc > 3 ? 0 : per_op_ns(&ops[2], n, true, AP_HALTED);
        printf("%-34s %12.1f %12.1f\n", "RDTSC beside a halted vCPU", fast, slow);
    }
    if (only < 0 || (size_t)only == nops + 1)
        slice_switch(n);
    return 0;
}
