/* SPDX-License-Identifier: MIT */
/* APICv backend: RVI/SVI, virtual delivery and EOI, EOI-exit bitmap, TPR
 * threshold, posted-interrupt descriptor, inhibits. */
#include "util.h"

#include "virtmodel/guest_mem.h"

static struct vmdl_lapic_bus *bus;
static struct vmdl_lapic *a;

static int setup(void **state)
{
    (void)state;
    bus = mkbus_ex(2, true, 0, NULL);
    a = vmdl_lapic_bus_get(bus, 0);
    sw_enable(a);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    vmdl_lapic_bus_destroy(bus);
    return 0;
}

static void test_rvi_svi_track_irr_isr(void **state)
{
    (void)state;
    assert_true(vmdl_lapic_apicv_active(a));
    assert_int_equal(vmdl_lapic_apicv_inhibits(a), 0);
    assert_int_equal(vmdl_apicv_gis(a), 0);
    wr(a, VMDL_LAPIC_ICR, SELF_IPI(0x41));
    wr(a, VMDL_LAPIC_ICR, SELF_IPI(0x63));
    assert_int_equal(vmdl_apicv_gis(a), 0x0063); /* RVI = highest VIRR */
    assert_int_equal(vmdl_lapic_ack(a), 0x63);
    assert_int_equal(vmdl_apicv_gis(a), 0x6341); /* SVI 0x63, RVI 0x41 */
    assert_int_equal(rd(a, VMDL_LAPIC_PPR), 0x60);
    wr(a, VMDL_LAPIC_EOI, 0);
    assert_int_equal(vmdl_apicv_gis(a), 0x0041);
    assert_int_equal(vmdl_lapic_ack(a), 0x41);
    wr(a, VMDL_LAPIC_EOI, 0);
    assert_int_equal(vmdl_apicv_gis(a), 0);
    struct vmdl_apicv_stats st;
    assert_int_equal(vmdl_apicv_get_stats(a, &st), 0);
    assert_int_equal(st.virtual_deliveries, 2);
    assert_int_equal(st.virtual_eois, 2);
    assert_int_equal(st.eoi_exits, 0);
    assert_int_equal(st.posted, 2);
}

static void test_host_descriptor_bits(void **state)
{
    (void)state;
    uint8_t d[64];
    assert_int_equal(vmdl_apicv_set_pi_desc(a, NULL, 0, VMDL_POSTED_INTR_VECTOR), 0);
    vmdl_lapic_vcpu_entry(a); /* loaded: SN cleared (vmx_vcpu_pi_load) */
    assert_int_equal(vmdl_apicv_read_pi_desc(a, d), 0);
    assert_int_equal(d[34], 0xF2);            /* NV, bits 279:272 */
    assert_int_equal(d[36] | d[37] << 8, 0);  /* NDST: xAPIC ID 0 in 15:8 */
    assert_int_equal(vmdl_apicv_post(a, 0x55), 0);
    assert_int_equal(vmdl_apicv_read_pi_desc(a, d), 0);
    assert_true(d[0x55 / 8] & (1u << (0x55 % 8))); /* PIR */
    assert_true(d[32] & 1);                        /* ON, bit 256 */
    /* a second post: ON already set, no second notification */
    assert_int_equal(vmdl_apicv_post(a, 0x56), 0);
    struct vmdl_apicv_stats st;
    vmdl_apicv_get_stats(a, &st);
    assert_int_equal(st.notifications, 1);
    /* processing moves PIR to VIRR and clears ON */
    assert_int_equal(vmdl_apicv_sync_pir(a), 0);
    vmdl_apicv_read_pi_desc(a, d);
    assert_false(d[32] & 1);
    for (int i = 0; i < 32; i++)
        assert_int_equal(d[i], 0);
    assert_true(irr_has(a, 0x55) && irr_has(a, 0x56));
    assert_int_equal(vmdl_apicv_gis(a) & 0xFF, 0x56);
}

/*
 * SN (bit 257).  KVM's __vmx_vcpu_reset() (vmx.c) sets pi_desc.nv and SN at
 * vCPU creation / RESET (not INIT); vmx_vcpu_pi_load() (posted_intr.c)
 * clears SN when the vCPU is loaded and sets ON if PIR holds vectors.
 * KVM's own posting, __vmx_deliver_posted_interrupt(), ignores SN; a device
 * (VT-d posted interrupts) honours it.
 */
static void test_sn_at_creation_reset_and_load(void **state)
{
    (void)state;
    uint8_t d[64];
    assert_int_equal(vmdl_apicv_set_pi_desc(a, NULL, 0, VMDL_POSTED_INTR_VECTOR), 0);
    assert_int_equal(vmdl_apicv_read_pi_desc(a, d), 0);
    assert_true(d[32] & 2);                 /* SN set at creation */
    /* KVM's delivery path ignores SN: ON and a notification anyway */
    wr(a, VMDL_LAPIC_ICR, SELF_IPI(0x50));
    vmdl_apicv_read_pi_desc(a, d);
    assert_true(d[32] & 1);
    struct vmdl_apicv_stats st;
    vmdl_apicv_get_stats(a, &st);
    assert_int_equal(st.notifications, 1);
    assert_int_equal(vmdl_lapic_ack(a), 0x50);
    wr(a, VMDL_LAPIC_EOI, 0);
    /* the first entry loads the vCPU: SN cleared */
    vmdl_lapic_vcpu_entry(a);
    vmdl_apicv_read_pi_desc(a, d);
    assert_false(d[32] & 2);
    /* INIT keeps SN as it is, RESET sets it again */
    vmdl_lapic_reset(a, true);
    vmdl_apicv_read_pi_desc(a, d);
    assert_false(d[32] & 2);
    vmdl_lapic_reset(a, false);
    vmdl_apicv_read_pi_desc(a, d);
    assert_true(d[32] & 2);
    assert_int_equal(d[34], VMDL_POSTED_INTR_VECTOR); /* NV kept */
    /* a device post while SN is set leaves ON clear; loading sets it */
    sw_enable(a);
    assert_int_equal(vmdl_apicv_post(a, 0x66), 0);
    vmdl_apicv_read_pi_desc(a, d);
    assert_false(d[32] & 1);
    assert_int_equal(vmdl_lapic_pending(a), -1);
    vmdl_lapic_vcpu_entry(a);
    vmdl_apicv_read_pi_desc(a, d);
    assert_true((d[32] & 3) == 1);          /* ON, not SN */
    assert_int_equal(vmdl_lapic_pending(a), 0x66);
}

static void test_suppress_notification(void **state)
{
    (void)state;
    uint8_t d[64];
    vmdl_apicv_set_pi_desc(a, NULL, 0, 0xF2);
    assert_int_equal(vmdl_apicv_set_sn(a, true), 0);
    vmdl_apicv_read_pi_desc(a, d);
    assert_true(d[32] & 2); /* SN, bit 257 */
    vmdl_apicv_post(a, 0x70);
    vmdl_apicv_read_pi_desc(a, d);
    assert_false(d[32] & 1); /* no ON while suppressed */
    /* not processed while ON is clear */
    assert_int_equal(vmdl_lapic_pending(a), -1);
    struct vmdl_apicv_stats st;
    vmdl_apicv_get_stats(a, &st);
    assert_int_equal(st.notifications, 0);
    /* clearing SN with PIR bits outstanding sets ON */
    vmdl_apicv_set_sn(a, false);
    vmdl_apicv_read_pi_desc(a, d);
    assert_true(d[32] & 1);
    assert_int_equal(vmdl_lapic_pending(a), 0x70);
}

static void test_guest_memory_descriptor(void **state)
{
    (void)state;
    static uint8_t ram[0x2000];
    struct vmdl_flat_mem flat = {ram, 0x10000, sizeof(ram)};
    struct vmdl_guest_mem mem;
    vmdl_flat_mem_init(&mem, &flat);
    assert_int_equal(vmdl_apicv_set_pi_desc(a, &mem, 0x10020, 0xF2), VMDL_EINVAL);
    assert_int_equal(vmdl_apicv_set_pi_desc(a, &mem, 0x20000, 0xF2), VMDL_ERANGE);
    /* the failed move left the host descriptor in place */
    assert_int_equal(vmdl_apicv_post(a, 0x90), 0);
    assert_int_equal(vmdl_apicv_set_pi_desc(a, &mem, 0x10040, 0xF2), 0);
    assert_true(irr_has(a, 0x90)); /* flushed before the move */
    /* x2APIC: NDST is the 32-bit ID */
    struct vmdl_lapic *b = vmdl_lapic_bus_get(bus, 1);
    to_x2apic(b);
    sw_enable(b);
    assert_int_equal(vmdl_apicv_set_pi_desc(b, &mem, 0x10080, 0xF3), 0);
    vmdl_lapic_vcpu_entry(b);
    assert_int_equal(ram[0x80 + 36], 1);
    assert_int_equal(ram[0x80 + 34], 0xF3);
    assert_int_equal(vmdl_apicv_post(b, 0xA5), 0);
    assert_true(ram[0x80 + 0xA5 / 8] & (1u << (0xA5 % 8)));
    assert_true(ram[0x80 + 32] & 1);
    assert_int_equal(vmdl_lapic_ack(b), 0xA5);
    assert_false(ram[0x80 + 32] & 1);
}

static void test_post_errors(void **state)
{
    (void)state;
    assert_int_equal(vmdl_apicv_post(a, 3), VMDL_ERANGE);
    assert_int_equal(vmdl_apicv_post(NULL, 0x30), VMDL_EINVAL);
    wr(a, VMDL_LAPIC_SVR, 0xFF);
    assert_int_equal(vmdl_apicv_post(a, 0x30), VMDL_ESTATE);
    /* a bus without APICv */
    struct vmdl_lapic_bus *b2 = mkbus(1);
    struct vmdl_lapic *x = vmdl_lapic_bus_get(b2, 0);
    assert_int_equal(vmdl_apicv_post(x, 0x30), VMDL_ESTATE);
    assert_non_null(strstr(vmdl_last_error(), "not using APICv"));
    assert_int_equal(vmdl_lapic_apicv_inhibits(x), VMDL_APICV_INHIBIT_DISABLED);
    vmdl_lapic_bus_destroy(b2);
    uint64_t bm[4];
    assert_int_equal(vmdl_apicv_set_eoi_exit_bitmap(a, NULL), VMDL_EINVAL);
    assert_int_equal(vmdl_apicv_get_eoi_exit_bitmap(a, NULL), VMDL_EINVAL);
    assert_int_equal(vmdl_apicv_get_eoi_exit_bitmap(a, bm), 0);
    assert_int_equal(vmdl_apicv_set_tpr_threshold(a, 0x10), VMDL_ERANGE);
    assert_int_equal(vmdl_apicv_get_stats(a, NULL), VMDL_EINVAL);
    assert_int_equal(vmdl_apicv_read_pi_desc(a, NULL), VMDL_EINVAL);
    assert_int_equal(vmdl_apicv_virtual_eoi(a, NULL, NULL, NULL), VMDL_EINVAL);
}

static void test_eoi_exit_bitmap(void **state)
{
    (void)state;
    uint64_t bm[4] = {0, VMDL_BIT(0x48 - 64), 0, 0};
    assert_int_equal(vmdl_apicv_set_eoi_exit_bitmap(a, bm), 0);
    wr(a, VMDL_LAPIC_ICR, SELF_IPI(0x48));
    assert_int_equal(vmdl_lapic_ack(a), 0x48);
    wr(a, VMDL_LAPIC_EOI, 0);
    struct vmdl_apicv_stats st;
    vmdl_apicv_get_stats(a, &st);
    assert_int_equal(st.eoi_exits, 1);
    wr(a, VMDL_LAPIC_ICR, SELF_IPI(0x49));
    vmdl_lapic_ack(a);
    wr(a, VMDL_LAPIC_EOI, 0);
    vmdl_apicv_get_stats(a, &st);
    assert_int_equal(st.eoi_exits, 1);
    assert_int_equal(st.virtual_eois, 2);
}

static void test_virtual_eoi_uses_svi(void **state)
{
    (void)state;
    wr(a, VMDL_LAPIC_ICR, SELF_IPI(0xE0));
    assert_int_equal(vmdl_lapic_ack(a), 0xE0);
    /* a stale guest interrupt status (SVI 0): nothing ends, SVI catches up */
    uint16_t gis = 0;
    bool ex = true;
    assert_int_equal(vmdl_apicv_virtual_eoi(a, &gis, NULL, &ex), -1);
    assert_false(ex);
    assert_true(isr_has(a, 0xE0));
    assert_int_equal(gis >> 8, 0xE0);
    /* with SVI right it ends 0xE0 */
    assert_int_equal(vmdl_apicv_virtual_eoi(a, &gis, NULL, NULL), 0xE0);
    assert_false(isr_has(a, 0xE0));
    assert_int_equal(gis, 0);
}

static void test_tpr_threshold(void **state)
{
    (void)state;
    assert_int_equal(vmdl_apicv_set_tpr_threshold(a, 5), 0);
    assert_int_equal(vmdl_apicv_tpr_threshold(a), 5);
    vmdl_lapic_set_cr8(a, 7);
    vmdl_lapic_set_cr8(a, 4);
    struct vmdl_apicv_stats st;
    vmdl_apicv_get_stats(a, &st);
    assert_int_equal(st.tpr_below_threshold, 1);
}

static unsigned upd_calls, isr_calls, mode_calls;
static bool upd_last;
static int upd_isr;

static void h_upd(void *o, struct vmdl_lapic *x, bool on, int max_isr)
{
    (void)o;
    (void)x;
    upd_calls++;
    upd_last = on;
    upd_isr = max_isr;
}

static void h_isr(void *o, struct vmdl_lapic *x, int m)
{
    (void)o;
    (void)x;
    (void)m;
    isr_calls++;
}

static void h_mode(void *o, struct vmdl_lapic *x, enum vmdl_lapic_mode m)
{
    (void)o;
    (void)x;
    (void)m;
    mode_calls++;
}

static void test_inhibits(void **state)
{
    (void)state;
    struct vmdl_lapic_hooks h = {h_upd, h_isr, h_mode, NULL};
    upd_calls = isr_calls = mode_calls = 0;
    vmdl_lapic_set_hooks(a, &h);
    wr(a, VMDL_LAPIC_ICR, SELF_IPI(0xE0));
    assert_int_equal(vmdl_lapic_ack(a), 0xE0);
    assert_int_equal(isr_calls, 1);
    /* changing the xAPIC ID inhibits APICv VM-wide */
    wr(a, VMDL_LAPIC_ID, 1u << 24);
    assert_false(vmdl_lapic_apicv_active(a));
    assert_false(vmdl_lapic_apicv_active(vmdl_lapic_bus_get(bus, 1)));
    assert_int_equal(vmdl_lapic_apicv_inhibits(a), VMDL_APICV_INHIBIT_APIC_ID_MODIFIED);
    assert_int_equal(upd_calls, 1);
    assert_false(upd_last);
    /* still delivers (software backend) */
    wr(a, VMDL_LAPIC_ICR, SELF_IPI(0xF0));
    assert_int_equal(vmdl_lapic_ack(a), 0xF0);
    assert_int_equal(isr_calls, 1); /* no SVI updates while inhibited */
    wr(a, VMDL_LAPIC_EOI, 0);
    /* x2APIC: the ID is the initial one again, APICv comes back, and the
     * update carries the in-service vector for SVI */
    to_x2apic(a);
    assert_int_equal(mode_calls, 1);
    assert_true(vmdl_lapic_apicv_active(a));
    assert_int_equal(upd_calls, 2);
    assert_true(upd_last);
    assert_int_equal(upd_isr, 0xE0);
    assert_int_equal(vmdl_apicv_gis(a) >> 8, 0xE0);
    /* relocating the base inhibits for good */
    struct vmdl_lapic *b = vmdl_lapic_bus_get(bus, 1);
    wrmsr(b, 0x1B, 0xFED00000ull | VMDL_APIC_BASE_EN);
    assert_int_equal(vmdl_lapic_apicv_inhibits(a), VMDL_APICV_INHIBIT_APIC_BASE_MODIFIED);
    wrmsr(b, 0x1B, 0xFEE00000ull | VMDL_APIC_BASE_EN);
    assert_false(vmdl_lapic_apicv_active(a));
    vmdl_lapic_set_hooks(a, NULL);
}

static void test_state_with_pir(void **state)
{
    (void)state;
    vmdl_apicv_set_sn(a, true);
    vmdl_apicv_post(a, 0x77); /* sits in PIR */
    vmdl_apicv_set_sn(a, false);
    uint8_t *blob;
    size_t len;
    assert_int_equal(vmdl_lapic_export(a, &blob, &len), 0);
    vmdl_lapic_reset(a, false);
    assert_int_equal(vmdl_lapic_import(a, blob, len), 0);
    assert_true(irr_has(a, 0x77));
    assert_int_equal(vmdl_lapic_ack(a), 0x77);
    free(blob);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_rvi_svi_track_irr_isr), T(test_host_descriptor_bits),
        T(test_suppress_notification), T(test_guest_memory_descriptor),
        T(test_post_errors),           T(test_eoi_exit_bitmap),
        T(test_virtual_eoi_uses_svi),  T(test_tpr_threshold),
        T(test_inhibits),              T(test_state_with_pir),
        T(test_sn_at_creation_reset_and_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
