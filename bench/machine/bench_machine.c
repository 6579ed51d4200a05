/* SPDX-License-Identifier: MIT */
/*
 * Machine-layer benchmark (issue 2, item 11):
 *  (a) a compute-bound guest loop through the harness vs the same code on
 *      raw Unicorn, side by side in one run (best of several rounds each);
 *  (b) trapped-instruction round trips (exit, handler, resume) for an x86
 *      MSR access, an x86 VMX instruction and an arm64 system register;
 *  (c) the floor of an x86 trap site on raw Unicorn: a code hook on RDMSR
 *      that writes RAX, RDX and RIP past it, as x86/site.c does before its
 *      own work (docs/performance.md, fourth round).
 * Prints its figures; asserts nothing.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicorn/unicorn.h>

#include "bench_util.h"
#include "virtmodel/error.h"
#include "virtmodel/loader.h"
#include "virtmodel/machine.h"

#define LOOP_ITERS 100000000u  /* 3 instructions each */
#define TRAP_ITERS 1000000u
#define ROUNDS 5

/* mov ecx, N; 1: add rax, rcx; dec rcx; jnz 1b; out 0xf4, al */
static void loop_code(uint8_t *c, uint32_t n)
{
    const uint8_t code[] = {0xB9, 0, 0, 0, 0, 0x48, 0x01, 0xC8, 0x48, 0xFF, 0xC9,
                            0x75, 0xF8, 0xE6, 0xF4};
    memcpy(c, code, sizeof(code));
    memcpy(c + 1, &n, 4);
}
#define LOOP_LEN 15
#define LOOP_END_OFF 13 /* the OUT */

static struct vmdl_vm *x86_vm(const uint8_t *code, size_t len)
{
    struct vmdl_vm_config cfg = {.arch = VMDL_ARCH_X86_64, .ram_size = 16 << 20};
    struct vmdl_vm *vm;
    if (vmdl_vm_create(&cfg, &vm) || vmdl_vm_load_raw(vm, code, len, 0x100000)) {
        fprintf(stderr, "bench: %s\n", vmdl_last_error());
        exit(1);
    }
    return vm;
}

static double harness_loop_ns(void)
{
    uint8_t code[LOOP_LEN];
    loop_code(code, LOOP_ITERS);
    struct vmdl_vm *vm = x86_vm(code, sizeof(code));
    struct vmdl_exit e;
    uint64_t t0 = bench_now_ns();
    if (vmdl_vm_run(vm, &e) || e.reason != VMDL_EXIT_SHUTDOWN) {
        fprintf(stderr, "bench: harness loop ended with %s\n", vmdl_exit_reason_name(e.reason));
        exit(1);
    }
    uint64_t t = bench_now_ns() - t0;
    vmdl_vm_destroy(vm);
    return (double)t;
}

static double raw_loop_ns(void)
{
    uint8_t code[LOOP_LEN];
    loop_code(code, LOOP_ITERS);
    uc_engine *uc;
    uc_open(UC_ARCH_X86, UC_MODE_64, &uc);
    uc_mem_map(uc, 0, 16 << 20, UC_PROT_ALL);
    uc_mem_write(uc, 0x100000, code, sizeof(code));
    uint64_t t0 = bench_now_ns();
    uc_emu_start(uc, 0x100000, 0x100000 + LOOP_END_OFF, 0, 0);
    uint64_t t = bench_now_ns() - t0;
    uc_close(uc);
    return (double)t;
}

/* ---- the floor of a trap site (raw Unicorn) ---- */

static void raw_site_cb(uc_engine *uc, uint64_t addr, uint32_t size, void *user)
{
    (void)size;
    (void)user;
    uint64_t v = 0x1234, rip = addr + 2;
    uc_reg_write(uc, UC_X86_REG_RAX, &v);
    uc_reg_write(uc, UC_X86_REG_RDX, &v);
    uc_reg_write(uc, UC_X86_REG_RIP, &rip);   /* leaves the block, as a site */
}

/* ns per "rdmsr; dec r8; jnz" iteration with the RDMSR completed by a code
 * hook bounded to it; n = 0 runs the loop once (the start-up to subtract). */
static double raw_site_ns(uint32_t n)
{
    /* mov r8d, n; 1: rdmsr; dec r8; jnz 1b; hlt */
    uint8_t code[] = {0x41, 0xB8, 0, 0, 0, 0, 0x0F, 0x32, 0x49, 0xFF, 0xC8, 0x75, 0xF9, 0xF4};
    uint32_t iters = n ? n : 1;
    memcpy(code + 2, &iters, 4);
    uc_engine *uc;
    uc_hook h;
    uc_open(UC_ARCH_X86, UC_MODE_64, &uc);
    uc_mem_map(uc, 0, 16 << 20, UC_PROT_ALL);
    uc_mem_write(uc, 0x100000, code, sizeof(code));
    uc_hook_add(uc, &h, UC_HOOK_CODE, (void *)raw_site_cb, NULL, 0x100006, 0x100006);
    /* CPU time of the process: this row is compared with vs_qemu's, which
     * uses CPU time too (the machine is shared). */
    struct timespec a, b;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
    uc_emu_start(uc, 0x100000, 0x100000 + sizeof(code) - 1, 0, 0);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
    uc_close(uc);
    return (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
}

/* ---- trapped round trips ---- */

static vmdl_fault msr_read(void *o, struct vmdl_vcpu *v, uint32_t i, uint64_t *val)
{
    (void)o; (void)v; (void)i;
    *val = 42;
    return VMDL_FAULT_NONE;
}
static vmdl_fault msr_write(void *o, struct vmdl_vcpu *v, uint32_t i, uint64_t val)
{
    (void)o; (void)v; (void)i; (void)val;
    return VMDL_FAULT_NONE;
}
static const struct vmdl_msr_ops msr_ops = {msr_read, msr_write};

static vmdl_fault vmx_fn(void *o, struct vmdl_vcpu *v, const struct vmdl_x86_insn *in)
{
    (void)o; (void)in;
    vmdl_vcpu_set_reg(v, VMDL_X86_RAX, 7);
    return VMDL_FAULT_NONE;
}

static double x86_trap_ns(const uint8_t *insn, size_t insn_len, bool vmx)
{
    /* mov r8d, N; 1: <insn>; dec r8; jnz 1b; out 0xf4, al */
    uint8_t code[64];
    size_t n = 0;
    const uint8_t head[] = {0xB9, 0x00, 0x4D, 0x56, 0x4B, 0x41, 0xB8};
    memcpy(code, head, sizeof(head));
    n = sizeof(head);
    uint32_t iters = TRAP_ITERS;
    memcpy(code + n, &iters, 4);
    n += 4;
    memcpy(code + n, insn, insn_len);
    n += insn_len;
    const uint8_t tail[] = {0x49, 0xFF, 0xC8, 0x75, 0x00, 0xE6, 0xF4};
    memcpy(code + n, tail, sizeof(tail));
    code[n + 4] = (uint8_t)(0x100 - (insn_len + 5));
    n += sizeof(tail);
    struct vmdl_vm *vm = x86_vm(code, n);
    if (vmx)
        vmdl_vm_set_vmx_handler(vm, vmx_fn, NULL);
    else
        vmdl_vm_add_msr_range(vm, 0x4B564D00, 0x4B564D00, &msr_ops, NULL);
    struct vmdl_exit e;
    uint64_t t0 = bench_now_ns();
    if (vmdl_vm_run(vm, &e) || e.reason != VMDL_EXIT_SHUTDOWN) {
        fprintf(stderr, "bench: trap loop ended with %s\n", vmdl_exit_reason_name(e.reason));
        exit(1);
    }
    uint64_t t = bench_now_ns() - t0;
    vmdl_vm_destroy(vm);
    return (double)t / TRAP_ITERS;
}

static vmdl_fault sysreg_fn(void *o, struct vmdl_vcpu *v, struct vmdl_sysreg_access *a)
{
    (void)o; (void)v;
    if (a->op0 == 3 && a->crn == 12 && a->crm == 10 && a->op2 == 6) {
        a->value = 1;
        return VMDL_FAULT_NONE;
    }
    return VMDL_FAULT_UNCLAIMED;
}

static double arm64_trap_ns(void)
{
    /* movz x9, #(N & 0xffff); movk x9, #(N >> 16), lsl 16;
     * 1: mrs x1, S3_0_C12_C10_6; subs x9, x9, #1; b.ne 1b;
     * movz x0, #8; movk x0, #0x8400, lsl 16; hvc #0 */
    uint32_t n = TRAP_ITERS;
    uint32_t code[] = {
        0xD2800009 | ((n & 0xFFFF) << 5), 0xF2A00009 | ((n >> 16) << 5),
        0xD538CAC1, 0xF1000529, 0x54FFFFC1,
        0xD2800100, 0xF2B08000, 0xD4000002,
    };
    struct vmdl_vm_config cfg = {.arch = VMDL_ARCH_ARM64, .ram_size = 16 << 20};
    struct vmdl_vm *vm;
    if (vmdl_vm_create(&cfg, &vm) ||
        vmdl_vm_load_raw(vm, code, sizeof(code), VMDL_ARM64_DEFAULT_LOAD)) {
        fprintf(stderr, "bench: %s\n", vmdl_last_error());
        exit(1);
    }
    vmdl_vm_add_sysreg_handler(vm, sysreg_fn, NULL);
    struct vmdl_exit e;
    uint64_t t0 = bench_now_ns();
    if (vmdl_vm_run(vm, &e) || e.reason != VMDL_EXIT_SHUTDOWN) {
        fprintf(stderr, "bench: arm64 loop ended with %s\n", vmdl_exit_reason_name(e.reason));
        exit(1);
    }
    uint64_t t = bench_now_ns() - t0;
    vmdl_vm_destroy(vm);
    return (double)t / TRAP_ITERS;
}

int main(void)
{
    double best_h = 1e30, best_r = 1e30;
    for (int r = 0; r < ROUNDS; r++) {
        double h = harness_loop_ns(), u = raw_loop_ns();
        if (h < best_h) best_h = h;
        if (u < best_r) best_r = u;
    }
    double insns = 3.0 * LOOP_ITERS;
    printf("compute loop (%u iterations, 3 instructions each), best of %d rounds:\n",
           LOOP_ITERS, ROUNDS);
    printf("  raw Unicorn        %8.1f ms  %.3f ns/insn\n", best_r / 1e6, best_r / insns);
    printf("  through virtmodel  %8.1f ms  %.3f ns/insn\n", best_h / 1e6, best_h / insns);
    printf("  ratio raw/harness  %.3f (target >= 0.95)\n", best_r / best_h);

    const uint8_t rdmsr[] = {0x0F, 0x32};
    const uint8_t vmread[] = {0x0F, 0x78, 0xD8};
    double msr = 1e30, vmx = 1e30, a64 = 1e30;
    for (int r = 0; r < 3; r++) {
        double m = x86_trap_ns(rdmsr, sizeof(rdmsr), false);
        double v = x86_trap_ns(vmread, sizeof(vmread), true);
        double a = arm64_trap_ns();
        if (m < msr) msr = m;
        if (v < vmx) vmx = v;
        if (a < a64) a64 = a;
    }
    printf("trapped round trip (exit, handler, resume), %u per loop, best of 3:\n", TRAP_ITERS);
    printf("  x86 RDMSR          %8.0f ns  (target <= 1500)\n", msr);
    printf("  x86 VMREAD         %8.0f ns  (target <= 1500)\n", vmx);
    printf("  arm64 MRS sysreg   %8.0f ns  (target <= 300)\n", a64);

    double site = 1e30;
    for (int r = 0; r < 3; r++) {
        double d = (raw_site_ns(TRAP_ITERS) - raw_site_ns(0)) / TRAP_ITERS;
        if (d < site) site = d;
    }
    printf("raw Unicorn, RDMSR completed by a code hook (RAX, RDX, RIP), CPU time, best of 3:\n");
    printf("  per iteration      %8.1f ns  (the floor of a trap site)\n", site);
    return 0;
}
