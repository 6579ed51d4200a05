/* SPDX-License-Identifier: MIT */
/*
 * fuzz_blobs: every model's state import (vmx, lapic, amd_pmu, gicv5, tdx,
 * sev_es) and vmdl_blob_open on hostile blobs.
 *
 * Input: byte 0 picks the importer, byte 1 how the blob is made:
 *   raw          the rest of the input is the blob;
 *   mutated      a valid export of a model (fresh, or after a few state
 *                changes drawn from the input) with bytes XOR-ed, the tail
 *                cut or extended, as the input says;
 *   mutated+CRC  the same, then the header's payload length and CRC are
 *                recomputed, so that the semantic checks behind the CRC
 *                are reached.
 *
 * Invariants: an import either fails with VMDL_EBADBLOB / VMDL_EVERSION
 * and leaves the model exactly as it was (its export before and after is
 * the same), or succeeds, and then export(import(x)) re-imports into a
 * fresh model and exports the same bytes again (the state is a fixed
 * point).  After a successful import the model's own invariants hold:
 *   amd_pmu  counters < 2^48, no reserved event-select bits, global bits
 *            only for existing counters (read through the MSRs);
 *   lapic    PPR consistent with TPR and ISR; and, with VMDL_FUZZ_STRICT=1,
 *            no vector below 16 in ISR (see docs/robustness.md);
 *   vmx      the current and VMXON pointers are page-aligned or invalid;
 *   sev_es   VM features within the module's supported set, a launched
 *            VMSA's SEV_FEATURES equal to the VM's, SEV_STATUS consistent.
 */
#include "fuzz_util.h"

#include "virtmodel/amd_pmu.h"
#include "virtmodel/blob.h"
#include "virtmodel/error.h"
#include "virtmodel/gicv5.h"
#include "virtmodel/lapic.h"
#include "virtmodel/sev_es.h"
#include "virtmodel/tdx.h"
#include "virtmodel/vmx.h"

/* M_SEV_ES comes after M_RAW so that the older seeds keep their kinds. */
enum { M_VMX, M_LAPIC, M_PMU, M_GICV5, M_TDX, M_RAW, M_SEV_ES, M_COUNT };

static uint8_t vmx_mem[3 * 4096];
static struct vmdl_flat_mem vmx_flat = {vmx_mem, 0, sizeof(vmx_mem)};
static struct vmdl_guest_mem vmx_gm;
static struct vmdl_vmx_model *vmx_model;
static struct vmdl_tdx_profile *tdx_profile;
static struct vmdl_sev_es_module *sev_module;

struct obj {
    int kind;
    void *p;             /* the model */
    void *owner;         /* lapic: its bus */
};

static void obj_create(struct obj *o, int kind)
{
    o->kind = kind;
    o->owner = NULL;
    switch (kind) {
    case M_VMX: {
        if (!vmx_model) {
            struct vmdl_vmx_caps caps;
            FZ_CHECK(vmdl_vmx_profile_get(NULL, &caps) == 0, "vmx profile");
            FZ_CHECK(vmdl_vmx_model_create(&caps, &vmx_model) == 0, "vmx model");
            vmdl_flat_mem_init(&vmx_gm, &vmx_flat);
        }
        struct vmdl_vmx *v;
        FZ_CHECK(vmdl_vmx_create(vmx_model, &vmx_gm, &v) == 0, "vmx create");
        vmdl_vmx_set_feature_control(v, VMDL_FEAT_CTL_LOCKED |
                                            VMDL_FEAT_CTL_VMX_OUTSIDE_SMX);
        o->p = v;
        break;
    }
    case M_LAPIC: {
        struct vmdl_lapic_bus_config cfg = {.nr_apics = 1, .x2apic = true,
                                            .tsc_deadline = true};
        struct vmdl_lapic_bus *bus;
        FZ_CHECK(vmdl_lapic_bus_create(&cfg, &bus) == 0, "lapic bus");
        o->owner = bus;
        o->p = vmdl_lapic_bus_get(bus, 0);
        break;
    }
    case M_PMU: {
        struct vmdl_amd_pmu_config cfg = {.family = 0x19, .perfctr_core = true,
                                          .perfmon_v2 = true};
        struct vmdl_amd_pmu *pmu;
        FZ_CHECK(vmdl_amd_pmu_create(&cfg, NULL, &pmu) == 0, "pmu");
        o->p = pmu;
        break;
    }
    case M_GICV5: {
        struct vmdl_gicv5_config cfg = {.nr_vcpus = 2, .pmu = true};
        struct vmdl_gicv5 *g;
        FZ_CHECK(vmdl_gicv5_create(&cfg, &g) == 0, "gicv5");
        o->p = g;
        break;
    }
    case M_TDX: {
        if (!tdx_profile)
            FZ_CHECK(vmdl_tdx_profile_builtin(vmdl_tdx_builtin_name(0), &tdx_profile) == 0,
                     "tdx profile");
        struct vmdl_tdx *m;
        FZ_CHECK(vmdl_tdx_create(tdx_profile, 2, &m) == 0, "tdx");
        o->p = m;
        break;
    }
    case M_SEV_ES: {
        if (!sev_module) {
            struct vmdl_sev_es_cpu cpu;
            struct vmdl_sev_es_load_params lp;
            vmdl_sev_es_cpu_default(&cpu);
            vmdl_sev_es_load_params_init(&lp);
            FZ_CHECK(vmdl_sev_es_module_load(&cpu, &lp, &sev_module) == 0, "sev module");
        }
        struct vmdl_sev_es_vm *vm;
        struct vmdl_sev_es_vcpu *v;
        FZ_CHECK(vmdl_sev_es_vm_create(sev_module, VMDL_KVM_X86_SEV_ES_VM, &vm) == 0,
                 "sev vm");
        for (int i = 0; i < 2; i++)
            FZ_CHECK(vmdl_sev_es_vcpu_create(vm, &v) == 0, "sev vcpu");
        o->p = vm;
        break;
    }
    }
}

static void obj_destroy(struct obj *o)
{
    switch (o->kind) {
    case M_VMX: vmdl_vmx_destroy(o->p); break;
    case M_LAPIC: vmdl_lapic_bus_destroy(o->owner); break;
    case M_PMU: vmdl_amd_pmu_destroy(o->p); break;
    case M_GICV5: vmdl_gicv5_destroy(o->p); break;
    case M_TDX: vmdl_tdx_destroy(o->p); break;
    case M_SEV_ES: vmdl_sev_es_vm_destroy(o->p); break;
    }
}

static int obj_export(struct obj *o, uint8_t **b, size_t *n)
{
    switch (o->kind) {
    case M_VMX: return vmdl_vmx_save(o->p, b, n);
    case M_LAPIC: return vmdl_lapic_export(o->p, b, n);
    case M_PMU: return vmdl_amd_pmu_save(o->p, b, n);
    case M_GICV5: return vmdl_gicv5_export(o->p, b, n);
    case M_SEV_ES: return vmdl_sev_es_vm_save(o->p, b, n);
    default: return vmdl_tdx_export(o->p, b, n);
    }
}

static int obj_import(struct obj *o, const uint8_t *b, size_t n)
{
    switch (o->kind) {
    case M_VMX: return vmdl_vmx_load(o->p, b, n);
    case M_LAPIC: return vmdl_lapic_import(o->p, b, n);
    case M_PMU: return vmdl_amd_pmu_load(o->p, b, n);
    case M_GICV5: return vmdl_gicv5_import(o->p, b, n);
    case M_SEV_ES: return vmdl_sev_es_vm_load(o->p, b, n);
    default: return vmdl_tdx_import(o->p, b, n);
    }
}

/* Init (INIT2 with or without DebugSwap), launch step by step, a world
 * switch with a DR write in between. */
static void sev_exercise(struct vmdl_sev_es_vm *vm, struct fz *f)
{
    static const uint32_t cmds[] = {VMDL_KVM_SEV_LAUNCH_START,
                                    VMDL_KVM_SEV_LAUNCH_UPDATE_VMSA,
                                    VMDL_KVM_SEV_LAUNCH_MEASURE,
                                    VMDL_KVM_SEV_LAUNCH_FINISH};
    struct vmdl_sev_init d;
    memset(&d, 0, sizeof(d));
    d.vmsa_features = fz_bool(f) ? VMDL_SVM_SEV_FEAT_DEBUG_SWAP : 0;
    vmdl_sev_es_mem_enc_op(vm, VMDL_KVM_SEV_INIT2, &d);
    vmdl_sev_es_mem_enc_op(vm, cmds[fz_u8(f) % 4], NULL);
    struct vmdl_sev_es_vcpu *v = vmdl_sev_es_vm_vcpu(vm, fz_u8(f) & 1);
    if (vmdl_sev_es_vcpu_enter(v) == 0) {
        uint64_t val = fz_value(f);
        vmdl_sev_es_mov_dr(v, true, fz_u8(f) & 7, false, &val, NULL);
        vmdl_sev_es_vcpu_exit(v);
    }
}

/* A few state changes so that the base blob is not always the reset one. */
static void obj_exercise(struct obj *o, struct fz *f)
{
    unsigned n = fz_u8(f) % 8;
    for (unsigned i = 0; i < n; i++) {
        switch (o->kind) {
        case M_VMX: {
            struct vmdl_vmx_ctx ctx = {.cr0 = 0x80000021, .cr4 = 0x2020, .rflags = 2};
            const struct vmdl_vmx_caps *c = vmdl_vmx_model_caps(vmx_model);
            ctx.cr0 = c->cr0_fixed0;
            ctx.cr4 = c->cr4_fixed0 | (1u << 13);
            uint32_t rev = (uint32_t)(c->basic & VMDL_VMX_BASIC_REVISION_MASK);
            memcpy(vmx_mem, &rev, 4);
            memcpy(vmx_mem + 4096, &rev, 4);
            struct vmdl_vmx_result res;
            vmdl_vmx_vmxon(o->p, &ctx, 0, &res);
            vmdl_vmx_vmptrld(o->p, &ctx, 4096, &res);
            const struct vmdl_vmcs_field *e =
                vmdl_vmcs_field_at(fz_u8(f) % vmdl_vmcs_field_count());
            vmdl_vmx_vmwrite(o->p, &ctx, e->encoding, fz_value(f), &res);
            break;
        }
        case M_LAPIC:
            vmdl_lapic_mmio_write(o->p, VMDL_LAPIC_SVR, 4, 0x1FF);
            vmdl_lapic_bus_deliver(o->owner, 0, false, 0, fz_u8(f), false);
            if (fz_bool(f))
                vmdl_lapic_ack(o->p);
            vmdl_lapic_mmio_write(o->p, VMDL_LAPIC_TPR, 4, fz_u8(f));
            vmdl_lapic_advance(o->p, vmdl_lapic_now(o->p) + fz_u8(f));
            break;
        case M_PMU:
            vmdl_amd_pmu_wrmsr(o->p, VMDL_MSR_F15H_PERF_CTL0 + 2 * (fz_u8(f) % 6),
                               0x4300C0 | (fz_u8(f) & 1 ? 0 : VMDL_AMD_EVTSEL_INT));
            vmdl_amd_pmu_wrmsr(o->p, VMDL_MSR_F15H_PERF_CTR0 + 2 * (fz_u8(f) % 6),
                               fz_value(f));
            vmdl_amd_pmu_retire(o->p, fz_u32(f), fz_u8(f), 0);
            break;
        case M_GICV5:
            vmdl_gicv5_irq_line(o->p, fz_u8(f) % 2, VMDL_GICV5_PPI_SW, fz_bool(f));
            vmdl_gicv5_device_line(o->p, fz_u8(f) % 2, VMDL_GICV5_PPI_PMUIRQ, fz_bool(f));
            break;
        case M_TDX:
            vmdl_tdx_init_all(o->p);
            if (fz_bool(f))
                vmdl_tdx_unload(o->p);
            break;
        case M_SEV_ES:
            sev_exercise(o->p, f);
            break;
        }
    }
}

static void fix_header(uint8_t *b, size_t n)
{
    if (n < VMDL_BLOB_HEADER_SIZE)
        return;
    uint32_t len = (uint32_t)(n - VMDL_BLOB_HEADER_SIZE);
    uint32_t crc = vmdl_crc32(0, b + VMDL_BLOB_HEADER_SIZE, len);
    for (int i = 0; i < 4; i++) {
        b[8 + i] = (uint8_t)(len >> (8 * i));
        b[12 + i] = (uint8_t)(crc >> (8 * i));
    }
}

static void post_import_checks(struct obj *o)
{
    switch (o->kind) {
    case M_PMU:
        for (unsigned i = 0; i < vmdl_amd_pmu_nr_counters(o->p); i++) {
            uint64_t ctl = 0, ctr = 0;
            vmdl_amd_pmu_rdmsr(o->p, VMDL_MSR_F15H_PERF_CTL0 + 2 * i, &ctl);
            vmdl_amd_pmu_rdmsr(o->p, VMDL_MSR_F15H_PERF_CTR0 + 2 * i, &ctr);
            FZ_CHECK(!(ctl & VMDL_AMD_EVTSEL_RESERVED), "imported CTL%u 0x%llx", i,
                     (unsigned long long)ctl);
            FZ_CHECK(ctr <= VMDL_AMD_PMU_COUNTER_MASK, "imported CTR%u 0x%llx", i,
                     (unsigned long long)ctr);
        }
        {
            uint64_t gs = 0, gc = 0, valid = (1u << vmdl_amd_pmu_nr_counters(o->p)) - 1;
            vmdl_amd_pmu_rdmsr(o->p, VMDL_MSR_AMD64_PERF_CNTR_GLOBAL_STATUS, &gs);
            vmdl_amd_pmu_rdmsr(o->p, VMDL_MSR_AMD64_PERF_CNTR_GLOBAL_CTL, &gc);
            FZ_CHECK(!(gs & ~valid) && !(gc & ~valid), "imported global bits");
        }
        break;
    case M_LAPIC: {
        struct vmdl_lapic *a = o->p;
        int isr = -1;
        for (int v = 255; v >= 0 && isr < 0; v--)
            if ((vmdl_lapic_peek(a, VMDL_LAPIC_ISR + 16 * (v / 32)) >> (v % 32)) & 1)
                isr = v;
        if (vmdl_lapic_mode(a) != VMDL_LAPIC_MODE_DISABLED) {
            uint64_t ppr = 0, tpr = 0;
            vmdl_lapic_msr_read(a, 0x80A, &ppr);
            vmdl_lapic_msr_read(a, 0x808, &tpr);
            if (vmdl_lapic_mode(a) == VMDL_LAPIC_MODE_XAPIC) {
                vmdl_lapic_mmio_read(a, VMDL_LAPIC_PPR, 4, &ppr);
                vmdl_lapic_mmio_read(a, VMDL_LAPIC_TPR, 4, &tpr);
            }
            uint32_t cls = isr < 0 ? 0 : ((unsigned)isr & 0xF0);
            uint64_t want = (tpr & 0xF0) >= cls ? (tpr & 0xFF) : cls;
            FZ_CHECK(ppr == want, "imported APIC: PPR 0x%llx, expected 0x%llx",
                     (unsigned long long)ppr, (unsigned long long)want);
        }
        const char *strict = getenv("VMDL_FUZZ_STRICT");
        if (strict && *strict == '1') {
            /* The bus uses KVM's ESR rules: vectors 0-15 may be pending
             * (IRR) but never in service. */
            uint32_t isr0 = vmdl_lapic_peek(a, VMDL_LAPIC_ISR);
            FZ_CHECK(!(isr0 & 0xFFFF), "import accepted vectors < 16 in ISR (0x%x)",
                     isr0);
        }
        break;
    }
    case M_VMX: {
        uint64_t cur = vmdl_vmx_current_vmptr(o->p), on = vmdl_vmx_vmxon_ptr(o->p);
        FZ_CHECK(cur == VMDL_VMX_INVALID_PTR || !(cur & 0xfff), "imported VMCS ptr");
        FZ_CHECK(on == VMDL_VMX_INVALID_PTR || !(on & 0xfff), "imported VMXON ptr");
        break;
    }
    case M_SEV_ES: {
        struct vmdl_sev_es_vm *vm = o->p;
        uint64_t feat = vmdl_sev_es_vm_vmsa_features(vm);
        FZ_CHECK(!(feat & ~vmdl_sev_es_module_supported_vmsa_features(sev_module)),
                 "imported VM features 0x%llx", (unsigned long long)feat);
        for (unsigned i = 0; i < vmdl_sev_es_vm_nr_vcpus(vm); i++) {
            struct vmdl_sev_es_vcpu *v = vmdl_sev_es_vm_vcpu(vm, i);
            uint64_t sf = vmdl_sev_es_vcpu_sev_features(v);
            FZ_CHECK(sf == (vmdl_sev_es_vcpu_protected(v) ? feat : 0),
                     "imported VMSA features 0x%llx", (unsigned long long)sf);
            uint64_t st = vmdl_sev_es_sev_status(v);
            FZ_CHECK(!vmdl_sev_es_vm_active(vm) ||
                         st == (3 | ((sf & VMDL_SVM_SEV_FEAT_DEBUG_SWAP) ? 0x80u : 0)),
                     "imported SEV_STATUS 0x%llx", (unsigned long long)st);
        }
        break;
    }
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f;
    fz_init(&f, data, size);
    int kind = fz_u8(&f) % M_COUNT;
    unsigned mode = fz_u8(&f) % 3;
    memset(vmx_mem, 0, sizeof(vmx_mem));

    if (kind == M_RAW) {
        struct vmdl_blob_reader r;
        uint32_t magic = fz_u32(&f), version = fz_u32(&f);
        int e = vmdl_blob_open(&r, f.p + f.pos, f.n - f.pos, magic, version, "fuzz");
        if (e) {
            FZ_CHECK(e == VMDL_EBADBLOB || e == VMDL_EVERSION, "blob_open %d", e);
            return 0;
        }
        /* Read the payload with every getter until it runs out. */
        uint8_t tmp[16];
        for (unsigned i = 0; !r.err && i < 4096; i++) {
            switch (i % 5) {
            case 0: vmdl_blob_get_u8(&r); break;
            case 1: vmdl_blob_get_u16(&r); break;
            case 2: vmdl_blob_get_u32(&r); break;
            case 3: vmdl_blob_get_u64(&r); break;
            default: vmdl_blob_get_bytes(&r, tmp, (i / 5) % 17); break;
            }
            FZ_CHECK(r.pos <= r.len, "reader ran past the payload");
        }
        (void)vmdl_blob_close(&r);
        return 0;
    }

    struct obj o;
    obj_create(&o, kind);
    uint8_t *blob = NULL;
    size_t n = 0;
    if (mode == 0) {
        n = f.n - f.pos;
        blob = malloc(n ? n : 1);
        memcpy(blob, f.p + f.pos, n);
    } else {
        struct obj src;
        obj_create(&src, kind);
        obj_exercise(&src, &f);
        FZ_CHECK(obj_export(&src, &blob, &n) == 0, "base export: %s", vmdl_last_error());
        obj_destroy(&src);
        /* Mutations: (offset, xor) pairs, then an optional resize. */
        unsigned nmut = fz_u8(&f) % 16;
        for (unsigned i = 0; i < nmut && n; i++) {
            size_t at = fz_u16(&f) % n;
            if (fz_u8(&f) < 64 && n > VMDL_BLOB_HEADER_SIZE)
                at = VMDL_BLOB_HEADER_SIZE + at % (n - VMDL_BLOB_HEADER_SIZE);
            blob[at] ^= fz_u8(&f);
        }
        unsigned rs = fz_u8(&f);
        if (rs < 16 && n) {
            n -= 1 + fz_u16(&f) % n;
        } else if (rs < 24) {
            size_t extra = 1 + fz_u8(&f);
            uint8_t *b2 = realloc(blob, n + extra);
            FZ_CHECK(b2 != NULL, "realloc");
            blob = b2;
            for (size_t i = 0; i < extra; i++)
                blob[n + i] = fz_u8(&f);
            n += extra;
        }
        if (mode == 2)
            fix_header(blob, n);
    }

    uint8_t *before = NULL, *after = NULL;
    size_t nb = 0, na = 0;
    FZ_CHECK(obj_export(&o, &before, &nb) == 0, "export before");
    int e = obj_import(&o, blob, n);
    FZ_TRACE("import kind %d mode %u len %zu -> %d %s\n", kind, mode, n, e,
             e ? vmdl_last_error() : "");
    FZ_CHECK(obj_export(&o, &after, &na) == 0, "export after");
    if (e) {
        FZ_CHECK(e == VMDL_EBADBLOB || e == VMDL_EVERSION, "import error %d (%s)", e,
                 vmdl_last_error());
        FZ_CHECK(vmdl_last_error()[0], "refusal without a message");
        FZ_CHECK(nb == na && !memcmp(before, after, nb),
                 "refused import changed the model (%s)", vmdl_last_error());
    } else {
        post_import_checks(&o);
        struct obj fresh;
        obj_create(&fresh, kind);
        FZ_CHECK(obj_import(&fresh, after, na) == 0,
                 "re-import of export(import(x)) refused: %s", vmdl_last_error());
        uint8_t *again = NULL;
        size_t ng = 0;
        FZ_CHECK(obj_export(&fresh, &again, &ng) == 0, "export again");
        FZ_CHECK(ng == na && !memcmp(again, after, na),
                 "export(import(export(import(x)))) != export(import(x))");
        free(again);
        obj_destroy(&fresh);
    }
    free(before);
    free(after);
    free(blob);
    obj_destroy(&o);
    return 0;
}

static void write_seeds(const char *dir)
{
    const char *names[] = {"vmx", "lapic", "amd_pmu", "gicv5", "tdx", NULL, "sev_es"};
    for (int k = 0; k < M_COUNT; k++) {
        if (k == M_RAW)
            continue;
        for (unsigned mode = 0; mode < 3; mode++) {
            struct fz_out o;
            memset(&o, 0, sizeof(o));
            fz_put8(&o, k);
            fz_put8(&o, mode);
            if (mode == 0) {
                /* The export of a fresh model, as the raw blob. */
                struct obj src;
                obj_create(&src, k);
                uint8_t *b;
                size_t n;
                FZ_CHECK(obj_export(&src, &b, &n) == 0, "seed export");
                for (size_t i = 0; i < n && o.len < sizeof(o.buf); i++)
                    fz_put8(&o, b[i]);
                free(b);
                obj_destroy(&src);
            } else {
                fz_put8(&o, 3);            /* exercise 3 times */
                for (int i = 0; i < 24; i++)
                    fz_put8(&o, 0x41 + i);
                fz_put8(&o, 2);            /* two mutations in the payload */
                fz_put16(&o, 20); fz_put8(&o, 0); fz_put8(&o, 0x01);
                fz_put16(&o, 40); fz_put8(&o, 0); fz_put8(&o, 0x80);
                fz_put8(&o, 200);          /* no resize */
            }
            char name[32];
            snprintf(name, sizeof(name), "%s_mode%u", names[k], mode);
            fz_save_out(dir, name, &o);
        }
    }
    struct fz_out o;
    memset(&o, 0, sizeof(o));
    fz_put8(&o, M_RAW);
    fz_put8(&o, 0);
    fz_put32(&o, VMDL_BLOB_MAGIC('F', 'U', 'Z', 'Z'));
    fz_put32(&o, 1);
    uint8_t payload[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    fz_put32(&o, VMDL_BLOB_MAGIC('F', 'U', 'Z', 'Z'));
    fz_put32(&o, 1);
    fz_put32(&o, sizeof(payload));
    fz_put32(&o, vmdl_crc32(0, payload, sizeof(payload)));
    for (int i = 0; i < 8; i++)
        fz_put8(&o, payload[i]);
    fz_save_out(dir, "raw_blob", &o);
}

FZ_SEED_WRITER_MAIN()
