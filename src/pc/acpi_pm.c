/* SPDX-License-Identifier: MIT */
/*
 * ACPI PM1a event and control registers and the PM timer of QEMU's PC
 * PM block at 0x600 (include/virtmodel/pc_acpi.h, docs/pc.md).
 */
#include <string.h>

#include "virtmodel/pc_acpi.h"

#define NS 1000000000ull

static uint64_t timer_ticks(uint64_t ns)
{
    return ns / NS * VMDL_ACPI_PM_TIMER_HZ + ns % NS * VMDL_ACPI_PM_TIMER_HZ / NS;
}

/* TMR_STS: bit 23 of the 24-bit timer changed since the last clear. */
static uint16_t status(const struct vmdl_acpi_pm *pm, uint64_t now)
{
    bool tmr = (timer_ticks(now) >> 23) > (pm->tmr_base >> 23);
    return (uint16_t)(pm->sts | (tmr ? VMDL_ACPI_PM1_TMR_STS : 0));
}

void vmdl_acpi_pm_reset(struct vmdl_acpi_pm *pm, uint64_t now)
{
    memset(pm, 0, sizeof(*pm));
    pm->tmr_base = timer_ticks(now);
}

uint32_t vmdl_acpi_pm_read(const struct vmdl_acpi_pm *pm, unsigned off, unsigned size,
                           uint64_t now)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < size && i < 4; i++) {
        unsigned o = off + i;
        uint32_t b = 0;
        if (o < 2)
            b = status(pm, now) >> (8 * o);
        else if (o < 4)
            b = pm->en >> (8 * (o - 2));
        else if (o < 6)
            b = (pm->cnt | VMDL_ACPI_PM1_SCI_EN) >> (8 * (o - 4));
        else if (o >= VMDL_ACPI_PM_TMR_OFF && o < VMDL_ACPI_PM_TMR_OFF + 4)
            b = vmdl_acpi_pm_timer(now) >> (8 * (o - VMDL_ACPI_PM_TMR_OFF));
        v |= (b & 0xFF) << (8 * i);
    }
    return v;
}

static void set_byte(uint16_t *r, unsigned which, uint8_t b)
{
    *r = (uint16_t)((*r & ~(0xFFu << (8 * which))) | ((unsigned)b << (8 * which)));
}

/* Each byte goes to its register (status: write-1-to-clear); a control
 * write with SLP_EN starts the sleep its SLP_TYP names (QEMU's
 * acpi_pm1_cnt_write: 0 off, 1 suspend, its S4 value off, others nothing). */
enum vmdl_acpi_pm_action vmdl_acpi_pm_write(struct vmdl_acpi_pm *pm, unsigned off,
                                            unsigned size, uint32_t value, uint64_t now)
{
    bool cnt_written = false;
    uint16_t cnt = pm->cnt;
    for (unsigned i = 0; i < size && i < 4; i++) {
        unsigned o = off + i;
        uint8_t b = (uint8_t)(value >> (8 * i));
        if (o < 2) {
            uint16_t clear = (uint16_t)(b << (8 * o));
            if (clear & status(pm, now) & VMDL_ACPI_PM1_TMR_STS)
                pm->tmr_base = timer_ticks(now);
            pm->sts &= (uint16_t)~clear;
        } else if (o < 4) {
            set_byte(&pm->en, o - 2, b);
        } else if (o < 6) {
            set_byte(&cnt, o - 4, b);
            cnt_written = true;
        }
    }
    if (!cnt_written)
        return VMDL_ACPI_PM_NONE;
    pm->cnt = (uint16_t)(cnt & ~VMDL_ACPI_PM1_SLP_EN);
    if (!(cnt & VMDL_ACPI_PM1_SLP_EN))
        return VMDL_ACPI_PM_NONE;
    switch ((cnt >> VMDL_ACPI_PM1_SLP_TYP_SHIFT) & 7) {
    case VMDL_ACPI_SLP_TYP_S3:
        return VMDL_ACPI_PM_SUSPEND;
    case VMDL_ACPI_SLP_TYP_S5:
    case VMDL_ACPI_SLP_TYP_S4:
        return VMDL_ACPI_PM_POWER_OFF;
    default:
        return VMDL_ACPI_PM_NONE;
    }
}

void vmdl_acpi_pm_wake(struct vmdl_acpi_pm *pm, uint16_t sts, uint64_t now)
{
    vmdl_acpi_pm_reset(pm, now);
    pm->sts = (uint16_t)(VMDL_ACPI_PM1_WAK_STS | sts);
}
