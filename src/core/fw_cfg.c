/* SPDX-License-Identifier: MIT */
/* QEMU fw_cfg, port interface (docs/specs/fw_cfg.rst in QEMU for the items). */
#include <string.h>

#include "virtmodel/fw_cfg.h"

void vmdl_fw_cfg_init(struct vmdl_fw_cfg *f, uint64_t ram_size, unsigned nb_cpus)
{
    memset(f, 0, sizeof(*f));
    f->ram_size = ram_size;
    f->nb_cpus = f->max_cpus = (uint16_t)nb_cpus;
    f->key = 0xFFFF;  /* nothing selected: reads give 0 */
}

void vmdl_fw_cfg_select(struct vmdl_fw_cfg *f, uint16_t key)
{
    f->key = key;
    f->offset = 0;
}

/* The selected item's bytes (little-endian numbers; the file directory's
 * count is big-endian, and 0 here). */
static size_t item(const struct vmdl_fw_cfg *f, uint8_t *buf)
{
    uint64_t x;
    size_t n;
    switch (f->key & VMDL_FW_CFG_ENTRY_MASK) {
    case VMDL_FW_CFG_SIGNATURE: memcpy(buf, "QEMU", 4); return 4;
    case VMDL_FW_CFG_ID: x = 1; n = 4; break;          /* traditional, no DMA */
    case VMDL_FW_CFG_RAM_SIZE: x = f->ram_size; n = 8; break;
    case VMDL_FW_CFG_NB_CPUS: x = f->nb_cpus; n = 2; break;
    case VMDL_FW_CFG_MAX_CPUS: x = f->max_cpus; n = 2; break;
    case VMDL_FW_CFG_FILE_DIR: memset(buf, 0, 4); return 4;
    default: return 0;
    }
    for (size_t i = 0; i < n; i++)
        buf[i] = (uint8_t)(x >> (8 * i));
    return n;
}

uint8_t vmdl_fw_cfg_read(struct vmdl_fw_cfg *f)
{
    uint8_t buf[8];
    /* Items are read-only here: the write channel (bit 14) reads nothing. */
    size_t n = (f->key & 0x4000) ? 0 : item(f, buf);
    if (f->offset >= n)
        return 0;
    return buf[f->offset++];
}
