/* SPDX-License-Identifier: MIT */
/*
 * The VM's routing tables: which model (or caller-registered handler) serves
 * an MSR, a port, an MMIO window, a system register, a hypercall, a VMX or
 * SEAM instruction, and the hooks run on reset, destroy and checkpoints.
 * vmdl_vm_add_model() fills them from a model's description (model.h).
 */
#include <stdlib.h>
#include <string.h>

#include "arch_ops.h"
#include "virtmodel/error.h"

#define REGISTRY_FULL(what) \
    vmdl_fail(VMDL_ENOMEM, "%s: too many handlers (at most %d)", what, MAX_HANDLERS)

int vmdl_vm_add_msr_range(struct vmdl_vm *vm, uint32_t first, uint32_t last,
                          const struct vmdl_msr_ops *ops, void *opaque)
{
    if (!vm || !ops || first > last)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vm_add_msr_range: bad argument");
    if (vm->nr_msrs == MAX_HANDLERS)
        return REGISTRY_FULL("vmdl_vm_add_msr_range");
    vm->msrs[vm->nr_msrs++] = (struct msr_range){first, last, ops, opaque};
    return VMDL_OK;
}

struct msr_range *vmdl__find_msr(struct vmdl_vm *vm, uint32_t index)
{
    for (unsigned i = vm->nr_msrs; i-- > 0;)
        if (index >= vm->msrs[i].first && index <= vm->msrs[i].last)
            return &vm->msrs[i];
    return NULL;
}

int vmdl_vm_add_io_range(struct vmdl_vm *vm, uint16_t first, uint16_t last,
                         const struct vmdl_io_ops *ops, void *opaque)
{
    if (!vm || !ops || first > last)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vm_add_io_range: bad argument");
    if (vm->nr_ios == MAX_HANDLERS)
        return REGISTRY_FULL("vmdl_vm_add_io_range");
    vm->ios[vm->nr_ios++] = (struct io_range){first, last, ops, opaque};
    return VMDL_OK;
}

struct io_range *vmdl__find_io(struct vmdl_vm *vm, uint16_t port)
{
    for (unsigned i = vm->nr_ios; i-- > 0;)
        if (port >= vm->ios[i].first && port <= vm->ios[i].last)
            return &vm->ios[i];
    return NULL;
}

struct mmio_binding {
    struct mmio_region *region;
    struct vmdl_vcpu *vcpu;
    uint64_t at;    /* where this vCPU's engine maps the region */
};

static uint64_t mmio_read_cb(uc_engine *uc, uint64_t offset, unsigned size,
                             void *user)
{
    (void)uc;
    struct mmio_binding *b = user;
    const struct vmdl_arch_ops *a = b->vcpu->vm->arch_ops;
    if (a->mmio_cost)
        a->mmio_cost(b->vcpu, b->at + offset, false);
    if (a->device_enter)
        a->device_enter(b->vcpu);
    uint64_t val = b->region->ops->read
                       ? b->region->ops->read(b->region->opaque, b->vcpu, offset, size)
                       : 0;
    if (a->device_leave)
        a->device_leave(b->vcpu);
    return val;
}

static void mmio_write_cb(uc_engine *uc, uint64_t offset, unsigned size,
                          uint64_t value, void *user)
{
    (void)uc;
    struct mmio_binding *b = user;
    const struct vmdl_arch_ops *a = b->vcpu->vm->arch_ops;
    if (a->mmio_cost)
        a->mmio_cost(b->vcpu, b->at + offset, true);
    if (a->device_enter)
        a->device_enter(b->vcpu);
    if (b->region->ops->write)
        b->region->ops->write(b->region->opaque, b->vcpu, offset, size, value);
    if (a->device_leave)
        a->device_leave(b->vcpu);
    /* A device write (an ICR write, an EOI, a TPR change) may have made an
     * interrupt deliverable: let the run loop look at it. */
    struct vmdl_vm *vm = b->vcpu->vm;
    if (vm->irqchip)
        vmdl_vcpu_request_exit(b->vcpu);
}

static void free_binding(void *p) { free(p); }

int vmdl_vm_add_mmio(struct vmdl_vm *vm, uint64_t base, uint64_t size,
                     const struct vmdl_mmio_ops *ops, void *opaque)
{
    if (!vm || !ops || !size || (base & 0xFFF) || (size & 0xFFF))
        return vmdl_fail(VMDL_EINVAL, "vmdl_vm_add_mmio: region must be "
                         "non-empty and page-aligned");
    struct vmdl_ram_range ram[VMDL_MAX_RAM_RANGES];
    for (unsigned i = 0, n = vmdl_vm_ram_ranges(vm, ram); i < n; i++)
        if (base < ram[i].gpa + ram[i].size && ram[i].gpa < base + size)
            return vmdl_fail(VMDL_EINVAL, "vmdl_vm_add_mmio: 0x%llx+0x%llx overlaps RAM",
                             (unsigned long long)base, (unsigned long long)size);
    for (unsigned i = 0; i < vm->nr_mmios; i++)
        if (base < vm->mmios[i].base + vm->mmios[i].size &&
            vm->mmios[i].base < base + size)
            return vmdl_fail(VMDL_EINVAL, "vmdl_vm_add_mmio: overlaps another "
                             "device at 0x%llx", (unsigned long long)vm->mmios[i].base);
    if (vm->nr_mmios == MAX_HANDLERS || vm->nr_destroys == MAX_HANDLERS)
        return REGISTRY_FULL("vmdl_vm_add_mmio");
    /* One binding per vCPU, in one allocation with one destroy hook (a hook
     * per binding filled the table once a VM had 32 vCPUs). */
    struct mmio_binding *b = calloc(vm->nr_vcpus, sizeof(*b));
    if (!b)
        return vmdl_fail(VMDL_ENOMEM, "vmdl_vm_add_mmio: out of memory");
    vmdl__add_destroy_hook(vm, free_binding, b);
    struct mmio_region *r = &vm->mmios[vm->nr_mmios++];
    *r = (struct mmio_region){base, size, ops, opaque, vm, b};
    for (unsigned i = 0; i < vm->nr_vcpus; i++) {
        b[i].region = r;
        b[i].vcpu = vm->vcpus[i];
        b[i].at = base;
        if (uc_mmio_map(vm->vcpus[i]->uc, base, size, mmio_read_cb, &b[i],
                        mmio_write_cb, &b[i]) != UC_ERR_OK)
            return vmdl_fail(VMDL_EBACKEND, "vmdl_vm_add_mmio: uc_mmio_map failed");
    }
    return VMDL_OK;
}

uint64_t vmdl__mmio_at(const struct mmio_region *r, const struct vmdl_vcpu *vcpu)
{
    return r->bind[vcpu->index].at;
}

/* Does gpa..gpa+size overlap RAM or a device window of this vCPU? */
static bool window_taken(struct vmdl_vcpu *vcpu, const struct mmio_region *self,
                         uint64_t gpa, uint64_t size)
{
    struct vmdl_vm *vm = vcpu->vm;
    struct vmdl_ram_range ram[VMDL_MAX_RAM_RANGES];
    for (unsigned i = 0, n = vmdl_vm_ram_ranges(vm, ram); i < n; i++)
        if (gpa < ram[i].gpa + ram[i].size && ram[i].gpa < gpa + size)
            return true;
    for (unsigned i = 0; i < vm->nr_mmios; i++) {
        const struct mmio_region *r = &vm->mmios[i];
        uint64_t at = vmdl__mmio_at(r, vcpu);
        if (r != self && gpa < at + r->size && at < gpa + size)
            return true;
    }
    return false;
}

/*
 * Move one vCPU's view of a device window (KVM decodes each local APIC at
 * its own vCPU's IA32_APIC_BASE).  Anything else mapped there in this
 * vCPU's engine can only be a page of unassigned memory a hosted guest
 * touched before (x86/vcpu.c): the device replaces it.
 */
int vmdl_vcpu_move_mmio(struct vmdl_vcpu *vcpu, uint64_t base, uint64_t new_base)
{
    if (!vcpu || (new_base & 0xFFF))
        return vmdl_fail(VMDL_EINVAL, "vmdl_vcpu_move_mmio: NULL vCPU or unaligned "
                         "base 0x%llx", (unsigned long long)new_base);
    struct vmdl_vm *vm = vcpu->vm;
    struct mmio_region *r = NULL;
    for (unsigned i = 0; i < vm->nr_mmios && !r; i++)
        if (vm->mmios[i].base == base)
            r = &vm->mmios[i];
    if (!r)
        return vmdl_fail(VMDL_ENOENT, "vmdl_vcpu_move_mmio: no device window "
                         "registered at 0x%llx", (unsigned long long)base);
    struct mmio_binding *b = &r->bind[vcpu->index];
    if (b->at == new_base)
        return VMDL_OK;
    if (new_base + r->size < new_base || window_taken(vcpu, r, new_base, r->size))
        return vmdl_fail(VMDL_EINVAL, "vmdl_vcpu_move_mmio: 0x%llx+0x%llx overlaps "
                         "RAM or another device", (unsigned long long)new_base,
                         (unsigned long long)r->size);
    uc_engine *uc = vcpu->uc;
    for (uint64_t p = new_base; p < new_base + r->size; p += 0x1000)
        uc_mem_unmap(uc, p, 0x1000);            /* unassigned pages, if any */
    if (uc_mem_unmap(uc, b->at, r->size) != UC_ERR_OK ||
        uc_mmio_map(uc, new_base, r->size, mmio_read_cb, b, mmio_write_cb, b) != UC_ERR_OK)
        return vmdl_fail(VMDL_EBACKEND, "vmdl_vcpu_move_mmio: engine remap failed");
    b->at = new_base;
    /* Translations of the old and new pages are stale (also virtual ones). */
    uc_ctl_flush_tlb(uc);
    return VMDL_OK;
}

#define ADD(arr, n, entry, what)                 \
    do {                                         \
        if ((n) == MAX_HANDLERS)                 \
            return REGISTRY_FULL(what);          \
        (arr)[(n)++] = entry;                    \
    } while (0)

int vmdl_vm_add_sysreg_handler(struct vmdl_vm *vm, vmdl_sysreg_fn fn, void *opaque)
{
    if (!vm || !fn)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vm_add_sysreg_handler: NULL argument");
    ADD(vm->sysregs, vm->nr_sysregs, ((struct sysreg_handler){fn, opaque}),
        "vmdl_vm_add_sysreg_handler");
    return VMDL_OK;
}

int vmdl__add_hypercall(struct vmdl_vm *vm, vmdl_hypercall_fn fn, void *opaque)
{
    ADD(vm->hypercalls, vm->nr_hypercalls, ((struct hypercall_handler){fn, opaque}),
        "hypercall handlers");
    return VMDL_OK;
}

int vmdl__add_reset_hook(struct vmdl_vm *vm, vmdl_reset_fn fn, void *opaque)
{
    ADD(vm->resets, vm->nr_resets, ((struct reset_hook){fn, opaque}), "reset hooks");
    return VMDL_OK;
}

int vmdl__add_destroy_hook(struct vmdl_vm *vm, vmdl_destroy_fn fn, void *opaque)
{
    ADD(vm->destroys, vm->nr_destroys, ((struct destroy_hook){fn, opaque}),
        "destroy hooks");
    return VMDL_OK;
}

int vmdl__add_time_hook(struct vmdl_vm *vm, const struct vmdl_time_ops *ops,
                        void *opaque)
{
    ADD(vm->times, vm->nr_times, ((struct time_hook){ops, opaque}), "time hooks");
    return VMDL_OK;
}

int vmdl__set_insn_handler(struct vmdl_vm *vm, enum vmdl_insn_family family,
                           vmdl_x86_insn_fn fn, void *opaque)
{
    if (!(vm->arch_ops->insn_families & (1u << family)))
        return vmdl_fail(VMDL_EINVAL, "%s instructions: not an x86 VM",
                         family == VMDL_INSNS_SEAM ? "SEAM" : "VMX");
    struct insn_handler *h = family == VMDL_INSNS_SEAM ? &vm->seam : &vm->vmx;
    *h = (struct insn_handler){fn, opaque};
    return VMDL_OK;
}

int vmdl_vm_set_vmx_handler(struct vmdl_vm *vm, vmdl_x86_insn_fn fn, void *opaque)
{
    if (!vm)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vm_set_vmx_handler: NULL vm");
    return vmdl__set_insn_handler(vm, VMDL_INSNS_VMX, fn, opaque);
}

int vmdl_vm_set_x86_event_hook(struct vmdl_vm *vm, vmdl_x86_event_fn fn, void *opaque)
{
    if (!vm)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vm_set_x86_event_hook: NULL vm");
    if (vm->arch != VMDL_ARCH_X86_64)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vm_set_x86_event_hook: not an x86 VM");
    vm->x86_event.fn = fn;
    vm->x86_event.opaque = opaque;
    return VMDL_OK;
}

int vmdl__set_dr_handler(struct vmdl_vm *vm, vmdl_x86_dr_fn fn, void *opaque)
{
    if (vm->arch != VMDL_ARCH_X86_64)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vm_add_model: MOV DR handler on a "
                         "VM that is not x86");
    if (vm->dr.fn)
        return vmdl_fail(VMDL_ESTATE, "vmdl_vm_add_model: a MOV DR handler is "
                         "already attached");
    vm->dr = (struct dr_handler){fn, opaque};
    return VMDL_OK;
}

int vmdl__add_switch_hook(struct vmdl_vm *vm, vmdl_world_switch_fn fn, void *opaque)
{
    ADD(vm->switches, vm->nr_switches, ((struct switch_hook){fn, opaque}),
        "world-switch hooks");
    return VMDL_OK;
}

void vmdl__world_switch_hooks(struct vmdl_vcpu *v, bool entering)
{
    struct vmdl_vm *vm = v->vm;
    for (unsigned i = 0; i < vm->nr_switches; i++)
        vm->switches[i].fn(vm->switches[i].opaque, v, entering);
}

int vmdl__set_irqchip(struct vmdl_vm *vm, const struct vmdl_irqchip_ops *ops,
                      void *opaque)
{
    if (ops && vm->irqchip)
        return vmdl_fail(VMDL_ESTATE, "vmdl_vm_add_model: an interrupt "
                         "controller is already attached");
    vm->irqchip = ops;
    vm->irqchip_opaque = opaque;
    return VMDL_OK;
}

int vmdl__add_state_hook(struct vmdl_vm *vm, const char *name,
                         vmdl_state_save_fn save, vmdl_state_load_fn load,
                         void *opaque)
{
    if (!name || !*name || !save || !load || strlen(name) >= 32)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vm_add_model: a model with "
                         "checkpoint hooks needs both and a name under 32 bytes");
    for (unsigned i = 0; i < vm->nr_states; i++)
        if (!strcmp(vm->states[i].name, name))
            return vmdl_fail(VMDL_EINVAL, "vmdl_vm_add_model: '%s' is "
                             "registered already", name);
    if (vm->nr_states == MAX_HANDLERS)
        return REGISTRY_FULL("checkpoint hooks");
    struct state_hook *h = &vm->states[vm->nr_states++];
    snprintf(h->name, sizeof(h->name), "%s", name);
    h->save = save;
    h->load = load;
    h->opaque = opaque;
    return VMDL_OK;
}

/* ---------------- routing ---------------- */

bool vmdl__route_hypercall(struct vmdl_vcpu *vcpu, uint16_t imm, bool is_smc)
{
    struct vmdl_vm *vm = vcpu->vm;
    for (unsigned i = 0; i < vm->nr_hypercalls; i++)
        if (vm->hypercalls[i].fn(vm->hypercalls[i].opaque, vcpu, imm, is_smc))
            return true;
    return false;
}

void vmdl__run_reset_hooks(struct vmdl_vm *vm)
{
    for (unsigned i = 0; i < vm->nr_resets; i++)
        vm->resets[i].fn(vm->resets[i].opaque, vm);
}

void vmdl__run_destroy_hooks(struct vmdl_vm *vm)
{
    for (unsigned i = vm->nr_destroys; i-- > 0;)
        vm->destroys[i].fn(vm->destroys[i].opaque);
}

/* ---------------- models ---------------- */

static int add_model_ranges(struct vmdl_vm *vm, const struct vmdl_model_desc *d,
                            void *model)
{
    int err = VMDL_OK;
    for (unsigned i = 0; !err && i < d->nr_msrs; i++)
        err = vmdl_vm_add_msr_range(vm, d->msrs[i].first, d->msrs[i].last,
                                    d->msr_ops, model);
    for (unsigned i = 0; !err && i < d->nr_ports; i++)
        err = vmdl_vm_add_io_range(vm, d->ports[i].first, d->ports[i].last,
                                   d->io_ops, model);
    for (unsigned i = 0; !err && i < d->nr_mmio; i++)
        err = vmdl_vm_add_mmio(vm, d->mmio[i].base, d->mmio[i].size, d->mmio_ops,
                               model);
    return err;
}

/* What only one model may hold, or must be unique, goes first: a second
 * interrupt controller (or a duplicate name) is refused before anything
 * of it is registered. */
static int add_model_exclusive(struct vmdl_vm *vm, const struct vmdl_model_desc *d,
                               void *model)
{
    int err = VMDL_OK;
    if (!err && d->irqchip)
        err = vmdl__set_irqchip(vm, d->irqchip, model);
    if (!err && d->dr)
        err = vmdl__set_dr_handler(vm, d->dr, model);
    if (!err && (d->save || d->load))
        err = vmdl__add_state_hook(vm, d->name, d->save, d->load, model);
    return err;
}

static int add_model_handlers(struct vmdl_vm *vm, const struct vmdl_model_desc *d,
                              void *model)
{
    int err = VMDL_OK;
    if (!err && d->insn)
        err = vmdl__set_insn_handler(vm, d->insn_family, d->insn, model);
    if (!err && d->sysreg)
        err = vmdl_vm_add_sysreg_handler(vm, d->sysreg, model);
    if (!err && d->hypercall)
        err = vmdl__add_hypercall(vm, d->hypercall, model);
    if (!err && d->time)
        err = vmdl__add_time_hook(vm, d->time, model);
    if (!err && d->reset)
        err = vmdl__add_reset_hook(vm, d->reset, model);
    if (!err && d->world_switch)
        err = vmdl__add_switch_hook(vm, d->world_switch, model);
    return err;
}

int vmdl_vm_add_model(struct vmdl_vm *vm, const struct vmdl_model_desc *desc,
                      void *model)
{
    if (!vm || !desc || !desc->name) {
        if (desc && desc->destroy)
            desc->destroy(model);
        return vmdl_fail(VMDL_EINVAL, "vmdl_vm_add_model: NULL argument");
    }
    if (desc->destroy && vmdl__add_destroy_hook(vm, desc->destroy, model)) {
        desc->destroy(model);
        return VMDL_ENOMEM;
    }
    /* From here on the instance is freed with the VM. */
    if (desc->arch != vm->arch)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vm_add_model: model '%s' is for "
                         "an %s VM", desc->name, vmdl_arch_name(desc->arch));
    if (vm->nr_models == MAX_HANDLERS)
        return REGISTRY_FULL("vmdl_vm_add_model");
    vm->models[vm->nr_models].desc = desc;
    vm->models[vm->nr_models++].opaque = model;
    int err = add_model_exclusive(vm, desc, model);
    if (!err)
        err = add_model_handlers(vm, desc, model);
    return err ? err : add_model_ranges(vm, desc, model);
}

void *vmdl_vm_find_model(struct vmdl_vm *vm, const struct vmdl_model_desc *desc)
{
    for (unsigned i = 0; vm && i < vm->nr_models; i++)
        if (vm->models[i].desc == desc)
            return vm->models[i].opaque;
    return NULL;
}

/* Unicorn's unmapped-memory hook, for both architectures: record the access
 * (unless an earlier stop wins) and stop the engine at once; the vCPU code
 * then decides between a device exit and an architectural fault. */
bool vmdl__unmapped_cb(uc_engine *uc, uc_mem_type type, uint64_t addr, int size,
                       int64_t value, void *user)
{
    (void)uc;
    struct vmdl_vcpu *v = user;
    if (v->stop != STOP_NONE && v->stop != STOP_KICK)
        return false;
    memset(&v->exit, 0, sizeof(v->exit));
    v->exit.u.mmio.addr = addr;
    v->exit.u.mmio.size = (uint8_t)size;
    v->exit.u.mmio.is_write = type == UC_MEM_WRITE_UNMAPPED;
    v->exit.u.mmio.data = (uint64_t)value;
    v->stop = STOP_MMIO;
    v->stop_vector = type;
    return false;
}
