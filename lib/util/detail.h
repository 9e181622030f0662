/* Detail sentences: the one bounded way every module explains a failure to its caller,
 * and the ways text from a peer (a TAM, a TEE, a daemon) is made safe to show there. */
#ifndef OTRP_UTIL_DETAIL_H
#define OTRP_UTIL_DETAIL_H

#include <stddef.h>

#include "otrp/status.h"

/* Format a sentence into detail (cap bytes, NUL included; cut when longer). Does
 * nothing when detail is NULL or cap is 0: callers may not want one. */
void otrp__set_detail(char *detail, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* otrp__set_detail(), then return st: `return otrp__fail(d, cap, OTRP_ERR_X, "...")`. */
otrp_status otrp__fail(char *detail, size_t cap, otrp_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A name or other short peer text quoted into a detail is cut to this many characters:
 * enough to recognise a name or a media type, short enough that one sentence holds
 * several. Buffers for such a quote are OTRP__QUOTE_MAX + 1 bytes. */
#define OTRP__QUOTE_MAX 96

/*
 * The one way peer-supplied text enters a detail, a log line or stderr: the len bytes
 * at text (NULL: none) are copied into out (cap bytes, NUL included) as printable
 * ASCII. Bytes 0x20..0x7E stay as they are; every other byte (NUL, control bytes such
 * as ESC, CR and LF, DEL, and every byte of a UTF-8 sequence, valid or not) becomes the
 * four characters \xNN (lower-case hex). A backslash stays a backslash, so quoting is
 * idempotent: text that a backend quoted and the agent quotes again reads the same.
 * Text that does not fit is cut between two characters, never inside an escape, and
 * ends in "..." then (when cap leaves room for it). Does nothing when cap is 0.
 */
void otrp__quote(char *out, size_t cap, const char *text, size_t len);

/* otrp__quote() of a C string (NULL reads as ""). */
void otrp__quote_str(char *out, size_t cap, const char *text);

/* 1 when the len bytes at text are well-formed UTF-8 (RFC 3629), else 0. */
int otrp__utf8_valid(const char *text, size_t len);

/*
 * Make text valid UTF-8 (RFC 3629) for a JSON document: every byte that does not
 * belong to a well-formed sequence (a stray continuation byte, a cut sequence, an
 * overlong form, a surrogate, a value past U+10FFFF, 0xC0, 0xC1, 0xF5..0xFF) is
 * replaced by U+FFFD, byte by byte. The text is not changed otherwise, so JSON stays
 * JSON (its structure is ASCII). *out is NULL when text was valid already, else a new
 * NUL-terminated string (malloc) of *out_len bytes.
 * OTRP_OK; OTRP_ERR_NO_MEMORY; OTRP_ERR_TOO_LARGE when the result would not fit a size_t.
 */
otrp_status otrp__utf8_repair(const char *text, size_t len, char **out, size_t *out_len);

#endif
