/* SPDX-License-Identifier: MIT */
/*
 * hostile_stack_high: RSP moved just above 4 GiB (nothing mapped there),
 * then a PUSH: #PF, whose delivery needs the same stack (no IST) and fails,
 * then #DF fails too: a triple fault, status 4, the message giving RSP.
 * (hostile_stack.c reaches the same state by running off address 0.)
 * Run: virtmodel-run hostile_stack_high.elf --models none
 */
#include "guest.h"

int main(void)
{
    rt_puts("hostile_stack_high: RSP = 4 GiB + 0x1000, push\n");
    __asm__ volatile("movq $0x100001000, %%rsp\n1:\tpushq %%rax\n\tjmp 1b" : : : "memory");
    return 1;
}
