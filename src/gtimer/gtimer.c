/* SPDX-License-Identifier: MIT */
/* The Arm generic timer of one vCPU, EL1 view (include/virtmodel/gtimer.h). */
#include "virtmodel/gtimer.h"

/* Encodings (op0 3, CRn 14): op1 3 for the EL0 registers, 0 for CNTKCTL. */
enum reg { R_NONE, R_FRQ, R_PCT, R_VCT, R_KCTL, R_TVAL, R_CTL, R_CVAL };

static enum reg decode(unsigned op0, unsigned op1, unsigned crn, unsigned crm,
                       unsigned op2, enum vmdl_gtimer_id *id)
{
    if (op0 != 3 || crn != 14)
        return R_NONE;
    if (op1 == 0)
        return crm == 1 && op2 == 0 ? R_KCTL : R_NONE;
    if (op1 != 3)
        return R_NONE;
    if (crm == 0)
        return op2 == 0 ? R_FRQ : op2 == 1 ? R_PCT : op2 == 2 ? R_VCT : R_NONE;
    if ((crm != 2 && crm != 3) || op2 > 2)
        return R_NONE;
    *id = crm == 3 ? VMDL_GTIMER_VIRT : VMDL_GTIMER_PHYS;
    return op2 == 0 ? R_TVAL : op2 == 1 ? R_CTL : R_CVAL;
}

/* May EL0 use it?  (Arm ARM: CNTKCTL_EL1.EL0PCTEN/EL0VCTEN for the counters,
 * either of them for CNTFRQ, EL0PTEN/EL0VTEN for the timers.) */
static bool el0_allowed(uint32_t kctl, enum reg r, enum vmdl_gtimer_id id)
{
    switch (r) {
    case R_FRQ:
        return kctl & (VMDL_GTIMER_KCTL_EL0PCTEN | VMDL_GTIMER_KCTL_EL0VCTEN);
    case R_PCT:
        return kctl & VMDL_GTIMER_KCTL_EL0PCTEN;
    case R_VCT:
        return kctl & VMDL_GTIMER_KCTL_EL0VCTEN;
    case R_KCTL:
        return false;
    default:
        return kctl & (id == VMDL_GTIMER_VIRT ? VMDL_GTIMER_KCTL_EL0VTEN
                                              : VMDL_GTIMER_KCTL_EL0PTEN);
    }
}

void vmdl_gtimer_reset(struct vmdl_gtimer *t)
{
    t->cntkctl = 0;
    for (unsigned i = 0; i < 2; i++) {
        t->t[i].ctl = 0;
        t->t[i].cval = 0;
    }
}

void vmdl_gtimer_init(struct vmdl_gtimer *t, uint32_t freq, uint32_t flags)
{
    t->freq = freq ? freq : VMDL_GTIMER_DEFAULT_FREQ;
    t->flags = flags;
    t->cntvoff = 0;
    vmdl_gtimer_reset(t);
}

uint64_t vmdl_gtimer_count(const struct vmdl_gtimer *t, enum vmdl_gtimer_id id,
                           uint64_t cnt)
{
    return id == VMDL_GTIMER_VIRT ? cnt - t->cntvoff : cnt;
}

static bool condition(const struct vmdl_gtimer *t, enum vmdl_gtimer_id id, uint64_t cnt)
{
    return vmdl_gtimer_count(t, id, cnt) >= t->t[id].cval; /* unsigned, as the ARM */
}

uint32_t vmdl_gtimer_ctl(const struct vmdl_gtimer *t, enum vmdl_gtimer_id id, uint64_t cnt)
{
    uint32_t ctl = t->t[id].ctl;
    bool on = (ctl & VMDL_GTIMER_CTL_ENABLE) || (t->flags & VMDL_GTIMER_F_ISTATUS_WHEN_DISABLED);
    if (on && condition(t, id, cnt))
        ctl |= VMDL_GTIMER_CTL_ISTATUS;
    return ctl;
}

bool vmdl_gtimer_line(const struct vmdl_gtimer *t, enum vmdl_gtimer_id id, uint64_t cnt)
{
    uint32_t ctl = t->t[id].ctl;
    return (ctl & VMDL_GTIMER_CTL_ENABLE) && !(ctl & VMDL_GTIMER_CTL_IMASK) &&
           condition(t, id, cnt);
}

uint64_t vmdl_gtimer_next_event(const struct vmdl_gtimer *t, enum vmdl_gtimer_id id,
                                uint64_t cnt)
{
    uint32_t ctl = t->t[id].ctl;
    if (!(ctl & VMDL_GTIMER_CTL_ENABLE) || (ctl & VMDL_GTIMER_CTL_IMASK))
        return UINT64_MAX;
    if (condition(t, id, cnt))
        return cnt;
    uint64_t at = cnt + (t->t[id].cval - vmdl_gtimer_count(t, id, cnt));
    return at < cnt ? UINT64_MAX : at; /* beyond the 64-bit count: never */
}

static vmdl_fault timer_access(struct vmdl_gtimer *t, enum reg r, enum vmdl_gtimer_id id,
                               uint64_t cnt, bool is_write, uint64_t *value)
{
    uint64_t now = vmdl_gtimer_count(t, id, cnt);
    switch (r) {
    case R_CTL:
        if (is_write)
            t->t[id].ctl = (uint32_t)*value & (VMDL_GTIMER_CTL_ENABLE | VMDL_GTIMER_CTL_IMASK);
        else
            *value = vmdl_gtimer_ctl(t, id, cnt);
        break;
    case R_CVAL:
        if (is_write)
            t->t[id].cval = *value;
        else
            *value = t->t[id].cval;
        break;
    default: /* R_TVAL: a signed 32-bit down-counter view of CVAL */
        if (is_write)
            t->t[id].cval = now + (uint64_t)(int64_t)(int32_t)(uint32_t)*value;
        else
            *value = (uint32_t)(t->t[id].cval - now);
        break;
    }
    return VMDL_FAULT_NONE;
}

vmdl_fault vmdl_gtimer_sysreg(struct vmdl_gtimer *t, uint64_t cnt, unsigned el,
                              unsigned op0, unsigned op1, unsigned crn, unsigned crm,
                              unsigned op2, bool is_write, uint64_t *value)
{
    enum vmdl_gtimer_id id = VMDL_GTIMER_PHYS;
    enum reg r = decode(op0, op1, crn, crm, op2, &id);
    if (r == R_NONE)
        return VMDL_FAULT_UNCLAIMED;
    /* Read-only here (CNTFRQ_EL0 is writable at the highest EL only), and
     * EL1's CNTKCTL_EL1 at EL0: UNDEFINED before any EL0 trap. */
    if ((is_write && (r == R_FRQ || r == R_PCT || r == R_VCT)) || (el == 0 && r == R_KCTL))
        return VMDL_FAULT_UNDEF;
    /* The Arm ARM's pseudocode for these registers at EL0: when CNTKCTL_EL1
     * does not allow the access, AArch64.SystemAccessTrap(EL1, 0x18). */
    if (el == 0 && !el0_allowed(t->cntkctl, r, id))
        return VMDL_FAULT_SYSREG_TRAP;
    switch (r) {
    case R_FRQ:
    case R_PCT:
    case R_VCT:
        *value = r == R_FRQ ? t->freq : r == R_PCT ? cnt : cnt - t->cntvoff;
        return VMDL_FAULT_NONE;
    case R_KCTL:
        if (is_write)
            t->cntkctl = (uint32_t)*value & VMDL_GTIMER_KCTL_MASK;
        else
            *value = t->cntkctl;
        return VMDL_FAULT_NONE;
    default:
        return timer_access(t, r, id, cnt, is_write, value);
    }
}

void vmdl_gtimer_put(const struct vmdl_gtimer *t, struct vmdl_blob_writer *w)
{
    vmdl_blob_put_u32(w, t->freq);
    vmdl_blob_put_u32(w, t->flags);
    vmdl_blob_put_u32(w, t->cntkctl);
    vmdl_blob_put_u64(w, t->cntvoff);
    for (unsigned i = 0; i < 2; i++) {
        vmdl_blob_put_u32(w, t->t[i].ctl);
        vmdl_blob_put_u64(w, t->t[i].cval);
    }
}

void vmdl_gtimer_get(struct vmdl_gtimer *t, struct vmdl_blob_reader *r)
{
    struct vmdl_gtimer n;
    n.freq = vmdl_blob_get_u32(r);
    n.flags = vmdl_blob_get_u32(r);
    n.cntkctl = vmdl_blob_get_u32(r);
    n.cntvoff = vmdl_blob_get_u64(r);
    bool bad = n.freq == 0 || (n.flags & ~VMDL_GTIMER_F_ISTATUS_WHEN_DISABLED) ||
               (n.cntkctl & ~VMDL_GTIMER_KCTL_MASK);
    for (unsigned i = 0; i < 2; i++) {
        n.t[i].ctl = vmdl_blob_get_u32(r);
        n.t[i].cval = vmdl_blob_get_u64(r);
        bad |= (n.t[i].ctl & ~(VMDL_GTIMER_CTL_ENABLE | VMDL_GTIMER_CTL_IMASK)) != 0;
    }
    if (bad) {
        vmdl_blob_reject(r, "gtimer: reserved bits set or frequency 0");
        return;
    }
    *t = n;
}
