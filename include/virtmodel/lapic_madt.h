/* SPDX-License-Identifier: MIT */
/*
 * Standalone ACPI MADT ("APIC" table) builder: the table describing a VM's
 * local APICs, as bytes a caller can place in guest memory or hand over as
 * a parameter block (as QEMU does for IGVM guests).
 *
 * Layout (ACPI 6.5 section 5.2.12): the 36-byte ACPI header (signature
 * "APIC", length, revision, checksum making the byte sum 0, OEM fields,
 * creator), the local interrupt controller address (u32) and flags (u32,
 * bit 0 PCAT_COMPAT), then one entry per CPU: Processor Local APIC (type
 * 0, 8 bytes) when its APIC ID is below 255, Processor Local x2APIC (type
 * 9, 16 bytes) otherwise; optionally the LINT1-is-NMI entries (type 4 for
 * local APICs, type 0xA for x2APICs).
 */
#ifndef VIRTMODEL_LAPIC_MADT_H
#define VIRTMODEL_LAPIC_MADT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtmodel/lapic.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VMDL_MADT_HEADER_SIZE 44      /* ACPI header + address + flags */
#define VMDL_MADT_TYPE_LAPIC 0
#define VMDL_MADT_TYPE_IOAPIC 1
#define VMDL_MADT_TYPE_ISO 2
#define VMDL_MADT_TYPE_LAPIC_NMI 4
#define VMDL_MADT_TYPE_X2APIC 9
#define VMDL_MADT_TYPE_X2APIC_NMI 0xA
#define VMDL_MADT_PCAT_COMPAT 1u
#define VMDL_MADT_CPU_ENABLED 1u
#define VMDL_MADT_CPU_ONLINE_CAPABLE 2u

struct vmdl_madt_cpu {
    uint32_t apic_id;
    uint32_t uid;          /* ACPI processor UID (< 256 for type 0 entries) */
    bool enabled;
    bool online_capable;   /* only meaningful when !enabled (hotplug) */
};

/* I/O APIC entry (type 1, 12 bytes). */
struct vmdl_madt_ioapic {
    uint8_t id;
    uint32_t addr;
    uint32_t gsi_base;
};

/* Interrupt source override (type 2, 10 bytes): ISA IRQ `source` is GSI
 * `gsi`; flags bits 1:0 polarity, 3:2 trigger (0: as the bus says). */
struct vmdl_madt_iso {
    uint8_t source;
    uint32_t gsi;
    uint16_t flags;
};

struct vmdl_madt_config {
    const struct vmdl_madt_cpu *cpus;
    unsigned nr_cpus;          /* 1..VMDL_LAPIC_BUS_MAX */
    uint32_t lapic_addr;       /* 0: 0xFEE00000 */
    bool no_pcat_compat;       /* clear PCAT_COMPAT (no dual 8259s) */
    uint8_t revision;          /* 0: 5 (ACPI 6.3+, has Online Capable) */
    const char *oem_id;        /* up to 6 chars, NULL: "VMDL" */
    const char *oem_table_id;  /* up to 8 chars, NULL: "VIRTMODL" */
    bool lint1_nmi;            /* add LINT1 = NMI entries for all CPUs */
    const struct vmdl_madt_ioapic *ioapics;   /* after the CPUs */
    unsigned nr_ioapics;
    const struct vmdl_madt_iso *isos;         /* after the I/O APICs */
    unsigned nr_isos;
};

/* Build the table; *out is malloc'd (caller frees). */
int vmdl_madt_build(const struct vmdl_madt_config *cfg, uint8_t **out,
                    size_t *len);
/* One enabled entry per APIC of the bus (UID = index), LINT1 NMI entries. */
int vmdl_madt_build_for_bus(struct vmdl_lapic_bus *bus, uint8_t **out,
                            size_t *len);
/* Check signature, length field, checksum and entry lengths. */
int vmdl_madt_check(const uint8_t *table, size_t len);

#ifdef __cplusplus
}
#endif
#endif
