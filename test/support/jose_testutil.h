/* Helpers shared by the lib/jose test programs. */
#ifndef OTRP_TEST_JOSE_TESTUTIL_H
#define OTRP_TEST_JOSE_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "otrp/tee.h"

/* Read a file below test/vectors/ (the tests run from the repository root; the
 * OTRP_TEST_VECTORS environment variable overrides the directory). Appends the bytes
 * to out; returns 0 on success. */
int jt_read_vector(const char *name, otrp_buf *out);

/* Read any file; returns 0 on success. */
int jt_read_file(const char *path, otrp_buf *out);

/* Write len bytes to path; returns 0 on success. */
int jt_write_file(const char *path, const void *data, size_t len);

/* Decode base64url (no padding) into a malloc'd buffer (NULL on failure). */
uint8_t *jt_b64url_decode(const char *s, size_t *len);

/* base64url-encode into a malloc'd NUL-terminated string. */
char *jt_b64url_encode(const void *data, size_t len);

/* Make a fresh temporary directory (malloc'd path) or NULL; jt_rmdir removes it. */
char *jt_mkdtemp(void);
void jt_rmdir(const char *dir);

/* Run a shell command; returns its exit status (or -1). Output goes to /dev/null
 * unless the command redirects it itself. */
int jt_system(const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

#endif
