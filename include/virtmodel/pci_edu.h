/* SPDX-License-Identifier: MIT */
/*
 * QEMU's educational PCI device "edu" (vendor 0x1234, device 0x11E8; QEMU's
 * docs/specs/edu.rst), the device kvm-unit-tests drives DMA and interrupts
 * through in its VT-d test.  See docs/pci.md.
 *
 * BAR0: 1 MiB of 32-bit memory space.  Registers (32-bit accesses below
 * 0x80, 32- or 64-bit from 0x80; other sizes read all ones and write
 * nothing):
 *   0x00 RO  identification 0x010000ED (version 1.0, 0xED)
 *   0x04 RW  liveness check: reads the inverse of what was written
 *   0x08 RW  factorial: a write starts the computation (ignored while one
 *            runs), a read returns the result
 *   0x20 RW  status: bit 0 computing (RO), bit 7 raise interrupt 0x001 when a
 *            factorial completes
 *   0x24 RO  interrupt status
 *   0x60 WO  interrupt raise: ORs the value into the interrupt status
 *   0x64 WO  interrupt acknowledge: clears the written bits
 *   0x80 RW  DMA source, 0x88 DMA destination, 0x90 DMA count
 *   0x98 RW  DMA command: bit 0 start (reads 1 while running), bit 1
 *            direction (0: RAM to the device's buffer, 1: buffer to RAM),
 *            bit 2 raise interrupt 0x100 when done
 * The device's 4 KiB buffer sits at device address 0x40000.  Interrupts go
 * out as MSI when the function's MSI capability is enabled, else on INTA.
 *
 * Differences from QEMU (docs/pci.md): the factorial and the DMA complete
 * within the register write (QEMU: a thread, a 100 ms virtual timer), which
 * software that polls the status sees as a fast device; a DMA outside the
 * buffer window is refused (QEMU logs it and copies anyway).
 */
#ifndef VIRTMODEL_PCI_EDU_H
#define VIRTMODEL_PCI_EDU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtmodel/pci.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VMDL_EDU_VENDOR 0x1234
#define VMDL_EDU_DEVICE 0x11E8
#define VMDL_EDU_BAR_SIZE 0x100000ull
#define VMDL_EDU_ID 0x010000EDu
#define VMDL_EDU_DMA_START 0x40000ull
#define VMDL_EDU_DMA_SIZE 4096u
#define VMDL_EDU_DMA_MASK ((1ull << 28) - 1)   /* QEMU's default dma_mask */

#define VMDL_EDU_REG_ID 0x00
#define VMDL_EDU_REG_ALIVE 0x04
#define VMDL_EDU_REG_FACT 0x08
#define VMDL_EDU_REG_STATUS 0x20
#define VMDL_EDU_REG_IRQ_STATUS 0x24
#define VMDL_EDU_REG_IRQ_RAISE 0x60
#define VMDL_EDU_REG_IRQ_ACK 0x64
#define VMDL_EDU_REG_DMA_SRC 0x80
#define VMDL_EDU_REG_DMA_DST 0x88
#define VMDL_EDU_REG_DMA_CNT 0x90
#define VMDL_EDU_REG_DMA_CMD 0x98

#define VMDL_EDU_STATUS_COMPUTING 0x01u
#define VMDL_EDU_STATUS_IRQFACT 0x80u
#define VMDL_EDU_DMA_RUN 0x1u
#define VMDL_EDU_DMA_TO_RAM 0x2u
#define VMDL_EDU_DMA_IRQ 0x4u
#define VMDL_EDU_IRQ_FACT 0x001u
#define VMDL_EDU_IRQ_DMA 0x100u

struct vmdl_edu_ops {
    /* A bus-master access of len bytes at device address `addr` (to RAM
     * when `write`): the machine translates it (an IOMMU) and reaches
     * memory.  0 on success, negative when it failed (the data is then
     * dropped or the buffer left as it was). */
    int (*dma)(void *opaque, uint64_t addr, void *buf, size_t len, bool write);
    /* INTA's level changed. */
    void (*intx)(void *opaque, bool level);
    /* Send the function's MSI message once. */
    void (*msi)(void *opaque);
    void *opaque;
};

struct vmdl_edu {
    struct vmdl_pci_func fn;
    struct vmdl_edu_ops ops;
    uint32_t alive, fact, status, irq_status;
    uint64_t dma_src, dma_dst, dma_cnt, dma_cmd;
    bool intx_req;             /* the device asks for INTA (QEMU's pci_set_irq) */
    bool intx;                 /* INTA as last driven */
    uint8_t buf[VMDL_EDU_DMA_SIZE];
    uint64_t dma_done, dma_refused, dma_faults;
};

/* A reset device: configuration space as QEMU's (revision 0x10, class
 * 0x00FF "other", INTA, MSI with a 64-bit address at 0x40), BAR0 1 MiB.
 * `ops` must provide every callback. */
int vmdl_edu_init(struct vmdl_edu *e, const struct vmdl_edu_ops *ops);
/* The function's write hook (installed by vmdl_edu_init): enabling MSI
 * withdraws an INTA request (PCI 3.0 6.8.3.3, as QEMU's msi_write_config),
 * the command register's INTx disable bit masks INTA. */
void vmdl_edu_config_written(void *edu, unsigned off, unsigned size);
/* Device reset: registers and buffer 0, INTA low; the configuration space
 * back to its reset values. */
void vmdl_edu_reset(struct vmdl_edu *e);
uint64_t vmdl_edu_mmio_read(struct vmdl_edu *e, uint64_t off, unsigned size);
void vmdl_edu_mmio_write(struct vmdl_edu *e, uint64_t off, unsigned size, uint64_t value);

#ifdef __cplusplus
}
#endif
#endif
