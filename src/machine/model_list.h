/* SPDX-License-Identifier: MIT */
/*
 * The models this build knows, one line each: VMDL_MODEL(x) names the
 * description `vmdl_x_model` its glue file (src/machine/attach_x.c)
 * defines.  Order matters: interrupt controllers first, so that later
 * models (the PMU's PMI) find them when "all" attaches.
 */
VMDL_MODEL(lapic)
VMDL_MODEL(ioapic)
VMDL_MODEL(vmx)
VMDL_MODEL(tdx)
VMDL_MODEL(amd_pmu)
VMDL_MODEL(gicv5)
VMDL_MODEL(gtimer)
VMDL_MODEL(sev_es)
