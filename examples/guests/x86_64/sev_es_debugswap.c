/* SPDX-License-Identifier: MIT */
/*
 * An SEV-ES guest's view of DebugSwap (issue 20).
 *
 * Reads SEV_STATUS (MSR 0xC0010131) as Linux's sme_enable() does, then uses
 * the debug registers both ways:
 *   with DebugSwap (SEV_STATUS bit 7): MOV DR7 runs without an intercept and
 *   DR0-3/DR7 are the guest's own across a world switch (the CPU swaps them);
 *   without it: MOV DR7 raises #VC with SVM_EXIT_WRITE_DR7 / READ_DR7 (0x37 /
 *   0x27) and the #VC handler emulates DR7 with a per-CPU shadow, as Linux's
 *   vc_handle_dr7_write/read do; DR0-3 are shared with the host and, with a
 *   host breakpoint armed, read back as the host's after a world switch.
 *
 * A world switch is forced with an OUT to port 0xE0, which no device claims:
 * the access exits to the VMM (the harness completes it) and comes back.
 */
#include "guest.h"

#define MSR_AMD64_SEV 0xC0010131u
#define X86_TRAP_VC 29
#define SVM_EXIT_READ_DR7 0x27
#define SVM_EXIT_WRITE_DR7 0x37

static uint64_t dr7_shadow = 0x400; /* DR7_RESET_VALUE */
static unsigned vc_reads, vc_writes, vc_bad;

static uint64_t *frame_gpr(struct rt_frame *f, unsigned n)
{
    uint64_t *map[16] = {&f->rax, &f->rcx, &f->rdx, &f->rbx, &f->rsp, &f->rbp,
                         &f->rsi, &f->rdi, &f->r8, &f->r9, &f->r10, &f->r11,
                         &f->r12, &f->r13, &f->r14, &f->r15};
    return map[n & 15];
}

/* #VC: decode MOV DR7 (an optional REX, 0F 21 or 0F 23, ModRM.reg = 7) and
 * emulate it against the shadow; the error code names the exit. */
static void vc_handler(struct rt_frame *f)
{
    const uint8_t *p = (const uint8_t *)f->rip;
    unsigned rex = (p[0] & 0xF0) == 0x40 ? *p++ : 0;
    bool mov_dr = p[0] == 0x0F && (p[1] == 0x21 || p[1] == 0x23) &&
                  ((p[2] >> 3) & 7) == 7 && (p[2] >> 6) == 3;
    bool write = p[1] == 0x23;
    if (!mov_dr || f->error_code != (write ? SVM_EXIT_WRITE_DR7 : SVM_EXIT_READ_DR7)) {
        vc_bad++;
        rt_printf("#VC with error code 0x%llx at rip 0x%llx: not a DR7 access\n",
                  (unsigned long long)f->error_code, (unsigned long long)f->rip);
        rt_exit(3);
    }
    uint64_t *reg = frame_gpr(f, (p[2] & 7) | ((rex & 1) << 3));
    if (write) {
        /* Bits 63:32 must be zero; reserved bits cleared, bit 10 set. */
        dr7_shadow = (*reg & 0xFFFF23FFull) | 0x400;
        vc_writes++;
    } else {
        *reg = dr7_shadow;
        vc_reads++;
    }
    f->rip = (uint64_t)(p + 3);
}

static inline void write_dr7(uint64_t v) { __asm__ volatile("mov %0, %%dr7" : : "r"(v)); }
static inline uint64_t read_dr7(void) { uint64_t v; __asm__ volatile("mov %%dr7, %0" : "=r"(v)); return v; }
static inline void write_dr0(uint64_t v) { __asm__ volatile("mov %0, %%dr0" : : "r"(v)); }
static inline uint64_t read_dr0(void) { uint64_t v; __asm__ volatile("mov %%dr0, %0" : "=r"(v)); return v; }

static void world_switch(void)
{
    outb(0xE0, 0);
}

int main(void)
{
    uint64_t st = 0;
    if (rdmsr_safe(MSR_AMD64_SEV, &st)) {
        rt_printf("SEV_STATUS: #GP, not an SEV guest\n");
        return 1;
    }
    bool sev = st & 1, es = st & 2, ds = st & (1u << 7);
    rt_printf("SEV_STATUS = 0x%llx: SEV %s, SEV-ES %s, DebugSwap %s\n",
              (unsigned long long)st, sev ? "on" : "off", es ? "on" : "off",
              ds ? "on" : "off");
    CHECK(sev && es, "not an SEV-ES guest\n");
    CHECK(!(st & ~0x83ull), "unexpected SEV_STATUS bits 0x%llx\n",
          (unsigned long long)(st & ~0x83ull));
    rt_set_handler(X86_TRAP_VC, vc_handler);

    /* DR7: local enable of breakpoint 0 (L0), read back. */
    write_dr7(0x401);
    uint64_t dr7 = read_dr7();
    rt_printf("DR7 <- 0x401, reads 0x%llx; #VC: %u write(s), %u read(s)\n",
              (unsigned long long)dr7, vc_writes, vc_reads);
    CHECK(dr7 == 0x401, "DR7 reads 0x%llx\n", (unsigned long long)dr7);
    if (ds)
        CHECK(vc_reads + vc_writes == 0, "DR7 intercepted despite DebugSwap\n");
    else
        CHECK(vc_reads == 1 && vc_writes == 1, "DR7 not intercepted without DebugSwap\n");

    /* DR0 across a world switch. */
    write_dr0(0x7000);
    world_switch();
    uint64_t dr0 = read_dr0();
    dr7 = read_dr7();
    rt_printf("after a world switch: DR0 0x%llx (%s), DR7 0x%llx\n",
              (unsigned long long)dr0,
              dr0 == 0x7000 ? "the guest's" : "the host's", (unsigned long long)dr7);
    CHECK(dr7 == 0x401, "DR7 lost across the switch: 0x%llx\n", (unsigned long long)dr7);
    if (ds)
        CHECK(dr0 == 0x7000, "DebugSwap lost the guest's DR0\n");
    write_dr7(0x400);
    CHECK(vc_bad == 0, "bad #VC\n");
    rt_printf("sev_es_debugswap: %s\n", rt_failures ? "FAIL" : "PASS");
    return rt_failures ? 1 : 0;
}
