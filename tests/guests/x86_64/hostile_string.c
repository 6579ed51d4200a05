/* SPDX-License-Identifier: MIT */
/*
 * hostile_string: string instructions on guest-physical memory with nothing
 * behind it (below 4 GiB, neither RAM nor a device).  As on KVM with no
 * device there, writes are dropped and reads return all ones; the
 * instruction itself must still do everything else it architecturally does:
 *   - REP STOSB of 16 bytes into the hole: RDI += 16, RCX = 0;
 *   - REP MOVSD of 4 dwords from RAM into the hole: RSI, RDI += 16, RCX = 0;
 *   - REP MOVSB of 16 bytes from the hole into RAM: the RAM buffer reads
 *     0xFF, RSI, RDI += 16;
 *   - STD; REP LODSQ of 3 qwords from the hole: RAX = all ones, RSI -= 24
 *     (DF set: the pointers go down), RCX = 0;
 *   - LODSW without REP: AX = 0xFFFF, the upper bits of RAX kept, RCX kept.
 * Run: virtmodel-run hostile_string.elf --models none
 */
#include "hostile_try.h"

#define HOLE 0xC0000000ull  /* nothing there: not RAM, no device */

static uint8_t buf[64];

int main(void)
{
    hx_init();
    uint64_t rdi = HOLE, rsi, rcx = 16, rax;
    EXPECT_VEC(HX_TRY("rep stosb", HX_ARGS("+D"(rdi), "+c"(rcx)), "a"(0x5A)), HX_NONE,
               "REP STOSB into the hole");
    CHECK(rdi == HOLE + 16 && rcx == 0, "REP STOSB: RDI 0x%lx RCX %lu", rdi, rcx);

    for (unsigned i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)i;
    rsi = (uint64_t)buf;
    rdi = HOLE + 0x100;
    rcx = 4;
    EXPECT_VEC(HX_TRY("rep movsl", HX_ARGS("+S"(rsi), "+D"(rdi), "+c"(rcx)), ),
               HX_NONE, "REP MOVSD from RAM into the hole");
    CHECK(rsi == (uint64_t)buf + 16 && rdi == HOLE + 0x110 && rcx == 0,
          "REP MOVSD: RSI 0x%lx RDI 0x%lx RCX %lu", rsi, rdi, rcx);

    rsi = HOLE + 0x200;
    rdi = (uint64_t)buf;
    rcx = 16;
    EXPECT_VEC(HX_TRY("rep movsb", HX_ARGS("+S"(rsi), "+D"(rdi), "+c"(rcx)), ),
               HX_NONE, "REP MOVSB from the hole into RAM");
    CHECK(rsi == HOLE + 0x210 && rdi == (uint64_t)buf + 16 && rcx == 0,
          "REP MOVSB: RSI 0x%lx RDI 0x%lx RCX %lu", rsi, rdi, rcx);
    unsigned ff = 0;
    for (unsigned i = 0; i < 16; i++)
        ff += buf[i] == 0xFF;
    CHECK(ff == 16 && buf[16] == 16, "REP MOVSB: %u of 16 bytes read 0xFF, buf[16] = %u",
          ff, buf[16]);

    rsi = HOLE + 0x300;
    rcx = 3;
    rax = 0;
    EXPECT_VEC(HX_TRY("std; rep lodsq; cld", HX_ARGS("+S"(rsi), "+c"(rcx), "+a"(rax)), ),
               HX_NONE, "STD; REP LODSQ from the hole");
    CHECK(rax == ~0ull && rsi == HOLE + 0x300 - 24 && rcx == 0,
          "REP LODSQ: RAX 0x%lx RSI 0x%lx RCX %lu", rax, rsi, rcx);

    rsi = HOLE + 0x400;
    rcx = 7;
    rax = 0x1122334455660000ull;
    EXPECT_VEC(HX_TRY("lodsw", HX_ARGS("+S"(rsi), "+c"(rcx), "+a"(rax)), ), HX_NONE,
               "LODSW from the hole");
    CHECK(rax == 0x112233445566FFFFull && rsi == HOLE + 0x402 && rcx == 7,
          "LODSW: RAX 0x%lx RSI 0x%lx RCX %lu", rax, rsi, rcx);

    rt_printf("hostile_string: %s\n", rt_failures ? "FAILED" : "every element accounted for");
    return 0;
}
