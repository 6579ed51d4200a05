/* SPDX-License-Identifier: MIT */
/*
 * PCI: configuration-space attributes (read-only, read/write, RW1C), BAR
 * sizing and decoding, the MSI capability, configuration mechanism #1 with
 * master aborts, compatibility-format MSI decoding, and QEMU's edu device
 * (registers, INTx and MSI, DMA through the bus-master callback).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "virtmodel/error.h"
#include "virtmodel/pci.h"
#include "virtmodel/pci_edu.h"

#define CF8 VMDL_PCI_PORT_ADDR
#define CFC VMDL_PCI_PORT_DATA

/* ---- configuration space ---- */

static void test_func_reset_values(void **state)
{
    (void)state;
    struct vmdl_pci_func f;
    vmdl_pci_func_init(&f, 0x8086, 0x29C0, 0x060000, 0x02);
    assert_int_equal(vmdl_pci_func_read(&f, 0, 4), 0x29C08086u);
    assert_int_equal(vmdl_pci_func_read(&f, VMDL_PCI_REVISION, 4), 0x06000002u);
    assert_int_equal(vmdl_pci_func_read(&f, VMDL_PCI_COMMAND, 4), 0);   /* cmd + status */
    assert_int_equal(vmdl_pci_func_read(&f, VMDL_PCI_HEADER_TYPE, 1), 0);
    assert_int_equal(vmdl_pci_func_read(&f, VMDL_PCI_CAP_PTR, 1), 0);
    /* beyond 256 bytes: all ones */
    assert_int_equal(vmdl_pci_func_read(&f, 0xFE, 4), 0xFFFF0000u);
}

static void test_func_read_only_and_writable(void **state)
{
    (void)state;
    struct vmdl_pci_func f;
    vmdl_pci_func_init(&f, 0x1234, 0x5678, 0xFF00, 1);
    vmdl_pci_func_write(&f, 0, 4, 0xFFFFFFFF);            /* IDs are read-only */
    vmdl_pci_func_write(&f, VMDL_PCI_REVISION, 4, 0);
    assert_int_equal(vmdl_pci_func_read(&f, 0, 4), 0x56781234u);
    assert_int_equal(vmdl_pci_func_read(&f, VMDL_PCI_REVISION, 4), 0x00FF0001u);
    /* command: IO, MEM, MASTER, PARITY, SERR, INTX_DISABLE only */
    vmdl_pci_func_write(&f, VMDL_PCI_COMMAND, 2, 0xFFFF);
    assert_int_equal(vmdl_pci_command(&f), 0x0547);
    vmdl_pci_func_write(&f, VMDL_PCI_INTERRUPT_LINE, 1, 0x2A);
    assert_int_equal(vmdl_pci_func_read(&f, VMDL_PCI_INTERRUPT_LINE, 1), 0x2A);
    vmdl_pci_func_write(&f, 0x3D, 1, 3);                  /* pin: read-only */
    assert_int_equal(vmdl_pci_func_read(&f, 0x3D, 1), 0);
    vmdl_pci_func_write(&f, 0x300, 4, 0);                 /* out of range: nothing */
}

static void test_status_write_one_to_clear(void **state)
{
    (void)state;
    struct vmdl_pci_func f;
    vmdl_pci_func_init(&f, 1, 2, 0, 0);
    f.cfg[VMDL_PCI_STATUS + 1] = 0xF9;          /* error bits the device set */
    f.cfg[VMDL_PCI_STATUS] = VMDL_PCI_STATUS_INTX;
    vmdl_pci_func_write(&f, VMDL_PCI_STATUS, 2, 0);
    assert_int_equal(vmdl_pci_func_read(&f, VMDL_PCI_STATUS, 2), 0xF908);
    vmdl_pci_func_write(&f, VMDL_PCI_STATUS, 2, 0x8000 | VMDL_PCI_STATUS_INTX);
    assert_int_equal(vmdl_pci_func_read(&f, VMDL_PCI_STATUS, 2), 0x7908);  /* INTx RO */
    vmdl_pci_func_write(&f, VMDL_PCI_STATUS, 2, 0xFFFF);
    assert_int_equal(vmdl_pci_func_read(&f, VMDL_PCI_STATUS, 2), 0x0008);
}

static void test_bar_sizing(void **state)
{
    (void)state;
    struct vmdl_pci_func f;
    vmdl_pci_func_init(&f, 1, 2, 0, 0);
    assert_int_equal(vmdl_pci_func_add_bar(&f, 0, 0x100000, 0), VMDL_OK);
    assert_int_equal(vmdl_pci_func_add_bar(&f, 1, 0x20, VMDL_PCI_BAR_IO), VMDL_OK);
    assert_int_equal(vmdl_pci_func_add_bar(&f, 2, 0x4000,
                                           VMDL_PCI_BAR_MEM64 | VMDL_PCI_BAR_PREFETCH), VMDL_OK);
    vmdl_pci_func_write(&f, 0x10, 4, 0xFFFFFFFF);
    assert_int_equal(vmdl_pci_func_read(&f, 0x10, 4), 0xFFF00000u);
    vmdl_pci_func_write(&f, 0x14, 4, 0xFFFFFFFF);
    assert_int_equal(vmdl_pci_func_read(&f, 0x14, 4), 0xFFFFFFE1u);
    vmdl_pci_func_write(&f, 0x18, 4, 0xFFFFFFFF);
    vmdl_pci_func_write(&f, 0x1C, 4, 0xFFFFFFFF);
    assert_int_equal(vmdl_pci_func_read(&f, 0x18, 4), 0xFFFFC00Cu);
    assert_int_equal(vmdl_pci_func_read(&f, 0x1C, 4), 0xFFFFFFFFu);
    /* no BAR at 4 and 5 (after the 64-bit one): reads 0, writes nothing */
    vmdl_pci_func_write(&f, 0x24, 4, 0xFFFFFFFF);
    assert_int_equal(vmdl_pci_func_read(&f, 0x24, 4), 0);
    /* an address keeps only the aligned bits */
    vmdl_pci_func_write(&f, 0x10, 4, 0xFEB12345);
    assert_int_equal(vmdl_pci_func_read(&f, 0x10, 4), 0xFEB00000u);
}

static void test_bar_decode(void **state)
{
    (void)state;
    struct vmdl_pci_func f;
    vmdl_pci_func_init(&f, 1, 2, 0, 0);
    vmdl_pci_func_add_bar(&f, 0, 0x100000, 0);
    vmdl_pci_func_add_bar(&f, 2, 0x1000, VMDL_PCI_BAR_MEM64);
    vmdl_pci_bar_set(&f, 0, 0xFEB00000);
    vmdl_pci_bar_set(&f, 2, 0x812340000ull);
    assert_true(vmdl_pci_bar_addr(&f, 0) == VMDL_PCI_BAR_UNMAPPED);   /* MEM off */
    vmdl_pci_func_write(&f, VMDL_PCI_COMMAND, 2, VMDL_PCI_CMD_MEM);
    assert_true(vmdl_pci_bar_addr(&f, 0) == 0xFEB00000ull);
    assert_true(vmdl_pci_bar_addr(&f, 2) == 0x812340000ull);
    vmdl_pci_func_write(&f, 0x10, 4, 0xFFFFFFFF);                     /* sizing */
    assert_true(vmdl_pci_bar_addr(&f, 0) == VMDL_PCI_BAR_UNMAPPED);
    vmdl_pci_func_write(&f, 0x10, 4, 0);
    assert_true(vmdl_pci_bar_addr(&f, 0) == VMDL_PCI_BAR_UNMAPPED);
    assert_true(vmdl_pci_bar_addr(&f, 1) == VMDL_PCI_BAR_UNMAPPED);   /* none there */
    assert_true(vmdl_pci_bar_addr(&f, 9) == VMDL_PCI_BAR_UNMAPPED);
}

static void test_bar_bad_arguments(void **state)
{
    (void)state;
    struct vmdl_pci_func f;
    vmdl_pci_func_init(&f, 1, 2, 0, 0);
    assert_int_equal(vmdl_pci_func_add_bar(&f, 6, 0x1000, 0), VMDL_EINVAL);
    assert_int_equal(vmdl_pci_func_add_bar(&f, 0, 0x1800, 0), VMDL_EINVAL);  /* not 2^n */
    assert_int_equal(vmdl_pci_func_add_bar(&f, 0, 8, 0), VMDL_EINVAL);      /* < 16 */
    assert_int_equal(vmdl_pci_func_add_bar(&f, 0, 0x100000000ull, 0), VMDL_EINVAL);
    assert_int_equal(vmdl_pci_func_add_bar(&f, 5, 0x1000, VMDL_PCI_BAR_MEM64), VMDL_EINVAL);
    assert_int_equal(vmdl_pci_func_add_bar(&f, 0, 0x10,
                                           VMDL_PCI_BAR_IO | VMDL_PCI_BAR_PREFETCH), VMDL_EINVAL);
    assert_int_equal(vmdl_pci_func_add_bar(&f, 0, 0x1000, 0x40), VMDL_EINVAL);
    assert_int_equal(vmdl_pci_func_add_bar(&f, 0, 0x1000, VMDL_PCI_BAR_MEM64), VMDL_OK);
    assert_int_equal(vmdl_pci_func_add_bar(&f, 1, 0x1000, 0), VMDL_EINVAL);   /* upper half */
    assert_int_equal(vmdl_pci_func_add_bar(&f, 0, 0x1000, 0), VMDL_EINVAL);   /* taken */
}

static void test_msi_capability(void **state)
{
    (void)state;
    struct vmdl_pci_func f;
    vmdl_pci_func_init(&f, 1, 2, 0, 0);
    assert_int_equal(vmdl_pci_func_add_msi(&f, true), 0x40);
    assert_int_equal(vmdl_pci_func_add_msi(&f, true), VMDL_EINVAL);   /* once */
    assert_true(vmdl_pci_func_read(&f, VMDL_PCI_STATUS, 2) & VMDL_PCI_STATUS_CAP_LIST);
    assert_int_equal(vmdl_pci_func_read(&f, VMDL_PCI_CAP_PTR, 1), 0x40);
    assert_int_equal(vmdl_pci_func_read(&f, 0x40, 4), 0x00800005u);   /* 64-bit, next 0 */
    /* flags: 64-bit and the capable count are read-only */
    vmdl_pci_func_write(&f, 0x42, 2, 0xFFFF);
    assert_int_equal(vmdl_pci_func_read(&f, 0x42, 2), 0x00F1);
    assert_true(vmdl_pci_msi_enabled(&f));
    vmdl_pci_func_write(&f, 0x44, 4, 0xFEE0105F);       /* bits 1:0 read-only */
    vmdl_pci_func_write(&f, 0x48, 4, 0x1);
    vmdl_pci_func_write(&f, 0x4C, 4, 0xABCD0041);       /* 16-bit data */
    uint64_t addr;
    uint32_t data;
    vmdl_pci_msi_message(&f, &addr, &data);
    assert_true(addr == 0x1FEE0105Cull);
    assert_int_equal(data, 0x41);
    vmdl_pci_func_write(&f, 0x42, 2, 0);
    assert_false(vmdl_pci_msi_enabled(&f));
}

static void test_msi_32bit_layout(void **state)
{
    (void)state;
    struct vmdl_pci_func f;
    vmdl_pci_func_init(&f, 1, 2, 0, 0);
    assert_int_equal(vmdl_pci_func_add_msi(&f, false), 0x40);
    vmdl_pci_func_write(&f, 0x44, 4, 0xFEE00000);
    vmdl_pci_func_write(&f, 0x48, 2, 0x30);
    uint64_t addr;
    uint32_t data;
    vmdl_pci_msi_message(&f, &addr, &data);
    assert_true(addr == 0xFEE00000ull);
    assert_int_equal(data, 0x30);
    assert_int_equal(f.next_cap, 0x4C);
}

/* ---- host bridge ---- */

struct host_fx {
    struct vmdl_pci_host h;
    struct vmdl_pci_func bridge, dev;
};

static void host_setup(struct host_fx *x)
{
    vmdl_pci_host_init(&x->h);
    vmdl_pci_func_init(&x->bridge, 0x8086, 0x1237, 0x060000, 2);
    vmdl_pci_func_init(&x->dev, 0x1234, 0x11E8, 0xFF00, 0x10);
    assert_int_equal(vmdl_pci_host_plug(&x->h, 0, &x->bridge), 0);
    assert_int_equal(vmdl_pci_host_plug(&x->h, -1, &x->dev), 8);   /* first free slot */
}

static uint32_t conf_read(struct vmdl_pci_host *h, uint32_t addr, uint16_t port, unsigned size)
{
    vmdl_pci_host_io_write(h, CF8, 4, addr);
    return vmdl_pci_host_io_read(h, port, size);
}

static void test_host_mechanism1(void **state)
{
    (void)state;
    struct host_fx x;
    host_setup(&x);
    assert_int_equal(conf_read(&x.h, 0x80000000, CFC, 4), 0x12378086u);
    assert_int_equal(conf_read(&x.h, 0x80000800, CFC, 4), 0x11E81234u);
    assert_int_equal(conf_read(&x.h, 0x80000800, CFC + 2, 2), 0x11E8);    /* byte lanes */
    assert_int_equal(conf_read(&x.h, 0x80000800, CFC + 3, 1), 0x11);
    /* offset bits 1:0 of CONFIG_ADDRESS are ORed in, as QEMU */
    assert_int_equal(conf_read(&x.h, 0x80000802, CFC, 2), 0x11E8);
    /* the address register reads back (reserved 30:24 as 0) */
    vmdl_pci_host_io_write(&x.h, CF8, 4, 0xFF000804);
    assert_int_equal(vmdl_pci_host_io_read(&x.h, CF8, 4), 0x80000804u);
}

static void test_host_master_abort(void **state)
{
    (void)state;
    struct host_fx x;
    host_setup(&x);
    assert_int_equal(conf_read(&x.h, 0x00000800, CFC, 4), 0xFFFFFFFFu);   /* disabled */
    assert_int_equal(conf_read(&x.h, 0x80010000, CFC, 4), 0xFFFFFFFFu);   /* bus 1 */
    assert_int_equal(conf_read(&x.h, 0x80001000, CFC, 2), 0xFFFF);        /* empty slot */
    assert_int_equal(conf_read(&x.h, 0x80000900, CFC, 1), 0xFF);          /* function 1 */
    /* writes there go nowhere */
    vmdl_pci_host_io_write(&x.h, CF8, 4, 0x80010804);
    vmdl_pci_host_io_write(&x.h, CFC, 2, 0x7);
    assert_int_equal(vmdl_pci_command(&x.dev), 0);
    /* narrow accesses to 0xCF8 do not change the address register */
    vmdl_pci_host_io_write(&x.h, CF8, 4, 0x80000800);
    vmdl_pci_host_io_write(&x.h, CF8, 1, 0);
    vmdl_pci_host_io_write(&x.h, CF8, 2, 0);
    assert_int_equal(vmdl_pci_host_io_read(&x.h, CF8, 4), 0x80000800u);
    assert_int_equal(vmdl_pci_host_io_read(&x.h, CF8, 2), 0xFFFF);
    assert_int_equal(vmdl_pci_host_io_read(&x.h, CFC, 0), 0);
    assert_int_equal(vmdl_pci_host_io_read(&x.h, 0xCF9, 1), 0xFF);
}

static int writes;
static void count_writes(void *owner, unsigned off, unsigned size)
{
    (void)owner;
    (void)off;
    (void)size;
    writes++;
}

static void test_host_write_hook(void **state)
{
    (void)state;
    struct host_fx x;
    host_setup(&x);
    x.dev.written = count_writes;
    writes = 0;
    vmdl_pci_host_io_write(&x.h, CF8, 4, 0x80000804);
    vmdl_pci_host_io_write(&x.h, CFC, 2, VMDL_PCI_CMD_MEM | VMDL_PCI_CMD_MASTER);
    assert_int_equal(writes, 1);
    assert_int_equal(vmdl_pci_command(&x.dev), 6);
    assert_true(vmdl_pci_bus_master(&x.dev));
}

static void test_host_plug_rules(void **state)
{
    (void)state;
    struct vmdl_pci_host h;
    struct vmdl_pci_func f[33];
    vmdl_pci_host_init(&h);
    for (unsigned i = 0; i < 32; i++)
        assert_int_equal(vmdl_pci_host_plug(&h, -1, &f[i]), (int)(8 * i));
    assert_int_equal(vmdl_pci_host_plug(&h, -1, &f[32]), VMDL_ENOENT);
    assert_int_equal(vmdl_pci_host_plug(&h, 8, &f[32]), VMDL_EINVAL);
    assert_int_equal(vmdl_pci_host_plug(&h, 256, &f[32]), VMDL_EINVAL);
    assert_int_equal(vmdl_pci_host_plug(&h, 1, NULL), VMDL_EINVAL);
    assert_int_equal(vmdl_pci_host_plug(&h, 1, &f[32]), 1);     /* a function 1 */
}

static void test_msi_decode(void **state)
{
    (void)state;
    struct vmdl_msi_msg m;
    assert_true(vmdl_msi_decode(0xFEE0300C, 0x80EE | (4u << 8) | 0x8000, &m));
    assert_int_equal(m.dest, 3);
    assert_true(m.logical);
    assert_true(m.redir_hint);
    assert_int_equal(m.vector, 0xEE);
    assert_int_equal(m.delivery_mode, 4);
    assert_true(m.level);
    assert_false(vmdl_msi_decode(0xFED00000, 0, &m));
    assert_false(vmdl_msi_decode(0x1FEE00000ull, 0, &m));
}

/* ---- edu ---- */

struct edu_fx {
    struct vmdl_edu e;
    uint8_t ram[0x4000];
    int intx_level, intx_calls, msis, dma_calls;
    bool dma_fail;
    uint64_t last_addr;
};

static int fx_dma(void *o, uint64_t addr, void *buf, size_t len, bool write)
{
    struct edu_fx *x = o;
    x->dma_calls++;
    x->last_addr = addr;
    if (x->dma_fail || addr + len > sizeof(x->ram))
        return -1;
    if (write)
        memcpy(x->ram + addr, buf, len);
    else
        memcpy(buf, x->ram + addr, len);
    return 0;
}

static void fx_intx(void *o, bool level)
{
    struct edu_fx *x = o;
    x->intx_level = level;
    x->intx_calls++;
}

static void fx_msi(void *o)
{
    ((struct edu_fx *)o)->msis++;
}

static int edu_setup(void **state)
{
    struct edu_fx *x = calloc(1, sizeof(*x));
    struct vmdl_edu_ops ops = {fx_dma, fx_intx, fx_msi, x};
    if (!x || vmdl_edu_init(&x->e, &ops))
        return -1;
    *state = x;
    return 0;
}

static int edu_teardown(void **state)
{
    free(*state);
    return 0;
}

/* A guest config write, as the host bridge makes it. */
static void cfg_write(struct edu_fx *x, unsigned off, unsigned size, uint32_t v)
{
    vmdl_pci_func_write(&x->e.fn, off, size, v);
    x->e.fn.written(x->e.fn.owner, off, size);
}

static void test_edu_config(void **state)
{
    struct edu_fx *x = *state;
    struct vmdl_pci_func *f = &x->e.fn;
    assert_int_equal(vmdl_pci_func_read(f, 0, 4), 0x11E81234u);
    assert_int_equal(vmdl_pci_func_read(f, VMDL_PCI_REVISION, 4), 0x00FF0010u);
    assert_int_equal(vmdl_pci_func_read(f, VMDL_PCI_INTERRUPT_PIN, 1), 1);
    assert_int_equal(f->msi_cap, 0x40);
    vmdl_pci_func_write(f, 0x10, 4, 0xFFFFFFFF);
    assert_int_equal(vmdl_pci_func_read(f, 0x10, 4), 0xFFF00000u);   /* 1 MiB mem32 */
    struct vmdl_edu_ops bad = {fx_dma, NULL, fx_msi, x};
    struct vmdl_edu e2;
    assert_int_equal(vmdl_edu_init(&e2, &bad), VMDL_EINVAL);
}

static void test_edu_registers(void **state)
{
    struct edu_fx *x = *state;
    struct vmdl_edu *e = &x->e;
    assert_true(vmdl_edu_mmio_read(e, 0, 4) == VMDL_EDU_ID);
    vmdl_edu_mmio_write(e, 0, 4, 0);                     /* ID: read-only */
    assert_true(vmdl_edu_mmio_read(e, 0, 4) == VMDL_EDU_ID);
    vmdl_edu_mmio_write(e, 4, 4, 0x12345678);
    assert_true(vmdl_edu_mmio_read(e, 4, 4) == 0xEDCBA987u);
    vmdl_edu_mmio_write(e, 8, 4, 5);
    assert_true(vmdl_edu_mmio_read(e, 8, 4) == 120);
    vmdl_edu_mmio_write(e, 8, 4, 13);                    /* 13! modulo 2^32 */
    assert_true(vmdl_edu_mmio_read(e, 8, 4) == 1932053504u);
    assert_true((vmdl_edu_mmio_read(e, 0x20, 4) & VMDL_EDU_STATUS_COMPUTING) == 0);
    vmdl_edu_mmio_write(e, 0x20, 4, 0xFFFFFFFF);         /* only IRQFACT is writable */
    assert_true(vmdl_edu_mmio_read(e, 0x20, 4) == VMDL_EDU_STATUS_IRQFACT);
    /* sizes: 32-bit below 0x80, 32/64 from 0x80; others all ones / ignored */
    assert_true(vmdl_edu_mmio_read(e, 0, 2) == ~0ull);
    assert_true(vmdl_edu_mmio_read(e, 0, 8) == ~0ull);
    assert_true(vmdl_edu_mmio_read(e, 0x10, 4) == ~0ull);   /* no register */
    vmdl_edu_mmio_write(e, 4, 2, 0);
    assert_true(vmdl_edu_mmio_read(e, 4, 4) == 0xEDCBA987u);
    vmdl_edu_mmio_write(e, 0x80, 8, 0x1122334455667788ull);
    assert_true(vmdl_edu_mmio_read(e, 0x80, 8) == 0x1122334455667788ull);
    assert_true(vmdl_edu_mmio_read(e, 0x80, 4) == 0x55667788u);
    vmdl_edu_mmio_write(e, 0x80, 4, 0xAABBCCDD);         /* 32-bit write: zero-extends */
    assert_true(vmdl_edu_mmio_read(e, 0x80, 8) == 0xAABBCCDDull);
    vmdl_edu_mmio_write(e, 0x80, 2, 0);
    assert_true(vmdl_edu_mmio_read(e, 0x80, 2) == ~0ull);
}

static void test_edu_intx(void **state)
{
    struct edu_fx *x = *state;
    struct vmdl_edu *e = &x->e;
    vmdl_edu_mmio_write(e, 0x60, 4, 0x3);
    assert_int_equal(x->intx_level, 1);
    assert_true(vmdl_pci_func_read(&e->fn, VMDL_PCI_STATUS, 1) & VMDL_PCI_STATUS_INTX);
    assert_true(vmdl_edu_mmio_read(e, 0x24, 4) == 3);
    vmdl_edu_mmio_write(e, 0x64, 4, 0x1);                /* one bit left: still high */
    assert_int_equal(x->intx_level, 1);
    vmdl_edu_mmio_write(e, 0x64, 4, 0x2);
    assert_int_equal(x->intx_level, 0);
    assert_int_equal(x->intx_calls, 2);
    /* INTx disable masks the pin but the status bit still shows it */
    cfg_write(x, VMDL_PCI_COMMAND, 2, VMDL_PCI_CMD_INTX_DISABLE);
    vmdl_edu_mmio_write(e, 0x60, 4, 0x1);
    assert_int_equal(x->intx_level, 0);
    assert_true(vmdl_pci_func_read(&e->fn, VMDL_PCI_STATUS, 1) & VMDL_PCI_STATUS_INTX);
    cfg_write(x, VMDL_PCI_COMMAND, 2, 0);
    assert_int_equal(x->intx_level, 1);
    /* the factorial raises 0x1 when asked */
    vmdl_edu_mmio_write(e, 0x64, 4, 0xFFFFFFFF);
    vmdl_edu_mmio_write(e, 0x20, 4, VMDL_EDU_STATUS_IRQFACT);
    vmdl_edu_mmio_write(e, 8, 4, 3);
    assert_true(vmdl_edu_mmio_read(e, 0x24, 4) == VMDL_EDU_IRQ_FACT);
    assert_int_equal(x->intx_level, 1);
}

static void test_edu_msi(void **state)
{
    struct edu_fx *x = *state;
    struct vmdl_edu *e = &x->e;
    vmdl_edu_mmio_write(e, 0x60, 4, 0x1);
    assert_int_equal(x->intx_level, 1);
    /* enabling MSI withdraws INTA (PCI 3.0 6.8.3.3) */
    cfg_write(x, 0x42, 2, VMDL_PCI_MSI_ENABLE);
    assert_int_equal(x->intx_level, 0);
    /* no bus mastering: the message cannot be written */
    vmdl_edu_mmio_write(e, 0x60, 4, 0x1);
    assert_int_equal(x->msis, 0);
    cfg_write(x, VMDL_PCI_COMMAND, 2, VMDL_PCI_CMD_MASTER);
    vmdl_edu_mmio_write(e, 0x60, 4, 0x1);
    vmdl_edu_mmio_write(e, 0x60, 4, 0x0);                /* every raise sends */
    assert_int_equal(x->msis, 2);
    vmdl_edu_mmio_write(e, 0x64, 4, 0x1);
    vmdl_edu_mmio_write(e, 0x60, 4, 0x0);                /* status 0: nothing */
    assert_int_equal(x->msis, 2);
    assert_int_equal(x->intx_level, 0);
}

static void dma(struct vmdl_edu *e, uint64_t src, uint64_t dst, uint64_t cnt, uint32_t cmd)
{
    vmdl_edu_mmio_write(e, 0x80, 8, src);
    vmdl_edu_mmio_write(e, 0x88, 8, dst);
    vmdl_edu_mmio_write(e, 0x90, 8, cnt);
    vmdl_edu_mmio_write(e, 0x98, 4, cmd);
}

static void test_edu_dma(void **state)
{
    struct edu_fx *x = *state;
    struct vmdl_edu *e = &x->e;
    cfg_write(x, VMDL_PCI_COMMAND, 2, VMDL_PCI_CMD_MASTER);
    memcpy(x->ram + 0x100, "virtmodel", 9);
    dma(e, 0x100, VMDL_EDU_DMA_START + 8, 9, VMDL_EDU_DMA_RUN);          /* RAM -> buffer */
    assert_memory_equal(e->buf + 8, "virtmodel", 9);
    assert_true((vmdl_edu_mmio_read(e, 0x98, 4) & VMDL_EDU_DMA_RUN) == 0);
    dma(e, VMDL_EDU_DMA_START + 8, 0x2000, 9, VMDL_EDU_DMA_RUN | VMDL_EDU_DMA_TO_RAM |
                                               VMDL_EDU_DMA_IRQ);
    assert_memory_equal(x->ram + 0x2000, "virtmodel", 9);
    assert_true(vmdl_edu_mmio_read(e, 0x24, 4) == VMDL_EDU_IRQ_DMA);
    assert_int_equal(x->intx_level, 1);
    /* device addresses are clamped to the 28-bit DMA mask, as QEMU's */
    dma(e, 0x10000100ull, VMDL_EDU_DMA_START, 4, VMDL_EDU_DMA_RUN);
    assert_true(x->last_addr == 0x100);
    /* a command without the start bit does nothing */
    int calls = x->dma_calls;
    vmdl_edu_mmio_write(e, 0x98, 4, VMDL_EDU_DMA_TO_RAM);
    assert_int_equal(x->dma_calls, calls);
    assert_true(e->dma_done == 3);
}

static void test_edu_dma_hostile(void **state)
{
    struct edu_fx *x = *state;
    struct vmdl_edu *e = &x->e;
    dma(e, 0x100, VMDL_EDU_DMA_START, 4, VMDL_EDU_DMA_RUN);       /* not a bus master */
    assert_int_equal(x->dma_calls, 0);
    cfg_write(x, VMDL_PCI_COMMAND, 2, VMDL_PCI_CMD_MASTER);
    /* outside the 4 KiB buffer window (QEMU copies past its buffer) */
    dma(e, 0x100, VMDL_EDU_DMA_START + 4095, 2, VMDL_EDU_DMA_RUN);
    dma(e, 0x100, VMDL_EDU_DMA_START - 1, 1, VMDL_EDU_DMA_RUN);
    dma(e, 0x100, VMDL_EDU_DMA_START, 4097, VMDL_EDU_DMA_RUN);
    dma(e, VMDL_EDU_DMA_START + 8, 0, UINT64_MAX, VMDL_EDU_DMA_RUN | VMDL_EDU_DMA_TO_RAM);
    dma(e, 0x100, UINT64_MAX, 2, VMDL_EDU_DMA_RUN);
    assert_int_equal(x->dma_calls, 0);
    assert_true(e->dma_refused == 6);
    /* a failing bus access is counted, the command still completes */
    x->dma_fail = true;
    dma(e, 0x100, VMDL_EDU_DMA_START, 4, VMDL_EDU_DMA_RUN);
    assert_true(e->dma_faults == 1);
    assert_true((vmdl_edu_mmio_read(e, 0x98, 4) & VMDL_EDU_DMA_RUN) == 0);
    /* the exact end of the window is fine */
    x->dma_fail = false;
    dma(e, 0x100, VMDL_EDU_DMA_START + 4092, 4, VMDL_EDU_DMA_RUN);
    assert_true(e->dma_done == 1);
}

static void test_edu_reset(void **state)
{
    struct edu_fx *x = *state;
    struct vmdl_edu *e = &x->e;
    vmdl_edu_mmio_write(e, 0x60, 4, 1);
    vmdl_edu_mmio_write(e, 4, 4, 1);
    cfg_write(x, VMDL_PCI_COMMAND, 2, VMDL_PCI_CMD_MEM);
    vmdl_edu_reset(e);
    assert_int_equal(x->intx_level, 0);
    assert_true(vmdl_edu_mmio_read(e, 4, 4) == 0);
    assert_true(vmdl_edu_mmio_read(e, 0x24, 4) == 0);
    assert_int_equal(vmdl_pci_command(&e->fn), 0);
    assert_true(e->fn.written != NULL);
}

#define T(f) cmocka_unit_test(f)
#define E(f) cmocka_unit_test_setup_teardown(f, edu_setup, edu_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_func_reset_values),
        T(test_func_read_only_and_writable),
        T(test_status_write_one_to_clear),
        T(test_bar_sizing),
        T(test_bar_decode),
        T(test_bar_bad_arguments),
        T(test_msi_capability),
        T(test_msi_32bit_layout),
        T(test_host_mechanism1),
        T(test_host_master_abort),
        T(test_host_write_hook),
        T(test_host_plug_rules),
        T(test_msi_decode),
        E(test_edu_config),
        E(test_edu_registers),
        E(test_edu_intx),
        E(test_edu_msi),
        E(test_edu_dma),
        E(test_edu_dma_hostile),
        E(test_edu_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
