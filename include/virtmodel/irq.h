/* SPDX-License-Identifier: MIT */
/*
 * Narrow interfaces through which one model raises an interrupt in another
 * without depending on it: the AMD PMU raises its PMI through whatever sits
 * behind vmdl_pmi_sink (the local APIC model's LVT performance-counter entry
 * in a full machine, a counter in a unit test).
 */
#ifndef VIRTMODEL_IRQ_H
#define VIRTMODEL_IRQ_H

struct vmdl_pmi_sink {
    /* Raise the performance-monitoring interrupt of one vCPU. */
    void (*raise_pmi)(void *opaque);
    void *opaque;
};

#endif
