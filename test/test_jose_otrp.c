/* lib/jose against the signed sample messages of draft-ietf-teep-opentrustprotocol-03
 * (test/vectors/otrp, see the README there for provenance and licence). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "jose/jose.h"
#include "support/jose_testutil.h"
#include "util/json_strict.h"

#define DETAIL 200
/* 2016-01-01T00:00:00Z: inside the sample certificate's validity (2015-07-02 ..
 * 2020-06-30); 2021-01-01 is after it. */
#define T_2016 1451606400
#define T_2021 1609459200

static const char *const GOOD[] = {"UpdateTARequest", "UpdateTAResponse", "DeleteTARequest",
                                   "DeleteTAResponse"};
static const char *const SMART_QUOTES[] = {"CreateSDRequest", "CreateSDResponse"};

struct sample {
    otrp_buf text;
    cJSON *doc;
    const cJSON *jws;
};

static void sample_load(const char *name, struct sample *s)
{
    char path[128];
    memset(s, 0, sizeof(*s));
    snprintf(path, sizeof(path), "otrp/otrp03_A_%s.json", name);
    assert_int_equal(jt_read_vector(path, &s->text), 0);
    char detail[DETAIL] = "";
    assert_int_equal(otrp__json_parse((char *)s->text.data, s->text.len, OTRP__JSON_MAX_DEPTH,
                                      &s->doc, detail, DETAIL),
                     OTRP_OK);
    s->jws = otrp__json_member(s->doc, name);
    assert_non_null(s->jws);
}

static void sample_free(struct sample *s)
{
    cJSON_Delete(s->doc);
    otrp_buf_free(&s->text);
}

static otrp__x509_certs *signer_cert(void)
{
    otrp_buf der = {0};
    assert_int_equal(jt_read_vector("otrp/otrp03_sample_signer_cert.der", &der), 0);
    otrp__x509_certs *c = NULL;
    char detail[DETAIL] = "";
    assert_int_equal(otrp__x509_certs_new(&c), OTRP_OK);
    assert_int_equal(otrp__x509_certs_add(c, der.data, der.len, detail, DETAIL), OTRP_OK);
    otrp_buf_free(&der);
    return c;
}

/* The self-signed RSA-1024/SHA-1 signer certificate verifies only at a time inside its
 * validity and only when weak (test-vector) keys are allowed. */
static void test_jose_otrp_signer_cert_fixed_time(void **state)
{
    (void)state;
    otrp__x509_certs *cert = signer_cert();
    otrp__jose_key *key = NULL;
    char cn[64], detail[DETAIL] = "";
    assert_int_equal(otrp__x509_verify(cert, cert, T_2016, OTRP__JOSE_F_ALLOW_WEAK_RSA, &key, cn,
                                       sizeof(cn), detail, DETAIL),
                     OTRP_OK);
    assert_string_equal(cn, ""); /* the sample has no CN */
    assert_int_equal(otrp__jose_key_bits(key), 1024);
    otrp__jose_key_free(key);
    assert_int_equal(otrp__x509_verify(cert, cert, T_2021, OTRP__JOSE_F_ALLOW_WEAK_RSA, NULL, NULL,
                                       0, detail, DETAIL),
                     OTRP_ERR_CERT_EXPIRED);
    assert_int_equal(otrp__x509_verify(cert, cert, T_2016, 0, NULL, NULL, 0, detail, DETAIL),
                     OTRP_ERR_KEY);
    assert_int_equal(otrp__x509_certs_subject_cn(cert, 0, cn, sizeof(cn)), OTRP_ERR_NOT_FOUND);
    otrp__x509_certs_free(cert);
}

static void test_jose_otrp_samples_verify(void **state)
{
    (void)state;
    otrp__x509_certs *cert = signer_cert();
    otrp__jose_key *key = NULL;
    char detail[DETAIL] = "";
    assert_int_equal(otrp__x509_verify(cert, cert, T_2016, OTRP__JOSE_F_ALLOW_WEAK_RSA, &key, NULL,
                                       0, detail, DETAIL),
                     OTRP_OK);
    for (size_t i = 0; i < sizeof(GOOD) / sizeof(GOOD[0]); i++) {
        struct sample s;
        sample_load(GOOD[i], &s);
        otrp__jws *jws = NULL;
        otrp_status st = otrp__jws_parse_json(s.jws, 0, &jws, detail, DETAIL);
        if (st != OTRP_OK)
            fail_msg("%s: %s (%s)", GOOD[i], otrp_status_name(st), detail);
        st = otrp__jws_verify(jws, key, OTRP__JOSE_F_ALLOW_WEAK_RSA, detail, DETAIL);
        if (st != OTRP_OK)
            fail_msg("%s verify: %s (%s)", GOOD[i], otrp_status_name(st), detail);
        /* RSA-1024 is below the profile's minimum unless explicitly allowed */
        assert_int_equal(otrp__jws_verify(jws, key, 0, detail, DETAIL), OTRP_ERR_KEY);
        /* the decoded payload is the documented one */
        char path[128];
        otrp_buf want = {0};
        snprintf(path, sizeof(path), "otrp/otrp03_A_%s.payload.txt", GOOD[i]);
        assert_int_equal(jt_read_vector(path, &want), 0);
        size_t n = 0;
        const uint8_t *p = otrp__jws_payload(jws, &n);
        assert_int_equal(n, want.len);
        assert_memory_equal(p, want.data, n);
        /* the draft's kid/signer header is not the profile's */
        otrp__jws *strict = NULL;
        assert_int_equal(otrp__jws_parse_json(s.jws, OTRP__JOSE_F_PROFILE, &strict, detail, DETAIL),
                         OTRP_ERR_JOSE_FORMAT);
        otrp__jws_free(jws);
        otrp_buf_free(&want);
        sample_free(&s);
    }
    otrp__jose_key_free(key);
    otrp__x509_certs_free(cert);
}

/* CreateSD samples: the protected header uses typographic quotes, so it is not JSON and
 * is refused with that reason; the signature over the received strings is still valid,
 * which the raw verification proves. */
static void test_jose_otrp_smart_quote_headers(void **state)
{
    (void)state;
    otrp__x509_certs *cert = signer_cert();
    otrp__jose_key *key = NULL;
    char detail[DETAIL] = "";
    assert_int_equal(otrp__x509_certs_public_key(cert, 0, &key, detail, DETAIL), OTRP_OK);
    for (size_t i = 0; i < 2; i++) {
        struct sample s;
        sample_load(SMART_QUOTES[i], &s);
        otrp__jws *jws = NULL;
        detail[0] = 0;
        assert_int_equal(otrp__jws_parse_json(s.jws, 0, &jws, detail, DETAIL),
                         OTRP_ERR_JOSE_FORMAT);
        assert_null(jws);
        assert_non_null(strstr(detail, "typographic quotes"));
        /* bypass the header parse: ASCII(protected) "." ASCII(payload) */
        const char *prot = otrp__json_string(s.jws, "protected");
        const char *payload = otrp__json_string(s.jws, "payload");
        const char *sig_b64 = otrp__json_string(s.jws, "signature");
        size_t in_len = strlen(prot) + 1 + strlen(payload);
        char *input = malloc(in_len + 1);
        assert_non_null(input);
        snprintf(input, in_len + 1, "%s.%s", prot, payload);
        size_t sig_len = 0;
        uint8_t *sig = jt_b64url_decode(sig_b64, &sig_len);
        assert_non_null(sig);
        assert_int_equal(otrp__jose_verify(key, OTRP__JOSE_ALG_RS256, input, in_len, sig, sig_len,
                                           OTRP__JOSE_F_ALLOW_WEAK_RSA),
                         OTRP_OK);
        input[in_len - 1] ^= 1; /* one bit of the payload */
        assert_int_equal(otrp__jose_verify(key, OTRP__JOSE_ALG_RS256, input, in_len, sig, sig_len,
                                           OTRP__JOSE_F_ALLOW_WEAK_RSA),
                         OTRP_ERR_SIGNATURE);
        free(sig);
        free(input);
        sample_free(&s);
    }
    otrp__jose_key_free(key);
    otrp__x509_certs_free(cert);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jose_otrp_signer_cert_fixed_time),
        cmocka_unit_test(test_jose_otrp_samples_verify),
        cmocka_unit_test(test_jose_otrp_smart_quote_headers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
