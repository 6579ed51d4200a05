/* SPDX-License-Identifier: MIT */
/*
 * fuzz_gtimer: the generic timer model (src/gtimer) driven by MRS/MSR on
 * random encodings around op0 3 / CRn 14 from EL0 and EL1, with the count
 * moving forward (and sometimes jumping) between accesses, CNTVOFF and the
 * KVM ISTATUS option from the input, resets and state round trips.
 *
 * Invariants: encodings other than the timer's are UNCLAIMED and leave the
 * state alone; writes to the counters and EL0 accesses to CNTKCTL_EL1 are
 * UNDEF; otherwise EL0 gets the EC 0x18 trap exactly when CNTKCTL_EL1 does
 * not allow the register; a CTL read has only bits 2:0, and ISTATUS equals "enabled (or
 * the option) and count >= CVAL"; the line equals ENABLE && !IMASK &&
 * ISTATUS; a TVAL read is (CVAL - count)[31:0] and a TVAL write leaves
 * CVAL = count + SignExtend(value[31:0]); CNTVCT = CNTPCT - CNTVOFF; the
 * next event is never in the past, is where the line rises when counting
 * up to it, and is UINT64_MAX for a disabled or masked timer; put/get
 * round-trips the state.
 */
#include "fuzz_util.h"

#include "virtmodel/gtimer.h"

static bool el0_ok(const struct vmdl_gtimer *t, unsigned op1, unsigned crm, unsigned op2)
{
    uint32_t k = t->cntkctl;
    if (op1 == 0)
        return false;
    if (crm == 0)
        return op2 == 0 ? (k & 3) != 0 : op2 == 1 ? (k & 1) : (k & 2);
    return crm == 3 ? (k & VMDL_GTIMER_KCTL_EL0VTEN) : (k & VMDL_GTIMER_KCTL_EL0PTEN);
}

static bool is_timer_reg(unsigned op0, unsigned op1, unsigned crn, unsigned crm, unsigned op2)
{
    if (op0 != 3 || crn != 14)
        return false;
    if (op1 == 0)
        return crm == 1 && op2 == 0;
    return op1 == 3 && ((crm == 0 && op2 <= 2) || ((crm == 2 || crm == 3) && op2 <= 2));
}

static void check_timer(const struct vmdl_gtimer *t, enum vmdl_gtimer_id id, uint64_t cnt)
{
    uint32_t ctl = vmdl_gtimer_ctl(t, id, cnt);
    uint64_t now = vmdl_gtimer_count(t, id, cnt);
    bool cond = now >= t->t[id].cval;
    bool on = (t->t[id].ctl & VMDL_GTIMER_CTL_ENABLE) ||
              (t->flags & VMDL_GTIMER_F_ISTATUS_WHEN_DISABLED);
    FZ_CHECK(!(ctl & ~7u), "CTL 0x%x has RES0 bits", ctl);
    FZ_CHECK(!!(ctl & VMDL_GTIMER_CTL_ISTATUS) == (on && cond), "ISTATUS wrong");
    bool line = vmdl_gtimer_line(t, id, cnt);
    FZ_CHECK(line == ((t->t[id].ctl & 1) && !(t->t[id].ctl & 2) && cond), "line wrong");
    uint64_t ev = vmdl_gtimer_next_event(t, id, cnt);
    if (!(t->t[id].ctl & 1) || (t->t[id].ctl & 2)) {
        FZ_CHECK(ev == UINT64_MAX, "masked/disabled timer has an event");
    } else if (line) {
        FZ_CHECK(ev == cnt, "raised line: event not now");
    } else {
        /* UINT64_MAX is "never", also for a count that cannot grow. */
        FZ_CHECK(ev > cnt || ev == UINT64_MAX, "event in the past");
        if (ev != UINT64_MAX) {
            FZ_CHECK(vmdl_gtimer_line(t, id, ev), "line not up at the event");
            FZ_CHECK(!vmdl_gtimer_line(t, id, ev - 1), "line up before the event");
        }
    }
}

/* Field by field: the struct has padding. */
static bool same(const struct vmdl_gtimer *a, const struct vmdl_gtimer *b)
{
    bool eq = a->freq == b->freq && a->flags == b->flags && a->cntkctl == b->cntkctl &&
              a->cntvoff == b->cntvoff;
    for (unsigned i = 0; i < 2; i++)
        eq = eq && a->t[i].ctl == b->t[i].ctl && a->t[i].cval == b->t[i].cval;
    return eq;
}

static void round_trip(struct vmdl_gtimer *t)
{
    struct vmdl_blob_writer w;
    vmdl_blob_begin(&w, VMDL_BLOB_MAGIC('F', 'G', 'T', 'M'), 1);
    vmdl_gtimer_put(t, &w);
    uint8_t *blob = NULL;
    size_t len = 0;
    FZ_CHECK(vmdl_blob_finish(&w, &blob, &len) == 0, "blob finish");
    struct vmdl_blob_reader r;
    FZ_CHECK(vmdl_blob_open(&r, blob, len, VMDL_BLOB_MAGIC('F', 'G', 'T', 'M'), 1, "f") == 0,
             "blob open");
    struct vmdl_gtimer u;
    vmdl_gtimer_init(&u, 1, 0);
    vmdl_gtimer_get(&u, &r);
    FZ_CHECK(vmdl_blob_close(&r) == 0, "round trip refused");
    FZ_CHECK(same(&u, t), "round trip changed the state");
    free(blob);
}

static void access(struct fz *f, struct vmdl_gtimer *t, uint64_t cnt)
{
    /* Mostly the timer's encodings, sometimes neighbours. */
    unsigned op0 = fz_pick(f, 8) ? 3 : fz_pick(f, 4);
    unsigned op1 = fz_pick(f, 4) ? 3 : fz_pick(f, 8);
    unsigned crn = fz_pick(f, 8) ? 14 : fz_pick(f, 16);
    unsigned crm = fz_pick(f, 4), op2 = fz_pick(f, 4);
    if (fz_pick(f, 8) == 0) {
        op1 = 0;
        crm = 1;
        op2 = 0;
    }
    unsigned el = fz_pick(f, 2);
    bool w = fz_bool(f);
    uint64_t val = fz_value(f), before_val = val;
    struct vmdl_gtimer before = *t;
    vmdl_fault r = vmdl_gtimer_sysreg(t, cnt, el, op0, op1, crn, crm, op2, w, &val);
    FZ_TRACE("%s el%u %u,%u,c%u,c%u,%u = 0x%llx -> %d\n", w ? "msr" : "mrs", el, op0, op1,
             crn, crm, op2, (unsigned long long)before_val, (int)r);
    if (!is_timer_reg(op0, op1, crn, crm, op2)) {
        FZ_CHECK(r == VMDL_FAULT_UNCLAIMED, "foreign encoding claimed");
        FZ_CHECK(same(&before, t), "foreign access changed state");
        return;
    }
    bool ro_write = w && op1 == 3 && crm == 0;
    if ((el == 0 && op1 == 0) || ro_write) {
        FZ_CHECK(r == VMDL_FAULT_UNDEF, "UNDEFINED access not refused");
        FZ_CHECK(same(&before, t), "refused access changed state");
        return;
    }
    if (el == 0 && !el0_ok(&before, op1, crm, op2)) {
        FZ_CHECK(r == VMDL_FAULT_SYSREG_TRAP, "EL0 access not trapped");
        FZ_CHECK(same(&before, t), "refused access changed state");
        return;
    }
    if (crm == 0 || op1 == 0) {
        if (w && op1 == 3) {
            FZ_CHECK(r == VMDL_FAULT_UNDEF, "read-only counter written");
            return;
        }
        FZ_CHECK(r == VMDL_FAULT_NONE, "access refused");
        if (!w && op1 == 3 && op2 == 1)
            FZ_CHECK(val == cnt, "CNTPCT");
        if (!w && op1 == 3 && op2 == 2)
            FZ_CHECK(val == cnt - t->cntvoff, "CNTVCT");
        return;
    }
    FZ_CHECK(r == VMDL_FAULT_NONE, "timer access refused");
    enum vmdl_gtimer_id id = crm == 3 ? VMDL_GTIMER_VIRT : VMDL_GTIMER_PHYS;
    uint64_t now = vmdl_gtimer_count(t, id, cnt);
    if (op2 == 0 && w)
        FZ_CHECK(t->t[id].cval == now + (uint64_t)(int64_t)(int32_t)(uint32_t)before_val,
                 "TVAL write");
    if (op2 == 0 && !w)
        FZ_CHECK(val == (uint32_t)(t->t[id].cval - now), "TVAL read");
    if (op2 == 1 && !w)
        FZ_CHECK(val == vmdl_gtimer_ctl(t, id, cnt), "CTL read");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f;
    fz_init(&f, data, size);
    struct vmdl_gtimer t;
    vmdl_gtimer_init(&t, fz_u32(&f), fz_bool(&f) ? VMDL_GTIMER_F_ISTATUS_WHEN_DISABLED : 0);
    t.cntvoff = fz_bool(&f) ? fz_value(&f) : 0;
    uint64_t cnt = fz_value(&f);
    for (unsigned steps = 0; fz_more(&f) && steps < 4096; steps++) {
        switch (fz_pick(&f, 16)) {
        case 0:
            cnt = fz_value(&f); /* a jump (a restore, a skip) */
            break;
        case 1:
            vmdl_gtimer_reset(&t);
            break;
        case 2:
            round_trip(&t);
            break;
        default:
            access(&f, &t, cnt);
            cnt += fz_pick(&f, 4) ? fz_u8(&f) : fz_u32(&f);
            break;
        }
        check_timer(&t, VMDL_GTIMER_PHYS, cnt);
        check_timer(&t, VMDL_GTIMER_VIRT, cnt);
    }
    return 0;
}

/* One EL1 access to op0 3, op1 3, CRn 14, CRm crm, op2 op2, then `adv` counts. */
static void put_access(struct fz_out *o, unsigned crm, unsigned op2, bool w, uint8_t val,
                       uint8_t adv)
{
    static const uint8_t head[] = {3, 1, 1, 1};  /* access; op0 3, op1 3, CRn 14 */
    for (unsigned i = 0; i < sizeof(head); i++)
        fz_put8(o, head[i]);
    fz_put8(o, crm);
    fz_put8(o, op2);
    fz_put8(o, 1);         /* not CNTKCTL_EL1 */
    fz_put8(o, 1);         /* EL1 */
    fz_put8(o, w);
    fz_put8(o, 2);         /* fz_value: one byte */
    fz_put8(o, val);
    fz_put8(o, 1);         /* advance by a byte */
    fz_put8(o, adv);
}

static void write_seeds(const char *dir)
{
    struct fz_out o = {.len = 0};
    fz_put32(&o, 0);       /* default frequency */
    fz_put8(&o, 0);        /* Arm ARM ISTATUS */
    fz_put8(&o, 0);        /* CNTVOFF 0 */
    fz_put8(&o, 2);        /* count 100 */
    fz_put8(&o, 100);
    put_access(&o, 3, 0, true, 200, 10);    /* CNTV_TVAL = 200 */
    put_access(&o, 3, 1, true, 1, 150);     /* CNTV_CTL = ENABLE */
    put_access(&o, 3, 1, false, 0, 100);    /* CNTV_CTL: ISTATUS by now */
    put_access(&o, 3, 0, false, 0, 1);      /* CNTV_TVAL: negative */
    put_access(&o, 2, 2, true, 255, 200);   /* CNTP_CVAL */
    put_access(&o, 2, 1, true, 3, 1);       /* CNTP_CTL = ENABLE | IMASK */
    fz_save_out(dir, "virtual-tval-ctl", &o);
}

FZ_SEED_WRITER_MAIN()
