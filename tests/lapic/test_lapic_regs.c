/* SPDX-License-Identifier: MIT */
/* Local APIC registers: reset values, access rules in xAPIC and x2APIC
 * mode, reserved bits, IA32_APIC_BASE transitions, state blobs. */
#include "util.h"

static void test_reset_values_xapic(void **state)
{
    (void)state;
    struct vmdl_lapic_bus *bus = mkbus(2);
    struct vmdl_lapic *bsp = vmdl_lapic_bus_get(bus, 0);
    struct vmdl_lapic *ap = vmdl_lapic_bus_get(bus, 1);
    assert_int_equal(vmdl_lapic_get_base(bsp), 0xFEE00000ull | VMDL_APIC_BASE_EN | VMDL_APIC_BASE_BSP);
    assert_int_equal(vmdl_lapic_get_base(ap), 0xFEE00000ull | VMDL_APIC_BASE_EN);
    assert_int_equal(vmdl_lapic_mode(bsp), VMDL_LAPIC_MODE_XAPIC);
    assert_int_equal(rd(bsp, VMDL_LAPIC_ID), 0);
    assert_int_equal(rd(ap, VMDL_LAPIC_ID), 1u << 24);
    /* version 0x14, 6 LVT entries (no CMCI): max LVT index 5 */
    assert_int_equal(rd(bsp, VMDL_LAPIC_LVR), 0x00050014);
    assert_int_equal(rd(bsp, VMDL_LAPIC_TPR), 0);
    assert_int_equal(rd(bsp, VMDL_LAPIC_APR), 0);
    assert_int_equal(rd(bsp, VMDL_LAPIC_PPR), 0);
    assert_int_equal(rd(bsp, VMDL_LAPIC_LDR), 0);
    assert_int_equal(rd(bsp, VMDL_LAPIC_DFR), 0xFFFFFFFFu);
    assert_int_equal(rd(bsp, VMDL_LAPIC_SVR), 0xFF);
    for (unsigned i = 0; i < 8; i++) {
        assert_int_equal(rd(bsp, VMDL_LAPIC_ISR + 0x10 * i), 0);
        assert_int_equal(rd(bsp, VMDL_LAPIC_TMR + 0x10 * i), 0);
        assert_int_equal(rd(bsp, VMDL_LAPIC_IRR + 0x10 * i), 0);
    }
    assert_int_equal(rd(bsp, VMDL_LAPIC_ESR), 0);
    assert_int_equal(rd(bsp, VMDL_LAPIC_ICR), 0);
    assert_int_equal(rd(bsp, VMDL_LAPIC_ICR2), 0);
    assert_int_equal(rd(bsp, VMDL_LAPIC_LVT_TIMER), VMDL_LAPIC_LVT_MASKED);
    assert_int_equal(rd(bsp, VMDL_LAPIC_LVT_THERMAL), VMDL_LAPIC_LVT_MASKED);
    assert_int_equal(rd(bsp, VMDL_LAPIC_LVT_PERF), VMDL_LAPIC_LVT_MASKED);
    /* KVM quirk LINT0_REENABLED: BSP LINT0 = ExtINT, unmasked */
    assert_int_equal(rd(bsp, VMDL_LAPIC_LVT_LINT0), 0x700);
    assert_int_equal(rd(ap, VMDL_LAPIC_LVT_LINT0), VMDL_LAPIC_LVT_MASKED);
    assert_int_equal(rd(bsp, VMDL_LAPIC_LVT_LINT1), VMDL_LAPIC_LVT_MASKED);
    assert_int_equal(rd(bsp, VMDL_LAPIC_LVT_ERROR), VMDL_LAPIC_LVT_MASKED);
    assert_int_equal(rd(bsp, VMDL_LAPIC_TMICT), 0);
    assert_int_equal(rd(bsp, VMDL_LAPIC_TMCCT), 0);
    assert_int_equal(rd(bsp, VMDL_LAPIC_TDCR), 0);
    /* no CMCI: its offset is reserved, reads 0 */
    assert_int_equal(rd(bsp, VMDL_LAPIC_LVT_CMCI), 0);
    assert_int_equal(vmdl_lapic_mp_state(ap), VMDL_LAPIC_MP_RUNNABLE);
    vmdl_lapic_bus_destroy(bus);
}

static void test_reset_options(void **state)
{
    (void)state;
    struct vmdl_lapic_bus_config c = {
        .nr_apics = 1, .x2apic = true, .cmci = true, .eoi_bcast_suppression = true,
        .flags = VMDL_LAPIC_F_NO_LINT0_QUIRK,
    };
    struct vmdl_lapic_bus *bus;
    assert_int_equal(vmdl_lapic_bus_create(&c, &bus), 0);
    struct vmdl_lapic *a = vmdl_lapic_bus_get(bus, 0);
    assert_int_equal(rd(a, VMDL_LAPIC_LVR), 0x01060014);
    assert_int_equal(rd(a, VMDL_LAPIC_LVT_CMCI), VMDL_LAPIC_LVT_MASKED);
    assert_int_equal(rd(a, VMDL_LAPIC_LVT_LINT0), VMDL_LAPIC_LVT_MASKED);
    /* SVR bit 12 writable only with the capability */
    wr(a, VMDL_LAPIC_SVR, 0x11FF);
    assert_int_equal(rd(a, VMDL_LAPIC_SVR), 0x11FF);
    vmdl_lapic_bus_destroy(bus);

    bus = mkbus(1);
    a = vmdl_lapic_bus_get(bus, 0);
    wr(a, VMDL_LAPIC_SVR, 0xF1FF);
    assert_int_equal(rd(a, VMDL_LAPIC_SVR), 0x1FF);
    vmdl_lapic_bus_destroy(bus);
}

static void test_bus_create_errors(void **state)
{
    (void)state;
    struct vmdl_lapic_bus *bus = (void *)1;
    struct vmdl_lapic_bus_config c = {.nr_apics = 0};
    assert_int_equal(vmdl_lapic_bus_create(&c, &bus), VMDL_ERANGE);
    assert_null(bus);
    assert_non_null(strstr(vmdl_last_error(), "nr_apics"));
    c.nr_apics = VMDL_LAPIC_BUS_MAX + 1;
    assert_int_equal(vmdl_lapic_bus_create(&c, &bus), VMDL_ERANGE);
    assert_int_equal(vmdl_lapic_bus_create(NULL, &bus), VMDL_EINVAL);
    uint32_t ids[2] = {3, 3};
    c = (struct vmdl_lapic_bus_config){.nr_apics = 2, .apic_ids = ids, .x2apic = true};
    assert_int_equal(vmdl_lapic_bus_create(&c, &bus), VMDL_EINVAL);
    ids[1] = 300;
    c.x2apic = false;
    assert_int_equal(vmdl_lapic_bus_create(&c, &bus), VMDL_ERANGE);
    c.x2apic = true;
    assert_int_equal(vmdl_lapic_bus_create(&c, &bus), 0);
    assert_int_equal(rd(vmdl_lapic_bus_get(bus, 0), VMDL_LAPIC_ID), 3u << 24);
    assert_null(vmdl_lapic_bus_get(bus, 2));
    assert_int_equal(vmdl_lapic_bus_count(bus), 2);
    vmdl_lapic_bus_destroy(bus);
    /* Unknown flags are refused, among them bit 2: it meant "KVM's ESR
     * rules" while those were not the default and must not silently flip
     * meaning for an old caller. */
    c = (struct vmdl_lapic_bus_config){.nr_apics = 1, .flags = 1u << 2};
    assert_int_equal(vmdl_lapic_bus_create(&c, &bus), VMDL_EINVAL);
    assert_non_null(strstr(vmdl_last_error(), "VMDL_LAPIC_F_SDM_ESR"));
    c.flags = 1u << 31;
    assert_int_equal(vmdl_lapic_bus_create(&c, &bus), VMDL_EINVAL);
    c.flags = VMDL_LAPIC_F_ALL;
    assert_int_equal(vmdl_lapic_bus_create(&c, &bus), 0);
    vmdl_lapic_bus_destroy(bus);
}

static void test_xapic_write_masks(void **state)
{
    (void)state;
    struct vmdl_lapic_bus *bus = mkbus(1);
    struct vmdl_lapic *a = vmdl_lapic_bus_get(bus, 0);
    wr(a, VMDL_LAPIC_TPR, 0xFFFFFF5A);
    assert_int_equal(rd(a, VMDL_LAPIC_TPR), 0x5A);
    wr(a, VMDL_LAPIC_TPR, 0);
    wr(a, VMDL_LAPIC_LDR, 0xFFFFFFFF);
    assert_int_equal(rd(a, VMDL_LAPIC_LDR), 0xFF000000u);
    wr(a, VMDL_LAPIC_DFR, 0);
    assert_int_equal(rd(a, VMDL_LAPIC_DFR), 0x0FFFFFFFu);
    wr(a, VMDL_LAPIC_ICR2, 0xFFFFFFFF);
    assert_int_equal(rd(a, VMDL_LAPIC_ICR2), 0xFF000000u);
    wr(a, VMDL_LAPIC_TDCR, 0xFFFFFFFF);
    assert_int_equal(rd(a, VMDL_LAPIC_TDCR), 0xB);
    /* LVTs while software-disabled: forced masked */
    wr(a, VMDL_LAPIC_LVT_THERMAL, 0x20);
    assert_int_equal(rd(a, VMDL_LAPIC_LVT_THERMAL), 0x10020);
    sw_enable(a);
    wr(a, VMDL_LAPIC_LVT_THERMAL, 0xFFFFFFFF);
    assert_int_equal(rd(a, VMDL_LAPIC_LVT_THERMAL), 0x117FF);
    wr(a, VMDL_LAPIC_LVT_LINT1, 0xFFFFFFFF);
    assert_int_equal(rd(a, VMDL_LAPIC_LVT_LINT1), 0x1F7FF);
    wr(a, VMDL_LAPIC_LVT_ERROR, 0xFFFFFFFF);
    assert_int_equal(rd(a, VMDL_LAPIC_LVT_ERROR), 0x110FF);
    wr(a, VMDL_LAPIC_LVT_TIMER, 0xFFFFFFFF);
    assert_int_equal(rd(a, VMDL_LAPIC_LVT_TIMER), 0x710FF);
    /* read-only registers ignore xAPIC writes */
    wr(a, VMDL_LAPIC_LVR, 0);
    assert_int_equal(rd(a, VMDL_LAPIC_LVR), 0x50014);
    wr(a, VMDL_LAPIC_PPR, 0xF0);
    assert_int_equal(rd(a, VMDL_LAPIC_PPR), 0);
    wr(a, VMDL_LAPIC_IRR, 0xFFFFFFFF);
    assert_int_equal(rd(a, VMDL_LAPIC_IRR), 0);
    wr(a, VMDL_LAPIC_TMCCT, 5);
    assert_int_equal(rd(a, VMDL_LAPIC_TMCCT), 0);
    /* ID is writable in xAPIC (bits 31:24) */
    wr(a, VMDL_LAPIC_ID, 0x07FFFFFF);
    assert_int_equal(rd(a, VMDL_LAPIC_ID), 0x07000000);
    /* software disable masks every LVT */
    wr(a, VMDL_LAPIC_SVR, 0xFF);
    assert_true(rd(a, VMDL_LAPIC_LVT_LINT1) & VMDL_LAPIC_LVT_MASKED);
    assert_true(rd(a, VMDL_LAPIC_LVT_ERROR) & VMDL_LAPIC_LVT_MASKED);
    vmdl_lapic_bus_destroy(bus);
}

static void test_xapic_access_sizes(void **state)
{
    (void)state;
    struct vmdl_lapic_bus *bus = mkbus(1);
    struct vmdl_lapic *a = vmdl_lapic_bus_get(bus, 0);
    uint64_t v;
    /* byte and word reads of the version register */
    assert_int_equal(vmdl_lapic_mmio_read(a, VMDL_LAPIC_LVR, 1, &v), VMDL_FAULT_NONE);
    assert_int_equal(v, 0x14);
    assert_int_equal(vmdl_lapic_mmio_read(a, VMDL_LAPIC_LVR + 2, 2, &v), VMDL_FAULT_NONE);
    assert_int_equal(v, 0x5);
    /* crossing the 32-bit register reads 0 */
    assert_int_equal(vmdl_lapic_mmio_read(a, VMDL_LAPIC_LVR + 2, 4, &v), VMDL_FAULT_NONE);
    assert_int_equal(v, 0);
    assert_int_equal(vmdl_lapic_mmio_read(a, VMDL_LAPIC_LVR, 8, &v), VMDL_FAULT_NONE);
    assert_int_equal(v, 0);
    /* write-only / reserved registers read 0 */
    assert_int_equal(rd(a, VMDL_LAPIC_EOI), 0);
    assert_int_equal(rd(a, VMDL_LAPIC_RRD), 0);
    assert_int_equal(rd(a, VMDL_LAPIC_SELF_IPI), 0);
    assert_int_equal(rd(a, 0x400), 0);
    /* non-32-bit and unaligned writes are ignored */
    assert_int_equal(vmdl_lapic_mmio_write(a, VMDL_LAPIC_TPR, 1, 0x50), VMDL_FAULT_NONE);
    assert_int_equal(vmdl_lapic_mmio_write(a, VMDL_LAPIC_TPR + 4, 4, 0x50), VMDL_FAULT_NONE);
    assert_int_equal(vmdl_lapic_mmio_write(a, VMDL_LAPIC_TPR, 8, 0x50), VMDL_FAULT_NONE);
    assert_int_equal(rd(a, VMDL_LAPIC_TPR), 0);
    /* outside the page: not ours */
    assert_int_equal(vmdl_lapic_mmio_read(a, 0x1000, 4, &v), VMDL_FAULT_UNCLAIMED);
    vmdl_lapic_bus_destroy(bus);
}

static void test_x2apic_reads(void **state)
{
    (void)state;
    struct vmdl_lapic_bus *bus = mkbus(20);
    struct vmdl_lapic *a = vmdl_lapic_bus_get(bus, 19);
    uint64_t v;
    /* x2APIC MSRs #GP in xAPIC mode */
    assert_int_equal(vmdl_lapic_msr_read(a, X2MSR(VMDL_LAPIC_ID), &v), VMDL_FAULT_GP);
    assert_int_equal(vmdl_lapic_msr_write(a, X2MSR(VMDL_LAPIC_TPR), 0), VMDL_FAULT_GP);
    to_x2apic(a);
    assert_int_equal(vmdl_lapic_mode(a), VMDL_LAPIC_MODE_X2APIC);
    /* ID is the full 32-bit ID, LDR derived: cluster 1, bit 3 */
    assert_int_equal(rdmsr(a, X2MSR(VMDL_LAPIC_ID)), 19);
    assert_int_equal(rdmsr(a, X2MSR(VMDL_LAPIC_LDR)), (1u << 16) | (1u << 3));
    assert_int_equal(rdmsr(a, X2MSR(VMDL_LAPIC_LVR)), 0x50014);
    assert_int_equal(rdmsr(a, X2MSR(VMDL_LAPIC_SVR)), 0xFF);
    /* not readable in x2APIC: DFR, ICR2, APR, EOI, SELF_IPI, RRD, holes */
    static const unsigned gp[] = {VMDL_LAPIC_DFR, VMDL_LAPIC_ICR2, VMDL_LAPIC_APR,
                                  VMDL_LAPIC_EOI, VMDL_LAPIC_SELF_IPI, VMDL_LAPIC_RRD,
                                  0x000, 0x010, 0x040, 0x070, 0x2A0, 0x3A0, 0x3F0,
                                  VMDL_LAPIC_LVT_CMCI};
    for (size_t i = 0; i < sizeof(gp) / sizeof(gp[0]); i++)
        assert_int_equal(vmdl_lapic_msr_read(a, X2MSR(gp[i]), &v), VMDL_FAULT_GP);
    assert_int_equal(vmdl_lapic_msr_read(a, 0x8FF, &v), VMDL_FAULT_GP);
    /* not ours */
    assert_int_equal(vmdl_lapic_msr_read(a, 0x900, &v), VMDL_FAULT_UNCLAIMED);
    assert_int_equal(vmdl_lapic_msr_read(a, 0x7FF, &v), VMDL_FAULT_UNCLAIMED);
    vmdl_lapic_bus_destroy(bus);
}

static void test_x2apic_writes(void **state)
{
    (void)state;
    struct vmdl_lapic_bus *bus = mkbus(1);
    struct vmdl_lapic *a = vmdl_lapic_bus_get(bus, 0);
    to_x2apic(a);
    sw_enable(a);
    /* read-only and absent registers #GP on write */
    static const unsigned gp[] = {VMDL_LAPIC_ID, VMDL_LAPIC_LVR, VMDL_LAPIC_PPR,
                                  VMDL_LAPIC_LDR, VMDL_LAPIC_DFR, VMDL_LAPIC_ICR2,
                                  VMDL_LAPIC_ISR, VMDL_LAPIC_TMR + 0x10, VMDL_LAPIC_IRR,
                                  VMDL_LAPIC_TMCCT, VMDL_LAPIC_APR, VMDL_LAPIC_RRD,
                                  VMDL_LAPIC_LVT_CMCI, 0x3A0};
    for (size_t i = 0; i < sizeof(gp) / sizeof(gp[0]); i++)
        assert_int_equal(vmdl_lapic_msr_write(a, X2MSR(gp[i]), 0), VMDL_FAULT_GP);
    /* bits 63:32 reserved except in ICR */
    assert_int_equal(vmdl_lapic_msr_write(a, X2MSR(VMDL_LAPIC_TPR), 1ull << 32), VMDL_FAULT_GP);
    wrmsr(a, X2MSR(VMDL_LAPIC_TPR), 0x123);
    assert_int_equal(rdmsr(a, X2MSR(VMDL_LAPIC_TPR)), 0x23);
    wrmsr(a, X2MSR(VMDL_LAPIC_TPR), 0);
    /* ESR: only 0 may be written */
    assert_int_equal(vmdl_lapic_msr_write(a, X2MSR(VMDL_LAPIC_ESR), 1), VMDL_FAULT_GP);
    wrmsr(a, X2MSR(VMDL_LAPIC_ESR), 0);
    /* SELF_IPI: bits above 7:0 reserved */
    assert_int_equal(vmdl_lapic_msr_write(a, X2MSR(VMDL_LAPIC_SELF_IPI), 0x100), VMDL_FAULT_GP);
    wrmsr(a, X2MSR(VMDL_LAPIC_SELF_IPI), 0x41);
    assert_true(irr_has(a, 0x41));
    /* 64-bit ICR: reserved bits 31:20, 17:16, 13 */
    assert_int_equal(vmdl_lapic_msr_write(a, X2MSR(VMDL_LAPIC_ICR), 1u << 20), VMDL_FAULT_GP);
    assert_int_equal(vmdl_lapic_msr_write(a, X2MSR(VMDL_LAPIC_ICR), 1u << 16), VMDL_FAULT_GP);
    assert_int_equal(vmdl_lapic_msr_write(a, X2MSR(VMDL_LAPIC_ICR), 1u << 13), VMDL_FAULT_GP);
    /* busy bit is dropped; the 64-bit value reads back */
    wrmsr(a, X2MSR(VMDL_LAPIC_ICR), (5ull << 32) | VMDL_LAPIC_ICR_BUSY | 0x42);
    assert_int_equal(rdmsr(a, X2MSR(VMDL_LAPIC_ICR)), (5ull << 32) | 0x42);
    /* ICR high half is not its own MSR */
    uint64_t v;
    assert_int_equal(vmdl_lapic_msr_read(a, 0x831, &v), VMDL_FAULT_GP);
    /* MMIO hole while in x2APIC: reads all ones, writes dropped */
    assert_int_equal(vmdl_lapic_mmio_read(a, VMDL_LAPIC_ID, 4, &v), VMDL_FAULT_NONE);
    assert_int_equal(v, 0xFFFFFFFFu);
    assert_int_equal(vmdl_lapic_mmio_write(a, VMDL_LAPIC_TPR, 4, 0x80), VMDL_FAULT_NONE);
    assert_int_equal(rdmsr(a, X2MSR(VMDL_LAPIC_TPR)), 0);
    vmdl_lapic_bus_destroy(bus);
}

static void test_mmio_hole_switch(void **state)
{
    (void)state;
    struct vmdl_lapic_bus *bus = mkbus_ex(1, false, VMDL_LAPIC_F_NO_MMIO_HOLE, NULL);
    struct vmdl_lapic *a = vmdl_lapic_bus_get(bus, 0);
    uint64_t v;
    to_x2apic(a);
    assert_int_equal(vmdl_lapic_mmio_read(a, VMDL_LAPIC_ID, 4, &v), VMDL_FAULT_UNCLAIMED);
    assert_int_equal(vmdl_lapic_mmio_write(a, VMDL_LAPIC_TPR, 4, 0), VMDL_FAULT_UNCLAIMED);
    vmdl_lapic_bus_destroy(bus);
}

static void test_apic_base_transitions(void **state)
{
    (void)state;
    struct vmdl_lapic_bus *bus = mkbus(2);
    struct vmdl_lapic *a = vmdl_lapic_bus_get(bus, 1);
    const uint64_t B = 0xFEE00000ull;
    const uint64_t EN = VMDL_APIC_BASE_EN, X2 = VMDL_APIC_BASE_EXTD;
    /* reserved bits: 7:0, 9, above MAXPHYADDR; EXTD without EN */
    assert_int_equal(vmdl_lapic_msr_write(a, 0x1B, B | EN | 1), VMDL_FAULT_GP);
    assert_int_equal(vmdl_lapic_msr_write(a, 0x1B, B | EN | (1u << 9)), VMDL_FAULT_GP);
    assert_int_equal(vmdl_lapic_msr_write(a, 0x1B, B | EN | (1ull << 40)), VMDL_FAULT_GP);
    assert_int_equal(vmdl_lapic_msr_write(a, 0x1B, B | X2), VMDL_FAULT_GP);
    /* xAPIC -> x2APIC -> xAPIC directly is illegal */
    wrmsr(a, 0x1B, B | EN | X2);
    assert_int_equal(vmdl_lapic_msr_write(a, 0x1B, B | EN), VMDL_FAULT_GP);
    assert_int_equal(vmdl_lapic_mode(a), VMDL_LAPIC_MODE_X2APIC);
    /* x2APIC -> disabled -> xAPIC */
    wrmsr(a, 0x1B, B);
    assert_int_equal(vmdl_lapic_mode(a), VMDL_LAPIC_MODE_DISABLED);
    /* disabled -> x2APIC directly is illegal */
    assert_int_equal(vmdl_lapic_msr_write(a, 0x1B, B | EN | X2), VMDL_FAULT_GP);
    /* MMIO hole while disabled */
    uint64_t v;
    assert_int_equal(vmdl_lapic_mmio_read(a, VMDL_LAPIC_LVR, 4, &v), VMDL_FAULT_NONE);
    assert_int_equal(v, 0xFFFFFFFFu);
    wrmsr(a, 0x1B, B | EN);
    assert_int_equal(vmdl_lapic_mode(a), VMDL_LAPIC_MODE_XAPIC);
    assert_int_equal(rd(a, VMDL_LAPIC_ID), 1u << 24);
    /* writing the same value is fine; BSP bit is writable */
    wrmsr(a, 0x1B, B | EN);
    wrmsr(a, 0x1B, B | EN | VMDL_APIC_BASE_BSP);
    /* the host may go x2APIC -> xAPIC directly */
    wrmsr(a, 0x1B, B | EN | X2);
    assert_int_equal(vmdl_lapic_set_base_host(a, B | EN), 0);
    assert_int_equal(vmdl_lapic_mode(a), VMDL_LAPIC_MODE_XAPIC);
    assert_int_equal(vmdl_lapic_set_base_host(a, B | X2), VMDL_EINVAL);
    assert_non_null(strstr(vmdl_last_error(), "vmdl_lapic_set_base_host"));
    vmdl_lapic_bus_destroy(bus);

    /* without CPUID x2APIC, EXTD is reserved */
    struct vmdl_lapic_bus_config c = {.nr_apics = 1};
    assert_int_equal(vmdl_lapic_bus_create(&c, &bus), 0);
    a = vmdl_lapic_bus_get(bus, 0);
    assert_int_equal(vmdl_lapic_msr_write(a, 0x1B, vmdl_lapic_get_base(a) | X2), VMDL_FAULT_GP);
    vmdl_lapic_bus_destroy(bus);
}

static void test_x2apic_id_preserved_ldr_on_disable(void **state)
{
    (void)state;
    struct vmdl_lapic_bus *bus = mkbus(40);
    struct vmdl_lapic *a = vmdl_lapic_bus_get(bus, 35);
    wr(a, VMDL_LAPIC_ID, 0x55u << 24);
    to_x2apic(a);
    /* the x2APIC ID is the initial ID whatever xAPIC software wrote */
    assert_int_equal(rdmsr(a, X2MSR(VMDL_LAPIC_ID)), 35);
    assert_int_equal(rdmsr(a, X2MSR(VMDL_LAPIC_LDR)), (2u << 16) | (1u << 3));
    /* INIT keeps x2APIC mode and LDR */
    vmdl_lapic_reset(a, true);
    assert_int_equal(vmdl_lapic_mode(a), VMDL_LAPIC_MODE_X2APIC);
    assert_int_equal(rdmsr(a, X2MSR(VMDL_LAPIC_LDR)), (2u << 16) | (1u << 3));
    /* RESET goes back to xAPIC */
    vmdl_lapic_reset(a, false);
    assert_int_equal(vmdl_lapic_mode(a), VMDL_LAPIC_MODE_XAPIC);
    assert_int_equal(rd(a, VMDL_LAPIC_ID), 35u << 24);
    vmdl_lapic_bus_destroy(bus);
}

static void test_cr8(void **state)
{
    (void)state;
    struct vmdl_lapic_bus *bus = mkbus(1);
    struct vmdl_lapic *a = vmdl_lapic_bus_get(bus, 0);
    vmdl_lapic_set_cr8(a, 0x1A);
    assert_int_equal(rd(a, VMDL_LAPIC_TPR), 0xA0);
    assert_int_equal(rd(a, VMDL_LAPIC_PPR), 0xA0);
    wr(a, VMDL_LAPIC_TPR, 0x3C);
    assert_int_equal(vmdl_lapic_get_cr8(a), 3);
    vmdl_lapic_bus_destroy(bus);
}

static void test_reg_names(void **state)
{
    (void)state;
    assert_string_equal(vmdl_lapic_reg_name(0x80), "TPR");
    assert_string_equal(vmdl_lapic_reg_name(0x130), "ISR3");
    assert_string_equal(vmdl_lapic_reg_name(0x270), "IRR7");
    assert_string_equal(vmdl_lapic_reg_name(0x180), "TMR0");
    assert_null(vmdl_lapic_reg_name(0x40));
    assert_null(vmdl_lapic_reg_name(0x81));
}

static void test_state_round_trip(void **state)
{
    (void)state;
    struct vmdl_lapic_bus *bus = mkbus(2);
    struct vmdl_lapic *a = vmdl_lapic_bus_get(bus, 1);
    sw_enable(a);
    wr(a, VMDL_LAPIC_TPR, 0x20);
    wr(a, VMDL_LAPIC_ICR, SELF_IPI(0x61));
    wr(a, VMDL_LAPIC_ICR, SELF_IPI(0x72));
    assert_int_equal(vmdl_lapic_ack(a), 0x72);
    wr(a, VMDL_LAPIC_LVT_TIMER, 0x30 | VMDL_LAPIC_TIMER_PERIODIC);
    wr(a, VMDL_LAPIC_TMICT, 1000);
    vmdl_lapic_advance(a, 300);
    uint8_t *blob;
    size_t len;
    assert_int_equal(vmdl_lapic_export(a, &blob, &len), 0);
    uint8_t page[4096];
    memcpy(page, vmdl_lapic_page(a), 4096);
    uint32_t cc = rd(a, VMDL_LAPIC_TMCCT);
    /* change everything, then restore */
    vmdl_lapic_reset(a, false);
    assert_int_equal(vmdl_lapic_import(a, blob, len), 0);
    assert_memory_equal(vmdl_lapic_page(a), page, 4096);
    assert_int_equal(rd(a, VMDL_LAPIC_TMCCT), cc);
    /* TDCR 0 divides by 2: 2000 ticks, raised to KVM's periodic floor of
     * 200 us = 200,000 ticks (limit_periodic_timer_frequency) */
    assert_int_equal(vmdl_lapic_next_event(a), 200000);
    /* 0x72 is in service, so 0x61 waits for its EOI */
    assert_int_equal(vmdl_lapic_pending(a), -1);
    wr(a, VMDL_LAPIC_EOI, 0);
    assert_int_equal(vmdl_lapic_ack(a), 0x61);
    /* a blob of APIC 1 is refused by APIC 0 */
    assert_int_equal(vmdl_lapic_import(vmdl_lapic_bus_get(bus, 0), blob, len), VMDL_EBADBLOB);
    assert_non_null(strstr(vmdl_last_error(), "another APIC"));
    free(blob);
    vmdl_lapic_bus_destroy(bus);
}

static void test_state_refuses_bad_blobs(void **state)
{
    (void)state;
    struct vmdl_lapic_bus *bus = mkbus(1);
    struct vmdl_lapic *a = vmdl_lapic_bus_get(bus, 0);
    uint8_t *blob;
    size_t len;
    wr(a, VMDL_LAPIC_TPR, 0x40);
    assert_int_equal(vmdl_lapic_export(a, &blob, &len), 0);
    wr(a, VMDL_LAPIC_TPR, 0x10);
    uint8_t before[4096];
    memcpy(before, vmdl_lapic_page(a), 4096);
    /* truncated */
    assert_int_equal(vmdl_lapic_import(a, blob, len - 1), VMDL_EBADBLOB);
    /* corrupted payload */
    blob[100] ^= 1;
    assert_int_equal(vmdl_lapic_import(a, blob, len), VMDL_EBADBLOB);
    assert_non_null(strstr(vmdl_last_error(), "checksum"));
    blob[100] ^= 1;
    /* wrong version */
    blob[4] = 4;
    assert_int_equal(vmdl_lapic_import(a, blob, len), VMDL_EVERSION);
    blob[4] = 3;
    /* wrong magic */
    blob[0] ^= 0x20;
    assert_int_equal(vmdl_lapic_import(a, blob, len), VMDL_EBADBLOB);
    blob[0] ^= 0x20;
    assert_int_equal(vmdl_lapic_import(a, NULL, len), VMDL_EINVAL);
    assert_memory_equal(vmdl_lapic_page(a), before, 4096);
    free(blob);
    vmdl_lapic_bus_destroy(bus);
}

/* Build a blob with a semantically bad field: valid CRC, refused anyway. */
static void test_state_refuses_bad_values(void **state)
{
    (void)state;
    struct vmdl_lapic_bus *bus = mkbus(1);
    struct vmdl_lapic *a = vmdl_lapic_bus_get(bus, 0);
    uint8_t *blob;
    size_t len;
    assert_int_equal(vmdl_lapic_export(a, &blob, &len), 0);
    /* payload offset 4 + 4096: IA32_APIC_BASE; set EXTD without EN */
    size_t off = 16 + 4 + 4096;
    uint64_t bad = 0xFEE00000ull | VMDL_APIC_BASE_EXTD;
    memcpy(blob + off, &bad, 8);
    uint32_t crc = vmdl_crc32(0, blob + 16, len - 16);
    memcpy(blob + 12, &crc, 4);
    wr(a, VMDL_LAPIC_TPR, 0x30);
    assert_int_equal(vmdl_lapic_import(a, blob, len), VMDL_EBADBLOB);
    assert_non_null(strstr(vmdl_last_error(), "APIC_BASE"));
    assert_int_equal(rd(a, VMDL_LAPIC_TPR), 0x30);
    assert_int_equal(vmdl_lapic_mode(a), VMDL_LAPIC_MODE_XAPIC);
    free(blob);
    assert_int_equal(vmdl_lapic_export(NULL, &blob, &len), VMDL_EINVAL);
    vmdl_lapic_bus_destroy(bus);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reset_values_xapic),
        cmocka_unit_test(test_reset_options),
        cmocka_unit_test(test_bus_create_errors),
        cmocka_unit_test(test_xapic_write_masks),
        cmocka_unit_test(test_xapic_access_sizes),
        cmocka_unit_test(test_x2apic_reads),
        cmocka_unit_test(test_x2apic_writes),
        cmocka_unit_test(test_mmio_hole_switch),
        cmocka_unit_test(test_apic_base_transitions),
        cmocka_unit_test(test_x2apic_id_preserved_ldr_on_disable),
        cmocka_unit_test(test_cr8),
        cmocka_unit_test(test_reg_names),
        cmocka_unit_test(test_state_round_trip),
        cmocka_unit_test(test_state_refuses_bad_blobs),
        cmocka_unit_test(test_state_refuses_bad_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
