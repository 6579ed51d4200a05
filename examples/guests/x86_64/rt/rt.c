/* SPDX-License-Identifier: MIT */
/* The x86-64 guest runtime: console, exit, IDT, safe MSR accessors. */
#include "guest.h"

unsigned rt_failures;
static unsigned boot_cpu_index;
static rt_handler handlers[256];

struct idt_gate {
    uint16_t offset_lo, selector;
    uint8_t ist, type_attr;
    uint16_t offset_mid;
    uint32_t offset_hi, reserved;
} __attribute__((packed));

static struct idt_gate idt[256] __attribute__((aligned(16)));
extern char rt_isr_stubs[];

/* gcc may emit calls to these for struct copies and zeroing. */
void *memset(void *d, int c, size_t n) { return rt_memset(d, c, n); }
void *memcpy(void *d, const void *s, size_t n) { return rt_memcpy(d, s, n); }

void *rt_memset(void *d, int c, size_t n)
{
    volatile uint8_t *p = d;
    while (n--)
        *p++ = (uint8_t)c;
    return d;
}

void *rt_memcpy(void *d, const void *s, size_t n)
{
    volatile uint8_t *dp = d;
    const uint8_t *sp = s;
    while (n--)
        *dp++ = *sp++;
    return d;
}

void rt_putc(char c) { outb(COM1_PORT, (uint8_t)c); }

void rt_puts(const char *s)
{
    while (*s)
        rt_putc(*s++);
}

static void put_unsigned(uint64_t v, unsigned base, int width, char pad)
{
    char buf[24];
    int n = 0;
    do {
        unsigned d = (unsigned)(v % base);
        buf[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        v /= base;
    } while (v);
    while (n < width && n < (int)sizeof(buf))
        buf[n++] = pad;
    while (n--)
        rt_putc(buf[n]);
}

void rt_vprintf(const char *fmt, va_list ap)
{
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            rt_putc(*fmt);
            continue;
        }
        fmt++;
        char pad = ' ';
        int width = 0, longs = 0;
        if (*fmt == '0')
            pad = '0', fmt++;
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        while (*fmt == 'l')
            longs++, fmt++;
        if (*fmt == 'z')
            longs = 1, fmt++;
        switch (*fmt) {
        case 'd': {
            int64_t v = longs ? va_arg(ap, int64_t) : va_arg(ap, int);
            if (v < 0) {
                rt_putc('-');
                v = -v;
            }
            put_unsigned((uint64_t)v, 10, width, pad);
            break;
        }
        case 'u':
            put_unsigned(longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 10, width, pad);
            break;
        case 'x':
            put_unsigned(longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 16, width, pad);
            break;
        case 'c':
            rt_putc((char)va_arg(ap, int));
            break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            rt_puts(s ? s : "(null)");
            break;
        }
        case '%':
            rt_putc('%');
            break;
        default:
            rt_putc('?');
            break;
        }
    }
}

void rt_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rt_vprintf(fmt, ap);
    va_end(ap);
}

_Noreturn void rt_exit(int code)
{
    if (code == 0)
        outw(ACPI_PM1A_CNT_PORT, 0x2000);
    else
        outb(DEBUG_EXIT_PORT, (uint8_t)code);
    for (;;)
        cli(), hlt();
}

_Noreturn void rt_reset(void)
{
    outb(RESET_CONTROL_PORT, 0x06);
    for (;;)
        cli(), hlt();
}

void rt_set_handler(unsigned vector, rt_handler h)
{
    if (vector < 256)
        handlers[vector] = h;
}

/* The safe MSR accessors: the #GP handler resumes at the recorded label. */
static volatile uint64_t safe_fault_rip, safe_resume_rip;
static volatile int safe_fault_vector;

int rdmsr_safe(uint32_t msr, uint64_t *v)
{
    uint32_t lo = 0, hi = 0;
    safe_fault_vector = 0;
    __asm__ volatile("leaq 1f(%%rip), %%r8\n\t"
                     "movq %%r8, %[fr]\n\t"
                     "leaq 2f(%%rip), %%r8\n\t"
                     "movq %%r8, %[rr]\n\t"
                     "1: rdmsr\n\t"
                     "2:"
                     : "=a"(lo), "=d"(hi), [fr] "=m"(safe_fault_rip), [rr] "=m"(safe_resume_rip)
                     : "c"(msr), "a"(0), "d"(0)
                     : "r8", "memory");
    safe_fault_rip = 0;
    *v = ((uint64_t)hi << 32) | lo;
    return safe_fault_vector;
}

int wrmsr_safe(uint32_t msr, uint64_t v)
{
    safe_fault_vector = 0;
    __asm__ volatile("leaq 1f(%%rip), %%r8\n\t"
                     "movq %%r8, %[fr]\n\t"
                     "leaq 2f(%%rip), %%r8\n\t"
                     "movq %%r8, %[rr]\n\t"
                     "1: wrmsr\n\t"
                     "2:"
                     : [fr] "=m"(safe_fault_rip), [rr] "=m"(safe_resume_rip)
                     : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32))
                     : "r8", "memory");
    safe_fault_rip = 0;
    return safe_fault_vector;
}

static const char *const exception_names[32] = {
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "?9",
    "#TS", "#NP", "#SS", "#GP", "#PF", "?15", "#MF", "#AC", "#MC", "#XM",
    "#VE", "#CP",
};

void rt_trap(struct rt_frame *f)
{
    if (f->vector < 32 && safe_fault_rip && f->rip == safe_fault_rip) {
        safe_fault_vector = (int)f->vector;
        f->rip = safe_resume_rip;
        return;
    }
    if (handlers[f->vector]) {
        handlers[f->vector](f);
        return;
    }
    if (f->vector < 32) {
        const char *name = exception_names[f->vector];
        rt_printf("unhandled exception %s (vector %u) error code 0x%lx at rip 0x%lx\n",
                  name ? name : "?", (unsigned)f->vector, f->error_code, f->rip);
        rt_exit(0x7F);
    }
    rt_printf("unexpected interrupt vector %u at rip 0x%lx\n", (unsigned)f->vector, f->rip);
}

static void idt_init(void)
{
    for (unsigned v = 0; v < 256; v++) {
        uint64_t addr = (uint64_t)(rt_isr_stubs + 16 * v);
        idt[v].offset_lo = (uint16_t)addr;
        idt[v].selector = 0x08;
        idt[v].ist = 0;
        idt[v].type_attr = 0x8E; /* present, DPL 0, 64-bit interrupt gate */
        idt[v].offset_mid = (uint16_t)(addr >> 16);
        idt[v].offset_hi = (uint32_t)(addr >> 32);
        idt[v].reserved = 0;
    }
    struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) idtr = {sizeof(idt) - 1, (uint64_t)idt};
    __asm__ volatile("lidt %0" : : "m"(idtr));
}

unsigned rt_cpu(void) { return boot_cpu_index; }

void rt_lapic_pmi_as_nmi(void)
{
    uint32_t a, b, c, d;
    cpuid_count(1, 0, &a, &b, &c, &d);
    if (d & (1u << 9)) {
        mmio_write32(0xFEE000F0, 0x1FF); /* SVR: APIC software-enabled */
        mmio_write32(0xFEE00340, 0x400); /* LVTPC: delivery mode NMI, unmasked */
    }
}

__attribute__((weak)) void ap_main(unsigned cpu)
{
    (void)cpu;
    for (;;)
        cli(), hlt();
}

static volatile unsigned idt_ready;

_Noreturn void rt_ap_start(unsigned cpu)
{
    while (!idt_ready)
        pause();
    idt_init();
    ap_main(cpu);
    for (;;)
        cli(), hlt();
}

_Noreturn void rt_start(unsigned cpu)
{
    if (cpu != 0)
        rt_ap_start(cpu);
    boot_cpu_index = cpu;
    idt_init();
    idt_ready = 1;
    int rc = main();
    if (rc == 0 && rt_failures)
        rc = 1;
    rt_exit(rc);
}
