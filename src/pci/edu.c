/* SPDX-License-Identifier: MIT */
/*
 * QEMU's educational PCI device (include/virtmodel/pci_edu.h): the register
 * semantics of QEMU's hw/misc/edu.c and docs/specs/edu.rst, with the
 * factorial and the DMA done at once (docs/pci.md says why).
 */
#include <string.h>

#include "virtmodel/error.h"
#include "virtmodel/pci_edu.h"

static void set_config(struct vmdl_edu *e)
{
    struct vmdl_pci_func *f = &e->fn;
    vmdl_pci_func_init(f, VMDL_EDU_VENDOR, VMDL_EDU_DEVICE, 0x00FF00, 0x10);
    vmdl_pci_func_add_bar(f, 0, VMDL_EDU_BAR_SIZE, 0);
    vmdl_pci_func_add_msi(f, true);
    vmdl_pci_func_set_intx(f, 1, 0);
    f->written = vmdl_edu_config_written;
    f->owner = e;
}

int vmdl_edu_init(struct vmdl_edu *e, const struct vmdl_edu_ops *ops)
{
    if (!e || !ops || !ops->dma || !ops->intx || !ops->msi)
        return vmdl_fail(VMDL_EINVAL, "vmdl_edu_init: NULL argument or callback");
    memset(e, 0, sizeof(*e));
    e->ops = *ops;
    set_config(e);
    return VMDL_OK;
}

/* INTA follows the device's request unless the command register disables
 * it; the status register shows the request either way. */
static void update_intx(struct vmdl_edu *e)
{
    bool out = vmdl_pci_func_intx(&e->fn, e->intx_req);
    if (out != e->intx) {
        e->intx = out;
        e->ops.intx(e->ops.opaque, out);
    }
}

void vmdl_edu_reset(struct vmdl_edu *e)
{
    struct vmdl_edu_ops ops = e->ops;
    bool was = e->intx;
    memset(e, 0, sizeof(*e));
    e->ops = ops;
    set_config(e);
    if (was)
        e->ops.intx(e->ops.opaque, false);
}

void vmdl_edu_config_written(void *edu, unsigned off, unsigned size)
{
    (void)off;
    (void)size;
    struct vmdl_edu *e = edu;
    if (vmdl_pci_msi_enabled(&e->fn))
        e->intx_req = false;
    update_intx(e);
}

static void raise_irq(struct vmdl_edu *e, uint32_t bits)
{
    e->irq_status |= bits;
    if (!e->irq_status)
        return;
    if (vmdl_pci_msi_enabled(&e->fn)) {
        /* Every raise sends the message (QEMU's msi_notify), and only a
         * bus master may write it. */
        if (vmdl_pci_bus_master(&e->fn))
            e->ops.msi(e->ops.opaque);
    } else {
        e->intx_req = true;
        update_intx(e);
    }
}

static void lower_irq(struct vmdl_edu *e, uint32_t bits)
{
    e->irq_status &= ~bits;
    if (!e->irq_status && !vmdl_pci_msi_enabled(&e->fn)) {
        e->intx_req = false;
        update_intx(e);
    }
}

static uint32_t factorial(uint32_t n)
{
    uint32_t r = 1;
    while (n > 0)
        r *= n--;      /* modulo 2^32, as QEMU's */
    return r;
}

/* Is [start, start + len) inside the device's buffer window? */
static bool in_buffer(uint64_t start, uint64_t len)
{
    return start >= VMDL_EDU_DMA_START && len <= VMDL_EDU_DMA_SIZE &&
           start - VMDL_EDU_DMA_START <= VMDL_EDU_DMA_SIZE - len;
}

static void run_dma(struct vmdl_edu *e)
{
    bool to_ram = e->dma_cmd & VMDL_EDU_DMA_TO_RAM;
    uint64_t dev = to_ram ? e->dma_src : e->dma_dst;
    uint64_t bus = (to_ram ? e->dma_dst : e->dma_src) & VMDL_EDU_DMA_MASK;
    uint64_t len = e->dma_cnt;
    if (!in_buffer(dev, len) || !vmdl_pci_bus_master(&e->fn)) {
        /* QEMU copies past its buffer here; no bus mastering: no access. */
        e->dma_refused++;
    } else if (len) {
        uint8_t *p = e->buf + (dev - VMDL_EDU_DMA_START);
        if (e->ops.dma(e->ops.opaque, bus, p, (size_t)len, to_ram))
            e->dma_faults++;
        else
            e->dma_done++;
    }
    e->dma_cmd &= ~(uint64_t)VMDL_EDU_DMA_RUN;
    if (e->dma_cmd & VMDL_EDU_DMA_IRQ)
        raise_irq(e, VMDL_EDU_IRQ_DMA);
}

static bool size_ok(uint64_t off, unsigned size)
{
    return off < 0x80 ? size == 4 : (size == 4 || size == 8);
}

uint64_t vmdl_edu_mmio_read(struct vmdl_edu *e, uint64_t off, unsigned size)
{
    uint64_t v = ~0ull;
    if (!size_ok(off, size))
        return v;
    switch (off) {
    case VMDL_EDU_REG_ID: v = VMDL_EDU_ID; break;
    case VMDL_EDU_REG_ALIVE: v = e->alive; break;
    case VMDL_EDU_REG_FACT: v = e->fact; break;
    case VMDL_EDU_REG_STATUS: v = e->status; break;
    case VMDL_EDU_REG_IRQ_STATUS: v = e->irq_status; break;
    case VMDL_EDU_REG_DMA_SRC: v = e->dma_src; break;
    case VMDL_EDU_REG_DMA_DST: v = e->dma_dst; break;
    case VMDL_EDU_REG_DMA_CNT: v = e->dma_cnt; break;
    case VMDL_EDU_REG_DMA_CMD: v = e->dma_cmd; break;
    default: return v;
    }
    return size == 4 ? (uint32_t)v : v;
}

/* The DMA registers hold while a transfer runs. */
static void dma_reg(struct vmdl_edu *e, uint64_t *reg, uint64_t v)
{
    if (!(e->dma_cmd & VMDL_EDU_DMA_RUN))
        *reg = v;
}

void vmdl_edu_mmio_write(struct vmdl_edu *e, uint64_t off, unsigned size, uint64_t value)
{
    if (!size_ok(off, size))
        return;
    if (size == 4)
        value = (uint32_t)value;
    switch (off) {
    case VMDL_EDU_REG_ALIVE: e->alive = ~(uint32_t)value; break;
    case VMDL_EDU_REG_FACT:
        if (e->status & VMDL_EDU_STATUS_COMPUTING)
            break;
        e->fact = factorial((uint32_t)value);
        if (e->status & VMDL_EDU_STATUS_IRQFACT)
            raise_irq(e, VMDL_EDU_IRQ_FACT);
        break;
    case VMDL_EDU_REG_STATUS:
        e->status = (e->status & ~VMDL_EDU_STATUS_IRQFACT) |
                    ((uint32_t)value & VMDL_EDU_STATUS_IRQFACT);
        break;
    case VMDL_EDU_REG_IRQ_RAISE: raise_irq(e, (uint32_t)value); break;
    case VMDL_EDU_REG_IRQ_ACK: lower_irq(e, (uint32_t)value); break;
    case VMDL_EDU_REG_DMA_SRC: dma_reg(e, &e->dma_src, value); break;
    case VMDL_EDU_REG_DMA_DST: dma_reg(e, &e->dma_dst, value); break;
    case VMDL_EDU_REG_DMA_CNT: dma_reg(e, &e->dma_cnt, value); break;
    case VMDL_EDU_REG_DMA_CMD:
        if (!(value & VMDL_EDU_DMA_RUN) || (e->dma_cmd & VMDL_EDU_DMA_RUN))
            break;
        e->dma_cmd = value;
        run_dma(e);
        break;
    default: break;
    }
}
