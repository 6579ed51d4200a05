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
#include <unistd.h>

#include "virtmodel/arm64_boot.h"
#include "virtmodel/checkpoint.h"
#include "virtmodel/error.h"
#include "virtmodel/gdbstub.h"
#include "virtmodel/loader.h"
#include "virtmodel/machine.h"
#include "virtmodel/models.h"
#include "virtmodel/multiboot.h"
#include "virtmodel/pc_rtc.h"
#include "virtmodel/attach_pci.h"
#include "virtmodel/progress.h"
#include "virtmodel/trace.h"

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
"Run a guest image (static ELF64 for x86-64 or AArch64, a multiboot kernel\n"
"for x86, as QEMU -kernel boots it, or a raw binary)\n"
"through virtmodel's machine layer with the models attached.  The guest's\n"
"console goes to stdout; the guest's exit status becomes this program's.\n"
"\n"
"options:\n"
"  --models LIST       models to attach: all (default: those of the image's\n"
"                      architecture and vendor), none, or a comma list\n"
"  --vcpus N           number of vCPUs (default 1; scheduling is deterministic)\n"
"  --quantum N         instructions per vCPU turn when N > 1 (default 100000;\n"
"                      1000 for a multiboot kernel)\n"
"  --ram MIB           guest RAM in MiB (default 64)\n"
"  --pause-cycles N    virtual time a PAUSE adds, in cycles, 0 = off (default\n"
"                      0; 140 for a multiboot kernel: docs/architecture.md,\n"
"                      \"Virtual time\")\n"
"  --exit-cycles N     virtual time a trap KVM would take as a VM exit adds\n"
"                      (CPUID, port I/O, HLT, intercepted MSRs...), 0 = off\n"
"                      (default 0; 1200 for a multiboot kernel); N <= 1000000\n"
"  --serialize-cycles N  virtual time a MOV to CR0/CR3/CR4 that is no VM exit\n"
"                      adds (a serializing instruction), 0 = off (default 0;\n"
"                      100 for a multiboot kernel)\n"
"  --rdtsc-cycles N    virtual time an RDTSC/RDTSCP adds beyond its one tick,\n"
"                      0 = off (default 0; 24 for a multiboot kernel)\n"
"  --flush-cycles N    virtual time a MOV to CR4 toggling PGE that is no VM\n"
"                      exit adds beyond the serialize weight (a TLB flush),\n"
"                      0 = off (default 0; 600 for a multiboot kernel)\n"
"  --trace             one line per exit on stderr: vCPU, reason, PC,\n"
"                      disassembly, outcome\n"
"  --trace-format F    text (default) or jsonl: one JSON object per exit with\n"
"                      vCPU, reason, PC, bytes, disassembly, outcome, virtual\n"
"                      time (implies --trace; see docs/trace.md)\n"
"  --trace-file FILE   write the trace to FILE instead of stderr\n"
"  --progress[=always] a progress line on stderr at most once a second\n"
"                      (instructions, exits per second, virtual time); only\n"
"                      when stderr is a terminal unless =always\n"
"  --max-insns N       stop after N retired instructions (status 125)\n"
"  --timeout SECONDS   stop after this wall-clock time (status 124)\n"
"  --gdb HOST:PORT     serve the VM to GDB (gdb-multiarch: target remote\n"
"                      HOST:PORT); HOST is usually 127.0.0.1, PORT 0 picks a\n"
"                      free one (printed); see docs/gdb.md\n"
"  --gdb-wait          with --gdb: wait for the debugger before the guest runs\n"
"  --stats             print instructions, exits and resets at the end\n"
"  --count             count instructions and taken branches exactly from the\n"
"                      start (one block hook: slower); also reports a branch\n"
"                      to a non-canonical address on the branch, not the target\n"
"  --append ARGS       kernel command line: multiboot (QEMU's -append) or the\n"
"                      arm64 device tree's /chosen bootargs\n"
"  --initrd FILE       multiboot: the first module; arm64: the initrd (QEMU's\n"
"                      -initrd)\n"
"  --raw ARCH          IMAGE is a raw binary for ARCH (x86_64 or arm64); an\n"
"                      arm64 raw binary or Linux Image (recognized without\n"
"                      --raw) boots as QEMU's -kernel does: at RAM base +\n"
"                      0x80000 (or the Image's text offset), x0 = device\n"
"                      tree, vCPUs other than 0 off until PSCI CPU_ON\n"
"  --load-addr ADDR    where a raw binary goes and starts, all vCPUs at once\n"
"                      with x0 = index (no device tree; default 0x100000 on\n"
"                      x86-64)\n"
"  --vendor V          x86 CPUID vendor: intel (default) or amd\n"
"  --machine TYPE      multiboot: pc (default, i440FX host bridge) or q35\n"
"  --rtc-base DATE     multiboot: the CMOS RTC's date at the start,\n"
"                      YYYY-MM-DDTHH:MM:SS or YYYY-MM-DD, UTC (QEMU's -rtc\n"
"                      base=; default 2026-01-01T00:00:00: runs repeat)\n"
"  --device SPEC       multiboot: add a PCI device, QEMU's -device syntax:\n"
"                      edu, intel-iommu[,intremap=on|off][,eim=on|off]\n"
"                      [,aw-bits=39|48] (repeatable; docs/pci.md)\n"
"  --dtb FILE          arm64: boot with this device tree instead of the one\n"
"                      built from the VM's configuration\n"
"  --dump-dtb FILE     arm64: write the device tree the guest gets to FILE\n"
"  --no-status-line    arm64: ignore the \"EXIT: STATUS=n\" console line\n"
"  --msr-exits         unclaimed MSRs exit to this program (which answers #GP)\n"
"                      instead of faulting inside the machine\n"
"  --checkpoint FILE   with --checkpoint-after N: after N retired instructions,\n"
"                      write a whole-VM checkpoint to FILE and stop (status 0)\n"
"  --checkpoint-after N\n"
"  --restore FILE      load IMAGE, attach the same models, then continue from\n"
"                      the checkpoint in FILE (same options as when it was taken)\n"
"  --digest            print a digest of the final RAM and registers\n"
"  --help              this text\n"
"\n"
"exit status: the guest's (x86: isa-debug-exit gives (value << 1) | 1, ACPI\n"
"power-off gives 0; arm64: PSCI SYSTEM_OFF gives 0, or n when the console\n"
"printed a line \"EXIT: STATUS=n\" before it (kvm-unit-tests' convention,\n"
"(code << 1) | 1 as on x86), HVC #0 with x0 = 0xC6000000 gives x1), or 2 for\n"
"a bad option\n"
"or image, 3 when every vCPU halted with nothing to wake it, 4 on a triple\n"
"fault, 5 on an internal error, 124 on --timeout, 125 on --max-insns.\n"
"\n"
"models (and their options):\n");
    for (const struct vmdl_model_desc *const *m = vmdl_models(); *m; m++) {
        fprintf(f, "  %-10s %-7s %s\n", (*m)->name, vmdl_arch_name((*m)->arch),
                (*m)->summary);
        for (const struct vmdl_model_option *mo = (*m)->options; mo && mo->name; mo++) {
            char spec[64];
            snprintf(spec, sizeof(spec), "--%s%s%s", mo->name, mo->arg ? " " : "",
                     mo->arg ? mo->arg : "");
            fprintf(f, "      %-32s %s\n", spec, mo->help);
        }
    }
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

#define MAX_DEVICES 8

/* A virtual-time weight: a number of cycles up to VMDL_VTIME_MAX_WEIGHT. */
static int parse_weight(const char *s, int64_t *out, const char *what)
{
    uint64_t v;
    if (parse_u64(s, &v, what))
        return -1;
    if (v > VMDL_VTIME_MAX_WEIGHT) {
        fprintf(stderr, "virtmodel-run: %s must be 0..%u cycles (got %s)\n", what,
                VMDL_VTIME_MAX_WEIGHT, s);
        return -1;
    }
    *out = (int64_t)v;
    return 0;
}

struct options {
    const char *image;
    const char *models;
    uint64_t vcpus, quantum, ram_mib, max_insns, load_addr;
    int64_t pause_cycles, exit_cycles, serialize_cycles, rdtsc_cycles, flush_cycles; /* -1: default */
    double timeout;
    int trace, stats, count, msr_exits, digest;
    enum vmdl_trace_format trace_format;
    const char *trace_file;
    int progress; /* 0 off, 1 on a terminal, 2 always */
    const char *checkpoint, *restore;
    uint64_t checkpoint_after;
    const char *raw_arch;
    const char *append, *initrd, *dtb, *dump_dtb;
    int no_status_line;
    const char *gdb;  /* --gdb HOST:PORT */
    int gdb_wait;
    enum vmdl_x86_vendor vendor;
    bool rtc_base_set;
    int64_t rtc_base;
    struct vmdl_model_options mopts;
    const char *machine;
    const char *devices[MAX_DEVICES];
    unsigned nr_devices;
};

static int parse_args(int argc, char **argv, struct options *o)
{
    enum { O_MODELS = 256, O_VCPUS, O_QUANTUM, O_RAM, O_TRACE, O_MAXI, O_TIMEOUT,
           O_STATS, O_COUNT, O_RAW, O_LOAD, O_VENDOR, O_MSR,
           O_APPEND, O_INITRD, O_DTB, O_DUMPDTB, O_NOSTATUS,
           O_CKPT, O_CKPT_AT, O_RESTORE, O_DIGEST, O_HELP, O_MODEL,
           O_TRACEF, O_TRACEFILE, O_PROGRESS, O_GDB, O_GDB_WAIT, O_MACHINE, O_DEVICE,
           O_PAUSE_CYC, O_EXIT_CYC, O_SER_CYC, O_RDTSC_CYC, O_FLUSH_CYC, O_RTC_BASE };
    static const struct option fixed[] = {
        {"models", required_argument, 0, O_MODELS},
        {"vcpus", required_argument, 0, O_VCPUS},
        {"quantum", required_argument, 0, O_QUANTUM},
        {"ram", required_argument, 0, O_RAM},
        {"pause-cycles", required_argument, 0, O_PAUSE_CYC},
        {"exit-cycles", required_argument, 0, O_EXIT_CYC},
        {"serialize-cycles", required_argument, 0, O_SER_CYC},
        {"rdtsc-cycles", required_argument, 0, O_RDTSC_CYC},
        {"flush-cycles", required_argument, 0, O_FLUSH_CYC},
        {"trace", no_argument, 0, O_TRACE},
        {"trace-format", required_argument, 0, O_TRACEF},
        {"trace-file", required_argument, 0, O_TRACEFILE},
        {"progress", optional_argument, 0, O_PROGRESS},
        {"max-insns", required_argument, 0, O_MAXI},
        {"timeout", required_argument, 0, O_TIMEOUT},
        {"stats", no_argument, 0, O_STATS},
        {"count", no_argument, 0, O_COUNT},
        {"raw", required_argument, 0, O_RAW},
        {"load-addr", required_argument, 0, O_LOAD},
        {"vendor", required_argument, 0, O_VENDOR},
        {"machine", required_argument, 0, O_MACHINE},
        {"rtc-base", required_argument, 0, O_RTC_BASE},
        {"device", required_argument, 0, O_DEVICE},
        {"append", required_argument, 0, O_APPEND},
        {"initrd", required_argument, 0, O_INITRD},
        {"dtb", required_argument, 0, O_DTB},
        {"dump-dtb", required_argument, 0, O_DUMPDTB},
        {"no-status-line", no_argument, 0, O_NOSTATUS},
        {"msr-exits", no_argument, 0, O_MSR},
        {"gdb", required_argument, 0, O_GDB},
        {"gdb-wait", no_argument, 0, O_GDB_WAIT},
        {"checkpoint", required_argument, 0, O_CKPT},
        {"checkpoint-after", required_argument, 0, O_CKPT_AT},
        {"restore", required_argument, 0, O_RESTORE},
        {"digest", no_argument, 0, O_DIGEST},
        {"help", no_argument, 0, O_HELP},
    };
    /* Then every option the models declare (model.h). */
    struct option longopts[sizeof(fixed) / sizeof(fixed[0]) + 64 + 1];
    unsigned nopts = sizeof(fixed) / sizeof(fixed[0]);
    memcpy(longopts, fixed, sizeof(fixed));
    for (const struct vmdl_model_desc *const *m = vmdl_models(); *m; m++)
        for (const struct vmdl_model_option *mo = (*m)->options;
             mo && mo->name && nopts < sizeof(longopts) / sizeof(longopts[0]) - 1; mo++)
            longopts[nopts++] = (struct option){mo->name,
                                                mo->arg ? required_argument : no_argument,
                                                0, O_MODEL};
    longopts[nopts] = (struct option){0, 0, 0, 0};
    memset(o, 0, sizeof(*o));
    o->models = "all";
    o->vcpus = 1;
    o->ram_mib = 64;
    o->load_addr = UINT64_MAX;
    o->pause_cycles = o->exit_cycles = o->serialize_cycles = o->rdtsc_cycles = -1;
    o->flush_cycles = -1;
    opterr = 0;
    int c;
    int idx = 0;
    while ((c = getopt_long(argc, argv, "", longopts, &idx)) != -1) {
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
        case O_PAUSE_CYC:
            if (parse_weight(optarg, &o->pause_cycles, "--pause-cycles")) return -1;
            break;
        case O_EXIT_CYC:
            if (parse_weight(optarg, &o->exit_cycles, "--exit-cycles")) return -1;
            break;
        case O_SER_CYC:
            if (parse_weight(optarg, &o->serialize_cycles, "--serialize-cycles")) return -1;
            break;
        case O_RDTSC_CYC:
            if (parse_weight(optarg, &o->rdtsc_cycles, "--rdtsc-cycles"))
                return -1;
            break;
        case O_FLUSH_CYC:
            if (parse_weight(optarg, &o->flush_cycles, "--flush-cycles")) return -1;
            break;
        case O_TRACE: o->trace = 1; break;
        case O_TRACEF:
            if (!strcmp(optarg, "text")) o->trace_format = VMDL_TRACE_TEXT;
            else if (!strcmp(optarg, "jsonl")) o->trace_format = VMDL_TRACE_JSONL;
            else {
                fprintf(stderr, "virtmodel-run: --trace-format must be text or jsonl\n");
                return -1;
            }
            o->trace = 1;
            break;
        case O_TRACEFILE: o->trace_file = optarg; o->trace = 1; break;
        case O_PROGRESS:
            if (!optarg) o->progress = 1;
            else if (!strcmp(optarg, "always")) o->progress = 2;
            else {
                fprintf(stderr, "virtmodel-run: --progress takes no value or =always\n");
                return -1;
            }
            break;
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
        case O_RTC_BASE:
            /* QEMU's spelling, -rtc base=DATE, is taken as well */
            if (vmdl_rtc_parse_time(strncmp(optarg, "base=", 5) ? optarg : optarg + 5,
                                    &o->rtc_base)) {
                fprintf(stderr, "virtmodel-run: --rtc-base: %s\n", vmdl_last_error());
                return -1;
            }
            o->rtc_base_set = true;
            break;
        case O_MACHINE: o->machine = optarg; break;
        case O_DEVICE:
            if (o->nr_devices == MAX_DEVICES) {
                fprintf(stderr, "virtmodel-run: at most %d --device\n", MAX_DEVICES);
                return -1;
            }
            o->devices[o->nr_devices++] = optarg;
            break;
        case O_APPEND: o->append = optarg; break;
        case O_INITRD: o->initrd = optarg; break;
        case O_DTB: o->dtb = optarg; break;
        case O_DUMPDTB: o->dump_dtb = optarg; break;
        case O_NOSTATUS: o->no_status_line = 1; break;
        case O_GDB: o->gdb = optarg; break;
        case O_GDB_WAIT: o->gdb_wait = 1; break;
        case O_MODEL:
            if (vmdl_model_options_set(&o->mopts, longopts[idx].name,
                                       optarg ? optarg : "")) {
                fprintf(stderr, "virtmodel-run: %s\n", vmdl_last_error());
                return -1;
            }
            break;
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
    /* The VM checks the architecture's layout (x86: from 3584 MiB on, 3 GiB
     * below the PCI hole and the rest from 4 GiB, up to 1 TiB; arm64: RAM
     * from 1 GiB up to 256 GiB). */
    if (o->ram_mib < 1 || o->ram_mib > 261120) {
        fprintf(stderr, "virtmodel-run: --ram must be 1..261120 MiB\n");
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
    if (o->dtb && (o->append || o->initrd)) {
        fprintf(stderr, "virtmodel-run: --dtb carries its own command line and "
                "initrd: drop --append / --initrd\n");
        return -1;
    }
    if (o->load_addr != UINT64_MAX && !o->raw_arch) {
        fprintf(stderr, "virtmodel-run: --load-addr applies to --raw images only\n");
        return -1;
    }
    return 0;
}

/* A multiboot kernel with --append as its command line and --initrd as its
 * one module (kvm-unit-tests reads its environment from it). */
/* After the load (which picks the image's default weights): the ones the
 * command line gives replace them. */
static int set_weights(struct vmdl_vm *vm, const struct options *o)
{
    if (o->pause_cycles < 0 && o->exit_cycles < 0 && o->serialize_cycles < 0 &&
        o->rdtsc_cycles < 0 && o->flush_cycles < 0)
        return 0;
    struct vmdl_vtime_weights w;
    vmdl_vm_get_vtime_weights(vm, &w);
    if (o->pause_cycles >= 0)
        w.pause_cycles = (uint32_t)o->pause_cycles;
    if (o->exit_cycles >= 0)
        w.exit_cycles = (uint32_t)o->exit_cycles;
    if (o->serialize_cycles >= 0)
        w.serialize_cycles = (uint32_t)o->serialize_cycles;
    if (o->rdtsc_cycles >= 0)
        w.rdtsc_cycles = (uint32_t)o->rdtsc_cycles;
    if (o->flush_cycles >= 0)
        w.flush_cycles = (uint32_t)o->flush_cycles;
    return vmdl_vm_set_vtime_weights(vm, &w);
}

static int load_multiboot(struct vmdl_vm *vm, const struct options *o,
                          const uint8_t *data, size_t size)
{
    uint8_t *initrd = NULL;
    size_t initrd_size = 0;
    if (o->initrd && vmdl_read_file(o->initrd, &initrd, &initrd_size))
        return -1;
    /* As QEMU: the command line starts with the kernel's file name (the
     * guest's argv[0]), then -append's text. */
    size_t len = strlen(o->image) + (o->append ? strlen(o->append) + 1 : 0) + 1;
    char *cmdline = malloc(len);
    if (!cmdline) {
        free(initrd);
        return vmdl_fail(VMDL_ENOMEM, "out of memory");
    }
    snprintf(cmdline, len, "%s%s%s", o->image, o->append ? " " : "",
             o->append ? o->append : "");
    struct vmdl_mb_module mod = { initrd, initrd_size, o->initrd };
    struct vmdl_mb_boot boot = { cmdline, &mod, o->initrd ? 1 : 0 };
    int err = vmdl_vm_load_multiboot(vm, data, size, &boot);
    free(cmdline);
    free(initrd);
    return err;
}

/* --machine and --device: the PC's PCI side, after the models (MSIs and
 * INTx reach the lapic and ioapic models). */
static int add_devices(struct vmdl_vm *vm, const struct options *o)
{
    if (o->machine && vmdl_vm_set_machine(vm, o->machine)) {
        fprintf(stderr, "virtmodel-run: --machine %s: %s\n", o->machine, vmdl_last_error());
        return -1;
    }
    for (unsigned i = 0; i < o->nr_devices; i++)
        if (vmdl_vm_add_device(vm, o->devices[i])) {
            fprintf(stderr, "virtmodel-run: --device %s: %s\n", o->devices[i],
                    vmdl_last_error());
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

/* --progress: one line per report, with the exit rate since the last one. */
struct progress {
    uint64_t last_exits;
    double last_wall;
};

static void print_progress(void *opaque, const struct vmdl_vm_stats *s)
{
    struct progress *p = opaque;
    double dt = s->wall_s - p->last_wall;
    double rate = dt > 0 ? (double)(s->exits - p->last_exits) / dt : 0;
    fprintf(stderr, "virtmodel-run: progress %.1f s: %" PRIu64 " instructions %s, "
            "%.0f exits/s (%" PRIu64 " in all), virtual time %" PRIu64
            " instructions\n", s->wall_s, s->insns,
            s->exact ? "retired" : "trapped (counting off)", rate, s->exits, s->vtime);
    p->last_exits = s->exits;
    p->last_wall = s->wall_s;
}

/*
 * The console: the guest's bytes to stdout.  On arm64 it also remembers a
 * line "EXIT: STATUS=n": kvm-unit-tests prints it before PSCI SYSTEM_OFF
 * for VMMs without its chr-testdev device (n = (code << 1) | 1, the status
 * QEMU's testdev would give), and a power-off after it ends with n.
 */
struct console {
    char line[32];
    size_t len;
    int status;
    bool enabled;
};

static void console_line(struct console *c)
{
    static const char tag[] = "EXIT: STATUS=";
    size_t n = sizeof(tag) - 1;
    if (c->len <= n || memcmp(c->line, tag, n))
        return;
    int v = 0;
    size_t i = n;
    for (; i < c->len && c->line[i] >= '0' && c->line[i] <= '9' && v < 100000; i++)
        v = v * 10 + (c->line[i] - '0');
    if (i > n && (i == c->len || c->line[i] == '\r'))
        c->status = v & 0xFF;
}

static void console_out(void *opaque, const char *buf, size_t len)
{
    struct console *c = opaque;
    fwrite(buf, 1, len, stdout);
    fflush(stdout);
    for (size_t i = 0; c->enabled && i < len; i++) {
        if (buf[i] == '\n') {
            console_line(c);
            c->len = 0;
        } else if (c->len < sizeof(c->line)) {
            c->line[c->len++] = buf[i];
        }
    }
}

static int read_opt_file(const char *what, const char *path, uint8_t **data, size_t *size)
{
    *data = NULL;
    *size = 0;
    if (!path)
        return 0;
    if (vmdl_read_file(path, data, size)) {
        fprintf(stderr, "virtmodel-run: %s %s\n", what, vmdl_last_error());
        return -1;
    }
    return 0;
}

static int write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size) {
        fprintf(stderr, "virtmodel-run: --dump-dtb %s: %s\n", path, strerror(errno));
        if (f)
            fclose(f);
        return -1;
    }
    return fclose(f) ? -1 : 0;
}

/* An arm64 kernel, booted as QEMU's -kernel does (arm64_boot.h). */
static int boot_kernel(struct vmdl_vm *vm, const struct options *o, const uint8_t *data,
                       size_t size)
{
    uint8_t *initrd, *dtb;
    size_t initrd_size, dtb_size;
    if (read_opt_file("--initrd", o->initrd, &initrd, &initrd_size))
        return -1;
    if (read_opt_file("--dtb", o->dtb, &dtb, &dtb_size)) {
        free(initrd);
        return -1;
    }
    struct vmdl_arm64_boot b = {
        .kernel = data, .kernel_size = size,
        .initrd = initrd, .initrd_size = initrd_size,
        .cmdline = o->append,
        .dtb = dtb, .dtb_size = dtb_size,
    };
    int err = vmdl_vm_boot_arm64(vm, &b);
    free(initrd);
    free(dtb);
    if (err) {
        fprintf(stderr, "virtmodel-run: %s: %s\n", o->image, vmdl_last_error());
        return -1;
    }
    const void *blob;
    size_t blob_size;
    if (o->dump_dtb && (vmdl_vm_arm64_dtb(vm, &blob, &blob_size, NULL) ||
                        write_file(o->dump_dtb, blob, blob_size)))
        return -1;
    return 0;
}

/* What one exit the library returned means for this program: complete it
 * as a device-less machine would, or end the run with a status. */
struct run_ctx {
    const struct options *o;
    const struct console *con;
    enum vmdl_arch arch;
    uint64_t exits, resets;
};

static int handle_exit(struct run_ctx *c, struct vmdl_vm *vm, const struct vmdl_exit *e)
{
    int status = -1;
    c->exits++;
    switch (e->reason) {
    case VMDL_EXIT_SHUTDOWN:
        status = e->u.shutdown.status;
        /* A plain power-off after the test printed its status. */
        if (status == 0 && c->arch == VMDL_ARCH_ARM64 && c->con->status >= 0)
            status = c->con->status;
        break;
    case VMDL_EXIT_RESET:
        c->resets++;
        fprintf(stderr, "virtmodel-run: guest reset the VM (reset %" PRIu64 ")\n",
                c->resets);
        if (c->resets > 1000) {
            fprintf(stderr, "virtmodel-run: more than 1000 resets: stopping\n");
            status = EXIT_INTERNAL;
        }
        break;
    case VMDL_EXIT_HLT:
        fprintf(stderr, "virtmodel-run: vCPU %u halted at pc 0x%" PRIx64
                " with no interrupt that could wake it (interrupts disabled "
                "or no source): stopping\n", e->vcpu, e->pc);
        status = EXIT_HALTED;
        break;
    case VMDL_EXIT_MAX_INSNS:
        if (c->o->checkpoint) {
            if (vmdl_vm_checkpoint_write(vm, c->o->checkpoint)) {
                fprintf(stderr, "virtmodel-run: --checkpoint %s: %s\n",
                        c->o->checkpoint, vmdl_last_error());
                status = EXIT_INTERNAL;
            } else {
                fprintf(stderr, "virtmodel-run: checkpoint written to %s after %"
                        PRIu64 " instructions\n", c->o->checkpoint,
                        c->o->checkpoint_after);
                status = 0;
            }
            break;
        }
        fprintf(stderr, "virtmodel-run: --max-insns %" PRIu64 " reached: stopping\n",
                c->o->max_insns);
        status = EXIT_MAX_INSNS;
        break;
    case VMDL_EXIT_TIMEOUT:
        fprintf(stderr, "virtmodel-run: --timeout %g s reached: stopping\n", c->o->timeout);
        status = EXIT_TIMEOUT;
        break;
    case VMDL_EXIT_FAULT_LOOP:
        fprintf(stderr, "virtmodel-run: vCPU %u at pc 0x%" PRIx64 ": %s\n",
                e->vcpu, e->pc, e->u.internal.message);
        status = EXIT_FAULT_LOOP;
        break;
    case VMDL_EXIT_INTERNAL_ERROR:
        fprintf(stderr, "virtmodel-run: vCPU %u at pc 0x%" PRIx64 ": %s\n",
                e->vcpu, e->pc, e->u.internal.message);
        status = EXIT_INTERNAL;
        break;
    default:
        complete_unclaimed(vm, e);
        break;
    }
    return status;
}

static int gdb_on_exit(void *opaque, struct vmdl_vm *vm, const struct vmdl_exit *e)
{
    return handle_exit(opaque, vm, e);
}

static void gdb_on_listen(void *opaque, unsigned port)
{
    const struct run_ctx *c = opaque;
    const char *colon = strrchr(c->o->gdb, ':');
    fprintf(stderr, "virtmodel-run: gdb stub listening on %.*s:%u%s\n",
            (int)(colon - c->o->gdb), c->o->gdb, port,
            c->o->gdb_wait ? " (waiting for the debugger)" : "");
}

/* --gdb HOST:PORT: the run goes through the stub. */
static int serve_gdb(struct vmdl_vm *vm, struct run_ctx *rc, int *status)
{
    const char *colon = strrchr(rc->o->gdb, ':');
    char host[64];
    uint64_t port;
    if (!colon || (size_t)(colon - rc->o->gdb) >= sizeof(host) ||
        parse_u64(colon + 1, &port, "--gdb port") || port > 65535) {
        fprintf(stderr, "virtmodel-run: --gdb takes HOST:PORT (e.g. 127.0.0.1:1234)\n");
        return -1;
    }
    snprintf(host, sizeof(host), "%.*s", (int)(colon - rc->o->gdb), rc->o->gdb);
    struct vmdl_gdb_config g = {
        .host = host, .port = (unsigned)port, .wait = rc->o->gdb_wait,
        .on_listen = gdb_on_listen, .on_exit = gdb_on_exit, .opaque = rc,
    };
    if (vmdl_gdb_serve(vm, &g, status)) {
        fprintf(stderr, "virtmodel-run: --gdb: %s\n", vmdl_last_error());
        return -1;
    }
    return 0;
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
    struct vmdl_mb_header mbh;
    /* Multiboot as QEMU's -kernel: an ELF32 kernel with the header, or any
     * image whose header carries the a.out kludge addresses (an ELF64 guest
     * that boots itself from 32-bit protected mode). */
    bool mb_found = !o.raw_arch && !vmdl_multiboot_find(data, size, &mbh);
    bool multiboot = mb_found && (vmdl_elf_parse(data, size, &img) ||
                                  (mbh.flags & VMDL_MB_FLAG_AOUT_KLUDGE));
    uint64_t text, isz;
    bool kernel = false; /* arm64 Linux boot protocol (arm64_boot.h) */
    if (!o.raw_arch && !multiboot && !vmdl_image_is_elf(data, size) &&
        vmdl_arm64_image_parse(data, size, &text, &isz) == 1) {
        arch = VMDL_ARCH_ARM64;
        kernel = true;
    } else if (o.raw_arch) {
        arch = strcmp(o.raw_arch, "arm64") ? VMDL_ARCH_X86_64 : VMDL_ARCH_ARM64;
        kernel = arch == VMDL_ARCH_ARM64 && o.load_addr == UINT64_MAX;
    } else if (multiboot) {
        arch = VMDL_ARCH_X86_64;
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
    if ((!kernel && (o.dtb || o.dump_dtb)) || (!kernel && !multiboot && (o.append || o.initrd))) {
        fprintf(stderr, "virtmodel-run: --append and --initrd need a multiboot kernel "
                "or an arm64 kernel (raw or Linux Image, without --load-addr); --dtb "
                "and --dump-dtb an arm64 kernel\n");
        free(data);
        return EXIT_USAGE;
    }
    struct console con = {.status = -1, .enabled = !o.no_status_line};
    struct vmdl_vm_config cfg = {
        .arch = arch,
        .vendor = o.vendor,
        .ram_size = o.ram_mib << 20,
        .nr_vcpus = (unsigned)o.vcpus,
        .quantum = o.quantum,
        .msr_exits_to_caller = o.msr_exits,
        .rtc_base_set = o.rtc_base_set,
        .rtc_base = o.rtc_base,
        .console = console_out,
        .console_opaque = &con,
    };
    struct vmdl_vm *vm;
    if (vmdl_vm_create(&cfg, &vm)) {
        fprintf(stderr, "virtmodel-run: cannot create the VM: %s\n", vmdl_last_error());
        free(data);
        return EXIT_INTERNAL;
    }
    int err;
    /* A kernel's device tree describes the devices the models add (the
     * GICv5's IRS frame): attach them before it is built. */
    bool attached = false;
    if (kernel) {
        if (vmdl_attach_models(vm, o.models, &o.mopts)) {
            fprintf(stderr, "virtmodel-run: --models %s: %s\n", o.models,
                    vmdl_last_error());
            free(data);
            vmdl_vm_destroy(vm);
            return EXIT_USAGE;
        }
        attached = true;
        err = boot_kernel(vm, &o, data, size);
        free(data);
        if (err) {
            vmdl_vm_destroy(vm);
            return EXIT_USAGE;
        }
        data = NULL;
    } else if (o.raw_arch) {
        uint64_t addr = o.load_addr != UINT64_MAX ? o.load_addr
                        : arch == VMDL_ARCH_X86_64 ? VMDL_X86_DEFAULT_LOAD
                                                   : VMDL_ARM64_DEFAULT_LOAD;
        err = vmdl_vm_load_raw(vm, data, size, addr);
    } else if (multiboot) {
        err = load_multiboot(vm, &o, data, size);
    } else {
        err = vmdl_vm_load_elf(vm, data, size);
    }
    free(data);
    if (err) {
        fprintf(stderr, "virtmodel-run: %s: %s\n", o.image, vmdl_last_error());
        vmdl_vm_destroy(vm);
        return EXIT_USAGE;
    }
    if (set_weights(vm, &o)) {
        fprintf(stderr, "virtmodel-run: %s\n", vmdl_last_error());
        vmdl_vm_destroy(vm);
        return EXIT_USAGE;
    }
    if (!attached && vmdl_attach_models(vm, o.models, &o.mopts)) {
        fprintf(stderr, "virtmodel-run: --models %s: %s\n", o.models, vmdl_last_error());
        vmdl_vm_destroy(vm);
        return EXIT_USAGE;
    }
    if (add_devices(vm, &o)) {
        vmdl_vm_destroy(vm);
        return EXIT_USAGE;
    }
    if (o.restore && vmdl_vm_checkpoint_read(vm, o.restore)) {
        fprintf(stderr, "virtmodel-run: --restore %s: %s\n", o.restore, vmdl_last_error());
        vmdl_vm_destroy(vm);
        return EXIT_USAGE;
    }
    FILE *trace_out = NULL;
    if (o.trace && o.trace_file) {
        trace_out = fopen(o.trace_file, "w");
        if (!trace_out) {
            fprintf(stderr, "virtmodel-run: --trace-file %s: %s\n", o.trace_file,
                    strerror(errno));
            vmdl_vm_destroy(vm);
            return EXIT_USAGE;
        }
    }
    if (o.trace) {
        vmdl_vm_set_trace(vm, trace_out ? trace_out : stderr);
        vmdl_vm_set_trace_format(vm, o.trace_format);
    }
    struct progress prog = { .last_exits = 0 };
    if (o.progress == 2 || (o.progress == 1 && isatty(STDERR_FILENO)))
        vmdl_vm_set_progress(vm, 1.0, print_progress, &prog);
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
    struct run_ctx rc = { .o = &o, .con = &con, .arch = arch };
    if (o.gdb) {
        if (serve_gdb(vm, &rc, &status))
            status = EXIT_USAGE;
    }
    while (status < 0) {
        struct vmdl_exit e;
        if (vmdl_vm_run(vm, &e)) {
            fprintf(stderr, "virtmodel-run: %s\n", vmdl_last_error());
            status = EXIT_INTERNAL;
            break;
        }
        status = handle_exit(&rc, vm, &e);
    }
    uint64_t exits = rc.exits, resets = rc.resets;
    if (o.stats) {
        uint64_t insns = 0, branches = 0;
        for (unsigned i = 0; i < vmdl_vm_nr_vcpus(vm); i++) {
            insns += vmdl_vcpu_insns(vmdl_vm_vcpu(vm, i));
            branches += vmdl_vcpu_branches(vmdl_vm_vcpu(vm, i));
        }
        struct vmdl_vm_stats st;
        vmdl_vm_get_stats(vm, &st);
        fprintf(stderr, "virtmodel-run: %u vCPU(s), %" PRIu64 " exits to this "
                "program, %" PRIu64 " resets, %" PRIu64 " instructions counted, "
                "%" PRIu64 " taken branches counted, %" PRIu64 " machine exits, %"
                PRIu64 " engine entries, %" PRIu64 " events delivered directly, "
                "status %d\n", vmdl_vm_nr_vcpus(vm), exits, resets, insns, branches,
                st.exits, st.entries, st.direct_events, status);
    }
    if (o.digest)
        fprintf(stderr, "virtmodel-run: state digest %08x\n", vmdl_vm_state_digest(vm));
    vmdl_vm_destroy(vm);
    if (trace_out && fclose(trace_out)) {
        fprintf(stderr, "virtmodel-run: --trace-file %s: %s\n", o.trace_file,
                strerror(errno));
        if (status == 0)
            status = EXIT_INTERNAL;
    }
    return status;
}
