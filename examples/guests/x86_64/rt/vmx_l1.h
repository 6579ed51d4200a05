/* SPDX-License-Identifier: MIT */
/*
 * An L1 hypervisor guest that runs L2 (tests/guests/x86_64/vmx_pae.c;
 * vmx_nested.c keeps its own copy of the same, as its checkpoint ctests
 * split it at fixed instruction counts): the multiboot entry into 4 GiB of
 * identity-mapped long mode (the machine runs nested guests on its hosted
 * vCPU, the one multiboot kernels get), the VMX instructions and the
 * vmcs12 field encodings, vmx_run (L2's registers in, VMLAUNCH/VMRESUME,
 * back at the exit), the capability adjustment, the TSS a VM exit loads
 * and the guest segment fields.  Include once, from the guest's one file.
 */
#ifndef VMX_L1_H
#define VMX_L1_H

#include "guest.h"

/* ---- multiboot entry: 32-bit protected mode -> 64-bit long mode ---- */

/*
 * The header sits in .text.sipi (linked at 0x8000, file offset 0x1000), the
 * only code the first 8 KiB of the file hold.  Its a.out-kludge addresses
 * load the file from offset 0x1000 at 0xFF000, so that .text (file offset
 * 0x2000) lands at its link address 0x100000; the entry is that copy of
 * mb_entry (MB_SHIFT = 0xFF000 - 0x8000), which only uses absolute
 * addresses of .text/.bss symbols.  The loader zeroes .bss (bss_end_addr).
 */
__asm__(
    ".set MB_SHIFT, 0xF7000\n"
    ".section .text.sipi, \"ax\"\n"
    ".balign 4\n"
    "mb_header:\n"
    "    .long 0x1BADB002, 0x00010000, -(0x1BADB002 + 0x00010000)\n"
    "    .long mb_header + MB_SHIFT, 0x8000 + MB_SHIFT, _edata, _end, mb_entry + MB_SHIFT\n"
    ".code32\n"
    "mb_entry:\n"
    "    cli\n"
    /* 2048 2-MiB pages: 0..4 GiB identity-mapped, writable */
    "    xor %ecx, %ecx\n"
    "1:  mov %ecx, %eax\n"
    "    shl $21, %eax\n"
    "    or $0x83, %eax\n"
    "    mov %eax, mb_pd(,%ecx,8)\n"
    "    inc %ecx\n"
    "    cmp $2048, %ecx\n"
    "    jb 1b\n"
    "    movl $mb_pd + 0x0003, mb_pdpt\n"
    "    movl $mb_pd + 0x1003, mb_pdpt + 8\n"
    "    movl $mb_pd + 0x2003, mb_pdpt + 16\n"
    "    movl $mb_pd + 0x3003, mb_pdpt + 24\n"
    "    movl $mb_pdpt + 3, mb_pml4\n"
    /* GDT: null, 64-bit code 0x08, data 0x10 (a TSS at 0x18 comes later) */
    "    movl $0x0000FFFF, mb_gdt + 8\n"
    "    movl $0x00AF9B00, mb_gdt + 12\n"
    "    movl $0x0000FFFF, mb_gdt + 16\n"
    "    movl $0x00CF9300, mb_gdt + 20\n"
    "    movw $47, mb_gdtr\n"
    "    movl $mb_gdt, mb_gdtr + 2\n"
    "    mov $mb_pml4, %eax\n"
    "    mov %eax, %cr3\n"
    "    mov %cr4, %eax\n"
    "    or $0x20, %eax\n"             /* PAE */
    "    mov %eax, %cr4\n"
    "    mov $0xC0000080, %ecx\n"
    "    rdmsr\n"
    "    or $0x100, %eax\n"            /* EFER.LME */
    "    wrmsr\n"
    "    mov %cr0, %eax\n"
    "    or $0x80000001, %eax\n"       /* PG | PE */
    "    mov %eax, %cr0\n"
    "    lgdt mb_gdtr\n"
    "    ljmp $0x08, $mb_long64\n"
    ".code64\n"
    ".text\n"
    "mb_long64:\n"
    "    mov $0x10, %eax\n"
    "    mov %eax, %ds\n"
    "    mov %eax, %es\n"
    "    mov %eax, %ss\n"
    "    mov %eax, %fs\n"
    "    mov %eax, %gs\n"
    "    mov $mb_stack + 16384, %esp\n"
    "    xor %edi, %edi\n"
    "    jmp _start\n"
    ".bss\n"
    ".balign 4096\n"
    "mb_pml4: .skip 4096\n"
    "mb_pdpt: .skip 4096\n"
    "mb_pd: .skip 4 * 4096\n"
    "mb_stack: .skip 16384\n"
    ".globl mb_gdt\n"
    "mb_gdt: .skip 48\n"
    "mb_gdtr: .skip 16\n"
    ".text\n");

extern uint64_t mb_gdt[6];

/* ---- VMX instructions and the vmcs12 fields used ---- */

enum {
    GUEST_ES_SEL = 0x0800, HOST_ES_SEL = 0x0C00, HOST_CS_SEL = 0x0C02,
    HOST_SS_SEL = 0x0C04, HOST_DS_SEL = 0x0C06, HOST_FS_SEL = 0x0C08,
    HOST_GS_SEL = 0x0C0A, HOST_TR_SEL = 0x0C0C,
    IO_BITMAP_A = 0x2000, IO_BITMAP_B = 0x2002, MSR_BITMAP = 0x2004,
    VM_FUNCTION_CONTROL = 0x2018, EPT_POINTER = 0x201A, EPTP_LIST_ADDRESS = 0x2024,
    GUEST_PHYS_ADDR = 0x2400, VMCS_LINK = 0x2800,
    PIN_CTLS = 0x4000, PROC_CTLS = 0x4002, EXC_BITMAP = 0x4004, PROC_CTLS2 = 0x401E,
    EXIT_CTLS = 0x400C, ENTRY_CTLS = 0x4012, ENTRY_INTR_INFO = 0x4016,
    VM_INSN_ERROR = 0x4400, EXIT_REASON = 0x4402, EXIT_INTR_INFO = 0x4404,
    IDT_VECT_INFO = 0x4408, EXIT_INSN_LEN = 0x440C,
    GUEST_ES_LIMIT = 0x4800, GUEST_GDTR_LIMIT = 0x4810, GUEST_IDTR_LIMIT = 0x4812,
    GUEST_ES_AR = 0x4814, GUEST_INTERRUPTIBILITY = 0x4824, GUEST_ACTIVITY = 0x4826,
    EXIT_QUAL = 0x6400, GUEST_LINEAR_ADDR = 0x640A,
    GUEST_CR0 = 0x6800, GUEST_CR3 = 0x6802, GUEST_CR4 = 0x6804,
    GUEST_ES_BASE = 0x6806, GUEST_GDTR_BASE = 0x6816, GUEST_IDTR_BASE = 0x6818,
    GUEST_DR7 = 0x681A, GUEST_RSP = 0x681C, GUEST_RIP = 0x681E, GUEST_RFLAGS = 0x6820,
    HOST_CR0 = 0x6C00, HOST_CR3 = 0x6C02, HOST_CR4 = 0x6C04, HOST_FS_BASE = 0x6C06,
    HOST_GS_BASE = 0x6C08, HOST_TR_BASE = 0x6C0A, HOST_GDTR_BASE = 0x6C0C,
    HOST_IDTR_BASE = 0x6C0E,
};

static inline uint64_t vmread(uint64_t enc)
{
    uint64_t v = 0;
    __asm__ volatile("vmread %1, %0" : "=r"(v) : "r"(enc) : "cc");
    return v;
}

static inline void vmwrite(uint64_t enc, uint64_t val)
{
    uint8_t fail;
    __asm__ volatile("vmwrite %2, %1; setbe %0" : "=q"(fail) : "r"(enc), "r"(val) : "cc");
    CHECK(!fail, "VMWRITE 0x%lx failed\n", enc);
}

/* Returns true when the instruction failed (CF or ZF). */
static inline bool vmx_op(int op, uint64_t *pa)
{
    uint8_t fail;
    switch (op) {
    case 0: __asm__ volatile("vmxon %1; setbe %0" : "=q"(fail) : "m"(*pa) : "cc", "memory"); break;
    case 1: __asm__ volatile("vmclear %1; setbe %0" : "=q"(fail) : "m"(*pa) : "cc", "memory"); break;
    default: __asm__ volatile("vmptrld %1; setbe %0" : "=q"(fail) : "m"(*pa) : "cc", "memory"); break;
    }
    return fail;
}

/* ---- entering L2 and coming back: the general registers ---- */

struct gprs {
    uint64_t rax, rcx, rdx, rbx, rsp_unused, rbp, rsi, rdi;
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
};

/*
 * int vmx_run(struct gprs *g, int launched): loads L2's registers, then
 * VMLAUNCH or VMRESUME.  On a VM exit the CPU continues at vmx_exit_point
 * with HOST_RSP (the stack as it was here); L2's registers are stored back
 * and 0 returned.  A failed entry returns 1.
 */
int vmx_run(struct gprs *g, int launched);
__asm__(
    ".text\n"
    ".globl vmx_run\n"
    "vmx_run:\n"
    "    push %rbp; push %rbx; push %r12; push %r13; push %r14; push %r15\n"
    "    push %rdi\n"
    "    mov $0x6C14, %eax\n"          /* HOST_RSP */
    "    vmwrite %rsp, %rax\n"
    "    lea vmx_exit_point(%rip), %rdx\n"
    "    mov $0x6C16, %eax\n"          /* HOST_RIP */
    "    vmwrite %rdx, %rax\n"
    "    test %esi, %esi\n"
    "    mov 0(%rdi), %rax\n"
    "    mov 8(%rdi), %rcx\n"
    "    mov 16(%rdi), %rdx\n"
    "    mov 24(%rdi), %rbx\n"
    "    mov 40(%rdi), %rbp\n"
    "    mov 48(%rdi), %rsi\n"
    "    mov 64(%rdi), %r8\n"
    "    mov 72(%rdi), %r9\n"
    "    mov 80(%rdi), %r10\n"
    "    mov 88(%rdi), %r11\n"
    "    mov 96(%rdi), %r12\n"
    "    mov 104(%rdi), %r13\n"
    "    mov 112(%rdi), %r14\n"
    "    mov 120(%rdi), %r15\n"
    "    mov 56(%rdi), %rdi\n"
    "    jnz 1f\n"
    "    vmlaunch\n"
    "    jmp 2f\n"
    "1:  vmresume\n"
    "2:  pop %rdi\n"                   /* the entry failed */
    "    pop %r15; pop %r14; pop %r13; pop %r12; pop %rbx; pop %rbp\n"
    "    mov $1, %eax\n"
    "    ret\n"
    "vmx_exit_point:\n"
    "    push %rdi\n"
    "    mov 8(%rsp), %rdi\n"
    "    mov %rax, 0(%rdi)\n"
    "    mov %rcx, 8(%rdi)\n"
    "    mov %rdx, 16(%rdi)\n"
    "    mov %rbx, 24(%rdi)\n"
    "    mov %rbp, 40(%rdi)\n"
    "    mov %rsi, 48(%rdi)\n"
    "    mov %r8, 64(%rdi)\n"
    "    mov %r9, 72(%rdi)\n"
    "    mov %r10, 80(%rdi)\n"
    "    mov %r11, 88(%rdi)\n"
    "    mov %r12, 96(%rdi)\n"
    "    mov %r13, 104(%rdi)\n"
    "    mov %r14, 112(%rdi)\n"
    "    mov %r15, 120(%rdi)\n"
    "    pop %rax\n"
    "    mov %rax, 56(%rdi)\n"
    "    pop %rdi\n"
    "    pop %r15; pop %r14; pop %r13; pop %r12; pop %rbx; pop %rbp\n"
    "    xor %eax, %eax\n"
    "    ret\n");

static uint8_t tss[104] __attribute__((aligned(16)));

/* Allowed-0 bits forced on, allowed-1 bits limit (SDM A.3). */
static inline uint32_t adjust(uint32_t msr, uint32_t want)
{
    uint64_t cap = rdmsr(msr);
    return (want | (uint32_t)cap) & (uint32_t)(cap >> 32);
}

struct dtr {
    uint16_t limit;
    uint64_t base;
} __attribute__((packed));

static inline struct dtr sgdt(void)
{
    struct dtr d;
    __asm__ volatile("sgdt %0" : "=m"(d));
    return d;
}

static inline struct dtr sidt(void)
{
    struct dtr d;
    __asm__ volatile("sidt %0" : "=m"(d));
    return d;
}

/* A 64-bit TSS at selector 0x18: VM exits load TR, and a null host TR
 * selector fails the host-state checks. */
static inline void load_tr(void)
{
    uint64_t base = (uint64_t)tss;
    mb_gdt[3] = 0x67 | (base & 0xFFFFFF) << 16 | 0x89ull << 40 | ((base >> 24) & 0xFF) << 56;
    mb_gdt[4] = base >> 32;
    __asm__ volatile("ltr %w0" : : "r"(0x18));
}

static inline void set_guest_seg(unsigned i, uint16_t sel, uint32_t limit, uint32_t ar)
{
    vmwrite(GUEST_ES_SEL + 2 * i, sel);
    vmwrite(GUEST_ES_LIMIT + 2 * i, limit);
    vmwrite(GUEST_ES_AR + 2 * i, ar);
    vmwrite(GUEST_ES_BASE + 2 * i, i == 7 ? (uint64_t)tss : 0);
}

static inline uint64_t read_cr3(void)
{
    uint64_t v;
    __asm__ volatile("mov %%cr3, %0" : "=r"(v));
    return v;
}

/* The host state of vmcs12: this L1 as it runs now (flat 64-bit code
 * 0x08, data 0x10, the TSS at 0x18). */
static inline void vmx_host_state(void)
{
    struct dtr g = sgdt(), i = sidt();
    vmwrite(HOST_CR0, read_cr0());
    vmwrite(HOST_CR3, read_cr3());
    vmwrite(HOST_CR4, read_cr4());
    static const uint16_t data[] = {HOST_ES_SEL, HOST_SS_SEL, HOST_DS_SEL, HOST_FS_SEL,
                                    HOST_GS_SEL};
    vmwrite(HOST_CS_SEL, 0x08);
    for (unsigned s = 0; s < sizeof(data) / sizeof(data[0]); s++)
        vmwrite(data[s], 0x10);
    vmwrite(HOST_TR_SEL, 0x18);
    vmwrite(HOST_FS_BASE, 0);
    vmwrite(HOST_GS_BASE, 0);
    vmwrite(HOST_TR_BASE, (uint64_t)tss);
    vmwrite(HOST_GDTR_BASE, g.base);
    vmwrite(HOST_IDTR_BASE, i.base);
}

/* CPUID.1:ECX.VMX, or a line saying how to get it; *edx: CPUID.1:EDX. */
static inline bool vmx_offered(uint32_t *edx)
{
    uint32_t a, b, c;
    cpuid_count(1, 0, &a, &b, &c, edx);
    if (!(c & (1u << 5)))
        rt_puts("no VMX (run with --models vmx)\n");
    return c & (1u << 5);
}

/* VMX operation (CR0.NE and CR4.VMXE as IA32_VMX_CR0/CR4_FIXED0 ask,
 * VMXON), then vmcs current (VMCLEAR, VMPTRLD); the TSS loaded first.
 * Returns vmcs's address. */
static uint8_t vmxon_region[4096] __attribute__((aligned(4096)));
static uint8_t vmcs[4096] __attribute__((aligned(4096)));
static inline uint64_t vmx_start(void)
{
    load_tr();
    uint64_t basic = rdmsr(0x480);
    *(uint32_t *)vmxon_region = (uint32_t)basic & 0x7FFFFFFF;
    *(uint32_t *)vmcs = (uint32_t)basic & 0x7FFFFFFF;
    write_cr0(read_cr0() | (1u << 5));           /* NE */
    write_cr4(read_cr4() | (1u << 13));          /* VMXE */
    uint64_t pa = (uint64_t)vmxon_region;
    CHECK(!vmx_op(0, &pa), "VMXON failed\n");
    pa = (uint64_t)vmcs;
    CHECK(!vmx_op(1, &pa) && !vmx_op(2, &pa), "VMCLEAR/VMPTRLD failed\n");
    return pa;
}

#endif
