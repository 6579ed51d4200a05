/* SPDX-License-Identifier: MIT */
/*
 * x86 exception and interrupt delivery through the guest IDT (Unicorn never
 * delivers exceptions itself): the interrupt frame on the guest stack, the
 * #DF / triple-fault escalation, and the injection of pending NMIs and
 * external interrupts at an instruction boundary.
 */
#include <string.h>

#include "x86.h"
#include "virtmodel/error.h"

static int push_frame(struct vmdl_vcpu *v, uint64_t *rsp, uint64_t val)
{
    *rsp -= 8;
    void *p = vmdl_vm_ram_ptr(v->vm, *rsp, 8);
    if (!p)
        return -1;
    memcpy(p, &val, 8);
    return 0;
}

bool vmdl__x86_has_error_code(unsigned vector)
{
    return vector == 8 || (vector >= 10 && vector <= 14) || vector == 17 ||
           vector == 21 || vector == 29 || vector == 30;
}

/* Deliver one event; returns 0, or -1 when the IDT or stack cannot take it. */
static int deliver_once(struct vmdl_vcpu *v, unsigned vector, bool has_err,
                        uint64_t err, uint64_t return_rip, unsigned *fail_vec,
                        uint64_t *fail_err)
{
    uint8_t gate[16];
    if ((uint64_t)vector * 16 + 15 > X86(v)->idtr_limit ||
        vmdl_guest_read(&v->vm->mem, X86(v)->idtr_base + vector * 16, gate, 16)) {
        *fail_vec = 13;
        *fail_err = vector * 8 + 2; /* IDT bit set in the error code */
        return -1;
    }
    uint8_t type_attr = gate[5];
    unsigned type = type_attr & 0xF;
    if (!(type_attr & 0x80) || (type != 0xE && type != 0xF)) {
        *fail_vec = (type_attr & 0x80) ? 13 : 11; /* #GP or #NP */
        *fail_err = vector * 8 + 2;
        return -1;
    }
    uint64_t handler = (uint64_t)gate[0] | (uint64_t)gate[1] << 8 |
                       (uint64_t)gate[6] << 16 | (uint64_t)gate[7] << 24 |
                       (uint64_t)gate[8] << 32 | (uint64_t)gate[9] << 40 |
                       (uint64_t)gate[10] << 48 | (uint64_t)gate[11] << 56;
    uint64_t rflags = rd(v, UC_X86_REG_RFLAGS);
    uint64_t old_rsp = rd(v, UC_X86_REG_RSP);
    uint64_t rsp = old_rsp & ~0xFull; /* 64-bit mode aligns the frame */
    if (push_frame(v, &rsp, SEL_USER_SS) || push_frame(v, &rsp, old_rsp) ||
        push_frame(v, &rsp, rflags) || push_frame(v, &rsp, SEL_USER_CS) ||
        push_frame(v, &rsp, return_rip) || (has_err && push_frame(v, &rsp, err))) {
        *fail_vec = 8;
        *fail_err = 0;
        return -1;
    }
    rflags &= ~((1ull << 8) | (1ull << 14) | (1ull << 16) | (1ull << 17));
    if (type == 0xE)
        rflags &= ~RFLAGS_IF;
    wr(v, UC_X86_REG_RSP, rsp);
    wr(v, UC_X86_REG_RFLAGS, rflags | RFLAGS_FIXED);
    wr(v, UC_X86_REG_RIP, handler);
    v->halted = false;
    return 0;
}

/*
 * Deliver an event with the architecture's escalation: a fault while
 * delivering becomes #DF, a fault while delivering #DF is a triple fault
 * (returns VMDL_ESTATE and the caller ends the run with a fault-loop exit).
 */
int vmdl__x86_deliver(struct vmdl_vcpu *v, unsigned vector, bool has_err,
                      uint64_t err, uint64_t return_rip)
{
    unsigned fv;
    uint64_t fe;
    if (!deliver_once(v, vector, has_err, err, return_rip, &fv, &fe))
        return VMDL_OK;
    if (vector != 8 &&
        !deliver_once(v, 8, true, 0, return_rip, &fv, &fe))
        return VMDL_OK;
    return vmdl_fail(VMDL_ESTATE, "triple fault: vector %u could not be "
                     "delivered (IDT base 0x%llx limit 0x%x, RSP 0x%llx)",
                     vector, (unsigned long long)X86(v)->idtr_base, X86(v)->idtr_limit,
                     (unsigned long long)rd(v, UC_X86_REG_RSP));
}

enum emu_result vmdl__x86_raise_code(struct vmdl_vcpu *v, vmdl_fault f,
                                     uint64_t code, uint64_t rip)
{
    if (f == VMDL_FAULT_NONE)
        return EMU_DONE;
    unsigned vec = f == VMDL_FAULT_UD ? 6 : f == VMDL_FAULT_PF ? 14 :
                   f == VMDL_FAULT_VC ? 29 : f == VMDL_FAULT_SS ? 12 : 13;
    if (vmdl__x86_deliver(v, vec, vmdl__x86_has_error_code(vec), code, rip))
        return EMU_TRIPLE;
    return EMU_DONE;
}

enum emu_result vmdl__x86_raise(struct vmdl_vcpu *v, vmdl_fault f, uint64_t rip)
{
    return vmdl__x86_raise_code(v, f, 0, rip);
}

int vmdl__x86_inject_pending(struct vmdl_vcpu *v, bool *triple)
{
    struct vmdl_vm *vm = v->vm;
    bool chip = vm->irqchip && vm->irqchip->pending;
    if (!v->nmi_pending && vm->irqchip && vm->irqchip->take_nmi &&
        vm->irqchip->take_nmi(vm->irqchip_opaque, v))
        v->nmi_pending = true;
    int vec = v->queued_irq;
    bool from_chip = false, asked = false;
    /*
     * Outside an interrupt shadow, with no NMI, the controller is asked
     * whatever RFLAGS.IF is; with nothing pending the answer is 0 and no
     * window is watched.  Decided first, without reading RIP and RFLAGS
     * (two engine calls on every trap-site completion); the calls to the
     * controller are the same as below.
     */
    if (!v->nmi_pending && !v->shadow_at) {
        if (vec < 0 && chip) {
            vec = vm->irqchip->pending(vm->irqchip_opaque, v);
            from_chip = vec >= 0;
            asked = true;
        }
        if (vec < 0) {
            v->irq_window = false;
            return 0;
        }
    }
    uint64_t rip = rd(v, UC_X86_REG_RIP);
    if (v->nmi_pending) {
        v->nmi_pending = false;
        if (vmdl__x86_deliver(v, 2, false, 0, rip))
            *triple = true;
        vmdl__trace_exit(v, "nmi", rip, "delivered vector 2");
        return 1;
    }
    v->irq_window = false;
    if (!(rd(v, UC_X86_REG_RFLAGS) & RFLAGS_IF)) {
        /* Something pending waits for STI/POPF/IRETQ, which run natively:
         * the block hook watches IF until it opens (an interrupt window). */
        v->irq_window = vec >= 0 ||
                        (!asked && chip && vm->irqchip->pending(vm->irqchip_opaque, v) >= 0);
        if (v->irq_window)
            vmdl__count_no_fast(v);   /* the next block looks at IF */
        return 0;
    }
    if (vmdl__last_insn_was_shadow(v, rip))
        return -1; /* STI / MOV SS shadow: one more instruction first */
    if (vec < 0 && !asked && chip) {
        vec = vm->irqchip->pending(vm->irqchip_opaque, v);
        from_chip = vec >= 0;
    }
    if (vec < 0)
        return 0;
    if (from_chip && vm->irqchip->ack)
        vm->irqchip->ack(vm->irqchip_opaque, v, vec);
    else
        v->queued_irq = -1;
    if (vmdl__x86_deliver(v, (unsigned)vec, false, 0, rip))
        *triple = true;
    char out[32];
    snprintf(out, sizeof(out), "delivered vector %d", vec);
    vmdl__trace_exit(v, "interrupt", rip, out);
    return 1;
}

int vmdl__x86_deliver_event(struct vmdl_vcpu *v, const struct vmdl_arch_event *ev)
{
    if (X86(v)->hosted)
        return vmdl__x86h_deliver_event(v, ev);
    return vmdl__x86_deliver(v, ev->vector, ev->has_error, ev->error_code,
                             ev->return_pc);
}

int vmdl__x86_inject_irq(struct vmdl_vcpu *v, unsigned vector)
{
    if (vector < 32 || vector > 255)
        return vmdl_fail(VMDL_ERANGE, "vmdl_vcpu_inject_irq: vector %u is not "
                         "an external-interrupt vector (32..255)", vector);
    if (v->queued_irq >= 0)
        return vmdl_fail(VMDL_ESTATE, "vmdl_vcpu_inject_irq: vector %d is "
                         "still waiting for delivery", v->queued_irq);
    v->queued_irq = (int)vector;
    return VMDL_OK;
}

int vmdl__x86_inject_nmi(struct vmdl_vcpu *v)
{
    v->nmi_pending = true;
    return VMDL_OK;
}

/* Could an interrupt end this vCPU's HLT right now? */
bool vmdl__x86_can_wake(struct vmdl_vcpu *v)
{
    struct vmdl_vm *vm = v->vm;
    if (v->nmi_pending)
        return true;
    if (vm->irqchip && vm->irqchip->take_nmi) {
        /* take_nmi consumes: remember it as pending. */
        if (vm->irqchip->take_nmi(vm->irqchip_opaque, v)) {
            v->nmi_pending = true;
            return true;
        }
    }
    /* A hosted vCPU's state for its next entry (a nested VM entry into the
     * HLT activity state) is in the VMCB; an L1 that exits on external
     * interrupts is woken whatever L2's RFLAGS.IF says. */
    uint64_t rflags = rd(v, UC_X86_REG_RFLAGS);
    if (X86(v)->hosted)
        vmdl__x86h_get_reg(v, VMDL_X86_RFLAGS, &rflags);
    /* A nested guest's NMI window, or its interrupt window with IF set,
     * ends its HLT (a VM exit, or a virtual interrupt delivered). */
    if (X86(v)->hosted && vmdl__x86h_nested_window_wakes(v, rflags & RFLAGS_IF))
        return true;
    if (!(rflags & RFLAGS_IF) && !(X86(v)->hosted && vmdl__x86h_nested_wakes(v)))
        return false;
    return vmdl__irq_asserted(v);
}

bool vmdl__x86_irq_window_open(struct vmdl_vcpu *v)
{
    return rd(v, UC_X86_REG_RFLAGS) & RFLAGS_IF;
}

bool vmdl__x86_fault_valid(vmdl_fault f)
{
    return f == VMDL_FAULT_GP || f == VMDL_FAULT_UD || f == VMDL_FAULT_PF;
}

int vmdl__x86_raise_fault(struct vmdl_vcpu *v, vmdl_fault f)
{
    uint64_t pc = rd(v, UC_X86_REG_RIP);
    return vmdl__x86_deliver(v, (unsigned)f, f != VMDL_FAULT_UD, 0, pc);
}
