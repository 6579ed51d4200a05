/* SPDX-License-Identifier: MIT */
/*
 * Compiled into every program of a VMDL_SANITIZE build (an INTERFACE source
 * of the library target).  Unicorn 2.1.1 loses 32 bytes per uc_open /
 * uc_close pair inside libunicorn itself (measured with a four-line probe
 * that only opens and closes an engine, on both x86 and arm64; see
 * docs/unicorn.md).  LeakSanitizer reads this hook at start-up; the
 * suppression names only Unicorn's shared object, so a leak in virtmodel's
 * own code still fails the run.
 */
const char *__lsan_default_suppressions(void);

const char *__lsan_default_suppressions(void)
{
    return "leak:libunicorn.so\n";
}
