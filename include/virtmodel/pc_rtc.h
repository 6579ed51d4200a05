/* SPDX-License-Identifier: MIT */
/*
 * MC146818-compatible CMOS real-time clock (the PC's RTC at ports
 * 0x70/0x71, IRQ 8), as QEMU's hw/rtc/mc146818rtc presents it to a PC
 * guest.  See docs/pc.md.
 *
 * Time is the caller's, in nanoseconds (the machine passes virtual time:
 * retired instructions, one per ns), so a run is deterministic: the clock
 * starts at a date the caller chooses (VMDL_RTC_DEFAULT_BASE unless an
 * option says otherwise), never at the host's.  Nothing is ticked: the
 * date, UIP and the interrupt flags are functions of time since the
 * divider's origin, computed when read (as the PIT model does).
 *
 * Registers 0x00-0x09 time, alarm and date (BCD or binary per register B
 * DM, 12- or 24-hour per 24/12), A (UIP, divider DV2-0, rate RS3-0), B
 * (SET, PIE, AIE, UIE, SQWE, DM, 24/12, DSE), C (IRQF, PF, AF, UF; cleared
 * by reading), D (VRT), the century at 0x32; 0x0E-0x7F are NVRAM.  Port
 * 0x70 bit 7 is the NMI mask the chipset keeps there.
 */
#ifndef VIRTMODEL_PC_RTC_H
#define VIRTMODEL_PC_RTC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VMDL_RTC_PORT 0x70           /* index (bit 7: NMI disable) */
#define VMDL_RTC_PORT_DATA 0x71
#define VMDL_RTC_IRQ 8               /* ISA IRQ 8, edge */
#define VMDL_RTC_NVRAM 128

/* Register indexes. */
#define VMDL_RTC_SEC 0x00
#define VMDL_RTC_SEC_ALARM 0x01
#define VMDL_RTC_MIN 0x02
#define VMDL_RTC_MIN_ALARM 0x03
#define VMDL_RTC_HOUR 0x04
#define VMDL_RTC_HOUR_ALARM 0x05
#define VMDL_RTC_WDAY 0x06
#define VMDL_RTC_MDAY 0x07
#define VMDL_RTC_MONTH 0x08
#define VMDL_RTC_YEAR 0x09
#define VMDL_RTC_REG_A 0x0A
#define VMDL_RTC_REG_B 0x0B
#define VMDL_RTC_REG_C 0x0C
#define VMDL_RTC_REG_D 0x0D
#define VMDL_RTC_CENTURY 0x32        /* the FADT's century index */

#define VMDL_RTC_A_UIP 0x80
#define VMDL_RTC_B_SET 0x80
#define VMDL_RTC_B_PIE 0x40
#define VMDL_RTC_B_AIE 0x20
#define VMDL_RTC_B_UIE 0x10
#define VMDL_RTC_B_SQWE 0x08
#define VMDL_RTC_B_DM 0x04           /* 1: binary, 0: BCD */
#define VMDL_RTC_B_24H 0x02
#define VMDL_RTC_B_DSE 0x01
#define VMDL_RTC_C_IRQF 0x80
#define VMDL_RTC_C_PF 0x40
#define VMDL_RTC_C_AF 0x20
#define VMDL_RTC_C_UF 0x10
#define VMDL_RTC_D_VRT 0x80
#define VMDL_RTC_ALARM_DONT_CARE 0xC0   /* 0xC0-0xFF match every value */

/* UIP is set this long before each update: 8 cycles of the 32.768 kHz
 * time base, 244.140625 us (QEMU's UIP_HOLD_LENGTH). */
#define VMDL_RTC_UIP_NS 244140

/* 2026-01-01T00:00:00 UTC in seconds since 1970: the default start. */
#define VMDL_RTC_DEFAULT_BASE 1767225600ll

struct vmdl_rtc {
    uint8_t cmos[VMDL_RTC_NVRAM];  /* NVRAM; the time bytes while stopped */
    uint8_t index;                 /* port 0x70 bits 6:0 */
    bool nmi_masked;               /* port 0x70 bit 7 */
    int64_t t0;                    /* virtual ns of a second boundary (the
                                      divider's phase) */
    int64_t secs;                  /* the clock at t0, seconds since 1970 */
    uint64_t synced;               /* the flags are up to date to here */
    bool irq;                      /* IRQ 8 (IRQF) */
};

/* Power-on at `base` (seconds since 1970; clamped to years 0-9999): the
 * registers as QEMU's PC firmware leaves them (A 0x26, B 0x02: BCD,
 * 24-hour), NVRAM zero. */
void vmdl_rtc_init(struct vmdl_rtc *r, int64_t base, uint64_t now);
/* The RESET input (a machine reset, a wake from S3), as QEMU: PIE, AIE,
 * SQWE and the flags cleared, IRQ 8 low; the clock runs on. */
void vmdl_rtc_reset(struct vmdl_rtc *r, uint64_t now);

/* Ports 0x70 (write-only: reads 0xFF) and 0x71 at time `now`. */
uint8_t vmdl_rtc_read(struct vmdl_rtc *r, uint16_t port, uint64_t now);
void vmdl_rtc_write(struct vmdl_rtc *r, uint16_t port, uint8_t value, uint64_t now);
/* Bring the flags (and IRQ 8) up to `now`. */
void vmdl_rtc_advance(struct vmdl_rtc *r, uint64_t now);
/* IRQ 8's level after the last call. */
bool vmdl_rtc_irq(const struct vmdl_rtc *r);
/* The first time after `now` at which IRQ 8 rises, UINT64_MAX if none
 * will (already high, or no enabled source). */
uint64_t vmdl_rtc_next_irq(struct vmdl_rtc *r, uint64_t now);
/* The first update after `now` that sets AF with AIE set (the ACPI RTC
 * wake event), UINT64_MAX if none. */
uint64_t vmdl_rtc_next_alarm(struct vmdl_rtc *r, uint64_t now);
/* The clock at `now`, seconds since 1970 (what registers 0-9 and 0x32
 * show, held while SET or the divider reset stops it). */
int64_t vmdl_rtc_time(const struct vmdl_rtc *r, uint64_t now);

/* NVRAM bytes (0x0E-0x7F) as firmware sets them; other indexes refused. */
int vmdl_rtc_set_nvram(struct vmdl_rtc *r, unsigned index, uint8_t value);
/* QEMU's PC values (hw/i386/pc.c): base and extended memory (0x15-0x18,
 * 0x30-0x31), memory 16 MiB-4 GiB in 64 KiB (0x34-0x35), above 4 GiB in
 * 64 KiB (0x5B-0x5D), CPU count - 1 (0x5F), equipment (0x14: FPU, PS/2
 * mouse), boot order "cad" (0x3D, 0x38). */
void vmdl_rtc_pc_nvram(struct vmdl_rtc *r, uint64_t below_4g, uint64_t above_4g,
                       unsigned cpus);

/* "YYYY-MM-DDTHH:MM:SS" (UTC; a space for the T, or a date alone) to
 * seconds since 1970; years 0-9999.  VMDL_EINVAL with a message. */
int vmdl_rtc_parse_time(const char *s, int64_t *secs);

/* Checkpoint image: a versioned, fixed-size blob (malloc'd); import
 * refuses a blob that is malformed or inconsistent, leaving `r` alone. */
int vmdl_rtc_export(const struct vmdl_rtc *r, uint8_t **blob, size_t *len);
int vmdl_rtc_import(struct vmdl_rtc *r, const uint8_t *blob, size_t len);

#ifdef __cplusplus
}
#endif
#endif
