/* SPDX-License-Identifier: MIT */
/*
 * gicv5_irs: the non-secure config frame of a GICv5 Interrupt Routing
 * Service (IRS), as much of it as a VM whose interrupts are the CPU
 * interface's PPIs (gicv5.h) can honestly show.  Pure: the caller maps the
 * 64 KiB frame and forwards 32/64-bit accesses.
 *
 * What the frame says about the hardware (docs/gicv5.md, "The IRS"):
 *   IRS_IDR0   non-secure domain only, 44-bit PA, no virtualization, no
 *              1-of-N, no SETLPI frame, no MEC/MPAM, no software errors
 *   IRS_IDR1   PE_CNT = vCPUs, 16 IAFFID bits, 5 priority bits
 *   IRS_IDR2   16 ID bits, LPI = 0 (no LPIs, so no IST)
 *   IRS_IDR3/4 0 (no virtualization)
 *   IRS_IDR5-7 0 SPIs
 *   IRS_IIDR   Arm (0x43B), product 0, as KVM's vGIC-v5 IRS; IRS_AIDR 0
 *              (an IRS of GICv5.0)
 * Writable state: IRS_CR0.IRSEN, IRS_CR1 (cacheability and shareability of
 * the IRS's memory accesses: stored, nothing is accessed), IRS_PE_SELR,
 * IRS_SPI_SELR.  Every operation completes at once, so IRS_CR0.IDLE,
 * IRS_SYNC_STATUSR.IDLE, IRS_SPI_STATUSR.IDLE and IRS_PE_STATUSR.IDLE read
 * 1.  IRS_PE_STATUSR.V and .ONLINE are set when IRS_PE_SELR holds the
 * IAFFID of a PE (IAFFID n is vCPU n, as ICC_IAFFIDR_EL1 reports).
 * IRS_SPI_STATUSR.V is 0 (no SPI can be selected); IRS_SPI_CFGR,
 * IRS_SPI_DOMAINR (non-secure frame), IRS_SPI_VMR, IRS_PE_CR0 (no 1-of-N)
 * and the IST registers (no LPIs) are RAZ/WI; IRS_SYNCR and
 * IRS_SPI_RESAMPLER are write-only and have nothing to do.  Reserved
 * offsets, read-only registers on a write, and accesses that are not a
 * naturally aligned 32-bit access (or 64-bit to a 64-bit register) are
 * RAZ/WI, as the GICv5 specification asks of reserved register space.
 */
#ifndef VIRTMODEL_GICV5_IRS_H
#define VIRTMODEL_GICV5_IRS_H

#include <stdbool.h>
#include <stdint.h>

#include "virtmodel/blob.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VMDL_GICV5_IRS_FRAME_SIZE 0x10000u

/* Register offsets in the config frame (GICv5 specification; the same as
 * Linux's include/linux/irqchip/arm-gic-v5.h). */
#define VMDL_IRS_IDR0 0x0000u
#define VMDL_IRS_IDR1 0x0004u
#define VMDL_IRS_IDR2 0x0008u
#define VMDL_IRS_IDR3 0x000Cu
#define VMDL_IRS_IDR4 0x0010u
#define VMDL_IRS_IDR5 0x0014u
#define VMDL_IRS_IDR6 0x0018u
#define VMDL_IRS_IDR7 0x001Cu
#define VMDL_IRS_IIDR 0x0040u
#define VMDL_IRS_AIDR 0x0044u
#define VMDL_IRS_CR0 0x0080u
#define VMDL_IRS_CR1 0x0084u
#define VMDL_IRS_SYNCR 0x00C0u
#define VMDL_IRS_SYNC_STATUSR 0x00C4u
#define VMDL_IRS_SPI_VMR 0x0100u          /* 64-bit */
#define VMDL_IRS_SPI_SELR 0x0108u
#define VMDL_IRS_SPI_DOMAINR 0x010Cu
#define VMDL_IRS_SPI_RESAMPLER 0x0110u
#define VMDL_IRS_SPI_CFGR 0x0114u
#define VMDL_IRS_SPI_STATUSR 0x0118u
#define VMDL_IRS_PE_SELR 0x0140u
#define VMDL_IRS_PE_STATUSR 0x0144u
#define VMDL_IRS_PE_CR0 0x0148u
#define VMDL_IRS_IST_BASER 0x0180u        /* 64-bit */
#define VMDL_IRS_IST_CFGR 0x0190u
#define VMDL_IRS_IST_STATUSR 0x0194u
#define VMDL_IRS_MAP_L2_ISTR 0x01C0u

#define VMDL_IRS_CR0_IRSEN (1u << 0)
#define VMDL_IRS_CR0_IDLE (1u << 1)
#define VMDL_IRS_CR1_MASK 0xFFFFu         /* SH, OC, IC and the RA/WA bits */
#define VMDL_IRS_SYNCR_SYNC (1u << 31)
#define VMDL_IRS_STATUSR_IDLE (1u << 0)   /* SYNC/SPI/PE_STATUSR */
#define VMDL_IRS_STATUSR_V (1u << 1)      /* SPI/PE_STATUSR */
#define VMDL_IRS_PE_STATUSR_ONLINE (1u << 2)
#define VMDL_IRS_PE_SELR_MASK 0xFFFFu     /* IAFFID */
#define VMDL_IRS_SPI_SELR_MASK 0xFFFFFFu  /* ID */

/* IRS_IDR1 fields, and the values this IRS reports. */
#define VMDL_IRS_IAFFID_BITS 16
#define VMDL_IRS_PRI_BITS 5
#define VMDL_IRS_ID_BITS 16
/* IRS_IDR0.PA_RANGE: 44 bits (the encoding of ID_AA64MMFR0_EL1.PARange),
 * the physical address size of the modelled CPU. */
#define VMDL_IRS_PA_RANGE_44 4u
#define VMDL_IRS_DOMAIN_NS 1u
#define VMDL_IRS_IMPLEMENTER_ARM 0x43Bu
/* IRS_IDR1.PE_CNT is 16 bits wide. */
#define VMDL_GICV5_IRS_MAX_PES 65535u

struct vmdl_gicv5_irs {
    uint32_t nr_pes;      /* configuration: PEs behind this IRS */
    uint32_t cr0;         /* IRSEN */
    uint32_t cr1;
    uint32_t pe_selr;
    uint32_t spi_selr;
};

/* nr_pes 1..VMDL_GICV5_IRS_MAX_PES (VMDL_EINVAL otherwise); registers at
 * their reset values. */
int vmdl_gicv5_irs_init(struct vmdl_gicv5_irs *irs, unsigned nr_pes);
/* Reset: IRSEN 0, CR1 0, the selectors 0. */
void vmdl_gicv5_irs_reset(struct vmdl_gicv5_irs *irs);

/* A guest access at `offset` in the config frame, `size` bytes (1, 2, 4 or
 * 8).  Returns true when it reached a register the frame defines with a
 * valid size; false when it was RAZ/WI (reserved or unimplemented space,
 * a bad size or alignment, an offset outside the frame) — *value is 0 then.
 * A write to a read-only register is ignored and returns true. */
bool vmdl_gicv5_irs_read(const struct vmdl_gicv5_irs *irs, uint64_t offset,
                         unsigned size, uint64_t *value);
bool vmdl_gicv5_irs_write(struct vmdl_gicv5_irs *irs, uint64_t offset,
                          unsigned size, uint64_t value);

/* State in a larger blob; get refuses RES0 bits and a PE count change
 * (through vmdl_blob_reject) and changes nothing then. */
void vmdl_gicv5_irs_put(const struct vmdl_gicv5_irs *irs, struct vmdl_blob_writer *w);
void vmdl_gicv5_irs_get(struct vmdl_gicv5_irs *irs, struct vmdl_blob_reader *r);

#ifdef __cplusplus
}
#endif
#endif
