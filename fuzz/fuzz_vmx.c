/* SPDX-License-Identifier: MIT */
/*
 * fuzz_vmx: VMX instruction sequences on one vmdl_vmx over a flat guest
 * memory of 16 pages.
 *
 * Input: byte 0 picks the capability profile (and the field policy, the
 * AR-bytes rule, the launch-state rule and, bit 7, the SDM options for
 * INIT and event injection around wait-for-SIPI), byte 1 the host's
 * IA32_FEATURE_CONTROL, byte 2 which
 * pages hold a valid revision id; then operations until the input ends.
 *
 * Invariants checked after every step:
 *  - a fault (#UD/#GP/#PF only) changes neither RFLAGS nor the VMX state;
 *  - RFLAGS: only CF/PF/AF/ZF/SF/OF may change, exactly as VMsucceed,
 *    VMfailInvalid (CF) and VMfailValid (ZF) prescribe;
 *  - VMfailValid only with a current VMCS and an error number from the SDM
 *    table, which VM_INSTRUCTION_ERROR then reads back;
 *  - VMREAD/VMWRITE of a field the profile does not support never succeeds;
 *  - VMREAD returns a value within the field width, equal to what the last
 *    successful VMWRITE of that field stored (truncated to the width, with
 *    the _HIGH half aliasing bits 63:32 of its 64-bit field);
 *  - VMLAUNCH/VMRESUME pass the launch-state check exactly when the
 *    vmcs12 launch-state word allows it (KVM: word != 1 / word != 0; the
 *    option: word == 0 / word != 0) and fail it with error 4 / 5 otherwise;
 *  - VMPTRST returns the current-VMCS pointer; VMXON/VMXOFF move in and
 *    out of VMX operation only on VMsucceed;
 *  - capability MSRs are read-only, VMCS_ENUM covers every supported field
 *    index, IA32_FEATURE_CONTROL reads back what was written;
 *  - save -> load -> save reproduces the blob;
 *  - nested entries (op 4) from fuzzed vmcs12 contents: a VMfail is 4, 5,
 *    7, 8 or 26 and changes neither the L1 state nor the launch state; an
 *    entry failure is reason 33/34 with bit 31, host RIP and RFLAGS 2 loaded,
 *    launch state unchanged; an entry that enters passes every check on
 *    its own, loads GUEST_RIP and is launched; the exit that follows (with
 *    a fuzzed L2 event through the exit decision) leaves L2, loads the host
 *    state and consumes the entry event; INVEPT/INVVPID fail only with 28;
 *  - APIC virtualization (op 4, vmx_vapic.h) on fuzzed vmcs12 controls,
 *    guest interrupt status, virtual-APIC page address and page contents:
 *    no virtual interrupt pends without virtual-interrupt delivery, a
 *    delivery gives the vector that was pending and leaves it in SVI, an
 *    x2APIC MSR access exits only with reason 43, 45 or 56 (SELF IPI) and
 *    faults only on a write, PPR virtualization stores the VPPR it
 *    returns; an access to the APIC-access page (fuzzed address, size,
 *    type) exits with reason 44 and its type in the qualification, is
 *    virtualized only as a linear read or write inside one register's low
 *    4 bytes, and its APIC-write emulation exits only with 43, 45 or 56;
 *  - the EPT walk of the current vmcs12 with page-modification logging
 *    (op 4) on fuzzed EPTP, tables, PML address and index: GUEST_PML_INDEX
 *    moves by at most one, only down, only on a translation; a log-full
 *    event only with an index of 512 or more; the preemption timer's
 *    deadline and saved value agree (vmdl_vmx_preempt_deadline/_value:
 *    the value loaded, one less off the 2^rate grid).
 */
#include "fuzz_util.h"

#include "virtmodel/error.h"
#include "virtmodel/guest_mem.h"
#include "virtmodel/vmx.h"
#include "virtmodel/vmx_ept.h"
#include "virtmodel/vmx_nested.h"
#include "virtmodel/vmx_vapic.h"

#define NPAGES 16
#define PAGE 4096u
#define MEM_SIZE (NPAGES * PAGE)
#define MAX_PROFILES 8

static uint8_t mem_buf[MEM_SIZE];
static struct vmdl_vmx_model *models[MAX_PROFILES][2][2][2][2];

/* What the fuzzer knows about the fields of each VMCS region (by page):
 * the value of the full 64-bit slot and which bits of it are known. */
#define NFIELDS 512
struct shadow {
    uint64_t val[NFIELDS];
    uint64_t known[NFIELDS];
};
static struct shadow shadows[NPAGES];
static bool shadow_live[NPAGES]; /* false: nothing known (cleared lazily) */

static const uint32_t sdm_errors[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
                                      13, 15, 16, 17, 18, 19, 20, 22, 23, 24,
                                      25, 26, 28};

static bool sdm_error(uint32_t e)
{
    for (size_t i = 0; i < sizeof(sdm_errors) / sizeof(sdm_errors[0]); i++)
        if (sdm_errors[i] == e)
            return true;
    return false;
}

static struct vmdl_vmx_model *get_model(unsigned prof, unsigned policy,
                                        unsigned ar, unsigned launch_any, unsigned sdm)
{
    struct vmdl_vmx_model **slot = &models[prof][policy][ar][launch_any][sdm];
    if (*slot)
        return *slot;
    struct vmdl_vmx_caps caps;
    FZ_CHECK(vmdl_vmx_profile_get(vmdl_vmx_profile_name(prof), &caps) == 0,
             "profile %u: %s", prof, vmdl_last_error());
    caps.field_policy = policy ? VMDL_VMX_FIELDS_ARCH : VMDL_VMX_FIELDS_KVM;
    /* A bare-hardware MISC (CR3-target values) is refused under KVM's
     * field set: such a profile always runs with the architectural one. */
    if (VMDL_VMX_MISC_CR3_COUNT(caps.misc))
        caps.field_policy = VMDL_VMX_FIELDS_ARCH;
    caps.ar_bytes_drop_reserved = ar;
    caps.launch_state_any_nonzero = launch_any;
    caps.sdm_init_blocked_in_wait_for_sipi = sdm;
    caps.sdm_activity_blocks_injection = sdm;
    FZ_CHECK(vmdl_vmx_model_create(&caps, slot) == 0, "model %s: %s",
             caps.name, vmdl_last_error());
    /* Table-level invariants, once per model. */
    uint64_t vmcs_enum = vmdl_vmx_model_vmcs_enum(*slot);
    unsigned max_idx = (unsigned)((vmcs_enum >> 1) & 0x1ff), n = 0;
    FZ_CHECK(vmdl_vmcs_field_count() <= NFIELDS, "table larger than the shadow");
    for (unsigned i = 0; i < vmdl_vmcs_field_count(); i++) {
        const struct vmdl_vmcs_field *f = vmdl_vmcs_field_at(i);
        FZ_CHECK(vmdl_vmcs_field_lookup(f->encoding) == f,
                 "ROL16 lookup of 0x%x", f->encoding);
        FZ_CHECK(vmdl_vmcs_field_lookup_linear(f->encoding) == f,
                 "linear lookup of 0x%x", f->encoding);
        if (!vmdl_vmx_model_field_supported(*slot, f->encoding))
            continue;
        n++;
        FZ_CHECK(vmdl_vmcs_enc_index(f->encoding) <= max_idx,
                 "%s index %u above VMCS_ENUM 0x%llx", f->name,
                 vmdl_vmcs_enc_index(f->encoding),
                 (unsigned long long)vmcs_enum);
        FZ_CHECK(f->offset + vmdl_vmcs_enc_bytes(f->encoding) <= VMDL_VMCS12_SIZE,
                 "%s offset", f->name);
    }
    FZ_CHECK(n == vmdl_vmx_model_nr_supported(*slot), "supported count");
    return *slot;
}

static int page_of(uint64_t gpa)
{
    return gpa < MEM_SIZE ? (int)(gpa / PAGE) : -1;
}

/* A store to guest memory: whatever we knew of that VMCS region is gone. */
static void clobber(uint64_t gpa, unsigned len)
{
    int a = page_of(gpa), b = page_of(gpa + len - 1);
    if (a >= 0)
        shadow_live[a] = false;
    if (b >= 0)
        shadow_live[b] = false;
}

static uint64_t width_mask(uint64_t enc)
{
    unsigned bytes = vmdl_vmcs_enc_bytes(enc);
    return bytes == 8 ? ~UINT64_C(0) : (UINT64_C(1) << (8 * bytes)) - 1;
}

/* Slot of a (table) field in the shadow: the table position of its full
 * encoding. */
static unsigned slot_of(uint64_t enc)
{
    const struct vmdl_vmcs_field *e = vmdl_vmcs_field_lookup(enc & ~UINT64_C(1));
    FZ_CHECK(e, "field 0x%llx has no full-width entry", (unsigned long long)enc);
    return vmdl_vmcs_field_id(e);
}

static void shadow_store_pg(int pg, uint64_t enc, uint64_t v)
{
    if (!shadow_live[pg]) {
        memset(&shadows[pg], 0, sizeof(shadows[pg]));
        shadow_live[pg] = true;
    }
    struct shadow *s = &shadows[pg];
    unsigned k = slot_of(enc);
    if (vmdl_vmcs_enc_is_high(enc)) {
        s->val[k] = (s->val[k] & 0xffffffffu) | (v & 0xffffffffu) << 32;
        s->known[k] |= UINT64_C(0xffffffff) << 32;
    } else {
        uint64_t m = width_mask(enc);
        s->val[k] = v & m;
        /* A full write of a 64-bit field sets both halves; a narrower
         * field has no bits above its width. */
        s->known[k] = ~UINT64_C(0);
    }
}

static bool shadow_expect(int pg, uint64_t enc, uint64_t *v)
{
    if (!shadow_live[pg])
        return false;
    const struct shadow *s = &shadows[pg];
    unsigned k = slot_of(enc);
    if (vmdl_vmcs_enc_is_high(enc)) {
        if ((s->known[k] >> 32) != 0xffffffffu)
            return false;
        *v = s->val[k] >> 32;
        return true;
    }
    uint64_t m = width_mask(enc);
    if ((s->known[k] & m) != m)
        return false;
    *v = s->val[k] & m;
    return true;
}

struct run {
    struct vmdl_vmx *vmx;
    const struct vmdl_vmx_model *model;
    struct vmdl_vmx_ctx ctx;
    uint16_t err_enc;
};

static uint64_t pick_ptr(struct fz *f)
{
    switch (fz_u8(f) & 7) {
    case 0: return fz_u64(f);
    case 1: return (uint64_t)fz_pick(f, NPAGES) * PAGE + (fz_u8(f) & 7);
    case 2: return (uint64_t)(NPAGES + fz_u8(f)) * PAGE;
    default: return (uint64_t)fz_pick(f, NPAGES) * PAGE;
    }
}

static uint64_t pick_field(struct fz *f, const struct vmdl_vmx_model *m)
{
    (void)m;
    switch (fz_u8(f) & 7) {
    case 0: return fz_u64(f);
    case 1: return fz_u16(f);
    case 2: { /* a table field with its access-type bit flipped */
        const struct vmdl_vmcs_field *e =
            vmdl_vmcs_field_at(fz_u16(f) % vmdl_vmcs_field_count());
        return e->encoding ^ 1;
    }
    default: {
        const struct vmdl_vmcs_field *e =
            vmdl_vmcs_field_at(fz_u16(f) % vmdl_vmcs_field_count());
        return e->encoding;
    }
    }
}

static void pick_operand(struct fz *f, struct vmdl_vmx_operand *op,
                         bool want_mem, uint64_t reg_value)
{
    memset(op, 0, sizeof(*op));
    unsigned k = fz_u8(f);
    if ((k & 15) == 0) {
        op->kind = (k >> 4) & 1 ? VMDL_VMX_OPND_NONE
                   : want_mem   ? VMDL_VMX_OPND_REG
                                : VMDL_VMX_OPND_MEM;
    } else {
        op->kind = want_mem ? VMDL_VMX_OPND_MEM : VMDL_VMX_OPND_REG;
    }
    if (op->kind == VMDL_VMX_OPND_MEM) {
        op->addr = (k & 0x30) == 0x30 ? fz_u64(f)
                                     : (uint64_t)fz_u16(f) % (MEM_SIZE + 64);
    }
    op->value = reg_value;
}

struct snap {
    bool on;
    uint64_t vmxon, cur;
    bool launched;
    uint32_t launch_word;
};

static void snap(const struct vmdl_vmx *vmx, struct snap *s)
{
    memset(s, 0, sizeof(*s));
    s->on = vmdl_vmx_in_vmx_operation(vmx);
    s->vmxon = vmdl_vmx_vmxon_ptr(vmx);
    s->cur = vmdl_vmx_current_vmptr(vmx);
    s->launched = vmdl_vmx_launched(vmx);
    s->launch_word = vmdl_vmx_launch_state(vmx);
}

/* Does the launch-state check refuse this entry?  Stated independently of
 * the model: KVM's nested_vmx_run compares `launch_state == launch`. */
static bool launch_refused(const struct run *r, uint32_t word, bool resume)
{
    if (vmdl_vmx_model_caps(r->model)->launch_state_any_nonzero)
        return resume ? word == 0 : word != 0;
    return word == (resume ? 0u : 1u);
}

/* Common checks on a result; returns true when the instruction completed
 * (no fault). */
static bool check_result(struct run *r, const struct vmdl_vmx_result *res,
                         const struct snap *before, const char *what)
{
    struct snap after;
    snap(r->vmx, &after);
    uint64_t in = r->ctx.rflags;
    if (res->fault != VMDL_FAULT_NONE) {
        FZ_CHECK(res->fault == VMDL_FAULT_UD || res->fault == VMDL_FAULT_GP ||
                     res->fault == VMDL_FAULT_PF,
                 "%s: fault %d", what, res->fault);
        FZ_CHECK(res->rflags == in, "%s: fault changed RFLAGS", what);
        FZ_CHECK(after.on == before->on && after.vmxon == before->vmxon &&
                     after.cur == before->cur && after.launched == before->launched,
                 "%s: fault changed the VMX state", what);
        return false;
    }
    FZ_CHECK((res->rflags & ~VMDL_RFLAGS_ARITH) == (in & ~VMDL_RFLAGS_ARITH),
             "%s: non-arithmetic RFLAGS bits changed (0x%llx -> 0x%llx)", what,
             (unsigned long long)in, (unsigned long long)res->rflags);
    uint64_t arith = res->rflags & VMDL_RFLAGS_ARITH;
    switch (res->status) {
    case VMDL_VMX_SUCCEED:
        FZ_CHECK(arith == 0, "%s: VMsucceed with flags 0x%llx", what,
                 (unsigned long long)arith);
        break;
    case VMDL_VMX_FAIL_INVALID:
        FZ_CHECK(arith == VMDL_RFLAGS_CF, "%s: VMfailInvalid flags 0x%llx",
                 what, (unsigned long long)arith);
        FZ_CHECK(after.on == before->on && after.cur == before->cur,
                 "%s: VMfailInvalid changed the state", what);
        break;
    case VMDL_VMX_FAIL_VALID: {
        FZ_CHECK(arith == VMDL_RFLAGS_ZF, "%s: VMfailValid flags 0x%llx",
                 what, (unsigned long long)arith);
        FZ_CHECK(sdm_error(res->error), "%s: error %u not in the SDM table",
                 what, res->error);
        FZ_CHECK(after.cur != VMDL_VMX_INVALID_PTR,
                 "%s: VMfailValid without a current VMCS", what);
        int pg = page_of(after.cur);
        if (pg >= 0)
            shadow_store_pg(pg, r->err_enc, res->error);
        uint64_t v;
        if (vmdl_vmx_peek(r->vmx, r->err_enc, &v) == 0)
            FZ_CHECK(v == res->error, "%s: VM_INSTRUCTION_ERROR %llu != %u",
                     what, (unsigned long long)v, res->error);
        break;
    }
    case VMDL_VMX_ENTRY:
        FZ_CHECK(res->rflags == in, "%s: VM entry changed RFLAGS", what);
        FZ_CHECK(after.cur != VMDL_VMX_INVALID_PTR, "%s: entry without VMCS", what);
        break;
    default:
        FZ_CHECK(0, "%s: status %d", what, res->status);
    }
    return true;
}

static void do_insn(struct run *r, struct fz *f)
{
    static const enum vmdl_vmx_insn insns[] = {
        VMDL_VMX_INSN_VMXON, VMDL_VMX_INSN_VMXOFF, VMDL_VMX_INSN_VMCLEAR,
        VMDL_VMX_INSN_VMPTRLD, VMDL_VMX_INSN_VMPTRST, VMDL_VMX_INSN_VMREAD,
        VMDL_VMX_INSN_VMWRITE, VMDL_VMX_INSN_VMLAUNCH, VMDL_VMX_INSN_VMRESUME,
        VMDL_VMX_INSN_VMREAD, VMDL_VMX_INSN_VMWRITE, VMDL_VMX_INSN_VMPTRLD,
    };
    enum vmdl_vmx_insn insn = insns[fz_pick(f, sizeof(insns) / sizeof(insns[0]))];
    struct vmdl_vmx_operand op0 = {0}, op1 = {0};
    uint64_t field = 0, value = 0;
    switch (insn) {
    case VMDL_VMX_INSN_VMXON:
    case VMDL_VMX_INSN_VMCLEAR:
    case VMDL_VMX_INSN_VMPTRLD: {
        /* Put the pointer in memory at an operand address. */
        pick_operand(f, &op0, true, 0);
        uint64_t ptr = pick_ptr(f);
        if (op0.kind == VMDL_VMX_OPND_MEM && op0.addr <= MEM_SIZE - 8 &&
            fz_u8(f) < 224) {
            for (int i = 0; i < 8; i++)
                mem_buf[op0.addr + i] = (uint8_t)(ptr >> (8 * i));
            clobber(op0.addr, 8);
        }
        break;
    }
    case VMDL_VMX_INSN_VMPTRST:
        pick_operand(f, &op0, true, 0);
        break;
    case VMDL_VMX_INSN_VMREAD:
        field = pick_field(f, r->model);
        pick_operand(f, &op0, fz_u8(f) < 32, 0);
        pick_operand(f, &op1, false, field);
        break;
    case VMDL_VMX_INSN_VMWRITE:
        field = pick_field(f, r->model);
        value = fz_value(f);
        pick_operand(f, &op0, false, field);
        pick_operand(f, &op1, fz_u8(f) < 32, value);
        if (op1.kind == VMDL_VMX_OPND_MEM && op1.addr <= MEM_SIZE - 8) {
            for (int i = 0; i < 8; i++)
                mem_buf[op1.addr + i] = (uint8_t)(value >> (8 * i));
            clobber(op1.addr, 8);
        }
        break;
    default:
        break;
    }
    struct snap before;
    snap(r->vmx, &before);
    struct vmdl_vmx_result res;
    int err = vmdl_vmx_exec(r->vmx, &r->ctx, insn, &op0, &op1, &res);
    FZ_TRACE("%s field=0x%llx value=0x%llx op0=%d/0x%llx op1=%d/0x%llx -> "
             "err %d fault %d status %d error %u rflags 0x%llx\n",
             vmdl_vmx_insn_name(insn), (unsigned long long)field,
             (unsigned long long)value, op0.kind, (unsigned long long)op0.addr,
             op1.kind, (unsigned long long)op1.addr, err, res.fault, res.status,
             res.error, (unsigned long long)res.rflags);
    FZ_CHECK(err == 0, "vmdl_vmx_exec(%s): %s", vmdl_vmx_insn_name(insn),
             vmdl_last_error());
    bool done = check_result(r, &res, &before, vmdl_vmx_insn_name(insn));
    struct snap after;
    snap(r->vmx, &after);
    if (!done) {
        FZ_CHECK(!op0.written && !op1.written, "fault wrote a register");
        return;
    }
    /* Memory stores of VMREAD/VMPTRST. */
    if ((insn == VMDL_VMX_INSN_VMPTRST || insn == VMDL_VMX_INSN_VMREAD) &&
        op0.kind == VMDL_VMX_OPND_MEM && res.status == VMDL_VMX_SUCCEED)
        clobber(op0.addr, 8);
    switch (insn) {
    case VMDL_VMX_INSN_VMXON:
        if (res.status == VMDL_VMX_SUCCEED) {
            FZ_CHECK(!before.on && after.on, "VMXON succeeded in VMX operation");
            FZ_CHECK(after.cur == VMDL_VMX_INVALID_PTR, "VMXON left a VMCS");
        } else {
            FZ_CHECK(after.on == before.on, "failed VMXON changed state");
        }
        break;
    case VMDL_VMX_INSN_VMXOFF:
        FZ_CHECK(res.status == VMDL_VMX_SUCCEED && !after.on &&
                     after.cur == VMDL_VMX_INVALID_PTR,
                 "VMXOFF did not leave VMX operation");
        /* KVM drops the cached vmcs12 without writing it back. */
        if (page_of(before.cur) >= 0)
            clobber(before.cur, 1);
        break;
    case VMDL_VMX_INSN_VMPTRLD:
        if (res.status == VMDL_VMX_SUCCEED) {
            FZ_CHECK(after.cur != VMDL_VMX_INVALID_PTR && !(after.cur & 0xfff),
                     "VMPTRLD succeeded with pointer 0x%llx",
                     (unsigned long long)after.cur);
            FZ_CHECK(after.cur != after.vmxon, "VMPTRLD of the VMXON region");
        } else {
            FZ_CHECK(after.cur == before.cur, "failed VMPTRLD changed the VMCS");
        }
        break;
    case VMDL_VMX_INSN_VMCLEAR:
        if (res.status == VMDL_VMX_SUCCEED && after.cur != before.cur)
            FZ_CHECK(after.cur == VMDL_VMX_INVALID_PTR, "VMCLEAR switched VMCS");
        break;
    case VMDL_VMX_INSN_VMPTRST:
        FZ_CHECK(res.status == VMDL_VMX_SUCCEED && res.value == after.cur,
                 "VMPTRST 0x%llx != current 0x%llx",
                 (unsigned long long)res.value, (unsigned long long)after.cur);
        break;
    case VMDL_VMX_INSN_VMREAD:
    case VMDL_VMX_INSN_VMWRITE: {
        bool supported = vmdl_vmx_model_field_supported(r->model, field);
        if (!supported)
            FZ_CHECK(res.status != VMDL_VMX_SUCCEED,
                     "%s of unsupported field 0x%llx succeeded",
                     vmdl_vmx_insn_name(insn), (unsigned long long)field);
        if (res.status == VMDL_VMX_FAIL_VALID && supported && insn == VMDL_VMX_INSN_VMREAD)
            FZ_CHECK(0, "VMREAD of supported field 0x%llx failed with %u",
                     (unsigned long long)field, res.error);
        if (res.status != VMDL_VMX_SUCCEED)
            break;
        FZ_CHECK(vmdl_vmcs_enc_well_formed(field), "ill-formed field 0x%llx "
                 "accepted", (unsigned long long)field);
        int pg = page_of(after.cur);
        if (insn == VMDL_VMX_INSN_VMREAD) {
            FZ_CHECK((res.value & ~width_mask(field)) == 0,
                     "VMREAD 0x%llx = 0x%llx wider than the field",
                     (unsigned long long)field, (unsigned long long)res.value);
            uint64_t want;
            if (pg >= 0 && shadow_expect(pg, field, &want))
                FZ_CHECK(res.value == want, "VMREAD 0x%llx = 0x%llx, last "
                         "VMWRITE stored 0x%llx", (unsigned long long)field,
                         (unsigned long long)res.value, (unsigned long long)want);
            if (op0.kind == VMDL_VMX_OPND_REG)
                FZ_CHECK(op0.written && op0.value == res.value, "VMREAD reg");
        } else if (pg >= 0) {
            uint64_t stored;
            FZ_CHECK(vmdl_vmx_peek(r->vmx, field, &stored) == 0, "peek");
            const struct vmdl_vmx_caps *c = vmdl_vmx_model_caps(r->model);
            uint64_t want = value & width_mask(field);
            const struct vmdl_vmcs_field *e = vmdl_vmcs_field_lookup(field);
            bool ar = strstr(e->name, "_AR_BYTES") && !strncmp(e->name, "GUEST_", 6);
            if (c->ar_bytes_drop_reserved && ar)
                want &= 0x1f0ffu;
            FZ_CHECK(stored == want, "VMWRITE 0x%llx of 0x%llx stored 0x%llx",
                     (unsigned long long)field, (unsigned long long)value,
                     (unsigned long long)stored);
            shadow_store_pg(pg, field, want);
        }
        break;
    }
    case VMDL_VMX_INSN_VMLAUNCH:
    case VMDL_VMX_INSN_VMRESUME:
        if (res.status == VMDL_VMX_FAIL_VALID &&
            (res.error == 4 || res.error == 5)) {
            bool resume = insn == VMDL_VMX_INSN_VMRESUME;
            FZ_CHECK(res.error == (resume ? 5u : 4u), "%s failed with error %u",
                     resume ? "VMRESUME" : "VMLAUNCH", res.error);
            FZ_CHECK(launch_refused(r, before.launch_word, resume),
                     "launch-state word %u refused", before.launch_word);
        }
        if (res.status == VMDL_VMX_ENTRY) {
            FZ_CHECK(!launch_refused(r, before.launch_word,
                                     insn == VMDL_VMX_INSN_VMRESUME),
                     "entry with launch-state word %u", before.launch_word);
            unsigned c = fz_u8(f) % 3;
            if (c == 0) {
                FZ_CHECK(vmdl_vmx_entry_done(r->vmx) == 0, "entry_done");
                FZ_CHECK(vmdl_vmx_launched(r->vmx), "not launched after entry");
            } else if (c == 1) {
                struct snap b2;
                snap(r->vmx, &b2);
                FZ_CHECK(vmdl_vmx_entry_failed(r->vmx, 7 + (fz_u8(f) & 1), &res) == 0,
                         "entry_failed");
                check_result(r, &res, &b2, "entry_failed");
                FZ_CHECK(res.status == VMDL_VMX_FAIL_VALID, "entry_failed status");
            }
        }
        break;
    default: /* INVEPT/INVVPID: fuzzed through do_nested */
        break;
    }
}

/* ---- nested entries and exits ---- */

static uint64_t peek0(struct run *r, const char *name)
{
    uint64_t v = 0;
    (void)vmdl_vmx_peek(r->vmx, vmdl_vmcs_field_by_name(name)->encoding, &v);
    return v;
}

static void poke_name(struct run *r, const char *name, uint64_t v)
{
    (void)vmdl_vmx_poke(r->vmx, vmdl_vmcs_field_by_name(name)->encoding, v);
}

/* A vmcs12 that enters a 64-bit L2 under the profile, so that single
 * fuzzed field writes reach the deeper checks. */
static void make_valid(struct run *r)
{
    const struct vmdl_vmx_caps *c = vmdl_vmx_model_caps(r->model);
    bool t = c->basic & VMDL_VMX_BASIC_TRUE_CTLS;
    poke_name(r, "PIN_BASED_VM_EXEC_CONTROL", (uint32_t)(t ? c->true_pinbased : c->pinbased));
    poke_name(r, "CPU_BASED_VM_EXEC_CONTROL", (uint32_t)(t ? c->true_procbased : c->procbased));
    poke_name(r, "VM_EXIT_CONTROLS", (uint32_t)(t ? c->true_exit : c->exit) | VMDL_EXITCTL_HOST_ADDR64);
    poke_name(r, "VM_ENTRY_CONTROLS", (uint32_t)(t ? c->true_entry : c->entry) | VMDL_ENTRYCTL_IA32E);
    poke_name(r, "HOST_CR0", c->cr0_fixed0 | 0x10);
    poke_name(r, "HOST_CR4", c->cr4_fixed0 | 0x20);
    poke_name(r, "HOST_CS_SELECTOR", 8);
    poke_name(r, "HOST_TR_SELECTOR", 0x18);
    poke_name(r, "HOST_RIP", 0x401000);
    poke_name(r, "GUEST_CR0", c->cr0_fixed0 | 0x10);
    poke_name(r, "GUEST_CR4", c->cr4_fixed0 | 0x20);
    poke_name(r, "GUEST_RFLAGS", 2);
    poke_name(r, "GUEST_RIP", 0x500000);
    poke_name(r, "GUEST_CS_AR_BYTES", 0xa09b);
    poke_name(r, "GUEST_SS_AR_BYTES", 0xc093);
    poke_name(r, "GUEST_DS_AR_BYTES", 0xc093);
    poke_name(r, "GUEST_ES_AR_BYTES", 0xc093);
    poke_name(r, "GUEST_FS_AR_BYTES", 0xc093);
    poke_name(r, "GUEST_GS_AR_BYTES", 0xc093);
    poke_name(r, "GUEST_LDTR_AR_BYTES", 0x10000);
    poke_name(r, "GUEST_TR_AR_BYTES", 0x8b);
    poke_name(r, "GUEST_TR_SELECTOR", 0x18);
    /* Page-granular segments need limits with bits 11:0 set (SDM 27.3.1.2). */
    static const char *const lim[] = {"GUEST_CS_LIMIT", "GUEST_SS_LIMIT", "GUEST_DS_LIMIT",
                                      "GUEST_ES_LIMIT", "GUEST_FS_LIMIT", "GUEST_GS_LIMIT"};
    for (unsigned i = 0; i < sizeof(lim) / sizeof(lim[0]); i++)
        poke_name(r, lim[i], 0xffffffff);
    poke_name(r, "GUEST_TR_LIMIT", 0x67);
    poke_name(r, "VMCS_LINK_POINTER", UINT64_MAX);
}

static void do_exit(struct run *r, struct fz *f, struct vmdl_vmx_cpu *cpu)
{
    struct vmdl_vmx_l2_event ev = {
        .kind = (enum vmdl_vmx_l2_kind)(1 + fz_pick(f, VMDL_L2_DESC_TABLE)),
        .vector = fz_u8(f), .type = fz_u8(f) & 7, .has_error = fz_bool(f),
        .error_code = fz_u32(f), .addr = fz_u64(f), .value = fz_value(f),
        .cr = fz_u8(f) & 15, .dr = fz_u8(f) & 7, .gpr = fz_u8(f) & 15,
        .port = fz_u16(f), .size = (uint8_t)(1u << (fz_u8(f) % 3)), .in = fz_bool(f),
        .msr = fz_u32(f), .vmx_exit = fz_u8(f), .insn_len = fz_u8(f) & 15,
        .desc = fz_u8(f) & 15, .disp = fz_u64(f), .insn_info = fz_u32(f),
    };
    struct vmdl_vmx_exit_info info;
    bool wants = vmdl_vmx_l1_wants(r->vmx, &ev, &info);
    FZ_TRACE("l2 event %d -> %s reason %u\n", ev.kind, wants ? "L1" : "L2", info.reason);
    FZ_CHECK((info.reason & 0xffff) < 80, "exit reason %u", info.reason);
    FZ_CHECK(ev.kind != VMDL_L2_DESC_TABLE || !wants || info.reason == 46 + (ev.desc >= 4),
             "descriptor-table instruction %u exits with reason %u", ev.desc, info.reason);
    cpu->rip = fz_u64(f);
    bool vmx_abort = false;
    FZ_CHECK(vmdl_vmx_nested_exit(r->vmx, &info, cpu, NULL, &vmx_abort) == 0, "exit: %s",
             vmdl_last_error());
    FZ_CHECK(!vmdl_vmx_in_guest_mode(r->vmx), "still in L2 after the exit");
    FZ_CHECK(cpu->rip == peek0(r, "HOST_RIP") && cpu->rflags == 2, "host state not loaded");
    FZ_CHECK(peek0(r, "VM_EXIT_REASON") == info.reason, "exit reason not stored");
    FZ_CHECK(!(peek0(r, "VM_ENTRY_INTR_INFO_FIELD") >> 31), "entry event not consumed");
}

/* VMFUNC with fuzzed EAX/ECX (and sometimes a fuzzed EPTP-list entry):
 * #UD exactly without VM functions or with EAX > 63 (always outside L2);
 * an exit is reason 59 with the length and changes nothing; a switch is
 * function 0 enabled with EPT, to the list entry, a valid EPTP. */
static void do_vmfunc(struct run *r, struct fz *f)
{
    uint64_t rax = fz_pick(f, 4) == 0 ? fz_u64(f) : fz_u8(f);
    rax = rax < 192 ? rax & 3 : rax;   /* mostly functions 0-3, sometimes > 63 */
    uint64_t rcx = fz_pick(f, 4) == 0 ? fz_u64(f) : fz_u16(f) & 0x3ff;
    uint64_t list = peek0(r, "EPTP_LIST_ADDRESS") & ~0xFFFull;
    bool in_mem = list < MEM_SIZE && 8ull * (uint32_t)rcx + 8 <= MEM_SIZE - list;
    if (fz_bool(f) && in_mem) {
        uint64_t v = fz_value(f);
        memcpy(mem_buf + list + 8 * (uint32_t)rcx, &v, 8);
        clobber(list + 8 * (uint32_t)rcx, 8);
    }
    uint64_t eptp = peek0(r, "EPT_POINTER");
    bool l2 = vmdl_vmx_in_guest_mode(r->vmx);
    bool on = (peek0(r, "CPU_BASED_VM_EXEC_CONTROL") & VMDL_PROC_SECONDARY) &&
              (peek0(r, "SECONDARY_VM_EXEC_CONTROL") & VMDL_PROC2_VMFUNC);
    struct vmdl_vmx_vmfunc o;
    FZ_CHECK(vmdl_vmx_vmfunc(r->vmx, rax, rcx, 3, &o) == 0, "vmfunc: %s", vmdl_last_error());
    FZ_TRACE("vmfunc eax 0x%llx ecx 0x%llx -> %d (%s)\n", (unsigned long long)rax,
             (unsigned long long)rcx, o.outcome, o.why ? o.why : "-");
    FZ_CHECK((o.outcome == VMDL_VMFUNC_UD) == (!l2 || !on || (uint32_t)rax > 63),
             "VMFUNC #UD %d in L2 %d with VM functions %d", o.outcome, l2, on);
    FZ_CHECK(vmdl_vmx_in_guest_mode(r->vmx) == l2, "VMFUNC left L2");
    if (o.outcome != VMDL_VMFUNC_DONE) {
        FZ_CHECK(!o.eptp_changed && peek0(r, "EPT_POINTER") == eptp, "EPTP changed");
        FZ_CHECK(o.outcome != VMDL_VMFUNC_EXIT ||
                 (o.exit.reason == 59 && o.exit.insn_len == 3 && !o.exit.qualification),
                 "VMFUNC exit %u", o.exit.reason);
        return;
    }
    uint64_t now = peek0(r, "EPT_POINTER"), entry = 0;
    FZ_CHECK((uint32_t)rax == 0 && (peek0(r, "VM_FUNCTION_CONTROL") & 1) &&
             (peek0(r, "SECONDARY_VM_EXEC_CONTROL") & VMDL_PROC2_EPT) &&
             (uint32_t)rcx < 512, "EPTP switched without function 0, EPT or index");
    FZ_CHECK(in_mem, "EPTP switched through a list entry outside memory");
    memcpy(&entry, mem_buf + list + 8 * (uint32_t)rcx, 8);
    FZ_CHECK(now == entry && o.eptp_changed == (now != eptp) &&
             (now == eptp || vmdl_vmx_eptp_valid(r->model, now)),
             "EPTP 0x%llx after a switch from 0x%llx", (unsigned long long)now,
             (unsigned long long)eptp);
}

static void do_enter(struct run *r, struct fz *f)
{
    struct vmdl_vmx_cpu cpu = {.efer = fz_bool(f) ? 0x501 : 0x1, .rip = 0x1234,
                               .rflags = r->ctx.rflags};
    struct vmdl_vmx_cpu before = cpu;
    uint32_t word = vmdl_vmx_launch_state(r->vmx);
    bool resume = fz_bool(f);
    /* The canonical checks' width: 5-level paging support, L1's CR4.LA57. */
    FZ_CHECK(vmdl_vmx_set_la57(r->vmx, fz_bool(f)) == 0, "set_la57");
    cpu.cr4 = fz_bool(f) ? 1ull << 12 : 0;
    before.cr4 = cpu.cr4;
    struct vmdl_vmx_result res;
    struct vmdl_vmx_entry e;
    FZ_CHECK(vmdl_vmx_nested_enter(r->vmx, &r->ctx, resume, &cpu, NULL, &res, &e) == 0,
             "nested_enter: %s", vmdl_last_error());
    FZ_TRACE("nested enter -> outcome %d fault %d status %d error %u check %s\n", e.outcome,
             res.fault, res.status, res.error, e.check ? e.check : "-");
    switch (e.outcome) {
    case VMDL_VMX_ENTRY_VMFAIL:
        FZ_CHECK(!memcmp(&cpu, &before, sizeof(cpu)), "VMfail changed the L1 state");
        FZ_CHECK(vmdl_vmx_launch_state(r->vmx) == word, "VMfail changed the launch state");
        if (res.fault == VMDL_FAULT_NONE && res.status == VMDL_VMX_FAIL_VALID)
            FZ_CHECK(res.error == 4 || res.error == 5 || res.error == 7 || res.error == 8 ||
                     res.error == 26, "entry VMfailValid(%u)", res.error);
        return;
    case VMDL_VMX_ENTRY_FAIL_EXIT:
        FZ_CHECK(e.exit_reason == (33u | 0x80000000u) || e.exit_reason == (34u | 0x80000000u),
                 "entry failure reason 0x%x", e.exit_reason);
        FZ_CHECK(peek0(r, "VM_EXIT_REASON") == e.exit_reason, "reason not in vmcs12");
        FZ_CHECK(!vmdl_vmx_in_guest_mode(r->vmx), "L2 active after an entry failure");
        FZ_CHECK(vmdl_vmx_launch_state(r->vmx) == word, "entry failure launched the VMCS");
        FZ_CHECK(cpu.rip == peek0(r, "HOST_RIP") && cpu.rflags == 2, "host state not loaded");
        return;
    case VMDL_VMX_ENTRY_ENTERED:
        FZ_CHECK(vmdl_vmx_in_guest_mode(r->vmx) && vmdl_vmx_launch_state(r->vmx) == 1,
                 "entered without L2 / launch state");
        FZ_CHECK(vmdl_vmx_check_entry_vmfail(r->vmx, before.efer, NULL) == 0 &&
                 vmdl_vmx_check_entry_guest(r->vmx, NULL) == 0, "entered past a failing check");
        FZ_CHECK(cpu.rip == peek0(r, "GUEST_RIP"), "GUEST_RIP not loaded");
        /* (fz_pick reads 0 once the input is exhausted.) */
        while (fz_more(f) && fz_pick(f, 3) == 0)
            do_vmfunc(r, f);
        do_exit(r, f, &cpu);
        return;
    }
    FZ_CHECK(0, "entry outcome %d", e.outcome);
}

static void do_inv(struct run *r, struct fz *f)
{
    bool ept = fz_bool(f);
    uint64_t type = fz_pick(f, 6) == 0 ? fz_u64(f) : fz_u8(f) & 7;
    uint64_t addr = fz_pick(f, 8) == 0 ? fz_u64(f) : fz_u16(f) % (MEM_SIZE + 64);
    struct vmdl_vmx_result res;
    int err = ept ? vmdl_vmx_invept(r->vmx, &r->ctx, type, addr, &res)
                  : vmdl_vmx_invvpid(r->vmx, &r->ctx, type, addr, &res);
    FZ_CHECK(err == 0, "inv: %s", vmdl_last_error());
    if (res.fault != VMDL_FAULT_NONE)
        FZ_CHECK(res.fault == VMDL_FAULT_UD || res.fault == VMDL_FAULT_GP ||
                 res.fault == VMDL_FAULT_PF, "INV* fault %d", res.fault);
    else if (res.status == VMDL_VMX_FAIL_VALID) {
        FZ_CHECK(res.error == 28, "INV* error %u", res.error);
        /* VMfailValid wrote the error into the current VMCS: a later
         * VMREAD of VM_INSTRUCTION_ERROR reads 28, not the last VMWRITE. */
        struct snap now;
        snap(r->vmx, &now);
        int pg = page_of(now.cur);
        if (pg >= 0)
            shadow_store_pg(pg, r->err_enc, res.error);
    }
    if (res.status == VMDL_VMX_SUCCEED && res.fault == VMDL_FAULT_NONE)
        FZ_CHECK(type < 4, "INV* type %llu accepted", (unsigned long long)type);
}


/* One access to the APIC-access page (fuzzed address, size and type): an
 * exit is reason 44 with the type in bits 15:12 and nothing above; a
 * virtualized access is at most 32 bits inside one register's low 4
 * bytes; a write exits only with 43, 45 or 56. */
static void do_apic_access(struct run *r, struct fz *f)
{
    if (fz_bool(f))
        poke_name(r, "APIC_ACCESS_ADDR", pick_ptr(f));
    uint64_t base = peek0(r, "APIC_ACCESS_ADDR") & ~0xFFFull;
    struct vmdl_vmx_apic_access a = {
        .pa = fz_bool(f) ? base + (fz_u16(f) & 0xFFF) : fz_u64(f),
        .size = fz_u8(f) & 15,
        .type = (enum vmdl_apic_access_type)(fz_u8(f) & 15),
    };
    struct vmdl_vmx_exit_info ex;
    memset(&ex, 0, sizeof(ex));
    bool on_page = vmdl_vmx_apic_access_page(r->vmx, a.pa);
    bool virt = vmdl_vmx_apic_access_virtualized(r->vmx, &a, &ex);
    FZ_TRACE("apic access pa 0x%llx size %u type %u: page %d virtualized %d\n",
             (unsigned long long)a.pa, a.size, a.type, on_page, virt);
    if (on_page && !virt)
        FZ_CHECK(ex.reason == 44 && ex.qualification >> 16 == 0 &&
                     (ex.qualification >> 12) == (uint64_t)a.type,
                 "APIC-access exit %u qualification 0x%llx", ex.reason,
                 (unsigned long long)ex.qualification);
    if (virt)
        FZ_CHECK(on_page && a.size >= 1 && (a.pa & 0xF) + a.size <= 4 &&
                     (a.type == VMDL_APIC_ACC_LINEAR_READ || a.type == VMDL_APIC_ACC_LINEAR_WRITE),
                 "virtualized access pa 0x%llx size %u type %u",
                 (unsigned long long)a.pa, a.size, a.type);
    uint32_t got = vmdl_vmx_apic_access_read(r->vmx, &a);
    FZ_CHECK(virt || got == 0, "read of an access not virtualized gave 0x%x", got);
    if (a.size < 4)
        FZ_CHECK(got >> (8 * a.size) == 0, "read of %u bytes gave 0x%x", a.size, got);
    memset(&ex, 0, sizeof(ex));
    enum vmdl_vapic_outcome o = vmdl_vmx_apic_access_write(r->vmx, &a, fz_u32(f), &ex);
    FZ_CHECK(o == VMDL_VAPIC_NOT_VIRTUALIZED || (virt && a.type == VMDL_APIC_ACC_LINEAR_WRITE),
             "write outcome %d for a %s access", o, virt ? "virtualized" : "non-virtualized");
    FZ_CHECK(o != VMDL_VAPIC_EXIT || ex.reason == 43 || ex.reason == 45 ||
                 (ex.reason == 56 && ex.qualification == (a.pa & 0xFFF)),
             "APIC-write emulation exit %u", ex.reason);
}

/* Posted-interrupt processing on a fuzzed descriptor: only with the pin
 * control; the vectors taken end up in VIRR, PIR and ON are cleared, RVI
 * is at least the highest vector taken. */
static void do_posted(struct run *r, struct fz *f)
{
    if (fz_bool(f)) {
        poke_name(r, "PIN_BASED_VM_EXEC_CONTROL",
                  peek0(r, "PIN_BASED_VM_EXEC_CONTROL") ^ VMDL_PIN_POSTED_INTR);
        poke_name(r, "POSTED_INTR_DESC_ADDR", fz_bool(f) ? pick_ptr(f) + (fz_u8(f) & 0xC0)
                                                         : fz_u64(f));
        poke_name(r, "POSTED_INTR_NV", fz_u16(f));
    }
    uint64_t desc = peek0(r, "POSTED_INTR_DESC_ADDR");
    if (desc < MEM_SIZE - 64) {
        for (unsigned i = 0; i < 33; i++)
            mem_buf[desc + i] = fz_u8(f);
        clobber(desc, 64);
    }
    bool pin = (peek0(r, "PIN_BASED_VM_EXEC_CONTROL") & VMDL_PIN_POSTED_INTR) &&
               vmdl_vmx_vapic_vid(r->vmx) &&
               vmdl_vmx_model_field_supported(vmdl_vmx_get_model(r->vmx),
                                              vmdl_vmcs_field_by_name("POSTED_INTR_DESC_ADDR")->encoding);
    unsigned nv = fz_u8(f);
    FZ_CHECK(vmdl_vmx_vapic_notification(r->vmx, nv) ==
                 (pin && nv == (peek0(r, "POSTED_INTR_NV") & 0xFF)),
             "notification vector 0x%x", nv);
    int got = vmdl_vmx_vapic_posted(r->vmx);
    FZ_TRACE("posted: pin %d -> %d\n", pin, got);
    FZ_CHECK(pin ? got >= 0 && got < 256 : got == -1, "posted %d (pin %d)", got, pin);
    /* (unless the descriptor shares the virtual-APIC page VIRR lands on) */
    if (got > 0 && desc < MEM_SIZE - 64 &&
        (desc >> 12) != (peek0(r, "VIRTUAL_APIC_PAGE_ADDR") >> 12)) {
        for (unsigned i = 0; i < 32; i++)
            FZ_CHECK(mem_buf[desc + i] == 0, "PIR byte %u left", i);
        FZ_CHECK(!(mem_buf[desc + 32] & 1), "ON left set");
        uint64_t gis = 0;        /* (a profile without the field keeps no RVI) */
        if (!vmdl_vmx_peek(r->vmx, vmdl_vmcs_field_by_name("GUEST_INTR_STATUS")->encoding, &gis))
            FZ_CHECK((gis & 0xFF) >= (uint64_t)got, "RVI 0x%x below %d",
                     (unsigned)(gis & 0xFF), got);
    }
}

/* VMREAD/VMWRITE by L2 on the shadow VMCS (fuzzed shadowing control,
 * link pointer, bitmaps, field, value): a field with bits 63:15 set always
 * exits; the instruction ends in VMsucceed, VMfailInvalid or VMfailValid
 * with 12/13, and VMsucceed only for a field the model supports. */
static void do_shadow_access(struct run *r, struct fz *f)
{
    if (fz_bool(f)) {
        poke_name(r, "CPU_BASED_VM_EXEC_CONTROL",
                  peek0(r, "CPU_BASED_VM_EXEC_CONTROL") | VMDL_PROC_SECONDARY);
        poke_name(r, "SECONDARY_VM_EXEC_CONTROL",
                  peek0(r, "SECONDARY_VM_EXEC_CONTROL") ^ (fz_bool(f) ? VMDL_PROC2_SHADOW_VMCS : 0));
        poke_name(r, "VMCS_LINK_POINTER", fz_bool(f) ? pick_ptr(f) : fz_u64(f));
        poke_name(r, "VMREAD_BITMAP", pick_ptr(f));
        poke_name(r, "VMWRITE_BITMAP", pick_ptr(f));
    }
    bool write = fz_bool(f);
    uint64_t field = fz_bool(f) ? fz_u16(f) : fz_u64(f);
    bool exits = vmdl_vmx_l2_vmcs_access_exits(r->vmx, write, field);
    FZ_CHECK(exits || field < 0x8000, "field 0x%llx does not exit", (unsigned long long)field);
    struct vmdl_vmx_operand fld = {.kind = VMDL_VMX_OPND_REG, .value = field};
    struct vmdl_vmx_operand val = {.kind = VMDL_VMX_OPND_REG, .value = fz_u64(f)};
    struct vmdl_vmx_result res;
    int err = write ? vmdl_vmx_exec_shadow(r->vmx, &r->ctx, VMDL_VMX_INSN_VMWRITE, &fld, &val, &res)
                    : vmdl_vmx_exec_shadow(r->vmx, &r->ctx, VMDL_VMX_INSN_VMREAD, &val, &fld, &res);
    uint64_t link = peek0(r, "VMCS_LINK_POINTER");
    if (link < MEM_SIZE)
        clobber(link, PAGE);
    FZ_TRACE("shadow %s 0x%llx exits %d -> err %d status %d error %u\n", write ? "vmwrite" : "vmread",
             (unsigned long long)field, exits, err, res.status, res.error);
    FZ_CHECK(err == 0, "exec_shadow: %s", vmdl_last_error());
    if (res.fault != VMDL_FAULT_NONE)
        return;
    FZ_CHECK(res.status == VMDL_VMX_SUCCEED || res.status == VMDL_VMX_FAIL_INVALID ||
                 (res.status == VMDL_VMX_FAIL_VALID && (res.error == 12 || res.error == 13)),
             "shadow access status %d error %u", res.status, res.error);
    if (res.status == VMDL_VMX_SUCCEED)
        FZ_CHECK(vmdl_vmx_model_field_supported(vmdl_vmx_get_model(r->vmx), field),
                 "unsupported field 0x%llx accessed", (unsigned long long)field);
    /* The error number went to the current VMCS (what VMREAD reads next). */
    int pg = page_of(vmdl_vmx_current_vmptr(r->vmx));
    if (res.status == VMDL_VMX_FAIL_VALID && pg >= 0)
        shadow_store_pg(pg, r->err_enc, res.error);
}

/* Fuzzed APIC-virtualization controls and state, then a few vapic calls. */
static void do_vapic(struct run *r, struct fz *f)
{
    if (vmdl_vmx_current_vmptr(r->vmx) == VMDL_VMX_INVALID_PTR)
        return;
    if (fz_bool(f)) {
        poke_name(r, "CPU_BASED_VM_EXEC_CONTROL",
                  peek0(r, "CPU_BASED_VM_EXEC_CONTROL") | VMDL_PROC_TPR_SHADOW |
                      (fz_bool(f) ? VMDL_PROC_SECONDARY : 0));
        poke_name(r, "SECONDARY_VM_EXEC_CONTROL", fz_u32(f));
        poke_name(r, "VIRTUAL_APIC_PAGE_ADDR", pick_ptr(f));
        poke_name(r, "GUEST_INTR_STATUS", fz_u16(f));
        poke_name(r, "TPR_THRESHOLD", fz_u8(f));
        poke_name(r, "EOI_EXIT_BITMAP0", fz_u64(f));
    }
    uint64_t page = peek0(r, "VIRTUAL_APIC_PAGE_ADDR");
    for (unsigned n = fz_u8(f) & 7; n; n--) {       /* VIRR/VISR/VTPR bytes */
        uint64_t a = page + (fz_u16(f) & 0x3FF);
        if (a < MEM_SIZE) {
            mem_buf[a] = fz_u8(f);
            clobber(a, 1);
        }
    }
    clobber(vmdl_vmx_current_vmptr(r->vmx), 1);
    clobber(page, PAGE);
    bool vid = vmdl_vmx_vapic_vid(r->vmx);
    FZ_TRACE("vapic: virtual-interrupt delivery %d\n", vid);
    for (unsigned n = 1 + (fz_u8(f) & 7); n; n--) {
        switch (fz_u8(f) % 8) {
        case 0: {
            uint8_t vppr = vmdl_vmx_vapic_update_ppr(r->vmx);
            uint8_t stored;
            if (page < MEM_SIZE - 0xA0) {       /* (page + 0xA0 may wrap) */
                memcpy(&stored, mem_buf + page + 0xA0, 1);
                FZ_CHECK(stored == vppr, "VPPR 0x%x returned, 0x%x stored", vppr, stored);
            }
            break;
        }
        case 1: {
            int pend = vmdl_vmx_vapic_pending(r->vmx);
            /* (vid again: the shadow-VMCS op may have set the secondary
             * controls active) */
            vid = vmdl_vmx_vapic_vid(r->vmx);
            FZ_CHECK(pend >= -1 && pend < 256 && (vid || pend < 0), "pending %d", pend);
            int got = vmdl_vmx_vapic_deliver(r->vmx);
            FZ_CHECK(got == pend, "delivered %d, %d was pending", got, pend);
            if (got >= 0)
                FZ_CHECK(((peek0(r, "GUEST_INTR_STATUS") >> 8) & 0xFF) == (uint64_t)got,
                         "SVI not the delivered vector");
            break;
        }
        case 2:
        case 3: {
            bool write = fz_bool(f);
            uint32_t msr = fz_bool(f) ? 0x800 + fz_u8(f) : fz_u32(f);
            uint64_t v = fz_value(f);
            struct vmdl_vmx_exit_info ex;
            memset(&ex, 0, sizeof(ex));
            enum vmdl_vapic_outcome o = vmdl_vmx_vapic_msr(r->vmx, write, msr, &v, &ex);
            FZ_CHECK(o <= VMDL_VAPIC_FAULT, "vapic outcome %d", o);
            FZ_CHECK(o != VMDL_VAPIC_EXIT || ex.reason == 43 || ex.reason == 45 ||
                         (ex.reason == 56 && ex.qualification == 0x3F0),
                     "vapic exit reason %u", ex.reason);
            FZ_CHECK(o != VMDL_VAPIC_FAULT || write, "a virtualized read faulted");
            break;
        }
        case 4:
            do_apic_access(r, f);
            break;
        case 6:
            do_posted(r, f);
            break;
        case 7:
            do_shadow_access(r, f);
            break;
        default:
            (void)vmdl_vmx_vapic_tpr_write(r->vmx, fz_u8(f));
            break;
        }
    }
}

/* The EPT walk of the current vmcs12, with PML, on fuzzed tables. */
static void do_ept(struct run *r, struct fz *f)
{
    if (vmdl_vmx_current_vmptr(r->vmx) == VMDL_VMX_INVALID_PTR)
        return;
    if (fz_bool(f)) {
        /* (One input byte per statement: the order is the input's.) */
        poke_name(r, "CPU_BASED_VM_EXEC_CONTROL",
                  peek0(r, "CPU_BASED_VM_EXEC_CONTROL") | VMDL_PROC_SECONDARY);
        uint32_t sec = VMDL_PROC2_EPT | (fz_bool(f) ? VMDL_PROC2_PML : 0);
        sec |= fz_u32(f);
        poke_name(r, "SECONDARY_VM_EXEC_CONTROL", sec);
        uint64_t eptp;
        if (fz_bool(f)) {
            eptp = fz_u64(f);
        } else {
            eptp = (uint64_t)fz_pick(f, NPAGES) * PAGE | 6 | 3 << 3;
            eptp |= fz_bool(f) ? VMDL_EPTP_AD : 0;
        }
        poke_name(r, "EPT_POINTER", eptp);
        poke_name(r, "PML_ADDRESS", pick_ptr(f));
        uint64_t idx = fz_bool(f) ? fz_u16(f) : fz_u16(f) % 520;
        poke_name(r, "GUEST_PML_INDEX", idx);
        clobber(vmdl_vmx_current_vmptr(r->vmx), 1);
    }
    for (unsigned n = fz_u8(f) & 15; n; n--) {       /* table entries */
        uint64_t a = (uint64_t)fz_u16(f) % (MEM_SIZE / 8) * 8, v = fz_u64(f);
        memcpy(mem_buf + a, &v, 8);
        clobber(a, 8);
    }
    struct vmdl_ept_request req = {0};
    req.gpa = fz_bool(f) ? fz_u64(f) : fz_u32(f) % (2 * MEM_SIZE);
    req.access = (enum vmdl_ept_access)(1u << fz_pick(f, 3));
    req.paging_structure = fz_bool(f);
    req.gla_valid = fz_bool(f);
    req.gla = fz_u64(f);
    req.user = fz_bool(f);
    uint64_t before = peek0(r, "GUEST_PML_INDEX");
    bool pml = (peek0(r, "SECONDARY_VM_EXEC_CONTROL") & VMDL_PROC2_PML) &&
               (peek0(r, "CPU_BASED_VM_EXEC_CONTROL") & VMDL_PROC_SECONDARY);
    struct vmdl_ept_result o;
    int err = vmdl_vmx_ept_translate(r->vmx, &req, &o);
    FZ_TRACE("ept walk of 0x%llx -> err %d outcome %d, PML index %llu\n",
             (unsigned long long)req.gpa, err, err ? -1 : (int)o.outcome,
             (unsigned long long)before);
    /* The walk may set A/D flags and log anywhere in memory. */
    memset(shadow_live, 0, sizeof(shadow_live));
    FZ_CHECK(err == 0 || err == VMDL_ENOTSUP || err == VMDL_EINVAL, "translate: %s",
             vmdl_last_error());
    uint64_t after = peek0(r, "GUEST_PML_INDEX");
    if (err) {
        FZ_CHECK(after == before, "PML index moved without a walk");
        return;
    }
    FZ_CHECK(o.outcome <= VMDL_EPT_PML_FULL, "outcome %d", o.outcome);
    FZ_CHECK(after == before || (pml && o.outcome == VMDL_EPT_OK && before < 512 &&
                                 after == ((before - 1) & 0xFFFF)),
             "PML index %llu -> %llu", (unsigned long long)before, (unsigned long long)after);
    FZ_CHECK(o.outcome != VMDL_EPT_PML_FULL || (pml && before >= 512), "log full at %llu",
             (unsigned long long)before);
    uint32_t value = fz_u32(f);
    unsigned rate = fz_u8(f) & 31;
    uint64_t tsc = fz_u64(f), d = vmdl_vmx_preempt_deadline(tsc, value, rate);
    FZ_CHECK(d >= ((tsc >> rate) << rate), "deadline before the entry");
    FZ_CHECK(vmdl_vmx_preempt_value(d, d, rate) == 0, "timer not zero at its deadline");
    uint64_t low = tsc & ((1ull << rate) - 1);
    if (d != UINT64_MAX && value)
        FZ_CHECK(vmdl_vmx_preempt_value(tsc, d, rate) == value - (low != 0),
                 "timer value %u saved as %u", value, vmdl_vmx_preempt_value(tsc, d, rate));
}

static void do_nested(struct run *r, struct fz *f)
{
    uint64_t cur = vmdl_vmx_current_vmptr(r->vmx);
    switch (fz_u8(f) % 6) {
    case 4:
        do_vapic(r, f);
        break;
    case 5:
        do_ept(r, f);
        break;
    case 0:
        if (cur != VMDL_VMX_INVALID_PTR) {
            const struct vmdl_vmcs_field *e =
                vmdl_vmcs_field_at(fz_u16(f) % vmdl_vmcs_field_count());
            (void)vmdl_vmx_poke(r->vmx, e->encoding, fz_value(f));
            clobber(cur, 1);
        }
        break;
    case 1:
        if (cur != VMDL_VMX_INVALID_PTR) {
            make_valid(r);
            if (fz_bool(f)) {
                /* EPT (page 4) and EPTP switching (list in page 5), where
                 * the profile has them. */
                poke_name(r, "CPU_BASED_VM_EXEC_CONTROL",
                          peek0(r, "CPU_BASED_VM_EXEC_CONTROL") | VMDL_PROC_SECONDARY);
                poke_name(r, "SECONDARY_VM_EXEC_CONTROL", VMDL_PROC2_EPT | VMDL_PROC2_VMFUNC);
                poke_name(r, "EPT_POINTER", 4 * PAGE | 0x1e);
                poke_name(r, "VM_FUNCTION_CONTROL", 1);
                poke_name(r, "EPTP_LIST_ADDRESS", 5 * PAGE);
            }
            clobber(cur, 1);
        }
        break;
    case 2:
        do_enter(r, f);
        if (cur != VMDL_VMX_INVALID_PTR)
            clobber(cur, 1);
        break;
    case 3:
        if (fz_bool(f)) {
            do_vmfunc(r, f);
            break;
        }
        __attribute__((fallthrough));
    default:
        do_inv(r, f);
        break;
    }
}

static void do_msr(struct run *r, struct fz *f)
{
    uint32_t index;
    unsigned k = fz_u8(f);
    if ((k & 3) == 0)
        index = fz_u32(f);
    else if ((k & 3) == 1)
        index = VMDL_MSR_IA32_FEATURE_CONTROL;
    else
        index = VMDL_MSR_VMX_BASIC + fz_pick(f, 0x14);
    bool write = k & 4;
    uint64_t v = 0;
    if (write) {
        v = fz_value(f);
        uint64_t before = 0;
        vmdl_fault bf = vmdl_vmx_rdmsr(r->vmx, index, &before);
        vmdl_fault fl = vmdl_vmx_wrmsr(r->vmx, index, v);
        FZ_TRACE("wrmsr 0x%x 0x%llx -> %d\n", index, (unsigned long long)v, fl);
        bool vmx_msr = index == VMDL_MSR_IA32_FEATURE_CONTROL ||
                       (index >= VMDL_MSR_VMX_BASIC &&
                        index <= VMDL_MSR_VMX_PROCBASED_CTLS3);
        FZ_CHECK(vmx_msr || fl == VMDL_FAULT_UNCLAIMED, "foreign MSR claimed");
        if (index >= VMDL_MSR_VMX_BASIC && index <= VMDL_MSR_VMX_PROCBASED_CTLS3)
            FZ_CHECK(fl == VMDL_FAULT_GP, "capability MSR 0x%x writable", index);
        if (index == VMDL_MSR_IA32_FEATURE_CONTROL) {
            uint64_t after = 0;
            vmdl_vmx_rdmsr(r->vmx, index, &after);
            if (fl == VMDL_FAULT_NONE) {
                FZ_CHECK(!(before & VMDL_FEAT_CTL_LOCKED), "locked MSR written");
                FZ_CHECK(!(v & ~VMDL_FEAT_CTL_VALID), "reserved bits accepted");
                FZ_CHECK(after == v, "FEATURE_CONTROL reads 0x%llx",
                         (unsigned long long)after);
            } else {
                FZ_CHECK(fl == VMDL_FAULT_GP && after == before,
                         "refused write changed FEATURE_CONTROL");
            }
        }
        (void)bf;
        return;
    }
    vmdl_fault fl = vmdl_vmx_rdmsr(r->vmx, index, &v);
    FZ_TRACE("rdmsr 0x%x -> %d 0x%llx\n", index, fl, (unsigned long long)v);
    if (index == VMDL_MSR_VMX_VMCS_ENUM && fl == VMDL_FAULT_NONE)
        FZ_CHECK(v == vmdl_vmx_model_vmcs_enum(r->model), "VMCS_ENUM");
    if (index != VMDL_MSR_IA32_FEATURE_CONTROL &&
        !(index >= VMDL_MSR_VMX_BASIC && index <= VMDL_MSR_VMX_PROCBASED_CTLS3))
        FZ_CHECK(fl == VMDL_FAULT_UNCLAIMED, "foreign MSR 0x%x claimed", index);
    if (index == VMDL_MSR_VMX_BASIC)
        FZ_CHECK(fl == VMDL_FAULT_NONE, "IA32_VMX_BASIC unreadable");
}

static void do_ctx(struct run *r, struct fz *f)
{
    const struct vmdl_vmx_caps *c = vmdl_vmx_model_caps(r->model);
    switch (fz_u8(f) & 7) {
    case 0: r->ctx.cpl = fz_u8(f) & 3; break;
    case 1: r->ctx.cr4 ^= 1ull << 13; break; /* CR4.VMXE */
    case 2: r->ctx.cr0 = fz_value(f); break;
    case 3: r->ctx.cr4 = fz_value(f); break;
    case 4: r->ctx.mov_ss_blocking = !r->ctx.mov_ss_blocking; break;
    case 5: r->ctx.rflags = fz_value(f); break;
    default:
        r->ctx.cr0 = c->cr0_fixed0;
        r->ctx.cr4 = c->cr4_fixed0 | (1ull << 13);
        r->ctx.cpl = 0;
        r->ctx.mov_ss_blocking = false;
        r->ctx.rflags = 2;
        break;
    }
}

static void do_state_roundtrip(struct run *r)
{
    uint8_t *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    FZ_CHECK(vmdl_vmx_save(r->vmx, &a, &na) == 0, "save: %s", vmdl_last_error());
    struct snap before, after;
    snap(r->vmx, &before);
    FZ_CHECK(vmdl_vmx_load(r->vmx, a, na) == 0, "load of own blob: %s",
             vmdl_last_error());
    snap(r->vmx, &after);
    FZ_CHECK(vmdl_vmx_save(r->vmx, &b, &nb) == 0, "save 2");
    FZ_CHECK(na == nb && !memcmp(a, b, na), "save/load/save differs");
    FZ_CHECK(!memcmp(&before, &after, sizeof(before)), "load changed state");
    /* A truncated blob is refused and changes nothing. */
    if (na > 1) {
        FZ_CHECK(vmdl_vmx_load(r->vmx, a, na - 1) != 0, "truncated blob accepted");
        snap(r->vmx, &after);
        FZ_CHECK(!memcmp(&before, &after, sizeof(before)), "refused load changed state");
    }
    free(a);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f;
    fz_init(&f, data, size);
    unsigned nprof = vmdl_vmx_profile_count();
    if (nprof > MAX_PROFILES)
        nprof = MAX_PROFILES;
    unsigned b0 = fz_u8(&f);
    struct run r = {0};
    r.model = get_model(b0 % nprof, (b0 >> 4) & 1, !((b0 >> 5) & 1), (b0 >> 6) & 1, b0 >> 7);
    memset(mem_buf, 0, sizeof(mem_buf));
    memset(shadow_live, 0, sizeof(shadow_live));
    struct vmdl_flat_mem flat = {mem_buf, 0, MEM_SIZE};
    struct vmdl_guest_mem gm;
    vmdl_flat_mem_init(&gm, &flat);
    FZ_CHECK(vmdl_vmx_create(r.model, &gm, &r.vmx) == 0, "create");
    r.err_enc = vmdl_vmcs_field_by_name("VM_INSTRUCTION_ERROR")->encoding;

    unsigned b1 = fz_u8(&f);
    uint64_t fc = (b1 & 0xc0) ? VMDL_FEAT_CTL_LOCKED | VMDL_FEAT_CTL_VMX_OUTSIDE_SMX
                              : (b1 & VMDL_FEAT_CTL_VALID);
    FZ_CHECK(vmdl_vmx_set_feature_control(r.vmx, fc) == 0, "feature control");
    const struct vmdl_vmx_caps *c = vmdl_vmx_model_caps(r.model);
    uint32_t rev = (uint32_t)(c->basic & VMDL_VMX_BASIC_REVISION_MASK);
    unsigned pages = fz_u16(&f) | 0x3;
    for (unsigned p = 0; p < NPAGES; p++) {
        if (!(pages & (1u << p)))
            continue;
        uint32_t v = rev | (p == NPAGES - 1 ? 0x80000000u : 0);
        memcpy(mem_buf + p * PAGE, &v, 4);
    }
    r.ctx.cr0 = c->cr0_fixed0;
    r.ctx.cr4 = c->cr4_fixed0 | (1ull << 13);
    r.ctx.rflags = 2;

    unsigned steps = 0;
    while (fz_more(&f) && steps++ < 4096) {
        unsigned op = fz_u8(&f);
        switch (op % 16) {
        case 0:
            do_msr(&r, &f);
            break;
        case 1:
            do_ctx(&r, &f);
            break;
        case 2:
            if ((op >> 4) == 0) {
                FZ_TRACE("reset\n");
                vmdl_vmx_reset(r.vmx);
                memset(shadow_live, 0, sizeof(shadow_live));
            } else if ((op >> 4) < 4) {
                FZ_TRACE("roundtrip\n");
                do_state_roundtrip(&r);
            } else {
                /* The "guest" scribbles over memory. */
                uint64_t a = fz_u16(&f) % MEM_SIZE;
                mem_buf[a] = fz_u8(&f);
                clobber(a, 1);
            }
            break;
        case 4:
            do_nested(&r, &f);
            break;
        default:
            do_insn(&r, &f);
            break;
        }
    }
    vmdl_vmx_destroy(r.vmx);
    return 0;
}

/* Every seed's start: the profile, locked FEATURE_CONTROL, revision ids in
 * every page, VMXON [0x100] -> page 1, VMPTRLD [0x108] -> page 2. */
static void seed_start(struct fz_out *o, unsigned prof)
{
    const unsigned VMXON = 0, VMPTRLD = 3;
    memset(o, 0, sizeof(*o));
    fz_put8(o, prof);
    fz_put8(o, 0xc0);
    fz_put16(o, 0xffff);
    fz_put8(o, 3); fz_put8(o, VMXON); fz_put8(o, 1); fz_put16(o, 0x100);
    fz_put8(o, 3); fz_put8(o, 1); fz_put8(o, 0);
    fz_put8(o, 3); fz_put8(o, VMPTRLD); fz_put8(o, 1); fz_put16(o, 0x108);
    fz_put8(o, 3); fz_put8(o, 2); fz_put8(o, 0);
}

static void write_seeds(const char *dir)
{
    struct fz_out o;
    const unsigned VMXOFF = 1, VMCLEAR = 2, VMPTRST = 4, VMREAD = 5, VMWRITE = 6,
                   VMLAUNCH = 7;
    for (unsigned prof = 0; prof < vmdl_vmx_profile_count() && prof < MAX_PROFILES;
         prof++) {
        seed_start(&o, prof);
        /* VMWRITE / VMREAD a run of table fields */
        for (unsigned i = 0; i < 24; i++) {
            unsigned idx = (i * 7 + prof) % vmdl_vmcs_field_count();
            fz_put8(&o, 3); fz_put8(&o, VMWRITE);
            fz_put8(&o, 3); fz_put16(&o, idx);
            fz_putval(&o, 0x0123456789abcdefull * (i + 1));
            fz_put8(&o, 1); fz_put8(&o, 200); fz_put8(&o, 1);
            fz_put8(&o, 3); fz_put8(&o, VMREAD);
            fz_put8(&o, 3); fz_put16(&o, idx);
            fz_put8(&o, 200); fz_put8(&o, 1); fz_put8(&o, 1);
        }
        fz_put8(&o, 3); fz_put8(&o, VMLAUNCH); fz_put8(&o, 0);
        fz_put8(&o, 3); fz_put8(&o, VMPTRST); fz_put8(&o, 1); fz_put16(&o, 0x200);
        fz_put8(&o, 3); fz_put8(&o, VMCLEAR); fz_put8(&o, 1); fz_put16(&o, 0x108);
        fz_put8(&o, 3); fz_put8(&o, 2); fz_put8(&o, 0);
        fz_put8(&o, 0x12); /* save/load round trip */
        fz_put8(&o, 3); fz_put8(&o, VMXOFF);
        fz_put8(&o, 0); fz_put8(&o, 2); fz_put8(&o, 0x0A); /* rdmsr VMCS_ENUM */
        char name[32];
        snprintf(name, sizeof(name), "profile%u", prof);
        fz_save_out(dir, name, &o);
        /* Nested: a valid vmcs12, then a VMLAUNCH that enters and exits,
         * then a VMRESUME after one fuzzed field. */
        seed_start(&o, prof);
        fz_put8(&o, 4); fz_put8(&o, 1);                 /* make valid */
        fz_put8(&o, 4); fz_put8(&o, 2); fz_put8(&o, 1); fz_put8(&o, 0);
        for (unsigned i = 0; i < 48; i++)              /* the L2 event and exit */
            fz_put8(&o, (uint8_t)(i * 37 + prof));
        fz_put8(&o, 4); fz_put8(&o, 0); fz_put16(&o, (uint16_t)(prof * 13));
        fz_putval(&o, 0x80000b0dull);
        fz_put8(&o, 4); fz_put8(&o, 2); fz_put8(&o, 1); fz_put8(&o, 1);
        fz_put8(&o, 4); fz_put8(&o, 3); fz_put8(&o, 1); fz_put8(&o, 1);
        fz_put8(&o, 2); fz_put16(&o, 0x200);
        snprintf(name, sizeof(name), "nested%u", prof);
        fz_save_out(dir, name, &o);
        /* APIC virtualization and the EPT walk with PML on a valid vmcs12:
         * the virtual-APIC page and the EPT tables in pages 4-7. */
        seed_start(&o, prof);
        fz_put8(&o, 4); fz_put8(&o, 1);                 /* make valid */
        for (unsigned k = 0; k < 3; k++) {
            fz_put8(&o, 4); fz_put8(&o, 4); fz_put8(&o, 1);   /* vapic, new controls */
            fz_put8(&o, 1); fz_put32(&o, VMDL_PROC2_VID | VMDL_PROC2_X2APIC_MODE |
                                         VMDL_PROC2_APIC_REG_VIRT);
            fz_put8(&o, 1); fz_put8(&o, 4);                  /* page 4 */
            fz_put16(&o, (uint16_t)(0x3051 + k)); fz_put8(&o, 0x20); fz_put8(&o, 0);
            fz_put8(&o, 2);
            fz_put16(&o, 0x200 + 0x30 * k); fz_put8(&o, 0x80);
            fz_put16(&o, 0x80); fz_put8(&o, 0x10);
            fz_put8(&o, 4);
            for (unsigned i = 0; i < 4; i++) {
                fz_put8(&o, (uint8_t)i); fz_put8(&o, (uint8_t)(i * 3));
                fz_put8(&o, 1); fz_put8(&o, 8); fz_putval(&o, 0x30 + k);
            }
        }
        snprintf(name, sizeof(name), "apicv%u", prof);
        fz_save_out(dir, name, &o);
        seed_start(&o, prof);
        fz_put8(&o, 4); fz_put8(&o, 1);                 /* make valid */
        for (unsigned k = 0; k < 3; k++) {
            fz_put8(&o, 4); fz_put8(&o, 5); fz_put8(&o, 1);   /* EPT, PML on */
            fz_put8(&o, 1); fz_put32(&o, 0);
            fz_put8(&o, 0); fz_put8(&o, 5); fz_put8(&o, 1);   /* EPTP page 5, A/D */
            fz_put8(&o, 1); fz_put8(&o, 7); fz_put8(&o, 0);   /* log in page 7 */
            fz_put8(&o, 0); fz_put16(&o, (uint16_t)(k == 2 ? 512 : 511 - k));
            fz_put8(&o, 3);                                  /* PML4E, PDPTE, PDE */
            fz_put16(&o, 5 * 512); fz_put64(&o, 6 * 4096 + 7);
            fz_put16(&o, 6 * 512); fz_put64(&o, 0x87 | 6 << 3);
            fz_put16(&o, 7 * 512 + 1); fz_put64(&o, 0);
            fz_put8(&o, 0); fz_put32(&o, 0x1000 * k);       /* gpa */
            fz_put8(&o, 1);                                  /* a write */
            fz_put8(&o, 0); fz_put8(&o, 1); fz_put64(&o, 0x1000); fz_put8(&o, 0);
            fz_put32(&o, 1000); fz_put8(&o, 5); fz_put64(&o, 0x12345);
        }
        snprintf(name, sizeof(name), "ept_pml%u", prof);
        fz_save_out(dir, name, &o);
        /* EPT with EPTP switching: enter, VMFUNC to a list entry written
         * first (valid), to an empty one (the exit), with EAX 200 (#UD). */
        seed_start(&o, prof);
        fz_put8(&o, 4); fz_put8(&o, 1); fz_put8(&o, 1);  /* valid, EPT + VMFUNC */
        fz_put8(&o, 4); fz_put8(&o, 2);                  /* VMLAUNCH */
        fz_put8(&o, 1); fz_put8(&o, 0); fz_put8(&o, 0); fz_put8(&o, 0);
        fz_put8(&o, 0); fz_put8(&o, 1); fz_put8(&o, 0); fz_put8(&o, 1); fz_put16(&o, 3);
        fz_put8(&o, 1); fz_put8(&o, 0); fz_put64(&o, 6 * PAGE | 0x5e);
        fz_put8(&o, 0); fz_put8(&o, 1); fz_put8(&o, 0); fz_put8(&o, 1); fz_put16(&o, 4);
        fz_put8(&o, 0);
        fz_put8(&o, 0); fz_put8(&o, 1); fz_put8(&o, 200); fz_put8(&o, 1); fz_put16(&o, 3);
        fz_put8(&o, 0);
        fz_put8(&o, 1);                                  /* no more VMFUNC */
        for (unsigned i = 0; i < 48; i++)               /* the L2 event and exit */
            fz_put8(&o, (uint8_t)(i * 29 + prof));
        snprintf(name, sizeof(name), "vmfunc%u", prof);
        fz_save_out(dir, name, &o);
    }
}

FZ_SEED_WRITER_MAIN()
