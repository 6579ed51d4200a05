/* SPDX-License-Identifier: MIT */
/*
 * The x86-64 guest runtime: what a freestanding example guest needs to talk
 * to the virtmodel harness (or to QEMU: the conventions are the same).
 *
 * A guest defines `int main(void)`; returning 0 powers the VM off with exit
 * status 0, returning n != 0 ends it through isa-debug-exit with status
 * (n << 1) | 1.  Extra vCPUs run `void ap_main(unsigned cpu)` if the guest
 * defines it.
 */
#ifndef VMDL_GUEST_H
#define VMDL_GUEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define COM1_PORT 0x3F8
#define DEBUG_EXIT_PORT 0xF4
#define ACPI_PM1A_CNT_PORT 0x604  /* QEMU's ACPI power-off: write 0x2000 */
#define RESET_CONTROL_PORT 0xCF9  /* write 0x06: full VM reset */

/* State saved on an interrupt or exception, as rt_trap() sees it. */
struct rt_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rdi, rsi, rbp, rbx, rdx, rcx, rax;
    uint64_t vector, error_code;
    uint64_t rip, cs, rflags, rsp, ss;
};

typedef void (*rt_handler)(struct rt_frame *f);

/* Install a handler for a vector (exceptions and interrupts alike).  An
 * exception with no handler prints a report and exits with failure. */
void rt_set_handler(unsigned vector, rt_handler h);

int main(void);
void ap_main(unsigned cpu);

/* Console and exit. */
void rt_putc(char c);
void rt_puts(const char *s);
void rt_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void rt_vprintf(const char *fmt, va_list ap);
_Noreturn void rt_exit(int code);
_Noreturn void rt_reset(void);
/* The vCPU index this code runs on (RDI at entry). */
unsigned rt_cpu(void);

/* Check helper: print a line and count failures (rt_failures). */
extern unsigned rt_failures;
#define CHECK(cond, ...)                                                     \
    do {                                                                     \
        if (!(cond)) {                                                       \
            rt_failures++;                                                   \
            rt_printf("FAIL %s:%d: ", __FILE__, __LINE__);                   \
            rt_printf(__VA_ARGS__);                                          \
            rt_putc('\n');                                                   \
        }                                                                    \
    } while (0)

/* Port I/O. */
static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint32_t inl(uint16_t port) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }

/* MSRs. */
static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}
static inline void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}

/*
 * rdmsr_safe/wrmsr_safe: return the exception vector the access raised
 * (13 for #GP) or 0.  They work through the runtime's #GP handler, which
 * skips the faulting instruction when it is the one registered here.
 */
int rdmsr_safe(uint32_t msr, uint64_t *v);
int wrmsr_safe(uint32_t msr, uint64_t v);

static inline void cpuid_count(uint32_t leaf, uint32_t sub, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
}

static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void sti(void) { __asm__ volatile("sti" ::: "memory"); }
static inline void hlt(void) { __asm__ volatile("hlt" ::: "memory"); }
/* STI; HLT: the interrupt shadow of STI makes the pair atomic. */
static inline void sti_hlt(void) { __asm__ volatile("sti; hlt" ::: "memory"); }
static inline void pause(void) { __asm__ volatile("pause" ::: "memory"); }

static inline uint64_t read_cr0(void) { uint64_t v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr4(void) { uint64_t v; __asm__ volatile("mov %%cr4, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr8(void) { uint64_t v; __asm__ volatile("mov %%cr8, %0" : "=r"(v)); return v; }
static inline void write_cr0(uint64_t v) { __asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory"); }
static inline void write_cr4(uint64_t v) { __asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory"); }
static inline void write_cr8(uint64_t v) { __asm__ volatile("mov %0, %%cr8" : : "r"(v) : "memory"); }
static inline uint64_t read_rflags(void) { uint64_t v; __asm__ volatile("pushfq; popq %0" : "=r"(v)); return v; }

static inline uint32_t mmio_read32(uint64_t addr) { return *(volatile uint32_t *)addr; }
static inline void mmio_write32(uint64_t addr, uint32_t v) { *(volatile uint32_t *)addr = v; }

/* As Linux's perf_events_lapic_init(): when the vCPU has a local APIC,
 * software-enable it and route the PMI as an NMI through LVTPC. */
void rt_lapic_pmi_as_nmi(void);

void *rt_memset(void *d, int c, size_t n);
void *rt_memcpy(void *d, const void *s, size_t n);

#endif
