/* SPDX-License-Identifier: MIT */
/* ACPI MADT builder: header, checksum, entry types, x2APIC entries for IDs
 * >= 255, NMI entries, errors. */
#include "util.h"

#include "virtmodel/lapic_madt.h"

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static void test_small_table(void **state)
{
    (void)state;
    struct vmdl_madt_cpu cpus[2] = {{0, 0, true, false}, {1, 1, false, true}};
    struct vmdl_madt_config c = {.cpus = cpus, .nr_cpus = 2};
    uint8_t *t;
    size_t len;
    assert_int_equal(vmdl_madt_build(&c, &t, &len), 0);
    assert_int_equal(len, 44 + 2 * 8);
    assert_memory_equal(t, "APIC", 4);
    assert_int_equal(le32(t + 4), len);
    assert_int_equal(t[8], 5);
    assert_memory_equal(t + 10, "VMDL  ", 6);
    assert_memory_equal(t + 16, "VIRTMODL", 8);
    assert_int_equal(le32(t + 36), 0xFEE00000u);
    assert_int_equal(le32(t + 40), VMDL_MADT_PCAT_COMPAT);
    uint8_t sum = 0;
    for (size_t i = 0; i < len; i++)
        sum = (uint8_t)(sum + t[i]);
    assert_int_equal(sum, 0);
    /* type 0: type, length, UID, APIC ID, flags */
    assert_int_equal(t[44], 0);
    assert_int_equal(t[45], 8);
    assert_int_equal(t[46], 0);
    assert_int_equal(t[47], 0);
    assert_int_equal(le32(t + 48), VMDL_MADT_CPU_ENABLED);
    assert_int_equal(t[54], 1);
    assert_int_equal(t[55], 1);
    assert_int_equal(le32(t + 56), VMDL_MADT_CPU_ONLINE_CAPABLE);
    assert_int_equal(vmdl_madt_check(t, len), 0);
    /* corrupt one byte: checksum fails */
    t[50] ^= 1;
    assert_int_equal(vmdl_madt_check(t, len), VMDL_EFORMAT);
    assert_non_null(strstr(vmdl_last_error(), "checksum"));
    t[50] ^= 1;
    assert_int_equal(vmdl_madt_check(t, len - 1), VMDL_EFORMAT);
    free(t);
}

static void test_x2apic_entries_and_nmi(void **state)
{
    (void)state;
    struct vmdl_madt_cpu cpus[3] = {{254, 0, true, false}, {255, 1, true, false},
                                    {0x1000, 300, true, false}};
    struct vmdl_madt_config c = {.cpus = cpus, .nr_cpus = 3, .lint1_nmi = true,
                                 .no_pcat_compat = true, .revision = 3,
                                 .oem_id = "QEMU", .oem_table_id = "TEST",
                                 .lapic_addr = 0xFED00000};
    uint8_t *t;
    size_t len;
    assert_int_equal(vmdl_madt_build(&c, &t, &len), 0);
    assert_int_equal(len, 44 + 8 + 16 + 16 + 6 + 12);
    assert_int_equal(t[8], 3);
    assert_int_equal(le32(t + 36), 0xFED00000u);
    assert_int_equal(le32(t + 40), 0);
    assert_memory_equal(t + 10, "QEMU  ", 6);
    /* 254 still fits a type 0 entry; 255 (broadcast) needs type 9 */
    assert_int_equal(t[44], VMDL_MADT_TYPE_LAPIC);
    assert_int_equal(t[47], 254);
    const uint8_t *e = t + 52;
    assert_int_equal(e[0], VMDL_MADT_TYPE_X2APIC);
    assert_int_equal(e[1], 16);
    assert_int_equal(le32(e + 4), 255);
    assert_int_equal(le32(e + 8), 1);
    assert_int_equal(le32(e + 12), 1);
    e += 16;
    assert_int_equal(le32(e + 4), 0x1000);
    assert_int_equal(le32(e + 12), 300);
    e += 16;
    assert_int_equal(e[0], VMDL_MADT_TYPE_LAPIC_NMI);
    assert_int_equal(e[2], 0xFF);
    assert_int_equal(e[5], 1);
    e += 6;
    assert_int_equal(e[0], VMDL_MADT_TYPE_X2APIC_NMI);
    assert_int_equal(le32(e + 4), 0xFFFFFFFFu);
    assert_int_equal(e[8], 1);
    assert_int_equal(vmdl_madt_check(t, len), 0);
    free(t);
}

static void test_for_bus(void **state)
{
    (void)state;
    uint32_t ids[3] = {0, 2, 300};
    struct vmdl_lapic_bus_config c = {.nr_apics = 3, .x2apic = true, .apic_ids = ids};
    struct vmdl_lapic_bus *bus;
    assert_int_equal(vmdl_lapic_bus_create(&c, &bus), 0);
    uint8_t *t;
    size_t len;
    assert_int_equal(vmdl_madt_build_for_bus(bus, &t, &len), 0);
    assert_int_equal(len, 44 + 8 + 8 + 16 + 6 + 12);
    assert_int_equal(t[44 + 8 + 3], 2);
    assert_int_equal(le32(t + 44 + 16 + 4), 300);
    assert_int_equal(vmdl_madt_check(t, len), 0);
    free(t);
    vmdl_lapic_bus_destroy(bus);
}

static void test_ioapic_and_overrides(void **state)
{
    (void)state;
    struct vmdl_madt_cpu cpus[1] = {{0, 0, true, false}};
    struct vmdl_madt_ioapic io = {3, 0xFEC00000u, 0};
    struct vmdl_madt_iso isos[2] = {{0, 2, 0}, {9, 9, 0xD}};
    struct vmdl_madt_config c = {.cpus = cpus, .nr_cpus = 1, .ioapics = &io,
                                 .nr_ioapics = 1, .isos = isos, .nr_isos = 2};
    uint8_t *t;
    size_t len;
    assert_int_equal(vmdl_madt_build(&c, &t, &len), 0);
    assert_int_equal(len, 44 + 8 + 12 + 2 * 10);
    assert_int_equal(vmdl_madt_check(t, len), 0);
    const uint8_t *e = t + 52;           /* after the Local APIC entry */
    assert_int_equal(e[0], VMDL_MADT_TYPE_IOAPIC);
    assert_int_equal(e[1], 12);
    assert_int_equal(e[2], 3);
    assert_int_equal(le32(e + 4), 0xFEC00000u);
    assert_int_equal(le32(e + 8), 0);
    e += 12;
    assert_int_equal(e[0], VMDL_MADT_TYPE_ISO);
    assert_int_equal(e[1], 10);
    assert_int_equal(e[2], 0);           /* ISA */
    assert_int_equal(e[3], 0);           /* IRQ 0 */
    assert_int_equal(le32(e + 4), 2);    /* GSI 2 */
    assert_int_equal(e[8] | e[9] << 8, 0);
    e += 10;
    assert_int_equal(e[3], 9);
    assert_int_equal(e[8] | e[9] << 8, 0xD);
    free(t);
    c.isos = NULL;
    assert_int_equal(vmdl_madt_build(&c, &t, &len), VMDL_EINVAL);
}

static void test_errors(void **state)
{
    (void)state;
    uint8_t *t;
    size_t len;
    struct vmdl_madt_cpu cpus[2] = {{1, 0, true, false}, {1, 1, true, false}};
    struct vmdl_madt_config c = {.cpus = cpus, .nr_cpus = 2};
    assert_int_equal(vmdl_madt_build(&c, &t, &len), VMDL_EINVAL);
    assert_non_null(strstr(vmdl_last_error(), "repeats"));
    c.nr_cpus = 0;
    assert_int_equal(vmdl_madt_build(&c, &t, &len), VMDL_ERANGE);
    cpus[1] = (struct vmdl_madt_cpu){5, 256, true, false};
    c.nr_cpus = 2;
    assert_int_equal(vmdl_madt_build(&c, &t, &len), VMDL_ERANGE);
    cpus[1] = (struct vmdl_madt_cpu){0xFFFFFFFF, 1, true, false};
    assert_int_equal(vmdl_madt_build(&c, &t, &len), VMDL_ERANGE);
    cpus[1].apic_id = 5;
    c.oem_id = "TOOLONG";
    assert_int_equal(vmdl_madt_build(&c, &t, &len), VMDL_EINVAL);
    assert_int_equal(vmdl_madt_build(NULL, &t, &len), VMDL_EINVAL);
    assert_int_equal(vmdl_madt_build_for_bus(NULL, &t, &len), VMDL_EINVAL);
    assert_int_equal(vmdl_madt_check(NULL, 0), VMDL_EINVAL);
    assert_int_equal(vmdl_madt_check((const uint8_t *)"FACP", 4), VMDL_EFORMAT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_table),
        cmocka_unit_test(test_x2apic_entries_and_nmi),
        cmocka_unit_test(test_for_bus),
        cmocka_unit_test(test_ioapic_and_overrides),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
