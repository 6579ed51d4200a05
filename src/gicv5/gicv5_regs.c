/* SPDX-License-Identifier: MIT */
/* The GICv5 encoding table (rows in include/virtmodel/gicv5_regs.h). */
#include <stddef.h>

#include "virtmodel/gicv5_regs.h"

const struct vmdl_gicv5_reg_desc vmdl_gicv5_regs[VMDL_GICV5_NR_REGS] = {
#define VMDL_GICV5_X_ROW(nm, o0, o1, cn, cm, o2, lvl, knd, acc, r0, fr, fw, fi) \
    [VMDL_GICV5_##nm] = { .name = #nm, .id = VMDL_GICV5_##nm,                 \
                          .op0 = o0, .op1 = o1, .crn = cn, .crm = cm,         \
                          .op2 = o2, .el = lvl, .kind = knd, .access = acc,   \
                          .res0 = r0, .fgt_read = fr, .fgt_write = fw,        \
                          .fgt_insn = fi },
    VMDL_GICV5_REG_TABLE(VMDL_GICV5_X_ROW)
#undef VMDL_GICV5_X_ROW
};

static uint32_t row_enc(const struct vmdl_gicv5_reg_desc *d)
{
    return VMDL_GICV5_ENC(d->op0, d->op1, d->crn, d->crm, d->op2);
}

const struct vmdl_gicv5_reg_desc *vmdl_gicv5_reg_lookup(unsigned op0,
                                                        unsigned op1,
                                                        unsigned crn,
                                                        unsigned crm,
                                                        unsigned op2)
{
    if (op0 > 3 || op1 > 7 || crn > 15 || crm > 15 || op2 > 7)
        return NULL;
    uint32_t key = VMDL_GICV5_ENC(op0, op1, crn, crm, op2);
    size_t lo = 0, hi = VMDL_GICV5_NR_REGS;
    while (lo < hi) {     /* rows are sorted by encoding (tested) */
        size_t mid = lo + (hi - lo) / 2;
        uint32_t e = row_enc(&vmdl_gicv5_regs[mid]);
        if (e == key)
            return &vmdl_gicv5_regs[mid];
        if (e < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const struct vmdl_gicv5_reg_desc *vmdl_gicv5_reg(enum vmdl_gicv5_reg_id id)
{
    if ((unsigned)id >= VMDL_GICV5_NR_REGS)
        return NULL;
    return &vmdl_gicv5_regs[id];
}

uint64_t vmdl_gicv5_fgt_defined(unsigned which)
{
    static const enum vmdl_gicv5_reg_id rows[3] = {
        VMDL_GICV5_ICH_HFGRTR_EL2, VMDL_GICV5_ICH_HFGWTR_EL2,
        VMDL_GICV5_ICH_HFGITR_EL2,
    };
    if (which > 2)
        return 0;
    return ~vmdl_gicv5_regs[rows[which]].res0;
}
