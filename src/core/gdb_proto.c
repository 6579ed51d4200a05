/* SPDX-License-Identifier: MIT */
/*
 * GDB remote serial protocol: framing, hex, target.xml (gdb_proto.h).
 * The command session is in gdb_session.c.
 */
#include "core/gdb_proto.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum { RX_IDLE, RX_DATA, RX_CS1, RX_CS2 };

void vmdl_gdb_rx_init(struct vmdl_gdb_rx *rx)
{
    memset(rx, 0, sizeof(*rx));
}

int vmdl_gdb_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static enum vmdl_gdb_rx_event rx_idle(struct vmdl_gdb_rx *rx, uint8_t byte)
{
    switch (byte) {
    case '$':
        rx->state = RX_DATA;
        rx->len = 0;
        rx->sum = 0;
        rx->escape = false;
        rx->overflow = false;
        return VMDL_GDB_RX_NONE;
    case 0x03: return VMDL_GDB_RX_INTERRUPT;
    case '+': return VMDL_GDB_RX_ACK;
    case '-': return VMDL_GDB_RX_NACK;
    default: return VMDL_GDB_RX_NONE; /* noise between packets */
    }
}

static void rx_data(struct vmdl_gdb_rx *rx, uint8_t byte)
{
    if (byte == '#' && !rx->escape) {
        rx->state = RX_CS1;
        return;
    }
    rx->sum = (uint8_t)(rx->sum + byte);
    if (byte == '}' && !rx->escape) {
        rx->escape = true;
        return;
    }
    if (rx->escape) {
        byte ^= 0x20;
        rx->escape = false;
    }
    if (rx->len >= VMDL_GDB_MAX_PACKET) {
        rx->overflow = true;
        return;
    }
    rx->buf[rx->len++] = (char)byte;
}

enum vmdl_gdb_rx_event vmdl_gdb_rx_feed(struct vmdl_gdb_rx *rx, uint8_t byte)
{
    int h;
    switch (rx->state) {
    case RX_IDLE:
        return rx_idle(rx, byte);
    case RX_DATA:
        /* A '$' inside a packet restarts it: the sender gave up on the
         * previous one. */
        if (byte == '$' && !rx->escape)
            return rx_idle(rx, byte);
        rx_data(rx, byte);
        return VMDL_GDB_RX_NONE;
    case RX_CS1:
        h = vmdl_gdb_hexval(byte);
        rx->given = (uint8_t)((h < 0 ? 0 : h) << 4);
        rx->state = h < 0 ? RX_IDLE : RX_CS2;
        return h < 0 ? VMDL_GDB_RX_BAD : VMDL_GDB_RX_NONE;
    default:
        rx->state = RX_IDLE;
        h = vmdl_gdb_hexval(byte);
        if (h < 0 || (uint8_t)(rx->given | h) != rx->sum || rx->overflow)
            return VMDL_GDB_RX_BAD;
        rx->buf[rx->len] = '\0';
        return VMDL_GDB_RX_PACKET;
    }
}

size_t vmdl_gdb_frame(const void *payload, size_t len, char *out, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *p = payload;
    size_t o = 0;
    uint8_t sum = 0;
    if (cap < 4)
        return 0;
    out[o++] = '$';
    for (size_t i = 0; i < len; i++) {
        uint8_t c = p[i];
        bool esc = c == '#' || c == '$' || c == '}' || c == '*';
        if (o + (esc ? 2 : 1) + 3 > cap)
            return 0;
        if (esc) {
            out[o++] = '}';
            sum = (uint8_t)(sum + '}');
            c ^= 0x20;
        }
        out[o++] = (char)c;
        sum = (uint8_t)(sum + c);
    }
    out[o++] = '#';
    out[o++] = hex[sum >> 4];
    out[o++] = hex[sum & 15];
    return o;
}

void vmdl_gdb_hex_encode(const void *in, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *p = in;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[p[i] >> 4];
        out[2 * i + 1] = hex[p[i] & 15];
    }
    out[2 * n] = '\0';
}

bool vmdl_gdb_hex_decode(const char *in, size_t n, void *out)
{
    uint8_t *p = out;
    for (size_t i = 0; i < n; i++) {
        int hi = vmdl_gdb_hexval((unsigned char)in[2 * i]);
        int lo = hi < 0 ? -1 : vmdl_gdb_hexval((unsigned char)in[2 * i + 1]);
        if (lo < 0)
            return false;
        p[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

bool vmdl_gdb_parse_hex(const char **p, uint64_t *out)
{
    uint64_t v = 0;
    unsigned n = 0;
    int h;
    while ((h = vmdl_gdb_hexval((unsigned char)**p)) >= 0) {
        if (++n > 16)
            return false;
        v = v << 4 | (unsigned)h;
        (*p)++;
    }
    *out = v;
    return n > 0;
}

/* ---- target.xml ---- */

static bool appendf(char *buf, size_t cap, size_t *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *o, cap - *o, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap - *o)
        return false;
    *o += (size_t)n;
    return true;
}

size_t vmdl_gdb_build_xml(const struct vmdl_gdb_target *t, char *buf, size_t cap)
{
    size_t o = 0;
    if (!cap || !appendf(buf, cap, &o, "<?xml version=\"1.0\"?>\n<!DOCTYPE target "
                         "SYSTEM \"gdb-target.dtd\">\n<target version=\"1.0\">\n"
                         "<architecture>%s</architecture>\n", t->arch_name))
        return 0;
    const char *feature = NULL;
    for (unsigned i = 0; i < t->nr_regs; i++) {
        const struct vmdl_gdb_reg *r = &t->regs[i];
        if (!feature || strcmp(feature, r->feature)) {
            if (feature && !appendf(buf, cap, &o, "</feature>\n"))
                return 0;
            if (!appendf(buf, cap, &o, "<feature name=\"%s\">\n", r->feature))
                return 0;
            feature = r->feature;
        }
        if (!appendf(buf, cap, &o, "  <reg name=\"%s\" bitsize=\"%u\" type=\"%s\" "
                     "regnum=\"%u\"/>\n", r->name, r->bits, r->type, i))
            return 0;
    }
    if (feature && !appendf(buf, cap, &o, "</feature>\n"))
        return 0;
    return appendf(buf, cap, &o, "</target>\n") ? o : 0;
}
