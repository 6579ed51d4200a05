/* SPDX-License-Identifier: MIT */
/* Shared helpers of the lapic tests. */
#ifndef LAPIC_TEST_UTIL_H
#define LAPIC_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "virtmodel/bits.h"
#include "virtmodel/blob.h"
#include "virtmodel/error.h"
#include "virtmodel/lapic.h"
#include "virtmodel/lapic_apicv.h"

#define SELF_IPI(v) ((VMDL_LAPIC_SH_SELF << VMDL_LAPIC_SH_SHIFT) | (uint32_t)(v))
#define X2MSR(off) (VMDL_MSR_X2APIC_FIRST + ((off) >> 4))

struct events {
    unsigned inits, sipis, kicks, bcasts;
    unsigned hold_mask;         /* APICs whose INIT/SIPI are held */
    int last_index;
    uint8_t last_sipi, last_bcast;
};

static inline void ev_init_sipi(void *o, unsigned idx, bool is_sipi, uint8_t v)
{
    struct events *e = o;
    e->last_index = (int)idx;
    if (is_sipi) {
        e->sipis++;
        e->last_sipi = v;
    } else {
        e->inits++;
    }
}

static inline void ev_kick(void *o, unsigned idx)
{
    (void)idx;
    ((struct events *)o)->kicks++;
}

static inline void ev_bcast(void *o, unsigned idx, uint8_t v)
{
    struct events *e = o;
    (void)idx;
    e->bcasts++;
    e->last_bcast = v;
}

static inline bool ev_hold(void *o, unsigned idx)
{
    return (((struct events *)o)->hold_mask >> idx) & 1;
}

/* A bus of n APICs with x2APIC and TSC-deadline, APICv per `apicv`. */
static inline struct vmdl_lapic_bus *mkbus_ex(unsigned n, bool apicv,
                                              unsigned flags,
                                              struct events *ev)
{
    struct vmdl_lapic_bus_config c = {
        .nr_apics = n, .x2apic = true, .tsc_deadline = true,
        .apicv = apicv, .flags = flags,
    };
    if (ev) {
        memset(ev, 0, sizeof(*ev));
        c.ops = (struct vmdl_lapic_bus_ops){.init_sipi = ev_init_sipi, .kick = ev_kick,
                                            .eoi_broadcast = ev_bcast, .opaque = ev,
                                            .hold_init_sipi = ev_hold};
    }
    struct vmdl_lapic_bus *bus = NULL;
    assert_int_equal(vmdl_lapic_bus_create(&c, &bus), 0);
    return bus;
}

static inline struct vmdl_lapic_bus *mkbus(unsigned n)
{
    return mkbus_ex(n, false, 0, NULL);
}

static inline uint32_t rd(struct vmdl_lapic *a, unsigned off)
{
    uint64_t v = 0xDEAD;
    assert_int_equal(vmdl_lapic_mmio_read(a, off, 4, &v), VMDL_FAULT_NONE);
    return (uint32_t)v;
}

static inline void wr(struct vmdl_lapic *a, unsigned off, uint32_t v)
{
    assert_int_equal(vmdl_lapic_mmio_write(a, off, 4, v), VMDL_FAULT_NONE);
}

static inline uint64_t rdmsr(struct vmdl_lapic *a, uint32_t idx)
{
    uint64_t v = 0xDEAD;
    assert_int_equal(vmdl_lapic_msr_read(a, idx, &v), VMDL_FAULT_NONE);
    return v;
}

static inline void wrmsr(struct vmdl_lapic *a, uint32_t idx, uint64_t v)
{
    assert_int_equal(vmdl_lapic_msr_write(a, idx, v), VMDL_FAULT_NONE);
}

static inline void to_x2apic(struct vmdl_lapic *a)
{
    wrmsr(a, VMDL_MSR_IA32_APIC_BASE,
          vmdl_lapic_get_base(a) | VMDL_APIC_BASE_EXTD);
}

/* Enable the APIC in software with spurious vector 0xFF. */
static inline void sw_enable(struct vmdl_lapic *a)
{
    if (vmdl_lapic_mode(a) == VMDL_LAPIC_MODE_X2APIC)
        wrmsr(a, X2MSR(VMDL_LAPIC_SVR), 0x1FF);
    else
        wr(a, VMDL_LAPIC_SVR, 0x1FF);
}

static inline bool irr_has(struct vmdl_lapic *a, unsigned v)
{
    vmdl_apicv_sync_pir(a);
    return (vmdl_lapic_peek(a, VMDL_LAPIC_IRR + (v / 32) * 0x10) >> (v % 32)) & 1;
}

static inline bool isr_has(struct vmdl_lapic *a, unsigned v)
{
    return (vmdl_lapic_peek(a, VMDL_LAPIC_ISR + (v / 32) * 0x10) >> (v % 32)) & 1;
}

#endif
