/* lib/jose core: the PSA lock, hashing, randomness, names, small encoders. */
#include "jose/internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/base64.h"
#include "util/json_strict.h"
#include "util/mem.h"

/* One lock for the whole process: mbedTLS 2.28's PSA core keeps global state without
 * locking of its own. psa_crypto_init() runs under it once; never freed (other code in
 * the process may use PSA too). */
static pthread_mutex_t psa_lock = PTHREAD_MUTEX_INITIALIZER;
static int psa_ready;

otrp_status otrp__jose_lock(void)
{
    if (pthread_mutex_lock(&psa_lock) != 0)
        return OTRP_ERR_INTERNAL;
    if (!psa_ready) {
        if (psa_crypto_init() != PSA_SUCCESS) {
            (void)pthread_mutex_unlock(&psa_lock);
            return OTRP_ERR_CRYPTO;
        }
        psa_ready = 1;
    }
    return OTRP_OK;
}

void otrp__jose_unlock(void)
{
    (void)pthread_mutex_unlock(&psa_lock);
}

otrp_status otrp__jose_init(void)
{
    otrp_status st = otrp__jose_lock();
    if (st == OTRP_OK)
        otrp__jose_unlock();
    return st;
}

int otrp__jose_legacy_rng(void *ctx, unsigned char *out, size_t len)
{
    (void)ctx;
    return psa_generate_random(out, len) == PSA_SUCCESS ? 0 : -1;
}

otrp_status otrp__jose_psa_status(psa_status_t st)
{
    switch (st) {
    case PSA_SUCCESS:
        return OTRP_OK;
    case PSA_ERROR_INSUFFICIENT_MEMORY:
        return OTRP_ERR_NO_MEMORY;
    case PSA_ERROR_INVALID_SIGNATURE:
        return OTRP_ERR_SIGNATURE;
    case PSA_ERROR_INSUFFICIENT_ENTROPY:
        return OTRP_ERR_RANDOM;
    case PSA_ERROR_NOT_SUPPORTED:
        return OTRP_ERR_UNSUPPORTED;
    default:
        return OTRP_ERR_CRYPTO;
    }
}

otrp_status otrp__jose_sha256(const void *data, size_t len, uint8_t out[32])
{
    if (data == NULL && len != 0)
        return OTRP_ERR_INVALID_ARG;
    otrp_status st = otrp__jose_lock();
    if (st != OTRP_OK)
        return st;
    size_t got = 0;
    psa_status_t ps = psa_hash_compute(PSA_ALG_SHA_256, data, len, out, 32, &got);
    otrp__jose_unlock();
    return ps == PSA_SUCCESS && got == 32 ? OTRP_OK : otrp__jose_psa_status(ps);
}

otrp_status otrp__jose_random(void *out, size_t len)
{
    if (out == NULL && len != 0)
        return OTRP_ERR_INVALID_ARG;
    if (len == 0)
        return OTRP_OK;
    otrp_status st = otrp__jose_lock();
    if (st != OTRP_OK)
        return st;
    psa_status_t ps = psa_generate_random(out, len);
    otrp__jose_unlock();
    return ps == PSA_SUCCESS ? OTRP_OK : OTRP_ERR_RANDOM;
}

/* ---- names ---- */

static const char *const ALG_NAMES[] = {
    [OTRP__JOSE_ALG_RS256] = "RS256",
    [OTRP__JOSE_ALG_ES256] = "ES256",
    [OTRP__JOSE_ALG_RSA1_5] = "RSA1_5",
    [OTRP__JOSE_ALG_RSA_OAEP] = "RSA-OAEP",
    [OTRP__JOSE_ALG_RSA_OAEP_256] = "RSA-OAEP-256",
};

static const char *const ENC_NAMES[] = {
    [OTRP__JOSE_ENC_A128CBC_HS256] = "A128CBC-HS256",
    [OTRP__JOSE_ENC_A256CBC_HS512] = "A256CBC-HS512",
    [OTRP__JOSE_ENC_A128GCM] = "A128GCM",
    [OTRP__JOSE_ENC_A256GCM] = "A256GCM",
};

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

const char *otrp__jose_alg_name(otrp__jose_alg alg)
{
    if ((size_t)alg >= COUNT_OF(ALG_NAMES))
        return NULL;
    return ALG_NAMES[alg];
}

const char *otrp__jose_enc_name(otrp__jose_enc enc)
{
    if ((size_t)enc >= COUNT_OF(ENC_NAMES))
        return NULL;
    return ENC_NAMES[enc];
}

otrp__jose_alg otrp__jose_alg_from_name(const char *name)
{
    if (name == NULL)
        return OTRP__JOSE_ALG_NONE;
    for (size_t i = 1; i < COUNT_OF(ALG_NAMES); i++)
        if (strcmp(name, ALG_NAMES[i]) == 0)
            return (otrp__jose_alg)i;
    return OTRP__JOSE_ALG_NONE;
}

otrp__jose_enc otrp__jose_enc_from_name(const char *name)
{
    if (name == NULL)
        return OTRP__JOSE_ENC_NONE;
    for (size_t i = 1; i < COUNT_OF(ENC_NAMES); i++)
        if (strcmp(name, ENC_NAMES[i]) == 0)
            return (otrp__jose_enc)i;
    return OTRP__JOSE_ENC_NONE;
}

/* ---- details and encodings ---- */

otrp_status otrp__jose_b64url_dup(const char *in, size_t len, const char *what,
                                  uint8_t **out, size_t *out_len, char *detail,
                                  size_t detail_cap)
{
    uint8_t *buf = malloc(otrp__b64_decoded_max(len) + 1);
    if (buf == NULL)
        return OTRP_ERR_NO_MEMORY;
    size_t n = 0;
    otrp_status st = otrp__b64_decode(in, len, buf, &n, OTRP__B64_URL);
    if (st != OTRP_OK) {
        free(buf);
        otrp__set_detail(detail, detail_cap, "%s is not base64url", what);
        return st;
    }
    buf[n] = 0;
    *out = buf;
    *out_len = n;
    return OTRP_OK;
}

otrp_status otrp__jose_b64url_append(otrp_buf *out, const uint8_t *data, size_t len)
{
    size_t n = otrp__b64_encoded_len(len, OTRP__B64_URL);
    char *tmp = malloc(n + 1);
    if (tmp == NULL)
        return OTRP_ERR_NO_MEMORY;
    otrp__b64_encode(data, len, tmp, OTRP__B64_URL);
    otrp_status st = otrp_buf_append(out, tmp, n);
    free(tmp);
    return st;
}

otrp_status otrp__der_tlv(otrp_buf *out, uint8_t tag, const uint8_t *content, size_t len)
{
    uint8_t hdr[6];
    size_t h = 0;
    hdr[h++] = tag;
    if (len < 0x80) {
        hdr[h++] = (uint8_t)len;
    } else if (len <= 0xff) {
        hdr[h++] = 0x81;
        hdr[h++] = (uint8_t)len;
    } else if (len <= 0xffff) {
        hdr[h++] = 0x82;
        hdr[h++] = (uint8_t)(len >> 8);
        hdr[h++] = (uint8_t)len;
    } else if (len <= 0xffffff) {
        hdr[h++] = 0x83;
        hdr[h++] = (uint8_t)(len >> 16);
        hdr[h++] = (uint8_t)(len >> 8);
        hdr[h++] = (uint8_t)len;
    } else {
        return OTRP_ERR_TOO_LARGE;
    }
    otrp_status st = otrp_buf_append(out, hdr, h);
    if (st == OTRP_OK && len != 0)
        st = otrp_buf_append(out, content, len);
    return st;
}

otrp_status otrp__der_uint(otrp_buf *out, const uint8_t *be, size_t len)
{
    while (len > 1 && be[0] == 0) {
        be++;
        len--;
    }
    if (len == 0 || (be[0] & 0x80) != 0) {
        /* a leading zero keeps the INTEGER non-negative */
        otrp_buf tmp = {0};
        otrp_status st = otrp_buf_append(&tmp, "\0", 1);
        if (st == OTRP_OK && len != 0)
            st = otrp_buf_append(&tmp, be, len);
        if (st == OTRP_OK)
            st = otrp__der_tlv(out, 0x02, tmp.data, tmp.len);
        otrp_buf_free(&tmp);
        return st;
    }
    return otrp__der_tlv(out, 0x02, be, len);
}

otrp_status otrp__jose_der_to_pem(const uint8_t *der, size_t len, const char *label,
                                  otrp_buf *out)
{
    if ((der == NULL && len != 0) || label == NULL || out == NULL)
        return OTRP_ERR_INVALID_ARG;
    size_t n = otrp__b64_encoded_len(len, OTRP__B64_STD);
    char *b64 = malloc(n + 1);
    if (b64 == NULL)
        return OTRP_ERR_NO_MEMORY;
    otrp__b64_encode(der, len, b64, OTRP__B64_STD);
    otrp_status st = otrp_buf_append_str(out, "-----BEGIN ");
    if (st == OTRP_OK)
        st = otrp_buf_append_str(out, label);
    if (st == OTRP_OK)
        st = otrp_buf_append_str(out, "-----\n");
    for (size_t i = 0; st == OTRP_OK && i < n; i += 64) {
        size_t line = n - i < 64 ? n - i : 64;
        st = otrp_buf_append(out, b64 + i, line);
        if (st == OTRP_OK)
            st = otrp_buf_append(out, "\n", 1);
    }
    if (st == OTRP_OK)
        st = otrp_buf_append_str(out, "-----END ");
    if (st == OTRP_OK)
        st = otrp_buf_append_str(out, label);
    if (st == OTRP_OK)
        st = otrp_buf_append_str(out, "-----\n");
    otrp__memzero(b64, n);
    free(b64);
    return st;
}

/* ---- JOSE header helpers (shared by JWS and JWE) ---- */

static int has_typographic_quotes(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 2 < n; i++)
        if (p[i] == 0xe2 && p[i + 1] == 0x80 && (p[i + 2] == 0x9c || p[i + 2] == 0x9d))
            return 1;
    return 0;
}

otrp_status otrp__jose_parse_header(const char *b64, size_t len, const char *what,
                                    cJSON **out, char *detail, size_t detail_cap)
{
    if (len > otrp__b64_encoded_len(OTRP__JOSE_MAX_HEADER, OTRP__B64_URL)) {
        otrp__set_detail(detail, detail_cap, "%s too large", what);
        return OTRP_ERR_TOO_LARGE;
    }
    if (len == 0) {
        otrp__set_detail(detail, detail_cap, "%s is empty", what);
        return OTRP_ERR_JOSE_FORMAT;
    }
    uint8_t *json = NULL;
    size_t n = 0;
    otrp_status st = otrp__jose_b64url_dup(b64, len, what, &json, &n, detail, detail_cap);
    if (st != OTRP_OK)
        return st;
    cJSON *obj = NULL;
    char why[96] = "";
    st = otrp__json_parse((const char *)json, n, OTRP__JSON_MAX_DEPTH, &obj, why, sizeof(why));
    if (st == OTRP_ERR_MSG_DUPLICATE || st == OTRP_ERR_MSG_DEPTH) {
        otrp__set_detail(detail, detail_cap, "%s: %s", what, why);
    } else if (st != OTRP_OK && has_typographic_quotes(json, n)) {
        otrp__set_detail(detail, detail_cap,
                         "%s is not JSON: it uses typographic quotes (U+201C/U+201D) "
                         "instead of '\"'", what);
        st = OTRP_ERR_JOSE_FORMAT;
    } else if (st != OTRP_OK) {
        otrp__set_detail(detail, detail_cap, "%s is not JSON", what);
        st = st == OTRP_ERR_NO_MEMORY ? st : OTRP_ERR_JOSE_FORMAT;
    } else if (!cJSON_IsObject(obj)) {
        otrp__set_detail(detail, detail_cap, "%s is not a JSON object", what);
        cJSON_Delete(obj);
        obj = NULL;
        st = OTRP_ERR_JOSE_FORMAT;
    }
    free(json);
    if (st == OTRP_OK)
        *out = obj;
    return st;
}

otrp_status otrp__jose_allowed_members(const cJSON *object, const char *const *allowed,
                                       const char *what, char *detail, size_t detail_cap)
{
    if (object == NULL)
        return OTRP_OK;
    for (const cJSON *it = object->child; it != NULL; it = it->next) {
        int ok = 0;
        for (size_t i = 0; allowed[i] != NULL && !ok; i++)
            ok = it->string != NULL && strcmp(it->string, allowed[i]) == 0;
        if (!ok) {
            char q[OTRP__QUOTE_MAX + 1];
            otrp__quote_str(q, sizeof q, it->string);
            otrp__set_detail(detail, detail_cap, "%s: member '%s' not allowed", what, q);
            return OTRP_ERR_JOSE_FORMAT;
        }
    }
    return OTRP_OK;
}

static int has_member(const cJSON *obj, const char *name)
{
    return obj != NULL && otrp__json_member(obj, name) != NULL;
}

otrp_status otrp__jose_disjoint(const cJSON *a, const cJSON *b, const cJSON *c,
                                char *detail, size_t detail_cap)
{
    const cJSON *hdr[3] = {a, b, c};
    for (int i = 0; i < 3; i++) {
        if (hdr[i] == NULL)
            continue;
        for (const cJSON *it = hdr[i]->child; it != NULL; it = it->next)
            for (int j = i + 1; j < 3; j++)
                if (it->string != NULL && has_member(hdr[j], it->string)) {
                    char q[OTRP__QUOTE_MAX + 1];
                    otrp__quote_str(q, sizeof q, it->string);
                    otrp__set_detail(detail, detail_cap, "header parameter '%s' appears twice", q);
                    return OTRP_ERR_JOSE_FORMAT;
                }
    }
    return OTRP_OK;
}

otrp_status otrp__jose_check_crit(const cJSON *protected_hdr, const cJSON *unprot1,
                                  const cJSON *unprot2, char *detail, size_t detail_cap)
{
    if (has_member(unprot1, "crit") || has_member(unprot2, "crit")) {
        otrp__set_detail(detail, detail_cap, "'crit' must be in the protected header");
        return OTRP_ERR_JOSE_FORMAT;
    }
    const cJSON *crit = protected_hdr != NULL ? otrp__json_member(protected_hdr, "crit") : NULL;
    if (crit == NULL)
        return OTRP_OK;
    if (!cJSON_IsArray(crit) || crit->child == NULL) {
        otrp__set_detail(detail, detail_cap, "'crit' is not a non-empty array");
        return OTRP_ERR_JOSE_FORMAT;
    }
    const cJSON *first = crit->child;
    char q[OTRP__QUOTE_MAX + 1];
    otrp__quote_str(q, sizeof q, cJSON_IsString(first) ? first->valuestring : "?");
    otrp__set_detail(detail, detail_cap, "critical header '%s' not understood", q);
    return OTRP_ERR_JOSE_CRIT;
}

const cJSON *otrp__jose_find(const cJSON *a, const cJSON *b, const cJSON *c,
                             const char *name)
{
    const cJSON *hdr[3] = {a, b, c};
    for (int i = 0; i < 3; i++) {
        const cJSON *m = hdr[i] != NULL ? otrp__json_member(hdr[i], name) : NULL;
        if (m != NULL)
            return m;
    }
    return NULL;
}

/* ---- the JSON and compact serializations (shared by JWS and JWE) ---- */

int otrp__jose_is_json(const char *text, size_t len)
{
    size_t i = 0;
    while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n'))
        i++;
    return i < len && text[i] == '{';
}

otrp_status otrp__jose_split_compact(const char *text, size_t len, size_t n, const char *what,
                                     const char **part, size_t *part_len, char *detail,
                                     size_t detail_cap)
{
    size_t count = 0, start = 0;
    /* base64url runs separated by dots, scanned a run at a time (TA images are large) */
    for (size_t k = 0;; k++) {
        k += otrp__b64url_span(text + k, len - k);
        if (k < len && text[k] != '.') {
            otrp__set_detail(detail, detail_cap, "neither a JSON %s nor a compact %s (byte %zu)",
                             what, what, k);
            return OTRP_ERR_JOSE_FORMAT;
        }
        if (count < n) {
            part[count] = text + start;
            part_len[count] = k - start;
        }
        count++;
        start = k + 1;
        if (k >= len)
            break;
    }
    if (count != n) {
        otrp__set_detail(detail, detail_cap, "compact %s must have exactly %zu parts", what, n);
        return OTRP_ERR_JOSE_FORMAT;
    }
    return OTRP_OK;
}

otrp_status otrp__jose_member_str(const cJSON *obj, const char *name, int required,
                                  const char *what, const char **s, size_t *len, char *detail,
                                  size_t detail_cap)
{
    const cJSON *m = otrp__json_member(obj, name);
    *s = NULL;
    if (len != NULL)
        *len = 0;
    if (m == NULL) {
        if (!required)
            return OTRP_OK;
        otrp__set_detail(detail, detail_cap, "%s member '%s' missing", what, name);
        return OTRP_ERR_JOSE_FORMAT;
    }
    if (!cJSON_IsString(m) || m->valuestring == NULL) {
        otrp__set_detail(detail, detail_cap, "%s member '%s' is not a string", what, name);
        return OTRP_ERR_JOSE_FORMAT;
    }
    *s = m->valuestring;
    if (len != NULL)
        *len = strlen(m->valuestring);
    return OTRP_OK;
}

otrp_status otrp__jose_member_obj(const cJSON *obj, const char *name, const char *what,
                                  const cJSON **out, char *detail, size_t detail_cap)
{
    const cJSON *m = otrp__json_member(obj, name);
    *out = NULL;
    if (m == NULL)
        return OTRP_OK;
    if (!cJSON_IsObject(m)) {
        otrp__set_detail(detail, detail_cap, "%s member '%s' is not an object", what, name);
        return OTRP_ERR_JOSE_FORMAT;
    }
    *out = m;
    return OTRP_OK;
}

otrp_status otrp__jose_json_members(const cJSON *obj, const char *list_name,
                                    const char *const *general, const char *const *flattened,
                                    const char *const *element, const char *what,
                                    const cJSON **elem, otrp__jose_form *form, char *detail,
                                    size_t detail_cap)
{
    if (!cJSON_IsObject(obj)) {
        otrp__set_detail(detail, detail_cap, "%s is not a JSON object", what);
        return OTRP_ERR_JOSE_FORMAT;
    }
    otrp_status st = otrp__json_check_tree(obj, OTRP__JSON_MAX_DEPTH, detail, detail_cap);
    if (st != OTRP_OK)
        return st;
    const cJSON *list = otrp__json_member(obj, list_name);
    if (list == NULL) {
        *elem = obj;
        *form = OTRP__JOSE_FORM_FLATTENED;
        return otrp__jose_allowed_members(obj, flattened, what, detail, detail_cap);
    }
    *form = OTRP__JOSE_FORM_GENERAL;
    st = otrp__jose_allowed_members(obj, general, what, detail, detail_cap);
    if (st != OTRP_OK)
        return st;
    /* PROFILE P2: the general serialization is accepted with exactly one element */
    if (!cJSON_IsArray(list) || list->child == NULL || list->child->next != NULL ||
        !cJSON_IsObject(list->child)) {
        otrp__set_detail(detail, detail_cap, "%s '%s' must hold exactly one object", what,
                         list_name);
        return OTRP_ERR_JOSE_FORMAT;
    }
    *elem = list->child;
    return otrp__jose_allowed_members(list->child, element, what, detail, detail_cap);
}
