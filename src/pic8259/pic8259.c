/* SPDX-License-Identifier: MIT */
/*
 * 8259A pair (include/virtmodel/pic8259.h): the behaviour of KVM's
 * in-kernel PIC (arch/x86/kvm/i8259.c) with the parts of the 8259A data
 * sheet KVM leaves out (single mode, ICW1.LTIM, special mask mode in the
 * priority check) modelled as the data sheet gives them.  See
 * docs/pic8259.md.
 */
#include <stdlib.h>
#include <string.h>

#include "virtmodel/error.h"
#include "virtmodel/pic8259.h"

#define ICW1 0x10
#define OCW3 0x08

static void chip_reset(struct vmdl_pic_chip *c, uint8_t elcr_mask)
{
    memset(c, 0, sizeof(*c));
    c->elcr_mask = elcr_mask;
}

void vmdl_pic8259_reset(struct vmdl_pic8259 *p)
{
    chip_reset(&p->chip[0], VMDL_PIC_ELCR_MASK_MASTER);
    chip_reset(&p->chip[1], VMDL_PIC_ELCR_MASK_SLAVE);
    p->output = false;
}

static bool level_triggered(const struct vmdl_pic_chip *c, uint8_t mask)
{
    return c->level_all || (c->elcr & mask);
}

/* One input: a level input follows the line, an edge input latches a
 * rising edge in IRR (a falling edge leaves IRR alone, as KVM). */
static void chip_set_irq(struct vmdl_pic_chip *c, unsigned irq, bool level)
{
    uint8_t mask = (uint8_t)(1u << irq);
    if (level_triggered(c, mask)) {
        c->irr = level ? c->irr | mask : c->irr & ~mask;
    } else if (level && !(c->last_irr & mask)) {
        c->irr |= mask;
    }
    c->last_irr = level ? c->last_irr | mask : c->last_irr & ~mask;
}

/* Priority (0 highest) of the highest-priority bit of mask, 8 if none. */
static unsigned priority_of(const struct vmdl_pic_chip *c, uint8_t mask)
{
    if (!mask)
        return 8;
    unsigned pr = 0;
    while (!(mask & (1u << ((pr + c->priority_add) & 7))))
        pr++;
    return pr;
}

/* The IRQ this chip would present, -1 if none: the highest-priority
 * unmasked request above every in-service level.  In special fully nested
 * mode the master does not count the cascade's ISR bit (a higher slave
 * request may nest); in special mask mode masked ISR bits do not block. */
static int chip_get_irq(const struct vmdl_pic_chip *c, bool master)
{
    unsigned pr = priority_of(c, c->irr & ~c->imr);
    if (pr == 8)
        return -1;
    uint8_t in_service = c->isr;
    if (master && c->special_fully_nested)
        in_service &= (uint8_t)~(1u << VMDL_PIC_CASCADE_IRQ);
    if (c->special_mask)
        in_service &= (uint8_t)~c->imr;
    if (pr < priority_of(c, in_service))
        return (int)((pr + c->priority_add) & 7);
    return -1;
}

/* The slave's output pulses the master's IRQ 2 (KVM's pic_update_irq),
 * then the master's decides INTR. */
static void update(struct vmdl_pic8259 *p)
{
    if (chip_get_irq(&p->chip[1], false) >= 0) {
        chip_set_irq(&p->chip[0], VMDL_PIC_CASCADE_IRQ, true);
        chip_set_irq(&p->chip[0], VMDL_PIC_CASCADE_IRQ, false);
    }
    p->output = chip_get_irq(&p->chip[0], true) >= 0;
}

void vmdl_pic8259_set_irq(struct vmdl_pic8259 *p, unsigned irq, bool level)
{
    if (irq > 15)
        return;
    chip_set_irq(&p->chip[irq >> 3], irq & 7, level);
    update(p);
}

/* Acknowledge irq: in service (not with auto-EOI), an edge request
 * consumed; a level request stays while its line is high. */
static void intack(struct vmdl_pic_chip *c, unsigned irq)
{
    uint8_t mask = (uint8_t)(1u << irq);
    if (c->auto_eoi) {
        if (c->rotate_on_aeoi)
            c->priority_add = (uint8_t)((irq + 1) & 7);
    } else {
        c->isr |= mask;
    }
    if (!level_triggered(c, mask))
        c->irr &= (uint8_t)~mask;
}

uint8_t vmdl_pic8259_inta(struct vmdl_pic8259 *p)
{
    struct vmdl_pic_chip *m = &p->chip[0], *s = &p->chip[1];
    int irq = chip_get_irq(m, true);
    uint8_t vector;
    if (irq < 0) {
        vector = (uint8_t)(m->irq_base + 7);             /* spurious on the master */
    } else {
        intack(m, (unsigned)irq);
        if (irq == VMDL_PIC_CASCADE_IRQ && !m->single) {
            int irq2 = chip_get_irq(s, false);
            if (irq2 >= 0)
                intack(s, (unsigned)irq2);
            else
                irq2 = 7;                                /* spurious on the slave */
            vector = (uint8_t)(s->irq_base + irq2);
        } else {
            vector = (uint8_t)(m->irq_base + irq);
        }
    }
    update(p);
    return vector;
}

int vmdl_pic8259_peek(const struct vmdl_pic8259 *p)
{
    const struct vmdl_pic_chip *m = &p->chip[0], *s = &p->chip[1];
    int irq = chip_get_irq(m, true);
    if (irq < 0)
        return -1;
    if (irq != VMDL_PIC_CASCADE_IRQ || m->single)
        return m->irq_base + irq;
    int irq2 = chip_get_irq(s, false);
    return s->irq_base + (irq2 >= 0 ? irq2 : 7);
}

bool vmdl_pic8259_output(const struct vmdl_pic8259 *p)
{
    return p->output;
}

/* ICW1: start the initialisation sequence.  IMR, priority, special mask
 * and the read select are cleared; so are ISR and the edge latches (QEMU;
 * KVM keeps level requests in IRR, as here). */
static void icw1(struct vmdl_pic_chip *c, uint8_t val)
{
    c->init4 = val & 1;
    c->single = val & 2;
    c->level_all = val & 8;
    c->last_irr = 0;
    c->irr &= c->elcr;
    c->isr = c->imr = 0;
    c->priority_add = 0;
    c->special_mask = c->read_isr = c->poll = false;
    if (!c->init4)
        c->special_fully_nested = c->auto_eoi = false;
    c->init_state = 1;
}

static void clear_highest_isr(struct vmdl_pic_chip *c, bool rotate)
{
    unsigned pr = priority_of(c, c->isr);
    if (pr == 8)
        return;
    unsigned irq = (pr + c->priority_add) & 7;
    c->isr &= (uint8_t)~(1u << irq);
    if (rotate)
        c->priority_add = (uint8_t)((irq + 1) & 7);
}

static void ocw2(struct vmdl_pic_chip *c, uint8_t val)
{
    unsigned irq = val & 7;
    switch (val >> 5) {
    case 0: c->rotate_on_aeoi = false; break;          /* rotate in AEOI: clear */
    case 4: c->rotate_on_aeoi = true; break;           /* ... set */
    case 1: clear_highest_isr(c, false); break;        /* non-specific EOI */
    case 5: clear_highest_isr(c, true); break;         /* rotate on it */
    case 3: c->isr &= (uint8_t)~(1u << irq); break;    /* specific EOI */
    case 7:                                            /* rotate on specific EOI */
        c->isr &= (uint8_t)~(1u << irq);
        c->priority_add = (uint8_t)((irq + 1) & 7);
        break;
    case 6: c->priority_add = (uint8_t)((irq + 1) & 7); break;   /* set priority */
    default: break;                                    /* 2: no operation */
    }
}

static void ocw3(struct vmdl_pic_chip *c, uint8_t val)
{
    if (val & 0x04)
        c->poll = true;
    if (val & 0x02)
        c->read_isr = val & 1;
    if (val & 0x40)
        c->special_mask = (val >> 5) & 1;
}

static void write_data(struct vmdl_pic_chip *c, uint8_t val)
{
    switch (c->init_state) {
    case 0:
        c->imr = val;                                  /* OCW1 */
        break;
    case 1:
        c->irq_base = val & 0xF8;                      /* ICW2 */
        c->init_state = c->single ? (c->init4 ? 3 : 0) : 2;
        break;
    case 2:
        c->icw3 = val;                                 /* ICW3 */
        c->init_state = c->init4 ? 3 : 0;
        break;
    default:
        c->special_fully_nested = (val >> 4) & 1;      /* ICW4 */
        c->auto_eoi = (val >> 1) & 1;
        c->init_state = 0;
        break;
    }
}

void vmdl_pic8259_write(struct vmdl_pic8259 *p, uint16_t port, uint8_t value)
{
    if (port == VMDL_PIC_ELCR || port == VMDL_PIC_ELCR + 1) {
        struct vmdl_pic_chip *c = &p->chip[port - VMDL_PIC_ELCR];
        c->elcr = value & c->elcr_mask;
        return;
    }
    if ((port & ~0x81u) != 0x20)
        return;
    struct vmdl_pic_chip *c = &p->chip[port >> 7];
    if (port & 1)
        write_data(c, value);
    else if (value & ICW1)
        icw1(c, value);
    else if (value & OCW3)
        ocw3(c, value);
    else
        ocw2(c, value);
    update(p);
}

/* A poll command read (KVM's pic_poll_read): the highest request is
 * taken as by an acknowledge and its in-service bit dropped at once; bit
 * 7 set with the level in bits 2:0, or 0x07 with none. */
static uint8_t poll_read(struct vmdl_pic8259 *p, unsigned which)
{
    struct vmdl_pic_chip *c = &p->chip[which];
    c->poll = false;
    int irq = chip_get_irq(c, which == 0);
    if (irq < 0) {
        update(p);
        return 0x07;
    }
    uint8_t mask = (uint8_t)(1u << irq);
    if (which == 1) {                                  /* the cascade goes too */
        p->chip[0].isr &= (uint8_t)~(1u << VMDL_PIC_CASCADE_IRQ);
        p->chip[0].irr &= (uint8_t)~(1u << VMDL_PIC_CASCADE_IRQ);
    }
    c->irr &= (uint8_t)~mask;
    c->isr &= (uint8_t)~mask;
    update(p);
    return (uint8_t)(0x80 | irq);
}

uint8_t vmdl_pic8259_read(struct vmdl_pic8259 *p, uint16_t port)
{
    if (port == VMDL_PIC_ELCR || port == VMDL_PIC_ELCR + 1)
        return p->chip[port - VMDL_PIC_ELCR].elcr;
    if ((port & ~0x81u) != 0x20)
        return 0xFF;
    unsigned which = port >> 7;
    struct vmdl_pic_chip *c = &p->chip[which];
    if (c->poll)
        return poll_read(p, which);
    if (port & 1)
        return c->imr;
    return c->read_isr ? c->isr : c->irr;
}

/* ---- checkpoint image ---- */

#define BLOB_MAGIC 0x38325043u     /* "CP28" */
#define BLOB_VERSION 1u
#define CHIP_BYTES 18u
#define BLOB_LEN (8u + 2u * CHIP_BYTES + 1u)

static void chip_out(const struct vmdl_pic_chip *c, uint8_t *b)
{
    const uint8_t v[CHIP_BYTES] = {
        c->irr, c->isr, c->imr, c->last_irr, c->elcr, c->elcr_mask, c->irq_base,
        c->priority_add, c->init_state, c->icw3, c->init4, c->single, c->level_all,
        c->read_isr, c->poll, c->special_mask, c->auto_eoi,
        (uint8_t)(c->rotate_on_aeoi | (c->special_fully_nested << 1)),
    };
    memcpy(b, v, CHIP_BYTES);
}

static bool chip_in(struct vmdl_pic_chip *c, const uint8_t *b, uint8_t elcr_mask)
{
    for (unsigned i = 10; i < 17; i++)
        if (b[i] > 1)
            return false;
    if (b[5] != elcr_mask || (b[4] & ~elcr_mask) || b[6] & 7 || b[7] > 7 || b[8] > 3 ||
        b[17] > 3)
        return false;
    *c = (struct vmdl_pic_chip){
        .irr = b[0], .isr = b[1], .imr = b[2], .last_irr = b[3], .elcr = b[4],
        .elcr_mask = b[5], .irq_base = b[6], .priority_add = b[7], .init_state = b[8],
        .icw3 = b[9], .init4 = b[10], .single = b[11], .level_all = b[12],
        .read_isr = b[13], .poll = b[14], .special_mask = b[15], .auto_eoi = b[16],
        .rotate_on_aeoi = b[17] & 1, .special_fully_nested = b[17] >> 1,
    };
    return true;
}

int vmdl_pic8259_export(const struct vmdl_pic8259 *p, uint8_t **blob, size_t *len)
{
    if (!p || !blob || !len)
        return vmdl_fail(VMDL_EINVAL, "vmdl_pic8259_export: NULL argument");
    uint8_t *b = malloc(BLOB_LEN);
    if (!b)
        return vmdl_fail(VMDL_ENOMEM, "vmdl_pic8259_export: out of memory");
    const uint32_t hdr[2] = { BLOB_MAGIC, BLOB_VERSION };
    memcpy(b, hdr, 8);
    chip_out(&p->chip[0], b + 8);
    chip_out(&p->chip[1], b + 8 + CHIP_BYTES);
    b[BLOB_LEN - 1] = p->output;
    *blob = b;
    *len = BLOB_LEN;
    return VMDL_OK;
}

int vmdl_pic8259_import(struct vmdl_pic8259 *p, const uint8_t *blob, size_t len)
{
    if (!p || !blob)
        return vmdl_fail(VMDL_EINVAL, "vmdl_pic8259_import: NULL argument");
    uint32_t hdr[2];
    if (len != BLOB_LEN)
        return vmdl_fail(VMDL_EINVAL, "vmdl_pic8259_import: %zu bytes, want %u", len,
                         BLOB_LEN);
    memcpy(hdr, blob, 8);
    struct vmdl_pic8259 n;
    if (hdr[0] != BLOB_MAGIC || hdr[1] != BLOB_VERSION ||
        !chip_in(&n.chip[0], blob + 8, VMDL_PIC_ELCR_MASK_MASTER) ||
        !chip_in(&n.chip[1], blob + 8 + CHIP_BYTES, VMDL_PIC_ELCR_MASK_SLAVE) ||
        blob[BLOB_LEN - 1] > 1)
        return vmdl_fail(VMDL_EINVAL, "vmdl_pic8259_import: not a valid 8259 image");
    /* The output follows the state as it is: update() would also replay
     * the slave's cascade pulse, which latches an edge on IR2 when that
     * line was left high, so importing must not step the state. */
    n.output = chip_get_irq(&n.chip[0], true) >= 0;
    if (n.output != (blob[BLOB_LEN - 1] != 0))
        return vmdl_fail(VMDL_EINVAL, "vmdl_pic8259_import: INTR disagrees with the state");
    *p = n;
    return VMDL_OK;
}
