/* SPDX-License-Identifier: MIT */
/*
 * Checkpoints of hosted x86 vCPUs and of the PC platform around them (the
 * "hosted section" of a checkpoint, docs/architecture.md "Checkpoints").
 *
 * A hosted vCPU's state is QEMU's CPUX86State inside Unicorn (an SVM guest
 * of TCG: the guest's registers, its mode, the SVM intercepts QEMU copied
 * at the last VMRUN), the private pages (VMCB, host save area, permission
 * maps) and the C fields of struct x86_vcpu that the run loop depends on.
 * The engine state is taken as the bytes uc_context_save gives, the same
 * layout the start-up calibration already relies on (hosted_setup.c): the
 * section records that layout and a restore refuses another one (another
 * Unicorn build).  Two parts of those bytes are not the CPU's and are
 * never taken from a file: the uc_context header before the registers
 * (Unicorn's own bookkeeping, with a pointer) and QEMU's breakpoint
 * pointers after DR0-DR7, which the hosted vCPU leaves NULL (its debug
 * registers are virtual, hosted_dr.c; the I/O stop's DR0 inserts none).
 *
 * What is derived is rebuilt, not saved: translated code and the TLB, the
 * second stage's table (a shadow of L1's EPT, filled again on demand), the
 * C walk's mode (vmdl__x86h_walk_sync at the next run), V_IRQ (latched
 * again by the next entry's interrupt-window check), trap sites.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "hosted.h"
#include "virtmodel/blob.h"
#include "virtmodel/fw_cfg.h"

#define XH_MAGIC VMDL_BLOB_MAGIC('X', 'H', 'C', 'K')
#define XH_VERSION 2         /* 2: PDPTE registers (1: never released) */
#define XH_MEM (H_CODE - H_BASE)    /* the private data pages, not the code */

/* ---- the C fields a hosted vCPU's run depends on ------------------------ */

struct xh_field {
    size_t off, size;
    unsigned count;
    uint64_t max;                   /* 0: whatever the field holds */
};

#define XF(m, mx) {offsetof(struct x86_vcpu, m), sizeof(((struct x86_vcpu *)0)->m), 1, mx}
#define XA(m, n) {offsetof(struct x86_vcpu, m), sizeof(((struct x86_vcpu *)0)->m[0]), n, 0}
#define XB(m) XF(m, 1)

static const struct xh_field xh_fields[] = {
    XB(hosted_vmrun), XB(cpuid_events),
    XB(nested), XF(nctl.intercept, 0), XF(nctl.cr0_mask, 0), XF(nctl.cr0_shadow, 0),
    XF(nctl.cr4_mask, 0), XF(nctl.cr4_shadow, 0),
    XB(h_io_pass), XF(h_rand, 0),
    XB(h_inj.valid), XB(h_inj.has_err), XF(h_inj.type, 7), XF(h_inj.vector, 0),
    XF(h_inj.err, 0), XF(h_inj.len, 15),
    XF(h_vectoring, 0), XF(h_vectoring_err, 0),
    XF(tsc_adjust, 0), XF(misc_enable, 0), XF(debugctl, 0),
    XF(mce.mcg_status, 0), XF(mce.mcg_ctl, 0), XA(mce.bank[0], 4 * X86H_MCE_BANKS),
    XF(h_cr2, 0), XA(h_db, 4), XF(h_dr6, 0), XF(h_dr7, 0), XB(h_ss_trap),
    XF(h_bp_hit, 0xF), XF(h_wp_hit, 0xF), XF(h_wp_prev, 0),
    XA(h_kseg_sel, 2), XA(h_kseg_base, 2),
    XB(h_gif), XB(h_vtpr), XB(h_cr8w), XF(h_vtpr_val, 0xF), XB(h_emulated),
    XB(h_nmi_blocked), XB(h_nmi_second), XB(h_nmi_shadow), XB(h_iret_step),
    XB(h_desc_step), XF(h_exc_err, 0), XF(h_shadow_at, 0), XB(h_shadow_movss),
    XB(h_shadow_step), XB(h_step_next), XF(h_soft_rip, 0), XF(h_soft_len, 15),
    XB(h_not_fault), XB(npt.on),
    XB(npt.miss.pending), XF(npt.miss.gpa, 0), XB(npt.miss.write), XB(npt.miss.fetch),
    XB(npt.miss.walk), XB(npt.miss.pdpte_load), XB(npt.miss.user), XB(npt.miss.writable),
    XB(npt.miss.xd), XB(h_pdpte_on), XA(h_pdpte, 4),
    XB(h_cr2_set), XF(pkrs, 0), XB(h_counts),
};

static unsigned xh_nr_words(void)
{
    unsigned n = 0;
    for (size_t i = 0; i < VMDL_ARRAY_SIZE(xh_fields); i++)
        n += xh_fields[i].count;
    return n;
}

static uint64_t field_max(const struct xh_field *f)
{
    return f->max ? f->max : f->size >= 8 ? UINT64_MAX : (1ull << (8 * f->size)) - 1;
}

static void put_fields(struct vmdl_blob_writer *w, const struct x86_vcpu *x)
{
    for (size_t i = 0; i < VMDL_ARRAY_SIZE(xh_fields); i++)
        for (unsigned k = 0; k < xh_fields[i].count; k++) {
            uint64_t val = 0;   /* little-endian host: the low bytes */
            memcpy(&val, (const char *)x + xh_fields[i].off + k * xh_fields[i].size,
                   xh_fields[i].size);
            vmdl_blob_put_u64(w, val);
        }
}

static void get_fields(struct vmdl_blob_reader *r, uint64_t *words)
{
    unsigned n = 0;
    for (size_t i = 0; i < VMDL_ARRAY_SIZE(xh_fields); i++)
        for (unsigned k = 0; k < xh_fields[i].count; k++, n++) {
            words[n] = vmdl_blob_get_u64(r);
            if (words[n] > field_max(&xh_fields[i]))
                vmdl_blob_reject(r, "hosted vCPU field out of range");
        }
}

static void apply_fields(struct x86_vcpu *x, const uint64_t *words)
{
    unsigned n = 0;
    for (size_t i = 0; i < VMDL_ARRAY_SIZE(xh_fields); i++)
        for (unsigned k = 0; k < xh_fields[i].count; k++, n++)
            memcpy((char *)x + xh_fields[i].off + k * xh_fields[i].size, &words[n],
                   xh_fields[i].size);
}

/* ---- the engine state's layout ------------------------------------------ */

/* Where, in a saved context, QEMU's CPU state begins (its first field is
 * RAX) and where DR0-DR7 are (the breakpoint pointers follow them, then
 * old_exception, which vcpu.c's calibration found: QEMU 5.0's order). */
struct xh_layout {
    uint32_t size, env, dr;
    int32_t segs, cr_end, err, vtpr, crw;
};

static int find_bytes(const char *a, size_t size, const void *x, size_t n)
{
    int found = -1;
    for (size_t off = 0; off + n <= size; off += 4)
        if (!memcmp(a + off, x, n)) {
            if (found >= 0)
                return -1;
            found = (int)off;
        }
    return found;
}

static int layout_of(struct vmdl_vcpu *v, struct xh_layout *l)
{
    static const int drs[8] = { UC_X86_REG_DR0, UC_X86_REG_DR1, UC_X86_REG_DR2,
                                UC_X86_REG_DR3, UC_X86_REG_DR4, UC_X86_REG_DR5,
                                UC_X86_REG_DR6, UC_X86_REG_DR7 };
    const struct vmdl_x86_hosted_vm *h = v->vm->x86h;
    memset(l, 0, sizeof(*l));
    l->size = (uint32_t)uc_context_size(v->uc);
    l->segs = h->segs_off;
    l->cr_end = h->cr_end_off;
    l->err = h->err_off;
    l->vtpr = h->vtpr_off;
    l->crw = h->crw_off;
    uc_context_save(v->uc, X86(v)->ctx);
    const char *ctx = (const char *)X86(v)->ctx;
    /* RAX with an unlikely value marks where the CPU state begins. */
    uint64_t rax = rd(v, UC_X86_REG_RAX), mark = 0x5EC7A9D3C0DE1F4Bull;
    wr(v, UC_X86_REG_RAX, mark);
    uc_context_save(v->uc, X86(v)->ctx);
    int env = find_bytes(ctx, l->size, &mark, 8);
    wr(v, UC_X86_REG_RAX, rax);
    uint64_t dr[8];
    for (unsigned i = 0; i < 8; i++)
        dr[i] = rd(v, drs[i]);
    uc_context_save(v->uc, X86(v)->ctx);
    int d = find_bytes(ctx, l->size, dr, sizeof(dr));
    if (env < 0 || d < 0 || X86(v)->exc_offset != d + 64 + 32 || env >= h->segs_off)
        return vmdl_fail(VMDL_ENOTSUP, "checkpoint: the engine's state layout is not "
                         "QEMU 5.0's (registers, DR0-DR7, breakpoint pointers, "
                         "pending exception): hosted vCPUs cannot be checkpointed");
    l->env = (uint32_t)env;
    l->dr = (uint32_t)d;
    return VMDL_OK;
}

static void put_layout(struct vmdl_blob_writer *w, const struct xh_layout *l)
{
    const uint32_t words[8] = {l->size, l->env, l->dr, (uint32_t)l->segs,
                               (uint32_t)l->cr_end, (uint32_t)l->err, (uint32_t)l->vtpr,
                               (uint32_t)l->crw};
    for (unsigned i = 0; i < 8; i++)
        vmdl_blob_put_u32(w, words[i]);
}

static void get_layout(struct vmdl_blob_reader *r, struct xh_layout *l)
{
    l->size = vmdl_blob_get_u32(r);
    l->env = vmdl_blob_get_u32(r);
    l->dr = vmdl_blob_get_u32(r);
    l->segs = (int32_t)vmdl_blob_get_u32(r);
    l->cr_end = (int32_t)vmdl_blob_get_u32(r);
    l->err = (int32_t)vmdl_blob_get_u32(r);
    l->vtpr = (int32_t)vmdl_blob_get_u32(r);
    l->crw = (int32_t)vmdl_blob_get_u32(r);
}

/* The breakpoint pointers' bytes are NULL. */
static bool no_pointers(const uint8_t *ctx, const struct xh_layout *l)
{
    static const uint8_t zero[32];
    return !memcmp(ctx + l->dr + 64, zero, sizeof(zero));
}

/* ---- the PC platform ------------------------------------------------------ */

static void put_uart(struct vmdl_blob_writer *w, const struct vmdl_uart *u)
{
    vmdl_blob_put_u16(w, u->divisor);
    const uint8_t regs[7] = {u->ier, u->lcr, u->mcr, u->lsr, u->msr, u->scr, u->fcr};
    vmdl_blob_put_bytes(w, regs, sizeof(regs));
    vmdl_blob_put_u8(w, u->thr_ipending);
    vmdl_blob_put_u8(w, u->irq);
    vmdl_blob_put_bytes(w, u->rx, sizeof(u->rx));
    vmdl_blob_put_u32(w, u->rx_head);
    vmdl_blob_put_u32(w, u->rx_count);
}

static void get_uart(struct vmdl_blob_reader *r, struct vmdl_uart *u)
{
    u->divisor = vmdl_blob_get_u16(r);
    uint8_t regs[7];
    vmdl_blob_get_bytes(r, regs, sizeof(regs));
    u->ier = regs[0], u->lcr = regs[1], u->mcr = regs[2], u->lsr = regs[3];
    u->msr = regs[4], u->scr = regs[5], u->fcr = regs[6];
    uint8_t a = vmdl_blob_get_u8(r), b = vmdl_blob_get_u8(r);
    vmdl_blob_get_bytes(r, u->rx, sizeof(u->rx));
    u->rx_head = vmdl_blob_get_u32(r);
    u->rx_count = vmdl_blob_get_u32(r);
    if (a > 1 || b > 1 || u->rx_head >= VMDL_UART_FIFO || u->rx_count > VMDL_UART_FIFO)
        vmdl_blob_reject(r, "COM1 state out of range");
    u->thr_ipending = a;
    u->irq = b;
}

static void put_pit(struct vmdl_blob_writer *w, const struct vmdl_pit *p)
{
    for (unsigned i = 0; i < 3; i++) {
        const struct vmdl_pit_channel *c = &p->ch[i];
        vmdl_blob_put_u32(w, c->count);
        vmdl_blob_put_u64(w, c->load_time);
        vmdl_blob_put_u16(w, c->latched);
        const uint8_t b[11] = {c->count_latched, c->status, c->status_latched, c->mode,
                               c->rw_mode, c->bcd, c->read_state, c->write_state,
                               c->write_latch, c->null_count, c->gate};
        vmdl_blob_put_bytes(w, b, sizeof(b));
    }
    vmdl_blob_put_u8(w, p->speaker);
}

static void get_pit(struct vmdl_blob_reader *r, struct vmdl_pit *p)
{
    for (unsigned i = 0; i < 3; i++) {
        struct vmdl_pit_channel *c = &p->ch[i];
        c->count = vmdl_blob_get_u32(r);
        c->load_time = vmdl_blob_get_u64(r);
        c->latched = vmdl_blob_get_u16(r);
        uint8_t b[11];
        vmdl_blob_get_bytes(r, b, sizeof(b));
        if (c->count > 0x10000 || b[0] > 3 || b[2] > 1 || b[3] > 5 || b[4] > 3 ||
            b[5] > 1 || b[6] > 3 || b[7] > 3 || b[9] > 1 || b[10] > 1)
            vmdl_blob_reject(r, "PIT state out of range");
        c->count_latched = b[0], c->status = b[1], c->status_latched = b[2] & 1;
        c->mode = b[3], c->rw_mode = b[4], c->bcd = b[5], c->read_state = b[6];
        c->write_state = b[7], c->write_latch = b[8];
        c->null_count = b[9] & 1, c->gate = b[10] & 1;
    }
    uint8_t s = vmdl_blob_get_u8(r);
    if (s > 1)
        vmdl_blob_reject(r, "PIT state out of range");
    p->speaker = s & 1;
}

/* A model's own export as a nested blob. */
static int put_export(struct vmdl_blob_writer *w, int err, uint8_t *b, size_t n)
{
    if (!err)
        vmdl_blob_put_blob(w, b, n);
    free(b);
    return err;
}

static int put_rtc_pic(struct vmdl_blob_writer *w, const struct vmdl_x86_hosted_vm *h)
{
    uint8_t *b = NULL;
    size_t n = 0;
    int err = vmdl_rtc_export(&h->rtc, &b, &n);
    if ((err = put_export(w, err, b, n)))
        return err;
    b = NULL;
    err = vmdl_pic8259_export(&h->pic, &b, &n);
    return put_export(w, err, b, n);
}

/* The platform as staged (the exported models checked by importing them
 * into copies). */
struct xh_pc {
    struct vmdl_uart com1;
    struct vmdl_acpi_pm pm;
    struct vmdl_rtc rtc;
    struct vmdl_pic8259 pic;
    struct vmdl_pit pit;
    uint64_t rtc_now, pit_now;
    bool irq8, irq0, fw_lapic;
    uint16_t fw_key;
    uint32_t fw_offset;
    const uint8_t *testdev;
    size_t testdev_len;
};

static int put_pc(struct vmdl_blob_writer *w, struct vmdl_vm *vm)
{
    struct vmdl_x86_hosted_vm *h = vm->x86h;
    vmdl_blob_put_u8(w, h->pc_devices);
    if (!h->pc_devices)
        return VMDL_OK;
    put_uart(w, &h->com1);
    vmdl_blob_put_u16(w, h->pm.sts);
    vmdl_blob_put_u16(w, h->pm.en);
    vmdl_blob_put_u16(w, h->pm.cnt);
    vmdl_blob_put_u64(w, h->pm.tmr_base);
    int err = put_rtc_pic(w, h);
    if (err)
        return err;
    put_pit(w, &h->pit);
    vmdl_blob_put_u64(w, h->rtc_now);
    vmdl_blob_put_u64(w, h->pit_now);
    vmdl_blob_put_u8(w, h->irq8);
    vmdl_blob_put_u8(w, h->irq0);
    vmdl_blob_put_u8(w, h->fw_lapic);
    vmdl_blob_put_u16(w, h->fw_cfg ? h->fw_cfg->key : 0);
    vmdl_blob_put_u32(w, h->fw_cfg ? h->fw_cfg->offset : 0);
    return vmdl__x86_testdev_save(vm, w);
}

static void get_pc(struct vmdl_blob_reader *r, struct vmdl_vm *vm, struct xh_pc *pc)
{
    struct vmdl_x86_hosted_vm *h = vm->x86h;
    if (vmdl_blob_get_u8(r) != h->pc_devices) {
        vmdl_blob_reject(r, "taken with another set of PC devices");
        return;
    }
    if (!h->pc_devices)
        return;
    pc->com1 = h->com1;                 /* keeps this VM's console ops */
    get_uart(r, &pc->com1);
    pc->pm.sts = vmdl_blob_get_u16(r);
    pc->pm.en = vmdl_blob_get_u16(r);
    pc->pm.cnt = vmdl_blob_get_u16(r);
    pc->pm.tmr_base = vmdl_blob_get_u64(r);
    const uint8_t *b;
    size_t n;
    vmdl_blob_get_blob(r, &b, &n);
    pc->rtc = h->rtc;
    if (!r->err && vmdl_rtc_import(&pc->rtc, b, n))
        vmdl_blob_reject(r, "RTC state refused");
    vmdl_blob_get_blob(r, &b, &n);
    pc->pic = h->pic;
    if (!r->err && vmdl_pic8259_import(&pc->pic, b, n))
        vmdl_blob_reject(r, "8259 state refused");
    get_pit(r, &pc->pit);
    pc->rtc_now = vmdl_blob_get_u64(r);
    pc->pit_now = vmdl_blob_get_u64(r);
    uint8_t f[3];
    vmdl_blob_get_bytes(r, f, sizeof(f));
    if (f[0] > 1 || f[1] > 1 || f[2] > 1)
        vmdl_blob_reject(r, "PC platform flags out of range");
    pc->irq8 = f[0] & 1, pc->irq0 = f[1] & 1, pc->fw_lapic = f[2] & 1;
    pc->fw_key = vmdl_blob_get_u16(r);
    pc->fw_offset = vmdl_blob_get_u32(r);
    vmdl__x86_testdev_stage(r, &pc->testdev, &pc->testdev_len);
}

static void apply_pc(struct vmdl_vm *vm, const struct xh_pc *pc)
{
    struct vmdl_x86_hosted_vm *h = vm->x86h;
    if (!h->pc_devices)
        return;
    h->com1 = pc->com1;
    h->pm = pc->pm;
    h->rtc = pc->rtc;
    h->pic = pc->pic;
    h->pit = pc->pit;
    h->rtc_now = pc->rtc_now;
    h->pit_now = pc->pit_now;
    h->irq8 = pc->irq8;
    h->irq0 = pc->irq0;
    h->fw_lapic = pc->fw_lapic;
    if (h->fw_cfg) {
        h->fw_cfg->key = pc->fw_key;
        h->fw_cfg->offset = pc->fw_offset;
    }
    vmdl__x86_testdev_apply(vm, pc->testdev, pc->testdev_len);
}

/* ---- the section ----------------------------------------------------------- */

struct xh_vcpu {
    const uint8_t *ctx, *mem;       /* into the checked section */
    uint64_t *words;
};

struct vmdl__x86h_staged {
    struct xh_pc pc;
    struct xh_layout layout;
    struct xh_vcpu *v;
    unsigned n;
};

/* What a hosted VM cannot carry across a checkpoint yet. */
static int unsupported(struct vmdl_vm *vm)
{
    if (vm->x86h->pci)
        return vmdl_fail(VMDL_ENOTSUP, "checkpoint: PCI devices (--device) of a hosted "
                         "x86 VM are not checkpointed yet");
    if (vm->x86h->sleep_ro)
        return vmdl_fail(VMDL_ENOTSUP, "checkpoint: a VM in ACPI S3 sleep is not "
                         "checkpointed");
    for (unsigned i = 0; i < vm->nr_vcpus; i++)
        if (!X86(vm->vcpus[i])->hosted)
            return vmdl_fail(VMDL_ENOTSUP, "checkpoint: a VM with hosted and "
                             "deprivileged vCPUs together");
    return VMDL_OK;
}

static void put_vcpu(struct vmdl_blob_writer *w, struct vmdl_vcpu *v,
                     const struct xh_layout *l)
{
    uc_context_save(v->uc, X86(v)->ctx);
    const uint8_t *ctx = (const uint8_t *)X86(v)->ctx;
    vmdl_blob_put_blob(w, ctx + l->env, l->size - l->env);
    vmdl_blob_put_blob(w, X86(v)->h_mem, XH_MEM);
    put_fields(w, X86(v));
}

static int hosted_save(struct vmdl_vm *vm, uint8_t **blob, size_t *len)
{
    int err = unsupported(vm);
    struct xh_layout l;
    if (err || (err = layout_of(vm->vcpus[0], &l)))
        return err;
    for (unsigned i = 0; i < vm->nr_vcpus; i++) {
        uc_context_save(vm->vcpus[i]->uc, X86(vm->vcpus[i])->ctx);
        if (!no_pointers((const uint8_t *)X86(vm->vcpus[i])->ctx, &l))
            return vmdl_fail(VMDL_ENOTSUP, "checkpoint: vCPU %u's engine holds QEMU "
                             "breakpoints (not the hosted vCPU's way)", i);
    }
    struct vmdl_blob_writer w;
    vmdl_blob_begin(&w, XH_MAGIC, XH_VERSION);
    put_layout(&w, &l);
    if ((err = put_pc(&w, vm))) {
        vmdl_blob_discard(&w);
        return err;
    }
    vmdl_blob_put_u32(&w, vm->nr_vcpus);
    for (unsigned i = 0; i < vm->nr_vcpus; i++)
        put_vcpu(&w, vm->vcpus[i], &l);
    return vmdl_blob_finish(&w, blob, len);
}

static void staged_free(struct vmdl__x86h_staged *st)
{
    if (!st)
        return;
    for (unsigned i = 0; st->v && i < st->n; i++)
        free(st->v[i].words);
    free(st->v);
    free(st);
}

static void stage_vcpu(struct vmdl_blob_reader *r, const struct xh_layout *l,
                       struct xh_vcpu *x)
{
    size_t n = 0;
    vmdl_blob_get_blob(r, &x->ctx, &n);
    if (!r->err && n != l->size - l->env)
        vmdl_blob_reject(r, "hosted vCPU engine state of the wrong size");
    /* The pointers after DR0-DR7, counted from the CPU state's start. */
    if (!r->err && !no_pointers(x->ctx - l->env, l))
        vmdl_blob_reject(r, "hosted vCPU engine state holds breakpoint pointers");
    vmdl_blob_get_blob(r, &x->mem, &n);
    if (!r->err && n != XH_MEM)
        vmdl_blob_reject(r, "hosted vCPU private pages of the wrong size");
    get_fields(r, x->words);
}

static int hosted_stage(struct vmdl_vm *vm, const uint8_t *blob, size_t len,
                        struct vmdl__x86h_staged **out)
{
    *out = NULL;
    int err = unsupported(vm);
    struct vmdl__x86h_staged *st = calloc(1, sizeof(*st));
    if (err || !st) {
        free(st);
        return err ? err : vmdl_fail(VMDL_ENOMEM, "checkpoint: out of memory");
    }
    struct vmdl_blob_reader r;
    struct xh_layout mine, l;
    if ((err = layout_of(vm->vcpus[0], &mine)) ||
        (err = vmdl_blob_open(&r, blob, len, XH_MAGIC, XH_VERSION, "hosted x86 state"))) {
        staged_free(st);
        return err;
    }
    get_layout(&r, &l);
    if (!r.err && memcmp(&l, &mine, sizeof(l)))
        vmdl_blob_reject(&r, "taken with another engine build (the saved CPU state's "
                         "layout differs from this Unicorn's)");
    get_pc(&r, vm, &st->pc);
    if (vmdl_blob_get_u32(&r) != vm->nr_vcpus && !r.err)
        vmdl_blob_reject(&r, "saved for another number of vCPUs");
    st->layout = l;
    st->n = vm->nr_vcpus;
    st->v = calloc(st->n, sizeof(*st->v));
    for (unsigned i = 0; st->v && i < st->n && !r.err; i++) {
        st->v[i].words = calloc(xh_nr_words(), sizeof(uint64_t));
        if (!st->v[i].words)
            break;
        stage_vcpu(&r, &l, &st->v[i]);
    }
    if (!r.err && (!st->v || !st->v[st->n - 1].words))
        vmdl_blob_reject(&r, "out of memory");
    if ((err = vmdl_blob_close(&r))) {
        staged_free(st);
        return err;
    }
    *out = st;
    return VMDL_OK;
}

/* The engine: this VM's context header and breakpoint pointers, the
 * checkpoint's CPU state; nothing translated or cached survives. */
static void apply_engine(struct vmdl_vcpu *v, const struct xh_layout *l, const uint8_t *ctx)
{
    uc_context_save(v->uc, X86(v)->ctx);
    uint8_t *cur = (uint8_t *)X86(v)->ctx;
    uint8_t ptrs[32];
    memcpy(ptrs, cur + l->dr + 64, sizeof(ptrs));
    memcpy(cur + l->env, ctx, l->size - l->env);
    memcpy(cur + l->dr + 64, ptrs, sizeof(ptrs));
    uc_context_restore(v->uc, X86(v)->ctx);
    uc_ctl_flush_tb(v->uc);
    uc_ctl_flush_tlb(v->uc);
}

static void apply_vcpu(struct vmdl_vcpu *v, const struct xh_layout *l,
                       const struct xh_vcpu *s)
{
    struct x86_vcpu *x = X86(v);
    apply_engine(v, l, s->ctx);
    memcpy(x->h_mem, s->mem, XH_MEM);
    apply_fields(x, s->words);
    /* The instruction count the hosted vCPU holds for its VMRUN stops
     * (apply_state counted only the TSC's). */
    if (x->h_counts)
        vmdl_vcpu_need_insn_count(v, true);
    /* Rebuilt rather than restored: V_IRQ is latched by the next entry,
     * the C walk's mode by the next run, the second stage's table page by
     * page from L1's EPT. */
    x->h_virq = false;
    if (x->h_walk) {
        uc_ctl_tlb_mode(v->uc, UC_TLB_CPU);
        x->h_walk = false;
    }
    x->h_walk_refused = x->h_walk_stub = false;
    bool npt = x->npt.on;
    (void)vmdl_vcpu_set_x86_npt(v, npt);
    (void)vmdl_vcpu_x86_npt_flush(v);
    vmdl__x86h_dr_rearm(v);
}

/* ---- struct vmdl_arch_ops ext_* ------------------------------------------- */

int vmdl__x86_ckpt_save(struct vmdl_vm *vm, uint8_t **blob, size_t *len)
{
    *blob = NULL;
    *len = 0;
    return vm->x86h ? hosted_save(vm, blob, len) : VMDL_OK;
}

int vmdl__x86_ckpt_stage(struct vmdl_vm *vm, const uint8_t *blob, size_t len,
                         void **staged)
{
    *staged = NULL;
    if (!vm->x86h && len)
        return vmdl_fail(VMDL_EINVAL, "checkpoint: taken from a VM with hosted x86 "
                         "vCPUs (a multiboot kernel); this VM has none");
    if (vm->x86h && !len)
        return vmdl_fail(VMDL_EINVAL, "checkpoint: taken from a VM without hosted x86 "
                         "vCPUs; this VM runs a multiboot kernel on them");
    if (!vm->x86h)
        return VMDL_OK;
    struct vmdl__x86h_staged *st = NULL;
    int err = hosted_stage(vm, blob, len, &st);
    *staged = st;
    return err;
}

void vmdl__x86_ckpt_apply(struct vmdl_vm *vm, const void *staged)
{
    const struct vmdl__x86h_staged *st = staged;
    if (!st)
        return;
    apply_pc(vm, &st->pc);
    for (unsigned i = 0; i < st->n; i++)
        apply_vcpu(vm->vcpus[i], &st->layout, &st->v[i]);
}

void vmdl__x86_ckpt_free(void *staged)
{
    staged_free(staged);
}
