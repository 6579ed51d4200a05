/* SPDX-License-Identifier: MIT */
#include "core/json.h"

#include <stdint.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when it is not one
 * (overlong forms, surrogates and values past U+10FFFF are refused). */
static size_t utf8_len(const unsigned char *s)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    uint32_t cp, min;
    if ((c & 0xE0) == 0xC0) { n = 2; cp = c & 0x1F; min = 0x80; }
    else if ((c & 0xF0) == 0xE0) { n = 3; cp = c & 0x0F; min = 0x800; }
    else if ((c & 0xF8) == 0xF0) { n = 4; cp = c & 0x07; min = 0x10000; }
    else return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/* The escaped form of one input character into out (at most 7 bytes);
 * returns its length and advances *s. */
static size_t escape_one(const unsigned char **s, char *out)
{
    unsigned c = **s;
    size_t n = utf8_len(*s);
    if (!n) {
        (*s)++;
        memcpy(out, "\xEF\xBF\xBD", 3); /* U+FFFD */
        return 3;
    }
    *s += n;
    if (n > 1) {
        memcpy(out, *s - n, n);
        return n;
    }
    switch (c) {
    case '"': memcpy(out, "\\\"", 2); return 2;
    case '\\': memcpy(out, "\\\\", 2); return 2;
    case '\n': memcpy(out, "\\n", 2); return 2;
    case '\r': memcpy(out, "\\r", 2); return 2;
    case '\t': memcpy(out, "\\t", 2); return 2;
    case '\b': memcpy(out, "\\b", 2); return 2;
    case '\f': memcpy(out, "\\f", 2); return 2;
    default: break;
    }
    if (c < 0x20 || c == 0x7F)
        return (size_t)snprintf(out, 8, "\\u%04x", c);
    out[0] = (char)c;
    return 1;
}

size_t vmdl_json_write_string(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t total = 2;
    fputc('"', f);
    while (*p) {
        char tmp[8];
        size_t n = escape_one(&p, tmp);
        fwrite(tmp, 1, n, f);
        total += n;
    }
    fputc('"', f);
    return total;
}

size_t vmdl_json_escape(const char *s, char *buf, size_t cap)
{
    if (!buf || cap < 3) {
        if (buf && cap)
            buf[0] = '\0';
        return 0;
    }
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t len = 0;
    buf[len++] = '"';
    while (*p) {
        char tmp[8];
        size_t n = escape_one(&p, tmp);
        if (len + n + 2 > cap)
            break;
        memcpy(buf + len, tmp, n);
        len += n;
    }
    buf[len++] = '"';
    buf[len] = '\0';
    return len;
}
