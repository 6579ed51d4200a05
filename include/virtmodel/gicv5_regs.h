/* SPDX-License-Identifier: MIT */
/*
 * GICv5 CPU-interface encodings as data: every ICC_* (EL1) register, ICH_*
 * (EL2) register and GIC/GICR/GSB system instruction the gicv5 model knows,
 * with its op0/op1/CRn/CRm/op2 encoding, the exception level that owns it,
 * its access type, the mask of its RES0 bits and the bit that controls its
 * fine-grained trap in ICH_HFGRTR_EL2 / ICH_HFGWTR_EL2 / ICH_HFGITR_EL2.
 *
 * This list is the ONE place these facts live; the model derives its
 * encoding lookup, its RES0 masking and its trap decisions from it.
 * Sources of the facts: Linux arch/arm64/tools/sysreg (GICv5 blocks),
 * arch/arm64/include/asm/sysreg.h and the KVM selftest's gic_v5.h (the
 * GIC/GICR/GSB instruction encodings).  Rows are kept in ascending order of
 * VMDL_GICV5_ENC(); a unit test checks that.
 */
#ifndef VIRTMODEL_GICV5_REGS_H
#define VIRTMODEL_GICV5_REGS_H

#include <stdint.h>

#include "virtmodel/bits.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Access types. */
#define VMDL_GICV5_RO 1   /* MRS only (register) / SYSL only (GICR insn) */
#define VMDL_GICV5_WO 2   /* SYS only (GIC and GSB instructions) */
#define VMDL_GICV5_RW 3

/* Kinds. */
#define VMDL_GICV5_SYSREG 0
#define VMDL_GICV5_INSN 1

/* Fine-grained trap bit numbers (negative polarity: 1 = not trapped). */
#define VMDL_GICV5_NOFGT (-1)

/*
 * X(NAME, op0, op1, CRn, CRm, op2, EL, KIND, ACCESS, RES0 mask,
 *   HFGRTR bit, HFGWTR bit, HFGITR bit)
 */
#define VMDL_GICV5_REG_TABLE(X)                                                    \
    /* --- GIC/GICR/GSB system instructions: op0=1 op1=0 CRn=12 --- */           \
    X(GSB_SYS,              1, 0, 12, 0, 0, 1, VMDL_GICV5_INSN, VMDL_GICV5_WO, 0, -1, -1, -1) \
    X(GSB_ACK,              1, 0, 12, 0, 1, 1, VMDL_GICV5_INSN, VMDL_GICV5_WO, 0, -1, -1, -1) \
    X(GIC_CDDIS,            1, 0, 12, 1, 0, 1, VMDL_GICV5_INSN, VMDL_GICV5_WO, 0, -1, -1, 1)  \
    X(GIC_CDEN,             1, 0, 12, 1, 1, 1, VMDL_GICV5_INSN, VMDL_GICV5_WO, 0, -1, -1, 0)  \
    X(GIC_CDPRI,            1, 0, 12, 1, 2, 1, VMDL_GICV5_INSN, VMDL_GICV5_WO, 0, -1, -1, 2)  \
    X(GIC_CDAFF,            1, 0, 12, 1, 3, 1, VMDL_GICV5_INSN, VMDL_GICV5_WO, 0, -1, -1, 3)  \
    X(GIC_CDPEND,           1, 0, 12, 1, 4, 1, VMDL_GICV5_INSN, VMDL_GICV5_WO, 0, -1, -1, 4)  \
    X(GIC_CDRCFG,           1, 0, 12, 1, 5, 1, VMDL_GICV5_INSN, VMDL_GICV5_WO, 0, -1, -1, 5)  \
    X(GIC_CDEOI,            1, 0, 12, 1, 7, 1, VMDL_GICV5_INSN, VMDL_GICV5_WO, 0, -1, -1, 7)  \
    X(GIC_CDDI,             1, 0, 12, 2, 0, 1, VMDL_GICV5_INSN, VMDL_GICV5_WO, 0, -1, -1, 8)  \
    X(GIC_CDHM,             1, 0, 12, 2, 1, 1, VMDL_GICV5_INSN, VMDL_GICV5_WO, 0, -1, -1, 6)  \
    X(GICR_CDIA,            1, 0, 12, 3, 0, 1, VMDL_GICV5_INSN, VMDL_GICV5_RO, 0, -1, -1, 9)  \
    X(GICR_CDNMIA,          1, 0, 12, 3, 1, 1, VMDL_GICV5_INSN, VMDL_GICV5_RO, 0, -1, -1, 10) \
    /* --- ICC_* EL1 registers, op1=0 --- */                                      \
    X(ICC_PPI_HMR0_EL1,     3, 0, 12, 10, 0, 1, VMDL_GICV5_SYSREG, VMDL_GICV5_RO, 0, 16, -1, -1) \
    X(ICC_PPI_HMR1_EL1,     3, 0, 12, 10, 1, 1, VMDL_GICV5_SYSREG, VMDL_GICV5_RO, 0, 16, -1, -1) \
    X(ICC_IDR0_EL1,         3, 0, 12, 10, 2, 1, VMDL_GICV5_SYSREG, VMDL_GICV5_RO, VMDL_GENMASK(63, 12), 1, -1, -1) \
    X(ICC_HPPIR_EL1,        3, 0, 12, 10, 3, 1, VMDL_GICV5_SYSREG, VMDL_GICV5_RO, VMDL_GENMASK(63, 33) | VMDL_GENMASK(28, 24), 4, -1, -1) \
    X(ICC_ICSR_EL1,         3, 0, 12, 10, 4, 1, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, VMDL_GENMASK(63, 48) | VMDL_GENMASK(31, 16) | VMDL_GENMASK(10, 6), 6, 6, -1) \
    X(ICC_IAFFIDR_EL1,      3, 0, 12, 10, 5, 1, VMDL_GICV5_SYSREG, VMDL_GICV5_RO, VMDL_GENMASK(63, 16), 7, -1, -1) \
    X(ICC_PPI_ENABLER0_EL1, 3, 0, 12, 10, 6, 1, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, 0, 17, 17, -1) \
    X(ICC_PPI_ENABLER1_EL1, 3, 0, 12, 10, 7, 1, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, 0, 17, 17, -1) \
    X(ICC_PPI_CACTIVER0_EL1, 3, 0, 12, 13, 0, 1, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, 0, 20, 20, -1) \
    X(ICC_PPI_CACTIVER1_EL1, 3, 0, 12, 13, 1, 1, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, 0, 20, 20, -1) \
    X(ICC_PPI_SACTIVER0_EL1, 3, 0, 12, 13, 2, 1, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, 0, 20, 20, -1) \
    X(ICC_PPI_SACTIVER1_EL1, 3, 0, 12, 13, 3, 1, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, 0, 20, 20, -1) \
    X(ICC_PPI_CPENDR0_EL1,  3, 0, 12, 13, 4, 1, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, 0, 18, 18, -1) \
    X(ICC_PPI_CPENDR1_EL1,  3, 0, 12, 13, 5, 1, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, 0, 18, 18, -1) \
    X(ICC_PPI_SPENDR0_EL1,  3, 0, 12, 13, 6, 1, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, 0, 18, 18, -1) \
    X(ICC_PPI_SPENDR1_EL1,  3, 0, 12, 13, 7, 1, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, 0, 18, 18, -1) \
    X(ICC_PPI_PRIORITYR0_EL1,  3, 0, 12, 14, 0, 1, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, VMDL_GICV5_PRIORITYR_RES0, 19, 19, -1) \
    X(ICC_PPI_PRIORITYR1_EL1,  3, 0, 12, 14, 1, 1, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, VMDL_GICV5_PRIORITYR_RES0, 19, 19, -1) \
    X(ICC_PPI_PRIORITYR2_EL1,  3, 0, 12, 14, 2, 1, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, VMDL_GICV5_PRIORITYR_RES0, 19, 19, -1) \
    X(ICC_PPI_PRIORITYR3_EL1,  3, 0, 12, 14, 3, 1, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, VMDL_GICV5_PRIORITYR_RES0, 19, 19, -1) \
    X(ICC_PPI_PRIORITYR4_EL1,  3, 0, 12, 14, 4, 1, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, VMDL_GICV5_PRIORITYR_RES0, 19, 19, -1) \
    X(ICC_PPI_PRIORITYR5_EL1,  3, 0, 12, 14, 5, 1, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, VMDL_GICV5_PRIORITYR_RES0, 19, 19, -1) \
    X(ICC_PPI_PRIORITYR6_EL1,  3, 0, 12, 14, 6, 1, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, VMDL_GICV5_PRIORITYR_RES0, 19, 19, -1) \
    X(ICC_PPI_PRIORITYR7_EL1,  3, 0, 12, 14, 7, 1, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, VMDL_GICV5_PRIORITYR_RES0, 19, 19, -1) \
    X(ICC_PPI_PRIORITYR8_EL1,  3, 0, 12, 15, 0, 1, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, VMDL_GICV5_PRIORITYR_RES0, 19, 19, -1) \
    X(ICC_PPI_PRIORITYR9_EL1,  3, 0, 12, 15, 1, 1, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, VMDL_GICV5_PRIORITYR_RES0, 19, 19, -1) \
    X(ICC_PPI_PRIORITYR10_EL1, 3, 0, 12, 15, 2, 1, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, VMDL_GICV5_PRIORITYR_RES0, 19, 19, -1) \
    X(ICC_PPI_PRIORITYR11_EL1, 3, 0, 12, 15, 3, 1, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, VMDL_GICV5_PRIORITYR_RES0, 19, 19, -1) \
    X(ICC_PPI_PRIORITYR12_EL1, 3, 0, 12, 15, 4, 1, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, VMDL_GICV5_PRIORITYR_RES0, 19, 19, -1) \
    X(ICC_PPI_PRIORITYR13_EL1, 3, 0, 12, 15, 5, 1, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, VMDL_GICV5_PRIORITYR_RES0, 19, 19, -1) \
    X(ICC_PPI_PRIORITYR14_EL1, 3, 0, 12, 15, 6, 1, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, VMDL_GICV5_PRIORITYR_RES0, 19, 19, -1) \
    X(ICC_PPI_PRIORITYR15_EL1, 3, 0, 12, 15, 7, 1, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, VMDL_GICV5_PRIORITYR_RES0, 19, 19, -1) \
    /* --- ICC_* EL1 registers, op1=1 --- */                                      \
    X(ICC_APR_EL1,          3, 1, 12, 0, 0, 1, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, VMDL_GENMASK(63, 32), 0, 0, -1) \
    X(ICC_CR0_EL1,          3, 1, 12, 0, 1, 1, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, VMDL_GENMASK(63, 39) | VMDL_GENMASK(31, 1), 2, 2, -1) \
    X(ICC_PCR_EL1,          3, 1, 12, 0, 2, 1, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, VMDL_GENMASK(63, 5), 5, 5, -1) \
    /* --- ICH_* EL2 registers, op1=4 --- */                                      \
    X(ICH_APR_EL2,          3, 4, 12, 8, 4, 2, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, VMDL_GENMASK(63, 32), -1, -1, -1) \
    X(ICH_HFGRTR_EL2,       3, 4, 12, 9, 4, 2, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, VMDL_GENMASK(63, 21) | VMDL_GENMASK(15, 8), -1, -1, -1) \
    X(ICH_HFGWTR_EL2,       3, 4, 12, 9, 6, 2, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, VMDL_GENMASK(63, 21) | VMDL_GENMASK(16, 7) | VMDL_GENMASK(4, 3) | VMDL_BIT(1), -1, -1, -1) \
    X(ICH_HFGITR_EL2,       3, 4, 12, 9, 7, 2, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, VMDL_GENMASK(63, 11), -1, -1, -1) \
    X(ICH_PPI_DVIR0_EL2,    3, 4, 12, 10, 0, 2, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, 0, -1, -1, -1) \
    X(ICH_PPI_DVIR1_EL2,    3, 4, 12, 10, 1, 2, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, 0, -1, -1, -1) \
    X(ICH_PPI_ENABLER0_EL2, 3, 4, 12, 10, 2, 2, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, 0, -1, -1, -1) \
    X(ICH_PPI_ENABLER1_EL2, 3, 4, 12, 10, 3, 2, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, 0, -1, -1, -1) \
    X(ICH_PPI_PENDR0_EL2,   3, 4, 12, 10, 4, 2, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, 0, -1, -1, -1) \
    X(ICH_PPI_PENDR1_EL2,   3, 4, 12, 10, 5, 2, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, 0, -1, -1, -1) \
    X(ICH_PPI_ACTIVER0_EL2, 3, 4, 12, 10, 6, 2, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, 0, -1, -1, -1) \
    X(ICH_PPI_ACTIVER1_EL2, 3, 4, 12, 10, 7, 2, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, 0, -1, -1, -1) \
    X(ICH_VCTLR_EL2,        3, 4, 12, 11, 4, 2, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, VMDL_GENMASK(63, 2), -1, -1, -1) \
    X(ICH_CONTEXTR_EL2,     3, 4, 12, 11, 6, 2, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, VMDL_GENMASK(54, 48) | VMDL_GENMASK(31, 16), -1, -1, -1) \
    X(ICH_VMCR_EL2,         3, 4, 12, 11, 7, 2, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, VMDL_GENMASK(63, 32) | VMDL_GENMASK(26, 1), -1, -1, -1) \
    X(ICH_PPI_PRIORITYR0_EL2,  3, 4, 12, 14, 0, 2, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, VMDL_GICV5_PRIORITYR_RES0, -1, -1, -1) \
    X(ICH_PPI_PRIORITYR1_EL2,  3, 4, 12, 14, 1, 2, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, VMDL_GICV5_PRIORITYR_RES0, -1, -1, -1) \
    X(ICH_PPI_PRIORITYR2_EL2,  3, 4, 12, 14, 2, 2, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, VMDL_GICV5_PRIORITYR_RES0, -1, -1, -1) \
    X(ICH_PPI_PRIORITYR3_EL2,  3, 4, 12, 14, 3, 2, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, VMDL_GICV5_PRIORITYR_RES0, -1, -1, -1) \
    X(ICH_PPI_PRIORITYR4_EL2,  3, 4, 12, 14, 4, 2, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, VMDL_GICV5_PRIORITYR_RES0, -1, -1, -1) \
    X(ICH_PPI_PRIORITYR5_EL2,  3, 4, 12, 14, 5, 2, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, VMDL_GICV5_PRIORITYR_RES0, -1, -1, -1) \
    X(ICH_PPI_PRIORITYR6_EL2,  3, 4, 12, 14, 6, 2, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, VMDL_GICV5_PRIORITYR_RES0, -1, -1, -1) \
    X(ICH_PPI_PRIORITYR7_EL2,  3, 4, 12, 14, 7, 2, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, VMDL_GICV5_PRIORITYR_RES0, -1, -1, -1) \
    X(ICH_PPI_PRIORITYR8_EL2,  3, 4, 12, 15, 0, 2, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, VMDL_GICV5_PRIORITYR_RES0, -1, -1, -1) \
    X(ICH_PPI_PRIORITYR9_EL2,  3, 4, 12, 15, 1, 2, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, VMDL_GICV5_PRIORITYR_RES0, -1, -1, -1) \
    X(ICH_PPI_PRIORITYR10_EL2, 3, 4, 12, 15, 2, 2, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, VMDL_GICV5_PRIORITYR_RES0, -1, -1, -1) \
    X(ICH_PPI_PRIORITYR11_EL2, 3, 4, 12, 15, 3, 2, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, VMDL_GICV5_PRIORITYR_RES0, -1, -1, -1) \
    X(ICH_PPI_PRIORITYR12_EL2, 3, 4, 12, 15, 4, 2, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, VMDL_GICV5_PRIORITYR_RES0, -1, -1, -1) \
    X(ICH_PPI_PRIORITYR13_EL2, 3, 4, 12, 15, 5, 2, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, VMDL_GICV5_PRIORITYR_RES0, -1, -1, -1) \
    X(ICH_PPI_PRIORITYR14_EL2, 3, 4, 12, 15, 6, 2, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, VMDL_GICV5_PRIORITYR_RES0, -1, -1, -1) \
    X(ICH_PPI_PRIORITYR15_EL2, 3, 4, 12, 15, 7, 2, VMDL_GICV5_SYSREG, VMDL_GICV5_RW, VMDL_GICV5_PRIORITYR_RES0, -1, -1, -1)

/* Each 8-bit slot of a PPI priority register: 5-bit priority, 3 RES0 bits. */
#define VMDL_GICV5_PRIORITYR_RES0 UINT64_C(0xE0E0E0E0E0E0E0E0)

/* Packed encoding, ordered like the table rows. */
#define VMDL_GICV5_ENC(op0, op1, crn, crm, op2)                              \
    ((uint32_t)(((op0) & 3u) << 14 | ((op1) & 7u) << 11 | ((crn) & 15u) << 7 \
                | ((crm) & 15u) << 3 | ((op2) & 7u)))

enum vmdl_gicv5_reg_id {
#define VMDL_GICV5_X_ID(name, ...) VMDL_GICV5_##name,
    VMDL_GICV5_REG_TABLE(VMDL_GICV5_X_ID)
#undef VMDL_GICV5_X_ID
    VMDL_GICV5_NR_REGS
};

struct vmdl_gicv5_reg_desc {
    const char *name;
    enum vmdl_gicv5_reg_id id;
    uint8_t op0, op1, crn, crm, op2;
    uint8_t el;          /* 1: guest (EL1) interface, 2: hypervisor (EL2) */
    uint8_t kind;        /* VMDL_GICV5_SYSREG or VMDL_GICV5_INSN */
    uint8_t access;      /* VMDL_GICV5_RO / WO / RW */
    uint64_t res0;       /* RES0 bits: read as zero, writes ignored */
    int8_t fgt_read;     /* ICH_HFGRTR_EL2 bit, or -1 */
    int8_t fgt_write;    /* ICH_HFGWTR_EL2 bit, or -1 */
    int8_t fgt_insn;     /* ICH_HFGITR_EL2 bit, or -1 */
};

/* The whole table, in encoding order (VMDL_GICV5_NR_REGS rows). */
extern const struct vmdl_gicv5_reg_desc vmdl_gicv5_regs[VMDL_GICV5_NR_REGS];

/* Row for an encoding, or NULL when the model does not know it. */
const struct vmdl_gicv5_reg_desc *vmdl_gicv5_reg_lookup(unsigned op0,
                                                        unsigned op1,
                                                        unsigned crn,
                                                        unsigned crm,
                                                        unsigned op2);

/* Row by id, or NULL for an out-of-range id. */
const struct vmdl_gicv5_reg_desc *vmdl_gicv5_reg(enum vmdl_gicv5_reg_id id);

/* Defined (non-RES0) bits of a fine-grained trap register, taken from its
 * row: 0 = ICH_HFGRTR_EL2, 1 = ICH_HFGWTR_EL2, 2 = ICH_HFGITR_EL2. */
uint64_t vmdl_gicv5_fgt_defined(unsigned which);

#ifdef __cplusplus
}
#endif
#endif
