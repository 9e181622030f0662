#include "msg_build.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/base64.h"

char *b64url(const void *data, size_t len)
{
    char *out = malloc(otrp__b64_encoded_len(len, OTRP__B64_URL) + 1);
    if (out != NULL)
        otrp__b64_encode(data, len, out, OTRP__B64_URL);
    return out;
}

char *msg_make_with_tail(const char *outer, const char *tbs_json, const char *tail)
{
    char *payload = b64url(tbs_json, strlen(tbs_json));
    size_t cap = strlen(outer) + strlen(payload) + strlen(tail) + 64;
    char *msg = malloc(cap);
    if (msg != NULL && payload != NULL)
        (void)snprintf(msg, cap, "{\"%s\":{\"payload\":\"%s\",%s}}", outer, payload, tail);
    free(payload);
    return msg;
}

char *msg_make(const char *outer, const char *tbs_json)
{
    return msg_make_with_tail(outer, tbs_json,
                              "\"protected\":\"eyJhbGciOiJSUzI1NiJ9\",\"signature\":\"c2lnbmF0dXJl\"");
}
