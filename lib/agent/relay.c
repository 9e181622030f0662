/* otrp_agent_process(): OTrP ProcessOTrPMessage. Reads the outer message strictly,
 * routes it by `tee` (or fans GetDeviceState out to every TEE), and hands the TEE's
 * answer back; when no TEE can answer, the TAM gets an OTrPBrokerError. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "agent/route.h"
#include "util/detail.h"
#include "util/json_scan.h"

#define GDS_RESPONSE "GetDeviceStateResponse"
#define GDS_PREFIX "{\"" GDS_RESPONSE "\":["
/* Nesting allowed when walking a TEE's GetDeviceStateResponse array. */
#define ANSWER_MAX_DEPTH 32

/* The agent error code a TEE failure becomes on the wire. */
static const char *broker_code(otrp_status st)
{
    switch (st) {
    case OTRP_ERR_TEE_BUSY: return "ERR_AGENT_TEE_BUSY";
    case OTRP_ERR_TEE_UNKNOWN:
    case OTRP_ERR_NO_TEE: return "ERR_AGENT_TEE_UNKNOWN";
    default: return "ERR_AGENT_TEE_FAIL";
    }
}

/* The detail is already set: the answer becomes the OTrPBrokerError for the TAM. */
static otrp_status answer_with_broker_error(otrp_agent *agent, otrp_status st,
                                            const otrp__route *route, otrp_buf *answer)
{
    const otrp__tbs_fields *f = &route->fields;
    const char *rid = (f->present & OTRP__FIELD_BIT(OTRP__FIELD_RID)) ? f->value[OTRP__FIELD_RID] : NULL;
    const char *tid = (f->present & OTRP__FIELD_BIT(OTRP__FIELD_TID)) ? f->value[OTRP__FIELD_TID] : NULL;
    char *text = NULL;
    size_t text_len = 0;
    otrp_buf_reset(answer);
    if (otrp__broker_error(broker_code(st), rid, tid, &text, &text_len) != OTRP_OK ||
        otrp_buf_append(answer, text, text_len) != OTRP_OK) {
        otrp_free(text);
        otrp_buf_reset(answer);
        return otrp__agent_fail(agent, OTRP_ERR_NO_MEMORY, "cannot build OTrPBrokerError");
    }
    otrp_free(text);
    return st;
}

otrp_status otrp__tee_failure(otrp_agent *agent, const otrp_tee *tee, otrp_status st)
{
    char label[96];
    otrp__tee_label(agent, tee, label, sizeof label);
    if (st == OTRP_ERR_TEE_BUSY)
        return otrp__agent_fail(agent, OTRP_ERR_TEE_BUSY, "TEE %s still busy after %u retries",
                                label, agent->config.tee_busy_retries);
    if (st == OTRP_ERR_TIMEOUT)
        return otrp__agent_fail(agent, OTRP_ERR_TEE_FAIL, "TEE %s did not answer within %u ms",
                                label, agent->config.tee_timeout_ms);
    if (st == OTRP_ERR_TOO_LARGE)
        return otrp__agent_fail(agent, OTRP_ERR_TEE_FAIL,
                                "TEE %s answer exceeds the %zu-byte message limit", label,
                                agent->config.max_message_size);
    if (st == OTRP_ERR_CANCELLED)
        return otrp__agent_fail(agent, OTRP_ERR_CANCELLED, "cancelled while TEE %s worked", label);
    if (tee->detail[0] != '\0')
        return otrp__agent_fail(agent, OTRP_ERR_TEE_FAIL, "TEE %s failed: %s (%s): %s", label,
                                otrp_strerror(st), otrp_status_name(st), tee->detail);
    return otrp__agent_fail(agent, OTRP_ERR_TEE_FAIL, "TEE %s failed: %s (%s)", label,
                            otrp_strerror(st), otrp_status_name(st));
}

/* Check one TEE answer is an OTrP answer of the expected name; note a signed failure. */
static otrp_status check_answer(otrp_agent *agent, const otrp_tee *tee, const char *text,
                                size_t len, const char *expected)
{
    otrp__route answer;
    char why[OTRP__DETAIL_MAX / 2];
    otrp_status st = otrp__route_read(text, len, OTRP__TEE_ANSWER, &answer, why, sizeof why);
    char label[96]; /* made only for a detail: a good answer costs no formatting */
    if (st != OTRP_OK) {
        otrp__tee_label(agent, tee, label, sizeof label);
        return otrp__agent_fail(agent, OTRP_ERR_TEE_PROTOCOL,
                                "TEE %s answered %zu bytes that are not an OTrP answer (%s: %s)",
                                label, len, otrp_status_name(st), why);
    }
    if (strcmp(answer.name, expected) != 0) {
        otrp__tee_label(agent, tee, label, sizeof label);
        return otrp__agent_fail(agent, OTRP_ERR_TEE_PROTOCOL, "TEE %s answered %s, expected %s",
                                label, answer.name, expected);
    }
    if ((answer.fields.present & OTRP__FIELD_BIT(OTRP__FIELD_STATUS)) &&
        strcmp(answer.fields.value[OTRP__FIELD_STATUS], "fail") == 0 &&
        agent->last.result == OTRP_OK) {
        /* The answer still goes to the TAM; the operation is reported as failed. */
        otrp__tee_label(agent, tee, label, sizeof label);
        agent->last.result = OTRP_ERR_TEE_REPORTED;
        (void)snprintf(agent->last.detail, sizeof agent->last.detail,
                       "TEE %s answered %s with status fail", label, answer.name);
        otrp__log(agent, OTRP_LOG_INFO, "%s", agent->last.detail);
    }
    return OTRP_OK;
}

/* The answer name that belongs to a request name ("InstallTARequest" -> "...Response"). */
static void answer_name(const char *request, char *out, size_t cap)
{
    size_t stem = strlen(request) - strlen("Request");
    (void)snprintf(out, cap, "%.*sResponse", (int)stem, request);
}

/* Choose the TEE a non-GetDeviceState request goes to (PROFILE P9). */
static otrp_status select_tee(otrp_agent *agent, const otrp__route *route, otrp_tee **out)
{
    *out = NULL;
    if (agent->tee_count == 0)
        return otrp__agent_fail(agent, OTRP_ERR_NO_TEE, "no TEE registered for %s", route->name);
    if (!(route->fields.present & OTRP__FIELD_BIT(OTRP__FIELD_TEE))) {
        if (agent->tee_count == 1) {
            *out = agent->tees[0];
            return OTRP_OK;
        }
        return otrp__agent_fail(agent, OTRP_ERR_TEE_UNKNOWN,
                                "%s names no TEE and %zu TEEs are registered", route->name,
                                agent->tee_count);
    }
    const char *wanted = route->fields.value[OTRP__FIELD_TEE];
    char q[OTRP__QUOTE_MAX + 1]; /* the TAM's text, for a detail */
    size_t unreachable = 0;
    for (size_t i = 0; i < agent->tee_count; i++) {
        const char *name = otrp__tee_name(agent, agent->tees[i]);
        if (name == NULL)
            unreachable++;
        else if (strcmp(name, wanted) == 0) {
            *out = agent->tees[i];
            return OTRP_OK;
        }
    }
    otrp__quote_str(q, sizeof q, wanted);
    if (unreachable > 0)
        return otrp__agent_fail(agent, OTRP_ERR_TEE_FAIL,
                                "no reachable TEE is named '%s' (%zu TEE(s) did not tell "
                                "their name)", q, unreachable);
    return otrp__agent_fail(agent, OTRP_ERR_TEE_UNKNOWN, "no TEE is named '%s'", q);
}

/* The TEE answers into answer itself: no copy. */
static otrp_status relay_to_one(otrp_agent *agent, const char *msg, size_t len,
                                const otrp__route *route, otrp_buf *answer)
{
    otrp_tee *tee;
    otrp_status st = select_tee(agent, route, &tee);
    if (st != OTRP_OK)
        return answer_with_broker_error(agent, st, route, answer);
    st = otrp__tee_process(agent, tee, msg, len, answer); /* empty on failure */
    if (st != OTRP_OK) {
        st = otrp__tee_failure(agent, tee, st);
        return st == OTRP_ERR_CANCELLED ? st : answer_with_broker_error(agent, st, route, answer);
    }
    if (answer->len == 0) /* "no data": the TEE has nothing for the TAM */
        return OTRP_OK;
    char expected[64];
    answer_name(route->name, expected, sizeof expected);
    st = check_answer(agent, tee, (const char *)answer->data, answer->len, expected);
    if (st != OTRP_OK)
        return answer_with_broker_error(agent, st, route, answer);
    return OTRP_OK;
}

/* Append the elements of one TEE's GetDeviceState answer to the wrapped array. A TEE
 * answers one {"GetDeviceTEEStateResponse": JWS} or a whole
 * {"GetDeviceStateResponse": [...]} (PROFILE P8); elements are copied verbatim. */
static otrp_status append_gds_elements(otrp_agent *agent, const otrp_tee *tee,
                                       const char *text, size_t len, otrp_buf *wrapped,
                                       size_t *count)
{
    otrp__json_cursor c = {text, len, 0, NULL, 0};
    char name[32] = "";
    size_t name_len = 0;
    int whole = otrp__jc_expect(&c, '{') == OTRP_OK &&
                otrp__jc_string(&c, name, sizeof name - 1, &name_len, NULL, NULL, NULL) == OTRP_OK &&
                strcmp(name, GDS_RESPONSE) == 0;
    if (!whole) {
        otrp_status st = check_answer(agent, tee, text, len, "GetDeviceTEEStateResponse");
        if (st != OTRP_OK)
            return st;
        if (*count > 0 && (st = otrp_buf_append(wrapped, ",", 1)) != OTRP_OK)
            return st;
        (*count)++;
        return otrp_buf_append(wrapped, text, len);
    }
    char label[96];
    otrp__tee_label(agent, tee, label, sizeof label);
    if (otrp__jc_expect(&c, ':') != OTRP_OK || otrp__jc_expect(&c, '[') != OTRP_OK)
        return otrp__agent_fail(agent, OTRP_ERR_TEE_PROTOCOL,
                                "TEE %s answered a %s that is not an array", label, GDS_RESPONSE);
    for (int first = 1;; first = 0) {
        if (first && otrp__jc_peek(&c) == ']') {
            c.pos++;
            break;
        }
        (void)otrp__jc_peek(&c); /* skips white space before the element */
        size_t start = c.pos;
        if (otrp__jc_skip_value(&c, ANSWER_MAX_DEPTH) != OTRP_OK)
            return otrp__agent_fail(agent, OTRP_ERR_TEE_PROTOCOL,
                                    "TEE %s answered a malformed %s", label, GDS_RESPONSE);
        otrp_status st = check_answer(agent, tee, text + start, c.pos - start,
                                      "GetDeviceTEEStateResponse");
        if (st != OTRP_OK)
            return st;
        if (*count > 0 && (st = otrp_buf_append(wrapped, ",", 1)) != OTRP_OK)
            return st;
        if ((st = otrp_buf_append(wrapped, text + start, c.pos - start)) != OTRP_OK)
            return st;
        (*count)++;
        int next = otrp__jc_peek(&c);
        c.pos++;
        if (next == ']')
            break;
        if (next != ',')
            return otrp__agent_fail(agent, OTRP_ERR_TEE_PROTOCOL,
                                    "TEE %s answered a malformed %s", label, GDS_RESPONSE);
    }
    if (otrp__jc_expect(&c, '}') != OTRP_OK || otrp__jc_peek(&c) != -1)
        return otrp__agent_fail(agent, OTRP_ERR_TEE_PROTOCOL,
                                "TEE %s answered a malformed %s", label, GDS_RESPONSE);
    return OTRP_OK;
}

/* GetDeviceStateRequest goes to every TEE; answers are gathered in registration order
 * and TEEs that give none are left out (PROFILE P9). */
static otrp_status fan_out(otrp_agent *agent, const char *msg, size_t len,
                           const otrp__route *route, otrp_buf *wrapped)
{
    if (agent->tee_count == 0) {
        otrp_status st = otrp__agent_fail(agent, OTRP_ERR_NO_TEE, "no TEE registered for %s",
                                          route->name);
        return answer_with_broker_error(agent, st, route, wrapped);
    }
    otrp_buf_reset(wrapped);
    wrapped->max = agent->config.max_message_size;
    otrp_buf *out = &agent->tee_out; /* each TEE's answer, reset by otrp__tee_process */
    otrp_status st = otrp_buf_append_str(wrapped, GDS_PREFIX);
    size_t count = 0;
    size_t busy = 0;
    otrp_status first_failure = OTRP_OK;
    char first_detail[OTRP__DETAIL_MAX] = "";
    for (size_t i = 0; i < agent->tee_count && st == OTRP_OK; i++) {
        otrp_tee *tee = agent->tees[i];
        otrp_status tst = otrp__tee_process(agent, tee, msg, len, out);
        if (tst == OTRP_ERR_CANCELLED) {
            otrp_buf_reset(wrapped);
            return otrp__tee_failure(agent, tee, tst);
        }
        if (tst == OTRP_OK && out->len > 0) {
            size_t before = wrapped->len;
            size_t count_before = count;
            tst = append_gds_elements(agent, tee, (const char *)out->data, out->len, wrapped,
                                      &count);
            if (tst == OTRP_ERR_TOO_LARGE || tst == OTRP_ERR_NO_MEMORY) {
                otrp_buf_reset(wrapped);
                return otrp__agent_fail(agent, tst, "GetDeviceStateResponse exceeds the limit");
            }
            if (tst != OTRP_OK) { /* drop this TEE's partial elements */
                wrapped->len = before;
                wrapped->data[before] = '\0';
                count = count_before;
            }
        } else if (tst == OTRP_OK) {
            tst = OTRP_ERR_TEE_FAIL; /* no data is no answer to GetDeviceState */
            otrp__agent_fail(agent, tst, "TEE %zu had no answer to GetDeviceState", i + 1);
        } else {
            busy += tst == OTRP_ERR_TEE_BUSY;
            otrp__tee_failure(agent, tee, tst);
        }
        if (tst != OTRP_OK && first_failure == OTRP_OK) {
            first_failure = tst == OTRP_ERR_TEE_BUSY ? OTRP_ERR_TEE_BUSY : OTRP_ERR_TEE_FAIL;
            memcpy(first_detail, agent->error, sizeof first_detail);
        }
    }
    otrp__buf_release(out);
    if (st == OTRP_OK)
        st = otrp_buf_append_str(wrapped, "]}");
    if (st != OTRP_OK) {
        otrp_buf_reset(wrapped);
        return otrp__agent_fail(agent, st, "cannot build GetDeviceStateResponse");
    }
    if (count == 0) {
        st = busy == agent->tee_count ? OTRP_ERR_TEE_BUSY : OTRP_ERR_TEE_FAIL;
        otrp__agent_fail(agent, st, "no TEE answered GetDeviceState; first failure: %s",
                         first_detail);
        return answer_with_broker_error(agent, st, route, wrapped);
    }
    if (first_failure != OTRP_OK) /* partial answer: keep the reason for the caller */
        memcpy(agent->error, first_detail, sizeof agent->error);
    return OTRP_OK;
}

otrp_status otrp__relay(otrp_agent *agent, const char *msg, size_t len, char **resp,
                        size_t *resp_len)
{
    otrp_buf answer = {0};
    otrp_status st = otrp__relay_buf(agent, msg, len, &answer);
    *resp = NULL;
    *resp_len = 0;
    if (answer.len > 0) {
        *resp = (char *)answer.data; /* handed over without a copy; otrp_free() releases it */
        *resp_len = answer.len;
    } else {
        otrp_buf_free(&answer);
    }
    return st;
}

otrp_status otrp__relay_buf(otrp_agent *agent, const char *msg, size_t len, otrp_buf *answer)
{
    otrp_buf_reset(answer);
    if (msg == NULL && len > 0)
        return otrp__agent_fail(agent, OTRP_ERR_INVALID_ARG, "message is NULL");
    if (len == 0)
        return otrp__agent_fail(agent, OTRP_ERR_MSG_EMPTY, "message is empty");
    if (len > agent->config.max_message_size)
        return otrp__agent_fail(agent, OTRP_ERR_TOO_LARGE,
                                "message of %zu bytes exceeds the %zu-byte limit", len,
                                agent->config.max_message_size);
    otrp__route route;
    char why[OTRP__DETAIL_MAX];
    otrp_status st = otrp__route_read(msg, len, OTRP__TAM_REQUEST, &route, why, sizeof why);
    if (st != OTRP_OK)
        return otrp__agent_fail(agent, st, "%s", why);
    otrp__log(agent, OTRP_LOG_DEBUG, "relay %s (%zu bytes, %zu payload bytes read)", route.name,
              len, route.payload_bytes_read);
    return route.get_device_state ? fan_out(agent, msg, len, &route, answer)
                                  : relay_to_one(agent, msg, len, &route, answer);
}

otrp_status otrp_agent_process(otrp_agent *agent, const char *msg, size_t len, char **resp,
                               size_t *resp_len)
{
    *resp = NULL;
    *resp_len = 0;
    otrp_status running = otrp__stats_begin(agent, "relay");
    if (running != OTRP_OK)
        return running;
    otrp_status st = otrp__relay(agent, msg, len, resp, resp_len);
    otrp__stats_end(agent, st);
    return st;
}
