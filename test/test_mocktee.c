/*
 * The mock TEE against a TAM made of lib/jose (test/support/tam_builder): the full
 * lifecycle in-process and over otrp-tee-sim + the socket backend, one test per OTrP
 * error code, and hostile requests. Every answer is verified and decrypted the way a
 * TAM does.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <cmocka.h>

#include "support/id_forms.h"
#include "support/mock_fixture.h"
#include "support/mock_wrap.h"
#include "mocktee/mocktee.h"
#include "otrp/agent.h"
#include "otrp/backends.h"
#include "otrp/mocktee.h"
#include "support/tam_builder.h"
#include "tee/socket.h"
#include "util/base64.h"
#include "util/json_strict.h"

#define PKI TEST_PKI_DIR "/"

/* Keys and TAMs shared by all tests (loaded once). */
static test_tam *g_tam1, *g_tam2, *g_rogue, *g_expired, *g_tamec, *g_nomark, *g_tee_signer;
static otrp__jose_key *g_sp1, *g_sp2, *g_sp_rogue;
static char *g_sp1_cert, *g_sp2_cert;
/* A TEE directory after GetDeviceState + CreateSD(sd1 of sp1 by tam1) + InstallTA(ta1). */
static char g_template[512];

/* One TEE under test: the backend's vtable and context. */
typedef struct conn {
    const struct otrp_tee_ops *ops;
    void *ctx;
} conn;

typedef struct fx {
    char dir[512];
    conn c;
    otrp_buf msg, out;
    test_tam *tam; /* tam1 with a fresh dsihash */
} fx;

static otrp_status call(conn *c, const otrp_buf *msg, otrp_buf *out)
{
    otrp_tee_call tc = {sizeof tc, 0, 0, NULL};
    otrp_buf_reset(out);
    return c->ops->process_message(c->ctx, &tc, (const char *)msg->data, msg->len, out);
}

static conn open_mock(const char *dir)
{
    otrp_mock_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.verify_time = TEST_PKI_TIME;
    otrp__mock *tee = NULL;
    char detail[256] = "";
    otrp_status st = otrp__mock_open(dir, &o, &tee, detail, sizeof detail);
    if (st != OTRP_OK)
        fprintf(stderr, "open %s: %s\n", dir, detail);
    assert_int_equal(st, OTRP_OK);
    conn c = {&otrp__mock_ops, tee};
    return c;
}

/* Send and read an answer that must verify; returns the answer for inspection. */
static void exchange(conn *c, test_tam *tam, const char *name, otrp_buf *msg, otrp_buf *out,
                     test_tam_answer *a)
{
    assert_int_equal(call(c, msg, out), OTRP_OK);
    otrp_status st = test_tam_read(tam, name, (const char *)out->data, out->len, a);
    if (st != OTRP_OK)
        fprintf(stderr, "answer to %s: %s\n%s\n", name, otrp_status_name(st), (char *)out->data);
    assert_int_equal(st, OTRP_OK);
    assert_true(a->verified);
}

static void gds(conn *c, test_tam *tam, otrp_buf *msg, otrp_buf *out)
{
    test_tam_answer a;
    assert_int_equal(test_tam_get_device_state(tam, NULL, msg), OTRP_OK);
    exchange(c, tam, "GetDeviceState", msg, out, &a);
    assert_string_equal(a.status, "pass");
    assert_non_null(a.dsi);
    test_tam_answer_free(&a);
}

/* A request whose content is given as JSON text; returns the answer. */
static void req(conn *c, test_tam *tam, const char *name, const char *content, const cJSON *extra,
                const test_tam_opts *o, otrp_buf *msg, otrp_buf *out, test_tam_answer *a)
{
    cJSON *cj = cJSON_Parse(content);
    assert_non_null(cj);
    otrp_status st = test_tam_request(tam, name, cj, extra, o, msg);
    cJSON_Delete(cj);
    assert_int_equal(st, OTRP_OK);
    exchange(c, tam, name, msg, out, a);
}

static void req_pass(conn *c, test_tam *tam, const char *name, const char *content,
                     const cJSON *extra, otrp_buf *msg, otrp_buf *out, test_tam_answer *a)
{
    req(c, tam, name, content, extra, NULL, msg, out, a);
    if (strcmp(a->status, "pass") != 0)
        fprintf(stderr, "%s failed: %s %s\n", name, a->error_code, a->error_message);
    assert_string_equal(a->status, "pass");
}

static void req_fail(conn *c, test_tam *tam, const char *name, const char *content,
                     const cJSON *extra, const test_tam_opts *o, const char *code, otrp_buf *msg,
                     otrp_buf *out)
{
    test_tam_answer a;
    req(c, tam, name, content, extra, o, msg, out, &a);
    assert_string_equal(a.status, "fail");
    if (strcmp(a.error_code, code) != 0)
        fprintf(stderr, "%s: expected %s, got %s (%s)\n", name, code, a.error_code, a.error_message);
    assert_string_equal(a.error_code, code);
    assert_true(a.error_message[0] != '\0');
    test_tam_answer_free(&a);
}

/* A DeleteTA of ta1 in sd1 by tam, bent by o (may be NULL), that fails with code. */
static void delete_ta1_fails(fx *f, test_tam *tam, const test_tam_opts *o, const char *code)
{
    req_fail(&f->c, tam, "DeleteTA", "{\"sdname\":\"sd1\",\"taid\":\"ta1\"}", NULL, o, code,
             &f->msg, &f->out);
}

static char *content_of(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *content_of(const char *fmt, ...)
{
    static char buf[8192];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return buf;
}

/* The SP AIK of spid from a DSI text. */
static char *spaik_of(const char *dsi, const char *spid)
{
    cJSON *d = cJSON_Parse(dsi);
    const cJSON *tee = otrp__json_member(otrp__json_member(d, "dsi"), "tee");
    char *out = NULL;
    for (const cJSON *e = otrp__json_member(tee, "teeaiklist")->child; e != NULL; e = e->next)
        if (strcmp(otrp__json_string(e, "spid"), spid) == 0)
            out = strdup(otrp__json_string(e, "spaik"));
    cJSON_Delete(d);
    return out;
}

/* Count SDs and TAs in a DSI text; has_ta: taid listed. */
static int dsi_count(const char *dsi, const char *what, const char *id)
{
    cJSON *d = cJSON_Parse(dsi);
    const cJSON *tee = otrp__json_member(otrp__json_member(d, "dsi"), "tee");
    int n = 0;
    if (strcmp(what, "sd") == 0) {
        const cJSON *sdl = otrp__json_member(tee, "sdlist");
        n = atoi(otrp__json_string(sdl, "cnt"));
        assert_int_equal(n, cJSON_GetArraySize(otrp__json_member(sdl, "sd")));
    } else if (strcmp(what, "ta") == 0) {
        for (const cJSON *sd = otrp__json_member(otrp__json_member(tee, "sdlist"), "sd")->child;
             sd != NULL; sd = sd->next)
            for (const cJSON *ta = otrp__json_member(sd, "talist")->child; ta != NULL; ta = ta->next)
                n += id == NULL || strcmp(otrp__json_string(ta, "taid"), id) == 0;
    } else {
        for (const cJSON *e = otrp__json_member(tee, what)->child; e != NULL; e = e->next)
            n += strcmp(otrp__json_string(e, "taid"), id) == 0;
    }
    cJSON_Delete(d);
    return n;
}

/* The encrypted_ta member for a TA binary signed by sp, encrypted to spaik. */
static cJSON *ta_extra(const otrp__jose_key *sp, const char *spaik, const char *bin, size_t len,
                       const char *pdata, int update)
{
    otrp_buf image = {0};
    assert_int_equal(test_tam_sign_ta(sp, bin, len, &image), OTRP_OK);
    cJSON *eta = NULL;
    assert_int_equal(test_tam_encrypt_ta(spaik, image.data, image.len, pdata,
                                         pdata != NULL ? strlen(pdata) : 0, update, &eta),
                     OTRP_OK);
    otrp_buf_free(&image);
    cJSON *extra = cJSON_CreateObject();
    cJSON_AddItemToObject(extra, "encrypted_ta", eta);
    return extra;
}

/* ---- fixtures ----------------------------------------------------------------------- */

static int group_setup(void **state)
{
    (void)state;
    if (test_tam_new(PKI "tam1-key.pem", PKI "tam1.pem", &g_tam1) != OTRP_OK ||
        test_tam_new(PKI "tam2-key.pem", PKI "tam2.pem", &g_tam2) != OTRP_OK ||
        test_tam_new(PKI "rogue-tam-key.pem", PKI "rogue-tam.pem", &g_rogue) != OTRP_OK ||
        test_tam_new(PKI "tam1-key.pem", PKI "tam1-expired.pem", &g_expired) != OTRP_OK ||
        test_tam_new(PKI "tam-ec-key.pem", PKI "tam-ec.pem", &g_tamec) != OTRP_OK ||
        test_tam_new(PKI "tam1-key.pem", PKI "tam1-nomark.pem", &g_nomark) != OTRP_OK ||
        test_tam_new(PKI "tee-issued-key.pem", PKI "tee-issued.pem", &g_tee_signer) != OTRP_OK ||
        test_load_key(PKI "sp1-key.pem", &g_sp1) != OTRP_OK ||
        test_load_key(PKI "sp2-key.pem", &g_sp2) != OTRP_OK ||
        test_load_key(PKI "sp-rogue-key.pem", &g_sp_rogue) != OTRP_OK)
        return -1;
    g_sp1_cert = test_cert_b64(PKI "sp1.pem");
    g_sp2_cert = test_cert_b64(PKI "sp2.pem");
    if (g_sp1_cert == NULL || g_sp2_cert == NULL || fx_teedir(g_template, sizeof g_template, NULL) != 0)
        return -1;
    /* The template: one SD with one TA, made through the protocol itself. */
    conn c = open_mock(g_template);
    otrp_buf msg = {0}, out = {0};
    test_tam_answer a;
    gds(&c, g_tam1, &msg, &out);
    req_pass(&c, g_tam1, "CreateSD",
             content_of("{\"spid\":\"sp1\",\"sdname\":\"sd1\",\"spcert\":\"%s\"}", g_sp1_cert), NULL,
             &msg, &out, &a);
    char *spaik = strdup(otrp__json_string(a.content, "teespaik"));
    test_tam_answer_free(&a);
    cJSON *extra = ta_extra(g_sp1, spaik, "TA one binary", 13, "pdata one", 0);
    req_pass(&c, g_tam1, "InstallTA", "{\"spid\":\"sp1\",\"sdname\":\"sd1\",\"taid\":\"ta1\"}", extra,
             &msg, &out, &a);
    test_tam_answer_free(&a);
    cJSON_Delete(extra);
    free(spaik);
    c.ops->destroy(c.ctx);
    otrp_buf_free(&msg);
    otrp_buf_free(&out);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    test_tam_free(g_tam1);
    test_tam_free(g_tam2);
    test_tam_free(g_rogue);
    test_tam_free(g_expired);
    test_tam_free(g_tamec);
    test_tam_free(g_nomark);
    test_tam_free(g_tee_signer);
    otrp__jose_key_free(g_sp1);
    otrp__jose_key_free(g_sp2);
    otrp__jose_key_free(g_sp_rogue);
    free(g_sp1_cert);
    free(g_sp2_cert);
    if (g_template[0] != '\0')
        fx_rm_rf(g_template);
    return 0;
}

/* A copy of the template, opened in-process, after a GetDeviceState by tam1. */
static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    if (f == NULL || fx_tempdir(f->dir, sizeof f->dir, "copy") != 0)
        return -1;
    strncat(f->dir, "/tee", sizeof f->dir - strlen(f->dir) - 1);
    if (fx_copy_dir(g_template, f->dir) != 0)
        return -1;
    f->c = open_mock(f->dir);
    f->tam = g_tam1;
    gds(&f->c, f->tam, &f->msg, &f->out);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    f->c.ops->destroy(f->c.ctx);
    otrp_buf_free(&f->msg);
    otrp_buf_free(&f->out);
    char *slash = strrchr(f->dir, '/');
    *slash = '\0';
    fx_rm_rf(f->dir);
    free(f);
    return 0;
}

/* ---- the lifecycle (in-process and over the socket) ------------------------------------ */

static void session_entry_points(conn *c, const char *taid, int expect_pending)
{
    otrp_tee_call tc = {sizeof tc, 0, 0, NULL};
    otrp_buf uri = {0}, msg = {0};
    assert_int_equal(c->ops->policy_check(c->ctx, &tc, NULL, &uri, &msg), OTRP_OK);
    assert_int_equal(msg.len, 0);
    if (expect_pending)
        assert_string_equal((char *)uri.data, "https://tam.example/otrp");
    else
        assert_int_equal(uri.len, 0); /* "no data" */
    /* The TEE has a TAM of its own: the caller's TAM URI (the hint) does not replace it
     * (PROFILE P10); no work, no URI. */
    assert_int_equal(c->ops->policy_check(c->ctx, &tc, "https://hint.example/", &uri, &msg),
                     OTRP_OK);
    assert_int_equal(msg.len, 0);
    if (expect_pending)
        assert_string_equal((char *)uri.data, "https://tam.example/otrp");
    else
        assert_int_equal(uri.len, 0);
    (void)taid;
    otrp_buf_free(&uri);
    otrp_buf_free(&msg);
}

static void lifecycle(conn *c)
{
    otrp_buf msg = {0}, out = {0}, uri = {0}, empty = {0};
    test_tam *tam = NULL;
    test_tam_answer a;
    otrp_tee_call tc = {sizeof tc, 0, 0, NULL};
    assert_int_equal(test_tam_new(PKI "tam1-key.pem", PKI "tam1.pem", &tam), OTRP_OK);

    assert_int_equal(c->ops->get_name(c->ctx, &tc, &uri), OTRP_OK);
    assert_string_equal((char *)uri.data, "mocktee-test");
    session_entry_points(c, "ta1", 0);
    /* A client app asks for ta1: the TEE gives the TAM URI and no message. */
    assert_int_equal(c->ops->request_ta(c->ctx, &tc, "ta1", NULL, &uri, &empty), OTRP_OK);
    assert_string_equal((char *)uri.data, "https://tam.example/otrp");
    assert_int_equal(empty.len, 0);
    assert_int_equal(c->ops->request_ta(c->ctx, &tc, "ta1", "https://hint.example/", &uri, &empty),
                     OTRP_OK);
    assert_string_equal((char *)uri.data, "https://tam.example/otrp");
    session_entry_points(c, "ta1", 1);

    /* GetDeviceState: no SD yet, ta1 requested. */
    assert_int_equal(test_tam_get_device_state(tam, NULL, &msg), OTRP_OK);
    exchange(c, tam, "GetDeviceState", &msg, &out, &a);
    assert_string_equal(a.status, "pass");
    assert_string_equal(a.rid, "rid-1");
    assert_string_equal(a.tid, "tid-test-session");
    assert_true(cJSON_IsTrue(otrp__json_member(a.tbs, "signerreq")));
    assert_int_equal(dsi_count(a.dsi, "sd", NULL), 0);
    assert_int_equal(dsi_count(a.dsi, "requestedtalist", "ta1"), 1);
    assert_string_equal(test_tam_tee_name(tam), "mocktee-test");
    test_tam_answer_free(&a);

    /* CreateSD */
    req_pass(c, tam, "CreateSD",
             content_of("{\"spid\":\"sp1\",\"sdname\":\"sd1\",\"spcert\":\"%s\"}", g_sp1_cert), NULL,
             &msg, &out, &a);
    assert_string_equal(otrp__json_string(a.content, "sdname"), "sd1");
    assert_string_equal(otrp__json_string(a.content, "teespaiktype"), "RSA");
    char *spaik = strdup(otrp__json_string(a.content, "teespaik"));
    assert_int_equal(dsi_count(a.dsi, "sd", NULL), 1);
    char *aik_in_dsi = spaik_of(a.dsi, "sp1");
    assert_string_equal(aik_in_dsi, spaik);
    free(aik_in_dsi);
    test_tam_answer_free(&a);

    /* InstallTA: image signed by sp1, with personalization data. */
    cJSON *extra = ta_extra(g_sp1, spaik, "TA one", 6, "pdata", 0);
    req_pass(c, tam, "InstallTA", "{\"spid\":\"sp1\",\"sdname\":\"sd1\",\"taid\":\"ta1\"}", extra,
             &msg, &out, &a);
    cJSON_Delete(extra);
    assert_int_equal(dsi_count(a.dsi, "ta", "ta1"), 1);
    assert_int_equal(dsi_count(a.dsi, "requestedtalist", "ta1"), 0); /* installed now */
    test_tam_answer_free(&a);
    session_entry_points(c, "ta1", 0);

    /* describe and TAInformation (P11, signed with the SP AIK) */
    assert_int_equal(c->ops->describe(c->ctx, &tc, &uri), OTRP_OK);
    assert_non_null(strstr((char *)uri.data, "\"taid\":\"ta1\""));
    assert_int_equal(c->ops->ta_information(c->ctx, &tc, "sp1", "ta1", &uri), OTRP_OK);
    {
        cJSON *doc = cJSON_Parse((char *)uri.data);
        otrp__jws *jws = NULL;
        assert_int_equal(otrp__jws_parse_json(otrp__json_member(doc, "TAInformation"), 0, &jws, NULL, 0),
                         OTRP_OK);
        otrp__jose_key *signer = NULL;
        assert_int_equal(otrp__jose_key_from_jwk_json(otrp__jws_header_member(jws, "signer"), &signer,
                                                      NULL, 0),
                         OTRP_OK);
        assert_int_equal(otrp__jws_verify(jws, signer, 0, NULL, 0), OTRP_OK);
        otrp_buf spki = {0};
        assert_int_equal(otrp__jose_key_export_spki_der(signer, &spki), OTRP_OK);
        char *b = malloc(otrp__b64_encoded_len(spki.len, OTRP__B64_STD) + 1);
        otrp__b64_encode(spki.data, spki.len, b, OTRP__B64_STD);
        assert_string_equal(b, spaik);
        free(b);
        otrp_buf_free(&spki);
        size_t plen = 0;
        const char *p = (const char *)otrp__jws_payload(jws, &plen);
        assert_non_null(strstr(p, "\"tamid\":\"tam1.example\""));
        assert_non_null(strstr(p, "\"signercert\""));
        otrp__jose_key_free(signer);
        otrp__jws_free(jws);
        cJSON_Delete(doc);
    }
    assert_int_equal(c->ops->ta_information(c->ctx, &tc, "sp1", "nope", &uri), OTRP_ERR_NOT_FOUND);

    /* UpdateTA: a new binary. */
    extra = ta_extra(g_sp1, spaik, "TA one v2", 9, NULL, 1);
    req_pass(c, tam, "UpdateTA", "{\"spid\":\"sp1\",\"sdname\":\"sd1\",\"taid\":\"ta1\"}", extra,
             &msg, &out, &a);
    cJSON_Delete(extra);
    test_tam_answer_free(&a);

    /* UpdateSD: add sp2's certificate, rename, renew the SP AIK. */
    req_pass(c, tam, "UpdateSD",
             content_of("{\"spid\":\"sp1\",\"sdname\":\"sd1\",\"changes\":{\"newsdname\":\"sd1b\","
                        "\"spcert\":[\"%s\"],\"renewteespaik\":true}}",
                        g_sp2_cert),
             NULL, &msg, &out, &a);
    const char *renewed = otrp__json_string(a.content, "teespaik");
    assert_non_null(renewed);
    assert_string_not_equal(renewed, spaik);
    free(spaik);
    spaik = strdup(renewed);
    assert_non_null(strstr(a.dsi, "\"name\":\"sd1b\""));
    test_tam_answer_free(&a);

    /* InstallTA ta2 signed by sp2 (registered by UpdateSD), to the renewed SP AIK. */
    extra = ta_extra(g_sp2, spaik, "TA two", 6, NULL, 0);
    req_pass(c, tam, "InstallTA", "{\"spid\":\"sp1\",\"sdname\":\"sd1b\",\"taid\":\"ta2\"}", extra,
             &msg, &out, &a);
    cJSON_Delete(extra);
    assert_int_equal(dsi_count(a.dsi, "ta", NULL), 2);
    test_tam_answer_free(&a);

    /* UnrequestTA ta1: listed as unneeded while installed. */
    assert_int_equal(c->ops->unrequest_ta(c->ctx, &tc, "ta1", NULL, &uri, &empty), OTRP_OK);
    session_entry_points(c, "ta1", 1);

    /* DeleteTA ta1 */
    req_pass(c, tam, "DeleteTA", "{\"sdname\":\"sd1b\",\"taid\":\"ta1\"}", NULL, &msg, &out, &a);
    assert_int_equal(dsi_count(a.dsi, "ta", "ta1"), 0);
    assert_int_equal(dsi_count(a.dsi, "unneededtalist", "ta1"), 0);
    test_tam_answer_free(&a);
    session_entry_points(c, "ta1", 0);

    /* DeleteSD with its remaining TA. */
    req_pass(c, tam, "DeleteSD", "{\"sdname\":\"sd1b\",\"deleteta\":true}", NULL, &msg, &out, &a);
    assert_int_equal(dsi_count(a.dsi, "sd", NULL), 0);
    assert_null(strstr(a.dsi, "\"spaik\"")); /* the SP AIK went with the last SD */
    test_tam_answer_free(&a);

    /* A fresh GetDeviceState agrees. */
    assert_int_equal(test_tam_get_device_state(tam, NULL, &msg), OTRP_OK);
    exchange(c, tam, "GetDeviceState", &msg, &out, &a);
    assert_int_equal(dsi_count(a.dsi, "sd", NULL), 0);
    test_tam_answer_free(&a);
    assert_int_equal(c->ops->process_error(c->ctx, &tc), OTRP_OK);

    free(spaik);
    test_tam_free(tam);
    otrp_buf_free(&msg);
    otrp_buf_free(&out);
    otrp_buf_free(&uri);
    otrp_buf_free(&empty);
}

static void test_mocktee_lifecycle_in_process(void **state)
{
    (void)state;
    char dir[512];
    assert_int_equal(fx_teedir(dir, sizeof dir, NULL), 0);
    conn c = open_mock(dir);
    lifecycle(&c);
    c.ops->destroy(c.ctx);
    fx_rm_rf(dir);
}

static void test_mocktee_lifecycle_over_socket(void **state)
{
    (void)state;
    char dir[512], sock[600];
    pid_t pid = fx_daemon = fx_teedir_daemon(dir, sizeof dir, sock, sizeof sock);
    assert_true(pid > 0);
    conn c = {&otrp__socket_ops, NULL};
    assert_int_equal(otrp__socket_open(sock, &c.ctx), OTRP_OK);
    lifecycle(&c);
    c.ops->destroy(c.ctx);
    fx_daemon = -1;
    assert_int_equal(fx_daemon_stop(pid, SIGTERM), 0);
    fx_rm_rf(dir);
}

/* ---- one test per OTrP error code -------------------------------------------------------- */

static void test_mocktee_err_request_invalid(void **state)
{
    fx *f = *state;
    test_tam_opts o;
    memset(&o, 0, sizeof o);
    o.tbs_name = "DeleteTATBSRequest"; /* outer CreateSDRequest, inner DeleteTA */
    req_fail(&f->c, f->tam, "CreateSD", "{\"spid\":\"sp1\",\"sdname\":\"x\"}", NULL, &o,
             "ERR_REQUEST_INVALID", &f->msg, &f->out);
    memset(&o, 0, sizeof o);
    o.tee = "another-tee";
    delete_ta1_fails(f, f->tam, &o, "ERR_REQUEST_INVALID");
    /* CreateSD for another device (did of another certificate) */
    req_fail(&f->c, f->tam, "CreateSD",
             content_of("{\"spid\":\"sp1\",\"sdname\":\"sd9\",\"spcert\":\"%s\","
                        "\"did\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}", g_sp1_cert),
             NULL, NULL, "ERR_REQUEST_INVALID", &f->msg, &f->out);
    /* content that is not JSON */
    memset(&o, 0, sizeof o);
    o.content_text = "not json";
    req_fail(&f->c, f->tam, "DeleteTA", "{}", NULL, &o, "ERR_REQUEST_INVALID", &f->msg, &f->out);
}

static void test_mocktee_err_unsupported_msg_version(void **state)
{
    fx *f = *state;
    test_tam_opts o;
    memset(&o, 0, sizeof o);
    o.ver = "2.0";
    delete_ta1_fails(f, f->tam, &o, "ERR_UNSUPPORTED_MSG_VERSION");
}

static void test_mocktee_err_unsupported_crypto_alg(void **state)
{
    fx *f = *state;
    test_tam_opts o;
    memset(&o, 0, sizeof o);
    o.protected_json = "{\"alg\":\"HS256\"}";
    delete_ta1_fails(f, f->tam, &o, "ERR_UNSUPPORTED_CRYPTO_ALG");
    /* GetDeviceState offers the algorithms the TEE takes. */
    assert_int_equal(test_tam_get_device_state(f->tam, &o, &f->msg), OTRP_OK);
    test_tam_answer a;
    exchange(&f->c, f->tam, "GetDeviceState", &f->msg, &f->out, &a);
    assert_string_equal(a.error_code, "ERR_UNSUPPORTED_CRYPTO_ALG");
    /* only what the TEE accepts from a TAM: RS256, the TAM keys being RSA (P3) */
    char *algs = cJSON_PrintUnformatted(otrp__json_member(a.tbs, "supportedsigalgs"));
    assert_string_equal(algs, "[\"RS256\"]");
    cJSON_free(algs);
    test_tam_answer_free(&a);
}

/* Untrusted signers: another root, expired, a P-256 key (P3), no OTrP TAM marker, and a
 * TEE identity issued by the TEE's own trust anchor (PROFILE P10: a TEE identity is
 * never a TAM). */
static void test_mocktee_err_tam_not_trusted(void **state)
{
    fx *f = *state;
    test_tam *tams[] = {g_rogue, g_expired, g_tamec, g_nomark, g_tee_signer};
    for (size_t i = 0; i < sizeof tams / sizeof tams[0]; i++) {
        test_tam_answer a;
        assert_int_equal(test_tam_get_device_state(tams[i], NULL, &f->msg), OTRP_OK);
        assert_int_equal(call(&f->c, &f->msg, &f->out), OTRP_OK);
        assert_int_equal(test_tam_read(tams[i], "GetDeviceState", (char *)f->out.data, f->out.len, &a),
                         OTRP_OK);
        assert_string_equal(a.status, "fail");
        assert_string_equal(a.error_code, "ERR_TAM_NOT_TRUSTED");
        assert_null(otrp__json_member(a.tbs, "edsi")); /* never to an untrusted TAM */
        if (tams[i] == g_nomark || tams[i] == g_tee_signer)
            assert_non_null(strstr(a.error_message, "OTrP TAM"));
        test_tam_answer_free(&a);
    }
    /* A later request signed with a TEE identity is refused the same way. */
    assert_int_equal(test_tam_learn_from(g_tee_signer, f->tam), OTRP_OK);
    delete_ta1_fails(f, g_tee_signer, NULL, "ERR_TAM_NOT_TRUSTED");
}

/* (Another TAM's SD is not found at all: test_mocktee_isolation_sds_tas_spaiks.) */
static void test_mocktee_err_tam_not_authorized(void **state)
{
    fx *f = *state;
    /* tamid that is not the signer's */
    req_fail(&f->c, f->tam, "DeleteTA", "{\"tamid\":\"tam2.example\",\"sdname\":\"sd1\",\"taid\":\"ta1\"}",
             NULL, NULL, "ERR_TAM_NOT_AUTHORIZED", &f->msg, &f->out);
}

static void test_mocktee_err_dev_state_mismatch(void **state)
{
    fx *f = *state;
    char old[64];
    (void)snprintf(old, sizeof old, "%s", test_tam_dsihash(f->tam));
    test_tam_answer a;
    req_pass(&f->c, f->tam, "DeleteTA", "{\"sdname\":\"sd1\",\"taid\":\"ta1\"}", NULL, &f->msg,
             &f->out, &a);
    test_tam_answer_free(&a);
    /* A replayed request carries the old dsihash. */
    test_tam_opts o;
    memset(&o, 0, sizeof o);
    o.dsihash = old;
    req_fail(&f->c, f->tam, "DeleteSD", "{\"sdname\":\"sd1\"}", NULL, &o, "ERR_DEV_STATE_MISMATCH",
             &f->msg, &f->out);
    /* A failed operation does not move the reference: the current hash still works. */
    req_pass(&f->c, f->tam, "DeleteSD", "{\"sdname\":\"sd1\"}", NULL, &f->msg, &f->out, &a);
    test_tam_answer_free(&a);
}

static void test_mocktee_nextdsi_false_keeps_reference(void **state)
{
    fx *f = *state;
    char before[64];
    (void)snprintf(before, sizeof before, "%s", test_tam_dsihash(f->tam));
    test_tam_opts o;
    memset(&o, 0, sizeof o);
    o.no_nextdsi = 1;
    test_tam_answer a;
    req(&f->c, f->tam, "CreateSD",
        content_of("{\"spid\":\"sp1\",\"sdname\":\"sd2\",\"spcert\":\"%s\"}", g_sp1_cert), NULL, &o,
        &f->msg, &f->out, &a);
    assert_string_equal(a.status, "pass");
    assert_null(a.dsi);
    test_tam_answer_free(&a);
    assert_string_equal(test_tam_dsihash(f->tam), before);
    req_pass(&f->c, f->tam, "DeleteSD", "{\"sdname\":\"sd2\"}", NULL, &f->msg, &f->out, &a);
    test_tam_answer_free(&a);
}

static void test_mocktee_err_sd_already_exists(void **state)
{
    fx *f = *state;
    req_fail(&f->c, f->tam, "CreateSD",
             content_of("{\"spid\":\"sp1\",\"sdname\":\"sd1\",\"spcert\":\"%s\"}", g_sp1_cert), NULL,
             NULL, "ERR_SD_ALREADY_EXISTS", &f->msg, &f->out);
}

static void test_mocktee_err_sd_not_found(void **state)
{
    fx *f = *state;
    req_fail(&f->c, f->tam, "DeleteSD", "{\"sdname\":\"nosuch\"}", NULL, NULL, "ERR_SD_NOT_FOUND",
             &f->msg, &f->out);
}

static void test_mocktee_err_sd_not_empty(void **state)
{
    fx *f = *state;
    req_fail(&f->c, f->tam, "DeleteSD", "{\"sdname\":\"sd1\",\"deleteta\":false}", NULL, NULL,
             "ERR_SD_NOT_EMPTY", &f->msg, &f->out);
}

static void test_mocktee_err_sdname_already_used(void **state)
{
    fx *f = *state;
    test_tam_answer a;
    req_pass(&f->c, f->tam, "CreateSD",
             content_of("{\"spid\":\"sp1\",\"sdname\":\"sd2\",\"spcert\":\"%s\"}", g_sp1_cert), NULL,
             &f->msg, &f->out, &a);
    test_tam_answer_free(&a);
    req_fail(&f->c, f->tam, "UpdateSD",
             "{\"spid\":\"sp1\",\"sdname\":\"sd2\",\"changes\":{\"newsdname\":\"sd1\"}}", NULL, NULL,
             "ERR_SDNAME_ALREADY_USED", &f->msg, &f->out);
}

static void test_mocktee_err_spcert_invalid(void **state)
{
    fx *f = *state;
    req_fail(&f->c, f->tam, "CreateSD",
             "{\"spid\":\"sp1\",\"sdname\":\"sd3\",\"spcert\":\"bm90IGEgY2VydGlmaWNhdGU=\"}", NULL,
             NULL, "ERR_SPCERT_INVALID", &f->msg, &f->out);
    req_fail(&f->c, f->tam, "UpdateSD",
             "{\"spid\":\"sp1\",\"sdname\":\"sd1\",\"changes\":{\"spcert\":[\"!!\"]}}", NULL, NULL,
             "ERR_SPCERT_INVALID", &f->msg, &f->out);
}

static char *template_spaik(fx *f);

/* ERR_SPCERT_INVALID only where the draft lists it (CreateSD, UpdateSD): a bad SP
 * certificate that comes with an InstallTA or UpdateTA makes the TA unverifiable. */
static void test_mocktee_spcert_error_per_message(void **state)
{
    fx *f = *state;
    char *spaik = template_spaik(f);
    const char *names[] = {"InstallTA", "UpdateTA"};
    const char *content[] = {"{\"spid\":\"sp1\",\"sdname\":\"sd1\",\"taid\":\"ta9\",\"spcert\":\"!!\"}",
                             "{\"spid\":\"sp1\",\"sdname\":\"sd1\",\"taid\":\"ta1\",\"spcert\":[\"!!\"]}"};
    for (int i = 0; i < 2; i++) {
        cJSON *extra = ta_extra(g_sp1, spaik, "x", 1, NULL, i);
        req_fail(&f->c, f->tam, names[i], content[i], extra, NULL, "ERR_TA_INVALID", &f->msg,
                 &f->out);
        cJSON_Delete(extra);
    }
    free(spaik);
}

static char *template_spaik(fx *f)
{
    /* The template's SP AIK, from a fresh DSI. */
    test_tam_answer a;
    assert_int_equal(test_tam_get_device_state(f->tam, NULL, &f->msg), OTRP_OK);
    exchange(&f->c, f->tam, "GetDeviceState", &f->msg, &f->out, &a);
    char *spaik = spaik_of(a.dsi, "sp1");
    test_tam_answer_free(&a);
    assert_non_null(spaik);
    return spaik;
}

static void test_mocktee_err_ta_invalid(void **state)
{
    fx *f = *state;
    char *spaik = template_spaik(f);
    const char *c = "{\"spid\":\"sp1\",\"sdname\":\"sd1\",\"taid\":\"ta9\"}";
    /* signed by an SP key the SD does not know */
    cJSON *extra = ta_extra(g_sp_rogue, spaik, "evil", 4, NULL, 0);
    req_fail(&f->c, f->tam, "InstallTA", c, extra, NULL, "ERR_TA_INVALID", &f->msg, &f->out);
    cJSON_Delete(extra);
    /* ciphertext tampered */
    extra = ta_extra(g_sp1, spaik, "a TA binary of some length", 26, NULL, 0);
    cJSON *eta = cJSON_GetObjectItemCaseSensitive(extra, "encrypted_ta");
    char *ct = strdup(otrp__json_string(eta, "ciphertadata"));
    ct[5] = ct[5] == 'A' ? 'B' : 'A';
    cJSON_ReplaceItemInObjectCaseSensitive(eta, "ciphertadata", cJSON_CreateString(ct));
    free(ct);
    req_fail(&f->c, f->tam, "InstallTA", c, extra, NULL, "ERR_TA_INVALID", &f->msg, &f->out);
    cJSON_Delete(extra);
    /* a key wrapped to another key */
    extra = ta_extra(g_sp1, spaik, "x", 1, NULL, 0);
    eta = cJSON_GetObjectItemCaseSensitive(extra, "encrypted_ta");
    char *key = strdup(otrp__json_string(eta, "key"));
    key[strlen(key) / 2] = key[strlen(key) / 2] == 'A' ? 'B' : 'A';
    cJSON_ReplaceItemInObjectCaseSensitive(eta, "key", cJSON_CreateString(key));
    free(key);
    req_fail(&f->c, f->tam, "InstallTA", c, extra, NULL, "ERR_TA_INVALID", &f->msg, &f->out);
    cJSON_Delete(extra);
    free(spaik);
}

/* Requests whose long members (the JWS payload, TA ciphertext and data, all longer than
 * OTRP__MOCK_LIFT_MIN) take the lifted parse: accepted whole, refused when duplicated,
 * truncated or of the wrong type, exactly as short ones are. */
static void test_mocktee_large_members_checked(void **state)
{
    fx *f = *state;
    char *spaik = template_spaik(f);
    const char *c = "{\"spid\":\"sp1\",\"sdname\":\"sd1\",\"taid\":\"ta-big\"}";
    size_t n = 4 * OTRP__MOCK_LIFT_MIN;
    char *bin = malloc(n), *pdata = malloc(n + 1);
    assert_non_null(bin);
    assert_non_null(pdata);
    for (size_t i = 0; i < n; i++)
        bin[i] = (char)(i * 7u);
    memset(pdata, 'p', n);
    pdata[n] = '\0';
    cJSON *extra = ta_extra(g_sp1, spaik, bin, n, pdata, 0);
    cJSON *eta = cJSON_GetObjectItemCaseSensitive(extra, "encrypted_ta");
    assert_true(strlen(otrp__json_string(eta, "ciphertadata")) > OTRP__MOCK_LIFT_MIN);
    assert_true(strlen(otrp__json_string(eta, "cipherpdata")) > OTRP__MOCK_LIFT_MIN);

    /* the ciphertext inside an array: not a string */
    cJSON *ct = cJSON_DetachItemFromObjectCaseSensitive(eta, "ciphertadata");
    cJSON *arr = cJSON_CreateArray();
    cJSON_AddItemToArray(arr, ct);
    cJSON_AddItemToObject(eta, "ciphertadata", arr);
    req_fail(&f->c, f->tam, "InstallTA", c, extra, NULL, "ERR_REQUEST_INVALID", &f->msg, &f->out);
    ct = cJSON_DetachItemFromArray(arr, 0);
    cJSON_DeleteItemFromObjectCaseSensitive(eta, "ciphertadata");
    cJSON_AddItemToObject(eta, "ciphertadata", ct);

    /* the honest request: both long members arrive whole */
    test_tam_answer a;
    cJSON *cj = cJSON_Parse(c);
    assert_int_equal(test_tam_request(f->tam, "InstallTA", cj, extra, NULL, &f->msg), OTRP_OK);
    cJSON_Delete(cj);
    otrp_buf msg = {0};
    assert_int_equal(otrp_buf_append(&msg, f->msg.data, f->msg.len), OTRP_OK);
    assert_true(msg.len > 2 * OTRP__MOCK_LIFT_MIN);
    exchange(&f->c, f->tam, "InstallTA", &f->msg, &f->out, &a);
    assert_string_equal(a.status, "pass");
    assert_int_equal(dsi_count(a.dsi, "ta", "ta-big"), 1);
    test_tam_answer_free(&a);
    const cJSON *ta = otrp__mock_ta_find_any(((otrp__mock *)f->c.ctx)->state, "tam1.example", "ta-big", NULL);
    assert_non_null(ta);
    assert_int_equal((size_t)otrp__json_member(ta, "bin_len")->valuedouble, n);
    assert_int_equal((size_t)otrp__json_member(ta, "pdata_len")->valuedouble, n);

    /* the same message truncated inside its payload, and duplicated: not answered */
    otrp_tee_call tc = {sizeof tc, 0, 0, NULL};
    assert_int_equal(f->c.ops->process_message(f->c.ctx, &tc, (char *)msg.data, msg.len / 2,
                                               &f->out),
                     OTRP_ERR_MSG_NOT_JSON);
    otrp_buf dup = {0};
    assert_int_equal(otrp_buf_append(&dup, msg.data, msg.len - 1), OTRP_OK);
    assert_int_equal(otrp_buf_append_str(&dup, ","), OTRP_OK);
    assert_int_equal(otrp_buf_append(&dup, msg.data + 1, msg.len - 1), OTRP_OK);
    assert_int_equal(f->c.ops->process_message(f->c.ctx, &tc, (char *)dup.data, dup.len, &f->out),
                     OTRP_ERR_MSG_DUPLICATE);
    otrp_buf_free(&dup);
    otrp_buf_free(&msg);

    /* a signed payload with the long member twice: a signed ERR_REQUEST_INVALID */
    otrp_buf tbs = {0};
    const char *ct64 = otrp__json_string(eta, "ciphertadata");
    assert_int_equal(otrp_buf_append_str(&tbs, "{\"InstallTATBSRequest\":{\"ver\":\"1.0\","
                                               "\"rid\":\"r\",\"tid\":\"t\",\"encrypted_ta\":{"
                                               "\"ciphertadata\":\""), OTRP_OK);
    assert_int_equal(otrp_buf_append_str(&tbs, ct64), OTRP_OK);
    assert_int_equal(otrp_buf_append_str(&tbs, "\",\"ciphertadata\":\""), OTRP_OK);
    assert_int_equal(otrp_buf_append_str(&tbs, ct64), OTRP_OK);
    assert_int_equal(otrp_buf_append_str(&tbs, "\"}}}"), OTRP_OK);
    assert_int_equal(test_tam_sign_payload(f->tam, "InstallTARequest", tbs.data, tbs.len, &f->msg),
                     OTRP_OK);
    assert_int_equal(call(&f->c, &f->msg, &f->out), OTRP_OK);
    assert_int_equal(test_tam_read(f->tam, "InstallTA", (char *)f->out.data, f->out.len, &a),
                     OTRP_OK);
    assert_string_equal(a.status, "fail");
    assert_string_equal(a.error_code, "ERR_REQUEST_INVALID");
    assert_non_null(strstr(a.error_message, "duplicate"));
    test_tam_answer_free(&a);
    /* and truncated inside the long member */
    assert_int_equal(test_tam_sign_payload(f->tam, "InstallTARequest", tbs.data, tbs.len / 2,
                                           &f->msg),
                     OTRP_OK);
    assert_int_equal(call(&f->c, &f->msg, &f->out), OTRP_OK);
    assert_int_equal(test_tam_read(f->tam, "InstallTA", (char *)f->out.data, f->out.len, &a),
                     OTRP_OK);
    assert_string_equal(a.error_code, "ERR_REQUEST_INVALID");
    assert_non_null(strstr(a.error_message, "not JSON"));
    test_tam_answer_free(&a);
    otrp_buf_free(&tbs);
    cJSON_Delete(extra);
    free(bin);
    free(pdata);
    free(spaik);
}

/* TA binaries up to OTRP__MOCK_INLINE_MAX bytes are kept in the state document, larger
 * ones in blobs; both come back whole after a restart, at the boundary too. */
static void test_mocktee_inline_and_blob_tas_persist(void **state)
{
    fx *f = *state;
    char *spaik = template_spaik(f);
    const size_t sizes[] = {1, OTRP__MOCK_INLINE_MAX - 1, OTRP__MOCK_INLINE_MAX,
                            OTRP__MOCK_INLINE_MAX + 1};
    char *bin = malloc(OTRP__MOCK_INLINE_MAX + 1);
    assert_non_null(bin);
    for (size_t i = 0; i < OTRP__MOCK_INLINE_MAX + 1; i++)
        bin[i] = (char)(i * 13u + 5u);
    for (size_t k = 0; k < 4; k++) {
        char content[128];
        (void)snprintf(content, sizeof content,
                       "{\"spid\":\"sp1\",\"sdname\":\"sd1\",\"taid\":\"size%zu\"}", k);
        cJSON *extra = ta_extra(g_sp1, spaik, bin, sizes[k], k % 2 ? "data" : NULL, 0);
        test_tam_answer a;
        req_pass(&f->c, f->tam, "InstallTA", content, extra, &f->msg, &f->out, &a);
        test_tam_answer_free(&a);
        cJSON_Delete(extra);
    }
    f->c.ops->destroy(f->c.ctx);
    f->c.ctx = NULL; /* the teardown must not close it again if the reopening fails */
    f->c = open_mock(f->dir);
    otrp__mock *tee = f->c.ctx;
    otrp_buf got = {0};
    for (size_t k = 0; k < 4; k++) {
        char taid[16];
        (void)snprintf(taid, sizeof taid, "size%zu", k);
        const cJSON *ta = otrp__mock_ta_find_any(tee->state, "tam1.example", taid, NULL);
        assert_non_null(ta);
        assert_int_equal(otrp__mock_ta_data(tee, ta, "bin", &got), OTRP_OK);
        assert_int_equal(got.len, sizes[k]);
        assert_memory_equal(got.data, bin, sizes[k]);
        int inline_bin = otrp__json_member(ta, "bin_inline") != NULL;
        assert_int_equal(inline_bin, sizes[k] <= OTRP__MOCK_INLINE_MAX);
        assert_int_equal(otrp__json_member(ta, "bin") != NULL, !inline_bin);
        assert_int_equal(otrp__mock_ta_data(tee, ta, "pdata", &got),
                         k % 2 ? OTRP_OK : OTRP_ERR_NOT_FOUND);
        if (k % 2)
            assert_memory_equal(got.data, "data", 4);
    }
    otrp_buf_free(&got);
    free(bin);
    free(spaik);
}

static void test_mocktee_err_ta_already_installed(void **state)
{
    fx *f = *state;
    char *spaik = template_spaik(f);
    cJSON *extra = ta_extra(g_sp1, spaik, "again", 5, NULL, 0);
    req_fail(&f->c, f->tam, "InstallTA", "{\"spid\":\"sp1\",\"sdname\":\"sd1\",\"taid\":\"ta1\"}",
             extra, NULL, "ERR_TA_ALREADY_INSTALLED", &f->msg, &f->out);
    cJSON_Delete(extra);
    free(spaik);
}

static void test_mocktee_err_ta_not_found(void **state)
{
    fx *f = *state;
    req_fail(&f->c, f->tam, "DeleteTA", "{\"sdname\":\"sd1\",\"taid\":\"nosuch\"}", NULL, NULL,
             "ERR_TA_NOT_FOUND", &f->msg, &f->out);
    char *spaik = template_spaik(f);
    cJSON *extra = ta_extra(g_sp1, spaik, "x", 1, NULL, 1);
    req_fail(&f->c, f->tam, "UpdateTA", "{\"spid\":\"sp1\",\"sdname\":\"sd1\",\"taid\":\"nosuch\"}",
             extra, NULL, "ERR_TA_NOT_FOUND", &f->msg, &f->out);
    cJSON_Delete(extra);
    free(spaik);
}

static void test_mocktee_err_tee_resource_full(void **state)
{
    fx *f = *state;
    char *spaik = template_spaik(f);
    size_t n = 1100 * 1024; /* over the fixture's 1 MiB quota */
    char *big = malloc(n);
    memset(big, 'T', n);
    cJSON *extra = ta_extra(g_sp1, spaik, big, n, NULL, 0);
    free(big);
    req_fail(&f->c, f->tam, "InstallTA", "{\"spid\":\"sp1\",\"sdname\":\"sd1\",\"taid\":\"big\"}",
             extra, NULL, "ERR_TEE_RESOURCE_FULL", &f->msg, &f->out);
    cJSON_Delete(extra);
    free(spaik);
}

static void test_mocktee_err_tee_fail(void **state)
{
    fx *f = *state;
    /* The disk refuses the commit: a signed ERR_TEE_FAIL, and nothing changed. */
    ((otrp__mock *)f->c.ctx)->fault = OTRP__MOCK_FAULT_COMMIT;
    delete_ta1_fails(f, f->tam, NULL, "ERR_TEE_FAIL");
    test_tam_answer a;
    req_pass(&f->c, f->tam, "DeleteTA", "{\"sdname\":\"sd1\",\"taid\":\"ta1\"}", NULL, &f->msg,
             &f->out, &a);
    test_tam_answer_free(&a);
}

static void test_mocktee_pending_list_is_bounded(void **state)
{
    fx *f = *state;
    otrp_tee_call tc = {sizeof tc, 0, 0, NULL};
    otrp_buf uri = {0}, msg = {0};
    for (int i = 0; i < OTRP__MOCK_MAX_PENDING; i++) {
        char taid[32];
        (void)snprintf(taid, sizeof taid, "want-%d", i);
        assert_int_equal(f->c.ops->request_ta(f->c.ctx, &tc, taid, NULL, &uri, &msg), OTRP_OK);
    }
    assert_int_equal(f->c.ops->request_ta(f->c.ctx, &tc, "one-more", NULL, &uri, &msg), OTRP_ERR_QUOTA);
    /* asking again for a listed TA is no new entry */
    assert_int_equal(f->c.ops->request_ta(f->c.ctx, &tc, "want-0", NULL, &uri, &msg), OTRP_OK);
    assert_int_equal(f->c.ops->request_ta(f->c.ctx, &tc, "bad id", NULL, &uri, &msg),
                     OTRP_ERR_INVALID_ARG);
    otrp_buf_free(&uri);
    otrp_buf_free(&msg);
}

static void test_mocktee_cannot_sign(void **state)
{
    fx *f = *state;
    /* No signed answer is possible: the agent gets a status, the state is unchanged. */
    ((otrp__mock *)f->c.ctx)->fault = OTRP__MOCK_FAULT_SIGN;
    cJSON *c = cJSON_Parse("{\"sdname\":\"sd1\",\"taid\":\"ta1\"}");
    assert_int_equal(test_tam_request(f->tam, "DeleteTA", c, NULL, NULL, &f->msg), OTRP_OK);
    cJSON_Delete(c);
    assert_int_equal(call(&f->c, &f->msg, &f->out), OTRP_ERR_TEE_FAIL);
    assert_int_equal(f->out.len, 0);
    ((otrp__mock *)f->c.ctx)->fault = 0;
    test_tam_answer a;
    req_pass(&f->c, f->tam, "DeleteTA", "{\"sdname\":\"sd1\",\"taid\":\"ta1\"}", NULL, &f->msg,
             &f->out, &a);
    test_tam_answer_free(&a);
}

/* Every TA binary the state names (blob or inline) is there and intact, and no temporary
 * file is left. */
static void check_store_clean(otrp__mock *tee)
{
    otrp_buf b = {0};
    for (const cJSON *sd = otrp__json_member(tee->state, "sds")->child; sd != NULL; sd = sd->next)
        for (const cJSON *ta = otrp__json_member(sd, "tas")->child; ta != NULL; ta = ta->next)
            assert_int_equal(otrp__mock_ta_data(tee, ta, "bin", &b), OTRP_OK);
    otrp_buf_free(&b);
    char cmd[700];
    (void)snprintf(cmd, sizeof cmd, "ls -a %s/state %s/state/blobs | grep -q '^\\.tmp-'", tee->dir,
                   tee->dir);
    assert_int_not_equal(system(cmd), 0);
}

/* A simulated crash at every step of the writes of an InstallTA, an UpdateTA (each with a
 * small binary kept inline in the state, and a large one in a blob) and a DeleteTA: after
 * a restart the TA is fully there (old or new) or absent, never torn. */
static void test_mocktee_crash_at_every_write_step(void **state)
{
    (void)state;
    const char *ops[] = {"InstallTA", "UpdateTA", "DeleteTA", "InstallTA", "UpdateTA"};
    size_t large = OTRP__MOCK_INLINE_MAX + 100;
    char *large_bin = malloc(large);
    assert_non_null(large_bin);
    memset(large_bin, 'L', large);
    memcpy(large_bin, "new binary", 10);
    for (size_t op = 0; op < 5; op++) {
        const char *new_bin = op < 3 ? "new binary" : large_bin;
        size_t new_len = op < 3 ? 10 : large;
        for (unsigned k = 1; k <= 9; k++) {
            char base[512], dir[600];
            assert_int_equal(fx_tempdir(base, sizeof base, "crashpt"), 0);
            (void)snprintf(dir, sizeof dir, "%s/tee", base);
            assert_int_equal(fx_copy_dir(g_template, dir), 0);
            conn c = open_mock(dir);
            otrp_buf msg = {0}, out = {0};
            test_tam *tam = NULL;
            assert_int_equal(test_tam_new(PKI "tam1-key.pem", PKI "tam1.pem", &tam), OTRP_OK);
            test_tam_answer a;
            assert_int_equal(test_tam_get_device_state(tam, NULL, &msg), OTRP_OK);
            exchange(&c, tam, "GetDeviceState", &msg, &out, &a);
            char *spaik = spaik_of(a.dsi, "sp1");
            test_tam_answer_free(&a);
            const char *taid = op % 3 == 0 ? "ta2" : "ta1";
            cJSON *extra = op == 2 ? NULL
                                   : ta_extra(g_sp1, spaik, new_bin, new_len, NULL, op % 3 == 1);
            char content[128];
            (void)snprintf(content, sizeof content,
                           "{\"spid\":\"sp1\",\"sdname\":\"sd1\",\"taid\":\"%s\"}", taid);
            ((otrp__mock *)c.ctx)->store.crash_countdown = k;
            req(&c, tam, ops[op], content, extra, NULL, &msg, &out, &a);
            int completed = strcmp(a.status, "pass") == 0;
            if (k == 9) /* past the last step: every step above was a crash point */
                assert_true(completed);
            test_tam_answer_free(&a);
            cJSON_Delete(extra);
            c.ops->destroy(c.ctx);
            /* restart on what the "crash" left */
            c = open_mock(dir);
            otrp__mock *tee = c.ctx;
            check_store_clean(tee);
            cJSON *sd = NULL;
            const cJSON *ta = otrp__mock_ta_find_any(tee->state, "tam1.example", taid, &sd);
            otrp_buf bin = {0};
            if (ta != NULL)
                assert_int_equal(otrp__mock_ta_data(tee, ta, "bin", &bin), OTRP_OK);
            int is_new = ta != NULL && bin.len == new_len && memcmp(bin.data, new_bin, new_len) == 0;
            int is_old = ta != NULL && bin.len == 13 && memcmp(bin.data, "TA one binary", 13) == 0;
            if (op % 3 == 0)
                assert_true(ta == NULL || is_new);
            else if (op % 3 == 1)
                assert_true(is_old || is_new);
            else
                assert_true(ta == NULL || is_old);
            /* the answer told the truth: a pass means the change is there */
            if (completed)
                assert_true(op == 2 ? ta == NULL : is_new);
            otrp_buf_free(&bin);
            free(spaik);
            test_tam_free(tam);
            otrp_buf_free(&msg);
            otrp_buf_free(&out);
            c.ops->destroy(c.ctx);
            fx_rm_rf(base);
        }
    }
    free(large_bin);
}

/* ---- hostile requests ------------------------------------------------------------------- */

static void test_mocktee_hostile_unsigned_and_tampered(void **state)
{
    fx *f = *state;
    test_tam_opts o;
    memset(&o, 0, sizeof o);
    o.no_signature = 1;
    delete_ta1_fails(f, f->tam, &o, "ERR_REQUEST_INVALID");
    memset(&o, 0, sizeof o);
    o.tamper_payload = 1;
    delete_ta1_fails(f, f->tam, &o, "ERR_REQUEST_INVALID");
    memset(&o, 0, sizeof o);
    o.no_x5c = 1;
    delete_ta1_fails(f, f->tam, &o, "ERR_REQUEST_INVALID");
    /* signed with another key than the certificate's */
    otrp__jose_key *k = NULL;
    assert_int_equal(test_load_key(PKI "tam2-key.pem", &k), OTRP_OK);
    memset(&o, 0, sizeof o);
    o.sign_key = k;
    delete_ta1_fails(f, f->tam, &o, "ERR_REQUEST_INVALID");
    otrp__jose_key_free(k);
}

static void test_mocktee_hostile_alg_none(void **state)
{
    fx *f = *state;
    test_tam_opts o;
    memset(&o, 0, sizeof o);
    o.protected_json = "{\"alg\":\"none\"}";
    delete_ta1_fails(f, f->tam, &o, "ERR_UNSUPPORTED_CRYPTO_ALG");
}

static void test_mocktee_hostile_untrusted_signer_later(void **state)
{
    fx *f = *state;
    /* The rogue TAM knows the TEE (from tam1's session) and replays tam1's dsihash. */
    assert_int_equal(test_tam_learn_from(g_rogue, f->tam), OTRP_OK);
    delete_ta1_fails(f, g_rogue, NULL, "ERR_TAM_NOT_TRUSTED");
    assert_int_equal(test_tam_learn_from(g_expired, f->tam), OTRP_OK);
    delete_ta1_fails(f, g_expired, NULL, "ERR_TAM_NOT_TRUSTED");
}

static void test_mocktee_hostile_not_otrp(void **state)
{
    fx *f = *state;
    otrp_tee_call tc = {sizeof tc, 0, 0, NULL};
    struct {
        const char *text;
        otrp_status st;
    } cases[] = {
        {"not json", OTRP_ERR_MSG_NOT_JSON},
        {"[1,2]", OTRP_ERR_MSG_STRUCTURE},
        {"{\"a\":{},\"b\":{}}", OTRP_ERR_MSG_STRUCTURE},
        {"{\"FooRequest\":{}}", OTRP_ERR_MSG_UNKNOWN},
        {"{\"CreateSDRequest\":{},\"CreateSDRequest\":{}}", OTRP_ERR_MSG_DUPLICATE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_int_equal(f->c.ops->process_message(f->c.ctx, &tc, cases[i].text,
                                                   strlen(cases[i].text), &f->out),
                         cases[i].st);
    assert_int_equal(f->c.ops->process_message(f->c.ctx, &tc, "", 0, &f->out), OTRP_ERR_MSG_EMPTY);
    /* A known name with a broken body still gets a signed failure. */
    const char *bad = "{\"CreateSDRequest\":{\"payload\":\"!!\"}}";
    assert_int_equal(f->c.ops->process_message(f->c.ctx, &tc, bad, strlen(bad), &f->out), OTRP_OK);
    test_tam_answer a;
    assert_int_equal(test_tam_read(f->tam, "CreateSD", (char *)f->out.data, f->out.len, &a), OTRP_OK);
    assert_true(a.verified);
    assert_string_equal(a.error_code, "ERR_REQUEST_INVALID");
    test_tam_answer_free(&a);
}

static void test_mocktee_hostile_content_to_other_key(void **state)
{
    fx *f = *state;
    /* content encrypted to a key that is not the TEE's: it cannot be decrypted */
    otrp__jose_key *k = NULL;
    assert_int_equal(test_load_key(PKI "tam2-key.pem", &k), OTRP_OK);
    test_tam_opts o;
    memset(&o, 0, sizeof o);
    o.content_key = k;
    delete_ta1_fails(f, f->tam, &o, "ERR_REQUEST_INVALID");
    otrp__jose_key_free(k);
    /* another accepted key management alg works */
    memset(&o, 0, sizeof o);
    o.jwe_alg = OTRP__JOSE_ALG_RSA_OAEP_256;
    test_tam_answer a;
    req(&f->c, f->tam, "DeleteTA", "{\"sdname\":\"sd1\",\"taid\":\"ta1\"}", NULL, &o, &f->msg,
        &f->out, &a);
    assert_string_equal(a.status, "pass");
    test_tam_answer_free(&a);
}

/* ---- isolation between TAMs (PROFILE P10) ------------------------------------------------ */

#define URI1 "https://tam1.example/otrp"
#define URI2 "https://tam2.example/otrp"
/* A tee.json of the fixture TEE with more members (text starting with a comma). */
#define TEE_JSON_WITH(more)                                                               \
    "{\"name\": \"mocktee-test\", \"version\": \"1.0\", \"jwe_alg\": \"RSA1_5\", "         \
    "\"quota_bytes\": 1048576" more "}"

/* A fresh fixture TEE with tee_json, opened in process, and buffers for its messages. */
typedef struct tee_fx {
    char dir[512];
    conn c;
    otrp_buf msg, out;
} tee_fx;

static void tee_fx_open(tee_fx *t, const char *tee_json)
{
    memset(t, 0, sizeof *t);
    assert_int_equal(fx_teedir(t->dir, sizeof t->dir, tee_json), 0);
    t->c = open_mock(t->dir);
}

static void tee_fx_close(tee_fx *t)
{
    t->c.ops->destroy(t->c.ctx);
    fx_rm_rf(t->dir);
    otrp_buf_free(&t->msg);
    otrp_buf_free(&t->out);
}

/* A GetDeviceState by tam; returns the DSI (free()). */
static char *gds_dsi(conn *c, test_tam *tam, otrp_buf *msg, otrp_buf *out)
{
    test_tam_answer a;
    assert_int_equal(test_tam_get_device_state(tam, NULL, msg), OTRP_OK);
    exchange(c, tam, "GetDeviceState", msg, out, &a);
    assert_string_equal(a.status, "pass");
    char *dsi = strdup(a.dsi);
    test_tam_answer_free(&a);
    return dsi;
}

/* CreateSD sdname of SP sp1 by tam; returns its teespaik (free()). */
static char *create_sd(conn *c, test_tam *tam, const char *sdname, otrp_buf *msg, otrp_buf *out)
{
    test_tam_answer a;
    req_pass(c, tam, "CreateSD",
             content_of("{\"spid\":\"sp1\",\"sdname\":\"%s\",\"spcert\":\"%s\"}", sdname, g_sp1_cert),
             NULL, msg, out, &a);
    char *spaik = strdup(otrp__json_string(a.content, "teespaik"));
    test_tam_answer_free(&a);
    return spaik;
}

/* InstallTA taid (binary bin) into sdname by tam, encrypted to spaik; the answer's status
 * and error code must be want ("pass" or an ERR_ code). */
static void install(conn *c, test_tam *tam, const char *sdname, const char *taid, const char *spaik,
                    const char *bin, const char *want, otrp_buf *msg, otrp_buf *out)
{
    cJSON *extra = ta_extra(g_sp1, spaik, bin, strlen(bin), NULL, 0);
    const char *content = content_of("{\"spid\":\"sp1\",\"sdname\":\"%s\",\"taid\":\"%s\"}", sdname, taid);
    test_tam_answer a;
    if (strcmp(want, "pass") == 0)
        req_pass(c, tam, "InstallTA", content, extra, msg, out, &a);
    else
        req_fail(c, tam, "InstallTA", content, extra, NULL, want, msg, out);
    if (strcmp(want, "pass") == 0)
        test_tam_answer_free(&a);
    cJSON_Delete(extra);
}

/* The TA binary of taid in tamid's SDs. */
static void assert_ta_binary(conn *c, const char *tamid, const char *taid, const char *bin)
{
    otrp__mock *tee = c->ctx;
    const cJSON *ta = otrp__mock_ta_find_any(tee->state, tamid, taid, NULL);
    assert_non_null(ta);
    otrp_buf b = {0};
    assert_int_equal(otrp__mock_ta_data(tee, ta, "bin", &b), OTRP_OK);
    assert_int_equal(b.len, strlen(bin));
    assert_memory_equal(b.data, bin, b.len);
    otrp_buf_free(&b);
}

/* A second trusted TAM neither sees, nor squats, nor replaces the first one's SD, TA or
 * SP AIK, even with the same SD name, TA id and SP id. */
static void test_mocktee_isolation_sds_tas_spaiks(void **state)
{
    fx *f = *state;
    char *aik1 = template_spaik(f);
    assert_int_equal(test_tam_learn_from(g_tam2, f->tam), OTRP_OK);
    char *dsi = gds_dsi(&f->c, g_tam2, &f->msg, &f->out);
    assert_int_equal(dsi_count(dsi, "sd", NULL), 0);
    assert_null(strstr(dsi, aik1));
    free(dsi);
    /* tam1's sd1 does not exist for tam2 */
    delete_ta1_fails(f, g_tam2, NULL, "ERR_SD_NOT_FOUND");
    /* tam2's own sd1 of the same SP id, with an SP AIK of its own */
    char *aik2 = create_sd(&f->c, g_tam2, "sd1", &f->msg, &f->out);
    assert_string_not_equal(aik2, aik1);
    /* tam1's SP AIK is of no use to tam2 ... */
    install(&f->c, g_tam2, "sd1", "ta1", aik1, "squatter", "ERR_TA_INVALID", &f->msg, &f->out);
    /* ... and tam2 installs ta1 beside tam1's, which stays as it was */
    install(&f->c, g_tam2, "sd1", "ta1", aik2, "tam2's own ta1", "pass", &f->msg, &f->out);
    assert_ta_binary(&f->c, "tam2.example", "ta1", "tam2's own ta1");
    assert_ta_binary(&f->c, "tam1.example", "ta1", "TA one binary");
    /* renewing its SP AIK renews tam2's only */
    test_tam_answer a;
    req_pass(&f->c, g_tam2, "UpdateSD",
             "{\"spid\":\"sp1\",\"sdname\":\"sd1\",\"changes\":{\"renewteespaik\":true}}", NULL,
             &f->msg, &f->out, &a);
    assert_string_not_equal(otrp__json_string(a.content, "teespaik"), aik2);
    assert_string_not_equal(otrp__json_string(a.content, "teespaik"), aik1);
    assert_int_equal(dsi_count(a.dsi, "ta", NULL), 1);
    test_tam_answer_free(&a);
    dsi = gds_dsi(&f->c, f->tam, &f->msg, &f->out);
    char *still = spaik_of(dsi, "sp1");
    assert_string_equal(still, aik1);
    assert_int_equal(dsi_count(dsi, "sd", NULL), 1);
    assert_int_equal(dsi_count(dsi, "ta", "ta1"), 1);
    free(still);
    free(dsi);
    /* TAInformation of (sp1, ta1) names the TA installed first, tam1's */
    otrp_tee_call tc = {sizeof tc, 0, 0, NULL};
    otrp_buf info = {0};
    assert_int_equal(f->c.ops->ta_information(f->c.ctx, &tc, "sp1", "ta1", &info), OTRP_OK);
    cJSON *doc = cJSON_Parse((char *)info.data);
    otrp__jws *jws = NULL;
    assert_int_equal(otrp__jws_parse_json(otrp__json_member(doc, "TAInformation"), 0, &jws, NULL, 0),
                     OTRP_OK);
    size_t plen = 0;
    assert_non_null(strstr((const char *)otrp__jws_payload(jws, &plen), "\"tamid\":\"tam1.example\""));
    otrp__jws_free(jws);
    cJSON_Delete(doc);
    otrp_buf_free(&info);
    /* tam2 deletes its SD with its TA: tam1's SD, TA and SP AIK stay */
    assert_int_equal(test_tam_learn_from(g_tam2, f->tam), OTRP_OK);
    dsi = gds_dsi(&f->c, g_tam2, &f->msg, &f->out);
    free(dsi);
    req_pass(&f->c, g_tam2, "DeleteSD", "{\"sdname\":\"sd1\",\"deleteta\":true}", NULL, &f->msg,
             &f->out, &a);
    test_tam_answer_free(&a);
    dsi = gds_dsi(&f->c, f->tam, &f->msg, &f->out);
    still = spaik_of(dsi, "sp1");
    assert_string_equal(still, aik1);
    assert_int_equal(dsi_count(dsi, "ta", "ta1"), 1);
    free(still);
    free(dsi);
    assert_ta_binary(&f->c, "tam1.example", "ta1", "TA one binary");
    free(aik1);
    free(aik2);
}

/* tee.json's TAMs: tam_id and allowed_tams are checked like every other member. */
static void test_mocktee_config_tams(void **state)
{
    (void)state;
    struct {
        const char *json;
        const char *detail; /* NULL: accepted */
    } cases[] = {
        {"{\"name\":\"t\",\"tam_id\":\"\"}", "'tam_id' must not be empty"},
        {"{\"name\":\"t\",\"tam_id\":7}", "'tam_id' must be a string"},
        {"{\"name\":\"t\",\"allowed_tams\":{}}", "must be an array"},
        {"{\"name\":\"t\",\"allowed_tams\":[{\"uri\":\"https://a/\"}]}", "{\"uri\", \"tamid\"}"},
        {"{\"name\":\"t\",\"allowed_tams\":[{\"uri\":\"https://a/\",\"tamid\":\"a\",\"x\":1}]}",
         "{\"uri\", \"tamid\"}"},
        {"{\"name\":\"t\",\"allowed_tams\":[{\"uri\":\"\",\"tamid\":\"a\"}]}", "uri is empty"},
        {"{\"name\":\"t\",\"allowed_tams\":[{\"uri\":\"https://a/\",\"tamid\":\"\"}]}", "must not be empty"},
        {"{\"name\":\"t\",\"tam_uri\":\"https://own/\",\"tam_id\":\"own TAM\","
         "\"allowed_tams\":[{\"uri\":\"https://a/\",\"tamid\":\"a\"},{\"uri\":\"https://b/\",\"tamid\":\"b\"}]}",
         NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        otrp__mock_config cfg;
        char detail[256] = "";
        otrp_status st = otrp__mock_parse_config(cases[i].json, strlen(cases[i].json), &cfg, detail,
                                                 sizeof detail);
        if (cases[i].detail == NULL) {
            assert_int_equal(st, OTRP_OK);
            assert_string_equal(cfg.tam_id, "own TAM");
            assert_int_equal(cfg.n_allowed, 2);
            assert_string_equal(cfg.allowed_tams[1].uri, "https://b/");
            assert_string_equal(cfg.allowed_tams[1].tamid, "b");
            continue;
        }
        if (st != OTRP_ERR_CONFIG || strstr(detail, cases[i].detail) == NULL)
            fprintf(stderr, "case %zu: %s \"%s\"\n", i, otrp_status_name(st), detail);
        assert_int_equal(st, OTRP_ERR_CONFIG);
        assert_non_null(strstr(detail, cases[i].detail));
    }
}

/* request_ta with a hint; the TAM URI the TEE passes back. */
static void request(conn *c, const char *taid, const char *hint, const char *want_uri)
{
    otrp_tee_call tc = {sizeof tc, 0, 0, NULL};
    otrp_buf uri = {0}, msg = {0};
    assert_int_equal(c->ops->request_ta(c->ctx, &tc, taid, hint, &uri, &msg), OTRP_OK);
    assert_int_equal(msg.len, 0);
    assert_string_equal((char *)uri.data, want_uri);
    otrp_buf_free(&uri);
    otrp_buf_free(&msg);
}

/* 1 when tam's GetDeviceState lists taid as requested. */
static int sees_requested(conn *c, test_tam *tam, const char *taid, otrp_buf *msg, otrp_buf *out)
{
    char *dsi = gds_dsi(c, tam, msg, out);
    int n = dsi_count(dsi, "requestedtalist", taid);
    free(dsi);
    return n;
}

/* The TEE chooses the TAM (OTrP-03 §14.8: the app and the agent are untrusted): with a TAM
 * of its own it keeps it whatever the caller says; a requested TA is bound to that TAM,
 * listed to it alone and satisfied only by an install from it. */
static void test_mocktee_requested_ta_bound_to_chosen_tam(void **state)
{
    (void)state;
    tee_fx t;
    tee_fx_open(&t, TEE_JSON_WITH(", \"tam_uri\": \"" URI1 "\", \"tam_id\": \"tam1.example\""));
    conn *c = &t.c;
    request(c, "ta-x", URI2, URI1); /* the hint does not win */
    assert_int_equal(sees_requested(c, g_tam2, "ta-x", &t.msg, &t.out), 0);
    assert_int_equal(sees_requested(c, g_tam1, "ta-x", &t.msg, &t.out), 1);
    /* tam2 installing a ta-x of its own does not satisfy tam1's request */
    char *aik2 = create_sd(c, g_tam2, "sd2", &t.msg, &t.out);
    install(c, g_tam2, "sd2", "ta-x", aik2, "tam2's ta-x", "pass", &t.msg, &t.out);
    assert_int_equal(sees_requested(c, g_tam1, "ta-x", &t.msg, &t.out), 1);
    char *aik1 = create_sd(c, g_tam1, "sd1", &t.msg, &t.out);
    install(c, g_tam1, "sd1", "ta-x", aik1, "tam1's ta-x", "pass", &t.msg, &t.out);
    assert_int_equal(sees_requested(c, g_tam1, "ta-x", &t.msg, &t.out), 0);
    /* unrequested: listed as unneeded to tam1, whose ta-x it is, and not to tam2 */
    otrp_tee_call tc = {sizeof tc, 0, 0, NULL};
    otrp_buf uri = {0};
    assert_int_equal(c->ops->unrequest_ta(c->ctx, &tc, "ta-x", URI2, &uri, &t.msg), OTRP_OK);
    assert_string_equal((char *)uri.data, URI1);
    char *dsi = gds_dsi(c, g_tam1, &t.msg, &t.out);
    assert_int_equal(dsi_count(dsi, "unneededtalist", "ta-x"), 1);
    free(dsi);
    dsi = gds_dsi(c, g_tam2, &t.msg, &t.out);
    assert_int_equal(dsi_count(dsi, "unneededtalist", "ta-x"), 0);
    free(dsi);
    /* the policy check names the TEE's TAM, not the caller's */
    assert_int_equal(c->ops->policy_check(c->ctx, &tc, URI2, &uri, &t.msg), OTRP_OK);
    assert_string_equal((char *)uri.data, URI1);
    free(aik1);
    free(aik2);
    otrp_buf_free(&uri);
    tee_fx_close(&t);
}

/* Without a TAM of its own the TEE adopts the caller's hint; a hint on its allow-list it
 * adopts in any case, bound to the tamid the list names. */
static void test_mocktee_hint_adopted_without_own_tam_or_allowed(void **state)
{
    (void)state;
    tee_fx t;
    tee_fx_open(&t, TEE_JSON_WITH(", \"tam_uri\": \"\""));
    request(&t.c, "ta-y", URI2, URI2);
    tee_fx_close(&t);
    tee_fx_open(&t, TEE_JSON_WITH(", \"tam_uri\": \"" URI1 "\", \"tam_id\": \"tam1.example\", "
                                  "\"allowed_tams\": [{\"uri\": \"" URI2 "\", "
                                  "\"tamid\": \"tam2.example\"}]"));
    request(&t.c, "ta-z", URI2, URI2);
    request(&t.c, "ta-w", "https://elsewhere.example/", URI1);
    assert_int_equal(sees_requested(&t.c, g_tam1, "ta-z", &t.msg, &t.out), 0);
    assert_int_equal(sees_requested(&t.c, g_tam2, "ta-z", &t.msg, &t.out), 1);
    assert_int_equal(sees_requested(&t.c, g_tam2, "ta-w", &t.msg, &t.out), 0);
    assert_int_equal(sees_requested(&t.c, g_tam1, "ta-w", &t.msg, &t.out), 1);
    tee_fx_close(&t);
}

/* tee.json names a TAM URI but not its tamid: the first TAM whose GetDeviceState the TEE
 * verifies after passing that URI back is bound to it, for good (kept in the state). */
static void test_mocktee_tam_uri_bound_on_first_use(void **state)
{
    (void)state;
    tee_fx t;
    tee_fx_open(&t, TEE_JSON_WITH(", \"tam_uri\": \"" URI1 "\""));
    request(&t.c, "ta-v", NULL, URI1);
    assert_int_equal(sees_requested(&t.c, g_tam1, "ta-v", &t.msg, &t.out), 1);
    assert_int_equal(sees_requested(&t.c, g_tam2, "ta-v", &t.msg, &t.out), 0);
    t.c.ops->destroy(t.c.ctx);
    /* after a restart the binding holds: tam2 asking first sees nothing */
    t.c = open_mock(t.dir);
    request(&t.c, "ta-u", NULL, URI1);
    assert_int_equal(sees_requested(&t.c, g_tam2, "ta-u", &t.msg, &t.out), 0);
    assert_int_equal(sees_requested(&t.c, g_tam1, "ta-u", &t.msg, &t.out), 1);
    tee_fx_close(&t);
}

/* The wait for the TAM of a URI ends with the session that was to bring it: a failed
 * session (ProcessError) or a GetDeviceState that fails leaves nothing for the next TAM
 * to come along, e.g. through a session another TEE of the agent started. */
static void test_mocktee_tam_uri_binding_not_left_open(void **state)
{
    (void)state;
    tee_fx t;
    tee_fx_open(&t, TEE_JSON_WITH(", \"tam_uri\": \"" URI1 "\""));
    otrp_tee_call tc = {sizeof tc, 0, 0, NULL};
    request(&t.c, "ta-s", NULL, URI1);
    assert_int_equal(t.c.ops->process_error(t.c.ctx, &tc), OTRP_OK);
    assert_int_equal(sees_requested(&t.c, g_tam2, "ta-s", &t.msg, &t.out), 0);
    request(&t.c, "ta-s", NULL, URI1);
    test_tam_answer a;
    assert_int_equal(test_tam_get_device_state(g_nomark, NULL, &t.msg), OTRP_OK);
    assert_int_equal(call(&t.c, &t.msg, &t.out), OTRP_OK);
    assert_int_equal(test_tam_read(g_nomark, "GetDeviceState", (char *)t.out.data, t.out.len, &a),
                     OTRP_OK);
    assert_string_equal(a.error_code, "ERR_TAM_NOT_TRUSTED");
    test_tam_answer_free(&a);
    assert_int_equal(sees_requested(&t.c, g_tam2, "ta-s", &t.msg, &t.out), 0);
    /* handed out again, the URI binds its TAM */
    request(&t.c, "ta-s", NULL, URI1);
    assert_int_equal(sees_requested(&t.c, g_tam1, "ta-s", &t.msg, &t.out), 1);
    tee_fx_close(&t);
}

/* What tam's DSI shows of the migrated fixture: one SD holding taid, the SP AIK aik, and
 * (entries: 1) or not (0) tam1's requested ta-wanted and unneeded ta1. */
static void migrated_view(conn *c, test_tam *tam, const char *taid, const char *aik, int entries,
                          otrp_buf *msg, otrp_buf *out)
{
    char *dsi = gds_dsi(c, tam, msg, out);
    assert_int_equal(dsi_count(dsi, "sd", NULL), 1);
    assert_int_equal(dsi_count(dsi, "ta", taid), 1);
    assert_non_null(strstr(dsi, aik));
    assert_int_equal(dsi_count(dsi, "requestedtalist", "ta-wanted"), entries);
    assert_int_equal(dsi_count(dsi, "unneededtalist", "ta1"), entries);
    free(dsi);
}

/* A hint longer than any TAM URI the TEE keeps (OTRP__MOCK_MAX_URI) is refused: passed
 * back cut short, or kept whole in the state, it would be wrong or make the state
 * unreadable. */
static void test_mocktee_overlong_hint_refused(void **state)
{
    (void)state;
    tee_fx t;
    tee_fx_open(&t, TEE_JSON_WITH(", \"tam_uri\": \"\""));
    char hint[OTRP__MOCK_MAX_URI + 2];
    memset(hint, 'h', sizeof hint - 1);
    memcpy(hint, "https://", 8);
    hint[sizeof hint - 1] = '\0';
    otrp_tee_call tc = {sizeof tc, 0, 0, NULL};
    otrp_buf uri = {0};
    assert_int_equal(t.c.ops->request_ta(t.c.ctx, &tc, "ta-h", hint, &uri, &t.msg),
                     OTRP_ERR_INVALID_ARG);
    hint[sizeof hint - 2] = '\0'; /* the longest one kept */
    assert_int_equal(t.c.ops->request_ta(t.c.ctx, &tc, "ta-h", hint, &uri, &t.msg), OTRP_OK);
    assert_string_equal((char *)uri.data, hint);
    hint[sizeof hint - 2] = 'h';
    assert_int_equal(t.c.ops->policy_check(t.c.ctx, &tc, hint, &uri, &t.msg), OTRP_ERR_INVALID_ARG);
    t.c.ops->destroy(t.c.ctx);
    t.c = open_mock(t.dir); /* the state reads back */
    otrp_buf_free(&uri);
    tee_fx_close(&t);
}

/* A state directory in format /2 (test/data/mocktee-state-v2, made by the code of that
 * format) is read and migrated: every SD, TA, SP AIK, DSI reference and list entry is
 * kept, each TAM still sees its own, and the next commit writes the current format. */
static void test_mocktee_state_migrates_format_2(void **state)
{
    (void)state;
    char dir[512], cmd[1400];
    otrp_buf msg = {0}, out = {0};
    assert_int_equal(fx_teedir(dir, sizeof dir,
                               TEE_JSON_WITH(", \"tam_uri\": \"" URI1 "\", \"tam_id\": \"tam1.example\"")),
                     0);
    (void)snprintf(cmd, sizeof cmd, "cp -R test/data/mocktee-state-v2/state.json "
                   "test/data/mocktee-state-v2/blobs '%s/state/'", dir);
    assert_int_equal(system(cmd), 0);
    otrp_buf v2 = {0};
    assert_int_equal(test_read_file("test/data/mocktee-state-v2/state.json", &v2), OTRP_OK);
    cJSON *old = cJSON_Parse((char *)v2.data);
    otrp_buf_free(&v2);
    const char *aik = otrp__json_string(otrp__json_member(old, "spaiks")->child, "pub");
    const cJSON *refs = otrp__json_member(old, "dsirefs");
    conn c = open_mock(dir);
    assert_ta_binary(&c, "tam1.example", "ta1", "TA one binary");
    otrp_buf b = {0};
    assert_int_equal(otrp__mock_ta_data(c.ctx, otrp__mock_ta_find_any(((otrp__mock *)c.ctx)->state,
                                                                   "tam1.example", "ta-big", NULL),
                                        "bin", &b),
                     OTRP_OK);
    assert_int_equal(b.len, 6000);
    otrp_buf_free(&b);
    /* the DSI references: each TAM's next request with the old hash is accepted */
    test_tam *tams[] = {g_tam1, g_tam2};
    const char *deletes[] = {"{\"sdname\":\"sd1\",\"taid\":\"ta-big\"}", "{\"sdname\":\"sd2\",\"taid\":\"nosuch\"}"};
    for (int i = 0; i < 2; i++) {
        test_tam_opts o;
        memset(&o, 0, sizeof o);
        o.dsihash = otrp__json_string(i == 0 ? refs->child : refs->child->next, "hash");
        o.tee = "mocktee-test";
        if (tams[i] != g_tam1) /* the TEE key, learnt from this TEE identity before */
            assert_int_equal(test_tam_learn_from(tams[i], g_tam1), OTRP_OK);
        test_tam_answer a;
        req(&c, tams[i], "DeleteTA", deletes[i], NULL, &o, &msg, &out, &a);
        /* accepted (tam2's names no TA of its SD): the reference held */
        if (i == 0)
            assert_string_equal(a.status, "pass");
        else
            assert_string_equal(a.error_code, "ERR_TA_NOT_FOUND");
        test_tam_answer_free(&a);
    }
    /* tam1: sd1 with ta1, its SP AIK, ta-wanted requested, ta1 unneeded; tam2: sd2 with
     * ta2 and the same SP AIK (shared in /2), none of tam1's list entries */
    migrated_view(&c, g_tam1, "ta1", aik, 1, &msg, &out);
    migrated_view(&c, g_tam2, "ta2", aik, 0, &msg, &out);
    c.ops->destroy(c.ctx);
    /* committed in the current format, and it opens again */
    char path[600];
    (void)snprintf(path, sizeof path, "%s/state/state.json", dir);
    otrp_buf now = {0};
    assert_int_equal(test_read_file(path, &now), OTRP_OK);
    assert_non_null(strstr((char *)now.data, "\"format\":\"otrp-mocktee-state/3\""));
    otrp_buf_free(&now);
    c = open_mock(dir);
    assert_ta_binary(&c, "tam2.example", "ta2", "TA two");
    c.ops->destroy(c.ctx);
    cJSON_Delete(old);
    fx_rm_rf(dir);
    otrp_buf_free(&msg);
    otrp_buf_free(&out);
}

/* ---- PROFILE details ------------------------------------------------------------------- */

/* Sign a hand-written GetDeviceState TBS with tam1 and return the answer. */
static void gds_custom(fx *f, const char *tbs, test_tam_answer *a)
{
    assert_int_equal(test_tam_sign_payload(f->tam, "GetDeviceStateRequest", tbs, strlen(tbs), &f->msg),
                     OTRP_OK);
    exchange(&f->c, f->tam, "GetDeviceState", &f->msg, &f->out, a);
}

static void test_mocktee_gds_field_forms(void **state)
{
    fx *f = *state;
    test_tam_answer a;
    /* integer rid/tid are echoed as decimal strings; single-string ocspdat and a
     * comma-separated supportedsigalgs are accepted (P5) */
    gds_custom(f, "{\"GetDeviceStateTBSRequest\":{\"ver\":\"1.0\",\"rid\":42,\"tid\":7,"
                  "\"ocspdat\":\"AAAA\",\"supportedsigalgs\":\"ES256,RS256\"}}", &a);
    assert_string_equal(a.status, "pass");
    assert_string_equal(a.rid, "42");
    assert_string_equal(a.tid, "7");
    test_tam_answer_free(&a);
    /* a TAM that verifies ES256 only: the TEE cannot sign for it, and says which it can */
    gds_custom(f, "{\"GetDeviceStateTBSRequest\":{\"ver\":\"1.0\",\"rid\":\"r\",\"tid\":\"t\","
                  "\"ocspdat\":[],\"supportedsigalgs\":[\"ES256\"]}}", &a);
    assert_string_equal(a.error_code, "ERR_UNSUPPORTED_CRYPTO_ALG");
    assert_true(cJSON_IsArray(otrp__json_member(a.tbs, "supportedsigalgs")));
    test_tam_answer_free(&a);
    /* a fractional rid is not an id */
    gds_custom(f, "{\"GetDeviceStateTBSRequest\":{\"ver\":\"1.0\",\"rid\":1.5,\"tid\":\"t\"}}", &a);
    assert_string_equal(a.error_code, "ERR_REQUEST_INVALID");
    test_tam_answer_free(&a);
}

/* The status and echoed key ("rid"/"tid") of a TEE answer to a GetDeviceState; the echo
 * is NULL when the TEE refused the request. */
static char *gds_echo(test_tam *tam, const char *answer, size_t len, const char *key)
{
    test_tam_answer a;
    assert_int_equal(test_tam_read(tam, "GetDeviceState", answer, len, &a), OTRP_OK);
    char *echo = NULL;
    if (strcmp(a.status, "pass") == 0)
        echo = strdup(otrp__json_string(a.tbs, key));
    else
        assert_string_equal(a.error_code, "ERR_REQUEST_INVALID");
    test_tam_answer_free(&a);
    return echo;
}

/* PROFILE P5: the agent and the TEE take exactly the same rid/tid forms (the table of
 * test/support/id_forms.c), and both echo an integer as its digits. Each form goes to the
 * TEE itself and through the agent (otrp_agent_process) to another. */
static void test_mocktee_id_forms_agree_with_agent(void **state)
{
    (void)state;
    char dir_tee[512], dir_agent[512];
    assert_int_equal(fx_teedir(dir_tee, sizeof dir_tee, NULL), 0);
    assert_int_equal(fx_teedir(dir_agent, sizeof dir_agent, NULL), 0);
    conn c = open_mock(dir_tee);
    otrp_agent_config cfg;
    otrp_agent_config_init(&cfg);
    otrp_agent *agent = NULL;
    otrp_tee *tee = NULL;
    mock_wrap *w = NULL;
    assert_int_equal(otrp_agent_new(&cfg, &agent), OTRP_OK);
    assert_int_equal(mock_wrap_new(dir_agent, TEST_PKI_TIME, &tee, &w), OTRP_OK);
    assert_int_equal(otrp_agent_add_tee(agent, tee), OTRP_OK);
    otrp_buf msg = {0}, out = {0};
    const char *keys[] = {"rid", "tid"};
    unsigned disagreements = 0;
    for (size_t i = 0; i < test_id_form_count(); i++) {
        const test_id_form *form = test_id_form_at(i);
        for (int k = 0; k < 2; k++) {
            char tbs[1024];
            (void)snprintf(tbs, sizeof tbs,
                           "{\"GetDeviceStateTBSRequest\":{\"ver\":\"1.0\",\"%s\":%s,\"%s\":\"x\","
                           "\"ocspdat\":[],\"supportedsigalgs\":[\"RS256\"]}}",
                           keys[k], form->json, keys[1 - k]);
            assert_int_equal(test_tam_sign_payload(g_tam1, "GetDeviceStateRequest", tbs,
                                                   strlen(tbs), &msg),
                             OTRP_OK);
            /* the TEE */
            assert_int_equal(call(&c, &msg, &out), OTRP_OK);
            char *echo = gds_echo(g_tam1, (char *)out.data, out.len, keys[k]);
            /* the agent: it routes the form (the TEE is called) or refuses it */
            unsigned before = w->process_calls;
            char *resp = NULL;
            size_t resp_len = 0;
            otrp_status st = otrp_agent_process(agent, (char *)msg.data, msg.len, &resp, &resp_len);
            int routed = w->process_calls > before;
            int agree = (form->echo != NULL) == routed && (form->echo != NULL) == (echo != NULL);
            if (!agree) {
                fprintf(stderr, "%s %.40s: expected %s; the TEE %s it, the agent %s it (%s)\n",
                        keys[k], form->json, form->echo != NULL ? "accepted" : "refused",
                        echo != NULL ? "accepted" : "refused", routed ? "routed" : "refused",
                        otrp_status_name(st));
                disagreements++;
            } else if (form->echo != NULL) {
                assert_string_equal(echo, form->echo);
                assert_int_equal(st, OTRP_OK);
                cJSON *doc = cJSON_ParseWithLength(resp, resp_len);
                char *element = cJSON_PrintUnformatted(
                    cJSON_GetArrayItem(otrp__json_member(doc, "GetDeviceStateResponse"), 0));
                char *relayed = gds_echo(g_tam1, element, strlen(element), keys[k]);
                assert_string_equal(relayed, form->echo);
                free(relayed);
                cJSON_free(element);
                cJSON_Delete(doc);
            }
            otrp_free(resp);
            free(echo);
        }
    }
    assert_int_equal(disagreements, 0);
    otrp_agent_free(agent);
    c.ops->destroy(c.ctx);
    otrp_buf_free(&msg);
    otrp_buf_free(&out);
    fx_rm_rf(dir_tee);
    fx_rm_rf(dir_agent);
}

static void test_mocktee_gds_failure_carries_minimal_dsi(void **state)
{
    fx *f = *state;
    /* P8: a trusted TAM's failed GetDeviceState gets an edsi with name/ver/cert/cacert,
     * so the failure can be verified with the TEE certificate */
    test_tam *fresh = NULL;
    assert_int_equal(test_tam_new(PKI "tam1-key.pem", PKI "tam1.pem", &fresh), OTRP_OK);
    test_tam_opts o;
    memset(&o, 0, sizeof o);
    o.ver = "9.9";
    assert_int_equal(test_tam_get_device_state(fresh, &o, &f->msg), OTRP_OK);
    test_tam_answer a;
    exchange(&f->c, fresh, "GetDeviceState", &f->msg, &f->out, &a);
    assert_string_equal(a.error_code, "ERR_UNSUPPORTED_MSG_VERSION");
    assert_non_null(otrp__json_member(a.tbs, "edsi"));
    assert_string_equal(test_tam_tee_name(fresh), "mocktee-test");
    test_tam_answer_free(&a);
    /* the failure did not move tam1's reference */
    req_pass(&f->c, f->tam, "DeleteTA", "{\"sdname\":\"sd1\",\"taid\":\"ta1\"}", NULL, &f->msg, &f->out,
             &a);
    test_tam_answer_free(&a);
    test_tam_free(fresh);
}

static void test_mocktee_require_ocsp(void **state)
{
    (void)state;
    char dir[512];
    assert_int_equal(fx_teedir(dir, sizeof dir, "{\"name\":\"mocktee-test\",\"require_ocsp\":true}"), 0);
    conn c = open_mock(dir);
    otrp_buf msg = {0}, out = {0};
    test_tam *tam = NULL;
    assert_int_equal(test_tam_new(PKI "tam1-key.pem", PKI "tam1.pem", &tam), OTRP_OK);
    test_tam_answer a;
    assert_int_equal(test_tam_get_device_state(tam, NULL, &msg), OTRP_OK); /* ocspdat [] */
    exchange(&c, tam, "GetDeviceState", &msg, &out, &a);
    assert_string_equal(a.error_code, "ERR_TAM_NOT_TRUSTED");
    test_tam_answer_free(&a);
    const char *tbs = "{\"GetDeviceStateTBSRequest\":{\"ver\":\"1.0\",\"rid\":\"r\",\"tid\":\"t\","
                      "\"ocspdat\":[\"AAAA\"]}}";
    assert_int_equal(test_tam_sign_payload(tam, "GetDeviceStateRequest", tbs, strlen(tbs), &msg), OTRP_OK);
    exchange(&c, tam, "GetDeviceState", &msg, &out, &a);
    assert_string_equal(a.status, "pass");
    test_tam_answer_free(&a);
    test_tam_free(tam);
    otrp_buf_free(&msg);
    otrp_buf_free(&out);
    c.ops->destroy(c.ctx);
    fx_rm_rf(dir);
}

static void test_mocktee_configured_jwe_alg(void **state)
{
    (void)state;
    char dir[512];
    assert_int_equal(fx_teedir(dir, sizeof dir, "{\"name\":\"mocktee-test\",\"jwe_alg\":\"RSA-OAEP-256\"}"),
                     0);
    conn c = open_mock(dir);
    otrp_buf msg = {0}, out = {0};
    test_tam *tam = NULL;
    assert_int_equal(test_tam_new(PKI "tam1-key.pem", PKI "tam1.pem", &tam), OTRP_OK);
    test_tam_answer a;
    assert_int_equal(test_tam_get_device_state(tam, NULL, &msg), OTRP_OK);
    exchange(&c, tam, "GetDeviceState", &msg, &out, &a);
    assert_string_equal(a.status, "pass");
    const cJSON *rcpt = otrp__json_member(otrp__json_member(a.tbs, "edsi"), "recipients");
    assert_string_equal(otrp__json_string(otrp__json_member(rcpt->child, "header"), "alg"),
                        "RSA-OAEP-256");
    test_tam_answer_free(&a);
    test_tam_free(tam);
    otrp_buf_free(&msg);
    otrp_buf_free(&out);
    c.ops->destroy(c.ctx);
    fx_rm_rf(dir);
}

static void test_mocktee_accepted_encodings(void **state)
{
    fx *f = *state;
    /* dsihash as 64 hex digits (reference Q7) */
    uint8_t h[32];
    size_t len = 0;
    assert_int_equal(otrp__b64_decode(test_tam_dsihash(f->tam), strlen(test_tam_dsihash(f->tam)), h,
                                      &len, OTRP__B64_STD),
                     OTRP_OK);
    char hex[65];
    for (size_t i = 0; i < 32; i++)
        (void)snprintf(hex + 2 * i, 3, "%02X", h[i]);
    test_tam_opts o;
    memset(&o, 0, sizeof o);
    o.dsihash = hex;
    o.no_nextdsi = 1;
    test_tam_answer a;
    req(&f->c, f->tam, "CreateSD",
        content_of("{\"spid\":\"sp1\",\"sdname\":\"sd2\",\"spcert\":[\"%s\"]}", g_sp1_cert), NULL, &o,
        &f->msg, &f->out, &a);
    assert_string_equal(a.status, "pass");
    test_tam_answer_free(&a);
    /* deleteta as "1" (P5) */
    req_pass(&f->c, f->tam, "DeleteSD", "{\"sdname\":\"sd2\",\"deleteta\":\"1\"}", NULL, &f->msg, &f->out,
             &a);
    test_tam_answer_free(&a);
    /* a boolean that is none of the accepted forms */
    req_fail(&f->c, f->tam, "DeleteSD", "{\"sdname\":\"sd1\",\"deleteta\":\" true\"}", NULL, NULL,
             "ERR_REQUEST_INVALID", &f->msg, &f->out);
}

static void test_mocktee_update_sd_deloldspcert(void **state)
{
    fx *f = *state;
    /* replace sp1's certificate by sp2's: sp1-signed TAs are refused afterwards */
    otrp__x509_certs *c = NULL;
    otrp_buf pem = {0};
    assert_int_equal(test_read_file(PKI "sp1.pem", &pem), OTRP_OK);
    assert_int_equal(otrp__x509_certs_new(&c), OTRP_OK);
    assert_int_equal(otrp__x509_certs_add(c, pem.data, pem.len, NULL, 0), OTRP_OK);
    size_t dlen = 0;
    const uint8_t *der = otrp__x509_certs_der(c, 0, &dlen);
    uint8_t d[32];
    assert_int_equal(otrp__jose_sha256(der, dlen, d), OTRP_OK);
    char hex[65];
    for (size_t i = 0; i < 32; i++)
        (void)snprintf(hex + 2 * i, 3, "%02x", d[i]);
    otrp__x509_certs_free(c);
    otrp_buf_free(&pem);
    test_tam_answer a;
    req_pass(&f->c, f->tam, "UpdateSD",
             content_of("{\"spid\":\"sp1\",\"sdname\":\"sd1\",\"changes\":{\"spcert\":[\"%s\"],"
                        "\"deloldspcert\":[\"%s\"]}}", g_sp2_cert, hex),
             NULL, &f->msg, &f->out, &a);
    char *spaik = strdup(otrp__json_string(a.content, "teespaik"));
    test_tam_answer_free(&a);
    cJSON *extra = ta_extra(g_sp1, spaik, "old signer", 10, NULL, 0);
    req_fail(&f->c, f->tam, "InstallTA", "{\"spid\":\"sp1\",\"sdname\":\"sd1\",\"taid\":\"ta5\"}", extra,
             NULL, "ERR_TA_INVALID", &f->msg, &f->out);
    cJSON_Delete(extra);
    extra = ta_extra(g_sp2, spaik, "new signer", 10, NULL, 0);
    req_pass(&f->c, f->tam, "InstallTA", "{\"spid\":\"sp1\",\"sdname\":\"sd1\",\"taid\":\"ta5\"}", extra,
             &f->msg, &f->out, &a);
    test_tam_answer_free(&a);
    cJSON_Delete(extra);
    /* a digest of no certificate of the SD */
    req_fail(&f->c, f->tam, "UpdateSD",
             content_of("{\"spid\":\"sp1\",\"sdname\":\"sd1\",\"changes\":{\"deloldspcert\":[\"%s\"]}}",
                        hex),
             NULL, NULL, "ERR_REQUEST_INVALID", &f->msg, &f->out);
    free(spaik);
}

static void test_mocktee_update_sd_newspid(void **state)
{
    fx *f = *state;
    /* sd1 moves to a new SP: a new SP AIK, the old one goes with its last SD */
    test_tam_answer a;
    char *old = template_spaik(f);
    req_pass(&f->c, f->tam, "UpdateSD",
             "{\"spid\":\"sp1\",\"sdname\":\"sd1\",\"changes\":{\"newspid\":\"sp9\"}}", NULL,
             &f->msg, &f->out, &a);
    const char *fresh = otrp__json_string(a.content, "teespaik");
    assert_non_null(fresh);
    assert_string_not_equal(fresh, old);
    char *in_dsi = spaik_of(a.dsi, "sp9");
    assert_string_equal(in_dsi, fresh);
    free(in_dsi);
    assert_null(spaik_of(a.dsi, "sp1"));
    test_tam_answer_free(&a);
    otrp_tee_call tc = {sizeof tc, 0, 0, NULL};
    assert_int_equal(f->c.ops->ta_information(f->c.ctx, &tc, "sp9", "ta1", &f->out), OTRP_OK);
    assert_int_equal(f->c.ops->ta_information(f->c.ctx, &tc, "sp1", "ta1", &f->out), OTRP_ERR_NOT_FOUND);
    /* the old SP id no longer names the SD */
    req_fail(&f->c, f->tam, "UpdateSD",
             "{\"spid\":\"sp1\",\"sdname\":\"sd1\",\"changes\":{\"renewteespaik\":true}}", NULL, NULL,
             "ERR_REQUEST_INVALID", &f->msg, &f->out);
    free(old);
}

/* ---- the public constructors with the agent ------------------------------------------- */

static void test_mocktee_public_constructors_with_agent(void **state)
{
    (void)state;
    char dir[512], sock[600], detail[256] = "";
    assert_int_equal(fx_teedir(dir, sizeof dir, NULL), 0);
    otrp_mock_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.verify_time = TEST_PKI_TIME;
    o.detail = detail;
    o.detail_cap = sizeof detail;
    otrp_tee *tee = NULL;
    assert_int_equal(otrp_tee_mock_new_opts("/nonexistent/tee", &o, &tee), OTRP_ERR_CONFIG);
    assert_null(tee);
    assert_non_null(strstr(detail, "tee.json is missing"));
    assert_int_equal(otrp_tee_mock_new_opts(dir, &o, &tee), OTRP_OK);
    otrp_agent *agent = NULL;
    assert_int_equal(otrp_agent_new(NULL, &agent), OTRP_OK);
    assert_int_equal(otrp_agent_add_tee(agent, tee), OTRP_OK);
    /* a second open of the same directory is refused while the agent holds it */
    assert_int_equal(otrp_tee_mock_new_opts(dir, &o, &tee), OTRP_ERR_LOCKED);
    test_tam *tam = NULL;
    assert_int_equal(test_tam_new(PKI "tam1-key.pem", PKI "tam1.pem", &tam), OTRP_OK);
    otrp_buf msg = {0};
    assert_int_equal(test_tam_get_device_state(tam, NULL, &msg), OTRP_OK);
    char *resp = NULL;
    size_t resp_len = 0;
    assert_int_equal(otrp_agent_process(agent, (char *)msg.data, msg.len, &resp, &resp_len), OTRP_OK);
    /* the agent wraps the TEE's answer into the GetDeviceStateResponse array */
    cJSON *doc = cJSON_Parse(resp);
    const cJSON *arr = otrp__json_member(doc, "GetDeviceStateResponse");
    assert_int_equal(cJSON_GetArraySize(arr), 1);
    char *one = cJSON_PrintUnformatted(arr->child);
    test_tam_answer a;
    assert_int_equal(test_tam_read(tam, "GetDeviceState", one, strlen(one), &a), OTRP_OK);
    assert_true(a.verified);
    test_tam_answer_free(&a);
    cJSON_free(one);
    cJSON_Delete(doc);
    otrp_free(resp);
    char *json = NULL;
    size_t json_len = 0;
    assert_int_equal(otrp_get_device_state(agent, &json, &json_len), OTRP_OK);
    assert_non_null(strstr(json, "mocktee-test"));
    otrp_free(json);
    otrp_agent_free(agent); /* closes the mock TEE and releases the directory */

    /* the same directory served by otrp-tee-sim, reached with otrp_tee_socket_new() */
    (void)snprintf(sock, sizeof sock, "%s/tee.sock", dir);
    pid_t pid = fx_daemon = fx_daemon_start(dir, sock);
    assert_true(pid > 0);
    assert_int_equal(otrp_tee_socket_new(sock, &tee), OTRP_OK);
    assert_int_equal(otrp_agent_new(NULL, &agent), OTRP_OK);
    assert_int_equal(otrp_agent_add_tee(agent, tee), OTRP_OK);
    cJSON *content = cJSON_Parse(content_of("{\"spid\":\"sp1\",\"sdname\":\"sd1\",\"spcert\":\"%s\"}",
                                            g_sp1_cert));
    assert_int_equal(test_tam_request(tam, "CreateSD", content, NULL, NULL, &msg), OTRP_OK);
    cJSON_Delete(content);
    assert_int_equal(otrp_agent_process(agent, (char *)msg.data, msg.len, &resp, &resp_len), OTRP_OK);
    assert_int_equal(test_tam_read(tam, "CreateSD", resp, resp_len, &a), OTRP_OK);
    assert_string_equal(a.status, "pass");
    assert_true(a.verified);
    test_tam_answer_free(&a);
    otrp_free(resp);
    otrp_agent_free(agent);
    fx_daemon = -1;
    assert_int_equal(fx_daemon_stop(pid, SIGTERM), 0);
    test_tam_free(tam);
    otrp_buf_free(&msg);
    fx_rm_rf(dir);
}

int main(int argc, char **argv)
{
    (void)argc;
    fx_set_argv0(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mocktee_lifecycle_in_process),
        cmocka_unit_test_teardown(test_mocktee_lifecycle_over_socket, fx_kill_daemon),
        cmocka_unit_test_setup_teardown(test_mocktee_err_request_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mocktee_err_unsupported_msg_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mocktee_err_unsupported_crypto_alg, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mocktee_err_tam_not_trusted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mocktee_err_tam_not_authorized, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mocktee_err_dev_state_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mocktee_nextdsi_false_keeps_reference, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mocktee_err_sd_already_exists, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mocktee_err_sd_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mocktee_err_sd_not_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mocktee_err_sdname_already_used, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mocktee_err_spcert_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mocktee_err_ta_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mocktee_spcert_error_per_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mocktee_err_ta_already_installed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mocktee_err_ta_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mocktee_err_tee_resource_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mocktee_err_tee_fail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mocktee_cannot_sign, setup, teardown),
        cmocka_unit_test(test_mocktee_crash_at_every_write_step),
        cmocka_unit_test_setup_teardown(test_mocktee_pending_list_is_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mocktee_hostile_unsigned_and_tampered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mocktee_hostile_alg_none, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mocktee_hostile_untrusted_signer_later, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mocktee_hostile_not_otrp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mocktee_large_members_checked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mocktee_inline_and_blob_tas_persist, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mocktee_hostile_content_to_other_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mocktee_gds_field_forms, setup, teardown),
        cmocka_unit_test(test_mocktee_id_forms_agree_with_agent),
        cmocka_unit_test_setup_teardown(test_mocktee_gds_failure_carries_minimal_dsi, setup, teardown),
        cmocka_unit_test(test_mocktee_require_ocsp),
        cmocka_unit_test(test_mocktee_configured_jwe_alg),
        cmocka_unit_test_setup_teardown(test_mocktee_accepted_encodings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mocktee_update_sd_deloldspcert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mocktee_update_sd_newspid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mocktee_isolation_sds_tas_spaiks, setup, teardown),
        cmocka_unit_test(test_mocktee_config_tams),
        cmocka_unit_test(test_mocktee_requested_ta_bound_to_chosen_tam),
        cmocka_unit_test(test_mocktee_hint_adopted_without_own_tam_or_allowed),
        cmocka_unit_test(test_mocktee_tam_uri_bound_on_first_use),
        cmocka_unit_test(test_mocktee_tam_uri_binding_not_left_open),
        cmocka_unit_test(test_mocktee_overlong_hint_refused),
        cmocka_unit_test(test_mocktee_state_migrates_format_2),
        cmocka_unit_test_teardown(test_mocktee_public_constructors_with_agent, fx_kill_daemon),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
