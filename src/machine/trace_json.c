/* SPDX-License-Identifier: MIT */
/*
 * The JSON Lines form of the exit trace (virtmodel/trace.h).  Text that the
 * guest controls (disassembly of its bytes) and model messages go through
 * the core JSON escaper, so every line parses whatever the guest does.
 */
#include <inttypes.h>
#include <string.h>

#include "core/json.h"
#include "arch_ops.h"
#include "virtmodel/error.h"
#include "virtmodel/trace.h"

int vmdl_vm_set_trace_format(struct vmdl_vm *vm, enum vmdl_trace_format format)
{
    if (!vm)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vm_set_trace_format: NULL vm");
    if (format != VMDL_TRACE_TEXT && format != VMDL_TRACE_JSONL)
        return vmdl_fail(VMDL_EINVAL, "vmdl_vm_set_trace_format: unknown "
                         "format %d", (int)format);
    vm->trace_format = format;
    return VMDL_OK;
}

/* The bytes of the instruction at pc: Capstone's length when it decodes,
 * else 4 (an arm64 instruction; the SEAM instructions Capstone 4 lacks;
 * for other undecodable x86 bytes, where the length is unknown, a guess). */
static size_t insn_bytes(struct vmdl_vcpu *v, uint64_t pc, uint8_t *code)
{
    size_t n = vmdl__fetch(v, pc, code, 15);
    if (!n)
        return 0;
    cs_insn *in = NULL;
    if (cs_disasm(v->vm->cs, code, n, pc, 1, &in) == 1) {
        n = in->size;
        cs_free(in, 1);
        return n;
    }
    return n < 4 ? n : 4;
}

void vmdl__trace_json(struct vmdl_vcpu *v, const char *what, uint64_t pc,
                      const char *outcome)
{
    FILE *f = v->vm->trace;
    uint8_t code[16];
    char hex[2 * sizeof(code) + 1] = "";
    size_t n = insn_bytes(v, pc, code);
    for (size_t i = 0; i < n; i++)
        snprintf(hex + 2 * i, 3, "%02x", code[i]);
    char text[96] = "";
    if (n)
        v->vm->arch_ops->disasm(v, pc, text, sizeof(text));
    /* "mnemonic op_str" leaves a blank when there are no operands. */
    for (size_t len = strlen(text); len && text[len - 1] == ' ';)
        text[--len] = '\0';
    fprintf(f, "{\"seq\":%" PRIu64 ",\"vcpu\":%u,\"reason\":", v->vm->trace_seq++,
            v->index);
    vmdl_json_write_string(f, what);
    fprintf(f, ",\"pc\":\"0x%" PRIx64 "\",\"bytes\":\"%s\",\"disasm\":", pc, hex);
    vmdl_json_write_string(f, text);
    fputs(",\"outcome\":", f);
    vmdl_json_write_string(f, outcome);
    fprintf(f, ",\"insns\":%" PRIu64 ",\"exact\":%s", vmdl__insns(v),
            v->block_hook_on ? "true" : "false");
    if (v->vm->arch_ops->guest_clock)
        fprintf(f, ",\"tsc\":%" PRIu64, v->vm->arch_ops->guest_clock(v));
    fputs("}\n", f);
}
