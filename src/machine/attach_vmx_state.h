/* SPDX-License-Identifier: MIT */
/*
 * The vmx glue's per-vCPU state beyond the model's blob (attach_vmx.c):
 * what it keeps in C while L2 runs, in a checkpoint (glue state version 2,
 * checkpoint format 5).  The model's blob has vmcs12, the VMX operation and
 * L2-active flags; this record has L2's fields the machine does not switch
 * live (kept from the entry for the exit), the preemption timer's deadline
 * in virtual time, the monitor trap flag's pending exit, L1's NMI blocking
 * (restored at the exit) and whether the APIC's held INIT/SIPI are still
 * to be looked at.  The EPT shadow is not here: it is rebuilt.
 */
#ifndef VMDL_ATTACH_VMX_STATE_H
#define VMDL_ATTACH_VMX_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "virtmodel/blob.h"
#include "virtmodel/vmx_nested.h"

#define VMDL_VMX_GLUE_STATE_VERSION 2

struct vmdl__vmx_l2_rec {
    bool active;                /* L2 runs (the model must be in guest mode) */
    struct vmdl_vmx_cpu l2;     /* L2's fields (after an exit: L1's, unused) */
    uint64_t timer_at;          /* UINT64_MAX: not counting */
    uint8_t mtf;                /* the glue's enum mtf (0 off) */
    bool l1_nmi_blocked, look;
};

void vmdl__vmx_put_l2_rec(struct vmdl_blob_writer *w, const struct vmdl__vmx_l2_rec *r);
/* Read and range-check one record (mtf below mtf_limit). */
void vmdl__vmx_get_l2_rec(struct vmdl_blob_reader *r, struct vmdl__vmx_l2_rec *rec,
                          unsigned mtf_limit);

#endif
