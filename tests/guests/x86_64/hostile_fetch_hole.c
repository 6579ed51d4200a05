/* SPDX-License-Identifier: MIT */
/*
 * hostile_fetch_hole: a jump into the non-RAM hole below 4 GiB (0xC0000000:
 * no RAM, no device).  KVM would exit to userspace with an MMIO fetch it
 * cannot serve (an internal error); the machine ends the run with its
 * internal-error exit: status 5 and a message naming the address.
 * Run: virtmodel-run hostile_fetch_hole.elf --models none
 */
#include "guest.h"

int main(void)
{
    rt_puts("hostile_fetch_hole: jumping to 0xC0000000\n");
    __asm__ volatile("jmp *%0" : : "r"(0xC0000000ull));
    rt_puts("hostile_fetch_hole: came back (should not happen)\n");
    return 1;
}
