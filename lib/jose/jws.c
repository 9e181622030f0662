/* lib/jose JWS (RFC 7515): sign (flattened, general, compact), parse and verify. */
#include "jose/internal.h"

#include <stdlib.h>
#include <string.h>

#include "util/base64.h"
#include "util/json_strict.h"
#include "util/mem.h"

struct otrp__jws {
    char *protected_b64; /* as received ("" when absent) */
    size_t protected_len;
    char *payload_b64;
    size_t payload_b64_len;
    uint8_t *payload;
    size_t payload_len;
    uint8_t *sig;
    size_t sig_len;
    cJSON *protected_hdr; /* parsed; an empty object when there is none */
    cJSON *header;        /* unprotected header or NULL */
    otrp__jose_alg alg;
};

void otrp__jws_free(otrp__jws *jws)
{
    if (jws == NULL)
        return;
    free(jws->protected_b64);
    free(jws->payload_b64);
    if (jws->payload != NULL) {
        otrp__memzero(jws->payload, jws->payload_len);
        free(jws->payload);
    }
    free(jws->sig);
    cJSON_Delete(jws->protected_hdr);
    cJSON_Delete(jws->header);
    free(jws);
}

/* ---- parsing ---- */

static otrp_status dup_member(const char *s, size_t len, char **out, size_t *out_len)
{
    *out = otrp__strndup(s, len);
    if (*out == NULL)
        return OTRP_ERR_NO_MEMORY;
    *out_len = len;
    return OTRP_OK;
}

static otrp_status check_alg(const cJSON *alg, otrp__jose_alg *out, char *detail, size_t cap)
{
    if (alg == NULL) {
        otrp__set_detail(detail, cap, "JWS header has no 'alg'");
        return OTRP_ERR_JOSE_ALG;
    }
    if (!cJSON_IsString(alg) || alg->valuestring == NULL) {
        otrp__set_detail(detail, cap, "JWS 'alg' is not a string");
        return OTRP_ERR_JOSE_FORMAT;
    }
    const char *name = alg->valuestring;
    otrp__jose_alg a = otrp__jose_alg_from_name(name);
    if (a == OTRP__JOSE_ALG_RS256 || a == OTRP__JOSE_ALG_ES256) {
        *out = a;
        return OTRP_OK;
    }
    char q[OTRP__QUOTE_MAX + 1]; /* the signer's text */
    otrp__quote_str(q, sizeof q, name);
    if (strcmp(name, "none") == 0)
        otrp__set_detail(detail, cap, "unsecured JWS (alg 'none') refused");
    else if (strncmp(name, "HS", 2) == 0)
        otrp__set_detail(detail, cap, "HMAC alg '%s' refused", q);
    else
        otrp__set_detail(detail, cap, "JWS alg '%s' not supported", q);
    return OTRP_ERR_JOSE_ALG;
}

/* Everything after the raw members are known: headers, alg, crit, decoding. */
static otrp_status finish_parse(otrp__jws *jws, const char *sig_b64, size_t sig_b64_len,
                                unsigned flags, char *detail, size_t cap)
{
    otrp_status st;
    if (jws->protected_len != 0) {
        st = otrp__jose_parse_header(jws->protected_b64, jws->protected_len,
                                     "protected header", &jws->protected_hdr, detail, cap);
        if (st != OTRP_OK)
            return st;
    } else {
        jws->protected_hdr = cJSON_CreateObject();
        if (jws->protected_hdr == NULL)
            return OTRP_ERR_NO_MEMORY;
    }
    if (flags & OTRP__JOSE_F_PROFILE) {
        static const char *const PROT[] = {"alg", "x5c", NULL};
        static const char *const UNPROT[] = {"x5c", NULL};
        if (jws->protected_len == 0) {
            otrp__set_detail(detail, cap, "JWS has no protected header");
            return OTRP_ERR_JOSE_FORMAT;
        }
        st = otrp__jose_allowed_members(jws->protected_hdr, PROT, "protected header", detail,
                                        cap);
        if (st == OTRP_OK)
            st = otrp__jose_allowed_members(jws->header, UNPROT, "unprotected header",
                                            detail, cap);
        if (st == OTRP_OK && otrp__json_member(jws->protected_hdr, "alg") == NULL) {
            otrp__set_detail(detail, cap, "'alg' must be in the protected header");
            st = OTRP_ERR_JOSE_FORMAT;
        }
        if (st != OTRP_OK)
            return st;
    }
    st = otrp__jose_disjoint(jws->protected_hdr, jws->header, NULL, detail, cap);
    if (st == OTRP_OK)
        st = otrp__jose_check_crit(jws->protected_hdr, jws->header, NULL, detail, cap);
    if (st == OTRP_OK)
        st = check_alg(otrp__jose_find(jws->protected_hdr, jws->header, NULL, "alg"),
                       &jws->alg, detail, cap);
    if (st == OTRP_OK)
        st = otrp__jose_b64url_dup(jws->payload_b64, jws->payload_b64_len, "payload",
                                   &jws->payload, &jws->payload_len, detail, cap);
    if (st == OTRP_OK)
        st = otrp__jose_b64url_dup(sig_b64, sig_b64_len, "signature", &jws->sig,
                                   &jws->sig_len, detail, cap);
    if (st == OTRP_OK && jws->sig_len == 0) {
        otrp__set_detail(detail, cap, "signature is empty");
        st = OTRP_ERR_JOSE_FORMAT;
    }
    return st;
}

static otrp_status parse_compact(otrp__jws *jws, const char *text, size_t len,
                                 unsigned flags, char *detail, size_t cap)
{
    const char *part[3];
    size_t plen[3];
    otrp_status st = otrp__jose_split_compact(text, len, 3, "JWS", part, plen, detail, cap);
    if (st != OTRP_OK)
        return st;
    if (plen[0] == 0) {
        otrp__set_detail(detail, cap, "compact JWS has no protected header");
        return OTRP_ERR_JOSE_FORMAT;
    }
    st = dup_member(part[0], plen[0], &jws->protected_b64, &jws->protected_len);
    if (st == OTRP_OK)
        st = dup_member(part[1], plen[1], &jws->payload_b64, &jws->payload_b64_len);
    if (st == OTRP_OK)
        st = finish_parse(jws, part[2], plen[2], flags, detail, cap);
    return st;
}

static otrp_status parse_object(otrp__jws *jws, const cJSON *obj, unsigned flags,
                                char *detail, size_t cap)
{
    static const char *const FLAT[] = {"payload", "protected", "header", "signature", NULL};
    static const char *const GENERAL[] = {"payload", "signatures", NULL};
    static const char *const SIG[] = {"protected", "header", "signature", NULL};
    const cJSON *sigobj = NULL, *hdr = NULL;
    otrp__jose_form form;
    otrp_status st = otrp__jose_json_members(obj, "signatures", GENERAL, FLAT, SIG, "JWS",
                                             &sigobj, &form, detail, cap);
    const char *payload = NULL, *prot = NULL, *sig = NULL;
    size_t payload_len = 0, prot_len = 0, sig_len = 0;
    if (st == OTRP_OK)
        st = otrp__jose_member_str(obj, "payload", 1, "JWS", &payload, &payload_len, detail,
                                   cap);
    if (st == OTRP_OK)
        st = otrp__jose_member_str(sigobj, "protected", 0, "JWS", &prot, &prot_len, detail,
                                   cap);
    if (st == OTRP_OK)
        st = otrp__jose_member_str(sigobj, "signature", 1, "JWS", &sig, &sig_len, detail, cap);
    if (st == OTRP_OK)
        st = otrp__jose_member_obj(sigobj, "header", "JWS", &hdr, detail, cap);
    if (st != OTRP_OK)
        return st;
    if (prot != NULL && prot_len == 0) {
        otrp__set_detail(detail, cap, "JWS 'protected' is empty (omit it instead)");
        return OTRP_ERR_JOSE_FORMAT;
    }
    if (hdr != NULL) {
        jws->header = cJSON_Duplicate(hdr, 1);
        if (jws->header == NULL)
            return OTRP_ERR_NO_MEMORY;
    }
    st = dup_member(prot != NULL ? prot : "", prot_len, &jws->protected_b64,
                    &jws->protected_len);
    if (st == OTRP_OK)
        st = dup_member(payload, payload_len, &jws->payload_b64, &jws->payload_b64_len);
    if (st == OTRP_OK)
        st = finish_parse(jws, sig, sig_len, flags, detail, cap);
    return st;
}

otrp_status otrp__jws_parse_json(const cJSON *object, unsigned flags, otrp__jws **out,
                                 char *detail, size_t detail_cap)
{
    if (object == NULL || out == NULL)
        return OTRP_ERR_INVALID_ARG;
    otrp__jws *jws = calloc(1, sizeof(*jws));
    if (jws == NULL)
        return OTRP_ERR_NO_MEMORY;
    otrp_status st = parse_object(jws, object, flags, detail, detail_cap);
    if (st != OTRP_OK) {
        otrp__jws_free(jws);
        return st;
    }
    *out = jws;
    return OTRP_OK;
}

otrp_status otrp__jws_parse(const char *text, size_t len, unsigned flags, otrp__jws **out,
                            char *detail, size_t detail_cap)
{
    if (text == NULL || out == NULL)
        return OTRP_ERR_INVALID_ARG;
    if (len > OTRP__JOSE_MAX_TEXT) {
        otrp__set_detail(detail, detail_cap, "JWS larger than %u bytes", OTRP__JOSE_MAX_TEXT);
        return OTRP_ERR_TOO_LARGE;
    }
    if (otrp__jose_is_json(text, len)) {
        cJSON *obj = NULL;
        otrp_status st = otrp__json_parse(text, len, OTRP__JSON_MAX_DEPTH, &obj, detail,
                                          detail_cap);
        if (st != OTRP_OK)
            return st;
        st = otrp__jws_parse_json(obj, flags, out, detail, detail_cap);
        cJSON_Delete(obj);
        return st;
    }
    otrp__jws *jws = calloc(1, sizeof(*jws));
    if (jws == NULL)
        return OTRP_ERR_NO_MEMORY;
    otrp_status st = parse_compact(jws, text, len, flags, detail, detail_cap);
    if (st != OTRP_OK) {
        otrp__jws_free(jws);
        return st;
    }
    *out = jws;
    return OTRP_OK;
}

otrp__jose_alg otrp__jws_alg(const otrp__jws *jws)
{
    return jws == NULL ? OTRP__JOSE_ALG_NONE : jws->alg;
}

const uint8_t *otrp__jws_payload(const otrp__jws *jws, size_t *len)
{
    if (jws == NULL)
        return NULL;
    if (len != NULL)
        *len = jws->payload_len;
    return jws->payload;
}

const cJSON *otrp__jws_protected(const otrp__jws *jws)
{
    return jws == NULL ? NULL : jws->protected_hdr;
}

const cJSON *otrp__jws_header(const otrp__jws *jws)
{
    return jws == NULL ? NULL : jws->header;
}

const cJSON *otrp__jws_header_member(const otrp__jws *jws, const char *name)
{
    if (jws == NULL || name == NULL)
        return NULL;
    return otrp__jose_find(jws->protected_hdr, jws->header, NULL, name);
}

otrp_status otrp__jws_x5c(const otrp__jws *jws, otrp__x509_certs **out, char *detail,
                          size_t detail_cap)
{
    if (jws == NULL || out == NULL)
        return OTRP_ERR_INVALID_ARG;
    const cJSON *x5c = otrp__jws_header_member(jws, "x5c");
    if (x5c == NULL) {
        otrp__set_detail(detail, detail_cap, "JWS has no x5c header");
        return OTRP_ERR_NOT_FOUND;
    }
    otrp__x509_certs *certs = NULL;
    otrp_status st = otrp__x509_certs_new(&certs);
    if (st == OTRP_OK)
        st = otrp__x509_certs_add_x5c(certs, x5c, detail, detail_cap);
    if (st != OTRP_OK) {
        otrp__x509_certs_free(certs);
        return st;
    }
    *out = certs;
    return OTRP_OK;
}

otrp_status otrp__jws_verify(const otrp__jws *jws, const otrp__jose_key *key,
                             unsigned flags, char *detail, size_t detail_cap)
{
    if (jws == NULL || key == NULL)
        return OTRP_ERR_INVALID_ARG;
    uint8_t digest[32];
    const void *parts[3] = {jws->protected_b64, ".", jws->payload_b64};
    const size_t lens[3] = {jws->protected_len, 1, jws->payload_b64_len};
    otrp_status st = otrp__jose_sha256_parts(parts, lens, 3, digest);
    if (st == OTRP_OK)
        st = otrp__jose_verify_digest(key, jws->alg, digest, jws->sig, jws->sig_len, flags);
    if (st == OTRP_ERR_KEY_MISMATCH)
        otrp__set_detail(detail, detail_cap, "alg %s does not fit the key type",
                         otrp__jose_alg_name(jws->alg));
    else if (st == OTRP_ERR_KEY)
        otrp__set_detail(detail, detail_cap, "RSA key of %u bits below %u",
                         otrp__jose_key_bits(key), OTRP__JOSE_RSA_MIN_BITS);
    else if (st == OTRP_ERR_SIGNATURE)
        otrp__set_detail(detail, detail_cap, "JWS signature does not verify");
    return st;
}

/* ---- signing ---- */

struct jws_parts {
    otrp_buf prot; /* base64url */
    otrp_buf payload;
    otrp_buf sig;
    cJSON *header;
};

static void parts_free(struct jws_parts *p)
{
    otrp_buf_free(&p->prot);
    otrp_buf_free(&p->payload);
    otrp_buf_free(&p->sig);
    cJSON_Delete(p->header);
}

static otrp_status make_parts(const void *payload, size_t len, const otrp__jose_key *key,
                              const otrp__jws_sign_opts *opts, struct jws_parts *p,
                              char *detail, size_t cap)
{
    otrp__jose_alg alg = opts != NULL ? opts->alg : OTRP__JOSE_ALG_NONE;
    if (alg == OTRP__JOSE_ALG_NONE)
        alg = key->kty == OTRP__JOSE_KTY_RSA ? OTRP__JOSE_ALG_RS256 : OTRP__JOSE_ALG_ES256;
    if (alg != OTRP__JOSE_ALG_RS256 && alg != OTRP__JOSE_ALG_ES256) {
        otrp__set_detail(detail, cap, "not a JWS alg");
        return OTRP_ERR_JOSE_ALG;
    }
    if ((alg == OTRP__JOSE_ALG_RS256) != (key->kty == OTRP__JOSE_KTY_RSA) || key->priv == NULL) {
        otrp__set_detail(detail, cap, "key cannot sign with %s", otrp__jose_alg_name(alg));
        return OTRP_ERR_KEY_MISMATCH;
    }
    char defprot[32];
    const char *prot = opts != NULL ? opts->protected_json : NULL;
    if (prot == NULL) {
        otrp__set_detail(defprot, sizeof(defprot), "{\"alg\":\"%s\"}", otrp__jose_alg_name(alg));
        prot = defprot;
    }
    /* The protected header must be a valid header carrying this alg. */
    cJSON *ph = NULL;
    otrp_status st = otrp__json_parse(prot, strlen(prot), OTRP__JSON_MAX_DEPTH, &ph, NULL, 0);
    if (st != OTRP_OK || !cJSON_IsObject(ph) || otrp__json_string(ph, "alg") == NULL ||
        otrp__jose_alg_from_name(otrp__json_string(ph, "alg")) != alg) {
        cJSON_Delete(ph);
        otrp__set_detail(detail, cap, "protected header must carry alg %s",
                         otrp__jose_alg_name(alg));
        return OTRP_ERR_JOSE_FORMAT;
    }
    const cJSON *hdr = opts != NULL ? opts->header : NULL;
    if (hdr != NULL) {
        if (!cJSON_IsObject(hdr) ||
            (opts->form == OTRP__JOSE_FORM_COMPACT) ||
            otrp__jose_disjoint(ph, hdr, NULL, detail, cap) != OTRP_OK) {
            cJSON_Delete(ph);
            otrp__set_detail(detail, cap, "unprotected header not allowed here");
            return OTRP_ERR_JOSE_FORMAT;
        }
        p->header = cJSON_Duplicate(hdr, 1);
        if (p->header == NULL) {
            cJSON_Delete(ph);
            return OTRP_ERR_NO_MEMORY;
        }
    }
    cJSON_Delete(ph);
    st = otrp__jose_b64url_append(&p->prot, (const uint8_t *)prot, strlen(prot));
    if (st == OTRP_OK)
        st = otrp__jose_b64url_append(&p->payload, payload, len);
    uint8_t digest[32];
    if (st == OTRP_OK) {
        const void *in[3] = {p->prot.data, ".", p->payload.len ? (void *)p->payload.data : ""};
        const size_t lens[3] = {p->prot.len, 1, p->payload.len};
        st = otrp__jose_sha256_parts(in, lens, 3, digest);
    }
    otrp_buf raw = {0};
    if (st == OTRP_OK)
        st = otrp__jose_sign_digest(key, alg, digest, &raw);
    if (st == OTRP_OK)
        st = otrp__jose_b64url_append(&p->sig, raw.data, raw.len);
    otrp_buf_free(&raw);
    return st;
}

static const char *text_of(const otrp_buf *b)
{
    return b->len != 0 ? (const char *)b->data : "";
}

static otrp_status build_json(const struct jws_parts *p, otrp__jose_form form, cJSON **out)
{
    cJSON *obj = cJSON_CreateObject();
    cJSON *sigobj = obj;
    int ok = obj != NULL && cJSON_AddStringToObject(obj, "payload", text_of(&p->payload)) != NULL;
    if (ok && form == OTRP__JOSE_FORM_GENERAL) {
        cJSON *arr = cJSON_AddArrayToObject(obj, "signatures");
        sigobj = cJSON_CreateObject();
        ok = arr != NULL && sigobj != NULL;
        if (ok)
            cJSON_AddItemToArray(arr, sigobj);
        else
            cJSON_Delete(sigobj);
    }
    ok = ok && cJSON_AddStringToObject(sigobj, "protected", text_of(&p->prot)) != NULL;
    if (ok && p->header != NULL) {
        cJSON *h = cJSON_Duplicate(p->header, 1);
        ok = h != NULL;
        if (ok)
            cJSON_AddItemToObject(sigobj, "header", h);
    }
    ok = ok && cJSON_AddStringToObject(sigobj, "signature", text_of(&p->sig)) != NULL;
    if (!ok) {
        cJSON_Delete(obj);
        return OTRP_ERR_NO_MEMORY;
    }
    *out = obj;
    return OTRP_OK;
}

otrp_status otrp__jws_sign_json(const void *payload, size_t len, const otrp__jose_key *key,
                                const otrp__jws_sign_opts *opts, cJSON **out, char *detail,
                                size_t detail_cap)
{
    if ((payload == NULL && len != 0) || key == NULL || out == NULL)
        return OTRP_ERR_INVALID_ARG;
    otrp__jose_form form = opts != NULL ? opts->form : OTRP__JOSE_FORM_DEFAULT;
    if (form == OTRP__JOSE_FORM_COMPACT) {
        otrp__set_detail(detail, detail_cap, "compact JWS is not JSON");
        return OTRP_ERR_JOSE_FORMAT;
    }
    if (form != OTRP__JOSE_FORM_DEFAULT && form != OTRP__JOSE_FORM_FLATTENED &&
        form != OTRP__JOSE_FORM_GENERAL)
        return OTRP_ERR_INVALID_ARG;
    struct jws_parts p;
    memset(&p, 0, sizeof(p));
    otrp_status st = make_parts(payload, len, key, opts, &p, detail, detail_cap);
    if (st == OTRP_OK)
        st = build_json(&p, form, out);
    parts_free(&p);
    return st;
}

otrp_status otrp__jws_sign(const void *payload, size_t len, const otrp__jose_key *key,
                           const otrp__jws_sign_opts *opts, otrp_buf *out, char *detail,
                           size_t detail_cap)
{
    if ((payload == NULL && len != 0) || key == NULL || out == NULL)
        return OTRP_ERR_INVALID_ARG;
    otrp__jose_form form = opts != NULL ? opts->form : OTRP__JOSE_FORM_DEFAULT;
    if (form != OTRP__JOSE_FORM_COMPACT) {
        cJSON *obj = NULL;
        otrp_status st = otrp__jws_sign_json(payload, len, key, opts, &obj, detail, detail_cap);
        if (st != OTRP_OK)
            return st;
        char *text = cJSON_PrintUnformatted(obj);
        cJSON_Delete(obj);
        if (text == NULL)
            return OTRP_ERR_NO_MEMORY;
        st = otrp_buf_append_str(out, text);
        cJSON_free(text);
        return st;
    }
    struct jws_parts p;
    memset(&p, 0, sizeof(p));
    otrp_status st = make_parts(payload, len, key, opts, &p, detail, detail_cap);
    if (st == OTRP_OK)
        st = otrp_buf_append(out, p.prot.data, p.prot.len);
    if (st == OTRP_OK)
        st = otrp_buf_append(out, ".", 1);
    if (st == OTRP_OK && p.payload.len != 0)
        st = otrp_buf_append(out, p.payload.data, p.payload.len);
    if (st == OTRP_OK)
        st = otrp_buf_append(out, ".", 1);
    if (st == OTRP_OK)
        st = otrp_buf_append(out, p.sig.data, p.sig.len);
    parts_free(&p);
    return st;
}
