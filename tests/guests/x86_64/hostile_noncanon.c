/* SPDX-License-Identifier: MIT */
/*
 * hostile_noncanon: non-canonical addresses (bits 63:47 not all equal).
 *   - a write to 0x0000_8000_0000_0000: #GP(0), not #PF;
 *   - a read from 0x8000_0000_0000_0000: #GP(0);
 *   - a JMP, a CALL and a RET to 0x8000_0000_0000_0000: #GP(0) on the
 *     branch itself (SDM: the target is checked before RIP is loaded), so
 *     the frame's RIP is the branch, and RSP is as before it (the CALL's
 *     push and the RET's pop are undone), not a #PF on the fetch.
 * Each fault is caught by the guest's handler; a #PF with a non-canonical
 * CR2, or a #GP reported at the target, is reported and ends the run
 * (status 253).
 * Reporting the fault on the branch needs instruction counting, which
 * knows where the last block ended (Unicorn only reports the fetch):
 * Run: virtmodel-run hostile_noncanon.elf --models none --count
 * (without --count the branch faults are reported at the target).
 */
#include "hostile_try.h"

static volatile uint64_t frame_rsp;

static void on_gp(struct rt_frame *f)
{
    frame_rsp = f->rsp;
    hx_handler(f);
}

/* PUSH target; RET, with the RET as the instruction expected to fault; the
 * frame's RSP then still points at the pushed target. */
static int try_ret(uint64_t target, uint64_t *rsp_before)
{
    hx_vector = HX_NONE;
    __asm__ volatile("mov %%rsp, %0\n\t"
                     "leaq 1f(%%rip), %%r11\n\t"
                     "movq %%r11, hx_fault_rip(%%rip)\n\t"
                     "leaq 2f(%%rip), %%r11\n\t"
                     "movq %%r11, hx_resume_rip(%%rip)\n\t"
                     "push %1\n"
                     "1:\tret\n"
                     "2:\tmovq $0, hx_fault_rip(%%rip)\n\t"
                     "add $8, %%rsp"
                     : "=m"(*rsp_before) : "r"(target) : "r11", "memory", "cc");
    return hx_vector;
}

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
    rt_set_handler(13, on_gp);
    const uint64_t bad = 0x8000000000000000ull;
    uint64_t rsp;
    __asm__ volatile("mov %%rsp, %0" : "=r"(rsp));
    EXPECT_VEC(HX_TRY("jmp *%0", , "r"(bad)), HX_GP, "JMP to 0x8000000000000000");
    CHECK(frame_rsp == rsp, "JMP: RSP 0x%lx in the frame, 0x%lx before", frame_rsp, rsp);
    EXPECT_VEC(HX_TRY("call *%0", , "r"(bad)), HX_GP, "CALL to 0x8000000000000000");
    CHECK(frame_rsp == rsp, "CALL: RSP 0x%lx in the frame, 0x%lx before (push not undone)",
          frame_rsp, rsp);
    EXPECT_VEC(try_ret(bad, &rsp), HX_GP, "RET to 0x8000000000000000");
    CHECK(frame_rsp == rsp - 8, "RET: RSP 0x%lx in the frame, want 0x%lx (pop not undone)",
          frame_rsp, rsp - 8);
    rt_printf("hostile_noncanon: %s\n", rt_failures ? "FAILED" : "every access #GP(0)");
    return 0;
}
