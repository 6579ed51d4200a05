/* SPDX-License-Identifier: MIT */
/*
 * tdx_version: a host-kernel-like TDX bring-up over SEAMCALL, shaped after
 * Linux arch/x86/virt/vmx/tdx/tdx.c: global init (TDH.SYS.INIT), per-CPU
 * init (TDH.SYS.LP.INIT), then the global metadata read field by field with
 * TDH.SYS.RD into tdx_sys_info-like structures, the version line Linux
 * prints, and Linux's NO_RBP_MOD feature check.  Then a next-field walk over
 * everything readable and the same through one TDH.SYS.RDALL list.  Run with --tdx-profile NAME|FILE.
 *
 * Exit: 0 all good; 3 the feature check refused the module (as Linux
 * refuses it), harness status 7; 4 a SEAMCALL or metadata failure, harness
 * status 9 (values chosen not to collide with the harness's own statuses).
 */
#include "guest.h"

/* SEAMCALL leaves and statuses (TDX module ABI). */
#define TDH_SYS_INIT     33
#define TDH_SYS_RD       34
#define TDH_SYS_LP_INIT  35
#define TDH_SYS_RDALL    37
#define TDX_SUCCESS      0ull
#define TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT 0x00000C0B00000000ull
/* The module's RDRAND/RDSEED ran dry: Linux's sc_retry calls again. */
#define TDX_RND_NO_ENTROPY 0x8000020300000000ull
#define RDRAND_RETRY_LOOPS 10
/* Linux's software code for VMfailInvalid (no module loaded). */
#define TDX_SEAMCALL_VMFAILINVALID 0x8000FF00FFFF0000ull
#define MD_FIELD_ID_NA   0xFFFFFFFFFFFFFFFFull

#define EXIT_REFUSED 3
#define EXIT_FAILED  4

#define TDX_FEATURES0_TD_PRESERVING (1ull << 1)
#define TDX_FEATURES0_NO_RBP_MOD    (1ull << 18)
#define TDX_FEATURES0_DYNAMIC_PAMT  (1ull << 36)

struct seam_args {
    uint64_t rcx, rdx, r8, r9, r10, r11;
};

/* SEAMCALL (66 0F 01 CF): status in RAX, or VMFAILINVALID when CF=1. */
static uint64_t seamcall(uint64_t fn, struct seam_args *a)
{
    register uint64_t r8 __asm__("r8") = a->r8;
    register uint64_t r9 __asm__("r9") = a->r9;
    register uint64_t r10 __asm__("r10") = a->r10;
    register uint64_t r11 __asm__("r11") = a->r11;
    uint64_t rax = fn, rcx = a->rcx, rdx = a->rdx;
    uint8_t cf;
    __asm__ volatile(".byte 0x66, 0x0f, 0x01, 0xcf\n\tsetc %[cf]"
                     : "+a"(rax), "+c"(rcx), "+d"(rdx), "+r"(r8), "+r"(r9),
                       "+r"(r10), "+r"(r11), [cf] "=qm"(cf)
                     :
                     : "memory", "cc");
    a->rcx = rcx;
    a->rdx = rdx;
    a->r8 = r8;
    a->r9 = r9;
    a->r10 = r10;
    a->r11 = r11;
    return cf ? TDX_SEAMCALL_VMFAILINVALID : rax;
}

/*
 * Linux's sc_retry_prerr: the call is repeated while the module has no
 * entropy; no module is -ENODEV (not printed); a module error is printed
 * (with the registers for the _ret variants) and -EIO.  #GP/#UD of the
 * SEAMCALL itself (Linux: -EOPNOTSUPP/-EACCES through its exception fixup)
 * would be delivered to this guest instead.
 */
static int seamcall_prerr(uint64_t fn, struct seam_args *a, int print_regs)
{
    uint64_t st;
    int retry = RDRAND_RETRY_LOOPS;
    do {
        st = seamcall(fn, a);
    } while (st == TDX_RND_NO_ENTROPY && --retry);
    if (st == TDX_SUCCESS)
        return 0;
    if (st == TDX_SEAMCALL_VMFAILINVALID)
        return -19; /* ENODEV */
    rt_printf("virt/tdx: SEAMCALL (0x%016lx) failed: 0x%016lx\n", fn, st);
    if (print_regs) {
        rt_printf("virt/tdx: RCX 0x%016lx RDX 0x%016lx R08 0x%016lx\n",
                  a->rcx, a->rdx, a->r8);
        rt_printf("virt/tdx: R09 0x%016lx R10 0x%016lx R11 0x%016lx\n",
                  a->r9, a->r10, a->r11);
    }
    return -5; /* EIO */
}

static int read_sys_metadata_field(uint64_t field_id, uint64_t *data)
{
    struct seam_args a = {.rdx = field_id};
    int ret = seamcall_prerr(TDH_SYS_RD, &a, 1);
    if (ret)
        return ret;
    *data = a.r8;
    return 0;
}

struct sys_info {
    uint16_t minor_version, major_version, update_version;
    uint64_t tdx_features0;
    uint16_t max_tdmrs, max_reserved_per_tdmr;
    uint16_t pamt_4k_entry_size, pamt_2m_entry_size, pamt_1g_entry_size;
    uint16_t pamt_page_bitmap_entry_bits;   /* Linux: u8 */
    uint16_t tdr_base_size, tdcs_base_size, tdvps_base_size;
    uint64_t attributes_fixed0, attributes_fixed1, xfam_fixed0, xfam_fixed1;
    uint16_t num_cpuid_config, max_vcpus_per_td;
    uint64_t cpuid_config_leaves[128];
    uint64_t cpuid_config_values[128][2];
    uint16_t module_hv;
};

static struct sys_info info;

/* Read element idx of a field into a member of its element size (the size
 * is ID bits 33:32; checked at build time, as Linux does). */
#define READ_AT(id, idx, member)                                             \
    do {                                                                     \
        _Static_assert(sizeof(member) == 1u << (((id) >> 32) & 3),           \
                       "member size differs from the field's");              \
        uint64_t v_;                                                         \
        if (!ret && !(ret = read_sys_metadata_field((id) + (idx), &v_)))     \
            member = (__typeof__(member))v_;                                 \
    } while (0)
#define READ(id, member) READ_AT(id, 0, member)

static int get_sys_info(void)
{
    int ret = 0;
    READ(0x0800000100000003ull, info.minor_version);
    READ(0x0800000100000004ull, info.major_version);
    READ(0x0800000100000005ull, info.update_version);

    rt_printf("virt/tdx: Module version: %u.%u.%02u\n", info.major_version,
              info.minor_version, info.update_version);

    READ(0x0A00000300000008ull, info.tdx_features0);
    READ(0x9100000100000008ull, info.max_tdmrs);
    READ(0x9100000100000009ull, info.max_reserved_per_tdmr);
    READ(0x9100000100000010ull, info.pamt_4k_entry_size);
    READ(0x9100000100000011ull, info.pamt_2m_entry_size);
    READ(0x9100000100000012ull, info.pamt_1g_entry_size);
    if (info.tdx_features0 & TDX_FEATURES0_DYNAMIC_PAMT)
        READ(0x9100000100000013ull, info.pamt_page_bitmap_entry_bits);
    READ(0x9800000100000000ull, info.tdr_base_size);
    READ(0x9800000100000100ull, info.tdcs_base_size);
    READ(0x9800000100000200ull, info.tdvps_base_size);
    READ(0x1900000300000000ull, info.attributes_fixed0);
    READ(0x1900000300000001ull, info.attributes_fixed1);
    READ(0x1900000300000002ull, info.xfam_fixed0);
    READ(0x1900000300000003ull, info.xfam_fixed1);
    READ(0x9900000100000004ull, info.num_cpuid_config);
    READ(0x9900000100000008ull, info.max_vcpus_per_td);
    if (info.num_cpuid_config > 128)
        return -22; /* EINVAL */
    for (unsigned i = 0; i < info.num_cpuid_config; i++)
        READ_AT(0x9900000300000400ull, i, info.cpuid_config_leaves[i]);
    for (unsigned i = 0; i < info.num_cpuid_config; i++)
        for (unsigned j = 0; j < 2; j++)
            READ_AT(0x9900000300000500ull, i * 2 + j,
                    info.cpuid_config_values[i][j]);
    if (info.tdx_features0 & TDX_FEATURES0_TD_PRESERVING)
        READ(0x8900000100000000ull, info.module_hv);
    return ret;
}

/* Every readable field once, following the module's next-field IDs. */
static int walk(unsigned *count)
{
    struct seam_args a = {.rdx = MD_FIELD_ID_NA};
    uint64_t st = seamcall(TDH_SYS_RD, &a);
    if (st != TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT)
        return -5;
    *count = 0;
    while (a.rdx != MD_FIELD_ID_NA && *count < 4096) {
        uint64_t id = a.rdx;
        a = (struct seam_args){.rdx = id};
        if (seamcall(TDH_SYS_RD, &a) != TDX_SUCCESS)
            return -5;
        /* The value fits the element size the ID encodes. */
        unsigned bits = 8u << ((id >> 32) & 3);
        if (bits < 64 && (a.r8 >> bits))
            return -34;
        (*count)++;
    }
    return 0;
}

/* The whole readable metadata as one list (TDH.SYS.RDALL), counted. */
static uint8_t md_list[4096] __attribute__((aligned(4096)));

static int rdall(unsigned *elems, unsigned *seqs)
{
    struct seam_args a = {.rdx = (uint64_t)(uintptr_t)md_list,
                          .r8 = MD_FIELD_ID_NA};
    uint64_t st = seamcall(TDH_SYS_RDALL, &a);
    if (st != TDX_SUCCESS || a.r8 != MD_FIELD_ID_NA)
        return -5;
    const uint64_t *q = (const uint64_t *)md_list;
    unsigned size = q[0] & 0xFFFF, nseq = (q[0] >> 16) & 0xFFFF, off = 1;
    *elems = 0;
    for (unsigned s = 0; s < nseq; s++) {
        uint64_t h = q[off++];
        unsigned n = (unsigned)(((h >> 34) & 0xF) + 1) * (unsigned)(((h >> 38) & 0x1FF) + 1);
        *elems += n;
        off += n;
    }
    *seqs = nseq;
    return off * 8 == size ? 0 : -74; /* EBADMSG */
}

int main(void)
{
    struct seam_args a = {0};
    /* RCX is the module attributes: all bits reserved. */
    int ret = seamcall_prerr(TDH_SYS_INIT, &a, 0);
    if (ret == -19)
        rt_puts("virt/tdx: module not loaded\n");
    if (ret)
        return EXIT_FAILED;
    a = (struct seam_args){0};
    if (seamcall_prerr(TDH_SYS_LP_INIT, &a, 0))
        return EXIT_FAILED;

    ret = get_sys_info();
    if (ret) {
        rt_printf("virt/tdx: reading global metadata failed: %d\n", ret);
        return EXIT_FAILED;
    }
    rt_printf("tdx: features0 0x%lx, %u TDMRs x %u reserved areas, PAMT "
              "entries %u/%u/%u bytes\n", info.tdx_features0, info.max_tdmrs,
              info.max_reserved_per_tdmr, info.pamt_4k_entry_size,
              info.pamt_2m_entry_size, info.pamt_1g_entry_size);
    rt_printf("tdx: TDR %u TDCS %u TDVPS %u bytes, max %u vCPUs per TD, %u "
              "CPUID configs\n", info.tdr_base_size, info.tdcs_base_size,
              info.tdvps_base_size, info.max_vcpus_per_td,
              info.num_cpuid_config);
    if (info.tdx_features0 & TDX_FEATURES0_TD_PRESERVING)
        rt_printf("tdx: module handoff version %u\n", info.module_hv);
    if (info.tdx_features0 & TDX_FEATURES0_DYNAMIC_PAMT)
        rt_printf("tdx: Dynamic PAMT, %u bitmap bits per entry\n",
                  info.pamt_page_bitmap_entry_bits);

    unsigned n = 0;
    if (walk(&n)) {
        rt_puts("tdx: next-field walk failed\n");
        return EXIT_FAILED;
    }
    rt_printf("tdx: next-field walk visited %u readable elements\n", n);
    unsigned elems = 0, seqs = 0;
    if (rdall(&elems, &seqs)) {
        rt_puts("tdx: TDH.SYS.RDALL failed\n");
        return EXIT_FAILED;
    }
    rt_printf("tdx: TDH.SYS.RDALL listed %u elements in %u sequences\n",
              elems, seqs);

    if (!(info.tdx_features0 & TDX_FEATURES0_NO_RBP_MOD)) {
        rt_puts("virt/tdx: frame pointer (RBP) clobber bug present, upgrade "
                "TDX module\n");
        return EXIT_REFUSED;
    }
    rt_puts("tdx: module initialized\n");
    return 0;
}
