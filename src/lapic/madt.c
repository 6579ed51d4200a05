/* SPDX-License-Identifier: MIT */
/* ACPI MADT builder (see include/virtmodel/lapic_madt.h for the layout). */
#include <stdlib.h>
#include <string.h>

#include "virtmodel/error.h"
#include "virtmodel/lapic_madt.h"
#include "lapic_priv.h"

struct tb {
    uint8_t *p;
    size_t len;
};

static void put(struct tb *t, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        t->p[t->len++] = (uint8_t)(v >> (8 * i));
}

static void put_str(struct tb *t, const char *s, unsigned n)
{
    size_t l = strlen(s);
    for (unsigned i = 0; i < n; i++)
        t->p[t->len++] = i < l ? (uint8_t)s[i] : ' ';
}

static bool needs_x2apic(uint32_t id)
{
    return id >= 255; /* 0xFF is the xAPIC broadcast ID */
}

int vmdl_madt_build(const struct vmdl_madt_config *cfg, uint8_t **out,
                    size_t *len)
{
    if (!cfg || !out || !len)
        return vmdl_fail(VMDL_EINVAL, "vmdl_madt_build: NULL argument");
    if (!cfg->cpus || cfg->nr_cpus == 0 || cfg->nr_cpus > VMDL_LAPIC_BUS_MAX)
        return vmdl_fail(VMDL_ERANGE, "vmdl_madt_build: nr_cpus %u not in 1..%u",
                         cfg->nr_cpus, VMDL_LAPIC_BUS_MAX);
    if ((cfg->oem_id && strlen(cfg->oem_id) > 6) ||
        (cfg->oem_table_id && strlen(cfg->oem_table_id) > 8))
        return vmdl_fail(VMDL_EINVAL, "vmdl_madt_build: OEM ID longer than 6 "
                                      "or OEM table ID longer than 8");
    size_t size = VMDL_MADT_HEADER_SIZE;
    bool any_lapic = false, any_x2 = false;
    for (unsigned i = 0; i < cfg->nr_cpus; i++) {
        const struct vmdl_madt_cpu *c = &cfg->cpus[i];
        if (c->apic_id == 0xFFFFFFFFu)
            return vmdl_fail(VMDL_ERANGE, "vmdl_madt_build: cpus[%u] has the "
                                          "broadcast APIC ID", i);
        for (unsigned j = 0; j < i; j++)
            if (cfg->cpus[j].apic_id == c->apic_id)
                return vmdl_fail(VMDL_EINVAL, "vmdl_madt_build: cpus[%u] repeats "
                                              "the APIC ID of cpus[%u]", i, j);
        if (needs_x2apic(c->apic_id)) {
            size += 16;
            any_x2 = true;
        } else {
            if (c->uid > 0xFF)
                return vmdl_fail(VMDL_ERANGE, "vmdl_madt_build: cpus[%u] UID %u "
                                              "does not fit a Local APIC entry", i,
                                 c->uid);
            size += 8;
            any_lapic = true;
        }
    }
    if ((cfg->nr_ioapics && !cfg->ioapics) || (cfg->nr_isos && !cfg->isos) ||
        cfg->nr_ioapics > 16 || cfg->nr_isos > 16)
        return vmdl_fail(VMDL_EINVAL, "vmdl_madt_build: I/O APIC or override list "
                                      "missing or longer than 16");
    size += 12 * cfg->nr_ioapics + 10 * cfg->nr_isos;
    if (cfg->lint1_nmi)
        size += (any_lapic ? 6 : 0) + (any_x2 ? 12 : 0);
    struct tb t = {calloc(1, size), 0};
    if (!t.p)
        return vmdl_fail(VMDL_ENOMEM, "vmdl_madt_build: out of memory");
    put_str(&t, "APIC", 4);
    put(&t, size, 4);
    put(&t, cfg->revision ? cfg->revision : 5, 1);
    put(&t, 0, 1); /* checksum, below */
    put_str(&t, cfg->oem_id ? cfg->oem_id : "VMDL", 6);
    put_str(&t, cfg->oem_table_id ? cfg->oem_table_id : "VIRTMODL", 8);
    put(&t, 1, 4);            /* OEM revision */
    put_str(&t, "VMDL", 4);   /* creator ID */
    put(&t, 1, 4);            /* creator revision */
    put(&t, cfg->lapic_addr ? cfg->lapic_addr : (uint32_t)VMDL_LAPIC_DEFAULT_BASE, 4);
    put(&t, cfg->no_pcat_compat ? 0 : VMDL_MADT_PCAT_COMPAT, 4);
    for (unsigned i = 0; i < cfg->nr_cpus; i++) {
        const struct vmdl_madt_cpu *c = &cfg->cpus[i];
        uint32_t flags = c->enabled ? VMDL_MADT_CPU_ENABLED
                         : c->online_capable ? VMDL_MADT_CPU_ONLINE_CAPABLE : 0;
        if (needs_x2apic(c->apic_id)) {
            put(&t, VMDL_MADT_TYPE_X2APIC, 1);
            put(&t, 16, 1);
            put(&t, 0, 2);
            put(&t, c->apic_id, 4);
            put(&t, flags, 4);
            put(&t, c->uid, 4);
        } else {
            put(&t, VMDL_MADT_TYPE_LAPIC, 1);
            put(&t, 8, 1);
            put(&t, c->uid, 1);
            put(&t, c->apic_id, 1);
            put(&t, flags, 4);
        }
    }
    for (unsigned i = 0; i < cfg->nr_ioapics; i++) {
        put(&t, VMDL_MADT_TYPE_IOAPIC, 1);
        put(&t, 12, 1);
        put(&t, cfg->ioapics[i].id, 1);
        put(&t, 0, 1);
        put(&t, cfg->ioapics[i].addr, 4);
        put(&t, cfg->ioapics[i].gsi_base, 4);
    }
    for (unsigned i = 0; i < cfg->nr_isos; i++) {
        put(&t, VMDL_MADT_TYPE_ISO, 1);
        put(&t, 10, 1);
        put(&t, 0, 1);    /* bus: ISA */
        put(&t, cfg->isos[i].source, 1);
        put(&t, cfg->isos[i].gsi, 4);
        put(&t, cfg->isos[i].flags, 2);
    }
    if (cfg->lint1_nmi && any_lapic) {
        put(&t, VMDL_MADT_TYPE_LAPIC_NMI, 1);
        put(&t, 6, 1);
        put(&t, 0xFF, 1); /* all processors */
        put(&t, 0, 2);    /* flags: conforming polarity and trigger */
        put(&t, 1, 1);    /* LINT1 */
    }
    if (cfg->lint1_nmi && any_x2) {
        put(&t, VMDL_MADT_TYPE_X2APIC_NMI, 1);
        put(&t, 12, 1);
        put(&t, 0, 2);
        put(&t, 0xFFFFFFFFu, 4);
        put(&t, 1, 1);
        put(&t, 0, 3);
    }
    uint8_t sum = 0;
    for (size_t i = 0; i < size; i++)
        sum = (uint8_t)(sum + t.p[i]);
    t.p[9] = (uint8_t)(0x100 - sum);
    *out = t.p;
    *len = size;
    return 0;
}

int vmdl_madt_build_for_bus(struct vmdl_lapic_bus *bus, uint8_t **out,
                            size_t *len)
{
    if (!bus)
        return vmdl_fail(VMDL_EINVAL, "vmdl_madt_build_for_bus: NULL bus");
    struct vmdl_madt_cpu cpus[VMDL_LAPIC_BUS_MAX];
    for (unsigned i = 0; i < bus->n; i++)
        cpus[i] = (struct vmdl_madt_cpu){bus->apics[i]->initial_id, i, true, false};
    struct vmdl_madt_config cfg = {.cpus = cpus, .nr_cpus = bus->n, .lint1_nmi = true};
    return vmdl_madt_build(&cfg, out, len);
}

int vmdl_madt_check(const uint8_t *t, size_t len)
{
    if (!t)
        return vmdl_fail(VMDL_EINVAL, "vmdl_madt_check: NULL table");
    if (len < VMDL_MADT_HEADER_SIZE || memcmp(t, "APIC", 4))
        return vmdl_fail(VMDL_EFORMAT, "vmdl_madt_check: not an MADT");
    uint32_t l = (uint32_t)t[4] | (uint32_t)t[5] << 8 | (uint32_t)t[6] << 16 |
                 (uint32_t)t[7] << 24;
    if (l != len)
        return vmdl_fail(VMDL_EFORMAT, "vmdl_madt_check: length field %u, size %zu",
                         l, len);
    uint8_t sum = 0;
    for (size_t i = 0; i < len; i++)
        sum = (uint8_t)(sum + t[i]);
    if (sum)
        return vmdl_fail(VMDL_EFORMAT, "vmdl_madt_check: checksum off by %u", sum);
    for (size_t p = VMDL_MADT_HEADER_SIZE; p < len;) {
        if (len - p < 2 || t[p + 1] < 2 || t[p + 1] > len - p)
            return vmdl_fail(VMDL_EFORMAT, "vmdl_madt_check: bad entry at %zu", p);
        p += t[p + 1];
    }
    return 0;
}
