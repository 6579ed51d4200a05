/* SPDX-License-Identifier: MIT */
/*
 * arm64 aborts raised by Unicorn's own MMU (UC_TLB_CPU): translation,
 * permission, access-flag, alignment and address-size faults end the engine
 * with EXCP_PREFETCH_ABORT (3) or EXCP_DATA_ABORT (4) at the faulting
 * instruction, but Unicorn never runs QEMU's exception entry, so ESR_EL1 and
 * FAR_EL1 are never written.  QEMU keeps the syndrome and faulting address
 * it computed in CPUARMState.exception {syndrome, fsr, vaddress, target_el};
 * the engine's saved context holds that structure.  Its offset is found once
 * per process by a calibration (like the x86 exception-state fix, DESIGN.md
 * fact 3): a scratch engine runs one misaligned LDXR (an alignment fault at
 * a known address) and the context is searched for the
 * syndrome/address/target-EL triple.  Fails loudly if it is not found.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "arm64.h"
#include "virtmodel/error.h"

#define CAL_CODE 0x10000ull
#define CAL_ADDR 0x10ABDull          /* misaligned, inside the page */
#define INSN_LDXR_X1_X0 0xC85F7C01u  /* ldxr x1, [x0] */
#define EXCP_DATA_ABORT 4
#define EC_DABT_CUR 0x25u

static int exc_offset = -1;
static char exc_error[160];
static pthread_once_t exc_once = PTHREAD_ONCE_INIT;

static void cal_intr(uc_engine *uc, uint32_t intno, void *user)
{
    *(uint32_t *)user = intno;
    uc_emu_stop(uc);
}

static int find_triple(const char *ctx, size_t size)
{
    int found = -1, count = 0;
    for (size_t off = 0; off + 20 <= size; off += 4) {
        uint32_t syn, target;
        uint64_t va;
        memcpy(&syn, ctx + off, 4);
        memcpy(&va, ctx + off + 8, 8);
        memcpy(&target, ctx + off + 16, 4);
        /* The fault status code depends on the translation regime of the
         * scratch engine (0x3F with Unicorn's reset AArch32 EL1): match the
         * exception class, the address and the target EL. */
        if (va == CAL_ADDR && target == 1 && (syn >> 26) == EC_DABT_CUR) {
            found = (int)off;
            count++;
        }
    }
    return count == 1 ? found : -1;
}

static void calibrate(void)
{
    uc_engine *uc = NULL;
    uc_context *ctx = NULL;
    uc_hook h;
    uint32_t intno = 0, insn = INSN_LDXR_X1_X0;
    uint64_t x0 = CAL_ADDR;
    snprintf(exc_error, sizeof(exc_error), "cannot open a scratch engine");
    if (uc_open(UC_ARCH_ARM64, UC_MODE_ARM, &uc) != UC_ERR_OK)
        return;
    if (uc_mem_map(uc, CAL_CODE, 0x1000, UC_PROT_ALL) == UC_ERR_OK &&
        uc_mem_write(uc, CAL_CODE, &insn, 4) == UC_ERR_OK &&
        uc_reg_write(uc, UC_ARM64_REG_X0, &x0) == UC_ERR_OK &&
        uc_hook_add(uc, &h, UC_HOOK_INTR, UC_CB(cal_intr), &intno, 1, 0) == UC_ERR_OK &&
        uc_context_alloc(uc, &ctx) == UC_ERR_OK) {
        uc_emu_start(uc, CAL_CODE, CAL_CODE + 4, 0, 0);
        uc_context_save(uc, ctx);
        exc_offset = intno == EXCP_DATA_ABORT
                         ? find_triple((const char *)ctx, uc_context_size(uc)) : -1;
        snprintf(exc_error, sizeof(exc_error), "a misaligned LDXR %s a data abort and "
                 "the abort record was %sfound in the saved context",
                 intno == EXCP_DATA_ABORT ? "raised" : "did not raise",
                 exc_offset < 0 ? "not " : "");
        uc_context_free(ctx);
    }
    uc_close(uc);
}

int vmdl__arm64_abort_init(void)
{
    pthread_once(&exc_once, calibrate);
    if (exc_offset < 0)
        return vmdl_fail(VMDL_EBACKEND, "arm64 start-up self-check failed: %s; this "
                         "Unicorn build keeps aborts unlike 2.1.1", exc_error);
    return VMDL_OK;
}

/* The syndrome and faulting address of the abort that just stopped v. */
int vmdl__arm64_abort_info(struct vmdl_vcpu *v, uint32_t *esr, uint64_t *far,
                           unsigned *target_el)
{
    uc_context *ctx = ((struct arm64_vcpu *)v)->ctx;
    if (exc_offset < 0 || !ctx)
        return -1;
    if (uc_context_save(v->uc, ctx) != UC_ERR_OK)
        return -1;
    const char *p = (const char *)ctx + exc_offset;
    uint32_t t;
    memcpy(esr, p, 4);
    memcpy(far, p + 8, 8);
    memcpy(&t, p + 16, 4);
    *target_el = t;
    return 0;
}
