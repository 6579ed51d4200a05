/* SPDX-License-Identifier: MIT */
/*
 * GDB remote protocol: one command packet in, a reply or a resume request
 * out (gdb_proto.h).  Every parse is bounded by the packet length and the
 * reply buffer; anything malformed gets "E01"-style errors, never a crash.
 */
#include "core/gdb_proto.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_REG_BYTES 16

static enum vmdl_gdb_action reply(struct vmdl_gdb_session *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(s->reply, sizeof(s->reply), fmt, ap);
    va_end(ap);
    s->reply_len = n < 0 ? 0 : (size_t)n < sizeof(s->reply) ? (size_t)n
                                                             : sizeof(s->reply) - 1;
    return VMDL_GDB_REPLY;
}

static enum vmdl_gdb_action err(struct vmdl_gdb_session *s, int code)
{
    return reply(s, "E%02x", code & 0xFF);
}

int vmdl_gdb_session_init(struct vmdl_gdb_session *s, const struct vmdl_gdb_target *t)
{
    memset(s, 0, sizeof(*s));
    s->t = t;
    s->resume_thread = -1;
    s->last_stop.kind = VMDL_GDB_STOP_STEP; /* attached at a stop: SIGTRAP */
    if (!t || !t->regs || !t->nr_regs || !t->nr_threads || !t->arch_name)
        return -1;
    for (unsigned i = 0; i < t->nr_regs; i++)
        if (!t->regs[i].bits || t->regs[i].bits > 8 * MAX_REG_BYTES ||
            t->regs[i].bits % 8)
            return -1;
    s->xml_len = vmdl_gdb_build_xml(t, s->xml, sizeof(s->xml));
    return s->xml_len ? 0 : -1;
}

/* "thread id" in GDB's syntax: hex, -1 (all) or 0 (any).  0-based out. */
static bool parse_thread(const struct vmdl_gdb_session *s, const char **p, int *out)
{
    if (**p == '-' && (*p)[1] == '1') {
        *p += 2;
        *out = -1;
        return true;
    }
    uint64_t v;
    if (!vmdl_gdb_parse_hex(p, &v) || v > s->t->nr_threads)
        return false;
    *out = v == 0 ? 0 : (int)v - 1;
    return true;
}

static size_t reg_bytes(const struct vmdl_gdb_session *s, unsigned regno)
{
    return s->t->regs[regno].bits / 8;
}

/* Append register regno of the current thread in hex ('x' when unavailable). */
static bool put_reg(struct vmdl_gdb_session *s, unsigned regno, size_t *o)
{
    uint8_t buf[MAX_REG_BYTES];
    size_t n = reg_bytes(s, regno);
    if (*o + 2 * n + 1 > sizeof(s->reply))
        return false;
    if (s->t->read_reg && s->t->read_reg(s->t->opaque, s->g_thread, regno, buf))
        vmdl_gdb_hex_encode(buf, n, s->reply + *o);
    else
        memset(s->reply + *o, 'x', 2 * n);
    *o += 2 * n;
    s->reply[*o] = '\0';
    return true;
}

static enum vmdl_gdb_action cmd_g(struct vmdl_gdb_session *s)
{
    size_t o = 0;
    for (unsigned i = 0; i < s->t->nr_regs; i++)
        if (!put_reg(s, i, &o))
            return err(s, 0x0E);
    s->reply_len = o;
    return VMDL_GDB_REPLY;
}

static enum vmdl_gdb_action cmd_G(struct vmdl_gdb_session *s, const char *p, size_t len)
{
    size_t need = 0;
    for (unsigned i = 0; i < s->t->nr_regs; i++)
        need += 2 * reg_bytes(s, i);
    if (len != need)
        return err(s, 0x16);
    for (unsigned i = 0; i < s->t->nr_regs; i++) {
        uint8_t buf[MAX_REG_BYTES];
        size_t n = reg_bytes(s, i);
        /* 'x' (unavailable) registers are skipped. */
        if (p[0] != 'x' && (!vmdl_gdb_hex_decode(p, n, buf) || !s->t->write_reg ||
                            !s->t->write_reg(s->t->opaque, s->g_thread, i, buf)))
            return err(s, 0x16);
        p += 2 * n;
    }
    return reply(s, "OK");
}

static enum vmdl_gdb_action cmd_p(struct vmdl_gdb_session *s, const char *p)
{
    uint64_t regno;
    if (!vmdl_gdb_parse_hex(&p, &regno) || *p || regno >= s->t->nr_regs)
        return err(s, 0x16);
    size_t o = 0;
    if (!put_reg(s, (unsigned)regno, &o))
        return err(s, 0x0E);
    s->reply_len = o;
    return VMDL_GDB_REPLY;
}

static enum vmdl_gdb_action cmd_P(struct vmdl_gdb_session *s, const char *p)
{
    uint64_t regno;
    if (!vmdl_gdb_parse_hex(&p, &regno) || *p++ != '=' || regno >= s->t->nr_regs)
        return err(s, 0x16);
    uint8_t buf[MAX_REG_BYTES];
    size_t n = reg_bytes(s, (unsigned)regno);
    if (strlen(p) != 2 * n || !vmdl_gdb_hex_decode(p, n, buf))
        return err(s, 0x16);
    if (!s->t->write_reg || !s->t->write_reg(s->t->opaque, s->g_thread, (unsigned)regno, buf))
        return err(s, 0x0E);
    return reply(s, "OK");
}

/* "addr,len" followed by end or by `stop`. */
static bool parse_range(const char **p, uint64_t *addr, uint64_t *len, char stop)
{
    return vmdl_gdb_parse_hex(p, addr) && *(*p)++ == ',' &&
           vmdl_gdb_parse_hex(p, len) && **p == stop;
}

static enum vmdl_gdb_action cmd_m(struct vmdl_gdb_session *s, const char *p)
{
    uint64_t addr, len;
    if (!parse_range(&p, &addr, &len, '\0'))
        return err(s, 0x16);
    if (len > (sizeof(s->reply) - 1) / 2)
        len = (sizeof(s->reply) - 1) / 2;
    uint8_t buf[(VMDL_GDB_MAX_PACKET) / 2];
    size_t got = s->t->read_mem ? s->t->read_mem(s->t->opaque, s->g_thread, addr, buf,
                                                 (size_t)len)
                                : 0;
    if (!got && len)
        return err(s, 0x0E);
    vmdl_gdb_hex_encode(buf, got, s->reply);
    s->reply_len = 2 * got;
    return VMDL_GDB_REPLY;
}

static enum vmdl_gdb_action write_mem(struct vmdl_gdb_session *s, uint64_t addr,
                                      const uint8_t *data, size_t len)
{
    size_t done = len && s->t->write_mem
                      ? s->t->write_mem(s->t->opaque, s->g_thread, addr, data, len)
                      : 0;
    return done == len ? reply(s, "OK") : err(s, 0x0E);
}

static enum vmdl_gdb_action cmd_M(struct vmdl_gdb_session *s, const char *p)
{
    uint64_t addr, len;
    if (!parse_range(&p, &addr, &len, ':'))
        return err(s, 0x16);
    p++;
    uint8_t buf[VMDL_GDB_MAX_PACKET / 2];
    if (len > sizeof(buf) || strlen(p) != 2 * len || !vmdl_gdb_hex_decode(p, (size_t)len, buf))
        return err(s, 0x16);
    return write_mem(s, addr, buf, (size_t)len);
}

static enum vmdl_gdb_action cmd_X(struct vmdl_gdb_session *s, const char *pkt, size_t plen)
{
    const char *p = pkt + 1;
    uint64_t addr, len;
    if (!parse_range(&p, &addr, &len, ':'))
        return err(s, 0x16);
    p++;
    size_t have = plen - (size_t)(p - pkt);
    if (len != have)
        return err(s, 0x16);
    return write_mem(s, addr, (const uint8_t *)p, (size_t)len);
}

const struct vmdl_gdb_break *vmdl_gdb_find_break(const struct vmdl_gdb_session *s,
                                                 enum vmdl_gdb_bp_type type,
                                                 uint64_t addr, uint64_t len)
{
    for (unsigned i = 0; i < VMDL_GDB_MAX_BREAKS; i++) {
        const struct vmdl_gdb_break *b = &s->breaks[i];
        if (!b->used || b->type != type)
            continue;
        if (type <= VMDL_GDB_BP_HW ? b->addr == addr
                                   : addr < b->addr + b->len && b->addr < addr + len)
            return b;
    }
    return NULL;
}

static enum vmdl_gdb_action cmd_Z(struct vmdl_gdb_session *s, const char *p, bool insert)
{
    uint64_t type, addr, kind;
    if (!vmdl_gdb_parse_hex(&p, &type) || *p++ != ',' || !parse_range(&p, &addr, &kind, '\0'))
        return err(s, 0x16);
    if (type > VMDL_GDB_WP_ACCESS)
        return reply(s, "");   /* unsupported type: empty reply */
    if (type >= VMDL_GDB_WP_WRITE && (kind == 0 || kind > 4096 || addr + kind < addr))
        return err(s, 0x16);
    struct vmdl_gdb_break *slot = NULL;
    for (unsigned i = 0; i < VMDL_GDB_MAX_BREAKS; i++) {
        struct vmdl_gdb_break *b = &s->breaks[i];
        if (b->used && b->type == type && b->addr == addr && b->len == kind) {
            slot = b;
            break;
        }
        if (!b->used && !slot && insert)
            slot = b;
    }
    if (!insert) {
        if (!slot)
            return reply(s, "OK");   /* removing what is not there is fine */
        if (s->t->breaks_changed && !s->t->breaks_changed(s->t->opaque, slot, false))
            return err(s, 0x0E);
        slot->used = false;
        return reply(s, "OK");
    }
    if (!slot)
        return err(s, 0x0C);   /* table full */
    if (slot->used)
        return reply(s, "OK"); /* already inserted */
    struct vmdl_gdb_break b = { true, (enum vmdl_gdb_bp_type)type, addr, kind };
    if (s->t->breaks_changed && !s->t->breaks_changed(s->t->opaque, &b, true))
        return err(s, 0x0E);
    *slot = b;
    return reply(s, "OK");
}

/* c / s / vCont;action[:thread]... (the first action for a thread wins;
 * we run the VM as a whole and only single-step one vCPU). */
static enum vmdl_gdb_action cmd_vcont(struct vmdl_gdb_session *s, const char *p)
{
    s->resume_step = false;
    s->resume_thread = -1;
    bool any = false;
    while (*p == ';') {
        char a = p[1];
        p += 2;
        int thread = -1;
        if (a != 'c' && a != 's' && a != 'C' && a != 'S')
            return err(s, 0x16);
        if (a == 'C' || a == 'S') {   /* signal number: ignored */
            uint64_t sig;
            if (!vmdl_gdb_parse_hex(&p, &sig))
                return err(s, 0x16);
        }
        if (*p == ':') {
            p++;
            if (!parse_thread(s, &p, &thread))
                return err(s, 0x16);
        }
        if ((a == 's' || a == 'S') && !s->resume_step) {
            s->resume_step = true;
            s->resume_thread = thread >= 0 ? thread : (int)s->g_thread;
        }
        any = true;
    }
    if (*p || !any)
        return err(s, 0x16);
    return VMDL_GDB_RESUME;
}

static enum vmdl_gdb_action cmd_resume(struct vmdl_gdb_session *s, const char *p, bool step)
{
    /* c [addr] / s [addr]: resuming elsewhere is not supported. */
    if (*p)
        return err(s, 0x16);
    s->resume_step = step;
    s->resume_thread = step ? (int)s->g_thread : -1;
    return VMDL_GDB_RESUME;
}

static enum vmdl_gdb_action cmd_H(struct vmdl_gdb_session *s, const char *p)
{
    char op = *p++;
    int thread;
    if ((op != 'g' && op != 'c') || !parse_thread(s, &p, &thread) || *p)
        return err(s, 0x16);
    if (op == 'g' && thread >= 0)
        s->g_thread = (unsigned)thread;
    return reply(s, "OK");
}

static enum vmdl_gdb_action cmd_T(struct vmdl_gdb_session *s, const char *p)
{
    int thread;
    if (!parse_thread(s, &p, &thread) || *p || thread < 0)
        return err(s, 0x16);
    return reply(s, "OK");
}

static enum vmdl_gdb_action thread_list(struct vmdl_gdb_session *s)
{
    size_t o = 0;
    s->reply[o++] = 'm';
    for (unsigned i = 0; i < s->t->nr_threads; i++) {
        int n = snprintf(s->reply + o, sizeof(s->reply) - o, "%s%x", i ? "," : "", i + 1);
        if (n < 0 || (size_t)n >= sizeof(s->reply) - o)
            return err(s, 0x0E);
        o += (size_t)n;
    }
    s->reply_len = o;
    return VMDL_GDB_REPLY;
}

static enum vmdl_gdb_action xfer_features(struct vmdl_gdb_session *s, const char *p)
{
    static const char prefix[] = "target.xml:";
    if (strncmp(p, prefix, sizeof(prefix) - 1))
        return err(s, 0x00);
    p += sizeof(prefix) - 1;
    uint64_t off, len;
    if (!parse_range(&p, &off, &len, '\0'))
        return err(s, 0x16);
    if (off >= s->xml_len)
        return reply(s, "l");
    size_t n = s->xml_len - (size_t)off;
    if (len > sizeof(s->reply) - 2)
        len = sizeof(s->reply) - 2;
    bool last = n <= len;
    if (!last)
        n = (size_t)len;
    s->reply[0] = last ? 'l' : 'm';
    memcpy(s->reply + 1, s->xml + off, n);
    s->reply_len = n + 1;
    s->reply[s->reply_len] = '\0';
    return VMDL_GDB_REPLY;
}

static enum vmdl_gdb_action cmd_q(struct vmdl_gdb_session *s, const char *p)
{
    if (!strncmp(p, "qSupported", 10))
        return reply(s, "PacketSize=%x;qXfer:features:read+;swbreak+;hwbreak+;"
                     "vContSupported+;QStartNoAckMode+", VMDL_GDB_MAX_PACKET);
    if (!strncmp(p, "qXfer:features:read:", 20))
        return xfer_features(s, p + 20);
    if (!strcmp(p, "qfThreadInfo"))
        return thread_list(s);
    if (!strcmp(p, "qsThreadInfo"))
        return reply(s, "l");
    if (!strcmp(p, "qC"))
        return reply(s, "QC%x", s->last_stop.thread + 1);
    if (!strcmp(p, "qAttached"))
        return reply(s, "1");
    if (!strncmp(p, "qThreadExtraInfo,", 17)) {
        const char *q = p + 17;
        int thread;
        if (!parse_thread(s, &q, &thread) || *q || thread < 0)
            return err(s, 0x16);
        char text[96];
        snprintf(text, sizeof(text), "vCPU %d", thread);
        if (s->t->thread_info)
            s->t->thread_info(s->t->opaque, (unsigned)thread, text, sizeof(text));
        text[sizeof(text) - 1] = '\0';
        vmdl_gdb_hex_encode(text, strlen(text), s->reply);
        s->reply_len = 2 * strlen(text);
        return VMDL_GDB_REPLY;
    }
    if (!strcmp(p, "QStartNoAckMode")) {
        s->no_ack = true;
        return reply(s, "OK");
    }
    return reply(s, "");
}

enum vmdl_gdb_action vmdl_gdb_handle(struct vmdl_gdb_session *s, const char *pkt,
                                     size_t len)
{
    if (!len)
        return reply(s, "");
    /* Only X carries binary; everything else must be one C string. */
    if (pkt[0] != 'X' && strlen(pkt) != len)
        return err(s, 0x16);
    const char *p = pkt + 1;
    switch (pkt[0]) {
    case '?': {
        char o[2];
        vmdl_gdb_stop_reply(s, &s->last_stop, o);
        return VMDL_GDB_REPLY;
    }
    case 'g': return *p ? err(s, 0x16) : cmd_g(s);
    case 'G': return cmd_G(s, p, len - 1);
    case 'p': return cmd_p(s, p);
    case 'P': return cmd_P(s, p);
    case 'm': return cmd_m(s, p);
    case 'M': return cmd_M(s, p);
    case 'X': return cmd_X(s, pkt, len);
    case 'Z': return cmd_Z(s, p, true);
    case 'z': return cmd_Z(s, p, false);
    case 'c': return cmd_resume(s, p, false);
    case 's': return cmd_resume(s, p, true);
    case 'H': return cmd_H(s, p);
    case 'T': return cmd_T(s, p);
    case 'D': reply(s, "OK"); return VMDL_GDB_DETACH;
    case 'k': return VMDL_GDB_KILL;
    case 'q':
    case 'Q': return cmd_q(s, pkt);
    case 'v':
        if (!strcmp(pkt, "vCont?"))
            return reply(s, "vCont;c;C;s;S");
        if (!strncmp(pkt, "vCont;", 6))
            return cmd_vcont(s, pkt + 5);
        if (!strncmp(pkt, "vKill", 5)) {
            reply(s, "OK");
            return VMDL_GDB_DETACH;
        }
        return reply(s, "");
    default:
        return reply(s, "");
    }
}

void vmdl_gdb_stop_reply(struct vmdl_gdb_session *s, const struct vmdl_gdb_stop *st,
                         char *out_o)
{
    static const char *const watch[] = {
        [VMDL_GDB_WP_WRITE] = "watch", [VMDL_GDB_WP_READ] = "rwatch",
        [VMDL_GDB_WP_ACCESS] = "awatch",
    };
    s->last_stop = *st;
    s->last_stop.why[0] = '\0';
    out_o[0] = '\0';
    if (st->why[0]) {
        /* Console output: 'O' then the text in hex, within one packet. */
        size_t n = strnlen(st->why, sizeof(st->why));
        out_o[0] = 'O';
        vmdl_gdb_hex_encode(st->why, n, out_o + 1);
    }
    unsigned tid = st->thread + 1;
    switch (st->kind) {
    case VMDL_GDB_STOP_EXITED:
        reply(s, "W%02x", st->status & 0xFF);
        break;
    case VMDL_GDB_STOP_INTERRUPT:
        reply(s, "T02thread:%x;", tid);
        break;
    case VMDL_GDB_STOP_FAULT:
        reply(s, "T%02xthread:%x;", st->signal & 0xFF, tid);
        break;
    case VMDL_GDB_STOP_SWBREAK:
        reply(s, "T05thread:%x;swbreak:;", tid);
        break;
    case VMDL_GDB_STOP_HWBREAK:
        reply(s, "T05thread:%x;hwbreak:;", tid);
        break;
    case VMDL_GDB_STOP_WATCH:
        reply(s, "T05thread:%x;%s:%llx;", tid,
              st->watch >= VMDL_GDB_WP_WRITE && st->watch <= VMDL_GDB_WP_ACCESS
                  ? watch[st->watch] : "watch",
              (unsigned long long)st->addr);
        break;
    default:
        reply(s, "T05thread:%x;", tid);
        break;
    }
}
