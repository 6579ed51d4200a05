/* SPDX-License-Identifier: MIT */
/* Placeholder until the lapic model lands; keeps the object library non-empty. */
typedef int vmdl_lapic_placeholder_t;
