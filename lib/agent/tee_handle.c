/* TEE handles: wrapping a backend, and calling it under its lock with a deadline and a
 * bounded busy retry. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/agent_internal.h"
#include "util/detail.h"
#include "util/mem.h"

/* A TEE name longer than this is not a name (DSI names are short; PROFILE P7). */
#define TEE_NAME_MAX 256
/* While backing off from a busy TEE, look at the cancel flag this often. */
#define CANCEL_POLL_MS 10u

otrp_status otrp_tee_new(const struct otrp_tee_ops *ops, void *ctx, otrp_tee **out)
{
    *out = NULL;
    if (ops->struct_size < offsetof(struct otrp_tee_ops, destroy) + sizeof ops->destroy ||
        ops->get_name == NULL || ops->process_message == NULL || ops->destroy == NULL) {
        if (ops->destroy != NULL)
            ops->destroy(ctx);
        return OTRP_ERR_INVALID_ARG;
    }
    otrp_tee *tee = calloc(1, sizeof *tee);
    if (tee == NULL || pthread_mutex_init(&tee->lock, NULL) != 0) {
        free(tee);
        ops->destroy(ctx);
        return OTRP_ERR_NO_MEMORY;
    }
    tee->ops = ops;
    tee->ctx = ctx;
    tee->last_status = OTRP_OK;
    *out = tee;
    return OTRP_OK;
}

void otrp_tee_free(otrp_tee *tee)
{
    if (tee == NULL)
        return;
    tee->ops->destroy(tee->ctx);
    pthread_mutex_destroy(&tee->lock);
    free(tee->name);
    free(tee);
}

/* Keep the backend's explanation of a failure for otrp__tee_failure(), quoted: it is
 * the TEE's text (the mock TEE's may quote a TAM message, a daemon's comes off the
 * socket), and every backend's passes here. */
static void keep_detail(otrp_tee *tee, otrp_status st)
{
    const struct otrp_tee_ops *ops = tee->ops;
    tee->detail[0] = '\0';
    if (st == OTRP_OK)
        return;
    const char *text = NULL;
    if (ops->struct_size >= offsetof(struct otrp_tee_ops, last_error) + sizeof ops->last_error &&
        ops->last_error != NULL)
        text = ops->last_error(tee->ctx);
    otrp__quote_str(tee->detail, sizeof tee->detail, text);
}

/* Only the agent's own cancel makes a cancelled operation: a backend that reports
 * OTRP_ERR_CANCELLED unasked failed (and the TAM gets an OTrPBrokerError for it). */
static otrp_status cancel_only_when_asked(const otrp_agent *agent, otrp_tee *tee,
                                          otrp_status st)
{
    if (st != OTRP_ERR_CANCELLED || __atomic_load_n(&agent->cancelled, __ATOMIC_SEQ_CST))
        return st;
    char said[sizeof tee->detail];
    memcpy(said, tee->detail, sizeof said);
    otrp__set_detail(tee->detail, sizeof tee->detail,
                     "it reported ERR_CANCELLED, but the agent did not cancel%s%s",
                     said[0] != '\0' ? ": " : "", said);
    return OTRP_ERR_TEE_FAIL;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Back off for ms from now, waking early when the operation is cancelled. OTRP_OK,
 * OTRP_ERR_CANCELLED, or OTRP_ERR_TIMEOUT at once when the wait would end past the
 * session deadline (the retry could not be made in time). */
static otrp_status backoff(otrp_agent *agent, uint64_t now, unsigned ms)
{
    if (agent->deadline_ms != 0 && now + ms >= agent->deadline_ms) {
        agent->deadline_hit = 1;
        return OTRP_ERR_TIMEOUT;
    }
    while (ms > 0) {
        if (__atomic_load_n(&agent->cancelled, __ATOMIC_SEQ_CST))
            return OTRP_ERR_CANCELLED;
        unsigned step = ms < CANCEL_POLL_MS ? ms : CANCEL_POLL_MS;
        sleep_ms(step);
        ms -= step;
    }
    return __atomic_load_n(&agent->cancelled, __ATOMIC_SEQ_CST) ? OTRP_ERR_CANCELLED : OTRP_OK;
}

/* The deadline of a call made at now: tee_timeout_ms, or the session's when earlier. */
static uint64_t call_deadline(const otrp_agent *agent, uint64_t now)
{
    uint64_t d = agent->config.tee_timeout_ms ? now + agent->config.tee_timeout_ms : 0;
    if (agent->deadline_ms != 0 && (d == 0 || agent->deadline_ms < d))
        d = agent->deadline_ms;
    return d;
}

otrp_status otrp__tee_invoke(otrp_agent *agent, otrp_tee *tee, otrp__tee_invoke_fn fn,
                             void *args)
{
    unsigned delay = agent->config.tee_busy_backoff_ms;
    for (unsigned attempt = 0;; attempt++) {
        if (__atomic_load_n(&agent->cancelled, __ATOMIC_SEQ_CST))
            return OTRP_ERR_CANCELLED;
        uint64_t now = otrp_monotonic_ms();
        if (agent->deadline_ms != 0 && now >= agent->deadline_ms) {
            agent->deadline_hit = 1; /* the session has no time left for this call */
            return OTRP_ERR_TIMEOUT;
        }
        otrp_tee_call call = {sizeof call, call_deadline(agent, now),
                              agent->config.max_message_size, &agent->cancelled};
        pthread_mutex_lock(&tee->lock);
        otrp_status st = fn(tee->ops, tee->ctx, &call, args);
        keep_detail(tee, st);
        st = cancel_only_when_asked(agent, tee, st);
        pthread_mutex_unlock(&tee->lock);
        if (st == OTRP_OK && call.deadline_ms != 0 && otrp_monotonic_ms() > call.deadline_ms)
            st = OTRP_ERR_TIMEOUT; /* a late answer is no answer */
        if (st == OTRP_ERR_TIMEOUT && agent->deadline_ms != 0 &&
            call.deadline_ms == agent->deadline_ms)
            agent->deadline_hit = 1; /* the session's deadline was the call's */
        if (st != OTRP_ERR_CANCELLED) /* a call the cancel stopped says nothing of the TEE */
            tee->last_status = st;
        if (st != OTRP_ERR_TEE_BUSY || attempt >= agent->config.tee_busy_retries)
            return st;
        otrp__log(agent, OTRP_LOG_INFO, "TEE busy; retry %u of %u in %u ms", attempt + 1,
                  agent->config.tee_busy_retries, delay);
        otrp_status wait = backoff(agent, otrp_monotonic_ms(), delay);
        if (wait != OTRP_OK)
            return wait;
        delay = delay > UINT32_MAX / 2 ? delay : delay * 2;
    }
}

struct name_args {
    otrp_buf *name;
};

static otrp_status invoke_get_name(const struct otrp_tee_ops *ops, void *ctx,
                                   const otrp_tee_call *call, void *args)
{
    struct name_args *a = args;
    otrp_buf_reset(a->name);
    return ops->get_name(ctx, call, a->name);
}

const char *otrp__tee_name(otrp_agent *agent, otrp_tee *tee)
{
    if (tee->name != NULL)
        return tee->name;
    otrp_buf name = {0};
    name.max = TEE_NAME_MAX;
    struct name_args args = {&name};
    otrp_status st = otrp__tee_invoke(agent, tee, invoke_get_name, &args);
    if (st == OTRP_OK && name.len > 0 && memchr(name.data, '\0', name.len) == NULL) {
        tee->name = (char *)name.data; /* NUL-terminated by otrp_buf */
        return tee->name;
    }
    if (st == OTRP_OK)
        tee->last_status = OTRP_ERR_TEE_PROTOCOL; /* an empty or binary name */
    otrp_buf_free(&name);
    return NULL;
}

void otrp__tee_label(const otrp_agent *agent, const otrp_tee *tee, char *out, size_t cap)
{
    if (tee->name != NULL) { /* the TEE's own text */
        char q[OTRP__QUOTE_MAX + 1];
        otrp__quote_str(q, cap > 2 && cap - 2 < sizeof q ? cap - 2 : sizeof q, tee->name);
        (void)snprintf(out, cap, "'%s'", q);
        return;
    }
    size_t index = 0;
    while (index < agent->tee_count && agent->tees[index] != tee)
        index++;
    (void)snprintf(out, cap, "#%zu (%s)", index + 1,
                   tee->ops->kind != NULL ? tee->ops->kind : "?");
}

struct process_args {
    const char *msg;
    size_t len;
    otrp_buf *out;
};

static otrp_status invoke_process(const struct otrp_tee_ops *ops, void *ctx,
                                  const otrp_tee_call *call, void *args)
{
    struct process_args *a = args;
    otrp_buf_reset(a->out);
    return ops->process_message(ctx, call, a->msg, a->len, a->out);
}

otrp_status otrp__tee_process(otrp_agent *agent, otrp_tee *tee, const char *msg, size_t len,
                              otrp_buf *out)
{
    out->max = agent->config.max_message_size;
    struct process_args args = {msg, len, out};
    otrp_status st = otrp__tee_invoke(agent, tee, invoke_process, &args);
    agent->last.round_trips++;
    agent->last.bytes_to_tee += len;
    if (st == OTRP_OK)
        agent->last.bytes_from_tee += out->len;
    else
        otrp_buf_reset(out); /* never pass on half an answer */
    return st;
}
