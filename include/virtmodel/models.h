/* SPDX-License-Identifier: MIT */
/*
 * The model registry: attach models to a VM by name, as the harness's
 * --models option does.  Each model also has its own attach function (see
 * include/virtmodel/attach_*.h) for callers that want full control.
 */
#ifndef VIRTMODEL_MODELS_H
#define VIRTMODEL_MODELS_H

#include <stdbool.h>
#include <stdint.h>

#include "virtmodel/machine.h"

/* Options the harness passes to the models it attaches. */
struct vmdl_model_options {
    const char *vmx_profile;   /* --vmx-profile NAME */
    bool apicv;                /* --apicv */
    bool apicv_nested_quirk;   /* --apicv-deferred-nested-updates */
    const char *tdx_profile;   /* --tdx-profile NAME|FILE */
    const char *pmu;           /* --pmu CONFIG: perfmonv2, v2:N, core, legacy, off */
    uint32_t pmu_quirks;       /* enum vmdl_amd_pmu_quirk bits (--pmu-quirk-*) */
    unsigned gicv5_pcpus;      /* --gicv5-pcpus N (modelled physical CPUs) */
    bool gicv5_sparse;         /* --gicv5-sparse */
};

struct vmdl_model_info {
    const char *name;
    enum vmdl_arch arch;
    /* x86: "all" attaches the model only on this vendor (-1: any). */
    int vendor;
    const char *summary;
    int (*attach)(struct vmdl_vm *vm, const struct vmdl_model_options *opts);
};

/* All models this build knows, terminated by an entry with name NULL. */
const struct vmdl_model_info *vmdl_models(void);

/*
 * Attach models by a comma-separated list of names, "all" (every model of
 * the VM's architecture and, on x86, vendor: VMX and TDX on Intel, the AMD
 * PMU on AMD) or "none".  Unknown names and models of the other
 * architecture are refused with a message.
 */
int vmdl_attach_models(struct vmdl_vm *vm, const char *list,
                       const struct vmdl_model_options *opts);

#endif
