/* SPDX-License-Identifier: MIT */
/*
 * Exceptions reach the guest's own IDT handlers with the architectural
 * frame: #UD (UD2), #GP(0) (an MSR nobody claims, a reserved CR4 bit), #DE
 * (divide by zero), #PF above the identity-mapped 4 GiB with CR2, and
 * INT3 as a trap.
 */
#include "guest.h"

static volatile unsigned last_vector;
static volatile uint64_t last_error, last_rip;
static volatile unsigned skip_len = 2;

static void skip_handler(struct rt_frame *f)
{
    last_vector = (unsigned)f->vector;
    last_error = f->error_code;
    last_rip = f->rip;
    /* Resume after the faulting instruction, whose length each test sets
     * (INT3 is a trap: its frame already points past it). */
    if (f->vector != 3)
        f->rip += skip_len;
}

int main(void)
{
    for (unsigned v = 0; v < 32; v++)
        rt_set_handler(v, skip_handler);

    __asm__ volatile("ud2");
    CHECK(last_vector == 6, "UD2 gave vector %u, want 6", last_vector);

    uint64_t x;
    CHECK(rdmsr_safe(0xDEAD, &x) == 13, "RDMSR of an unclaimed MSR: want #GP");
    last_vector = 0;
    __asm__ volatile("mov $0xDEAD, %%ecx; rdmsr" ::: "rax", "rdx", "rcx");
    CHECK(last_vector == 13 && last_error == 0, "RDMSR fault: vector %u error %lx",
          last_vector, last_error);

    last_vector = 0;
    skip_len = 3; /* mov %reg, %cr4 is 0F 22 /r */
    uint64_t cr4 = read_cr4();
    __asm__ volatile("mov %0, %%cr4" : : "r"(cr4 | (1ull << 31)) : "memory");
    CHECK(last_vector == 13, "reserved CR4 bit: vector %u, want 13", last_vector);
    CHECK(read_cr4() == cr4, "CR4 changed by a faulting write");
    skip_len = 2;

    last_vector = 0;
    __asm__ volatile("xor %%edx, %%edx; mov $1, %%eax; xor %%ecx, %%ecx; div %%ecx"
                     ::: "rax", "rdx", "rcx");
    CHECK(last_vector == 0, "divide error: vector %u, want 0 (#DE)", last_vector);

    last_vector = 99;
    __asm__ volatile("int3");
    CHECK(last_vector == 3, "INT3: vector %u, want 3", last_vector);

    /* A load from above 4 GiB: nothing is mapped there, so #PF with CR2.
     * mov (%rax), %rax is 3 bytes (48 8b 00). */
    last_vector = 0;
    skip_len = 3;
    __asm__ volatile("movabs $0x500000000, %%rax; mov (%%rax), %%rax" ::: "rax");
    uint64_t cr2;
    __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
    CHECK(last_vector == 14, "load above 4 GiB: vector %u, want 14 (#PF)", last_vector);
    CHECK(cr2 == 0x500000000ull, "CR2 = 0x%lx", cr2);
    CHECK((last_error & 1) == 0, "#PF error code 0x%lx: P must be 0", last_error);

    /* IF is cleared in an interrupt-gate handler and restored by IRETQ. */
    sti();
    CHECK(read_rflags() & (1u << 9), "STI did not set IF");
    cli();

    rt_printf("faults: %s\n", rt_failures ? "FAILED" : "all passed");
    return 0;
}
