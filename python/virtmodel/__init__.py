# SPDX-License-Identifier: MIT
"""virtmodel from Python: KVM vCPU state models driven by guest code.

    import virtmodel
    with virtmodel.VM("x86_64", ram_mib=64, vcpus=1, vendor="amd") as vm:
        vm.load("guest.elf")
        vm.attach("all", pmu="perfmonv2")
        for e in vm.exits():                 # exits no model claimed
            if e.reason == virtmodel.ExitReason.IO:
                vm.complete(e.vcpu, 0xFF)
        print(vm.vcpu(0)["rip"], vm.vcpu(0).pmu_counters())

The package is a thin ctypes layer over libvirtmodel.so (see _ffi.py for
how it is found); names follow the C API (include/virtmodel/*.h).
"""
import ctypes
import enum
import os
from ctypes import byref, c_size_t, c_uint64, c_void_p

from . import _ffi

__all__ = ["VM", "VCpu", "Exit", "ExitReason", "Fault", "Arch", "VmdlError",
           "X86_REGS", "ARM64_REGS", "library_path"]

library_path = _ffi.library_path


class Arch(enum.IntEnum):
    X86_64 = 1
    ARM64 = 2


class ExitReason(enum.IntEnum):
    """enum vmdl_exit_reason (machine.h)."""
    NONE = 0
    MSR_READ = 1
    MSR_WRITE = 2
    IO = 3
    MMIO = 4
    SYSREG = 5
    VMX = 6
    SEAM = 7
    HYPERCALL = 8
    HLT = 9
    SHUTDOWN = 10
    RESET = 11
    MAX_INSNS = 12
    TIMEOUT = 13
    FAULT_LOOP = 14
    INTERNAL_ERROR = 15
    DEBUG = 16


class Fault(enum.IntEnum):
    """vmdl_fault (fault.h): what completing an exit may raise instead."""
    NONE = 0
    UD = 6
    GP = 13
    PF = 14
    UNDEF = 0x100


# enum vmdl_reg (machine.h), by the names GDB uses.
X86_REGS = {name: i for i, name in enumerate(
    ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10",
     "r11", "r12", "r13", "r14", "r15", "rip", "rflags", "cr0", "cr2", "cr3", "cr4",
     "cr8", "efer", "cs", "ss", "ds", "es", "fs", "gs", "fs_base", "gs_base"])}
ARM64_REGS = {f"x{n}": 0x100 + n for n in range(31)}
ARM64_REGS.update({"sp": 0x11F, "pc": 0x120, "pstate": 0x121, "vbar_el1": 0x122,
                   "elr_el1": 0x123, "spsr_el1": 0x124, "esr_el1": 0x125})
ARM64_REGS.update({name: 0x126 + i for i, name in enumerate(
    ["sctlr_el1", "tcr_el1", "ttbr0_el1", "ttbr1_el1", "mair_el1", "far_el1",
     "sp_el0", "sp_el1", "tpidr_el1", "cpacr_el1"])})

class VmdlError(Exception):
    """A C call failed: code is the negative vmdl_err, message the library's."""

    def __init__(self, code, message):
        super().__init__(f"{message} ({_ffi.strerror(code).decode()})")
        self.code = code


def _check(rc):
    if rc < 0:
        raise VmdlError(rc, (_ffi.last_error() or b"").decode(errors="replace"))
    return rc


class Exit:
    """One exit returned by VM.run(): reason, vcpu, pc and the reason's
    fields as attributes (msr_index, io_port, mmio_addr, sysreg, status ...)."""

    def __init__(self, c):
        self.reason = ExitReason(c.reason)
        self.vcpu = c.vcpu
        self.pc = c.pc
        u = c.u
        r = self.reason
        if r in (ExitReason.MSR_READ, ExitReason.MSR_WRITE):
            self.msr_index, self.msr_data = u.msr.index, u.msr.data
        elif r == ExitReason.IO:
            self.io_port, self.io_size = u.io.port, u.io.size
            self.is_write, self.data = u.io.is_write, u.io.data
        elif r == ExitReason.MMIO:
            self.mmio_addr, self.mmio_size = u.mmio.addr, u.mmio.size
            self.is_write, self.data = u.mmio.is_write, u.mmio.data
        elif r == ExitReason.SYSREG:
            s = u.sysreg
            self.sysreg = (s.op0, s.op1, s.crn, s.crm, s.op2)
            self.rt, self.is_write, self.is_sys, self.data = s.rt, s.is_write, s.is_sys, s.value
        elif r in (ExitReason.VMX, ExitReason.SEAM):
            self.insn_kind, self.insn_length = u.insn.kind, u.insn.length
            self.insn_text = u.insn.text.decode(errors="replace")
        elif r == ExitReason.HYPERCALL:
            self.imm, self.is_smc = u.hypercall.imm, u.hypercall.is_smc
            self.args = list(u.hypercall.x)
        elif r == ExitReason.SHUTDOWN:
            self.status = u.shutdown.status
        elif r == ExitReason.DEBUG:
            # enum vmdl_debug_kind: 1 step, 2 breakpoint, 3 watchpoint, 4 interrupt
            self.debug_kind, self.debug_addr = u.debug.kind, u.debug.addr
            self.debug_watch = u.debug.watch
        elif r in (ExitReason.FAULT_LOOP, ExitReason.INTERNAL_ERROR):
            self.message = u.internal.message.decode(errors="replace")

    def __repr__(self):
        extra = {k: v for k, v in vars(self).items() if k not in ("reason", "vcpu", "pc")}
        more = "".join(f", {k}={v:#x}" if isinstance(v, int) and not isinstance(v, bool)
                       else f", {k}={v!r}" for k, v in extra.items())
        return f"Exit({self.reason.name}, vcpu={self.vcpu}, pc={self.pc:#x}{more})"


class VCpu:
    """One vCPU: registers by name (vcpu["rax"], vcpu["x0"] = 5), virtual
    time, and the state of the models attached to it."""

    def __init__(self, vm, index):
        self._vm = vm
        self.index = index
        self._p = _ffi.vm_vcpu(vm._p, index)
        self._names = X86_REGS if vm.arch == Arch.X86_64 else ARM64_REGS

    def _reg(self, name):
        try:
            return self._names[name.lower()]
        except KeyError:
            raise KeyError(f"{name!r} is not a {self._vm.arch.name} register "
                           f"(known: {', '.join(self._names)})") from None

    def __getitem__(self, name):
        v = c_uint64()
        _check(_ffi.vcpu_get_reg(self._p, self._reg(name), byref(v)))
        return v.value

    def __setitem__(self, name, value):
        _check(_ffi.vcpu_set_reg(self._p, self._reg(name), value & (2**64 - 1)))

    def regs(self):
        """Every register by name."""
        return {n: self[n] for n in self._names}

    @property
    def insns(self):
        """Retired instructions (virtual time; exact while counting)."""
        return _ffi.vcpu_insns(self._p)

    @property
    def branches(self):
        return _ffi.vcpu_branches(self._p)

    def count_instructions(self, on=True):
        """Ask for exact instruction (and branch) counting."""
        _ffi.vcpu_need_insn_count(self._p, bool(on))

    def single_step(self, on=True):
        """While on, vm.run() runs one instruction of this vCPU and returns
        an ExitReason.DEBUG exit (debug.h)."""
        _check(_ffi.vcpu_set_single_step(self._p, bool(on)))

    def inject_irq(self, vector=0):
        _check(_ffi.vcpu_inject_irq(self._p, vector))

    # ---- model state (include/virtmodel/inspect.h) ----
    def msr(self, index):
        """An MSR a model serves, read as the guest would (no side effect on
        the guest's flow)."""
        v = c_uint64()
        _check(_ffi.vcpu_msr_read(self._p, index, byref(v)))
        return v.value

    def set_msr(self, index, value):
        _check(_ffi.vcpu_msr_write(self._p, index, value))

    def mmio_read(self, gpa, size=4):
        v = c_uint64()
        _check(_ffi.vcpu_mmio_read(self._p, gpa, size, byref(v)))
        return v.value

    def mmio_write(self, gpa, value, size=4):
        _check(_ffi.vcpu_mmio_write(self._p, gpa, size, value))

    def pmu_counters(self):
        """AMD PMU counter values (amd_pmu model): the core-extension
        counters PERF_CTR0.. while the model exposes them, else the four
        legacy K7 counters."""
        out = []
        for i in range(16):
            try:
                out.append(self.msr(0xC0010201 + 2 * i))
            except VmdlError:
                break
        if not out:
            out = [self.msr(0xC0010004 + i) for i in range(4)]
        return out

    def apic_page(self):
        """The local APIC register page as 256 32-bit registers at 16-byte
        strides (offset 0x000..0x3F0) from the lapic model: through MMIO in
        xAPIC mode, through the x2APIC MSRs in x2APIC mode (absent registers
        read 0)."""
        base = self.msr(0x1B)
        x2apic = bool(base & (1 << 10))
        regs = []
        for off in range(0, 0x400, 0x10):
            try:
                if x2apic:
                    regs.append(self.msr(0x800 + (off >> 4)) & 0xFFFFFFFF)
                else:
                    regs.append(self.mmio_read((base & ~0xFFF) + off, 4))
            except VmdlError:
                regs.append(0)
        return regs


class VM:
    """A virtual machine: guest RAM, vCPUs, attached models."""

    def __init__(self, arch="x86_64", ram_mib=64, vcpus=1, vendor="intel",
                 msr_exits=False, quantum=0, console=None):
        """console: None (the guest's console goes to the process's stdout),
        "capture" (collected in vm.console_output), or a callable taking bytes."""
        self.arch = Arch[arch.upper().replace("-", "_")] if isinstance(arch, str) else Arch(arch)
        self.console_output = bytearray()
        self._console_cb = None
        cfg = _ffi.VmConfig(arch=int(self.arch), vendor={"intel": 0, "amd": 1}[vendor],
                            ram_size=ram_mib << 20, nr_vcpus=vcpus, quantum=quantum,
                            msr_exits_to_caller=msr_exits)
        if console is not None:
            sink = self.console_output.extend if console == "capture" else console

            def cb(_opaque, buf, n):
                sink(ctypes.string_at(buf, n))
            self._console_cb = _ffi.CONSOLE_FN(cb)
            cfg.console = self._console_cb
        p = c_void_p()
        _check(_ffi.vm_create(byref(cfg), byref(p)))
        self._p = p.value
        self._trace_file = None
        self.vcpus = [VCpu(self, i) for i in range(_ffi.vm_nr_vcpus(self._p))]

    # ---- lifetime ----
    def close(self):
        if self._p:
            _ffi.vm_destroy(self._p)
            self._p = None
        if self._trace_file:
            _ffi.libc.fclose(self._trace_file)
            self._trace_file = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()

    def vcpu(self, i):
        return self.vcpus[i]

    # ---- images and models ----
    def load(self, image, raw_addr=None):
        """Load an ELF image (path or bytes); with raw_addr, a raw binary."""
        data = open(image, "rb").read() if isinstance(image, (str, os.PathLike)) else bytes(image)
        buf = ctypes.create_string_buffer(data, len(data))
        if raw_addr is None:
            _check(_ffi.vm_load_elf(self._p, buf, len(data)))
        else:
            _check(_ffi.vm_load_raw(self._p, buf, len(data), raw_addr))

    def attach(self, models="all", **options):
        """Attach models ("all", "none" or a comma list) with the options the
        models declare (virtmodel-run --help), as keywords with '_' for '-':
        vmx_profile="skylake", apicv=True, tdx_profile=..., pmu="perfmonv2",
        pmu_quirk_no_reset=True, gicv5_pcpus=4 ...  A flag is True (given) or
        False (left out)."""
        o = _ffi.ModelOptions()
        keep = []
        for key, val in options.items():
            name = key.replace("_", "-").encode()
            if not _ffi.model_of_option(name, None):
                raise TypeError(f"unknown model option {key!r}")
            if val is False or val is None:
                continue
            value = b"" if val is True else str(val).encode()
            keep += [name, value]
            _check(_ffi.model_options_set(byref(o), name, value))
        self._model_opts = (o, keep)  # the C side keeps the strings' pointers
        _check(_ffi.attach_models(self._p, models.encode(), byref(o)))

    # ---- running ----
    def set_limits(self, max_insns=0, timeout=0.0):
        """Bound later runs: total retired instructions, wall-clock seconds."""
        _ffi.vm_set_limits(self._p, max_insns, timeout)

    def run(self):
        """Run until an exit no model claimed; returns an Exit."""
        e = _ffi.CExit()
        _check(_ffi.vm_run(self._p, byref(e)))
        return Exit(e)

    def complete(self, vcpu, value=0):
        """Complete the pending exit of vcpu with the value read (or accept
        the write); the instruction retires."""
        _check(_ffi.vcpu_complete(_ffi.vm_vcpu(self._p, vcpu), value))

    def complete_fault(self, vcpu, fault):
        _check(_ffi.vcpu_complete_fault(_ffi.vm_vcpu(self._p, vcpu), int(fault)))

    def complete_unclaimed(self, e):
        """Complete an exit as virtmodel-run does for a device-less machine:
        #GP for MSRs, all-ones reads, UNDEF/#UD, PSCI NOT_SUPPORTED."""
        r = e.reason
        if r in (ExitReason.MSR_READ, ExitReason.MSR_WRITE):
            self.complete_fault(e.vcpu, Fault.GP)
        elif r == ExitReason.IO:
            self.complete(e.vcpu, 0 if e.is_write else 0xFFFFFFFF)
        elif r == ExitReason.MMIO:
            self.complete(e.vcpu, 0 if e.is_write else 2**64 - 1)
        elif r == ExitReason.SYSREG:
            self.complete_fault(e.vcpu, Fault.UNDEF)
        elif r in (ExitReason.VMX, ExitReason.SEAM):
            self.complete_fault(e.vcpu, Fault.UD)
        elif r == ExitReason.HYPERCALL:
            self.complete(e.vcpu, 2**64 - 1)

    def exits(self, handler=None):
        """Generator over exits until the guest ends (shutdown, halt with
        nothing to wake it, a limit, a fault loop, an internal error; the
        final exit is yielded too).  Exits left pending after the loop body
        are completed as complete_unclaimed() does."""
        final = (ExitReason.SHUTDOWN, ExitReason.HLT, ExitReason.MAX_INSNS,
                 ExitReason.TIMEOUT, ExitReason.FAULT_LOOP, ExitReason.INTERNAL_ERROR)
        while True:
            e = self.run()
            yield e
            if e.reason in final:
                return
            try:
                self.complete_unclaimed(e)
            except VmdlError as err:
                if err.code != -10:  # VMDL_ESTATE: the body completed it
                    raise

    def add_breakpoint(self, addr):
        """Stop (ExitReason.DEBUG) before the instruction at addr executes."""
        _check(_ffi.vm_add_breakpoint(self._p, addr))

    def remove_breakpoint(self, addr):
        _check(_ffi.vm_remove_breakpoint(self._p, addr))

    def reset(self):
        _check(_ffi.vm_reset(self._p))

    # ---- memory ----
    @property
    def ram_base(self):
        return _ffi.vm_ram_base(self._p)

    @property
    def ram_size(self):
        return _ffi.vm_ram_size(self._p)

    def _ram(self, gpa, n):
        p = _ffi.vm_ram_ptr(self._p, gpa, n)
        if not p or n < 0:
            raise VmdlError(-3, f"guest memory {gpa:#x}+{n:#x} is not all RAM")
        return p

    def read(self, gpa, n):
        """n bytes of guest RAM at guest-physical gpa."""
        return ctypes.string_at(self._ram(gpa, n), n) if n else b""

    def write(self, gpa, data):
        data = bytes(data)
        if data:
            ctypes.memmove(self._ram(gpa, len(data)), data, len(data))

    def read_u64(self, gpa):
        return int.from_bytes(self.read(gpa, 8), "little")

    # ---- checkpoints ----
    def checkpoint(self):
        """The whole VM (RAM, vCPUs, models) as bytes (checkpoint.h)."""
        p, n = c_void_p(), c_size_t()
        _check(_ffi.checkpoint_save(self._p, byref(p), byref(n)))
        try:
            return ctypes.string_at(p, n.value)
        finally:
            _ffi.libc.free(p)

    def restore(self, blob):
        """Continue from a checkpoint of a VM created, loaded and attached the
        same way; refused (VmdlError) when it does not fit."""
        blob = bytes(blob)
        buf = ctypes.create_string_buffer(blob, len(blob))
        _check(_ffi.checkpoint_restore(self._p, buf, len(blob)))

    def digest(self):
        """CRC-32 over RAM and registers: equal digests, equal states."""
        return _ffi.state_digest(self._p)

    # ---- observation ----
    def stats(self):
        """Run statistics (progress.h) as a dict."""
        s = _ffi.VmStats()
        _check(_ffi.vm_get_stats(self._p, byref(s)))
        return {k: getattr(s, k) for k, _ in s._fields_}

    def trace(self, path, fmt="jsonl"):
        """Write the exit trace (docs/trace.md) to path; None stops it."""
        if self._trace_file:
            _ffi.vm_set_trace(self._p, None)
            _ffi.libc.fclose(self._trace_file)
            self._trace_file = None
        if path is None:
            return
        f = _ffi.libc.fopen(os.fsencode(path), b"w")
        if not f:
            raise OSError(f"cannot open {path}")
        self._trace_file = f
        _check(_ffi.vm_set_trace_format(self._p, {"text": 0, "jsonl": 1}[fmt]))
        _ffi.vm_set_trace(self._p, f)

    def flush_trace(self):
        if self._trace_file:
            _ffi.libc.fflush(self._trace_file)
