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
 *   +0x200 DSDT (AML: the \_S3 and \_S5 packages only)
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
/* PM1 status / enable bits (ACPI 6.4, 4.8.3.1), PM1 control's sleep type. */
#define VMDL_ACPI_PM1_TMR_STS (1u << 0)
#define VMDL_ACPI_PM1_PWRBTN_STS (1u << 8)
#define VMDL_ACPI_PM1_RTC_STS (1u << 10)
#define VMDL_ACPI_PM1_WAK_STS (1u << 15)
#define VMDL_ACPI_PM1_RTC_EN (1u << 10)
#define VMDL_ACPI_PM1_SLP_TYP_SHIFT 10
/* The sleep types the DSDT's \_S3 and \_S5 objects declare (QEMU's PIIX4
 * values; QEMU also takes its \_S4 value, 2, as a power-off). */
#define VMDL_ACPI_SLP_TYP_S5 0
#define VMDL_ACPI_SLP_TYP_S3 1
#define VMDL_ACPI_SLP_TYP_S4 2

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

/*
 * The PM1a event and control registers (ports 0x600-0x605) and the timer
 * (0x608) as QEMU's acpi_pm1_evt / acpi_pm1_cnt present them.  Status bits
 * are write-1-to-clear; TMR_STS is set each time bit 23 of the timer
 * changes; RTC_STS and WAK_STS are set by a wake (vmdl_acpi_pm_wake), as
 * QEMU's wakeup notifier does; PWRBTN_STS never (no button).  Control
 * reads SCI_EN set (no SMI command port: always in ACPI mode); SLP_EN is
 * write-only and starts the sleep SLP_TYP names.
 */
struct vmdl_acpi_pm {
    uint16_t sts, en, cnt;
    uint64_t tmr_base;          /* timer ticks when TMR_STS was last cleared */
};

enum vmdl_acpi_pm_action {
    VMDL_ACPI_PM_NONE,
    VMDL_ACPI_PM_SUSPEND,       /* SLP_EN with SLP_TYP = \_S3 */
    VMDL_ACPI_PM_POWER_OFF,     /* SLP_EN with \_S5 (or QEMU's S4) */
};

/* Power-on or machine reset at virtual time `now`: all zero. */
void vmdl_acpi_pm_reset(struct vmdl_acpi_pm *pm, uint64_t now);
/* `size` bytes (1, 2 or 4) at offset `off` (0-11) of the block. */
uint32_t vmdl_acpi_pm_read(const struct vmdl_acpi_pm *pm, unsigned off, unsigned size,
                           uint64_t now);
enum vmdl_acpi_pm_action vmdl_acpi_pm_write(struct vmdl_acpi_pm *pm, unsigned off,
                                            unsigned size, uint32_t value, uint64_t now);
/* Resume from S3: the registers reset as QEMU's machine reset leaves them,
 * then WAK_STS and `sts` (the wake source's status bit) set. */
void vmdl_acpi_pm_wake(struct vmdl_acpi_pm *pm, uint16_t sts, uint64_t now);

#ifdef __cplusplus
}
#endif
#endif
