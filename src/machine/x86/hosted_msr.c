/* SPDX-License-Identifier: MIT */
/*
 * RDMSR/WRMSR exits of the hosted x86 vCPU: the models' MSRs first, then the
 * architectural MSRs QEMU keeps (behind KVM's #GP checks) and those kept
 * here (TSC, TSC_ADJUST, MISC_ENABLE, DEBUGCTL, machine-check banks).
 */
#include <string.h>

#include "hosted.h"

/* ---- MSRs ------------------------------------------------------------- */

struct arch_msr {
    uint32_t index;
    uint8_t check;    /* CANON: canonical address; PAT: memory types; EFER */
};

enum { CHK_NONE, CHK_CANON, CHK_PAT, CHK_EFER, CHK_RO };

/* Architectural MSRs QEMU keeps and implements; KVM's #GP checks in front. */
static const struct arch_msr arch_msrs[] = {
    { 0x174, CHK_NONE },        /* SYSENTER_CS */
    { 0x175, CHK_CANON },       /* SYSENTER_ESP */
    { 0x176, CHK_CANON },       /* SYSENTER_EIP */
    { 0x277, CHK_PAT },         /* PAT */
    { 0xC0000080, CHK_EFER },
    { 0xC0000081, CHK_NONE },   /* STAR */
    { 0xC0000082, CHK_CANON },  /* LSTAR */
    { 0xC0000083, CHK_CANON },  /* CSTAR */
    { 0xC0000084, CHK_NONE },   /* SFMASK */
    { 0xC0000100, CHK_CANON },  /* FS_BASE */
    { 0xC0000101, CHK_CANON },  /* GS_BASE */
    { 0xC0000102, CHK_CANON },  /* KERNEL_GS_BASE */
    { 0xC0000103, CHK_NONE },   /* TSC_AUX (bits 63:32 checked below) */
};

static const struct arch_msr *find_arch(uint32_t idx)
{
    for (unsigned i = 0; i < sizeof(arch_msrs) / sizeof(arch_msrs[0]); i++)
        if (arch_msrs[i].index == idx)
            return &arch_msrs[i];
    return NULL;
}

static bool pat_ok(uint64_t val)
{
    for (unsigned i = 0; i < 8; i++) {
        unsigned t = (val >> (8 * i)) & 0xFF;
        if (t == 2 || t == 3 || t > 7)
            return false;
    }
    return true;
}

static vmdl_fault arch_wrmsr(struct vmdl_vcpu *v, const struct arch_msr *m,
                             uint64_t val)
{
    uint64_t cur = vmdl__x86h_rdmsr(v, m->index);
    switch (m->check) {
    case CHK_CANON:
        if (!vmdl_is_canonical(val, vmdl__x86_max_vaddr_bits(v->vm)))
            return VMDL_FAULT_GP;
        break;
    case CHK_PAT:
        if (!pat_ok(val))
            return VMDL_FAULT_GP;
        break;
    case CHK_EFER: {
        /* SCE, LME, NXE writable; LMA read-only; LME fixed while paging. */
        uint64_t ok = (1ull << 0) | (1ull << 8) | (1ull << 10) | (1ull << 11);
        if (val & ~ok)
            return VMDL_FAULT_GP;
        if (((val ^ cur) & (1ull << 8)) && (rd(v, UC_X86_REG_CR0) >> 31))
            return VMDL_FAULT_GP;
        val = (val & ~(1ull << 10)) | (cur & (1ull << 10));
        break;
    }
    default:
        break;
    }
    if (m->index == 0xC0000103 && (val >> 32))
        return VMDL_FAULT_GP;
    vmdl__x86h_wrmsr(v, m->index, val);
    if (m->check == CHK_EFER && X86(v)->h_walk) {
        /* NXE changes what the C walk allowed (LMA cannot change here) */
        X86(v)->h_walk_paging.efer = vmdl__x86h_rdmsr(v, MSR_EFER);
        uc_ctl_flush_tlb(v->uc);
    }
    return VMDL_FAULT_NONE;
}

/* MCG_CAP: the bank count and MCG_CTL_P (QEMU's default MCE capability). */
#define MCG_CAP_VALUE (X86H_MCE_BANKS | (1ull << 8))

void vmdl__x86h_mce_reset(struct x86h_mce *m)
{
    memset(m, 0, sizeof(*m));
    m->mcg_ctl = ~0ull;
    for (unsigned i = 0; i < X86H_MCE_BANKS; i++)
        m->bank[i][0] = ~0ull;
}

/* KVM's set_msr_mce/get_msr_mce rules for a guest access; UNCLAIMED when
 * idx is not a machine-check MSR. */
static vmdl_fault mce_msr(struct vmdl_vcpu *v, bool write, uint32_t idx,
                          uint64_t *val)
{
    struct x86h_mce *m = &X86(v)->mce;
    switch (idx) {
    case 0x179:                                          /* MCG_CAP */
        if (write)
            return VMDL_FAULT_GP;
        *val = MCG_CAP_VALUE;
        return VMDL_FAULT_NONE;
    case 0x17A:                                          /* MCG_STATUS */
        if (write)
            m->mcg_status = *val;
        else
            *val = m->mcg_status;
        return VMDL_FAULT_NONE;
    case 0x17B:                                          /* MCG_CTL */
        if (write && *val && *val != ~0ull)
            return VMDL_FAULT_GP;
        if (write)
            m->mcg_ctl = *val;
        else
            *val = m->mcg_ctl;
        return VMDL_FAULT_NONE;
    default:
        break;
    }
    if (idx < 0x400 || idx >= 0x400 + 4 * 32)
        return VMDL_FAULT_UNCLAIMED;
    unsigned bank = (idx - 0x400) / 4, reg = (idx - 0x400) % 4;
    if (bank >= X86H_MCE_BANKS)
        return VMDL_FAULT_GP;                 /* a bank this CPU lacks */
    if (!write) {
        *val = m->bank[bank][reg];
        return VMDL_FAULT_NONE;
    }
    if (reg == 0 && *val && *val != ~0ull)
        return VMDL_FAULT_GP;                 /* CTL: all or nothing */
    if (reg == 1 && *val)
        return VMDL_FAULT_GP;                 /* STATUS: only cleared */
    m->bank[bank][reg] = *val;
    return VMDL_FAULT_NONE;
}

/*
 * IA32_PKRS (0x6E1): exists only with CPUID.7.0:ECX.PKS, bits 63:32
 * reserved (KVM's PKS series: vmx_get_msr/vmx_set_msr, kvm_pkrs_valid).
 * Like WRPKRU, a write takes effect without a TLB flush by the guest, so
 * the pages the C walk installed with the old rights go (hosted_walk.c).
 */
static vmdl_fault pkrs_msr(struct vmdl_vcpu *v, bool write, uint64_t *val)
{
    if (!vmdl__x86_cpuid_has(v->vm, 7, 2, 31))
        return VMDL_FAULT_GP;
    if (!write) {
        *val = X86(v)->pkrs;
        return VMDL_FAULT_NONE;
    }
    if (*val >> 32)
        return VMDL_FAULT_GP;
    X86(v)->pkrs = (uint32_t)*val;
    if (X86(v)->h_walk)
        uc_ctl_flush_tlb(v->uc);
    return VMDL_FAULT_NONE;
}

static vmdl_fault do_msr(struct vmdl_vcpu *v, bool write, uint32_t idx, uint64_t *val)
{
    struct msr_range *r = vmdl__find_msr(v->vm, idx);
    vmdl_fault f = VMDL_FAULT_UNCLAIMED;
    if (r)
        f = write ? r->ops->write(r->opaque, v, idx, *val)
                  : r->ops->read(r->opaque, v, idx, val);
    if (f != VMDL_FAULT_UNCLAIMED)
        return f;
    if (idx == 0x10) {                                 /* IA32_TSC */
        if (write) {
            /* SDM 17.17.3: a TSC write moves IA32_TSC_ADJUST by as much */
            X86(v)->tsc_adjust += *val - vmdl__x86_guest_tsc(v);
            X86(v)->tsc_offset = *val - vmdl__vtime(v);
        } else {
            *val = vmdl__x86_guest_tsc(v);
        }
        return VMDL_FAULT_NONE;
    }
    if ((f = mce_msr(v, write, idx, val)) != VMDL_FAULT_UNCLAIMED)
        return f;
    if (idx == 0x1A0) {                                /* IA32_MISC_ENABLE */
        /* KVM keeps the PMU-owned bits (7 perfmon, 11 BTS and 12 PEBS
         * unavailable) whatever the guest writes. */
        if (write)
            X86(v)->misc_enable = (*val & ~MISC_ENABLE_RO) |
                                  (X86(v)->misc_enable & MISC_ENABLE_RO);
        else
            *val = X86(v)->misc_enable;
        return VMDL_FAULT_NONE;
    }
    if (idx == 0x1D9) {                                /* IA32_DEBUGCTL */
        if (write)
            return vmdl__x86_debugctl_write(v, *val);
        *val = X86(v)->debugctl;
        return VMDL_FAULT_NONE;
    }
    if (idx == 0x6E1)                                  /* IA32_PKRS */
        return pkrs_msr(v, write, val);
    if (idx == 0x3B) {                                 /* IA32_TSC_ADJUST */
        if (write) {
            X86(v)->tsc_offset += *val - X86(v)->tsc_adjust;
            X86(v)->tsc_adjust = *val;
        } else {
            *val = X86(v)->tsc_adjust;
        }
        return VMDL_FAULT_NONE;
    }
    const struct arch_msr *m = find_arch(idx);
    if (!m)
        return VMDL_FAULT_GP;
    if (write)
        return arch_wrmsr(v, m, *val);
    *val = vmdl__x86h_rdmsr(v, idx);
    return VMDL_FAULT_NONE;
}

vmdl_fault vmdl__x86h_msr(struct vmdl_vcpu *v, bool write, uint32_t idx, uint64_t *val)
{
    return do_msr(v, write, idx, val);
}

/* Decode and perform the RDMSR/WRMSR at RIP; on success it retired. */
vmdl_fault vmdl__x86h_msr_do(struct vmdl_vcpu *v)
{
    uint8_t op[3], rex;
    int pfx = vmdl__x86h_opcode_at(v, op, &rex);
    if (pfx < 0 || op[0] != 0x0F || (op[1] != 0x30 && op[1] != 0x32))
        return VMDL_FAULT_UD;
    bool write = op[1] == 0x30;
    uint32_t idx = (uint32_t)rd(v, UC_X86_REG_RCX);
    uint64_t val = (rd(v, UC_X86_REG_RDX) << 32) | (uint32_t)rd(v, UC_X86_REG_RAX);
    vmdl_fault f = do_msr(v, write, idx, &val);
    if (v->vm->trace) {
        char out[64];
        snprintf(out, sizeof(out), "msr 0x%x%s", idx, f ? ": #GP" : "");
        vmdl__trace_exit(v, write ? "wrmsr" : "rdmsr", rd(v, UC_X86_REG_RIP), out);
    }
    if (f)
        return f;
    if (!write) {
        wr(v, UC_X86_REG_RAX, (uint32_t)val);
        wr(v, UC_X86_REG_RDX, val >> 32);
    }
    vmdl__x86h_retire(v, 2 + (unsigned)pfx);
    return VMDL_FAULT_NONE;
}

int vmdl__x86h_msr_exit(struct vmdl_vcpu *v, bool *triple)
{
    vmdl_fault f = vmdl__x86h_msr_do(v);
    return f ? vmdl__x86h_fault(v, f, triple) : VMDL_OK;
}

/*
 * RDPMC (intercepted): #GP(0) outside CPL 0 in protected mode while
 * CR4.PCE is clear (SDM vol. 2, RDPMC; kvm_pmu_rdpmc), else the counter
 * ECX selects, from the PMU model.  QEMU 5.0 checks PCE the other way
 * round before the intercept (#GP with PCE set at CPL > 0): that case
 * never reaches here and stays QEMU's.
 */
int vmdl__x86h_rdpmc_exit(struct vmdl_vcpu *v, bool *triple)
{
    uint64_t cr0 = rd(v, UC_X86_REG_CR0), val;
    uc_context_save(v->uc, X86(v)->ctx);
    struct seg ss;
    seg_from_ctx(v, (const char *)X86(v)->ctx, R_SS, &ss);
    unsigned cpl = vmdl__x86h_cpl(&ss, cr0, rd(v, UC_X86_REG_RFLAGS));
    vmdl_fault f = VMDL_FAULT_NONE;
    if (cpl && !(rd(v, UC_X86_REG_CR4) & (1ull << 8)))
        f = VMDL_FAULT_GP;
    else
        f = vmdl__x86_rdpmc_read(v, (uint32_t)rd(v, UC_X86_REG_RCX), &val);
    if (v->vm->trace) {
        char out[48];
        snprintf(out, sizeof(out), "counter %u%s", (unsigned)rd(v, UC_X86_REG_RCX),
                 f ? ": #GP" : "");
        vmdl__trace_exit(v, "rdpmc", rd(v, UC_X86_REG_RIP), out);
    }
    if (f)
        return vmdl__x86h_fault(v, f, triple);
    wr(v, UC_X86_REG_RAX, (uint32_t)val);
    wr(v, UC_X86_REG_RDX, val >> 32);
    vmdl__x86h_retire(v, 2);
    return VMDL_OK;
}
