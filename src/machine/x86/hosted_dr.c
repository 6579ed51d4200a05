/* SPDX-License-Identifier: MIT */
/*
 * Debug registers of the hosted x86 vCPU.  Every MOV to or from DR0-DR7 is
 * intercepted and the registers live here, never in the engine: a DR7
 * write reaching QEMU's helper inside Unicorn 2.1.1 arms its breakpoint
 * machinery, and the process then dies with SIGSEGV in translated code
 * (measured with kvm-unit-tests' debug test, docs/unicorn.md).  The engine
 * runs with DR7 = 0x400 and DR0-DR3 at a non-canonical address, so QEMU
 * never matches a breakpoint.  Single-step (RFLAGS.TF) stays QEMU's; the
 * DR6.BS it sets is folded into the virtual DR6 when the #DB is
 * intercepted.
 *
 * The rules are KVM's kvm_set_dr/kvm_get_dr (x86.c) and its #DB payload
 * handling, which follow the SDM (vol. 3, 18.2):
 *  - DR4/DR5 alias DR6/DR7 while CR4.DE is clear, else #UD;
 *  - writing bits 63:32 of DR6/DR7 is #GP; DR6 keeps its volatile bits
 *    (B0-B3, BD, BS, BT; RTM and bus-lock only with those features) and
 *    reads every other bit as 1; DR7 keeps 0xFFFF2BFF, bit 10 reads 1;
 *  - DR7.GD: any MOV DR is a fault-like #DB with DR6.BD set; delivering a
 *    #DB clears DR7.GD.
 * DR0-DR3 breakpoints are matched here with Unicorn hooks, installed only
 * while DR7 enables one (SDM vol. 3, 18.2.4 and 18.3.1):
 *  - an instruction breakpoint (R/W 00) is a code hook on its linear
 *    address: a fault-like #DB before the instruction, skipped while
 *    RFLAGS.RF is set (the handler sets RF in its frame to go on);
 *  - a data breakpoint (R/W 01 writes, 11 reads or writes; LEN 1, 2, 4 or
 *    8 bytes, aligned) is a memory hook that notes the match and a code
 *    hook at every instruction boundary that raises the trap-like #DB after
 *    the accessing instruction; after MOV SS / POP SS it waits one more
 *    instruction, and a #DB or software interrupt that instruction raises
 *    carries it (SDM vol. 3, 6.8.3);
 *  - DR6 B0-B3 report the matches, the other DR6 bits stay as they were.
 * Any memory hook makes Unicorn take its slow path for every access, which
 * is why the hooks exist only while a data breakpoint is enabled.  I/O
 * breakpoints (R/W 10) are not matched.
 */
#include <stdio.h>

#include "hosted.h"

#define DR6_ACTIVE_LOW 0xFFFF0FF0ull
#define DR6_VOLATILE 0x0001E80Full
#define DR6_TRAP_BITS 0xFull
#define DR6_BUS_LOCK (1ull << 11)
#define DR6_BD (1ull << 13)
#define DR6_BS (1ull << 14)
#define DR6_RTM (1ull << 16)
#define DR7_FIXED_1 0x400ull
#define DR7_VOLATILE 0xFFFF2BFFull
#define DR7_GD (1ull << 13)
#define CR4_DE (1ull << 3)
#define RFLAGS_TF (1ull << 8)
/* Where the engine's DR0-DR3 point: no instruction ever sits there. */
#define DR_NOWHERE 0x8000000000000000ull

/* The DR6 bits that read as 1 whatever is written (KVM's kvm_dr6_fixed). */
static uint64_t dr6_fixed(struct vmdl_vcpu *v)
{
    uint64_t fixed = DR6_ACTIVE_LOW & ~DR6_VOLATILE;
    if (!vmdl__x86_cpuid_has(v->vm, 7, 1, 11))          /* RTM */
        fixed |= DR6_RTM;
    if (!vmdl__x86_cpuid_has(v->vm, 7, 2, 24))          /* BUS_LOCK_DETECT */
        fixed |= DR6_BUS_LOCK;
    return fixed;
}

/* ---- breakpoint matching ------------------------------------------------ */

#define DR7_RF (1ull << 16)
#define BP_EXEC 0
#define BP_IO 2

static unsigned bp_rw(uint64_t dr7, unsigned n) { return (dr7 >> (16 + 4 * n)) & 3; }
static bool bp_on(uint64_t dr7, unsigned n) { return (dr7 >> (2 * n)) & 3; }

static uint64_t bp_len(uint64_t dr7, unsigned n)
{
    static const uint8_t len[4] = { 1, 2, 8, 4 };     /* LEN 00, 01, 10, 11 */
    return len[(dr7 >> (18 + 4 * n)) & 3];
}

static bool private_code(uint64_t addr) { return addr >= H_BASE && addr < H_BASE + H_SIZE; }

static void stop_hit(uc_engine *uc, struct vmdl_vcpu *v)
{
    if (v->stop == STOP_NONE || v->stop == STOP_KICK) {
        v->stop = STOP_INTR;
        v->stop_vector = EXCP_DEBUG_HIT;
    }
    uc_emu_stop(uc);
}

/* Before the instruction at addr: a fault-like #DB unless RF is set. */
static void bp_code_cb(uc_engine *uc, uint64_t addr, uint32_t size, void *user)
{
    struct vmdl_vcpu *v = user;
    struct x86_vcpu *x = X86(v);
    (void)size;
    uint8_t hit = 0;
    for (unsigned n = 0; n < 4; n++)
        if (x->h_bp_hook[n] && x->h_db[n] == addr)
            hit |= (uint8_t)(1u << n);
    if (!hit || private_code(addr) || (rd(v, UC_X86_REG_RFLAGS) & DR7_RF))
        return;
    x->h_bp_hit = hit;
    stop_hit(uc, v);
}

static void wp_mem_cb(uc_engine *uc, uc_mem_type type, uint64_t addr, int size,
                      int64_t value, void *user)
{
    struct vmdl_vcpu *v = user;
    struct x86_vcpu *x = X86(v);
    (void)uc;
    (void)value;
    for (unsigned n = 0; n < 4; n++) {
        unsigned rw = bp_rw(x->h_dr7, n);
        if (!bp_on(x->h_dr7, n) || rw == BP_EXEC || rw == BP_IO ||
            (rw == 1 && type != UC_MEM_WRITE))
            continue;
        uint64_t len = bp_len(x->h_dr7, n), base = x->h_db[n] & ~(len - 1);
        if (addr < base + len && base < addr + (uint64_t)size)
            x->h_wp_hit |= (uint8_t)(1u << n);
    }
}

/* MOV SS or POP SS at la: debug exceptions wait one more instruction. */
static bool loads_ss(struct vmdl_vcpu *v, uint64_t la)
{
    uint8_t b[15];
    if (!vmdl__x86h_lin_rw(v, la, b, sizeof(b), false))
        return false;
    unsigned n = 0;
    while (n < 14 && (b[n] == 0x66 || b[n] == 0x67 || b[n] == 0x2E || b[n] == 0x36 ||
                      b[n] == 0x3E || b[n] == 0x26 || b[n] == 0x64 || b[n] == 0x65 ||
                      b[n] == 0xF2 || b[n] == 0xF3 || (b[n] & 0xF0) == 0x40))
        n++;
    return b[n] == 0x17 || (b[n] == 0x8E && ((b[n + 1] >> 3) & 7) == 2);
}

/* Every instruction boundary while a data breakpoint is enabled: the
 * previous instruction's matches become a trap-like #DB here. */
static void wp_step_cb(uc_engine *uc, uint64_t addr, uint32_t size, void *user)
{
    struct vmdl_vcpu *v = user;
    struct x86_vcpu *x = X86(v);
    (void)size;
    if (private_code(addr))
        return;
    uint64_t prev = x->h_wp_prev;
    x->h_wp_prev = addr;
    if (x->h_wp_hit && !loads_ss(v, prev))
        stop_hit(uc, v);
}

static void unhook(struct vmdl_vcpu *v, uc_hook *h)
{
    if (*h)
        uc_hook_del(v->uc, *h);
    *h = 0;
}

/* Install the hooks DR7 and DR0-DR3 ask for; translated code is dropped,
 * as hooks are compiled into it.  Once a code hook existed, a stop before a
 * block leaves a stale PC until Unicorn drops the deleted hook at the end
 * of its next run (HOOK_EXISTS sees it until then): the loop must put the
 * PC back itself (code_hooks, insn_count.c), as for the debugger's hooks
 * (at the block's linear address less CS.base, vmdl__x86_set_block_pc). */
static void rearm(struct vmdl_vcpu *v)
{
    struct x86_vcpu *x = X86(v);
    bool data = false;
    for (unsigned n = 0; n < 4; n++) {
        unhook(v, &x->h_bp_hook[n]);
        if (!bp_on(x->h_dr7, n))
            continue;
        if (bp_rw(x->h_dr7, n) == BP_EXEC) {
            uc_hook_add(v->uc, &x->h_bp_hook[n], UC_HOOK_CODE, UC_CB(bp_code_cb), v,
                        x->h_db[n], x->h_db[n]);
            v->code_hooks = true;
        }
        else if (bp_rw(x->h_dr7, n) != BP_IO)
            data = true;
    }
    if (data && !x->h_wp_mem) {
        x->h_wp_hit = 0;
        x->h_wp_prev = 0;
        uc_hook_add(v->uc, &x->h_wp_mem, UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE,
                    UC_CB(wp_mem_cb), v, 1, 0);
        uc_hook_add(v->uc, &x->h_wp_step, UC_HOOK_CODE, UC_CB(wp_step_cb), v, 1, 0);
        v->code_hooks = true;
    } else if (!data) {
        unhook(v, &x->h_wp_mem);
        unhook(v, &x->h_wp_step);
        x->h_wp_hit = 0;
    }
    uc_ctl_flush_tb(v->uc);
}

/* After a checkpoint restored DR0-DR3 and DR7: their hooks. */
void vmdl__x86h_dr_rearm(struct vmdl_vcpu *v)
{
    rearm(v);
}

void vmdl__x86h_dr_reset(struct vmdl_vcpu *v)
{
    struct x86_vcpu *x = X86(v);
    memset(x->h_db, 0, sizeof(x->h_db));
    x->h_dr6 = DR6_ACTIVE_LOW;
    x->h_dr7 = DR7_FIXED_1;
    x->h_ss_trap = false;
    x->h_bp_hit = 0;
    rearm(v);
}

/* The engine's own debug registers: nothing QEMU could match but the
 * I/O stop's breakpoint on DR0, idle until a port hook arms it (io.c). */
void vmdl__x86h_dr_disarm(struct vmdl_vcpu *v)
{
    static const int dr[4] = { UC_X86_REG_DR0, UC_X86_REG_DR1, UC_X86_REG_DR2,
                               UC_X86_REG_DR3 };
    for (unsigned i = 0; i < 4; i++)
        wr(v, dr[i], i ? DR_NOWHERE : X86_IO_STOP_IDLE);
    wr(v, UC_X86_REG_DR6, DR6_ACTIVE_LOW);
    wr(v, UC_X86_REG_DR7, X86_IO_STOP_DR7);
}

/*
 * A #DB is about to be delivered with these DR6 bits (a payload in KVM's
 * sense: active-high bits set, trap bits replaced); the delivery clears
 * DR7.GD, as the SDM says and KVM's inject_pending_event does.
 */
static int debug_exception(struct vmdl_vcpu *v, uint64_t payload, bool synthesized,
                           bool *triple)
{
    struct x86_vcpu *x = X86(v);
    /* In a nested guest the #DB may be a VM exit, which leaves DR6 as it
     * is (SDM 27.1: the payload goes to the exit qualification). */
    struct vmdl_x86_event ev = {.kind = VMDL_X86_EVENT_EXCEPTION, .vector = 1,
                                .dr6 = payload, .synthesized = synthesized};
    if (x->nested && vmdl__x86h_event(v, &ev))
        return VMDL_OK;
    x->h_dr6 = ((x->h_dr6 & ~DR6_TRAP_BITS) | DR6_ACTIVE_LOW | payload) &
               ~(1ull << 12);
    x->h_dr6 = (x->h_dr6 & DR6_VOLATILE) | dr6_fixed(v);
    x->h_dr7 &= ~DR7_GD;
    return vmdl__x86h_deliver(v, 1, false, 0, triple);
}

/* An intercepted #DB that QEMU raised (single-step): take its DR6 bits. */
int vmdl__x86h_db_exit(struct vmdl_vcpu *v, bool *triple)
{
    uint64_t engine = rd(v, UC_X86_REG_DR6);
    wr(v, UC_X86_REG_DR6, DR6_ACTIVE_LOW);
    uint64_t payload = (engine & ~DR6_ACTIVE_LOW) & DR6_VOLATILE & ~DR6_TRAP_BITS;
    vmdl__trace_exit(v, "exception", rd(v, UC_X86_REG_RIP), "#DB (single-step)");
    vmdl__x86_exit_cost(v, VMDL_XK_DB);
    return debug_exception(v, payload, false, triple);
}

static bool code64(struct vmdl_vcpu *v)
{
    return vmdl__x86h_code_bits(v) == 64;
}

static uint64_t get_dr(struct vmdl_vcpu *v, unsigned dr)
{
    struct x86_vcpu *x = X86(v);
    if (dr < 4)
        return x->h_db[dr];
    return (dr == 4 || dr == 6) ? x->h_dr6 : x->h_dr7;
}

/* DR7 bits that decide which hooks exist: enables, R/W and LEN. */
#define DR7_ARM_BITS 0xFFFF00FFull

static vmdl_fault set_dr(struct vmdl_vcpu *v, unsigned dr, uint64_t val)
{
    struct x86_vcpu *x = X86(v);
    if (dr < 4) {
        bool armed = bp_on(x->h_dr7, dr);
        x->h_db[dr] = val;
        if (armed)
            rearm(v);
        return VMDL_FAULT_NONE;
    }
    if (val >> 32)
        return VMDL_FAULT_GP;
    if (dr == 4 || dr == 6) {
        x->h_dr6 = (val & DR6_VOLATILE) | dr6_fixed(v);
    } else {
        uint64_t old = x->h_dr7;
        x->h_dr7 = (val & DR7_VOLATILE) | DR7_FIXED_1;
        if ((old ^ x->h_dr7) & DR7_ARM_BITS)
            rearm(v);
    }
    return VMDL_FAULT_NONE;
}

/* DR7 from a VM entry or exit (bits 63:32 are not loaded). */
void vmdl__x86h_set_dr7(struct vmdl_vcpu *v, uint64_t val)
{
    (void)set_dr(v, 7, val & 0xFFFFFFFFull);
}

/* MOV to/from DRn (exit codes 0x20-0x27 read, 0x30-0x37 write). */
int vmdl__x86h_dr_exit(struct vmdl_vcpu *v, unsigned code, bool *triple)
{
    bool write = code >= X_DR_WRITE;
    unsigned dr = code & 7;
    uint8_t op[3], rex;
    int pfx = vmdl__x86h_opcode_at(v, op, &rex);
    if (pfx < 0 || op[0] != 0x0F || op[1] != (write ? 0x23 : 0x21))
        return vmdl__x86h_fault(v, VMDL_FAULT_UD, triple);
    if ((dr == 4 || dr == 5) && (rd(v, UC_X86_REG_CR4) & CR4_DE))
        return vmdl__x86h_fault(v, VMDL_FAULT_UD, triple);
    if (X86(v)->h_dr7 & DR7_GD) {
        vmdl__trace_exit(v, "mov-dr", rd(v, UC_X86_REG_RIP), "DR7.GD: #DB");
        return debug_exception(v, DR6_BD, false, triple);
    }
    unsigned gpr = (op[2] & 7) | ((rex & 1) << 3);
    bool wide = code64(v);
    vmdl_fault f = VMDL_FAULT_NONE;
    if (write) {
        uint64_t val = rd(v, vmdl__x86_gpr_uc[gpr]);
        f = set_dr(v, dr, wide ? val : (uint32_t)val);
    } else {
        uint64_t val = get_dr(v, dr);
        wr(v, vmdl__x86_gpr_uc[gpr], wide ? val : (uint32_t)val);
    }
    char out[48];
    snprintf(out, sizeof(out), "dr%u %s%s", dr, write ? "written" : "read",
             f ? ": #GP" : "");
    vmdl__trace_exit(v, "mov-dr", rd(v, UC_X86_REG_RIP), out);
    if (f)
        return vmdl__x86h_fault(v, f, triple);
    vmdl__x86h_retire(v, 3 + (unsigned)pfx);
    return VMDL_OK;
}

/* Is RIP at ICEBP (INT1, F1 after prefixes)?  Unicorn 2.1.1's QEMU is
 * built without it and raises #UD there; its ICEBP intercept is kept for
 * engines that have it. */
bool vmdl__x86h_at_icebp(struct vmdl_vcpu *v)
{
    uint8_t op[3], rex;
    return vmdl__x86h_opcode_at(v, op, &rex) >= 0 && op[0] == 0xF1;
}

/* ICEBP: a trap-like #DB after the instruction; DR6 gets no status bit,
 * the trap bits are cleared as for every #DB (KVM's payload rules). */
int vmdl__x86h_icebp_exit(struct vmdl_vcpu *v, bool *triple)
{
    uint8_t op[3], rex;
    int pfx = vmdl__x86h_opcode_at(v, op, &rex);
    if (pfx < 0 || op[0] != 0xF1)
        return vmdl__x86h_fault(v, VMDL_FAULT_UD, triple);
    wr(v, UC_X86_REG_RIP, rd(v, UC_X86_REG_RIP) + 1 + (unsigned)pfx);
    vmdl__trace_exit(v, "icebp", rd(v, UC_X86_REG_RIP), "#DB");
    vmdl__x86_exit_cost(v, VMDL_XK_DB);
    uint64_t owed = X86(v)->h_wp_hit;              /* after MOV SS: one #DB */
    X86(v)->h_wp_hit = 0;
    return debug_exception(v, owed, false, triple);
}

/* After an instruction the machine emulated: the single-step trap the
 * guest's RFLAGS.TF asked for (KVM's kvm_vcpu_do_singlestep). */
int vmdl__x86h_step_trap(struct vmdl_vcpu *v, bool *triple)
{
    if (!X86(v)->h_ss_trap)
        return VMDL_OK;
    X86(v)->h_ss_trap = false;
    return debug_exception(v, DR6_BS, true, triple);
}

/* A breakpoint hook stopped the engine: RIP is at the instruction (an
 * instruction breakpoint, not executed) or after the one whose data access
 * matched. */
int vmdl__x86h_bp_exit(struct vmdl_vcpu *v, bool *triple)
{
    struct x86_vcpu *x = X86(v);
    uint64_t payload = x->h_bp_hit | x->h_wp_hit;
    x->h_bp_hit = x->h_wp_hit = 0;
    char out[32];
    snprintf(out, sizeof(out), "#DB (DR6 B 0x%x)", (unsigned)payload);
    vmdl__trace_exit(v, "breakpoint", rd(v, UC_X86_REG_RIP), out);
    vmdl__x86_exit_cost(v, VMDL_XK_DB);
    return debug_exception(v, payload, false, triple);
}

/* A software interrupt (INT n, INT3, INTO) right after MOV SS was
 * delivered; the data breakpoint the MOV SS matched is taken now, on top. */
int vmdl__x86h_wp_owed(struct vmdl_vcpu *v, bool *triple)
{
    if (!X86(v)->h_wp_hit)
        return VMDL_OK;
    return vmdl__x86h_bp_exit(v, triple);
}
