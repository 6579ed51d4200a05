/* SPDX-License-Identifier: MIT */
/*
 * IPIs through the xAPIC ICR: a self-IPI, an NMI to self, and with two
 * vCPUs a ping-pong between them plus an INIT/SIPI restart of vCPU 1.
 * Run: virtmodel-run lapic_ipi.elf --models lapic --vcpus 2 [--apicv]
 */
#include "guest.h"

#define APIC 0xFEE00000ull
#define SELF_VEC 0x50
#define PING_VEC 0x51
#define PONG_VEC 0x52

static volatile unsigned self_hits, nmi_hits, pings, pongs, ap_starts;

static uint32_t apic_read(unsigned off) { return mmio_read32(APIC + off); }
static void apic_write(unsigned off, uint32_t v) { mmio_write32(APIC + off, v); }

static void send_ipi(uint8_t dest, uint32_t low)
{
    apic_write(0x310, (uint32_t)dest << 24);
    apic_write(0x300, low);
}

static void on_self(struct rt_frame *f) { (void)f; self_hits++; apic_write(0xB0, 0); }
static void on_nmi(struct rt_frame *f) { (void)f; nmi_hits++; }
static void on_pong(struct rt_frame *f) { (void)f; pongs++; apic_write(0xB0, 0); }
static void on_ping(struct rt_frame *f)
{
    (void)f;
    pings++;
    apic_write(0xB0, 0);
    send_ipi(0, PONG_VEC); /* reply to vCPU 0 */
}

void ap_main(unsigned cpu)
{
    (void)cpu;
    __atomic_fetch_add(&ap_starts, 1, __ATOMIC_SEQ_CST);
    apic_write(0xF0, 0x1FF);
    for (;;)
        sti_hlt();
}

static bool wait_for(volatile unsigned *v, unsigned want)
{
    for (unsigned spin = 0; spin < 200000; spin++) {
        if (*v >= want)
            return true;
        pause();
    }
    return *v >= want;
}

int main(void)
{
    rt_set_handler(SELF_VEC, on_self);
    rt_set_handler(2, on_nmi);
    rt_set_handler(PING_VEC, on_ping);
    rt_set_handler(PONG_VEC, on_pong);
    apic_write(0xF0, 0x1FF);
    /* self-IPI with the shorthand */
    apic_write(0x300, (1u << 18) | SELF_VEC);
    CHECK(apic_read(0x200 + (SELF_VEC / 32) * 0x10) & (1u << (SELF_VEC % 32)),
          "self-IPI not in IRR");
    /* HLT hands control to the run loop, which delivers what is pending */
    sti_hlt();
    cli();
    CHECK(self_hits == 1, "self-IPI delivered %u times", self_hits);
    /* NMI to our own APIC ID; RDMSR traps, and the NMI is taken on the
     * way back into the guest */
    send_ipi((uint8_t)(apic_read(0x20) >> 24), 4u << 8);
    (void)rdmsr(0x1B);
    CHECK(nmi_hits == 1, "NMI delivered %u times", nmi_hits);
    rt_printf("lapic_ipi: self-IPI and NMI ok\n");

    if (!wait_for(&ap_starts, 1)) {
        rt_printf("lapic_ipi: one vCPU, done\n");
        return rt_failures ? 1 : 0;
    }
    for (unsigned i = 1; i <= 3; i++) {
        send_ipi(1, PING_VEC);
        while (pongs < i)
            sti_hlt(), cli();
    }
    CHECK(pings == 3 && pongs == 3, "ping %u pong %u", pings, pongs);
    rt_printf("lapic_ipi: 3 ping-pongs between vCPU 0 and vCPU 1\n");
    /* INIT, then SIPI vector 8 (start page 0x8000): vCPU 1 starts again */
    send_ipi(1, (5u << 8) | (1u << 14) | (1u << 15));
    send_ipi(1, (6u << 8) | 0x08);
    CHECK(wait_for(&ap_starts, 2), "vCPU 1 did not restart after INIT/SIPI");
    /* its APIC came back from INIT: it answers again once re-enabled */
    for (unsigned spin = 0; spin < 100000; spin++)
        pause();
    send_ipi(1, PING_VEC);
    while (pongs < 4)
        sti_hlt(), cli();
    rt_printf("lapic_ipi: INIT/SIPI restarted vCPU 1 (%u starts)\n", ap_starts);
    return 0;
}
