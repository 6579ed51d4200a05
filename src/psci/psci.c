/* SPDX-License-Identifier: MIT */
/*
 * PSCI as KVM answers it (see include/virtmodel/psci.h for the choices).
 * The state is one power flag per vCPU; everything else is in the caller's
 * registers.
 */
#include <stdlib.h>
#include <string.h>

#include "virtmodel/error.h"
#include "virtmodel/psci.h"

/* MPIDR_EL1 Aff3 (39:32) and Aff2..Aff0 (23:0). */
#define MPIDR_HWID_MASK 0xFF00FFFFFFull
#define FN64 0x40000000u

struct vmdl_psci {
    unsigned nr_cpus;
    uint32_t version;
    bool on[VMDL_PSCI_MAX_CPUS];
};

int vmdl_psci_create(unsigned nr_cpus, uint32_t version, struct vmdl_psci **out)
{
    if (!out)
        return vmdl_fail(VMDL_EINVAL, "vmdl_psci_create: NULL out");
    *out = NULL;
    if (nr_cpus < 1 || nr_cpus > VMDL_PSCI_MAX_CPUS)
        return vmdl_fail(VMDL_EINVAL, "vmdl_psci_create: %u vCPUs (1..%u)", nr_cpus,
                         VMDL_PSCI_MAX_CPUS);
    if (version != VMDL_PSCI_VERSION_1_1 && version != VMDL_PSCI_VERSION_1_0 &&
        version != VMDL_PSCI_VERSION_0_2)
        return vmdl_fail(VMDL_EINVAL, "vmdl_psci_create: version 0x%x is not one KVM "
                         "offers (0.2, 1.0, 1.1)", version);
    struct vmdl_psci *p = calloc(1, sizeof(*p));
    if (!p)
        return vmdl_fail(VMDL_ENOMEM, "vmdl_psci_create: out of memory");
    p->nr_cpus = nr_cpus;
    p->version = version;
    vmdl_psci_reset(p);
    *out = p;
    return VMDL_OK;
}

void vmdl_psci_destroy(struct vmdl_psci *p)
{
    free(p);
}

void vmdl_psci_reset(struct vmdl_psci *p)
{
    memset(p->on, 0, sizeof(p->on));
    p->on[0] = true;
}

bool vmdl_psci_cpu_is_on(const struct vmdl_psci *p, unsigned cpu)
{
    return p && cpu < p->nr_cpus && p->on[cpu];
}

void vmdl_psci_set_on(struct vmdl_psci *p, unsigned cpu, bool on)
{
    if (p && cpu < p->nr_cpus)
        p->on[cpu] = on;
}

uint64_t vmdl_psci_mpidr(unsigned index)
{
    return (uint64_t)(index & 0xF) | (uint64_t)((index >> 4) & 0xFF) << 8 |
           (uint64_t)((index >> 12) & 0xFF) << 16;
}

bool vmdl_psci_owns(uint32_t fn)
{
    /* SMCCC standard secure service calls 0x00-0x1F (PSCI), fast, SMC32 or
     * SMC64, plus SMCCC_VERSION which KVM answers next to them. */
    return (fn & ~FN64) - 0x84000000u < 0x20 || fn == VMDL_SMCCC_VERSION;
}

static int cpu_by_mpidr(const struct vmdl_psci *p, uint64_t mpidr)
{
    for (unsigned i = 0; i < p->nr_cpus; i++)
        if (vmdl_psci_mpidr(i) == mpidr)
            return (int)i;
    return -1;
}

static int64_t cpu_on(struct vmdl_psci *p, uint64_t mpidr, uint64_t entry,
                      uint64_t context, struct vmdl_psci_result *r)
{
    if (mpidr & ~MPIDR_HWID_MASK)
        return VMDL_PSCI_INVALID_PARAMETERS;
    int t = cpu_by_mpidr(p, mpidr);
    if (t < 0)
        return VMDL_PSCI_INVALID_PARAMETERS;
    if (p->on[t])
        return VMDL_PSCI_ALREADY_ON;
    p->on[t] = true;
    r->action = VMDL_PSCI_ACT_CPU_ON;
    r->target = (unsigned)t;
    r->entry = entry;
    r->context = context;
    return VMDL_PSCI_SUCCESS;
}

static int64_t affinity_info(const struct vmdl_psci *p, uint64_t target, uint64_t level)
{
    if (target & ~MPIDR_HWID_MASK)
        return VMDL_PSCI_INVALID_PARAMETERS;
    if (level > 3)
        return VMDL_PSCI_INVALID_PARAMETERS;
    /* Levels select which affinity fields must match: level n ignores
     * Aff0..Aff(n-1). */
    uint64_t mask = MPIDR_HWID_MASK & ~((1ull << (level * 8)) - 1);
    target &= mask;
    unsigned matching = 0;
    for (unsigned i = 0; i < p->nr_cpus; i++) {
        if ((vmdl_psci_mpidr(i) & mask) != target)
            continue;
        matching++;
        if (p->on[i])
            return VMDL_PSCI_AFFINITY_ON;
    }
    return matching ? VMDL_PSCI_AFFINITY_OFF : VMDL_PSCI_INVALID_PARAMETERS;
}

static int64_t features(const struct vmdl_psci *p, uint32_t fn)
{
    switch (fn) {
    case VMDL_PSCI_FN_VERSION:
    case VMDL_PSCI_FN_CPU_SUSPEND:
    case VMDL_PSCI_FN64_CPU_SUSPEND:
    case VMDL_PSCI_FN_CPU_OFF:
    case VMDL_PSCI_FN_CPU_ON:
    case VMDL_PSCI_FN64_CPU_ON:
    case VMDL_PSCI_FN_AFFINITY_INFO:
    case VMDL_PSCI_FN64_AFFINITY_INFO:
    case VMDL_PSCI_FN_MIGRATE_INFO_TYPE:
    case VMDL_PSCI_FN_SYSTEM_OFF:
    case VMDL_PSCI_FN_SYSTEM_RESET:
    case VMDL_PSCI_FN_FEATURES:
    case VMDL_SMCCC_VERSION:
        return VMDL_PSCI_SUCCESS;
    case VMDL_PSCI_FN_SYSTEM_RESET2:
    case VMDL_PSCI_FN64_SYSTEM_RESET2:
        return p->version >= VMDL_PSCI_VERSION_1_1 ? VMDL_PSCI_SUCCESS
                                                  : VMDL_PSCI_NOT_SUPPORTED;
    default:
        return VMDL_PSCI_NOT_SUPPORTED;
    }
}

/* PSCI 1.1 SYSTEM_RESET2: architectural warm reset (0) or vendor types
 * (bit 31 set) are accepted; other architectural types are reserved. */
static bool reset2_type_valid(uint32_t type)
{
    return type == 0 || (type & 0x80000000u);
}

/* SYSTEM_OFF / SYSTEM_RESET: no vCPU may run on before the VMM acts (KVM
 * powers them all off), and x0 holds INTERNAL_FAILURE should one resume. */
static void system_event(struct vmdl_psci *p, struct vmdl_psci_result *r,
                         enum vmdl_psci_action a)
{
    memset(p->on, 0, sizeof(p->on));
    r->x0 = VMDL_PSCI_INTERNAL_FAILURE;
    r->action = a;
}

static void narrow(uint64_t *a1, uint64_t *a2, uint64_t *a3)
{
    *a1 &= 0xFFFFFFFFu;
    *a2 &= 0xFFFFFFFFu;
    *a3 &= 0xFFFFFFFFu;
}

int vmdl_psci_call(struct vmdl_psci *p, unsigned caller, uint64_t fn64, uint64_t a1,
                   uint64_t a2, uint64_t a3, struct vmdl_psci_result *r)
{
    if (!p || !r)
        return vmdl_fail(VMDL_EINVAL, "vmdl_psci_call: NULL argument");
    if (caller >= p->nr_cpus)
        return vmdl_fail(VMDL_EINVAL, "vmdl_psci_call: no vCPU %u", caller);
    memset(r, 0, sizeof(*r));
    /* SMCCC: the function id is W0; the upper half is ignored. */
    uint32_t fn = (uint32_t)fn64;
    bool v1 = p->version >= VMDL_PSCI_VERSION_1_0;
    if (!(fn & FN64))
        narrow(&a1, &a2, &a3);
    switch (fn) {
    case VMDL_SMCCC_VERSION:
        r->x0 = 0x10001; /* SMCCC 1.1 */
        break;
    case VMDL_PSCI_FN_VERSION:
        r->x0 = p->version;
        break;
    case VMDL_PSCI_FN_CPU_SUSPEND:
    case VMDL_PSCI_FN64_CPU_SUSPEND:
        r->x0 = VMDL_PSCI_SUCCESS;
        r->action = VMDL_PSCI_ACT_SUSPEND;
        break;
    case VMDL_PSCI_FN_CPU_OFF:
        p->on[caller] = false;
        r->x0 = VMDL_PSCI_SUCCESS;
        r->action = VMDL_PSCI_ACT_CPU_OFF;
        break;
    case VMDL_PSCI_FN_CPU_ON:
    case VMDL_PSCI_FN64_CPU_ON:
        r->x0 = cpu_on(p, a1, a2, a3, r);
        break;
    case VMDL_PSCI_FN_AFFINITY_INFO:
    case VMDL_PSCI_FN64_AFFINITY_INFO:
        r->x0 = affinity_info(p, a1, a2);
        break;
    case VMDL_PSCI_FN_MIGRATE_INFO_TYPE:
        r->x0 = VMDL_PSCI_TOS_MP;
        break;
    case VMDL_PSCI_FN_SYSTEM_OFF:
        system_event(p, r, VMDL_PSCI_ACT_SYSTEM_OFF);
        break;
    case VMDL_PSCI_FN_SYSTEM_RESET:
        system_event(p, r, VMDL_PSCI_ACT_SYSTEM_RESET);
        break;
    case VMDL_PSCI_FN_FEATURES:
        r->x0 = v1 ? features(p, (uint32_t)a1) : VMDL_PSCI_NOT_SUPPORTED;
        break;
    case VMDL_PSCI_FN_SYSTEM_RESET2:
    case VMDL_PSCI_FN64_SYSTEM_RESET2:
        if (p->version < VMDL_PSCI_VERSION_1_1) {
            r->x0 = VMDL_PSCI_NOT_SUPPORTED;
        } else if (!reset2_type_valid((uint32_t)a1)) {
            r->x0 = VMDL_PSCI_INVALID_PARAMETERS;
        } else {
            system_event(p, r, VMDL_PSCI_ACT_SYSTEM_RESET);
            r->reset_type = (uint32_t)a1;
        }
        break;
    default:
        /* MIGRATE included: KVM has no Trusted OS to migrate. */
        r->x0 = VMDL_PSCI_NOT_SUPPORTED;
        break;
    }
    return VMDL_OK;
}
