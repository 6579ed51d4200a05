/* SPDX-License-Identifier: MIT */
/*
 * hostile_noncanon: non-canonical addresses (bits 63:47 not all equal).
 *   - a write to 0x0000_8000_0000_0000: #GP(0), not #PF;
 *   - a read from 0x8000_0000_0000_0000: #GP(0);
 *   - a JMP to 0x8000_0000_0000_0000: #GP(0) on the JMP itself (RIP in the
 *     frame is the JMP, the branch does not happen), not a #PF on the fetch.
 * Each fault is caught by the guest's handler; a #PF with a non-canonical
 * CR2 is reported and ends the run (status 253).
 * Run: virtmodel-run hostile_noncanon.elf --models none
 */
#include "hostile_try.h"

int main(void)
{
    hx_init();
    uint64_t v;
    EXPECT_VEC(HX_TRY("movq %1, (%0)", , HX_ARGS("r"(0x0000800000000000ull), "r"(0ull))),
               HX_GP, "write at 0x0000800000000000");
    if (hx_vector == HX_PF)
        rt_printf("  (#PF with CR2 0x%lx)\n", hx_cr2);
    EXPECT_VEC(HX_TRY("movq (%1), %0", "=r"(v), "r"(0x8000000000000000ull)), HX_GP,
               "read at 0x8000000000000000");
    if (hx_vector == HX_PF)
        rt_printf("  (#PF with CR2 0x%lx)\n", hx_cr2);
    EXPECT_VEC(HX_TRY("jmp *%0", , "r"(0x8000000000000000ull)), HX_GP,
               "JMP to 0x8000000000000000");
    rt_printf("hostile_noncanon: %s\n", rt_failures ? "FAILED" : "every access #GP(0)");
    return 0;
}
