/* SPDX-License-Identifier: MIT */
/*
 * vmx_pae: an L1 hypervisor runs a 32-bit PAE-paging L2 under EPT and
 * checks its PDPTE registers (SDM vol. 3, 4.4.1, 27.3.2.4, 28.3.4).
 *
 * L2's CR3 names a PDPT ("table A") whose directory maps a 2 MiB window
 * to one frame; vmcs12's GUEST_PDPTR0 names another directory that maps
 * the window to a different frame, where L2's IDT is too.  The entry
 * loads the registers from GUEST_PDPTR0-3, so L2
 *   - reads the window through the registers,
 *   - takes #UD through the IDT in the window (the delivery walks through
 *     them too) and comes back,
 *   - exits (VMCALL): vmcs12 holds the registers, not table A's entries;
 *   - reloads CR3 (MOV to CR3 loads the PDPTEs from table A), reads the
 *     window again through table A's directory and exits: vmcs12 now holds
 *     table A's entries;
 *   - halts (HLT exiting).
 * Run: virtmodel-run vmx_pae.elf --models vmx
 */
#include "vmx_l1.h"

enum {
    GUEST_EFER = 0x2806, GUEST_PDPTR0 = 0x280A, HOST_EFER = 0x2C02,
};

#define WIN 0x3FE00000u             /* the window: L2 linear, PD index 511 */
#define FRAME_A 0x1000000u          /* what table A's directory maps it to */
#define FRAME_R 0x1200000u          /* ... and the registers' directory */
#define IDT_OFF 0x800u              /* L2's IDT in the window */
#define READ_A 0xAAAA0000u
#define READ_R 0xBBBB0000u
#define UD_MARK 0x55D0u
#define CODE32 0x28                 /* a flat 32-bit code segment in mb_gdt */

static uint64_t pdpt_a[4] __attribute__((aligned(4096)));
static uint64_t pd_a[512] __attribute__((aligned(4096)));
static uint64_t pd_r[512] __attribute__((aligned(4096)));
static uint8_t l2_stack[4096] __attribute__((aligned(16)));
static struct gprs l2_regs;

/* L2 (32-bit protected mode, PAE paging). */
void l2_pae_entry(void);
void l2_pae_ud(void);
__asm__(
    ".text\n"
    ".code32\n"
    "l2_pae_entry:\n"
    "    movl 0x3FE00000, %eax\n"       /* through the registers */
    "    ud2\n"                         /* #UD through the IDT in the window */
    "    vmcall\n"
    "    mov %cr3, %ecx\n"
    "    mov %ecx, %cr3\n"              /* the PDPTEs from table A now */
    "    movl 0x3FE00000, %eax\n"
    "    vmcall\n"
    "1:  hlt\n"
    "    jmp 1b\n"
    "l2_pae_ud:\n"
    "    movl $0x55D0, %edx\n"
    "    addl $2, (%esp)\n"             /* past the UD2 */
    "    iret\n"
    ".code64\n");

/* 4 GiB identity EPT with 2 MiB pages: EPTP (write-back, 4 levels). */
static uint64_t ept_pml4[512] __attribute__((aligned(4096)));
static uint64_t ept_pdpt[512] __attribute__((aligned(4096)));
static uint64_t ept_pd[4 * 512] __attribute__((aligned(4096)));
static uint64_t identity_ept(void)
{
    for (uint64_t i = 0; i < 4 * 512; i++)
        ept_pd[i] = i << 21 | 6 << 3 | 1 << 7 | 7;      /* WB, 2 MiB, RWX */
    for (uint64_t i = 0; i < 4; i++)
        ept_pdpt[i] = (uint64_t)&ept_pd[i * 512] | 7;
    ept_pml4[0] = (uint64_t)ept_pdpt | 7;
    return (uint64_t)ept_pml4 | 6 | 3 << 3;
}

/* L2's two directories (identity 1 GiB with 2 MiB pages, the window
 * apart), table A, the frames' words and the IDT's #UD gate (vector 6, a
 * 32-bit interrupt gate) in the registers' frame only. */
static void l2_tables(void)
{
    for (uint32_t j = 0; j < 512; j++)
        pd_a[j] = pd_r[j] = (uint64_t)j << 21 | 0x83;
    pd_a[511] = FRAME_A | 0x83;
    pd_r[511] = FRAME_R | 0x83;
    pdpt_a[0] = (uint64_t)pd_a | 1;
    *(volatile uint32_t *)(uint64_t)FRAME_A = READ_A;
    *(volatile uint32_t *)(uint64_t)FRAME_R = READ_R;
    uint32_t h = (uint32_t)(uint64_t)l2_pae_ud;
    volatile uint32_t *gate = (volatile uint32_t *)(uint64_t)(FRAME_R + IDT_OFF + 6 * 8);
    gate[0] = (uint32_t)CODE32 << 16 | (h & 0xFFFF);
    gate[1] = (h & 0xFFFF0000u) | 0x8E00;
}

static void setup_vmcs(void)
{
    mb_gdt[CODE32 / 8] = 0x00CF9B000000FFFFull;
    uint64_t efer = rdmsr(0xC0000080);
    vmwrite(PIN_CTLS, adjust(0x48D, 0));
    vmwrite(PROC_CTLS, adjust(0x48E, (1u << 7) | (1u << 31)));     /* HLT exiting */
    vmwrite(PROC_CTLS2, adjust(0x48B, 1u << 1));                   /* EPT */
    vmwrite(EPT_POINTER, identity_ept());
    /* 64-bit host with its EFER; a guest outside IA-32e mode with its own. */
    vmwrite(EXIT_CTLS, adjust(0x48F, (1u << 9) | (1u << 21)));
    vmwrite(ENTRY_CTLS, adjust(0x490, 1u << 15) & ~(1u << 9));
    vmwrite(HOST_EFER, efer);
    vmwrite(GUEST_EFER, efer & ~0x500ull);                           /* LME, LMA */
    vmwrite(EXC_BITMAP, 0);
    vmwrite(VMCS_LINK, ~0ull);
    vmx_host_state();
    for (unsigned s = 0; s < 6; s++)
        set_guest_seg(s, s == 1 ? CODE32 : 0x10, 0xFFFFFFFF, s == 1 ? 0xC09B : 0xC093);
    set_guest_seg(6, 0, 0, 1u << 16);                /* LDTR unusable */
    set_guest_seg(7, 0x18, 0x67, 0x8B);              /* busy TSS */
    struct dtr g = sgdt();
    vmwrite(GUEST_GDTR_BASE, g.base);
    vmwrite(GUEST_GDTR_LIMIT, g.limit);
    vmwrite(GUEST_IDTR_BASE, WIN + IDT_OFF);
    vmwrite(GUEST_IDTR_LIMIT, 7 * 8 - 1);
    vmwrite(GUEST_CR0, read_cr0());
    vmwrite(GUEST_CR3, (uint64_t)pdpt_a);
    vmwrite(GUEST_CR4, read_cr4() & ~(1ull << 17));  /* no PCIDE outside IA-32e */
    vmwrite(GUEST_PDPTR0, (uint64_t)pd_r | 1);
    for (unsigned i = 1; i < 4; i++)
        vmwrite(GUEST_PDPTR0 + 2 * i, 0);
    vmwrite(GUEST_DR7, 0x400);
    vmwrite(GUEST_RSP, (uint64_t)l2_stack + sizeof(l2_stack));
    vmwrite(GUEST_RIP, (uint64_t)l2_pae_entry);
    vmwrite(GUEST_RFLAGS, 2);
    vmwrite(GUEST_INTERRUPTIBILITY, 0);
    vmwrite(GUEST_ACTIVITY, 0);
}

/* GUEST_PDPTR0-3 as the exit stored them against what they should be. */
static void check_pdptrs(uint64_t e0, const char *what)
{
    uint64_t got[4];
    for (unsigned i = 0; i < 4; i++)
        got[i] = vmread(GUEST_PDPTR0 + 2 * i);
    CHECK(got[0] == e0 && !got[1] && !got[2] && !got[3],
          "GUEST_PDPTR0-3 0x%lx 0x%lx 0x%lx 0x%lx, expected 0x%lx 0 0 0 (%s)", got[0], got[1],
          got[2], got[3], e0, what);
    rt_printf("L1: GUEST_PDPTR0 0x%lx stored: %s\n", got[0], what);
}

static bool on_vmcall(unsigned n)
{
    uint32_t read = (uint32_t)l2_regs.rax;
    vmwrite(GUEST_RIP, vmread(GUEST_RIP) + vmread(EXIT_INSN_LEN));
    if (n == 1) {
        rt_printf("L1: exit 18: L2 read 0x%x, its #UD handler ran (edx 0x%lx)\n", read,
                  l2_regs.rdx);
        CHECK(read == READ_R, "L2 read 0x%x, not through the PDPTE registers", read);
        CHECK(l2_regs.rdx == UD_MARK, "L2's #UD was not delivered through its IDT");
        check_pdptrs((uint64_t)pd_r | 1, "the registers the entry loaded");
        return true;
    }
    rt_printf("L1: exit 18: L2 read 0x%x after MOV to CR3\n", read);
    CHECK(read == READ_A, "L2 read 0x%x, not through table A", read);
    check_pdptrs((uint64_t)pd_a | 1, "table A's, loaded by MOV to CR3");
    return true;
}

int main(void)
{
    uint32_t d;
    if (!vmx_offered(&d))
        return 2;
    vmx_start();
    l2_tables();
    setup_vmcs();
    unsigned vmcalls = 0;
    for (int launched = 0;; launched = 1) {
        if (vmx_run(&l2_regs, launched)) {
            rt_printf("L1: VM entry failed, error %lu\n", vmread(VM_INSN_ERROR));
            return 1;
        }
        uint32_t reason = (uint32_t)vmread(EXIT_REASON);
        if (reason == 18 && vmcalls < 2 && on_vmcall(++vmcalls))
            continue;
        if (reason == 12 && vmcalls == 2) {
            rt_printf("L1: exit 12 HLT: L2 is done\n");
            break;
        }
        rt_printf("L1: unexpected exit 0x%x at 0x%lx, qualification 0x%lx\n", reason,
                  vmread(GUEST_RIP), vmread(EXIT_QUAL));
        return 1;
    }
    __asm__ volatile("vmxoff" ::: "cc");
    return rt_failures ? 1 : 0;
}
