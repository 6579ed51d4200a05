/* SPDX-License-Identifier: MIT */
/*
 * arm64 boot (include/virtmodel/arm64_boot.h): kernel, initrd and device
 * tree placement as QEMU's -kernel does on virt, the device tree itself
 * (libfdt), the vCPU state a booting kernel expects, and PSCI calls routed
 * to the PSCI model (src/psci) with their actions carried out here.
 */
#include <libfdt.h>
#include <stdlib.h>
#include <string.h>

#include "arm64.h"
#include "virtmodel/arm64_boot.h"
#include "virtmodel/error.h"
#include "virtmodel/psci.h"

#define MIB (1ull << 20)
#define DTB_ALIGN (2 * MIB)   /* QEMU: kernels map the DTB in 2 MiB blocks */
#define UART_NODE "/pl011@9000000"

struct vmdl__arm64_boot {
    bool linux_boot;          /* x0 = device tree, secondaries powered off */
    uint64_t dtb_gpa;
    void *dtb;                /* the blob as loaded (for --dump-dtb) */
    size_t dtb_size;
    struct vmdl_psci *psci;
};

static struct vmdl__arm64_boot *boot_state(struct vmdl_vm *vm);

/* ---------------- EL3/EL2 state under the guest's EL1 ---------------- */

#define SCR_NS (1ull << 0)
#define SCR_HCE (1ull << 8)
#define SCR_RW (1ull << 10)
#define HCR_RW (1ull << 31)
#define CNTHCTL_EL1PCTEN (1ull << 0)
#define CNTHCTL_EL1PCEN (1ull << 1)
#define MPIDR_RES1 (1ull << 31)
/* Debug register accesses trap (and reach the sysreg handlers): Unicorn
 * 2.1.1 crashes in its generated code once a guest arms a hardware
 * breakpoint. */
#define MDCR_TDA (1ull << 9)
/* QEMU's SCTLR_EL1 reset value for Cortex-A57/A72: MMU, caches and
 * alignment checks off. */
#define SCTLR_EL1_RESET 0x00C50838ull

static int cp_write(struct vmdl_vcpu *v, unsigned op0, unsigned op1, unsigned crn,
                    unsigned crm, unsigned op2, uint64_t val)
{
    uc_arm64_cp_reg cp = {.crn = crn, .crm = crm, .op0 = op0, .op1 = op1, .op2 = op2,
                          .val = val};
    return uc_reg_write(v->uc, UC_ARM64_REG_CP_REG, &cp) == UC_ERR_OK ? 0 : -1;
}

/*
 * Unicorn resets SCR_EL3 to 0 (DESIGN.md fact 14): QEMU then treats EL1 as
 * AArch32 and Secure, and the first fetch after SCTLR_EL1.M=1 aborts.  A KVM
 * guest runs at Non-secure EL1 in AArch64 under an EL2 that does not trap:
 * SCR_EL3.{NS,HCE,RW}, HCR_EL2.RW, physical counter and timer open to EL1
 * (CNTHCTL_EL2), and MPIDR_EL1 as KVM sets it (an EL1 read of MPIDR_EL1
 * returns VMPIDR_EL2 once EL2 exists in Non-secure state).
 */
int vmdl__arm64_reset_sysregs(struct vmdl_vcpu *v)
{
    int err = 0;
    err |= cp_write(v, 3, 6, 1, 1, 0, SCR_NS | SCR_HCE | SCR_RW);       /* SCR_EL3 */
    err |= cp_write(v, 3, 4, 1, 1, 0, HCR_RW);                          /* HCR_EL2 */
    err |= cp_write(v, 3, 4, 14, 1, 0, CNTHCTL_EL1PCTEN | CNTHCTL_EL1PCEN); /* CNTHCTL_EL2 */
    err |= cp_write(v, 3, 4, 14, 0, 3, 0);                              /* CNTVOFF_EL2 */
    err |= cp_write(v, 3, 4, 1, 1, 1, MDCR_TDA);                        /* MDCR_EL2 */
    err |= cp_write(v, 3, 4, 0, 0, 5, MPIDR_RES1 | vmdl_psci_mpidr(v->index)); /* VMPIDR_EL2 */
    /* MMU and caches off, as at reset (CPU_ON restarts a used vCPU). */
    err |= cp_write(v, 3, 0, 1, 0, 0, SCTLR_EL1_RESET);
    uc_ctl_flush_tlb(v->uc);
    if (err)
        return vmdl_fail(VMDL_EBACKEND, "arm64 vCPU %u: cannot set EL3/EL2 state", v->index);
    return VMDL_OK;
}

/* The registers a (re)starting vCPU gets: under the Linux boot protocol,
 * vCPU 0 starts with x0 = device tree and the others stay off; otherwise
 * (example guests) every vCPU starts with x0 = its index. */
void vmdl__arm64_boot_regs(struct vmdl_vcpu *v, uint64_t *x0, bool *off)
{
    struct vmdl__arm64_boot *b = v->vm->arch_vm;
    if (!b || !b->linux_boot) {
        *x0 = v->index;
        *off = false;
        return;
    }
    *x0 = v->index == 0 ? b->dtb_gpa : 0;
    *off = v->index != 0;
}

/* ---------------- PSCI ---------------- */

static void psci_free(void *opaque)
{
    struct vmdl__arm64_boot *b = opaque;
    vmdl_psci_destroy(b->psci);
    free(b->dtb);
    free(b);
}

static struct vmdl__arm64_boot *boot_state(struct vmdl_vm *vm)
{
    if (vm->arch_vm)
        return vm->arch_vm;
    struct vmdl__arm64_boot *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    if (vmdl_psci_create(vm->nr_vcpus, VMDL_PSCI_VERSION_1_1, &b->psci) ||
        vmdl__add_destroy_hook(vm, psci_free, b)) {
        vmdl_psci_destroy(b->psci);
        free(b);
        return NULL;
    }
    vm->arch_vm = b;
    return b;
}

/* The vCPUs' run state is the truth (it is what checkpoints keep): bring
 * the model's power flags in line before each call. */
static void psci_sync(struct vmdl_vm *vm, struct vmdl_psci *p)
{
    for (unsigned i = 0; i < vm->nr_vcpus; i++)
        vmdl_psci_set_on(p, i, !vm->vcpus[i]->wait_for_sipi);
}

static int cpu_on(struct vmdl_vcpu *src, const struct vmdl_psci_result *r)
{
    struct vmdl_vcpu *t = src->vm->vcpus[r->target];
    int err = vmdl__arm64_vcpu_reset(t, r->entry);
    if (err)
        return err;
    t->wait_for_sipi = false;
    return vmdl__arm64_reg_write(t, UC_ARM64_REG_X0, r->context) ? VMDL_EBACKEND : VMDL_OK;
}

int vmdl__arm64_psci(struct vmdl_vcpu *v, uint64_t x[4], enum vmdl__psci_outcome *out)
{
    struct vmdl_vm *vm = v->vm;
    struct vmdl__arm64_boot *b = boot_state(vm);
    if (!b)
        return vmdl_fail(VMDL_ENOMEM, "PSCI: out of memory");
    psci_sync(vm, b->psci);
    struct vmdl_psci_result r;
    int err = vmdl_psci_call(b->psci, v->index, x[0], x[1], x[2], x[3], &r);
    if (err)
        return err;
    x[0] = (uint64_t)r.x0;
    *out = VMDL__PSCI_DONE;
    switch (r.action) {
    case VMDL_PSCI_ACT_NONE:
        break;
    case VMDL_PSCI_ACT_CPU_ON:
        return cpu_on(v, &r);
    case VMDL_PSCI_ACT_CPU_OFF:
        v->wait_for_sipi = true;
        *out = VMDL__PSCI_STOPPED;
        break;
    case VMDL_PSCI_ACT_SUSPEND:
        *out = VMDL__PSCI_WFI;
        break;
    case VMDL_PSCI_ACT_SYSTEM_OFF:
        *out = VMDL__PSCI_SYSTEM_OFF;
        break;
    case VMDL_PSCI_ACT_SYSTEM_RESET:
        *out = VMDL__PSCI_SYSTEM_RESET;
        break;
    }
    return VMDL_OK;
}

/* ---------------- the device tree ---------------- */

/* libfdt calls with the error folded in: the first failure sticks. */
struct fdtb {
    void *fdt;
    int err;
};

static int node(struct fdtb *f, int parent, const char *name)
{
    if (f->err)
        return -1;
    int n = fdt_add_subnode(f->fdt, parent, name);
    if (n < 0)
        f->err = n;
    return n;
}

static void prop(struct fdtb *f, int n, const char *name, const void *val, int len)
{
    if (!f->err)
        f->err = fdt_setprop(f->fdt, n, name, val, len);
}

static void prop_str(struct fdtb *f, int n, const char *name, const char *s)
{
    prop(f, n, name, s, (int)strlen(s) + 1);
}

static void prop_u32(struct fdtb *f, int n, const char *name, uint32_t v)
{
    if (!f->err)
        f->err = fdt_setprop_u32(f->fdt, n, name, v);
}

static void prop_u64(struct fdtb *f, int n, const char *name, uint64_t v)
{
    if (!f->err)
        f->err = fdt_setprop_u64(f->fdt, n, name, v);
}

static void prop_cells(struct fdtb *f, int n, const char *name, const uint32_t *c,
                       unsigned nr)
{
    fdt32_t be[16];
    for (unsigned i = 0; i < nr && i < 16; i++)
        be[i] = cpu_to_fdt32(c[i]);
    prop(f, n, name, be, (int)(nr * sizeof(fdt32_t)));
}

/* Two-cell address and size, as the root's #address-cells/#size-cells. */
static void prop_reg(struct fdtb *f, int n, uint64_t addr, uint64_t size)
{
    uint32_t c[4] = {(uint32_t)(addr >> 32), (uint32_t)addr, (uint32_t)(size >> 32),
                     (uint32_t)size};
    prop_cells(f, n, "reg", c, 4);
}

#define PHANDLE_CLK 0x8000
#define PHANDLE_GIC 0x8001
#define PHANDLE_CPU0 0x8100     /* + vCPU index */
/* GIC interrupt specifier: type (0 SPI, 1 PPI), number, flags (4: level
 * high), as QEMU writes them for a GICv3. */
#define IRQ_SPI 0
#define IRQ_PPI 1
#define IRQ_LEVEL_HI 4

/* GICv5 interrupt specifier (arm,gic-v5.yaml): INTID.Type (1 PPI, 3 SPI),
 * INTID.ID, flags (4: level high). */
#define GICV5_TYPE_PPI 1

static void dt_root(struct fdtb *f, bool gic)
{
    prop_u32(f, 0, "#address-cells", 2);
    prop_u32(f, 0, "#size-cells", 2);
    prop_str(f, 0, "compatible", "linux,dummy-virt");
    prop_str(f, 0, "model", "linux,dummy-virt");
    if (gic)
        prop_u32(f, 0, "interrupt-parent", PHANDLE_GIC);
}

static void dt_psci(struct fdtb *f)
{
    static const char compat[] = "arm,psci-1.0\0arm,psci-0.2\0arm,psci";
    int n = node(f, 0, "psci");
    prop(f, n, "compatible", compat, sizeof(compat));
    prop_str(f, n, "method", "hvc");
    /* PSCI 0.1 function ids, which QEMU also lists (0.2+ guests ignore them). */
    prop_u32(f, n, "cpu_suspend", VMDL_PSCI_FN64_CPU_SUSPEND);
    prop_u32(f, n, "cpu_off", VMDL_PSCI_FN_CPU_OFF);
    prop_u32(f, n, "cpu_on", VMDL_PSCI_FN64_CPU_ON);
    prop_u32(f, n, "migrate", VMDL_PSCI_FN64_MIGRATE);
}

static void dt_memory(struct fdtb *f, struct vmdl_vm *vm)
{
    char name[40];
    snprintf(name, sizeof(name), "memory@%llx", (unsigned long long)vm->ram_base);
    int n = node(f, 0, name);
    prop_str(f, n, "device_type", "memory");
    prop_reg(f, n, vm->ram_base, vm->ram_size);
}

static void dt_cpus(struct fdtb *f, struct vmdl_vm *vm)
{
    int cpus = node(f, 0, "cpus");
    prop_u32(f, cpus, "#address-cells", 1);
    prop_u32(f, cpus, "#size-cells", 0);
    /* fdt_add_subnode puts a node first: add them last to first. */
    for (unsigned i = vm->nr_vcpus; i-- > 0;) {
        char name[24];
        uint32_t mpidr = (uint32_t)vmdl_psci_mpidr(i);
        snprintf(name, sizeof(name), "cpu@%x", mpidr);
        int n = node(f, cpus, name);
        prop_str(f, n, "device_type", "cpu");
        prop_str(f, n, "compatible", "arm,cortex-a72");
        prop_u32(f, n, "reg", mpidr);
        prop_str(f, n, "enable-method", "psci");
        prop_u32(f, n, "phandle", PHANDLE_CPU0 + i);
    }
}

/*
 * The GICv5 as its binding describes it (Documentation/devicetree/bindings/
 * interrupt-controller/arm,gic-v5.yaml): the top node with three-cell
 * specifiers and one IRS child with its non-secure config frame, the CPUs
 * it serves and their IAFFIDs (vCPU n has IAFFID n, as ICC_IAFFIDR_EL1
 * reads).  No ITS child and no maintenance interrupt (no EL2 in the guest).
 */
static void dt_gic(struct fdtb *f, uint64_t irs_base, unsigned nr_pes)
{
    char name[40];
    int gic = node(f, 0, "interrupt-controller");
    prop_str(f, gic, "compatible", "arm,gic-v5");
    prop_u32(f, gic, "#interrupt-cells", 3);
    prop(f, gic, "interrupt-controller", NULL, 0);
    prop_u32(f, gic, "#address-cells", 2);
    prop_u32(f, gic, "#size-cells", 2);
    prop(f, gic, "ranges", NULL, 0);
    prop_u32(f, gic, "phandle", PHANDLE_GIC);
    snprintf(name, sizeof(name), "irs@%llx", (unsigned long long)irs_base);
    int irs = node(f, gic, name);
    prop_str(f, irs, "compatible", "arm,gic-v5-irs");
    prop_reg(f, irs, irs_base, 0x10000);
    prop_str(f, irs, "reg-names", "ns-config");
    fdt32_t cpus[VMDL_MAX_VCPUS];
    fdt16_t iaffids[VMDL_MAX_VCPUS];
    unsigned n = nr_pes < VMDL_MAX_VCPUS ? nr_pes : VMDL_MAX_VCPUS;
    for (unsigned i = 0; i < n; i++) {
        cpus[i] = cpu_to_fdt32(PHANDLE_CPU0 + i);
        iaffids[i] = cpu_to_fdt16((uint16_t)i);
    }
    prop(f, irs, "cpus", cpus, (int)(n * sizeof(cpus[0])));
    prop(f, irs, "arm,iaffids", iaffids, (int)(n * sizeof(iaffids[0])));
}

static void dt_timer(struct fdtb *f, bool gic)
{
    static const char compat[] = "arm,armv8-timer\0arm,armv7-timer";
    /* Secure physical, non-secure physical, virtual, hypervisor: GICv3
     * style PPIs 13, 14, 11, 10 (INTIDs 29, 30, 27, 26) as QEMU writes
     * them, or with the GICv5 the architected PPIs CNTPS 29, CNTP 30, CNTV
     * 27, CNTHP 26 as GICv5 specifiers. */
    static const uint32_t irqs[] = {IRQ_PPI, 13, IRQ_LEVEL_HI, IRQ_PPI, 14, IRQ_LEVEL_HI,
                                    IRQ_PPI, 11, IRQ_LEVEL_HI, IRQ_PPI, 10, IRQ_LEVEL_HI};
    static const uint32_t v5[] = {GICV5_TYPE_PPI, 29, IRQ_LEVEL_HI,
                                  GICV5_TYPE_PPI, 30, IRQ_LEVEL_HI,
                                  GICV5_TYPE_PPI, 27, IRQ_LEVEL_HI,
                                  GICV5_TYPE_PPI, 26, IRQ_LEVEL_HI};
    int n = node(f, 0, "timer");
    prop(f, n, "compatible", compat, sizeof(compat));
    prop_cells(f, n, "interrupts", gic ? v5 : irqs, 12);
    prop(f, n, "always-on", NULL, 0);
}

static void dt_uart(struct fdtb *f, bool gic)
{
    static const char compat[] = "arm,pl011\0arm,primecell";
    static const char clk_names[] = "uartclk\0apb_pclk";
    static const uint32_t clocks[] = {PHANDLE_CLK, PHANDLE_CLK};
    static const uint32_t irq[] = {IRQ_SPI, 1, IRQ_LEVEL_HI};
    int clk = node(f, 0, "apb-pclk");
    prop_str(f, clk, "compatible", "fixed-clock");
    prop_u32(f, clk, "#clock-cells", 0);
    prop_u32(f, clk, "clock-frequency", 24000000);
    prop_str(f, clk, "clock-output-names", "clk24mhz");
    prop_u32(f, clk, "phandle", PHANDLE_CLK);
    int n = node(f, 0, UART_NODE + 1);
    prop(f, n, "compatible", compat, sizeof(compat));
    prop_reg(f, n, VMDL_ARM64_PL011_BASE, 0x1000);
    /* With the GICv5 there is no SPI to name (IRS_IDR5 reports none). */
    if (!gic)
        prop_cells(f, n, "interrupts", irq, 3);
    prop_cells(f, n, "clocks", clocks, 2);
    prop(f, n, "clock-names", clk_names, sizeof(clk_names));
}

static void dt_chosen(struct fdtb *f, const char *cmdline, uint64_t initrd,
                      size_t initrd_size)
{
    int n = node(f, 0, "chosen");
    prop_str(f, n, "stdout-path", UART_NODE);
    if (cmdline)
        prop_str(f, n, "bootargs", cmdline);
    if (initrd_size) {
        prop_u64(f, n, "linux,initrd-start", initrd);
        prop_u64(f, n, "linux,initrd-end", initrd + initrd_size);
    }
}

/* Build the VM's device tree into a malloc'd, packed blob. */
static int build_dtb(struct vmdl_vm *vm, const char *cmdline, uint64_t initrd,
                     size_t initrd_size, void **out, size_t *out_size)
{
    size_t cap = 64 * 1024 + (cmdline ? strlen(cmdline) : 0);
    if (cap > VMDL_ARM64_DTB_MAX)
        return vmdl_fail(VMDL_EINVAL, "device tree: command line too long");
    struct fdtb f = {.fdt = calloc(1, cap), .err = 0};
    if (!f.fdt)
        return vmdl_fail(VMDL_ENOMEM, "device tree: out of memory");
    f.err = fdt_create_empty_tree(f.fdt, (int)cap);
    uint64_t irs_base = 0;
    unsigned nr_pes = 0;
    bool gic = vmdl__gicv5_irs_mapped(vm, &irs_base, &nr_pes);
    /* Nodes are inserted at the front: add them in reverse of QEMU's order. */
    dt_root(&f, gic);
    dt_chosen(&f, cmdline, initrd, initrd_size);
    dt_timer(&f, gic);
    if (gic)
        dt_gic(&f, irs_base, nr_pes);
    dt_cpus(&f, vm);
    dt_uart(&f, gic);
    dt_memory(&f, vm);
    dt_psci(&f);
    if (!f.err)
        f.err = fdt_pack(f.fdt);
    if (f.err) {
        free(f.fdt);
        return vmdl_fail(VMDL_EINVAL, "device tree: %s", fdt_strerror(f.err));
    }
    *out = f.fdt;
    *out_size = fdt_totalsize(f.fdt);
    return VMDL_OK;
}

/* ---------------- loading ---------------- */

static int place(struct vmdl_vm *vm, const void *data, size_t size, uint64_t gpa,
                 const char *what)
{
    void *dst = vmdl_vm_ram_ptr(vm, gpa, size);
    if (!dst)
        return vmdl_fail(VMDL_EFORMAT, "%s: 0x%zx bytes at 0x%llx do not fit in guest "
                         "RAM 0x%llx-0x%llx", what, size, (unsigned long long)gpa,
                         (unsigned long long)vm->ram_base,
                         (unsigned long long)(vm->ram_base + vm->ram_size - 1));
    memcpy(dst, data, size);
    return vmdl_vm_add_image_range(vm, gpa, size);
}

static uint64_t align_up(uint64_t x, uint64_t a)
{
    return (x + a - 1) & ~(a - 1);
}

int vmdl_vm_boot_arm64(struct vmdl_vm *vm, const struct vmdl_arm64_boot *bt)
{
    if (!vm || !bt || !bt->kernel || !bt->kernel_size)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vm_boot_arm64: no kernel");
    if (vm->arch != VMDL_ARCH_ARM64)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vm_boot_arm64: not an arm64 VM");
    if (bt->initrd_size && !bt->initrd)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vm_boot_arm64: initrd size without data");
    if (bt->dtb && (bt->cmdline || bt->initrd_size))
        return vmdl_fail(VMDL_EINVAL, "vmdl_vm_boot_arm64: a given device tree carries "
                         "its own command line and initrd");
    int err;
    if (bt->dtb && (err = vmdl_arm64_dtb_check(bt->dtb, bt->dtb_size)))
        return err;
    struct vmdl__arm64_boot *b = boot_state(vm);
    if (!b)
        return vmdl_fail(VMDL_ENOMEM, "vmdl_vm_boot_arm64: out of memory");
    uint64_t text, isz;
    if ((err = vmdl_arm64_image_parse(bt->kernel, bt->kernel_size, &text, &isz)) < 0)
        return err;
    uint64_t entry = vm->ram_base + text;
    if ((err = place(vm, bt->kernel, bt->kernel_size, entry, "kernel")))
        return err;
    uint64_t kend = entry + (isz > bt->kernel_size ? isz : bt->kernel_size);
    /* QEMU: the initrd at RAM + min(RAM/2, 128 MiB), above the kernel. */
    uint64_t initrd = vm->ram_base + (vm->ram_size / 2 < 128 * MIB ? vm->ram_size / 2
                                                                   : 128 * MIB);
    if (initrd < align_up(kend, 4096))
        initrd = align_up(kend, 4096);
    if (bt->initrd_size && (err = place(vm, bt->initrd, bt->initrd_size, initrd, "initrd")))
        return err;
    void *dtb = NULL;
    size_t dsz = 0;
    if (bt->dtb) {
        dsz = fdt_totalsize(bt->dtb);
        if (!(dtb = malloc(dsz)))
            return vmdl_fail(VMDL_ENOMEM, "vmdl_vm_boot_arm64: out of memory");
        memcpy(dtb, bt->dtb, dsz);
    } else if ((err = build_dtb(vm, bt->cmdline, initrd, bt->initrd_size, &dtb, &dsz))) {
        return err;
    }
    uint64_t dgpa = align_up(initrd + bt->initrd_size, DTB_ALIGN);
    if ((err = place(vm, dtb, dsz, dgpa, "device tree"))) {
        free(dtb);
        return err;
    }
    free(b->dtb);
    b->dtb = dtb;
    b->dtb_size = dsz;
    b->dtb_gpa = dgpa;
    b->linux_boot = true;
    return vmdl_vm_set_entry(vm, entry);
}

int vmdl_vm_arm64_dtb(struct vmdl_vm *vm, const void **dtb, size_t *size, uint64_t *gpa)
{
    if (!vm || !dtb || !size)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vm_arm64_dtb: NULL argument");
    struct vmdl__arm64_boot *b = vm->arch_vm;
    if (!b || !b->dtb)
        return vmdl_fail(VMDL_ESTATE, "vmdl_vm_arm64_dtb: the VM was not booted with "
                         "vmdl_vm_boot_arm64");
    *dtb = b->dtb;
    *size = b->dtb_size;
    if (gpa)
        *gpa = b->dtb_gpa;
    return VMDL_OK;
}
