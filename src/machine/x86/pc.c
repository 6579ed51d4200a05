/* SPDX-License-Identifier: MIT */
/*
 * The PC devices a real x86 guest (a multiboot kernel, kvm-unit-tests)
 * expects besides isa-debug-exit of io.c: QEMU's fw_cfg on ports
 * 0x510/0x511 (src/core/fw_cfg.c holds the items), the ACPI tables in the
 * BIOS area with the PM block at 0x600 (PM1a event, PM1a control, the PM
 * timer at 0x608, as QEMU's pc and q35 machines place it), the CMOS RTC
 * (rtc.c), COM1 as a
 * 16550 (io.c routes its ports), pc-testdev (testdev.c).  See docs/pc.md.
 */
#include <stdlib.h>
#include <string.h>

#include "virtmodel/pc_acpi.h"
#include "virtmodel/attach_ioapic.h"
#include "virtmodel/error.h"
#include "virtmodel/fw_cfg.h"
#include "virtmodel/lapic_madt.h"
#include "x86.h"

/* Where the tables go: the BIOS area below 1 MiB, reserved in the multiboot
 * memory map, where kvm-unit-tests and Linux scan for "RSD PTR ". */
#define ACPI_BASE VMDL_X86_ACPI_BASE

static vmdl_fault fw_cfg_read(void *opaque, struct vmdl_vcpu *vcpu, uint16_t port,
                              unsigned size, uint32_t *value)
{
    (void)vcpu;
    struct vmdl_fw_cfg *f = opaque;
    uint32_t v = 0;
    if (port == VMDL_FW_CFG_PORT_DATA)   /* wider reads take consecutive bytes */
        for (unsigned i = 0; i < size; i++)
            v |= (uint32_t)vmdl_fw_cfg_read(f) << (8 * i);
    *value = v;
    return VMDL_FAULT_NONE;
}

static vmdl_fault fw_cfg_write(void *opaque, struct vmdl_vcpu *vcpu, uint16_t port,
                               unsigned size, uint32_t value)
{
    (void)vcpu;
    (void)size;
    if (port == VMDL_FW_CFG_PORT_SEL)
        vmdl_fw_cfg_select(opaque, (uint16_t)value);
    return VMDL_FAULT_NONE;   /* data-port writes: the read-only items ignore them */
}

static const struct vmdl_io_ops fw_cfg_ops = { fw_cfg_read, fw_cfg_write };

/* ---- ACPI PM block: PM1a_EVT (0x600), PM1a_CNT (0x604), PM_TMR (0x608) ---- */

/* The PM timer and TMR_STS read the reading vCPU's virtual time, one
 * instruction per ns (the local APIC's clock). */
static vmdl_fault pm_read(void *opaque, struct vmdl_vcpu *vcpu, uint16_t port,
                          unsigned size, uint32_t *value)
{
    struct vmdl_x86_hosted_vm *h = opaque;
    *value = vmdl_acpi_pm_read(&h->pm, port - VMDL_ACPI_PM_BASE, size,
                               vmdl_vcpu_vtime(vcpu));
    return VMDL_FAULT_NONE;
}

/* SLP_EN: \_S5 powers off (as QEMU, the run ends with status 0), \_S3
 * puts the VM to sleep (rtc.c). */
static vmdl_fault pm_write(void *opaque, struct vmdl_vcpu *vcpu, uint16_t port,
                           unsigned size, uint32_t value)
{
    struct vmdl_x86_hosted_vm *h = opaque;
    switch (vmdl_acpi_pm_write(&h->pm, port - VMDL_ACPI_PM_BASE, size, value,
                               vmdl_vcpu_vtime(vcpu))) {
    case VMDL_ACPI_PM_POWER_OFF:
        vmdl__x86_power_off(vcpu, port);
        break;
    case VMDL_ACPI_PM_SUSPEND:
        vmdl__x86_suspend(vcpu);
        break;
    default:
        break;
    }
    return VMDL_FAULT_NONE;
}

static const struct vmdl_io_ops pm_ops = { pm_read, pm_write };

/* QEMU's pc machine: ISA IRQ 0 on GSI 2, the PCI interrupts 5, 9, 10, 11
 * (9 is also the SCI) level-triggered, active high. */
static const struct vmdl_madt_iso pc_isos[] = {
    {0, 2, 0}, {5, 5, 0xD}, {9, 9, 0xD}, {10, 10, 0xD}, {11, 11, 0xD},
};

/* One Local APIC per vCPU (ID = UID = index), the I/O APIC at its PC
 * address, the overrides, LINT1 = NMI. */
static int build_madt(struct vmdl_vm *vm, uint8_t **t, size_t *n)
{
    struct vmdl_madt_cpu cpus[VMDL_MAX_VCPUS];
    for (unsigned i = 0; i < vm->nr_vcpus; i++)
        cpus[i] = (struct vmdl_madt_cpu){i, i, true, false};
    struct vmdl_madt_ioapic io = {0, (uint32_t)VMDL_IOAPIC_DEFAULT_BASE, 0};
    struct vmdl_madt_config m = {
        .cpus = cpus, .nr_cpus = vm->nr_vcpus, .lint1_nmi = true,
        .ioapics = &io, .nr_ioapics = 1,
        .isos = pc_isos, .nr_isos = sizeof(pc_isos) / sizeof(pc_isos[0]),
    };
    return vmdl_madt_build(&m, t, n);
}

static bool acpi_ram(const struct vmdl_vm *vm)
{
    return ACPI_BASE + 0x1000 <= vm->ram_base + vm->ram_size && vm->ram_base <= ACPI_BASE;
}

/* Build the tables (with `extra`, a further table, when not NULL) and copy
 * them to ACPI_BASE; *len is their size. */
static int write_acpi(struct vmdl_vm *vm, const uint8_t *extra, size_t extra_len, size_t *len)
{
    uint8_t *madt, *t;
    size_t mlen;
    int err = build_madt(vm, &madt, &mlen);
    if (err)
        return err;
    struct vmdl_acpi_pc_config c = {.base = ACPI_BASE, .madt = madt, .madt_len = mlen,
                                    .extra = extra, .extra_len = extra_len};
    err = vmdl_acpi_build_pc(&c, &t, len);
    free(madt);
    if (err)
        return err;
    if (*len > 0x10000) {
        free(t);
        return vmdl_fail(VMDL_ERANGE, "ACPI tables: %zu bytes do not fit", *len);
    }
    memcpy(vm->ram + (ACPI_BASE - vm->ram_base), t, *len);
    free(t);
    return VMDL_OK;
}

static int place_acpi(struct vmdl_vm *vm)
{
    if (!acpi_ram(vm))
        return VMDL_OK;   /* no RAM there: no tables */
    size_t len;
    int err = write_acpi(vm, NULL, 0, &len);
    if (!err)
        err = vmdl_vm_add_image_range(vm, ACPI_BASE, len);   /* restored on reset */
    if (!err)
        err = vmdl_vm_add_io_range(vm, VMDL_ACPI_PM_BASE,
                                   VMDL_ACPI_PM_BASE + VMDL_ACPI_PM_TMR_OFF + 3, &pm_ops,
                                   vm->x86h);
    /* The PM timer reads virtual time: count it exactly. */
    for (unsigned i = 0; !err && i < vm->nr_vcpus; i++)
        vmdl_vcpu_need_insn_count(vm->vcpus[i], true);
    return err;
}

int vmdl__x86_pc_acpi_table(struct vmdl_vm *vm, const uint8_t *table, size_t len)
{
    if (!acpi_ram(vm))
        return VMDL_OK;
    size_t total;
    int err = write_acpi(vm, table, len, &total);
    return err ? err : vmdl__refresh_image_range(vm, ACPI_BASE, total);
}

/* ---- COM1 ---- */

static void com1_tx(void *opaque, uint8_t byte)
{
    char c = (char)byte;
    vmdl__console(opaque, &c, 1);
}

/* IRQ 4, as QEMU's COM1: to the 8259 and the I/O APIC (pic.c). */
static void com1_irq(void *opaque, bool level)
{
    vmdl__x86_isa_irq(opaque, 4, level);
}

int vmdl__x86_pc_devices(struct vmdl_vm *vm)
{
    if (vm->x86h->pc_devices)
        return VMDL_OK;
    struct vmdl_fw_cfg *f = malloc(sizeof(*f));
    if (!f)
        return vmdl_fail(VMDL_ENOMEM, "fw_cfg: out of memory");
    /* FW_CFG_RAM_SIZE is all of RAM, below and above 4 GiB (as QEMU). */
    vmdl_fw_cfg_init(f, vm->ram_size, vm->nr_vcpus);
    int err = vmdl__add_destroy_hook(vm, free, f);
    if (err) {
        free(f);
        return err;
    }
    err = vmdl_vm_add_io_range(vm, VMDL_FW_CFG_PORT_SEL, VMDL_FW_CFG_PORT_DATA,
                               &fw_cfg_ops, f);
    vm->x86h->fw_cfg = f;
    if (!err)
        err = vmdl__x86_testdev(vm);
    if (!err)
        err = place_acpi(vm);
    if (!err)
        err = vmdl__x86_pic_devices(vm);
    if (!err)
        err = vmdl__x86_rtc_devices(vm);
    struct vmdl_uart_ops com1 = {com1_tx, com1_irq, vm};
    vmdl_uart_init(&vm->x86h->com1, &com1);
    if (!err)
        vm->x86h->pc_devices = true;
    return err;
}
