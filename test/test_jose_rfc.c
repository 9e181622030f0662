/* lib/jose against the RFC 7515-7520 examples (test/vectors/rfc_vectors.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "jose/internal.h"
#include "jose/jose.h"
#include "support/jose_testutil.h"
#include "vectors/rfc_vectors.h"

#define DETAIL 160

static otrp__jose_key *jwk(const char *text)
{
    char detail[DETAIL] = "";
    otrp__jose_key *key = NULL;
    otrp_status st = otrp__jose_key_from_jwk(text, strlen(text), &key, detail, sizeof(detail));
    if (st != OTRP_OK)
        fail_msg("JWK import: %s (%s)", otrp_status_name(st), detail);
    return key;
}

static otrp_status verify_text(const char *text, const otrp__jose_key *key, char *detail)
{
    otrp__jws *jws = NULL;
    otrp_status st = otrp__jws_parse(text, strlen(text), 0, &jws, detail, DETAIL);
    if (st == OTRP_OK)
        st = otrp__jws_verify(jws, key, 0, detail, DETAIL);
    otrp__jws_free(jws);
    return st;
}

static char *concat3(const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + strlen(b) + strlen(c) + 3;
    char *s = malloc(n);
    assert_non_null(s);
    strcpy(s, a);
    strcat(s, b);
    strcat(s, c);
    return s;
}

/* RFC 7515 A.2: RS256 is deterministic, so our signature must be the RFC's. */
static void test_jose_rfc7515_a2_rs256_exact(void **state)
{
    (void)state;
    otrp__jose_key *key = jwk(RFC7515_A2_JWK);
    size_t plen = 0;
    uint8_t *payload = jt_b64url_decode(RFC7515_PAYLOAD_B64, &plen);
    assert_non_null(payload);
    otrp__jws_sign_opts opts = {.form = OTRP__JOSE_FORM_COMPACT};
    otrp_buf out = {0};
    char detail[DETAIL] = "";
    assert_int_equal(otrp__jws_sign(payload, plen, key, &opts, &out, detail, sizeof(detail)),
                     OTRP_OK);
    char *head = concat3("eyJhbGciOiJSUzI1NiJ9.", RFC7515_PAYLOAD_B64, ".");
    char *expect = concat3(head, RFC7515_A2_SIG, "");
    assert_string_equal((char *)out.data, expect);
    /* and the RFC text verifies with the public half */
    otrp__jose_key *pub = NULL;
    assert_int_equal(otrp__jose_key_public_copy(key, &pub), OTRP_OK);
    assert_int_equal(verify_text(expect, pub, detail), OTRP_OK);
    free(head);
    free(expect);
    free(payload);
    otrp_buf_free(&out);
    otrp__jose_key_free(key);
    otrp__jose_key_free(pub);
}

static void test_jose_rfc7515_a3_es256_verify(void **state)
{
    (void)state;
    otrp__jose_key *key = jwk(RFC7515_A3_JWK);
    char *head = concat3("eyJhbGciOiJFUzI1NiJ9.", RFC7515_PAYLOAD_B64, ".");
    char *text = concat3(head, RFC7515_A3_SIG, "");
    char detail[DETAIL] = "";
    assert_int_equal(verify_text(text, key, detail), OTRP_OK);
    otrp__jws *jws = NULL;
    assert_int_equal(otrp__jws_parse(text, strlen(text), 0, &jws, detail, DETAIL), OTRP_OK);
    assert_int_equal(otrp__jws_alg(jws), OTRP__JOSE_ALG_ES256);
    size_t plen = 0;
    const uint8_t *p = otrp__jws_payload(jws, &plen);
    assert_int_equal(plen, 70);
    assert_memory_equal(p, "{\"iss\":\"joe\",\r\n \"exp\":1300819380,", 33);
    otrp__jws_free(jws);
    /* an ES256 signature must not verify as RS256 with an RSA key */
    otrp__jose_key *rsa = jwk(RFC7515_A2_JWK);
    assert_int_equal(verify_text(text, rsa, detail), OTRP_ERR_KEY_MISMATCH);
    otrp__jose_key_free(rsa);
    free(head);
    free(text);
    otrp__jose_key_free(key);
}

/* RFC 7515 A.5: an unsecured JWS is refused before any key is involved. */
static void test_jose_rfc7515_a5_unsecured_rejected(void **state)
{
    (void)state;
    char *text = concat3("eyJhbGciOiJub25lIn0.", RFC7515_PAYLOAD_B64, ".");
    otrp__jws *jws = NULL;
    char detail[DETAIL] = "";
    assert_int_equal(otrp__jws_parse(text, strlen(text), 0, &jws, detail, DETAIL),
                     OTRP_ERR_JOSE_ALG);
    assert_non_null(strstr(detail, "none"));
    assert_null(jws);
    free(text);
}

static const char A6_RSA_SIG[] = "{\"protected\":\"eyJhbGciOiJSUzI1NiJ9\","
                                 "\"header\":{\"kid\":\"2010-12-29\"},\"signature\":\"";
static const char A6_EC_SIG[] = "{\"protected\":\"eyJhbGciOiJFUzI1NiJ9\","
                                "\"header\":{\"kid\":\"e9bc097a-ce51-4036-9562-d2ade882db0d\"},"
                                "\"signature\":\"";

static char *general(int rsa, int ec)
{
    char *s = malloc(4096);
    assert_non_null(s);
    snprintf(s, 4096, "{\"payload\":\"%s\",\"signatures\":[%s%s%s%s%s%s%s%s]}",
             RFC7515_PAYLOAD_B64, rsa ? A6_RSA_SIG : "", rsa ? RFC7515_A2_SIG : "",
             rsa ? "\"}" : "", rsa && ec ? "," : "", ec ? A6_EC_SIG : "",
             ec ? RFC7515_A3_SIG : "", ec ? "\"}" : "", "");
    return s;
}

/* RFC 7515 A.6: the general serialization. PROFILE P2 accepts exactly one signature,
 * so the two-signature example is refused and each signature is checked alone. */
static void test_jose_rfc7515_a6_general(void **state)
{
    (void)state;
    otrp__jose_key *rsa = jwk(RFC7515_A2_JWK);
    otrp__jose_key *ec = jwk(RFC7515_A3_JWK);
    char detail[DETAIL] = "";
    otrp__jws *jws = NULL;
    char *both = general(1, 1);
    assert_int_equal(otrp__jws_parse(both, strlen(both), 0, &jws, detail, DETAIL),
                     OTRP_ERR_JOSE_FORMAT);
    char *one = general(1, 0);
    assert_int_equal(verify_text(one, rsa, detail), OTRP_OK);
    assert_int_equal(otrp__jws_parse(one, strlen(one), 0, &jws, detail, DETAIL), OTRP_OK);
    const cJSON *kid = otrp__jws_header_member(jws, "kid");
    assert_non_null(kid);
    assert_string_equal(kid->valuestring, "2010-12-29");
    otrp__jws_free(jws);
    char *two = general(0, 1);
    assert_int_equal(verify_text(two, ec, detail), OTRP_OK);
    assert_int_equal(verify_text(two, rsa, detail), OTRP_ERR_KEY_MISMATCH);
    free(both);
    free(one);
    free(two);
    otrp__jose_key_free(rsa);
    otrp__jose_key_free(ec);
}

/* RFC 7515 A.7: the flattened serialization. */
static void test_jose_rfc7515_a7_flattened(void **state)
{
    (void)state;
    otrp__jose_key *ec = jwk(RFC7515_A3_JWK);
    char text[1024];
    snprintf(text, sizeof(text),
             "{\"payload\":\"%s\",\"protected\":\"eyJhbGciOiJFUzI1NiJ9\","
             "\"header\":{\"kid\":\"e9bc097a-ce51-4036-9562-d2ade882db0d\"},"
             "\"signature\":\"%s\"}",
             RFC7515_PAYLOAD_B64, RFC7515_A3_SIG);
    char detail[DETAIL] = "";
    assert_int_equal(verify_text(text, ec, detail), OTRP_OK);
    otrp__jose_key_free(ec);
}

/* RFC 7515 Appendix E: an unknown critical header parameter must be refused. */
static void test_jose_rfc7515_e_crit_rejected(void **state)
{
    (void)state;
    static const char *const HEADERS[] = {
        "{\"alg\":\"none\",\r\n \"crit\":[\"http://example.invalid/UNDEFINED\"],\r\n"
        " \"http://example.invalid/UNDEFINED\":true\r\n}",
        "{\"alg\":\"RS256\",\"crit\":[\"exp\"],\"exp\":1363284000}",
    };
    for (size_t i = 0; i < 2; i++) {
        char *prot = jt_b64url_encode(HEADERS[i], strlen(HEADERS[i]));
        char *head = concat3(prot, ".", RFC7515_PAYLOAD_B64);
        char *text = concat3(head, ".", RFC7515_A2_SIG);
        otrp__jws *jws = NULL;
        char detail[DETAIL] = "";
        assert_int_equal(otrp__jws_parse(text, strlen(text), 0, &jws, detail, DETAIL),
                         OTRP_ERR_JOSE_CRIT);
        assert_non_null(strstr(detail, "critical"));
        free(prot);
        free(head);
        free(text);
    }
}

static void decrypt_expect(const char *text, const char *jwk_text, const char *plaintext,
                           otrp__jose_alg alg, otrp__jose_enc enc, otrp__jose_form form)
{
    otrp__jose_key *key = jwk(jwk_text);
    otrp_buf pt = {0};
    otrp__jwe_info info;
    char detail[DETAIL] = "";
    otrp_status st = otrp__jwe_decrypt(text, strlen(text), key, 0, &pt, &info, detail,
                                       sizeof(detail));
    if (st != OTRP_OK)
        fail_msg("decrypt: %s (%s)", otrp_status_name(st), detail);
    assert_int_equal(pt.len, strlen(plaintext));
    assert_memory_equal(pt.data, plaintext, pt.len);
    assert_int_equal(info.alg, alg);
    assert_int_equal(info.enc, enc);
    assert_int_equal(info.form, form);
    otrp_buf_free(&pt);
    otrp__jose_key_free(key);
}

/* RFC 7516 A.1: RSA-OAEP + A256GCM, and the content encryption step exactly. */
static void test_jose_rfc7516_a1_oaep_a256gcm(void **state)
{
    (void)state;
    decrypt_expect(RFC7516_A1_JWE, RFC7516_A1_JWK, RFC7516_A1_PLAINTEXT,
                   OTRP__JOSE_ALG_RSA_OAEP, OTRP__JOSE_ENC_A256GCM, OTRP__JOSE_FORM_COMPACT);
    static const char AAD[] = "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ";
    uint8_t ct[128], tag[16];
    size_t ct_len = 0;
    assert_int_equal(otrp__jwe_content_encrypt(
                         OTRP__JOSE_ENC_A256GCM, RFC7516_A1_CEK, 32, RFC7516_A1_IV, 12,
                         (const uint8_t *)AAD, strlen(AAD),
                         (const uint8_t *)RFC7516_A1_PLAINTEXT, strlen(RFC7516_A1_PLAINTEXT),
                         ct, &ct_len, tag),
                     OTRP_OK);
    char *ct_b64 = jt_b64url_encode(ct, ct_len);
    char *tag_b64 = jt_b64url_encode(tag, 16);
    assert_non_null(strstr(RFC7516_A1_JWE, ct_b64));
    assert_string_equal(tag_b64, "XFBoMYUZodetZdvTiFvSkQ");
    free(ct_b64);
    free(tag_b64);
}

/* RFC 7516 A.2: RSA1_5 + A128CBC-HS256; with the RFC's CEK and IV our JWE matches the
 * RFC's except for the (randomised) encrypted key. */
static void test_jose_rfc7516_a2_rsa15_cbc_exact(void **state)
{
    (void)state;
    decrypt_expect(RFC7516_A2_JWE, RFC7516_A2_JWK, "Live long and prosper.",
                   OTRP__JOSE_ALG_RSA1_5, OTRP__JOSE_ENC_A128CBC_HS256,
                   OTRP__JOSE_FORM_COMPACT);
    otrp__jose_key *key = jwk(RFC7516_A2_JWK);
    static const uint8_t IV[] = {3, 22, 60, 12, 43, 67, 104, 105, 108, 108, 105, 99,
                                 111, 116, 104, 101};
    otrp__jwe_enc_opts opts = {.alg = OTRP__JOSE_ALG_RSA1_5,
                               .enc = OTRP__JOSE_ENC_A128CBC_HS256,
                               .form = OTRP__JOSE_FORM_COMPACT,
                               .cek = RFC7516_A2_CEK,
                               .cek_len = sizeof(RFC7516_A2_CEK),
                               .iv = IV,
                               .iv_len = sizeof(IV)};
    otrp_buf out = {0};
    char detail[DETAIL] = "";
    assert_int_equal(otrp__jwe_encrypt("Live long and prosper.", 22, key, &opts, &out, detail,
                                       sizeof(detail)),
                     OTRP_OK);
    const char *text = (const char *)out.data;
    const char *dot1 = strchr(text, '.');
    const char *dot2 = strchr(dot1 + 1, '.');
    assert_memory_equal(text, RFC7516_A2_JWE, (size_t)(dot1 - text) + 1);
    const char *rfc_tail = strstr(RFC7516_A2_JWE, ".AxY8");
    assert_string_equal(dot2, rfc_tail);
    otrp_buf pt = {0};
    assert_int_equal(otrp__jwe_decrypt(text, out.len, key, 0, &pt, NULL, detail, DETAIL),
                     OTRP_OK);
    assert_int_equal(pt.len, 22);
    otrp_buf_free(&pt);
    otrp_buf_free(&out);
    otrp__jose_key_free(key);
}

/* RFC 7516 A.4: general JSON; one RSA1_5 recipient decrypts, two are refused
 * (PROFILE P2: exactly one recipient). */
static void test_jose_rfc7516_a4_general(void **state)
{
    (void)state;
    decrypt_expect(RFC7516_A4_JWE_ONE, RFC7516_A2_JWK, "Live long and prosper.",
                   OTRP__JOSE_ALG_RSA1_5, OTRP__JOSE_ENC_A128CBC_HS256,
                   OTRP__JOSE_FORM_GENERAL);
    otrp__jose_key *key = jwk(RFC7516_A2_JWK);
    otrp_buf pt = {0};
    char detail[DETAIL] = "";
    assert_int_equal(otrp__jwe_decrypt(RFC7516_A4_JWE_TWO, strlen(RFC7516_A4_JWE_TWO), key, 0,
                                       &pt, NULL, detail, DETAIL),
                     OTRP_ERR_JOSE_FORMAT);
    assert_int_equal(pt.len, 0);
    /* the shared unprotected header is not allowed by the profile */
    assert_int_equal(otrp__jwe_decrypt(RFC7516_A4_JWE_ONE, strlen(RFC7516_A4_JWE_ONE), key,
                                       OTRP__JOSE_F_PROFILE, &pt, NULL, detail, DETAIL),
                     OTRP_ERR_JOSE_FORMAT);
    otrp__jose_key_free(key);
}

/* The four parts of a CBC-HMAC input, joined (to compare with the RFC's B.4 listing). */
static size_t join_input(const otrp__cbc_hmac_input *in, uint8_t *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < OTRP__CBC_HMAC_PARTS; i++) {
        assert_true(n + in->len[i] <= cap);
        memcpy(out + n, in->part[i], in->len[i]);
        n += in->len[i];
    }
    return n;
}

/* RFC 7516 Appendix B: every intermediate value of AES_128_CBC_HMAC_SHA_256, through
 * the steps the JWE code runs, then the whole through the JWE content encryption. */
static void test_jose_rfc7516_b_cbc_hmac_steps(void **state)
{
    (void)state;
    const uint8_t *aad = (const uint8_t *)RFC7516_B_AAD;
    size_t aad_len = strlen(RFC7516_B_AAD);
    const uint8_t *p = (const uint8_t *)RFC7516_B_PLAINTEXT;
    size_t p_len = strlen(RFC7516_B_PLAINTEXT);
    /* B.1 */
    otrp__cbc_hmac_keys keys;
    assert_int_equal(otrp__cbc_hmac_split(RFC7516_A2_CEK, sizeof(RFC7516_A2_CEK), &keys),
                     OTRP_OK);
    assert_int_equal(keys.len, sizeof(RFC7516_B1_MAC_KEY));
    assert_memory_equal(keys.mac_key, RFC7516_B1_MAC_KEY, sizeof(RFC7516_B1_MAC_KEY));
    assert_memory_equal(keys.enc_key, RFC7516_B1_ENC_KEY, sizeof(RFC7516_B1_ENC_KEY));
    /* B.2 */
    uint8_t e[64];
    size_t e_len = 0;
    assert_int_equal(otrp__cbc_hmac_aes(1, &keys, RFC7516_B_IV, p, p_len, e, sizeof(e), &e_len),
                     OTRP_OK);
    assert_int_equal(e_len, sizeof(RFC7516_B2_E));
    assert_memory_equal(e, RFC7516_B2_E, e_len);
    /* B.3 */
    uint8_t al[8];
    otrp__cbc_hmac_al(aad_len, al);
    assert_memory_equal(al, RFC7516_B3_AL, sizeof(al));
    /* B.4 */
    otrp__cbc_hmac_input in;
    otrp__cbc_hmac_input_init(&in, aad, aad_len, RFC7516_B_IV, e, e_len);
    uint8_t joined[256];
    size_t joined_len = join_input(&in, joined, sizeof(joined));
    assert_int_equal(joined_len, sizeof(RFC7516_B4_HMAC_INPUT));
    assert_memory_equal(joined, RFC7516_B4_HMAC_INPUT, joined_len);
    /* B.5 */
    uint8_t m[OTRP__CBC_HMAC_MAX_KEY];
    size_t m_len = 0;
    assert_int_equal(otrp__cbc_hmac_mac(&keys, &in, m, sizeof(m), &m_len), OTRP_OK);
    assert_int_equal(m_len, sizeof(RFC7516_B5_M));
    assert_memory_equal(m, RFC7516_B5_M, m_len);
    /* B.6: the core and the JWE content encryption both emit E and T */
    uint8_t ct[64], tag[32];
    size_t ct_len = 0;
    assert_int_equal(otrp__cbc_hmac_encrypt(RFC7516_A2_CEK, sizeof(RFC7516_A2_CEK),
                                            RFC7516_B_IV, aad, aad_len, p, p_len, ct, &ct_len,
                                            tag),
                     OTRP_OK);
    assert_memory_equal(tag, RFC7516_B6_T, sizeof(RFC7516_B6_T));
    memset(ct, 0, sizeof(ct));
    memset(tag, 0, sizeof(tag));
    assert_int_equal(otrp__jwe_content_encrypt(OTRP__JOSE_ENC_A128CBC_HS256, RFC7516_A2_CEK,
                                               sizeof(RFC7516_A2_CEK), RFC7516_B_IV, 16, aad,
                                               aad_len, p, p_len, ct, &ct_len, tag),
                     OTRP_OK);
    assert_int_equal(ct_len, sizeof(RFC7516_B2_E));
    assert_memory_equal(ct, RFC7516_B2_E, ct_len);
    assert_memory_equal(tag, RFC7516_B6_T, sizeof(RFC7516_B6_T));
    /* B.7: the received tag is checked against the recomputed one before decrypting */
    uint8_t pt[64];
    size_t pt_len = 0;
    assert_int_equal(otrp__jwe_content_decrypt(OTRP__JOSE_ENC_A128CBC_HS256, RFC7516_A2_CEK,
                                               sizeof(RFC7516_A2_CEK), RFC7516_B_IV, 16, aad,
                                               aad_len, RFC7516_B2_E, sizeof(RFC7516_B2_E),
                                               RFC7516_B6_T, sizeof(RFC7516_B6_T), pt, &pt_len),
                     OTRP_OK);
    assert_int_equal(pt_len, p_len);
    assert_memory_equal(pt, p, p_len);
    uint8_t bad[16];
    memcpy(bad, RFC7516_B6_T, sizeof(bad));
    bad[0] ^= 0x80;
    assert_int_equal(otrp__cbc_hmac_decrypt(RFC7516_A2_CEK, sizeof(RFC7516_A2_CEK),
                                            RFC7516_B_IV, aad, aad_len, RFC7516_B2_E,
                                            sizeof(RFC7516_B2_E), bad, sizeof(bad), pt, &pt_len),
                     OTRP_ERR_DECRYPT);
    /* the full M is not a valid tag either: T is exactly its first half */
    assert_int_equal(otrp__cbc_hmac_decrypt(RFC7516_A2_CEK, sizeof(RFC7516_A2_CEK),
                                            RFC7516_B_IV, aad, aad_len, RFC7516_B2_E,
                                            sizeof(RFC7516_B2_E), RFC7516_B5_M,
                                            sizeof(RFC7516_B5_M), pt, &pt_len),
                     OTRP_ERR_DECRYPT);
}

/* RFC 7518 B.1-B.3 through the one CBC-HMAC core: K, MAC_KEY, ENC_KEY, P, IV, A, AL, E,
 * M and T of each case. enc is the JWE name of the case (NONE for A192CBC-HS384,
 * which the profile does not allow in a header). */
static void cbc_hmac_case(size_t k_len, otrp__jose_enc enc, const uint8_t *e, size_t e_len,
                          const uint8_t *m_expect, size_t m_expect_len, const uint8_t *t,
                          size_t t_len)
{
    uint8_t k[OTRP__CBC_HMAC_MAX_KEY] = {0};
    for (size_t i = 0; i < k_len; i++)
        k[i] = (uint8_t)i; /* K = 00 01 02 ... */
    size_t half = k_len / 2;
    otrp__cbc_hmac_keys keys;
    assert_int_equal(otrp__cbc_hmac_split(k, k_len, &keys), OTRP_OK);
    assert_int_equal(keys.len, half);
    assert_int_equal(keys.len, t_len);
    for (size_t i = 0; i < half; i++) {
        assert_int_equal(keys.mac_key[i], i);        /* MAC_KEY = 00 .. */
        assert_int_equal(keys.enc_key[i], half + i); /* ENC_KEY = the second half */
    }
    /* P, IV, A: B_P, B_IV, B_A (shared by the three cases) */
    assert_int_equal(sizeof(B_P), 128);
    assert_int_equal(sizeof(B_A), 42);
    uint8_t ct[256];
    size_t ct_len = 0;
    assert_int_equal(otrp__cbc_hmac_aes(1, &keys, B_IV, B_P, sizeof(B_P), ct, sizeof(ct),
                                        &ct_len),
                     OTRP_OK);
    assert_int_equal(ct_len, e_len);
    assert_memory_equal(ct, e, e_len);
    otrp__cbc_hmac_input in;
    otrp__cbc_hmac_input_init(&in, B_A, sizeof(B_A), B_IV, ct, ct_len);
    assert_memory_equal(in.al, RFC7518_B_AL, sizeof(RFC7518_B_AL));
    uint8_t joined[512];
    size_t joined_len = join_input(&in, joined, sizeof(joined));
    assert_int_equal(joined_len, sizeof(B_A) + sizeof(B_IV) + e_len + sizeof(RFC7518_B_AL));
    assert_memory_equal(joined + sizeof(B_A) + sizeof(B_IV), e, e_len);
    uint8_t m[OTRP__CBC_HMAC_MAX_KEY];
    size_t m_len = 0;
    assert_int_equal(otrp__cbc_hmac_mac(&keys, &in, m, sizeof(m), &m_len), OTRP_OK);
    assert_int_equal(m_len, m_expect_len);
    assert_memory_equal(m, m_expect, m_len);
    uint8_t tag[32], pt[256];
    size_t pt_len = 0;
    assert_int_equal(otrp__cbc_hmac_encrypt(k, k_len, B_IV, B_A, sizeof(B_A), B_P, sizeof(B_P),
                                            ct, &ct_len, tag),
                     OTRP_OK);
    assert_memory_equal(ct, e, e_len);
    assert_memory_equal(tag, t, t_len);
    assert_int_equal(otrp__cbc_hmac_decrypt(k, k_len, B_IV, B_A, sizeof(B_A), e, e_len, t,
                                            t_len, pt, &pt_len),
                     OTRP_OK);
    assert_int_equal(pt_len, sizeof(B_P));
    assert_memory_equal(pt, B_P, pt_len);
    /* one flipped bit in the tag: refused before decrypting */
    uint8_t bad[32];
    memcpy(bad, t, t_len);
    bad[t_len - 1] ^= 1;
    assert_int_equal(otrp__cbc_hmac_decrypt(k, k_len, B_IV, B_A, sizeof(B_A), e, e_len, bad,
                                            t_len, pt, &pt_len),
                     OTRP_ERR_DECRYPT);
    if (enc == OTRP__JOSE_ENC_NONE)
        return;
    /* the JWE content encryption is the same core */
    assert_int_equal(otrp__jwe_cek_len(enc), k_len);
    assert_int_equal(otrp__jwe_tag_len(enc), t_len);
    memset(tag, 0, sizeof(tag));
    assert_int_equal(otrp__jwe_content_encrypt(enc, k, k_len, B_IV, 16, B_A, sizeof(B_A), B_P,
                                               sizeof(B_P), ct, &ct_len, tag),
                     OTRP_OK);
    assert_int_equal(ct_len, e_len);
    assert_memory_equal(ct, e, e_len);
    assert_memory_equal(tag, t, t_len);
    assert_int_equal(otrp__jwe_content_decrypt(enc, k, k_len, B_IV, 16, B_A, sizeof(B_A), e,
                                               e_len, bad, t_len, pt, &pt_len),
                     OTRP_ERR_DECRYPT);
    assert_int_equal(pt_len, 0);
}

static void test_jose_rfc7518_b1_b3_cbc_hmac(void **state)
{
    (void)state;
    cbc_hmac_case(32, OTRP__JOSE_ENC_A128CBC_HS256, B1_E, sizeof(B1_E), RFC7518_B1_M,
                  sizeof(RFC7518_B1_M), B1_T, sizeof(B1_T));
    cbc_hmac_case(48, OTRP__JOSE_ENC_NONE, RFC7518_B2_E, sizeof(RFC7518_B2_E), RFC7518_B2_M,
                  sizeof(RFC7518_B2_M), RFC7518_B2_T, sizeof(RFC7518_B2_T));
    cbc_hmac_case(64, OTRP__JOSE_ENC_A256CBC_HS512, B3_E, sizeof(B3_E), RFC7518_B3_M,
                  sizeof(RFC7518_B3_M), B3_T, sizeof(B3_T));
    /* other key lengths are not CBC-HMAC keys */
    otrp__cbc_hmac_keys keys;
    uint8_t k[OTRP__CBC_HMAC_MAX_KEY] = {0};
    assert_int_equal(otrp__cbc_hmac_split(k, 16, &keys), OTRP_ERR_INVALID_ARG);
    assert_int_equal(otrp__cbc_hmac_split(k, 40, &keys), OTRP_ERR_INVALID_ARG);
}

/* RFC 7518 B.2's algorithm is proven above, but PROFILE P3 does not list A192CBC-HS384:
 * a JWE naming it is refused at the header, before any key is used. */
static void test_jose_rfc7518_b2_a192cbc_header_rejected(void **state)
{
    (void)state;
    assert_int_equal(otrp__jose_enc_from_name("A192CBC-HS384"), OTRP__JOSE_ENC_NONE);
    static const char PROT[] = "{\"alg\":\"RSA1_5\",\"enc\":\"A192CBC-HS384\"}";
    char *prot = jt_b64url_encode(PROT, strlen(PROT));
    char *iv = jt_b64url_encode(B_IV, sizeof(B_IV));
    char *ct = jt_b64url_encode(RFC7518_B2_E, sizeof(RFC7518_B2_E));
    char *tag = jt_b64url_encode(RFC7518_B2_T, sizeof(RFC7518_B2_T));
    char text[2048];
    snprintf(text, sizeof(text), "%s.%s.%s.%s.%s", prot, RFC7516_A2_EK, iv, ct, tag);
    otrp__jose_key *key = jwk(RFC7516_A2_JWK);
    otrp_buf pt = {0};
    char detail[DETAIL] = "";
    assert_int_equal(otrp__jwe_decrypt(text, strlen(text), key, 0, &pt, NULL, detail, DETAIL),
                     OTRP_ERR_JOSE_ALG);
    assert_non_null(strstr(detail, "enc"));
    assert_int_equal(pt.len, 0);
    /* the same in the general JSON form the profile emits */
    static const char GPROT[] = "{\"enc\":\"A192CBC-HS384\"}";
    char *gprot = jt_b64url_encode(GPROT, strlen(GPROT));
    snprintf(text, sizeof(text),
             "{\"protected\":\"%s\",\"recipients\":[{\"header\":{\"alg\":\"RSA1_5\"},"
             "\"encrypted_key\":\"%s\"}],\"iv\":\"%s\",\"ciphertext\":\"%s\",\"tag\":\"%s\"}",
             gprot, RFC7516_A2_EK, iv, ct, tag);
    assert_int_equal(otrp__jwe_decrypt(text, strlen(text), key, OTRP__JOSE_F_PROFILE, &pt, NULL,
                                       detail, DETAIL),
                     OTRP_ERR_JOSE_ALG);
    otrp__jose_key_free(key);
    free(prot);
    free(gprot);
    free(iv);
    free(ct);
    free(tag);
}

/* RFC 7517 A.1 / A.2: public and private JWKs; exports round-trip. */
static void test_jose_rfc7517_jwk_import(void **state)
{
    (void)state;
    otrp__jose_key *ec_pub = jwk(RFC7517_A1_EC);
    otrp__jose_key *rsa_pub = jwk(RFC7517_A1_RSA);
    otrp__jose_key *ec = jwk(RFC7517_A2_EC);
    otrp__jose_key *rsa = jwk(RFC7517_A2_RSA);
    assert_int_equal(otrp__jose_key_type(ec), OTRP__JOSE_KTY_EC_P256);
    assert_int_equal(otrp__jose_key_bits(rsa), 2048);
    assert_false(otrp__jose_key_has_private(ec_pub));
    assert_true(otrp__jose_key_has_private(rsa));
    assert_true(otrp__jose_key_public_equal(ec, ec_pub));
    assert_true(otrp__jose_key_public_equal(rsa, rsa_pub));
    assert_false(otrp__jose_key_public_equal(rsa, ec));
    otrp_buf text = {0};
    assert_int_equal(otrp__jose_key_export_public_jwk_text(ec, &text), OTRP_OK);
    assert_string_equal((char *)text.data,
                        "{\"kty\":\"EC\",\"crv\":\"P-256\","
                        "\"x\":\"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4\","
                        "\"y\":\"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM\"}");
    otrp_buf_reset(&text);
    assert_int_equal(otrp__jose_key_export_public_jwk_text(rsa, &text), OTRP_OK);
    otrp__jose_key *again = jwk((char *)text.data);
    assert_true(otrp__jose_key_public_equal(again, rsa_pub));
    /* sign with the private key, verify with the imported public one */
    otrp_buf sig = {0};
    assert_int_equal(otrp__jose_sign(ec, OTRP__JOSE_ALG_ES256, "x", 1, &sig), OTRP_OK);
    assert_int_equal(sig.len, 64);
    assert_int_equal(otrp__jose_verify(ec_pub, OTRP__JOSE_ALG_ES256, "x", 1, sig.data, sig.len, 0),
                     OTRP_OK);
    otrp_buf_free(&sig);
    otrp_buf_free(&text);
    otrp__jose_key_free(again);
    otrp__jose_key_free(ec_pub);
    otrp__jose_key_free(rsa_pub);
    otrp__jose_key_free(ec);
    otrp__jose_key_free(rsa);
}

/* RFC 7520 4.1: RS256 with a kid in the protected header. */
static void test_jose_rfc7520_4_1_rs256(void **state)
{
    (void)state;
    otrp__jose_key *key = jwk(RFC7520_3_3_PUB);
    char detail[DETAIL] = "";
    otrp__jws *jws = NULL;
    assert_int_equal(otrp__jws_parse(RFC7520_4_1_JWS, strlen(RFC7520_4_1_JWS), 0, &jws, detail,
                                     DETAIL),
                     OTRP_OK);
    assert_int_equal(otrp__jws_verify(jws, key, 0, detail, DETAIL), OTRP_OK);
    size_t n = 0;
    const uint8_t *p = otrp__jws_payload(jws, &n);
    assert_int_equal(n, strlen(RFC7520_4_PAYLOAD));
    assert_memory_equal(p, RFC7520_4_PAYLOAD, n);
    otrp__jws_free(jws);
    /* the profile allows only alg (and x5c) in the protected header */
    assert_int_equal(otrp__jws_parse(RFC7520_4_1_JWS, strlen(RFC7520_4_1_JWS),
                                     OTRP__JOSE_F_PROFILE, &jws, detail, DETAIL),
                     OTRP_ERR_JOSE_FORMAT);
    assert_non_null(strstr(detail, "kid"));
    otrp__jose_key_free(key);
}

/* RFC 7520 4.1 again, signing: RS256 is deterministic, so with the 3.4 private key and
 * the example's protected header we must emit the example's exact JWS. */
static void test_jose_rfc7520_4_1_rs256_exact(void **state)
{
    (void)state;
    otrp__jose_key *priv = jwk(RFC7520_3_4_PRIV);
    otrp__jose_key *pub = jwk(RFC7520_3_3_PUB);
    assert_true(otrp__jose_key_public_equal(priv, pub));
    otrp__jws_sign_opts opts = {
        .form = OTRP__JOSE_FORM_COMPACT,
        .protected_json = "{\"alg\":\"RS256\",\"kid\":\"bilbo.baggins@hobbiton.example\"}",
    };
    otrp_buf out = {0};
    char detail[DETAIL] = "";
    assert_int_equal(otrp__jws_sign(RFC7520_4_PAYLOAD, strlen(RFC7520_4_PAYLOAD), priv, &opts,
                                    &out, detail, sizeof(detail)),
                     OTRP_OK);
    assert_int_equal(out.len, strlen(RFC7520_4_1_JWS));
    assert_memory_equal(out.data, RFC7520_4_1_JWS, out.len);
    /* and what we emitted verifies with the 3.3 public key */
    assert_int_equal(verify_text(RFC7520_4_1_JWS, pub, detail), OTRP_OK);
    otrp_buf_free(&out);
    otrp__jose_key_free(priv);
    otrp__jose_key_free(pub);
}

/* RFC 7520 5.1 (RSA1_5 + A128CBC-HS256, flattened) and 5.2 (RSA-OAEP + A256GCM,
 * RSA-4096, compact). */
static void test_jose_rfc7520_5_1_5_2(void **state)
{
    (void)state;
    decrypt_expect(RFC7520_5_1_JWE, RFC7520_5_1_JWK, RFC7520_5_PLAINTEXT,
                   OTRP__JOSE_ALG_RSA1_5, OTRP__JOSE_ENC_A128CBC_HS256,
                   OTRP__JOSE_FORM_FLATTENED);
    decrypt_expect(RFC7520_5_2_JWE, RFC7520_5_2_JWK, RFC7520_5_PLAINTEXT,
                   OTRP__JOSE_ALG_RSA_OAEP, OTRP__JOSE_ENC_A256GCM, OTRP__JOSE_FORM_COMPACT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jose_rfc7515_a2_rs256_exact),
        cmocka_unit_test(test_jose_rfc7515_a3_es256_verify),
        cmocka_unit_test(test_jose_rfc7515_a5_unsecured_rejected),
        cmocka_unit_test(test_jose_rfc7515_a6_general),
        cmocka_unit_test(test_jose_rfc7515_a7_flattened),
        cmocka_unit_test(test_jose_rfc7515_e_crit_rejected),
        cmocka_unit_test(test_jose_rfc7516_a1_oaep_a256gcm),
        cmocka_unit_test(test_jose_rfc7516_a2_rsa15_cbc_exact),
        cmocka_unit_test(test_jose_rfc7516_a4_general),
        cmocka_unit_test(test_jose_rfc7516_b_cbc_hmac_steps),
        cmocka_unit_test(test_jose_rfc7518_b1_b3_cbc_hmac),
        cmocka_unit_test(test_jose_rfc7518_b2_a192cbc_header_rejected),
        cmocka_unit_test(test_jose_rfc7517_jwk_import),
        cmocka_unit_test(test_jose_rfc7520_4_1_rs256),
        cmocka_unit_test(test_jose_rfc7520_4_1_rs256_exact),
        cmocka_unit_test(test_jose_rfc7520_5_1_5_2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
