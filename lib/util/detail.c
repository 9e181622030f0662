#include "util/detail.h"

#include <stdarg.h>
#include <stdio.h>

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
