/*
 * Tests of lib/http, the TAM transport, against the loopback TAM front end
 * (tam/httpd.c) playing scripted answers and faults
 * (tam/script.c). TLS material is made fresh per run by
 * scripts/pki-test.sh (found through $OTRP_SRCDIR, default: the current directory).
 *
 * $OTRP_HTTP_THREADS sets the thread count of the parallel test (default 4; the
 * ThreadSanitizer leg runs 16).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/http.h"
#include "otrp/otrp.h"
#include "reftam.h"

#define OTRP_CT OTRP__HTTP_MEDIA_TYPE
#define MSG "{\"GetDeviceStateResponse\":[{\"GetDeviceTEEStateResponse\":\"x\"}]}"
#define ANSWER "{\"InstallTARequest\":{\"payload\":\"e30\"}}"
/* Response cap used where the tests exercise the limit. */
#define TEST_CAP ((size_t)64 * 1024)
/* The stall timeout the stall tests use, and how late the verdict may come. */
#define TEST_STALL_MS 1000u
#define STALL_SLACK_MS 1000u
/* How much earlier than our clock a libcurl-timed limit may fire. */
#define CURL_CLOCK_SLACK_MS 5u

/* ---- TLS material (made once per run) ---- */

static char pki_dir[64];
static char *pem_ca, *pem_server, *pem_server_key, *pem_expired, *pem_expired_key,
    *pem_wronghost, *pem_wronghost_key, *pin_server, *pin_other;
static char path_ca[128], path_other_ca[128];

/* A file of the PKI directory as a string; a .pin loses its line end. */
static char *slurp(const char *name)
{
    char path[160];
    snprintf(path, sizeof path, "%s/%s", pki_dir, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    enum { MAX = 16384 };
    char *data = calloc(1, MAX);
    size_t n = data != NULL ? fread(data, 1, MAX - 1, f) : 0;
    fclose(f);
    if (strstr(name, ".pin") != NULL)
        while (n > 0 && (data[n - 1] == '\n' || data[n - 1] == '\r'))
            data[--n] = '\0';
    return data;
}

static int group_setup(void **state)
{
    (void)state;
    /* The servers are on loopback: a proxy from the environment must not get in between. */
    static const char *const proxy_vars[] = {"http_proxy", "https_proxy", "HTTPS_PROXY",
                                             "all_proxy", "ALL_PROXY"};
    for (size_t i = 0; i < sizeof proxy_vars / sizeof proxy_vars[0]; i++)
        unsetenv(proxy_vars[i]);
    snprintf(pki_dir, sizeof pki_dir, "/tmp/otrp-http-XXXXXX");
    if (mkdtemp(pki_dir) == NULL)
        return -1;
    const char *src = getenv("OTRP_SRCDIR");
    char cmd[512];
    snprintf(cmd, sizeof cmd, "sh '%s/scripts/pki-test.sh' '%s' >/dev/null",
             src != NULL ? src : ".", pki_dir);
    if (system(cmd) != 0)
        return -1;
    pem_ca = slurp("ca.pem");
    pem_server = slurp("server.pem");
    pem_server_key = slurp("server.key");
    pem_expired = slurp("expired.pem");
    pem_expired_key = slurp("expired.key");
    pem_wronghost = slurp("wronghost.pem");
    pem_wronghost_key = slurp("wronghost.key");
    pin_server = slurp("server.pin");
    pin_other = slurp("other.pin");
    snprintf(path_ca, sizeof path_ca, "%s/ca.pem", pki_dir);
    snprintf(path_other_ca, sizeof path_other_ca, "%s/other-ca.pem", pki_dir);
    return (pem_ca && pem_server && pem_server_key && pem_expired && pem_expired_key &&
            pem_wronghost && pem_wronghost_key && pin_server && pin_other)
               ? 0
               : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    free(pem_ca);
    free(pem_server);
    free(pem_server_key);
    free(pem_expired);
    free(pem_expired_key);
    free(pem_wronghost);
    free(pem_wronghost_key);
    free(pin_server);
    free(pin_other);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", pki_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- fixture: one server, one transport ---- */

struct fx {
    reftam_script script;
    reftam_httpd *srv;
    otrp__http_settings s;
    otrp__http *t;
    otrp_buf resp;
    otrp__http_result info;
    uint64_t elapsed_ms;
};

static void fx_init(struct fx *f)
{
    memset(f, 0, sizeof *f);
    otrp__http_settings_init(&f->s);
    f->s.allow_http = 1;
    f->s.connect_timeout_ms = 5000;
    f->s.http_timeout_ms = 10000;
    f->s.stall_timeout_ms = 5000;
    f->s.retry_backoff_ms = 20;
    f->s.max_message_size = TEST_CAP;
}

/* Serve steps; plain HTTP unless cert and key are given. */
static void fx_serve(struct fx *f, const reftam_step *steps, size_t n, const char *cert,
                     const char *key)
{
    f->script.steps = steps;
    f->script.n = n;
    assert_int_equal(reftam_script_serve(&f->script, cert, key, &f->srv), 0);
}

static otrp_status fx_post_to(struct fx *f, const char *uri, const void *body, size_t len)
{
    if (f->t == NULL)
        assert_int_equal(otrp__http_new(&f->s, &f->t), OTRP_OK);
    uint64_t start = otrp_monotonic_ms();
    otrp_status st = otrp__http_post(f->t, uri, body, len, &f->resp, &f->info);
    f->elapsed_ms = otrp_monotonic_ms() - start;
    return st;
}

static otrp_status fx_post(struct fx *f, const char *body)
{
    return fx_post_to(f, reftam_httpd_url(f->srv), body, body != NULL ? strlen(body) : 0);
}

static void fx_done(struct fx *f)
{
    otrp__http_free(f->t);
    reftam_httpd_stop(f->srv);
    otrp_buf_free(&f->resp);
}

static void check_detail(const char *detail, const char *needle, const char *file, int line)
{
    if (strstr(detail, needle) == NULL) {
        print_error("%s:%d: detail \"%s\" does not name \"%s\"\n", file, line, detail, needle);
        fail();
    }
}
#define assert_detail(f, needle) check_detail((f)->info.detail, needle, __FILE__, __LINE__)

static void check_status(otrp_status got, otrp_status want, const char *detail,
                         const char *file, int line)
{
    if (got != want) {
        print_error("%s:%d: status %s, expected %s; detail \"%s\"\n", file, line,
                    otrp_status_name(got), otrp_status_name(want), detail);
        fail();
    }
}
#define assert_status(f, got, want) \
    check_status(got, want, (f)->info.detail, __FILE__, __LINE__)

static reftam_httpd_entry record_of(struct fx *f, unsigned i)
{
    reftam_httpd_entry r;
    assert_int_equal(reftam_httpd_record(f->srv, i, &r), 0);
    return r;
}

struct canceller {
    volatile int *flag;
    unsigned after_ms;
    int stop; /* set (atomically) by the test: leave without cancelling */
};

/* Set *flag after after_ms, unless told to stop first (a watchdog that ends a test
 * which would otherwise hang, and leaves at once when the test is done). */
static void *cancel_later(void *arg)
{
    struct canceller *c = arg;
    uint64_t end = otrp_monotonic_ms() + c->after_ms;
    while (otrp_monotonic_ms() < end) {
        if (__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE))
            return NULL;
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL);
    }
    __atomic_store_n(c->flag, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* ---- URI and scheme ---- */

static void test_http_uri_check(void **state)
{
    (void)state;
    char d[OTRP__HTTP_DETAIL_MAX];
    static const struct {
        const char *uri;
        otrp_status want;
        const char *why;
    } cases[] = {
        {"https://tam.example/otrp", OTRP_OK, ""},
        {"https://127.0.0.1:8443/tam?x=1", OTRP_OK, ""},
        {"", OTRP_ERR_BAD_URI, "empty"},
        {"tam.example/otrp", OTRP_ERR_BAD_URI, "malformed"},
        {"ftp://tam.example/", OTRP_ERR_BAD_URI, "scheme 'ftp'"},
        {"https://", OTRP_ERR_BAD_URI, "malformed"},
        {"https://tam.example/a b", OTRP_ERR_BAD_URI, "space"},
        {"https://user:pw@tam.example/", OTRP_ERR_BAD_URI, "user information"},
        {"http://tam.example/", OTRP_ERR_HTTP_INSECURE, "plain http"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        d[0] = '\0';
        otrp_status st = otrp__http_check_uri(cases[i].uri, 0, d, sizeof d);
        if (st != cases[i].want || strstr(d, cases[i].why) == NULL) {
            print_error("'%s': %s \"%s\"\n", cases[i].uri, otrp_status_name(st), d);
            fail();
        }
    }
    assert_int_equal(otrp__http_check_uri("http://tam.example/", 1, d, sizeof d), OTRP_OK);
    char longuri[OTRP__HTTP_URI_MAX + 32];
    memset(longuri, 'a', sizeof longuri - 1);
    memcpy(longuri, "https://", 8);
    longuri[sizeof longuri - 1] = '\0';
    assert_int_equal(otrp__http_check_uri(longuri, 0, d, sizeof d), OTRP_ERR_BAD_URI);
}

static void test_http_plain_refused_without_allow_http(void **state)
{
    (void)state;
    static const reftam_step steps[] = {{.status = 204}};
    struct fx f;
    fx_init(&f);
    f.s.allow_http = 0;
    fx_serve(&f, steps, 1, NULL, NULL);
    assert_status(&f, fx_post(&f, MSG), OTRP_ERR_HTTP_INSECURE);
    assert_detail(&f, "allow_http");
    assert_int_equal(reftam_httpd_connections(f.srv), 0); /* no network activity */
    assert_int_equal(f.info.attempts, 0);
    fx_done(&f);
}

static void test_http_plain_allowed(void **state)
{
    (void)state;
    static const reftam_step steps[] = {{.status = 204}};
    struct fx f;
    fx_init(&f);
    fx_serve(&f, steps, 1, NULL, NULL);
    assert_status(&f, fx_post(&f, MSG), OTRP_OK);
    assert_int_equal(f.info.http_code, 204);
    assert_string_equal(f.info.detail, "");
    fx_done(&f);
}

static void test_http_uri_change_takes_effect(void **state)
{
    (void)state;
    /* The transport caches the checked URI: a new one must be checked and used. */
    static const reftam_step steps[] = {{.status = 204}};
    struct fx f, g;
    fx_init(&f);
    fx_init(&g);
    fx_serve(&f, steps, 1, NULL, NULL);
    fx_serve(&g, steps, 1, NULL, NULL);
    assert_status(&f, fx_post(&f, MSG), OTRP_OK);
    assert_status(&f, fx_post_to(&f, reftam_httpd_url(g.srv), MSG, strlen(MSG)), OTRP_OK);
    assert_status(&f, fx_post_to(&f, "https://", MSG, strlen(MSG)), OTRP_ERR_BAD_URI);
    assert_detail(&f, "malformed");
    assert_status(&f, fx_post(&f, MSG), OTRP_OK);
    assert_int_equal(reftam_httpd_requests(f.srv), 2);
    assert_int_equal(reftam_httpd_requests(g.srv), 1);
    fx_done(&f);
    fx_done(&g);
}

/* ---- headers and bodies ---- */

static void test_http_empty_post_has_accept_and_no_content_type(void **state)
{
    (void)state;
    static const reftam_step steps[] = {{.status = 204}};
    struct fx f;
    fx_init(&f);
    fx_serve(&f, steps, 1, NULL, NULL);
    assert_status(&f, fx_post(&f, NULL), OTRP_OK);
    assert_int_equal(f.resp.len, 0); /* 204: the TAM has nothing more */
    reftam_httpd_entry r = record_of(&f, 0);
    assert_string_equal(r.method, "POST");
    assert_true(r.has_accept);
    assert_string_equal(r.accept, OTRP_CT);
    assert_false(r.has_content_type);
    assert_string_equal(r.user_agent, "libotrp/" OTRP_VERSION_STRING); /* the default */
    assert_int_equal(r.body_len, 0);
    assert_int_equal(f.info.bytes_sent, 0);
    fx_done(&f);
}

static void test_http_message_post_has_accept_and_content_type(void **state)
{
    (void)state;
    static const reftam_step steps[] = {
        {.status = 200, .content_type = OTRP_CT "; charset=utf-8", .body = ANSWER}};
    struct fx f;
    fx_init(&f);
    fx_serve(&f, steps, 1, NULL, NULL);
    assert_status(&f, fx_post(&f, MSG), OTRP_OK);
    assert_int_equal(f.resp.len, strlen(ANSWER));
    assert_memory_equal(f.resp.data, ANSWER, strlen(ANSWER));
    reftam_httpd_entry r = record_of(&f, 0);
    assert_string_equal(r.method, "POST");
    assert_string_equal(r.accept, OTRP_CT);
    assert_true(r.has_content_type);
    assert_string_equal(r.content_type, OTRP_CT);
    assert_string_equal(r.user_agent, "libotrp/" OTRP_VERSION_STRING);
    assert_int_equal(r.body_len, strlen(MSG));
    assert_memory_equal(r.body, MSG, strlen(MSG));
    assert_int_equal(f.info.bytes_sent, strlen(MSG));
    assert_int_equal(f.info.bytes_received, strlen(ANSWER));
    assert_int_equal(f.info.http_code, 200);
    fx_done(&f);
}

/* A configured User-Agent is sent as it is; "" sends none. (The default, on both POST
 * kinds, is checked by the two tests above.) */
static void test_http_user_agent_configured_or_none(void **state)
{
    (void)state;
    static const reftam_step one[] = {{.status = 204}};
    struct fx f;
    fx_init(&f);
    f.s.user_agent = "acme-updater/2.1 (device 42)";
    fx_serve(&f, one, 1, NULL, NULL);
    assert_status(&f, fx_post(&f, MSG), OTRP_OK);
    assert_string_equal(record_of(&f, 0).user_agent, "acme-updater/2.1 (device 42)");
    fx_done(&f);

    fx_init(&f); /* "" sends none */
    f.s.user_agent = "";
    fx_serve(&f, one, 1, NULL, NULL);
    assert_status(&f, fx_post(&f, NULL), OTRP_OK);
    assert_false(record_of(&f, 0).has_user_agent);
    fx_done(&f);
}

/* A User-Agent that could inject a header, or is not one, is refused at creation. */
static void test_http_user_agent_refused(void **state)
{
    (void)state;
    char longest[OTRP__HTTP_USER_AGENT_MAX + 2];
    memset(longest, 'a', sizeof longest - 1);
    longest[sizeof longest - 1] = '\0';
    const char *bad[] = {"x\r\nX-Injected: 1", "x\ny", "tab\there", " leading-space",
                         "caf\xc3\xa9", longest};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        otrp__http_settings s;
        otrp__http *t = NULL;
        otrp__http_settings_init(&s);
        s.user_agent = bad[i];
        assert_int_equal(otrp__http_new(&s, &t), OTRP_ERR_INVALID_ARG);
        assert_null(t);
        otrp_agent_config cfg;
        otrp_agent_config_init(&cfg);
        cfg.user_agent = bad[i];
        otrp_agent *agent = NULL;
        assert_int_equal(otrp_agent_new(&cfg, &agent), OTRP_ERR_INVALID_ARG);
        assert_null(agent);
    }
    longest[OTRP__HTTP_USER_AGENT_MAX] = '\0'; /* exactly the limit is fine */
    assert_true(otrp__http_user_agent_ok(longest));
    assert_true(otrp__http_user_agent_ok(NULL));
    assert_true(otrp__http_user_agent_ok(""));
}

static void test_http_large_post_has_no_expect(void **state)
{
    (void)state;
    /* libcurl adds "Expect: 100-continue" to POSTs over 1 MiB unless told not to. */
    static const reftam_step steps[] = {{.status = 204}};
    size_t len = (size_t)3 * 1024 * 1024 / 2;
    char *big = malloc(len);
    assert_non_null(big);
    memset(big, '{', len);
    struct fx f;
    fx_init(&f);
    fx_serve(&f, steps, 1, NULL, NULL);
    assert_status(&f, fx_post_to(&f, reftam_httpd_url(f.srv), big, len), OTRP_OK);
    reftam_httpd_entry r = record_of(&f, 0);
    assert_false(r.has_expect);
    assert_int_equal(r.body_len, len);
    assert_string_equal(r.content_type, OTRP_CT);
    assert_int_equal(f.info.bytes_sent, len);
    fx_done(&f);
    free(big);
}

static void test_http_200_empty_ends_session(void **state)
{
    (void)state;
    static const reftam_step steps[] = {{.status = 200}};
    struct fx f;
    fx_init(&f);
    fx_serve(&f, steps, 1, NULL, NULL);
    assert_status(&f, fx_post(&f, MSG), OTRP_OK);
    assert_int_equal(f.resp.len, 0);
    assert_int_equal(f.info.http_code, 200);
    fx_done(&f);
}

static void test_http_media_type_case_and_parameters_ignored(void **state)
{
    (void)state;
    static const reftam_step steps[] = {
        {.status = 200, .content_type = " Application/OTrP+JSON ;charset=\"x\"", .body = ANSWER}};
    struct fx f;
    fx_init(&f);
    fx_serve(&f, steps, 1, NULL, NULL);
    assert_status(&f, fx_post(&f, MSG), OTRP_OK);
    assert_int_equal(f.resp.len, strlen(ANSWER));
    fx_done(&f);
}

static void test_http_wrong_content_type(void **state)
{
    (void)state;
    static const reftam_step steps[] = {
        {.status = 200, .content_type = "application/json", .body = ANSWER},
        {.status = 200, .body = ANSWER},
        {.status = 200, .content_type = "application/otrp+jsonx", .body = ANSWER},
        {.status = 200, .content_type = "text/\x1b[31m\xff", .body = ANSWER}};
    struct fx f;
    fx_init(&f);
    fx_serve(&f, steps, 4, NULL, NULL);
    assert_status(&f, fx_post(&f, MSG), OTRP_ERR_HTTP_CONTENT_TYPE);
    assert_detail(&f, "'application/json'");
    assert_int_equal(f.resp.len, 0); /* a refused answer is not handed on */
    assert_status(&f, fx_post(&f, MSG), OTRP_ERR_HTTP_CONTENT_TYPE);
    assert_detail(&f, "(none)");
    assert_status(&f, fx_post(&f, MSG), OTRP_ERR_HTTP_CONTENT_TYPE);
    assert_detail(&f, "otrp+jsonx");
    assert_status(&f, fx_post(&f, MSG), OTRP_ERR_HTTP_CONTENT_TYPE);
    assert_detail(&f, "'text/\\x1b[31m\\xff'"); /* the TAM's text, quoted */
    fx_done(&f);
}

static void test_http_garbage_body_passed_through(void **state)
{
    (void)state;
    /* Content is the agent's business: the transport hands over any bytes, NULs too. */
    static const char garbage[] = "\x00\xff{\"not json\x01\x02\x00zz";
    static const reftam_step steps[] = {
        {.status = 200, .content_type = OTRP_CT, .body = garbage, .body_len = sizeof garbage}};
    struct fx f;
    fx_init(&f);
    fx_serve(&f, steps, 1, NULL, NULL);
    assert_status(&f, fx_post(&f, MSG), OTRP_OK);
    assert_int_equal(f.resp.len, sizeof garbage);
    assert_memory_equal(f.resp.data, garbage, sizeof garbage);
    fx_done(&f);
}

static void test_http_cookies_not_returned(void **state)
{
    (void)state;
    static const reftam_step steps[] = {
        {.status = 200, .content_type = OTRP_CT, .body = ANSWER, .header_name = "Set-Cookie",
         .header_value = "session=abc; Path=/"},
        {.status = 204}};
    struct fx f;
    fx_init(&f);
    fx_serve(&f, steps, 2, NULL, NULL);
    assert_status(&f, fx_post(&f, NULL), OTRP_OK);
    assert_status(&f, fx_post(&f, MSG), OTRP_OK);
    assert_false(record_of(&f, 1).has_cookie); /* the TAM matches POSTs by tid (P10) */
    fx_done(&f);
}

/* ---- status codes, retries, redirects ---- */

static void test_http_500_fails_without_retry(void **state)
{
    (void)state;
    static const reftam_step steps[] = {
        {.status = 500, .content_type = "text/plain", .body = "boom"}};
    struct fx f;
    fx_init(&f);
    fx_serve(&f, steps, 1, NULL, NULL);
    assert_status(&f, fx_post(&f, MSG), OTRP_ERR_HTTP_STATUS);
    assert_detail(&f, "HTTP status 500");
    assert_int_equal(f.info.http_code, 500);
    assert_int_equal(f.info.attempts, 1);
    assert_int_equal(reftam_httpd_requests(f.srv), 1);
    assert_int_equal(f.resp.len, 0);
    fx_done(&f);
}

static void test_http_500_with_endless_body_is_still_a_status_error(void **state)
{
    (void)state;
    static const reftam_step steps[] = {
        {.status = 500, .content_type = "text/html", .fault = REFTAM_STEP_ENDLESS_CHUNKED}};
    struct fx f;
    fx_init(&f);
    fx_serve(&f, steps, 1, NULL, NULL);
    assert_status(&f, fx_post(&f, MSG), OTRP_ERR_HTTP_STATUS);
    assert_detail(&f, "HTTP status 500");
    assert_int_equal(f.resp.len, 0);
    fx_done(&f);
}

static void test_http_500_with_oversize_body_is_still_a_status_error(void **state)
{
    (void)state;
    char *big = malloc(TEST_CAP + 2);
    assert_non_null(big);
    memset(big, 'e', TEST_CAP + 1);
    big[TEST_CAP + 1] = '\0';
    reftam_step steps[] = {{.status = 500, .content_type = "text/plain", .body = big}};
    struct fx f;
    fx_init(&f);
    fx_serve(&f, steps, 1, NULL, NULL);
    assert_status(&f, fx_post(&f, MSG), OTRP_ERR_HTTP_STATUS);
    assert_detail(&f, "HTTP status 500");
    fx_done(&f);
    free(big);
}

static void test_http_503_then_200_is_retried(void **state)
{
    (void)state;
    static const reftam_step steps[] = {
        {.status = 503}, {.status = 200, .content_type = OTRP_CT, .body = ANSWER}};
    struct fx f;
    fx_init(&f);
    fx_serve(&f, steps, 2, NULL, NULL);
    assert_status(&f, fx_post(&f, MSG), OTRP_OK);
    assert_int_equal(f.info.attempts, 2);
    assert_int_equal(f.resp.len, strlen(ANSWER));
    /* the retry carries the same message */
    reftam_httpd_entry r = record_of(&f, 1);
    assert_int_equal(r.body_len, strlen(MSG));
    assert_true(r.has_content_type);
    fx_done(&f);
}

static void test_http_503_forever_gives_up(void **state)
{
    (void)state;
    static const reftam_step steps[] = {{.status = 503}};
    struct fx f;
    fx_init(&f);
    f.s.http_retries = 2;
    fx_serve(&f, steps, 1, NULL, NULL);
    assert_status(&f, fx_post(&f, MSG), OTRP_ERR_HTTP_STATUS);
    assert_detail(&f, "HTTP status 503");
    assert_detail(&f, "after 3 attempts");
    assert_int_equal(f.info.attempts, 3);
    assert_int_equal(reftam_httpd_requests(f.srv), 3);
    /* backoff 20 ms then 40 ms */
    assert_true(f.elapsed_ms >= 60);
    fx_done(&f);
}

static void test_http_503_retry_after_honoured(void **state)
{
    (void)state;
    static const reftam_step steps[] = {
        {.status = 503, .header_name = "Retry-After", .header_value = "1"},
        {.status = 204}};
    struct fx f;
    fx_init(&f);
    fx_serve(&f, steps, 2, NULL, NULL);
    assert_status(&f, fx_post(&f, MSG), OTRP_OK);
    assert_int_equal(f.info.attempts, 2);
    assert_true(f.elapsed_ms >= 1000 && f.elapsed_ms < 1000 + STALL_SLACK_MS);
    fx_done(&f);
}

static void test_http_503_long_retry_after_not_retried(void **state)
{
    (void)state;
    static const reftam_step steps[] = {
        {.status = 503, .header_name = "Retry-After", .header_value = "3600"},
        {.status = 204}};
    struct fx f;
    fx_init(&f);
    fx_serve(&f, steps, 2, NULL, NULL);
    assert_status(&f, fx_post(&f, MSG), OTRP_ERR_HTTP_STATUS);
    assert_detail(&f, "retry after 3600 s");
    assert_int_equal(f.info.attempts, 1);
    assert_int_equal(reftam_httpd_requests(f.srv), 1);
    fx_done(&f);
}

/* An HTTP-date in the past (the TAM's clock a little ahead of the device's) asks for no
 * pause at all: libcurl reports it as a negative delay, which must not become a wait of
 * 49 days. A watchdog cancels the POST after 5 s so that a regression fails instead of
 * hanging. */
static void test_http_503_retry_after_in_the_past(void **state)
{
    (void)state;
    char date[64];
    time_t past = time(NULL) - 5;
    struct tm tm;
    assert_non_null(gmtime_r(&past, &tm));
    assert_true(strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm) > 0);
    const reftam_step steps[] = {
        {.status = 503, .header_name = "Retry-After", .header_value = date},
        {.status = 200, .content_type = OTRP_CT, .body = ANSWER}};
    volatile int cancel = 0;
    struct fx f;
    fx_init(&f);
    f.s.cancel = &cancel;
    fx_serve(&f, steps, 2, NULL, NULL);
    struct canceller watchdog = {&cancel, 5000, 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, cancel_later, &watchdog), 0);
    otrp_status st = fx_post(&f, MSG);
    __atomic_store_n(&watchdog.stop, 1, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
    print_message("Retry-After: %s (5 s ago): %s after %llu ms\n", date, otrp_status_name(st),
                  (unsigned long long)f.elapsed_ms);
    assert_status(&f, st, OTRP_OK);
    assert_int_equal(f.info.attempts, 2);
    assert_int_equal(f.resp.len, strlen(ANSWER));
    assert_true(f.elapsed_ms < 1000); /* the usual backoff (20 ms here), no more */
    fx_done(&f);
}

static void test_http_302_not_followed(void **state)
{
    (void)state;
    static const reftam_step steps[] = {
        {.status = 302, .location = "https://elsewhere.example/tam"},
        {.status = 204}};
    struct fx f;
    fx_init(&f);
    fx_serve(&f, steps, 2, NULL, NULL);
    assert_status(&f, fx_post(&f, MSG), OTRP_ERR_HTTP_REDIRECT);
    assert_detail(&f, "302");
    assert_detail(&f, "https://elsewhere.example/tam");
    assert_int_equal(reftam_httpd_requests(f.srv), 1);
    assert_int_equal(f.info.attempts, 1);
    fx_done(&f);
}

static void test_http_connect_refused_retried_then_fails(void **state)
{
    (void)state;
    /* A port that was just free: start a server, note its URL, stop it. */
    static const reftam_step steps[] = {{.status = 204}};
    struct fx f;
    fx_init(&f);
    fx_serve(&f, steps, 1, NULL, NULL);
    char url[64];
    snprintf(url, sizeof url, "%s", reftam_httpd_url(f.srv));
    reftam_httpd_stop(f.srv);
    f.srv = NULL;
    f.s.http_retries = 1;
    assert_status(&f, fx_post_to(&f, url, MSG, strlen(MSG)), OTRP_ERR_HTTP_CONNECT);
    assert_detail(&f, "cannot connect");
    assert_int_equal(f.info.attempts, 2);
    fx_done(&f);
}

/* ---- broken and slow servers ---- */

static void test_http_connection_dropped_mid_body(void **state)
{
    (void)state;
    static const reftam_step steps[] = {{.status = 200, .content_type = OTRP_CT,
                                         .body = ANSWER, .fault = REFTAM_STEP_DROP_MID_BODY}};
    struct fx f;
    fx_init(&f);
    fx_serve(&f, steps, 1, NULL, NULL);
    assert_status(&f, fx_post(&f, MSG), OTRP_ERR_HTTP_PROTOCOL);
    assert_detail(&f, "closed");
    assert_int_equal(f.resp.len, 0);
    assert_int_equal(f.info.attempts, 1); /* the request was sent: never retried */
    fx_done(&f);
}

static void test_http_stall_before_headers(void **state)
{
    (void)state;
    static const reftam_step steps[] = {{.status = 204, .delay_ms = 8000}};
    struct fx f;
    fx_init(&f);
    f.s.stall_timeout_ms = TEST_STALL_MS;
    fx_serve(&f, steps, 1, NULL, NULL);
    assert_status(&f, fx_post(&f, MSG), OTRP_ERR_TIMEOUT);
    assert_detail(&f, "stalled");
    print_message("stall before headers: verdict after %llu ms (stall timeout %u ms)\n",
                  (unsigned long long)f.elapsed_ms, TEST_STALL_MS);
    assert_true(f.elapsed_ms >= TEST_STALL_MS);
    assert_true(f.elapsed_ms <= TEST_STALL_MS + STALL_SLACK_MS);
    fx_done(&f);
}

static void test_http_stall_mid_body(void **state)
{
    (void)state;
    static const reftam_step steps[] = {{.status = 200, .content_type = OTRP_CT,
                                         .body = ANSWER, .delay_ms = 8000,
                                         .fault = REFTAM_STEP_STALL_MID_BODY}};
    struct fx f;
    fx_init(&f);
    f.s.stall_timeout_ms = TEST_STALL_MS;
    fx_serve(&f, steps, 1, NULL, NULL);
    assert_status(&f, fx_post(&f, MSG), OTRP_ERR_TIMEOUT);
    assert_detail(&f, "stalled");
    print_message("stall mid-body: verdict after %llu ms (stall timeout %u ms)\n",
                  (unsigned long long)f.elapsed_ms, TEST_STALL_MS);
    assert_true(f.elapsed_ms >= TEST_STALL_MS);
    assert_true(f.elapsed_ms <= TEST_STALL_MS + STALL_SLACK_MS);
    assert_int_equal(f.resp.len, 0);
    fx_done(&f);
}

static void test_http_exchange_timeout(void **state)
{
    (void)state;
    static const reftam_step steps[] = {{.status = 204, .delay_ms = 8000}};
    struct fx f;
    fx_init(&f);
    f.s.http_timeout_ms = 500;
    fx_serve(&f, steps, 1, NULL, NULL);
    assert_status(&f, fx_post(&f, MSG), OTRP_ERR_TIMEOUT);
    assert_detail(&f, "exchange timeout (500 ms)");
    assert_true(f.elapsed_ms < 500 + STALL_SLACK_MS);
    assert_int_equal(f.info.attempts, 1);
    fx_done(&f);
}

static void test_http_endless_chunked_body_cut_at_cap(void **state)
{
    (void)state;
    static const reftam_step steps[] = {
        {.status = 200, .content_type = OTRP_CT, .fault = REFTAM_STEP_ENDLESS_CHUNKED}};
    struct fx f;
    fx_init(&f);
    fx_serve(&f, steps, 1, NULL, NULL);
    assert_status(&f, fx_post(&f, MSG), OTRP_ERR_TOO_LARGE);
    assert_detail(&f, "exceeds the limit of 65536 bytes");
    assert_int_equal(f.resp.len, 0);
    assert_true(f.info.bytes_received <= TEST_CAP + 16384);
    fx_done(&f);
}

static void test_http_oversize_content_length_refused(void **state)
{
    (void)state;
    char *big = malloc(TEST_CAP + 2);
    assert_non_null(big);
    memset(big, 'a', TEST_CAP + 1);
    big[TEST_CAP + 1] = '\0';
    reftam_step steps[] = {{.status = 200, .content_type = OTRP_CT, .body = big}};
    struct fx f;
    fx_init(&f);
    fx_serve(&f, steps, 1, NULL, NULL);
    assert_status(&f, fx_post(&f, MSG), OTRP_ERR_TOO_LARGE);
    assert_detail(&f, "Content-Length exceeds the limit of 65536 bytes");
    assert_int_equal(f.resp.len, 0);
    fx_done(&f);
    free(big);
}

static void test_http_response_max_of_caller_wins(void **state)
{
    (void)state;
    static const reftam_step steps[] = {{.status = 200, .content_type = OTRP_CT, .body = ANSWER}};
    struct fx f;
    fx_init(&f);
    f.resp.max = 8;
    fx_serve(&f, steps, 1, NULL, NULL);
    assert_status(&f, fx_post(&f, MSG), OTRP_ERR_TOO_LARGE);
    assert_detail(&f, "limit of 8 bytes");
    f.resp.max = sizeof ANSWER;
    assert_status(&f, fx_post(&f, MSG), OTRP_OK);
    fx_done(&f);
}

/* ---- keep-alive ---- */

static void keepalive_run(const char *cert, const char *key)
{
    static const reftam_step steps[] = {
        {.status = 200, .content_type = OTRP_CT, .body = ANSWER},
        {.status = 200, .content_type = OTRP_CT, .body = ANSWER},
        {.status = 204}};
    struct fx f;
    fx_init(&f);
    f.s.ca_file = path_ca;
    fx_serve(&f, steps, 3, cert, key);
    assert_status(&f, fx_post(&f, NULL), OTRP_OK);
    assert_int_equal(f.info.new_connections, 1);
    assert_status(&f, fx_post(&f, MSG), OTRP_OK);
    assert_int_equal(f.info.new_connections, 0);
    assert_status(&f, fx_post(&f, MSG), OTRP_OK);
    assert_int_equal(f.info.new_connections, 0);
    assert_int_equal(f.resp.len, 0);
    assert_int_equal(reftam_httpd_requests(f.srv), 3);
    assert_int_equal(reftam_httpd_connections(f.srv), 1);
    for (unsigned i = 0; i < 3; i++)
        assert_int_equal(record_of(&f, i).connection, 1);
    fx_done(&f);
}

static void test_http_session_reuses_one_connection(void **state)
{
    (void)state;
    keepalive_run(NULL, NULL);
}

static void test_https_session_reuses_one_connection(void **state)
{
    (void)state;
    keepalive_run(pem_server, pem_server_key);
}

static void test_http_server_closed_idle_connection_is_replaced(void **state)
{
    (void)state;
    /* A TAM that closes idle connections while the TEE works on the next message. */
    static const reftam_step steps[] = {
        {.status = 200, .content_type = OTRP_CT, .body = ANSWER}, {.status = 204}};
    static const reftam_script script = {steps, 2};
    reftam_httpd_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.handler = reftam_script_handler;
    cfg.user = (void *)(uintptr_t)&script;
    cfg.media_type = OTRP_CT;
    cfg.idle_timeout_s = 1;
    struct fx f;
    fx_init(&f);
    assert_int_equal(reftam_httpd_start(&cfg, &f.srv), 0);
    assert_status(&f, fx_post(&f, NULL), OTRP_OK);
    struct timespec pause = {1, 600 * 1000000L};
    nanosleep(&pause, NULL);
    assert_status(&f, fx_post(&f, MSG), OTRP_OK);
    assert_int_equal(f.info.attempts, 1);
    assert_int_equal(f.info.new_connections, 1);
    assert_int_equal(reftam_httpd_connections(f.srv), 2);
    assert_int_equal(record_of(&f, 1).body_len, strlen(MSG));
    fx_done(&f);
}

/* ---- TLS ---- */

static void tls_run(const char *cert, const char *key, const char *ca_file, const char *ca_blob,
                    const char *pins, otrp_status want, const char *needle)
{
    static const reftam_step steps[] = {{.status = 200, .content_type = OTRP_CT, .body = ANSWER}};
    struct fx f;
    fx_init(&f);
    f.s.allow_http = 0;
    f.s.ca_file = ca_file;
    f.s.ca_blob = ca_blob;
    f.s.ca_blob_len = ca_blob != NULL ? strlen(ca_blob) : 0;
    f.s.pinned_keys = pins;
    fx_serve(&f, steps, 1, cert, key);
    assert_status(&f, fx_post(&f, MSG), want);
    if (needle != NULL)
        assert_detail(&f, needle);
    if (want == OTRP_OK) {
        assert_int_equal(f.resp.len, strlen(ANSWER));
    } else {
        assert_int_equal(reftam_httpd_requests(f.srv), 0); /* nothing reached the server */
        assert_int_equal(f.info.attempts, 1);
    }
    fx_done(&f);
}

static void test_https_good_ca_file(void **state)
{
    (void)state;
    tls_run(pem_server, pem_server_key, path_ca, NULL, NULL, OTRP_OK, NULL);
}

static void test_https_good_ca_blob(void **state)
{
    (void)state;
    tls_run(pem_server, pem_server_key, NULL, pem_ca, NULL, OTRP_OK, NULL);
}

static void test_https_wrong_ca(void **state)
{
    (void)state;
    tls_run(pem_server, pem_server_key, path_other_ca, NULL, NULL, OTRP_ERR_TLS_CERT,
            "not trusted");
}

static void test_https_wrong_host_name(void **state)
{
    (void)state;
    tls_run(pem_wronghost, pem_wronghost_key, path_ca, NULL, NULL, OTRP_ERR_TLS_HOSTNAME,
            "does not match the host");
}

static void test_https_expired_certificate(void **state)
{
    (void)state;
    tls_run(pem_expired, pem_expired_key, path_ca, NULL, NULL, OTRP_ERR_CERT_EXPIRED,
            "expired");
}

static void test_https_wrong_pin(void **state)
{
    (void)state;
    tls_run(pem_server, pem_server_key, path_ca, NULL, pin_other, OTRP_ERR_TLS_PIN,
            "pinned");
}

static void test_https_right_pin(void **state)
{
    (void)state;
    char pins[256];
    snprintf(pins, sizeof pins, "%s;%s", pin_other, pin_server); /* any pin may match */
    tls_run(pem_server, pem_server_key, path_ca, NULL, pins, OTRP_OK, NULL);
}

static void test_https_unreadable_ca_file(void **state)
{
    (void)state;
    tls_run(pem_server, pem_server_key, "/nonexistent/ca.pem", NULL, NULL, OTRP_ERR_CONFIG,
            "CA certificates");
}

static void test_https_tls11_server_refused(void **state)
{
    (void)state;
    static const reftam_step steps[] = {{.status = 204}};
    static const reftam_script script = {steps, 1};
    reftam_httpd_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.handler = reftam_script_handler;
    cfg.user = (void *)(uintptr_t)&script;
    cfg.tls_cert_pem = pem_server;
    cfg.tls_key_pem = pem_server_key;
    cfg.tls_priorities = "NORMAL:-VERS-ALL:+VERS-TLS1.1:%VERIFY_ALLOW_SIGN_WITH_SHA1";
    struct fx f;
    fx_init(&f);
    f.s.ca_file = path_ca;
    assert_int_equal(reftam_httpd_start(&cfg, &f.srv), 0);
    assert_status(&f, fx_post(&f, MSG), OTRP_ERR_TLS);
    assert_detail(&f, "TLS handshake");
    print_message("TLS 1.1 server: %s\n", f.info.detail);
    assert_int_equal(reftam_httpd_requests(f.srv), 0);
    fx_done(&f);
}

static void test_https_plain_server(void **state)
{
    (void)state;
    /* An https URI to a plain HTTP port: the handshake fails. */
    static const reftam_step steps[] = {{.status = 204}};
    struct fx f;
    fx_init(&f);
    f.s.ca_file = path_ca;
    fx_serve(&f, steps, 1, NULL, NULL);
    char url[64];
    snprintf(url, sizeof url, "https://127.0.0.1:%u/tam", (unsigned)reftam_httpd_port(f.srv));
    assert_status(&f, fx_post_to(&f, url, MSG, strlen(MSG)), OTRP_ERR_TLS);
    assert_detail(&f, "TLS handshake");
    fx_done(&f);
}

/* A socket that listens on loopback but never accepts: the kernel completes the TCP
 * handshake, then nothing answers (a TAM whose TLS layer hangs). */
static int silent_listener(unsigned short *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 8), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

/* A one-shot raw server: accept one connection, read the request, send `answer` (the
 * bytes libmicrohttpd would never produce), close. */
struct raw_server {
    int fd;
    unsigned short port;
    const char *answer;
    size_t answer_len;
    pthread_t thread;
};

static void *raw_server_main(void *arg)
{
    struct raw_server *r = arg;
    int c = accept(r->fd, NULL, NULL);
    if (c >= 0) {
        char buf[4096];
        ssize_t n = recv(c, buf, sizeof buf, 0);
        for (size_t sent = 0; n >= 0 && sent < r->answer_len; sent += (size_t)n)
            n = send(c, r->answer + sent, r->answer_len - sent, MSG_NOSIGNAL);
        close(c);
    }
    return NULL;
}

static void raw_server_start(struct raw_server *r, const char *answer, size_t len)
{
    r->fd = silent_listener(&r->port);
    r->answer = answer;
    r->answer_len = len;
    assert_int_equal(pthread_create(&r->thread, NULL, raw_server_main, r), 0);
}

/* POST MSG to the raw server, then stop it. */
static otrp_status raw_server_post(struct raw_server *r, struct fx *f)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/tam", (unsigned)r->port);
    otrp_status st = fx_post_to(f, url, MSG, strlen(MSG));
    pthread_join(r->thread, NULL);
    close(r->fd);
    return st;
}

/* A TAM that stops reading in the middle of a large body (the listener never accepts:
 * the kernel's buffers take what they can, then the upload stands still). The stall
 * clock covers sending as well as receiving: no libcurl low-speed check backs it up. */
static void test_http_stall_while_sending(void **state)
{
    (void)state;
    unsigned short port;
    int fd = silent_listener(&port);
    size_t len = (size_t)16 * 1024 * 1024; /* more than both sockets' buffers hold */
    char *big = malloc(len);
    assert_non_null(big);
    memset(big, '{', len);
    struct fx f;
    fx_init(&f);
    f.s.stall_timeout_ms = TEST_STALL_MS;
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/tam", (unsigned)port);
    otrp_status st = fx_post_to(&f, url, big, len);
    close(fd);
    assert_status(&f, st, OTRP_ERR_TIMEOUT);
    assert_detail(&f, "stalled");
    print_message("stall while sending: verdict after %llu ms (stall timeout %u ms), %llu "
                  "bytes out\n", (unsigned long long)f.elapsed_ms, TEST_STALL_MS,
                  (unsigned long long)f.info.bytes_sent);
    assert_true(f.elapsed_ms >= TEST_STALL_MS);
    assert_true(f.elapsed_ms <= TEST_STALL_MS + STALL_SLACK_MS + 2000); /* + filling the buffers */
    assert_true(f.info.bytes_sent < len);
    fx_done(&f);
    free(big);
}

static void test_http_garbage_response_is_protocol_error(void **state)
{
    (void)state;
    static const char junk[] = "\x16\x03\x01garbage, not HTTP\r\n\r\n{}";
    struct raw_server r;
    raw_server_start(&r, junk, sizeof junk - 1);
    struct fx f;
    fx_init(&f);
    assert_status(&f, raw_server_post(&r, &f), OTRP_ERR_HTTP_PROTOCOL);
    assert_detail(&f, "HTTP/0.9");
    assert_int_equal(f.info.attempts, 1);
    fx_done(&f);
}

/* A response header line longer than libcurl keeps (100 KiB) is a malformed answer, not
 * a memory shortage of the device. */
static void test_http_overlong_header_line_is_protocol_error(void **state)
{
    (void)state;
    static const char head[] = "HTTP/1.1 200 OK\r\nX-Filler: ";
    size_t filler = (size_t)110 * 1024;
    size_t len = sizeof head - 1 + filler + 4;
    char *answer = malloc(len);
    assert_non_null(answer);
    memcpy(answer, head, sizeof head - 1);
    memset(answer + sizeof head - 1, 'a', filler);
    memcpy(answer + len - 4, "\r\n\r\n", 4);
    struct raw_server r;
    raw_server_start(&r, answer, len);
    struct fx f;
    fx_init(&f);
    assert_status(&f, raw_server_post(&r, &f), OTRP_ERR_HTTP_PROTOCOL);
    assert_detail(&f, "header line");
    assert_int_equal(f.resp.len, 0);
    fx_done(&f);
    free(answer);
}

/* Two Content-Length values that differ leave the body's end to a guess (request
 * smuggling, RFC 9112 section 6.3): the answer is refused. The same value twice, also
 * as a list, is what RFC 9110 section 8.6 lets a recipient accept. */
static void test_http_conflicting_content_lengths_refused(void **state)
{
    (void)state;
    static const struct {
        const char *lengths;
        otrp_status want;
    } cases[] = {
        {"Content-Length: 2\r\nContent-Length: 4\r\n", OTRP_ERR_HTTP_PROTOCOL},
        {"Content-Length: 4\r\ncontent-length: 2\r\n", OTRP_ERR_HTTP_PROTOCOL},
        {"Content-Length: 2, 4\r\n", OTRP_ERR_HTTP_PROTOCOL},
        {"Content-Length: 2\r\nContent-Length: 2\r\n", OTRP_OK},
        {"Content-Length: 2, 2\r\n", OTRP_OK},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char answer[256];
        int n = snprintf(answer, sizeof answer,
                         "HTTP/1.1 200 OK\r\nContent-Type: " OTRP_CT "\r\n%s\r\n{}{}",
                         cases[i].lengths);
        struct raw_server r;
        raw_server_start(&r, answer, (size_t)n);
        struct fx f;
        fx_init(&f);
        otrp_status st = raw_server_post(&r, &f);
        print_message("Content-Length case %zu: %s \"%s\"\n", i, otrp_status_name(st),
                      f.info.detail);
        assert_status(&f, st, cases[i].want);
        if (st == OTRP_OK)
            assert_int_equal(f.resp.len, 2);
        else
            assert_detail(&f, "Content-Length");
        fx_done(&f);
    }
}

static void test_https_silent_handshake_hits_connect_timeout(void **state)
{
    (void)state;
    unsigned short port;
    int fd = silent_listener(&port);
    struct fx f;
    fx_init(&f);
    f.s.ca_file = path_ca;
    f.s.connect_timeout_ms = 300;
    f.s.stall_timeout_ms = 100; /* must not count before the connection is up */
    char url[64];
    snprintf(url, sizeof url, "https://127.0.0.1:%u/tam", (unsigned)port);
    assert_status(&f, fx_post_to(&f, url, MSG, strlen(MSG)), OTRP_ERR_TIMEOUT);
    assert_detail(&f, "connect timeout (300 ms)");
    assert_int_equal(f.info.attempts, 1); /* a timeout is not retried */
    print_message("silent TLS handshake: verdict after %llu ms (connect timeout 300 ms)\n",
                  (unsigned long long)f.elapsed_ms);
    /* libcurl times the connect phase with its own clock, started a moment before ours
     * and rounded differently: 299 ms has been seen for 300 */
    assert_true(f.elapsed_ms + CURL_CLOCK_SLACK_MS >= 300 && f.elapsed_ms < 300 + STALL_SLACK_MS);
    fx_done(&f);
    close(fd);
}

/* ---- cancel and threads ---- */

static void test_http_cancel_from_another_thread(void **state)
{
    (void)state;
    static const reftam_step steps[] = {{.status = 204, .delay_ms = 8000}, {.status = 204}};
    volatile int cancel = 0;
    struct fx f;
    fx_init(&f);
    f.s.cancel = &cancel;
    fx_serve(&f, steps, 2, NULL, NULL);
    struct canceller c = {&cancel, 200, 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, cancel_later, &c), 0);
    otrp_status st = fx_post(&f, MSG);
    pthread_join(th, NULL);
    assert_status(&f, st, OTRP_ERR_CANCELLED);
    assert_detail(&f, "cancelled");
    print_message("cancel: verdict %llu ms after the start (cancel at 200 ms)\n",
                  (unsigned long long)f.elapsed_ms);
    assert_true(f.elapsed_ms < 200 + 500);
    /* The transport stays usable: the aborted connection is replaced. */
    __atomic_store_n(&cancel, 0, __ATOMIC_RELEASE);
    assert_status(&f, fx_post(&f, MSG), OTRP_OK);
    assert_int_equal(f.info.new_connections, 1);
    assert_int_equal(reftam_httpd_connections(f.srv), 2);
    fx_done(&f);
}

static void test_http_cancel_before_start(void **state)
{
    (void)state;
    static const reftam_step steps[] = {{.status = 204}};
    volatile int cancel = 1;
    struct fx f;
    fx_init(&f);
    f.s.cancel = &cancel;
    fx_serve(&f, steps, 1, NULL, NULL);
    assert_status(&f, fx_post(&f, MSG), OTRP_ERR_CANCELLED);
    assert_int_equal(reftam_httpd_connections(f.srv), 0);
    fx_done(&f);
}

static void test_http_body_inside_response_refused(void **state)
{
    (void)state;
    static const reftam_step steps[] = {{.status = 204}};
    struct fx f;
    fx_init(&f);
    fx_serve(&f, steps, 1, NULL, NULL);
    assert_int_equal(otrp_buf_append_str(&f.resp, MSG), OTRP_OK);
    assert_status(&f, fx_post_to(&f, reftam_httpd_url(f.srv), f.resp.data + 1, 4),
                  OTRP_ERR_INVALID_ARG);
    assert_detail(&f, "response buffer");
    assert_int_equal(reftam_httpd_requests(f.srv), 0);
    fx_done(&f);
}

static void test_http_cancel_during_backoff(void **state)
{
    (void)state;
    static const reftam_step steps[] = {{.status = 503}};
    volatile int cancel = 0;
    struct fx f;
    fx_init(&f);
    f.s.cancel = &cancel;
    f.s.retry_backoff_ms = 5000;
    fx_serve(&f, steps, 1, NULL, NULL);
    struct canceller c = {&cancel, 200, 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, cancel_later, &c), 0);
    otrp_status st = fx_post(&f, MSG);
    pthread_join(th, NULL);
    assert_status(&f, st, OTRP_ERR_CANCELLED);
    assert_detail(&f, "waiting to retry");
    assert_true(f.elapsed_ms < 200 + 500);
    fx_done(&f);
}

/* ---- the caller's deadline (the session timeout) ---- */

static void test_http_deadline_ends_a_slow_exchange(void **state)
{
    (void)state;
    static const reftam_step steps[] = {{.status = 204, .delay_ms = 8000}};
    struct fx f;
    fx_init(&f);
    fx_serve(&f, steps, 1, NULL, NULL);
    assert_int_equal(otrp__http_new(&f.s, &f.t), OTRP_OK);
    uint64_t deadline = otrp_monotonic_ms() + 300;
    otrp__http_set_deadline(f.t, deadline);
    assert_status(&f, fx_post(&f, MSG), OTRP_ERR_TIMEOUT);
    assert_detail(&f, "deadline");
    uint64_t end = otrp_monotonic_ms();
    print_message("deadline: verdict %lld ms after it\n", (long long)(end - deadline));
    assert_true(end >= deadline && end < deadline + STALL_SLACK_MS / 4);
    /* Past the deadline nothing is sent at all. */
    assert_status(&f, fx_post(&f, MSG), OTRP_ERR_TIMEOUT);
    assert_detail(&f, "before the HTTP exchange");
    assert_int_equal(reftam_httpd_requests(f.srv), 1);
    fx_done(&f);
}

/* A retry that could only start after the deadline is not waited for. */
static void test_http_deadline_cuts_the_backoff_short(void **state)
{
    (void)state;
    static const reftam_step steps[] = {
        {.status = 503, .header_name = "Retry-After", .header_value = "2"}, {.status = 204}};
    struct fx f;
    fx_init(&f);
    f.s.http_retries = 2;
    fx_serve(&f, steps, 2, NULL, NULL);
    assert_int_equal(otrp__http_new(&f.s, &f.t), OTRP_OK);
    otrp__http_set_deadline(f.t, otrp_monotonic_ms() + 1000);
    assert_status(&f, fx_post(&f, MSG), OTRP_ERR_TIMEOUT);
    assert_detail(&f, "HTTP status 503");
    assert_detail(&f, "deadline comes before the retry");
    assert_int_equal(f.info.attempts, 1);
    assert_true(f.elapsed_ms < 500);
    fx_done(&f);
}

#define PARALLEL_POSTS 5
struct worker {
    const char *url;
    const char *ca_file;
    otrp_status status;
    unsigned connections;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    otrp__http_settings s;
    otrp__http_settings_init(&s);
    s.allow_http = 1;
    s.ca_file = w->ca_file;
    s.max_message_size = TEST_CAP;
    otrp__http *t = NULL;
    w->status = otrp__http_new(&s, &t);
    otrp_buf resp = {0};
    for (int i = 0; i < PARALLEL_POSTS && w->status == OTRP_OK; i++) {
        otrp__http_result info;
        w->status = otrp__http_post(t, w->url, MSG, strlen(MSG), &resp, &info);
        if (w->status == OTRP_OK && resp.len != strlen(ANSWER))
            w->status = OTRP_ERR_INTERNAL;
        w->connections += info.new_connections;
    }
    otrp_buf_free(&resp);
    otrp__http_free(t);
    return NULL;
}

static void test_http_parallel_transports(void **state)
{
    (void)state;
    static const reftam_step steps[] = {{.status = 200, .content_type = OTRP_CT, .body = ANSWER}};
    const char *env = getenv("OTRP_HTTP_THREADS");
    unsigned n = env != NULL ? (unsigned)strtoul(env, NULL, 10) : 4u;
    if (n == 0 || n > 64)
        n = 4;
    /* Half the threads speak HTTP to one server, half HTTPS to another. */
    struct fx f, g;
    fx_init(&f);
    fx_init(&g);
    fx_serve(&f, steps, 1, NULL, NULL);
    fx_serve(&g, steps, 1, pem_server, pem_server_key);
    struct worker workers[64];
    pthread_t threads[64];
    for (unsigned i = 0; i < n; i++) {
        int tls = i % 2;
        workers[i] = (struct worker){reftam_httpd_url(tls ? g.srv : f.srv),
                                     tls ? path_ca : NULL, OTRP_OK, 0};
        assert_int_equal(pthread_create(&threads[i], NULL, worker_main, &workers[i]), 0);
    }
    for (unsigned i = 0; i < n; i++)
        pthread_join(threads[i], NULL);
    for (unsigned i = 0; i < n; i++) {
        assert_int_equal(workers[i].status, OTRP_OK);
        assert_int_equal(workers[i].connections, 1); /* keep-alive per transport */
    }
    unsigned n_tls = n / 2;
    assert_int_equal(reftam_httpd_requests(f.srv), (n - n_tls) * PARALLEL_POSTS);
    assert_int_equal(reftam_httpd_connections(f.srv), n - n_tls);
    assert_int_equal(reftam_httpd_requests(g.srv), n_tls * PARALLEL_POSTS);
    assert_int_equal(reftam_httpd_connections(g.srv), n_tls);
    print_message("parallel: %u threads (%u HTTPS) x %d POSTs, one connection each\n", n,
                  n_tls, PARALLEL_POSTS);
    fx_done(&f);
    fx_done(&g);
}

static void test_http_new_rejects_bad_settings(void **state)
{
    (void)state;
    otrp__http_settings s;
    otrp__http *t = NULL;
    otrp__http_settings_init(&s);
    s.pinned_keys = "md5//abc";
    assert_int_equal(otrp__http_new(&s, &t), OTRP_ERR_INVALID_ARG);
    assert_null(t);
    otrp__http_settings_init(&s);
    s.ca_blob = "x";
    assert_int_equal(otrp__http_new(&s, &t), OTRP_ERR_INVALID_ARG);
    assert_int_equal(otrp__http_new(NULL, &t), OTRP_ERR_INVALID_ARG);
    otrp__http_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_uri_check),
        cmocka_unit_test(test_http_new_rejects_bad_settings),
        cmocka_unit_test(test_http_user_agent_configured_or_none),
        cmocka_unit_test(test_http_user_agent_refused),
        cmocka_unit_test(test_http_plain_refused_without_allow_http),
        cmocka_unit_test(test_http_plain_allowed),
        cmocka_unit_test(test_http_uri_change_takes_effect),
        cmocka_unit_test(test_http_empty_post_has_accept_and_no_content_type),
        cmocka_unit_test(test_http_message_post_has_accept_and_content_type),
        cmocka_unit_test(test_http_large_post_has_no_expect),
        cmocka_unit_test(test_http_200_empty_ends_session),
        cmocka_unit_test(test_http_media_type_case_and_parameters_ignored),
        cmocka_unit_test(test_http_wrong_content_type),
        cmocka_unit_test(test_http_garbage_body_passed_through),
        cmocka_unit_test(test_http_cookies_not_returned),
        cmocka_unit_test(test_http_500_fails_without_retry),
        cmocka_unit_test(test_http_500_with_endless_body_is_still_a_status_error),
        cmocka_unit_test(test_http_500_with_oversize_body_is_still_a_status_error),
        cmocka_unit_test(test_http_503_then_200_is_retried),
        cmocka_unit_test(test_http_503_forever_gives_up),
        cmocka_unit_test(test_http_503_retry_after_honoured),
        cmocka_unit_test(test_http_503_long_retry_after_not_retried),
        cmocka_unit_test(test_http_503_retry_after_in_the_past),
        cmocka_unit_test(test_http_302_not_followed),
        cmocka_unit_test(test_http_connect_refused_retried_then_fails),
        cmocka_unit_test(test_http_connection_dropped_mid_body),
        cmocka_unit_test(test_http_stall_before_headers),
        cmocka_unit_test(test_http_stall_mid_body),
        cmocka_unit_test(test_http_stall_while_sending),
        cmocka_unit_test(test_http_exchange_timeout),
        cmocka_unit_test(test_http_endless_chunked_body_cut_at_cap),
        cmocka_unit_test(test_http_oversize_content_length_refused),
        cmocka_unit_test(test_http_response_max_of_caller_wins),
        cmocka_unit_test(test_http_session_reuses_one_connection),
        cmocka_unit_test(test_https_session_reuses_one_connection),
        cmocka_unit_test(test_http_server_closed_idle_connection_is_replaced),
        cmocka_unit_test(test_https_good_ca_file),
        cmocka_unit_test(test_https_good_ca_blob),
        cmocka_unit_test(test_https_wrong_ca),
        cmocka_unit_test(test_https_wrong_host_name),
        cmocka_unit_test(test_https_expired_certificate),
        cmocka_unit_test(test_https_wrong_pin),
        cmocka_unit_test(test_https_right_pin),
        cmocka_unit_test(test_https_unreadable_ca_file),
        cmocka_unit_test(test_https_tls11_server_refused),
        cmocka_unit_test(test_https_plain_server),
        cmocka_unit_test(test_http_cancel_from_another_thread),
        cmocka_unit_test(test_https_silent_handshake_hits_connect_timeout),
        cmocka_unit_test(test_http_garbage_response_is_protocol_error),
        cmocka_unit_test(test_http_overlong_header_line_is_protocol_error),
        cmocka_unit_test(test_http_conflicting_content_lengths_refused),
        cmocka_unit_test(test_http_cancel_before_start),
        cmocka_unit_test(test_http_body_inside_response_refused),
        cmocka_unit_test(test_http_cancel_during_backoff),
        cmocka_unit_test(test_http_deadline_ends_a_slow_exchange),
        cmocka_unit_test(test_http_deadline_cuts_the_backoff_short),
        cmocka_unit_test(test_http_parallel_transports),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
