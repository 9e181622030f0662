/* Sessions with a TAM over HTTP: RequestTA, UnrequestTA and policy checks, each the POST
 * loop of draft-ietf-teep-otrp-over-http-02 section 5 (PROFILE P8, P10). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "http/http.h"

struct first_args {
    otrp__first_step step;
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
    case OTRP__STEP_REQUEST_TA:
        return ops->request_ta(ctx, call, a->taid, a->tam_uri_hint, a->tam_uri, a->msg);
    case OTRP__STEP_UNREQUEST_TA:
        return ops->unrequest_ta(ctx, call, a->taid, a->tam_uri_hint, a->tam_uri, a->msg);
    case OTRP__STEP_POLICY_CHECK:
    default:
        return ops->policy_check(ctx, call, a->tam_uri_hint, a->tam_uri, a->msg);
    }
}

int otrp__tee_supports(const otrp_tee *tee, otrp__first_step step)
{
    switch (step) {
    case OTRP__STEP_REQUEST_TA: return tee->ops->request_ta != NULL;
    case OTRP__STEP_UNREQUEST_TA: return tee->ops->unrequest_ta != NULL;
    case OTRP__STEP_POLICY_CHECK:
    default: return tee->ops->policy_check != NULL;
    }
}

const char *otrp__step_name(otrp__first_step step)
{
    switch (step) {
    case OTRP__STEP_REQUEST_TA: return "RequestTA";
    case OTRP__STEP_UNREQUEST_TA: return "UnrequestTA";
    case OTRP__STEP_POLICY_CHECK:
    default: return "RequestPolicyCheck";
    }
}

void otrp__report(otrp_agent *agent, otrp_progress_stage stage, unsigned round_trip)
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
void otrp__tell_process_error(otrp_agent *agent)
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

otrp_status otrp__session_timeout(otrp_agent *agent, const char *fmt, ...)
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

/* The TEE has work for a TAM but neither it nor the caller named one: either it sent a
 * message without a URI, or it said so itself (OTRP_ERR_NO_TAM_URI, see otrp/tee.h). */
static otrp_status no_tam_uri(otrp_agent *agent, const otrp_tee *tee, otrp__first_step step)
{
    char label[96];
    otrp__tee_label(agent, tee, label, sizeof label);
    return otrp__agent_fail(agent, OTRP_ERR_NO_TAM_URI,
                            "neither the caller nor the TEE named a TAM for %s: TEE %s has "
                            "work for one%s%s",
                            otrp__step_name(step), label, tee->detail[0] != '\0' ? ": " : "",
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

/* ---- the steps of one session, shared by the blocking loop and otrp/session.h ---- */

void otrp__sess_init(otrp__sess *s, otrp_tee *tee, otrp__first_step step, const char *taid,
                     const char *tam_uri)
{
    memset(s, 0, sizeof *s);
    s->tee = tee;
    s->step = step;
    s->taid = taid;
    s->tam_uri = tam_uri;
}

otrp__next otrp__sess_begin(otrp_agent *agent, otrp__sess *s)
{
    /* A bad URI from the caller fails before any TEE call, although it is only a hint;
     * the URI the transport POSTed to last passed this check already. */
    if (s->tam_uri != NULL && !otrp__http_uri_is_current(agent->http, s->tam_uri)) {
        char detail[OTRP__HTTP_DETAIL_MAX];
        otrp_status st = otrp__http_check_uri(s->tam_uri, agent->config.allow_http, detail,
                                              sizeof detail);
        if (st != OTRP_OK) {
            s->st = otrp__agent_fail(agent, st, "%s (the URI came from the caller)", detail);
            return OTRP__NEXT_DONE;
        }
    }
    otrp__report(agent, OTRP_STAGE_TEE_REQUEST, 0);
    /* The URI may be as long as any TEE output: its own limit is checked below, where
     * the detail can say that the URI was too long. */
    s->tee_uri.max = agent->config.max_message_size;
    s->msg.max = agent->config.max_message_size;
    return OTRP__NEXT_TEE_FIRST;
}

void otrp__sess_tee_first(otrp_agent *agent, otrp__sess *s)
{
    struct first_args args = {s->step, s->taid, s->tam_uri, &s->tee_uri, &s->msg};
    s->st = otrp__tee_invoke(agent, s->tee, invoke_first, &args);
}

/* The next POST of the loop, from the TEE's first message (body may be empty) on. */
static otrp__next next_post(otrp_agent *agent, otrp__sess *s)
{
    s->round_trip++;
    if (s->round_trip > OTRP_MAX_ROUND_TRIPS) {
        s->st = otrp__agent_fail(agent, OTRP_ERR_SESSION_FAILED,
                                 "the TAM kept the session going past %d messages",
                                 OTRP_MAX_ROUND_TRIPS);
        return OTRP__NEXT_PROCESS_ERROR;
    }
    if (session_expired(agent)) {
        s->st = otrp__session_timeout(agent, "before POST #%u", s->round_trip);
        return OTRP__NEXT_PROCESS_ERROR;
    }
    otrp__report(agent, OTRP_STAGE_POST, s->round_trip);
    memset(&s->info, 0, sizeof s->info);
    return OTRP__NEXT_POST;
}

otrp__next otrp__sess_first_done(otrp_agent *agent, otrp__sess *s)
{
    otrp_status st = s->st;
    otrp__first_step step = s->step;
    otrp_tee *tee = s->tee;
    if (st == OTRP_ERR_NO_TAM_URI) {
        s->st = no_tam_uri(agent, tee, step);
        return OTRP__NEXT_DONE;
    }
    if (st == OTRP_ERR_TIMEOUT && agent->deadline_hit) {
        char label[96];
        otrp__tee_label(agent, tee, label, sizeof label);
        s->st = otrp__session_timeout(agent, "while TEE %s prepared %s", label,
                                      otrp__step_name(step));
        return OTRP__NEXT_DONE;
    }
    if (st != OTRP_OK) {
        s->st = otrp__tee_failure(agent, tee, st);
        return OTRP__NEXT_DONE;
    }
    agent->last.bytes_from_tee += s->msg.len;
    if (s->tee_uri.len == 0 && s->msg.len == 0) {
        otrp__log(agent, OTRP_LOG_INFO, "%s: the TEE has nothing for a TAM",
                  otrp__step_name(step));
        return OTRP__NEXT_DONE;
    }
    /* PROFILE P10: the TEE chooses the TAM; the caller's URI only when it names none. */
    s->uri = s->tee_uri.len > 0 ? (const char *)s->tee_uri.data : s->tam_uri;
    if (s->uri == NULL) {
        s->st = no_tam_uri(agent, tee, step);
        return OTRP__NEXT_DONE;
    }
    if (s->tee_uri.len > 0 && (s->st = check_tee_uri(agent, &s->tee_uri)) != OTRP_OK)
        return OTRP__NEXT_DONE;
    if ((s->st = ensure_transport(agent)) != OTRP_OK)
        return OTRP__NEXT_DONE;
    otrp__http_set_deadline(agent->http, agent->deadline_ms);
    otrp_buf_reset(&agent->response);
    agent->response.max = agent->config.max_message_size;
    s->body = (const char *)s->msg.data;
    s->body_len = s->msg.len;
    return next_post(agent, s);
}

otrp__next otrp__sess_post_done(otrp_agent *agent, otrp__sess *s)
{
    agent->last.bytes_sent += s->info.bytes_sent;
    agent->last.bytes_received += s->info.bytes_received;
    if (s->st != OTRP_OK) {
        if (s->info.deadline_reached)
            s->st = otrp__session_timeout(agent, "in POST #%u: %s", s->round_trip,
                                          s->info.detail);
        else
            s->st = otrp__agent_fail(agent, s->st, "POST #%u: %s", s->round_trip,
                                     s->info.detail);
        return OTRP__NEXT_PROCESS_ERROR;
    }
    if (agent->response.len == 0) { /* the TAM has nothing more to say */
        if (s->failure != OTRP_OK)
            s->st = otrp__agent_fail(agent, s->failure, "%s", s->failure_detail);
        return OTRP__NEXT_DONE;
    }
    otrp__report(agent, OTRP_STAGE_TEE_PROCESS, s->round_trip);
    return OTRP__NEXT_RELAY;
}

void otrp__sess_relay(otrp_agent *agent, otrp__sess *s)
{
    s->relay_st = otrp__relay_buf(agent, (const char *)agent->response.data,
                                  agent->response.len, &agent->answer);
}

otrp__next otrp__sess_relay_done(otrp_agent *agent, otrp__sess *s)
{
    otrp_status rst = s->relay_st;
    otrp_buf *answer = &agent->answer;
    if (agent->deadline_hit) { /* a TEE call ran out of session: the answer is moot */
        char detail[OTRP__DETAIL_MAX];
        (void)snprintf(detail, sizeof detail, "%s", agent->error);
        s->st = otrp__session_timeout(agent, "while the TEE processed TAM message #%u: %s",
                                      s->round_trip, detail);
        return OTRP__NEXT_PROCESS_ERROR;
    }
    if (rst != OTRP_OK && answer->len == 0) { /* malformed TAM message, cancel, memory */
        char detail[OTRP__DETAIL_MAX];
        (void)snprintf(detail, sizeof detail, "%s", agent->error);
        s->st = otrp__agent_fail(agent, rst, "TAM message #%u: %s", s->round_trip, detail);
        return OTRP__NEXT_PROCESS_ERROR;
    }
    if (rst != OTRP_OK && s->failure == OTRP_OK) { /* an OTrPBrokerError goes to the TAM */
        s->failure = rst;
        (void)snprintf(s->failure_detail, sizeof s->failure_detail, "%s", agent->error);
    }
    if (agent->last.result == OTRP_ERR_TEE_REPORTED && s->failure == OTRP_OK) {
        s->failure = OTRP_ERR_TEE_REPORTED;
        (void)snprintf(s->failure_detail, sizeof s->failure_detail, "%s", agent->last.detail);
    }
    if (answer->len == 0) { /* the TEE had no data: the session ends (reference Q31) */
        if (s->failure != OTRP_OK)
            s->st = otrp__agent_fail(agent, s->failure, "%s", s->failure_detail);
        return OTRP__NEXT_DONE;
    }
    s->body = (const char *)answer->data;
    s->body_len = answer->len;
    return next_post(agent, s);
}

void otrp__sess_end(otrp_agent *agent, otrp__sess *s)
{
    otrp__buf_release(&agent->response);
    otrp__buf_release(&agent->answer);
    otrp_buf_free(&s->tee_uri);
    otrp_buf_free(&s->msg);
}

/* One session with the TAM that tee's first step names, every step on this thread. */
static otrp_status run_session(otrp_agent *agent, otrp_tee *tee, otrp__first_step step,
                               const char *taid, const char *tam_uri)
{
    otrp__sess s;
    otrp__sess_init(&s, tee, step, taid, tam_uri);
    otrp__next next = otrp__sess_begin(agent, &s);
    while (next != OTRP__NEXT_DONE) {
        switch (next) {
        case OTRP__NEXT_TEE_FIRST:
            otrp__sess_tee_first(agent, &s);
            next = otrp__sess_first_done(agent, &s);
            break;
        case OTRP__NEXT_POST:
            s.st = otrp__http_post(agent->http, s.uri, s.body, s.body_len, &agent->response,
                                   &s.info);
            next = otrp__sess_post_done(agent, &s);
            break;
        case OTRP__NEXT_RELAY:
            otrp__sess_relay(agent, &s);
            next = otrp__sess_relay_done(agent, &s);
            break;
        case OTRP__NEXT_PROCESS_ERROR:
        default:
            otrp__tell_process_error(agent);
            next = OTRP__NEXT_DONE;
            break;
        }
    }
    otrp__sess_end(agent, &s);
    return s.st;
}

static otrp_tee *first_supporting(otrp_agent *agent, otrp__first_step step)
{
    for (size_t i = 0; i < agent->tee_count; i++) {
        if (otrp__tee_supports(agent->tees[i], step))
            return agent->tees[i];
    }
    return NULL;
}

/* The start of a session operation: its figures, and its deadline for every step. */
static otrp_status session_begin(otrp_agent *agent, const char *operation)
{
    otrp_status st = otrp__stats_begin(agent, operation);
    if (st != OTRP_OK)
        return st;
    unsigned timeout = agent->config.session_timeout_ms;
    agent->deadline_ms = timeout != 0 ? agent->last.start_ms + timeout : 0;
    return OTRP_OK;
}

static otrp_status ta_session(otrp_agent *agent, otrp__first_step step, const char *operation,
                              const char *taid, const char *tam_uri)
{
    otrp_status running = session_begin(agent, operation);
    if (running != OTRP_OK)
        return running;
    otrp_status st;
    otrp_tee *tee = first_supporting(agent, step);
    if (taid[0] == '\0')
        st = otrp__agent_fail(agent, OTRP_ERR_INVALID_ARG, "TA id is empty");
    else if (tee == NULL)
        st = otrp__agent_fail(agent, agent->tee_count ? OTRP_ERR_UNSUPPORTED : OTRP_ERR_NO_TEE,
                              "no registered TEE supports %s", otrp__step_name(step));
    else
        st = run_session(agent, tee, step, taid, tam_uri);
    otrp__report(agent, OTRP_STAGE_DONE, 0);
    otrp__stats_end(agent, st);
    return st;
}

otrp_status otrp_agent_request_ta(otrp_agent *agent, const char *taid, const char *tam_uri)
{
    return ta_session(agent, OTRP__STEP_REQUEST_TA, "request_ta", taid, tam_uri);
}

otrp_status otrp_agent_unrequest_ta(otrp_agent *agent, const char *taid, const char *tam_uri)
{
    return ta_session(agent, OTRP__STEP_UNREQUEST_TA, "unrequest_ta", taid, tam_uri);
}

int otrp__policy_note(otrp_agent *agent, otrp_status st, otrp_status *first, char *detail,
                      size_t cap)
{
    if (st == OTRP_ERR_CANCELLED || (st == OTRP_ERR_TIMEOUT && agent->deadline_hit)) {
        *first = st; /* the others would fail alike: the detail is set */
        return 1;
    }
    if (st != OTRP_OK && *first == OTRP_OK) {
        *first = st;
        (void)snprintf(detail, cap, "%s", agent->error);
    }
    agent->last.result = OTRP_OK; /* each TEE's session is judged on its own */
    return 0;
}

otrp_status otrp__policy_result(otrp_agent *agent, otrp_status first, const char *detail,
                                size_t asked)
{
    if (first == OTRP_ERR_CANCELLED || (first == OTRP_ERR_TIMEOUT && agent->deadline_hit))
        return first; /* the detail is set */
    if (asked == 0)
        return otrp__agent_fail(agent, agent->tee_count ? OTRP_ERR_UNSUPPORTED : OTRP_ERR_NO_TEE,
                                "no registered TEE supports RequestPolicyCheck");
    if (first != OTRP_OK)
        otrp__agent_fail(agent, first, "%s", detail);
    return first;
}

otrp_status otrp_agent_policy_check(otrp_agent *agent, const char *tam_uri)
{
    otrp_status running = session_begin(agent, "policy_check");
    if (running != OTRP_OK)
        return running;
    otrp_status first = OTRP_OK;
    char first_detail[OTRP__DETAIL_MAX] = "";
    size_t asked = 0;
    for (size_t i = 0; i < agent->tee_count; i++) {
        otrp_tee *tee = agent->tees[i];
        if (!otrp__tee_supports(tee, OTRP__STEP_POLICY_CHECK))
            continue;
        asked++;
        otrp_status st = run_session(agent, tee, OTRP__STEP_POLICY_CHECK, NULL, tam_uri);
        if (otrp__policy_note(agent, st, &first, first_detail, sizeof first_detail))
            break;
    }
    first = otrp__policy_result(agent, first, first_detail, asked);
    otrp__report(agent, OTRP_STAGE_DONE, 0);
    otrp__stats_end(agent, first);
    return first;
}
