/* SPDX-License-Identifier: MIT */
/*
 * Eight VMs in eight threads at once, built with ThreadSanitizer: four x86
 * (Intel with lapic + vmx + tdx, AMD with lapic + amd_pmu; one with two
 * vCPUs) and four arm64 with the GICv5, every model of the VM's
 * architecture attached by "all".  Each runs an example guest to its end,
 * then takes a checkpoint, restores it and checks that the state digest
 * survives.  Any data race between the VMs (shared mutable state in the
 * library) is a TSan report, which fails the test (halt_on_error).
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "virtmodel/checkpoint.h"
#include "virtmodel/error.h"
#include "virtmodel/loader.h"
#include "virtmodel/machine.h"
#include "virtmodel/models.h"

struct job {
    const char *guest;          /* under VMDL_GUEST_DIR, without .elf */
    enum vmdl_arch arch;
    enum vmdl_x86_vendor vendor;
    unsigned vcpus;
    const char *expect;         /* console text the guest prints on success */
    int status;                 /* guest exit status, -1: did not finish */
    char console[4096];
    size_t len;
    char error[256];
};

static void con_write(void *opaque, const char *s, size_t n)
{
    struct job *j = opaque;
    if (n > sizeof(j->console) - 1 - j->len)
        n = sizeof(j->console) - 1 - j->len;
    memcpy(j->console + j->len, s, n);
    j->len += n;
    j->console[j->len] = 0;
}

/* As the harness completes what no model claims (tools/virtmodel-run.c). */
static void complete_unclaimed(struct vmdl_vm *vm, const struct vmdl_exit *e)
{
    struct vmdl_vcpu *vcpu = vmdl_vm_vcpu(vm, e->vcpu);
    switch (e->reason) {
    case VMDL_EXIT_IO: vmdl_vcpu_complete(vcpu, e->u.io.is_write ? 0 : 0xFFFFFFFFu); break;
    case VMDL_EXIT_MMIO: vmdl_vcpu_complete(vcpu, e->u.mmio.is_write ? 0 : ~0ull); break;
    case VMDL_EXIT_SYSREG: vmdl_vcpu_complete_fault(vcpu, VMDL_FAULT_UNDEF); break;
    case VMDL_EXIT_HYPERCALL: vmdl_vcpu_complete(vcpu, (uint64_t)-1); break;
    default: vmdl_vcpu_complete_fault(vcpu, VMDL_FAULT_GP); break;
    }
}

static int run_to_end(struct vmdl_vm *vm, struct job *j)
{
    for (;;) {
        struct vmdl_exit e;
        if (vmdl_vm_run(vm, &e))
            return -1;
        switch (e.reason) {
        case VMDL_EXIT_SHUTDOWN:
            j->status = e.u.shutdown.status;
            return 0;
        case VMDL_EXIT_RESET:
            continue;
        case VMDL_EXIT_MSR_READ: case VMDL_EXIT_MSR_WRITE: case VMDL_EXIT_IO:
        case VMDL_EXIT_MMIO: case VMDL_EXIT_SYSREG: case VMDL_EXIT_VMX:
        case VMDL_EXIT_SEAM: case VMDL_EXIT_HYPERCALL:
            complete_unclaimed(vm, &e);
            continue;
        default:
            snprintf(j->error, sizeof(j->error), "exit %s at 0x%llx",
                     vmdl_exit_reason_name(e.reason), (unsigned long long)e.pc);
            return -1;
        }
    }
}

/* Save, restore, and compare the digest: the checkpoint code under threads. */
static int checkpoint_round_trip(struct vmdl_vm *vm)
{
    uint32_t before = vmdl_vm_state_digest(vm);
    uint8_t *blob = NULL;
    size_t len = 0;
    if (vmdl_vm_checkpoint_save(vm, &blob, &len))
        return -1;
    int err = vmdl_vm_checkpoint_restore(vm, blob, len);
    free(blob);
    return err || vmdl_vm_state_digest(vm) != before ? -1 : 0;
}

static int run_job(struct job *j)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s.elf", VMDL_GUEST_DIR, j->guest);
    uint8_t *img;
    size_t size;
    if (vmdl_read_file(path, &img, &size))
        return -1;
    struct vmdl_vm_config cfg = {.arch = j->arch, .vendor = j->vendor,
                                 .nr_vcpus = j->vcpus, .console = con_write,
                                 .console_opaque = j};
    struct vmdl_vm *vm = NULL;
    int err = vmdl_vm_create(&cfg, &vm);
    if (!err)
        err = vmdl_vm_load_elf(vm, img, size);
    free(img);
    if (!err)
        err = vmdl_attach_models(vm, "all", NULL);
    if (!err) {
        vmdl_vm_set_limits(vm, 400000000, 0);
        err = run_to_end(vm, j);
    }
    if (!err)
        err = checkpoint_round_trip(vm);
    if (err && !j->error[0])
        snprintf(j->error, sizeof(j->error), "%s", vmdl_last_error());
    vmdl_vm_destroy(vm);
    return err;
}

static void *thread_main(void *arg)
{
    struct job *j = arg;
    if (run_job(j) && !j->error[0])
        snprintf(j->error, sizeof(j->error), "failed");
    return NULL;
}

int main(void)
{
    struct job jobs[] = {
        {"x86_64/vmx_fields", VMDL_ARCH_X86_64, VMDL_VENDOR_INTEL, 1, "fields", -1, "", 0, ""},
        {"x86_64/tdx_version", VMDL_ARCH_X86_64, VMDL_VENDOR_INTEL, 1, "Module version", -1, "", 0, ""},
        {"x86_64/lapic_ipi", VMDL_ARCH_X86_64, VMDL_VENDOR_INTEL, 2, "ping-pongs", -1, "", 0, ""},
        {"x86_64/amd_pmu_count", VMDL_ARCH_X86_64, VMDL_VENDOR_AMD, 1, "", -1, "", 0, ""},
        {"arm64/gicv5_ppi", VMDL_ARCH_ARM64, VMDL_VENDOR_INTEL, 1, "gicv5_ppi: PASS", -1, "", 0, ""},
        {"arm64/gicv5_roundtrip", VMDL_ARCH_ARM64, VMDL_VENDOR_INTEL, 1, "", -1, "", 0, ""},
        {"arm64/gicv5_migrate", VMDL_ARCH_ARM64, VMDL_VENDOR_INTEL, 2, "", -1, "", 0, ""},
        {"arm64/hello", VMDL_ARCH_ARM64, VMDL_VENDOR_INTEL, 1, "", -1, "", 0, ""},
    };
    enum { N = sizeof(jobs) / sizeof(jobs[0]) };
    pthread_t t[N];
    for (unsigned i = 0; i < N; i++)
        if (pthread_create(&t[i], NULL, thread_main, &jobs[i])) {
            fprintf(stderr, "pthread_create failed\n");
            return 1;
        }
    int failed = 0;
    for (unsigned i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        struct job *j = &jobs[i];
        bool ok = !j->error[0] && j->status == 0 && strstr(j->console, j->expect);
        printf("%-24s %s status %d%s%s\n", j->guest, ok ? "ok  " : "FAIL", j->status,
               j->error[0] ? ": " : "", j->error);
        if (!ok) {
            printf("---- console ----\n%s\n-----------------\n", j->console);
            failed = 1;
        }
    }
    return failed;
}
