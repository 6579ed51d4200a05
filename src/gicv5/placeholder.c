/* SPDX-License-Identifier: MIT */
/* Placeholder until the gicv5 model lands; keeps the object library non-empty. */
typedef int vmdl_gicv5_placeholder_t;
