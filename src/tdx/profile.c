/* SPDX-License-Identifier: MIT */
/*
 * TDX module profiles: the line format parser and the built-in profiles,
 * which are written in that same format (one source of truth for both).
 *
 * The built-in values are illustrative: shaped after the TDX module 1.5 and
 * 2.0 families (field set, feature bits Linux tests, plausible sizes), not
 * dumps of particular Intel releases.  Field IDs and sizes are the ABI's.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "virtmodel/error.h"
#include "tdx/tdx_internal.h"

/* ------------------------------------------------------------------ */
/* Built-in profiles                                                  */

static const char profile_1_5_05[] =
    "vmdl-tdx-profile 1\n"
    "# A TDX module 1.5 build from before the RBP-clobber fix:\n"
    "# TDX_FEATURES0 lacks NO_RBP_MOD (bit 18), so Linux prints the version\n"
    "# and then refuses to use the module.  No runtime update (TD_PRESERVING)\n"
    "# hence no handoff fields; no Dynamic PAMT.\n"
    "name tdx-1.5.05\n"
    "field MAJOR_VERSION = 1\n"
    "field MINOR_VERSION = 5\n"
    "field UPDATE_VERSION = 5\n"
    "field INTERNAL_VERSION = 0\n"
    "field BUILD_NUM = 578\n"
    "field BUILD_DATE = 20230323\n"
    "field SYS_ATTRIBUTES = 0\n"
    "field NUM_TDX_FEATURES = 1\n"
    "field TDX_FEATURES0 = 0x0000000000000001\n"
    "absent MODULE_HV\n"
    "absent MIN_UPDATE_HV\n"
    "absent NO_DOWNGRADE\n"
    "field NUM_CMRS = 2\n"
    "field CMR_BASE[0] = 0x0000000000100000\n"
    "field CMR_SIZE[0] = 0x000000007FF00000\n"
    "field CMR_BASE[1] = 0x0000000100000000\n"
    "field CMR_SIZE[1] = 0x0000000380000000\n"
    "field MAX_TDMRS = 64\n"
    "field MAX_RESERVED_PER_TDMR = 16\n"
    "field PAMT_4K_ENTRY_SIZE = 16\n"
    "field PAMT_2M_ENTRY_SIZE = 16\n"
    "field PAMT_1G_ENTRY_SIZE = 16\n"
    "absent PAMT_PAGE_BITMAP_ENTRY_BITS\n"
    "field TDR_BASE_SIZE = 4096\n"
    "field TDCS_BASE_SIZE = 16384\n"
    "field TDVPS_BASE_SIZE = 24576\n"
    "# ATTRIBUTES: DEBUG, SEPT_VE_DISABLE, PKS, PERFMON may be 1\n"
    "field ATTRIBUTES_FIXED0 = 0x8000000050000001\n"
    "field ATTRIBUTES_FIXED1 = 0\n"
    "# XFAM: x87, SSE, AVX, AVX-512, PT, PKRU, CET, AMX may be 1; x87+SSE must\n"
    "field XFAM_FIXED0 = 0x0000000000061BE7\n"
    "field XFAM_FIXED1 = 0x0000000000000003\n"
    "field MAX_VCPUS_PER_TD = 576\n"
    "# CPUID_CONFIG_LEAVES: leaf in bits 31:0, subleaf in 63:32 (all ones: none)\n"
    "field NUM_CPUID_CONFIG = 6\n"
    "field CPUID_CONFIG_LEAVES[0] = 0xFFFFFFFF00000001\n"
    "field CPUID_CONFIG_LEAVES[1] = 0x0000000000000007\n"
    "field CPUID_CONFIG_LEAVES[2] = 0x000000000000000D\n"
    "field CPUID_CONFIG_LEAVES[3] = 0x000000010000000D\n"
    "field CPUID_CONFIG_LEAVES[4] = 0xFFFFFFFF80000001\n"
    "field CPUID_CONFIG_LEAVES[5] = 0xFFFFFFFF80000008\n"
    "# CPUID_CONFIG_VALUES[2i]: EBX:EAX, [2i+1]: EDX:ECX configurable bits\n"
    "field CPUID_CONFIG_VALUES[0] = 0x00FF000000000000\n"
    "field CPUID_CONFIG_VALUES[1] = 0x1FA9EBFF00C7A203\n"
    "field CPUID_CONFIG_VALUES[2] = 0xDC9C6FBB00000000\n"
    "field CPUID_CONFIG_VALUES[3] = 0xBC44C4100241416E\n"
    "field CPUID_CONFIG_VALUES[4] = 0x0000000000000000\n"
    "field CPUID_CONFIG_VALUES[5] = 0x0000000000000000\n"
    "field CPUID_CONFIG_VALUES[6] = 0x000000000000000F\n"
    "field CPUID_CONFIG_VALUES[7] = 0x0000000000000000\n"
    "field CPUID_CONFIG_VALUES[8] = 0x0000000000000000\n"
    "field CPUID_CONFIG_VALUES[9] = 0x0000010000000121\n"
    "field CPUID_CONFIG_VALUES[10] = 0x0000000000FFFF\n"
    "field CPUID_CONFIG_VALUES[11] = 0x0000000000000000\n";

static const char profile_1_5_08[] =
    "vmdl-tdx-profile 1\n"
    "# TDX module 1.5 with the RBP fix (NO_RBP_MOD) and runtime update\n"
    "# (TD_PRESERVING): Linux accepts it and reads the handoff version.\n"
    "name tdx-1.5.08\n"
    "base tdx-1.5.05\n"
    "field UPDATE_VERSION = 8\n"
    "field BUILD_NUM = 810\n"
    "field BUILD_DATE = 20240305\n"
    "field TDX_FEATURES0 = 0x0000000000040003\n"
    "present MODULE_HV\n"
    "present MIN_UPDATE_HV\n"
    "present NO_DOWNGRADE\n"
    "field MODULE_HV = 1\n"
    "field MIN_UPDATE_HV = 0\n"
    "field NO_DOWNGRADE = 0\n";

static const char profile_2_0_02[] =
    "vmdl-tdx-profile 1\n"
    "# TDX module 2.0: adds Dynamic PAMT (TDX_FEATURES0 bit 36) and its\n"
    "# PAMT_PAGE_BITMAP_ENTRY_BITS field, more vCPUs, more CPUID leaves.\n"
    "name tdx-2.0.02\n"
    "base tdx-1.5.08\n"
    "field MAJOR_VERSION = 2\n"
    "field MINOR_VERSION = 0\n"
    "field UPDATE_VERSION = 2\n"
    "field BUILD_NUM = 123\n"
    "field BUILD_DATE = 20250214\n"
    "field TDX_FEATURES0 = 0x0000001000040003\n"
    "field MODULE_HV = 2\n"
    "field MIN_UPDATE_HV = 1\n"
    "present PAMT_PAGE_BITMAP_ENTRY_BITS\n"
    "field PAMT_PAGE_BITMAP_ENTRY_BITS = 1\n"
    "field TDCS_BASE_SIZE = 20480\n"
    "field TDVPS_BASE_SIZE = 28672\n"
    "field MAX_VCPUS_PER_TD = 2048\n"
    "field NUM_CPUID_CONFIG = 8\n"
    "field CPUID_CONFIG_LEAVES[6] = 0x0000000000000024\n"
    "field CPUID_CONFIG_LEAVES[7] = 0xFFFFFFFF80000021\n"
    "field CPUID_CONFIG_VALUES[12] = 0x00000000000000FF\n"
    "field CPUID_CONFIG_VALUES[13] = 0x0000000000000000\n"
    "field CPUID_CONFIG_VALUES[14] = 0x0000000000000004\n"
    "field CPUID_CONFIG_VALUES[15] = 0x0000000000000000\n";

static const struct {
    const char *name;
    const char *text;
} builtins[] = {
    {"tdx-1.5.05", profile_1_5_05},
    {"tdx-1.5.08", profile_1_5_08},
    {"tdx-2.0.02", profile_2_0_02},
};
#define NR_BUILTINS (sizeof(builtins) / sizeof(builtins[0]))

unsigned vmdl_tdx_builtin_count(void) { return NR_BUILTINS; }

const char *vmdl_tdx_builtin_name(unsigned i)
{
    return i < NR_BUILTINS ? builtins[i].name : NULL;
}

const char *vmdl_tdx_builtin_text(unsigned i)
{
    return i < NR_BUILTINS ? builtins[i].text : NULL;
}

/* ------------------------------------------------------------------ */
/* Parser                                                             */

#define MAX_LINE 512
#define MAX_BASE_DEPTH 8

struct parser {
    const char *origin;
    unsigned line;
    int depth;
    struct tdx_store *s;
    bool have_header, have_name, have_base, modified;
};

static int perr(struct parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int perr(struct parser *p, const char *fmt, ...)
{
    char why[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    return vmdl_fail(VMDL_EFORMAT, "%s:%u: %s", p->origin, p->line, why);
}

static char *skip_ws(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* Next whitespace-delimited token (NUL-terminated in place), or NULL. */
static char *token(char **cur)
{
    char *s = skip_ws(*cur);
    if (!*s)
        return NULL;
    char *t = s;
    while (*s && *s != ' ' && *s != '\t')
        s++;
    if (*s)
        *s++ = '\0';
    *cur = s;
    return t;
}

static bool parse_u64(const char *t, uint64_t *out)
{
    if (!*t || *t == '-' || *t == '+' || isspace((unsigned char)*t))
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(t, &end, 0);
    if (errno || *end)
        return false;
    /* Refuse octal surprises: "010" would read as 8. */
    if (t[0] == '0' && t[1] && t[1] != 'x' && t[1] != 'X')
        return false;
    *out = v;
    return true;
}

static bool valid_name(const char *n)
{
    size_t len = strlen(n);
    if (!len || len >= VMDL_TDX_PROFILE_NAME_MAX)
        return false;
    for (const char *c = n; *c; c++)
        if (!isalnum((unsigned char)*c) && !strchr("._+-", *c))
            return false;
    return true;
}

static int parse_text(struct parser *p, const char *text, size_t len);

static int do_base(struct parser *p, const char *name)
{
    if (p->have_base)
        return perr(p, "second 'base' line");
    if (p->modified)
        return perr(p, "'base' must come before any field, absent, present, "
                       "readable, unreadable or size-check line");
    if (p->depth >= MAX_BASE_DEPTH)
        return perr(p, "'base' chain deeper than %d", MAX_BASE_DEPTH);
    for (unsigned i = 0; i < NR_BUILTINS; i++) {
        if (strcmp(builtins[i].name, name))
            continue;
        struct tdx_store keep_name;
        memcpy(keep_name.name, p->s->name, sizeof(keep_name.name));
        struct parser sub = {.origin = builtins[i].name, .depth = p->depth + 1,
                             .s = p->s};
        vmdl__tdx_store_defaults(p->s);
        int err = parse_text(&sub, builtins[i].text, strlen(builtins[i].text));
        if (err)
            return err;
        memcpy(p->s->name, keep_name.name, sizeof(keep_name.name));
        p->have_base = true;
        return VMDL_OK;
    }
    return perr(p, "unknown base profile \"%s\" (built-ins: tdx-1.5.05, "
                   "tdx-1.5.08, tdx-2.0.02)", name);
}

/* Resolve NAME, NAME[index] or a field ID to (entry, element). */
static int resolve(struct parser *p, char *spec, bool want_elem, unsigned *f,
                   unsigned *elem)
{
    *elem = 0;
    if (spec[0] == '0' && (spec[1] == 'x' || spec[1] == 'X')) {
        uint64_t id;
        if (!want_elem)
            return perr(p, "give a field name here, not an ID");
        if (!parse_u64(spec, &id))
            return perr(p, "bad field ID \"%s\"", spec);
        if (!vmdl_tdx_fid_is_single_element(id))
            return perr(p, "field ID 0x%016llx has reserved or sequence bits set",
                        (unsigned long long)id);
        if (vmdl_tdx_fid_context(id) != VMDL_TDX_CTX_SYS)
            return perr(p, "field ID 0x%016llx is not a platform-scope (SYS) field",
                        (unsigned long long)id);
        int i = vmdl_tdx_field_by_id(id, elem);
        if (i < 0)
            return perr(p, "no modelled field has ID 0x%016llx",
                        (unsigned long long)id);
        uint64_t base = vmdl_tdx_field((unsigned)i)->base_id;
        if (vmdl_tdx_fid_elem_size_code(id) != vmdl_tdx_fid_elem_size_code(base) ||
            (id >> VMDL_TDX_FID_NON_ARCH_BIT) != (base >> VMDL_TDX_FID_NON_ARCH_BIT))
            return perr(p, "field ID 0x%016llx does not match %s (ID 0x%016llx): "
                           "size code or NON_ARCH bit differs",
                        (unsigned long long)id, vmdl_tdx_field((unsigned)i)->name,
                        (unsigned long long)base);
        *f = (unsigned)i;
        return VMDL_OK;
    }
    char *br = strchr(spec, '[');
    if (br) {
        if (!want_elem)
            return perr(p, "an index is not allowed here");
        char *close = strchr(br, ']');
        if (!close || close[1])
            return perr(p, "bad element index in \"%s\" (want NAME[n])", spec);
        *close = '\0';
        *br = '\0';
        uint64_t idx;
        if (!parse_u64(br + 1, &idx))
            return perr(p, "bad element index \"%s\"", br + 1);
        int i = vmdl_tdx_field_by_name(spec);
        if (i < 0)
            return perr(p, "unknown field \"%s\"", spec);
        if (idx >= vmdl_tdx_field_elems((unsigned)i))
            return perr(p, "index %llu out of range: %s has %u elements",
                        (unsigned long long)idx, spec,
                        vmdl_tdx_field_elems((unsigned)i));
        *f = (unsigned)i;
        *elem = (unsigned)idx;
        return VMDL_OK;
    }
    int i = vmdl_tdx_field_by_name(spec);
    if (i < 0)
        return perr(p, "unknown field \"%s\"", spec);
    *f = (unsigned)i;
    return VMDL_OK;
}

static int do_field(struct parser *p, char *rest)
{
    char *spec = token(&rest);
    char *eq = token(&rest);
    char *val = token(&rest);
    if (!spec || !eq || strcmp(eq, "=") || !val)
        return perr(p, "expected 'field NAME = VALUE'");
    if (token(&rest))
        return perr(p, "unexpected text after the value");
    unsigned f, elem;
    int err = resolve(p, spec, true, &f, &elem);
    if (err)
        return err;
    uint64_t v;
    if (!parse_u64(val, &v))
        return perr(p, "bad value \"%s\" (decimal or 0x hex, no sign)", val);
    uint64_t base = vmdl_tdx_field(f)->base_id;
    if (v & ~vmdl_tdx_fid_elem_mask(base))
        return perr(p, "value %s does not fit %s (%u-bit elements)", val,
                    vmdl_tdx_field(f)->name, 8 * vmdl_tdx_fid_elem_size(base));
    if (!(p->s->flags[f] & TDX_F_PRESENT))
        return perr(p, "%s is absent: add 'present %s' first",
                    vmdl_tdx_field(f)->name, vmdl_tdx_field(f)->name);
    p->s->v[vmdl__tdx_elem_base[f] + elem] = v;
    return VMDL_OK;
}

static int do_flag(struct parser *p, const char *kw, char *rest)
{
    char *spec = token(&rest);
    if (!spec)
        return perr(p, "expected '%s NAME'", kw);
    if (token(&rest))
        return perr(p, "unexpected text after the field name");
    unsigned f, elem;
    int err = resolve(p, spec, false, &f, &elem);
    if (err)
        return err;
    uint8_t *fl = &p->s->flags[f];
    if (!strcmp(kw, "absent"))
        *fl = 0;
    else if (!strcmp(kw, "present"))
        *fl = TDX_F_PRESENT | TDX_F_READABLE;
    else if (!(*fl & TDX_F_PRESENT))
        return perr(p, "%s is absent: add 'present %s' first",
                    vmdl_tdx_field(f)->name, vmdl_tdx_field(f)->name);
    else if (!strcmp(kw, "unreadable"))
        *fl = TDX_F_PRESENT;
    else
        *fl = TDX_F_PRESENT | TDX_F_READABLE;
    return VMDL_OK;
}

static int parse_line(struct parser *p, char *line)
{
    char *hash = strchr(line, '#');
    if (hash)
        *hash = '\0';
    char *cur = line;
    char *kw = token(&cur);
    if (!kw)
        return VMDL_OK;
    if (!p->have_header) {
        char *ver = token(&cur);
        if (strcmp(kw, "vmdl-tdx-profile"))
            return perr(p, "missing header: the first line must be "
                           "'vmdl-tdx-profile 1'");
        if (!ver || strcmp(ver, "1") || token(&cur))
            return perr(p, "unsupported profile format version (this reader "
                           "knows version 1)");
        p->have_header = true;
        return VMDL_OK;
    }
    if (!strcmp(kw, "name")) {
        char *n = token(&cur);
        if (p->have_name)
            return perr(p, "second 'name' line");
        if (!n || token(&cur) || !valid_name(n))
            return perr(p, "bad name: 1 to %d characters of [A-Za-z0-9._+-]",
                        VMDL_TDX_PROFILE_NAME_MAX - 1);
        snprintf(p->s->name, sizeof(p->s->name), "%s", n);
        p->have_name = true;
        return VMDL_OK;
    }
    if (!strcmp(kw, "base")) {
        char *n = token(&cur);
        if (!n || token(&cur))
            return perr(p, "expected 'base PROFILE'");
        return do_base(p, n);
    }
    p->modified = true;
    if (!strcmp(kw, "size-check")) {
        char *m = token(&cur);
        if (!m || token(&cur) || (strcmp(m, "strict") && strcmp(m, "ignore")))
            return perr(p, "expected 'size-check strict' or 'size-check ignore'");
        p->s->size_check = !strcmp(m, "strict") ? VMDL_TDX_SIZE_STRICT
                                                : VMDL_TDX_SIZE_IGNORE;
        return VMDL_OK;
    }
    if (!strcmp(kw, "field"))
        return do_field(p, cur);
    if (!strcmp(kw, "absent") || !strcmp(kw, "present") ||
        !strcmp(kw, "readable") || !strcmp(kw, "unreadable"))
        return do_flag(p, kw, cur);
    if (!strcmp(kw, "vmdl-tdx-profile"))
        return perr(p, "second header line");
    return perr(p, "unknown directive \"%s\"", kw);
}

static int parse_text(struct parser *p, const char *text, size_t len)
{
    size_t pos = 0;
    char line[MAX_LINE + 2];
    while (pos < len) {
        size_t end = pos;
        while (end < len && text[end] != '\n')
            end++;
        p->line++;
        size_t n = end - pos;
        if (n && text[pos + n - 1] == '\r')
            n--;
        if (n > MAX_LINE)
            return perr(p, "line longer than %d characters", MAX_LINE);
        if (memchr(text + pos, '\0', n))
            return perr(p, "NUL byte in the line");
        memcpy(line, text + pos, n);
        line[n] = '\0';
        int err = parse_line(p, line);
        if (err)
            return err;
        pos = end + 1;
    }
    if (!p->have_header)
        return perr(p, "empty profile: no 'vmdl-tdx-profile 1' header");
    if (!p->have_name)
        return perr(p, "no 'name' line");
    return VMDL_OK;
}

int vmdl_tdx_profile_parse(const char *text, size_t len, const char *origin,
                           struct vmdl_tdx_profile **out)
{
    if (!text || !out)
        return vmdl_fail(VMDL_EINVAL, "vmdl_tdx_profile_parse: NULL argument");
    struct vmdl_tdx_profile *prof = malloc(sizeof(*prof));
    if (!prof)
        return vmdl_fail(VMDL_ENOMEM, "vmdl_tdx_profile_parse: out of memory");
    vmdl__tdx_store_defaults(&prof->s);
    struct parser p = {.origin = origin ? origin : "<profile>", .s = &prof->s};
    int err = parse_text(&p, text, len);
    if (err) {
        free(prof);
        return err;
    }
    *out = prof;
    return VMDL_OK;
}

int vmdl_tdx_profile_builtin(const char *name, struct vmdl_tdx_profile **out)
{
    if (!name || !out)
        return vmdl_fail(VMDL_EINVAL, "vmdl_tdx_profile_builtin: NULL argument");
    for (unsigned i = 0; i < NR_BUILTINS; i++)
        if (!strcmp(builtins[i].name, name))
            return vmdl_tdx_profile_parse(builtins[i].text,
                                          strlen(builtins[i].text),
                                          builtins[i].name, out);
    return vmdl_fail(VMDL_ENOENT, "vmdl_tdx_profile_builtin: no built-in "
                                  "profile \"%s\"", name);
}

#define MAX_FILE (1u << 20)

int vmdl_tdx_profile_load(const char *path, struct vmdl_tdx_profile **out)
{
    if (!path || !out)
        return vmdl_fail(VMDL_EINVAL, "vmdl_tdx_profile_load: NULL argument");
    FILE *f = fopen(path, "rb");
    if (!f)
        return vmdl_fail(VMDL_EIO, "vmdl_tdx_profile_load: cannot open %s: %s",
                         path, strerror(errno));
    char *buf = malloc(MAX_FILE + 1);
    if (!buf) {
        fclose(f);
        return vmdl_fail(VMDL_ENOMEM, "vmdl_tdx_profile_load: out of memory");
    }
    size_t n = fread(buf, 1, MAX_FILE + 1, f);
    int rerr = ferror(f);
    fclose(f);
    int err;
    if (rerr)
        err = vmdl_fail(VMDL_EIO, "vmdl_tdx_profile_load: read error on %s",
                        path);
    else if (n > MAX_FILE)
        err = vmdl_fail(VMDL_EFORMAT, "%s: larger than %u bytes", path,
                        MAX_FILE);
    else
        err = vmdl_tdx_profile_parse(buf, n, path, out);
    free(buf);
    return err;
}

int vmdl_tdx_profile_open(const char *name_or_path,
                          struct vmdl_tdx_profile **out)
{
    if (!name_or_path || !out)
        return vmdl_fail(VMDL_EINVAL, "vmdl_tdx_profile_open: NULL argument");
    for (unsigned i = 0; i < NR_BUILTINS; i++)
        if (!strcmp(builtins[i].name, name_or_path))
            return vmdl_tdx_profile_builtin(name_or_path, out);
    return vmdl_tdx_profile_load(name_or_path, out);
}

void vmdl_tdx_profile_free(struct vmdl_tdx_profile *p)
{
    free(p);
}

const char *vmdl_tdx_profile_name(const struct vmdl_tdx_profile *p)
{
    return p->s.name;
}

static int check_field(unsigned field, const char *fn)
{
    if (field >= VMDL_TDX_NR_FIELDS)
        return vmdl_fail(VMDL_ERANGE, "%s: field index %u out of range", fn,
                         field);
    return VMDL_OK;
}

int vmdl_tdx_profile_get(const struct vmdl_tdx_profile *p, unsigned field,
                         unsigned elem, uint64_t *value)
{
    int err = check_field(field, "vmdl_tdx_profile_get");
    if (err)
        return err;
    if (elem >= vmdl_tdx_field_elems(field))
        return vmdl_fail(VMDL_ERANGE, "vmdl_tdx_profile_get: element %u of "
                         "%s out of range", elem, vmdl_tdx_field(field)->name);
    if (!(p->s.flags[field] & TDX_F_PRESENT)) {
        *value = 0;
        return VMDL_ENOENT;
    }
    *value = p->s.v[vmdl__tdx_elem_base[field] + elem];
    return VMDL_OK;
}

int vmdl_tdx_profile_present(const struct vmdl_tdx_profile *p, unsigned field)
{
    int err = check_field(field, "vmdl_tdx_profile_present");
    return err ? err : !!(p->s.flags[field] & TDX_F_PRESENT);
}

int vmdl_tdx_profile_readable(const struct vmdl_tdx_profile *p, unsigned field)
{
    int err = check_field(field, "vmdl_tdx_profile_readable");
    return err ? err : p->s.flags[field] == (TDX_F_PRESENT | TDX_F_READABLE);
}
