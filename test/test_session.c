/*
 * The session loop (RequestTA, UnrequestTA, policy check) against the loopback TAM front
 * end playing scripted answers, with scripted TEEs: what is POSTed, when the session
 * ends, how each failure is reported, and that ProcessError reaches the TEEs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "otrp/otrp.h"
#include "otrp/session.h"
#include "support/msg_build.h"
#include "support/script_tee.h"
#include "reftam.h"

#define CT "application/otrp+json"
#define TEE_ANSWER \
    "{\"InstallTAResponse\":{\"payload\":\"eyJJbnN0YWxsVEFUQlNSZXNwb25zZSI6eyJzdGF0dXMiOiJwYXNzIn19\"," \
    "\"protected\":\"eyJhbGciOiJSUzI1NiJ9\",\"signature\":\"c2ln\"}}"
#define TEE_ANSWER_FAIL \
    "{\"InstallTAResponse\":{\"payload\":\"eyJJbnN0YWxsVEFUQlNSZXNwb25zZSI6eyJzdGF0dXMiOiJmYWlsIn19\"," \
    "\"protected\":\"eyJhbGciOiJSUzI1NiJ9\",\"signature\":\"c2ln\"}}"

struct fx {
    otrp_agent *agent;
    script_tee *tee;
    reftam_httpd *srv;
    reftam_script script;
    char *install; /* an InstallTARequest for the scripted TEE */
};

/* The fixture's configuration: plain HTTP to the loopback TAM, quick verdicts. */
static void fixture_config(otrp_agent_config *cfg)
{
    otrp_agent_config_init(cfg);
    cfg->allow_http = 1;
    cfg->tee_busy_retries = 1;
    cfg->tee_busy_backoff_ms = 1;
    cfg->http_retries = 0;
    cfg->stall_timeout_ms = 1000;
}

/* (Re)make the fixture's agent with cfg and one scripted TEE "Primary TEE". */
static void fixture_agent(struct fx *f, const otrp_agent_config *cfg)
{
    otrp_agent_free(f->agent);
    assert_int_equal(otrp_agent_new(cfg, &f->agent), OTRP_OK);
    assert_int_equal(otrp_agent_add_tee(f->agent, script_tee_new("Primary TEE", &f->tee)), OTRP_OK);
    f->tee->answer = TEE_ANSWER;
}

static int setup(void **state)
{
    /* The server is on loopback: a proxy from the environment must not get in between. */
    unsetenv("http_proxy");
    unsetenv("all_proxy");
    unsetenv("ALL_PROXY");
    struct fx *f = calloc(1, sizeof *f);
    otrp_agent_config cfg;
    fixture_config(&cfg);
    fixture_agent(f, &cfg);
    f->install = msg_make("InstallTARequest",
                          "{\"InstallTATBSRequest\":{\"ver\":\"1.0\",\"rid\":\"r1\",\"tid\":\"t1\","
                          "\"tee\":\"Primary TEE\"}}");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    if (f->srv != NULL)
        reftam_httpd_stop(f->srv);
    otrp_agent_free(f->agent);
    free(f->install);
    free(f);
    return 0;
}

static void serve(struct fx *f, const reftam_step *steps, size_t n)
{
    f->script.steps = steps;
    f->script.n = n;
    assert_int_equal(reftam_script_serve(&f->script, NULL, NULL, &f->srv), 0);
    f->tee->first_uri = reftam_httpd_url(f->srv);
}

static void assert_detail(otrp_agent *agent, const char *needle)
{
    if (strstr(otrp_agent_last_error(agent), needle) == NULL)
        fail_msg("detail '%s' lacks '%s'", otrp_agent_last_error(agent), needle);
}

static long long last_session_number(otrp_agent *agent, const char *field)
{
    char *json = NULL;
    size_t len = 0;
    assert_int_equal(otrp_get_device_state(agent, &json, &len), OTRP_OK);
    char key[64];
    snprintf(key, sizeof key, "\"%s\":", field);
    const char *at = strstr(json, key);
    assert_non_null(at);
    long long v = atoll(at + strlen(key));
    otrp_free(json);
    return v;
}

static void test_session_install_round_trip(void **state)
{
    struct fx *f = *state;
    reftam_step steps[] = {
        {.status = 200, .content_type = CT, .body = f->install},
        {.status = 204},
    };
    serve(f, steps, 2);
    assert_int_equal(otrp_agent_request_ta(f->agent, "ta-1", NULL), OTRP_OK);
    assert_string_equal(f->tee->last_taid, "ta-1");
    assert_string_equal(f->tee->last_hint, ""); /* no URI from the caller */
    assert_int_equal(f->tee->process_calls, 1);
    assert_int_equal(reftam_httpd_requests(f->srv), 2);
    reftam_httpd_entry r;
    assert_int_equal(reftam_httpd_record(f->srv, 0, &r), 0);
    assert_string_equal(r.method, "POST");
    assert_int_equal(r.body_len, 0);
    assert_false(r.has_content_type); /* the empty first POST has no Content-Type */
    assert_string_equal(r.accept, CT);
    assert_int_equal(reftam_httpd_record(f->srv, 1, &r), 0);
    assert_string_equal(r.content_type, CT);
    assert_int_equal(r.body_len, strlen(TEE_ANSWER));
    assert_memory_equal(r.body, TEE_ANSWER, r.body_len);
    assert_int_equal(reftam_httpd_connections(f->srv), 1); /* one connection per session */
    assert_int_equal(f->tee->process_error_calls, 0);
    assert_int_equal(last_session_number(f->agent, "round_trips"), 1);
    assert_int_equal(last_session_number(f->agent, "bytes_sent"), (long long)strlen(TEE_ANSWER));
    assert_int_equal(last_session_number(f->agent, "bytes_received"), (long long)strlen(f->install));
}

/* PROFILE P10 (v1.3): the caller's URI is only a hint handed to the TEE; the agent POSTs
 * to the URI the TEE passes back (the caller and the agent are not trusted to pick the
 * TAM, OTrP-03 section 14.8). */
static void test_session_tee_message_first_and_tee_uri_wins(void **state)
{
    struct fx *f = *state;
    reftam_step steps[] = {{.status = 204}};
    serve(f, steps, 1); /* the TEE names this server */
    f->tee->first_msg = TEE_ANSWER;
    const char *hint = "http://127.0.0.1:1/nowhere";
    assert_int_equal(otrp_agent_request_ta(f->agent, "ta-1", hint), OTRP_OK);
    assert_string_equal(f->tee->last_hint, hint);
    assert_int_equal(reftam_httpd_requests(f->srv), 1);
    reftam_httpd_entry r;
    assert_int_equal(reftam_httpd_record(f->srv, 0, &r), 0);
    assert_int_equal(r.body_len, strlen(TEE_ANSWER));
}

/* Only a TEE that passes back no URI leaves the choice to the caller's. */
static void test_session_caller_uri_used_when_tee_names_none(void **state)
{
    struct fx *f = *state;
    reftam_step steps[] = {{.status = 204}};
    serve(f, steps, 1);
    f->tee->first_uri = NULL;
    f->tee->first_msg = TEE_ANSWER;
    assert_int_equal(otrp_agent_request_ta(f->agent, "ta-1", reftam_httpd_url(f->srv)), OTRP_OK);
    assert_int_equal(reftam_httpd_requests(f->srv), 1);
}

/* The TEE's URI gets the checks the caller's gets: https unless allow_http, also when the
 * caller's hint is https. */
static void test_session_tee_insecure_uri_refused_despite_https_hint(void **state)
{
    (void)state;
    otrp_agent *agent = NULL;
    assert_int_equal(otrp_agent_new(NULL, &agent), OTRP_OK); /* https only */
    script_tee *tee;
    assert_int_equal(otrp_agent_add_tee(agent, script_tee_new("T", &tee)), OTRP_OK);
    tee->first_uri = "http://127.0.0.1:9/tam";
    tee->first_msg = TEE_ANSWER;
    assert_int_equal(otrp_agent_request_ta(agent, "ta-1", "https://127.0.0.1:9/tam"),
                     OTRP_ERR_HTTP_INSECURE);
    assert_detail(agent, "came from the TEE");
    assert_int_equal(tee->first_calls, 1);
    assert_int_equal(tee->process_calls, 0);
    otrp_agent_free(agent);
}

/* A TEE URI the agent would not use from the caller is refused before any POST, with a
 * detail saying what is wrong with it: longer than any URI the agent uses (not "a TEE
 * answer over the message limit"), or with a NUL inside, where a C string would end and
 * the agent would POST to a prefix of what the TEE said. */
static void test_session_bad_tee_uri_refused(void **state)
{
    struct fx *f = *state;
    reftam_step steps[] = {{.status = 204}};
    serve(f, steps, 1);
    char too_long[3000], with_nul[256];
    int n = snprintf(too_long, sizeof too_long, "%s?", reftam_httpd_url(f->srv));
    memset(too_long + n, 'a', sizeof too_long - 1 - (size_t)n);
    too_long[sizeof too_long - 1] = '\0';
    n = snprintf(with_nul, sizeof with_nul, "%s", reftam_httpd_url(f->srv));
    memcpy(with_nul + n, "\0/elsewhere", 11);
    const struct {
        const char *uri;
        size_t len;
        const char *why;
    } cases[] = {
        {too_long, 0, "2999 bytes is longer than the 2048-byte limit"},
        {with_nul, (size_t)n + 11, "NUL byte at offset"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        f->tee->first_uri = cases[i].uri;
        f->tee->first_uri_len = cases[i].len;
        assert_int_equal(otrp_agent_request_ta(f->agent, "ta-1", NULL), OTRP_ERR_BAD_URI);
        assert_detail(f->agent, cases[i].why);
        assert_detail(f->agent, "came from the TEE");
    }
    assert_int_equal(reftam_httpd_requests(f->srv), 0);
}

static void test_session_tee_with_nothing_to_do(void **state)
{
    struct fx *f = *state;
    reftam_step steps[] = {{.status = 500}};
    serve(f, steps, 1);
    f->tee->first_uri = NULL;
    assert_int_equal(otrp_agent_request_ta(f->agent, "ta-1", NULL), OTRP_OK);
    assert_int_equal(reftam_httpd_requests(f->srv), 0);
}

static void test_session_no_tam_uri(void **state)
{
    struct fx *f = *state;
    f->tee->first_msg = TEE_ANSWER; /* a message but no URI from anyone */
    assert_int_equal(otrp_agent_request_ta(f->agent, "ta-1", NULL), OTRP_ERR_NO_TAM_URI);
    assert_detail(f->agent, "neither the caller nor the TEE named a TAM");
}

/* The caller's TAM URI reaches policy_check as its hint; a TEE that has work but no URI
 * says OTRP_ERR_NO_TAM_URI, which the agent reports as such (not as a TEE failure), before
 * any POST and without ProcessError. */
static void test_session_policy_check_hint_and_no_tam_uri(void **state)
{
    struct fx *f = *state;
    reftam_step steps[] = {{.status = 204}};
    serve(f, steps, 1);
    assert_int_equal(otrp_agent_policy_check(f->agent, reftam_httpd_url(f->srv)), OTRP_OK);
    assert_string_equal(f->tee->last_hint, reftam_httpd_url(f->srv));
    assert_int_equal(reftam_httpd_requests(f->srv), 1);
    assert_int_equal(otrp_agent_policy_check(f->agent, NULL), OTRP_OK);
    assert_string_equal(f->tee->last_hint, "");

    f->tee->first_status = OTRP_ERR_NO_TAM_URI;
    assert_int_equal(otrp_agent_policy_check(f->agent, NULL), OTRP_ERR_NO_TAM_URI);
    assert_detail(f->agent, "neither the caller nor the TEE named a TAM for RequestPolicyCheck");
    assert_int_equal(reftam_httpd_requests(f->srv), 2);
    assert_int_equal(f->tee->process_error_calls, 0);
}

static void test_session_insecure_uri_refused_before_tee(void **state)
{
    (void)state;
    otrp_agent *agent = NULL;
    assert_int_equal(otrp_agent_new(NULL, &agent), OTRP_OK); /* https only by default */
    script_tee *tee;
    assert_int_equal(otrp_agent_add_tee(agent, script_tee_new("T", &tee)), OTRP_OK);
    assert_int_equal(otrp_agent_request_ta(agent, "ta-1", "http://127.0.0.1:9/tam"),
                     OTRP_ERR_HTTP_INSECURE);
    assert_int_equal(tee->first_calls, 0);
    assert_int_equal(otrp_agent_request_ta(agent, "ta-1", "ftp://x/y"), OTRP_ERR_BAD_URI);
    /* the same URI coming from the TEE is refused before any POST */
    tee->first_uri = "http://127.0.0.1:9/tam";
    assert_int_equal(otrp_agent_request_ta(agent, "ta-1", NULL), OTRP_ERR_HTTP_INSECURE);
    assert_int_equal(tee->process_calls, 0);
    otrp_agent_free(agent);
}

static void test_session_http_error_calls_process_error(void **state)
{
    struct fx *f = *state;
    reftam_step steps[] = {{.status = 200, .content_type = CT, .body = f->install},
                           {.status = 500}};
    serve(f, steps, 2);
    assert_int_equal(otrp_agent_request_ta(f->agent, "ta-1", NULL), OTRP_ERR_HTTP_STATUS);
    assert_detail(f->agent, "POST #2: ");
    assert_detail(f->agent, "500");
    assert_int_equal(f->tee->process_error_calls, 1);
}

static void test_session_wrong_media_type_calls_process_error(void **state)
{
    struct fx *f = *state;
    reftam_step steps[] = {{.status = 200, .content_type = "text/html", .body = "<html/>"}};
    serve(f, steps, 1);
    assert_int_equal(otrp_agent_request_ta(f->agent, "ta-1", NULL), OTRP_ERR_HTTP_CONTENT_TYPE);
    assert_int_equal(f->tee->process_error_calls, 1);
    assert_int_equal(f->tee->process_calls, 0);
}

static void test_session_garbage_from_tam(void **state)
{
    struct fx *f = *state;
    reftam_step steps[] = {
        {.status = 200, .content_type = CT, .body = "{\"InstallTARequest\": 5}"}};
    serve(f, steps, 1);
    assert_int_equal(otrp_agent_request_ta(f->agent, "ta-1", NULL), OTRP_ERR_MSG_JWS);
    assert_detail(f->agent, "TAM message #1: value of 'InstallTARequest' is not a JWS object");
    assert_int_equal(f->tee->process_error_calls, 1);
    assert_int_equal(f->tee->process_calls, 0);
}

static void test_session_tee_failure_answer_is_sent_then_reported(void **state)
{
    struct fx *f = *state;
    reftam_step steps[] = {{.status = 200, .content_type = CT, .body = f->install},
                           {.status = 204}};
    serve(f, steps, 2);
    f->tee->answer = TEE_ANSWER_FAIL;
    assert_int_equal(otrp_agent_request_ta(f->agent, "ta-1", NULL), OTRP_ERR_TEE_REPORTED);
    assert_detail(f->agent, "answered InstallTAResponse with status fail");
    reftam_httpd_entry r;
    assert_int_equal(reftam_httpd_record(f->srv, 1, &r), 0);
    assert_memory_equal(r.body, TEE_ANSWER_FAIL, r.body_len); /* the TAM got it */
    assert_int_equal(f->tee->process_error_calls, 0);
}

static void test_session_busy_tee_gives_broker_error_to_tam(void **state)
{
    struct fx *f = *state;
    reftam_step steps[] = {{.status = 200, .content_type = CT, .body = f->install},
                           {.status = 204}};
    serve(f, steps, 2);
    f->tee->busy_times = 100;
    assert_int_equal(otrp_agent_request_ta(f->agent, "ta-1", NULL), OTRP_ERR_TEE_BUSY);
    reftam_httpd_entry r;
    assert_int_equal(reftam_httpd_record(f->srv, 1, &r), 0);
    r.body[r.body_len < sizeof r.body ? r.body_len : sizeof r.body - 1] = '\0';
    assert_non_null(strstr((char *)r.body, "\"OTrPBrokerError\""));
    assert_non_null(strstr((char *)r.body, "\"errcode\":\"ERR_AGENT_TEE_BUSY\""));
    assert_non_null(strstr((char *)r.body, "\"rid\":\"r1\""));
}

static void test_session_endless_tam_is_cut(void **state)
{
    struct fx *f = *state;
    reftam_step steps[] = {{.status = 200, .content_type = CT, .body = f->install}};
    serve(f, steps, 1); /* answers every POST with another request */
    assert_int_equal(otrp_agent_request_ta(f->agent, "ta-1", NULL), OTRP_ERR_SESSION_FAILED);
    assert_int_equal(reftam_httpd_requests(f->srv), OTRP_MAX_ROUND_TRIPS);
    assert_int_equal(f->tee->process_error_calls, 1);
}

static void test_session_tee_first_step_fails(void **state)
{
    struct fx *f = *state;
    f->tee->first_status = OTRP_ERR_TEE_UNAVAILABLE;
    assert_int_equal(otrp_agent_request_ta(f->agent, "ta-1", NULL), OTRP_ERR_TEE_FAIL);
    assert_detail(f->agent, "ERR_TEE_UNAVAILABLE");
    assert_int_equal(otrp_agent_request_ta(f->agent, "", NULL), OTRP_ERR_INVALID_ARG);
}

static void test_session_unrequest_and_policy_check(void **state)
{
    struct fx *f = *state;
    script_tee *second;
    assert_int_equal(otrp_agent_add_tee(f->agent, script_tee_new("Second TEE", &second)), OTRP_OK);
    reftam_step steps[] = {{.status = 204}};
    serve(f, steps, 1);
    assert_int_equal(otrp_agent_unrequest_ta(f->agent, "ta-9", NULL), OTRP_OK);
    assert_string_equal(f->tee->last_taid, "ta-9");
    assert_int_equal(second->first_calls, 0); /* the first TEE that supports it */
    assert_int_equal(reftam_httpd_requests(f->srv), 1);
    /* policy check: every TEE is asked; the second has nothing pending */
    assert_int_equal(otrp_agent_policy_check(f->agent, NULL), OTRP_OK);
    assert_int_equal(second->first_calls, 1);
    assert_int_equal(reftam_httpd_requests(f->srv), 2);
    /* a failing TEE does not stop the others; the first failure is returned */
    f->tee->first_status = OTRP_ERR_IO;
    second->first_uri = reftam_httpd_url(f->srv);
    assert_int_equal(otrp_agent_policy_check(f->agent, NULL), OTRP_ERR_TEE_FAIL);
    assert_int_equal(second->first_calls, 2);
    assert_int_equal(reftam_httpd_requests(f->srv), 3);
}

struct progress_log {
    char stages[32];
    size_t n;
};

static void on_progress(void *user, const otrp_progress *p)
{
    struct progress_log *log = user;
    if (log->n < sizeof log->stages - 1)
        log->stages[log->n++] = (char)('0' + p->stage);
}

static void test_session_progress_reports(void **state)
{
    (void)state;
    struct progress_log log = {{0}, 0};
    otrp_agent_config cfg;
    otrp_agent_config_init(&cfg);
    cfg.allow_http = 1;
    cfg.progress = on_progress;
    cfg.progress_user = &log;
    otrp_agent *agent;
    assert_int_equal(otrp_agent_new(&cfg, &agent), OTRP_OK);
    script_tee *tee;
    assert_int_equal(otrp_agent_add_tee(agent, script_tee_new("Primary TEE", &tee)), OTRP_OK);
    tee->answer = TEE_ANSWER;
    char *install = msg_make("InstallTARequest", "{\"InstallTATBSRequest\":{\"tee\":\"Primary TEE\"}}");
    reftam_step steps[] = {{.status = 200, .content_type = CT, .body = install}, {.status = 204}};
    reftam_script script = {steps, 2};
    reftam_httpd *srv;
    assert_int_equal(reftam_script_serve(&script, NULL, NULL, &srv), 0);
    tee->first_uri = reftam_httpd_url(srv);
    assert_int_equal(otrp_agent_request_ta(agent, "ta", NULL), OTRP_OK);
    /* TEE request, POST #1, TEE process, POST #2, done */
    assert_string_equal(log.stages, "01213");
    reftam_httpd_stop(srv);
    otrp_agent_free(agent);
    free(install);
}

static void *cancel_soon(void *arg)
{
    struct timespec ts = {0, 200 * 1000000L};
    nanosleep(&ts, NULL);
    otrp_agent_cancel(arg);
    return NULL;
}

/* The TEE as otrp_get_device_state() shows it: named, described, ready. */
static void assert_tee_ready(otrp_agent *agent)
{
    char *json = NULL;
    size_t len = 0;
    assert_int_equal(otrp_get_device_state(agent, &json, &len), OTRP_OK);
    if (strstr(json, "\"name\":\"Primary TEE\"") == NULL ||
        strstr(json, "\"state\":\"ready\"") == NULL || strstr(json, "\"scripted\":true") == NULL)
        fail_msg("device state: %s", json);
    otrp_free(json);
}

static void assert_ta_information(struct fx *f)
{
    f->tee->known_taid = "ta-1";
    f->tee->info_answer = "{\"TAInformation\":{}}";
    char *info = NULL;
    size_t len = 0;
    otrp_status st = otrp_get_ta_information(f->agent, "sp-1", "ta-1", &info, &len);
    if (st != OTRP_OK)
        fail_msg("TAInformation: %s: %s", otrp_status_name(st), otrp_agent_last_error(f->agent));
    otrp_free(info);
}

/* The cancel ends the session it was meant for, and nothing after it. */
static void test_session_cancel_while_tam_stalls(void **state)
{
    struct fx *f = *state;
    reftam_step steps[] = {{.status = 204, .delay_ms = 5000}};
    serve(f, steps, 1);
    pthread_t thread;
    uint64_t start = otrp_monotonic_ms();
    assert_int_equal(pthread_create(&thread, NULL, cancel_soon, f->agent), 0);
    assert_int_equal(otrp_agent_request_ta(f->agent, "ta-1", NULL), OTRP_ERR_CANCELLED);
    pthread_join(thread, NULL);
    assert_true(otrp_monotonic_ms() - start < 2000);
    assert_tee_ready(f->agent);
    assert_ta_information(f);
}

/* A cancel made while no operation runs is dropped (otrp/agent.h): every public
 * operation starts uncancelled. */
static void test_session_cancel_between_operations_is_dropped(void **state)
{
    struct fx *f = *state;
    reftam_step steps[] = {{.status = 204}};
    serve(f, steps, 1);
    otrp_agent_cancel(f->agent);
    assert_tee_ready(f->agent);
    otrp_agent_cancel(f->agent);
    assert_ta_information(f);
    otrp_agent_cancel(f->agent);
    assert_int_equal(otrp_agent_request_ta(f->agent, "ta-1", NULL), OTRP_OK);
    otrp_agent_cancel(f->agent);
    assert_int_equal(otrp_agent_policy_check(f->agent, NULL), OTRP_OK);
    assert_int_equal(reftam_httpd_requests(f->srv), 2);
}

/* A call the cancel stopped says nothing about the TEE: it is not reported unreachable
 * afterwards (here a TEE without describe(), whose state only its last call tells). */
static void test_session_cancelled_tee_call_leaves_tee_ready(void **state)
{
    struct fx *f = *state;
    otrp_agent *agent = NULL;
    assert_int_equal(otrp_agent_new(NULL, &agent), OTRP_OK);
    script_tee *tee;
    assert_int_equal(otrp_agent_add_tee(agent, script_tee_new_ex("Primary TEE", 0, &tee)), OTRP_OK);
    tee->mode = SCRIPT_FAIL;
    tee->fail_status = OTRP_ERR_CANCELLED; /* what a backend returns once it sees the cancel */
    tee->cancel_agent = agent;             /* ...which is made while the call runs */
    char *resp = NULL;
    size_t resp_len = 0;
    assert_int_equal(otrp_agent_process(agent, f->install, strlen(f->install), &resp, &resp_len),
                     OTRP_ERR_CANCELLED);
    otrp_free(resp);
    char *json = NULL;
    size_t len = 0;
    assert_int_equal(otrp_get_device_state(agent, &json, &len), OTRP_OK);
    if (strstr(json, "\"state\":\"ready\"") == NULL)
        fail_msg("device state: %s", json);
    otrp_free(json);
    otrp_agent_free(agent);
}

/* ---- the session deadline (session_timeout_ms) ---- */

/* How much later than the deadline a session may end: the step in progress notices it
 * at once (the transfer's last poll slice ends on it), then ProcessError runs. */
#define DEADLINE_SLACK_MS 300u

/* The fixture's agent again, with a session timeout. */
static void fixture_session_timeout(struct fx *f, unsigned session_timeout_ms)
{
    otrp_agent_config cfg;
    fixture_config(&cfg);
    cfg.session_timeout_ms = session_timeout_ms;
    fixture_agent(f, &cfg);
}

static void assert_ends_on_deadline(uint64_t start, unsigned timeout_ms, unsigned late_ms)
{
    uint64_t took = otrp_monotonic_ms() - start;
    print_message("session timeout %u ms: the session ended after %llu ms\n", timeout_ms,
                  (unsigned long long)took);
    assert_true(took + 1 >= timeout_ms); /* our clock started a moment after the agent's */
    assert_true(took <= timeout_ms + late_ms + DEADLINE_SLACK_MS);
}

/* A TAM that keeps the session going, slowly: each answer is another request. Without
 * the session bound this runs 64 POSTs of 300 ms. */
static void test_session_timeout_ends_a_slow_endless_tam(void **state)
{
    struct fx *f = *state;
    fixture_session_timeout(f, 800);
    reftam_step steps[] = {{.status = 200, .content_type = CT, .body = f->install, .delay_ms = 300}};
    serve(f, steps, 1);
    uint64_t start = otrp_monotonic_ms();
    assert_int_equal(otrp_agent_request_ta(f->agent, "ta-1", NULL), OTRP_ERR_TIMEOUT);
    assert_ends_on_deadline(start, 800, 0);
    assert_detail(f->agent, "session timeout of 800 ms reached in POST #3");
    assert_int_equal(f->tee->process_calls, 2);
    assert_int_equal(f->tee->process_error_calls, 1); /* ProcessError still went out */
}

/* A TEE that takes longer than the session has left: its call deadline is the session's
 * (not tee_timeout_ms, 30 s here); its late answer is not sent to the TAM. */
static void test_session_timeout_bounds_a_slow_tee(void **state)
{
    struct fx *f = *state;
    fixture_session_timeout(f, 500);
    reftam_step steps[] = {{.status = 200, .content_type = CT, .body = f->install},
                           {.status = 204}};
    serve(f, steps, 2);
    f->tee->mode = SCRIPT_HANG;
    f->tee->hang_ms = 100; /* answers 100 ms after its deadline */
    uint64_t start = otrp_monotonic_ms();
    assert_int_equal(otrp_agent_request_ta(f->agent, "ta-1", NULL), OTRP_ERR_TIMEOUT);
    assert_ends_on_deadline(start, 500, 100);
    assert_true(f->tee->last_deadline_ms >= start && f->tee->last_deadline_ms <= start + 500);
    assert_detail(f->agent, "session timeout of 500 ms reached while the TEE processed TAM message #1");
    assert_int_equal(reftam_httpd_requests(f->srv), 1);
    assert_int_equal(f->tee->process_error_calls, 1);
}

/* A busy TEE's backoff that would end past the deadline is not waited for. */
static void test_session_timeout_cuts_a_busy_tee_backoff(void **state)
{
    struct fx *f = *state;
    otrp_agent_config cfg;
    fixture_config(&cfg);
    cfg.session_timeout_ms = 1000;
    cfg.tee_busy_retries = 10;
    cfg.tee_busy_backoff_ms = 400; /* 400, 800, ...: the second is past the deadline */
    fixture_agent(f, &cfg);
    reftam_step steps[] = {{.status = 200, .content_type = CT, .body = f->install},
                           {.status = 204}};
    serve(f, steps, 2);
    f->tee->busy_times = 100;
    uint64_t start = otrp_monotonic_ms();
    assert_int_equal(otrp_agent_request_ta(f->agent, "ta-1", NULL), OTRP_ERR_TIMEOUT);
    uint64_t took = otrp_monotonic_ms() - start;
    assert_true(took >= 400 && took < 1000);
    assert_int_equal(f->tee->process_calls, 2);
    assert_detail(f->agent, "session timeout of 1000 ms reached while the TEE processed");
    assert_int_equal(reftam_httpd_requests(f->srv), 1);
}

/* The default is 5 minutes; a caller built before the field existed (a smaller
 * struct_size) gets it too; 0 means no session bound. Seen through the deadline of a TEE
 * call when tee_timeout_ms sets none. */
static void test_session_timeout_default_older_struct_and_none(void **state)
{
    struct fx *f = *state;
    otrp_agent_config cfg;
    fixture_config(&cfg);
    assert_int_equal(cfg.session_timeout_ms, 300000);
    assert_int_equal(OTRP_DEFAULT_SESSION_TIMEOUT_MS, 300000);
    cfg.tee_timeout_ms = 0;
    cfg.struct_size = offsetof(otrp_agent_config, session_timeout_ms);
    cfg.session_timeout_ms = 1; /* beyond the caller's struct: not read */
    fixture_agent(f, &cfg);
    reftam_step steps[] = {{.status = 200, .content_type = CT, .body = f->install},
                           {.status = 204}};
    serve(f, steps, 2);
    uint64_t start = otrp_monotonic_ms();
    assert_int_equal(otrp_agent_request_ta(f->agent, "ta-1", NULL), OTRP_OK);
    uint64_t end = otrp_monotonic_ms();
    assert_true(f->tee->last_deadline_ms + 1 >= start + 300000 &&
                f->tee->last_deadline_ms <= end + 300000);

    fixture_config(&cfg);
    cfg.tee_timeout_ms = 0;
    cfg.session_timeout_ms = 0;
    fixture_agent(f, &cfg);
    reftam_httpd_stop(f->srv); /* the script again from its first step */
    serve(f, steps, 2);
    assert_int_equal(otrp_agent_request_ta(f->agent, "ta-1", NULL), OTRP_OK);
    assert_int_equal(f->tee->process_calls, 1);
    assert_int_equal(f->tee->last_deadline_ms, 0);
}

/* A 503 whose Retry-After is an HTTP-date in the past (the TAM's clock ahead of the
 * device's) is retried after the usual backoff, not after 49 days. */
static void test_session_503_retry_after_in_the_past(void **state)
{
    struct fx *f = *state;
    otrp_agent_config cfg;
    fixture_config(&cfg);
    cfg.http_retries = 1;
    cfg.session_timeout_ms = 5000; /* the cap of this test */
    fixture_agent(f, &cfg);
    char date[64];
    time_t past = time(NULL) - 5;
    struct tm tm;
    assert_non_null(gmtime_r(&past, &tm));
    assert_true(strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm) > 0);
    reftam_step steps[] = {{.status = 503, .header_name = "Retry-After", .header_value = date},
                           {.status = 200, .content_type = CT, .body = f->install},
                           {.status = 204}};
    serve(f, steps, 3);
    uint64_t start = otrp_monotonic_ms();
    otrp_status st = otrp_agent_request_ta(f->agent, "ta-1", NULL);
    if (st != OTRP_OK)
        fail_msg("%s: %s", otrp_status_name(st), otrp_agent_last_error(f->agent));
    assert_true(otrp_monotonic_ms() - start < 2000);
    assert_int_equal(reftam_httpd_requests(f->srv), 3);
}

/* policy_check shares one deadline among its TEEs' sessions and stops at it. */
static void test_session_timeout_shared_by_policy_check(void **state)
{
    struct fx *f = *state;
    fixture_session_timeout(f, 600);
    script_tee *second;
    assert_int_equal(otrp_agent_add_tee(f->agent, script_tee_new("Second TEE", &second)), OTRP_OK);
    reftam_step steps[] = {{.status = 204, .delay_ms = 2000}};
    serve(f, steps, 1);
    second->first_uri = reftam_httpd_url(f->srv);
    uint64_t start = otrp_monotonic_ms();
    assert_int_equal(otrp_agent_policy_check(f->agent, NULL), OTRP_ERR_TIMEOUT);
    assert_ends_on_deadline(start, 600, 0);
    assert_detail(f->agent, "session timeout of 600 ms reached in POST #1");
    assert_int_equal(second->first_calls, 0); /* not started: no time left */
}

/* ---- non-blocking sessions on quick TEEs (otrp/session.h) ---- */

#define QUICK_TEES 4
#define QUICK_ROUNDS 12 /* sessions per TEE, one after the other */

/* The TAM side of every quick session: an empty POST gets an install, a TEE answer 204. */
static void quick_handler(void *user, reftam_httpd *srv, const reftam_httpd_request *req,
                          reftam_httpd_response *out)
{
    (void)srv;
    const char *install = user;
    if (req->body_len == 0) {
        out->status = 200;
        out->content_type = CT;
        out->body = install;
        out->body_len = strlen(install);
    } else {
        out->status = 204;
    }
}

struct quick_run;
typedef struct quick_tee {
    struct quick_run *run;
    int index;
    script_tee *tee;
    otrp_session *session;
    unsigned started;                 /* sessions started so far */
    pthread_t thread_of[QUICK_ROUNDS]; /* the thread that made each session's calls */
} quick_tee;

typedef struct quick_run {
    otrp_agent *agent;
    quick_tee t[QUICK_TEES];
    unsigned done, failed;
    unsigned slow_round; /* TEE 0's session of this round answers in 150 ms (0: none) */
    reftam_httpd *srv;   /* the TAM */
    char *install;       /* what it answers to an empty POST */
} quick_run;

static void quick_start(quick_tee *q);

static void quick_done(void *user, otrp_session *session, otrp_status result)
{
    quick_tee *q = user;
    quick_run *r = q->run;
    unsigned round = q->started - 1;
    q->thread_of[round] = q->tee->last_thread;
    if (result != OTRP_OK) {
        r->failed++;
        print_error("TEE %d session %u: %s: %s\n", q->index, round, otrp_status_name(result),
                    otrp_session_last_error(session));
    }
    r->done++;
    otrp_session_free(session);
    q->session = NULL;
    q->tee->delay_ms = 0;
    if (q->started < QUICK_ROUNDS)
        quick_start(q);
}

static void quick_start(quick_tee *q)
{
    if (q->index == 0 && q->run->slow_round != 0 && q->started == q->run->slow_round)
        q->tee->delay_ms = 150;
    otrp_session_params p;
    otrp_session_params_init(&p);
    p.taid = "ta-q";
    p.tee_index = q->index;
    p.done = quick_done;
    p.user = q;
    assert_int_equal(otrp_session_start(q->run->agent, &p, &q->session), OTRP_OK);
    q->started++;
}

/* Whether a scripted TEE call here is well under the agent's 100 us "quick" bound: yes
 * natively (about 10 us) and under ASan; not under qemu (OTRP_TEST_CPU_SCALE > 1, the
 * aarch64 leg) nor ThreadSanitizer, where it comes near the bound and the agent may
 * rightly keep each TEE on its own worker. */
static int calls_are_quick(void)
{
    const char *scale = getenv("OTRP_TEST_CPU_SCALE");
    if (scale != NULL && strtol(scale, NULL, 10) > 1)
        return 0;
#if defined(__SANITIZE_THREAD__)
    return 0;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
    return 0;
#endif
#endif
    return 1;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Drive the agent with poll() until want sessions ended; the longest call into it. */
static uint64_t quick_loop(quick_run *r, unsigned want)
{
    struct pollfd fds[64];
    uint64_t longest = 0, end = otrp_monotonic_ms() + 20000;
    while (r->done < want) {
        if (otrp_monotonic_ms() > end)
            fail_msg("%u of %u sessions ended in 20 s", r->done, want);
        size_t n = 0;
        int timeout = -1;
        uint64_t t0 = mono_ns();
        assert_int_equal(otrp_agent_wait_set(r->agent, fds, 64, &n, &timeout), OTRP_OK);
        uint64_t d = mono_ns() - t0;
        longest = d > longest ? d : longest;
        (void)poll(fds, n, timeout);
        t0 = mono_ns();
        otrp_agent_perform(r->agent, fds, n);
        d = mono_ns() - t0;
        longest = d > longest ? d : longest;
    }
    return longest;
}

/* The TAM and an agent with QUICK_TEES instant scripted TEEs (the fixture's agent goes). */
static void quick_setup(struct fx *f, quick_run *r)
{
    r->install = msg_make("InstallTARequest",
                          "{\"InstallTATBSRequest\":{\"ver\":\"1.0\",\"rid\":\"r1\","
                          "\"tid\":\"t1\"}}");
    reftam_httpd_config hc;
    memset(&hc, 0, sizeof hc);
    hc.handler = quick_handler;
    hc.user = r->install;
    hc.media_type = CT;
    assert_int_equal(reftam_httpd_start(&hc, &r->srv), 0);
    otrp_agent_config cfg;
    fixture_config(&cfg);
    otrp_agent_free(f->agent);
    f->agent = NULL;
    assert_int_equal(otrp_agent_new(&cfg, &r->agent), OTRP_OK);
    for (int i = 0; i < QUICK_TEES; i++) {
        char name[32];
        snprintf(name, sizeof name, "Quick TEE %d", i);
        r->t[i].run = r;
        r->t[i].index = i;
        assert_int_equal(otrp_agent_add_tee(r->agent, script_tee_new(name, &r->t[i].tee)), OTRP_OK);
        r->t[i].tee->answer = TEE_ANSWER;
        r->t[i].tee->first_uri = reftam_httpd_url(r->srv);
    }
}

static void quick_teardown(quick_run *r)
{
    otrp_agent_free(r->agent);
    reftam_httpd_stop(r->srv);
    free(r->install);
}

/* TEEs whose calls take microseconds: once the agent has seen that, the calls the loop
 * starts together run as one batch on one worker thread (the same for every TEE, not
 * the loop's), every session still ends well, and a call that turns slow is waited for
 * off the loop, after which that TEE's calls go to its own worker again. */
static void test_session_async_quick_tees_batch(void **state)
{
    struct fx *f = *state;
    quick_run r;
    memset(&r, 0, sizeof r);
    r.slow_round = QUICK_ROUNDS - 2;
    quick_setup(f, &r);
    for (int i = 0; i < QUICK_TEES; i++)
        quick_start(&r.t[i]);
    /* While they run, the blocking calls are refused: they would use the same TEEs. */
    assert_int_equal(otrp_agent_request_ta(r.agent, "ta-b", NULL), OTRP_ERR_IN_PROGRESS);
    assert_detail(r.agent, "4 non-blocking sessions run on this agent");
    assert_int_equal(otrp_agent_policy_check(r.agent, NULL), OTRP_ERR_IN_PROGRESS);
    char *out = NULL;
    size_t out_len = 0;
    assert_int_equal(otrp_get_device_state(r.agent, &out, &out_len), OTRP_ERR_IN_PROGRESS);
    assert_null(out);
    assert_int_equal(otrp_agent_process(r.agent, f->install, strlen(f->install), &out, &out_len),
                     OTRP_ERR_IN_PROGRESS);
    assert_null(out);
    uint64_t longest = quick_loop(&r, QUICK_TEES * QUICK_ROUNDS);
    /* Then they work again, and last_session is the last session that ended. */
    assert_int_equal(last_session_number(r.agent, "round_trips"), 1);
    assert_int_equal(last_session_number(r.agent, "bytes_sent"), (long long)strlen(TEE_ANSWER));
    assert_int_equal(r.failed, 0);
    assert_int_equal(otrp_agent_sessions_running(r.agent), 0);
    pthread_t loop = pthread_self();
    /* Every TEE: its first session on its own worker, its later ones on the one batch
     * worker (the same thread for all TEEs); never the loop's thread. */
    pthread_t batch = r.t[1].thread_of[QUICK_ROUNDS - 1];
    int batches = calls_are_quick();
    if (!batches)
        print_message("emulated or under ThreadSanitizer: a scripted call takes about the "
                      "100 us that makes a TEE quick; batch threads not asserted (TEE 1's "
                      "last call %s on the batch worker)\n",
                      pthread_equal(batch, r.t[1].thread_of[0]) ? "was not" : "was");
    for (int i = 0; i < QUICK_TEES; i++) {
        assert_int_equal(r.t[i].tee->first_calls, QUICK_ROUNDS);
        assert_int_equal(r.t[i].tee->process_calls, QUICK_ROUNDS);
        assert_int_equal(r.t[i].tee->process_error_calls, 0);
        for (int k = 0; k < QUICK_ROUNDS; k++)
            assert_false(pthread_equal(r.t[i].thread_of[k], loop));
        if (batches) {
            assert_false(pthread_equal(r.t[i].thread_of[0], batch));
            if (i != 0)
                assert_true(pthread_equal(r.t[i].thread_of[QUICK_ROUNDS - 2], batch));
        }
    }
    /* TEE 0's call of round slow_round took 150 ms: the loop did not wait for it, and
     * TEE 0's next session ran on its own worker, not the batch worker. */
    assert_true(longest < 100000000u);
    if (batches)
        assert_false(pthread_equal(r.t[0].thread_of[QUICK_ROUNDS - 1], batch));
    assert_true(pthread_equal(r.t[0].thread_of[QUICK_ROUNDS - 1], r.t[0].thread_of[0]));
    assert_int_equal(reftam_httpd_requests(r.srv), 2u * QUICK_TEES * QUICK_ROUNDS);
    quick_teardown(&r);
}

/* A session freed while its call waits in a batch (started, then freed at once): the
 * call is made cancelled or not at all, no callback comes, the others end well, and
 * nothing leaks (ASan). */
static void test_session_async_free_while_batched(void **state)
{
    struct fx *f = *state;
    quick_run r;
    memset(&r, 0, sizeof r);
    quick_setup(f, &r);
    for (int i = 0; i < QUICK_TEES; i++)
        quick_start(&r.t[i]);
    (void)quick_loop(&r, QUICK_TEES * (QUICK_ROUNDS - 2)); /* the TEEs are quick now */
    otrp_session *gone = NULL;
    otrp_session_params p;
    otrp_session_params_init(&p);
    p.taid = "ta-gone";
    p.tee_index = 0;
    p.done = quick_done;
    p.user = &r.t[0];
    /* TEE 0 may still be held by its own session: then this one queues, which frees
     * the same way. */
    assert_int_equal(otrp_session_start(r.agent, &p, &gone), OTRP_OK);
    otrp_session_free(gone);
    (void)quick_loop(&r, QUICK_TEES * QUICK_ROUNDS);
    /* Drive the loop 50 ms more: a callback of the freed session would come now. */
    uint64_t end = otrp_monotonic_ms() + 50;
    while (otrp_monotonic_ms() < end) {
        struct pollfd fds[64];
        size_t n = 0;
        int timeout = -1;
        assert_int_equal(otrp_agent_wait_set(r.agent, fds, 64, &n, &timeout), OTRP_OK);
        (void)poll(fds, n, 10);
        otrp_agent_perform(r.agent, fds, n);
    }
    assert_int_equal(r.failed, 0);
    assert_int_equal(r.done, QUICK_TEES * QUICK_ROUNDS);
    assert_int_equal(otrp_agent_sessions_running(r.agent), 0);
    /* Its call was not made (queued, or cancelled before the backend was called) or
     * was made cancelled. */
    assert_true(r.t[0].tee->first_calls == QUICK_ROUNDS ||
                r.t[0].tee->first_calls == QUICK_ROUNDS + 1u);
    quick_teardown(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_session_install_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_async_quick_tees_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_async_free_while_batched, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_tee_message_first_and_tee_uri_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_caller_uri_used_when_tee_names_none, setup,
                                        teardown),
        cmocka_unit_test(test_session_tee_insecure_uri_refused_despite_https_hint),
        cmocka_unit_test_setup_teardown(test_session_bad_tee_uri_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_tee_with_nothing_to_do, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_no_tam_uri, setup, teardown),
        cmocka_unit_test(test_session_insecure_uri_refused_before_tee),
        cmocka_unit_test_setup_teardown(test_session_http_error_calls_process_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_wrong_media_type_calls_process_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_garbage_from_tam, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_tee_failure_answer_is_sent_then_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_busy_tee_gives_broker_error_to_tam, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_endless_tam_is_cut, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_tee_first_step_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_unrequest_and_policy_check, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_policy_check_hint_and_no_tam_uri, setup,
                                        teardown),
        cmocka_unit_test(test_session_progress_reports),
        cmocka_unit_test_setup_teardown(test_session_cancel_while_tam_stalls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_cancel_between_operations_is_dropped, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_session_cancelled_tee_call_leaves_tee_ready, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_session_timeout_ends_a_slow_endless_tam, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_session_timeout_bounds_a_slow_tee, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_timeout_cuts_a_busy_tee_backoff, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_session_timeout_default_older_struct_and_none, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_session_503_retry_after_in_the_past, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_timeout_shared_by_policy_check, setup,
                                        teardown),
    };
    return cmocka_run_group_tests_name("session", tests, NULL, NULL);
}
