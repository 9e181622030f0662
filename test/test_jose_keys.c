/* lib/jose: keys, X.509, round trips of JWS/JWE in every form, P7 AES-CBC, SHA-256. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <pthread.h>

#include "jose/internal.h"
#include "jose/jose.h"
#include "support/jose_testutil.h"
#include "util/json_strict.h"

#define DETAIL 160
#define YEAR (365 * 24 * 3600)

/* Keys are generated once for the whole program (RSA generation is slow). */
static otrp__jose_key *g_ca_key, *g_tam_key, *g_ec_key;

static int setup_keys(void **state)
{
    (void)state;
    char detail[DETAIL];
    if (otrp__jose_key_generate(OTRP__JOSE_KTY_RSA, 2048, &g_ca_key, detail, DETAIL) != OTRP_OK ||
        otrp__jose_key_generate(OTRP__JOSE_KTY_RSA, 2048, &g_tam_key, detail, DETAIL) != OTRP_OK ||
        otrp__jose_key_generate(OTRP__JOSE_KTY_EC_P256, 0, &g_ec_key, detail, DETAIL) != OTRP_OK)
        return -1;
    return 0;
}

static int teardown_keys(void **state)
{
    (void)state;
    otrp__jose_key_free(g_ca_key);
    otrp__jose_key_free(g_tam_key);
    otrp__jose_key_free(g_ec_key);
    return 0;
}

static void test_jose_sha256_and_random(void **state)
{
    (void)state;
    static const uint8_t ABC[32] = {
        0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
        0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    uint8_t d[32];
    assert_int_equal(otrp__jose_sha256("abc", 3, d), OTRP_OK);
    assert_memory_equal(d, ABC, 32);
    uint8_t a[32], b[32];
    assert_int_equal(otrp__jose_random(a, sizeof(a)), OTRP_OK);
    assert_int_equal(otrp__jose_random(b, sizeof(b)), OTRP_OK);
    assert_memory_not_equal(a, b, 32);
    assert_int_equal(otrp__jose_random(NULL, 0), OTRP_OK);
    assert_string_equal(otrp__jose_alg_name(OTRP__JOSE_ALG_RSA_OAEP_256), "RSA-OAEP-256");
    assert_int_equal(otrp__jose_enc_from_name("A256GCM"), OTRP__JOSE_ENC_A256GCM);
    assert_int_equal(otrp__jose_alg_from_name("none"), OTRP__JOSE_ALG_NONE);
    assert_null(otrp__jose_alg_name((otrp__jose_alg)99));
}

static void test_jose_key_generate_and_pem_roundtrip(void **state)
{
    (void)state;
    char detail[DETAIL] = "";
    otrp__jose_key *k = NULL;
    assert_int_equal(otrp__jose_key_generate(OTRP__JOSE_KTY_RSA, 1024, &k, detail, DETAIL),
                     OTRP_ERR_KEY);
    assert_int_equal(otrp__jose_key_bits(g_tam_key), 2048);
    otrp__jose_key *keys[2] = {g_tam_key, g_ec_key};
    for (int i = 0; i < 2; i++) {
        otrp_buf pem = {0}, spki = {0};
        assert_int_equal(otrp__jose_key_export_private_pem(keys[i], &pem), OTRP_OK);
        assert_non_null(strstr((char *)pem.data, "-----BEGIN PRIVATE KEY-----\n"));
        assert_int_equal(otrp__jose_key_load(pem.data, pem.len, &k, detail, DETAIL), OTRP_OK);
        assert_true(otrp__jose_key_has_private(k));
        assert_true(otrp__jose_key_public_equal(k, keys[i]));
        /* what the loaded key signs, the original verifies */
        otrp__jose_alg alg = i == 0 ? OTRP__JOSE_ALG_RS256 : OTRP__JOSE_ALG_ES256;
        otrp_buf sig = {0};
        assert_int_equal(otrp__jose_sign(k, alg, "data", 4, &sig), OTRP_OK);
        assert_int_equal(otrp__jose_verify(keys[i], alg, "data", 4, sig.data, sig.len, 0), OTRP_OK);
        assert_int_equal(otrp__jose_verify(keys[i], alg, "dat4", 4, sig.data, sig.len, 0),
                         OTRP_ERR_SIGNATURE);
        otrp__jose_key_free(k);
        /* SPKI DER -> public key */
        assert_int_equal(otrp__jose_key_export_spki_der(keys[i], &spki), OTRP_OK);
        assert_int_equal(otrp__jose_key_load(spki.data, spki.len, &k, detail, DETAIL), OTRP_OK);
        assert_false(otrp__jose_key_has_private(k));
        assert_true(otrp__jose_key_public_equal(k, keys[i]));
        assert_int_equal(otrp__jose_sign(k, alg, "data", 4, &sig), OTRP_ERR_KEY_MISMATCH);
        otrp__jose_key_free(k);
        /* public JWK -> public key */
        cJSON *jwk = NULL;
        assert_int_equal(otrp__jose_key_export_public_jwk(keys[i], &jwk), OTRP_OK);
        assert_int_equal(otrp__jose_key_from_jwk_json(jwk, &k, detail, DETAIL), OTRP_OK);
        assert_true(otrp__jose_key_public_equal(k, keys[i]));
        cJSON_Delete(jwk);
        otrp__jose_key_free(k);
        otrp_buf_free(&sig);
        otrp_buf_free(&pem);
        otrp_buf_free(&spki);
    }
    /* garbage is a specific status */
    assert_int_equal(otrp__jose_key_load((const uint8_t *)"hello", 5, &k, detail, DETAIL),
                     OTRP_ERR_KEY);
    assert_int_equal(otrp__jose_key_load((const uint8_t *)"", 0, &k, detail, DETAIL),
                     OTRP_ERR_KEY);
}

struct pki {
    otrp_buf ca, tam, ec;
    int64_t now;
};

static void make_cert(const char *subject, const otrp__jose_key *key, const otrp_buf *issuer,
                      const otrp__jose_key *issuer_key, int is_ca, int64_t from, int64_t to,
                      otrp_buf *out)
{
    otrp__x509_spec spec = {.subject = subject,
                            .subject_key = key,
                            .issuer_der = issuer != NULL ? issuer->data : NULL,
                            .issuer_der_len = issuer != NULL ? issuer->len : 0,
                            .issuer_key = issuer_key,
                            .not_before = from,
                            .not_after = to,
                            .is_ca = is_ca};
    char detail[DETAIL] = "";
    otrp_status st = otrp__x509_make(&spec, out, detail, DETAIL);
    if (st != OTRP_OK)
        fail_msg("x509_make %s: %s (%s)", subject, otrp_status_name(st), detail);
}

static void pki_make(struct pki *p)
{
    memset(p, 0, sizeof(*p));
    p->now = (int64_t)time(NULL);
    make_cert("CN=Test Root CA,O=libotrp", g_ca_key, NULL, NULL, 1, p->now - YEAR,
              p->now + 10 * (int64_t)YEAR, &p->ca);
    make_cert("CN=tam.example.com,O=libotrp", g_tam_key, &p->ca, g_ca_key, 0, p->now - 3600,
              p->now + 2 * (int64_t)YEAR, &p->tam);
    make_cert("CN=sp.example.com", g_ec_key, &p->ca, g_ca_key, 0, p->now - 3600,
              p->now + 2 * (int64_t)YEAR, &p->ec);
}

static void pki_free(struct pki *p)
{
    otrp_buf_free(&p->ca);
    otrp_buf_free(&p->tam);
    otrp_buf_free(&p->ec);
}

static otrp__x509_certs *certs_of(const otrp_buf *a, const otrp_buf *b)
{
    otrp__x509_certs *c = NULL;
    char detail[DETAIL] = "";
    assert_int_equal(otrp__x509_certs_new(&c), OTRP_OK);
    if (a != NULL)
        assert_int_equal(otrp__x509_certs_add(c, a->data, a->len, detail, DETAIL), OTRP_OK);
    if (b != NULL)
        assert_int_equal(otrp__x509_certs_add(c, b->data, b->len, detail, DETAIL), OTRP_OK);
    return c;
}

static void test_jose_x509_chain_verify(void **state)
{
    (void)state;
    struct pki p;
    pki_make(&p);
    otrp__x509_certs *chain = certs_of(&p.tam, NULL);
    otrp__x509_certs *anchors = certs_of(&p.ca, NULL);
    otrp__jose_key *leaf = NULL;
    char cn[128], detail[DETAIL] = "";
    assert_int_equal(otrp__x509_verify(chain, anchors, 0, 0, &leaf, cn, sizeof(cn), detail, DETAIL),
                     OTRP_OK);
    assert_string_equal(cn, "tam.example.com");
    assert_true(otrp__jose_key_public_equal(leaf, g_tam_key));
    otrp__jose_key_free(leaf);
    /* the chain may include the root */
    otrp__x509_certs *with_root = certs_of(&p.tam, &p.ca);
    assert_int_equal(otrp__x509_verify(with_root, anchors, p.now, 0, NULL, NULL, 0, detail, DETAIL),
                     OTRP_OK);
    /* a settable time: too late and too early */
    assert_int_equal(otrp__x509_verify(chain, anchors, p.now + 5 * (int64_t)YEAR, 0, NULL, NULL, 0,
                                       detail, DETAIL),
                     OTRP_ERR_CERT_EXPIRED);
    assert_int_equal(otrp__x509_verify(chain, anchors, p.now - 7200, 0, NULL, NULL, 0, detail,
                                       DETAIL),
                     OTRP_ERR_CERT_EXPIRED);
    /* an EC end entity under the RSA root */
    otrp__x509_certs *ec = certs_of(&p.ec, NULL);
    assert_int_equal(otrp__x509_verify(ec, anchors, 0, 0, &leaf, cn, sizeof(cn), detail, DETAIL),
                     OTRP_OK);
    assert_int_equal(otrp__jose_key_type(leaf), OTRP__JOSE_KTY_EC_P256);
    otrp__jose_key_free(leaf);
    /* a root of the same name with another key: the signature is wrong */
    otrp_buf fake = {0};
    make_cert("CN=Test Root CA,O=libotrp", g_tam_key, NULL, NULL, 1, p.now - YEAR,
              p.now + YEAR, &fake);
    otrp__x509_certs *fake_anchor = certs_of(&fake, NULL);
    assert_int_equal(otrp__x509_verify(chain, fake_anchor, 0, 0, NULL, NULL, 0, detail, DETAIL),
                     OTRP_ERR_CERT_SIGNATURE);
    /* an unrelated root */
    otrp_buf other = {0};
    make_cert("CN=Other CA", g_ec_key, NULL, NULL, 1, p.now - YEAR, p.now + YEAR, &other);
    otrp__x509_certs *other_anchor = certs_of(&other, NULL);
    assert_int_equal(otrp__x509_verify(chain, other_anchor, 0, 0, NULL, NULL, 0, detail, DETAIL),
                     OTRP_ERR_CERT_UNTRUSTED);
    /* an expired root fails too */
    otrp_buf old_root = {0};
    make_cert("CN=Test Root CA,O=libotrp", g_ca_key, NULL, NULL, 1, p.now - 3 * (int64_t)YEAR,
              p.now - 2 * (int64_t)YEAR, &old_root);
    otrp__x509_certs *old_anchor = certs_of(&old_root, NULL);
    assert_int_equal(otrp__x509_verify(chain, old_anchor, 0, 0, NULL, NULL, 0, detail, DETAIL),
                     OTRP_ERR_CERT_EXPIRED);
    /* cn buffer too small */
    assert_int_equal(otrp__x509_verify(chain, anchors, 0, 0, NULL, cn, 4, detail, DETAIL),
                     OTRP_ERR_TOO_LARGE);
    otrp__x509_certs_free(chain);
    otrp__x509_certs_free(anchors);
    otrp__x509_certs_free(with_root);
    otrp__x509_certs_free(ec);
    otrp__x509_certs_free(fake_anchor);
    otrp__x509_certs_free(other_anchor);
    otrp__x509_certs_free(old_anchor);
    otrp_buf_free(&fake);
    otrp_buf_free(&other);
    otrp_buf_free(&old_root);
    pki_free(&p);
}

/* subjectAltName: written as RFC 5280 GeneralNames, read back by mbedTLS (the names
 * and the hostname check of its chain verification); bad entries are refused. */
static void test_jose_x509_subject_alt_name(void **state)
{
    (void)state;
    static const char *const DNS[] = {"localhost", "tam.example.com", NULL};
    static const char *const IP[] = {"127.0.0.1", "::1", NULL};
    int64_t now = (int64_t)time(NULL);
    otrp_buf ca = {0}, leaf = {0};
    make_cert("CN=SAN Root,O=libotrp", g_ca_key, NULL, NULL, 1, now - 60, now + YEAR, &ca);
    otrp__x509_spec spec = {.subject = "CN=127.0.0.1,O=libotrp",
                            .subject_key = g_ec_key,
                            .issuer_der = ca.data,
                            .issuer_der_len = ca.len,
                            .issuer_key = g_ca_key,
                            .not_before = now - 60,
                            .not_after = now + YEAR,
                            .san_dns = DNS,
                            .san_ip = IP};
    char detail[DETAIL] = "";
    assert_int_equal(otrp__x509_make(&spec, &leaf, detail, DETAIL), OTRP_OK);

    mbedtls_x509_crt crt, anchor;
    mbedtls_x509_crt_init(&crt);
    mbedtls_x509_crt_init(&anchor);
    assert_int_equal(otrp__jose_lock(), OTRP_OK);
    assert_int_equal(mbedtls_x509_crt_parse_der(&crt, leaf.data, leaf.len), 0);
    assert_int_equal(mbedtls_x509_crt_parse_der(&anchor, ca.data, ca.len), 0);
    static const uint8_t V4[4] = {127, 0, 0, 1};
    static const uint8_t V6[16] = {[15] = 1};
    const struct {
        int tag;
        const void *value;
        size_t len;
    } want[] = {
        {MBEDTLS_ASN1_CONTEXT_SPECIFIC | 2, "localhost", 9},
        {MBEDTLS_ASN1_CONTEXT_SPECIFIC | 2, "tam.example.com", 15},
        {MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7, V4, sizeof(V4)},
        {MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7, V6, sizeof(V6)},
    };
    const mbedtls_x509_sequence *san = &crt.subject_alt_names;
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++, san = san->next) {
        assert_non_null(san);
        assert_int_equal(san->buf.tag, want[i].tag);
        assert_int_equal(san->buf.len, want[i].len);
        assert_memory_equal(san->buf.p, want[i].value, want[i].len);
    }
    assert_null(san);
    /* mbedTLS matches the expected host name against the dNSName entries */
    uint32_t flags = 0;
    assert_int_equal(mbedtls_x509_crt_verify(&crt, &anchor, NULL, "localhost", &flags, NULL,
                                             NULL),
                     0);
    assert_int_not_equal(mbedtls_x509_crt_verify(&crt, &anchor, NULL, "other.example", &flags,
                                                 NULL, NULL),
                         0);
    assert_true((flags & MBEDTLS_X509_BADCERT_CN_MISMATCH) != 0);
    otrp__jose_unlock();
    mbedtls_x509_crt_free(&crt);
    mbedtls_x509_crt_free(&anchor);

    /* refused entries */
    static const char *const BAD_IP[] = {"127.0.0.256", NULL};
    static const char *const BAD_DNS[] = {"two words", NULL};
    static const char *const EMPTY_DNS[] = {"", NULL};
    static const char *const MANY[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i",
                                       "j", "k", "l", "m", "n", "o", "p", "q", NULL};
    otrp_buf out = {0};
    spec.san_dns = NULL;
    spec.san_ip = BAD_IP;
    assert_int_equal(otrp__x509_make(&spec, &out, detail, DETAIL), OTRP_ERR_INVALID_ARG);
    assert_non_null(strstr(detail, "127.0.0.256"));
    spec.san_ip = NULL;
    spec.san_dns = BAD_DNS;
    assert_int_equal(otrp__x509_make(&spec, &out, detail, DETAIL), OTRP_ERR_INVALID_ARG);
    spec.san_dns = EMPTY_DNS;
    assert_int_equal(otrp__x509_make(&spec, &out, detail, DETAIL), OTRP_ERR_INVALID_ARG);
    spec.san_dns = MANY;
    assert_int_equal(otrp__x509_make(&spec, &out, detail, DETAIL), OTRP_ERR_INVALID_ARG);
    assert_int_equal(out.len, 0);
    /* no lists, or empty ones: no extension at all */
    static const char *const NONE[] = {NULL};
    spec.san_dns = NONE;
    spec.san_ip = NULL;
    assert_int_equal(otrp__x509_make(&spec, &out, detail, DETAIL), OTRP_OK);
    mbedtls_x509_crt_init(&crt);
    assert_int_equal(mbedtls_x509_crt_parse_der(&crt, out.data, out.len), 0);
    assert_int_equal(crt.subject_alt_names.buf.len, 0);
    assert_null(crt.subject_alt_names.next);
    mbedtls_x509_crt_free(&crt);
    otrp_buf_free(&out);
    otrp_buf_free(&ca);
    otrp_buf_free(&leaf);
}

static void test_jose_x509_encodings(void **state)
{
    (void)state;
    struct pki p;
    pki_make(&p);
    otrp__x509_certs *chain = certs_of(&p.tam, &p.ca);
    cJSON *x5c = NULL;
    assert_int_equal(otrp__x509_certs_to_x5c(chain, &x5c), OTRP_OK);
    assert_int_equal(cJSON_GetArraySize(x5c), 2);
    otrp__x509_certs *back = NULL;
    char detail[DETAIL] = "", cn[64];
    assert_int_equal(otrp__x509_certs_new(&back), OTRP_OK);
    assert_int_equal(otrp__x509_certs_add_x5c(back, x5c, detail, DETAIL), OTRP_OK);
    assert_int_equal(otrp__x509_certs_count(back), 2);
    size_t n = 0;
    const uint8_t *der = otrp__x509_certs_der(back, 1, &n);
    assert_int_equal(n, p.ca.len);
    assert_memory_equal(der, p.ca.data, n);
    assert_null(otrp__x509_certs_der(back, 2, &n));
    assert_int_equal(otrp__x509_certs_subject_cn(back, 1, cn, sizeof(cn)), OTRP_OK);
    assert_string_equal(cn, "Test Root CA");
    /* PEM out and in (two blocks) */
    otrp_buf pem = {0};
    assert_int_equal(otrp__x509_certs_pem(chain, 0, &pem), OTRP_OK);
    assert_int_equal(otrp__x509_certs_pem(chain, 1, &pem), OTRP_OK);
    otrp__x509_certs *frompem = NULL;
    assert_int_equal(otrp__x509_certs_new(&frompem), OTRP_OK);
    assert_int_equal(otrp__x509_certs_add(frompem, pem.data, pem.len, detail, DETAIL), OTRP_OK);
    assert_int_equal(otrp__x509_certs_count(frompem), 2);
    /* a certificate is also a key source */
    otrp__jose_key *k = NULL;
    assert_int_equal(otrp__jose_key_load(pem.data, pem.len, &k, detail, DETAIL), OTRP_OK);
    assert_true(otrp__jose_key_public_equal(k, g_tam_key));
    otrp__jose_key_free(k);
    assert_int_equal(otrp__x509_certs_public_key(frompem, 1, &k, detail, DETAIL), OTRP_OK);
    assert_true(otrp__jose_key_public_equal(k, g_ca_key));
    otrp__jose_key_free(k);
    /* bad inputs */
    cJSON *bad = cJSON_Parse("[\"AAAA\"]");
    assert_int_equal(otrp__x509_certs_add_x5c(back, bad, detail, DETAIL), OTRP_ERR_CERT_PARSE);
    cJSON_Delete(bad);
    bad = cJSON_Parse("[\"!!\"]");
    assert_int_equal(otrp__x509_certs_add_x5c(back, bad, detail, DETAIL), OTRP_ERR_BASE64);
    cJSON_Delete(bad);
    bad = cJSON_Parse("[1]");
    assert_int_equal(otrp__x509_certs_add_x5c(back, bad, detail, DETAIL), OTRP_ERR_JOSE_FORMAT);
    cJSON_Delete(bad);
    bad = cJSON_Parse("[]");
    assert_int_equal(otrp__x509_certs_add_x5c(back, bad, detail, DETAIL), OTRP_ERR_JOSE_FORMAT);
    cJSON_Delete(bad);
    assert_int_equal(otrp__x509_certs_add(back, (const uint8_t *)"-----BEGIN CERTIFICATE-----\nxx\n"
                                          "-----END CERTIFICATE-----\n", 58, detail, DETAIL),
                     OTRP_ERR_CERT_PARSE);
    assert_int_equal(otrp__x509_certs_count(back), 2);
    cJSON_Delete(x5c);
    otrp_buf_free(&pem);
    otrp__x509_certs_free(chain);
    otrp__x509_certs_free(back);
    otrp__x509_certs_free(frompem);
    pki_free(&p);
}

/* JWS in every form with a TAM-style x5c header; the receiver finds the signer from
 * x5c, checks the chain and then the signature. */
static void test_jose_jws_roundtrip_x5c(void **state)
{
    (void)state;
    struct pki p;
    pki_make(&p);
    otrp__x509_certs *chain = certs_of(&p.tam, NULL);
    otrp__x509_certs *anchors = certs_of(&p.ca, NULL);
    cJSON *x5c = NULL;
    assert_int_equal(otrp__x509_certs_to_x5c(chain, &x5c), OTRP_OK);
    cJSON *hdr = cJSON_CreateObject();
    cJSON_AddItemToObject(hdr, "x5c", x5c);
    static const char PAYLOAD[] = "{\"CreateSDTBSRequest\":{\"ver\":\"1.0\"}}";
    const otrp__jose_form forms[] = {OTRP__JOSE_FORM_DEFAULT, OTRP__JOSE_FORM_GENERAL,
                                     OTRP__JOSE_FORM_COMPACT};
    for (size_t f = 0; f < 3; f++) {
        otrp__jws_sign_opts opts = {.form = forms[f],
                                    .header = forms[f] == OTRP__JOSE_FORM_COMPACT ? NULL : hdr};
        otrp_buf out = {0};
        char detail[DETAIL] = "";
        assert_int_equal(otrp__jws_sign(PAYLOAD, strlen(PAYLOAD), g_tam_key, &opts, &out, detail,
                                        DETAIL),
                         OTRP_OK);
        if (forms[f] == OTRP__JOSE_FORM_DEFAULT)
            assert_memory_equal(out.data, "{\"payload\":", 11);
        otrp__jws *jws = NULL;
        assert_int_equal(otrp__jws_parse((char *)out.data, out.len, OTRP__JOSE_F_PROFILE, &jws,
                                         detail, DETAIL),
                         OTRP_OK);
        size_t n = 0;
        assert_memory_equal(otrp__jws_payload(jws, &n), PAYLOAD, strlen(PAYLOAD));
        assert_int_equal(n, strlen(PAYLOAD));
        assert_int_equal(otrp__jws_alg(jws), OTRP__JOSE_ALG_RS256);
        assert_string_equal(otrp__json_string(otrp__jws_protected(jws), "alg"), "RS256");
        if (forms[f] != OTRP__JOSE_FORM_COMPACT) {
            otrp__x509_certs *got = NULL;
            assert_int_equal(otrp__jws_x5c(jws, &got, detail, DETAIL), OTRP_OK);
            otrp__jose_key *leaf = NULL;
            char cn[64];
            assert_int_equal(otrp__x509_verify(got, anchors, 0, 0, &leaf, cn, sizeof(cn), detail,
                                               DETAIL),
                             OTRP_OK);
            assert_string_equal(cn, "tam.example.com");
            assert_int_equal(otrp__jws_verify(jws, leaf, 0, detail, DETAIL), OTRP_OK);
            otrp__jose_key_free(leaf);
            otrp__x509_certs_free(got);
        } else {
            otrp__x509_certs *got = NULL;
            assert_int_equal(otrp__jws_x5c(jws, &got, detail, DETAIL), OTRP_ERR_NOT_FOUND);
            assert_int_equal(otrp__jws_verify(jws, g_tam_key, 0, detail, DETAIL), OTRP_OK);
        }
        assert_int_equal(otrp__jws_verify(jws, g_ca_key, 0, detail, DETAIL), OTRP_ERR_SIGNATURE);
        assert_int_equal(otrp__jws_verify(jws, g_ec_key, 0, detail, DETAIL),
                         OTRP_ERR_KEY_MISMATCH);
        otrp__jws_free(jws);
        otrp_buf_free(&out);
    }
    /* ES256 as TA images use it (compact, binary payload) */
    static const uint8_t TA[] = {0x7f, 'E', 'L', 'F', 0, 1, 2, 0xff};
    otrp__jws_sign_opts copts = {.form = OTRP__JOSE_FORM_COMPACT};
    otrp_buf out = {0};
    char detail[DETAIL] = "";
    assert_int_equal(otrp__jws_sign(TA, sizeof(TA), g_ec_key, &copts, &out, detail, DETAIL),
                     OTRP_OK);
    otrp__jws *jws = NULL;
    assert_int_equal(otrp__jws_parse((char *)out.data, out.len, 0, &jws, detail, DETAIL), OTRP_OK);
    assert_int_equal(otrp__jws_alg(jws), OTRP__JOSE_ALG_ES256);
    assert_int_equal(otrp__jws_verify(jws, g_ec_key, 0, detail, DETAIL), OTRP_OK);
    size_t n = 0;
    assert_memory_equal(otrp__jws_payload(jws, &n), TA, sizeof(TA));
    otrp__jws_free(jws);
    otrp_buf_free(&out);
    /* a JSON object in, not text */
    cJSON *obj = NULL;
    assert_int_equal(otrp__jws_sign_json(PAYLOAD, strlen(PAYLOAD), g_tam_key, NULL, &obj, detail,
                                         DETAIL),
                     OTRP_OK);
    assert_int_equal(otrp__jws_parse_json(obj, OTRP__JOSE_F_PROFILE, &jws, detail, DETAIL),
                     OTRP_OK);
    assert_int_equal(otrp__jws_verify(jws, g_tam_key, 0, detail, DETAIL), OTRP_OK);
    otrp__jws_free(jws);
    cJSON_Delete(obj);
    /* the signing options are checked */
    copts.header = hdr;
    assert_int_equal(otrp__jws_sign(TA, sizeof(TA), g_ec_key, &copts, &out, detail, DETAIL),
                     OTRP_ERR_JOSE_FORMAT);
    otrp__jws_sign_opts wrong = {.alg = OTRP__JOSE_ALG_RS256};
    assert_int_equal(otrp__jws_sign(TA, sizeof(TA), g_ec_key, &wrong, &out, detail, DETAIL),
                     OTRP_ERR_KEY_MISMATCH);
    otrp_buf_free(&out);
    /* PROFILE P4: x5c is also accepted in the protected header */
    char *x5c_text = cJSON_PrintUnformatted(otrp__json_member(hdr, "x5c"));
    size_t plen = strlen(x5c_text) + 32;
    char *prot = malloc(plen);
    assert_non_null(prot);
    snprintf(prot, plen, "{\"alg\":\"RS256\",\"x5c\":%s}", x5c_text);
    otrp__jws_sign_opts popts = {.protected_json = prot};
    assert_int_equal(otrp__jws_sign(PAYLOAD, strlen(PAYLOAD), g_tam_key, &popts, &out, detail,
                                    DETAIL),
                     OTRP_OK);
    assert_int_equal(otrp__jws_parse((char *)out.data, out.len, OTRP__JOSE_F_PROFILE, &jws, detail,
                                     DETAIL),
                     OTRP_OK);
    otrp__x509_certs *got = NULL;
    assert_int_equal(otrp__jws_x5c(jws, &got, detail, DETAIL), OTRP_OK);
    assert_int_equal(otrp__x509_certs_count(got), 1);
    assert_int_equal(otrp__jws_verify(jws, g_tam_key, 0, detail, DETAIL), OTRP_OK);
    otrp__x509_certs_free(got);
    otrp__jws_free(jws);
    otrp_buf_free(&out);
    /* x5c may be sent in base64url (PROFILE P2 accepts it wherever base64 is expected) */
    size_t der_len = 0;
    const uint8_t *der = otrp__x509_certs_der(chain, 0, &der_len);
    char *url = jt_b64url_encode(der, der_len);
    cJSON *arr = cJSON_CreateArray();
    cJSON_AddItemToArray(arr, cJSON_CreateString(url));
    assert_int_equal(otrp__x509_certs_new(&got), OTRP_OK);
    assert_int_equal(otrp__x509_certs_add_x5c(got, arr, detail, DETAIL), OTRP_OK);
    assert_int_equal(otrp__x509_certs_count(got), 1);
    otrp__x509_certs_free(got);
    cJSON_Delete(arr);
    free(url);
    free(prot);
    cJSON_free(x5c_text);
    cJSON_Delete(hdr);
    otrp__x509_certs_free(chain);
    otrp__x509_certs_free(anchors);
    pki_free(&p);
}

/* JWE: every alg x enc x form decrypts; the profile form is what P2 says. */
static void test_jose_jwe_roundtrip_all(void **state)
{
    (void)state;
    const otrp__jose_alg algs[] = {OTRP__JOSE_ALG_RSA1_5, OTRP__JOSE_ALG_RSA_OAEP,
                                   OTRP__JOSE_ALG_RSA_OAEP_256};
    const otrp__jose_enc encs[] = {OTRP__JOSE_ENC_A128CBC_HS256, OTRP__JOSE_ENC_A256CBC_HS512,
                                   OTRP__JOSE_ENC_A128GCM, OTRP__JOSE_ENC_A256GCM};
    const otrp__jose_form forms[] = {OTRP__JOSE_FORM_GENERAL, OTRP__JOSE_FORM_FLATTENED,
                                     OTRP__JOSE_FORM_COMPACT};
    static const char MSG[] = "{\"dsi\":{\"tee\":{\"name\":\"mock\"}}}";
    for (size_t a = 0; a < 3; a++)
        for (size_t e = 0; e < 4; e++)
            for (size_t f = 0; f < 3; f++)
                for (size_t len = 0; len <= 17; len += 17) {
                    otrp__jwe_enc_opts opts = {.alg = algs[a], .enc = encs[e], .form = forms[f]};
                    otrp_buf out = {0}, pt = {0};
                    char detail[DETAIL] = "";
                    assert_int_equal(otrp__jwe_encrypt(MSG, len, g_tam_key, &opts, &out, detail,
                                                       DETAIL),
                                     OTRP_OK);
                    otrp__jwe_info info;
                    otrp_status st = otrp__jwe_decrypt((char *)out.data, out.len, g_tam_key,
                                                       OTRP__JOSE_F_PROFILE, &pt, &info, detail,
                                                       DETAIL);
                    if (st != OTRP_OK)
                        fail_msg("%zu/%zu/%zu: %s %s", a, e, f, otrp_status_name(st), detail);
                    assert_int_equal(pt.len, len);
                    if (len)
                        assert_memory_equal(pt.data, MSG, len);
                    assert_int_equal(info.alg, algs[a]);
                    assert_int_equal(info.enc, encs[e]);
                    assert_int_equal(info.form, forms[f]);
                    /* another key: the same single status */
                    otrp_buf_reset(&pt);
                    assert_int_equal(otrp__jwe_decrypt((char *)out.data, out.len, g_ca_key, 0,
                                                       &pt, NULL, detail, DETAIL),
                                     OTRP_ERR_DECRYPT);
                    assert_string_equal(detail, "decryption failed");
                    assert_int_equal(pt.len, 0);
                    otrp_buf_free(&out);
                    otrp_buf_free(&pt);
                }
    /* the default is P2's general form with {"enc"} protected and alg per recipient */
    otrp_buf out = {0};
    char detail[DETAIL] = "";
    assert_int_equal(otrp__jwe_encrypt("x", 1, g_tam_key, NULL, &out, detail, DETAIL), OTRP_OK);
    cJSON *obj = cJSON_Parse((char *)out.data);
    assert_non_null(obj);
    assert_string_equal(otrp__json_string(obj, "protected"), "eyJlbmMiOiJBMTI4Q0JDLUhTMjU2In0");
    const cJSON *r = cJSON_GetArrayItem(otrp__json_member(obj, "recipients"), 0);
    assert_string_equal(otrp__json_string(otrp__json_member(r, "header"), "alg"), "RSA1_5");
    otrp_buf pt = {0};
    assert_int_equal(otrp__jwe_decrypt_json(obj, g_tam_key, OTRP__JOSE_F_PROFILE, &pt, NULL,
                                            detail, DETAIL),
                     OTRP_OK);
    assert_int_equal(pt.len, 1);
    cJSON_Delete(obj);
    /* an EC key cannot receive a JWE, nor decrypt one */
    otrp_buf_reset(&pt);
    assert_int_equal(otrp__jwe_encrypt("x", 1, g_ec_key, NULL, &pt, detail, DETAIL),
                     OTRP_ERR_KEY_MISMATCH);
    assert_int_equal(otrp__jwe_decrypt((char *)out.data, out.len, g_ec_key, 0, &pt, NULL, detail,
                                       DETAIL),
                     OTRP_ERR_KEY_MISMATCH);
    /* a public key cannot decrypt */
    otrp__jose_key *pub = NULL;
    assert_int_equal(otrp__jose_key_public_copy(g_tam_key, &pub), OTRP_OK);
    assert_int_equal(otrp__jwe_decrypt((char *)out.data, out.len, pub, 0, &pt, NULL, detail,
                                       DETAIL),
                     OTRP_ERR_KEY_MISMATCH);
    otrp__jose_key_free(pub);
    otrp_buf_free(&pt);
    otrp_buf_free(&out);
}

/* PROFILE P7: encrypted_ta = AES-256-CBC + PKCS#7 under a key sent as compact JWE. */
static void test_jose_p7_aes256cbc(void **state)
{
    (void)state;
    /* NIST SP 800-38A F.2.5, first block */
    static const uint8_t KEY[32] = {0x60, 0x3d, 0xeb, 0x10, 0x15, 0xca, 0x71, 0xbe, 0x2b, 0x73, 0xae,
                                    0xf0, 0x85, 0x7d, 0x77, 0x81, 0x1f, 0x35, 0x2c, 0x07, 0x3b, 0x61,
                                    0x08, 0xd7, 0x2d, 0x98, 0x10, 0xa3, 0x09, 0x14, 0xdf, 0xf4};
    static const uint8_t IV[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    static const uint8_t P1[16] = {0x6b, 0xc1, 0xbe, 0xe2, 0x2e, 0x40, 0x9f, 0x96,
                                   0xe9, 0x3d, 0x7e, 0x11, 0x73, 0x93, 0x17, 0x2a};
    static const uint8_t C1[16] = {0xf5, 0x8c, 0x4c, 0x04, 0xd6, 0xe5, 0xf1, 0xba,
                                   0x77, 0x9e, 0xab, 0xfb, 0x5f, 0x7b, 0xfb, 0xd6};
    otrp_buf ct = {0}, pt = {0};
    assert_int_equal(otrp__jose_aes256cbc_encrypt(KEY, IV, P1, 16, &ct), OTRP_OK);
    assert_int_equal(ct.len, 32); /* a full block of padding */
    assert_memory_equal(ct.data, C1, 16);
    assert_int_equal(otrp__jose_aes256cbc_decrypt(KEY, IV, ct.data, ct.len, &pt), OTRP_OK);
    assert_int_equal(pt.len, 16);
    assert_memory_equal(pt.data, P1, 16);
    for (size_t len = 0; len < 40; len += 13) {
        otrp_buf_reset(&ct);
        otrp_buf_reset(&pt);
        assert_int_equal(otrp__jose_aes256cbc_encrypt(KEY, IV, "abcdefghijklmnopqrstuvwxyz0123456789ABCD", len, &ct), OTRP_OK);
        assert_int_equal(ct.len, (len / 16 + 1) * 16);
        assert_int_equal(otrp__jose_aes256cbc_decrypt(KEY, IV, ct.data, ct.len, &pt), OTRP_OK);
        assert_int_equal(pt.len, len);
    }
    otrp_buf_reset(&pt);
    assert_int_equal(otrp__jose_aes256cbc_decrypt(KEY, IV, ct.data, ct.len - 1, &pt),
                     OTRP_ERR_DECRYPT);
    assert_int_equal(otrp__jose_aes256cbc_decrypt(KEY, IV, ct.data, 0, &pt), OTRP_ERR_DECRYPT);
    uint8_t bad[16];
    memcpy(bad, C1, 16); /* decrypts to P1, whose last byte is not valid padding */
    assert_int_equal(otrp__jose_aes256cbc_decrypt(KEY, IV, bad, 16, &pt), OTRP_ERR_DECRYPT);
    /* the key travels as a compact JWE with {"alg","enc"} protected */
    otrp__jwe_enc_opts opts = {.form = OTRP__JOSE_FORM_COMPACT};
    otrp_buf jwe = {0}, back = {0};
    char detail[DETAIL] = "";
    assert_int_equal(otrp__jwe_encrypt(KEY, 32, g_tam_key, &opts, &jwe, detail, DETAIL), OTRP_OK);
    assert_memory_equal(jwe.data, "eyJhbGciOiJSU0ExXzUiLCJlbmMiOiJBMTI4Q0JDLUhTMjU2In0.", 52);
    assert_int_equal(otrp__jwe_decrypt((char *)jwe.data, jwe.len, g_tam_key, 0, &back, NULL,
                                       detail, DETAIL),
                     OTRP_OK);
    assert_int_equal(back.len, 32);
    assert_memory_equal(back.data, KEY, 32);
    otrp_buf_free(&jwe);
    otrp_buf_free(&back);
    otrp_buf_free(&ct);
    otrp_buf_free(&pt);
}

/* Threads share one const key: the PSA slot cache and the PSA core are serialized by
 * the library's lock, so concurrent use of different operations is safe. */
struct thread_arg {
    int failures;
};

static void *worker(void *p)
{
    struct thread_arg *a = p;
    for (int i = 0; i < 8; i++) {
        otrp_buf sig = {0}, jwe = {0}, pt = {0};
        char d[DETAIL];
        if (otrp__jose_sign(g_tam_key, OTRP__JOSE_ALG_RS256, "t", 1, &sig) != OTRP_OK ||
            otrp__jose_verify(g_tam_key, OTRP__JOSE_ALG_RS256, "t", 1, sig.data, sig.len, 0) !=
                OTRP_OK ||
            otrp__jwe_encrypt("hello", 5, g_tam_key, NULL, &jwe, d, DETAIL) != OTRP_OK ||
            otrp__jwe_decrypt((char *)jwe.data, jwe.len, g_tam_key, 0, &pt, NULL, d, DETAIL) !=
                OTRP_OK ||
            pt.len != 5)
            a->failures++;
        otrp_buf_free(&sig);
        otrp_buf_free(&jwe);
        otrp_buf_free(&pt);
    }
    return NULL;
}

static void test_jose_threads_share_a_key(void **state)
{
    (void)state;
    pthread_t t[4];
    struct thread_arg args[4];
    memset(args, 0, sizeof(args));
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, worker, &args[i]), 0);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(args[i].failures, 0);
    }
}

/* Load text as a key (fails the test otherwise). */
static otrp__jose_key *load(const otrp_buf *b)
{
    otrp__jose_key *k = NULL;
    char detail[DETAIL] = "";
    otrp_status st = otrp__jose_key_load(b->data, b->len, &k, detail, sizeof(detail));
    if (st != OTRP_OK)
        fail_msg("key load: %s (%s)", otrp_status_name(st), detail);
    return k;
}

static void sign_verify(const otrp__jose_key *priv, const otrp__jose_key *pub,
                        otrp__jose_alg alg)
{
    otrp_buf sig = {0};
    assert_int_equal(otrp__jose_sign(priv, alg, "slots", 5, &sig), OTRP_OK);
    assert_int_equal(otrp__jose_verify(pub, alg, "slots", 5, sig.data, sig.len, 0), OTRP_OK);
    otrp_buf_free(&sig);
}

static void wrap_unwrap(const otrp__jose_key *pub, const otrp__jose_key *priv)
{
    otrp__jwe_enc_opts opts = {.alg = OTRP__JOSE_ALG_RSA_OAEP, .form = OTRP__JOSE_FORM_COMPACT};
    otrp_buf jwe = {0}, pt = {0};
    char detail[DETAIL] = "";
    assert_int_equal(otrp__jwe_encrypt("cek", 3, pub, &opts, &jwe, detail, DETAIL), OTRP_OK);
    assert_int_equal(otrp__jwe_decrypt((char *)jwe.data, jwe.len, priv, 0, &pt, NULL, detail,
                                       DETAIL),
                     OTRP_OK);
    assert_memory_equal(pt.data, "cek", 3);
    otrp_buf_free(&jwe);
    otrp_buf_free(&pt);
}

/* mbedTLS 2.28 has 32 PSA key slots per process. 100 keys loaded at once (RSA and
 * EC, private and public) must all work, each used after the others so the PSA key
 * cache keeps evicting; freeing them leaves no PSA key behind; and 1000 load/use/free
 * rounds do not leak one (a leak of one slot per round would fail after ~32). */
#define SLOT_KEYS_EACH 25
#define SLOT_ROUNDS 1000
#define SLOT_ROUNDS_RSA_PRIVATE 50

static void test_jose_keys_psa_slots_bounded(void **state)
{
    (void)state;
    otrp_buf rsa_pem = {0}, rsa_spki = {0}, ec_pem = {0}, ec_spki = {0};
    assert_int_equal(otrp__jose_key_export_private_pem(g_tam_key, &rsa_pem), OTRP_OK);
    assert_int_equal(otrp__jose_key_export_spki_der(g_tam_key, &rsa_spki), OTRP_OK);
    assert_int_equal(otrp__jose_key_export_private_pem(g_ec_key, &ec_pem), OTRP_OK);
    assert_int_equal(otrp__jose_key_export_spki_der(g_ec_key, &ec_spki), OTRP_OK);

    otrp__jose_key *rsa[SLOT_KEYS_EACH], *rsa_pub[SLOT_KEYS_EACH];
    otrp__jose_key *ec[SLOT_KEYS_EACH], *ec_pub[SLOT_KEYS_EACH];
    for (int i = 0; i < SLOT_KEYS_EACH; i++) {
        rsa[i] = load(&rsa_pem);
        rsa_pub[i] = load(&rsa_spki);
        ec[i] = load(&ec_pem);
        ec_pub[i] = load(&ec_spki);
    }
    for (int i = 0; i < SLOT_KEYS_EACH; i++) {
        sign_verify(rsa[i], rsa_pub[(i + 7) % SLOT_KEYS_EACH], OTRP__JOSE_ALG_RS256);
        sign_verify(ec[i], ec_pub[(i + 11) % SLOT_KEYS_EACH], OTRP__JOSE_ALG_ES256);
        wrap_unwrap(rsa_pub[i], rsa[(i + 3) % SLOT_KEYS_EACH]);
        assert_true(otrp__jose_psa_cached() <= OTRP__JOSE_PSA_CACHE);
    }
    /* the first keys, long evicted, still work */
    sign_verify(rsa[0], rsa_pub[0], OTRP__JOSE_ALG_RS256);
    sign_verify(ec[0], ec_pub[0], OTRP__JOSE_ALG_ES256);
    for (int i = 0; i < SLOT_KEYS_EACH; i++) {
        otrp__jose_key_free(rsa[i]);
        otrp__jose_key_free(rsa_pub[i]);
        otrp__jose_key_free(ec[i]);
        otrp__jose_key_free(ec_pub[i]);
    }
    /* the last uses were all of these keys: nothing is left cached */
    assert_int_equal(otrp__jose_psa_cached(), 0);

    /* load / use / free, round after round */
    otrp_buf rsa_sig = {0};
    assert_int_equal(otrp__jose_sign(g_tam_key, OTRP__JOSE_ALG_RS256, "r", 1, &rsa_sig), OTRP_OK);
    for (int i = 0; i < SLOT_ROUNDS; i++) {
        otrp__jose_key *pub = load(&rsa_spki);
        assert_int_equal(otrp__jose_verify(pub, OTRP__JOSE_ALG_RS256, "r", 1, rsa_sig.data,
                                           rsa_sig.len, 0),
                         OTRP_OK);
        otrp__jose_key_free(pub);
        if (i % (SLOT_ROUNDS / SLOT_ROUNDS_RSA_PRIVATE) == 0) {
            otrp__jose_key *priv = load(&rsa_pem), *e = load(&ec_pem);
            wrap_unwrap(g_tam_key, priv);
            sign_verify(e, g_ec_key, OTRP__JOSE_ALG_ES256);
            otrp__jose_key_free(priv);
            otrp__jose_key_free(e);
        }
    }
    /* only the long-lived keys' PSA keys remain: g_tam_key for RS256 and RSA-OAEP,
     * g_ec_key for ES256 */
    assert_true(otrp__jose_psa_cached() <= 3);
    /* and PSA still has room for everything else (a symmetric key per operation) */
    uint8_t k[32], iv[16];
    memset(k, 7, sizeof(k));
    memset(iv, 9, sizeof(iv));
    otrp_buf ct = {0};
    assert_int_equal(otrp__jose_aes256cbc_encrypt(k, iv, "x", 1, &ct), OTRP_OK);
    otrp_buf_free(&ct);
    otrp_buf_free(&rsa_sig);
    otrp_buf_free(&rsa_pem);
    otrp_buf_free(&rsa_spki);
    otrp_buf_free(&ec_pem);
    otrp_buf_free(&ec_spki);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jose_sha256_and_random),
        cmocka_unit_test(test_jose_key_generate_and_pem_roundtrip),
        cmocka_unit_test(test_jose_x509_chain_verify),
        cmocka_unit_test(test_jose_x509_subject_alt_name),
        cmocka_unit_test(test_jose_x509_encodings),
        cmocka_unit_test(test_jose_jws_roundtrip_x5c),
        cmocka_unit_test(test_jose_jwe_roundtrip_all),
        cmocka_unit_test(test_jose_p7_aes256cbc),
        cmocka_unit_test(test_jose_threads_share_a_key),
        cmocka_unit_test(test_jose_keys_psa_slots_bounded),
    };
    return cmocka_run_group_tests(tests, setup_keys, teardown_keys);
}
