/* SPDX-License-Identifier: MIT */
/*
 * One entry of an x86 vCPU into the engine and the dispatch of why it
 * stopped; the completion of an exit the caller handled.
 */
#include <string.h>

#include "x86.h"
#include "virtmodel/bits.h"
#include "virtmodel/error.h"

void vmdl__x86_retire(struct vmdl_vcpu *v, unsigned len)
{
    wr(v, UC_X86_REG_RIP, rd(v, UC_X86_REG_RIP) + len);
    vmdl__insns_add(v, 1);
}

int vmdl__x86_complete(struct vmdl_vcpu *v, uint64_t value, vmdl_fault fault)
{
    enum pending_kind p = v->pending;
    uint64_t rip = rd(v, UC_X86_REG_RIP);
    v->pending = PENDING_NONE;
    if (fault != VMDL_FAULT_NONE) {
        if (vmdl__x86_raise(v, fault, rip) == EMU_TRIPLE)
            return vmdl_fail(VMDL_ESTATE, "vmdl_vcpu_complete_fault: %s at RIP 0x%llx: %s",
                             vmdl_fault_name(fault), (unsigned long long)rip,
                             vmdl_last_error());
        return VMDL_OK;
    }
    switch (p) {
    case PENDING_MSR_READ:
        wr(v, UC_X86_REG_RAX, (uint32_t)value);
        wr(v, UC_X86_REG_RDX, value >> 32);
        vmdl__x86_retire(v, v->pending_len);
        break;
    case PENDING_MMIO_WRITE:
        if (X86(v)->pending_string)
            vmdl__x86_complete_string(v, value, false);
        else
            vmdl__x86_retire(v, v->pending_len);
        break;
    case PENDING_MSR_WRITE:
    case PENDING_INSN:
        vmdl__x86_retire(v, v->pending_len);
        break;
    case PENDING_IO_IN:
        /* The IN has not executed (rewound): it retires with the value. */
        vmdl__x86_complete_io(v, value, true);
        break;
    case PENDING_IO_OUT:
        vmdl__x86_complete_io(v, 0, false);
        break;
    case PENDING_MMIO_READ: {
        unsigned sz = v->exit.u.mmio.size;
        uint64_t val = sz >= 8 ? value : value & ((1ull << (8 * sz)) - 1);
        if (X86(v)->pending_string) {
            vmdl__x86_complete_string(v, val, true);
            break;
        }
        if (v->exit.u.mmio.data) /* sign-extending load */
            val = vmdl_sign_extend(val, 8 * sz);
        vmdl__x86_write_gpr_sized(v, v->pending_reg, v->pending_size, false, val);
        vmdl__x86_retire(v, v->pending_len);
        break;
    }
    default:
        return vmdl_fail(VMDL_ESTATE, "vmdl_vcpu_complete: nothing to complete");
    }
    return VMDL_OK;
}

/* ---------------- run ---------------- */

static void fault_loop_exit(struct vmdl_vcpu *v, struct vmdl_exit *exit, uint64_t rip)
{
    memset(exit, 0, sizeof(*exit));
    exit->reason = VMDL_EXIT_FAULT_LOOP;
    exit->pc = rip;
    snprintf(exit->u.internal.message, sizeof(exit->u.internal.message), "%s",
             vmdl_last_error());
    (void)v;
}

static void internal_exit(struct vmdl_exit *exit, uint64_t rip, const char *fmt,
                          const char *arg, uint64_t a2)
{
    memset(exit, 0, sizeof(*exit));
    exit->reason = VMDL_EXIT_INTERNAL_ERROR;
    exit->pc = rip;
    snprintf(exit->u.internal.message, sizeof(exit->u.internal.message), fmt,
             arg, (unsigned long long)a2);
}

/*
 * In an interrupt shadow, run exactly one instruction first.  Unicorn's
 * instruction count would do it but flushes every translated block each
 * time it is switched on or off, so stop at the next instruction's address
 * instead, unless the instruction is a branch.
 */
static void shadow_step(struct vmdl_vcpu *v, uint64_t rip, uint64_t *until,
                        size_t *count)
{
    cs_insn *in = NULL;
    int len = vmdl__x86_insn_length(v, rip, NULL, 0, &in);
    if (len <= 0) {
        *count = 1;
        return;
    }
    if (vmdl__x86_insn_is_branch(in))
        *count = 1;
    else
        *until = rip + (unsigned)len;
    cs_free(in, 1);
}

/* #GP, #UD or another exception the engine raised. */
static enum emu_result on_exception(struct vmdl_vcpu *v, uint64_t rip)
{
    if (v->stop_vector == 13) {
        enum emu_result r = vmdl__x86_emu_gp(v, rip);
        return r == EMU_NOT_EMULATED ? vmdl__x86_raise(v, VMDL_FAULT_GP, rip) : r;
    }
    /* INT3/INTO are traps: QEMU reports RIP past them already, which is
     * where their frame returns to. */
    unsigned vec = v->stop_vector;
    char out[32];
    snprintf(out, sizeof(out), "vector %u to guest", vec);
    vmdl__trace_exit(v, "exception", rip, out);
    if (vec < 256 && vmdl__x86_deliver(v, vec, vmdl__x86_has_error_code(vec), 0, rip))
        return EMU_TRIPLE;
    return EMU_DONE;
}

static void on_io_exit(struct vmdl_vcpu *v, struct vmdl_exit *exit, uint64_t rip)
{
    if (!vmdl__x86_rewind_io_exit(v)) {
        vmdl__count_at_stop(v, rip);
        v->pending = PENDING_NONE;
        internal_exit(exit, rip, "%s: could not find the I/O instruction "
                      "in the block at 0x%llx", "port I/O exit", rip);
        return;
    }
    rip = rd(v, UC_X86_REG_RIP);
    vmdl__count_at_stop(v, rip);   /* the IN/OUT retires on completion */
    v->exit.pc = rip;
    *exit = v->exit;
    vmdl__trace_exit(v, "io", rip, "to caller");
}

static enum emu_result on_mmio(struct vmdl_vcpu *v, struct vmdl_exit *exit,
                               uint64_t *rip)
{
    enum emu_result r = vmdl__x86_mmio_exit(v, *rip);
    if (r == EMU_TRIPLE)    /* at the located access or the undone branch */
        *rip = rd(v, UC_X86_REG_RIP);
    if (r == EMU_NOT_EMULATED) {
        bool fetch = v->stop_vector == UC_MEM_FETCH_UNMAPPED;
        internal_exit(exit, *rip, "%s at 0x%llx that cannot be emulated "
                      "(not RAM, no device, not a plain MOV)",
                      fetch ? "instruction fetch" : "memory access",
                      fetch ? *rip : v->exit.u.mmio.addr);
    }
    return r;
}

static int on_reset(struct vmdl_vcpu *v, struct vmdl_exit *exit, uint64_t rip)
{
    vmdl__trace_exit(v, "reset", rip, "VM reset");
    if (vmdl_vm_reset(v->vm))
        return vmdl_fail(VMDL_ESTATE, "%s", vmdl_last_error());
    memset(exit, 0, sizeof(*exit));
    exit->reason = VMDL_EXIT_RESET;
    exit->pc = rip;
    return VMDL_OK;
}

/* The OUT that powered the guest off retired, and every instruction of its
 * block before it: the engine stopped right after it (io.c), or else with
 * RIP stale, inside the block. */
static void count_shutdown(struct vmdl_vcpu *v, uint64_t rip)
{
    if (X86(v)->io_precise) {
        vmdl__count_at_stop(v, rip);
        return;
    }
    struct locate_want w = {.io = true, .is_write = true, .port = X86(v)->stop_port};
    uint64_t at = vmdl__x86_locate_port(v, &w);
    if (!at) {
        vmdl__count_at_stop(v, rip);
        return;
    }
    int len = vmdl__x86_insn_length(v, at, NULL, 0, NULL);
    vmdl__count_at_stop(v, at + (unsigned)(len > 0 ? len : 1));
}

static void on_shutdown(struct vmdl_vcpu *v, struct vmdl_exit *exit, uint64_t rip)
{
    count_shutdown(v, rip);
    rip = vmdl__x86_rewind_power_off(v);
    memset(exit, 0, sizeof(*exit));
    exit->reason = VMDL_EXIT_SHUTDOWN;
    exit->pc = rip;
    exit->u.shutdown.status = v->stop_status;
    vmdl__trace_exit(v, "shutdown", rip, "guest powered off");
}

/* Act on why the engine stopped. */
static int dispatch(struct vmdl_vcpu *v, uc_err e, struct vmdl_exit *exit,
                    bool *to_caller)
{
    uint64_t rip = rd(v, UC_X86_REG_RIP);
    enum emu_result r = EMU_DONE;
    switch (v->stop) {
    case STOP_NONE:
    case STOP_KICK:
        if (e == UC_ERR_OK)
            return VMDL_OK;
        internal_exit(exit, rip, "Unicorn stopped: %s (RIP 0x%llx)",
                      uc_strerror(e), rip);
        *to_caller = true;
        return VMDL_OK;
    case STOP_INTR: r = on_exception(v, rip); break;
    case STOP_INVALID: r = vmdl__x86_emu_invalid(v, rip); break;
    case STOP_SITE:
        r = X86(v)->site_result;
        if (r == EMU_FAULT)
            r = vmdl__x86_raise(v, X86(v)->site_fault, rip);
        break;
    case STOP_IO_EXIT:
        on_io_exit(v, exit, rip);
        *to_caller = true;
        return VMDL_OK;
    case STOP_MMIO:
        r = on_mmio(v, exit, &rip);
        if (r == EMU_NOT_EMULATED) {
            *to_caller = true;
            return VMDL_OK;
        }
        break;
    case STOP_SHUTDOWN:
        on_shutdown(v, exit, rip);
        *to_caller = true;
        return VMDL_OK;
    case STOP_RESET:
        *to_caller = true;
        return on_reset(v, exit, rip);
    case STOP_SLEEP:
        vmdl__x86_sleep_done(v);
        return VMDL_OK;
    default:
        break;
    }
    if (r == EMU_TRIPLE) {
        fault_loop_exit(v, exit, rip);
        *to_caller = true;
    } else if (r == EMU_TO_CALLER) {
        *exit = v->exit;
        *to_caller = true;
    }
    return VMDL_OK;
}

/*
 * The watchdog's stop is taken at the start of a block, after the block
 * hook counted it: Unicorn leaves the PC stale there once code hooks exist
 * (see block_slow in insn_count.c).  The block did not run: back to it.
 */
static void timeout_fix_pc(struct vmdl_vcpu *v)
{
    struct block_info *b = v->cur_block;
    uint64_t rip = rd(v, UC_X86_REG_RIP);
    if (v->stop == STOP_NONE && b && (rip < b->addr || rip >= b->addr + b->size))
        wr(v, UC_X86_REG_RIP, b->addr);
}

int vmdl__x86_run(struct vmdl_vcpu *v, struct vmdl_exit *exit, bool *to_caller)
{
    bool triple = false;
    if (X86(v)->hosted)
        return vmdl__x86h_run(v, exit, to_caller);
    v->halted = false;
    int inj = vmdl__x86_inject_pending(v, &triple);
    uint64_t rip = rd(v, UC_X86_REG_RIP);
    if (triple) {
        fault_loop_exit(v, exit, rip);
        *to_caller = true;
        return VMDL_OK;
    }
    vmdl__count_update_hook(v);
    v->stop = STOP_NONE;
    X86(v)->stop_rip_exact = false;
    v->shadow_at = 0;
    X86(v)->exc_dirty = false;
    uint64_t until = 0;
    size_t count = 0;
    if (inj < 0)
        shadow_step(v, rip, &until, &count);
    vmdl__x86_io_entry(v);
    vmdl__engine_enter(v);
    if (vmdl__debug_stepping(v))
        until = 0;   /* one instruction (debug.h) */
    count = vmdl__debug_count(v, count);
    uc_err e = uc_emu_start(v->uc, rip, until, 0, count);
    vmdl__engine_leave(v);
    vmdl__x86_io_after_run(v);
    if (X86(v)->exc_dirty)
        vmdl__x86_clear_exception_state(v);
    if (v->code_hooks && atomic_load(&v->vm->timed_out))
        timeout_fix_pc(v);
    X86(v)->stop_block = v->cur_block ? v->cur_block->addr : 0;
    /* A port I/O stop counts up to its instruction once that is found. */
    if (v->stop != STOP_IO_EXIT && v->stop != STOP_SHUTDOWN)
        vmdl__count_at_stop(v, rd(v, UC_X86_REG_RIP));
    return dispatch(v, e, exit, to_caller);
}
