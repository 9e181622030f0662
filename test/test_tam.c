/*
 * End to end over loopback: the agent (libotrp) with mock TEEs against the reference TAM
 * (tam/) over HTTPS. Install, update and delete; two TEEs on one agent; the session
 * figures; TLS failures; every fault-injection option; 16 agents in 16 threads.
 *
 * The TAM directory, its TLS certificate and the TEE identities are made once per run
 * (group setup); each test copies a fresh TEE directory and opens its own TAM.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "otrp/backends.h"
#include "otrp/mocktee.h"
#include "otrp/otrp.h"
#include "reftam.h"
#include "support/mock_fixture.h"
#include "support/mock_wrap.h"
#include "support/tam_builder.h"
#include "support/tam_fixture.h"
#include "util/base64.h"
#include "mocktee/mocktee.h"

#define THREADS 16
/* The agent's stall timeout in these tests, and the slack the issue allows. */
#define STALL_MS 1000u
#define SLACK_MS 1000u
/* A cap small enough that the oversize and endless bodies hit it quickly. */
#define SMALL_CAP ((size_t)1024 * 1024)
/* Nothing listens on port 1 of the loopback: a connection there is refused at once. */
#define DEAD_TAM_URI "https://127.0.0.1:1/tam"
/* The tamid of the run's TAM, the TAM of every TEE below (tee.json tam_id). */
#define TAM_ID "tam.otrp.example"

static char run_dir[512];     /* everything of this run */
static char tam_dir[600];
static char ca_path[700];
static char tee_a[600], tee_b[600]; /* provisioned by the TAM's CA (templates) */
static char pki[600];         /* scripts/pki-test.sh material */
static char *tls_cert, *tls_key, tls_pin[64];
static unsigned dir_counter;

static char *slurp(const char *dir, const char *name)
{
    char path[800];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *data = calloc(1, 64 * 1024);
    size_t n = data != NULL ? fread(data, 1, 64 * 1024 - 1, f) : 0;
    fclose(f);
    while (n > 0 && (data[n - 1] == '\n' || data[n - 1] == '\r'))
        data[--n] = '\0';
    if (strstr(name, ".pin") == NULL && n > 0)
        data[n] = '\n';
    return data;
}

static int write_ta(const char *name, size_t len, unsigned char fill, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s", run_dir, name);
    unsigned char *b = malloc(len);
    if (b == NULL)
        return -1;
    for (size_t i = 0; i < len; i++)
        b[i] = (unsigned char)(fill + i * 7);
    int rc = fx_write(run_dir, name, b, len);
    free(b);
    return rc;
}

/* Add a TA file of len bytes (fill pattern) to the catalog of the TAM directory dir. */
static int add_ta_to(const char *dir, const char *taid, size_t len, unsigned char fill,
                     unsigned *version)
{
    char path[700];
    if (write_ta("ta.bin", len, fill, path, sizeof path) != 0)
        return -1;
    otrp_buf b = {0};
    FILE *f = fopen(path, "rb");
    unsigned char chunk[4096];
    size_t n;
    while (f != NULL && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (otrp_buf_append(&b, chunk, n) != OTRP_OK)
            break;
    if (f != NULL)
        fclose(f);
    char detail[256] = "";
    otrp_status st = reftam_add_ta(dir, taid, b.data, b.len, version, detail, sizeof detail);
    otrp_buf_free(&b);
    return st == OTRP_OK ? 0 : -1;
}

static int add_ta(const char *taid, size_t len, unsigned char fill, unsigned *version)
{
    return add_ta_to(tam_dir, taid, len, fill, version);
}

static int group_setup(void **state)
{
    (void)state;
    static const char *const proxy_vars[] = {"http_proxy", "https_proxy", "HTTPS_PROXY",
                                             "all_proxy", "ALL_PROXY"};
    for (size_t i = 0; i < sizeof proxy_vars / sizeof proxy_vars[0]; i++)
        unsetenv(proxy_vars[i]);
    if (fx_tempdir(run_dir, sizeof run_dir, "tam") != 0)
        return -1;
    snprintf(tam_dir, sizeof tam_dir, "%s/tam", run_dir);
    snprintf(ca_path, sizeof ca_path, "%s/ca/cert.pem", tam_dir);
    snprintf(tee_a, sizeof tee_a, "%s/tee-a", run_dir);
    snprintf(tee_b, sizeof tee_b, "%s/tee-b", run_dir);
    snprintf(pki, sizeof pki, "%s/pki", run_dir);
    char detail[256] = "";
    unsigned v = 0;
    reftam_init_opts io;
    memset(&io, 0, sizeof io);
    io.tamid = TAM_ID;
    if (reftam_init(tam_dir, &io, detail, sizeof detail) != OTRP_OK ||
        reftam_provision_tee(tam_dir, tee_a, "tee-a", NULL, detail, sizeof detail) != OTRP_OK ||
        reftam_provision_tee(tam_dir, tee_b, "tee-b", NULL, detail, sizeof detail) != OTRP_OK ||
        reftam_tls_material(tam_dir, &tls_cert, &tls_key, tls_pin, detail, sizeof detail) !=
            OTRP_OK ||
        add_ta("ta1", 3000, 1, &v) != 0 || add_ta("ta2", 5000, 2, &v) != 0) {
        fprintf(stderr, "setup: %s\n", detail);
        return -1;
    }
    const char *src = getenv("OTRP_SRCDIR");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "sh '%s/scripts/pki-test.sh' '%s' >/dev/null",
             src != NULL ? src : ".", pki);
    return system(cmd) == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    free(tls_cert);
    free(tls_key);
    fx_rm_rf(run_dir);
    return 0;
}

/* A fresh copy of a template TEE directory, renamed (tee.json name), naming tam_uri as
 * its TAM's URI (NULL: none) and the run's TAM as its TAM; more: further tee.json
 * members (text starting with a comma, or ""). */
static void write_tee_json(const char *dir, const char *name, const char *tam_uri,
                           const char *more)
{
    char json[2048];
    snprintf(json, sizeof json,
             "{\"name\": \"%s\", \"version\": \"1.0\", \"tam_uri\": \"%s\", \"tam_id\": \"" TAM_ID
             "\", \"jwe_alg\": \"RSA1_5\", \"sign_alg\": \"RS256\", \"require_ocsp\": false, "
             "\"quota_bytes\": 67108864%s}",
             name, tam_uri != NULL ? tam_uri : "", more);
    assert_int_equal(fx_write(dir, "tee.json", json, strlen(json)), 0);
}

static void fresh_tee_json(const char *template_dir, const char *name, const char *tam_uri,
                           const char *more, char *dir, size_t cap)
{
    snprintf(dir, cap, "%s/t%u-%s", run_dir, __atomic_add_fetch(&dir_counter, 1, __ATOMIC_SEQ_CST),
             name);
    assert_int_equal(fx_copy_dir(template_dir, dir), 0);
    write_tee_json(dir, name, tam_uri, more);
}

static void fresh_tee_uri(const char *template_dir, const char *name, const char *tam_uri,
                          char *dir, size_t cap)
{
    fresh_tee_json(template_dir, name, tam_uri, "", dir, cap);
}

static void fresh_tee(const char *template_dir, const char *name, char *dir, size_t cap)
{
    fresh_tee_uri(template_dir, name, NULL, dir, cap);
}

typedef struct fixture {
    reftam *tam;
    reftam_server *srv;
    otrp_agent *agent;
    mock_wrap *w[2];
} fixture;

static void agent_config(otrp_agent_config *cfg, const char *ca, const char *pin)
{
    otrp_agent_config_init(cfg);
    cfg->ca_file = ca;
    cfg->pinned_keys = pin;
    cfg->connect_timeout_ms = 5000;
    cfg->http_timeout_ms = 20000;
    cfg->stall_timeout_ms = STALL_MS;
    cfg->http_retries = 0;
}

/* Serve tam on loopback (HTTPS with cert and key). */
static reftam_server *serve(reftam *tam, const char *cert, const char *key,
                            const reftam_fault *fault)
{
    reftam_server_config sc;
    memset(&sc, 0, sizeof sc);
    sc.tam = tam;
    sc.tls_cert_pem = cert;
    sc.tls_key_pem = key;
    if (fault != NULL)
        sc.fault = *fault;
    reftam_server *srv = NULL;
    assert_int_equal(reftam_server_start(&sc, &srv), 0);
    return srv;
}

static void start_tam(fixture *f, const char *cert, const char *key, const reftam_fault *fault)
{
    char detail[256] = "";
    if (f->tam == NULL)
        assert_int_equal(reftam_open(tam_dir, NULL, &f->tam, detail, sizeof detail), OTRP_OK);
    f->srv = serve(f->tam, cert, key, fault);
}

/* The usual start: the TAM over HTTPS with the test CA's certificate, and an agent that
 * trusts that CA (no pin, no faults). */
static void start_tam_and_agent(fixture *f)
{
    start_tam(f, tls_cert, tls_key, NULL);
    otrp_agent_config cfg;
    agent_config(&cfg, ca_path, NULL);
    assert_int_equal(otrp_agent_new(&cfg, &f->agent), OTRP_OK);
}

static void add_tee(fixture *f, size_t i, const char *template_dir, const char *name)
{
    char dir[700];
    fresh_tee(template_dir, name, dir, sizeof dir);
    otrp_tee *tee = NULL;
    assert_int_equal(mock_wrap_new(dir, 0, &tee, &f->w[i]), OTRP_OK);
    assert_int_equal(otrp_agent_add_tee(f->agent, tee), OTRP_OK);
}

static void stop(fixture *f)
{
    otrp_agent_free(f->agent);
    reftam_server_stop(f->srv);
    reftam_close(f->tam);
    memset(f, 0, sizeof *f);
}

/* The TA ids the TEE named name reports (otrp_get_device_state), as "a,b,", or with
 * the TAM of each as "a@tamid,b@tamid," (with_tamid). */
static void list_tas(otrp_agent *agent, const char *name, int with_tamid, char *out, size_t cap)
{
    char *json = NULL;
    size_t len = 0;
    assert_int_equal(otrp_get_device_state(agent, &json, &len), OTRP_OK);
    cJSON *doc = cJSON_ParseWithLength(json, len);
    otrp_free(json);
    assert_non_null(doc);
    out[0] = '\0';
    const cJSON *tee;
    cJSON_ArrayForEach(tee, cJSON_GetObjectItem(doc, "tees"))
    {
        const cJSON *n = cJSON_GetObjectItem(tee, "name");
        if (!cJSON_IsString(n) || strcmp(n->valuestring, name) != 0)
            continue;
        const cJSON *ta;
        cJSON_ArrayForEach(ta, cJSON_GetObjectItem(cJSON_GetObjectItem(tee, "backend"), "talist"))
        {
            strncat(out, cJSON_GetObjectItem(ta, "taid")->valuestring, cap - strlen(out) - 2);
            if (with_tamid) {
                strncat(out, "@", cap - strlen(out) - 2);
                strncat(out, cJSON_GetObjectItem(ta, "tamid")->valuestring, cap - strlen(out) - 2);
            }
            strcat(out, ",");
        }
    }
    cJSON_Delete(doc);
}

static void installed_tas(otrp_agent *agent, const char *name, char *out, size_t cap)
{
    list_tas(agent, name, 0, out, cap);
}

/* A number of last_session in otrp_get_device_state. */
static double last_session(otrp_agent *agent, const char *key)
{
    char *json = NULL;
    size_t len = 0;
    assert_int_equal(otrp_get_device_state(agent, &json, &len), OTRP_OK);
    cJSON *doc = cJSON_ParseWithLength(json, len);
    otrp_free(json);
    const cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "last_session"), key);
    double d = cJSON_IsNumber(v) ? v->valuedouble : -1;
    cJSON_Delete(doc);
    return d;
}

/* The version installed.json records for taid (any TEE), 0 when none. */
static unsigned recorded_version(const char *taid)
{
    char *text = slurp(tam_dir, "installed.json");
    cJSON *doc = text != NULL ? cJSON_Parse(text) : NULL;
    free(text);
    unsigned v = 0;
    const cJSON *tee, *ta;
    cJSON_ArrayForEach(tee, cJSON_GetObjectItem(doc, "tees"))
    {
        cJSON_ArrayForEach(ta, cJSON_GetObjectItem(tee, "tas"))
        {
            if (strcmp(cJSON_GetObjectItem(ta, "taid")->valuestring, taid) == 0)
                v = (unsigned)cJSON_GetObjectItem(ta, "version")->valuedouble;
        }
    }
    cJSON_Delete(doc);
    return v;
}

/* ---- lifecycle ------------------------------------------------------------------------ */

static void test_tam_lifecycle_https(void **state)
{
    (void)state;
    fixture f = {0};
    start_tam(&f, tls_cert, tls_key, NULL);
    otrp_agent_config cfg;
    agent_config(&cfg, ca_path, tls_pin);
    assert_int_equal(otrp_agent_new(&cfg, &f.agent), OTRP_OK);
    add_tee(&f, 0, tee_a, "tee-life");
    const char *url = reftam_server_url(f.srv);
    assert_memory_equal(url, "https://127.0.0.1:", 18);
    char tas[256];

    /* Install: GetDeviceState, CreateSD, InstallTA, 204. */
    assert_int_equal(otrp_agent_request_ta(f.agent, "ta1", url), OTRP_OK);
    installed_tas(f.agent, "tee-life", tas, sizeof tas);
    assert_string_equal(tas, "ta1,");
    assert_true(last_session(f.agent, "round_trips") == 3);
    assert_true(last_session(f.agent, "bytes_sent") > 1000);
    assert_true(last_session(f.agent, "bytes_received") > 3000);
    assert_true(last_session(f.agent, "duration_ms") >= 0);
    reftam_stats st;
    reftam_get_stats(f.tam, &st);
    assert_int_equal(st.completed, 1);
    assert_int_equal(st.operations, 2);
    assert_int_equal(st.max_connections_per_session, 1); /* one TCP connection per session */
    assert_int_equal(f.w[0]->process_calls, 3);
    assert_int_equal(f.w[0]->process_error_calls, 0);
    unsigned v1 = recorded_version("ta1");
    assert_true(v1 >= 1);

    /* Asking again with nothing new: GetDeviceState only. */
    assert_int_equal(otrp_agent_request_ta(f.agent, "ta1", url), OTRP_OK);
    assert_true(last_session(f.agent, "round_trips") == 1);

    /* The TAM restarts (its records are on disk), then updates: a newer file for ta1. */
    reftam_server_stop(f.srv);
    reftam_close(f.tam);
    f.tam = NULL;
    start_tam(&f, tls_cert, tls_key, NULL);
    url = reftam_server_url(f.srv);
    unsigned v2 = 0;
    assert_int_equal(add_ta("ta1", 4000, 9, &v2), 0);
    assert_int_equal(v2, v1 + 1);
    assert_int_equal(otrp_agent_request_ta(f.agent, "ta1", url), OTRP_OK);
    assert_true(last_session(f.agent, "round_trips") == 2); /* GetDeviceState, UpdateTA */
    assert_int_equal(recorded_version("ta1"), v2);
    installed_tas(f.agent, "tee-life", tas, sizeof tas);
    assert_string_equal(tas, "ta1,");

    /* Delete: DeleteTA, then DeleteSD (empty now). */
    assert_int_equal(otrp_agent_unrequest_ta(f.agent, "ta1", url), OTRP_OK);
    assert_true(last_session(f.agent, "round_trips") == 3);
    installed_tas(f.agent, "tee-life", tas, sizeof tas);
    assert_string_equal(tas, "");
    assert_int_equal(recorded_version("ta1"), 0);
    reftam_get_stats(f.tam, &st); /* since the restart */
    assert_int_equal(st.completed, 2);
    assert_int_equal(st.operations, 3);
    assert_int_equal(st.violations + st.tee_failures, 0);
    stop(&f);
}

/* A TA the TAM does not manage: the session ends at once, nothing installed. */
static void test_tam_unmanaged_ta(void **state)
{
    (void)state;
    fixture f = {0};
    start_tam_and_agent(&f);
    add_tee(&f, 0, tee_a, "tee-unmanaged");
    assert_int_equal(otrp_agent_request_ta(f.agent, "no-such-ta", reftam_server_url(f.srv)), OTRP_OK);
    char tas[256];
    installed_tas(f.agent, "tee-unmanaged", tas, sizeof tas);
    assert_string_equal(tas, "");
    stop(&f);
}

/* Two TEEs on one agent: TEE b asked for ta2 while the TAM was unreachable; one session
 * for ta1 on TEE a serves both. */
static void test_tam_two_tees(void **state)
{
    (void)state;
    fixture f = {0};
    start_tam(&f, tls_cert, tls_key, NULL);
    otrp_agent_config cfg;
    agent_config(&cfg, ca_path, NULL);
    char dir_b[700];
    fresh_tee(tee_b, "tee-two-b", dir_b, sizeof dir_b);
    {
        otrp_agent *early = NULL;
        otrp_tee *tee = NULL;
        assert_int_equal(otrp_agent_new(&cfg, &early), OTRP_OK);
        assert_int_equal(otrp_tee_mock_new(dir_b, &tee), OTRP_OK);
        assert_int_equal(otrp_agent_add_tee(early, tee), OTRP_OK);
        assert_int_equal(otrp_agent_request_ta(early, "ta2", "https://127.0.0.1:1/tam"),
                         OTRP_ERR_HTTP_CONNECT);
        otrp_agent_free(early);
    }
    assert_int_equal(otrp_agent_new(&cfg, &f.agent), OTRP_OK);
    add_tee(&f, 0, tee_a, "tee-two-a");
    otrp_tee *tee = NULL;
    assert_int_equal(mock_wrap_new(dir_b, 0, &tee, &f.w[1]), OTRP_OK);
    assert_int_equal(otrp_agent_add_tee(f.agent, tee), OTRP_OK);

    assert_int_equal(otrp_agent_request_ta(f.agent, "ta1", reftam_server_url(f.srv)), OTRP_OK);
    char tas[256];
    installed_tas(f.agent, "tee-two-a", tas, sizeof tas);
    assert_string_equal(tas, "ta1,");
    installed_tas(f.agent, "tee-two-b", tas, sizeof tas);
    assert_string_equal(tas, "ta2,");
    /* GetDeviceState (both), CreateSD + InstallTA each. */
    if (last_session(f.agent, "round_trips") != 6) /* GetDeviceState counts once per TEE */
        fail_msg("round_trips %g", last_session(f.agent, "round_trips"));
    assert_int_equal(f.w[0]->process_calls, 3);
    assert_int_equal(f.w[1]->process_calls, 3);

    /* ta1 no longer needed (on TEE a, the first): DeleteTA, DeleteSD there; b keeps ta2. */
    assert_int_equal(otrp_agent_unrequest_ta(f.agent, "ta1", reftam_server_url(f.srv)), OTRP_OK);
    installed_tas(f.agent, "tee-two-a", tas, sizeof tas);
    assert_string_equal(tas, "");
    installed_tas(f.agent, "tee-two-b", tas, sizeof tas);
    assert_string_equal(tas, "ta2,");
    stop(&f);
}

/* A request made while the TAM was unreachable stays pending in the TEE; the next
 * policy check runs the session that installs it. The TEE's TAM is unreachable at first
 * (its URI a dead port), then reachable (the TEE is configured with the live URI). */
static void test_tam_policy_check_installs_pending(void **state)
{
    (void)state;
    fixture f = {0};
    start_tam_and_agent(&f);
    char dir[700];
    fresh_tee_uri(tee_a, "tee-policy", DEAD_TAM_URI, dir, sizeof dir);
    otrp_tee *tee = NULL;
    assert_int_equal(mock_wrap_new(dir, 0, &tee, &f.w[0]), OTRP_OK);
    assert_int_equal(otrp_agent_add_tee(f.agent, tee), OTRP_OK);
    assert_int_equal(otrp_agent_request_ta(f.agent, "ta2", reftam_server_url(f.srv)),
                     OTRP_ERR_HTTP_CONNECT); /* the TEE's TAM, not the caller's */
    assert_int_equal(f.w[0]->process_error_calls, 1);
    assert_int_equal(reftam_server_requests(f.srv), 0);
    char tas[256];
    installed_tas(f.agent, "tee-policy", tas, sizeof tas);
    assert_string_equal(tas, "");
    /* the TEE again, now configured with its TAM's live URI */
    otrp_agent_free(f.agent);
    otrp_agent_config cfg;
    agent_config(&cfg, ca_path, NULL);
    assert_int_equal(otrp_agent_new(&cfg, &f.agent), OTRP_OK);
    write_tee_json(dir, "tee-policy", reftam_server_url(f.srv), "");
    assert_int_equal(mock_wrap_new(dir, 0, &tee, &f.w[0]), OTRP_OK);
    assert_int_equal(otrp_agent_add_tee(f.agent, tee), OTRP_OK);
    assert_int_equal(otrp_agent_policy_check(f.agent, NULL), OTRP_OK); /* the TEE's TAM */
    installed_tas(f.agent, "tee-policy", tas, sizeof tas);
    assert_string_equal(tas, "ta2,");
    /* Nothing pending any more: the policy check has no session to run. */
    unsigned before = reftam_server_requests(f.srv);
    assert_int_equal(otrp_agent_policy_check(f.agent, NULL), OTRP_OK);
    assert_int_equal(reftam_server_requests(f.srv), before);
    stop(&f);
}

/* otrp_agent_policy_check(agent, tam_uri): the TEE signals pending work with its own
 * TAM URI, and that one wins over a caller's (PROFILE P10, otrp-over-http-02 §5.1): here
 * the TEE's configured TAM is unreachable and the caller names a live one, which is never
 * contacted; the work stays pending. */
static void test_tam_policy_check_caller_uri(void **state)
{
    (void)state;
    fixture f = {0};
    start_tam_and_agent(&f);
    char dir[700];
    fresh_tee_uri(tee_a, "tee-policy-uri", DEAD_TAM_URI, dir, sizeof dir);
    otrp_tee *tee = NULL;
    assert_int_equal(mock_wrap_new(dir, 0, &tee, &f.w[0]), OTRP_OK);
    assert_int_equal(otrp_agent_add_tee(f.agent, tee), OTRP_OK);
    assert_int_equal(otrp_agent_request_ta(f.agent, "ta2", NULL), OTRP_ERR_HTTP_CONNECT);
    assert_int_equal(otrp_agent_policy_check(f.agent, NULL), OTRP_ERR_HTTP_CONNECT);
    assert_int_equal(otrp_agent_policy_check(f.agent, reftam_server_url(f.srv)),
                     OTRP_ERR_HTTP_CONNECT);
    assert_int_equal(f.w[0]->process_error_calls, 3);
    assert_int_equal(reftam_server_requests(f.srv), 0);
    char tas[256];
    installed_tas(f.agent, "tee-policy-uri", tas, sizeof tas);
    assert_string_equal(tas, "");
    stop(&f);
}

/* The TEE f's agent holds (named tee_name) knows no TAM (no tam_uri in tee.json). A
 * RequestTA with no URI anywhere records the need and says why nothing was installed; an
 * UnrequestTA of a TA that is not there needs no TAM at all. The caller's URI reaches the
 * TEE as the policy_check hint, and the pending request is installed from there (PROFILE
 * P10). Without any URI the check fails before the network with OTRP_ERR_NO_TAM_URI and
 * the TEE's own words in the detail, ProcessError is not called (no TAM was contacted),
 * and with nothing pending there is no POST at all. process_error_calls: the TEE's
 * ProcessError count where the test can see it, else NULL. */
static void check_policy_hint_only(fixture *f, const char *tee_name,
                                   const unsigned *process_error_calls)
{
    assert_int_equal(otrp_agent_request_ta(f->agent, "ta2", NULL), OTRP_ERR_NO_TAM_URI);
    if (strstr(otrp_agent_last_error(f->agent), "named a TAM for RequestTA") == NULL)
        fail_msg("detail: %s", otrp_agent_last_error(f->agent));
    assert_int_equal(otrp_agent_unrequest_ta(f->agent, "ta9", NULL), OTRP_OK);
    if (process_error_calls != NULL)
        assert_int_equal(*process_error_calls, 0);
    assert_int_equal(otrp_agent_request_ta(f->agent, "ta2", DEAD_TAM_URI), OTRP_ERR_HTTP_CONNECT);
    if (process_error_calls != NULL)
        assert_int_equal(*process_error_calls, 1);

    /* Pending work, no hint, no configured URI. */
    assert_int_equal(otrp_agent_policy_check(f->agent, NULL), OTRP_ERR_NO_TAM_URI);
    const char *detail = otrp_agent_last_error(f->agent);
    if (strstr(detail, "neither the caller nor the TEE named a TAM for RequestPolicyCheck") == NULL ||
        strstr(detail, "TEE #1") == NULL || strstr(detail, "tee.json") == NULL)
        fail_msg("detail: %s", detail); /* the agent's words and the TEE's own */
    if (process_error_calls != NULL)
        assert_int_equal(*process_error_calls, 1);
    assert_int_equal(reftam_server_requests(f->srv), 0);

    /* The caller's URI is the only one: the TEE answers it and the TA is installed. */
    assert_int_equal(otrp_agent_policy_check(f->agent, reftam_server_url(f->srv)), OTRP_OK);
    char tas[256];
    installed_tas(f->agent, tee_name, tas, sizeof tas);
    assert_string_equal(tas, "ta2,");
    if (process_error_calls != NULL)
        assert_int_equal(*process_error_calls, 1);

    /* Nothing pending: OK without a POST, with or without a URI. */
    unsigned before = reftam_server_requests(f->srv);
    assert_int_equal(otrp_agent_policy_check(f->agent, reftam_server_url(f->srv)), OTRP_OK);
    assert_int_equal(otrp_agent_policy_check(f->agent, NULL), OTRP_OK);
    assert_int_equal(reftam_server_requests(f->srv), before);
}

/* check_policy_hint_only with the mock TEE in process. */
static void test_tam_policy_check_hint_only(void **state)
{
    (void)state;
    fixture f = {0};
    start_tam_and_agent(&f);
    add_tee(&f, 0, tee_a, "tee-policy-hint");
    check_policy_hint_only(&f, "tee-policy-hint", &f.w[0]->process_error_calls);
    stop(&f);
}

/* The same over otrp-tee-sim and the socket backend: the hint travels in the
 * RequestPolicyCheck frame, the failure status and the daemon's detail in the answer. */
static void test_tam_policy_check_hint_over_socket(void **state)
{
    (void)state;
    fixture f = {0};
    start_tam_and_agent(&f);
    char dir[700], sock[760];
    fresh_tee(tee_a, "tee-policy-sock", dir, sizeof dir);
    snprintf(sock, sizeof sock, "%s/sock", dir);
    fx_daemon = fx_daemon_start(dir, sock);
    assert_true(fx_daemon > 0);
    otrp_tee *tee = NULL;
    assert_int_equal(otrp_tee_socket_new(sock, &tee), OTRP_OK);
    assert_int_equal(otrp_agent_add_tee(f.agent, tee), OTRP_OK);
    check_policy_hint_only(&f, "tee-policy-sock", NULL);

    otrp_agent_free(f.agent);
    f.agent = NULL;
    pid_t pid = fx_daemon;
    fx_daemon = -1;
    assert_int_equal(fx_daemon_stop(pid, SIGTERM), 0);
    stop(&f);
}

/* A TEE that refuses the TAM still signs its GetDeviceState failure and encrypts the
 * minimal DSI to the TAM (P8): the TAM verifies it, names the TEE and ends with 204. */
static void test_tam_verified_tee_failure(void **state)
{
    (void)state;
    fixture f = {0};
    start_tam_and_agent(&f);
    char dir[700];
    fresh_tee(tee_a, "tee-ocsp", dir, sizeof dir);
    static const char json[] =
        "{\"name\": \"tee-ocsp\", \"version\": \"1.0\", \"tam_uri\": \"\", \"jwe_alg\": \"RSA1_5\", "
        "\"sign_alg\": \"RS256\", \"require_ocsp\": true, \"quota_bytes\": 0}";
    assert_int_equal(fx_write(dir, "tee.json", json, strlen(json)), 0);
    otrp_tee *tee = NULL;
    assert_int_equal(mock_wrap_new(dir, 0, &tee, &f.w[0]), OTRP_OK);
    assert_int_equal(otrp_agent_add_tee(f.agent, tee), OTRP_OK);
    assert_int_equal(otrp_agent_request_ta(f.agent, "ta1", reftam_server_url(f.srv)),
                     OTRP_ERR_TEE_REPORTED);
    reftam_stats st;
    reftam_get_stats(f.tam, &st);
    assert_int_equal(st.tee_failures, 1);
    if (strstr(st.last_failure, "TEE 'tee-ocsp' failed GetDeviceState: ERR_TAM_NOT_TRUSTED") == NULL)
        fail_msg("TAM: %s", st.last_failure);
    assert_int_equal(f.w[0]->process_error_calls, 0); /* the TAM ended it with 204 */
    stop(&f);
}

/* The key management the TAM emits is configurable (tam.json jwe_alg, P3): with
 * RSA-OAEP-256 every content JWE says so, and the mock TEE installs the TA. The session
 * is driven by hand: TAM handler, agent relay, mock TEE. */
static void test_tam_jwe_alg_configurable(void **state)
{
    (void)state;
    char dir[700], detail[256] = "";
    snprintf(dir, sizeof dir, "%s/tam-oaep", run_dir);
    assert_int_equal(fx_copy_dir(tam_dir, dir), 0);
    char *cfg = slurp(dir, "tam.json");
    char *p = strstr(cfg, "\"RSA1_5\"");
    assert_non_null(p);
    char json[512];
    snprintf(json, sizeof json, "%.*s\"RSA-OAEP-256\"%s", (int)(p - cfg), cfg, p + 8);
    free(cfg);
    assert_int_equal(fx_write(dir, "tam.json", json, strlen(json)), 0);
    reftam *tam = NULL;
    assert_int_equal(reftam_open(dir, NULL, &tam, detail, sizeof detail), OTRP_OK);
    otrp_agent *agent = NULL;
    assert_int_equal(otrp_agent_new(NULL, &agent), OTRP_OK);
    char teedir[700];
    fresh_tee(tee_a, "tee-oaep", teedir, sizeof teedir);
    otrp_tee *tee = NULL;
    mock_wrap *w = NULL;
    assert_int_equal(mock_wrap_new(teedir, 0, &tee, &w), OTRP_OK);
    assert_int_equal(otrp_agent_add_tee(agent, tee), OTRP_OK);
    /* Make the TEE ask for ta1 (its TAM is unreachable; the request stays pending). */
    assert_int_equal(otrp_agent_request_ta(agent, "ta1", "https://127.0.0.1:1/tam"),
                     OTRP_ERR_HTTP_CONNECT);
    char *body = NULL;
    size_t len = 0;
    int contents = 0;
    for (int step = 0; step < 8; step++) {
        reftam_post post = {body != NULL ? body : "", len, 1};
        reftam_reply r;
        reftam_handle(tam, &post, &r);
        otrp_free(body);
        body = NULL;
        if (r.status == 204) {
            reftam_reply_free(&r);
            break;
        }
        if (r.status != 200)
            fail_msg("step %d: %u %s", step, r.status, r.detail);
        /* Every request after GetDeviceState carries content: check its key management. */
        cJSON *root = cJSON_ParseWithLength((const char *)r.body.data, r.body.len);
        otrp__jws *jws = NULL;
        assert_int_equal(otrp__jws_parse_json(root->child, 0, &jws, NULL, 0), OTRP_OK);
        size_t plen = 0;
        const uint8_t *pl = otrp__jws_payload(jws, &plen);
        cJSON *doc = cJSON_ParseWithLength((const char *)pl, plen);
        const cJSON *content = cJSON_GetObjectItem(doc->child, "content");
        if (content != NULL) {
            const cJSON *h = cJSON_GetObjectItem(
                cJSON_GetArrayItem(cJSON_GetObjectItem(content, "recipients"), 0), "header");
            assert_string_equal(cJSON_GetObjectItem(h, "alg")->valuestring, "RSA-OAEP-256");
            contents++;
        }
        cJSON_Delete(doc);
        otrp__jws_free(jws);
        cJSON_Delete(root);
        assert_int_equal(otrp_agent_process(agent, (const char *)r.body.data, r.body.len, &body, &len),
                         OTRP_OK);
        reftam_reply_free(&r);
    }
    otrp_free(body);
    assert_int_equal(contents, 2); /* CreateSD, InstallTA */
    char tas[256];
    installed_tas(agent, "tee-oaep", tas, sizeof tas);
    assert_string_equal(tas, "ta1,");
    otrp_agent_free(agent);
    reftam_close(tam);
}

/* DSI names: inner spaces are a TEE name ("Primary TEE"), edge spaces and control
 * characters are not. */
static void test_tam_dsi_tee_names(void **state)
{
    (void)state;
    char *cert = test_cert_b64(TEST_PKI_DIR "/tee.pem");
    static const struct {
        const char *name;
        otrp_status want;
    } cases[] = {{"Primary TEE", OTRP_OK}, {"tee-1", OTRP_OK}, {" lead", OTRP_ERR_MSG_FIELD},
                 {"trail ", OTRP_ERR_MSG_FIELD}, {"", OTRP_ERR_MSG_FIELD},
                 {"tab\there", OTRP_ERR_MSG_FIELD}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *doc = cJSON_CreateObject();
        cJSON *tee = cJSON_AddObjectToObject(cJSON_AddObjectToObject(doc, "dsi"), "tee");
        cJSON_AddStringToObject(tee, "name", cases[i].name);
        cJSON_AddStringToObject(tee, "ver", "1.0");
        cJSON_AddStringToObject(tee, "cert", cert);
        cJSON_AddArrayToObject(tee, "cacert");
        char *text = cJSON_PrintUnformatted(doc);
        cJSON_Delete(doc);
        reftam_dsi d;
        otrp_status st = reftam_dsi_read(text, strlen(text), NULL, 0, &d, NULL, 0);
        if (st != cases[i].want)
            fail_msg("name '%s': %s", cases[i].name, otrp_status_name(st));
        if (st == OTRP_OK) {
            assert_string_equal(d.name, cases[i].name);
            reftam_dsi_clear(&d);
        }
        cJSON_free(text);
    }
    free(cert);
}

/* ---- TLS ------------------------------------------------------------------------------ */

typedef struct tls_case {
    const char *cert, *key; /* files in pki/ */
    const char *ca;         /* file in pki/, or NULL: the TAM's CA */
    const char *pin;        /* file in pki/, or NULL */
    int plain_http;
    otrp_status want;
    const char *detail;
} tls_case;

static void run_tls_case(const tls_case *c)
{
    fixture f = {0};
    char *cert = c->cert != NULL ? slurp(pki, c->cert) : NULL;
    char *key = c->key != NULL ? slurp(pki, c->key) : NULL;
    char *pin = c->pin != NULL ? slurp(pki, c->pin) : NULL;
    char ca[800];
    snprintf(ca, sizeof ca, "%s/%s", pki, c->ca != NULL ? c->ca : "ca.pem");
    start_tam(&f, c->plain_http ? NULL : cert, c->plain_http ? NULL : key, NULL);
    otrp_agent_config cfg;
    agent_config(&cfg, ca, pin);
    assert_int_equal(otrp_agent_new(&cfg, &f.agent), OTRP_OK);
    add_tee(&f, 0, tee_a, "tee-tls");
    assert_int_equal(otrp_agent_request_ta(f.agent, "ta1", reftam_server_url(f.srv)), c->want);
    assert_non_null(strstr(otrp_agent_last_error(f.agent), c->detail));
    assert_int_equal(f.w[0]->process_calls, 0); /* no TEE ProcessOTrPMessage call */
    reftam_stats st;
    reftam_get_stats(f.tam, &st);
    assert_int_equal(st.sessions, 0);           /* the TAM never saw a POST */
    free(cert);
    free(key);
    free(pin);
    stop(&f);
}

static void test_tam_tls_wrong_ca(void **state)
{
    (void)state;
    tls_case c = {"server.pem", "server.key", "other-ca.pem", NULL, 0, OTRP_ERR_TLS_CERT, "POST #1"};
    run_tls_case(&c);
}

static void test_tam_tls_wrong_host(void **state)
{
    (void)state;
    tls_case c = {"wronghost.pem", "wronghost.key", NULL, NULL, 0, OTRP_ERR_TLS_HOSTNAME, "POST #1"};
    run_tls_case(&c);
}

static void test_tam_tls_expired(void **state)
{
    (void)state;
    tls_case c = {"expired.pem", "expired.key", NULL, NULL, 0, OTRP_ERR_CERT_EXPIRED, "POST #1"};
    run_tls_case(&c);
}

static void test_tam_tls_wrong_pin(void **state)
{
    (void)state;
    tls_case c = {"server.pem", "server.key", NULL, "other.pin", 0, OTRP_ERR_TLS_PIN, "pinned"};
    run_tls_case(&c);
}

static void test_tam_tls_plain_http_refused(void **state)
{
    (void)state;
    tls_case c = {NULL, NULL, NULL, NULL, 1, OTRP_ERR_HTTP_INSECURE, "http"};
    run_tls_case(&c);
}

/* The right pin and CA work (the control case of the ones above). */
static void test_tam_tls_pinned_ok(void **state)
{
    (void)state;
    tls_case c = {"server.pem", "server.key", NULL, "server.pin", 0, OTRP_OK, ""};
    fixture f = {0};
    char *cert = slurp(pki, c.cert), *key = slurp(pki, c.key), *pin = slurp(pki, c.pin);
    char ca[800];
    snprintf(ca, sizeof ca, "%s/ca.pem", pki);
    start_tam(&f, cert, key, NULL);
    otrp_agent_config cfg;
    agent_config(&cfg, ca, pin);
    assert_int_equal(otrp_agent_new(&cfg, &f.agent), OTRP_OK);
    add_tee(&f, 0, tee_a, "tee-pinned");
    assert_int_equal(otrp_agent_request_ta(f.agent, "ta1", reftam_server_url(f.srv)), OTRP_OK);
    free(cert);
    free(key);
    free(pin);
    stop(&f);
}

/* ---- faults --------------------------------------------------------------------------- */

typedef struct fault_case {
    const char *spec;
    otrp_status want;
    const char *detail;
    unsigned max_ms;          /* the session must end within this (0: no check) */
} fault_case;

static const fault_case FAULTS[] = {
    {"drop@1", OTRP_ERR_HTTP_PROTOCOL, "POST #1", 0},
    {"drop@2", OTRP_ERR_HTTP_PROTOCOL, "POST #2", 0},
    {"500@1", OTRP_ERR_HTTP_STATUS, "500", 0},
    {"503@2", OTRP_ERR_HTTP_STATUS, "503", 0},
    {"302@1", OTRP_ERR_HTTP_REDIRECT, "POST #1", 0},
    {"wrong-type@2", OTRP_ERR_HTTP_CONTENT_TYPE, "text/html", 0},
    {"oversize:2000000@1", OTRP_ERR_TOO_LARGE, "exceeds the limit", 0},
    {"endless@2", OTRP_ERR_TOO_LARGE, "exceeds the limit of 1048576", 5000},
    {"garbage@1", OTRP_ERR_MSG_NOT_JSON, "TAM message #1", 0},
    {"stall:4000@2", OTRP_ERR_TIMEOUT, "stalled", STALL_MS + SLACK_MS},
};

static void run_fault(const fault_case *c)
{
    fixture f = {0};
    reftam_fault fault;
    assert_int_equal(reftam_fault_parse(c->spec, &fault), 0);
    start_tam(&f, tls_cert, tls_key, &fault);
    otrp_agent_config cfg;
    agent_config(&cfg, ca_path, NULL);
    cfg.max_message_size = SMALL_CAP;
    assert_int_equal(otrp_agent_new(&cfg, &f.agent), OTRP_OK);
    add_tee(&f, 0, tee_a, "tee-fault");
    uint64_t t0 = otrp_monotonic_ms();
    otrp_status st = otrp_agent_request_ta(f.agent, "ta1", reftam_server_url(f.srv));
    uint64_t ms = otrp_monotonic_ms() - t0;
    if (st != c->want || strstr(otrp_agent_last_error(f.agent), c->detail) == NULL)
        fail_msg("fault %s: got %s (%s), wanted %s with '%s'", c->spec, otrp_status_name(st),
                 otrp_agent_last_error(f.agent), otrp_status_name(c->want), c->detail);
    if (f.w[0]->process_error_calls != 1)
        fail_msg("fault %s: ProcessError called %u times", c->spec, f.w[0]->process_error_calls);
    if (c->max_ms != 0 && ms > c->max_ms)
        fail_msg("fault %s: the session took %llu ms (limit %u)", c->spec, (unsigned long long)ms,
                 c->max_ms);
    if (fault.kind == REFTAM_FAULT_302 && reftam_server_requests(f.srv) != 1)
        fail_msg("the redirect was followed");
    char *json = NULL;
    size_t len = 0;
    assert_int_equal(otrp_get_device_state(f.agent, &json, &len), OTRP_OK);
    assert_non_null(strstr(json, otrp_status_name(c->want))); /* last_session.result */
    otrp_free(json);
    stop(&f);
}

#define FAULT_TEST(fn, i)                                                                   \
    static void fn(void **state)                                                            \
    {                                                                                       \
        (void)state;                                                                        \
        run_fault(&FAULTS[i]);                                                              \
    }
FAULT_TEST(test_tam_fault_drop_first, 0)
FAULT_TEST(test_tam_fault_drop_after_tee, 1)
FAULT_TEST(test_tam_fault_500, 2)
FAULT_TEST(test_tam_fault_503, 3)
FAULT_TEST(test_tam_fault_redirect_not_followed, 4)
FAULT_TEST(test_tam_fault_wrong_type, 5)
FAULT_TEST(test_tam_fault_oversize, 6)
FAULT_TEST(test_tam_fault_endless_chunked_cut, 7)
FAULT_TEST(test_tam_fault_garbage, 8)
FAULT_TEST(test_tam_fault_stall_within_timeout, 9)

/* A delay the agent waits out is not a failure. */
static void test_tam_fault_delay_tolerated(void **state)
{
    (void)state;
    fixture f = {0};
    reftam_fault fault;
    assert_int_equal(reftam_fault_parse("delay:300@2", &fault), 0);
    start_tam(&f, tls_cert, tls_key, &fault);
    otrp_agent_config cfg;
    agent_config(&cfg, ca_path, NULL);
    assert_int_equal(otrp_agent_new(&cfg, &f.agent), OTRP_OK);
    add_tee(&f, 0, tee_a, "tee-delay");
    uint64_t t0 = otrp_monotonic_ms();
    assert_int_equal(otrp_agent_request_ta(f.agent, "ta1", reftam_server_url(f.srv)), OTRP_OK);
    assert_true(otrp_monotonic_ms() - t0 >= 300);
    assert_int_equal(f.w[0]->process_error_calls, 0);
    stop(&f);
}

static void test_tam_fault_parse(void **state)
{
    (void)state;
    reftam_fault f;
    assert_int_equal(reftam_fault_parse("stall:1500@3", &f), 0);
    assert_int_equal(f.kind, REFTAM_FAULT_STALL);
    assert_int_equal(f.delay_ms, 1500);
    assert_int_equal(f.at, 3);
    assert_int_equal(reftam_fault_parse("oversize", &f), 0);
    assert_int_equal(f.kind, REFTAM_FAULT_OVERSIZE);
    static const char *const bad[] = {"", "nope", "500:3", "drop@0", "delay:", "drop@x",
                                      "stall:5@2x", "oversize:0", "302@65"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (reftam_fault_parse(bad[i], &f) == 0)
            fail_msg("'%s' was accepted", bad[i]);
}

/* ---- what the TAM refuses ------------------------------------------------------------- */

/* POSTs straight to the TAM's handler: every bad body gets a specific refusal. */
static void test_tam_refuses_bad_posts(void **state)
{
    (void)state;
    reftam *tam = NULL;
    char detail[256];
    assert_int_equal(reftam_open(tam_dir, NULL, &tam, detail, sizeof detail), OTRP_OK);
    static const struct {
        const char *body;
        unsigned status;
        const char *detail;
    } cases[] = {
        {"not json", 400, "not JSON"},
        {"[1,2]", 400, "one member"},
        {"{\"a\":1,\"b\":2}", 400, "one member"},
        {"{\"GetDeviceStateResponse\":[]}", 400, "no tid"},
        {"{\"OTrPBrokerError\":{\"ver\":\"1.0\",\"rid\":\"r\",\"tid\":\"t\",\"errcode\":\"ERR_AGENT_TEE_BUSY\"}}",
         400, "unknown tid"},
        {"{\"InstallTAResponse\":{\"payload\":\"eyJ9\",\"protected\":\"eyJhbGciOiJSUzI1NiJ9\",\"signature\":\"c2ln\"}}",
         400, "no tid"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        reftam_post p = {cases[i].body, strlen(cases[i].body), 1};
        reftam_reply r;
        reftam_handle(tam, &p, &r);
        if (r.status != cases[i].status || strstr(r.detail, cases[i].detail) == NULL)
            fail_msg("case %zu: %u '%s'", i, r.status, r.detail);
        reftam_reply_free(&r);
    }
    /* A session whose GetDeviceStateResponse is not signed by a TEE of the TAM's CA. */
    reftam_post empty = {"", 0, 1};
    reftam_reply r;
    reftam_handle(tam, &empty, &r);
    assert_int_equal(r.status, 200);
    char tid[37];
    snprintf(tid, sizeof tid, "%s", r.tid);
    reftam_reply_free(&r);
    char body[512];
    snprintf(body, sizeof body,
             "{\"OTrPBrokerError\":{\"ver\":\"1.0\",\"rid\":\"r\",\"tid\":\"%s\",\"errcode\":\"ERR_AGENT_TEE_UNKNOWN\"}}",
             tid);
    reftam_post be = {body, strlen(body), 1};
    reftam_handle(tam, &be, &r);
    assert_int_equal(r.status, 204); /* P8: a broker error ends the session */
    reftam_reply_free(&r);
    reftam_stats st;
    reftam_get_stats(tam, &st);
    assert_int_equal(st.tee_failures, 1);
    assert_non_null(strstr(st.last_failure, "ERR_AGENT_TEE_UNKNOWN"));
    reftam_close(tam);
}

/* {"outer": JWS} with the payload text (signature not valid: the TAM must check the
 * structure and the ids before it gets that far, or refuse it there). */
static char *unsigned_jws(const char *outer, const char *payload)
{
    size_t n = strlen(payload);
    char *b64 = malloc(otrp__b64_encoded_len(n, OTRP__B64_URL) + 1);
    otrp__b64_encode((const uint8_t *)payload, n, b64, OTRP__B64_URL);
    size_t cap = strlen(b64) + strlen(outer) + 128;
    char *out = malloc(cap);
    snprintf(out, cap,
             "{\"%s\":{\"payload\":\"%s\",\"protected\":\"eyJhbGciOiJSUzI1NiJ9\",\"signature\":\"c2ln\"}}",
             outer, b64);
    free(b64);
    return out;
}

typedef struct session_case {
    const char *tbs;       /* the TBS text; @RID@ and @TID@ become the session's */
    int bare;              /* 1: the element is the whole body (not in the GDS array) */
    int elements;          /* how many copies of the element (0: 1) */
    unsigned status;
    const char *detail;
} session_case;

/* text with @RID@ and @TID@ replaced into out[cap]. */
static void subst(const char *text, const char *rid, const char *tid, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *p = text; *p != '\0' && o + 1 < cap;) {
        const char *v = strncmp(p, "@RID@", 5) == 0 ? rid : strncmp(p, "@TID@", 5) == 0 ? tid : NULL;
        if (v != NULL) {
            o += (size_t)snprintf(out + o, cap - o, "%s", v);
            p += 5;
        } else {
            out[o++] = *p++;
        }
    }
    out[o < cap ? o : cap - 1] = '\0';
}

static const session_case SESSION_CASES[] = {
    {"{\"GetDeviceTEEStateTBSResponse\":{\"ver\":\"1.0\",\"status\":\"pass\",\"rid\":\"not-@RID@\",\"tid\":\"@TID@\"}}",
     0, 0, 400, "rid does not echo"},
    {"{\"GetDeviceTEEStateTBSResponse\":{\"ver\":\"1.1\",\"status\":\"pass\",\"rid\":\"@RID@\",\"tid\":\"@TID@\"}}",
     0, 0, 400, "ver is not"},
    {"{\"GetDeviceTEEStateTBSResponse\":{\"ver\":\"1.0\",\"status\":\"maybe\",\"rid\":\"@RID@\",\"tid\":\"@TID@\"}}",
     0, 0, 400, "status is not"},
    {"{\"GetDeviceTEEStateTBSResponse\":{\"ver\":\"1.0\",\"status\":\"pass\",\"rid\":\"@RID@\",\"tid\":\"@TID@\"}}",
     0, 0, 400, "has no edsi"},
    {"{\"GetDeviceTEEStateTBSResponse\":{\"ver\":\"1.0\",\"status\":\"pass\",\"rid\":\"@RID@\",\"tid\":\"@TID@\","
     "\"edsi\":{\"protected\":\"eyJlbmMiOiJBMTI4Q0JDLUhTMjU2In0\",\"recipients\":[{\"header\":{\"alg\":\"RSA1_5\"},"
     "\"encrypted_key\":\"AAAA\"}],\"iv\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"ciphertext\":\"AAAA\",\"tag\":\"AAAA\"}}}",
     0, 0, 400, "edsi does not decrypt"},
    {"{\"GetDeviceTEEStateTBSResponse\":{\"ver\":\"1.0\",\"status\":\"fail\",\"rid\":\"@RID@\",\"tid\":\"@TID@\","
     "\"reason\":{\"error-code\":\"ERR_TAM_NOT_TRUSTED\",\"error-message\":\"who are you\"}}}",
     0, 0, 204, "unauthenticated): ERR_TAM_NOT_TRUSTED: who are you"},
    {"{\"GetDeviceTEEStateTBSResponse\":{\"ver\":\"1.0\",\"status\":\"pass\",\"rid\":\"@RID@\",\"tid\":\"@TID@\"}}",
     0, 17, 400, "array of 1..16 answers"},
    {"{\"CreateSDTBSResponse\":{\"ver\":\"1.0\",\"status\":\"pass\",\"rid\":\"@RID@\",\"tid\":\"@TID@\"}}",
     0, 0, 400, "payload is not {\"GetDeviceTEEStateTBSResponse\""},
    {"{\"InstallTATBSResponse\":{\"ver\":\"1.0\",\"status\":\"pass\",\"rid\":\"@RID@\",\"tid\":\"@TID@\"}}",
     1, 0, 400, "expected GetDeviceStateResponse, got InstallTAResponse"},
};

/* Bad answers inside an open session (the tid is right, so the TAM reads them through). */
static void test_tam_refuses_bad_session_posts(void **state)
{
    (void)state;
    reftam *tam = NULL;
    char detail[256];
    assert_int_equal(reftam_open(tam_dir, NULL, &tam, detail, sizeof detail), OTRP_OK);
    for (size_t i = 0; i < sizeof SESSION_CASES / sizeof SESSION_CASES[0]; i++) {
        const session_case *c = &SESSION_CASES[i];
        reftam_post empty = {"", 0, 1};
        reftam_reply r;
        reftam_handle(tam, &empty, &r);
        assert_int_equal(r.status, 200);
        otrp__jws *jws = NULL;
        cJSON *tbs = NULL;
        assert_int_equal(reftam_read_signed((const char *)r.body.data, r.body.len, "GetDeviceStateRequest",
                                            "GetDeviceStateTBSRequest", &jws, &tbs, NULL, 0),
                         OTRP_OK);
        char payload[1024];
        subst(c->tbs, cJSON_GetObjectItem(tbs, "rid")->valuestring, r.tid, payload, sizeof payload);
        otrp__jws_free(jws);
        cJSON_Delete(tbs);
        reftam_reply_free(&r);
        int is_install = strstr(c->tbs, "InstallTATBS") != NULL;
        char *element = unsigned_jws(is_install ? "InstallTAResponse" : "GetDeviceTEEStateResponse", payload);
        size_t cap = strlen(element) * 18 + 64;
        char *body = malloc(cap);
        if (c->bare) {
            snprintf(body, cap, "%s", element);
        } else {
            strcpy(body, "{\"GetDeviceStateResponse\":[");
            for (int k = 0; k < (c->elements != 0 ? c->elements : 1); k++) {
                if (k > 0)
                    strcat(body, ",");
                strcat(body, element);
            }
            strcat(body, "]}");
        }
        reftam_post p = {body, strlen(body), 1};
        reftam_handle(tam, &p, &r);
        if (r.status != c->status || strstr(r.status == 204 ? "" : r.detail, c->status == 204 ? "" : c->detail) == NULL)
            fail_msg("case %zu: %u '%s'", i, r.status, r.detail);
        if (c->status == 204) {
            reftam_stats st;
            reftam_get_stats(tam, &st);
            if (strstr(st.last_failure, c->detail) == NULL)
                fail_msg("case %zu: last failure '%s'", i, st.last_failure);
        }
        reftam_reply_free(&r);
        free(body);
        free(element);
    }
    reftam_stats st;
    reftam_get_stats(tam, &st);
    assert_int_equal(st.violations, sizeof SESSION_CASES / sizeof SESSION_CASES[0] - 1);
    assert_int_equal(st.tee_failures, 1);
    reftam_close(tam);
}

/* A TEE whose identity another CA issued is refused: the session fails with 400. */
static void test_tam_foreign_tee_refused(void **state)
{
    (void)state;
    fixture f = {0};
    start_tam_and_agent(&f);
    /* The fixture TEE of the mock TEE tests: self-signed, trusting the test TAM root only;
     * make it trust this TAM's CA so that it answers at all, and name no TAM of its own
     * so that it adopts the caller's. */
    char dir[700];
    assert_int_equal(fx_teedir(dir, sizeof dir,
                               "{\"name\": \"mocktee-test\", \"tam_uri\": \"\"}"), 0);
    char *ca = slurp(tam_dir, "ca/cert.pem");
    assert_int_equal(fx_write(dir, "trust/reftam.pem", ca, strlen(ca)), 0);
    free(ca);
    otrp_tee *tee = NULL;
    assert_int_equal(mock_wrap_new(dir, 0, &tee, &f.w[0]), OTRP_OK);
    assert_int_equal(otrp_agent_add_tee(f.agent, tee), OTRP_OK);
    assert_int_equal(otrp_agent_request_ta(f.agent, "ta1", reftam_server_url(f.srv)),
                     OTRP_ERR_HTTP_STATUS);
    assert_non_null(strstr(otrp_agent_last_error(f.agent), "400"));
    reftam_stats st;
    reftam_get_stats(f.tam, &st);
    assert_int_equal(st.violations, 1);
    assert_non_null(strstr(st.last_failure, "not trusted"));
    assert_int_equal(f.w[0]->process_error_calls, 1);
    stop(&f);
    fx_rm_rf(dir);
}

/* ---- two TAMs trusted by one TEE (PROFILE P10 "Isolation between TAMs") ----------------- */

/* A second reference TAM beside the run's (same CA, TLS certificate and SP id), serving
 * over HTTPS. key_pem/cert_pem: its identity files (NULL: a TAM identity of its own). */
typedef struct other_tam {
    char dir[700];
    reftam *tam;
    reftam_server *srv;
} other_tam;

static void start_other_tam(other_tam *o, const char *tamid, const char *key_pem,
                            const char *cert_pem)
{
    snprintf(o->dir, sizeof o->dir, "%s/t%u-%s", run_dir,
             __atomic_add_fetch(&dir_counter, 1, __ATOMIC_SEQ_CST), tamid);
    assert_int_equal(fx_tam_beside(tam_dir, o->dir, tamid, key_pem, cert_pem), 0);
    unsigned v = 0;
    /* its own "ta1", other bytes than the run's TAM's: the TA id a wrong TAM would take */
    assert_int_equal(add_ta_to(o->dir, "ta1", 2000, 77, &v), 0);
    assert_int_equal(add_ta_to(o->dir, "tb", 1000, 55, &v), 0);
    char detail[256] = "";
    if (reftam_open(o->dir, NULL, &o->tam, detail, sizeof detail) != OTRP_OK)
        fail_msg("open %s: %s", o->dir, detail);
    o->srv = serve(o->tam, tls_cert, tls_key, NULL);
}

static void stop_other_tam(other_tam *o)
{
    reftam_server_stop(o->srv);
    reftam_close(o->tam);
}

/* A TEE named name on f's agent (w[0]) whose own TAM is f's (its URI, TAM_ID) and, when o
 * is given, whose allowed_tams names o as tamid. */
static void add_tee_of(fixture *f, const char *name, const other_tam *o, const char *tamid)
{
    char dir[700], more[1024] = "";
    if (o != NULL)
        snprintf(more, sizeof more, ", \"allowed_tams\": [{\"uri\": \"%s\", \"tamid\": \"%s\"}]",
                 reftam_server_url(o->srv), tamid);
    fresh_tee_json(tee_a, name, reftam_server_url(f->srv), more, dir, sizeof dir);
    otrp_tee *tee = NULL;
    assert_int_equal(mock_wrap_new(dir, 0, &tee, &f->w[0]), OTRP_OK);
    assert_int_equal(otrp_agent_add_tee(f->agent, tee), OTRP_OK);
}

/* The tamid and the SP AIK (the JWK that signed it) of otrp_get_ta_information. */
static void ta_info(otrp_agent *agent, const char *taid, char *tamid, size_t tamid_cap,
                    char **signer)
{
    char *info = NULL;
    size_t len = 0;
    assert_int_equal(otrp_get_ta_information(agent, "sp.otrp.example", taid, &info, &len), OTRP_OK);
    cJSON *doc = cJSON_ParseWithLength(info, len);
    otrp_free(info);
    otrp__jws *jws = NULL;
    assert_int_equal(otrp__jws_parse_json(cJSON_GetObjectItem(doc, "TAInformation"), 0, &jws,
                                          NULL, 0),
                     OTRP_OK);
    size_t plen = 0;
    cJSON *payload = cJSON_Parse((const char *)otrp__jws_payload(jws, &plen));
    const cJSON *t = cJSON_GetObjectItem(cJSON_GetObjectItem(payload, "TAInformationTBS"), "tamid");
    snprintf(tamid, tamid_cap, "%s", cJSON_IsString(t) ? t->valuestring : "");
    *signer = cJSON_PrintUnformatted(otrp__jws_header_member(jws, "signer"));
    cJSON_Delete(payload);
    otrp__jws_free(jws);
    cJSON_Delete(doc);
}

/* The issue's hijack: a TEE that trusts two TAMs, a RequestTA naming the second one's URI
 * (a malicious manifest, an honest installer). The TEE has a TAM of its own, so the hint
 * does not replace it and ta1 is bound to the TEE's TAM: the second TAM, if the agent
 * reaches it at all, sees nothing to do and installs nothing, and the genuine TAM still
 * installs ta1, which is then its TA (TAInformation names it). */
static void test_tam_wrong_tam_uri_installs_nothing(void **state)
{
    (void)state;
    fixture f = {0};
    start_tam_and_agent(&f);
    other_tam b = {0};
    start_other_tam(&b, "tam-b.otrp.example", NULL, NULL);
    add_tee_of(&f, "tee-hijack", NULL, NULL);

    assert_int_equal(otrp_agent_request_ta(f.agent, "ta1", reftam_server_url(b.srv)), OTRP_OK);
    reftam_stats st;
    reftam_get_stats(b.tam, &st);
    assert_int_equal(st.operations, 0);
    assert_int_equal(st.tee_failures + st.violations, 0);
    char tas[256];
    list_tas(f.agent, "tee-hijack", 1, tas, sizeof tas);
    assert_null(strstr(tas, "tam-b")); /* nothing of the second TAM's */
    /* the genuine TAM (the TEE's; already done if the agent took the TEE's URI) */
    assert_int_equal(otrp_agent_policy_check(f.agent, NULL), OTRP_OK);
    list_tas(f.agent, "tee-hijack", 1, tas, sizeof tas);
    assert_string_equal(tas, "ta1@" TAM_ID ",");
    char tamid[160];
    char *signer = NULL;
    ta_info(f.agent, "ta1", tamid, sizeof tamid, &signer);
    assert_string_equal(tamid, TAM_ID);
    cJSON_free(signer);
    reftam_get_stats(b.tam, &st);
    assert_int_equal(st.operations, 0);
    stop_other_tam(&b);
    stop(&f);
}

/* Both TAMs serve one TEE (the second by its allow-list), with the same SP id, SD name and
 * a TA id in common: neither sees the other's SD or TA (the second creates its own SD of
 * that name and installs its own ta1, which it could not do on top of the first's), each
 * has its own SP AIK, the first still updates its TA with its own, and the second deleting
 * its ta1 leaves the first's. */
static void test_tam_two_tams_isolated(void **state)
{
    (void)state;
    fixture f = {0};
    start_tam_and_agent(&f);
    other_tam b = {0};
    start_other_tam(&b, "tam-b.otrp.example", NULL, NULL);
    add_tee_of(&f, "tee-two-tams", &b, "tam-b.otrp.example");
    char tas[256], tamid[160];

    assert_int_equal(otrp_agent_request_ta(f.agent, "ta1", NULL), OTRP_OK);
    assert_int_equal(otrp_agent_request_ta(f.agent, "ta1", reftam_server_url(b.srv)), OTRP_OK);
    assert_int_equal(otrp_agent_request_ta(f.agent, "tb", reftam_server_url(b.srv)), OTRP_OK);
    reftam_stats st;
    reftam_get_stats(b.tam, &st);
    assert_int_equal(st.operations, 3); /* CreateSD, InstallTA ta1, InstallTA tb */
    assert_int_equal(st.tee_failures + st.violations, 0);
    list_tas(f.agent, "tee-two-tams", 1, tas, sizeof tas);
    assert_string_equal(tas, "ta1@" TAM_ID ",ta1@tam-b.otrp.example,tb@tam-b.otrp.example,");
    /* separate SP AIKs for the one SP id: TAInformation is signed with the SD's */
    char *aik_a = NULL, *aik_b = NULL;
    ta_info(f.agent, "ta1", tamid, sizeof tamid, &aik_a); /* the TEE's own TAM's ta1 */
    assert_string_equal(tamid, TAM_ID);
    ta_info(f.agent, "tb", tamid, sizeof tamid, &aik_b);
    assert_string_equal(tamid, "tam-b.otrp.example");
    assert_string_not_equal(aik_a, aik_b);
    /* the first TAM updates its ta1 with its own SP AIK */
    unsigned v = 0;
    assert_int_equal(add_ta("ta1", 3500, 3, &v), 0);
    assert_int_equal(otrp_agent_request_ta(f.agent, "ta1", NULL), OTRP_OK);
    assert_true(last_session(f.agent, "round_trips") == 2); /* GetDeviceState, UpdateTA */
    /* the second TAM drops its ta1; the first's stays */
    assert_int_equal(otrp_agent_unrequest_ta(f.agent, "ta1", reftam_server_url(b.srv)), OTRP_OK);
    list_tas(f.agent, "tee-two-tams", 1, tas, sizeof tas);
    assert_string_equal(tas, "ta1@" TAM_ID ",tb@tam-b.otrp.example,");
    reftam_get_stats(f.tam, &st);
    assert_int_equal(st.tee_failures + st.violations, 0);
    cJSON_free(aik_a);
    cJSON_free(aik_b);
    stop_other_tam(&b);
    stop(&f);
}

/* A TEE identity (issued by the same CA as the TAMs) is no TAM certificate: a "TAM" that
 * signs with one is refused at its GetDeviceState (ERR_TAM_NOT_TRUSTED), even when the TEE
 * lets the caller name it, and installs nothing. */
static void test_tam_tee_identity_is_no_tam(void **state)
{
    (void)state;
    fixture f = {0};
    start_tam_and_agent(&f);
    char key[800], cert[800];
    snprintf(key, sizeof key, "%s/identity/key.pem", tee_b);
    snprintf(cert, sizeof cert, "%s/identity/cert.pem", tee_b);
    other_tam c = {0};
    start_other_tam(&c, "tee-b", key, cert); /* tee-b's identity, CN tee-b */
    add_tee_of(&f, "tee-no-tee-tam", &c, "tee-b");
    assert_int_equal(otrp_agent_request_ta(f.agent, "tb", reftam_server_url(c.srv)),
                     OTRP_ERR_TEE_REPORTED);
    reftam_stats st;
    reftam_get_stats(c.tam, &st);
    assert_int_equal(st.tee_failures, 1);
    assert_int_equal(st.operations, 0);
    if (strstr(st.last_failure, "ERR_TAM_NOT_TRUSTED") == NULL)
        fail_msg("the TAM's failure: %s", st.last_failure);
    char tas[256];
    installed_tas(f.agent, "tee-no-tee-tam", tas, sizeof tas);
    assert_string_equal(tas, "");
    stop_other_tam(&c);
    stop(&f);
}

/* ---- TEE answers the TAM must refuse ---------------------------------------------------- */

/*
 * A TEE in the middle: the mock TEE answers, then one answer is bent before the agent
 * relays it: re-signed with the TEE's own key (and content re-encrypted to the TAM)
 * where the change is inside the signature, so that only the TAM's checks can catch it.
 */
typedef enum tamper_kind {
    T_SIGNATURE,    /* a signature byte changed, nothing re-signed */
    T_RID,          /* rid of another request */
    T_VER,          /* "ver": "2.0" */
    T_STATUS_FAIL,  /* a signed failure answer (ERR_TEE_FAIL) */
    T_NO_CONTENT,   /* content removed */
    T_DID,          /* content.did of another TEE */
    T_DSI_OBJECT,   /* content.dsi as an object */
    T_NO_TEESPAIK,  /* CreateSD content without teespaik */
    T_EDSI_FOREIGN  /* the DSI names a certificate of another CA */
} tamper_kind;

typedef struct tamper_tee {
    otrp__mock *mock;
    tamper_kind kind;
    const char *at;            /* the answer to bend, e.g. "CreateSDResponse" */
    otrp__jose_key *tee_key;   /* the TEE's private key (re-signing) */
    otrp__jose_key *tam_priv;  /* the TAM's key: to read content, */
    otrp__jose_key *tam_pub;   /* and its certificate's: to encrypt it again */
    int done;
    unsigned process_error_calls;
} tamper_tee;

static otrp_status tt_name(void *ctx, const otrp_tee_call *call, otrp_buf *name)
{
    return otrp__mock_ops.get_name(((tamper_tee *)ctx)->mock, call, name);
}

static otrp_status tt_request(void *ctx, const otrp_tee_call *call, const char *taid,
                              const char *hint, otrp_buf *uri, otrp_buf *msg)
{
    return otrp__mock_ops.request_ta(((tamper_tee *)ctx)->mock, call, taid, hint, uri, msg);
}

static otrp_status tt_process_error(void *ctx, const otrp_tee_call *call)
{
    tamper_tee *t = ctx;
    t->process_error_calls++;
    return otrp__mock_ops.process_error(t->mock, call);
}

static otrp_status tt_describe(void *ctx, const otrp_tee_call *call, otrp_buf *json)
{
    return otrp__mock_ops.describe(((tamper_tee *)ctx)->mock, call, json);
}

static void tt_destroy(void *ctx)
{
    tamper_tee *t = ctx;
    otrp__mock_ops.destroy(t->mock);
}

/* Replace member key of obj by a JWE of the text of value (consumed) to the TAM. */
static void reencrypt(tamper_tee *t, cJSON *obj, const char *key, cJSON *value)
{
    cJSON *jwe = NULL;
    assert_int_equal(reftam_encrypt_content(value, t->tam_pub, OTRP__JOSE_ALG_NONE, &jwe), OTRP_OK);
    cJSON_Delete(value);
    cJSON_ReplaceItemInObjectCaseSensitive(obj, key, jwe);
}

/* The decrypted JSON of member key of obj. */
static cJSON *decrypt(tamper_tee *t, const cJSON *obj, const char *key)
{
    otrp_buf plain = {0};
    assert_int_equal(otrp__jwe_decrypt_json(cJSON_GetObjectItemCaseSensitive(obj, key), t->tam_priv, 0,
                                            &plain, NULL, NULL, 0),
                     OTRP_OK);
    cJSON *v = cJSON_ParseWithLength((const char *)plain.data, plain.len);
    otrp_buf_free(&plain);
    assert_non_null(v);
    return v;
}

static void bend(tamper_tee *t, cJSON *tbs)
{
    switch (t->kind) {
    case T_RID:
        cJSON_ReplaceItemInObjectCaseSensitive(tbs, "rid", cJSON_CreateString("another-rid"));
        break;
    case T_VER:
        cJSON_ReplaceItemInObjectCaseSensitive(tbs, "ver", cJSON_CreateString("2.0"));
        break;
    case T_STATUS_FAIL: {
        cJSON_ReplaceItemInObjectCaseSensitive(tbs, "status", cJSON_CreateString("fail"));
        cJSON_DeleteItemFromObjectCaseSensitive(tbs, "content");
        cJSON *reason = cJSON_AddObjectToObject(tbs, "reason");
        cJSON_AddStringToObject(reason, "error-code", "ERR_TEE_FAIL");
        cJSON_AddStringToObject(reason, "error-message", "injected");
        break;
    }
    case T_NO_CONTENT:
        cJSON_DeleteItemFromObjectCaseSensitive(tbs, "content");
        break;
    case T_DID:
    case T_DSI_OBJECT:
    case T_NO_TEESPAIK: {
        cJSON *c = decrypt(t, tbs, "content");
        if (t->kind == T_DID)
            cJSON_ReplaceItemInObjectCaseSensitive(c, "did",
                                                   cJSON_CreateString("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="));
        else if (t->kind == T_DSI_OBJECT)
            cJSON_ReplaceItemInObjectCaseSensitive(c, "dsi", cJSON_CreateObject());
        else
            cJSON_DeleteItemFromObjectCaseSensitive(c, "teespaik");
        reencrypt(t, tbs, "content", c);
        break;
    }
    case T_EDSI_FOREIGN: {
        cJSON *d = decrypt(t, tbs, "edsi");
        cJSON *tee = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(d, "dsi"), "tee");
        char *foreign = test_cert_b64(TEST_PKI_DIR "/tee.pem"); /* self-signed elsewhere */
        cJSON_ReplaceItemInObjectCaseSensitive(tee, "cert", cJSON_CreateString(foreign));
        cJSON_ReplaceItemInObjectCaseSensitive(tee, "cacert", cJSON_CreateArray());
        free(foreign);
        reencrypt(t, tbs, "edsi", d);
        break;
    }
    case T_SIGNATURE:
        break;
    }
}

static otrp_status tt_process(void *ctx, const otrp_tee_call *call, const char *msg, size_t len,
                              otrp_buf *out)
{
    tamper_tee *t = ctx;
    otrp_status st = otrp__mock_ops.process_message(t->mock, call, msg, len, out);
    if (st != OTRP_OK || t->done)
        return st;
    cJSON *root = cJSON_ParseWithLength((const char *)out->data, out->len);
    assert_non_null(root);
    if (strcmp(root->child->string, t->at) != 0) {
        cJSON_Delete(root);
        return OTRP_OK;
    }
    t->done = 1;
    cJSON *jws = root->child;
    if (t->kind == T_SIGNATURE) {
        cJSON *sig = cJSON_GetObjectItemCaseSensitive(jws, "signature");
        char *v = strdup(sig->valuestring);
        v[5] = v[5] == 'A' ? 'B' : 'A';
        cJSON_ReplaceItemInObjectCaseSensitive(jws, "signature", cJSON_CreateString(v));
        free(v);
    } else {
        otrp__jws *parsed = NULL;
        assert_int_equal(otrp__jws_parse_json(jws, 0, &parsed, NULL, 0), OTRP_OK);
        size_t plen = 0;
        const uint8_t *p = otrp__jws_payload(parsed, &plen);
        cJSON *doc = cJSON_ParseWithLength((const char *)p, plen);
        otrp__jws_free(parsed);
        bend(t, doc->child);
        char *text = cJSON_PrintUnformatted(doc);
        cJSON_Delete(doc);
        cJSON *signed_again = NULL;
        assert_int_equal(otrp__jws_sign_json(text, strlen(text), t->tee_key, NULL, &signed_again, NULL, 0),
                         OTRP_OK);
        free(text);
        cJSON_ReplaceItemInObjectCaseSensitive(root, t->at, signed_again);
    }
    char *bent = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    otrp_buf_reset(out);
    st = otrp_buf_append_str(out, bent);
    free(bent);
    return st;
}

static const struct otrp_tee_ops tamper_ops = {
    .struct_size = sizeof(struct otrp_tee_ops),
    .kind = "mock",
    .get_name = tt_name,
    .process_message = tt_process,
    .request_ta = tt_request,
    .process_error = tt_process_error,
    .describe = tt_describe,
    .destroy = tt_destroy,
};

typedef struct tamper_case {
    tamper_kind kind;
    const char *at;
    otrp_status want;        /* the agent's status */
    const char *tam_detail;  /* in the TAM's last failure */
} tamper_case;

static const tamper_case TAMPERS[] = {
    {T_SIGNATURE, "GetDeviceTEEStateResponse", OTRP_ERR_HTTP_STATUS, "does not verify"},
    {T_SIGNATURE, "InstallTAResponse", OTRP_ERR_HTTP_STATUS, "InstallTAResponse of TEE 'tee-bent' does not verify"},
    {T_RID, "CreateSDResponse", OTRP_ERR_HTTP_STATUS, "rid does not echo"},
    {T_VER, "GetDeviceTEEStateResponse", OTRP_ERR_HTTP_STATUS, "ver is not"},
    {T_STATUS_FAIL, "CreateSDResponse", OTRP_ERR_TEE_REPORTED, "failed CreateSD: ERR_TEE_FAIL: injected"},
    {T_NO_CONTENT, "InstallTAResponse", OTRP_ERR_HTTP_STATUS, "has no content"},
    {T_DID, "InstallTAResponse", OTRP_ERR_HTTP_STATUS, "did is not"},
    {T_DSI_OBJECT, "CreateSDResponse", OTRP_ERR_HTTP_STATUS, "content.dsi is missing or not a string"},
    {T_NO_TEESPAIK, "CreateSDResponse", OTRP_ERR_HTTP_STATUS, "teespaik is missing"},
    {T_EDSI_FOREIGN, "GetDeviceTEEStateResponse", OTRP_ERR_HTTP_STATUS, "not trusted"},
};

static void test_tam_refuses_bent_answers(void **state)
{
    (void)state;
    char path[800];
    otrp__jose_key *tam_priv = NULL, *tam_pub = NULL;
    snprintf(path, sizeof path, "%s/tam/key.pem", tam_dir);
    assert_int_equal(test_load_key(path, &tam_priv), OTRP_OK);
    snprintf(path, sizeof path, "%s/tam/cert.pem", tam_dir);
    assert_int_equal(test_load_key(path, &tam_pub), OTRP_OK);
    for (size_t i = 0; i < sizeof TAMPERS / sizeof TAMPERS[0]; i++) {
        const tamper_case *c = &TAMPERS[i];
        fixture f = {0};
        start_tam(&f, tls_cert, tls_key, NULL);
        otrp_agent_config cfg;
        agent_config(&cfg, ca_path, NULL);
        assert_int_equal(otrp_agent_new(&cfg, &f.agent), OTRP_OK);
        char dir[700];
        fresh_tee(tee_a, "tee-bent", dir, sizeof dir);
        tamper_tee t;
        memset(&t, 0, sizeof t);
        t.kind = c->kind;
        t.at = c->at;
        t.tam_priv = tam_priv;
        t.tam_pub = tam_pub;
        snprintf(path, sizeof path, "%s/identity/key.pem", dir);
        assert_int_equal(test_load_key(path, &t.tee_key), OTRP_OK);
        assert_int_equal(otrp__mock_open(dir, NULL, &t.mock, NULL, 0), OTRP_OK);
        otrp_tee *tee = NULL;
        assert_int_equal(otrp_tee_new(&tamper_ops, &t, &tee), OTRP_OK);
        assert_int_equal(otrp_agent_add_tee(f.agent, tee), OTRP_OK);
        otrp_status st = otrp_agent_request_ta(f.agent, "ta1", reftam_server_url(f.srv));
        reftam_stats rs;
        reftam_get_stats(f.tam, &rs);
        if (st != c->want || strstr(rs.last_failure, c->tam_detail) == NULL)
            fail_msg("case %zu: agent %s (%s); TAM '%s', wanted %s and '%s'", i,
                     otrp_status_name(st), otrp_agent_last_error(f.agent), rs.last_failure,
                     otrp_status_name(c->want), c->tam_detail);
        assert_true(t.done);
        assert_int_equal(rs.completed, 0);
        /* A refusal (400) is a transport failure for the agent: the TEE hears of it. */
        assert_int_equal(t.process_error_calls, c->want == OTRP_ERR_HTTP_STATUS ? 1 : 0);
        assert_int_equal(rs.violations + rs.tee_failures, 1);
        stop(&f);
        otrp__jose_key_free(t.tee_key);
    }
    otrp__jose_key_free(tam_priv);
    otrp__jose_key_free(tam_pub);
}

/* An idle session is forgotten: its next POST finds no session. */
static void test_tam_idle_session_forgotten(void **state)
{
    (void)state;
    reftam *tam = NULL;
    reftam_options o;
    memset(&o, 0, sizeof o);
    o.idle_s = 1;
    char detail[256];
    assert_int_equal(reftam_open(tam_dir, &o, &tam, detail, sizeof detail), OTRP_OK);
    reftam_post empty = {"", 0, 1};
    reftam_reply r;
    reftam_handle(tam, &empty, &r);
    assert_int_equal(r.status, 200);
    char body[256];
    snprintf(body, sizeof body,
             "{\"OTrPBrokerError\":{\"ver\":\"1.0\",\"rid\":\"r\",\"tid\":\"%s\",\"errcode\":\"ERR_AGENT_TEE_BUSY\"}}",
             r.tid);
    reftam_reply_free(&r);
    struct timespec ts = {1, 200000000};
    nanosleep(&ts, NULL);
    reftam_post late = {body, strlen(body), 1};
    reftam_handle(tam, &late, &r);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.detail, "unknown tid"));
    reftam_reply_free(&r);
    reftam_close(tam);
}

/* ---- 16 agents in 16 threads ---------------------------------------------------------- */

/*
 * Each agent has its own mock TEE, served by its own otrp-tee-sim daemon (socket
 * backend): lib/jose key handles hold PSA key slots and mbedTLS 2.28 has 32 per
 * process, fewer than 16 in-process mock TEEs plus the TAM need.
 */
typedef struct worker {
    const char *url;
    char dir[700];
    char sock[760];
    pid_t pid;
    otrp_status st;
    char detail[256];
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    otrp_agent_config cfg;
    agent_config(&cfg, ca_path, tls_pin);
    /* Sixteen sessions share one TAM whose cryptography runs one at a time (PSA is
     * serialized process-wide); under ThreadSanitizer a POST may wait seconds. */
    cfg.stall_timeout_ms = 60000;
    cfg.http_timeout_ms = 120000;
    otrp_agent *agent = NULL;
    otrp_tee *tee = NULL;
    w->st = otrp_agent_new(&cfg, &agent);
    if (w->st == OTRP_OK)
        w->st = otrp_tee_socket_new(w->sock, &tee);
    if (w->st == OTRP_OK)
        w->st = otrp_agent_add_tee(agent, tee);
    if (w->st == OTRP_OK)
        w->st = otrp_agent_request_ta(agent, "ta2", w->url);
    if (agent != NULL)
        snprintf(w->detail, sizeof w->detail, "%s", otrp_agent_last_error(agent));
    otrp_agent_free(agent);
    return NULL;
}

static void test_tam_parallel_agents(void **state)
{
    (void)state;
    fixture f = {0};
    start_tam(&f, tls_cert, tls_key, NULL);
    worker w[THREADS];
    pthread_t th[THREADS];
    memset(w, 0, sizeof w);
    for (size_t i = 0; i < THREADS; i++) {
        char name[32];
        snprintf(name, sizeof name, "tee-par-%zu", i);
        fresh_tee(tee_a, name, w[i].dir, sizeof w[i].dir);
        snprintf(w[i].sock, sizeof w[i].sock, "%s/sock", w[i].dir);
        w[i].url = reftam_server_url(f.srv);
        w[i].pid = fx_daemon_start(w[i].dir, w[i].sock);
        assert_true(w[i].pid > 0);
    }
    for (size_t i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    for (size_t i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    for (size_t i = 0; i < THREADS; i++)
        assert_int_equal(fx_daemon_stop(w[i].pid, SIGTERM), 0);
    reftam_stats st;
    reftam_get_stats(f.tam, &st);
    for (size_t i = 0; i < THREADS; i++)
        if (w[i].st != OTRP_OK)
            fail_msg("agent %zu: %s: %s (TAM: %s)", i, otrp_status_name(w[i].st), w[i].detail,
                     st.last_failure);
    assert_int_equal(st.completed, THREADS);
    assert_int_equal(st.operations, 2 * THREADS);
    assert_int_equal(st.max_connections_per_session, 1);
    stop(&f);
}

/* ---- non-blocking sessions (otrp/session.h) ------------------------------------------- */

/* Which sanitizer the test runs under: gcc says so with __SANITIZE_*__, clang 14 only
 * through __has_feature (the clang UBSan leg builds with ASan). */
#if defined(__SANITIZE_THREAD__)
#define TEST_UNDER_TSAN 1
#elif defined(__SANITIZE_ADDRESS__)
#define TEST_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TEST_UNDER_TSAN 1
#elif __has_feature(address_sanitizer)
#define TEST_UNDER_ASAN 1
#endif
#endif

/* CPU time one call into the agent may take: a TLS handshake step or the routing of a
 * TAM message, never a wait. Sanitizers make the same work several times slower. */
#if defined(TEST_UNDER_TSAN)
#define CALL_CPU_MAX_US 400000u
#elif defined(TEST_UNDER_ASAN)
#define CALL_CPU_MAX_US 150000u
#else
#define CALL_CPU_MAX_US 50000u
#endif

/* Time one call may spend off the CPU (its wall time less its CPU time): below the
 * shortest fault delay (300 ms), so that a call that waited for a slow, stalled or
 * silent TAM fails the test; what a call that waits for nothing spends off the CPU is
 * preemption on a loaded machine. */
#define CALL_OFF_CPU_MAX_US 250000u

/* Issue 13's goal for the longest call (5 ms) in CPU time of the loop thread, which
 * otrp_agent_perform()'s time budget keeps (lib/agent/async.c); the wall time adds the
 * preemption of a loaded machine, which holds any loop. */
#if defined(TEST_UNDER_TSAN)
#define CALL_CPU_GOAL_US 100000u
#elif defined(TEST_UNDER_ASAN) /* gcc's ASan run: about 9 ms; clang's with UBSan: 9-12 ms */
#define CALL_CPU_GOAL_US 30000u
#else
#define CALL_CPU_GOAL_US 5000u
#endif

/* OTRP_TEST_CPU_SCALE (1..100, default 1): an emulated run (the aarch64 leg under qemu,
 * mk/cross.mk) spends several times the CPU on the same work. The off-CPU bound is not
 * scaled: it must stay below the shortest fault delay. */
static unsigned long long cpu_scaled(unsigned us)
{
    const char *v = getenv("OTRP_TEST_CPU_SCALE");
    long scale = v != NULL ? strtol(v, NULL, 10) : 1;
    if (scale < 1 || scale > 100)
        scale = 1;
    return (unsigned long long)us * (unsigned long long)scale;
}

static unsigned long long call_cpu_max_us(void)
{
    return cpu_scaled(CALL_CPU_MAX_US);
}

/* A test's poll() loop: every wait set and perform is timed, the longest kept. */
typedef struct loop_run {
    otrp_agent *agent;
    unsigned done;             /* done callbacks so far */
    uint64_t longest_us;       /* the longest otrp_agent_wait_set() or _perform(), wall */
    uint64_t longest_cpu_us;   /* the same in CPU time of the loop thread */
    unsigned longest_cpu_round; /* in which round (wait set and perform) it was */
    uint64_t longest_off_us;   /* the longest time a call was off the CPU (wall - CPU):
                                  waiting, or preempted */
    unsigned rounds;
    void (*tick)(struct loop_run *run); /* after every perform (may be NULL) */
    void *user;
} loop_run;

/* Sessions of one test, each with its own TEE daemon. */
typedef struct async_tee {
    char name[32];
    char dir[700];
    char sock[760];
    pid_t pid;
    otrp_session *session;
    otrp_status result;        /* from the done callback */
    unsigned done_calls;
    loop_run *run;
} async_tee;

static uint64_t clock_us(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Time one call of the loop into the agent: wall and CPU time, the longest kept. */
typedef struct call_clock {
    uint64_t wall, cpu;
} call_clock;

static call_clock call_begin(void)
{
    call_clock c = {clock_us(CLOCK_MONOTONIC), clock_us(CLOCK_THREAD_CPUTIME_ID)};
    return c;
}

static void call_end(loop_run *run, call_clock c)
{
    uint64_t wall = clock_us(CLOCK_MONOTONIC) - c.wall;
    uint64_t cpu = clock_us(CLOCK_THREAD_CPUTIME_ID) - c.cpu;
    if (wall > run->longest_us)
        run->longest_us = wall;
    if (cpu > run->longest_cpu_us) {
        run->longest_cpu_us = cpu;
        run->longest_cpu_round = run->rounds;
    }
    uint64_t off = wall > cpu ? wall - cpu : 0;
    if (off > run->longest_off_us)
        run->longest_off_us = off;
}

static void on_async_done(void *user, otrp_session *session, otrp_status result)
{
    async_tee *t = user;
    assert_ptr_equal(session, t->session);
    assert_int_equal(otrp_session_result(session), result);
    t->result = result;
    t->done_calls++;
    t->run->done++;
}

/* Drive the agent's sessions in one poll() loop until want done callbacks came (or
 * limit_ms passed: a failure). */
static void run_loop(loop_run *run, unsigned want, unsigned limit_ms)
{
    struct pollfd fds[256];
    uint64_t end = otrp_monotonic_ms() + limit_ms;
    while (run->done < want) {
        if (otrp_monotonic_ms() > end)
            fail_msg("the sessions did not end within %u ms (%u of %u done)", limit_ms,
                     run->done, want);
        size_t n = 0;
        int timeout = -1;
        call_clock c = call_begin();
        assert_int_equal(otrp_agent_wait_set(run->agent, fds, 256, &n, &timeout), OTRP_OK);
        call_end(run, c);
        assert_true(n >= 1); /* the wake-up descriptor at least */
        (void)poll(fds, n, timeout);
        c = call_begin();
        otrp_agent_perform(run->agent, fds, n);
        call_end(run, c);
        run->rounds++;
        if (run->tick != NULL)
            run->tick(run);
    }
}

/* An agent with n TEE daemons (copies of tee-a named prefix-i). patient: for sessions
 * that share one TAM, whose cryptography runs one at a time (under ThreadSanitizer a
 * POST may wait seconds); else the stall clock of the blocking fault tests.
 * session_ms: session_timeout_ms (0: the default). */
static otrp_agent *async_agent(async_tee *t, size_t n, const char *prefix, loop_run *run,
                               int patient, unsigned session_ms)
{
    otrp_agent_config cfg;
    agent_config(&cfg, ca_path, tls_pin);
    if (session_ms != 0)
        cfg.session_timeout_ms = session_ms;
    if (patient) {
        cfg.stall_timeout_ms = 60000;
        cfg.http_timeout_ms = 120000;
    }
    otrp_agent *agent = NULL;
    assert_int_equal(otrp_agent_new(&cfg, &agent), OTRP_OK);
    for (size_t i = 0; i < n; i++) {
        snprintf(t[i].name, sizeof t[i].name, "%s-%zu", prefix, i);
        fresh_tee(tee_a, t[i].name, t[i].dir, sizeof t[i].dir);
        snprintf(t[i].sock, sizeof t[i].sock, "%s/sock", t[i].dir);
        t[i].pid = fx_daemon_start(t[i].dir, t[i].sock);
        assert_true(t[i].pid > 0);
        t[i].run = run;
        t[i].result = OTRP_ERR_IN_PROGRESS;
        otrp_tee *tee = NULL;
        assert_int_equal(otrp_tee_socket_new(t[i].sock, &tee), OTRP_OK);
        assert_int_equal(otrp_agent_add_tee(agent, tee), OTRP_OK);
    }
    run->agent = agent;
    return agent;
}

static void async_stop_daemons(async_tee *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        assert_int_equal(fx_daemon_stop(t[i].pid, SIGTERM), 0);
}

/* A session of operation op for taid on TEE index (-1: the first that supports op). */
static void start_session(otrp_agent *agent, async_tee *t, int index, otrp_operation op,
                          const char *taid, const char *url)
{
    otrp_session_params p;
    otrp_session_params_init(&p);
    p.operation = op;
    p.taid = taid;
    p.tam_uri = url;
    p.tee_index = index;
    p.done = on_async_done;
    p.user = t;
    t->result = OTRP_ERR_IN_PROGRESS;
    assert_int_equal(otrp_session_start(agent, &p, &t->session), OTRP_OK);
    assert_int_equal(otrp_session_result(t->session), OTRP_ERR_IN_PROGRESS);
}

/* One run of 16 sessions in one loop; returns the longest call's CPU time (us). */
static uint64_t async_16_sessions_once(void)
{
    fixture f = {0};
    start_tam(&f, tls_cert, tls_key, NULL);
    loop_run run = {0};
    async_tee t[THREADS];
    memset(t, 0, sizeof t);
    otrp_agent *agent = async_agent(t, THREADS, "tee-async", &run, 1, 0);
    const char *url = reftam_server_url(f.srv);
    for (size_t i = 0; i < THREADS; i++)
        start_session(agent, &t[i], (int)i, OTRP_OP_REQUEST_TA, "ta2", url);
    run_loop(&run, THREADS, 600000);
    for (size_t i = 0; i < THREADS; i++) {
        if (t[i].result != OTRP_OK)
            fail_msg("session %zu: %s: %s", i, otrp_status_name(t[i].result),
                     otrp_session_last_error(t[i].session));
        assert_int_equal(t[i].done_calls, 1);
    }
    assert_int_equal(otrp_agent_sessions_running(agent), 0);
    for (size_t i = 0; i < THREADS; i++) {
        char tas[256];
        installed_tas(agent, t[i].name, tas, sizeof tas);
        assert_string_equal(tas, "ta2,");
        otrp_session_free(t[i].session);
    }
    print_message("16 sessions in one loop: %u rounds, longest call %llu us (CPU %llu us, "
                  "round %u)\n",
                  run.rounds, (unsigned long long)run.longest_us,
                  (unsigned long long)run.longest_cpu_us, run.longest_cpu_round);
    otrp_agent_free(agent);
    async_stop_daemons(t, THREADS);
    reftam_stats st;
    reftam_get_stats(f.tam, &st);
    assert_int_equal(st.completed, THREADS);
    stop(&f);
    return run.longest_cpu_us;
}

/* 16 new TLS connections come up together, with RSA-2048 in the TEE daemons: no call
 * holds the loop's CPU over the goal (perform stops at its time budget). A run with one
 * call over it is run again, twice at most: a virtual machine's stolen time can be
 * counted as the thread's CPU (seen once in make check: 27 ms in one call, never again
 * in dozens of runs), while a real regression (no budget: 7.7 ms) is over in every run. */
static void test_tam_async_16_sessions(void **state)
{
    (void)state;
    uint64_t cpu = 0;
    for (int attempt = 1; attempt <= 3; attempt++) {
        cpu = async_16_sessions_once();
        if (cpu <= cpu_scaled(CALL_CPU_GOAL_US))
            return;
        print_message("run %d: a call took %llu us of the loop's CPU (goal %llu us)\n",
                      attempt, (unsigned long long)cpu, cpu_scaled(CALL_CPU_GOAL_US));
    }
    fail_msg("in each of 3 runs a call took over %llu us of the loop's CPU (last: %llu us)",
             cpu_scaled(CALL_CPU_GOAL_US), (unsigned long long)cpu);
}

/* Cancel one session, free two running ones: the others end well, the freed ones call
 * no callback, and their TEEs serve a new session at once. */
static void free_third(loop_run *run)
{
    async_tee *t = run->user;
    if (run->rounds == 3) {
        otrp_session_free(t[2].session); /* wherever it is: a transfer or a TEE call */
        t[2].session = NULL;
    }
}

static void *cancel_from_thread(void *session)
{
    otrp_session_cancel(session);
    return NULL;
}

static void test_tam_async_cancel_and_free(void **state)
{
    (void)state;
    enum { N = 5 };
    fixture f = {0};
    start_tam(&f, tls_cert, tls_key, NULL);
    loop_run run = {0};
    async_tee t[N];
    memset(t, 0, sizeof t);
    otrp_agent *agent = async_agent(t, N, "tee-cancel", &run, 1, 0);
    const char *url = reftam_server_url(f.srv);
    for (int i = 0; i < N; i++)
        start_session(agent, &t[i], i, OTRP_OP_REQUEST_TA, "ta2", url);
    assert_int_equal(otrp_agent_sessions_running(agent), N);
    /* The cancel comes from another thread while the loop runs (TSan checks the pair). */
    pthread_t canceller;
    assert_int_equal(pthread_create(&canceller, NULL, cancel_from_thread, t[0].session), 0);
    otrp_session_free(t[1].session); /* its first TEE call is on the worker */
    t[1].session = NULL;
    assert_int_equal(otrp_agent_sessions_running(agent), N - 1);
    run.user = t;
    run.tick = free_third;
    run_loop(&run, 3, 600000);
    pthread_join(canceller, NULL);
    assert_int_equal(t[0].result, OTRP_ERR_CANCELLED);
    assert_int_equal(t[1].done_calls + t[2].done_calls, 0);
    for (int i = 3; i < N; i++) {
        if (t[i].result != OTRP_OK)
            fail_msg("session %d: %s: %s", i, otrp_status_name(t[i].result),
                     otrp_session_last_error(t[i].session));
        char tas[256];
        installed_tas(agent, t[i].name, tas, sizeof tas);
        assert_string_equal(tas, "ta2,");
    }
    assert_int_equal(otrp_agent_sessions_running(agent), 0);
    /* The freed sessions' TEEs are free again (a freed session holds no TEE). */
    run.tick = NULL;
    run.done = 0;
    start_session(agent, &t[1], 1, OTRP_OP_REQUEST_TA, "ta2", url);
    start_session(agent, &t[2], 2, OTRP_OP_REQUEST_TA, "ta2", url);
    run_loop(&run, 2, 600000);
    assert_int_equal(t[1].result, OTRP_OK);
    assert_int_equal(t[2].result, OTRP_OK);
    for (int i = 0; i < N; i++)
        otrp_session_free(t[i].session);
    /* Freeing the agent with a session in flight is safe too. */
    start_session(agent, &t[0], 0, OTRP_OP_UNREQUEST_TA, "ta2", url);
    otrp_agent_free(agent);
    async_stop_daemons(t, N);
    stop(&f);
}

static void order_done(void *user, otrp_session *session, otrp_status result)
{
    on_async_done(user, session, result);
    async_tee *t = user;
    t->done_calls = t->run->done; /* the order of the ends: 1, 2, ... */
}

/* Two sessions on one TEE: the second waits for the first; the queue is bounded. */
static void test_tam_async_same_tee_queued(void **state)
{
    (void)state;
    fixture f = {0};
    start_tam(&f, tls_cert, tls_key, NULL);
    loop_run run = {0};
    async_tee tee[1];
    memset(tee, 0, sizeof tee);
    otrp_agent *agent = async_agent(tee, 1, "tee-queue", &run, 1, 0);
    const char *url = reftam_server_url(f.srv);
    enum { SLOTS = 2 + OTRP_MAX_QUEUED_SESSIONS };
    async_tee s[SLOTS];
    memset(s, 0, sizeof s);
    for (size_t i = 0; i < SLOTS; i++)
        s[i].run = &run;
    otrp_session_params p;
    otrp_session_params_init(&p);
    p.tam_uri = url;
    p.done = order_done;
    p.taid = "ta1";
    p.user = &s[0];
    assert_int_equal(otrp_session_start(agent, &p, &s[0].session), OTRP_OK);
    p.taid = "ta2";
    p.user = &s[1];
    assert_int_equal(otrp_session_start(agent, &p, &s[1].session), OTRP_OK);
    run_loop(&run, 2, 600000);
    assert_int_equal(s[0].result, OTRP_OK);
    assert_int_equal(s[1].result, OTRP_OK);
    assert_int_equal(s[0].done_calls, 1); /* the first ended first */
    assert_int_equal(s[1].done_calls, 2);
    char tas[256];
    installed_tas(agent, tee[0].name, tas, sizeof tas);
    assert_string_equal(tas, "ta1,ta2,");
    otrp_session_free(s[0].session);
    otrp_session_free(s[1].session);
    s[0].done_calls = s[1].done_calls = 0;
    run.done = 0;

    /* One holds the TEE, OTRP_MAX_QUEUED_SESSIONS wait, the next is refused. */
    p.done = on_async_done;
    p.operation = OTRP_OP_UNREQUEST_TA;
    for (size_t i = 0; i < SLOTS - 1; i++) {
        p.user = &s[i];
        s[i].result = OTRP_ERR_IN_PROGRESS;
        assert_int_equal(otrp_session_start(agent, &p, &s[i].session), OTRP_OK);
    }
    otrp_session *refused = (otrp_session *)&p; /* must become NULL */
    assert_int_equal(otrp_session_start(agent, &p, &refused), OTRP_ERR_TEE_BUSY);
    assert_null(refused);
    assert_non_null(strstr(otrp_agent_last_error(agent), "already wait for TEE #1"));
    assert_int_equal(otrp_agent_sessions_running(agent), SLOTS - 1);
    /* Free them all, the running one and the waiting ones: none calls back. */
    for (size_t i = SLOTS - 1; i-- > 0;)
        otrp_session_free(s[i].session);
    assert_int_equal(otrp_agent_sessions_running(agent), 0);
    /* The TEE serves the next session once the freed one's call returned. */
    run.done = 0;
    p.user = &s[0];
    assert_int_equal(otrp_session_start(agent, &p, &s[0].session), OTRP_OK);
    run_loop(&run, 1, 600000);
    for (size_t i = 1; i < SLOTS; i++)
        assert_int_equal(s[i].done_calls, 0);
    if (s[0].result != OTRP_OK)
        fail_msg("%s: %s", otrp_status_name(s[0].result), otrp_session_last_error(s[0].session));
    otrp_session_free(s[0].session);
    installed_tas(agent, tee[0].name, tas, sizeof tas);
    assert_string_equal(tas, "ta1,");
    otrp_agent_free(agent);
    async_stop_daemons(tee, 1);
    stop(&f);
}

/* One TAM server per fault, one session (and TEE) per server, all in one loop: each
 * session ends with its own status, and no call into the agent waits. */
static void test_tam_async_faults(void **state)
{
    (void)state;
    static const struct {
        const char *spec; /* NULL: no fault */
        otrp_status want;
        const char *detail;
    } cases[] = {
        {NULL, OTRP_OK, ""},
        {"stall:4000@2", OTRP_ERR_TIMEOUT, "stalled"},
        {"drop@2", OTRP_ERR_HTTP_PROTOCOL, "POST #2"},
        {"500@1", OTRP_ERR_HTTP_STATUS, "500"},
        {"503@2", OTRP_ERR_HTTP_STATUS, "503"},
        {"delay:300@2", OTRP_OK, ""},
        {"garbage@1", OTRP_ERR_MSG_NOT_JSON, "TAM message #1"},
        {"wrong-type@2", OTRP_ERR_HTTP_CONTENT_TYPE, "text/html"},
    };
    enum { N = sizeof cases / sizeof cases[0] };
    char detail[256] = "";
    reftam *tam = NULL;
    assert_int_equal(reftam_open(tam_dir, NULL, &tam, detail, sizeof detail), OTRP_OK);
    reftam_server *srv[N];
    for (size_t i = 0; i < N; i++) {
        reftam_server_config sc;
        memset(&sc, 0, sizeof sc);
        sc.tam = tam;
        sc.tls_cert_pem = tls_cert;
        sc.tls_key_pem = tls_key;
        if (cases[i].spec != NULL)
            assert_int_equal(reftam_fault_parse(cases[i].spec, &sc.fault), 0);
        assert_int_equal(reftam_server_start(&sc, &srv[i]), 0);
    }
    loop_run run = {0};
    async_tee t[N];
    memset(t, 0, sizeof t);
    otrp_agent *agent = async_agent(t, N, "tee-afault", &run, 0, 0);
    uint64_t t0 = otrp_monotonic_ms();
    for (size_t i = 0; i < N; i++)
        start_session(agent, &t[i], (int)i, OTRP_OP_REQUEST_TA, "ta1", reftam_server_url(srv[i]));
    run_loop(&run, N, 60000);
    uint64_t ms = otrp_monotonic_ms() - t0;
    for (size_t i = 0; i < N; i++) {
        const char *got = otrp_session_last_error(t[i].session);
        if (t[i].result != cases[i].want || strstr(got, cases[i].detail) == NULL)
            fail_msg("fault %s: got %s (%s), wanted %s with '%s'",
                     cases[i].spec != NULL ? cases[i].spec : "none",
                     otrp_status_name(t[i].result), got, otrp_status_name(cases[i].want),
                     cases[i].detail);
        otrp_session_free(t[i].session);
    }
    print_message("%d faults in one loop: %llu ms, %u rounds, longest call %llu us (CPU %llu "
                  "us)\n", N, (unsigned long long)ms, run.rounds,
                  (unsigned long long)run.longest_us, (unsigned long long)run.longest_cpu_us);
    if (run.longest_off_us > CALL_OFF_CPU_MAX_US || run.longest_cpu_us > call_cpu_max_us())
        fail_msg("a call held the loop %llu us off the CPU or %llu us on it (limits %u and %llu "
                 "us)",
                 (unsigned long long)run.longest_off_us, (unsigned long long)run.longest_cpu_us,
                 CALL_OFF_CPU_MAX_US, call_cpu_max_us());
    /* The stall ended on the stall clock, not on the 4 s of the fault. */
    assert_true(ms < STALL_MS + 4000u);
    otrp_agent_free(agent);
    async_stop_daemons(t, N);
    for (size_t i = 0; i < N; i++)
        reftam_server_stop(srv[i]);
    reftam_close(tam);
}

/* session_timeout_ms counts for a queued session too: a TAM that answers late ends the
 * running session on its deadline in the POST, and the one waiting for the TEE on the
 * same deadline, queueing included. */
static void test_tam_async_session_timeout_queued(void **state)
{
    (void)state;
    enum { TIMEOUT_MS = 1500 };
    fixture f = {0};
    reftam_fault fault;
    assert_int_equal(reftam_fault_parse("delay:5000@1", &fault), 0);
    start_tam(&f, tls_cert, tls_key, &fault);
    loop_run run = {0};
    async_tee tee[1];
    memset(tee, 0, sizeof tee);
    otrp_agent *agent = async_agent(tee, 1, "tee-qtime", &run, 1, TIMEOUT_MS);
    async_tee s[2];
    memset(s, 0, sizeof s);
    s[0].run = s[1].run = &run;
    uint64_t t0 = otrp_monotonic_ms();
    start_session(agent, &s[0], 0, OTRP_OP_REQUEST_TA, "ta1", reftam_server_url(f.srv));
    start_session(agent, &s[1], 0, OTRP_OP_REQUEST_TA, "ta2", reftam_server_url(f.srv));
    run_loop(&run, 2, 60000);
    uint64_t ms = otrp_monotonic_ms() - t0;
    assert_int_equal(s[0].result, OTRP_ERR_TIMEOUT);
    assert_non_null(strstr(otrp_session_last_error(s[0].session), "reached in POST #1"));
    /* The second one's deadline comes with the first one's end (both started at once):
     * it ends in the queue, or as soon as it has the TEE; never with a POST of its own
     * (its time in the queue counted). */
    assert_int_equal(s[1].result, OTRP_ERR_TIMEOUT);
    assert_non_null(strstr(otrp_session_last_error(s[1].session),
                           "session timeout of 1500 ms reached"));
    assert_int_equal(reftam_server_connections(f.srv), 1); /* the first one's only */
    assert_true(ms >= TIMEOUT_MS && ms < TIMEOUT_MS + SLACK_MS);
    otrp_session_free(s[0].session);
    otrp_session_free(s[1].session);
    otrp_agent_free(agent);
    async_stop_daemons(tee, 1);
    stop(&f);
}

/* ---- the event-loop adapters: a full install and delete through each ---------------- */

#if defined(OTRP_TEST_GLIB) || defined(OTRP_TEST_LIBUV)
/* One TEE daemon and a TAM for an adapter test; the loop runs in drive(). */
typedef struct adapter_case {
    fixture f;
    loop_run run;
    async_tee t[1];
    otrp_agent *agent;
} adapter_case;

static void adapter_begin(adapter_case *c, const char *name)
{
    memset(c, 0, sizeof *c);
    start_tam(&c->f, tls_cert, tls_key, NULL);
    c->agent = async_agent(c->t, 1, name, &c->run, 1, 0);
}

/* Install ta1, then delete it, each one session run by drive(c) to its end. */
static void adapter_install_delete(adapter_case *c, void (*drive)(adapter_case *c))
{
    const char *url = reftam_server_url(c->f.srv);
    static const otrp_operation ops[] = {OTRP_OP_REQUEST_TA, OTRP_OP_UNREQUEST_TA};
    static const char *const after[] = {"ta1,", ""};
    for (size_t i = 0; i < 2; i++) {
        c->run.done = 0;
        start_session(c->agent, &c->t[0], 0, ops[i], "ta1", url);
        drive(c);
        if (c->t[0].result != OTRP_OK)
            fail_msg("%s: %s", otrp_status_name(c->t[0].result),
                     otrp_session_last_error(c->t[0].session));
        assert_int_equal(c->run.done, 1);
        otrp_session_free(c->t[0].session);
        char tas[256];
        installed_tas(c->agent, c->t[0].name, tas, sizeof tas);
        assert_string_equal(tas, after[i]);
    }
}

static void adapter_end(adapter_case *c)
{
    otrp_agent_free(c->agent);
    async_stop_daemons(c->t, 1);
    stop(&c->f);
}
#endif

#ifdef OTRP_TEST_GLIB
#include "otrp/adapters/glib.h"

static gboolean glib_give_up(gpointer timed_out)
{
    *(int *)timed_out = 1;
    return G_SOURCE_REMOVE;
}

static void drive_glib(adapter_case *c)
{
    GMainContext *ctx = g_main_context_new();
    GSource *src = otrp_glib_source_new(c->agent);
    g_source_attach(src, ctx);
    int timed_out = 0;
    GSource *limit = g_timeout_source_new(600000);
    g_source_set_callback(limit, glib_give_up, &timed_out, NULL);
    g_source_attach(limit, ctx);
    /* Iterate the context until the session's done callback came (c->run.done). */
    while (c->run.done == 0 && !timed_out)
        (void)g_main_context_iteration(ctx, TRUE);
    assert_int_equal(c->run.done, 1);
    g_source_destroy(limit);
    g_source_unref(limit);
    g_source_destroy(src);
    g_source_unref(src);
    g_main_context_unref(ctx);
}

static void test_tam_async_glib(void **state)
{
    (void)state;
    adapter_case c;
    adapter_begin(&c, "tee-glib");
    adapter_install_delete(&c, drive_glib);
    adapter_end(&c);
}
#endif

#ifdef OTRP_TEST_LIBUV
#include "otrp/adapters/libuv.h"

static void drive_uv(adapter_case *c)
{
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    otrp_uv *u = otrp_uv_new(&loop, c->agent);
    assert_non_null(u);
    /* The loop runs while the session does: uv_run returns after its end. */
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(c->run.done, 1);
    otrp_uv_close(u);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0); /* the close callbacks */
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_tam_async_libuv(void **state)
{
    (void)state;
    adapter_case c;
    adapter_begin(&c, "tee-uv");
    adapter_install_delete(&c, drive_uv);
    adapter_end(&c);
}
#endif

int main(int argc, char **argv)
{
    (void)argc;
    fx_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tam_lifecycle_https),
        cmocka_unit_test(test_tam_unmanaged_ta),
        cmocka_unit_test(test_tam_two_tees),
        cmocka_unit_test(test_tam_policy_check_installs_pending),
        cmocka_unit_test(test_tam_policy_check_caller_uri),
        cmocka_unit_test(test_tam_policy_check_hint_only),
        cmocka_unit_test_teardown(test_tam_policy_check_hint_over_socket, fx_kill_daemon),
        cmocka_unit_test(test_tam_verified_tee_failure),
        cmocka_unit_test(test_tam_jwe_alg_configurable),
        cmocka_unit_test(test_tam_dsi_tee_names),
        cmocka_unit_test(test_tam_tls_wrong_ca),
        cmocka_unit_test(test_tam_tls_wrong_host),
        cmocka_unit_test(test_tam_tls_expired),
        cmocka_unit_test(test_tam_tls_wrong_pin),
        cmocka_unit_test(test_tam_tls_plain_http_refused),
        cmocka_unit_test(test_tam_tls_pinned_ok),
        cmocka_unit_test(test_tam_fault_drop_first),
        cmocka_unit_test(test_tam_fault_drop_after_tee),
        cmocka_unit_test(test_tam_fault_500),
        cmocka_unit_test(test_tam_fault_503),
        cmocka_unit_test(test_tam_fault_redirect_not_followed),
        cmocka_unit_test(test_tam_fault_wrong_type),
        cmocka_unit_test(test_tam_fault_oversize),
        cmocka_unit_test(test_tam_fault_endless_chunked_cut),
        cmocka_unit_test(test_tam_fault_garbage),
        cmocka_unit_test(test_tam_fault_stall_within_timeout),
        cmocka_unit_test(test_tam_fault_delay_tolerated),
        cmocka_unit_test(test_tam_fault_parse),
        cmocka_unit_test(test_tam_refuses_bad_posts),
        cmocka_unit_test(test_tam_refuses_bad_session_posts),
        cmocka_unit_test(test_tam_foreign_tee_refused),
        cmocka_unit_test(test_tam_wrong_tam_uri_installs_nothing),
        cmocka_unit_test(test_tam_two_tams_isolated),
        cmocka_unit_test(test_tam_tee_identity_is_no_tam),
        cmocka_unit_test(test_tam_refuses_bent_answers),
        cmocka_unit_test(test_tam_idle_session_forgotten),
        cmocka_unit_test(test_tam_parallel_agents),
        cmocka_unit_test(test_tam_async_16_sessions),
        cmocka_unit_test(test_tam_async_cancel_and_free),
        cmocka_unit_test(test_tam_async_same_tee_queued),
        cmocka_unit_test(test_tam_async_faults),
        cmocka_unit_test(test_tam_async_session_timeout_queued),
#ifdef OTRP_TEST_GLIB
        cmocka_unit_test(test_tam_async_glib),
#endif
#ifdef OTRP_TEST_LIBUV
        cmocka_unit_test(test_tam_async_libuv),
#endif
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
