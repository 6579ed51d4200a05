/* SPDX-License-Identifier: MIT */
/*
 * The GDB remote protocol layer (src/core/gdb_proto.h) against a fake
 * target: framing, checksums, escapes, Ctrl-C, hex, target.xml, and every
 * command the stub answers, with malformed variants.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "gdb/gdb_fake_target.h"

static enum vmdl_gdb_rx_event feed(struct vmdl_gdb_rx *rx, const char *s, size_t n)
{
    enum vmdl_gdb_rx_event ev = VMDL_GDB_RX_NONE;
    for (size_t i = 0; i < n; i++) {
        ev = vmdl_gdb_rx_feed(rx, (uint8_t)s[i]);
        if (ev != VMDL_GDB_RX_NONE && i + 1 < n)
            fail_msg("event %d before the end (byte %zu)", ev, i);
    }
    return ev;
}

static void test_rx_checks_checksum(void **state)
{
    (void)state;
    struct vmdl_gdb_rx rx;
    vmdl_gdb_rx_init(&rx);
    /* 'g' = 0x67. */
    assert_int_equal(feed(&rx, "$g#67", 5), VMDL_GDB_RX_PACKET);
    assert_string_equal(rx.buf, "g");
    assert_int_equal(feed(&rx, "$g#68", 5), VMDL_GDB_RX_BAD);
    assert_int_equal(feed(&rx, "$g#6z", 5), VMDL_GDB_RX_BAD);
    assert_int_equal(feed(&rx, "$g#z", 4), VMDL_GDB_RX_BAD);
    /* Upper-case checksum digits are accepted. */
    assert_int_equal(feed(&rx, "$m0,1#FA", 8), VMDL_GDB_RX_PACKET);
    assert_string_equal(rx.buf, "m0,1");
}

static void test_rx_acks_interrupt_and_noise(void **state)
{
    (void)state;
    struct vmdl_gdb_rx rx;
    vmdl_gdb_rx_init(&rx);
    assert_int_equal(vmdl_gdb_rx_feed(&rx, '+'), VMDL_GDB_RX_ACK);
    assert_int_equal(vmdl_gdb_rx_feed(&rx, '-'), VMDL_GDB_RX_NACK);
    assert_int_equal(vmdl_gdb_rx_feed(&rx, 0x03), VMDL_GDB_RX_INTERRUPT);
    assert_int_equal(vmdl_gdb_rx_feed(&rx, 'x'), VMDL_GDB_RX_NONE);
    /* 0x03 inside a packet is data, not an interrupt; a '$' restarts. */
    assert_int_equal(feed(&rx, "$ab\x03", 4), VMDL_GDB_RX_NONE);
    assert_int_equal(feed(&rx, "$g#67", 5), VMDL_GDB_RX_PACKET);
}

static void test_rx_unescapes(void **state)
{
    (void)state;
    struct vmdl_gdb_rx rx;
    vmdl_gdb_rx_init(&rx);
    /* X payload with '}' '#' escaped: "}]" -> '}', "}\x03" -> '#'.  The
     * checksum covers the escaped bytes. */
    const char body[] = "X0,2:}]}\x03";
    unsigned sum = 0;
    for (size_t i = 0; i < sizeof(body) - 1; i++)
        sum += (uint8_t)body[i];
    char pkt[64];
    int n = snprintf(pkt, sizeof(pkt), "$%s#%02x", body, sum & 0xFF);
    assert_int_equal(feed(&rx, pkt, (size_t)n), VMDL_GDB_RX_PACKET);
    assert_int_equal(rx.len, 7);
    assert_memory_equal(rx.buf, "X0,2:}#", 7);
}

static void test_rx_refuses_oversized(void **state)
{
    (void)state;
    static struct vmdl_gdb_rx rx;
    vmdl_gdb_rx_init(&rx);
    assert_int_equal(vmdl_gdb_rx_feed(&rx, '$'), VMDL_GDB_RX_NONE);
    unsigned sum = 0;
    for (unsigned i = 0; i < VMDL_GDB_MAX_PACKET + 10; i++) {
        assert_int_equal(vmdl_gdb_rx_feed(&rx, 'a'), VMDL_GDB_RX_NONE);
        sum += 'a';
    }
    char cs[3];
    snprintf(cs, sizeof(cs), "%02x", sum & 0xFF);
    vmdl_gdb_rx_feed(&rx, '#');
    vmdl_gdb_rx_feed(&rx, (uint8_t)cs[0]);
    assert_int_equal(vmdl_gdb_rx_feed(&rx, (uint8_t)cs[1]), VMDL_GDB_RX_BAD);
}

static void test_frame_escapes_and_round_trips(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(vmdl_gdb_frame("OK", 2, out, sizeof(out)), 6);
    assert_memory_equal(out, "$OK#9a", 6);
    const char bin[] = {'a', '#', '$', '}', '*', 0, 'z'};
    size_t n = vmdl_gdb_frame(bin, sizeof(bin), out, sizeof(out));
    assert_int_equal(n, 1 + 7 + 4 + 3);
    struct vmdl_gdb_rx rx;
    vmdl_gdb_rx_init(&rx);
    assert_int_equal(feed(&rx, out, n), VMDL_GDB_RX_PACKET);
    assert_int_equal(rx.len, sizeof(bin));
    assert_memory_equal(rx.buf, bin, sizeof(bin));
    assert_int_equal(vmdl_gdb_frame("OK", 2, out, 5), 0);  /* does not fit */
}

static void test_hex_helpers(void **state)
{
    (void)state;
    const char *p = "1fA,";
    uint64_t v;
    assert_true(vmdl_gdb_parse_hex(&p, &v));
    assert_int_equal(v, 0x1FA);
    assert_int_equal(*p, ',');
    p = ",";
    assert_false(vmdl_gdb_parse_hex(&p, &v));
    p = "11112222333344445";   /* 17 digits: refused, not wrapped */
    assert_false(vmdl_gdb_parse_hex(&p, &v));
    uint8_t b[2];
    assert_true(vmdl_gdb_hex_decode("beEF", 2, b));
    assert_int_equal(b[0], 0xBE);
    assert_int_equal(b[1], 0xEF);
    assert_false(vmdl_gdb_hex_decode("b", 1, b));
    assert_false(vmdl_gdb_hex_decode("bg", 1, b));
}

struct ctx {
    struct fake f;
    struct vmdl_gdb_target t;
    struct vmdl_gdb_session s;
};

static int setup(void **state)
{
    static struct ctx c;
    fake_target(&c.t, &c.f);
    if (vmdl_gdb_session_init(&c.s, &c.t))
        return -1;
    *state = &c;
    return 0;
}

static const char *cmd(struct ctx *c, const char *pkt, enum vmdl_gdb_action want)
{
    enum vmdl_gdb_action a = vmdl_gdb_handle(&c->s, pkt, strlen(pkt));
    assert_int_equal(a, want);
    assert_int_equal(strlen(c->s.reply), c->s.reply_len);
    return c->s.reply;
}

static void test_registers(void **state)
{
    struct ctx *c = *state;
    c->f.regs[0][0] = 0x1122334455667788ull;
    c->f.regs[0][2] = 0x246;
    /* g: rax, rip, eflags (4 bytes), st0 unavailable (x), cr0. */
    assert_string_equal(cmd(c, "g", VMDL_GDB_REPLY),
                        "8877665544332211" "0000000000000000" "46020000"
                        "xxxxxxxxxxxxxxxxxxxx" "0000000000000000");
    assert_string_equal(cmd(c, "p1", VMDL_GDB_REPLY), "0000000000000000");
    assert_string_equal(cmd(c, "P1=0010000000000000", VMDL_GDB_REPLY), "OK");
    assert_int_equal(c->f.regs[0][1], 0x1000);
    /* Thread 2 (Hg2) has its own registers. */
    assert_string_equal(cmd(c, "Hg2", VMDL_GDB_REPLY), "OK");
    assert_string_equal(cmd(c, "p0", VMDL_GDB_REPLY), "0000000000000000");
    assert_string_equal(cmd(c, "Hg3", VMDL_GDB_REPLY), "E16");
    assert_string_equal(cmd(c, "Hg1", VMDL_GDB_REPLY), "OK");
    /* Malformed: wrong length, bad hex, unknown register, unavailable one. */
    assert_string_equal(cmd(c, "P1=0010", VMDL_GDB_REPLY), "E16");
    assert_string_equal(cmd(c, "P1=00100000000000zz", VMDL_GDB_REPLY), "E16");
    assert_string_equal(cmd(c, "p5", VMDL_GDB_REPLY), "E16");
    assert_string_equal(cmd(c, "p", VMDL_GDB_REPLY), "E16");
    assert_string_equal(cmd(c, "P3=00000000000000000000", VMDL_GDB_REPLY), "E0e");
    /* G writes all (x skips), and refuses a short one. */
    assert_string_equal(cmd(c, "G" "0100000000000000" "0200000000000000" "03000000"
                               "xxxxxxxxxxxxxxxxxxxx" "0400000000000000",
                            VMDL_GDB_REPLY), "OK");
    assert_int_equal(c->f.regs[0][0], 1);
    assert_int_equal(c->f.regs[0][4], 4);
    assert_string_equal(cmd(c, "G0100", VMDL_GDB_REPLY), "E16");
}

static void test_memory(void **state)
{
    struct ctx *c = *state;
    assert_string_equal(cmd(c, "M1000,3:a1b2c3", VMDL_GDB_REPLY), "OK");
    assert_string_equal(cmd(c, "m1000,3", VMDL_GDB_REPLY), "a1b2c3");
    /* A read running off the end returns what is readable; none is E0e. */
    assert_string_equal(cmd(c, "m1ffe,4", VMDL_GDB_REPLY), "0000");
    assert_string_equal(cmd(c, "m0,4", VMDL_GDB_REPLY), "E0e");
    assert_string_equal(cmd(c, "M0,1:00", VMDL_GDB_REPLY), "E0e");
    assert_string_equal(cmd(c, "M1000,2:a1", VMDL_GDB_REPLY), "E16");
    assert_string_equal(cmd(c, "m1000", VMDL_GDB_REPLY), "E16");
    assert_string_equal(cmd(c, "m1000,", VMDL_GDB_REPLY), "E16");
    /* X: binary, length must match the payload. */
    const char x[] = "X1010,3:\x00#}";
    assert_int_equal(vmdl_gdb_handle(&c->s, x, sizeof(x) - 1), VMDL_GDB_REPLY);
    assert_string_equal(c->s.reply, "OK");
    assert_memory_equal(c->f.mem + 0x10, "\x00#}", 3);
    assert_int_equal(vmdl_gdb_handle(&c->s, x, sizeof(x) - 2), VMDL_GDB_REPLY);
    assert_string_equal(c->s.reply, "E16");
    /* A huge length is clamped to what one reply holds. */
    assert_int_equal(vmdl_gdb_handle(&c->s, "mfff,ffffffff", 13), VMDL_GDB_REPLY);
    assert_string_equal(c->s.reply, "E0e");
    assert_int_equal(vmdl_gdb_handle(&c->s, "m1000,ffffffff", 14), VMDL_GDB_REPLY);
    assert_int_equal(c->s.reply_len, 2 * FAKE_MEM_SIZE);
}

static void test_breakpoints(void **state)
{
    struct ctx *c = *state;
    assert_string_equal(cmd(c, "Z0,1234,1", VMDL_GDB_REPLY), "OK");
    assert_string_equal(cmd(c, "Z0,1234,1", VMDL_GDB_REPLY), "OK"); /* again */
    assert_int_equal(c->f.break_calls, 1);
    assert_non_null(vmdl_gdb_find_break(&c->s, VMDL_GDB_BP_SW, 0x1234, 1));
    assert_null(vmdl_gdb_find_break(&c->s, VMDL_GDB_BP_HW, 0x1234, 1));
    assert_string_equal(cmd(c, "Z2,2000,8", VMDL_GDB_REPLY), "OK");
    /* Watchpoints match any overlap. */
    assert_non_null(vmdl_gdb_find_break(&c->s, VMDL_GDB_WP_WRITE, 0x2007, 4));
    assert_null(vmdl_gdb_find_break(&c->s, VMDL_GDB_WP_WRITE, 0x2008, 4));
    assert_string_equal(cmd(c, "z0,1234,1", VMDL_GDB_REPLY), "OK");
    assert_null(vmdl_gdb_find_break(&c->s, VMDL_GDB_BP_SW, 0x1234, 1));
    assert_string_equal(cmd(c, "z0,1234,1", VMDL_GDB_REPLY), "OK");
    /* Unknown type: empty (unsupported); zero-length watch refused. */
    assert_string_equal(cmd(c, "Z7,0,1", VMDL_GDB_REPLY), "");
    assert_string_equal(cmd(c, "Z2,0,0", VMDL_GDB_REPLY), "E16");
    assert_string_equal(cmd(c, "Z2,ffffffffffffffff,8", VMDL_GDB_REPLY), "E16");
    c->f.refuse_breaks = true;
    assert_string_equal(cmd(c, "Z1,40,1", VMDL_GDB_REPLY), "E0e");
    assert_null(vmdl_gdb_find_break(&c->s, VMDL_GDB_BP_HW, 0x40, 1));
    c->f.refuse_breaks = false;
    /* The table is bounded. */
    char p[32];
    unsigned ok = 0;
    for (unsigned i = 0; i < VMDL_GDB_MAX_BREAKS + 4; i++) {
        snprintf(p, sizeof(p), "Z0,%x,1", 0x100 + i);
        ok += !strcmp(cmd(c, p, VMDL_GDB_REPLY), "OK");
    }
    assert_int_equal(ok, VMDL_GDB_MAX_BREAKS - 1); /* one watchpoint is in */
}

static void test_resume_and_stop_replies(void **state)
{
    struct ctx *c = *state;
    cmd(c, "c", VMDL_GDB_RESUME);
    assert_false(c->s.resume_step);
    cmd(c, "s", VMDL_GDB_RESUME);
    assert_true(c->s.resume_step);
    assert_int_equal(c->s.resume_thread, 0);
    cmd(c, "vCont;s:2;c", VMDL_GDB_RESUME);
    assert_true(c->s.resume_step);
    assert_int_equal(c->s.resume_thread, 1);
    cmd(c, "vCont;c", VMDL_GDB_RESUME);
    assert_false(c->s.resume_step);
    assert_string_equal(cmd(c, "vCont;x", VMDL_GDB_REPLY), "E16");
    assert_string_equal(cmd(c, "vCont;s:9", VMDL_GDB_REPLY), "E16");
    assert_string_equal(cmd(c, "c100", VMDL_GDB_REPLY), "E16");
    assert_string_equal(cmd(c, "vCont?", VMDL_GDB_REPLY), "vCont;c;C;s;S");

    char o[VMDL_GDB_MAX_PACKET + 1];
    struct vmdl_gdb_stop st = {.kind = VMDL_GDB_STOP_SWBREAK, .thread = 1};
    vmdl_gdb_stop_reply(&c->s, &st, o);
    assert_string_equal(c->s.reply, "T05thread:2;swbreak:;");
    assert_string_equal(o, "");
    assert_string_equal(cmd(c, "?", VMDL_GDB_REPLY), "T05thread:2;swbreak:;");
    assert_string_equal(cmd(c, "qC", VMDL_GDB_REPLY), "QC2");
    st = (struct vmdl_gdb_stop){.kind = VMDL_GDB_STOP_WATCH, .thread = 0,
                                .watch = VMDL_GDB_WP_READ, .addr = 0x2004};
    vmdl_gdb_stop_reply(&c->s, &st, o);
    assert_string_equal(c->s.reply, "T05thread:1;rwatch:2004;");
    st = (struct vmdl_gdb_stop){.kind = VMDL_GDB_STOP_FAULT, .signal = 11};
    snprintf(st.why, sizeof(st.why), "#PF");
    vmdl_gdb_stop_reply(&c->s, &st, o);
    assert_string_equal(c->s.reply, "T0bthread:1;");
    assert_string_equal(o, "O235046");
    st = (struct vmdl_gdb_stop){.kind = VMDL_GDB_STOP_EXITED, .status = 0x2B};
    vmdl_gdb_stop_reply(&c->s, &st, o);
    assert_string_equal(c->s.reply, "W2b");
    st = (struct vmdl_gdb_stop){.kind = VMDL_GDB_STOP_INTERRUPT};
    vmdl_gdb_stop_reply(&c->s, &st, o);
    assert_string_equal(c->s.reply, "T02thread:1;");
}

static void test_queries_and_target_xml(void **state)
{
    struct ctx *c = *state;
    assert_non_null(strstr(cmd(c, "qSupported:multiprocess+;swbreak+", VMDL_GDB_REPLY),
                           "qXfer:features:read+"));
    assert_string_equal(cmd(c, "qfThreadInfo", VMDL_GDB_REPLY), "m1,2");
    assert_string_equal(cmd(c, "qsThreadInfo", VMDL_GDB_REPLY), "l");
    assert_string_equal(cmd(c, "T2", VMDL_GDB_REPLY), "OK");
    assert_string_equal(cmd(c, "T3", VMDL_GDB_REPLY), "E16");
    assert_string_equal(cmd(c, "qThreadExtraInfo,2", VMDL_GDB_REPLY),
                        "7643505520" "31"); /* "vCPU 1" */
    assert_string_equal(cmd(c, "QStartNoAckMode", VMDL_GDB_REPLY), "OK");
    assert_true(c->s.no_ack);
    assert_string_equal(cmd(c, "qNoSuchThing", VMDL_GDB_REPLY), "");
    assert_string_equal(cmd(c, "vMustReplyEmpty", VMDL_GDB_REPLY), "");
    /* target.xml in two pieces: 'm' then 'l', concatenating to the XML. */
    const char *r = cmd(c, "qXfer:features:read:target.xml:0,40", VMDL_GDB_REPLY);
    assert_int_equal(r[0], 'm');
    assert_int_equal(c->s.reply_len, 0x41);
    char xml[16384];
    memcpy(xml, r + 1, 0x40);
    char q[64];
    snprintf(q, sizeof(q), "qXfer:features:read:target.xml:40,%zx", c->s.xml_len);
    r = cmd(c, q, VMDL_GDB_REPLY);
    assert_int_equal(r[0], 'l');
    memcpy(xml + 0x40, r + 1, c->s.reply_len - 1);
    xml[0x40 + c->s.reply_len - 1] = '\0';
    assert_string_equal(xml, c->s.xml);
    assert_non_null(strstr(xml, "<architecture>i386:x86-64</architecture>"));
    assert_non_null(strstr(xml, "<feature name=\"org.gnu.gdb.i386.core\">"));
    assert_non_null(strstr(xml, "<reg name=\"st0\" bitsize=\"80\" type=\"i387_ext\" "
                                "regnum=\"3\"/>"));
    assert_non_null(strstr(xml, "</feature>\n<feature name=\"org.virtmodel.x86.sys\">\n"
                                "  <reg name=\"cr0\""));
    snprintf(q, sizeof(q), "qXfer:features:read:target.xml:%zx,10", c->s.xml_len);
    assert_string_equal(cmd(c, q, VMDL_GDB_REPLY), "l");
    assert_string_equal(cmd(c, "qXfer:features:read:other.xml:0,10", VMDL_GDB_REPLY), "E00");
    /* Detach and kill. */
    assert_string_equal(cmd(c, "D", VMDL_GDB_DETACH), "OK");
    cmd(c, "k", VMDL_GDB_KILL);
}

static void test_binary_where_text_is_expected(void **state)
{
    struct ctx *c = *state;
    /* A NUL inside a text command is malformed, not truncated. */
    assert_int_equal(vmdl_gdb_handle(&c->s, "m1000\0,4", 8), VMDL_GDB_REPLY);
    assert_string_equal(c->s.reply, "E16");
    assert_int_equal(vmdl_gdb_handle(&c->s, "", 0), VMDL_GDB_REPLY);
    assert_string_equal(c->s.reply, "");
}

static void test_session_refuses_bad_targets(void **state)
{
    (void)state;
    static struct vmdl_gdb_session s;
    struct fake f;
    struct vmdl_gdb_target t;
    fake_target(&t, &f);
    t.nr_threads = 0;
    assert_int_equal(vmdl_gdb_session_init(&s, &t), -1);
    fake_target(&t, &f);
    static const struct vmdl_gdb_reg wide[] = {{"z", 256, "int", "f", 0}};
    t.regs = wide;
    t.nr_regs = 1;
    assert_int_equal(vmdl_gdb_session_init(&s, &t), -1);
    assert_int_equal(vmdl_gdb_session_init(&s, NULL), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rx_checks_checksum),
        cmocka_unit_test(test_rx_acks_interrupt_and_noise),
        cmocka_unit_test(test_rx_unescapes),
        cmocka_unit_test(test_rx_refuses_oversized),
        cmocka_unit_test(test_frame_escapes_and_round_trips),
        cmocka_unit_test(test_hex_helpers),
        cmocka_unit_test_setup(test_registers, setup),
        cmocka_unit_test_setup(test_memory, setup),
        cmocka_unit_test_setup(test_breakpoints, setup),
        cmocka_unit_test_setup(test_resume_and_stop_replies, setup),
        cmocka_unit_test_setup(test_queries_and_target_xml, setup),
        cmocka_unit_test_setup(test_binary_where_text_is_expected, setup),
        cmocka_unit_test(test_session_refuses_bad_targets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
