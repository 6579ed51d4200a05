/* SPDX-License-Identifier: MIT */
/*
 * A test scenario for the nested APICv model (lapic_nested.h): the steps of
 * KVM's selftest x86/vmx_apicv_updates_test driven through the public
 * model API.  Test code, not part of the library.
 */
#ifndef NAPICV_SCENARIO_H
#define NAPICV_SCENARIO_H

#include <stdbool.h>
#include <stdint.h>

#include "virtmodel/lapic_nested.h"

/*
 * The steps of KVM's selftest x86/vmx_apicv_updates_test, run on one APIC
 * with APICv, under behaviour b.  Every observation L1 makes is recorded;
 * `passed` says whether all of the selftest's assertions held and
 * `first_failure` names the first that did not.
 */
struct napicv_scenario {
    enum vmdl_napicv_behaviour behaviour;
    bool inhibited_in_l1;          /* APICv inhibited by the modified ID */
    unsigned good_ipis_1;          /* after L1's first self-IPI: 1 */
    uint16_t svi_at_launch;        /* vmcs01 SVI at VMLAUNCH */
    struct vmdl_vmcs_apicv vmcs01_while_l2; /* after L2's x2APIC switch */
    unsigned pending_while_l2;     /* VMDL_NAPICV_PEND_* then */
    bool x2apic_after_exit1;
    struct vmdl_vmcs_apicv vmcs01_after_exit1;
    unsigned bad_ipis;             /* ICR scribble delivered (must be 0) */
    bool isr_before_eoi;           /* vector 0xE0 in ISR (must be set) */
    bool isr_after_eoi;            /* ... after L1's EOI (must be clear) */
    bool eoi_virtualized;          /* the EOI went through virtual EOI */
    bool x2apic_after_exit2;       /* must be false */
    unsigned good_ipis_2;          /* must be 2 */
    bool isr_final_before_eoi, isr_final_after_eoi;
    bool passed;
    char first_failure[96];
    struct vmdl_napicv_stats stats;
};
#define NAPICV_GOOD_VECTOR 0xE0
#define NAPICV_BAD_VECTOR 0xF0
int napicv_run_selftest_scenario(enum vmdl_napicv_behaviour b,
                                 struct napicv_scenario *out);

#endif
