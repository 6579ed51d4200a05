/* Flat multiboot guest of test_hosted_x86.c (test_cr8_and_apic_tpr_agree): long mode with the APIC's 2 MiB at 0xFEE00000 mapped
 * uncached; a MOV to CR8 with TPR 0 (EBX: the APIC's TPR after it), a TPR
 * written through MMIO (RDI: the next MOV from CR8), a self IPI 0x40 below
 * the TPR, and the MOV to CR8 that lowers the TPR under it (the handler
 * pops the return RIP into RSI). */
        .include "lm64.inc"
        boot_lm64 flags=3, pd0=0x83, apic=1   /* supervisor pages */
        lidt idtr
        mov $0xFEE00000, %ebp
        movl $0x1FF, 0xF0(%rbp)         /* SVR: APIC software-enabled */
        mov $7, %eax
        mov %rax, %cr8                  /* TPR 0x70 (TPR was 0: no exit) */
        mov 0x80(%rbp), %ebx            /* EBX: the APIC's TPR */
        movl $0x50, 0x80(%rbp)          /* TPR 0x50 through MMIO */
        mov %cr8, %rdi                  /* RDI: CR8 (same block) */
        sti
        nop
        movl $0x40040, 0x300(%rbp)      /* self IPI, vector 0x40: below TPR */
        jmp 1f                          /* (the engine stops here, the loop */
1:      mov $3, %eax                    /*  sees the IPI and goes on) */
        mov %rax, %cr8                  /* TPR 0x30: 0x40 taken after this */
after:  hlt
handler: pop %rsi
        hlt
        .balign 8
gdt:    .quad 0
        .quad 0x00AF9A000000FFFF        /* 0x08 code */
        .quad 0x00CF92000000FFFF        /* 0x10 data */
gdtr:   .word gdtr - gdt - 1
        .long gdt
idtr:   .word 0x40 * 16 + 15
        .quad gate - 0x40 * 16          /* only vector 0x40 is ever used */
        .balign 16
gate:   .word handler - hdr, 0x08, 0x8E00, 0x10 /* vector 0x40 */
        .long 0, 0
