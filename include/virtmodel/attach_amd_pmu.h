/* SPDX-License-Identifier: MIT */
/*
 * Attach the AMD PMU model to an x86 VM: one PMU per vCPU, its MSRs
 * claimed, its CPUID leaves merged into the VM's table, counting driven by
 * the machine's instruction/branch accounting, PMIs delivered as NMIs
 * (until the local APIC's LVTPC takes them: vmdl_amd_pmu_attach_set_sink),
 * and the VMM-side PMU reset run on every VM reset.
 */
#ifndef VIRTMODEL_ATTACH_AMD_PMU_H
#define VIRTMODEL_ATTACH_AMD_PMU_H

#include <stdbool.h>

#include "virtmodel/amd_pmu.h"
#include "virtmodel/machine.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vmdl_amd_pmu_attach;

int vmdl_attach_amd_pmu(struct vmdl_vm *vm, const struct vmdl_amd_pmu_config *cfg);
/* Same, returning the attachment (owned by the VM, freed with it). */
int vmdl_attach_amd_pmu_ex(struct vmdl_vm *vm, const struct vmdl_amd_pmu_config *cfg,
                           struct vmdl_amd_pmu_attach **out);
/* The PMU model of vCPU `index` (NULL when out of range). */
struct vmdl_amd_pmu *vmdl_amd_pmu_attach_pmu(struct vmdl_amd_pmu_attach *a,
                                             unsigned index);
/* Route vCPU `index`'s PMI elsewhere (the local APIC's LVTPC entry). */
int vmdl_amd_pmu_attach_set_sink(struct vmdl_amd_pmu_attach *a, unsigned index,
                                 const struct vmdl_pmi_sink *sink);
/* Bring the counters of vCPU `index` up to date with the machine's
 * instruction count (done at every PMU MSR access and reset). */
void vmdl_amd_pmu_attach_sync(struct vmdl_amd_pmu_attach *a, unsigned index);

/*
 * For the model registry / harness (--pmu CONFIG and the --pmu-quirk-*
 * flags): CONFIG is perfmonv2 (or v2, v2:N), core, legacy or off (NULL:
 * perfmonv2); quirks are enum vmdl_amd_pmu_quirk bits.  Unlike
 * vmdl_attach_amd_pmu(), a VM whose CPUID vendor is not AMD is left alone
 * (returns 0), so that "--models all" works on Intel VMs.
 */
int vmdl_amd_pmu_config_from_name(const char *name, uint32_t quirks,
                                  struct vmdl_amd_pmu_config *cfg);
int vmdl_attach_amd_pmu_named(struct vmdl_vm *vm, const char *name,
                              uint32_t quirks);

/*
 * Harness options.  vmdl_amd_pmu_parse_option() consumes one argument:
 *   --amd-pmu                       attach (PerfMonV2, 6 counters)
 *   --amd-pmu=legacy|core|v2[:N]|off  attach with that configuration
 *                                   (off: the VMM disables the vPMU)
 *   --pmu-quirk-evtsel-rsvd-gp      reserved event-select bits #GP
 *   --pmu-quirk-no-vm-reset         VM reset leaves the PMU alone
 *   --pmu-quirk-disable-ignored     "off" never reaches the PMU
 *   --pmu-quirk-no-status-set       GLOBAL_STATUS_SET #GPs
 *   --pmu-quirk-global-ctl-zero     GLOBAL_CTL 0 at vCPU creation
 *   --pmu-arch-counters             up to 15 PerfMonV2 counters
 * Returns 1 when consumed, 0 when not ours, negative on a bad value.
 */
struct vmdl_amd_pmu_options {
    bool attach;
    struct vmdl_amd_pmu_config cfg;
};
void vmdl_amd_pmu_options_init(struct vmdl_amd_pmu_options *o);
int vmdl_amd_pmu_parse_option(struct vmdl_amd_pmu_options *o, const char *arg);
extern const char vmdl_amd_pmu_options_help[];

#ifdef __cplusplus
}
#endif
#endif
