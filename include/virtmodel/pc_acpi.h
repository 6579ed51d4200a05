/* SPDX-License-Identifier: MIT */
/*
 * ACPI tables of a PC-like VM and its ACPI PM timer (docs/pc.md).
 *
 * vmdl_acpi_build_pc() lays out, from one base address, what a PC firmware
 * (SeaBIOS under QEMU) leaves in the BIOS area for the OS to find:
 *   +0x000 RSDP (ACPI 2.0, 36 bytes: "RSD PTR ", RSDT and XSDT addresses)
 *   +0x040 FACS (64 bytes, 64-byte aligned)
 *   +0x080 RSDT (32-bit entries: FADT, MADT)
 *   +0x0C0 XSDT (64-bit entries: FADT, MADT)
 *   +0x100 FADT (revision 3, 244 bytes: FACS, DSDT, SCI 9, PM1a event and
 *          control blocks, the PM timer block, reset register 0xCF9)
 *   +0x200 DSDT (a header without AML)
 *   +0x240 MADT, as the caller built it (the machine uses lapic_madt.h:
 *          one Local APIC per CPU, the I/O APIC, the interrupt source
 *          overrides of QEMU's pc machine, LINT1 = NMI)
 *   then, 8-byte aligned, an optional further table the caller built (the
 *          DMAR of a VT-d unit), listed in the RSDT and XSDT after the MADT
 * Every table's checksum makes its bytes sum to 0.
 */
#ifndef VIRTMODEL_PC_ACPI_H
#define VIRTMODEL_PC_ACPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* QEMU's pc/q35 power-management I/O block (PIIX4 PM / ICH9 LPC at 0x600). */
#define VMDL_ACPI_PM_BASE 0x600
#define VMDL_ACPI_PM1_CNT_OFF 4
#define VMDL_ACPI_PM_TMR_OFF 8
#define VMDL_ACPI_PM_TIMER_HZ 3579545ull      /* 24-bit counter */
#define VMDL_ACPI_PM1_SCI_EN 1u
#define VMDL_ACPI_PM1_SLP_EN (1u << 13)
#define VMDL_ACPI_SCI_IRQ 9

#define VMDL_ACPI_OFF_RSDP 0x000
#define VMDL_ACPI_OFF_FACS 0x040
#define VMDL_ACPI_OFF_RSDT 0x080
#define VMDL_ACPI_OFF_XSDT 0x0C0
#define VMDL_ACPI_OFF_FADT 0x100
#define VMDL_ACPI_OFF_DSDT 0x200
#define VMDL_ACPI_OFF_MADT 0x240
#define VMDL_ACPI_FADT_LEN 244

struct vmdl_acpi_pc_config {
    uint64_t base;          /* guest-physical address, 64-byte aligned, < 4 GiB */
    const uint8_t *madt;    /* a complete MADT ("APIC" table) */
    size_t madt_len;        /* 44..64 KiB, its length field */
    uint16_t pm_base;       /* 0: VMDL_ACPI_PM_BASE */
    const uint8_t *extra;   /* NULL, or one more whole, checksummed table */
    size_t extra_len;
};

/* Build the tables; *out (malloc'd, caller frees) is placed at cfg->base. */
int vmdl_acpi_build_pc(const struct vmdl_acpi_pc_config *cfg, uint8_t **out,
                       size_t *len);

/*
 * The DMAR table (VT-d specification, chapter 8) of one remapping unit that
 * covers every PCI device of segment 0 (DRHD with INCLUDE_PCI_ALL) and has
 * the I/O APIC in its device scope, as QEMU's q35 machine describes its
 * intel-iommu: host address width, flags INTR_REMAP and X2APIC_OPT_OUT.
 */
struct vmdl_acpi_dmar {
    uint64_t base;          /* the unit's registers (4 KiB aligned) */
    unsigned haw;           /* host address width in bits (32..64) */
    bool intremap;          /* flags bit 0 */
    bool x2apic_opt_out;    /* flags bit 1 */
    uint8_t ioapic_id;      /* the I/O APIC scope's enumeration id */
    uint16_t ioapic_sid;    /* its source-id: start bus << 8 | device << 3 | function */
};
#define VMDL_ACPI_DMAR_LEN 72
int vmdl_acpi_build_dmar(const struct vmdl_acpi_dmar *d, uint8_t **out, size_t *len);

/* Validate one table: signature, length field within `len`, checksum. */
int vmdl_acpi_check(const uint8_t *table, size_t len, const char signature[4]);

/* The PM timer's 24-bit value at virtual time `ns` (QEMU: ns * 3579545 /
 * 10^9, modulo 2^24). */
uint32_t vmdl_acpi_pm_timer(uint64_t ns);

#ifdef __cplusplus
}
#endif
#endif
