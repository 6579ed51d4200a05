/* SPDX-License-Identifier: MIT */
/*
 * Nested VMX: VM-entry checks (errors 7 and 8, exit reasons 33 and 34), the
 * L1 <-> L2 state transitions, the exit decision against vmcs12, INVEPT and
 * INVVPID, and KVM's nested-event check of a halted vCPU (the -EBUSY fix
 * ead63640d4e7 and its old behaviour as a quirk).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "virtmodel/blob.h"
#include "virtmodel/error.h"
#include "virtmodel/vmx.h"
#include "virtmodel/vmx_nested.h"
#include "virtmodel/vmx_vapic.h"

#define RAM_SIZE (1u << 20)
#define VMXON_PA 0x1000u
#define VMCS_A 0x2000u
#define LINK_PA 0x3000u
#define IO_A 0x4000u
#define IO_B 0x5000u
#define MSR_BM 0x6000u
#define VAPIC 0x7000u
#define LIST_PA 0x8000u
#define DESC_PA 0x9000u
#define RFLAGS_IN 0x202ull
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)

struct fx {
    uint8_t *ram;
    struct vmdl_flat_mem flat;
    struct vmdl_guest_mem mem;
    struct vmdl_vmx_caps caps;
    struct vmdl_vmx_model *model;
    struct vmdl_vmx *vmx;
    struct vmdl_vmx_ctx ctx;
    struct vmdl_vmx_cpu l1;
};

static uint64_t enc(const char *name)
{
    const struct vmdl_vmcs_field *e = vmdl_vmcs_field_by_name(name);
    if (!e)
        fail_msg("no field %s", name);
    return e->encoding;
}

static void pk(struct fx *f, const char *name, uint64_t v)
{
    assert_int_equal(vmdl_vmx_poke(f->vmx, enc(name), v), 0);
}

static uint64_t pe(struct fx *f, const char *name)
{
    uint64_t v = 0;
    assert_int_equal(vmdl_vmx_peek(f->vmx, enc(name), &v), 0);
    return v;
}

static void put32(struct fx *f, uint64_t pa, uint32_t v)
{
    memcpy(f->ram + pa, &v, 4);
}

static void put64(struct fx *f, uint64_t pa, uint64_t v)
{
    memcpy(f->ram + pa, &v, 8);
}

static uint64_t get64(struct fx *f, uint64_t pa)
{
    uint64_t v;
    memcpy(&v, f->ram + pa, 8);
    return v;
}

static uint32_t low(uint64_t msr)
{
    return (uint32_t)msr;
}

/* A vmcs12 that enters a 64-bit L2 on the KVM profile: the allowed-0 bits
 * of each control, a 64-bit host and guest. */
static void valid_vmcs(struct fx *f)
{
    const struct vmdl_vmx_caps *c = &f->caps;
    pk(f, "PIN_BASED_VM_EXEC_CONTROL", low(c->true_pinbased));
    pk(f, "CPU_BASED_VM_EXEC_CONTROL", low(c->true_procbased));
    pk(f, "VM_EXIT_CONTROLS", low(c->true_exit) | VMDL_EXITCTL_HOST_ADDR64);
    pk(f, "VM_ENTRY_CONTROLS", low(c->true_entry) | VMDL_ENTRYCTL_IA32E);
    pk(f, "HOST_CR0", 0x80000031);
    pk(f, "HOST_CR4", 0x2020);
    pk(f, "HOST_CR3", 0x10000);
    pk(f, "HOST_CS_SELECTOR", 0x8);
    pk(f, "HOST_SS_SELECTOR", 0x10);
    pk(f, "HOST_DS_SELECTOR", 0x10);
    pk(f, "HOST_TR_SELECTOR", 0x18);
    pk(f, "HOST_TR_BASE", 0x20000);
    pk(f, "HOST_RIP", 0x401000);
    pk(f, "HOST_RSP", 0x7ff0);
    pk(f, "HOST_GDTR_BASE", 0x30000);
    pk(f, "GUEST_CR0", 0x80000031);
    pk(f, "GUEST_CR4", 0x2020);
    pk(f, "GUEST_CR3", 0x60000);
    pk(f, "GUEST_DR7", 0x400);
    pk(f, "GUEST_RFLAGS", 0x2);
    pk(f, "GUEST_RIP", 0x500000);
    pk(f, "GUEST_RSP", 0x90000);
    static const char *segs[] = {"ES", "CS", "SS", "DS", "FS", "GS", "LDTR", "TR"};
    for (unsigned i = 0; i < 8; i++) {
        char n[40];
        uint32_t ar = i == 1 ? 0xa09b : i == 6 ? 0x10000 : i == 7 ? 0x8b : 0xc093;
        uint16_t sel = i == 1 ? 0x8 : i == 6 ? 0 : i == 7 ? 0x18 : 0x10;
        snprintf(n, sizeof(n), "GUEST_%s_AR_BYTES", segs[i]);
        pk(f, n, ar);
        snprintf(n, sizeof(n), "GUEST_%s_SELECTOR", segs[i]);
        pk(f, n, sel);
        snprintf(n, sizeof(n), "GUEST_%s_LIMIT", segs[i]);
        pk(f, n, i == 7 ? 0x67 : 0xffffffff);
    }
    pk(f, "GUEST_GDTR_LIMIT", 0x27);
    pk(f, "GUEST_IDTR_LIMIT", 0xfff);
    pk(f, "VMCS_LINK_POINTER", UINT64_MAX);
}

static void fx_open(struct fx *f, const char *profile)
{
    memset(f, 0, sizeof(*f));
    f->ram = calloc(1, RAM_SIZE);
    assert_non_null(f->ram);
    f->flat = (struct vmdl_flat_mem){f->ram, 0, RAM_SIZE};
    vmdl_flat_mem_init(&f->mem, &f->flat);
    assert_int_equal(vmdl_vmx_profile_get(profile, &f->caps), 0);
    assert_int_equal(vmdl_vmx_model_create(&f->caps, &f->model), 0);
    assert_int_equal(vmdl_vmx_create(f->model, &f->mem, &f->vmx), 0);
    f->ctx = (struct vmdl_vmx_ctx){.cr0 = 0x80000031, .cr4 = 0x2020, .rflags = RFLAGS_IN};
    uint32_t rev = (uint32_t)(f->caps.basic & VMDL_VMX_BASIC_REVISION_MASK);
    put32(f, VMXON_PA, rev);
    put32(f, VMCS_A, rev);
    put32(f, LINK_PA, rev);
    struct vmdl_vmx_result r;
    assert_int_equal(vmdl_vmx_set_feature_control(f->vmx, 5), 0);
    assert_int_equal(vmdl_vmx_vmxon(f->vmx, &f->ctx, VMXON_PA, &r), 0);
    assert_int_equal(vmdl_vmx_vmptrld(f->vmx, &f->ctx, VMCS_A, &r), 0);
    assert_int_equal(r.status, VMDL_VMX_SUCCEED);
    valid_vmcs(f);
    /* L1: 64-bit, long mode active. */
    f->l1.cr0 = 0x80000031;
    f->l1.cr4 = 0x2020;
    f->l1.efer = EFER_LME | EFER_LMA | 1;
    f->l1.rip = 0x1234;
    f->l1.rflags = RFLAGS_IN;
}

static void fx_close(struct fx *f)
{
    vmdl_vmx_destroy(f->vmx);
    vmdl_vmx_model_destroy(f->model);
    free(f->ram);
}

static struct vmdl_vmx_entry enter(struct fx *f, bool resume, struct vmdl_vmx_result *r)
{
    struct vmdl_vmx_entry e;
    assert_int_equal(vmdl_vmx_nested_enter(f->vmx, &f->ctx, resume, &f->l1, NULL, r, &e), 0);
    return e;
}

static void expect_vmfail(struct fx *f, uint32_t err, const char *why)
{
    struct vmdl_vmx_cpu before = f->l1;
    uint32_t launch = vmdl_vmx_launch_state(f->vmx);
    struct vmdl_vmx_result r;
    struct vmdl_vmx_entry e = enter(f, false, &r);
    if (e.outcome != VMDL_VMX_ENTRY_VMFAIL || r.status != VMDL_VMX_FAIL_VALID ||
        r.error != err)
        fail_msg("%s: outcome %d status %d error %u (check %s), want VMfailValid(%u)",
                 why, e.outcome, r.status, r.error, e.check ? e.check : "-", err);
    assert_int_equal(r.rflags, (RFLAGS_IN & ~VMDL_RFLAGS_ARITH) | VMDL_RFLAGS_ZF);
    assert_int_equal(pe(f, "VM_INSTRUCTION_ERROR"), err);
    assert_int_equal(vmdl_vmx_launch_state(f->vmx), launch);
    assert_false(vmdl_vmx_in_guest_mode(f->vmx));
    assert_memory_equal(&before, &f->l1, sizeof(before));
}

static void expect_fail_exit(struct fx *f, uint32_t reason, uint64_t qual, const char *why)
{
    struct vmdl_vmx_result r;
    struct vmdl_vmx_entry e = enter(f, false, &r);
    if (e.outcome != VMDL_VMX_ENTRY_FAIL_EXIT)
        fail_msg("%s: outcome %d error %u (check %s), want entry failure %u", why,
                 e.outcome, r.error, e.check ? e.check : "-", reason);
    assert_int_equal(pe(f, "VM_EXIT_REASON"), reason | 0x80000000u);
    assert_int_equal(pe(f, "EXIT_QUALIFICATION"), qual);
    /* Host state loaded; launch state unchanged; L2 not active. */
    assert_int_equal(f->l1.rip, 0x401000);
    assert_int_equal(f->l1.rsp, 0x7ff0);
    assert_int_equal(f->l1.rflags, 2);
    assert_int_equal(f->l1.seg[VMDL_VMX_SEG_CS].selector, 8);
    assert_int_equal(vmdl_vmx_launch_state(f->vmx), 0);
    assert_false(vmdl_vmx_in_guest_mode(f->vmx));
}

/* ---- entries that pass ---- */

static void test_entry_enters_l2(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    struct vmdl_vmx_result r;
    struct vmdl_vmx_entry e = enter(&f, false, &r);
    assert_int_equal(e.outcome, VMDL_VMX_ENTRY_ENTERED);
    assert_true(vmdl_vmx_in_guest_mode(f.vmx));
    assert_int_equal(vmdl_vmx_launch_state(f.vmx), 1);
    assert_int_equal(f.l1.rip, 0x500000);
    assert_int_equal(f.l1.rsp, 0x90000);
    assert_int_equal(f.l1.cr3, 0x60000);
    assert_int_equal(f.l1.seg[VMDL_VMX_SEG_CS].ar, 0xa09b);
    assert_int_equal(f.l1.seg[VMDL_VMX_SEG_TR].limit, 0x67);
    assert_int_equal(f.l1.gdtr_limit, 0x27);
    /* No "load EFER": LMA/LME follow the IA-32e mode guest control. */
    assert_int_equal(f.l1.efer & (EFER_LMA | EFER_LME), EFER_LMA | EFER_LME);
    assert_false(e.inject.valid);
    /* A second VMLAUNCH while L2 runs is the caller's bug, not an entry. */
    assert_int_not_equal(vmdl_vmx_nested_enter(f.vmx, &f.ctx, false, &f.l1, NULL, &r, &e), 0);
    fx_close(&f);
}

static void test_entry_injects_event(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    /* #GP with error code 0x18. */
    pk(&f, "VM_ENTRY_INTR_INFO_FIELD", 0x80000b0d);
    pk(&f, "VM_ENTRY_EXCEPTION_ERROR_CODE", 0x18);
    struct vmdl_vmx_result r;
    struct vmdl_vmx_entry e = enter(&f, false, &r);
    assert_int_equal(e.outcome, VMDL_VMX_ENTRY_ENTERED);
    assert_true(e.inject.valid);
    assert_int_equal(e.inject.vector, 13);
    assert_int_equal(e.inject.type, VMDL_INTR_TYPE_HW_EXCEPTION);
    assert_true(e.inject.has_error);
    assert_int_equal(e.inject.error_code, 0x18);
    fx_close(&f);
}

/* ---- VMfailValid(7): control fields ---- */

struct mut {
    const char *field;
    uint64_t value;
    bool or_bits;               /* OR into the valid value instead of setting */
    const char *why;
};

static void apply(struct fx *f, const struct mut *m)
{
    uint64_t v = m->value;
    if (m->or_bits)
        v |= pe(f, m->field);
    pk(f, m->field, v);
}

static void test_entry_control_field_errors(void **state)
{
    (void)state;
    static const struct mut muts[] = {
        {"PIN_BASED_VM_EXEC_CONTROL", 1u << 31, true, "pin bit outside allowed-1"},
        {"PIN_BASED_VM_EXEC_CONTROL", 0, false, "pin allowed-0 bits cleared"},
        {"CPU_BASED_VM_EXEC_CONTROL", 0, false, "primary allowed-0 bits cleared"},
        {"CR3_TARGET_COUNT", 1, false, "CR3-target count above MISC (KVM: 0)"},
        {"CPU_BASED_VM_EXEC_CONTROL", VMDL_PROC_IO_BITMAPS, true, "I/O bitmaps"},
        {"CPU_BASED_VM_EXEC_CONTROL", VMDL_PROC_MSR_BITMAPS, true, "MSR bitmap"},
        {"VM_EXIT_CONTROLS", 1u << 31, true, "exit control bit 31"},
        {"VM_ENTRY_CONTROLS", 1u << 31, true, "entry control bit 31"},
        {"VM_ENTRY_INTR_INFO_FIELD", 0x80000100, false, "interruption type 1 reserved"},
        {"VM_ENTRY_INTR_INFO_FIELD", 0x80000320, false, "hardware exception vector 32"},
        {"VM_ENTRY_INTR_INFO_FIELD", 0x80000203, false, "NMI type with vector 3"},
        {"VM_ENTRY_INTR_INFO_FIELD", 0x80001003, false, "reserved bit 12"},
        {"VM_ENTRY_INTR_INFO_FIELD", 0x80000480, false, "software interrupt, length 0"},
        {"VM_ENTRY_MSR_LOAD_COUNT", 1, false, "entry MSR-load list"},
        {"VM_EXIT_CONTROLS", VMDL_EXITCTL_SAVE_PREEMPT, true, "save timer without timer"},
        {"VM_ENTRY_CONTROLS", VMDL_ENTRYCTL_SMM, true, "entry to SMM"},
    };
    /* The bitmap and list entries above are valid on their own (address 0);
     * the second mutation makes the address bad. */
    static const struct mut second[sizeof(muts) / sizeof(muts[0])] = {
        [4] = {"IO_BITMAP_B", 0x5008, false, "I/O bitmap B not page aligned"},
        [5] = {"MSR_BITMAP", 1ull << 46, false, "MSR bitmap beyond MAXPHYADDR"},
        [13] = {"VM_ENTRY_MSR_LOAD_ADDR", 0x8008, false, "entry MSR-load list misaligned"},
    };
    for (size_t i = 0; i < sizeof(muts) / sizeof(muts[0]); i++) {
        struct fx f;
        fx_open(&f, "sapphire-rapids");
        apply(&f, &muts[i]);
        if (second[i].field)
            apply(&f, &second[i]);
        expect_vmfail(&f, 7, second[i].field ? second[i].why : muts[i].why);
        fx_close(&f);
    }
}

/* The deliver-error-code bit must match the vector in protected mode,
 * unless IA32_VMX_BASIC bit 56 (Sapphire Rapids) lifts the rule for
 * hardware exceptions. */
static void test_entry_error_code_rule(void **state)
{
    (void)state;
    static const uint32_t infos[] = {0x8000030d /* #GP without */, 0x80000b06 /* #UD with */};
    for (size_t i = 0; i < 2; i++) {
        struct fx f;
        fx_open(&f, "skylake");
        pk(&f, "VM_ENTRY_INTR_INFO_FIELD", infos[i]);
        expect_vmfail(&f, 7, "error-code bit vs vector (no BASIC bit 56)");
        fx_close(&f);
        fx_open(&f, "sapphire-rapids");
        pk(&f, "VM_ENTRY_INTR_INFO_FIELD", infos[i]);
        struct vmdl_vmx_result r;
        assert_int_equal(enter(&f, false, &r).outcome, VMDL_VMX_ENTRY_ENTERED);
        fx_close(&f);
    }
    /* Even with bit 56, an external interrupt never carries one. */
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    pk(&f, "VM_ENTRY_INTR_INFO_FIELD", 0x80000830);
    expect_vmfail(&f, 7, "external interrupt with an error code");
    fx_close(&f);
}

/* More malformed VM-entry interruption information (SDM 26.2.1.3): each
 * is VMfailValid(7) and nothing is injected. */
static void test_entry_intr_info_hostile(void **state)
{
    (void)state;
    static const struct { uint32_t info, error, len; const char *why; } bad[] = {
        {0x80000701, 0, 0, "other event (type 7) with a vector other than 0"},
        {0x80000b0d, 0x10000, 0, "error code bits 31:16 set"},
        {0x80000480, 0, 16, "software interrupt, length 16"},
        {0x80000603, 0, 0, "software exception, length 0"},
        {0x80000503, 0, 0, "privileged software exception, length 0"},
        {0xc0000030, 0, 0, "reserved bit 30"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct fx f;
        fx_open(&f, "sapphire-rapids");
        pk(&f, "VM_ENTRY_INTR_INFO_FIELD", bad[i].info);
        pk(&f, "VM_ENTRY_EXCEPTION_ERROR_CODE", bad[i].error);
        pk(&f, "VM_ENTRY_INSTRUCTION_LEN", bad[i].len);
        expect_vmfail(&f, 7, bad[i].why);
        assert_int_equal(pe(&f, "VM_ENTRY_INTR_INFO_FIELD"), bad[i].info);
        fx_close(&f);
    }
    /* The NMI itself is fine: the length only matters for software events. */
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    pk(&f, "VM_ENTRY_INTR_INFO_FIELD", 0x80000202);
    pk(&f, "VM_ENTRY_INSTRUCTION_LEN", 0);
    struct vmdl_vmx_result r;
    struct vmdl_vmx_entry e = enter(&f, false, &r);
    assert_int_equal(e.outcome, VMDL_VMX_ENTRY_ENTERED);
    assert_true(e.inject.valid);
    assert_int_equal(e.inject.type, VMDL_INTR_TYPE_NMI);
    fx_close(&f);
    /* A software interrupt with length 2 is injected with that length. */
    fx_open(&f, "sapphire-rapids");
    pk(&f, "VM_ENTRY_INTR_INFO_FIELD", 0x80000480);
    pk(&f, "VM_ENTRY_INSTRUCTION_LEN", 2);
    e = enter(&f, false, &r);
    assert_int_equal(e.outcome, VMDL_VMX_ENTRY_ENTERED);
    assert_int_equal(e.inject.type, VMDL_INTR_TYPE_SOFT_INTR);
    assert_int_equal(e.inject.vector, 0x80);
    assert_int_equal(e.inject.insn_len, 2);
    fx_close(&f);
}

static void test_entry_dependent_controls(void **state)
{
    (void)state;
    struct {
        uint32_t pin, proc, proc2;
        const char *extra;
        uint64_t extra_val;
        const char *why;
    } cases[] = {
        {0, VMDL_PROC_SECONDARY, VMDL_PROC2_VPID, NULL, 0, "VPID enabled with VPID 0"},
        {0, VMDL_PROC_SECONDARY, VMDL_PROC2_EPT, NULL, 0, "EPTP with reserved bit 7"},
        {0, VMDL_PROC_SECONDARY, VMDL_PROC2_UNRESTRICTED, NULL, 0, "unrestricted guest without EPT"},
        {0, VMDL_PROC_SECONDARY, VMDL_PROC2_PML, NULL, 0, "PML without EPT"},
        {0, VMDL_PROC_SECONDARY | VMDL_PROC_TPR_SHADOW, VMDL_PROC2_VID, "VIRTUAL_APIC_PAGE_ADDR", VAPIC,
         "virtual-interrupt delivery without external-interrupt exiting"},
        {VMDL_PIN_VIRTUAL_NMIS, 0, 0, NULL, 0, "virtual NMIs without NMI exiting"},
        {VMDL_PIN_NMI_EXITING, VMDL_PROC_NMI_WINDOW, 0, NULL, 0, "NMI window without virtual NMIs"},
        {0, VMDL_PROC_TPR_SHADOW, 0, "VIRTUAL_APIC_PAGE_ADDR", VAPIC + 0x10, "virtual-APIC page misaligned"},
        {0, VMDL_PROC_TPR_SHADOW, 0, "TPR_THRESHOLD", 0x10, "TPR threshold bits 31:4"},
        {0, VMDL_PROC_SECONDARY, VMDL_PROC2_X2APIC_MODE | VMDL_PROC2_APIC_ACCESS, NULL, 0,
         "x2APIC mode with APIC-access virtualization"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fx f;
        fx_open(&f, "sapphire-rapids");
        pk(&f, "PIN_BASED_VM_EXEC_CONTROL", pe(&f, "PIN_BASED_VM_EXEC_CONTROL") | cases[i].pin);
        pk(&f, "CPU_BASED_VM_EXEC_CONTROL", pe(&f, "CPU_BASED_VM_EXEC_CONTROL") | cases[i].proc);
        pk(&f, "SECONDARY_VM_EXEC_CONTROL", cases[i].proc2);
        if (cases[i].proc & VMDL_PROC_TPR_SHADOW)
            pk(&f, "VIRTUAL_APIC_PAGE_ADDR", VAPIC);
        if (cases[i].extra)
            pk(&f, cases[i].extra, cases[i].extra_val);
        if (cases[i].proc2 & VMDL_PROC2_EPT)
            pk(&f, "EPT_POINTER", 0x1e | (1u << 7));
        expect_vmfail(&f, 7, cases[i].why);
        fx_close(&f);
    }
}

/* The TPR threshold against VTPR read from the virtual-APIC page (SDM). */
static void test_entry_tpr_threshold_vs_vtpr(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    pk(&f, "CPU_BASED_VM_EXEC_CONTROL", pe(&f, "CPU_BASED_VM_EXEC_CONTROL") | VMDL_PROC_TPR_SHADOW);
    pk(&f, "VIRTUAL_APIC_PAGE_ADDR", VAPIC);
    pk(&f, "TPR_THRESHOLD", 5);
    f.ram[VAPIC + 0x80] = 0x40;  /* VTPR[7:4] = 4 < 5 */
    expect_vmfail(&f, 7, "threshold above VTPR[7:4]");
    f.ram[VAPIC + 0x80] = 0x50;
    struct vmdl_vmx_result r;
    assert_int_equal(enter(&f, false, &r).outcome, VMDL_VMX_ENTRY_ENTERED);
    fx_close(&f);
}

static void test_entry_valid_eptp_and_vpid(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    pk(&f, "CPU_BASED_VM_EXEC_CONTROL", pe(&f, "CPU_BASED_VM_EXEC_CONTROL") | VMDL_PROC_SECONDARY);
    pk(&f, "SECONDARY_VM_EXEC_CONTROL", VMDL_PROC2_EPT | VMDL_PROC2_VPID | VMDL_PROC2_UNRESTRICTED);
    pk(&f, "EPT_POINTER", 0x100000 | 0x5e); /* WB, 4 levels, A/D */
    pk(&f, "VIRTUAL_PROCESSOR_ID", 1);
    /* Unrestricted guest: real mode (PE = PG = 0) passes the CR0 check. */
    pk(&f, "VM_ENTRY_CONTROLS", low(f.caps.true_entry));
    pk(&f, "GUEST_CR0", 0x30);
    pk(&f, "GUEST_CS_AR_BYTES", 0x9b);
    pk(&f, "GUEST_CS_LIMIT", 0xffff);           /* byte granular: G clear */
    struct vmdl_vmx_result r;
    struct vmdl_vmx_entry e = enter(&f, false, &r);
    if (e.outcome != VMDL_VMX_ENTRY_ENTERED)
        fail_msg("outcome %d error %u check %s", e.outcome, r.error, e.check);
    fx_close(&f);
}

static void test_eptp_rules(void **state)
{
    (void)state;
    struct vmdl_vmx_caps c;
    struct vmdl_vmx_model *m;
    assert_int_equal(vmdl_vmx_profile_get("sapphire-rapids", &c), 0);
    assert_int_equal(vmdl_vmx_model_create(&c, &m), 0);
    assert_true(vmdl_vmx_eptp_valid(m, 0x1000 | 0x1e));      /* WB, 4 levels */
    assert_true(vmdl_vmx_eptp_valid(m, 0x1000 | 0x18));      /* UC */
    assert_false(vmdl_vmx_eptp_valid(m, 0x1000 | 0x19));     /* memory type 1 */
    assert_false(vmdl_vmx_eptp_valid(m, 0x1000 | 0x16));     /* walk length 3 */
    assert_true(vmdl_vmx_eptp_valid(m, 0x1000 | 0x26));      /* 5 levels: cap bit 7 */
    assert_false(vmdl_vmx_eptp_valid(m, 0x1000 | 0x1e | 0x80)); /* bit 7 reserved */
    assert_false(vmdl_vmx_eptp_valid(m, (1ull << 46) | 0x1e)); /* beyond MAXPHYADDR */
    assert_true(vmdl_vmx_eptp_valid(m, 0x1000 | 0x5e));      /* A/D: cap bit 21 */
    vmdl_vmx_model_destroy(m);
    c.ept_vpid_cap &= ~((1ull << 21) | (1ull << 7));
    assert_int_equal(vmdl_vmx_model_create(&c, &m), 0);
    assert_false(vmdl_vmx_eptp_valid(m, 0x1000 | 0x5e));
    assert_false(vmdl_vmx_eptp_valid(m, 0x1000 | 0x26));
    vmdl_vmx_model_destroy(m);
}

/* ---- VMFUNC: EPTP switching (KVM's handle_vmfunc) ---- */

#define EPTP_LIST 0xa000u
#define EPTP_A (0x100000ull | 0x5e)     /* WB, 4 levels, A/D */
#define EPTP_B (0x200000ull | 0x1e)     /* WB, 4 levels, no A/D */

/* vmcs12 with EPT (EPTP_A), VM functions with these controls and the
 * EPTP list at EPTP_LIST (entries 0 and 1: EPTP_A, EPTP_B). */
static void vmfunc_vmcs(struct fx *f, uint64_t fnctl)
{
    pk(f, "CPU_BASED_VM_EXEC_CONTROL", pe(f, "CPU_BASED_VM_EXEC_CONTROL") | VMDL_PROC_SECONDARY);
    pk(f, "SECONDARY_VM_EXEC_CONTROL", VMDL_PROC2_EPT | VMDL_PROC2_VMFUNC);
    pk(f, "EPT_POINTER", EPTP_A);
    pk(f, "VM_FUNCTION_CONTROL", fnctl);
    pk(f, "EPTP_LIST_ADDRESS", EPTP_LIST);
    put64(f, EPTP_LIST, EPTP_A);
    put64(f, EPTP_LIST + 8, EPTP_B);
}

static void enter_l2_ok(struct fx *f)
{
    struct vmdl_vmx_result r;
    struct vmdl_vmx_entry e = enter(f, false, &r);
    if (e.outcome != VMDL_VMX_ENTRY_ENTERED)
        fail_msg("outcome %d error %u check %s", e.outcome, r.error, e.check);
}

static struct vmdl_vmx_vmfunc vmfunc(struct fx *f, uint64_t rax, uint64_t rcx)
{
    struct vmdl_vmx_vmfunc o;
    assert_int_equal(vmdl_vmx_vmfunc(f->vmx, rax, rcx, 3, &o), 0);
    return o;
}

/* VM entry: the VM-function controls against IA32_VMX_VMFUNC, EPTP
 * switching only with EPT and a page-aligned list inside MAXPHYADDR
 * (KVM's nested_vmx_check_vmfunc_controls), error 7. */
/* The fixture again over f->caps (a custom profile). */
static void fx_reopen(struct fx *f)
{
    struct vmdl_vmx_result r;
    vmdl_vmx_destroy(f->vmx);
    vmdl_vmx_model_destroy(f->model);
    assert_int_equal(vmdl_vmx_model_create(&f->caps, &f->model), 0);
    assert_int_equal(vmdl_vmx_create(f->model, &f->mem, &f->vmx), 0);
    assert_int_equal(vmdl_vmx_set_feature_control(f->vmx, 5), 0);
    assert_int_equal(vmdl_vmx_vmxon(f->vmx, &f->ctx, VMXON_PA, &r), 0);
    assert_int_equal(vmdl_vmx_vmptrld(f->vmx, &f->ctx, VMCS_A, &r), 0);
    valid_vmcs(f);
}

static void test_vmfunc_entry_checks(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    vmfunc_vmcs(&f, 1);
    pk(&f, "VM_FUNCTION_CONTROL", 2);           /* function 1: not offered */
    expect_vmfail(&f, 7, "VM function 1");
    pk(&f, "VM_FUNCTION_CONTROL", 1);
    pk(&f, "EPTP_LIST_ADDRESS", EPTP_LIST | 8);
    expect_vmfail(&f, 7, "EPTP list not page aligned");
    pk(&f, "EPTP_LIST_ADDRESS", 1ull << 46);
    expect_vmfail(&f, 7, "EPTP list beyond MAXPHYADDR");
    pk(&f, "EPTP_LIST_ADDRESS", EPTP_LIST);
    pk(&f, "SECONDARY_VM_EXEC_CONTROL", VMDL_PROC2_VMFUNC);
    expect_vmfail(&f, 7, "EPTP switching without EPT");
    /* VM functions on, no function: nothing else is checked. */
    pk(&f, "VM_FUNCTION_CONTROL", 0);
    pk(&f, "EPTP_LIST_ADDRESS", 3);
    enter_l2_ok(&f);
    fx_close(&f);
    /* A profile without VM functions (nehalem): the secondary control is
     * not allowed-1. */
    fx_open(&f, "nehalem");
    pk(&f, "CPU_BASED_VM_EXEC_CONTROL", pe(&f, "CPU_BASED_VM_EXEC_CONTROL") | VMDL_PROC_SECONDARY);
    pk(&f, "SECONDARY_VM_EXEC_CONTROL", VMDL_PROC2_EPT | VMDL_PROC2_VMFUNC);
    pk(&f, "EPT_POINTER", EPTP_B);
    expect_vmfail(&f, 7, "VM functions on nehalem");
    fx_close(&f);
}

static void test_vmfunc_eptp_switching(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    vmfunc_vmcs(&f, 1);
    enter_l2_ok(&f);
    struct vmdl_vmx_vmfunc o = vmfunc(&f, 0, 1);
    assert_int_equal(o.outcome, VMDL_VMFUNC_DONE);
    assert_true(o.eptp_changed);
    assert_int_equal(o.old_eptp, EPTP_A);
    assert_int_equal(o.new_eptp, EPTP_B);
    assert_int_equal(pe(&f, "EPT_POINTER"), EPTP_B);
    assert_true(vmdl_vmx_in_guest_mode(f.vmx));
    /* Back, with the A/D bit of the list entry (a new A/D setting). */
    o = vmfunc(&f, 0, 0);
    assert_int_equal(o.outcome, VMDL_VMFUNC_DONE);
    assert_true(o.eptp_changed);
    assert_int_equal(pe(&f, "EPT_POINTER"), EPTP_A);
    /* To the current EPTP: done, nothing to drop. */
    o = vmfunc(&f, 0, 0);
    assert_int_equal(o.outcome, VMDL_VMFUNC_DONE);
    assert_false(o.eptp_changed);
    /* EAX and ECX: the upper halves of RAX and RCX are ignored. */
    o = vmfunc(&f, 0xffffffff00000000ull, 0x500000001ull);
    assert_int_equal(o.outcome, VMDL_VMFUNC_DONE);
    assert_int_equal(pe(&f, "EPT_POINTER"), EPTP_B);
    /* The last entry of the list; bits 11:0 of the list address are not
     * an offset (KVM reads the list's page by frame number). */
    put64(&f, EPTP_LIST + 511 * 8, 0x300000 | 0x18);     /* UC */
    o = vmfunc(&f, 0, 511);
    assert_int_equal(o.outcome, VMDL_VMFUNC_DONE);
    assert_int_equal(pe(&f, "EPT_POINTER"), 0x300018);
    /* Bits 11:0 of the list address (writable under a running L2) do not
     * move the entries. */
    pk(&f, "EPTP_LIST_ADDRESS", EPTP_LIST | 8);
    put64(&f, EPTP_LIST + 16, 0x400000 | 0x1e);
    o = vmfunc(&f, 0, 1);
    assert_int_equal(o.outcome, VMDL_VMFUNC_DONE);
    assert_int_equal(pe(&f, "EPT_POINTER"), EPTP_B);
    /* The exit that follows reports L1's EPTP as L2 left it. */
    bool abort = false;
    struct vmdl_vmx_exit_info info = {.reason = VMDL_VMX_EXIT_CPUID, .insn_len = 2};
    assert_int_equal(vmdl_vmx_nested_exit(f.vmx, &info, &f.l1, NULL, &abort), 0);
    assert_int_equal(pe(&f, "EPT_POINTER"), EPTP_B);
    fx_close(&f);
}

static void expect_vmfunc_exit(struct fx *f, uint64_t rax, uint64_t rcx, const char *why)
{
    uint64_t eptp = pe(f, "EPT_POINTER");
    struct vmdl_vmx_vmfunc o = vmfunc(f, rax, rcx);
    if (o.outcome != VMDL_VMFUNC_EXIT)
        fail_msg("%s: outcome %d (%s), want the VM exit", why, o.outcome, o.why ? o.why : "-");
    assert_int_equal(o.exit.reason, VMDL_VMX_EXIT_VMFUNC);
    assert_int_equal(o.exit.qualification, 0);
    assert_int_equal(o.exit.insn_len, 3);
    assert_false(o.eptp_changed);
    assert_int_equal(pe(f, "EPT_POINTER"), eptp);
    assert_true(vmdl_vmx_in_guest_mode(f->vmx));
}

static void test_vmfunc_exits(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    vmfunc_vmcs(&f, 1);
    enter_l2_ok(&f);
    expect_vmfunc_exit(&f, 1, 0, "function 1 (bit clear in the controls)");
    expect_vmfunc_exit(&f, 63, 0, "function 63");
    put64(&f, EPTP_LIST + 512 * 8, EPTP_B);   /* the next page holds a valid one */
    expect_vmfunc_exit(&f, 0, 512, "index 512");
    expect_vmfunc_exit(&f, 0, 0xffffffffull, "index 0xffffffff");
    /* Entries that fail the EPTP checks of VM entry. */
    static const uint64_t bad[] = {
        0x300000 | 0x19,                /* memory type 1 */
        0x300000 | 0x16,                /* walk length 3 */
        0x300000 | 0x1e | 0x80,         /* bit 7 */
        (1ull << 46) | 0x1e,            /* beyond MAXPHYADDR */
        0,                              /* memory type UC, walk length 1 */
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        put64(&f, EPTP_LIST + 16, bad[i]);
        char why[48];
        snprintf(why, sizeof(why), "EPTP 0x%llx", (unsigned long long)bad[i]);
        expect_vmfunc_exit(&f, 0, 2, why);
    }
    /* A list outside RAM: the entry cannot be read. */
    pk(&f, "EPTP_LIST_ADDRESS", RAM_SIZE);
    expect_vmfunc_exit(&f, 0, 0, "EPTP list outside RAM");
    pk(&f, "EPTP_LIST_ADDRESS", EPTP_LIST);
    /* Turning EPT off under a running L2 (not reachable through VM entry,
     * KVM warns): still the exit. */
    pk(&f, "SECONDARY_VM_EXEC_CONTROL", VMDL_PROC2_VMFUNC);
    expect_vmfunc_exit(&f, 0, 1, "EPTP switching without EPT");
    pk(&f, "SECONDARY_VM_EXEC_CONTROL", VMDL_PROC2_EPT | VMDL_PROC2_VMFUNC);
    /* The reflected exit as L1 reads it. */
    struct vmdl_vmx_vmfunc o = vmfunc(&f, 1, 0);
    bool abort = false;
    assert_int_equal(vmdl_vmx_nested_exit(f.vmx, &o.exit, &f.l1, NULL, &abort), 0);
    assert_int_equal(pe(&f, "VM_EXIT_REASON"), 59);
    assert_int_equal(pe(&f, "EXIT_QUALIFICATION"), 0);
    assert_int_equal(pe(&f, "VM_EXIT_INSTRUCTION_LEN"), 3);
    assert_int_equal(pe(&f, "VM_EXIT_INTR_INFO"), 0);
    fx_close(&f);
    /* EPT without A/D flags: an entry with bit 6 exits. */
    fx_open(&f, "sapphire-rapids");
    f.caps.ept_vpid_cap &= ~(1ull << 21);
    fx_reopen(&f);
    vmfunc_vmcs(&f, 1);
    pk(&f, "EPT_POINTER", EPTP_B);
    enter_l2_ok(&f);
    expect_vmfunc_exit(&f, 0, 0, "A/D without EPT_VPID_CAP bit 21");
    fx_close(&f);
    /* A profile offering function 1 too: KVM emulates only function 0. */
    fx_open(&f, "sapphire-rapids");
    f.caps.vmfunc = 3;
    fx_reopen(&f);
    vmfunc_vmcs(&f, 3);
    enter_l2_ok(&f);
    expect_vmfunc_exit(&f, 1, 0, "function 1 not emulated");
    fx_close(&f);
}

static void expect_vmfunc_ud(struct fx *f, uint64_t rax, const char *why)
{
    struct vmdl_vmx_vmfunc o = vmfunc(f, rax, 1);
    if (o.outcome != VMDL_VMFUNC_UD)
        fail_msg("%s: outcome %d (%s), want #UD", why, o.outcome, o.why ? o.why : "-");
    assert_false(o.eptp_changed);
}

static void test_vmfunc_ud(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    vmfunc_vmcs(&f, 1);
    /* L1 (VMX root operation) and outside VMX operation. */
    expect_vmfunc_ud(&f, 0, "VMX root operation");
    enter_l2_ok(&f);
    expect_vmfunc_ud(&f, 64, "EAX 64");
    expect_vmfunc_ud(&f, 0xffffffff, "EAX 0xffffffff");
    /* The secondary controls inactive: VM functions are off. */
    uint64_t proc = pe(&f, "CPU_BASED_VM_EXEC_CONTROL");
    pk(&f, "CPU_BASED_VM_EXEC_CONTROL", proc & ~(uint64_t)VMDL_PROC_SECONDARY);
    expect_vmfunc_ud(&f, 0, "secondary controls off");
    pk(&f, "CPU_BASED_VM_EXEC_CONTROL", proc);
    pk(&f, "SECONDARY_VM_EXEC_CONTROL", VMDL_PROC2_EPT);
    expect_vmfunc_ud(&f, 0, "enable VM functions off");
    assert_int_equal(pe(&f, "EPT_POINTER"), EPTP_A);
    struct vmdl_vmx_result r;
    assert_int_equal(vmdl_vmx_set_guest_mode(f.vmx, false), 0);
    assert_int_equal(vmdl_vmx_vmxoff(f.vmx, &f.ctx, &r), 0);
    expect_vmfunc_ud(&f, 0, "outside VMX operation");
    /* API misuse. */
    struct vmdl_vmx_vmfunc o;
    assert_int_equal(vmdl_vmx_vmfunc(NULL, 0, 0, 3, &o), VMDL_EINVAL);
    assert_int_equal(vmdl_vmx_vmfunc(f.vmx, 0, 0, 3, NULL), VMDL_EINVAL);
    fx_close(&f);
}

/* ---- VMfailValid(8): host state ---- */

static void test_entry_host_state_errors(void **state)
{
    (void)state;
    static const struct mut muts[] = {
        {"VM_EXIT_CONTROLS", 0, false, "host address-space size 0 with EFER.LMA 1"},
        {"HOST_CR0", 0x80000030, false, "HOST_CR0 without PE (FIXED0)"},
        {"HOST_CR0", 0x180000031ull, false, "HOST_CR0 bit 32 (FIXED1)"},
        {"HOST_CR4", 0x20, false, "HOST_CR4 without VMXE (FIXED0)"},
        {"HOST_CR3", 1ull << 46, false, "HOST_CR3 beyond MAXPHYADDR"},
        {"HOST_IA32_SYSENTER_EIP", 1ull << 47, false, "SYSENTER_EIP not canonical"},
        {"HOST_CS_SELECTOR", 0, false, "host CS selector 0"},
        {"HOST_TR_SELECTOR", 0, false, "host TR selector 0"},
        {"HOST_DS_SELECTOR", 0x13, false, "host DS selector RPL 3"},
        {"HOST_SS_SELECTOR", 0x14, false, "host SS selector TI"},
        {"HOST_FS_BASE", 0x0000800000000000ull, false, "host FS base not canonical"},
        {"HOST_RIP", 0xffff700000000000ull, false, "host RIP not canonical"},
        {"HOST_CR4", 0x2000, false, "64-bit host without CR4.PAE"},
    };
    for (size_t i = 0; i < sizeof(muts) / sizeof(muts[0]); i++) {
        struct fx f;
        fx_open(&f, "sapphire-rapids");
        apply(&f, &muts[i]);
        if (!strcmp(muts[i].field, "VM_EXIT_CONTROLS"))
            pk(&f, "VM_EXIT_CONTROLS", low(f.caps.true_exit));
        expect_vmfail(&f, 8, muts[i].why);
        fx_close(&f);
    }
}

/* Canonical checks with 5-level paging (KVM's is_noncanonical_msr/
 * base_address: 57 bits when the CPU supports LA57, whatever CR4.LA57;
 * host RIP per L1's CR4.LA57; the processor's checks on the guest bases
 * the same way, guest RIP per GUEST_CR4.LA57). */
#define LA57_CANON 0xff55555555000000ull    /* 57-bit canonical only */
#define CR4_LA57 (1ull << 12)

static void entry_la57(const char *field, uint64_t val, bool la57, uint64_t l1_cr4_or,
                       uint64_t guest_cr4_or, enum vmdl_vmx_entry_outcome want)
{
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    assert_int_equal(vmdl_vmx_set_la57(f.vmx, la57), 0);
    pk(&f, field, val);
    f.l1.cr4 |= l1_cr4_or;
    pk(&f, "GUEST_CR4", pe(&f, "GUEST_CR4") | guest_cr4_or);
    struct vmdl_vmx_result r;
    struct vmdl_vmx_entry e = enter(&f, false, &r);
    if (e.outcome != want)
        fail_msg("%s = 0x%llx, LA57 %d: outcome %d (error %u, check %s), want %d", field,
                 (unsigned long long)val, la57, e.outcome, r.error, e.check ? e.check : "-",
                 want);
    if (want == VMDL_VMX_ENTRY_VMFAIL)
        assert_int_equal(r.error, 8);
    if (want == VMDL_VMX_ENTRY_FAIL_EXIT)
        assert_int_equal(pe(&f, "VM_EXIT_REASON"), 33 | 0x80000000u);
    fx_close(&f);
}

static void test_entry_canonical_la57(void **state)
{
    (void)state;
    static const char *host[] = {"HOST_IA32_SYSENTER_ESP", "HOST_IA32_SYSENTER_EIP",
                                 "HOST_FS_BASE", "HOST_GS_BASE", "HOST_GDTR_BASE",
                                 "HOST_IDTR_BASE", "HOST_TR_BASE"};
    for (size_t i = 0; i < sizeof(host) / sizeof(host[0]); i++) {
        entry_la57(host[i], LA57_CANON, false, 0, 0, VMDL_VMX_ENTRY_VMFAIL);
        entry_la57(host[i], LA57_CANON, true, 0, 0, VMDL_VMX_ENTRY_ENTERED);
        entry_la57(host[i], 1ull << 56, true, 0, 0, VMDL_VMX_ENTRY_VMFAIL);
    }
    /* HOST_RIP: L1's current paging mode. */
    entry_la57("HOST_RIP", LA57_CANON, true, 0, 0, VMDL_VMX_ENTRY_VMFAIL);
    entry_la57("HOST_RIP", LA57_CANON, true, CR4_LA57, 0, VMDL_VMX_ENTRY_ENTERED);
    entry_la57("HOST_RIP", LA57_CANON, false, CR4_LA57, 0, VMDL_VMX_ENTRY_VMFAIL);
    static const char *guest[] = {"GUEST_FS_BASE", "GUEST_GS_BASE", "GUEST_TR_BASE",
                                  "GUEST_GDTR_BASE", "GUEST_IDTR_BASE",
                                  "GUEST_SYSENTER_ESP", "GUEST_SYSENTER_EIP"};
    for (size_t i = 0; i < sizeof(guest) / sizeof(guest[0]); i++) {
        entry_la57(guest[i], LA57_CANON, false, 0, 0, VMDL_VMX_ENTRY_FAIL_EXIT);
        entry_la57(guest[i], LA57_CANON, true, 0, 0, VMDL_VMX_ENTRY_ENTERED);
        entry_la57(guest[i], 1ull << 56, true, 0, 0, VMDL_VMX_ENTRY_FAIL_EXIT);
    }
    /* GUEST_RIP of a 64-bit L2: L2's paging mode (GUEST_CR4.LA57). */
    entry_la57("GUEST_RIP", LA57_CANON, true, 0, 0, VMDL_VMX_ENTRY_FAIL_EXIT);
    entry_la57("GUEST_RIP", LA57_CANON, true, 0, CR4_LA57, VMDL_VMX_ENTRY_ENTERED);
    entry_la57("GUEST_RIP", LA57_CANON, false, 0, CR4_LA57, VMDL_VMX_ENTRY_FAIL_EXIT);
    assert_int_equal(vmdl_vmx_set_la57(NULL, true), VMDL_EINVAL);
}

static void test_entry_host_efer_and_pat(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    pk(&f, "VM_EXIT_CONTROLS", pe(&f, "VM_EXIT_CONTROLS") | VMDL_EXITCTL_LOAD_EFER);
    pk(&f, "HOST_IA32_EFER", EFER_LME); /* LMA must equal the 64-bit host control */
    expect_vmfail(&f, 8, "HOST_IA32_EFER.LMA vs host address-space size");
    pk(&f, "HOST_IA32_EFER", EFER_LME | EFER_LMA);
    pk(&f, "VM_EXIT_CONTROLS", pe(&f, "VM_EXIT_CONTROLS") | VMDL_EXITCTL_LOAD_PAT);
    pk(&f, "HOST_IA32_PAT", 0x0007040600070402ull); /* type 2 reserved */
    expect_vmfail(&f, 8, "HOST_IA32_PAT type 2");
    pk(&f, "HOST_IA32_PAT", 0x0007040600070406ull);
    struct vmdl_vmx_result r;
    assert_int_equal(enter(&f, false, &r).outcome, VMDL_VMX_ENTRY_ENTERED);
    fx_close(&f);
}

/* A 32-bit L1 (EFER.LMA 0) needs a 32-bit host: KVM's
 * nested_vmx_check_address_space_size and the non-IA-32e host rules. */
static void test_entry_32bit_host(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    f.l1.efer = 0;
    expect_vmfail(&f, 8, "64-bit host control with EFER.LMA 0");
    pk(&f, "VM_EXIT_CONTROLS", low(f.caps.true_exit));
    expect_vmfail(&f, 8, "IA-32e guest with a 32-bit host");
    pk(&f, "VM_ENTRY_CONTROLS", low(f.caps.true_entry));
    pk(&f, "GUEST_CS_AR_BYTES", 0xc09b);
    pk(&f, "HOST_RIP", 0x100000000ull);
    expect_vmfail(&f, 8, "32-bit host RIP above 4G");
    pk(&f, "HOST_RIP", 0x401000);
    struct vmdl_vmx_result r;
    struct vmdl_vmx_entry e = enter(&f, false, &r);
    if (e.outcome != VMDL_VMX_ENTRY_ENTERED)
        fail_msg("outcome %d error %u check %s", e.outcome, r.error, e.check);
    fx_close(&f);
}

/* KVM's order: the control checks come first, then host, then guest. */
static void test_entry_check_order(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    pk(&f, "HOST_CS_SELECTOR", 0);
    pk(&f, "GUEST_RFLAGS", 0);
    pk(&f, "PIN_BASED_VM_EXEC_CONTROL", 0);
    expect_vmfail(&f, 7, "control error before host error");
    pk(&f, "PIN_BASED_VM_EXEC_CONTROL", low(f.caps.true_pinbased));
    expect_vmfail(&f, 8, "host error before guest error");
    pk(&f, "HOST_CS_SELECTOR", 8);
    expect_fail_exit(&f, 33, 0, "guest error last");
    fx_close(&f);
}

/* ---- entry failure exits: guest state (33) and MSR loading (34) ---- */

static void test_entry_guest_state_failures(void **state)
{
    (void)state;
    static const struct mut muts[] = {
        {"GUEST_CR0", 0x80000030, false, "guest CR0.PE clear without unrestricted guest"},
        {"GUEST_CR4", 0x20, false, "guest CR4 without VMXE"},
        {"GUEST_CR4", 0x2000, false, "IA-32e guest without PAE"},
        {"GUEST_RFLAGS", 0, false, "RFLAGS bit 1 clear"},
        {"GUEST_RFLAGS", 0x8002, false, "RFLAGS bit 15 set"},
        {"GUEST_RFLAGS", 0x20002, false, "RFLAGS.VM in IA-32e mode"},
        {"GUEST_ACTIVITY_STATE", 2, false, "shutdown activity state (KVM refuses)"},
        {"GUEST_ACTIVITY_STATE", 4, false, "activity state 4"},
        {"GUEST_TR_AR_BYTES", 0x1008b, false, "TR unusable"},
        {"GUEST_TR_AR_BYTES", 0x83, false, "16-bit busy TSS in IA-32e mode"},
        {"GUEST_CS_AR_BYTES", 0xa093, false, "CS data segment"},
        {"GUEST_SS_AR_BYTES", 0xc09b, false, "SS code segment"},
        {"GUEST_LDTR_AR_BYTES", 0x82 | 0x100, false, "LDTR AR reserved bit 8"},
        {"GUEST_RIP", 0x0000800000000000ull, false, "RIP not canonical"},
        {"GUEST_FS_BASE", 0x0000800000000000ull, false, "FS base not canonical"},
        {"GUEST_GDTR_LIMIT", 0x10000, false, "GDTR limit bit 16"},
        {"GUEST_INTERRUPTIBILITY_INFO", 3, false, "STI and MOV SS blocking"},
        {"GUEST_INTERRUPTIBILITY_INFO", 1, false, "STI blocking with IF 0"},
        {"GUEST_INTERRUPTIBILITY_INFO", 0x20, false, "interruptibility bit 5"},
        {"GUEST_PENDING_DBG_EXCEPTIONS", 0x10, false, "pending debug bit 4"},
        {"GUEST_SYSENTER_ESP", 0x0000800000000000ull, false, "SYSENTER_ESP not canonical"},
        {"GUEST_SYSENTER_EIP", 0xaaaaaaaaaaaaaaaaull, false, "SYSENTER_EIP not canonical"},
        {"GUEST_SS_SELECTOR", 0x13, false, "SS.RPL != CS.RPL"},
        {"GUEST_DS_AR_BYTES", 0xc092, false, "DS not accessed"},
        {"GUEST_ES_AR_BYTES", 0xc099, false, "ES execute-only code"},
        {"GUEST_FS_AR_BYTES", 0xc083, false, "FS a system segment"},
        {"GUEST_GS_AR_BYTES", 0xc013, false, "GS usable, not present"},
        {"GUEST_DS_LIMIT", 0xffff0000u, false, "limit 11:0 not all ones with G"},
        {"GUEST_ES_AR_BYTES", 0x4093, false, "limit 31:20 set without G"},
        {"GUEST_CS_AR_BYTES", 0xe09b, false, "CS.L and CS.D in IA-32e mode"},
        {"GUEST_CS_AR_BYTES", 0xa0bb, false, "non-conforming CS.DPL != SS.DPL"},
        {"GUEST_SS_AR_BYTES", 0xc0b3, false, "SS.DPL != SS.RPL"},
        {"GUEST_DS_SELECTOR", 0x13, false, "data DPL below its RPL"},
    };
    for (size_t i = 0; i < sizeof(muts) / sizeof(muts[0]); i++) {
        struct fx f;
        fx_open(&f, "sapphire-rapids");
        apply(&f, &muts[i]);
        expect_fail_exit(&f, 33, 0, muts[i].why);
        fx_close(&f);
    }
    /* An unusable LDTR's base is not checked; a usable one must be
     * canonical. */
    {
        struct fx g;
        struct vmdl_vmx_result r;
        fx_open(&g, "sapphire-rapids");
        pk(&g, "GUEST_LDTR_BASE", 0xaaaaaaaaaaaaaaaaull);
        assert_int_equal(enter(&g, false, &r).outcome, VMDL_VMX_ENTRY_ENTERED);
        fx_close(&g);
        fx_open(&g, "sapphire-rapids");
        pk(&g, "GUEST_LDTR_BASE", 0xaaaaaaaaaaaaaaaaull);
        pk(&g, "GUEST_LDTR_AR_BYTES", 0x82);
        expect_fail_exit(&g, 33, 0, "usable LDTR, base not canonical");
        fx_close(&g);
    }
    /* CR4.PCIDE is fine in IA-32e mode, not outside it. */
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    pk(&f, "GUEST_CR4", 0x22020);
    pk(&f, "VM_ENTRY_CONTROLS", low(f.caps.true_entry));
    pk(&f, "GUEST_CS_AR_BYTES", 0xc09b);
    expect_fail_exit(&f, 33, 0, "PCIDE outside IA-32e mode");
    fx_close(&f);
}

/* A 32-bit PAE guest (KVM's nested_vmx_load_cr3 and load_pdptrs; SDM
 * 27.3.1.1 and 27.3.1.6): GUEST_CR3 beyond MAXPHYADDR fails with
 * qualification 0, a present PDPTE with a reserved bit (2:1, 8:5, 63 and
 * MAXPHYADDR up) with qualification 2: read from the page at CR3 without
 * EPT, from GUEST_PDPTR0-3 with EPT.  CR3 bits 4:0 are ignored. */
static void pae_guest(struct fx *f)
{
    pk(f, "VM_ENTRY_CONTROLS", low(f->caps.true_entry));
    pk(f, "GUEST_CR4", 0x2020);
    pk(f, "GUEST_CS_AR_BYTES", 0xc09b);
    pk(f, "GUEST_CR3", 0x60000);
    for (unsigned i = 0; i < 4; i++)
        put64(f, 0x60000 + 8 * i, (0x61000 + 0x1000ull * i) | 1);
}

static void test_entry_guest_cr3_and_pdptes(void **state)
{
    (void)state;
    struct vmdl_vmx_result r;
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    pae_guest(&f);
    assert_int_equal(enter(&f, false, &r).outcome, VMDL_VMX_ENTRY_ENTERED);
    fx_close(&f);
    for (unsigned b = 0; b <= 4; b++) {                 /* ignored bits */
        fx_open(&f, "sapphire-rapids");
        pae_guest(&f);
        pk(&f, "GUEST_CR3", 0x60000 | (1u << b));
        assert_int_equal(enter(&f, false, &r).outcome, VMDL_VMX_ENTRY_ENTERED);
        fx_close(&f);
    }
    for (unsigned b = 46; b < 64; b++) {                /* MAXPHYADDR 46 */
        fx_open(&f, "sapphire-rapids");
        pae_guest(&f);
        pk(&f, "GUEST_CR3", 0x60000 | (1ull << b));
        expect_fail_exit(&f, 33, 0, "GUEST_CR3 beyond MAXPHYADDR");
        fx_close(&f);
    }
    /* The 64-bit guest too (KVM checks CR3 whatever the paging mode). */
    fx_open(&f, "sapphire-rapids");
    pk(&f, "GUEST_CR3", 1ull << 50);
    expect_fail_exit(&f, 33, 0, "64-bit GUEST_CR3 beyond MAXPHYADDR");
    fx_close(&f);
    static const unsigned rsvd[] = {1, 2, 5, 6, 7, 8, 46, 51, 52, 62, 63};
    for (size_t i = 0; i < sizeof(rsvd) / sizeof(rsvd[0]); i++) {
        for (unsigned pdpte = 0; pdpte < 4; pdpte += 3) {
            fx_open(&f, "sapphire-rapids");
            pae_guest(&f);
            put64(&f, 0x60000 + 8 * pdpte, get64(&f, 0x60000 + 8 * pdpte) | 1ull << rsvd[i]);
            expect_fail_exit(&f, 33, 2, "PDPTE reserved bit");
            fx_close(&f);
        }
    }
    /* Not present: not checked.  Bits 9-11 and 3-4 (PWT/PCD) are not
     * reserved.  A 64-bit guest has no PDPTEs to load. */
    fx_open(&f, "sapphire-rapids");
    pae_guest(&f);
    put64(&f, 0x60008, 0xFFFFFFFFFFFFFFFEull);
    put64(&f, 0x60010, get64(&f, 0x60010) | 0xE18);
    assert_int_equal(enter(&f, false, &r).outcome, VMDL_VMX_ENTRY_ENTERED);
    fx_close(&f);
    fx_open(&f, "sapphire-rapids");
    put64(&f, 0x60000, 0xFFFFFFFFFFFFFFFFull);
    assert_int_equal(enter(&f, false, &r).outcome, VMDL_VMX_ENTRY_ENTERED);
    fx_close(&f);
    /* With EPT the PDPTEs come from vmcs12 (memory is not read). */
    fx_open(&f, "sapphire-rapids");
    pae_guest(&f);
    put64(&f, 0x60000, 0xFFFFFFFFFFFFFFFFull);
    put64(&f, 0x70000, 0x71000 | 7);            /* an EPT PML4 (not walked here) */
    pk(&f, "CPU_BASED_VM_EXEC_CONTROL", pe(&f, "CPU_BASED_VM_EXEC_CONTROL") | VMDL_PROC_SECONDARY);
    pk(&f, "SECONDARY_VM_EXEC_CONTROL", VMDL_PROC2_EPT);
    pk(&f, "EPT_POINTER", 0x70000 | 6 | (3 << 3));
    pk(&f, "GUEST_PDPTR0", 0x61001);
    assert_int_equal(enter(&f, false, &r).outcome, VMDL_VMX_ENTRY_ENTERED);
    fx_close(&f);
    fx_open(&f, "sapphire-rapids");
    pae_guest(&f);
    pk(&f, "CPU_BASED_VM_EXEC_CONTROL", pe(&f, "CPU_BASED_VM_EXEC_CONTROL") | VMDL_PROC_SECONDARY);
    pk(&f, "SECONDARY_VM_EXEC_CONTROL", VMDL_PROC2_EPT);
    pk(&f, "EPT_POINTER", 0x70000 | 6 | (3 << 3));
    pk(&f, "GUEST_PDPTR2", 0x61001 | (1ull << 52));
    expect_fail_exit(&f, 33, 2, "GUEST_PDPTR2 reserved bit under EPT");
    fx_close(&f);
}

static void test_entry_guest_debug_pat_efer(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    pk(&f, "VM_ENTRY_CONTROLS", pe(&f, "VM_ENTRY_CONTROLS") | VMDL_ENTRYCTL_LOAD_DEBUG);
    pk(&f, "GUEST_DR7", 1ull << 32);
    expect_fail_exit(&f, 33, 0, "DR7 bits 63:32 with load debug controls");
    fx_close(&f);
    fx_open(&f, "sapphire-rapids");
    pk(&f, "VM_ENTRY_CONTROLS", pe(&f, "VM_ENTRY_CONTROLS") | VMDL_ENTRYCTL_LOAD_PAT);
    pk(&f, "GUEST_IA32_PAT", 0x0707070707070703ull);
    expect_fail_exit(&f, 33, 0, "guest PAT type 3");
    fx_close(&f);
    fx_open(&f, "sapphire-rapids");
    pk(&f, "VM_ENTRY_CONTROLS", pe(&f, "VM_ENTRY_CONTROLS") | VMDL_ENTRYCTL_LOAD_EFER);
    pk(&f, "GUEST_IA32_EFER", EFER_LME); /* LMA must follow the IA-32e control */
    expect_fail_exit(&f, 33, 0, "guest EFER.LMA vs IA-32e mode guest");
    pk(&f, "GUEST_IA32_EFER", EFER_LME | EFER_LMA | 1);
    struct vmdl_vmx_cpu l1 = f.l1;
    struct vmdl_vmx_result r;
    /* A fail exit changed f.l1 to the host state: restore L1 for the retry. */
    f.l1 = l1;
    f.l1.efer = EFER_LME | EFER_LMA;
    assert_int_equal(enter(&f, false, &r).outcome, VMDL_VMX_ENTRY_ENTERED);
    assert_int_equal(f.l1.efer, EFER_LME | EFER_LMA | 1);
    fx_close(&f);
}

/* GUEST_IA32_DEBUGCTL as current KVM checks and loads it
 * (nested_vmx_check_guest_state with vmx_is_valid_debugctl, then the value
 * masked with vmx_get_supported_debugctl): LBR and BTF beyond what the
 * vCPU implements are dropped, any other such bit fails the entry. */
static void test_entry_guest_debugctl_kvm(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    pk(&f, "VM_ENTRY_CONTROLS", pe(&f, "VM_ENTRY_CONTROLS") | VMDL_ENTRYCTL_LOAD_DEBUG);
    pk(&f, "GUEST_IA32_DEBUGCTL", 0x8000);      /* RTM_DEBUG: no RTM */
    expect_fail_exit(&f, 33, 0, "DEBUGCTL.RTM_DEBUG the vCPU lacks");
    fx_close(&f);
    fx_open(&f, "sapphire-rapids");
    pk(&f, "VM_ENTRY_CONTROLS", pe(&f, "VM_ENTRY_CONTROLS") | VMDL_ENTRYCTL_LOAD_DEBUG);
    pk(&f, "GUEST_IA32_DEBUGCTL", 0x3);         /* LBR | BTF */
    f.l1.debugctl = 0;
    struct vmdl_vmx_result r;
    assert_int_equal(enter(&f, false, &r).outcome, VMDL_VMX_ENTRY_ENTERED);
    assert_int_equal(f.l1.debugctl, 0);
    fx_close(&f);
    fx_open(&f, "sapphire-rapids");
    assert_int_equal(vmdl_vmx_set_debugctl_supported(f.vmx, 0x8000), 0);
    assert_int_not_equal(vmdl_vmx_set_debugctl_supported(NULL, 0), 0);
    pk(&f, "VM_ENTRY_CONTROLS", pe(&f, "VM_ENTRY_CONTROLS") | VMDL_ENTRYCTL_LOAD_DEBUG);
    pk(&f, "GUEST_IA32_DEBUGCTL", 0x8001);
    assert_int_equal(enter(&f, false, &r).outcome, VMDL_VMX_ENTRY_ENTERED);
    assert_int_equal(f.l1.debugctl, 0x8000);
    fx_close(&f);
}

static void test_entry_vmcs_link_pointer(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    pk(&f, "VMCS_LINK_POINTER", LINK_PA + 8);
    expect_fail_exit(&f, 33, 4, "link pointer not aligned: qualification 4");
    fx_close(&f);
    fx_open(&f, "sapphire-rapids");
    pk(&f, "VMCS_LINK_POINTER", LINK_PA);
    put32(&f, LINK_PA, 0x12345);
    expect_fail_exit(&f, 33, 4, "link pointer revision wrong");
    fx_close(&f);
    fx_open(&f, "sapphire-rapids");
    pk(&f, "VMCS_LINK_POINTER", LINK_PA); /* our revision, no shadow bit */
    struct vmdl_vmx_result r;
    assert_int_equal(enter(&f, false, &r).outcome, VMDL_VMX_ENTRY_ENTERED);
    fx_close(&f);
    /* CR0 is checked before the link pointer (KVM's order). */
    fx_open(&f, "sapphire-rapids");
    pk(&f, "VMCS_LINK_POINTER", 8);
    pk(&f, "GUEST_CR0", 0);
    expect_fail_exit(&f, 33, 0, "CR0 before link pointer");
    fx_close(&f);
}

static vmdl_fault msr_write_ok(void *opaque, uint32_t index, uint64_t value)
{
    uint64_t *log = opaque;
    if (index == 0x10)          /* IA32_TSC: refuse, to test failures */
        return VMDL_FAULT_GP;
    log[0] = index;
    log[1] = value;
    return VMDL_FAULT_NONE;
}

static vmdl_fault msr_read_ok(void *opaque, uint32_t index, uint64_t *value)
{
    (void)opaque;
    *value = 0xabc00000ull | index;
    return index == 0x10 ? VMDL_FAULT_GP : VMDL_FAULT_NONE;
}

static void put_entry(struct fx *f, uint64_t pa, uint32_t index, uint32_t rsvd, uint64_t v)
{
    put32(f, pa, index);
    put32(f, pa + 4, rsvd);
    put64(f, pa + 8, v);
}

static void test_entry_msr_load_list(void **state)
{
    (void)state;
    uint64_t log[2] = {0, 0};
    struct vmdl_vmx_msr_ops ops = {msr_read_ok, msr_write_ok, log};
    struct {
        uint32_t index, rsvd;
        uint64_t qual;
        const char *why;
    } bad[] = {
        {0x808, 0, 2, "x2APIC TPR in the list"},
        {0xc0000100, 0, 2, "FS_BASE in the list"},
        {0x8b, 0, 2, "microcode revision"},
        {0x3b, 1, 2, "reserved word non-zero"},
        {0x10, 0, 2, "write refused by the MSR owner"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct fx f;
        fx_open(&f, "sapphire-rapids");
        pk(&f, "VM_ENTRY_MSR_LOAD_ADDR", LIST_PA);
        pk(&f, "VM_ENTRY_MSR_LOAD_COUNT", 2);
        put_entry(&f, LIST_PA, 0x277, 0, 0x0606060606060606ull);
        put_entry(&f, LIST_PA + 16, bad[i].index, bad[i].rsvd, 5);
        struct vmdl_vmx_result r;
        struct vmdl_vmx_entry e;
        assert_int_equal(vmdl_vmx_nested_enter(f.vmx, &f.ctx, false, &f.l1, &ops, &r, &e), 0);
        if (e.outcome != VMDL_VMX_ENTRY_FAIL_EXIT)
            fail_msg("%s: outcome %d", bad[i].why, e.outcome);
        assert_int_equal(pe(&f, "VM_EXIT_REASON"), 34 | 0x80000000u);
        assert_int_equal(pe(&f, "EXIT_QUALIFICATION"), bad[i].qual);
        assert_int_equal(f.l1.rip, 0x401000);
        fx_close(&f);
    }
    /* A good list: PAT lands in L2's state, another MSR goes to the ops. */
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    pk(&f, "VM_ENTRY_MSR_LOAD_ADDR", LIST_PA);
    pk(&f, "VM_ENTRY_MSR_LOAD_COUNT", 2);
    put_entry(&f, LIST_PA, 0x277, 0, 0x0606060606060606ull);
    put_entry(&f, LIST_PA + 16, 0x3b, 0, 77);
    struct vmdl_vmx_result r;
    struct vmdl_vmx_entry e;
    assert_int_equal(vmdl_vmx_nested_enter(f.vmx, &f.ctx, false, &f.l1, &ops, &r, &e), 0);
    assert_int_equal(e.outcome, VMDL_VMX_ENTRY_ENTERED);
    assert_int_equal(f.l1.pat, 0x0606060606060606ull);
    assert_int_equal(log[0], 0x3b);
    assert_int_equal(log[1], 77);
    fx_close(&f);
    /* More entries than IA32_VMX_MISC allows (512 here): entry 513 fails. */
    fx_open(&f, "sapphire-rapids");
    pk(&f, "VM_ENTRY_MSR_LOAD_ADDR", 0x10000);
    pk(&f, "VM_ENTRY_MSR_LOAD_COUNT", 600);
    for (unsigned i = 0; i < 600; i++)
        put_entry(&f, 0x10000 + 16 * i, 0x3b, 0, i);
    assert_int_equal(vmdl_vmx_nested_enter(f.vmx, &f.ctx, false, &f.l1, &ops, &r, &e), 0);
    assert_int_equal(e.outcome, VMDL_VMX_ENTRY_FAIL_EXIT);
    assert_int_equal(pe(&f, "EXIT_QUALIFICATION"), 513);
    fx_close(&f);
}

/* ---- VM exits ---- */

static void test_exit_saves_guest_loads_host(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    pk(&f, "VM_ENTRY_INTR_INFO_FIELD", 0x80000303); /* hardware exception 3 */
    struct vmdl_vmx_result r;
    assert_int_equal(enter(&f, false, &r).outcome, VMDL_VMX_ENTRY_ENTERED);
    f.l1.rip = 0x500002;
    f.l1.rsp = 0x8fff0;
    f.l1.rflags = 0x246;
    f.l1.seg[VMDL_VMX_SEG_FS].base = 0x7000;
    f.l1.interruptibility = 1;
    struct vmdl_vmx_exit_info info = {.reason = VMDL_VMX_EXIT_CPUID, .insn_len = 2};
    bool abort = true;
    assert_int_equal(vmdl_vmx_nested_exit(f.vmx, &info, &f.l1, NULL, &abort), 0);
    assert_false(abort);
    assert_false(vmdl_vmx_in_guest_mode(f.vmx));
    /* Saved guest state. */
    assert_int_equal(pe(&f, "GUEST_RIP"), 0x500002);
    assert_int_equal(pe(&f, "GUEST_RSP"), 0x8fff0);
    assert_int_equal(pe(&f, "GUEST_RFLAGS"), 0x246);
    assert_int_equal(pe(&f, "GUEST_FS_BASE"), 0x7000);
    assert_int_equal(pe(&f, "GUEST_INTERRUPTIBILITY_INFO"), 1);
    /* Exit information; the entry event consumed. */
    assert_int_equal(pe(&f, "VM_EXIT_REASON"), 10);
    assert_int_equal(pe(&f, "VM_EXIT_INSTRUCTION_LEN"), 2);
    assert_int_equal(pe(&f, "VM_ENTRY_INTR_INFO_FIELD") >> 31, 0);
    assert_int_equal(pe(&f, "VM_ENTRY_CONTROLS") & VMDL_ENTRYCTL_IA32E, VMDL_ENTRYCTL_IA32E);
    /* Host state (SDM 28.5 / KVM load_vmcs12_host_state). */
    assert_int_equal(f.l1.rip, 0x401000);
    assert_int_equal(f.l1.rsp, 0x7ff0);
    assert_int_equal(f.l1.rflags, 2);
    assert_int_equal(f.l1.cr3, 0x10000);
    assert_int_equal(f.l1.dr7, 0x400);
    assert_int_equal(f.l1.debugctl, 0);
    assert_int_equal(f.l1.gdtr_base, 0x30000);
    assert_int_equal(f.l1.gdtr_limit, 0xffff);
    assert_int_equal(f.l1.idtr_limit, 0xffff);
    assert_int_equal(f.l1.seg[VMDL_VMX_SEG_CS].ar & 0xf0ff, 0xa09b & 0xf0ff);
    assert_int_equal(f.l1.seg[VMDL_VMX_SEG_TR].limit, 0x67);
    assert_int_equal(f.l1.seg[VMDL_VMX_SEG_TR].base, 0x20000);
    assert_int_equal(f.l1.seg[VMDL_VMX_SEG_LDTR].ar, VMDL_VMX_AR_UNUSABLE);
    assert_int_equal(f.l1.efer & (EFER_LMA | EFER_LME), EFER_LMA | EFER_LME);
    assert_int_equal(f.l1.interruptibility, 0);
    /* Launched: VMLAUNCH now fails with 4, VMRESUME enters. */
    f.l1.efer = EFER_LME | EFER_LMA;
    expect_vmfail(&f, 4, "VMLAUNCH of a launched VMCS");
    struct vmdl_vmx_entry e = enter(&f, true, &r);
    assert_int_equal(e.outcome, VMDL_VMX_ENTRY_ENTERED);
    assert_int_equal(f.l1.rip, 0x500002);
    /* Exiting twice is refused. */
    assert_int_equal(vmdl_vmx_nested_exit(f.vmx, &info, &f.l1, NULL, &abort), 0);
    assert_int_not_equal(vmdl_vmx_nested_exit(f.vmx, &info, &f.l1, NULL, &abort), 0);
    fx_close(&f);
}

static void test_exit_msr_lists(void **state)
{
    (void)state;
    uint64_t log[2] = {0, 0};
    struct vmdl_vmx_msr_ops ops = {msr_read_ok, msr_write_ok, log};
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    pk(&f, "VM_EXIT_MSR_STORE_ADDR", LIST_PA);
    pk(&f, "VM_EXIT_MSR_STORE_COUNT", 2);
    put_entry(&f, LIST_PA, 0x277, 0, 0);
    put_entry(&f, LIST_PA + 16, 0x3b, 0, 0);
    pk(&f, "VM_EXIT_MSR_LOAD_ADDR", LIST_PA + 0x100);
    pk(&f, "VM_EXIT_MSR_LOAD_COUNT", 1);
    put_entry(&f, LIST_PA + 0x100, 0x174, 0, 0x23);
    struct vmdl_vmx_result r;
    struct vmdl_vmx_entry e;
    assert_int_equal(vmdl_vmx_nested_enter(f.vmx, &f.ctx, false, &f.l1, &ops, &r, &e), 0);
    assert_int_equal(e.outcome, VMDL_VMX_ENTRY_ENTERED);
    f.l1.pat = 0x0007040600070406ull;
    struct vmdl_vmx_exit_info info = {.reason = VMDL_VMX_EXIT_HLT, .insn_len = 1};
    bool abort = true;
    assert_int_equal(vmdl_vmx_nested_exit(f.vmx, &info, &f.l1, &ops, &abort), 0);
    assert_false(abort);
    assert_int_equal(get64(&f, LIST_PA + 8), 0x0007040600070406ull);
    assert_int_equal(get64(&f, LIST_PA + 24), 0xabc0003bull);
    /* The host SYSENTER_CS came from HOST_IA32_SYSENTER_CS, then the list. */
    assert_int_equal(f.l1.sysenter_cs, 0x23);
    /* A failing host MSR load is a VMX abort (KVM: triple fault). */
    assert_int_equal(enter(&f, true, &r).outcome, VMDL_VMX_ENTRY_ENTERED);
    put_entry(&f, LIST_PA + 0x100, 0x10, 0, 1);
    assert_int_equal(vmdl_vmx_nested_exit(f.vmx, &info, &f.l1, &ops, &abort), 0);
    assert_true(abort);
    fx_close(&f);
}

/* ---- the exit decision ---- */

static void entered(struct fx *f)
{
    struct vmdl_vmx_result r;
    assert_int_equal(enter(f, false, &r).outcome, VMDL_VMX_ENTRY_ENTERED);
}

static bool wants(struct fx *f, struct vmdl_vmx_l2_event ev, struct vmdl_vmx_exit_info *i)
{
    return vmdl_vmx_l1_wants(f->vmx, &ev, i);
}

static void set_proc(struct fx *f, uint32_t bits)
{
    pk(f, "CPU_BASED_VM_EXEC_CONTROL", low(f->caps.true_procbased) | bits);
}

/* A VMX-instruction event must carry a VMX instruction's exit reason
 * (SDM appendix C); any other is refused, never stored as an exit reason
 * (fuzz_vmx found reason 158 reaching VM_EXIT_REASON). */
static void test_wants_refuses_non_vmx_insn_reason(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    entered(&f);
    struct vmdl_vmx_exit_info i;
    const uint32_t good[] = {18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 50, 53, 59};
    for (unsigned k = 0; k < sizeof(good) / sizeof(good[0]); k++) {
        assert_true(wants(&f, (struct vmdl_vmx_l2_event){.kind = VMDL_L2_VMX_INSN,
                                                         .vmx_exit = good[k]}, &i));
        assert_int_equal(i.reason, good[k]);
    }
    const uint32_t bad[] = {0, 10, 17, 28, 49, 51, 60, 158, 0x80000021u};
    for (unsigned k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        assert_false(wants(&f, (struct vmdl_vmx_l2_event){.kind = VMDL_L2_VMX_INSN,
                                                          .vmx_exit = bad[k]}, &i));
        assert_int_equal(i.reason, 0);
    }
    fx_close(&f);
}

static void test_wants_unconditional_and_controls(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    entered(&f);
    struct vmdl_vmx_exit_info i;
    /* CPUID, VMCALL, INVD, XSETBV, VMX instructions always exit. */
    assert_true(wants(&f, (struct vmdl_vmx_l2_event){.kind = VMDL_L2_CPUID, .insn_len = 2}, &i));
    assert_int_equal(i.reason, 10);
    assert_int_equal(i.insn_len, 2);
    assert_true(wants(&f, (struct vmdl_vmx_l2_event){.kind = VMDL_L2_VMCALL, .insn_len = 3}, &i));
    assert_int_equal(i.reason, 18);
    assert_true(wants(&f, (struct vmdl_vmx_l2_event){.kind = VMDL_L2_VMX_INSN,
                                                     .vmx_exit = VMDL_VMX_EXIT_VMREAD,
                                                     .insn_info = 0x1234}, &i));
    assert_int_equal(i.reason, 23);
    assert_int_equal(i.insn_info, 0x1234);
    assert_true(wants(&f, (struct vmdl_vmx_l2_event){.kind = VMDL_L2_TRIPLE_FAULT}, &i));
    assert_int_equal(i.reason, 2);
    assert_true(wants(&f, (struct vmdl_vmx_l2_event){.kind = VMDL_L2_INIT}, &i));
    assert_int_equal(i.reason, 3);
    /* Conditional on a primary control: HLT, RDTSC, RDPMC, INVLPG, MOV DR, PAUSE. */
    struct { enum vmdl_vmx_l2_kind k; uint32_t bit; uint32_t reason; } c[] = {
        {VMDL_L2_HLT, VMDL_PROC_HLT, 12}, {VMDL_L2_RDTSC, VMDL_PROC_RDTSC, 16},
        {VMDL_L2_RDPMC, VMDL_PROC_RDPMC, 15}, {VMDL_L2_INVLPG, VMDL_PROC_INVLPG, 14},
        {VMDL_L2_MOV_DR, VMDL_PROC_MOV_DR, 29}, {VMDL_L2_PAUSE, VMDL_PROC_PAUSE, 40},
        {VMDL_L2_MWAIT, VMDL_PROC_MWAIT, 36}, {VMDL_L2_MONITOR, VMDL_PROC_MONITOR, 39},
        {VMDL_L2_INTR_WINDOW, VMDL_PROC_INTR_WINDOW, 7},
    };
    for (size_t k = 0; k < sizeof(c) / sizeof(c[0]); k++) {
        set_proc(&f, 0);
        assert_false(wants(&f, (struct vmdl_vmx_l2_event){.kind = c[k].k}, &i));
        set_proc(&f, c[k].bit);
        assert_true(wants(&f, (struct vmdl_vmx_l2_event){.kind = c[k].k}, &i));
        assert_int_equal(i.reason, c[k].reason);
    }
    /* Qualifications: INVLPG address; MOV DR number, direction, register. */
    set_proc(&f, VMDL_PROC_INVLPG | VMDL_PROC_MOV_DR);
    wants(&f, (struct vmdl_vmx_l2_event){.kind = VMDL_L2_INVLPG, .addr = 0xdead000}, &i);
    assert_int_equal(i.qualification, 0xdead000);
    wants(&f, (struct vmdl_vmx_l2_event){.kind = VMDL_L2_MOV_DR, .dr = 7, .to_reg = true,
                                         .gpr = 3}, &i);
    assert_int_equal(i.qualification, 7 | 1 << 4 | 3 << 8);
    /* Interrupt windows carry no instruction length. */
    set_proc(&f, VMDL_PROC_INTR_WINDOW);
    wants(&f, (struct vmdl_vmx_l2_event){.kind = VMDL_L2_INTR_WINDOW, .insn_len = 3}, &i);
    assert_int_equal(i.insn_len, 0);
    fx_close(&f);
}

static void test_wants_exceptions_and_pf_match(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    entered(&f);
    struct vmdl_vmx_exit_info i;
    struct vmdl_vmx_l2_event ud = {.kind = VMDL_L2_EXCEPTION, .vector = 6};
    assert_false(wants(&f, ud, &i));
    pk(&f, "EXCEPTION_BITMAP", 1u << 6);
    assert_true(wants(&f, ud, &i));
    assert_int_equal(i.reason, 0);
    assert_int_equal(i.intr_info, 0x80000306);
    struct vmdl_vmx_l2_event gp = {.kind = VMDL_L2_EXCEPTION, .vector = 13,
                                   .has_error = true, .error_code = 0x10};
    pk(&f, "EXCEPTION_BITMAP", 1u << 13);
    assert_true(wants(&f, gp, &i));
    assert_int_equal(i.intr_info, 0x80000b0d);
    assert_int_equal(i.intr_error, 0x10);
    /* #DB: the qualification is its DR6 bits B0-B3, BD, BS, RTM (SDM
     * 28.2.1), nothing else of the value given */
    struct vmdl_vmx_l2_event db = {.kind = VMDL_L2_EXCEPTION, .vector = 1,
                                   .addr = 0x20004001ull};
    pk(&f, "EXCEPTION_BITMAP", 1u << 1);
    assert_true(wants(&f, db, &i));
    assert_int_equal(i.qualification, 0x4001);
    /* #PF: bit 14 set -> exit iff (PFEC & MASK) == MATCH; clear -> iff !=. */
    struct vmdl_vmx_l2_event pf = {.kind = VMDL_L2_EXCEPTION, .vector = 14,
                                   .has_error = true, .error_code = 0x2, .addr = 0xbad000};
    pk(&f, "PAGE_FAULT_ERROR_CODE_MASK", 0x2);
    pk(&f, "PAGE_FAULT_ERROR_CODE_MATCH", 0x2);
    pk(&f, "EXCEPTION_BITMAP", 1u << 14);
    assert_true(wants(&f, pf, &i));
    assert_int_equal(i.qualification, 0xbad000);
    pf.error_code = 0;
    assert_false(wants(&f, pf, &i));
    pk(&f, "EXCEPTION_BITMAP", 0);
    assert_true(wants(&f, pf, &i));
    pf.error_code = 2;
    assert_false(wants(&f, pf, &i));
    /* mask = match = 0, bit 14 clear: no #PF ever exits. */
    pk(&f, "PAGE_FAULT_ERROR_CODE_MASK", 0);
    pk(&f, "PAGE_FAULT_ERROR_CODE_MATCH", 0);
    assert_false(wants(&f, pf, &i));
    /* A software exception (INT3) reports its length. */
    pk(&f, "EXCEPTION_BITMAP", 1u << 3);
    assert_true(wants(&f, (struct vmdl_vmx_l2_event){.kind = VMDL_L2_EXCEPTION, .vector = 3,
                                                     .type = VMDL_INTR_TYPE_SOFT_EXCEPTION,
                                                     .insn_len = 1}, &i));
    assert_int_equal(i.intr_info, 0x80000603);
    assert_int_equal(i.insn_len, 1);
    fx_close(&f);
}

static void test_wants_io(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    entered(&f);
    struct vmdl_vmx_exit_info i;
    struct vmdl_vmx_l2_event out = {.kind = VMDL_L2_IO, .port = 0x3f8, .size = 1, .imm = false};
    assert_false(wants(&f, out, &i));
    set_proc(&f, VMDL_PROC_UNCOND_IO);
    assert_true(wants(&f, out, &i));
    assert_int_equal(i.reason, 30);
    assert_int_equal(i.qualification, 0x3f80000ull);
    struct vmdl_vmx_l2_event in = {.kind = VMDL_L2_IO, .port = 0x80, .size = 4, .in = true,
                                   .string = true, .rep = true, .imm = true};
    wants(&f, in, &i);
    assert_int_equal(i.qualification, 3 | 1 << 3 | 1 << 4 | 1 << 5 | 1 << 6 | 0x80ull << 16);
    /* Bitmaps override unconditional exiting. */
    set_proc(&f, VMDL_PROC_UNCOND_IO | VMDL_PROC_IO_BITMAPS);
    pk(&f, "IO_BITMAP_A", IO_A);
    pk(&f, "IO_BITMAP_B", IO_B);
    assert_false(wants(&f, out, &i));
    f.ram[IO_A + 0x3f8 / 8] |= 1u << (0x3f8 % 8);
    assert_true(wants(&f, out, &i));
    /* A 2-byte access touching a marked port exits. */
    struct vmdl_vmx_l2_event w = {.kind = VMDL_L2_IO, .port = 0x3f7, .size = 2};
    assert_true(wants(&f, w, &i));
    /* Ports from 0x8000 use bitmap B. */
    struct vmdl_vmx_l2_event hi = {.kind = VMDL_L2_IO, .port = 0x8001, .size = 1};
    assert_false(wants(&f, hi, &i));
    f.ram[IO_B + 0] |= 2;
    assert_true(wants(&f, hi, &i));
    /* Wrapping past 0xFFFF always exits. */
    struct vmdl_vmx_l2_event wrap = {.kind = VMDL_L2_IO, .port = 0xffff, .size = 2};
    assert_true(wants(&f, wrap, &i));
    fx_close(&f);
}

/* Descriptor-table exiting (SDM 26.1.3): reasons 46 (SGDT SIDT LGDT LIDT)
 * and 47 (SLDT STR LLDT LTR) on the secondary control, the displacement as
 * qualification (28.2.1), the instruction information passed through. */
static void test_wants_desc_table(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    entered(&f);
    struct vmdl_vmx_exit_info i;
    /* LIDT [rbx + 0x40]: identity 3 << 28, 64-bit address (2 << 7), DS (3 << 15),
     * index invalid (22), base RBX (3 << 23). */
    uint32_t info = 3u << 28 | 1u << 11 | 2u << 7 | 3u << 15 | 1u << 22 | 3u << 23;
    struct vmdl_vmx_l2_event lidt = {.kind = VMDL_L2_DESC_TABLE, .desc = 3, .disp = 0x40,
                                     .insn_len = 4, .insn_info = info};
    assert_false(wants(&f, lidt, &i));
    set_proc(&f, VMDL_PROC_SECONDARY);
    assert_false(wants(&f, lidt, &i));      /* secondary control still clear */
    pk(&f, "SECONDARY_VM_EXEC_CONTROL", VMDL_PROC2_DESC_TABLE);
    set_proc(&f, 0);
    assert_false(wants(&f, lidt, &i));      /* ... or secondary controls off */
    set_proc(&f, VMDL_PROC_SECONDARY);
    assert_true(wants(&f, lidt, &i));
    assert_int_equal(i.reason, VMDL_VMX_EXIT_GDTR_IDTR);
    assert_int_equal(i.qualification, 0x40);
    assert_int_equal(i.insn_info, info);
    assert_int_equal(i.insn_len, 4);
    /* STR eax: register form (bit 10), reg1 = 0, identity 1. */
    struct vmdl_vmx_l2_event str = {.kind = VMDL_L2_DESC_TABLE, .desc = 5, .insn_len = 3,
                                    .insn_info = 1u << 28 | 1u << 10};
    assert_true(wants(&f, str, &i));
    assert_int_equal(i.reason, VMDL_VMX_EXIT_LDTR_TR);
    assert_int_equal(i.qualification, 0);
    /* An instruction number beyond LTR is refused, not reported. */
    str.desc = 8;
    assert_false(wants(&f, str, &i));
    fx_close(&f);
}

static void test_wants_msr_bitmaps(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    entered(&f);
    struct vmdl_vmx_exit_info i;
    struct vmdl_vmx_l2_event rd = {.kind = VMDL_L2_RDMSR, .msr = 0x10};
    struct vmdl_vmx_l2_event wr = {.kind = VMDL_L2_WRMSR, .msr = 0x10};
    assert_true(wants(&f, rd, &i)); /* no bitmaps: every MSR access exits */
    assert_int_equal(i.reason, 31);
    set_proc(&f, VMDL_PROC_MSR_BITMAPS);
    pk(&f, "MSR_BITMAP", MSR_BM);
    assert_false(wants(&f, rd, &i));
    assert_false(wants(&f, wr, &i));
    f.ram[MSR_BM + 2048 + 0x10 / 8] |= 1u << (0x10 % 8); /* write-low bit */
    assert_false(wants(&f, rd, &i));
    assert_true(wants(&f, wr, &i));
    assert_int_equal(i.reason, 32);
    /* High range: read bitmap at 1024. */
    struct vmdl_vmx_l2_event lstar = {.kind = VMDL_L2_RDMSR, .msr = 0xc0000082};
    assert_false(wants(&f, lstar, &i));
    f.ram[MSR_BM + 1024 + 0x82 / 8] |= 1u << (0x82 % 8);
    assert_true(wants(&f, lstar, &i));
    /* Outside both ranges: always. */
    struct vmdl_vmx_l2_event odd = {.kind = VMDL_L2_RDMSR, .msr = 0x40000000};
    assert_true(wants(&f, odd, &i));
    fx_close(&f);
}

static void test_wants_cr_access(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    entered(&f);
    struct vmdl_vmx_exit_info i;
    pk(&f, "CR0_GUEST_HOST_MASK", 0x80000001);  /* L1 owns PG, PE */
    pk(&f, "CR0_READ_SHADOW", 0x80000001);
    struct vmdl_vmx_l2_event mov = {.kind = VMDL_L2_MOV_TO_CR, .cr = 0, .gpr = 2,
                                    .value = 0x80000033};
    assert_false(wants(&f, mov, &i));   /* owned bits equal the shadow */
    mov.value = 0x33;                   /* clears PG: differs from the shadow */
    assert_true(wants(&f, mov, &i));
    assert_int_equal(i.reason, 28);
    assert_int_equal(i.qualification, 0 | 0 << 4 | 2 << 8);
    /* What L2 reads and what a non-exiting write leaves. */
    assert_int_equal(vmdl_vmx_l2_read_cr(f.vmx, 0, 0x80000031), 0x80000031);
    pk(&f, "CR0_READ_SHADOW", 0x1);
    assert_int_equal(vmdl_vmx_l2_read_cr(f.vmx, 0, 0x80000031), 0x31);
    assert_int_equal(vmdl_vmx_l2_write_cr(f.vmx, 0, 0x80000031, 0x2a), 0x8000002bull);
    /* CR3: load exiting, store exiting. */
    struct vmdl_vmx_l2_event cr3 = {.kind = VMDL_L2_MOV_TO_CR, .cr = 3, .value = 0x9000};
    assert_false(wants(&f, cr3, &i));
    set_proc(&f, VMDL_PROC_CR3_LOAD);
    assert_true(wants(&f, cr3, &i));
    assert_false(wants(&f, (struct vmdl_vmx_l2_event){.kind = VMDL_L2_MOV_FROM_CR, .cr = 3}, &i));
    set_proc(&f, VMDL_PROC_CR3_STORE);
    assert_true(wants(&f, (struct vmdl_vmx_l2_event){.kind = VMDL_L2_MOV_FROM_CR, .cr = 3,
                                                     .gpr = 5}, &i));
    assert_int_equal(i.qualification, 3 | 1 << 4 | 5 << 8);
    /* CR8 load/store. */
    set_proc(&f, VMDL_PROC_CR8_LOAD);
    assert_true(wants(&f, (struct vmdl_vmx_l2_event){.kind = VMDL_L2_MOV_TO_CR, .cr = 8}, &i));
    assert_false(wants(&f, (struct vmdl_vmx_l2_event){.kind = VMDL_L2_MOV_FROM_CR, .cr = 8}, &i));
    /* CLTS: exits when L1 owns TS and its shadow has TS set. */
    pk(&f, "CR0_GUEST_HOST_MASK", 0x8);
    pk(&f, "CR0_READ_SHADOW", 0);
    assert_false(wants(&f, (struct vmdl_vmx_l2_event){.kind = VMDL_L2_CLTS}, &i));
    pk(&f, "CR0_READ_SHADOW", 0x8);
    assert_true(wants(&f, (struct vmdl_vmx_l2_event){.kind = VMDL_L2_CLTS}, &i));
    assert_int_equal(i.qualification, 2 << 4);
    /* LMSW: changes MP/EM/TS against the shadow, or sets an owned PE. */
    pk(&f, "CR0_GUEST_HOST_MASK", 0x1);
    pk(&f, "CR0_READ_SHADOW", 0);
    assert_true(wants(&f, (struct vmdl_vmx_l2_event){.kind = VMDL_L2_LMSW, .value = 1}, &i));
    assert_int_equal(i.qualification, 3 << 4 | 1 << 16);
    assert_false(wants(&f, (struct vmdl_vmx_l2_event){.kind = VMDL_L2_LMSW, .value = 0}, &i));
    fx_close(&f);
}

static void test_wants_interrupts_nmi_timer(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    entered(&f);
    struct vmdl_vmx_exit_info i;
    struct vmdl_vmx_l2_event irq = {.kind = VMDL_L2_EXT_INTR, .vector = 0x30};
    pk(&f, "PIN_BASED_VM_EXEC_CONTROL", low(f.caps.true_pinbased));
    /* The allowed-0 pin bits of the TRUE MSR exclude external-interrupt
     * exiting, so L2 takes the interrupt itself. */
    if (!(low(f.caps.true_pinbased) & VMDL_PIN_EXT_INTR))
        assert_false(wants(&f, irq, &i));
    pk(&f, "PIN_BASED_VM_EXEC_CONTROL", low(f.caps.true_pinbased) | VMDL_PIN_EXT_INTR);
    assert_true(wants(&f, irq, &i));
    assert_int_equal(i.reason, 1);
    assert_int_equal(i.intr_info, 0);   /* not acknowledged: info invalid */
    pk(&f, "VM_EXIT_CONTROLS", pe(&f, "VM_EXIT_CONTROLS") | VMDL_EXITCTL_ACK_INTR);
    assert_true(wants(&f, irq, &i));
    assert_int_equal(i.intr_info, 0x80000030);
    struct vmdl_vmx_l2_event nmi = {.kind = VMDL_L2_NMI};
    assert_false(wants(&f, nmi, &i));
    pk(&f, "PIN_BASED_VM_EXEC_CONTROL", pe(&f, "PIN_BASED_VM_EXEC_CONTROL") | VMDL_PIN_NMI_EXITING);
    assert_true(wants(&f, nmi, &i));
    assert_int_equal(i.intr_info, 0x80000202);
    struct vmdl_vmx_l2_event t = {.kind = VMDL_L2_PREEMPT_TIMER};
    assert_false(wants(&f, t, &i));
    pk(&f, "PIN_BASED_VM_EXEC_CONTROL", pe(&f, "PIN_BASED_VM_EXEC_CONTROL") | VMDL_PIN_PREEMPT_TIMER);
    assert_true(wants(&f, t, &i));
    assert_int_equal(i.reason, 52);
    fx_close(&f);
}

/* ---- INVEPT / INVVPID ---- */

/* ---- APIC virtualization for L2 (vmx_vapic.h, SDM Vol. 3C ch. 30) ---- */

static void put8(struct fx *f, uint64_t pa, uint8_t v)
{
    f->ram[pa] = v;
}

static uint32_t get32v(struct fx *f, uint64_t pa)
{
    uint32_t v;
    memcpy(&v, f->ram + pa, 4);
    return v;
}

static bool vbit(struct fx *f, unsigned base, unsigned vec)
{
    return (get32v(f, VAPIC + base + 0x10 * (vec / 32)) >> (vec % 32)) & 1;
}

static void set_vbit(struct fx *f, unsigned base, unsigned vec)
{
    put32(f, VAPIC + base + 0x10 * (vec / 32),
          get32v(f, VAPIC + base + 0x10 * (vec / 32)) | 1u << (vec % 32));
}

/* Virtual x2APIC mode with the given further secondary controls. */
static void vapic_setup(struct fx *f, uint32_t proc2)
{
    pk(f, "CPU_BASED_VM_EXEC_CONTROL",
       pe(f, "CPU_BASED_VM_EXEC_CONTROL") | VMDL_PROC_SECONDARY | VMDL_PROC_TPR_SHADOW);
    pk(f, "SECONDARY_VM_EXEC_CONTROL", VMDL_PROC2_X2APIC_MODE | proc2);
    pk(f, "VIRTUAL_APIC_PAGE_ADDR", VAPIC);
    memset(f->ram + VAPIC, 0, 4096);
}

static void test_vapic_ppr_and_pending(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    vapic_setup(&f, 0);
    put8(&f, VAPIC + 0x80, 0x20);                       /* VTPR */
    pk(&f, "GUEST_INTR_STATUS", 0x31);
    assert_false(vmdl_vmx_vapic_vid(f.vmx));
    assert_int_equal(vmdl_vmx_vapic_pending(f.vmx), -1); /* no VID */
    vapic_setup(&f, VMDL_PROC2_VID);
    put8(&f, VAPIC + 0x80, 0x20);
    assert_true(vmdl_vmx_vapic_vid(f.vmx));
    assert_int_equal(vmdl_vmx_vapic_update_ppr(f.vmx), 0x20);
    assert_int_equal(get32v(&f, VAPIC + 0xA0), 0x20);
    assert_int_equal(vmdl_vmx_vapic_pending(f.vmx), 0x31);
    pk(&f, "GUEST_INTR_STATUS", 0x25);                  /* 0x20 is not above 0x20 */
    assert_int_equal(vmdl_vmx_vapic_pending(f.vmx), -1);
    /* SVI above VTPR decides VPPR */
    pk(&f, "GUEST_INTR_STATUS", 0x6000 | 0x55);
    assert_int_equal(vmdl_vmx_vapic_update_ppr(f.vmx), 0x60);
    assert_int_equal(vmdl_vmx_vapic_pending(f.vmx), -1);
    /* secondary controls off: nothing is virtualized */
    pk(&f, "CPU_BASED_VM_EXEC_CONTROL",
       pe(&f, "CPU_BASED_VM_EXEC_CONTROL") & ~VMDL_PROC_SECONDARY);
    assert_false(vmdl_vmx_vapic_vid(f.vmx));
    fx_close(&f);
}

static void test_vapic_deliver_and_eoi(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    vapic_setup(&f, VMDL_PROC2_VID);
    set_vbit(&f, 0x200, 0x31);
    set_vbit(&f, 0x200, 0x51);
    pk(&f, "GUEST_INTR_STATUS", 0x51);
    vmdl_vmx_vapic_update_ppr(f.vmx);
    assert_int_equal(vmdl_vmx_vapic_deliver(f.vmx), 0x51);
    assert_true(vbit(&f, 0x100, 0x51));                 /* VISR */
    assert_false(vbit(&f, 0x200, 0x51));                /* VIRR */
    assert_int_equal(pe(&f, "GUEST_INTR_STATUS"), 0x5131);
    assert_int_equal(get32v(&f, VAPIC + 0xA0), 0x50);
    assert_int_equal(vmdl_vmx_vapic_pending(f.vmx), -1);
    assert_int_equal(vmdl_vmx_vapic_deliver(f.vmx), -1);
    /* EOI with a non-zero value: #GP, nothing changes */
    struct vmdl_vmx_exit_info ex;
    uint64_t v = 1;
    assert_int_equal(vmdl_vmx_vapic_msr(f.vmx, true, 0x80B, &v, &ex), VMDL_VAPIC_FAULT);
    assert_true(vbit(&f, 0x100, 0x51));
    v = 0;
    assert_int_equal(vmdl_vmx_vapic_msr(f.vmx, true, 0x80B, &v, &ex), VMDL_VAPIC_DONE);
    assert_false(vbit(&f, 0x100, 0x51));
    assert_int_equal(pe(&f, "GUEST_INTR_STATUS"), 0x0031);
    assert_int_equal(get32v(&f, VAPIC + 0xA0), 0);
    assert_int_equal(vmdl_vmx_vapic_pending(f.vmx), 0x31);
    /* EOI of a vector the EOI-exit bitmap names: EOI-induced exit 45 */
    assert_int_equal(vmdl_vmx_vapic_deliver(f.vmx), 0x31);
    pk(&f, "EOI_EXIT_BITMAP0", 1ull << 0x31);
    assert_int_equal(vmdl_vmx_vapic_msr(f.vmx, true, 0x80B, &v, &ex), VMDL_VAPIC_EXIT);
    assert_int_equal(ex.reason, VMDL_VMX_EXIT_EOI_INDUCED);
    assert_int_equal(ex.qualification, 0x31);
    assert_false(vbit(&f, 0x100, 0x31));
    /* without virtual-interrupt delivery EOI is not virtualized */
    vapic_setup(&f, 0);
    assert_int_equal(vmdl_vmx_vapic_msr(f.vmx, true, 0x80B, &v, &ex),
                     VMDL_VAPIC_NOT_VIRTUALIZED);
    fx_close(&f);
}

static void test_vapic_msr_reads(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    vapic_setup(&f, VMDL_PROC2_APIC_REG_VIRT);
    put64(&f, VAPIC + 0x20, 0x1122334455667788ull);     /* APIC ID */
    put8(&f, VAPIC + 0x80, 0x40);
    struct vmdl_vmx_exit_info ex;
    uint64_t v = 0;
    assert_int_equal(vmdl_vmx_vapic_msr(f.vmx, false, 0x802, &v, &ex), VMDL_VAPIC_DONE);
    assert_int_equal(v, 0x1122334455667788ull);
    assert_int_equal(vmdl_vmx_vapic_msr(f.vmx, false, 0x808, &v, &ex), VMDL_VAPIC_DONE);
    assert_int_equal(v, 0x40);
    /* every RDMSR of 800H-8FFH reads the page (timer current count too) */
    put64(&f, VAPIC + 0x390, 0x77);
    assert_int_equal(vmdl_vmx_vapic_msr(f.vmx, false, 0x839, &v, &ex), VMDL_VAPIC_DONE);
    assert_int_equal(v, 0x77);
    assert_int_equal(vmdl_vmx_vapic_msr(f.vmx, false, 0x1B, &v, &ex),
                     VMDL_VAPIC_NOT_VIRTUALIZED);
    assert_int_equal(vmdl_vmx_vapic_msr(f.vmx, false, 0x900, &v, &ex),
                     VMDL_VAPIC_NOT_VIRTUALIZED);
    /* without APIC-register virtualization only TPR is */
    vapic_setup(&f, 0);
    put8(&f, VAPIC + 0x80, 0x50);
    assert_int_equal(vmdl_vmx_vapic_msr(f.vmx, false, 0x808, &v, &ex), VMDL_VAPIC_DONE);
    assert_int_equal(v, 0x50);
    assert_int_equal(vmdl_vmx_vapic_msr(f.vmx, false, 0x802, &v, &ex),
                     VMDL_VAPIC_NOT_VIRTUALIZED);
    /* without virtual x2APIC mode nothing is */
    pk(&f, "SECONDARY_VM_EXEC_CONTROL", 0);
    assert_int_equal(vmdl_vmx_vapic_msr(f.vmx, false, 0x808, &v, &ex),
                     VMDL_VAPIC_NOT_VIRTUALIZED);
    fx_close(&f);
}

static void test_vapic_tpr_and_self_ipi(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    vapic_setup(&f, 0);
    pk(&f, "TPR_THRESHOLD", 2);
    struct vmdl_vmx_exit_info ex;
    uint64_t v = 0x100;
    assert_int_equal(vmdl_vmx_vapic_msr(f.vmx, true, 0x808, &v, &ex), VMDL_VAPIC_FAULT);
    v = 0x10;                                           /* 1 < threshold 2 */
    assert_int_equal(vmdl_vmx_vapic_msr(f.vmx, true, 0x808, &v, &ex), VMDL_VAPIC_EXIT);
    assert_int_equal(ex.reason, VMDL_VMX_EXIT_TPR_BELOW_THRESHOLD);
    assert_int_equal(f.ram[VAPIC + 0x80], 0x10);
    v = 0x30;
    assert_int_equal(vmdl_vmx_vapic_msr(f.vmx, true, 0x808, &v, &ex), VMDL_VAPIC_DONE);
    /* self-IPI needs virtual-interrupt delivery */
    v = 0x45;
    assert_int_equal(vmdl_vmx_vapic_msr(f.vmx, true, 0x83F, &v, &ex),
                     VMDL_VAPIC_NOT_VIRTUALIZED);
    vapic_setup(&f, VMDL_PROC2_VID);
    /* with it, TPR writes update VPPR instead of the threshold check */
    v = 0x10;
    assert_int_equal(vmdl_vmx_vapic_msr(f.vmx, true, 0x808, &v, &ex), VMDL_VAPIC_DONE);
    assert_int_equal(get32v(&f, VAPIC + 0xA0), 0x10);
    v = 0x45;
    assert_int_equal(vmdl_vmx_vapic_msr(f.vmx, true, 0x83F, &v, &ex), VMDL_VAPIC_DONE);
    assert_true(vbit(&f, 0x200, 0x45));
    assert_int_equal(pe(&f, "GUEST_INTR_STATUS") & 0xFF, 0x45);
    assert_int_equal(vmdl_vmx_vapic_pending(f.vmx), 0x45);
    v = 0x1045;                                         /* bits 63:8 */
    assert_int_equal(vmdl_vmx_vapic_msr(f.vmx, true, 0x83F, &v, &ex), VMDL_VAPIC_FAULT);
    /* CR8 path */
    assert_false(vmdl_vmx_vapic_tpr_write(f.vmx, 0x70));
    assert_int_equal(get32v(&f, VAPIC + 0xA0), 0x70);
    assert_int_equal(vmdl_vmx_vapic_pending(f.vmx), -1);
    fx_close(&f);
}

/* x2APIC SELF IPI (83FH) under virtual-interrupt delivery with a vector
 * below 16: the value lands at 3F0H and APIC-write emulation ends in an
 * APIC-write exit (56, trap-like, qualification 3F0H) instead of a self-IPI. */
static void test_vapic_self_ipi_low_vector(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    vapic_setup(&f, VMDL_PROC2_VID);
    put32(&f, VAPIC + 0x3F0, 0xFFFFFFFF);
    struct vmdl_vmx_exit_info ex;
    uint64_t v = 0x0F;
    assert_int_equal(vmdl_vmx_vapic_msr(f.vmx, true, 0x83F, &v, &ex), VMDL_VAPIC_EXIT);
    assert_int_equal(ex.reason, VMDL_VMX_EXIT_APIC_WRITE);
    assert_int_equal(ex.qualification, 0x3F0);
    assert_int_equal(get32v(&f, VAPIC + 0x3F0), 0x0F);
    assert_false(vbit(&f, 0x200, 0x0F));                /* no self-IPI */
    assert_int_equal(pe(&f, "GUEST_INTR_STATUS") & 0xFF, 0);
    v = 0;
    assert_int_equal(vmdl_vmx_vapic_msr(f.vmx, true, 0x83F, &v, &ex), VMDL_VAPIC_EXIT);
    assert_int_equal(get32v(&f, VAPIC + 0x3F0), 0);
    v = 0x10;                                           /* lowest vector that is virtualized */
    assert_int_equal(vmdl_vmx_vapic_msr(f.vmx, true, 0x83F, &v, &ex), VMDL_VAPIC_DONE);
    assert_true(vbit(&f, 0x200, 0x10));
    fx_close(&f);
}

/* Posted-interrupt processing for L2 (SDM 30.6, KVM's
 * vmx_complete_nested_posted_interrupt): the notification vector with
 * "process posted interrupts"; ON cleared, PIR ORed into VIRR and cleared,
 * RVI raised to the highest posted vector; with ON clear nothing moves
 * (KVM; the SDM would merge PIR anyway). */
#define PI_DESC 0xC000u
static void test_vapic_posted_interrupts(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    vapic_setup(&f, VMDL_PROC2_VID);
    pk(&f, "PIN_BASED_VM_EXEC_CONTROL",
       pe(&f, "PIN_BASED_VM_EXEC_CONTROL") | VMDL_PIN_EXT_INTR | VMDL_PIN_POSTED_INTR);
    pk(&f, "POSTED_INTR_NV", 0xF2);
    pk(&f, "POSTED_INTR_DESC_ADDR", PI_DESC);
    memset(f.ram + PI_DESC, 0, 64);
    assert_true(vmdl_vmx_vapic_notification(f.vmx, 0xF2));
    assert_false(vmdl_vmx_vapic_notification(f.vmx, 0xF1));
    set_vbit(&f, 0x200, 0x30);                          /* already in VIRR */
    pk(&f, "GUEST_INTR_STATUS", 0x30);
    /* ON clear: nothing is taken from PIR */
    put32(&f, PI_DESC + 4 * (0x61 / 32), 1u << (0x61 % 32));
    assert_int_equal(vmdl_vmx_vapic_posted(f.vmx), 0);
    assert_false(vbit(&f, 0x200, 0x61));
    /* ON set: PIR 0x61 and 0x25 move */
    put32(&f, PI_DESC + 4 * (0x25 / 32), 1u << (0x25 % 32));
    f.ram[PI_DESC + 32] = 1;
    assert_int_equal(vmdl_vmx_vapic_posted(f.vmx), 0x61);
    assert_true(vbit(&f, 0x200, 0x61));
    assert_true(vbit(&f, 0x200, 0x25));
    assert_true(vbit(&f, 0x200, 0x30));
    for (unsigned i = 0; i < 32; i++)
        assert_int_equal(f.ram[PI_DESC + i], 0);
    assert_int_equal(f.ram[PI_DESC + 32] & 1, 0);
    assert_int_equal(pe(&f, "GUEST_INTR_STATUS") & 0xFF, 0x61);
    assert_int_equal(vmdl_vmx_vapic_pending(f.vmx), 0x61);
    /* a lower vector leaves RVI alone */
    put32(&f, PI_DESC, 1u << 0x12);
    f.ram[PI_DESC + 32] = 1;
    assert_int_equal(vmdl_vmx_vapic_posted(f.vmx), 0x12);
    assert_int_equal(pe(&f, "GUEST_INTR_STATUS") & 0xFF, 0x61);
    /* a descriptor outside RAM: nothing happens */
    pk(&f, "POSTED_INTR_DESC_ADDR", RAM_SIZE + 0x40);
    assert_int_equal(vmdl_vmx_vapic_posted(f.vmx), 0);
    /* without virtual-interrupt delivery (VM entry would refuse it) */
    pk(&f, "SECONDARY_VM_EXEC_CONTROL", VMDL_PROC2_X2APIC_MODE);
    assert_false(vmdl_vmx_vapic_notification(f.vmx, 0xF2));
    assert_int_equal(vmdl_vmx_vapic_posted(f.vmx), -1);
    pk(&f, "SECONDARY_VM_EXEC_CONTROL", VMDL_PROC2_X2APIC_MODE | VMDL_PROC2_VID);
    /* without the pin control: no notification, no processing */
    pk(&f, "PIN_BASED_VM_EXEC_CONTROL",
       pe(&f, "PIN_BASED_VM_EXEC_CONTROL") & ~VMDL_PIN_POSTED_INTR);
    assert_false(vmdl_vmx_vapic_notification(f.vmx, 0xF2));
    assert_int_equal(vmdl_vmx_vapic_posted(f.vmx), -1);
    assert_false(vmdl_vmx_vapic_notification(NULL, 0xF2));
    assert_int_equal(vmdl_vmx_vapic_posted(NULL), -1);
    fx_close(&f);
}

/* ---- VMREAD/VMWRITE in L2 with VMCS shadowing (SDM 25.1.3, 24.10) ---- */

#define RD_BM 0xD000u
#define WR_BM 0xE000u

static void shadowing_setup(struct fx *f)
{
    pk(f, "CPU_BASED_VM_EXEC_CONTROL", pe(f, "CPU_BASED_VM_EXEC_CONTROL") | VMDL_PROC_SECONDARY);
    pk(f, "SECONDARY_VM_EXEC_CONTROL", VMDL_PROC2_SHADOW_VMCS);
    pk(f, "VMREAD_BITMAP", RD_BM);
    pk(f, "VMWRITE_BITMAP", WR_BM);
    pk(f, "VMCS_LINK_POINTER", LINK_PA);
    memset(f->ram + RD_BM, 0, 4096);
    memset(f->ram + WR_BM, 0, 4096);
}

/* KVM's nested_vmx_exit_handled_vmcs_access: exits without shadowing, for
 * fields with bits 63:15 set, unreadable bitmaps, set bitmap bits. */
static void test_l2_vmcs_access_exits(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    const uint64_t rip = 0x681E;                        /* GUEST_RIP */
    assert_true(vmdl_vmx_l2_vmcs_access_exits(f.vmx, false, rip));     /* no shadowing */
    shadowing_setup(&f);
    assert_false(vmdl_vmx_l2_vmcs_access_exits(f.vmx, false, rip));
    assert_false(vmdl_vmx_l2_vmcs_access_exits(f.vmx, true, rip));
    f.ram[RD_BM + rip / 8] |= 1u << (rip & 7);
    assert_true(vmdl_vmx_l2_vmcs_access_exits(f.vmx, false, rip));
    assert_false(vmdl_vmx_l2_vmcs_access_exits(f.vmx, true, rip)); /* the other bitmap */
    f.ram[WR_BM + 0x7FFF / 8] |= 0x80;
    assert_true(vmdl_vmx_l2_vmcs_access_exits(f.vmx, true, 0x7FFF));
    assert_true(vmdl_vmx_l2_vmcs_access_exits(f.vmx, true, 0x8000));  /* bits 63:15 */
    assert_true(vmdl_vmx_l2_vmcs_access_exits(f.vmx, false, 1ull << 40));
    pk(&f, "VMWRITE_BITMAP", RAM_SIZE + 0x1000);       /* not RAM */
    assert_true(vmdl_vmx_l2_vmcs_access_exits(f.vmx, true, 0));
    /* the secondary controls off: no shadowing */
    shadowing_setup(&f);
    pk(&f, "CPU_BASED_VM_EXEC_CONTROL",
       pe(&f, "CPU_BASED_VM_EXEC_CONTROL") & ~VMDL_PROC_SECONDARY);
    assert_true(vmdl_vmx_l2_vmcs_access_exits(f.vmx, false, rip));
    assert_true(vmdl_vmx_l2_vmcs_access_exits(NULL, false, rip));
    fx_close(&f);
}

/* The instruction on the shadow VMCS: values in the link-pointer region,
 * error numbers in the current VMCS, VMfailInvalid without a shadow. */
static void test_l2_vmcs_shadow_exec(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    shadowing_setup(&f);
    const struct vmdl_vmcs_field *rip = vmdl_vmcs_field_by_name("GUEST_RIP");
    struct vmdl_vmx_result r;
    struct vmdl_vmx_operand fld = {.kind = VMDL_VMX_OPND_REG, .value = rip->encoding};
    struct vmdl_vmx_operand val = {.kind = VMDL_VMX_OPND_REG, .value = 0x1122334455667788ull};
    assert_int_equal(vmdl_vmx_exec_shadow(f.vmx, &f.ctx, VMDL_VMX_INSN_VMWRITE, &fld, &val, &r), 0);
    assert_int_equal(r.status, VMDL_VMX_SUCCEED);
    uint64_t in_region;
    memcpy(&in_region, f.ram + LINK_PA + rip->offset, 8);
    assert_int_equal(in_region, 0x1122334455667788ull);
    assert_int_equal(pe(&f, "GUEST_RIP"), 0x500000);   /* the current VMCS is untouched */
    struct vmdl_vmx_operand dst = {.kind = VMDL_VMX_OPND_REG};
    fld.value = rip->encoding;
    assert_int_equal(vmdl_vmx_exec_shadow(f.vmx, &f.ctx, VMDL_VMX_INSN_VMREAD, &dst, &fld, &r), 0);
    assert_int_equal(r.status, VMDL_VMX_SUCCEED);
    assert_true(dst.written);
    assert_int_equal(dst.value, 0x1122334455667788ull);
    /* an unsupported field: error 12 in the current VMCS, the region unchanged */
    uint8_t before[4096];
    memcpy(before, f.ram + LINK_PA, sizeof(before));
    fld.value = 0x6C1C + 0x100;
    assert_int_equal(vmdl_vmx_exec_shadow(f.vmx, &f.ctx, VMDL_VMX_INSN_VMWRITE, &fld, &val, &r), 0);
    assert_int_equal(r.status, VMDL_VMX_FAIL_VALID);
    assert_int_equal(r.error, 12);
    assert_int_equal(pe(&f, "VM_INSTRUCTION_ERROR"), 12);
    assert_memory_equal(before, f.ram + LINK_PA, sizeof(before));
    /* a read-only field with IA32_VMX_MISC bit 29 (KVM's profiles) */
    fld.value = vmdl_vmcs_field_by_name("EXIT_QUALIFICATION")->encoding;
    val.value = 0x77;
    assert_int_equal(vmdl_vmx_exec_shadow(f.vmx, &f.ctx, VMDL_VMX_INSN_VMWRITE, &fld, &val, &r), 0);
    assert_int_equal(r.status, VMDL_VMX_SUCCEED);
    /* the link pointer all ones: VMfailInvalid (CF), nothing written */
    pk(&f, "VMCS_LINK_POINTER", UINT64_MAX);
    pk(&f, "VM_INSTRUCTION_ERROR", 0);
    fld.value = rip->encoding;
    assert_int_equal(vmdl_vmx_exec_shadow(f.vmx, &f.ctx, VMDL_VMX_INSN_VMREAD, &dst, &fld, &r), 0);
    assert_int_equal(r.status, VMDL_VMX_FAIL_INVALID);
    assert_true(r.rflags & 1);
    assert_int_equal(pe(&f, "VM_INSTRUCTION_ERROR"), 0);
    /* not VMREAD/VMWRITE: refused */
    assert_int_equal(vmdl_vmx_exec_shadow(f.vmx, &f.ctx, VMDL_VMX_INSN_VMPTRLD, &dst, &fld, &r),
                     VMDL_EINVAL);
    fx_close(&f);
}

/* ---- the APIC-access page (SDM Vol. 3C 30.4, "virtualize APIC accesses") ---- */

#define APIC_ACC 0xB000u

/* Virtualize APIC accesses with the given primary and secondary extras. */
static void access_setup(struct fx *f, uint32_t proc, uint32_t proc2)
{
    pk(f, "CPU_BASED_VM_EXEC_CONTROL",
       (pe(f, "CPU_BASED_VM_EXEC_CONTROL") & ~VMDL_PROC_TPR_SHADOW) | VMDL_PROC_SECONDARY | proc);
    pk(f, "SECONDARY_VM_EXEC_CONTROL", VMDL_PROC2_APIC_ACCESS | proc2);
    pk(f, "VIRTUAL_APIC_PAGE_ADDR", VAPIC);
    pk(f, "APIC_ACCESS_ADDR", APIC_ACC);
    pk(f, "TPR_THRESHOLD", 0);
    pk(f, "GUEST_INTR_STATUS", 0);
    memset(f->ram + VAPIC, 0, 4096);
}

static struct vmdl_vmx_apic_access acc(unsigned off, unsigned size,
                                       enum vmdl_apic_access_type type)
{
    return (struct vmdl_vmx_apic_access){.pa = APIC_ACC + off, .size = size, .type = type};
}

/* Virtualized (true) or an APIC-access exit with this qualification. */
static bool virtualized(struct fx *f, unsigned off, unsigned size,
                        enum vmdl_apic_access_type type, uint64_t *qual)
{
    struct vmdl_vmx_apic_access a = acc(off, size, type);
    struct vmdl_vmx_exit_info ex;
    memset(&ex, 0xAA, sizeof(ex));
    bool v = vmdl_vmx_apic_access_virtualized(f->vmx, &a, &ex);
    if (!v) {
        assert_int_equal(ex.reason, VMDL_VMX_EXIT_APIC_ACCESS);
        *qual = ex.qualification;
    }
    return v;
}

static void test_apic_access_page_in_force(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    access_setup(&f, 0, 0);
    assert_true(vmdl_vmx_apic_access_page(f.vmx, APIC_ACC));
    assert_true(vmdl_vmx_apic_access_page(f.vmx, APIC_ACC + 0xFFF));
    assert_false(vmdl_vmx_apic_access_page(f.vmx, APIC_ACC - 1));
    assert_false(vmdl_vmx_apic_access_page(f.vmx, APIC_ACC + 0x1000));
    /* the control off, or the secondary controls not active: plain memory */
    pk(&f, "SECONDARY_VM_EXEC_CONTROL", 0);
    assert_false(vmdl_vmx_apic_access_page(f.vmx, APIC_ACC));
    access_setup(&f, 0, 0);
    pk(&f, "CPU_BASED_VM_EXEC_CONTROL",
       pe(&f, "CPU_BASED_VM_EXEC_CONTROL") & ~VMDL_PROC_SECONDARY);
    assert_false(vmdl_vmx_apic_access_page(f.vmx, APIC_ACC));
    assert_false(vmdl_vmx_apic_access_page(NULL, APIC_ACC));
    fx_close(&f);
}

/* Without "use TPR shadow" every access exits: qualification = offset |
 * access type << 12 (table "Exit Qualification for APIC-Access VM Exits"). */
static void test_apic_access_exits_without_tpr_shadow(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    access_setup(&f, 0, VMDL_PROC2_APIC_REG_VIRT);
    uint64_t q = 0;
    assert_false(virtualized(&f, 0x80, 4, VMDL_APIC_ACC_LINEAR_READ, &q));
    assert_int_equal(q, 0x080);
    assert_false(virtualized(&f, 0x20, 4, VMDL_APIC_ACC_LINEAR_WRITE, &q));
    assert_int_equal(q, 0x1020);
    assert_false(virtualized(&f, 0x3F0, 1, VMDL_APIC_ACC_LINEAR_FETCH, &q));
    assert_int_equal(q, 0x23F0);
    assert_false(virtualized(&f, 0x104, 2, VMDL_APIC_ACC_LINEAR_EVENT, &q));
    assert_int_equal(q, 0x3104);
    /* guest-physical accesses: the offset is undefined, reported as 0 */
    assert_false(virtualized(&f, 0x80, 8, VMDL_APIC_ACC_GPA_EVENT, &q));
    assert_int_equal(q, 0xA000);
    assert_false(virtualized(&f, 0x80, 8, VMDL_APIC_ACC_GPA_INSN, &q));
    assert_int_equal(q, 0xF000);
    fx_close(&f);
}

/* "use TPR shadow" without APIC-register virtualization: only VTPR at
 * offset 080H, at most 32 bits, within the low 4 bytes of its 16. */
static void test_apic_access_tpr_only(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    access_setup(&f, VMDL_PROC_TPR_SHADOW, 0);
    uint64_t q = 0;
    assert_true(virtualized(&f, 0x80, 4, VMDL_APIC_ACC_LINEAR_READ, &q));
    assert_true(virtualized(&f, 0x80, 1, VMDL_APIC_ACC_LINEAR_WRITE, &q));
    assert_false(virtualized(&f, 0x81, 1, VMDL_APIC_ACC_LINEAR_READ, &q));
    assert_int_equal(q, 0x081);
    assert_false(virtualized(&f, 0x80, 8, VMDL_APIC_ACC_LINEAR_READ, &q));
    assert_false(virtualized(&f, 0x20, 4, VMDL_APIC_ACC_LINEAR_READ, &q));
    assert_int_equal(q, 0x020);
    assert_false(virtualized(&f, 0xB0, 4, VMDL_APIC_ACC_LINEAR_WRITE, &q));
    assert_int_equal(q, 0x10B0);
    assert_false(virtualized(&f, 0x80, 4, VMDL_APIC_ACC_LINEAR_FETCH, &q));
    assert_int_equal(q, 0x2080);
    assert_false(virtualized(&f, 0x80, 4, VMDL_APIC_ACC_LINEAR_EVENT, &q));
    assert_int_equal(q, 0x3080);
    /* reads return the virtual-APIC page */
    put32(&f, VAPIC + 0x80, 0x12345678);
    struct vmdl_vmx_apic_access a = acc(0x80, 4, VMDL_APIC_ACC_LINEAR_READ);
    assert_int_equal(vmdl_vmx_apic_access_read(f.vmx, &a), 0x12345678);
    a.size = 1;
    assert_int_equal(vmdl_vmx_apic_access_read(f.vmx, &a), 0x78);
    /* a write: bytes 3:1 of VTPR cleared, then the TPR threshold (trap-like 43) */
    struct vmdl_vmx_exit_info ex;
    a = acc(0x80, 4, VMDL_APIC_ACC_LINEAR_WRITE);
    pk(&f, "TPR_THRESHOLD", 3);
    assert_int_equal(vmdl_vmx_apic_access_write(f.vmx, &a, 0xABCD0050, &ex), VMDL_VAPIC_DONE);
    assert_int_equal(get32v(&f, VAPIC + 0x80), 0x50);
    assert_int_equal(vmdl_vmx_apic_access_write(f.vmx, &a, 0x20, &ex), VMDL_VAPIC_EXIT);
    assert_int_equal(ex.reason, VMDL_VMX_EXIT_TPR_BELOW_THRESHOLD);
    assert_int_equal(get32v(&f, VAPIC + 0x80), 0x20);
    /* the exit a caller that cannot complete an access reports */
    a = acc(0x80, 4, VMDL_APIC_ACC_LINEAR_WRITE);
    vmdl_vmx_apic_access_exit(&a, &ex);
    assert_int_equal(ex.reason, VMDL_VMX_EXIT_APIC_ACCESS);
    assert_int_equal(ex.qualification, 0x1080);
    /* a write that is not virtualized changes nothing */
    a = acc(0x20, 4, VMDL_APIC_ACC_LINEAR_WRITE);
    assert_int_equal(vmdl_vmx_apic_access_write(f.vmx, &a, 7, &ex), VMDL_VAPIC_NOT_VIRTUALIZED);
    assert_int_equal(get32v(&f, VAPIC + 0x20), 0);
    fx_close(&f);
}

/* APIC-register virtualization: the read list (30.4.2) and the write list
 * (30.4.3.1); offsets off the lists exit. */
static void test_apic_access_reg_virt_lists(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    access_setup(&f, VMDL_PROC_TPR_SHADOW, VMDL_PROC2_APIC_REG_VIRT);
    static const unsigned rd_ok[] = {0x20, 0x30, 0x80, 0xB0, 0xD0, 0xE0, 0xF0, 0x100, 0x170,
                                     0x180, 0x1F0, 0x200, 0x270, 0x280, 0x300, 0x310, 0x320,
                                     0x330, 0x340, 0x350, 0x360, 0x370, 0x380, 0x3E0};
    static const unsigned rd_exit[] = {0x00, 0x10, 0x40, 0x50, 0x60, 0x70, 0x90, 0xA0, 0xC0,
                                       0x290, 0x2F0, 0x390, 0x3A0, 0x3F0, 0x400, 0xFF0};
    static const unsigned wr_ok[] = {0x20, 0x80, 0xB0, 0xD0, 0xE0, 0xF0, 0x280, 0x300, 0x310,
                                     0x320, 0x330, 0x340, 0x350, 0x360, 0x370, 0x380, 0x3E0};
    static const unsigned wr_exit[] = {0x30, 0x90, 0xA0, 0x100, 0x180, 0x200, 0x270, 0x2F0,
                                       0x390, 0x3F0};
    uint64_t q = 0;
    for (unsigned i = 0; i < sizeof(rd_ok) / sizeof(rd_ok[0]); i++) {
        assert_true(virtualized(&f, rd_ok[i], 4, VMDL_APIC_ACC_LINEAR_READ, &q));
        assert_true(virtualized(&f, rd_ok[i] + 3, 1, VMDL_APIC_ACC_LINEAR_READ, &q));
        assert_false(virtualized(&f, rd_ok[i] + 4, 4, VMDL_APIC_ACC_LINEAR_READ, &q));
        assert_false(virtualized(&f, rd_ok[i] + 2, 4, VMDL_APIC_ACC_LINEAR_READ, &q));
    }
    for (unsigned i = 0; i < sizeof(rd_exit) / sizeof(rd_exit[0]); i++) {
        assert_false(virtualized(&f, rd_exit[i], 4, VMDL_APIC_ACC_LINEAR_READ, &q));
        assert_int_equal(q, rd_exit[i]);
    }
    for (unsigned i = 0; i < sizeof(wr_ok) / sizeof(wr_ok[0]); i++)
        assert_true(virtualized(&f, wr_ok[i], 4, VMDL_APIC_ACC_LINEAR_WRITE, &q));
    for (unsigned i = 0; i < sizeof(wr_exit) / sizeof(wr_exit[0]); i++) {
        assert_false(virtualized(&f, wr_exit[i], 4, VMDL_APIC_ACC_LINEAR_WRITE, &q));
        assert_int_equal(q, 0x1000 | wr_exit[i]);
    }
    fx_close(&f);
}

/* APIC-write emulation (30.4.3.2) with APIC-register virtualization and
 * without virtual-interrupt delivery: the data lands on the virtual-APIC
 * page, then an APIC-write exit (56, qualification = the offset) for
 * everything but VTPR and ICR high (whose bytes 2:0 are cleared). */
static void test_apic_access_write_emulation(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    access_setup(&f, VMDL_PROC_TPR_SHADOW, VMDL_PROC2_APIC_REG_VIRT);
    struct vmdl_vmx_exit_info ex;
    struct vmdl_vmx_apic_access a = acc(0x20, 4, VMDL_APIC_ACC_LINEAR_WRITE);
    assert_int_equal(vmdl_vmx_apic_access_write(f.vmx, &a, 0x12345678, &ex), VMDL_VAPIC_EXIT);
    assert_int_equal(ex.reason, VMDL_VMX_EXIT_APIC_WRITE);
    assert_int_equal(ex.qualification, 0x20);
    assert_int_equal(get32v(&f, VAPIC + 0x20), 0x12345678);
    a = acc(0x22, 1, VMDL_APIC_ACC_LINEAR_WRITE);        /* a byte: its offset */
    assert_int_equal(vmdl_vmx_apic_access_write(f.vmx, &a, 0xEE, &ex), VMDL_VAPIC_EXIT);
    assert_int_equal(ex.qualification, 0x22);
    assert_int_equal(get32v(&f, VAPIC + 0x20), 0x12EE5678);
    /* EOI and ICR low without virtual-interrupt delivery: APIC-write exits */
    a = acc(0xB0, 4, VMDL_APIC_ACC_LINEAR_WRITE);
    assert_int_equal(vmdl_vmx_apic_access_write(f.vmx, &a, 0, &ex), VMDL_VAPIC_EXIT);
    assert_int_equal(ex.reason, VMDL_VMX_EXIT_APIC_WRITE);
    assert_int_equal(ex.qualification, 0xB0);
    a = acc(0x300, 4, VMDL_APIC_ACC_LINEAR_WRITE);
    assert_int_equal(vmdl_vmx_apic_access_write(f.vmx, &a, 0x40041, &ex), VMDL_VAPIC_EXIT);
    assert_int_equal(ex.qualification, 0x300);
    assert_int_equal(get32v(&f, VAPIC + 0x300), 0x40041);
    /* ICR high: bytes 2:0 cleared, no exit */
    a = acc(0x310, 4, VMDL_APIC_ACC_LINEAR_WRITE);
    assert_int_equal(vmdl_vmx_apic_access_write(f.vmx, &a, 0x12345678, &ex), VMDL_VAPIC_DONE);
    assert_int_equal(get32v(&f, VAPIC + 0x310), 0x12000000);
    /* VTPR: no exit with the threshold at 0 */
    a = acc(0x80, 4, VMDL_APIC_ACC_LINEAR_WRITE);
    assert_int_equal(vmdl_vmx_apic_access_write(f.vmx, &a, 0x12345678, &ex), VMDL_VAPIC_DONE);
    assert_int_equal(get32v(&f, VAPIC + 0x80), 0x78);
    fx_close(&f);
}

/* Virtual-interrupt delivery without APIC-register virtualization: writes
 * of VTPR, EOI (EOI virtualization, EOI-induced exit 45 per the bitmap)
 * and ICR low (self-IPI virtualization when the ICR is a fixed, edge,
 * self IPI of vector 16 or more, else an APIC-write exit). */
static void test_apic_access_vid_writes(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    access_setup(&f, VMDL_PROC_TPR_SHADOW, VMDL_PROC2_VID);
    uint64_t q = 0;
    assert_true(virtualized(&f, 0xB0, 4, VMDL_APIC_ACC_LINEAR_WRITE, &q));
    assert_true(virtualized(&f, 0x300, 4, VMDL_APIC_ACC_LINEAR_WRITE, &q));
    assert_false(virtualized(&f, 0x310, 4, VMDL_APIC_ACC_LINEAR_WRITE, &q));
    assert_false(virtualized(&f, 0x20, 4, VMDL_APIC_ACC_LINEAR_WRITE, &q));
    assert_false(virtualized(&f, 0xB0, 4, VMDL_APIC_ACC_LINEAR_READ, &q));
    struct vmdl_vmx_exit_info ex;
    /* self IPI, vector 0x41 */
    struct vmdl_vmx_apic_access a = acc(0x300, 4, VMDL_APIC_ACC_LINEAR_WRITE);
    assert_int_equal(vmdl_vmx_apic_access_write(f.vmx, &a, 0x44041, &ex), VMDL_VAPIC_DONE);
    assert_true(vbit(&f, 0x200, 0x41));
    assert_int_equal(pe(&f, "GUEST_INTR_STATUS") & 0xFF, 0x41);
    assert_int_equal(vmdl_vmx_vapic_pending(f.vmx), 0x41);
    /* not a self IPI: no shorthand, level trigger, NMI, delivery status,
     * a reserved bit, vector below 16 */
    static const uint32_t not_self[] = {0x00041, 0x4C041, 0x40441, 0x41041, 0x140041, 0x4000F};
    for (unsigned i = 0; i < sizeof(not_self) / sizeof(not_self[0]); i++) {
        assert_int_equal(vmdl_vmx_apic_access_write(f.vmx, &a, not_self[i], &ex),
                         VMDL_VAPIC_EXIT);
        assert_int_equal(ex.reason, VMDL_VMX_EXIT_APIC_WRITE);
        assert_int_equal(ex.qualification, 0x300);
    }
    assert_false(vbit(&f, 0x200, 0x0F));
    /* bit 14 (level) and bit 11 (destination mode) do not matter */
    assert_int_equal(vmdl_vmx_apic_access_write(f.vmx, &a, 0x44842, &ex), VMDL_VAPIC_DONE);
    assert_true(vbit(&f, 0x200, 0x42));
    /* EOI virtualization */
    assert_int_equal(vmdl_vmx_vapic_deliver(f.vmx), 0x42);
    a = acc(0xB0, 4, VMDL_APIC_ACC_LINEAR_WRITE);
    assert_int_equal(vmdl_vmx_apic_access_write(f.vmx, &a, 0, &ex), VMDL_VAPIC_DONE);
    assert_false(vbit(&f, 0x100, 0x42));
    assert_int_equal(vmdl_vmx_vapic_deliver(f.vmx), 0x41);
    pk(&f, "EOI_EXIT_BITMAP1", 1ull << (0x41 - 64));
    assert_int_equal(vmdl_vmx_apic_access_write(f.vmx, &a, 0, &ex), VMDL_VAPIC_EXIT);
    assert_int_equal(ex.reason, VMDL_VMX_EXIT_EOI_INDUCED);
    assert_int_equal(ex.qualification, 0x41);
    fx_close(&f);
}

/* Hostile requests: misuse is refused without touching anything. */
static void test_apic_access_hostile(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    access_setup(&f, VMDL_PROC_TPR_SHADOW, VMDL_PROC2_APIC_REG_VIRT | VMDL_PROC2_VID);
    uint64_t q = 0;
    struct vmdl_vmx_exit_info ex;
    /* size 0, off the page, unknown access type */
    assert_false(virtualized(&f, 0x80, 0, VMDL_APIC_ACC_LINEAR_READ, &q));
    struct vmdl_vmx_apic_access a = {.pa = 0x1000, .size = 4, .type = VMDL_APIC_ACC_LINEAR_READ};
    assert_false(vmdl_vmx_apic_access_virtualized(f.vmx, &a, &ex));
    assert_int_equal(vmdl_vmx_apic_access_read(f.vmx, &a), 0);
    a = acc(0x80, 4, (enum vmdl_apic_access_type)7);
    assert_false(vmdl_vmx_apic_access_virtualized(f.vmx, &a, &ex));
    assert_false(vmdl_vmx_apic_access_virtualized(NULL, &a, &ex));
    assert_false(vmdl_vmx_apic_access_virtualized(f.vmx, NULL, &ex));
    assert_int_equal(vmdl_vmx_apic_access_write(f.vmx, NULL, 0, &ex), VMDL_VAPIC_NOT_VIRTUALIZED);
    /* a virtual-APIC page outside RAM: reads 0, writes dropped */
    pk(&f, "VIRTUAL_APIC_PAGE_ADDR", RAM_SIZE + 0x1000);
    a = acc(0x20, 4, VMDL_APIC_ACC_LINEAR_READ);
    assert_int_equal(vmdl_vmx_apic_access_read(f.vmx, &a), 0);
    a.type = VMDL_APIC_ACC_LINEAR_WRITE;
    assert_int_equal(vmdl_vmx_apic_access_write(f.vmx, &a, 5, &ex), VMDL_VAPIC_EXIT);
    fx_close(&f);
}

/* What RDTSC / RDTSCP / RDMSR(IA32_TSC) read in L2 (SDM 26.3 "TSC
 * offsetting and TSC scaling"): L1's TSC, times the multiplier (48
 * fractional bits) with TSC scaling, plus the offset. */
static void test_l2_tsc(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    pk(&f, "TSC_OFFSET", 1000);
    assert_int_equal(vmdl_vmx_l2_tsc(f.vmx, 5000), 5000);       /* no offsetting */
    pk(&f, "CPU_BASED_VM_EXEC_CONTROL",
       pe(&f, "CPU_BASED_VM_EXEC_CONTROL") | VMDL_PROC_TSC_OFFSETTING);
    assert_int_equal(vmdl_vmx_l2_tsc(f.vmx, 5000), 6000);
    pk(&f, "TSC_OFFSET", (uint64_t)-6000);                        /* wraps */
    assert_int_equal(vmdl_vmx_l2_tsc(f.vmx, 5000), (uint64_t)-1000);
    pk(&f, "TSC_OFFSET", 0);
    pk(&f, "CPU_BASED_VM_EXEC_CONTROL",
       pe(&f, "CPU_BASED_VM_EXEC_CONTROL") | VMDL_PROC_SECONDARY);
    pk(&f, "SECONDARY_VM_EXEC_CONTROL", VMDL_PROC2_TSC_SCALING);
    pk(&f, "TSC_MULTIPLIER", 3ull << 47);                         /* 1.5 */
    assert_int_equal(vmdl_vmx_l2_tsc(f.vmx, 5000), 7500);
    /* the product keeps all 112 bits before the shift */
    assert_int_equal(vmdl_vmx_l2_tsc(f.vmx, 1ull << 62), 3ull << 61);
    assert_int_equal(vmdl_vmx_l2_tsc(NULL, 5), 5);
    fx_close(&f);
}

/* The VMX-preemption timer counts down each time bit X (IA32_VMX_MISC[4:0])
 * of the TSC changes (SDM 26.5.1): loaded with V at TSC t it reaches zero
 * when the TSC reaches (floor(t / 2^X) + V) * 2^X, not t + V * 2^X (the
 * kvm-unit-tests vmx_preemption_timer_expiry_test deadline). */
static void test_preempt_timer_grid(void **state)
{
    (void)state;
    assert_int_equal(vmdl_vmx_preempt_deadline(0x1007, 3, 5), 0x1000 + 3 * 32);
    assert_int_equal(vmdl_vmx_preempt_deadline(0x1000, 3, 5), 0x1000 + 3 * 32);
    assert_int_equal(vmdl_vmx_preempt_deadline(0x101F, 1, 5), 0x1020);
    assert_int_equal(vmdl_vmx_preempt_deadline(0x1007, 0, 5), 0x1000);  /* at once */
    assert_int_equal(vmdl_vmx_preempt_deadline(0x1007, 3, 0), 0x100A);
    assert_int_equal(vmdl_vmx_preempt_deadline(UINT64_MAX - 40, 0xFFFFFFFFu, 5),
                     UINT64_MAX);                                    /* saturates */
    assert_int_equal(vmdl_vmx_preempt_deadline(UINT64_MAX - 2, 5, 0), UINT64_MAX);
    /* The value "save VMX-preemption timer value" stores (KVM's
     * vmx_get_preemption_timer_value): the ticks left >> rate. */
    uint64_t d = vmdl_vmx_preempt_deadline(0x1000, 3, 5);
    assert_int_equal(vmdl_vmx_preempt_value(0x1000, d, 5), 3);
    assert_int_equal(vmdl_vmx_preempt_value(0x1001, d, 5), 2);    /* any tick */
    assert_int_equal(vmdl_vmx_preempt_value(0x1020, d, 5), 2);
    assert_int_equal(vmdl_vmx_preempt_value(0x1021, d, 5), 1);
    assert_int_equal(vmdl_vmx_preempt_value(d - 1, d, 5), 0);
    assert_int_equal(vmdl_vmx_preempt_value(d, d, 5), 0);
    assert_int_equal(vmdl_vmx_preempt_value(d + 100, d, 5), 0);
    d = vmdl_vmx_preempt_deadline(0x1007, 3, 5);                    /* 0x1060 */
    assert_int_equal(vmdl_vmx_preempt_value(0x1007, d, 5), 2);
}

static void test_invept(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    struct vmdl_vmx_result r;
    put64(&f, DESC_PA, 0x100000 | 0x1e);
    put64(&f, DESC_PA + 8, 0);
    /* Types: 1 single context, 2 global (EPT_VPID_CAP bits 25, 26). */
    assert_int_equal(vmdl_vmx_invept(f.vmx, &f.ctx, 2, DESC_PA, &r), 0);
    assert_int_equal(r.status, VMDL_VMX_SUCCEED);
    assert_int_equal(vmdl_vmx_invept(f.vmx, &f.ctx, 1, DESC_PA, &r), 0);
    assert_int_equal(r.status, VMDL_VMX_SUCCEED);
    for (uint64_t t = 0; t < 40; t += 3) {
        if (t == 1 || t == 2)
            continue;
        assert_int_equal(vmdl_vmx_invept(f.vmx, &f.ctx, t, DESC_PA, &r), 0);
        assert_int_equal(r.status, VMDL_VMX_FAIL_VALID);
        assert_int_equal(r.error, 28);
    }
    /* Single context with a bad EPTP: 28. */
    put64(&f, DESC_PA, 0x100000 | 0x19);
    assert_int_equal(vmdl_vmx_invept(f.vmx, &f.ctx, 1, DESC_PA, &r), 0);
    assert_int_equal(r.error, 28);
    /* Descriptor read even for the global type: outside RAM -> #PF. */
    assert_int_equal(vmdl_vmx_invept(f.vmx, &f.ctx, 2, RAM_SIZE + 0x1000, &r), 0);
    assert_int_equal(r.fault, VMDL_FAULT_PF);
    assert_int_equal(vmdl_vmx_invept(f.vmx, &f.ctx, 2, 0x0000800000000000ull, &r), 0);
    assert_int_equal(r.fault, VMDL_FAULT_GP);
    /* CPL 3: #GP; the type is checked after. */
    f.ctx.cpl = 3;
    assert_int_equal(vmdl_vmx_invept(f.vmx, &f.ctx, 0, DESC_PA, &r), 0);
    assert_int_equal(r.fault, VMDL_FAULT_GP);
    f.ctx.cpl = 0;
    /* Through vmdl_vmx_exec: op0 register type, op1 memory descriptor. */
    struct vmdl_vmx_operand o0 = {.kind = VMDL_VMX_OPND_REG, .value = 2};
    struct vmdl_vmx_operand o1 = {.kind = VMDL_VMX_OPND_MEM, .addr = DESC_PA};
    assert_int_equal(vmdl_vmx_exec(f.vmx, &f.ctx, VMDL_VMX_INSN_INVEPT, &o0, &o1, &r), 0);
    assert_int_equal(r.status, VMDL_VMX_SUCCEED);
    o1.kind = VMDL_VMX_OPND_REG;
    assert_int_equal(vmdl_vmx_exec(f.vmx, &f.ctx, VMDL_VMX_INSN_INVEPT, &o0, &o1, &r), 0);
    assert_int_equal(r.fault, VMDL_FAULT_UD);
    /* Outside VMX operation: #UD. */
    assert_int_equal(vmdl_vmx_vmxoff(f.vmx, &f.ctx, &r), 0);
    assert_int_equal(vmdl_vmx_invept(f.vmx, &f.ctx, 2, DESC_PA, &r), 0);
    assert_int_equal(r.fault, VMDL_FAULT_UD);
    fx_close(&f);
    /* A profile without EPT: #UD even in VMX operation. */
    fx_open(&f, "core2");
    assert_int_equal(vmdl_vmx_invept(f.vmx, &f.ctx, 2, DESC_PA, &r), 0);
    assert_int_equal(r.fault, VMDL_FAULT_UD);
    assert_int_equal(vmdl_vmx_invvpid(f.vmx, &f.ctx, 2, DESC_PA, &r), 0);
    assert_int_equal(r.fault, VMDL_FAULT_UD);
    fx_close(&f);
}

static void test_invvpid(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    struct vmdl_vmx_result r;
    struct { uint64_t type, vpid, gla; uint32_t err; const char *why; } c[] = {
        {0, 1, 0x1000, 0, "individual address"},
        {0, 0, 0x1000, 28, "individual address with VPID 0"},
        {0, 1, 0x0000800000000000ull, 28, "individual address not canonical"},
        {1, 1, 0, 0, "single context"},
        {1, 0, 0, 28, "single context VPID 0"},
        {2, 0, 0, 0, "all contexts (VPID ignored)"},
        {3, 0, 0, 28, "single context retaining globals, VPID 0"},
        {3, 2, 0, 0, "single context retaining globals"},
        {4, 1, 0, 28, "type 4"},
        {1, 0x10001, 0, 28, "descriptor bits 63:16"},
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        put64(&f, DESC_PA, c[i].vpid);
        put64(&f, DESC_PA + 8, c[i].gla);
        assert_int_equal(vmdl_vmx_invvpid(f.vmx, &f.ctx, c[i].type, DESC_PA, &r), 0);
        if (c[i].err ? (r.status != VMDL_VMX_FAIL_VALID || r.error != c[i].err)
                     : r.status != VMDL_VMX_SUCCEED)
            fail_msg("%s: status %d error %u", c[i].why, r.status, r.error);
    }
    /* With 5-level paging support the individual address is 57-bit
     * canonical (KVM's is_noncanonical_invlpg_address). */
    assert_int_equal(vmdl_vmx_set_la57(f.vmx, true), 0);
    put64(&f, DESC_PA, 1);
    put64(&f, DESC_PA + 8, 0x0000800000000000ull);
    assert_int_equal(vmdl_vmx_invvpid(f.vmx, &f.ctx, 0, DESC_PA, &r), 0);
    assert_int_equal(r.status, VMDL_VMX_SUCCEED);
    put64(&f, DESC_PA + 8, 1ull << 56);
    assert_int_equal(vmdl_vmx_invvpid(f.vmx, &f.ctx, 0, DESC_PA, &r), 0);
    assert_int_equal(r.error, 28);
    fx_close(&f);
}

/* ---- MP state, vCPU events and the -EBUSY wake-up ---- */

/* L2 active, halted, with an exception already injected (as userspace can
 * stuff it) and an interrupt pending that L1 wants. */
static void ebusy_setup(struct fx *f)
{
    fx_open(f, "sapphire-rapids");
    pk(f, "PIN_BASED_VM_EXEC_CONTROL", low(f->caps.true_pinbased) | VMDL_PIN_EXT_INTR);
    entered(f);
    assert_int_equal(vmdl_vmx_set_mp_state(f->vmx, VMDL_MP_HALTED), 0);
    struct vmdl_vmx_vcpu_events ev = {.exception_injected = true, .exception_vector = 13,
                                      .irq_pending = true, .irq_vector = 0x40};
    assert_int_equal(vmdl_vmx_set_vcpu_events(f->vmx, &ev), 0);
}

static void test_block_ebusy_ignored(void **state)
{
    (void)state;
    struct fx f;
    ebusy_setup(&f);
    struct vmdl_vmx_exit_info i;
    assert_int_equal(vmdl_vmx_check_nested_events(f.vmx, &i), VMDL_NESTED_EBUSY);
    /* Current KVM: -EBUSY is ignored, the vCPU wakes and runs on in L2. */
    assert_int_equal(vmdl_vmx_vcpu_block(f.vmx, &i), VMDL_BLOCK_WAKE);
    assert_int_equal(vmdl_vmx_get_mp_state(f.vmx), VMDL_MP_RUNNABLE);
    assert_true(vmdl_vmx_in_guest_mode(f.vmx));
    struct vmdl_vmx_vcpu_events ev;
    assert_int_equal(vmdl_vmx_get_vcpu_events(f.vmx, &ev), 0);
    assert_true(ev.irq_pending);        /* still there for after re-injection */
    assert_true(ev.exception_injected);
    fx_close(&f);
}

static void test_block_ebusy_quirk_exits_unknown(void **state)
{
    (void)state;
    struct fx f;
    ebusy_setup(&f);
    assert_int_equal(vmdl_vmx_set_quirk_block_ebusy_exits(f.vmx, true), 0);
    struct vmdl_vmx_exit_info i;
    /* Before ead63640d4e7: KVM_RUN returns with KVM_EXIT_UNKNOWN. */
    assert_int_equal(vmdl_vmx_vcpu_block(f.vmx, &i), VMDL_BLOCK_EXIT_UNKNOWN);
    assert_int_equal(vmdl_vmx_get_mp_state(f.vmx), VMDL_MP_HALTED);
    fx_close(&f);
}

static void test_block_without_injected_event_exits_to_l1(void **state)
{
    (void)state;
    for (int quirk = 0; quirk < 2; quirk++) {
        struct fx f;
        ebusy_setup(&f);
        assert_int_equal(vmdl_vmx_set_quirk_block_ebusy_exits(f.vmx, quirk), 0);
        pk(&f, "VM_EXIT_CONTROLS", pe(&f, "VM_EXIT_CONTROLS") | VMDL_EXITCTL_ACK_INTR);
        struct vmdl_vmx_vcpu_events ev = {.irq_pending = true, .irq_vector = 0x40};
        assert_int_equal(vmdl_vmx_set_vcpu_events(f.vmx, &ev), 0);
        struct vmdl_vmx_exit_info i;
        assert_int_equal(vmdl_vmx_vcpu_block(f.vmx, &i), VMDL_BLOCK_NESTED_EXIT);
        assert_int_equal(i.reason, 1);
        assert_int_equal(i.intr_info, 0x80000040);
        assert_int_equal(vmdl_vmx_get_vcpu_events(f.vmx, &ev), 0);
        assert_false(ev.irq_pending);   /* acknowledged on exit */
        fx_close(&f);
    }
}

static void test_block_stays_halted_without_events(void **state)
{
    (void)state;
    struct fx f;
    ebusy_setup(&f);
    struct vmdl_vmx_vcpu_events ev = {.irq_pending = true, .irq_blocked = true};
    assert_int_equal(vmdl_vmx_set_vcpu_events(f.vmx, &ev), 0);
    assert_int_equal(vmdl_vmx_vcpu_block(f.vmx, NULL), VMDL_BLOCK_STAY);
    assert_int_equal(vmdl_vmx_get_mp_state(f.vmx), VMDL_MP_HALTED);
    fx_close(&f);
}

static void test_nested_event_priority(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    pk(&f, "PIN_BASED_VM_EXEC_CONTROL", low(f.caps.true_pinbased) | VMDL_PIN_EXT_INTR |
       VMDL_PIN_NMI_EXITING | VMDL_PIN_PREEMPT_TIMER);
    entered(&f);
    struct vmdl_vmx_exit_info i;
    struct vmdl_vmx_vcpu_events ev = {.init_pending = true, .preempt_timer_expired = true,
                                      .nmi_pending = true, .irq_pending = true};
    assert_int_equal(vmdl_vmx_set_vcpu_events(f.vmx, &ev), 0);
    assert_int_equal(vmdl_vmx_check_nested_events(f.vmx, &i), VMDL_NESTED_EXIT);
    assert_int_equal(i.reason, 3);      /* INIT first */
    assert_int_equal(vmdl_vmx_check_nested_events(f.vmx, &i), VMDL_NESTED_EXIT);
    assert_int_equal(i.reason, 52);     /* then the preemption timer */
    assert_int_equal(vmdl_vmx_check_nested_events(f.vmx, &i), VMDL_NESTED_EXIT);
    assert_int_equal(i.reason, 0);      /* then NMI */
    assert_int_equal(i.intr_info, 0x80000202);
    assert_int_equal(vmdl_vmx_check_nested_events(f.vmx, &i), VMDL_NESTED_EXIT);
    assert_int_equal(i.reason, 1);      /* then the interrupt */
    /* A pending run blocks even exceptions. */
    ev = (struct vmdl_vmx_vcpu_events){.nested_run_pending = true, .exception_pending = true,
                                       .exception_vector = 6};
    assert_int_equal(vmdl_vmx_set_vcpu_events(f.vmx, &ev), 0);
    assert_int_equal(vmdl_vmx_check_nested_events(f.vmx, &i), VMDL_NESTED_EBUSY);
    fx_close(&f);
}

/* L2 entered in the wait-for-SIPI activity state (IA32_VMX_MISC bit 8,
 * which KVM advertises): KVM puts the vCPU in INIT_RECEIVED.  An INIT is
 * consumed without a VM exit (KVM drops it; the SDM holds it blocked), a
 * SIPI exits with reason 4 and the vector in the qualification, the
 * activity state is saved as wait-for-SIPI and the vCPU is runnable in L1
 * after the exit (nested_vmx_vmexit). */
static void test_wait_for_sipi_l2_takes_sipi_exit(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    assert_true(f.caps.misc & VMDL_VMX_MISC_ACTIVITY_WAIT_SIPI);
    pk(&f, "GUEST_ACTIVITY_STATE", 3);
    entered(&f);
    assert_int_equal(vmdl_vmx_get_mp_state(f.vmx), VMDL_MP_INIT_RECEIVED);
    struct vmdl_vmx_exit_info i;
    struct vmdl_vmx_vcpu_events ev = {.init_pending = true, .mtf_pending = true};
    assert_int_equal(vmdl_vmx_set_vcpu_events(f.vmx, &ev), 0);
    assert_int_equal(vmdl_vmx_check_nested_events(f.vmx, &i), VMDL_NESTED_NO_EXIT);
    assert_int_equal(vmdl_vmx_get_vcpu_events(f.vmx, &ev), 0);
    assert_false(ev.init_pending);
    assert_false(ev.mtf_pending);          /* MTF is discarded in WFS (KVM) */
    assert_int_equal(vmdl_vmx_get_mp_state(f.vmx), VMDL_MP_INIT_RECEIVED);
    ev = (struct vmdl_vmx_vcpu_events){.sipi_pending = true, .sipi_vector = 0x9a};
    assert_int_equal(vmdl_vmx_set_vcpu_events(f.vmx, &ev), 0);
    assert_int_equal(vmdl_vmx_check_nested_events(f.vmx, &i), VMDL_NESTED_EXIT);
    assert_int_equal(i.reason, 4);
    assert_int_equal(i.qualification, 0x9a);
    bool abort = true;
    f.l1.activity = 0;                     /* what a machine reports */
    assert_int_equal(vmdl_vmx_nested_exit(f.vmx, &i, &f.l1, NULL, &abort), 0);
    assert_false(abort);
    assert_int_equal(pe(&f, "GUEST_ACTIVITY_STATE"), 3);
    assert_int_equal(pe(&f, "VM_EXIT_REASON"), 4);
    assert_int_equal(pe(&f, "EXIT_QUALIFICATION"), 0x9a);
    assert_int_equal(vmdl_vmx_get_mp_state(f.vmx), VMDL_MP_RUNNABLE);
    assert_int_equal(f.l1.activity, 0);
    fx_close(&f);
}

/* A SIPI reaching an L2 that is not waiting for one is dropped without a
 * VM exit; an INIT exits with reason 3 (SDM 26.2); a pending VM entry or
 * an injected event holds both (-EBUSY). */
static void test_active_l2_init_exit_sipi_dropped(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    entered(&f);
    assert_int_equal(vmdl_vmx_get_mp_state(f.vmx), VMDL_MP_RUNNABLE);
    struct vmdl_vmx_exit_info i;
    struct vmdl_vmx_vcpu_events ev = {.sipi_pending = true, .sipi_vector = 0x10};
    assert_int_equal(vmdl_vmx_set_vcpu_events(f.vmx, &ev), 0);
    assert_int_equal(vmdl_vmx_check_nested_events(f.vmx, &i), VMDL_NESTED_NO_EXIT);
    assert_int_equal(vmdl_vmx_get_vcpu_events(f.vmx, &ev), 0);
    assert_false(ev.sipi_pending);
    ev = (struct vmdl_vmx_vcpu_events){.init_pending = true, .interrupt_injected = true,
                                       .interrupt_vector = 0x30};
    assert_int_equal(vmdl_vmx_set_vcpu_events(f.vmx, &ev), 0);
    assert_int_equal(vmdl_vmx_check_nested_events(f.vmx, &i), VMDL_NESTED_EBUSY);
    ev.interrupt_injected = false;
    assert_int_equal(vmdl_vmx_set_vcpu_events(f.vmx, &ev), 0);
    assert_int_equal(vmdl_vmx_check_nested_events(f.vmx, &i), VMDL_NESTED_EXIT);
    assert_int_equal(i.reason, 3);
    assert_int_equal(i.qualification, 0);
    bool abort = true;
    assert_int_equal(vmdl_vmx_nested_exit(f.vmx, &i, &f.l1, NULL, &abort), 0);
    assert_int_equal(pe(&f, "GUEST_ACTIVITY_STATE"), 0);
    assert_int_equal(pe(&f, "VM_EXIT_REASON"), 3);
    fx_close(&f);
}

/* ---- INIT/SIPI and wait-for-SIPI: KVM (default) and the SDM options ---- */

static void fx_open_sdm(struct fx *f, bool init_opt, bool inject_opt)
{
    fx_open(f, "sapphire-rapids");
    if (!init_opt && !inject_opt)
        return;
    f->caps.sdm_init_blocked_in_wait_for_sipi = init_opt;
    f->caps.sdm_activity_blocks_injection = inject_opt;
    fx_reopen(f);
}

static enum vmdl_vmx_nested_check check_with(struct fx *f, struct vmdl_vmx_vcpu_events ev,
                                             struct vmdl_vmx_exit_info *i,
                                             struct vmdl_vmx_vcpu_events *after)
{
    assert_int_equal(vmdl_vmx_set_vcpu_events(f->vmx, &ev), 0);
    enum vmdl_vmx_nested_check r = vmdl_vmx_check_nested_events(f->vmx, i);
    assert_int_equal(vmdl_vmx_get_vcpu_events(f->vmx, after), 0);
    return r;
}

/* An INIT reaching an L2 in wait-for-SIPI: KVM consumes it without an
 * exit (and drops a pending MTF); the SDM blocks it: it stays pending,
 * does not hold back a SIPI exit (nor wait for an injected event), and
 * exits (reason 3) once L2 is active again. */
static void test_wfs_init_kvm_and_sdm(void **state)
{
    (void)state;
    for (int sdm = 0; sdm < 2; sdm++) {
        struct fx f;
        fx_open_sdm(&f, sdm, false);
        assert_true(vmdl_vmx_init_blocked(f.vmx));         /* VMX root operation */
        pk(&f, "GUEST_ACTIVITY_STATE", 3);
        entered(&f);
        assert_int_equal(vmdl_vmx_get_mp_state(f.vmx), VMDL_MP_INIT_RECEIVED);
        assert_int_equal(vmdl_vmx_init_blocked(f.vmx), sdm);
        struct vmdl_vmx_exit_info i;
        struct vmdl_vmx_vcpu_events ev;
        /* (KVM drops a pending MTF with the INIT it consumes.) */
        assert_int_equal(check_with(&f, (struct vmdl_vmx_vcpu_events){.init_pending = true,
                                                                      .mtf_pending = !sdm},
                                    &i, &ev),
                         VMDL_NESTED_NO_EXIT);
        assert_int_equal(ev.init_pending, sdm);
        assert_false(ev.mtf_pending);
        /* With an event being injected: KVM's -EBUSY for the INIT; a
         * blocked INIT is no event to deliver. */
        assert_int_equal(check_with(&f, (struct vmdl_vmx_vcpu_events){.init_pending = true,
                                                                      .interrupt_injected = true,
                                                                      .interrupt_vector = 0x30},
                                    &i, &ev),
                         sdm ? VMDL_NESTED_NO_EXIT : VMDL_NESTED_EBUSY);
        assert_true(ev.init_pending);
        /* The SIPI: exit 4 either way; the blocked INIT stays. */
        assert_int_equal(check_with(&f, (struct vmdl_vmx_vcpu_events){.init_pending = sdm,
                                                                      .sipi_pending = true,
                                                                      .sipi_vector = 0x9a},
                                    &i, &ev),
                         VMDL_NESTED_EXIT);
        assert_int_equal(i.reason, 4);
        assert_int_equal(i.qualification, 0x9a);
        assert_false(ev.sipi_pending);
        assert_int_equal(ev.init_pending, sdm);
        bool abort = true;
        f.l1.activity = 0;
        assert_int_equal(vmdl_vmx_nested_exit(f.vmx, &i, &f.l1, NULL, &abort), 0);
        assert_true(vmdl_vmx_init_blocked(f.vmx));         /* root again */
        /* The next entry into an active L2: the held INIT is exit 3. */
        pk(&f, "GUEST_ACTIVITY_STATE", 0);
        struct vmdl_vmx_result r;
        assert_int_equal(enter(&f, true, &r).outcome, VMDL_VMX_ENTRY_ENTERED);
        assert_false(vmdl_vmx_init_blocked(f.vmx));
        assert_int_equal(check_with(&f, ev, &i, &ev),
                         sdm ? VMDL_NESTED_EXIT : VMDL_NESTED_NO_EXIT);
        if (sdm)
            assert_int_equal(i.reason, 3);
        assert_false(ev.init_pending);
        fx_close(&f);
    }
    assert_false(vmdl_vmx_init_blocked(NULL));
}

/* VM entry with an event to inject into a non-active L2 (SDM 27.3.1.5):
 * KVM checks only the activity state's value; the SDM option refuses
 * events the state blocks (entry failure 33, qualification 0). */
static void test_entry_activity_injection_kvm_and_sdm(void **state)
{
    (void)state;
    static const struct {
        uint32_t activity, info, error, len;
        bool mtf, sdm_ok;
        const char *why;
    } c[] = {
        {3, VMDL_INTR_INFO_VALID | 0x30, 0, 0, false, false, "wait-for-SIPI + interrupt"},
        {3, VMDL_INTR_INFO_VALID | 2u << 8 | 2, 0, 0, false, false, "wait-for-SIPI + NMI"},
        {1, VMDL_INTR_INFO_VALID | 0x30, 0, 0, false, true, "HLT + interrupt"},
        {1, VMDL_INTR_INFO_VALID | 2u << 8 | 2, 0, 0, false, true, "HLT + NMI"},
        {1, VMDL_INTR_INFO_VALID | 3u << 8 | 1, 0, 0, false, true, "HLT + #DB"},
        {1, VMDL_INTR_INFO_VALID | 3u << 8 | 18, 0, 0, false, true, "HLT + #MC"},
        {1, VMDL_INTR_INFO_VALID | 7u << 8, 0, 0, true, true, "HLT + pending MTF"},
        {1, VMDL_INTR_INFO_VALID | VMDL_INTR_INFO_HAS_ERROR | 3u << 8 | 13, 0, 0, false, false,
         "HLT + #GP"},
        {1, VMDL_INTR_INFO_VALID | 4u << 8 | 0x80, 0, 2, false, false,
         "HLT + software interrupt"},
        {1, VMDL_INTR_INFO_VALID | 6u << 8 | 3, 0, 1, false, false, "HLT + INT3"},
        {0, VMDL_INTR_INFO_VALID | VMDL_INTR_INFO_HAS_ERROR | 3u << 8 | 13, 0, 0, false, true,
         "active + #GP"},
        {3, 0, 0, 0, false, true, "wait-for-SIPI, nothing to inject"},
    };
    for (int sdm = 0; sdm < 2; sdm++) {
        for (unsigned k = 0; k < sizeof(c) / sizeof(c[0]); k++) {
            struct fx f;
            fx_open_sdm(&f, false, sdm);
            pk(&f, "GUEST_RFLAGS", 0x202);
            pk(&f, "GUEST_ACTIVITY_STATE", c[k].activity);
            pk(&f, "VM_ENTRY_INTR_INFO_FIELD", c[k].info);
            pk(&f, "VM_ENTRY_EXCEPTION_ERROR_CODE", c[k].error);
            pk(&f, "VM_ENTRY_INSTRUCTION_LEN", c[k].len);
            if (c[k].mtf)
                pk(&f, "CPU_BASED_VM_EXEC_CONTROL",
                   pe(&f, "CPU_BASED_VM_EXEC_CONTROL") | VMDL_PROC_MTF);
            struct vmdl_vmx_result r;
            struct vmdl_vmx_entry e = enter(&f, false, &r);
            bool ok = !sdm || c[k].sdm_ok;
            if (e.outcome != (ok ? VMDL_VMX_ENTRY_ENTERED : VMDL_VMX_ENTRY_FAIL_EXIT))
                fail_msg("%s (SDM option %d): outcome %d error %u check %s", c[k].why, sdm,
                         e.outcome, r.error, e.check ? e.check : "-");
            if (!ok) {
                assert_int_equal(pe(&f, "VM_EXIT_REASON"), 33u | 0x80000000u);
                assert_int_equal(pe(&f, "EXIT_QUALIFICATION"), 0);
                assert_int_equal(vmdl_vmx_launch_state(f.vmx), 0);
            }
            fx_close(&f);
        }
    }
}

static void test_mp_state_and_events_api(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    /* INIT is blocked in VMX root operation: KVM refuses INIT_RECEIVED. */
    assert_int_not_equal(vmdl_vmx_set_mp_state(f.vmx, VMDL_MP_INIT_RECEIVED), 0);
    assert_int_not_equal(vmdl_vmx_set_mp_state(f.vmx, (enum vmdl_vmx_mp_state)9), 0);
    assert_int_equal(vmdl_vmx_set_mp_state(f.vmx, VMDL_MP_HALTED), 0);
    struct vmdl_vmx_vcpu_events ev = {.exception_injected = true, .exception_vector = 32};
    assert_int_not_equal(vmdl_vmx_set_vcpu_events(f.vmx, &ev), 0);
    ev = (struct vmdl_vmx_vcpu_events){.exception_injected = true, .exception_pending = true};
    assert_int_not_equal(vmdl_vmx_set_vcpu_events(f.vmx, &ev), 0);
    ev = (struct vmdl_vmx_vcpu_events){.nested_run_pending = true};
    assert_int_not_equal(vmdl_vmx_set_vcpu_events(f.vmx, &ev), 0);
    /* Outside L2 the halted vCPU just wakes. */
    ev = (struct vmdl_vmx_vcpu_events){.exception_injected = true, .irq_pending = true};
    assert_int_equal(vmdl_vmx_set_vcpu_events(f.vmx, &ev), 0);
    assert_int_equal(vmdl_vmx_vcpu_block(f.vmx, NULL), VMDL_BLOCK_WAKE);
    /* Reset: runnable, no events, L2 gone. */
    vmdl_vmx_reset(f.vmx);
    assert_int_equal(vmdl_vmx_get_mp_state(f.vmx), VMDL_MP_RUNNABLE);
    assert_int_equal(vmdl_vmx_get_vcpu_events(f.vmx, &ev), 0);
    assert_false(ev.exception_injected);
    assert_false(vmdl_vmx_in_guest_mode(f.vmx));
    fx_close(&f);
}


/* The nested state travels in the VMX state blob: saved while L2 runs
 * (L2 active, MP state, injected/pending events, the quirk), restored into
 * another vCPU of the same profile; a version-1 blob is refused. */
static void test_state_blob_keeps_l2(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "sapphire-rapids");
    struct vmdl_vmx_result r;
    struct vmdl_vmx_entry e = enter(&f, false, &r);
    assert_int_equal(e.outcome, VMDL_VMX_ENTRY_ENTERED);
    struct vmdl_vmx_vcpu_events ev = {.interrupt_injected = true, .interrupt_vector = 0x31,
                                      .nmi_pending = true, .nested_run_pending = true,
                                      .irq_pending = true, .irq_vector = 0x40};
    assert_int_equal(vmdl_vmx_set_vcpu_events(f.vmx, &ev), 0);
    assert_int_equal(vmdl_vmx_set_mp_state(f.vmx, VMDL_MP_HALTED), 0);
    assert_int_equal(vmdl_vmx_set_quirk_block_ebusy_exits(f.vmx, true), 0);
    uint8_t *b;
    size_t len;
    assert_int_equal(vmdl_vmx_save(f.vmx, &b, &len), 0);
    struct vmdl_vmx *other;
    assert_int_equal(vmdl_vmx_create(f.model, &f.mem, &other), 0);
    assert_false(vmdl_vmx_in_guest_mode(other));
    assert_int_equal(vmdl_vmx_load(other, b, len), 0);
    assert_true(vmdl_vmx_in_guest_mode(other));
    assert_int_equal(vmdl_vmx_get_mp_state(other), VMDL_MP_HALTED);
    struct vmdl_vmx_vcpu_events got;
    assert_int_equal(vmdl_vmx_get_vcpu_events(other, &got), 0);
    assert_memory_equal(&got, &ev, sizeof(ev));
    /* The quirk came along: a blocked wake-up exits to userspace. */
    struct vmdl_vmx_exit_info info;
    assert_int_equal(vmdl_vmx_vcpu_block(other, &info), VMDL_BLOCK_EXIT_UNKNOWN);
    uint64_t rip = 0;
    assert_int_equal(vmdl_vmx_peek(other, enc("GUEST_RIP"), &rip), 0);
    assert_int_equal(rip, 0x500000);
    /* save -> load -> save is the same blob */
    uint8_t *b2;
    size_t len2;
    assert_int_equal(vmdl_vmx_save(other, &b2, &len2), 0);
    assert_int_equal(len2, len);
    assert_memory_equal(b2, b, len);
    /* A version-1 blob (no nested state) is refused, nothing changes. */
    struct vmdl_blob_writer w;
    vmdl_blob_begin(&w, VMDL_BLOB_MAGIC('V', 'M', 'X', '1'), 1);
    vmdl_blob_put_u32(&w, vmdl_vmx_model_fingerprint(f.model));
    uint8_t *old;
    size_t olen;
    assert_int_equal(vmdl_blob_finish(&w, &old, &olen), 0);
    assert_int_equal(vmdl_vmx_load(other, old, olen), VMDL_EVERSION);
    assert_true(vmdl_vmx_in_guest_mode(other));
    free(old);
    free(b2);
    free(b);
    vmdl_vmx_destroy(other);
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_entry_enters_l2),
        cmocka_unit_test(test_wants_refuses_non_vmx_insn_reason),
        cmocka_unit_test(test_entry_injects_event),
        cmocka_unit_test(test_entry_control_field_errors),
        cmocka_unit_test(test_entry_error_code_rule),
        cmocka_unit_test(test_entry_intr_info_hostile),
        cmocka_unit_test(test_entry_dependent_controls),
        cmocka_unit_test(test_entry_tpr_threshold_vs_vtpr),
        cmocka_unit_test(test_entry_valid_eptp_and_vpid),
        cmocka_unit_test(test_eptp_rules),
        cmocka_unit_test(test_entry_host_state_errors),
        cmocka_unit_test(test_entry_canonical_la57),
        cmocka_unit_test(test_entry_host_efer_and_pat),
        cmocka_unit_test(test_entry_32bit_host),
        cmocka_unit_test(test_entry_check_order),
        cmocka_unit_test(test_entry_guest_state_failures),
        cmocka_unit_test(test_entry_guest_cr3_and_pdptes),
        cmocka_unit_test(test_entry_guest_debug_pat_efer),
        cmocka_unit_test(test_entry_guest_debugctl_kvm),
        cmocka_unit_test(test_entry_vmcs_link_pointer),
        cmocka_unit_test(test_entry_msr_load_list),
        cmocka_unit_test(test_exit_saves_guest_loads_host),
        cmocka_unit_test(test_exit_msr_lists),
        cmocka_unit_test(test_wants_unconditional_and_controls),
        cmocka_unit_test(test_wants_exceptions_and_pf_match),
        cmocka_unit_test(test_wants_io),
        cmocka_unit_test(test_wants_msr_bitmaps),
        cmocka_unit_test(test_wants_desc_table),
        cmocka_unit_test(test_wants_cr_access),
        cmocka_unit_test(test_wants_interrupts_nmi_timer),
        cmocka_unit_test(test_vapic_ppr_and_pending),
        cmocka_unit_test(test_vapic_deliver_and_eoi),
        cmocka_unit_test(test_vapic_msr_reads),
        cmocka_unit_test(test_vapic_tpr_and_self_ipi),
        cmocka_unit_test(test_vapic_self_ipi_low_vector),
        cmocka_unit_test(test_l2_vmcs_access_exits),
        cmocka_unit_test(test_l2_vmcs_shadow_exec),
        cmocka_unit_test(test_vapic_posted_interrupts),
        cmocka_unit_test(test_apic_access_page_in_force),
        cmocka_unit_test(test_apic_access_exits_without_tpr_shadow),
        cmocka_unit_test(test_apic_access_tpr_only),
        cmocka_unit_test(test_apic_access_reg_virt_lists),
        cmocka_unit_test(test_apic_access_write_emulation),
        cmocka_unit_test(test_apic_access_vid_writes),
        cmocka_unit_test(test_apic_access_hostile),
        cmocka_unit_test(test_l2_tsc),
        cmocka_unit_test(test_preempt_timer_grid),
        cmocka_unit_test(test_invept),
        cmocka_unit_test(test_invvpid),
        cmocka_unit_test(test_vmfunc_entry_checks),
        cmocka_unit_test(test_vmfunc_eptp_switching),
        cmocka_unit_test(test_vmfunc_exits),
        cmocka_unit_test(test_vmfunc_ud),
        cmocka_unit_test(test_block_ebusy_ignored),
        cmocka_unit_test(test_block_ebusy_quirk_exits_unknown),
        cmocka_unit_test(test_block_without_injected_event_exits_to_l1),
        cmocka_unit_test(test_block_stays_halted_without_events),
        cmocka_unit_test(test_nested_event_priority),
        cmocka_unit_test(test_wait_for_sipi_l2_takes_sipi_exit),
        cmocka_unit_test(test_active_l2_init_exit_sipi_dropped),
        cmocka_unit_test(test_wfs_init_kvm_and_sdm),
        cmocka_unit_test(test_entry_activity_injection_kvm_and_sdm),
        cmocka_unit_test(test_mp_state_and_events_api),
        cmocka_unit_test(test_state_blob_keeps_l2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
