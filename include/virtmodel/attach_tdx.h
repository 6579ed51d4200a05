/* SPDX-License-Identifier: MIT */
/*
 * Machine glue for the TDX module model: SEAMCALL from guest code reaches a
 * modelled TDX module (include/virtmodel/tdx.h), as on a TDX host where the
 * kernel calls the SEAM module.  See docs/tdx.md.
 *
 * The guest issues SEAMCALL (66 0F 01 CF) with the leaf in RAX and operands
 * in RCX, RDX, R8-R11; the module's outputs come back in the same registers
 * and the completion status in RAX.  RFLAGS: VMsucceed (CF, PF, AF, ZF, SF,
 * OF cleared) when the module ran the call, VMfailInvalid (CF set, the
 * others cleared, registers untouched) when no module is loaded.  Logical
 * processor n of the module is vCPU n.  TDCALL, SEAMRET and SEAMOPS outside
 * a TD / SEAM raise #UD.  A VM reset reloads the module (LOADED, every LP to
 * be initialized again).
 */
#ifndef VIRTMODEL_ATTACH_TDX_H
#define VIRTMODEL_ATTACH_TDX_H

#include "virtmodel/machine.h"
#include "virtmodel/tdx.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Default profile when the caller names none. */
#define VMDL_TDX_DEFAULT_PROFILE "tdx-1.5.08"

/*
 * Attach a TDX module built from a built-in profile name or a profile file
 * path (NULL: VMDL_TDX_DEFAULT_PROFILE) to an x86 VM.  The module is freed
 * with the VM.
 */
int vmdl_attach_tdx(struct vmdl_vm *vm, const char *profile_name_or_path);
/* The same, also returning the module (owned by the VM) for inspection. */
int vmdl_attach_tdx_ex(struct vmdl_vm *vm, const char *profile_name_or_path,
                       struct vmdl_tdx **module);


#ifdef __cplusplus
}
#endif
#endif
