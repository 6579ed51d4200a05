/* SPDX-License-Identifier: MIT */
/*
 * vmx_bench: guest side of bench/vmx/bench_vmx_guest.  Enters VMX operation
 * with a current VMCS, then runs N RDMSRs of IA32_VMX_BASIC, N VMREADs and N
 * VMWRITEs, writing a marker to MSR 0x40000100 (claimed by the bench
 * host) between the phases so the host can time each one.  Exit 0, or 1 if a VMX instruction failed.
 */
#include "guest.h"

#define N 100000u
#define MARK_MSR 0x40000100u
#define GUEST_RIP 0x681e

static uint8_t vmxon_region[4096] __attribute__((aligned(4096)));
static uint8_t vmcs[4096] __attribute__((aligned(4096)));

int main(void)
{
    uint32_t rev = (uint32_t)rdmsr(0x480) & 0x7fffffffu;
    if (!(rdmsr(0x3a) & 1))
        wrmsr(0x3a, 5);
    write_cr0((read_cr0() | rdmsr(0x486)) & rdmsr(0x487));
    write_cr4((read_cr4() | rdmsr(0x488)) & rdmsr(0x489));
    *(uint32_t *)vmxon_region = rev;
    *(uint32_t *)vmcs = rev;
    uint64_t p = (uint64_t)(uintptr_t)vmxon_region, q = (uint64_t)(uintptr_t)vmcs;
    uint64_t fl;
    __asm__ volatile("vmxon %1\n\tvmclear %2\n\tvmptrld %2\n\tpushfq\n\tpopq %0"
                     : "=r"(fl) : "m"(p), "m"(q) : "cc", "memory");
    if (fl & 0x41)
        return 1;
    uint64_t enc = GUEST_RIP, v = 0, acc = 0;
    wrmsr(MARK_MSR, 0);
    for (unsigned i = 0; i < N; i++)
        acc += rdmsr(0x480);
    wrmsr(MARK_MSR, 1);
    for (unsigned i = 0; i < N; i++) {
        __asm__ volatile("vmread %1, %0" : "=r"(v) : "r"(enc) : "cc");
        acc += v;
    }
    wrmsr(MARK_MSR, 2);
    for (unsigned i = 0; i < N; i++)
        __asm__ volatile("vmwrite %1, %0" : : "r"(enc), "r"((uint64_t)i) : "cc");
    wrmsr(MARK_MSR, 3);
    __asm__ volatile("vmread %1, %0" : "=r"(v) : "r"(enc) : "cc");
    rt_printf("vmx_bench: %u iterations per phase, last GUEST_RIP %lu (%lx)\n", N,
              (unsigned long)v, (unsigned long)(acc & 0xff));
    return v == N - 1 ? 0 : 1;
}
