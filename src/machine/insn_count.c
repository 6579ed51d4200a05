/* SPDX-License-Identifier: MIT */
/*
 * Exact retired-instruction counting without a per-instruction hook.
 *
 * Unicorn can count instructions only by hooking every one of them, which
 * costs many times the instruction itself.  Instead, while somebody needs
 * virtual time (a live PMU counter, an armed APIC timer, several vCPUs to
 * schedule, an instruction budget), one UC_HOOK_BLOCK fires at the start of
 * each translation block; the block's instruction layout is decoded once
 * with Capstone and cached, so the hook adds a precomputed count.  When the
 * engine stops inside a block (a trap), the count is corrected to the
 * faulting instruction's position.  QEMU ends a translation block at every
 * branch, so "blocks that ran to a final branch" is the retired-branch count.
 * With nobody needing time, no hook is installed at all.
 */
#include <stdlib.h>
#include <string.h>

#include "arch_ops.h"

static unsigned block_hash(uint64_t addr)
{
    return (unsigned)((addr >> 2) ^ (addr >> 13)) & (BLOCK_HASH_SIZE - 1);
}

static bool is_branch_insn(cs_insn *in)
{
    if (!in->detail)
        return false;
    for (unsigned g = 0; g < in->detail->groups_count; g++) {
        switch (in->detail->groups[g]) {
        case CS_GRP_JUMP: case CS_GRP_CALL: case CS_GRP_RET:
        case CS_GRP_IRET: case CS_GRP_BRANCH_RELATIVE:
            return true;
        default: break;
        }
    }
    return false;
}

static unsigned recent_slot(uint64_t addr)
{
    return (unsigned)(addr ^ (addr >> 8)) & (BLOCK_RECENT_SIZE - 1);
}

/* Where the block's stalling instructions are (virtual time, vtime.c).
 * (QEMU ends a block at PAUSE, so a PAUSE is last; any layout is handled.)
 * Without memory for the list, no stall is counted. */
static void find_stalls(struct vmdl_vm *vm, struct block_info *b, const cs_insn *insns,
                        size_t n)
{
    int (*kind)(const cs_insn *) = vm->arch_ops->insn_stall;
    unsigned ns = 0;
    for (size_t i = 0; kind && i < n && i < UINT16_MAX; i++)
        ns += kind(&insns[i]) != VMDL_STALL_NONE;
    if (!ns || !(b->stalls = calloc(ns, sizeof(*b->stalls))))
        return;
    for (size_t i = 0; i < n && b->nstall < ns; i++) {
        int k = kind(&insns[i]);
        if (k != VMDL_STALL_NONE)
            b->stalls[b->nstall++] = (struct block_stall){ (uint16_t)i, (uint8_t)k };
    }
}

/* Where the block's checked instructions are (arch_ops->insn_checked).
 * Without memory for the list, none is checked. */
static void find_checks(struct vmdl_vm *vm, struct block_info *b, const cs_insn *insns,
                        size_t n)
{
    bool (*checked)(const cs_insn *) = vm->arch_ops->insn_checked;
    unsigned nc = 0;
    for (size_t i = 0; checked && i < n && i < UINT16_MAX; i++)
        nc += checked(&insns[i]);
    if (!nc || !(b->checks = calloc(nc, sizeof(*b->checks))))
        return;
    for (size_t i = 0; i < n && b->nchecks < nc; i++)
        if (checked(&insns[i]))
            b->checks[b->nchecks++] = insns[i].address;
}

static struct block_info *build_block(struct vmdl_vcpu *vcpu, uint64_t addr,
                                      uint32_t size)
{
    struct vmdl_vm *vm = vcpu->vm;
    struct block_info *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    b->addr = addr;
    b->size = size;
    uint8_t *code = malloc(size ? size : 1);
    if (!code || uc_mem_read(vcpu->uc, addr, code, size) != UC_ERR_OK) {
        free(code);
        /* Unknown layout: count it as one instruction. */
        b->ninsns = 1;
        return b;
    }
    /* Decoded in the size of the code that runs it (16-, 32- or 64-bit):
     * the block is entered in that mode now.  The cache is keyed by
     * address and size only; code run in two modes at one address with
     * one block size keeps the first decoding (docs/architecture.md). */
    csh h = vm->arch_ops->code_cs ? vm->arch_ops->code_cs(vcpu) : vm->cs;
    cs_insn *insns = NULL;
    size_t n = cs_disasm(h, code, size, addr, 0, &insns);
    b->offsets = calloc(n ? n : 1, sizeof(uint16_t));
    if (!b->offsets) {
        cs_free(insns, n);
        free(code);
        free(b);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        b->offsets[i] = (uint16_t)(insns[i].address - addr);
    b->ninsns = n ? (uint32_t)n : 1;
    if (n) {
        b->ends_in_branch = is_branch_insn(&insns[n - 1]);
        b->ends_in_shadow = vm->arch_ops->insn_is_shadow &&
                            vm->arch_ops->insn_is_shadow(&insns[n - 1]);
    }
    find_stalls(vm, b, insns, n);
    find_checks(vm, b, insns, n);
    vmdl__block_weigh(vm, b);
    cs_free(insns, n);
    free(code);
    return b;
}

static struct block_info *lookup_block(struct vmdl_vcpu *vcpu, uint64_t addr,
                                       uint32_t size)
{
    unsigned h = block_hash(addr);
    for (struct block_info *b = vcpu->blocks[h]; b; b = b->next)
        if (b->addr == addr && b->size == size)
            return b;
    struct block_info *b = build_block(vcpu, addr, size);
    if (!b)
        return NULL;
    b->next = vcpu->blocks[h];
    vcpu->blocks[h] = b;
    return b;
}

/*
 * Make b the current block.  Its next entry may take block_cb's fast path
 * when nothing about that entry needs a decision but the deadline: the
 * block does not end in an interrupt shadow (the entry after it must record
 * one), this entry is not in one (the fast path does not clear shadow_at)
 * and no interrupt window is watched (whoever opens one while a block is
 * current calls vmdl__count_no_fast).
 */
static void set_cur_block(struct vmdl_vcpu *vcpu, struct block_info *b)
{
    vmdl__count_fold(vcpu);
    vcpu->cur_block = b;
    if (b && !b->no_fast && !vcpu->shadow_at && !vcpu->irq_window && !vcpu->block_watch) {
        vcpu->fast_addr = b->addr;
        vcpu->fast_size = b->size;
        vcpu->fast_ninsns = b->ninsns;
        vcpu->fast_branch = b->ends_in_branch;
    } else {
        vmdl__count_no_fast(vcpu);
    }
}

/*
 * Instructions retired before the current block started.  Not stored: while
 * a block is current, insns only moves by that block's count (it is set
 * back with the block forgotten, vmdl__count_forget_block), so the block
 * hook saves a store on every guest block.
 */
static uint64_t block_base(const struct vmdl_vcpu *vcpu)
{
    return vmdl__insns(vcpu) - vcpu->cur_block->ninsns;
}

void vmdl__count_no_fast(struct vmdl_vcpu *vcpu)
{
    vmdl__count_fold(vcpu);
    vcpu->fast_addr = VMDL_FAST_NONE;
    vcpu->fast_size = 0;
}

/* ceil(log2 n): (d >> block_shift(n)) <= d / n, without a division. */
static inline unsigned block_shift(uint32_t n)
{
    return n > 1 ? 64u - (unsigned)__builtin_clzll(n - 1) : 0u;
}

/*
 * The fast path takes an entry of the current block while the count after
 * it stays at or below kick_deadline (block_slow decides the entry that
 * would pass it): with I retired now, floor((kick_deadline - I) / n) more
 * entries of an n-instruction block.  The countdown allows at most that
 * many: (kick_deadline - I) shifted right by ceil(log2 n), no division on
 * this path (a multi-block loop rearms at every block).  Fewer than that
 * only sends an entry to block_other, which decides exactly and rearms.
 * It counts down from one more, so that the entry which brings fast_left
 * to 0 is the first one refused.  Without a fast block it is idle (1).
 */
void vmdl__count_rearm(struct vmdl_vcpu *vcpu)
{
    uint64_t n = vmdl__insns(vcpu), d = vcpu->kick_deadline, left = 0;
    if (vcpu->fast_size && vcpu->fast_ninsns && d > n) {
        left = (d - n) >> block_shift(vcpu->fast_ninsns);
        if (left > UINT64_MAX / 2)
            left = UINT64_MAX / 2;
    }
    vcpu->insns_done = n;
    vcpu->branches_done = vmdl__branches(vcpu);
    vcpu->fast_left = vcpu->fast_mark = left + 1;
}

/*
 * A timer's or the interrupt controller's event falls inside the block
 * about to run: where the architecture can, stop right before the
 * instruction that would retire past it, not at the end of the block.  The
 * engine leaves before the block; the architecture's next entry places a
 * stop at vcpu->exact_pc (a code hook bounded to that instruction, arm64/
 * run.c), and when the block comes round again it runs up to there.
 */
static bool exact_stop_needed(struct vmdl_vcpu *vcpu, const struct block_info *b,
                              uint64_t base)
{
    uint64_t d = vcpu->kick_deadline;
    if (!vcpu->vm->arch_ops->exact_events || !b || !b->offsets || base >= d ||
        vmdl__insns(vcpu) <= d || d != vcpu->event_deadline || d == vcpu->exact_refused)
        return false;
    uint64_t at = b->addr + b->offsets[d - base];
    if (vcpu->exact_placed && vcpu->exact_pc == at && vcpu->exact_at == d)
        return false;   /* the stop is compiled into this block already */
    vcpu->exact_pc = at;
    vcpu->exact_at = d;
    return true;
}

/* Everything block_cb does, for any block: the general path. */
static __attribute__((noinline)) void block_slow(uc_engine *uc, uint64_t addr,
                                                 uint32_t size, struct vmdl_vcpu *vcpu)
{
    struct block_info *prev = vcpu->cur_block;
    if (prev && prev->ends_in_branch)
        vcpu->branches_done++;
    /* A block that ends in STI / MOV SS leaves the next instruction in the
     * interrupt shadow. */
    vcpu->shadow_at = prev && prev->ends_in_shadow && addr == prev->addr + prev->size
                          ? addr : 0;
    struct block_info *b = prev && prev->addr == addr && prev->size == size
                               ? prev : lookup_block(vcpu, addr, size);
    if (b)
        vcpu->recent[recent_slot(addr)] = b;
    uint64_t base = vcpu->insns_done;
    set_cur_block(vcpu, b);
    vcpu->insns_done += b ? b->ninsns : 1;
    /* Stop before running a block that would cross the deadline, or when an
     * interrupt that waited for IF can now be taken (STI ends a block). */
    bool window_open = false;
    if (vcpu->irq_window && vcpu->shadow_at != addr) {
        /* (In the shadow of an STI, QEMU translates the one instruction
         * after it as a block of its own: the window is checked again right
         * after it, without stepping.) */
        window_open = vcpu->vm->arch_ops->irq_window_open(vcpu);
    }
    bool stop = base >= vcpu->kick_deadline || window_open ||
                exact_stop_needed(vcpu, b, base);
    /* A block with instructions checked before they run is entered once
     * without their hooks: leave before it, it is translated again with
     * them.  (Checked and watched blocks are rare: the checks are the
     * architecture's, hosted_align.c.) */
    const struct vmdl_arch_ops *ops = vcpu->vm->arch_ops;
    if (b && b->nchecks && !b->checks_armed) {
        b->checks_armed = true;
        stop |= ops->arm_checks && ops->arm_checks(vcpu, b->checks, b->nchecks);
    }
    if (vcpu->block_watch && ops->block_watch && ops->block_watch(vcpu, addr))
        stop = true;
    /* The block's PAUSEs (and the like) stall it (vtime.c).  Added even when the engine
     * leaves before the block: vmdl__count_at_stop takes back what did not
     * run, as for the instruction count.  The stop above was decided on the
     * deadline as it was before this block: an event that falls inside the
     * stall is taken after the block. */
    if (b && b->stall)
        vmdl__stall_add(vcpu, b->stall);
    vmdl__count_rearm(vcpu);
    if (stop) {
        if (vcpu->stop == STOP_NONE)
            vcpu->stop = STOP_KICK;
        /* The engine leaves before running this block.  Unicorn puts the
         * PC back at the block's start only while no code hook exists;
         * with trap sites (x86/site.c) it would keep a stale one. */
        if (vcpu->code_hooks && ops->set_block_pc)
            ops->set_block_pc(vcpu, addr);
        else if (vcpu->code_hooks)
            ops->set_reg(vcpu, ops->pc_reg, addr);
        uc_emu_stop(uc);
    }
}

/*
 * Everything but block_cb's first case: a loop of several blocks, then the
 * general path.  A function of its own with block_cb's arguments, so that
 * block_cb reaches it with a jump and its own case needs no register moves
 * or frame (docs/performance.md, fifth round).
 */
static __attribute__((noinline)) void block_other(uc_engine *uc, uint64_t addr,
                                                  uint32_t size, void *user)
{
    struct vmdl_vcpu *vcpu = user;
    /* The entry that brought the countdown to 0 was not taken. */
    if (!vcpu->fast_left)
        vcpu->fast_left = 1;
    vmdl__count_fold(vcpu);
    uint64_t n = vcpu->insns_done;
    /*
     * A loop of several blocks: the next block is another one, seen
     * recently.  With the current block fast (no shadow, no window) and the
     * next one neither ending in a shadow nor stalling (no_fast) nor reaching
     * the deadline, block_slow
     * would only count the previous block's branch, make the next one
     * current and count it: do that here, without a chain walk or a frame.
     * (After an instruction completed in a hook no block is current and
     * fast_branch is 0: block_slow would count no branch either.)
     */
    if (vcpu->fast_addr != VMDL_FAST_NONE) {
        struct block_info *b = vcpu->recent[recent_slot(addr)];
        if (b && b->addr == addr && b->size == size && !b->no_fast &&
            n + b->ninsns <= vcpu->kick_deadline) {
            vcpu->branches_done += vcpu->fast_branch;
            vcpu->cur_block = b;
            vcpu->fast_addr = addr;
            vcpu->fast_size = size;
            vcpu->fast_ninsns = b->ninsns;
            vcpu->fast_branch = b->ends_in_branch;
            n += b->ninsns;
            vcpu->insns_done = n;
            /* vmdl__count_rearm, inline: n <= kick_deadline here. */
            vcpu->fast_left = vcpu->fast_mark =
                ((vcpu->kick_deadline - n) >> block_shift(b->ninsns)) + 1;
            return;
        }
    }
    block_slow(uc, addr, size, vcpu);
}

/*
 * Called by the engine at the start of every translation block while time
 * is counted, so it is on the path of every guest loop iteration.  The
 * common case, a loop re-entering the block that just ran with no deadline
 * and no interrupt window, is a few loads and stores of the vCPU without a
 * stack frame or a pointer to follow (fast_*, set by set_cur_block): each
 * instruction here is paid once per guest loop iteration (a full frame
 * doubled the cost of a 10-instruction loop; docs/performance.md).  It does
 * exactly what block_slow would do for that case.
 */
static void block_cb(uc_engine *uc, uint64_t addr, uint32_t size, void *user)
{
    struct vmdl_vcpu *vcpu = user;
    /* The entry is counted by being taken: insns and branches are folded in
     * by whoever reads them (vmdl__insns).  The countdown refuses the entry
     * whose count would pass kick_deadline (a deadline inside the block is
     * block_slow's to see, for architectures that land events exactly). */
    if (__builtin_expect(addr == vcpu->fast_addr && size == vcpu->fast_size &&
                         --vcpu->fast_left != 0, 1))
        return;
    block_other(uc, addr, size, user);
}

/* Does the vCPU need the block hook for an entry with this deadline?  (The
 * one rule for a real entry and for a trap-site re-entry, run.c.) */
bool vmdl__count_needed(struct vmdl_vcpu *vcpu, uint64_t deadline)
{
    struct vmdl_vm *vm = vcpu->vm;
    /* Installing or removing the hook retranslates guest code (below): once
     * an interrupt window has needed it, keep it, so that a guest taking
     * interrupts does not pay that at every one. */
    vcpu->window_hook_kept |= vcpu->irq_window;
    return vcpu->count_users > 0 || vm->nr_vcpus > 1 || vm->max_insns ||
           deadline != UINT64_MAX || vcpu->window_hook_kept;
}

void vmdl__count_update_hook(struct vmdl_vcpu *vcpu)
{
    vmdl__set_kick(vcpu, vmdl__next_deadline(vcpu));
    bool need = vmdl__count_needed(vcpu, vcpu->kick_deadline);
    vmdl__count_forget_block(vcpu);
    if (need == vcpu->block_hook_on)
        return;
    if (need) {
        if (uc_hook_add(vcpu->uc, &vcpu->block_hook, UC_HOOK_BLOCK, UC_CB(block_cb),
                        vcpu, 1, 0) != UC_ERR_OK)
            return;
    } else {
        uc_hook_del(vcpu->uc, vcpu->block_hook);
    }
    vcpu->block_hook_on = need;
    /*
     * Translated blocks carry their hooks: retranslate those of guest RAM.
     * (A whole-cache flush, uc_ctl_flush_tlb, resets Unicorn's code buffer,
     * which costs about a second of page zeroing the first time.)
     */
    struct vmdl_ram_range ram[VMDL_MAX_RAM_RANGES];
    for (unsigned i = 0, n = vmdl_vm_ram_ranges(vcpu->vm, ram); i < n; i++)
        uc_ctl_remove_cache(vcpu->uc, ram[i].gpa, ram[i].gpa + ram[i].size);
}

/* The block stopped before its instruction i: the stall of its
 * instructions from i on, added when it was entered (block_slow), did not
 * happen. */
static void unstall_tail(struct vmdl_vcpu *vcpu, const struct block_info *b, uint32_t i)
{
    if (!b->stall)
        return;
    for (unsigned k = 0; k < b->nstall; k++)
        if (b->stalls[k].idx >= i)
            vcpu->stall -= vmdl__stall_weight(vcpu->vm,
                                              (enum vmdl__stall_kind)b->stalls[k].kind);
}

void vmdl__count_at_stop(struct vmdl_vcpu *vcpu, uint64_t pc)
{
    struct block_info *b = vcpu->cur_block;
    vcpu->ran_block = NULL;
    vmdl__count_fold(vcpu);
    if (!vcpu->block_hook_on || !b)
        return;
    if (pc >= b->addr && pc < b->addr + b->size) {
        /* Stopped inside the block: instructions before pc retired. */
        uint32_t i = 0;
        while (i < b->ninsns && b->offsets && b->addr + b->offsets[i] < pc)
            i++;
        vcpu->insns_done = block_base(vcpu) + i;
        unstall_tail(vcpu, b, i);
    } else {
        /* The whole block ran, including its final instruction. */
        if (b->ends_in_branch)
            vcpu->branches_done++;
        vcpu->ran_block = b;
        if (b->ends_in_shadow && pc == b->addr + b->size)
            vcpu->shadow_at = pc;
    }
    vmdl__count_forget_block(vcpu);
}

/*
 * A trap-site hook is about to complete the instruction at pc inside the
 * engine: the instructions of the current block before pc have retired,
 * the rest of the block will not run (the engine resumes in a new block
 * after pc).  As vmdl__count_at_stop would do at a stop there.  False when
 * the block hook is on but pc is not in the block it counted.
 */
bool vmdl__count_at_insn(struct vmdl_vcpu *vcpu, uint64_t pc)
{
    if (!vcpu->block_hook_on)
        return true;
    struct block_info *b = vcpu->cur_block;
    if (!b || pc < b->addr || pc >= b->addr + b->size)
        return false;
    vmdl__count_fold(vcpu);
    /* vmdl__count_at_stop's case of a stop inside the block. */
    uint32_t i = 0;
    while (i < b->ninsns && b->offsets && b->addr + b->offsets[i] < pc)
        i++;
    vcpu->insns_done = block_base(vcpu) + i;
    unstall_tail(vcpu, b, i);
    vcpu->ran_block = NULL;
    vmdl__count_forget_block(vcpu);
    /* The engine goes on in the block after pc (unless the hook stops it;
     * every entry forgets this).  block_slow would find no current block,
     * hence no branch to count, and look the next block up: with no shadow
     * and no window pending, the fast path's table of recent blocks does
     * the same for it.  Whoever opens a window from the hook turns this
     * off (vmdl__count_no_fast).  Measured: a block_slow call per trap
     * site (docs/performance.md, fifth round). */
    if (!vcpu->shadow_at && !vcpu->irq_window && !vcpu->block_watch) {
        vcpu->fast_addr = VMDL_FAST_BETWEEN;
        vcpu->fast_size = 0;
        vcpu->fast_branch = 0;
    }
    return true;
}

uint64_t vmdl__count_exact(struct vmdl_vcpu *vcpu, uint64_t pc)
{
    struct block_info *b = vcpu->cur_block;
    if (!vcpu->block_hook_on || !b || pc < b->addr || pc >= b->addr + b->size)
        return vmdl__insns(vcpu);
    uint32_t i = 0;
    while (i < b->ninsns && b->offsets && b->addr + b->offsets[i] < pc)
        i++;
    return block_base(vcpu) + i;
}

bool vmdl__count_unretire_branch(struct vmdl_vcpu *vcpu, uint64_t *branch_pc)
{
    struct block_info *b = vcpu->ran_block;
    vcpu->ran_block = NULL;
    if (!b || !b->ends_in_branch || !b->offsets || !b->ninsns)
        return false;
    *branch_pc = b->addr + b->offsets[b->ninsns - 1];
    vmdl__count_fold(vcpu);
    vcpu->insns_done--;
    vcpu->branches_done--;
    vmdl__count_rearm(vcpu);
    return true;
}

bool vmdl__last_insn_was_shadow(struct vmdl_vcpu *vcpu, uint64_t pc)
{
    return vcpu->shadow_at && vcpu->shadow_at == pc;
}

void vmdl__count_free(struct vmdl_vcpu *vcpu)
{
    for (unsigned h = 0; h < BLOCK_HASH_SIZE; h++) {
        struct block_info *b = vcpu->blocks[h];
        while (b) {
            struct block_info *n = b->next;
            free(b->offsets);
            free(b->stalls);
            free(b->checks);
            free(b);
            b = n;
        }
        vcpu->blocks[h] = NULL;
    }
    memset(vcpu->recent, 0, sizeof(vcpu->recent));
}
