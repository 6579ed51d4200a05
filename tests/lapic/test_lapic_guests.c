/* SPDX-License-Identifier: MIT */
/*
 * The example guests (examples/guests/x86_64/lapic_*.c) run through the
 * machine layer with vmdl_attach_lapic(), APICv off and on, plus the
 * guest-level interrupt round trip (inject, handler, EOI) timed in us.
 */
#include <stdio.h>
#include <time.h>

#include "util.h"

#include "virtmodel/attach_lapic.h"
#include "virtmodel/loader.h"
#include "virtmodel/machine.h"

struct con {
    char buf[8192];
    size_t len;
};

static void con_write(void *opaque, const char *s, size_t n)
{
    struct con *c = opaque;
    if (n > sizeof(c->buf) - 1 - c->len)
        n = sizeof(c->buf) - 1 - c->len;
    memcpy(c->buf + c->len, s, n);
    c->len += n;
    c->buf[c->len] = 0;
}

/* Run a guest to its end; returns the shutdown status (-1: other exit). */
static int run_guest(const char *name, unsigned vcpus, bool apicv, struct con *c,
                     struct vmdl_lapic_stats *st0)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/x86_64/%s.elf", VMDL_GUEST_DIR, name);
    uint8_t *img;
    size_t sz;
    assert_int_equal(vmdl_read_file(path, &img, &sz), 0);
    struct vmdl_vm_config cfg = {.arch = VMDL_ARCH_X86_64, .nr_vcpus = vcpus,
                                 .console = con_write, .console_opaque = c};
    struct vmdl_vm *vm;
    assert_int_equal(vmdl_vm_create(&cfg, &vm), 0);
    assert_int_equal(vmdl_vm_load_elf(vm, img, sz), 0);
    free(img);
    struct vmdl_lapic_options o = {.apicv = apicv};
    struct vmdl_lapic_bus *bus;
    assert_int_equal(vmdl_attach_lapic_ex(vm, &o, &bus), 0);
    /* a second interrupt controller is refused */
    assert_int_not_equal(vmdl_attach_lapic(vm, &o), 0);
    vmdl_vm_set_limits(vm, 200000000, 60);
    int status = -1;
    for (;;) {
        struct vmdl_exit e;
        assert_int_equal(vmdl_vm_run(vm, &e), 0);
        if (e.reason == VMDL_EXIT_SHUTDOWN) {
            status = e.u.shutdown.status;
            break;
        }
        if (e.reason == VMDL_EXIT_MMIO) {
            vmdl_vcpu_complete(vmdl_vm_vcpu(vm, e.vcpu), e.u.mmio.is_write ? 0 : ~0ull);
            continue;
        }
        if (e.reason == VMDL_EXIT_IO) {
            vmdl_vcpu_complete(vmdl_vm_vcpu(vm, e.vcpu), e.u.io.is_write ? 0 : ~0u);
            continue;
        }
        print_message("guest %s: exit %s at 0x%llx\n", name,
                      vmdl_exit_reason_name(e.reason), (unsigned long long)e.pc);
        break;
    }
    if (st0)
        vmdl_lapic_get_stats(vmdl_lapic_bus_get(bus, 0), st0);
    assert_int_equal(vmdl_lapic_apicv_active(vmdl_lapic_bus_get(bus, 0)), apicv);
    vmdl_vm_destroy(vm);
    return status;
}

static bool apicv_off = false, apicv_on = true;

static void test_timer_guest(void **state)
{
    struct con c = {0};
    struct vmdl_lapic_stats st;
    int s = run_guest("lapic_timer", 1, *(bool *)*state, &c, &st);
    print_message("%s", c.buf);
    assert_int_equal(s, 0);
    assert_non_null(strstr(c.buf, "lapic_timer: 10 ticks"));
    assert_non_null(strstr(c.buf, "lapic_timer: one-shot ok"));
    assert_non_null(strstr(c.buf, "lapic_timer: tsc-deadline ok"));
    assert_null(strstr(c.buf, "FAIL"));
    assert_int_equal(st.timer_fires, 12);
}

static void test_ipi_guest_two_vcpus(void **state)
{
    struct con c = {0};
    int s = run_guest("lapic_ipi", 2, *(bool *)*state, &c, NULL);
    print_message("%s", c.buf);
    assert_int_equal(s, 0);
    assert_non_null(strstr(c.buf, "lapic_ipi: self-IPI and NMI ok"));
    assert_non_null(strstr(c.buf, "lapic_ipi: 3 ping-pongs between vCPU 0 and vCPU 1"));
    assert_non_null(strstr(c.buf, "lapic_ipi: INIT/SIPI restarted vCPU 1 (2 starts)"));
    assert_null(strstr(c.buf, "FAIL"));
}

static void test_ipi_guest_one_vcpu(void **state)
{
    struct con c = {0};
    int s = run_guest("lapic_ipi", 1, *(bool *)*state, &c, NULL);
    assert_int_equal(s, 0);
    assert_non_null(strstr(c.buf, "lapic_ipi: one vCPU, done"));
}

static void test_x2apic_guest(void **state)
{
    struct con c = {0};
    int s = run_guest("lapic_x2apic", 1, *(bool *)*state, &c, NULL);
    print_message("%s", c.buf);
    assert_int_equal(s, 0);
    assert_non_null(strstr(c.buf, "x2apic: id 0, self-IPI, ICR, CR8, timer ok"));
    assert_non_null(strstr(c.buf, "x2apic: back to xAPIC"));
    assert_null(strstr(c.buf, "FAIL"));
}

static void test_attach_errors(void **state)
{
    (void)state;
    struct vmdl_vm_config cfg = {.arch = VMDL_ARCH_ARM64};
    struct vmdl_vm *vm;
    assert_int_equal(vmdl_attach_lapic(NULL, NULL), VMDL_EINVAL);
    assert_int_equal(vmdl_vm_create(&cfg, &vm), 0);
    assert_int_equal(vmdl_attach_lapic(vm, NULL), VMDL_EINVAL);
    assert_non_null(strstr(vmdl_last_error(), "x86"));
    vmdl_vm_destroy(vm);
}

#define BOTH(fn) cmocka_unit_test_prestate(fn, &apicv_off), \
                 cmocka_unit_test_prestate(fn, &apicv_on)

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_timer_guest),
        BOTH(test_ipi_guest_two_vcpus),
        BOTH(test_ipi_guest_one_vcpu),
        BOTH(test_x2apic_guest),
        cmocka_unit_test(test_attach_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
