/* SPDX-License-Identifier: MIT */
/*
 * A fake GDB target for the protocol tests and the fuzzer: two threads,
 * registers in an array, 4 KiB of memory at 0x1000, breakpoints recorded.
 */
#ifndef VMDL_GDB_FAKE_TARGET_H
#define VMDL_GDB_FAKE_TARGET_H

#include <string.h>

#include "core/gdb_proto.h"

#define FAKE_MEM_BASE 0x1000u
#define FAKE_MEM_SIZE 0x1000u

static const struct vmdl_gdb_reg fake_regs[] = {
    {"rax", 64, "int64", "org.gnu.gdb.i386.core", 0},
    {"rip", 64, "code_ptr", "org.gnu.gdb.i386.core", 16},
    {"eflags", 32, "i386_eflags", "org.gnu.gdb.i386.core", 17},
    {"st0", 80, "i387_ext", "org.gnu.gdb.i386.core", -1},
    {"cr0", 64, "int64", "org.virtmodel.x86.sys", 18},
};
#define FAKE_NR_REGS (sizeof(fake_regs) / sizeof(fake_regs[0]))

struct fake {
    uint64_t regs[2][FAKE_NR_REGS];
    uint8_t mem[FAKE_MEM_SIZE];
    unsigned break_calls;
    bool refuse_breaks;
};

static bool fake_read_reg(void *o, unsigned t, unsigned r, uint8_t *buf)
{
    struct fake *f = o;
    if (t >= 2 || r >= FAKE_NR_REGS || fake_regs[r].id < 0)
        return false;
    memcpy(buf, &f->regs[t][r], fake_regs[r].bits / 8);
    return true;
}

static bool fake_write_reg(void *o, unsigned t, unsigned r, const uint8_t *buf)
{
    struct fake *f = o;
    if (t >= 2 || r >= FAKE_NR_REGS || fake_regs[r].id < 0)
        return false;
    f->regs[t][r] = 0;
    memcpy(&f->regs[t][r], buf, fake_regs[r].bits / 8);
    return true;
}

static size_t fake_span(uint64_t addr, size_t len)
{
    if (addr < FAKE_MEM_BASE || addr >= FAKE_MEM_BASE + FAKE_MEM_SIZE)
        return 0;
    size_t room = (size_t)(FAKE_MEM_BASE + FAKE_MEM_SIZE - addr);
    return len < room ? len : room;
}

static size_t fake_read_mem(void *o, unsigned t, uint64_t addr, uint8_t *buf, size_t len)
{
    (void)t;
    struct fake *f = o;
    size_t n = fake_span(addr, len);
    if (n)
        memcpy(buf, f->mem + (addr - FAKE_MEM_BASE), n);
    return n;
}

static size_t fake_write_mem(void *o, unsigned t, uint64_t addr, const uint8_t *buf,
                             size_t len)
{
    (void)t;
    struct fake *f = o;
    size_t n = fake_span(addr, len);
    if (n)
        memcpy(f->mem + (addr - FAKE_MEM_BASE), buf, n);
    return n;
}

static bool fake_breaks_changed(void *o, const struct vmdl_gdb_break *b, bool insert)
{
    (void)b; (void)insert;
    struct fake *f = o;
    f->break_calls++;
    return !f->refuse_breaks;
}

static inline void fake_target(struct vmdl_gdb_target *t, struct fake *f)
{
    memset(f, 0, sizeof(*f));
    *t = (struct vmdl_gdb_target){
        .arch_name = "i386:x86-64", .regs = fake_regs, .nr_regs = FAKE_NR_REGS,
        .nr_threads = 2, .opaque = f, .read_reg = fake_read_reg,
        .write_reg = fake_write_reg, .read_mem = fake_read_mem,
        .write_mem = fake_write_mem, .breaks_changed = fake_breaks_changed,
    };
}

#endif
