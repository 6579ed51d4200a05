/* SPDX-License-Identifier: MIT */
/*
 * The x86-64 vCPU over Unicorn.
 *
 * The guest believes it runs at CPL0; underneath it runs at CPL3 with IOPL 3
 * so that every privileged instruction (RDMSR, WRMSR, HLT, MOV CR, LIDT,
 * ...) raises #GP and reaches us, while CLI/STI/POPF/IRETQ run natively and
 * keep RFLAGS.IF exact.  Unicorn never delivers exceptions through the guest
 * IDT, so this file does: it builds the interrupt frame on the guest stack
 * and jumps to the gate's handler, exactly as the CPU would.  See
 * docs/architecture.md for the whole picture and DESIGN.md's measured facts.
 */
#include <stdlib.h>
#include <string.h>

#include "machine_internal.h"
#include "virtmodel/bits.h"
#include "virtmodel/error.h"

/* A private page range outside the guest's 4 GiB: GDT, entry stubs, stack. */
#define HIDDEN_BASE 0x7FFFFFF00000ull
#define HIDDEN_SIZE 0x10000ull
#define HIDDEN_GDT (HIDDEN_BASE + 0x0)
#define HIDDEN_IRETQ (HIDDEN_BASE + 0x100)
#define HIDDEN_HLT (HIDDEN_BASE + 0x110)
#define HIDDEN_STACK (HIDDEN_BASE + 0x8000)
#define SEL_USER_CS 0x1B
#define SEL_USER_SS 0x23
#define RFLAGS_IF (1ull << 9)
#define RFLAGS_DF (1ull << 10)
#define RFLAGS_FIXED 0x3002ull /* bit 1 and IOPL 3 */
#define VCPU_STACK_STRIDE 0x10000ull

/* Virtual control-register reset values: long mode with paging, as the
 * harness presents it (first 4 GiB identity-mapped). */
#define CR0_RESET 0x80000011ull /* PG | ET | PE */
#define CR4_RESET 0x00000020ull /* PAE */
#define EFER_RESET 0x00000500ull /* LMA | LME */
/* PE MP EM TS ET NE WP AM NW CD PG */
#define CR0_DEFINED_BITS 0xE005003Full

#define MSR_IA32_TSC 0x10
#define MSR_IA32_EFER 0xC0000080
#define MSR_IA32_FS_BASE 0xC0000100
#define MSR_IA32_GS_BASE 0xC0000101
#define MSR_IA32_KERNEL_GS_BASE 0xC0000102

static const int gpr_uc[16] = {
    UC_X86_REG_RAX, UC_X86_REG_RCX, UC_X86_REG_RDX, UC_X86_REG_RBX,
    UC_X86_REG_RSP, UC_X86_REG_RBP, UC_X86_REG_RSI, UC_X86_REG_RDI,
    UC_X86_REG_R8, UC_X86_REG_R9, UC_X86_REG_R10, UC_X86_REG_R11,
    UC_X86_REG_R12, UC_X86_REG_R13, UC_X86_REG_R14, UC_X86_REG_R15,
};

int vmdl__x86_reg(enum vmdl_reg r)
{
    if (r >= VMDL_X86_RAX && r <= VMDL_X86_R15)
        return gpr_uc[r - VMDL_X86_RAX];
    if (r == VMDL_X86_RIP)
        return UC_X86_REG_RIP;
    if (r == VMDL_X86_RFLAGS)
        return UC_X86_REG_RFLAGS;
    return -1;
}

static uint64_t rd(struct vmdl_vcpu *v, int ucreg)
{
    uint64_t x = 0;
    uc_reg_read(v->uc, ucreg, &x);
    return x;
}

static void wr(struct vmdl_vcpu *v, int ucreg, uint64_t x)
{
    uc_reg_write(v->uc, ucreg, &x);
}

/* ---------------- exception delivery through the guest IDT ------------- */

static int push_frame(struct vmdl_vcpu *v, uint64_t *rsp, uint64_t val)
{
    *rsp -= 8;
    void *p = vmdl_vm_ram_ptr(v->vm, *rsp, 8);
    if (!p)
        return -1;
    memcpy(p, &val, 8);
    return 0;
}

static bool has_error_code(unsigned vector)
{
    return vector == 8 || (vector >= 10 && vector <= 14) || vector == 17 ||
           vector == 21 || vector == 29 || vector == 30;
}

/* Deliver one event; returns 0, or -1 when the IDT or stack cannot take it. */
static int deliver_once(struct vmdl_vcpu *v, unsigned vector, bool has_err,
                        uint64_t err, uint64_t return_rip, unsigned *fail_vec,
                        uint64_t *fail_err)
{
    uint8_t gate[16];
    if ((uint64_t)vector * 16 + 15 > v->idtr_limit ||
        vmdl_guest_read(&v->vm->mem, v->idtr_base + vector * 16, gate, 16)) {
        *fail_vec = 13;
        *fail_err = vector * 8 + 2; /* IDT bit set in the error code */
        return -1;
    }
    uint8_t type_attr = gate[5];
    unsigned type = type_attr & 0xF;
    if (!(type_attr & 0x80) || (type != 0xE && type != 0xF)) {
        *fail_vec = (type_attr & 0x80) ? 13 : 11; /* #GP or #NP */
        *fail_err = vector * 8 + 2;
        return -1;
    }
    uint64_t handler = (uint64_t)gate[0] | (uint64_t)gate[1] << 8 |
                       (uint64_t)gate[6] << 16 | (uint64_t)gate[7] << 24 |
                       (uint64_t)gate[8] << 32 | (uint64_t)gate[9] << 40 |
                       (uint64_t)gate[10] << 48 | (uint64_t)gate[11] << 56;
    uint64_t rflags = rd(v, UC_X86_REG_RFLAGS);
    uint64_t old_rsp = rd(v, UC_X86_REG_RSP);
    uint64_t rsp = old_rsp & ~0xFull; /* 64-bit mode aligns the frame */
    if (push_frame(v, &rsp, SEL_USER_SS) || push_frame(v, &rsp, old_rsp) ||
        push_frame(v, &rsp, rflags) || push_frame(v, &rsp, SEL_USER_CS) ||
        push_frame(v, &rsp, return_rip) || (has_err && push_frame(v, &rsp, err))) {
        *fail_vec = 8;
        *fail_err = 0;
        return -1;
    }
    rflags &= ~((1ull << 8) | (1ull << 14) | (1ull << 16) | (1ull << 17));
    if (type == 0xE)
        rflags &= ~RFLAGS_IF;
    wr(v, UC_X86_REG_RSP, rsp);
    wr(v, UC_X86_REG_RFLAGS, rflags | RFLAGS_FIXED);
    wr(v, UC_X86_REG_RIP, handler);
    v->halted = false;
    return 0;
}

/*
 * Deliver an event with the architecture's escalation: a fault while
 * delivering becomes #DF, a fault while delivering #DF is a triple fault
 * (returns VMDL_ESTATE and the caller ends the run with a fault-loop exit).
 */
int vmdl__x86_deliver(struct vmdl_vcpu *v, unsigned vector, bool has_err,
                      uint64_t err, uint64_t return_rip)
{
    unsigned fv;
    uint64_t fe;
    if (!deliver_once(v, vector, has_err, err, return_rip, &fv, &fe))
        return VMDL_OK;
    if (vector != 8 &&
        !deliver_once(v, 8, true, 0, return_rip, &fv, &fe))
        return VMDL_OK;
    return vmdl_fail(VMDL_ESTATE, "triple fault: vector %u could not be "
                     "delivered (IDT base 0x%llx limit 0x%x, RSP 0x%llx)",
                     vector, (unsigned long long)v->idtr_base, v->idtr_limit,
                     (unsigned long long)rd(v, UC_X86_REG_RSP));
}

/* ---------------- the QEMU exception-state fix (DESIGN.md fact 3) ------ */

static void clear_exception_state(struct vmdl_vcpu *v)
{
    int off = v->vm->x86_exc_offset;
    if (off < 0)
        return;
    uc_context_save(v->uc, v->ctx);
    int32_t none = -1;
    memcpy((char *)v->ctx + off, &none, sizeof(none));
    uc_context_restore(v->uc, v->ctx);
}

/* ---------------- hooks ---------------- */

static void set_stop(struct vmdl_vcpu *v, enum stop_kind k)
{
    if (v->stop == STOP_NONE)
        v->stop = k;
    uc_emu_stop(v->uc);
}

static void intr_cb(uc_engine *uc, uint32_t intno, void *user)
{
    (void)uc;
    struct vmdl_vcpu *v = user;
    v->exc_dirty = true;
    if (v->stop != STOP_NONE && v->stop != STOP_KICK) {
        uc_emu_stop(v->uc);
        return;
    }
    v->stop = STOP_NONE;
    v->stop_vector = intno;
    set_stop(v, STOP_INTR);
}

/*
 * Hooks are not precise in Unicorn 2.0.1: inside an IN/OUT or unmapped-
 * memory hook the general registers are current but RIP still holds the
 * start of the translation block, and after uc_emu_stop() in an I/O hook the
 * rest of the block still runs.  So an exit that must be precise saves the
 * registers in the hook, lets the block's tail run with its device effects
 * suppressed ("tail mode": v->stop already set), restores the registers and
 * finds the instruction by decoding forward from the stale RIP.
 */
static bool in_tail(struct vmdl_vcpu *v)
{
    return v->stop != STOP_NONE && v->stop != STOP_KICK;
}

static bool invalid_cb(uc_engine *uc, void *user)
{
    (void)uc;
    struct vmdl_vcpu *v = user;
    if (v->stop == STOP_NONE || v->stop == STOP_KICK)
        v->stop = STOP_INVALID;
    return true; /* stop: RIP stays at the instruction */
}

static int cpuid_cb(uc_engine *uc, void *user)
{
    (void)uc;
    struct vmdl_vcpu *v = user;
    uint32_t leaf = (uint32_t)rd(v, UC_X86_REG_RAX);
    uint32_t sub = (uint32_t)rd(v, UC_X86_REG_RCX);
    struct vmdl_cpuid_entry e;
    if (vmdl_vm_get_cpuid(v->vm, leaf, sub, &e)) {
        /* Out-of-range leaves return the highest basic leaf's data on
         * Intel; zeros are what KVM returns for absent leaves it knows. */
        memset(&e, 0, sizeof(e));
    }
    if (leaf == 1) {
        /* Initial APIC ID in EBX[31:24]. */
        e.ebx = (e.ebx & 0x00FFFFFFu) | (v->index << 24);
    } else if (leaf == 0xB || leaf == 0x1F) {
        /* x2APIC ID of this vCPU in EDX (topology leaves). */
        e.edx = v->index;
    }
    wr(v, UC_X86_REG_RAX, e.eax);
    wr(v, UC_X86_REG_RBX, e.ebx);
    wr(v, UC_X86_REG_RCX, e.ecx);
    wr(v, UC_X86_REG_RDX, e.edx);
    return 1; /* skip Unicorn's own CPUID */
}

static uint32_t size_mask(int size)
{
    return size >= 4 ? 0xFFFFFFFFu : (1u << (8 * size)) - 1;
}

static void io_exit(struct vmdl_vcpu *v, uint16_t port, int size, bool is_write,
                    uint32_t value)
{
    memset(&v->exit, 0, sizeof(v->exit));
    v->exit.reason = VMDL_EXIT_IO;
    v->exit.u.io.port = port;
    v->exit.u.io.size = (uint8_t)size;
    v->exit.u.io.is_write = is_write;
    v->exit.u.io.data = value;
    v->pending = is_write ? PENDING_IO_OUT : PENDING_IO_IN;
    v->pending_size = (uint8_t)size;
    uc_context_save(v->uc, v->io_ctx);
    set_stop(v, STOP_IO_EXIT);
}

static uint32_t in_cb(uc_engine *uc, uint32_t port, int size, void *user)
{
    (void)uc;
    struct vmdl_vcpu *v = user;
    struct vmdl_vm *vm = v->vm;
    if (in_tail(v))
        return 0;
    if (port >= VMDL_X86_COM1_PORT && port <= VMDL_X86_COM1_PORT + 7) {
        switch (port - VMDL_X86_COM1_PORT) {
        case 5: return 0x60;  /* LSR: transmitter empty, holding reg empty */
        case 2: return 0x01;  /* IIR: no interrupt pending */
        default: return 0;
        }
    }
    struct io_range *r = vmdl__find_io(vm, (uint16_t)port);
    if (r && r->ops->read) {
        uint32_t val = 0;
        vmdl_fault f = r->ops->read(r->opaque, v, (uint16_t)port, (unsigned)size, &val);
        if (f == VMDL_FAULT_NONE)
            return val & size_mask(size);
    }
    if (port == 0x80 || port == 0x64 || port == VMDL_X86_DEBUG_EXIT_PORT)
        return port == 0x64 ? 0 : size_mask(size);
    io_exit(v, (uint16_t)port, size, false, 0);
    return 0;
}

static void out_cb(uc_engine *uc, uint32_t port, int size, uint32_t value,
                   void *user)
{
    (void)uc;
    struct vmdl_vcpu *v = user;
    struct vmdl_vm *vm = v->vm;
    if (in_tail(v))
        return;
    value &= size_mask(size);
    if (port == VMDL_X86_COM1_PORT) {
        char c = (char)value;
        vmdl__console(vm, &c, 1);
        return;
    }
    if (port > VMDL_X86_COM1_PORT && port <= VMDL_X86_COM1_PORT + 7)
        return; /* UART configuration: accepted and ignored */
    if (port == VMDL_X86_DEBUG_EXIT_PORT) {
        v->stop_status = (int)((value << 1) | 1);
        set_stop(v, STOP_SHUTDOWN);
        return;
    }
    if (port == 0x604 && size == 2 && (value & 0x2000)) {
        v->stop_status = 0; /* ACPI PM1a: SLP_EN, QEMU's power-off */
        set_stop(v, STOP_SHUTDOWN);
        return;
    }
    if ((port == 0xCF9 && (value & 0x04)) || (port == 0x64 && value == 0xFE)) {
        set_stop(v, STOP_RESET);
        return;
    }
    struct io_range *r = vmdl__find_io(vm, (uint16_t)port);
    if (r && r->ops->write &&
        r->ops->write(r->opaque, v, (uint16_t)port, (unsigned)size, value) ==
            VMDL_FAULT_NONE)
        return;
    if (port == 0x80 || port == 0xCF9 || port == 0x604)
        return;
    io_exit(v, (uint16_t)port, size, true, value);
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

/* Enter ring 3 at rip through an IRETQ frame (DESIGN.md fact 2). */
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
    struct vmdl_vm *vm = v->vm;
    size_t size = uc_context_size(v->uc);
    char *before = malloc(size), *after = malloc(size);
    if (!before || !after) {
        free(before);
        free(after);
        return vmdl_fail(VMDL_ENOMEM, "x86 vCPU: out of memory");
    }
    uc_context_save(v->uc, v->ctx);
    memcpy(before, v->ctx, size);
    v->stop = STOP_NONE;
    uc_emu_start(v->uc, HIDDEN_HLT, 0, 0, 0);
    bool trapped = v->stop == STOP_INTR && v->stop_vector == 13;
    uc_context_save(v->uc, v->ctx);
    memcpy(after, v->ctx, size);
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
    vm->x86_exc_offset = found;
    clear_exception_state(v);
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
    v->stop_rip_exact = true;
    return false;
}

int vmdl__x86_vcpu_init(struct vmdl_vcpu *v)
{
    struct vmdl_vm *vm = v->vm;
    int err = uc_check(uc_open(UC_ARCH_X86, UC_MODE_64, &v->uc), "uc_open");
    if (err)
        return err;
    err = uc_check(uc_mem_map_ptr(v->uc, vm->ram_base, vm->ram_size, UC_PROT_ALL,
                                  vm->ram), "mapping guest RAM");
    if (err)
        return err;
    if ((err = setup_hidden(v)))
        return err;
    if ((err = uc_check(uc_ctl_tlb_mode(v->uc, UC_TLB_VIRTUAL), "uc_ctl_tlb_mode")))
        return err;
    if ((err = uc_check(uc_context_alloc(v->uc, &v->ctx), "uc_context_alloc")))
        return err;
    if ((err = uc_check(uc_context_alloc(v->uc, &v->io_ctx), "uc_context_alloc")))
        return err;
    struct {
        int type;
        void *cb;
        int insn;
    } hooks[] = {
        {UC_HOOK_INTR, (void *)intr_cb, 0},
        {UC_HOOK_INSN_INVALID, (void *)invalid_cb, 0},
        {UC_HOOK_INSN, (void *)cpuid_cb, UC_X86_INS_CPUID},
        {UC_HOOK_INSN, (void *)in_cb, UC_X86_INS_IN},
        {UC_HOOK_INSN, (void *)out_cb, UC_X86_INS_OUT},
        {UC_HOOK_MEM_UNMAPPED, (void *)vmdl__unmapped_cb, 0},
        {UC_HOOK_TLB_FILL, (void *)tlb_fill_cb, 0},
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
    if ((err = enter_ring3(v, HIDDEN_HLT, HIDDEN_STACK - 0x1000)))
        return err;
    return calibrate_exception_state(v);
}

int vmdl__x86_vcpu_reset(struct vmdl_vcpu *v, uint64_t entry)
{
    struct vmdl_vm *vm = v->vm;
    for (unsigned i = 0; i < 16; i++)
        wr(v, gpr_uc[i], 0);
    uint64_t stack = vm->ram_base + vm->ram_size - v->index * VCPU_STACK_STRIDE - 16;
    wr(v, UC_X86_REG_RDI, v->index);
    wr(v, UC_X86_REG_RIP, entry);
    wr(v, UC_X86_REG_RSP, stack);
    wr(v, UC_X86_REG_RFLAGS, RFLAGS_FIXED);
    v->cr0 = CR0_RESET;
    v->cr2 = v->cr3 = v->cr8 = 0;
    v->cr4 = CR4_RESET;
    v->efer = EFER_RESET;
    v->xcr0 = 1;
    v->idtr_base = v->gdtr_base = v->kernel_gs_base = 0;
    v->idtr_limit = 0;
    v->gdtr_limit = 0xFFFF;
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
    v->tsc_offset = 0;
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
    vmdl__x86_vcpu_reset(v, (uint64_t)vector << 12);
    v->wait_for_sipi = false;
    return VMDL_OK;
}

/* ---------------- operand helpers ---------------- */

/* Map a Capstone register to (GPR index, size in bytes, high-byte). */
static bool cs_gpr(csh cs, unsigned reg, int *idx, int *size, bool *high)
{
    static const char *const n64[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp",
                                        "rsi", "rdi"};
    const char *name = cs_reg_name(cs, reg);
    if (!name)
        return false;
    *high = false;
    for (int i = 0; i < 8; i++) {
        const char *r = n64[i];
        char e32[4] = {'e', r[1], r[2], 0}, r16[3] = {r[1], r[2], 0};
        if (!strcmp(name, r)) { *idx = i; *size = 8; return true; }
        if (!strcmp(name, e32)) { *idx = i; *size = 4; return true; }
        if (!strcmp(name, r16)) { *idx = i; *size = 2; return true; }
    }
    static const char *const low8[8] = {"al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil"};
    static const char *const high8[4] = {"ah", "ch", "dh", "bh"};
    for (int i = 0; i < 8; i++)
        if (!strcmp(name, low8[i])) { *idx = i; *size = 1; return true; }
    for (int i = 0; i < 4; i++)
        if (!strcmp(name, high8[i])) { *idx = i; *size = 1; *high = true; return true; }
    if (name[0] == 'r' && name[1] >= '0' && name[1] <= '9') {
        int n = atoi(name + 1);
        if (n < 8 || n > 15)
            return false;
        const char *suffix = name + (n >= 10 ? 3 : 2);
        *idx = n;
        *size = !*suffix ? 8 : *suffix == 'd' ? 4 : *suffix == 'w' ? 2 : 1;
        return true;
    }
    return false;
}

static void write_gpr_sized(struct vmdl_vcpu *v, int idx, int size, bool high,
                            uint64_t val)
{
    uint64_t old = rd(v, gpr_uc[idx]);
    uint64_t nv;
    switch (size) {
    case 8: nv = val; break;
    case 4: nv = (uint32_t)val; break; /* 32-bit writes zero-extend */
    case 2: nv = (old & ~0xFFFFull) | (val & 0xFFFF); break;
    default:
        nv = high ? (old & ~0xFF00ull) | ((val & 0xFF) << 8)
                  : (old & ~0xFFull) | (val & 0xFF);
        break;
    }
    wr(v, gpr_uc[idx], nv);
}

static uint64_t seg_base(struct vmdl_vcpu *v, unsigned cs_seg)
{
    if (cs_seg == X86_REG_FS)
        return rd(v, UC_X86_REG_FS_BASE);
    if (cs_seg == X86_REG_GS)
        return rd(v, UC_X86_REG_GS_BASE);
    return 0;
}

static uint64_t reg_value(struct vmdl_vcpu *v, unsigned cs_reg, uint64_t next_rip)
{
    if (cs_reg == X86_REG_INVALID)
        return 0;
    if (cs_reg == X86_REG_RIP)
        return next_rip;
    int idx, size;
    bool high;
    if (!cs_gpr(v->vm->cs, cs_reg, &idx, &size, &high))
        return 0;
    uint64_t x = rd(v, gpr_uc[idx]);
    if (high)
        return (x >> 8) & 0xFF;
    return size == 8 ? x : x & ((1ull << (8 * size)) - 1);
}

uint64_t vmdl__x86_mem_addr(struct vmdl_vcpu *v, const cs_insn *in, const cs_x86_op *op)
{
    uint64_t next = in->address + in->size;
    uint64_t a = seg_base(v, op->mem.segment) + reg_value(v, op->mem.base, next) +
                 reg_value(v, op->mem.index, next) * (uint64_t)op->mem.scale +
                 (uint64_t)op->mem.disp;
    return a;
}

static void retire(struct vmdl_vcpu *v, unsigned len)
{
    wr(v, UC_X86_REG_RIP, rd(v, UC_X86_REG_RIP) + len);
    v->insns++;
}

/* ---------------- MSRs ---------------- */

/*
 * The guest's TSC is virtual time: retired instructions plus the offset a
 * guest write to IA32_TSC sets.  RDTSC/RDTSCP trap (CR4.TSD is set under
 * the guest) so that runs reproduce; the first read turns on exact
 * instruction counting for good.
 */
static uint64_t guest_tsc(struct vmdl_vcpu *v)
{
    if (!v->tsc_observed) {
        v->tsc_observed = true;
        vmdl_vcpu_need_insn_count(v, true);
    }
    return v->insns + v->tsc_offset;
}

static vmdl_fault builtin_rdmsr(struct vmdl_vcpu *v, uint32_t idx, uint64_t *val)
{
    switch (idx) {
    case MSR_IA32_EFER: *val = v->efer; return VMDL_FAULT_NONE;
    case MSR_IA32_FS_BASE: *val = rd(v, UC_X86_REG_FS_BASE); return VMDL_FAULT_NONE;
    case MSR_IA32_GS_BASE: *val = rd(v, UC_X86_REG_GS_BASE); return VMDL_FAULT_NONE;
    case MSR_IA32_KERNEL_GS_BASE: *val = v->kernel_gs_base; return VMDL_FAULT_NONE;
    case MSR_IA32_TSC: *val = guest_tsc(v); return VMDL_FAULT_NONE;
    default: return VMDL_FAULT_UNCLAIMED;
    }
}

static vmdl_fault builtin_wrmsr(struct vmdl_vcpu *v, uint32_t idx, uint64_t val)
{
    switch (idx) {
    case MSR_IA32_EFER:
        /* SCE, LME, LMA, NXE.  As KVM's set_efer: LMA is read-only (the
         * written bit is replaced by the current one), LME may not change
         * while paging is on, other bits fault. */
        if (val & ~((1ull << 0) | (1ull << 8) | (1ull << 10) | (1ull << 11)))
            return VMDL_FAULT_GP;
        val = (val & ~(1ull << 10)) | (v->efer & (1ull << 10));
        if ((val ^ v->efer) & (1ull << 8))
            return VMDL_FAULT_GP;
        v->efer = val;
        return VMDL_FAULT_NONE;
    case MSR_IA32_TSC:
        v->tsc_offset = val - v->insns;
        (void)guest_tsc(v);
        return VMDL_FAULT_NONE;
    case MSR_IA32_FS_BASE:
    case MSR_IA32_GS_BASE:
    case MSR_IA32_KERNEL_GS_BASE:
        if (!vmdl_is_canonical48(val))
            return VMDL_FAULT_GP;
        if (idx == MSR_IA32_FS_BASE)
            wr(v, UC_X86_REG_FS_BASE, val);
        else if (idx == MSR_IA32_GS_BASE)
            wr(v, UC_X86_REG_GS_BASE, val);
        else
            v->kernel_gs_base = val;
        return VMDL_FAULT_NONE;
    default: return VMDL_FAULT_UNCLAIMED;
    }
}

/* ---------------- privileged-instruction emulation ---------------- */

enum emu_result { EMU_DONE, EMU_TO_CALLER, EMU_NOT_EMULATED, EMU_TRIPLE };

static enum emu_result raise(struct vmdl_vcpu *v, vmdl_fault f, uint64_t rip)
{
    if (f == VMDL_FAULT_NONE)
        return EMU_DONE;
    unsigned vec = f == VMDL_FAULT_UD ? 6 : f == VMDL_FAULT_PF ? 14 : 13;
    if (vmdl__x86_deliver(v, vec, has_error_code(vec), 0, rip))
        return EMU_TRIPLE;
    return EMU_DONE;
}

static enum emu_result emu_msr(struct vmdl_vcpu *v, bool is_write, uint64_t rip,
                               unsigned len)
{
    struct vmdl_vm *vm = v->vm;
    uint32_t idx = (uint32_t)rd(v, UC_X86_REG_RCX);
    uint64_t val = (rd(v, UC_X86_REG_RDX) << 32) | (uint32_t)rd(v, UC_X86_REG_RAX);
    vmdl_fault f = VMDL_FAULT_UNCLAIMED;
    struct msr_range *r = vmdl__find_msr(vm, idx);
    if (r)
        f = is_write ? r->ops->write(r->opaque, v, idx, val)
                     : r->ops->read(r->opaque, v, idx, &val);
    if (f == VMDL_FAULT_UNCLAIMED)
        f = is_write ? builtin_wrmsr(v, idx, val) : builtin_rdmsr(v, idx, &val);
    char out[64];
    if (f == VMDL_FAULT_UNCLAIMED) {
        if (vm->cfg.msr_exits_to_caller) {
            memset(&v->exit, 0, sizeof(v->exit));
            v->exit.reason = is_write ? VMDL_EXIT_MSR_WRITE : VMDL_EXIT_MSR_READ;
            v->exit.pc = rip;
            v->exit.u.msr.index = idx;
            v->exit.u.msr.data = is_write ? val : 0;
            v->pending = is_write ? PENDING_MSR_WRITE : PENDING_MSR_READ;
            v->pending_len = len;
            vmdl__trace_exit(v, is_write ? "wrmsr" : "rdmsr", rip, "to caller");
            return EMU_TO_CALLER;
        }
        f = VMDL_FAULT_GP; /* KVM's default for an MSR nobody handles */
    }
    if (f != VMDL_FAULT_NONE) {
        snprintf(out, sizeof(out), "msr 0x%x: %s", idx, vmdl_fault_name(f));
        vmdl__trace_exit(v, is_write ? "wrmsr" : "rdmsr", rip, out);
        return raise(v, f, rip);
    }
    if (!is_write) {
        wr(v, UC_X86_REG_RAX, (uint32_t)val);
        wr(v, UC_X86_REG_RDX, val >> 32);
    }
    snprintf(out, sizeof(out), "msr 0x%x = 0x%llx", idx, (unsigned long long)val);
    vmdl__trace_exit(v, is_write ? "wrmsr" : "rdmsr", rip, out);
    retire(v, len);
    return EMU_DONE;
}

static bool cpuid_has(struct vmdl_vm *vm, uint32_t leaf, int reg, unsigned bit)
{
    struct vmdl_cpuid_entry e;
    if (vmdl_vm_get_cpuid(vm, leaf, 0, &e))
        return false;
    uint32_t r = reg == 0 ? e.eax : reg == 1 ? e.ebx : reg == 2 ? e.ecx : e.edx;
    return (r >> bit) & 1;
}

/* CR4 bits this vCPU accepts: the architectural ones that its CPUID table
 * advertises (VMXE needs CPUID.1:ECX.VMX, as KVM's kvm_is_valid_cr4). */
static uint64_t cr4_allowed(struct vmdl_vcpu *v)
{
    uint64_t ok = (1u << 0) | (1u << 1) | (1u << 2) | (1u << 3) | (1u << 4) |
                  (1u << 5) | (1u << 6) | (1u << 7) | (1u << 8) | (1u << 9) |
                  (1u << 10) | (1u << 16) | (1u << 18);
    if (cpuid_has(v->vm, 1, 2, 5))
        ok |= 1u << 13; /* VMXE */
    if (cpuid_has(v->vm, 1, 2, 6))
        ok |= 1u << 14; /* SMXE */
    return ok;
}

static enum emu_result emu_mov_cr(struct vmdl_vcpu *v, const cs_insn *in,
                                  uint64_t rip)
{
    const cs_x86 *x = &in->detail->x86;
    if (x->op_count != 2 || x->operands[0].type != X86_OP_REG ||
        x->operands[1].type != X86_OP_REG)
        return EMU_NOT_EMULATED;
    const char *dst = cs_reg_name(v->vm->cs, x->operands[0].reg);
    const char *src = cs_reg_name(v->vm->cs, x->operands[1].reg);
    bool to_cr = dst && !strncmp(dst, "cr", 2);
    const char *crn = to_cr ? dst : src;
    if (!crn || strncmp(crn, "cr", 2))
        return EMU_NOT_EMULATED;
    int n = atoi(crn + 2);
    int idx, size;
    bool high;
    if (!cs_gpr(v->vm->cs, x->operands[to_cr ? 1 : 0].reg, &idx, &size, &high))
        return EMU_NOT_EMULATED;
    char out[64];
    if (!to_cr) {
        uint64_t val;
        enum vmdl_reg map[9] = {VMDL_X86_CR0, 0, VMDL_X86_CR2, VMDL_X86_CR3,
                                VMDL_X86_CR4, 0, 0, 0, VMDL_X86_CR8};
        if (n > 8 || (n != 0 && !map[n]))
            return raise(v, VMDL_FAULT_UD, rip);
        vmdl_vcpu_get_reg(v, map[n], &val);
        wr(v, gpr_uc[idx], val);
        snprintf(out, sizeof(out), "cr%d -> 0x%llx", n, (unsigned long long)val);
        vmdl__trace_exit(v, "mov-cr", rip, out);
        retire(v, in->size);
        return EMU_DONE;
    }
    uint64_t val = rd(v, gpr_uc[idx]);
    vmdl_fault f = VMDL_FAULT_NONE;
    switch (n) {
    case 0:
        /* As KVM's kvm_set_cr0: bits 63:32 fault, reserved bits 31:0 are
         * dropped, ET reads as 1; paging and protection stay on in long
         * mode, and NW without CD faults. */
        if ((val >> 32) || !(val & 1) || !(val & (1ull << 31)) ||
            ((val & (1ull << 29)) && !(val & (1ull << 30))))
            f = VMDL_FAULT_GP;
        else
            v->cr0 = (val & CR0_DEFINED_BITS) | (1u << 4);
        break;
    case 2: v->cr2 = val; break;
    case 3:
        if (val >> 52)
            f = VMDL_FAULT_GP;
        else
            v->cr3 = val; /* recorded: the harness keeps its identity map */
        break;
    case 4:
        if ((val & ~cr4_allowed(v)) || !(val & (1u << 5)))
            f = VMDL_FAULT_GP; /* reserved bit, or clearing PAE in long mode */
        else
            v->cr4 = val;
        break;
    case 8:
        if (val > 15)
            f = VMDL_FAULT_GP;
        else
            vmdl_vcpu_set_reg(v, VMDL_X86_CR8, val);
        break;
    default:
        f = VMDL_FAULT_UD;
        break;
    }
    snprintf(out, sizeof(out), "cr%d <- 0x%llx%s%s", n, (unsigned long long)val,
             f ? " " : "", f ? vmdl_fault_name(f) : "");
    vmdl__trace_exit(v, "mov-cr", rip, out);
    if (f)
        return raise(v, f, rip);
    retire(v, in->size);
    return EMU_DONE;
}

static enum emu_result emu_descriptor_table(struct vmdl_vcpu *v, const cs_insn *in,
                                            uint64_t rip, bool idt)
{
    const cs_x86 *x = &in->detail->x86;
    if (x->op_count != 1 || x->operands[0].type != X86_OP_MEM)
        return EMU_NOT_EMULATED;
    uint64_t addr = vmdl__x86_mem_addr(v, in, &x->operands[0]);
    uint8_t buf[10];
    if (!vmdl_is_canonical48(addr))
        return raise(v, VMDL_FAULT_GP, rip);
    if (vmdl_guest_read(&v->vm->mem, addr, buf, sizeof(buf)))
        return raise(v, VMDL_FAULT_PF, rip);
    uint16_t limit = (uint16_t)(buf[0] | buf[1] << 8);
    uint64_t base = 0;
    memcpy(&base, buf + 2, 8);
    if (idt) {
        v->idtr_base = base;
        v->idtr_limit = limit;
        /* Mirror it so that SIDT (which does not trap at CPL3) reads back
         * what the guest loaded; Unicorn never uses it for delivery. */
        uc_x86_mmr idtr = {0, base, limit, 0};
        uc_reg_write(v->uc, UC_X86_REG_IDTR, &idtr);
    } else {
        v->gdtr_base = base;
        v->gdtr_limit = limit;
    }
    char out[64];
    snprintf(out, sizeof(out), "base 0x%llx limit 0x%x", (unsigned long long)base, limit);
    vmdl__trace_exit(v, idt ? "lidt" : "lgdt", rip, out);
    retire(v, in->size);
    return EMU_DONE;
}

static enum emu_result emu_rdpmc(struct vmdl_vcpu *v, uint64_t rip, unsigned len)
{
    /* RDPMC reads a counter by index: route it to the counter's MSR so that
     * the PMU model answers (AMD: PERF_CTRn of the core extension). */
    uint32_t ecx = (uint32_t)rd(v, UC_X86_REG_RCX);
    uint32_t msr = v->vm->cfg.vendor == VMDL_VENDOR_AMD ? 0xC0010201 + 2 * ecx
                                                        : 0xC1 + ecx;
    if (ecx >= 16)
        return raise(v, VMDL_FAULT_GP, rip);
    struct msr_range *r = vmdl__find_msr(v->vm, msr);
    uint64_t val = 0;
    vmdl_fault f = r ? r->ops->read(r->opaque, v, msr, &val) : VMDL_FAULT_GP;
    if (f != VMDL_FAULT_NONE && v->vm->cfg.vendor == VMDL_VENDOR_AMD && ecx < 4) {
        /* Without the core extension, counters 0-3 are the K7 ones. */
        msr = 0xC0010004 + ecx;
        r = vmdl__find_msr(v->vm, msr);
        f = r ? r->ops->read(r->opaque, v, msr, &val) : VMDL_FAULT_GP;
    }
    if (f == VMDL_FAULT_UNCLAIMED)
        f = VMDL_FAULT_GP;
    if (f)
        return raise(v, f, rip);
    wr(v, UC_X86_REG_RAX, (uint32_t)val);
    wr(v, UC_X86_REG_RDX, val >> 32);
    retire(v, len);
    return EMU_DONE;
}

static enum emu_result emu_gp(struct vmdl_vcpu *v, uint64_t rip)
{
    cs_insn *in = NULL;
    if (vmdl__x86_insn_length(v, rip, NULL, 0, &in) <= 0)
        return EMU_NOT_EMULATED;
    enum emu_result r = EMU_NOT_EMULATED;
    switch (in->id) {
    case X86_INS_RDMSR: r = emu_msr(v, false, rip, in->size); break;
    case X86_INS_WRMSR: r = emu_msr(v, true, rip, in->size); break;
    case X86_INS_RDPMC: r = emu_rdpmc(v, rip, in->size); break;
    case X86_INS_RDTSC:
    case X86_INS_RDTSCP: {
        /* Read before retiring: the TSC does not include this RDTSC. */
        uint64_t tsc = guest_tsc(v);
        wr(v, UC_X86_REG_RAX, (uint32_t)tsc);
        wr(v, UC_X86_REG_RDX, tsc >> 32);
        if (in->id == X86_INS_RDTSCP)
            wr(v, UC_X86_REG_RCX, v->index); /* IA32_TSC_AUX: the vCPU */
        retire(v, in->size);
        r = EMU_DONE;
        break;
    }
    case X86_INS_HLT: {
        struct vmdl_vm *vm = v->vm;
        vmdl__trace_exit(v, "hlt", rip, "halted");
        retire(v, in->size);
        v->halted = true;
        if (vm->irqchip && vm->irqchip->halt)
            vm->irqchip->halt(vm->irqchip_opaque, v);
        r = EMU_DONE;
        break;
    }
    case X86_INS_MOV: r = emu_mov_cr(v, in, rip); break;
    case X86_INS_LIDT: r = emu_descriptor_table(v, in, rip, true); break;
    case X86_INS_LGDT: r = emu_descriptor_table(v, in, rip, false); break;
    case X86_INS_CLTS:
        v->cr0 &= ~(1ull << 3);
        retire(v, in->size);
        r = EMU_DONE;
        break;
    case X86_INS_LMSW: {
        /* LMSW loads CR0[3:0] and cannot clear PE. */
        const cs_x86 *x = &in->detail->x86;
        uint64_t val = 0;
        if (x->operands[0].type == X86_OP_REG)
            val = reg_value(v, x->operands[0].reg, rip + in->size);
        else
            vmdl_guest_read(&v->vm->mem, vmdl__x86_mem_addr(v, in, &x->operands[0]), &val, 2);
        v->cr0 = (v->cr0 & ~0xEull) | (val & 0xF) | (v->cr0 & 1);
        retire(v, in->size);
        r = EMU_DONE;
        break;
    }
    case X86_INS_SWAPGS: {
        uint64_t gs = rd(v, UC_X86_REG_GS_BASE);
        wr(v, UC_X86_REG_GS_BASE, v->kernel_gs_base);
        v->kernel_gs_base = gs;
        retire(v, in->size);
        r = EMU_DONE;
        break;
    }
    case X86_INS_XSETBV: {
        uint32_t ecx = (uint32_t)rd(v, UC_X86_REG_RCX);
        uint64_t val = (rd(v, UC_X86_REG_RDX) << 32) | (uint32_t)rd(v, UC_X86_REG_RAX);
        if (ecx != 0 || !(val & 1) || (val & ~7ull) || ((val & 4) && !(val & 2))) {
            r = raise(v, VMDL_FAULT_GP, rip);
        } else {
            v->xcr0 = val;
            retire(v, in->size);
            r = EMU_DONE;
        }
        break;
    }
    case X86_INS_INVLPG: case X86_INS_INVD: case X86_INS_WBINVD:
    case X86_INS_LTR: case X86_INS_LLDT: case X86_INS_INVPCID:
        /* No TLB, caches or task state to model: retire. */
        vmdl__trace_exit(v, "priv-nop", rip, "retired");
        retire(v, in->size);
        r = EMU_DONE;
        break;
    default:
        break;
    }
    cs_free(in, 1);
    return r;
}

/* Instructions Unicorn leaves unimplemented (#UD) that the architecture has:
 * RDPMC (QEMU does not implement it). */
static enum emu_result emu_unimplemented(struct vmdl_vcpu *v, uint64_t rip)
{
    cs_insn *in = NULL;
    if (vmdl__x86_insn_length(v, rip, NULL, 0, &in) <= 0)
        return EMU_NOT_EMULATED;
    enum emu_result r = EMU_NOT_EMULATED;
    if (in->id == X86_INS_RDPMC)
        r = emu_rdpmc(v, rip, in->size);
    cs_free(in, 1);
    return r;
}

/* ---------------- VMX / SEAM ---------------- */

static enum emu_result emu_special(struct vmdl_vcpu *v, uint64_t rip)
{
    struct vmdl_vm *vm = v->vm;
    struct vmdl_x86_insn insn;
    if (vmdl__x86_decode_special(v, rip, &insn))
        return EMU_NOT_EMULATED;
    bool seam = insn.kind >= VMDL_INSN_SEAMCALL;
    vmdl_x86_insn_fn fn = seam ? vm->seam_fn : vm->vmx_fn;
    void *opaque = seam ? vm->seam_opaque : vm->vmx_opaque;
    if (!fn) {
        memset(&v->exit, 0, sizeof(v->exit));
        v->exit.reason = seam ? VMDL_EXIT_SEAM : VMDL_EXIT_VMX;
        v->exit.pc = rip;
        v->exit.u.insn = insn;
        v->pending = PENDING_INSN;
        v->pending_len = insn.length;
        vmdl__trace_exit(v, seam ? "seam" : "vmx", rip, "to caller");
        return EMU_TO_CALLER;
    }
    vmdl_fault f = fn(opaque, v, &insn);
    char out[48];
    snprintf(out, sizeof(out), "%s", f ? vmdl_fault_name(f) : "done");
    vmdl__trace_exit(v, seam ? "seam" : "vmx", rip, out);
    if (f)
        return raise(v, f, rip);
    retire(v, insn.length);
    return EMU_DONE;
}

/* ---------------- finding the instruction behind a hook ---------------- */

struct locate_want {
    bool io;             /* IN/OUT (else a memory access) */
    bool is_write;
    uint16_t port;
    unsigned size;
    uint64_t addr;       /* memory: the faulting address */
};

static bool insn_matches(struct vmdl_vcpu *v, const cs_insn *in,
                         const struct locate_want *w)
{
    const cs_x86 *x = &in->detail->x86;
    if (w->io) {
        bool is_in = in->id == X86_INS_IN, is_out = in->id == X86_INS_OUT;
        if (!(is_in || is_out) || is_out != w->is_write)
            return false;
        for (unsigned i = 0; i < x->op_count; i++) {
            if (x->operands[i].type == X86_OP_IMM)
                return (uint16_t)x->operands[i].imm == w->port;
        }
        return (uint16_t)rd(v, UC_X86_REG_RDX) == w->port; /* port in DX */
    }
    if (in->id == X86_INS_LEA || in->id == X86_INS_NOP)
        return false;
    /* Implicit stack accesses. */
    uint64_t rsp = rd(v, UC_X86_REG_RSP);
    switch (in->id) {
    /* (Unsigned differences: the stack may wrap around 2^64.) */
    case X86_INS_PUSH: case X86_INS_CALL: case X86_INS_PUSHFQ:
        if (w->addr - (rsp - 8) < 8)
            return true;
        break;
    case X86_INS_POP: case X86_INS_RET: case X86_INS_POPFQ: case X86_INS_IRETQ:
        if (w->addr - rsp < 8u * (in->id == X86_INS_IRETQ ? 5 : 1))
            return true;
        break;
    default:
        break;
    }
    for (unsigned i = 0; i < x->op_count; i++) {
        const cs_x86_op *op = &x->operands[i];
        if (op->type != X86_OP_MEM)
            continue;
        uint64_t ea = vmdl__x86_mem_addr(v, in, op);
        if (w->addr - ea < (uint64_t)(op->size ? op->size : 1))
            return true;
    }
    return false;
}

/* Decode forward from `from` (a stale RIP no later than the instruction)
 * to the first instruction that matches; 0 when none within 64. */
static uint64_t locate_insn(struct vmdl_vcpu *v, uint64_t from,
                            const struct locate_want *w)
{
    uint64_t pc = from;
    for (unsigned n = 0; n < 64; n++) {
        cs_insn *in = NULL;
        int len = vmdl__x86_insn_length(v, pc, NULL, 0, &in);
        if (len <= 0)
            return 0;
        bool ok = insn_matches(v, in, w);
        cs_free(in, 1);
        if (ok)
            return pc;
        pc += (unsigned)len;
    }
    return 0;
}

/* After an I/O exit's tail ran: back to the registers at the IN/OUT. */
static bool rewind_io_exit(struct vmdl_vcpu *v)
{
    uc_context_restore(v->uc, v->io_ctx);
    struct locate_want w = {.io = true, .is_write = v->exit.u.io.is_write,
                            .port = v->exit.u.io.port, .size = v->exit.u.io.size};
    uint64_t at = locate_insn(v, rd(v, UC_X86_REG_RIP), &w);
    if (!at)
        return false;
    wr(v, UC_X86_REG_RIP, at);
    v->pending_len = (unsigned)vmdl__x86_insn_length(v, at, NULL, 0, NULL);
    return true;
}

/* ---------------- MMIO to the caller ---------------- */

/*
 * A fetch from the non-canonical `target` that a branch just jumped to:
 * undo the branch so that the #GP is reported on it, and return its
 * address.  This needs the block layouts of instruction counting (Unicorn
 * does not say where a jump came from), so it is exact whenever counting
 * is on (vmdl_vcpu_need_insn_count, a model that needs time, several vCPUs,
 * an instruction limit); otherwise the fault is reported at the target.
 */
static uint64_t unbranch(struct vmdl_vcpu *v, uint64_t target)
{
    uint64_t at;
    if (!vmdl__count_unretire_branch(v, &at))
        return target;
    cs_insn *in = NULL;
    if (vmdl__x86_insn_length(v, at, NULL, 0, &in) <= 0)
        return target;
    uint64_t rsp = rd(v, UC_X86_REG_RSP);
    bool near = true;
    switch (in->id) {
    case X86_INS_CALL:      /* the return address was pushed */
        near = in->detail->x86.operands[0].type != X86_OP_MEM ||
               in->detail->x86.operands[0].size == 8;
        rsp += 8;
        break;
    case X86_INS_RET:       /* the return address (and imm16) were popped */
        rsp -= 8 + (in->detail->x86.op_count ? (uint64_t)in->detail->x86.operands[0].imm : 0);
        break;
    case X86_INS_JMP:
        near = in->detail->x86.operands[0].type != X86_OP_MEM ||
               in->detail->x86.operands[0].size == 8;
        break;
    default:                /* Jcc, LOOP, JRCXZ: nothing else changed */
        near = cs_insn_group(v->vm->cs, in, CS_GRP_JUMP);
        break;
    }
    cs_free(in, 1);
    if (!near)
        return target;      /* far transfers: not undone */
    wr(v, UC_X86_REG_RSP, rsp);
    wr(v, UC_X86_REG_RIP, at);
    return at;
}

/*
 * String instructions (MOVS, STOS, LODS) touching memory that is neither
 * RAM nor a device: Unicorn stops at the element that faults, with RSI,
 * RDI and RCX already advanced past the elements before it.  Each such
 * element is one MMIO exit (KVM's emulator also goes element by element);
 * completing it advances the pointers and RCX, and with REP the
 * instruction restarts for the rest, which may run natively, exit again
 * or fault (a #PF beyond 4 GiB then shows RDI and RCX at that element).
 */
enum { STRING_NONE, STRING_MOVS, STRING_STOS, STRING_LODS };

static unsigned string_kind(const cs_insn *in)
{
    const cs_x86 *x = &in->detail->x86;
    if (x->prefix[3] == 0x67)   /* 32-bit addressing: not modelled here */
        return STRING_NONE;
    switch (x->opcode[0]) {
    case 0xA4: case 0xA5: return STRING_MOVS;
    case 0xAA: case 0xAB: return STRING_STOS;
    case 0xAC: case 0xAD: return STRING_LODS;
    default: return STRING_NONE;
    }
}

/* Can this element be completed?  Sets pending_string and pending_rep. */
static bool string_element(struct vmdl_vcpu *v, const cs_insn *in, bool is_write)
{
    unsigned kind = string_kind(in);
    if (kind == STRING_NONE || (kind == STRING_LODS && is_write) ||
        (kind == STRING_STOS && !is_write))
        return false;
    if (kind == STRING_MOVS && !is_write &&
        !vmdl_vm_ram_ptr(v->vm, rd(v, UC_X86_REG_RDI), v->exit.u.mmio.size))
        return false;   /* device to device (or to nowhere): not modelled */
    uint8_t rep = in->detail->x86.prefix[0];
    v->pending_string = (uint8_t)kind;
    v->pending_rep = rep == X86_PREFIX_REP || rep == X86_PREFIX_REPNE;
    return true;
}

/* Finish one element; the instruction retires after its last one. */
static void complete_string(struct vmdl_vcpu *v, uint64_t value, bool is_read)
{
    unsigned size = v->exit.u.mmio.size;
    uint64_t step = rd(v, UC_X86_REG_RFLAGS) & RFLAGS_DF ? (uint64_t)-(int64_t)size : size;
    uint64_t rsi = rd(v, UC_X86_REG_RSI), rdi = rd(v, UC_X86_REG_RDI);
    switch (v->pending_string) {
    case STRING_LODS:
        write_gpr_sized(v, 0, (int)size, false, value);
        wr(v, UC_X86_REG_RSI, rsi + step);
        break;
    case STRING_MOVS:
        if (is_read)    /* the destination was checked to be RAM */
            uc_mem_write(v->uc, rdi, &value, size);   /* little-endian host */
        wr(v, UC_X86_REG_RSI, rsi + step);
        wr(v, UC_X86_REG_RDI, rdi + step);
        break;
    default:
        wr(v, UC_X86_REG_RDI, rdi + step);
        break;
    }
    v->pending_string = STRING_NONE;
    if (v->pending_rep) {
        uint64_t rcx = rd(v, UC_X86_REG_RCX) - 1;
        wr(v, UC_X86_REG_RCX, rcx);
        if (rcx)
            return;     /* RIP stays: the next element runs next */
    }
    retire(v, v->pending_len);
}

static enum emu_result mmio_exit(struct vmdl_vcpu *v, uint64_t rip)
{
    bool fetch = v->stop_vector == UC_MEM_FETCH_UNMAPPED;
    bool exact = v->stop_rip_exact;
    v->stop_rip_exact = false;
    if (!fetch && !exact) {
        /* RIP is stale (the block's start): find the access itself. */
        struct locate_want w = {.addr = v->exit.u.mmio.addr};
        uint64_t at = locate_insn(v, rip, &w);
        if (!at)
            return EMU_NOT_EMULATED;
        rip = at;
        wr(v, UC_X86_REG_RIP, at);
    }
    uint64_t addr = fetch ? rip : v->exit.u.mmio.addr;
    if (!vmdl_is_canonical48(addr)) {
        /* A non-canonical address is #GP(0), not a page fault.  For a
         * branch to one, the CPU faults on the branch itself (SDM JMP/CALL/
         * RET: "IF tempRIP is not canonical THEN #GP(0)" before RIP is
         * loaded); Unicorn reports the fetch at the target. */
        if (fetch)
            rip = unbranch(v, rip);
        if (vmdl__x86_deliver(v, 13, true, 0, rip))
            return EMU_TRIPLE;
        vmdl__trace_exit(v, "noncanonical", rip, "#GP(0)");
        return EMU_DONE;
    }
    if (addr >= (1ull << 32)) {
        /* Beyond the identity-mapped 4 GiB nothing is mapped: #PF, with
         * CR2 and the error code's W/R and I/D bits as the CPU reports. */
        v->cr2 = addr;
        uint64_t ec = (v->exit.u.mmio.is_write ? 2 : 0) | (fetch ? 16 : 0);
        if (vmdl__x86_deliver(v, 14, true, ec, rip))
            return EMU_TRIPLE;
        vmdl__trace_exit(v, "page-fault", rip, "#PF");
        return EMU_DONE;
    }
    if (fetch)
        return EMU_NOT_EMULATED;
    v->exit.reason = VMDL_EXIT_MMIO;
    v->exit.pc = rip;
    cs_insn *in = NULL;
    int len = vmdl__x86_insn_length(v, rip, NULL, 0, &in);
    if (len <= 0)
        return EMU_NOT_EMULATED;
    v->pending_len = (unsigned)len;
    v->pending = v->exit.u.mmio.is_write ? PENDING_MMIO_WRITE : PENDING_MMIO_READ;
    v->pending_reg = 0xFF;
    v->pending_string = STRING_NONE;
    if (string_kind(in) != STRING_NONE) {
        if (!string_element(v, in, v->exit.u.mmio.is_write)) {
            cs_free(in, 1);
            v->pending = PENDING_NONE;
            return EMU_NOT_EMULATED;
        }
    } else if (!v->exit.u.mmio.is_write) {
        /* Only plain loads into a register can be completed later. */
        const cs_x86 *x = &in->detail->x86;
        int idx, size;
        bool high;
        if ((in->id == X86_INS_MOV || in->id == X86_INS_MOVZX ||
             in->id == X86_INS_MOVSX || in->id == X86_INS_MOVSXD) &&
            x->op_count == 2 && x->operands[0].type == X86_OP_REG &&
            cs_gpr(v->vm->cs, x->operands[0].reg, &idx, &size, &high) && !high) {
            v->pending_reg = (uint8_t)idx;
            v->pending_size = (uint8_t)size;
            v->exit.u.mmio.data = in->id == X86_INS_MOVSX || in->id == X86_INS_MOVSXD;
        } else {
            cs_free(in, 1);
            v->pending = PENDING_NONE;
            return EMU_NOT_EMULATED;
        }
    }
    cs_free(in, 1);
    vmdl__trace_exit(v, "mmio", rip, "to caller");
    return EMU_TO_CALLER;
}

int vmdl__x86_complete(struct vmdl_vcpu *v, uint64_t value, vmdl_fault fault)
{
    enum pending_kind p = v->pending;
    uint64_t rip = rd(v, UC_X86_REG_RIP);
    v->pending = PENDING_NONE;
    if (fault != VMDL_FAULT_NONE) {
        if (raise(v, fault, rip) == EMU_TRIPLE)
            return vmdl_fail(VMDL_ESTATE, "%s", vmdl_last_error());
        return VMDL_OK;
    }
    switch (p) {
    case PENDING_MSR_READ:
        wr(v, UC_X86_REG_RAX, (uint32_t)value);
        wr(v, UC_X86_REG_RDX, value >> 32);
        retire(v, v->pending_len);
        break;
    case PENDING_MMIO_WRITE:
        if (v->pending_string)
            complete_string(v, value, false);
        else
            retire(v, v->pending_len);
        break;
    case PENDING_MSR_WRITE:
    case PENDING_INSN:
        retire(v, v->pending_len);
        break;
    case PENDING_IO_IN:
        /* The IN has not executed (rewound): it retires with the value. */
        write_gpr_sized(v, 0, v->pending_size, false, value);
        retire(v, v->pending_len);
        break;
    case PENDING_IO_OUT:
        retire(v, v->pending_len);
        break;
    case PENDING_MMIO_READ: {
        unsigned sz = v->exit.u.mmio.size;
        uint64_t val = sz >= 8 ? value : value & ((1ull << (8 * sz)) - 1);
        if (v->pending_string) {
            complete_string(v, val, true);
            break;
        }
        if (v->exit.u.mmio.data) /* sign-extending load */
            val = vmdl_sign_extend(val, 8 * sz);
        write_gpr_sized(v, v->pending_reg, v->pending_size, false, val);
        retire(v, v->pending_len);
        break;
    }
    default:
        return vmdl_fail(VMDL_ESTATE, "vmdl_vcpu_complete: nothing to complete");
    }
    return VMDL_OK;
}

/* ---------------- interrupt injection ---------------- */

/* Deliver what is pending and allowed; true when something was delivered. */
static int inject_pending(struct vmdl_vcpu *v, bool *triple)
{
    struct vmdl_vm *vm = v->vm;
    uint64_t rip = rd(v, UC_X86_REG_RIP);
    if (!v->nmi_pending && vm->irqchip && vm->irqchip->take_nmi &&
        vm->irqchip->take_nmi(vm->irqchip_opaque, v))
        v->nmi_pending = true;
    if (v->nmi_pending) {
        v->nmi_pending = false;
        if (vmdl__x86_deliver(v, 2, false, 0, rip))
            *triple = true;
        vmdl__trace_exit(v, "nmi", rip, "delivered vector 2");
        return 1;
    }
    v->irq_window = false;
    if (!(rd(v, UC_X86_REG_RFLAGS) & RFLAGS_IF)) {
        /* Something pending waits for STI/POPF/IRETQ, which run natively:
         * the block hook watches IF until it opens (an interrupt window). */
        v->irq_window = v->queued_irq >= 0 ||
                        (vm->irqchip && vm->irqchip->pending &&
                         vm->irqchip->pending(vm->irqchip_opaque, v) >= 0);
        return 0;
    }
    if (vmdl__last_insn_was_shadow(v, rip))
        return -1; /* STI / MOV SS shadow: one more instruction first */
    int vec = v->queued_irq;
    bool from_chip = false;
    if (vec < 0 && vm->irqchip && vm->irqchip->pending) {
        vec = vm->irqchip->pending(vm->irqchip_opaque, v);
        from_chip = vec >= 0;
    }
    if (vec < 0)
        return 0;
    if (from_chip && vm->irqchip->ack)
        vm->irqchip->ack(vm->irqchip_opaque, v, vec);
    else
        v->queued_irq = -1;
    if (vmdl__x86_deliver(v, (unsigned)vec, false, 0, rip))
        *triple = true;
    char out[32];
    snprintf(out, sizeof(out), "delivered vector %d", vec);
    vmdl__trace_exit(v, "interrupt", rip, out);
    return 1;
}

/* ---------------- run ---------------- */

static void fault_loop_exit(struct vmdl_vcpu *v, struct vmdl_exit *exit, uint64_t rip)
{
    memset(exit, 0, sizeof(*exit));
    exit->reason = VMDL_EXIT_FAULT_LOOP;
    exit->pc = rip;
    snprintf(exit->u.internal.message, sizeof(exit->u.internal.message), "%s",
             vmdl_last_error());
    (void)v;
}

static void internal_exit(struct vmdl_exit *exit, uint64_t rip, const char *fmt,
                          const char *arg, uint64_t a2)
{
    memset(exit, 0, sizeof(*exit));
    exit->reason = VMDL_EXIT_INTERNAL_ERROR;
    exit->pc = rip;
    snprintf(exit->u.internal.message, sizeof(exit->u.internal.message), fmt,
             arg, (unsigned long long)a2);
}

int vmdl__x86_run(struct vmdl_vcpu *v, struct vmdl_exit *exit, bool *to_caller)
{
    struct vmdl_vm *vm = v->vm;
    bool triple = false;
    v->halted = false;
    int inj = inject_pending(v, &triple);
    uint64_t rip = rd(v, UC_X86_REG_RIP);
    if (triple) {
        fault_loop_exit(v, exit, rip);
        *to_caller = true;
        return VMDL_OK;
    }
    vmdl__count_update_hook(v);
    v->stop = STOP_NONE;
    v->stop_rip_exact = false;
    v->shadow_at = 0;
    v->exc_dirty = false;
    /*
     * In an interrupt shadow, run exactly one instruction first.  Unicorn's
     * instruction count would do it but flushes every translated block each
     * time it is switched on or off, so stop at the next instruction's
     * address instead, unless the instruction is a branch.
     */
    uint64_t until = 0;
    size_t count = 0;
    if (inj < 0) {
        cs_insn *in = NULL;
        int len = vmdl__x86_insn_length(v, rip, NULL, 0, &in);
        bool branch = false;
        for (unsigned g = 0; len > 0 && g < in->detail->groups_count; g++)
            branch |= in->detail->groups[g] == CS_GRP_JUMP ||
                      in->detail->groups[g] == CS_GRP_CALL ||
                      in->detail->groups[g] == CS_GRP_RET ||
                      in->detail->groups[g] == CS_GRP_IRET;
        if (len > 0 && !branch)
            until = rip + (unsigned)len;
        else
            count = 1;
        if (len > 0)
            cs_free(in, 1);
    }
    vmdl__engine_enter(v);
    uc_err e = uc_emu_start(v->uc, rip, until, 0, count);
    vmdl__engine_leave(v);
    if (v->exc_dirty)
        clear_exception_state(v);
    rip = rd(v, UC_X86_REG_RIP);
    vmdl__count_at_stop(v, rip);
    enum emu_result r = EMU_DONE;
    switch (v->stop) {
    case STOP_NONE:
    case STOP_KICK:
        if (e != UC_ERR_OK) {
            internal_exit(exit, rip, "Unicorn stopped: %s (RIP 0x%llx)",
                          uc_strerror(e), rip);
            *to_caller = true;
        }
        return VMDL_OK;
    case STOP_INTR:
        if (v->stop_vector == 13) {
            r = emu_gp(v, rip);
            if (r == EMU_NOT_EMULATED)
                r = raise(v, VMDL_FAULT_GP, rip);
        } else {
            unsigned vec = v->stop_vector;
            if (vec == 3 || vec == 4) {
                /* INT3/INTO are traps: the frame returns after them (QEMU
                 * reports RIP past the instruction already). */
            }
            char out[32];
            snprintf(out, sizeof(out), "vector %u to guest", vec);
            vmdl__trace_exit(v, "exception", rip, out);
            if (vec < 256 && vmdl__x86_deliver(v, vec, has_error_code(vec), 0, rip))
                r = EMU_TRIPLE;
        }
        break;
    case STOP_INVALID:
        r = emu_special(v, rip);
        if (r == EMU_NOT_EMULATED)
            r = emu_unimplemented(v, rip);
        if (r == EMU_NOT_EMULATED) {
            vmdl__trace_exit(v, "invalid", rip, "#UD");
            r = raise(v, VMDL_FAULT_UD, rip);
        }
        break;
    case STOP_IO_EXIT:
        if (!rewind_io_exit(v)) {
            v->pending = PENDING_NONE;
            internal_exit(exit, rip, "%s: could not find the I/O instruction "
                          "in the block at 0x%llx", "port I/O exit", rip);
            *to_caller = true;
            return VMDL_OK;
        }
        rip = rd(v, UC_X86_REG_RIP);
        v->exit.pc = rip;
        *exit = v->exit;
        vmdl__trace_exit(v, "io", rip, "to caller");
        *to_caller = true;
        return VMDL_OK;
    case STOP_MMIO:
        r = mmio_exit(v, rip);
        if (r == EMU_TRIPLE)    /* at the located access or the undone branch */
            rip = rd(v, UC_X86_REG_RIP);
        if (r == EMU_NOT_EMULATED) {
            internal_exit(exit, rip, "%s at 0x%llx that cannot be emulated "
                          "(not RAM, no device, not a plain MOV)",
                          v->stop_vector == UC_MEM_FETCH_UNMAPPED ? "instruction fetch"
                                                                  : "memory access",
                          v->stop_vector == UC_MEM_FETCH_UNMAPPED ? rip
                                                                  : v->exit.u.mmio.addr);
            *to_caller = true;
            return VMDL_OK;
        }
        break;
    case STOP_SHUTDOWN:
        memset(exit, 0, sizeof(*exit));
        exit->reason = VMDL_EXIT_SHUTDOWN;
        exit->pc = rip;
        exit->u.shutdown.status = v->stop_status;
        vmdl__trace_exit(v, "shutdown", rip, "guest powered off");
        *to_caller = true;
        return VMDL_OK;
    case STOP_RESET:
        vmdl__trace_exit(v, "reset", rip, "VM reset");
        if (vmdl_vm_reset(vm))
            return vmdl_fail(VMDL_ESTATE, "%s", vmdl_last_error());
        memset(exit, 0, sizeof(*exit));
        exit->reason = VMDL_EXIT_RESET;
        exit->pc = rip;
        *to_caller = true;
        return VMDL_OK;
    default:
        break;
    }
    if (r == EMU_TRIPLE) {
        fault_loop_exit(v, exit, rip);
        *to_caller = true;
    } else if (r == EMU_TO_CALLER) {
        *exit = v->exit;
        *to_caller = true;
    }
    return VMDL_OK;
}
