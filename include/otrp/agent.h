/**
 * \file otrp/agent.h
 * \brief The OTrP Agent: relays OTrP messages between a TAM and the device's TEEs.
 *
 * Thread-safety: an agent handle is used by one thread at a time; different handles
 * may be used in parallel from different threads. otrp_agent_cancel() and
 * otrp_session_cancel() are the only calls that may be made from another thread while
 * the handle is in use. A TEE handle belongs to exactly one agent, so sessions to the
 * same TEE are serialized by construction; the agent also holds a per-TEE lock for the
 * duration of every call into the TEE.
 *
 * Non-blocking sessions (otrp/session.h) run many sessions on the one thread that
 * drives the agent (an event loop). Their TEE calls run on worker threads the agent
 * owns (one per TEE, and one for the batched calls of quick TEEs): a backend may thus be
 * called from threads other than the one that made the agent, not always the same one,
 * but never from two threads at once, and every callback of the agent (log, progress, a
 * session's done) is still called on the thread driving the agent. While non-blocking
 * sessions run, the blocking calls below that use TEEs return OTRP_ERR_IN_PROGRESS at
 * once. otrp_agent_cancel() cancels the blocking operation in progress and every
 * non-blocking session.
 *
 * Memory: what the agent returns (responses, JSON documents) is freed with otrp_free().
 * Strings passed in stay owned by the caller.
 */
#ifndef OTRP_AGENT_H
#define OTRP_AGENT_H

#include <stdint.h>
#include "common.h"
#include "status.h"
#include "tee.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Log levels; the log callback receives only messages at or above the configured level. */
typedef enum otrp_log_level {
    OTRP_LOG_DEBUG = 0,
    OTRP_LOG_INFO = 1,
    OTRP_LOG_WARN = 2,
    OTRP_LOG_ERROR = 3,
    OTRP_LOG_SILENT = 4
} otrp_log_level;

/**
 * A log sink. msg is one line without a newline, valid during the call only. The library
 * never logs message bodies or key material: only sizes, names and statuses.
 */
typedef void (*otrp_log_fn)(void *user, otrp_log_level level, const char *msg);

/** Where a session with a TAM stands, for apps that show progress. */
typedef enum otrp_progress_stage {
    OTRP_STAGE_TEE_REQUEST = 0, /**< asking the TEE what to tell the TAM (RequestTA, ...) */
    OTRP_STAGE_POST = 1,        /**< sending a message (or the empty first POST) to the TAM */
    OTRP_STAGE_TEE_PROCESS = 2, /**< handing the TAM's message to the TEE */
    OTRP_STAGE_DONE = 3         /**< the session ended (see the operation's status) */
} otrp_progress_stage;

/** One progress report. */
typedef struct otrp_progress {
    size_t struct_size;               /**< sizeof(otrp_progress) */
    otrp_progress_stage stage;
    unsigned round_trip;              /**< 1-based number of the current POST (0 before) */
    unsigned long long bytes_sent;    /**< HTTP bodies sent to the TAM so far */
    unsigned long long bytes_received;/**< HTTP bodies received from the TAM so far */
} otrp_progress;

/** A progress sink, called on the thread running the session; it must not call the agent. */
typedef void (*otrp_progress_fn)(void *user, const otrp_progress *progress);

/** The largest message the agent accepts or lets a TEE return, unless configured. */
#define OTRP_DEFAULT_MAX_MESSAGE ((size_t)16 * 1024 * 1024)

/** The default bound of one session operation: room for the 64 POSTs of the longest
 *  session on a slow network, not for hours of retries. */
#define OTRP_DEFAULT_SESSION_TIMEOUT_MS 300000u

/**
 * The range of otrp_agent_config.max_message_size; otrp_agent_new() refuses a value
 * outside it (OTRP_ERR_INVALID_ARG). Below the minimum not even the outer object of an
 * OTrP message with an empty JWS fits: every message would be refused. The maximum
 * keeps every size sum made from the limit (a frame header on top, a base64 expansion)
 * far from overflow also where size_t has 32 bits, and is more than any TA image needs.
 */
#define OTRP_MIN_MESSAGE_SIZE ((size_t)64)
#define OTRP_MAX_MESSAGE_SIZE ((size_t)1024 * 1024 * 1024)

/** The largest ca_blob_len accepted: the whole Mozilla root store in PEM is ~0.2 MiB. */
#define OTRP_MAX_CA_BLOB ((size_t)4 * 1024 * 1024)

/** At most this many pins in otrp_agent_config.pinned_keys (a key rollover needs two). */
#define OTRP_MAX_PINS 16

/** The longest proxy or noproxy string accepted (a URL is configuration, not data). */
#define OTRP_MAX_PROXY_LEN 2048

/**
 * Agent configuration. Fill it with otrp_agent_config_init() and change what you need:
 * struct_size lets the struct grow in later versions without breaking the ABI.
 */
typedef struct otrp_agent_config {
    size_t struct_size;           /**< sizeof(otrp_agent_config) */

    size_t max_message_size;      /**< bytes; input and TEE output (default 16 MiB) */
    unsigned tee_busy_retries;    /**< retries of a busy TEE before giving up (default 3) */
    unsigned tee_busy_backoff_ms; /**< first backoff, doubled per retry (default 20) */
    unsigned tee_timeout_ms;      /**< deadline of one TEE call (default 30000; 0 = none) */

    otrp_log_fn log;              /**< NULL = silent (default) */
    void *log_user;               /**< passed to log */
    otrp_log_level log_level;     /**< default OTRP_LOG_WARN */

    /* TAM transport (sessions over HTTP). */
    int allow_http;               /**< accept http:// TAM URIs (default 0: https only) */
    const char *ca_file;          /**< PEM CA bundle path; NULL = system store */
    const void *ca_blob;          /**< in-memory PEM CA bundle (overrides ca_file) */
    /** bytes in ca_blob: 0 exactly when ca_blob is NULL, at most OTRP_MAX_CA_BLOB */
    size_t ca_blob_len;
    /**
     * NULL (no pinning, the default) or 1 to OTRP_MAX_PINS SPKI pins joined by ';', each
     * "sha256//" and the standard base64 (with padding) of the 32-byte SHA-256 of the
     * TAM's SubjectPublicKeyInfo, e.g. "sha256//<44 chars>;sha256//<44 chars>". Nothing
     * else (libcurl's key file names included) is accepted: OTRP_ERR_INVALID_ARG.
     */
    const char *pinned_keys;
    unsigned connect_timeout_ms;  /**< default 10000 */
    unsigned http_timeout_ms;     /**< one whole HTTP exchange, default 60000 */
    unsigned stall_timeout_ms;    /**< abort when no byte moves this long, default 15000 */
    unsigned http_retries;        /**< retries where safe (connect failure, 503); default 2 */
    /** NULL = "libotrp/<version>"; "" = send no User-Agent; otherwise up to 256
     *  printable ASCII bytes (otrp_agent_new() refuses others: OTRP_ERR_INVALID_ARG). */
    const char *user_agent;

    otrp_progress_fn progress;    /**< NULL = no progress reports (default) */
    void *progress_user;          /**< passed to progress */

    /*
     * Proxies and the process environment. A device library must not be steered by an
     * environment variable: by default the agent uses no proxy, whatever http_proxy,
     * https_proxy, HTTPS_PROXY, ALL_PROXY, all_proxy or NO_PROXY say (libcurl would
     * otherwise read them, and with allow_http a proxy would see the whole plaintext POST).
     */
    /**
     * The proxy for TAM connections: "http://host:port" (an https TAM is reached
     * through a CONNECT tunnel), "https://host:port" (its certificate is verified
     * against the system store, not ca_file), "socks4://", "socks4a://", "socks5://"
     * or "socks5h://host:port"; user:password@ may precede the host. At most
     * OTRP_MAX_PROXY_LEN printable ASCII bytes, the scheme required. NULL (default) = no
     * proxy unless proxy_from_env; "" = no proxy, whatever proxy_from_env says.
     */
    const char *proxy;
    /**
     * Hosts reached without the proxy: libcurl's CURLOPT_NOPROXY list (comma-separated
     * host names, domains, IP addresses or CIDR ranges; "*" = every host), at most
     * OTRP_MAX_PROXY_LEN printable ASCII bytes. NULL (default) = none, or with
     * proxy_from_env the environment's no_proxy / NO_PROXY; "" = none.
     */
    const char *noproxy;
    /**
     * 1 = when proxy is NULL, take the proxy from the environment as libcurl does
     * (https_proxy / HTTPS_PROXY for https, http_proxy for http, else all_proxy /
     * ALL_PROXY), and, when noproxy is NULL, no_proxy / NO_PROXY. Default 0: ignored.
     */
    int proxy_from_env;
    /**
     * 1 = run sessions while the SSLKEYLOGFILE environment variable is set. libcurl then
     * appends every TLS session's secrets to that file (libcurl 7.88 on OpenSSL opens it
     * when it is initialised; GnuTLS and NSS builds read the variable too), which lets
     * anyone who can read it decrypt the sessions; libcurl offers no way to switch this
     * off for one handle. Default 0: a session is refused before any network
     * use, and before libcurl is initialised (which opens the file), with
     * OTRP_ERR_TLS_KEYLOG. Not detectable: an application that initialised libcurl
     * itself while the variable was set and unset it since (libcurl keeps logging).
     */
    int allow_keylog;
    /**
     * The longest one session operation (otrp_agent_request_ta(), _unrequest_ta(),
     * _policy_check()) may take from its call to its return, every POST, retry, backoff
     * and TEE call included (see "Deadlines, waits and cancel" below). Default
     * OTRP_DEFAULT_SESSION_TIMEOUT_MS (5 minutes); 0 = no bound beyond the per-step ones.
     * Added after progress_user: a caller whose struct_size ends before this field gets
     * the default.
     */
    unsigned session_timeout_ms;
} otrp_agent_config;

/** Set every field of *config to its default (struct_size included). */
OTRP_API void otrp_agent_config_init(otrp_agent_config *config) OTRP_NONNULL(1);

/** An agent handle. Opaque. */
typedef struct otrp_agent otrp_agent;

/**
 * Create an agent. config may be NULL (all defaults); it is copied, but the strings
 * and blobs it points to must outlive the agent. The whole configuration is checked
 * here, not at the first session (see otrp_agent_config_check()); when it is refused,
 * the reason goes to config->log at OTRP_LOG_ERROR (when that level is enabled).
 * \retval OTRP_OK
 * \retval OTRP_ERR_INVALID_ARG config->struct_size is 0 or too small, or a value is out
 *         of range or malformed (otrp_agent_config_check() says which)
 * \retval OTRP_ERR_NO_MEMORY
 */
OTRP_API OTRP_NODISCARD otrp_status otrp_agent_new(const otrp_agent_config *config,
                                                   otrp_agent **out) OTRP_NONNULL(2);

/**
 * Check a configuration exactly as otrp_agent_new() does, without making an agent, and
 * say what is wrong: max_message_size outside OTRP_MIN_MESSAGE_SIZE..
 * OTRP_MAX_MESSAGE_SIZE, retries or backoff beyond their bounds, an unknown log level, a
 * user_agent, pinned_keys, proxy or noproxy that is malformed, ca_blob and ca_blob_len
 * that disagree (or a blob over OTRP_MAX_CA_BLOB), an empty ca_file. The content of CA
 * files and blobs is libcurl's to judge, at the first session (OTRP_ERR_CONFIG).
 * \param config  as for otrp_agent_new(); NULL = the defaults (always valid)
 * \param detail  receives one sentence naming the field ("" when valid); may be NULL
 * \param detail_size  bytes at detail (the sentence is cut to fit)
 * Thread-safety: reads config only.
 * \retval OTRP_OK
 * \retval OTRP_ERR_INVALID_ARG
 */
OTRP_API OTRP_NODISCARD otrp_status otrp_agent_config_check(const otrp_agent_config *config,
                                                            char *detail, size_t detail_size);

/** Free an agent and every TEE it owns. NULL is allowed. */
OTRP_API void otrp_agent_free(otrp_agent *agent);

/**
 * Register a TEE. The agent owns tee from now on (also when this fails). TEEs are
 * consulted in registration order.
 * \retval OTRP_OK
 * \retval OTRP_ERR_INVALID_ARG tee is NULL
 * \retval OTRP_ERR_TOO_LARGE   more than OTRP_MAX_TEES TEEs
 */
OTRP_API OTRP_NODISCARD otrp_status otrp_agent_add_tee(otrp_agent *agent, otrp_tee *tee)
    OTRP_NONNULL(1);

/** At most this many TEEs per agent. */
#define OTRP_MAX_TEES 16

/**
 * OTrP ProcessOTrPMessage: hand one TAM message to the TEE it is meant for and return
 * the answer to send back to the TAM.
 *
 * The agent checks the outer structure strictly (one member, a known request name, a
 * JWS object, no duplicate member names) and reads from the unverified JWS payload only
 * what routing needs (`rid`, `tid`, `tee`, the signed message name). The whole message
 * is looked at however early those come; what follows them in the payload is decoded by
 * the TEE only. Names are compared by the text they spell, escapes resolved
 * ("\u0070rotected" is "protected"), as a JSON parser in the TEE reads them. It routes
 * by `tee`; a GetDeviceStateRequest goes to every TEE and the answers come back as one
 * GetDeviceStateResponse array in registration order. The body is passed to the TEE
 * without a copy. Signatures are the TEE's business: the agent holds no keys.
 *
 * On success *resp holds the TEE's answer (free with otrp_free()); *resp may be NULL with
 * *resp_len 0 when the TEE had nothing to say. When no TEE could answer, the status says
 * why (OTRP_ERR_TEE_UNKNOWN, OTRP_ERR_TEE_BUSY, OTRP_ERR_TEE_FAIL, ...) and *resp holds
 * an OTrPBrokerError message for the TAM. When the message itself is malformed, the
 * status names the defect, otrp_agent_last_error() says where, and *resp is NULL.
 *
 * \retval OTRP_OK
 * \retval OTRP_ERR_MSG_EMPTY, OTRP_ERR_MSG_NOT_JSON, OTRP_ERR_MSG_STRUCTURE,
 *         OTRP_ERR_MSG_UNKNOWN, OTRP_ERR_MSG_DUPLICATE, OTRP_ERR_MSG_JWS,
 *         OTRP_ERR_MSG_PAYLOAD, OTRP_ERR_MSG_NAME_MISMATCH, OTRP_ERR_MSG_FIELD,
 *         OTRP_ERR_MSG_DEPTH, OTRP_ERR_TOO_LARGE   the message is malformed (*resp NULL)
 * \retval OTRP_ERR_NO_TEE, OTRP_ERR_TEE_UNKNOWN, OTRP_ERR_TEE_BUSY, OTRP_ERR_TEE_FAIL
 *         no TEE answered (*resp holds an OTrPBrokerError)
 * \retval OTRP_ERR_CANCELLED  otrp_agent_cancel() was called (*resp NULL); a TEE that
 *         reports a cancel nobody asked for is OTRP_ERR_TEE_FAIL
 * \retval OTRP_ERR_NO_MEMORY, OTRP_ERR_INVALID_ARG
 */
OTRP_API OTRP_NODISCARD otrp_status otrp_agent_process(otrp_agent *agent, const char *msg,
                                                       size_t len, char **resp,
                                                       size_t *resp_len)
    OTRP_NONNULL(1, 4, 5);

/**
 * The agent's view of the device as a JSON document (free with otrp_free()):
 * \code
 * {
 *   "library": {"name": "libotrp", "version": "0.1.0"},
 *   "tees": [                                   // registration order
 *     {"name": "Primary TEE",                   // null when it could not be learnt
 *      "kind": "mock",                          // the backend's ops->kind
 *      "state": "ready" | "busy" | "unreachable",
 *      "backend": { ... }}                      // ops->describe() output, when offered
 *   ],
 *   "last_session": null | {
 *     "operation": "relay" | "request_ta" | "unrequest_ta" | "policy_check",
 *     "result": "OK" | "<status name>",         // otrp_status_name()
 *     "detail": "...",                          // the detail string of a failure, else ""
 *     "round_trips": 3,                         // messages handed to a TEE
 *     "bytes_to_tee": 1234, "bytes_from_tee": 5678,
 *     "bytes_sent": 0, "bytes_received": 0,     // HTTP bodies to / from the TAM
 *     "duration_ms": 12
 *   }
 * }
 * \endcode
 * Asking each TEE is part of building the document: a TEE that does not answer is
 * reported "unreachable" ("busy" when it said so), never an error of this call.
 * The document is valid JSON in valid UTF-8 whatever the TEEs report: control bytes are
 * escaped, and each byte of a name or description that is not part of a well-formed
 * UTF-8 sequence is replaced by U+FFFD.
 * \retval OTRP_OK, OTRP_ERR_NO_MEMORY
 */
OTRP_API OTRP_NODISCARD otrp_status otrp_get_device_state(otrp_agent *agent, char **json,
                                                          size_t *len)
    OTRP_NONNULL(1, 2, 3);

/**
 * OTrP GetTAInformation: the TEE's signed TAInformation message about TA taid of service
 * provider spid (PROFILE P11), for an app to verify with the SP AIK public key. TEEs are
 * asked in registration order; the first that knows the TA answers (free *info with
 * otrp_free()).
 * \retval OTRP_OK
 * \retval OTRP_ERR_NOT_FOUND     no TEE knows the TA
 * \retval OTRP_ERR_UNSUPPORTED   no registered TEE offers TAInformation
 * \retval OTRP_ERR_NO_TEE        no TEE registered
 * \retval OTRP_ERR_TEE_BUSY, OTRP_ERR_TEE_FAIL  a TEE that might know it did not answer
 * \retval OTRP_ERR_INVALID_ARG   spid or taid empty or longer than 128 bytes
 */
OTRP_API OTRP_NODISCARD otrp_status otrp_get_ta_information(otrp_agent *agent,
                                                            const char *spid,
                                                            const char *taid, char **info,
                                                            size_t *len)
    OTRP_NONNULL(1, 2, 3, 4, 5);

/**
 * The detail of the last failure on this handle, e.g. "JWS member 'payload' is not a
 * string" or "TEE 'Primary TEE' answered 71 bytes that are not JSON". Empty after a
 * success. Valid until the next call on the handle.
 *
 * Text that came from a peer (a TEE's name or explanation, a name in a TAM message, a
 * TAM's media type or libcurl's words about its certificate) is quoted: printable ASCII
 * stays, every other byte (ESC, CR, LF, the bytes of UTF-8) reads as \xNN. So the detail
 * (and the log lines that carry it) can be shown on a terminal as it is.
 */
OTRP_API const char *otrp_agent_last_error(const otrp_agent *agent) OTRP_NONNULL(1);

/**
 * Ask the operation running on agent (in another thread) to stop soon: it returns
 * OTRP_ERR_CANCELLED. Safe from any thread and from signal-free contexts.
 *
 * A cancel applies to the operation in progress only. Every operation that reaches a TEE
 * or a TAM (otrp_agent_process(), otrp_agent_request_ta(), _unrequest_ta(),
 * _policy_check(), otrp_get_device_state(), otrp_get_ta_information()) starts by
 * clearing the request: a cancel made while no operation runs is dropped and does not
 * touch the next one, and so is a cancel that lands just before an operation's first
 * step. To stop an operation that may only be starting, repeat the cancel until the
 * operation has returned. How soon it stops: see "Deadlines, waits and cancel" below.
 */
OTRP_API void otrp_agent_cancel(otrp_agent *agent) OTRP_NONNULL(1);

/*
 * Deadlines, waits and cancel.
 *
 * Each step has its own bound: one HTTP exchange (one attempt) http_timeout_ms, its
 * connect connect_timeout_ms, a transfer in which no byte moves stall_timeout_ms, one TEE
 * call tee_timeout_ms (the backend gets it as otrp_tee_call.deadline_ms; an answer after
 * it counts as none).
 *
 * A session operation as a whole has session_timeout_ms: one deadline, set when the call
 * starts and shared by every TEE session of an otrp_agent_policy_check(). Every step ends
 * by it: a TEE call gets the earlier of its own deadline and the session's; the HTTP
 * transfer in progress is stopped when the deadline comes (to the millisecond); a retry
 * or a busy-TEE retry whose backoff would end after it is not waited for; no POST starts
 * after it. The operation then returns OTRP_ERR_TIMEOUT with a detail starting "session
 * timeout of N ms reached" and naming the step, and the TEEs are told with ProcessError
 * (which gets tee_timeout_ms of its own). An in-process backend that ignores its call
 * deadline cannot be preempted: the return is late by as much as it overruns.
 *
 * Waits between retries: a TAM connection that fails or a 503 is retried at most
 * http_retries times after 250 ms, doubling up to 8 s; a 503 asking for 0..8 s with
 * Retry-After waits that long, one asking for more is not retried, and a Retry-After date
 * in the past (the TAM's clock ahead of the device's) asks for no pause (the usual
 * backoff applies). A busy TEE is retried tee_busy_retries times after
 * tee_busy_backoff_ms, doubling.
 *
 * Cancel latency: a transfer or a wait between HTTP retries sees otrp_agent_cancel()
 * within 50 ms, a busy-TEE backoff within 10 ms; a TEE call in progress as soon as its
 * backend reacts (the agent calls the backend's cancel operation and sets
 * otrp_tee_call.cancelled; the socket backend stops within its 50 ms poll slice, teec
 * asks the TEE to cancel the command).
 */

/*
 * Sessions with a TAM over HTTP (draft-ietf-teep-otrp-over-http-02, PROFILE P10).
 *
 * Each call asks a TEE what to tell the TAM, then runs the POST loop: the TEE's first
 * message (or an empty POST), the TAM's answer handed to the TEE(s) exactly as
 * otrp_agent_process() would, the TEE's answer POSTed back, until the TAM answers with
 * no body.
 *
 * The TEE chooses the TAM (PROFILE P10, otrp-over-http-02 section 5.1): the tam_uri
 * argument is only a hint handed to the TEE, and the agent POSTs to the URI the TEE
 * passes back, also when it differs from the hint; only when the TEE passes back none
 * does the agent use tam_uri. The app and the agent are not trusted to pick the TAM
 * (OTrP-03 section 14.8). Whichever URI is used is checked before any POST: absolute
 * https (http only with allow_http), a host, no user information, no space, control or
 * NUL byte, at most 2048 bytes (OTRP_ERR_BAD_URI, OTRP_ERR_HTTP_INSECURE; the detail says
 * whether it came from the TEE or the caller); a bad tam_uri fails before the TEE is
 * asked. Transport security: certificate and host name verified, optional pins, no
 * redirects (see the config).
 *
 * A session succeeds when the TAM ended it and nothing failed on the way. It fails with:
 * - the transport's status (OTRP_ERR_HTTP_*, OTRP_ERR_TLS*, OTRP_ERR_TIMEOUT, ...) when
 *   the TAM could not be reached or answered badly; the TEEs involved are then told
 *   with their ProcessError operation;
 * - OTRP_ERR_TEE_REPORTED when a TEE answered a TAM request with status "fail" (the
 *   answer still went to the TAM, which then ends the session);
 * - OTRP_ERR_TEE_UNKNOWN / _TEE_BUSY / _TEE_FAIL when no TEE could answer (the TAM got an
 *   OTrPBrokerError);
 * - a OTRP_ERR_MSG_* status when the TAM sent a malformed message;
 * - OTRP_ERR_NO_TAM_URI, OTRP_ERR_BAD_URI, OTRP_ERR_HTTP_INSECURE before any network use,
 *   and OTRP_ERR_TLS_KEYLOG while SSLKEYLOGFILE is set (see allow_keylog);
 * - OTRP_ERR_SESSION_FAILED when the TAM keeps the session going past
 *   OTRP_MAX_ROUND_TRIPS messages;
 * - OTRP_ERR_TIMEOUT also when session_timeout_ms ran out (the detail starts "session
 *   timeout of N ms reached");
 * - OTRP_ERR_CANCELLED after otrp_agent_cancel();
 * - OTRP_ERR_IN_PROGRESS at once while non-blocking sessions (otrp/session.h) run on
 *   the agent (also from otrp_agent_process(), otrp_get_device_state() and
 *   otrp_get_ta_information()).
 * otrp_agent_last_error() names the step that failed; the figures of the session are
 * in otrp_get_device_state()'s last_session.
 */

/** A session ends with OTRP_ERR_SESSION_FAILED after this many POSTs. */
#define OTRP_MAX_ROUND_TRIPS 64

/**
 * OTrP RequestTA: a client application needs TA taid. The first registered TEE that
 * supports it is asked; tam_uri (a hint for the TEE, see above) may be NULL.
 * OTRP_OK also when the TEE had nothing to ask of a TAM (the TA is already there);
 * OTRP_ERR_NO_TAM_URI when neither the caller nor the TEE names a TAM (a TEE may keep
 * the request for a later otrp_agent_policy_check() that names one, as the mock TEE does).
 */
OTRP_API OTRP_NODISCARD otrp_status otrp_agent_request_ta(otrp_agent *agent, const char *taid,
                                                          const char *tam_uri)
    OTRP_NONNULL(1, 2);

/** OTrP UnrequestTA: taid is no longer needed (the TAM may delete it). As request_ta. */
OTRP_API OTRP_NODISCARD otrp_status otrp_agent_unrequest_ta(otrp_agent *agent,
                                                            const char *taid,
                                                            const char *tam_uri)
    OTRP_NONNULL(1, 2);

/**
 * OTrP RequestPolicyCheck on every TEE that supports it, in registration order: each
 * TEE with pending work gets a session with the TAM it names (tam_uri when it names
 * none; each TEE gets tam_uri as the tam_uri_hint of its policy_check, see otrp/tee.h).
 * A TEE with pending work, no TAM URI of its own and no tam_uri fails with
 * OTRP_ERR_NO_TAM_URI. Returns the first failure, after trying every TEE, except that a
 * cancel or the end of session_timeout_ms (shared by all the TEEs' sessions) stops at
 * once.
 */
OTRP_API OTRP_NODISCARD otrp_status otrp_agent_policy_check(otrp_agent *agent,
                                                            const char *tam_uri)
    OTRP_NONNULL(1);

#ifdef __cplusplus
}
#endif
#endif /* OTRP_AGENT_H */
