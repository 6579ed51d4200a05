/* SPDX-License-Identifier: MIT */
/*
 * x86 port I/O: the built-in devices (COM1, isa-debug-exit, ACPI power-off,
 * reset ports), the ports models claim, and exits to the caller, made
 * precise by rewinding to the IN/OUT.
 */
#include <string.h>

#include "x86.h"
#include "virtmodel/error.h"

/*
 * Hooks are not precise in Unicorn 2.0.1: inside an IN/OUT or unmapped-
 * memory hook the general registers are current but RIP still holds the
 * start of the translation block, and after uc_emu_stop() in an I/O hook the
 * rest of the block still runs.  So an exit that must be precise saves the
 * registers in the hook, lets the block's tail run with its device effects
 * suppressed ("tail mode": v->stop already set), restores the registers and
 * finds the instruction by decoding forward from the stale RIP.
 */
bool vmdl__x86_in_tail(struct vmdl_vcpu *v)
{
    return v->stop != STOP_NONE && v->stop != STOP_KICK;
}

static uint32_t size_mask(int size)
{
    return size >= 4 ? 0xFFFFFFFFu : (1u << (8 * size)) - 1;
}

static void io_exit(struct vmdl_vcpu *v, uint16_t port, int size, bool is_write,
                    uint32_t value)
{
    memset(&v->exit, 0, sizeof(v->exit));
    v->exit.reason = VMDL_EXIT_IO;
    v->exit.u.io.port = port;
    v->exit.u.io.size = (uint8_t)size;
    v->exit.u.io.is_write = is_write;
    v->exit.u.io.data = value;
    v->pending = is_write ? PENDING_IO_OUT : PENDING_IO_IN;
    v->pending_size = (uint8_t)size;
    uc_context_save(v->uc, X86(v)->io_ctx);
    vmdl__x86_set_stop(v, STOP_IO_EXIT);
}

uint32_t vmdl__x86_in_cb(uc_engine *uc, uint32_t port, int size, void *user)
{
    (void)uc;
    struct vmdl_vcpu *v = user;
    struct vmdl_vm *vm = v->vm;
    if (vmdl__x86_in_tail(v))
        return 0;
    vmdl__x86_exit_cost(v, VMDL_XK_IO);
    if (X86(v)->hosted && vmdl__x86h_io_probe(v, (uint16_t)port, size, true))
        return 0;
    if (port >= VMDL_X86_COM1_PORT && port <= VMDL_X86_COM1_PORT + 7 && vm->x86h &&
        vm->x86h->pc_devices)
        return vmdl_uart_read(&vm->x86h->com1, port - VMDL_X86_COM1_PORT);
    if (port >= VMDL_X86_COM1_PORT && port <= VMDL_X86_COM1_PORT + 7) {
        switch (port - VMDL_X86_COM1_PORT) {
        case 5: return 0x60;  /* LSR: transmitter empty, holding reg empty */
        case 2: return 0x01;  /* IIR: no interrupt pending */
        default: return 0;
        }
    }
    struct io_range *r = vmdl__find_io(vm, (uint16_t)port);
    if (r && r->ops->read) {
        uint32_t val = 0;
        vmdl_fault f = r->ops->read(r->opaque, v, (uint16_t)port, (unsigned)size, &val);
        if (f == VMDL_FAULT_NONE)
            return val & size_mask(size);
    }
    if (port == 0x80 || port == 0x64 || port == VMDL_X86_DEBUG_EXIT_PORT)
        return port == 0x64 ? 0 : size_mask(size);
    if (X86(v)->hosted)
        return size_mask(size); /* a PC's unassigned ports (no I/O exits yet) */
    io_exit(v, (uint16_t)port, size, false, 0);
    return 0;
}

void vmdl__x86_out_cb(uc_engine *uc, uint32_t port, int size, uint32_t value,
                   void *user)
{
    (void)uc;
    struct vmdl_vcpu *v = user;
    struct vmdl_vm *vm = v->vm;
    if (vmdl__x86_in_tail(v))
        return;
    vmdl__x86_exit_cost(v, VMDL_XK_IO);
    if (X86(v)->hosted && vmdl__x86h_io_probe(v, (uint16_t)port, size, false))
        return;
    value &= size_mask(size);
    if (port >= VMDL_X86_COM1_PORT && port <= VMDL_X86_COM1_PORT + 7 && vm->x86h &&
        vm->x86h->pc_devices) {
        vmdl_uart_write(&vm->x86h->com1, port - VMDL_X86_COM1_PORT, (uint8_t)value);
        return;
    }
    if (port == VMDL_X86_COM1_PORT) {
        char c = (char)value;
        vmdl__console(vm, &c, 1);
        return;
    }
    if (port > VMDL_X86_COM1_PORT && port <= VMDL_X86_COM1_PORT + 7)
        return; /* UART configuration: accepted and ignored */
    if (port == VMDL_X86_DEBUG_EXIT_PORT) {
        X86(v)->stop_port = (uint16_t)port;
        v->stop_status = (int)((value << 1) | 1);
        vmdl__x86_set_stop(v, STOP_SHUTDOWN);
        return;
    }
    if (port == 0x604 && size == 2 && (value & 0x2000) && !(vm->x86h && vm->x86h->pc_devices)) {
        vmdl__x86_power_off(v, (uint16_t)port);  /* no PM block: QEMU's S5 anyway */
        return;
    }
    if ((port == 0xCF9 && (value & 0x04)) || (port == 0x64 && value == 0xFE)) {
        vmdl__x86_set_stop(v, STOP_RESET);
        return;
    }
    struct io_range *r = vmdl__find_io(vm, (uint16_t)port);
    if (r && r->ops->write &&
        r->ops->write(r->opaque, v, (uint16_t)port, (unsigned)size, value) ==
            VMDL_FAULT_NONE)
        return;
    if (port == 0x80 || port == 0xCF9 || port == 0x604)
        return;
    if (!X86(v)->hosted)
        io_exit(v, (uint16_t)port, size, true, value);
}

/* The guest powered the VM off through `port` (ACPI S5): status 0. */
void vmdl__x86_power_off(struct vmdl_vcpu *v, uint16_t port)
{
    X86(v)->stop_port = port;
    v->stop_status = 0;
    vmdl__x86_set_stop(v, STOP_SHUTDOWN);
}

static bool insn_matches(struct vmdl_vcpu *v, const cs_insn *in,
                         const struct locate_want *w)
{
    const cs_x86 *x = &in->detail->x86;
    if (w->io) {
        /* INS/OUTS (a nested guest's string I/O) address the port in DX. */
        bool is_in = in->id == X86_INS_IN || in->id == X86_INS_INSB ||
                     in->id == X86_INS_INSW || in->id == X86_INS_INSD;
        bool is_out = in->id == X86_INS_OUT || in->id == X86_INS_OUTSB ||
                      in->id == X86_INS_OUTSW || in->id == X86_INS_OUTSD;
        if (!(is_in || is_out) || is_out != w->is_write)
            return false;
        for (unsigned i = 0; i < x->op_count; i++) {
            if (x->operands[i].type == X86_OP_IMM)
                return (uint16_t)x->operands[i].imm == w->port;
        }
        return (uint16_t)rd(v, UC_X86_REG_RDX) == w->port; /* port in DX */
    }
    if (in->id == X86_INS_LEA || in->id == X86_INS_NOP)
        return false;
    /* Implicit stack accesses. */
    uint64_t rsp = rd(v, UC_X86_REG_RSP);
    switch (in->id) {
    /* (Unsigned differences: the stack may wrap around 2^64.) */
    case X86_INS_PUSH: case X86_INS_CALL: case X86_INS_PUSHFQ:
        if (w->addr - (rsp - 8) < 8)
            return true;
        break;
    case X86_INS_POP: case X86_INS_RET: case X86_INS_POPFQ: case X86_INS_IRETQ:
        if (w->addr - rsp < 8u * (in->id == X86_INS_IRETQ ? 5 : 1))
            return true;
        break;
    default:
        break;
    }
    for (unsigned i = 0; i < x->op_count; i++) {
        const cs_x86_op *op = &x->operands[i];
        if (op->type != X86_OP_MEM)
            continue;
        uint64_t ea = vmdl__x86_mem_addr(v, in, op);
        if (w->addr - ea < (uint64_t)(op->size ? op->size : 1))
            return true;
    }
    return false;
}

/* A direct branch's target (false: not a direct branch). */
static bool direct_target(const cs_insn *in, uint64_t *to)
{
    const cs_x86 *x = &in->detail->x86;
    if (x->op_count != 1 || x->operands[0].type != X86_OP_IMM)
        return false;
    *to = (uint64_t)x->operands[0].imm;
    return true;
}

static bool is_group(const cs_insn *in, uint8_t group)
{
    for (unsigned g = 0; g < in->detail->groups_count; g++)
        if (in->detail->groups[g] == group)
            return true;
    return false;
}

/*
 * Decode forward from `from` (a stale RIP no later than the instruction
 * in execution order) to the first instruction that matches; 0 when none
 * within 64.  The stale RIP is where the engine last synced it, which can
 * be a block the guest left through a chained branch (a loop back to an
 * IN): so the search follows direct branches, both ways for a conditional
 * one (nearest first), and ends a path at an indirect branch or return.
 */
uint64_t vmdl__x86_locate_insn(struct vmdl_vcpu *v, uint64_t from,
                            const struct locate_want *w)
{
    uint64_t queue[8] = {from};
    unsigned head = 0, tail = 1, budget = 64;
    while (head < tail && budget) {
        uint64_t pc = queue[head++];
        for (; budget; budget--) {
            cs_insn *in = NULL;
            int len = vmdl__x86_insn_length(v, pc, NULL, 0, &in);
            if (len <= 0)
                break;
            bool ok = insn_matches(v, in, w);
            uint64_t to = 0;
            bool direct = vmdl__x86_insn_is_branch(in) && direct_target(in, &to);
            bool jmp = in->id == X86_INS_JMP, ends = vmdl__x86_insn_is_branch(in);
            bool call = is_group(in, CS_GRP_CALL);
            cs_free(in, 1);
            if (ok)
                return pc;
            pc += (unsigned)len;
            if (direct && jmp) {
                pc = to;
                continue;
            }
            if (direct && tail < sizeof(queue) / sizeof(queue[0]))
                queue[tail++] = to;
            if (ends && !(direct || call))
                break;   /* indirect jump, return, IRET: nothing static */
        }
    }
    return 0;
}

/* The IN/OUT that stopped the engine: from the start of its block when the
 * block hook saw it (exact), else from the stale RIP. */
uint64_t vmdl__x86_locate_port(struct vmdl_vcpu *v, const struct locate_want *w)
{
    uint64_t at = X86(v)->stop_block ? vmdl__x86_locate_insn(v, X86(v)->stop_block, w) : 0;
    return at ? at : vmdl__x86_locate_insn(v, rd(v, UC_X86_REG_RIP), w);
}

/* After an I/O exit's tail ran: back to the registers at the IN/OUT. */
bool vmdl__x86_rewind_io_exit(struct vmdl_vcpu *v)
{
    uc_context_restore(v->uc, X86(v)->io_ctx);
    struct locate_want w = {.io = true, .is_write = v->exit.u.io.is_write,
                            .port = v->exit.u.io.port, .size = v->exit.u.io.size};
    uint64_t at = vmdl__x86_locate_port(v, &w);
    if (!at)
        return false;
    wr(v, UC_X86_REG_RIP, at);
    v->pending_len = (unsigned)vmdl__x86_insn_length(v, at, NULL, 0, NULL);
    return true;
}
