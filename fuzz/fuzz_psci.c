/* SPDX-License-Identifier: MIT */
/*
 * fuzz_psci: the PSCI model (src/psci) driven by a stream of calls from
 * random vCPUs with random function ids and arguments, checked against a
 * shadow of the power state.
 *
 * Invariants: every call succeeds as an API call; CPU_ON returns SUCCESS
 * exactly when the target exists and was off (then it is on and the action
 * names it, its entry and context), ALREADY_ON when it was on, and
 * INVALID_PARAMETERS otherwise; CPU_OFF powers the caller off; SYSTEM_OFF /
 * SYSTEM_RESET power everything off with INTERNAL_FAILURE in x0;
 * AFFINITY_INFO at level 0 of an existing vCPU agrees with the shadow; no
 * other call changes the power state; unknown ids are NOT_SUPPORTED.
 */
#include "fuzz_util.h"

#include "virtmodel/error.h"
#include "virtmodel/psci.h"

static const uint32_t fns[] = {
    VMDL_PSCI_FN_VERSION, VMDL_PSCI_FN_CPU_SUSPEND, VMDL_PSCI_FN64_CPU_SUSPEND,
    VMDL_PSCI_FN_CPU_OFF, VMDL_PSCI_FN_CPU_ON, VMDL_PSCI_FN64_CPU_ON,
    VMDL_PSCI_FN_AFFINITY_INFO, VMDL_PSCI_FN64_AFFINITY_INFO, VMDL_PSCI_FN_MIGRATE,
    VMDL_PSCI_FN_MIGRATE_INFO_TYPE, VMDL_PSCI_FN_SYSTEM_OFF, VMDL_PSCI_FN_SYSTEM_RESET,
    VMDL_PSCI_FN_FEATURES, VMDL_PSCI_FN_SYSTEM_RESET2, VMDL_PSCI_FN64_SYSTEM_RESET2,
    VMDL_SMCCC_VERSION,
};

static uint64_t arg(struct fz *f, unsigned nr)
{
    /* Mostly valid MPIDRs, sometimes anything. */
    return fz_bool(f) ? vmdl_psci_mpidr(fz_pick(f, nr + 2)) : fz_value(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f;
    fz_init(&f, data, size);
    unsigned nr = 1 + fz_pick(&f, 20);
    static const uint32_t versions[] = {VMDL_PSCI_VERSION_1_1, VMDL_PSCI_VERSION_1_0,
                                        VMDL_PSCI_VERSION_0_2};
    struct vmdl_psci *p;
    FZ_CHECK(vmdl_psci_create(nr, versions[fz_pick(&f, 3)], &p) == VMDL_OK, "create");
    bool on[21] = {true};
    for (unsigned step = 0; step < 256 && fz_more(&f); step++) {
        unsigned caller = fz_pick(&f, nr);
        uint64_t fn = fz_bool(&f) ? fns[fz_pick(&f, sizeof(fns) / sizeof(fns[0]))]
                                  : fz_value(&f);
        uint64_t a1 = arg(&f, nr), a2 = fz_value(&f), a3 = fz_value(&f);
        struct vmdl_psci_result r;
        FZ_CHECK(vmdl_psci_call(p, caller, fn, a1, a2, a3, &r) == VMDL_OK, "call");
        FZ_TRACE("cpu %u fn 0x%llx a1 0x%llx -> %lld action %d", caller,
                 (unsigned long long)fn, (unsigned long long)a1, (long long)r.x0, r.action);
        uint32_t id = (uint32_t)fn;
        if (!(id & 0x40000000u))
            a1 &= 0xFFFFFFFFu;
        int target = -1;
        for (unsigned i = 0; i < nr; i++)
            if (vmdl_psci_mpidr(i) == a1)
                target = (int)i;
        switch (id) {
        case VMDL_PSCI_FN_CPU_ON:
        case VMDL_PSCI_FN64_CPU_ON:
            if (target < 0) {
                FZ_CHECK(r.x0 == VMDL_PSCI_INVALID_PARAMETERS, "CPU_ON bad target");
            } else if (on[target]) {
                FZ_CHECK(r.x0 == VMDL_PSCI_ALREADY_ON, "CPU_ON of an on vCPU");
            } else {
                FZ_CHECK(r.x0 == 0 && r.action == VMDL_PSCI_ACT_CPU_ON &&
                         r.target == (unsigned)target, "CPU_ON of an off vCPU");
                on[target] = true;
            }
            break;
        case VMDL_PSCI_FN_CPU_OFF:
            FZ_CHECK(r.action == VMDL_PSCI_ACT_CPU_OFF, "CPU_OFF");
            on[caller] = false;
            break;
        case VMDL_PSCI_FN_SYSTEM_OFF:
        case VMDL_PSCI_FN_SYSTEM_RESET:
            FZ_CHECK(r.x0 == VMDL_PSCI_INTERNAL_FAILURE, "system event x0");
            memset(on, 0, sizeof(on));
            vmdl_psci_reset(p);
            on[0] = true;
            break;
        case VMDL_PSCI_FN_SYSTEM_RESET2:
        case VMDL_PSCI_FN64_SYSTEM_RESET2:
            if (r.action == VMDL_PSCI_ACT_SYSTEM_RESET) {
                memset(on, 0, sizeof(on));
                vmdl_psci_reset(p);
                on[0] = true;
            }
            break;
        case VMDL_PSCI_FN_AFFINITY_INFO:
        case VMDL_PSCI_FN64_AFFINITY_INFO:
            if (target >= 0 && (id & 0x40000000u ? a2 : (a2 & 0xFFFFFFFFu)) == 0)
                FZ_CHECK(r.x0 == (on[target] ? VMDL_PSCI_AFFINITY_ON : VMDL_PSCI_AFFINITY_OFF),
                         "AFFINITY_INFO of vCPU %d", target);
            FZ_CHECK(r.action == VMDL_PSCI_ACT_NONE, "AFFINITY_INFO acts");
            break;
        default:
            if (!vmdl_psci_owns(id))
                FZ_CHECK(r.x0 == VMDL_PSCI_NOT_SUPPORTED, "unknown id 0x%x", id);
            break;
        }
        for (unsigned i = 0; i < nr; i++)
            FZ_CHECK(vmdl_psci_cpu_is_on(p, i) == on[i], "vCPU %u power state", i);
    }
    vmdl_psci_destroy(p);
    return 0;
}

/* One call: caller, a listed function (index), target vCPU, two values. */
static void put_call(struct fz_out *o, unsigned caller, unsigned fn_index, unsigned target,
                     uint64_t a2, uint64_t a3)
{
    fz_put8(o, caller);
    fz_put8(o, 1);
    fz_put8(o, fn_index);
    fz_put8(o, 1);
    fz_put8(o, target);
    fz_putval(o, a2);
    fz_putval(o, a3);
}

static void write_seeds(const char *dir)
{
    struct fz_out o = {.len = 0};
    fz_put8(&o, 3); /* 4 vCPUs */
    fz_put8(&o, 0); /* PSCI 1.1 */
    put_call(&o, 0, 5, 1, 0x40080000, 0x77);  /* CPU_ON (SMC64) vCPU 1 */
    put_call(&o, 2, 5, 1, 0x40080000, 0);     /* ALREADY_ON */
    put_call(&o, 1, 3, 0, 0, 0);              /* CPU_OFF by vCPU 1 */
    put_call(&o, 0, 7, 1, 0, 0);              /* AFFINITY_INFO: OFF */
    put_call(&o, 0, 12, 0, 0, 0);             /* FEATURES */
    put_call(&o, 3, 11, 0, 0, 0);             /* SYSTEM_RESET */
    fz_save_out(dir, "cpu-on-off-reset", &o);
}

FZ_SEED_WRITER_MAIN()
