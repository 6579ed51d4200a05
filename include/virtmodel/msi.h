/* SPDX-License-Identifier: MIT */
/*
 * An interrupt message towards the local APICs as a PCI function's MSI or
 * an interrupt-remapping unit produces it, and the decoding of a
 * compatibility-format message (Intel SDM 11.11).  Shared by the PCI and
 * VT-d models (docs/pci.md, docs/vtd.md).
 */
#ifndef VIRTMODEL_MSI_H
#define VIRTMODEL_MSI_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct vmdl_msi_msg {
    uint32_t dest;           /* APIC destination (8 bits in xAPIC format) */
    bool logical;            /* destination mode */
    bool redir_hint;
    unsigned delivery_mode;  /* 0 fixed, 1 lowest priority, 2 SMI, 4 NMI, 5 INIT, 7 ExtINT */
    uint8_t vector;
    bool level;              /* trigger mode */
};

#define VMDL_MSI_ADDR_BASE 0xFEE00000ull
/* Decode a compatibility-format message: address 0xFEExxxxx with the
 * destination in bits 19:12, redirection hint bit 3, destination mode bit
 * 2; data with vector 7:0, delivery mode 10:8, trigger mode 15.  Returns
 * false when the address is not in the interrupt range. */
bool vmdl_msi_decode(uint64_t addr, uint32_t data, struct vmdl_msi_msg *out);

#ifdef __cplusplus
}
#endif
#endif
