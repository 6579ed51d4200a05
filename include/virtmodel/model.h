/* SPDX-License-Identifier: MIT */
/*
 * The model interface: how a model plugs into a VM.
 *
 * A model declares in ONE const structure everything it serves (MSR
 * ranges, port ranges, MMIO windows, arm64 system registers, hypercalls, a
 * VM-instruction family, an interrupt controller, virtual time, reset /
 * destroy / checkpoint hooks) together with its name, its command-line
 * options and their help.  Its glue creates an instance and hands both to
 * the VM with vmdl_vm_add_model(); the machine routes each exit to the
 * instance that claims it.  Every callback gets that instance as `opaque`.
 * See docs/architecture.md, "Adding a model".
 */
#ifndef VIRTMODEL_MODEL_H
#define VIRTMODEL_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "virtmodel/machine.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vmdl_model_options;

struct vmdl_msr_range { uint32_t first, last; };      /* inclusive */
struct vmdl_port_range { uint16_t first, last; };     /* inclusive */
struct vmdl_mmio_window { uint64_t base, size; };     /* page-aligned */

/* Which x86 instruction family the model's insn handler takes. */
enum vmdl_insn_family {
    VMDL_INSNS_NONE = 0,
    VMDL_INSNS_VMX,       /* VMXON ... VMRESUME, VMCALL, VMFUNC, INVEPT, INVVPID */
    VMDL_INSNS_SEAM,      /* SEAMCALL, TDCALL, SEAMRET, SEAMOPS */
};

/*
 * x86 MOV to/from DRn (dr = 0..15 as encoded; the guest runs at CPL3 underneath,
 * so every MOV DR traps).  A read returns the value in *value, a write takes
 * it from there.  A fault with an error code (#VC) also sets *error_code.
 * VMDL_FAULT_UNCLAIMED: not this model's access (the machine raises #GP).
 */
typedef vmdl_fault (*vmdl_x86_dr_fn)(void *opaque, struct vmdl_vcpu *vcpu,
                                     bool write, unsigned dr, uint64_t *value,
                                     uint64_t *error_code);
/* The vCPU enters (entering true) or leaves the guest: called around every
 * stretch it spends in the engine, as VMRUN and #VMEXIT bracket a run. */
typedef void (*vmdl_world_switch_fn)(void *opaque, struct vmdl_vcpu *vcpu,
                                     bool entering);

/* One command-line option of a model (the harness's --NAME [ARG]). */
struct vmdl_model_option {
    const char *name;     /* without the dashes: "vmx-profile" */
    const char *arg;      /* placeholder of its argument ("NAME"); NULL: a flag */
    const char *help;
};

struct vmdl_model_desc {
    /* ---- identity: --models name, checkpoint section, help ---- */
    const char *name;
    enum vmdl_arch arch;
    int vendor;           /* x86: "all" attaches it only on this vendor; -1 any */
    bool not_in_all;      /* a VM type rather than a device: only by name */
    const char *summary;
    const struct vmdl_model_option *options;   /* ends with name NULL; may be NULL */
    /* Create an instance from the harness options and add it to the VM
     * (with vmdl_vm_add_model); used by vmdl_attach_models(). */
    int (*attach)(struct vmdl_vm *vm, const struct vmdl_model_options *opts);

    /* ---- what an instance serves (each part optional) ---- */
    const struct vmdl_msr_range *msrs;
    unsigned nr_msrs;
    const struct vmdl_msr_ops *msr_ops;
    const struct vmdl_port_range *ports;
    unsigned nr_ports;
    const struct vmdl_io_ops *io_ops;
    const struct vmdl_mmio_window *mmio;
    unsigned nr_mmio;
    const struct vmdl_mmio_ops *mmio_ops;
    vmdl_sysreg_fn sysreg;           /* arm64 MRS/MSR/SYS */
    vmdl_hypercall_fn hypercall;     /* arm64 HVC/SMC */
    enum vmdl_insn_family insn_family;
    vmdl_x86_insn_fn insn;           /* x86 VMX or SEAM family */
    const struct vmdl_irqchip_ops *irqchip;   /* at most one per VM */
    const struct vmdl_time_ops *time;
    vmdl_x86_dr_fn dr;               /* x86 MOV DR (at most one per VM) */
    vmdl_world_switch_fn world_switch;

    /* ---- lifecycle ---- */
    vmdl_reset_fn reset;             /* after every VM reset */
    vmdl_destroy_fn destroy;         /* with the VM: free the instance */
    vmdl_state_save_fn save;         /* checkpoints: both or neither; the */
    vmdl_state_load_fn load;         /* section is named after the model */
};

/*
 * Register everything `desc` declares for the instance `model`.  From this
 * call on the VM owns the instance: desc->destroy frees it with the VM, or
 * at once when the registration cannot even record that.  On an error the
 * VM may hold part of the registration and should be destroyed.
 */
int vmdl_vm_add_model(struct vmdl_vm *vm, const struct vmdl_model_desc *desc,
                      void *model);

/* The instance of `desc` added to the VM (NULL when none): how one model's
 * glue finds another it works with (the I/O APIC and the local APICs). */
void *vmdl_vm_find_model(struct vmdl_vm *vm, const struct vmdl_model_desc *desc);

#ifdef __cplusplus
}
#endif
#endif
