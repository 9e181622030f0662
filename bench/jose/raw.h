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

/* The mbedTLS version string, e.g. "2.28.3". */
const char *bench_raw_version(void);

#endif
