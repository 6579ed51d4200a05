/* SPDX-License-Identifier: MIT */
/*
 * What the alignment checks cost the hosted x86 vCPU (hosted_align.c).  A
 * 64-bit guest at CPL 0 runs a loop of N iterations, each a few
 * instructions in one translation block:
 *  - "load/add/store" with CR0.AM clear (nothing watched) and set (every
 *    block entry is looked at for CPL 3 with RFLAGS.AC; none is, so no
 *    check is made);
 *  - "MOVUPS" (no check) and "MOVAPS" (an aligned-SSE instruction: a code
 *    hook decodes it and checks its address at every execution).
 * CPU ns per iteration = (CPU time at N - CPU time at 0) / N, best of 3.
 * Prints its figures; asserts nothing.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "virtmodel/error.h"
#include "virtmodel/loader.h"
#include "virtmodel/machine.h"
#include "virtmodel/multiboot.h"
#include "machine/hosted_lm64.h"
#include "machine/lm64_run.h"

#define TRIES 3
#define IMG (LM64_PAYLOAD + 0x100)

enum body { ALU, MOVUPS, MOVAPS };

static void put32(uint8_t *p, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* CR4.OSFXSR; [CR0.AM;] mov esi, 0x400000; mov ecx, n; 1: body; dec ecx;
 * jnz 1b; hlt */
static void payload(uint8_t *c, bool am, enum body body, uint32_t n)
{
    static const uint8_t osfxsr[] = {0x0F, 0x20, 0xE0, 0x48, 0x0D, 0x00, 0x06, 0x00,
                                     0x00, 0x0F, 0x22, 0xE0};
    static const uint8_t cr0_am[] = {0x0F, 0x20, 0xC0, 0x48, 0x0D, 0x00, 0x00, 0x04,
                                     0x00, 0x0F, 0x22, 0xC0};
    static const uint8_t alu[] = {0x48, 0x8B, 0x06, 0x48, 0x83, 0xC0, 0x01, 0x48, 0x89,
                                  0x06};
    static const uint8_t movups[] = {0x0F, 0x10, 0x06, 0x0F, 0x58, 0xC0};
    static const uint8_t movaps[] = {0x0F, 0x28, 0x06, 0x0F, 0x58, 0xC0};
    uint8_t *p = c;
    memcpy(p, osfxsr, sizeof(osfxsr));
    p += sizeof(osfxsr);
    if (am) {
        memcpy(p, cr0_am, sizeof(cr0_am));
        p += sizeof(cr0_am);
    }
    if (n) {
        *p++ = 0xBE;
        put32(p, 0x400000);
        p += 4;
        *p++ = 0xB9;
        put32(p, n);
        p += 4;
        uint8_t *loop = p;
        const uint8_t *b = body == ALU ? alu : body == MOVUPS ? movups : movaps;
        size_t len = body == ALU ? sizeof(alu) : sizeof(movups);
        memcpy(p, b, len);
        p += len;
        *p++ = 0xFF;
        *p++ = 0xC9;
        *p++ = 0x75;
        *p = (uint8_t)(loop - (p + 1));
        p++;
    }
    *p = 0xF4;
}

static double run_ns(bool am, enum body body, uint32_t n)
{
    static uint8_t img[IMG];
    memset(img, 0, sizeof(img));
    memcpy(img, hosted_lm64_image, sizeof(hosted_lm64_image));
    payload(img + LM64_PAYLOAD, am, body, n);
    return lm64_run_ns("bench_align", img, sizeof(img));
}

static double per_iter_ns(bool am, enum body body, uint32_t n)
{
    double best = 0;
    for (int r = 0; r < TRIES; r++) {
        double d = (run_ns(am, body, n) - run_ns(am, body, 0)) / n;
        if (r == 0 || d < best)
            best = d;
    }
    return best;
}

int main(int argc, char **argv)
{
    uint32_t n = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 0) : 2000000u;
    printf("hosted x86 vCPU, 64-bit loop at CPL 0, %u iterations: CPU ns per "
           "iteration (best of %d)\n", n, TRIES);
    printf("%-44s %8.2f\n", "load/add/store, CR0.AM clear",
           per_iter_ns(false, ALU, n));
    printf("%-44s %8.2f\n", "load/add/store, CR0.AM set (blocks watched)",
           per_iter_ns(true, ALU, n));
    printf("%-44s %8.2f\n", "MOVUPS load + ADDPS (not checked)",
           per_iter_ns(false, MOVUPS, n));
    printf("%-44s %8.2f\n", "MOVAPS load + ADDPS (checked by a hook)",
           per_iter_ns(false, MOVAPS, n / 20));
    return 0;
}
