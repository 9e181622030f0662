/*
 * A strict, allocation-free JSON reader over a byte range: a cursor that reads one
 * token at a time and validates whole values without building a tree. The agent uses
 * it to read the outer OTrP structure without touching (or copying) large members.
 *
 * Strictness: RFC 8259 grammar, no control characters in strings, valid escapes,
 * duplicate member names rejected, nesting bounded. Names are compared by the text
 * they spell ("\u0070" is "p"), read up to a \u0000 as strcmp and cJSON read it.
 */
#ifndef OTRP_UTIL_JSON_SCAN_H
#define OTRP_UTIL_JSON_SCAN_H

#include <stddef.h>

#include "otrp/status.h"

typedef struct otrp__json_cursor {
    const char *s;    /* the text */
    size_t len;       /* its length */
    size_t pos;       /* next byte to read */
    char *detail;     /* receives a reason on failure (may be NULL) */
    size_t detail_cap;
} otrp__json_cursor;

/* Skip white space; return the next byte, or -1 at the end. */
int otrp__jc_peek(otrp__json_cursor *c);

/* Skip white space and consume ch, else OTRP_ERR_JSON. */
otrp_status otrp__jc_expect(otrp__json_cursor *c, char ch);

/*
 * Read a string at the cursor (white space first). Its decoded text (escapes resolved,
 * \u escapes as UTF-8) goes to out when out is not NULL: at most cap bytes, then a NUL
 * when room remains. *decoded_len (may be NULL) receives the full decoded length so the
 * caller can tell truncation; *has_nul is set when the text contains \u0000.
 * start and end (may be NULL) receive the span of the raw string including quotes.
 */
otrp_status otrp__jc_string(otrp__json_cursor *c, char *out, size_t cap,
                            size_t *decoded_len, int *has_nul, size_t *start, size_t *end);

/* Validate and skip one value of any type; depth_left bounds the nesting. */
otrp_status otrp__jc_skip_value(otrp__json_cursor *c, int depth_left);

/* Record a failure reason "<what> at byte N" in the cursor's detail buffer. */
void otrp__jc_fail(otrp__json_cursor *c, const char *what);

/* Write code point cp (at most 0x10FFFF) as UTF-8 into b (4 bytes); returns the length. */
size_t otrp__utf8_encode(unsigned long cp, char *b);

/* Validate the characters of a string body that needs no decoding (fast path):
 * returns the index of the first '"', '\\' or control byte at or after from, or len. */
size_t otrp__jc_scan_plain(const char *s, size_t from, size_t len);

#endif
