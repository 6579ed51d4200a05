/* Flat multiboot guest of test_hosted_x86.c (test_iret_to_cpl3_keeps_gs_base):
 * long mode with one 2 MiB user page at 0, a DPL-0 GS with base 0x12345000
 * (IA32_GS_BASE), IRETQ to CPL 3, and INT 0x40 back to CPL 0 (TSS.RSP0),
 * where the kernel reads the GS base (EAX) and selector (EBX) and halts. */
        .include "lm64.inc"
        boot_lm64                       /* 2 MiB at 0: user, writable */
        mov %eax, %gs                   /* GS: DPL-0 data */
        mov $0x28, %eax
        ltr %ax
        lidt idtr
        mov $0xC0000101, %ecx           /* GS base */
        mov $0x12345000, %eax
        xor %edx, %edx
        wrmsr
        pushq $0x23                     /* SS: user data */
        pushq $0x107000                 /* RSP */
        pushq $2                        /* RFLAGS */
        pushq $0x1B                     /* CS: user code */
        pushq $user
        iretq
user:   int $0x40
kernel: mov $0xC0000101, %ecx
        rdmsr                           /* EAX: GS base */
        mov %gs, %ebx                   /* EBX: GS selector */
        hlt
        int40_tables kernel
