/* SPDX-License-Identifier: MIT */
/* The registry of attachable models, used by the harness's --models. */
#include <string.h>

#include "virtmodel/error.h"
#include "virtmodel/models.h"

static const struct vmdl_model_info models[] = {
    {NULL, 0, NULL, NULL},
};

const struct vmdl_model_info *vmdl_models(void)
{
    return models;
}

static const struct vmdl_model_info *find(const char *name, size_t len)
{
    for (const struct vmdl_model_info *m = models; m->name; m++)
        if (strlen(m->name) == len && !strncmp(m->name, name, len))
            return m;
    return NULL;
}

int vmdl_attach_models(struct vmdl_vm *vm, const char *list,
                       const struct vmdl_model_options *opts)
{
    static const struct vmdl_model_options none = {0};
    if (!vm || !list)
        return vmdl_fail(VMDL_EINVAL, "vmdl_attach_models: NULL argument");
    if (!opts)
        opts = &none;
    if (!strcmp(list, "none") || !*list)
        return VMDL_OK;
    if (!strcmp(list, "all")) {
        for (const struct vmdl_model_info *m = models; m->name; m++) {
            if (m->arch != vmdl_vm_arch(vm))
                continue;
            int err = m->attach(vm, opts);
            if (err)
                return err;
        }
        return VMDL_OK;
    }
    const char *p = list;
    while (*p) {
        size_t len = strcspn(p, ",");
        const struct vmdl_model_info *m = find(p, len);
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
