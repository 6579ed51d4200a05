/* SPDX-License-Identifier: MIT */
/*
 * 8254 PIT (include/virtmodel/pc_pit.h): counts and outputs computed from
 * the time since the count was loaded, as KVM's i8254.c and QEMU's i8254
 * do, including their output of modes 2, 4 and 5 (high for the one tick
 * where the 8254 data sheet has it low: the same edges reach the PIC, one
 * tick apart).  See docs/pic8259.md.
 */
#include <string.h>

#include "virtmodel/pc_pit.h"

#define NS 1000000000ull
#define RW_LSB 1
#define RW_MSB 2
#define RW_WORD0 3
#define RW_WORD1 4

void vmdl_pit_reset(struct vmdl_pit *p)
{
    memset(p, 0, sizeof(*p));
    for (unsigned i = 0; i < 3; i++) {
        struct vmdl_pit_channel *c = &p->ch[i];
        c->count = 0x10000;
        c->mode = 3;
        c->rw_mode = c->read_state = c->write_state = RW_WORD0;
        c->gate = i != 2;             /* channel 2: port 0x61 bit 0 */
    }
}

/* Input-clock ticks from the load to now (0 before it). */
static uint64_t ticks(const struct vmdl_pit_channel *c, uint64_t now)
{
    if (now <= c->load_time)
        return 0;
    uint64_t d = now - c->load_time;
    return d / NS * VMDL_PIT_HZ + d % NS * VMDL_PIT_HZ / NS;
}

/* When tick t after the load begins (rounded up to a whole ns). */
static uint64_t tick_time(const struct vmdl_pit_channel *c, uint64_t t)
{
    uint64_t whole = t / VMDL_PIT_HZ, part = t % VMDL_PIT_HZ;
    return c->load_time + whole * NS + (part * NS + VMDL_PIT_HZ - 1) / VMDL_PIT_HZ;
}

static uint16_t count_at(const struct vmdl_pit_channel *c, uint64_t now)
{
    uint64_t d = ticks(c, now);
    switch (c->mode) {
    case 0: case 1: case 4: case 5:
        return (uint16_t)((c->count - d) & 0xFFFF);
    case 3:
        return (uint16_t)(c->count - (2 * d) % c->count);
    default:
        return (uint16_t)(c->count - d % c->count);
    }
}

static bool out_at_tick(const struct vmdl_pit_channel *c, uint64_t d)
{
    switch (c->mode) {
    case 1: return d < c->count;
    case 2: return d % c->count == 0 && d != 0;
    case 3: return d % c->count < ((c->count + 1) >> 1);
    case 4: case 5: return d == c->count;
    default: return d >= c->count;                  /* mode 0 */
    }
}

bool vmdl_pit_out(const struct vmdl_pit *p, unsigned n, uint64_t now)
{
    return n < 3 && out_at_tick(&p->ch[n], ticks(&p->ch[n], now));
}

uint64_t vmdl_pit_next_change(const struct vmdl_pit *p, unsigned n, uint64_t now)
{
    if (n >= 3)
        return UINT64_MAX;
    const struct vmdl_pit_channel *c = &p->ch[n];
    uint64_t d = ticks(c, now), next, base = d / c->count * c->count;
    if (c->count == 1 && (c->mode == 2 || c->mode == 3)) {
        /* a count of 1: OUT stays high (mode 3), or from the first tick on */
        return c->mode == 2 && d == 0 ? tick_time(c, 1) : UINT64_MAX;
    }
    switch (c->mode) {
    case 2:
        next = (d == base && d != 0) ? d + 1 : base + c->count;
        break;
    case 3: {
        uint64_t half = (c->count + 1) >> 1;
        next = d - base < half ? base + half : base + c->count;
        break;
    }
    case 4: case 5:
        if (d > c->count)
            return UINT64_MAX;
        next = d < c->count ? c->count : c->count + 1;
        break;
    default:                                          /* 0, 1: one change */
        if (d >= c->count)
            return UINT64_MAX;
        next = c->count;
        break;
    }
    return tick_time(c, next);
}

static void load_count(struct vmdl_pit_channel *c, uint32_t val, uint64_t now)
{
    c->count = val ? val : 0x10000;
    c->load_time = now;
    c->null_count = false;
}

static void latch_count(struct vmdl_pit_channel *c, uint64_t now)
{
    if (c->count_latched)
        return;                        /* the first latch holds until read */
    c->latched = count_at(c, now);
    c->count_latched = c->rw_mode;
}

static void latch_status(struct vmdl_pit_channel *c, uint64_t now)
{
    if (c->status_latched)
        return;
    c->status = (uint8_t)((out_at_tick(c, ticks(c, now)) << 7) | (c->null_count << 6) |
                          (c->rw_mode << 4) | (c->mode << 1) | c->bcd);
    c->status_latched = true;
}

static void control(struct vmdl_pit *p, uint8_t val, uint64_t now)
{
    unsigned n = val >> 6;
    if (n == 3) {                                     /* read-back */
        for (unsigned i = 0; i < 3; i++) {
            if (!(val & (2u << i)))
                continue;
            if (!(val & 0x20))
                latch_count(&p->ch[i], now);
            if (!(val & 0x10))
                latch_status(&p->ch[i], now);
        }
        return;
    }
    struct vmdl_pit_channel *c = &p->ch[n];
    unsigned access = (val >> 4) & 3;
    if (!access) {
        latch_count(c, now);
        return;
    }
    c->rw_mode = (uint8_t)access;
    c->read_state = c->write_state = (uint8_t)access;
    unsigned mode = (val >> 1) & 7;
    c->mode = (uint8_t)(mode >= 6 ? mode - 4 : mode);   /* 6, 7: 2, 3 */
    c->bcd = val & 1;
    c->null_count = true;
}

static void write_counter(struct vmdl_pit_channel *c, uint8_t val, uint64_t now)
{
    switch (c->write_state) {
    case RW_LSB: load_count(c, val, now); break;
    case RW_MSB: load_count(c, (uint32_t)val << 8, now); break;
    case RW_WORD0:
        c->write_latch = val;
        c->write_state = RW_WORD1;
        break;
    default:
        load_count(c, c->write_latch | ((uint32_t)val << 8), now);
        c->write_state = RW_WORD0;
        break;
    }
}

/* Channel 2's gate: a rising edge restarts modes 1, 2, 3 and 5. */
static void set_gate2(struct vmdl_pit_channel *c, bool gate, uint64_t now)
{
    if (!c->gate && gate && c->mode != 0 && c->mode != 4)
        c->load_time = now;
    c->gate = gate;
}

void vmdl_pit_write(struct vmdl_pit *p, uint16_t port, uint8_t value, uint64_t now)
{
    if (port == VMDL_PIT_PORT_61) {
        set_gate2(&p->ch[2], value & 1, now);
        p->speaker = (value >> 1) & 1;
    } else if (port == VMDL_PIT_PORT + 3) {
        control(p, value, now);
    } else if (port >= VMDL_PIT_PORT && port < VMDL_PIT_PORT + 3) {
        write_counter(&p->ch[port - VMDL_PIT_PORT], value, now);
    }
}

static uint8_t read_counter(struct vmdl_pit_channel *c, uint64_t now)
{
    if (c->status_latched) {
        c->status_latched = false;
        return c->status;
    }
    if (c->count_latched) {
        uint8_t r = c->count_latched == RW_MSB ? (uint8_t)(c->latched >> 8)
                                               : (uint8_t)c->latched;
        c->count_latched = c->count_latched == RW_WORD0 ? RW_MSB : 0;
        return r;
    }
    uint16_t count = count_at(c, now);
    switch (c->read_state) {
    case RW_LSB: return (uint8_t)count;
    case RW_MSB: return (uint8_t)(count >> 8);
    case RW_WORD0:
        c->read_state = RW_WORD1;
        return (uint8_t)count;
    default:
        c->read_state = RW_WORD0;
        return (uint8_t)(count >> 8);
    }
}

uint8_t vmdl_pit_read(struct vmdl_pit *p, uint16_t port, uint64_t now)
{
    if (port == VMDL_PIT_PORT_61) {
        /* bit 4: the refresh request toggling every 15.085 us (QEMU) */
        return (uint8_t)((vmdl_pit_out(p, 2, now) << 5) | (((now / 15085) & 1) << 4) |
                         (p->speaker << 1) | p->ch[2].gate);
    }
    if (port >= VMDL_PIT_PORT && port < VMDL_PIT_PORT + 3)
        return read_counter(&p->ch[port - VMDL_PIT_PORT], now);
    return 0xFF;                       /* the control port is write-only */
}
