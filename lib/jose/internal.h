/* lib/jose internals shared by its files (never included outside lib/jose). */
#ifndef OTRP_JOSE_INTERNAL_H
#define OTRP_JOSE_INTERNAL_H

#include "jose/compat.h"
#include "jose/jose.h"

/* PSA key slots cached per key and use (a PSA key carries one algorithm policy). */
enum otrp__jose_use {
    OTRP__USE_RS256 = 0,
    OTRP__USE_ES256,
    OTRP__USE_RSA1_5,
    OTRP__USE_RSA_OAEP,
    OTRP__USE_RSA_OAEP_256,
    OTRP__USE_COUNT
};

struct otrp__jose_slots {
    mbedtls_svc_key_id_t id[OTRP__USE_COUNT];
    int set[OTRP__USE_COUNT];
};

struct otrp__jose_key {
    otrp__jose_kty kty;
    unsigned bits;
    /* PSA import formats: RSA = RSAPrivateKey DER / RSAPublicKey DER;
     * P-256 = 32-byte scalar / 65-byte uncompressed point. priv is NULL when public. */
    uint8_t *priv;
    size_t priv_len;
    uint8_t *pub;
    size_t pub_len;
    /* Separately allocated so they can be filled in for a const key (under the lock). */
    struct otrp__jose_slots *slots;
};

/* The process-wide lock around every PSA (and legacy mbedTLS crypto) call. lock()
 * also initialises PSA on first use; it fails only if psa_crypto_init() fails. */
otrp_status otrp__jose_lock(void);
void otrp__jose_unlock(void);

/* A PSA key for key + alg (imported on first use and cached). Lock held. */
otrp_status otrp__jose_psa_key(const otrp__jose_key *key, otrp__jose_alg alg,
                               mbedtls_svc_key_id_t *id);

/* Build a key handle from PSA-format bytes (copies them; validates by importing).
 * priv may be NULL. Lock NOT held. */
otrp_status otrp__jose_key_make(otrp__jose_kty kty, const uint8_t *priv, size_t priv_len,
                                const uint8_t *pub, size_t pub_len, otrp__jose_key **out,
                                char *detail, size_t detail_cap);

/* A key handle from a parsed mbedTLS pk context (public or private). Lock NOT held. */
otrp_status otrp__jose_key_from_pk(const mbedtls_pk_context *pk, int is_private,
                                   otrp__jose_key **out, char *detail, size_t detail_cap);

/* A legacy pk context of key (private if it has one); for x509write. Lock held. */
otrp_status otrp__jose_key_to_pk(const otrp__jose_key *key, mbedtls_pk_context *pk);

/* DER writing helpers (append a TLV; a non-negative INTEGER from big-endian bytes). */
otrp_status otrp__der_tlv(otrp_buf *out, uint8_t tag, const uint8_t *content, size_t len);
otrp_status otrp__der_uint(otrp_buf *out, const uint8_t *be, size_t len);

/* SubjectPublicKeyInfo and PKCS#8 encodings of a key. */
otrp_status otrp__jose_key_spki(const otrp__jose_key *key, otrp_buf *out);
otrp_status otrp__jose_key_pkcs8(const otrp__jose_key *key, otrp_buf *out);

/* SHA-256 over several parts (JWS signing input without concatenating). */
otrp_status otrp__jose_sha256_parts(const void *const *parts, const size_t *lens, size_t n,
                                    uint8_t out[32]);

/* Sign / verify a SHA-256 digest (the checks of otrp__jose_sign/verify included). */
otrp_status otrp__jose_sign_digest(const otrp__jose_key *key, otrp__jose_alg alg,
                                   const uint8_t digest[32], otrp_buf *sig);
otrp_status otrp__jose_verify_digest(const otrp__jose_key *key, otrp__jose_alg alg,
                                     const uint8_t digest[32], const uint8_t *sig,
                                     size_t sig_len, unsigned flags);

/* Decode and parse a base64url JOSE header (what: "protected header") into a JSON
 * object: OTRP_ERR_BASE64, OTRP_ERR_TOO_LARGE, OTRP_ERR_MSG_DUPLICATE,
 * OTRP_ERR_JOSE_FORMAT (not a JSON object; typographic quotes are named). */
otrp_status otrp__jose_parse_header(const char *b64, size_t len, const char *what,
                                    cJSON **out, char *detail, size_t detail_cap);

/* OTRP_ERR_JOSE_FORMAT when object has a member outside allowed (NULL-terminated). */
otrp_status otrp__jose_allowed_members(const cJSON *object, const char *const *allowed,
                                       const char *what, char *detail, size_t detail_cap);

/* OTRP_ERR_JOSE_FORMAT when a member name occurs in two of the (up to three, NULL
 * allowed) header objects (RFC 7515 4, RFC 7516 4). */
otrp_status otrp__jose_disjoint(const cJSON *a, const cJSON *b, const cJSON *c,
                                char *detail, size_t detail_cap);

/* "crit": refused everywhere (we implement no extension). OTRP_ERR_JOSE_CRIT when in
 * the protected header, OTRP_ERR_JOSE_FORMAT when in an unprotected one. */
otrp_status otrp__jose_check_crit(const cJSON *protected_hdr, const cJSON *unprot1,
                                  const cJSON *unprot2, char *detail, size_t detail_cap);

/* A member of one of the headers (first found), or NULL. */
const cJSON *otrp__jose_find(const cJSON *a, const cJSON *b, const cJSON *c,
                             const char *name);

/* 1 when len bytes are all base64url characters (compact serialization parts). */
int otrp__jose_b64url_chars(const char *s, size_t len);

/* Write a short detail. */
void otrp__jose_detail(char *detail, size_t cap, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Decode base64url (no padding) of a JSON/compact member into a fresh allocation
 * (one spare NUL byte). OTRP_ERR_BASE64 with a detail naming what. */
otrp_status otrp__jose_b64url_dup(const char *in, size_t len, const char *what,
                                  uint8_t **out, size_t *out_len, char *detail,
                                  size_t detail_cap);

/* Append the base64url encoding of data to out. */
otrp_status otrp__jose_b64url_append(otrp_buf *out, const uint8_t *data, size_t len);

/* Convert a PSA status to ours (for non-secret failures). */
otrp_status otrp__jose_psa_status(psa_status_t st);

#endif
