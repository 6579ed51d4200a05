/* SPDX-License-Identifier: MIT */
/*
 * The VM object: guest RAM shared by all vCPUs, the handler registries that
 * models attach to, the CPUID table, resets, and the run loop that schedules
 * the vCPUs and returns KVM-style exits.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "machine_internal.h"
#include "virtmodel/error.h"

double vmdl__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int ram_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
    struct vmdl_vm *vm = opaque;
    void *p = vmdl_vm_ram_ptr(vm, gpa, len);
    if (!p)
        return vmdl_fail(VMDL_ERANGE, "guest memory: 0x%llx+%zu is not RAM",
                         (unsigned long long)gpa, len);
    memcpy(buf, p, len);
    return VMDL_OK;
}

static int ram_write(void *opaque, uint64_t gpa, const void *buf, size_t len)
{
    struct vmdl_vm *vm = opaque;
    void *p = vmdl_vm_ram_ptr(vm, gpa, len);
    if (!p)
        return vmdl_fail(VMDL_ERANGE, "guest memory: 0x%llx+%zu is not RAM",
                         (unsigned long long)gpa, len);
    memcpy(p, buf, len);
    return VMDL_OK;
}

static void default_console(void *opaque, const char *buf, size_t len)
{
    (void)opaque;
    fwrite(buf, 1, len, stdout);
    fflush(stdout);
}

void vmdl__console(struct vmdl_vm *vm, const char *buf, size_t len)
{
    vm->cfg.console(vm->cfg.console_opaque, buf, len);
}

static void default_cpuid(struct vmdl_vm *vm)
{
    static const char intel[12] = "GenuineIntel", amd[12] = "AuthenticAMD";
    const char *v = vm->cfg.vendor == VMDL_VENDOR_AMD ? amd : intel;
    struct vmdl_cpuid_entry e = {0};
    uint32_t w[3];
    memcpy(w, v, 12);
    e.leaf = 0;
    e.eax = 0xD;
    e.ebx = w[0];
    e.edx = w[1];
    e.ecx = w[2];
    vmdl_vm_set_cpuid(vm, &e);
    /* Leaf 1: family 6 (Intel) / 0x19 (AMD); FPU TSC MSR PAE CX8 CMOV PAT
     * FXSR SSE SSE2 in EDX; SSE3 SSSE3 CX16 SSE4.1/4.2 POPCNT and the
     * hypervisor bit in ECX.  APIC and x2APIC bits are the APIC model's. */
    memset(&e, 0, sizeof(e));
    e.leaf = 1;
    e.eax = vm->cfg.vendor == VMDL_VENDOR_AMD ? 0x00A00F11 : 0x000806F8;
    e.edx = (1u << 0) | (1u << 4) | (1u << 5) | (1u << 6) | (1u << 8) |
            (1u << 15) | (1u << 16) | (1u << 24) | (1u << 25) | (1u << 26);
    e.ecx = (1u << 0) | (1u << 9) | (1u << 13) | (1u << 19) | (1u << 20) |
            (1u << 23) | (1u << 31);
    vmdl_vm_set_cpuid(vm, &e);
    memset(&e, 0, sizeof(e));
    e.leaf = 0x80000000;
    e.eax = 0x80000022;
    e.ebx = w[0];
    e.edx = w[1];
    e.ecx = w[2];
    vmdl_vm_set_cpuid(vm, &e);
    memset(&e, 0, sizeof(e));
    e.leaf = 0x80000001;
    e.edx = (1u << 11) | (1u << 20) | (1u << 29); /* SYSCALL NX LM */
    e.ecx = 1u << 0;                               /* LAHF/SAHF */
    vmdl_vm_set_cpuid(vm, &e);
    memset(&e, 0, sizeof(e));
    e.leaf = 0x80000008;
    e.eax = 0x3028; /* 40-bit physical, 48-bit virtual addresses */
    vmdl_vm_set_cpuid(vm, &e);
}

int vmdl_vm_create(const struct vmdl_vm_config *cfg, struct vmdl_vm **out)
{
    if (!cfg || !out)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vm_create: NULL argument");
    *out = NULL;
    if (cfg->arch != VMDL_ARCH_X86_64 && cfg->arch != VMDL_ARCH_ARM64)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vm_create: unknown architecture %d",
                         (int)cfg->arch);
    unsigned n = cfg->nr_vcpus ? cfg->nr_vcpus : 1;
    if (n > VMDL_MAX_VCPUS)
        return vmdl_fail(VMDL_ERANGE, "vmdl_vm_create: %u vCPUs (at most %d)",
                         n, VMDL_MAX_VCPUS);
    uint64_t size = cfg->ram_size ? cfg->ram_size : VMDL_DEFAULT_RAM_SIZE;
    uint64_t base = cfg->ram_base ? cfg->ram_base
                    : cfg->arch == VMDL_ARCH_X86_64 ? VMDL_X86_RAM_BASE
                                                     : VMDL_ARM64_RAM_BASE;
    if (size < (1u << 20) || size > (3ull << 30) || (size & 0xFFF) || (base & 0xFFF))
        return vmdl_fail(VMDL_ERANGE,
                         "vmdl_vm_create: RAM size must be 1 MiB..3 GiB and "
                         "page-aligned (got 0x%llx at 0x%llx)",
                         (unsigned long long)size, (unsigned long long)base);
    if (cfg->arch == VMDL_ARCH_X86_64 && base + size > 0xFEC00000ull)
        return vmdl_fail(VMDL_ERANGE, "vmdl_vm_create: x86 RAM would overlap "
                         "the APIC window at 0xFEC00000");
    if (cfg->arch == VMDL_ARCH_ARM64 && base < VMDL_ARM64_PL011_BASE + 0x1000 &&
        base + size > VMDL_ARM64_PL011_BASE)
        return vmdl_fail(VMDL_ERANGE, "vmdl_vm_create: arm64 RAM overlaps the "
                         "PL011 at 0x09000000");

    struct vmdl_vm *vm = calloc(1, sizeof(*vm));
    if (!vm)
        return vmdl_fail(VMDL_ENOMEM, "vmdl_vm_create: out of memory");
    vm->cfg = *cfg;
    vm->cfg.nr_vcpus = n;
    if (!vm->cfg.quantum)
        vm->cfg.quantum = 100000;
    if (!vm->cfg.console)
        vm->cfg.console = default_console;
    vm->arch = cfg->arch;
    vm->ram_base = base;
    vm->ram_size = size;
    vm->x86_exc_offset = -1;
    pthread_mutex_init(&vm->wd_lock, NULL);
    pthread_cond_init(&vm->wd_cond, NULL);
    int err = VMDL_ENOMEM;
    /* RAM must be host-page aligned for uc_mem_map_ptr. */
    if (posix_memalign((void **)&vm->ram, 4096, size)) {
        vm->ram = NULL;
        goto fail;
    }
    memset(vm->ram, 0, size);
    vm->mem.read = ram_read;
    vm->mem.write = ram_write;
    vm->mem.opaque = vm;
    if (cs_open(vm->arch == VMDL_ARCH_X86_64 ? CS_ARCH_X86 : CS_ARCH_ARM64,
                vm->arch == VMDL_ARCH_X86_64 ? CS_MODE_64 : CS_MODE_ARM,
                &vm->cs) != CS_ERR_OK) {
        err = vmdl_fail(VMDL_EBACKEND, "vmdl_vm_create: Capstone cs_open failed");
        goto fail;
    }
    cs_option(vm->cs, CS_OPT_DETAIL, CS_OPT_ON);
    if (vm->arch == VMDL_ARCH_X86_64)
        default_cpuid(vm);
    for (unsigned i = 0; i < n; i++) {
        struct vmdl_vcpu *vcpu = calloc(1, sizeof(*vcpu));
        if (!vcpu)
            goto fail;
        vcpu->vm = vm;
        vcpu->index = i;
        vcpu->queued_irq = -1;
        vcpu->kick_at = UINT64_MAX;
        vm->vcpus[i] = vcpu;
        vm->nr_vcpus = i + 1;
        err = vm->arch == VMDL_ARCH_X86_64 ? vmdl__x86_vcpu_init(vcpu)
                                           : vmdl__arm64_vcpu_init(vcpu);
        if (err)
            goto fail;
    }
    *out = vm;
    return VMDL_OK;
fail:
    if (err == VMDL_ENOMEM)
        vmdl_fail(err, "vmdl_vm_create: out of memory");
    {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", vmdl_last_error());
        vmdl_vm_destroy(vm);
        vmdl_fail(err, "%s", msg);
    }
    return err;
}

void vmdl_vm_destroy(struct vmdl_vm *vm)
{
    if (!vm)
        return;
    vmdl__watchdog_stop(vm);
    for (unsigned i = vm->nr_destroys; i-- > 0;)
        ((vmdl_destroy_fn)vm->destroys[i].fn)(vm->destroys[i].opaque);
    for (unsigned i = 0; i < vm->nr_vcpus; i++) {
        struct vmdl_vcpu *vcpu = vm->vcpus[i];
        if (!vcpu)
            continue;
        vmdl__count_free(vcpu);
        if (vcpu->ctx)
            uc_context_free(vcpu->ctx);
        if (vcpu->io_ctx)
            uc_context_free(vcpu->io_ctx);
        if (vcpu->uc)
            uc_close(vcpu->uc);
        free(vcpu);
    }
    for (unsigned i = 0; i < vm->nr_images; i++)
        free(vm->images[i].copy);
    if (vm->cs)
        cs_close(&vm->cs);
    free(vm->cpuid);
    free(vm->ram);
    pthread_mutex_destroy(&vm->wd_lock);
    pthread_cond_destroy(&vm->wd_cond);
    free(vm);
}

enum vmdl_arch vmdl_vm_arch(const struct vmdl_vm *vm) { return vm->arch; }
enum vmdl_x86_vendor vmdl_vm_vendor(const struct vmdl_vm *vm) { return vm->cfg.vendor; }
unsigned vmdl_vm_nr_vcpus(const struct vmdl_vm *vm) { return vm->nr_vcpus; }
struct vmdl_vm *vmdl_vcpu_vm(struct vmdl_vcpu *vcpu) { return vcpu->vm; }
unsigned vmdl_vcpu_index(const struct vmdl_vcpu *vcpu) { return vcpu->index; }
const struct vmdl_guest_mem *vmdl_vm_guest_mem(struct vmdl_vm *vm) { return &vm->mem; }
uint64_t vmdl_vm_ram_base(const struct vmdl_vm *vm) { return vm->ram_base; }
uint64_t vmdl_vm_ram_size(const struct vmdl_vm *vm) { return vm->ram_size; }

struct vmdl_vcpu *vmdl_vm_vcpu(struct vmdl_vm *vm, unsigned index)
{
    if (!vm || index >= vm->nr_vcpus) {
        vmdl_fail(VMDL_ERANGE, "vmdl_vm_vcpu: no vCPU %u", index);
        return NULL;
    }
    return vm->vcpus[index];
}

void *vmdl_vm_ram_ptr(struct vmdl_vm *vm, uint64_t gpa, uint64_t len)
{
    if (gpa < vm->ram_base || len > vm->ram_size ||
        gpa - vm->ram_base > vm->ram_size - len)
        return NULL;
    return vm->ram + (gpa - vm->ram_base);
}

/* ---------------- registries ---------------- */

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
};

static uint64_t mmio_read_cb(uc_engine *uc, uint64_t offset, unsigned size,
                             void *user)
{
    (void)uc;
    struct mmio_binding *b = user;
    return b->region->ops->read
               ? b->region->ops->read(b->region->opaque, b->vcpu, offset, size)
               : 0;
}

static void mmio_write_cb(uc_engine *uc, uint64_t offset, unsigned size,
                          uint64_t value, void *user)
{
    (void)uc;
    struct mmio_binding *b = user;
    if (b->region->ops->write)
        b->region->ops->write(b->region->opaque, b->vcpu, offset, size, value);
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
    if (base < vm->ram_base + vm->ram_size && vm->ram_base < base + size)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vm_add_mmio: 0x%llx+0x%llx overlaps RAM",
                         (unsigned long long)base, (unsigned long long)size);
    for (unsigned i = 0; i < vm->nr_mmios; i++)
        if (base < vm->mmios[i].base + vm->mmios[i].size &&
            vm->mmios[i].base < base + size)
            return vmdl_fail(VMDL_EINVAL, "vmdl_vm_add_mmio: overlaps another "
                             "device at 0x%llx", (unsigned long long)vm->mmios[i].base);
    if (vm->nr_mmios == MAX_HANDLERS || vm->nr_destroys + vm->nr_vcpus > MAX_HANDLERS)
        return REGISTRY_FULL("vmdl_vm_add_mmio");
    struct mmio_region *r = &vm->mmios[vm->nr_mmios++];
    *r = (struct mmio_region){base, size, ops, opaque, vm};
    for (unsigned i = 0; i < vm->nr_vcpus; i++) {
        struct mmio_binding *b = calloc(1, sizeof(*b));
        if (!b)
            return vmdl_fail(VMDL_ENOMEM, "vmdl_vm_add_mmio: out of memory");
        b->region = r;
        b->vcpu = vm->vcpus[i];
        vmdl_vm_add_destroy_hook(vm, free_binding, b);
        if (uc_mmio_map(vm->vcpus[i]->uc, base, size, mmio_read_cb, b,
                        mmio_write_cb, b) != UC_ERR_OK)
            return vmdl_fail(VMDL_EBACKEND, "vmdl_vm_add_mmio: uc_mmio_map failed");
    }
    return VMDL_OK;
}

static int add_cb(struct cb_entry *arr, unsigned *n, void *fn, void *opaque,
                  const char *what)
{
    if (!fn)
        return vmdl_fail(VMDL_EINVAL, "%s: NULL function", what);
    if (*n == MAX_HANDLERS)
        return REGISTRY_FULL(what);
    arr[(*n)++] = (struct cb_entry){fn, opaque};
    return VMDL_OK;
}

int vmdl_vm_add_sysreg_handler(struct vmdl_vm *vm, vmdl_sysreg_fn fn, void *opaque)
{
    return add_cb(vm->sysregs, &vm->nr_sysregs, (void *)fn, opaque,
                  "vmdl_vm_add_sysreg_handler");
}

int vmdl_vm_add_hypercall_handler(struct vmdl_vm *vm, vmdl_hypercall_fn fn,
                                  void *opaque)
{
    return add_cb(vm->hypercalls, &vm->nr_hypercalls, (void *)fn, opaque,
                  "vmdl_vm_add_hypercall_handler");
}

int vmdl_vm_add_reset_hook(struct vmdl_vm *vm, vmdl_reset_fn fn, void *opaque)
{
    return add_cb(vm->resets, &vm->nr_resets, (void *)fn, opaque,
                  "vmdl_vm_add_reset_hook");
}

int vmdl_vm_add_destroy_hook(struct vmdl_vm *vm, vmdl_destroy_fn fn, void *opaque)
{
    return add_cb(vm->destroys, &vm->nr_destroys, (void *)fn, opaque,
                  "vmdl_vm_add_destroy_hook");
}

int vmdl_vm_add_time_hook(struct vmdl_vm *vm, const struct vmdl_time_ops *ops,
                          void *opaque)
{
    if (!vm || !ops)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vm_add_time_hook: NULL argument");
    if (vm->nr_times == MAX_HANDLERS)
        return REGISTRY_FULL("vmdl_vm_add_time_hook");
    vm->times[vm->nr_times].ops = ops;
    vm->times[vm->nr_times].opaque = opaque;
    vm->nr_times++;
    return VMDL_OK;
}

int vmdl_vm_set_vmx_handler(struct vmdl_vm *vm, vmdl_x86_insn_fn fn, void *opaque)
{
    if (!vm || vm->arch != VMDL_ARCH_X86_64)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vm_set_vmx_handler: not an x86 VM");
    vm->vmx_fn = fn;
    vm->vmx_opaque = opaque;
    return VMDL_OK;
}

int vmdl_vm_set_seam_handler(struct vmdl_vm *vm, vmdl_x86_insn_fn fn, void *opaque)
{
    if (!vm || vm->arch != VMDL_ARCH_X86_64)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vm_set_seam_handler: not an x86 VM");
    vm->seam_fn = fn;
    vm->seam_opaque = opaque;
    return VMDL_OK;
}

int vmdl_vm_set_irqchip(struct vmdl_vm *vm, const struct vmdl_irqchip_ops *ops,
                        void *opaque)
{
    if (!vm)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vm_set_irqchip: NULL vm");
    if (ops && vm->irqchip)
        return vmdl_fail(VMDL_ESTATE, "vmdl_vm_set_irqchip: an interrupt "
                         "controller is already attached");
    vm->irqchip = ops;
    vm->irqchip_opaque = opaque;
    return VMDL_OK;
}

/* ---------------- CPUID ---------------- */

/* Leaves whose output depends on ECX (subleaf). */
static bool leaf_has_subleaves(uint32_t leaf)
{
    return leaf == 4 || leaf == 7 || leaf == 0xB || leaf == 0xD ||
           leaf == 0xF || leaf == 0x10 || leaf == 0x12 || leaf == 0x14 ||
           leaf == 0x17 || leaf == 0x18 || leaf == 0x1F || leaf == 0x21 ||
           leaf == 0x8000001D || leaf == 0x80000020 || leaf == 0x80000026;
}

int vmdl_vm_set_cpuid(struct vmdl_vm *vm, const struct vmdl_cpuid_entry *e)
{
    if (!vm || !e)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vm_set_cpuid: NULL argument");
    uint32_t sub = leaf_has_subleaves(e->leaf) ? e->subleaf : 0;
    for (unsigned i = 0; i < vm->nr_cpuid; i++)
        if (vm->cpuid[i].leaf == e->leaf && vm->cpuid[i].subleaf == sub) {
            vm->cpuid[i] = *e;
            vm->cpuid[i].subleaf = sub;
            return VMDL_OK;
        }
    if (vm->nr_cpuid == vm->cap_cpuid) {
        unsigned cap = vm->cap_cpuid ? vm->cap_cpuid * 2 : 16;
        void *p = realloc(vm->cpuid, cap * sizeof(*vm->cpuid));
        if (!p)
            return vmdl_fail(VMDL_ENOMEM, "vmdl_vm_set_cpuid: out of memory");
        vm->cpuid = p;
        vm->cap_cpuid = cap;
    }
    vm->cpuid[vm->nr_cpuid] = *e;
    vm->cpuid[vm->nr_cpuid].subleaf = sub;
    vm->nr_cpuid++;
    return VMDL_OK;
}

int vmdl_vm_get_cpuid(struct vmdl_vm *vm, uint32_t leaf, uint32_t subleaf,
                      struct vmdl_cpuid_entry *e)
{
    if (!vm || !e)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vm_get_cpuid: NULL argument");
    uint32_t sub = leaf_has_subleaves(leaf) ? subleaf : 0;
    for (unsigned i = 0; i < vm->nr_cpuid; i++)
        if (vm->cpuid[i].leaf == leaf && vm->cpuid[i].subleaf == sub) {
            *e = vm->cpuid[i];
            return VMDL_OK;
        }
    return VMDL_ENOENT;
}

/* ---------------- image, reset ---------------- */

int vmdl_vm_add_image_range(struct vmdl_vm *vm, uint64_t gpa, uint64_t len)
{
    if (!vm || !len || !vmdl_vm_ram_ptr(vm, gpa, len))
        return vmdl_fail(VMDL_ERANGE, "vmdl_vm_add_image_range: 0x%llx+0x%llx "
                         "is not RAM", (unsigned long long)gpa,
                         (unsigned long long)len);
    if (vm->nr_images == sizeof(vm->images) / sizeof(vm->images[0]))
        return vmdl_fail(VMDL_ENOMEM, "vmdl_vm_add_image_range: too many ranges");
    vm->images[vm->nr_images++] = (struct image_range){gpa, len, NULL};
    return VMDL_OK;
}

int vmdl_vm_set_entry(struct vmdl_vm *vm, uint64_t entry)
{
    if (!vm)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vm_set_entry: NULL vm");
    for (unsigned i = 0; i < vm->nr_images; i++) {
        struct image_range *r = &vm->images[i];
        free(r->copy);
        r->copy = malloc(r->len);
        if (!r->copy)
            return vmdl_fail(VMDL_ENOMEM, "vmdl_vm_set_entry: out of memory");
        memcpy(r->copy, vmdl_vm_ram_ptr(vm, r->gpa, r->len), r->len);
    }
    vm->entry = entry;
    vm->entry_set = true;
    for (unsigned i = 0; i < vm->nr_vcpus; i++) {
        int err = vm->arch == VMDL_ARCH_X86_64
                      ? vmdl__x86_vcpu_reset(vm->vcpus[i], entry)
                      : vmdl__arm64_vcpu_reset(vm->vcpus[i], entry);
        if (err)
            return err;
    }
    return VMDL_OK;
}

int vmdl_vm_reset(struct vmdl_vm *vm)
{
    if (!vm || !vm->entry_set)
        return vmdl_fail(VMDL_ESTATE, "vmdl_vm_reset: no image entry set");
    for (unsigned i = 0; i < vm->nr_images; i++) {
        struct image_range *r = &vm->images[i];
        memcpy(vmdl_vm_ram_ptr(vm, r->gpa, r->len), r->copy, r->len);
    }
    for (unsigned i = 0; i < vm->nr_vcpus; i++) {
        struct vmdl_vcpu *vcpu = vm->vcpus[i];
        int err = vm->arch == VMDL_ARCH_X86_64
                      ? vmdl__x86_vcpu_reset(vcpu, vm->entry)
                      : vmdl__arm64_vcpu_reset(vcpu, vm->entry);
        if (err)
            return err;
    }
    vm->reset_count++;
    for (unsigned i = 0; i < vm->nr_resets; i++)
        ((vmdl_reset_fn)vm->resets[i].fn)(vm->resets[i].opaque, vm);
    return VMDL_OK;
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
