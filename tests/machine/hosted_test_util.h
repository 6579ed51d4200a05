/* SPDX-License-Identifier: MIT */
/* Helpers of the hosted x86 vCPU tests (include after <cmocka.h>). */
#ifndef VMDL_HOSTED_TEST_UTIL_H
#define VMDL_HOSTED_TEST_UTIL_H

#include "virtmodel/machine.h"

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

#endif
