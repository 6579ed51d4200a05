/* SPDX-License-Identifier: MIT */
/*
 * hostile_apic: the local APIC abused.
 *   - IA32_APIC_BASE reserved bits (7:0, 9, 63:40 with MAXPHYADDR 40): #GP;
 *   - illegal mode transitions: EXTD without EN, x2APIC -> xAPIC directly,
 *     disabled -> x2APIC directly: #GP, mode unchanged (legal paths work);
 *   - x2APIC MSRs in xAPIC mode, writes to read-only x2APIC registers, bits
 *     63:32 and ICR reserved bits, a non-zero ESR write: #GP;
 *   - self-IPIs with an "illegal" vector (< 16) through the xAPIC ICR, the
 *     x2APIC ICR and the SELF_IPI MSR, as KVM handles them (the model's
 *     default; arch/x86/kvm/lapic.c records no APIC error): the vector is
 *     accepted into IRR, where it stays (class 0 is never above PPR, so it
 *     is never delivered), ESR keeps reading 0 and the unmasked LVT error
 *     entry never fires.  The SDM's rules (ESR bit 5, nothing sent) are the
 *     model's VMDL_LAPIC_F_SDM_ESR option, covered by test_lapic_delivery;
 *   - a self-IPI while the APIC is software-disabled is dropped.
 * Every exception lands in the guest's own handler; exit 0 when the machine
 * behaved.  Run: virtmodel-run hostile_apic.elf --models lapic [--apicv]
 */
#include "hostile_try.h"

#define APIC 0xFEE00000ull
#define MSR_APIC_BASE 0x1B
#define BASE_BSP (1ull << 8)
#define BASE_EXTD (1ull << 10)
#define BASE_EN (1ull << 11)
/*
 * The machine delivers an interrupt at its next exit, not on the instruction
 * boundary after STI, so the guest opens its interrupt window around a
 * trapping RDMSR (as lapic_x2apic.c does); hostile_irq_window.c checks the
 * architectural window on its own.
 */
#define ERR_VEC 0x50

static volatile unsigned hits[256];

static void on_err(struct rt_frame *f)
{
    hits[f->vector & 0xFF]++;
    mmio_write32(APIC + 0xB0, 0); /* EOI (xAPIC) */
}

static void on_err_x2(struct rt_frame *f)
{
    hits[f->vector & 0xFF]++;
    wrmsr(0x80B, 0);
}

static uint32_t apic_rd(unsigned off) { return mmio_read32(APIC + off); }
static void apic_wr(unsigned off, uint32_t v) { mmio_write32(APIC + off, v); }

/* ESR is write-then-read: the write latches the accumulated errors. */
static uint32_t esr_xapic(void)
{
    apic_wr(0x280, 0);
    return apic_rd(0x280);
}

static bool irr_has(unsigned vec)
{
    return (apic_rd(0x200 + vec / 32 * 0x10) >> (vec % 32)) & 1;
}

int main(void)
{
    hx_init();
    const uint64_t base = rdmsr(MSR_APIC_BASE);
    uint64_t v;
    CHECK(base == (APIC | BASE_EN | BASE_BSP), "APIC base 0x%lx at reset", base);

    /* Reserved bits of IA32_APIC_BASE. */
    static const uint64_t rsvd[] = {1ull << 0, 1ull << 7, 1ull << 9, 1ull << 40, 1ull << 63};
    for (unsigned i = 0; i < sizeof(rsvd) / sizeof(rsvd[0]); i++)
        CHECK(wrmsr_safe(MSR_APIC_BASE, base | rsvd[i]) == HX_GP,
              "APIC base reserved bit 0x%lx accepted", rsvd[i]);
    CHECK(rdmsr(MSR_APIC_BASE) == base, "APIC base changed by refused writes");

    /* x2APIC registers are not there in xAPIC mode. */
    CHECK(rdmsr_safe(0x802, &v) == HX_GP, "x2APIC ID MSR readable in xAPIC mode");
    CHECK(wrmsr_safe(0x83F, 0x40) == HX_GP, "SELF_IPI MSR writable in xAPIC mode");

    /* EXTD without EN is an invalid state. */
    CHECK(wrmsr_safe(MSR_APIC_BASE, (base & ~BASE_EN) | BASE_EXTD) == HX_GP,
          "EXTD without EN accepted");

    /* Software-disabled (SVR.8 = 0 at reset): a fixed self-IPI is dropped. */
    CHECK(!(apic_rd(0xF0) & 0x100), "APIC software-enabled at reset");
    apic_wr(0x300, (1u << 18) | 0x40); /* shorthand self, fixed, vector 0x40 */
    CHECK((apic_rd(0x200 + 0x40 / 32 * 0x10) & 1u) == 0, "self-IPI accepted while disabled");

    /* Vectors 0-15: software-enable first, unmask the LVT error entry. */
    rt_set_handler(ERR_VEC, on_err);
    apic_wr(0xF0, 0x1FF);
    apic_wr(0x370, ERR_VEC);
    CHECK(esr_xapic() == 0, "ESR 0x%x after reset", apic_rd(0x280));
    for (unsigned vec = 0; vec < 16; vec += 5) {
        hits[ERR_VEC] = 0;
        apic_wr(0x310, 0);
        apic_wr(0x300, (1u << 18) | vec); /* self, fixed, vector below 16 */
        CHECK(irr_has(vec), "vector %u not accepted into IRR (KVM accepts it)", vec);
        sti();
        (void)rdmsr(MSR_APIC_BASE); /* traps: the machine delivers here */
        cli();
        CHECK(hits[ERR_VEC] == 0, "LVT error interrupt %u times for vector %u",
              hits[ERR_VEC], vec);
        CHECK(hits[vec] == 0, "vector %u delivered from class 0", vec);
        uint32_t esr = esr_xapic();
        CHECK(esr == 0, "ESR 0x%x after self-IPI with vector %u, KVM reads 0", esr, vec);
    }
    CHECK(irr_has(0) && irr_has(5) && irr_has(10) && irr_has(15),
          "vectors 0-15 left IRR (IRR0 0x%x)", apic_rd(0x200));
    /* The same to a physical destination (this APIC). */
    apic_wr(0x310, 0u << 24);
    apic_wr(0x300, 2); /* no shorthand, fixed, vector 2 to APIC 0 */
    CHECK(irr_has(2), "physical IPI with vector 2 not in IRR");
    CHECK(esr_xapic() == 0, "ESR after physical IPI with vector 2");
    /* A legal vector is still delivered above the class-0 leftovers. */
    hits[ERR_VEC] = 0;
    apic_wr(0x300, (1u << 18) | ERR_VEC);
    sti();
    (void)rdmsr(MSR_APIC_BASE);
    cli();
    CHECK(hits[ERR_VEC] == 1, "vector 0x%x delivered %u times", ERR_VEC, hits[ERR_VEC]);
    apic_wr(0x370, 1u << 16); /* mask the error LVT again */

    /* Read-only xAPIC registers ignore writes. */
    uint32_t ver = apic_rd(0x30);
    apic_wr(0x30, 0xFFFFFFFFu);
    apic_wr(0xA0, 0xFFu); /* PPR */
    CHECK(apic_rd(0x30) == ver && apic_rd(0xA0) == 0, "read-only xAPIC registers written");

    /* xAPIC -> x2APIC (legal). */
    CHECK(wrmsr_safe(MSR_APIC_BASE, base | BASE_EXTD) == 0, "xAPIC -> x2APIC refused");
    rt_set_handler(ERR_VEC, on_err_x2);
    wrmsr(0x837, ERR_VEC); /* LVT error */
    /* Writes the x2APIC interface refuses. */
    CHECK(wrmsr_safe(0x802, 7) == HX_GP, "x2APIC ID writable");
    CHECK(wrmsr_safe(0x803, 0) == HX_GP, "x2APIC version writable");
    CHECK(wrmsr_safe(0x808, 1ull << 32) == HX_GP, "TPR bit 32 accepted");
    CHECK(wrmsr_safe(0x830, 1ull << 13) == HX_GP, "ICR reserved bit 13 accepted");
    CHECK(wrmsr_safe(0x828, 1) == HX_GP, "non-zero ESR write accepted");
    CHECK(wrmsr_safe(0x83F, 0x100) == HX_GP, "SELF_IPI bits above 7:0 accepted");
    /* Vectors below 16 through the x2APIC interface: accepted, no error. */
    hits[ERR_VEC] = 0;
    CHECK(wrmsr_safe(0x83F, 3) == 0, "SELF_IPI with vector 3 faulted");
    CHECK((rdmsr(0x820) >> 3) & 1, "SELF_IPI vector 3 not in IRR");
    wrmsr(0x828, 0);
    CHECK(rdmsr(0x828) == 0, "x2APIC ESR 0x%lx after SELF_IPI vector 3", rdmsr(0x828));
    CHECK(wrmsr_safe(0x830, (1u << 18) | 14) == 0, "ICR with vector 14 faulted");
    CHECK((rdmsr(0x820) >> 14) & 1, "ICR vector 14 not in IRR");
    wrmsr(0x828, 0);
    CHECK(rdmsr(0x828) == 0, "x2APIC ESR 0x%lx after ICR vector 14", rdmsr(0x828));
    sti();
    (void)rdmsr(MSR_APIC_BASE);
    cli();
    CHECK(hits[ERR_VEC] == 0, "LVT error interrupt %u times in x2APIC mode, want 0",
          hits[ERR_VEC]);
    wrmsr(0x837, 1u << 16);

    /* x2APIC -> xAPIC directly: #GP, still x2APIC. */
    const uint64_t x2 = base | BASE_EXTD;
    CHECK(wrmsr_safe(MSR_APIC_BASE, base) == HX_GP, "x2APIC -> xAPIC accepted");
    CHECK(rdmsr(MSR_APIC_BASE) == x2, "mode changed by a refused transition");
    CHECK(wrmsr_safe(MSR_APIC_BASE, x2 & ~BASE_EN) == HX_GP, "x2APIC -> EXTD without EN accepted");
    /* x2APIC -> disabled (legal), then disabled -> x2APIC directly: #GP. */
    const uint64_t off = base & ~BASE_EN;
    CHECK(wrmsr_safe(MSR_APIC_BASE, off) == 0, "x2APIC -> disabled refused");
    CHECK(wrmsr_safe(MSR_APIC_BASE, x2) == HX_GP, "disabled -> x2APIC accepted");
    CHECK(rdmsr(MSR_APIC_BASE) == off, "APIC base 0x%lx, want disabled", rdmsr(MSR_APIC_BASE));
    /* While disabled, the MMIO window is a hole and x2APIC MSRs #GP. */
    CHECK(apic_rd(0x30) == 0xFFFFFFFFu, "MMIO not a hole while disabled");
    CHECK(rdmsr_safe(0x803, &v) == HX_GP, "x2APIC MSR readable while disabled");
    /* disabled -> xAPIC (legal), the registers answer again. */
    CHECK(wrmsr_safe(MSR_APIC_BASE, base) == 0, "disabled -> xAPIC refused");
    CHECK(apic_rd(0x30) == ver, "version 0x%x after re-enabling", apic_rd(0x30));

    rt_printf("hostile_apic: %s\n", rt_failures ? "FAILED" : "every illegal access refused");
    return 0;
}
