/* Multiboot guest for test_hosted_x86_features.c: 32-bit entry, identity
 * map of the first 1 GiB (2 MiB pages, user, writable), long mode, a
 * 64-bit IDT whose #GP/#PF/#UD gates go to handlers that record
 * (vector, error code, RIP) in R13/R14/R15 and halt; then the test's
 * 64-bit payload at 0x100400 runs. */
        .include "lm64.inc"
        mb_header 0x100020
        .org 0x20
        .globl _start
_start:
start:  mov $0x180000, %esp
        movl $0x201007, 0x200000          /* PML4[0] -> PDPT */
        movl $0x202007, 0x201000          /* PDPT[0] -> PD */
        xor %ecx, %ecx
1:      mov %ecx, %eax
        shl $21, %eax
        or $0x87, %eax                    /* 2 MiB, user, writable, present */
        test %ecx, %ecx
        jnz 2f
        and $~4, %eax                     /* the first 2 MiB: supervisor */
2:
        mov %eax, 0x202000(,%ecx,8)
        inc %ecx
        cmp $512, %ecx
        jne 1b
        enter_long64 0x200000, gdtr
        lidt idtr
        mov $0x100400, %eax
        jmp *%rax
        .org 0xC0
gp:     mov $13, %r13d
        jmp err
pf:     mov $14, %r13d
err:    pop %r14
        pop %r15
        hlt
ud:     mov $6, %r13d
        pop %r15
        hlt
        .org 0xE0
gdtr:   .word 0x3F
        .quad gdt
        .org 0xF0
idtr:   .word 0xFF
        .quad idt
        .org 0x100
gdt:    .quad 0, 0x00AF9B000000FFFF, 0x00CF93000000FFFF
        .quad 0x00AFFB000000FFFF, 0x00CFF3000000FFFF   /* user code 0x18, data 0x20 */
        .quad 0, 0, 0                                   /* 0x28: spare 16-byte slots */
        .org 0x200
idt:    .fill 32, 8, 0
        .org 0x400
