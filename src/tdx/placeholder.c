/* SPDX-License-Identifier: MIT */
/* Placeholder until the tdx model lands; keeps the object library non-empty. */
typedef int vmdl_tdx_placeholder_t;
