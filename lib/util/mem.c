#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

#include "otrp/common.h"
#include "otrp/version.h"

void otrp__memzero(void *ptr, size_t len)
{
    /* A volatile function pointer keeps the compiler from proving the store dead. */
    static void *(*const volatile memset_v)(void *, int, size_t) = memset;
    if (ptr != NULL && len > 0)
        (void)memset_v(ptr, 0, len);
}

int otrp__ct_equal(const void *a, const void *b, size_t len)
{
    const volatile unsigned char *x = a;
    const volatile unsigned char *y = b;
    unsigned char diff = 0;
    for (size_t i = 0; i < len; i++)
        diff |= (unsigned char)(x[i] ^ y[i]);
    return diff == 0;
}

char *otrp__strndup(const char *s, size_t len)
{
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return NULL;
    if (len > 0)
        memcpy(copy, s, len);
    copy[len] = '\0';
    return copy;
}

void otrp_free(void *ptr)
{
    free(ptr);
}

const char *otrp_version(void)
{
    return OTRP_VERSION_STRING;
}
