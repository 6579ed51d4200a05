/* SPDX-License-Identifier: MIT */
/*
 * The VM object: guest RAM shared by all vCPUs, the handler registries that
 * models attach to, the CPUID table, resets, and the run loop that schedules
 * the vCPUs and returns KVM-style exits.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "arch_ops.h"
#include "virtmodel/error.h"

double vmdl__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/*
 * Capstone 4's x86 Intel printer sorts a process-wide table the first time
 * any handle prints an instruction (X86_insn_reg_intel's lazily sorted copy),
 * with no lock: two VMs created on two threads race on it (ThreadSanitizer
 * reports it in tsan_eight_vms). Printing one instruction once, under
 * pthread_once, before any VM has a handle settles the table for every
 * later handle, whatever its architecture.
 */
static void warm_capstone_x86_printer(void)
{
    static const uint8_t in_al_dx[] = { 0xEC };
    csh h;
    cs_insn *insn;
    if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK)
        return;
    size_t n = cs_disasm(h, in_al_dx, sizeof(in_al_dx), 0, 1, &insn);
    if (n)
        cs_free(insn, n);
    cs_close(&h);
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

/* Check the configuration; fills the RAM layout. */
static int check_config(const struct vmdl_vm_config *cfg,
                        const struct vmdl_arch_ops *ops, uint64_t *base,
                        uint64_t *size, uint64_t *low)
{
    unsigned n = cfg->nr_vcpus ? cfg->nr_vcpus : 1;
    if (n > VMDL_MAX_VCPUS)
        return vmdl_fail(VMDL_ERANGE, "vmdl_vm_create: %u vCPUs (at most %d)",
                         n, VMDL_MAX_VCPUS);
    if (cfg->vtime_set && !vmdl__vtime_weights_ok(&cfg->vtime))
        return vmdl_fail(VMDL_EINVAL, "vmdl_vm_create: virtual-time weights pause %u / "
                         "exit %u / serialize %u / rdtsc %u / flush %u cycles: each must be "
                         "at most %u", cfg->vtime.pause_cycles, cfg->vtime.exit_cycles,
                         cfg->vtime.serialize_cycles, cfg->vtime.rdtsc_cycles,
                         cfg->vtime.flush_cycles, VMDL_VTIME_MAX_WEIGHT);
    *size = cfg->ram_size ? cfg->ram_size : VMDL_DEFAULT_RAM_SIZE;
    *base = cfg->ram_base ? cfg->ram_base : ops->default_ram_base;
    /* The upper bound is the architecture's layout (check_layout): x86 RAM
     * ends below the APIC window or is split around the PCI hole, arm64 RAM
     * may go past 4 GiB. */
    if (*size < (1u << 20) || (*size & 0xFFF) || (*base & 0xFFF) || *base + *size < *base)
        return vmdl_fail(VMDL_ERANGE,
                         "vmdl_vm_create: RAM size must be at least 1 MiB and "
                         "page-aligned (got 0x%llx at 0x%llx)",
                         (unsigned long long)*size, (unsigned long long)*base);
    return ops->check_layout(*base, *size, low);
}

/* RAM, the memory view models use, Capstone, the architecture's defaults. */
static int setup_vm(struct vmdl_vm *vm)
{
    /* RAM must be host-page aligned for uc_mem_map_ptr.  An anonymous
     * mapping is zero and lazy: a page costs host memory only once the guest
     * (or the loader) touches it, so a 4 GiB guest that uses 1 MiB costs
     * about 1 MiB (docs/performance.md); NORESERVE keeps large guests from
     * being refused up front under strict overcommit accounting. */
    void *ram = mmap(NULL, vm->ram_size, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (ram == MAP_FAILED)
        return vmdl_fail(VMDL_ENOMEM, "vmdl_vm_create: cannot map %llu bytes of guest RAM",
                         (unsigned long long)vm->ram_size);
    vm->ram = ram;
    vm->mem.read = ram_read;
    vm->mem.write = ram_write;
    vm->mem.opaque = vm;
    static pthread_once_t capstone_once = PTHREAD_ONCE_INIT;
    pthread_once(&capstone_once, warm_capstone_x86_printer);
    if (cs_open(vm->arch_ops->cs_arch, vm->arch_ops->cs_mode, &vm->cs) != CS_ERR_OK)
        return vmdl_fail(VMDL_EBACKEND, "vmdl_vm_create: Capstone cs_open failed");
    cs_option(vm->cs, CS_OPT_DETAIL, CS_OPT_ON);
    if (vm->arch_ops->vm_init)
        vm->arch_ops->vm_init(vm);
    return VMDL_OK;
}

static int add_vcpu(struct vmdl_vm *vm, unsigned i)
{
    struct vmdl_vcpu *vcpu = calloc(1, vm->arch_ops->vcpu_size);
    if (!vcpu)
        return vmdl_fail(VMDL_ENOMEM, "vmdl_vm_create: out of memory");
    vcpu->vm = vm;
    vcpu->index = i;
    vcpu->queued_irq = -1;
    vcpu->kick_at = UINT64_MAX;
    vm->vcpus[i] = vcpu;
    vm->nr_vcpus = i + 1;
    return vm->arch_ops->vcpu_init(vcpu);
}

int vmdl_vm_create(const struct vmdl_vm_config *cfg, struct vmdl_vm **out)
{
    if (!cfg || !out)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vm_create: NULL argument");
    *out = NULL;
    const struct vmdl_arch_ops *ops = vmdl__arch_ops(cfg->arch);
    if (!ops)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vm_create: unknown architecture %d",
                         (int)cfg->arch);
    uint64_t base = 0, size = 0, low = 0;
    int err = check_config(cfg, ops, &base, &size, &low);
    if (err)
        return err;
    struct vmdl_vm *vm = calloc(1, sizeof(*vm));
    if (!vm)
        return vmdl_fail(VMDL_ENOMEM, "vmdl_vm_create: out of memory");
    vm->cfg = *cfg;
    vm->cfg.nr_vcpus = cfg->nr_vcpus ? cfg->nr_vcpus : 1;
    vm->quantum_defaulted = !vm->cfg.quantum;
    if (!vm->cfg.vtime_set)
        vm->cfg.vtime = (struct vmdl_vtime_weights){ 0, 0, 0, 0, 0 };
    if (!vm->cfg.quantum)
        vm->cfg.quantum = 100000;
    if (!vm->cfg.console)
        vm->cfg.console = default_console;
    vm->arch = cfg->arch;
    vm->arch_ops = ops;
    vm->ram_base = base;
    vm->ram_size = size;
    vm->ram_low = low;
    vm->ram_high_base = low < size ? VMDL_X86_RAM_ABOVE_4G : 0;
    pthread_mutex_init(&vm->wd_lock, NULL);
    pthread_cond_init(&vm->wd_cond, NULL);
    err = setup_vm(vm);
    for (unsigned i = 0; !err && i < vm->cfg.nr_vcpus; i++)
        err = add_vcpu(vm, i);
    if (err) {
        /* Keep the first failure's message across the teardown. */
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", vmdl_last_error());
        vmdl_vm_destroy(vm);
        return vmdl_fail(err, "%s", msg);
    }
    *out = vm;
    return VMDL_OK;
}

void vmdl_vm_destroy(struct vmdl_vm *vm)
{
    if (!vm)
        return;
    vmdl__watchdog_stop(vm);
    vmdl__run_destroy_hooks(vm);
    vmdl__debug_free(vm);
    for (unsigned i = 0; i < vm->nr_vcpus; i++) {
        struct vmdl_vcpu *vcpu = vm->vcpus[i];
        if (!vcpu)
            continue;
        vmdl__count_free(vcpu);
        vm->arch_ops->vcpu_free(vcpu);
        if (vcpu->uc)
            uc_close(vcpu->uc);
        free(vcpu);
    }
    for (unsigned i = 0; i < vm->nr_images; i++)
        free(vm->images[i].copy);
    if (vm->cs)
        cs_close(&vm->cs);
    free(vm->cpuid);
    if (vm->ram)
        munmap(vm->ram, vm->ram_size);
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

unsigned vmdl_vm_ram_ranges(const struct vmdl_vm *vm,
                            struct vmdl_ram_range out[VMDL_MAX_RAM_RANGES])
{
    out[0] = (struct vmdl_ram_range){vm->ram_base, vm->ram_low};
    if (vm->ram_low == vm->ram_size)
        return 1;
    out[1] = (struct vmdl_ram_range){vm->ram_high_base, vm->ram_size - vm->ram_low};
    return 2;
}

uint8_t *vmdl__ram_span(struct vmdl_vm *vm, uint64_t gpa, uint64_t *left)
{
    uint64_t off;
    if (gpa >= vm->ram_base && gpa - vm->ram_base < vm->ram_low)
        off = gpa - vm->ram_base;
    else if (vm->ram_low < vm->ram_size && gpa >= vm->ram_high_base &&
             gpa - vm->ram_high_base < vm->ram_size - vm->ram_low)
        off = vm->ram_low + (gpa - vm->ram_high_base);
    else
        return NULL;
    *left = (off < vm->ram_low ? vm->ram_low : vm->ram_size) - off;
    return vm->ram + off;
}

void *vmdl_vm_ram_ptr(struct vmdl_vm *vm, uint64_t gpa, uint64_t len)
{
    uint64_t left = 0;
    uint8_t *p = vmdl__ram_span(vm, gpa, &left);
    return p && len <= left ? p : NULL;
}

void vmdl__ram_describe(const struct vmdl_vm *vm, char *buf, size_t n)
{
    struct vmdl_ram_range r[VMDL_MAX_RAM_RANGES];
    unsigned k = vmdl_vm_ram_ranges(vm, r);
    if (k == 1)
        snprintf(buf, n, "0x%llx-0x%llx", (unsigned long long)r[0].gpa,
                 (unsigned long long)(r[0].gpa + r[0].size - 1));
    else
        snprintf(buf, n, "0x%llx-0x%llx and 0x%llx-0x%llx", (unsigned long long)r[0].gpa,
                 (unsigned long long)(r[0].gpa + r[0].size - 1),
                 (unsigned long long)r[1].gpa,
                 (unsigned long long)(r[1].gpa + r[1].size - 1));
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

int vmdl__refresh_image_range(struct vmdl_vm *vm, uint64_t gpa, uint64_t len)
{
    struct image_range *r = NULL;
    for (unsigned i = 0; i < vm->nr_images && !r; i++)
        if (vm->images[i].gpa == gpa)
            r = &vm->images[i];
    if (!r) {
        int err = vmdl_vm_add_image_range(vm, gpa, len);
        if (err)
            return err;
        r = &vm->images[vm->nr_images - 1];
    }
    const uint8_t *src = vmdl_vm_ram_ptr(vm, gpa, len);
    if (!src)
        return vmdl_fail(VMDL_ERANGE, "image range 0x%llx+0x%llx is not RAM",
                         (unsigned long long)gpa, (unsigned long long)len);
    r->len = len;
    if (!vm->entry_set)
        return VMDL_OK;          /* vmdl_vm_set_entry takes the copy */
    uint8_t *copy = realloc(r->copy, len);
    if (!copy)
        return vmdl_fail(VMDL_ENOMEM, "image range: out of memory");
    memcpy(copy, src, len);
    r->copy = copy;
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
        int err = vm->arch_ops->vcpu_reset(vm->vcpus[i], entry);
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
        int err = vm->arch_ops->vcpu_reset(vcpu, vm->entry);
        if (err)
            return err;
    }
    vm->reset_count++;
    vmdl__run_reset_hooks(vm);
    return VMDL_OK;
}


const struct vmdl_arch_ops *vmdl__arch_ops(enum vmdl_arch arch)
{
    switch (arch) {
    case VMDL_ARCH_X86_64: return &vmdl__x86_ops;
    case VMDL_ARCH_ARM64: return &vmdl__arm64_ops;
    default: return NULL;
    }
}

const struct vmdl_arch_reg *vmdl__arch_reg(const struct vmdl_arch_ops *ops,
                                           enum vmdl_reg reg)
{
    /* The table is in id order without gaps. */
    unsigned i = (unsigned)reg - (unsigned)ops->regs[0].id;
    return i < ops->nr_regs && ops->regs[i].id == reg ? &ops->regs[i] : NULL;
}
