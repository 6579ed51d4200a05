/* SPDX-License-Identifier: MIT */
/*
 * hostile_cr: reserved bits and illegal values in the control registers and
 * EFER.  Every write below is one the architecture refuses with #GP(0) (or
 * #UD for a control register that does not exist); the guest catches each
 * fault in its own IDT handler, checks the register kept its value, and exits
 * 0 when the machine behaved.  Run: virtmodel-run hostile_cr.elf --models none
 */
#include "hostile_try.h"

#define MSR_EFER 0xC0000080u

static int try_cr0(uint64_t v) { return HX_TRY("mov %0, %%cr0", , "r"(v)); }
static int try_cr3(uint64_t v) { return HX_TRY("mov %0, %%cr3", , "r"(v)); }
static int try_cr4(uint64_t v) { return HX_TRY("mov %0, %%cr4", , "r"(v)); }
static int try_cr8(uint64_t v) { return HX_TRY("mov %0, %%cr8", , "r"(v)); }

static uint64_t read_cr3(void)
{
    uint64_t v;
    __asm__ volatile("mov %%cr3, %0" : "=r"(v));
    return v;
}

int main(void)
{
    hx_init();
    const uint64_t cr0 = read_cr0(), cr3 = read_cr3(), cr4 = read_cr4();
    const uint64_t efer = rdmsr(MSR_EFER);
    uint64_t v;

    /* CR0: bits 63:32 are reserved; PG may not be cleared in 64-bit mode;
     * PG needs PE; NW needs CD. */
    EXPECT_VEC(try_cr0(cr0 | (1ull << 32)), HX_GP, "CR0 bit 32");
    EXPECT_VEC(try_cr0(cr0 | (1ull << 63)), HX_GP, "CR0 bit 63");
    EXPECT_VEC(try_cr0(cr0 & ~(1ull << 31)), HX_GP, "CR0.PG cleared in long mode");
    EXPECT_VEC(try_cr0(cr0 & ~1ull), HX_GP, "CR0.PE cleared with PG set");
    EXPECT_VEC(try_cr0((cr0 | (1ull << 29)) & ~(1ull << 30)), HX_GP, "CR0.NW without CD");
    CHECK(read_cr0() == cr0, "CR0 changed by refused writes: 0x%lx -> 0x%lx", cr0, read_cr0());

    /* CR4: reserved bits, LA57 toggled in long mode, VMXE without VMX in
     * CPUID (no vmx model), PAE cleared in long mode. */
    EXPECT_VEC(try_cr4(cr4 | (1ull << 31)), HX_GP, "CR4 bit 31");
    EXPECT_VEC(try_cr4(cr4 | (1ull << 63)), HX_GP, "CR4 bit 63");
    EXPECT_VEC(try_cr4(cr4 | (1ull << 12)), HX_GP, "CR4.LA57 in long mode");
    EXPECT_VEC(try_cr4(cr4 | (1ull << 13)), HX_GP, "CR4.VMXE without CPUID.VMX");
    EXPECT_VEC(try_cr4(cr4 & ~(1ull << 5)), HX_GP, "CR4.PAE cleared in long mode");
    CHECK(read_cr4() == cr4, "CR4 changed by refused writes: 0x%lx -> 0x%lx", cr4, read_cr4());

    /* CR3 bits 63:52 are reserved (without PCIDE). */
    EXPECT_VEC(try_cr3(cr3 | (1ull << 62)), HX_GP, "CR3 bit 62");
    CHECK(read_cr3() == cr3, "CR3 changed by a refused write");

    /* CR8 (TPR): only bits 3:0 exist. */
    EXPECT_VEC(try_cr8(16), HX_GP, "CR8 = 16");
    EXPECT_VEC(try_cr8(~0ull), HX_GP, "CR8 = all ones");
    CHECK(read_cr8() == 0, "CR8 changed by refused writes: %lu", read_cr8());

    /* Control registers that do not exist: #UD both ways. */
    EXPECT_VEC(HX_TRY("mov %0, %%cr1", , "r"(0ull)), HX_UD, "MOV to CR1");
    EXPECT_VEC(HX_TRY("mov %%cr5, %0", "=r"(v), ), HX_UD, "MOV from CR5");
    EXPECT_VEC(HX_TRY("mov %0, %%cr9", , "r"(0ull)), HX_UD, "MOV to CR9");

    /* EFER: reserved bits, and LME may not change while paging is on. */
    EXPECT_VEC(wrmsr_safe(MSR_EFER, efer | (1ull << 1)), HX_GP, "EFER bit 1");
    EXPECT_VEC(wrmsr_safe(MSR_EFER, efer | (1ull << 9)), HX_GP, "EFER bit 9");
    EXPECT_VEC(wrmsr_safe(MSR_EFER, efer | (1ull << 12)), HX_GP, "EFER.SVME on Intel");
    EXPECT_VEC(wrmsr_safe(MSR_EFER, efer | (1ull << 63)), HX_GP, "EFER bit 63");
    EXPECT_VEC(wrmsr_safe(MSR_EFER, efer & ~(1ull << 8)), HX_GP, "EFER.LME cleared while paging");
    CHECK(rdmsr(MSR_EFER) == efer, "EFER changed by refused writes: 0x%lx -> 0x%lx",
          efer, rdmsr(MSR_EFER));

    /* XSETBV without CR4.OSXSAVE: #UD. */
    EXPECT_VEC(HX_TRY("xsetbv", , HX_ARGS("c"(0), "a"(3), "d"(0))), HX_UD, "XSETBV without OSXSAVE");

    rt_printf("hostile_cr: %s\n", rt_failures ? "FAILED" : "every refused write faulted, state intact");
    return 0;
}
