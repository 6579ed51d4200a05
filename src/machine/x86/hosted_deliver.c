/* SPDX-License-Identifier: MIT */
/*
 * Event delivery for the hosted x86 vCPU: exceptions, software interrupts,
 * NMIs and irqchip interrupts go through QEMU's own delivery (VMRUN with an
 * event injection), with the error code pushed afterwards and the
 * double-fault rules applied to a fault during delivery.
 */
#include <string.h>

#include "hosted.h"

/* ---- event delivery ------------------------------------------------- */

bool vmdl__x86h_has_error(unsigned vec)
{
    return vec == 8 || (vec >= 10 && vec <= 14) || vec == 17 || vec == 21;
}

static bool contributory(unsigned vec)
{
    return vec == 0 || (vec >= 10 && vec <= 13);
}

/* Width of the error code the gate's handler receives (0: none). */
static unsigned error_width(struct vmdl_vcpu *v, unsigned vec)
{
    uint64_t cr0 = rd(v, UC_X86_REG_CR0);
    if (!(cr0 & 1))
        return 0;                                   /* real mode: never */
    if (vmdl__x86h_rdmsr(v, MSR_EFER) & (1ull << 10))
        return 8;
    uc_x86_mmr idtr;
    uc_reg_read(v->uc, UC_X86_REG_IDTR, &idtr);
    uint8_t gate[8];
    if (!vmdl__x86h_lin_rw(v, idtr.base + vec * 8, gate, 8, false))
        return 4;
    unsigned type = gate[5] & 0xF;
    return (type == 6 || type == 7) ? 2 : 4;
}

/* Fault-class exceptions (SDM vol. 3, 6.15); #DB is left out (only its
 * general-detect form is a fault, and an instruction breakpoint keeps RF). */
static bool fault_class(unsigned vec)
{
    return vec == 0 || vec == 5 || vec == 6 || vec == 7 || (vec >= 10 && vec <= 14) ||
           vec == 16 || vec == 17 || vec == 19 || vec == 20 || vec == 21;
}

/*
 * A fault's frame carries RFLAGS.RF = 1, so that the IRET back to the
 * faulting instruction does not hit an instruction breakpoint there again
 * (SDM vol. 3, 18.3.1.1); QEMU pushes the current RF.  The frame QEMU just
 * built is at RSP: return address, CS, then (E/R)FLAGS.  16-bit gates and
 * real mode push a 16-bit FLAGS image, which has no RF.
 */
static void set_frame_rf(struct vmdl_vcpu *v, unsigned vec)
{
    unsigned w = error_width(v, vec);
    if (w < 4)
        return;
    uc_context_save(v->uc, X86(v)->ctx);
    struct seg ss;
    seg_from_ctx(v, (const char *)X86(v)->ctx, R_SS, &ss);
    bool lma = w == 8;
    uint64_t rsp = rd(v, UC_X86_REG_RSP);
    if (!lma)
        rsp = (ss.flags & DESC_B) ? (uint32_t)rsp : (uint16_t)rsp;
    uint64_t la = (lma ? 0 : ss.base) + rsp + 2 * w;
    uint32_t flags = 0;
    if (vmdl__x86h_lin_rw(v, la, &flags, 4, false)) {
        flags |= 1u << 16;
        vmdl__x86h_lin_rw(v, la, &flags, 4, true);
    }
}

/* After QEMU delivered the event: push the error code below the frame. */
static void push_error(struct vmdl_vcpu *v, unsigned width, uint32_t code)
{
    uc_context_save(v->uc, X86(v)->ctx);
    struct seg ss;
    seg_from_ctx(v, (const char *)X86(v)->ctx, R_SS, &ss);
    uint64_t rsp = rd(v, UC_X86_REG_RSP);
    bool lma = vmdl__x86h_rdmsr(v, MSR_EFER) & (1ull << 10);
    uint64_t mask = lma ? ~0ull : (ss.flags & DESC_B) ? 0xFFFFFFFFull : 0xFFFFull;
    uint64_t nsp = (rsp & ~mask) | ((rsp - width) & mask);
    uint64_t base = lma ? 0 : ss.base;
    uint64_t val = code;
    vmdl__x86h_lin_rw(v, base + (nsp & mask), &val, width, true);
    wr(v, UC_X86_REG_RSP, nsp);
}

/* A nested guest's triple fault is the hypervisor's (an L1 always exits
 * on it, VM exit reason 2), offered with RIP at the instruction whose event
 * could not be delivered and no event being delivered; true when taken. */
static bool nested_triple(struct vmdl_vcpu *v)
{
    X86(v)->h_vectoring = 0;
    if (!X86(v)->nested)
        return false;
    wr(v, UC_X86_REG_RIP, X86(v)->h_soft_rip ? X86(v)->h_soft_rip
                                             : pr64(v, H_VMCB + S_RIP));
    struct vmdl_x86_event ev = {.kind = VMDL_X86_EVENT_TRIPLE_FAULT};
    vmdl__trace_exit(v, "triple-fault", rd(v, UC_X86_REG_RIP), "nested");
    if (!vmdl__x86h_event(v, &ev))
        return false;
    v->stop = STOP_NONE;
    return true;
}

/*
 * Deliver vector through the guest's IDT/IVT with QEMU's own delivery:
 * VMRUN with an INTR-type injection, one instruction (the VMRUN), then the
 * error code.  A fault while delivering comes back as an exception exit
 * during that instruction and is combined by the double-fault rules.
 */
int vmdl__x86h_deliver(struct vmdl_vcpu *v, unsigned vec, bool has_err, uint32_t err,
                   bool *triple)
{
    unsigned first = vec, npf_retries = 0;
    vmdl__x86h_nested_vectoring(v, vec, has_err, err);
    bool fault = fault_class(vec) && !X86(v)->h_not_fault;
    X86(v)->h_not_fault = false;
    vmdl__x86h_restore_kseg(v);
    if (vmdl__x86h_deliver64(v, vec, has_err, err, fault, false))
        return VMDL_OK;
    for (int depth = 0; depth < 3; depth++) {
        pw32(v, H_VMCB + C_EVENTINJ, (1u << 31) | vec);
        vmdl__x86h_save_and_splice(v);
        vmdl__x86h_run_stub(v);
        pw32(v, H_VMCB + C_EVENTINJ, 0);
        unsigned code = v->stop == STOP_INTR ? v->stop_vector : 0;
        /* A fetch the second stage refused after the delivery completed
         * (RIP at the handler: its first block was being translated) is
         * the handler's own fault, not the delivery's: the delivery stands
         * and the fetch faults again, with no event being delivered, when
         * the guest runs (its page not in the shadow yet: an EPT rebuilt
         * after INVEPT or a checkpoint's restore). */
        if (code == EXCP_VMEXIT + X_NPF &&
            (X86(v)->npt.miss.fetch || rd(v, UC_X86_REG_RIP) != pr64(v, H_VMCB + S_RIP))) {
            X86(v)->npt.miss.pending = false;
            code = 0;
        }
        if (code == EXCP_VMEXIT + X_NPF) {
            /* The delivery's own access missed the second stage: fill it
             * and deliver again, unless it became a VM exit. */
            v->stop = STOP_NONE;
            int err = vmdl__x86h_npf_exit(v, triple);
            if (err || X86(v)->hosted_vmrun)
                return err;
            depth--;
            if (++npf_retries > 8)
                return vmdl_fail(VMDL_ESTATE, "event delivery keeps missing the second stage");
            continue;
        }
        if (!(code >= EXCP_VMEXIT + X_EXCP && code < EXCP_VMEXIT + X_EXCP + 32)) {
            if (fault)
                set_frame_rf(v, vec);
            if (has_err) {
                unsigned w = error_width(v, vec);
                if (w)
                    push_error(v, w, err);
            }
            v->stop = STOP_NONE;
            X86(v)->h_vectoring = 0;
            return VMDL_OK;
        }
        /* The delivery faulted: #DF for benign-free pairs, else the new one. */
        unsigned nvec = code - EXCP_VMEXIT - X_EXCP;
        uint32_t nerr = (uint32_t)vmdl__x86h_err_code(v);
        if (vec == 8) {
            if (nested_triple(v))
                return VMDL_OK;
            *triple = true;
            return vmdl_fail(VMDL_ESTATE, "triple fault: vector %u while "
                             "delivering #DF (first event %u)", nvec, first);
        }
        bool df = (contributory(vec) && contributory(nvec)) ||
                  (vec == 14 && (nvec == 14 || contributory(nvec)));
        /* QEMU restored RIP to the VMRUN; the guest state VMRUN loaded is
         * otherwise intact (delivery commits nothing before it succeeds). */
        wr(v, UC_X86_REG_RIP, X86(v)->h_soft_rip ? X86(v)->h_soft_rip
                                                 : pr64(v, H_VMCB + S_RIP));
        uint64_t cr2 = pr64(v, H_VMCB + C_EXIT_INFO2);
        if (vmdl__x86h_nested_delivery_fault(v, nvec, nerr, nvec == 14 ? cr2 : 0)) {
            v->stop = STOP_NONE;
            return VMDL_OK;
        }
        if (nvec == 14)
            vmdl__x86h_set_cr2(v, cr2);
        /* EXT (error code bit 0): the event being delivered was external
         * to the program (an exception, NMI or interrupt, not INT n /
         * INT3 / INTO); QEMU leaves it clear (SDM vol. 3, 6.13). */
        if (!df && nvec >= 10 && nvec <= 13 && (depth > 0 || !X86(v)->h_soft_rip))
            nerr |= 1;
        vec = df ? 8 : nvec;
        fault = fault_class(vec);
        err = df ? 0 : nerr;
        has_err = vmdl__x86h_has_error(vec);
    }
    if (nested_triple(v))
        return VMDL_OK;
    *triple = true;
    return vmdl_fail(VMDL_ESTATE, "triple fault delivering vector %u", first);
}

int vmdl__x86h_fault(struct vmdl_vcpu *v, vmdl_fault f, bool *triple)
{
    unsigned vec = f == VMDL_FAULT_UD ? 6 : f == VMDL_FAULT_PF ? 14 :
                   f == VMDL_FAULT_SS ? 12 : 13;
    return vmdl__x86h_deliver(v, vec, vmdl__x86h_has_error(vec), 0, triple);
}

/* Where the INT n / INT3 / INTO that raised vec starts (QEMU reports it
 * with RIP past the instruction): CD ib is two bytes, CC and CE one. */
static uint64_t softint_start(struct vmdl_vcpu *v, unsigned vec)
{
    uint64_t rip = rd(v, UC_X86_REG_RIP);
    uc_context_save(v->uc, X86(v)->ctx);
    struct seg cs;
    seg_from_ctx(v, (const char *)X86(v)->ctx, R_CS, &cs);
    bool flat = (vmdl__x86h_rdmsr(v, MSR_EFER) & (1ull << 10)) && (cs.flags & DESC_L);
    uint8_t b[2] = { 0 };
    vmdl__x86h_lin_rw(v, (flat ? 0 : cs.base) + rip - 2, b, 2, false);
    return b[0] == 0xCD && b[1] == vec ? rip - 2 : rip - 1;
}

/* Check the gate's DPL (the injection that delivers does not), then
 * deliver. */
static int softint_deliver(struct vmdl_vcpu *v, unsigned vec, bool *triple)
{
    uint64_t cr0 = rd(v, UC_X86_REG_CR0);
    if (cr0 & 1) {
        uc_context_save(v->uc, X86(v)->ctx);
        struct seg ss;
        seg_from_ctx(v, (const char *)X86(v)->ctx, R_SS, &ss);
        unsigned cpl = vmdl__x86h_cpl(&ss, cr0, rd(v, UC_X86_REG_RFLAGS));
        bool lma = vmdl__x86h_rdmsr(v, MSR_EFER) & (1ull << 10);
        uc_x86_mmr idtr;
        uc_reg_read(v->uc, UC_X86_REG_IDTR, &idtr);
        uint8_t gate[8] = { 0 };
        unsigned esz = lma ? 16 : 8;
        if ((uint64_t)vec * esz + esz - 1 <= idtr.limit &&
            vmdl__x86h_lin_rw(v, idtr.base + (uint64_t)vec * esz, gate, 8, false) &&
            ((gate[5] >> 5) & 3) < cpl) {
            /* INT n through a gate of lower DPL: #GP(vector * 8 + 2), on the
             * INT instruction itself. */
            wr(v, UC_X86_REG_RIP, X86(v)->h_soft_rip);
            return vmdl__x86h_deliver(v, 13, true, vec * 8 + 2, triple);
        }
    }
    X86(v)->h_not_fault = true;
    return vmdl__x86h_deliver(v, vec, false, 0, triple);
}

/* INT3 (CC) or INTO (CE) in a nested guest: a software exception that
 * L1's exception bitmap may take as a VM exit (SDM 26.2), with RIP at the
 * instruction and its length (SDM 28.2.4), before any delivery check.
 * True when taken; RIP is left past the instruction otherwise. */
static bool nested_soft_exception(struct vmdl_vcpu *v, unsigned vec, uint64_t start)
{
    uint64_t next = rd(v, UC_X86_REG_RIP);
    if (!X86(v)->nested || (vec != 3 && vec != 4) || next - start != 1)
        return false;
    struct vmdl_x86_event ev = {.kind = VMDL_X86_EVENT_EXCEPTION, .vector = vec,
                                .soft = true, .insn_len = 1};
    wr(v, UC_X86_REG_RIP, start);
    if (vmdl__x86h_event(v, &ev)) {
        vmdl__x86h_end_soft_int(v);
        return true;
    }
    wr(v, UC_X86_REG_RIP, next);
    return false;
}

/* A software interrupt: a fault while checking or delivering it is
 * reported on the instruction (SDM vol. 3, 6.4.2), a successful delivery
 * returns past it. */
int vmdl__x86h_softint(struct vmdl_vcpu *v, unsigned vec, bool *triple)
{
    /* The common case first: a 64-bit gate the INT may use, delivered by
     * the machine (the checks that fault are left to the path below). */
    if (!X86(v)->nested) {
        vmdl__x86h_restore_kseg(v);
        if (vmdl__x86h_deliver64(v, vec, false, 0, false, true))
            return VMDL_OK;
    }
    uint64_t start = softint_start(v, vec);
    if (nested_soft_exception(v, vec, start))
        return VMDL_OK;
    X86(v)->h_soft_rip = start;
    X86(v)->h_soft_len = (unsigned)(rd(v, UC_X86_REG_RIP) - start);
    int err = softint_deliver(v, vec, triple);
    X86(v)->h_soft_rip = 0;
    return err;
}

/* An external interrupt: the machine's own 64-bit delivery when it can
 * (hosted_deliver64.c: no VMRUN, so QEMU keeps its TLB and jump cache),
 * else QEMU's through the VMRUN stub. */
int vmdl__x86h_deliver_irq(struct vmdl_vcpu *v, unsigned vec, bool *triple)
{
    X86(v)->h_not_fault = true;
    return vmdl__x86h_deliver(v, vec, false, 0, triple);
}

/* The architecture interface's delivery (a fault a model or the caller
 * raised): the same paths as every other event. */
int vmdl__x86h_deliver_event(struct vmdl_vcpu *v, const struct vmdl_arch_event *ev)
{
    bool triple = false;
    wr(v, UC_X86_REG_RIP, ev->return_pc);
    return vmdl__x86h_deliver(v, ev->vector, ev->has_error,
                              (uint32_t)ev->error_code, &triple);
}
