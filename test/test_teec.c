/*
 * The teec backend through a project-written libteec stand-in (test/teec/standin.c,
 * loaded as libteec.so.2) whose TA is an otrp_tee handle: first the scripted TEE, then
 * the mock TEE for the OTrP lifecycle. Faults (SHORT_BUFFER, BUSY, TARGET_DEAD,
 * COMMUNICATION, wrong sizes, cancellation) each with the outcome they must have.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "agent/agent_internal.h"
#include "otrp/mocktee.h"
#include "otrp/otrp.h"
#include "otrp/ta_protocol.h"
#include "otrp/teec.h"
#include "support/mock_fixture.h"
#include "support/msg_build.h"
#include "support/script_tee.h"
#include "support/tam_builder.h"
#include "tee/teec_internal.h"
#include "util/json_strict.h"
#include "teec/standin.h"

#define TA_UUID "8aaaf200-2450-11e4-abe2-0002a5d5c51b"
#define BIG_ANSWER_LEN 100000u

/* ---- the TA behind the stand-in: an otrp_tee handle's operations ---- */

static char *text_of(const standin_field *f)
{
    char *s = malloc(f->len + 1);
    assert_non_null(s);
    memcpy(s, f->data, f->len);
    s[f->len] = '\0';
    return s;
}

static void put(standin_answer *a, size_t i, const otrp_buf *b)
{
    a->out_len[i] = b->len;
    a->out[i] = malloc(b->len + 1);
    assert_non_null(a->out[i]);
    if (b->len > 0)
        memcpy(a->out[i], b->data, b->len);
}

static void ta_of_tee(void *user, uint32_t command, const standin_field *in, size_t n_in,
                      standin_answer *answer)
{
    otrp_tee *tee = user;
    const struct otrp_tee_ops *ops = tee->ops;
    otrp_tee_call call = {sizeof call, 0, (size_t)16 * 1024 * 1024, NULL};
    otrp_buf out[2] = {{0}, {0}};
    char *a = n_in > 0 ? text_of(&in[0]) : NULL;
    char *b = n_in > 1 ? text_of(&in[1]) : NULL;
    otrp_status st = OTRP_ERR_UNSUPPORTED;
    switch (command) {
    case OTRP_TA_CMD_GET_NAME: st = ops->get_name(tee->ctx, &call, &out[0]); break;
    case OTRP_TA_CMD_PROCESS_MESSAGE:
        st = ops->process_message(tee->ctx, &call, (const char *)in[0].data, in[0].len, &out[0]);
        break;
    case OTRP_TA_CMD_REQUEST_TA:
        st = ops->request_ta(tee->ctx, &call, a, b[0] != '\0' ? b : NULL, &out[0], &out[1]);
        break;
    case OTRP_TA_CMD_UNREQUEST_TA:
        st = ops->unrequest_ta(tee->ctx, &call, a, b[0] != '\0' ? b : NULL, &out[0], &out[1]);
        break;
    case OTRP_TA_CMD_POLICY_CHECK:
        st = ops->policy_check(tee->ctx, &call, a[0] != '\0' ? a : NULL, &out[0], &out[1]);
        break;
    case OTRP_TA_CMD_PROCESS_ERROR: st = ops->process_error(tee->ctx, &call); break;
    case OTRP_TA_CMD_TA_INFORMATION: st = ops->ta_information(tee->ctx, &call, a, b, &out[0]); break;
    case OTRP_TA_CMD_DESCRIBE: st = ops->describe(tee->ctx, &call, &out[0]); break;
    default: break;
    }
    answer->status = (uint32_t)st;
    if (st == OTRP_OK) {
        put(answer, 0, &out[0]);
        put(answer, 1, &out[1]);
    } else {
        otrp_buf detail = {0};
        assert_int_equal(otrp_buf_append_str(&detail, otrp_strerror(st)), OTRP_OK);
        put(answer, 0, &detail);
        otrp_buf_free(&detail);
    }
    otrp_buf_free(&out[0]);
    otrp_buf_free(&out[1]);
    free(a);
    free(b);
}

/* ---- fixtures ---- */

typedef struct fx {
    otrp_tee *ta;       /* the TA's TEE (scripted or mock) */
    script_tee *script; /* when scripted */
    otrp_tee *teec;     /* the backend under test */
    otrp_buf out, out2;
    char detail[256];
    char dir[512];
} fx;

static otrp_tee_call plain_call(size_t max_output)
{
    otrp_tee_call c = {sizeof c, 0, max_output, NULL};
    return c;
}

static otrp_status open_teec(fx *f, const char *library)
{
    otrp_teec_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.library = library;
    o.detail = f->detail;
    o.detail_cap = sizeof f->detail;
    return otrp_tee_teec_new_opts(TA_UUID, &o, &f->teec);
}

static int setup_script(void **state)
{
    fx *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    f->ta = script_tee_new("teec-script", &f->script);
    standin_reset(ta_of_tee, f->ta);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    otrp_tee_free(f->teec);
    standin_stats s = standin_get_stats();
    assert_int_equal(s.contexts_open, 0); /* everything opened was closed */
    assert_int_equal(s.sessions_open, 0);
    otrp_tee_free(f->ta);
    otrp_buf_free(&f->out);
    otrp_buf_free(&f->out2);
    if (f->dir[0] != '\0')
        fx_rm_rf(f->dir);
    free(f);
    return 0;
}

static const struct otrp_tee_ops *ops_of(const fx *f)
{
    return f->teec->ops;
}

/* The backend's explanation of its last failure. */
static const char *why(const fx *f)
{
    return ops_of(f)->last_error(f->teec->ctx);
}

static otrp_status process(fx *f, const otrp_tee_call *call, const char *msg)
{
    otrp_buf_reset(&f->out);
    return ops_of(f)->process_message(f->teec->ctx, call, msg, strlen(msg), &f->out);
}

/* ---- construction ---- */

static void test_teec_opens_session_with_uuid_and_public_login(void **state)
{
    fx *f = *state;
    assert_int_equal(open_teec(f, NULL), OTRP_OK); /* the default names find libteec.so.2 */
    standin_stats s = standin_get_stats();
    static const uint8_t want[16] = {0x8a, 0xaa, 0xf2, 0x00, 0x24, 0x50, 0x11, 0xe4,
                                     0xab, 0xe2, 0x00, 0x02, 0xa5, 0xd5, 0xc5, 0x1b};
    assert_memory_equal(s.last_uuid, want, 16);
    assert_int_equal(s.last_login, 0); /* TEEC_LOGIN_PUBLIC */
    assert_int_equal(s.contexts_open, 1);
    assert_int_equal(s.sessions_open, 1);
    assert_string_equal(ops_of(f)->kind, "teec");
}

static void test_teec_rejects_malformed_uuids(void **state)
{
    fx *f = *state;
    static const char *const bad[] = {"", "8aaaf200-2450-11e4-abe2-0002a5d5c51",
                                      "8aaaf200-2450-11e4-abe2-0002a5d5c51bb",
                                      "8aaaf200x2450-11e4-abe2-0002a5d5c51b",
                                      "8aaaf200-2450-11e4-abe2-0002a5d5c5g1",
                                      "{8aaaf200-2450-11e4-abe2-0002a5d5c51b}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        otrp_teec_options o;
        memset(&o, 0, sizeof o);
        o.struct_size = sizeof o;
        o.detail = f->detail;
        o.detail_cap = sizeof f->detail;
        assert_int_equal(otrp_tee_teec_new_opts(bad[i], &o, &f->teec), OTRP_ERR_INVALID_ARG);
        assert_null(f->teec);
        assert_non_null(strstr(f->detail, "UUID"));
    }
    otrp__teec_uuid u;
    assert_int_equal(otrp__teec_parse_uuid("8AAAF200-2450-11E4-ABE2-0002A5D5C51B", &u), 0);
    assert_int_equal(u.time_low, 0x8aaaf200u);
    assert_int_equal(u.time_mid, 0x2450u);
    assert_int_equal(u.time_hi_and_version, 0x11e4u);
    assert_int_equal(u.clock_seq_and_node[7], 0x1b);
    otrp_teec_options zero;
    memset(&zero, 0, sizeof zero);
    assert_int_equal(otrp_tee_teec_new_opts(TA_UUID, &zero, &f->teec), OTRP_ERR_INVALID_ARG);
    assert_int_equal(standin_get_stats().contexts_open, 0);
}

static void test_teec_missing_library_is_tee_unavailable(void **state)
{
    fx *f = *state;
    assert_int_equal(open_teec(f, "libteec-absent.so.9"), OTRP_ERR_TEE_UNAVAILABLE);
    assert_null(f->teec);
    assert_non_null(strstr(f->detail, "cannot load"));
    assert_non_null(strstr(f->detail, "libteec-absent.so.9"));
    /* A library without the TEEC functions (libc is one). */
    assert_int_equal(open_teec(f, "libc.so.6"), OTRP_ERR_TEE_UNAVAILABLE);
    assert_non_null(strstr(f->detail, "has no TEEC_"));
}

static void test_teec_no_tee_device_is_tee_unavailable(void **state)
{
    fx *f = *state;
    standin_set_init_result(0xFFFF0008u); /* ITEM_NOT_FOUND: no /dev/tee0 */
    assert_int_equal(open_teec(f, NULL), OTRP_ERR_TEE_UNAVAILABLE);
    assert_null(f->teec);
    assert_non_null(strstr(f->detail, "TEEC_InitializeContext"));
    assert_non_null(strstr(f->detail, "ITEM_NOT_FOUND"));
    assert_int_equal(standin_get_stats().session_opens, 0);
}

static void test_teec_session_refusals(void **state)
{
    fx *f = *state;
    standin_reset(NULL, NULL); /* no such TA */
    assert_int_equal(open_teec(f, NULL), OTRP_ERR_TEE_UNAVAILABLE);
    assert_non_null(strstr(f->detail, "not installed"));
    assert_non_null(strstr(f->detail, TA_UUID));
    assert_int_equal(standin_get_stats().contexts_open, 0); /* context finalised again */

    standin_reset(ta_of_tee, f->ta);
    standin_set_open_result(0xFFFF000Du, 3); /* BUSY from the TEE */
    assert_int_equal(open_teec(f, NULL), OTRP_ERR_TEE_BUSY);
    standin_set_open_result(0xFFFF0001u, 3); /* ACCESS_DENIED */
    assert_int_equal(open_teec(f, NULL), OTRP_ERR_TEE_FAIL);
    assert_non_null(strstr(f->detail, "ACCESS_DENIED"));
    assert_non_null(strstr(f->detail, "origin TEE"));
    assert_int_equal(standin_get_stats().contexts_open, 0);
}

/* ---- the command table ---- */

static void expect_layout(uint32_t command, uint32_t types)
{
    standin_stats s = standin_get_stats();
    assert_int_equal(s.last_command, command);
    assert_int_equal(s.last_param_types, types);
}

#define IN 5u
#define OUT 6u
#define TYPES(a, b, c, d) ((a) | (b) << 4 | (c) << 8 | (d) << 12)

static void test_teec_every_operation_uses_its_command_and_layout(void **state)
{
    fx *f = *state;
    assert_int_equal(open_teec(f, NULL), OTRP_OK);
    otrp_tee_call c = plain_call(1 << 20);
    void *ctx = f->teec->ctx;
    const struct otrp_tee_ops *ops = ops_of(f);

    assert_int_equal(ops->get_name(ctx, &c, &f->out), OTRP_OK);
    assert_string_equal((char *)f->out.data, "teec-script");
    expect_layout(OTRP_TA_CMD_GET_NAME, TYPES(0u, 0u, OUT, 0u));

    f->script->answer = "{\"InstallTAResponse\":{}}";
    assert_int_equal(process(f, &c, "{\"InstallTARequest\":{}}"), OTRP_OK);
    assert_string_equal((char *)f->out.data, "{\"InstallTAResponse\":{}}");
    assert_int_equal(f->script->last_len, strlen("{\"InstallTARequest\":{}}"));
    expect_layout(OTRP_TA_CMD_PROCESS_MESSAGE, TYPES(IN, 0u, OUT, 0u));

    f->script->first_uri = "https://tam.example/otrp";
    f->script->first_msg = "{\"first\":1}";
    assert_int_equal(ops->request_ta(ctx, &c, "ta-1", "https://hint/", &f->out, &f->out2), OTRP_OK);
    assert_string_equal((char *)f->out.data, "https://tam.example/otrp");
    assert_string_equal((char *)f->out2.data, "{\"first\":1}");
    assert_string_equal(f->script->last_taid, "ta-1");
    assert_string_equal(f->script->last_hint, "https://hint/");
    expect_layout(OTRP_TA_CMD_REQUEST_TA, TYPES(IN, IN, OUT, OUT));

    assert_int_equal(ops->unrequest_ta(ctx, &c, "ta-2", NULL, &f->out, &f->out2), OTRP_OK);
    assert_string_equal(f->script->last_taid, "ta-2");
    expect_layout(OTRP_TA_CMD_UNREQUEST_TA, TYPES(IN, IN, OUT, OUT));

    f->script->first_uri = NULL;
    f->script->first_msg = NULL;
    assert_int_equal(ops->policy_check(ctx, &c, NULL, &f->out, &f->out2), OTRP_OK);
    assert_int_equal(f->out.len, 0); /* "no data" */
    assert_int_equal(f->out2.len, 0);
    assert_string_equal(f->script->last_hint, "");
    expect_layout(OTRP_TA_CMD_POLICY_CHECK, TYPES(IN, 0u, OUT, OUT));
    assert_int_equal(ops->policy_check(ctx, &c, "https://hint/", &f->out, &f->out2), OTRP_OK);
    assert_string_equal(f->script->last_hint, "https://hint/");

    assert_int_equal(ops->process_error(ctx, &c), OTRP_OK);
    assert_int_equal(f->script->process_error_calls, 1);
    expect_layout(OTRP_TA_CMD_PROCESS_ERROR, 0u);

    assert_int_equal(ops->describe(ctx, &c, &f->out), OTRP_OK);
    assert_non_null(strstr((char *)f->out.data, "{"));
    expect_layout(OTRP_TA_CMD_DESCRIBE, TYPES(0u, 0u, OUT, 0u));

    f->script->known_taid = "ta1";
    f->script->info_answer = "{\"TAInformation\":{}}";
    assert_int_equal(ops->ta_information(ctx, &c, "sp1", "ta1", &f->out), OTRP_OK);
    assert_string_equal((char *)f->out.data, "{\"TAInformation\":{}}");
    expect_layout(OTRP_TA_CMD_TA_INFORMATION, TYPES(IN, IN, OUT, 0u));
    /* A failure status of the TA comes back as it is, with its detail. */
    assert_int_equal(ops->ta_information(ctx, &c, "sp1", "ta9", &f->out), OTRP_ERR_NOT_FOUND);
    assert_non_null(strstr(why(f), "ERR_NOT_FOUND"));
}

/* ---- output sizes ---- */

static char *big_text(size_t len)
{
    char *s = malloc(len + 1);
    assert_non_null(s);
    for (size_t i = 0; i < len; i++)
        s[i] = (char)('a' + i % 26);
    s[len] = '\0';
    return s;
}

static void test_teec_short_buffer_grows_to_the_reported_size(void **state)
{
    fx *f = *state;
    assert_int_equal(open_teec(f, NULL), OTRP_OK);
    char *big = big_text(BIG_ANSWER_LEN);
    f->script->answer = big;
    otrp_tee_call c = plain_call(1 << 20);
    assert_int_equal(process(f, &c, "m"), OTRP_OK);
    assert_int_equal(f->out.len, BIG_ANSWER_LEN);
    assert_memory_equal(f->out.data, big, BIG_ANSWER_LEN);
    standin_stats s = standin_get_stats();
    assert_int_equal(s.invokes, 2);  /* SHORT_BUFFER, then the answer */
    assert_int_equal(s.ta_calls, 1); /* the TA ran the message once */
    assert_int_equal(s.last_out_size[0], BIG_ANSWER_LEN);
    /* The grown buffer is kept: the next large answer needs one invocation. */
    assert_int_equal(process(f, &c, "m"), OTRP_OK);
    assert_int_equal(standin_get_stats().invokes, 3);
    free(big);
}

static void test_teec_answer_over_the_limit_is_too_large(void **state)
{
    fx *f = *state;
    assert_int_equal(open_teec(f, NULL), OTRP_OK);
    char *big = big_text(BIG_ANSWER_LEN);
    f->script->answer = big;
    otrp_tee_call c = plain_call(BIG_ANSWER_LEN - 1);
    assert_int_equal(process(f, &c, "m"), OTRP_ERR_TOO_LARGE);
    assert_non_null(strstr(why(f), "limit"));
    assert_int_equal(f->out.len, 0);
    assert_true(standin_get_stats().last_out_size[0] < BIG_ANSWER_LEN);
    /* Also when an earlier, larger call left a buffer that would hold the answer. */
    otrp_tee_call large = plain_call(1 << 20);
    assert_int_equal(process(f, &large, "m"), OTRP_OK);
    assert_int_equal(process(f, &c, "m"), OTRP_ERR_TOO_LARGE);
    assert_int_equal(standin_get_stats().last_out_size[0], BIG_ANSWER_LEN - 1);
    assert_int_equal(f->out.len, 0);
    free(big);
}

static void test_teec_absurd_size_request_is_too_large(void **state)
{
    fx *f = *state;
    assert_int_equal(open_teec(f, NULL), OTRP_OK);
    standin_inject(STANDIN_FAULT_SHORT_HUGE, 1, 0, 0);
    otrp_tee_call c = plain_call(1 << 20);
    assert_int_equal(process(f, &c, "m"), OTRP_ERR_TOO_LARGE);
    assert_int_equal(standin_get_stats().invokes, 1); /* nothing allocated, not retried */
}

static void test_teec_short_buffer_that_asks_for_nothing_more_is_protocol_error(void **state)
{
    fx *f = *state;
    assert_int_equal(open_teec(f, NULL), OTRP_OK);
    standin_inject(STANDIN_FAULT_SHORT_NO_GROW, 100, 0, 0);
    otrp_tee_call c = plain_call(1 << 20);
    assert_int_equal(process(f, &c, "m"), OTRP_ERR_TEE_PROTOCOL);
    assert_non_null(strstr(why(f), "SHORT_BUFFER"));
    assert_int_equal(standin_get_stats().invokes, 1);
    /* One byte more each time: bounded rounds, not an endless loop. */
    standin_inject(STANDIN_FAULT_SHORT_CREEP, 100, 0, 0);
    assert_int_equal(process(f, &c, "m"), OTRP_ERR_TEE_PROTOCOL);
    assert_non_null(strstr(why(f), "keeps answering"));
    assert_int_equal(standin_get_stats().invokes, 1 + 9);
    /* SHORT_BUFFER to a command that has no outputs. */
    standin_inject(STANDIN_FAULT_RESULT, 1, 0xFFFF0010u, 4);
    assert_int_equal(ops_of(f)->process_error(f->teec->ctx, &c), OTRP_ERR_TEE_PROTOCOL);
    assert_non_null(strstr(why(f), "without outputs"));
}

static void test_teec_answer_longer_than_its_buffer_is_protocol_error(void **state)
{
    fx *f = *state;
    assert_int_equal(open_teec(f, NULL), OTRP_OK);
    f->script->answer = "short";
    standin_inject(STANDIN_FAULT_OVERSIZE, 1, 0, 0);
    otrp_tee_call c = plain_call(1 << 20);
    assert_int_equal(process(f, &c, "m"), OTRP_ERR_TEE_PROTOCOL);
    assert_non_null(strstr(why(f), "reported"));
    assert_int_equal(f->out.len, 0);
}

/* ---- faults ---- */

static void test_teec_busy_is_tee_busy(void **state)
{
    fx *f = *state;
    assert_int_equal(open_teec(f, NULL), OTRP_OK);
    standin_inject(STANDIN_FAULT_RESULT, 1, 0xFFFF000Du, 3);
    otrp_tee_call c = plain_call(1 << 20);
    assert_int_equal(process(f, &c, "m"), OTRP_ERR_TEE_BUSY);
    assert_non_null(strstr(why(f), "TEEC_ERROR_BUSY"));
    assert_int_equal(process(f, &c, "m"), OTRP_OK);
}

static void test_teec_busy_is_retried_by_the_agent(void **state)
{
    fx *f = *state;
    assert_int_equal(open_teec(f, NULL), OTRP_OK);
    otrp_agent_config cfg;
    otrp_agent_config_init(&cfg);
    cfg.tee_busy_retries = 3;
    cfg.tee_busy_backoff_ms = 1;
    otrp_agent *agent = NULL;
    assert_int_equal(otrp_agent_new(&cfg, &agent), OTRP_OK);
    assert_int_equal(otrp_agent_add_tee(agent, f->teec), OTRP_OK);
    f->teec = NULL; /* the agent owns it */
    /* payload {"InstallTATBSResponse":{"status":"pass"}} */
    f->script->answer = "{\"InstallTAResponse\":{\"payload\":"
                        "\"eyJJbnN0YWxsVEFUQlNSZXNwb25zZSI6eyJzdGF0dXMiOiJwYXNzIn19\","
                        "\"protected\":\"eyJhbGciOiJSUzI1NiJ9\",\"signature\":\"c2ln\"}}";
    char *msg = msg_make("InstallTARequest",
                         "{\"InstallTATBSRequest\":{\"ver\":\"1.0\",\"rid\":\"r-1\",\"tid\":\"t-1\","
                         "\"tee\":\"teec-script\",\"nextdsi\":true,\"content\":{}}}");
    assert_non_null(msg);
    (void)otrp__tee_name(agent, agent->tees[0]); /* learn the name before the faults */
    standin_inject(STANDIN_FAULT_RESULT, 2, 0xFFFF000Du, 3);
    char *resp = NULL;
    size_t resp_len = 0;
    otrp_status st = otrp_agent_process(agent, msg, strlen(msg), &resp, &resp_len);
    if (st != OTRP_OK)
        fprintf(stderr, "%s\n", otrp_agent_last_error(agent));
    assert_int_equal(st, OTRP_OK);
    assert_non_null(strstr(resp, "InstallTAResponse"));
    otrp_free(resp);
    /* A COMMUNICATION failure reaches the agent's detail with the TEEC result and origin. */
    standin_inject(STANDIN_FAULT_RESULT, 1, 0xFFFF000Eu, 2);
    resp = NULL;
    assert_int_equal(otrp_agent_process(agent, msg, strlen(msg), &resp, &resp_len),
                     OTRP_ERR_TEE_FAIL);
    assert_non_null(strstr(otrp_agent_last_error(agent), "TEEC_ERROR_COMMUNICATION"));
    assert_non_null(strstr(otrp_agent_last_error(agent), "origin COMMS"));
    otrp_free(resp);
    free(msg);
    otrp_agent_free(agent);
}

static void test_teec_communication_error_is_tee_fail(void **state)
{
    fx *f = *state;
    assert_int_equal(open_teec(f, NULL), OTRP_OK);
    standin_inject(STANDIN_FAULT_RESULT, 1, 0xFFFF000Eu, 2);
    otrp_tee_call c = plain_call(1 << 20);
    assert_int_equal(process(f, &c, "m"), OTRP_ERR_TEE_FAIL);
    assert_non_null(strstr(why(f), "TEEC_ERROR_COMMUNICATION"));
    assert_non_null(strstr(why(f), "origin COMMS"));
    assert_int_equal(standin_get_stats().invokes, 1); /* not retried by the backend */
    /* An unknown result is named by its value. */
    standin_inject(STANDIN_FAULT_RESULT, 1, 0x12345678u, 3);
    assert_int_equal(process(f, &c, "m"), OTRP_ERR_TEE_FAIL);
    assert_non_null(strstr(why(f), "0x12345678"));
    /* A TA that refuses the parameters does not speak ta_protocol.h. */
    standin_inject(STANDIN_FAULT_RESULT, 1, 0xFFFF0006u, 4);
    assert_int_equal(process(f, &c, "m"), OTRP_ERR_TEE_PROTOCOL);
}

static void test_teec_target_dead_reopens_the_session_once(void **state)
{
    fx *f = *state;
    assert_int_equal(open_teec(f, NULL), OTRP_OK);
    f->script->answer = "ok";
    standin_inject(STANDIN_FAULT_KILL_TA, 1, 0, 0);
    otrp_tee_call c = plain_call(1 << 20);
    assert_int_equal(process(f, &c, "m"), OTRP_OK);
    assert_string_equal((char *)f->out.data, "ok");
    standin_stats s = standin_get_stats();
    assert_int_equal(s.session_opens, 2);
    assert_int_equal(s.sessions_open, 1);

    /* Dying again in the new session: one reopen only, then a failure. */
    standin_inject(STANDIN_FAULT_KILL_TA, 2, 0, 0);
    assert_int_equal(process(f, &c, "m"), OTRP_ERR_TEE_FAIL);
    assert_non_null(strstr(why(f), "died again"));
    s = standin_get_stats();
    assert_int_equal(s.session_opens, 3);
    assert_int_equal(s.sessions_open, 0);
    /* The next operation opens a session again. */
    assert_int_equal(process(f, &c, "m"), OTRP_OK);
    assert_int_equal(standin_get_stats().sessions_open, 1);
}

static void test_teec_reopen_refused_is_reported(void **state)
{
    fx *f = *state;
    assert_int_equal(open_teec(f, NULL), OTRP_OK);
    standin_inject(STANDIN_FAULT_KILL_TA, 1, 0, 0);
    standin_set_open_result(0xFFFF0008u, 3); /* the TA is gone for good */
    otrp_tee_call c = plain_call(1 << 20);
    assert_int_equal(process(f, &c, "m"), OTRP_ERR_TEE_UNAVAILABLE);
    assert_non_null(strstr(why(f), "not installed"));
}

static void test_teec_ta_status_and_detail_come_back(void **state)
{
    fx *f = *state;
    assert_int_equal(open_teec(f, NULL), OTRP_OK);
    f->script->mode = SCRIPT_FAIL;
    f->script->fail_status = OTRP_ERR_QUOTA;
    otrp_tee_call c = plain_call(1 << 20);
    assert_int_equal(process(f, &c, "m"), OTRP_ERR_QUOTA);
    assert_non_null(strstr(why(f), "ERR_QUOTA"));
    assert_non_null(strstr(why(f), otrp_strerror(OTRP_ERR_QUOTA)));
    standin_inject(STANDIN_FAULT_BAD_STATUS, 1, 0, 0);
    assert_int_equal(process(f, &c, "m"), OTRP_ERR_TEE_PROTOCOL);
}

static void test_teec_deadline_passed_is_timeout(void **state)
{
    fx *f = *state;
    assert_int_equal(open_teec(f, NULL), OTRP_OK);
    otrp_tee_call c = plain_call(1 << 20);
    c.deadline_ms = 1; /* long past */
    assert_int_equal(process(f, &c, "m"), OTRP_ERR_TIMEOUT);
    assert_int_equal(standin_get_stats().invokes, 0);
}

static void test_teec_hanging_ta_is_cancelled_at_the_deadline(void **state)
{
    fx *f = *state;
    assert_int_equal(open_teec(f, NULL), OTRP_OK);
    standin_inject(STANDIN_FAULT_BLOCK, 1, 0, 0); /* answers only when cancelled */
    otrp_tee_call c = plain_call(1 << 20);
    uint64_t start = otrp_monotonic_ms();
    c.deadline_ms = start + 150;
    assert_int_equal(process(f, &c, "m"), OTRP_ERR_TIMEOUT);
    uint64_t took = otrp_monotonic_ms() - start;
    assert_true(took >= 150 && took < 5000);
    assert_non_null(strstr(why(f), "deadline"));
    unsigned cancellations = standin_get_stats().cancellations;
    assert_true(cancellations >= 1);
    /* The watch stays quiet for commands that answer in time. */
    f->script->answer = "ok";
    c.deadline_ms = otrp_monotonic_ms() + 10000;
    assert_int_equal(process(f, &c, "m"), OTRP_OK);
    assert_int_equal(standin_get_stats().cancellations, cancellations);
    /* A lost request (OP-TEE drops one that comes before the command has started) is
     * repeated until the command ends. */
    standin_inject(STANDIN_FAULT_BLOCK_DEAF, 1, 0, 0);
    c.deadline_ms = otrp_monotonic_ms() + 50;
    assert_int_equal(process(f, &c, "m"), OTRP_ERR_TIMEOUT);
    assert_true(standin_get_stats().cancellations >= cancellations + 2);
}

typedef struct worker {
    fx *f;
    otrp_tee_call call;
    otrp_status st;
} worker;

static void *run_process(void *arg)
{
    worker *w = arg;
    w->st = process(w->f, &w->call, "m");
    return NULL;
}

static void test_teec_cancel_requests_cancellation_of_the_running_command(void **state)
{
    fx *f = *state;
    assert_int_equal(open_teec(f, NULL), OTRP_OK);
    int cancelled = 0;
    worker w = {f, plain_call(1 << 20), OTRP_OK};
    w.call.cancelled = &cancelled;
    standin_inject(STANDIN_FAULT_BLOCK, 1, 0, 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, run_process, &w), 0);
    assert_int_equal(standin_wait_blocked(10000), 0);
    __atomic_store_n(&cancelled, 1, __ATOMIC_SEQ_CST); /* what otrp_agent_cancel() does */
    ops_of(f)->cancel(f->teec->ctx);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(w.st, OTRP_ERR_CANCELLED);
    assert_int_equal(standin_get_stats().cancellations, 1);
    /* Cancelled before it starts: nothing is sent. */
    unsigned invokes = standin_get_stats().invokes;
    assert_int_equal(process(f, &w.call, "m"), OTRP_ERR_CANCELLED);
    assert_int_equal(standin_get_stats().invokes, invokes);
    /* A cancel hook with nothing running does nothing. */
    ops_of(f)->cancel(f->teec->ctx);
    assert_int_equal(standin_get_stats().cancellations, 1);
    /* A lost request is repeated by the watch (running when the call has a deadline). */
    cancelled = 0;
    w.call.deadline_ms = otrp_monotonic_ms() + 60000;
    standin_inject(STANDIN_FAULT_BLOCK_DEAF, 1, 0, 0);
    assert_int_equal(pthread_create(&th, NULL, run_process, &w), 0);
    assert_int_equal(standin_wait_blocked(10000), 0);
    __atomic_store_n(&cancelled, 1, __ATOMIC_SEQ_CST);
    ops_of(f)->cancel(f->teec->ctx);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(w.st, OTRP_ERR_CANCELLED);
    assert_true(standin_get_stats().cancellations >= 3);
}

/* ---- the mock TEE behind the stand-in: the OTrP lifecycle ---- */

static int setup_mock(void **state)
{
    fx *f = calloc(1, sizeof *f);
    if (f == NULL || fx_teedir(f->dir, sizeof f->dir, NULL) != 0)
        return -1;
    otrp_mock_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.verify_time = TEST_PKI_TIME;
    o.detail = f->detail;
    o.detail_cap = sizeof f->detail;
    if (otrp_tee_mock_new_opts(f->dir, &o, &f->ta) != OTRP_OK) {
        fprintf(stderr, "mock TEE: %s\n", f->detail);
        return -1;
    }
    standin_reset(ta_of_tee, f->ta);
    *state = f;
    return 0;
}

/* Relay one request through the agent; the answer must verify as the TAM reads it. */
static void relay(otrp_agent *agent, test_tam *tam, const char *name, const otrp_buf *msg,
                  test_tam_answer *a)
{
    char *resp = NULL;
    size_t resp_len = 0;
    otrp_status st = otrp_agent_process(agent, (const char *)msg->data, msg->len, &resp, &resp_len);
    if (st != OTRP_OK)
        fprintf(stderr, "%s: %s\n", name, otrp_agent_last_error(agent));
    assert_int_equal(st, OTRP_OK);
    st = test_tam_read(tam, name, resp, resp_len, a);
    if (st != OTRP_OK)
        fprintf(stderr, "answer to %s: %s\n", name, otrp_status_name(st));
    assert_int_equal(st, OTRP_OK);
    assert_true(a->verified);
    if (strcmp(a->status, "pass") != 0)
        fprintf(stderr, "%s: %s %s\n", name, a->error_code, a->error_message);
    assert_string_equal(a->status, "pass");
    otrp_free(resp);
}

static void request(otrp_agent *agent, test_tam *tam, const char *name, const char *content,
                    const cJSON *extra, otrp_buf *msg, test_tam_answer *a)
{
    cJSON *cj = cJSON_Parse(content);
    assert_non_null(cj);
    assert_int_equal(test_tam_request(tam, name, cj, extra, NULL, msg), OTRP_OK);
    cJSON_Delete(cj);
    relay(agent, tam, name, msg, a);
}

static int has_ta(const char *dsi, const char *taid)
{
    char needle[64];
    (void)snprintf(needle, sizeof needle, "\"taid\":\"%s\"", taid);
    return strstr(dsi, needle) != NULL;
}

static void test_teec_mock_tee_lifecycle_through_the_agent(void **state)
{
    fx *f = *state;
    assert_int_equal(open_teec(f, NULL), OTRP_OK);
    otrp_agent *agent = NULL;
    assert_int_equal(otrp_agent_new(NULL, &agent), OTRP_OK);
    assert_int_equal(otrp_agent_add_tee(agent, f->teec), OTRP_OK);
    f->teec = NULL;
    test_tam *tam = NULL;
    otrp__jose_key *sp1 = NULL;
    assert_int_equal(test_tam_new(TEST_PKI_DIR "/tam1-key.pem", TEST_PKI_DIR "/tam1.pem", &tam),
                     OTRP_OK);
    assert_int_equal(test_load_key(TEST_PKI_DIR "/sp1-key.pem", &sp1), OTRP_OK);
    char *sp1_cert = test_cert_b64(TEST_PKI_DIR "/sp1.pem");
    assert_non_null(sp1_cert);
    otrp_buf msg = {0};
    test_tam_answer a;

    /* GetDeviceState goes to every TEE; its answer (certificates, edsi) needs more than the
     * first output buffer, so SHORT_BUFFER is part of the normal path, and the TA must not
     * process the message twice. */
    assert_int_equal(test_tam_get_device_state(tam, NULL, &msg), OTRP_OK);
    unsigned ta_calls = standin_get_stats().ta_calls;
    unsigned invokes = standin_get_stats().invokes;
    char *resp = NULL;
    size_t resp_len = 0;
    assert_int_equal(otrp_agent_process(agent, (const char *)msg.data, msg.len, &resp, &resp_len),
                     OTRP_OK);
    assert_true(resp_len > 1024);
    assert_int_equal(standin_get_stats().invokes - invokes, 2);
    assert_int_equal(standin_get_stats().ta_calls - ta_calls, 1); /* processed once */
    /* The agent gathers the TEEs' answers in one array; ours is the only element. */
    cJSON *all = cJSON_Parse(resp);
    assert_non_null(all);
    assert_int_equal(cJSON_GetArraySize(otrp__json_member(all, "GetDeviceStateResponse")), 1);
    char *mine = cJSON_PrintUnformatted(
        cJSON_GetArrayItem(otrp__json_member(all, "GetDeviceStateResponse"), 0));
    assert_non_null(mine);
    assert_int_equal(test_tam_read(tam, "GetDeviceState", mine, strlen(mine), &a), OTRP_OK);
    cJSON_free(mine);
    cJSON_Delete(all);
    assert_true(a.verified);
    assert_string_equal(a.status, "pass");
    test_tam_answer_free(&a);
    otrp_free(resp);

    char content[8192];
    (void)snprintf(content, sizeof content,
                   "{\"spid\":\"sp1\",\"sdname\":\"sd1\",\"spcert\":\"%s\"}", sp1_cert);
    request(agent, tam, "CreateSD", content, NULL, &msg, &a);
    char *spaik = strdup(otrp__json_string(a.content, "teespaik"));
    test_tam_answer_free(&a);

    otrp_buf image = {0};
    assert_int_equal(test_tam_sign_ta(sp1, "TA one", 6, &image), OTRP_OK);
    cJSON *eta = NULL;
    assert_int_equal(test_tam_encrypt_ta(spaik, image.data, image.len, "pdata", 5, 0, &eta),
                     OTRP_OK);
    cJSON *extra = cJSON_CreateObject();
    cJSON_AddItemToObject(extra, "encrypted_ta", eta);
    request(agent, tam, "InstallTA", "{\"spid\":\"sp1\",\"sdname\":\"sd1\",\"taid\":\"ta1\"}",
            extra, &msg, &a);
    assert_true(has_ta(a.dsi, "ta1"));
    test_tam_answer_free(&a);
    cJSON_Delete(extra);
    otrp_buf_free(&image);

    /* TAInformation and the device state (describe) over the same session. */
    char *info = NULL;
    size_t info_len = 0;
    assert_int_equal(otrp_get_ta_information(agent, "sp1", "ta1", &info, &info_len), OTRP_OK);
    assert_non_null(strstr(info, "TAInformation"));
    otrp_free(info);
    char *gds = NULL;
    size_t gds_len = 0;
    assert_int_equal(otrp_get_device_state(agent, &gds, &gds_len), OTRP_OK);
    assert_non_null(strstr(gds, "\"kind\":\"teec\""));
    assert_non_null(strstr(gds, "mocktee-test"));
    otrp_free(gds);

    /* The TA restarts between two messages: the backend reopens its session. */
    standin_inject(STANDIN_FAULT_KILL_TA, 1, 0, 0);
    request(agent, tam, "DeleteTA", "{\"sdname\":\"sd1\",\"taid\":\"ta1\"}", NULL, &msg, &a);
    assert_false(has_ta(a.dsi, "ta1"));
    test_tam_answer_free(&a);
    assert_int_equal(standin_get_stats().session_opens, 2);

    request(agent, tam, "DeleteSD", "{\"sdname\":\"sd1\",\"deleteta\":true}", NULL, &msg, &a);
    test_tam_answer_free(&a);

    free(spaik);
    free(sp1_cert);
    otrp_buf_free(&msg);
    otrp__jose_key_free(sp1);
    test_tam_free(tam);
    otrp_agent_free(agent);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup_script, teardown)
        T(test_teec_opens_session_with_uuid_and_public_login),
        T(test_teec_rejects_malformed_uuids),
        T(test_teec_missing_library_is_tee_unavailable),
        T(test_teec_no_tee_device_is_tee_unavailable),
        T(test_teec_session_refusals),
        T(test_teec_every_operation_uses_its_command_and_layout),
        T(test_teec_short_buffer_grows_to_the_reported_size),
        T(test_teec_answer_over_the_limit_is_too_large),
        T(test_teec_absurd_size_request_is_too_large),
        T(test_teec_short_buffer_that_asks_for_nothing_more_is_protocol_error),
        T(test_teec_answer_longer_than_its_buffer_is_protocol_error),
        T(test_teec_busy_is_tee_busy),
        T(test_teec_busy_is_retried_by_the_agent),
        T(test_teec_communication_error_is_tee_fail),
        T(test_teec_target_dead_reopens_the_session_once),
        T(test_teec_reopen_refused_is_reported),
        T(test_teec_ta_status_and_detail_come_back),
        T(test_teec_deadline_passed_is_timeout),
        T(test_teec_hanging_ta_is_cancelled_at_the_deadline),
        T(test_teec_cancel_requests_cancellation_of_the_running_command),
#undef T
        cmocka_unit_test_setup_teardown(test_teec_mock_tee_lifecycle_through_the_agent,
                                        setup_mock, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
