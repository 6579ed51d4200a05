/* SPDX-License-Identifier: MIT */
/*
 * bench/vs_qemu/vmdl_scale: issue 17's scale figures, on the compute loop
 * of x86_loop.elf (bench/vs_qemu):
 *  1. cost per retired instruction with 1 to 64 vCPUs (one Unicorn engine
 *     each, deterministic round robin), and the creation cost per vCPU;
 *  2. 1 to 1,000 VMs created, run and destroyed one after the other in one
 *     process, resident set size sampled as it goes;
 *  3. memory per VM: RSS of a 4 GiB guest before and after it runs, of a
 *     checkpoint restore, and of 100 small VMs alive at once.
 * CPU time (the process clock), not wall time, since the machine is shared.
 * Prints its figures; asserts nothing.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "loop_image.h"
#include "virtmodel/error.h"
#include "virtmodel/loader.h"
#include "virtmodel/checkpoint.h"
#include "virtmodel/machine.h"
#include "virtmodel/models.h"

#ifndef VS_QEMU_GUEST_DIR
#define VS_QEMU_GUEST_DIR "."
#endif

static struct loop_image image;

static void die(const char *what)
{
    fprintf(stderr, "vmdl_scale: %s: %s\n", what, vmdl_last_error());
    exit(1);
}

static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double rss_mib(void)
{
    long pages_total, pages_res;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f || fscanf(f, "%ld %ld", &pages_total, &pages_res) != 2)
        exit(1);
    fclose(f);
    return (double)pages_res * (double)sysconf(_SC_PAGESIZE) / (1024.0 * 1024.0);
}

static void load_image(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/x86_loop.elf", dir);
    if (loop_image_load(path, &image))
        exit(1);
}

static struct vmdl_vm *make_vm(unsigned vcpus, uint64_t ram, const char *models, uint64_t n)
{
    loop_image_patch(&image, 0 /* compute */, n);
    struct vmdl_vm_config cfg = {.arch = VMDL_ARCH_X86_64, .nr_vcpus = vcpus, .ram_size = ram};
    struct vmdl_vm *vm;
    if (vmdl_vm_create(&cfg, &vm))
        die("vmdl_vm_create");
    if (vmdl_vm_load_elf(vm, image.data, image.size) || vmdl_attach_models(vm, models, NULL))
        die("load");
    return vm;
}

/* Run to the first vCPU's debug-exit; every vCPU runs the same loop. */
static uint64_t run_vm(struct vmdl_vm *vm)
{
    struct vmdl_exit e;
    if (vmdl_vm_run(vm, &e))
        die("vmdl_vm_run");
    if (e.reason != VMDL_EXIT_SHUTDOWN) {
        fprintf(stderr, "vmdl_scale: unexpected exit %s\n", vmdl_exit_reason_name(e.reason));
        exit(1);
    }
    uint64_t insns = 0;
    for (unsigned i = 0; i < vmdl_vm_nr_vcpus(vm); i++)
        insns += vmdl_vcpu_insns(vmdl_vm_vcpu(vm, i));
    return insns;
}

static void vcpu_scaling(void)
{
    printf("\n## cost per vCPU (models none, compute loop, 3 * 10^6 instructions per vCPU)\n\n"
           "| vCPUs | create, per vCPU | run, per retired instruction | instructions |\n"
           "| --- | --- | --- | --- |\n");
    static const unsigned counts[] = {1, 2, 4, 8, 16, 32, 64};
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        unsigned n = counts[i];
        double best_create = 1e30, best_run = 1e30;
        uint64_t insns = 0;
        for (int round = 0; round < 3; round++) {
            uint64_t t0 = cpu_ns();
            /* Counting is on with several vCPUs (the scheduler needs it);
             * force it for one too, so every row pays the same. */
            struct vmdl_vm *vm = make_vm(n, 16 << 20, "none", 300000);
            for (unsigned v = 0; v < n; v++)
                vmdl_vcpu_need_insn_count(vmdl_vm_vcpu(vm, v), true);
            uint64_t t1 = cpu_ns();
            insns = run_vm(vm);
            uint64_t t2 = cpu_ns();
            vmdl_vm_destroy(vm);
            double c = (double)(t1 - t0) / n / 1000.0, r = (double)(t2 - t1) / (double)insns;
            if (c < best_create) best_create = c;
            if (r < best_run) best_run = r;
        }
        printf("| %u | %.0f us | %.2f ns | %" PRIu64 " |\n", n, best_create, best_run, insns);
        fflush(stdout);
    }
}

static void vm_churn(void)
{
    printf("\n## 1,000 VMs created, run and destroyed in turn (models all, 64 MiB RAM)\n\n"
           "| VMs so far | RSS | CPU per VM (create + run 10^4 instructions + destroy) |\n"
           "| --- | --- | --- |\n");
    uint64_t t0 = cpu_ns();
    for (unsigned i = 1; i <= 1000; i++) {
        struct vmdl_vm *vm = make_vm(1, 0, "all", 1000);
        run_vm(vm);
        vmdl_vm_destroy(vm);
        if (i == 1 || i == 10 || i == 100 || i == 250 || i == 500 || i == 1000) {
            printf("| %u | %.1f MiB | %.2f ms |\n", i, rss_mib(),
                   (double)(cpu_ns() - t0) / i / 1e6);
            fflush(stdout);
        }
    }
}

/* A checkpoint of a VM that ran, restored into a fresh VM of the same size:
 * RSS before and after the restore. */
/* A change in RSS smaller than what it resolves reads as 0, not -0.0. */
static double growth(double mib)
{
    return mib > -0.05 && mib < 0.05 ? 0.0 : mib;
}

static void restore_rss(uint64_t ram)
{
    struct vmdl_vm *vm = make_vm(1, ram, "all", 1000000);
    run_vm(vm);
    uint8_t *blob;
    size_t len;
    if (vmdl_vm_checkpoint_save(vm, &blob, &len))
        die("checkpoint save");
    vmdl_vm_destroy(vm);
    vm = make_vm(1, ram, "all", 1000000);
    double before = rss_mib();
    if (vmdl_vm_checkpoint_restore(vm, blob, len))
        die("checkpoint restore");
    printf("| x86 VM with %" PRIu64 " MiB of RAM: checkpoint (%zu KiB) restored into a fresh one "
           "| %+.1f MiB |\n", ram >> 20, len >> 10, growth(rss_mib() - before));
    free(blob);
    vmdl_vm_destroy(vm);
}

static void memory_per_vm(void)
{
    printf("\n## memory per VM\n\n| what | RSS |\n| --- | --- |\n");
    double base = rss_mib();
    printf("| before | %.1f MiB |\n", base);
    /* arm64 RAM may pass 4 GiB; x86 RAM from 3.5 GiB on is split around
     * the PCI hole (3 GiB at 0, the rest from 4 GiB, as QEMU's pc). */
    struct vmdl_vm_config cfg = {.arch = VMDL_ARCH_ARM64, .ram_size = 4ull << 30};
    struct vmdl_vm *big;
    if (vmdl_vm_create(&cfg, &big))
        die("4 GiB arm64 VM");
    printf("| arm64 VM with 4 GiB of RAM, created | %.1f MiB |\n", rss_mib());
    vmdl_vm_destroy(big);
    const uint64_t x86_4g = 4ull << 30, x86_16g = 16ull << 30;
    struct vmdl_vm *vm = make_vm(1, x86_4g, "all", 1000000);
    printf("| x86 VM with 4 GiB of RAM (3 GiB + 1 GiB above 4 GiB), created and loaded "
           "| %.1f MiB |\n", rss_mib());
    run_vm(vm);
    printf("| the same after running 10^7 instructions | %.1f MiB |\n", rss_mib());
    vmdl_vm_destroy(vm);
    printf("| after destroying it | %.1f MiB |\n", rss_mib());
    vm = make_vm(1, x86_16g, "all", 1000000);
    printf("| x86 VM with 16 GiB of RAM, created and loaded | %.1f MiB |\n", rss_mib());
    vmdl_vm_destroy(vm);
    restore_rss(1ull << 30);
    restore_rss(x86_4g);
    enum { MANY = 100 };
    struct vmdl_vm *vms[MANY];
    double before = rss_mib();
    for (int i = 0; i < MANY; i++) {
        vms[i] = make_vm(1, 0, "all", 1000);
        run_vm(vms[i]);
    }
    double after = rss_mib();
    printf("| %d x86 VMs (64 MiB RAM, models all) alive after running | %.1f MiB (%.2f MiB per VM) |\n",
           MANY, after, (after - before) / MANY);
    for (int i = 0; i < MANY; i++)
        vmdl_vm_destroy(vms[i]);
}

int main(int argc, char **argv)
{
    const char *dir = VS_QEMU_GUEST_DIR;
    if (argc == 3 && !strcmp(argv[1], "--guest-dir"))
        dir = argv[2];
    else if (argc != 1) {
        printf("usage: vmdl_scale [--guest-dir DIR]\n");
        return 2;
    }
    load_image(dir);
    /* The churn first: the 100 VMs kept alive later leave glibc's heap
     * larger, which would hide growth. */
    vcpu_scaling();
    vm_churn();
    memory_per_vm();
    free(image.data);
    return 0;
}
