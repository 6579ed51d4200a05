/* SPDX-License-Identifier: MIT */
/*
 * The GDB stub (vmdl_gdb_serve) over a real loopback connection, driven
 * with hostile packets a broken or malicious client could send: bad thread
 * ids, huge and wrapping memory ranges, malformed breakpoint packets,
 * register numbers past the table.  Each gets an error (or empty) reply,
 * and the VM still runs to its normal end afterwards.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#ifndef VMDL_GUEST_DIR
#define VMDL_GUEST_DIR "."
#endif
#include "machine_test_util.h"
#include "virtmodel/gdbstub.h"

/* 0: inc rax; 3: inc rax; 6: mov al, 0; 8: out 0xf4, al (status 1) */
static const uint8_t prog[] = {0x48, 0xFF, 0xC0, 0x48, 0xFF, 0xC0,
                               0xB0, 0x00, 0xE6, 0xF4};

struct server {
    struct vmdl_vm *vm;
    atomic_uint port;
    int err, status;
};

static void on_listen(void *opaque, unsigned port)
{
    atomic_store(&((struct server *)opaque)->port, port);
}

static int on_exit_cb(void *opaque, struct vmdl_vm *vm, const struct vmdl_exit *e)
{
    (void)opaque;
    (void)vm;
    return e->reason == VMDL_EXIT_SHUTDOWN ? e->u.shutdown.status : 99;
}

static void *serve(void *arg)
{
    struct server *sv = arg;
    struct vmdl_gdb_config cfg = {.host = "127.0.0.1", .wait = true, .attach_timeout_s = 20,
                                  .on_listen = on_listen, .on_exit = on_exit_cb,
                                  .opaque = sv};
    sv->err = vmdl_gdb_serve(sv->vm, &cfg, &sv->status);
    return NULL;
}

static int read_byte(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    uint8_t c;
    if (poll(&p, 1, 10000) != 1 || read(fd, &c, 1) != 1)
        return -1;
    return c;
}

/* The next packet's payload (acks before it skipped), acknowledged. */
static const char *read_packet(int fd)
{
    static char reply[40000];
    int c;
    while ((c = read_byte(fd)) != '$') {
        if (c != '+')
            fprintf(stderr, "unexpected byte %d before a packet\n", c);
        assert_true(c == '+');
    }
    size_t len = 0;
    while ((c = read_byte(fd)) != '#') {
        assert_true(c >= 0 && len < sizeof(reply) - 1);
        reply[len++] = (char)c;
    }
    reply[len] = 0;
    read_byte(fd);
    read_byte(fd);
    assert_int_equal(write(fd, "+", 1), 1);
    return reply;
}

/* Send one packet and return the reply's payload (console output before a
 * stop reply skipped). */
static const char *transact(int fd, const char *payload)
{
    char frame[8192];
    unsigned sum = 0;
    for (const char *p = payload; *p; p++)
        sum += (uint8_t)*p;
    int n = snprintf(frame, sizeof(frame), "$%s#%02x", payload, sum & 0xFF);
    assert_true(n > 0 && (size_t)n < sizeof(frame));
    assert_int_equal(write(fd, frame, (size_t)n), n);
    const char *reply = read_packet(fd);
    return reply[0] == 'O' && reply[1] != 'K' ? read_packet(fd) : reply;
}

static bool is_error(const char *r)
{
    return r[0] == 'E' && strlen(r) == 3;
}

/* A VM of `vcpus` running `code` under the stub in a thread; the
 * connection to it. */
static int start_with(struct server *sv, pthread_t *t, const void *code, size_t len,
                      unsigned vcpus)
{
    struct vmdl_vm_config cfg = {.arch = VMDL_ARCH_X86_64, .ram_size = 16 << 20,
                                 .nr_vcpus = vcpus};
    assert_int_equal(vmdl_vm_create(&cfg, &sv->vm), 0);
    assert_int_equal(vmdl_vm_load_raw(sv->vm, code, len, VMDL_X86_DEFAULT_LOAD), 0);
    assert_int_equal(pthread_create(t, NULL, serve, sv), 0);
    for (int i = 0; i < 500 && !atomic_load(&sv->port); i++)
        usleep(10000);
    assert_int_not_equal(atomic_load(&sv->port), 0);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)atomic_load(&sv->port))};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

static int start(struct server *sv, pthread_t *t)
{
    return start_with(sv, t, prog, sizeof(prog), 1);
}

/* The run ended with `status` (1: as the guest ended it). */
static void finish_with(struct server *sv, pthread_t t, int status)
{
    pthread_join(t, NULL);
    assert_int_equal(sv->err, 0);
    assert_int_equal(sv->status, status);
    vmdl_vm_destroy(sv->vm);
}

static void finish(struct server *sv, pthread_t t)
{
    finish_with(sv, t, 1);
}

static void test_hostile_session_then_normal_run(void **state)
{
    (void)state;
    struct server sv = {0};
    pthread_t t;
    int fd = start(&sv, &t);

    assert_non_null(strstr(transact(fd, "qSupported:swbreak+;hwbreak+"), "PacketSize="));
    /* Threads: one vCPU, so only 1 (and -1 / 0, "all" / "any") exist. */
    assert_string_equal(transact(fd, "qfThreadInfo"), "m1");
    assert_true(is_error(transact(fd, "Hg2")));
    assert_true(is_error(transact(fd, "Hg99999999999999999999")));
    assert_true(is_error(transact(fd, "Hgzz")));
    assert_true(is_error(transact(fd, "Hx1")));
    assert_true(is_error(transact(fd, "T5")));
    assert_true(is_error(transact(fd, "T-2")));
    assert_true(is_error(transact(fd, "vCont;s:7")));
    /* Registers: past the table, malformed, short. */
    assert_true(is_error(transact(fd, "p1000")));
    assert_true(is_error(transact(fd, "pffffffffffffffffff")));
    assert_true(is_error(transact(fd, "P1000=00")));
    assert_true(is_error(transact(fd, "P0=zz")));
    assert_true(is_error(transact(fd, "P0=0011")));
    assert_true(is_error(transact(fd, "G00")));
    /* Memory: unmapped, wrapping, huge, above RAM. */
    assert_true(is_error(transact(fd, "mffffffffffff0000,10")));
    assert_true(is_error(transact(fd, "mfffffffffffffff0,ffffffffffffffff")));
    assert_true(is_error(transact(fd, "m80000000,7fffffff")));
    const char *big = transact(fd, "m100000,ffffffff");   /* clipped, not refused */
    assert_true(strlen(big) > 0 && strlen(big) % 2 == 0);
    assert_int_equal(strncmp(big, "48ffc048ffc0", 12), 0);
    assert_true(is_error(transact(fd, "m100000,")));
    assert_true(is_error(transact(fd, "M7ffffff0,20:00")));
    assert_true(is_error(transact(fd, "Mfffffffffffffff8,10:0000")));
    assert_true(is_error(transact(fd, "M100000,4:zzzzzzzz")));
    /* Breakpoint packets: unknown type, missing fields, zero/huge lengths. */
    assert_string_equal(transact(fd, "Z9,100000,1"), "");
    assert_true(is_error(transact(fd, "Z0")));
    assert_true(is_error(transact(fd, "Z0,")));
    assert_true(is_error(transact(fd, "Z0,zz,1")));
    assert_true(is_error(transact(fd, "Z2,100000,0")));
    assert_true(is_error(transact(fd, "Z2,ffffffffffffffff,ffffffffffffffff")));
    assert_string_equal(transact(fd, "z0,123456,1"), "OK");   /* none there: a no-op */
    /* Target description reads past the end or with absurd lengths. */
    const char *x = transact(fd, "qXfer:features:read:target.xml:ffffffff,ffffffff");
    assert_true(x[0] == 'l' || is_error(x));
    assert_true(is_error(transact(fd, "qXfer:features:read:nosuch.xml:0,100")) ||
                transact(fd, "qXfer:features:read:nosuch.xml:0,100")[0] == 0);

    /* Nothing was corrupted: a breakpoint, a step and the run to the end. */
    assert_string_equal(transact(fd, "Hg1"), "OK");
    assert_string_equal(transact(fd, "Z0,100003,1"), "OK");
    assert_non_null(strstr(transact(fd, "c"), "swbreak"));
    const char *pc = transact(fd, "p10");
    assert_string_equal(pc, "0300100000000000");
    assert_string_equal(transact(fd, "z0,100003,1"), "OK");
    assert_non_null(strstr(transact(fd, "s"), "T05"));
    assert_string_equal(transact(fd, "p10"), "0600100000000000");
    assert_string_equal(transact(fd, "c"), "W01");
    close(fd);
    finish(&sv, t);
}

/* A client that sends garbage and goes away: the stub survives and the
 * run ends as the guest ends it (after the debugger left, it runs on). */
static void test_client_vanishes_mid_packet(void **state)
{
    (void)state;
    struct server sv = {0};
    pthread_t t;
    int fd = start(&sv, &t);
    static const char junk[] = "$m100000,4#zz$qSupported#00\x03\x03$$$####$M100000,";
    assert_int_equal(write(fd, junk, sizeof(junk) - 1), (ssize_t)(sizeof(junk) - 1));
    close(fd);
    finish(&sv, t);
}

/* Ctrl-C while the guest spins: a T02 stop on its vCPU, then kill. */
static void test_interrupt_stops_a_spinning_guest(void **state)
{
    (void)state;
    static const uint8_t spin[] = {0xEB, 0xFE};   /* 1: jmp 1b */
    struct server sv = {0};
    pthread_t t;
    int fd = start_with(&sv, &t, spin, sizeof(spin), 1);
    assert_int_equal(write(fd, "$c#63", 5), 5);
    usleep(200000);
    assert_int_equal(write(fd, "\x03", 1), 1);
    assert_string_equal(read_packet(fd), "T02thread:1;");
    assert_string_equal(transact(fd, "p10"), "0000100000000000");   /* in the loop */
    assert_int_equal(write(fd, "$k#6b", 5), 5);
    close(fd);
    finish_with(&sv, t, 137);
}

/* Two vCPUs are two threads: each selected, read and stepped on its own. */
static void test_one_thread_per_vcpu(void **state)
{
    (void)state;
    struct server sv = {0};
    pthread_t t;
    int fd = start_with(&sv, &t, prog, sizeof(prog), 2);
    assert_string_equal(transact(fd, "qfThreadInfo"), "m1,2");
    assert_string_equal(transact(fd, "qsThreadInfo"), "l");
    assert_string_equal(transact(fd, "T2"), "OK");
    assert_true(is_error(transact(fd, "T3")));
    assert_string_equal(transact(fd, "vCont;s:2"), "T05thread:2;");
    assert_string_equal(transact(fd, "Hg2"), "OK");
    assert_string_equal(transact(fd, "p10"), "0300100000000000");   /* stepped */
    assert_string_equal(transact(fd, "Hg1"), "OK");
    assert_string_equal(transact(fd, "p10"), "0000100000000000");   /* not run */
    assert_string_equal(transact(fd, "P0=2a00000000000000"), "OK");
    assert_string_equal(transact(fd, "Hg2"), "OK");
    assert_string_equal(transact(fd, "p0"), "0100000000000000");   /* its own rax */
    assert_int_equal(write(fd, "$k#6b", 5), 5);
    close(fd);
    finish_with(&sv, t, 137);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile_session_then_normal_run),
        cmocka_unit_test(test_client_vanishes_mid_packet),
        cmocka_unit_test(test_interrupt_stops_a_spinning_guest),
        cmocka_unit_test(test_one_thread_per_vcpu),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
