/*
 * otrp_agent_new()'s validation of the configuration: limits out of range, malformed
 * pins, CA blobs and proxies are refused when the agent is made (not at the first session), with
 * OTRP_ERR_INVALID_ARG and a detail that names the field, delivered to the log
 * callback and by otrp_agent_config_check().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otrp/otrp.h"

/* A well-formed pin: "sha256//" and the base64 of 32 bytes. */
#define PIN_A "sha256//" "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
#define PIN_B "sha256//" "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="

struct log_capture {
    char last[512];
    int lines;
};

static void capture_log(void *user, otrp_log_level level, const char *msg)
{
    struct log_capture *c = user;
    (void)level;
    (void)snprintf(c->last, sizeof c->last, "%s", msg);
    c->lines++;
}

/* otrp_agent_new(cfg) refuses with OTRP_ERR_INVALID_ARG and its log line names want. */
static void expect_refused(otrp_agent_config *cfg, const char *want)
{
    struct log_capture cap;
    memset(&cap, 0, sizeof cap);
    cfg->log = capture_log;
    cfg->log_user = &cap;
    cfg->log_level = OTRP_LOG_ERROR;
    otrp_agent *agent = (otrp_agent *)1;
    otrp_status st = otrp_agent_new(cfg, &agent);
    if (st != OTRP_ERR_INVALID_ARG || strstr(cap.last, want) == NULL)
        fail_msg("want INVALID_ARG naming '%s', got %s with '%s'", want, otrp_status_name(st),
                 cap.last);
    assert_null(agent);
}

static void expect_accepted(const otrp_agent_config *cfg)
{
    otrp_agent *agent = NULL;
    assert_int_equal(otrp_agent_new(cfg, &agent), OTRP_OK);
    otrp_agent_free(agent);
}

/* A string field of the configuration, set through its offset. */
static void set_string(otrp_agent_config *cfg, size_t field, const char *value)
{
    memcpy((char *)cfg + field, &value, sizeof value);
}

/* Each of bad[] in the string field at offset field is refused naming name; each of
 * good[] is accepted. */
static void string_cases(size_t field, const char *name, const char *const *bad, size_t nbad,
                         const char *const *good, size_t ngood)
{
    otrp_agent_config cfg;
    for (size_t i = 0; i < nbad; i++) {
        otrp_agent_config_init(&cfg);
        set_string(&cfg, field, bad[i]);
        expect_refused(&cfg, name);
    }
    for (size_t i = 0; i < ngood; i++) {
        otrp_agent_config_init(&cfg);
        set_string(&cfg, field, good[i]);
        expect_accepted(&cfg);
    }
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void test_config_message_size_bounds(void **state)
{
    (void)state;
    const size_t bad[] = {0, OTRP_MIN_MESSAGE_SIZE - 1, OTRP_MAX_MESSAGE_SIZE + 1, SIZE_MAX,
                          SIZE_MAX - 4095};
    const size_t good[] = {OTRP_MIN_MESSAGE_SIZE, OTRP_DEFAULT_MAX_MESSAGE,
                           OTRP_MAX_MESSAGE_SIZE};
    otrp_agent_config cfg;
    for (size_t i = 0; i < COUNT(bad); i++) {
        otrp_agent_config_init(&cfg);
        cfg.max_message_size = bad[i];
        expect_refused(&cfg, "max_message_size");
    }
    for (size_t i = 0; i < COUNT(good); i++) {
        otrp_agent_config_init(&cfg);
        cfg.max_message_size = good[i];
        expect_accepted(&cfg);
    }
}

static void test_config_pinned_keys_syntax(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",                                       /* empty list */
        "sha256//",                               /* no hash */
        "sha256//abc=",                           /* too short */
        "md5//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "/etc/ssl/tam-key.pem",                   /* libcurl would read a file */
        PIN_A ";",                                /* empty second pin */
        ";" PIN_A,
        PIN_A "; " PIN_B,                         /* libcurl splits on ";sha256//" only */
        PIN_A ",sha256//n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=",
        "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=", /* non-zero padding bits */
        "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==", /* 31 bytes */
        "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", /* 33 bytes */
        "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA-=", /* base64url alphabet */
        "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",  /* padding missing */
    };
    static const char *const good[] = {PIN_A, PIN_A ";" PIN_B};
    string_cases(offsetof(otrp_agent_config, pinned_keys), "pinned_keys", bad, COUNT(bad), good,
                 COUNT(good));
    /* more pins than OTRP_MAX_PINS */
    otrp_agent_config cfg;
    char many[(OTRP_MAX_PINS + 1) * (sizeof PIN_A)] = "";
    for (int i = 0; i <= OTRP_MAX_PINS; i++) {
        if (i == OTRP_MAX_PINS) {
            otrp_agent_config_init(&cfg);
            cfg.pinned_keys = many;
            expect_accepted(&cfg); /* exactly the limit */
        }
        if (i > 0)
            strcat(many, ";");
        strcat(many, i % 2 ? PIN_B : PIN_A);
    }
    otrp_agent_config_init(&cfg);
    cfg.pinned_keys = many;
    expect_refused(&cfg, "pinned_keys");
}

static void test_config_ca_blob(void **state)
{
    (void)state;
    static const char pem[] = "-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n";
    otrp_agent_config cfg;
    otrp_agent_config_init(&cfg);
    cfg.ca_blob = pem;
    cfg.ca_blob_len = 0;
    expect_refused(&cfg, "ca_blob");
    otrp_agent_config_init(&cfg);
    cfg.ca_blob = NULL;
    cfg.ca_blob_len = sizeof pem;
    expect_refused(&cfg, "ca_blob");
    otrp_agent_config_init(&cfg);
    cfg.ca_blob = pem;
    cfg.ca_blob_len = OTRP_MAX_CA_BLOB + 1;
    expect_refused(&cfg, "ca_blob_len");
    otrp_agent_config_init(&cfg);
    cfg.ca_file = "";
    expect_refused(&cfg, "ca_file");
    otrp_agent_config_init(&cfg);
    cfg.ca_blob = pem;
    cfg.ca_blob_len = sizeof pem - 1;
    expect_accepted(&cfg); /* its content is libcurl's to judge, at the first session */
}

static void test_config_proxy_syntax(void **state)
{
    (void)state;
    static char longest[OTRP_MAX_PROXY_LEN + 2];
    memset(longest, 'p', sizeof longest - 1);
    memcpy(longest, "http://", 7);
    longest[sizeof longest - 1] = '\0';
    const char *const bad_proxy[] = {
        "127.0.0.1:3128",           /* libcurl would guess http */
        "ftp://proxy.example:21",   /* not a proxy scheme */
        "sock5h://proxy.example:1080",
        "http://",                  /* no host */
        "http://proxy.example:1\r\nX-Injected: 1",
        "http://proxy example:1",
        "http://pr\xc3\xb6xy.example:1",
        longest,
    };
    static const char *const good_proxy[] = {"", "http://127.0.0.1:3128", "https://proxy.example",
                                             "socks5h://user:pw@proxy.example:1080",
                                             "socks4a://[::1]:1080"};
    string_cases(offsetof(otrp_agent_config, proxy), "proxy", bad_proxy, COUNT(bad_proxy),
                 good_proxy, COUNT(good_proxy));
    /* the detail names the field, never the text (a proxy URL may carry a password) */
    char detail[256];
    otrp_agent_config cfg;
    otrp_agent_config_init(&cfg);
    cfg.proxy = "ftp://user:s3cret@proxy.example";
    assert_int_equal(otrp_agent_config_check(&cfg, detail, sizeof detail), OTRP_ERR_INVALID_ARG);
    assert_non_null(strstr(detail, "proxy scheme"));
    assert_null(strstr(detail, "s3cret"));
    static const char *const bad_noproxy[] = {"tam.example\n", "t\x7f"};
    static const char *const good_noproxy[] = {"", "*", "localhost,.example.com, 10.0.0.0/8"};
    string_cases(offsetof(otrp_agent_config, noproxy), "noproxy", bad_noproxy,
                 COUNT(bad_noproxy), good_noproxy, COUNT(good_noproxy));
}

/* otrp_agent_config_check() is otrp_agent_new()'s judgement without an agent. */
static void test_config_check_says_why(void **state)
{
    (void)state;
    char detail[256] = "stale";
    assert_int_equal(otrp_agent_config_check(NULL, detail, sizeof detail), OTRP_OK);
    assert_string_equal(detail, "");
    otrp_agent_config cfg;
    otrp_agent_config_init(&cfg);
    assert_int_equal(otrp_agent_config_check(&cfg, detail, sizeof detail), OTRP_OK);
    cfg.max_message_size = SIZE_MAX;
    assert_int_equal(otrp_agent_config_check(&cfg, detail, sizeof detail), OTRP_ERR_INVALID_ARG);
    assert_non_null(strstr(detail, "max_message_size"));
    assert_int_equal(otrp_agent_config_check(&cfg, NULL, 0), OTRP_ERR_INVALID_ARG);
    otrp_agent_config_init(&cfg);
    cfg.struct_size = 4;
    assert_int_equal(otrp_agent_config_check(&cfg, detail, sizeof detail), OTRP_ERR_INVALID_ARG);
    assert_non_null(strstr(detail, "struct_size"));
    otrp_agent_config_init(&cfg);
    cfg.tee_busy_backoff_ms = 3600000;
    expect_refused(&cfg, "tee_busy_backoff_ms");
}

/* A caller built against the struct before the proxy fields: what lies past its
 * struct_size is not read, and the defaults (no proxy, environment ignored) apply. */
static void test_config_older_struct_keeps_new_fields_default(void **state)
{
    (void)state;
    otrp_agent_config cfg;
    otrp_agent_config_init(&cfg);
    cfg.struct_size = offsetof(otrp_agent_config, proxy);
    cfg.proxy = "not a proxy";
    cfg.noproxy = "\x01";
    expect_accepted(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_message_size_bounds),
        cmocka_unit_test(test_config_pinned_keys_syntax),
        cmocka_unit_test(test_config_ca_blob),
        cmocka_unit_test(test_config_proxy_syntax),
        cmocka_unit_test(test_config_check_says_why),
        cmocka_unit_test(test_config_older_struct_keeps_new_fields_default),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
