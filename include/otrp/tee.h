/**
 * \file otrp/tee.h
 * \brief The TEE seam: one vtable that every TEE backend implements.
 *
 * A backend (mock, socket, teec, or your own) fills a struct otrp_tee_ops, wraps its
 * context with otrp_tee_new() and gives the handle to otrp_agent_add_tee(). The agent
 * calls the operations one at a time (never two at once on the same TEE) and hands
 * message bodies to the backend without copying them.
 *
 * Output goes into an otrp_buf that the agent owns. The agent sets buf->max to its
 * message size limit before each call; otrp_buf_append() refuses to grow past it with
 * OTRP_ERR_TOO_LARGE, so a backend cannot be made to use unbounded memory by its TEE.
 */
#ifndef OTRP_TEE_H
#define OTRP_TEE_H

#include <stdint.h>
#include "common.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A growable byte buffer with a hard upper bound. Zero-initialise before first use. */
typedef struct otrp_buf {
    unsigned char *data; /**< the bytes; NUL-terminated after every successful append */
    size_t len;          /**< bytes in use (not counting the terminating NUL) */
    size_t cap;          /**< bytes allocated */
    size_t max;          /**< largest allowed len; 0 means no limit */
} otrp_buf;

/**
 * Append len bytes. The buffer stays NUL-terminated so text can be read as a string.
 * \retval OTRP_OK
 * \retval OTRP_ERR_TOO_LARGE  len would exceed buf->max (the buffer is unchanged)
 * \retval OTRP_ERR_NO_MEMORY
 */
OTRP_API OTRP_NODISCARD otrp_status otrp_buf_append(otrp_buf *buf, const void *data,
                                                    size_t len) OTRP_NONNULL(1);

/** Append a NUL-terminated string (same statuses as otrp_buf_append()). */
OTRP_API OTRP_NODISCARD otrp_status otrp_buf_append_str(otrp_buf *buf, const char *str)
    OTRP_NONNULL(1, 2);

/** Forget the contents (len = 0) but keep the memory and the limit. */
OTRP_API void otrp_buf_reset(otrp_buf *buf) OTRP_NONNULL(1);

/** Release the memory (zeroized first) and reset the buffer to all-zero except max. */
OTRP_API void otrp_buf_free(otrp_buf *buf) OTRP_NONNULL(1);

/** What the agent tells a backend about one call. */
typedef struct otrp_tee_call {
    size_t struct_size;   /**< sizeof(otrp_tee_call) of the agent that made it */
    /** Give up by this otrp_monotonic_ms() instant; 0 = none. The agent's
     *  tee_timeout_ms from the call, or the end of the session operation's
     *  session_timeout_ms when that comes first. */
    uint64_t deadline_ms;
    size_t max_output;    /**< the agent's message size limit (also out->max) */
    /**
     * Becomes non-zero when otrp_agent_cancel() is called (from another thread) during
     * the operation; NULL when nobody can cancel. Read it with otrp_tee_call_cancelled()
     * or an atomic load (__atomic_load_n), never a plain read.
     */
    const volatile int *cancelled;
} otrp_tee_call;

/**
 * Non-zero once otrp_agent_cancel() was called for the operation this call belongs to.
 * Long-running backends poll it (an atomic load: cheap and race-free) and return
 * OTRP_ERR_CANCELLED. Only then: the agent takes OTRP_ERR_CANCELLED from a backend whose
 * operation it did not cancel for a failure of that TEE (OTRP_ERR_TEE_FAIL; the TAM gets
 * an OTrPBrokerError).
 */
OTRP_API int otrp_tee_call_cancelled(const otrp_tee_call *call);

/** Milliseconds of CLOCK_MONOTONIC: the clock of otrp_tee_call.deadline_ms. */
OTRP_API uint64_t otrp_monotonic_ms(void);

/**
 * The operations of one TEE backend. Every operation returns OTRP_OK or a status:
 * OTRP_ERR_TEE_BUSY (the agent retries with backoff), OTRP_ERR_TEE_UNAVAILABLE,
 * OTRP_ERR_TIMEOUT, OTRP_ERR_TEE_FAIL, OTRP_ERR_TOO_LARGE or any other status the
 * backend sees fit. "No data" is OTRP_OK with empty output buffers.
 *
 * Operations a backend does not support may be NULL, except get_name, process_message
 * and destroy. Strings passed in are NUL-terminated and owned by the caller.
 */
struct otrp_tee_ops {
    size_t struct_size; /**< sizeof(struct otrp_tee_ops) the backend was built with */
    const char *kind;   /**< short backend name, e.g. "mock", "socket", "teec" */

    /** The TEE's routing name (the DSI tee.name that TAMs put in `tee`). */
    otrp_status (*get_name)(void *ctx, const otrp_tee_call *call, otrp_buf *name);

    /** OTrP ProcessOTrPMessage: one TAM message in, the TEE's answer (or no data) out. */
    otrp_status (*process_message)(void *ctx, const otrp_tee_call *call,
                                   const char *msg, size_t len, otrp_buf *out);

    /**
     * Session entry points (OTrP over HTTP): either output may stay empty.
     *
     * tam_uri_hint is the TAM URI the agent's caller named (NULL when none): only a
     * hint. The TEE chooses the TAM (PROFILE P10, otrp-over-http-02 section 5.1): the
     * agent POSTs to the URI the TEE answers in tam_uri, also when it differs from the
     * hint, and to the hint only when tam_uri stays empty. The agent and the app are not
     * trusted to pick the TAM (OTrP-03 section 14.8): a TEE adopts a hint only when it
     * has no TAM of its own (or the hint is on its allow-list). The agent checks the URI
     * it uses (https unless allow_http, syntax, at most 2048 bytes, no NUL byte) and
     * refuses a bad one with OTRP_ERR_BAD_URI or OTRP_ERR_HTTP_INSECURE before any POST.
     * A TEE signals work for a TAM by answering a non-empty tam_uri or msg; OTRP_OK with
     * both empty means "nothing for a TAM", and the agent then contacts no TAM. A TEE
     * that has work but knows no TAM URI and got no hint returns OTRP_ERR_NO_TAM_URI; the
     * agent reports that status (with the backend's last_error text) instead of
     * OTRP_ERR_TEE_FAIL.
     *
     * Change during 0.1 development (no release had it): policy_check gained
     * tam_uri_hint in place, in the same position as for request_ta; backends written
     * against the earlier form add the parameter (and may ignore it).
     */
    otrp_status (*request_ta)(void *ctx, const otrp_tee_call *call, const char *taid,
                              const char *tam_uri_hint, otrp_buf *tam_uri, otrp_buf *msg);
    otrp_status (*unrequest_ta)(void *ctx, const otrp_tee_call *call, const char *taid,
                                const char *tam_uri_hint, otrp_buf *tam_uri,
                                otrp_buf *msg);
    otrp_status (*policy_check)(void *ctx, const otrp_tee_call *call,
                                const char *tam_uri_hint, otrp_buf *tam_uri, otrp_buf *msg);
    /** The TAM could not be reached or answered with an error: forget the session. */
    otrp_status (*process_error)(void *ctx, const otrp_tee_call *call);

    /** OTrP GetTAInformation: the signed TAInformation message for a TA. */
    otrp_status (*ta_information)(void *ctx, const otrp_tee_call *call, const char *spid,
                                  const char *taid, otrp_buf *out);

    /** A JSON object describing the TEE (version, TA list, ...) for otrp_get_device_state. */
    otrp_status (*describe)(void *ctx, const otrp_tee_call *call, otrp_buf *json);

    /** Ask a running operation to stop soon; called from another thread. May be NULL. */
    void (*cancel)(void *ctx);

    /** Release ctx. Called exactly once, by otrp_tee_free() or by the owning agent. */
    void (*destroy)(void *ctx);

    /**
     * Optional (may be NULL; present when struct_size covers it): one line explaining
     * the failure of the operation that just returned, e.g. what the TEE reported and
     * where. The agent calls it right after a failed operation, under the same lock, and
     * adds the text to its detail (otrp_agent_last_error()), quoted: bytes other than
     * printable ASCII read as \xNN there. The string stays valid until the next
     * operation; "" when there is nothing to add.
     */
    const char *(*last_error)(void *ctx);
};

/** A TEE handle: a backend's operations and context. Opaque. */
typedef struct otrp_tee otrp_tee;

/**
 * Wrap a backend. ops must stay valid for the life of the handle (normally static);
 * ctx is owned by the handle from now on, and ops->destroy(ctx) is called when it ends,
 * also when this function fails.
 * \retval OTRP_OK             *out holds the handle
 * \retval OTRP_ERR_INVALID_ARG ops lacks get_name, process_message or destroy
 * \retval OTRP_ERR_NO_MEMORY
 */
OTRP_API OTRP_NODISCARD otrp_status otrp_tee_new(const struct otrp_tee_ops *ops, void *ctx,
                                                 otrp_tee **out) OTRP_NONNULL(1, 3);

/** Free a TEE handle that was not given to an agent. NULL is allowed. */
OTRP_API void otrp_tee_free(otrp_tee *tee);

#ifdef __cplusplus
}
#endif
#endif /* OTRP_TEE_H */
