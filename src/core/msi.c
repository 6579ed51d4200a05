/* SPDX-License-Identifier: MIT */
/* Compatibility-format interrupt messages (include/virtmodel/msi.h). */
#include "virtmodel/msi.h"

bool vmdl_msi_decode(uint64_t addr, uint32_t data, struct vmdl_msi_msg *out)
{
    if ((addr & ~0xFFFFFull) != VMDL_MSI_ADDR_BASE)
        return false;
    *out = (struct vmdl_msi_msg){
        .dest = (uint32_t)(addr >> 12) & 0xFF,
        .redir_hint = (addr >> 3) & 1,
        .logical = (addr >> 2) & 1,
        .vector = (uint8_t)data,
        .delivery_mode = (data >> 8) & 7,
        .level = (data >> 15) & 1,
    };
    return true;
}
