/* SPDX-License-Identifier: MIT */
/* The vmx glue's running-L2 record in a checkpoint (attach_vmx_state.h). */
#include <stddef.h>
#include <string.h>

#include "attach_vmx_state.h"

/* struct vmdl_vmx_cpu's 64-bit fields, in the record's order. */
#define AT(m) offsetof(struct vmdl_vmx_cpu, m)
static const size_t cpu_u64[] = {
    AT(cr0), AT(cr3), AT(cr4), AT(dr7), AT(rsp), AT(rip),
    AT(rflags), AT(gdtr_base), AT(idtr_base), AT(efer), AT(pat),
    AT(debugctl), AT(perf_global_ctrl), AT(bndcfgs), AT(sysenter_esp),
    AT(sysenter_eip), AT(pending_dbg),
};
/* ... and its 32-bit ones. */
static const size_t cpu_u32[] = {
    AT(gdtr_limit), AT(idtr_limit), AT(sysenter_cs), AT(activity),
    AT(interruptibility),
};

static void put_cpu(struct vmdl_blob_writer *w, const struct vmdl_vmx_cpu *c)
{
    for (size_t i = 0; i < sizeof(cpu_u64) / sizeof(cpu_u64[0]); i++) {
        uint64_t v;
        memcpy(&v, (const char *)c + cpu_u64[i], 8);
        vmdl_blob_put_u64(w, v);
    }
    for (size_t i = 0; i < sizeof(cpu_u32) / sizeof(cpu_u32[0]); i++) {
        uint32_t v;
        memcpy(&v, (const char *)c + cpu_u32[i], 4);
        vmdl_blob_put_u32(w, v);
    }
    for (unsigned i = 0; i < VMDL_VMX_NSEGS; i++) {
        vmdl_blob_put_u16(w, c->seg[i].selector);
        vmdl_blob_put_u64(w, c->seg[i].base);
        vmdl_blob_put_u32(w, c->seg[i].limit);
        vmdl_blob_put_u32(w, c->seg[i].ar);
    }
}

static void get_cpu(struct vmdl_blob_reader *r, struct vmdl_vmx_cpu *c)
{
    memset(c, 0, sizeof(*c));
    for (size_t i = 0; i < sizeof(cpu_u64) / sizeof(cpu_u64[0]); i++) {
        uint64_t v = vmdl_blob_get_u64(r);
        memcpy((char *)c + cpu_u64[i], &v, 8);
    }
    for (size_t i = 0; i < sizeof(cpu_u32) / sizeof(cpu_u32[0]); i++) {
        uint32_t v = vmdl_blob_get_u32(r);
        memcpy((char *)c + cpu_u32[i], &v, 4);
    }
    for (unsigned i = 0; i < VMDL_VMX_NSEGS; i++) {
        c->seg[i].selector = vmdl_blob_get_u16(r);
        c->seg[i].base = vmdl_blob_get_u64(r);
        c->seg[i].limit = vmdl_blob_get_u32(r);
        c->seg[i].ar = vmdl_blob_get_u32(r);
    }
    /* SDM 25.4.1: activity states 0-3; interruptibility bits 0-4. */
    if (c->activity > 3 || c->interruptibility > 0x1F)
        vmdl_blob_reject(r, "L2's activity or interruptibility state out of range");
}

void vmdl__vmx_put_l2_rec(struct vmdl_blob_writer *w, const struct vmdl__vmx_l2_rec *r)
{
    vmdl_blob_put_u8(w, r->active);
    put_cpu(w, &r->l2);
    vmdl_blob_put_u64(w, r->timer_at);
    vmdl_blob_put_u8(w, r->mtf);
    vmdl_blob_put_u8(w, r->l1_nmi_blocked);
    vmdl_blob_put_u8(w, r->look);
}

void vmdl__vmx_get_l2_rec(struct vmdl_blob_reader *r, struct vmdl__vmx_l2_rec *rec,
                          unsigned mtf_limit)
{
    memset(rec, 0, sizeof(*rec));
    uint8_t active = vmdl_blob_get_u8(r);
    get_cpu(r, &rec->l2);
    rec->timer_at = vmdl_blob_get_u64(r);
    uint8_t mtf = vmdl_blob_get_u8(r), nmi = vmdl_blob_get_u8(r), look = vmdl_blob_get_u8(r);
    if (active > 1 || mtf >= mtf_limit || nmi > 1 || look > 1)
        vmdl_blob_reject(r, "vmx glue record out of range");
    /* The timer and the MTF count only while L2 runs (disarmed at every
     * exit). */
    else if (!active && (rec->timer_at != UINT64_MAX || mtf))
        vmdl_blob_reject(r, "vmx glue record has L2's timer or MTF armed without L2");
    rec->active = active == 1;
    rec->mtf = mtf;
    rec->l1_nmi_blocked = nmi == 1;
    rec->look = look == 1;
}
