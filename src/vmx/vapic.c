/* SPDX-License-Identifier: MIT */
/*
 * APIC virtualization for L2 on vmcs12's virtual-APIC page (vmx_vapic.h).
 * The page is L1's memory: every register is read and written there, the
 * guest interrupt status (RVI, SVI) lives in vmcs12, as the CPU keeps it
 * in the VMCS it runs L2 on.
 */
#include "virtmodel/error.h"
#include "virtmodel/vmx_vapic.h"
#include "vmx_priv.h"

#define VAPIC_TPR 0x80u
#define VAPIC_PPR 0xA0u
#define VAPIC_ISR 0x100u
#define VAPIC_IRR 0x200u
#define VAPIC_EOI 0xB0u
#define VAPIC_ICR_LO 0x300u
#define VAPIC_ICR_HI 0x310u
#define VAPIC_SELF_IPI 0x3F0u

#define MSR_X2APIC_FIRST 0x800u
#define MSR_X2APIC_LAST 0x8FFu
#define MSR_X2APIC_TPR 0x808u
#define MSR_X2APIC_EOI 0x80Bu
#define MSR_X2APIC_SELF_IPI 0x83Fu

static uint32_t secondary(const struct vmdl_vmx *vmx)
{
    if (!(vmdl__v12(vmx, V12_CPU_BASED_VM_EXEC_CONTROL) & VMDL_PROC_SECONDARY))
        return 0;
    return (uint32_t)vmdl__v12(vmx, V12_SECONDARY_VM_EXEC_CONTROL);
}

static uint64_t page(const struct vmdl_vmx *vmx)
{
    return vmdl__v12(vmx, V12_VIRTUAL_APIC_PAGE_ADDR);
}

/* A page L1 did not back reads as zeros and drops writes (KVM maps the
 * page at entry and would have refused the entry; the model checks
 * only its address). */
static uint32_t rd32(const struct vmdl_vmx *vmx, unsigned off)
{
    uint8_t b[4] = {0};
    (void)vmdl_guest_read(&vmx->mem, page(vmx) + off, b, 4);
    return (uint32_t)get_le(b, 4);
}

static void wr32(struct vmdl_vmx *vmx, unsigned off, uint32_t v)
{
    uint8_t b[4];
    put_le(b, v, 4);
    (void)vmdl_guest_write(&vmx->mem, page(vmx) + off, b, 4);
}

static uint16_t gis(const struct vmdl_vmx *vmx)
{
    return (uint16_t)vmdl__v12(vmx, V12_GUEST_INTR_STATUS);
}

static void set_gis(struct vmdl_vmx *vmx, uint8_t svi, uint8_t rvi)
{
    vmdl__v12_set(vmx, V12_GUEST_INTR_STATUS, (uint64_t)svi << 8 | rvi);
}

/* VIRR / VISR: 8 words at 16-byte strides. */
static void vec_set(struct vmdl_vmx *vmx, unsigned base, uint8_t vec, bool on)
{
    unsigned off = base + 0x10u * (vec / 32u);
    uint32_t w = rd32(vmx, off), m = 1u << (vec % 32u);
    wr32(vmx, off, on ? w | m : w & ~m);
}

/* The highest vector set, 0 when none (as RVI and SVI encode "none"). */
static uint8_t vec_highest(const struct vmdl_vmx *vmx, unsigned base)
{
    for (int i = 7; i >= 0; i--) {
        uint32_t w = rd32(vmx, base + 0x10u * (unsigned)i);
        for (int b = 31; w && b >= 0; b--)
            if (w >> b & 1u)
                return (uint8_t)(32 * i + b);
    }
    return 0;
}

bool vmdl_vmx_vapic_vid(const struct vmdl_vmx *vmx)
{
    return vmx && vmdl__vmx_has_current(vmx) && (secondary(vmx) & VMDL_PROC2_VID);
}

uint8_t vmdl_vmx_vapic_update_ppr(struct vmdl_vmx *vmx)
{
    if (!vmx || !vmdl__vmx_has_current(vmx))
        return 0;
    uint8_t vtpr = (uint8_t)rd32(vmx, VAPIC_TPR), svi = (uint8_t)(gis(vmx) >> 8);
    uint8_t vppr = (vtpr & 0xF0u) >= (svi & 0xF0u) ? vtpr : (uint8_t)(svi & 0xF0u);
    wr32(vmx, VAPIC_PPR, vppr);
    return vppr;
}

int vmdl_vmx_vapic_pending(const struct vmdl_vmx *vmx)
{
    if (!vmdl_vmx_vapic_vid(vmx))
        return -1;
    uint8_t rvi = (uint8_t)gis(vmx), vppr = (uint8_t)rd32(vmx, VAPIC_PPR);
    return (rvi & 0xF0u) > (vppr & 0xF0u) ? rvi : -1;
}

int vmdl_vmx_vapic_deliver(struct vmdl_vmx *vmx)
{
    int vec = vmdl_vmx_vapic_pending(vmx);
    if (vec < 0)
        return -1;
    vec_set(vmx, VAPIC_ISR, (uint8_t)vec, true);
    vec_set(vmx, VAPIC_IRR, (uint8_t)vec, false);
    set_gis(vmx, (uint8_t)vec, vec_highest(vmx, VAPIC_IRR));
    wr32(vmx, VAPIC_PPR, (uint32_t)vec & 0xF0u);
    return vec;
}

bool vmdl_vmx_vapic_tpr_write(struct vmdl_vmx *vmx, uint8_t vtpr)
{
    if (!vmx || !vmdl__vmx_has_current(vmx))
        return false;
    wr32(vmx, VAPIC_TPR, vtpr);
    if (secondary(vmx) & VMDL_PROC2_VID) {
        vmdl_vmx_vapic_update_ppr(vmx);
        return false;
    }
    return (vtpr >> 4) < (vmdl__v12(vmx, V12_TPR_THRESHOLD) & 0xFu);
}

/* EOI virtualization (30.1.4); true: an EOI-induced exit is due. */
static bool virtual_eoi(struct vmdl_vmx *vmx, struct vmdl_vmx_exit_info *exit)
{
    uint8_t vec = (uint8_t)(gis(vmx) >> 8);
    vec_set(vmx, VAPIC_ISR, vec, false);
    set_gis(vmx, vec_highest(vmx, VAPIC_ISR), (uint8_t)gis(vmx));
    vmdl_vmx_vapic_update_ppr(vmx);
    uint64_t bm = vmdl__v12(vmx, (uint16_t)(V12_EOI_EXIT_BITMAP0 + 2 * (vec / 64u)));
    if (!(bm >> (vec % 64u) & 1u))
        return false;
    *exit = (struct vmdl_vmx_exit_info){.reason = VMDL_VMX_EXIT_EOI_INDUCED,
                                        .qualification = vec};
    return true;
}

/* Self-IPI virtualization (30.1.5). */
static void virtual_self_ipi(struct vmdl_vmx *vmx, uint8_t vec)
{
    vec_set(vmx, VAPIC_IRR, vec, true);
    uint8_t rvi = (uint8_t)gis(vmx);
    if (vec > rvi)
        set_gis(vmx, (uint8_t)(gis(vmx) >> 8), vec);
}

static enum vmdl_vapic_outcome vapic_write(struct vmdl_vmx *vmx, uint32_t msr, uint64_t v,
                                           uint32_t proc2, struct vmdl_vmx_exit_info *exit)
{
    bool vid = proc2 & VMDL_PROC2_VID;
    if (msr == MSR_X2APIC_TPR) {
        if (v >> 8)
            return VMDL_VAPIC_FAULT;
        /* The other bytes of the 8 written are zero (the TPR is bits 7:0). */
        wr32(vmx, VAPIC_TPR + 4, 0);
        if (!vmdl_vmx_vapic_tpr_write(vmx, (uint8_t)v))
            return VMDL_VAPIC_DONE;
        *exit = (struct vmdl_vmx_exit_info){.reason = VMDL_VMX_EXIT_TPR_BELOW_THRESHOLD};
        return VMDL_VAPIC_EXIT;
    }
    if (vid && msr == MSR_X2APIC_EOI) {
        if (v)
            return VMDL_VAPIC_FAULT;
        return virtual_eoi(vmx, exit) ? VMDL_VAPIC_EXIT : VMDL_VAPIC_DONE;
    }
    if (vid && msr == MSR_X2APIC_SELF_IPI) {
        if (v >> 8)
            return VMDL_VAPIC_FAULT;
        /* The value is stored at 3F0H (30.5); a vector below 16 is left to
         * L1 through an APIC-write exit (30.4.3.2), as the ICR's is. */
        wr32(vmx, VAPIC_SELF_IPI, (uint32_t)v);
        wr32(vmx, VAPIC_SELF_IPI + 4, 0);
        if (v < 16) {
            *exit = (struct vmdl_vmx_exit_info){.reason = VMDL_VMX_EXIT_APIC_WRITE,
                                                .qualification = VAPIC_SELF_IPI};
            return VMDL_VAPIC_EXIT;
        }
        virtual_self_ipi(vmx, (uint8_t)v);
        return VMDL_VAPIC_DONE;
    }
    return VMDL_VAPIC_NOT_VIRTUALIZED;
}

enum vmdl_vapic_outcome vmdl_vmx_vapic_msr(struct vmdl_vmx *vmx, bool write, uint32_t msr,
                                           uint64_t *value, struct vmdl_vmx_exit_info *exit)
{
    if (!vmx || !value || !exit || !vmdl__vmx_has_current(vmx) ||
        msr < MSR_X2APIC_FIRST || msr > MSR_X2APIC_LAST)
        return VMDL_VAPIC_NOT_VIRTUALIZED;
    uint32_t proc2 = secondary(vmx);
    if (!(proc2 & VMDL_PROC2_X2APIC_MODE))
        return VMDL_VAPIC_NOT_VIRTUALIZED;
    if (write)
        return vapic_write(vmx, msr, *value, proc2, exit);
    if (!(proc2 & VMDL_PROC2_APIC_REG_VIRT) && msr != MSR_X2APIC_TPR)
        return VMDL_VAPIC_NOT_VIRTUALIZED;
    unsigned off = (msr & 0xFFu) << 4;
    *value = rd32(vmx, off) | (uint64_t)rd32(vmx, off + 4) << 32;
    return VMDL_VAPIC_DONE;
}

/* ---------------- the APIC-access page (30.4) ---------------- */

bool vmdl_vmx_apic_access_page(const struct vmdl_vmx *vmx, uint64_t pa)
{
    if (!vmx || !vmdl__vmx_has_current(vmx) || !(secondary(vmx) & VMDL_PROC2_APIC_ACCESS))
        return false;
    return (pa & ~0xFFFull) == (vmdl__v12(vmx, V12_APIC_ACCESS_ADDR) & ~0xFFFull);
}

/* Registers (offsets of their first byte) whose reads APIC-register
 * virtualization serves from the virtual-APIC page (30.4.2). */
static bool reg_virt_readable(unsigned reg)
{
    switch (reg) {
    case 0x20: case 0x30: case 0x80: case 0xB0: case 0xD0: case 0xE0: case 0xF0:
    case 0x280: case 0x300: case 0x310: case 0x380: case 0x3E0:
        return true;
    default:                    /* ISR, TMR, IRR; the six LVT entries */
        return (reg >= 0x100 && reg <= 0x270) || (reg >= 0x320 && reg <= 0x370);
    }
}

/* ... and whose writes it virtualizes (30.4.3.1): not the read-only ones. */
static bool reg_virt_writable(unsigned reg)
{
    if (reg == 0x30 || (reg >= 0x100 && reg <= 0x270))
        return false;
    return reg_virt_readable(reg);
}

static bool access_virtualized(const struct vmdl_vmx *vmx, const struct vmdl_vmx_apic_access *a)
{
    bool read = a->type == VMDL_APIC_ACC_LINEAR_READ;
    bool write = a->type == VMDL_APIC_ACC_LINEAR_WRITE;
    unsigned off = (unsigned)(a->pa & 0xFFF), reg = off & ~0xFu;
    /* Instruction fetches, accesses during event delivery (model choice:
     * their type does not say read or write), guest-physical accesses,
     * more than 32 bits, or beyond the low 4 bytes of a 16-byte register
     * always exit. */
    if (!(read || write) || !a->size ||
        a->size > 4 || (off & 0xF) + a->size > 4 ||
        !(vmdl__v12(vmx, V12_CPU_BASED_VM_EXEC_CONTROL) & VMDL_PROC_TPR_SHADOW))
        return false;
    uint32_t proc2 = secondary(vmx);
    if (proc2 & VMDL_PROC2_APIC_REG_VIRT)
        return write ? reg_virt_writable(reg) : reg_virt_readable(reg);
    if (off == VAPIC_TPR)
        return true;
    /* Without it, virtual-interrupt delivery adds the writes of EOI and
     * ICR low; the read of VTPR is all that is left for reads. */
    return write && (proc2 & VMDL_PROC2_VID) && (off == VAPIC_EOI || off == VAPIC_ICR_LO);
}

bool vmdl_vmx_apic_access_virtualized(const struct vmdl_vmx *vmx,
                                      const struct vmdl_vmx_apic_access *a,
                                      struct vmdl_vmx_exit_info *exit)
{
    if (!vmx || !a || !vmdl_vmx_apic_access_page(vmx, a->pa))
        return false;
    if (access_virtualized(vmx, a))
        return true;
    vmdl_vmx_apic_access_exit(a, exit);
    return false;
}

void vmdl_vmx_apic_access_exit(const struct vmdl_vmx_apic_access *a,
                               struct vmdl_vmx_exit_info *exit)
{
    if (!a || !exit)
        return;
    bool gpa = a->type == VMDL_APIC_ACC_GPA_EVENT || a->type == VMDL_APIC_ACC_GPA_INSN;
    *exit = (struct vmdl_vmx_exit_info){
        .reason = VMDL_VMX_EXIT_APIC_ACCESS,
        .qualification = (gpa ? 0 : (a->pa & 0xFFF)) | ((uint64_t)(a->type & 0xF) << 12),
    };
}

uint32_t vmdl_vmx_apic_access_read(const struct vmdl_vmx *vmx,
                                   const struct vmdl_vmx_apic_access *a)
{
    if (!vmdl_vmx_apic_access_virtualized(vmx, a, NULL))
        return 0;
    uint8_t b[4] = {0};
    (void)vmdl_guest_read(&vmx->mem, page(vmx) + (a->pa & 0xFFF), b, a->size);
    return (uint32_t)get_le(b, 4);
}

/* A fixed, edge-triggered self IPI of vector 16 or more, nothing reserved
 * or pending set: the ICR value self-IPI virtualization takes (30.4.3.2). */
static bool self_ipi_icr(uint32_t icr)
{
    const uint32_t must_be_zero = 0xFFF00000u | 0x30000u | 1u << 15 | 1u << 13 |
                                  1u << 12 | 0x700u;
    return !(icr & must_be_zero) && ((icr >> 18) & 3u) == 1u && (icr & 0xFFu) >= 16;
}

/* APIC-write emulation after a virtualized write at off (30.4.3.2). */
static enum vmdl_vapic_outcome write_emulation(struct vmdl_vmx *vmx, unsigned off,
                                               struct vmdl_vmx_exit_info *exit)
{
    bool vid = secondary(vmx) & VMDL_PROC2_VID;
    switch (off & ~0xFu) {
    case VAPIC_TPR: {
        uint8_t vtpr = (uint8_t)rd32(vmx, VAPIC_TPR);
        wr32(vmx, VAPIC_TPR, vtpr);
        if (!vmdl_vmx_vapic_tpr_write(vmx, vtpr))
            return VMDL_VAPIC_DONE;
        *exit = (struct vmdl_vmx_exit_info){.reason = VMDL_VMX_EXIT_TPR_BELOW_THRESHOLD};
        return VMDL_VAPIC_EXIT;
    }
    case VAPIC_EOI:
        if (vid)
            return virtual_eoi(vmx, exit) ? VMDL_VAPIC_EXIT : VMDL_VAPIC_DONE;
        break;
    case VAPIC_ICR_LO: {
        uint32_t icr = rd32(vmx, VAPIC_ICR_LO);
        if (vid && self_ipi_icr(icr)) {
            virtual_self_ipi(vmx, (uint8_t)icr);
            return VMDL_VAPIC_DONE;
        }
        break;
    }
    case VAPIC_ICR_HI:
        wr32(vmx, VAPIC_ICR_HI, rd32(vmx, VAPIC_ICR_HI) & 0xFF000000u);
        return VMDL_VAPIC_DONE;
    default:
        break;
    }
    *exit = (struct vmdl_vmx_exit_info){.reason = VMDL_VMX_EXIT_APIC_WRITE, .qualification = off};
    return VMDL_VAPIC_EXIT;
}

enum vmdl_vapic_outcome vmdl_vmx_apic_access_write(struct vmdl_vmx *vmx,
                                                   const struct vmdl_vmx_apic_access *a,
                                                   uint32_t value,
                                                   struct vmdl_vmx_exit_info *exit)
{
    if (!exit || !vmdl_vmx_apic_access_virtualized(vmx, a, NULL) ||
        a->type == VMDL_APIC_ACC_LINEAR_READ)
        return VMDL_VAPIC_NOT_VIRTUALIZED;
    unsigned off = (unsigned)(a->pa & 0xFFF);
    uint8_t b[4];
    put_le(b, value, 4);
    (void)vmdl_guest_write(&vmx->mem, page(vmx) + off, b, a->size);
    return write_emulation(vmx, off, exit);
}

/* ---------------- posted-interrupt processing (30.6) ---------------- */

/* "process posted interrupts" in force: the pin control with
 * virtual-interrupt delivery (which VM entry requires with it) on a
 * profile that has both (else vmcs12 holds no RVI to update). */
static bool posted_on(const struct vmdl_vmx *vmx)
{
    return vmdl_vmx_vapic_vid(vmx) &&
           (vmdl__v12(vmx, V12_PIN_BASED_VM_EXEC_CONTROL) & VMDL_PIN_POSTED_INTR) &&
           vmdl_vmx_model_field_supported(vmx->model, V12_GUEST_INTR_STATUS) &&
           vmdl_vmx_model_field_supported(vmx->model, V12_POSTED_INTR_DESC_ADDR);
}

bool vmdl_vmx_vapic_notification(const struct vmdl_vmx *vmx, unsigned vector)
{
    return posted_on(vmx) && vector == (vmdl__v12(vmx, V12_POSTED_INTR_NV) & 0xFFu);
}

int vmdl_vmx_vapic_posted(struct vmdl_vmx *vmx)
{
    if (!posted_on(vmx))
        return -1;
    uint64_t desc = vmdl__v12(vmx, V12_POSTED_INTR_DESC_ADDR);
    uint8_t d[33];
    if (vmdl_guest_read(&vmx->mem, desc, d, sizeof(d)) || !(d[32] & 1u))
        return 0;                   /* KVM: nothing to do without ON */
    d[32] &= (uint8_t)~1u;          /* ON cleared first */
    uint8_t zero[32] = {0};
    if (vmdl_guest_write(&vmx->mem, desc + 32, &d[32], 1) ||
        vmdl_guest_write(&vmx->mem, desc, zero, sizeof(zero)))
        return 0;
    int highest = 0;
    for (unsigned w = 0; w < 8; w++) {
        uint32_t pir = (uint32_t)get_le(d + 4 * w, 4);
        if (!pir)
            continue;
        wr32(vmx, VAPIC_IRR + 0x10u * w, rd32(vmx, VAPIC_IRR + 0x10u * w) | pir);
        for (int b = 31; b >= 0; b--)
            if (pir >> b & 1u) {
                highest = (int)(32 * w) + b;
                break;
            }
    }
    if (highest > (int)(uint8_t)gis(vmx))
        set_gis(vmx, (uint8_t)(gis(vmx) >> 8), (uint8_t)highest);
    return highest;
}
