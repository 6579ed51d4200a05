/* SPDX-License-Identifier: MIT */
/*
 * TDX global metadata: cost of TDH.SYS.RD per field over the C API, of a
 * full next-field walk, of the Linux-like reader, and of parsing profiles.
 * Prints figures only; no assertions on time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "virtmodel/error.h"
#include "virtmodel/tdx.h"
#include "virtmodel/tdx_reader.h"

static struct vmdl_tdx *make(const char *name)
{
    struct vmdl_tdx *m = NULL;
    if (vmdl_tdx_create_named(name, 1, &m) || vmdl_tdx_init_all(m)) {
        fprintf(stderr, "bench_tdx: %s\n", vmdl_last_error());
        exit(1);
    }
    return m;
}

int main(int argc, char **argv)
{
    unsigned rounds = argc > 1 ? (unsigned)atoi(argv[1]) : 20000;
    printf("tdx bench (%u rounds)\n", rounds);
    for (unsigned pi = 0; pi < vmdl_tdx_builtin_count(); pi++) {
        const char *name = vmdl_tdx_builtin_name(pi);
        struct vmdl_tdx *m = make(name);

        /* Every readable element by ID, through vmdl_tdx_seamcall. */
        uint64_t ids[512];
        unsigned n = 0;
        uint64_t v, next = VMDL_TDX_FID_NA, sum = 0;
        vmdl_tdx_sys_rd(m, 0, VMDL_TDX_FID_NA, &v, &next);
        while (next != VMDL_TDX_FID_NA && n < 512) {
            ids[n++] = next;
            vmdl_tdx_sys_rd(m, 0, next, &v, &next);
        }
        uint64_t t0 = bench_now_ns();
        for (unsigned r = 0; r < rounds; r++)
            for (unsigned i = 0; i < n; i++) {
                struct vmdl_tdx_regs regs = {.rax = VMDL_TDH_SYS_RD,
                                             .rdx = ids[i]};
                vmdl_tdx_seamcall(m, 0, &regs);
                sum += regs.r8 ^ regs.rax;
            }
        uint64_t t1 = bench_now_ns();
        bench_keep(sum);
        double per_rd = (double)(t1 - t0) / ((double)rounds * n);

        /* The first field (VENDOR_ID) and the last (CPUID_CONFIG_VALUES[63]):
         * lookup cost grows with the table position. */
        uint64_t first = ids[0], last = ids[n - 1];
        t0 = bench_now_ns();
        for (unsigned r = 0; r < rounds * 10; r++)
            sum += vmdl_tdx_sys_rd(m, 0, first, &v, NULL) + v;
        t1 = bench_now_ns();
        double per_first = (double)(t1 - t0) / (rounds * 10.0);
        t0 = bench_now_ns();
        for (unsigned r = 0; r < rounds * 10; r++)
            sum += vmdl_tdx_sys_rd(m, 0, last, &v, NULL) + v;
        t1 = bench_now_ns();
        double per_last = (double)(t1 - t0) / (rounds * 10.0);
        bench_keep(sum);

        /* Linux-like reader over the C API. */
        static struct vmdl_tdx_sys_info info;
        struct vmdl_tdx_read_result res;
        struct vmdl_tdx_rd_ctx ctx = {m, 0};
        unsigned rr = rounds / 10 ? rounds / 10 : 1;
        t0 = bench_now_ns();
        for (unsigned r = 0; r < rr; r++)
            vmdl_tdx_read_sys_info(vmdl_tdx_rd_module, &ctx, &info, &res);
        t1 = bench_now_ns();
        double per_reader = (double)(t1 - t0) / rr;

        printf("%-11s TDH.SYS.RD walk of %3u elements: %6.1f ns/field  "
               "(first field %5.1f ns, last %5.1f ns)\n",
               name, n, per_rd, per_first, per_last);
        printf("%-11s Linux-like reader, %u reads: %8.0f ns/pass (%.1f ns/read)\n",
               name, res.nr_reads, per_reader, per_reader / res.nr_reads);
        vmdl_tdx_destroy(m);
    }

    /* Profile parsing (built-in text of the deepest profile, 3 levels). */
    unsigned pr = rounds / 10 ? rounds / 10 : 1;
    uint64_t t0 = bench_now_ns();
    for (unsigned r = 0; r < pr; r++) {
        struct vmdl_tdx_profile *p = NULL;
        vmdl_tdx_profile_builtin("tdx-2.0.02", &p);
        vmdl_tdx_profile_free(p);
    }
    uint64_t t1 = bench_now_ns();
    printf("profile parse tdx-2.0.02 (with its 2 bases): %.1f us\n",
           (double)(t1 - t0) / pr / 1000.0);
    return 0;
}
