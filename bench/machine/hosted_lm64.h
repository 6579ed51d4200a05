/* SPDX-License-Identifier: MIT */
/*
 * The flat multiboot guest tests/machine/guests/hosted_lm64.S, assembled at
 * build time (cmake/flat_guest.cmake): it enters long mode with 2 MiB
 * identity pages over the first 1 GiB (the first one supervisor, the others
 * user), records #GP/#PF/#UD as (vector, error code, RIP) in R13/R14/R15
 * and halts, and runs the 64-bit payload at 0x100400.  Used by
 * test_hosted_x86_features.c, test_x86_io.c, bench_pks.c and bench_align.c
 * (their targets call vmdl_use_flat_guests(<target> hosted_lm64)).
 */
#ifndef VMDL_TEST_HOSTED_LM64_H
#define VMDL_TEST_HOSTED_LM64_H

#include "hosted_lm64_image.h"

#define LM64_LOAD 0x100000u
#define LM64_PAYLOAD 0x400u     /* the payload's offset in the image */

_Static_assert(sizeof(hosted_lm64_image) == LM64_PAYLOAD,
               "hosted_lm64.S must end where the payload starts");

#endif
