/* SPDX-License-Identifier: MIT */
/*
 * What a #PF delivered through a 64-bit IDT gate costs the hosted x86
 * vCPU, in a guest (L1) and in a nested guest (L2) without and with the
 * second stage (L1's EPT, vmdl_vcpu_set_x86_npt, mapping the first 4 MiB
 * identically ahead of time).  The 64-bit guest (hosted_lm64.h) halts
 * once; there it becomes L2 (exceptions offered to an event hook that
 * declines them, as an L1 whose exception bitmap lacks #PF) and runs a loop
 * of N reads of a not-present page, whose #PF handler skips the read and
 * returns with IRETQ.  Columns: the machine's own delivery
 * (hosted_deliver64.c) and QEMU's through the VMRUN stub (no_fast_traps;
 * the path a nested guest under the second stage took before the
 * machine's delivery handled it).  Cost per #PF = (CPU time at N - CPU
 * time at 0) / N of the run after the HLT, best of TRIES; CPU time, since
 * the machine is shared.  Prints its figures; asserts nothing.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine/hosted_lm64.h"
#include "machine/lm64_run.h"

#define IMG (LM64_PAYLOAD + 0x100)
#define IDT 0x200u                     /* in the image, 16 vectors */
#define HANDLER 0x80u                  /* in the payload */
#define MAPPED (4u << 20)              /* what the second stage maps */
#define TRIES 3

enum mode { L1, L2, L2_EPT };
static const char *const mode_name[] = { "L1 (not nested)", "L2, no second stage",
                                         "L2 under the second stage (EPT)" };

static void put32(uint8_t *p, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* hlt; mov ecx, n; 1: mov rax, [0x40000000] (PDPT[1] not present); dec ecx;
 * jnz 1b; hlt.  #PF: add qword [rsp + 8], 8; add rsp, 8; iretq. */
static void make_image(uint8_t *img, uint32_t n)
{
    memset(img, 0, IMG);
    memcpy(img, hosted_lm64_image, sizeof(hosted_lm64_image));
    uint8_t *c = img + LM64_PAYLOAD;
    *c++ = 0xF4;
    *c++ = 0xB9; put32(c, n); c += 4;
    if (n) {
        static const uint8_t body[] = { 0x48, 0x8B, 0x04, 0x25, 0x00, 0x00, 0x00, 0x40,
                                        0xFF, 0xC9, 0x75, 0xF4 };
        memcpy(c, body, sizeof(body));
        c += sizeof(body);
    }
    *c = 0xF4;
    static const uint8_t pf[] = { 0x48, 0x83, 0x44, 0x24, 0x08, 0x08, 0x48, 0x83, 0xC4, 0x08,
                                  0x48, 0xCF };
    memcpy(img + LM64_PAYLOAD + HANDLER, pf, sizeof(pf));
    uint32_t target = LM64_LOAD + LM64_PAYLOAD + HANDLER;
    uint8_t *g = img + IDT + 14 * 16;
    put32(g, (target & 0xFFFF) | (0x08u << 16));
    put32(g + 4, (target & 0xFFFF0000u) | 0x8E00u);
}

/* L1: declines every event (L2 handles its exceptions), maps a page the
 * second stage misses identically. */
static bool l1_hook(void *opaque, struct vmdl_vcpu *vcpu, const struct vmdl_x86_event *ev)
{
    (void)opaque;
    return ev->kind == VMDL_X86_EVENT_NPF &&
           !vmdl_vcpu_x86_npt_map(vcpu, ev->npf.gpa & ~0xFFFull, ev->npf.gpa & ~0xFFFull,
                                  VMDL_NPT_WRITE | VMDL_NPT_EXEC);
}

static void fail(const char *what)
{
    fprintf(stderr, "bench_deliver64: %s: %s\n", what, vmdl_last_error());
    exit(1);
}

static void run_to_hlt(struct vmdl_vm *vm, const char *what)
{
    struct vmdl_exit e;
    if (vmdl_vm_run(vm, &e) || e.reason != VMDL_EXIT_HLT) {
        fprintf(stderr, "bench_deliver64: %s ended with %s\n", what,
                vmdl_exit_reason_name(e.reason));
        fail(what);
    }
}

/* CPU time of the loop of n #PFs (after the first HLT). */
static double run_ns(enum mode mode, bool slow, uint32_t n)
{
    static uint8_t img[IMG];
    make_image(img, n);
    struct vmdl_vm_config cfg = { .arch = VMDL_ARCH_X86_64, .ram_size = 32 << 20,
                                  .no_fast_traps = slow };
    struct vmdl_vm *vm;
    struct vmdl_mb_boot mb = { "bench", NULL, 0 };
    if (vmdl_vm_create(&cfg, &vm) || vmdl_vm_load_multiboot(vm, img, sizeof(img), &mb))
        fail("boot");
    run_to_hlt(vm, "the boot");
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    struct vmdl_x86_sys_state st;
    if (vmdl_vcpu_get_x86_sys(v, &st))
        fail("get_x86_sys");
    st.activity = 0;                                    /* run on from the HLT */
    if (vmdl_vcpu_set_x86_sys(v, &st))
        fail("set_x86_sys");
    if (mode != L1) {
        struct vmdl_x86_nested_ctl ctl = { 0 };
        if (vmdl_vm_set_x86_event_hook(vm, l1_hook, NULL) || vmdl_vcpu_set_x86_nested(v, &ctl))
            fail("nested");
    }
    if (mode == L2_EPT) {
        if (vmdl_vcpu_set_x86_npt(v, true))
            fail("set_x86_npt");
        for (uint64_t page = 0; page < MAPPED; page += 0x1000)
            if (vmdl_vcpu_x86_npt_map(v, page, page, VMDL_NPT_WRITE | VMDL_NPT_EXEC))
                fail("npt_map");
    }
    double t0 = lm64_cpu_ns();
    run_to_hlt(vm, "the loop");
    double t = lm64_cpu_ns() - t0;
    uint64_t r13 = 1;
    vmdl_vcpu_get_reg(v, VMDL_X86_R13, &r13);
    if (r13) {
        fprintf(stderr, "bench_deliver64: the guest recorded vector %" PRIu64 "\n", r13);
        exit(1);
    }
    vmdl_vm_destroy(vm);
    return t;
}

static double per_pf_ns(enum mode mode, bool slow, uint32_t n)
{
    double best = 0;
    for (int r = 0; r < TRIES; r++) {
        double d = (run_ns(mode, slow, n) - run_ns(mode, slow, 0)) / n;
        if (r == 0 || d < best)
            best = d;
    }
    return best;
}

int main(int argc, char **argv)
{
    uint32_t n = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 0) : 100000u;
    /* [N [MODE]]: one row (0 L1, 1 L2, 2 L2 under EPT), for profiling */
    int only = argc > 2 ? atoi(argv[2]) : -1;
    printf("hosted x86 vCPU: %u #PFs per run through a 64-bit interrupt gate, CPU ns "
           "per #PF (best of %d)\n", n, TRIES);
    printf("%-34s %14s %14s\n", "", "machine's", "QEMU's (stub)");
    for (int m = L1; m <= L2_EPT; m++) {
        if (only >= 0 && only != m)
            continue;
        double fast = per_pf_ns((enum mode)m, false, n);
        double slow = per_pf_ns((enum mode)m, true, n);
        printf("%-34s %14.1f %14.1f\n", mode_name[m], fast, slow);
    }
    return 0;
}
