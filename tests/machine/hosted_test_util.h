/* SPDX-License-Identifier: MIT */
/* Helpers of the hosted x86 vCPU tests (include after <cmocka.h>). */
#ifndef VMDL_HOSTED_TEST_UTIL_H
#define VMDL_HOSTED_TEST_UTIL_H

#include "virtmodel/machine.h"
#include "virtmodel/multiboot.h"

/* A register of vCPU 0. */
static inline uint64_t reg(struct vmdl_vm *vm, enum vmdl_reg r)
{
    uint64_t x = 0;
    assert_int_equal(vmdl_vcpu_get_reg(vmdl_vm_vcpu(vm, 0), r, &x), 0);
    return x;
}

/* Run until the guest halts (anything else fails, with the exit shown). */
static inline void run_to_hlt(struct vmdl_vm *vm)
{
    struct vmdl_exit e;
    assert_int_equal(vmdl_vm_run(vm, &e), 0);
    if (e.reason != VMDL_EXIT_HLT)
        print_message("exit %d at 0x%llx: %s\n", (int)e.reason,
                      (unsigned long long)e.pc, e.u.internal.message);
    assert_int_equal(e.reason, VMDL_EXIT_HLT);
}

/* Little-endian store. */
static inline void put_le32(uint8_t *p, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* A multiboot header (a.out kludge) at the start of an image loaded whole
 * at `load`, entered at `entry`, without bss. */
static inline void mb_aout_header(uint8_t *b, uint32_t load, uint32_t entry)
{
    put_le32(b, VMDL_MB_HEADER_MAGIC);
    put_le32(b + 4, VMDL_MB_FLAG_AOUT_KLUDGE);
    put_le32(b + 8, (uint32_t)-(VMDL_MB_HEADER_MAGIC + VMDL_MB_FLAG_AOUT_KLUDGE));
    put_le32(b + 12, load);          /* header_addr */
    put_le32(b + 16, load);          /* load_addr */
    put_le32(b + 20, 0);             /* load_end: the whole file */
    put_le32(b + 24, 0);             /* no bss */
    put_le32(b + 28, entry);
}

#endif
