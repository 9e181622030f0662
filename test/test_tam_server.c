/*
 * Tests of the loopback TAM front end itself (tam/httpd.c): the HTTP
 * rules of PROFILE P10 on the server side, the security headers, loopback binding and
 * a prompt stop. Requests are made with plain libcurl so that they can break the rules
 * the agent's transport never breaks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "http/http.h"
#include "otrp/otrp.h"
#include "reftam.h"

#define CT OTRP__HTTP_MEDIA_TYPE
#define ANSWER "{\"GetDeviceStateRequest\":{}}"

static const reftam_step ANSWER_STEP[] = {{.status = 200, .content_type = CT, .body = ANSWER}};
static const reftam_script ANSWER_SCRIPT = {ANSWER_STEP, 1};

struct raw_reply {
    long code;
    char headers[4096];
    size_t headers_len;
};

static size_t on_header(char *data, size_t size, size_t n, void *user)
{
    struct raw_reply *r = user;
    size_t len = size * n;
    if (len < sizeof r->headers - 1 - r->headers_len) {
        memcpy(r->headers + r->headers_len, data, len);
        r->headers_len += len;
        r->headers[r->headers_len] = '\0';
    }
    return len;
}

static size_t on_body(char *data, size_t size, size_t n, void *user)
{
    (void)data;
    (void)user;
    return size * n;
}

/* One request with exactly the given headers (NULL-terminated list; "Name:" removes a
 * header libcurl would add); body NULL: no body. */
static struct raw_reply raw(const char *url, const char *method,
                            const char *const *headers, const char *body)
{
    struct raw_reply r;
    memset(&r, 0, sizeof r);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    struct curl_slist *list = NULL;
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++)
        list = curl_slist_append(list, headers[i]);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body != NULL)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    else if (strcmp(method, "POST") == 0)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.code);
    curl_slist_free_all(list);
    curl_easy_cleanup(c);
    return r;
}

static int has_header(const struct raw_reply *r, const char *line)
{
    return strstr(r->headers, line) != NULL;
}

static void test_tam_server_binds_loopback_ephemeral(void **state)
{
    (void)state;
    reftam_httpd *srv;
    assert_int_equal(reftam_script_serve(&ANSWER_SCRIPT, NULL, NULL, &srv), 0);
    assert_true(reftam_httpd_port(srv) != 0);
    char want[64];
    snprintf(want, sizeof want, "http://127.0.0.1:%u/tam", (unsigned)reftam_httpd_port(srv));
    assert_string_equal(reftam_httpd_url(srv), want);
    reftam_httpd_stop(srv);
}

static void test_tam_server_p10_method(void **state)
{
    (void)state;
    reftam_httpd *srv;
    assert_int_equal(reftam_script_serve(&ANSWER_SCRIPT, NULL, NULL, &srv), 0);
    static const char *const h[] = {"Accept: " CT, NULL};
    struct raw_reply r = raw(reftam_httpd_url(srv), "GET", h, NULL);
    assert_int_equal(r.code, 405);
    assert_true(has_header(&r, "Allow: POST"));
    r = raw(reftam_httpd_url(srv), "PUT", h, ANSWER);
    assert_int_equal(r.code, 405);
    reftam_httpd_stop(srv);
}

static void test_tam_server_p10_accept(void **state)
{
    (void)state;
    static const struct {
        const char *accept; /* NULL: no Accept header */
        long code;
    } cases[] = {
        {"Accept: " CT, 200},
        {"Accept: " CT "; charset=utf-8", 200},
        {"Accept: APPLICATION/OTRP+JSON", 200},
        {"Accept: text/html, application/*;q=0.5", 200},
        {"Accept: */*", 200},
        {NULL, 200},
        {"Accept: text/html", 406},
        {"Accept: application/json", 406},
        {"Accept: " CT ";q=0, */*", 406},
        {"Accept: */*;q=0.000", 406},
    };
    reftam_httpd *srv;
    assert_int_equal(reftam_script_serve(&ANSWER_SCRIPT, NULL, NULL, &srv), 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *h[] = {cases[i].accept != NULL ? cases[i].accept : "Accept:",
                           "Content-Type:", NULL};
        struct raw_reply r = raw(reftam_httpd_url(srv), "POST", h, NULL);
        if (r.code != cases[i].code) {
            print_error("'%s': %ld, expected %ld\n", h[0], r.code, cases[i].code);
            fail();
        }
    }
    reftam_httpd_stop(srv);
}

static void test_tam_server_p10_content_type(void **state)
{
    (void)state;
    static const struct {
        const char *content_type; /* NULL: no Content-Type */
        const char *body;         /* NULL: empty POST */
        long code;
    } cases[] = {
        {"Content-Type: " CT, ANSWER, 200},
        {"Content-Type: " CT ";charset=utf-8", ANSWER, 200},
        {"Content-Type: application/json", ANSWER, 415},
        {NULL, ANSWER, 415},
        {"Content-Type: application/x-www-form-urlencoded", ANSWER, 415},
        {NULL, NULL, 200},
        {"Content-Type: " CT, NULL, 200},
        {"Content-Type: application/x-www-form-urlencoded", NULL, 415},
    };
    reftam_httpd *srv;
    assert_int_equal(reftam_script_serve(&ANSWER_SCRIPT, NULL, NULL, &srv), 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *h[] = {"Accept: " CT,
                           cases[i].content_type != NULL ? cases[i].content_type
                                                         : "Content-Type:",
                           NULL};
        struct raw_reply r = raw(reftam_httpd_url(srv), "POST", h, cases[i].body);
        if (r.code != cases[i].code) {
            print_error("case %zu '%s': %ld, expected %ld\n", i, h[1], r.code,
                        cases[i].code);
            fail();
        }
    }
    reftam_httpd_stop(srv);
}

static void test_tam_server_security_headers(void **state)
{
    (void)state;
    reftam_httpd *srv;
    assert_int_equal(reftam_script_serve(&ANSWER_SCRIPT, NULL, NULL, &srv), 0);
    static const char *const h[] = {"Accept: " CT, "Content-Type:", NULL};
    struct raw_reply r = raw(reftam_httpd_url(srv), "POST", h, NULL);
    assert_int_equal(r.code, 200);
    assert_true(has_header(&r, "Content-Type: " CT));
    assert_true(has_header(&r, "Cache-Control: no-store"));
    assert_true(has_header(&r, "X-Content-Type-Options: nosniff"));
    assert_true(has_header(&r, "Content-Security-Policy: default-src 'none'"));
    assert_true(has_header(&r, "Referrer-Policy: no-referrer"));
    reftam_httpd_stop(srv);
}

static void test_tam_server_stops_promptly_with_a_sleeping_handler(void **state)
{
    (void)state;
    /* A handler asleep for 8 s and an idle keep-alive connection must not hold up stop. */
    static const reftam_step steps[] = {{.status = 204}, {.status = 204, .delay_ms = 8000}};
    static const reftam_script script = {steps, 2};
    reftam_httpd *srv;
    assert_int_equal(reftam_script_serve(&script, NULL, NULL, &srv), 0);
    otrp__http_settings s;
    otrp__http_settings_init(&s);
    s.allow_http = 1;
    s.stall_timeout_ms = 300;
    otrp__http *t;
    assert_int_equal(otrp__http_new(&s, &t), OTRP_OK);
    otrp_buf resp = {0};
    assert_int_equal(otrp__http_post(t, reftam_httpd_url(srv), NULL, 0, &resp, NULL), OTRP_OK);
    /* the second request leaves a handler asleep on the server */
    assert_int_equal(otrp__http_post(t, reftam_httpd_url(srv), NULL, 0, &resp, NULL),
                     OTRP_ERR_TIMEOUT);
    uint64_t start = otrp_monotonic_ms();
    reftam_httpd_stop(srv);
    uint64_t took = otrp_monotonic_ms() - start;
    print_message("stop with a sleeping handler: %llu ms\n", (unsigned long long)took);
    assert_true(took < 1000);
    otrp__http_free(t);
    otrp_buf_free(&resp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tam_server_binds_loopback_ephemeral),
        cmocka_unit_test(test_tam_server_p10_method),
        cmocka_unit_test(test_tam_server_p10_accept),
        cmocka_unit_test(test_tam_server_p10_content_type),
        cmocka_unit_test(test_tam_server_security_headers),
        cmocka_unit_test(test_tam_server_stops_promptly_with_a_sleeping_handler),
    };
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return failed;
}
