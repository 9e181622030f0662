/* Internal growth of an otrp_buf (the public half is in otrp/tee.h). */
#ifndef OTRP_UTIL_BUF_H
#define OTRP_UTIL_BUF_H

#include "otrp/tee.h"

/* Grow buf by len zero bytes, with otrp_buf_append()'s checks (its max, size overflow,
 * memory), so that a reader can then fill them in place. */
otrp_status otrp__buf_extend(otrp_buf *buf, size_t len);

#endif
