/* SPDX-License-Identifier: MIT */
/*
 * INIT and SIPI around VMX root operation, as KVM handles them (SDM 24.8:
 * INIT is blocked in VMX root operation):
 *
 *   vCPU 1 executes VMXON; vCPU 0 sends it INIT   vCPU 1 runs on: the INIT
 *                                                 is latched
 *   vCPU 0 sends a SIPI                           dropped (INIT latched, the
 *                                                 CPU is not waiting for SIPI)
 *   vCPU 1 executes VMXOFF                        the latched INIT acts: vCPU
 *                                                 1 stops before its next
 *                                                 instruction and waits for
 *                                                 SIPI (the dropped SIPI does
 *                                                 not start it)
 *   vCPU 0 sends a SIPI                           vCPU 1 starts again
 *
 * Run: virtmodel-run vmx_init.elf --models lapic,vmx --vcpus 2
 */
#include "guest.h"

#define APIC 0xFEE00000ull
#define ICR_INIT ((5u << 8) | (1u << 14))   /* INIT, level assert */
#define ICR_SIPI_0x8000 ((6u << 8) | 0x08)  /* SIPI, start page 0x8000 */

static volatile unsigned stage, ap_starts;
static uint8_t vmxon_region[4096] __attribute__((aligned(4096)));

static void send_ipi(uint8_t dest, uint32_t low)
{
    mmio_write32(APIC + 0x310, (uint32_t)dest << 24);
    mmio_write32(APIC + 0x300, low);
}

static bool wait_for(unsigned want)
{
    for (unsigned spin = 0; spin < 400000; spin++) {
        if (stage == want)
            return true;
        pause();
    }
    return stage == want;
}

/* VMXON with CR0/CR4 as IA32_VMX_CR0/CR4_FIXED0/1 ask; false on failure. */
static bool vmxon(void)
{
    if (!(rdmsr(0x3A) & 1))
        wrmsr(0x3A, 5);
    write_cr0((read_cr0() | rdmsr(0x486)) & rdmsr(0x487));
    write_cr4((read_cr4() | rdmsr(0x488) | (1ull << 13)) & rdmsr(0x489));
    *(uint32_t *)vmxon_region = (uint32_t)rdmsr(0x480) & 0x7FFFFFFFu;
    uint64_t pa = (uint64_t)(uintptr_t)vmxon_region, rflags;
    __asm__ volatile("vmxon %1\n\tpushfq\n\tpopq %0" : "=r"(rflags) : "m"(pa) : "memory", "cc");
    return !(rflags & 0x41);            /* CF or ZF: VMfail */
}

void ap_main(unsigned cpu)
{
    (void)cpu;
    if (__atomic_add_fetch(&ap_starts, 1, __ATOMIC_SEQ_CST) > 1)
        for (;;)
            hlt();                      /* the restart: nothing more to do */
    if (!vmxon()) {
        stage = 99;
        for (;;)
            hlt();
    }
    stage = 1;
    while (stage != 2)
        pause();
    stage = 3;                          /* INIT sent, and this CPU runs on */
    while (stage != 4)
        pause();
    stage = 5;                          /* SIPI sent, still running */
    while (stage != 6)
        pause();
    __asm__ volatile("vmxoff" ::: "memory", "cc");
    stage = 7;                          /* never: INIT acts at VMXOFF */
    for (;;)
        pause();
}

int main(void)
{
    uint32_t a, b, c, d;
    cpuid_count(1, 0, &a, &b, &c, &d);
    CHECK(c & (1u << 5), "CPUID.1:ECX.VMX clear (attach the vmx model)");
    mmio_write32(APIC + 0xF0, 0x1FF);
    CHECK(wait_for(1), "vCPU 1 did not enter VMX operation (stage %u)", stage);
    if (rt_failures)
        return 1;
    send_ipi(1, ICR_INIT);
    stage = 2;
    CHECK(wait_for(3), "vCPU 1 stopped after INIT in VMX root operation (stage %u)", stage);
    rt_printf("vmx_init: INIT latched in VMX root operation, vCPU 1 runs on\n");
    send_ipi(1, ICR_SIPI_0x8000);
    stage = 4;
    CHECK(wait_for(5), "vCPU 1 stopped after SIPI in VMX root operation (stage %u)", stage);
    CHECK(ap_starts == 1, "SIPI restarted vCPU 1 in VMX root operation");
    rt_printf("vmx_init: SIPI dropped in VMX root operation\n");
    stage = 6;
    CHECK(!wait_for(7), "vCPU 1 ran past VMXOFF: the latched INIT did not act");
    CHECK(ap_starts == 1, "vCPU 1 restarted without a new SIPI (%u starts)", ap_starts);
    rt_printf("vmx_init: VMXOFF released the INIT, vCPU 1 waits for SIPI\n");
    send_ipi(1, ICR_SIPI_0x8000);
    for (unsigned spin = 0; spin < 400000 && ap_starts < 2; spin++)
        pause();
    CHECK(ap_starts == 2, "SIPI did not restart vCPU 1 (%u starts)", ap_starts);
    rt_printf("vmx_init: SIPI restarted vCPU 1 (%u starts)\n", ap_starts);
    return rt_failures ? 1 : 0;
}
