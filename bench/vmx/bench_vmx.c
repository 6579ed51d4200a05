/* SPDX-License-Identifier: MIT */
/*
 * vmx model benchmark: field lookup through the ROL16 direct table vs a
 * linear search of the same field list (same run, same encodings), then the
 * cost of a whole VMREAD/VMWRITE through the model.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "virtmodel/error.h"
#include "virtmodel/vmx.h"

#define ROUNDS 20000u

int main(int argc, char **argv)
{
    unsigned rounds = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 0) : ROUNDS;
    unsigned n = vmdl_vmcs_field_count();
    /* every field of the table, plus as many unknown encodings */
    unsigned ne = 2 * n;
    uint16_t *enc = malloc(ne * sizeof(*enc));
    if (!enc)
        return 1;
    for (unsigned i = 0; i < n; i++) {
        enc[i] = vmdl_vmcs_field_at(i)->encoding;
        enc[n + i] = (uint16_t)(0x0830 + 2 * i);   /* not fields */
    }

    uint64_t sum = 0, t0, t_rol = 0, t_lin = 0;
    for (int pass = 0; pass < 2; pass++) {     /* pass 0 warms up */
        t0 = bench_now_ns();
        for (unsigned r = 0; r < rounds; r++)
            for (unsigned i = 0; i < ne; i++)
                sum += (uintptr_t)vmdl_vmcs_field_lookup(enc[i]);
        t_rol = bench_now_ns() - t0;
        t0 = bench_now_ns();
        for (unsigned r = 0; r < rounds; r++)
            for (unsigned i = 0; i < ne; i++)
                sum += (uintptr_t)vmdl_vmcs_field_lookup_linear(enc[i]);
        t_lin = bench_now_ns() - t0;
    }
    bench_keep(sum);
    double ops = (double)rounds * ne;
    printf("vmx field lookup, %u fields + %u unknown encodings, %u rounds:\n", n, n,
           rounds);
    printf("  rol16 direct table : %8.2f ns/lookup\n", t_rol / ops);
    printf("  linear search      : %8.2f ns/lookup\n", t_lin / ops);
    printf("  ratio linear/rol16 : %8.1fx\n", (double)t_lin / (double)t_rol);

    /* Whole instructions through the model (sapphire-rapids profile). */
    static uint8_t ram[1 << 16];
    struct vmdl_flat_mem flat = {ram, 0, sizeof(ram)};
    struct vmdl_guest_mem mem;
    vmdl_flat_mem_init(&mem, &flat);
    struct vmdl_vmx_caps caps;
    struct vmdl_vmx_model *m;
    struct vmdl_vmx *vmx;
    if (vmdl_vmx_profile_get("sapphire-rapids", &caps) ||
        vmdl_vmx_model_create(&caps, &m) || vmdl_vmx_create(m, &mem, &vmx)) {
        fprintf(stderr, "setup: %s\n", vmdl_last_error());
        return 1;
    }
    uint32_t rev = VMDL_VMCS12_REVISION;
    memcpy(ram + 0x1000, &rev, 4);
    memcpy(ram + 0x2000, &rev, 4);
    struct vmdl_vmx_ctx ctx = {.cr0 = 0x80000031, .cr4 = 0x2020, .rflags = 2};
    struct vmdl_vmx_result res;
    vmdl_vmx_set_feature_control(vmx, 5);
    vmdl_vmx_vmxon(vmx, &ctx, 0x1000, &res);
    vmdl_vmx_vmptrld(vmx, &ctx, 0x2000, &res);
    if (res.status != VMDL_VMX_SUCCEED) {
        fprintf(stderr, "setup: VMPTRLD failed\n");
        return 1;
    }
    uint64_t t_rd = 0, t_wr = 0;
    for (int pass = 0; pass < 2; pass++) {
        t0 = bench_now_ns();
        for (unsigned r = 0; r < rounds; r++)
            for (unsigned i = 0; i < n; i++) {
                vmdl_vmx_vmwrite(vmx, &ctx, enc[i], r, &res);
                sum += res.rflags;
            }
        t_wr = bench_now_ns() - t0;
        t0 = bench_now_ns();
        for (unsigned r = 0; r < rounds; r++)
            for (unsigned i = 0; i < n; i++) {
                vmdl_vmx_vmread(vmx, &ctx, enc[i], &res);
                sum += res.value;
            }
        t_rd = bench_now_ns() - t0;
    }
    bench_keep(sum);
    ops = (double)rounds * n;
    printf("vmx model instructions (%s, every table encoding):\n", caps.name);
    printf("  VMREAD             : %8.2f ns/op\n", t_rd / ops);
    printf("  VMWRITE            : %8.2f ns/op\n", t_wr / ops);
    vmdl_vmx_destroy(vmx);
    vmdl_vmx_model_destroy(m);
    free(enc);
    return 0;
}
