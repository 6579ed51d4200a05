/* SPDX-License-Identifier: MIT */
/*
 * vmx_sites: VMREAD/VMWRITE of L1 in loops, completed inside the engine
 * once they have trapped at an address (src/machine/x86/site.c) and, while
 * no virtual-time deadline is due, without the work the run loop does
 * between exits (KVM runs them through the shadow VMCS without an exit;
 * run.c, vmdl__hook_no_exit).  test_machine_x86 runs this guest with and
 * without trap sites and compares the console and the final instruction
 * count:
 *   - a field of every width (16-bit, 32-bit, 64-bit and its _HIGH half,
 *     natural) written and read back with a value that changes every round,
 *     RFLAGS after each; an unsupported encoding read and written:
 *     VMfailValid with error 12 (VMREAD/VMWRITE of an unsupported
 *     component), each round;
 *   - TSC-deadline interrupts landing in a loop of VMWRITE/VMREAD, with the
 *     return RIP and the TSC (retired instructions) of each landing;
 *   - the same with IF clear while the deadline passes: the interrupt waits
 *     and lands right after the POPF that sets IF (the interrupt window).
 * Run: virtmodel-run vmx_sites.elf --models vmx,lapic
 */
#include "guest.h"

#define APIC 0xFEE00000ull
#define VEC 0x42
#define ROUNDS 24

#define ARITH 0x8d5ull
#define ZF (1ull << 6)

#define GUEST_ES_SELECTOR 0x0800
#define GUEST_IA32_DEBUGCTL 0x2802
#define VM_INSTRUCTION_ERROR 0x4400
#define GUEST_ES_LIMIT 0x4800
#define GUEST_RIP 0x681e
#define UNSUPPORTED 0x0801      /* a _HIGH access to a 16-bit field */

static uint8_t vmxon_region[4096] __attribute__((aligned(4096)));
static uint8_t vmcs[4096] __attribute__((aligned(4096)));

static volatile unsigned hits;
static uint64_t where[2 * ROUNDS], when[2 * ROUNDS];

/* One address each for VMREAD and VMWRITE: after the first trap every call
 * goes through the trap site. */
static __attribute__((noinline)) uint64_t vmread(uint64_t enc, uint64_t *val)
{
    uint64_t fl;
    __asm__ volatile("vmread %2, %1\n\tpushfq\n\tpopq %0"
                     : "=&r"(fl), "=r"(*val) : "r"(enc) : "cc");
    return fl;
}

static __attribute__((noinline)) uint64_t vmwrite(uint64_t enc, uint64_t val)
{
    uint64_t fl;
    __asm__ volatile("vmwrite %2, %1\n\tpushfq\n\tpopq %0"
                     : "=&r"(fl) : "r"(enc), "r"(val) : "cc");
    return fl;
}

static uint64_t m64(int op, uint64_t *p)
{
    uint64_t fl;
    if (op == 0)
        __asm__ volatile("vmxon %1\n\tpushfq\n\tpopq %0" : "=r"(fl) : "m"(*p) : "cc", "memory");
    else if (op == 1)
        __asm__ volatile("vmclear %1\n\tpushfq\n\tpopq %0" : "=r"(fl) : "m"(*p) : "cc", "memory");
    else
        __asm__ volatile("vmptrld %1\n\tpushfq\n\tpopq %0" : "=r"(fl) : "m"(*p) : "cc", "memory");
    return fl;
}

static void on_timer(struct rt_frame *f)
{
    if (hits < 2 * ROUNDS) {
        where[hits] = f->rip;
        when[hits] = rdmsr(0x10);
    }
    hits++;
    mmio_write32(APIC + 0xB0, 0); /* EOI */
}

static int vmx_on(void)
{
    uint32_t rev = (uint32_t)rdmsr(0x480) & 0x7fffffffu;
    if (!(rdmsr(0x3A) & 1))
        wrmsr(0x3A, 5);
    write_cr0((read_cr0() | rdmsr(0x486)) & rdmsr(0x487));
    write_cr4((read_cr4() | rdmsr(0x488)) & rdmsr(0x489));
    *(uint32_t *)vmxon_region = rev;
    *(uint32_t *)vmcs = rev;
    uint64_t p = (uint64_t)(uintptr_t)vmxon_region, q = (uint64_t)(uintptr_t)vmcs;
    return (m64(0, &p) | m64(1, &q) | m64(2, &q)) & ARITH ? -1 : 0;
}

/* Every width: write, read back, print value and RFLAGS. */
static void widths(unsigned r)
{
    static const uint16_t enc[] = {GUEST_ES_SELECTOR, GUEST_ES_LIMIT, GUEST_IA32_DEBUGCTL,
                                   GUEST_IA32_DEBUGCTL | 1, GUEST_RIP};
    for (unsigned i = 0; i < sizeof(enc) / sizeof(enc[0]); i++) {
        uint64_t val = 0x8877665544332211ull * (r + 1) + i, got = 0;
        uint64_t fw = vmwrite(enc[i], val);
        uint64_t fr = vmread(enc[i], &got);
        CHECK(!((fw | fr) & ARITH), "field 0x%x: RFLAGS 0x%x / 0x%x", enc[i],
              (unsigned)fw, (unsigned)fr);
        rt_printf("%u/%x: %x%08x fl %x %x\n", r, enc[i], (unsigned)(got >> 32),
                  (unsigned)got, (unsigned)fw, (unsigned)fr);
    }
    uint64_t v = 0, err = 0;
    uint64_t fr = vmread(UNSUPPORTED, &v);
    CHECK((fr & ARITH) == ZF, "VMREAD 0x%x: RFLAGS 0x%x, want VMfailValid", UNSUPPORTED,
          (unsigned)fr);
    vmread(VM_INSTRUCTION_ERROR, &err);
    CHECK(err == 12, "VMREAD 0x%x: error %u, want 12", UNSUPPORTED, (unsigned)err);
    uint64_t fw = vmwrite(UNSUPPORTED, r);
    vmread(VM_INSTRUCTION_ERROR, &err);
    CHECK((fw & ARITH) == ZF && err == 12, "VMWRITE 0x%x: RFLAGS 0x%x error %u",
          UNSUPPORTED, (unsigned)fw, (unsigned)err);
}

int main(void)
{
    if (vmx_on()) {
        rt_puts("vmx_sites: VMX could not be entered (attach the vmx model)\n");
        return 1;
    }
    for (unsigned r = 0; r < 4; r++)
        widths(r);
    rt_set_handler(VEC, on_timer);
    mmio_write32(APIC + 0xF0, 0x1FF);
    mmio_write32(APIC + 0x320, (2u << 17) | VEC); /* TSC-deadline mode */
    uint64_t sum = 0, v = 0;
    sti();
    for (unsigned r = 0; r < ROUNDS; r++) {
        unsigned before = hits;
        wrmsr(0x6E0, rdmsr(0x10) + 9 + 5 * r);
        for (unsigned i = 0; hits == before && i < 1000; i++) {
            sum += vmwrite(GUEST_RIP, sum + i);
            sum += vmread(GUEST_RIP, &v) + v;
        }
    }
    for (unsigned r = 0; r < ROUNDS; r++) {
        unsigned before = hits;
        cli();
        uint64_t due = rdmsr(0x10) + 9 + 5 * r;
        wrmsr(0x6E0, due);
        for (unsigned i = 0; i < 4 + r; i++)
            sum += vmread(GUEST_RIP, &v) + v;
        while (rdmsr(0x10) < due)
            sum += vmread(GUEST_ES_LIMIT, &v) + v;
        __asm__ volatile("pushfq; orq $0x200, (%%rsp); popfq" ::: "memory", "cc");
        for (unsigned i = 0; hits == before && i < 1000; i++)
            sum += vmread(GUEST_RIP, &v) + v;
    }
    cli();
    mmio_write32(APIC + 0x320, 1u << 16);
    CHECK(hits == 2 * ROUNDS, "%u interrupts for %u deadlines", hits, 2 * ROUNDS);
    for (unsigned r = 0; r < 2 * ROUNDS && r < hits; r++)
        rt_printf("%u: rip 0x%x tsc %u\n", r, (unsigned)where[r], (unsigned)when[r]);
    rt_printf("vmx_sites: sum 0x%x%08x, %s\n", (unsigned)(sum >> 32), (unsigned)sum,
              rt_failures ? "FAILED" : "ok");
    return rt_failures ? 1 : 0;
}
