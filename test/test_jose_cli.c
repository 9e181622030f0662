/* lib/jose cross-checked against independent implementations: the Debian `jose`
 * command (libjose on OpenSSL) for JWS (RS256, ES256) and JWE (RSA1_5 with every enc;
 * Debian's jose 11 has no RSA-OAEP), and the `openssl` command for RSA-OAEP and
 * RSA-OAEP-256 key wrapping, PKCS#8/X.509 interchange and P7 AES-256-CBC. Both
 * directions each time. Skipped (not failed) when a tool is missing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "jose/jose.h"
#include "support/jose_testutil.h"
#include "util/json_strict.h"

#define DETAIL 200

static char *g_dir;

static int setup(void **state)
{
    (void)state;
    g_dir = jt_mkdtemp();
    return g_dir == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    jt_rmdir(g_dir);
    free(g_dir);
    return 0;
}

static int have(const char *tool)
{
    return jt_system("command -v %s >/dev/null 2>&1", tool) == 0;
}

static const char *path(const char *name)
{
    static char buf[4][512];
    static int i;
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof(buf[i]), "%s/%s", g_dir, name);
    return buf[i];
}

static void write_buf(const char *name, const void *data, size_t len)
{
    assert_int_equal(jt_write_file(path(name), data, len), 0);
}

static void read_buf(const char *name, otrp_buf *out)
{
    otrp_buf_reset(out);
    assert_int_equal(jt_read_file(path(name), out), 0);
}

static otrp__jose_key *jose_gen(const char *alg, const char *name)
{
    assert_int_equal(jt_system("jose jwk gen -i '{\"alg\":\"%s\"}' -o '%s' 2>/dev/null", alg,
                               path(name)),
                     0);
    otrp_buf text = {0};
    read_buf(name, &text);
    otrp__jose_key *key = NULL;
    char d[DETAIL] = "";
    otrp_status st = otrp__jose_key_from_jwk((char *)text.data, text.len, &key, d, DETAIL);
    if (st != OTRP_OK)
        fail_msg("import jose's %s key: %s (%s)", alg, otrp_status_name(st), d);
    otrp_buf_free(&text);
    return key;
}

static const char PAYLOAD[] = "{\"GetDeviceStateTBSRequest\":{\"ver\":\"1.0\",\"rid\":\"r\"}}";

static void test_jose_cli_jws_ours_to_jose(void **state)
{
    (void)state;
    if (!have("jose"))
        skip();
    const char *algs[] = {"RS256", "ES256"};
    const otrp__jose_form forms[] = {OTRP__JOSE_FORM_FLATTENED, OTRP__JOSE_FORM_GENERAL,
                                     OTRP__JOSE_FORM_COMPACT};
    for (int a = 0; a < 2; a++) {
        otrp__jose_key *key = jose_gen(algs[a], "k.jwk");
        otrp_buf pub = {0}, out = {0}, got = {0};
        assert_int_equal(otrp__jose_key_export_public_jwk_text(key, &pub), OTRP_OK);
        write_buf("pub.jwk", pub.data, pub.len);
        for (int f = 0; f < 3; f++) {
            otrp__jws_sign_opts opts = {.form = forms[f]};
            char d[DETAIL];
            otrp_buf_reset(&out);
            assert_int_equal(otrp__jws_sign(PAYLOAD, strlen(PAYLOAD), key, &opts, &out, d, DETAIL),
                             OTRP_OK);
            write_buf("jws", out.data, out.len);
            int rc = jt_system("jose jws ver -i '%s' -k '%s' -O '%s' 2>/dev/null", path("jws"),
                               path("pub.jwk"), path("payload"));
            if (rc != 0)
                fail_msg("jose rejects our %s JWS (form %d)", algs[a], f);
            read_buf("payload", &got);
            assert_int_equal(got.len, strlen(PAYLOAD));
            assert_memory_equal(got.data, PAYLOAD, got.len);
            /* and rejects it once tampered */
            out.data[out.len - 3] = out.data[out.len - 3] == 'A' ? 'B' : 'A';
            write_buf("jws", out.data, out.len);
            assert_int_not_equal(jt_system("jose jws ver -i '%s' -k '%s' >/dev/null 2>&1",
                                           path("jws"), path("pub.jwk")),
                                 0);
        }
        otrp_buf_free(&pub);
        otrp_buf_free(&out);
        otrp_buf_free(&got);
        otrp__jose_key_free(key);
    }
}

static void test_jose_cli_jws_jose_to_ours(void **state)
{
    (void)state;
    if (!have("jose"))
        skip();
    const char *algs[] = {"RS256", "ES256"};
    write_buf("payload", PAYLOAD, strlen(PAYLOAD));
    for (int a = 0; a < 2; a++) {
        otrp__jose_key *key = jose_gen(algs[a], "k.jwk");
        otrp__jose_key *pub = NULL;
        assert_int_equal(otrp__jose_key_public_copy(key, &pub), OTRP_OK);
        for (int compact = 0; compact < 2; compact++) {
            assert_int_equal(jt_system("jose jws sig -I '%s' -k '%s' %s -o '%s' 2>/dev/null",
                                       path("payload"), path("k.jwk"), compact ? "-c" : "",
                                       path("jws")),
                             0);
            otrp_buf text = {0};
            read_buf("jws", &text);
            otrp__jws *jws = NULL;
            char d[DETAIL] = "";
            otrp_status st = otrp__jws_parse((char *)text.data, text.len, OTRP__JOSE_F_PROFILE,
                                             &jws, d, DETAIL);
            if (st == OTRP_OK)
                st = otrp__jws_verify(jws, pub, 0, d, DETAIL);
            if (st != OTRP_OK)
                fail_msg("jose's %s JWS: %s (%s)", algs[a], otrp_status_name(st), d);
            size_t n = 0;
            const uint8_t *p = otrp__jws_payload(jws, &n);
            assert_int_equal(n, strlen(PAYLOAD));
            assert_memory_equal(p, PAYLOAD, n);
            otrp__jws_free(jws);
            otrp_buf_free(&text);
        }
        otrp__jose_key_free(pub);
        otrp__jose_key_free(key);
    }
}

static const char *const ENCS[] = {"A128CBC-HS256", "A256CBC-HS512", "A128GCM", "A256GCM"};

static void test_jose_cli_jwe_both_ways(void **state)
{
    (void)state;
    if (!have("jose"))
        skip();
    otrp__jose_key *key = jose_gen("RSA1_5", "k.jwk");
    static const char MSG[] = "{\"dsi\":{\"tee\":{\"name\":\"mock TEE\",\"ver\":\"1\"}}}";
    write_buf("pt", MSG, strlen(MSG));
    const otrp__jose_form forms[] = {OTRP__JOSE_FORM_GENERAL, OTRP__JOSE_FORM_FLATTENED,
                                     OTRP__JOSE_FORM_COMPACT};
    otrp_buf out = {0}, got = {0};
    char d[DETAIL] = "";
    for (int e = 0; e < 4; e++) {
        /* ours -> jose */
        for (int f = 0; f < 3; f++) {
            otrp__jwe_enc_opts opts = {.alg = OTRP__JOSE_ALG_RSA1_5,
                                       .enc = otrp__jose_enc_from_name(ENCS[e]),
                                       .form = forms[f]};
            otrp_buf_reset(&out);
            assert_int_equal(otrp__jwe_encrypt(MSG, strlen(MSG), key, &opts, &out, d, DETAIL),
                             OTRP_OK);
            write_buf("jwe", out.data, out.len);
            if (jt_system("jose jwe dec -i '%s' -k '%s' -O '%s' 2>/dev/null", path("jwe"),
                          path("k.jwk"), path("out")) != 0)
                fail_msg("jose cannot decrypt our RSA1_5/%s (form %d)", ENCS[e], f);
            read_buf("out", &got);
            assert_int_equal(got.len, strlen(MSG));
            assert_memory_equal(got.data, MSG, got.len);
        }
        /* jose -> ours, JSON and compact */
        for (int compact = 0; compact < 2; compact++) {
            assert_int_equal(jt_system("jose jwe enc -i '{\"protected\":{\"enc\":\"%s\"}}' "
                                       "-r '{\"header\":{\"alg\":\"RSA1_5\"}}' -I '%s' -k '%s' "
                                       "%s -o '%s' 2>/dev/null",
                                       ENCS[e], path("pt"), path("k.jwk"), compact ? "-c" : "",
                                       path("jwe")),
                             0);
            read_buf("jwe", &out);
            otrp_buf_reset(&got);
            otrp__jwe_info info;
            otrp_status st = otrp__jwe_decrypt((char *)out.data, out.len, key, 0, &got, &info, d,
                                               DETAIL);
            if (st != OTRP_OK)
                fail_msg("jose's RSA1_5/%s: %s (%s)", ENCS[e], otrp_status_name(st), d);
            assert_int_equal(got.len, strlen(MSG));
            assert_memory_equal(got.data, MSG, got.len);
            assert_int_equal(info.enc, otrp__jose_enc_from_name(ENCS[e]));
        }
    }
    otrp_buf_free(&out);
    otrp_buf_free(&got);
    otrp__jose_key_free(key);
}

/* RSA-OAEP / RSA-OAEP-256 key wrapping against openssl pkeyutl, both directions. */
static void test_jose_cli_oaep_openssl(void **state)
{
    (void)state;
    if (!have("openssl"))
        skip();
    otrp__jose_key *key = NULL;
    char d[DETAIL];
    assert_int_equal(otrp__jose_key_generate(OTRP__JOSE_KTY_RSA, 2048, &key, d, DETAIL), OTRP_OK);
    otrp_buf pem = {0}, spki = {0}, out = {0}, got = {0};
    assert_int_equal(otrp__jose_key_export_private_pem(key, &pem), OTRP_OK);
    write_buf("key.pem", pem.data, pem.len);
    assert_int_equal(otrp__jose_key_export_spki_der(key, &spki), OTRP_OK);
    write_buf("pub.der", spki.data, spki.len);
    const otrp__jose_alg algs[] = {OTRP__JOSE_ALG_RSA_OAEP, OTRP__JOSE_ALG_RSA_OAEP_256};
    const char *md[] = {"sha1", "sha256"};
    uint8_t cek[32];
    for (int i = 0; i < 32; i++)
        cek[i] = (uint8_t)(i * 7 + 1);
    for (int a = 0; a < 2; a++) {
        /* ours wraps, openssl unwraps */
        otrp__jwe_enc_opts opts = {.alg = algs[a], .form = OTRP__JOSE_FORM_COMPACT,
                                   .cek = cek, .cek_len = 32};
        otrp_buf_reset(&out);
        assert_int_equal(otrp__jwe_encrypt("x", 1, key, &opts, &out, d, DETAIL), OTRP_OK);
        char *dot1 = strchr((char *)out.data, '.');
        char *dot2 = strchr(dot1 + 1, '.');
        *dot2 = 0;
        size_t ek_len = 0;
        uint8_t *ek = jt_b64url_decode(dot1 + 1, &ek_len);
        assert_non_null(ek);
        write_buf("ek", ek, ek_len);
        free(ek);
        assert_int_equal(jt_system("openssl pkeyutl -decrypt -inkey '%s' -in '%s' -out '%s' "
                                   "-pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:%s "
                                   "-pkeyopt rsa_mgf1_md:%s 2>/dev/null",
                                   path("key.pem"), path("ek"), path("cek"), md[a], md[a]),
                         0);
        read_buf("cek", &got);
        assert_int_equal(got.len, 32);
        assert_memory_equal(got.data, cek, 32);
        /* openssl wraps, ours unwraps: assemble the JWE around openssl's encrypted key */
        write_buf("cek", cek, 32);
        assert_int_equal(jt_system("openssl pkeyutl -encrypt -pubin -keyform DER -inkey '%s' "
                                   "-in '%s' -out '%s' -pkeyopt rsa_padding_mode:oaep "
                                   "-pkeyopt rsa_oaep_md:%s -pkeyopt rsa_mgf1_md:%s 2>/dev/null",
                                   path("pub.der"), path("cek"), path("ek2"), md[a], md[a]),
                         0);
        read_buf("ek2", &got);
        char prot_json[80];
        snprintf(prot_json, sizeof(prot_json), "{\"alg\":\"%s\",\"enc\":\"A128CBC-HS256\"}",
                 otrp__jose_alg_name(algs[a]));
        char *prot = jt_b64url_encode(prot_json, strlen(prot_json));
        uint8_t iv[16] = {1, 2, 3}, ct[64], tag[16];
        size_t ct_len = 0;
        assert_int_equal(otrp__jwe_content_encrypt(OTRP__JOSE_ENC_A128CBC_HS256, cek, 32, iv, 16,
                                                   (uint8_t *)prot, strlen(prot),
                                                   (const uint8_t *)"hello OAEP", 10, ct, &ct_len,
                                                   tag),
                         OTRP_OK);
        char *ek_b = jt_b64url_encode(got.data, got.len), *iv_b = jt_b64url_encode(iv, 16);
        char *ct_b = jt_b64url_encode(ct, ct_len), *tag_b = jt_b64url_encode(tag, 16);
        char jwe[2048];
        snprintf(jwe, sizeof(jwe), "%s.%s.%s.%s.%s", prot, ek_b, iv_b, ct_b, tag_b);
        otrp_buf pt = {0};
        assert_int_equal(otrp__jwe_decrypt(jwe, strlen(jwe), key, 0, &pt, NULL, d, DETAIL), OTRP_OK);
        assert_int_equal(pt.len, 10);
        assert_memory_equal(pt.data, "hello OAEP", 10);
        otrp_buf_free(&pt);
        free(prot);
        free(ek_b);
        free(iv_b);
        free(ct_b);
        free(tag_b);
    }
    otrp_buf_free(&pem);
    otrp_buf_free(&spki);
    otrp_buf_free(&out);
    otrp_buf_free(&got);
    otrp__jose_key_free(key);
}

/* PKCS#8 keys and certificates made by openssl load here, and ours verify there. */
static void test_jose_cli_openssl_keys_and_certs(void **state)
{
    (void)state;
    if (!have("openssl"))
        skip();
    char d[DETAIL] = "";
    assert_int_equal(jt_system("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 "
                               "-out '%s' 2>/dev/null && openssl req -x509 -new -key '%s' "
                               "-subj /CN=openssl-tam -days 30 -sha256 -out '%s' 2>/dev/null",
                               path("o.pem"), path("o.pem"), path("o.crt")),
                     0);
    assert_int_equal(jt_system("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 "
                               "-out '%s' 2>/dev/null",
                               path("e.pem")),
                     0);
    otrp_buf buf = {0}, spki = {0};
    otrp__jose_key *rsa = NULL, *ec = NULL, *fromcert = NULL;
    read_buf("o.pem", &buf);
    assert_int_equal(otrp__jose_key_load(buf.data, buf.len, &rsa, d, DETAIL), OTRP_OK);
    assert_int_equal(otrp__jose_key_bits(rsa), 3072);
    read_buf("e.pem", &buf);
    assert_int_equal(otrp__jose_key_load(buf.data, buf.len, &ec, d, DETAIL), OTRP_OK);
    assert_int_equal(otrp__jose_key_type(ec), OTRP__JOSE_KTY_EC_P256);
    /* our SPKI encoding is openssl's */
    assert_int_equal(jt_system("openssl pkey -in '%s' -pubout -outform DER -out '%s' 2>/dev/null",
                               path("e.pem"), path("e.spki")),
                     0);
    read_buf("e.spki", &buf);
    assert_int_equal(otrp__jose_key_export_spki_der(ec, &spki), OTRP_OK);
    assert_int_equal(spki.len, buf.len);
    assert_memory_equal(spki.data, buf.data, buf.len);
    /* openssl's self-signed certificate verifies as its own anchor */
    read_buf("o.crt", &buf);
    otrp__x509_certs *c = NULL;
    assert_int_equal(otrp__x509_certs_new(&c), OTRP_OK);
    assert_int_equal(otrp__x509_certs_add(c, buf.data, buf.len, d, DETAIL), OTRP_OK);
    char cn[64];
    assert_int_equal(otrp__x509_verify(c, c, 0, 0, &fromcert, cn, sizeof(cn), d, DETAIL), OTRP_OK);
    assert_string_equal(cn, "openssl-tam");
    assert_true(otrp__jose_key_public_equal(fromcert, rsa));
    otrp__x509_certs_free(c);
    /* our certificates (CA + EC leaf) pass `openssl verify`; our PKCS#8 reads there */
    time_t now = time(NULL);
    otrp_buf ca = {0}, leaf = {0}, pem = {0};
    otrp__x509_spec spec = {.subject = "CN=libotrp test CA", .subject_key = rsa,
                            .not_before = now - 60, .not_after = now + 86400, .is_ca = 1};
    assert_int_equal(otrp__x509_make(&spec, &ca, d, DETAIL), OTRP_OK);
    otrp__x509_spec lspec = {.subject = "CN=tee.example,O=libotrp", .subject_key = ec,
                             .issuer_der = ca.data, .issuer_der_len = ca.len, .issuer_key = rsa,
                             .not_before = now - 60, .not_after = now + 86400};
    assert_int_equal(otrp__x509_make(&lspec, &leaf, d, DETAIL), OTRP_OK);
    assert_int_equal(otrp__jose_der_to_pem(ca.data, ca.len, "CERTIFICATE", &pem), OTRP_OK);
    write_buf("ca.pem", pem.data, pem.len);
    otrp_buf_reset(&pem);
    assert_int_equal(otrp__jose_der_to_pem(leaf.data, leaf.len, "CERTIFICATE", &pem), OTRP_OK);
    write_buf("leaf.pem", pem.data, pem.len);
    assert_int_equal(jt_system("openssl verify -CAfile '%s' '%s' >/dev/null 2>&1", path("ca.pem"),
                               path("leaf.pem")),
                     0);
    assert_int_equal(jt_system("openssl x509 -in '%s' -noout -subject 2>/dev/null | "
                               "grep -q 'CN *= *tee.example'",
                               path("leaf.pem")),
                     0);
    otrp_buf_reset(&pem);
    assert_int_equal(otrp__jose_key_export_private_pem(ec, &pem), OTRP_OK);
    write_buf("ours.pem", pem.data, pem.len);
    assert_int_equal(jt_system("openssl pkey -in '%s' -check -noout >/dev/null 2>&1",
                               path("ours.pem")),
                     0);
    otrp_buf_free(&ca);
    otrp_buf_free(&leaf);
    otrp_buf_free(&pem);
    otrp_buf_free(&buf);
    otrp_buf_free(&spki);
    otrp__jose_key_free(rsa);
    otrp__jose_key_free(ec);
    otrp__jose_key_free(fromcert);
}

/* A certificate with subjectAltName, as `openssl x509 -text` reads it. */
static void test_jose_cli_x509_san_openssl(void **state)
{
    (void)state;
    if (!have("openssl"))
        skip();
    otrp__jose_key *ec = NULL;
    char d[DETAIL] = "";
    assert_int_equal(otrp__jose_key_generate(OTRP__JOSE_KTY_EC_P256, 0, &ec, d, DETAIL), OTRP_OK);
    static const char *const DNS[] = {"localhost", NULL};
    static const char *const IP[] = {"127.0.0.1", "::1", NULL};
    time_t now = time(NULL);
    otrp__x509_spec spec = {.subject = "CN=127.0.0.1,O=libotrp", .subject_key = ec,
                            .not_before = now - 60, .not_after = now + 86400,
                            .san_dns = DNS, .san_ip = IP};
    otrp_buf der = {0}, pem = {0};
    assert_int_equal(otrp__x509_make(&spec, &der, d, DETAIL), OTRP_OK);
    assert_int_equal(otrp__jose_der_to_pem(der.data, der.len, "CERTIFICATE", &pem), OTRP_OK);
    write_buf("san.pem", pem.data, pem.len);
    assert_int_equal(jt_system("openssl x509 -in '%s' -noout -text > '%s' 2>/dev/null",
                               path("san.pem"), path("san.txt")),
                     0);
    assert_int_equal(jt_system("grep -q 'X509v3 Subject Alternative Name' '%s'", path("san.txt")),
                     0);
    assert_int_equal(jt_system("grep -q 'DNS:localhost, IP Address:127.0.0.1, "
                               "IP Address:0:0:0:0:0:0:0:1' '%s'",
                               path("san.txt")),
                     0);
    /* and openssl checks the names for a TLS client */
    assert_int_equal(jt_system("openssl verify -partial_chain -CAfile '%s' -verify_ip 127.0.0.1 "
                               "-verify_hostname localhost '%s' >/dev/null 2>&1",
                               path("san.pem"), path("san.pem")),
                     0);
    assert_int_not_equal(jt_system("openssl verify -partial_chain -CAfile '%s' -verify_ip 10.0.0.1 "
                                   "'%s' >/dev/null 2>&1",
                                   path("san.pem"), path("san.pem")),
                         0);
    otrp_buf_free(&der);
    otrp_buf_free(&pem);
    otrp__jose_key_free(ec);
}

/* PROFILE P7 AES-256-CBC against `openssl enc`. */
static void test_jose_cli_p7_openssl_enc(void **state)
{
    (void)state;
    if (!have("openssl"))
        skip();
    uint8_t key[32], iv[16];
    assert_int_equal(otrp__jose_random(key, 32), OTRP_OK);
    assert_int_equal(otrp__jose_random(iv, 16), OTRP_OK);
    char khex[65], ivhex[33];
    for (int i = 0; i < 32; i++)
        snprintf(khex + 2 * i, 3, "%02x", key[i]);
    for (int i = 0; i < 16; i++)
        snprintf(ivhex + 2 * i, 3, "%02x", iv[i]);
    static const char TA[] = "a trusted application image, not a multiple of 16";
    otrp_buf ct = {0}, got = {0};
    assert_int_equal(otrp__jose_aes256cbc_encrypt(key, iv, TA, strlen(TA), &ct), OTRP_OK);
    write_buf("ct", ct.data, ct.len);
    assert_int_equal(jt_system("openssl enc -d -aes-256-cbc -K %s -iv %s -in '%s' -out '%s'",
                               khex, ivhex, path("ct"), path("pt")),
                     0);
    read_buf("pt", &got);
    assert_int_equal(got.len, strlen(TA));
    assert_memory_equal(got.data, TA, got.len);
    assert_int_equal(jt_system("openssl enc -aes-256-cbc -K %s -iv %s -in '%s' -out '%s'", khex,
                               ivhex, path("pt"), path("ct2")),
                     0);
    read_buf("ct2", &ct);
    otrp_buf_reset(&got);
    assert_int_equal(otrp__jose_aes256cbc_decrypt(key, iv, ct.data, ct.len, &got), OTRP_OK);
    assert_int_equal(got.len, strlen(TA));
    assert_memory_equal(got.data, TA, got.len);
    otrp_buf_free(&ct);
    otrp_buf_free(&got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jose_cli_jws_ours_to_jose),
        cmocka_unit_test(test_jose_cli_jws_jose_to_ours),
        cmocka_unit_test(test_jose_cli_jwe_both_ways),
        cmocka_unit_test(test_jose_cli_oaep_openssl),
        cmocka_unit_test(test_jose_cli_openssl_keys_and_certs),
        cmocka_unit_test(test_jose_cli_x509_san_openssl),
        cmocka_unit_test(test_jose_cli_p7_openssl_enc),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
