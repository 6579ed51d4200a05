/* SPDX-License-Identifier: MIT */
/*
 * KVM's paravirtual EOI, used the way a Linux guest does (kvm_guest_apic_eoi_write:
 * if the host set the flag, clear it and skip the EOI write):
 *   - CPUID 0x40000000 "KVMKVMKVM", 0x40000001 EAX bit 6 (KVM_FEATURE_PV_EOI);
 *   - MSR_KVM_PV_EOI_EN (0x4b564d04): reads 0 at reset, #GP for a misaligned
 *     address or one outside RAM when enabling, reads back what was written;
 *   - five self-IPIs: the host offers PV EOI (flag set) for each, the handler
 *     clears the flag instead of writing EOI, and the EOI has happened by the
 *     next exit (ISR clear).  With APICv KVM never offers it (no ISR cache),
 *     so the handler writes EOI every time;
 *   - PV EOI off again: the flag stays clear.
 * Run: virtmodel-run lapic_pv_eoi.elf --models lapic [--apicv]
 */
#include "guest.h"

#define APIC 0xFEE00000ull
#define MSR_PV_EOI 0x4B564D04u
#define VEC 0x45
#define N 5

static volatile uint8_t pv_flag __attribute__((aligned(4)));
static volatile unsigned hits, by_flag;

static uint32_t apic_read(unsigned off) { return mmio_read32(APIC + off); }
static void apic_write(unsigned off, uint32_t v) { mmio_write32(APIC + off, v); }

static void on_irq(struct rt_frame *f)
{
    (void)f;
    hits++;
    if (pv_flag & 1) {
        pv_flag = 0;        /* the host performs the EOI at the next exit */
        by_flag++;
        return;
    }
    apic_write(0xB0, 0);
}

static bool isr_has(unsigned v)
{
    return (apic_read(0x100 + v / 32 * 0x10) >> (v % 32)) & 1;
}

static void self_ipi_and_take(void)
{
    apic_write(0x300, (1u << 18) | VEC);
    sti();
    (void)rdmsr(0x1B); /* traps: the machine delivers here */
    cli();
}

int main(void)
{
    uint32_t a, b, c, d;
    cpuid_count(0x40000000, 0, &a, &b, &c, &d);
    CHECK(b == 0x4B4D564B && c == 0x564B4D56 && d == 0x4D, "KVM signature %x %x %x", b, c, d);
    CHECK(a >= 0x40000001, "KVM max leaf 0x%x", a);
    cpuid_count(0x40000001, 0, &a, &b, &c, &d);
    CHECK(a & (1u << 6), "KVM_FEATURE_PV_EOI not advertised (EAX 0x%x)", a);

    uint64_t flag_gpa = (uint64_t)(uintptr_t)&pv_flag;
    CHECK(rdmsr(MSR_PV_EOI) == 0, "PV EOI MSR 0x%lx at reset", rdmsr(MSR_PV_EOI));
    CHECK(wrmsr_safe(MSR_PV_EOI, flag_gpa | 2 | 1) == 13, "misaligned address accepted");
    CHECK(wrmsr_safe(MSR_PV_EOI, (1ull << 38) | 1) == 13, "address outside RAM accepted");
    CHECK(rdmsr(MSR_PV_EOI) == 0, "refused writes changed the MSR");
    wrmsr(MSR_PV_EOI, flag_gpa | 1);
    CHECK(rdmsr(MSR_PV_EOI) == (flag_gpa | 1), "PV EOI MSR 0x%lx", rdmsr(MSR_PV_EOI));

    rt_set_handler(VEC, on_irq);
    apic_write(0xF0, 0x1FF);
    for (unsigned i = 0; i < N; i++) {
        self_ipi_and_take();
        CHECK(hits == i + 1, "interrupt %u not taken", i);
        CHECK(!isr_has(VEC), "vector 0x%x still in service after interrupt %u", VEC, i);
    }
    rt_printf("lapic_pv_eoi: %u of %u EOIs through the flag\n", by_flag, N);

    wrmsr(MSR_PV_EOI, 0);
    unsigned before = by_flag;
    self_ipi_and_take();
    CHECK(by_flag == before && pv_flag == 0 && !isr_has(VEC), "flag offered while off");
    rt_printf("lapic_pv_eoi: %s\n", rt_failures ? "FAILED" : "off again: plain EOI");
    return 0;
}
