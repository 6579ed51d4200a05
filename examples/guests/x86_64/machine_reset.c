/* SPDX-License-Identifier: MIT */
/*
 * A VM reset (port 0xCF9 <- 0x06) reloads the image but keeps the rest of
 * RAM, as QEMU does: initialized data comes back to its image value, while
 * a marker written outside the image survives.
 */
#include "guest.h"

#define MARKER ((volatile uint64_t *)0x7000)
#define MAGIC 0x5245534554ull /* "RESET" */

static volatile uint64_t data_word = 1;

int main(void)
{
    if (*MARKER != MAGIC) {
        rt_puts("boot 1: setting marker, dirtying data, resetting\n");
        *MARKER = MAGIC;
        data_word = 2;
        rt_reset();
    }
    *MARKER = 0;
    CHECK(data_word == 1, "data not reloaded (%lu)", (uint64_t)data_word);
    rt_printf("boot 2: data %s, marker kept\n", data_word == 1 ? "reloaded" : "NOT reloaded");
    return 0;
}
