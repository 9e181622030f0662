#include "jose_testutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/base64.h"

int jt_read_file(const char *path, otrp_buf *out)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    char chunk[4096];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (otrp_buf_append(out, chunk, n) != OTRP_OK)
            rc = -1;
    if (ferror(f))
        rc = -1;
    fclose(f);
    return rc;
}

int jt_read_vector(const char *name, otrp_buf *out)
{
    const char *dir = getenv("OTRP_TEST_VECTORS");
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir != NULL ? dir : "test/vectors", name);
    return jt_read_file(path, out);
}

int jt_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    int rc = fwrite(data, 1, len, f) == len ? 0 : -1;
    if (fclose(f) != 0)
        rc = -1;
    return rc;
}

uint8_t *jt_b64url_decode(const char *s, size_t *len)
{
    size_t n = strlen(s);
    uint8_t *out = malloc(otrp__b64_decoded_max(n) + 1);
    if (out == NULL)
        return NULL;
    if (otrp__b64_decode(s, n, out, len, OTRP__B64_URL) != OTRP_OK) {
        free(out);
        return NULL;
    }
    return out;
}

char *jt_b64url_encode(const void *data, size_t len)
{
    char *out = malloc(otrp__b64_encoded_len(len, OTRP__B64_URL) + 1);
    if (out != NULL)
        otrp__b64_encode(data, len, out, OTRP__B64_URL);
    return out;
}

char *jt_mkdtemp(void)
{
    char tmpl[] = "/tmp/otrp-jose-test-XXXXXX";
    if (mkdtemp(tmpl) == NULL)
        return NULL;
    return strdup(tmpl);
}

void jt_rmdir(const char *dir)
{
    if (dir != NULL && strncmp(dir, "/tmp/otrp-jose-test-", 20) == 0)
        (void)jt_system("rm -rf '%s'", dir);
}

int jt_system(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(cmd))
        return -1;
    int rc = system(cmd);
    if (rc == -1)
        return -1;
    return (rc >> 8) & 0xff;
}
