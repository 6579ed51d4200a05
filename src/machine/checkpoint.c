/* SPDX-License-Identifier: MIT */
/*
 * Whole-VM checkpoints (include/virtmodel/checkpoint.h): RAM, every vCPU's
 * architectural and virtual state, and each model's own state blob.
 *
 * Restoring is two-phase: the whole file is parsed and checked (container
 * checksum, configuration, image, model set, every vCPU record) into a
 * staging copy first; only then is anything applied.  A model that refuses
 * its blob at that point (it came from our own save, so this means a bug or
 * a hand-edited file) leaves the VM unusable, and the error says so.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "arch_ops.h"
#include "virtmodel/blob.h"
#include "virtmodel/checkpoint.h"
#include "virtmodel/error.h"
#include "virtmodel/loader.h"

#define CKPT_MAGIC VMDL_BLOB_MAGIC('V', 'M', 'C', 'K')
#define PAGE 4096u

/* ---------------- vCPU records ---------------- */

/* A record: the architecture's words, then the pending events, then
 * (checkpoints only, not digests) virtual time. */
static void put_vcpu_time(struct vmdl_blob_writer *w, struct vmdl_vcpu *v, bool with_time)
{
    v->vm->arch_ops->save_state(v, w);
    vmdl_blob_put_u8(w, v->halted);
    vmdl_blob_put_u8(w, v->wait_for_sipi);
    vmdl_blob_put_u8(w, v->nmi_pending);
    vmdl_blob_put_u8(w, v->irq_line);
    vmdl_blob_put_u32(w, (uint32_t)v->queued_irq);
    if (!with_time)
        return;
    vmdl_blob_put_u64(w, vmdl__insns(v));
    vmdl_blob_put_u64(w, vmdl__branches(v));
    vmdl_blob_put_u64(w, v->kick_at);
    vmdl_blob_put_u64(w, v->slice_end);
    vmdl_blob_put_u64(w, v->shadow_at);
    vmdl_blob_put_u64(w, v->stall);
}

static void put_vcpu(struct vmdl_blob_writer *w, struct vmdl_vcpu *v)
{
    put_vcpu_time(w, v, true);
}

/* Staged vCPU record, checked before anything is applied. */
struct vcpu_rec {
    uint64_t arch[VMDL_ARCH_STATE_WORDS];
    uint8_t halted, wait_for_sipi, nmi_pending, irq_line;
    int32_t queued_irq;
    uint64_t insns, branches, kick_at, slice_end, shadow_at, stall;
};

/* Version 2 records (before virtual-time weights) have no stall: zero. */
static void get_vcpu(struct vmdl_blob_reader *r, struct vmdl_vm *vm, struct vcpu_rec *c,
                     uint32_t version)
{
    vm->arch_ops->load_state(r, c->arch);
    c->halted = vmdl_blob_get_u8(r);
    c->wait_for_sipi = vmdl_blob_get_u8(r);
    c->nmi_pending = vmdl_blob_get_u8(r);
    c->irq_line = vmdl_blob_get_u8(r);
    c->queued_irq = (int32_t)vmdl_blob_get_u32(r);
    c->insns = vmdl_blob_get_u64(r);
    c->branches = vmdl_blob_get_u64(r);
    c->kick_at = vmdl_blob_get_u64(r);
    c->slice_end = vmdl_blob_get_u64(r);
    c->shadow_at = vmdl_blob_get_u64(r);
    c->stall = version >= 3 ? vmdl_blob_get_u64(r) : 0;
    if (c->insns + c->stall < c->insns)
        vmdl_blob_reject(r, "vCPU record's virtual time overflows");
    if (c->halted > 1 || c->wait_for_sipi > 1 || c->nmi_pending > 1 || c->irq_line > 1 ||
        c->queued_irq < -1 || c->queued_irq > 255)
        vmdl_blob_reject(r, "vCPU record has out-of-range flags");
}

static void apply_vcpu(struct vmdl_vcpu *v, const struct vcpu_rec *c)
{
    v->vm->arch_ops->apply_state(v, c->arch);
    v->halted = c->halted;
    v->wait_for_sipi = c->wait_for_sipi;
    v->nmi_pending = c->nmi_pending;
    v->irq_line = c->irq_line;
    v->queued_irq = c->queued_irq;
    vmdl__insns_set(v, c->insns);
    vmdl__branches_set(v, c->branches);
    v->kick_at = c->kick_at;
    v->slice_end = c->slice_end;
    v->shadow_at = c->shadow_at;
    v->stall = c->stall;
    v->pending = PENDING_NONE;
    vmdl__count_forget_block(v);
}

/* ---------------- image identity ---------------- */

static uint32_t image_crc(struct vmdl_vm *vm)
{
    uint32_t crc = 0;
    for (unsigned i = 0; i < vm->nr_images; i++) {
        const struct image_range *r = &vm->images[i];
        uint64_t hdr[2] = {r->gpa, r->len};
        crc = vmdl_crc32(crc, hdr, sizeof(hdr));
        if (r->copy)
            crc = vmdl_crc32(crc, r->copy, r->len);
    }
    return crc;
}

/* ---------------- save ---------------- */

static bool page_is_zero(const uint8_t *p)
{
    static const uint8_t zero[PAGE];
    return !memcmp(p, zero, PAGE);
}

int vmdl_vm_checkpoint_save(struct vmdl_vm *vm, uint8_t **blob, size_t *len)
{
    if (!vm || !blob || !len)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vm_checkpoint_save: NULL argument");
    if (!vm->entry_set)
        return vmdl_fail(VMDL_ESTATE, "vmdl_vm_checkpoint_save: no guest loaded");
    for (unsigned i = 0; i < vm->nr_vcpus; i++)
        if (vm->vcpus[i]->pending != PENDING_NONE)
            return vmdl_fail(VMDL_ESTATE, "vmdl_vm_checkpoint_save: vCPU %u has "
                             "an exit that was not completed", i);
    uint8_t *ext = NULL;
    size_t ext_len = 0;
    int e = vm->arch_ops->ext_save ? vm->arch_ops->ext_save(vm, &ext, &ext_len) : VMDL_OK;
    if (e)
        return e;
    struct vmdl_blob_writer w;
    vmdl_blob_begin(&w, CKPT_MAGIC, VMDL_CHECKPOINT_VERSION);
    vmdl_blob_put_u32(&w, vm->arch);
    vmdl_blob_put_u32(&w, vm->cfg.vendor);
    vmdl_blob_put_u64(&w, vm->ram_base);
    vmdl_blob_put_u64(&w, vm->ram_size);
    vmdl_blob_put_u32(&w, vm->nr_vcpus);
    vmdl_blob_put_u64(&w, vm->cfg.quantum);
    vmdl_blob_put_u32(&w, vm->cfg.vtime.pause_cycles);
    vmdl_blob_put_u32(&w, vm->cfg.vtime.exit_cycles);
    vmdl_blob_put_u32(&w, vm->cfg.vtime.serialize_cycles);
    vmdl_blob_put_u32(&w, vm->cfg.vtime.rdtsc_cycles);
    vmdl_blob_put_u32(&w, vm->cfg.vtime.flush_cycles);
    vmdl_blob_put_u32(&w, image_crc(vm));
    vmdl_blob_put_u64(&w, vm->entry);
    vmdl_blob_put_u32(&w, vm->next_vcpu);
    vmdl_blob_put_u64(&w, vm->reset_count);
    uint32_t npages = (uint32_t)(vm->ram_size / PAGE), nonzero = 0;
    for (uint32_t p = 0; p < npages; p++)
        nonzero += !page_is_zero(vm->ram + (uint64_t)p * PAGE);
    vmdl_blob_put_u32(&w, nonzero);
    for (uint32_t p = 0; p < npages; p++) {
        const uint8_t *pg = vm->ram + (uint64_t)p * PAGE;
        if (page_is_zero(pg))
            continue;
        vmdl_blob_put_u32(&w, p);
        vmdl_blob_put_bytes(&w, pg, PAGE);
    }
    for (unsigned i = 0; i < vm->nr_vcpus; i++)
        put_vcpu(&w, vm->vcpus[i]);
    vmdl_blob_put_blob(&w, ext, ext_len);
    free(ext);
    vmdl_blob_put_u32(&w, vm->nr_states);
    for (unsigned i = 0; i < vm->nr_states; i++) {
        struct state_hook *h = &vm->states[i];
        uint8_t *mb = NULL;
        size_t ml = 0;
        int err = h->save(h->opaque, &mb, &ml);
        if (err) {
            char msg[256];
            snprintf(msg, sizeof(msg), "%s", vmdl_last_error());
            vmdl_blob_discard(&w);
            return vmdl_fail(err, "checkpoint: model '%s' could not save: %s",
                             h->name, msg);
        }
        vmdl_blob_put_blob(&w, h->name, strlen(h->name));
        vmdl_blob_put_blob(&w, mb, ml);
        free(mb);
    }
    return vmdl_blob_finish(&w, blob, len);
}

/* ---------------- restore ---------------- */

/* The whole checkpoint, parsed and checked, not applied yet. */
struct staged {
    uint32_t version;
    uint32_t next_vcpu;
    uint64_t reset_count;
    const uint8_t **pages;             /* per RAM page: its bytes, or NULL (zero) */
    struct vcpu_rec *recs;
    void *ext;                         /* the architecture's section, checked */
    struct { const uint8_t *p; size_t n; } mods[MAX_HANDLERS];
};

static void staged_free(struct vmdl_vm *vm, struct staged *st)
{
    free(st->pages);
    free(st->recs);
    if (st->ext && vm->arch_ops->ext_free)
        vm->arch_ops->ext_free(st->ext);
}

/* Version 5's architecture section (older files have none: a VM that needs
 * one refuses them through ext_stage). */
static void stage_ext(struct vmdl_vm *vm, struct vmdl_blob_reader *r, struct staged *st)
{
    const uint8_t *p = NULL;
    size_t n = 0;
    if (st->version >= 5)
        vmdl_blob_get_blob(r, &p, &n);
    if (r->err || !vm->arch_ops->ext_stage)
        return;
    int err = vm->arch_ops->ext_stage(vm, p, n, &st->ext);
    if (err)
        r->err = err;           /* its message stands */
}

/* The header: the same VM configuration and image as this VM's. */
static int check_header(struct vmdl_vm *vm, struct vmdl_blob_reader *r, uint32_t version)
{
    uint32_t arch = vmdl_blob_get_u32(r), vendor = vmdl_blob_get_u32(r);
    uint64_t ram_base = vmdl_blob_get_u64(r), ram_size = vmdl_blob_get_u64(r);
    uint32_t nr_vcpus = vmdl_blob_get_u32(r);
    uint64_t quantum = vmdl_blob_get_u64(r);
    /* Version 2 came before the weights (one tick per instruction), version
     * 3 before the serialize weight. */
    uint32_t pause = version >= 3 ? vmdl_blob_get_u32(r) : 0;
    uint32_t exit_c = version >= 3 ? vmdl_blob_get_u32(r) : 0;
    uint32_t ser = version >= 4 ? vmdl_blob_get_u32(r) : 0;
    uint32_t rdtsc = version >= 4 ? vmdl_blob_get_u32(r) : 0;
    uint32_t flush = version >= 4 ? vmdl_blob_get_u32(r) : 0;
    uint32_t icrc = vmdl_blob_get_u32(r);
    uint64_t entry = vmdl_blob_get_u64(r);
    if (r->err)
        return vmdl_blob_close(r);
    if (arch != vm->arch || vendor != vm->cfg.vendor || ram_base != vm->ram_base ||
        ram_size != vm->ram_size || nr_vcpus != vm->nr_vcpus || quantum != vm->cfg.quantum)
        return vmdl_fail(VMDL_EINVAL, "checkpoint: taken from a VM with another "
                         "configuration (architecture, vendor, RAM, vCPUs or quantum)");
    const struct vmdl_vtime_weights *w = &vm->cfg.vtime;
    if (pause != w->pause_cycles || exit_c != w->exit_cycles || ser != w->serialize_cycles ||
        rdtsc != w->rdtsc_cycles || flush != w->flush_cycles)
        return vmdl_fail(VMDL_EINVAL, "checkpoint: taken with virtual-time weights pause "
                         "%u / exit %u / serialize %u / rdtsc %u / flush %u cycles, this VM "
                         "has %u / %u / %u / %u / %u%s", pause, exit_c, ser, rdtsc, flush,
                         w->pause_cycles, w->exit_cycles, w->serialize_cycles,
                         w->rdtsc_cycles, w->flush_cycles,
                         version < 3 ? " (a version 2 checkpoint predates the weights: "
                         "restore it with all 0)" :
                         version < 4 ? " (a version 3 checkpoint predates the serialize, "
                         "RDTSC and flush weights: restore it with those 0)" : "");
    if (icrc != image_crc(vm) || entry != vm->entry)
        return vmdl_fail(VMDL_EINVAL, "checkpoint: taken with another guest image");
    return VMDL_OK;
}

static void stage_ram(struct vmdl_vm *vm, struct vmdl_blob_reader *r, struct staged *st)
{
    uint32_t npages = (uint32_t)(vm->ram_size / PAGE);
    uint32_t nonzero = vmdl_blob_get_u32(r);
    if (nonzero > npages)
        vmdl_blob_reject(r, "more RAM pages than the VM has");
    uint32_t prev = 0;
    for (uint32_t i = 0; i < nonzero && !r->err; i++) {
        uint32_t idx = vmdl_blob_get_u32(r);
        if (idx >= npages || (i && idx <= prev)) {
            vmdl_blob_reject(r, "RAM page index out of range or out of order");
            break;
        }
        prev = idx;
        st->pages[idx] = r->p + r->pos;
        uint8_t skip[PAGE];
        vmdl_blob_get_bytes(r, skip, PAGE);
    }
}

static void stage_models(struct vmdl_vm *vm, struct vmdl_blob_reader *r,
                         struct staged *st)
{
    uint32_t nmods = vmdl_blob_get_u32(r);
    if (!r->err && nmods != vm->nr_states)
        vmdl_blob_reject(r, "the checkpoint's models differ from the VM's "
                         "(attach the same --models)");
    for (uint32_t i = 0; i < nmods && !r->err; i++) {
        const uint8_t *name;
        size_t nlen;
        vmdl_blob_get_blob(r, &name, &nlen);
        vmdl_blob_get_blob(r, &st->mods[i].p, &st->mods[i].n);
        if (!r->err && (nlen != strlen(vm->states[i].name) ||
                        memcmp(name, vm->states[i].name, nlen)))
            vmdl_blob_reject(r, "the checkpoint's models differ from the VM's "
                             "(attach the same --models)");
    }
}

/* Parse and check everything after the header into *st. */
static int stage(struct vmdl_vm *vm, struct vmdl_blob_reader *r, struct staged *st)
{
    st->next_vcpu = vmdl_blob_get_u32(r);
    st->reset_count = vmdl_blob_get_u64(r);
    if (st->next_vcpu >= vm->nr_vcpus)
        vmdl_blob_reject(r, "scheduler cursor out of range");
    st->pages = calloc(vm->ram_size / PAGE, sizeof(*st->pages));
    st->recs = calloc(vm->nr_vcpus, sizeof(*st->recs));
    if (!st->pages || !st->recs)
        return vmdl_fail(VMDL_ENOMEM, "checkpoint: out of memory");
    stage_ram(vm, r, st);
    for (unsigned i = 0; i < vm->nr_vcpus && !r->err; i++)
        get_vcpu(r, vm, &st->recs[i], st->version);
    stage_ext(vm, r, st);
    stage_models(vm, r, st);
    return vmdl_blob_close(r);
}

/*
 * Pages a checkpoint does not hold are zero.  RAM is a private anonymous
 * mapping (vm.c): MADV_DONTNEED gives a run of pages back to the host and
 * they read as zero afterwards, so a restore costs host memory only for the
 * pages the checkpoint holds, not for the whole RAM (a memset touched every
 * page: docs/performance.md).
 */
static void zero_pages(uint8_t *p, uint64_t len)
{
    if (len && madvise(p, len, MADV_DONTNEED) != 0)
        memset(p, 0, len);
}

static void apply_ram(struct vmdl_vm *vm, const struct staged *st)
{
    uint32_t npages = (uint32_t)(vm->ram_size / PAGE), run = 0;
    for (uint32_t p = 0; p < npages; p++) {
        if (!st->pages[p]) {
            run++;
            continue;
        }
        zero_pages(vm->ram + (uint64_t)(p - run) * PAGE, (uint64_t)run * PAGE);
        run = 0;
        memcpy(vm->ram + (uint64_t)p * PAGE, st->pages[p], PAGE);
    }
    zero_pages(vm->ram + (uint64_t)(npages - run) * PAGE, (uint64_t)run * PAGE);
}

static int apply(struct vmdl_vm *vm, const struct staged *st)
{
    apply_ram(vm, st);
    vm->next_vcpu = st->next_vcpu;
    vm->reset_count = st->reset_count;
    for (unsigned i = 0; i < vm->nr_vcpus; i++) {
        apply_vcpu(vm->vcpus[i], &st->recs[i]);
        uc_ctl_flush_tlb(vm->vcpus[i]->uc); /* code in RAM changed */
    }
    if (st->ext)
        vm->arch_ops->ext_apply(vm, st->ext);
    for (uint32_t i = 0; i < vm->nr_states; i++) {
        struct state_hook *h = &vm->states[i];
        int err = h->load(h->opaque, st->mods[i].p, st->mods[i].n);
        if (err) {
            char msg[256];
            snprintf(msg, sizeof(msg), "%s", vmdl_last_error());
            return vmdl_fail(err, "checkpoint: model '%s' refused its state (%s); "
                             "the VM is now inconsistent and must be destroyed",
                             h->name, msg);
        }
    }
    return VMDL_OK;
}

int vmdl_vm_checkpoint_restore(struct vmdl_vm *vm, const void *blob, size_t len)
{
    if (!vm || !blob)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vm_checkpoint_restore: NULL argument");
    if (!vm->entry_set)
        return vmdl_fail(VMDL_ESTATE, "vmdl_vm_checkpoint_restore: load the same "
                         "image into the VM first");
    struct vmdl_blob_reader r;
    struct staged st = { .version = VMDL_CHECKPOINT_VERSION };
    int err = vmdl_blob_open(&r, blob, len, CKPT_MAGIC, st.version, "checkpoint");
    /* Versions 4 to 2 are read as well: they lack only weights (and, for
     * 2, the stall cycles), which were zero then, and the architecture
     * section, which no VM they were taken from had. */
    for (uint32_t older = 4; err == VMDL_EVERSION && older >= 2; older--) {
        st.version = older;
        err = vmdl_blob_open(&r, blob, len, CKPT_MAGIC, st.version, "checkpoint");
    }
    if (err == VMDL_EVERSION)
        return vmdl_fail(err, "checkpoint: unsupported format version (this "
                         "library reads versions 2 to %d)", VMDL_CHECKPOINT_VERSION);
    if (err || (err = check_header(vm, &r, st.version)))
        return err;
    err = stage(vm, &r, &st);
    if (!err)
        err = apply(vm, &st);
    staged_free(vm, &st);
    return err;
}

int vmdl_vm_checkpoint_write(struct vmdl_vm *vm, const char *path)
{
    uint8_t *b;
    size_t n;
    int err = vmdl_vm_checkpoint_save(vm, &b, &n);
    if (err)
        return err;
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(b);
        return vmdl_fail(VMDL_EIO, "%s: %s", path, strerror(errno));
    }
    bool ok = fwrite(b, 1, n, f) == n;
    ok = (fclose(f) == 0) && ok;
    free(b);
    return ok ? VMDL_OK : vmdl_fail(VMDL_EIO, "%s: write failed", path);
}

int vmdl_vm_checkpoint_read(struct vmdl_vm *vm, const char *path)
{
    uint8_t *b;
    size_t n;
    int err = vmdl_read_file(path, &b, &n);
    if (err)
        return err;
    err = vmdl_vm_checkpoint_restore(vm, b, n);
    free(b);
    return err;
}

uint32_t vmdl_vm_state_digest(struct vmdl_vm *vm)
{
    uint32_t crc = vmdl_crc32(0, vm->ram, vm->ram_size);
    for (unsigned i = 0; i < vm->nr_vcpus; i++) {
        struct vmdl_blob_writer w;
        vmdl_blob_begin(&w, 0, 0);
        /* Registers and pending events; not the instruction counts, which
         * exist only while somebody needs virtual time. */
        put_vcpu_time(&w, vm->vcpus[i], false);
        if (!w.err)
            crc = vmdl_crc32(crc, w.buf + VMDL_BLOB_HEADER_SIZE,
                             w.len - VMDL_BLOB_HEADER_SIZE);
        vmdl_blob_discard(&w);
    }
    return crc;
}
