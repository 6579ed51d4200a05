/* SPDX-License-Identifier: MIT */
/*
 * Whole-VM checkpoints: every vCPU, every attached model and guest memory,
 * in one versioned, checksummed blob, restored bit-exactly into a VM built
 * the same way (same image, same configuration, same models).
 *
 * Format (little-endian; the outer container is a state blob, blob.h):
 *   magic "VMCK", version VMDL_CHECKPOINT_VERSION, payload length, CRC-32
 *   config    arch, vendor, RAM base and size, vCPUs, quantum, virtual-time
 *             weights (PAUSE and exit cycles since version 3, serializing
 *             control-register writes, RDTSC cycles and TLB flushes since
 *             version 4)
 *   image     CRC-32 of the loaded image bytes and the entry point
 *   vm        scheduler cursor, reset count
 *   ram       number of non-zero 4 KiB pages, then (page index, 4096 bytes)
 *   vcpus     per vCPU: architectural registers, the machine's virtual
 *             state (control registers, descriptor tables, pending events,
 *             halted, instruction and branch counts, stall cycles)
 *   arch      (version 5) the architecture's own section as a nested blob,
 *             empty when it has none: x86 hosted vCPUs (multiboot kernels)
 *             and their PC platform (docs/architecture.md, "Checkpoints")
 *   models    count, then (name, nested state blob) per registered model
 * A truncated, corrupted or version-mismatched file, or one taken from a VM
 * with another configuration, image or model set, is refused before
 * anything changes, with a message saying which.
 */
#ifndef VIRTMODEL_CHECKPOINT_H
#define VIRTMODEL_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "virtmodel/machine.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 2: arm64 vCPU records carry the EL1 MMU controls (SCTLR, TCR, TTBRn, MAIR...).
 * 3: the config carries the virtual-time weights (vtime.h), each vCPU record
 *    its stall cycles.
 * 4: the config carries the serialize, RDTSC and flush weights too.
 * 5: the architecture's section (hosted x86 vCPUs, the PC platform) between
 *    the vCPU records and the models, and the vmx glue's running-L2 state.
 * Versions 2 to 4 are still read (as the weights they lack 0, stall 0 for
 * version 2, no architecture section: they never held a hosted vCPU). */
#define VMDL_CHECKPOINT_VERSION 5

int vmdl_vm_checkpoint_save(struct vmdl_vm *vm, uint8_t **blob, size_t *len);
int vmdl_vm_checkpoint_restore(struct vmdl_vm *vm, const void *blob, size_t len);
int vmdl_vm_checkpoint_write(struct vmdl_vm *vm, const char *path);
int vmdl_vm_checkpoint_read(struct vmdl_vm *vm, const char *path);

/*
 * Digest of the VM's guest-visible state (RAM and every vCPU's registers),
 * for checking that two runs ended in the same state.
 */
uint32_t vmdl_vm_state_digest(struct vmdl_vm *vm);

#ifdef __cplusplus
}
#endif
#endif
