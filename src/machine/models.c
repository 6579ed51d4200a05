/* SPDX-License-Identifier: MIT */
/*
 * The model list (model_list.h), used by the harness's --models and model
 * options.
 */
#include <string.h>

#include "virtmodel/error.h"
#include "virtmodel/models.h"

#define VMDL_MODEL(x) extern const struct vmdl_model_desc vmdl_##x##_model;
#include "model_list.h"
#undef VMDL_MODEL

static const struct vmdl_model_desc *const models[] = {
#define VMDL_MODEL(x) &vmdl_##x##_model,
#include "model_list.h"
#undef VMDL_MODEL
    NULL,
};

const struct vmdl_model_desc *const *vmdl_models(void)
{
    return models;
}

int vmdl_model_options_set(struct vmdl_model_options *o, const char *name,
                           const char *value)
{
    if (!o || !name || !value)
        return vmdl_fail(VMDL_EINVAL, "vmdl_model_options_set: NULL argument");
    for (unsigned i = 0; i < o->n; i++)
        if (!strcmp(o->opt[i].name, name)) {
            o->opt[i].value = value;
            return VMDL_OK;
        }
    if (o->n == VMDL_MAX_MODEL_OPTIONS)
        return vmdl_fail(VMDL_ENOMEM, "model options: at most %d",
                         VMDL_MAX_MODEL_OPTIONS);
    o->opt[o->n].name = name;
    o->opt[o->n].value = value;
    o->n++;
    return VMDL_OK;
}

const char *vmdl_model_option(const struct vmdl_model_options *o, const char *name)
{
    for (unsigned i = 0; o && i < o->n; i++)
        if (!strcmp(o->opt[i].name, name))
            return o->opt[i].value;
    return NULL;
}

const struct vmdl_model_desc *vmdl_model_of_option(const char *name,
                                                   const struct vmdl_model_option **opt)
{
    for (const struct vmdl_model_desc *const *m = models; *m; m++)
        for (const struct vmdl_model_option *o = (*m)->options; o && o->name; o++)
            if (!strcmp(o->name, name)) {
                if (opt)
                    *opt = o;
                return *m;
            }
    return NULL;
}

static const struct vmdl_model_desc *find(const char *name, size_t len)
{
    for (const struct vmdl_model_desc *const *m = models; *m; m++)
        if (strlen((*m)->name) == len && !strncmp((*m)->name, name, len))
            return *m;
    return NULL;
}

static int attach_all(struct vmdl_vm *vm, const struct vmdl_model_options *opts)
{
    for (const struct vmdl_model_desc *const *m = models; *m; m++) {
        if ((*m)->arch != vmdl_vm_arch(vm) || (*m)->not_in_all ||
            ((*m)->vendor >= 0 && (*m)->vendor != (int)vmdl_vm_vendor(vm)))
            continue;
        int err = (*m)->attach(vm, opts);
        if (err)
            return err;
    }
    return VMDL_OK;
}

int vmdl_attach_models(struct vmdl_vm *vm, const char *list,
                       const struct vmdl_model_options *opts)
{
    if (!vm || !list)
        return vmdl_fail(VMDL_EINVAL, "vmdl_attach_models: NULL argument");
    if (!strcmp(list, "none") || !*list)
        return VMDL_OK;
    if (!strcmp(list, "all"))
        return attach_all(vm, opts);
    const char *p = list;
    while (*p) {
        size_t len = strcspn(p, ",");
        const struct vmdl_model_desc *m = find(p, len);
        if (!m)
            return vmdl_fail(VMDL_ENOENT, "unknown model '%.*s' (see --help for "
                             "the list)", (int)len, p);
        if (m->arch != vmdl_vm_arch(vm))
            return vmdl_fail(VMDL_EINVAL, "model '%s' is for the other "
                             "architecture", m->name);
        int err = m->attach(vm, opts);
        if (err)
            return err;
        p += len;
        if (*p == ',')
            p++;
    }
    return VMDL_OK;
}
