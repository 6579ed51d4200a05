/* Flat multiboot guest of test_hosted_x86.c (test_deliver64_frames_match_
 * qemu_delivery): INT 0x41 at CPL 0 through a trap gate (no stack switch,
 * IF kept, SS kept: R8-R10), INT 0x42 from CPL 3 through a DPL-3 interrupt
 * gate with IST1 (the IST pointer aligned down to 16, SS null with RPL 0:
 * R11, R12), then a user read of a not-present page: #PF (error code R14,
 * RIP R15, CS RDI, RFLAGS RDX, RSP RCX, SS RAX, frame R13, CR2 RBX) on
 * TSS.RSP0, with IF cleared by the interrupt gate (RBP) and SS null (ESI). */
        .include "lm64.inc"
        boot_lm64                       /* 2 MiB at 0: user, writable */
        mov $0x106000, %esp
        mov $0x28, %eax
        ltr %ax
        cld
        mov $g14, %esi                  /* the IDT at 0x110000: vectors 14, */
        mov $0x110000 + 14 * 16, %edi   /* 0x41, 0x42 */
        mov $16, %ecx
        rep movsb
        mov $g41, %esi
        mov $0x110000 + 0x41 * 16, %edi
        mov $32, %ecx
        rep movsb
        lidt idtr
        sti
        int $0x41                       /* CPL 0, trap gate, no stack switch */
        pushq $0x23                     /* SS: user data */
        pushq $0x107000                 /* RSP */
        pushq $0x202                    /* RFLAGS: IF */
        pushq $0x1B                     /* CS: user code */
        pushq $user
        iretq
user:   int $0x42                       /* CPL 3 -> 0 through IST1 */
        mov 0x300000, %rax              /* #PF: not present, user read */
        hlt
h41:    mov %rsp, %r8
        pushfq
        pop %r9
        mov %ss, %r10
        iretq
h42:    mov %rsp, %r11
        mov %ss, %r12
        iretq
h14:    mov (%rsp), %r14                /* error code */
        mov 8(%rsp), %r15               /* RIP */
        mov 16(%rsp), %rdi              /* CS */
        mov 24(%rsp), %rdx              /* RFLAGS */
        mov 32(%rsp), %rcx              /* RSP */
        mov 40(%rsp), %rax              /* SS */
        mov %rsp, %r13
        mov %cr2, %rbx
        pushfq
        pop %rbp
        mov %ss, %esi
        hlt
        gdt_user64 tss
idtr:   .word 0x42 * 16 + 15
        .quad 0x110000
        .balign 16
tss:    .long 0
        .quad 0x108000                  /* RSP0 */
        .quad 0, 0, 0
        .quad 0x10A008                  /* IST1 (aligned down to 0x10A000) */
        .fill 0x68 - 44, 1, 0
        .balign 16
g14:    .word h14 - hdr, 0x08, 0x8E00, 0x10   /* interrupt gate, DPL 0 */
        .long 0, 0
g41:    .word h41 - hdr, 0x08, 0x8F00, 0x10   /* trap gate, DPL 0 */
        .long 0, 0
g42:    .word h42 - hdr, 0x08, 0xEE01, 0x10   /* interrupt gate, DPL 3, IST1 */
        .long 0, 0
