/* SPDX-License-Identifier: MIT */
/*
 * virtmodel-run: load a guest image, attach the models, and run it like a
 * tiny VMM around KVM_RUN: the library completes the exits its models claim,
 * this program completes the rest the way QEMU would for a device-less
 * machine, and the guest's exit status becomes ours.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "virtmodel/amd_pmu.h"
#include "virtmodel/checkpoint.h"
#include "virtmodel/error.h"
#include "virtmodel/loader.h"
#include "virtmodel/machine.h"
#include "virtmodel/models.h"

/* Harness exit statuses other than the guest's own. */
enum {
    EXIT_USAGE = 2,          /* bad option or image */
    EXIT_HALTED = 3,         /* every vCPU halted with nothing to wake it */
    EXIT_FAULT_LOOP = 4,     /* triple fault / undeliverable exception */
    EXIT_INTERNAL = 5,       /* the machine could not go on */
    EXIT_TIMEOUT = 124,      /* --timeout reached (as timeout(1)) */
    EXIT_MAX_INSNS = 125,    /* --max-insns reached */
};

static void usage(FILE *f)
{
    fprintf(f,
"usage: virtmodel-run IMAGE [options]\n"
"\n"
"Run a guest image (static ELF64 for x86-64 or AArch64, or a raw binary)\n"
"through virtmodel's machine layer with the models attached.  The guest's\n"
"console goes to stdout; the guest's exit status becomes this program's.\n"
"\n"
"options:\n"
"  --models LIST       models to attach: all (default: those of the image's\n"
"                      architecture and vendor), none, or a comma list\n"
"  --vcpus N           number of vCPUs (default 1; scheduling is deterministic)\n"
"  --quantum N         instructions per vCPU turn when N > 1 (default 100000)\n"
"  --ram MIB           guest RAM in MiB (default 64)\n"
"  --trace             one line per exit on stderr: vCPU, reason, PC,\n"
"                      disassembly, outcome\n"
"  --max-insns N       stop after N retired instructions (status 125)\n"
"  --timeout SECONDS   stop after this wall-clock time (status 124)\n"
"  --stats             print instructions, exits and resets at the end\n"
"  --count             count instructions and taken branches exactly from the\n"
"                      start (one block hook: slower); also reports a branch\n"
"                      to a non-canonical address on the branch, not the target\n"
"  --raw ARCH          IMAGE is a raw binary for ARCH (x86_64 or arm64)\n"
"  --load-addr ADDR    where a raw binary goes and starts (default 0x100000 on\n"
"                      x86-64, 0x40080000 on arm64)\n"
"  --vendor V          x86 CPUID vendor: intel (default) or amd\n"
"  --msr-exits         unclaimed MSRs exit to this program (which answers #GP)\n"
"                      instead of faulting inside the machine\n"
"  --checkpoint FILE   with --checkpoint-after N: after N retired instructions,\n"
"                      write a whole-VM checkpoint to FILE and stop (status 0)\n"
"  --checkpoint-after N\n"
"  --restore FILE      load IMAGE, attach the same models, then continue from\n"
"                      the checkpoint in FILE (same options as when it was taken)\n"
"  --digest            print a digest of the final RAM and registers\n"
"model options:\n"
"  --vmx-profile NAME  VMX capability profile (vmx model)\n"
"  --apicv             use the APICv backend of the local APIC model\n"
"  --apicv-deferred-nested-updates   old KVM behaviour (quirk)\n"
"  --tdx-profile P     TDX module profile name or profile file (tdx model)\n"
"  --pmu CONFIG        AMD PMU: perfmonv2 (default), v2:N, core, legacy, off\n"
"  --pmu-quirk-no-reset        PMU state survives a VM reset (QEMU before\n"
"                              its fix)\n"
"  --pmu-quirk-gp-reserved     #GP on reserved event-select bits (KVM before\n"
"                              2022)\n"
"  --pmu-quirk-disable-ignored --pmu off does not reach the vCPU (QEMU before\n"
"                              KVM_PMU_CAP_DISABLE)\n"
"  --pmu-quirk-no-status-set   GLOBAL_STATUS_SET #GPs (older KVM)\n"
"  --pmu-quirk-global-ctl-zero GLOBAL_CTL starts at 0 (KVM 6.0-6.9)\n"
"  --pmu-arch-counters         up to 15 PerfMonV2 counters instead of KVM's 6\n"
"  --gicv5-pcpus N     modelled physical CPUs for the GICv5 model (default 2)\n"
"  --gicv5-sparse      sparse PPI storage in the GICv5 model\n"
"  --help              this text\n"
"\n"
"exit status: the guest's (x86: isa-debug-exit gives (value << 1) | 1, ACPI\n"
"power-off gives 0; arm64: PSCI SYSTEM_OFF gives 0, HVC #0 with x0 =\n"
"0xC6000000 gives x1), or 2 for a bad option\n"
"or image, 3 when every vCPU halted with nothing to wake it, 4 on a triple\n"
"fault, 5 on an internal error, 124 on --timeout, 125 on --max-insns.\n"
"\n"
"models:\n");
    for (const struct vmdl_model_info *m = vmdl_models(); m->name; m++)
        fprintf(f, "  %-10s %-7s %s\n", m->name,
                m->arch == VMDL_ARCH_X86_64 ? "x86-64" : "arm64", m->summary);
}

static int parse_u64(const char *s, uint64_t *out, const char *what)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || !*s || *end || s[0] == '-') {
        fprintf(stderr, "virtmodel-run: %s: '%s' is not a number\n", what, s);
        return -1;
    }
    *out = v;
    return 0;
}

struct options {
    const char *image;
    const char *models;
    uint64_t vcpus, quantum, ram_mib, max_insns, load_addr;
    double timeout;
    int trace, stats, count, msr_exits, digest;
    const char *checkpoint, *restore;
    uint64_t checkpoint_after;
    const char *raw_arch;
    enum vmdl_x86_vendor vendor;
    struct vmdl_model_options mopts;
};

static int parse_args(int argc, char **argv, struct options *o)
{
    enum { O_MODELS = 256, O_VCPUS, O_QUANTUM, O_RAM, O_TRACE, O_MAXI, O_TIMEOUT,
           O_STATS, O_COUNT, O_RAW, O_LOAD, O_VENDOR, O_MSR, O_VMXP, O_APICV, O_APICVQ,
           O_TDXP, O_PMU, O_PMUQR, O_PMUQG, O_PMUQD, O_PMUQS, O_PMUQZ, O_PMUAC, O_GPCPU, O_GSPARSE, O_CKPT, O_CKPT_AT, O_RESTORE, O_DIGEST, O_HELP };
    static const struct option longopts[] = {
        {"models", required_argument, 0, O_MODELS},
        {"vcpus", required_argument, 0, O_VCPUS},
        {"quantum", required_argument, 0, O_QUANTUM},
        {"ram", required_argument, 0, O_RAM},
        {"trace", no_argument, 0, O_TRACE},
        {"max-insns", required_argument, 0, O_MAXI},
        {"timeout", required_argument, 0, O_TIMEOUT},
        {"stats", no_argument, 0, O_STATS},
        {"count", no_argument, 0, O_COUNT},
        {"raw", required_argument, 0, O_RAW},
        {"load-addr", required_argument, 0, O_LOAD},
        {"vendor", required_argument, 0, O_VENDOR},
        {"msr-exits", no_argument, 0, O_MSR},
        {"vmx-profile", required_argument, 0, O_VMXP},
        {"apicv", no_argument, 0, O_APICV},
        {"apicv-deferred-nested-updates", no_argument, 0, O_APICVQ},
        {"tdx-profile", required_argument, 0, O_TDXP},
        {"pmu", required_argument, 0, O_PMU},
        {"pmu-quirk-no-reset", no_argument, 0, O_PMUQR},
        {"pmu-quirk-gp-reserved", no_argument, 0, O_PMUQG},
        {"pmu-quirk-disable-ignored", no_argument, 0, O_PMUQD},
        {"pmu-quirk-no-status-set", no_argument, 0, O_PMUQS},
        {"pmu-quirk-global-ctl-zero", no_argument, 0, O_PMUQZ},
        {"pmu-arch-counters", no_argument, 0, O_PMUAC},
        {"gicv5-pcpus", required_argument, 0, O_GPCPU},
        {"gicv5-sparse", no_argument, 0, O_GSPARSE},
        {"checkpoint", required_argument, 0, O_CKPT},
        {"checkpoint-after", required_argument, 0, O_CKPT_AT},
        {"restore", required_argument, 0, O_RESTORE},
        {"digest", no_argument, 0, O_DIGEST},
        {"help", no_argument, 0, O_HELP},
        {0, 0, 0, 0},
    };
    memset(o, 0, sizeof(*o));
    o->models = "all";
    o->vcpus = 1;
    o->ram_mib = 64;
    o->load_addr = UINT64_MAX;
    opterr = 0;
    int c;
    uint64_t n;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case O_MODELS: o->models = optarg; break;
        case O_VCPUS:
            if (parse_u64(optarg, &o->vcpus, "--vcpus")) return -1;
            if (o->vcpus < 1 || o->vcpus > VMDL_MAX_VCPUS) {
                fprintf(stderr, "virtmodel-run: --vcpus must be 1..%d\n", VMDL_MAX_VCPUS);
                return -1;
            }
            break;
        case O_QUANTUM:
            if (parse_u64(optarg, &o->quantum, "--quantum")) return -1;
            break;
        case O_RAM:
            if (parse_u64(optarg, &o->ram_mib, "--ram")) return -1;
            break;
        case O_TRACE: o->trace = 1; break;
        case O_MAXI:
            if (parse_u64(optarg, &o->max_insns, "--max-insns")) return -1;
            if (!o->max_insns) {
                fprintf(stderr, "virtmodel-run: --max-insns must be positive\n");
                return -1;
            }
            break;
        case O_TIMEOUT: {
            char *end;
            o->timeout = strtod(optarg, &end);
            if (*end || !(o->timeout > 0)) {
                fprintf(stderr, "virtmodel-run: --timeout: '%s' is not a positive "
                        "number of seconds\n", optarg);
                return -1;
            }
            break;
        }
        case O_STATS: o->stats = 1; break;
        case O_COUNT: o->count = 1; break;
        case O_RAW: o->raw_arch = optarg; break;
        case O_LOAD:
            if (parse_u64(optarg, &o->load_addr, "--load-addr")) return -1;
            break;
        case O_VENDOR:
            if (!strcmp(optarg, "intel")) o->vendor = VMDL_VENDOR_INTEL;
            else if (!strcmp(optarg, "amd")) o->vendor = VMDL_VENDOR_AMD;
            else {
                fprintf(stderr, "virtmodel-run: --vendor must be intel or amd\n");
                return -1;
            }
            break;
        case O_MSR: o->msr_exits = 1; break;
        case O_VMXP: o->mopts.vmx_profile = optarg; break;
        case O_APICV: o->mopts.apicv = true; break;
        case O_APICVQ: o->mopts.apicv_nested_quirk = true; break;
        case O_TDXP: o->mopts.tdx_profile = optarg; break;
        case O_PMU: o->mopts.pmu = optarg; break;
        case O_PMUQR: o->mopts.pmu_quirks |= VMDL_AMD_PMU_QUIRK_NO_VM_RESET; break;
        case O_PMUQG: o->mopts.pmu_quirks |= VMDL_AMD_PMU_QUIRK_EVTSEL_RSVD_GP; break;
        case O_PMUQD: o->mopts.pmu_quirks |= VMDL_AMD_PMU_QUIRK_DISABLE_IGNORED; break;
        case O_PMUQS: o->mopts.pmu_quirks |= VMDL_AMD_PMU_QUIRK_NO_STATUS_SET; break;
        case O_PMUQZ: o->mopts.pmu_quirks |= VMDL_AMD_PMU_QUIRK_GLOBAL_CTL_ZERO; break;
        case O_PMUAC: o->mopts.pmu_quirks |= VMDL_AMD_PMU_QUIRK_ARCH_COUNTERS; break;
        case O_GPCPU:
            if (parse_u64(optarg, &n, "--gicv5-pcpus")) return -1;
            if (n < 1 || n > 64) {
                fprintf(stderr, "virtmodel-run: --gicv5-pcpus must be 1..64\n");
                return -1;
            }
            o->mopts.gicv5_pcpus = (unsigned)n;
            break;
        case O_GSPARSE: o->mopts.gicv5_sparse = true; break;
        case O_CKPT: o->checkpoint = optarg; break;
        case O_CKPT_AT:
            if (parse_u64(optarg, &o->checkpoint_after, "--checkpoint-after")) return -1;
            if (!o->checkpoint_after) {
                fprintf(stderr, "virtmodel-run: --checkpoint-after must be positive\n");
                return -1;
            }
            break;
        case O_RESTORE: o->restore = optarg; break;
        case O_DIGEST: o->digest = 1; break;
        case O_HELP: usage(stdout); exit(0);
        default:
            if (optopt)
                fprintf(stderr, "virtmodel-run: option needs a value or is unknown: %s\n",
                        argv[optind - 1]);
            else
                fprintf(stderr, "virtmodel-run: unknown option %s\n", argv[optind - 1]);
            fprintf(stderr, "try 'virtmodel-run --help'\n");
            return -1;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, optind >= argc ? "virtmodel-run: no IMAGE given\n"
                                       : "virtmodel-run: more than one IMAGE given\n");
        fprintf(stderr, "try 'virtmodel-run --help'\n");
        return -1;
    }
    o->image = argv[optind];
    if (o->ram_mib < 1 || o->ram_mib > 3072) {
        fprintf(stderr, "virtmodel-run: --ram must be 1..3072 MiB\n");
        return -1;
    }
    if (o->raw_arch && strcmp(o->raw_arch, "x86_64") && strcmp(o->raw_arch, "arm64")) {
        fprintf(stderr, "virtmodel-run: --raw must be x86_64 or arm64\n");
        return -1;
    }
    if (!o->checkpoint != !o->checkpoint_after) {
        fprintf(stderr, "virtmodel-run: --checkpoint and --checkpoint-after go together\n");
        return -1;
    }
    if (o->checkpoint && o->max_insns) {
        fprintf(stderr, "virtmodel-run: --checkpoint-after and --max-insns exclude each other\n");
        return -1;
    }
    if (o->load_addr != UINT64_MAX && !o->raw_arch) {
        fprintf(stderr, "virtmodel-run: --load-addr applies to --raw images only\n");
        return -1;
    }
    return 0;
}

/* Complete what no model claimed, as a device-less QEMU machine would. */
static void complete_unclaimed(struct vmdl_vm *vm, const struct vmdl_exit *e)
{
    struct vmdl_vcpu *vcpu = vmdl_vm_vcpu(vm, e->vcpu);
    switch (e->reason) {
    case VMDL_EXIT_MSR_READ:
    case VMDL_EXIT_MSR_WRITE:
        vmdl_vcpu_complete_fault(vcpu, VMDL_FAULT_GP);
        break;
    case VMDL_EXIT_IO:
        /* Reads of an empty port float high. */
        vmdl_vcpu_complete(vcpu, e->u.io.is_write ? 0 : 0xFFFFFFFFu);
        break;
    case VMDL_EXIT_MMIO:
        vmdl_vcpu_complete(vcpu, e->u.mmio.is_write ? 0 : ~0ull);
        break;
    case VMDL_EXIT_SYSREG:
        vmdl_vcpu_complete_fault(vcpu, VMDL_FAULT_UNDEF);
        break;
    case VMDL_EXIT_VMX:
    case VMDL_EXIT_SEAM:
        /* No VMX/TDX model: the instructions do not exist for this guest. */
        vmdl_vcpu_complete_fault(vcpu, VMDL_FAULT_UD);
        break;
    case VMDL_EXIT_HYPERCALL:
        vmdl_vcpu_complete(vcpu, (uint64_t)-1); /* PSCI NOT_SUPPORTED */
        break;
    default:
        break;
    }
}

int main(int argc, char **argv)
{
    struct options o;
    if (parse_args(argc, argv, &o))
        return EXIT_USAGE;
    uint8_t *data;
    size_t size;
    if (vmdl_read_file(o.image, &data, &size)) {
        fprintf(stderr, "virtmodel-run: %s\n", vmdl_last_error());
        return EXIT_USAGE;
    }
    enum vmdl_arch arch;
    struct vmdl_image img;
    if (o.raw_arch) {
        arch = strcmp(o.raw_arch, "arm64") ? VMDL_ARCH_X86_64 : VMDL_ARCH_ARM64;
    } else {
        if (vmdl_elf_parse(data, size, &img)) {
            fprintf(stderr, "virtmodel-run: %s: %s\n", o.image, vmdl_last_error());
            if (!vmdl_image_is_elf(data, size))
                fprintf(stderr, "virtmodel-run: (use --raw ARCH for a raw binary)\n");
            free(data);
            return EXIT_USAGE;
        }
        arch = img.arch;
    }
    struct vmdl_vm_config cfg = {
        .arch = arch,
        .vendor = o.vendor,
        .ram_size = o.ram_mib << 20,
        .nr_vcpus = (unsigned)o.vcpus,
        .quantum = o.quantum,
        .msr_exits_to_caller = o.msr_exits,
    };
    struct vmdl_vm *vm;
    if (vmdl_vm_create(&cfg, &vm)) {
        fprintf(stderr, "virtmodel-run: cannot create the VM: %s\n", vmdl_last_error());
        free(data);
        return EXIT_INTERNAL;
    }
    int err;
    if (o.raw_arch) {
        uint64_t addr = o.load_addr != UINT64_MAX ? o.load_addr
                        : arch == VMDL_ARCH_X86_64 ? VMDL_X86_DEFAULT_LOAD
                                                   : VMDL_ARM64_DEFAULT_LOAD;
        err = vmdl_vm_load_raw(vm, data, size, addr);
    } else {
        err = vmdl_vm_load_elf(vm, data, size);
    }
    free(data);
    if (err) {
        fprintf(stderr, "virtmodel-run: %s: %s\n", o.image, vmdl_last_error());
        vmdl_vm_destroy(vm);
        return EXIT_USAGE;
    }
    if (vmdl_attach_models(vm, o.models, &o.mopts)) {
        fprintf(stderr, "virtmodel-run: --models %s: %s\n", o.models, vmdl_last_error());
        vmdl_vm_destroy(vm);
        return EXIT_USAGE;
    }
    if (o.restore && vmdl_vm_checkpoint_read(vm, o.restore)) {
        fprintf(stderr, "virtmodel-run: --restore %s: %s\n", o.restore, vmdl_last_error());
        vmdl_vm_destroy(vm);
        return EXIT_USAGE;
    }
    if (o.trace)
        vmdl_vm_set_trace(vm, stderr);
    for (unsigned i = 0; o.count && i < vmdl_vm_nr_vcpus(vm); i++)
        vmdl_vcpu_need_insn_count(vmdl_vm_vcpu(vm, i), true);
    uint64_t budget = o.max_insns;
    if (o.checkpoint) {
        /* The budget counts from where a restored run starts. */
        budget = o.checkpoint_after;
        for (unsigned i = 0; i < vmdl_vm_nr_vcpus(vm); i++)
            budget += vmdl_vcpu_insns(vmdl_vm_vcpu(vm, i));
    }
    vmdl_vm_set_limits(vm, budget, o.timeout);

    int status = -1;
    uint64_t exits = 0, resets = 0;
    while (status < 0) {
        struct vmdl_exit e;
        if (vmdl_vm_run(vm, &e)) {
            fprintf(stderr, "virtmodel-run: %s\n", vmdl_last_error());
            status = EXIT_INTERNAL;
            break;
        }
        exits++;
        switch (e.reason) {
        case VMDL_EXIT_SHUTDOWN:
            status = e.u.shutdown.status;
            break;
        case VMDL_EXIT_RESET:
            resets++;
            fprintf(stderr, "virtmodel-run: guest reset the VM (reset %" PRIu64 ")\n",
                    resets);
            if (resets > 1000) {
                fprintf(stderr, "virtmodel-run: more than 1000 resets: stopping\n");
                status = EXIT_INTERNAL;
            }
            break;
        case VMDL_EXIT_HLT:
            fprintf(stderr, "virtmodel-run: vCPU %u halted at pc 0x%" PRIx64
                    " with no interrupt that could wake it (interrupts disabled "
                    "or no source): stopping\n", e.vcpu, e.pc);
            status = EXIT_HALTED;
            break;
        case VMDL_EXIT_MAX_INSNS:
            if (o.checkpoint) {
                if (vmdl_vm_checkpoint_write(vm, o.checkpoint)) {
                    fprintf(stderr, "virtmodel-run: --checkpoint %s: %s\n",
                            o.checkpoint, vmdl_last_error());
                    status = EXIT_INTERNAL;
                } else {
                    fprintf(stderr, "virtmodel-run: checkpoint written to %s after %"
                            PRIu64 " instructions\n", o.checkpoint, o.checkpoint_after);
                    status = 0;
                }
                break;
            }
            fprintf(stderr, "virtmodel-run: --max-insns %" PRIu64 " reached: stopping\n",
                    o.max_insns);
            status = EXIT_MAX_INSNS;
            break;
        case VMDL_EXIT_TIMEOUT:
            fprintf(stderr, "virtmodel-run: --timeout %g s reached: stopping\n", o.timeout);
            status = EXIT_TIMEOUT;
            break;
        case VMDL_EXIT_FAULT_LOOP:
            fprintf(stderr, "virtmodel-run: vCPU %u at pc 0x%" PRIx64 ": %s\n",
                    e.vcpu, e.pc, e.u.internal.message);
            status = EXIT_FAULT_LOOP;
            break;
        case VMDL_EXIT_INTERNAL_ERROR:
            fprintf(stderr, "virtmodel-run: vCPU %u at pc 0x%" PRIx64 ": %s\n",
                    e.vcpu, e.pc, e.u.internal.message);
            status = EXIT_INTERNAL;
            break;
        default:
            complete_unclaimed(vm, &e);
            break;
        }
    }
    if (o.stats) {
        uint64_t insns = 0, branches = 0;
        for (unsigned i = 0; i < vmdl_vm_nr_vcpus(vm); i++) {
            insns += vmdl_vcpu_insns(vmdl_vm_vcpu(vm, i));
            branches += vmdl_vcpu_branches(vmdl_vm_vcpu(vm, i));
        }
        fprintf(stderr, "virtmodel-run: %u vCPU(s), %" PRIu64 " exits to this "
                "program, %" PRIu64 " resets, %" PRIu64 " instructions counted, "
                "%" PRIu64 " taken branches counted, status %d\n",
                vmdl_vm_nr_vcpus(vm), exits, resets, insns, branches, status);
    }
    if (o.digest)
        fprintf(stderr, "virtmodel-run: state digest %08x\n", vmdl_vm_state_digest(vm));
    vmdl_vm_destroy(vm);
    return status;
}
