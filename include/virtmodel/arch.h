/* SPDX-License-Identifier: MIT */
/*
 * The guest architectures virtmodel knows.  A core concept: images, the
 * machine and the tools all name architectures with this enum, and nothing
 * here depends on the machine layer.
 */
#ifndef VIRTMODEL_ARCH_H
#define VIRTMODEL_ARCH_H

#ifdef __cplusplus
extern "C" {
#endif

enum vmdl_arch {
    VMDL_ARCH_X86_64 = 1,
    VMDL_ARCH_ARM64 = 2,
};

/* "x86-64", "arm64", or "?" for a value that is neither. */
const char *vmdl_arch_name(enum vmdl_arch arch);

#ifdef __cplusplus
}
#endif
#endif
