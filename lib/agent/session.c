/* Sessions with a TAM over HTTP: RequestTA, UnrequestTA and policy checks, each the POST
 * loop of draft-ietf-teep-otrp-over-http-02 section 5 (PROFILE P8, P10). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "http/http.h"

typedef enum first_step { STEP_REQUEST_TA, STEP_UNREQUEST_TA, STEP_POLICY_CHECK } first_step;

struct first_args {
    first_step step;
    const char *taid;
    const char *tam_uri_hint;
    otrp_buf *tam_uri;
    otrp_buf *msg;
};

static otrp_status invoke_first(const struct otrp_tee_ops *ops, void *ctx,
                                const otrp_tee_call *call, void *args)
{
    struct first_args *a = args;
    otrp_buf_reset(a->tam_uri);
    otrp_buf_reset(a->msg);
    switch (a->step) {
    case STEP_REQUEST_TA:
        return ops->request_ta(ctx, call, a->taid, a->tam_uri_hint, a->tam_uri, a->msg);
    case STEP_UNREQUEST_TA:
        return ops->unrequest_ta(ctx, call, a->taid, a->tam_uri_hint, a->tam_uri, a->msg);
    case STEP_POLICY_CHECK:
    default:
        return ops->policy_check(ctx, call, a->tam_uri_hint, a->tam_uri, a->msg);
    }
}

static int supports(const otrp_tee *tee, first_step step)
{
    switch (step) {
    case STEP_REQUEST_TA: return tee->ops->request_ta != NULL;
    case STEP_UNREQUEST_TA: return tee->ops->unrequest_ta != NULL;
    case STEP_POLICY_CHECK:
    default: return tee->ops->policy_check != NULL;
    }
}

static const char *step_name(first_step step)
{
    switch (step) {
    case STEP_REQUEST_TA: return "RequestTA";
    case STEP_UNREQUEST_TA: return "UnrequestTA";
    case STEP_POLICY_CHECK:
    default: return "RequestPolicyCheck";
    }
}

static void report(otrp_agent *agent, otrp_progress_stage stage, unsigned round_trip)
{
    if (agent->config.progress == NULL)
        return;
    otrp_progress p = {sizeof p, stage, round_trip, agent->last.bytes_sent,
                       agent->last.bytes_received};
    agent->config.progress(agent->config.progress_user, &p);
}

static otrp_status invoke_process_error(const struct otrp_tee_ops *ops, void *ctx,
                                        const otrp_tee_call *call, void *args)
{
    (void)args;
    return ops->process_error(ctx, call);
}

/* The TAM could not be reached or answered badly: every TEE forgets the session. The
 * agent does not know which TEEs a GetDeviceState fan-out touched, so it tells all.
 * The session's deadline may be what ended it: ProcessError gets tee_timeout_ms of its
 * own, so that a TEE still learns to forget the session. */
static void tell_process_error(otrp_agent *agent)
{
    uint64_t deadline = agent->deadline_ms;
    agent->deadline_ms = 0;
    for (size_t i = 0; i < agent->tee_count; i++) {
        otrp_tee *tee = agent->tees[i];
        if (tee->ops->process_error != NULL &&
            otrp__tee_invoke(agent, tee, invoke_process_error, NULL) != OTRP_OK)
            otrp__log(agent, OTRP_LOG_WARN, "TEE #%zu ProcessError failed", i + 1);
    }
    agent->deadline_ms = deadline;
}

/* 1 once the operation's session deadline has come. */
static int session_expired(const otrp_agent *agent)
{
    return agent->deadline_ms != 0 && otrp_monotonic_ms() >= agent->deadline_ms;
}

/* Fail the operation on its session deadline; the detail says in which step. */
__attribute__((format(printf, 2, 3)))
static otrp_status session_timeout(otrp_agent *agent, const char *fmt, ...)
{
    char step[OTRP__DETAIL_MAX];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(step, sizeof step, fmt, ap);
    va_end(ap);
    agent->deadline_hit = 1;
    return otrp__agent_fail(agent, OTRP_ERR_TIMEOUT, "session timeout of %u ms reached %s",
                            agent->config.session_timeout_ms, step);
}

static otrp_status ensure_transport(otrp_agent *agent)
{
    if (agent->http != NULL)
        return OTRP_OK;
    otrp__http_settings settings;
    otrp__http_settings_init(&settings);
    otrp__http_settings_from_config(&settings, &agent->config);
    settings.cancel = &agent->cancelled;
    otrp_status st = otrp__http_new(&settings, &agent->http);
    if (st != OTRP_OK)
        return otrp__agent_fail(agent, st, "cannot set up the TAM transport: %s",
                                otrp_strerror(st));
    return OTRP_OK;
}

/* The POST loop, from the TEE's first message (body may be empty) on. */
static otrp_status post_loop(otrp_agent *agent, const char *uri, otrp_buf *first)
{
    otrp_buf *response = &agent->response;
    otrp_buf_reset(response);
    response->max = agent->config.max_message_size;
    otrp_buf *answer = &agent->answer; /* the relayed answer being POSTed */
    const char *body = (const char *)first->data;
    size_t body_len = first->len;
    otrp_status failure = OTRP_OK; /* a failure the TAM was told about */
    char failure_detail[OTRP__DETAIL_MAX] = "";
    otrp_status st = OTRP_OK;
    for (unsigned round_trip = 1;; round_trip++) {
        if (round_trip > OTRP_MAX_ROUND_TRIPS) {
            st = otrp__agent_fail(agent, OTRP_ERR_SESSION_FAILED,
                                  "the TAM kept the session going past %d messages",
                                  OTRP_MAX_ROUND_TRIPS);
            tell_process_error(agent);
            break;
        }
        if (session_expired(agent)) {
            st = session_timeout(agent, "before POST #%u", round_trip);
            tell_process_error(agent);
            break;
        }
        report(agent, OTRP_STAGE_POST, round_trip);
        otrp__http_result info;
        memset(&info, 0, sizeof info);
        st = otrp__http_post(agent->http, uri, body, body_len, response, &info);
        agent->last.bytes_sent += info.bytes_sent;
        agent->last.bytes_received += info.bytes_received;
        if (st != OTRP_OK) {
            if (info.deadline_reached)
                session_timeout(agent, "in POST #%u: %s", round_trip, info.detail);
            else
                otrp__agent_fail(agent, st, "POST #%u: %s", round_trip, info.detail);
            tell_process_error(agent);
            break;
        }
        if (response->len == 0) { /* the TAM has nothing more to say */
            if (failure != OTRP_OK)
                st = otrp__agent_fail(agent, failure, "%s", failure_detail);
            break;
        }
        report(agent, OTRP_STAGE_TEE_PROCESS, round_trip);
        otrp_status rst = otrp__relay_buf(agent, (const char *)response->data, response->len,
                                          answer);
        if (agent->deadline_hit) { /* a TEE call ran out of session: the answer is moot */
            char detail[OTRP__DETAIL_MAX];
            (void)snprintf(detail, sizeof detail, "%s", agent->error);
            st = session_timeout(agent, "while the TEE processed TAM message #%u: %s",
                                 round_trip, detail);
            tell_process_error(agent);
            break;
        }
        if (rst != OTRP_OK && answer->len == 0) { /* malformed TAM message, cancel, memory */
            char detail[OTRP__DETAIL_MAX];
            (void)snprintf(detail, sizeof detail, "%s", agent->error);
            st = otrp__agent_fail(agent, rst, "TAM message #%u: %s", round_trip, detail);
            tell_process_error(agent);
            break;
        }
        if (rst != OTRP_OK && failure == OTRP_OK) { /* an OTrPBrokerError goes to the TAM */
            failure = rst;
            (void)snprintf(failure_detail, sizeof failure_detail, "%s", agent->error);
        }
        if (agent->last.result == OTRP_ERR_TEE_REPORTED && failure == OTRP_OK) {
            failure = OTRP_ERR_TEE_REPORTED;
            (void)snprintf(failure_detail, sizeof failure_detail, "%s", agent->last.detail);
        }
        if (answer->len == 0) { /* the TEE had no data: the session ends (reference Q31) */
            if (failure != OTRP_OK)
                st = otrp__agent_fail(agent, failure, "%s", failure_detail);
            break;
        }
        body = (const char *)answer->data;
        body_len = answer->len;
    }
    otrp__buf_release(response);
    otrp__buf_release(answer);
    return st;
}

/* The TEE has work for a TAM but neither it nor the caller named one: either it sent a
 * message without a URI, or it said so itself (OTRP_ERR_NO_TAM_URI, see otrp/tee.h). */
static otrp_status no_tam_uri(otrp_agent *agent, const otrp_tee *tee, first_step step)
{
    char label[96];
    otrp__tee_label(agent, tee, label, sizeof label);
    return otrp__agent_fail(agent, OTRP_ERR_NO_TAM_URI,
                            "neither the caller nor the TEE named a TAM for %s: TEE %s has "
                            "work for one%s%s",
                            step_name(step), label, tee->detail[0] != '\0' ? ": " : "",
                            tee->detail);
}

/* The URI a TEE passed back (len bytes, not trusted to be a C string), checked as the
 * caller's is; the URI the transport POSTed to last passed this check already. */
static otrp_status check_tee_uri(otrp_agent *agent, const otrp_buf *uri)
{
    const char *text = (const char *)uri->data;
    if (memchr(text, '\0', uri->len) == NULL && otrp__http_uri_is_current(agent->http, text))
        return OTRP_OK;
    char detail[OTRP__HTTP_DETAIL_MAX];
    otrp_status st = otrp__http_check_uri_bytes(text, uri->len, agent->config.allow_http,
                                                detail, sizeof detail);
    if (st != OTRP_OK)
        return otrp__agent_fail(agent, st, "%s (the URI came from the TEE)", detail);
    return OTRP_OK;
}

/* One session with the TAM that tee's first step names. */
static otrp_status run_session(otrp_agent *agent, otrp_tee *tee, first_step step,
                               const char *taid, const char *tam_uri)
{
    /* A bad URI from the caller fails before any TEE call, although it is only a hint;
     * the URI the transport POSTed to last passed this check already. */
    if (tam_uri != NULL && !otrp__http_uri_is_current(agent->http, tam_uri)) {
        char detail[OTRP__HTTP_DETAIL_MAX];
        otrp_status st = otrp__http_check_uri(tam_uri, agent->config.allow_http, detail,
                                              sizeof detail);
        if (st != OTRP_OK)
            return otrp__agent_fail(agent, st, "%s (the URI came from the caller)", detail);
    }
    report(agent, OTRP_STAGE_TEE_REQUEST, 0);
    otrp_buf tee_uri = {0}, msg = {0};
    /* The URI may be as long as any TEE output: its own limit is checked below, where
     * the detail can say that the URI was too long. */
    tee_uri.max = agent->config.max_message_size;
    msg.max = agent->config.max_message_size;
    struct first_args args = {step, taid, tam_uri, &tee_uri, &msg};
    otrp_status st = otrp__tee_invoke(agent, tee, invoke_first, &args);
    if (st == OTRP_ERR_NO_TAM_URI) {
        st = no_tam_uri(agent, tee, step);
        goto out;
    }
    if (st == OTRP_ERR_TIMEOUT && agent->deadline_hit) {
        char label[96];
        otrp__tee_label(agent, tee, label, sizeof label);
        st = session_timeout(agent, "while TEE %s prepared %s", label, step_name(step));
        goto out;
    }
    if (st != OTRP_OK) {
        st = otrp__tee_failure(agent, tee, st);
        goto out;
    }
    agent->last.bytes_from_tee += msg.len;
    if (tee_uri.len == 0 && msg.len == 0) {
        otrp__log(agent, OTRP_LOG_INFO, "%s: the TEE has nothing for a TAM", step_name(step));
        goto out;
    }
    /* PROFILE P10: the TEE chooses the TAM; the caller's URI only when it names none. */
    const char *uri = tee_uri.len > 0 ? (const char *)tee_uri.data : tam_uri;
    if (uri == NULL) {
        st = no_tam_uri(agent, tee, step);
        goto out;
    }
    if (tee_uri.len > 0 && (st = check_tee_uri(agent, &tee_uri)) != OTRP_OK)
        goto out;
    if ((st = ensure_transport(agent)) == OTRP_OK) {
        otrp__http_set_deadline(agent->http, agent->deadline_ms);
        st = post_loop(agent, uri, &msg);
    }
out:
    otrp_buf_free(&tee_uri);
    otrp_buf_free(&msg);
    return st;
}

static otrp_tee *first_supporting(otrp_agent *agent, first_step step)
{
    for (size_t i = 0; i < agent->tee_count; i++) {
        if (supports(agent->tees[i], step))
            return agent->tees[i];
    }
    return NULL;
}

/* The start of a session operation: its figures, and its deadline for every step. */
static void session_begin(otrp_agent *agent, const char *operation)
{
    otrp__stats_begin(agent, operation);
    unsigned timeout = agent->config.session_timeout_ms;
    agent->deadline_ms = timeout != 0 ? agent->last.start_ms + timeout : 0;
}

static otrp_status ta_session(otrp_agent *agent, first_step step, const char *operation,
                              const char *taid, const char *tam_uri)
{
    session_begin(agent, operation);
    otrp_status st;
    otrp_tee *tee = first_supporting(agent, step);
    if (taid[0] == '\0')
        st = otrp__agent_fail(agent, OTRP_ERR_INVALID_ARG, "TA id is empty");
    else if (tee == NULL)
        st = otrp__agent_fail(agent, agent->tee_count ? OTRP_ERR_UNSUPPORTED : OTRP_ERR_NO_TEE,
                              "no registered TEE supports %s", step_name(step));
    else
        st = run_session(agent, tee, step, taid, tam_uri);
    report(agent, OTRP_STAGE_DONE, 0);
    otrp__stats_end(agent, st);
    return st;
}

otrp_status otrp_agent_request_ta(otrp_agent *agent, const char *taid, const char *tam_uri)
{
    return ta_session(agent, STEP_REQUEST_TA, "request_ta", taid, tam_uri);
}

otrp_status otrp_agent_unrequest_ta(otrp_agent *agent, const char *taid, const char *tam_uri)
{
    return ta_session(agent, STEP_UNREQUEST_TA, "unrequest_ta", taid, tam_uri);
}

otrp_status otrp_agent_policy_check(otrp_agent *agent, const char *tam_uri)
{
    session_begin(agent, "policy_check");
    otrp_status first = OTRP_OK;
    char first_detail[OTRP__DETAIL_MAX] = "";
    size_t asked = 0;
    for (size_t i = 0; i < agent->tee_count; i++) {
        otrp_tee *tee = agent->tees[i];
        if (!supports(tee, STEP_POLICY_CHECK))
            continue;
        asked++;
        otrp_status st = run_session(agent, tee, STEP_POLICY_CHECK, NULL, tam_uri);
        if (st == OTRP_ERR_CANCELLED || (st == OTRP_ERR_TIMEOUT && agent->deadline_hit)) {
            first = st; /* the others would fail alike: the detail is set */
            break;
        }
        if (st != OTRP_OK && first == OTRP_OK) {
            first = st;
            (void)snprintf(first_detail, sizeof first_detail, "%s", agent->error);
        }
        agent->last.result = OTRP_OK; /* each TEE's session is judged on its own */
    }
    if (first == OTRP_ERR_CANCELLED || (first == OTRP_ERR_TIMEOUT && agent->deadline_hit))
        ; /* the detail is set */
    else if (asked == 0)
        first = otrp__agent_fail(agent, agent->tee_count ? OTRP_ERR_UNSUPPORTED : OTRP_ERR_NO_TEE,
                                 "no registered TEE supports RequestPolicyCheck");
    else if (first != OTRP_OK)
        otrp__agent_fail(agent, first, "%s", first_detail);
    report(agent, OTRP_STAGE_DONE, 0);
    otrp__stats_end(agent, first);
    return first;
}
