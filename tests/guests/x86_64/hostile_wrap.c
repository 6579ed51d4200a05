/* SPDX-License-Identifier: MIT */
/*
 * hostile_wrap: accesses at the edges of the address space that the
 * machine's "below 4 GiB" test must not get wrong.
 *   - an 8-byte write at 0xFFFF_FFFF_FFFF_FFF8 (canonical, the last 8 bytes
 *     of the address space; addr + size wraps to 0): #PF with CR2 = addr;
 *   - REP STOSB of 128 bytes from 4 GiB - 64: the first 64 bytes go to the
 *     non-RAM hole below 4 GiB (MMIO: dropped, as on KVM with nothing
 *     there), the 65th byte is at 4 GiB, not mapped: #PF with CR2 =
 *     0x1_0000_0000, RDI = 4 GiB and RCX = 64 in the handler's frame.
 * Run: virtmodel-run hostile_wrap.elf --models none
 */
#include "hostile_try.h"

static volatile uint64_t frame_rdi, frame_rcx;

static void on_pf(struct rt_frame *f)
{
    frame_rdi = f->rdi;
    frame_rcx = f->rcx;
    hx_handler(f);
}

int main(void)
{
    hx_init();
    rt_set_handler(14, on_pf);
    EXPECT_VEC(HX_TRY("movq %1, (%0)", , HX_ARGS("r"(0xFFFFFFFFFFFFFFF8ull), "r"(0ull))),
               HX_PF, "8-byte write at 0xFFFFFFFFFFFFFFF8");
    CHECK(hx_vector != HX_PF || hx_cr2 == 0xFFFFFFFFFFFFFFF8ull, "CR2 0x%lx", hx_cr2);

    const uint64_t high = 0x100000000ull;
    uint64_t rdi = high - 64, rcx = 128;
    EXPECT_VEC(HX_TRY("rep stosb", HX_ARGS("+D"(rdi), "+c"(rcx)), "a"(0)), HX_PF,
               "REP STOSB from the hole across 4 GiB");
    CHECK(hx_vector != HX_PF || (hx_cr2 == high && frame_rdi == high && frame_rcx == 64),
          "REP STOSB #PF: CR2 0x%lx RDI 0x%lx RCX %lu, want 4 GiB, 4 GiB, 64",
          hx_cr2, frame_rdi, frame_rcx);
    if (hx_vector == HX_NONE)
        rt_printf("  (no fault: RDI 0x%lx RCX %lu afterwards)\n", rdi, rcx);
    rt_printf("hostile_wrap: %s\n", rt_failures ? "FAILED" : "edges fault architecturally");
    return 0;
}
