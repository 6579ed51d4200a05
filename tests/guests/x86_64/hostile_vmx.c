/* SPDX-License-Identifier: MIT */
/*
 * hostile_vmx: VMX abused by an L1 that does everything in the wrong order.
 *   - writes to the read-only VMX capability MSRs 0x480-0x491: #GP;
 *   - every VMX instruction before VMXON: #UD (outside VMX operation), and
 *     VMXON itself with CR4.VMXE clear: #UD;
 *   - CR0/CR4 violating IA32_VMX_CR0/CR4_FIXED0 at VMXON: #GP;
 *   - VMXON on an unaligned region or one with the wrong revision:
 *     VMfailInvalid (CF=1);
 *   - in VMX root with no current VMCS: VMREAD, VMWRITE, VMLAUNCH, VMRESUME
 *     fail with VMfailInvalid; VMPTRST stores all ones; VMXON again and
 *     VMPTRLD of the VMXON region fail with VMfailInvalid (the error numbers
 *     15 and 10 need a current VMCS to be reported: VMfailValid);
 *   - INVEPT/INVVPID: #UD when IA32_VMX_PROCBASED_CTLS2 / EPT_VPID_CAP do
 *     not offer them (core2), else, with no current VMCS, a bad descriptor
 *     (EPTP 0, VPID 0) gives VMfailInvalid and a type the MSR does not list
 *     VMfailInvalid too (error 28 needs a current VMCS); VMFUNC outside
 *     non-root operation: #UD;
 *   - after VMXOFF, VMREAD is #UD again.
 * Run: virtmodel-run hostile_vmx.elf --models vmx
 */
#include "hostile_try.h"

#define CF (1ull << 0)
#define ZF (1ull << 6)
#define ARITH 0x8d5ull

static uint8_t vmxon_region[8192] __attribute__((aligned(4096)));

static uint64_t fl;
static uint64_t scratch;

/* A VMX instruction followed by PUSHF: RFLAGS lands in fl (operand %0);
 * `ins` must be a single input operand (or empty). */
#define VMX_TRY(insn, ins) HX_TRY(insn "\n\tpushfq\n\tpopq %0", "=r"(fl), ins)

static int try_vmxon(uint64_t *p) { return VMX_TRY("vmxon %1", "m"(*p)); }

int main(void)
{
    hx_init();
    uint64_t v = 0, enc = 0x681e; /* GUEST_RIP */
    uint32_t a, b, c, d;
    cpuid_count(1, 0, &a, &b, &c, &d);
    CHECK(c & (1u << 5), "CPUID.1:ECX.VMX clear (attach the vmx model)");

    /* Read-only capability MSRs. */
    for (uint32_t msr = 0x480; msr <= 0x491; msr++) {
        uint64_t cur;
        if (rdmsr_safe(msr, &cur))
            continue;
        CHECK(wrmsr_safe(msr, cur) == HX_GP, "VMX capability MSR 0x%x writable", msr);
        CHECK(rdmsr(msr) == cur, "VMX capability MSR 0x%x changed", msr);
    }
    const uint32_t rev = (uint32_t)rdmsr(0x480) & 0x7FFFFFFFu;

    /* Outside VMX operation: #UD. */
    uint64_t p = (uint64_t)(uintptr_t)vmxon_region;
    *(uint32_t *)vmxon_region = rev;
    EXPECT_VEC(try_vmxon(&p), HX_UD, "VMXON with CR4.VMXE clear");
    EXPECT_VEC(HX_TRY("vmread %1, %0", "=r"(v), "r"(enc)), HX_UD, "VMREAD outside VMX");
    EXPECT_VEC(HX_TRY("vmwrite %1, %0", , HX_ARGS("r"(enc), "r"(v))), HX_UD, "VMWRITE outside VMX");
    EXPECT_VEC(HX_TRY("vmptrld %0", , "m"(p)), HX_UD, "VMPTRLD outside VMX");
    EXPECT_VEC(HX_TRY("vmptrst %0", "=m"(scratch), ), HX_UD, "VMPTRST outside VMX");
    EXPECT_VEC(HX_TRY("vmclear %0", , "m"(p)), HX_UD, "VMCLEAR outside VMX");
    EXPECT_VEC(HX_TRY("vmlaunch", , ), HX_UD, "VMLAUNCH outside VMX");
    EXPECT_VEC(HX_TRY("vmresume", , ), HX_UD, "VMRESUME outside VMX");
    EXPECT_VEC(HX_TRY("vmxoff", , ), HX_UD, "VMXOFF outside VMX");

    /* CR4.VMXE on, but CR0 against FIXED0 (NE clear): VMXON #GP. */
    if (!(rdmsr(0x3A) & 1))
        wrmsr(0x3A, 5);
    uint64_t cr0 = read_cr0();
    __asm__ volatile("mov %0, %%cr0" : : "r"(cr0 & ~(1ull << 5)));
    write_cr4(read_cr4() | (1ull << 13));
    EXPECT_VEC(try_vmxon(&p), HX_GP, "VMXON with CR0.NE clear (FIXED0)");
    cr0 = (read_cr0() | rdmsr(0x486)) & rdmsr(0x487);
    __asm__ volatile("mov %0, %%cr0" : : "r"(cr0));
    uint64_t cr4 = (read_cr4() | rdmsr(0x488)) & rdmsr(0x489);
    write_cr4(cr4);

    /* Bad regions: VMfailInvalid. */
    uint64_t bad = p + 8;
    EXPECT_VEC(try_vmxon(&bad), HX_NONE, "VMXON unaligned");
    CHECK((fl & ARITH) == CF, "VMXON unaligned: RFLAGS 0x%lx, want CF", fl);
    *(uint32_t *)vmxon_region = rev ^ 1;
    EXPECT_VEC(try_vmxon(&p), HX_NONE, "VMXON wrong revision");
    CHECK((fl & ARITH) == CF, "VMXON wrong revision: RFLAGS 0x%lx, want CF", fl);
    *(uint32_t *)vmxon_region = rev;
    EXPECT_VEC(try_vmxon(&p), HX_NONE, "VMXON");
    CHECK((fl & ARITH) == 0, "VMXON: RFLAGS 0x%lx, want success", fl);

    /* In VMX root, no current VMCS. */
    EXPECT_VEC(HX_TRY("vmread %2, %1\n\tpushfq\n\tpopq %0", HX_ARGS("=r"(fl), "=r"(v)), "r"(enc)), HX_NONE, "VMREAD no VMCS");
    CHECK((fl & ARITH) == CF, "VMREAD without a current VMCS: RFLAGS 0x%lx, want VMfailInvalid", fl);
    EXPECT_VEC(HX_TRY("vmwrite %1, %2\n\tpushfq\n\tpopq %0", "=r"(fl), HX_ARGS("r"(v), "r"(enc))), HX_NONE, "VMWRITE no VMCS");
    CHECK((fl & ARITH) == CF, "VMWRITE without a current VMCS: RFLAGS 0x%lx", fl);
    EXPECT_VEC(VMX_TRY("vmlaunch", ), HX_NONE, "VMLAUNCH no VMCS");
    CHECK((fl & ARITH) == CF, "VMLAUNCH without a current VMCS: RFLAGS 0x%lx", fl);
    EXPECT_VEC(VMX_TRY("vmresume", ), HX_NONE, "VMRESUME no VMCS");
    CHECK((fl & ARITH) == CF, "VMRESUME without a current VMCS: RFLAGS 0x%lx", fl);
    scratch = 0;
    EXPECT_VEC(HX_TRY("vmptrst %0", "=m"(scratch), ), HX_NONE, "VMPTRST no VMCS");
    CHECK(scratch == ~0ull, "VMPTRST without a current VMCS stored 0x%lx", scratch);
    EXPECT_VEC(try_vmxon(&p), HX_NONE, "VMXON in VMX root");
    CHECK((fl & ARITH) == CF, "VMXON in VMX root: RFLAGS 0x%lx, want VMfailInvalid", fl);
    EXPECT_VEC(VMX_TRY("vmptrld %1", "m"(p)), HX_NONE, "VMPTRLD of the VMXON region");
    CHECK((fl & ARITH) == CF, "VMPTRLD of the VMXON region: RFLAGS 0x%lx", fl);
    /* INVEPT/INVVPID exist when the capability MSRs say so. */
    struct { uint64_t a, b; } desc = {0, 0};
    uint64_t ctl2 = 0, cap = 0;
    bool sec = rdmsr(0x482) >> 63, ept = false, vpid = false;
    if (sec && !rdmsr_safe(0x48B, &ctl2) && !rdmsr_safe(0x48C, &cap)) {
        ept = ((ctl2 >> 33) & 1) && ((cap >> 20) & 1);
        vpid = ((ctl2 >> 37) & 1) && ((cap >> 32) & 1);
    }
    EXPECT_VEC(HX_TRY("invept %1, %2\n\tpushfq\n\tpopq %0", "=r"(fl), HX_ARGS("m"(desc), "r"(1ull))), ept ? HX_NONE : HX_UD,
               "INVEPT single context");
    if (ept)
        CHECK((fl & ARITH) == CF, "INVEPT of EPTP 0: RFLAGS 0x%lx, want VMfailInvalid", fl);
    EXPECT_VEC(HX_TRY("invept %1, %2\n\tpushfq\n\tpopq %0", "=r"(fl), HX_ARGS("m"(desc), "r"(7ull))), ept ? HX_NONE : HX_UD,
               "INVEPT type 7");
    if (ept)
        CHECK((fl & ARITH) == CF, "INVEPT type 7: RFLAGS 0x%lx, want VMfailInvalid", fl);
    EXPECT_VEC(HX_TRY("invvpid %1, %2\n\tpushfq\n\tpopq %0", "=r"(fl), HX_ARGS("m"(desc), "r"(1ull))), vpid ? HX_NONE : HX_UD,
               "INVVPID single context");
    if (vpid)
        CHECK((fl & ARITH) == CF, "INVVPID of VPID 0: RFLAGS 0x%lx, want VMfailInvalid", fl);
    EXPECT_VEC(HX_TRY("vmfunc", , "a"(0)), HX_UD, "VMFUNC");

    EXPECT_VEC(VMX_TRY("vmxoff", ), HX_NONE, "VMXOFF");
    CHECK((fl & ARITH) == 0, "VMXOFF: RFLAGS 0x%lx", fl);
    EXPECT_VEC(HX_TRY("vmread %1, %0", "=r"(v), "r"(enc)), HX_UD, "VMREAD after VMXOFF");

    rt_printf("hostile_vmx: %s\n", rt_failures ? "FAILED"
              : "#UD outside VMX, VMfailInvalid without a VMCS, capability MSRs read-only");
    return 0;
}
