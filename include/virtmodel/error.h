/* SPDX-License-Identifier: MIT */
/*
 * Error codes shared by every layer of virtmodel.
 *
 * API functions return 0 (VMDL_OK) on success and a negative vmdl_err on
 * failure.  A failing call also records a human-readable message that
 * vmdl_last_error() returns; the message names the function and the bad
 * argument so a caller can print it as it is.
 */
#ifndef VIRTMODEL_ERROR_H
#define VIRTMODEL_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vmdl_err {
    VMDL_OK = 0,
    VMDL_EINVAL = -1,      /* bad argument */
    VMDL_ENOMEM = -2,      /* allocation failed */
    VMDL_ERANGE = -3,      /* value or index out of range */
    VMDL_ENOENT = -4,      /* no such object, field or register */
    VMDL_EBADBLOB = -5,    /* malformed, truncated or corrupted state blob */
    VMDL_EVERSION = -6,    /* state blob of another format version */
    VMDL_EIO = -7,         /* file or host I/O failed */
    VMDL_EFORMAT = -8,     /* malformed guest image or input file */
    VMDL_ENOTSUP = -9,     /* not supported by this model or configuration */
    VMDL_ESTATE = -10,     /* operation not valid in the current state */
    VMDL_EBACKEND = -11,   /* Unicorn or Capstone reported an error */
} vmdl_err;

/* Short constant description of an error code ("invalid argument", ...). */
const char *vmdl_strerror(int err);

/*
 * Record the detailed message of the last failure in this thread and return
 * err, so that a failing path can be written `return vmdl_fail(VMDL_EINVAL,
 * "...")`.  printf-style.
 */
int vmdl_fail(int err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The last message recorded in this thread ("" when none). */
const char *vmdl_last_error(void);

/* Forget the last message. */
void vmdl_clear_error(void);

#ifdef __cplusplus
}
#endif
#endif
