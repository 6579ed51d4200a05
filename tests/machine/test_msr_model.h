/* SPDX-License-Identifier: MIT */
/*
 * A one-MSR model for the x86 machine tests (deprivileged and hosted
 * vCPUs): reads return the last value written, an odd value written #GPs,
 * and both directions are counted so a test can check that every access
 * reached the model exactly once.
 */
#ifndef VMDL_TEST_MSR_MODEL_H
#define VMDL_TEST_MSR_MODEL_H

#include <stdint.h>

#include "virtmodel/machine.h"

#define TEST_MSR 0x4B564D00u

struct msr_state {
    uint64_t reads, writes, value;
};

static inline vmdl_fault test_msr_read(void *opaque, struct vmdl_vcpu *vcpu, uint32_t idx,
                                       uint64_t *value)
{
    (void)vcpu;
    struct msr_state *s = opaque;
    if (idx != TEST_MSR)
        return VMDL_FAULT_UNCLAIMED;
    s->reads++;
    *value = s->value;
    return VMDL_FAULT_NONE;
}

static inline vmdl_fault test_msr_write(void *opaque, struct vmdl_vcpu *vcpu, uint32_t idx,
                                        uint64_t value)
{
    (void)vcpu;
    struct msr_state *s = opaque;
    if (idx != TEST_MSR)
        return VMDL_FAULT_UNCLAIMED;
    if (value & 1)
        return VMDL_FAULT_GP;
    s->writes++;
    s->value = value;
    return VMDL_FAULT_NONE;
}

static const struct vmdl_msr_ops test_msr_ops = {test_msr_read, test_msr_write};

#endif
