/*
 * The process environment does not steer the agent's TAM sessions: proxy variables
 * are ignored unless the caller opts in (proxy_from_env), a configured proxy and
 * noproxy list are honoured whatever the environment says, and a session is refused
 * while SSLKEYLOGFILE would make libcurl write its TLS secrets (unless allow_keylog).
 * Real sessions over HTTPS on 127.0.0.1, through a real CONNECT proxy
 * (test/support/connect_proxy.c) that counts what it relays.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "otrp/otrp.h"
#include "reftam.h"
#include "support/connect_proxy.h"
#include "support/mock_fixture.h"
#include "support/script_tee.h"
#include "support/tam_builder.h"

/* Every variable through which libcurl could pick or skip a proxy. */
static const char *const PROXY_VARS[] = {"http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy",
                                         "ALL_PROXY",  "no_proxy",    "NO_PROXY"};

static char run_dir[512], ca_path[600];
static otrp_buf server_cert, server_key;

static int group_setup(void **state)
{
    (void)state;
    if (fx_tempdir(run_dir, sizeof run_dir, "env") != 0)
        return -1;
    const char *src = getenv("OTRP_SRCDIR");
    char cmd[1024], path[600];
    (void)snprintf(cmd, sizeof cmd, "sh '%s/scripts/pki-test.sh' '%s' >/dev/null",
                   src != NULL ? src : ".", run_dir);
    if (system(cmd) != 0)
        return -1;
    (void)snprintf(ca_path, sizeof ca_path, "%s/ca.pem", run_dir);
    (void)snprintf(path, sizeof path, "%s/server.pem", run_dir);
    if (test_read_file(path, &server_cert) != OTRP_OK)
        return -1;
    (void)snprintf(path, sizeof path, "%s/server.key", run_dir);
    return test_read_file(path, &server_key) == OTRP_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    otrp_buf_free(&server_cert);
    otrp_buf_free(&server_key);
    return fx_rm_rf(run_dir);
}

/* ---- fixture: a TAM that ends every session at once, a proxy, a clean environment ---- */

static const reftam_step END_SESSION[] = {{.status = 204}};

struct fx {
    reftam_script script;
    reftam_httpd *tam;
    connect_proxy *proxy;
};

static int setup(void **state)
{
    static struct fx f;
    memset(&f, 0, sizeof f);
    for (size_t i = 0; i < sizeof PROXY_VARS / sizeof PROXY_VARS[0]; i++)
        unsetenv(PROXY_VARS[i]);
    unsetenv("SSLKEYLOGFILE");
    f.script.steps = END_SESSION;
    f.script.n = 1;
    if (reftam_script_serve(&f.script, (const char *)server_cert.data,
                            (const char *)server_key.data, &f.tam) != 0)
        return -1;
    f.proxy = connect_proxy_start();
    *state = &f;
    return f.proxy != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    connect_proxy_stop(f->proxy);
    reftam_httpd_stop(f->tam);
    for (size_t i = 0; i < sizeof PROXY_VARS / sizeof PROXY_VARS[0]; i++)
        unsetenv(PROXY_VARS[i]);
    unsetenv("SSLKEYLOGFILE");
    return 0;
}

/* Point every proxy variable at url (NO_PROXY stays unset). */
static void proxy_env(const char *url)
{
    for (size_t i = 0; i < sizeof PROXY_VARS / sizeof PROXY_VARS[0]; i++)
        if (strstr(PROXY_VARS[i], "no_") == NULL && strstr(PROXY_VARS[i], "NO_") == NULL)
            setenv(PROXY_VARS[i], url, 1);
}

static void config(otrp_agent_config *cfg)
{
    otrp_agent_config_init(cfg);
    cfg->ca_file = ca_path;
    cfg->connect_timeout_ms = 5000;
    cfg->http_timeout_ms = 10000;
    cfg->http_retries = 0;
}

/* One RequestTA session with the TAM at uri; its status, the detail into detail. */
static otrp_status session(const otrp_agent_config *cfg, const char *uri, char *detail,
                           size_t cap)
{
    otrp_agent *agent = NULL;
    otrp_status st = otrp_agent_new(cfg, &agent);
    if (st != OTRP_OK)
        return st;
    script_tee *tee = NULL;
    st = otrp_agent_add_tee(agent, script_tee_new("Primary TEE", &tee));
    if (st == OTRP_OK) {
        tee->first_uri = uri;
        st = otrp_agent_request_ta(agent, "ta-1", NULL);
    }
    (void)snprintf(detail, cap, "%s", otrp_agent_last_error(agent));
    otrp_agent_free(agent);
    return st;
}

static void expect_session_ok(const otrp_agent_config *cfg, const char *uri)
{
    char detail[512];
    otrp_status st = session(cfg, uri, detail, sizeof detail);
    if (st != OTRP_OK)
        fail_msg("session: %s: %s", otrp_status_name(st), detail);
}

/* ---- proxies ---- */

static void test_env_proxy_variables_ignored_by_default(void **state)
{
    struct fx *f = *state;
    proxy_env(connect_proxy_url(f->proxy));
    otrp_agent_config cfg;
    config(&cfg);
    expect_session_ok(&cfg, reftam_httpd_url(f->tam));
    assert_int_equal(connect_proxy_connections(f->proxy), 0);
    assert_int_equal(reftam_httpd_requests(f->tam), 1); /* it went direct */
    /* plain http (allow_http): the proxy would have seen the whole POST */
    reftam_httpd *plain = NULL;
    assert_int_equal(reftam_script_serve(&f->script, NULL, NULL, &plain), 0);
    cfg.allow_http = 1;
    expect_session_ok(&cfg, reftam_httpd_url(plain));
    assert_int_equal(connect_proxy_connections(f->proxy), 0);
    assert_int_equal(reftam_httpd_requests(plain), 1);
    reftam_httpd_stop(plain);
}

static void test_env_configured_proxy_is_used_whatever_the_env_says(void **state)
{
    struct fx *f = *state;
    /* the environment names another proxy (nothing listens there) and exempts all */
    proxy_env("http://127.0.0.1:9");
    setenv("NO_PROXY", "*", 1);
    setenv("no_proxy", "*", 1);
    otrp_agent_config cfg;
    config(&cfg);
    cfg.proxy = connect_proxy_url(f->proxy);
    expect_session_ok(&cfg, reftam_httpd_url(f->tam));
    assert_int_equal(connect_proxy_tunnels(f->proxy), 1);
    assert_int_equal(reftam_httpd_requests(f->tam), 1);
}

static void test_env_proxy_from_env_when_opted_in(void **state)
{
    struct fx *f = *state;
    proxy_env(connect_proxy_url(f->proxy));
    otrp_agent_config cfg;
    config(&cfg);
    cfg.proxy_from_env = 1;
    expect_session_ok(&cfg, reftam_httpd_url(f->tam));
    assert_int_equal(connect_proxy_tunnels(f->proxy), 1);
    /* then the environment's NO_PROXY counts too */
    setenv("NO_PROXY", "127.0.0.1", 1);
    expect_session_ok(&cfg, reftam_httpd_url(f->tam));
    assert_int_equal(connect_proxy_connections(f->proxy), 1);
    assert_int_equal(reftam_httpd_requests(f->tam), 2);
}

static void test_env_noproxy_is_honoured(void **state)
{
    struct fx *f = *state;
    otrp_agent_config cfg;
    config(&cfg);
    cfg.proxy = connect_proxy_url(f->proxy);
    cfg.noproxy = "tam.example,127.0.0.1";
    expect_session_ok(&cfg, reftam_httpd_url(f->tam));
    assert_int_equal(connect_proxy_connections(f->proxy), 0);
    assert_int_equal(reftam_httpd_requests(f->tam), 1);
    /* a proxy that is not there is a connect failure, not a silent direct session */
    cfg.noproxy = NULL;
    cfg.proxy = "http://127.0.0.1:9";
    char detail[512];
    assert_int_equal(session(&cfg, reftam_httpd_url(f->tam), detail, sizeof detail),
                     OTRP_ERR_HTTP_CONNECT);
    assert_int_equal(reftam_httpd_requests(f->tam), 1);
}

/* ---- SSLKEYLOGFILE ----
 * libcurl reads the variable when it is initialised, so each case runs in a child
 * process that sets it first; the TAM stays in this process, whose TLS library (GnuTLS,
 * which honours the variable too) never sees it. */

enum keylog_case { KEYLOG_SET_BEFORE, KEYLOG_SET_BETWEEN_SESSIONS, KEYLOG_ALLOWED };

/* The child's verdict: 0 as expected, else the step that went wrong. */
static int keylog_child(enum keylog_case c, const char *uri, const char *file)
{
    otrp_agent_config cfg;
    config(&cfg);
    cfg.allow_keylog = c == KEYLOG_ALLOWED;
    otrp_agent *agent = NULL;
    script_tee *tee = NULL;
    if (otrp_agent_new(&cfg, &agent) != OTRP_OK ||
        otrp_agent_add_tee(agent, script_tee_new("Primary TEE", &tee)) != OTRP_OK)
        return 10;
    tee->first_uri = uri;
    /* BETWEEN: the transport (and libcurl) is made while the variable is unset */
    if (c == KEYLOG_SET_BETWEEN_SESSIONS && otrp_agent_request_ta(agent, "ta-1", NULL) != OTRP_OK)
        return 11;
    setenv("SSLKEYLOGFILE", file, 1);
    otrp_status st = otrp_agent_request_ta(agent, "ta-1", NULL);
    int verdict = 0;
    if (c == KEYLOG_ALLOWED)
        verdict = st == OTRP_OK ? 0 : 12;
    else if (st != OTRP_ERR_TLS_KEYLOG)
        verdict = 13;
    else if (strstr(otrp_agent_last_error(agent), "SSLKEYLOGFILE") == NULL)
        verdict = 14;
    otrp_agent_free(agent);
    return verdict;
}

/* Run case c in a child; requests: what the TAM has received in all once it is done. */
static void run_keylog_case(struct fx *f, enum keylog_case c, unsigned requests)
{
    char file[600];
    (void)snprintf(file, sizeof file, "%s/keys-%d.log", run_dir, (int)c);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(keylog_child(c, reftam_httpd_url(f->tam), file));
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    struct stat sb;
    if (c == KEYLOG_ALLOWED) {
        /* what the refusal guards against: libcurl wrote the session's secrets */
        otrp_buf keys = {0};
        assert_int_equal(test_read_file(file, &keys), OTRP_OK);
        assert_non_null(strstr((const char *)keys.data, "CLIENT_"));
        otrp_buf_free(&keys);
    } else {
        assert_int_not_equal(stat(file, &sb), 0); /* not even created */
    }
    assert_int_equal(reftam_httpd_requests(f->tam), requests);
}

static void test_env_keylog_refused_unless_allowed(void **state)
{
    struct fx *f = *state;
    run_keylog_case(f, KEYLOG_SET_BEFORE, 0);
    run_keylog_case(f, KEYLOG_SET_BETWEEN_SESSIONS, 1); /* its first session only */
    run_keylog_case(f, KEYLOG_ALLOWED, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_env_proxy_variables_ignored_by_default, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_env_configured_proxy_is_used_whatever_the_env_says,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_proxy_from_env_when_opted_in, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_noproxy_is_honoured, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_keylog_refused_unless_allowed, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
