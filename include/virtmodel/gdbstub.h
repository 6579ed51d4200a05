/* SPDX-License-Identifier: MIT */
/*
 * A GDB remote-protocol stub for one VM: GDB (gdb-multiarch) connects over
 * TCP, sees one thread per vCPU, reads and writes registers (target.xml for
 * x86-64 and aarch64) and memory, sets software and hardware breakpoints and
 * watchpoints, single-steps, continues and interrupts with Ctrl-C.  Exits no
 * debugger handles go to the caller's on_exit, as from vmdl_vm_run.
 */
#ifndef VIRTMODEL_GDBSTUB_H
#define VIRTMODEL_GDBSTUB_H

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

struct vmdl_vm;
struct vmdl_exit;

struct vmdl_gdb_config {
    const char *host;        /* address to listen on; NULL: 127.0.0.1 */
    unsigned port;           /* 0: any free port (see on_listen) */
    /* true: wait for the debugger before the guest runs (QEMU's -S);
     * false: the guest runs and a debugger may attach at any time. */
    bool wait;
    /* Seconds to wait for the debugger with `wait` (0: 60). */
    double attach_timeout_s;
    /* Called once listening, with the port (useful with port 0). */
    void (*on_listen)(void *opaque, unsigned port);
    /* An exit the stub does not take (not a debug stop): complete it as
     * the caller's run loop would and return -1 to go on, or the status
     * that ends the run (the debugger sees the process exit with it). */
    int (*on_exit)(void *opaque, struct vmdl_vm *vm, const struct vmdl_exit *exit);
    void *opaque;
};

/*
 * Run vm under the stub until the guest ends (shutdown, or on_exit returns
 * a status) or the debugger kills it.  Returns 0 with *status set (the
 * guest's status; 137 when the debugger killed it), or a negative vmdl_err
 * (socket errors, no debugger within the timeout).
 */
int vmdl_gdb_serve(struct vmdl_vm *vm, const struct vmdl_gdb_config *cfg, int *status);

#ifdef __cplusplus
}
#endif
#endif
