/* SPDX-License-Identifier: MIT */
/*
 * fuzz_vtd: a VT-d unit (with or without interrupt remapping / EIM, 39- or
 * 48-bit) over 64 KiB of guest memory the input fills and rewrites, and a
 * PCI host bridge with QEMU's edu device whose DMA goes through the unit's
 * translation and whose MSIs go through its interrupt remapping: register
 * accesses of any size and offset, translations, MSIs and I/O APIC entries,
 * configuration cycles, edu register accesses, resets.
 *
 * Invariants after every step:
 *  - GSTS bits 22:0 and GCMD read 0; FSTS.PPF is set exactly when a fault
 *    record holds F; IQH is a descriptor index inside the queue;
 *  - a translation returns 0 or a DMA fault reason (0x1-0xD), with
 *    translation off the address unchanged; an interrupt request returns 0
 *    or an interrupt-remapping fault reason (0x20-0x26), an I/O APIC entry
 *    also VMDL_VTD_IRQ_PASS;
 *  - the edu DMA command never stays running; INTA is driven only while
 *    the interrupt status is non-zero, MSI is off and INTx is enabled;
 *  - configuration reads of an empty slot or another bus read all ones.
 */
#include "fuzz_util.h"

#include "virtmodel/error.h"
#include "virtmodel/pci.h"
#include "virtmodel/pci_edu.h"
#include "virtmodel/vtd.h"

#define MEM 0x10000u

struct world {
    uint8_t mem[MEM];
    struct vmdl_flat_mem flat;
    struct vmdl_vtd *v;
    struct vmdl_pci_host host;
    struct vmdl_edu edu;
    bool intx;
    unsigned msis;
};

static void on_event(void *o, uint64_t addr, uint32_t data)
{
    (void)o;
    (void)addr;
    (void)data;
}

static int edu_dma(void *o, uint64_t addr, void *buf, size_t len, bool write)
{
    struct world *w = o;
    while (len) {
        uint64_t pa, room;
        if (vmdl_vtd_translate(w->v, 0x0008, addr, write, &pa, &room))
            return -1;
        size_t n = len < room ? len : (size_t)room;
        if (pa >= MEM || n > MEM - pa)
            return -1;
        if (write)
            memcpy(w->mem + pa, buf, n);
        else
            memcpy(buf, w->mem + pa, n);
        addr += n;
        buf = (uint8_t *)buf + n;
        len -= n;
    }
    return 0;
}

static void edu_intx(void *o, bool level) { ((struct world *)o)->intx = level; }

static void edu_msi(void *o)
{
    struct world *w = o;
    uint64_t addr;
    uint32_t data;
    struct vmdl_msi_msg m;
    vmdl_pci_msi_message(&w->edu.fn, &addr, &data);
    int r = vmdl_vtd_remap_msi(w->v, 0x0008, addr, data, &m);
    FZ_CHECK(r == 0 || (r >= 0x20 && r <= 0x26), "MSI remap result %d", r);
    w->msis++;
}

static unsigned reg_offset(struct fz *f)
{
    static const uint16_t regs[] = {
        VMDL_VTD_GCMD, VMDL_VTD_RTADDR, VMDL_VTD_CCMD, VMDL_VTD_CCMD + 4, VMDL_VTD_FSTS,
        VMDL_VTD_FECTL, VMDL_VTD_FEDATA, VMDL_VTD_FEADDR, VMDL_VTD_IQT, VMDL_VTD_IQA,
        VMDL_VTD_ICS, VMDL_VTD_IECTL, VMDL_VTD_IRTA, VMDL_VTD_IOTLB, VMDL_VTD_IOTLB + 4,
        VMDL_VTD_FRCD + 8, VMDL_VTD_FRCD + 12,
    };
    unsigned k = fz_u8(f);
    return k < 200 ? regs[k % (sizeof(regs) / sizeof(regs[0]))] : fz_u16(f) & 0xFFF;
}

static void check(struct world *w)
{
    struct vmdl_vtd *v = w->v;
    FZ_CHECK((vmdl_vtd_mmio_read(v, VMDL_VTD_GSTS, 4) & 0x7FFFFF) == 0, "GSTS reserved");
    FZ_CHECK(vmdl_vtd_mmio_read(v, VMDL_VTD_GCMD, 4) == 0, "GCMD reads non-zero");
    bool f = vmdl_vtd_mmio_read(v, VMDL_VTD_FRCD + 8, 8) >> 63;
    bool ppf = vmdl_vtd_mmio_read(v, VMDL_VTD_FSTS, 4) & VMDL_VTD_FSTS_PPF;
    FZ_CHECK(f == ppf, "PPF %d but F %d", ppf, f);
    uint64_t iqh = vmdl_vtd_mmio_read(v, VMDL_VTD_IQH, 8);
    FZ_CHECK(!(iqh & 0xF) && (iqh >> 4) < 32768, "IQH 0x%llx", (unsigned long long)iqh);
    FZ_CHECK(!(w->edu.dma_cmd & VMDL_EDU_DMA_RUN), "edu DMA left running");
    bool allowed = w->edu.irq_status && !vmdl_pci_msi_enabled(&w->edu.fn) &&
                   !(vmdl_pci_command(&w->edu.fn) & VMDL_PCI_CMD_INTX_DISABLE);
    FZ_CHECK(!w->intx || allowed, "INTA driven without a reason");
}

static void step(struct fz *f, struct world *w)
{
    struct vmdl_msi_msg m;
    switch (fz_pick(f, 10)) {
    case 0: case 1:
        vmdl_vtd_mmio_write(w->v, reg_offset(f), fz_bool(f) ? 8 : 4, fz_value(f));
        break;
    case 2:
        vmdl_vtd_mmio_read(w->v, fz_u16(f) & 0xFFF, fz_pick(f, 10));
        break;
    case 3: {    /* guest memory changes under the unit */
        unsigned at = fz_u16(f) & (MEM - 8);
        uint64_t val = fz_value(f);
        memcpy(w->mem + at, &val, 8);
        break;
    }
    case 4: {
        uint64_t pa = 0, len = 0, iova = fz_value(f);
        bool te = vmdl_vtd_mmio_read(w->v, VMDL_VTD_GSTS, 4) & VMDL_VTD_GCMD_TE;
        int r = vmdl_vtd_translate(w->v, fz_u16(f), iova, fz_bool(f), &pa, &len);
        FZ_CHECK(r >= 0 && r <= 0xD, "translate result %d", r);
        FZ_CHECK(r || te || pa == iova, "untranslated address changed");
        FZ_CHECK(r || (len >= 1 && len <= (1ull << 30)), "page remainder %llu",
                 (unsigned long long)len);
        break;
    }
    case 5: {
        int sid = fz_bool(f) ? VMDL_VTD_NO_SID : fz_u16(f);
        uint64_t addr = 0xFEE00000u | (fz_u32(f) & 0xFFFFF);
        int r = vmdl_vtd_remap_msi(w->v, sid, fz_bool(f) ? addr : fz_value(f), fz_u32(f), &m);
        FZ_CHECK(r == 0 || (r >= 0x20 && r <= 0x26), "MSI remap result %d", r);
        break;
    }
    case 6: {
        uint64_t rte = fz_value(f);
        int r = fz_bool(f) ? vmdl_vtd_peek_ioapic(w->v, rte, &m)
                           : vmdl_vtd_remap_ioapic(w->v, rte, &m);
        FZ_CHECK(r == 0 || r == 1 || (r >= 0x20 && r <= 0x26), "IOAPIC remap result %d", r);
        break;
    }
    case 7: {    /* a configuration cycle */
        uint32_t addr = fz_u32(f);
        uint16_t port = (uint16_t)(VMDL_PCI_PORT_ADDR + fz_pick(f, 8));
        unsigned size = 1 + fz_pick(f, 4);
        vmdl_pci_host_io_write(&w->host, VMDL_PCI_PORT_ADDR, 4, addr);
        if (fz_bool(f)) {
            vmdl_pci_host_io_write(&w->host, port, size, fz_u32(f));
        } else {
            uint32_t r = vmdl_pci_host_io_read(&w->host, port, size);
            bool empty = (addr & 0x80000000u) &&
                         (((addr >> 16) & 0xFF) || ((addr >> 8) & 0xFF) != 8);
            if (empty && port >= VMDL_PCI_PORT_DATA && size <= 4)
                FZ_CHECK(r == (size == 4 ? 0xFFFFFFFFu : (1u << (8 * size)) - 1),
                         "master abort read 0x%x", r);
        }
        break;
    }
    case 8:
        if (fz_bool(f))
            vmdl_edu_mmio_write(&w->edu, fz_u8(f), 1 + fz_pick(f, 8), fz_value(f));
        else
            vmdl_edu_mmio_read(&w->edu, fz_u8(f), 1 + fz_pick(f, 8));
        break;
    default:
        if (fz_pick(f, 4) == 0)
            vmdl_vtd_reset(w->v);
        else if (fz_pick(f, 4) == 0)
            vmdl_edu_reset(&w->edu);
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f;
    fz_init(&f, data, size);
    struct world *w = calloc(1, sizeof(*w));
    if (!w)
        abort();
    w->flat = (struct vmdl_flat_mem){w->mem, 0, MEM};
    unsigned cfgbits = fz_u8(&f);
    struct vmdl_vtd_config c = {.intremap = cfgbits & 1, .eim = (cfgbits & 3) == 3,
                                .aw_bits = (cfgbits & 4) ? 48 : 39, .msi = on_event};
    vmdl_flat_mem_init(&c.mem, &w->flat);
    struct vmdl_edu_ops ops = {edu_dma, edu_intx, edu_msi, w};
    if (vmdl_vtd_create(&c, &w->v) || vmdl_edu_init(&w->edu, &ops))
        abort();
    vmdl_pci_host_init(&w->host);
    if (vmdl_pci_host_plug(&w->host, 8, &w->edu.fn) != 8)
        abort();
    for (unsigned i = 0; i < 256 && fz_more(&f); i++) {
        step(&f, w);
        check(w);
    }
    vmdl_vtd_destroy(w->v);
    free(w);
    return 0;
}

/* The kvm-unit-tests sequence in short: root and IR tables, translation and
 * remapping on, a mapped page, a queued wait descriptor. */
static void write_seeds(const char *dir)
{
    struct fz_out o = {.len = 0};
    fz_put8(&o, 1);                                     /* intremap, 39-bit */
    /* memory: root entry at 0x1000 -> context 0x2000; devfn 8 -> table 0x3000 */
    static const struct { uint16_t at; uint64_t v; } mem[] = {
        {0x1000, 0x2001}, {0x2080, 0x3003}, {0x2088, 0x801},
        {0x3000, 0x4003}, {0x4000, 0x5003}, {0x5000, 0x6003},
        {0x7010, 0xEE0001}, {0x7018, 0x40008},
    };
    for (unsigned i = 0; i < sizeof(mem) / sizeof(mem[0]); i++) {
        fz_put8(&o, 3);
        fz_put16(&o, mem[i].at);
        fz_putval(&o, mem[i].v);
    }
    static const struct { uint8_t reg; bool wide; uint64_t v; } regs[] = {
        {1, true, 0x1000}, {0, false, 1u << 30}, {12, true, 0x700F},
        {0, false, 0x41000000}, {0, false, 0xC3000000},
    };
    for (unsigned i = 0; i < sizeof(regs) / sizeof(regs[0]); i++) {
        fz_put8(&o, 0);
        fz_put8(&o, regs[i].reg);
        fz_put8(&o, regs[i].wide);
        fz_putval(&o, regs[i].v);
    }
    fz_put8(&o, 4);                                     /* translate IOVA 0x10 */
    fz_putval(&o, 0x10);
    fz_put16(&o, 8);
    fz_put8(&o, 1);
    fz_put8(&o, 5);                                     /* remappable MSI, index 1 */
    fz_put8(&o, 0);
    fz_put16(&o, 8);
    fz_put32(&o, 0x30);
    fz_put8(&o, 1);
    fz_put32(&o, 0);
    fz_save_out(dir, "kut-sequence", &o);
}

FZ_SEED_WRITER_MAIN()
