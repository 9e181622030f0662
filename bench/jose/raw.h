/* Raw mbedTLS calls timed beside lib/jose (the floor JOSE framing adds to). */
#ifndef OTRP_BENCH_JOSE_RAW_H
#define OTRP_BENCH_JOSE_RAW_H

#include <stddef.h>
#include <stdint.h>

/* AES-128-CBC decrypt + HMAC-SHA-256 over aad||iv||ct||al, as A128CBC-HS256 needs,
 * with the legacy mbedTLS API. Returns 0 on success. */
int bench_raw_cbc_hs256_decrypt(const uint8_t key[32], const uint8_t iv[16],
                                const uint8_t *aad, size_t aad_len, const uint8_t *ct,
                                size_t len, uint8_t *pt, uint8_t mac[32]);

/* AES-128-GCM authenticated decryption with the legacy API. */
int bench_raw_gcm_decrypt(const uint8_t key[16], const uint8_t iv[12], const uint8_t *aad,
                          size_t aad_len, const uint8_t *ct, size_t len, const uint8_t tag[16],
                          uint8_t *pt);

/* A key in a legacy mbedTLS pk context (from PKCS#8 PEM, NUL included in len) with
 * its own CTR-DRBG; NULL on failure. */
struct bench_raw_pk;
struct bench_raw_pk *bench_raw_pk_new(const uint8_t *pem, size_t len);
void bench_raw_pk_free(struct bench_raw_pk *k);

/* mbedtls_pk_sign / mbedtls_pk_verify over a SHA-256 digest (RSA PKCS#1 v1.5 or ECDSA). */
int bench_raw_sign(struct bench_raw_pk *k, const uint8_t hash[32], uint8_t *sig,
                   size_t *sig_len);
int bench_raw_verify(struct bench_raw_pk *k, const uint8_t hash[32], const uint8_t *sig,
                     size_t sig_len);

/* RSA encryption / decryption of a short secret; oaep 0: PKCS#1 v1.5, 1: OAEP SHA-1. */
int bench_raw_rsa_encrypt(struct bench_raw_pk *k, int oaep, const uint8_t *in, size_t len,
                          uint8_t *out, size_t *out_len);
int bench_raw_rsa_decrypt(struct bench_raw_pk *k, int oaep, const uint8_t *in, size_t len,
                          uint8_t *out, size_t *out_len);

/* The mbedTLS version string, e.g. "2.28.3". */
const char *bench_raw_version(void);

#endif
