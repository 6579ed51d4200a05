/* SPDX-License-Identifier: MIT */
/* arm64 boot: Image header parsing, device-tree checks (hostile blobs) and
 * the device tree built from the VM's configuration. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <libfdt.h>

#include "virtmodel/arm64_boot.h"
#include "virtmodel/attach_gicv5.h"
#include "virtmodel/attach_gtimer.h"
#include "virtmodel/inspect.h"
#include "virtmodel/error.h"
#include "virtmodel/machine.h"

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void test_image_header(void **s)
{
    (void)s;
    uint8_t img[4096] = {0};
    uint64_t off, isz;
    assert_int_equal(vmdl_arm64_image_parse(img, sizeof(img), &off, &isz), 0);
    assert_int_equal(off, 0x80000);
    put64(img + 56, VMDL_ARM64_IMAGE_MAGIC);
    assert_int_equal(vmdl_arm64_image_parse(img, sizeof(img), &off, &isz), 1);
    assert_int_equal(off, 0x80000); /* image_size 0: old kernel */
    put64(img + 8, 0x200000);
    put64(img + 16, 0x10000);
    assert_int_equal(vmdl_arm64_image_parse(img, sizeof(img), &off, &isz), 1);
    assert_int_equal(off, 0x200000);
    assert_int_equal(isz, 0x10000);
    put64(img + 8, 0x200001); /* not page aligned */
    assert_int_equal(vmdl_arm64_image_parse(img, sizeof(img), &off, &isz), VMDL_EFORMAT);
    put64(img + 8, 0);
    put64(img + 16, 16); /* smaller than the file */
    assert_int_equal(vmdl_arm64_image_parse(img, sizeof(img), &off, &isz), VMDL_EFORMAT);
    assert_int_equal(vmdl_arm64_image_parse(img, 63, &off, &isz), 0);
}

static struct vmdl_vm *boot(unsigned nv, const char *cmdline, const void *dtb, size_t dsz)
{
    struct vmdl_vm_config c = {.arch = VMDL_ARCH_ARM64, .nr_vcpus = nv, .ram_size = 64 << 20};
    struct vmdl_vm *vm;
    assert_int_equal(vmdl_vm_create(&c, &vm), VMDL_OK);
    static const uint32_t code[] = {0xD503207F}; /* wfi */
    struct vmdl_arm64_boot b = {.kernel = code, .kernel_size = sizeof(code),
                                .cmdline = cmdline, .dtb = dtb, .dtb_size = dsz};
    if (vmdl_vm_boot_arm64(vm, &b)) {
        vmdl_vm_destroy(vm);
        return NULL;
    }
    return vm;
}

static void test_built_tree_follows_virt(void **s)
{
    (void)s;
    struct vmdl_vm *vm = boot(3, "smp=3 mem=64", NULL, 0);
    assert_non_null(vm);
    const void *dtb;
    size_t size;
    uint64_t gpa;
    assert_int_equal(vmdl_vm_arm64_dtb(vm, &dtb, &size, &gpa), VMDL_OK);
    assert_int_equal(vmdl_arm64_dtb_check(dtb, size), VMDL_OK);
    assert_int_equal(gpa, 0x40000000 + (32 << 20)); /* RAM/2, 2 MiB aligned */
    int len;
    const char *p = fdt_getprop(dtb, fdt_path_offset(dtb, "/chosen"), "bootargs", &len);
    assert_string_equal(p, "smp=3 mem=64");
    p = fdt_getprop(dtb, fdt_path_offset(dtb, "/psci"), "method", &len);
    assert_string_equal(p, "hvc");
    assert_true(fdt_node_check_compatible(dtb, fdt_path_offset(dtb, "/psci"), "arm,psci-0.2") == 0);
    assert_true(fdt_path_offset(dtb, "/cpus/cpu@2") >= 0);
    assert_true(fdt_path_offset(dtb, "/cpus/cpu@3") < 0);
    const fdt32_t *reg = fdt_getprop(dtb, fdt_path_offset(dtb, "/memory@40000000"), "reg", &len);
    assert_int_equal(len, 16);
    assert_int_equal(fdt32_to_cpu(reg[1]), 0x40000000);
    assert_int_equal(fdt32_to_cpu(reg[3]), 64 << 20);
    p = fdt_getprop(dtb, fdt_path_offset(dtb, "/chosen"), "stdout-path", &len);
    assert_string_equal(p, "/pl011@9000000");
    assert_true(fdt_node_check_compatible(dtb, fdt_path_offset(dtb, p), "arm,pl011") == 0);
    /* No interrupt controller model: no GIC node to point at. */
    assert_true(fdt_node_offset_by_compatible(dtb, -1, "arm,gic-v5") < 0);
    assert_null(fdt_getprop(dtb, 0, "interrupt-parent", &len));
    /* vCPU 0 gets x0 = the tree; vCPU 1 is off until CPU_ON. */
    uint64_t x0;
    assert_int_equal(vmdl_vcpu_get_reg(vmdl_vm_vcpu(vm, 0), VMDL_ARM64_X0, &x0), VMDL_OK);
    assert_int_equal(x0, gpa);
    assert_memory_equal(vmdl_vm_ram_ptr(vm, gpa, size), dtb, size);
    vmdl_vm_destroy(vm);
}

static const void *prop_of(const void *dtb, int node, const char *name, int *len)
{
    const void *p = fdt_getprop(dtb, node, name, len);
    assert_non_null(p);
    return p;
}

/*
 * With the GICv5 model the tree has the node its binding requires
 * (arm,gic-v5.yaml: compatible, #address-cells, #size-cells, ranges,
 * #interrupt-cells = 3, interrupt-controller; an irs@ child with
 * compatible, reg, reg-names, cpus and arm,iaffids), the root's
 * interrupt-parent points at it, the timer names its PPIs as GICv5
 * specifiers, and the UART has no SPI to name.  Without the model none of
 * that is there (test_built_tree_follows_virt).
 */
static void test_gicv5_node_per_binding(void **s)
{
    (void)s;
    struct vmdl_vm_config c = {.arch = VMDL_ARCH_ARM64, .nr_vcpus = 3, .ram_size = 64 << 20};
    struct vmdl_vm *vm;
    assert_int_equal(vmdl_vm_create(&c, &vm), VMDL_OK);
    assert_int_equal(vmdl_attach_gicv5(vm, NULL), VMDL_OK);
    static const uint32_t code[] = {0xD503207F};
    struct vmdl_arm64_boot b = {.kernel = code, .kernel_size = sizeof(code)};
    assert_int_equal(vmdl_vm_boot_arm64(vm, &b), VMDL_OK);
    const void *dtb;
    size_t size;
    assert_int_equal(vmdl_vm_arm64_dtb(vm, &dtb, &size, NULL), VMDL_OK);
    assert_int_equal(vmdl_arm64_dtb_check(dtb, size), VMDL_OK);
    int len;
    int gic = fdt_node_offset_by_compatible(dtb, -1, "arm,gic-v5");
    assert_true(gic > 0);
    const fdt32_t *c32 = prop_of(dtb, 0, "interrupt-parent", &len);
    assert_int_equal(fdt_node_offset_by_phandle(dtb, fdt32_to_cpu(*c32)), gic);
    assert_int_equal(fdt32_to_cpu(*(const fdt32_t *)prop_of(dtb, gic, "#interrupt-cells", &len)), 3);
    prop_of(dtb, gic, "interrupt-controller", &len);
    assert_int_equal(len, 0);
    prop_of(dtb, gic, "ranges", &len);
    assert_int_equal(len, 0);
    assert_int_equal(fdt32_to_cpu(*(const fdt32_t *)prop_of(dtb, gic, "#address-cells", &len)), 2);
    assert_int_equal(fdt32_to_cpu(*(const fdt32_t *)prop_of(dtb, gic, "#size-cells", &len)), 2);
    int irs = fdt_subnode_offset(dtb, gic, "irs@8000000");
    assert_true(irs > 0);
    assert_int_equal(fdt_node_check_compatible(dtb, irs, "arm,gic-v5-irs"), 0);
    const fdt32_t *r = prop_of(dtb, irs, "reg", &len);
    assert_int_equal(len, 16);
    assert_int_equal(fdt32_to_cpu(r[1]), VMDL_ARM64_GICV5_IRS_BASE);
    assert_int_equal(fdt32_to_cpu(r[3]), 0x10000);
    assert_string_equal(prop_of(dtb, irs, "reg-names", &len), "ns-config");
    const fdt32_t *cpus = prop_of(dtb, irs, "cpus", &len);
    assert_int_equal(len, 3 * 4);
    const fdt16_t *iaffids = prop_of(dtb, irs, "arm,iaffids", &len);
    assert_int_equal(len, 3 * 2);
    for (unsigned i = 0; i < 3; i++) {
        char path[32];
        snprintf(path, sizeof(path), "/cpus/cpu@%u", i);
        assert_int_equal(fdt_node_offset_by_phandle(dtb, fdt32_to_cpu(cpus[i])),
                         fdt_path_offset(dtb, path));
        assert_int_equal(fdt16_to_cpu(iaffids[i]), i);  /* = ICC_IAFFIDR_EL1 */
    }
    /* CNTPS 29, CNTP 30, CNTV 27, CNTHP 26: type 1 (PPI), level high. */
    const fdt32_t *irq = prop_of(dtb, fdt_path_offset(dtb, "/timer"), "interrupts", &len);
    static const uint32_t want[] = {1, 29, 4, 1, 30, 4, 1, 27, 4, 1, 26, 4};
    assert_int_equal(len, (int)sizeof(want));
    for (unsigned i = 0; i < 12; i++)
        assert_int_equal(fdt32_to_cpu(irq[i]), want[i]);
    assert_null(fdt_getprop(dtb, fdt_path_offset(dtb, "/pl011@9000000"), "interrupts", &len));
    /* The frame the node names answers at that address. */
    uint64_t v = 0;
    assert_int_equal(vmdl_vcpu_mmio_read(vmdl_vm_vcpu(vm, 0), VMDL_ARM64_GICV5_IRS_BASE + 4,
                                         4, &v), VMDL_OK);
    assert_int_equal(v & 0xFFFF, 3);    /* IRS_IDR1.PE_CNT */
    vmdl_vm_destroy(vm);
}

static void test_hostile_dtbs_refused(void **s)
{
    (void)s;
    struct vmdl_vm *vm = boot(1, NULL, NULL, 0);
    const void *good;
    size_t size;
    assert_int_equal(vmdl_vm_arm64_dtb(vm, &good, &size, NULL), VMDL_OK);
    uint8_t buf[8192];
    assert_true(size <= sizeof(buf));
    /* Truncated, bad magic, header size beyond the file, corrupted struct
     * offset, corrupted token: each refused, none crashes. */
    assert_int_equal(vmdl_arm64_dtb_check(good, 10), VMDL_EFORMAT);
    memcpy(buf, good, size);
    buf[0] ^= 0xFF;
    assert_int_equal(vmdl_arm64_dtb_check(buf, size), VMDL_EFORMAT);
    memcpy(buf, good, size);
    assert_int_equal(vmdl_arm64_dtb_check(buf, size - 1), VMDL_EFORMAT);
    memcpy(buf, good, size);
    ((fdt32_t *)buf)[2] = cpu_to_fdt32(0xFFFFFF00); /* off_dt_struct */
    assert_int_equal(vmdl_arm64_dtb_check(buf, size), VMDL_EFORMAT);
    memcpy(buf, good, size);
    buf[fdt_off_dt_struct(good) + 3] = 0x7F; /* first token */
    assert_int_equal(vmdl_arm64_dtb_check(buf, size), VMDL_EFORMAT);
    /* A refused tree never reaches a VM. */
    assert_null(boot(1, NULL, buf, size));
    memcpy(buf, good, size);
    struct vmdl_vm *vm2 = boot(1, NULL, buf, size);
    assert_non_null(vm2);
    vmdl_vm_destroy(vm2);
    vmdl_vm_destroy(vm);
    /* A given tree carries its own bootargs. */
    assert_null(boot(1, "x", good, size));
}

/*
 * Page-size rounding keeps an aligned address (the KVM selftests'
 * vm_page_align fix: rounding added a whole page to an aligned value).  The
 * device tree goes at the first 2 MiB boundary at or after the initrd's end:
 * an initrd ending on a boundary puts it right there.
 */
static void test_dtb_after_aligned_initrd(void **s)
{
    (void)s;
    static const uint32_t code[] = {0xD503207F}; /* wfi */
    static uint8_t initrd[(2 << 20) + 1];
    const uint64_t base = 0x40000000 + (32 << 20); /* RAM/2 for 64 MiB */
    const size_t sizes[] = {2 << 20, (2 << 20) + 1, 4096};
    const uint64_t want[] = {base + (2 << 20), base + (4 << 20), base + (2 << 20)};
    for (unsigned i = 0; i < 3; i++) {
        struct vmdl_vm_config c = {.arch = VMDL_ARCH_ARM64, .nr_vcpus = 1,
                                   .ram_size = 64 << 20};
        struct vmdl_vm *vm;
        assert_int_equal(vmdl_vm_create(&c, &vm), VMDL_OK);
        struct vmdl_arm64_boot b = {.kernel = code, .kernel_size = sizeof(code),
                                    .initrd = initrd, .initrd_size = sizes[i]};
        assert_int_equal(vmdl_vm_boot_arm64(vm, &b), VMDL_OK);
        const void *dtb;
        size_t dsz;
        uint64_t gpa;
        assert_int_equal(vmdl_vm_arm64_dtb(vm, &dtb, &dsz, &gpa), VMDL_OK);
        assert_int_equal(gpa, want[i]);
        vmdl_vm_destroy(vm);
    }
}

/* Offset of the first tag of kind `want` in a tree's structure block. */
static int first_tag(const void *fdt, uint32_t want)
{
    int off = 0, next;
    for (;;) {
        uint32_t tag = fdt_next_tag(fdt, off, &next);
        if (tag == want)
            return off;
        assert_true(tag != FDT_END && next >= 0);
        off = next;
    }
}

/*
 * Trees Debian 12's libfdt 1.6.1 fdt_check_full accepts or crashes on, built
 * from a good one; each must be refused by our own checks before libfdt's
 * (the crash is a NULL dereference, so a regression shows as a SIGSEGV).
 */
static void test_dtbs_libfdt_would_accept(void **s)
{
    (void)s;
    struct vmdl_vm *vm = boot(1, "console=ttyAMA0", NULL, 0);
    const void *good;
    size_t size;
    assert_int_equal(vmdl_vm_arm64_dtb(vm, &good, &size, NULL), VMDL_OK);
    static uint8_t buf[16384];
    assert_true(size + 8 <= sizeof(buf));
    uint32_t st = fdt_off_dt_struct(good);

    /* A property whose name offset points far beyond the strings block. */
    memcpy(buf, good, size);
    int prop = first_tag(buf, FDT_PROP);
    ((fdt32_t *)(buf + st + prop))[2] = cpu_to_fdt32(0x7FFFFF00);
    vmdl_clear_error();
    assert_int_equal(vmdl_arm64_dtb_check(buf, size), VMDL_EFORMAT);
    assert_non_null(strstr(vmdl_last_error(), "strings block"));

    /* No root node: the structure block starts with FDT_END. */
    memcpy(buf, good, size);
    ((fdt32_t *)(buf + st))[0] = cpu_to_fdt32(FDT_END);
    assert_int_equal(vmdl_arm64_dtb_check(buf, size), VMDL_EFORMAT);

    /* A structure block one byte off its 4-byte alignment (everything after
     * the reservation map moved up by one, offsets and size adjusted). */
    memset(buf, 0, sizeof(buf));
    memcpy(buf, good, st);
    memcpy(buf + st + 1, (const uint8_t *)good + st, size - st);
    fdt_set_off_dt_struct(buf, st + 1);
    fdt_set_off_dt_strings(buf, fdt_off_dt_strings(good) + 1);
    fdt_set_totalsize(buf, (uint32_t)size + 1);
    vmdl_clear_error();
    assert_int_equal(vmdl_arm64_dtb_check(buf, size + 1), VMDL_EFORMAT);
    assert_non_null(strstr(vmdl_last_error(), "misaligned"));

    /* None of them reaches a VM. */
    assert_null(boot(1, NULL, buf, size + 1));
    vmdl_vm_destroy(vm);
}

/* Every input fuzz_dtb found (fuzz/regressions/dtb) is refused. */
static void test_dtb_fuzz_regressions_refused(void **s)
{
    (void)s;
    DIR *d = opendir(VMDL_DTB_REGRESSIONS);
    assert_non_null(d);
    unsigned n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", VMDL_DTB_REGRESSIONS, e->d_name);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        uint8_t *data = malloc(1 << 16);
        size_t len = fread(data, 1, 1 << 16, f);
        fclose(f);
        /* An exact-size copy, so ASan sees any read past the file. */
        uint8_t *exact = malloc(len ? len : 1);
        memcpy(exact, data, len);
        free(data);
        vmdl_clear_error();
        if (vmdl_arm64_dtb_check(exact, len) != VMDL_EFORMAT)
            fail_msg("%s accepted", e->d_name);
        free(exact);
        n++;
    }
    closedir(d);
    assert_true(n >= 4);
}

/* Boot a hand-assembled raw image (Linux boot protocol) and run it to its
 * power-off. */
static struct vmdl_vm *run_image_timer(const uint32_t *words, size_t nwords, unsigned nv,
                                       bool gtimer)
{
    struct vmdl_vm_config c = {.arch = VMDL_ARCH_ARM64, .nr_vcpus = nv, .ram_size = 16 << 20};
    struct vmdl_vm *vm;
    assert_int_equal(vmdl_vm_create(&c, &vm), VMDL_OK);
    if (gtimer)
        assert_int_equal(vmdl_attach_gtimer(vm, NULL), VMDL_OK);
    struct vmdl_arm64_boot b = {.kernel = words, .kernel_size = nwords * 4};
    assert_int_equal(vmdl_vm_boot_arm64(vm, &b), VMDL_OK);
    vmdl_vm_set_limits(vm, 1000000, 0);
    struct vmdl_exit e;
    assert_int_equal(vmdl_vm_run(vm, &e), VMDL_OK);
    assert_int_equal(e.reason, VMDL_EXIT_SHUTDOWN);
    return vm;
}

static struct vmdl_vm *run_image(const uint32_t *words, size_t nwords, unsigned nv)
{
    return run_image_timer(words, nwords, nv, false);
}

static uint64_t reg(struct vmdl_vm *vm, unsigned cpu, enum vmdl_reg r)
{
    uint64_t v = 0;
    assert_int_equal(vmdl_vcpu_get_reg(vmdl_vm_vcpu(vm, cpu), r, &v), VMDL_OK);
    return v;
}

#define X(n) (VMDL_ARM64_X0 + (n))

/*
 * vCPU 0 (x0 = device tree) starts vCPU 1 with PSCI CPU_ON (context 0x77),
 * asks again (ALREADY_ON), waits for vCPU 1 to store (MPIDR << 8 | x0) and
 * CPU_OFF itself, polls AFFINITY_INFO until OFF, then SYSTEM_OFF:
 *   x19 = dtb, w20 = its first word, x21/x22 = CPU_ON results, x23 = what
 *   vCPU 1 stored, x24 = 1 once AFFINITY_INFO said OFF.
 */
static const uint32_t smp_guest[] = {
    0xaa0003f3, 0xb9400274, 0xd2800060, 0xf2b88000, 0xd2800021, 0x10000342,
    0xd2800ee3, 0xd4000002, 0xaa0003f5, 0xd2800060, 0xf2b88000, 0xd2800021,
    0x10000262, 0xd4000002, 0xaa0003f6, 0x58000324, 0xb4ffffe4, 0xaa0403f7,
    0xd2800080, 0xf2b88000, 0xd2800021, 0xd2800002, 0xd4000002, 0xf100041f,
    0xd2800080, 0xf2b88000, 0x54ffff81, 0xd2800038, 0xd2800100, 0xf2b08000,
    0xd4000002, 0xd53800a5, 0xd378dca6, 0xaa0000c6, 0x100000c7, 0xf90000e6,
    0xd2800040, 0xf2b08000, 0xd4000002, 0x14000000, 0x00000000, 0x00000000,
};

static void test_psci_cpu_on_off_guest(void **s)
{
    (void)s;
    struct vmdl_vm *vm = run_image(smp_guest, sizeof(smp_guest) / 4, 2);
    const void *dtb;
    size_t size;
    uint64_t gpa;
    assert_int_equal(vmdl_vm_arm64_dtb(vm, &dtb, &size, &gpa), VMDL_OK);
    assert_int_equal(reg(vm, 0, X(19)), gpa);
    assert_int_equal(reg(vm, 0, X(20)), 0xEDFE0DD0); /* FDT magic, big-endian */
    assert_int_equal(reg(vm, 0, X(21)), 0);          /* SUCCESS */
    assert_int_equal(reg(vm, 0, X(22)), (uint64_t)-4); /* ALREADY_ON */
    /* vCPU 1 read MPIDR_EL1 = RES1 | Aff0 1 and got the context in x0. */
    assert_int_equal(reg(vm, 0, X(23)), (0x80000001ull << 8) | 0x77);
    assert_int_equal(reg(vm, 0, X(24)), 1);
    vmdl_vm_destroy(vm);
}

/*
 * EL1 sets VBAR_EL1, SP_EL0 and ERETs to EL0 code that runs `el0_insn`;
 * the handler at VBAR + 0x400 (lower EL, AArch64) reads EL1-only registers
 * and powers off: x1 = SP_EL0, x2 = ESR, x3 = SPSR, x4 = ELR, x5 = CurrentEL.
 */
static void el0_image(uint32_t img[776], uint32_t el0_insn)
{
    static const uint32_t code[] = {0x10004000, 0xd518c000, 0x910003e1, 0xd1400421,
                                    0xd5184101, 0xaa0103f3, 0x10000082, 0xd5184022,
                                    0xd518401f, 0xd69f03e0, 0x00000000, 0x14000000};
    static const uint32_t handler[] = {0xd5384101, 0xd5385202, 0xd5384003, 0xd5384024,
                                       0xd5384245, 0xd2800100, 0xf2b08000, 0xd4000002};
    memset(img, 0, 776 * sizeof(uint32_t));
    memcpy(img, code, sizeof(code));
    img[10] = el0_insn;
    memcpy(img + 768, handler, sizeof(handler));
}

static void test_el0_undef_to_lower_el_vector(void **s)
{
    (void)s;
    static uint32_t img[776];
    el0_image(img, 0x00000000);  /* UDF #0 */
    struct vmdl_vm *vm = run_image(img, 776, 1);
    assert_int_equal(reg(vm, 0, X(1)), reg(vm, 0, X(19)));  /* SP_EL0 kept */
    assert_int_equal(reg(vm, 0, X(2)), 0x02000000);         /* EC 0, IL */
    assert_int_equal(reg(vm, 0, X(3)), 0);                  /* from EL0t */
    assert_int_equal(reg(vm, 0, X(4)), 0x40080000 + 10 * 4); /* the UDF */
    assert_int_equal(reg(vm, 0, X(5)), 4);                  /* EL1 */
    vmdl_vm_destroy(vm);
}

/*
 * The generic timer at EL0 with CNTKCTL_EL1 = 0 (its reset value): the
 * same EL1 set-up as above ERETs to one timer access at EL0, which the Arm
 * ARM traps to EL1 with EC 0x18 and the access's ISS (AArch64.System-
 * AccessTrap(EL1, 0x18)); the handler at VBAR + 0x400 reads ESR/ELR/SPSR.
 * MRS CNTVCT_EL0 is refused by QEMU's own check and then the model's; MSR
 * CNTV_CTL_EL0 is refused in the MRS/MSR instruction hook: both paths.
 */
static void el0_timer_trap(uint32_t el0_insn, uint32_t want_iss)
{
    static uint32_t img[776];
    el0_image(img, el0_insn);
    struct vmdl_vm *vm = run_image_timer(img, 776, 1, true);
    assert_int_equal(reg(vm, 0, X(2)), 0x18u << 26 | 1u << 25 | want_iss);
    assert_int_equal(reg(vm, 0, X(3)), 0);                   /* from EL0t */
    assert_int_equal(reg(vm, 0, X(4)), 0x40080000 + 10 * 4); /* the access */
    assert_int_equal(reg(vm, 0, X(5)), 4);                   /* taken to EL1 */
    vmdl_vm_destroy(vm);
}

static void test_el0_timer_access_traps_ec_0x18(void **s)
{
    (void)s;
    /* mrs x0, cntvct_el0: Op0 3, Op2 2, Op1 3, CRn 14, Rt 0, CRm 0, read. */
    el0_timer_trap(0xd53be040, 3u << 20 | 2u << 17 | 3u << 14 | 14u << 10 | 1u);
    /* msr cntv_ctl_el0, x1: Op0 3, Op2 1, Op1 3, CRn 14, Rt 1, CRm 3, write. */
    el0_timer_trap(0xd51be321, 3u << 20 | 1u << 17 | 3u << 14 | 14u << 10 | 1u << 5 |
                                   3u << 1);
    /* mrs x7, cntp_cval_el0: Op2 2, CRm 2, Rt 7. */
    el0_timer_trap(0xd53be247, 3u << 20 | 2u << 17 | 3u << 14 | 14u << 10 | 7u << 5 |
                                   2u << 1 | 1u);
}

/*
 * MMU on at EL1 with Unicorn's own translation: TTBR0 maps one 1 GiB block
 * (PA = VA 0x40000000), TCR_EL1 = T0SZ/T1SZ 25, 4 KiB granules, EPD1, TBI0.
 * Then: a tagged load through TBI0 (w20 = first instruction word), a load
 * from VA 0x80000000 (no entry), one from the TTBR1 range (walks disabled
 * by EPD1) and one from a tagged upper address (TBI1 clear).  The handler at
 * VBAR + 0x200 logs ESR_EL1/FAR_EL1 pairs at image + 0x2000 and skips the
 * load.
 */
static void test_mmu_faults_reach_vbar(void **s)
{
    (void)s;
    static uint32_t img[0x2040 / 4];
    static const uint32_t code[] = {
        0x10004000, 0xd518c000, 0x10007fc1, 0xd5182001, 0xd2801fe2, 0xd518a202,
        0x58000243, 0xd5182043, 0xd5033fdf, 0xd5381004, 0xb2400084, 0xd5181004,
        0xd5033fdf, 0x580001a5, 0xb94000b4, 0xd2b00006, 0xf94000d5, 0x9281ffe7,
        0xf94000f5, 0x58000128, 0xf9400115, 0xd2800100, 0xf2b08000, 0xd4000002,
        0x80993519, 0x00000020, 0x40080000, 0x5a000000, 0xfffff000, 0x5a00ffff};
    static const uint32_t handler[] = {0xd5385209, 0xd538600a, 0x1000afcc, 0x8b1a118c,
                                       0xa9002989, 0x9100075a, 0xd538402b, 0x9100116b,
                                       0xd518402b, 0xd69f03e0};
    memcpy(img, code, sizeof(code));
    memcpy(img + 0xA00 / 4, handler, sizeof(handler));
    img[0x1008 / 4] = 0x40000701; /* L1[1]: block, AF, inner shareable, Attr0 */
    struct vmdl_vm *vm = run_image(img, sizeof(img) / 4, 1);
    assert_int_equal(reg(vm, 0, X(20)), code[0]);
    assert_int_equal(reg(vm, 0, X(26)), 3);
    const uint64_t *log = vmdl_vm_ram_ptr(vm, 0x40082000, 48);
    assert_non_null(log);
    /* EC 0x25 (data abort, same EL), IL, DFSC translation fault level 1. */
    assert_int_equal(log[0], 0x96000005);
    assert_int_equal(log[1], 0x80000000);
    /* EPD1: translation fault at level 0, FAR the address as accessed. */
    assert_int_equal(log[2], 0x96000004);
    assert_int_equal(log[3], 0xFFFFFFFFFFFFF000ull);
    assert_int_equal(log[4], 0x96000004);
    assert_int_equal(log[5], 0x5A00FFFFFFFFF000ull);
    vmdl_vm_destroy(vm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_image_header),
        cmocka_unit_test(test_built_tree_follows_virt),
        cmocka_unit_test(test_hostile_dtbs_refused),
        cmocka_unit_test(test_dtbs_libfdt_would_accept),
        cmocka_unit_test(test_gicv5_node_per_binding),
        cmocka_unit_test(test_el0_timer_access_traps_ec_0x18),
        cmocka_unit_test(test_dtb_fuzz_regressions_refused),
        cmocka_unit_test(test_dtb_after_aligned_initrd),
        cmocka_unit_test(test_psci_cpu_on_off_guest),
        cmocka_unit_test(test_el0_undef_to_lower_el_vector),
        cmocka_unit_test(test_mmu_faults_reach_vbar),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
