/* SPDX-License-Identifier: MIT */
/*
 * JSON string escaping for machine-readable output (the JSON Lines trace).
 * Internal to the library: core, so that tools in src/ and the tests can use
 * it without the machine layer.
 */
#ifndef VMDL_CORE_JSON_H
#define VMDL_CORE_JSON_H

#include <stddef.h>
#include <stdio.h>

/*
 * Write `s` to f as a JSON string, quotes included.  Escapes '"', '\\' and
 * every control character (RFC 8259 section 7); bytes that do not form valid
 * UTF-8 become U+FFFD, so the output is always valid JSON whatever the input
 * (guest-controlled disassembly or messages).  Returns the bytes written.
 */
size_t vmdl_json_write_string(FILE *f, const char *s);

/* Same, into buf (NUL-terminated, truncated at a character boundary when it
 * does not fit, closing quote kept).  Returns the length written. */
size_t vmdl_json_escape(const char *s, char *buf, size_t cap);

#endif
