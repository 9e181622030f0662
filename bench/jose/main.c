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

#include "jose/internal.h"
#include "jose/jose.h"
#include "raw.h"

/* Each measurement runs at least MIN_SECONDS (and at least MIN_ITERS times). Ours and
 * raw mbedTLS are measured in ROUNDS interleaved rounds (ours-raw, then raw-ours, so a
 * load change during the run hits both alike); a row shows the best rate of each, and
 * the "JOSE vs raw" overhead is the median of the per-round ratios, with the lower and
 * upper quartile beside it: a busy machine (three builds share two cores here) moves
 * single rounds, not the median of ratios taken seconds apart. */
#define MIN_SECONDS 0.15
#define ROUNDS 9
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

/* Rates of a and b (b may be NULL) over interleaved rounds. */
struct pair {
    double a, b;             /* best rate of each */
    double med, lo, hi;      /* time of a / time of b per round: median, quartiles */
};

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static struct pair rate_pair(op_fn a, void *actx, op_fn b, void *bctx)
{
    struct pair r = {0, 0, 0, 0, 0};
    double ratio[ROUNDS];
    for (int i = 0; i < ROUNDS; i++) {
        double x, y = 0;
        if (b != NULL && i % 2 == 1) {
            y = rate(b, bctx);
            x = rate(a, actx);
        } else {
            x = rate(a, actx);
            if (b != NULL)
                y = rate(b, bctx);
        }
        r.a = x > r.a ? x : r.a;
        r.b = y > r.b ? y : r.b;
        ratio[i] = y / x;
    }
    if (b != NULL) {
        qsort(ratio, ROUNDS, sizeof(ratio[0]), cmp_double);
        r.med = ratio[ROUNDS / 2];
        r.lo = ratio[ROUNDS / 4];
        r.hi = ratio[ROUNDS - 1 - ROUNDS / 4];
    }
    return r;
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

/* One table row; p->b == 0: no raw mbedTLS figure. scale turns rates into the unit. */
static void row(const char *op, const struct pair *p, double scale, const char *unit,
                double ossl, const char *ossl_what)
{
    double ours = p->a * scale;
    printf("| %-38s | %10.1f %-4s | %10.1f %-4s | %5.2f | %-36s |", op, ours, unit, ossl, unit,
           ossl > 0 ? ours / ossl : 0.0, ossl_what);
    if (p->b > 0) /* the time ours takes over raw: median of rounds [quartiles] */
        printf(" %10.1f %-4s | %+6.1f%% [%+.0f, %+.0f] |\n", p->b * scale, unit,
               (p->med - 1.0) * 100.0, (p->lo - 1.0) * 100.0, (p->hi - 1.0) * 100.0);
    else
        printf(" %15s | %20s |\n", "", "");
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
    struct pair r = rate_pair(do_content_decrypt, &c, do_raw_decrypt, &c);
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
    row(label, &r, (double)len / 1e6, "MB/s", ossl, what);
    free(c.ct);
    free(c.pt);
    free(plain);
}

/* The cost of a PSA key cache miss: OTRP__JOSE_PSA_CACHE + 1 loaded copies of one key
 * used in turn, so every use finds its PSA key evicted and imports it again. */
#define EVICT_COPIES (OTRP__JOSE_PSA_CACHE + 1u)

struct evict_ctx {
    otrp__jose_key *key[EVICT_COPIES];
    size_t next;
    struct sig_ctx *sig;  /* alg, signature to verify */
    struct jwe_ctx *jwe;  /* JWE to decrypt */
};

static const otrp__jose_key *evict_next(struct evict_ctx *c)
{
    const otrp__jose_key *k = c->key[c->next];
    c->next = (c->next + 1) % EVICT_COPIES;
    return k;
}

static int do_sign_evicted(void *p)
{
    struct evict_ctx *c = p;
    otrp_buf_reset(&c->sig->sig);
    return otrp__jose_sign(evict_next(c), c->sig->alg, MSG, sizeof(MSG) - 1, &c->sig->sig) ==
                   OTRP_OK
               ? 0
               : 1;
}

static int do_verify_evicted(void *p)
{
    struct evict_ctx *c = p;
    return otrp__jose_verify(evict_next(c), c->sig->alg, MSG, sizeof(MSG) - 1, c->sig->sig.data,
                             c->sig->sig.len, 0) == OTRP_OK
               ? 0
               : 1;
}

static int do_unwrap_evicted(void *p)
{
    struct evict_ctx *c = p;
    otrp_buf_reset(&c->jwe->pt);
    return otrp__jwe_decrypt((char *)c->jwe->text.data, c->jwe->text.len, evict_next(c), 0,
                             &c->jwe->pt, NULL, NULL, 0) == OTRP_OK
               ? 0
               : 1;
}

/* EVICT_COPIES copies of key (private through PKCS#8 PEM, public through SPKI). */
static void evict_init(struct evict_ctx *c, const otrp__jose_key *key, int private_part)
{
    otrp_buf enc = {0};
    otrp_status st = private_part ? otrp__jose_key_export_private_pem(key, &enc)
                                  : otrp__jose_key_export_spki_der(key, &enc);
    for (size_t i = 0; i < EVICT_COPIES && st == OTRP_OK; i++)
        st = otrp__jose_key_load(enc.data, enc.len, &c->key[i], NULL, 0);
    otrp_buf_free(&enc);
    if (st != OTRP_OK)
        exit(1);
    c->next = 0;
}

static void evict_free(struct evict_ctx *c)
{
    for (size_t i = 0; i < EVICT_COPIES; i++)
        otrp__jose_key_free(c->key[i]);
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
    double load[3] = {0, 0, 0};
    (void)getloadavg(load, 3);
    printf("lib/jose on mbedTLS %s vs OpenSSL (same run); ratio = ours / OpenSSL; "
           "load average at start %.2f\n\n",
           bench_raw_version(), load[0]);
    printf("| %-38s | %15s | %15s | %5s | %-36s | %15s | %20s |\n", "operation", "lib/jose",
           "OpenSSL", "ratio", "OpenSSL measured with", "raw mbedTLS",
           "JOSE vs raw [IQR]");
    printf("|%s|%s|%s|%s|%s|%s|%s|\n", "----------------------------------------",
           "-----------------", "-----------------", "-------",
           "--------------------------------------", "-----------------",
           "----------------------");

    double osign = 0, overify = 0, esign = 0, everify = 0;
    (void)openssl_pk("rsa2048", &osign, &overify);
    (void)openssl_pk("ecdsap256", &esign, &everify);

    static struct sig_ctx s, e;
    struct pair r;
    struct evict_ctx ev;
    s.key = rsa;
    s.alg = OTRP__JOSE_ALG_RS256;
    s.raw = raw_of(rsa);
    r = rate_pair(do_sign, &s, do_raw_sign, &s);
    row("RS256 sign (RSA-2048)", &r, 1, "op/s", osign, "speed rsa2048 sign");
    evict_init(&ev, rsa, 1);
    ev.sig = &s;
    r = rate_pair(do_sign_evicted, &ev, do_raw_sign, &s);
    row("RS256 sign, PSA key evicted", &r, 1, "op/s", osign, "speed rsa2048 sign");
    evict_free(&ev);
    r = rate_pair(do_verify, &s, do_raw_verify, &s);
    row("RS256 verify (RSA-2048)", &r, 1, "op/s", overify, "speed rsa2048 verify");
    otrp_buf_free(&s.sig);
    e.key = ec;
    e.alg = OTRP__JOSE_ALG_ES256;
    e.raw = raw_of(ec);
    r = rate_pair(do_sign, &e, do_raw_sign, &e);
    row("ES256 sign (P-256)", &r, 1, "op/s", esign, "speed ecdsap256 sign");
    evict_init(&ev, ec, 1);
    ev.sig = &e;
    r = rate_pair(do_sign_evicted, &ev, do_raw_sign, &e);
    row("ES256 sign, PSA key evicted", &r, 1, "op/s", esign, "speed ecdsap256 sign");
    evict_free(&ev);
    r = rate_pair(do_verify, &e, do_raw_verify, &e);
    row("ES256 verify (P-256)", &r, 1, "op/s", everify, "speed ecdsap256 verify");
    evict_init(&ev, ec, 0);
    r = rate_pair(do_verify_evicted, &ev, do_raw_verify, &e);
    row("ES256 verify, PSA key evicted", &r, 1, "op/s", everify, "speed ecdsap256 verify");
    evict_free(&ev);
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
        r = rate_pair(do_jwe_decrypt, &j, do_raw_unwrap, &s);
        row(kw_name[i], &r, 1, "op/s", osign, "speed rsa2048 sign (private op)");
        if (i == 0) {
            evict_init(&ev, rsa, 1);
            ev.jwe = &j;
            r = rate_pair(do_unwrap_evicted, &ev, do_raw_unwrap, &s);
            row("RSA1_5 unwrap, PSA key evicted", &r, 1, "op/s", osign,
                "speed rsa2048 sign (private op)");
            evict_free(&ev);
        }
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
    r = rate_pair(do_jwe_decrypt, &full, NULL, NULL);
    row("JWE general decrypt 1 MiB (all)", &r, (double)MIB / 1e6, "MB/s", 0,
        "(no OpenSSL equivalent)");
    free(big);
    otrp_buf_free(&full.text);
    otrp_buf_free(&full.pt);
    bench_raw_pk_free(s.raw);
    otrp__jose_key_free(rsa);
    otrp__jose_key_free(ec);
    (void)getloadavg(load, 3);
    printf("\nload average at end %.2f\n", load[0]);
    return 0;
}
