/* lib/jose internals shared by its files (never included outside lib/jose). */
#ifndef OTRP_JOSE_INTERNAL_H
#define OTRP_JOSE_INTERNAL_H

#include "jose/compat.h"
#include "jose/jose.h"
#include "util/detail.h"

/* How many PSA keys lib/jose keeps imported at most (of mbedTLS 2.28's 32 volatile key
 * slots per process; see key.c). */
#define OTRP__JOSE_PSA_CACHE 16u

/* The uses a PSA key is imported for (a PSA key carries one algorithm policy). */
enum otrp__jose_use {
    OTRP__USE_RS256 = 0,
    OTRP__USE_ES256,
    OTRP__USE_RSA1_5,
    OTRP__USE_RSA_OAEP,
    OTRP__USE_RSA_OAEP_256,
    OTRP__USE_COUNT
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
    /* Names this key in the process-wide PSA key cache (key.c); unique for the life
     * of the process, so a freed key's address being reused cannot alias. */
    uint64_t serial;
};

/* The process-wide lock around every PSA (and legacy mbedTLS crypto) call. lock()
 * also initialises PSA on first use; it fails only if psa_crypto_init() fails. */
otrp_status otrp__jose_lock(void);
void otrp__jose_unlock(void);

/* A PSA key for key + alg: its private part for private_op (sign, unwrap; else
 * OTRP_ERR_KEY_MISMATCH), its public part otherwise (verify, wrap) even when the key
 * has a private part: mbedTLS's PSA would otherwise parse the whole private key, and
 * for ECDSA verify recompute the public point Q = d*G, on every operation (2.28
 * mbedtls_psa_ecdsa_verify_hash). Lock held. Keys are imported on first use into a small
 * process-wide cache (least recently used evicted, destroyed when the key is freed),
 * so lib/jose holds at most OTRP__JOSE_PSA_CACHE of mbedTLS's volatile key slots
 * however many keys are loaded. *id is valid until the lock is released or the next
 * call. */
otrp_status otrp__jose_psa_key(const otrp__jose_key *key, otrp__jose_alg alg, int private_op,
                               mbedtls_svc_key_id_t *id);

/* How many PSA keys the cache holds now (tests: 0 after every key is freed). */
size_t otrp__jose_psa_cached(void);

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

/* ---- the serializations, shared by JWS and JWE (what: "JWS" / "JWE") ---- */

/* 1 when text, after JSON white space, starts an object (a JSON serialization). */
int otrp__jose_is_json(const char *text, size_t len);

/* Split a compact serialization into exactly n base64url parts (pointers into text).
 * OTRP_ERR_JOSE_FORMAT when a byte is neither base64url nor '.', or the count differs. */
otrp_status otrp__jose_split_compact(const char *text, size_t len, size_t n, const char *what,
                                     const char **part, size_t *part_len, char *detail,
                                     size_t detail_cap);

/* A string member (*s NULL when absent and not required; len may be NULL) or an
 * optional object member of a JOSE JSON object; OTRP_ERR_JOSE_FORMAT otherwise. */
otrp_status otrp__jose_member_str(const cJSON *obj, const char *name, int required,
                                  const char *what, const char **s, size_t *len, char *detail,
                                  size_t detail_cap);
otrp_status otrp__jose_member_obj(const cJSON *obj, const char *name, const char *what,
                                  const cJSON **out, char *detail, size_t detail_cap);

/* The structure of a JSON serialization: obj is a JSON object within the depth limit;
 * with list_name ("signatures", "recipients") it is the general form, whose members are
 * among general and whose list holds exactly one object with members among element
 * (PROFILE P2); without, the flattened form with members among flattened. *elem is the
 * one element (general) or obj itself (flattened). */
otrp_status otrp__jose_json_members(const cJSON *obj, const char *list_name,
                                    const char *const *general, const char *const *flattened,
                                    const char *const *element, const char *what,
                                    const cJSON **elem, otrp__jose_form *form, char *detail,
                                    size_t detail_cap);

/* Decode base64url (no padding) of a JSON/compact member into a fresh allocation
 * (one spare NUL byte). OTRP_ERR_BASE64 with a detail naming what. */
otrp_status otrp__jose_b64url_dup(const char *in, size_t len, const char *what,
                                  uint8_t **out, size_t *out_len, char *detail,
                                  size_t detail_cap);

/* Append the base64url encoding of data to out. */
otrp_status otrp__jose_b64url_append(otrp_buf *out, const uint8_t *data, size_t len);

/* ---- AES_CBC_HMAC_SHA2 (RFC 7518 5.2.2), one function per step ----
 * otrp__jwe_content_encrypt/decrypt run A128CBC-HS256 and A256CBC-HS512 through
 * otrp__cbc_hmac_encrypt/decrypt, which are made of the steps below and nothing else;
 * the tests check every intermediate value against RFC 7516 Appendix B and RFC 7518
 * Appendix B.1-B.3. The core takes K of 32, 48 or 64 bytes (A192CBC-HS384 included,
 * which PROFILE P3 does not allow in a JWE header: the header parser refuses it). Each
 * step takes the PSA lock itself where it needs PSA. */
#define OTRP__CBC_HMAC_MAX_KEY 64u
#define OTRP__CBC_HMAC_PARTS 4u

/* MAC_KEY and ENC_KEY (each K_LEN/2 bytes) and the tag length T_LEN (also K_LEN/2). */
typedef struct otrp__cbc_hmac_keys {
    const uint8_t *mac_key;
    const uint8_t *enc_key;
    size_t len;
} otrp__cbc_hmac_keys;

/* The HMAC input A || IV || E || AL as its four parts, in order (never concatenated).
 * part[3] points into al: do not copy the struct. */
typedef struct otrp__cbc_hmac_input {
    const uint8_t *part[OTRP__CBC_HMAC_PARTS];
    size_t len[OTRP__CBC_HMAC_PARTS];
    uint8_t al[8];
} otrp__cbc_hmac_input;

/* K_LEN/2 for K_LEN 32, 48, 64; 0 for any other length. */
size_t otrp__cbc_hmac_half(size_t key_len);

/* Step 1 (RFC 7516 B.1): MAC_KEY = the first half of K, ENC_KEY = the second half.
 * OTRP_ERR_INVALID_ARG for another length. */
otrp_status otrp__cbc_hmac_split(const uint8_t *k, size_t k_len, otrp__cbc_hmac_keys *out);

/* Step 2 (B.2): AES-CBC with PKCS#7 padding under ENC_KEY (encrypt = 1: E from P;
 * 0: P from E). out needs len + 16 bytes (encrypt) or len bytes (decrypt). */
otrp_status otrp__cbc_hmac_aes(int encrypt, const otrp__cbc_hmac_keys *keys,
                               const uint8_t iv[16], const uint8_t *in, size_t len,
                               uint8_t *out, size_t out_cap, size_t *out_len);

/* Step 3 (B.3): AL = the number of bits of A as a 64-bit big-endian integer. */
void otrp__cbc_hmac_al(size_t aad_len, uint8_t al[8]);

/* Step 4 (B.4): the HMAC input A || IV || E || AL (AL computed by step 3). */
void otrp__cbc_hmac_input_init(otrp__cbc_hmac_input *in, const uint8_t *aad, size_t aad_len,
                               const uint8_t iv[16], const uint8_t *e, size_t e_len);

/* Step 5 (B.5): M = HMAC-SHA-256/384/512(MAC_KEY, input); *m_len = the hash size. */
otrp_status otrp__cbc_hmac_mac(const otrp__cbc_hmac_keys *keys, const otrp__cbc_hmac_input *in,
                               uint8_t *m, size_t m_cap, size_t *m_len);

/* Steps 1-6: E and T = the first T_LEN bytes of M (B.6). ct needs len + 16 bytes, tag
 * K_LEN/2. OTRP_ERR_INVALID_ARG for a bad K length. */
otrp_status otrp__cbc_hmac_encrypt(const uint8_t *k, size_t k_len, const uint8_t iv[16],
                                   const uint8_t *aad, size_t aad_len, const uint8_t *pt,
                                   size_t len, uint8_t *ct, size_t *ct_len, uint8_t *tag);

/* B.7: recompute M, compare its first T_LEN bytes with tag in constant time, and only
 * then decrypt. OTRP_ERR_DECRYPT for a wrong tag (length) or bad padding; pt needs len
 * bytes. */
otrp_status otrp__cbc_hmac_decrypt(const uint8_t *k, size_t k_len, const uint8_t iv[16],
                                   const uint8_t *aad, size_t aad_len, const uint8_t *ct,
                                   size_t len, const uint8_t *tag, size_t tag_len,
                                   uint8_t *pt, size_t *pt_len);

/* Convert a PSA status to ours (for non-secret failures). */
otrp_status otrp__jose_psa_status(psa_status_t st);

#endif
