/*
 * Strict JSON parsing of documents that carry a few very long strings (a TA image in
 * base64 inside a signed payload): the same tree and the same checks as
 * otrp__json_parse(), without passing the long strings through cJSON's byte-wise
 * string parser or the nesting pre-scan.
 */
#ifndef OTRP_UTIL_JSON_LIFT_H
#define OTRP_UTIL_JSON_LIFT_H

#include <stddef.h>
#include <cjson/cJSON.h>

#include "otrp/status.h"

/*
 * Parse exactly len bytes as otrp__json_parse() does (same statuses, same detail, same
 * tree). String values of at least lift_min bytes that contain no escape and no control
 * character are "lifted": cJSON parses the document with those strings emptied, and
 * their bytes are copied into the tree afterwards (one memcpy each). Any document the
 * lifted parse does not accept is parsed again the plain way, so a rejection reports
 * exactly what otrp__json_parse() reports.
 */
otrp_status otrp__json_parse_lifted(const char *text, size_t len, int max_depth,
                                    size_t lift_min, cJSON **out, char *detail,
                                    size_t detail_cap);

#endif
