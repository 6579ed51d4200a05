/* SPDX-License-Identifier: MIT */
/*
 * The model list: attach models to a VM by name, as the harness's --models
 * option does, with the options each model declares (model.h).  Each model
 * also has its own attach function (include/virtmodel/attach_*.h) for
 * callers that want full control.
 */
#ifndef VIRTMODEL_MODELS_H
#define VIRTMODEL_MODELS_H

#include <stdbool.h>
#include <stdint.h>

#include "virtmodel/machine.h"
#include "virtmodel/model.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VMDL_MAX_MODEL_OPTIONS 32

/* Option values given on the command line, by option name (without the
 * dashes); a flag's value is "". */
struct vmdl_model_options {
    unsigned n;
    struct {
        const char *name;
        const char *value;
    } opt[VMDL_MAX_MODEL_OPTIONS];
};

/* Record an option (the strings are not copied).  A repeated option keeps
 * its last value.  VMDL_ENOMEM when the list is full. */
int vmdl_model_options_set(struct vmdl_model_options *o, const char *name,
                           const char *value);
/* The value of an option, or NULL when it was not given (o may be NULL). */
const char *vmdl_model_option(const struct vmdl_model_options *o, const char *name);

/* All models this build knows, terminated by NULL. */
const struct vmdl_model_desc *const *vmdl_models(void);

/* The model that declares option `name` (without the dashes), or NULL. */
const struct vmdl_model_desc *vmdl_model_of_option(const char *name,
                                                   const struct vmdl_model_option **opt);

/*
 * Attach models by a comma-separated list of names, "all" (every model of
 * the VM's architecture and, on x86, vendor: VMX and TDX on Intel, the AMD
 * PMU on AMD) or "none".  Unknown names and models of the other
 * architecture are refused with a message.
 */
int vmdl_attach_models(struct vmdl_vm *vm, const char *list,
                       const struct vmdl_model_options *opts);

#ifdef __cplusplus
}
#endif
#endif
