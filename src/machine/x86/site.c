/* SPDX-License-Identifier: MIT */
/*
 * Trap sites: RDMSR, WRMSR, VMREAD and VMWRITE completed inside the engine.
 *
 * Trapped through #GP or #UD, each of these costs a stop of the engine, a
 * reset of QEMU's double-fault state (two copies of a 5.5 KB engine
 * context) and a trip through the run loop (docs/performance.md).  Once one
 * has trapped at an address, that address gets a Unicorn code hook bounded
 * to it: translated blocks call the hook right before the instruction, the
 * hook does what the trap path would do and writes RIP past it, and the
 * engine goes on in a new block at the next instruction, with no exception
 * raised.  Virtual time is kept exactly as at a stop there: the instructions
 * of the block before the site have retired, the site retires, and the next
 * block is counted by the block hook as after a re-entry.
 *
 * The hook completes an instruction only when the trap path would resume
 * the same vCPU at once: a fault, an exit to the caller or anything the run
 * loop must do first (another vCPU, a limit, the shadow of STI, a deadline
 * or a change of who counts time) stops the engine instead, with the
 * instruction's outcome decided exactly once.  When it cannot place the
 * instruction in the counted block, or the bytes at the site changed, the
 * hook does nothing and the instruction traps as before.
 */
#include <string.h>

#include "x86.h"

/* Up to 15 bytes of RAM at addr (fewer at the end of RAM); NULL if none. */
static const uint8_t *ram_at(struct vmdl_vcpu *v, uint64_t addr, size_t *n)
{
    uint64_t left = 0;
    const uint8_t *p = vmdl__ram_span(v->vm, addr, &left);
    *n = left < 15 ? (size_t)left : 15;
    return p;
}

/* Leave the rest to the run loop (x86/run.c, STOP_SITE). */
static void site_stop(struct vmdl_vcpu *v, enum emu_result r, vmdl_fault f)
{
    X86(v)->site_result = r;
    X86(v)->site_fault = f;
    vmdl__x86_set_stop(v, STOP_SITE);
}

/* The completed instruction retired: re-enter as the loop would, or stop. */
static void site_resume(struct vmdl_vcpu *v)
{
    if (!vmdl__hook_reenter(v)) {
        vmdl__x86_set_stop(v, STOP_KICK);
        return;
    }
    bool triple = false;
    int inj = vmdl__x86_inject_pending(v, &triple);
    if (triple)
        site_stop(v, EMU_TRIPLE, VMDL_FAULT_NONE);
    else if (inj < 0 || !vmdl__hook_deadline_ok(v))
        vmdl__x86_set_stop(v, STOP_KICK);
}

static void site_cb(uc_engine *uc, uint64_t addr, uint32_t size, void *user)
{
    (void)uc;
    (void)size;
    struct vmdl_vcpu *v = user;
    if (X86(v)->hosted || v->stop != STOP_NONE)
        return;
    size_t n = 0;
    const uint8_t *code = ram_at(v, addr, &n);
    if (!code)
        return;
    bool msr = n >= 2 && code[0] == 0x0F && (code[1] == 0x32 || code[1] == 0x30);
    struct vmdl_x86_insn insn;
    if (!msr && !vmdl__x86_decode_vmrw(v, code, n, addr, &insn))
        return; /* rewritten since: it executes (and traps) as it is */
    if (!vmdl__count_at_insn(v, addr))
        return;
    vmdl_fault f = VMDL_FAULT_NONE;
    enum emu_result r = msr ? vmdl__x86_msr_access(v, code[1] == 0x30, addr, 2, &f)
                            : vmdl__x86_special_access(v, addr, &insn, &f);
    if (r == EMU_DONE)
        site_resume(v);
    else
        site_stop(v, r, f);
}

void vmdl__x86_site_learn(struct vmdl_vcpu *v, uint64_t rip)
{
    struct x86_vcpu *x = X86(v);
    if (x->hosted || v->vm->cfg.no_fast_traps || x->nr_sites >= X86_MAX_SITES)
        return;
    for (unsigned i = 0; i < x->nr_sites; i++)
        if (x->sites[i] == rip)
            return;
    uc_hook h;
    if (uc_hook_add(v->uc, &h, UC_HOOK_CODE, UC_CB(site_cb), v, rip, rip) != UC_ERR_OK)
        return;
    x->sites[x->nr_sites++] = rip;
    v->code_hooks = true;
    /* Blocks carry their hooks from translation: retranslate this one. */
    uc_ctl_remove_cache(v->uc, rip, rip + 1);
}
