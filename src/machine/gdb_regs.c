/* SPDX-License-Identifier: MIT */
/*
 * The registers the GDB stub shows, in GDB's numbering (the order of the
 * target description): x86-64 follows GDB's amd64 "core" feature (which
 * includes the x87 registers) plus the segment bases and a virtmodel feature
 * with the control registers the guest sees; aarch64 follows GDB's
 * "aarch64.core" plus the EL1 system registers the machine keeps.
 * Registers the machine does not model have id -1: GDB shows them as
 * unavailable.
 */
#include "gdbstub_internal.h"

#define CORE "org.gnu.gdb.i386.core"
#define SEGS "org.gnu.gdb.i386.segments"
#define XSYS "org.virtmodel.x86.sys"
#define R64(n, id) {n, 64, "int64", CORE, id}
#define X87(n) {n, 80, "i387_ext", CORE, -1}
#define I32(n) {n, 32, "int32", CORE, -1}
#define SEL(n, id) {n, 32, "int32", CORE, id}

static const struct vmdl_gdb_reg x86_regs[] = {
    R64("rax", VMDL_X86_RAX), R64("rbx", VMDL_X86_RBX), R64("rcx", VMDL_X86_RCX),
    R64("rdx", VMDL_X86_RDX), R64("rsi", VMDL_X86_RSI), R64("rdi", VMDL_X86_RDI),
    {"rbp", 64, "data_ptr", CORE, VMDL_X86_RBP}, {"rsp", 64, "data_ptr", CORE, VMDL_X86_RSP},
    R64("r8", VMDL_X86_R8), R64("r9", VMDL_X86_R9), R64("r10", VMDL_X86_R10),
    R64("r11", VMDL_X86_R11), R64("r12", VMDL_X86_R12), R64("r13", VMDL_X86_R13),
    R64("r14", VMDL_X86_R14), R64("r15", VMDL_X86_R15),
    {"rip", 64, "code_ptr", CORE, VMDL_X86_RIP},
    {"eflags", 32, "int32", CORE, VMDL_X86_RFLAGS},
    SEL("cs", VMDL_X86_CS), SEL("ss", VMDL_X86_SS), SEL("ds", VMDL_X86_DS),
    SEL("es", VMDL_X86_ES), SEL("fs", VMDL_X86_FS), SEL("gs", VMDL_X86_GS),
    X87("st0"), X87("st1"), X87("st2"), X87("st3"),
    X87("st4"), X87("st5"), X87("st6"), X87("st7"),
    I32("fctrl"), I32("fstat"), I32("ftag"), I32("fiseg"),
    I32("fioff"), I32("foseg"), I32("fooff"), I32("fop"),
    {"fs_base", 64, "int64", SEGS, VMDL_X86_FS_BASE},
    {"gs_base", 64, "int64", SEGS, VMDL_X86_GS_BASE},
    {"cr0", 64, "int64", XSYS, VMDL_X86_CR0}, {"cr2", 64, "int64", XSYS, VMDL_X86_CR2},
    {"cr3", 64, "int64", XSYS, VMDL_X86_CR3}, {"cr4", 64, "int64", XSYS, VMDL_X86_CR4},
    {"cr8", 64, "int64", XSYS, VMDL_X86_CR8}, {"efer", 64, "int64", XSYS, VMDL_X86_EFER},
};

#define ACORE "org.gnu.gdb.aarch64.core"
#define ASYS "org.virtmodel.aarch64.sys"
#define X(n) {"x" #n, 64, "int64", ACORE, VMDL_ARM64_X0 + n}

static const struct vmdl_gdb_reg arm64_regs[] = {
    X(0), X(1), X(2), X(3), X(4), X(5), X(6), X(7), X(8), X(9), X(10),
    X(11), X(12), X(13), X(14), X(15), X(16), X(17), X(18), X(19), X(20),
    X(21), X(22), X(23), X(24), X(25), X(26), X(27), X(28), X(29), X(30),
    {"sp", 64, "data_ptr", ACORE, VMDL_ARM64_SP},
    {"pc", 64, "code_ptr", ACORE, VMDL_ARM64_PC},
    {"cpsr", 32, "int32", ACORE, VMDL_ARM64_PSTATE},
    {"vbar_el1", 64, "int64", ASYS, VMDL_ARM64_VBAR_EL1},
    {"elr_el1", 64, "int64", ASYS, VMDL_ARM64_ELR_EL1},
    {"spsr_el1", 64, "int64", ASYS, VMDL_ARM64_SPSR_EL1},
    {"esr_el1", 64, "int64", ASYS, VMDL_ARM64_ESR_EL1},
    {"sctlr_el1", 64, "int64", ASYS, VMDL_ARM64_SCTLR_EL1},
    {"tcr_el1", 64, "int64", ASYS, VMDL_ARM64_TCR_EL1},
    {"ttbr0_el1", 64, "data_ptr", ASYS, VMDL_ARM64_TTBR0_EL1},
    {"ttbr1_el1", 64, "data_ptr", ASYS, VMDL_ARM64_TTBR1_EL1},
    {"mair_el1", 64, "int64", ASYS, VMDL_ARM64_MAIR_EL1},
    {"far_el1", 64, "data_ptr", ASYS, VMDL_ARM64_FAR_EL1},
    {"sp_el0", 64, "data_ptr", ASYS, VMDL_ARM64_SP_EL0},
    {"sp_el1", 64, "data_ptr", ASYS, VMDL_ARM64_SP_EL1},
    {"tpidr_el1", 64, "int64", ASYS, VMDL_ARM64_TPIDR_EL1},
    {"cpacr_el1", 64, "int64", ASYS, VMDL_ARM64_CPACR_EL1},
};

const struct vmdl_gdb_reg *vmdl__gdb_regs(enum vmdl_arch arch, unsigned *n,
                                          const char **arch_name)
{
    if (arch == VMDL_ARCH_X86_64) {
        *n = sizeof(x86_regs) / sizeof(x86_regs[0]);
        *arch_name = "i386:x86-64";
        return x86_regs;
    }
    *n = sizeof(arm64_regs) / sizeof(arm64_regs[0]);
    *arch_name = "aarch64";
    return arm64_regs;
}
