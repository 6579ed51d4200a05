/* SPDX-License-Identifier: MIT */
/*
 * QEMU's firmware configuration interface, the x86 port form: a 16-bit
 * write to the selector port (0x510) picks an item and rewinds it, each
 * byte read from the data port (0x511) returns its next byte, and reads
 * past the end or of an absent item return 0.  Holds the items a boot
 * loader and kvm-unit-tests read: signature, interface ID, RAM size, CPU
 * counts and an empty file directory.  Pure; the machine connects the ports.
 */
#ifndef VIRTMODEL_FW_CFG_H
#define VIRTMODEL_FW_CFG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VMDL_FW_CFG_PORT_SEL 0x510
#define VMDL_FW_CFG_PORT_DATA 0x511

#define VMDL_FW_CFG_SIGNATURE 0x00
#define VMDL_FW_CFG_ID 0x01
#define VMDL_FW_CFG_RAM_SIZE 0x03
#define VMDL_FW_CFG_NB_CPUS 0x05
#define VMDL_FW_CFG_MAX_CPUS 0x0F
#define VMDL_FW_CFG_FILE_DIR 0x19
#define VMDL_FW_CFG_ENTRY_MASK 0x3FFF   /* without the write and arch bits */

struct vmdl_fw_cfg {
    uint64_t ram_size;
    uint16_t nb_cpus, max_cpus;
    uint16_t key;        /* selected item */
    uint32_t offset;     /* next byte of it */
};

void vmdl_fw_cfg_init(struct vmdl_fw_cfg *f, uint64_t ram_size, unsigned nb_cpus);
void vmdl_fw_cfg_select(struct vmdl_fw_cfg *f, uint16_t key);
uint8_t vmdl_fw_cfg_read(struct vmdl_fw_cfg *f);

#ifdef __cplusplus
}
#endif

#endif
