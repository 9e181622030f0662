#include <stdlib.h>
#include <string.h>

#include "otrp/tee.h"
#include "util/buf.h"
#include "util/mem.h"

/* Growth starts here so that small answers need one allocation. */
#define BUF_MIN_CAPACITY 256

static otrp_status buf_reserve(otrp_buf *buf, size_t needed)
{
    if (needed < buf->cap)
        return OTRP_OK; /* strictly less: one byte is kept for the NUL */
    size_t cap = buf->cap < BUF_MIN_CAPACITY ? BUF_MIN_CAPACITY : buf->cap;
    while (cap <= needed) {
        if (cap > SIZE_MAX / 2)
            return OTRP_ERR_NO_MEMORY;
        cap *= 2;
    }
    /* Not realloc(): buffers carry secrets (keys, plaintext) and realloc would leave
     * a stale copy in freed memory. Copy, then wipe and free the old block. */
    unsigned char *data = malloc(cap);
    if (data == NULL)
        return OTRP_ERR_NO_MEMORY;
    if (buf->data != NULL) {
        memcpy(data, buf->data, buf->len);
        otrp__memzero(buf->data, buf->cap);
        free(buf->data);
    }
    buf->data = data;
    buf->cap = cap;
    return OTRP_OK;
}

/* Grow by len bytes, copied from data or, when data is NULL, zeros. */
static otrp_status buf_grow(otrp_buf *buf, const void *data, size_t len)
{
    if (len > SIZE_MAX - buf->len - 1)
        return OTRP_ERR_TOO_LARGE;
    size_t new_len = buf->len + len;
    if (buf->max != 0 && new_len > buf->max)
        return OTRP_ERR_TOO_LARGE;
    otrp_status st = buf_reserve(buf, new_len);
    if (st != OTRP_OK)
        return st;
    if (len > 0 && data != NULL)
        memcpy(buf->data + buf->len, data, len);
    else if (len > 0)
        memset(buf->data + buf->len, 0, len);
    buf->len = new_len;
    buf->data[buf->len] = '\0';
    return OTRP_OK;
}

otrp_status otrp_buf_append(otrp_buf *buf, const void *data, size_t len)
{
    if (len > 0 && data == NULL)
        return OTRP_ERR_INVALID_ARG;
    return buf_grow(buf, data, len);
}

otrp_status otrp__buf_extend(otrp_buf *buf, size_t len)
{
    return buf_grow(buf, NULL, len);
}

otrp_status otrp_buf_append_str(otrp_buf *buf, const char *str)
{
    return otrp_buf_append(buf, str, strlen(str));
}

void otrp_buf_reset(otrp_buf *buf)
{
    buf->len = 0;
    if (buf->data != NULL)
        buf->data[0] = '\0';
}

void otrp_buf_free(otrp_buf *buf)
{
    otrp__memzero(buf->data, buf->cap);
    free(buf->data);
    buf->data = NULL;
    buf->len = 0;
    buf->cap = 0;
}
