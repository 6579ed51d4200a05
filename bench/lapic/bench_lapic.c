/* SPDX-License-Identifier: MIT */
/*
 * Cost of finding the highest pending vector and delivering it:
 *   - a plain 256-bit scan of IRR, bit by bit, as the reference;
 *   - a word scan (8 x 32-bit, count-leading-zeros), what the software
 *     backend does;
 *   - vmdl_lapic_pending() with the software backend and with APICv
 *     (RVI kept up to date, no scan);
 *   - a full cycle: message accepted, pending, ack (IRR -> ISR), EOI.
 * Prints ns/op side by side.  Usage: bench_lapic [iterations]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "virtmodel/lapic.h"

/* IRR as it sits in the APIC page: 8 registers 16 bytes apart. */
static int scan_bits(const uint8_t *page)
{
    for (int v = 255; v >= 0; v--) {
        uint32_t w;
        memcpy(&w, page + 0x200 + (v / 32) * 0x10, 4);
        if ((w >> (v % 32)) & 1)
            return v;
    }
    return -1;
}

static int scan_words(const uint8_t *page)
{
    for (int i = 7; i >= 0; i--) {
        uint32_t w;
        memcpy(&w, page + 0x200 + i * 0x10, 4);
        if (w)
            return i * 32 + 31 - __builtin_clz(w);
    }
    return -1;
}

static struct vmdl_lapic_bus *mk(bool apicv)
{
    struct vmdl_lapic_bus_config c = {.nr_apics = 1, .x2apic = true, .apicv = apicv};
    struct vmdl_lapic_bus *bus;
    if (vmdl_lapic_bus_create(&c, &bus))
        exit(1);
    struct vmdl_lapic *a = vmdl_lapic_bus_get(bus, 0);
    vmdl_lapic_mmio_write(a, VMDL_LAPIC_SVR, 4, 0x1FF);
    return bus;
}

/* Low vectors pending, TPR above them: pending() must search but finds
 * nothing deliverable (the common "blocked" case) or the highest one. */
static double bench_pending(bool apicv, uint64_t iters, int *out)
{
    struct vmdl_lapic_bus *bus = mk(apicv);
    struct vmdl_lapic *a = vmdl_lapic_bus_get(bus, 0);
    vmdl_lapic_bus_deliver(bus, 0, false, VMDL_LAPIC_DM_FIXED, 0x21, false);
    vmdl_lapic_bus_deliver(bus, 0, false, VMDL_LAPIC_DM_FIXED, 0x35, false);
    int r = 0;
    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < iters; i++)
        r += vmdl_lapic_pending(a);
    uint64_t t1 = bench_now_ns();
    *out = r;
    vmdl_lapic_bus_destroy(bus);
    return (double)(t1 - t0) / (double)iters;
}

static double bench_cycle(bool apicv, uint64_t iters)
{
    struct vmdl_lapic_bus *bus = mk(apicv);
    struct vmdl_lapic *a = vmdl_lapic_bus_get(bus, 0);
    uint64_t sum = 0;
    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < iters; i++) {
        uint8_t v = (uint8_t)(0x30 + (i * 37) % 0xC0);
        vmdl_lapic_bus_deliver(bus, 0, false, VMDL_LAPIC_DM_FIXED, v, false);
        int p = vmdl_lapic_pending(a);
        sum += (uint64_t)vmdl_lapic_ack(a) + (uint64_t)p;
        vmdl_lapic_mmio_write(a, VMDL_LAPIC_EOI, 4, 0);
    }
    uint64_t t1 = bench_now_ns();
    bench_keep(sum);
    vmdl_lapic_bus_destroy(bus);
    return (double)(t1 - t0) / (double)iters;
}

int main(int argc, char **argv)
{
    uint64_t iters = argc > 1 ? strtoull(argv[1], NULL, 0) : 5000000;
    /* a page with vectors 0x21 and 0x35 pending: a scan from 255 walks
     * most of the bitmap, as it does in a real guest */
    static uint8_t page[4096];
    uint32_t w = (1u << (0x35 % 32)) | (1u << (0x21 % 32)); /* IRR1 */
    memcpy(page + 0x210, &w, 4);
    int r = 0;
    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < iters; i++) {
        bench_keep((uint64_t)(uintptr_t)page);
        r += scan_bits(page);
    }
    uint64_t t1 = bench_now_ns();
    for (uint64_t i = 0; i < iters; i++) {
        bench_keep((uint64_t)(uintptr_t)page);
        r += scan_words(page);
    }
    uint64_t t2 = bench_now_ns();
    bench_keep((uint64_t)r);
    int rs, ra;
    double sw = bench_pending(false, iters, &rs);
    double av = bench_pending(true, iters, &ra);
    bench_keep((uint64_t)(rs + ra));
    double csw = bench_cycle(false, iters / 5);
    double cav = bench_cycle(true, iters / 5);
    printf("lapic highest-pending-vector search (%llu iterations)\n",
           (unsigned long long)iters);
    printf("  %-44s %8.2f ns/op\n", "plain 256-bit scan (bit by bit)",
           (double)(t1 - t0) / (double)iters);
    printf("  %-44s %8.2f ns/op\n", "word scan (8 x clz)",
           (double)(t2 - t1) / (double)iters);
    printf("  %-44s %8.2f ns/op\n", "vmdl_lapic_pending, software backend", sw);
    printf("  %-44s %8.2f ns/op\n", "vmdl_lapic_pending, APICv backend (RVI)", av);
    printf("lapic delivery cycle: accept + pending + ack + EOI\n");
    printf("  %-44s %8.2f ns/op\n", "software backend", csw);
    printf("  %-44s %8.2f ns/op\n", "APICv backend (PIR, RVI/SVI)", cav);
    printf("  ratio plain scan / APICv pending: %.1fx\n",
           ((double)(t1 - t0) / (double)iters) / av);
    return 0;
}
