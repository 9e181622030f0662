/*
 * bench/session: whole OTrP sessions through the agent over loopback.
 *
 * 1. The session loop against its floor. The reference TAM runs in canned mode (it
 *    replays the messages of a real install session: GetDeviceState, CreateSD,
 *    InstallTA, then 204) and the TEE answers instantly (it replays the mock TEE's
 *    recorded answers). N sessions through otrp_agent_request_ta() are timed against a
 *    raw libcurl loop (curl_easy_perform) POSTing the same bytes over one connection:
 *    the same bodies under the same request head, the agent's User-Agent included.
 *    SETS times a fresh agent and fresh raw handles run ROUNDS interleaved rounds; each
 *    set gives the ratio of its best rounds, and the verdict is the median set. Goal:
 *    ratio <= 1.10. The canned TAM counts TCP
 *    connections: every session must use exactly one (no POST on another connection
 *    than its session's first), and the agent keeps it alive across sessions.
 * 2. The full install of a 1 MiB TA with the real TAM and the mock TEE over HTTPS: the
 *    total time split into the TAM's share (time inside its POST handler), the TEE's
 *    share (time inside the mock TEE's operations) and the rest: the agent, libcurl,
 *    TLS and the loopback.
 *
 * The whole process runs on one CPU. The TAM front end serves each TCP connection on
 * its own thread, so the agent's connection and the raw loop's are served by two
 * different threads, and where the scheduler puts each of them relative to the client
 * thread decided the result: a POST whose server thread sits on the other CPU pays a
 * cross-CPU wake-up each way (on the 2-vCPU build machine, unpinned runs of the same
 * binary gave the raw loop anywhere from 118 to 390 us per session, and ratios from
 * 0.95 to 1.89). On one CPU both loops pay the same context switches and the ratio
 * measures what the agent adds.
 */
#include <curl/curl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mocktee/mocktee.h"
#include "otrp/otrp.h"
#include "http/http.h"
#include "reftam.h"
#include "support/cpu_pin.h"
#include "support/mock_fixture.h"
#include "support/mock_wrap.h"
#include "util/base64.h"

#define SESSIONS 200      /* per round */
#define ROUNDS 7
#define SETS 9
#define GOAL_RATIO 1.10
#define CANNED_TA_BYTES 1024
#define BIG_TA_BYTES (1024 * 1024)
#define BIG_RUNS 5
#define MAX_STEPS 8

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "bench/session: %s: %s\n", what, detail);
    exit(1);
}

/* ---- the instant TEE: replays recorded answers in order ---- */

typedef struct replay_tee {
    const char *name;
    const char *uri;
    otrp_buf answers[MAX_STEPS];
    size_t n, next;
} replay_tee;

static otrp_status r_name(void *ctx, const otrp_tee_call *call, otrp_buf *name)
{
    (void)call;
    return otrp_buf_append_str(name, ((replay_tee *)ctx)->name);
}

static otrp_status r_process(void *ctx, const otrp_tee_call *call, const char *msg, size_t len,
                             otrp_buf *out)
{
    (void)call;
    (void)msg;
    (void)len;
    replay_tee *t = ctx;
    if (t->next >= t->n)
        return OTRP_ERR_TEE_FAIL;
    const otrp_buf *a = &t->answers[t->next++];
    return otrp_buf_append(out, a->data, a->len);
}

static otrp_status r_request(void *ctx, const otrp_tee_call *call, const char *taid,
                             const char *hint, otrp_buf *uri, otrp_buf *msg)
{
    (void)call;
    (void)taid;
    (void)msg;
    replay_tee *t = ctx;
    t->next = 0;
    return otrp_buf_append_str(uri, hint != NULL ? hint : t->uri);
}

static otrp_status r_process_error(void *ctx, const otrp_tee_call *call)
{
    (void)ctx;
    (void)call;
    return OTRP_OK;
}

static void r_destroy(void *ctx)
{
    (void)ctx; /* owned by main */
}

static const struct otrp_tee_ops replay_ops = {
    .struct_size = sizeof(struct otrp_tee_ops),
    .kind = "replay",
    .get_name = r_name,
    .process_message = r_process,
    .request_ta = r_request,
    .process_error = r_process_error,
    .destroy = r_destroy,
};

/* ---- recording one real session (TAM and mock TEE called directly) ---- */

typedef struct transcript {
    otrp_buf msgs[MAX_STEPS];    /* TAM messages */
    otrp_buf wire[MAX_STEPS];    /* what the agent POSTs back (the relayed answers) */
    size_t n;
} transcript;

static void record(const char *tam_dir, const char *tee_dir, replay_tee *rt, transcript *tr)
{
    char detail[256] = "";
    reftam *tam = NULL;
    if (reftam_open(tam_dir, NULL, &tam, detail, sizeof detail) != OTRP_OK)
        die("reftam_open", detail);
    otrp__mock *mock = NULL;
    if (otrp__mock_open(tee_dir, NULL, &mock, detail, sizeof detail) != OTRP_OK)
        die("mock TEE", detail);
    otrp_buf tmp_uri = {0}, tmp_msg = {0};
    otrp_tee_call call = {sizeof call, 0, OTRP_DEFAULT_MAX_MESSAGE, NULL};
    (void)otrp__mock_ops.request_ta(mock, &call, "bench-ta", "http://x/", &tmp_uri, &tmp_msg);
    otrp_buf_free(&tmp_uri);
    otrp_buf_free(&tmp_msg);
    /* An agent over the replay TEE wraps the TEE answers exactly as on the wire. */
    otrp_agent *agent = NULL;
    otrp_tee *tee = NULL;
    if (otrp_agent_new(NULL, &agent) != OTRP_OK || otrp_tee_new(&replay_ops, rt, &tee) != OTRP_OK ||
        otrp_agent_add_tee(agent, tee) != OTRP_OK)
        die("agent", "cannot set up");
    const char *body = "";
    size_t body_len = 0;
    for (tr->n = 0;; tr->n++) {
        reftam_reply r;
        reftam_post p = {body, body_len, 1};
        reftam_handle(tam, &p, &r);
        if (r.status == 204) {
            reftam_reply_free(&r);
            break;
        }
        if (r.status != 200 || tr->n == MAX_STEPS)
            die("recording", r.detail);
        otrp_buf *m = &tr->msgs[tr->n];
        if (otrp_buf_append(m, r.body.data, r.body.len) != OTRP_OK)
            die("recording", "memory");
        reftam_reply_free(&r);
        otrp_buf *a = &rt->answers[tr->n];
        if (otrp__mock_ops.process_message(mock, &call, (const char *)m->data, m->len, a) != OTRP_OK)
            die("mock TEE", otrp__mock_last_detail(mock));
        rt->n = tr->n + 1;
        rt->next = tr->n;
        char *wire = NULL;
        size_t wire_len = 0;
        if (otrp_agent_process(agent, (const char *)m->data, m->len, &wire, &wire_len) != OTRP_OK)
            die("relay", otrp_agent_last_error(agent));
        if (otrp_buf_append(&tr->wire[tr->n], wire, wire_len) != OTRP_OK)
            die("recording", "memory");
        otrp_free(wire);
        body = (const char *)tr->wire[tr->n].data;
        body_len = tr->wire[tr->n].len;
    }
    otrp_agent_free(agent);
    otrp__mock_close(mock);
    reftam_close(tam);
}

/* ---- the floor: the same POSTs with bare libcurl over one connection ---- */

static size_t sink(char *p, size_t size, size_t n, void *user)
{
    (void)p;
    *(size_t *)user += size * n;
    return size * n;
}

/* The options the agent's transport sets on top of a plain POST loop, with its default
 * values: the timeouts, the size cap and the protocol lists (the issue requires them).
 * The floor leaves them out; this loop says what they cost. */
static void set_agent_safety_options(CURL *e)
{
    otrp__http_settings s;
    otrp__http_settings_init(&s);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)s.connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)s.http_timeout_ms);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)s.max_message_size);
}

/* The request head both loops send, byte for byte: the agent's headers (its default
 * User-Agent included), Content-Type only with a body, no Expect. */
static struct curl_slist *floor_headers(int with_body)
{
    struct curl_slist *h = curl_slist_append(NULL, "User-Agent: libotrp/" OTRP_VERSION_STRING);
    h = curl_slist_append(h, "Accept: application/otrp+json");
    if (!with_body)
        return curl_slist_append(h, "Content-Type:");
    h = curl_slist_append(h, "Content-Type: application/otrp+json");
    return curl_slist_append(h, "Expect:");
}

static uint64_t raw_sessions(CURL *e, const char *url, const transcript *tr, unsigned sessions)
{
    struct curl_slist *h_empty = floor_headers(0), *h_body = floor_headers(1);
    size_t got = 0;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &got);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    uint64_t t0 = now_ns();
    for (unsigned s = 0; s < sessions; s++) {
        for (size_t i = 0; i <= tr->n; i++) {
            const char *body = i == 0 ? "" : (const char *)tr->wire[i - 1].data;
            size_t len = i == 0 ? 0 : tr->wire[i - 1].len;
            curl_easy_setopt(e, CURLOPT_HTTPHEADER, i == 0 ? h_empty : h_body);
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
            if (curl_easy_perform(e) != CURLE_OK)
                die("raw libcurl", "POST failed");
        }
    }
    uint64_t t = now_ns() - t0;
    curl_slist_free_all(h_empty);
    curl_slist_free_all(h_body);
    return t;
}

static uint64_t agent_sessions(otrp_agent *agent, const char *url, unsigned sessions)
{
    uint64_t t0 = now_ns();
    for (unsigned s = 0; s < sessions; s++)
        if (otrp_agent_request_ta(agent, "bench-ta", url) != OTRP_OK)
            die("agent session", otrp_agent_last_error(agent));
    return now_ns() - t0;
}

/* Best of ROUNDS: SESSIONS times the relay of the session's TAM messages. */
static uint64_t relay_time(otrp_agent *agent, replay_tee *rt, const transcript *tr)
{
    uint64_t best = UINT64_MAX;
    for (int r = 0; r < ROUNDS; r++) {
        uint64_t t0 = now_ns();
        for (unsigned s = 0; s < SESSIONS; s++) {
            rt->next = 0;
            for (size_t i = 0; i < tr->n; i++) {
                char *ans = NULL;
                size_t ans_len = 0;
                if (otrp_agent_process(agent, (const char *)tr->msgs[i].data, tr->msgs[i].len, &ans,
                                       &ans_len) != OTRP_OK)
                    die("relay", otrp_agent_last_error(agent));
                otrp_free(ans);
            }
        }
        uint64_t t = now_ns() - t0;
        if (t < best)
            best = t;
    }
    return best;
}

/* The smallest well-formed answers to the recorded requests: {"<Name>Response": JWS of
 * {"<Name>TBSResponse": {"status": "pass"}}} (what the agent reads of an answer). */
static void minimal_answers(const transcript *tr, replay_tee *out)
{
    for (size_t i = 0; i < tr->n; i++) {
        cJSON *root = cJSON_ParseWithLength((const char *)tr->msgs[i].data, tr->msgs[i].len);
        char name[64];
        snprintf(name, sizeof name, "%s", root->child->string);
        cJSON_Delete(root);
        char *req = strstr(name, "Request");
        if (req == NULL)
            die("minimal answers", "not a request");
        *req = '\0';
        if (strcmp(name, "GetDeviceState") == 0)
            snprintf(name, sizeof name, "GetDeviceTEEState");
        char tbs[160], b64[256], text[512];
        int n = snprintf(tbs, sizeof tbs, "{\"%sTBSResponse\":{\"status\":\"pass\"}}", name);
        otrp__b64_encode((const uint8_t *)tbs, (size_t)n, b64, OTRP__B64_URL);
        snprintf(text, sizeof text,
                 "{\"%sResponse\":{\"payload\":\"%s\",\"protected\":\"eyJhbGciOiJSUzI1NiJ9\","
                 "\"signature\":\"c2ln\"}}",
                 name, b64);
        if (otrp_buf_append_str(&out->answers[i], text) != OTRP_OK)
            die("minimal answers", "memory");
    }
    out->n = tr->n;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static otrp_agent *new_agent(replay_tee *rt, int tls, const char *ca_path)
{
    otrp_agent_config cfg;
    otrp_agent_config_init(&cfg);
    cfg.allow_http = !tls;
    cfg.ca_file = tls ? ca_path : NULL;
    otrp_agent *agent = NULL;
    otrp_tee *tee = NULL;
    if (otrp_agent_new(&cfg, &agent) != OTRP_OK || otrp_tee_new(&replay_ops, rt, &tee) != OTRP_OK ||
        otrp_agent_add_tee(agent, tee) != OTRP_OK)
        die("agent", "cannot set up");
    return agent;
}

static CURL *new_raw_handle(int tls, const char *ca_path)
{
    CURL *e = curl_easy_init();
    if (e == NULL)
        die("libcurl", "no easy handle");
    if (tls) {
        curl_easy_setopt(e, CURLOPT_CAINFO, ca_path);
        curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    }
    return e;
}

static int part_canned(const char *tam_dir, const char *tee_dir, const char *tee_name,
                       int tls, const char *cert, const char *key, const char *ca_path)
{
    replay_tee rt;
    memset(&rt, 0, sizeof rt);
    rt.name = tee_name;
    transcript tr;
    memset(&tr, 0, sizeof tr);
    record(tam_dir, tee_dir, &rt, &tr);
    const char *msgs[MAX_STEPS], *answers[MAX_STEPS];
    size_t mlens[MAX_STEPS], alens[MAX_STEPS];
    size_t msg_bytes = 0, ans_bytes = 0;
    for (size_t i = 0; i < tr.n; i++) {
        msgs[i] = (const char *)tr.msgs[i].data;
        mlens[i] = tr.msgs[i].len;
        answers[i] = (const char *)tr.wire[i].data;
        alens[i] = tr.wire[i].len;
        msg_bytes += mlens[i];
        ans_bytes += alens[i];
    }
    reftam_canned canned = {msgs, mlens, answers, alens, tr.n};
    reftam_server_config sc;
    memset(&sc, 0, sizeof sc);
    sc.canned = &canned;
    sc.tls_cert_pem = tls ? cert : NULL;
    sc.tls_key_pem = tls ? key : NULL;
    reftam_server *srv = NULL;
    if (reftam_server_start(&sc, &srv) != 0)
        die("canned TAM", "cannot start");
    const char *url = reftam_server_url(srv);
    rt.uri = url;

    /* SETS times: a fresh agent and fresh raw handles (new connections, so new server
     * threads), warmed up, then ROUNDS interleaved rounds; each set gives its ratio of
     * best rounds, and the verdict is the median set. Where the scheduler and the caches
     * put one connection's server thread moved a whole set by several per cent either
     * way; several sets in one run spread that over both loops. */
    double ratios[SETS], safe_ratios[SETS];
    uint64_t best_agent = UINT64_MAX, best_raw = UINT64_MAX, best_safe = UINT64_MAX;
    unsigned agent_conns = 0, sess0 = 0, sw0 = 0;
    reftam_server_canned_figures(srv, &sess0, &sw0);
    otrp_agent *agent = NULL;
    for (int set = 0; set < SETS; set++) {
        otrp_agent_free(agent);
        agent = new_agent(&rt, tls, ca_path);
        CURL *e = new_raw_handle(tls, ca_path), *safe = new_raw_handle(tls, ca_path);
        set_agent_safety_options(safe);
        (void)agent_sessions(agent, url, 5);
        (void)raw_sessions(e, url, &tr, 5);
        (void)raw_sessions(safe, url, &tr, 5);
        uint64_t set_agent = UINT64_MAX, set_raw = UINT64_MAX, set_safe = UINT64_MAX;
        for (int r = 0; r < ROUNDS; r++) {
            unsigned c0 = reftam_server_connections(srv);
            uint64_t x = agent_sessions(agent, url, SESSIONS);
            agent_conns += reftam_server_connections(srv) - c0;
            uint64_t y = raw_sessions(e, url, &tr, SESSIONS);
            uint64_t z = raw_sessions(safe, url, &tr, SESSIONS);
            set_agent = x < set_agent ? x : set_agent;
            set_raw = y < set_raw ? y : set_raw;
            set_safe = z < set_safe ? z : set_safe;
        }
        ratios[set] = (double)set_agent / (double)set_raw;
        safe_ratios[set] = (double)set_safe / (double)set_raw;
        best_agent = set_agent < best_agent ? set_agent : best_agent;
        best_raw = set_raw < best_raw ? set_raw : best_raw;
        best_safe = set_safe < best_safe ? set_safe : best_safe;
        curl_easy_cleanup(e);
        curl_easy_cleanup(safe);
    }
    unsigned sess1 = 0, sw1 = 0;
    reftam_server_canned_figures(srv, &sess1, &sw1);
    /* How much of the difference is the relay itself (otrp_agent_process of the session's
     * TAM messages with the instant TEE), without HTTP; and how much of that is the TAM
     * messages: the same with minimal TEE answers. */
    uint64_t best_relay = relay_time(agent, &rt, &tr);
    replay_tee tiny;
    memset(&tiny, 0, sizeof tiny);
    minimal_answers(&tr, &tiny);
    otrp_buf saved[MAX_STEPS];
    memcpy(saved, rt.answers, sizeof saved);
    memcpy(rt.answers, tiny.answers, sizeof saved);
    uint64_t best_relay_tam = relay_time(agent, &rt, &tr);
    memcpy(rt.answers, saved, sizeof saved);
    for (size_t i = 0; i < MAX_STEPS; i++)
        otrp_buf_free(&tiny.answers[i]);
    double sorted[SETS];
    memcpy(sorted, ratios, sizeof sorted);
    qsort(sorted, SETS, sizeof sorted[0], cmp_double);
    double ratio = sorted[SETS / 2];
    memcpy(sorted, safe_ratios, sizeof sorted);
    qsort(sorted, SETS, sizeof sorted[0], cmp_double);
    unsigned posts = (unsigned)tr.n + 1;
    printf("%-5s  %u POSTs/session (TAM %zu B, TEE %zu B)  agent %8.1f us/session  raw libcurl "
           "%8.1f us/session (best rounds)  ratio %.3f (median of %d sets:",
           tls ? "https" : "http", posts, msg_bytes, ans_bytes,
           (double)best_agent / SESSIONS / 1e3, (double)best_raw / SESSIONS / 1e3, ratio, SETS);
    for (int set = 0; set < SETS; set++)
        printf(" %.3f", ratios[set]);
    printf(")\n");
    printf("       raw libcurl with the agent's timeouts, size cap and protocol lists: "
           "%.1f us/session (x%.3f the floor, median set)\n",
           (double)best_safe / SESSIONS / 1e3, sorted[SETS / 2]);
    printf("       of which the relay of the %zu TAM messages (otrp_agent_process, no HTTP): "
           "%.1f us/session (%.1f us of it with minimal TEE answers)\n",
           tr.n, (double)best_relay / SESSIONS / 1e3, (double)best_relay_tam / SESSIONS / 1e3);
    printf("       connections: %u sessions (agent and raw), %u POSTs on another connection "
           "than their session's first; new TCP connections during the agent's %u sessions: %u\n",
           sess1 - sess0, sw1 - sw0, SETS * ROUNDS * SESSIONS, agent_conns);
    otrp_agent_free(agent);
    reftam_server_stop(srv);
    for (size_t i = 0; i < MAX_STEPS; i++) {
        otrp_buf_free(&tr.msgs[i]);
        otrp_buf_free(&tr.wire[i]);
        otrp_buf_free(&rt.answers[i]);
    }
    int met = ratio <= GOAL_RATIO;
    int one = sw1 == sw0 && agent_conns <= 1;
    printf("goal: %s session loop / raw libcurl = %.3f (goal <= %.2f): %s\n", tls ? "https" : "http",
           ratio, GOAL_RATIO, met ? "met" : "NOT met");
    printf("goal: %s exactly one TCP connection per session: %s\n", tls ? "https" : "http",
           one ? "met" : "NOT met");
    return met && one;
}

/* ---- part 2: a 1 MiB TA, real TAM and mock TEE over HTTPS ---- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void part_big(const char *root, const char *tam_dir, const char *tee_dir, const char *cert,
                     const char *key, const char *ca_path)
{
    char detail[256] = "";
    unsigned char *bin = malloc(BIG_TA_BYTES);
    for (size_t i = 0; i < BIG_TA_BYTES; i++)
        bin[i] = (unsigned char)(i * 31 + 7);
    unsigned v = 0;
    if (reftam_add_ta(tam_dir, "big-ta", bin, BIG_TA_BYTES, &v, detail, sizeof detail) != OTRP_OK)
        die("add-ta", detail);
    free(bin);
    reftam *tam = NULL;
    if (reftam_open(tam_dir, NULL, &tam, detail, sizeof detail) != OTRP_OK)
        die("reftam_open", detail);
    reftam_server_config sc;
    memset(&sc, 0, sizeof sc);
    sc.tam = tam;
    sc.tls_cert_pem = cert;
    sc.tls_key_pem = key;
    reftam_server *srv = NULL;
    if (reftam_server_start(&sc, &srv) != 0)
        die("TAM", "cannot start");
    otrp_agent_config cfg;
    otrp_agent_config_init(&cfg);
    cfg.ca_file = ca_path;
    otrp_agent *agent = NULL;
    otrp_tee *tee = NULL;
    mock_wrap *w = NULL;
    if (otrp_agent_new(&cfg, &agent) != OTRP_OK || mock_wrap_new(tee_dir, 0, &tee, &w) != OTRP_OK ||
        otrp_agent_add_tee(agent, tee) != OTRP_OK)
        die("agent", "cannot set up");
    uint64_t total[BIG_RUNS], tam_ns[BIG_RUNS], tee_ns[BIG_RUNS];
    unsigned long long sent = 0, received = 0;
    for (int r = 0; r < BIG_RUNS; r++) {
        uint64_t tam0 = reftam_server_busy_ns(srv), tee0 = w->process_ns;
        uint64_t t0 = now_ns();
        if (otrp_agent_request_ta(agent, "big-ta", reftam_server_url(srv)) != OTRP_OK)
            die("install", otrp_agent_last_error(agent));
        total[r] = now_ns() - t0;
        tam_ns[r] = reftam_server_busy_ns(srv) - tam0;
        tee_ns[r] = w->process_ns - tee0;
        char *json = NULL;
        size_t len = 0;
        if (otrp_get_device_state(agent, &json, &len) == OTRP_OK) {
            const char *p = strstr(json, "\"bytes_sent\":");
            const char *q = strstr(json, "\"bytes_received\":");
            if (p != NULL && q != NULL) {
                sent = strtoull(p + 13, NULL, 10);
                received = strtoull(q + 17, NULL, 10);
            }
            otrp_free(json);
        }
        if (otrp_agent_unrequest_ta(agent, "big-ta", reftam_server_url(srv)) != OTRP_OK)
            die("delete", otrp_agent_last_error(agent));
    }
    /* The run with the median total, reported whole (its shares add up). */
    uint64_t sorted[BIG_RUNS];
    memcpy(sorted, total, sizeof sorted);
    qsort(sorted, BIG_RUNS, sizeof sorted[0], cmp_u64);
    int m = 0;
    for (int r = 0; r < BIG_RUNS; r++)
        if (total[r] == sorted[BIG_RUNS / 2])
            m = r;
    double t = (double)total[m] / 1e6, a = (double)tam_ns[m] / 1e6, e = (double)tee_ns[m] / 1e6;
    double rest = t - a - e;
    printf("https  install of a 1 MiB TA (GetDeviceState, CreateSD, InstallTA; %llu B sent, %llu B "
           "received), median of %d:\n",
           sent, received, BIG_RUNS);
    printf("       total %.1f ms = TAM %.1f ms (%.0f%%) + TEE %.1f ms (%.0f%%) + agent, libcurl, "
           "TLS and loopback %.1f ms (%.0f%%)\n",
           t, a, 100 * a / t, e, 100 * e / t, rest, 100 * rest / t);
    otrp_agent_free(agent);
    reftam_server_stop(srv);
    reftam_close(tam);
    (void)root;
}

/* ---- 3. non-blocking sessions (otrp/session.h): 16 at once in one thread ---- */

#define ASYNC_SESSIONS 16      /* at once: one per TEE */
#define ASYNC_PER_TEE 40       /* sessions per TEE per round */
#define ASYNC_ROUNDS 3
#define ASYNC_GOAL_RATE 1.0    /* sessions/s async / blocking, at least */
#define ASYNC_GOAL_CPU 1.05    /* CPU per session async / blocking, at most */
#define ASYNC_GOAL_CALL_US 5000u /* the longest call into the agent from the loop */

static uint64_t cpu_ns(int who)
{
    struct timespec ts;
    clock_gettime(who, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

typedef struct blocking_worker {
    otrp_agent *agent;
    const char *url;
    pthread_t thread;
} blocking_worker;

static void *blocking_main(void *arg)
{
    blocking_worker *w = arg;
    (void)agent_sessions(w->agent, w->url, ASYNC_PER_TEE);
    return NULL;
}

/* One round of 16 agents in 16 threads: wall and process CPU time. */
static void blocking_round(blocking_worker *w, uint64_t *wall, uint64_t *cpu)
{
    uint64_t t0 = now_ns(), c0 = cpu_ns(CLOCK_PROCESS_CPUTIME_ID);
    for (int i = 0; i < ASYNC_SESSIONS; i++)
        if (pthread_create(&w[i].thread, NULL, blocking_main, &w[i]) != 0)
            die("blocking round", "no thread");
    for (int i = 0; i < ASYNC_SESSIONS; i++)
        pthread_join(w[i].thread, NULL);
    *wall = now_ns() - t0;
    *cpu = cpu_ns(CLOCK_PROCESS_CPUTIME_ID) - c0;
}

typedef struct async_tee_run {
    otrp_agent *agent;
    const char *url;
    int index;
    unsigned left;             /* sessions still to start on this TEE */
    unsigned *running;
    otrp_session *session;
} async_tee_run;

static void async_start(async_tee_run *r);

static void async_done(void *user, otrp_session *session, otrp_status result)
{
    async_tee_run *r = user;
    if (result != OTRP_OK)
        die("async session", otrp_session_last_error(session));
    otrp_session_free(session);
    r->session = NULL;
    (*r->running)--;
    if (r->left > 0)
        async_start(r);
}

static void async_start(async_tee_run *r)
{
    otrp_session_params p;
    otrp_session_params_init(&p);
    p.taid = "bench-ta";
    p.tam_uri = r->url;
    p.tee_index = r->index;
    p.done = async_done;
    p.user = r;
    if (otrp_session_start(r->agent, &p, &r->session) != OTRP_OK)
        die("async start", otrp_agent_last_error(r->agent));
    r->left--;
    (*r->running)++;
}

/* One round of 16 sessions at once on one agent, one poll loop on this thread: wall and
 * process CPU time, and the longest call into the agent (wall). */
static void async_round(otrp_agent *agent, const char *url, uint64_t *wall, uint64_t *cpu,
                        uint64_t *longest)
{
    async_tee_run r[ASYNC_SESSIONS];
    unsigned running = 0;
    uint64_t t0 = now_ns(), c0 = cpu_ns(CLOCK_PROCESS_CPUTIME_ID);
    for (int i = 0; i < ASYNC_SESSIONS; i++) {
        r[i] = (async_tee_run){agent, url, i, ASYNC_PER_TEE, &running, NULL};
        async_start(&r[i]);
    }
    struct pollfd fds[4 * ASYNC_SESSIONS * OTRP_MAX_QUEUED_SESSIONS + 1];
    while (running > 0) {
        size_t n = 0;
        int timeout = -1;
        uint64_t a = now_ns();
        if (otrp_agent_wait_set(agent, fds, sizeof fds / sizeof fds[0], &n, &timeout) != OTRP_OK)
            die("wait set", "too small");
        uint64_t d = now_ns() - a;
        *longest = d > *longest ? d : *longest;
        (void)poll(fds, n, timeout);
        a = now_ns();
        otrp_agent_perform(agent, fds, n);
        d = now_ns() - a;
        *longest = d > *longest ? d : *longest;
    }
    *wall = now_ns() - t0;
    *cpu = cpu_ns(CLOCK_PROCESS_CPUTIME_ID) - c0;
}

static void part_async(const char *tam_dir, const char *tee_dir, const char *cert,
                       const char *key, const char *ca_path)
{
    static replay_tee rts[ASYNC_SESSIONS];
    replay_tee rt;
    memset(&rt, 0, sizeof rt);
    rt.name = "bench-tee";
    transcript tr;
    memset(&tr, 0, sizeof tr);
    record(tam_dir, tee_dir, &rt, &tr);
    const char *msgs[MAX_STEPS], *answers[MAX_STEPS];
    size_t mlens[MAX_STEPS], alens[MAX_STEPS];
    for (size_t i = 0; i < tr.n; i++) {
        msgs[i] = (const char *)tr.msgs[i].data;
        mlens[i] = tr.msgs[i].len;
        answers[i] = (const char *)tr.wire[i].data;
        alens[i] = tr.wire[i].len;
    }
    reftam_canned canned = {msgs, mlens, answers, alens, tr.n};
    reftam_server_config sc;
    memset(&sc, 0, sizeof sc);
    sc.canned = &canned;
    sc.tls_cert_pem = cert;
    sc.tls_key_pem = key;
    reftam_server *srv = NULL;
    if (reftam_server_start(&sc, &srv) != 0)
        die("canned TAM", "cannot start");
    const char *url = reftam_server_url(srv);
    /* Each session its own instant TEE (the replay keeps its place in the session). */
    blocking_worker w[ASYNC_SESSIONS];
    otrp_agent_config cfg;
    otrp_agent_config_init(&cfg);
    cfg.ca_file = ca_path;
    otrp_agent *agent = NULL;
    if (otrp_agent_new(&cfg, &agent) != OTRP_OK)
        die("agent", "cannot set up");
    for (int i = 0; i < ASYNC_SESSIONS; i++) {
        rts[i] = rt; /* the answers are shared, read only */
        rts[i].uri = url;
        w[i].agent = new_agent(&rts[i], 1, ca_path);
        w[i].url = url;
        otrp_tee *tee = NULL;
        static replay_tee async_rts[ASYNC_SESSIONS];
        async_rts[i] = rts[i];
        if (otrp_tee_new(&replay_ops, &async_rts[i], &tee) != OTRP_OK ||
            otrp_agent_add_tee(agent, tee) != OTRP_OK)
            die("agent", "cannot add a TEE");
    }
    uint64_t bw = UINT64_MAX, bc = UINT64_MAX, aw = UINT64_MAX, ac = UINT64_MAX, longest = 0;
    uint64_t x, y, warm = 0;
    blocking_round(w, &x, &y); /* warm-up: connections, TLS, allocations */
    async_round(agent, url, &x, &y, &warm);
    for (int r = 0; r < ASYNC_ROUNDS; r++) {
        blocking_round(w, &x, &y);
        bw = x < bw ? x : bw;
        bc = y < bc ? y : bc;
        async_round(agent, url, &x, &y, &longest);
        aw = x < aw ? x : aw;
        ac = y < ac ? y : ac;
    }
    double n = (double)ASYNC_SESSIONS * ASYNC_PER_TEE;
    double brate = n / ((double)bw / 1e9), arate = n / ((double)aw / 1e9);
    double bcpu = (double)bc / n / 1000.0, acpu = (double)ac / n / 1000.0;
    printf("\nasync (https, canned TAM, instant TEEs; best of %d rounds of %d x %d sessions; "
           "process CPU, the TAM's included):\n",
           ASYNC_ROUNDS, ASYNC_SESSIONS, ASYNC_PER_TEE);
    printf("  16 blocking sessions in 16 threads:   %8.0f sessions/s  %7.1f us CPU/session\n",
           brate, bcpu);
    printf("  16 async sessions in one thread:      %8.0f sessions/s  %7.1f us CPU/session\n",
           arate, acpu);
    printf("  longest call into the agent from the loop: %.2f ms (warm-up round: %.2f ms)\n",
           (double)longest / 1e6, (double)warm / 1e6);
    printf("goal: async sessions/s / blocking = %.3f (goal >= %.2f): %s\n", arate / brate,
           ASYNC_GOAL_RATE, arate / brate >= ASYNC_GOAL_RATE ? "met" : "NOT met");
    printf("goal: async CPU/session / blocking = %.3f (goal <= %.2f): %s\n", acpu / bcpu,
           ASYNC_GOAL_CPU, acpu / bcpu <= ASYNC_GOAL_CPU ? "met" : "NOT met");
    printf("goal: longest call %.2f ms (goal <= %.2f ms): %s\n", (double)longest / 1e6,
           ASYNC_GOAL_CALL_US / 1000.0,
           longest <= (uint64_t)ASYNC_GOAL_CALL_US * 1000u ? "met" : "NOT met");
    for (int i = 0; i < ASYNC_SESSIONS; i++)
        otrp_agent_free(w[i].agent);
    otrp_agent_free(agent);
    reftam_server_stop(srv);
}

int main(int argc, char **argv)
{
    int only_async = argc > 1 && strcmp(argv[1], "--async") == 0;
    (void)bench_pin_to_one_cpu();
    static const char *const proxy_vars[] = {"http_proxy", "https_proxy", "HTTPS_PROXY",
                                             "all_proxy", "ALL_PROXY"};
    for (size_t i = 0; i < sizeof proxy_vars / sizeof proxy_vars[0]; i++)
        unsetenv(proxy_vars[i]);
    char root[256], tam_dir[300], tee_dir[300], tee2_dir[300], ca_path[320], detail[256] = "";
    if (fx_tempdir(root, sizeof root, "bench-session") != 0)
        die("temp dir", "cannot create");
    snprintf(tam_dir, sizeof tam_dir, "%s/tam", root);
    snprintf(tee_dir, sizeof tee_dir, "%s/tee", root);
    snprintf(tee2_dir, sizeof tee2_dir, "%s/tee2", root);
    snprintf(ca_path, sizeof ca_path, "%s/ca/cert.pem", tam_dir);
    char *cert = NULL, *key = NULL, pin[64];
    unsigned v = 0;
    unsigned char ta[CANNED_TA_BYTES];
    memset(ta, 0x5a, sizeof ta);
    if (reftam_init(tam_dir, NULL, detail, sizeof detail) != OTRP_OK ||
        reftam_provision_tee(tam_dir, tee_dir, "bench-tee", NULL, detail, sizeof detail) != OTRP_OK ||
        reftam_provision_tee(tam_dir, tee2_dir, "bench-tee2", NULL, detail, sizeof detail) != OTRP_OK ||
        reftam_add_ta(tam_dir, "bench-ta", ta, sizeof ta, &v, detail, sizeof detail) != OTRP_OK ||
        reftam_tls_material(tam_dir, &cert, &key, pin, detail, sizeof detail) != OTRP_OK)
        die("setup", detail);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    printf("bench/session: %d sets (fresh agent and handles) of %d interleaved rounds of %d "
           "sessions (agent, raw libcurl, raw libcurl with the agent's options); ratio of the "
           "best rounds, median set; "
           "canned TAM, instant TEE\n",
           SETS, ROUNDS, SESSIONS);
    /* Record each transport's session on a fresh copy of the TEE (the recording installs). */
    char copy[320];
    if (only_async) {
        snprintf(copy, sizeof copy, "%s/tee-copy-async", root);
        fx_copy_dir(tee_dir, copy);
        part_async(tam_dir, copy, cert, key, ca_path);
        free(cert);
        free(key);
        curl_global_cleanup();
        fx_rm_rf(root);
        return 0;
    }
    snprintf(copy, sizeof copy, "%s/tee-copy-http", root);
    fx_copy_dir(tee_dir, copy);
    int met = part_canned(tam_dir, copy, "bench-tee", 0, cert, key, ca_path);
    snprintf(copy, sizeof copy, "%s/tee-copy-https", root);
    fx_copy_dir(tee_dir, copy);
    met &= part_canned(tam_dir, copy, "bench-tee", 1, cert, key, ca_path);
    part_big(root, tam_dir, tee2_dir, cert, key, ca_path);
    free(cert);
    free(key);
    curl_global_cleanup();
    fx_rm_rf(root);
    (void)met; /* the verdicts are printed; a noisy machine must not fail make bench */
    return 0;
}
