/* SPDX-License-Identifier: MIT */
/*
 * x86 port I/O: the built-in devices (COM1, isa-debug-exit, ACPI power-off,
 * reset ports), the ports models claim, and exits to the caller, stopped
 * right after the IN/OUT and rewound to it.
 */
#include <string.h>

#include "x86.h"
#include "hosted.h"
#include "virtmodel/error.h"

/*
 * Stopping at the I/O instruction.  Inside an IN/OUT hook the general
 * registers are current but RIP still holds the start of the translation
 * block, and uc_emu_stop() there lets the rest of the block run: its RAM
 * stores and device accesses would happen before the exit is handled and
 * again after it is completed.  Exceptions, by contrast, end the block at
 * once.  QEMU checks I/O breakpoints right after each IN, OUT, INS and
 * OUTS element when DR7 enables one (helper_bpt_io: #DB with RIP past the
 * instruction), and it compiles that check into every block while DR7 has
 * one enabled.  So the engine's DR7 always enables an I/O breakpoint on
 * DR0 (X86_IO_STOP_DR7, set once at CPL0, vmdl__x86_io_setup), DR0 holds
 * a port nothing reaches, and a hook that must stop writes the port into
 * DR0 (vmdl__x86_io_stop): the #DB that follows is recognised by the
 * interrupt hook (vmdl__x86_io_stop_hit), which disarms DR0 and stops the
 * engine with RIP right after the instruction and nothing after it run.
 * The hosted vCPU's guest DR7 is its own (hosted_dr.c); the VMCB carries
 * the engine's, since VMRUN loads it.
 *
 * An exit to the caller saves the registers in the hook, restores them at
 * the stop and finds the instruction as the one that ends there, decoding
 * forward from the stale RIP (or the counted block's start).  Should the
 * #DB not come (a block translated without the check), the old way stands:
 * the tail runs with device effects suppressed ("tail mode": v->stop set).
 */
bool vmdl__x86_in_tail(struct vmdl_vcpu *v)
{
    return v->stop != STOP_NONE && v->stop != STOP_KICK;
}

static uint32_t size_mask(int size)
{
    return size >= 4 ? 0xFFFFFFFFu : (1u << (8 * size)) - 1;
}

/* The stop a hook decided on, right after the instruction being executed. */
void vmdl__x86_io_stop(struct vmdl_vcpu *v, enum stop_kind k, uint16_t port)
{
    struct x86_vcpu *x = X86(v);
    if (v->stop == STOP_NONE || v->stop == STOP_KICK)
        v->stop = k;
    if (!x->io_armed) {
        x->io_dr6 = rd(v, UC_X86_REG_DR6);
        x->io_from = rd(v, UC_X86_REG_RIP);     /* where to look for it */
        x->io_armed = true;
    }
    wr(v, UC_X86_REG_DR0, port);
    uc_emu_stop(v->uc);     /* should no #DB come: at the end of the block */
}

static void io_disarm(struct vmdl_vcpu *v)
{
    struct x86_vcpu *x = X86(v);
    x->io_armed = false;
    wr(v, UC_X86_REG_DR0, X86_IO_STOP_IDLE);
    wr(v, UC_X86_REG_DR6, x->io_dr6);
}

/* In the interrupt hook: is this the #DB of an armed I/O stop?  (The
 * hosted vCPU intercepts every exception: it arrives as that exit.) */
bool vmdl__x86_io_stop_hit(struct vmdl_vcpu *v, uint32_t intno)
{
    struct x86_vcpu *x = X86(v);
    if (!x->io_armed || intno != (x->hosted ? EXCP_VMEXIT + X_EXCP + 1 : 1u))
        return false;
    io_disarm(v);
    x->io_precise = true;
    uc_emu_stop(v->uc);
    return true;
}

/* Before an entry into the engine, and after it: no stop armed any more. */
void vmdl__x86_io_entry(struct vmdl_vcpu *v)
{
    X86(v)->io_precise = false;
}

void vmdl__x86_io_after_run(struct vmdl_vcpu *v)
{
    if (X86(v)->io_armed)
        io_disarm(v);       /* the #DB did not come: the tail ran (above) */
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
    vmdl__x86_io_stop(v, STOP_IO_EXIT, port);
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
    if (X86(v)->io_calib) {
        vmdl__x86_io_stop(v, STOP_KICK, (uint16_t)port);
        return;
    }
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
        vmdl__x86_io_stop(v, STOP_SHUTDOWN, (uint16_t)port);
        return;
    }
    if (port == 0x604 && size == 2 && (value & 0x2000) && !(vm->x86h && vm->x86h->pc_devices)) {
        vmdl__x86_power_off(v, (uint16_t)port);  /* no PM block: QEMU's S5 anyway */
        return;
    }
    if ((port == 0xCF9 && (value & 0x04)) || (port == 0x64 && value == 0xFE)) {
        vmdl__x86_io_stop(v, STOP_RESET, (uint16_t)port);
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
    vmdl__x86_io_stop(v, STOP_SHUTDOWN, port);  /* (called from port hooks) */
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
 * in execution order) to the first instruction that matches (and ends at
 * w->end when that is known); 0 when none within 32 instructions a path,
 * 128 in all.  The stale RIP is where the engine last synced it, which can
 * be a block the guest left through a chained branch (a loop back to an
 * IN): so the search follows direct branches, both ways for a conditional
 * one (nearest first), and ends a path at an indirect branch or return.
 */
uint64_t vmdl__x86_locate_insn(struct vmdl_vcpu *v, uint64_t from,
                            const struct locate_want *w)
{
    uint64_t queue[8] = {from};
    unsigned head = 0, tail = 1, budget = 128;
    csh h = vmdl__x86_cs(v);    /* one code size for the whole search */
    while (head < tail && budget) {
        uint64_t pc = queue[head++];
        /* Each path gets a share, so that a fall-through into data (zeros
         * decode as ADDs) does not use up the branch targets' turn. */
        for (unsigned n = 0; n < 32 && budget; n++, budget--) {
            cs_insn *in = NULL;
            int len = vmdl__x86_decode_with(v, h, pc, &in);
            if (len <= 0)
                break;
            bool ok = insn_matches(v, in, w) && (!w->end || pc + (unsigned)len == w->end);
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
 * block hook saw it (exact), else from the stale RIP (the hook's, once a
 * precise stop has moved RIP past the instruction). */
uint64_t vmdl__x86_locate_port(struct vmdl_vcpu *v, const struct locate_want *w)
{
    struct x86_vcpu *x = X86(v);
    uint64_t at = x->stop_block ? vmdl__x86_locate_insn(v, x->stop_block, w) : 0;
    if (!at && x->io_precise)
        at = vmdl__x86_locate_insn(v, x->io_from, w);
    return at ? at : vmdl__x86_locate_insn(v, rd(v, UC_X86_REG_RIP), w);
}

/*
 * After a precise stop for the OUT that powered off (or reset): RIP back at
 * the OUT, the exit's instruction (it retired for the counters; the run
 * ends there).  Returns its address, or RIP as it is when it is not found.
 */
uint64_t vmdl__x86_rewind_power_off(struct vmdl_vcpu *v)
{
    uint64_t rip = rd(v, UC_X86_REG_RIP);
    if (!X86(v)->io_precise)
        return rip;
    struct locate_want w = {.io = true, .is_write = true, .port = X86(v)->stop_port,
                            .end = rip};
    uint64_t at = vmdl__x86_locate_port(v, &w);
    if (!at)
        return rip;
    wr(v, UC_X86_REG_RIP, at);
    return at;
}

/* What the completion needs to know of the instruction at `at`: string
 * (one element per exit), REP, address size. */
static void note_insn(struct vmdl_vcpu *v, uint64_t at)
{
    struct x86_vcpu *x = X86(v);
    cs_insn *in = NULL;
    x->io_string = x->io_rep = false;
    x->io_asz = 8;
    int len = vmdl__x86_decode_with(v, vmdl__x86_cs(v), at, &in);
    if (len <= 0)
        return;
    v->pending_len = (unsigned)len;
    switch (in->id) {
    case X86_INS_INSB: case X86_INS_INSW: case X86_INS_INSD:
    case X86_INS_OUTSB: case X86_INS_OUTSW: case X86_INS_OUTSD:
        x->io_string = true;
        x->io_rep = in->detail->x86.prefix[0] == X86_PREFIX_REP ||
                    in->detail->x86.prefix[0] == X86_PREFIX_REPNE;
        x->io_asz = in->detail->x86.addr_size;
        break;
    default:
        break;
    }
    cs_free(in, 1);
}

/* After an I/O exit's stop: back to the registers at the IN/OUT (or the
 * INS/OUTS element), RIP at it. */
bool vmdl__x86_rewind_io_exit(struct vmdl_vcpu *v)
{
    uint64_t next = X86(v)->io_precise ? rd(v, UC_X86_REG_RIP) : 0;
    uc_context_restore(v->uc, X86(v)->io_ctx);
    struct locate_want w = {.io = true, .is_write = v->exit.u.io.is_write,
                            .port = v->exit.u.io.port, .size = v->exit.u.io.size,
                            .end = next};
    uint64_t at = vmdl__x86_locate_port(v, &w);
    if (!at)
        return false;
    wr(v, UC_X86_REG_RIP, at);
    v->pending_len = 0;
    note_insn(v, at);
    return v->pending_len != 0;
}

static uint64_t asz_mask(unsigned asz)
{
    return asz >= 8 ? ~0ull : asz == 4 ? 0xFFFFFFFFull : 0xFFFFull;
}

/* A pointer or count register of a string instruction moved within its
 * address size (a 32-bit result clears bits 63:32, a 16-bit one keeps
 * them, as a write of that size does). */
static void write_asz(struct vmdl_vcpu *v, int reg, unsigned asz, uint64_t val)
{
    uint64_t m = asz_mask(asz);
    wr(v, reg, asz == 2 ? (rd(v, reg) & ~m) | (val & m) : val & m);
}

/*
 * Complete the IN/OUT an exit stopped at: an IN's value to AL/AX/EAX, and
 * RIP past it.  INS/OUTS exit once per element: the element's store (INS)
 * and pointer step (DF), and with REP the count; the instruction stays at
 * RIP until the count reaches 0.  Each element retires once, as each REP
 * iteration is counted when it runs in the engine.
 */
void vmdl__x86_complete_io(struct vmdl_vcpu *v, uint64_t value, bool in)
{
    struct x86_vcpu *x = X86(v);
    unsigned size = v->pending_size;
    if (!x->io_string) {
        if (in)
            vmdl__x86_write_gpr_sized(v, 0, (int)size, false, value);
        vmdl__x86_retire(v, v->pending_len);
        return;
    }
    int ptr = in ? UC_X86_REG_RDI : UC_X86_REG_RSI;
    uint64_t m = asz_mask(x->io_asz), p = rd(v, ptr) & m;
    if (in) {
        uint32_t le = (uint32_t)value;      /* (a little-endian host) */
        uc_mem_write(v->uc, p, &le, size);
    }
    bool down = rd(v, UC_X86_REG_RFLAGS) & (1u << 10);
    write_asz(v, ptr, x->io_asz, down ? p - size : p + size);
    if (x->io_rep) {
        uint64_t count = (rd(v, UC_X86_REG_RCX) - 1) & m;
        write_asz(v, UC_X86_REG_RCX, x->io_asz, count);
        if (count) {
            vmdl__insns_add(v, 1);
            return;
        }
    }
    vmdl__x86_retire(v, v->pending_len);
}

/*
 * The engine's DR7 with the I/O breakpoint, loaded by a MOV to DR7 at CPL0
 * (QEMU compiles the I/O-breakpoint check into blocks only for a DR7 its
 * own helper installed), then one armed OUT to check that the stop comes
 * right after it: a start-up self-check, as for the exception state.
 */
int vmdl__x86_io_setup(struct vmdl_vcpu *v)
{
    static const uint8_t code[] = {
        0x48, 0xB8, (uint8_t)X86_IO_STOP_DR7, (uint8_t)(X86_IO_STOP_DR7 >> 8),
        (uint8_t)(X86_IO_STOP_DR7 >> 16), 0, 0, 0, 0, 0,  /* mov rax, DR7 value */
        0x0F, 0x23, 0xF8,                                 /* mov dr7, rax */
        0xE6, 0x80,                                       /* out 0x80, al */
        0xF4 };                                           /* hlt */
    struct x86_vcpu *x = X86(v);
    uc_mem_write(v->uc, HIDDEN_IOSTOP, code, sizeof(code));
    wr(v, UC_X86_REG_DR0, X86_IO_STOP_IDLE);
    v->stop = STOP_NONE;
    x->io_precise = false;
    x->io_calib = true;
    uc_emu_start(v->uc, HIDDEN_IOSTOP, 0, 0, 0);
    x->io_calib = false;
    bool ok = x->io_precise && !x->io_armed &&
              rd(v, UC_X86_REG_RIP) == HIDDEN_IOSTOP + sizeof(code) - 1 &&
              rd(v, UC_X86_REG_DR7) == X86_IO_STOP_DR7;
    v->stop = STOP_NONE;
    x->io_precise = false;
    if (!ok)
        return vmdl_fail(VMDL_EBACKEND, "x86 vCPU %u: the engine did not stop right "
                         "after an OUT with an I/O breakpoint armed (Unicorn changed?)",
                         v->index);
    return VMDL_OK;
}
