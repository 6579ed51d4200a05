/* SPDX-License-Identifier: MIT */
/*
 * fuzz_lapic: a vmdl_lapic bus of 1-4 APICs driven by xAPIC MMIO and x2APIC
 * MSR accesses, IA32_APIC_BASE writes (guest and host), IPIs through the
 * ICR, bus and LVT deliveries, interrupt acknowledge and EOI, virtual time,
 * INIT/RESET, CR8, APICv posted interrupts and state save/load.  The bus
 * configuration (APIC count, x2APIC, TSC deadline, CMCI, directed EOI, AMD,
 * APICv, behaviour flags) comes from the first bytes.
 *
 * Invariants checked after every step, on every hardware-enabled APIC,
 * through the guest's own register interface:
 *  - PPR = TPR when TPR[7:4] >= the class of the highest ISR vector, else
 *    that class (SDM 11.8.3.1); CR8 = TPR[7:4];
 *  - no vector below 16 is ever in ISR, nor in IRR under the SDM's ESR
 *    rules (KVM, the default, accepts them into IRR: class 0, never
 *    delivered);
 *  - vmdl_lapic_pending() is the highest IRR vector whose class is above
 *    PPR's, or none; an acknowledge returns exactly that vector (or the
 *    spurious vector when there is none) and moves it from IRR to ISR;
 *  - EOI clears the highest ISR bit and nothing else in ISR;
 *  - guest accesses return only NONE, #GP or UNCLAIMED;
 *  - export -> import -> export reproduces the blob; a truncated blob is
 *    refused and leaves the APIC as it was.
 */
#include "fuzz_util.h"

#include "virtmodel/error.h"
#include "virtmodel/lapic.h"
#include "virtmodel/lapic_apicv.h"

struct run {
    struct vmdl_lapic_bus *bus;
    struct vmdl_lapic_bus_config cfg;
    unsigned n;
    unsigned hold_mask;         /* APICs whose INIT/SIPI are held */
};

static bool fz_hold(void *opaque, unsigned index)
{
    return (((struct run *)opaque)->hold_mask >> index) & 1;
}

/* Held INIT/SIPI (a VMX owner's view): which APICs hold them, then take,
 * drop or consume them; what is held never has unknown bits, and taking
 * them while allowed leaves nothing. */
static void do_held_events(struct run *r, struct vmdl_lapic *a, struct fz *f)
{
    r->hold_mask = fz_u8(f);
    unsigned k = fz_u8(f) % 3;
    bool allowed = fz_bool(f);
    if (k == 0)
        vmdl_lapic_accept_events(a, allowed);
    else if (k == 1)
        vmdl_lapic_clear_events(a, fz_u8(f) & 3u);
    uint8_t v = 0;
    unsigned ev = vmdl_lapic_pending_events(a, &v);
    FZ_TRACE("apic %u held events op %u -> 0x%x\n", vmdl_lapic_index(a), k, ev);
    FZ_CHECK(!(ev & ~(VMDL_LAPIC_EV_INIT | VMDL_LAPIC_EV_SIPI)), "unknown held events");
    FZ_CHECK(!(k == 0 && allowed && ev), "accepted events still held");
    FZ_CHECK(!(k == 0 && !allowed && (ev & VMDL_LAPIC_EV_SIPI)), "SIPI kept while blocked");
}

static struct vmdl_lapic *pick_apic(struct run *r, struct fz *f)
{
    return vmdl_lapic_bus_get(r->bus, fz_u8(f) % r->n);
}

/* A 32-bit register through the guest interface of the current mode. */
static bool greg(struct vmdl_lapic *a, unsigned off, uint32_t *v)
{
    uint64_t x = 0;
    switch (vmdl_lapic_mode(a)) {
    case VMDL_LAPIC_MODE_XAPIC:
        if (vmdl_lapic_mmio_read(a, off, 4, &x) != VMDL_FAULT_NONE)
            return false;
        break;
    case VMDL_LAPIC_MODE_X2APIC:
        if (vmdl_lapic_msr_read(a, VMDL_MSR_X2APIC_FIRST + (off >> 4), &x) !=
            VMDL_FAULT_NONE)
            return false;
        break;
    default:
        return false;
    }
    *v = (uint32_t)x;
    return true;
}

static int highest(const uint32_t reg[8])
{
    for (int i = 7; i >= 0; i--)
        if (reg[i])
            return i * 32 + 31 - __builtin_clz(reg[i]);
    return -1;
}

struct regs {
    uint32_t tpr, ppr, svr, irr[8], isr[8];
};

static bool read_regs(struct vmdl_lapic *a, struct regs *g)
{
    memset(g, 0, sizeof(*g));
    bool ok = greg(a, VMDL_LAPIC_TPR, &g->tpr) && greg(a, VMDL_LAPIC_PPR, &g->ppr) &&
              greg(a, VMDL_LAPIC_SVR, &g->svr);
    for (unsigned i = 0; ok && i < 8; i++)
        ok = greg(a, VMDL_LAPIC_IRR + 16 * i, &g->irr[i]) &&
             greg(a, VMDL_LAPIC_ISR + 16 * i, &g->isr[i]);
    return ok;
}

static int expected_pending(const struct regs *g)
{
    int v = highest(g->irr);
    if (v < 0 || ((unsigned)v & 0xF0) <= (g->ppr & 0xF0))
        return -1;
    return v;
}

static void check_apic(struct run *r, struct vmdl_lapic *a)
{
    struct regs g;
    if (!read_regs(a, &g))
        return;
    int isrv = highest(g.isr);
    uint32_t cls = isrv < 0 ? 0 : ((unsigned)isrv & 0xF0);
    uint32_t want = (g.tpr & 0xF0) >= cls ? (g.tpr & 0xFF) : cls;
    FZ_CHECK(g.ppr == want, "APIC %u: PPR 0x%x, TPR 0x%x and highest ISR %d give 0x%x",
             vmdl_lapic_index(a), g.ppr, g.tpr, isrv, want);
    FZ_CHECK(vmdl_lapic_get_cr8(a) == ((g.tpr >> 4) & 0xF), "CR8");
    FZ_CHECK(!(g.isr[0] & 0xFFFF), "APIC %u: vector < 16 in service (ISR0 0x%x)",
             vmdl_lapic_index(a), g.isr[0]);
    if (r->cfg.flags & VMDL_LAPIC_F_SDM_ESR)
        FZ_CHECK(!(g.irr[0] & 0xFFFF), "APIC %u: vector < 16 pending (IRR0 0x%x)",
                 vmdl_lapic_index(a), g.irr[0]);
    int p = vmdl_lapic_pending(a);
    FZ_CHECK(p == expected_pending(&g), "APIC %u: pending %d, IRR/PPR say %d",
             vmdl_lapic_index(a), p, expected_pending(&g));
}

static void check_all(struct run *r)
{
    for (unsigned i = 0; i < r->n; i++)
        check_apic(r, vmdl_lapic_bus_get(r->bus, i));
}

static unsigned pick_offset(struct fz *f)
{
    static const unsigned regs[] = {
        VMDL_LAPIC_ID, VMDL_LAPIC_TPR, VMDL_LAPIC_EOI, VMDL_LAPIC_LDR,
        VMDL_LAPIC_DFR, VMDL_LAPIC_SVR, VMDL_LAPIC_ESR, VMDL_LAPIC_LVT_CMCI,
        VMDL_LAPIC_ICR, VMDL_LAPIC_ICR2, VMDL_LAPIC_LVT_TIMER,
        VMDL_LAPIC_LVT_THERMAL, VMDL_LAPIC_LVT_PERF, VMDL_LAPIC_LVT_LINT0,
        VMDL_LAPIC_LVT_LINT1, VMDL_LAPIC_LVT_ERROR, VMDL_LAPIC_TMICT,
        VMDL_LAPIC_TMCCT, VMDL_LAPIC_TDCR, VMDL_LAPIC_SELF_IPI, VMDL_LAPIC_PPR,
        VMDL_LAPIC_IRR, VMDL_LAPIC_ISR + 0x70, VMDL_LAPIC_TMR + 0x10,
    };
    unsigned k = fz_u8(f);
    if (k < 200)
        return regs[k % (sizeof(regs) / sizeof(regs[0]))];
    if (k < 240)
        return (fz_u8(f) << 4) & 0xFF0;
    return fz_u16(f) & 0x1FFF; /* unaligned, or past the page */
}

static uint64_t pick_icr(struct fz *f)
{
    unsigned k = fz_u8(f);
    if (k & 1)
        return fz_value(f);
    uint64_t vec = fz_u8(f);
    uint64_t dm = (k >> 1) & 7;
    uint64_t icr = vec | dm << VMDL_LAPIC_DM_SHIFT;
    if (k & 0x10) icr |= VMDL_LAPIC_ICR_LOGICAL;
    if (k & 0x20) icr |= VMDL_LAPIC_ICR_ASSERT;
    if (k & 0x40) icr |= VMDL_LAPIC_ICR_LEVEL;
    icr |= (uint64_t)(fz_u8(f) & 3) << VMDL_LAPIC_SH_SHIFT;
    uint64_t dest = fz_u8(f);
    return icr | dest << 32 | dest << 56;
}

static void reg_write(struct vmdl_lapic *a, unsigned off, uint64_t v)
{
    if (vmdl_lapic_mode(a) == VMDL_LAPIC_MODE_X2APIC) {
        vmdl_fault fl = vmdl_lapic_msr_write(a, VMDL_MSR_X2APIC_FIRST + (off >> 4), v);
        FZ_CHECK(fl == VMDL_FAULT_NONE || fl == VMDL_FAULT_GP, "msr write fault %d", fl);
    } else {
        if (off == VMDL_LAPIC_ICR) {
            vmdl_lapic_mmio_write(a, VMDL_LAPIC_ICR2, 4, v >> 32);
        }
        vmdl_fault fl = vmdl_lapic_mmio_write(a, off, 4, (uint32_t)v);
        FZ_CHECK(fl == VMDL_FAULT_NONE || fl == VMDL_FAULT_UNCLAIMED, "mmio fault %d", fl);
    }
}

static void do_ack(struct run *r, struct vmdl_lapic *a)
{
    struct regs g;
    bool ok = read_regs(a, &g);
    int v = vmdl_lapic_ack(a);
    FZ_TRACE("ack apic %u -> %d\n", vmdl_lapic_index(a), v);
    if (!ok)
        return;
    int want = expected_pending(&g);
    if (want < 0) {
        FZ_CHECK(v == (int)(g.svr & 0xFF), "ack with nothing pending returned %d, "
                 "SVR 0x%x", v, g.svr);
        return;
    }
    FZ_CHECK(v == want, "ack returned %d, highest IRR above PPR is %d", v, want);
    struct regs h;
    FZ_CHECK(read_regs(a, &h), "registers unreadable after ack");
    FZ_CHECK((h.isr[v / 32] >> (v % 32)) & 1, "acked vector %d not in ISR", v);
    (void)r;
}

static void do_eoi(struct vmdl_lapic *a)
{
    struct regs g, h;
    bool ok = read_regs(a, &g);
    reg_write(a, VMDL_LAPIC_EOI, 0);
    FZ_TRACE("eoi apic %u\n", vmdl_lapic_index(a));
    if (!ok || !read_regs(a, &h))
        return;
    int v = highest(g.isr);
    if (v >= 0)
        g.isr[v / 32] &= ~(1u << (v % 32));
    /* An EOI may deliver nothing new into ISR. */
    FZ_CHECK(!memcmp(g.isr, h.isr, sizeof(g.isr)), "EOI left ISR wrong (ended %d)", v);
}

static void do_roundtrip(struct vmdl_lapic *a)
{
    uint8_t *x = NULL, *y = NULL;
    size_t nx = 0, ny = 0;
    FZ_CHECK(vmdl_lapic_export(a, &x, &nx) == 0, "export: %s", vmdl_last_error());
    FZ_CHECK(vmdl_lapic_import(a, x, nx) == 0, "import own blob: %s", vmdl_last_error());
    FZ_CHECK(vmdl_lapic_export(a, &y, &ny) == 0, "export 2");
    FZ_CHECK(nx == ny && !memcmp(x, y, nx), "export/import/export differs");
    free(y);
    FZ_CHECK(vmdl_lapic_import(a, x, nx - 1) != 0, "truncated blob accepted");
    FZ_CHECK(vmdl_lapic_export(a, &y, &ny) == 0, "export 3");
    FZ_CHECK(nx == ny && !memcmp(x, y, nx), "refused import changed the APIC");
    free(x);
    free(y);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f;
    fz_init(&f, data, size);
    struct run r;
    memset(&r, 0, sizeof(r));
    unsigned b0 = fz_u8(&f), b1 = fz_u8(&f);
    r.cfg.nr_apics = r.n = 1 + (b0 & 3);
    r.cfg.x2apic = !(b0 & 4);
    r.cfg.tsc_deadline = b0 & 8;
    r.cfg.cmci = b0 & 16;
    r.cfg.eoi_bcast_suppression = b0 & 32;
    r.cfg.amd = b0 & 64;
    r.cfg.apicv = b0 & 128;
    /* Bits 0, 1, 3 are the flags themselves; bit 2 selects the SDM's ESR
     * rules (VMDL_LAPIC_F_SDM_ESR, bit 4 of the flags). */
    r.cfg.flags = (b1 & 0xBu) | ((b1 & 4u) ? VMDL_LAPIC_F_SDM_ESR : 0) |
                  ((b1 & 0x10u) ? VMDL_LAPIC_F_NO_MIN_PERIOD : 0);
    r.cfg.no_pv_eoi = (b1 & 0x20u) != 0;
    r.cfg.min_timer_period_us = (b1 & 0x40u) ? 1 : 0;
    r.cfg.ops.hold_init_sipi = fz_hold;
    r.cfg.ops.opaque = &r;
    FZ_CHECK(vmdl_lapic_bus_create(&r.cfg, &r.bus) == 0, "bus: %s", vmdl_last_error());
    static uint8_t pi_mem[4096];
    memset(pi_mem, 0, sizeof(pi_mem));
    struct vmdl_flat_mem flat = {pi_mem, 0x10000, sizeof(pi_mem)};
    struct vmdl_guest_mem gm;
    vmdl_flat_mem_init(&gm, &flat);
    vmdl_lapic_bus_set_guest_mem(r.bus, &gm); /* PV-EOI flag bytes */

    check_all(&r);
    unsigned steps = 0;
    while (fz_more(&f) && steps++ < 2048) {
        unsigned op = fz_u8(&f);
        struct vmdl_lapic *a = pick_apic(&r, &f);
        switch (op % 16) {
        case 0: case 1: {
            unsigned off = pick_offset(&f);
            unsigned size = 1u << (fz_u8(&f) & 3);
            if (fz_u8(&f) < 200)
                size = 4;
            uint64_t v = off == VMDL_LAPIC_ICR ? pick_icr(&f) : fz_value(&f);
            vmdl_fault fl = vmdl_lapic_mmio_write(a, off, size, v);
            FZ_TRACE("apic %u mmio write 0x%x/%u 0x%llx -> %d\n", vmdl_lapic_index(a),
                     off, size, (unsigned long long)v, fl);
            FZ_CHECK(fl == VMDL_FAULT_NONE || fl == VMDL_FAULT_UNCLAIMED, "mmio fault");
            if (off >= 0x1000)
                FZ_CHECK(fl == VMDL_FAULT_UNCLAIMED, "offset 0x%x claimed", off);
            break;
        }
        case 2: {
            unsigned off = pick_offset(&f);
            uint64_t v;
            vmdl_fault fl = vmdl_lapic_mmio_read(a, off, 1u << (fz_u8(&f) & 3), &v);
            FZ_CHECK(fl == VMDL_FAULT_NONE || fl == VMDL_FAULT_UNCLAIMED, "mmio fault");
            break;
        }
        case 3: case 4: {
            unsigned k = fz_u8(&f);
            uint32_t idx = k < 32 ? VMDL_MSR_IA32_APIC_BASE
                           : k < 48 ? VMDL_MSR_IA32_TSC_DEADLINE
                           : k < 240 ? VMDL_MSR_X2APIC_FIRST + (pick_offset(&f) >> 4)
                                     : fz_u32(&f);
            bool wr = op % 16 == 3;
            uint64_t v = 0;
            vmdl_fault fl;
            if (wr) {
                if (idx == VMDL_MSR_IA32_APIC_BASE && (fz_u8(&f) & 1))
                    v = VMDL_LAPIC_DEFAULT_BASE | VMDL_APIC_BASE_EN |
                        (fz_u8(&f) & 1 ? VMDL_APIC_BASE_EXTD : 0) |
                        (vmdl_lapic_get_base(a) & VMDL_APIC_BASE_BSP);
                else
                    v = idx == VMDL_MSR_X2APIC_FIRST + (VMDL_LAPIC_ICR >> 4)
                            ? pick_icr(&f) : fz_value(&f);
                fl = vmdl_lapic_msr_write(a, idx, v);
            } else {
                fl = vmdl_lapic_msr_read(a, idx, &v);
            }
            FZ_TRACE("apic %u %s 0x%x 0x%llx -> %d\n", vmdl_lapic_index(a),
                     wr ? "wrmsr" : "rdmsr", idx, (unsigned long long)v, fl);
            FZ_CHECK(fl == VMDL_FAULT_NONE || fl == VMDL_FAULT_GP ||
                         fl == VMDL_FAULT_UNCLAIMED, "msr fault %d", fl);
            bool ours = idx == VMDL_MSR_IA32_APIC_BASE || idx == VMDL_MSR_IA32_TSC_DEADLINE ||
                        idx == VMDL_MSR_KVM_PV_EOI_EN ||
                        (idx >= VMDL_MSR_X2APIC_FIRST && idx <= VMDL_MSR_X2APIC_LAST);
            FZ_CHECK(ours == (fl != VMDL_FAULT_UNCLAIMED), "MSR 0x%x claim", idx);
            break;
        }
        case 5: {
            uint32_t dest = fz_bool(&f) ? fz_u32(&f) : fz_u8(&f);
            unsigned k = fz_u8(&f);
            uint8_t vec = fz_u8(&f);
            int n = vmdl_lapic_bus_deliver(r.bus, dest, k & 1, (k >> 1) & 7, vec, k & 16);
            FZ_TRACE("bus deliver dest 0x%x dm %u vec %u -> %d\n", dest, (k >> 1) & 7, vec, n);
            if (((k >> 1) & 7) == 3)
                FZ_CHECK(n == VMDL_EINVAL, "reserved delivery mode 3 accepted");
            else
                FZ_CHECK(n >= 0 && (unsigned)n <= r.n, "deliver returned %d", n);
            break;
        }
        case 6: {
            static const unsigned lvts[] = {
                VMDL_LAPIC_LVT_TIMER, VMDL_LAPIC_LVT_THERMAL, VMDL_LAPIC_LVT_PERF,
                VMDL_LAPIC_LVT_LINT0, VMDL_LAPIC_LVT_LINT1, VMDL_LAPIC_LVT_ERROR,
                VMDL_LAPIC_LVT_CMCI, VMDL_LAPIC_TPR};
            unsigned lvt = lvts[fz_pick(&f, 8)];
            int n = vmdl_lapic_local_deliver(a, lvt);
            FZ_TRACE("apic %u local deliver 0x%x -> %d\n", vmdl_lapic_index(a), lvt, n);
            if (lvt == VMDL_LAPIC_TPR || (lvt == VMDL_LAPIC_LVT_CMCI && !r.cfg.cmci))
                FZ_CHECK(n < 0, "local deliver through 0x%x accepted", lvt);
            break;
        }
        case 7: case 8:
            do_ack(&r, a);
            break;
        case 9:
            do_eoi(a);
            break;
        case 10: {
            uint64_t d = fz_bool(&f) ? fz_u8(&f) : fz_u32(&f);
            vmdl_lapic_advance(a, vmdl_lapic_now(a) + d);
            FZ_TRACE("apic %u advance %llu\n", vmdl_lapic_index(a), (unsigned long long)d);
            uint64_t next = vmdl_lapic_next_event(a);
            FZ_CHECK(next == UINT64_MAX || next > vmdl_lapic_now(a) ||
                         next == vmdl_lapic_now(a),
                     "timer event in the past");
            break;
        }
        case 11: {
            unsigned k = fz_u8(&f) % 4;
            if (k == 0)
                vmdl_lapic_reset(a, fz_bool(&f));
            else if (k == 1)
                vmdl_lapic_set_base_host(a, fz_bool(&f) ? fz_value(&f)
                                                        : VMDL_LAPIC_DEFAULT_BASE |
                                                              VMDL_APIC_BASE_EN |
                                                              ((uint64_t)fz_u8(&f) << 10 & VMDL_APIC_BASE_EXTD));
            else if (k == 2)
                vmdl_lapic_set_cr8(a, fz_u8(&f));
            else {
                vmdl_lapic_take_nmi(a);
                vmdl_lapic_take_sipi(a);
            }
            FZ_TRACE("apic %u misc %u\n", vmdl_lapic_index(a), k);
            break;
        }
        case 12: {
            unsigned k = fz_u8(&f) % 7;
            int e = 0;
            if (k == 4) {
                /* PV EOI: an address in (or just past) the flat RAM, any of
                 * the enable and reserved-alignment bits */
                uint64_t v = 0x10000 + (fz_u16(&f) & 0x1fff) + (fz_u8(&f) & 3);
                vmdl_fault fl = vmdl_lapic_msr_write(a, VMDL_MSR_KVM_PV_EOI_EN, v);
                FZ_CHECK(fl == VMDL_FAULT_NONE || fl == VMDL_FAULT_GP, "PV EOI write %d", fl);
                if (r.cfg.no_pv_eoi || (v & 2) || ((v & 1) && (v & ~1ull) >= 0x11000))
                    FZ_CHECK(fl == VMDL_FAULT_GP, "PV EOI 0x%llx accepted",
                             (unsigned long long)v);
                uint64_t back = 0;
                if (fl == VMDL_FAULT_NONE)
                    FZ_CHECK(vmdl_lapic_msr_read(a, VMDL_MSR_KVM_PV_EOI_EN, &back) ==
                                 VMDL_FAULT_NONE && back == v, "PV EOI reads 0x%llx",
                             (unsigned long long)back);
            } else if (k == 5) {
                if (fz_bool(&f))
                    vmdl_lapic_vcpu_entry(a);
                else
                    vmdl_lapic_vcpu_exit(a);
            } else if (k == 6) {
                /* the guest scribbles on RAM, flag bytes included */
                pi_mem[fz_u16(&f) & 0xfff] = fz_u8(&f);
            } else if (k == 0)
                e = vmdl_apicv_post(a, fz_u8(&f));
            else if (k == 1)
                e = vmdl_apicv_set_sn(a, fz_bool(&f));
            else if (k == 2)
                e = vmdl_apicv_set_pi_desc(a, fz_bool(&f) ? &gm : NULL,
                                           0x10000 + (fz_u16(&f) & 0x1fc0), fz_u8(&f));
            else
                e = vmdl_apicv_sync_pir(a);
            FZ_TRACE("apic %u apicv op %u -> %d\n", vmdl_lapic_index(a), k, e);
            if (!r.cfg.apicv && k == 0)
                FZ_CHECK(e != 0, "post without APICv accepted");
            break;
        }
        case 13:
            if (op & 0x10)
                do_held_events(&r, a, &f);
            else
                do_roundtrip(a);
            break;
        default:
            reg_write(a, VMDL_LAPIC_ICR, pick_icr(&f));
            FZ_TRACE("apic %u ICR write\n", vmdl_lapic_index(a));
            break;
        }
        check_all(&r);
    }
    vmdl_lapic_bus_destroy(r.bus);
    return 0;
}

static void write_seeds(const char *dir)
{
    for (unsigned c = 0; c < 6; c++) {
        struct fz_out o;
        memset(&o, 0, sizeof(o));
        static const uint8_t cfg0[] = {0x01, 0x03, 0x81, 0x85, 0x1f, 0x40};
        fz_put8(&o, cfg0[c]);
        fz_put8(&o, c == 5 ? 4 : 0);
        /* SVR enable (0xFF | EN) on APIC 0 and 1 */
        for (unsigned a = 0; a < 2; a++) {
            fz_put8(&o, 0); fz_put8(&o, a); fz_put8(&o, 5); fz_put8(&o, 0); fz_put8(&o, 200);
            fz_putval(&o, 0x1ff);
        }
        /* self-IPI vector 0x40 and 0x81 via ICR, fixed, shorthand self */
        fz_put8(&o, 14); fz_put8(&o, 0); fz_put8(&o, 0); fz_put8(&o, 0x40);
        fz_put8(&o, 1); fz_put8(&o, 0);
        fz_put8(&o, 14); fz_put8(&o, 0); fz_put8(&o, 0); fz_put8(&o, 0x81);
        fz_put8(&o, 1); fz_put8(&o, 0);
        /* TPR 0x50 */
        fz_put8(&o, 0); fz_put8(&o, 0); fz_put8(&o, 1); fz_put8(&o, 0); fz_put8(&o, 200);
        fz_putval(&o, 0x50);
        /* ack, ack, eoi, IPI to APIC 1 vector 0x33 (physical dest 1) */
        fz_put8(&o, 7); fz_put8(&o, 0);
        fz_put8(&o, 7); fz_put8(&o, 0);
        fz_put8(&o, 9); fz_put8(&o, 0);
        fz_put8(&o, 14); fz_put8(&o, 0); fz_put8(&o, 0); fz_put8(&o, 0x33);
        fz_put8(&o, 0); fz_put8(&o, 1);
        fz_put8(&o, 7); fz_put8(&o, 1);
        /* illegal vector 5 self-IPI */
        fz_put8(&o, 14); fz_put8(&o, 0); fz_put8(&o, 0); fz_put8(&o, 5);
        fz_put8(&o, 1); fz_put8(&o, 0);
        /* timer: LVTT vector 0x60 periodic, TMICT 100, advance */
        fz_put8(&o, 0); fz_put8(&o, 0); fz_put8(&o, 10); fz_put8(&o, 0); fz_put8(&o, 200);
        fz_putval(&o, 0x20060);
        fz_put8(&o, 0); fz_put8(&o, 0); fz_put8(&o, 16); fz_put8(&o, 0); fz_put8(&o, 200);
        fz_putval(&o, 100);
        fz_put8(&o, 10); fz_put8(&o, 0); fz_put8(&o, 1); fz_put8(&o, 250);
        /* x2APIC switch via APIC_BASE, then posted interrupt, roundtrip */
        fz_put8(&o, 3); fz_put8(&o, 0); fz_put8(&o, 0); fz_put8(&o, 1); fz_put8(&o, 1);
        fz_put8(&o, 12); fz_put8(&o, 0); fz_put8(&o, 0); fz_put8(&o, 0x70);
        fz_put8(&o, 13); fz_put8(&o, 0);
        fz_put8(&o, 7); fz_put8(&o, 0);
        char name[32];
        snprintf(name, sizeof(name), "bus%u", c);
        fz_save_out(dir, name, &o);
    }
}

FZ_SEED_WRITER_MAIN()
