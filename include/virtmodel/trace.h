/* SPDX-License-Identifier: MIT */
/*
 * The exit trace: one record per exit the machine handles (claimed by a
 * model or handed to the caller), written to the stream given to
 * vmdl_vm_set_trace() (machine.h).
 *
 * Formats:
 *   VMDL_TRACE_TEXT   one aligned line per exit, for people (the default)
 *   VMDL_TRACE_JSONL  one JSON object per line (JSON Lines), for programs:
 *     {"seq":N, "vcpu":N, "reason":"rdmsr", "pc":"0x...", "bytes":"0f32",
 *      "disasm":"rdmsr ", "outcome":"...", "insns":N, "exact":true,
 *      "tsc":N}
 *   seq      exits traced so far in this VM, from 0
 *   pc       hex string (a 64-bit address does not fit a JSON double)
 *   bytes    the instruction's bytes in hex ("" when not fetchable)
 *   insns    the vCPU's virtual time: retired instructions; exact when
 *            "exact" is true (instruction counting on: a live counter or
 *            timer, several vCPUs, a budget, --count), otherwise only the
 *            instructions the machine trapped
 *   tsc      x86 only: the guest's TSC (insns + the guest's TSC offset)
 */
#ifndef VIRTMODEL_TRACE_H
#define VIRTMODEL_TRACE_H

#ifdef __cplusplus
extern "C" {
#endif

struct vmdl_vm;

enum vmdl_trace_format {
    VMDL_TRACE_TEXT = 0,
    VMDL_TRACE_JSONL = 1,
};

/* Choose the format of the trace (before or after vmdl_vm_set_trace). */
int vmdl_vm_set_trace_format(struct vmdl_vm *vm, enum vmdl_trace_format format);

#ifdef __cplusplus
}
#endif
#endif
