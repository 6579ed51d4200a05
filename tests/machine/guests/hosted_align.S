/* Multiboot guest of test_hosted_align.c, assembled at build time
 * ("as --64", "ld -N -Ttext=0x100000 --oformat binary").
 *
 * The test sets the mode word at 0x100020 and writes the payload (the
 * instructions under test, then "int $0x40") at 0x100C00 (32-bit code) or
 * 0x100E00 (64-bit code).  The guest runs in 32-bit protected mode without
 * paging, or in long mode with 2 MiB identity pages (all user, writable)
 * over the first 1 GiB; sets CR0.AM if asked; enters the payload at CPL 0
 * or, through IRET, at CPL 3, with RFLAGS.AC as asked, RBX = 0x140000 (a
 * data page) and RSP = 0x150000.  Every exception and INT 0x40 go through
 * a ring-0 gate that stores (vector, error code, RIP, CS) at 0x100030 and
 * halts.
 *
 * Mode word: bit 0 long mode, bit 1 CR0.AM, bit 2 RFLAGS.AC, bit 3 CPL 3.
 */
        .set MODE, 0x100020
        .set RESULT, 0x100030
        .set KSTACK, 0x10F000
        .set USTACK, 0x150000
        .set DATA, 0x140000
        .set PML4, 0x200000

        .include "lm64.inc"
        mb_header 0x100050
        .org 0x20
mode:   .long 0
        .org 0x30
result: .long 0xFFFFFFFF, 0             /* vector, error code */
        .quad 0                         /* RIP */
        .long 0                         /* CS */
        .org 0x50
        .globl _start
_start:
start:  mov $KSTACK, %esp
        lgdt gdtr
        ljmp $0x18, $flat32
flat32: mov $0x10, %eax
        mov %eax, %ds
        mov %eax, %es
        mov %eax, %ss
        mov %cr4, %eax
        or $0x600, %eax                 /* OSFXSR, OSXMMEXCPT */
        mov %eax, %cr4
        mov %cr0, %eax
        and $~0xC, %eax                 /* EM, TS clear */
        or $0x2, %eax                   /* MP */
        mov %eax, %cr0
        call build_idts
        testl $1, MODE
        jnz long_setup

        /* ---- 32-bit protected mode ---- */
        lidt idtr32
        mov $0x38, %eax
        ltr %ax
        call set_am
        call entry_flags                /* -> ECX */
        mov $DATA, %ebx
        testl $8, MODE
        jnz 1f
        mov $USTACK, %esp
        push %ecx
        popf
        jmp payload32
1:      mov $0x2B, %eax
        mov %eax, %ds
        mov %eax, %es
        push $0x2B
        push $USTACK
        push %ecx
        push $0x33
        push $payload32
        iret

/* CR0.AM if the mode asks for it.  (Called from 32- and 64-bit code:
 * the bytes mean the same in both.) */
set_am: mov $MODE, %edx
        testl $2, (%edx)
        jz 1f
        mov %cr0, %eax
        or $0x40000, %eax
        mov %eax, %cr0
1:      ret

/* ECX = the payload's RFLAGS: bit 1, and AC if asked (both modes too). */
entry_flags:
        mov $MODE, %edx
        mov $2, %ecx
        testl $4, (%edx)
        jz 1f
        or $0x40000, %ecx
1:      ret

/* Gates for vectors 0-31 and 0x40 (DPL 3) in both IDTs. */
build_idts:
        xor %esi, %esi
1:      mov %esi, %edi                  /* the vector */
        cmp $32, %esi
        jne 2f
        mov $0x40, %edi
2:      mov %esi, %eax
        shl $4, %eax
        add $stubs32, %eax              /* 32-bit gate */
        mov %eax, %edx
        and $0xFFFF, %edx
        or $0x180000, %edx
        mov %edx, idt32(,%edi,8)
        and $0xFFFF0000, %eax
        or $0x8E00, %eax
        cmp $0x40, %edi
        jne 3f
        or $0x6000, %eax
3:      mov %eax, idt32 + 4(,%edi,8)
        mov %esi, %eax                  /* 64-bit gate */
        shl $4, %eax
        add $stubs64, %eax
        mov %edi, %ecx
        shl $4, %ecx
        mov %eax, %edx
        and $0xFFFF, %edx
        or $0x80000, %edx
        mov %edx, idt64(%ecx)
        and $0xFFFF0000, %eax
        or $0x8E00, %eax
        cmp $0x40, %edi
        jne 4f
        or $0x6000, %eax
4:      mov %eax, idt64 + 4(%ecx)
        movl $0, idt64 + 8(%ecx)
        movl $0, idt64 + 12(%ecx)
        inc %esi
        cmp $33, %esi
        jne 1b
        ret

        /* ---- long mode ---- */
long_setup:
        movl $(PML4 + 0x1007), PML4
        movl $(PML4 + 0x2007), PML4 + 0x1000
        xor %ecx, %ecx
1:      mov %ecx, %eax
        shl $21, %eax
        or $0x87, %eax                  /* 2 MiB, user, writable, present */
        mov %eax, PML4 + 0x2000(,%ecx,8)
        movl $0, PML4 + 0x2004(,%ecx,8)
        inc %ecx
        cmp $512, %ecx
        jne 1b
        long_mode_on PML4
        ljmp $0x08, $long64
        .code64
long64: lidt idtr64
        mov $0x48, %eax
        ltr %ax
        call set_am
        call entry_flags
        mov $DATA, %ebx
        testl $8, MODE
        jnz 1f
        mov $USTACK, %esp
        push %rcx
        popfq
        mov $payload64, %eax
        jmp *%rax
1:      push $0x2B
        push $USTACK
        push %rcx
        push $0x23
        push $payload64
        iretq

        .code32
common32:
        pop %eax
        mov %eax, RESULT
        pop %eax
        mov %eax, RESULT + 4
        pop %eax
        mov %eax, RESULT + 8
        pop %eax
        mov %eax, RESULT + 16
        hlt
        .code64
common64:
        pop %rax
        mov %eax, RESULT
        pop %rax
        mov %eax, RESULT + 4
        pop %rax
        mov %rax, RESULT + 8
        pop %rax
        mov %eax, RESULT + 16
        hlt

        .macro stub32 vec
        .balign 16
        .if (\vec == 8) || ((\vec >= 10) && (\vec <= 14)) || (\vec == 17)
        .else
        push $0
        .endif
        push $\vec
        jmp common32
        .endm
        .macro stub64 vec
        .balign 16
        .if (\vec == 8) || ((\vec >= 10) && (\vec <= 14)) || (\vec == 17)
        .else
        push $0
        .endif
        push $\vec
        jmp common64
        .endm

        .code32
        .balign 16
stubs32:
        .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,0x40
        stub32 \v
        .endr
        .code64
        .balign 16
stubs64:
        .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,0x40
        stub64 \v
        .endr

        .org 0x900
gdtr:   .word 0x57
        .quad gdt
        .org 0x910
idtr32: .word 0x41 * 8 - 1
        .long idt32
        .org 0x920
idtr64: .word 0x41 * 16 - 1
        .quad idt64
        .org 0x940
gdt:    .quad 0
        .quad 0x00AF9B000000FFFF        /* 0x08 64-bit code, DPL 0 */
        .quad 0x00CF93000000FFFF        /* 0x10 data, DPL 0 */
        .quad 0x00CF9B000000FFFF        /* 0x18 32-bit code, DPL 0 */
        .quad 0x00AFFB000000FFFF        /* 0x20 64-bit code, DPL 3 */
        .quad 0x00CFF3000000FFFF        /* 0x28 data, DPL 3 */
        .quad 0x00CFFB000000FFFF        /* 0x30 32-bit code, DPL 3 */
        .quad 0x000089100A000067        /* 0x38 32-bit TSS at 0x100A00 */
        .quad 0
        .quad 0x000089100B000067, 0     /* 0x48 64-bit TSS at 0x100B00 */
        .org 0xA00
tss32:  .long 0, KSTACK, 0x10           /* link, ESP0, SS0 */
        .fill 23, 4, 0
        .org 0xB00
tss64:  .long 0
        .quad KSTACK                    /* RSP0 */
        .fill 23, 4, 0
        .org 0xC00
payload32:
        .fill 0x200, 1, 0xF4
payload64:
        .fill 0x200, 1, 0xF4
        .org 0x1000
idt32:  .fill 0x41, 8, 0
        .org 0x1400
idt64:  .fill 0x82, 8, 0                 /* 0x41 16-byte gates (.fill takes at most 8-byte units) */
        .org 0x1810
