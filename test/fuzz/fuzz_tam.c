/*
 * libFuzzer target: the reference TAM's POST handler and its DSI reader on arbitrary
 * bytes. The first input byte picks the mode:
 *   0  the rest is a POST body, outside any session;
 *   1  a session is opened, the rest is the TBS text of a TEE's GetDeviceState answer
 *      (@RID@ and @TID@ become the session's ids), sent unsigned inside the
 *      GetDeviceStateResponse array: everything the TAM reads before the signature;
 *   2  the rest is a decrypted DSI document (the TAM parses it before it can verify
 *      anything: the TEE certificate comes from it), read against the TAM's CA.
 * Any crash, leak, undefined behaviour or a 200 answer to a bent message is a finding.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../tam/reftam.h"
#include "support/mock_fixture.h"
#include "util/base64.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Inputs above this are cut (the TAM's own body limit is larger; nothing new past it). */
#define MAX_INPUT 65536

static reftam *g_tam;
static char g_dir[256];
static otrp__x509_certs *g_anchors;

static void cleanup(void)
{
    reftam_close(g_tam);
    otrp__x509_certs_free(g_anchors);
    fx_rm_rf(g_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char tam_dir[300], detail[256] = "";
    if (fx_tempdir(g_dir, sizeof g_dir, "fuzz-tam") != 0)
        abort();
    snprintf(tam_dir, sizeof tam_dir, "%s/tam", g_dir);
    if (reftam_init(tam_dir, NULL, detail, sizeof detail) != OTRP_OK ||
        reftam_open(tam_dir, NULL, &g_tam, detail, sizeof detail) != OTRP_OK) {
        fprintf(stderr, "fuzz_tam: %s\n", detail);
        abort();
    }
    char ca[320];
    snprintf(ca, sizeof ca, "%s/ca/cert.pem", tam_dir);
    FILE *f = fopen(ca, "rb");
    uint8_t pem[8192];
    size_t n = f != NULL ? fread(pem, 1, sizeof pem, f) : 0;
    if (f != NULL)
        fclose(f);
    if (otrp__x509_certs_new(&g_anchors) != OTRP_OK ||
        otrp__x509_certs_add(g_anchors, pem, n, NULL, 0) != OTRP_OK)
        abort();
    atexit(cleanup);
    return 0;
}

static void post(const char *body, size_t len)
{
    reftam_post p = {body, len, 1};
    reftam_reply r;
    reftam_handle(g_tam, &p, &r);
    if (r.status == 200 && len > 0)
        abort(); /* nothing unsigned may move a session on */
    if (r.status == 200)
        reftam_drop_session(g_tam, &r); /* an empty POST opened one: keep memory flat */
    reftam_reply_free(&r);
}

/* Mode 1: the input as the TBS of a GetDeviceTEEStateResponse in an open session. */
static void in_session(const char *tbs_text, size_t len)
{
    reftam_post empty = {"", 0, 1};
    reftam_reply r;
    reftam_handle(g_tam, &empty, &r);
    otrp__jws *jws = NULL;
    cJSON *tbs = NULL;
    if (r.status != 200 ||
        reftam_read_signed((const char *)r.body.data, r.body.len, "GetDeviceStateRequest",
                           "GetDeviceStateTBSRequest", &jws, &tbs, NULL, 0) != OTRP_OK)
        abort();
    const char *rid = cJSON_GetObjectItem(tbs, "rid")->valuestring;
    /* @RID@ / @TID@ substituted (both 36 characters: the text grows at most 7x). */
    size_t cap = len * 8 + 1;
    char *payload = malloc(cap);
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        const char *v = len - i >= 5 && memcmp(tbs_text + i, "@RID@", 5) == 0   ? rid
                        : len - i >= 5 && memcmp(tbs_text + i, "@TID@", 5) == 0 ? r.tid
                                                                                : NULL;
        if (v != NULL) {
            memcpy(payload + o, v, strlen(v));
            o += strlen(v);
            i += 5;
        } else {
            payload[o++] = tbs_text[i++];
        }
    }
    char *b64 = malloc(otrp__b64_encoded_len(o, OTRP__B64_URL) + 1);
    otrp__b64_encode((const uint8_t *)payload, o, b64, OTRP__B64_URL);
    size_t bcap = strlen(b64) + 256;
    char *body = malloc(bcap);
    int n = snprintf(body, bcap,
                     "{\"GetDeviceStateResponse\":[{\"GetDeviceTEEStateResponse\":{\"payload\":\"%s\","
                     "\"protected\":\"eyJhbGciOiJSUzI1NiJ9\",\"signature\":\"c2ln\"}}]}",
                     b64);
    post(body, (size_t)n);
    reftam_drop_session(g_tam, &r); /* when the answer left it open (it must not) */
    reftam_reply_free(&r);
    otrp__jws_free(jws);
    cJSON_Delete(tbs);
    free(payload);
    free(b64);
    free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > MAX_INPUT)
        return 0;
    const char *rest = (const char *)data + 1;
    size_t len = size - 1;
    switch (data[0] % 3) {
    case 0:
        post(rest, len);
        break;
    case 1:
        in_session(rest, len);
        break;
    default: {
        reftam_dsi d;
        if (reftam_dsi_read(rest, len, g_anchors, 0, &d, NULL, 0) == OTRP_OK)
            reftam_dsi_clear(&d);
        break;
    }
    }
    return 0;
}
