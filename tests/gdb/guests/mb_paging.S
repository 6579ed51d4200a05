/* SPDX-License-Identifier: MIT */
/*
 * A real-guest fixture for the GDB tests: a multiboot kernel (the hosted
 * x86 vCPU runs it at its own privilege level) that turns 32-bit paging on
 * with two 4 MiB mappings of physical 0, at 0 and at 0xC0000000, counts
 * through the high alias and ends with isa-debug-exit status
 * ((counter - 5) << 1) | 1, so a debugger's write shows in the status.
 */
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00010000     /* the address fields below are valid */
#define HIGH 0xC0000000

    .code32
    .text
    .globl _start, work, done, counter, page_dir
mb_header:
    .long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)
    .long mb_header, mb_header, 0, 0, _start

_start:
    cli
    mov $page_dir, %eax
    mov %eax, %cr3
    mov %cr4, %eax
    or $0x10, %eax              /* PSE: 4 MiB pages */
    mov %eax, %cr4
    mov %cr0, %eax
    or $0x80000000, %eax        /* PG */
    mov %eax, %cr0
    mov $5, %ecx
work:
    incl counter + HIGH
    dec %ecx
    jnz work
done:
    mov counter, %eax
    sub $5, %eax
    out %al, $0xf4
1:  hlt
    jmp 1b

    .data
    .balign 4096
page_dir:
    .long 0x83                  /* 0: 4 MiB at 0, present, writable */
    .fill 0x2FF, 4, 0
    .long 0x83                  /* 0xC0000000: the same 4 MiB */
    .fill 0xFF, 4, 0
counter:
    .long 0
