/* SPDX-License-Identifier: MIT */
/*
 * Conventional PCI: one function's configuration space (the type-0 header,
 * BARs with their sizing rules, the interrupt line/pin, the MSI capability)
 * and a host bridge decoding configuration mechanism #1 (ports 0xCF8 /
 * 0xCFC-0xCFF) for bus 0.  See docs/pci.md.
 *
 * Pure state machines: a function is 256 bytes of configuration space with
 * a write mask and a write-1-to-clear mask per byte (the PCI Local Bus
 * specification's register attributes: read-only, read/write, RW1C); the
 * device model above it decides what its registers mean.  Not thread-safe:
 * one caller at a time.
 */
#ifndef VIRTMODEL_PCI_H
#define VIRTMODEL_PCI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtmodel/msi.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VMDL_PCI_CFG_SIZE 256
#define VMDL_PCI_NR_BARS 6
#define VMDL_PCI_DEVFNS 256          /* bus 0 only */

/* Configuration mechanism #1. */
#define VMDL_PCI_PORT_ADDR 0xCF8
#define VMDL_PCI_PORT_DATA 0xCFC
#define VMDL_PCI_CONF1_ENABLE (1u << 31)

/* Type-0 header offsets. */
#define VMDL_PCI_VENDOR_ID 0x00
#define VMDL_PCI_DEVICE_ID 0x02
#define VMDL_PCI_COMMAND 0x04
#define VMDL_PCI_STATUS 0x06
#define VMDL_PCI_REVISION 0x08
#define VMDL_PCI_CLASS_PROG 0x09
#define VMDL_PCI_HEADER_TYPE 0x0E
#define VMDL_PCI_BAR0 0x10
#define VMDL_PCI_SUBSYS_VENDOR 0x2C
#define VMDL_PCI_CAP_PTR 0x34
#define VMDL_PCI_INTERRUPT_LINE 0x3C
#define VMDL_PCI_INTERRUPT_PIN 0x3D

/* Command and status bits. */
#define VMDL_PCI_CMD_IO (1u << 0)
#define VMDL_PCI_CMD_MEM (1u << 1)
#define VMDL_PCI_CMD_MASTER (1u << 2)
#define VMDL_PCI_CMD_PARITY (1u << 6)
#define VMDL_PCI_CMD_SERR (1u << 8)
#define VMDL_PCI_CMD_INTX_DISABLE (1u << 10)
#define VMDL_PCI_STATUS_INTX (1u << 3)
#define VMDL_PCI_STATUS_CAP_LIST (1u << 4)

/* BAR flags (the low bits a BAR reads back). */
#define VMDL_PCI_BAR_IO 0x1u
#define VMDL_PCI_BAR_MEM64 0x4u
#define VMDL_PCI_BAR_PREFETCH 0x8u
#define VMDL_PCI_BAR_UNMAPPED UINT64_MAX

/* The MSI capability (ID 0x05): control at +2, address at +4 (+8 high
 * half when 64-bit), data at +8 or +0xC. */
#define VMDL_PCI_CAP_ID_MSI 0x05
#define VMDL_PCI_MSI_FLAGS 2
#define VMDL_PCI_MSI_ENABLE 0x0001u
#define VMDL_PCI_MSI_QSIZE 0x0070u   /* multiple message enable */
#define VMDL_PCI_MSI_64BIT 0x0080u
#define VMDL_PCI_MSI_ADDR_LO 4
#define VMDL_PCI_MSI_ADDR_HI 8
#define VMDL_PCI_MSI_DATA_32 8
#define VMDL_PCI_MSI_DATA_64 12

struct vmdl_pci_func {
    uint8_t cfg[VMDL_PCI_CFG_SIZE];
    uint8_t wmask[VMDL_PCI_CFG_SIZE];    /* guest-writable bits */
    uint8_t w1cmask[VMDL_PCI_CFG_SIZE];  /* write-1-to-clear bits */
    uint64_t bar_size[VMDL_PCI_NR_BARS]; /* 0: no BAR there */
    uint8_t msi_cap;                     /* offset of the MSI capability, 0: none */
    uint8_t next_cap;                    /* where the next capability goes */
    /* Called after every guest write through the host bridge (the device
     * model's hook: MSI enable, INTx disable, BAR moves); may be NULL. */
    void (*written)(void *owner, unsigned off, unsigned size);
    void *owner;
};

/* A header-type-0 function: IDs, 24-bit class code, revision.  Everything
 * else 0, the command register's decode and bus-master bits writable. */
void vmdl_pci_func_init(struct vmdl_pci_func *f, uint16_t vendor, uint16_t device,
                        uint32_t class_code, uint8_t revision);
/*
 * A BAR of `size` bytes (a power of two: >= 16 for memory, >= 4 for I/O,
 * below 4 GiB) with `flags` (VMDL_PCI_BAR_*).  A 64-bit BAR takes two
 * slots.  VMDL_EINVAL on a bad number, size or flags, or a taken slot.
 */
int vmdl_pci_func_add_bar(struct vmdl_pci_func *f, unsigned bar, uint64_t size,
                          unsigned flags);
/* The MSI capability (one vector, no per-vector masking; 64-bit address
 * when `is64`), placed at the next free capability offset from 0x40 and
 * chained.  Returns its offset, or a negative vmdl_err. */
int vmdl_pci_func_add_msi(struct vmdl_pci_func *f, bool is64);
/* Interrupt pin 1..4 (INTA..INTD; 0 none) and the line a BIOS wrote. */
void vmdl_pci_func_set_intx(struct vmdl_pci_func *f, uint8_t pin, uint8_t line);

/* Accesses of `size` bytes (1, 2 or 4) at `off`; bytes beyond 256 read as
 * 0xFF and are not written.  vmdl_pci_func_write does not call `written`
 * (the host bridge does, after a guest write). */
uint32_t vmdl_pci_func_read(const struct vmdl_pci_func *f, unsigned off, unsigned size);
void vmdl_pci_func_write(struct vmdl_pci_func *f, unsigned off, unsigned size,
                         uint32_t value);

/* Where BAR `bar` decodes now: its base when the command register enables
 * its space and the BAR holds an address (not the all-ones sizing pattern
 * nor 0), else VMDL_PCI_BAR_UNMAPPED. */
uint64_t vmdl_pci_bar_addr(const struct vmdl_pci_func *f, unsigned bar);
/* BIOS-style programming of a BAR's address (no masks applied beyond the
 * BAR's own alignment). */
void vmdl_pci_bar_set(struct vmdl_pci_func *f, unsigned bar, uint64_t addr);
uint16_t vmdl_pci_command(const struct vmdl_pci_func *f);
bool vmdl_pci_bus_master(const struct vmdl_pci_func *f);
/* Is MSI enabled, and the message it sends (address, data). */
bool vmdl_pci_msi_enabled(const struct vmdl_pci_func *f);
void vmdl_pci_msi_message(const struct vmdl_pci_func *f, uint64_t *addr, uint32_t *data);
/* Record the INTx line state in the status register (bit 3); returns
 * whether the pin is asserted towards the interrupt controller (not when
 * the command register's INTx disable bit is set). */
bool vmdl_pci_func_intx(struct vmdl_pci_func *f, bool level);

/* ---- host bridge: configuration mechanism #1 on bus 0 ---- */

struct vmdl_pci_host {
    uint32_t conf_addr;                          /* 0xCF8 */
    struct vmdl_pci_func *fn[VMDL_PCI_DEVFNS];   /* not owned */
};

void vmdl_pci_host_init(struct vmdl_pci_host *h);
/* Put function `f` at devfn (slot << 3 | function).  VMDL_EINVAL when
 * taken; VMDL_ENOENT when devfn is -1 and no slot is free (then the first
 * free slot's function 0 is used). Returns the devfn used. */
int vmdl_pci_host_plug(struct vmdl_pci_host *h, int devfn, struct vmdl_pci_func *f);
/* Port accesses at 0xCF8..0xCFF (`port` absolute). */
uint32_t vmdl_pci_host_io_read(struct vmdl_pci_host *h, uint16_t port, unsigned size);
void vmdl_pci_host_io_write(struct vmdl_pci_host *h, uint16_t port, unsigned size,
                            uint32_t value);

#ifdef __cplusplus
}
#endif
#endif
