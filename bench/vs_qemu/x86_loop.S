/* SPDX-License-Identifier: MIT */
/*
 * The x86-64 loop guest of bench/vs_qemu.  One ELF64 file serves both
 * runners: virtmodel enters its ELF entry (_start) in 64-bit mode; QEMU's
 * -kernel enters the multiboot header's entry (mb_entry) in 32-bit protected
 * mode, whose shim builds an identity map of the first 4 GiB, turns long mode
 * on and jumps to the same _start.  The header uses the a.out kludge (flag
 * 16), so QEMU loads the bytes by the header's addresses and never asks for
 * an ELF32 file.  The bench patches the operation and the iteration count in
 * the parameter block (found by its magic) before each run.
 */
    .set MB_MAGIC, 0x1BADB002
    .set MB_FLAGS, 0x00010000
    .set PT_BASE, 0x300000          /* page tables, away from the image */

    .text
    .code32
    .p2align 3
mb_header:
    .long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)
    .long mb_header                 /* header_addr */
    .long mb_header                 /* load_addr: the file from here on */
    .long 0                         /* load_end_addr: to the end of the file */
    .long 0                         /* bss_end_addr: none */
    .long mb_entry                  /* entry_addr */

    .p2align 3
params:
    .ascii "VMDLBNCH"
param_op:   .quad 0
param_n:    .quad 1

mb_entry:
    cli
    mov $PT_BASE, %edi
    mov $(6 * 4096 / 4), %ecx
    xor %eax, %eax
    rep stosl
    movl $(PT_BASE + 0x1003), PT_BASE               /* PML4[0] -> PDPT */
    mov $0, %ecx
1:  mov %ecx, %eax
    shl $12, %eax
    add $(PT_BASE + 0x2003), %eax
    mov %eax, (PT_BASE + 0x1000)(,%ecx,8)           /* PDPT[i] -> PD i */
    inc %ecx
    cmp $4, %ecx
    jne 1b
    xor %ecx, %ecx
2:  mov %ecx, %eax
    shl $21, %eax
    or $0x83, %eax                                  /* present, writable, 2 MiB */
    mov %eax, (PT_BASE + 0x2000)(,%ecx,8)
    mov %ecx, %edx
    shr $11, %edx                                   /* bits 32+ of the address */
    mov %edx, (PT_BASE + 0x2004)(,%ecx,8)
    inc %ecx
    cmp $2048, %ecx
    jne 2b
    mov %cr4, %eax
    or $0x20, %eax                                  /* PAE */
    mov %eax, %cr4
    mov $PT_BASE, %eax
    mov %eax, %cr3
    mov $0xC0000080, %ecx                           /* EFER.LME */
    rdmsr
    or $0x100, %eax
    wrmsr
    mov %cr0, %eax
    or $0x80000001, %eax                            /* PG, PE */
    mov %eax, %cr0
    lgdt gdt_desc
    ljmp $0x08, $long_entry

    .p2align 3
gdt:
    .quad 0
    .quad 0x00AF9A000000FFFF                        /* 64-bit code */
    .quad 0x00CF92000000FFFF                        /* data */
gdt_desc:
    .word gdt_desc - gdt - 1
    .long gdt

    .code64
long_entry:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov $0x280000, %rsp
    jmp _start

/* ---- shared by both runners from here on ---- */
    .globl _start
_start:
    mov param_n(%rip), %r8
    mov param_op(%rip), %rax
    cmp $8, %rax
    jae done
    lea ops(%rip), %rdx
    jmp *(%rdx,%rax,8)

    .p2align 3
ops:
    .quad op_compute, op_rdmsr, op_cpuid, op_tpr, op_out, op_wrmsr, op_vmread
    .quad op_vmwrite

/* 10 instructions per iteration: 8 independent ALU operations, DEC, JNZ. */
op_compute:
    xor %eax, %eax
    mov $1, %ebx
    mov $2, %esi
    mov $3, %edi
1:  add %rbx, %rax
    xor %rsi, %rdi
    add $7, %r9
    sub $3, %r10
    lea 1(%rax), %r11
    or %rbx, %r12
    and %rdi, %r13
    add %rsi, %r14
    dec %r8
    jnz 1b
    jmp done

op_rdmsr:
1:  mov $0x1B, %ecx                                 /* IA32_APIC_BASE */
    rdmsr
    dec %r8
    jnz 1b
    jmp done

op_cpuid:
1:  xor %eax, %eax
    xor %ecx, %ecx
    cpuid
    dec %r8
    jnz 1b
    jmp done

op_tpr:
    mov $0xFEE00080, %r9                            /* xAPIC TPR */
1:  mov (%r9), %eax
    dec %r8
    jnz 1b
    jmp done

op_out:
    xor %eax, %eax
1:  out %al, $0x80
    dec %r8
    jnz 1b
    jmp done

/* WRMSR of IA32_APIC_BASE with the value it has (no change of mode). */
op_wrmsr:
    mov $0x1B, %ecx
    rdmsr
1:  wrmsr
    dec %r8
    jnz 1b
    jmp done

/* VMREAD / VMWRITE of GUEST_RIP (0x681E) in a current VMCS.  Library
 * only: QEMU's TCG has no VMX. */
op_vmread:
    call vmx_on
    mov $0x681E, %ebx
1:  vmread %rbx, %rax
    dec %r8
    jnz 1b
    jmp done

op_vmwrite:
    call vmx_on
    mov $0x681E, %ebx
1:  vmwrite %r8, %rbx
    dec %r8
    jnz 1b
    jmp done

/* VMXON with the revision of IA32_VMX_BASIC, CR0/CR4 by the fixed-bit
 * MSRs, feature control locked with VMXON allowed; then a current VMCS. */
vmx_on:
    mov $0x480, %ecx
    rdmsr
    and $0x7FFFFFFF, %eax
    mov %eax, vmxon_region(%rip)
    mov %eax, vmcs_region(%rip)
    mov $0x3A, %ecx
    rdmsr
    test $1, %eax
    jnz 2f
    mov $5, %eax
    xor %edx, %edx
    wrmsr
2:  mov $0x486, %ecx
    call rdmsr64
    mov %rax, %rsi
    mov $0x487, %ecx
    call rdmsr64
    mov %cr0, %rdx
    or %rsi, %rdx
    and %rax, %rdx
    mov %rdx, %cr0
    mov $0x488, %ecx
    call rdmsr64
    mov %rax, %rsi
    mov $0x489, %ecx
    call rdmsr64
    mov %cr4, %rdx
    or %rsi, %rdx
    and %rax, %rdx
    mov %rdx, %cr4
    vmxon vmxon_ptr(%rip)
    vmclear vmcs_ptr(%rip)
    vmptrld vmcs_ptr(%rip)
    ret

/* RAX = MSR ECX, all 64 bits. */
rdmsr64:
    rdmsr
    shl $32, %rdx
    mov %eax, %eax
    or %rdx, %rax
    ret

done:
    xor %eax, %eax
    out %al, $0xF4                                  /* isa-debug-exit */
3:  hlt
    jmp 3b

    .p2align 3
vmxon_ptr:  .quad vmxon_region
vmcs_ptr:   .quad vmcs_region
    .p2align 12
vmxon_region: .fill 4096, 1, 0
vmcs_region:  .fill 4096, 1, 0
