/* SPDX-License-Identifier: MIT */
/*
 * Whole-VM checkpoints through the C API: a split run equals an
 * uninterrupted one, taking a checkpoint does not disturb the run, and bad
 * files are refused before anything changes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "machine_test_util.h"
#include "virtmodel/blob.h"
#include "virtmodel/checkpoint.h"
#include "virtmodel/attach_vmx.h"
#include "virtmodel/models.h"
#include "virtmodel/multiboot.h"
#include "virtmodel/vmx_nested.h"

static struct vmdl_vm *guest_vm(const char *rel, unsigned vcpus, const char *models,
                                struct console_buf *con)
{
    struct vmdl_vm *vm = vm_with_guest(rel, vcpus, con);
    assert_non_null(vm);
    assert_int_equal(vmdl_attach_models(vm, models, NULL), 0);
    return vm;
}

static int run_to_end(struct vmdl_vm *vm)
{
    for (;;) {
        struct vmdl_exit e;
        assert_int_equal(vmdl_vm_run(vm, &e), 0);
        if (e.reason == VMDL_EXIT_SHUTDOWN)
            return e.u.shutdown.status;
        if (e.reason == VMDL_EXIT_RESET)
            continue;
        fail_msg("unexpected exit %s", vmdl_exit_reason_name(e.reason));
    }
}

/* Run to n instructions, checkpoint, then either keep running in the same
 * VM or restore into a fresh one; both must equal the uninterrupted run. */
static void split_equals_whole(const char *rel, unsigned vcpus, const char *models,
                               uint64_t n)
{
    static struct console_buf whole, first, second, cont;
    memset(&whole, 0, sizeof(whole));
    memset(&first, 0, sizeof(first));
    memset(&second, 0, sizeof(second));
    memset(&cont, 0, sizeof(cont));
    struct vmdl_vm *vm = guest_vm(rel, vcpus, models, &whole);
    int status = run_to_end(vm);
    uint32_t digest = vmdl_vm_state_digest(vm);
    vmdl_vm_destroy(vm);

    vm = guest_vm(rel, vcpus, models, &first);
    vmdl_vm_set_limits(vm, n, 0);
    struct vmdl_exit e;
    assert_int_equal(vmdl_vm_run(vm, &e), 0);
    assert_int_equal(e.reason, VMDL_EXIT_MAX_INSNS);
    uint8_t *blob;
    size_t len;
    assert_int_equal(vmdl_vm_checkpoint_save(vm, &blob, &len), 0);
    /* Going on in the same VM is undisturbed by the save. */
    vmdl_vm_set_limits(vm, 0, 0);
    memcpy(&cont, &first, sizeof(first));
    assert_int_equal(run_to_end(vm), status);
    assert_int_equal(vmdl_vm_state_digest(vm), digest);
    assert_string_equal(first.data, whole.data);
    vmdl_vm_destroy(vm);

    vm = guest_vm(rel, vcpus, models, &second);
    assert_int_equal(vmdl_vm_checkpoint_restore(vm, blob, len), 0);
    assert_int_equal(run_to_end(vm), status);
    assert_int_equal(vmdl_vm_state_digest(vm), digest);
    char joined[sizeof(cont.data) * 2];
    snprintf(joined, sizeof(joined), "%s%s", cont.data, second.data);
    assert_string_equal(joined, whole.data);
    vmdl_vm_destroy(vm);
    free(blob);
}

static void test_split_x86_faults(void **state)
{
    (void)state;
    split_equals_whole("x86_64/machine_faults.elf", 1, "none", 500);
}

static void test_split_smp(void **state)
{
    (void)state;
    split_equals_whole("x86_64/machine_smp.elf", 3, "none", 250000);
}

static void test_split_lapic_timer(void **state)
{
    (void)state;
    split_equals_whole("x86_64/lapic_timer.elf", 1, "lapic", 30000);
}

static void test_split_vmx(void **state)
{
    (void)state;
    split_equals_whole("x86_64/vmx_fields.elf", 1, "vmx", 20000);
}

static void test_split_gicv5(void **state)
{
    (void)state;
    split_equals_whole("arm64/gicv5_ppi.elf", 1, "gicv5", 300);
}

/* ---- a checkpoint while L2 runs (examples/guests/x86_64/vmx_nested.c) ---- */

/* The example L1 hypervisor is a multiboot kernel on the hosted vCPU. */
static struct vmdl_vm *nested_vm(struct console_buf *con, struct vmdl_vmx_attach **h)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/x86_64/vmx_nested.elf", VMDL_GUEST_DIR);
    uint8_t *data;
    size_t size;
    assert_int_equal(vmdl_read_file(path, &data, &size), 0);
    struct vmdl_vm_config cfg = {.arch = VMDL_ARCH_X86_64, .console = console_capture,
                                 .console_opaque = con};
    struct vmdl_vm *vm = NULL;
    assert_int_equal(vmdl_vm_create(&cfg, &vm), 0);
    struct vmdl_mb_boot mb = {"vmx_nested", NULL, 0};
    assert_int_equal(vmdl_vm_load_multiboot(vm, data, size, &mb), 0);
    free(data);
    assert_int_equal(vmdl_attach_vmx_ex(vm, NULL, NULL, VMDL_VMX_ATTACH_FEATURE_CONTROL,
                                        h), 0);
    return vm;
}

#define NESTED_POINTS 32

struct nested_point {
    uint8_t *blob;
    size_t len;
    size_t console_at;          /* output before the checkpoint */
    uint64_t insns;
};

/*
 * Step the example through its run in strides, checkpointing at every stop
 * where L2 is running (in guest mode): entries, exits, the injected
 * interrupt, the EPT violations and the monitor trap flag fall between the
 * stops.  Each checkpoint restored into a fresh VM must print the rest of
 * the output and end with the digest of the uninterrupted run.
 */
static void test_split_while_l2_runs(void **state)
{
    (void)state;
    static struct console_buf whole, stepped, rest;
    memset(&whole, 0, sizeof(whole));
    memset(&stepped, 0, sizeof(stepped));
    struct vmdl_vmx_attach *h;
    struct vmdl_vm *vm = nested_vm(&whole, &h);
    int status = run_to_end(vm);
    uint32_t digest = vmdl_vm_state_digest(vm);
    vmdl_vm_destroy(vm);

    static struct nested_point pts[NESTED_POINTS];
    unsigned npts = 0;
    vm = nested_vm(&stepped, &h);
    struct vmdl_vcpu *v = vmdl_vm_vcpu(vm, 0);
    int end = -1;
    for (uint64_t n = 211; end < 0; n += 211) {
        vmdl_vm_set_limits(vm, n, 0);
        struct vmdl_exit e;
        assert_int_equal(vmdl_vm_run(vm, &e), 0);
        if (e.reason == VMDL_EXIT_SHUTDOWN) {
            end = e.u.shutdown.status;
            break;
        }
        assert_int_equal(e.reason, VMDL_EXIT_MAX_INSNS);
        if (!vmdl_vmx_in_guest_mode(vmdl_vmx_attach_vcpu(h, 0)) || npts == NESTED_POINTS)
            continue;
        struct nested_point *p = &pts[npts++];
        if (vmdl_vm_checkpoint_save(vm, &p->blob, &p->len))
            fail_msg("save at %llu: %s", (unsigned long long)n, vmdl_last_error());
        p->console_at = stepped.len;
        p->insns = vmdl_vcpu_insns(v);
    }
    /* Stopping and saving did not disturb the run. */
    assert_int_equal(end, status);
    assert_string_equal(stepped.data, whole.data);
    assert_int_equal(vmdl_vm_state_digest(vm), digest);
    vmdl_vm_destroy(vm);
    assert_true(npts >= 8);

    for (unsigned i = 0; i < npts; i++) {
        memset(&rest, 0, sizeof(rest));
        vm = nested_vm(&rest, &h);
        if (vmdl_vm_checkpoint_restore(vm, pts[i].blob, pts[i].len))
            fail_msg("restore at %llu: %s", (unsigned long long)pts[i].insns,
                     vmdl_last_error());
        assert_true(vmdl_vmx_in_guest_mode(vmdl_vmx_attach_vcpu(h, 0)));
        int s = run_to_end(vm);
        if (strcmp(rest.data, whole.data + pts[i].console_at) || s != status ||
            vmdl_vm_state_digest(vm) != digest)
            fail_msg("checkpoint at %llu instructions: status %d (want %d), digest "
                     "%08x (want %08x), output after it:\n%s\n--- want:\n%s",
                     (unsigned long long)pts[i].insns, s, status,
                     vmdl_vm_state_digest(vm), digest, rest.data,
                     whole.data + pts[i].console_at);
        vmdl_vm_destroy(vm);
        free(pts[i].blob);
    }
}

/* ---- hostile checkpoints of a running L2 ---- */

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

/* The nested state blob with this magic and version (its header). */
static size_t find_blob(const uint8_t *b, size_t len, uint32_t magic, uint32_t version)
{
    for (size_t i = VMDL_BLOB_HEADER_SIZE; i + VMDL_BLOB_HEADER_SIZE <= len; i++)
        if (get_le32(b + i) == magic && get_le32(b + i + 4) == version)
            return i;
    fail_msg("no blob %08x version %u in the checkpoint", magic, version);
    return 0;
}

/* A nested blob's CRC, then the container's, as if the file had been
 * written that way (so that the checks behind the CRCs are reached). */
static void fix_crcs(uint8_t *b, size_t len, size_t inner)
{
    size_t at[2] = {inner, 0};
    for (unsigned k = 0; k < 2; k++) {
        uint32_t n = at[k] ? get_le32(b + at[k] + 8) : (uint32_t)(len - VMDL_BLOB_HEADER_SIZE);
        uint32_t crc = vmdl_crc32(0, b + at[k] + VMDL_BLOB_HEADER_SIZE, n);
        for (int i = 0; i < 4; i++)
            b[at[k] + 12 + i] = (uint8_t)(crc >> (8 * i));
    }
}

static uint8_t *nested_checkpoint_in_l2(size_t *len)
{
    static struct console_buf con;
    memset(&con, 0, sizeof(con));
    struct vmdl_vmx_attach *h;
    struct vmdl_vm *vm = nested_vm(&con, &h);
    vmdl_vm_set_limits(vm, 43500, 0);
    struct vmdl_exit e;
    assert_int_equal(vmdl_vm_run(vm, &e), 0);
    assert_true(vmdl_vmx_in_guest_mode(vmdl_vmx_attach_vcpu(h, 0)));
    uint8_t *blob;
    assert_int_equal(vmdl_vm_checkpoint_save(vm, &blob, len), 0);
    vmdl_vm_destroy(vm);
    return blob;
}

/* The vmx glue's record claims what the model's state and the vCPU do not:
 * refused with the reason, never half-applied silently. */
static void test_nested_glue_record_must_agree(void **state)
{
    (void)state;
    size_t len;
    uint8_t *blob = nested_checkpoint_in_l2(&len);
    size_t g = find_blob(blob, len, VMDL_BLOB_MAGIC('G', 'V', 'M', 'X'), 2);
    /* After the header: the items blob (u32 length, bytes), then vCPU 0's
     * record, whose first byte is "L2 runs". */
    size_t active = g + VMDL_BLOB_HEADER_SIZE + 4 + get_le32(blob + g + VMDL_BLOB_HEADER_SIZE);
    assert_int_equal(blob[active], 1);
    static const struct { uint8_t val; const char *why; } cases[] = {
        {0, "says L2 does not run, the model's state is in guest mode"},
        {2, "out of range"},
    };
    for (unsigned i = 0; i < 2; i++) {
        struct console_buf con = {0};
        struct vmdl_vmx_attach *h;
        struct vmdl_vm *vm = nested_vm(&con, &h);
        blob[active] = cases[i].val;
        fix_crcs(blob, len, g);
        assert_int_equal(vmdl_vm_checkpoint_restore(vm, blob, len), VMDL_EBADBLOB);
        if (!strstr(vmdl_last_error(), cases[i].why))
            fail_msg("'%s' lacks '%s'", vmdl_last_error(), cases[i].why);
        vmdl_vm_destroy(vm);
    }
    free(blob);
}

/*
 * Damage of every kind a file can have: cut anywhere, a bit flipped (the
 * CRC), a newer format, another engine layout, and bytes of the hosted and
 * glue sections changed behind valid CRCs.  Each is refused or restores;
 * nothing crashes, and a VM that saw all of them still restores the good
 * file and finishes exactly as the uninterrupted run.
 */
static void test_nested_hostile_checkpoints(void **state)
{
    (void)state;
    static struct console_buf whole, con;
    memset(&whole, 0, sizeof(whole));
    struct vmdl_vmx_attach *h;
    struct vmdl_vm *vm = nested_vm(&whole, &h);
    int status = run_to_end(vm);
    uint32_t digest = vmdl_vm_state_digest(vm);
    vmdl_vm_destroy(vm);
    size_t len;
    uint8_t *blob = nested_checkpoint_in_l2(&len);
    memset(&con, 0, sizeof(con));
    vm = nested_vm(&con, &h);

    for (size_t n = 0; n < len; n += len / 61 + 1)
        assert_int_not_equal(vmdl_vm_checkpoint_restore(vm, blob, n), 0);
    for (size_t i = VMDL_BLOB_HEADER_SIZE; i < len; i += len / 53 + 1) {
        blob[i] ^= 0x04;
        assert_int_equal(vmdl_vm_checkpoint_restore(vm, blob, len), VMDL_EBADBLOB);
        blob[i] ^= 0x04;
    }
    blob[4] = VMDL_CHECKPOINT_VERSION + 1;
    assert_int_equal(vmdl_vm_checkpoint_restore(vm, blob, len), VMDL_EVERSION);
    assert_non_null(strstr(vmdl_last_error(), "reads versions 2 to"));
    blob[4] = VMDL_CHECKPOINT_VERSION;

    size_t x = find_blob(blob, len, VMDL_BLOB_MAGIC('X', 'H', 'C', 'K'), 2);
    blob[x + VMDL_BLOB_HEADER_SIZE] ^= 8;           /* the saved context's size */
    fix_crcs(blob, len, x);
    assert_int_equal(vmdl_vm_checkpoint_restore(vm, blob, len), VMDL_EBADBLOB);
    assert_non_null(strstr(vmdl_last_error(), "another engine build"));
    blob[x + VMDL_BLOB_HEADER_SIZE] ^= 8;

    /* As version 4 (no architecture section): a hosted VM needs one. */
    size_t xl = VMDL_BLOB_HEADER_SIZE + get_le32(blob + x + 8);
    uint8_t *v4 = malloc(len);
    assert_non_null(v4);
    memcpy(v4, blob, x - 4);
    memcpy(v4 + x - 4, blob + x + xl, len - (x + xl));
    size_t v4len = len - 4 - xl;
    v4[4] = 4;
    for (int i = 0; i < 4; i++)
        v4[8 + i] = (uint8_t)((v4len - VMDL_BLOB_HEADER_SIZE) >> (8 * i));
    fix_crcs(v4, v4len, 0);
    assert_int_equal(vmdl_vm_checkpoint_restore(vm, v4, v4len), VMDL_EINVAL);
    assert_non_null(strstr(vmdl_last_error(), "without hosted x86 vCPUs"));
    free(v4);

    /* Every byte of the glue's L2 record, a spread of its model blobs and
     * of the hosted section, changed behind valid CRCs. */
    size_t g = find_blob(blob, len, VMDL_BLOB_MAGIC('G', 'V', 'M', 'X'), 2);
    size_t rec = VMDL_BLOB_HEADER_SIZE + 4 + get_le32(blob + g + VMDL_BLOB_HEADER_SIZE);
    size_t glen = VMDL_BLOB_HEADER_SIZE + get_le32(blob + g + 8);
    for (size_t i = VMDL_BLOB_HEADER_SIZE; i < glen + xl; i += i < rec ? 97 : i < glen ? 1 : 997) {
        size_t at = i < glen ? g + i : x + (i - glen);
        size_t inner = i < glen ? g : x;
        if (at < inner + VMDL_BLOB_HEADER_SIZE)
            continue;
        blob[at] ^= 0xA5;
        fix_crcs(blob, len, inner);
        (void)vmdl_vm_checkpoint_restore(vm, blob, len);
        blob[at] ^= 0xA5;
    }
    fix_crcs(blob, len, g);
    fix_crcs(blob, len, x);

    memset(&con, 0, sizeof(con));
    assert_int_equal(vmdl_vm_checkpoint_restore(vm, blob, len), 0);
    assert_int_equal(run_to_end(vm), status);
    assert_int_equal(vmdl_vm_state_digest(vm), digest);
    vmdl_vm_destroy(vm);
    free(blob);
}

/* A restore leaves exactly the checkpoint's RAM: pages it does not hold
 * read as zero afterwards, whatever the VM had there (they are given back
 * to the host, not written: docs/performance.md). */
static void test_restore_zeroes_pages_not_in_the_checkpoint(void **state)
{
    (void)state;
    static const uint8_t hlt_loop[] = {0xEB, 0xFE}; /* jmp $ */
    struct vmdl_vm *a = vm_with_code(VMDL_ARCH_X86_64, hlt_loop, sizeof(hlt_loop), NULL);
    struct vmdl_vm *b = vm_with_code(VMDL_ARCH_X86_64, hlt_loop, sizeof(hlt_loop), NULL);
    assert_non_null(a);
    assert_non_null(b);
    uint64_t x = 0x200000, y = 0x300000, last = (16 << 20) - 4096;
    memset(vmdl_vm_ram_ptr(a, x, 4096), 0xA5, 4096);
    memset(vmdl_vm_ram_ptr(b, y, 4096), 0x5A, 4096);
    memset(vmdl_vm_ram_ptr(b, last, 4096), 0x77, 4096);
    uint8_t *blob;
    size_t len;
    assert_int_equal(vmdl_vm_checkpoint_save(a, &blob, &len), 0);
    assert_int_equal(vmdl_vm_checkpoint_restore(b, blob, len), 0);
    const uint8_t *px = vmdl_vm_ram_ptr(b, x, 4096), *py = vmdl_vm_ram_ptr(b, y, 4096),
                  *pl = vmdl_vm_ram_ptr(b, last, 4096);
    for (unsigned i = 0; i < 4096; i++) {
        assert_int_equal(px[i], 0xA5);
        assert_int_equal(py[i], 0);
        assert_int_equal(pl[i], 0);
    }
    assert_int_equal(vmdl_vm_state_digest(b), vmdl_vm_state_digest(a));
    free(blob);
    vmdl_vm_destroy(a);
    vmdl_vm_destroy(b);
}

static void test_refuses_bad_files(void **state)
{
    (void)state;
    struct console_buf con = {0};
    struct vmdl_vm *vm = guest_vm("x86_64/machine_faults.elf", 1, "lapic", &con);
    vmdl_vm_set_limits(vm, 3000, 0);
    struct vmdl_exit e;
    assert_int_equal(vmdl_vm_run(vm, &e), 0);
    uint8_t *blob;
    size_t len;
    assert_int_equal(vmdl_vm_checkpoint_save(vm, &blob, &len), 0);
    uint32_t before = vmdl_vm_state_digest(vm);

    /* Truncated anywhere. */
    for (size_t n = 0; n < len; n += len / 97 + 1)
        assert_int_not_equal(vmdl_vm_checkpoint_restore(vm, blob, n), 0);
    /* A flipped bit anywhere in the payload. */
    for (size_t i = VMDL_BLOB_HEADER_SIZE; i < len; i += len / 89 + 1) {
        blob[i] ^= 0x10;
        assert_int_equal(vmdl_vm_checkpoint_restore(vm, blob, len), VMDL_EBADBLOB);
        assert_non_null(strstr(vmdl_last_error(), "checksum"));
        blob[i] ^= 0x10;
    }
    /* Another format version (not 2, which is still read). */
    blob[4] ^= 0x10;
    assert_int_equal(vmdl_vm_checkpoint_restore(vm, blob, len), VMDL_EVERSION);
    blob[4] ^= 0x10;
    assert_int_equal(vmdl_vm_state_digest(vm), before); /* nothing changed */

    /* Another model set, another configuration, another image. */
    struct console_buf c2 = {0};
    struct vmdl_vm *other = guest_vm("x86_64/machine_faults.elf", 1, "none", &c2);
    assert_int_not_equal(vmdl_vm_checkpoint_restore(other, blob, len), 0);
    assert_non_null(strstr(vmdl_last_error(), "models"));
    vmdl_vm_destroy(other);
    other = guest_vm("x86_64/machine_faults.elf", 2, "lapic", &c2);
    assert_int_equal(vmdl_vm_checkpoint_restore(other, blob, len), VMDL_EINVAL);
    assert_non_null(strstr(vmdl_last_error(), "configuration"));
    vmdl_vm_destroy(other);
    other = guest_vm("x86_64/hello.elf", 1, "lapic", &c2);
    assert_int_equal(vmdl_vm_checkpoint_restore(other, blob, len), VMDL_EINVAL);
    assert_non_null(strstr(vmdl_last_error(), "image"));
    vmdl_vm_destroy(other);

    /* The good file still restores. */
    assert_int_equal(vmdl_vm_checkpoint_restore(vm, blob, len), 0);
    assert_int_equal(vmdl_vm_checkpoint_write(vm, "/nonexistent-dir/ck.bin"), VMDL_EIO);
    free(blob);
    vmdl_vm_destroy(vm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_x86_faults),
        cmocka_unit_test(test_split_smp),
        cmocka_unit_test(test_split_lapic_timer),
        cmocka_unit_test(test_split_vmx),
        cmocka_unit_test(test_split_gicv5),
        cmocka_unit_test(test_split_while_l2_runs),
        cmocka_unit_test(test_nested_glue_record_must_agree),
        cmocka_unit_test(test_nested_hostile_checkpoints),
        cmocka_unit_test(test_refuses_bad_files),
        cmocka_unit_test(test_restore_zeroes_pages_not_in_the_checkpoint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
