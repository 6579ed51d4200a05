/* SPDX-License-Identifier: MIT */
/*
 * The x86 CPUID table of a VM (models publish their leaves in it) and the
 * CPUID hook that answers the guest from it.
 */
#include <stdlib.h>
#include <string.h>

#include "x86.h"
#include "virtmodel/error.h"

/* CPUID.1:EDX.APIC follows IA32_APIC_BASE.EN of this vCPU (KVM's
 * kvm_update_cpuid_runtime), when a model owns that MSR. */
static void apic_bit(struct vmdl_vcpu *v, struct vmdl_cpuid_entry *e)
{
    struct msr_range *r = vmdl__find_msr(v->vm, 0x1B);
    uint64_t base = 0;
    if (!r || r->ops->read(r->opaque, v, 0x1B, &base) != VMDL_FAULT_NONE)
        return;
    if (base & (1u << 11))
        e->edx |= 1u << 9;
    else
        e->edx &= ~(1u << 9);
}

static bool leaf_has_subleaves(uint32_t leaf)
{
    return leaf == 4 || leaf == 7 || leaf == 0xB || leaf == 0xD ||
           leaf == 0xF || leaf == 0x10 || leaf == 0x12 || leaf == 0x14 ||
           leaf == 0x17 || leaf == 0x18 || leaf == 0x1F || leaf == 0x21 ||
           leaf == 0x8000001D || leaf == 0x80000020 || leaf == 0x80000026;
}

int vmdl__x86_cpuid_cb(uc_engine *uc, void *user)
{
    (void)uc;
    struct vmdl_vcpu *v = user;
    /* A nested guest's CPUID: let QEMU's SVM intercept stop on it. */
    if (X86(v)->cpuid_events)
        return 0;
    /* After a port exit in the same block (io.c, "tail mode"): this CPUID
     * does not retire now (the registers are put back at the IN/OUT), so
     * the models are not asked; it runs again once the exit is completed. */
    if (vmdl__x86_in_tail(v))
        return 1;
    vmdl__x86_exit_cost(v, VMDL_XK_CPUID);
    vmdl__x86_cpuid_answer(v);
    return 1; /* skip Unicorn's own CPUID */
}

/*
 * The table's entry for leaf/subleaf (zeros when absent: out-of-range
 * leaves return the highest basic leaf's data on Intel; zeros are what KVM
 * returns for absent leaves it knows).  A guest asks the same leaf over and
 * over (a CPUID loop, a hypervisor's feature probe), so the last one is
 * kept per vCPU until the table changes.
 */
static const struct vmdl_cpuid_entry *table_entry(struct vmdl_vcpu *v, uint32_t leaf)
{
    struct x86_vcpu *x = X86(v);
    struct vmdl_vm *vm = v->vm;
    if (x->cpuid_last.valid && x->cpuid_last.gen == vm->cpuid_gen &&
        x->cpuid_last.leaf == leaf) {
        /* ECX only selects within the leaves that have subleaves: not read
         * otherwise (each register access is an engine call). */
        if (!x->cpuid_last.has_sub ||
            x->cpuid_last.sub == (uint32_t)rd(v, UC_X86_REG_RCX))
            return &x->cpuid_last.e;
    }
    bool has_sub = leaf_has_subleaves(leaf);
    uint32_t sub = has_sub ? (uint32_t)rd(v, UC_X86_REG_RCX) : 0;
    struct vmdl_cpuid_entry e = {0};
    if (vmdl_vm_get_cpuid(vm, leaf, sub, &e))
        memset(&e, 0, sizeof(e));
    x->cpuid_last.valid = true;
    x->cpuid_last.gen = vm->cpuid_gen;
    x->cpuid_last.leaf = leaf;
    x->cpuid_last.sub = sub;
    x->cpuid_last.has_sub = has_sub;
    x->cpuid_last.e = e;
    return &x->cpuid_last.e;
}

void vmdl__x86_cpuid_answer(struct vmdl_vcpu *v)
{
    static int regs[4] = {UC_X86_REG_RAX, UC_X86_REG_RBX, UC_X86_REG_RCX, UC_X86_REG_RDX};
    uint32_t leaf = (uint32_t)rd(v, UC_X86_REG_RAX);
    const struct vmdl_cpuid_entry *t = table_entry(v, leaf);
    /* CPUID zero-extends its 32-bit results into RAX, RBX, RCX, RDX. */
    uint64_t r[4] = {t->eax, t->ebx, t->ecx, t->edx};
    if (leaf == 1) {
        /* Initial APIC ID in EBX[31:24]. */
        struct vmdl_cpuid_entry e = *t;
        e.ebx = (e.ebx & 0x00FFFFFFu) | (v->index << 24);
        apic_bit(v, &e);
        r[1] = e.ebx;
        r[3] = e.edx;
    } else if (leaf == 7 && t->subleaf == 0) {
        /* OSPKE mirrors CR4.PKE when PKU is reported (KVM's
         * kvm_update_cpuid_runtime). */
        r[2] &= ~(1u << 4);
        if ((t->ecx & (1u << 3)) && (rd(v, UC_X86_REG_CR4) & (1ull << 22)))
            r[2] |= 1u << 4;
    } else if (leaf == 0xB || leaf == 0x1F) {
        /* x2APIC ID of this vCPU in EDX (topology leaves). */
        r[3] = v->index;
    }
    /* One engine call for the four: 540 host instructions per CPUID
     * against 564 with four uc_reg_write calls, and less CPU time in
     * interleaved runs (docs/performance.md, fifth round). */
    void *p[4] = {&r[0], &r[1], &r[2], &r[3]};
    uc_reg_write_batch(v->uc, regs, p, 4);
}

bool vmdl__x86_cpuid_has(struct vmdl_vm *vm, uint32_t leaf, int reg, unsigned bit)
{
    struct vmdl_cpuid_entry e = {0};
    if (vmdl_vm_get_cpuid(vm, leaf, 0, &e))
        return false;
    uint32_t r = reg == 0 ? e.eax : reg == 1 ? e.ebx : reg == 2 ? e.ecx : e.edx;
    return (r >> bit) & 1;
}

/*
 * The widest linear address the vCPU implements: 57 bits when CPUID reports
 * LA57 (7.0:ECX[16]), else 48.  Hardware checks MSR values (FS/GS base,
 * LSTAR, ...) and descriptor-table bases (LGDT, LIDT, LLDT, LTR) against it
 * whatever CR4.LA57 is, and so does KVM since "model canonical checks more
 * precisely" (is_noncanonical_address with X86EMUL_F_MSR / _DT_LOAD);
 * memory accesses follow CR4.LA57.
 */
unsigned vmdl__x86_max_vaddr_bits(struct vmdl_vm *vm)
{
    return vmdl__x86_cpuid_has(vm, 7, 2, 16) ? 57 : 48;
}

/* Leaves whose output depends on ECX (subleaf). */
int vmdl_vm_set_cpuid(struct vmdl_vm *vm, const struct vmdl_cpuid_entry *e)
{
    if (!vm || !e)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vm_set_cpuid: NULL argument");
    uint32_t sub = leaf_has_subleaves(e->leaf) ? e->subleaf : 0;
    for (unsigned i = 0; i < vm->nr_cpuid; i++)
        if (vm->cpuid[i].leaf == e->leaf && vm->cpuid[i].subleaf == sub) {
            vm->cpuid[i] = *e;
            vm->cpuid[i].subleaf = sub;
            vm->cpuid_gen++;
            return VMDL_OK;
        }
    if (vm->nr_cpuid == vm->cap_cpuid) {
        unsigned cap = vm->cap_cpuid ? vm->cap_cpuid * 2 : 16;
        void *p = realloc(vm->cpuid, cap * sizeof(*vm->cpuid));
        if (!p)
            return vmdl_fail(VMDL_ENOMEM, "vmdl_vm_set_cpuid: out of memory");
        vm->cpuid = p;
        vm->cap_cpuid = cap;
    }
    vm->cpuid[vm->nr_cpuid] = *e;
    vm->cpuid[vm->nr_cpuid].subleaf = sub;
    vm->nr_cpuid++;
    vm->cpuid_gen++;
    return VMDL_OK;
}

int vmdl_vm_get_cpuid(struct vmdl_vm *vm, uint32_t leaf, uint32_t subleaf,
                      struct vmdl_cpuid_entry *e)
{
    if (!vm || !e)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vm_get_cpuid: NULL argument");
    uint32_t sub = leaf_has_subleaves(leaf) ? subleaf : 0;
    for (unsigned i = 0; i < vm->nr_cpuid; i++)
        if (vm->cpuid[i].leaf == leaf && vm->cpuid[i].subleaf == sub) {
            *e = vm->cpuid[i];
            return VMDL_OK;
        }
    return VMDL_ENOENT;
}

/* The table every x86 VM starts with; models add their leaves. */
void vmdl__x86_vm_init(struct vmdl_vm *vm)
{
    static const char intel[12] = "GenuineIntel", amd[12] = "AuthenticAMD";
    const char *v = vm->cfg.vendor == VMDL_VENDOR_AMD ? amd : intel;
    struct vmdl_cpuid_entry e = {0};
    uint32_t w[3];
    memcpy(w, v, 12);
    e.leaf = 0;
    e.eax = 0xD;
    e.ebx = w[0];
    e.edx = w[1];
    e.ecx = w[2];
    vmdl_vm_set_cpuid(vm, &e);
    /* Leaf 1: family 6 (Intel) / 0x19 (AMD); FPU TSC MSR PAE CX8 CMOV PAT
     * FXSR SSE SSE2 in EDX; SSE3 SSSE3 CX16 SSE4.1/4.2 POPCNT and the
     * hypervisor bit in ECX.  APIC and x2APIC bits are the APIC model's. */
    memset(&e, 0, sizeof(e));
    e.leaf = 1;
    e.eax = vm->cfg.vendor == VMDL_VENDOR_AMD ? 0x00A00F11 : 0x000806F8;
    e.edx = (1u << 0) | (1u << 4) | (1u << 5) | (1u << 6) | (1u << 8) |
            (1u << 15) | (1u << 16) | (1u << 24) | (1u << 25) | (1u << 26);
    e.ecx = (1u << 0) | (1u << 9) | (1u << 13) | (1u << 19) | (1u << 20) |
            (1u << 23) | (1u << 31);
    vmdl_vm_set_cpuid(vm, &e);
    memset(&e, 0, sizeof(e));
    e.leaf = 0x80000000;
    e.eax = 0x80000022;
    e.ebx = w[0];
    e.edx = w[1];
    e.ecx = w[2];
    vmdl_vm_set_cpuid(vm, &e);
    memset(&e, 0, sizeof(e));
    e.leaf = 0x80000001;
    e.edx = (1u << 11) | (1u << 20) | (1u << 29); /* SYSCALL NX LM */
    e.ecx = 1u << 0;                               /* LAHF/SAHF */
    vmdl_vm_set_cpuid(vm, &e);
    memset(&e, 0, sizeof(e));
    e.leaf = 0x80000008;
    e.eax = 0x3028; /* 40-bit physical, 48-bit virtual addresses */
    vmdl_vm_set_cpuid(vm, &e);
}

