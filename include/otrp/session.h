/**
 * \file otrp/session.h
 * \brief Non-blocking sessions: many TAM sessions in one thread, driven by the caller's
 * event loop (issue #13).
 *
 * otrp_agent_request_ta(), _unrequest_ta() and _policy_check() block their thread for a
 * whole session. An otrp_session runs the same operation without blocking: start it,
 * let the loop wait on what the agent waits on, tell the agent when that happened, and
 * learn the result from a done callback (or otrp_session_result()). The loop style is
 * that of libcurl's multi interface with curl_multi_poll()'s information, and of
 * c-ares' ares_fds(): before each wait, otrp_agent_wait_set() gives the file
 * descriptors (with poll() events) and the timeout; after it, otrp_agent_perform() is
 * given the same array with the revents the wait filled in. Any loop can be driven so:
 * poll() directly, or GLib, libuv, epoll, sd-event by registering the descriptors of
 * each wait set (see examples/ and include/otrp/adapters/).
 *
 * What waits where:
 * - HTTP: each session has its own transport (one libcurl easy handle and one TCP/TLS
 *   connection, as a blocking session has) driven in libcurl's multi_socket mode; its
 *   sockets are in the wait set. Every limit of the blocking API applies unchanged:
 *   connect, exchange and stall timeouts, retries with backoff and Retry-After (a
 *   wake-up time instead of a sleep), the response size cap, header checks.
 * - TEE calls block by nature: they run on worker threads the agent owns, never on the
 *   loop's (started when first needed, joined by otrp_agent_free()). A TEE's call goes
 *   to that TEE's own worker, and each finished call wakes the loop through a
 *   descriptor that is always the first of the wait set. A TEE whose calls the agent
 *   has seen take less than 100 us (a moving average; a TEE is slow until shown
 *   otherwise) is "quick": the calls of quick TEEs that one call into the agent starts
 *   go as one batch to one shared worker, which wakes the loop once when the batch is
 *   made (a hand-off to a thread costs about what such a call costs). A quick call that
 *   turns slow delays the batch behind it by that call, never the loop, and its TEE is
 *   slow again from then on. The backend sees the same calls as in a blocking session
 *   (deadline, cancel flag, busy retries), one at a time per TEE, from one of the
 *   agent's threads (not always the same one).
 * - Time: session_timeout_ms counts from otrp_session_start(), queueing included.
 *
 * One TEE, one session: a session holds its TEE from its first TEE call to its last,
 * because the TEE's per-TAM state (dsihash, PROFILE P6) would be moved by an interleaved
 * session. A session started for a TEE that another session holds is queued (FIFO) and
 * starts when the TEE is free; at most OTRP_MAX_QUEUED_SESSIONS wait per TEE, the next
 * start fails with OTRP_ERR_TEE_BUSY. Sessions on different TEEs run at once.
 * A session's messages reach its own TEE only: a GetDeviceState answers with that TEE
 * (PROFILE P9 lets TEEs that cannot answer be left out), a message naming another TEE
 * does not reach it (the session routes to its TEE alone), and ProcessError goes to that
 * TEE only. A policy check runs TEE
 * by TEE, each held (or queued for) in turn, with the blocking call's result rules.
 *
 * Threads: the agent, its sessions and every function here are used from one thread
 * (the loop's), except otrp_session_cancel() and otrp_agent_cancel(), which may be
 * called from any thread (not concurrently with otrp_session_free() of the same
 * session). The done, progress and log callbacks of sessions are called on the loop
 * thread only, from otrp_agent_perform() (log lines of a TEE call made on a worker are
 * kept and delivered there, in order). While sessions run, the blocking calls of
 * otrp/agent.h that use TEEs (otrp_agent_request_ta(), _unrequest_ta(), _policy_check(),
 * otrp_agent_process(), otrp_get_device_state(), otrp_get_ta_information()) on the same
 * agent return OTRP_ERR_IN_PROGRESS at once ("N non-blocking sessions run on this
 * agent ..."): they would call the sessions' TEEs at the same time as the workers.
 *
 * Figures: otrp_get_device_state()'s last_session describes the last operation that
 * ended, a blocking call or a session (its round trips, bytes, duration, result).
 */
#ifndef OTRP_SESSION_H
#define OTRP_SESSION_H

#include <stddef.h>
#include "common.h"
#include "status.h"
#include "agent.h"

#ifdef __cplusplus
extern "C" {
#endif

struct pollfd;

/** A non-blocking session. Opaque. */
typedef struct otrp_session otrp_session;

/** What a session does: the operation of the blocking call of the same name. */
typedef enum otrp_operation {
    OTRP_OP_REQUEST_TA = 0,   /**< otrp_agent_request_ta() */
    OTRP_OP_UNREQUEST_TA = 1, /**< otrp_agent_unrequest_ta() */
    OTRP_OP_POLICY_CHECK = 2  /**< otrp_agent_policy_check() */
} otrp_operation;

/** Sessions that may wait for one TEE; one more is refused with OTRP_ERR_TEE_BUSY. */
#define OTRP_MAX_QUEUED_SESSIONS 16

/**
 * Called once when a session ended, on the loop thread, from otrp_agent_perform().
 * result is otrp_session_result(session). The callback may free this or any session
 * and start new ones; it must not free the agent.
 */
typedef void (*otrp_session_done_fn)(void *user, otrp_session *session, otrp_status result);

/** How to start a session. Fill with otrp_session_params_init() first. */
typedef struct otrp_session_params {
    size_t struct_size;          /**< sizeof(otrp_session_params) */
    otrp_operation operation;    /**< default OTRP_OP_REQUEST_TA */
    const char *taid;            /**< the TA (copied); required except for a policy check */
    const char *tam_uri;         /**< the TAM hint (copied), as in the blocking call; may be NULL */
    /**
     * The TEE (0-based, in otrp_agent_add_tee() order) the session runs on; -1 (the
     * default): as the blocking call, the first TEE that supports the operation (a
     * policy check: every such TEE in turn). Sessions run at once only on different
     * TEEs: name the TEE to run sessions side by side.
     */
    int tee_index;
    otrp_session_done_fn done;   /**< may be NULL (then poll otrp_session_result()) */
    void *user;                  /**< passed to done */
} otrp_session_params;

/** Defaults: a RequestTA, no TA id, no hint, tee_index -1, no callback. */
OTRP_API void otrp_session_params_init(otrp_session_params *params) OTRP_NONNULL(1);

/**
 * Start a session on agent. Returns at once; the first TEE call is already on its worker
 * (or the session is queued for its TEE). *out is the session on OTRP_OK (free it with
 * otrp_session_free(), also after it ended), NULL otherwise. Failures here end nothing
 * that runs: OTRP_ERR_INVALID_ARG (struct_size too small, unknown operation, no or an
 * empty TA id, a tee_index that names no TEE), OTRP_ERR_NO_TEE / OTRP_ERR_UNSUPPORTED (no
 * registered TEE, or not the one named, supports the operation), OTRP_ERR_TEE_BUSY (OTRP_MAX_QUEUED_SESSIONS already wait for the TEE),
 * OTRP_ERR_NO_MEMORY, OTRP_ERR_INTERNAL (no wake-up descriptor or worker thread).
 * Everything else (a bad TAM URI included) is the session's result, reported through
 * done as the blocking call would return it.
 */
OTRP_API OTRP_NODISCARD otrp_status otrp_session_start(otrp_agent *agent,
                                                       const otrp_session_params *params,
                                                       otrp_session **out)
    OTRP_NONNULL(1, 2, 3);

/**
 * What the loop waits for next: up to cap entries of fds (fd and events set, revents
 * 0) and *count, the number of entries there are; *timeout_ms: the longest wait before
 * otrp_agent_perform() must be called even when nothing is ready (-1: no timeout, 0:
 * at once). The first entry, once a session was started, is the agent's wake-up
 * descriptor. Call it again before every wait: descriptors come and go. OTRP_OK, or
 * OTRP_ERR_TOO_LARGE when *count exceeds cap (the first cap entries are filled; a
 * larger array is needed: OTRP_MAX_TEES * OTRP_MAX_QUEUED_SESSIONS * 4 + 1 always is
 * enough).
 */
OTRP_API OTRP_NODISCARD otrp_status otrp_agent_wait_set(otrp_agent *agent, struct pollfd *fds,
                                                        size_t cap, size_t *count,
                                                        int *timeout_ms)
    OTRP_NONNULL(1, 4, 5);

/**
 * Let the sessions of agent move on: fds (count entries, may be NULL when count is 0)
 * is the wait set with the revents the wait filled in; call it also when the wait timed
 * out. Never blocks: each session makes the steps that are ready (libcurl's socket
 * actions, the routing of a TAM message, handing a call to a TEE worker) and returns.
 * A call stops starting steps after 2 ms (a TLS handshake step may take about one):
 * what is left waits for the next call, and otrp_agent_wait_set() then gives timeout 0.
 * So one call holds the loop for about 2 ms plus one step, however many sessions are
 * ready (the callbacks' own time aside). Done, progress and log callbacks of sessions
 * are called from here.
 */
OTRP_API void otrp_agent_perform(otrp_agent *agent, const struct pollfd *fds, size_t count)
    OTRP_NONNULL(1);

/** Sessions of agent started and not yet ended (queued ones included). */
OTRP_API size_t otrp_agent_sessions_running(const otrp_agent *agent) OTRP_NONNULL(1);

/**
 * The session's status: OTRP_ERR_IN_PROGRESS while it runs, then what the blocking call
 * would have returned (see otrp/agent.h, "Sessions with a TAM"), OTRP_ERR_CANCELLED after
 * a cancel, OTRP_ERR_TIMEOUT at session_timeout_ms (also while queued: the detail says).
 */
OTRP_API otrp_status otrp_session_result(const otrp_session *session) OTRP_NONNULL(1);

/** The detail of the session's failure, as otrp_agent_last_error(); "" otherwise. Valid
 *  until otrp_session_free(). */
OTRP_API const char *otrp_session_last_error(const otrp_session *session) OTRP_NONNULL(1);

/**
 * Ask the session to stop soon (any thread): it ends with OTRP_ERR_CANCELLED, other
 * sessions run on. A transfer sees it at once (the loop is woken), a TEE call as soon as
 * its backend reacts (as otrp_agent_cancel()). otrp_agent_cancel() cancels every
 * session of the agent. No effect on a session that ended.
 */
OTRP_API void otrp_session_cancel(otrp_session *session) OTRP_NONNULL(1);

/**
 * Free a session (loop thread), also one that runs: it stops at once and its done
 * callback is not called. A session in a transfer drops it and its TEE is told with
 * ProcessError (on the worker); a TEE call in progress is cancelled and the memory is
 * released when it returns (at the latest by otrp_agent_free()). NULL is allowed.
 * Sessions left when the agent is freed are freed with it (their pointers become
 * invalid).
 */
OTRP_API void otrp_session_free(otrp_session *session);

#ifdef __cplusplus
}
#endif
#endif /* OTRP_SESSION_H */
