/* SPDX-License-Identifier: MIT */
/*
 * hostile_noext: VMX and TDX instructions on a CPU that does not have them.
 * Without the vmx model CPUID.1:ECX.VMX is clear: CR4.VMXE is reserved
 * (#GP) and VMXON/VMREAD are #UD.  Without the tdx model SEAMCALL, TDCALL,
 * SEAMRET and SEAMOPS do not exist (#UD), whatever else is attached.
 * Run: virtmodel-run hostile_noext.elf --models none   (or --models vmx: then
 * only the SEAM part is checked)
 */
#include "hostile_try.h"

static uint64_t region[512] __attribute__((aligned(4096)));

int main(void)
{
    hx_init();
    uint32_t a, b, c, d;
    cpuid_count(1, 0, &a, &b, &c, &d);
    const int vmx = (c >> 5) & 1;
    uint64_t p = (uint64_t)(uintptr_t)region, v, enc = 0x681e;
    if (!vmx) {
        EXPECT_VEC(HX_TRY("mov %0, %%cr4", , "r"(read_cr4() | (1ull << 13))), HX_GP,
                   "CR4.VMXE without VMX");
        EXPECT_VEC(HX_TRY("vmxon %0", , "m"(p)), HX_UD, "VMXON without VMX");
        EXPECT_VEC(HX_TRY("vmread %1, %0", "=r"(v), "r"(enc)), HX_UD, "VMREAD without VMX");
        EXPECT_VEC(HX_TRY("vmcall", , ), HX_UD, "VMCALL without VMX");
    }
    /* SEAMCALL 66 0F 01 CF, TDCALL 66 0F 01 CC, SEAMRET 66 0F 01 CD,
     * SEAMOPS 66 0F 01 CE: no assembler mnemonics needed. */
    EXPECT_VEC(HX_TRY(".byte 0x66, 0x0f, 0x01, 0xcf", , "a"(0)), HX_UD, "SEAMCALL without TDX");
    EXPECT_VEC(HX_TRY(".byte 0x66, 0x0f, 0x01, 0xcc", , "a"(0)), HX_UD, "TDCALL without TDX");
    EXPECT_VEC(HX_TRY(".byte 0x66, 0x0f, 0x01, 0xcd", , ), HX_UD, "SEAMRET without TDX");
    EXPECT_VEC(HX_TRY(".byte 0x66, 0x0f, 0x01, 0xce", , "a"(0)), HX_UD, "SEAMOPS without TDX");
    rt_printf("hostile_noext: %s (VMX %s)\n", rt_failures ? "FAILED" : "all #UD/#GP",
              vmx ? "present" : "absent");
    return 0;
}
