/*
 * bench/jose: lib/jose operations beside the same operation done by OpenSSL
 * (`openssl speed`, run in the same process run so both see the same machine load),
 * as a ratio ours/OpenSSL (1.00 = as fast; 0.50 = half as fast), and the symmetric
 * operations beside raw mbedTLS calls (the JOSE overhead over the library beneath).
 * Output is a Markdown table, ready for BENCHMARKS.md.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jose/jose.h"
#include "raw.h"

/* Each measurement runs at least this long (and at least MIN_ITERS times); ours and
 * raw mbedTLS are measured alternately ROUNDS times each and the best round kept, so
 * a busy machine (shared CI runners) disturbs the comparison as little as possible. */
#define MIN_SECONDS 0.3
#define ROUNDS 3
#define MIN_ITERS 3
#define KIB 1024u
#define MIB (1024u * 1024u)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef int (*op_fn)(void *ctx);

/* Operations per second of fn. */
static double rate(op_fn fn, void *ctx)
{
    long n = 0;
    double start = now_s(), t;
    do {
        if (fn(ctx) != 0) {
            fprintf(stderr, "bench: operation failed\n");
            exit(1);
        }
        n++;
        t = now_s() - start;
    } while (t < MIN_SECONDS || n < MIN_ITERS);
    return (double)n / t;
}

/* Best-of-ROUNDS rates of a and b, measured alternately. */
static void rate_pair(op_fn a, void *actx, double *ra, op_fn b, void *bctx, double *rb)
{
    *ra = *rb = 0;
    for (int i = 0; i < ROUNDS; i++) {
        double x = rate(a, actx);
        *ra = x > *ra ? x : *ra;
        if (b != NULL) {
            double y = rate(b, bctx);
            *rb = y > *rb ? y : *rb;
        }
    }
}

/* ---- OpenSSL figures ---- */

static int last_line(const char *cmd, char *line, size_t cap)
{
    FILE *p = popen(cmd, "r");
    if (p == NULL)
        return -1;
    char buf[512];
    line[0] = 0;
    while (fgets(buf, sizeof(buf), p) != NULL)
        if (buf[0] != '\n')
            snprintf(line, cap, "%s", buf);
    return pclose(p) == 0 && line[0] ? 0 : -1;
}

/* The last two numbers of `openssl speed <what>` (sign/s, verify/s). */
static int openssl_pk(const char *what, double *sign, double *verify)
{
    char cmd[128], line[512];
    snprintf(cmd, sizeof(cmd), "openssl speed -seconds 1 %s 2>/dev/null", what);
    if (last_line(cmd, line, sizeof(line)) != 0)
        return -1;
    double v[16];
    int n = 0;
    for (char *tok = strtok(line, " \t\n"); tok != NULL && n < 16; tok = strtok(NULL, " \t\n")) {
        char *end;
        double d = strtod(tok, &end);
        if (end != tok && *end == 0)
            v[n++] = d;
    }
    if (n < 2)
        return -1;
    *sign = v[n - 2];
    *verify = v[n - 1];
    return 0;
}

/* Bytes per second of `openssl speed -evp|-hmac <alg>` at one buffer size. */
static double openssl_bytes(const char *kind, const char *alg, unsigned bytes, int decrypt)
{
    char cmd[160], line[512];
    snprintf(cmd, sizeof(cmd), "openssl speed -seconds 1 %s -bytes %u %s %s 2>/dev/null",
             decrypt ? "-decrypt" : "", bytes, kind, alg);
    if (last_line(cmd, line, sizeof(line)) != 0)
        return 0;
    char *k = strrchr(line, 'k');
    if (k == NULL)
        return 0;
    *k = 0;
    char *num = strrchr(line, ' ');
    return num == NULL ? 0 : strtod(num + 1, NULL) * 1000.0;
}

/* ---- our operations ---- */

struct sig_ctx {
    otrp__jose_key *key;
    otrp__jose_alg alg;
    otrp_buf sig;
    struct bench_raw_pk *raw;
    uint8_t raw_sig[600];
    size_t raw_sig_len;
    int oaep;
    uint8_t ct[512];
    size_t ct_len;
};

static const uint8_t DIGEST[32] = {1, 2, 3};

static int do_raw_sign(void *p)
{
    struct sig_ctx *c = p;
    return bench_raw_sign(c->raw, DIGEST, c->raw_sig, &c->raw_sig_len);
}

static int do_raw_verify(void *p)
{
    struct sig_ctx *c = p;
    return bench_raw_verify(c->raw, DIGEST, c->raw_sig, c->raw_sig_len);
}

static int do_raw_unwrap(void *p)
{
    struct sig_ctx *c = p;
    uint8_t out[512];
    size_t n = 0;
    return bench_raw_rsa_decrypt(c->raw, c->oaep, c->ct, c->ct_len, out, &n);
}

/* The same key as a legacy mbedTLS pk context (through PKCS#8 PEM). */
static struct bench_raw_pk *raw_of(const otrp__jose_key *key)
{
    otrp_buf pem = {0};
    if (otrp__jose_key_export_private_pem(key, &pem) != OTRP_OK)
        exit(1);
    struct bench_raw_pk *raw = bench_raw_pk_new(pem.data, pem.len + 1);
    otrp_buf_free(&pem);
    if (raw == NULL)
        exit(1);
    return raw;
}

static const char MSG[] = "{\"GetDeviceStateTBSRequest\":{\"ver\":\"1.0\",\"rid\":\"1\"}}";

static int do_sign(void *p)
{
    struct sig_ctx *c = p;
    otrp_buf_reset(&c->sig);
    return otrp__jose_sign(c->key, c->alg, MSG, sizeof(MSG) - 1, &c->sig) == OTRP_OK ? 0 : 1;
}

static int do_verify(void *p)
{
    struct sig_ctx *c = p;
    return otrp__jose_verify(c->key, c->alg, MSG, sizeof(MSG) - 1, c->sig.data, c->sig.len, 0) ==
                   OTRP_OK
               ? 0
               : 1;
}

struct jwe_ctx {
    otrp__jose_key *key;
    otrp_buf text;
    otrp_buf pt;
};

static int do_jwe_decrypt(void *p)
{
    struct jwe_ctx *c = p;
    otrp_buf_reset(&c->pt);
    return otrp__jwe_decrypt((char *)c->text.data, c->text.len, c->key, 0, &c->pt, NULL, NULL,
                             0) == OTRP_OK
               ? 0
               : 1;
}

struct sym_ctx {
    otrp__jose_enc enc;
    uint8_t cek[32], iv[16], tag_buf[16], mac[32];
    const uint8_t *tag; /* right after the ciphertext, as otrp__jwe_decrypt lays it out */
    const uint8_t *aad;
    size_t aad_len;
    uint8_t *ct, *pt;
    size_t len;
};

static int do_content_decrypt(void *p)
{
    struct sym_ctx *c = p;
    size_t out = 0;
    return otrp__jwe_content_decrypt(c->enc, c->cek, otrp__jwe_cek_len(c->enc), c->iv,
                                     otrp__jwe_iv_len(c->enc), c->aad, c->aad_len, c->ct, c->len,
                                     c->tag, 16, c->pt, &out) == OTRP_OK
               ? 0
               : 1;
}

static int do_raw_decrypt(void *p)
{
    struct sym_ctx *c = p;
    if (c->enc == OTRP__JOSE_ENC_A128GCM)
        return bench_raw_gcm_decrypt(c->cek, c->iv, c->aad, c->aad_len, c->ct, c->len, c->tag,
                                     c->pt);
    return bench_raw_cbc_hs256_decrypt(c->cek, c->iv, c->aad, c->aad_len, c->ct, c->len, c->pt,
                                       c->mac);
}

static void row(const char *op, double ours, const char *unit, double ossl, const char *ossl_what,
                double raw)
{
    printf("| %-34s | %12.1f %-4s | %12.1f %-4s | %5.2f | %-30s |", op, ours, unit, ossl, unit,
           ossl > 0 ? ours / ossl : 0.0, ossl_what);
    if (raw > 0)
        printf(" %10.1f %-4s | %+5.1f%% |\n", raw, unit, (raw / ours - 1.0) * 100.0); /* time ours takes over raw */
    else
        printf(" %15s | %6s |\n", "", "");
}

static void sym_rows(otrp__jose_enc enc, size_t len)
{
    struct sym_ctx c;
    memset(&c, 0, sizeof(c));
    c.enc = enc;
    c.len = len;
    static const char AAD[] = "eyJlbmMiOiJBMTI4Q0JDLUhTMjU2In0";
    c.aad = (const uint8_t *)AAD;
    c.aad_len = sizeof(AAD) - 1;
    c.ct = malloc(len + 32);
    c.pt = malloc(len + 16);
    uint8_t *plain = calloc(1, len);
    if (c.ct == NULL || c.pt == NULL || plain == NULL ||
        otrp__jose_random(c.cek, sizeof(c.cek)) != OTRP_OK ||
        otrp__jose_random(c.iv, sizeof(c.iv)) != OTRP_OK)
        exit(1);
    /* a whole number of blocks, so CBC adds a padding block we ignore for rates */
    size_t ct_len = 0;
    if (otrp__jwe_content_encrypt(enc, c.cek, otrp__jwe_cek_len(enc), c.iv, otrp__jwe_iv_len(enc),
                                  c.aad, c.aad_len, plain, len, c.ct, &ct_len, c.tag_buf) != OTRP_OK)
        exit(1);
    c.len = ct_len;
    memcpy(c.ct + ct_len, c.tag_buf, 16);
    c.tag = c.ct + ct_len;
    double ours, raw;
    rate_pair(do_content_decrypt, &c, &ours, do_raw_decrypt, &c, &raw);
    ours *= (double)len / 1e6;
    raw *= (double)len / 1e6;
    double ossl;
    const char *what;
    char label[64];
    if (enc == OTRP__JOSE_ENC_A128GCM) {
        ossl = openssl_bytes("-evp", "aes-128-gcm", (unsigned)len, 1) / 1e6;
        what = "speed -decrypt -evp aes-128-gcm";
        snprintf(label, sizeof(label), "A128GCM decrypt %s", len == MIB ? "1 MiB" : "1 KiB");
    } else {
        double aes = openssl_bytes("-evp", "aes-128-cbc", (unsigned)len, 1);
        double mac = openssl_bytes("-hmac", "sha256", (unsigned)len, 0);
        ossl = aes > 0 && mac > 0 ? 1.0 / (1.0 / aes + 1.0 / mac) / 1e6 : 0;
        what = "aes-128-cbc(-decrypt) + hmac sha256";
        snprintf(label, sizeof(label), "A128CBC-HS256 decrypt %s", len == MIB ? "1 MiB" : "1 KiB");
    }
    row(label, ours, "MB/s", ossl, what, raw);
    free(c.ct);
    free(c.pt);
    free(plain);
}

int main(void)
{
    char detail[128];
    otrp__jose_key *rsa = NULL, *ec = NULL;
    if (otrp__jose_key_generate(OTRP__JOSE_KTY_RSA, 2048, &rsa, detail, sizeof(detail)) != OTRP_OK ||
        otrp__jose_key_generate(OTRP__JOSE_KTY_EC_P256, 0, &ec, detail, sizeof(detail)) != OTRP_OK) {
        fprintf(stderr, "bench: key generation failed\n");
        return 1;
    }
    printf("lib/jose on mbedTLS %s vs OpenSSL (same run); ratio = ours / OpenSSL\n\n",
           bench_raw_version());
    printf("| %-34s | %17s | %17s | %5s | %-30s | %15s | %6s |\n", "operation", "lib/jose",
           "OpenSSL", "ratio", "OpenSSL measured with", "raw mbedTLS", "JOSE vs raw");
    printf("|%s|%s|%s|%s|%s|%s|%s|\n", "------------------------------------",
           "-------------------", "-------------------", "-------", "--------------------------------",
           "-----------------", "--------");

    double osign = 0, overify = 0, esign = 0, everify = 0;
    (void)openssl_pk("rsa2048", &osign, &overify);
    (void)openssl_pk("ecdsap256", &esign, &everify);

    static struct sig_ctx s, e;
    s.key = rsa;
    s.alg = OTRP__JOSE_ALG_RS256;
    s.raw = raw_of(rsa);
    double ours, raw;
    rate_pair(do_sign, &s, &ours, do_raw_sign, &s, &raw);
    row("RS256 sign (RSA-2048)", ours, "op/s", osign, "speed rsa2048 sign", raw);
    rate_pair(do_verify, &s, &ours, do_raw_verify, &s, &raw);
    row("RS256 verify (RSA-2048)", ours, "op/s", overify, "speed rsa2048 verify", raw);
    otrp_buf_free(&s.sig);
    e.key = ec;
    e.alg = OTRP__JOSE_ALG_ES256;
    e.raw = raw_of(ec);
    rate_pair(do_sign, &e, &ours, do_raw_sign, &e, &raw);
    row("ES256 sign (P-256)", ours, "op/s", esign, "speed ecdsap256 sign", raw);
    rate_pair(do_verify, &e, &ours, do_raw_verify, &e, &raw);
    row("ES256 verify (P-256)", ours, "op/s", everify, "speed ecdsap256 verify", raw);
    otrp_buf_free(&e.sig);
    bench_raw_pk_free(e.raw);

    /* unwrap: a compact JWE of a 32-byte key (P7 encrypted_ta.key), dominated by the
     * RSA-2048 private operation; OpenSSL's figure is its RSA-2048 private op rate */
    const otrp__jose_alg kw[] = {OTRP__JOSE_ALG_RSA1_5, OTRP__JOSE_ALG_RSA_OAEP};
    const char *kw_name[] = {"RSA1_5 unwrap (JWE of 32 B)", "RSA-OAEP unwrap (JWE of 32 B)"};
    for (int i = 0; i < 2; i++) {
        struct jwe_ctx j = {rsa, {0}, {0}};
        otrp__jwe_enc_opts opts = {.alg = kw[i], .form = OTRP__JOSE_FORM_COMPACT};
        uint8_t k[32] = {1};
        if (otrp__jwe_encrypt(k, sizeof(k), rsa, &opts, &j.text, detail, sizeof(detail)) != OTRP_OK)
            return 1;
        s.oaep = i;
        uint8_t cek[32] = {2};
        if (bench_raw_rsa_encrypt(s.raw, i, cek, sizeof(cek), s.ct, &s.ct_len) != 0)
            return 1;
        rate_pair(do_jwe_decrypt, &j, &ours, do_raw_unwrap, &s, &raw);
        row(kw_name[i], ours, "op/s", osign, "speed rsa2048 sign (private op)", raw);
        otrp_buf_free(&j.text);
        otrp_buf_free(&j.pt);
    }

    sym_rows(OTRP__JOSE_ENC_A128CBC_HS256, KIB);
    sym_rows(OTRP__JOSE_ENC_A128CBC_HS256, MIB);
    sym_rows(OTRP__JOSE_ENC_A128GCM, KIB);
    sym_rows(OTRP__JOSE_ENC_A128GCM, MIB);

    /* the whole JWE path for a 1 MiB TA: JSON, base64url, RSA unwrap, tag, decrypt */
    struct jwe_ctx full = {rsa, {0}, {0}};
    uint8_t *big = calloc(1, MIB);
    if (big == NULL || otrp__jwe_encrypt(big, MIB, rsa, NULL, &full.text, detail, sizeof(detail)) !=
                           OTRP_OK)
        return 1;
    rate_pair(do_jwe_decrypt, &full, &ours, NULL, NULL, &raw);
    row("JWE general decrypt 1 MiB (all)", ours * MIB / 1e6, "MB/s", 0, "(no OpenSSL equivalent)",
        0);
    free(big);
    otrp_buf_free(&full.text);
    otrp_buf_free(&full.pt);
    bench_raw_pk_free(s.raw);
    otrp__jose_key_free(rsa);
    otrp__jose_key_free(ec);
    return 0;
}
