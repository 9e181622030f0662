/* Message primitives of the reference TAM (PROFILE P2..P8); see reftam.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mocktee/mocktee.h"
#include "reftam.h"
#include "util/base64.h"
#include "util/json_strict.h"

/* Nesting of a TEE answer: outer, JWS, header; the payload is parsed apart. */
#define ANSWER_MAX_DEPTH 8
/* A signed payload: the TBS, content or edsi JWE, its recipients, a reason object. */
#define PAYLOAD_MAX_DEPTH 32
/* The DSI nests 6 levels (dsi, tee, sdlist, sd[], talist[], entry). */
#define DSI_MAX_DEPTH 12

#define DETAIL(...) ((void)(cap > 0 ? snprintf(detail, cap, __VA_ARGS__) : 0))

char *reftam_b64(const uint8_t *data, size_t len)
{
    char *s = malloc(otrp__b64_encoded_len(len, OTRP__B64_STD) + 1);
    if (s != NULL)
        otrp__b64_encode(data, len, s, OTRP__B64_STD);
    return s;
}

int reftam_id_valid(const char *s)
{
    return otrp__mock_id_valid(s); /* one definition of the P7 syntax */
}

/* A TEE name (DSI tee.name, the `tee` routing value): 1..128 printable characters; inner
 * spaces are fine ("Primary TEE"), leading or trailing ones are not. */
static int tee_name_valid(const char *s)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++)
        if ((unsigned char)s[n] < 0x20 || (unsigned char)s[n] > 0x7e)
            return 0;
    return n >= 1 && n <= REFTAM_ID_MAX && s[0] != ' ' && s[n - 1] != ' ';
}

otrp_status reftam_hash_b64(const void *data, size_t len, char out[48])
{
    uint8_t d[OTRP__JOSE_SHA256_LEN];
    otrp_status st = otrp__jose_sha256(data, len, d);
    if (st == OTRP_OK)
        otrp__b64_encode(d, sizeof d, out, OTRP__B64_STD);
    return st;
}

otrp_status reftam_uuid(char out[37])
{
    uint8_t u[16];
    otrp_status st = otrp__jose_random(u, sizeof u);
    if (st != OTRP_OK)
        return st;
    u[6] = (uint8_t)((u[6] & 0x0f) | 0x40); /* version 4 */
    u[8] = (uint8_t)((u[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    size_t o = 0;
    for (size_t i = 0; i < sizeof u; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        (void)snprintf(out + o, 3, "%02x", u[i]);
        o += 2;
    }
    out[o] = '\0';
    return OTRP_OK;
}

otrp_status reftam_x5c_header(const otrp__x509_certs *chain, cJSON **header)
{
    *header = cJSON_CreateObject();
    if (*header == NULL)
        return OTRP_ERR_NO_MEMORY;
    cJSON *x5c = NULL;
    otrp_status st = otrp__x509_certs_to_x5c(chain, &x5c);
    if (st == OTRP_OK && !cJSON_AddItemToObject(*header, "x5c", x5c)) {
        cJSON_Delete(x5c);
        st = OTRP_ERR_NO_MEMORY;
    }
    if (st != OTRP_OK) {
        cJSON_Delete(*header);
        *header = NULL;
    }
    return st;
}

otrp_status reftam_wrap_message(const char *outer, cJSON *jws, otrp_buf *msg)
{
    cJSON *root = cJSON_CreateObject();
    if (root == NULL) {
        cJSON_Delete(jws);
        return OTRP_ERR_NO_MEMORY;
    }
    cJSON_AddItemToObject(root, outer, jws);
    char *out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (out == NULL)
        return OTRP_ERR_NO_MEMORY;
    otrp_buf_reset(msg);
    otrp_status st = otrp_buf_append_str(msg, out);
    cJSON_free(out);
    return st;
}

otrp_status reftam_sign_payload(const otrp__jose_key *key, const otrp__x509_certs *chain,
                                const char *outer, const void *payload, size_t len,
                                otrp_buf *msg)
{
    cJSON *header = NULL;
    otrp_status st = reftam_x5c_header(chain, &header); /* P4: in every request */
    if (st != OTRP_OK)
        return st;
    otrp__jws_sign_opts so;
    memset(&so, 0, sizeof so);
    /* alg NONE: RS256 for the RSA identity key a TAM has (P3); tests that bend the rules
     * sign with other keys through test/support/tam_builder. */
    so.header = header;
    cJSON *jws = NULL;
    st = otrp__jws_sign_json(payload, len, key, &so, &jws, NULL, 0);
    cJSON_Delete(header);
    if (st != OTRP_OK)
        return st;
    return reftam_wrap_message(outer, jws, msg);
}

char *reftam_tbs_text(const char *inner, cJSON *tbs)
{
    cJSON *payload = cJSON_CreateObject();
    if (payload == NULL) {
        cJSON_Delete(tbs);
        return NULL;
    }
    cJSON_AddItemToObject(payload, inner, tbs);
    char *text = cJSON_PrintUnformatted(payload);
    cJSON_Delete(payload);
    return text;
}

otrp_status reftam_sign_request(const otrp__jose_key *key, const otrp__x509_certs *chain,
                                const char *outer, const char *inner, cJSON *tbs,
                                otrp_buf *msg)
{
    char *text = reftam_tbs_text(inner, tbs);
    if (text == NULL)
        return OTRP_ERR_NO_MEMORY;
    otrp_status st = reftam_sign_payload(key, chain, outer, text, strlen(text), msg);
    cJSON_free(text);
    return st;
}

otrp_status reftam_encrypt_content(const cJSON *content, const otrp__jose_key *to,
                                   otrp__jose_alg alg, cJSON **jwe)
{
    *jwe = NULL;
    char *plain = cJSON_PrintUnformatted(content);
    if (plain == NULL)
        return OTRP_ERR_NO_MEMORY;
    otrp__jwe_enc_opts eo;
    memset(&eo, 0, sizeof eo);
    eo.alg = alg; /* NONE: RSA1_5, the profile's default; enc A128CBC-HS256 (P3) */
    otrp_status st = otrp__jwe_encrypt_json(plain, strlen(plain), to, &eo, jwe, NULL, 0);
    cJSON_free(plain);
    return st;
}

otrp_status reftam_sign_ta(const otrp__jose_key *sp_key, const void *bin, size_t len,
                           otrp_buf *image)
{
    otrp__jws_sign_opts so;
    memset(&so, 0, sizeof so);
    so.form = OTRP__JOSE_FORM_COMPACT;
    otrp_buf_reset(image);
    return otrp__jws_sign(bin, len, sp_key, &so, image, NULL, 0);
}

static otrp_status add_cipher(cJSON *eta, const char *name, const uint8_t key[32],
                              const uint8_t iv[16], const void *data, size_t len)
{
    otrp_buf ct = {0};
    otrp_status st = otrp__jose_aes256cbc_encrypt(key, iv, data, len, &ct);
    if (st == OTRP_OK) {
        char *b = reftam_b64(ct.data, ct.len);
        if (b == NULL || cJSON_AddStringToObject(eta, name, b) == NULL)
            st = OTRP_ERR_NO_MEMORY;
        free(b);
    }
    otrp_buf_free(&ct);
    return st;
}

otrp_status reftam_encrypt_ta(const char *spaik_b64, otrp__jose_alg alg, const void *image,
                              size_t len, const void *pdata, size_t pdata_len, int update,
                              cJSON **encrypted_ta)
{
    *encrypted_ta = NULL;
    size_t n = strlen(spaik_b64);
    uint8_t *der = malloc(otrp__b64_decoded_max(n) + 1);
    if (der == NULL)
        return OTRP_ERR_NO_MEMORY;
    size_t der_len = 0;
    otrp__jose_key *aik = NULL;
    otrp_status st = otrp__b64_decode(spaik_b64, n, der, &der_len, OTRP__B64_FIELD);
    if (st == OTRP_OK)
        st = otrp__jose_key_load(der, der_len, &aik, NULL, 0);
    free(der);
    uint8_t key[32], iv[16];
    if (st == OTRP_OK)
        st = otrp__jose_random(key, sizeof key);
    if (st == OTRP_OK)
        st = otrp__jose_random(iv, sizeof iv);
    otrp_buf wrapped = {0};
    otrp__jwe_enc_opts eo;
    memset(&eo, 0, sizeof eo);
    eo.form = OTRP__JOSE_FORM_COMPACT; /* P7: the key is a compact JWE to the SP AIK */
    eo.alg = alg;
    if (st == OTRP_OK)
        st = otrp__jwe_encrypt(key, sizeof key, aik, &eo, &wrapped, NULL, 0);
    otrp__jose_key_free(aik);
    cJSON *eta = st == OTRP_OK ? cJSON_CreateObject() : NULL;
    if (st == OTRP_OK && eta == NULL)
        st = OTRP_ERR_NO_MEMORY;
    if (st == OTRP_OK) {
        char ivhex[33];
        for (size_t i = 0; i < sizeof iv; i++)
            (void)snprintf(ivhex + 2 * i, 3, "%02x", iv[i]);
        if (cJSON_AddStringToObject(eta, "key", (const char *)wrapped.data) == NULL ||
            cJSON_AddStringToObject(eta, "iv", ivhex) == NULL ||
            cJSON_AddStringToObject(eta, "alg", "AESCBC") == NULL)
            st = OTRP_ERR_NO_MEMORY;
    }
    otrp_buf_free(&wrapped);
    if (st == OTRP_OK && image != NULL)
        st = add_cipher(eta, update ? "ciphernewtadata" : "ciphertadata", key, iv, image, len);
    if (st == OTRP_OK && pdata != NULL)
        st = add_cipher(eta, update ? "ciphernewpdata" : "cipherpdata", key, iv, pdata, pdata_len);
    memset(key, 0, sizeof key);
    if (st != OTRP_OK) {
        cJSON_Delete(eta);
        return st;
    }
    *encrypted_ta = eta;
    return OTRP_OK;
}

otrp_status reftam_read_signed_json(const cJSON *element, const char *outer,
                                    const char *inner, otrp__jws **jws, cJSON **tbs,
                                    char *detail, size_t cap)
{
    *jws = NULL;
    *tbs = NULL;
    if (!cJSON_IsObject(element) || element->child == NULL || element->child->next != NULL) {
        DETAIL("the answer is not an object with exactly one member");
        return OTRP_ERR_MSG_STRUCTURE;
    }
    if (strcmp(element->child->string, outer) != 0) {
        DETAIL("expected %s, got %.64s", outer, element->child->string);
        return OTRP_ERR_MSG_UNKNOWN;
    }
    char why[160] = "";
    otrp_status st = otrp__jws_parse_json(element->child, OTRP__JOSE_F_PROFILE, jws, why,
                                          sizeof why);
    if (st != OTRP_OK) {
        DETAIL("%s: JWS: %s", outer, why);
        return OTRP_ERR_MSG_JWS;
    }
    size_t plen = 0;
    const uint8_t *p = otrp__jws_payload(*jws, &plen);
    cJSON *doc = NULL;
    if (otrp__json_parse((const char *)p, plen, PAYLOAD_MAX_DEPTH, &doc, why, sizeof why) !=
        OTRP_OK) {
        DETAIL("%s: payload is not JSON: %s", outer, why);
        otrp__jws_free(*jws);
        *jws = NULL;
        return OTRP_ERR_MSG_PAYLOAD;
    }
    cJSON *in = cJSON_DetachItemFromObjectCaseSensitive(doc, inner);
    int single = doc->child == NULL;
    cJSON_Delete(doc);
    if (in == NULL || !single || !cJSON_IsObject(in)) {
        DETAIL("%s: payload is not {\"%s\": {...}}", outer, inner);
        cJSON_Delete(in);
        otrp__jws_free(*jws);
        *jws = NULL;
        return OTRP_ERR_MSG_NAME_MISMATCH;
    }
    *tbs = in;
    return OTRP_OK;
}

otrp_status reftam_read_signed(const char *text, size_t len, const char *outer,
                               const char *inner, otrp__jws **jws, cJSON **tbs,
                               char *detail, size_t cap)
{
    *jws = NULL;
    *tbs = NULL;
    cJSON *root = NULL;
    char why[160] = "";
    otrp_status st = otrp__json_parse(text, len, ANSWER_MAX_DEPTH, &root, why, sizeof why);
    if (st != OTRP_OK) {
        DETAIL("the answer is not JSON: %s", why);
        return OTRP_ERR_MSG_NOT_JSON;
    }
    st = reftam_read_signed_json(root, outer, inner, jws, tbs, detail, cap);
    cJSON_Delete(root);
    return st;
}

void reftam_dsi_clear(reftam_dsi *d)
{
    otrp__jose_key_free(d->key);
    otrp__x509_certs_free(d->cert);
    cJSON_Delete(d->doc);
    memset(d, 0, sizeof *d);
}

otrp_status reftam_dsi_read(const char *text, size_t len, const otrp__x509_certs *anchors,
                            int64_t at_time, reftam_dsi *out, char *detail, size_t cap)
{
    memset(out, 0, sizeof *out);
    char why[160] = "";
    otrp_status st = otrp__json_parse(text, len, DSI_MAX_DEPTH, &out->doc, why, sizeof why);
    if (st != OTRP_OK) {
        DETAIL("DSI is not JSON: %s", why);
        return OTRP_ERR_MSG_FIELD;
    }
    const cJSON *dsi = otrp__json_member(out->doc, "dsi");
    const cJSON *tee = otrp__json_member(dsi, "tee");
    const char *name = otrp__json_string(tee, "name");
    const char *cert = otrp__json_string(tee, "cert");
    const cJSON *cacert = otrp__json_member(tee, "cacert");
    if (!cJSON_IsObject(tee) || out->doc->child->next != NULL) {
        DETAIL("DSI is not {\"dsi\": {\"tee\": {...}}}");
        goto bad;
    }
    if (name == NULL || !tee_name_valid(name)) {
        DETAIL("DSI tee.name is missing or not 1..128 printable characters");
        goto bad;
    }
    if (cert == NULL || otrp__json_string(tee, "ver") == NULL) {
        DETAIL("DSI of TEE '%s' lacks tee.cert or tee.ver", name);
        goto bad;
    }
    if (cacert != NULL && !cJSON_IsArray(cacert)) {
        DETAIL("DSI tee.cacert of TEE '%s' is not an array", name);
        goto bad;
    }
    (void)snprintf(out->name, sizeof out->name, "%s", name);
    st = otrp__x509_certs_new(&out->cert);
    if (st == OTRP_OK)
        st = otrp__x509_certs_add_b64(out->cert, cert, strlen(cert), why, sizeof why);
    if (st == OTRP_OK && cacert != NULL && cacert->child != NULL)
        st = otrp__x509_certs_add_x5c(out->cert, cacert, why, sizeof why);
    if (st != OTRP_OK) {
        DETAIL("TEE '%s' certificate: %s", name, why);
        reftam_dsi_clear(out);
        return st == OTRP_ERR_NO_MEMORY ? st : OTRP_ERR_MSG_FIELD;
    }
    if (anchors != NULL) {
        st = otrp__x509_verify(out->cert, anchors, at_time, 0, &out->key, NULL, 0, why,
                               sizeof why);
        if (st != OTRP_OK) {
            DETAIL("TEE '%s' certificate is not trusted: %s", name, why);
            reftam_dsi_clear(out);
            return st;
        }
    } else if ((st = otrp__x509_certs_public_key(out->cert, 0, &out->key, why, sizeof why)) !=
               OTRP_OK) {
        DETAIL("TEE '%s' key: %s", name, why);
        reftam_dsi_clear(out);
        return st;
    }
    if (otrp__jose_key_type(out->key) != OTRP__JOSE_KTY_RSA) { /* P3: identity keys are RSA */
        DETAIL("TEE '%s' identity key is not RSA", name);
        reftam_dsi_clear(out);
        return OTRP_ERR_KEY;
    }
    size_t der_len = 0;
    const uint8_t *der = otrp__x509_certs_der(out->cert, 0, &der_len);
    st = reftam_hash_b64(der, der_len, out->did);
    if (st == OTRP_OK)
        st = reftam_hash_b64(text, len, out->dsihash);
    if (st != OTRP_OK)
        reftam_dsi_clear(out);
    return st;
bad:
    cJSON_Delete(out->doc);
    memset(out, 0, sizeof *out);
    return OTRP_ERR_MSG_FIELD;
}
