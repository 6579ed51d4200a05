/* SPDX-License-Identifier: MIT */
/*
 * hostile_fetch: jumps and writes to addresses nothing backs, above 4 GiB
 * and beyond the canonical range.
 *   - a JMP/CALL to 0x1_0000_0000 (canonical, not mapped): #PF on the fetch,
 *     CR2 = target, error code I/D set, P clear, RIP in the frame = target;
 *   - writes of 1, 8 and 16 bytes (MOVUPS) to 0x7FFF_FFFF_F000: #PF, W set;
 *   - a write to 0xFFFF_FFFF_FFFF_F000 (canonical, top page): #PF, W;
 *   - REP STOSB above 4 GiB: #PF at its first byte.
 * Exit 0 when every fault was architectural.  Non-canonical addresses are
 * hostile_noncanon.c's.
 * Run: virtmodel-run hostile_fetch.elf --models none
 */
#include "hostile_try.h"

static volatile int fetch_hits;
static volatile uint64_t fetch_err, fetch_cr2, fetch_rip;
static volatile uint64_t resume_at;

/* A fetch fault has RIP = the unmapped target: resume at the saved label. */
static void on_pf_fetch(struct rt_frame *f)
{
    if ((hx_fault_rip && f->rip == hx_fault_rip) || !resume_at) {
        hx_handler(f); /* reports and exits if unexpected */
        return;
    }
    uint64_t cr2;
    __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
    fetch_hits++;
    fetch_err = f->error_code;
    fetch_cr2 = cr2;
    fetch_rip = f->rip;
    f->rip = resume_at;
    resume_at = 0; /* one fault per jump_to(): a second one is a bug */
}

static void jump_to(uint64_t target)
{
    __asm__ volatile("leaq 1f(%%rip), %%rax\n\t"
                     "movq %%rax, %[res]\n\t"
                     "jmp *%[t]\n"
                     "1:"
                     : [res] "=m"(resume_at) : [t] "r"(target) : "rax", "memory");
}

int main(void)
{
    hx_init();
    rt_set_handler(14, on_pf_fetch);

    /* Fetch above 4 GiB. */
    const uint64_t high = 0x100000000ull;
    jump_to(high);
    CHECK(fetch_hits == 1, "fetch at 4 GiB: %d faults", fetch_hits);
    CHECK(fetch_cr2 == high && fetch_rip == high, "fetch #PF: CR2 0x%lx RIP 0x%lx",
          fetch_cr2, fetch_rip);
    CHECK((fetch_err & (PF_I | PF_P | PF_W)) == PF_I, "fetch #PF error code 0x%lx", fetch_err);
    const uint64_t far = 0x7FFFFFFFF000ull;
    jump_to(far);
    CHECK(fetch_hits == 2 && fetch_cr2 == far, "fetch at 0x%lx: CR2 0x%lx", far, fetch_cr2);

    /* Writes far away. */
    volatile uint8_t *p8 = (volatile uint8_t *)far;
    EXPECT_VEC(HX_TRY("movb $1, %0", "=m"(*p8), ), HX_PF, "1-byte write at 0x7FFFFFFFF000");
    CHECK(hx_cr2 == far && (hx_error & (PF_W | PF_P | PF_I)) == PF_W,
          "write #PF: CR2 0x%lx error 0x%lx", hx_cr2, hx_error);
    EXPECT_VEC(HX_TRY("movq %1, (%0)", , HX_ARGS("r"(far + 8), "r"(~0ull))), HX_PF,
               "8-byte write");
    CHECK(hx_cr2 == far + 8, "CR2 0x%lx", hx_cr2);
    EXPECT_VEC(HX_TRY("movups %%xmm0, (%0)", , "r"(far + 0x40)), HX_PF, "16-byte SSE write");
    EXPECT_VEC(HX_TRY("movq %1, (%0)", , HX_ARGS("r"(0xFFFFFFFFFFFFF000ull), "r"(0ull))),
               HX_PF, "write at the top of the address space");
    CHECK(hx_cr2 == 0xFFFFFFFFFFFFF000ull, "CR2 0x%lx", hx_cr2);

    /* A string store above 4 GiB: #PF on the first byte, nothing retired. */
    uint64_t rdi = high + 0x1000, rcx = 128;
    EXPECT_VEC(HX_TRY("rep stosb", HX_ARGS("+D"(rdi), "+c"(rcx)), "a"(0)), HX_PF,
               "REP STOSB above 4 GiB");
    CHECK(hx_cr2 == high + 0x1000, "REP STOSB #PF at CR2 0x%lx", hx_cr2);

    rt_printf("hostile_fetch: %s\n", rt_failures ? "FAILED" : "every wild access faulted");
    return 0;
}
