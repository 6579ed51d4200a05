/* SPDX-License-Identifier: MIT */
/*
 * The PC's CMOS RTC (src/pc/rtc.c) on ports 0x70/0x71 with its alarm,
 * update and periodic interrupts on ISA IRQ 8 (the 8259's slave IR0 and
 * I/O APIC pin 8, edge), on the VM's virtual time; and ACPI S3: the PM1a
 * control write that suspends the VM, and the RTC alarm (with PM1 RTC_EN)
 * that resumes it the way QEMU's firmware does.  See docs/pc.md.
 */
#include <string.h>

#include "virtmodel/error.h"
#include "x86.h"

#define FACS_WAKING_VECTOR 12           /* firmware_waking_vector (ACPI 5.2.10) */

/* ---- the clock and IRQ 8 ---- */

/* One clock for the VM: the latest virtual time any vCPU showed it. */
static uint64_t rtc_sync(struct vmdl_vm *vm, uint64_t now)
{
    struct vmdl_x86_hosted_vm *h = vm->x86h;
    if (now > h->rtc_now)
        h->rtc_now = now;
    vmdl_rtc_advance(&h->rtc, h->rtc_now);
    return h->rtc_now;
}

/* IRQ 8 follows IRQF: a rising edge reaches both controllers. */
static void irq8_sync(struct vmdl_vm *vm, struct vmdl_vcpu *vcpu)
{
    struct vmdl_x86_hosted_vm *h = vm->x86h;
    bool level = vmdl_rtc_irq(&h->rtc);
    if (level == h->irq8)
        return;
    h->irq8 = level;
    vmdl__x86_isa_irq(vm, VMDL_RTC_IRQ, level);
    if (vcpu && level && vmdl_pic8259_output(&h->pic))
        vmdl_vcpu_request_exit(vcpu);
}

static vmdl_fault rtc_read(void *opaque, struct vmdl_vcpu *vcpu, uint16_t port,
                           unsigned size, uint32_t *value)
{
    struct vmdl_vm *vm = opaque;
    uint64_t now = rtc_sync(vm, vmdl_vcpu_vtime(vcpu));
    uint32_t v = 0;
    for (unsigned i = 0; i < size && i < 4; i++)
        v |= (uint32_t)vmdl_rtc_read(&vm->x86h->rtc, (uint16_t)(port + i), now) << (8 * i);
    *value = v;
    irq8_sync(vm, vcpu);
    return VMDL_FAULT_NONE;
}

static vmdl_fault rtc_write(void *opaque, struct vmdl_vcpu *vcpu, uint16_t port,
                            unsigned size, uint32_t value)
{
    struct vmdl_vm *vm = opaque;
    uint64_t now = rtc_sync(vm, vmdl_vcpu_vtime(vcpu));
    for (unsigned i = 0; i < size && i < 4; i++)
        vmdl_rtc_write(&vm->x86h->rtc, (uint16_t)(port + i), (uint8_t)(value >> (8 * i)), now);
    irq8_sync(vm, vcpu);
    return VMDL_FAULT_NONE;
}

static const struct vmdl_io_ops rtc_ops = { rtc_read, rtc_write };

static void rtc_advance(void *opaque, struct vmdl_vcpu *vcpu, uint64_t now)
{
    rtc_sync(opaque, now);
    irq8_sync(opaque, vcpu);
}

/* The next rise of IRQ 8, while anything can take it. */
static uint64_t rtc_next(void *opaque, struct vmdl_vcpu *vcpu)
{
    struct vmdl_vm *vm = opaque;
    if (vmdl__x86_halted_masked(vcpu) || !vmdl__x86_isa_irq_wanted(vm, VMDL_RTC_IRQ))
        return UINT64_MAX;
    return vmdl_rtc_next_irq(&vm->x86h->rtc, vm->x86h->rtc_now);
}

static const struct vmdl_time_ops rtc_time = { rtc_advance, rtc_next };

static void protect_ram(struct vmdl_vcpu *v, uint32_t perms);

/* The engine that entered S3 writes RAM again (idempotent). */
static void release_ram(struct vmdl_vm *vm)
{
    struct vmdl_x86_hosted_vm *h = vm->x86h;
    if (h->sleep_ro) {
        protect_ram(h->sleep_ro, UC_PROT_ALL);
        h->sleep_ro = NULL;
    }
}

/* A machine reset: the RTC's RESET input and the PM registers, as QEMU's
 * machine reset (the clock and NVRAM keep going). */
static void rtc_reset_hook(void *opaque, struct vmdl_vm *vm)
{
    (void)opaque;
    struct vmdl_x86_hosted_vm *h = vm->x86h;
    release_ram(vm);
    vmdl_rtc_reset(&h->rtc, h->rtc_now);
    vmdl_acpi_pm_reset(&h->pm, h->rtc_now);
    h->irq8 = false;
    vm->suspended = false;
}

/* ---- ACPI S3 ---- */

/* Every vCPU back to its reset state, the BSP at the FACS's waking vector
 * in real mode (CS = vector >> 4, IP = vector & 0xF, as SeaBIOS jumps to
 * it), the APs waiting for INIT and SIPI; the devices reset; RAM as it
 * was.  Then PM1 shows WAK_STS and RTC_STS (QEMU's wakeup notifier). */
static void wake(struct vmdl_vm *vm, uint64_t now)
{
    uint32_t vector = 0;
    const uint8_t *p = vmdl_vm_ram_ptr(vm, VMDL_X86_ACPI_BASE + VMDL_ACPI_OFF_FACS + FACS_WAKING_VECTOR, 4);
    if (p)
        memcpy(&vector, p, 4);
    if (!vector || vector > 0xFFFFF) {
        /* SeaBIOS reboots when the OS left no real-mode vector. */
        vmdl_vm_reset(vm);
        return;
    }
    vmdl__run_reset_hooks(vm);
    vmdl_acpi_pm_wake(&vm->x86h->pm, VMDL_ACPI_PM1_RTC_STS, now);
    for (unsigned i = 0; i < vm->nr_vcpus; i++) {
        struct vmdl_vcpu *v = vm->vcpus[i];
        if (i == 0) {
            vmdl__x86h_wake(v, vector);
            v->wait_for_sipi = false;
        } else {
            vm->arch_ops->vcpu_reset(v, vm->entry);
            v->wait_for_sipi = true;
        }
    }
}

/* Write-protect (or not) guest RAM in this vCPU's engine. */
static void protect_ram(struct vmdl_vcpu *v, uint32_t perms)
{
    struct vmdl_ram_range r[VMDL_MAX_RAM_RANGES];
    unsigned n = vmdl_vm_ram_ranges(v->vm, r);
    for (unsigned i = 0; i < n; i++)
        uc_mem_protect(v->uc, r[i].gpa, r[i].size, perms);
}

/*
 * PM1a_CNT with SLP_EN and \_S3's type, from the OUT hook: the VM sleeps
 * from this instruction on.  Unicorn runs the rest of the translation
 * block after a stop (docs/architecture.md, "Precise exits"); its
 * registers are thrown away by the wake, and guest RAM is write-protected
 * in this engine until the run returns (vmdl__x86_sleep_done) so that its
 * stores are dropped: memory stays as it was at the OUT, as with KVM.
 * The wake event is the next RTC alarm (AIE) when RTC_EN is set.
 */
void vmdl__x86_suspend(struct vmdl_vcpu *v)
{
    struct vmdl_vm *vm = v->vm;
    struct vmdl_x86_hosted_vm *h = vm->x86h;
    uint64_t now = rtc_sync(vm, vmdl_vcpu_vtime(v));
    vm->wake_at = (h->pm.en & VMDL_ACPI_PM1_RTC_EN) ? vmdl_rtc_next_alarm(&h->rtc, now)
                                                     : UINT64_MAX;
    vm->wake = wake;
    vm->suspended = true;
    for (unsigned i = 0; i < vm->nr_vcpus; i++)
        vm->vcpus[i]->halted = true;
    protect_ram(v, UC_PROT_READ | UC_PROT_EXEC);
    h->sleep_ro = v;
    /* (A kick asked for earlier in this block gives way: the run step
     * must see the sleep to lift the protection.) */
    if (v->stop == STOP_KICK)
        v->stop = STOP_NONE;
    vmdl__x86_set_stop(v, STOP_SLEEP);
}

/* The engine returned from the run that entered S3. */
void vmdl__x86_sleep_done(struct vmdl_vcpu *v)
{
    if (v->vm->x86h->sleep_ro == v)
        release_ram(v->vm);
}

int vmdl__x86_rtc_devices(struct vmdl_vm *vm)
{
    struct vmdl_x86_hosted_vm *h = vm->x86h;
    int64_t base = vm->cfg.rtc_base_set ? vm->cfg.rtc_base : VMDL_RTC_DEFAULT_BASE;
    vmdl_rtc_init(&h->rtc, base, 0);
    uint64_t low = vm->ram_low, high = vm->ram_size - vm->ram_low;
    vmdl_rtc_pc_nvram(&h->rtc, low, high, vm->nr_vcpus);
    vmdl_acpi_pm_reset(&h->pm, 0);
    h->rtc_now = 0;
    h->irq8 = false;
    int err = vmdl_vm_add_io_range(vm, VMDL_RTC_PORT, VMDL_RTC_PORT_DATA, &rtc_ops, vm);
    if (!err)
        err = vmdl__add_time_hook(vm, &rtc_time, vm);
    if (!err)
        err = vmdl__add_reset_hook(vm, rtc_reset_hook, NULL);
    return err;
}
