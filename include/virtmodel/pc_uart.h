/* SPDX-License-Identifier: MIT */
/*
 * 16550A UART (the PC's COM1 at 0x3F8, IRQ 4), as QEMU's hw/char/serial.c
 * presents it to a guest.  See docs/pc.md.
 *
 * Transmission is instant: a byte written to THR goes to the `tx` callback
 * at once, so THR and the transmitter are always empty (LSR.THRE and TEMT
 * set) after the write.  Received bytes (vmdl_uart_receive) wait in a
 * 16-byte FIFO (one byte without FIFOs) with LSR.DR and the received-data
 * interrupt; an overflow sets LSR.OE.  Registers (offset from the base):
 *   0 RBR (read) / THR (write); DLL with LCR.DLAB
 *   1 IER (bits 3:0); DLM with LCR.DLAB
 *   2 IIR (read) / FCR (write)
 *   3 LCR   4 MCR (bits 4:0; bit 4 loopback)   5 LSR (read-only)
 *   6 MSR (read-only here)   7 SCR
 * The interrupt line follows IIR (QEMU does not gate it by MCR.OUT2).
 */
#ifndef VIRTMODEL_PC_UART_H
#define VIRTMODEL_PC_UART_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VMDL_UART_LSR_DR 0x01
#define VMDL_UART_LSR_OE 0x02
#define VMDL_UART_LSR_THRE 0x20
#define VMDL_UART_LSR_TEMT 0x40
#define VMDL_UART_IIR_NONE 0x01
#define VMDL_UART_IIR_THRI 0x02
#define VMDL_UART_IIR_RDI 0x04
#define VMDL_UART_IIR_RLSI 0x06
#define VMDL_UART_IIR_FIFO 0xC0
#define VMDL_UART_IER_RDI 0x01
#define VMDL_UART_IER_THRI 0x02
#define VMDL_UART_IER_RLSI 0x04
#define VMDL_UART_LCR_DLAB 0x80
#define VMDL_UART_MCR_LOOP 0x10
#define VMDL_UART_FIFO 16

struct vmdl_uart_ops {
    void (*tx)(void *opaque, uint8_t byte);     /* NULL: dropped */
    void (*irq)(void *opaque, bool level);      /* NULL: no line */
    void *opaque;
};

struct vmdl_uart {
    struct vmdl_uart_ops ops;
    uint16_t divisor;
    uint8_t ier, lcr, mcr, lsr, msr, scr, fcr;
    bool thr_ipending;          /* THR-empty interrupt not yet seen in IIR */
    bool irq;                   /* the line's current level */
    uint8_t rx[VMDL_UART_FIFO];
    unsigned rx_head, rx_count;
};

/* Power-on state (QEMU's serial_reset): divisor 0x0C, MCR OUT2, LSR THRE|TEMT,
 * MSR DCD|DSR|CTS, everything else 0; the line low. */
void vmdl_uart_init(struct vmdl_uart *u, const struct vmdl_uart_ops *ops);
uint8_t vmdl_uart_read(struct vmdl_uart *u, unsigned reg);
void vmdl_uart_write(struct vmdl_uart *u, unsigned reg, uint8_t value);
/* A byte from the outside; false when it overran the FIFO (LSR.OE). */
bool vmdl_uart_receive(struct vmdl_uart *u, uint8_t byte);

#ifdef __cplusplus
}
#endif
#endif
