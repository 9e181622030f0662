/*
 * Strict JSON on cJSON: length-delimited parsing that rejects embedded NUL bytes,
 * duplicate member names and deep nesting, and typed member access. Never touches
 * cJSON's process-global error pointer or hooks.
 */
#ifndef OTRP_UTIL_JSON_STRICT_H
#define OTRP_UTIL_JSON_STRICT_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "otrp/status.h"

/* Deep enough for every OTrP document (DSI nests 6 levels), shallow enough to be safe. */
#define OTRP__JSON_MAX_DEPTH 32

/*
 * Parse exactly len bytes as one JSON value (surrounding white space allowed).
 * detail (may be NULL) receives a short reason on failure.
 * OTRP_ERR_JSON: not JSON or trailing bytes; OTRP_ERR_MSG_DUPLICATE: a member name
 * repeats in one object; OTRP_ERR_MSG_DEPTH: nested deeper than max_depth;
 * OTRP_ERR_NO_MEMORY.
 */
otrp_status otrp__json_parse(const char *text, size_t len, int max_depth, cJSON **out,
                             char *detail, size_t detail_cap);

/* Check an already-built tree for duplicate names and depth (same statuses). */
otrp_status otrp__json_check_tree(const cJSON *item, int max_depth, char *detail,
                                  size_t detail_cap);

/* Member lookup by exact (case-sensitive) name; NULL when absent. */
const cJSON *otrp__json_member(const cJSON *object, const char *name);

/* The member's string value, or NULL when absent or not a string. */
const char *otrp__json_string(const cJSON *object, const char *name);

/* 2^53: every integer up to this magnitude is exact in a JSON number (a double). */
#define OTRP__JSON_INT_MAX 9007199254740992LL

/*
 * 1 when item is a JSON number holding an integer in [lo, hi], which is stored in *out
 * (out may be NULL); 0 for anything else: not a number, a fraction, out of range, an
 * infinity or NaN. The range is checked on the double, before any conversion, so no
 * input reaches an out-of-range float-to-integer cast. lo and hi must lie within
 * +-OTRP__JSON_INT_MAX.
 */
int otrp__json_int_in(const cJSON *item, int64_t lo, int64_t hi, int64_t *out);

#endif
