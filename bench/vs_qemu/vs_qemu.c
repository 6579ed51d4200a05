/* SPDX-License-Identifier: MIT */
/*
 * bench/vs_qemu: issue 17's table.  The same loop guests (x86_loop.S,
 * arm64_loop.S; one ELF per architecture, the operation and the iteration
 * count patched into a parameter block) run through the library and, when
 * installed, through qemu-system-x86_64 / qemu-system-aarch64 TCG.
 *
 * Cost per operation = (t(N) - t(1)) / N, so start-up (QEMU's firmware,
 * the VM's creation) cancels.  t is CPU time (user + system of the QEMU
 * process from wait4(), the process CPU clock for the library), because the
 * machine this runs on is shared: wall time would measure the other
 * tenants.  Runs are interleaved (library, QEMU, library, ...) and each
 * side keeps its best t(1) and best t(N) over the rounds.
 *
 * Prints a table; asserts nothing (docs/performance.md).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "loop_image.h"
#include "virtmodel/error.h"
#include "virtmodel/loader.h"
#include "virtmodel/machine.h"
#include "virtmodel/models.h"

#ifndef VS_QEMU_GUEST_DIR
#define VS_QEMU_GUEST_DIR "."
#endif

enum { X86_COMPUTE, X86_RDMSR, X86_CPUID, X86_TPR, X86_OUT, X86_WRMSR, X86_VMREAD,
       X86_VMWRITE };
enum { A64_COMPUTE, A64_MRS_GICV5, A64_MRS_GICV3, A64_HVC, A64_MMIO };

struct row {
    const char *name;
    enum vmdl_arch arch;
    int lib_op, qemu_op;   /* qemu_op < 0: no QEMU counterpart */
    const char *models;    /* for the library run */
    uint64_t lib_n, qemu_n;
    unsigned per_iter;     /* operations per loop iteration */
    const char *note;
    unsigned vcpus;        /* library VM's vCPUs (0: one) */
};

/* N per side: each side runs long enough that t(N) dwarfs the noise of
 * t(1), and no longer (trapped operations in virtmodel cost microseconds). */
static const struct row rows[] = {
    {"x86 compute loop, per instruction", VMDL_ARCH_X86_64, X86_COMPUTE, X86_COMPUTE,
     "all", 10000000, 30000000, 10, "8 ALU + DEC + JNZ", 1},
    {"x86 compute loop, --models none", VMDL_ARCH_X86_64, X86_COMPUTE, X86_COMPUTE,
     "none", 10000000, 30000000, 10, "QEMU column: the same QEMU run", 1},
    {"x86 RDMSR IA32_APIC_BASE", VMDL_ARCH_X86_64, X86_RDMSR, X86_RDMSR, "all",
     300000, 10000000, 1, "", 1},
    {"x86 2 vCPUs: RDMSR IA32_APIC_BASE", VMDL_ARCH_X86_64, X86_RDMSR, -1, "all",
     300000, 0, 1, "the second vCPU waits for INIT/SIPI", 2},
    {"x86 WRMSR IA32_APIC_BASE", VMDL_ARCH_X86_64, X86_WRMSR, X86_WRMSR, "all",
     300000, 10000000, 1, "the value it has", 1},
    {"x86 VMREAD GUEST_RIP", VMDL_ARCH_X86_64, X86_VMREAD, -1, "all", 300000, 0, 1,
     "no VMX in QEMU TCG", 1},
    {"x86 VMWRITE GUEST_RIP", VMDL_ARCH_X86_64, X86_VMWRITE, -1, "all", 300000, 0, 1,
     "no VMX in QEMU TCG", 1},
    {"x86 CPUID leaf 0", VMDL_ARCH_X86_64, X86_CPUID, X86_CPUID, "all", 1000000,
     10000000, 1, "", 1},
    {"x86 xAPIC TPR MMIO read", VMDL_ARCH_X86_64, X86_TPR, X86_TPR, "all", 1000000,
     3000000, 1, "", 1},
    {"x86 OUT to port 0x80", VMDL_ARCH_X86_64, X86_OUT, X86_OUT, "all", 1000000,
     10000000, 1, "", 1},
    {"arm64 compute loop, per instruction", VMDL_ARCH_ARM64, A64_COMPUTE, A64_COMPUTE,
     "all", 10000000, 30000000, 10, "8 ALU + SUBS + B.NE", 1},
    {"arm64 compute loop, --models none", VMDL_ARCH_ARM64, A64_COMPUTE, A64_COMPUTE,
     "none", 10000000, 30000000, 10, "QEMU column: the same QEMU run", 1},
    {"arm64 MRS GICv5 ICC_PCR_EL1", VMDL_ARCH_ARM64, A64_MRS_GICV5, A64_MRS_GICV3,
     "all", 1000000, 10000000, 1, "QEMU: GICv3 ICC_PMR_EL1 (no GICv5 in QEMU)", 1},
    {"arm64 HVC PSCI_VERSION", VMDL_ARCH_ARM64, A64_HVC, A64_HVC, "all", 1000000,
     3000000, 1, "", 1},
    {"arm64 MMIO read (PL011 FR)", VMDL_ARCH_ARM64, A64_MMIO, A64_MMIO, "all",
     1000000, 3000000, 1, "", 1},
};

static struct loop_image images[2];  /* 0 x86, 1 arm64 */
static const char *guest_dir = VS_QEMU_GUEST_DIR;
static bool use_qemu = true;

static void die(const char *what)
{
    fprintf(stderr, "vs_qemu: %s\n", what);
    exit(1);
}

static struct loop_image *image_of(enum vmdl_arch a)
{
    return &images[a == VMDL_ARCH_X86_64 ? 0 : 1];
}

static void load_image(enum vmdl_arch a)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", guest_dir,
             a == VMDL_ARCH_X86_64 ? "x86_loop.elf" : "arm64_loop.elf");
    if (loop_image_load(path, image_of(a)))
        exit(1);
}

static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The library run: create, load, attach, run to the guest's exit (the
 * exits no model claims completed as virtmodel-run completes them). */
static uint64_t run_lib(const struct row *r, uint64_t n)
{
    struct loop_image *im = image_of(r->arch);
    loop_image_patch(im, (uint64_t)r->lib_op, n);
    uint64_t t0 = cpu_ns();
    struct vmdl_vm_config cfg = {.arch = r->arch, .nr_vcpus = r->vcpus};
    struct vmdl_vm *vm;
    if (vmdl_vm_create(&cfg, &vm) || vmdl_vm_load_elf(vm, im->data, im->size) ||
        vmdl_attach_models(vm, r->models, NULL)) {
        fprintf(stderr, "vs_qemu: %s: %s\n", r->name, vmdl_last_error());
        exit(1);
    }
    for (;;) {
        struct vmdl_exit e;
        if (vmdl_vm_run(vm, &e))
            die(vmdl_last_error());
        if (e.reason == VMDL_EXIT_SHUTDOWN)
            break;
        struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, e.vcpu);
        switch (e.reason) {
        case VMDL_EXIT_IO:
            vmdl_vcpu_complete(v, e.u.io.is_write ? 0 : 0xFFFFFFFFu);
            break;
        case VMDL_EXIT_MMIO:
            vmdl_vcpu_complete(v, e.u.mmio.is_write ? 0 : ~0ull);
            break;
        case VMDL_EXIT_HYPERCALL:
            vmdl_vcpu_complete(v, (uint64_t)-1);
            break;
        default:
            fprintf(stderr, "vs_qemu: %s: unexpected exit %s at pc 0x%" PRIx64 "\n",
                    r->name, vmdl_exit_reason_name(e.reason), e.pc);
            exit(1);
        }
    }
    vmdl_vm_destroy(vm);
    return cpu_ns() - t0;
}

/* The QEMU run: the patched image in a temporary file, QEMU's CPU time
 * from wait4(); the guest's exit status checked. */
static uint64_t run_qemu(const struct row *r, uint64_t n)
{
    struct loop_image *im = image_of(r->arch);
    loop_image_patch(im, (uint64_t)r->qemu_op, n);
    char path[] = "/tmp/vs_qemu_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0 || write(fd, im->data, im->size) != (ssize_t)im->size)
        die("cannot write the temporary guest image");
    close(fd);
    bool x86 = r->arch == VMDL_ARCH_X86_64;
    const char *x86_argv[] = {"qemu-system-x86_64", "-M", "pc", "-cpu", "max", "-m", "128",
        "-accel", "tcg", "-nodefaults", "-display", "none", "-no-reboot",
        "-device", "isa-debug-exit,iobase=0xf4,iosize=1", "-kernel", path, NULL};
    const char *arm_argv[] = {"qemu-system-aarch64", "-M", "virt,gic-version=3",
        "-cpu", "max", "-m", "128", "-accel", "tcg", "-nodefaults", "-display", "none",
        "-no-reboot", "-kernel", path, NULL};
    pid_t pid = fork();
    if (pid < 0)
        die("fork failed");
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
        execvp(x86 ? x86_argv[0] : arm_argv[0], (char *const *)(x86 ? x86_argv : arm_argv));
        _exit(127);
    }
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) != pid)
        die("wait4 failed");
    unlink(path);
    /* isa-debug-exit turns the guest's 0 into 1; PSCI SYSTEM_OFF exits 0. */
    int want = x86 ? 1 : 0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != want) {
        fprintf(stderr, "vs_qemu: %s: QEMU ended with status 0x%x\n", r->name, status);
        exit(1);
    }
    return (uint64_t)ru.ru_utime.tv_sec * 1000000000u + (uint64_t)ru.ru_utime.tv_usec * 1000u +
           (uint64_t)ru.ru_stime.tv_sec * 1000000000u + (uint64_t)ru.ru_stime.tv_usec * 1000u;
}

static bool have_program(const char *name)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", name);
    return system(cmd) == 0;
}

static double per_op(uint64_t t1, uint64_t tn, uint64_t n, unsigned per_iter)
{
    return ((double)tn - (double)t1) / ((double)n * per_iter);
}

/* A cost in ns, with three decimals below 10 ns (the compute rows differ in
 * the second one). */
static const char *ns(double v, char *buf, size_t n)
{
    snprintf(buf, n, v < 10 ? "%.3f ns" : "%.2f ns", v);
    return buf;
}

static void usage(void)
{
    printf("usage: vs_qemu [--rounds R] [--scale S] [--no-qemu] [--only x86|arm64]\n"
           "               [--row TEXT] [--guest-dir DIR]\n"
           "  --rounds R   interleaved rounds; each side keeps its best (default 3)\n"
           "  --scale S    multiply every N by S (e.g. 0.1 for a quick look)\n"
           "  --row TEXT   only the rows whose name contains TEXT\n");
}

int main(int argc, char **argv)
{
    unsigned rounds = 3;
    double scale = 1.0;
    const char *only = NULL, *row = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
            rounds = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--scale") && i + 1 < argc)
            scale = atof(argv[++i]);
        else if (!strcmp(argv[i], "--no-qemu"))
            use_qemu = false;
        else if (!strcmp(argv[i], "--only") && i + 1 < argc)
            only = argv[++i];
        else if (!strcmp(argv[i], "--row") && i + 1 < argc)
            row = argv[++i];
        else if (!strcmp(argv[i], "--guest-dir") && i + 1 < argc)
            guest_dir = argv[++i];
        else {
            usage();
            return strcmp(argv[i], "--help") ? 2 : 0;
        }
    }
    if (rounds == 0 || scale <= 0)
        die("--rounds and --scale must be positive");
    bool qemu_x86 = use_qemu && have_program("qemu-system-x86_64");
    bool qemu_arm = use_qemu && have_program("qemu-system-aarch64");
    load_image(VMDL_ARCH_X86_64);
    load_image(VMDL_ARCH_ARM64);

    printf("| operation | N virtmodel | N QEMU | virtmodel | QEMU TCG | ratio | note |\n"
           "| --- | --- | --- | --- | --- | --- | --- |\n");
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct row *r = &rows[i];
        bool x86 = r->arch == VMDL_ARCH_X86_64;
        if ((only && strcmp(only, x86 ? "x86" : "arm64")) || (row && !strstr(r->name, row)))
            continue;
        bool q = r->qemu_op >= 0 && (x86 ? qemu_x86 : qemu_arm);
        uint64_t ln = (uint64_t)(r->lib_n * scale) + 1, qn = (uint64_t)(r->qemu_n * scale) + 1;
        uint64_t l1 = UINT64_MAX, lN = UINT64_MAX, q1 = UINT64_MAX, qN = UINT64_MAX, t;
        for (unsigned k = 0; k < rounds; k++) {
            if ((t = run_lib(r, 1)) < l1) l1 = t;
            if (q && (t = run_qemu(r, 1)) < q1) q1 = t;
            if ((t = run_lib(r, ln)) < lN) lN = t;
            if (q && (t = run_qemu(r, qn)) < qN) qN = t;
        }
        double lv = per_op(l1, lN, ln, r->per_iter);
        printf("| %s | %" PRIu64 " | ", r->name, ln);
        char b1[32], b2[32];
        if (q) {
            double qv = per_op(q1, qN, qn, r->per_iter);
            /* t(N) <= t(1) means N was too small for the noise. */
            if (lv > 0 && qv > 0)
                printf("%" PRIu64 " | %s | %s | %.2fx | %s |\n", qn, ns(lv, b1, sizeof(b1)),
                       ns(qv, b2, sizeof(b2)), lv / qv, r->note);
            else
                printf("%" PRIu64 " | %s | %s | n/a: N too small, raise --scale | %s |\n",
                       qn, ns(lv, b1, sizeof(b1)), ns(qv, b2, sizeof(b2)), r->note);
        } else {
            printf("- | %s | - | - | %s |\n", ns(lv, b1, sizeof(b1)), r->note);
        }
        fflush(stdout);
    }
    return 0;
}
