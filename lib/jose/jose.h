/*
 * lib/jose: the JOSE and crypto layer (internal API; not installed, not exported).
 *
 * What the mock TEE and the reference TAM program against: key handles, SHA-256 and
 * random bytes, X.509 chains (verify and write), JWS (RFC 7515: RS256, ES256), JWE
 * (RFC 7516: RSA1_5, RSA-OAEP, RSA-OAEP-256 with A128CBC-HS256, A256CBC-HS512, A128GCM,
 * A256GCM) and the raw AES-256-CBC of PROFILE P7 (`encrypted_ta`).
 *
 * Built on mbedTLS (PSA API first) and cJSON. Only lib/jose includes mbedTLS headers:
 * nothing in this header needs them.
 *
 * Conventions for every function below:
 * - The return value is an otrp_status; OTRP_OK is success. The statuses listed are
 *   the specific ones; OTRP_ERR_INVALID_ARG (NULL where not allowed, a bad enum) and
 *   OTRP_ERR_NO_MEMORY can come from every function and are not repeated.
 * - detail (may be NULL, detail_cap may be 0) receives a short English reason on
 *   failure ("protected header: duplicate member 'alg'"). Never a global.
 * - Output text and bytes go into an otrp_buf (include/otrp/tee.h) that the caller owns:
 *   zero-initialise it, set max if a limit is wanted; the result is appended, so reset
 *   the buffer first when reusing it. Outputs that hold secrets are zeroized by
 *   otrp_buf_free().
 * - cJSON trees returned through a cJSON ** are owned by the caller (cJSON_Delete).
 * - Thread safety: a handle (key, jws, cert list) is used by one thread at a time;
 *   different handles may be used concurrently. PSA calls are serialized internally by
 *   one process-wide mutex (the mbedTLS 2.28 PSA core is not thread-safe). PSA is
 *   initialised on first use; the library never calls mbedtls_psa_crypto_free().
 * - Secrets (private keys, CEKs, intermediate plaintext) are zeroized before release.
 *
 * Typical use (the mock TEE receiving a TAM request, error handling omitted):
 *
 *     otrp__jws *jws;  otrp__x509_certs *chain;  otrp__jose_key *tam;  char cn[129];
 *     otrp__jws_parse_json(msg_value, OTRP__JOSE_F_PROFILE, &jws, d, sizeof d);
 *     otrp__jws_x5c(jws, &chain, d, sizeof d);
 *     otrp__x509_verify(chain, trust_anchors, 0, 0, &tam, cn, sizeof cn, d, sizeof d);
 *     otrp__jws_verify(jws, tam, 0, d, sizeof d);           // cn is the tamid
 *     payload = otrp__jws_payload(jws, &len);              // {"<Name>TBSRequest": ...}
 *     otrp__jwe_decrypt_json(content, tee_key, OTRP__JOSE_F_PROFILE, &plain, NULL, d, sizeof d);
 *
 * and answering: otrp__jwe_encrypt_json(plain, n, tam, NULL, &content, ...) then
 * otrp__jws_sign_json(tbs, n, tee_key, NULL, &jws_obj, ...).
 */
#ifndef OTRP_JOSE_JOSE_H
#define OTRP_JOSE_JOSE_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "otrp/status.h"
#include "otrp/tee.h" /* otrp_buf */

/* ------------------------------------------------------------------------------------
 * Limits (bad input is refused with OTRP_ERR_TOO_LARGE before any work is done)
 * ---------------------------------------------------------------------------------- */

/* Largest JWS/JWE text accepted (a TA image travels inside one JWE: 16 MiB + base64). */
#define OTRP__JOSE_MAX_TEXT (24u * 1024u * 1024u)
/* Largest protected/unprotected header, decoded (x5c chains of a few certificates). */
#define OTRP__JOSE_MAX_HEADER (64u * 1024u)
/* RSA key sizes: PROFILE P3 requires 2048..4096 for identity keys. */
#define OTRP__JOSE_RSA_MIN_BITS 2048u
#define OTRP__JOSE_RSA_MAX_BITS 4096u
/* SHA-256 digest size. */
#define OTRP__JOSE_SHA256_LEN 32u

/* ------------------------------------------------------------------------------------
 * Algorithms
 * ---------------------------------------------------------------------------------- */

/* JWS "alg" and JWE key-management "alg" values we implement. */
typedef enum otrp__jose_alg {
    OTRP__JOSE_ALG_NONE = 0,    /* no/unknown algorithm (never accepted) */
    OTRP__JOSE_ALG_RS256,       /* JWS: RSASSA-PKCS1-v1_5 SHA-256 */
    OTRP__JOSE_ALG_ES256,       /* JWS: ECDSA P-256 SHA-256, signature raw r||s */
    OTRP__JOSE_ALG_RSA1_5,      /* JWE: RSAES-PKCS1-v1_5 */
    OTRP__JOSE_ALG_RSA_OAEP,    /* JWE: RSAES-OAEP SHA-1/MGF1-SHA-1 */
    OTRP__JOSE_ALG_RSA_OAEP_256 /* JWE: RSAES-OAEP SHA-256/MGF1-SHA-256 */
} otrp__jose_alg;

/* JWE "enc" values. */
typedef enum otrp__jose_enc {
    OTRP__JOSE_ENC_NONE = 0,
    OTRP__JOSE_ENC_A128CBC_HS256,
    OTRP__JOSE_ENC_A256CBC_HS512,
    OTRP__JOSE_ENC_A128GCM,
    OTRP__JOSE_ENC_A256GCM
} otrp__jose_enc;

/* Serializations. */
typedef enum otrp__jose_form {
    OTRP__JOSE_FORM_DEFAULT = 0, /* JWS: flattened JSON; JWE: general JSON (PROFILE P2) */
    OTRP__JOSE_FORM_FLATTENED,
    OTRP__JOSE_FORM_GENERAL,
    OTRP__JOSE_FORM_COMPACT
} otrp__jose_form;

/* The registered name ("RS256", "RSA-OAEP-256", ...); NULL for NONE or bad values. */
const char *otrp__jose_alg_name(otrp__jose_alg alg);
const char *otrp__jose_enc_name(otrp__jose_enc enc);
/* Name to enum (exact, case-sensitive); NONE when unknown. */
otrp__jose_alg otrp__jose_alg_from_name(const char *name);
otrp__jose_enc otrp__jose_enc_from_name(const char *name);

/* Flags for the verify/decrypt/import functions (bitwise or; 0 = strict defaults). */
/* Enforce PROFILE P2 on JOSE headers: JWS protected = {"alg"} (+ "x5c"), unprotected
 * header only "x5c"; JWE protected = {"enc"} (+ "alg"), recipient header only "alg".
 * Not for P11 TAInformation (its unprotected header carries "signer") nor P7 TA images:
 * parse those with flags 0 (unknown header members are then ignored, RFC 7515 4). */
#define OTRP__JOSE_F_PROFILE 0x1u
/* Accept RSA keys below OTRP__JOSE_RSA_MIN_BITS (down to 1024): only for the draft's
 * sample messages, which are signed with RSA-1024. Never set in production paths. */
#define OTRP__JOSE_F_ALLOW_WEAK_RSA 0x2u

/* ------------------------------------------------------------------------------------
 * Library state, hashing, randomness
 * ---------------------------------------------------------------------------------- */

/* Initialise PSA (idempotent, thread-safe). Every other function calls it as needed.
 * OTRP_ERR_CRYPTO when psa_crypto_init() fails. */
otrp_status otrp__jose_init(void);

/* SHA-256 of len bytes into out[32]. */
otrp_status otrp__jose_sha256(const void *data, size_t len, uint8_t out[32]);

/* len bytes from the PSA random generator (CTR-DRBG seeded from the OS).
 * OTRP_ERR_RANDOM on failure. */
otrp_status otrp__jose_random(void *out, size_t len);

/* ------------------------------------------------------------------------------------
 * Keys
 * ---------------------------------------------------------------------------------- */

typedef struct otrp__jose_key otrp__jose_key; /* opaque */

typedef enum otrp__jose_kty {
    OTRP__JOSE_KTY_NONE = 0,
    OTRP__JOSE_KTY_RSA,
    OTRP__JOSE_KTY_EC_P256
} otrp__jose_kty;

/*
 * Load a key from PEM or DER: a PKCS#8 private key ("PRIVATE KEY"; PKCS#1 "RSA PRIVATE
 * KEY" and SEC1 "EC PRIVATE KEY" are accepted too), a SubjectPublicKeyInfo ("PUBLIC
 * KEY"), or an X.509 certificate ("CERTIFICATE": its public key; for a PEM file with
 * several certificates, the first). Encrypted PEM is not supported.
 * OTRP_ERR_KEY: not a key/certificate we can read, or an unsupported type/size (RSA
 *   outside 1024..4096 bits, EC curves other than P-256);
 * OTRP_ERR_CERT_PARSE: looks like a certificate but does not parse;
 * OTRP_ERR_TOO_LARGE: input above 64 KiB.
 */
otrp_status otrp__jose_key_load(const uint8_t *data, size_t len, otrp__jose_key **out,
                                char *detail, size_t detail_cap);

/*
 * Import a JWK (RFC 7517/7518): kty "RSA" (n, e; private also d, p, q, dp, dq, qi —
 * if only d is given the primes are recovered) or kty "EC" with crv "P-256" (x, y;
 * private also d). "use", "key_ops", "alg", "kid" and other members are ignored.
 * OTRP_ERR_JSON (text only): not JSON; OTRP_ERR_MSG_DUPLICATE: duplicate member;
 * OTRP_ERR_BASE64: a member is not base64url; OTRP_ERR_KEY: missing/extra-long
 * members, inconsistent key, unsupported kty/crv/size.
 */
otrp_status otrp__jose_key_from_jwk(const char *json, size_t len, otrp__jose_key **out,
                                    char *detail, size_t detail_cap);
otrp_status otrp__jose_key_from_jwk_json(const cJSON *jwk, otrp__jose_key **out,
                                         char *detail, size_t detail_cap);

/*
 * Generate a key pair: kty RSA with bits 2048..4096 (multiple of 8; e = 65537), or
 * EC_P256 (bits ignored). RSA-4096 takes seconds.
 * OTRP_ERR_KEY: bad size; OTRP_ERR_CRYPTO / OTRP_ERR_RANDOM: generation failed.
 */
otrp_status otrp__jose_key_generate(otrp__jose_kty kty, unsigned bits,
                                    otrp__jose_key **out, char *detail, size_t detail_cap);

/* Release a key (NULL allowed); private material is zeroized, its PSA keys destroyed. */
void otrp__jose_key_free(otrp__jose_key *key);

/* Queries. bits: RSA modulus size, 256 for P-256. */
otrp__jose_kty otrp__jose_key_type(const otrp__jose_key *key);
unsigned otrp__jose_key_bits(const otrp__jose_key *key);
int otrp__jose_key_has_private(const otrp__jose_key *key);

/* 1 when both keys have the same public key (compares the SPKI encodings). */
int otrp__jose_key_public_equal(const otrp__jose_key *a, const otrp__jose_key *b);

/* A public-only copy of key (e.g. to hand out while keeping the private key). */
otrp_status otrp__jose_key_public_copy(const otrp__jose_key *key, otrp__jose_key **out);

/* Append the DER SubjectPublicKeyInfo (PROFILE P7 `spaik` is its standard base64). */
otrp_status otrp__jose_key_export_spki_der(const otrp__jose_key *key, otrp_buf *out);

/* Append the private key as PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----"), for key files.
 * OTRP_ERR_KEY: the handle has no private part. */
otrp_status otrp__jose_key_export_private_pem(const otrp__jose_key *key, otrp_buf *out);

/* The public JWK: {"kty":"RSA","n","e"} or {"kty":"EC","crv":"P-256","x","y"}
 * (base64url, no padding; RSA n without leading zero bytes). As a tree or as text. */
otrp_status otrp__jose_key_export_public_jwk(const otrp__jose_key *key, cJSON **out);
otrp_status otrp__jose_key_export_public_jwk_text(const otrp__jose_key *key,
                                                  otrp_buf *out);

/* ------------------------------------------------------------------------------------
 * Raw signatures (the JWS algorithms without the JWS framing)
 * ---------------------------------------------------------------------------------- */

/* Sign data with alg RS256 or ES256 (ES256: 64 bytes r||s). Appends the signature.
 * OTRP_ERR_KEY_MISMATCH: alg does not fit the key type (or the key is public only);
 * OTRP_ERR_JOSE_ALG: alg is not a signature algorithm; OTRP_ERR_CRYPTO. */
otrp_status otrp__jose_sign(const otrp__jose_key *key, otrp__jose_alg alg,
                            const void *data, size_t len, otrp_buf *sig);

/* Verify. OTRP_ERR_SIGNATURE: the signature is wrong (or of the wrong length);
 * OTRP_ERR_KEY_MISMATCH / OTRP_ERR_JOSE_ALG as above; OTRP_ERR_KEY: RSA below 2048
 * bits without OTRP__JOSE_F_ALLOW_WEAK_RSA. */
otrp_status otrp__jose_verify(const otrp__jose_key *key, otrp__jose_alg alg,
                              const void *data, size_t len, const uint8_t *sig,
                              size_t sig_len, unsigned flags);

/* ------------------------------------------------------------------------------------
 * X.509 certificates
 * ---------------------------------------------------------------------------------- */

typedef struct otrp__x509_certs otrp__x509_certs; /* an ordered list of certificates */

otrp_status otrp__x509_certs_new(otrp__x509_certs **out);
void otrp__x509_certs_free(otrp__x509_certs *certs); /* NULL allowed */

/* Append certificates: DER (one), or PEM (one or more "CERTIFICATE" blocks).
 * OTRP_ERR_CERT_PARSE (detail says which); OTRP_ERR_TOO_LARGE above 1 MiB. */
otrp_status otrp__x509_certs_add(otrp__x509_certs *certs, const uint8_t *data,
                                 size_t len, char *detail, size_t detail_cap);

/* Append one certificate given as base64 text (x5c elements, DSI `cert`): standard
 * base64 with padding, or base64url (OTRP__B64_FIELD rules, PROFILE P2).
 * OTRP_ERR_BASE64; OTRP_ERR_CERT_PARSE. */
otrp_status otrp__x509_certs_add_b64(otrp__x509_certs *certs, const char *b64,
                                     size_t len, char *detail, size_t detail_cap);

/* Append every element of a JSON array of base64 certificate strings (an x5c value,
 * DSI `cacert`). OTRP_ERR_JOSE_FORMAT: not an array of strings or empty; as above. */
otrp_status otrp__x509_certs_add_x5c(otrp__x509_certs *certs, const cJSON *array,
                                     char *detail, size_t detail_cap);

size_t otrp__x509_certs_count(const otrp__x509_certs *certs);

/* The DER bytes of certificate i (0-based), valid while certs lives; NULL if out of
 * range. */
const uint8_t *otrp__x509_certs_der(const otrp__x509_certs *certs, size_t i,
                                    size_t *len);

/* The Subject CN of certificate i (NUL-terminated into cn[cn_cap]).
 * OTRP_ERR_NOT_FOUND: no CN; OTRP_ERR_TOO_LARGE: does not fit. */
otrp_status otrp__x509_certs_subject_cn(const otrp__x509_certs *certs, size_t i,
                                        char *cn, size_t cn_cap);

/*
 * The extended key usage that marks a TAM certificate ("OTrP TAM", docs/conformance.md):
 * OID 2.25.2764465826859158253794466195288017116, i.e. 2.25.<UUID
 * 02146ab0-3beb-454a-ac42-cecd7bc6c8dc> under ITU-T X.667, which needs no registration.
 * These are its DER content octets (without tag and length).
 */
#define OTRP__X509_EKU_OTRP_TAM                                                            \
    "\x69\x84\x94\xb5\xac\x87\xbe\xda\x95\x95\xac\xa1\xb3\xd9\xd7\xde\x9b\x91\x5c"
#define OTRP__X509_EKU_OTRP_TAM_LEN 19u

/* 1 when certificate i has an extendedKeyUsage extension that lists the OID whose DER
 * content octets are oid[oid_len] (anyExtendedKeyUsage does not count); else 0 (also
 * when i is out of range). */
int otrp__x509_certs_has_eku(const otrp__x509_certs *certs, size_t i, const char *oid,
                             size_t oid_len);

/* The public key of certificate i. OTRP_ERR_KEY: unsupported key type/size. */
otrp_status otrp__x509_certs_public_key(const otrp__x509_certs *certs, size_t i,
                                        otrp__jose_key **out, char *detail,
                                        size_t detail_cap);

/* A JSON array of the certificates as standard base64 DER (an x5c value). */
otrp_status otrp__x509_certs_to_x5c(const otrp__x509_certs *certs, cJSON **out);

/* Append certificate i as PEM. */
otrp_status otrp__x509_certs_pem(const otrp__x509_certs *certs, size_t i, otrp_buf *out);

/*
 * Verify a chain: chain[0] is the end-entity certificate, the others are
 * intermediates toward a root (order is free, a root may be included: trust comes only
 * from anchors). at_time is Unix seconds; 0 means the current time. Every certificate
 * on the path, the anchor included, must be valid at at_time. Signatures must use
 * SHA-256 or stronger and keys RSA >= 2048 or P-256, unless OTRP__JOSE_F_ALLOW_WEAK_RSA
 * (then SHA-1 and RSA-1024 are accepted too: the draft samples). On success, if
 * leaf_key is not NULL it receives the end-entity public key, and if cn is not NULL
 * the end-entity Subject CN (empty string when it has none).
 * OTRP_ERR_CERT_UNTRUSTED: no path to an anchor;
 * OTRP_ERR_CERT_EXPIRED: a certificate on the path is expired or not yet valid;
 * OTRP_ERR_CERT_SIGNATURE: a signature on the path is wrong;
 * OTRP_ERR_KEY: the end-entity (or a path) key is of an unsupported type or size,
 *   or the certificate is not allowed for signing (key usage);
 * OTRP_ERR_TOO_LARGE: cn does not fit.
 */
otrp_status otrp__x509_verify(const otrp__x509_certs *chain,
                              const otrp__x509_certs *anchors, int64_t at_time,
                              unsigned flags, otrp__jose_key **leaf_key, char *cn,
                              size_t cn_cap, char *detail, size_t detail_cap);

/* What otrp__x509_make() writes. */
typedef struct otrp__x509_spec {
    /* Subject DN as mbedTLS parses it: "CN=tam.example,O=libotrp,C=US". */
    const char *subject;
    /* Whose public key goes into the certificate. */
    const otrp__jose_key *subject_key;
    /* The issuer's certificate (DER) and private key; both NULL: self-signed with
     * subject_key (which then needs its private part). */
    const uint8_t *issuer_der;
    size_t issuer_der_len;
    const otrp__jose_key *issuer_key;
    /* Validity, Unix seconds (UTC). */
    int64_t not_before;
    int64_t not_after;
    /* 1: a CA (basicConstraints cA, keyCertSign|cRLSign); 0: an end entity
     * (digitalSignature|keyEncipherment). */
    int is_ca;
    /* Serial number; 0: 16 random bytes. */
    uint64_t serial;
    /* subjectAltName (RFC 5280 4.2.1.6), written when either list is non-empty:
     * NULL-terminated lists of DNS names ("localhost") and of textual IPv4 / IPv6
     * addresses ("127.0.0.1", "::1"); at most 16 names in all. NULL: none. */
    const char *const *san_dns;
    const char *const *san_ip;
    /* extendedKeyUsage (RFC 5280 4.2.1.12, not critical) with this one OID, given as its
     * DER content octets (e.g. OTRP__X509_EKU_OTRP_TAM); NULL: no such extension. */
    const char *eku_oid;
    size_t eku_oid_len;
} otrp__x509_spec;

/* Write a certificate (signed with RS256 or ES256 per the issuer key, SHA-256).
 * Appends the DER. OTRP_ERR_INVALID_ARG: bad DN, validity or subjectAltName entry;
 * OTRP_ERR_KEY: a key is missing its private part; OTRP_ERR_CERT_PARSE: issuer_der
 * unreadable; OTRP_ERR_CRYPTO. */
otrp_status otrp__x509_make(const otrp__x509_spec *spec, otrp_buf *der, char *detail,
                            size_t detail_cap);

/* Append DER as PEM with the given label ("CERTIFICATE"). */
otrp_status otrp__jose_der_to_pem(const uint8_t *der, size_t len, const char *label,
                                  otrp_buf *out);

/* ------------------------------------------------------------------------------------
 * JWS
 * ---------------------------------------------------------------------------------- */

typedef struct otrp__jws_sign_opts {
    /* NONE: RS256 for RSA keys, ES256 for P-256 keys. */
    otrp__jose_alg alg;
    /* DEFAULT = FLATTENED. COMPACT cannot carry an unprotected header. */
    otrp__jose_form form;
    /* Unprotected header members (e.g. {"x5c": [...]}, P4; {"signer": jwk}, P11);
     * copied, may be NULL. */
    const cJSON *header;
    /* Tests only: the exact protected header JSON text to encode (must hold a
     * matching "alg"); NULL: {"alg":"<alg>"} (PROFILE P2). */
    const char *protected_json;
} otrp__jws_sign_opts;

/*
 * Sign payload (any bytes) with a private key. opts may be NULL (all defaults).
 * Appends the serialization text (JSON for FLATTENED/GENERAL, compact otherwise).
 * OTRP_ERR_KEY_MISMATCH: alg does not fit the key or the key has no private part;
 * OTRP_ERR_JOSE_FORMAT: header with COMPACT, bad protected_json; OTRP_ERR_CRYPTO.
 */
otrp_status otrp__jws_sign(const void *payload, size_t len, const otrp__jose_key *key,
                           const otrp__jws_sign_opts *opts, otrp_buf *out, char *detail,
                           size_t detail_cap);

/* The same, as a JSON object (FLATTENED or GENERAL; COMPACT is refused). */
otrp_status otrp__jws_sign_json(const void *payload, size_t len,
                                const otrp__jose_key *key, const otrp__jws_sign_opts *opts,
                                cJSON **out, char *detail, size_t detail_cap);

typedef struct otrp__jws otrp__jws; /* a parsed, not yet verified JWS */

/*
 * Parse a JWS: flattened JSON, general JSON with exactly one signature, or compact.
 * Checks the structure (no unknown members in the JSON object; base64url members),
 * the protected header (JSON object without duplicate names; "alg" RS256/ES256 —
 * "none" and HMAC and everything else are refused; "crit" refused: we understand no
 * extensions; "alg" in exactly one of the headers; protected and unprotected header
 * members disjoint) and decodes the payload. flags: OTRP__JOSE_F_PROFILE.
 * OTRP_ERR_TOO_LARGE; OTRP_ERR_JSON; OTRP_ERR_MSG_DUPLICATE; OTRP_ERR_MSG_DEPTH;
 * OTRP_ERR_JOSE_FORMAT: structure, or a header that is not a JSON object (detail says
 *   what, and names typographic quotes when that is the cause);
 * OTRP_ERR_BASE64: a member is not base64url;
 * OTRP_ERR_JOSE_ALG: alg missing, "none", HMAC or unsupported;
 * OTRP_ERR_JOSE_CRIT: a "crit" header.
 */
otrp_status otrp__jws_parse(const char *text, size_t len, unsigned flags,
                            otrp__jws **out, char *detail, size_t detail_cap);
/* The same for a JWS already parsed as part of a larger JSON document (copied). */
otrp_status otrp__jws_parse_json(const cJSON *object, unsigned flags, otrp__jws **out,
                                 char *detail, size_t detail_cap);

void otrp__jws_free(otrp__jws *jws); /* NULL allowed */

otrp__jose_alg otrp__jws_alg(const otrp__jws *jws);
/* The decoded payload (valid while jws lives; also NUL-terminated for text). */
const uint8_t *otrp__jws_payload(const otrp__jws *jws, size_t *len);
/* The parsed protected header (never NULL after a successful parse) and the
 * unprotected header (NULL when absent), valid while jws lives. */
const cJSON *otrp__jws_protected(const otrp__jws *jws);
const cJSON *otrp__jws_header(const otrp__jws *jws);
/* The header member name from the protected header, else the unprotected one. */
const cJSON *otrp__jws_header_member(const otrp__jws *jws, const char *name);

/* The certificates of "x5c" (protected or unprotected header), leaf first.
 * OTRP_ERR_NOT_FOUND: no x5c; otherwise as otrp__x509_certs_add_x5c(). */
otrp_status otrp__jws_x5c(const otrp__jws *jws, otrp__x509_certs **out, char *detail,
                          size_t detail_cap);

/*
 * Verify the signature with key over ASCII(protected) "." ASCII(payload) as received.
 * flags: OTRP__JOSE_F_ALLOW_WEAK_RSA.
 * OTRP_ERR_SIGNATURE; OTRP_ERR_KEY_MISMATCH: alg does not fit the key type;
 * OTRP_ERR_KEY: RSA key below 2048 bits.
 */
otrp_status otrp__jws_verify(const otrp__jws *jws, const otrp__jose_key *key,
                             unsigned flags, char *detail, size_t detail_cap);

/* ------------------------------------------------------------------------------------
 * JWE
 * ---------------------------------------------------------------------------------- */

typedef struct otrp__jwe_enc_opts {
    otrp__jose_alg alg;   /* NONE: RSA1_5 (PROFILE P3 default) */
    otrp__jose_enc enc;   /* NONE: A128CBC-HS256 */
    otrp__jose_form form; /* DEFAULT = GENERAL (PROFILE P2) */
    /* GENERAL/FLATTENED: put "alg" in the protected header instead of the (recipient)
     * unprotected header. COMPACT always has {"alg","enc"} protected. */
    int alg_in_protected;
    /* Tests only (known-answer vectors): fixed CEK and IV; NULL = fresh random (the
     * normal case: every JWE gets a fresh CEK, PROFILE P3). */
    const uint8_t *cek;
    size_t cek_len;
    const uint8_t *iv;
    size_t iv_len;
} otrp__jwe_enc_opts;

/*
 * Encrypt plaintext to the RSA public key of recipient. opts may be NULL.
 * Appends the serialization text.
 * OTRP_ERR_KEY_MISMATCH: not an RSA key; OTRP_ERR_KEY: RSA below 2048 bits;
 * OTRP_ERR_JOSE_ALG: bad alg/enc; OTRP_ERR_CRYPTO; OTRP_ERR_RANDOM.
 */
otrp_status otrp__jwe_encrypt(const void *plaintext, size_t len,
                              const otrp__jose_key *recipient,
                              const otrp__jwe_enc_opts *opts, otrp_buf *out, char *detail,
                              size_t detail_cap);
/* The same as a JSON object (GENERAL or FLATTENED). */
otrp_status otrp__jwe_encrypt_json(const void *plaintext, size_t len,
                                   const otrp__jose_key *recipient,
                                   const otrp__jwe_enc_opts *opts, cJSON **out,
                                   char *detail, size_t detail_cap);

/* What a decryption found (optional output). */
typedef struct otrp__jwe_info {
    otrp__jose_alg alg;
    otrp__jose_enc enc;
    otrp__jose_form form;
} otrp__jwe_info;

/*
 * Decrypt a JWE (general JSON with exactly one recipient, flattened JSON, or compact)
 * with an RSA private key; appends the plaintext (a secret: free with otrp_buf_free).
 * "alg" may be in the protected, shared unprotected or recipient header (exactly one);
 * "enc" must be protected; "zip" and "crit" are refused. The tag is checked in
 * constant time before anything is decrypted. A wrong key, a wrong encrypted key and
 * a bad tag all give the same OTRP_ERR_DECRYPT with the same detail (no padding
 * oracle: RSA1_5 continues with a random CEK). flags: OTRP__JOSE_F_PROFILE,
 * OTRP__JOSE_F_ALLOW_WEAK_RSA.
 * OTRP_ERR_TOO_LARGE; OTRP_ERR_JSON; OTRP_ERR_MSG_DUPLICATE; OTRP_ERR_JOSE_FORMAT;
 * OTRP_ERR_BASE64; OTRP_ERR_JOSE_ALG; OTRP_ERR_JOSE_CRIT; OTRP_ERR_KEY_MISMATCH (not
 * an RSA private key); OTRP_ERR_KEY (RSA below 2048 bits); OTRP_ERR_DECRYPT.
 */
otrp_status otrp__jwe_decrypt(const char *text, size_t len, const otrp__jose_key *key,
                              unsigned flags, otrp_buf *plaintext, otrp__jwe_info *info,
                              char *detail, size_t detail_cap);
otrp_status otrp__jwe_decrypt_json(const cJSON *object, const otrp__jose_key *key,
                                   unsigned flags, otrp_buf *plaintext,
                                   otrp__jwe_info *info, char *detail, size_t detail_cap);

/* ------------------------------------------------------------------------------------
 * Content encryption primitives (RFC 7518 5.2 / 5.3), for tests and benchmarks
 * ---------------------------------------------------------------------------------- */

/* CEK, IV and tag sizes of enc (0 for NONE). */
size_t otrp__jwe_cek_len(otrp__jose_enc enc);
size_t otrp__jwe_iv_len(otrp__jose_enc enc);
size_t otrp__jwe_tag_len(otrp__jose_enc enc);

/* Encrypt: ct needs len + 16 bytes (CBC padding; GCM uses len); tag needs
 * otrp__jwe_tag_len(enc). *ct_len receives the ciphertext length. */
otrp_status otrp__jwe_content_encrypt(otrp__jose_enc enc, const uint8_t *cek,
                                      size_t cek_len, const uint8_t *iv, size_t iv_len,
                                      const uint8_t *aad, size_t aad_len,
                                      const uint8_t *pt, size_t len, uint8_t *ct,
                                      size_t *ct_len, uint8_t *tag);

/* Decrypt: pt needs len bytes. The tag is checked first, in constant time.
 * OTRP_ERR_DECRYPT for a wrong tag/key/padding. */
otrp_status otrp__jwe_content_decrypt(otrp__jose_enc enc, const uint8_t *cek,
                                      size_t cek_len, const uint8_t *iv, size_t iv_len,
                                      const uint8_t *aad, size_t aad_len,
                                      const uint8_t *ct, size_t len, const uint8_t *tag,
                                      size_t tag_len, uint8_t *pt, size_t *pt_len);

/* ------------------------------------------------------------------------------------
 * PROFILE P7: AES-256-CBC with PKCS#7 padding (encrypted_ta "AESCBC")
 * ---------------------------------------------------------------------------------- */

/* Appends len rounded up to the next multiple of 16 (always at least one pad byte). */
otrp_status otrp__jose_aes256cbc_encrypt(const uint8_t key[32], const uint8_t iv[16],
                                         const void *plaintext, size_t len,
                                         otrp_buf *out);
/* OTRP_ERR_DECRYPT: length not a positive multiple of 16 or bad padding. This mode has
 * no integrity of its own: the message around it is signed. */
otrp_status otrp__jose_aes256cbc_decrypt(const uint8_t key[32], const uint8_t iv[16],
                                         const void *ciphertext, size_t len,
                                         otrp_buf *out);

#endif /* OTRP_JOSE_JOSE_H */
