/* SPDX-License-Identifier: MIT */
/*
 * fuzz_gdb: the GDB remote protocol layer (src/core/gdb_proto.h) on hostile
 * bytes from a debugger connection: the input is the byte stream, fed to
 * the packet receiver one byte at a time; every complete packet goes to
 * the command session over a fake target (two threads, registers, 4 KiB of
 * memory).  A resume is answered with a stop reply whose kind comes from
 * the packet's first byte.
 *
 * Invariants: the reply is NUL-terminated, reply_len is its length and
 * within VMDL_GDB_MAX_PACKET; the reply, framed, comes back through a fresh
 * receiver byte for byte; the breakpoint table never holds more than its
 * size; every stop reply is a T, W or S packet.
 */
#include "fuzz_util.h"

#include "../tests/gdb/gdb_fake_target.h"

static void check_reply(const struct vmdl_gdb_session *s)
{
    static char framed[2 * VMDL_GDB_MAX_PACKET + 8];
    static struct vmdl_gdb_rx rx;
    FZ_CHECK(s->reply_len <= VMDL_GDB_MAX_PACKET && s->reply[s->reply_len] == '\0',
             "reply length %zu out of bounds or not terminated", s->reply_len);
    size_t n = vmdl_gdb_frame(s->reply, s->reply_len, framed, sizeof(framed));
    FZ_CHECK(n, "a reply of %zu bytes does not frame", s->reply_len);
    vmdl_gdb_rx_init(&rx);
    enum vmdl_gdb_rx_event ev = VMDL_GDB_RX_NONE;
    for (size_t i = 0; i < n; i++)
        ev = vmdl_gdb_rx_feed(&rx, (uint8_t)framed[i]);
    FZ_CHECK(ev == VMDL_GDB_RX_PACKET && rx.len == s->reply_len &&
             !memcmp(rx.buf, s->reply, rx.len), "reply does not survive framing");
}

static void answer_resume(struct vmdl_gdb_session *s, uint8_t pick)
{
    static char o[VMDL_GDB_MAX_PACKET + 1];
    struct vmdl_gdb_stop st = {
        .kind = (enum vmdl_gdb_stop_kind)(pick % (VMDL_GDB_STOP_EXITED + 1)),
        .thread = pick % s->t->nr_threads, .signal = pick, .addr = pick * 0x1111ull,
        .watch = (enum vmdl_gdb_bp_type)(pick % 6), .status = pick,
    };
    memset(st.why, 'w', pick % sizeof(st.why));
    vmdl_gdb_stop_reply(s, &st, o);
    FZ_CHECK(s->reply[0] == 'T' || s->reply[0] == 'W' || s->reply[0] == 'S',
             "stop reply '%s'", s->reply);
    FZ_CHECK(!o[0] || (o[0] == 'O' && strlen(o) == 1 + 2 * strnlen(st.why, sizeof(st.why))),
             "console packet '%.20s'", o);
}

/* Seeds (fuzz/corpus/gdb): GDB sessions as a debugger sends them. */
static void write_session(const char *dir, const char *name, const char *const *pkts)
{
    static char buf[8192];
    size_t len = 0;
    for (; *pkts; pkts++) {
        size_t n = vmdl_gdb_frame(*pkts, strlen(*pkts), buf + len, sizeof(buf) - len - 2);
        len += n;
        buf[len++] = '+';
    }
    buf[len++] = 0x03;
    fz_save(dir, name, buf, len);
}

static void write_seeds(const char *dir)
{
    static const char *const session[] = {
        "qSupported:multiprocess+;swbreak+;hwbreak+", "QStartNoAckMode",
        "qXfer:features:read:target.xml:0,ffb", "?", "qfThreadInfo", "qsThreadInfo",
        "Hg1", "g", "p1", "P1=0010000000000000", "m1000,40", "M1000,2:abcd",
        "Z0,1004,1", "vCont;c", "z0,1004,1", "vCont;s:1", "qC", "D", NULL,
    };
    static const char *const breaks[] = {
        "Z2,1000,8", "Z3,1008,4", "Z4,1010,1", "Z1,40,1", "z2,1000,8", "c", "s", "k", NULL,
    };
    static const char *const binary[] = {
        "X1000,4:\x01}\x03#", "m1000,4", "qThreadExtraInfo,2", "T2", "Hg2",
        "G0000000000000000000000000000000000000000xxxxxxxxxxxxxxxxxxxx0000000000000000",
        NULL,
    };
    write_session(dir, "session", session);
    write_session(dir, "breaks", breaks);
    write_session(dir, "binary", binary);
}

FZ_SEED_WRITER_MAIN()

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fake f;
    static struct vmdl_gdb_target t;
    static struct vmdl_gdb_session s;
    static struct vmdl_gdb_rx rx;
    fake_target(&t, &f);
    FZ_CHECK(vmdl_gdb_session_init(&s, &t) == 0, "session init");
    vmdl_gdb_rx_init(&rx);
    for (size_t i = 0; i < size; i++) {
        enum vmdl_gdb_rx_event ev = vmdl_gdb_rx_feed(&rx, data[i]);
        if (ev != VMDL_GDB_RX_PACKET)
            continue;
        FZ_CHECK(rx.len <= VMDL_GDB_MAX_PACKET && rx.buf[rx.len] == '\0',
                 "packet length %zu", rx.len);
        enum vmdl_gdb_action a = vmdl_gdb_handle(&s, rx.buf, rx.len);
        if (a == VMDL_GDB_RESUME)
            answer_resume(&s, rx.len ? (uint8_t)rx.buf[0] : 0);
        if (a != VMDL_GDB_KILL)
            check_reply(&s);
        unsigned used = 0;
        for (unsigned b = 0; b < VMDL_GDB_MAX_BREAKS; b++)
            used += s.breaks[b].used;
        FZ_CHECK(used <= VMDL_GDB_MAX_BREAKS && s.g_thread < t.nr_threads,
                 "session state: %u breaks, thread %u", used, s.g_thread);
    }
    return 0;
}
