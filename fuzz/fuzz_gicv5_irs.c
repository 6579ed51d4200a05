/* SPDX-License-Identifier: MIT */
/*
 * fuzz_gicv5_irs: the GICv5 IRS config frame (src/gicv5/gicv5_irs.c) with
 * 1-65535 PEs, driven by reads and writes of every size at offsets near the
 * registers, anywhere in the frame and past it, with resets and state round
 * trips in between.
 *
 * Invariants: the ID registers never change and say "no LPIs, no SPIs, no
 * virtualization, PE_CNT = the PE count"; a refused access (bad size,
 * misaligned, reserved, outside the frame) reads 0 and changes nothing;
 * IRS_CR0 reads IDLE | IRSEN only; every STATUSR reads IDLE, PE_STATUSR
 * has V and ONLINE exactly when PE_SELR names a PE, SPI_STATUSR never has
 * V; the stored registers keep only their fields; RAZ/WI registers read 0;
 * put/get round-trips the state.
 */
#include "fuzz_util.h"

#include "virtmodel/gicv5_irs.h"

static bool same(const struct vmdl_gicv5_irs *a, const struct vmdl_gicv5_irs *b)
{
    return a->nr_pes == b->nr_pes && a->cr0 == b->cr0 && a->cr1 == b->cr1 &&
           a->pe_selr == b->pe_selr && a->spi_selr == b->spi_selr;
}

static uint64_t rd(const struct vmdl_gicv5_irs *irs, uint64_t off)
{
    uint64_t v = 0;
    FZ_CHECK(vmdl_gicv5_irs_read(irs, off, 4, &v), "register 0x%llx refused",
             (unsigned long long)off);
    return v;
}

static void check(const struct vmdl_gicv5_irs *irs)
{
    FZ_CHECK(rd(irs, VMDL_IRS_IDR1) == (irs->nr_pes | 15u << 16 | 4u << 20), "IDR1");
    FZ_CHECK(!(rd(irs, VMDL_IRS_IDR2) & (1u << 5)), "IDR2 claims LPIs");
    FZ_CHECK(rd(irs, VMDL_IRS_IDR0) == 0x11, "IDR0");
    for (uint64_t off = VMDL_IRS_IDR3; off <= VMDL_IRS_IDR7; off += 4)
        FZ_CHECK(rd(irs, off) == 0, "IDR3-7 not 0");
    uint64_t cr0 = rd(irs, VMDL_IRS_CR0);
    FZ_CHECK((cr0 & ~3ull) == 0 && (cr0 & VMDL_IRS_CR0_IDLE), "CR0 0x%llx",
             (unsigned long long)cr0);
    FZ_CHECK(rd(irs, VMDL_IRS_SYNC_STATUSR) == VMDL_IRS_STATUSR_IDLE, "SYNC_STATUSR");
    FZ_CHECK(rd(irs, VMDL_IRS_SPI_STATUSR) == VMDL_IRS_STATUSR_IDLE, "SPI_STATUSR");
    uint64_t pe = rd(irs, VMDL_IRS_PE_STATUSR);
    bool valid = irs->pe_selr < irs->nr_pes;
    FZ_CHECK(pe == (VMDL_IRS_STATUSR_IDLE |
                    (valid ? VMDL_IRS_STATUSR_V | VMDL_IRS_PE_STATUSR_ONLINE : 0)),
             "PE_STATUSR 0x%llx for IAFFID %u of %u", (unsigned long long)pe,
             irs->pe_selr, irs->nr_pes);
    FZ_CHECK(!(irs->cr1 & ~VMDL_IRS_CR1_MASK) && !(irs->pe_selr & ~VMDL_IRS_PE_SELR_MASK) &&
             !(irs->spi_selr & ~VMDL_IRS_SPI_SELR_MASK), "RES0 bits stored");
    const uint64_t razwi[] = {VMDL_IRS_SPI_CFGR, VMDL_IRS_SPI_DOMAINR, VMDL_IRS_PE_CR0,
                              VMDL_IRS_IST_CFGR, VMDL_IRS_IST_STATUSR, VMDL_IRS_SYNCR};
    for (unsigned i = 0; i < sizeof(razwi) / sizeof(razwi[0]); i++)
        FZ_CHECK(rd(irs, razwi[i]) == 0, "RAZ register 0x%llx not 0",
                 (unsigned long long)razwi[i]);
}

static void round_trip(struct vmdl_gicv5_irs *irs)
{
    struct vmdl_blob_writer w;
    vmdl_blob_begin(&w, VMDL_BLOB_MAGIC('F', 'I', 'R', 'S'), 1);
    vmdl_gicv5_irs_put(irs, &w);
    uint8_t *blob = NULL;
    size_t len = 0;
    FZ_CHECK(vmdl_blob_finish(&w, &blob, &len) == 0, "blob finish");
    struct vmdl_blob_reader r;
    FZ_CHECK(vmdl_blob_open(&r, blob, len, VMDL_BLOB_MAGIC('F', 'I', 'R', 'S'), 1, "f") == 0,
             "blob open");
    struct vmdl_gicv5_irs u;
    FZ_CHECK(vmdl_gicv5_irs_init(&u, irs->nr_pes) == 0, "init");
    vmdl_gicv5_irs_get(&u, &r);
    FZ_CHECK(vmdl_blob_close(&r) == 0, "round trip refused");
    FZ_CHECK(same(&u, irs), "round trip changed the state");
    free(blob);
}

/* Every 32-bit register (and 32-bit half) of the frame. */
static bool is_register(uint64_t off)
{
    static const uint16_t all[] = {
        VMDL_IRS_IDR0, VMDL_IRS_IDR1, VMDL_IRS_IDR2, VMDL_IRS_IDR3, VMDL_IRS_IDR4,
        VMDL_IRS_IDR5, VMDL_IRS_IDR6, VMDL_IRS_IDR7, VMDL_IRS_IIDR, VMDL_IRS_AIDR,
        VMDL_IRS_CR0, VMDL_IRS_CR1, VMDL_IRS_SYNCR, VMDL_IRS_SYNC_STATUSR,
        VMDL_IRS_SPI_VMR, VMDL_IRS_SPI_VMR + 4, VMDL_IRS_SPI_SELR, VMDL_IRS_SPI_DOMAINR,
        VMDL_IRS_SPI_RESAMPLER, VMDL_IRS_SPI_CFGR, VMDL_IRS_SPI_STATUSR,
        VMDL_IRS_PE_SELR, VMDL_IRS_PE_STATUSR, VMDL_IRS_PE_CR0, VMDL_IRS_IST_BASER,
        VMDL_IRS_IST_BASER + 4, VMDL_IRS_IST_CFGR, VMDL_IRS_IST_STATUSR,
        VMDL_IRS_MAP_L2_ISTR,
    };
    for (unsigned i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (off == all[i])
            return true;
    return false;
}

static uint64_t pick_offset(struct fz *f)
{
    static const uint16_t regs[] = {
        VMDL_IRS_IDR0, VMDL_IRS_IDR1, VMDL_IRS_IDR2, VMDL_IRS_IIDR, VMDL_IRS_CR0,
        VMDL_IRS_CR1, VMDL_IRS_SYNCR, VMDL_IRS_SPI_VMR, VMDL_IRS_SPI_SELR,
        VMDL_IRS_SPI_CFGR, VMDL_IRS_PE_SELR, VMDL_IRS_PE_STATUSR, VMDL_IRS_PE_CR0,
        VMDL_IRS_IST_BASER, VMDL_IRS_MAP_L2_ISTR,
    };
    switch (fz_pick(f, 4)) {
    case 0:
        return fz_u16(f);                         /* anywhere in the frame */
    case 1:
        return fz_value(f);                       /* anywhere at all */
    default:                                      /* a register, maybe skewed */
        return regs[fz_pick(f, sizeof(regs) / sizeof(regs[0]))] +
               (fz_pick(f, 4) ? 0 : fz_pick(f, 8));
    }
}

static void access(struct fz *f, struct vmdl_gicv5_irs *irs)
{
    static const unsigned sizes[] = {4, 4, 4, 8, 1, 2, 3, 16};
    uint64_t off = pick_offset(f);
    unsigned size = sizes[fz_pick(f, 8)];
    bool w = fz_bool(f);
    uint64_t val = fz_value(f);
    struct vmdl_gicv5_irs before = *irs;
    bool ok;
    if (w) {
        ok = vmdl_gicv5_irs_write(irs, off, size, val);
    } else {
        val = 0x5A5A;
        ok = vmdl_gicv5_irs_read(irs, off, size, &val);
        FZ_CHECK(same(&before, irs), "a read changed the state");
    }
    FZ_TRACE("%s 0x%llx/%u -> %d\n", w ? "write" : "read", (unsigned long long)off, size,
             ok);
    if (!ok) {
        FZ_CHECK(same(&before, irs), "a refused access changed the state");
        FZ_CHECK(w || val == 0, "a refused read is not 0");
        FZ_CHECK(size != 4 || !is_register(off), "register 0x%llx refused",
                 (unsigned long long)off);
    }
    if (ok && !w)
        FZ_CHECK(size == 8 || val <= UINT32_MAX, "a 32-bit read above 32 bits");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f;
    fz_init(&f, data, size);
    struct vmdl_gicv5_irs irs;
    unsigned pes = fz_u16(&f);
    if (vmdl_gicv5_irs_init(&irs, pes)) {
        FZ_CHECK(pes == 0, "init refused %u PEs", pes);
        return 0;
    }
    for (unsigned steps = 0; fz_more(&f) && steps < 4096; steps++) {
        switch (fz_pick(&f, 16)) {
        case 0:
            vmdl_gicv5_irs_reset(&irs);
            FZ_CHECK(irs.cr0 == 0 && irs.pe_selr == 0 && irs.nr_pes == pes, "reset");
            break;
        case 1:
            round_trip(&irs);
            break;
        default:
            access(&f, &irs);
            break;
        }
        check(&irs);
    }
    return 0;
}

/* One access: a register offset (pick kind 2), size 4, read or write. */
static void put_access(struct fz_out *o, unsigned reg_index, bool w, uint8_t val)
{
    fz_put8(o, 2);             /* an access */
    fz_put8(o, 2);             /* offset: a register of the list */
    fz_put8(o, reg_index);
    fz_put8(o, 1);             /* not skewed */
    fz_put8(o, 0);             /* size 4 */
    fz_put8(o, w);
    fz_put8(o, 2);             /* fz_value: one byte */
    fz_put8(o, val);
}

static void write_seeds(const char *dir)
{
    struct fz_out o = {.len = 0};
    fz_put16(&o, 4);           /* 4 PEs */
    put_access(&o, 0, false, 0);    /* IDR0 */
    put_access(&o, 1, false, 0);    /* IDR1 */
    put_access(&o, 4, true, 1);     /* CR0.IRSEN */
    put_access(&o, 4, false, 0);
    put_access(&o, 10, true, 3);    /* PE_SELR = 3 */
    put_access(&o, 11, false, 0);   /* PE_STATUSR: V */
    put_access(&o, 10, true, 9);    /* PE_SELR = 9: no such PE */
    put_access(&o, 11, false, 0);
    put_access(&o, 6, true, 0x80);  /* SYNCR */
    put_access(&o, 8, true, 5);     /* SPI_SELR */
    put_access(&o, 9, false, 0);    /* SPI_CFGR */
    fz_save_out(dir, "probe-enable-select", &o);
}

FZ_SEED_WRITER_MAIN()
