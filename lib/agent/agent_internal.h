/* The agent's private structures and the helpers its files share. */
#ifndef OTRP_AGENT_INTERNAL_H
#define OTRP_AGENT_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

#include "otrp/agent.h"

/* The longest detail string kept per handle. */
#define OTRP__DETAIL_MAX 512
/* The longest failure explanation kept from a backend (part of the detail above). */
#define OTRP__TEE_DETAIL_MAX 256

struct otrp_tee {
    const struct otrp_tee_ops *ops;
    void *ctx;
    pthread_mutex_t lock; /* held for every call into the backend */
    char *name;           /* routing name once learnt (malloc), else NULL */
    otrp_status last_status; /* of the last call: ready, busy or unreachable */
    char detail[OTRP__TEE_DETAIL_MAX]; /* the backend's word on the last failure */
};

/* Figures of the last operation, reported by otrp_get_device_state(). */
typedef struct otrp__session_stats {
    int valid;
    const char *operation;
    otrp_status result;
    char detail[OTRP__DETAIL_MAX];
    unsigned long round_trips;
    unsigned long long bytes_to_tee;
    unsigned long long bytes_from_tee;
    unsigned long long bytes_sent;
    unsigned long long bytes_received;
    uint64_t start_ms;
    uint64_t duration_ms;
} otrp__session_stats;

/* The session loop's buffers keep their memory across sessions up to this capacity, so
 * the usual messages (GetDeviceState, CreateSD, a small InstallTA) need no allocation
 * per session (each was malloc, copy and wipe per doubling, and large allocations
 * between libcurl's small ones also cost glibc a consolidation of its free lists); one
 * that grew past it for a large TA is freed when the session ends. */
#define OTRP__RESPONSE_KEEP_MAX ((size_t)64 * 1024)

typedef struct otrp__async otrp__async;

struct otrp_agent {
    otrp_agent_config config;
    otrp_tee *tees[OTRP_MAX_TEES];
    size_t tee_count;
    char error[OTRP__DETAIL_MAX];
    int cancelled; /* set by otrp_agent_cancel() from any thread: __atomic only */
    /* The session deadline (otrp_monotonic_ms()) of the operation in progress, which
     * every TEE call and POST of it honours; 0 = none. */
    uint64_t deadline_ms;
    int deadline_hit; /* a TEE call or wait of the operation ended on that deadline */
    otrp__session_stats last;
    struct otrp__http *http; /* the TAM transport, made at the first session */
    /* Buffers the session loop keeps across sessions, each up to OTRP__RESPONSE_KEEP_MAX
     * bytes of capacity: */
    otrp_buf response;       /* the TAM's messages */
    otrp_buf answer;         /* what the agent POSTs back (otrp__relay_buf) */
    otrp_buf tee_out;        /* one TEE's GetDeviceState answer before it is wrapped */
    struct otrp__async *async; /* the non-blocking sessions (async.c); NULL before one */
};

/* Done with one of the agent's kept buffers for now: emptied, and freed when it grew
 * past OTRP__RESPONSE_KEEP_MAX (a large message does not pin its memory). */
void otrp__buf_release(otrp_buf *buf);

/* Record a failure detail on the handle (printf-style), log it, return status. */
__attribute__((format(printf, 3, 4)))
otrp_status otrp__agent_fail(otrp_agent *agent, otrp_status status, const char *fmt, ...);

__attribute__((format(printf, 3, 4)))
void otrp__log(const otrp_agent *agent, otrp_log_level level, const char *fmt, ...);

/* The first step of every public operation that uses TEEs: no detail, no deadline, and
 * no cancel (a cancel made while no operation ran is dropped, see otrp_agent_cancel()).
 * OTRP_ERR_IN_PROGRESS, and nothing else done, while non-blocking sessions run
 * (otrp__async_refuse_blocking()); else OTRP_OK. */
otrp_status otrp__op_begin(otrp_agent *agent);

/* Start (otrp__op_begin() included, with its status) and finish the figures of one
 * operation. */
otrp_status otrp__stats_begin(otrp_agent *agent, const char *operation);
void otrp__stats_end(otrp_agent *agent, otrp_status result);

/* One call into a backend, given the ops, its ctx and the call; args is the caller's. */
typedef otrp_status (*otrp__tee_invoke_fn)(const struct otrp_tee_ops *ops, void *ctx,
                                           const otrp_tee_call *call, void *args);

/* Call a TEE under its lock with a deadline (tee_timeout_ms, or the session deadline
 * when that comes first), retrying a busy TEE with backoff that ends early on cancel
 * and is not waited for when it would end past the session deadline. A backend that
 * answers after the deadline gets OTRP_ERR_TIMEOUT. */
otrp_status otrp__tee_invoke(otrp_agent *agent, otrp_tee *tee, otrp__tee_invoke_fn fn,
                             void *args);

/* The TEE's routing name (learnt once, then cached); NULL when it cannot be learnt. */
const char *otrp__tee_name(otrp_agent *agent, otrp_tee *tee);

/* A short label of the TEE for messages: its name, or "#<index> (<kind>)". */
void otrp__tee_label(const otrp_agent *agent, const otrp_tee *tee, char *out, size_t cap);

/* ProcessOTrPMessage on one TEE; out is limited to the agent's message size. */
otrp_status otrp__tee_process(otrp_agent *agent, otrp_tee *tee, const char *msg, size_t len,
                              otrp_buf *out);

/* otrp_agent_process() without the figures' start and end (the session loop relays
 * many messages in one session). */
otrp_status otrp__relay(otrp_agent *agent, const char *msg, size_t len, char **resp,
                        size_t *resp_len);

/* The same into answer (reset first; empty: no data, or a failure the TAM is not told
 * of). The session loop relays into a buffer it keeps, so that a session's answers
 * need no allocation of their own. */
otrp_status otrp__relay_buf(otrp_agent *agent, const char *msg, size_t len, otrp_buf *answer);

/* Map a failed TEE call to the agent's status and a detail naming the TEE and cause. */
otrp_status otrp__tee_failure(otrp_agent *agent, const otrp_tee *tee, otrp_status st);

/* Build {"OTrPBrokerError": {...}} for the TAM; rid/tid may be NULL. */
otrp_status otrp__broker_error(const char *errcode, const char *rid, const char *tid,
                               char **out, size_t *out_len);

/* ---- the steps of one session (session.c), run by the blocking loop there and by the
 * non-blocking sessions of otrp/session.h (async.c) ---- */

#include "http/http.h"

typedef enum otrp__first_step {
    OTRP__STEP_REQUEST_TA,
    OTRP__STEP_UNREQUEST_TA,
    OTRP__STEP_POLICY_CHECK
} otrp__first_step;

/* What a session does next; the *_done step that follows each wait says. */
typedef enum otrp__next {
    OTRP__NEXT_TEE_FIRST,     /* otrp__sess_tee_first(), then otrp__sess_first_done() */
    OTRP__NEXT_POST,          /* POST s->body to s->uri into agent->response, into s->st and
                                 s->info, then otrp__sess_post_done() */
    OTRP__NEXT_RELAY,         /* otrp__sess_relay(), then otrp__sess_relay_done() */
    OTRP__NEXT_PROCESS_ERROR, /* otrp__tell_process_error(), then done */
    OTRP__NEXT_DONE           /* s->st is the session's status */
} otrp__next;

/* One session's place in the POST loop (PROFILE P8, P10). The waits (TEE calls, POSTs)
 * are the caller's; the steps between them never block. */
typedef struct otrp__sess {
    otrp__first_step step;
    const char *taid;         /* not copied */
    const char *tam_uri;      /* the caller's hint; not copied */
    otrp_tee *tee;
    otrp_buf tee_uri, msg;    /* the TEE's first step: its TAM URI and message */
    const char *uri;          /* the TAM POSTed to */
    const char *body;         /* the next POST's body */
    size_t body_len;
    unsigned round_trip;
    otrp_status st;           /* the last wait's status; the session's once done */
    otrp_status relay_st;     /* otrp__sess_relay()'s */
    otrp__http_result info;   /* the last POST's */
    otrp_status failure;      /* a failure the TAM was told about */
    char failure_detail[OTRP__DETAIL_MAX];
} otrp__sess;

void otrp__sess_init(otrp__sess *s, otrp_tee *tee, otrp__first_step step, const char *taid,
                     const char *tam_uri);
otrp__next otrp__sess_begin(otrp_agent *agent, otrp__sess *s);
void otrp__sess_tee_first(otrp_agent *agent, otrp__sess *s);
otrp__next otrp__sess_first_done(otrp_agent *agent, otrp__sess *s);
otrp__next otrp__sess_post_done(otrp_agent *agent, otrp__sess *s);
void otrp__sess_relay(otrp_agent *agent, otrp__sess *s);
otrp__next otrp__sess_relay_done(otrp_agent *agent, otrp__sess *s);
/* Release the session's buffers (agent->response and answer are kept, see above). */
void otrp__sess_end(otrp_agent *agent, otrp__sess *s);
void otrp__tell_process_error(otrp_agent *agent);
int otrp__tee_supports(const otrp_tee *tee, otrp__first_step step);
const char *otrp__step_name(otrp__first_step step);
void otrp__report(otrp_agent *agent, otrp_progress_stage stage, unsigned round_trip);
/* Fail the operation on its session deadline; the detail says in which step. */
__attribute__((format(printf, 2, 3)))
otrp_status otrp__session_timeout(otrp_agent *agent, const char *fmt, ...);

/* A policy check's session on one TEE ended with st: keep the first failure (*first,
 * detail); 1 when the remaining TEEs must not run (cancel, session deadline). */
int otrp__policy_note(otrp_agent *agent, otrp_status st, otrp_status *first, char *detail,
                      size_t cap);
/* The policy check's status after asked TEEs (the detail set for it). */
otrp_status otrp__policy_result(otrp_agent *agent, otrp_status first, const char *detail,
                                size_t asked);

/* async.c: otrp_agent_cancel() and otrp_agent_free() for the non-blocking sessions. */
void otrp__async_cancel(otrp_agent *agent);
/* OTRP_ERR_IN_PROGRESS (with its detail) while non-blocking sessions run on agent: a
 * blocking call would use their TEEs at the same time. OTRP_OK otherwise. */
otrp_status otrp__async_refuse_blocking(otrp_agent *agent);
void otrp__async_free(otrp_agent *agent);

#endif
