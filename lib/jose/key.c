/* lib/jose keys: handles in PSA import format, PEM/DER/JWK import, export, signatures. */
#include "jose/internal.h"

#include <stdlib.h>
#include <string.h>

#include "util/base64.h"
#include "util/json_strict.h"
#include "util/mem.h"

/* Largest key/certificate file we read, and the scratch space for DER encodings of
 * one key (an RSA-4096 RSAPrivateKey is about 2.4 KB). */
#define MAX_KEY_INPUT (64u * 1024u)
#define KEY_DER_SCRATCH 8192u
#define RSA_WEAK_MIN_BITS 1024u
#define P256_POINT_LEN 65u
#define P256_SCALAR_LEN 32u

static const uint8_t OID_RSA_ENCRYPTION[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01};
static const uint8_t OID_EC_PUBLIC_KEY[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};
static const uint8_t OID_PRIME256V1[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};

/* ---- PSA slots ---- */

static psa_algorithm_t psa_alg_of(otrp__jose_alg alg, enum otrp__jose_use *use)
{
    switch (alg) {
    case OTRP__JOSE_ALG_RS256:
        *use = OTRP__USE_RS256;
        return PSA_ALG_RSA_PKCS1V15_SIGN(PSA_ALG_SHA_256);
    case OTRP__JOSE_ALG_ES256:
        *use = OTRP__USE_ES256;
        return PSA_ALG_ECDSA(PSA_ALG_SHA_256);
    case OTRP__JOSE_ALG_RSA1_5:
        *use = OTRP__USE_RSA1_5;
        return PSA_ALG_RSA_PKCS1V15_CRYPT;
    case OTRP__JOSE_ALG_RSA_OAEP:
        *use = OTRP__USE_RSA_OAEP;
        return PSA_ALG_RSA_OAEP(PSA_ALG_SHA_1);
    case OTRP__JOSE_ALG_RSA_OAEP_256:
        *use = OTRP__USE_RSA_OAEP_256;
        return PSA_ALG_RSA_OAEP(PSA_ALG_SHA_256);
    default:
        return 0;
    }
}

static psa_key_type_t psa_type_of(otrp__jose_kty kty, int private_part)
{
    if (kty == OTRP__JOSE_KTY_RSA)
        return private_part ? PSA_KEY_TYPE_RSA_KEY_PAIR : PSA_KEY_TYPE_RSA_PUBLIC_KEY;
    return private_part ? PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1)
                        : PSA_KEY_TYPE_ECC_PUBLIC_KEY(PSA_ECC_FAMILY_SECP_R1);
}

static psa_status_t import_for(otrp__jose_kty kty, const uint8_t *data, size_t len,
                               int private_part, psa_algorithm_t alg,
                               mbedtls_svc_key_id_t *id)
{
    psa_key_attributes_t attr = PSA_KEY_ATTRIBUTES_INIT;
    psa_key_usage_t usage;
    if (PSA_ALG_IS_SIGN(alg))
        usage = private_part ? (PSA_KEY_USAGE_SIGN_HASH | PSA_KEY_USAGE_VERIFY_HASH)
                             : PSA_KEY_USAGE_VERIFY_HASH;
    else
        usage = private_part ? (PSA_KEY_USAGE_ENCRYPT | PSA_KEY_USAGE_DECRYPT)
                             : PSA_KEY_USAGE_ENCRYPT;
    psa_set_key_type(&attr, psa_type_of(kty, private_part));
    psa_set_key_usage_flags(&attr, usage);
    psa_set_key_algorithm(&attr, alg);
    psa_status_t ps = psa_import_key(&attr, data, len, id);
    psa_reset_key_attributes(&attr);
    return ps;
}

/*
 * The PSA key cache. mbedTLS 2.28 has MBEDTLS_PSA_KEY_SLOT_COUNT (32) volatile key
 * slots for the whole process; a PSA key per loaded key for its lifetime ran out at
 * about 16 in-process mock TEEs. Now lib/jose holds at most OTRP__JOSE_PSA_CACHE of
 * them: a key used again soon (the common case: a TEE's own key, a TAM key) costs
 * nothing extra, and a key evicted costs one import (a DER parse; for a P-256 private
 * key also a scalar multiplication) on its next use. The rest of the slots stay free
 * for the transient symmetric keys (one at a time, under the lock) and for other PSA
 * users in the process. Guarded by the PSA lock.
 */
struct psa_cache_entry {
    uint64_t owner; /* the key's serial; 0: free */
    enum otrp__jose_use use;
    int private_part;
    mbedtls_svc_key_id_t id;
    uint64_t last_used;
};

static struct psa_cache_entry psa_cache[OTRP__JOSE_PSA_CACHE];
static uint64_t psa_cache_clock;
static uint64_t key_serials;

static void cache_drop(struct psa_cache_entry *e)
{
    (void)psa_destroy_key(e->id);
    memset(e, 0, sizeof(*e));
}

/* A free entry, else the least recently used one (emptied). */
static struct psa_cache_entry *cache_victim(void)
{
    struct psa_cache_entry *victim = &psa_cache[0];
    for (size_t i = 0; i < OTRP__JOSE_PSA_CACHE; i++) {
        if (psa_cache[i].owner == 0)
            return &psa_cache[i];
        if (psa_cache[i].last_used < victim->last_used)
            victim = &psa_cache[i];
    }
    cache_drop(victim);
    return victim;
}

static struct psa_cache_entry *cache_oldest_used(void)
{
    struct psa_cache_entry *oldest = NULL;
    for (size_t i = 0; i < OTRP__JOSE_PSA_CACHE; i++)
        if (psa_cache[i].owner != 0 &&
            (oldest == NULL || psa_cache[i].last_used < oldest->last_used))
            oldest = &psa_cache[i];
    return oldest;
}

otrp_status otrp__jose_psa_key(const otrp__jose_key *key, otrp__jose_alg alg, int private_op,
                               mbedtls_svc_key_id_t *id)
{
    enum otrp__jose_use use = OTRP__USE_COUNT;
    psa_algorithm_t palg = psa_alg_of(alg, &use);
    if (palg == 0)
        return OTRP_ERR_JOSE_ALG;
    if (private_op && key->priv == NULL)
        return OTRP_ERR_KEY_MISMATCH;
    int priv = private_op;
    for (size_t i = 0; i < OTRP__JOSE_PSA_CACHE; i++) {
        if (psa_cache[i].owner == key->serial && psa_cache[i].use == use &&
            psa_cache[i].private_part == priv) {
            psa_cache[i].last_used = ++psa_cache_clock;
            *id = psa_cache[i].id;
            return OTRP_OK;
        }
    }
    struct psa_cache_entry *e = cache_victim();
    psa_status_t ps;
    for (;;) {
        ps = import_for(key->kty, priv ? key->priv : key->pub,
                        priv ? key->priv_len : key->pub_len, priv, palg, &e->id);
        /* Slots taken by someone else: give up our least recently used ones first. */
        struct psa_cache_entry *old = ps == PSA_ERROR_INSUFFICIENT_MEMORY ? cache_oldest_used()
                                                                          : NULL;
        if (old == NULL)
            break;
        cache_drop(old);
    }
    if (ps != PSA_SUCCESS)
        return otrp__jose_psa_status(ps);
    e->owner = key->serial;
    e->use = use;
    e->private_part = priv;
    e->last_used = ++psa_cache_clock;
    *id = e->id;
    return OTRP_OK;
}

size_t otrp__jose_psa_cached(void)
{
    size_t n = 0;
    if (otrp__jose_lock() != OTRP_OK)
        return 0;
    for (size_t i = 0; i < OTRP__JOSE_PSA_CACHE; i++)
        n += psa_cache[i].owner != 0;
    otrp__jose_unlock();
    return n;
}

/* ---- handles ---- */

void otrp__jose_key_free(otrp__jose_key *key)
{
    if (key == NULL)
        return;
    if (key->serial != 0 && otrp__jose_lock() == OTRP_OK) {
        for (size_t i = 0; i < OTRP__JOSE_PSA_CACHE; i++)
            if (psa_cache[i].owner == key->serial)
                cache_drop(&psa_cache[i]);
        otrp__jose_unlock();
    }
    if (key->priv != NULL) {
        otrp__memzero(key->priv, key->priv_len);
        free(key->priv);
    }
    free(key->pub);
    otrp__memzero(key, sizeof(*key));
    free(key);
}

static uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
    uint8_t *d = malloc(n == 0 ? 1 : n);
    if (d != NULL && n != 0)
        memcpy(d, p, n);
    return d;
}

otrp_status otrp__jose_key_make(otrp__jose_kty kty, const uint8_t *priv, size_t priv_len,
                                const uint8_t *pub, size_t pub_len, otrp__jose_key **out,
                                char *detail, size_t detail_cap)
{
    if (kty != OTRP__JOSE_KTY_RSA && kty != OTRP__JOSE_KTY_EC_P256)
        return OTRP_ERR_KEY;
    if (priv == NULL && pub == NULL)
        return OTRP_ERR_INVALID_ARG;
    otrp__jose_key *key = calloc(1, sizeof(*key));
    if (key == NULL)
        return OTRP_ERR_NO_MEMORY;
    key->kty = kty;
    if (priv != NULL) {
        key->priv = dup_bytes(priv, priv_len);
        key->priv_len = priv_len;
    } else {
        key->pub = dup_bytes(pub, pub_len);
        key->pub_len = pub_len;
    }
    if ((priv != NULL && key->priv == NULL) || (priv == NULL && key->pub == NULL)) {
        otrp__jose_key_free(key);
        return OTRP_ERR_NO_MEMORY;
    }

    /* Import once: this validates the encoding (on-curve points, RSA consistency),
     * tells the size, and yields the canonical public encoding. */
    otrp_status st = otrp__jose_lock();
    if (st != OTRP_OK) {
        otrp__jose_key_free(key);
        return st;
    }
    otrp__jose_alg first = kty == OTRP__JOSE_KTY_RSA ? OTRP__JOSE_ALG_RS256
                                                     : OTRP__JOSE_ALG_ES256;
    mbedtls_svc_key_id_t id;
    uint8_t *canon = NULL;
    size_t canon_len = 0;
    key->serial = ++key_serials;
    st = otrp__jose_psa_key(key, first, priv != NULL, &id);
    if (st == OTRP_OK) {
        psa_key_attributes_t attr = PSA_KEY_ATTRIBUTES_INIT;
        if (psa_get_key_attributes(id, &attr) == PSA_SUCCESS)
            key->bits = (unsigned)psa_get_key_bits(&attr);
        psa_reset_key_attributes(&attr);
        canon = malloc(KEY_DER_SCRATCH);
        if (canon == NULL)
            st = OTRP_ERR_NO_MEMORY;
        else if (psa_export_public_key(id, canon, KEY_DER_SCRATCH, &canon_len) != PSA_SUCCESS)
            st = OTRP_ERR_KEY;
    } else if (st != OTRP_ERR_NO_MEMORY) {
        st = OTRP_ERR_KEY;
    }
    otrp__jose_unlock();
    if (st == OTRP_OK) {
        if (pub != NULL && priv != NULL &&
            (pub_len != canon_len || memcmp(pub, canon, canon_len) != 0)) {
            otrp__set_detail(detail, detail_cap, "public key does not match private key");
            st = OTRP_ERR_KEY;
        } else {
            free(key->pub);
            key->pub = canon;
            key->pub_len = canon_len;
            canon = NULL;
        }
    } else if (st == OTRP_ERR_KEY) {
        otrp__set_detail(detail, detail_cap, "key material rejected by the crypto library");
    }
    free(canon);
    if (st == OTRP_OK) {
        if (kty == OTRP__JOSE_KTY_RSA &&
            (key->bits < RSA_WEAK_MIN_BITS || key->bits > OTRP__JOSE_RSA_MAX_BITS)) {
            otrp__set_detail(detail, detail_cap, "RSA key of %u bits not supported",
                             key->bits);
            st = OTRP_ERR_KEY;
        } else if (kty == OTRP__JOSE_KTY_EC_P256 && key->bits != 256) {
            st = OTRP_ERR_KEY;
        }
    }
    if (st != OTRP_OK) {
        otrp__jose_key_free(key);
        return st;
    }
    *out = key;
    return OTRP_OK;
}

otrp__jose_kty otrp__jose_key_type(const otrp__jose_key *key)
{
    return key == NULL ? OTRP__JOSE_KTY_NONE : key->kty;
}

unsigned otrp__jose_key_bits(const otrp__jose_key *key)
{
    return key == NULL ? 0 : key->bits;
}

int otrp__jose_key_has_private(const otrp__jose_key *key)
{
    return key != NULL && key->priv != NULL;
}

int otrp__jose_key_public_equal(const otrp__jose_key *a, const otrp__jose_key *b)
{
    return a != NULL && b != NULL && a->kty == b->kty && a->pub_len == b->pub_len &&
           memcmp(a->pub, b->pub, a->pub_len) == 0;
}

otrp_status otrp__jose_key_public_copy(const otrp__jose_key *key, otrp__jose_key **out)
{
    if (key == NULL || out == NULL)
        return OTRP_ERR_INVALID_ARG;
    return otrp__jose_key_make(key->kty, NULL, 0, key->pub, key->pub_len, out, NULL, 0);
}

/* ---- from mbedTLS pk contexts ---- */

/* The 32-byte private scalar of a SEC1 ECPrivateKey. */
static otrp_status sec1_scalar(const uint8_t *der, size_t len, uint8_t d[32])
{
    unsigned char *p = (unsigned char *)(uintptr_t)der;
    const unsigned char *end = der + len;
    size_t n;
    int version;
    if (mbedtls_asn1_get_tag(&p, end, &n, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0 ||
        mbedtls_asn1_get_int(&p, end, &version) != 0 || version != 1 ||
        mbedtls_asn1_get_tag(&p, end, &n, MBEDTLS_ASN1_OCTET_STRING) != 0 || n == 0 ||
        n > P256_SCALAR_LEN)
        return OTRP_ERR_KEY;
    memset(d, 0, P256_SCALAR_LEN);
    memcpy(d + (P256_SCALAR_LEN - n), p, n);
    return OTRP_OK;
}

otrp_status otrp__jose_key_from_pk(const mbedtls_pk_context *pk, int is_private,
                                   otrp__jose_key **out, char *detail, size_t detail_cap)
{
    otrp__jose_kty kty;
    mbedtls_pk_type_t type = mbedtls_pk_get_type(pk);
    if (type == MBEDTLS_PK_RSA) {
        kty = OTRP__JOSE_KTY_RSA;
    } else if (type == MBEDTLS_PK_ECKEY || type == MBEDTLS_PK_ECDSA) {
        if (otrp__compat_pk_ec_group(pk) != MBEDTLS_ECP_DP_SECP256R1) {
            otrp__set_detail(detail, detail_cap, "EC curve not supported (only P-256)");
            return OTRP_ERR_KEY;
        }
        kty = OTRP__JOSE_KTY_EC_P256;
    } else {
        otrp__set_detail(detail, detail_cap, "key type not supported (RSA or EC P-256)");
        return OTRP_ERR_KEY;
    }
    uint8_t *scratch = malloc(KEY_DER_SCRATCH);
    if (scratch == NULL)
        return OTRP_ERR_NO_MEMORY;
    otrp_status st;
    mbedtls_pk_context *mpk = (mbedtls_pk_context *)(uintptr_t)pk; /* 2.28 API is not const */
    if (is_private) {
        int n = mbedtls_pk_write_key_der(mpk, scratch, KEY_DER_SCRATCH);
        if (n <= 0) {
            st = OTRP_ERR_KEY;
        } else if (kty == OTRP__JOSE_KTY_RSA) {
            st = otrp__jose_key_make(kty, scratch + KEY_DER_SCRATCH - n, (size_t)n, NULL, 0,
                                     out, detail, detail_cap);
        } else {
            uint8_t d[P256_SCALAR_LEN];
            st = sec1_scalar(scratch + KEY_DER_SCRATCH - n, (size_t)n, d);
            if (st == OTRP_OK)
                st = otrp__jose_key_make(kty, d, sizeof(d), NULL, 0, out, detail,
                                         detail_cap);
            otrp__memzero(d, sizeof(d));
        }
    } else {
        unsigned char *p = scratch + KEY_DER_SCRATCH;
        int n = mbedtls_pk_write_pubkey(&p, scratch, mpk);
        if (n <= 0)
            st = OTRP_ERR_KEY;
        else
            st = otrp__jose_key_make(kty, NULL, 0, p, (size_t)n, out, detail, detail_cap);
    }
    otrp__memzero(scratch, KEY_DER_SCRATCH);
    free(scratch);
    return st;
}

otrp_status otrp__jose_key_to_pk(const otrp__jose_key *key, mbedtls_pk_context *pk)
{
    otrp_buf der = {0};
    otrp_status st = key->priv != NULL ? otrp__jose_key_pkcs8(key, &der)
                                       : otrp__jose_key_spki(key, &der);
    if (st == OTRP_OK) {
        int ret = key->priv != NULL ? otrp__compat_pk_parse_key(pk, der.data, der.len)
                                    : mbedtls_pk_parse_public_key(pk, der.data, der.len);
        if (ret != 0)
            st = OTRP_ERR_KEY;
    }
    otrp_buf_free(&der);
    return st;
}

/* ---- PEM / DER loading ---- */

static int find_label(const uint8_t *data, size_t len, const char *label)
{
    size_t n = strlen(label);
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(data + i, label, n) == 0)
            return 1;
    return 0;
}

otrp_status otrp__jose_key_load(const uint8_t *data, size_t len, otrp__jose_key **out,
                                char *detail, size_t detail_cap)
{
    if (data == NULL || out == NULL)
        return OTRP_ERR_INVALID_ARG;
    if (len > MAX_KEY_INPUT)
        return OTRP_ERR_TOO_LARGE;
    if (len == 0) {
        otrp__set_detail(detail, detail_cap, "empty key input");
        return OTRP_ERR_KEY;
    }
    /* mbedTLS wants PEM NUL-terminated with the NUL counted. */
    uint8_t *buf = malloc(len + 1);
    if (buf == NULL)
        return OTRP_ERR_NO_MEMORY;
    memcpy(buf, data, len);
    buf[len] = 0;
    int pem = find_label(data, len, "-----BEGIN ");
    size_t blen = pem ? len + 1 : len;

    mbedtls_pk_context pk;
    mbedtls_x509_crt crt;
    mbedtls_pk_init(&pk);
    mbedtls_x509_crt_init(&crt);
    otrp_status st = otrp__jose_lock();
    int kind = 0; /* 1 private, 2 public, 3 certificate */
    if (st == OTRP_OK) {
        int is_cert_pem = pem && find_label(data, len, "-----BEGIN CERTIFICATE-----");
        if (is_cert_pem) {
            if (mbedtls_x509_crt_parse(&crt, buf, blen) >= 0 && crt.raw.len != 0)
                kind = 3;
            else
                st = OTRP_ERR_CERT_PARSE;
        } else if (otrp__compat_pk_parse_key(&pk, buf, blen) == 0) {
            kind = 1;
        } else {
            mbedtls_pk_free(&pk);
            mbedtls_pk_init(&pk);
            if (mbedtls_pk_parse_public_key(&pk, buf, blen) == 0)
                kind = 2;
            else if (!pem && mbedtls_x509_crt_parse_der(&crt, buf, len) == 0)
                kind = 3;
        }
        otrp__jose_unlock();
    }
    otrp__memzero(buf, len);
    free(buf);
    if (st == OTRP_OK && kind == 0) {
        otrp__set_detail(detail, detail_cap,
                         "not a PKCS#8/PKCS#1/SEC1 private key, SPKI or certificate");
        st = OTRP_ERR_KEY;
    } else if (st == OTRP_ERR_CERT_PARSE) {
        otrp__set_detail(detail, detail_cap, "certificate does not parse");
    }
    if (st == OTRP_OK)
        st = otrp__jose_key_from_pk(kind == 3 ? &crt.pk : &pk, kind == 1, out, detail,
                                    detail_cap);
    mbedtls_pk_free(&pk);
    mbedtls_x509_crt_free(&crt);
    return st;
}

/* ---- encodings ---- */

static otrp_status algorithm_identifier(const otrp__jose_key *key, otrp_buf *out)
{
    otrp_buf alg = {0};
    otrp_status st;
    if (key->kty == OTRP__JOSE_KTY_RSA) {
        st = otrp__der_tlv(&alg, 0x06, OID_RSA_ENCRYPTION, sizeof(OID_RSA_ENCRYPTION));
        if (st == OTRP_OK)
            st = otrp__der_tlv(&alg, 0x05, NULL, 0);
    } else {
        st = otrp__der_tlv(&alg, 0x06, OID_EC_PUBLIC_KEY, sizeof(OID_EC_PUBLIC_KEY));
        if (st == OTRP_OK)
            st = otrp__der_tlv(&alg, 0x06, OID_PRIME256V1, sizeof(OID_PRIME256V1));
    }
    if (st == OTRP_OK)
        st = otrp__der_tlv(out, 0x30, alg.data, alg.len);
    otrp_buf_free(&alg);
    return st;
}

static otrp_status bit_string(otrp_buf *out, const uint8_t *data, size_t len)
{
    otrp_buf bits = {0};
    otrp_status st = otrp_buf_append(&bits, "\0", 1);
    if (st == OTRP_OK)
        st = otrp_buf_append(&bits, data, len);
    if (st == OTRP_OK)
        st = otrp__der_tlv(out, 0x03, bits.data, bits.len);
    otrp_buf_free(&bits);
    return st;
}

otrp_status otrp__jose_key_spki(const otrp__jose_key *key, otrp_buf *out)
{
    otrp_buf body = {0};
    otrp_status st = algorithm_identifier(key, &body);
    if (st == OTRP_OK)
        st = bit_string(&body, key->pub, key->pub_len);
    if (st == OTRP_OK)
        st = otrp__der_tlv(out, 0x30, body.data, body.len);
    otrp_buf_free(&body);
    return st;
}

otrp_status otrp__jose_key_pkcs8(const otrp__jose_key *key, otrp_buf *out)
{
    if (key->priv == NULL)
        return OTRP_ERR_KEY;
    static const uint8_t zero = 0, one = 1;
    otrp_buf body = {0}, inner = {0}, sec1 = {0}, pubtag = {0};
    otrp_status st = otrp__der_tlv(&body, 0x02, &zero, 1);
    if (st == OTRP_OK)
        st = algorithm_identifier(key, &body);
    if (st == OTRP_OK && key->kty == OTRP__JOSE_KTY_RSA) {
        st = otrp__der_tlv(&body, 0x04, key->priv, key->priv_len);
    } else if (st == OTRP_OK) {
        st = otrp__der_tlv(&inner, 0x02, &one, 1);
        if (st == OTRP_OK)
            st = otrp__der_tlv(&inner, 0x04, key->priv, key->priv_len);
        if (st == OTRP_OK)
            st = bit_string(&pubtag, key->pub, key->pub_len);
        if (st == OTRP_OK)
            st = otrp__der_tlv(&inner, 0xa1, pubtag.data, pubtag.len);
        if (st == OTRP_OK)
            st = otrp__der_tlv(&sec1, 0x30, inner.data, inner.len);
        if (st == OTRP_OK)
            st = otrp__der_tlv(&body, 0x04, sec1.data, sec1.len);
    }
    if (st == OTRP_OK)
        st = otrp__der_tlv(out, 0x30, body.data, body.len);
    otrp_buf_free(&body);
    otrp_buf_free(&inner);
    otrp_buf_free(&sec1);
    otrp_buf_free(&pubtag);
    return st;
}

otrp_status otrp__jose_key_export_spki_der(const otrp__jose_key *key, otrp_buf *out)
{
    if (key == NULL || out == NULL)
        return OTRP_ERR_INVALID_ARG;
    return otrp__jose_key_spki(key, out);
}

otrp_status otrp__jose_key_export_private_pem(const otrp__jose_key *key, otrp_buf *out)
{
    if (key == NULL || out == NULL)
        return OTRP_ERR_INVALID_ARG;
    if (key->priv == NULL)
        return OTRP_ERR_KEY;
    otrp_buf der = {0};
    otrp_status st = otrp__jose_key_pkcs8(key, &der);
    if (st == OTRP_OK)
        st = otrp__jose_der_to_pem(der.data, der.len, "PRIVATE KEY", out);
    otrp_buf_free(&der);
    return st;
}

static otrp_status add_b64url(cJSON *obj, const char *name, const uint8_t *data, size_t len)
{
    otrp_buf tmp = {0};
    otrp_status st = otrp__jose_b64url_append(&tmp, data, len);
    if (st == OTRP_OK && cJSON_AddStringToObject(obj, name, tmp.len ? (char *)tmp.data : "") == NULL)
        st = OTRP_ERR_NO_MEMORY;
    otrp_buf_free(&tmp);
    return st;
}

otrp_status otrp__jose_key_export_public_jwk(const otrp__jose_key *key, cJSON **out)
{
    if (key == NULL || out == NULL)
        return OTRP_ERR_INVALID_ARG;
    cJSON *jwk = cJSON_CreateObject();
    if (jwk == NULL)
        return OTRP_ERR_NO_MEMORY;
    otrp_status st = OTRP_OK;
    if (key->kty == OTRP__JOSE_KTY_RSA) {
        unsigned char *p = key->pub;
        const unsigned char *end = key->pub + key->pub_len;
        size_t n_len, seq;
        if (cJSON_AddStringToObject(jwk, "kty", "RSA") == NULL)
            st = OTRP_ERR_NO_MEMORY;
        else if (mbedtls_asn1_get_tag(&p, end, &seq, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0 ||
                 mbedtls_asn1_get_tag(&p, end, &n_len, MBEDTLS_ASN1_INTEGER) != 0)
            st = OTRP_ERR_KEY;
        if (st == OTRP_OK) {
            const uint8_t *n = p;
            p += n_len;
            size_t e_len;
            if (mbedtls_asn1_get_tag(&p, end, &e_len, MBEDTLS_ASN1_INTEGER) != 0)
                st = OTRP_ERR_KEY;
            while (st == OTRP_OK && n_len > 1 && n[0] == 0) {
                n++;
                n_len--;
            }
            const uint8_t *e = p;
            while (st == OTRP_OK && e_len > 1 && e[0] == 0) {
                e++;
                e_len--;
            }
            if (st == OTRP_OK)
                st = add_b64url(jwk, "n", n, n_len);
            if (st == OTRP_OK)
                st = add_b64url(jwk, "e", e, e_len);
        }
    } else {
        if (cJSON_AddStringToObject(jwk, "kty", "EC") == NULL ||
            cJSON_AddStringToObject(jwk, "crv", "P-256") == NULL)
            st = OTRP_ERR_NO_MEMORY;
        if (st == OTRP_OK)
            st = add_b64url(jwk, "x", key->pub + 1, P256_SCALAR_LEN);
        if (st == OTRP_OK)
            st = add_b64url(jwk, "y", key->pub + 1 + P256_SCALAR_LEN, P256_SCALAR_LEN);
    }
    if (st != OTRP_OK) {
        cJSON_Delete(jwk);
        return st;
    }
    *out = jwk;
    return OTRP_OK;
}

otrp_status otrp__jose_key_export_public_jwk_text(const otrp__jose_key *key, otrp_buf *out)
{
    if (out == NULL)
        return OTRP_ERR_INVALID_ARG;
    cJSON *jwk = NULL;
    otrp_status st = otrp__jose_key_export_public_jwk(key, &jwk);
    if (st != OTRP_OK)
        return st;
    char *text = cJSON_PrintUnformatted(jwk);
    cJSON_Delete(jwk);
    if (text == NULL)
        return OTRP_ERR_NO_MEMORY;
    st = otrp_buf_append_str(out, text);
    cJSON_free(text);
    return st;
}

/* ---- JWK import ---- */

/* JWK members are at most an RSA-4096 modulus: 512 bytes, 683 base64url characters. */
#define JWK_MEMBER_MAX_B64 700u

struct jwk_member {
    uint8_t *data;
    size_t len;
};

static void jwk_member_free(struct jwk_member *m)
{
    if (m->data != NULL) {
        otrp__memzero(m->data, m->len);
        free(m->data);
    }
    m->data = NULL;
    m->len = 0;
}

/* Decode member name; absent is OK (data stays NULL) unless required. */
static otrp_status jwk_get(const cJSON *jwk, const char *name, int required,
                           struct jwk_member *m, char *detail, size_t cap)
{
    const cJSON *item = otrp__json_member(jwk, name);
    if (item == NULL) {
        if (!required)
            return OTRP_OK;
        otrp__set_detail(detail, cap, "JWK member '%s' missing", name);
        return OTRP_ERR_KEY;
    }
    if (!cJSON_IsString(item) || item->valuestring == NULL) {
        otrp__set_detail(detail, cap, "JWK member '%s' is not a string", name);
        return OTRP_ERR_KEY;
    }
    size_t len = strlen(item->valuestring);
    if (len == 0 || len > JWK_MEMBER_MAX_B64) {
        otrp__set_detail(detail, cap, "JWK member '%s' has a bad length", name);
        return OTRP_ERR_KEY;
    }
    char what[48];
    otrp__set_detail(what, sizeof(what), "JWK member '%s'", name);
    return otrp__jose_b64url_dup(item->valuestring, len, what, &m->data, &m->len, detail,
                                 cap);
}

static otrp_status jwk_rsa(const cJSON *jwk, otrp__jose_key **out, char *detail, size_t cap)
{
    enum { N, E, D, P, Q, COUNT };
    static const char *const names[COUNT] = {"n", "e", "d", "p", "q"};
    struct jwk_member m[COUNT];
    memset(m, 0, sizeof(m));
    otrp_status st = OTRP_OK;
    for (int i = 0; i < COUNT && st == OTRP_OK; i++)
        st = jwk_get(jwk, names[i], i <= E, &m[i], detail, cap);
    if (st == OTRP_OK && (m[P].data == NULL) != (m[Q].data == NULL)) {
        otrp__set_detail(detail, cap, "JWK has only one of 'p' and 'q'");
        st = OTRP_ERR_KEY;
    }
    if (st == OTRP_OK && m[P].data != NULL && m[D].data == NULL) {
        otrp__set_detail(detail, cap, "JWK has primes but no 'd'");
        st = OTRP_ERR_KEY;
    }
    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    if (st == OTRP_OK) {
        int priv = m[D].data != NULL;
        int ret = mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA));
        mbedtls_rsa_context *rsa = mbedtls_pk_rsa(pk);
        if (ret == 0)
            ret = mbedtls_rsa_import_raw(rsa, m[N].data, m[N].len, m[P].data, m[P].len,
                                         m[Q].data, m[Q].len, m[D].data, m[D].len,
                                         m[E].data, m[E].len);
        if (ret == 0)
            ret = mbedtls_rsa_complete(rsa);
        if (ret == 0)
            ret = priv ? mbedtls_rsa_check_privkey(rsa) : mbedtls_rsa_check_pubkey(rsa);
        if (ret != 0) {
            otrp__set_detail(detail, cap, "JWK RSA parameters are inconsistent");
            st = OTRP_ERR_KEY;
        } else {
            st = otrp__jose_key_from_pk(&pk, priv, out, detail, cap);
        }
    }
    mbedtls_pk_free(&pk);
    for (int i = 0; i < COUNT; i++)
        jwk_member_free(&m[i]);
    return st;
}

static otrp_status jwk_ec(const cJSON *jwk, otrp__jose_key **out, char *detail, size_t cap)
{
    const char *crv = otrp__json_string(jwk, "crv");
    if (crv == NULL || strcmp(crv, "P-256") != 0) {
        otrp__set_detail(detail, cap, "JWK curve not supported (only P-256)");
        return OTRP_ERR_KEY;
    }
    struct jwk_member x = {0}, y = {0}, d = {0};
    otrp_status st = jwk_get(jwk, "x", 1, &x, detail, cap);
    if (st == OTRP_OK)
        st = jwk_get(jwk, "y", 1, &y, detail, cap);
    if (st == OTRP_OK)
        st = jwk_get(jwk, "d", 0, &d, detail, cap);
    if (st == OTRP_OK && (x.len != P256_SCALAR_LEN || y.len != P256_SCALAR_LEN ||
                          (d.data != NULL && d.len != P256_SCALAR_LEN))) {
        otrp__set_detail(detail, cap, "JWK P-256 coordinates must be 32 bytes");
        st = OTRP_ERR_KEY;
    }
    if (st == OTRP_OK) {
        uint8_t point[P256_POINT_LEN];
        point[0] = 0x04;
        memcpy(point + 1, x.data, P256_SCALAR_LEN);
        memcpy(point + 1 + P256_SCALAR_LEN, y.data, P256_SCALAR_LEN);
        st = otrp__jose_key_make(OTRP__JOSE_KTY_EC_P256, d.data, d.len, point, sizeof(point),
                                 out, detail, cap);
    }
    jwk_member_free(&x);
    jwk_member_free(&y);
    jwk_member_free(&d);
    return st;
}

otrp_status otrp__jose_key_from_jwk_json(const cJSON *jwk, otrp__jose_key **out,
                                         char *detail, size_t detail_cap)
{
    if (jwk == NULL || out == NULL)
        return OTRP_ERR_INVALID_ARG;
    if (!cJSON_IsObject(jwk)) {
        otrp__set_detail(detail, detail_cap, "JWK is not a JSON object");
        return OTRP_ERR_KEY;
    }
    otrp_status st = otrp__json_check_tree(jwk, OTRP__JSON_MAX_DEPTH, detail, detail_cap);
    if (st != OTRP_OK)
        return st;
    const char *kty = otrp__json_string(jwk, "kty");
    if (kty != NULL && strcmp(kty, "RSA") == 0)
        return jwk_rsa(jwk, out, detail, detail_cap);
    if (kty != NULL && strcmp(kty, "EC") == 0)
        return jwk_ec(jwk, out, detail, detail_cap);
    otrp__set_detail(detail, detail_cap, "JWK kty missing or not supported (RSA, EC)");
    return OTRP_ERR_KEY;
}

otrp_status otrp__jose_key_from_jwk(const char *json, size_t len, otrp__jose_key **out,
                                    char *detail, size_t detail_cap)
{
    if (json == NULL || out == NULL)
        return OTRP_ERR_INVALID_ARG;
    if (len > MAX_KEY_INPUT)
        return OTRP_ERR_TOO_LARGE;
    cJSON *jwk = NULL;
    otrp_status st = otrp__json_parse(json, len, OTRP__JSON_MAX_DEPTH, &jwk, detail, detail_cap);
    if (st != OTRP_OK)
        return st;
    st = otrp__jose_key_from_jwk_json(jwk, out, detail, detail_cap);
    /* private members live in the tree's strings: wipe them */
    for (cJSON *it = jwk->child; it != NULL; it = it->next)
        if (cJSON_IsString(it) && it->valuestring != NULL)
            otrp__memzero(it->valuestring, strlen(it->valuestring));
    cJSON_Delete(jwk);
    return st;
}

/* ---- generation ---- */

otrp_status otrp__jose_key_generate(otrp__jose_kty kty, unsigned bits,
                                    otrp__jose_key **out, char *detail, size_t detail_cap)
{
    if (out == NULL)
        return OTRP_ERR_INVALID_ARG;
    psa_key_attributes_t attr = PSA_KEY_ATTRIBUTES_INIT;
    if (kty == OTRP__JOSE_KTY_RSA) {
        if (bits < OTRP__JOSE_RSA_MIN_BITS || bits > OTRP__JOSE_RSA_MAX_BITS || bits % 8 != 0) {
            otrp__set_detail(detail, detail_cap, "RSA size must be 2048..4096 bits");
            return OTRP_ERR_KEY;
        }
        psa_set_key_type(&attr, PSA_KEY_TYPE_RSA_KEY_PAIR);
        psa_set_key_bits(&attr, bits);
    } else if (kty == OTRP__JOSE_KTY_EC_P256) {
        psa_set_key_type(&attr, PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1));
        psa_set_key_bits(&attr, 256);
    } else {
        return OTRP_ERR_KEY;
    }
    psa_set_key_usage_flags(&attr, PSA_KEY_USAGE_EXPORT);
    uint8_t *der = malloc(KEY_DER_SCRATCH);
    if (der == NULL)
        return OTRP_ERR_NO_MEMORY;
    size_t len = 0;
    otrp_status st = otrp__jose_lock();
    if (st == OTRP_OK) {
        mbedtls_svc_key_id_t id = MBEDTLS_SVC_KEY_ID_INIT;
        psa_status_t ps = psa_generate_key(&attr, &id);
        if (ps == PSA_SUCCESS) {
            ps = psa_export_key(id, der, KEY_DER_SCRATCH, &len);
            (void)psa_destroy_key(id);
        }
        otrp__jose_unlock();
        if (ps != PSA_SUCCESS) {
            otrp__set_detail(detail, detail_cap, "key generation failed");
            st = ps == PSA_ERROR_INSUFFICIENT_ENTROPY ? OTRP_ERR_RANDOM : OTRP_ERR_CRYPTO;
        }
    }
    psa_reset_key_attributes(&attr);
    if (st == OTRP_OK)
        st = otrp__jose_key_make(kty, der, len, NULL, 0, out, detail, detail_cap);
    otrp__memzero(der, KEY_DER_SCRATCH);
    free(der);
    return st;
}

/* ---- signatures ---- */

otrp_status otrp__jose_sha256_parts(const void *const *parts, const size_t *lens, size_t n,
                                    uint8_t out[32])
{
    otrp_status st = otrp__jose_lock();
    if (st != OTRP_OK)
        return st;
    psa_hash_operation_t op = PSA_HASH_OPERATION_INIT;
    psa_status_t ps = psa_hash_setup(&op, PSA_ALG_SHA_256);
    for (size_t i = 0; i < n && ps == PSA_SUCCESS; i++)
        ps = psa_hash_update(&op, parts[i], lens[i]);
    size_t got = 0;
    if (ps == PSA_SUCCESS)
        ps = psa_hash_finish(&op, out, 32, &got);
    if (ps != PSA_SUCCESS)
        (void)psa_hash_abort(&op);
    otrp__jose_unlock();
    return otrp__jose_psa_status(ps);
}

static otrp_status check_sig_alg(const otrp__jose_key *key, otrp__jose_alg alg)
{
    if (alg != OTRP__JOSE_ALG_RS256 && alg != OTRP__JOSE_ALG_ES256)
        return OTRP_ERR_JOSE_ALG;
    if ((alg == OTRP__JOSE_ALG_RS256) != (key->kty == OTRP__JOSE_KTY_RSA))
        return OTRP_ERR_KEY_MISMATCH;
    return OTRP_OK;
}

otrp_status otrp__jose_sign_digest(const otrp__jose_key *key, otrp__jose_alg alg,
                                   const uint8_t digest[32], otrp_buf *sig)
{
    otrp_status st = check_sig_alg(key, alg);
    if (st != OTRP_OK)
        return st;
    if (key->priv == NULL)
        return OTRP_ERR_KEY_MISMATCH;
    uint8_t out[PSA_SIGNATURE_MAX_SIZE];
    size_t len = 0;
    st = otrp__jose_lock();
    if (st != OTRP_OK)
        return st;
    mbedtls_svc_key_id_t id;
    st = otrp__jose_psa_key(key, alg, 1, &id);
    if (st == OTRP_OK) {
        psa_algorithm_t palg = alg == OTRP__JOSE_ALG_RS256
                                   ? PSA_ALG_RSA_PKCS1V15_SIGN(PSA_ALG_SHA_256)
                                   : PSA_ALG_ECDSA(PSA_ALG_SHA_256);
        psa_status_t ps = psa_sign_hash(id, palg, digest, 32, out, sizeof(out), &len);
        st = otrp__jose_psa_status(ps);
    }
    otrp__jose_unlock();
    if (st == OTRP_OK)
        st = otrp_buf_append(sig, out, len);
    return st;
}

otrp_status otrp__jose_verify_digest(const otrp__jose_key *key, otrp__jose_alg alg,
                                     const uint8_t digest[32], const uint8_t *sig,
                                     size_t sig_len, unsigned flags)
{
    otrp_status st = check_sig_alg(key, alg);
    if (st != OTRP_OK)
        return st;
    if (key->kty == OTRP__JOSE_KTY_RSA && key->bits < OTRP__JOSE_RSA_MIN_BITS &&
        (flags & OTRP__JOSE_F_ALLOW_WEAK_RSA) == 0)
        return OTRP_ERR_KEY;
    size_t want = alg == OTRP__JOSE_ALG_RS256 ? (key->bits + 7) / 8 : 2 * P256_SCALAR_LEN;
    if (sig_len != want)
        return OTRP_ERR_SIGNATURE;
    st = otrp__jose_lock();
    if (st != OTRP_OK)
        return st;
    mbedtls_svc_key_id_t id;
    st = otrp__jose_psa_key(key, alg, 0, &id);
    if (st == OTRP_OK) {
        psa_algorithm_t palg = alg == OTRP__JOSE_ALG_RS256
                                   ? PSA_ALG_RSA_PKCS1V15_SIGN(PSA_ALG_SHA_256)
                                   : PSA_ALG_ECDSA(PSA_ALG_SHA_256);
        psa_status_t ps = psa_verify_hash(id, palg, digest, 32, sig, sig_len);
        st = ps == PSA_SUCCESS ? OTRP_OK
             : ps == PSA_ERROR_INSUFFICIENT_MEMORY ? OTRP_ERR_NO_MEMORY
                                                   : OTRP_ERR_SIGNATURE;
    }
    otrp__jose_unlock();
    return st;
}

otrp_status otrp__jose_sign(const otrp__jose_key *key, otrp__jose_alg alg,
                            const void *data, size_t len, otrp_buf *sig)
{
    if (key == NULL || sig == NULL || (data == NULL && len != 0))
        return OTRP_ERR_INVALID_ARG;
    uint8_t digest[32];
    otrp_status st = otrp__jose_sha256(data, len, digest);
    if (st == OTRP_OK)
        st = otrp__jose_sign_digest(key, alg, digest, sig);
    return st;
}

otrp_status otrp__jose_verify(const otrp__jose_key *key, otrp__jose_alg alg,
                              const void *data, size_t len, const uint8_t *sig,
                              size_t sig_len, unsigned flags)
{
    if (key == NULL || (sig == NULL && sig_len != 0) || (data == NULL && len != 0))
        return OTRP_ERR_INVALID_ARG;
    uint8_t digest[32];
    otrp_status st = otrp__jose_sha256(data, len, digest);
    if (st == OTRP_OK)
        st = otrp__jose_verify_digest(key, alg, digest, sig, sig_len, flags);
    return st;
}
