/* The benchmark's raw mbedTLS baseline. The only code outside lib/jose that includes
 * mbedTLS headers: measuring mbedTLS itself is its purpose. */
#include "raw.h"

#include <string.h>

#include <mbedtls/aes.h>
#include <mbedtls/gcm.h>
#include <mbedtls/md.h>
#include <mbedtls/version.h>

int bench_raw_cbc_hs256_decrypt(const uint8_t key[32], const uint8_t iv[16],
                                const uint8_t *aad, size_t aad_len, const uint8_t *ct,
                                size_t len, uint8_t *pt, uint8_t mac[32])
{
    uint8_t al[8];
    uint64_t bits = (uint64_t)aad_len * 8u;
    for (int i = 0; i < 8; i++)
        al[i] = (uint8_t)(bits >> (56 - 8 * i));
    mbedtls_md_context_t md;
    mbedtls_md_init(&md);
    int ret = mbedtls_md_setup(&md, mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), 1);
    if (ret == 0)
        ret = mbedtls_md_hmac_starts(&md, key, 16);
    if (ret == 0)
        ret = mbedtls_md_hmac_update(&md, aad, aad_len);
    if (ret == 0)
        ret = mbedtls_md_hmac_update(&md, iv, 16);
    if (ret == 0)
        ret = mbedtls_md_hmac_update(&md, ct, len);
    if (ret == 0)
        ret = mbedtls_md_hmac_update(&md, al, sizeof(al));
    if (ret == 0)
        ret = mbedtls_md_hmac_finish(&md, mac);
    mbedtls_md_free(&md);
    mbedtls_aes_context aes;
    mbedtls_aes_init(&aes);
    uint8_t ivc[16];
    memcpy(ivc, iv, 16);
    if (ret == 0)
        ret = mbedtls_aes_setkey_dec(&aes, key + 16, 128);
    if (ret == 0)
        ret = mbedtls_aes_crypt_cbc(&aes, MBEDTLS_AES_DECRYPT, len, ivc, ct, pt);
    mbedtls_aes_free(&aes);
    return ret;
}

int bench_raw_gcm_decrypt(const uint8_t key[16], const uint8_t iv[12], const uint8_t *aad,
                          size_t aad_len, const uint8_t *ct, size_t len, const uint8_t tag[16],
                          uint8_t *pt)
{
    mbedtls_gcm_context gcm;
    mbedtls_gcm_init(&gcm);
    int ret = mbedtls_gcm_setkey(&gcm, MBEDTLS_CIPHER_ID_AES, key, 128);
    if (ret == 0)
        ret = mbedtls_gcm_auth_decrypt(&gcm, len, iv, 12, aad, aad_len, tag, 16, ct, pt);
    mbedtls_gcm_free(&gcm);
    return ret;
}

const char *bench_raw_version(void)
{
    return MBEDTLS_VERSION_STRING;
}
