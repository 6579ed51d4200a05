/* SPDX-License-Identifier: MIT */
/*
 * I/O APIC model (82093AA, as KVM's in-kernel IOAPIC: arch/x86/kvm/ioapic.c).
 * See docs/ioapic.md.
 *
 * 24 input pins, each with a 64-bit redirection entry; the guest reaches
 * them indirectly through IOREGSEL (offset 0x00) and IOWIN (0x10) of a
 * memory window (0xFEC00000 on a PC).  Registers behind IOREGSEL: 0x00 ID
 * (bits 27:24), 0x01 version (max redirection entry 23 in 23:16, version in
 * 7:0), 0x02 arbitration ID (reads as the ID), 0x10 + 2n / 0x11 + 2n the
 * low / high half of entry n.  Version 0x20 (QEMU's userspace IOAPIC) adds
 * the EOI register at offset 0x40.
 *
 * The model is a pure state machine: it delivers through a callback (the
 * local APIC bus in the machine glue) and learns about EOIs from the
 * caller.  Not thread-safe: one caller at a time.
 */
#ifndef VIRTMODEL_IOAPIC_H
#define VIRTMODEL_IOAPIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VMDL_IOAPIC_PINS 24
#define VMDL_IOAPIC_DEFAULT_BASE 0xFEC00000ull
#define VMDL_IOAPIC_MAX_APICS 256
#define VMDL_IOAPIC_VERSION_KVM 0x11   /* KVM's IOAPIC_VERSION_ID */
#define VMDL_IOAPIC_VERSION_EOI 0x20   /* QEMU's default: has the EOI register */

/* Memory-window offsets (the window decodes address bits 7:0). */
#define VMDL_IOAPIC_IOREGSEL 0x00
#define VMDL_IOAPIC_IOWIN 0x10
#define VMDL_IOAPIC_EOI 0x40

/* Indirect registers. */
#define VMDL_IOAPIC_REG_ID 0x00
#define VMDL_IOAPIC_REG_VER 0x01
#define VMDL_IOAPIC_REG_ARB 0x02
#define VMDL_IOAPIC_REG_REDIR 0x10

/* Redirection entry fields. */
#define VMDL_IOAPIC_RTE_VECTOR 0xFFull
#define VMDL_IOAPIC_RTE_DM_SHIFT 8                /* delivery mode, 3 bits */
#define VMDL_IOAPIC_RTE_LOGICAL (1ull << 11)
#define VMDL_IOAPIC_RTE_DELIVS (1ull << 12)       /* read-only, always 0 */
#define VMDL_IOAPIC_RTE_POLARITY (1ull << 13)
#define VMDL_IOAPIC_RTE_REMOTE_IRR (1ull << 14)   /* read-only */
#define VMDL_IOAPIC_RTE_LEVEL (1ull << 15)
#define VMDL_IOAPIC_RTE_MASKED (1ull << 16)
#define VMDL_IOAPIC_RTE_DEST_SHIFT 56

/* Back-to-back EOI re-deliveries of one asserted level pin after which
 * KVM stops re-delivering at once (IOAPIC_SUCCESSIVE_IRQ_MAX_COUNT). */
#define VMDL_IOAPIC_EOI_STORM 10000

struct vmdl_ioapic;

/* One interrupt message towards the local APICs. */
struct vmdl_ioapic_msg {
    uint32_t dest;          /* 8-bit destination, 0xFF: broadcast */
    bool logical;
    unsigned delivery_mode; /* 0 fixed, 1 lowest priority, 2 SMI, 4 NMI, ... */
    uint8_t vector;
    bool level;             /* trigger mode */
};

struct vmdl_ioapic_ops {
    /* Deliver a message.  KVM's kvm_irq_delivery_to_apic() result: -1 when
     * no APIC matched the destination, else how many accepted it. */
    int (*deliver)(void *opaque, const struct vmdl_ioapic_msg *msg);
    /* Does APIC `apic` (0..nr_apics-1) match (dest, logical)? */
    bool (*match)(void *opaque, unsigned apic, uint32_t dest, bool logical);
    /* Is `vector` in APIC `apic`'s IRR or ISR (KVM's kvm_apic_pending_eoi)? */
    bool (*pending_eoi)(void *opaque, unsigned apic, uint8_t vector);
    void *opaque;
    /* Optional (NULL: none), the interrupt-remapping unit between the pins
     * and the APICs (VT-d): where the entry `rte` goes.  0: *msg holds the
     * remapped message (its trigger mode is the remapping entry's; remote
     * IRR still follows the pin's entry); 1: send the entry as it is; -1:
     * blocked (treated as a delivery that found no destination, so a level
     * pin waits for an EOI, as KVM's remote IRR does).  With `probe` the
     * unit only looks (no fault recorded): the handled-vector scan. */
    int (*remap)(void *opaque, uint64_t rte, bool probe, struct vmdl_ioapic_msg *msg);
};

struct vmdl_ioapic_config {
    unsigned version;    /* VMDL_IOAPIC_VERSION_KVM (0: that) or _EOI */
    unsigned nr_apics;   /* local APICs on the bus, 1..VMDL_IOAPIC_MAX_APICS */
    struct vmdl_ioapic_ops ops;
};

int vmdl_ioapic_create(const struct vmdl_ioapic_config *cfg, struct vmdl_ioapic **out);
void vmdl_ioapic_destroy(struct vmdl_ioapic *io);
/* RESET: every pin masked, everything else 0 (KVM's kvm_ioapic_reset). */
void vmdl_ioapic_reset(struct vmdl_ioapic *io);

/* Guest accesses to the memory window (offset from its base; sizes 1-8). */
uint64_t vmdl_ioapic_mmio_read(struct vmdl_ioapic *io, uint64_t off, unsigned size);
void vmdl_ioapic_mmio_write(struct vmdl_ioapic *io, uint64_t off, unsigned size,
                            uint64_t value);

/*
 * Drive input pin `pin` to `level` (true: asserted; active high, the
 * polarity bit is stored only, as in KVM).  Returns KVM's ioapic_set_irq()
 * result: 1 delivered (or the line went low), 0 coalesced (an edge pin
 * already latched), -1 not delivered (masked, remote IRR set, no
 * destination); negative vmdl_err on a bad pin.
 */
int vmdl_ioapic_set_irq(struct vmdl_ioapic *io, unsigned pin, bool level);

/*
 * A local APIC's EOI for `vector` (KVM's kvm_ioapic_update_eoi): for each
 * pin routing that vector, when `level` (the vector's TMR bit) is set and
 * the APIC is not in directed-EOI mode, clear remote IRR and deliver again
 * if the line is still asserted and the pin unmasked.
 */
void vmdl_ioapic_eoi(struct vmdl_ioapic *io, unsigned apic, uint8_t vector,
                     bool level, bool directed_eoi_mode);

/* Does the IOAPIC want APIC `apic`'s EOIs for `vector`?  (KVM's
 * ioapic_handled_vectors, computed by the last scan.) */
bool vmdl_ioapic_handles_vector(const struct vmdl_ioapic *io, unsigned apic,
                                uint8_t vector);
/* Recompute the handled vectors (KVM's kvm_ioapic_scan_entry for every
 * APIC): the model does it after each redirection-entry write; call it when
 * an APIC's ID, LDR, DFR or mode changed. */
void vmdl_ioapic_scan(struct vmdl_ioapic *io);
/* Re-deliver level pins held back by the EOI storm limit (KVM does this
 * 10 ms later from a work item). */
void vmdl_ioapic_service_deferred(struct vmdl_ioapic *io);

/* Inspection. */
uint64_t vmdl_ioapic_redir(const struct vmdl_ioapic *io, unsigned pin);
uint32_t vmdl_ioapic_irr(const struct vmdl_ioapic *io);
uint8_t vmdl_ioapic_id(const struct vmdl_ioapic *io);

struct vmdl_ioapic_stats {
    uint64_t deliveries;    /* messages sent */
    uint64_t coalesced;     /* edges lost to an already latched edge */
    uint64_t eois;          /* EOIs that cleared a remote IRR */
    uint64_t deferred;      /* re-deliveries held back by the storm limit */
};
void vmdl_ioapic_get_stats(const struct vmdl_ioapic *io, struct vmdl_ioapic_stats *st);

/* State blobs (blob.h format) for checkpoints. */
int vmdl_ioapic_export(const struct vmdl_ioapic *io, uint8_t **blob, size_t *len);
int vmdl_ioapic_import(struct vmdl_ioapic *io, const uint8_t *blob, size_t len);

#ifdef __cplusplus
}
#endif
#endif
