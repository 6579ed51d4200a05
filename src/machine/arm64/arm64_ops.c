/* SPDX-License-Identifier: MIT */
/*
 * The arm64 implementation of the architecture interface (arch_ops.h):
 * register table and access, interrupts, faults, checkpoint words.
 */
#include <string.h>

#include "arm64.h"
#include "virtmodel/error.h"

#define R(n) {VMDL_ARM64_X0 + n, "x" #n, UC_ARM64_REG_X##n}

/* Register ids in API order (contiguous: vmdl__arch_reg indexes by id). */
static const struct vmdl_arch_reg arm64_regs[] = {
    R(0), R(1), R(2), R(3), R(4), R(5), R(6), R(7), R(8), R(9), R(10),
    R(11), R(12), R(13), R(14), R(15), R(16), R(17), R(18), R(19), R(20),
    R(21), R(22), R(23), R(24), R(25), R(26), R(27), R(28), R(29), R(30),
    {VMDL_ARM64_SP, "sp", UC_ARM64_REG_SP},
    {VMDL_ARM64_PC, "pc", UC_ARM64_REG_PC},
    {VMDL_ARM64_PSTATE, "cpsr", UC_ARM64_REG_PSTATE},
    {VMDL_ARM64_VBAR_EL1, "vbar_el1", UC_ARM64_REG_VBAR_EL1},
    {VMDL_ARM64_ELR_EL1, "elr_el1", UC_ARM64_REG_ELR_EL1},
    {VMDL_ARM64_SPSR_EL1, "spsr_el1", REG_SPSR_EL1},
    {VMDL_ARM64_ESR_EL1, "esr_el1", UC_ARM64_REG_ESR_EL1},
    {VMDL_ARM64_SCTLR_EL1, "sctlr_el1", REG_SCTLR_EL1},
    {VMDL_ARM64_TCR_EL1, "tcr_el1", REG_TCR_EL1},
    {VMDL_ARM64_TTBR0_EL1, "ttbr0_el1", UC_ARM64_REG_TTBR0_EL1},
    {VMDL_ARM64_TTBR1_EL1, "ttbr1_el1", UC_ARM64_REG_TTBR1_EL1},
    {VMDL_ARM64_MAIR_EL1, "mair_el1", UC_ARM64_REG_MAIR_EL1},
    {VMDL_ARM64_FAR_EL1, "far_el1", UC_ARM64_REG_FAR_EL1},
    {VMDL_ARM64_SP_EL0, "sp_el0", UC_ARM64_REG_SP_EL0},
    {VMDL_ARM64_SP_EL1, "sp_el1", UC_ARM64_REG_SP_EL1},
    {VMDL_ARM64_TPIDR_EL1, "tpidr_el1", UC_ARM64_REG_TPIDR_EL1},
    {VMDL_ARM64_CPACR_EL1, "cpacr_el1", UC_ARM64_REG_CPACR_EL1},
};

static int get_reg(struct vmdl_vcpu *v, enum vmdl_reg reg, uint64_t *val)
{
    const struct vmdl_arch_reg *r = vmdl__arch_reg(&vmdl__arm64_ops, reg);
    if (!r)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vcpu_get_reg: %d is not an arm64 "
                         "register", (int)reg);
    return vmdl__arm64_reg_read(v, r->uc, val) == 0
               ? VMDL_OK
               : vmdl_fail(VMDL_EBACKEND, "vmdl_vcpu_get_reg: uc_reg_read failed");
}

static int set_reg(struct vmdl_vcpu *v, enum vmdl_reg reg, uint64_t val)
{
    const struct vmdl_arch_reg *r = vmdl__arch_reg(&vmdl__arm64_ops, reg);
    if (!r)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vcpu_set_reg: %d is not an arm64 "
                         "register", (int)reg);
    return vmdl__arm64_reg_write(v, r->uc, val) == 0
               ? VMDL_OK
               : vmdl_fail(VMDL_EBACKEND, "vmdl_vcpu_set_reg: uc_reg_write failed");
}

/* RAM may not cover the PL011, and ends where QEMU's virt machine ends RAM
 * (256 GiB: its high device regions follow).  Above 4 GiB is fine: with a
 * 1 GiB base, a 4 GiB guest ends at 0x140000000. */
#define ARM64_RAM_END 0x4000000000ull

static int check_layout(uint64_t base, uint64_t size, uint64_t *low)
{
    *low = size;   /* one range */
    if (base < VMDL_ARM64_PL011_BASE + 0x1000 && base + size > VMDL_ARM64_PL011_BASE)
        return vmdl_fail(VMDL_ERANGE, "vmdl_vm_create: arm64 RAM overlaps the "
                         "PL011 at 0x09000000");
    if (base + size > ARM64_RAM_END)
        return vmdl_fail(VMDL_ERANGE, "vmdl_vm_create: arm64 RAM would end past "
                         "256 GiB (0x%llx + 0x%llx)", (unsigned long long)base,
                         (unsigned long long)size);
    return VMDL_OK;
}

static void vcpu_free(struct vmdl_vcpu *v)
{
    struct arm64_vcpu *a = (struct arm64_vcpu *)v;
    if (a->ctx)
        uc_context_free(a->ctx);
    a->ctx = NULL;
}

/* The IRQ line (no irqchip): the vector has no meaning on arm64. */
static int inject_irq(struct vmdl_vcpu *v, unsigned vector)
{
    (void)vector;
    v->irq_line = true;
    return VMDL_OK;
}

/* WFI wakes on an asserted interrupt whatever PSTATE.I says. */
static bool can_wake(struct vmdl_vcpu *v)
{
    return vmdl__irq_asserted(v);
}

static bool irq_window_open(struct vmdl_vcpu *v)
{
    return !(vmdl__arm64_rd(v, UC_ARM64_REG_PSTATE) & PSTATE_I);
}

static bool fault_valid(vmdl_fault f)
{
    return f == VMDL_FAULT_UNDEF || f == VMDL_FAULT_SYSREG_TRAP;
}

/* A trap of the MSR/MRS/SYS at PC carries that access's syndrome; raised
 * on any other instruction it is an UNDEF. */
static int raise_fault(struct vmdl_vcpu *v, vmdl_fault f)
{
    uint64_t pc = vmdl__arm64_rd(v, UC_ARM64_REG_PC);
    struct vmdl_sysreg_access a;
    if (f == VMDL_FAULT_SYSREG_TRAP &&
        vmdl__arm64_decode_sysreg(vmdl__arm64_insn_at(v, pc), &a))
        return vmdl__arm64_deliver_sync(v, pc, vmdl__arm64_sysreg_esr(&a));
    return vmdl__arm64_deliver_undef(v, pc);
}

/* A synchronous exception (ESR in error_code) or an asynchronous one, at
 * vector offset 0x000 / 0x080 / 0x100 / 0x180 of the current-EL group. */
static int deliver_exception(struct vmdl_vcpu *v, const struct vmdl_arch_event *ev)
{
    vmdl__arm64_take_exception(v, ev->return_pc, ev->vector, ev->has_error,
                               (uint32_t)ev->error_code);
    return VMDL_OK;
}

/* The MMU is off: addresses are physical. */
/* TCR_EL1's granule field as log2 of the page size (TG0 and TG1 number
 * them differently; Arm ARM D17.2.131). */
static unsigned granule_shift(bool hi, unsigned tg)
{
    if (hi)
        return tg == 1 ? 14 : tg == 3 ? 16 : 12;
    return tg == 1 ? 16 : tg == 2 ? 14 : 12;
}

/*
 * Stage 1 of the EL1&0 regime as the guest set it up, for debugger
 * accesses: the MMU off is the identity; on, a walk of TTBR0/TTBR1 with the
 * TCR_EL1 size and granule (48-bit output addresses, no permission checks,
 * no access-flag updates).
 */
static int translate(struct vmdl_vcpu *v, uint64_t va, uint64_t *pa)
{
    uint64_t sctlr = 0, tcr = 0, ttbr = 0;
    vmdl__arm64_reg_read(v, REG_SCTLR_EL1, &sctlr);
    if (!(sctlr & 1)) {
        *pa = va;
        return VMDL_OK;
    }
    vmdl__arm64_reg_read(v, REG_TCR_EL1, &tcr);
    bool hi = (va >> 55) & 1;
    unsigned tsz = (unsigned)(hi ? (tcr >> 16) : tcr) & 63;
    unsigned gs = granule_shift(hi, (unsigned)(hi ? (tcr >> 30) : (tcr >> 14)) & 3);
    bool tbi = (tcr >> (hi ? 38 : 37)) & 1, epd = (tcr >> (hi ? 23 : 7)) & 1;
    unsigned bits = 64 - (tsz < 16 ? 16 : tsz);
    uint64_t top = (tbi ? va << 8 >> 8 : va) >> bits;
    uint64_t want = hi ? (tbi ? 0xFFFFFFFFFFFFFFull : ~0ull) >> bits : 0;
    if (epd || top != want)
        return VMDL_ENOENT;
    vmdl__arm64_reg_read(v, hi ? UC_ARM64_REG_TTBR1_EL1 : UC_ARM64_REG_TTBR0_EL1, &ttbr);
    const uint64_t oa_mask = 0x0000FFFFFFFFF000ull;
    unsigned stride = gs - 3;
    uint64_t table = ttbr & 0x0000FFFFFFFFFFFEull;
    for (int level = 3 - (int)((bits - 1 - gs) / stride); level <= 3; level++) {
        unsigned shift = gs + stride * (unsigned)(3 - level);
        unsigned width = bits - shift < stride ? bits - shift : stride;
        uint64_t desc = 0, idx = (va >> shift) & ((1ull << width) - 1);
        if (uc_mem_read(v->uc, table + idx * 8, &desc, 8) != UC_ERR_OK || !(desc & 1))
            return VMDL_ENOENT;
        if (level == 3 || !(desc & 2)) {   /* a page, or a block */
            if (level == 3 && !(desc & 2))
                return VMDL_ENOENT;
            uint64_t size = 1ull << shift;
            *pa = (desc & oa_mask & ~(size - 1)) | (va & (size - 1));
            return VMDL_OK;
        }
        table = desc & oa_mask & ~((1ull << gs) - 1);
    }
    return VMDL_ENOENT;
}

static void disasm(struct vmdl_vcpu *v, uint64_t pc, char *buf, size_t len)
{
    uint8_t code[4];
    size_t n = vmdl__fetch(v, pc, code, 4);
    cs_insn *in = NULL;
    if (n && cs_disasm(v->vm->cs, code, n, pc, 1, &in) == 1) {
        snprintf(buf, len, "%s %s", in->mnemonic, in->op_str);
        cs_free(in, 1);
        return;
    }
    if (n == 4) {
        uint32_t w;
        memcpy(&w, code, 4);
        snprintf(buf, len, ".inst 0x%08x", w);
        return;
    }
    snprintf(buf, len, "(undecodable)");
}

/* ---------------- checkpoint words ---------------- */

/* Record layout (version 2 of the checkpoint format): X0-X28, FP, LR, SP,
 * PC, PSTATE and the EL1 system registers a guest of this machine uses,
 * then V0-V31 as two words each, then the EL1 MMU controls (cp_state_regs,
 * SCTLR_EL1 last so that the MMU comes on with its tables in place). */
static const int state_regs[] = {
    UC_ARM64_REG_X0, UC_ARM64_REG_X1, UC_ARM64_REG_X2, UC_ARM64_REG_X3,
    UC_ARM64_REG_X4, UC_ARM64_REG_X5, UC_ARM64_REG_X6, UC_ARM64_REG_X7,
    UC_ARM64_REG_X8, UC_ARM64_REG_X9, UC_ARM64_REG_X10, UC_ARM64_REG_X11,
    UC_ARM64_REG_X12, UC_ARM64_REG_X13, UC_ARM64_REG_X14, UC_ARM64_REG_X15,
    UC_ARM64_REG_X16, UC_ARM64_REG_X17, UC_ARM64_REG_X18, UC_ARM64_REG_X19,
    UC_ARM64_REG_X20, UC_ARM64_REG_X21, UC_ARM64_REG_X22, UC_ARM64_REG_X23,
    UC_ARM64_REG_X24, UC_ARM64_REG_X25, UC_ARM64_REG_X26, UC_ARM64_REG_X27,
    UC_ARM64_REG_X28, UC_ARM64_REG_X29, UC_ARM64_REG_X30,
    UC_ARM64_REG_SP, UC_ARM64_REG_PC, UC_ARM64_REG_PSTATE,
    UC_ARM64_REG_VBAR_EL1, UC_ARM64_REG_ELR_EL1, UC_ARM64_REG_ESR_EL1,
    UC_ARM64_REG_FAR_EL1, UC_ARM64_REG_SP_EL0, UC_ARM64_REG_TPIDR_EL0,
    UC_ARM64_REG_TPIDR_EL1, UC_ARM64_REG_FPCR, UC_ARM64_REG_FPSR, REG_SPSR_EL1,
};
#define NR_STATE_REGS (sizeof(state_regs) / sizeof(state_regs[0]))
#define NR_V 32

/* Order matters: SCTLR_EL1 last, so that the MMU comes on with its tables
 * in place; encodings live in vcpu.c's CP-register table. */
static const int cp_state_regs[] = {
    REG_MAIR_EL1, REG_AMAIR_EL1, REG_TTBR0_EL1, REG_TTBR1_EL1, REG_TCR_EL1,
    REG_CONTEXTIDR_EL1, REG_PAR_EL1, REG_CPACR_EL1, REG_SCTLR_EL1,
};
#define NR_CP_STATE (sizeof(cp_state_regs) / sizeof(cp_state_regs[0]))

static void save_state(struct vmdl_vcpu *v, struct vmdl_blob_writer *w)
{
    for (unsigned i = 0; i < NR_STATE_REGS; i++)
        vmdl_blob_put_u64(w, vmdl__arm64_rd(v, state_regs[i]));
    for (int i = 0; i < NR_V; i++) {
        uint64_t x[2] = {0, 0};
        uc_reg_read(v->uc, UC_ARM64_REG_V0 + i, x);
        vmdl_blob_put_u64(w, x[0]);
        vmdl_blob_put_u64(w, x[1]);
    }
    for (unsigned i = 0; i < NR_CP_STATE; i++) {
        uint64_t val = 0;
        vmdl__arm64_reg_read(v, cp_state_regs[i], &val);
        vmdl_blob_put_u64(w, val);
    }
}

static void load_state(struct vmdl_blob_reader *r, uint64_t *words)
{
    for (unsigned i = 0; i < NR_STATE_REGS + 2 * NR_V + NR_CP_STATE; i++)
        words[i] = vmdl_blob_get_u64(r);
}

static void apply_state(struct vmdl_vcpu *v, const uint64_t *words)
{
    for (unsigned i = 0; i < NR_STATE_REGS; i++)
        vmdl__arm64_wr(v, state_regs[i], words[i]);
    for (int i = 0; i < NR_V; i++)
        uc_reg_write(v->uc, UC_ARM64_REG_V0 + i, &words[NR_STATE_REGS + 2 * i]);
    for (unsigned i = 0; i < NR_CP_STATE; i++)
        vmdl__arm64_reg_write(v, cp_state_regs[i],
                              words[NR_STATE_REGS + 2 * NR_V + i]);
    v->count_users = 0; /* models re-derive who counts when they load */
}

const struct vmdl_arch_ops vmdl__arm64_ops = {
    .arch = VMDL_ARCH_ARM64,
    .vcpu_size = sizeof(struct arm64_vcpu),
    .default_ram_base = VMDL_ARM64_RAM_BASE,
    .cs_arch = CS_ARCH_ARM64,
    .cs_mode = CS_MODE_ARM,
    .pc_reg = VMDL_ARM64_PC,
    .exact_events = true,
    .check_layout = check_layout,
    .vm_init = NULL,
    .vcpu_init = vmdl__arm64_vcpu_init,
    .vcpu_reset = vmdl__arm64_vcpu_reset,
    .vcpu_free = vcpu_free,
    .run = vmdl__arm64_run,
    .complete = vmdl__arm64_complete,
    .fault_valid = fault_valid,
    .raise_fault = raise_fault,
    .deliver_exception = deliver_exception,
    .inject_irq = inject_irq,
    .inject_nmi = NULL,
    .can_wake = can_wake,
    .irq_window_open = irq_window_open,
    .regs = arm64_regs,
    .nr_regs = sizeof(arm64_regs) / sizeof(arm64_regs[0]),
    .get_reg = get_reg,
    .set_reg = set_reg,
    .translate = translate,
    .disasm = disasm,
    .insn_is_shadow = NULL,
    .save_state = save_state,
    .load_state = load_state,
    .apply_state = apply_state,
};
