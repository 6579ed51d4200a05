/* SPDX-License-Identifier: MIT */
/*
 * Conventional PCI configuration space and configuration mechanism #1
 * (include/virtmodel/pci.h, docs/pci.md).  The register attributes are the
 * PCI Local Bus specification's (3.0, chapter 6): read-only, read/write and
 * write-1-to-clear bits, kept as one mask per byte.
 */
#include <string.h>

#include "virtmodel/error.h"
#include "virtmodel/pci.h"

/* Command bits a conventional function lets software write. */
#define CMD_WRITABLE (VMDL_PCI_CMD_IO | VMDL_PCI_CMD_MEM | VMDL_PCI_CMD_MASTER | \
                      VMDL_PCI_CMD_PARITY | VMDL_PCI_CMD_SERR |                  \
                      VMDL_PCI_CMD_INTX_DISABLE)
/* Status bits 15:11 and 8 (error reports) are write-1-to-clear. */
#define STATUS_W1C 0xF900u
/* Enable, bus, device, function, register.  Bits 1:0 are kept and ORed
 * into the offset as QEMU's pci_host does (hardware reads them as 0 and
 * takes the byte lanes from the port): kvm-unit-tests selects offset 2
 * that way and reads port 0xCFC. */
#define CONF_ADDR_MASK 0x80FFFFFFu

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)v);
    put16(p + 2, (uint16_t)(v >> 16));
}
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t get32(const uint8_t *p) { return get16(p) | (uint32_t)get16(p + 2) << 16; }

void vmdl_pci_func_init(struct vmdl_pci_func *f, uint16_t vendor, uint16_t device,
                        uint32_t class_code, uint8_t revision)
{
    memset(f, 0, sizeof(*f));
    put16(f->cfg + VMDL_PCI_VENDOR_ID, vendor);
    put16(f->cfg + VMDL_PCI_DEVICE_ID, device);
    f->cfg[VMDL_PCI_REVISION] = revision;
    f->cfg[VMDL_PCI_CLASS_PROG] = (uint8_t)class_code;
    f->cfg[VMDL_PCI_CLASS_PROG + 1] = (uint8_t)(class_code >> 8);
    f->cfg[VMDL_PCI_CLASS_PROG + 2] = (uint8_t)(class_code >> 16);
    put16(f->wmask + VMDL_PCI_COMMAND, CMD_WRITABLE);
    put16(f->w1cmask + VMDL_PCI_STATUS, STATUS_W1C);
    f->wmask[0x0C] = 0xFF;                        /* cache line size */
    f->wmask[0x0D] = 0xFF;                        /* latency timer */
    f->wmask[VMDL_PCI_INTERRUPT_LINE] = 0xFF;
    f->next_cap = 0x40;                           /* after the header */
}

static bool pow2(uint64_t v) { return v && !(v & (v - 1)); }

int vmdl_pci_func_add_bar(struct vmdl_pci_func *f, unsigned bar, uint64_t size,
                          unsigned flags)
{
    bool io = flags & VMDL_PCI_BAR_IO, is64 = flags & VMDL_PCI_BAR_MEM64;
    if (!f || bar >= VMDL_PCI_NR_BARS || (is64 && bar + 1 >= VMDL_PCI_NR_BARS) ||
        (flags & ~(VMDL_PCI_BAR_IO | VMDL_PCI_BAR_MEM64 | VMDL_PCI_BAR_PREFETCH)) ||
        (io && (flags & ~VMDL_PCI_BAR_IO)) || !pow2(size) || size < (io ? 4u : 16u) ||
        size > (io ? 0x10000ull : 0x80000000ull))
        return vmdl_fail(VMDL_EINVAL, "vmdl_pci_func_add_bar: BAR %u size 0x%llx flags "
                         "0x%x", bar, (unsigned long long)size, flags);
    if (f->bar_size[bar] || (is64 && f->bar_size[bar + 1]) ||
        (bar > 0 && f->bar_size[bar - 1] &&
         (f->cfg[VMDL_PCI_BAR0 + 4 * (bar - 1)] & VMDL_PCI_BAR_MEM64)))
        return vmdl_fail(VMDL_EINVAL, "vmdl_pci_func_add_bar: BAR %u taken", bar);
    unsigned off = VMDL_PCI_BAR0 + 4 * bar;
    f->bar_size[bar] = size;
    put32(f->cfg + off, flags);
    /* Sizing: writing all ones reads back ~(size - 1) plus the flags. */
    put32(f->wmask + off, (uint32_t)~(size - 1) & (io ? ~0x3u : ~0xFu));
    if (is64)
        put32(f->wmask + off + 4, 0xFFFFFFFFu);
    return VMDL_OK;
}

int vmdl_pci_func_add_msi(struct vmdl_pci_func *f, bool is64)
{
    unsigned len = is64 ? 14 : 10, at = f ? f->next_cap : 0;
    if (!f || f->msi_cap || at < 0x40 || at + len > VMDL_PCI_CFG_SIZE)
        return vmdl_fail(VMDL_EINVAL, "vmdl_pci_func_add_msi: no room or added already");
    /* Chain it: the last capability's next pointer, or the list head. */
    unsigned prev = VMDL_PCI_CAP_PTR;
    for (unsigned c = f->cfg[VMDL_PCI_CAP_PTR]; c; c = f->cfg[c + 1])
        prev = c + 1;
    f->cfg[prev] = (uint8_t)at;
    f->cfg[VMDL_PCI_STATUS] |= VMDL_PCI_STATUS_CAP_LIST;
    f->cfg[at] = VMDL_PCI_CAP_ID_MSI;
    f->cfg[at + 1] = 0;
    put16(f->cfg + at + VMDL_PCI_MSI_FLAGS, is64 ? VMDL_PCI_MSI_64BIT : 0);
    put16(f->wmask + at + VMDL_PCI_MSI_FLAGS, VMDL_PCI_MSI_ENABLE | VMDL_PCI_MSI_QSIZE);
    put32(f->wmask + at + VMDL_PCI_MSI_ADDR_LO, 0xFFFFFFFCu);   /* dword aligned */
    if (is64)
        put32(f->wmask + at + VMDL_PCI_MSI_ADDR_HI, 0xFFFFFFFFu);
    put16(f->wmask + at + (is64 ? VMDL_PCI_MSI_DATA_64 : VMDL_PCI_MSI_DATA_32), 0xFFFF);
    f->msi_cap = (uint8_t)at;
    f->next_cap = (uint8_t)((at + len + 3) & ~3u);
    return (int)at;
}

void vmdl_pci_func_set_intx(struct vmdl_pci_func *f, uint8_t pin, uint8_t line)
{
    f->cfg[VMDL_PCI_INTERRUPT_PIN] = pin <= 4 ? pin : 0;
    f->cfg[VMDL_PCI_INTERRUPT_LINE] = line;
}

uint32_t vmdl_pci_func_read(const struct vmdl_pci_func *f, unsigned off, unsigned size)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < size && i < 4; i++)
        v |= (uint32_t)(off + i < VMDL_PCI_CFG_SIZE ? f->cfg[off + i] : 0xFF) << (8 * i);
    return v;
}

void vmdl_pci_func_write(struct vmdl_pci_func *f, unsigned off, unsigned size,
                         uint32_t value)
{
    for (unsigned i = 0; i < size && i < 4 && off + i < VMDL_PCI_CFG_SIZE; i++) {
        unsigned o = off + i;
        uint8_t v = (uint8_t)(value >> (8 * i));
        uint8_t n = (uint8_t)((f->cfg[o] & ~f->wmask[o]) | (v & f->wmask[o]));
        f->cfg[o] = (uint8_t)(n & ~(v & f->w1cmask[o]));
    }
}

uint16_t vmdl_pci_command(const struct vmdl_pci_func *f)
{
    return get16(f->cfg + VMDL_PCI_COMMAND);
}

bool vmdl_pci_bus_master(const struct vmdl_pci_func *f)
{
    return vmdl_pci_command(f) & VMDL_PCI_CMD_MASTER;
}

/* QEMU's pci_bar_address() rules: a BAR whose last byte would wrap, or
 * reach 4 GiB for a 32-bit BAR, or that holds 0, decodes nothing (the
 * sizing pattern is one of these). */
uint64_t vmdl_pci_bar_addr(const struct vmdl_pci_func *f, unsigned bar)
{
    if (bar >= VMDL_PCI_NR_BARS || !f->bar_size[bar])
        return VMDL_PCI_BAR_UNMAPPED;
    unsigned off = VMDL_PCI_BAR0 + 4 * bar;
    uint32_t lo = get32(f->cfg + off);
    uint64_t size = f->bar_size[bar], base, limit;
    if (lo & VMDL_PCI_BAR_IO) {
        if (!(vmdl_pci_command(f) & VMDL_PCI_CMD_IO))
            return VMDL_PCI_BAR_UNMAPPED;
        base = lo & ~0x3u;
        limit = 0x10000;
    } else {
        if (!(vmdl_pci_command(f) & VMDL_PCI_CMD_MEM))
            return VMDL_PCI_BAR_UNMAPPED;
        base = lo & ~0xFu;
        limit = 0xFFFFFFFFull;
        if (lo & VMDL_PCI_BAR_MEM64) {
            base |= (uint64_t)get32(f->cfg + off + 4) << 32;
            limit = UINT64_MAX;
        }
    }
    if (!base || base + size - 1 < base || base + size - 1 >= limit)
        return VMDL_PCI_BAR_UNMAPPED;
    return base;
}

void vmdl_pci_bar_set(struct vmdl_pci_func *f, unsigned bar, uint64_t addr)
{
    if (bar >= VMDL_PCI_NR_BARS || !f->bar_size[bar])
        return;
    unsigned off = VMDL_PCI_BAR0 + 4 * bar;
    uint32_t lo = get32(f->cfg + off);
    uint32_t low_bits = lo & ((lo & VMDL_PCI_BAR_IO) ? 0x3u : 0xFu);
    put32(f->cfg + off, ((uint32_t)addr & get32(f->wmask + off)) | low_bits);
    if (lo & VMDL_PCI_BAR_MEM64)
        put32(f->cfg + off + 4, (uint32_t)(addr >> 32));
}

bool vmdl_pci_msi_enabled(const struct vmdl_pci_func *f)
{
    return f->msi_cap &&
           (get16(f->cfg + f->msi_cap + VMDL_PCI_MSI_FLAGS) & VMDL_PCI_MSI_ENABLE);
}

void vmdl_pci_msi_message(const struct vmdl_pci_func *f, uint64_t *addr, uint32_t *data)
{
    *addr = 0;
    *data = 0;
    if (!f->msi_cap)
        return;
    const uint8_t *c = f->cfg + f->msi_cap;
    bool is64 = get16(c + VMDL_PCI_MSI_FLAGS) & VMDL_PCI_MSI_64BIT;
    *addr = get32(c + VMDL_PCI_MSI_ADDR_LO);
    if (is64)
        *addr |= (uint64_t)get32(c + VMDL_PCI_MSI_ADDR_HI) << 32;
    *data = get16(c + (is64 ? VMDL_PCI_MSI_DATA_64 : VMDL_PCI_MSI_DATA_32));
}

bool vmdl_pci_func_intx(struct vmdl_pci_func *f, bool level)
{
    if (level)
        f->cfg[VMDL_PCI_STATUS] |= VMDL_PCI_STATUS_INTX;
    else
        f->cfg[VMDL_PCI_STATUS] &= (uint8_t)~VMDL_PCI_STATUS_INTX;
    return level && !(vmdl_pci_command(f) & VMDL_PCI_CMD_INTX_DISABLE);
}

/* ---- host bridge ---- */

void vmdl_pci_host_init(struct vmdl_pci_host *h)
{
    memset(h, 0, sizeof(*h));
}

int vmdl_pci_host_plug(struct vmdl_pci_host *h, int devfn, struct vmdl_pci_func *f)
{
    if (!h || !f || devfn >= VMDL_PCI_DEVFNS || devfn < -1)
        return vmdl_fail(VMDL_EINVAL, "vmdl_pci_host_plug: bad argument (devfn %d)", devfn);
    if (devfn == -1) {
        for (int d = 0; d < VMDL_PCI_DEVFNS && devfn < 0; d += 8)
            if (!h->fn[d])
                devfn = d;
        if (devfn < 0)
            return vmdl_fail(VMDL_ENOENT, "vmdl_pci_host_plug: bus 0 is full");
    } else if (h->fn[devfn]) {
        return vmdl_fail(VMDL_EINVAL, "vmdl_pci_host_plug: devfn 0x%x taken", devfn);
    }
    h->fn[devfn] = f;
    return devfn;
}

static uint32_t ones(unsigned size)
{
    return size >= 4 ? 0xFFFFFFFFu : (1u << (8 * size)) - 1;
}

/* The function and register an access to the data port reaches, or NULL
 * (disabled, another bus, nothing there: master abort). */
static struct vmdl_pci_func *target(struct vmdl_pci_host *h, uint16_t port, unsigned *reg)
{
    uint32_t a = h->conf_addr;
    if (!(a & VMDL_PCI_CONF1_ENABLE) || ((a >> 16) & 0xFF) != 0)
        return NULL;
    *reg = (a & 0xFF) | (port - VMDL_PCI_PORT_DATA);
    return h->fn[(a >> 8) & 0xFF];
}

uint32_t vmdl_pci_host_io_read(struct vmdl_pci_host *h, uint16_t port, unsigned size)
{
    if (size == 0 || size > 4)
        return 0;
    if (port == VMDL_PCI_PORT_ADDR)
        return size == 4 ? h->conf_addr : ones(size);
    unsigned reg;
    struct vmdl_pci_func *f;
    if (port < VMDL_PCI_PORT_DATA || port > VMDL_PCI_PORT_DATA + 3 ||
        !(f = target(h, port, &reg)))
        return ones(size);   /* master abort */
    return vmdl_pci_func_read(f, reg, size) & ones(size);
}

void vmdl_pci_host_io_write(struct vmdl_pci_host *h, uint16_t port, unsigned size,
                            uint32_t value)
{
    if (port == VMDL_PCI_PORT_ADDR) {
        if (size == 4)       /* narrower accesses to 0xCF8 are other registers */
            h->conf_addr = value & CONF_ADDR_MASK;
        return;
    }
    unsigned reg;
    struct vmdl_pci_func *f;
    if (size == 0 || size > 4 || port < VMDL_PCI_PORT_DATA ||
        port > VMDL_PCI_PORT_DATA + 3 || !(f = target(h, port, &reg)))
        return;
    vmdl_pci_func_write(f, reg, size, value);
    if (f->written)
        f->written(f->owner, reg, size);
}
