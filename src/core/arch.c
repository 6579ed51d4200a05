/* SPDX-License-Identifier: MIT */
#include "virtmodel/arch.h"

const char *vmdl_arch_name(enum vmdl_arch arch)
{
    switch (arch) {
    case VMDL_ARCH_X86_64: return "x86-64";
    case VMDL_ARCH_ARM64: return "arm64";
    default: return "?";
    }
}
