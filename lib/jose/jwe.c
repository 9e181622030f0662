/* lib/jose JWE (RFC 7516/7518): RSA key management, CBC-HMAC and GCM content
 * encryption, the general/flattened/compact serializations; P7 AES-256-CBC. */
#include "jose/internal.h"

#include <stdlib.h>
#include <string.h>

#include "util/base64.h"
#include "util/json_strict.h"
#include "util/mem.h"

#define AES_BLOCK 16u
#define GCM_IV_LEN 12u
#define GCM_TAG_LEN 16u
#define MAX_CEK 64u
#define RSA_MAX_BYTES (OTRP__JOSE_RSA_MAX_BITS / 8u)

/* The one detail every failure after the structure checks gets (no oracle). */
static const char DECRYPT_FAILED[] = "decryption failed";

size_t otrp__jwe_cek_len(otrp__jose_enc enc)
{
    switch (enc) {
    case OTRP__JOSE_ENC_A128CBC_HS256: return 32;
    case OTRP__JOSE_ENC_A256CBC_HS512: return 64;
    case OTRP__JOSE_ENC_A128GCM: return 16;
    case OTRP__JOSE_ENC_A256GCM: return 32;
    default: return 0;
    }
}

size_t otrp__jwe_iv_len(otrp__jose_enc enc)
{
    switch (enc) {
    case OTRP__JOSE_ENC_A128CBC_HS256:
    case OTRP__JOSE_ENC_A256CBC_HS512: return AES_BLOCK;
    case OTRP__JOSE_ENC_A128GCM:
    case OTRP__JOSE_ENC_A256GCM: return GCM_IV_LEN;
    default: return 0;
    }
}

size_t otrp__jwe_tag_len(otrp__jose_enc enc)
{
    switch (enc) {
    case OTRP__JOSE_ENC_A128CBC_HS256: return 16;
    case OTRP__JOSE_ENC_A256CBC_HS512: return 32;
    case OTRP__JOSE_ENC_A128GCM:
    case OTRP__JOSE_ENC_A256GCM: return GCM_TAG_LEN;
    default: return 0;
    }
}

static int is_cbc(otrp__jose_enc enc)
{
    return enc == OTRP__JOSE_ENC_A128CBC_HS256 || enc == OTRP__JOSE_ENC_A256CBC_HS512;
}

/* ---- PSA building blocks (lock held) ---- */

static psa_status_t import_sym(psa_key_type_t type, psa_algorithm_t alg, psa_key_usage_t usage,
                               const uint8_t *key, size_t len, mbedtls_svc_key_id_t *id)
{
    psa_key_attributes_t attr = PSA_KEY_ATTRIBUTES_INIT;
    psa_set_key_type(&attr, type);
    psa_set_key_usage_flags(&attr, usage);
    psa_set_key_algorithm(&attr, alg);
    psa_status_t ps = psa_import_key(&attr, key, len, id);
    psa_reset_key_attributes(&attr);
    return ps;
}

/* AES-CBC with PKCS#7 padding. out needs len + 16 (encrypt) or len (decrypt) bytes. */
static psa_status_t cbc_run(int encrypt, const uint8_t *key, size_t key_len,
                            const uint8_t *iv, const uint8_t *in, size_t len, uint8_t *out,
                            size_t out_cap, size_t *out_len)
{
    mbedtls_svc_key_id_t id = MBEDTLS_SVC_KEY_ID_INIT;
    psa_status_t ps = import_sym(PSA_KEY_TYPE_AES, PSA_ALG_CBC_PKCS7,
                                 PSA_KEY_USAGE_ENCRYPT | PSA_KEY_USAGE_DECRYPT, key, key_len,
                                 &id);
    if (ps != PSA_SUCCESS)
        return ps;
    psa_cipher_operation_t op = PSA_CIPHER_OPERATION_INIT;
    size_t n = 0, m = 0;
    ps = encrypt ? psa_cipher_encrypt_setup(&op, id, PSA_ALG_CBC_PKCS7)
                 : psa_cipher_decrypt_setup(&op, id, PSA_ALG_CBC_PKCS7);
    if (ps == PSA_SUCCESS)
        ps = psa_cipher_set_iv(&op, iv, AES_BLOCK);
    if (ps == PSA_SUCCESS)
        ps = psa_cipher_update(&op, in, len, out, out_cap, &n);
    if (ps == PSA_SUCCESS)
        ps = psa_cipher_finish(&op, out + n, out_cap - n, &m);
    if (ps != PSA_SUCCESS)
        (void)psa_cipher_abort(&op);
    (void)psa_destroy_key(id);
    *out_len = n + m;
    return ps;
}

/* ---- AES_CBC_HMAC_SHA2 (RFC 7518 5.2), one function per step ----
 * The JWE code runs exactly these steps; the RFC 7516 B and RFC 7518 B tests check each
 * intermediate value. */

size_t otrp__cbc_hmac_half(size_t key_len)
{
    return key_len == 32 || key_len == 48 || key_len == 64 ? key_len / 2 : 0;
}

/* SHA-256 / SHA-384 / SHA-512 for 16 / 24 / 32-byte halves (RFC 7518 5.2.3-5.2.5). */
static psa_algorithm_t cbc_hmac_hash(size_t half)
{
    return half == 16 ? PSA_ALG_SHA_256 : half == 24 ? PSA_ALG_SHA_384 : PSA_ALG_SHA_512;
}

otrp_status otrp__cbc_hmac_split(const uint8_t *k, size_t k_len, otrp__cbc_hmac_keys *out)
{
    size_t half = otrp__cbc_hmac_half(k_len);
    if (k == NULL || out == NULL || half == 0)
        return OTRP_ERR_INVALID_ARG;
    out->mac_key = k;
    out->enc_key = k + half;
    out->len = half;
    return OTRP_OK;
}

otrp_status otrp__cbc_hmac_aes(int encrypt, const otrp__cbc_hmac_keys *keys,
                               const uint8_t iv[16], const uint8_t *in, size_t len,
                               uint8_t *out, size_t out_cap, size_t *out_len)
{
    otrp_status st = otrp__jose_lock();
    if (st != OTRP_OK)
        return st;
    psa_status_t ps = cbc_run(encrypt, keys->enc_key, keys->len, iv, in, len, out, out_cap,
                              out_len);
    otrp__jose_unlock();
    return otrp__jose_psa_status(ps);
}

void otrp__cbc_hmac_al(size_t aad_len, uint8_t al[8])
{
    uint64_t bits = (uint64_t)aad_len * 8u;
    for (int i = 0; i < 8; i++)
        al[i] = (uint8_t)(bits >> (56 - 8 * i));
}

void otrp__cbc_hmac_input_init(otrp__cbc_hmac_input *in, const uint8_t *aad, size_t aad_len,
                               const uint8_t iv[16], const uint8_t *e, size_t e_len)
{
    otrp__cbc_hmac_al(aad_len, in->al);
    in->part[0] = aad;
    in->len[0] = aad_len;
    in->part[1] = iv;
    in->len[1] = AES_BLOCK;
    in->part[2] = e;
    in->len[2] = e_len;
    in->part[3] = in->al;
    in->len[3] = sizeof(in->al);
}

otrp_status otrp__cbc_hmac_mac(const otrp__cbc_hmac_keys *keys, const otrp__cbc_hmac_input *in,
                               uint8_t *m, size_t m_cap, size_t *m_len)
{
    psa_algorithm_t alg = PSA_ALG_HMAC(cbc_hmac_hash(keys->len));
    otrp_status st = otrp__jose_lock();
    if (st != OTRP_OK)
        return st;
    mbedtls_svc_key_id_t id = MBEDTLS_SVC_KEY_ID_INIT;
    psa_status_t ps = import_sym(PSA_KEY_TYPE_HMAC, alg,
                                 PSA_KEY_USAGE_SIGN_MESSAGE | PSA_KEY_USAGE_SIGN_HASH,
                                 keys->mac_key, keys->len, &id);
    if (ps == PSA_SUCCESS) {
        psa_mac_operation_t op = PSA_MAC_OPERATION_INIT;
        ps = psa_mac_sign_setup(&op, id, alg);
        for (size_t i = 0; i < OTRP__CBC_HMAC_PARTS && ps == PSA_SUCCESS; i++)
            if (in->len[i] != 0)
                ps = psa_mac_update(&op, in->part[i], in->len[i]);
        if (ps == PSA_SUCCESS)
            ps = psa_mac_sign_finish(&op, m, m_cap, m_len);
        if (ps != PSA_SUCCESS)
            (void)psa_mac_abort(&op);
        (void)psa_destroy_key(id);
    }
    otrp__jose_unlock();
    return otrp__jose_psa_status(ps);
}

otrp_status otrp__cbc_hmac_encrypt(const uint8_t *k, size_t k_len, const uint8_t iv[16],
                                   const uint8_t *aad, size_t aad_len, const uint8_t *pt,
                                   size_t len, uint8_t *ct, size_t *ct_len, uint8_t *tag)
{
    otrp__cbc_hmac_keys keys;
    otrp_status st = otrp__cbc_hmac_split(k, k_len, &keys);                     /* B.1 */
    if (st == OTRP_OK)
        st = otrp__cbc_hmac_aes(1, &keys, iv, pt, len, ct, len + AES_BLOCK, ct_len); /* B.2 */
    if (st != OTRP_OK)
        return st;
    otrp__cbc_hmac_input in;
    otrp__cbc_hmac_input_init(&in, aad, aad_len, iv, ct, *ct_len);              /* B.3, B.4 */
    uint8_t m[OTRP__CBC_HMAC_MAX_KEY];
    size_t m_len = 0;
    st = otrp__cbc_hmac_mac(&keys, &in, m, sizeof(m), &m_len);                  /* B.5 */
    if (st == OTRP_OK)
        memcpy(tag, m, keys.len);                                               /* B.6 */
    otrp__memzero(m, sizeof(m));
    return st;
}

otrp_status otrp__cbc_hmac_decrypt(const uint8_t *k, size_t k_len, const uint8_t iv[16],
                                   const uint8_t *aad, size_t aad_len, const uint8_t *ct,
                                   size_t len, const uint8_t *tag, size_t tag_len,
                                   uint8_t *pt, size_t *pt_len)
{
    otrp__cbc_hmac_keys keys;
    otrp_status st = otrp__cbc_hmac_split(k, k_len, &keys);
    if (st != OTRP_OK)
        return st;
    if (tag_len != keys.len)
        return OTRP_ERR_DECRYPT;
    otrp__cbc_hmac_input in;
    otrp__cbc_hmac_input_init(&in, aad, aad_len, iv, ct, len);
    uint8_t m[OTRP__CBC_HMAC_MAX_KEY];
    size_t m_len = 0;
    st = otrp__cbc_hmac_mac(&keys, &in, m, sizeof(m), &m_len);
    /* B.7: the tag is checked, in constant time, before anything is decrypted. */
    int auth_ok = st == OTRP_OK && otrp__ct_equal(m, tag, keys.len);
    otrp__memzero(m, sizeof(m));
    if (st == OTRP_ERR_NO_MEMORY)
        return st;
    if (!auth_ok)
        return OTRP_ERR_DECRYPT;
    st = otrp__cbc_hmac_aes(0, &keys, iv, ct, len, pt, len, pt_len);
    if (st == OTRP_ERR_NO_MEMORY)
        return st;
    return st == OTRP_OK ? OTRP_OK : OTRP_ERR_DECRYPT;
}

static otrp_status check_params(otrp__jose_enc enc, const uint8_t *cek, size_t cek_len,
                                const uint8_t *iv, size_t iv_len)
{
    if (otrp__jwe_cek_len(enc) == 0)
        return OTRP_ERR_JOSE_ALG;
    if (cek == NULL || iv == NULL || cek_len != otrp__jwe_cek_len(enc) ||
        iv_len != otrp__jwe_iv_len(enc))
        return OTRP_ERR_INVALID_ARG;
    return OTRP_OK;
}

/* AES-GCM; ct has room for len + 16 bytes (PSA appends the tag). */
static otrp_status gcm_encrypt(const uint8_t *cek, size_t cek_len, const uint8_t *iv,
                               size_t iv_len, const uint8_t *aad, size_t aad_len,
                               const uint8_t *pt, size_t len, uint8_t *ct, size_t *ct_len,
                               uint8_t *tag)
{
    otrp_status st = otrp__jose_lock();
    if (st != OTRP_OK)
        return st;
    mbedtls_svc_key_id_t id = MBEDTLS_SVC_KEY_ID_INIT;
    size_t n = 0;
    psa_status_t ps = import_sym(PSA_KEY_TYPE_AES, PSA_ALG_GCM, PSA_KEY_USAGE_ENCRYPT, cek,
                                 cek_len, &id);
    if (ps == PSA_SUCCESS) {
        ps = psa_aead_encrypt(id, PSA_ALG_GCM, iv, iv_len, aad, aad_len, pt, len, ct,
                              len + GCM_TAG_LEN, &n);
        (void)psa_destroy_key(id);
    }
    otrp__jose_unlock();
    if (ps == PSA_SUCCESS && n == len + GCM_TAG_LEN) {
        memcpy(tag, ct + len, GCM_TAG_LEN);
        *ct_len = len;
    } else if (ps == PSA_SUCCESS) {
        ps = PSA_ERROR_GENERIC_ERROR;
    }
    return otrp__jose_psa_status(ps);
}

/* AES-GCM one-shot: mbedTLS releases no plaintext unless the tag verifies. */
static otrp_status gcm_decrypt(const uint8_t *cek, size_t cek_len, const uint8_t *iv,
                               size_t iv_len, const uint8_t *aad, size_t aad_len,
                               const uint8_t *ct, size_t len, const uint8_t *tag, uint8_t *pt,
                               size_t *pt_len)
{
    uint8_t *joined = NULL;
    if (len == 0 || tag != ct + len) {
        /* PSA wants ciphertext || tag in one piece */
        joined = malloc(len + GCM_TAG_LEN);
        if (joined == NULL)
            return OTRP_ERR_NO_MEMORY;
        if (len != 0)
            memcpy(joined, ct, len);
        memcpy(joined + len, tag, GCM_TAG_LEN);
    }
    otrp_status st = otrp__jose_lock();
    if (st != OTRP_OK) {
        free(joined);
        return st;
    }
    mbedtls_svc_key_id_t id = MBEDTLS_SVC_KEY_ID_INIT;
    psa_status_t ps = import_sym(PSA_KEY_TYPE_AES, PSA_ALG_GCM, PSA_KEY_USAGE_DECRYPT, cek,
                                 cek_len, &id);
    if (ps == PSA_SUCCESS) {
        ps = psa_aead_decrypt(id, PSA_ALG_GCM, iv, iv_len, aad, aad_len,
                              joined != NULL ? joined : ct, len + GCM_TAG_LEN, pt, len, pt_len);
        (void)psa_destroy_key(id);
    }
    otrp__jose_unlock();
    free(joined);
    if (ps == PSA_ERROR_INSUFFICIENT_MEMORY)
        return OTRP_ERR_NO_MEMORY;
    return ps == PSA_SUCCESS ? OTRP_OK : OTRP_ERR_DECRYPT;
}

otrp_status otrp__jwe_content_encrypt(otrp__jose_enc enc, const uint8_t *cek,
                                      size_t cek_len, const uint8_t *iv, size_t iv_len,
                                      const uint8_t *aad, size_t aad_len,
                                      const uint8_t *pt, size_t len, uint8_t *ct,
                                      size_t *ct_len, uint8_t *tag)
{
    otrp_status st = check_params(enc, cek, cek_len, iv, iv_len);
    if (st != OTRP_OK)
        return st;
    if ((pt == NULL && len != 0) || ct == NULL || ct_len == NULL || tag == NULL ||
        (aad == NULL && aad_len != 0) || len > OTRP__JOSE_MAX_TEXT)
        return OTRP_ERR_INVALID_ARG;
    if (is_cbc(enc))
        return otrp__cbc_hmac_encrypt(cek, cek_len, iv, aad, aad_len, pt, len, ct, ct_len, tag);
    return gcm_encrypt(cek, cek_len, iv, iv_len, aad, aad_len, pt, len, ct, ct_len, tag);
}

otrp_status otrp__jwe_content_decrypt(otrp__jose_enc enc, const uint8_t *cek,
                                      size_t cek_len, const uint8_t *iv, size_t iv_len,
                                      const uint8_t *aad, size_t aad_len,
                                      const uint8_t *ct, size_t len, const uint8_t *tag,
                                      size_t tag_len, uint8_t *pt, size_t *pt_len)
{
    otrp_status st = check_params(enc, cek, cek_len, iv, iv_len);
    if (st != OTRP_OK)
        return st;
    if ((ct == NULL && len != 0) || tag == NULL || pt_len == NULL ||
        (pt == NULL && len != 0) || (aad == NULL && aad_len != 0))
        return OTRP_ERR_INVALID_ARG;
    if (tag_len != otrp__jwe_tag_len(enc))
        return OTRP_ERR_DECRYPT;
    if (is_cbc(enc))
        st = otrp__cbc_hmac_decrypt(cek, cek_len, iv, aad, aad_len, ct, len, tag, tag_len, pt,
                                    pt_len);
    else
        st = gcm_decrypt(cek, cek_len, iv, iv_len, aad, aad_len, ct, len, tag, pt, pt_len);
    if (st != OTRP_OK && st != OTRP_ERR_NO_MEMORY)
        st = OTRP_ERR_DECRYPT;
    if (st != OTRP_OK) {
        if (pt != NULL && len != 0)
            otrp__memzero(pt, len);
        *pt_len = 0;
    }
    return st;
}

/* ---- PROFILE P7 AES-256-CBC ---- */

static otrp_status aes256cbc(int encrypt, const uint8_t key[32], const uint8_t iv[16],
                             const void *in, size_t len, otrp_buf *out)
{
    if (key == NULL || iv == NULL || out == NULL || (in == NULL && len != 0))
        return OTRP_ERR_INVALID_ARG;
    if (len > OTRP__JOSE_MAX_TEXT)
        return OTRP_ERR_TOO_LARGE;
    if (!encrypt && (len == 0 || len % AES_BLOCK != 0))
        return OTRP_ERR_DECRYPT;
    size_t cap = len + AES_BLOCK;
    uint8_t *tmp = malloc(cap);
    if (tmp == NULL)
        return OTRP_ERR_NO_MEMORY;
    size_t n = 0;
    otrp_status st = otrp__jose_lock();
    if (st == OTRP_OK) {
        psa_status_t ps = cbc_run(encrypt, key, 32, iv, in, len, tmp, cap, &n);
        otrp__jose_unlock();
        if (ps == PSA_ERROR_INSUFFICIENT_MEMORY)
            st = OTRP_ERR_NO_MEMORY;
        else if (ps != PSA_SUCCESS)
            st = encrypt ? OTRP_ERR_CRYPTO : OTRP_ERR_DECRYPT;
    }
    if (st == OTRP_OK)
        st = otrp_buf_append(out, tmp, n);
    otrp__memzero(tmp, cap);
    free(tmp);
    return st;
}

otrp_status otrp__jose_aes256cbc_encrypt(const uint8_t key[32], const uint8_t iv[16],
                                         const void *plaintext, size_t len, otrp_buf *out)
{
    return aes256cbc(1, key, iv, plaintext, len, out);
}

otrp_status otrp__jose_aes256cbc_decrypt(const uint8_t key[32], const uint8_t iv[16],
                                         const void *ciphertext, size_t len, otrp_buf *out)
{
    return aes256cbc(0, key, iv, ciphertext, len, out);
}

/* ---- key management ---- */

static int is_key_mgmt(otrp__jose_alg alg)
{
    return alg == OTRP__JOSE_ALG_RSA1_5 || alg == OTRP__JOSE_ALG_RSA_OAEP ||
           alg == OTRP__JOSE_ALG_RSA_OAEP_256;
}

static psa_algorithm_t psa_kw_alg(otrp__jose_alg alg)
{
    return alg == OTRP__JOSE_ALG_RSA1_5     ? PSA_ALG_RSA_PKCS1V15_CRYPT
           : alg == OTRP__JOSE_ALG_RSA_OAEP ? PSA_ALG_RSA_OAEP(PSA_ALG_SHA_1)
                                            : PSA_ALG_RSA_OAEP(PSA_ALG_SHA_256);
}

static otrp_status wrap_cek(const otrp__jose_key *key, otrp__jose_alg alg, const uint8_t *cek,
                            size_t cek_len, uint8_t *out, size_t *out_len)
{
    otrp_status st = otrp__jose_lock();
    if (st != OTRP_OK)
        return st;
    mbedtls_svc_key_id_t id;
    st = otrp__jose_psa_key(key, alg, 0, &id);
    if (st == OTRP_OK) {
        psa_status_t ps = psa_asymmetric_encrypt(id, psa_kw_alg(alg), cek, cek_len, NULL, 0,
                                                 out, RSA_MAX_BYTES, out_len);
        st = otrp__jose_psa_status(ps);
    }
    otrp__jose_unlock();
    return st;
}

/*
 * Recover the CEK. Whatever happens, cek ends up holding cek_len bytes: the unwrapped
 * key when unwrapping worked and had the right length, otherwise random bytes chosen
 * before the RSA operation, selected without a branch (RFC 7516 11.5). The caller
 * learns nothing here: the tag check that follows fails for a random CEK.
 */
static otrp_status unwrap_cek(const otrp__jose_key *key, otrp__jose_alg alg,
                              const uint8_t *ek, size_t ek_len, uint8_t *cek, size_t cek_len)
{
    uint8_t fallback[MAX_CEK];
    uint8_t out[RSA_MAX_BYTES];
    size_t out_len = 0;
    otrp_status st = otrp__jose_lock();
    if (st != OTRP_OK)
        return st;
    psa_status_t ps = psa_generate_random(fallback, cek_len);
    if (ps != PSA_SUCCESS) {
        otrp__jose_unlock();
        return OTRP_ERR_RANDOM;
    }
    mbedtls_svc_key_id_t id;
    st = otrp__jose_psa_key(key, alg, 1, &id);
    if (st == OTRP_OK)
        ps = psa_asymmetric_decrypt(id, psa_kw_alg(alg), ek, ek_len, NULL, 0, out,
                                    sizeof(out), &out_len);
    otrp__jose_unlock();
    if (st != OTRP_OK)
        return st;
    unsigned good = (unsigned)(ps == PSA_SUCCESS) & (unsigned)(out_len == cek_len);
    uint8_t mask = (uint8_t)(0u - good); /* 0xff when good, else 0 */
    for (size_t i = 0; i < cek_len; i++)
        cek[i] = (uint8_t)((out[i] & mask) | (fallback[i] & (uint8_t)~mask));
    otrp__memzero(out, sizeof(out));
    otrp__memzero(fallback, sizeof(fallback));
    return OTRP_OK;
}

/* ---- encryption ---- */

struct jwe_parts {
    otrp_buf prot; /* base64url */
    otrp_buf ek;
    otrp_buf iv;
    otrp_buf ct;
    otrp_buf tag;
};

static void jwe_parts_free(struct jwe_parts *p)
{
    otrp_buf_free(&p->prot);
    otrp_buf_free(&p->ek);
    otrp_buf_free(&p->iv);
    otrp_buf_free(&p->ct);
    otrp_buf_free(&p->tag);
}

static otrp_status make_jwe(const void *plaintext, size_t len, const otrp__jose_key *key,
                            const otrp__jwe_enc_opts *opts, otrp__jose_alg *alg_out,
                            struct jwe_parts *p, char *detail, size_t cap)
{
    otrp__jose_alg alg = opts != NULL && opts->alg != OTRP__JOSE_ALG_NONE ? opts->alg
                                                                          : OTRP__JOSE_ALG_RSA1_5;
    otrp__jose_enc enc = opts != NULL && opts->enc != OTRP__JOSE_ENC_NONE
                             ? opts->enc
                             : OTRP__JOSE_ENC_A128CBC_HS256;
    otrp__jose_form form = opts != NULL ? opts->form : OTRP__JOSE_FORM_DEFAULT;
    if (!is_key_mgmt(alg) || otrp__jwe_cek_len(enc) == 0) {
        otrp__set_detail(detail, cap, "JWE alg/enc not supported");
        return OTRP_ERR_JOSE_ALG;
    }
    if (key->kty != OTRP__JOSE_KTY_RSA) {
        otrp__set_detail(detail, cap, "JWE key management needs an RSA key");
        return OTRP_ERR_KEY_MISMATCH;
    }
    if (key->bits < OTRP__JOSE_RSA_MIN_BITS) {
        otrp__set_detail(detail, cap, "RSA key below %u bits", OTRP__JOSE_RSA_MIN_BITS);
        return OTRP_ERR_KEY;
    }
    if (len > OTRP__JOSE_MAX_TEXT)
        return OTRP_ERR_TOO_LARGE;
    size_t cek_len = otrp__jwe_cek_len(enc), iv_len = otrp__jwe_iv_len(enc);
    uint8_t cek[MAX_CEK], iv[AES_BLOCK];
    otrp_status st = OTRP_OK;
    if (opts != NULL && opts->cek != NULL) {
        if (opts->cek_len != cek_len)
            return OTRP_ERR_INVALID_ARG;
        memcpy(cek, opts->cek, cek_len);
    } else {
        st = otrp__jose_random(cek, cek_len);
    }
    if (st == OTRP_OK && opts != NULL && opts->iv != NULL) {
        if (opts->iv_len != iv_len)
            st = OTRP_ERR_INVALID_ARG;
        else
            memcpy(iv, opts->iv, iv_len);
    } else if (st == OTRP_OK) {
        st = otrp__jose_random(iv, iv_len);
    }
    char prot[80];
    int alg_prot = form == OTRP__JOSE_FORM_COMPACT || (opts != NULL && opts->alg_in_protected);
    if (alg_prot)
        otrp__set_detail(prot, sizeof(prot), "{\"alg\":\"%s\",\"enc\":\"%s\"}",
                         otrp__jose_alg_name(alg), otrp__jose_enc_name(enc));
    else
        otrp__set_detail(prot, sizeof(prot), "{\"enc\":\"%s\"}", otrp__jose_enc_name(enc));
    uint8_t ek[RSA_MAX_BYTES];
    size_t ek_len = 0;
    if (st == OTRP_OK)
        st = wrap_cek(key, alg, cek, cek_len, ek, &ek_len);
    if (st == OTRP_OK)
        st = otrp__jose_b64url_append(&p->prot, (const uint8_t *)prot, strlen(prot));
    uint8_t *ct = NULL;
    size_t ct_len = 0;
    uint8_t tag[64];
    if (st == OTRP_OK) {
        ct = malloc(len + AES_BLOCK);
        if (ct == NULL)
            st = OTRP_ERR_NO_MEMORY;
    }
    if (st == OTRP_OK)
        st = otrp__jwe_content_encrypt(enc, cek, cek_len, iv, iv_len, p->prot.data, p->prot.len,
                                       plaintext, len, ct, &ct_len, tag);
    if (st == OTRP_OK)
        st = otrp__jose_b64url_append(&p->ek, ek, ek_len);
    if (st == OTRP_OK)
        st = otrp__jose_b64url_append(&p->iv, iv, iv_len);
    if (st == OTRP_OK)
        st = otrp__jose_b64url_append(&p->ct, ct, ct_len);
    if (st == OTRP_OK)
        st = otrp__jose_b64url_append(&p->tag, tag, otrp__jwe_tag_len(enc));
    otrp__memzero(cek, sizeof(cek));
    free(ct);
    *alg_out = alg;
    return st;
}

static const char *text_of(const otrp_buf *b)
{
    return b->len != 0 ? (const char *)b->data : "";
}

otrp_status otrp__jwe_encrypt_json(const void *plaintext, size_t len,
                                   const otrp__jose_key *recipient,
                                   const otrp__jwe_enc_opts *opts, cJSON **out,
                                   char *detail, size_t detail_cap)
{
    if ((plaintext == NULL && len != 0) || recipient == NULL || out == NULL)
        return OTRP_ERR_INVALID_ARG;
    otrp__jose_form form = opts != NULL ? opts->form : OTRP__JOSE_FORM_DEFAULT;
    if (form == OTRP__JOSE_FORM_COMPACT) {
        otrp__set_detail(detail, detail_cap, "compact JWE is not JSON");
        return OTRP_ERR_JOSE_FORMAT;
    }
    if (form != OTRP__JOSE_FORM_DEFAULT && form != OTRP__JOSE_FORM_GENERAL &&
        form != OTRP__JOSE_FORM_FLATTENED)
        return OTRP_ERR_INVALID_ARG;
    struct jwe_parts p;
    memset(&p, 0, sizeof(p));
    otrp__jose_alg alg = OTRP__JOSE_ALG_NONE;
    otrp_status st = make_jwe(plaintext, len, recipient, opts, &alg, &p, detail, detail_cap);
    int alg_prot = opts != NULL && opts->alg_in_protected;
    cJSON *obj = NULL;
    if (st == OTRP_OK) {
        obj = cJSON_CreateObject();
        int ok = obj != NULL &&
                 cJSON_AddStringToObject(obj, "protected", text_of(&p.prot)) != NULL;
        cJSON *rcpt = obj;
        if (ok && form != OTRP__JOSE_FORM_FLATTENED) {
            cJSON *arr = cJSON_AddArrayToObject(obj, "recipients");
            rcpt = cJSON_CreateObject();
            ok = arr != NULL && rcpt != NULL;
            if (ok)
                cJSON_AddItemToArray(arr, rcpt);
            else
                cJSON_Delete(rcpt);
        }
        if (ok && !alg_prot) {
            cJSON *hdr = cJSON_AddObjectToObject(rcpt, "header");
            ok = hdr != NULL &&
                 cJSON_AddStringToObject(hdr, "alg", otrp__jose_alg_name(alg)) != NULL;
        }
        ok = ok && cJSON_AddStringToObject(rcpt, "encrypted_key", text_of(&p.ek)) != NULL &&
             cJSON_AddStringToObject(obj, "iv", text_of(&p.iv)) != NULL &&
             cJSON_AddStringToObject(obj, "ciphertext", text_of(&p.ct)) != NULL &&
             cJSON_AddStringToObject(obj, "tag", text_of(&p.tag)) != NULL;
        if (!ok) {
            cJSON_Delete(obj);
            st = OTRP_ERR_NO_MEMORY;
        }
    }
    jwe_parts_free(&p);
    if (st == OTRP_OK)
        *out = obj;
    return st;
}

otrp_status otrp__jwe_encrypt(const void *plaintext, size_t len,
                              const otrp__jose_key *recipient,
                              const otrp__jwe_enc_opts *opts, otrp_buf *out, char *detail,
                              size_t detail_cap)
{
    if ((plaintext == NULL && len != 0) || recipient == NULL || out == NULL)
        return OTRP_ERR_INVALID_ARG;
    otrp__jose_form form = opts != NULL ? opts->form : OTRP__JOSE_FORM_DEFAULT;
    if (form != OTRP__JOSE_FORM_COMPACT) {
        cJSON *obj = NULL;
        otrp_status st = otrp__jwe_encrypt_json(plaintext, len, recipient, opts, &obj, detail,
                                                detail_cap);
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
    struct jwe_parts p;
    memset(&p, 0, sizeof(p));
    otrp__jose_alg alg;
    otrp_status st = make_jwe(plaintext, len, recipient, opts, &alg, &p, detail, detail_cap);
    const otrp_buf *parts[5] = {&p.prot, &p.ek, &p.iv, &p.ct, &p.tag};
    for (int i = 0; i < 5 && st == OTRP_OK; i++) {
        if (i > 0)
            st = otrp_buf_append(out, ".", 1);
        if (st == OTRP_OK && parts[i]->len != 0)
            st = otrp_buf_append(out, parts[i]->data, parts[i]->len);
    }
    jwe_parts_free(&p);
    return st;
}

/* ---- decryption ---- */

/* The raw members of a received JWE (pointers into the text or the cJSON tree). */
struct jwe_in {
    const char *prot, *ek, *iv, *ct, *tag, *aad;
    size_t prot_len, ek_len, iv_len, ct_len, tag_len, aad_len;
    const cJSON *unprot;    /* shared unprotected header */
    const cJSON *rheader;   /* per-recipient header */
    otrp__jose_form form;
};

static otrp_status split_json(const cJSON *obj, struct jwe_in *in, char *detail, size_t cap)
{
    static const char *const GENERAL[] = {"protected", "unprotected", "recipients", "aad",
                                          "iv", "ciphertext", "tag", NULL};
    static const char *const FLAT[] = {"protected", "unprotected", "header", "encrypted_key",
                                       "aad", "iv", "ciphertext", "tag", NULL};
    static const char *const RCPT[] = {"header", "encrypted_key", NULL};
    const cJSON *rcpt = NULL;
    otrp_status st = otrp__jose_json_members(obj, "recipients", GENERAL, FLAT, RCPT, "JWE",
                                             &rcpt, &in->form, detail, cap);
    const struct {
        const cJSON *from;
        const char *name;
        int required;
        const char **s;
        size_t *len;
    } str[] = {
        {obj, "protected", 1, &in->prot, &in->prot_len},
        {rcpt, "encrypted_key", 1, &in->ek, &in->ek_len},
        {obj, "iv", 1, &in->iv, &in->iv_len},
        {obj, "ciphertext", 1, &in->ct, &in->ct_len},
        {obj, "tag", 1, &in->tag, &in->tag_len},
        {obj, "aad", 0, &in->aad, &in->aad_len},
    };
    for (size_t i = 0; i < sizeof(str) / sizeof(str[0]) && st == OTRP_OK; i++)
        st = otrp__jose_member_str(str[i].from, str[i].name, str[i].required, "JWE", str[i].s,
                                   str[i].len, detail, cap);
    if (st == OTRP_OK)
        st = otrp__jose_member_obj(obj, "unprotected", "JWE", &in->unprot, detail, cap);
    if (st == OTRP_OK)
        st = otrp__jose_member_obj(rcpt, "header", "JWE", &in->rheader, detail, cap);
    return st;
}

static otrp_status split_compact(const char *text, size_t len, struct jwe_in *in,
                                 char *detail, size_t cap)
{
    const char *part[5];
    size_t plen[5];
    otrp_status st = otrp__jose_split_compact(text, len, 5, "JWE", part, plen, detail, cap);
    if (st != OTRP_OK)
        return st;
    in->form = OTRP__JOSE_FORM_COMPACT;
    in->prot = part[0];
    in->prot_len = plen[0];
    in->ek = part[1];
    in->ek_len = plen[1];
    in->iv = part[2];
    in->iv_len = plen[2];
    in->ct = part[3];
    in->ct_len = plen[3];
    in->tag = part[4];
    in->tag_len = plen[4];
    return OTRP_OK;
}

static otrp_status decode_fixed(const char *b64, size_t len, const char *what, uint8_t *out,
                                size_t cap, size_t *out_len, char *detail, size_t dcap)
{
    if (len > otrp__b64_encoded_len(cap, OTRP__B64_URL)) {
        otrp__set_detail(detail, dcap, "JWE %s too long", what);
        return OTRP_ERR_JOSE_FORMAT;
    }
    /* decode through a scratch buffer: the decoder may want a few bytes of slack */
    uint8_t tmp[RSA_MAX_BYTES + 4];
    otrp_status st = otrp__b64_decode(b64, len, tmp, out_len, OTRP__B64_URL);
    if (st == OTRP_OK)
        memcpy(out, tmp, *out_len);
    if (st != OTRP_OK)
        otrp__set_detail(detail, dcap, "JWE %s is not base64url", what);
    return st;
}

static otrp_status jwe_headers(const struct jwe_in *in, unsigned flags, cJSON **prot_out,
                               otrp__jose_alg *alg, otrp__jose_enc *enc, char *detail,
                               size_t cap)
{
    cJSON *prot = NULL;
    otrp_status st = otrp__jose_parse_header(in->prot, in->prot_len, "JWE protected header",
                                             &prot, detail, cap);
    if (st != OTRP_OK)
        return st;
    *prot_out = prot;
    if (flags & OTRP__JOSE_F_PROFILE) {
        static const char *const PROT[] = {"enc", "alg", NULL};
        static const char *const RH[] = {"alg", NULL};
        if (in->unprot != NULL) {
            otrp__set_detail(detail, cap, "JWE shared unprotected header not allowed");
            return OTRP_ERR_JOSE_FORMAT;
        }
        st = otrp__jose_allowed_members(prot, PROT, "JWE protected header", detail, cap);
        if (st == OTRP_OK)
            st = otrp__jose_allowed_members(in->rheader, RH, "JWE recipient header", detail,
                                            cap);
        if (st != OTRP_OK)
            return st;
    }
    st = otrp__jose_disjoint(prot, in->unprot, in->rheader, detail, cap);
    if (st == OTRP_OK)
        st = otrp__jose_check_crit(prot, in->unprot, in->rheader, detail, cap);
    if (st != OTRP_OK)
        return st;
    if (otrp__jose_find(prot, in->unprot, in->rheader, "zip") != NULL) {
        otrp__set_detail(detail, cap, "JWE compression ('zip') not supported");
        return OTRP_ERR_JOSE_ALG;
    }
    const cJSON *e = otrp__json_member(prot, "enc");
    if (e == NULL) {
        otrp__set_detail(detail, cap, "'enc' must be in the JWE protected header");
        return otrp__jose_find(NULL, in->unprot, in->rheader, "enc") != NULL
                   ? OTRP_ERR_JOSE_FORMAT
                   : OTRP_ERR_JOSE_ALG;
    }
    *enc = cJSON_IsString(e) ? otrp__jose_enc_from_name(e->valuestring) : OTRP__JOSE_ENC_NONE;
    if (*enc == OTRP__JOSE_ENC_NONE) {
        otrp__set_detail(detail, cap, "JWE 'enc' not supported");
        return OTRP_ERR_JOSE_ALG;
    }
    const cJSON *a = otrp__jose_find(prot, in->unprot, in->rheader, "alg");
    *alg = a != NULL && cJSON_IsString(a) ? otrp__jose_alg_from_name(a->valuestring)
                                          : OTRP__JOSE_ALG_NONE;
    if (!is_key_mgmt(*alg)) {
        otrp__set_detail(detail, cap, "JWE 'alg' missing or not supported");
        return OTRP_ERR_JOSE_ALG;
    }
    return OTRP_OK;
}

static otrp_status decrypt_in(const struct jwe_in *in, const otrp__jose_key *key,
                              unsigned flags, otrp_buf *plaintext, otrp__jwe_info *info,
                              char *detail, size_t cap)
{
    cJSON *prot = NULL;
    otrp__jose_alg alg = OTRP__JOSE_ALG_NONE;
    otrp__jose_enc enc = OTRP__JOSE_ENC_NONE;
    otrp_status st = jwe_headers(in, flags, &prot, &alg, &enc, detail, cap);
    cJSON_Delete(prot);
    if (st != OTRP_OK)
        return st;
    if (key->kty != OTRP__JOSE_KTY_RSA || key->priv == NULL) {
        otrp__set_detail(detail, cap, "JWE %s needs an RSA private key",
                         otrp__jose_alg_name(alg));
        return OTRP_ERR_KEY_MISMATCH;
    }
    if (key->bits < OTRP__JOSE_RSA_MIN_BITS && (flags & OTRP__JOSE_F_ALLOW_WEAK_RSA) == 0) {
        otrp__set_detail(detail, cap, "RSA key below %u bits", OTRP__JOSE_RSA_MIN_BITS);
        return OTRP_ERR_KEY;
    }
    uint8_t ek[RSA_MAX_BYTES], iv[AES_BLOCK], tagbuf[64];
    size_t ek_len = 0, iv_len = 0, tag_len = 0;
    st = decode_fixed(in->ek, in->ek_len, "encrypted_key", ek, sizeof(ek), &ek_len, detail, cap);
    if (st == OTRP_OK)
        st = decode_fixed(in->iv, in->iv_len, "iv", iv, sizeof(iv), &iv_len, detail, cap);
    if (st == OTRP_OK)
        st = decode_fixed(in->tag, in->tag_len, "tag", tagbuf, sizeof(tagbuf), &tag_len, detail,
                          cap);
    if (st != OTRP_OK)
        return st;
    if (iv_len != otrp__jwe_iv_len(enc)) {
        otrp__set_detail(detail, cap, "JWE iv has the wrong length for %s",
                         otrp__jose_enc_name(enc));
        return OTRP_ERR_JOSE_FORMAT;
    }
    if (tag_len != otrp__jwe_tag_len(enc)) {
        otrp__set_detail(detail, cap, "JWE tag has the wrong length for %s",
                         otrp__jose_enc_name(enc));
        return OTRP_ERR_JOSE_FORMAT;
    }
    /* ciphertext || tag in one buffer (what AES-GCM wants) */
    size_t ct_max = otrp__b64_decoded_max(in->ct_len);
    uint8_t *ct = malloc(ct_max + tag_len);
    uint8_t *pt = malloc(ct_max + 1);
    otrp_buf aad = {0};
    size_t ct_len = 0, pt_len = 0;
    if (ct == NULL || pt == NULL)
        st = OTRP_ERR_NO_MEMORY;
    if (st == OTRP_OK) {
        st = otrp__b64_decode(in->ct, in->ct_len, ct, &ct_len, OTRP__B64_URL);
        if (st != OTRP_OK)
            otrp__set_detail(detail, cap, "JWE ciphertext is not base64url");
    }
    if (st == OTRP_OK && in->aad != NULL) {
        uint8_t *tmp = NULL;
        size_t tmp_len = 0;
        st = otrp__jose_b64url_dup(in->aad, in->aad_len, "JWE aad", &tmp, &tmp_len, detail, cap);
        free(tmp);
    }
    if (st == OTRP_OK) {
        memcpy(ct + ct_len, tagbuf, tag_len);
        /* AAD = ASCII(protected) or ASCII(protected "." aad) (RFC 7516 5.1 step 14) */
        st = otrp_buf_append(&aad, in->prot, in->prot_len);
        if (st == OTRP_OK && in->aad != NULL) {
            st = otrp_buf_append(&aad, ".", 1);
            if (st == OTRP_OK)
                st = otrp_buf_append(&aad, in->aad, in->aad_len);
        }
    }
    uint8_t cek[MAX_CEK];
    size_t cek_len = otrp__jwe_cek_len(enc);
    if (st == OTRP_OK)
        st = unwrap_cek(key, alg, ek, ek_len, cek, cek_len);
    if (st == OTRP_OK)
        st = otrp__jwe_content_decrypt(enc, cek, cek_len, iv, iv_len, aad.data, aad.len, ct,
                                       ct_len, ct + ct_len, tag_len, pt, &pt_len);
    otrp__memzero(cek, sizeof(cek));
    if (st == OTRP_ERR_DECRYPT)
        otrp__set_detail(detail, cap, "%s", DECRYPT_FAILED);
    if (st == OTRP_OK)
        st = otrp_buf_append(plaintext, pt, pt_len);
    if (st == OTRP_OK && info != NULL) {
        info->alg = alg;
        info->enc = enc;
        info->form = in->form;
    }
    if (pt != NULL) {
        otrp__memzero(pt, ct_max + 1);
        free(pt);
    }
    free(ct);
    otrp_buf_free(&aad);
    return st;
}

otrp_status otrp__jwe_decrypt_json(const cJSON *object, const otrp__jose_key *key,
                                   unsigned flags, otrp_buf *plaintext,
                                   otrp__jwe_info *info, char *detail, size_t detail_cap)
{
    if (object == NULL || key == NULL || plaintext == NULL)
        return OTRP_ERR_INVALID_ARG;
    struct jwe_in in;
    memset(&in, 0, sizeof(in));
    otrp_status st = split_json(object, &in, detail, detail_cap);
    if (st == OTRP_OK)
        st = decrypt_in(&in, key, flags, plaintext, info, detail, detail_cap);
    return st;
}

otrp_status otrp__jwe_decrypt(const char *text, size_t len, const otrp__jose_key *key,
                              unsigned flags, otrp_buf *plaintext, otrp__jwe_info *info,
                              char *detail, size_t detail_cap)
{
    if (text == NULL || key == NULL || plaintext == NULL)
        return OTRP_ERR_INVALID_ARG;
    if (len > OTRP__JOSE_MAX_TEXT) {
        otrp__set_detail(detail, detail_cap, "JWE larger than %u bytes", OTRP__JOSE_MAX_TEXT);
        return OTRP_ERR_TOO_LARGE;
    }
    if (otrp__jose_is_json(text, len)) {
        cJSON *obj = NULL;
        otrp_status st = otrp__json_parse(text, len, OTRP__JSON_MAX_DEPTH, &obj, detail,
                                          detail_cap);
        if (st != OTRP_OK)
            return st;
        st = otrp__jwe_decrypt_json(obj, key, flags, plaintext, info, detail, detail_cap);
        cJSON_Delete(obj);
        return st;
    }
    struct jwe_in in;
    memset(&in, 0, sizeof(in));
    otrp_status st = split_compact(text, len, &in, detail, detail_cap);
    if (st == OTRP_OK)
        st = decrypt_in(&in, key, flags, plaintext, info, detail, detail_cap);
    return st;
}
