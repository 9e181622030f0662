/* Verification of TAM requests and the TEE's signed answers (PROFILE P2..P8). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mocktee/request.h"
#include "util/base64.h"
#include "util/json_lift.h"
#include "util/json_scan.h"
#include "util/json_strict.h"
#include "util/mem.h"

/* The signed payload nests: TBS, content JWE, recipients, header. */
#define PAYLOAD_MAX_DEPTH 16
/* The version of every OTrP message (PROFILE P1). */
#define OTRP_MSG_VERSION "1.0"

static const otrp__mock_msgdef MSGDEFS[] = {
    {"GetDeviceStateRequest", "GetDeviceStateTBSRequest", "GetDeviceTEEStateResponse",
     "GetDeviceTEEStateTBSResponse", OTRP__MOCK_GET_DEVICE_STATE},
    {"CreateSDRequest", "CreateSDTBSRequest", "CreateSDResponse", "CreateSDTBSResponse",
     OTRP__MOCK_CREATE_SD},
    {"UpdateSDRequest", "UpdateSDTBSRequest", "UpdateSDResponse", "UpdateSDTBSResponse",
     OTRP__MOCK_UPDATE_SD},
    {"DeleteSDRequest", "DeleteSDTBSRequest", "DeleteSDResponse", "DeleteSDTBSResponse",
     OTRP__MOCK_DELETE_SD},
    {"InstallTARequest", "InstallTATBSRequest", "InstallTAResponse", "InstallTATBSResponse",
     OTRP__MOCK_INSTALL_TA},
    {"UpdateTARequest", "UpdateTATBSRequest", "UpdateTAResponse", "UpdateTATBSResponse",
     OTRP__MOCK_UPDATE_TA},
    {"DeleteTARequest", "DeleteTATBSRequest", "DeleteTAResponse", "DeleteTATBSResponse",
     OTRP__MOCK_DELETE_TA},
};

const otrp__mock_msgdef *otrp__mock_msgdef_find(const char *outer)
{
    for (size_t i = 0; i < sizeof MSGDEFS / sizeof MSGDEFS[0]; i++)
        if (strcmp(MSGDEFS[i].request, outer) == 0)
            return &MSGDEFS[i];
    return NULL;
}

int otrp__mock_fail(otrp__mock_req *r, const char *code, const char *fmt, ...)
{
    if (r->code == NULL) { /* the first failure is the one reported */
        r->code = code;
        va_list ap;
        va_start(ap, fmt);
        (void)vsnprintf(r->message, sizeof r->message, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int otrp__mock_bool(const cJSON *item)
{
    if (cJSON_IsBool(item))
        return cJSON_IsTrue(item);
    if (cJSON_IsString(item)) {
        const char *s = item->valuestring;
        if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0)
            return 1;
        if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0)
            return 0;
    }
    if (cJSON_IsNumber(item) && (item->valuedouble == 0.0 || item->valuedouble == 1.0))
        return item->valuedouble == 1.0;
    return -1;
}

/* The raw text of member key of the signed object ({"<Name>TBSRequest": {...}}) in the
 * payload text: *start and *end. 0, or -1 when it is not there as strict JSON. */
static int raw_member(const uint8_t *text, size_t len, const char *key, size_t *start,
                      size_t *end)
{
    otrp__json_cursor c = {(const char *)text, len, 0, NULL, 0};
    if (otrp__jc_expect(&c, '{') != OTRP_OK ||
        otrp__jc_string(&c, NULL, 0, NULL, NULL, NULL, NULL) != OTRP_OK ||
        otrp__jc_expect(&c, ':') != OTRP_OK || otrp__jc_expect(&c, '{') != OTRP_OK)
        return -1;
    size_t want = strlen(key);
    for (int ch = otrp__jc_peek(&c); ch == '"' || ch == ','; ch = otrp__jc_peek(&c)) {
        if (ch == ',')
            c.pos++;
        char name[8];
        size_t name_len = 0;
        if (otrp__jc_string(&c, name, sizeof name, &name_len, NULL, NULL, NULL) != OTRP_OK ||
            otrp__jc_expect(&c, ':') != OTRP_OK)
            return -1;
        (void)otrp__jc_peek(&c); /* to the value's first byte */
        size_t s = c.pos;
        if (otrp__jc_skip_value(&c, PAYLOAD_MAX_DEPTH) != OTRP_OK)
            return -1;
        size_t e = c.pos;
        int after = otrp__jc_peek(&c);
        if (after != ',' && after != '}')
            return -1; /* not strict JSON here ("05" ends at "0") */
        if (name_len == want && memcmp(name, key, want) == 0) {
            *start = s;
            *end = e;
            return 0;
        }
    }
    return -1;
}

/* rid/tid (P5): a string, or a non-negative integer echoed as its decimal digits, taken
 * from the text as sent (a double would round long ones) and in exactly the forms the
 * agent routes (lib/agent/tbs_scan.c): no sign, fraction, exponent or leading zero, at
 * most OTRP__MOCK_MAX_RID digits. */
static int read_id(const uint8_t *text, size_t len, const cJSON *tbs, const char *key,
                   char *dst, size_t cap)
{
    const cJSON *item = otrp__json_member(tbs, key);
    if (cJSON_IsString(item)) {
        size_t n = strlen(item->valuestring);
        if (n >= cap)
            return -1;
        memcpy(dst, item->valuestring, n + 1);
        return 0;
    }
    size_t start = 0, end = 0;
    if (!cJSON_IsNumber(item) || raw_member(text, len, key, &start, &end) != 0)
        return -1;
    size_t n = end - start;
    if (n == 0 || n >= cap || (text[start] == '0' && n > 1))
        return -1;
    for (size_t i = start; i < end; i++)
        if (text[i] < '0' || text[i] > '9')
            return -1;
    memcpy(dst, text + start, n);
    dst[n] = '\0';
    return 0;
}

/* The signed payload: one <Name>TBSRequest object; rid, tid and ver are read here. */
static int read_tbs(otrp__mock_req *r, const uint8_t *text, size_t len)
{
    char why[128] = "";
    otrp_status st = otrp__json_parse_lifted((const char *)text, len, PAYLOAD_MAX_DEPTH,
                                             OTRP__MOCK_LIFT_MIN, &r->payload, why, sizeof why);
    if (st != OTRP_OK)
        return otrp__mock_fail(r, "ERR_REQUEST_INVALID", "JWS payload is not JSON: %s", why);
    const cJSON *inner = r->payload->child;
    if (!cJSON_IsObject(r->payload) || inner == NULL || inner->next != NULL ||
        strcmp(inner->string, r->def->tbs_request) != 0 || !cJSON_IsObject(inner))
        return otrp__mock_fail(r, "ERR_REQUEST_INVALID",
                               "signed payload is not one %s object (outer/inner name mismatch)",
                               r->def->tbs_request);
    r->tbs = inner;
    if (read_id(text, len, inner, "rid", r->rid, sizeof r->rid) != 0 ||
        read_id(text, len, inner, "tid", r->tid, sizeof r->tid) != 0)
        return otrp__mock_fail(r, "ERR_REQUEST_INVALID",
                               "rid and tid must be strings or non-negative integers");
    const char *ver = otrp__json_string(inner, "ver");
    if (ver == NULL)
        return otrp__mock_fail(r, "ERR_REQUEST_INVALID", "ver is missing");
    if (strcmp(ver, OTRP_MSG_VERSION) != 0)
        return otrp__mock_fail(r, "ERR_UNSUPPORTED_MSG_VERSION", "ver \"%.16s\" is not supported "
                               "(only \"" OTRP_MSG_VERSION "\")", ver);
    return 0;
}

/* A JWS that does not parse: decode its payload ourselves, for rid/tid and ver. */
static int read_unverified_payload(otrp__mock_req *r, const cJSON *jws)
{
    const char *b64 = otrp__json_string(jws, "payload");
    if (!cJSON_IsObject(jws) || b64 == NULL)
        return otrp__mock_fail(r, "ERR_REQUEST_INVALID", "%s is not a JWS object with a payload",
                               r->def->request);
    size_t n = strlen(b64);
    uint8_t *text = malloc(otrp__b64_decoded_max(n) + 1);
    if (text == NULL)
        return otrp__mock_fail(r, "ERR_TEE_FAIL", "out of memory");
    size_t len = 0;
    int rc;
    if (otrp__b64_decode(b64, n, text, &len, OTRP__B64_URL) != OTRP_OK)
        rc = otrp__mock_fail(r, "ERR_REQUEST_INVALID", "JWS payload is not base64url");
    else
        rc = read_tbs(r, text, len);
    free(text);
    return rc;
}

static int jose_fail(otrp__mock_req *r, otrp_status st, const char *what, const char *why)
{
    if (st == OTRP_ERR_JOSE_ALG || st == OTRP_ERR_JOSE_CRIT || st == OTRP_ERR_KEY_MISMATCH) {
        r->offer_algs = 1;
        return otrp__mock_fail(r, "ERR_UNSUPPORTED_CRYPTO_ALG", "%s: %s", what, why);
    }
    if (st == OTRP_ERR_NO_MEMORY)
        return otrp__mock_fail(r, "ERR_TEE_FAIL", "out of memory");
    return otrp__mock_fail(r, "ERR_REQUEST_INVALID", "%s: %s", what, why);
}

/* The signer: x5c chains to a trust anchor, is valid, has an RSA key and a CN (P3, P4).
 * On success the TAM's key is known, so even failures can be encrypted to it (P8). */
static int trust_signer(otrp__mock_req *r)
{
    char why[200] = "";
    otrp_status st = otrp__jws_x5c(r->jws, &r->chain, why, sizeof why);
    if (st == OTRP_ERR_NOT_FOUND)
        return otrp__mock_fail(r, "ERR_REQUEST_INVALID",
                               "no x5c: the TAM must send its certificate (signerreq is true)");
    if (st != OTRP_OK)
        return otrp__mock_fail(r, "ERR_REQUEST_INVALID", "x5c: %s", why);
    otrp__jose_key *leaf = NULL;
    st = otrp__x509_verify(r->chain, r->tee->anchors, r->tee->verify_time, 0, &leaf, r->tamid,
                           sizeof r->tamid, why, sizeof why);
    if (st != OTRP_OK)
        return otrp__mock_fail(r, "ERR_TAM_NOT_TRUSTED", "TAM certificate: %s", why);
    if (otrp__jose_key_type(leaf) != OTRP__JOSE_KTY_RSA) {
        otrp__jose_key_free(leaf);
        return otrp__mock_fail(r, "ERR_TAM_NOT_TRUSTED",
                               "TAM certificate key is not RSA (PROFILE P3)");
    }
    if (r->tamid[0] == '\0') {
        otrp__jose_key_free(leaf);
        return otrp__mock_fail(r, "ERR_TAM_NOT_TRUSTED",
                               "TAM certificate has no Subject CN (the tamid, PROFILE P4)");
    }
    /* The anchors may issue TEE identities too (the reference TAM's CA does): only the
     * OTrP TAM marker tells a TAM certificate from them (PROFILE P10). */
    if (!otrp__x509_certs_has_eku(r->chain, 0, OTRP__X509_EKU_OTRP_TAM,
                                  OTRP__X509_EKU_OTRP_TAM_LEN)) {
        otrp__jose_key_free(leaf);
        return otrp__mock_fail(r, "ERR_TAM_NOT_TRUSTED",
                               "certificate of \"%.64s\" lacks the OTrP TAM extended key usage: "
                               "it is no TAM certificate", r->tamid);
    }
    r->tam_key = leaf;
    return 0;
}

int otrp__mock_verify(otrp__mock_req *r)
{
    const cJSON *jws = r->outer->child;
    char why[200] = "";
    otrp_status st = otrp__jws_parse_json(jws, OTRP__JOSE_F_PROFILE, &r->jws, why, sizeof why);
    if (st != OTRP_OK) {
        /* Names, rid/tid and ver are still checked first (reference 4.2 item 2). */
        if (read_unverified_payload(r, jws) != 0)
            return -1;
        return jose_fail(r, st, "JWS", why);
    }
    /* The JWS keeps its own copy of the payload text: free the message's now, so that
     * the next large buffers of this request reuse its memory instead of fresh pages. */
    cJSON_DeleteItemFromObjectCaseSensitive(r->outer->child, "payload");
    size_t plen = 0;
    const uint8_t *payload = otrp__jws_payload(r->jws, &plen);
    if (read_tbs(r, payload, plen) != 0) {
        (void)trust_signer(r); /* only to encrypt the failure; the first failure stays */
        return -1;
    }
    if (trust_signer(r) != 0)
        return -1;
    st = otrp__jws_verify(r->jws, r->tam_key, 0, why, sizeof why);
    if (st != OTRP_OK)
        return jose_fail(r, st, "JWS signature", why);
    return 0;
}

/* dsihash: base64 (or base64url) of 32 bytes, or 64 hex digits (reference Q7). */
static int decode_hash(const char *text, uint8_t out[32])
{
    size_t n = strlen(text);
    if (n == 64) {
        return otrp__hex_decode(text, 32, out);
    }
    if (n > 48)
        return -1;
    uint8_t tmp[48];
    size_t len = 0;
    if (otrp__b64_decode(text, n, tmp, &len, OTRP__B64_FIELD) != OTRP_OK || len != 32)
        return -1;
    memcpy(out, tmp, 32);
    return 0;
}

static int check_dsihash(otrp__mock_req *r)
{
    const char *given = otrp__json_string(r->tbs, "dsihash");
    uint8_t g[32], want[32];
    if (given == NULL || decode_hash(given, g) != 0)
        return otrp__mock_fail(r, "ERR_REQUEST_INVALID",
                               "dsihash must be the base64 SHA-256 of the last DSI");
    const char *ref = otrp__mock_dsi_ref(r->tee->state, r->tamid);
    if (ref == NULL || decode_hash(ref, want) != 0)
        return otrp__mock_fail(r, "ERR_DEV_STATE_MISMATCH",
                               "no DSI was sent to this TAM yet (send GetDeviceState first)");
    if (!otrp__ct_equal(g, want, sizeof g))
        return otrp__mock_fail(r, "ERR_DEV_STATE_MISMATCH",
                               "dsihash is not the hash of the last DSI sent to this TAM");
    return 0;
}

static int decrypt_content(otrp__mock_req *r)
{
    const cJSON *jwe = otrp__json_member(r->tbs, "content");
    if (!cJSON_IsObject(jwe))
        return otrp__mock_fail(r, "ERR_REQUEST_INVALID", "content is missing or not a JWE object");
    otrp_buf plain = {0};
    char why[200] = "";
    otrp_status st = otrp__jwe_decrypt_json(jwe, r->tee->key, OTRP__JOSE_F_PROFILE, &plain, NULL,
                                            why, sizeof why);
    if (st == OTRP_OK)
        st = otrp__json_parse((const char *)plain.data, plain.len, PAYLOAD_MAX_DEPTH, &r->content,
                              why, sizeof why);
    otrp_buf_free(&plain);
    if (st != OTRP_OK)
        return jose_fail(r, st, "content", why);
    if (!cJSON_IsObject(r->content))
        return otrp__mock_fail(r, "ERR_REQUEST_INVALID", "content is not a JSON object");
    return 0;
}

static int check_did(otrp__mock_req *r, int required)
{
    const cJSON *did = otrp__json_member(r->content, "did");
    if (did == NULL && !required)
        return 0;
    uint8_t g[32], want[32];
    if (!cJSON_IsString(did) || decode_hash(did->valuestring, g) != 0 ||
        decode_hash(r->tee->did, want) != 0 || !otrp__ct_equal(g, want, sizeof g))
        return otrp__mock_fail(r, "ERR_REQUEST_INVALID",
                               "did does not name this TEE (SHA-256 of its certificate)");
    return 0;
}

int otrp__mock_verify_later(otrp__mock_req *r)
{
    const char *tee = otrp__json_string(r->tbs, "tee");
    if (tee == NULL)
        return otrp__mock_fail(r, "ERR_REQUEST_INVALID", "tee is missing");
    if (strcmp(tee, r->tee->cfg.name) != 0)
        return otrp__mock_fail(r, "ERR_REQUEST_INVALID", "request is for TEE \"%.64s\", not \"%s\"",
                               tee, r->tee->cfg.name);
    r->nextdsi = otrp__mock_bool(otrp__json_member(r->tbs, "nextdsi"));
    if (r->nextdsi < 0)
        return otrp__mock_fail(r, "ERR_REQUEST_INVALID", "nextdsi is missing or not a boolean");
    if (check_dsihash(r) != 0 || decrypt_content(r) != 0)
        return -1;
    const char *tamid = otrp__json_string(r->content, "tamid");
    if (tamid == NULL)
        return otrp__mock_fail(r, "ERR_REQUEST_INVALID", "content.tamid is missing");
    if (strcmp(tamid, r->tamid) != 0)
        return otrp__mock_fail(r, "ERR_TAM_NOT_AUTHORIZED",
                               "tamid \"%.64s\" is not the signer's (\"%.64s\")", tamid, r->tamid);
    return check_did(r, r->def->kind == OTRP__MOCK_CREATE_SD);
}

/* ---- answers ---------------------------------------------------------------------- */

static otrp_status add_jwe(otrp__mock_req *r, cJSON *tbs, const char *key, const char *plain)
{
    otrp__jwe_enc_opts opts;
    memset(&opts, 0, sizeof opts);
    opts.alg = r->tee->cfg.jwe_alg;
    opts.enc = OTRP__JOSE_ENC_A128CBC_HS256;
    cJSON *jwe = NULL;
    otrp_status st = otrp__jwe_encrypt_json(plain, strlen(plain), r->tam_key, &opts, &jwe, NULL, 0);
    if (st == OTRP_OK)
        cJSON_AddItemToObject(tbs, key, jwe);
    return st;
}

static otrp_status add_failure(otrp__mock_req *r, cJSON *tbs)
{
    cJSON *reason = cJSON_AddObjectToObject(tbs, "reason");
    if (reason == NULL || cJSON_AddStringToObject(reason, "error-code", r->code) == NULL ||
        cJSON_AddStringToObject(reason, "error-message", r->message) == NULL)
        return OTRP_ERR_NO_MEMORY;
    int gds = r->def->kind == OTRP__MOCK_GET_DEVICE_STATE;
    if (gds && r->offer_algs) {
        cJSON *algs = cJSON_AddArrayToObject(tbs, "supportedsigalgs");
        if (algs == NULL)
            return OTRP_ERR_NO_MEMORY;
        /* What the TEE verifies a TAM with: TAM keys are RSA (P3), so RS256 only. */
        cJSON_AddItemToArray(algs, cJSON_CreateString("RS256"));
    }
    if (r->tam_key == NULL)
        return OTRP_OK; /* nobody trusted to encrypt to */
    if (gds) {
        /* P8: a minimal DSI lets the TAM verify this failure with the TEE certificate. */
        char *dsi = NULL;
        otrp_status st = otrp__mock_dsi(r->tee, r->tee->state, r->tamid, 1, &dsi);
        if (st == OTRP_OK)
            st = add_jwe(r, tbs, "edsi", dsi);
        cJSON_free(dsi);
        return st;
    }
    cJSON *c = cJSON_CreateObject();
    if (c == NULL || cJSON_AddStringToObject(c, "did", r->tee->did) == NULL ||
        cJSON_AddStringToObject(c, "reason", r->message) == NULL) {
        cJSON_Delete(c);
        return OTRP_ERR_NO_MEMORY;
    }
    char *text = cJSON_PrintUnformatted(c);
    cJSON_Delete(c);
    if (text == NULL)
        return OTRP_ERR_NO_MEMORY;
    otrp_status st = add_jwe(r, tbs, "content", text);
    cJSON_free(text);
    return st;
}

static otrp_status add_success(otrp__mock_req *r, cJSON *tbs)
{
    if (r->def->kind == OTRP__MOCK_GET_DEVICE_STATE) {
        if (cJSON_AddTrueToObject(tbs, "signerreq") == NULL)
            return OTRP_ERR_NO_MEMORY;
        return add_jwe(r, tbs, "edsi", r->dsi);
    }
    cJSON *c = r->out_content; /* made by ops.c with "did" first */
    if (r->nextdsi && cJSON_AddStringToObject(c, "dsi", r->dsi) == NULL)
        return OTRP_ERR_NO_MEMORY;
    char *text = cJSON_PrintUnformatted(c);
    if (text == NULL)
        return OTRP_ERR_NO_MEMORY;
    otrp_status st = add_jwe(r, tbs, "content", text);
    otrp__memzero(text, strlen(text));
    cJSON_free(text);
    return st;
}

static otrp_status sign_answer(otrp__mock_req *r, cJSON *tbs, otrp_buf *out)
{
    cJSON *payload = cJSON_CreateObject();
    if (payload == NULL)
        return OTRP_ERR_NO_MEMORY;
    cJSON_AddItemToObject(payload, r->def->tbs_response, tbs);
    char *text = cJSON_PrintUnformatted(payload);
    cJSON_Delete(payload);
    if (text == NULL)
        return OTRP_ERR_NO_MEMORY;
    otrp__jws_sign_opts opts;
    memset(&opts, 0, sizeof opts);
    opts.alg = r->tee->cfg.sign_alg;
    cJSON *jws = NULL;
    otrp_status st = (r->tee->fault & OTRP__MOCK_FAULT_SIGN)
                         ? OTRP_ERR_CRYPTO
                         : otrp__jws_sign_json(text, strlen(text), r->tee->key, &opts, &jws, NULL, 0);
    cJSON_free(text);
    if (st != OTRP_OK)
        return st;
    cJSON *outer = cJSON_CreateObject();
    if (outer == NULL) {
        cJSON_Delete(jws);
        return OTRP_ERR_NO_MEMORY;
    }
    cJSON_AddItemToObject(outer, r->def->response, jws);
    char *answer = cJSON_PrintUnformatted(outer);
    cJSON_Delete(outer);
    if (answer == NULL)
        return OTRP_ERR_NO_MEMORY;
    otrp_buf_reset(out);
    st = otrp_buf_append_str(out, answer);
    cJSON_free(answer);
    return st;
}

otrp_status otrp__mock_answer(otrp__mock_req *r, otrp_buf *out)
{
    cJSON *tbs = cJSON_CreateObject();
    if (tbs == NULL || cJSON_AddStringToObject(tbs, "ver", OTRP_MSG_VERSION) == NULL ||
        cJSON_AddStringToObject(tbs, "status", r->code == NULL ? "pass" : "fail") == NULL ||
        cJSON_AddStringToObject(tbs, "rid", r->rid) == NULL ||
        cJSON_AddStringToObject(tbs, "tid", r->tid) == NULL) {
        cJSON_Delete(tbs);
        return OTRP_ERR_TEE_FAIL;
    }
    otrp_status st = r->code == NULL ? add_success(r, tbs) : add_failure(r, tbs);
    if (st != OTRP_OK && r->code == NULL) {
        /* Could not encrypt the success: report a failure instead (nothing committed
         * yet when this happens before the commit; see ops.c). */
        cJSON_Delete(tbs);
        return OTRP_ERR_TEE_FAIL;
    }
    if (st != OTRP_OK) {
        /* The failure could not be encrypted: send it signed only. */
        cJSON_DeleteItemFromObject(tbs, "edsi");
        cJSON_DeleteItemFromObject(tbs, "content");
    }
    st = sign_answer(r, tbs, out);
    if (st == OTRP_ERR_TOO_LARGE)
        return st;
    return st == OTRP_OK ? OTRP_OK : OTRP_ERR_TEE_FAIL;
}
