/* SPDX-License-Identifier: MIT */
/*
 * fuzz_sev_es: the SEV-ES init/launch sequence.  The first bytes pick the
 * modelled CPU (SEV, SEV-ES, DebugSwap, NoNestedDataBp, ASID ranges), the
 * history step and the kvm-amd parameters; then up to three VMs of any
 * type get KVM_MEMORY_ENCRYPT_OP commands (legacy INIT, ES_INIT, INIT2
 * with drawn arguments, launch commands, unknown ids), vCPUs, debug
 * registers, guest debug, world switches, guest MOV DR / SEV_STATUS
 * accesses, device-attribute reads, state save/load and destruction.
 *
 * Invariants checked after every step:
 *  - module: supported features only DebugSwap, only with SEV-ES enabled,
 *    the CPU's DebugSwap and NoNestedDataBp; SEV-ES only with SEV; never
 *    changed (a write attempt is refused); the attribute reads it;
 *  - VM: features within the supported set (none without SEV-ES), SEV-ES
 *    only when SEV is active, need_init exactly for an SEV-type VM not yet
 *    initialized, GHCB version 1..2 for SEV-ES and 0 otherwise;
 *  - a failing command returns one of KVM's errors and leaves the VM's
 *    exported state byte for byte as it was;
 *  - vCPU: a launched VMSA's SEV_FEATURES equal the VM's and never change
 *    afterwards; an unlaunched one has none; SEV_STATUS shows SEV, SEV-ES
 *    and DebugSwap as the state says;
 *  - DR7 accesses of an SEV-ES guest are intercepted (#VC 0x27/0x37)
 *    exactly when it lacks DebugSwap; after an exit the host's DR7 and
 *    address masks are back, and its DR0-3 when it had a breakpoint armed;
 *  - save -> load into a fresh VM of the same shape -> save is identical;
 *    a truncated blob is refused.
 */
#include <errno.h>

#include "fuzz_util.h"

#include "virtmodel/error.h"
#include "virtmodel/sev_es.h"

#define MAX_VMS 3
#define MAX_VCPUS 4

struct fvm {
    struct vmdl_sev_es_vm *vm;
    unsigned nr;
    struct vmdl_sev_es_vcpu *v[MAX_VCPUS];
    uint64_t frozen[MAX_VCPUS]; /* features seen at launch */
    bool launched[MAX_VCPUS];
    struct vmdl_sev_es_dregs host[MAX_VCPUS]; /* what the host set */
};

struct run {
    struct vmdl_sev_es_module *m;
    struct vmdl_sev_es_cpu cpu;
    struct vmdl_sev_es_load_params p;
    uint64_t supported;
    struct fvm vms[MAX_VMS];
};

static bool any_running(const struct fvm *f)
{
    for (unsigned i = 0; i < f->nr; i++)
        if (vmdl_sev_es_vcpu_running(f->v[i]))
            return true;
    return false;
}

static void check_module(struct run *r)
{
    const struct vmdl_sev_es_module *m = r->m;
    uint64_t s = vmdl_sev_es_module_supported_vmsa_features(m);
    FZ_CHECK(s == r->supported, "supported set changed 0x%llx -> 0x%llx",
             (unsigned long long)r->supported, (unsigned long long)s);
    FZ_CHECK(!(s & ~VMDL_SVM_SEV_FEAT_DEBUG_SWAP), "supported 0x%llx",
             (unsigned long long)s);
    if (s)
        FZ_CHECK(vmdl_sev_es_module_sev_es_enabled(m) && r->cpu.debug_swap &&
                     r->cpu.no_nested_data_bp,
                 "DebugSwap without SEV-ES, the CPU feature or NoNestedDataBp");
    if (vmdl_sev_es_module_sev_es_enabled(m))
        FZ_CHECK(vmdl_sev_es_module_sev_enabled(m) && r->cpu.sev_es &&
                     !r->p.sev_es_off, "SEV-ES enabled without SEV or the CPU");
    if (vmdl_sev_es_module_sev_enabled(m))
        FZ_CHECK(r->cpu.sev && !r->p.sev_off && r->cpu.max_sev_asid,
                 "SEV enabled without the CPU, the parameter or ASIDs");
}

static void check_vcpu(const struct run *r, struct fvm *f, unsigned i)
{
    struct vmdl_sev_es_vcpu *v = f->v[i];
    uint64_t vmf = vmdl_sev_es_vm_vmsa_features(f->vm);
    uint64_t sf = vmdl_sev_es_vcpu_sev_features(v);
    bool prot = vmdl_sev_es_vcpu_protected(v);
    (void)r;
    if (prot) {
        FZ_CHECK(vmdl_sev_es_vm_es_active(f->vm), "launched vCPU without SEV-ES");
        FZ_CHECK(sf == vmf, "VMSA 0x%llx, VM 0x%llx", (unsigned long long)sf,
                 (unsigned long long)vmf);
        if (f->launched[i])
            FZ_CHECK(sf == f->frozen[i], "SEV_FEATURES changed after launch");
        f->launched[i] = true;
        f->frozen[i] = sf;
    } else {
        FZ_CHECK(sf == 0 && !f->launched[i], "unlaunched VMSA features 0x%llx",
                 (unsigned long long)sf);
    }
    uint64_t st = vmdl_sev_es_sev_status(v);
    uint64_t want = 0;
    if (vmdl_sev_es_vm_active(f->vm))
        want = VMDL_SEV_STATUS_SEV;
    if (vmdl_sev_es_vm_es_active(f->vm))
        want |= VMDL_SEV_STATUS_SEV_ES |
                ((sf & VMDL_SVM_SEV_FEAT_DEBUG_SWAP) ? VMDL_SEV_STATUS_DEBUG_SWAP : 0);
    FZ_CHECK(st == want, "SEV_STATUS 0x%llx, expected 0x%llx",
             (unsigned long long)st, (unsigned long long)want);
}

static void check_vm(struct run *r, struct fvm *f)
{
    const struct vmdl_sev_es_vm *vm = f->vm;
    uint64_t feat = vmdl_sev_es_vm_vmsa_features(vm);
    bool es = vmdl_sev_es_vm_es_active(vm), act = vmdl_sev_es_vm_active(vm);
    unsigned type = vmdl_sev_es_vm_type(vm);
    FZ_CHECK(!(feat & ~(es ? r->supported : 0)), "VM features 0x%llx",
             (unsigned long long)feat);
    FZ_CHECK(!es || act, "SEV-ES without SEV");
    FZ_CHECK(vmdl_sev_es_vm_need_init(vm) == (type != 0 && !act), "need_init");
    unsigned g = vmdl_sev_es_vm_ghcb_version(vm);
    FZ_CHECK(es ? (g >= 1 && g <= 2) : g == 0, "GHCB version %u", g);
    if (act && type)
        FZ_CHECK(es == (type == VMDL_KVM_X86_SEV_ES_VM), "SEV-ES vs type %u", type);
    for (unsigned i = 0; i < f->nr; i++)
        check_vcpu(r, f, i);
}

static struct fvm *pick_vm(struct run *r, struct fz *z)
{
    struct fvm *f = &r->vms[fz_pick(z, MAX_VMS)];
    return f->vm ? f : NULL;
}

static bool save_vm(const struct fvm *f, uint8_t **b, size_t *n)
{
    if (any_running(f))
        return false;
    FZ_CHECK(vmdl_sev_es_vm_save(f->vm, b, n) == 0, "save: %s", vmdl_last_error());
    return true;
}

static void do_enc_op(struct run *r, struct fz *z)
{
    static const uint32_t ids[] = {0, 1, 2, 4, 6, 7, 22, 3, 99};
    struct fvm *f = pick_vm(r, z);
    uint32_t id = ids[fz_pick(z, 9)];
    struct vmdl_sev_init d;
    memset(&d, 0, sizeof(d));
    unsigned k = fz_u8(z);
    d.vmsa_features = (k & 1) ? fz_value(z) : (k & 2) ? VMDL_SVM_SEV_FEAT_DEBUG_SWAP : 0;
    d.flags = (k & 4) ? fz_u32(z) : 0;
    d.ghcb_version = (k & 8) ? fz_u16(z) : (uint16_t)((k >> 4) & 3);
    if (!f)
        return;
    uint8_t *before = NULL, *after = NULL;
    size_t nb = 0, na = 0;
    bool snap = save_vm(f, &before, &nb);
    int err = vmdl_sev_es_mem_enc_op(f->vm, id, (k & 0x80) ? NULL : &d);
    FZ_TRACE("enc_op %u feat 0x%llx flags 0x%x ghcb %u -> %d\n", id,
             (unsigned long long)d.vmsa_features, d.flags, d.ghcb_version, err);
    FZ_CHECK(err == 0 || err == -EINVAL || err == -ENOTTY || err == -EIO ||
                 err == -EBUSY || err == -EFAULT, "enc_op error %d", err);
    if (err && snap && id != VMDL_KVM_SEV_LAUNCH_UPDATE_VMSA) {
        save_vm(f, &after, &na);
        FZ_CHECK(na == nb && !memcmp(before, after, na),
                 "failed command %u changed the VM", id);
    }
    if (!err && (id == VMDL_KVM_SEV_INIT2 || id <= 1))
        FZ_CHECK((vmdl_sev_es_vm_vmsa_features(f->vm) == d.vmsa_features) ||
                     id <= 1, "INIT2 features 0x%llx",
                 (unsigned long long)vmdl_sev_es_vm_vmsa_features(f->vm));
    free(before);
    free(after);
}

static void do_create(struct run *r, struct fz *z)
{
    struct fvm *f = &r->vms[fz_pick(z, MAX_VMS)];
    unsigned type = fz_pick(z, 6);
    if (f->vm) {
        /* Add a vCPU instead. */
        if (f->nr < MAX_VCPUS) {
            int err = vmdl_sev_es_vcpu_create(f->vm, &f->v[f->nr]);
            FZ_CHECK(err == 0, "vcpu create %d", err);
            f->launched[f->nr] = false;
            memset(&f->host[f->nr], 0, sizeof(f->host[f->nr]));
            f->host[f->nr].dr6 = VMDL_DR6_RESET;
            f->host[f->nr].dr7 = VMDL_DR7_FIXED_1;
            f->nr++;
        }
        return;
    }
    int err = vmdl_sev_es_vm_create(r->m, type, &f->vm);
    FZ_TRACE("create VM type %u -> %d\n", type, err);
    FZ_CHECK(err == 0 || err == -EINVAL, "vm create %d", err);
    if (err)
        f->vm = NULL;
    f->nr = 0;
}

static void do_regs(struct run *r, struct fz *z)
{
    struct fvm *f = pick_vm(r, z);
    unsigned k = fz_u8(z);
    struct vmdl_sev_es_dregs d;
    memset(&d, 0, sizeof(d));
    for (unsigned i = 0; i < 4; i++)
        d.dr[i] = fz_value(z);
    d.dr6 = (k & 1) ? fz_value(z) : VMDL_DR6_RESET;
    d.dr7 = (k & 2) ? fz_value(z) : (k & 4) ? 0x402 : 0x400;
    for (unsigned i = 0; i < 4; i++)
        d.addr_mask[i] = fz_u8(z);
    if (!f || !f->nr)
        return;
    unsigned idx = fz_pick(z, f->nr);
    struct vmdl_sev_es_vcpu *v = f->v[idx];
    int err;
    if (k & 8) {
        err = vmdl_sev_es_vcpu_set_host_dregs(v, &d);
        if (!err)
            f->host[idx] = d;
    }
    else if (k & 16)
        err = vmdl_sev_es_vcpu_set_guest_debug(v, k & 32);
    else
        err = vmdl_sev_es_vcpu_set_debugregs(v, &d);
    FZ_TRACE("regs k 0x%x -> %d\n", k, err);
    FZ_CHECK(err == 0 || err == -EINVAL || err == VMDL_EINVAL || err == VMDL_ESTATE,
             "regs %d", err);
}

/* After an SEV-ES exit the host's DR7 and masks are back; DR0-3 and DR6
 * too when it had a breakpoint armed (hw_breakpoint_restore). */
static void check_after_exit(struct vmdl_sev_es_vcpu *v,
                             const struct vmdl_sev_es_dregs *host)
{
    struct vmdl_sev_es_dregs live;
    vmdl_sev_es_vcpu_live_dregs(v, &live);
    FZ_CHECK(live.dr7 == host->dr7, "host DR7 0x%llx lost (0x%llx)",
             (unsigned long long)host->dr7, (unsigned long long)live.dr7);
    FZ_CHECK(!memcmp(live.addr_mask, host->addr_mask, sizeof(live.addr_mask)),
             "host address masks lost");
    if (host->dr7 & VMDL_DR7_GLOBAL_ENABLE_MASK)
        FZ_CHECK(!memcmp(live.dr, host->dr, sizeof(live.dr)) &&
                     live.dr6 == VMDL_DR6_RESET, "armed host DR0-3 lost");
}

static void do_switch(struct run *r, struct fz *z)
{
    struct fvm *f = pick_vm(r, z);
    if (!f || !f->nr)
        return;
    unsigned idx = fz_pick(z, f->nr);
    struct vmdl_sev_es_vcpu *v = f->v[idx];
    if (!vmdl_sev_es_vcpu_running(v)) {
        int err = vmdl_sev_es_vcpu_enter(v);
        FZ_CHECK(err == 0 || err == -EINVAL, "enter %d", err);
        return;
    }
    FZ_CHECK(vmdl_sev_es_vcpu_exit(v) == 0, "exit");
    if (vmdl_sev_es_vm_es_active(f->vm))
        check_after_exit(v, &f->host[idx]);
}

static void do_guest(struct run *r, struct fz *z)
{
    struct fvm *f = pick_vm(r, z);
    if (!f || !f->nr)
        return;
    struct vmdl_sev_es_vcpu *v = f->v[fz_pick(z, f->nr)];
    unsigned k = fz_u8(z);
    uint64_t val = fz_value(z);
    if (k & 1) {
        uint64_t s = 0;
        vmdl_fault fl = vmdl_sev_es_rdmsr(v, (k & 2) ? VMDL_MSR_AMD64_SEV : fz_u32(z), &s);
        FZ_CHECK(fl == VMDL_FAULT_NONE || fl == VMDL_FAULT_UNCLAIMED, "rdmsr %d", fl);
        if (fl == VMDL_FAULT_NONE)
            FZ_CHECK(s == vmdl_sev_es_sev_status(v), "SEV_STATUS read");
        return;
    }
    unsigned dr = (k >> 1) & 15;
    bool write = k & 0x20, de = k & 0x40;
    uint32_t code = 0;
    struct vmdl_sev_es_dregs before, after;
    vmdl_sev_es_vcpu_live_dregs(v, &before);
    vmdl_fault fl = vmdl_sev_es_mov_dr(v, write, dr, de, &val, &code);
    vmdl_sev_es_vcpu_live_dregs(v, &after);
    FZ_TRACE("mov dr%u w%d -> %d code 0x%x\n", dr, write, fl, code);
    bool es = vmdl_sev_es_vm_es_active(f->vm) && vmdl_sev_es_vcpu_running(v);
    if (!es) {
        FZ_CHECK(fl == VMDL_FAULT_UNCLAIMED, "DR access claimed outside SEV-ES");
        return;
    }
    unsigned eff = (dr == 4 || dr == 5) && !de ? dr + 2 : dr;
    bool ds = vmdl_sev_es_vcpu_sev_features(v) & VMDL_SVM_SEV_FEAT_DEBUG_SWAP;
    if (eff == 7 && !ds)
        FZ_CHECK(fl == VMDL_FAULT_VC && code == (write ? 0x37u : 0x27u),
                 "DR7 without DebugSwap: fault %d code 0x%x", fl, code);
    if (fl == VMDL_FAULT_VC)
        FZ_CHECK(eff == 7 && !ds, "#VC for DR%u with DebugSwap %d", dr, ds);
    if (fl != VMDL_FAULT_NONE || !write)
        FZ_CHECK(!memcmp(&before, &after, sizeof(before)), "refused/read DR access "
                 "changed the registers");
    if (fl == VMDL_FAULT_NONE && eff == 7)
        FZ_CHECK((after.dr7 & 0xffffffff00000400ull) == 0x400, "DR7 0x%llx",
                 (unsigned long long)after.dr7);
}

static void do_roundtrip(struct run *r, struct fz *z)
{
    struct fvm *f = pick_vm(r, z);
    uint8_t *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    if (!f || !save_vm(f, &a, &na))
        return;
    struct vmdl_sev_es_vm *copy = NULL;
    FZ_CHECK(vmdl_sev_es_vm_create(r->m, vmdl_sev_es_vm_type(f->vm), &copy) == 0,
             "copy create");
    for (unsigned i = 0; i < f->nr; i++) {
        struct vmdl_sev_es_vcpu *cv;
        FZ_CHECK(vmdl_sev_es_vcpu_create(copy, &cv) == 0, "copy vcpu");
    }
    FZ_CHECK(vmdl_sev_es_vm_load(copy, a, na - 1) != 0, "truncated blob accepted");
    int err = vmdl_sev_es_vm_load(copy, a, na);
    /* The only honest refusal: no ASID left for the copy. */
    FZ_CHECK(err == 0 || err == VMDL_ESTATE, "load own blob: %d %s", err,
             vmdl_last_error());
    if (!err) {
        FZ_CHECK(vmdl_sev_es_vm_save(copy, &b, &nb) == 0, "save copy");
        FZ_CHECK(na == nb && !memcmp(a, b, na), "save/load/save differs");
        FZ_CHECK(vmdl_sev_es_launch_digest(copy) == vmdl_sev_es_launch_digest(f->vm),
                 "digest");
    }
    vmdl_sev_es_vm_destroy(copy);
    free(a);
    free(b);
}

static void do_misc(struct run *r, struct fz *z)
{
    unsigned k = fz_u8(z);
    if (k & 1) {
        uint64_t v = 0;
        uint32_t g = fz_u8(z) & 3;
        int err = vmdl_sev_es_dev_get_attr(r->m, g, fz_u8(z) & 1, &v);
        FZ_CHECK(err == 0 || err == -ENXIO, "attr %d", err);
        if (!err)
            FZ_CHECK(v == r->supported, "attr 0x%llx", (unsigned long long)v);
        return;
    }
    if (k & 2) {
        FZ_CHECK(vmdl_sev_es_module_set_supported_vmsa_features(r->m, fz_value(z)) ==
                     VMDL_ESTATE, "write to the supported set accepted");
        return;
    }
    struct fvm *f = pick_vm(r, z);
    if (f && !(k & 4)) {
        vmdl_sev_es_vm_destroy(f->vm);
        memset(f, 0, sizeof(*f));
    }
}

static void load_module(struct run *r, struct fz *z)
{
    unsigned b0 = fz_u8(z), b1 = fz_u8(z);
    r->cpu.sev = !(b0 & 1);
    r->cpu.sev_es = !(b0 & 2);
    r->cpu.debug_swap = !(b0 & 4);
    r->cpu.no_nested_data_bp = !(b0 & 8);
    r->cpu.min_sev_asid = 1 + ((b0 >> 4) & 3);
    r->cpu.max_sev_asid = (b0 >> 6) == 3 ? 0 : 2 + (b0 >> 6) * 2;
    vmdl_sev_es_load_params_init(&r->p);
    r->p.step = (enum vmdl_sev_es_step)(b1 % VMDL_SEV_ES_STEP_COUNT);
    r->p.debug_swap = (int)((b1 >> 3) % 3) - 1;
    r->p.sev_off = (b1 & 0x20) && (b1 & 0x40);
    r->p.sev_es_off = (b1 & 0x80) && (b1 & 0x40);
    FZ_CHECK(vmdl_sev_es_module_load(&r->cpu, &r->p, &r->m) == 0, "load: %s",
             vmdl_last_error());
    r->supported = vmdl_sev_es_module_supported_vmsa_features(r->m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz z;
    fz_init(&z, data, size);
    struct run r;
    memset(&r, 0, sizeof(r));
    load_module(&r, &z);
    check_module(&r);
    unsigned steps = 0;
    while (fz_more(&z) && steps++ < 512) {
        switch (fz_u8(&z) % 9) {
        case 0: do_create(&r, &z); break;
        case 1: case 2: do_enc_op(&r, &z); break;
        case 3: do_regs(&r, &z); break;
        case 4: do_switch(&r, &z); break;
        case 5: case 6: do_guest(&r, &z); break;
        case 7: do_roundtrip(&r, &z); break;
        default: do_misc(&r, &z); break;
        }
        check_module(&r);
        for (unsigned i = 0; i < MAX_VMS; i++)
            if (r.vms[i].vm)
                check_vm(&r, &r.vms[i]);
    }
    for (unsigned i = 0; i < MAX_VMS; i++)
        vmdl_sev_es_vm_destroy(r.vms[i].vm);
    FZ_CHECK(vmdl_sev_es_module_unload(r.m) == 0, "unload");
    return 0;
}

static void write_seeds(const char *dir)
{
    /* Per step, through KVM_SEV_INIT2 with DebugSwap and through the legacy
     * KVM_SEV_ES_INIT: create the VM, init, one vCPU, launch, arm a host
     * breakpoint, enter, write DR7 and DR0, read SEV_STATUS, exit, round
     * trip, read the attribute. */
    for (unsigned step = 0; step < VMDL_SEV_ES_STEP_COUNT; step++) {
        for (unsigned legacy = 0; legacy < 2; legacy++) {
            bool init2 = vmdl_sev_es_step_has_init2(step) && !legacy;
            if (!legacy && !init2)
                continue;
            struct fz_out o;
            memset(&o, 0, sizeof(o));
            fz_put8(&o, (2 << 4) | (1 << 6)); /* every CPU feature, ASIDs */
            fz_put8(&o, step);                /* the step's default */
            fz_put8(&o, 0); fz_put8(&o, 0); fz_put8(&o, init2 ? 3 : 0);
            fz_put8(&o, 1); fz_put8(&o, 0); fz_put8(&o, init2 ? 6 : 1);
            fz_put8(&o, 2);                   /* vmsa_features = DebugSwap */
            fz_put8(&o, 0); fz_put8(&o, 0); fz_put8(&o, 0); /* the vCPU */
            for (unsigned id = 2; id <= 5; id++) {
                fz_put8(&o, 1); fz_put8(&o, 0); fz_put8(&o, id); fz_put8(&o, 0);
            }
            fz_put8(&o, 3); fz_put8(&o, 0); fz_put8(&o, 8 | 4); /* host, DR7 0x402 */
            for (unsigned i = 0; i < 4; i++)
                fz_putval(&o, 0x1000 * (i + 1));
            for (unsigned i = 0; i < 4; i++)
                fz_put8(&o, i);
            fz_put8(&o, 0);
            fz_put8(&o, 4); fz_put8(&o, 0); fz_put8(&o, 0); /* enter */
            fz_put8(&o, 5); fz_put8(&o, 0); fz_put8(&o, 0);
            fz_put8(&o, 0x20 | (7 << 1)); fz_putval(&o, 0x401); /* DR7 */
            fz_put8(&o, 5); fz_put8(&o, 0); fz_put8(&o, 0);
            fz_put8(&o, 0x20); fz_putval(&o, 0x7000);           /* DR0 */
            fz_put8(&o, 5); fz_put8(&o, 0); fz_put8(&o, 0);
            fz_put8(&o, 3); fz_putval(&o, 0);                   /* SEV_STATUS */
            fz_put8(&o, 4); fz_put8(&o, 0); fz_put8(&o, 0);     /* exit */
            fz_put8(&o, 7); fz_put8(&o, 0);                     /* round trip */
            fz_put8(&o, 8); fz_put8(&o, 1); fz_put8(&o, 1); fz_put8(&o, 0);
            char name[32];
            snprintf(name, sizeof(name), "%s%s", vmdl_sev_es_step_name(step),
                     legacy ? "-legacy" : "");
            fz_save_out(dir, name, &o);
        }
    }
}

FZ_SEED_WRITER_MAIN()
