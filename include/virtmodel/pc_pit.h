/* SPDX-License-Identifier: MIT */
/*
 * 8254 programmable interval timer (the PC's PIT at ports 0x40-0x43,
 * channel 0 on IRQ 0), as KVM's in-kernel PIT (arch/x86/kvm/i8254.c) and
 * QEMU's hw/timer/i8254 compute it: counts and outputs are functions of
 * time since the count was loaded, never ticked.  See docs/pic8259.md.
 *
 * Time is the caller's, in nanoseconds (the machine passes virtual time:
 * retired instructions, one per ns); the input clock is 1193182 Hz.
 * Per channel: modes 0-5 (6 and 7 alias 2 and 3), binary or BCD, LSB /
 * MSB / LSB-then-MSB access, counter latch, read-back (status and count
 * latches).  Channels 0 and 1 have their gate tied high; channel 2's gate
 * is port 0x61 bit 0, and port 0x61 reads its output in bit 5.
 */
#ifndef VIRTMODEL_PC_PIT_H
#define VIRTMODEL_PC_PIT_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VMDL_PIT_PORT 0x40          /* 0x40-0x42 counters, 0x43 control */
#define VMDL_PIT_PORT_61 0x61       /* NMI status / speaker: gate 2, OUT2 */
#define VMDL_PIT_HZ 1193182u

struct vmdl_pit_channel {
    uint32_t count;                 /* the loaded count, 1..0x10000 */
    uint64_t load_time;             /* ns when counting began */
    uint16_t latched;               /* counter latch */
    uint8_t count_latched;          /* 0, or the access mode left to read it */
    uint8_t status;                 /* status latch */
    bool status_latched;
    uint8_t mode, rw_mode, bcd;     /* rw_mode 1 LSB, 2 MSB, 3 LSB then MSB */
    uint8_t read_state, write_state, write_latch;
    bool null_count;                /* control word written, no count since */
    bool gate;
};

struct vmdl_pit {
    struct vmdl_pit_channel ch[3];
    bool speaker;                   /* port 0x61 bit 1 */
};

void vmdl_pit_reset(struct vmdl_pit *p);
/* Ports 0x40-0x43 and 0x61 at time `now`; others read 0xFF. */
uint8_t vmdl_pit_read(struct vmdl_pit *p, uint16_t port, uint64_t now);
void vmdl_pit_write(struct vmdl_pit *p, uint16_t port, uint8_t value, uint64_t now);
/* Channel n's OUT at `now`. */
bool vmdl_pit_out(const struct vmdl_pit *p, unsigned n, uint64_t now);
/* The first time after `now` at which channel n's OUT changes, UINT64_MAX
 * if it never will (a one-shot that fired, a channel never programmed). */
uint64_t vmdl_pit_next_change(const struct vmdl_pit *p, unsigned n, uint64_t now);

#ifdef __cplusplus
}
#endif
#endif
