/*
 * bench/tee: time per mock TEE operation (in-process, state on disk with fsync), split
 * into three parts:
 * - crypto, measured in the same run by the raw lib/jose calls the operation makes, on
 *   the same inputs: certificate chain check, JWS verify, JWE decrypt/encrypt, SP AIK key
 *   import and unwrap, AES-256-CBC, the TA image signature, SHA-256 (blob name, DSI
 *   hash) and the RS256 answer signature;
 * - sync: the durability calls of the commit (fsync of files and directories, renames),
 *   timed by the store itself around each call (otrp__mock_store.stats);
 * - other = operation - crypto - sync: JSON, base64, writing the files, DSI building.
 * Goal (issue 6): everything but crypto (sync + other) <= 20% of the operation. Each
 * span is timed in wall-clock time and in the thread's CPU time: on a shared machine the
 * wall-clock shares move with the other load (the operation and its crypto replay run at
 * different instants), the CPU-time shares do not; fsync waits show only in wall time.
 *
 * usage: bench_tee [ITERATIONS [OPERATION]]   (run from the source tree: it reads
 * test/data/pki). OPERATION (gds, 1k or 1m) runs only that row, for profiling.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../test/support/mock_fixture.h"
#include "../../test/support/tam_builder.h"
#include "mocktee/mocktee.h"
#include "util/base64.h"
#include "util/json_strict.h"

#define PKI TEST_PKI_DIR "/"
#define GOAL_PERCENT 20.0

static void die(const char *what)
{
    fprintf(stderr, "bench_tee: %s\n", what);
    exit(1);
}

/* Every span is timed twice: wall clock (what a caller waits, fsync included) and the
 * thread's CPU time (user + system: what the machine's other load cannot inflate). */
typedef struct tms {
    double wall, cpu;
} tms;

static double clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static tms now(void)
{
    tms t = {clock_ms(CLOCK_MONOTONIC), clock_ms(CLOCK_THREAD_CPUTIME_ID)};
    return t;
}

static tms since(tms t0)
{
    tms t = now();
    t.wall -= t0.wall;
    t.cpu -= t0.cpu;
    return t;
}

static tms tadd(tms a, tms b)
{
    tms t = {a.wall + b.wall, a.cpu + b.cpu};
    return t;
}

static otrp__mock *g_tee;
static test_tam *g_tam;
static otrp__jose_key *g_sp;
static otrp__x509_certs *g_anchors;
static char *g_spaik;

/* Sync time and calls of the last process() call. */
static double g_sync_ms;
static otrp__mock_sync_stats g_sync;

static void process(const otrp_buf *msg, otrp_buf *out, const char *name)
{
    otrp_buf_reset(out);
    otrp__mock_sync_stats before = g_tee->store.stats;
    if (otrp__mock_process(g_tee, (const char *)msg->data, msg->len, out) != OTRP_OK)
        die(name);
    const otrp__mock_sync_stats *after = &g_tee->store.stats;
    g_sync.fsyncs = after->fsyncs - before.fsyncs;
    g_sync.dir_fsyncs = after->dir_fsyncs - before.dir_fsyncs;
    g_sync.renames = after->renames - before.renames;
    g_sync_ms = (double)(after->ns - before.ns) / 1e6;
}

static void expect_pass(const otrp_buf *out, const char *name)
{
    test_tam_answer a;
    if (test_tam_read(g_tam, name, (const char *)out->data, out->len, &a) != OTRP_OK ||
        strcmp(a.status, "pass") != 0) {
        fprintf(stderr, "%s: %s %s\n", name, a.error_code, a.error_message);
        die("operation failed");
    }
    if (a.content != NULL && otrp__json_string(a.content, "teespaik") != NULL) {
        free(g_spaik);
        g_spaik = strdup(otrp__json_string(a.content, "teespaik"));
    }
    test_tam_answer_free(&a);
}

/* The parsed pieces of a request that the crypto replay needs. */
struct pieces {
    cJSON *outer;
    const cJSON *jws_json;
    cJSON *tbs_doc;
    const cJSON *tbs;
};

static void split(const otrp_buf *msg, struct pieces *p)
{
    memset(p, 0, sizeof *p);
    p->outer = cJSON_Parse((const char *)msg->data);
    p->jws_json = p->outer->child;
    const char *payload = otrp__json_string(p->jws_json, "payload");
    size_t n = strlen(payload), len = 0;
    uint8_t *text = malloc(n + 1);
    if (otrp__b64_decode(payload, n, text, &len, OTRP__B64_URL) != OTRP_OK)
        die("payload");
    p->tbs_doc = cJSON_ParseWithLength((const char *)text, len);
    p->tbs = p->tbs_doc->child;
    free(text);
}

/* Raw signature check of a JWS JSON object with key: SHA-256 + RSA/EC over the signing
 * input exactly as received (the decoding of the signature is done before timing). */
static tms raw_verify_json(const cJSON *jws, const otrp__jose_key *key, otrp__jose_alg alg)
{
    const char *prot = otrp__json_string(jws, "protected");
    const char *payload = otrp__json_string(jws, "payload");
    const char *sig64 = otrp__json_string(jws, "signature");
    size_t pl = strlen(prot), yl = strlen(payload), sl = strlen(sig64), siglen = 0;
    char *input = malloc(pl + 1 + yl + 1);
    memcpy(input, prot, pl);
    input[pl] = '.';
    memcpy(input + pl + 1, payload, yl);
    uint8_t sig[1024];
    if (sl > 1300 || otrp__b64_decode(sig64, sl, sig, &siglen, OTRP__B64_URL) != OTRP_OK)
        die("replay: signature");
    tms t0 = now();
    if (otrp__jose_verify(key, alg, input, pl + 1 + yl, sig, siglen, 0) != OTRP_OK)
        die("replay: raw verify");
    tms t = since(t0);
    free(input);
    return t;
}

/* The TEE's crypto for one request: chain, signature, content; returns ms. */
static tms crypto_request(const struct pieces *p, int decrypt_content)
{
    otrp__jws *jws = NULL;
    otrp__x509_certs *chain = NULL;
    otrp__jose_key *leaf = NULL;
    char cn[128];
    if (otrp__jws_parse_json(p->jws_json, OTRP__JOSE_F_PROFILE, &jws, NULL, 0) != OTRP_OK ||
        otrp__jws_x5c(jws, &chain, NULL, 0) != OTRP_OK)
        die("replay: request");
    tms t0 = now();
    if (otrp__x509_verify(chain, g_anchors, TEST_PKI_TIME, 0, &leaf, cn, sizeof cn, NULL, 0) != OTRP_OK)
        die("replay: chain");
    tms t = since(t0);
    t = tadd(t, raw_verify_json(p->jws_json, leaf, OTRP__JOSE_ALG_RS256));
    if (decrypt_content) {
        /* RSA private-key unwrap of the CEK + A128CBC-HS256 of a few hundred bytes */
        otrp_buf plain = {0};
        t0 = now();
        if (otrp__jwe_decrypt_json(otrp__json_member(p->tbs, "content"), g_tee->key,
                                   OTRP__JOSE_F_PROFILE, &plain, NULL, NULL, 0) != OTRP_OK)
            die("replay: content");
        t = tadd(t, since(t0));
        otrp_buf_free(&plain);
    }
    otrp__jws_free(jws);
    otrp__x509_certs_free(chain);
    otrp__jose_key_free(leaf);
    return t;
}

/* The TEE's crypto for its answer: hash the DSI (when one is sent), encrypt plain_len
 * bytes to the TAM, sign the TBS; returns ms. */
static tms crypto_answer(const struct pieces *p, size_t plain_len, int hash_dsi)
{
    char *plain = malloc(plain_len + 1);
    memset(plain, 'd', plain_len);
    plain[plain_len] = '\0';
    otrp__jws *jws = NULL;
    otrp__x509_certs *chain = NULL;
    otrp__jose_key *tam = NULL;
    if (otrp__jws_parse_json(p->jws_json, 0, &jws, NULL, 0) != OTRP_OK ||
        otrp__jws_x5c(jws, &chain, NULL, 0) != OTRP_OK ||
        otrp__x509_certs_public_key(chain, 0, &tam, NULL, 0) != OTRP_OK)
        die("replay: TAM key");
    tms t0 = now();
    uint8_t digest[32];
    cJSON *jwe = NULL;
    if ((hash_dsi && otrp__jose_sha256(plain, plain_len, digest) != OTRP_OK) ||
        otrp__jwe_encrypt_json(plain, plain_len, tam, NULL, &jwe, NULL, 0) != OTRP_OK)
        die("replay: answer encryption");
    tms t = since(t0);
    char *tbs = cJSON_PrintUnformatted(jwe); /* JSON printing is not crypto */
    otrp_buf out = {0};
    /* the signing input is base64url of the TBS: 4/3 of it */
    size_t input_len = strlen(tbs) * 4 / 3 + 40;
    char *input = malloc(input_len);
    memset(input, 'e', input_len);
    t0 = now();
    if (otrp__jose_sign(g_tee->key, OTRP__JOSE_ALG_RS256, input, input_len, &out) != OTRP_OK)
        die("replay: answer signature");
    t = tadd(t, since(t0));
    cJSON_free(tbs);
    free(input);
    cJSON_Delete(jwe);
    otrp_buf_free(&out);
    otrp__jws_free(jws);
    otrp__x509_certs_free(chain);
    otrp__jose_key_free(tam);
    free(plain);
    return t;
}

/* InstallTA's own crypto: SP AIK import, key unwrap, AES, image signature, blob hash. */
static tms crypto_install(const struct pieces *p)
{
    const cJSON *rec = otrp__mock_spaik_find(g_tee->state, "tam1.example", "sp1");
    otrp_buf pem = {0}, cek = {0}, bin = {0};
    if (otrp__mock_blob_read(g_tee, otrp__json_string(rec, "key"), &pem) != OTRP_OK)
        die("replay: SP AIK blob");
    const cJSON *eta = otrp__json_member(p->tbs, "encrypted_ta");
    const char *key = otrp__json_string(eta, "key");
    const char *ct64 = otrp__json_string(eta, "ciphertadata");
    const char *ivhex = otrp__json_string(eta, "iv");
    size_t n = strlen(ct64), ct_len = 0;
    uint8_t *ct = malloc(n);
    if (otrp__b64_decode(ct64, n, ct, &ct_len, OTRP__B64_STD) != OTRP_OK)
        die("replay: ciphertext");
    uint8_t iv[16];
    for (size_t i = 0; i < 16; i++) {
        unsigned v = 0;
        (void)sscanf(ivhex + 2 * i, "%2x", &v);
        iv[i] = (uint8_t)v;
    }
    otrp__jose_key *aik = NULL;
    otrp__jws *image = NULL;
    otrp__x509_certs *spc = NULL;
    otrp__jose_key *spk = NULL;
    otrp_buf spder = {0};
    if (test_read_file(PKI "sp1.pem", &spder) != OTRP_OK || otrp__x509_certs_new(&spc) != OTRP_OK ||
        otrp__x509_certs_add(spc, spder.data, spder.len, NULL, 0) != OTRP_OK)
        die("replay: SP cert");
    tms t0 = now();
    uint8_t digest[32];
    /* SP AIK: blob hash check, key import, CEK unwrap (RSA private), AES-256-CBC */
    if (otrp__jose_sha256(pem.data, pem.len, digest) != OTRP_OK ||
        otrp__jose_key_load(pem.data, pem.len, &aik, NULL, 0) != OTRP_OK ||
        otrp__jwe_decrypt(key, strlen(key), aik, 0, &cek, NULL, NULL, 0) != OTRP_OK ||
        otrp__jose_aes256cbc_decrypt(cek.data, iv, ct, ct_len, &bin) != OTRP_OK ||
        otrp__x509_certs_public_key(spc, 0, &spk, NULL, 0) != OTRP_OK)
        die("replay: TA decryption");
    tms t = since(t0);
    /* the image: ES256 over its signing input, then SHA-256 of the binary (blob name) */
    if (otrp__jws_parse((const char *)bin.data, bin.len, 0, &image, NULL, 0) != OTRP_OK)
        die("replay: image");
    const char *dot = memchr(bin.data, '.', bin.len);
    const char *last = NULL;
    for (const char *q = (const char *)bin.data; q < (const char *)bin.data + bin.len; q++)
        if (*q == '.')
            last = q;
    uint8_t sig[128];
    size_t siglen = 0;
    size_t sl = bin.len - (size_t)(last + 1 - (const char *)bin.data);
    if (dot == NULL || sl > 170 ||
        otrp__b64_decode(last + 1, sl, sig, &siglen, OTRP__B64_URL) != OTRP_OK)
        die("replay: image signature");
    size_t plen = 0;
    const uint8_t *payload = otrp__jws_payload(image, &plen);
    t0 = now();
    if (otrp__jose_verify(spk, OTRP__JOSE_ALG_ES256, bin.data, (size_t)(last - (const char *)bin.data),
                          sig, siglen, 0) != OTRP_OK ||
        otrp__jose_sha256(payload, plen, digest) != OTRP_OK)
        die("replay: image verify");
    t = tadd(t, since(t0));
    otrp__jose_key_free(aik);
    otrp__jose_key_free(spk);
    otrp__jws_free(image);
    otrp__x509_certs_free(spc);
    otrp_buf_free(&spder);
    otrp_buf_free(&pem);
    otrp_buf_free(&cek);
    otrp_buf_free(&bin);
    free(ct);
    return t;
}

#define MAX_ITERS 1000

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof v[0], cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Medians over the iterations (the machine is shared: means would follow the outliers).
 * Wall: total, crypto, sync, other = median(op - crypto - sync) and the non-crypto share
 * median(op - crypto) / median(op). CPU: the same shares in thread CPU time (sync is
 * mostly waiting, so the CPU share is the work of everything but crypto). */
static void report(const char *what, int n, const tms *op, const tms *crypto,
                   const double *sync)
{
    double w_op[MAX_ITERS], w_crypto[MAX_ITERS], w_non[MAX_ITERS], w_other[MAX_ITERS];
    double c_op[MAX_ITERS], c_non[MAX_ITERS], w_sync[MAX_ITERS];
    for (int i = 0; i < n; i++) {
        w_op[i] = op[i].wall;
        w_crypto[i] = crypto[i].wall;
        w_sync[i] = sync[i];
        w_non[i] = op[i].wall - crypto[i].wall;
        w_other[i] = op[i].wall - crypto[i].wall - sync[i];
        c_op[i] = op[i].cpu;
        c_non[i] = op[i].cpu - crypto[i].cpu;
    }
    double m_op = median(w_op, n), m_non = median(w_non, n), m_cop = median(c_op, n);
    double pct = 100.0 * m_non / m_op, cpct = 100.0 * median(c_non, n) / m_cop;
    printf("| %-15s | %7.2f | %7.2f | %6.2f | %6.2f | %5.1f%% | %7.2f | %5.1f%% | %u+%u+%u | %s |\n",
           what, m_op, median(w_crypto, n), median(w_sync, n), median(w_other, n), pct, m_cop,
           cpct, (unsigned)g_sync.fsyncs, (unsigned)g_sync.dir_fsyncs, (unsigned)g_sync.renames,
           pct <= GOAL_PERCENT ? (cpct <= GOAL_PERCENT ? "met" : "wall only")
                               : (cpct <= GOAL_PERCENT ? "CPU only" : "not met"));
}

static void bench_gds(int iters)
{
    otrp_buf msg = {0}, out = {0};
    tms op[MAX_ITERS], crypto[MAX_ITERS];
    double sync[MAX_ITERS];
    if (test_tam_get_device_state(g_tam, NULL, &msg) != OTRP_OK)
        die("GDS message");
    struct pieces p;
    split(&msg, &p);
    for (int i = 0; i < iters; i++) {
        tms t0 = now();
        process(&msg, &out, "GetDeviceState");
        op[i] = since(t0);
        sync[i] = g_sync_ms;
        test_tam_answer a;
        if (test_tam_read(g_tam, "GetDeviceState", (char *)out.data, out.len, &a) != OTRP_OK)
            die("GDS answer");
        size_t dsi_len = strlen(a.dsi);
        test_tam_answer_free(&a);
        crypto[i] = tadd(crypto_request(&p, 0), crypto_answer(&p, dsi_len, 1));
    }
    report("GetDeviceState", iters, op, crypto, sync);
    cJSON_Delete(p.outer);
    cJSON_Delete(p.tbs_doc);
    otrp_buf_free(&msg);
    otrp_buf_free(&out);
}

static void bench_install(int iters, size_t size, const char *label)
{
    otrp_buf msg = {0}, out = {0}, image = {0};
    tms op[MAX_ITERS], crypto[MAX_ITERS];
    double sync[MAX_ITERS];
    unsigned char *bin = malloc(size);
    for (int i = 0; i < iters; i++) {
        for (size_t k = 0; k < size; k++)
            bin[k] = (unsigned char)(k * 7u + (unsigned)i);
        if (test_tam_sign_ta(g_sp, bin, size, &image) != OTRP_OK)
            die("TA image");
        cJSON *eta = NULL;
        if (test_tam_encrypt_ta(g_spaik, image.data, image.len, NULL, 0, 0, &eta) != OTRP_OK)
            die("encrypted_ta");
        cJSON *extra = cJSON_CreateObject();
        cJSON_AddItemToObject(extra, "encrypted_ta", eta);
        char content[160];
        (void)snprintf(content, sizeof content,
                       "{\"spid\":\"sp1\",\"sdname\":\"sd1\",\"taid\":\"%s-%d\"}", label, i);
        cJSON *c = cJSON_Parse(content);
        test_tam_opts o;
        memset(&o, 0, sizeof o);
        o.no_nextdsi = 1; /* keeps the dsihash reference: one GetDeviceState serves all */
        if (test_tam_request(g_tam, "InstallTA", c, extra, &o, &msg) != OTRP_OK)
            die("InstallTA message");
        cJSON_Delete(c);
        cJSON_Delete(extra);
        struct pieces p;
        split(&msg, &p);
        tms t0 = now();
        process(&msg, &out, "InstallTA");
        op[i] = since(t0);
        sync[i] = g_sync_ms;
        expect_pass(&out, "InstallTA");
        crypto[i] = tadd(tadd(crypto_request(&p, 1), crypto_install(&p)), crypto_answer(&p, 64, 0));
        cJSON_Delete(p.outer);
        cJSON_Delete(p.tbs_doc);
    }
    char what[64];
    (void)snprintf(what, sizeof what, "InstallTA %s", label);
    report(what, iters, op, crypto, sync);
    free(bin);
    otrp_buf_free(&msg);
    otrp_buf_free(&out);
    otrp_buf_free(&image);
}

int main(int argc, char **argv)
{
    int iters = argc > 1 ? atoi(argv[1]) : 20;
    if (iters < 1 || iters > MAX_ITERS)
        iters = 20;
    char dir[512];
    if (fx_teedir(dir, sizeof dir, "{\"name\":\"bench-tee\",\"quota_bytes\":0}") != 0)
        die("TEE directory (run from the source tree)");
    otrp_mock_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.verify_time = TEST_PKI_TIME;
    otrp_buf anchors = {0}, msg = {0}, out = {0};
    if (otrp__mock_open(dir, &o, &g_tee, NULL, 0) != OTRP_OK ||
        test_tam_new(PKI "tam1-key.pem", PKI "tam1.pem", &g_tam) != OTRP_OK ||
        test_load_key(PKI "sp1-key.pem", &g_sp) != OTRP_OK ||
        test_read_file(PKI "tam-root.pem", &anchors) != OTRP_OK ||
        otrp__x509_certs_new(&g_anchors) != OTRP_OK ||
        otrp__x509_certs_add(g_anchors, anchors.data, anchors.len, NULL, 0) != OTRP_OK)
        die("setup");
    double load[3] = {0, 0, 0};
    (void)getloadavg(load, 3);
    printf("mock TEE, RSA-2048 TEE/TAM keys, P-256 SP key, state in %s, %d iterations "
           "(medians, ms per operation), load average %.2f\n\n",
           dir, iters, load[0]);
    printf("| operation       | wall ms | crypto  | sync   | other  | non-crypto | CPU ms  | "
           "non-crypto | syncs f+d+r | goal <= 20%% |\n");
    printf("|-----------------|---------|---------|--------|--------|------------|---------|"
           "------------|-------------|-------------|\n");
    /* SD for the installs */
    if (test_tam_get_device_state(g_tam, NULL, &msg) != OTRP_OK)
        die("GDS");
    process(&msg, &out, "GetDeviceState");
    expect_pass(&out, "GetDeviceState");
    char *spcert = test_cert_b64(PKI "sp1.pem");
    char content[4096];
    (void)snprintf(content, sizeof content, "{\"spid\":\"sp1\",\"sdname\":\"sd1\",\"spcert\":\"%s\"}",
                   spcert);
    free(spcert);
    cJSON *c = cJSON_Parse(content);
    if (test_tam_request(g_tam, "CreateSD", c, NULL, NULL, &msg) != OTRP_OK)
        die("CreateSD");
    cJSON_Delete(c);
    process(&msg, &out, "CreateSD");
    expect_pass(&out, "CreateSD");

    const char *only = argc > 2 ? argv[2] : "";
    if (only[0] == '\0' || strcmp(only, "1k") == 0)
        bench_install(iters, 1024, "1KiB");
    if (only[0] == '\0' || strcmp(only, "1m") == 0)
        bench_install(only[0] == '\0' && iters > 10 ? 10 : iters, 1024 * 1024, "1MiB");
    if (only[0] == '\0' || strcmp(only, "gds") == 0)
        bench_gds(iters); /* last: it moves the dsihash reference */

    otrp__mock_close(g_tee);
    test_tam_free(g_tam);
    otrp__jose_key_free(g_sp);
    otrp__x509_certs_free(g_anchors);
    free(g_spaik);
    otrp_buf_free(&anchors);
    otrp_buf_free(&msg);
    otrp_buf_free(&out);
    fx_rm_rf(dir);
    return 0;
}
