/* SPDX-License-Identifier: MIT */
/*
 * Guest debugging (virtmodel/debug.h): breakpoints, watchpoints, single
 * step and an asynchronous interrupt, as KVM_SET_GUEST_DEBUG gives a VMM.
 *
 * Unicorn 2.1.1 facts this relies on (measured, see docs/gdb.md):
 *  - uc_emu_stop() in a UC_HOOK_CODE callback stops before the hooked
 *    instruction executes, with PC exactly at it: a breakpoint is a code
 *    hook on its one address;
 *  - a code hook on the address uc_emu_start begins at fires at once: a
 *    vCPU resuming from a breakpoint skips it once (bp_skip);
 *  - uc_emu_start with count = 1 runs exactly one instruction;
 *  - stopping inside a memory hook is not precise (PC is the block start
 *    and the access may or may not have completed), so a watchpoint hit
 *    only records the access, and a code hook on every instruction (present
 *    while watchpoints exist) stops before the next one: PC is then the
 *    next instruction and the access has retired;
 *  - a memory hook's range is matched against the first byte of an access,
 *    so the hook covers 63 bytes before the watched range and the callback
 *    keeps the accesses that overlap it.
 * All state lives in vm->dbg, allocated by the first debug call; the run
 * loop looks at it only when it exists.
 */
#include <stdlib.h>
#include <string.h>

#include "arch_ops.h"
#include "virtmodel/debug.h"
#include "virtmodel/error.h"

#define MAX_WATCH 16

struct debug_vcpu;

/* One watchpoint as one vCPU's memory hooks see it. */
struct watch_ctx {
    struct debug_vcpu *d;
    uint64_t addr, len;      /* physical: what memory hooks see */
    uint64_t vaddr;          /* the address it was set at */
};

struct debug_vcpu {
    uc_hook bp_hook[VMDL_MAX_BREAKPOINTS];
    struct watch_ctx wctx[MAX_WATCH];
    uc_hook watch_hook[MAX_WATCH][2];
    uc_hook next_hook;
    bool next_hook_on;
    bool single_step;
    bool counted;            /* it stepped: the engine has its count hook */
    bool step_done;          /* the step's instruction exited to the caller */
    bool watch_pending;
    enum vmdl_debug_kind hit;
    uint64_t hit_addr;
    enum vmdl_watch_type hit_watch;
    uint64_t bp_skip;
    struct vmdl_vcpu *vcpu;
};

struct vmdl_debug {
    bool bp_used[VMDL_MAX_BREAKPOINTS];
    uint64_t bp[VMDL_MAX_BREAKPOINTS];
    struct { bool used; uint64_t addr, len; enum vmdl_watch_type type; } w[MAX_WATCH];
    unsigned nr_watch;
    atomic_bool interrupt;
    struct debug_vcpu v[VMDL_MAX_VCPUS];
};

static struct vmdl_debug *dbg_of(struct vmdl_vm *vm)
{
    if (!vm->dbg) {
        vm->dbg = calloc(1, sizeof(*vm->dbg));
        if (!vm->dbg)
            return NULL;
        for (unsigned i = 0; i < vm->nr_vcpus; i++) {
            vm->dbg->v[i].vcpu = vm->vcpus[i];
            vm->dbg->v[i].bp_skip = UINT64_MAX;
        }
    }
    return vm->dbg;
}

void vmdl__debug_free(struct vmdl_vm *vm)
{
    free(vm->dbg);
    vm->dbg = NULL;
}

static void flush(struct vmdl_vcpu *v, uint64_t addr, uint64_t len)
{
    uint64_t end = addr + len < addr ? UINT64_MAX : addr + len;
    uc_ctl_remove_cache(v->uc, addr, end);
}

/*
 * Memory hooks and the every-instruction hook changed: translated code
 * carries code hooks, and the engine's TLB lets an access whose page it
 * cached bypass memory hooks added later (measured: a watchpoint added
 * while a paged guest ran never fired).  Drop both; it costs a reset of the
 * code buffer, once per watchpoint change.
 */
static void rehook(struct vmdl_vcpu *v)
{
    uc_ctl_flush_tb(v->uc);
    uc_ctl_flush_tlb(v->uc);
}

static void stop_for(struct debug_vcpu *d, enum vmdl_debug_kind kind, uint64_t addr)
{
    d->hit = kind;
    d->hit_addr = addr;
    if (d->vcpu->stop == STOP_NONE)
        d->vcpu->stop = STOP_KICK;
    uc_emu_stop(d->vcpu->uc);
}

static void bp_cb(uc_engine *uc, uint64_t addr, uint32_t size, void *user)
{
    (void)uc;
    (void)size;
    struct debug_vcpu *d = user;
    if (addr == d->bp_skip) {
        d->bp_skip = UINT64_MAX;
        return;
    }
    stop_for(d, VMDL_DEBUG_BREAKPOINT, addr);
}

static void next_cb(uc_engine *uc, uint64_t addr, uint32_t size, void *user)
{
    (void)uc;
    (void)size;
    (void)addr;
    struct debug_vcpu *d = user;
    if (d->watch_pending) {
        d->watch_pending = false;
        stop_for(d, VMDL_DEBUG_WATCHPOINT, d->hit_addr);
    }
}

static void watch_cb(uc_engine *uc, uc_mem_type type, uint64_t addr, int size,
                     int64_t value, void *user)
{
    (void)uc;
    (void)value;
    const struct watch_ctx *w = user;
    struct debug_vcpu *d = w->d;
    /* Unicorn matches a hook's range against the access's first byte; the
     * range starts early enough for any access that overlaps, and this
     * keeps only those. */
    if (addr + (uint64_t)size <= w->addr || addr >= w->addr + w->len)
        return;
    if (d->watch_pending)
        return;   /* the first access of the instruction is reported */
    d->watch_pending = true;
    d->hit_addr = w->vaddr + (addr - w->addr);   /* (wraps either way) */
    d->hit_watch = type == UC_MEM_WRITE ? VMDL_WATCH_WRITE : VMDL_WATCH_READ;
}

int vmdl_vm_add_breakpoint(struct vmdl_vm *vm, uint64_t addr)
{
    struct vmdl_debug *g = vm ? dbg_of(vm) : NULL;
    if (!g)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vm_add_breakpoint: no VM or no memory");
    int slot = -1;
    for (int i = 0; i < VMDL_MAX_BREAKPOINTS; i++) {
        if (g->bp_used[i] && g->bp[i] == addr)
            return VMDL_OK;
        if (!g->bp_used[i] && slot < 0)
            slot = i;
    }
    if (slot < 0)
        return vmdl_fail(VMDL_ERANGE, "vmdl_vm_add_breakpoint: %d breakpoints set "
                         "already", VMDL_MAX_BREAKPOINTS);
    for (unsigned i = 0; i < vm->nr_vcpus; i++) {
        struct debug_vcpu *d = &g->v[i];
        if (uc_hook_add(vm->vcpus[i]->uc, &d->bp_hook[slot], UC_HOOK_CODE, UC_CB(bp_cb), d,
                        addr, addr) != UC_ERR_OK) {
            while (i-- > 0)
                uc_hook_del(vm->vcpus[i]->uc, g->v[i].bp_hook[slot]);
            return vmdl_fail(VMDL_EBACKEND, "vmdl_vm_add_breakpoint: uc_hook_add failed");
        }
        /* With any code hook in place Unicorn keeps a stale PC at a
         * block-start stop; the run loop corrects it only when told. */
        vm->vcpus[i]->code_hooks = true;
        flush(vm->vcpus[i], addr, 1);
    }
    g->bp_used[slot] = true;
    g->bp[slot] = addr;
    return VMDL_OK;
}

int vmdl_vm_remove_breakpoint(struct vmdl_vm *vm, uint64_t addr)
{
    struct vmdl_debug *g = vm ? vm->dbg : NULL;
    for (int i = 0; g && i < VMDL_MAX_BREAKPOINTS; i++) {
        if (!g->bp_used[i] || g->bp[i] != addr)
            continue;
        for (unsigned k = 0; k < vm->nr_vcpus; k++) {
            uc_hook_del(vm->vcpus[k]->uc, g->v[k].bp_hook[i]);
            flush(vm->vcpus[k], addr, 1);
        }
        g->bp_used[i] = false;
        return VMDL_OK;
    }
    return vmdl_fail(VMDL_ENOENT, "vmdl_vm_remove_breakpoint: none at 0x%llx",
                     (unsigned long long)addr);
}

static void next_hook(struct vmdl_vm *vm, bool on)
{
    for (unsigned i = 0; i < vm->nr_vcpus; i++) {
        struct debug_vcpu *d = &vm->dbg->v[i];
        if (d->next_hook_on == on)
            continue;
        if (on) {
            on = uc_hook_add(vm->vcpus[i]->uc, &d->next_hook, UC_HOOK_CODE, UC_CB(next_cb), d,
                             1, 0) == UC_ERR_OK;
            vm->vcpus[i]->code_hooks |= on;   /* stale PC at block stops, as above */
        }
        else
            uc_hook_del(vm->vcpus[i]->uc, d->next_hook);
        d->next_hook_on = on;
        d->watch_pending = false;
        rehook(vm->vcpus[i]);
    }
}

static void unwatch_hooks(struct vmdl_vcpu *v, struct debug_vcpu *d, int slot,
                          enum vmdl_watch_type type)
{
    if (type & VMDL_WATCH_WRITE)
        uc_hook_del(v->uc, d->watch_hook[slot][0]);
    if (type & VMDL_WATCH_READ)
        uc_hook_del(v->uc, d->watch_hook[slot][1]);
}

/*
 * One vCPU's memory hooks for a watchpoint.  Memory hooks see physical
 * addresses (measured on 2.1.1: with the guest's paging on, a write through
 * a high alias reached a hook on its physical address only), so the range
 * is where the vCPU maps its first byte now, taken as contiguous.
 */
static int watch_hooks(struct vmdl_vcpu *v, struct debug_vcpu *d, int slot,
                       uint64_t addr, uint64_t len, enum vmdl_watch_type type)
{
    uint64_t pa;
    if (v->vm->arch_ops->translate(v, addr, &pa) || pa + len - 1 < pa)
        return vmdl_fail(VMDL_ENOENT, "vmdl_vm_add_watchpoint: 0x%llx is not mapped "
                         "on vCPU %u", (unsigned long long)addr, v->index);
    d->wctx[slot] = (struct watch_ctx){ d, pa, len, addr };
    /* The widest access (AVX-512) is 64 bytes. */
    uint64_t first = pa >= 63 ? pa - 63 : 0;
    static const int kinds[2] = {UC_HOOK_MEM_WRITE, UC_HOOK_MEM_READ};
    for (int k = 0; k < 2; k++) {
        if (!(type & (k ? VMDL_WATCH_READ : VMDL_WATCH_WRITE)))
            continue;
        if (uc_hook_add(v->uc, &d->watch_hook[slot][k], kinds[k], UC_CB(watch_cb),
                        &d->wctx[slot], first, pa + len - 1) != UC_ERR_OK) {
            if (k)
                unwatch_hooks(v, d, slot, VMDL_WATCH_WRITE & type);
            return vmdl_fail(VMDL_EBACKEND, "vmdl_vm_add_watchpoint: uc_hook_add failed");
        }
    }
    return VMDL_OK;
}

int vmdl_vm_add_watchpoint(struct vmdl_vm *vm, uint64_t addr, uint64_t len,
                           enum vmdl_watch_type type)
{
    struct vmdl_debug *g = vm ? dbg_of(vm) : NULL;
    if (!g || !len || addr + len - 1 < addr || type < VMDL_WATCH_WRITE ||
        type > VMDL_WATCH_ACCESS)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vm_add_watchpoint: bad argument");
    int slot = -1;
    for (int i = 0; i < MAX_WATCH && slot < 0; i++)
        if (!g->w[i].used)
            slot = i;
    if (slot < 0)
        return vmdl_fail(VMDL_ERANGE, "vmdl_vm_add_watchpoint: %d watchpoints set "
                         "already", MAX_WATCH);
    for (unsigned i = 0; i < vm->nr_vcpus; i++) {
        int err = watch_hooks(vm->vcpus[i], &g->v[i], slot, addr, len, type);
        if (err) {
            while (i-- > 0)
                unwatch_hooks(vm->vcpus[i], &g->v[i], slot, type);
            return err;
        }
    }
    g->w[slot].used = true;
    g->w[slot].addr = addr;
    g->w[slot].len = len;
    g->w[slot].type = type;
    if (g->nr_watch++ == 0)
        next_hook(vm, true);
    else
        for (unsigned i = 0; i < vm->nr_vcpus; i++)
            rehook(vm->vcpus[i]);
    return VMDL_OK;
}

int vmdl_vm_remove_watchpoint(struct vmdl_vm *vm, uint64_t addr, uint64_t len,
                              enum vmdl_watch_type type)
{
    struct vmdl_debug *g = vm ? vm->dbg : NULL;
    for (int s = 0; g && s < MAX_WATCH; s++) {
        if (!g->w[s].used || g->w[s].addr != addr || g->w[s].len != len ||
            g->w[s].type != type)
            continue;
        for (unsigned i = 0; i < vm->nr_vcpus; i++)
            unwatch_hooks(vm->vcpus[i], &g->v[i], s, type);
        g->w[s].used = false;
        if (--g->nr_watch == 0)
            next_hook(vm, false);
        return VMDL_OK;
    }
    return vmdl_fail(VMDL_ENOENT, "vmdl_vm_remove_watchpoint: no such watchpoint");
}

int vmdl_vcpu_set_single_step(struct vmdl_vcpu *vcpu, bool on)
{
    struct vmdl_debug *g = vcpu ? dbg_of(vcpu->vm) : NULL;
    if (!g)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vcpu_set_single_step: NULL vcpu");
    g->v[vcpu->index].single_step = on;
    g->v[vcpu->index].step_done = false;
    return VMDL_OK;
}

int vmdl_vm_enable_debug(struct vmdl_vm *vm)
{
    return vm && dbg_of(vm) ? VMDL_OK
                            : vmdl_fail(VMDL_EINVAL, "vmdl_vm_enable_debug: bad VM");
}

void vmdl_vm_interrupt(struct vmdl_vm *vm)
{
    if (!vm || !vm->dbg)
        return;
    atomic_store(&vm->dbg->interrupt, true);
    pthread_mutex_lock(&vm->wd_lock);
    if (vm->running)
        uc_emu_stop(vm->running->uc);
    pthread_mutex_unlock(&vm->wd_lock);
}

void vmdl_vm_code_changed(struct vmdl_vm *vm, uint64_t gpa, uint64_t len)
{
    for (unsigned i = 0; vm && i < vm->nr_vcpus; i++)
        flush(vm->vcpus[i], gpa, len);
}

int vmdl_vcpu_translate(struct vmdl_vcpu *vcpu, uint64_t va, uint64_t *pa)
{
    if (!vcpu || !pa)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vcpu_translate: NULL argument");
    if (vcpu->vm->arch_ops->translate(vcpu, va, pa))
        return vmdl_fail(VMDL_ENOENT, "vmdl_vcpu_translate: 0x%llx is not mapped",
                         (unsigned long long)va);
    return VMDL_OK;
}

size_t vmdl_vcpu_access_virt(struct vmdl_vcpu *vcpu, uint64_t va, void *buf,
                             size_t len, bool write)
{
    uint8_t *p = buf;
    size_t done = 0;
    while (vcpu && p && done < len) {
        uint64_t pa, at = va + done;
        if (at < va || vcpu->vm->arch_ops->translate(vcpu, at, &pa))
            break;
        size_t n = 0x1000 - (at & 0xFFF);   /* the smallest page */
        n = n < len - done ? n : len - done;
        uint8_t *ram = vmdl_vm_ram_ptr(vcpu->vm, pa, n);
        if (!ram)
            break;   /* (the part of a page that is RAM is left out too) */
        if (write) {
            memcpy(ram, p + done, n);
            vmdl_vm_code_changed(vcpu->vm, at, n);   /* the engine keys code by VA */
        } else {
            memcpy(p + done, ram, n);
        }
        done += n;
    }
    return done;
}

/* ---- the run loop's side ---- */

bool vmdl__debug_stepping(struct vmdl_vcpu *vcpu)
{
    struct vmdl_debug *g = vcpu->vm->dbg;
    return g && g->v[vcpu->index].single_step;
}

/*
 * The instruction count for uc_emu_start: 1 while single-stepping.  A
 * count adds Unicorn's counting hook to the engine, and a later start with
 * count 0 removes it and flushes every translated block (a reset of the
 * whole code buffer: seconds on a loaded machine, measured).  So once a
 * vCPU has stepped, its runs keep a count that is never reached.
 */
size_t vmdl__debug_count(struct vmdl_vcpu *vcpu, size_t count)
{
    struct vmdl_debug *g = vcpu->vm->dbg;
    if (!g)
        return count;
    struct debug_vcpu *d = &g->v[vcpu->index];
    if (d->single_step) {
        d->counted = true;
        return 1;
    }
    return count == 0 && d->counted ? SIZE_MAX / 2 : count;
}

static void debug_exit(struct vmdl_exit *exit, struct vmdl_vcpu *v,
                       enum vmdl_debug_kind kind, uint64_t addr,
                       enum vmdl_watch_type watch)
{
    memset(exit, 0, sizeof(*exit));
    exit->reason = VMDL_EXIT_DEBUG;
    exit->vcpu = v->index;
    v->vm->arch_ops->get_reg(v, v->vm->arch_ops->pc_reg, &exit->pc);
    exit->u.debug.kind = kind;
    exit->u.debug.addr = addr;
    exit->u.debug.watch = watch;
    /* Resuming from a debug stop executes the instruction at PC even when
     * a breakpoint is set there. */
    v->vm->dbg->v[v->index].bp_skip = exit->pc;
}

struct vmdl_vcpu *vmdl__debug_before(struct vmdl_vm *vm, struct vmdl_exit *exit,
                                     bool *stop)
{
    struct vmdl_debug *g = vm->dbg;
    *stop = false;
    if (atomic_exchange(&g->interrupt, false)) {
        debug_exit(exit, vm->vcpus[vm->next_vcpu % vm->nr_vcpus], VMDL_DEBUG_INTERRUPT,
                   0, 0);
        *stop = true;
        return NULL;
    }
    for (unsigned i = 0; i < vm->nr_vcpus; i++) {
        struct debug_vcpu *d = &g->v[i];
        if (!d->single_step)
            continue;
        if (d->step_done) {
            d->step_done = false;
            debug_exit(exit, vm->vcpus[i], VMDL_DEBUG_STEP, 0, 0);
            *stop = true;
            return NULL;
        }
        return vm->vcpus[i];   /* only the stepped vCPU runs */
    }
    return NULL;
}

bool vmdl__debug_after(struct vmdl_vcpu *vcpu, struct vmdl_exit *exit, bool to_caller)
{
    struct debug_vcpu *d = &vcpu->vm->dbg->v[vcpu->index];
    if (d->hit) {
        enum vmdl_debug_kind k = d->hit;
        d->hit = 0;
        if (!to_caller) {
            debug_exit(exit, vcpu, k, d->hit_addr, d->hit_watch);
            return true;
        }
    }
    if (!d->single_step)
        return to_caller;
    if (to_caller) {
        d->step_done = true;   /* report the step after the caller completes */
        return true;
    }
    debug_exit(exit, vcpu, VMDL_DEBUG_STEP, 0, 0);
    return true;
}
