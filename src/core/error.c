/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "virtmodel/error.h"
#include "virtmodel/fault.h"

static _Thread_local char last_message[512];

const char *vmdl_strerror(int err)
{
    switch (err) {
    case VMDL_OK: return "success";
    case VMDL_EINVAL: return "invalid argument";
    case VMDL_ENOMEM: return "out of memory";
    case VMDL_ERANGE: return "value out of range";
    case VMDL_ENOENT: return "no such object";
    case VMDL_EBADBLOB: return "malformed state blob";
    case VMDL_EVERSION: return "state blob version mismatch";
    case VMDL_EIO: return "I/O error";
    case VMDL_EFORMAT: return "malformed input";
    case VMDL_ENOTSUP: return "not supported";
    case VMDL_ESTATE: return "invalid in the current state";
    case VMDL_EBACKEND: return "emulator backend error";
    default: return "unknown error";
    }
}

int vmdl_fail(int err, const char *fmt, ...)
{
    /* Through a copy: callers pass the last message on as an argument
     * ("%s", vmdl_last_error()), and formatting a buffer into itself left
     * it empty. */
    char msg[sizeof(last_message)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    memcpy(last_message, msg, sizeof(msg));
    return err;
}

const char *vmdl_last_error(void)
{
    return last_message;
}

void vmdl_clear_error(void)
{
    last_message[0] = '\0';
}

const char *vmdl_fault_name(vmdl_fault f)
{
    switch (f) {
    case VMDL_FAULT_NONE: return "none";
    case VMDL_FAULT_UD: return "#UD";
    case VMDL_FAULT_GP: return "#GP(0)";
    case VMDL_FAULT_PF: return "#PF";
    case VMDL_FAULT_SS: return "#SS";
    case VMDL_FAULT_VC: return "#VC";
    case VMDL_FAULT_UNDEF: return "UNDEF";
    case VMDL_FAULT_SYSREG_TRAP: return "MSR/MRS trap";
    case VMDL_FAULT_UNCLAIMED: return "unclaimed";
    }
    return "?";
}
