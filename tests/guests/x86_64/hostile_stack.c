/* SPDX-License-Identifier: MIT */
/*
 * hostile_stack: the stack runs off the bottom of memory.  RSP = 0x2000,
 * then PUSH forever: after 0x400 pushes RSP wraps to 0xFFFF_FFFF_FFFF_FFF8,
 * which is canonical but not mapped: #PF.  Delivering it needs the same
 * stack (no IST), so it fails, #DF fails the same way: a triple fault,
 * status 4, with the message giving RSP.
 * Run: virtmodel-run hostile_stack.elf --models none
 */
#include "guest.h"

int main(void)
{
    rt_puts("hostile_stack: pushing until the stack is gone\n");
    __asm__ volatile("movq $0x2000, %%rsp\n1:\tpushq %%rax\n\tjmp 1b" : : : "memory");
    return 1;
}
