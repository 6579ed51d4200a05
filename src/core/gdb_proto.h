/* SPDX-License-Identifier: MIT */
/*
 * The GDB remote serial protocol, without I/O and without a machine:
 * packet framing ($payload#cs, '}' escapes, acks, Ctrl-C), hex coding,
 * target descriptions (x86-64, aarch64) and a session that turns one
 * command packet into a reply or a request to resume.  The machine side
 * (src/machine/gdbstub.c) supplies registers, memory and execution through
 * struct vmdl_gdb_target and does the socket I/O.  Everything here is pure
 * and deterministic, so hostile input can be fuzzed (fuzz/fuzz_gdb.c).
 */
#ifndef VMDL_CORE_GDB_PROTO_H
#define VMDL_CORE_GDB_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest payload either side sends (advertised as PacketSize, in hex). */
#define VMDL_GDB_MAX_PACKET 0x4000
#define VMDL_GDB_MAX_BREAKS 64

/* ---- receiving: a byte-at-a-time state machine ---- */

enum vmdl_gdb_rx_event {
    VMDL_GDB_RX_NONE = 0,    /* need more bytes */
    VMDL_GDB_RX_PACKET,      /* rx->buf[0..len) holds a checked, unescaped payload */
    VMDL_GDB_RX_BAD,         /* checksum mismatch or oversized: answer '-' */
    VMDL_GDB_RX_INTERRUPT,   /* 0x03 outside a packet */
    VMDL_GDB_RX_ACK,         /* '+' */
    VMDL_GDB_RX_NACK,        /* '-': resend the last packet */
};

struct vmdl_gdb_rx {
    int state;
    bool escape;
    bool overflow;
    uint8_t sum;
    uint8_t given;
    size_t len;
    char buf[VMDL_GDB_MAX_PACKET + 1];   /* NUL-terminated payload */
};

void vmdl_gdb_rx_init(struct vmdl_gdb_rx *rx);
enum vmdl_gdb_rx_event vmdl_gdb_rx_feed(struct vmdl_gdb_rx *rx, uint8_t byte);

/* ---- sending ---- */

/* Frame payload as $...#cs with '#', '$', '}' and '*' escaped.  Returns the
 * framed length, or 0 when it does not fit in cap. */
size_t vmdl_gdb_frame(const void *payload, size_t len, char *out, size_t cap);

/* ---- hex ---- */

int vmdl_gdb_hexval(int c);                           /* -1 if not hex */
void vmdl_gdb_hex_encode(const void *in, size_t n, char *out); /* 2n chars + NUL */
/* Decode exactly 2n hex chars; false on a non-hex char. */
bool vmdl_gdb_hex_decode(const char *in, size_t n, void *out);
/* Parse a hex number at *p up to a non-hex char; at most 16 digits, at
 * least one.  Advances *p. */
bool vmdl_gdb_parse_hex(const char **p, uint64_t *out);

/* ---- target descriptions ---- */

/* One register as GDB numbers it (its position in the target's table). */
struct vmdl_gdb_reg {
    const char *name;
    unsigned bits;           /* 32, 64 or 80 */
    const char *type;        /* GDB type: int64, code_ptr, data_ptr, i387_ext ... */
    const char *feature;     /* the target-description feature it belongs to */
    int id;                  /* the machine's register id (enum vmdl_reg), or
                                -1: not modelled (reads as unavailable) */
};

/* ---- the session ---- */

enum vmdl_gdb_bp_type {
    VMDL_GDB_BP_SW = 0, VMDL_GDB_BP_HW = 1, VMDL_GDB_WP_WRITE = 2,
    VMDL_GDB_WP_READ = 3, VMDL_GDB_WP_ACCESS = 4,
};

struct vmdl_gdb_break {
    bool used;
    enum vmdl_gdb_bp_type type;
    uint64_t addr, len;      /* len: the kind (instruction size / watch length) */
};

/* What the machine gives the session. */
struct vmdl_gdb_target {
    const char *arch_name;   /* GDB's: "i386:x86-64", "aarch64" */
    const struct vmdl_gdb_reg *regs;
    unsigned nr_regs;
    unsigned nr_threads;     /* one per vCPU; GDB thread ids are 1.. */
    void *opaque;
    /* Register regno (table position) of thread (0-based) into buf
     * (bits / 8 bytes, little endian); false: unavailable. */
    bool (*read_reg)(void *opaque, unsigned thread, unsigned regno, uint8_t *buf);
    bool (*write_reg)(void *opaque, unsigned thread, unsigned regno, const uint8_t *buf);
    /* Guest-virtual memory as thread sees it; returns the bytes done (a
     * short count stops at the first inaccessible byte). */
    size_t (*read_mem)(void *opaque, unsigned thread, uint64_t addr, uint8_t *buf,
                       size_t len);
    size_t (*write_mem)(void *opaque, unsigned thread, uint64_t addr,
                        const uint8_t *buf, size_t len);
    /* A breakpoint or watchpoint was inserted or removed (the session keeps
     * the list; the machine installs what it needs).  false: refused. */
    bool (*breaks_changed)(void *opaque, const struct vmdl_gdb_break *b, bool insert);
    /* Extra text for a thread (qThreadExtraInfo), may be NULL. */
    void (*thread_info)(void *opaque, unsigned thread, char *buf, size_t len);
};

/* Why the guest stopped, for the stop reply. */
enum vmdl_gdb_stop_kind {
    VMDL_GDB_STOP_STEP,       /* single step done: SIGTRAP */
    VMDL_GDB_STOP_SWBREAK,    /* software breakpoint: SIGTRAP swbreak */
    VMDL_GDB_STOP_HWBREAK,    /* hardware breakpoint: SIGTRAP hwbreak */
    VMDL_GDB_STOP_WATCH,      /* watchpoint: SIGTRAP [r|a]watch:addr */
    VMDL_GDB_STOP_INTERRUPT,  /* Ctrl-C: SIGINT */
    VMDL_GDB_STOP_FAULT,      /* guest exception with no handler: SIGSEGV/SIGILL */
    VMDL_GDB_STOP_EXITED,     /* guest ended: W status */
};

struct vmdl_gdb_stop {
    enum vmdl_gdb_stop_kind kind;
    unsigned thread;          /* 0-based */
    int signal;               /* VMDL_GDB_STOP_FAULT: the signal to report */
    uint64_t addr;            /* watchpoint address */
    enum vmdl_gdb_bp_type watch;
    int status;               /* VMDL_GDB_STOP_EXITED */
    char why[160];            /* sent first as console output (O packet) */
};

enum vmdl_gdb_action {
    VMDL_GDB_REPLY,           /* send session->reply */
    VMDL_GDB_RESUME,          /* run: session->resume_* say how, then reply
                                 with vmdl_gdb_stop_reply() */
    VMDL_GDB_DETACH,          /* send the reply, then close the connection */
    VMDL_GDB_KILL,            /* close without a reply */
};

struct vmdl_gdb_session {
    const struct vmdl_gdb_target *t;
    bool no_ack;              /* QStartNoAckMode accepted */
    unsigned g_thread;        /* Hg: thread for registers and memory */
    int resume_thread;        /* thread to step (-1: the current one) */
    bool resume_step;         /* single-step rather than continue */
    struct vmdl_gdb_stop last_stop;
    struct vmdl_gdb_break breaks[VMDL_GDB_MAX_BREAKS];
    size_t reply_len;
    char reply[VMDL_GDB_MAX_PACKET + 1];
    size_t xml_len;
    char xml[12288];
};

/* target.xml for t's registers (features in table order, registers
 * numbered from 0).  Returns its length, 0 when it does not fit. */
size_t vmdl_gdb_build_xml(const struct vmdl_gdb_target *t, char *buf, size_t cap);

/* 0, or -1 when t is unusable (no registers, a register wider than 128
 * bits, no threads, an XML that does not fit). */
int vmdl_gdb_session_init(struct vmdl_gdb_session *s, const struct vmdl_gdb_target *t);
/* Handle one packet payload (as from vmdl_gdb_rx, NUL-terminated, len
 * bytes, may contain binary for X). */
enum vmdl_gdb_action vmdl_gdb_handle(struct vmdl_gdb_session *s, const char *pkt,
                                     size_t len);
/* The stop reply (T/W/S packet) for stop into s->reply; also remembered
 * for '?'.  The console text (O packet) for stop->why goes to out_o when
 * non-empty (capacity VMDL_GDB_MAX_PACKET + 1; empty string otherwise). */
void vmdl_gdb_stop_reply(struct vmdl_gdb_session *s, const struct vmdl_gdb_stop *stop,
                         char *out_o);
/* The breakpoint of the given type covering addr (watchpoints: any
 * overlap with addr..addr+len), or NULL. */
const struct vmdl_gdb_break *vmdl_gdb_find_break(const struct vmdl_gdb_session *s,
                                                 enum vmdl_gdb_bp_type type,
                                                 uint64_t addr, uint64_t len);

#endif
