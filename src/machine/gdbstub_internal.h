/* SPDX-License-Identifier: MIT */
/* The GDB stub's pieces inside the machine layer (gdbstub.c, gdb_regs.c). */
#ifndef VMDL_GDBSTUB_INTERNAL_H
#define VMDL_GDBSTUB_INTERNAL_H

#include "core/gdb_proto.h"
#include "virtmodel/machine.h"

/* GDB's register table for an architecture and its name for it. */
const struct vmdl_gdb_reg *vmdl__gdb_regs(enum vmdl_arch arch, unsigned *n,
                                          const char **arch_name);

#endif
