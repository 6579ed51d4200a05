/* SPDX-License-Identifier: MIT */
/*
 * The x86 vCPU's engine: the private area (GDT, entry stubs), entry into
 * the deprivileged guest mode, the exception-state fix (docs/unicorn.md fact 3),
 * the Unicorn hooks, reset, and INIT/SIPI.
 */
#include <string.h>

#include "x86.h"
#include "virtmodel/bits.h"
#include "virtmodel/error.h"

#define VCPU_STACK_STRIDE 0x10000ull

/* Virtual control-register reset values: long mode with paging, as the
 * harness presents it (first 4 GiB identity-mapped). */
#define CR0_RESET 0x80000011ull /* PG | ET | PE */
#define CR4_RESET 0x00000020ull /* PAE */
#define EFER_RESET 0x00000500ull /* LMA | LME */

void vmdl__x86_clear_exception_state(struct vmdl_vcpu *v)
{
    int off = X86(v)->exc_offset;
    if (off < 0)
        return;
    uc_context_save(v->uc, X86(v)->ctx);
    int32_t none = -1;
    memcpy((char *)X86(v)->ctx + off, &none, sizeof(none));
    uc_context_restore(v->uc, X86(v)->ctx);
}

/* ---------------- hooks ---------------- */

void vmdl__x86_set_stop(struct vmdl_vcpu *v, enum stop_kind k)
{
    if (v->stop == STOP_NONE)
        v->stop = k;
    uc_emu_stop(v->uc);
}

static void intr_cb(uc_engine *uc, uint32_t intno, void *user)
{
    (void)uc;
    struct vmdl_vcpu *v = user;
    if (X86(v)->io_armed && vmdl__x86_io_stop_hit(v, intno))
        return;                 /* the stop right after an IN/OUT (io.c) */
    if (X86(v)->hosted && vmdl__x86h_intr_hook(v, intno))
        return;
    X86(v)->exc_dirty = true;
    if (v->stop != STOP_NONE && v->stop != STOP_KICK) {
        uc_emu_stop(v->uc);
        return;
    }
    v->stop = STOP_NONE;
    v->stop_vector = intno;
    vmdl__x86_set_stop(v, STOP_INTR);
}

static bool invalid_cb(uc_engine *uc, void *user)
{
    (void)uc;
    struct vmdl_vcpu *v = user;
    if (v->stop == STOP_NONE || v->stop == STOP_KICK)
        v->stop = STOP_INVALID;
    return true; /* stop: RIP stays at the instruction */
}

/* ---------------- engine set-up ---------------- */

static int uc_check(uc_err e, const char *what)
{
    if (e == UC_ERR_OK)
        return VMDL_OK;
    return vmdl_fail(VMDL_EBACKEND, "x86 vCPU: %s failed: %s", what, uc_strerror(e));
}

static int setup_hidden(struct vmdl_vcpu *v)
{
    static const uint64_t gdt[5] = {
        0,
        0x00AF9A000000FFFFull, /* 0x08: 64-bit code, DPL0 */
        0x00CF92000000FFFFull, /* 0x10: data, DPL0 */
        0x00AFFA000000FFFFull, /* 0x18: 64-bit code, DPL3 */
        0x00CFF2000000FFFFull, /* 0x20: data, DPL3 */
    };
    static const uint8_t iretq[] = {0x48, 0xCF};
    static const uint8_t hlt[] = {0xF4};
    int err = uc_check(uc_mem_map(v->uc, HIDDEN_BASE, HIDDEN_SIZE, UC_PROT_ALL),
                       "mapping the private area");
    if (err)
        return err;
    uc_mem_write(v->uc, HIDDEN_GDT, gdt, sizeof(gdt));
    uc_mem_write(v->uc, HIDDEN_IRETQ, iretq, sizeof(iretq));
    uc_mem_write(v->uc, HIDDEN_HLT, hlt, sizeof(hlt));
    uc_x86_mmr gdtr = {0, HIDDEN_GDT, sizeof(gdt) - 1, 0};
    return uc_check(uc_reg_write(v->uc, UC_X86_REG_GDTR, &gdtr), "loading the GDT");
}

/* Enter ring 3 at rip through an IRETQ frame (docs/unicorn.md fact 2). */
static int enter_ring3(struct vmdl_vcpu *v, uint64_t rip, uint64_t rsp)
{
    uint64_t frame[5] = {rip, SEL_USER_CS, RFLAGS_FIXED, rsp, SEL_USER_SS};
    uint64_t sp = HIDDEN_STACK - sizeof(frame);
    uc_mem_write(v->uc, sp, frame, sizeof(frame));
    wr(v, UC_X86_REG_RSP, sp);
    v->stop = STOP_NONE;
    uc_err e = uc_emu_start(v->uc, HIDDEN_IRETQ, rip, 0, 0);
    if (e != UC_ERR_OK || rd(v, UC_X86_REG_RIP) != rip ||
        (rd(v, UC_X86_REG_CS) & 3) != 3)
        return vmdl_fail(VMDL_EBACKEND, "x86 vCPU %u: could not enter the "
                         "deprivileged guest mode (%s)", v->index, uc_strerror(e));
    v->started = true;
    return VMDL_OK;
}

/*
 * Find where QEMU keeps "the exception being delivered" in the saved
 * context: save, raise one #GP (HLT at CPL3), save again; the one int32
 * that went from -1 to 13 is it.  Fails loudly if the layout is not as
 * expected, since every later trap depends on it.
 */
static int calibrate_exception_state(struct vmdl_vcpu *v)
{
    size_t size = uc_context_size(v->uc);
    char *before = malloc(size), *after = malloc(size);
    if (!before || !after) {
        free(before);
        free(after);
        return vmdl_fail(VMDL_ENOMEM, "x86 vCPU: out of memory");
    }
    uc_context_save(v->uc, X86(v)->ctx);
    memcpy(before, X86(v)->ctx, size);
    v->stop = STOP_NONE;
    uc_emu_start(v->uc, HIDDEN_HLT, 0, 0, 0);
    bool trapped = v->stop == STOP_INTR && v->stop_vector == 13;
    uc_context_save(v->uc, X86(v)->ctx);
    memcpy(after, X86(v)->ctx, size);
    int found = -1, count = 0;
    for (size_t off = 0; off + 4 <= size; off += 4) {
        int32_t a, b;
        memcpy(&a, before + off, 4);
        memcpy(&b, after + off, 4);
        if (a == -1 && b == 13) {
            found = (int)off;
            count++;
        }
    }
    free(before);
    free(after);
    v->stop = STOP_NONE;
    if (!trapped || count != 1)
        return vmdl_fail(VMDL_EBACKEND,
                         "x86 start-up self-check failed: HLT at CPL3 %s #GP and "
                         "%d candidate exception-state fields were found (need "
                         "exactly 1); this Unicorn build behaves unlike 2.0.1",
                         trapped ? "raised" : "did not raise", count);
    X86(v)->exc_offset = found;
    vmdl__x86_clear_exception_state(v);
    return VMDL_OK;
}

/*
 * Unicorn >= 2.1 translation hook (UC_TLB_VIRTUAL).  The machine presents a
 * flat long-mode address space: every canonical address translates to the
 * same physical address, RAM or not (unbacked ones then reach the unmapped
 * hook with the full address).  A non-canonical address has no translation:
 * the access is recorded as a stop here, and Unicorn ends uc_emu_start with
 * UC_ERR_EXCEPTION and RIP restored to the faulting instruction.  Without
 * this hook Unicorn 2.1's flat 64-bit mode drops address bits 63:52, so a
 * read of 0x8000000000000000 silently read RAM at 0 (measured).
 */
static bool tlb_fill_cb(uc_engine *uc, uint64_t vaddr, uc_mem_type type,
                        uc_tlb_entry *entry, void *user)
{
    (void)uc;
    struct vmdl_vcpu *v = user;
    if (X86(v)->h_fill_quiet)
        return false;             /* Unicorn's own lookups (hosted_state.c) */
    if (X86(v)->h_walk)
        return vmdl__x86h_walk_fill(v, vaddr, type, entry);
    if (vmdl_is_canonical48(vaddr)) {
        entry->paddr = vaddr;
        entry->perms = UC_PROT_ALL;
        return true;
    }
    if (v->stop != STOP_NONE && v->stop != STOP_KICK)
        return false;
    memset(&v->exit, 0, sizeof(v->exit));
    v->exit.u.mmio.addr = vaddr;
    v->exit.u.mmio.is_write = type == UC_MEM_WRITE;
    v->stop = STOP_MMIO;
    v->stop_vector = type == UC_MEM_FETCH   ? UC_MEM_FETCH_UNMAPPED
                     : type == UC_MEM_WRITE ? UC_MEM_WRITE_UNMAPPED
                                            : UC_MEM_READ_UNMAPPED;
    X86(v)->stop_rip_exact = true;
    return false;
}

/* ---- unassigned physical memory of a hosted (PC) guest ---- */

/*
 * QEMU's pc machine answers an access to physical memory that neither RAM
 * nor a device claims as unassigned memory: reads return 0, writes are
 * dropped (memory.c's unassigned_mem_read/write; with KVM the same reply
 * comes back through QEMU).  A hosted guest touching such an address gets
 * a 4 KiB page with those semantics mapped on the spot, in this vCPU's
 * engine only, and the access is retried.  An instruction fetch there is
 * left to the caller, as before.
 */
#define UNASSIGNED_MAX_PAGES 4096

static uint64_t unassigned_read(uc_engine *uc, uint64_t off, unsigned size, void *user)
{
    (void)uc;
    (void)off;
    (void)size;
    (void)user;
    return 0;
}

static void unassigned_write(uc_engine *uc, uint64_t off, unsigned size, uint64_t value,
                             void *user)
{
    (void)uc;
    (void)off;
    (void)size;
    (void)value;
    (void)user;
}

static bool x86_unmapped_cb(uc_engine *uc, uc_mem_type type, uint64_t addr, int size,
                            int64_t value, void *user)
{
    struct vmdl_vcpu *v = user;
    if (X86(v)->hosted && type != UC_MEM_FETCH_UNMAPPED &&
        (v->stop == STOP_NONE || v->stop == STOP_KICK) &&
        X86(v)->unassigned_pages < UNASSIGNED_MAX_PAGES) {
        /* An access may straddle two pages: map the one that faulted. */
        uint64_t page = addr & ~0xFFFull;
        if (uc_mmio_map(uc, page, 0x1000, unassigned_read, NULL, unassigned_write,
                        NULL) == UC_ERR_OK) {
            X86(v)->unassigned_pages++;
            return true;
        }
    }
    return vmdl__unmapped_cb(uc, type, addr, size, value, user);
}

/* Translated-code buffer per vCPU engine: 8 MiB (see vmdl__x86_vcpu_init). */
#define X86_TCG_BUFFER (8u << 20)

int vmdl__x86_vcpu_init(struct vmdl_vcpu *v)
{
    struct vmdl_vm *vm = v->vm;
    X86(v)->exc_offset = -1;
    int err = uc_check(uc_open(UC_ARCH_X86, UC_MODE_64, &v->uc), "uc_open");
    if (err)
        return err;
    /* Every translation-cache flush clears the whole code buffer (memset),
     * and Unicorn's default is 1 GiB: 80-90% of a hosted guest's time with
     * flushes per event (docs/unicorn.md).  Set before the engine starts. */
    if ((err = uc_check(uc_ctl_set_tcg_buffer_size(v->uc, X86_TCG_BUFFER),
                        "uc_ctl_set_tcg_buffer_size")))
        return err;
    struct vmdl_ram_range ram[VMDL_MAX_RAM_RANGES];
    uint64_t off = 0;
    for (unsigned i = 0, n = vmdl_vm_ram_ranges(vm, ram); !err && i < n; i++) {
        err = uc_check(uc_mem_map_ptr(v->uc, ram[i].gpa, ram[i].size, UC_PROT_ALL,
                                      vm->ram + off), "mapping guest RAM");
        off += ram[i].size;
    }
    if (err)
        return err;
    if ((err = setup_hidden(v)))
        return err;
    if ((err = uc_check(uc_ctl_tlb_mode(v->uc, UC_TLB_VIRTUAL), "uc_ctl_tlb_mode")))
        return err;
    if ((err = uc_check(uc_context_alloc(v->uc, &X86(v)->ctx), "uc_context_alloc")))
        return err;
    if ((err = uc_check(uc_context_alloc(v->uc, &X86(v)->io_ctx), "uc_context_alloc")))
        return err;
    struct {
        int type;
        void *cb;
        int insn;
    } hooks[] = {
        {UC_HOOK_INTR, UC_CB(intr_cb), 0},
        {UC_HOOK_INSN_INVALID, UC_CB(invalid_cb), 0},
        {UC_HOOK_INSN, UC_CB(vmdl__x86_cpuid_cb), UC_X86_INS_CPUID},
        {UC_HOOK_INSN, UC_CB(vmdl__x86_in_cb), UC_X86_INS_IN},
        {UC_HOOK_INSN, UC_CB(vmdl__x86_out_cb), UC_X86_INS_OUT},
        {UC_HOOK_MEM_UNMAPPED, UC_CB(x86_unmapped_cb), 0},
        {UC_HOOK_TLB_FILL, UC_CB(tlb_fill_cb), 0},
    };
    for (unsigned i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++) {
        uc_err e = hooks[i].type == UC_HOOK_INSN
                       ? uc_hook_add(v->uc, &v->hooks[v->nr_hooks], UC_HOOK_INSN,
                                     hooks[i].cb, v, 1, 0, hooks[i].insn)
                       : uc_hook_add(v->uc, &v->hooks[v->nr_hooks], hooks[i].type,
                                     hooks[i].cb, v, 1, 0);
        if ((err = uc_check(e, "uc_hook_add")))
            return err;
        v->nr_hooks++;
    }
    if ((err = vmdl__x86_io_setup(v)))
        return err;
    /* The ring-0 state before deprivileging: where a hosted vCPU's VMRUN
     * stub starts from (hosted_setup.c). */
    if ((err = uc_check(uc_context_alloc(v->uc, &X86(v)->hctx), "uc_context_alloc")))
        return err;
    uc_context_save(v->uc, X86(v)->hctx);
    if ((err = enter_ring3(v, HIDDEN_HLT, HIDDEN_STACK - 0x1000)))
        return err;
    return calibrate_exception_state(v);
}

int vmdl__x86_vcpu_reset(struct vmdl_vcpu *v, uint64_t entry)
{
    struct vmdl_vm *vm = v->vm;
    if (X86(v)->hosted)
        return vmdl__x86h_reset(v, entry);
    for (unsigned i = 0; i < 16; i++)
        wr(v, vmdl__x86_gpr_uc[i], 0);
    /* At the top of the RAM below 4 GiB (all of it unless split). */
    uint64_t stack = vm->ram_base + vm->ram_low - v->index * VCPU_STACK_STRIDE - 16;
    wr(v, UC_X86_REG_RDI, v->index);
    wr(v, UC_X86_REG_RIP, entry);
    wr(v, UC_X86_REG_RSP, stack);
    wr(v, UC_X86_REG_RFLAGS, RFLAGS_FIXED);
    X86(v)->cr0 = CR0_RESET;
    X86(v)->cr2 = X86(v)->cr3 = X86(v)->cr8 = 0;
    X86(v)->cr4 = CR4_RESET;
    X86(v)->efer = EFER_RESET;
    X86(v)->debugctl = 0;
    X86(v)->xcr0 = 1;
    X86(v)->idtr_base = X86(v)->gdtr_base = X86(v)->kernel_gs_base = 0;
    X86(v)->idtr_limit = 0;
    X86(v)->gdtr_limit = 0xFFFF;
    uc_x86_mmr idtr = {0, 0, 0, 0};
    uc_reg_write(v->uc, UC_X86_REG_IDTR, &idtr);
    /* Underneath, CR4.TSD makes RDTSC trap at CPL3 (virtual TSC), and
     * OSFXSR|OSXMMEXCPT keep SSE usable: Unicorn >= 2.1 recomputes its
     * hflags from a CR4 write, and with OSFXSR clear SSE instructions are
     * #UD (2.0.1 let them run whatever CR4 held; measured). */
    uint64_t real_cr4 = 0;
    uc_reg_read(v->uc, UC_X86_REG_CR4, &real_cr4);
    real_cr4 |= (1u << 2) | (1u << 9) | (1u << 10);
    uc_reg_write(v->uc, UC_X86_REG_CR4, &real_cr4);
    X86(v)->tsc_offset = 0;
    v->halted = v->nmi_pending = v->nmi_blocked = false;
    v->queued_irq = -1;
    v->pending = PENDING_NONE;
    v->start_pc = entry;
    v->shadow_at = 0;
    return VMDL_OK;
}

int vmdl_vcpu_x86_init(struct vmdl_vcpu *v)
{
    if (!v || v->vm->arch != VMDL_ARCH_X86_64)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vcpu_x86_init: not an x86 vCPU");
    vmdl__x86_vcpu_reset(v, v->vm->entry);
    /* As KVM: an INIT leaves the BSP runnable (at its start), an AP waits
     * for SIPI. */
    v->wait_for_sipi = v->index != 0;
    return VMDL_OK;
}

int vmdl_vcpu_x86_sipi(struct vmdl_vcpu *v, uint8_t vector)
{
    if (!v || v->vm->arch != VMDL_ARCH_X86_64)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vcpu_x86_sipi: not an x86 vCPU");
    if (!v->wait_for_sipi)
        return VMDL_OK; /* SIPI is ignored unless the CPU waits for it */
    if (X86(v)->hosted)
        vmdl__x86h_sipi(v, vector);   /* real mode at vector:0000 */
    else
        vmdl__x86_vcpu_reset(v, (uint64_t)vector << 12);
    v->wait_for_sipi = false;
    return VMDL_OK;
}

int vmdl_vcpu_x86_set_wait_for_sipi(struct vmdl_vcpu *v, bool wait)
{
    if (!v || v->vm->arch != VMDL_ARCH_X86_64)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vcpu_x86_set_wait_for_sipi: not an x86 vCPU");
    v->wait_for_sipi = wait;
    return VMDL_OK;
}

void vmdl__x86_vcpu_free(struct vmdl_vcpu *v)
{
    if (X86(v)->ctx)
        uc_context_free(X86(v)->ctx);
    if (X86(v)->io_ctx)
        uc_context_free(X86(v)->io_ctx);
    if (X86(v)->hctx)
        uc_context_free(X86(v)->hctx);
    vmdl__x86h_free(v);
}
