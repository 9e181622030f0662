/* lib/jose negative tests: every kind of damage gives its own specific status. */
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

static otrp__jose_key *g_key, *g_other, *g_ec;

static int setup(void **state)
{
    (void)state;
    char d[DETAIL];
    if (otrp__jose_key_generate(OTRP__JOSE_KTY_RSA, 2048, &g_key, d, DETAIL) != OTRP_OK ||
        otrp__jose_key_generate(OTRP__JOSE_KTY_RSA, 2048, &g_other, d, DETAIL) != OTRP_OK ||
        otrp__jose_key_generate(OTRP__JOSE_KTY_EC_P256, 0, &g_ec, d, DETAIL) != OTRP_OK)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    otrp__jose_key_free(g_key);
    otrp__jose_key_free(g_other);
    otrp__jose_key_free(g_ec);
    return 0;
}

static const char PAYLOAD[] = "{\"UpdateTATBSRequest\":{\"ver\":\"1.0\",\"rid\":\"1\"}}";

static cJSON *signed_obj(void)
{
    cJSON *obj = NULL;
    char d[DETAIL];
    assert_int_equal(otrp__jws_sign_json(PAYLOAD, strlen(PAYLOAD), g_key, NULL, &obj, d, DETAIL),
                     OTRP_OK);
    return obj;
}

/* Parse and verify a JWS given as JSON text; the first failing status. */
static otrp_status jws_check(const char *text, const otrp__jose_key *key, unsigned flags)
{
    otrp__jws *jws = NULL;
    char d[DETAIL] = "";
    otrp_status st = otrp__jws_parse(text, strlen(text), flags, &jws, d, DETAIL);
    if (st == OTRP_OK)
        st = otrp__jws_verify(jws, key, 0, d, DETAIL);
    if (st != OTRP_OK)
        assert_true(d[0] != 0); /* every failure says why */
    otrp__jws_free(jws);
    return st;
}

static otrp_status jws_with(const char *member, const char *value)
{
    cJSON *obj = signed_obj();
    if (value == NULL)
        cJSON_DeleteItemFromObjectCaseSensitive(obj, member);
    else
        cJSON_ReplaceItemInObjectCaseSensitive(obj, member, cJSON_CreateString(value));
    char *text = cJSON_PrintUnformatted(obj);
    otrp_status st = jws_check(text, g_key, 0);
    cJSON_free(text);
    cJSON_Delete(obj);
    return st;
}

/* Change one base64url character of a member to another valid one. */
static char *flip(const char *s, size_t pos)
{
    char *c = strdup(s);
    assert_non_null(c);
    size_t n = strlen(c);
    pos = pos < n ? pos : n - 1;
    c[pos] = c[pos] == 'A' ? 'B' : 'A';
    return c;
}

/* The base64url of the decoded member minus its last drop bytes. */
static char *truncated(const char *b64, size_t drop)
{
    size_t n = 0;
    uint8_t *raw = jt_b64url_decode(b64, &n);
    assert_non_null(raw);
    assert_true(n > drop);
    char *out = jt_b64url_encode(raw, n - drop);
    free(raw);
    return out;
}

static char *b64u(const char *s)
{
    return jt_b64url_encode(s, strlen(s));
}

static void test_jose_neg_jws_tampering(void **state)
{
    (void)state;
    cJSON *obj = signed_obj();
    char *text = cJSON_PrintUnformatted(obj);
    assert_int_equal(jws_check(text, g_key, OTRP__JOSE_F_PROFILE), OTRP_OK);
    const char *payload = otrp__json_string(obj, "payload");
    const char *sig = otrp__json_string(obj, "signature");
    char *p2 = flip(payload, 5), *s2 = flip(sig, 7);
    assert_int_equal(jws_with("payload", p2), OTRP_ERR_SIGNATURE);
    assert_int_equal(jws_with("signature", s2), OTRP_ERR_SIGNATURE);
    char *prot = b64u("{\"alg\":\"RS256\",\"typ\":\"JOSE\"}");
    assert_int_equal(jws_with("protected", prot), OTRP_ERR_SIGNATURE);
    free(prot);
    /* truncated members */
    char *short_sig = truncated(sig, 3);
    assert_int_equal(jws_with("signature", short_sig), OTRP_ERR_SIGNATURE);
    assert_int_equal(jws_with("signature", NULL), OTRP_ERR_JOSE_FORMAT);
    assert_int_equal(jws_with("payload", NULL), OTRP_ERR_JOSE_FORMAT);
    assert_int_equal(jws_with("signature", ""), OTRP_ERR_JOSE_FORMAT);
    assert_int_equal(jws_with("protected", ""), OTRP_ERR_JOSE_FORMAT);
    /* bad base64url */
    assert_int_equal(jws_with("payload", "e30="), OTRP_ERR_BASE64);
    assert_int_equal(jws_with("signature", "ab+/"), OTRP_ERR_BASE64);
    assert_int_equal(jws_with("protected", "e"), OTRP_ERR_BASE64);
    /* wrong key, wrong key type */
    assert_int_equal(jws_check(text, g_other, 0), OTRP_ERR_SIGNATURE);
    assert_int_equal(jws_check(text, g_ec, 0), OTRP_ERR_KEY_MISMATCH);
    free(p2);
    free(s2);
    free(short_sig);
    cJSON_free(text);
    cJSON_Delete(obj);
}

static otrp_status with_protected(const char *header_json, unsigned flags)
{
    char *prot = b64u(header_json);
    cJSON *obj = signed_obj();
    cJSON_ReplaceItemInObjectCaseSensitive(obj, "protected", cJSON_CreateString(prot));
    char *text = cJSON_PrintUnformatted(obj);
    otrp__jws *jws = NULL;
    char d[DETAIL];
    otrp_status st = otrp__jws_parse(text, strlen(text), flags, &jws, d, DETAIL);
    otrp__jws_free(jws);
    cJSON_free(text);
    cJSON_Delete(obj);
    free(prot);
    return st;
}

static void test_jose_neg_jws_headers(void **state)
{
    (void)state;
    assert_int_equal(with_protected("{\"alg\":\"RS256\",\"alg\":\"none\"}", 0),
                     OTRP_ERR_MSG_DUPLICATE);
    assert_int_equal(with_protected("{\"alg\":\"HS256\"}", 0), OTRP_ERR_JOSE_ALG);
    assert_int_equal(with_protected("{\"alg\":\"none\"}", 0), OTRP_ERR_JOSE_ALG);
    assert_int_equal(with_protected("{\"alg\":\"PS256\"}", 0), OTRP_ERR_JOSE_ALG);
    assert_int_equal(with_protected("{\"typ\":\"JWT\"}", 0), OTRP_ERR_JOSE_ALG);
    assert_int_equal(with_protected("{\"alg\":256}", 0), OTRP_ERR_JOSE_FORMAT);
    assert_int_equal(with_protected("[\"alg\"]", 0), OTRP_ERR_JOSE_FORMAT);
    assert_int_equal(with_protected("{\"alg\":\"RS256\"", 0), OTRP_ERR_JOSE_FORMAT);
    assert_int_equal(with_protected("{\"alg\":\"RS256\",\"crit\":[\"b64\"],\"b64\":false}", 0),
                     OTRP_ERR_JOSE_CRIT);
    assert_int_equal(with_protected("{\"alg\":\"RS256\",\"crit\":[]}", 0), OTRP_ERR_JOSE_FORMAT);
    assert_int_equal(with_protected("{\"alg\":\"RS256\",\"kid\":\"1\"}", OTRP__JOSE_F_PROFILE),
                     OTRP_ERR_JOSE_FORMAT);
    assert_int_equal(with_protected("{\"alg\":\"RS256\",\"x5c\":[]}", OTRP__JOSE_F_PROFILE),
                     OTRP_OK);

    /* header-level structure */
    static const char *const BAD[] = {
        /* alg in both headers */
        "{\"payload\":\"e30\",\"protected\":\"eyJhbGciOiJSUzI1NiJ9\","
        "\"header\":{\"alg\":\"RS256\"},\"signature\":\"AAAA\"}",
        /* crit outside the protected header */
        "{\"payload\":\"e30\",\"protected\":\"eyJhbGciOiJSUzI1NiJ9\","
        "\"header\":{\"crit\":[\"x\"]},\"signature\":\"AAAA\"}",
        /* unknown member */
        "{\"payload\":\"e30\",\"protected\":\"eyJhbGciOiJSUzI1NiJ9\",\"extra\":1,"
        "\"signature\":\"AAAA\"}",
        /* header not an object */
        "{\"payload\":\"e30\",\"protected\":\"eyJhbGciOiJSUzI1NiJ9\",\"header\":\"x\","
        "\"signature\":\"AAAA\"}",
        /* payload not a string */
        "{\"payload\":{},\"protected\":\"eyJhbGciOiJSUzI1NiJ9\",\"signature\":\"AAAA\"}",
        /* general with no signature */
        "{\"payload\":\"e30\",\"signatures\":[]}",
        /* compact with two parts, four parts */
        "eyJhbGciOiJSUzI1NiJ9.e30",
        "eyJhbGciOiJSUzI1NiJ9.e30.AAAA.AAAA",
        /* compact with a stray character */
        "eyJhbGciOiJSUzI1NiJ9.e 30.AAAA",
    };
    for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++) {
        otrp__jws *jws = NULL;
        char d[DETAIL] = "";
        otrp_status st = otrp__jws_parse(BAD[i], strlen(BAD[i]), 0, &jws, d, DETAIL);
        if (st != OTRP_ERR_JOSE_FORMAT)
            fail_msg("case %zu: %s (%s)", i, otrp_status_name(st), d);
        assert_null(jws);
    }
    /* duplicate member in the JWS object itself; unprotected header under the profile */
    static const char DUP[] = "{\"payload\":\"e30\",\"payload\":\"e30\","
                              "\"protected\":\"eyJhbGciOiJSUzI1NiJ9\",\"signature\":\"AAAA\"}";
    otrp__jws *jws = NULL;
    char d[DETAIL];
    assert_int_equal(otrp__jws_parse(DUP, strlen(DUP), 0, &jws, d, DETAIL), OTRP_ERR_MSG_DUPLICATE);
    static const char KID[] = "{\"payload\":\"e30\",\"protected\":\"eyJhbGciOiJSUzI1NiJ9\","
                              "\"header\":{\"kid\":\"1\"},\"signature\":\"AAAA\"}";
    assert_int_equal(otrp__jws_parse(KID, strlen(KID), OTRP__JOSE_F_PROFILE, &jws, d, DETAIL),
                     OTRP_ERR_JOSE_FORMAT);
    assert_int_equal(otrp__jws_parse("{", 1, 0, &jws, d, DETAIL), OTRP_ERR_JSON);
}

static void test_jose_neg_oversize(void **state)
{
    (void)state;
    size_t big = OTRP__JOSE_MAX_TEXT + 1;
    char *text = malloc(big + 1);
    assert_non_null(text);
    memset(text, 'A', big);
    text[big] = 0;
    otrp__jws *jws = NULL;
    otrp_buf pt = {0};
    char d[DETAIL];
    assert_int_equal(otrp__jws_parse(text, big, 0, &jws, d, DETAIL), OTRP_ERR_TOO_LARGE);
    assert_int_equal(otrp__jwe_decrypt(text, big, g_key, 0, &pt, NULL, d, DETAIL),
                     OTRP_ERR_TOO_LARGE);
    free(text);
    /* a 100 KB protected header */
    size_t hlen = 100000;
    char *hdr = malloc(hlen + 40);
    assert_non_null(hdr);
    strcpy(hdr, "{\"alg\":\"RS256\",\"x\":\"");
    memset(hdr + strlen(hdr), 'a', hlen);
    strcpy(hdr + 20 + hlen, "\"}");
    assert_int_equal(with_protected(hdr, 0), OTRP_ERR_TOO_LARGE);
    free(hdr);
    /* key inputs */
    char *jwk = malloc(70000);
    assert_non_null(jwk);
    memset(jwk, ' ', 70000);
    otrp__jose_key *k = NULL;
    assert_int_equal(otrp__jose_key_from_jwk(jwk, 70000, &k, d, DETAIL), OTRP_ERR_TOO_LARGE);
    assert_int_equal(otrp__jose_key_load((uint8_t *)jwk, 70000, &k, d, DETAIL), OTRP_ERR_TOO_LARGE);
    free(jwk);
}

static char *jwe_text(otrp__jose_enc enc)
{
    otrp__jwe_enc_opts opts = {.enc = enc};
    otrp_buf out = {0};
    char d[DETAIL];
    assert_int_equal(otrp__jwe_encrypt(PAYLOAD, strlen(PAYLOAD), g_key, &opts, &out, d, DETAIL),
                     OTRP_OK);
    return (char *)out.data;
}

/* Replace (or delete, value NULL) member of the JWE or of its recipient. */
static otrp_status jwe_with(const char *base, int in_recipient, const char *member,
                            const char *value, char *d)
{
    cJSON *obj = cJSON_Parse(base);
    cJSON *where = in_recipient ? cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(obj, "recipients"), 0) : obj;
    if (value == NULL)
        cJSON_DeleteItemFromObjectCaseSensitive(where, member);
    else
        cJSON_ReplaceItemInObjectCaseSensitive(where, member, cJSON_CreateString(value));
    char *text = cJSON_PrintUnformatted(obj);
    otrp_buf pt = {0};
    otrp_status st = otrp__jwe_decrypt(text, strlen(text), g_key, 0, &pt, NULL, d, DETAIL);
    if (st != OTRP_OK)
        assert_int_equal(pt.len, 0); /* nothing is released on failure */
    otrp_buf_free(&pt);
    cJSON_free(text);
    cJSON_Delete(obj);
    return st;
}

static void test_jose_neg_jwe_tampering(void **state)
{
    (void)state;
    const otrp__jose_enc encs[] = {OTRP__JOSE_ENC_A128CBC_HS256, OTRP__JOSE_ENC_A128GCM};
    for (size_t e = 0; e < 2; e++) {
        char *base = jwe_text(encs[e]);
        cJSON *obj = cJSON_Parse(base);
        const char *iv = otrp__json_string(obj, "iv");
        const char *ct = otrp__json_string(obj, "ciphertext");
        const char *tag = otrp__json_string(obj, "tag");
        const char *ek = otrp__json_string(cJSON_GetArrayItem(otrp__json_member(obj, "recipients"), 0),
                                           "encrypted_key");
        char d[DETAIL];
        assert_int_equal(jwe_with(base, 0, "iv", iv, d), OTRP_OK);
        /* damage: one status and one detail, whatever was hit */
        char *x;
        const char *members[] = {"iv", "ciphertext", "tag"};
        const char *values[] = {iv, ct, tag};
        for (int m = 0; m < 3; m++) {
            x = flip(values[m], 2);
            assert_int_equal(jwe_with(base, 0, members[m], x, d), OTRP_ERR_DECRYPT);
            assert_string_equal(d, "decryption failed");
            free(x);
        }
        x = flip(ek, 10);
        assert_int_equal(jwe_with(base, 1, "encrypted_key", x, d), OTRP_ERR_DECRYPT);
        assert_string_equal(d, "decryption failed");
        free(x);
        /* a different but valid protected header changes the AAD */
        char *prot = b64u(encs[e] == OTRP__JOSE_ENC_A128GCM ? "{\"enc\":\"A128GCM\",\"x\":1}"
                                                            : "{\"enc\":\"A128CBC-HS256\",\"x\":1}");
        assert_int_equal(jwe_with(base, 0, "protected", prot, d), OTRP_ERR_DECRYPT);
        free(prot);
        /* truncated and missing members */
        char *short_tag = truncated(tag, 1);
        assert_int_equal(jwe_with(base, 0, "tag", short_tag, d), OTRP_ERR_JOSE_FORMAT);
        char *short_iv = truncated(iv, 1);
        assert_int_equal(jwe_with(base, 0, "iv", short_iv, d), OTRP_ERR_JOSE_FORMAT);
        char *short_ct = truncated(ct, 3);
        assert_int_equal(jwe_with(base, 0, "ciphertext", short_ct, d), OTRP_ERR_DECRYPT);
        assert_int_equal(jwe_with(base, 0, "ciphertext", NULL, d), OTRP_ERR_JOSE_FORMAT);
        assert_int_equal(jwe_with(base, 1, "encrypted_key", NULL, d), OTRP_ERR_JOSE_FORMAT);
        assert_int_equal(jwe_with(base, 0, "ciphertext", "a+b", d), OTRP_ERR_BASE64);
        assert_int_equal(jwe_with(base, 0, "tag", "abc=", d), OTRP_ERR_BASE64);
        /* wrong key and wrong key type */
        otrp_buf pt = {0};
        assert_int_equal(otrp__jwe_decrypt(base, strlen(base), g_other, 0, &pt, NULL, d, DETAIL),
                         OTRP_ERR_DECRYPT);
        assert_int_equal(otrp__jwe_decrypt(base, strlen(base), g_ec, 0, &pt, NULL, d, DETAIL),
                         OTRP_ERR_KEY_MISMATCH);
        free(short_tag);
        free(short_iv);
        free(short_ct);
        cJSON_Delete(obj);
        free(base);
    }
}

static void test_jose_neg_jwe_headers(void **state)
{
    (void)state;
    char *base = jwe_text(OTRP__JOSE_ENC_A128CBC_HS256);
    char d[DETAIL];
    struct {
        const char *prot;
        otrp_status want;
    } cases[] = {
        {"{\"enc\":\"A128CBC-HS256\",\"enc\":\"A128GCM\"}", OTRP_ERR_MSG_DUPLICATE},
        {"{\"enc\":\"A192GCM\"}", OTRP_ERR_JOSE_ALG},
        {"{\"enc\":\"A128CBC-HS256\",\"zip\":\"DEF\"}", OTRP_ERR_JOSE_ALG},
        {"{\"enc\":\"A128CBC-HS256\",\"crit\":[\"zip\"]}", OTRP_ERR_JOSE_CRIT},
        {"{\"enc\":\"A128CBC-HS256\",\"alg\":\"RSA1_5\"}", OTRP_ERR_JOSE_FORMAT}, /* twice */
        {"{}", OTRP_ERR_JOSE_ALG},
        {"{\"enc\":\"A128CBC-HS256\"", OTRP_ERR_JOSE_FORMAT},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *prot = b64u(cases[i].prot);
        otrp_status st = jwe_with(base, 0, "protected", prot, d);
        if (st != cases[i].want)
            fail_msg("case %zu: %s (%s)", i, otrp_status_name(st), d);
        free(prot);
    }
    /* unsupported key management */
    cJSON *obj = cJSON_Parse(base);
    cJSON *hdr = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(obj, "recipients"), 0), "header");
    cJSON_ReplaceItemInObjectCaseSensitive(hdr, "alg", cJSON_CreateString("dir"));
    char *text = cJSON_PrintUnformatted(obj);
    otrp_buf pt = {0};
    assert_int_equal(otrp__jwe_decrypt(text, strlen(text), g_key, 0, &pt, NULL, d, DETAIL),
                     OTRP_ERR_JOSE_ALG);
    cJSON_free(text);
    /* extra recipient member under the profile, unknown top-level member always */
    cJSON_AddStringToObject(hdr, "kid", "1");
    cJSON_ReplaceItemInObjectCaseSensitive(hdr, "alg", cJSON_CreateString("RSA1_5"));
    text = cJSON_PrintUnformatted(obj);
    assert_int_equal(otrp__jwe_decrypt(text, strlen(text), g_key, 0, &pt, NULL, d, DETAIL), OTRP_OK);
    otrp_buf_reset(&pt);
    assert_int_equal(otrp__jwe_decrypt(text, strlen(text), g_key, OTRP__JOSE_F_PROFILE, &pt, NULL,
                                       d, DETAIL),
                     OTRP_ERR_JOSE_FORMAT);
    cJSON_free(text);
    cJSON_AddNumberToObject(obj, "extra", 1);
    text = cJSON_PrintUnformatted(obj);
    assert_int_equal(otrp__jwe_decrypt(text, strlen(text), g_key, 0, &pt, NULL, d, DETAIL),
                     OTRP_ERR_JOSE_FORMAT);
    cJSON_free(text);
    cJSON_Delete(obj);
    /* compact with the wrong number of parts, protected as an object (the draft's
     * DeleteTARequest sample) */
    assert_int_equal(otrp__jwe_decrypt("a.b.c.d", 7, g_key, 0, &pt, NULL, d, DETAIL),
                     OTRP_ERR_JOSE_FORMAT);
    assert_int_equal(otrp__jwe_decrypt("a.b.c.d.e.f", 11, g_key, 0, &pt, NULL, d, DETAIL),
                     OTRP_ERR_JOSE_FORMAT);
    static const char OBJ_PROT[] = "{\"protected\":{\"enc\":\"A128CBC-HS256\"},\"recipients\":"
                                   "[{\"header\":{\"alg\":\"RSA1_5\"},\"encrypted_key\":\"AA\"}],"
                                   "\"iv\":\"AA\",\"ciphertext\":\"AA\",\"tag\":\"AA\"}";
    assert_int_equal(otrp__jwe_decrypt(OBJ_PROT, strlen(OBJ_PROT), g_key, 0, &pt, NULL, d, DETAIL),
                     OTRP_ERR_JOSE_FORMAT);
    otrp_buf_free(&pt);
    free(base);
}

/* RSA1_5 (RFC 7516 11.5): a wrongly padded encrypted key, a well-padded one holding a
 * CEK of the wrong length, and a wrong tag must be indistinguishable to the caller. */
static void test_jose_neg_rsa15_no_oracle(void **state)
{
    (void)state;
    char d1[DETAIL], d2[DETAIL], d3[DETAIL];
    /* a 16-byte CEK (A128GCM) relabelled as A128CBC-HS256, which needs 32 bytes */
    otrp__jwe_enc_opts opts = {.alg = OTRP__JOSE_ALG_RSA1_5, .enc = OTRP__JOSE_ENC_A128GCM,
                               .form = OTRP__JOSE_FORM_COMPACT};
    otrp_buf out = {0}, pt = {0};
    assert_int_equal(otrp__jwe_encrypt("secret", 6, g_key, &opts, &out, d1, DETAIL), OTRP_OK);
    const char *rest = strchr((char *)out.data, '.');
    char *prot = b64u("{\"alg\":\"RSA1_5\",\"enc\":\"A128CBC-HS256\"}");
    char text[2048];
    /* the GCM iv is 12 bytes; give CBC a 16-byte one so only the CEK length is wrong */
    const char *iv_start = strchr(rest + 1, '.');
    const char *ct_start = strchr(iv_start + 1, '.');
    snprintf(text, sizeof(text), "%s%.*s.AAAAAAAAAAAAAAAAAAAAAA%s", prot,
             (int)(iv_start - rest), rest, ct_start);
    char *dot = strrchr(text, '.');
    snprintf(dot, sizeof(text) - (size_t)(dot - text), ".AAAAAAAAAAAAAAAAAAAAAA");
    otrp_status wrong_len = otrp__jwe_decrypt(text, strlen(text), g_key, 0, &pt, NULL, d1, DETAIL);
    if (wrong_len != OTRP_ERR_DECRYPT)
        fail_msg("%s: %s [%s]", otrp_status_name(wrong_len), d1, text);
    /* bad padding: a random encrypted key */
    uint8_t junk[256];
    assert_int_equal(otrp__jose_random(junk, sizeof(junk)), OTRP_OK);
    junk[0] = 0; /* below the modulus */
    char *ek = jt_b64url_encode(junk, sizeof(junk));
    char text2[2048];
    snprintf(text2, sizeof(text2), "%s.%s%s", prot, ek, strchr(strchr(text, '.') + 1, '.'));
    otrp_status bad_pad = otrp__jwe_decrypt(text2, strlen(text2), g_key, 0, &pt, NULL, d2, DETAIL);
    /* the genuine key with a wrong tag */
    otrp_buf_reset(&out);
    opts.enc = OTRP__JOSE_ENC_A128CBC_HS256;
    assert_int_equal(otrp__jwe_encrypt("secret", 6, g_key, &opts, &out, d3, DETAIL), OTRP_OK);
    out.data[out.len - 2] = out.data[out.len - 2] == 'A' ? 'B' : 'A';
    otrp_status bad_tag = otrp__jwe_decrypt((char *)out.data, out.len, g_key, 0, &pt, NULL, d3,
                                            DETAIL);
    assert_int_equal(wrong_len, OTRP_ERR_DECRYPT);
    assert_int_equal(bad_pad, OTRP_ERR_DECRYPT);
    assert_int_equal(bad_tag, OTRP_ERR_DECRYPT);
    assert_string_equal(d1, d2);
    assert_string_equal(d2, d3);
    assert_int_equal(pt.len, 0);
    free(ek);
    free(prot);
    otrp_buf_free(&out);
    otrp_buf_free(&pt);
}

static void test_jose_neg_jwk(void **state)
{
    (void)state;
    static const struct {
        const char *jwk;
        otrp_status want;
    } CASES[] = {
        {"{\"kty\":\"oct\",\"k\":\"AAAA\"}", OTRP_ERR_KEY},
        {"{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"AA\",\"y\":\"AA\"}", OTRP_ERR_KEY},
        {"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AAAA\",\"y\":\"AAAA\"}", OTRP_ERR_KEY},
        /* a point that is not on the curve */
        {"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
         "\"y\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE\"}", OTRP_ERR_KEY},
        {"{\"kty\":\"RSA\",\"n\":\"AQAB\"}", OTRP_ERR_KEY},
        {"{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}", OTRP_ERR_KEY},
        {"{\"kty\":\"RSA\",\"n\":\"AQ+B\",\"e\":\"AQAB\"}", OTRP_ERR_BASE64},
        {"{\"kty\":\"RSA\",\"n\":1,\"e\":\"AQAB\"}", OTRP_ERR_KEY},
        {"{\"kty\":\"RSA\",\"kty\":\"EC\"}", OTRP_ERR_MSG_DUPLICATE},
        {"[1]", OTRP_ERR_KEY},
        {"{", OTRP_ERR_JSON},
        {"{}", OTRP_ERR_KEY},
    };
    for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++) {
        otrp__jose_key *k = NULL;
        char d[DETAIL] = "";
        otrp_status st = otrp__jose_key_from_jwk(CASES[i].jwk, strlen(CASES[i].jwk), &k, d, DETAIL);
        if (st != CASES[i].want)
            fail_msg("case %zu: %s (%s)", i, otrp_status_name(st), d);
        assert_null(k);
    }
    /* an EC private key whose d does not belong to x/y */
    cJSON *pub = NULL;
    assert_int_equal(otrp__jose_key_export_public_jwk(g_ec, &pub), OTRP_OK);
    cJSON_AddStringToObject(pub, "d", "870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE");
    otrp__jose_key *k = NULL;
    char d[DETAIL];
    assert_int_equal(otrp__jose_key_from_jwk_json(pub, &k, d, DETAIL), OTRP_ERR_KEY);
    cJSON_Delete(pub);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jose_neg_jws_tampering),
        cmocka_unit_test(test_jose_neg_jws_headers),
        cmocka_unit_test(test_jose_neg_oversize),
        cmocka_unit_test(test_jose_neg_jwe_tampering),
        cmocka_unit_test(test_jose_neg_jwe_headers),
        cmocka_unit_test(test_jose_neg_rsa15_no_oracle),
        cmocka_unit_test(test_jose_neg_jwk),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
