/* SPDX-License-Identifier: MIT */
/*
 * 16550A UART (include/virtmodel/pc_uart.h).  Register behaviour follows
 * what QEMU's serial device shows a guest (hw/char/serial.c): IIR
 * priorities (line status, received data, THR empty), the THR-empty
 * interrupt cleared by reading IIR or writing THR, FCR's FIFO bits in IIR
 * 7:6, loopback through MCR bit 4 with MSR reflecting MCR.
 */
#include <string.h>

#include "virtmodel/pc_uart.h"

#define MCR_MASK 0x1F
#define IER_MASK 0x0F
#define MSR_DCD 0x80
#define MSR_RI 0x40
#define MSR_DSR 0x20
#define MSR_CTS 0x10

static bool fifo_on(const struct vmdl_uart *u) { return u->fcr & 1; }

static uint8_t iir(const struct vmdl_uart *u)
{
    uint8_t id = VMDL_UART_IIR_NONE;
    if ((u->ier & VMDL_UART_IER_RLSI) && (u->lsr & VMDL_UART_LSR_OE))
        id = VMDL_UART_IIR_RLSI;
    else if ((u->ier & VMDL_UART_IER_RDI) && (u->lsr & VMDL_UART_LSR_DR))
        id = VMDL_UART_IIR_RDI;
    else if ((u->ier & VMDL_UART_IER_THRI) && u->thr_ipending)
        id = VMDL_UART_IIR_THRI;
    return (uint8_t)(id | (fifo_on(u) ? VMDL_UART_IIR_FIFO : 0));
}

static void update_irq(struct vmdl_uart *u)
{
    bool level = (iir(u) & VMDL_UART_IIR_NONE) == 0;
    if (level != u->irq) {
        u->irq = level;
        if (u->ops.irq)
            u->ops.irq(u->ops.opaque, level);
    }
}

void vmdl_uart_init(struct vmdl_uart *u, const struct vmdl_uart_ops *ops)
{
    memset(u, 0, sizeof(*u));
    if (ops)
        u->ops = *ops;
    u->divisor = 0x0C;
    u->mcr = 0x08;                                  /* OUT2 */
    u->lsr = VMDL_UART_LSR_THRE | VMDL_UART_LSR_TEMT;
    u->msr = MSR_DCD | MSR_DSR | MSR_CTS;
}

static unsigned rx_cap(const struct vmdl_uart *u)
{
    return fifo_on(u) ? VMDL_UART_FIFO : 1;
}

bool vmdl_uart_receive(struct vmdl_uart *u, uint8_t byte)
{
    bool ok = u->rx_count < rx_cap(u);
    if (ok) {
        u->rx[(u->rx_head + u->rx_count++) % VMDL_UART_FIFO] = byte;
    } else {
        u->lsr |= VMDL_UART_LSR_OE;
    }
    u->lsr |= VMDL_UART_LSR_DR;
    update_irq(u);
    return ok;
}

static uint8_t rx_pop(struct vmdl_uart *u)
{
    if (!u->rx_count)
        return 0;
    uint8_t b = u->rx[u->rx_head];
    u->rx_head = (u->rx_head + 1) % VMDL_UART_FIFO;
    if (!--u->rx_count)
        u->lsr &= (uint8_t)~VMDL_UART_LSR_DR;
    return b;
}

/* Loopback: MSR's top nibble shows MCR's RTS, DTR, OUT1, OUT2. */
static uint8_t msr_value(const struct vmdl_uart *u)
{
    if (!(u->mcr & VMDL_UART_MCR_LOOP))
        return u->msr;
    return (uint8_t)(((u->mcr & 0x02) ? MSR_CTS : 0) | ((u->mcr & 0x01) ? MSR_DSR : 0) |
                     ((u->mcr & 0x04) ? MSR_RI : 0) | ((u->mcr & 0x08) ? MSR_DCD : 0));
}

uint8_t vmdl_uart_read(struct vmdl_uart *u, unsigned reg)
{
    bool dlab = u->lcr & VMDL_UART_LCR_DLAB;
    uint8_t v = 0;
    switch (reg & 7) {
    case 0:
        v = dlab ? (uint8_t)u->divisor : rx_pop(u);
        break;
    case 1:
        v = dlab ? (uint8_t)(u->divisor >> 8) : u->ier;
        break;
    case 2:
        v = iir(u);
        /* Reading IIR while it reports THR empty clears that interrupt. */
        if ((v & 0x0F) == VMDL_UART_IIR_THRI)
            u->thr_ipending = false;
        break;
    case 3: v = u->lcr; break;
    case 4: v = u->mcr; break;
    case 5:
        v = u->lsr;
        u->lsr &= (uint8_t)~VMDL_UART_LSR_OE;   /* cleared by reading LSR */
        break;
    case 6: v = msr_value(u); break;
    default: v = u->scr; break;
    }
    update_irq(u);
    return v;
}

static void transmit(struct vmdl_uart *u, uint8_t b)
{
    if (u->mcr & VMDL_UART_MCR_LOOP)
        vmdl_uart_receive(u, b);
    else if (u->ops.tx)
        u->ops.tx(u->ops.opaque, b);
    /* Sent at once: THR and the shift register are empty again. */
    u->lsr |= VMDL_UART_LSR_THRE | VMDL_UART_LSR_TEMT;
    u->thr_ipending = true;
}

void vmdl_uart_write(struct vmdl_uart *u, unsigned reg, uint8_t value)
{
    bool dlab = u->lcr & VMDL_UART_LCR_DLAB;
    switch (reg & 7) {
    case 0:
        if (dlab) {
            u->divisor = (uint16_t)((u->divisor & 0xFF00) | value);
        } else {
            u->thr_ipending = false;
            transmit(u, value);
        }
        break;
    case 1:
        if (dlab) {
            u->divisor = (uint16_t)((u->divisor & 0x00FF) | value << 8);
        } else {
            uint8_t old = u->ier;
            u->ier = value & IER_MASK;
            /* Enabling the THR-empty interrupt while THR is empty raises it. */
            if (!(old & VMDL_UART_IER_THRI) && (u->ier & VMDL_UART_IER_THRI) &&
                (u->lsr & VMDL_UART_LSR_THRE))
                u->thr_ipending = true;
        }
        break;
    case 2:
        if ((value ^ u->fcr) & 1) {          /* FIFO enable changed: flushed */
            u->rx_count = 0;
            u->lsr &= (uint8_t)~VMDL_UART_LSR_DR;
        }
        if (value & 0x02) {                  /* clear the receive FIFO */
            u->rx_count = 0;
            u->lsr &= (uint8_t)~VMDL_UART_LSR_DR;
        }
        u->fcr = value & 0xC9;               /* enable, DMA mode, trigger */
        break;
    case 3: u->lcr = value; break;
    case 4: u->mcr = value & MCR_MASK; break;
    case 5: break;                           /* LSR: read-only */
    case 6: break;                           /* MSR: read-only here */
    default: u->scr = value; break;
    }
    update_irq(u);
}
