/* SPDX-License-Identifier: MIT */
/* The x86-64 implementation of the architecture interface (arch_ops.h). */
#include "x86.h"
#include "virtmodel/error.h"

/* Register ids in API order (contiguous: vmdl__arch_reg indexes by id). */
static const struct vmdl_arch_reg x86_regs[] = {
    {VMDL_X86_RAX, "rax", UC_X86_REG_RAX}, {VMDL_X86_RCX, "rcx", UC_X86_REG_RCX},
    {VMDL_X86_RDX, "rdx", UC_X86_REG_RDX}, {VMDL_X86_RBX, "rbx", UC_X86_REG_RBX},
    {VMDL_X86_RSP, "rsp", UC_X86_REG_RSP}, {VMDL_X86_RBP, "rbp", UC_X86_REG_RBP},
    {VMDL_X86_RSI, "rsi", UC_X86_REG_RSI}, {VMDL_X86_RDI, "rdi", UC_X86_REG_RDI},
    {VMDL_X86_R8, "r8", UC_X86_REG_R8}, {VMDL_X86_R9, "r9", UC_X86_REG_R9},
    {VMDL_X86_R10, "r10", UC_X86_REG_R10}, {VMDL_X86_R11, "r11", UC_X86_REG_R11},
    {VMDL_X86_R12, "r12", UC_X86_REG_R12}, {VMDL_X86_R13, "r13", UC_X86_REG_R13},
    {VMDL_X86_R14, "r14", UC_X86_REG_R14}, {VMDL_X86_R15, "r15", UC_X86_REG_R15},
    {VMDL_X86_RIP, "rip", UC_X86_REG_RIP}, {VMDL_X86_RFLAGS, "eflags", UC_X86_REG_RFLAGS},
    /* Virtual: the guest's view, kept by the machine (the engine runs the
     * guest at CPL3 with its own control registers). */
    {VMDL_X86_CR0, "cr0", -1}, {VMDL_X86_CR2, "cr2", -1}, {VMDL_X86_CR3, "cr3", -1},
    {VMDL_X86_CR4, "cr4", -1}, {VMDL_X86_CR8, "cr8", -1}, {VMDL_X86_EFER, "efer", -1},
    /* The engine's: the selectors the guest reads (the example convention
     * runs it at CPL3, so its CS/SS are ring-3 ones) and the bases. */
    {VMDL_X86_CS, "cs", UC_X86_REG_CS}, {VMDL_X86_SS, "ss", UC_X86_REG_SS},
    {VMDL_X86_DS, "ds", UC_X86_REG_DS}, {VMDL_X86_ES, "es", UC_X86_REG_ES},
    {VMDL_X86_FS, "fs", UC_X86_REG_FS}, {VMDL_X86_GS, "gs", UC_X86_REG_GS},
    {VMDL_X86_FS_BASE, "fs_base", UC_X86_REG_FS_BASE},
    {VMDL_X86_GS_BASE, "gs_base", UC_X86_REG_GS_BASE},
};

/* RAM must stay below the local APIC / IOAPIC window. */
/* The vCPU's physical address width (CPUID 0x80000008, x86/cpuid.c). */
#define X86_PHYS_END (1ull << 40)

/*
 * RAM at 0 that reaches VMDL_X86_SPLIT_AT is split as QEMU's pc machine
 * (pc_init1, gigabyte-aligned machine types) splits it: 3 GiB below the
 * PCI hole, the rest from 4 GiB.  Smaller RAM, or RAM that does not start
 * at 0, is one range and must end below the APIC window.
 */
static int check_layout(uint64_t base, uint64_t size, uint64_t *low)
{
    *low = size;
    if (base == 0 && size >= VMDL_X86_SPLIT_AT) {
        *low = VMDL_X86_RAM_BELOW_4G;
        if (size - *low > X86_PHYS_END - VMDL_X86_RAM_ABOVE_4G)
            return vmdl_fail(VMDL_ERANGE, "vmdl_vm_create: x86 RAM above 4 GiB would "
                             "end past 1 TiB (40 physical address bits)");
        return VMDL_OK;
    }
    if (base + size > 0xFEC00000ull)
        return vmdl_fail(VMDL_ERANGE, "vmdl_vm_create: x86 RAM would overlap "
                         "the APIC window at 0xFEC00000");
    return VMDL_OK;
}

const struct vmdl_arch_ops vmdl__x86_ops = {
    .arch = VMDL_ARCH_X86_64,
    .vcpu_size = sizeof(struct x86_vcpu),
    .default_ram_base = VMDL_X86_RAM_BASE,
    .cs_arch = CS_ARCH_X86,
    .cs_mode = CS_MODE_64,
    .pc_reg = VMDL_X86_RIP,
    .insn_families = (1u << VMDL_INSNS_VMX) | (1u << VMDL_INSNS_SEAM),
    .check_layout = check_layout,
    .vm_init = vmdl__x86_vm_init,
    .vcpu_init = vmdl__x86_vcpu_init,
    .vcpu_reset = vmdl__x86_vcpu_reset,
    .vcpu_free = vmdl__x86_vcpu_free,
    .run = vmdl__x86_run,
    .complete = vmdl__x86_complete,
    .fault_valid = vmdl__x86_fault_valid,
    .raise_fault = vmdl__x86_raise_fault,
    .deliver_exception = vmdl__x86_deliver_event,
    .inject_irq = vmdl__x86_inject_irq,
    .inject_nmi = vmdl__x86_inject_nmi,
    .can_wake = vmdl__x86_can_wake,
    .irq_window_open = vmdl__x86_irq_window_open,
    .device_enter = vmdl__x86_device_enter,
    .mmio_cost = vmdl__x86_mmio_cost,
    .device_leave = vmdl__x86_device_leave,
    .regs = x86_regs,
    .nr_regs = sizeof(x86_regs) / sizeof(x86_regs[0]),
    .get_reg = vmdl__x86_get_reg,
    .set_reg = vmdl__x86_set_reg,
    .translate = vmdl__x86_translate,
    .disasm = vmdl__x86_disasm,
    .guest_clock = vmdl__x86_guest_clock,
    .insn_is_shadow = vmdl__x86_insn_is_shadow,
    .insn_stall = vmdl__x86_insn_stall,
    .code_cs = vmdl__x86_cs,
    .insn_checked = vmdl__x86_insn_align_checked,
    .arm_checks = vmdl__x86_arm_checks,
    .block_watch = vmdl__x86_block_watch,
    .set_block_pc = vmdl__x86_set_block_pc,
    .save_state = vmdl__x86_save_state,
    .load_state = vmdl__x86_load_state,
    .apply_state = vmdl__x86_apply_state,
    .ext_save = vmdl__x86_ckpt_save,
    .ext_stage = vmdl__x86_ckpt_stage,
    .ext_apply = vmdl__x86_ckpt_apply,
    .ext_free = vmdl__x86_ckpt_free,
};
