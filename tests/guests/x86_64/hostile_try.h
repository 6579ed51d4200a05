/* SPDX-License-Identifier: MIT */
/*
 * Shared by the hostile_*.c guests: run one instruction that is expected to
 * fault, catch the exception in the guest's own IDT handler, record vector,
 * error code and CR2, and resume after it.  Any exception that does not come
 * from an instruction wrapped in HX_TRY is reported and ends the run with
 * status (0x7E << 1) | 1 = 253, so a wrong outcome never looks like success.
 *
 * Not a guest by itself (examples/guests/CMakeLists.txt builds *.c and *.S).
 */
#ifndef HOSTILE_TRY_H
#define HOSTILE_TRY_H

#include "guest.h"

volatile uint64_t hx_fault_rip, hx_resume_rip, hx_error, hx_cr2;
volatile int hx_vector = -1;

#define HX_NONE (-1)
#define HX_UD 6
#define HX_DF 8
#define HX_GP 13
#define HX_PF 14

#define PF_P (1u << 0)
#define PF_W (1u << 1)
#define PF_U (1u << 2)
#define PF_I (1u << 4)

static void hx_handler(struct rt_frame *f)
{
    if (hx_fault_rip && f->rip == hx_fault_rip) {
        hx_vector = (int)f->vector;
        hx_error = f->error_code;
        if (f->vector == 14) {
            uint64_t cr2;
            __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
            hx_cr2 = cr2;
        }
        f->rip = hx_resume_rip;
        hx_fault_rip = 0;
        return;
    }
    rt_printf("hostile: unexpected exception %u error 0x%lx at rip 0x%lx\n",
              (unsigned)f->vector, f->error_code, f->rip);
    rt_exit(0x7E);
}

static inline void hx_init(void)
{
    for (unsigned v = 0; v < 32; v++)
        rt_set_handler(v, hx_handler);
}

/*
 * HX_TRY(insn, outputs, inputs[, clobbers...]): run `insn` (one instruction,
 * operands numbered as in extended asm) and evaluate to the vector it raised,
 * or HX_NONE.  r11 is used and clobbered.
 */
#define HX_TRY(insn, outs, ins, ...)                                         \
    ({                                                                       \
        hx_vector = HX_NONE;                                                 \
        hx_error = 0;                                                        \
        __asm__ volatile("leaq 8801f(%%rip), %%r11\n\t"                      \
                         "movq %%r11, hx_fault_rip(%%rip)\n\t"               \
                         "leaq 8802f(%%rip), %%r11\n\t"                      \
                         "movq %%r11, hx_resume_rip(%%rip)\n"                \
                         "8801:\t" insn "\n"                                 \
                         "8802:\tmovq $0, hx_fault_rip(%%rip)"               \
                         : outs : ins : "r11", "memory", "cc", ##__VA_ARGS__); \
        hx_vector;                                                           \
    })

/* Several operands in one HX_TRY argument: HX_ARGS("c"(x), "a"(y)). */
#define HX_ARGS(...) __VA_ARGS__

/* Expect a vector (HX_NONE for "no fault"); print one line either way. */
#define EXPECT_VEC(got, want, what)                                          \
    do {                                                                     \
        int g_ = (got);                                                      \
        CHECK(g_ == (want), "%s: vector %d, want %d", what, g_, (want));     \
    } while (0)

#endif
