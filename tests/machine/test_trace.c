/* SPDX-License-Identifier: MIT */
/*
 * The machine-readable side of a run: JSON string escaping, the JSON Lines
 * exit trace, run statistics and the progress report.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/json.h"
/* (vm_with_guest is not used here) */
#ifndef VMDL_GUEST_DIR
#define VMDL_GUEST_DIR "."
#endif
#include "machine_test_util.h"
#include "virtmodel/progress.h"
#include "virtmodel/trace.h"

static void test_json_escapes_quotes_backslash_controls(void **state)
{
    (void)state;
    char buf[128];
    size_t n = vmdl_json_escape("a\"b\\c\n\t\x01\x7f", buf, sizeof(buf));
    assert_string_equal(buf, "\"a\\\"b\\\\c\\n\\t\\u0001\\u007f\"");
    assert_int_equal(n, strlen(buf));
    vmdl_json_escape("", buf, sizeof(buf));
    assert_string_equal(buf, "\"\"");
    vmdl_json_escape(NULL, buf, sizeof(buf));
    assert_string_equal(buf, "\"\"");
}

static void test_json_keeps_utf8_replaces_invalid(void **state)
{
    (void)state;
    char buf[128];
    /* é (2 bytes), € (3), U+1F600 (4) pass; a lone continuation byte, an
     * overlong '/' (C0 AF), a surrogate (ED A0 80) and a truncated sequence
     * each become U+FFFD. */
    vmdl_json_escape("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80", buf, sizeof(buf));
    assert_string_equal(buf, "\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\"");
    vmdl_json_escape("\x80|\xC0\xAF|\xED\xA0\x80|\xE2\x82", buf, sizeof(buf));
    assert_string_equal(buf, "\"\xEF\xBF\xBD|\xEF\xBF\xBD\xEF\xBF\xBD|"
                             "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD|"
                             "\xEF\xBF\xBD\xEF\xBF\xBD\"");
}

static void test_json_truncates_at_character_boundary(void **state)
{
    (void)state;
    char buf[8];
    /* Room for the quotes, the NUL and 5 bytes: "abc" fits, the escape
     * \u0001 (6 bytes) does not and is left out whole. */
    size_t n = vmdl_json_escape("abc\x01xyz", buf, sizeof(buf));
    assert_string_equal(buf, "\"abc\"");
    assert_int_equal(n, 5);
    assert_int_equal(vmdl_json_escape("abc", buf, 2), 0);
    assert_string_equal(buf, "");
}

static void test_json_write_string_matches_escape(void **state)
{
    (void)state;
    const char *in = "mov \"x\"\\\x1f\xff";
    char expect[64], got[64] = "";
    size_t n = vmdl_json_escape(in, expect, sizeof(expect));
    FILE *f = fmemopen(got, sizeof(got), "w");
    assert_non_null(f);
    assert_int_equal(vmdl_json_write_string(f, in), n);
    fclose(f);
    assert_string_equal(got, expect);
}

/* mov ecx, 0x12345; rdmsr; mov al, 1; out 0xf4, al */
static const uint8_t x86_rdmsr[] = {
    0xB9, 0x45, 0x23, 0x01, 0x00, 0x0F, 0x32, 0xB0, 0x01, 0xE6, 0xF4,
};

/* Run a VM to its end with its trace in `out` (JSON Lines when jsonl). */
static int run_traced(struct vmdl_vm *vm, bool jsonl, char *out, size_t cap)
{
    memset(out, 0, cap);
    FILE *f = fmemopen(out, cap - 1, "w");
    assert_non_null(f);
    vmdl_vm_set_trace(vm, f);
    if (jsonl)
        assert_int_equal(vmdl_vm_set_trace_format(vm, VMDL_TRACE_JSONL), 0);
    struct vmdl_exit e;
    do {
        assert_int_equal(vmdl_vm_run(vm, &e), 0);
        if (e.reason == VMDL_EXIT_MSR_READ)
            vmdl_vcpu_complete_fault(vmdl_vm_vcpu(vm, e.vcpu), VMDL_FAULT_GP);
    } while (e.reason != VMDL_EXIT_SHUTDOWN && e.reason != VMDL_EXIT_FAULT_LOOP &&
             e.reason != VMDL_EXIT_HLT);
    fclose(f);
    return (int)e.reason;
}

static void test_jsonl_trace_x86_record(void **state)
{
    (void)state;
    struct vmdl_vm *vm = vm_with_code(VMDL_ARCH_X86_64, x86_rdmsr, sizeof(x86_rdmsr), NULL);
    assert_non_null(vm);
    vmdl_vcpu_need_insn_count(vmdl_vm_vcpu(vm, 0), true);
    char out[4096];
    run_traced(vm, true, out, sizeof(out));
    /* The unclaimed RDMSR raises #GP; the guest has no IDT, so a fault loop.
     * Its record: second instruction, 2 bytes, exact virtual time 1. */
    const char *rec = strstr(out, "{\"seq\":0,\"vcpu\":0,\"reason\":\"rdmsr\","
                                  "\"pc\":\"0x100005\",\"bytes\":\"0f32\","
                                  "\"disasm\":\"rdmsr\",\"outcome\":");
    assert_non_null(rec);
    assert_non_null(strstr(rec, ",\"insns\":1,\"exact\":true,\"tsc\":1}\n"));
    /* One object per line: every line starts with { and ends with }. */
    for (char *line = out; *line; line = strchr(line, '\n') + 1) {
        assert_int_equal(line[0], '{');
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        assert_int_equal(nl[-1], '}');
    }
    vmdl_vm_destroy(vm);
}

/* mrs x0, s3_0_c15_c0_0 (unclaimed: UNDEF, no vectors) */
static const uint8_t arm64_mrs[] = { 0x00, 0xF0, 0x38, 0xD5 };

static void test_jsonl_trace_arm64_has_no_tsc(void **state)
{
    (void)state;
    struct vmdl_vm *vm = vm_with_code(VMDL_ARCH_ARM64, arm64_mrs, sizeof(arm64_mrs), NULL);
    assert_non_null(vm);
    char out[4096];
    struct vmdl_exit e;
    memset(out, 0, sizeof(out));
    FILE *f = fmemopen(out, sizeof(out) - 1, "w");
    vmdl_vm_set_trace(vm, f);
    vmdl_vm_set_trace_format(vm, VMDL_TRACE_JSONL);
    assert_int_equal(vmdl_vm_run(vm, &e), 0);
    fclose(f);
    assert_non_null(strstr(out, "\"reason\":\"sysreg\",\"pc\":\"0x40080000\","
                                "\"bytes\":\"00f038d5\",\"disasm\":\"mrs x0, "));
    assert_null(strstr(out, "\"tsc\""));
    vmdl_vm_destroy(vm);
}

static void test_text_trace_unchanged_by_default(void **state)
{
    (void)state;
    struct vmdl_vm *vm = vm_with_code(VMDL_ARCH_X86_64, x86_rdmsr, sizeof(x86_rdmsr), NULL);
    assert_non_null(vm);
    char out[4096];
    run_traced(vm, false, out, sizeof(out));
    assert_memory_equal(out, "[vcpu0] rdmsr      pc=0x00100005  rdmsr", 39);
    assert_null(strchr(out, '{'));
    vmdl_vm_destroy(vm);
}

static void test_trace_format_refuses_unknown(void **state)
{
    (void)state;
    struct vmdl_vm *vm = vm_with_code(VMDL_ARCH_X86_64, x86_rdmsr, sizeof(x86_rdmsr), NULL);
    assert_non_null(vm);
    assert_int_equal(vmdl_vm_set_trace_format(vm, (enum vmdl_trace_format)7), VMDL_EINVAL);
    assert_int_equal(vmdl_vm_set_trace_format(NULL, VMDL_TRACE_JSONL), VMDL_EINVAL);
    vmdl_vm_destroy(vm);
}

struct prog_log {
    unsigned calls;
    struct vmdl_vm_stats last;
    bool monotonic;
};

static void on_progress(void *opaque, const struct vmdl_vm_stats *s)
{
    struct prog_log *p = opaque;
    if (p->calls && (s->exits < p->last.exits || s->insns < p->last.insns ||
                     s->wall_s < p->last.wall_s))
        p->monotonic = false;
    p->last = *s;
    p->calls++;
}

/* 200000 x (rdmsr of a claimed MSR), then debug-exit. */
static const uint8_t x86_rdmsr_loop[] = {
    0xBF, 0x40, 0x0D, 0x03, 0x00,             /* mov edi, 200000 */
    0xB9, 0x45, 0x23, 0x01, 0x00,             /* mov ecx, 0x12345 */
    0x0F, 0x32,                               /* rdmsr */
    0xFF, 0xCF,                               /* dec edi */
    0x75, 0xFA,                               /* jnz rdmsr */
    0xB0, 0x01, 0xE6, 0xF4,                   /* mov al, 1; out 0xf4, al */
};

static vmdl_fault zero_read(void *o, struct vmdl_vcpu *v, uint32_t i, uint64_t *val)
{
    (void)o; (void)v; (void)i;
    *val = 0;
    return VMDL_FAULT_NONE;
}
static const struct vmdl_msr_ops zero_msr = { .read = zero_read };

static void test_progress_reports_between_exits(void **state)
{
    (void)state;
    struct vmdl_vm *vm = vm_with_code(VMDL_ARCH_X86_64, x86_rdmsr_loop,
                                      sizeof(x86_rdmsr_loop), NULL);
    assert_non_null(vm);
    assert_int_equal(vmdl_vm_add_msr_range(vm, 0x12345, 0x12345, &zero_msr, NULL), 0);
    vmdl_vcpu_need_insn_count(vmdl_vm_vcpu(vm, 0), true);
    struct prog_log log = { .monotonic = true };
    /* An interval shorter than the coarse clock's tick: one report per tick. */
    assert_int_equal(vmdl_vm_set_progress(vm, 1e-6, on_progress, &log), 0);
    struct vmdl_exit e;
    assert_int_equal(vmdl_vm_run(vm, &e), 0);
    assert_int_equal(e.reason, VMDL_EXIT_SHUTDOWN);
    assert_true(log.calls >= 1);
    assert_true(log.monotonic);
    assert_true(log.last.exact);
    assert_true(log.last.exits <= 200001);
    struct vmdl_vm_stats s;
    assert_int_equal(vmdl_vm_get_stats(vm, &s), 0);
    /* Claimed RDMSRs are machine exits too (plus the final debug-exit); the
     * loop retired 2 + 3 * 200000 instructions before the last block. */
    assert_int_equal(s.exits, 200001);
    assert_true(s.insns >= 2 + 3 * 200000);
    assert_int_equal(s.insns, vmdl_vcpu_insns(vmdl_vm_vcpu(vm, 0)));
    assert_int_equal(s.vtime, s.insns);
    assert_int_equal(s.nr_vcpus, 1);
    assert_true(s.wall_s > 0);
    vmdl_vm_destroy(vm);
}

static void test_progress_refuses_bad_interval(void **state)
{
    (void)state;
    struct vmdl_vm *vm = vm_with_code(VMDL_ARCH_X86_64, x86_rdmsr, sizeof(x86_rdmsr), NULL);
    assert_non_null(vm);
    struct prog_log log = {0};
    assert_int_equal(vmdl_vm_set_progress(vm, 0, on_progress, &log), VMDL_EINVAL);
    assert_int_equal(vmdl_vm_set_progress(vm, -1, on_progress, &log), VMDL_EINVAL);
    assert_int_equal(vmdl_vm_set_progress(vm, 0, NULL, NULL), 0); /* off */
    assert_int_equal(vmdl_vm_set_progress(NULL, 1, on_progress, &log), VMDL_EINVAL);
    assert_int_equal(vmdl_vm_get_stats(vm, NULL), VMDL_EINVAL);
    struct vmdl_vm_stats s;
    assert_int_equal(vmdl_vm_get_stats(vm, &s), 0);
    assert_int_equal(s.exits, 0);
    assert_true(s.wall_s == 0);
    vmdl_vm_destroy(vm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_escapes_quotes_backslash_controls),
        cmocka_unit_test(test_json_keeps_utf8_replaces_invalid),
        cmocka_unit_test(test_json_truncates_at_character_boundary),
        cmocka_unit_test(test_json_write_string_matches_escape),
        cmocka_unit_test(test_jsonl_trace_x86_record),
        cmocka_unit_test(test_jsonl_trace_arm64_has_no_tsc),
        cmocka_unit_test(test_text_trace_unchanged_by_default),
        cmocka_unit_test(test_trace_format_refuses_unknown),
        cmocka_unit_test(test_progress_reports_between_exits),
        cmocka_unit_test(test_progress_refuses_bad_interval),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
