#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Run a 3-vCPU AMD guest whose vCPUs program their PMU (retired
instructions and retired branches) and run loops of different lengths, sample
every vCPU's counters every 20000 instructions of VM time, and plot per vCPU
the instruction counter and the branch density (branches per instruction)
of each interval: the loop phase, vCPU 0's wait loop, and the vCPUs that
halted and stopped counting.  Saves pmu_per_vcpu.png (or the path given).

    python3 python/examples/pmu_per_vcpu.py [OUT.png]
"""
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import virtmodel  # noqa: E402

# The guest (x86-64, assembled from this source with GNU as, .intel_syntax):
#   mov eax, 1; cpuid; shr ebx, 24; mov r12d, ebx        vCPU index (APIC ID)
#   mov ecx, 0xC0010200; mov eax, 0x4300C0; xor edx, edx; wrmsr   CTL0: retired insns
#   mov ecx, 0xC0010202; mov eax, 0x4300C2; wrmsr                 CTL1: retired branches
#   mov r13d, 200
# 1: lea ecx, [r12d+1]; imul ecx, ecx, 50
# 2: add rax, rcx; xor rax, 0x55; dec ecx; jnz 2b
#   dec r13d; jnz 1b
#   test r12d, r12d; jnz 4f
#   mov ecx, 400000
# 3: dec ecx; jnz 3b                                   vCPU 0 waits for the others
#   xor eax, eax; out 0xf4, al                          debug-exit: status 1
# 4: hlt; jmp 4b
GUEST = bytes.fromhex(
    "b8010000000fa2c1eb184189dcb9000201c0b8c000430031d20f30b9020201c0b8c20043"
    "000f3041bdc800000067418d4c24016bc9324801c84883f055ffc975f541ffcd75e74585"
    "e4750db9801a0600ffc975fc31c0e6f4f4ebfd")
VCPUS = 3
CHUNK = 20000


def sample_run():
    """Samples per vCPU: (VM time, counter 0, counter 1), VM time being the
    instructions all vCPUs retired (the scheduler's clock)."""
    samples = {i: [] for i in range(VCPUS)}
    with virtmodel.VM("x86_64", ram_mib=16, vcpus=VCPUS, vendor="amd") as vm:
        vm.load(GUEST, raw_addr=0x100000)
        vm.attach("amd_pmu", pmu="perfmonv2")
        while True:
            vm.set_limits(max_insns=vm.stats()["insns"] + CHUNK)
            e = vm.run()
            now = vm.stats()["insns"]
            for cpu in vm.vcpus:
                ctr = cpu.pmu_counters()
                samples[cpu.index].append((now, ctr[0], ctr[1]))
            if e.reason == virtmodel.ExitReason.SHUTDOWN:
                return samples, e.status
            if e.reason != virtmodel.ExitReason.MAX_INSNS:
                vm.complete_unclaimed(e)


def plot(samples, out):
    fig, (a0, a1) = plt.subplots(1, 2, figsize=(11, 4.2))
    for i, rows in samples.items():
        t = [r[0] for r in rows]
        a0.plot(t, [r[1] for r in rows], label=f"vCPU {i}")
        # Branch density per sampling interval: retired branches per retired
        # instruction, where the vCPU ran at all.
        dt, db = [], []
        for (t0, i0, b0), (t1, i1, b1) in zip(rows, rows[1:]):
            if i1 > i0:
                dt.append(t1)
                db.append((b1 - b0) / (i1 - i0))
        a1.plot(dt, db, ".-", label=f"vCPU {i}")
    a0.set_title("PERF_CTR0: retired instructions (event 0xC0)")
    a0.set_ylabel("counter value")
    a1.set_title("branches per instruction (events 0xC2 / 0xC0)")
    a1.set_ylabel("per sampling interval")
    for a in (a0, a1):
        a.set_xlabel("VM time (instructions retired by all vCPUs)")
        a.grid(alpha=0.3)
        a.legend()
    fig.suptitle("virtmodel amd_pmu model, 3 vCPUs (round robin), sampled every "
                 f"{CHUNK} instructions")
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "pmu_per_vcpu.png"
    samples, status = sample_run()
    plot(samples, out)
    for i, rows in samples.items():
        _, c0, c1 = rows[-1]
        print(f"vCPU {i}: PERF_CTR0 {c0} instructions, PERF_CTR1 {c1} branches")
    print(f"guest status {status}; wrote {out}")


if __name__ == "__main__":
    main()
