/* SPDX-License-Identifier: MIT */
/* Hello world: prints through COM1 and powers off with status 0. */
#include "guest.h"

int main(void)
{
    rt_puts("Hello from an x86-64 guest on virtmodel!\n");
    return 0;
}
