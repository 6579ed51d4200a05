# SPDX-License-Identifier: MIT
"""ctypes declarations of the C API (include/virtmodel/*.h) and the search
for libvirtmodel.so.  Structures mirror the C layouts field for field; the
package's tests exercise each through the library."""
import ctypes
import ctypes.util
import os
from ctypes import (CFUNCTYPE, POINTER, Structure, Union, c_bool, c_char, c_char_p,
                    c_double, c_int, c_size_t, c_uint, c_uint8, c_uint16, c_uint32,
                    c_uint64, c_void_p)

_HERE = os.path.dirname(os.path.abspath(__file__))


def _candidates():
    env = os.environ.get("VMDL_LIBRARY")
    if env:
        yield env
        return
    yield os.path.join(_HERE, "libvirtmodel.so")
    # Running from a checkout (python/virtmodel): its build trees.
    root = os.path.dirname(os.path.dirname(_HERE))
    for d in ("build", "build-shared"):
        yield os.path.join(root, d, "libvirtmodel.so")
    found = ctypes.util.find_library("virtmodel")
    if found:
        yield found


def _load():
    tried = []
    for path in _candidates():
        if os.path.sep in path and not os.path.isfile(path):
            tried.append(path)
            continue
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            tried.append(f"{path} ({e})")
    raise ImportError("virtmodel: cannot find libvirtmodel.so; tried: " + "; ".join(tried) +
                      ". Build it with cmake -DVMDL_SHARED=ON, or set VMDL_LIBRARY")


lib, library_path = _load()
libc = ctypes.CDLL(None)
libc.free.argtypes = [c_void_p]
libc.free.restype = None

CONSOLE_FN = CFUNCTYPE(None, c_void_p, POINTER(c_char), c_size_t)


class VtimeWeights(Structure):
    _fields_ = [("pause_cycles", c_uint32), ("exit_cycles", c_uint32),
                ("serialize_cycles", c_uint32), ("rdtsc_cycles", c_uint32),
                ("flush_cycles", c_uint32)]


# Mirrors struct vmdl_vm_config field for field (machine.h): the library
# reads the whole structure.
class VmConfig(Structure):
    _fields_ = [("arch", c_int), ("vendor", c_int), ("ram_base", c_uint64),
                ("ram_size", c_uint64), ("nr_vcpus", c_uint), ("quantum", c_uint64),
                ("console", CONSOLE_FN), ("console_opaque", c_void_p),
                ("msr_exits_to_caller", c_bool), ("no_fast_traps", c_bool),
                ("vtime_set", c_bool), ("vtime", VtimeWeights)]


class _ModelOption(Structure):
    _fields_ = [("name", c_char_p), ("value", c_char_p)]


class ModelOptions(Structure):
    """struct vmdl_model_options (models.h): name/value pairs."""
    _fields_ = [("n", c_uint), ("opt", _ModelOption * 32)]


class _Msr(Structure):
    _fields_ = [("index", c_uint32), ("data", c_uint64)]


class _Io(Structure):
    _fields_ = [("port", c_uint16), ("size", c_uint8), ("is_write", c_bool),
                ("data", c_uint32)]


class _Mmio(Structure):
    _fields_ = [("addr", c_uint64), ("size", c_uint8), ("is_write", c_bool),
                ("data", c_uint64)]


class _Sysreg(Structure):
    _fields_ = [("op0", c_uint8), ("op1", c_uint8), ("crn", c_uint8), ("crm", c_uint8),
                ("op2", c_uint8), ("rt", c_uint8), ("is_write", c_bool),
                ("is_sys", c_bool), ("value", c_uint64)]


class _Operand(Structure):
    _fields_ = [("kind", c_int), ("reg", c_int), ("addr", c_uint64)]


class _Insn(Structure):
    _fields_ = [("kind", c_int), ("length", c_uint), ("op", _Operand * 2),
                ("text", c_char * 64)]


class _Hypercall(Structure):
    _fields_ = [("imm", c_uint16), ("is_smc", c_bool), ("x", c_uint64 * 4)]


class _Shutdown(Structure):
    _fields_ = [("status", c_int)]


class _Fault(Structure):
    _fields_ = [("vector", c_uint), ("error_code", c_uint64)]


class _Internal(Structure):
    _fields_ = [("message", c_char * 160)]


class _Debug(Structure):
    _fields_ = [("kind", c_int), ("addr", c_uint64), ("watch", c_int)]


class _ExitUnion(Union):
    _fields_ = [("msr", _Msr), ("io", _Io), ("mmio", _Mmio), ("sysreg", _Sysreg),
                ("insn", _Insn), ("hypercall", _Hypercall), ("shutdown", _Shutdown),
                ("fault", _Fault), ("internal", _Internal), ("debug", _Debug)]


class CExit(Structure):
    _fields_ = [("reason", c_int), ("vcpu", c_uint), ("pc", c_uint64), ("u", _ExitUnion)]


# Mirrors struct vmdl_vm_stats (progress.h): the library writes all of it.
class VmStats(Structure):
    _fields_ = [("nr_vcpus", c_uint), ("insns", c_uint64), ("vtime", c_uint64),
                ("exits", c_uint64), ("wall_s", c_double), ("exact", c_bool),
                ("entries", c_uint64)]


def _fn(name, restype, *argtypes):
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


VM_P = c_void_p
VCPU_P = c_void_p

vm_create = _fn("vmdl_vm_create", c_int, POINTER(VmConfig), POINTER(c_void_p))
vm_destroy = _fn("vmdl_vm_destroy", None, VM_P)
vm_arch = _fn("vmdl_vm_arch", c_int, VM_P)
vm_nr_vcpus = _fn("vmdl_vm_nr_vcpus", c_uint, VM_P)
vm_vcpu = _fn("vmdl_vm_vcpu", VCPU_P, VM_P, c_uint)
vm_ram_ptr = _fn("vmdl_vm_ram_ptr", c_void_p, VM_P, c_uint64, c_uint64)
vm_ram_base = _fn("vmdl_vm_ram_base", c_uint64, VM_P)
vm_ram_size = _fn("vmdl_vm_ram_size", c_uint64, VM_P)
vm_load_elf = _fn("vmdl_vm_load_elf", c_int, VM_P, c_void_p, c_size_t)
vm_load_raw = _fn("vmdl_vm_load_raw", c_int, VM_P, c_void_p, c_size_t, c_uint64)
attach_models = _fn("vmdl_attach_models", c_int, VM_P, c_char_p, POINTER(ModelOptions))
model_options_set = _fn("vmdl_model_options_set", c_int, POINTER(ModelOptions), c_char_p,
                        c_char_p)
model_of_option = _fn("vmdl_model_of_option", c_void_p, c_char_p, POINTER(c_void_p))
vm_run = _fn("vmdl_vm_run", c_int, VM_P, POINTER(CExit))
vcpu_complete = _fn("vmdl_vcpu_complete", c_int, VCPU_P, c_uint64)
vcpu_complete_fault = _fn("vmdl_vcpu_complete_fault", c_int, VCPU_P, c_int)
vm_set_limits = _fn("vmdl_vm_set_limits", None, VM_P, c_uint64, c_double)
vcpu_get_reg = _fn("vmdl_vcpu_get_reg", c_int, VCPU_P, c_int, POINTER(c_uint64))
vcpu_set_reg = _fn("vmdl_vcpu_set_reg", c_int, VCPU_P, c_int, c_uint64)
vcpu_insns = _fn("vmdl_vcpu_insns", c_uint64, VCPU_P)
vcpu_branches = _fn("vmdl_vcpu_branches", c_uint64, VCPU_P)
vcpu_need_insn_count = _fn("vmdl_vcpu_need_insn_count", None, VCPU_P, c_bool)
vcpu_inject_irq = _fn("vmdl_vcpu_inject_irq", c_int, VCPU_P, c_uint)
vm_reset = _fn("vmdl_vm_reset", c_int, VM_P)
checkpoint_save = _fn("vmdl_vm_checkpoint_save", c_int, VM_P, POINTER(c_void_p),
                      POINTER(c_size_t))
checkpoint_restore = _fn("vmdl_vm_checkpoint_restore", c_int, VM_P, c_void_p, c_size_t)
state_digest = _fn("vmdl_vm_state_digest", c_uint32, VM_P)
last_error = _fn("vmdl_last_error", c_char_p)
strerror = _fn("vmdl_strerror", c_char_p, c_int)
exit_reason_name = _fn("vmdl_exit_reason_name", c_char_p, c_int)
vm_get_stats = _fn("vmdl_vm_get_stats", c_int, VM_P, POINTER(VmStats))
vm_set_trace_format = _fn("vmdl_vm_set_trace_format", c_int, VM_P, c_int)
vm_set_trace = _fn("vmdl_vm_set_trace", None, VM_P, c_void_p)
vm_add_breakpoint = _fn("vmdl_vm_add_breakpoint", c_int, VM_P, c_uint64)
vm_remove_breakpoint = _fn("vmdl_vm_remove_breakpoint", c_int, VM_P, c_uint64)
vcpu_set_single_step = _fn("vmdl_vcpu_set_single_step", c_int, VCPU_P, c_bool)
vcpu_msr_read = _fn("vmdl_vcpu_msr_read", c_int, VCPU_P, c_uint32, POINTER(c_uint64))
vcpu_msr_write = _fn("vmdl_vcpu_msr_write", c_int, VCPU_P, c_uint32, c_uint64)
vcpu_mmio_read = _fn("vmdl_vcpu_mmio_read", c_int, VCPU_P, c_uint64, c_uint,
                     POINTER(c_uint64))
vcpu_mmio_write = _fn("vmdl_vcpu_mmio_write", c_int, VCPU_P, c_uint64, c_uint, c_uint64)

libc.fopen.restype = c_void_p
libc.fopen.argtypes = [c_char_p, c_char_p]
libc.fclose.restype = c_int
libc.fclose.argtypes = [c_void_p]
libc.fflush.restype = c_int
libc.fflush.argtypes = [c_void_p]
