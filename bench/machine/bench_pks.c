/* SPDX-License-Identifier: MIT */
/*
 * What the C page walk costs the hosted x86 vCPU (hosted_walk.c): while
 * CR4.PKS is on, every softmmu TLB miss is a UC_HOOK_TLB_FILL call that
 * walks the guest's tables in C, instead of QEMU's own walk.  A 64-bit
 * guest reads one byte from each 4 KiB page of 8 MiB, ROUNDS times, with
 * a MOV to CR3 before each round ("misses": every read fills the TLB, the
 * walk's cost) or without ("no flush": 2048 pages do not fit QEMU's
 * softmmu TLB either), and from each of 32 pages ("hits": the pages stay
 * in the TLB, which costs the same in both modes).  Rows: CR4.PKS
 * off (QEMU's walk, UC_TLB_CPU) and on (the C walk, UC_TLB_VIRTUAL).
 * Cost per read = (CPU time at ROUNDS - CPU time at 0 rounds) /
 * (ROUNDS * pages), best of 3; CPU time, since the machine is shared.
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

#define PAGES 2048u             /* 8 MiB from 4 MiB: more than the TLB holds */
#define HOT_PAGES 32u           /* few enough to stay in the TLB */
#define TRIES 3
#define IMG (LM64_PAYLOAD + 0x100)

static void put32(uint8_t *p, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* [CR4.PKS on;] mov r8d, rounds; 1: [mov rax, cr3; mov cr3, rax;]
 * mov esi, 0x400000; mov ecx, PAGES; 2: mov al, [rsi]; add rsi, 4096;
 * dec ecx; jnz 2b; dec r8d; jnz 1b; hlt */
static size_t payload(uint8_t *c, bool pks, bool flush, uint32_t pages, uint32_t rounds)
{
    static const uint8_t pks_on[] = { 0x0F, 0x20, 0xE0, 0x48, 0x0D, 0x00, 0x00, 0x00,
                                      0x01, 0x0F, 0x22, 0xE0 };
    uint8_t *p = c;
    if (pks) {
        memcpy(p, pks_on, sizeof(pks_on));
        p += sizeof(pks_on);
    }
    if (!rounds) {
        *p++ = 0xF4;
        return (size_t)(p - c);
    }
    *p++ = 0x41; *p++ = 0xB8; put32(p, rounds); p += 4;
    uint8_t *outer = p;
    if (flush) {
        static const uint8_t cr3[] = { 0x0F, 0x20, 0xD8, 0x0F, 0x22, 0xD8 };
        memcpy(p, cr3, sizeof(cr3));
        p += sizeof(cr3);
    }
    *p++ = 0xBE; put32(p, 0x400000); p += 4;
    *p++ = 0xB9; put32(p, pages); p += 4;
    uint8_t *inner = p;
    static const uint8_t body[] = { 0x8A, 0x06, 0x48, 0x81, 0xC6, 0x00, 0x10, 0x00, 0x00,
                                    0xFF, 0xC9 };
    memcpy(p, body, sizeof(body));
    p += sizeof(body);
    *p++ = 0x75; *p = (uint8_t)(inner - (p + 1)); p++;
    *p++ = 0x41; *p++ = 0xFF; *p++ = 0xC8;
    *p++ = 0x75; *p = (uint8_t)(outer - (p + 1)); p++;
    *p++ = 0xF4;
    return (size_t)(p - c);
}

static double run_ns(bool pks, bool flush, uint32_t pages, uint32_t rounds)
{
    static uint8_t img[IMG];
    memset(img, 0, sizeof(img));
    memcpy(img, hosted_lm64_image, sizeof(hosted_lm64_image));
    payload(img + LM64_PAYLOAD, pks, flush, pages, rounds);
    return lm64_run_ns("bench_pks", img, sizeof(img));
}

static double per_read_ns(bool pks, bool flush, uint32_t pages, uint32_t rounds)
{
    double best = 0;
    for (int r = 0; r < TRIES; r++) {
        double d = (run_ns(pks, flush, pages, rounds) - run_ns(pks, flush, pages, 0)) /
                   ((double)rounds * pages);
        if (r == 0 || d < best)
            best = d;
    }
    return best;
}

int main(int argc, char **argv)
{
    uint32_t rounds = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 0) : 200u;
    printf("hosted x86 vCPU: one read per 4 KiB page, CPU ns per read (best of %d); "
           "misses: %u pages x %u rounds, a MOV CR3 before each; no flush: the same "
           "pages without it; hits: %u pages x %u rounds\n", TRIES, PAGES, rounds,
           HOT_PAGES, rounds * (PAGES / HOT_PAGES));
    printf("%-38s %10s %10s %10s\n", "", "misses", "no flush", "hits");
    for (int pks = 0; pks < 2; pks++) {
        double miss = per_read_ns(pks, true, PAGES, rounds);
        double spill = per_read_ns(pks, false, PAGES, rounds);
        double hit = per_read_ns(pks, false, HOT_PAGES, rounds * (PAGES / HOT_PAGES));
        printf("%-38s %10.1f %10.1f %10.1f\n",
               pks ? "CR4.PKS on (C walk, UC_TLB_VIRTUAL)" : "CR4.PKS off (QEMU's walk)",
               miss, spill, hit);
    }
    return 0;
}
