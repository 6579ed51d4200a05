/* SPDX-License-Identifier: MIT */
/*
 * hostile_cr_ignored: writes whose illegal part the CPU (and KVM) silently
 * ignores instead of faulting:
 *   - CR0 reserved bits in 31:0 (e.g. bit 6, bits 28:19): KVM's kvm_set_cr0()
 *     accepts the write and drops them ("Write to CR0 reserved bits are
 *     ignored, even on Intel"); CR0 then reads back without them;
 *   - EFER.LMA is read-only: a WRMSR that clears it (with LME unchanged) is
 *     accepted and LMA keeps its value (KVM's set_efer() takes LMA from the
 *     current EFER, SDM: LMA is read-only).
 * Exit 0 when no write faulted and no ignored bit stuck.
 * Run: virtmodel-run hostile_cr_ignored.elf --models none
 */
#include "hostile_try.h"

#define MSR_EFER 0xC0000080u
#define EFER_LMA (1ull << 10)

int main(void)
{
    hx_init();
    const uint64_t cr0 = read_cr0();
    const uint64_t efer = rdmsr(MSR_EFER);

    int vec = HX_TRY("mov %0, %%cr0", , "r"(cr0 | (1ull << 6)));
    EXPECT_VEC(vec, HX_NONE, "CR0 bit 6 (reserved, ignored)");
    CHECK(read_cr0() == cr0, "CR0 reads 0x%lx after writing reserved bit 6, want 0x%lx",
          read_cr0(), cr0);
    vec = HX_TRY("mov %0, %%cr0", , "r"(cr0 | (0x1FFull << 19)));
    EXPECT_VEC(vec, HX_NONE, "CR0 bits 27:19 (reserved, ignored)");
    CHECK(read_cr0() == cr0, "CR0 reads 0x%lx after writing reserved bits 27:19, want 0x%lx",
          read_cr0(), cr0);

    EXPECT_VEC(wrmsr_safe(MSR_EFER, efer & ~EFER_LMA) ? 13 : HX_NONE, HX_NONE,
               "EFER write with LMA clear (read-only bit, ignored)");
    CHECK(rdmsr(MSR_EFER) == efer, "EFER reads 0x%lx after a write clearing LMA, want 0x%lx",
          rdmsr(MSR_EFER), efer);

    rt_printf("hostile_cr_ignored: %s\n",
              rt_failures ? "FAILED" : "ignored bits dropped without a fault");
    return 0;
}
