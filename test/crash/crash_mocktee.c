/*
 * Crash safety of the mock TEE (make check-crash): otrp-tee-sim is killed with SIGKILL at
 * random instants during install/update/delete sessions; after every session the daemon
 * must restart on its state, every TA must be either fully present (its stored binary is
 * exactly one that a TAM sent) or absent, and the DSI, the TEE's own TA list and the
 * stored state must agree. Even-numbered TAs are small (kept inline in the state
 * document), odd-numbered ones large (blobs) and carry personalization data of the same
 * version (two blobs written before one state).
 *
 * usage: crash_mocktee [SESSIONS] [SEED]   (default 50 sessions, seed from the clock)
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../support/mock_fixture.h"
#include "../support/tam_builder.h"
#include "tee/socket.h"
#include "util/base64.h"
#include "util/json_strict.h"

#define PKI TEST_PKI_DIR "/"
/* Large TAs make the blob writes take long enough to be hit; small ones stay below
 * OTRP__MOCK_INLINE_MAX and are written inside the state document. */
#define TA_SIZE_LARGE (96 * 1024)
#define TA_SIZE_SMALL 1024
#define PDATA_SIZE (8 * 1024)
#define MAX_TAS 8

#define CHECK(cond, ...)                                                                  \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "crash test FAILED (%s:%d): ", __FILE__, __LINE__);           \
            fprintf(stderr, __VA_ARGS__);                                                 \
            fprintf(stderr, "\n");                                                        \
            exit(1);                                                                      \
        }                                                                                 \
    } while (0)

static char g_dir[512], g_sock[600];
static pid_t g_daemon;
static otrp__jose_key *g_sp;
static char *g_spcert;

static size_t ta_size(int i)
{
    return i % 2 ? TA_SIZE_LARGE : TA_SIZE_SMALL;
}

/* The binary of TA i, version v: deterministic, so the stored blob can be checked. */
static unsigned char *ta_binary(int i, int v)
{
    unsigned char *b = malloc(ta_size(i));
    for (size_t k = 0; k < ta_size(i); k++)
        b[k] = (unsigned char)((k * 31u + (unsigned)i * 7u + (unsigned)v * 13u) & 0xFF);
    return b;
}

/* The personalization data of (odd) TA i, version v: printable, NUL-terminated. */
static char *ta_pdata(int i, int v)
{
    char *p = malloc(PDATA_SIZE + 1);
    for (size_t k = 0; k < PDATA_SIZE; k++)
        p[k] = (char)('a' + (k + (unsigned)i * 3u + (unsigned)v * 5u) % 26u);
    p[PDATA_SIZE] = '\0';
    return p;
}

/* ---- the killer thread -------------------------------------------------------------------- */

struct killer {
    long delay_us;
    pid_t pid;
    int fired;
};

static void *killer_main(void *arg)
{
    struct killer *k = arg;
    struct timespec ts = {k->delay_us / 1000000, (k->delay_us % 1000000) * 1000};
    nanosleep(&ts, NULL);
    k->fired = kill(k->pid, SIGKILL) == 0;
    return NULL;
}

/* ---- TAM side ------------------------------------------------------------------------------ */

static int call(void *ctx, otrp_buf *msg, otrp_buf *out)
{
    otrp_tee_call tc = {sizeof tc, otrp_monotonic_ms() + 20000, 0, NULL};
    return otrp__socket_ops.process_message(ctx, &tc, (char *)msg->data, msg->len, out) == OTRP_OK
               ? 0
               : -1;
}

/* GetDeviceState; returns the DSI text (malloc) or NULL when the TEE is gone. */
static char *gds(void *ctx, test_tam *tam, otrp_buf *msg, otrp_buf *out)
{
    test_tam_answer a;
    if (test_tam_get_device_state(tam, NULL, msg) != OTRP_OK || call(ctx, msg, out) != 0)
        return NULL;
    CHECK(test_tam_read(tam, "GetDeviceState", (char *)out->data, out->len, &a) == OTRP_OK,
          "GetDeviceState answer does not verify");
    CHECK(strcmp(a.status, "pass") == 0, "GetDeviceState failed: %s", a.error_message);
    char *dsi = a.dsi;
    a.dsi = NULL;
    test_tam_answer_free(&a);
    return dsi;
}

/* One request; 1 pass, 0 a signed failure, -1 the TEE went away. */
static int request(void *ctx, test_tam *tam, const char *name, const char *content, cJSON *extra,
                   otrp_buf *msg, otrp_buf *out, char **spaik)
{
    cJSON *c = cJSON_Parse(content);
    otrp_status st = test_tam_request(tam, name, c, extra, NULL, msg);
    cJSON_Delete(c);
    CHECK(st == OTRP_OK, "cannot build %s", name);
    if (call(ctx, msg, out) != 0)
        return -1;
    test_tam_answer a;
    CHECK(test_tam_read(tam, name, (char *)out->data, out->len, &a) == OTRP_OK,
          "%s answer does not verify", name);
    int pass = strcmp(a.status, "pass") == 0;
    if (!pass)
        fprintf(stderr, "  %s: %s %s\n", name, a.error_code, a.error_message);
    if (pass && spaik != NULL && otrp__json_string(a.content, "teespaik") != NULL)
        *spaik = strdup(otrp__json_string(a.content, "teespaik"));
    test_tam_answer_free(&a);
    return pass;
}

static char *spaik_from_dsi(const char *dsi)
{
    cJSON *d = cJSON_Parse(dsi);
    const cJSON *tee = otrp__json_member(otrp__json_member(d, "dsi"), "tee");
    const cJSON *e = otrp__json_member(tee, "teeaiklist")->child;
    char *out = e != NULL ? strdup(otrp__json_string(e, "spaik")) : NULL;
    cJSON_Delete(d);
    return out;
}

/* ---- consistency checks ------------------------------------------------------------------- */

/* The stored bytes of a TA's key ("bin", "pdata"): a blob file or inline base64. */
static int read_stored(const cJSON *ta, const char *key, otrp_buf *out)
{
    char path[800], inline_key[16];
    (void)snprintf(inline_key, sizeof inline_key, "%s_inline", key);
    const char *in = otrp__json_string(ta, inline_key);
    otrp_buf_reset(out);
    if (in != NULL) {
        size_t n = strlen(in), len = 0;
        uint8_t *tmp = malloc(otrp__b64_decoded_max(n) + 1);
        int ok = otrp__b64_decode(in, n, tmp, &len, OTRP__B64_STD) == OTRP_OK &&
                 otrp_buf_append(out, tmp, len) == OTRP_OK;
        free(tmp);
        return ok ? 0 : -1;
    }
    if (otrp__json_string(ta, key) == NULL)
        return -1;
    (void)snprintf(path, sizeof path, "%s/state/blobs/%s", g_dir, otrp__json_string(ta, key));
    return test_read_file(path, out) == OTRP_OK ? 0 : -1;
}

/* Read state.json and the blobs from disk; installed[i] = version stored, -1 absent. */
static void check_disk(int installed[MAX_TAS])
{
    char path[800];
    (void)snprintf(path, sizeof path, "%s/state/state.json", g_dir);
    otrp_buf text = {0}, blob = {0};
    CHECK(test_read_file(path, &text) == OTRP_OK, "state.json unreadable");
    cJSON *s = cJSON_Parse((char *)text.data);
    CHECK(s != NULL, "state.json is not JSON");
    for (int i = 0; i < MAX_TAS; i++)
        installed[i] = -1;
    const cJSON *sds = otrp__json_member(s, "sds");
    for (const cJSON *sd = sds->child; sd != NULL; sd = sd->next)
        for (const cJSON *ta = otrp__json_member(sd, "tas")->child; ta != NULL; ta = ta->next) {
            int i = atoi(otrp__json_string(ta, "taid") + 2);
            CHECK(i >= 0 && i < MAX_TAS, "unexpected TA %s", otrp__json_string(ta, "taid"));
            CHECK(read_stored(ta, "bin", &blob) == 0, "TA %d: binary missing", i);
            CHECK(blob.len == ta_size(i), "TA %d: binary has %zu bytes", i, blob.len);
            int found = -1;
            for (int v = 0; v < 64 && found < 0; v++) {
                unsigned char *b = ta_binary(i, v);
                if (memcmp(b, blob.data, ta_size(i)) == 0)
                    found = v;
                free(b);
            }
            CHECK(found >= 0, "TA %d: stored binary is none the TAM sent", i);
            CHECK(i % 2 == 0 || otrp__json_string(ta, "bin") != NULL, "TA %d: not a blob", i);
            CHECK(i % 2 == 1 || otrp__json_string(ta, "bin_inline") != NULL, "TA %d: not inline", i);
            if (i % 2) {
                /* the data came in the same request as the binary: the same version */
                char *want = ta_pdata(i, found);
                CHECK(read_stored(ta, "pdata", &blob) == 0, "TA %d: pdata missing", i);
                CHECK(blob.len == PDATA_SIZE && memcmp(blob.data, want, PDATA_SIZE) == 0,
                      "TA %d: pdata is not that of binary version %d", i, found);
                free(want);
            }
            installed[i] = found;
        }
    cJSON_Delete(s);
    otrp_buf_free(&text);
    otrp_buf_free(&blob);
}

/* The DSI and the TEE's describe list the TAs that are on disk, and nothing else. */
static void check_agree(void *ctx, const char *dsi, const int installed[MAX_TAS])
{
    otrp_buf d = {0};
    otrp_tee_call tc = {sizeof tc, otrp_monotonic_ms() + 20000, 0, NULL};
    CHECK(otrp__socket_ops.describe(ctx, &tc, &d) == OTRP_OK, "describe failed");
    for (int i = 0; i < MAX_TAS; i++) {
        char needle[32];
        (void)snprintf(needle, sizeof needle, "\"taid\":\"ta%d\"", i);
        int in_dsi = strstr(dsi, needle) != NULL;
        int in_describe = strstr((char *)d.data, needle) != NULL;
        CHECK(in_dsi == (installed[i] >= 0) && in_describe == in_dsi,
              "ta%d: disk %d, DSI %d, describe %d", i, installed[i] >= 0, in_dsi, in_describe);
    }
    CHECK(strstr(dsi, "\"cnt\":\"1\"") != NULL, "the SD is not listed exactly once");
    otrp_buf_free(&d);
}

static void restart(void)
{
    int status = 0;
    (void)waitpid(g_daemon, &status, 0);
    g_daemon = fx_daemon_start(g_dir, g_sock);
    CHECK(g_daemon > 0, "the daemon does not restart on its state (corrupt?)");
}

int main(int argc, char **argv)
{
    int sessions = argc > 1 ? atoi(argv[1]) : 50;
    unsigned seed = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : (unsigned)time(NULL);
    srand(seed);
    fx_set_argv0(argv[0]);
    CHECK(fx_teedir(g_dir, sizeof g_dir, "{\"name\":\"crash-tee\",\"quota_bytes\":0}") == 0,
          "cannot make a TEE directory");
    (void)snprintf(g_sock, sizeof g_sock, "%s/tee.sock", g_dir);
    CHECK(test_load_key(PKI "sp1-key.pem", &g_sp) == OTRP_OK, "sp1 key");
    g_spcert = test_cert_b64(PKI "sp1.pem");
    g_daemon = fx_daemon_start(g_dir, g_sock);
    CHECK(g_daemon > 0, "cannot start %s", fx_tee_sim());
    void *ctx = NULL;
    CHECK(otrp__socket_open(g_sock, &ctx) == OTRP_OK, "socket backend");
    test_tam *tam = NULL;
    CHECK(test_tam_new(PKI "tam1-key.pem", PKI "tam1.pem", &tam) == OTRP_OK, "TAM");
    otrp_buf msg = {0}, out = {0};

    /* The SD, without interruption. */
    char *dsi = gds(ctx, tam, &msg, &out);
    CHECK(dsi != NULL, "first GetDeviceState");
    free(dsi);
    char content[4096];
    (void)snprintf(content, sizeof content, "{\"spid\":\"sp1\",\"sdname\":\"sd1\",\"spcert\":\"%s\"}",
                   g_spcert);
    char *spaik = NULL;
    CHECK(request(ctx, tam, "CreateSD", content, NULL, &msg, &out, &spaik) == 1, "CreateSD");
    free(spaik);

    /* How long a session takes, to spread the kills over it. */
    int version[MAX_TAS];
    for (int i = 0; i < MAX_TAS; i++)
        version[i] = 0;
    int kills = 0, interrupted = 0;
    long typical_us = 0;
    for (int s = 0; s < sessions; s++) {
        int installed[MAX_TAS];
        check_disk(installed);
        int i = rand() % MAX_TAS;
        struct killer k = {0, g_daemon, 0};
        pthread_t th;
        int armed = s >= 2 && rand() % 4 != 0; /* some sessions run to the end */
        if (armed) {
            k.delay_us = rand() % (typical_us * 3 / 2 + 1);
            CHECK(pthread_create(&th, NULL, killer_main, &k) == 0, "thread");
        }
        uint64_t t0 = otrp_monotonic_ms();
        int rc = -1; /* -1: the TEE went away */
        dsi = gds(ctx, tam, &msg, &out);
        char *aik = dsi != NULL ? spaik_from_dsi(dsi) : NULL;
        free(dsi);
        if (aik != NULL) {
            (void)snprintf(content, sizeof content,
                           "{\"spid\":\"sp1\",\"sdname\":\"sd1\",\"taid\":\"ta%d\"}", i);
            if (installed[i] >= 0 && rand() % 2 == 0) {
                rc = request(ctx, tam, "DeleteTA", content, NULL, &msg, &out, NULL);
            } else {
                int update = installed[i] >= 0;
                int v = ++version[i] % 64;
                unsigned char *bin = ta_binary(i, v);
                char *pdata = i % 2 ? ta_pdata(i, v) : NULL;
                otrp_buf image = {0};
                cJSON *eta = NULL;
                CHECK(test_tam_sign_ta(g_sp, bin, ta_size(i), &image) == OTRP_OK, "sign TA");
                CHECK(test_tam_encrypt_ta(aik, image.data, image.len, pdata,
                                          pdata != NULL ? PDATA_SIZE : 0, update, &eta) == OTRP_OK,
                      "encrypt TA");
                free(pdata);
                cJSON *extra = cJSON_CreateObject();
                cJSON_AddItemToObject(extra, "encrypted_ta", eta);
                rc = request(ctx, tam, update ? "UpdateTA" : "InstallTA", content, extra, &msg, &out,
                             NULL);
                cJSON_Delete(extra);
                otrp_buf_free(&image);
                free(bin);
            }
        }
        free(aik);
        long took = (long)(otrp_monotonic_ms() - t0) * 1000;
        if (armed)
            pthread_join(th, NULL);
        if (!armed && typical_us == 0)
            typical_us = took;
        else if (!armed)
            typical_us = (typical_us * 3 + took) / 4;
        CHECK(rc != 0, "session %d: a signed failure where none was expected", s);
        if (k.fired) {
            kills++;
            interrupted += rc < 0;
            restart();
        }
        /* After every session (and every restart): disk, DSI and describe agree. */
        check_disk(installed);
        dsi = gds(ctx, tam, &msg, &out);
        CHECK(dsi != NULL, "GetDeviceState after session %d", s);
        check_agree(ctx, dsi, installed);
        free(dsi);
    }
    printf("crash test: %d sessions, %d SIGKILLs (%d mid-session), state consistent after each "
           "(seed %u)\n",
           sessions, kills, interrupted, seed);
    CHECK(fx_daemon_stop(g_daemon, SIGTERM) == 0, "clean stop");
    otrp__socket_ops.destroy(ctx);
    test_tam_free(tam);
    otrp__jose_key_free(g_sp);
    free(g_spcert);
    otrp_buf_free(&msg);
    otrp_buf_free(&out);
    fx_rm_rf(g_dir);
    return 0;
}
