/* Non-blocking sessions (otrp/session.h): the session steps of session.c driven by the
 * caller's loop, HTTP in libcurl's multi_socket mode, TEE calls on one worker thread per
 * TEE, and a wake-up descriptor for the loop. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#if defined(__linux__)
#include <sys/eventfd.h>
#endif

#include "agent/agent_internal.h"
#include "otrp/session.h"
#include "util/clock.h"
#include "util/mem.h"

/* Log lines one TEE job may leave for the loop; more are counted and dropped (a backend
 * logging in a loop must not grow memory without bound). */
#define LOG_QUEUE_MAX 256u

/* Transports kept for later sessions: as many as sessions can run at once. */
#define IDLE_TRANSPORTS_MAX OTRP_MAX_TEES

/* A TEE whose calls take less than this (a moving average of the last ones) is quick:
 * its calls that the loop starts together run as one batch on one worker, which wakes
 * the loop once at the end (a hand-off costs two context switches, a few us, about what
 * a quick call costs). Every other TEE's call goes to its own worker at once, and each
 * completion wakes the loop. A TEE is slow until its calls showed otherwise. */
#define QUICK_CALL_NS 100000u
#define UNKNOWN_CALL_NS 1000000u

/* One otrp_agent_perform() stops starting work after this long (a TLS handshake step
 * costs up to about a millisecond, and a perform may find many sessions ready): what is
 * left is done in the next one, which the wait set then asks for at once (timeout 0).
 * So the loop is held for about this plus one step, however many sessions run. */
#define PERFORM_BUDGET_NS 2000000u

typedef enum phase {
    PH_QUEUED, /* waiting for its TEE */
    PH_JOB,    /* a TEE call runs on the TEE's worker */
    PH_POST,   /* an HTTP exchange runs on the loop */
    PH_DONE    /* ended; result set */
} phase;

struct log_line {
    struct log_line *next;
    otrp_log_level level;
    char text[];
};

struct otrp_session {
    otrp__async *async;
    otrp_agent *parent;
    /* The session's own agent state: the parent's configuration (log routed through the
     * queue below), its one TEE, detail, figures, deadline, cancel flag, transport and
     * buffers. The session steps of session.c run on it. */
    otrp_agent *sa;
    otrp__sess s;
    otrp__first_step step;
    const char *operation;
    char *taid, *tam_uri;
    size_t tee_index;      /* the TEE it holds or waits for */
    int one_tee;           /* the caller named the TEE: a policy check asks that one only */
    otrp_tee *cur_tee;     /* the TEE it holds (__atomic: read by cancel) */
    phase phase;
    otrp__next job;        /* the TEE call on the worker (PH_JOB) */
    otrp_session *job_next; /* in a batch or in a worker's list of calls */
    int freed;             /* freed by the caller while a job ran: released at its end */
    uint64_t wake_at;      /* PH_POST: when its transfer must be looked at without an event
                              (libcurl's timer, the stall clock, a retry; 0 = at once) */
    otrp_status result;
    /* policy check: the blocking call's result rules, TEE by TEE */
    otrp_status policy_first;
    char policy_detail[OTRP__DETAIL_MAX];
    size_t asked;
    otrp_session_done_fn done;
    void *user;
    int notify_pending;
    otrp_session *notify_next;
    otrp_session *queue_next;       /* in its TEE's queue */
    otrp_session *done_next;        /* in the completion list */
    otrp_session *live_prev, *live_next;
    pthread_mutex_t log_lock;       /* the queue is filled on workers, emptied on the loop */
    struct log_line *log_head, **log_tail;
    unsigned log_count, log_dropped;
};

typedef struct worker {
    otrp__async *async;
    pthread_t thread;
    int started;
    int stop;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    otrp_session *job_head, *job_tail; /* calls to make, in order */
} worker;

typedef struct tee_slot {
    otrp_session *owner;
    otrp_session *queue_head, *queue_tail;
    size_t queued;
    uint64_t call_ns; /* moving average of its calls' wall time (__atomic: workers write) */
    worker w;
} tee_slot;

struct otrp__async {
    otrp_agent *agent;
    pthread_mutex_t lock; /* the completion list and the live list */
    int wake_read, wake_write;
    otrp_session *done_head, *done_tail;
    otrp_session *live;
    otrp_session *notify_head, *notify_tail;
    otrp_session *batch_head, *batch_tail; /* quick TEEs' calls not yet handed over */
    worker quick; /* runs the quick TEEs' calls, batch after batch */
    size_t running;
    tee_slot tee[OTRP_MAX_TEES];
    /* Transports of ended sessions, kept for the next ones: each keeps its connection
     * to the TAM alive, as the blocking calls' one transport does across calls. */
    otrp__http *idle[IDLE_TRANSPORTS_MAX];
    size_t idle_count;
    int cancel_pending; /* a cancel came (any thread: __atomic) */
    int more_due;       /* the last perform left work for the next one (loop thread) */
    int kicked;         /* the wake-up descriptor was written and not drained (__atomic) */
};

/* ---- wake-up descriptor ---- */

static int set_flags(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0 &&
           fcntl(fd, F_SETFD, FD_CLOEXEC) == 0;
}

static int wake_open(otrp__async *as)
{
#if defined(__linux__)
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd >= 0) {
        as->wake_read = as->wake_write = fd;
        return 1;
    }
#endif
    int p[2];
    if (pipe(p) != 0)
        return 0;
    if (!set_flags(p[0]) || !set_flags(p[1])) {
        close(p[0]);
        close(p[1]);
        return 0;
    }
    as->wake_read = p[0];
    as->wake_write = p[1];
    return 1;
}

/* Wake the loop (any thread). One write until the loop drained it: completions that
 * come together cost the loop one wake-up. A full pipe already wakes it. */
static void kick(otrp__async *as)
{
    if (__atomic_exchange_n(&as->kicked, 1, __ATOMIC_SEQ_CST))
        return;
    uint64_t one = 1;
    ssize_t n;
    do
        n = write(as->wake_write, &one, as->wake_read == as->wake_write ? sizeof one : 1);
    while (n < 0 && errno == EINTR);
}

/* Before the loop looks at the completions: a completion after this wakes it again. */
static void wake_drain(otrp__async *as)
{
    if (!__atomic_exchange_n(&as->kicked, 0, __ATOMIC_SEQ_CST))
        return;
    unsigned char buf[64];
    /* An eventfd is emptied by one read; a pipe holds a byte per kick, at most one. */
    while (read(as->wake_read, buf, sizeof buf) < 0 && errno == EINTR) {
    }
}

/* ---- the log queue ---- */

static void queue_log(void *user, otrp_log_level level, const char *msg)
{
    otrp_session *ss = user;
    pthread_mutex_lock(&ss->log_lock);
    size_t n = strlen(msg);
    struct log_line *line = ss->log_count < LOG_QUEUE_MAX ? malloc(sizeof *line + n + 1) : NULL;
    if (line == NULL) {
        ss->log_dropped++;
    } else {
        line->next = NULL;
        line->level = level;
        memcpy(line->text, msg, n + 1);
        *ss->log_tail = line;
        ss->log_tail = &line->next;
        ss->log_count++;
    }
    pthread_mutex_unlock(&ss->log_lock);
}

/* Deliver the queued lines to the caller's log sink (loop thread). */
static void flush_log(otrp_session *ss)
{
    pthread_mutex_lock(&ss->log_lock);
    struct log_line *line = ss->log_head;
    unsigned dropped = ss->log_dropped;
    ss->log_head = NULL;
    ss->log_tail = &ss->log_head;
    ss->log_count = 0;
    ss->log_dropped = 0;
    pthread_mutex_unlock(&ss->log_lock);
    const otrp_agent_config *c = &ss->parent->config;
    while (line != NULL) {
        struct log_line *next = line->next;
        c->log(c->log_user, line->level, line->text);
        free(line);
        line = next;
    }
    if (dropped > 0 && c->log_level <= OTRP_LOG_WARN) {
        char text[96];
        (void)snprintf(text, sizeof text, "%u log lines of a TEE call dropped", dropped);
        c->log(c->log_user, OTRP_LOG_WARN, text);
    }
}

/* ---- workers ---- */

static int tee_is_quick(const otrp__async *as, size_t index)
{
    return __atomic_load_n(&as->tee[index].call_ns, __ATOMIC_RELAXED) < QUICK_CALL_NS;
}

static void run_job(otrp_session *ss)
{
    uint64_t t0 = otrp__monotonic_ns();
    switch (ss->job) {
    case OTRP__NEXT_TEE_FIRST:
        otrp__sess_tee_first(ss->sa, &ss->s);
        break;
    case OTRP__NEXT_RELAY:
        otrp__sess_relay(ss->sa, &ss->s);
        break;
    default:
        otrp__tell_process_error(ss->sa);
        break;
    }
    /* Only the worker that runs a call of this TEE writes (one call at a time). */
    uint64_t *avg = &ss->async->tee[ss->tee_index].call_ns;
    uint64_t old = __atomic_load_n(avg, __ATOMIC_RELAXED);
    __atomic_store_n(avg, (old * 3 + (otrp__monotonic_ns() - t0)) / 4, __ATOMIC_RELAXED);
}

/* Queue a completion; the loop is woken when wake is set (else by a later one). */
static void complete(otrp__async *as, otrp_session *ss, int wake)
{
    pthread_mutex_lock(&as->lock);
    ss->done_next = NULL;
    if (as->done_tail != NULL)
        as->done_tail->done_next = ss;
    else
        as->done_head = ss;
    as->done_tail = ss;
    pthread_mutex_unlock(&as->lock);
    if (wake)
        kick(as);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    otrp__async *as = w->async;
    int unwoken = 0; /* completions queued without waking the loop */
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (w->job_head == NULL && !w->stop)
            pthread_cond_wait(&w->wake, &w->lock);
        otrp_session *ss = w->job_head;
        if (ss == NULL)
            break;
        w->job_head = ss->job_next;
        if (w->job_head == NULL)
            w->job_tail = NULL;
        pthread_mutex_unlock(&w->lock);
        /* A call that may take long must not hold back the completions before it. */
        if (unwoken && !tee_is_quick(as, ss->tee_index)) {
            kick(as);
            unwoken = 0;
        }
        run_job(ss);
        pthread_mutex_lock(&w->lock);
        int more = w->job_head != NULL;
        pthread_mutex_unlock(&w->lock);
        complete(as, ss, !more);
        unwoken = more;
        pthread_mutex_lock(&w->lock);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

static int worker_init(worker *w, otrp__async *as)
{
    w->async = as;
    if (pthread_mutex_init(&w->lock, NULL) != 0)
        return 0;
    if (pthread_cond_init(&w->wake, NULL) != 0) {
        pthread_mutex_destroy(&w->lock);
        return 0;
    }
    return 1;
}

/* Stop and join the worker: it makes the calls it still has first. */
static void worker_stop(worker *w)
{
    pthread_mutex_lock(&w->lock);
    w->stop = 1;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    if (w->started)
        pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->lock);
}

/* Hand a list of calls (linked by job_next) to a worker, started at its first list.
 * Without a thread the calls run here, once (the loop blocks for them). */
static void hand_over(otrp__async *as, worker *w, otrp_session *head, otrp_session *tail)
{
    pthread_mutex_lock(&w->lock);
    if (!w->started) {
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            pthread_mutex_unlock(&w->lock);
            for (otrp_session *ss = head, *next; ss != NULL; ss = next) {
                next = ss->job_next;
                otrp__log(ss->sa, OTRP_LOG_ERROR, "cannot start a TEE worker: the call "
                                                  "runs on the loop thread");
                run_job(ss);
                complete(as, ss, 1);
            }
            return;
        }
        w->started = 1;
    }
    if (w->job_tail != NULL)
        w->job_tail->job_next = head;
    else
        w->job_head = head;
    w->job_tail = tail;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
}

/* The session's TEE call: a slow TEE's goes to its worker now; a quick TEE's joins the
 * batch that dispatch() hands over when the loop's call into the agent ends. */
static void submit(otrp__async *as, otrp_session *ss, otrp__next job)
{
    flush_log(ss);
    ss->job = job;
    ss->phase = PH_JOB;
    ss->job_next = NULL;
    if (!tee_is_quick(as, ss->tee_index)) {
        hand_over(as, &as->tee[ss->tee_index].w, ss, ss);
        return;
    }
    if (as->batch_tail != NULL)
        as->batch_tail->job_next = ss;
    else
        as->batch_head = ss;
    as->batch_tail = ss;
}

/* At the end of each call into the agent that may have started TEE calls (loop
 * thread): the batch goes to the quick worker. One thread is enough for calls this
 * short, and one that is still finishing the last batch takes the next without
 * sleeping in between. */
static void dispatch(otrp__async *as)
{
    otrp_session *head = as->batch_head;
    if (head == NULL)
        return;
    otrp_session *tail = as->batch_tail;
    as->batch_head = as->batch_tail = NULL;
    hand_over(as, &as->quick, head, tail);
}

/* ---- the state machine (loop thread) ---- */

static void begin_on_tee(otrp_session *ss);

static void notify(otrp_session *ss)
{
    otrp__async *as = ss->async;
    ss->notify_pending = 1;
    ss->notify_next = NULL;
    if (as->notify_tail != NULL)
        as->notify_tail->notify_next = ss;
    else
        as->notify_head = ss;
    as->notify_tail = ss;
    kick(as); /* ended outside otrp_agent_perform(): it must run to call done */
}

static void finish(otrp_session *ss, otrp_status st)
{
    otrp_agent *sa = ss->sa;
    ss->result = st;
    ss->phase = PH_DONE;
    ss->async->running--;
    otrp__report(sa, OTRP_STAGE_DONE, 0);
    otrp__stats_end(sa, st);
    ss->parent->last = sa->last; /* otrp_get_device_state()'s last_session */
    flush_log(ss);
    notify(ss);
}

static void unqueue(tee_slot *slot, otrp_session *ss)
{
    otrp_session **p = &slot->queue_head;
    while (*p != NULL && *p != ss)
        p = &(*p)->queue_next;
    if (*p == NULL)
        return;
    *p = ss->queue_next;
    if (slot->queue_tail == ss) {
        slot->queue_tail = NULL;
        for (otrp_session *q = slot->queue_head; q != NULL; q = q->queue_next)
            slot->queue_tail = q;
    }
    slot->queued--;
    ss->queue_next = NULL;
}

/* The TEE ss held is free: the first session waiting for it starts. */
static void release_tee(otrp_session *ss)
{
    tee_slot *slot = &ss->async->tee[ss->tee_index];
    __atomic_store_n(&ss->cur_tee, NULL, __ATOMIC_SEQ_CST);
    if (slot->owner != ss)
        return;
    slot->owner = NULL;
    otrp_session *next = slot->queue_head;
    if (next == NULL)
        return;
    unqueue(slot, next);
    slot->owner = next;
    begin_on_tee(next);
}

/* Take TEE index, or wait for it. OTRP_ERR_TEE_BUSY when its queue is full. */
static otrp_status acquire_tee(otrp_session *ss, size_t index)
{
    tee_slot *slot = &ss->async->tee[index];
    ss->tee_index = index;
    if (slot->owner == NULL) {
        slot->owner = ss;
        begin_on_tee(ss);
        return OTRP_OK;
    }
    if (slot->queued >= OTRP_MAX_QUEUED_SESSIONS)
        return OTRP_ERR_TEE_BUSY;
    ss->phase = PH_QUEUED;
    ss->queue_next = NULL;
    if (slot->queue_tail != NULL)
        slot->queue_tail->queue_next = ss;
    else
        slot->queue_head = ss;
    slot->queue_tail = ss;
    slot->queued++;
    return OTRP_OK;
}

/* The next TEE at or after from that the session's operation may run on. */
static size_t next_supporting(const otrp_agent *agent, otrp__first_step step, size_t from)
{
    while (from < agent->tee_count && !otrp__tee_supports(agent->tees[from], step))
        from++;
    return from;
}

/* The session's work on its TEE ended (s.st): the operation ends, or a policy check
 * goes on with the next TEE. */
static void tee_done(otrp_session *ss)
{
    otrp_agent *sa = ss->sa;
    otrp_status st = ss->s.st;
    otrp__sess_end(sa, &ss->s);
    release_tee(ss);
    if (ss->step != OTRP__STEP_POLICY_CHECK) {
        finish(ss, st);
        return;
    }
    ss->asked++;
    if (otrp__policy_note(sa, st, &ss->policy_first, ss->policy_detail,
                          sizeof ss->policy_detail)) {
        finish(ss, otrp__policy_result(sa, ss->policy_first, ss->policy_detail, ss->asked));
        return;
    }
    size_t next = ss->one_tee ? ss->parent->tee_count
                              : next_supporting(ss->parent, ss->step, ss->tee_index + 1);
    if (next == ss->parent->tee_count) {
        finish(ss, otrp__policy_result(sa, ss->policy_first, ss->policy_detail, ss->asked));
        return;
    }
    if (acquire_tee(ss, next) != OTRP_OK) {
        otrp_status busy = otrp__agent_fail(sa, OTRP_ERR_TEE_BUSY,
                                            "%zu sessions already wait for TEE #%zu",
                                            (size_t)OTRP_MAX_QUEUED_SESSIONS, next + 1);
        (void)otrp__policy_note(sa, busy, &ss->policy_first, ss->policy_detail,
                                sizeof ss->policy_detail);
        finish(ss, otrp__policy_result(sa, ss->policy_first, ss->policy_detail, ss->asked));
    }
}

/* Run the steps that need no wait, up to the next wait (or the end). */
static void advance(otrp_session *ss, otrp__next next)
{
    otrp_agent *sa = ss->sa;
    for (;;) {
        switch (next) {
        case OTRP__NEXT_TEE_FIRST:
        case OTRP__NEXT_RELAY:
        case OTRP__NEXT_PROCESS_ERROR:
            submit(ss->async, ss, next);
            return;
        case OTRP__NEXT_POST: {
            otrp_status st = otrp__http_async_start(sa->http, ss->s.uri, ss->s.body,
                                                    ss->s.body_len, &sa->response, &ss->s.info);
            if (st == OTRP_ERR_IN_PROGRESS) {
                ss->phase = PH_POST;
                return;
            }
            ss->s.st = st;
            next = otrp__sess_post_done(sa, &ss->s);
            break;
        }
        case OTRP__NEXT_DONE:
        default:
            tee_done(ss);
            return;
        }
    }
}

static void begin_on_tee(otrp_session *ss)
{
    otrp_tee *tee = ss->parent->tees[ss->tee_index];
    ss->sa->tees[0] = tee;
    ss->sa->tee_count = 1;
    ss->sa->last.result = OTRP_OK; /* each TEE's session is judged on its own */
    __atomic_store_n(&ss->cur_tee, tee, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&ss->sa->cancelled, __ATOMIC_SEQ_CST) && tee->ops->cancel != NULL)
        tee->ops->cancel(tee->ctx); /* a cancel that came while the session waited */
    otrp__sess_init(&ss->s, tee, ss->step, ss->taid, ss->tam_uri);
    advance(ss, otrp__sess_begin(ss->sa, &ss->s));
}

/* The TEE call of ss returned (loop thread). */
static void job_done(otrp_session *ss)
{
    if (ss->freed) {
        release_tee(ss);
        otrp_session_free(ss);
        return;
    }
    flush_log(ss);
    switch (ss->job) {
    case OTRP__NEXT_TEE_FIRST:
        advance(ss, otrp__sess_first_done(ss->sa, &ss->s));
        break;
    case OTRP__NEXT_RELAY:
        advance(ss, otrp__sess_relay_done(ss->sa, &ss->s));
        break;
    default:
        advance(ss, OTRP__NEXT_DONE);
        break;
    }
}

static void post_step(otrp_session *ss, int fd, short revents)
{
    otrp_status st = otrp__http_async_step(ss->sa->http, fd, revents);
    if (st == OTRP_ERR_IN_PROGRESS)
        return;
    ss->s.st = st;
    advance(ss, otrp__sess_post_done(ss->sa, &ss->s));
}

/* A queued session that was cancelled or ran out of time leaves the queue. */
static void check_queued(otrp_session *ss)
{
    otrp_agent *sa = ss->sa;
    otrp_status st = OTRP_OK;
    if (__atomic_load_n(&sa->cancelled, __ATOMIC_SEQ_CST))
        st = otrp__agent_fail(sa, OTRP_ERR_CANCELLED, "cancelled while waiting for TEE #%zu",
                              ss->tee_index + 1);
    else if (sa->deadline_ms != 0 && otrp_monotonic_ms() >= sa->deadline_ms)
        st = otrp__session_timeout(sa, "while waiting for TEE #%zu", ss->tee_index + 1);
    if (st == OTRP_OK)
        return;
    unqueue(&ss->async->tee[ss->tee_index], ss);
    if (ss->step == OTRP__STEP_POLICY_CHECK) {
        ss->s.st = st;
        (void)otrp__policy_note(sa, st, &ss->policy_first, ss->policy_detail,
                                sizeof ss->policy_detail);
        st = otrp__policy_result(sa, ss->policy_first, ss->policy_detail, ss->asked);
    }
    finish(ss, st);
}

/* ---- the agent's part ---- */

static otrp__async *async_get(otrp_agent *agent)
{
    if (agent->async != NULL)
        return agent->async;
    otrp__async *as = calloc(1, sizeof *as);
    if (as == NULL)
        return NULL;
    if (pthread_mutex_init(&as->lock, NULL) != 0) {
        free(as);
        return NULL;
    }
    if (!wake_open(as)) {
        pthread_mutex_destroy(&as->lock);
        free(as);
        return NULL;
    }
    as->agent = agent;
    size_t i = 0;
    for (; i < OTRP_MAX_TEES; i++) {
        as->tee[i].call_ns = UNKNOWN_CALL_NS;
        if (!worker_init(&as->tee[i].w, as))
            break;
    }
    if (i < OTRP_MAX_TEES || !worker_init(&as->quick, as)) {
        while (i-- > 0)
            worker_stop(&as->tee[i].w);
        if (as->wake_write != as->wake_read)
            close(as->wake_write);
        close(as->wake_read);
        pthread_mutex_destroy(&as->lock);
        free(as);
        return NULL;
    }
    /* otrp_agent_cancel() (any thread) reads it: published with a release store. */
    __atomic_store_n(&agent->async, as, __ATOMIC_RELEASE);
    return as;
}

static void session_destroy(otrp_session *ss)
{
    otrp__async *as = ss->async;
    pthread_mutex_lock(&as->lock);
    if (ss->live_prev != NULL)
        ss->live_prev->live_next = ss->live_next;
    else
        as->live = ss->live_next;
    if (ss->live_next != NULL)
        ss->live_next->live_prev = ss->live_prev;
    pthread_mutex_unlock(&as->lock);
    otrp_agent *sa = ss->sa;
    if (sa != NULL) {
        otrp__sess_end(sa, &ss->s);
        if (sa->http != NULL && ss->phase == PH_DONE && as->idle_count < IDLE_TRANSPORTS_MAX) {
            otrp__http_set_cancel(sa->http, NULL);
            as->idle[as->idle_count++] = sa->http;
            sa->http = NULL;
        }
        otrp__http_free(sa->http);
        otrp_buf_free(&sa->response);
        otrp_buf_free(&sa->answer);
        otrp_buf_free(&sa->tee_out);
        free(sa);
    }
    struct log_line *line = ss->log_head;
    while (line != NULL) {
        struct log_line *next = line->next;
        free(line);
        line = next;
    }
    pthread_mutex_destroy(&ss->log_lock);
    free(ss->taid);
    free(ss->tam_uri);
    free(ss);
}

void otrp_session_params_init(otrp_session_params *params)
{
    memset(params, 0, sizeof *params);
    params->struct_size = sizeof *params;
    params->operation = OTRP_OP_REQUEST_TA;
    params->tee_index = -1;
}

static char *copy_opt(const char *text, int *failed)
{
    if (text == NULL)
        return NULL;
    char *copy = otrp__strndup(text, strlen(text));
    if (copy == NULL)
        *failed = 1;
    return copy;
}

static otrp_status check_params(otrp_agent *agent, const otrp_session_params *p,
                                otrp__first_step *step, size_t *tee_index)
{
    if (p->struct_size < offsetof(otrp_session_params, user) + sizeof p->user)
        return otrp__agent_fail(agent, OTRP_ERR_INVALID_ARG,
                                "struct_size %zu is smaller than otrp_session_params",
                                p->struct_size);
    switch (p->operation) {
    case OTRP_OP_REQUEST_TA: *step = OTRP__STEP_REQUEST_TA; break;
    case OTRP_OP_UNREQUEST_TA: *step = OTRP__STEP_UNREQUEST_TA; break;
    case OTRP_OP_POLICY_CHECK: *step = OTRP__STEP_POLICY_CHECK; break;
    default:
        return otrp__agent_fail(agent, OTRP_ERR_INVALID_ARG, "operation %d is unknown",
                                (int)p->operation);
    }
    if (*step != OTRP__STEP_POLICY_CHECK && (p->taid == NULL || p->taid[0] == '\0'))
        return otrp__agent_fail(agent, OTRP_ERR_INVALID_ARG, "TA id is %s",
                                p->taid == NULL ? "NULL" : "empty");
    if (p->tee_index >= 0) {
        *tee_index = (size_t)p->tee_index;
        if (*tee_index >= agent->tee_count)
            return otrp__agent_fail(agent, OTRP_ERR_INVALID_ARG,
                                    "tee_index %d names no TEE (%zu registered)",
                                    p->tee_index, agent->tee_count);
        if (!otrp__tee_supports(agent->tees[*tee_index], *step))
            return otrp__agent_fail(agent, OTRP_ERR_UNSUPPORTED, "TEE #%zu does not support %s",
                                    *tee_index + 1, otrp__step_name(*step));
        return OTRP_OK;
    }
    *tee_index = next_supporting(agent, *step, 0);
    if (*tee_index == agent->tee_count)
        return otrp__agent_fail(agent, agent->tee_count ? OTRP_ERR_UNSUPPORTED : OTRP_ERR_NO_TEE,
                                "no registered TEE supports %s", otrp__step_name(*step));
    return OTRP_OK;
}

static const char *operation_name(otrp__first_step step)
{
    switch (step) {
    case OTRP__STEP_REQUEST_TA: return "request_ta";
    case OTRP__STEP_UNREQUEST_TA: return "unrequest_ta";
    case OTRP__STEP_POLICY_CHECK:
    default: return "policy_check";
    }
}

otrp_status otrp_session_start(otrp_agent *agent, const otrp_session_params *params,
                               otrp_session **out)
{
    *out = NULL;
    agent->error[0] = '\0';
    otrp__first_step step = OTRP__STEP_REQUEST_TA;
    size_t index = 0;
    otrp_status st = check_params(agent, params, &step, &index);
    if (st != OTRP_OK)
        return st;
    otrp__async *as = async_get(agent);
    if (as == NULL)
        return otrp__agent_fail(agent, OTRP_ERR_INTERNAL,
                                "cannot set up non-blocking sessions (wake-up descriptor)");
    tee_slot *slot = &as->tee[index];
    if (slot->owner != NULL && slot->queued >= OTRP_MAX_QUEUED_SESSIONS)
        return otrp__agent_fail(agent, OTRP_ERR_TEE_BUSY,
                                "%d sessions already wait for TEE #%zu",
                                OTRP_MAX_QUEUED_SESSIONS, index + 1);
    otrp_session *ss = calloc(1, sizeof *ss);
    if (ss == NULL)
        return otrp__agent_fail(agent, OTRP_ERR_NO_MEMORY, "out of memory");
    if (pthread_mutex_init(&ss->log_lock, NULL) != 0) {
        free(ss);
        return otrp__agent_fail(agent, OTRP_ERR_NO_MEMORY, "out of memory");
    }
    ss->log_tail = &ss->log_head;
    ss->async = as;
    ss->parent = agent;
    ss->step = step;
    ss->operation = operation_name(step);
    ss->result = OTRP_ERR_IN_PROGRESS;
    ss->one_tee = params->tee_index >= 0;
    ss->done = params->done;
    ss->user = params->user;
    int failed = 0;
    ss->taid = copy_opt(step == OTRP__STEP_POLICY_CHECK ? NULL : params->taid, &failed);
    ss->tam_uri = copy_opt(params->tam_uri, &failed);
    ss->sa = failed ? NULL : calloc(1, sizeof *ss->sa);
    pthread_mutex_lock(&as->lock);
    ss->live_next = as->live;
    if (as->live != NULL)
        as->live->live_prev = ss;
    as->live = ss;
    pthread_mutex_unlock(&as->lock);
    if (ss->sa == NULL) {
        session_destroy(ss);
        return otrp__agent_fail(agent, OTRP_ERR_NO_MEMORY, "out of memory");
    }
    otrp_agent *sa = ss->sa;
    sa->config = agent->config;
    sa->config.log = agent->config.log != NULL ? queue_log : NULL;
    sa->config.log_user = ss;
    if (as->idle_count > 0) {
        sa->http = as->idle[--as->idle_count];
        otrp__http_set_cancel(sa->http, &sa->cancelled);
    }
    (void)otrp__stats_begin(sa, ss->operation); /* sa runs no sessions of its own */
    unsigned timeout = sa->config.session_timeout_ms;
    sa->deadline_ms = timeout != 0 ? sa->last.start_ms + timeout : 0;
    as->running++;
    *out = ss;
    (void)acquire_tee(ss, index); /* room checked above */
    dispatch(as);
    return OTRP_OK;
}

otrp_status otrp_agent_wait_set(otrp_agent *agent, struct pollfd *fds, size_t cap,
                                size_t *count, int *timeout_ms)
{
    *count = 0;
    *timeout_ms = -1;
    otrp__async *as = agent->async;
    if (as == NULL)
        return OTRP_OK;
    dispatch(as); /* nothing is left undispatched; this is a safety net */
    size_t n = 1;
    if (cap > 0) {
        fds[0].fd = as->wake_read;
        fds[0].events = POLLIN;
        fds[0].revents = 0;
    }
    uint64_t now = otrp_monotonic_ms();
    uint64_t wake_at = as->notify_head != NULL || as->more_due ? now : 0;
    for (otrp_session *ss = as->live; ss != NULL; ss = ss->live_next) {
        if (ss->phase == PH_POST) {
            ss->wake_at = 0;
            n += otrp__http_async_wait(ss->sa->http, n < cap ? fds + n : NULL,
                                       n < cap ? cap - n : 0, &ss->wake_at);
            if (wake_at == 0 || ss->wake_at < wake_at)
                wake_at = ss->wake_at;
        } else if (ss->phase == PH_QUEUED && ss->sa->deadline_ms != 0 &&
                 (wake_at == 0 || ss->sa->deadline_ms < wake_at))
            wake_at = ss->sa->deadline_ms;
    }
    *count = n;
    if (wake_at != 0) {
        uint64_t left = wake_at > now ? wake_at - now : 0;
        *timeout_ms = left > INT_MAX ? INT_MAX : (int)left;
    }
    return n > cap ? OTRP_ERR_TOO_LARGE : OTRP_OK;
}

/* Put the completions not handled in this perform back in front of the list. */
static void requeue_done(otrp__async *as, otrp_session *rest)
{
    otrp_session *last = rest;
    while (last->done_next != NULL)
        last = last->done_next;
    pthread_mutex_lock(&as->lock);
    last->done_next = as->done_head;
    as->done_head = rest;
    if (as->done_tail == NULL)
        as->done_tail = last;
    pthread_mutex_unlock(&as->lock);
}

/* Make ss the head of the live list: the next perform starts with the sessions this one
 * did not reach. */
static void rotate_live(otrp__async *as, otrp_session *ss)
{
    if (ss == as->live)
        return;
    pthread_mutex_lock(&as->lock);
    otrp_session *last = ss;
    while (last->live_next != NULL)
        last = last->live_next;
    otrp_session *old_head = as->live;
    ss->live_prev->live_next = NULL; /* the part before ss ends the list */
    ss->live_prev = NULL;
    last->live_next = old_head;
    old_head->live_prev = last;
    as->live = ss;
    pthread_mutex_unlock(&as->lock);
}

void otrp_agent_perform(otrp_agent *agent, const struct pollfd *fds, size_t count)
{
    otrp__async *as = agent->async;
    if (as == NULL)
        return;
    uint64_t budget_end = otrp__monotonic_ns() + PERFORM_BUDGET_NS;
    as->more_due = 0;
    wake_drain(as);
    pthread_mutex_lock(&as->lock);
    otrp_session *done = as->done_head;
    as->done_head = as->done_tail = NULL;
    pthread_mutex_unlock(&as->lock);
    while (done != NULL) {
        otrp_session *next = done->done_next;
        job_done(done);
        done = next;
        if (done != NULL && otrp__monotonic_ns() >= budget_end) {
            requeue_done(as, done);
            as->more_due = 1;
            break;
        }
    }
    /* A cancel must reach a transfer at once, not at its next time check. */
    int cancels = __atomic_exchange_n(&as->cancel_pending, 0, __ATOMIC_SEQ_CST);
    uint64_t now = otrp_monotonic_ms();
    size_t served = 0; /* at least one session each time, however long the rest took */
    for (otrp_session *ss = as->live; ss != NULL; ss = ss->live_next, served++) {
        if (served > 0 && otrp__monotonic_ns() >= budget_end) {
            rotate_live(as, ss);
            as->more_due = 1;
            if (cancels) /* not seen yet by the sessions from ss on */
                __atomic_store_n(&as->cancel_pending, 1, __ATOMIC_SEQ_CST);
            break;
        }
        if (ss->phase == PH_POST) {
            int stepped = 0;
            for (size_t i = 0; i < count && ss->phase == PH_POST; i++)
                if (fds[i].revents != 0 && fds[i].fd != as->wake_read &&
                    otrp__http_async_owns(ss->sa->http, fds[i].fd)) {
                    post_step(ss, fds[i].fd, fds[i].revents);
                    stepped = 1;
                }
            /* The time checks (libcurl's timer, stall clock, deadline, cancel) when they
             * are due: a step on a socket made them already. */
            if (ss->phase == PH_POST && !stepped && (cancels || now >= ss->wake_at))
                post_step(ss, -1, 0);
            if (ss->phase == PH_POST)
                flush_log(ss);
        } else if (ss->phase == PH_QUEUED) {
            check_queued(ss);
        }
    }
    /* The done callbacks last: they may free sessions and start new ones. */
    while (as->notify_head != NULL) {
        otrp_session *ss = as->notify_head;
        as->notify_head = ss->notify_next;
        if (as->notify_head == NULL)
            as->notify_tail = NULL;
        ss->notify_pending = 0;
        if (ss->done != NULL)
            ss->done(ss->user, ss, ss->result);
    }
    dispatch(as);
}

size_t otrp_agent_sessions_running(const otrp_agent *agent)
{
    return agent->async != NULL ? agent->async->running : 0;
}

otrp_status otrp_session_result(const otrp_session *session)
{
    return session->result;
}

const char *otrp_session_last_error(const otrp_session *session)
{
    return session->sa != NULL ? session->sa->error : "";
}

static void cancel_one(otrp_session *ss)
{
    if (ss->sa == NULL)
        return;
    __atomic_store_n(&ss->sa->cancelled, 1, __ATOMIC_SEQ_CST);
    __atomic_store_n(&ss->async->cancel_pending, 1, __ATOMIC_SEQ_CST);
    otrp_tee *tee = __atomic_load_n(&ss->cur_tee, __ATOMIC_SEQ_CST);
    if (tee != NULL && tee->ops->cancel != NULL)
        tee->ops->cancel(tee->ctx);
}

void otrp_session_cancel(otrp_session *session)
{
    cancel_one(session);
    kick(session->async);
}

otrp_status otrp__async_refuse_blocking(otrp_agent *agent)
{
    size_t n = agent->async != NULL ? agent->async->running : 0;
    if (n == 0)
        return OTRP_OK;
    return otrp__agent_fail(agent, OTRP_ERR_IN_PROGRESS,
                            "%zu non-blocking session%s run%s on this agent: a blocking call "
                            "waits until they end (it would use their TEEs at the same time)",
                            n, n == 1 ? "" : "s", n == 1 ? "s" : "");
}

void otrp__async_cancel(otrp_agent *agent)
{
    otrp__async *as = __atomic_load_n(&agent->async, __ATOMIC_ACQUIRE);
    if (as == NULL)
        return;
    pthread_mutex_lock(&as->lock);
    for (otrp_session *ss = as->live; ss != NULL; ss = ss->live_next)
        cancel_one(ss);
    pthread_mutex_unlock(&as->lock);
    kick(as);
}

static void unnotify(otrp__async *as, otrp_session *ss)
{
    otrp_session **p = &as->notify_head;
    as->notify_tail = NULL;
    while (*p != NULL) {
        if (*p == ss)
            *p = ss->notify_next;
        else {
            as->notify_tail = *p;
            p = &(*p)->notify_next;
        }
    }
    ss->notify_pending = 0;
}

void otrp_session_free(otrp_session *session)
{
    if (session == NULL)
        return;
    otrp_session *ss = session;
    otrp__async *as = ss->async;
    if (ss->notify_pending)
        unnotify(as, ss);
    ss->done = NULL;
    switch (ss->phase) {
    case PH_JOB:
        if (!ss->freed) { /* the memory goes when the call returns (job_done) */
            ss->freed = 1;
            as->running--;
            cancel_one(ss);
            return;
        }
        break; /* job_done of a freed session: its call returned */
    case PH_POST:
        /* Drop the transfer; the TEE forgets the session (ProcessError) on its worker,
         * and the memory goes when that returns. */
        otrp__http_async_abort(ss->sa->http);
        ss->freed = 1;
        as->running--;
        submit(as, ss, OTRP__NEXT_PROCESS_ERROR);
        dispatch(as);
        return;
    case PH_QUEUED:
        unqueue(&as->tee[ss->tee_index], ss);
        as->running--;
        break;
    case PH_DONE:
    default:
        break;
    }
    session_destroy(ss);
    dispatch(as);
}

void otrp__async_free(otrp_agent *agent)
{
    otrp__async *as = agent->async;
    if (as == NULL)
        return;
    otrp__async_cancel(agent);
    dispatch(as);
    for (size_t i = 0; i < OTRP_MAX_TEES; i++)
        worker_stop(&as->tee[i].w); /* their last calls (cancelled) have returned */
    worker_stop(&as->quick);
    while (as->live != NULL) {
        otrp_session *ss = as->live;
        if (ss->phase == PH_POST)
            otrp__http_async_abort(ss->sa->http);
        session_destroy(ss);
    }
    while (as->idle_count > 0)
        otrp__http_free(as->idle[--as->idle_count]);
    if (as->wake_write != as->wake_read)
        close(as->wake_write);
    close(as->wake_read);
    pthread_mutex_destroy(&as->lock);
    free(as);
    agent->async = NULL;
}
