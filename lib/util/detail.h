/* Detail sentences: the one bounded way every module explains a failure to its caller. */
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

#endif
