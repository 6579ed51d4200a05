/* SPDX-License-Identifier: MIT */
/*
 * vmx_fields: an L1-hypervisor-like walk over every vmcs12 field.
 *
 * Reads the VMX capability MSRs, enables VMX (IA32_FEATURE_CONTROL, CR0/CR4
 * fixed bits, CR4.VMXE), VMXON, VMCLEAR + VMPTRLD of a VMCS, then for every
 * encoding of the model's field table (the same vmcs12_fields.def the
 * library is built from) checks:
 *   - unsupported fields fail VMREAD and VMWRITE with VMfailValid(12), like
 *     unknown encodings;
 *   - supported fields round-trip a pattern truncated to their width;
 *     _HIGH halves alias bits 63:32; read-only fields refuse VMWRITE with
 *     error 13 unless IA32_VMX_MISC bit 29 allows it;
 *   - the highest index among supported fields equals VMCS_ENUM bits 9:1;
 * then memory operands, VMPTRST, VMLAUNCH/VMRESUME launch-state errors,
 * VMCLEAR and VMXOFF, and prints a summary.  Exit 0 when every check held.
 */
#include "guest.h"

#define CF (1ull << 0)
#define ZF (1ull << 6)
#define ARITH 0x8d5ull

#define MSR_FEATURE_CONTROL 0x3a
#define MSR_VMX_BASIC 0x480
#define MSR_VMX_MISC 0x485
#define MSR_VMX_CR0_FIXED0 0x486
#define MSR_VMX_CR0_FIXED1 0x487
#define MSR_VMX_CR4_FIXED0 0x488
#define MSR_VMX_CR4_FIXED1 0x489
#define MSR_VMX_VMCS_ENUM 0x48a

#define VM_INSTRUCTION_ERROR 0x4400
#define GUEST_RIP 0x681e

struct field {
    uint16_t enc;
    const char *name;
};

/* The library's one field table, expanded here into encodings and names. */
static const struct field fields[] = {
#define F(name, enc, off, feat, kvm) {(enc), #name},
#define F64(name, enc, off, feat, kvm) {(enc), #name}, {(enc) | 1, #name "_HIGH"},
#include "virtmodel/vmcs12_fields.def"
#undef F
#undef F64
};
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

static uint8_t vmxon_region[4096] __attribute__((aligned(4096)));
static uint8_t vmcs_a[4096] __attribute__((aligned(4096)));
static uint8_t vmcs_b[4096] __attribute__((aligned(4096)));

/* Each helper returns RFLAGS right after the instruction. */
static uint64_t vmx_m64(int op, uint64_t *ptr)
{
    uint64_t fl;
    switch (op) {
    case 0: __asm__ volatile("vmxon %1\n\tpushfq\n\tpopq %0" : "=r"(fl) : "m"(*ptr) : "cc", "memory"); break;
    case 1: __asm__ volatile("vmclear %1\n\tpushfq\n\tpopq %0" : "=r"(fl) : "m"(*ptr) : "cc", "memory"); break;
    case 2: __asm__ volatile("vmptrld %1\n\tpushfq\n\tpopq %0" : "=r"(fl) : "m"(*ptr) : "cc", "memory"); break;
    default: __asm__ volatile("vmptrst %1\n\tpushfq\n\tpopq %0" : "=r"(fl), "=m"(*ptr) : : "cc", "memory"); break;
    }
    return fl;
}
#define vmxon(p) vmx_m64(0, p)
#define vmclear(p) vmx_m64(1, p)
#define vmptrld(p) vmx_m64(2, p)
#define vmptrst(p) vmx_m64(3, p)

static uint64_t vmread(uint64_t enc, uint64_t *val)
{
    uint64_t fl, v = 0xdeadbeefdeadbeefull;
    __asm__ volatile("vmread %2, %1\n\tpushfq\n\tpopq %0"
                     : "=&r"(fl), "+r"(v) : "r"(enc) : "cc");
    *val = v;
    return fl;
}

static uint64_t vmwrite(uint64_t enc, uint64_t val)
{
    uint64_t fl;
    __asm__ volatile("vmwrite %2, %1\n\tpushfq\n\tpopq %0"
                     : "=&r"(fl) : "r"(enc), "r"(val) : "cc");
    return fl;
}

static uint64_t vmread_mem(uint64_t enc, uint64_t *dst)
{
    uint64_t fl;
    __asm__ volatile("vmread %2, %1\n\tpushfq\n\tpopq %0"
                     : "=&r"(fl), "=m"(*dst) : "r"(enc) : "cc", "memory");
    return fl;
}

static uint64_t vmwrite_mem(uint64_t enc, const uint64_t *src)
{
    uint64_t fl;
    __asm__ volatile("vmwrite %2, %1\n\tpushfq\n\tpopq %0"
                     : "=&r"(fl) : "r"(enc), "m"(*src) : "cc", "memory");
    return fl;
}

static uint64_t vmlaunch(int resume)
{
    uint64_t fl;
    if (resume)
        __asm__ volatile("vmresume\n\tpushfq\n\tpopq %0" : "=r"(fl) : : "cc", "memory");
    else
        __asm__ volatile("vmlaunch\n\tpushfq\n\tpopq %0" : "=r"(fl) : : "cc", "memory");
    return fl;
}

static uint64_t vmxoff(void)
{
    uint64_t fl;
    __asm__ volatile("vmxoff\n\tpushfq\n\tpopq %0" : "=r"(fl) : : "cc", "memory");
    return fl;
}

static bool ok(uint64_t fl) { return !(fl & ARITH); }
static bool fail_invalid(uint64_t fl) { return (fl & ARITH) == CF; }

/* VMfailValid with this error number? */
static bool fail_valid(uint64_t fl, uint64_t err)
{
    uint64_t e = 0;
    if ((fl & ARITH) != ZF)
        return false;
    if (!ok(vmread(VM_INSTRUCTION_ERROR, &e)))
        return false;
    return e == err;
}

static unsigned width(uint16_t enc) { return (enc >> 13) & 3; }
static unsigned type(uint16_t enc) { return (enc >> 10) & 3; }

static uint64_t width_mask(uint16_t enc)
{
    if (enc & 1)
        return 0xffffffffull;
    switch (width(enc)) {
    case 0: return 0xffffull;
    case 2: return 0xffffffffull;
    default: return ~0ull;
    }
}

static uint64_t pattern(uint16_t enc)
{
    return 0xA5C3F00F12345678ull ^ ((uint64_t)enc << 20) ^ enc;
}

int main(void)
{
    uint32_t a, b, c, d;
    cpuid_count(1, 0, &a, &b, &c, &d);
    if (!(c & (1u << 5))) {
        rt_puts("vmx_fields: CPUID.1:ECX.VMX is clear (attach the vmx model)\n");
        return 1;
    }
    uint64_t basic = rdmsr(MSR_VMX_BASIC), misc = rdmsr(MSR_VMX_MISC);
    uint64_t vmcs_enum = rdmsr(MSR_VMX_VMCS_ENUM);
    uint32_t rev = (uint32_t)basic & 0x7fffffffu;
    bool vmwrite_any = misc & (1ull << 29);
    rt_printf("vmx_fields: VMX_BASIC 0x%lx revision 0x%x, MISC 0x%lx, VMCS_ENUM 0x%lx\n",
              (unsigned long)basic, rev, (unsigned long)misc, (unsigned long)vmcs_enum);
    uint64_t v;
    CHECK(wrmsr_safe(MSR_VMX_BASIC, basic) == 13, "VMX_BASIC is writable");

    /* Enable VMX as a hypervisor does. */
    uint64_t fc = rdmsr(MSR_FEATURE_CONTROL);
    if (!(fc & 1))
        wrmsr(MSR_FEATURE_CONTROL, 5);
    fc = rdmsr(MSR_FEATURE_CONTROL);
    CHECK((fc & 5) == 5, "IA32_FEATURE_CONTROL 0x%lx lacks lock/VMX", (unsigned long)fc);
    CHECK(wrmsr_safe(MSR_FEATURE_CONTROL, 5) == 13, "locked FEATURE_CONTROL writable");
    uint64_t cr0 = (read_cr0() | rdmsr(MSR_VMX_CR0_FIXED0)) & rdmsr(MSR_VMX_CR0_FIXED1);
    write_cr0(cr0);
    uint64_t cr4 = (read_cr4() | rdmsr(MSR_VMX_CR4_FIXED0)) & rdmsr(MSR_VMX_CR4_FIXED1);
    write_cr4(cr4);

    /* VMREAD before VMXON is #UD: not tried (it would end the run). */
    uint64_t p = (uint64_t)(uintptr_t)vmxon_region;
    *(uint32_t *)vmxon_region = rev + 1;
    CHECK(fail_invalid(vmxon(&p)), "VMXON with a wrong revision did not VMfailInvalid");
    *(uint32_t *)vmxon_region = rev;
    uint64_t fl = vmxon(&p);
    if (!ok(fl)) {
        rt_printf("vmx_fields: VMXON failed, RFLAGS 0x%lx\n", (unsigned long)fl);
        return 1;
    }
    CHECK(fail_invalid(vmxon(&p)), "VMXON in VMX root without a VMCS: not VMfailInvalid");
    CHECK(fail_invalid(vmread(GUEST_RIP, &v)), "VMREAD without a VMCS: not VMfailInvalid");

    *(uint32_t *)vmcs_a = rev;
    *(uint32_t *)vmcs_b = rev;
    uint64_t pa = (uint64_t)(uintptr_t)vmcs_a, pb = (uint64_t)(uintptr_t)vmcs_b;
    CHECK(ok(vmclear(&pa)), "VMCLEAR A");
    CHECK(ok(vmptrld(&pa)), "VMPTRLD A");
    uint64_t cur = 0;
    CHECK(ok(vmptrst(&cur)) && cur == pa, "VMPTRST 0x%lx", (unsigned long)cur);
    CHECK(fail_valid(vmxon(&p), 15), "VMXON in VMX root: not VMfailValid(15)");
    CHECK(fail_valid(vmclear(&p), 3), "VMCLEAR of the VMXON pointer: not error 3");
    CHECK(fail_valid(vmptrld(&p), 10), "VMPTRLD of the VMXON pointer: not error 10");
    uint64_t odd = pb + 8;
    CHECK(fail_valid(vmclear(&odd), 2), "VMCLEAR misaligned: not error 2");
    CHECK(fail_valid(vmptrld(&odd), 9), "VMPTRLD misaligned: not error 9");
    *(uint32_t *)vmcs_b = rev ^ 1;
    CHECK(fail_valid(vmptrld(&pb), 11), "VMPTRLD bad revision: not error 11");
    *(uint32_t *)vmcs_b = rev;

    /* The field walk. */
    unsigned supported = 0, unsupported = 0, ro_refused = 0, ro_written = 0;
    unsigned truncated = 0, highs = 0, ar_masked = 0, max_index = 0;
    for (unsigned i = 0; i < NFIELDS; i++) {
        uint16_t e = fields[i].enc;
        const char *name = fields[i].name;
        fl = vmread(e, &v);
        if (!ok(fl)) {
            CHECK(fail_valid(fl, 12), "%s: VMREAD failed but not with error 12", name);
            CHECK(fail_valid(vmwrite(e, 1), 12), "%s: VMWRITE of an unsupported field "
                  "not error 12", name);
            unsupported++;
            continue;
        }
        supported++;
        if (((e >> 1) & 0x1ff) > max_index)
            max_index = (e >> 1) & 0x1ff;
        if (e & 1) {
            highs++;
            continue;   /* checked through its full field below */
        }
        uint64_t before = v, pat = pattern(e);
        fl = vmwrite(e, pat);
        if (type(e) == 1 && !vmwrite_any) {
            CHECK(fail_valid(fl, 13), "%s: VMWRITE to read-only field not error 13", name);
            ro_refused++;
            if (e != VM_INSTRUCTION_ERROR) {
                CHECK(ok(vmread(e, &v)) && v == before, "%s: refused write changed it", name);
            }
            continue;
        }
        CHECK(ok(fl), "%s: VMWRITE failed, RFLAGS 0x%lx", name, (unsigned long)fl);
        if (type(e) == 1)
            ro_written++;
        uint64_t want = pat & width_mask(e);
        CHECK(ok(vmread(e, &v)), "%s: VMREAD after VMWRITE failed", name);
        if (e >= 0x4814 && e <= 0x4822 && v == (want & 0x1f0ff) && v != want) {
            ar_masked++;   /* KVM drops the AR-bytes reserved bits */
        } else {
            CHECK(v == want, "%s: read 0x%lx, wrote 0x%lx, want 0x%lx", name,
                  (unsigned long)v, (unsigned long)pat, (unsigned long)want);
        }
        if (want != pat)
            truncated++;
        if (width(e) == 1) {
            uint64_t hi = 0;
            CHECK(ok(vmread(e | 1, &hi)) && hi == (want >> 32), "%s_HIGH: 0x%lx", name,
                  (unsigned long)hi);
            CHECK(ok(vmwrite(e | 1, 0xffffffff00c0ffeeull)), "%s_HIGH: VMWRITE", name);
            CHECK(ok(vmread(e, &v)) && v == ((want & 0xffffffffull) | (0xc0ffeeull << 32)),
                  "%s: after _HIGH write 0x%lx", name, (unsigned long)v);
        }
    }
    /* MISC[24:16] advertises that many CR3-target values (SDM Vol. 3D A.6):
     * their fields must exist (at most 4 have encodings, 0x6008..0x600e). */
    unsigned cr3_targets = (unsigned)((misc >> 16) & 0x1ff);
    for (unsigned k = 0; k < cr3_targets && k < 4; k++)
        CHECK(ok(vmread(0x6008 + 2 * k, &v)), "MISC advertises %u CR3-target values "
              "but CR3_TARGET_VALUE%u fails VMREAD", cr3_targets, k);
    CHECK((vmcs_enum & 0x3fe) == (uint64_t)max_index << 1,
          "VMCS_ENUM 0x%lx but highest supported index 0x%x", (unsigned long)vmcs_enum,
          max_index);
    /* Encodings that are no field at all. */
    static const uint64_t bogus[] = {0x6830, 0x1000, 0x8000, 0x681f, 1ull << 32};
    for (unsigned i = 0; i < sizeof(bogus) / sizeof(bogus[0]); i++) {
        CHECK(fail_valid(vmread(bogus[i], &v), 12), "bogus 0x%lx VMREAD", (unsigned long)bogus[i]);
        CHECK(fail_valid(vmwrite(bogus[i], 0), 12), "bogus 0x%lx VMWRITE", (unsigned long)bogus[i]);
    }

    /* Memory operands. */
    uint64_t src = 0x1122334455667788ull, dst = 0;
    CHECK(ok(vmwrite_mem(GUEST_RIP, &src)), "VMWRITE from memory");
    CHECK(ok(vmread_mem(GUEST_RIP, &dst)) && dst == src, "VMREAD to memory: 0x%lx",
          (unsigned long)dst);

    /* Launch state: a clear VMCS cannot be resumed; a launch that passes the
     * launch-state checks fails its entry checks (L2 is not modelled). */
    CHECK(fail_valid(vmlaunch(1), 5), "VMRESUME of a clear VMCS: not error 5");
    CHECK(fail_valid(vmlaunch(0), 7), "VMLAUNCH: not error 7");

    /* Switching VMCS writes the old one back; VMCLEAR invalidates it. */
    CHECK(ok(vmclear(&pb)) && ok(vmptrld(&pb)), "VMCLEAR/VMPTRLD B");
    CHECK(*(uint64_t *)(vmcs_a + 544) == src, "VMCS A not written back on VMPTRLD B");
    CHECK(ok(vmclear(&pb)), "VMCLEAR B");
    CHECK(ok(vmptrst(&cur)) && cur == ~0ull, "VMPTRST after VMCLEAR: 0x%lx",
          (unsigned long)cur);
    CHECK(fail_invalid(vmread(GUEST_RIP, &v)), "VMREAD after VMCLEAR: not VMfailInvalid");
    CHECK(ok(vmxoff()), "VMXOFF");

    rt_printf("vmx_fields: %u encodings in the table: %u supported (%u _HIGH), "
              "%u unsupported\n", (unsigned)NFIELDS, supported, highs, unsupported);
    rt_printf("vmx_fields: read-only fields: %u refused with error 13, %u written "
              "(MISC bit 29 %s)\n", ro_refused, ro_written, vmwrite_any ? "set" : "clear");
    rt_printf("vmx_fields: %u CR3-target values advertised\n", cr3_targets);
    rt_printf("vmx_fields: %u fields truncated to their width, %u AR-bytes masked, "
              "highest index 0x%x = VMCS_ENUM 0x%lx\n", truncated, ar_masked, max_index,
              (unsigned long)vmcs_enum);
    if (rt_failures) {
        rt_printf("vmx_fields: %u checks FAILED\n", rt_failures);
        return 1;
    }
    rt_puts("vmx_fields: all checks passed\n");
    return 0;
}
