#include "util/detail.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void vset(char *detail, size_t cap, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void vset(char *detail, size_t cap, const char *fmt, va_list ap)
{
    if (detail != NULL && cap > 0)
        (void)vsnprintf(detail, cap, fmt, ap);
}

void otrp__set_detail(char *detail, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vset(detail, cap, fmt, ap);
    va_end(ap);
}

otrp_status otrp__fail(char *detail, size_t cap, otrp_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vset(detail, cap, fmt, ap);
    va_end(ap);
    return st;
}

/* ---- peer text ---- */

/* A byte that is not printable ASCII is written as \xNN: four characters. */
#define ESCAPE_LEN 4
/* What ends quoted text that was cut. */
#define CUT_MARK "..."
/* U+FFFD REPLACEMENT CHARACTER in UTF-8: what a byte that is not UTF-8 becomes. */
#define REPLACEMENT "\xEF\xBF\xBD"

static int printable(unsigned char c)
{
    return c >= 0x20 && c <= 0x7E;
}

void otrp__quote(char *out, size_t cap, const char *text, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    if (cap == 0)
        return;
    const size_t room = cap - 1, mark = sizeof CUT_MARK - 1;
    size_t n = 0, i = 0;
    size_t keep = 0; /* the longest output so far that leaves room for the mark */
    for (; text != NULL && i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        size_t width = printable(c) ? 1 : ESCAPE_LEN;
        if (width > room - n)
            break;
        if (width == 1) {
            out[n] = (char)c;
        } else {
            out[n] = '\\';
            out[n + 1] = 'x';
            out[n + 2] = hex[c >> 4];
            out[n + 3] = hex[c & 0x0F];
        }
        n += width;
        if (n + mark <= room)
            keep = n;
    }
    if (text != NULL && i < len && mark <= room) {
        memcpy(out + keep, CUT_MARK, mark);
        n = keep + mark;
    }
    out[n] = '\0';
}

void otrp__quote_str(char *out, size_t cap, const char *text)
{
    otrp__quote(out, cap, text, text != NULL ? strlen(text) : 0);
}

/* The length (1..4) of the well-formed UTF-8 sequence at s (n bytes left), or 0 when
 * the byte at s does not start one (RFC 3629 section 4, the table of well-formed byte
 * sequences: the second byte's range depends on the first). */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        lo = c == 0xE0 ? 0xA0 : lo; /* no overlong forms */
        hi = c == 0xED ? 0x9F : hi; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        lo = c == 0xF0 ? 0x90 : lo; /* no overlong forms */
        hi = c == 0xF4 ? 0x8F : hi; /* nothing past U+10FFFF */
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    }
    return len;
}

/* The bytes of text that belong to no well-formed sequence. */
static size_t utf8_bad_bytes(const unsigned char *s, size_t len)
{
    size_t bad = 0;
    for (size_t i = 0; i < len;) {
        size_t k = utf8_sequence(s + i, len - i);
        bad += k == 0;
        i += k == 0 ? 1 : k;
    }
    return bad;
}

int otrp__utf8_valid(const char *text, size_t len)
{
    return utf8_bad_bytes((const unsigned char *)text, len) == 0;
}

otrp_status otrp__utf8_repair(const char *text, size_t len, char **out, size_t *out_len)
{
    const unsigned char *s = (const unsigned char *)text;
    *out = NULL;
    *out_len = 0;
    size_t bad = utf8_bad_bytes(s, len);
    if (bad == 0)
        return OTRP_OK;
    const size_t growth = sizeof REPLACEMENT - 2; /* one byte becomes three */
    if (bad > (SIZE_MAX - 1 - len) / growth)
        return OTRP_ERR_TOO_LARGE;
    char *r = malloc(len + bad * growth + 1);
    if (r == NULL)
        return OTRP_ERR_NO_MEMORY;
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        size_t k = utf8_sequence(s + i, len - i);
        if (k == 0) {
            memcpy(r + n, REPLACEMENT, sizeof REPLACEMENT - 1);
            n += sizeof REPLACEMENT - 1;
            i++;
        } else {
            memcpy(r + n, text + i, k);
            n += k;
            i += k;
        }
    }
    r[n] = '\0';
    *out = r;
    *out_len = n;
    return OTRP_OK;
}
