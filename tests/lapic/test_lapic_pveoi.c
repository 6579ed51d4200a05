/* SPDX-License-Identifier: MIT */
/*
 * KVM's paravirtual EOI: MSR_KVM_PV_EOI_EN (0x4b564d04) and the guest-memory
 * flag protocol.  Facts from Linux arch/x86/kvm/lapic.c (kvm_lapic_set_pv_eoi,
 * pv_eoi_set_pending, pv_eoi_test_and_clr_pending,
 * apic_sync_pv_eoi_{to,from}_guest, kvm_lapic_reset), arch/x86/kvm/msrs.c
 * (the MSR_KVM_PV_EOI_EN cases of kvm_{get,set}_msr_common) and
 * Documentation/virt/kvm/x86/msr.rst.
 */
#include "util.h"

#include "virtmodel/guest_mem.h"

#define RAM_BASE 0x10000u
#define FLAG_GPA (RAM_BASE + 0x100)

static uint8_t ram[0x1000];
static struct vmdl_flat_mem flat = {ram, RAM_BASE, sizeof(ram)};
static struct vmdl_guest_mem mem;

static struct vmdl_lapic_bus *mk(bool apicv, bool no_pv_eoi, bool with_mem)
{
    struct vmdl_lapic_bus_config c = {.nr_apics = 1, .x2apic = true,
                                      .apicv = apicv, .no_pv_eoi = no_pv_eoi};
    struct vmdl_lapic_bus *bus = NULL;
    assert_int_equal(vmdl_lapic_bus_create(&c, &bus), 0);
    memset(ram, 0xAA, sizeof(ram));
    vmdl_flat_mem_init(&mem, &flat);
    if (with_mem)
        vmdl_lapic_bus_set_guest_mem(bus, &mem);
    sw_enable(vmdl_lapic_bus_get(bus, 0));
    return bus;
}

static vmdl_fault wr_msr(struct vmdl_lapic *a, uint64_t v)
{
    return vmdl_lapic_msr_write(a, VMDL_MSR_KVM_PV_EOI_EN, v);
}

static uint64_t rd_msr(struct vmdl_lapic *a)
{
    uint64_t v = 0xDEAD;
    assert_int_equal(vmdl_lapic_msr_read(a, VMDL_MSR_KVM_PV_EOI_EN, &v),
                     VMDL_FAULT_NONE);
    return v;
}

/* Deliver `vec` as the machine does: accept, acknowledge, enter. */
static void deliver(struct vmdl_lapic *a, uint8_t vec)
{
    wr(a, VMDL_LAPIC_ICR, SELF_IPI(vec));
    assert_int_equal(vmdl_lapic_ack(a), vec);
    vmdl_lapic_vcpu_entry(a);
}

/* ISR without a guest access (which would be an exit and sync the flag). */
static bool lapic_isr_has(const struct vmdl_lapic *a, unsigned v)
{
    return (vmdl_lapic_peek(a, VMDL_LAPIC_ISR + 0x10 * (v / 32)) >> (v % 32)) & 1;
}

static uint64_t stat_pv_eois(struct vmdl_lapic *a)
{
    struct vmdl_lapic_stats st;
    vmdl_lapic_get_stats(a, &st);
    return st.pv_eois;
}

/* A software-backend APIC with PV EOI enabled at FLAG_GPA. */
static struct vmdl_lapic *pv_on(struct vmdl_lapic_bus **bus)
{
    *bus = mk(false, false, true);
    struct vmdl_lapic *a = vmdl_lapic_bus_get(*bus, 0);
    assert_int_equal(wr_msr(a, FLAG_GPA | 1), VMDL_FAULT_NONE);
    return a;
}

static void test_msr_rules(void **state)
{
    (void)state;
    struct vmdl_lapic_bus *bus = mk(false, false, true);
    struct vmdl_lapic *a = vmdl_lapic_bus_get(bus, 0);
    assert_int_equal(rd_msr(a), 0);
    /* the address (bits 63:1) must be 4-byte aligned: bit 1 is #GP */
    assert_int_equal(wr_msr(a, FLAG_GPA | 2 | 1), VMDL_FAULT_GP);
    assert_int_equal(wr_msr(a, FLAG_GPA | 2), VMDL_FAULT_GP);
    /* enabling needs the byte in guest RAM (kvm_gfn_to_hva_cache_init) */
    assert_int_equal(wr_msr(a, 0x40000000ull | 1), VMDL_FAULT_GP);
    assert_int_equal(rd_msr(a), 0);
    assert_int_equal(wr_msr(a, FLAG_GPA | 1), VMDL_FAULT_NONE);
    assert_int_equal(rd_msr(a), FLAG_GPA | 1);
    /* disabled: any aligned value is stored as written, RAM or not */
    assert_int_equal(wr_msr(a, 0xFFFFFFFFFFFFFFFCull), VMDL_FAULT_NONE);
    assert_int_equal(rd_msr(a), 0xFFFFFFFFFFFFFFFCull);
    /* RESET and INIT both turn it off (kvm_lapic_reset: msr_val = 0) */
    assert_int_equal(wr_msr(a, FLAG_GPA | 1), VMDL_FAULT_NONE);
    vmdl_lapic_reset(a, true);
    assert_int_equal(rd_msr(a), 0);
    assert_int_equal(wr_msr(a, FLAG_GPA | 1), VMDL_FAULT_NONE);
    vmdl_lapic_reset(a, false);
    assert_int_equal(rd_msr(a), 0);
    vmdl_lapic_bus_destroy(bus);

    /* not advertised (no KVM_FEATURE_PV_EOI): #GP both ways */
    bus = mk(false, true, true);
    a = vmdl_lapic_bus_get(bus, 0);
    uint64_t v;
    assert_int_equal(vmdl_lapic_msr_read(a, VMDL_MSR_KVM_PV_EOI_EN, &v), VMDL_FAULT_GP);
    assert_int_equal(wr_msr(a, 0), VMDL_FAULT_GP);
    vmdl_lapic_bus_destroy(bus);

    /* no guest memory at all: enabling is like an address outside RAM */
    bus = mk(false, false, false);
    a = vmdl_lapic_bus_get(bus, 0);
    assert_int_equal(wr_msr(a, FLAG_GPA | 1), VMDL_FAULT_GP);
    assert_int_equal(wr_msr(a, FLAG_GPA), VMDL_FAULT_NONE);
    vmdl_lapic_bus_destroy(bus);
}

/* The guest clears the flag instead of writing EOI; KVM does the EOI at
 * the next exit. */
static void test_guest_clears_flag_kvm_eois(void **state)
{
    (void)state;
    struct vmdl_lapic_bus *bus;
    struct vmdl_lapic *a = pv_on(&bus);
    deliver(a, 0x41);
    assert_int_equal(ram[0x100], VMDL_KVM_PV_EOI_FLAG); /* offered */
    assert_true(lapic_isr_has(a, 0x41));
    ram[0x100] = 0;                 /* the guest's test_and_clear_bit */
    vmdl_lapic_vcpu_exit(a);
    assert_false(lapic_isr_has(a, 0x41));
    assert_int_equal(stat_pv_eois(a), 1);
    /* ISR changed by an EOI: no cached vector, nothing offered */
    vmdl_lapic_vcpu_entry(a);
    assert_int_equal(ram[0x100], 0);
    /* the next interrupt is offered again */
    deliver(a, 0x42);
    assert_int_equal(ram[0x100], 1);
    ram[0x100] = 0;
    /* any guest access to the APIC is after the exit: ISR already clear */
    assert_int_equal(rd(a, VMDL_LAPIC_ISR + 0x10 * (0x42 / 32)), 0);
    assert_int_equal(stat_pv_eois(a), 2);
    vmdl_lapic_bus_destroy(bus);
}

/* A flag still set at exit is cleared without an EOI, and set again at the
 * next entry while nothing else changed; a real EOI ends the offer. */
static void test_unused_flag_cleared_at_exit(void **state)
{
    (void)state;
    struct vmdl_lapic_bus *bus;
    struct vmdl_lapic *a = pv_on(&bus);
    deliver(a, 0x51);
    vmdl_lapic_vcpu_exit(a);
    assert_int_equal(ram[0x100], 0);
    assert_true(lapic_isr_has(a, 0x51));
    vmdl_lapic_vcpu_entry(a);
    assert_int_equal(ram[0x100], 1);
    /* the guest writes EOI the ordinary way: the flag is cleared first,
     * the EOI ends 0x51, and nothing is offered any more */
    wr(a, VMDL_LAPIC_EOI, 0);
    assert_int_equal(ram[0x100], 0);
    assert_false(lapic_isr_has(a, 0x51));
    vmdl_lapic_vcpu_entry(a);
    assert_int_equal(ram[0x100], 0);
    assert_int_equal(stat_pv_eois(a), 0);
    vmdl_lapic_bus_destroy(bus);
}

/* When KVM does not offer it (apic_sync_pv_eoi_to_guest). */
static void test_not_offered(void **state)
{
    (void)state;
    struct vmdl_lapic_bus *bus = mk(false, false, true);
    struct vmdl_lapic *a = vmdl_lapic_bus_get(bus, 0);
    /* disabled */
    deliver(a, 0x30);
    assert_int_equal(ram[0x100], 0xAA);
    wr(a, VMDL_LAPIC_EOI, 0);
    assert_int_equal(wr_msr(a, FLAG_GPA | 1), VMDL_FAULT_NONE);
    ram[0x100] = 0;
    /* something else pending in IRR (irr_pending) */
    wr(a, VMDL_LAPIC_ICR, SELF_IPI(0x35));
    deliver(a, 0x60);
    assert_int_equal(ram[0x100], 0);
    wr(a, VMDL_LAPIC_EOI, 0);
    assert_int_equal(vmdl_lapic_ack(a), 0x35);
    wr(a, VMDL_LAPIC_EOI, 0);
    /* level-triggered: the EOI must reach the I/O APIC */
    assert_int_equal(vmdl_lapic_bus_deliver(bus, 0, false, VMDL_LAPIC_DM_FIXED,
                                            0x70, true), 1);
    assert_int_equal(vmdl_lapic_ack(a), 0x70);
    vmdl_lapic_vcpu_entry(a);
    assert_int_equal(ram[0x100], 0);
    wr(a, VMDL_LAPIC_EOI, 0);
    /* a vector in the EOI-exit bitmap */
    uint64_t bm[4] = {0, 1ull << (0x48 - 64), 0, 0};
    assert_int_equal(vmdl_apicv_set_eoi_exit_bitmap(a, bm), 0);
    deliver(a, 0x48);
    assert_int_equal(ram[0x100], 0);
    wr(a, VMDL_LAPIC_EOI, 0);
    vmdl_lapic_bus_destroy(bus);

    /* APICv active: KVM keeps no ISR cache and never offers it */
    bus = mk(true, false, true);
    a = vmdl_lapic_bus_get(bus, 0);
    assert_int_equal(wr_msr(a, FLAG_GPA | 1), VMDL_FAULT_NONE);
    ram[0x100] = 0;
    deliver(a, 0x41);
    assert_int_equal(ram[0x100], 0);
    vmdl_lapic_bus_destroy(bus);
}

/* State: version 2 added the MSR and the pending flag (version 3 then
 * appends the two bytes of held INIT/SIPI); version 1 blobs still load, as
 * "PV EOI off". */
static void test_state(void **state)
{
    (void)state;
    struct vmdl_lapic_bus *bus;
    struct vmdl_lapic *a = pv_on(&bus);
    deliver(a, 0x41);
    uint8_t *blob;
    size_t len;
    assert_int_equal(vmdl_lapic_export(a, &blob, &len), 0);
    assert_int_equal(blob[4], 3);
    vmdl_lapic_reset(a, false);
    assert_int_equal(vmdl_lapic_import(a, blob, len), 0);
    ram[0x100] = 0;                 /* the restored vCPU's guest EOIs */
    vmdl_lapic_vcpu_exit(a);
    assert_false(lapic_isr_has(a, 0x41));
    assert_int_equal(rd_msr(a), FLAG_GPA | 1);

    /* a version 1 blob: the same payload without the last 11 bytes */
    uint8_t *v1 = malloc(len - 11);
    assert_non_null(v1);
    memcpy(v1, blob, len - 11);
    uint32_t one = 1, plen = (uint32_t)(len - 11 - 16);
    memcpy(v1 + 4, &one, 4);
    memcpy(v1 + 8, &plen, 4);
    uint32_t crc = vmdl_crc32(0, v1 + 16, plen);
    memcpy(v1 + 12, &crc, 4);
    assert_int_equal(vmdl_lapic_import(a, v1, len - 11), 0);
    assert_int_equal(rd_msr(a), 0);
    assert_true(lapic_isr_has(a, 0x41));
    vmdl_lapic_vcpu_entry(a);       /* no cache after import of v1 */
    assert_int_equal(ram[0x100], 0);
    free(v1);

    /* refused: unknown flag bits, misaligned address, pending while off */
    uint8_t *bad = malloc(len);
    assert_non_null(bad);
    const uint8_t tweaks[][2] = {{1, 0x80}, {9, 0x04}, {10, 0}};
    for (unsigned k = 0; k < 3; k++) {
        memcpy(bad, blob, len);
        if (tweaks[k][0] == 1)
            bad[len - 3] |= tweaks[k][1];           /* flags byte */
        else if (tweaks[k][0] == 9)
            bad[len - 11] |= 2;                     /* MSR bit 1 */
        else
            bad[len - 11] &= (uint8_t)~1u;          /* MSR disabled */
        uint32_t c2 = vmdl_crc32(0, bad + 16, len - 16);
        memcpy(bad + 12, &c2, 4);
        assert_int_equal(vmdl_lapic_import(a, bad, len), VMDL_EBADBLOB);
    }
    free(bad);
    free(blob);
    vmdl_lapic_bus_destroy(bus);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_msr_rules),
        cmocka_unit_test(test_guest_clears_flag_kvm_eois),
        cmocka_unit_test(test_unused_flag_cleared_at_exit),
        cmocka_unit_test(test_not_offered),
        cmocka_unit_test(test_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
