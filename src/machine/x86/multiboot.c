/* SPDX-License-Identifier: MIT */
/*
 * Booting a multiboot (v1) kernel as QEMU's -kernel does: the image, its
 * modules and the boot information go into RAM (src/core/multiboot.c), and
 * every vCPU becomes a hosted one (hosted_*.c) so that the bootstrap
 * processor starts in 32-bit protected mode with EAX = 0x2BADB002 and EBX
 * at the information block, and application processors wait for SIPI.
 */
#include <string.h>

#include "virtmodel/error.h"
#include "virtmodel/loader.h"
#include "x86.h"

/* Flat GDT the boot loader leaves behind: null, null, code 0x10, data 0x18
 * (in the reserved BIOS area of the memory map, as QEMU's option ROM). */
#define BOOT_GDT 0xFFF00ull

static int register_ranges(struct vmdl_vm *vm, const struct vmdl_image *img,
                           const struct vmdl_mb_placed *p)
{
    int err = VMDL_OK;
    for (unsigned i = 0; i < img->nr_segments && !err; i++)
        err = vmdl_vm_add_image_range(vm, img->seg[i].paddr, img->seg[i].memsz);
    if (!err)
        err = vmdl_vm_add_image_range(vm, p->used_start, p->used_end - p->used_start);
    if (!err)
        err = vmdl_vm_add_image_range(vm, BOOT_GDT, 32);
    return err;
}

int vmdl_vm_load_multiboot(struct vmdl_vm *vm, const void *data, size_t size,
                           const struct vmdl_mb_boot *boot)
{
    static const uint64_t gdt[4] = { 0, 0, 0x00CF9B000000FFFFull,
                                     0x00CF93000000FFFFull };
    if (!vm || !data)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vm_load_multiboot: NULL argument");
    if (vm->arch != VMDL_ARCH_X86_64 || vm->ram_base != 0)
        return vmdl_fail(VMDL_EINVAL, "multiboot: needs an x86 VM with RAM at 0");
    struct vmdl_image img;
    struct vmdl_mb_placed placed;
    int err = vmdl_multiboot_parse(data, size, &img);
    if (!err)
        err = vmdl_multiboot_place_split(&img, data, size, boot, vm->ram, vm->ram_low,
                                         vm->ram_size - vm->ram_low, &placed);
    if (err)
        return err;
    memcpy(vm->ram + BOOT_GDT, gdt, sizeof(gdt));
    if ((err = register_ranges(vm, &img, &placed)))
        return err;
    for (unsigned i = 0; i < vm->nr_vcpus; i++)
        if (!X86(vm->vcpus[i])->hosted && (err = vmdl__x86h_enable(vm->vcpus[i])))
            return err;
    /* After power-on the APs wait for the BSP's INIT and SIPI (SDM 9.4.3).
     * Their APICs stay out of the INIT-received state, so a SIPI without
     * an INIT first is dropped, as KVM drops it for the uninitialized
     * vCPUs QEMU creates (kvm_apic_accept_events). */
    for (unsigned i = 1; i < vm->nr_vcpus; i++)
        vm->vcpus[i]->wait_for_sipi = true;
    /* Real SMP guests wait for each other in spin loops (kvm-unit-tests'
     * IPI and NMI ping-pongs, on_cpu): with KVM their vCPUs run at once,
     * here they take turns, and a waiting vCPU burns its whole turn.  A
     * short turn keeps them close; it costs nothing while only one vCPU
     * can run (vmdl__next_deadline).  Measured in docs/kvm-unit-tests.md. */
    if (vm->quantum_defaulted)
        vm->cfg.quantum = VMDL_X86_HOSTED_QUANTUM;
    /* A real guest measures time with the TSC against what it expects of
     * hardware (spin-wait loops of PAUSE, benchmarks of trapped
     * operations): unless the caller chose weights, the hardware-like
     * profile (docs/architecture.md, "Virtual time"). */
    if (!vm->cfg.vtime_set) {
        struct vmdl_vtime_weights hw = { VMDL_VTIME_HW_PAUSE_CYCLES,
                                         VMDL_VTIME_HW_EXIT_CYCLES,
                                         VMDL_VTIME_HW_SERIALIZE_CYCLES,
                                         VMDL_VTIME_HW_RDTSC_CYCLES,
                                         VMDL_VTIME_HW_FLUSH_CYCLES };
        if ((err = vmdl_vm_set_vtime_weights(vm, &hw)))
            return err;
    }
    vm->x86h->eax = VMDL_MB_BOOT_MAGIC;
    vm->x86h->ebx = placed.info_addr;
    vm->x86h->gdt_addr = BOOT_GDT;
    if ((err = vmdl__x86_pc_devices(vm)))
        return err;
    /* The hosted vCPU implements RDTSCP (TSC_AUX from the guest's MSR; see
     * emulate_ud in hosted_run.c): advertise it, as KVM does. */
    struct vmdl_cpuid_entry e = { 0 };
    if (!vmdl_vm_get_cpuid(vm, 0x80000001, 0, &e)) {
        e.edx |= 1u << 27;
        vmdl_vm_set_cpuid(vm, &e);
    }
    /* Machine-check architecture (CPUID.1:EDX MCE, MCA): the banks of
     * hosted_msr.c. */
    if (!vmdl_vm_get_cpuid(vm, 1, 0, &e)) {
        e.edx |= (1u << 7) | (1u << 14);
        vmdl_vm_set_cpuid(vm, &e);
    }
    /* ... and RDPID (CPUID.7.0:ECX[22]) and TSC_ADJUST (EBX[1]) */
    if (vmdl_vm_get_cpuid(vm, 7, 0, &e)) {
        memset(&e, 0, sizeof(e));
        e.leaf = 7;
    }
    e.ecx |= 1u << 22;
    e.ebx |= 1u << 1;     /* IA32_TSC_ADJUST (hosted_msr.c) */
    /* LA57: QEMU's page walk inside the engine does 5-level paging; the
     * descriptor-table loads get their canonical checks here
     * (hosted_desc.c), MSR bases in hosted_msr.c. */
    e.ecx |= 1u << 16;
    /* SMAP and PKU: QEMU's page walk in the engine honours CR4.SMAP (with
     * RFLAGS.AC) and CR4.PKE (PKRU, RDPKRU/WRPKRU), which hosted_cr.c keeps
     * in the engine; STAC/CLAC are emulated (hosted_run.c).  OSPKE (ECX[4])
     * follows CR4.PKE (cpuid.c).  PKS (ECX[31]): QEMU 5.0 has none; while
     * CR4.PKS is on the machine walks the guest's tables itself
     * (hosted_walk.c) and IA32_PKRS is hosted_msr.c's. */
    e.ebx |= 1u << 20;
    e.ecx |= (1u << 3) | (1u << 31);
    vmdl_vm_set_cpuid(vm, &e);
    /* ... and 57 linear-address bits in 0x80000008:EAX[15:8], as hardware
     * with LA57 reports (KVM passes the host's value). */
    if (!vmdl_vm_get_cpuid(vm, 0x80000008, 0, &e)) {
        e.eax = (e.eax & ~0xFF00u) | (57u << 8);
        vmdl_vm_set_cpuid(vm, &e);
    }
    return vmdl_vm_set_entry(vm, placed.entry);
}
