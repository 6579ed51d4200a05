/* SPDX-License-Identifier: MIT */
/*
 * A small L1 hypervisor: enters VMX operation, builds a vmcs12 for an L2
 * that shares its address space through an identity EPT (one page left
 * out), and runs it.  L2 takes a handful of exits, each printed as L1
 * handles it:
 *
 *   CPUID                     always exits (reason 10); L1 answers it
 *   OUT 0x510, IN 0x511       ports set in I/O bitmap A (reason 30, with
 *                             the exit qualification: size, direction, port)
 *   RDMSR 0xC0000103          bit set in the MSR read bitmap (reason 31);
 *                             RDMSR 0x174 and COM1 are not in the bitmaps
 *                             and reach the machine directly
 *   VMCALL                    always exits (reason 18); L1 then injects
 *                             interrupt vector 0x40 through the VM-entry
 *                             interruption-information field
 *   CPUID in L2's handler     proves the injected interrupt went through
 *                             L2's IDT
 *   read of l2_page           its EPT entry is not present (reason 48,
 *                             qualification: read, no permissions; the
 *                             guest-physical and linear addresses); L1 maps
 *                             the page read-only onto a page of its own
 *   write of l2_page          EPT violation again (write, readable); L1
 *                             adds write permission, and L2's value lands
 *                             in L1's page
 *   VMFUNC 0 (EPTP switching) L2 switches to entry 1 of L1's EPTP list
 *                             without an exit: a second EPT (with A/D
 *                             flags) maps l2_page onto another L1 page;
 *                             entry 0 switches back; entry 2 (an invalid
 *                             EPTP) and function 1 (not enabled) exit
 *                             (reason 59) and L1 skips them; EAX = 64 is
 *                             #UD, which L1's exception bitmap takes
 *   VMCALL (RAX = 2)          L1 sets the monitor trap flag: L2 runs one
 *                             instruction (a 1-byte NOP), then exits
 *                             (reason 37) with RIP right after it
 *   HLT                       HLT exiting (reason 12): L2 is done
 *   INIT (with a local APIC)  L1 sends INIT to its own APIC: latched in VMX
 *                             root operation (SDM 24.8), L1 runs on; the
 *                             next VM entry exits at once (reason 3),
 *                             before L2 runs an instruction, and the INIT
 *                             is gone: VMXOFF then leaves L1 running
 *
 * The machine runs nested guests on its hosted vCPU (the one real guests
 * use), so this guest is a multiboot kernel: the loader starts it in
 * 32-bit protected mode at mb_entry below, which sets up 4 GiB of
 * identity-mapped long mode and then enters the runtime's _start.
 */
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

static uint64_t vmread(uint64_t enc)
{
    uint64_t v = 0;
    __asm__ volatile("vmread %1, %0" : "=r"(v) : "r"(enc) : "cc");
    return v;
}

static void vmwrite(uint64_t enc, uint64_t val)
{
    uint8_t fail;
    __asm__ volatile("vmwrite %2, %1; setbe %0" : "=q"(fail) : "r"(enc), "r"(val) : "cc");
    CHECK(!fail, "VMWRITE 0x%lx failed\n", enc);
}

/* Returns true when the instruction failed (CF or ZF). */
static bool vmx_op(int op, uint64_t *pa)
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

static struct gprs l2_regs;

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

/* ---- L2 ---- */

#define L2_VECTOR 0x40
#define VMCALL_INJECT 1
#define VMCALL_MTF 2
#define CPUID_HELLO 0x4c320000u     /* "L2" */
#define CPUID_FROM_HANDLER 0x4c320040u

static uint8_t l2_stack[16384] __attribute__((aligned(16)));

/* The page L1's EPT leaves out at first (its guest-physical address is its
 * L1 address, as for everything else L2 uses), and the page of L1's own
 * that backs it once L1 has handled the violation. */
#define L1_PATTERN 0x11aa22bb33cc44ddull
#define L2_WRITE 0x5eedull
#define L1_ALT_PATTERN 0x0a1e0a1e0a1e0a1eull
static uint8_t l2_page[4096] __attribute__((aligned(4096)));
static uint64_t l1_backing[512] __attribute__((aligned(4096)));
/* What l2_page maps onto under the second EPT (EPTP-list entry 1). */
static uint64_t l1_alt[512] __attribute__((aligned(4096)));
/* L1 offers L2 EPTP switching (IA32_VMX_VMFUNC bit 0). */
static volatile bool l2_vmfunc;

struct gate64 {
    uint16_t off_lo, sel;
    uint8_t ist, attr;
    uint16_t off_mid;
    uint32_t off_hi, zero;
} __attribute__((packed));
static struct gate64 l2_idt[L2_VECTOR + 1] __attribute__((aligned(16)));
static volatile unsigned l2_interrupts;

static void l2_cpuid(uint32_t leaf, uint32_t *a)
{
    uint32_t b, c, d;
    cpuid_count(leaf, 0, a, &b, &c, &d);
}

/* L2's handler of the injected vector: CPUID (an exit L1 prints), then IRET. */
void l2_isr_body(void);
void l2_isr_body(void)
{
    uint32_t a;
    l2_interrupts++;
    l2_cpuid(CPUID_FROM_HANDLER, &a);
}

void l2_isr(void);
__asm__(
    ".text\n"
    "l2_isr:\n"
    "    push %rax; push %rcx; push %rdx; push %rbx; push %rsi; push %rdi\n"
    "    push %r8; push %r9; push %r10; push %r11\n"
    "    call l2_isr_body\n"
    "    pop %r11; pop %r10; pop %r9; pop %r8\n"
    "    pop %rdi; pop %rsi; pop %rbx; pop %rdx; pop %rcx; pop %rax\n"
    "    iretq\n");

/* VMFUNC: EAX the function, ECX its argument (the EPTP-list index). */
static void l2_vmfunc_call(uint32_t fn, uint32_t index)
{
    __asm__ volatile("vmfunc" : : "a"(fn), "c"(index) : "memory");
}

/* EPTP switching without a VM exit, then two VMFUNCs that exit. */
static void l2_switch_eptp(volatile uint64_t *p)
{
    if (!l2_vmfunc)
        return;
    l2_vmfunc_call(0, 1);
    uint64_t other = *p;
    l2_vmfunc_call(0, 0);
    rt_printf("  L2: VMFUNC 0 to EPTP-list entry 1: l2_page reads 0x%lx; back to entry 0: "
              "0x%lx\n", other, *p);
    l2_vmfunc_call(0, 2);
    l2_vmfunc_call(1, 0);
    l2_vmfunc_call(64, 0);
}

void l2_main(void);
void l2_main(void)
{
    uint32_t a;
    rt_printf("  L2: running (COM1 is not in the I/O bitmap: no exit)\n");
    l2_cpuid(CPUID_HELLO, &a);
    rt_printf("  L2: CPUID 0x%x answered 0x%x by L1\n", CPUID_HELLO, a);
    outb(0x510, 0x42);
    uint16_t w;
    __asm__ volatile("inw %1, %0" : "=a"(w) : "Nd"((uint16_t)0x511));
    rt_printf("  L2: inw(0x511) = 0x%x\n", w);
    rt_printf("  L2: rdmsr(0xc0000103) = 0x%lx\n", rdmsr(0xC0000103));
    rt_printf("  L2: rdmsr(0x174) = 0x%lx (not in the MSR bitmap)\n", rdmsr(0x174));
    __asm__ volatile("vmcall" : : "a"(VMCALL_INJECT) : "memory");
    rt_printf("  L2: back from VMCALL, %u interrupt(s) taken\n", l2_interrupts);
    volatile uint64_t *p = (volatile uint64_t *)l2_page;
    uint64_t seen = *p;
    rt_printf("  L2: read 0x%lx from l2_page\n", seen);
    *p = L2_WRITE;
    l2_switch_eptp(p);
    __asm__ volatile("vmcall; nop; nop" : : "a"(VMCALL_MTF) : "memory");
    for (;;)
        hlt();
}

void l2_entry(void);
__asm__(
    ".text\n"
    "l2_entry:\n"
    "    call l2_main\n"
    "1:  hlt\n"
    "    jmp 1b\n");

/* ---- L1 ---- */

static uint8_t vmxon_region[4096] __attribute__((aligned(4096)));
static uint8_t vmcs[4096] __attribute__((aligned(4096)));
static uint8_t io_bitmap_a[4096] __attribute__((aligned(4096)));
static uint8_t io_bitmap_b[4096] __attribute__((aligned(4096)));
static uint8_t msr_bitmap[4096] __attribute__((aligned(4096)));
static uint8_t tss[104] __attribute__((aligned(16)));

/* L1's EPT (SDM 29.3.2): 4 GiB identity-mapped with 2 MiB pages, except
 * the 2 MiB that hold l2_page, which go through 4 KiB entries with
 * l2_page's left not present. */
static uint64_t ept_pml4[512] __attribute__((aligned(4096)));
static uint64_t ept_pdpt[512] __attribute__((aligned(4096)));
static uint64_t ept_pd[4 * 512] __attribute__((aligned(4096)));
static uint64_t ept_pt[512] __attribute__((aligned(4096)));
#define EPT_RWX 7ull
#define EPT_R 1ull
#define EPT_W 2ull
#define EPT_WB (6ull << 3)          /* leaf memory type write-back */
#define EPT_LARGE (1ull << 7)

static uint64_t *l2_page_pte(void)
{
    return &ept_pt[((uint64_t)l2_page >> 12) & 511];
}

static uint64_t setup_ept(void)
{
    uint64_t pt_region = (uint64_t)l2_page >> 21;
    for (uint64_t i = 0; i < 4 * 512; i++)
        ept_pd[i] = i << 21 | EPT_WB | EPT_LARGE | EPT_RWX;
    for (uint64_t i = 0; i < 512; i++)
        ept_pt[i] = (pt_region << 21 | i << 12) | EPT_WB | EPT_RWX;
    ept_pd[pt_region] = (uint64_t)ept_pt | EPT_RWX;
    *l2_page_pte() = 0;
    for (uint64_t i = 0; i < 4; i++)
        ept_pdpt[i] = (uint64_t)&ept_pd[i * 512] | EPT_RWX;
    ept_pml4[0] = (uint64_t)ept_pdpt | EPT_RWX;
    /* EPTP: write-back (6), 4-level walk (3 in bits 5:3), no A/D flags. */
    return (uint64_t)ept_pml4 | 6 | 3 << 3;
}

/* The second EPT (EPTP-list entry 1): the same identity map, except that
 * l2_page goes read-only onto l1_alt; with accessed/dirty flags (EPTP bit
 * 6), so the walks under it mark its entries.  Its PDPT shares the PDs of
 * the other GiBs with the first EPT. */
static uint64_t ept2_pml4[512] __attribute__((aligned(4096)));
static uint64_t ept2_pdpt[512] __attribute__((aligned(4096)));
static uint64_t ept2_pd[512] __attribute__((aligned(4096)));
static uint64_t ept2_pt[512] __attribute__((aligned(4096)));
static uint64_t eptp_list[512] __attribute__((aligned(4096)));
#define EPT_ACCESSED (1ull << 8)

static uint64_t *l2_page_pte2(void)
{
    return &ept2_pt[((uint64_t)l2_page >> 12) & 511];
}

static uint64_t setup_ept2(void)
{
    uint64_t region = (uint64_t)l2_page >> 21, gib = region >> 9;
    for (uint64_t i = 0; i < 512; i++) {
        ept2_pd[i] = ept_pd[gib * 512 + i];
        ept2_pt[i] = ept_pt[i];
    }
    ept2_pd[region & 511] = (uint64_t)ept2_pt | EPT_RWX;
    *l2_page_pte2() = (uint64_t)l1_alt | EPT_WB | EPT_R;
    l1_alt[0] = L1_ALT_PATTERN;
    for (uint64_t i = 0; i < 4; i++)
        ept2_pdpt[i] = i == gib ? (uint64_t)ept2_pd | EPT_RWX : ept_pdpt[i];
    ept2_pml4[0] = (uint64_t)ept2_pdpt | EPT_RWX;
    return (uint64_t)ept2_pml4 | 6 | 3 << 3 | 1 << 6;
}

/* VM functions when the capability MSRs offer EPTP switching: the list
 * holds the first EPTP, the second, and an invalid one (memory type 1). */
static void setup_vmfunc(uint64_t eptp0)
{
    uint64_t ctls2 = rdmsr(0x48B);
    if (!((ctls2 >> 32) & (1u << 13)) || !(rdmsr(0x491) & 1))
        return;
    eptp_list[0] = eptp0;
    eptp_list[1] = setup_ept2();
    eptp_list[2] = (uint64_t)ept2_pml4 | 1 | 3 << 3;
    vmwrite(PROC_CTLS2, vmread(PROC_CTLS2) | (1u << 13));
    vmwrite(VM_FUNCTION_CONTROL, 1);
    vmwrite(EPTP_LIST_ADDRESS, (uint64_t)eptp_list);
    l2_vmfunc = true;
}

/* INVEPT single-context (type 1) for the current EPTP (SDM 30.3). */
static void invept_single(void)
{
    struct { uint64_t eptp, zero; } desc = {vmread(EPT_POINTER), 0};
    uint8_t fail;
    __asm__ volatile("invept %1, %2; setbe %0" : "=q"(fail) : "m"(desc), "r"(1ull)
                     : "cc", "memory");
    CHECK(!fail, "INVEPT failed\n");
}

/* Allowed-0 bits forced on, allowed-1 bits limit (SDM A.3). */
static uint32_t adjust(uint32_t msr, uint32_t want)
{
    uint64_t cap = rdmsr(msr);
    return (want | (uint32_t)cap) & (uint32_t)(cap >> 32);
}

struct dtr {
    uint16_t limit;
    uint64_t base;
} __attribute__((packed));

static struct dtr sgdt(void)
{
    struct dtr d;
    __asm__ volatile("sgdt %0" : "=m"(d));
    return d;
}

static struct dtr sidt(void)
{
    struct dtr d;
    __asm__ volatile("sidt %0" : "=m"(d));
    return d;
}

/* A 64-bit TSS at selector 0x18: VM exits load TR, and a null host TR
 * selector fails the host-state checks. */
static void load_tr(void)
{
    uint64_t base = (uint64_t)tss;
    mb_gdt[3] = 0x67 | (base & 0xFFFFFF) << 16 | 0x89ull << 40 | ((base >> 24) & 0xFF) << 56;
    mb_gdt[4] = base >> 32;
    __asm__ volatile("ltr %w0" : : "r"(0x18));
}

static void set_guest_seg(unsigned i, uint16_t sel, uint32_t limit, uint32_t ar)
{
    vmwrite(GUEST_ES_SEL + 2 * i, sel);
    vmwrite(GUEST_ES_LIMIT + 2 * i, limit);
    vmwrite(GUEST_ES_AR + 2 * i, ar);
    vmwrite(GUEST_ES_BASE + 2 * i, i == 7 ? (uint64_t)tss : 0);
}

static void setup_vmcs(void)
{
    uint64_t cr0, cr3, cr4;
    __asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
    cr0 = read_cr0();
    cr4 = read_cr4();
    struct dtr g = sgdt(), i = sidt();
    /* Controls: HLT exiting, I/O bitmaps, MSR bitmaps; 64-bit host, IA-32e guest. */
    vmwrite(PIN_CTLS, adjust(0x48D, 0));
    vmwrite(PROC_CTLS, adjust(0x48E, (1u << 7) | (1u << 25) | (1u << 28) | (1u << 31)));
    vmwrite(PROC_CTLS2, adjust(0x48B, 1u << 1));    /* enable EPT */
    vmwrite(EPT_POINTER, setup_ept());
    setup_vmfunc(vmread(EPT_POINTER));
    vmwrite(EXIT_CTLS, adjust(0x48F, 1u << 9));
    vmwrite(ENTRY_CTLS, adjust(0x490, 1u << 9));
    vmwrite(EXC_BITMAP, 0xFFFFFFFFu);       /* any L2 exception: an exit */
    vmwrite(IO_BITMAP_A, (uint64_t)io_bitmap_a);
    vmwrite(IO_BITMAP_B, (uint64_t)io_bitmap_b);
    vmwrite(MSR_BITMAP, (uint64_t)msr_bitmap);
    vmwrite(VMCS_LINK, ~0ull);
    io_bitmap_a[0x510 / 8] |= 1u << (0x510 % 8);
    io_bitmap_a[0x511 / 8] |= 1u << (0x511 % 8);
    msr_bitmap[1024 + 0x103 / 8] |= 1u << (0x103 % 8);   /* read 0xC0000103 */
    /* Host: this L1. */
    vmwrite(HOST_CR0, cr0);
    vmwrite(HOST_CR3, cr3);
    vmwrite(HOST_CR4, cr4);
    vmwrite(HOST_CS_SEL, 0x08);
    vmwrite(HOST_SS_SEL, 0x10);
    vmwrite(HOST_DS_SEL, 0x10);
    vmwrite(HOST_ES_SEL, 0x10);
    vmwrite(HOST_FS_SEL, 0x10);
    vmwrite(HOST_GS_SEL, 0x10);
    vmwrite(HOST_TR_SEL, 0x18);
    vmwrite(HOST_FS_BASE, 0);
    vmwrite(HOST_GS_BASE, 0);
    vmwrite(HOST_TR_BASE, (uint64_t)tss);
    vmwrite(HOST_GDTR_BASE, g.base);
    vmwrite(HOST_IDTR_BASE, i.base);
    /* Guest: the same flat segments, its own IDT and stack. */
    for (unsigned s = 0; s < 6; s++)
        set_guest_seg(s, s == 1 ? 0x08 : 0x10, 0xFFFFFFFF, s == 1 ? 0xA09B : 0xC093);
    set_guest_seg(6, 0, 0, 1u << 16);                /* LDTR unusable */
    set_guest_seg(7, 0x18, 0x67, 0x8B);              /* busy 64-bit TSS */
    vmwrite(GUEST_GDTR_BASE, g.base);
    vmwrite(GUEST_GDTR_LIMIT, g.limit);
    uint64_t isr = (uint64_t)l2_isr;
    l2_idt[L2_VECTOR] = (struct gate64){(uint16_t)isr, 0x08, 0, 0x8E,
                                        (uint16_t)(isr >> 16), (uint32_t)(isr >> 32), 0};
    vmwrite(GUEST_IDTR_BASE, (uint64_t)l2_idt);
    vmwrite(GUEST_IDTR_LIMIT, sizeof(l2_idt) - 1);
    vmwrite(GUEST_CR0, cr0);
    vmwrite(GUEST_CR3, cr3);
    vmwrite(GUEST_CR4, cr4);
    vmwrite(GUEST_DR7, 0x400);
    vmwrite(GUEST_RSP, (uint64_t)l2_stack + sizeof(l2_stack) - 8);
    vmwrite(GUEST_RIP, (uint64_t)l2_entry);
    vmwrite(GUEST_RFLAGS, 2);
    vmwrite(GUEST_INTERRUPTIBILITY, 0);
    vmwrite(GUEST_ACTIVITY, 0);
}

static const char *reason_name(uint32_t r)
{
    switch (r) {
    case 0: return "exception";
    case 10: return "CPUID";
    case 3: return "INIT signal";
    case 12: return "HLT";
    case 18: return "VMCALL";
    case 30: return "I/O";
    case 31: return "RDMSR";
    case 48: return "EPT violation";
    case 49: return "EPT misconfiguration";
    case 37: return "monitor trap flag";
    case 59: return "VMFUNC";
    case 32: return "WRMSR";
    default: return "?";
    }
}

static void skip_insn(void)
{
    vmwrite(GUEST_RIP, vmread(GUEST_RIP) + vmread(EXIT_INSN_LEN));
}

static void on_cpuid(void)
{
    uint32_t leaf = (uint32_t)l2_regs.rax;
    rt_printf("L1: exit 10 CPUID eax=0x%x%s\n", leaf,
              leaf == CPUID_FROM_HANDLER ? " (from L2's vector 0x40 handler)" : "");
    l2_regs.rax = leaf == CPUID_HELLO ? 0x786d76 : 0;   /* "vmx" */
    l2_regs.rbx = l2_regs.rcx = l2_regs.rdx = 0;
    skip_insn();
}

/* SDM table 28-5: size - 1 in 2:0, IN in 3, string 4, REP 5, imm 6, port 31:16. */
static void on_io(void)
{
    uint64_t q = vmread(EXIT_QUAL);
    unsigned port = (unsigned)(q >> 16) & 0xFFFF, size = (unsigned)(q & 7) + 1;
    bool in = q & 8;
    rt_printf("L1: exit 30 I/O qualification 0x%lx: %s port 0x%x size %u%s\n", q,
              in ? "in" : "out", port, size, q & 0x40 ? " (immediate)" : "");
    if (in)
        l2_regs.rax = (l2_regs.rax & ~0xFFFFull) | 0xBEEF;
    else
        rt_printf("L1: L2 wrote 0x%lx\n", l2_regs.rax & 0xFF);
    skip_insn();
}

static void on_rdmsr(void)
{
    rt_printf("L1: exit 31 RDMSR ecx=0x%lx\n", l2_regs.rcx);
    l2_regs.rax = 0x1234;
    l2_regs.rdx = 0;
    skip_insn();
}

static uint64_t mtf_from;

static void on_vmcall(void)
{
    if (l2_regs.rax == VMCALL_MTF) {
        skip_insn();
        mtf_from = vmread(GUEST_RIP);
        rt_printf("L1: exit 18 VMCALL: monitor trap flag for one instruction\n");
        vmwrite(PROC_CTLS, vmread(PROC_CTLS) | (1u << 27));
        return;
    }
    rt_printf("L1: exit 18 VMCALL: inject interrupt vector 0x%x at the next entry\n",
              L2_VECTOR);
    skip_insn();
    /* Valid, type 0 (external interrupt), vector: SDM 25.8.3.  Injecting an
     * external interrupt needs RFLAGS.IF = 1 in L2. */
    vmwrite(ENTRY_INTR_INFO, (1u << 31) | L2_VECTOR);
    vmwrite(GUEST_RFLAGS, vmread(GUEST_RFLAGS) | (1u << 9));
}

/*
 * Exit qualification (SDM table 28-7): the access in bits 2:0 (read, write,
 * fetch), what the EPT entries allowed in 5:3, bit 7 a valid guest-linear
 * address, bit 8 a violation of the final translation (not of L2's page
 * walk).  First a read through the not-present entry: map l2_page onto L1's
 * page read-only.  Then L2's write to it: add write permission.
 */
static void on_ept_violation(void)
{
    uint64_t q = vmread(EXIT_QUAL), gpa = vmread(GUEST_PHYS_ADDR);
    rt_printf("L1: exit 48 EPT violation qualification 0x%lx: %s of GPA 0x%lx "
              "(linear 0x%lx), EPT allowed %s%s\n", q,
              q & 2 ? "write" : q & 4 ? "fetch" : "read", gpa,
              q & 0x80 ? vmread(GUEST_LINEAR_ADDR) : 0,
              q & 0x38 ? "" : "nothing", q & 8 ? "read" : "");
    CHECK((gpa & ~(uint64_t)0xFFF) == (uint64_t)l2_page, "unexpected GPA\n");
    uint64_t *pte = l2_page_pte();
    if (!(*pte & EPT_R)) {
        l1_backing[0] = L1_PATTERN;
        *pte = (uint64_t)l1_backing | EPT_WB | EPT_R;
        rt_printf("L1: mapped GPA 0x%lx read-only onto 0x%lx\n", gpa & ~(uint64_t)0xFFF,
                  (uint64_t)l1_backing);
    } else {
        *pte |= EPT_W;
        rt_printf("L1: made GPA 0x%lx writable\n", gpa & ~(uint64_t)0xFFF);
    }
    /* The walk L2 failed is not cached (SDM 29.4.3.1), yet an INVEPT after
     * changing EPT entries is what a hypervisor does. */
    invept_single();
}

/* A VMFUNC that failed (SDM 26.5.6): function 0 with an invalid EPTP at
 * the index, or a function L1 did not enable.  L2's switches before it
 * took no exit; the walks under the second EPT set its accessed flags. */
static void on_vmfunc(void)
{
    rt_printf("L1: exit 59 VMFUNC eax=%lu ecx=%lu: qualification 0x%lx, length %lu; "
              "EPTP still 0x%lx\n", l2_regs.rax, l2_regs.rcx, vmread(EXIT_QUAL),
              vmread(EXIT_INSN_LEN), vmread(EPT_POINTER));
    if (l2_regs.rax == 0)
        rt_printf("L1: the second EPT's entry for l2_page is %saccessed\n",
                  *l2_page_pte2() & EPT_ACCESSED ? "" : "not ");
    skip_insn();
}

/* An exception in L2 (every vector is in the bitmap): only the #UD of
 * VMFUNC with EAX > 63 is expected; L1 skips the instruction. */
static bool on_exception(void)
{
    uint32_t info = (uint32_t)vmread(EXIT_INTR_INFO);
    if ((info & 0x7FF) != 0x306 || l2_regs.rax <= 63)
        return false;
    rt_printf("L1: exit 0 exception: interruption 0x%x (#UD) from VMFUNC eax=%lu\n", info,
              l2_regs.rax);
    vmwrite(GUEST_RIP, vmread(GUEST_RIP) + 3);
    return true;
}

/* INIT to this CPU's own xAPIC (physical destination: its APIC ID). */
#define APIC 0xFEE00000ull
static void self_init(void)
{
    uint32_t id = *(volatile uint32_t *)(APIC + 0x20) >> 24;
    *(volatile uint32_t *)(APIC + 0x310) = id << 24;
    *(volatile uint32_t *)(APIC + 0x300) = (5u << 8) | (1u << 14);
}

static uint64_t init_at;

/* L2 is done: with a local APIC, INIT is next (true: carry on). */
static bool on_hlt(unsigned exits, bool apic)
{
    rt_printf("L1: exit 12 HLT: L2 is done after %u exits\n", exits);
    CHECK(l2_interrupts == 1, "the injected interrupt ran %u times\n", l2_interrupts);
    rt_printf("L1: L2's write reached 0x%lx: 0x%lx (l2_page itself holds 0x%lx)\n",
              (uint64_t)l1_backing, l1_backing[0], *(uint64_t *)l2_page);
    CHECK(l1_backing[0] == L2_WRITE, "L2's write went elsewhere\n");
    if (!apic)
        return false;
    skip_insn();
    init_at = vmread(GUEST_RIP);
    self_init();
    rt_printf("L1: sent INIT to itself in VMX root operation: latched, L1 runs on\n");
    return true;
}

int main(void)
{
    uint32_t a, b, c, d;
    cpuid_count(1, 0, &a, &b, &c, &d);
    if (!(c & (1u << 5))) {
        rt_puts("no VMX (run with --models vmx)\n");
        return 2;
    }
    bool apic = d & (1u << 9);
    load_tr();
    uint64_t basic = rdmsr(0x480);
    *(uint32_t *)vmxon_region = (uint32_t)basic & 0x7FFFFFFF;
    *(uint32_t *)vmcs = (uint32_t)basic & 0x7FFFFFFF;
    write_cr0(read_cr0() | (1u << 5));           /* NE: IA32_VMX_CR0_FIXED0 */
    write_cr4(read_cr4() | (1u << 13));          /* VMXE */
    uint64_t pa = (uint64_t)vmxon_region;
    CHECK(!vmx_op(0, &pa), "VMXON failed\n");
    pa = (uint64_t)vmcs;
    CHECK(!vmx_op(1, &pa) && !vmx_op(2, &pa), "VMCLEAR/VMPTRLD failed\n");
    setup_vmcs();
    rt_printf("L1: in VMX operation, vmcs12 at 0x%lx, entering L2\n", pa);
    unsigned exits = 0;
    for (int launched = 0;; launched = 1) {
        if (vmx_run(&l2_regs, launched)) {
            rt_printf("L1: VM entry failed, error %lu\n", vmread(VM_INSN_ERROR));
            return 1;
        }
        exits++;
        uint32_t reason = (uint32_t)vmread(EXIT_REASON);
        uint32_t vect = (uint32_t)vmread(IDT_VECT_INFO);
        if (vect & (1u << 31))
            rt_printf("L1: (IDT-vectoring information 0x%x)\n", vect);
        switch (reason) {
        case 10: on_cpuid(); break;
        case 30: on_io(); break;
        case 31: on_rdmsr(); break;
        case 18: on_vmcall(); break;
        case 48: on_ept_violation(); break;
        case 59: on_vmfunc(); break;
        case 0:
            if (on_exception())
                break;
            __attribute__((fallthrough));
        case 37:
            /* SDM 26.5.2: after one instruction; RIP is the next one. */
            rt_printf("L1: exit 37 MTF: L2 ran %lu byte(s) of code\n",
                      vmread(GUEST_RIP) - mtf_from);
            vmwrite(PROC_CTLS, vmread(PROC_CTLS) & ~(1u << 27));
            break;
        case 12:
            if (on_hlt(exits, apic))
                break;
            __asm__ volatile("vmxoff" ::: "cc");
            return 0;
        case 3:
            /* SDM 26.2: no register state changes; L2 ran nothing. */
            rt_printf("L1: exit 3 INIT signal at the VM entry, L2 %s\n",
                      vmread(GUEST_RIP) == init_at ? "ran no instruction" : "ran on");
            __asm__ volatile("vmxoff" ::: "cc");
            rt_printf("L1: VMXOFF: the INIT was consumed by the VM exit, L1 runs on\n");
            return 0;
        default:
            rt_printf("L1: unexpected exit %u (%s) at 0x%lx, interruption 0x%lx, "
                      "qualification 0x%lx\n", reason & 0xFFFF,
                      reason_name(reason & 0xFFFF), vmread(GUEST_RIP),
                      vmread(EXIT_INTR_INFO), vmread(EXIT_QUAL));
            return 1;
        }
    }
}
