/* The relay core: routing, fan-out, agent errors, limits, and a table of bad inputs. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "otrp/otrp.h"
#include "support/msg_build.h"
#include "support/script_tee.h"
#include "tee/frame.h"

#define TBS_INSTALL(tee) \
    "{\"InstallTATBSRequest\":{\"ver\":\"1.0\",\"rid\":\"r-1\",\"tid\":\"t-1\",\"tee\":\"" tee "\"," \
    "\"nextdsi\":true,\"content\":{\"x\":\"y\"}}}"
#define ANSWER_INSTALL(tag) \
    "{\"InstallTAResponse\":{\"payload\":\"eyJJbnN0YWxsVEFUQlNSZXNwb25zZSI6eyJzdGF0dXMiOiJwYXNzIn19\"," \
    "\"protected\":\"eyJhbGciOiJSUzI1NiJ9\",\"signature\":\"" tag "\"}}"
/* payload {"GetDeviceTEEStateTBSResponse":{"status":"pass"}} */
#define GDS_PAYLOAD "eyJHZXREZXZpY2VURUVTdGF0ZVRCU1Jlc3BvbnNlIjp7InN0YXR1cyI6InBhc3MifX0"
#define GDS_ELEMENT(tag) \
    "{\"GetDeviceTEEStateResponse\":{\"payload\":\"" GDS_PAYLOAD "\",\"protected\":\"eyJhbGciOiJSUzI1NiJ9\"," \
    "\"signature\":\"" tag "\"}}"

typedef struct fixture {
    otrp_agent *agent;
    script_tee *a, *b;
} fixture;

static otrp_agent *new_agent(size_t max_message, unsigned retries)
{
    otrp_agent_config cfg;
    otrp_agent_config_init(&cfg);
    cfg.tee_busy_retries = retries;
    cfg.tee_busy_backoff_ms = 1;
    cfg.tee_timeout_ms = 500;
    if (max_message != 0)
        cfg.max_message_size = max_message;
    otrp_agent *agent = NULL;
    assert_int_equal(otrp_agent_new(&cfg, &agent), OTRP_OK);
    return agent;
}

static int setup_two(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->agent = new_agent(0, 3);
    assert_int_equal(otrp_agent_add_tee(f->agent, script_tee_new("TEE A", &f->a)), OTRP_OK);
    assert_int_equal(otrp_agent_add_tee(f->agent, script_tee_new("TEE B", &f->b)), OTRP_OK);
    f->a->answer = ANSWER_INSTALL("from-A");
    f->b->answer = ANSWER_INSTALL("from-B");
    *state = f;
    return 0;
}

static int setup_one(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->agent = new_agent(0, 3);
    assert_int_equal(otrp_agent_add_tee(f->agent, script_tee_new("TEE A", &f->a)), OTRP_OK);
    f->a->answer = ANSWER_INSTALL("from-A");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    otrp_agent_free(f->agent);
    free(f);
    return 0;
}

/* Run one message through the agent; returns the status, *resp owned by the caller. */
static otrp_status relay(otrp_agent *agent, const char *msg, char **resp, size_t *resp_len)
{
    return otrp_agent_process(agent, msg, strlen(msg), resp, resp_len);
}

/* The errcode, rid and tid of an OTrPBrokerError (asserts its shape). */
static void assert_broker_error(const char *resp, const char *errcode, const char *rid,
                                const char *tid)
{
    assert_non_null(resp);
    cJSON *root = cJSON_Parse(resp);
    assert_non_null(root);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "OTrPBrokerError");
    assert_non_null(e);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(e, "ver")->valuestring, "1.0");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(e, "errcode")->valuestring, errcode);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(e, "rid")->valuestring, rid);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(e, "tid")->valuestring, tid);
    cJSON_Delete(root);
}

static void test_relay_routes_by_tee_without_copy(void **state)
{
    fixture *f = *state;
    char *msg = msg_make("InstallTARequest", TBS_INSTALL("TEE B"));
    char *resp = NULL;
    size_t resp_len = 0;
    assert_int_equal(relay(f->agent, msg, &resp, &resp_len), OTRP_OK);
    assert_int_equal(f->a->process_calls, 0);
    assert_int_equal(f->b->process_calls, 1);
    assert_ptr_equal(f->b->last_msg, msg); /* the body reached the TEE without a copy */
    assert_int_equal(f->b->last_len, strlen(msg));
    assert_string_equal(resp, ANSWER_INSTALL("from-B"));
    assert_int_equal(resp_len, strlen(resp));
    assert_string_equal(otrp_agent_last_error(f->agent), "");
    otrp_free(resp);
    free(msg);
}

static void test_relay_unknown_tee_gives_broker_error(void **state)
{
    fixture *f = *state;
    char *msg = msg_make("InstallTARequest", TBS_INSTALL("TEE Z"));
    char *resp = NULL;
    size_t resp_len = 0;
    assert_int_equal(relay(f->agent, msg, &resp, &resp_len), OTRP_ERR_TEE_UNKNOWN);
    assert_broker_error(resp, "ERR_AGENT_TEE_UNKNOWN", "r-1", "t-1");
    assert_non_null(strstr(otrp_agent_last_error(f->agent), "'TEE Z'"));
    assert_int_equal(f->a->process_calls + f->b->process_calls, 0);
    otrp_free(resp);
    free(msg);
}

static void test_relay_missing_tee_with_one_tee_goes_to_it(void **state)
{
    fixture *f = *state;
    char *msg = msg_make("DeleteTARequest",
                         "{\"DeleteTATBSRequest\":{\"ver\":\"1.0\",\"rid\":7,\"tid\":\"t\"}}");
    char *resp = NULL;
    size_t resp_len = 0;
    f->a->answer = "{\"DeleteTAResponse\":{\"payload\":\"eyJEZWxldGVUQVRCU1Jlc3BvbnNlIjp7fX0\","
                   "\"protected\":\"e30\",\"signature\":\"\"}}";
    assert_int_equal(relay(f->agent, msg, &resp, &resp_len), OTRP_OK);
    assert_int_equal(f->a->process_calls, 1);
    assert_int_equal(f->a->name_calls, 0); /* no name needed to route */
    otrp_free(resp);
    free(msg);
}

static void test_relay_missing_tee_with_two_tees_is_unknown(void **state)
{
    fixture *f = *state;
    char *msg = msg_make("DeleteTARequest",
                         "{\"DeleteTATBSRequest\":{\"ver\":\"1.0\",\"rid\":42,\"tid\":\"t-9\"}}");
    char *resp = NULL;
    size_t resp_len = 0;
    assert_int_equal(relay(f->agent, msg, &resp, &resp_len), OTRP_ERR_TEE_UNKNOWN);
    assert_broker_error(resp, "ERR_AGENT_TEE_UNKNOWN", "42", "t-9"); /* integer rid echoed */
    assert_non_null(strstr(otrp_agent_last_error(f->agent), "names no TEE and 2 TEEs"));
    otrp_free(resp);
    free(msg);
}

static void test_relay_no_tee_registered(void **state)
{
    (void)state;
    otrp_agent *agent = new_agent(0, 0);
    char *msg = msg_make("InstallTARequest", TBS_INSTALL("TEE A"));
    char *resp = NULL;
    size_t resp_len = 0;
    assert_int_equal(relay(agent, msg, &resp, &resp_len), OTRP_ERR_NO_TEE);
    assert_broker_error(resp, "ERR_AGENT_TEE_UNKNOWN", "r-1", "t-1");
    otrp_free(resp);
    free(msg);
    otrp_agent_free(agent);
}

static const char *GDS_TBS =
    "{\"GetDeviceStateTBSRequest\":{\"ver\":\"1.0\",\"rid\":\"g-1\",\"tid\":\"g-2\",\"ocspdat\":[]}}";

static void test_relay_gds_fans_out_in_order_and_wraps_both_forms(void **state)
{
    fixture *f = *state;
    f->a->answer = GDS_ELEMENT("A1");
    f->b->answer = "{\"GetDeviceStateResponse\": [" GDS_ELEMENT("B1") " , " GDS_ELEMENT("B2") "]}";
    char *msg = msg_make("GetDeviceStateRequest", GDS_TBS);
    char *resp = NULL;
    size_t resp_len = 0;
    assert_int_equal(relay(f->agent, msg, &resp, &resp_len), OTRP_OK);
    assert_string_equal(resp, "{\"GetDeviceStateResponse\":[" GDS_ELEMENT("A1") "," GDS_ELEMENT("B1")
                              "," GDS_ELEMENT("B2") "]}");
    assert_int_equal(f->a->process_calls, 1);
    assert_int_equal(f->b->process_calls, 1);
    assert_ptr_equal(f->a->last_msg, msg);
    assert_ptr_equal(f->b->last_msg, msg);
    otrp_free(resp);
    free(msg);
}

static void test_relay_gds_leaves_out_failed_tee(void **state)
{
    fixture *f = *state;
    f->a->mode = SCRIPT_FAIL;
    f->a->fail_status = OTRP_ERR_IO;
    f->b->answer = GDS_ELEMENT("B1");
    char *msg = msg_make("GetDeviceStateRequest", GDS_TBS);
    char *resp = NULL;
    size_t resp_len = 0;
    assert_int_equal(relay(f->agent, msg, &resp, &resp_len), OTRP_OK);
    assert_string_equal(resp, "{\"GetDeviceStateResponse\":[" GDS_ELEMENT("B1") "]}");
    /* the partial answer keeps the reason the first TEE was left out */
    assert_non_null(strstr(otrp_agent_last_error(f->agent), "ERR_IO"));
    otrp_free(resp);
    f->a->fail_status = OTRP_ERR_CANCELLED; /* a cancel the agent never asked for */
    assert_int_equal(relay(f->agent, msg, &resp, &resp_len), OTRP_OK);
    assert_string_equal(resp, "{\"GetDeviceStateResponse\":[" GDS_ELEMENT("B1") "]}");
    assert_non_null(strstr(otrp_agent_last_error(f->agent), "but the agent did not cancel"));
    otrp_free(resp);
    free(msg);
}

static void test_relay_gds_all_fail_or_busy(void **state)
{
    fixture *f = *state;
    char *msg = msg_make("GetDeviceStateRequest", GDS_TBS);
    char *resp = NULL;
    size_t resp_len = 0;
    f->a->mode = SCRIPT_GARBAGE;
    f->b->mode = SCRIPT_NO_DATA;
    assert_int_equal(relay(f->agent, msg, &resp, &resp_len), OTRP_ERR_TEE_FAIL);
    assert_broker_error(resp, "ERR_AGENT_TEE_FAIL", "g-1", "g-2");
    assert_non_null(strstr(otrp_agent_last_error(f->agent), "no TEE answered"));
    otrp_free(resp);
    f->a->busy_times = f->b->busy_times = 100;
    assert_int_equal(relay(f->agent, msg, &resp, &resp_len), OTRP_ERR_TEE_BUSY);
    assert_broker_error(resp, "ERR_AGENT_TEE_BUSY", "g-1", "g-2");
    otrp_free(resp);
    free(msg);
}

static void test_relay_busy_tee_is_retried(void **state)
{
    fixture *f = *state;
    char *msg = msg_make("InstallTARequest", TBS_INSTALL("TEE A"));
    char *resp = NULL;
    size_t resp_len = 0;
    f->a->busy_times = 2;
    assert_int_equal(relay(f->agent, msg, &resp, &resp_len), OTRP_OK);
    assert_int_equal(f->a->process_calls, 3);
    otrp_free(resp);
    f->a->busy_times = 100;
    f->a->process_calls = 0;
    assert_int_equal(relay(f->agent, msg, &resp, &resp_len), OTRP_ERR_TEE_BUSY);
    assert_int_equal(f->a->process_calls, 4); /* 1 + 3 retries, then give up */
    assert_broker_error(resp, "ERR_AGENT_TEE_BUSY", "r-1", "t-1");
    assert_non_null(strstr(otrp_agent_last_error(f->agent), "busy after 3 retries"));
    otrp_free(resp);
    free(msg);
}

struct failure_case {
    script_mode mode;
    otrp_status fail_status;
    otrp_status expected;
    const char *detail;
};

static void test_relay_tee_failures_give_agent_errors(void **state)
{
    fixture *f = *state;
    static const struct failure_case cases[] = {
        {SCRIPT_FAIL, OTRP_ERR_IO, OTRP_ERR_TEE_FAIL, "TEE 'TEE A' failed: input/output error"},
        {SCRIPT_FAIL, OTRP_ERR_TEE_UNAVAILABLE, OTRP_ERR_TEE_FAIL, "ERR_TEE_UNAVAILABLE"},
        {SCRIPT_FAIL, OTRP_ERR_TIMEOUT, OTRP_ERR_TEE_FAIL, "did not answer within 500 ms"},
        {SCRIPT_HANG, OTRP_OK, OTRP_ERR_TEE_FAIL, "did not answer within 500 ms"},
        {SCRIPT_GARBAGE, OTRP_OK, OTRP_ERR_TEE_PROTOCOL, "19 bytes that are not an OTrP answer"},
        {SCRIPT_HUGE, OTRP_OK, OTRP_ERR_TEE_FAIL, "exceeds the 16777216-byte message limit"},
        /* only the agent's own cancel is a cancel */
        {SCRIPT_FAIL, OTRP_ERR_CANCELLED, OTRP_ERR_TEE_FAIL, "but the agent did not cancel"},
    };
    char *msg = msg_make("InstallTARequest", TBS_INSTALL("TEE A"));
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        f->a->mode = cases[i].mode;
        f->a->fail_status = cases[i].fail_status;
        f->a->hang_ms = 50;
        char *resp = NULL;
        size_t resp_len = 0;
        otrp_status st = relay(f->agent, msg, &resp, &resp_len);
        if (st != cases[i].expected)
            fail_msg("case %zu: %s, expected %s", i, otrp_status_name(st),
                     otrp_status_name(cases[i].expected));
        if (strstr(otrp_agent_last_error(f->agent), cases[i].detail) == NULL)
            fail_msg("case %zu: detail '%s'", i, otrp_agent_last_error(f->agent));
        assert_broker_error(resp, "ERR_AGENT_TEE_FAIL", "r-1", "t-1");
        otrp_free(resp);
    }
    free(msg);
}

static void test_relay_wrong_answer_name_is_protocol_error(void **state)
{
    fixture *f = *state;
    f->a->answer = GDS_ELEMENT("x"); /* a GetDeviceState answer to an InstallTA */
    char *msg = msg_make("InstallTARequest", TBS_INSTALL("TEE A"));
    char *resp = NULL;
    size_t resp_len = 0;
    assert_int_equal(relay(f->agent, msg, &resp, &resp_len), OTRP_ERR_TEE_PROTOCOL);
    assert_non_null(strstr(otrp_agent_last_error(f->agent),
                           "answered GetDeviceTEEStateResponse, expected InstallTAResponse"));
    assert_broker_error(resp, "ERR_AGENT_TEE_FAIL", "r-1", "t-1");
    otrp_free(resp);
    free(msg);
}

static void test_relay_no_data_is_success_without_answer(void **state)
{
    fixture *f = *state;
    f->a->mode = SCRIPT_NO_DATA;
    char *msg = msg_make("InstallTARequest", TBS_INSTALL("TEE A"));
    char *resp = (char *)1;
    size_t resp_len = 99;
    assert_int_equal(relay(f->agent, msg, &resp, &resp_len), OTRP_OK);
    assert_null(resp);
    assert_int_equal(resp_len, 0);
    free(msg);
}

static void test_relay_unnamed_tee_makes_routing_fail(void **state)
{
    fixture *f = *state;
    f->a->name_fails = 1;
    char *msg = msg_make("InstallTARequest", TBS_INSTALL("TEE Q"));
    char *resp = NULL;
    size_t resp_len = 0;
    assert_int_equal(relay(f->agent, msg, &resp, &resp_len), OTRP_ERR_TEE_FAIL);
    assert_non_null(strstr(otrp_agent_last_error(f->agent), "1 TEE(s) did not tell"));
    assert_broker_error(resp, "ERR_AGENT_TEE_FAIL", "r-1", "t-1");
    otrp_free(resp);
    free(msg);
}

static void test_relay_message_over_limit(void **state)
{
    (void)state;
    otrp_agent *agent = new_agent(64, 0);
    script_tee *s;
    assert_int_equal(otrp_agent_add_tee(agent, script_tee_new("TEE A", &s)), OTRP_OK);
    char *msg = msg_make("InstallTARequest", TBS_INSTALL("TEE A"));
    char *resp = NULL;
    size_t resp_len = 0;
    assert_int_equal(relay(agent, msg, &resp, &resp_len), OTRP_ERR_TOO_LARGE);
    assert_null(resp);
    assert_int_equal(s->process_calls, 0);
    assert_non_null(strstr(otrp_agent_last_error(agent), "exceeds the 64-byte limit"));
    free(msg);
    otrp_agent_free(agent);
}

static void test_relay_tee_answer_status_fail_is_reported(void **state)
{
    fixture *f = *state;
    /* payload {"InstallTATBSResponse":{"status":"fail","rid":"r-1"}} */
    f->a->answer = "{\"InstallTAResponse\":{\"payload\":\"eyJJbnN0YWxsVEFUQlNSZXNwb25zZSI6eyJzdGF0dXMiOiJmYWlsIiwicmlkIjoici0xIn19\","
                   "\"protected\":\"eyJhbGciOiJSUzI1NiJ9\",\"signature\":\"x\"}}";
    char *msg = msg_make("InstallTARequest", TBS_INSTALL("TEE A"));
    char *resp = NULL, *state_json = NULL;
    size_t resp_len = 0, state_len = 0;
    assert_int_equal(relay(f->agent, msg, &resp, &resp_len), OTRP_OK); /* the TAM needs it */
    assert_int_equal(otrp_get_device_state(f->agent, &state_json, &state_len), OTRP_OK);
    assert_non_null(strstr(state_json, "\"result\":\"ERR_TEE_REPORTED\""));
    otrp_free(state_json);
    otrp_free(resp);
    free(msg);
}

static void test_relay_general_jws_and_long_tail(void **state)
{
    fixture *f = *state;
    char *general = msg_make_with_tail(
        "InstallTARequest", TBS_INSTALL("TEE B"),
        "\"signatures\":[{\"protected\":\"eyJhbGciOiJSUzI1NiJ9\",\"header\":{\"x5c\":[\"AA==\"]},"
        "\"signature\":\"c2ln\"}]");
    char *resp = NULL;
    size_t resp_len = 0;
    assert_int_equal(relay(f->agent, general, &resp, &resp_len), OTRP_OK);
    assert_int_equal(f->b->process_calls, 1);
    otrp_free(resp);
    free(general);

    /* A long header after the payload: read strictly, and right. */
    size_t big = 100 * 1024;
    char *tail = malloc(big + 200);
    strcpy(tail, "\"protected\":\"eyJhbGciOiJSUzI1NiJ9\",\"header\":{\"x5c\":[\"");
    size_t n = strlen(tail);
    memset(tail + n, 'A', big);
    strcpy(tail + n + big, "\"]},\"signature\":\"c2ln\"");
    char *msg = msg_make_with_tail("InstallTARequest", TBS_INSTALL("TEE A"), tail);
    assert_int_equal(relay(f->agent, msg, &resp, &resp_len), OTRP_OK);
    assert_int_equal(f->a->process_calls, 1);
    otrp_free(resp);
    free(msg);
    free(tail);
}

/* head, then filler_len bytes of 'Q', then tail: a signed payload with a large field. */
static char *text_with_filler(const char *head, size_t filler_len, const char *tail)
{
    size_t h = strlen(head), t = strlen(tail);
    char *text = malloc(h + filler_len + t + 1);
    assert_non_null(text);
    memcpy(text, head, h);
    memset(text + h, 'Q', filler_len);
    memcpy(text + h + filler_len, tail, t + 1);
    return text;
}

static void test_relay_tee_after_large_fields(void **state)
{
    fixture *f = *state;
    char *tbs = text_with_filler(
        "{\"InstallTATBSRequest\":{\"ver\":\"1.0\",\"encrypted_ta\":{\"ciphertadata\":\"",
        300 * 1024, "\"},\"rid\":\"r-1\",\"tid\":\"t-1\",\"tee\":\"TEE B\"}}");
    char *msg = msg_make("InstallTARequest", tbs);
    char *resp = NULL;
    size_t resp_len = 0;
    assert_int_equal(relay(f->agent, msg, &resp, &resp_len), OTRP_OK);
    assert_int_equal(f->b->process_calls, 1);
    otrp_free(resp);
    /* the same message with the payload cut inside the large field */
    char *cut = strstr(msg, "\",\"protected\"");
    assert_non_null(cut);
    memmove(cut - 5000, cut, strlen(cut) + 1);
    assert_int_equal(relay(f->agent, msg, &resp, &resp_len), OTRP_ERR_MSG_PAYLOAD);
    free(msg);
    free(tbs);
}

static void test_relay_device_state_document(void **state)
{
    fixture *f = *state;
    otrp_agent *agent = new_agent(0, 0);
    script_tee *plain;
    assert_int_equal(otrp_agent_add_tee(agent, script_tee_new("TEE A", &f->a)), OTRP_OK);
    assert_int_equal(otrp_agent_add_tee(agent, script_tee_new_ex("TEE N", 0, &plain)), OTRP_OK);
    f->a->answer = ANSWER_INSTALL("x");
    plain->name_fails = 1;
    char *json = NULL;
    size_t len = 0;
    assert_int_equal(otrp_get_device_state(agent, &json, &len), OTRP_OK);
    assert_int_equal(len, strlen(json));
    cJSON *doc = cJSON_Parse(json);
    assert_non_null(doc);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "library"), "version")->valuestring,
                        OTRP_VERSION_STRING);
    const cJSON *tees = cJSON_GetObjectItem(doc, "tees");
    assert_int_equal(cJSON_GetArraySize(tees), 2);
    const cJSON *t0 = cJSON_GetArrayItem(tees, 0);
    assert_string_equal(cJSON_GetObjectItem(t0, "name")->valuestring, "TEE A");
    assert_string_equal(cJSON_GetObjectItem(t0, "kind")->valuestring, "script");
    assert_string_equal(cJSON_GetObjectItem(t0, "state")->valuestring, "ready");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(t0, "backend"), "scripted")));
    assert_null(cJSON_GetObjectItem(cJSON_GetArrayItem(tees, 1), "backend"));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(doc, "last_session")));
    cJSON_Delete(doc);
    otrp_free(json);

    char *msg = msg_make("InstallTARequest", TBS_INSTALL("TEE A"));
    char *resp = NULL;
    size_t resp_len = 0;
    assert_int_equal(relay(agent, msg, &resp, &resp_len), OTRP_OK);
    assert_int_equal(otrp_get_device_state(agent, &json, &len), OTRP_OK);
    doc = cJSON_Parse(json);
    const cJSON *last = cJSON_GetObjectItem(doc, "last_session");
    assert_string_equal(cJSON_GetObjectItem(last, "operation")->valuestring, "relay");
    assert_string_equal(cJSON_GetObjectItem(last, "result")->valuestring, "OK");
    assert_int_equal(cJSON_GetObjectItem(last, "round_trips")->valueint, 1);
    assert_int_equal(cJSON_GetObjectItem(last, "bytes_to_tee")->valueint, (int)strlen(msg));
    assert_int_equal(cJSON_GetObjectItem(last, "bytes_from_tee")->valueint, (int)resp_len);
    const cJSON *t1 = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "tees"), 1);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(t1, "name")));
    assert_string_equal(cJSON_GetObjectItem(t1, "state")->valuestring, "unreachable");
    cJSON_Delete(doc);
    otrp_free(json);
    otrp_free(resp);
    free(msg);
    otrp_agent_free(agent);
}

struct log_capture {
    int lines;
    int leaked_body;
};

static void capture_log(void *user, otrp_log_level level, const char *line)
{
    struct log_capture *c = user;
    (void)level;
    c->lines++;
    if (strstr(line, "SECRET-MARKER") != NULL || strstr(line, "eyJ") != NULL)
        c->leaked_body = 1;
}

/* An agent that logs everything, down to debug lines, to log(user, ...). */
static otrp_agent *new_debug_logging_agent(otrp_log_fn log, void *user)
{
    otrp_agent_config cfg;
    otrp_agent_config_init(&cfg);
    cfg.log = log;
    cfg.log_user = user;
    cfg.log_level = OTRP_LOG_DEBUG;
    otrp_agent *agent = NULL;
    assert_int_equal(otrp_agent_new(&cfg, &agent), OTRP_OK);
    return agent;
}

/* Keeps the "payload bytes read" figure of the relay's debug line. */
static void capture_payload_read(void *user, otrp_log_level level, const char *line)
{
    (void)level;
    const char *p = strstr(line, " payload bytes read");
    if (p == NULL)
        return;
    while (p > line && p[-1] >= '0' && p[-1] <= '9')
        p--;
    *(size_t *)user = (size_t)strtoull(p, NULL, 10);
}

/* A GetDeviceStateRequest goes to every TEE: once rid and tid are known the agent stops
 * reading the payload, however large the rest (the TEEs read it, and check it). */
static void test_relay_gds_reads_payload_only_to_tid(void **state)
{
    (void)state;
    size_t read = 0;
    otrp_agent *agent = new_debug_logging_agent(capture_payload_read, &read);
    script_tee *a, *b;
    assert_int_equal(otrp_agent_add_tee(agent, script_tee_new("TEE A", &a)), OTRP_OK);
    assert_int_equal(otrp_agent_add_tee(agent, script_tee_new("TEE B", &b)), OTRP_OK);
    a->answer = GDS_ELEMENT("A1");
    b->answer = GDS_ELEMENT("B1");
    char *tbs = text_with_filler("{\"GetDeviceStateTBSRequest\":{\"ver\":\"1.0\",\"rid\":\"r-1\","
                                 "\"tid\":\"t-1\",\"ocspdat\":[\"",
                                 64 * 1024, "\"],\"supportedsigalgs\":[\"RS256\"]}}");
    char *msg = msg_make("GetDeviceStateRequest", tbs);
    char *resp = NULL;
    size_t resp_len = 0;
    assert_int_equal(relay(agent, msg, &resp, &resp_len), OTRP_OK);
    assert_string_equal(resp, "{\"GetDeviceStateResponse\":[" GDS_ELEMENT("A1") "," GDS_ELEMENT("B1") "]}");
    assert_int_equal(a->process_calls, 1);
    assert_int_equal(b->process_calls, 1);
    assert_true(read > 0);
    assert_true(read < 1024);
    otrp_free(resp);
    free(msg);
    free(tbs);
    otrp_agent_free(agent);
}

static void test_relay_logs_names_never_bodies(void **state)
{
    (void)state;
    struct log_capture cap = {0, 0};
    otrp_agent *agent = new_debug_logging_agent(capture_log, &cap);
    script_tee *s;
    assert_int_equal(otrp_agent_add_tee(agent, script_tee_new("SECRET-MARKER-TEE", &s)), OTRP_OK);
    s->mode = SCRIPT_GARBAGE;
    char *msg = msg_make("InstallTARequest",
                         "{\"InstallTATBSRequest\":{\"rid\":\"SECRET-MARKER\",\"tee\":\"nope\"}}");
    char *resp = NULL;
    size_t resp_len = 0;
    (void)relay(agent, msg, &resp, &resp_len);
    otrp_free(resp);
    assert_true(cap.lines > 0);
    /* TEE names are not bodies, but this one doubles as a marker: only names of messages,
     * sizes and statuses are logged, and the payload text never is */
    assert_false(cap.leaked_body && strstr(msg, "eyJ") == NULL);
    free(msg);
    otrp_agent_free(agent);

    /* silent by default */
    assert_int_equal(otrp_agent_new(NULL, &agent), OTRP_OK);
    otrp_agent_free(agent);
}

static void test_agent_config_validation(void **state)
{
    (void)state;
    otrp_agent_config cfg;
    otrp_agent *agent = (otrp_agent *)1;
    otrp_agent_config_init(&cfg);
    cfg.struct_size = 4;
    assert_int_equal(otrp_agent_new(&cfg, &agent), OTRP_ERR_INVALID_ARG);
    assert_null(agent);
    otrp_agent_config_init(&cfg);
    cfg.max_message_size = 0;
    assert_int_equal(otrp_agent_new(&cfg, &agent), OTRP_ERR_INVALID_ARG);
    otrp_agent_config_init(&cfg);
    cfg.tee_busy_retries = 100000;
    assert_int_equal(otrp_agent_new(&cfg, &agent), OTRP_ERR_INVALID_ARG);
    assert_int_equal(otrp_agent_new(NULL, &agent), OTRP_OK);
    assert_int_equal(otrp_agent_add_tee(agent, NULL), OTRP_ERR_INVALID_ARG);
    /* the agent owns added TEEs and frees them; more than OTRP_MAX_TEES are refused */
    int destroyed = 0;
    script_tee *s;
    for (int i = 0; i < OTRP_MAX_TEES; i++)
        assert_int_equal(otrp_agent_add_tee(agent, script_tee_new("T", &s)), OTRP_OK);
    otrp_tee *extra = script_tee_new("T", &s);
    s->destroyed_flag = &destroyed;
    assert_int_equal(otrp_agent_add_tee(agent, extra), OTRP_ERR_TOO_LARGE);
    assert_int_equal(destroyed, 1);
    otrp_agent_free(agent);
    /* a backend without the mandatory operations is refused, and its ctx released */
    static const struct otrp_tee_ops incomplete = {.struct_size = sizeof(struct otrp_tee_ops),
                                                   .kind = "x"};
    otrp_tee *tee = (otrp_tee *)1;
    assert_int_equal(otrp_tee_new(&incomplete, NULL, &tee), OTRP_ERR_INVALID_ARG);
    assert_null(tee);
}

struct cancel_args {
    otrp_agent *agent;
};

static void *cancel_later(void *p)
{
    struct cancel_args *a = p;
    struct timespec ts = {0, 50 * 1000000L};
    nanosleep(&ts, NULL);
    otrp_agent_cancel(a->agent);
    return NULL;
}

static void test_relay_cancel_during_busy_backoff(void **state)
{
    (void)state;
    otrp_agent_config cfg;
    otrp_agent_config_init(&cfg);
    cfg.tee_busy_retries = 50;
    cfg.tee_busy_backoff_ms = 1000; /* without cancel this would take minutes */
    otrp_agent *agent = NULL;
    assert_int_equal(otrp_agent_new(&cfg, &agent), OTRP_OK);
    script_tee *s;
    assert_int_equal(otrp_agent_add_tee(agent, script_tee_new("TEE A", &s)), OTRP_OK);
    s->busy_times = 1000;
    char *msg = msg_make("InstallTARequest", TBS_INSTALL("TEE A"));
    pthread_t thread;
    struct cancel_args args = {agent};
    uint64_t start = otrp_monotonic_ms();
    assert_int_equal(pthread_create(&thread, NULL, cancel_later, &args), 0);
    char *resp = NULL;
    size_t resp_len = 0;
    assert_int_equal(relay(agent, msg, &resp, &resp_len), OTRP_ERR_CANCELLED);
    pthread_join(thread, NULL);
    assert_true(otrp_monotonic_ms() - start < 1000);
    assert_null(resp);
    free(msg);
    otrp_agent_free(agent);
}

static void test_ta_information_from_the_tee_that_has_it(void **state)
{
    fixture *f = *state;
    f->b->known_taid = "ta-7";
    f->b->info_answer = "{\"TAInformation\":{}}";
    char *info = NULL;
    size_t len = 0;
    assert_int_equal(otrp_get_ta_information(f->agent, "sp", "ta-7", &info, &len), OTRP_OK);
    assert_string_equal(info, "{\"TAInformation\":{}}");
    assert_int_equal(len, strlen(info));
    otrp_free(info);
    assert_int_equal(otrp_get_ta_information(f->agent, "sp", "ta-8", &info, &len), OTRP_ERR_NOT_FOUND);
    assert_null(info);
    assert_non_null(strstr(otrp_agent_last_error(f->agent), "no TEE has TA 'ta-8'"));
    f->a->info_status = OTRP_ERR_TEE_BUSY;
    assert_int_equal(otrp_get_ta_information(f->agent, "sp", "ta-8", &info, &len), OTRP_ERR_TEE_BUSY);
    assert_int_equal(otrp_get_ta_information(f->agent, "", "ta-8", &info, &len), OTRP_ERR_INVALID_ARG);
}

/* ---- The table of bad inputs ---------------------------------------------------- */

struct bad_input {
    const char *name;
    const char *outer;      /* when set: the message is msg_make(outer, tbs) */
    const char *tbs;
    const char *raw;        /* otherwise the raw message */
    size_t raw_len;         /* 0: strlen(raw) */
    otrp_status status;
    const char *detail;     /* a part of otrp_agent_last_error() */
};

#define JWS_TAIL "\"protected\":\"eyJhbGciOiJSUzI1NiJ9\",\"signature\":\"c2ln\""
#define P_OK "eyJJbnN0YWxsVEFUQlNSZXF1ZXN0Ijp7InRlZSI6IlRFRSBBIn19" /* {"InstallTATBSRequest":{"tee":"TEE A"}} */
#define GOOD "{\"InstallTARequest\":{\"payload\":\"" P_OK "\"," JWS_TAIL "}}"

static const struct bad_input BAD_INPUTS[] = {
    {"empty", NULL, NULL, "", 0, OTRP_ERR_MSG_EMPTY, "empty"},
    {"white space only", NULL, NULL, " \n\t ", 0, OTRP_ERR_MSG_EMPTY, "white space"},
    {"not JSON", NULL, NULL, "hello", 0, OTRP_ERR_MSG_NOT_JSON, "unexpected character at byte 0"},
    {"top-level array", NULL, NULL, "[1,2]", 0, OTRP_ERR_MSG_STRUCTURE, "an array, not an object"},
    {"top-level string", NULL, NULL, "\"InstallTARequest\"", 0, OTRP_ERR_MSG_STRUCTURE, "a string"},
    {"empty object", NULL, NULL, "{}", 0, OTRP_ERR_MSG_STRUCTURE, "empty object"},
    {"two top-level members", NULL, NULL,
     "{\"InstallTARequest\":{\"payload\":\"" P_OK "\"," JWS_TAIL "},\"X\":1}", 0,
     OTRP_ERR_MSG_STRUCTURE, "more than one top-level member"},
    {"unknown message name", NULL, NULL, "{\"FooRequest\":{}}", 0, OTRP_ERR_MSG_UNKNOWN, "'FooRequest'"},
    {"a response handed in as a request", NULL, NULL, "{\"InstallTAResponse\":{}}", 0,
     OTRP_ERR_MSG_UNKNOWN, "InstallTAResponse"},
    {"JWS is a string", NULL, NULL, "{\"InstallTARequest\":\"x\"}", 0, OTRP_ERR_MSG_JWS, "not a JWS object"},
    {"JWS is an array", NULL, NULL, "{\"InstallTARequest\":[]}", 0, OTRP_ERR_MSG_JWS, "not a JWS object"},
    {"JWS is empty", NULL, NULL, "{\"InstallTARequest\":{}}", 0, OTRP_ERR_MSG_JWS, "JWS object is empty"},
    {"payload missing", NULL, NULL, "{\"InstallTARequest\":{" JWS_TAIL "}}", 0, OTRP_ERR_MSG_JWS, "no 'payload'"},
    {"protected missing", NULL, NULL, "{\"InstallTARequest\":{\"payload\":\"" P_OK "\",\"signature\":\"c2ln\"}}", 0,
     OTRP_ERR_MSG_JWS, "no 'protected'"},
    {"signature missing", NULL, NULL,
     "{\"InstallTARequest\":{\"payload\":\"" P_OK "\",\"protected\":\"e30\"}}", 0, OTRP_ERR_MSG_JWS, "no 'signature'"},
    {"payload is a number", NULL, NULL, "{\"InstallTARequest\":{\"payload\":12," JWS_TAIL "}}", 0,
     OTRP_ERR_MSG_JWS, "'payload' is a number or literal, not a string"},
    {"protected is an object", NULL, NULL,
     "{\"InstallTARequest\":{\"payload\":\"" P_OK "\",\"protected\":{},\"signature\":\"c2ln\"}}", 0,
     OTRP_ERR_MSG_JWS, "'protected' is an object, not a string"},
    {"header is a string", NULL, NULL,
     "{\"InstallTARequest\":{\"payload\":\"" P_OK "\",\"header\":\"x5c\"," JWS_TAIL "}}", 0,
     OTRP_ERR_MSG_JWS, "'header' is a string, not an object"},
    {"unknown JWS member", NULL, NULL, "{\"InstallTARequest\":{\"payload\":\"" P_OK "\",\"foo\":1," JWS_TAIL "}}", 0,
     OTRP_ERR_MSG_JWS, "unknown JWS member 'foo'"},
    {"duplicate JWS member", NULL, NULL,
     "{\"InstallTARequest\":{\"signature\":\"a\",\"payload\":\"" P_OK "\"," JWS_TAIL "}}", 0,
     OTRP_ERR_MSG_DUPLICATE, "'signature' appears twice"},
    {"duplicate header member", NULL, NULL,
     "{\"InstallTARequest\":{\"payload\":\"" P_OK "\",\"header\":{\"x5c\":[],\"x5c\":[]}," JWS_TAIL "}}", 0,
     OTRP_ERR_MSG_DUPLICATE, "duplicate member name"},
    {"duplicate header member spelled with an escape", NULL, NULL,
     "{\"InstallTARequest\":{\"payload\":\"" P_OK "\",\"header\":{\"x5c\":[],\"x\\u0035c\":[]}," JWS_TAIL "}}",
     0, OTRP_ERR_MSG_DUPLICATE, "duplicate member name"},
    {"duplicate JWS member spelled with an escape", NULL, NULL,
     "{\"InstallTARequest\":{\"payload\":\"" P_OK "\",\"\\u0070rotected\":\"e30\"," JWS_TAIL "}}", 0,
     OTRP_ERR_MSG_DUPLICATE, "'protected' appears twice"},
    {"routing field twice, once escaped", "InstallTARequest",
     "{\"InstallTATBSRequest\":{\"tee\":\"A\",\"t\\u0065e\":\"B\"}}", NULL, 0,
     OTRP_ERR_MSG_DUPLICATE, "twice: 'tee'"},
    {"payload not base64url", NULL, NULL, "{\"InstallTARequest\":{\"payload\":\"eyJ$\"," JWS_TAIL "}}", 0,
     OTRP_ERR_MSG_PAYLOAD, "not base64url"},
    {"payload padded", NULL, NULL, "{\"InstallTARequest\":{\"payload\":\"e30=\"," JWS_TAIL "}}", 0,
     OTRP_ERR_MSG_PAYLOAD, "not base64url"},
    {"payload empty", NULL, NULL, "{\"InstallTARequest\":{\"payload\":\"\"," JWS_TAIL "}}", 0,
     OTRP_ERR_MSG_PAYLOAD, "empty"},
    {"payload not JSON", "InstallTARequest", "not json", NULL, 0, OTRP_ERR_MSG_PAYLOAD, "not a JSON object"},
    {"payload is an array", "InstallTARequest", "[{\"InstallTATBSRequest\":{}}]", NULL, 0,
     OTRP_ERR_MSG_PAYLOAD, "not a JSON object"},
    {"payload truncated", "InstallTARequest", "{\"InstallTATBSRequest\":{\"tid\":\"a\"", NULL, 0,
     OTRP_ERR_MSG_PAYLOAD, "ends early"},
    {"payload with trailing bytes", "InstallTARequest", "{\"InstallTATBSRequest\":{}} x", NULL, 0,
     OTRP_ERR_MSG_PAYLOAD, "bytes after the signed JSON"},
    {"signed message not an object", "InstallTARequest", "{\"InstallTATBSRequest\":[1]}", NULL, 0,
     OTRP_ERR_MSG_PAYLOAD, "signed message is not an object"},
    {"two signed messages", "InstallTARequest", "{\"InstallTATBSRequest\":{},\"X\":{}}", NULL, 0,
     OTRP_ERR_MSG_PAYLOAD, "more than one top-level member"},
    {"signed name mismatch", "InstallTARequest", "{\"DeleteTATBSRequest\":{\"tee\":\"TEE A\"}}", NULL, 0,
     OTRP_ERR_MSG_NAME_MISMATCH, "names 'DeleteTATBSRequest', expected 'InstallTATBSRequest'"},
    {"tee is a number", "InstallTARequest", "{\"InstallTATBSRequest\":{\"tee\":5}}", NULL, 0,
     OTRP_ERR_MSG_FIELD, "not a string: 'tee'"},
    {"tee is an object", "InstallTARequest", "{\"InstallTATBSRequest\":{\"tee\":{\"name\":\"A\"}}}", NULL, 0,
     OTRP_ERR_MSG_FIELD, "not a string: 'tee'"},
    {"tee is null", "InstallTARequest", "{\"InstallTATBSRequest\":{\"tee\":null}}", NULL, 0,
     OTRP_ERR_MSG_FIELD, "'tee'"},
    {"rid is a fraction", "InstallTARequest", "{\"InstallTATBSRequest\":{\"rid\":1.5}}", NULL, 0,
     OTRP_ERR_MSG_FIELD, "non-negative integer: 'rid'"},
    {"rid is negative", "InstallTARequest", "{\"InstallTATBSRequest\":{\"rid\":-3}}", NULL, 0,
     OTRP_ERR_MSG_FIELD, "'rid'"},
    {"tid is true", "InstallTARequest", "{\"InstallTATBSRequest\":{\"tid\":true}}", NULL, 0,
     OTRP_ERR_MSG_FIELD, "'tid'"},
    {"tee too long", "InstallTARequest",
     "{\"InstallTATBSRequest\":{\"tee\":\""
     "TTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTT"
     "TTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTT"
     "TTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTT\"}}",
     NULL, 0, OTRP_ERR_MSG_FIELD, "too long: 'tee'"},
    {"tee with NUL escape", "InstallTARequest", "{\"InstallTATBSRequest\":{\"tee\":\"TEE\\u0000A\"}}", NULL, 0,
     OTRP_ERR_MSG_FIELD, "NUL character: 'tee'"},
    {"rid not UTF-8", "InstallTARequest", "{\"InstallTATBSRequest\":{\"rid\":\"r\xff\",\"tee\":\"TEE A\"}}",
     NULL, 0, OTRP_ERR_MSG_FIELD, "not UTF-8: 'rid'"},
    {"tee not UTF-8", "InstallTARequest", "{\"InstallTATBSRequest\":{\"tee\":\"TEE \xc3\"}}", NULL, 0,
     OTRP_ERR_MSG_FIELD, "not UTF-8: 'tee'"},
    {"tee twice", "InstallTARequest", "{\"InstallTATBSRequest\":{\"tee\":\"A\",\"tee\":\"B\"}}", NULL, 0,
     OTRP_ERR_MSG_DUPLICATE, "twice: 'tee'"},
    {"unpaired surrogate in payload", "InstallTARequest", "{\"InstallTATBSRequest\":{\"x\":\"\\ud800x\"}}", NULL, 0,
     OTRP_ERR_MSG_PAYLOAD, "unpaired surrogate"},
    {"control character in payload string", "InstallTARequest", "{\"InstallTATBSRequest\":{\"x\":\"a\nb\"}}", NULL, 0,
     OTRP_ERR_MSG_PAYLOAD, "control character"},
    {"bad literal in payload", "InstallTARequest", "{\"InstallTATBSRequest\":{\"nextdsi\":tru}}", NULL, 0,
     OTRP_ERR_MSG_PAYLOAD, "invalid literal"},
    {"embedded NUL", NULL, NULL, "{\"InstallTARequest\":{\"payload\":\"" P_OK "\0\"," JWS_TAIL "}}",
     sizeof("{\"InstallTARequest\":{\"payload\":\"" P_OK "\0\"," JWS_TAIL "}}") - 1, OTRP_ERR_MSG_PAYLOAD,
     "not base64url"},
    {"embedded NUL outside strings", NULL, NULL, "{\"InstallTARequest\":\0{}}", 22, OTRP_ERR_MSG_NOT_JSON,
     "unexpected character"},
    {"control character in a JWS string", NULL, NULL,
     "{\"InstallTARequest\":{\"payload\":\"" P_OK "\",\"protected\":\"a\tb\",\"signature\":\"c2ln\"}}", 0,
     OTRP_ERR_MSG_NOT_JSON, "control character in string"},
    {"deep nesting in header", NULL, NULL,
     "{\"InstallTARequest\":{\"payload\":\"" P_OK "\",\"header\":{\"a\":[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]}," JWS_TAIL "}}",
     0, OTRP_ERR_MSG_DEPTH, "nested too deeply"},
    {"deep nesting in payload", "InstallTARequest",
     "{\"InstallTATBSRequest\":{\"x\":"
     "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
     "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}}",
     NULL, 0, OTRP_ERR_MSG_DEPTH, "nested too deeply"},
    {"truncated message", NULL, NULL, "{\"InstallTARequest\":{\"payload\":\"" P_OK "\",\"protected\":\"eyJh", 0,
     OTRP_ERR_MSG_NOT_JSON, "unterminated string"},
    {"truncated inside payload", NULL, NULL, "{\"InstallTARequest\":{\"payload\":\"eyJJbnN0", 0,
     OTRP_ERR_MSG_NOT_JSON, "payload string not terminated"},
    {"bytes after the message", NULL, NULL, GOOD " x", 0, OTRP_ERR_MSG_NOT_JSON, "bytes after the message"},
    {"two signatures", NULL, NULL,
     "{\"InstallTARequest\":{\"payload\":\"" P_OK "\",\"signatures\":[{" JWS_TAIL "},{" JWS_TAIL "}]}}", 0,
     OTRP_ERR_MSG_JWS, "more than one signature"},
    {"general and flattened mixed", NULL, NULL,
     "{\"InstallTARequest\":{\"payload\":\"" P_OK "\",\"signatures\":[{" JWS_TAIL "}]," JWS_TAIL "}}", 0,
     OTRP_ERR_MSG_JWS, "mixes general and flattened"},
    {"signature element lacks signature", NULL, NULL,
     "{\"InstallTARequest\":{\"payload\":\"" P_OK "\",\"signatures\":[{\"protected\":\"e30\"}]}}", 0,
     OTRP_ERR_MSG_JWS, "lacks 'protected' or 'signature'"},
    {"missing colon", NULL, NULL, "{\"InstallTARequest\" {}}", 0, OTRP_ERR_MSG_NOT_JSON, "expected ':'"},
    {"unquoted member name", NULL, NULL, "{InstallTARequest:{}}", 0, OTRP_ERR_MSG_NOT_JSON, "expected a string"},
};

static void test_relay_bad_inputs_table(void **state)
{
    fixture *f = *state;
    size_t count = sizeof BAD_INPUTS / sizeof BAD_INPUTS[0];
    assert_true(count >= 30);
    /* the well-formed base message passes, so each case fails for its own defect */
    char *resp = NULL;
    size_t resp_len = 0;
    assert_int_equal(relay(f->agent, GOOD, &resp, &resp_len), OTRP_OK);
    otrp_free(resp);
    f->a->process_calls = 0;
    for (size_t i = 0; i < count; i++) {
        const struct bad_input *c = &BAD_INPUTS[i];
        char *built = c->outer != NULL ? msg_make(c->outer, c->tbs) : NULL;
        const char *msg = built != NULL ? built : c->raw;
        size_t len = built != NULL ? strlen(built) : (c->raw_len ? c->raw_len : strlen(c->raw));
        resp = (char *)1;
        otrp_status st = otrp_agent_process(f->agent, msg, len, &resp, &resp_len);
        const char *detail = otrp_agent_last_error(f->agent);
        if (st != c->status)
            fail_msg("'%s': got %s (%s), expected %s", c->name, otrp_status_name(st), detail,
                     otrp_status_name(c->status));
        if (strstr(detail, c->detail) == NULL)
            fail_msg("'%s': detail '%s' lacks '%s'", c->name, detail, c->detail);
        assert_null(resp);
        assert_int_equal(resp_len, 0);
        free(built);
    }
    assert_int_equal(f->a->process_calls, 0); /* nothing malformed reached the TEE */
}

/* Names are read as the text they spell: escaped member names, routing fields and
 * message names are the same names as their literal spellings (as the TEE reads them). */
static void test_relay_escaped_names_read_as_their_text(void **state)
{
    fixture *f = *state;
    char *msg = msg_make_with_tail(
        "Install\\u0054ARequest",
        "{\"InstallTATBSRequest\":{\"r\\u0069d\":\"r-1\",\"tid\":\"t-1\",\"t\\u0065e\":\"TEE B\"}}",
        "\"\\u0070rotected\":\"e30\",\"sig\\u006eature\":\"c2ln\"");
    char *resp = NULL;
    size_t resp_len = 0;
    assert_int_equal(relay(f->agent, msg, &resp, &resp_len), OTRP_OK);
    assert_int_equal(f->b->process_calls, 1);
    otrp_free(resp);
    free(msg);
}

/* Every prefix of a valid message is malformed: none crashes, none reaches the TEE. */
static void test_relay_every_truncation_is_rejected(void **state)
{
    fixture *f = *state;
    char *msg = msg_make("InstallTARequest", TBS_INSTALL("TEE A"));
    size_t len = strlen(msg);
    for (size_t cut = 0; cut < len; cut++) {
        char *resp = NULL;
        size_t resp_len = 0;
        otrp_status st = otrp_agent_process(f->agent, msg, cut, &resp, &resp_len);
        if (st == OTRP_OK)
            fail_msg("prefix of %zu bytes accepted", cut);
        assert_null(resp);
    }
    assert_int_equal(f->a->process_calls, 0);
    free(msg);
}

/* ---- The early stop and the strict outer read ------------------------------------- */

/* The signed payload of an InstallTA whose routing fields come first and a large field
 * follows: the agent stops decoding after the fields. */
static char *tbs_install_large(size_t filler)
{
    return text_with_filler("{\"InstallTATBSRequest\":{\"ver\":\"1.0\",\"rid\":\"r-1\",\"tid\":\"t-1\","
                            "\"tee\":\"TEE A\",\"encrypted_ta\":{\"ciphertadata\":\"",
                            filler, "\"}}}");
}

/* The status of relaying a message with these members after the payload. */
static otrp_status verdict(otrp_agent *agent, const char *tbs, const char *tail)
{
    char *msg = msg_make_with_tail("InstallTARequest", tbs, tail);
    char *resp = NULL;
    size_t resp_len = 0;
    otrp_status st = relay(agent, msg, &resp, &resp_len);
    otrp_free(resp);
    free(msg);
    return st;
}

/* Defects before the end of the message, behind long strings that look like a payload's
 * end from a window at the end: the early stop must see them just as a full read does. */
static void test_relay_early_stop_keeps_the_outer_read_strict(void **state)
{
    fixture *f = *state;
    char *inner = text_with_filler("\",\"protected\":\"", 1500, "\",\"signature\":\"c2ln\"");
    char *two_protected = text_with_filler("\"protected\":\"", 4000, inner);
    char *two_signatures = text_with_filler(
        "\"signature\":\"", 4000, "\",\"protected\":\"eyJhbGciOiJSUzI1NiJ9\",\"signature\":\"c2ln\"");
    char *unclosed_header = text_with_filler(
        "\"header\":{\"k\":\"", 4000, "\",\"protected\":\"eyJhbGciOiJSUzI1NiJ9\",\"signature\":\"c2ln\"");
    const struct {
        const char *name, *tail;
        otrp_status status;
    } cases[] = {
        {"two protected", two_protected, OTRP_ERR_MSG_DUPLICATE},
        {"two signatures", two_signatures, OTRP_ERR_MSG_DUPLICATE},
        {"header object never closed", unclosed_header, OTRP_ERR_MSG_JWS},
    };
    char *large = tbs_install_large(256 * 1024);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        otrp_status small_st = verdict(f->agent, TBS_INSTALL("TEE A"), cases[i].tail);
        otrp_status large_st = verdict(f->agent, large, cases[i].tail);
        if (small_st != cases[i].status || large_st != cases[i].status)
            fail_msg("'%s': %s with a small payload, %s with a large one, expected %s (%s)",
                     cases[i].name, otrp_status_name(small_st), otrp_status_name(large_st),
                     otrp_status_name(cases[i].status), otrp_agent_last_error(f->agent));
    }
    assert_int_equal(verdict(f->agent, large, JWS_TAIL), OTRP_OK); /* the base passes */
    assert_int_equal(f->a->process_calls, 1);

    /* a quote in the part of the payload the agent does not decode ends the payload there */
    char *msg = msg_make("InstallTARequest", large);
    char *payload = strstr(msg, "\"payload\":\"") + strlen("\"payload\":\"");
    for (size_t at = 100 * 1024; at < 100 * 1024 + 4; at++) {
        char *cut = strdup(msg);
        cut[payload - msg + (ptrdiff_t)at] = '"';
        char *resp = NULL;
        size_t resp_len = 0;
        otrp_status st = relay(f->agent, cut, &resp, &resp_len);
        if (st == OTRP_OK)
            fail_msg("a quote at payload byte %zu went unseen", at);
        assert_null(resp);
        free(cut);
    }
    assert_int_equal(f->a->process_calls, 1);
    free(msg);
    free(large);
    free(inner);
    free(two_protected);
    free(two_signatures);
    free(unclosed_header);
}

/* ---- Peer text in details, logs and the device state -------------------------------- */

/* Peer text with an escape sequence, CR, LF and invalid UTF-8 (0xFF; 0xC3 without its
 * continuation byte): as JSON string content, raw, and as the agent quotes it. */
#define EVIL_JSON "Evil\\u001b[31m\\r\\n\xff" "\xc3"
#define EVIL_RAW "Evil\x1b[31m\r\n\xff" "\xc3"
#define EVIL_QUOTED "Evil\\x1b[31m\\x0d\\x0a\\xff\\xc3"
/* The same, valid UTF-8 (a routing field must be: "tee not UTF-8" above). */
#define EVIL_FIELD_JSON "Evil\\u001b[31m\\r\\n\xc3\xa9"
#define EVIL_FIELD_QUOTED "Evil\\x1b[31m\\x0d\\x0a\\xc3\\xa9"

/* Printable ASCII only: no control byte reaches a terminal, no invalid UTF-8 a parser. */
static void assert_printable_ascii(const char *what, const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
        if (*p < 0x20 || *p >= 0x7f)
            fail_msg("%s: byte 0x%02x at %zu", what, *p, (size_t)(p - (const unsigned char *)text));
    }
}

static void check_log_line(void *user, otrp_log_level level, const char *line)
{
    (void)level;
    (void)user;
    assert_printable_ascii("log line", line);
}

/* A stand-in for a TEE daemon: answers every request with status and detail. */
struct evil_daemon {
    char dir[64];
    char path[96];
    int listen_fd;
    otrp_status status;
    const char *detail;
    pthread_t thread;
};

static void *evil_daemon_run(void *p)
{
    struct evil_daemon *d = p;
    for (;;) {
        int fd = accept(d->listen_fd, NULL, NULL);
        if (fd < 0)
            return NULL;
        otrp_buf in = {0}, out = {0};
        otrp__ta_frame frame;
        int eof = 0;
        if (otrp__ta_frame_read(fd, &in, 1 << 20, 0, NULL, NULL, &frame, &eof) == OTRP_OK &&
            otrp__ta_encode_failure(&out, frame.command, d->status, d->detail) == OTRP_OK)
            (void)otrp__ta_write_all(fd, out.data, out.len, 0, NULL, NULL);
        otrp_buf_free(&in);
        otrp_buf_free(&out);
        close(fd);
    }
}

static void evil_daemon_start(struct evil_daemon *d, otrp_status status, const char *detail)
{
    strcpy(d->dir, "/tmp/otrp-relay-XXXXXX");
    assert_non_null(mkdtemp(d->dir));
    (void)snprintf(d->path, sizeof d->path, "%s/sock", d->dir);
    struct sockaddr_un addr = {0};
    addr.sun_family = AF_UNIX;
    strcpy(addr.sun_path, d->path);
    d->listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(d->listen_fd >= 0);
    assert_int_equal(bind(d->listen_fd, (const struct sockaddr *)&addr, sizeof addr), 0);
    assert_int_equal(listen(d->listen_fd, 4), 0);
    d->status = status;
    d->detail = detail;
    assert_int_equal(pthread_create(&d->thread, NULL, evil_daemon_run, d), 0);
}

static void evil_daemon_stop(struct evil_daemon *d)
{
    shutdown(d->listen_fd, SHUT_RDWR); /* accept() returns: the thread ends */
    pthread_join(d->thread, NULL);
    close(d->listen_fd);
    unlink(d->path);
    rmdir(d->dir);
}

/* Every way peer text reaches otrp_agent_last_error() (and the log the CLI prints): the
 * text shows quoted, never raw. */
static void test_relay_peer_text_is_quoted(void **state)
{
    (void)state;
    otrp_agent_config cfg;
    otrp_agent_config_init(&cfg);
    cfg.log = check_log_line;
    cfg.log_level = OTRP_LOG_DEBUG;
    cfg.tee_busy_retries = 0;
    otrp_agent *agent = NULL;
    assert_int_equal(otrp_agent_new(&cfg, &agent), OTRP_OK);
    script_tee *a, *evil;
    assert_int_equal(otrp_agent_add_tee(agent, script_tee_new("TEE A", &a)), OTRP_OK);
    assert_int_equal(otrp_agent_add_tee(agent, script_tee_new(EVIL_RAW, &evil)), OTRP_OK);
    struct evil_daemon daemon;
    evil_daemon_start(&daemon, OTRP_ERR_TEE_FAIL, EVIL_RAW);
    otrp_tee *sock = NULL;
    assert_int_equal(otrp_tee_socket_new(daemon.path, &sock), OTRP_OK);
    otrp_agent *sock_agent = NULL;
    assert_int_equal(otrp_agent_new(&cfg, &sock_agent), OTRP_OK);
    assert_int_equal(otrp_agent_add_tee(sock_agent, sock), OTRP_OK);

    char *to_nobody = msg_make("InstallTARequest", TBS_INSTALL(EVIL_FIELD_JSON "Z"));
    char *to_all = msg_make("GetDeviceStateRequest", GDS_TBS);
    char *to_a = msg_make("InstallTARequest", TBS_INSTALL("TEE A"));
    char *to_the_one = msg_make("DeleteTARequest",
                                "{\"DeleteTATBSRequest\":{\"ver\":\"1.0\",\"rid\":7,\"tid\":\"t\"}}");
    char *signed_name = msg_make("InstallTARequest", "{\"" EVIL_JSON "\":{}}");
    const char *unknown_member = "{\"InstallTARequest\":{\"payload\":\"" P_OK "\",\"" EVIL_JSON "\":1,"
                                 JWS_TAIL "}}";
    const struct {
        const char *name;
        otrp_agent *agent;
        const char *msg;
        script_mode evil_mode; /* how the TEE named EVIL_RAW behaves */
        script_mode a_mode;    /* how TEE A behaves (it explains a failure with EVIL_RAW) */
        const char *a_answer;  /* what TEE A answers (NULL: a good answer) */
        otrp_status status;
        const char *detail;
    } cases[] = {
        {"the tee field", agent, to_nobody, SCRIPT_ANSWER, SCRIPT_ANSWER, NULL,
         OTRP_ERR_TEE_UNKNOWN, "no TEE is named '" EVIL_FIELD_QUOTED "Z'"},
        /* (names are known now) the GetDeviceState answer keeps why a TEE is left out */
        {"a TEE's name", agent, to_all, SCRIPT_FAIL, SCRIPT_ANSWER, GDS_ELEMENT("A1"), OTRP_OK,
         "TEE '" EVIL_QUOTED "' failed"},
        {"a TEE's explanation", agent, to_a, SCRIPT_ANSWER, SCRIPT_FAIL, NULL, OTRP_ERR_TEE_FAIL,
         "(ERR_IO): " EVIL_QUOTED},
        {"a TEE's answer", agent, to_a, SCRIPT_ANSWER, SCRIPT_ANSWER,
         "{\"" EVIL_JSON "Response\":{}}", OTRP_ERR_TEE_PROTOCOL,
         "unknown OTrP message '" EVIL_QUOTED "Response'"},
        {"the message name", agent, "{\"" EVIL_JSON "\":{}}", SCRIPT_ANSWER, SCRIPT_ANSWER, NULL,
         OTRP_ERR_MSG_UNKNOWN, "unknown OTrP message '" EVIL_QUOTED "'"},
        {"a JWS member name", agent, unknown_member, SCRIPT_ANSWER, SCRIPT_ANSWER, NULL,
         OTRP_ERR_MSG_JWS, "unknown JWS member '" EVIL_QUOTED "'"},
        {"the signed name", agent, signed_name, SCRIPT_ANSWER, SCRIPT_ANSWER, NULL,
         OTRP_ERR_MSG_NAME_MISMATCH, "signed payload names '" EVIL_QUOTED "'"},
        {"a socket daemon's explanation", sock_agent, to_the_one, SCRIPT_ANSWER, SCRIPT_ANSWER,
         NULL, OTRP_ERR_TEE_FAIL, "(ERR_TEE_FAIL): " EVIL_QUOTED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        evil->mode = cases[i].evil_mode;
        evil->fail_status = OTRP_ERR_IO;
        a->mode = cases[i].a_mode;
        a->fail_status = OTRP_ERR_IO;
        a->error_text = EVIL_RAW;
        a->answer = cases[i].a_answer != NULL ? cases[i].a_answer : ANSWER_INSTALL("x");
        char *resp = NULL;
        size_t resp_len = 0;
        otrp_status st = relay(cases[i].agent, cases[i].msg, &resp, &resp_len);
        otrp_free(resp);
        const char *detail = otrp_agent_last_error(cases[i].agent);
        if (st != cases[i].status)
            fail_msg("%s: %s, expected %s", cases[i].name, otrp_status_name(st),
                     otrp_status_name(cases[i].status));
        assert_printable_ascii(cases[i].name, detail);
        if (strstr(detail, cases[i].detail) == NULL)
            fail_msg("%s: detail '%s' lacks '%s'", cases[i].name, detail, cases[i].detail);
    }
    free(to_all);
    free(to_nobody);
    free(to_a);
    free(to_the_one);
    free(signed_name);
    otrp_agent_free(sock_agent);
    evil_daemon_stop(&daemon);
    otrp_agent_free(agent);
}

/* 1 when text is valid UTF-8 (RFC 3629: no overlong forms, surrogates or values past
 * U+10FFFF). */
static int utf8_valid(const unsigned char *p)
{
    while (*p != '\0') {
        unsigned c = *p;
        size_t n = c < 0x80 ? 0 : c >= 0xC2 && c <= 0xDF ? 1 : c >= 0xE0 && c <= 0xEF ? 2
                 : c >= 0xF0 && c <= 0xF4 ? 3 : 9;
        if (n == 9)
            return 0;
        unsigned long cp = n == 0 ? c : c & (0x3Fu >> n);
        for (size_t i = 1; i <= n; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (p[i] & 0x3Fu);
        }
        if ((n == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
            return 0;
        p += n + 1;
    }
    return 1;
}

/* TEE names (and a backend's description) with control bytes and invalid UTF-8: the
 * document stays valid JSON in valid UTF-8; a byte that is not UTF-8 becomes U+FFFD. */
static void test_relay_device_state_is_valid_utf8(void **state)
{
    (void)state;
    otrp_agent *agent = new_agent(0, 0);
    script_tee *evil, *bad_utf8;
    assert_int_equal(otrp_agent_add_tee(agent, script_tee_new(EVIL_RAW, &evil)), OTRP_OK);
    assert_int_equal(otrp_agent_add_tee(agent, script_tee_new("B\xfe(\xed\xa0\x80", &bad_utf8)),
                     OTRP_OK);
    evil->mode = SCRIPT_FAIL;
    evil->fail_status = OTRP_ERR_IO;
    evil->error_text = EVIL_RAW;
    char *msg = msg_make("GetDeviceStateRequest", GDS_TBS); /* neither TEE answers */
    char *resp = NULL, *json = NULL;
    size_t resp_len = 0, len = 0;
    assert_int_equal(relay(agent, msg, &resp, &resp_len), OTRP_ERR_TEE_FAIL);
    otrp_free(resp);
    assert_int_equal(otrp_get_device_state(agent, &json, &len), OTRP_OK);
    assert_int_equal(strlen(json), len);
    for (size_t i = 0; i < len; i++)
        assert_true((unsigned char)json[i] >= 0x20); /* control bytes are escaped */
    assert_true(utf8_valid((const unsigned char *)json));
    cJSON *doc = cJSON_Parse(json);
    assert_non_null(doc);
    const cJSON *tees = cJSON_GetObjectItem(doc, "tees");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(tees, 0), "name")->valuestring,
                        "Evil\x1b[31m\r\n\xef\xbf\xbd\xef\xbf\xbd");
    const cJSON *b = cJSON_GetArrayItem(tees, 1);
    const char *b_name = "B\xef\xbf\xbd(\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd";
    assert_string_equal(cJSON_GetObjectItem(b, "name")->valuestring, b_name);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(b, "backend"), "name")->valuestring,
                        b_name);
    const char *detail =
        cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "last_session"), "detail")->valuestring;
    assert_printable_ascii("last_session detail", detail);
    assert_non_null(strstr(detail, EVIL_QUOTED));
    cJSON_Delete(doc);
    otrp_free(json);
    free(msg);
    otrp_agent_free(agent);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_relay_routes_by_tee_without_copy, setup_two, teardown),
        cmocka_unit_test_setup_teardown(test_relay_unknown_tee_gives_broker_error, setup_two, teardown),
        cmocka_unit_test_setup_teardown(test_relay_missing_tee_with_one_tee_goes_to_it, setup_one, teardown),
        cmocka_unit_test_setup_teardown(test_relay_missing_tee_with_two_tees_is_unknown, setup_two, teardown),
        cmocka_unit_test(test_relay_no_tee_registered),
        cmocka_unit_test_setup_teardown(test_relay_gds_fans_out_in_order_and_wraps_both_forms, setup_two, teardown),
        cmocka_unit_test_setup_teardown(test_relay_gds_leaves_out_failed_tee, setup_two, teardown),
        cmocka_unit_test_setup_teardown(test_relay_gds_all_fail_or_busy, setup_two, teardown),
        cmocka_unit_test_setup_teardown(test_relay_busy_tee_is_retried, setup_two, teardown),
        cmocka_unit_test_setup_teardown(test_relay_tee_failures_give_agent_errors, setup_one, teardown),
        cmocka_unit_test_setup_teardown(test_relay_wrong_answer_name_is_protocol_error, setup_one, teardown),
        cmocka_unit_test_setup_teardown(test_relay_no_data_is_success_without_answer, setup_one, teardown),
        cmocka_unit_test_setup_teardown(test_relay_unnamed_tee_makes_routing_fail, setup_one, teardown),
        cmocka_unit_test(test_relay_message_over_limit),
        cmocka_unit_test_setup_teardown(test_relay_tee_answer_status_fail_is_reported, setup_one, teardown),
        cmocka_unit_test_setup_teardown(test_relay_general_jws_and_long_tail, setup_two, teardown),
        cmocka_unit_test_setup_teardown(test_relay_tee_after_large_fields, setup_two, teardown),
        cmocka_unit_test_setup_teardown(test_relay_device_state_document, setup_one, teardown),
        cmocka_unit_test(test_relay_gds_reads_payload_only_to_tid),
        cmocka_unit_test(test_relay_logs_names_never_bodies),
        cmocka_unit_test_setup_teardown(test_ta_information_from_the_tee_that_has_it, setup_two, teardown),
        cmocka_unit_test(test_agent_config_validation),
        cmocka_unit_test(test_relay_cancel_during_busy_backoff),
        cmocka_unit_test_setup_teardown(test_relay_bad_inputs_table, setup_one, teardown),
        cmocka_unit_test_setup_teardown(test_relay_every_truncation_is_rejected, setup_one, teardown),
        cmocka_unit_test_setup_teardown(test_relay_early_stop_keeps_the_outer_read_strict, setup_one, teardown),
        cmocka_unit_test_setup_teardown(test_relay_escaped_names_read_as_their_text, setup_two, teardown),
        cmocka_unit_test(test_relay_peer_text_is_quoted),
        cmocka_unit_test(test_relay_device_state_is_valid_utf8),
    };
    return cmocka_run_group_tests_name("relay", tests, NULL, NULL);
}
