/* SPDX-License-Identifier: MIT */
/*
 * AMD PMU, guest level (issue 5, item 8): the same compute loop run
 *   (1) on raw Unicorn,
 *   (2) through virtmodel with the PMU attached and no counter live,
 *   (3) through virtmodel with PERF_CTR0 counting retired instructions,
 * side by side in one run, best of several rounds each; prints both ratios
 * and checks that (3) counted every instruction of the loop.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicorn/unicorn.h>

#include "bench_util.h"
#include "virtmodel/attach_amd_pmu.h"
#include "virtmodel/error.h"
#include "virtmodel/loader.h"
#include "virtmodel/machine.h"

#define ITERS 50000000u /* 3 instructions each */
#define ROUNDS 3

/*
 * [prologue] mov ecx, 0xC0010200; mov eax, EVTSEL; xor edx, edx; wrmsr
 * mov ecx, ITERS
 * 1: add rax, rcx; dec rcx; jnz 1b
 * mov ecx, 0xC0010201; rdmsr; mov [0x7000], eax; mov [0x7004], edx
 * out 0xf4, al
 */
static size_t loop_code(uint8_t *c, uint32_t evtsel)
{
    size_t n = 0;
    const uint8_t pro[] = {0xB9, 0x00, 0x02, 0x01, 0xC0, 0xB8, 0, 0, 0, 0,
                           0x31, 0xD2, 0x0F, 0x30};
    memcpy(c + n, pro, sizeof(pro));
    memcpy(c + n + 6, &evtsel, 4);
    n += sizeof(pro);
    uint32_t iters = ITERS;
    c[n++] = 0xB9;
    memcpy(c + n, &iters, 4);
    n += 4;
    const uint8_t body[] = {0x48, 0x01, 0xC8, 0x48, 0xFF, 0xC9, 0x75, 0xF8};
    memcpy(c + n, body, sizeof(body));
    n += sizeof(body);
    const uint8_t epi[] = {0xB9, 0x01, 0x02, 0x01, 0xC0, 0x0F, 0x32,
                           0x89, 0x04, 0x25, 0x00, 0x70, 0x00, 0x00,
                           0x89, 0x14, 0x25, 0x04, 0x70, 0x00, 0x00,
                           0xE6, 0xF4};
    memcpy(c + n, epi, sizeof(epi));
    return n + sizeof(epi);
}

static double harness_ns(uint32_t evtsel, uint64_t *counted)
{
    uint8_t code[128];
    size_t len = loop_code(code, evtsel);
    struct vmdl_vm_config cfg = {.arch = VMDL_ARCH_X86_64, .vendor = VMDL_VENDOR_AMD,
                                 .ram_size = 16 << 20};
    struct vmdl_vm *vm;
    if (vmdl_vm_create(&cfg, &vm) || vmdl_vm_load_raw(vm, code, len, 0x100000) ||
        vmdl_attach_amd_pmu_named(vm, "perfmonv2", 0)) {
        fprintf(stderr, "bench: %s\n", vmdl_last_error());
        exit(1);
    }
    struct vmdl_exit e;
    uint64_t t0 = bench_now_ns();
    if (vmdl_vm_run(vm, &e) || e.reason != VMDL_EXIT_SHUTDOWN) {
        fprintf(stderr, "bench: loop ended with %s\n", vmdl_exit_reason_name(e.reason));
        exit(1);
    }
    uint64_t t = bench_now_ns() - t0;
    uint32_t lo, hi;
    const struct vmdl_guest_mem *m = vmdl_vm_guest_mem(vm);
    vmdl_guest_read(m, 0x7000, &lo, 4);
    vmdl_guest_read(m, 0x7004, &hi, 4);
    *counted = ((uint64_t)hi << 32) | lo;
    vmdl_vm_destroy(vm);
    return (double)t;
}

static void count_cb(uc_engine *uc, uint64_t a, uint32_t sz, void *user)
{
    (void)uc; (void)a; (void)sz;
    (*(uint64_t *)user)++;
}

/* The mechanism not chosen: a per-instruction hook, for comparison. */
static double raw_code_hook_ns(uint64_t *n)
{
    uint8_t code[128];
    size_t len = loop_code(code, 0);
    uc_engine *uc;
    uc_hook h;
    uc_open(UC_ARCH_X86, UC_MODE_64, &uc);
    uc_mem_map(uc, 0, 16 << 20, UC_PROT_ALL);
    uc_mem_write(uc, 0x100000, code, len);
    *n = 0;
    uc_hook_add(uc, &h, UC_HOOK_CODE, (void *)count_cb, n, 1, 0);
    uint64_t t0 = bench_now_ns();
    uc_emu_start(uc, 0x100000 + 14, 0x100000 + 14 + 5 + 8, 0, 0);
    uint64_t t = bench_now_ns() - t0;
    uc_close(uc);
    return (double)t;
}

static double raw_ns(void)
{
    uint8_t code[128];
    size_t len = loop_code(code, 0);
    uc_engine *uc;
    uc_open(UC_ARCH_X86, UC_MODE_64, &uc);
    uc_mem_map(uc, 0, 16 << 20, UC_PROT_ALL);
    uc_mem_write(uc, 0x100000, code, len);
    /* Raw Unicorn at CPL0 executes WRMSR/RDMSR itself: start after the
     * prologue and stop before the epilogue, the loop alone. */
    uint64_t t0 = bench_now_ns();
    uc_emu_start(uc, 0x100000 + 14, 0x100000 + 14 + 5 + 8, 0, 0);
    uint64_t t = bench_now_ns() - t0;
    uc_close(uc);
    return (double)t;
}

int main(void)
{
    /* EN (22) | INT off | OS (17) | USR (16) | event 0xC0: retired instructions */
    const uint32_t count_insns = (1u << 22) | (1u << 17) | (1u << 16) | 0xC0;
    double best_raw = 1e30, best_idle = 1e30, best_live = 1e30, best_hook = 1e30;
    uint64_t counted = 0, ignored, hooked = 0;
    for (int r = 0; r < ROUNDS; r++) {
        double a = raw_ns(), b = harness_ns(0, &ignored), c = harness_ns(count_insns, &counted);
        double d = raw_code_hook_ns(&hooked);
        if (a < best_raw) best_raw = a;
        if (b < best_idle) best_idle = b;
        if (c < best_live) best_live = c;
        if (d < best_hook) best_hook = d;
    }
    double insns = 3.0 * ITERS;
    printf("AMD PMU guest loop (%u iterations, 3 instructions each), best of %d:\n",
           ITERS, ROUNDS);
    printf("  raw Unicorn                     %8.1f ms  %.3f ns/insn\n", best_raw / 1e6, best_raw / insns);
    printf("  virtmodel, PMU, no counter live %8.1f ms  %.3f ns/insn\n", best_idle / 1e6, best_idle / insns);
    printf("  virtmodel, PMU, 1 counter live  %8.1f ms  %.3f ns/insn\n", best_live / 1e6, best_live / insns);
    printf("  raw Unicorn + UC_HOOK_CODE      %8.1f ms  %.3f ns/insn (per-instruction\n"
           "                                  hook, the mechanism not used; %" PRIu64 " calls)\n",
           best_hook / 1e6, best_hook / insns, hooked);
    printf("  ratio raw / no-counter          %.3f (target: no measurable cost)\n", best_raw / best_idle);
    printf("  ratio raw / counting            %.3f (block hook + cached block lengths)\n", best_raw / best_live);
    printf("  ratio raw / per-instruction hook %.3f\n", best_raw / best_hook);
    printf("  PERF_CTR0 counted %" PRIu64 " (loop %u + mov ecx + mov ecx = %" PRIu64 ")\n",
           counted, 3 * ITERS, (uint64_t)3 * ITERS + 2);
    return counted == (uint64_t)3 * ITERS + 2 ? 0 : 1;
}
