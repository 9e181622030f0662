/* Memory helpers shared by every module: zeroizing and constant-time comparison. */
#ifndef OTRP_UTIL_MEM_H
#define OTRP_UTIL_MEM_H

#include <stddef.h>

/* Overwrite len bytes with zeros in a way the compiler may not remove (secrets). */
void otrp__memzero(void *ptr, size_t len);

/* 1 when the two ranges are equal; time depends on len only (MACs, tags, hashes). */
int otrp__ct_equal(const void *a, const void *b, size_t len);

/* Duplicate len bytes as a NUL-terminated string (malloc); NULL when out of memory. */
char *otrp__strndup(const char *s, size_t len);

#endif
