/* SPDX-License-Identifier: MIT */
/* Placeholder until the amd_pmu model lands; keeps the object library non-empty. */
typedef int vmdl_amd_pmu_placeholder_t;
