/* SPDX-License-Identifier: MIT */
/* The exit trace (--trace): one line per exit with its disassembly. */
#include "arch_ops.h"
#include "virtmodel/trace.h"

void vmdl_vm_set_trace(struct vmdl_vm *vm, void *stream)
{
    vm->trace = stream;
}

void vmdl__trace_exit_line(struct vmdl_vcpu *vcpu, const char *what, uint64_t pc,
                           const char *outcome)
{
    FILE *f = vcpu->vm->trace;
    if (vcpu->vm->trace_format == VMDL_TRACE_JSONL) {
        vmdl__trace_json(vcpu, what, pc, outcome);
        return;
    }
    char text[96];
    vcpu->vm->arch_ops->disasm(vcpu, pc, text, sizeof(text));
    fprintf(f, "[vcpu%u] %-10s pc=0x%08llx  %-32s -> %s\n", vcpu->index, what,
            (unsigned long long)pc, text, outcome);
}

size_t vmdl__fetch(struct vmdl_vcpu *v, uint64_t pc, uint8_t *buf, size_t max)
{
    size_t n = max;
    while (n > 0 && uc_mem_read(v->uc, pc, buf, n) != UC_ERR_OK)
        n--;
    return n;
}
