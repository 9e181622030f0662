/*
 * The honest half of every operation is the reference TAM's own code (tam/proto.c:
 * signing, content and TA encryption, reading answers and DSIs); this file adds the
 * knobs that bend requests for hostile tests and the test helpers around them.
 */
#include "tam_builder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../tam/reftam.h"
#include "util/base64.h"
#include "util/json_strict.h"

struct test_tam {
    otrp__jose_key *key;
    otrp__x509_certs *chain;
    char tamid[256];
    otrp__jose_key *tee_key; /* learnt from the DSI */
    char tee_name[160];
    char did[48];
    char dsihash[48];
    unsigned counter;
};

otrp_status test_read_file(const char *path, otrp_buf *out)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return OTRP_ERR_NOT_FOUND;
    otrp_buf_reset(out);
    unsigned char chunk[8192];
    size_t n;
    otrp_status st = otrp_buf_append(out, NULL, 0);
    while (st == OTRP_OK && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        st = otrp_buf_append(out, chunk, n);
    fclose(f);
    return st;
}

otrp_status test_load_key(const char *path, otrp__jose_key **out)
{
    otrp_buf b = {0};
    otrp_status st = test_read_file(path, &b);
    if (st == OTRP_OK)
        st = otrp__jose_key_load(b.data, b.len, out, NULL, 0);
    otrp_buf_free(&b);
    return st;
}

char *test_cert_b64(const char *pem_path)
{
    otrp_buf b = {0};
    otrp__x509_certs *c = NULL;
    char *out = NULL;
    if (test_read_file(pem_path, &b) == OTRP_OK && otrp__x509_certs_new(&c) == OTRP_OK &&
        otrp__x509_certs_add(c, b.data, b.len, NULL, 0) == OTRP_OK) {
        size_t len = 0;
        const uint8_t *der = otrp__x509_certs_der(c, 0, &len);
        out = reftam_b64(der, len);
    }
    otrp__x509_certs_free(c);
    otrp_buf_free(&b);
    return out;
}

otrp_status test_tam_new(const char *key_pem_path, const char *chain_pem_path, test_tam **out)
{
    *out = NULL;
    test_tam *t = calloc(1, sizeof *t);
    if (t == NULL)
        return OTRP_ERR_NO_MEMORY;
    otrp_buf b = {0};
    otrp_status st = test_load_key(key_pem_path, &t->key);
    if (st == OTRP_OK)
        st = test_read_file(chain_pem_path, &b);
    if (st == OTRP_OK)
        st = otrp__x509_certs_new(&t->chain);
    if (st == OTRP_OK)
        st = otrp__x509_certs_add(t->chain, b.data, b.len, NULL, 0);
    if (st == OTRP_OK)
        st = otrp__x509_certs_subject_cn(t->chain, 0, t->tamid, sizeof t->tamid);
    otrp_buf_free(&b);
    if (st != OTRP_OK) {
        test_tam_free(t);
        return st;
    }
    *out = t;
    return OTRP_OK;
}

void test_tam_free(test_tam *t)
{
    if (t == NULL)
        return;
    otrp__jose_key_free(t->key);
    otrp__jose_key_free(t->tee_key);
    otrp__x509_certs_free(t->chain);
    free(t);
}

const char *test_tam_id(const test_tam *t)
{
    return t->tamid;
}

const char *test_tam_dsihash(const test_tam *t)
{
    return t->dsihash;
}

const char *test_tam_tee_name(const test_tam *t)
{
    return t->tee_name;
}

const char *test_tam_did(const test_tam *t)
{
    return t->did;
}

otrp_status test_tam_learn_from(test_tam *t, const test_tam *o)
{
    otrp__jose_key_free(t->tee_key);
    t->tee_key = NULL;
    if (o->tee_key != NULL && otrp__jose_key_public_copy(o->tee_key, &t->tee_key) != OTRP_OK)
        return OTRP_ERR_NO_MEMORY;
    memcpy(t->tee_name, o->tee_name, sizeof t->tee_name);
    memcpy(t->did, o->did, sizeof t->did);
    memcpy(t->dsihash, o->dsihash, sizeof t->dsihash);
    return OTRP_OK;
}

/* Sign tbs_name:{tbs} (tbs is consumed) into {"outer": jws} text. */
static int honest(const test_tam_opts *o)
{
    return !o->no_x5c && o->protected_json == NULL && !o->no_signature && !o->tamper_payload &&
           o->sign_key == NULL;
}

static otrp_status sign_request(test_tam *t, const char *outer, const char *tbs_name, cJSON *tbs,
                                const test_tam_opts *o, otrp_buf *msg)
{
    if (honest(o)) /* exactly what the reference TAM sends */
        return reftam_sign_request(t->key, t->chain, outer, tbs_name, tbs, msg);
    char *text = reftam_tbs_text(tbs_name, tbs);
    if (text == NULL)
        return OTRP_ERR_NO_MEMORY;
    cJSON *header = NULL;
    if (!o->no_x5c) {
        otrp_status st = reftam_x5c_header(t->chain, &header);
        if (st != OTRP_OK) {
            cJSON_free(text);
            return st;
        }
    }
    otrp__jws_sign_opts so;
    memset(&so, 0, sizeof so);
    so.header = header;
    so.protected_json = o->protected_json;
    cJSON *jws = NULL;
    const otrp__jose_key *key = o->sign_key != NULL ? o->sign_key : t->key;
    otrp_status st = otrp__jws_sign_json(text, strlen(text), key, &so, &jws, NULL, 0);
    if (st != OTRP_OK && o->protected_json != NULL) {
        /* An alg the signer refuses (e.g. "none"): send it with an RS256 signature. */
        so.protected_json = NULL;
        st = otrp__jws_sign_json(text, strlen(text), key, &so, &jws, NULL, 0);
        if (st == OTRP_OK) {
            size_t n = strlen(o->protected_json);
            char *p = malloc(otrp__b64_encoded_len(n, OTRP__B64_URL) + 1);
            otrp__b64_encode((const uint8_t *)o->protected_json, n, p, OTRP__B64_URL);
            cJSON_ReplaceItemInObjectCaseSensitive(jws, "protected", cJSON_CreateString(p));
            free(p);
        }
    }
    cJSON_Delete(header);
    if (st != OTRP_OK) {
        cJSON_free(text);
        return st;
    }
    if (o->no_signature)
        cJSON_ReplaceItemInObjectCaseSensitive(jws, "signature", cJSON_CreateString(""));
    if (o->tamper_payload) {
        text[strlen(text) - 2] = text[strlen(text) - 2] == '1' ? '2' : '1';
        size_t n = strlen(text);
        char *p = malloc(otrp__b64_encoded_len(n, OTRP__B64_URL) + 1);
        otrp__b64_encode((const uint8_t *)text, n, p, OTRP__B64_URL);
        cJSON_ReplaceItemInObjectCaseSensitive(jws, "payload", cJSON_CreateString(p));
        free(p);
    }
    cJSON_free(text);
    return reftam_wrap_message(outer, jws, msg);
}

otrp_status test_tam_sign_payload(test_tam *t, const char *outer, const void *payload,
                                  size_t len, otrp_buf *msg)
{
    return reftam_sign_payload(t->key, t->chain, outer, payload, len, msg);
}

static cJSON *tbs_common(test_tam *t, const test_tam_opts *o)
{
    char rid[64];
    (void)snprintf(rid, sizeof rid, "rid-%u", ++t->counter);
    cJSON *tbs = cJSON_CreateObject();
    cJSON_AddStringToObject(tbs, "ver", o->ver != NULL ? o->ver : "1.0");
    cJSON_AddStringToObject(tbs, "rid", o->rid != NULL ? o->rid : rid);
    cJSON_AddStringToObject(tbs, "tid", "tid-test-session");
    return tbs;
}

static const test_tam_opts NO_OPTS;

otrp_status test_tam_get_device_state(test_tam *t, const test_tam_opts *o, otrp_buf *msg)
{
    if (o == NULL)
        o = &NO_OPTS;
    cJSON *tbs = tbs_common(t, o);
    cJSON_AddArrayToObject(tbs, "ocspdat");
    cJSON *algs = cJSON_AddArrayToObject(tbs, "supportedsigalgs");
    cJSON_AddItemToArray(algs, cJSON_CreateString("RS256"));
    return sign_request(t, o->outer_name != NULL ? o->outer_name : "GetDeviceStateRequest",
                        o->tbs_name != NULL ? o->tbs_name : "GetDeviceStateTBSRequest", tbs, o,
                        msg);
}

otrp_status test_tam_request(test_tam *t, const char *name, const cJSON *content,
                             const cJSON *extra, const test_tam_opts *o, otrp_buf *msg)
{
    if (o == NULL)
        o = &NO_OPTS;
    if (t->tee_key == NULL)
        return OTRP_ERR_INVALID_ARG; /* no GetDeviceState yet */
    cJSON *c = cJSON_Duplicate(content, 1);
    if (otrp__json_member(c, "tamid") == NULL)
        cJSON_AddStringToObject(c, "tamid", t->tamid);
    if (otrp__json_member(c, "did") == NULL)
        cJSON_AddStringToObject(c, "did", t->did);
    char *plain = o->content_text != NULL ? strdup(o->content_text) : cJSON_PrintUnformatted(c);
    cJSON_Delete(c);
    otrp__jwe_enc_opts eo;
    memset(&eo, 0, sizeof eo);
    eo.alg = o->jwe_alg;
    cJSON *jwe = NULL;
    otrp_status st = otrp__jwe_encrypt_json(plain, strlen(plain),
                                            o->content_key != NULL ? o->content_key : t->tee_key,
                                            &eo, &jwe, NULL, 0);
    free(plain);
    if (st != OTRP_OK)
        return st;
    cJSON *tbs = tbs_common(t, o);
    cJSON_AddStringToObject(tbs, "tee", o->tee != NULL ? o->tee : t->tee_name);
    cJSON_AddBoolToObject(tbs, "nextdsi", !o->no_nextdsi);
    cJSON_AddStringToObject(tbs, "dsihash", o->dsihash != NULL ? o->dsihash : t->dsihash);
    cJSON_AddItemToObject(tbs, "content", jwe);
    for (const cJSON *e = extra != NULL ? extra->child : NULL; e != NULL; e = e->next)
        cJSON_AddItemToObject(tbs, e->string, cJSON_Duplicate(e, 1));
    char outer[64], inner[64];
    (void)snprintf(outer, sizeof outer, "%sRequest", name);
    (void)snprintf(inner, sizeof inner, "%sTBSRequest", name);
    return sign_request(t, o->outer_name != NULL ? o->outer_name : outer,
                        o->tbs_name != NULL ? o->tbs_name : inner, tbs, o, msg);
}

/* ---- answers -------------------------------------------------------------------------- */

static otrp_status decrypt_member(test_tam *t, const cJSON *tbs, const char *key, char **text)
{
    const cJSON *jwe = otrp__json_member(tbs, key);
    *text = NULL;
    if (jwe == NULL)
        return OTRP_OK;
    otrp_buf plain = {0};
    otrp_status st = otrp__jwe_decrypt_json(jwe, t->key, OTRP__JOSE_F_PROFILE, &plain, NULL, NULL, 0);
    if (st == OTRP_OK)
        *text = strdup((const char *)plain.data);
    otrp_buf_free(&plain);
    return st;
}

static otrp_status learn_dsi(test_tam *t, const char *dsi)
{
    reftam_dsi d;
    otrp_status st = reftam_dsi_read(dsi, strlen(dsi), NULL, 0, &d, NULL, 0);
    if (st != OTRP_OK)
        return st;
    otrp__jose_key_free(t->tee_key);
    t->tee_key = d.key; /* ownership moves */
    d.key = NULL;
    memcpy(t->did, d.did, sizeof t->did);
    (void)snprintf(t->tee_name, sizeof t->tee_name, "%s", d.name);
    reftam_dsi_clear(&d);
    return OTRP_OK;
}

static otrp_status set_dsihash(test_tam *t, const char *dsi)
{
    return reftam_hash_b64(dsi, strlen(dsi), t->dsihash);
}

static otrp_status read_tbs(const char *answer, size_t len, const char *outer, const char *inner,
                            otrp__jws **jws, cJSON **tbs)
{
    return reftam_read_signed(answer, len, outer, inner, jws, tbs, NULL, 0);
}

otrp_status test_tam_read(test_tam *t, const char *name, const char *answer, size_t len,
                          test_tam_answer *a)
{
    memset(a, 0, sizeof *a);
    int gds = strcmp(name, "GetDeviceState") == 0;
    char outer[64], inner[64];
    (void)snprintf(outer, sizeof outer, "%s", gds ? "GetDeviceTEEStateResponse" : "");
    if (!gds)
        (void)snprintf(outer, sizeof outer, "%sResponse", name);
    (void)snprintf(inner, sizeof inner, "%s", gds ? "GetDeviceTEEStateTBSResponse" : "");
    if (!gds)
        (void)snprintf(inner, sizeof inner, "%sTBSResponse", name);
    otrp__jws *jws = NULL;
    otrp_status st = read_tbs(answer, len, outer, inner, &jws, &a->tbs);
    if (st != OTRP_OK) {
        otrp__jws_free(jws);
        return st;
    }
    const char *s = otrp__json_string(a->tbs, "status");
    const char *rid = otrp__json_string(a->tbs, "rid");
    const char *tid = otrp__json_string(a->tbs, "tid");
    (void)snprintf(a->status, sizeof a->status, "%s", s != NULL ? s : "");
    (void)snprintf(a->rid, sizeof a->rid, "%s", rid != NULL ? rid : "");
    (void)snprintf(a->tid, sizeof a->tid, "%s", tid != NULL ? tid : "");
    const cJSON *reason = otrp__json_member(a->tbs, "reason");
    if (reason != NULL) {
        const char *c = otrp__json_string(reason, "error-code");
        const char *m = otrp__json_string(reason, "error-message");
        (void)snprintf(a->error_code, sizeof a->error_code, "%s", c != NULL ? c : "");
        (void)snprintf(a->error_message, sizeof a->error_message, "%s", m != NULL ? m : "");
    }
    int pass = strcmp(a->status, "pass") == 0;
    char *text = NULL;
    if (gds) {
        st = decrypt_member(t, a->tbs, "edsi", &text);
        if (st == OTRP_OK && text != NULL) {
            st = learn_dsi(t, text);
            if (st == OTRP_OK && pass) {
                st = set_dsihash(t, text);
                a->dsi = text;
                text = NULL;
            }
        }
        free(text);
    } else {
        st = decrypt_member(t, a->tbs, "content", &text);
        if (st == OTRP_OK && text != NULL) {
            st = otrp__json_parse(text, strlen(text), 16, &a->content, NULL, 0);
            const char *did = otrp__json_string(a->content, "did");
            if (st == OTRP_OK && (did == NULL || strcmp(did, t->did) != 0))
                st = OTRP_ERR_MSG_FIELD;
            const cJSON *dsi = otrp__json_member(a->content, "dsi");
            if (st == OTRP_OK && dsi != NULL) {
                if (!cJSON_IsString(dsi)) /* P6: an object cannot be hashed reliably */
                    st = OTRP_ERR_MSG_FIELD;
                else {
                    a->dsi = strdup(dsi->valuestring);
                    st = pass ? set_dsihash(t, a->dsi) : OTRP_ERR_MSG_FIELD;
                }
            }
        }
        free(text);
    }
    if (st == OTRP_OK && t->tee_key != NULL) {
        st = otrp__jws_verify(jws, t->tee_key, 0, NULL, 0);
        a->verified = st == OTRP_OK;
    }
    otrp__jws_free(jws);
    return st;
}

void test_tam_answer_free(test_tam_answer *a)
{
    cJSON_Delete(a->tbs);
    cJSON_Delete(a->content);
    free(a->dsi);
    memset(a, 0, sizeof *a);
}

/* ---- TA images ------------------------------------------------------------------------ */

otrp_status test_tam_sign_ta(const otrp__jose_key *sp_key, const void *bin, size_t len,
                             otrp_buf *image)
{
    return reftam_sign_ta(sp_key, bin, len, image);
}

otrp_status test_tam_encrypt_ta(const char *spaik_b64, const void *image, size_t len,
                                const void *pdata, size_t pdata_len, int update,
                                cJSON **encrypted_ta)
{
    return reftam_encrypt_ta(spaik_b64, OTRP__JOSE_ALG_NONE, image, len, pdata, pdata_len, update,
                             encrypted_ta);
}
