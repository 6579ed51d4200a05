/* SPDX-License-Identifier: MIT */
/*
 * The PC's pair of 8259A programmable interrupt controllers, as KVM's
 * in-kernel PIC (arch/x86/kvm/i8259.c) presents them.  See docs/pic8259.md.
 *
 * Master at ports 0x20/0x21 (IRQ 0-7), slave at 0xA0/0xA1 (IRQ 8-15),
 * cascaded on the master's IRQ 2; the edge/level control registers (ELCR)
 * at 0x4D0/0x4D1.  Each chip has the ICW1-ICW4 initialisation sequence,
 * OCW1 (the mask), OCW2 (non-specific, specific and rotating EOIs, set
 * priority, rotate in auto-EOI) and OCW3 (IRR/ISR read select, poll,
 * special mask mode), IRR/ISR/IMR, priority rotation, auto-EOI and special
 * fully nested mode.  The INTR output goes to the local APIC's LINT0
 * (ExtINT, "virtual wire"); vmdl_pic8259_inta is the interrupt-acknowledge
 * cycle that hands over the vector.
 *
 * A pure state machine: no callbacks; the caller reads the output after
 * every call that can change it.  Not thread-safe.
 */
#ifndef VIRTMODEL_PIC8259_H
#define VIRTMODEL_PIC8259_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VMDL_PIC_MASTER 0x20
#define VMDL_PIC_SLAVE 0xA0
#define VMDL_PIC_ELCR 0x4D0        /* 0x4D0 master, 0x4D1 slave */
#define VMDL_PIC_CASCADE_IRQ 2
/* IRQs whose ELCR bit is writable (KVM's elcr_mask: 0, 1, 2, 8 and 13
 * are always edge-triggered on a PC). */
#define VMDL_PIC_ELCR_MASK_MASTER 0xF8
#define VMDL_PIC_ELCR_MASK_SLAVE 0xDE

struct vmdl_pic_chip {
    uint8_t irr, isr, imr;
    uint8_t last_irr;          /* input levels, for edge detection */
    uint8_t elcr, elcr_mask;
    uint8_t irq_base;          /* ICW2 & 0xF8 */
    uint8_t priority_add;      /* the highest-priority IRQ */
    uint8_t init_state;        /* 0 ready; 1, 2, 3: ICW2, ICW3, ICW4 next */
    uint8_t icw3;
    bool init4, single;        /* ICW1: ICW4 needed, single (no ICW3) */
    bool level_all;            /* ICW1.LTIM: every input level-triggered */
    bool read_isr, poll, special_mask;
    bool auto_eoi, rotate_on_aeoi, special_fully_nested;
};

struct vmdl_pic8259 {
    struct vmdl_pic_chip chip[2];   /* master, slave */
    bool output;                    /* the master's INTR */
};

/* Power-on state: both chips uninitialised (KVM: all zero, no vector
 * base), every input low. */
void vmdl_pic8259_reset(struct vmdl_pic8259 *p);
/* Drive input `irq` (0-15) to `level`.  Ignored for irq > 15. */
void vmdl_pic8259_set_irq(struct vmdl_pic8259 *p, unsigned irq, bool level);
/* Port access (0x20, 0x21, 0xA0, 0xA1, 0x4D0, 0x4D1); other ports read
 * 0xFF and ignore writes. */
uint8_t vmdl_pic8259_read(struct vmdl_pic8259 *p, uint16_t port);
void vmdl_pic8259_write(struct vmdl_pic8259 *p, uint16_t port, uint8_t value);
/* The INTR line to the CPU. */
bool vmdl_pic8259_output(const struct vmdl_pic8259 *p);
/* The vector an acknowledge would return now, -1 while INTR is low. */
int vmdl_pic8259_peek(const struct vmdl_pic8259 *p);
/* Interrupt acknowledge (INTA): IRR -> ISR, the vector; with INTR low the
 * master's spurious IRQ 7 (its base + 7), and IRQ 2 with nothing on the
 * slave the slave's spurious IRQ 7. */
uint8_t vmdl_pic8259_inta(struct vmdl_pic8259 *p);

/* Checkpoint image: a versioned, fixed-size blob (malloc'd); import
 * refuses anything else (VMDL_EINVAL) and keeps the state. */
int vmdl_pic8259_export(const struct vmdl_pic8259 *p, uint8_t **blob, size_t *len);
int vmdl_pic8259_import(struct vmdl_pic8259 *p, const uint8_t *blob, size_t len);

#ifdef __cplusplus
}
#endif
#endif
