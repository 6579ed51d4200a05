/* SPDX-License-Identifier: MIT */
/* The config frame of a GICv5 IRS with no SPIs and no LPIs (gicv5_irs.h). */
#include <string.h>

#include "virtmodel/error.h"
#include "virtmodel/gicv5_irs.h"

/* How a register of the frame behaves. */
enum irs_kind {
    K_ID,        /* read-only, a fixed value (IDRn, IIDR, AIDR) */
    K_CR0,       /* IRSEN read/write, IDLE reads 1 */
    K_STORE,     /* read/write: the field in `mask` is stored */
    K_STATUS,    /* read-only, computed (SYNC/SPI/PE_STATUSR) */
    K_WO,        /* write-only with nothing to do: reads 0 */
    K_RAZWI,     /* defined, but what it controls is not there */
};

struct irs_reg {
    uint16_t offset;
    uint8_t width;       /* bytes: 4, or 8 for the 64-bit registers */
    uint8_t kind;
};

/* The registers of the frame a driver meets, by offset: the one table
 * the accesses below are decoded with. */
static const struct irs_reg irs_regs[] = {
    {VMDL_IRS_IDR0, 4, K_ID},          {VMDL_IRS_IDR1, 4, K_ID},
    {VMDL_IRS_IDR2, 4, K_ID},          {VMDL_IRS_IDR3, 4, K_ID},
    {VMDL_IRS_IDR4, 4, K_ID},          {VMDL_IRS_IDR5, 4, K_ID},
    {VMDL_IRS_IDR6, 4, K_ID},          {VMDL_IRS_IDR7, 4, K_ID},
    {VMDL_IRS_IIDR, 4, K_ID},          {VMDL_IRS_AIDR, 4, K_ID},
    {VMDL_IRS_CR0, 4, K_CR0},          {VMDL_IRS_CR1, 4, K_STORE},
    {VMDL_IRS_SYNCR, 4, K_WO},         {VMDL_IRS_SYNC_STATUSR, 4, K_STATUS},
    {VMDL_IRS_SPI_VMR, 8, K_RAZWI},    {VMDL_IRS_SPI_SELR, 4, K_STORE},
    {VMDL_IRS_SPI_DOMAINR, 4, K_RAZWI}, {VMDL_IRS_SPI_RESAMPLER, 4, K_WO},
    {VMDL_IRS_SPI_CFGR, 4, K_RAZWI},   {VMDL_IRS_SPI_STATUSR, 4, K_STATUS},
    {VMDL_IRS_PE_SELR, 4, K_STORE},    {VMDL_IRS_PE_STATUSR, 4, K_STATUS},
    {VMDL_IRS_PE_CR0, 4, K_RAZWI},     {VMDL_IRS_IST_BASER, 8, K_RAZWI},
    {VMDL_IRS_IST_CFGR, 4, K_RAZWI},   {VMDL_IRS_IST_STATUSR, 4, K_RAZWI},
    {VMDL_IRS_MAP_L2_ISTR, 4, K_RAZWI},
};

int vmdl_gicv5_irs_init(struct vmdl_gicv5_irs *irs, unsigned nr_pes)
{
    if (!irs)
        return vmdl_fail(VMDL_EINVAL, "vmdl_gicv5_irs_init: NULL IRS");
    if (nr_pes == 0 || nr_pes > VMDL_GICV5_IRS_MAX_PES)
        return vmdl_fail(VMDL_EINVAL, "vmdl_gicv5_irs_init: %u PEs (1..%u: IRS_IDR1.PE_CNT "
                         "is 16 bits)", nr_pes, VMDL_GICV5_IRS_MAX_PES);
    memset(irs, 0, sizeof(*irs));
    irs->nr_pes = nr_pes;
    return VMDL_OK;
}

void vmdl_gicv5_irs_reset(struct vmdl_gicv5_irs *irs)
{
    irs->cr0 = 0;
    irs->cr1 = 0;
    irs->pe_selr = 0;
    irs->spi_selr = 0;
}

/* The register an access reaches, or NULL for RAZ/WI space.  An access must
 * be naturally aligned and as wide as the register, or 32 bits (either
 * half of a 64-bit register: those are RAZ/WI here anyway). */
static const struct irs_reg *find_reg(uint64_t offset, unsigned size)
{
    if (offset >= VMDL_GICV5_IRS_FRAME_SIZE || (size != 4 && size != 8) ||
        (offset & (size - 1)))
        return NULL;
    for (size_t i = 0; i < sizeof(irs_regs) / sizeof(irs_regs[0]); i++) {
        const struct irs_reg *r = &irs_regs[i];
        if (offset == r->offset)
            return size <= r->width ? r : NULL;
        if (r->width == 8 && size == 4 && offset == r->offset + 4u)
            return r;
    }
    return NULL;
}

static uint32_t id_value(const struct vmdl_gicv5_irs *irs, unsigned offset)
{
    switch (offset) {
    case VMDL_IRS_IDR0:
        return VMDL_IRS_DOMAIN_NS | VMDL_IRS_PA_RANGE_44 << 2;
    case VMDL_IRS_IDR1:
        return irs->nr_pes | (uint32_t)(VMDL_IRS_IAFFID_BITS - 1) << 16 |
               (uint32_t)(VMDL_IRS_PRI_BITS - 1) << 20;
    case VMDL_IRS_IDR2:
        return VMDL_IRS_ID_BITS;    /* LPI (bit 5) clear: no IST fields */
    case VMDL_IRS_IIDR:
        return VMDL_IRS_IMPLEMENTER_ARM;
    default:
        return 0;                   /* IDR3-7, AIDR */
    }
}

static uint32_t status_value(const struct vmdl_gicv5_irs *irs, unsigned offset)
{
    uint32_t v = VMDL_IRS_STATUSR_IDLE;
    /* IAFFID n is PE (vCPU) n. */
    if (offset == VMDL_IRS_PE_STATUSR && irs->pe_selr < irs->nr_pes)
        v |= VMDL_IRS_STATUSR_V | VMDL_IRS_PE_STATUSR_ONLINE;
    return v;   /* SPI_STATUSR.V: no SPI exists to select */
}

static uint32_t *stored(struct vmdl_gicv5_irs *irs, unsigned offset, uint32_t *mask)
{
    switch (offset) {
    case VMDL_IRS_CR1:
        *mask = VMDL_IRS_CR1_MASK;
        return &irs->cr1;
    case VMDL_IRS_SPI_SELR:
        *mask = VMDL_IRS_SPI_SELR_MASK;
        return &irs->spi_selr;
    default:
        *mask = VMDL_IRS_PE_SELR_MASK;
        return &irs->pe_selr;
    }
}

bool vmdl_gicv5_irs_read(const struct vmdl_gicv5_irs *irs, uint64_t offset,
                         unsigned size, uint64_t *value)
{
    const struct irs_reg *r = find_reg(offset, size);
    *value = 0;
    if (!r)
        return false;
    switch (r->kind) {
    case K_ID:
        *value = id_value(irs, r->offset);
        break;
    case K_CR0:
        *value = (irs->cr0 & VMDL_IRS_CR0_IRSEN) | VMDL_IRS_CR0_IDLE;
        break;
    case K_STORE:
        *value = r->offset == VMDL_IRS_CR1       ? irs->cr1
                 : r->offset == VMDL_IRS_SPI_SELR ? irs->spi_selr
                                                  : irs->pe_selr;
        break;
    case K_STATUS:
        *value = status_value(irs, r->offset);
        break;
    default:        /* K_WO, K_RAZWI */
        break;
    }
    return true;
}

bool vmdl_gicv5_irs_write(struct vmdl_gicv5_irs *irs, uint64_t offset,
                          unsigned size, uint64_t value)
{
    const struct irs_reg *r = find_reg(offset, size);
    if (!r)
        return false;
    uint32_t mask;
    if (r->kind == K_CR0) {
        irs->cr0 = (uint32_t)value & VMDL_IRS_CR0_IRSEN;
    } else if (r->kind == K_STORE) {
        uint32_t *p = stored(irs, r->offset, &mask);
        *p = (uint32_t)value & mask;
    }
    /* IRS_SYNCR.SYNC: every earlier write has taken effect already. */
    return true;
}

void vmdl_gicv5_irs_put(const struct vmdl_gicv5_irs *irs, struct vmdl_blob_writer *w)
{
    vmdl_blob_put_u32(w, irs->nr_pes);
    vmdl_blob_put_u32(w, irs->cr0);
    vmdl_blob_put_u32(w, irs->cr1);
    vmdl_blob_put_u32(w, irs->pe_selr);
    vmdl_blob_put_u32(w, irs->spi_selr);
}

void vmdl_gicv5_irs_get(struct vmdl_gicv5_irs *irs, struct vmdl_blob_reader *r)
{
    struct vmdl_gicv5_irs n;
    n.nr_pes = vmdl_blob_get_u32(r);
    n.cr0 = vmdl_blob_get_u32(r);
    n.cr1 = vmdl_blob_get_u32(r);
    n.pe_selr = vmdl_blob_get_u32(r);
    n.spi_selr = vmdl_blob_get_u32(r);
    if (n.nr_pes != irs->nr_pes) {
        vmdl_blob_reject(r, "gicv5 IRS: saved for another number of PEs");
        return;
    }
    if ((n.cr0 & ~VMDL_IRS_CR0_IRSEN) || (n.cr1 & ~VMDL_IRS_CR1_MASK) ||
        (n.pe_selr & ~VMDL_IRS_PE_SELR_MASK) || (n.spi_selr & ~VMDL_IRS_SPI_SELR_MASK)) {
        vmdl_blob_reject(r, "gicv5 IRS: reserved bits set");
        return;
    }
    *irs = n;
}
