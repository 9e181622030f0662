/* lib/jose X.509: certificate lists, chain verification at a given time, writing. */
#include "jose/internal.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/base64.h"
#include "util/mem.h"

/* Limits: a certificate file, one certificate, and the length of an x5c chain. */
#define MAX_CERT_INPUT (1024u * 1024u)
#define MAX_CERT_DER (64u * 1024u)
#define MAX_X5C_CERTS 16u
#define CERT_DER_SCRATCH 8192u
#define DN_MAX 512u
/* subjectAltName: at most this many names; a DNS name is 1..253 characters (RFC 1035). */
#define SAN_MAX_NAMES 16u
#define SAN_DNS_MAX 253u
/* GeneralName tags (RFC 5280 4.2.1.6): [2] dNSName IA5String, [7] iPAddress OCTET STRING */
#define SAN_TAG_DNS 0x82u
#define SAN_TAG_IP 0x87u
#define DER_SEQUENCE 0x30u
#define DER_OID 0x06u
/* An OID of an extendedKeyUsage we write: far longer than any real one (the OTrP TAM
 * OID has 19 octets). */
#define EKU_OID_MAX 64u

struct otrp__x509_certs {
    mbedtls_x509_crt chain; /* chain.raw.len == 0 while empty */
};

otrp_status otrp__x509_certs_new(otrp__x509_certs **out)
{
    if (out == NULL)
        return OTRP_ERR_INVALID_ARG;
    otrp__x509_certs *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return OTRP_ERR_NO_MEMORY;
    mbedtls_x509_crt_init(&c->chain);
    *out = c;
    return OTRP_OK;
}

void otrp__x509_certs_free(otrp__x509_certs *certs)
{
    if (certs == NULL)
        return;
    mbedtls_x509_crt_free(&certs->chain);
    free(certs);
}

static mbedtls_x509_crt *chain_of(const otrp__x509_certs *certs)
{
    return (mbedtls_x509_crt *)(uintptr_t)&certs->chain;
}

size_t otrp__x509_certs_count(const otrp__x509_certs *certs)
{
    if (certs == NULL || certs->chain.raw.len == 0)
        return 0;
    size_t n = 0;
    for (const mbedtls_x509_crt *c = &certs->chain; c != NULL; c = c->next)
        n++;
    return n;
}

static const mbedtls_x509_crt *cert_at(const otrp__x509_certs *certs, size_t i)
{
    if (certs == NULL || certs->chain.raw.len == 0)
        return NULL;
    const mbedtls_x509_crt *c = &certs->chain;
    while (c != NULL && i-- > 0)
        c = c->next;
    return c;
}

static otrp_status add_der(otrp__x509_certs *certs, const uint8_t *der, size_t len,
                           char *detail, size_t cap)
{
    if (len > MAX_CERT_DER)
        return OTRP_ERR_TOO_LARGE;
    if (otrp__x509_certs_count(certs) >= MAX_X5C_CERTS) {
        otrp__set_detail(detail, cap, "more than %u certificates", MAX_X5C_CERTS);
        return OTRP_ERR_TOO_LARGE;
    }
    int ret = mbedtls_x509_crt_parse_der(&certs->chain, der, len);
    if (ret != 0) {
        otrp__set_detail(detail, cap, "certificate does not parse (mbedTLS -0x%04x)",
                         (unsigned)-ret);
        return OTRP_ERR_CERT_PARSE;
    }
    return OTRP_OK;
}

otrp_status otrp__x509_certs_add(otrp__x509_certs *certs, const uint8_t *data, size_t len,
                                 char *detail, size_t detail_cap)
{
    if (certs == NULL || data == NULL)
        return OTRP_ERR_INVALID_ARG;
    if (len > MAX_CERT_INPUT)
        return OTRP_ERR_TOO_LARGE;
    static const char BEGIN[] = "-----BEGIN CERTIFICATE-----";
    int pem = 0;
    for (size_t i = 0; i + sizeof(BEGIN) - 1 <= len && !pem; i++)
        pem = memcmp(data + i, BEGIN, sizeof(BEGIN) - 1) == 0;
    if (!pem)
        return add_der(certs, data, len, detail, detail_cap);

    /* Parse every block into a scratch list first so a bad block adds nothing. */
    uint8_t *buf = malloc(len + 1);
    if (buf == NULL)
        return OTRP_ERR_NO_MEMORY;
    memcpy(buf, data, len);
    buf[len] = 0;
    mbedtls_x509_crt tmp;
    mbedtls_x509_crt_init(&tmp);
    int ret = mbedtls_x509_crt_parse(&tmp, buf, len + 1);
    free(buf);
    otrp_status st = OTRP_OK;
    if (ret != 0 || tmp.raw.len == 0) {
        otrp__set_detail(detail, detail_cap, "PEM certificate does not parse");
        st = OTRP_ERR_CERT_PARSE;
    }
    for (const mbedtls_x509_crt *c = &tmp; st == OTRP_OK && c != NULL; c = c->next)
        st = add_der(certs, c->raw.p, c->raw.len, detail, detail_cap);
    mbedtls_x509_crt_free(&tmp);
    return st;
}

otrp_status otrp__x509_certs_add_b64(otrp__x509_certs *certs, const char *b64, size_t len,
                                     char *detail, size_t detail_cap)
{
    if (certs == NULL || b64 == NULL)
        return OTRP_ERR_INVALID_ARG;
    if (len > otrp__b64_encoded_len(MAX_CERT_DER, OTRP__B64_STD))
        return OTRP_ERR_TOO_LARGE;
    uint8_t *der = malloc(otrp__b64_decoded_max(len) + 1);
    if (der == NULL)
        return OTRP_ERR_NO_MEMORY;
    size_t n = 0;
    otrp_status st = otrp__b64_decode(b64, len, der, &n, OTRP__B64_FIELD);
    if (st != OTRP_OK)
        otrp__set_detail(detail, detail_cap, "certificate is not base64");
    else
        st = add_der(certs, der, n, detail, detail_cap);
    free(der);
    return st;
}

otrp_status otrp__x509_certs_add_x5c(otrp__x509_certs *certs, const cJSON *array,
                                     char *detail, size_t detail_cap)
{
    if (certs == NULL || array == NULL)
        return OTRP_ERR_INVALID_ARG;
    if (!cJSON_IsArray(array) || array->child == NULL) {
        otrp__set_detail(detail, detail_cap, "x5c is not a non-empty array");
        return OTRP_ERR_JOSE_FORMAT;
    }
    size_t i = 0;
    for (const cJSON *it = array->child; it != NULL; it = it->next, i++) {
        if (!cJSON_IsString(it) || it->valuestring == NULL) {
            otrp__set_detail(detail, detail_cap, "x5c[%zu] is not a string", i);
            return OTRP_ERR_JOSE_FORMAT;
        }
        otrp_status st = otrp__x509_certs_add_b64(certs, it->valuestring,
                                                  strlen(it->valuestring), detail,
                                                  detail_cap);
        if (st != OTRP_OK)
            return st;
    }
    return OTRP_OK;
}

const uint8_t *otrp__x509_certs_der(const otrp__x509_certs *certs, size_t i, size_t *len)
{
    const mbedtls_x509_crt *c = cert_at(certs, i);
    if (c == NULL)
        return NULL;
    if (len != NULL)
        *len = c->raw.len;
    return c->raw.p;
}

static otrp_status subject_cn(const mbedtls_x509_crt *c, char *cn, size_t cap, int *found)
{
    const mbedtls_x509_buf *val = NULL;
    for (const mbedtls_x509_name *n = &c->subject; n != NULL; n = n->next) {
        if (n->oid.p != NULL && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0) {
            if (val != NULL)
                return OTRP_ERR_CERT_PARSE; /* two CNs: which one is the tamid? */
            val = &n->val;
        }
    }
    *found = val != NULL;
    if (val == NULL) {
        if (cap > 0)
            cn[0] = 0;
        return OTRP_OK;
    }
    if (memchr(val->p, 0, val->len) != NULL)
        return OTRP_ERR_CERT_PARSE;
    if (val->len + 1 > cap)
        return OTRP_ERR_TOO_LARGE;
    memcpy(cn, val->p, val->len);
    cn[val->len] = 0;
    return OTRP_OK;
}

otrp_status otrp__x509_certs_subject_cn(const otrp__x509_certs *certs, size_t i, char *cn,
                                        size_t cn_cap)
{
    const mbedtls_x509_crt *c = cert_at(certs, i);
    if (c == NULL || cn == NULL)
        return OTRP_ERR_INVALID_ARG;
    int found = 0;
    otrp_status st = subject_cn(c, cn, cn_cap, &found);
    if (st == OTRP_OK && !found)
        return OTRP_ERR_NOT_FOUND;
    return st;
}

otrp_status otrp__x509_certs_public_key(const otrp__x509_certs *certs, size_t i,
                                        otrp__jose_key **out, char *detail,
                                        size_t detail_cap)
{
    const mbedtls_x509_crt *c = cert_at(certs, i);
    if (c == NULL || out == NULL)
        return OTRP_ERR_INVALID_ARG;
    return otrp__jose_key_from_pk(&c->pk, 0, out, detail, detail_cap);
}

otrp_status otrp__x509_certs_to_x5c(const otrp__x509_certs *certs, cJSON **out)
{
    if (certs == NULL || out == NULL)
        return OTRP_ERR_INVALID_ARG;
    cJSON *arr = cJSON_CreateArray();
    if (arr == NULL)
        return OTRP_ERR_NO_MEMORY;
    size_t n = otrp__x509_certs_count(certs);
    for (size_t i = 0; i < n; i++) {
        const mbedtls_x509_crt *c = cert_at(certs, i);
        char *b64 = malloc(otrp__b64_encoded_len(c->raw.len, OTRP__B64_STD) + 1);
        cJSON *s = NULL;
        if (b64 != NULL) {
            otrp__b64_encode(c->raw.p, c->raw.len, b64, OTRP__B64_STD);
            s = cJSON_CreateString(b64);
            free(b64);
        }
        if (s == NULL) {
            cJSON_Delete(arr);
            return OTRP_ERR_NO_MEMORY;
        }
        cJSON_AddItemToArray(arr, s);
    }
    *out = arr;
    return OTRP_OK;
}

otrp_status otrp__x509_certs_pem(const otrp__x509_certs *certs, size_t i, otrp_buf *out)
{
    const mbedtls_x509_crt *c = cert_at(certs, i);
    if (c == NULL || out == NULL)
        return OTRP_ERR_INVALID_ARG;
    return otrp__jose_der_to_pem(c->raw.p, c->raw.len, "CERTIFICATE", out);
}

int otrp__x509_certs_has_eku(const otrp__x509_certs *certs, size_t i, const char *oid,
                             size_t oid_len)
{
    const mbedtls_x509_crt *c = cert_at(certs, i);
    if (c == NULL || oid == NULL)
        return 0;
    /* ext_key_usage lists the OIDs of the extension (empty when the certificate has
     * none); mbedtls_x509_crt_check_extended_key_usage() would accept a certificate
     * without the extension, and one with anyExtendedKeyUsage, for any purpose. */
    for (const mbedtls_x509_sequence *s = &c->ext_key_usage; s != NULL; s = s->next)
        if (s->buf.p != NULL && s->buf.len == oid_len && memcmp(s->buf.p, oid, oid_len) == 0)
            return 1;
    return 0;
}

/* ---- verification ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int64_t x509_time_to_unix(const mbedtls_x509_time *t)
{
    return days_from_civil(t->year, t->mon, t->day) * 86400 + t->hour * 3600 +
           t->min * 60 + t->sec;
}

struct verify_ctx {
    int64_t at;
    int bad_time_depth; /* -1 none */
};

/* mbedTLS checks validity against the wall clock; we check against ctx->at instead,
 * for every certificate of the path, the trust anchor included. */
static int verify_cb(void *p, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
    struct verify_ctx *ctx = p;
    *flags &= ~(uint32_t)(MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE);
    if (ctx->at < x509_time_to_unix(&crt->valid_from) ||
        ctx->at > x509_time_to_unix(&crt->valid_to)) {
        *flags |= MBEDTLS_X509_BADCERT_EXPIRED;
        if (ctx->bad_time_depth < 0)
            ctx->bad_time_depth = depth;
    }
    return 0;
}

/* mbedTLS reports a wrong signature as "no parent found". Tell the two apart: is there
 * a certificate in chain or anchors whose subject is c's issuer (same DER) but which
 * does not verify c? */
static int has_bad_signature(const mbedtls_x509_crt *chain, const mbedtls_x509_crt *anchors)
{
    const mbedtls_x509_crt *lists[2] = {chain, anchors};
    for (const mbedtls_x509_crt *c = chain; c != NULL; c = c->next) {
        for (int l = 0; l < 2; l++) {
            for (const mbedtls_x509_crt *p = lists[l]; p != NULL && p->raw.len != 0;
                 p = p->next) {
                if (p == c || p->subject_raw.len != c->issuer_raw.len ||
                    memcmp(p->subject_raw.p, c->issuer_raw.p, c->issuer_raw.len) != 0)
                    continue;
                mbedtls_x509_crt child, parent;
                mbedtls_x509_crt_init(&child);
                mbedtls_x509_crt_init(&parent);
                uint32_t flags = 0;
                int bad = 0;
                if (mbedtls_x509_crt_parse_der(&child, c->raw.p, c->raw.len) == 0 &&
                    mbedtls_x509_crt_parse_der(&parent, p->raw.p, p->raw.len) == 0) {
                    (void)mbedtls_x509_crt_verify_with_profile(
                        &child, &parent, NULL, &mbedtls_x509_crt_profile_default, NULL,
                        &flags, NULL, NULL);
                    bad = (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED) != 0;
                }
                mbedtls_x509_crt_free(&child);
                mbedtls_x509_crt_free(&parent);
                if (bad)
                    return 1;
            }
        }
    }
    return 0;
}

otrp_status otrp__x509_verify(const otrp__x509_certs *chain,
                              const otrp__x509_certs *anchors, int64_t at_time,
                              unsigned flags, otrp__jose_key **leaf_key, char *cn,
                              size_t cn_cap, char *detail, size_t detail_cap)
{
    if (chain == NULL || anchors == NULL || (cn == NULL && cn_cap != 0))
        return OTRP_ERR_INVALID_ARG;
    if (otrp__x509_certs_count(chain) == 0) {
        otrp__set_detail(detail, detail_cap, "empty certificate chain");
        return OTRP_ERR_CERT_UNTRUSTED;
    }
    if (otrp__x509_certs_count(anchors) == 0) {
        otrp__set_detail(detail, detail_cap, "no trust anchors");
        return OTRP_ERR_CERT_UNTRUSTED;
    }
    int weak = (flags & OTRP__JOSE_F_ALLOW_WEAK_RSA) != 0;
    mbedtls_x509_crt_profile profile = mbedtls_x509_crt_profile_default;
    profile.allowed_mds = MBEDTLS_X509_ID_FLAG(MBEDTLS_MD_SHA256) |
                          MBEDTLS_X509_ID_FLAG(MBEDTLS_MD_SHA384) |
                          MBEDTLS_X509_ID_FLAG(MBEDTLS_MD_SHA512);
    if (weak)
        profile.allowed_mds |= MBEDTLS_X509_ID_FLAG(MBEDTLS_MD_SHA1);
    profile.allowed_pks = MBEDTLS_X509_ID_FLAG(MBEDTLS_PK_RSA) |
                          MBEDTLS_X509_ID_FLAG(MBEDTLS_PK_ECDSA) |
                          MBEDTLS_X509_ID_FLAG(MBEDTLS_PK_ECKEY);
    profile.allowed_curves = MBEDTLS_X509_ID_FLAG(MBEDTLS_ECP_DP_SECP256R1);
    profile.rsa_min_bitlen = weak ? 1024 : OTRP__JOSE_RSA_MIN_BITS;

    struct verify_ctx ctx = {at_time != 0 ? at_time : (int64_t)time(NULL), -1};
    uint32_t vflags = 0;
    otrp_status st = otrp__jose_lock();
    if (st != OTRP_OK)
        return st;
    int ret = mbedtls_x509_crt_verify_with_profile(chain_of(chain), chain_of(anchors), NULL,
                                                   &profile, NULL, &vflags, verify_cb, &ctx);
    int bad_sig = 0;
    if (ret != 0 && (vflags & MBEDTLS_X509_BADCERT_NOT_TRUSTED) != 0)
        bad_sig = has_bad_signature(&chain->chain, &anchors->chain);
    otrp__jose_unlock();

    if (ret != 0) {
        if (vflags & MBEDTLS_X509_BADCERT_NOT_TRUSTED) {
            if (bad_sig) {
                otrp__set_detail(detail, detail_cap, "certificate signature invalid");
                return OTRP_ERR_CERT_SIGNATURE;
            }
            otrp__set_detail(detail, detail_cap,
                             "certificate does not chain to a trust anchor");
            return OTRP_ERR_CERT_UNTRUSTED;
        }
        if (vflags & (MBEDTLS_X509_BADCERT_BAD_MD | MBEDTLS_X509_BADCERT_BAD_PK |
                      MBEDTLS_X509_BADCERT_BAD_KEY)) {
            otrp__set_detail(detail, detail_cap,
                             "certificate uses a weak or unsupported key or hash");
            return OTRP_ERR_KEY;
        }
        if (vflags & MBEDTLS_X509_BADCERT_EXPIRED) {
            otrp__set_detail(detail, detail_cap,
                             "certificate at depth %d expired or not yet valid",
                             ctx.bad_time_depth);
            return OTRP_ERR_CERT_EXPIRED;
        }
        otrp__set_detail(detail, detail_cap, "certificate rejected (flags 0x%x)",
                         (unsigned)vflags);
        return OTRP_ERR_CERT_UNTRUSTED;
    }

    const mbedtls_x509_crt *leaf = &chain->chain;
    if (mbedtls_x509_crt_check_key_usage(leaf, MBEDTLS_X509_KU_DIGITAL_SIGNATURE) != 0) {
        otrp__set_detail(detail, detail_cap, "certificate key usage excludes signing");
        return OTRP_ERR_KEY;
    }
    if (cn != NULL) {
        int found = 0;
        st = subject_cn(leaf, cn, cn_cap, &found);
        if (st == OTRP_ERR_CERT_PARSE)
            otrp__set_detail(detail, detail_cap, "certificate Subject CN ambiguous");
        if (st != OTRP_OK)
            return st;
    }
    if (leaf_key != NULL) {
        otrp__jose_key *key = NULL;
        st = otrp__jose_key_from_pk(&leaf->pk, 0, &key, detail, detail_cap);
        if (st != OTRP_OK)
            return st;
        if (key->kty == OTRP__JOSE_KTY_RSA && key->bits < OTRP__JOSE_RSA_MIN_BITS && !weak) {
            otrp__jose_key_free(key);
            otrp__set_detail(detail, detail_cap, "certificate RSA key too small");
            return OTRP_ERR_KEY;
        }
        *leaf_key = key;
    }
    return OTRP_OK;
}

/* ---- writing ---- */

static otrp_status format_time(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (gmtime_r(&tt, &tm) == NULL || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 1950)
        return OTRP_ERR_INVALID_ARG;
    (void)snprintf(out, 32, "%04d%02d%02d%02d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                   tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return OTRP_OK;
}

/* A DNS name we are willing to write: printable ASCII without spaces (letters, digits,
 * '-', '.', and a leading "*." wildcard all pass; we refuse only what can never be one). */
static int dns_name_ok(const char *name, size_t len)
{
    if (len == 0 || len > SAN_DNS_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (name[i] <= 0x20 || name[i] >= 0x7f)
            return 0;
    return 1;
}

static size_t count_names(const char *const *names)
{
    size_t n = 0;
    while (names != NULL && names[n] != NULL)
        n++;
    return n;
}

/* The DER value of an extendedKeyUsage extension (a SEQUENCE of one OID). */
static otrp_status eku_extension(const otrp__x509_spec *spec, otrp_buf *ext, char *detail,
                                 size_t cap)
{
    if (spec->eku_oid_len == 0 || spec->eku_oid_len > EKU_OID_MAX) {
        otrp__set_detail(detail, cap, "extendedKeyUsage OID of %zu octets", spec->eku_oid_len);
        return OTRP_ERR_INVALID_ARG;
    }
    otrp_buf oid = {0};
    otrp_status st = otrp__der_tlv(&oid, DER_OID, (const uint8_t *)spec->eku_oid,
                                   spec->eku_oid_len);
    if (st == OTRP_OK)
        st = otrp__der_tlv(ext, DER_SEQUENCE, oid.data, oid.len);
    otrp_buf_free(&oid);
    return st;
}

/* The DER value of a subjectAltName extension (GeneralNames) for spec's names. */
static otrp_status san_extension(const otrp__x509_spec *spec, otrp_buf *ext, char *detail,
                                 size_t cap)
{
    size_t n_dns = count_names(spec->san_dns), n_ip = count_names(spec->san_ip);
    if (n_dns + n_ip > SAN_MAX_NAMES) {
        otrp__set_detail(detail, cap, "more than %u subjectAltName entries", SAN_MAX_NAMES);
        return OTRP_ERR_INVALID_ARG;
    }
    otrp_buf names = {0};
    otrp_status st = OTRP_OK;
    for (size_t i = 0; i < n_dns && st == OTRP_OK; i++) {
        const char *name = spec->san_dns[i];
        size_t len = strlen(name);
        if (!dns_name_ok(name, len)) {
            otrp__set_detail(detail, cap, "subjectAltName DNS name '%.64s' not valid", name);
            st = OTRP_ERR_INVALID_ARG;
        } else {
            st = otrp__der_tlv(&names, SAN_TAG_DNS, (const uint8_t *)name, len);
        }
    }
    for (size_t i = 0; i < n_ip && st == OTRP_OK; i++) {
        uint8_t addr[16];
        size_t len = 0;
        if (inet_pton(AF_INET, spec->san_ip[i], addr) == 1)
            len = 4;
        else if (inet_pton(AF_INET6, spec->san_ip[i], addr) == 1)
            len = 16;
        if (len == 0) {
            otrp__set_detail(detail, cap, "subjectAltName IP address '%.64s' not valid",
                             spec->san_ip[i]);
            st = OTRP_ERR_INVALID_ARG;
        } else {
            st = otrp__der_tlv(&names, SAN_TAG_IP, addr, len);
        }
    }
    if (st == OTRP_OK)
        st = otrp__der_tlv(ext, DER_SEQUENCE, names.data, names.len);
    otrp_buf_free(&names);
    return st;
}

otrp_status otrp__x509_make(const otrp__x509_spec *spec, otrp_buf *der, char *detail,
                            size_t detail_cap)
{
    if (spec == NULL || der == NULL || spec->subject == NULL || spec->subject_key == NULL ||
        (spec->issuer_der == NULL) != (spec->issuer_key == NULL))
        return OTRP_ERR_INVALID_ARG;
    const otrp__jose_key *signer = spec->issuer_key != NULL ? spec->issuer_key
                                                            : spec->subject_key;
    if (signer->priv == NULL) {
        otrp__set_detail(detail, detail_cap, "issuer key has no private part");
        return OTRP_ERR_KEY;
    }
    char from[32], to[32];
    if (spec->not_after <= spec->not_before || format_time(spec->not_before, from) != OTRP_OK ||
        format_time(spec->not_after, to) != OTRP_OK) {
        otrp__set_detail(detail, detail_cap, "bad validity period");
        return OTRP_ERR_INVALID_ARG;
    }
    uint8_t serial[16];
    size_t serial_len;
    if (spec->serial == 0) {
        otrp_status st = otrp__jose_random(serial, sizeof(serial));
        if (st != OTRP_OK)
            return st;
        serial[0] = (uint8_t)((serial[0] & 0x7f) | 0x40); /* positive, 16 bytes */
        serial_len = sizeof(serial);
    } else {
        for (int i = 0; i < 8; i++)
            serial[i] = (uint8_t)(spec->serial >> (56 - 8 * i));
        serial_len = 8;
    }

    otrp_buf san = {0}, eku = {0};
    otrp_status ext_st = OTRP_OK;
    if (count_names(spec->san_dns) + count_names(spec->san_ip) != 0)
        ext_st = san_extension(spec, &san, detail, detail_cap);
    if (ext_st == OTRP_OK && spec->eku_oid != NULL)
        ext_st = eku_extension(spec, &eku, detail, detail_cap);
    if (ext_st != OTRP_OK) {
        otrp_buf_free(&san);
        otrp_buf_free(&eku);
        return ext_st;
    }

    char issuer_name[DN_MAX];
    if (spec->issuer_der != NULL) {
        mbedtls_x509_crt issuer;
        mbedtls_x509_crt_init(&issuer);
        int ret = mbedtls_x509_crt_parse_der(&issuer, spec->issuer_der, spec->issuer_der_len);
        if (ret == 0)
            ret = mbedtls_x509_dn_gets(issuer_name, sizeof(issuer_name), &issuer.subject);
        mbedtls_x509_crt_free(&issuer);
        if (ret < 0) {
            otrp__set_detail(detail, detail_cap, "issuer certificate unreadable");
            otrp_buf_free(&san);
            otrp_buf_free(&eku);
            return OTRP_ERR_CERT_PARSE;
        }
    } else {
        if (strlen(spec->subject) >= sizeof(issuer_name)) {
            otrp_buf_free(&san);
            otrp_buf_free(&eku);
            return OTRP_ERR_INVALID_ARG;
        }
        strcpy(issuer_name, spec->subject);
    }

    mbedtls_x509write_cert crt;
    mbedtls_pk_context subject_pk, issuer_pk;
    mbedtls_x509write_crt_init(&crt);
    mbedtls_pk_init(&subject_pk);
    mbedtls_pk_init(&issuer_pk);
    uint8_t *buf = malloc(CERT_DER_SCRATCH);
    otrp_status st = buf == NULL ? OTRP_ERR_NO_MEMORY : otrp__jose_lock();
    if (st != OTRP_OK) {
        free(buf);
        otrp_buf_free(&san);
        otrp_buf_free(&eku);
        return st;
    }
    int ret = 0;
    st = otrp__jose_key_to_pk(spec->subject_key, &subject_pk);
    if (st == OTRP_OK)
        st = otrp__jose_key_to_pk(signer, &issuer_pk);
    if (st == OTRP_OK) {
        mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
        mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
        mbedtls_x509write_crt_set_subject_key(&crt, &subject_pk);
        mbedtls_x509write_crt_set_issuer_key(&crt, &issuer_pk);
        if (mbedtls_x509write_crt_set_subject_name(&crt, spec->subject) != 0 ||
            mbedtls_x509write_crt_set_issuer_name(&crt, issuer_name) != 0) {
            otrp__set_detail(detail, detail_cap, "distinguished name does not parse");
            st = OTRP_ERR_INVALID_ARG;
        }
    }
    if (st == OTRP_OK) {
        unsigned int usage = spec->is_ca
                                 ? (MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN)
                                 : (MBEDTLS_X509_KU_DIGITAL_SIGNATURE |
                                    MBEDTLS_X509_KU_KEY_ENCIPHERMENT);
        if (spec->is_ca)
            usage |= MBEDTLS_X509_KU_DIGITAL_SIGNATURE;
        if (otrp__compat_crt_set_serial(&crt, serial, serial_len) != 0 ||
            mbedtls_x509write_crt_set_validity(&crt, from, to) != 0 ||
            mbedtls_x509write_crt_set_basic_constraints(&crt, spec->is_ca ? 1 : 0, -1) != 0 ||
            mbedtls_x509write_crt_set_key_usage(&crt, usage) != 0)
            st = OTRP_ERR_CRYPTO;
    }
    /* not critical: the subject DN is never empty (RFC 5280 4.2.1.6) */
    if (st == OTRP_OK && san.len != 0 &&
        mbedtls_x509write_crt_set_extension(&crt, MBEDTLS_OID_SUBJECT_ALT_NAME,
                                            MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0,
                                            san.data, san.len) != 0)
        st = OTRP_ERR_CRYPTO;
    if (st == OTRP_OK && eku.len != 0 &&
        mbedtls_x509write_crt_set_extension(&crt, MBEDTLS_OID_EXTENDED_KEY_USAGE,
                                            MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE), 0,
                                            eku.data, eku.len) != 0)
        st = OTRP_ERR_CRYPTO;
    if (st == OTRP_OK) {
        ret = mbedtls_x509write_crt_der(&crt, buf, CERT_DER_SCRATCH, otrp__jose_legacy_rng,
                                        NULL);
        if (ret <= 0) {
            otrp__set_detail(detail, detail_cap, "certificate writing failed (-0x%04x)",
                             (unsigned)-ret);
            st = OTRP_ERR_CRYPTO;
        }
    }
    otrp__jose_unlock();
    if (st == OTRP_OK)
        st = otrp_buf_append(der, buf + CERT_DER_SCRATCH - ret, (size_t)ret);
    mbedtls_x509write_crt_free(&crt);
    mbedtls_pk_free(&subject_pk);
    mbedtls_pk_free(&issuer_pk);
    otrp_buf_free(&san);
    otrp_buf_free(&eku);
    free(buf);
    return st;
}
