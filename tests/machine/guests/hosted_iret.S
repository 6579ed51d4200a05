/* Flat multiboot guest of test_hosted_x86.c (test_iretq_to_cpl3_user_reads_
 * through_gs_base): IRETQ at CPL 0 to CPL 0 (R12: the popped RFLAGS, R13:
 * RSP after it), then IRETQ to CPL 3, which makes the DPL-0 GS and DS null
 * (SDM vol. 2, IRET) while user code still reads through GS's base
 * 0x180000 (RAX -> R8; GS -> R9, DS -> R10), and INT 0x40 back to CPL 0,
 * which reads the GS base into EAX and halts. */
        .include "lm64.inc"
        boot_lm64                       /* 2 MiB at 0: user, writable */
        mov %eax, %gs                   /* GS: DPL-0 data */
        mov $0x106000, %esp
        mov $0x28, %eax
        ltr %ax
        lidt idtr
        mov $0xC0000101, %ecx           /* GS base 0x180000 */
        mov $0x180000, %eax
        xor %edx, %edx
        wrmsr
        movabs $0x1122334455667788, %rax
        mov %rax, 0x180010
        mov %rsp, %rbp                  /* IRETQ to CPL 0 */
        pushq $0x10
        push %rbp
        pushq $0x46                     /* ZF PF */
        pushq $0x08
        pushq $same
        iretq
same:   pushfq
        pop %r12
        mov %rsp, %r13
        pushq $0x23                     /* IRETQ to CPL 3 */
        pushq $0x107000
        pushq $0x202
        pushq $0x1B
        pushq $user
        iretq
user:   mov %gs:0x10, %rax              /* through the kept base */
        mov %gs, %ebx                   /* null */
        mov %ds, %ecx                   /* null */
        int $0x40
kernel: mov %rax, %r8
        mov %rbx, %r9
        mov %rcx, %r10
        mov $0xC0000101, %ecx
        rdmsr                           /* EAX: GS base */
        hlt
        int40_tables kernel
