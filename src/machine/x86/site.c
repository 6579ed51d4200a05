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

/*
 * The VMREAD/VMWRITE at the site, decoded.  With register operands the
 * decoded instruction (text included) depends only on its bytes, so it is
 * kept with them and reused while they are unchanged; a memory operand's
 * address depends on registers and is decoded every time.
 */
static const struct vmdl_x86_insn *site_vmrw(struct x86_site *site, const uint8_t *code,
                                             size_t n, uint64_t addr,
                                             struct vmdl_x86_insn *tmp)
{
    if (site->decoded && site->insn.length <= n &&
        !memcmp(code, site->code, site->insn.length))
        return &site->insn;
    site->decoded = false;
    if (!vmdl__x86_decode_vmrw(site->v, code, n, addr, tmp))
        return NULL;
    if (tmp->op[0].kind == VMDL_OPND_REG && tmp->op[1].kind == VMDL_OPND_REG) {
        site->insn = *tmp;
        memcpy(site->code, code, tmp->length);
        site->decoded = true;
    }
    return tmp;
}

static void site_cb(uc_engine *uc, uint64_t addr, uint32_t size, void *user)
{
    (void)uc;
    (void)size;
    struct x86_site *site = user;
    struct vmdl_vcpu *v = site->v;
    if (X86(v)->hosted || v->stop != STOP_NONE)
        return;
    size_t n = 0;
    const uint8_t *code = ram_at(v, addr, &n);
    if (!code)
        return;
    bool msr = n >= 2 && code[0] == 0x0F && (code[1] == 0x32 || code[1] == 0x30);
    struct vmdl_x86_insn tmp;
    const struct vmdl_x86_insn *insn = msr ? NULL : site_vmrw(site, code, n, addr, &tmp);
    if (!msr && !insn)
        return; /* rewritten since: it executes (and traps) as it is */
    if (!vmdl__count_at_insn(v, addr))
        return;
    site->hits++;
    vmdl_fault f = VMDL_FAULT_NONE;
    v->insn_no_exit = false;
    enum emu_result r = msr ? vmdl__x86_msr_access(v, code[1] == 0x30, addr, 2, &f)
                            : vmdl__x86_special_access(v, addr, insn, &f);
    if (r != EMU_DONE)
        site_stop(v, r, f);
    else if (!v->insn_no_exit || !vmdl__hook_no_exit(v))
        site_resume(v);
}

static bool site_add(struct vmdl_vcpu *v, struct x86_site *site, uint64_t rip)
{
    *site = (struct x86_site){.v = v, .rip = rip};
    if (uc_hook_add(v->uc, &site->hook, UC_HOOK_CODE, UC_CB(site_cb), site, rip,
                    rip) != UC_ERR_OK)
        return false;
    site->live = true;
    v->code_hooks = true;
    /* Blocks carry their hooks from translation: retranslate this one. */
    uc_ctl_remove_cache(v->uc, rip, rip + 1);
    return true;
}

/*
 * Every site is taken and rip trapped again: count it, and once it has
 * trapped clearly more often (twice, and 8 more) than the least used site
 * has been completed, it takes that site's place (the hook is deleted,
 * which drops the blocks translated with it).  Counts are halved every 256
 * such traps, so that addresses of an earlier phase of the guest fade.  So
 * the 16 busiest addresses keep their hooks, a guest with more of them pays
 * the trap path on the rest, and addresses used about equally do not trade
 * places (each trade retranslates code) at every turn of a loop.
 */
static void site_compete(struct vmdl_vcpu *v, uint64_t rip)
{
    struct x86_vcpu *x = X86(v);
    struct x86_site_candidate *c = NULL, *least = &x->site_cands[0];
    for (unsigned i = 0; i < X86_MAX_SITE_CANDIDATES && !c; i++) {
        if (x->site_cands[i].rip == rip && x->site_cands[i].traps)
            c = &x->site_cands[i];
        else if (x->site_cands[i].traps < least->traps)
            least = &x->site_cands[i];
    }
    if (!c) {
        c = least;
        *c = (struct x86_site_candidate){.rip = rip};
    }
    c->traps++;
    if ((++x->site_traps & 255) == 0) {
        for (unsigned i = 0; i < x->nr_sites; i++)
            x->sites[i].hits >>= 1;
        for (unsigned i = 0; i < X86_MAX_SITE_CANDIDATES; i++)
            x->site_cands[i].traps >>= 1;
    }
    struct x86_site *cold = &x->sites[0];
    for (unsigned i = 1; i < x->nr_sites; i++)
        if (x->sites[i].hits < cold->hits)
            cold = &x->sites[i];
    if (c->traps <= 2 * cold->hits + 8)
        return;
    if (cold->live)
        uc_hook_del(v->uc, cold->hook);
    cold->live = false;   /* (a slot whose hook could not be added: hits 0) */
    if (!site_add(v, cold, rip))
        return;
    cold->hits = c->traps;  /* what it earned: the next one must beat that */
    x->site_replacements++;
    *c = (struct x86_site_candidate){0};
}

void vmdl__x86_site_learn(struct vmdl_vcpu *v, uint64_t rip)
{
    struct x86_vcpu *x = X86(v);
    if (x->hosted || v->vm->cfg.no_fast_traps)
        return;
    for (unsigned i = 0; i < x->nr_sites; i++)
        if (x->sites[i].live && x->sites[i].rip == rip)
            return;
    if (x->nr_sites < X86_MAX_SITES) {
        site_add(v, &x->sites[x->nr_sites++], rip);
        return;
    }
    site_compete(v, rip);
}
