/* SPDX-License-Identifier: MIT */
/*
 * The GDB stub (virtmodel/gdbstub.h): a TCP server around the protocol
 * session of src/core/gdb_session.c, over the public machine and debug
 * API (registers, guest memory, breakpoints, single step, interrupt).
 *
 * Threads: the caller's thread runs the session and the VM.  While the
 * guest runs, a watcher thread polls the connection (Ctrl-C) and, before a
 * debugger attached, the listening socket, and stops the run with
 * vmdl_vm_interrupt().  Every socket wait has a timeout.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gdbstub_internal.h"
#include "virtmodel/debug.h"
#include "virtmodel/error.h"
#include "virtmodel/gdbstub.h"

#define IO_TIMEOUT_MS 10000     /* one reply's ack, one packet's bytes */
#define STATUS_KILLED 137

struct stub {
    struct vmdl_vm *vm;
    const struct vmdl_gdb_config *cfg;
    int listen_fd, conn;
    struct vmdl_gdb_target target;
    struct vmdl_gdb_session s;
    struct vmdl_gdb_rx rx;
    bool done;              /* the guest ended: only 'W' from now on */
    int status;
    /* watcher */
    pthread_t watcher;
    int quit_pipe[2];
    atomic_bool attach_ready;
    atomic_bool interrupted;
    char frame[2 * VMDL_GDB_MAX_PACKET + 8];
    char console[VMDL_GDB_MAX_PACKET + 1];
};

/* ---- the target: registers and memory through the public API ---- */

static bool t_read_reg(void *o, unsigned thread, unsigned regno, uint8_t *buf)
{
    struct stub *st = o;
    const struct vmdl_gdb_reg *r = &st->target.regs[regno];
    uint64_t v;
    if (r->id < 0 || vmdl_vcpu_get_reg(vmdl_vm_vcpu(st->vm, thread), r->id, &v))
        return false;
    memcpy(buf, &v, r->bits / 8);   /* little-endian host, as both guests */
    return true;
}

static bool t_write_reg(void *o, unsigned thread, unsigned regno, const uint8_t *buf)
{
    struct stub *st = o;
    const struct vmdl_gdb_reg *r = &st->target.regs[regno];
    uint64_t v = 0;
    if (r->id < 0)
        return false;
    memcpy(&v, buf, r->bits / 8);
    return vmdl_vcpu_set_reg(vmdl_vm_vcpu(st->vm, thread), r->id, v) == VMDL_OK;
}

/* Memory is guest-virtual, through the selected thread's vCPU. */
static size_t t_read_mem(void *o, unsigned thread, uint64_t addr, uint8_t *buf, size_t len)
{
    struct stub *st = o;
    return vmdl_vcpu_access_virt(vmdl_vm_vcpu(st->vm, thread), addr, buf, len, false);
}

static size_t t_write_mem(void *o, unsigned thread, uint64_t addr, const uint8_t *buf,
                          size_t len)
{
    struct stub *st = o;
    return vmdl_vcpu_access_virt(vmdl_vm_vcpu(st->vm, thread), addr, (void *)buf, len,
                                 true);
}

static bool t_breaks_changed(void *o, const struct vmdl_gdb_break *b, bool insert)
{
    struct stub *st = o;
    static const enum vmdl_watch_type wt[] = {
        [VMDL_GDB_WP_WRITE] = VMDL_WATCH_WRITE, [VMDL_GDB_WP_READ] = VMDL_WATCH_READ,
        [VMDL_GDB_WP_ACCESS] = VMDL_WATCH_ACCESS,
    };
    int err;
    if (b->type <= VMDL_GDB_BP_HW)
        err = insert ? vmdl_vm_add_breakpoint(st->vm, b->addr)
                     : vmdl_vm_remove_breakpoint(st->vm, b->addr);
    else
        err = insert ? vmdl_vm_add_watchpoint(st->vm, b->addr, b->len, wt[b->type])
                     : vmdl_vm_remove_watchpoint(st->vm, b->addr, b->len, wt[b->type]);
    return err == VMDL_OK;
}

static void t_thread_info(void *o, unsigned thread, char *buf, size_t len)
{
    struct stub *st = o;
    uint64_t insns = vmdl_vcpu_insns(vmdl_vm_vcpu(st->vm, thread));
    snprintf(buf, len, "vCPU %u, %llu instructions", thread, (unsigned long long)insns);
}

/* ---- sockets ---- */

static int listen_on(struct stub *st)
{
    const char *host = st->cfg->host ? st->cfg->host : "127.0.0.1";
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)st->cfg->port) };
    if (st->cfg->port > 65535 || inet_pton(AF_INET, host, &a.sin_addr) != 1)
        return vmdl_fail(VMDL_EINVAL, "gdb stub: '%s:%u' is not an IPv4 address and "
                         "port", host, st->cfg->port);
    st->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (st->listen_fd < 0 ||
        setsockopt(st->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
        bind(st->listen_fd, (struct sockaddr *)&a, sizeof(a)) || listen(st->listen_fd, 1))
        return vmdl_fail(VMDL_EIO, "gdb stub: cannot listen on %s:%u: %s", host,
                         st->cfg->port, strerror(errno));
    socklen_t alen = sizeof(a);
    getsockname(st->listen_fd, (struct sockaddr *)&a, &alen);
    if (st->cfg->on_listen)
        st->cfg->on_listen(st->cfg->opaque, ntohs(a.sin_port));
    return VMDL_OK;
}

static int accept_conn(struct stub *st, int timeout_ms)
{
    struct pollfd p = { .fd = st->listen_fd, .events = POLLIN };
    int r = poll(&p, 1, timeout_ms);
    if (r <= 0)
        return vmdl_fail(VMDL_EIO, "gdb stub: no debugger connected within %d s",
                         timeout_ms / 1000);
    st->conn = accept4(st->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (st->conn < 0)
        return vmdl_fail(VMDL_EIO, "gdb stub: accept: %s", strerror(errno));
    int one = 1;
    setsockopt(st->conn, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    vmdl_gdb_rx_init(&st->rx);
    if (vmdl_gdb_session_init(&st->s, &st->target))
        return vmdl_fail(VMDL_EINVAL, "gdb stub: bad register table");
    return VMDL_OK;
}

static void drop_conn(struct stub *st)
{
    if (st->conn >= 0)
        close(st->conn);
    st->conn = -1;
}

/* One byte from the connection within timeout_ms: the byte, -1 on
 * timeout, -2 when the connection is gone. */
static int read_byte(struct stub *st, int timeout_ms)
{
    struct pollfd p = { .fd = st->conn, .events = POLLIN };
    int r = poll(&p, 1, timeout_ms);
    if (r == 0)
        return -1;
    uint8_t c;
    if (r < 0 || read(st->conn, &c, 1) != 1)
        return -2;
    return c;
}

static bool send_all(struct stub *st, const char *buf, size_t n)
{
    while (n) {
        ssize_t w = send(st->conn, buf, n, MSG_NOSIGNAL);
        if (w <= 0)
            return false;
        buf += w;
        n -= (size_t)w;
    }
    return true;
}

/* Send one packet; without no-ack mode wait for '+' (resend on '-'). */
static bool send_packet(struct stub *st, const char *payload, size_t len)
{
    size_t n = vmdl_gdb_frame(payload, len, st->frame, sizeof(st->frame));
    for (int tries = 0; n && tries < 3; tries++) {
        if (!send_all(st, st->frame, n))
            return false;
        if (st->s.no_ack)
            return true;
        for (;;) {
            int c = read_byte(st, IO_TIMEOUT_MS);
            if (c == '+')
                return true;
            if (c == '-')
                break;
            if (c < 0)
                return false;
        }
    }
    return false;
}

/* The next packet (acknowledged), or false when the connection ended. */
static bool recv_packet(struct stub *st)
{
    for (;;) {
        int c = read_byte(st, -1);   /* a debugger may sit at its prompt */
        if (c < 0)
            return false;
        switch (vmdl_gdb_rx_feed(&st->rx, (uint8_t)c)) {
        case VMDL_GDB_RX_PACKET:
            if (!st->s.no_ack && !send_all(st, "+", 1))
                return false;
            return true;
        case VMDL_GDB_RX_BAD:
            if (!st->s.no_ack && !send_all(st, "-", 1))
                return false;
            break;
        default:
            break;   /* acks, a stray Ctrl-C while stopped */
        }
    }
}

/* ---- the watcher: Ctrl-C and late attaches while the guest runs ---- */

static void *watcher_main(void *arg)
{
    struct stub *st = arg;
    for (;;) {
        struct pollfd p[2] = {
            { .fd = st->quit_pipe[0], .events = POLLIN },
            { .fd = st->conn >= 0 ? st->conn : st->listen_fd, .events = POLLIN },
        };
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            return NULL;
        if (p[0].revents)
            return NULL;
        if (!p[1].revents)
            continue;
        if (st->conn < 0) {
            atomic_store(&st->attach_ready, true);
            vmdl_vm_interrupt(st->vm);
            return NULL;
        }
        uint8_t c;
        ssize_t r = recv(st->conn, &c, 1, MSG_PEEK);
        if (r == 1 && c == 0x03) {
            (void)!read(st->conn, &c, 1);
            atomic_store(&st->interrupted, true);
            vmdl_vm_interrupt(st->vm);
            return NULL;
        }
        if (r == 1) {
            /* Anything else while running: leave it for the session. */
            (void)!read(st->conn, &c, 1);
            continue;
        }
        return NULL;   /* connection closed: the run goes on */
    }
}

static void watcher_start(struct stub *st)
{
    if (pipe2(st->quit_pipe, O_CLOEXEC) == 0 &&
        pthread_create(&st->watcher, NULL, watcher_main, st) == 0)
        return;
    st->quit_pipe[0] = st->quit_pipe[1] = -1;
}

static void watcher_stop(struct stub *st)
{
    if (st->quit_pipe[1] < 0)
        return;
    (void)!write(st->quit_pipe[1], "q", 1);
    pthread_join(st->watcher, NULL);
    close(st->quit_pipe[0]);
    close(st->quit_pipe[1]);
    st->quit_pipe[0] = st->quit_pipe[1] = -1;
}

/* ---- running ---- */

static int signal_of(const struct vmdl_exit *e)
{
    return e->reason == VMDL_EXIT_FAULT_LOOP ? SIGSEGV : SIGABRT;
}

/* Run until a stop the debugger sees; fill *stop.  false: the guest ended
 * (st->done, st->status). */
static void run_to_stop(struct stub *st, struct vmdl_gdb_stop *stop)
{
    memset(stop, 0, sizeof(*stop));
    if (st->done) {
        stop->kind = VMDL_GDB_STOP_EXITED;
        stop->status = st->status;
        return;
    }
    watcher_start(st);
    for (;;) {
        struct vmdl_exit e;
        if (vmdl_vm_run(st->vm, &e)) {
            e.reason = VMDL_EXIT_INTERNAL_ERROR;
            snprintf(e.u.internal.message, sizeof(e.u.internal.message), "%s",
                     vmdl_last_error());
        }
        stop->thread = e.vcpu;
        if (e.reason == VMDL_EXIT_DEBUG) {
            switch (e.u.debug.kind) {
            case VMDL_DEBUG_STEP: stop->kind = VMDL_GDB_STOP_STEP; break;
            case VMDL_DEBUG_BREAKPOINT:
                stop->kind = vmdl_gdb_find_break(&st->s, VMDL_GDB_BP_HW, e.pc, 1)
                                 ? VMDL_GDB_STOP_HWBREAK : VMDL_GDB_STOP_SWBREAK;
                break;
            case VMDL_DEBUG_WATCHPOINT:
                stop->kind = VMDL_GDB_STOP_WATCH;
                stop->addr = e.u.debug.addr;
                stop->watch = e.u.debug.watch == VMDL_WATCH_WRITE ? VMDL_GDB_WP_WRITE
                              : e.u.debug.watch == VMDL_WATCH_READ ? VMDL_GDB_WP_READ
                                                                   : VMDL_GDB_WP_ACCESS;
                break;
            default:
                stop->kind = VMDL_GDB_STOP_INTERRUPT;
                break;
            }
            break;
        }
        if (e.reason == VMDL_EXIT_FAULT_LOOP || e.reason == VMDL_EXIT_INTERNAL_ERROR) {
            stop->kind = VMDL_GDB_STOP_FAULT;
            stop->signal = signal_of(&e);
            snprintf(stop->why, sizeof(stop->why), "virtmodel: vCPU %u at 0x%llx: %.100s\n",
                     e.vcpu, (unsigned long long)e.pc, e.u.internal.message);
            int s = st->cfg->on_exit ? st->cfg->on_exit(st->cfg->opaque, st->vm, &e) : 4;
            st->done = true;
            st->status = s < 0 ? 4 : s;
            break;
        }
        int s;
        if (e.reason == VMDL_EXIT_SHUTDOWN)
            s = st->cfg->on_exit ? st->cfg->on_exit(st->cfg->opaque, st->vm, &e)
                                 : e.u.shutdown.status;
        else
            s = st->cfg->on_exit ? st->cfg->on_exit(st->cfg->opaque, st->vm, &e) : -1;
        if (s >= 0) {
            st->done = true;
            st->status = s;
            stop->kind = VMDL_GDB_STOP_EXITED;
            stop->status = s;
            snprintf(stop->why, sizeof(stop->why), "virtmodel: vCPU %u at 0x%llx: %s "
                     "(status %d)\n", e.vcpu, (unsigned long long)e.pc,
                     vmdl_exit_reason_name(e.reason), s);
            break;
        }
    }
    watcher_stop(st);
}

static void clear_debug_state(struct stub *st)
{
    for (unsigned i = 0; i < VMDL_GDB_MAX_BREAKS; i++)
        if (st->s.breaks[i].used)
            t_breaks_changed(st, &st->s.breaks[i], false);
    for (unsigned i = 0; i < vmdl_vm_nr_vcpus(st->vm); i++)
        vmdl_vcpu_set_single_step(vmdl_vm_vcpu(st->vm, i), false);
}

static bool resume(struct stub *st)
{
    unsigned nr = vmdl_vm_nr_vcpus(st->vm);
    for (unsigned i = 0; i < nr; i++)
        vmdl_vcpu_set_single_step(vmdl_vm_vcpu(st->vm, i),
                                  st->s.resume_step && (int)i == st->s.resume_thread);
    struct vmdl_gdb_stop stop;
    run_to_stop(st, &stop);
    vmdl_gdb_stop_reply(&st->s, &stop, st->console);
    if (st->console[0] && !send_packet(st, st->console, strlen(st->console)))
        return false;
    return send_packet(st, st->s.reply, st->s.reply_len);
}

/* Serve one connection until it detaches, kills or goes away.  Returns
 * true when the run must end (killed, or the guest ended and was reported). */
static bool session(struct stub *st)
{
    while (recv_packet(st)) {
        enum vmdl_gdb_action a = vmdl_gdb_handle(&st->s, st->rx.buf, st->rx.len);
        switch (a) {
        case VMDL_GDB_REPLY:
            if (!send_packet(st, st->s.reply, st->s.reply_len))
                goto gone;
            break;
        case VMDL_GDB_RESUME:
            if (!resume(st))
                goto gone;
            break;
        case VMDL_GDB_DETACH:
            send_packet(st, st->s.reply, st->s.reply_len);
            goto gone;
        case VMDL_GDB_KILL:
            clear_debug_state(st);
            drop_conn(st);
            if (!st->done) {
                st->done = true;
                st->status = STATUS_KILLED;
            }
            return true;
        }
    }
gone:
    clear_debug_state(st);
    drop_conn(st);
    return st->done;
}

/* Run without a debugger until one attaches (true) or the guest ends. */
static bool run_detached(struct stub *st)
{
    struct vmdl_gdb_stop stop;
    while (!st->done) {
        atomic_store(&st->attach_ready, false);
        run_to_stop(st, &stop);
        if (atomic_load(&st->attach_ready))
            return true;
    }
    return false;
}

int vmdl_gdb_serve(struct vmdl_vm *vm, const struct vmdl_gdb_config *cfg, int *status)
{
    if (!vm || !cfg || !status)
        return vmdl_fail(VMDL_EINVAL, "vmdl_gdb_serve: NULL argument");
    struct stub *st = calloc(1, sizeof(*st));
    if (!st)
        return vmdl_fail(VMDL_ENOMEM, "vmdl_gdb_serve: out of memory");
    st->vm = vm;
    st->cfg = cfg;
    st->conn = st->listen_fd = -1;
    st->quit_pipe[0] = st->quit_pipe[1] = -1;
    st->target = (struct vmdl_gdb_target){
        .nr_threads = vmdl_vm_nr_vcpus(vm), .opaque = st, .read_reg = t_read_reg,
        .write_reg = t_write_reg, .read_mem = t_read_mem, .write_mem = t_write_mem,
        .breaks_changed = t_breaks_changed, .thread_info = t_thread_info,
    };
    st->target.regs = vmdl__gdb_regs(vmdl_vm_arch(vm), &st->target.nr_regs,
                                     &st->target.arch_name);
    int err = listen_on(st);
    double wait_s = cfg->attach_timeout_s > 0 ? cfg->attach_timeout_s : 60;
    if (!err && cfg->wait)
        err = accept_conn(st, (int)(wait_s * 1000));
    while (!err) {
        if (st->conn < 0) {
            if (!run_detached(st))
                break;                       /* the guest ended unobserved */
            if ((err = accept_conn(st, 1000)))
                break;
            /* Attached to a running guest: it is stopped now (interrupt). */
            st->s.last_stop.kind = VMDL_GDB_STOP_INTERRUPT;
        }
        if (session(st))
            break;
    }
    drop_conn(st);
    if (st->listen_fd >= 0)
        close(st->listen_fd);
    *status = st->status;
    free(st);
    return err;
}
