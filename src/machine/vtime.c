/* SPDX-License-Identifier: MIT */
/*
 * Virtual time with cycle weights: retired instructions plus stall cycles
 * (virtmodel/vtime.h, docs/architecture.md "Virtual time").
 *
 * The block hook stops the engine on a count of retired instructions
 * (vcpu->kick_deadline), which is what it can compare cheaply; the timers'
 * deadlines are virtual times.  vmdl__next_deadline converts them at the
 * current stall, and every stall added afterwards (a PAUSE block, an exit
 * inside the engine) lowers the converted deadline by as much: the stall
 * only grows, so the deadline in instructions only comes closer.
 */
#include "arch_ops.h"
#include "virtmodel/error.h"

void vmdl__stall_add(struct vmdl_vcpu *vcpu, uint64_t cycles)
{
    vcpu->stall += cycles;
    uint64_t d = vmdl__vt_to_insns(vcpu, vcpu->vt_deadline);
    if (d < vcpu->kick_deadline)
        vmdl__set_kick(vcpu, d);
}

bool vmdl__vtime_weights_ok(const struct vmdl_vtime_weights *w)
{
    return w->pause_cycles <= VMDL_VTIME_MAX_WEIGHT && w->exit_cycles <= VMDL_VTIME_MAX_WEIGHT &&
           w->serialize_cycles <= VMDL_VTIME_MAX_WEIGHT &&
           w->rdtsc_cycles <= VMDL_VTIME_MAX_WEIGHT && w->flush_cycles <= VMDL_VTIME_MAX_WEIGHT;
}

/* The cycles a block's PAUSEs add at this VM's weight, and whether the
 * block may take the block hook's fast paths (which add no stall). */
uint64_t vmdl__stall_weight(const struct vmdl_vm *vm, enum vmdl__stall_kind k)
{
    switch (k) {
    case VMDL_STALL_PAUSE: return vm->cfg.vtime.pause_cycles;
    case VMDL_STALL_EXIT: return vm->cfg.vtime.exit_cycles;
    case VMDL_STALL_SERIALIZE: return vm->cfg.vtime.serialize_cycles;
    default: return 0;
    }
}

void vmdl__block_weigh(const struct vmdl_vm *vm, struct block_info *b)
{
    b->stall = 0;
    for (unsigned i = 0; i < b->nstall; i++)
        b->stall += vmdl__stall_weight(vm, (enum vmdl__stall_kind)b->stalls[i].kind);
    b->no_fast = b->ends_in_shadow || b->stall;
}

int vmdl_vm_set_vtime_weights(struct vmdl_vm *vm, const struct vmdl_vtime_weights *w)
{
    if (!vm || !w)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vm_set_vtime_weights: NULL argument");
    if (!vmdl__vtime_weights_ok(w))
        return vmdl_fail(VMDL_EINVAL, "vmdl_vm_set_vtime_weights: pause %u / exit %u / "
                         "serialize %u / rdtsc %u / flush %u cycles: each weight must be at "
                         "most %u", w->pause_cycles, w->exit_cycles, w->serialize_cycles,
                         w->rdtsc_cycles, w->flush_cycles,
                         VMDL_VTIME_MAX_WEIGHT);
    vm->cfg.vtime = *w;
    vm->cfg.vtime_set = true;
    /* Blocks already decoded carry the old weight. */
    for (unsigned i = 0; i < vm->nr_vcpus; i++) {
        struct vmdl_vcpu *v = vm->vcpus[i];
        for (unsigned h = 0; h < BLOCK_HASH_SIZE; h++)
            for (struct block_info *b = v->blocks[h]; b; b = b->next)
                vmdl__block_weigh(vm, b);
        vmdl__count_forget_block(v);
    }
    return VMDL_OK;
}

void vmdl_vm_get_vtime_weights(const struct vmdl_vm *vm, struct vmdl_vtime_weights *w)
{
    if (vm && w)
        *w = vm->cfg.vtime;
}

uint64_t vmdl_vcpu_vtime(struct vmdl_vcpu *vcpu) { return vmdl__vtime(vcpu); }
uint64_t vmdl_vcpu_stall(struct vmdl_vcpu *vcpu) { return vcpu->stall; }
