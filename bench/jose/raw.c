/* The benchmark's raw mbedTLS baseline. The only code outside lib/jose that includes
 * mbedTLS headers: measuring mbedTLS itself is its purpose. */
#include "raw.h"

#include <string.h>

#include <stdlib.h>

#include <mbedtls/aes.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>
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

struct bench_raw_pk {
    mbedtls_pk_context pk;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
};

struct bench_raw_pk *bench_raw_pk_new(const uint8_t *pem, size_t len)
{
    struct bench_raw_pk *k = calloc(1, sizeof(*k));
    if (k == NULL)
        return NULL;
    mbedtls_pk_init(&k->pk);
    mbedtls_entropy_init(&k->entropy);
    mbedtls_ctr_drbg_init(&k->drbg);
    int ret = mbedtls_ctr_drbg_seed(&k->drbg, mbedtls_entropy_func, &k->entropy, NULL, 0);
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    if (ret == 0)
        ret = mbedtls_pk_parse_key(&k->pk, pem, len, NULL, 0, mbedtls_ctr_drbg_random, &k->drbg);
#else
    if (ret == 0)
        ret = mbedtls_pk_parse_key(&k->pk, pem, len, NULL, 0);
#endif
    if (ret != 0) {
        bench_raw_pk_free(k);
        return NULL;
    }
    return k;
}

void bench_raw_pk_free(struct bench_raw_pk *k)
{
    if (k == NULL)
        return;
    mbedtls_pk_free(&k->pk);
    mbedtls_ctr_drbg_free(&k->drbg);
    mbedtls_entropy_free(&k->entropy);
    free(k);
}

int bench_raw_sign(struct bench_raw_pk *k, const uint8_t hash[32], uint8_t *sig, size_t *sig_len)
{
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    return mbedtls_pk_sign(&k->pk, MBEDTLS_MD_SHA256, hash, 32, sig, MBEDTLS_PK_SIGNATURE_MAX_SIZE,
                           sig_len, mbedtls_ctr_drbg_random, &k->drbg);
#else
    return mbedtls_pk_sign(&k->pk, MBEDTLS_MD_SHA256, hash, 32, sig, sig_len,
                           mbedtls_ctr_drbg_random, &k->drbg);
#endif
}

int bench_raw_verify(struct bench_raw_pk *k, const uint8_t hash[32], const uint8_t *sig,
                     size_t sig_len)
{
    return mbedtls_pk_verify(&k->pk, MBEDTLS_MD_SHA256, hash, 32, sig, sig_len);
}

static void set_padding(struct bench_raw_pk *k, int oaep)
{
    (void)mbedtls_rsa_set_padding(mbedtls_pk_rsa(k->pk),
                                  oaep ? MBEDTLS_RSA_PKCS_V21 : MBEDTLS_RSA_PKCS_V15,
                                  oaep ? MBEDTLS_MD_SHA1 : MBEDTLS_MD_NONE);
}

int bench_raw_rsa_encrypt(struct bench_raw_pk *k, int oaep, const uint8_t *in, size_t len,
                          uint8_t *out, size_t *out_len)
{
    set_padding(k, oaep);
    return mbedtls_pk_encrypt(&k->pk, in, len, out, out_len, 512, mbedtls_ctr_drbg_random,
                              &k->drbg);
}

int bench_raw_rsa_decrypt(struct bench_raw_pk *k, int oaep, const uint8_t *in, size_t len,
                          uint8_t *out, size_t *out_len)
{
    set_padding(k, oaep);
    return mbedtls_pk_decrypt(&k->pk, in, len, out, out_len, 512, mbedtls_ctr_drbg_random,
                              &k->drbg);
}
