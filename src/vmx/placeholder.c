/* SPDX-License-Identifier: MIT */
/* Placeholder until the vmx model lands; keeps the object library non-empty. */
typedef int vmdl_vmx_placeholder_t;
