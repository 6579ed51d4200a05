/* SPDX-License-Identifier: MIT */
/*
 * TDX module profiles: the contents of a module's global metadata (which
 * fields it implements, which a host may read, every element's value).
 * Built-in profiles are written in the same text format a custom profile
 * file uses (docs/tdx.md, "Profile files"):
 *
 *   # comment
 *   vmdl-tdx-profile 1              header, first non-comment line
 *   name my-module                  required, once
 *   base tdx-1.5.08                 optional: start from a built-in profile
 *   size-check strict|ignore        optional: TDH.SYS.RD element-size rule
 *   field MAJOR_VERSION = 1         set element 0 of an entry
 *   field CPUID_CONFIG_VALUES[3] = 0x1f   set element 3 of an entry
 *   field 0x9900000300000501 = 7    set the element with this field ID
 *   absent PAMT_PAGE_BITMAP_ENTRY_BITS    the module does not have it
 *   unreadable CMR_BASE             present, but not host-readable
 *
 * A malformed profile is refused with VMDL_EFORMAT and a message
 * "<origin>:<line>: <reason>".
 */
#ifndef VIRTMODEL_TDX_PROFILE_H
#define VIRTMODEL_TDX_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VMDL_TDX_PROFILE_NAME_MAX 48

struct vmdl_tdx_profile;

/* Built-in profiles. */
unsigned vmdl_tdx_builtin_count(void);
const char *vmdl_tdx_builtin_name(unsigned index);
/* The text of a built-in profile (its source, in the file format). */
const char *vmdl_tdx_builtin_text(unsigned index);
int vmdl_tdx_profile_builtin(const char *name, struct vmdl_tdx_profile **out);

/* Parse profile text; origin names it in messages ("file.tdx", ...). */
int vmdl_tdx_profile_parse(const char *text, size_t len, const char *origin,
                           struct vmdl_tdx_profile **out);
/* Read and parse a profile file. */
int vmdl_tdx_profile_load(const char *path, struct vmdl_tdx_profile **out);
/* A built-in profile by name, else a file by path. */
int vmdl_tdx_profile_open(const char *name_or_path,
                          struct vmdl_tdx_profile **out);
void vmdl_tdx_profile_free(struct vmdl_tdx_profile *p);

const char *vmdl_tdx_profile_name(const struct vmdl_tdx_profile *p);
/* Element value of the profile (0 and VMDL_ENOENT for an absent entry). */
int vmdl_tdx_profile_get(const struct vmdl_tdx_profile *p, unsigned field,
                         unsigned elem, uint64_t *value);
int vmdl_tdx_profile_present(const struct vmdl_tdx_profile *p, unsigned field);
int vmdl_tdx_profile_readable(const struct vmdl_tdx_profile *p,
                              unsigned field);

#ifdef __cplusplus
}
#endif
#endif
