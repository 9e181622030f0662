/*
 * The TAM transport: OTrP over HTTP(S) POSTs on libcurl (PROFILE P10).
 *
 * One transport object talks to one TAM for one or more sessions. It owns one libcurl
 * easy handle, reused for every POST, so one TCP/TLS connection carries a whole session
 * when the server keeps it alive. A transport is used by one thread at a time; only the
 * cancel flag it was given may be written from another thread.
 *
 * Every failure maps to one status and a detail sentence in otrp__http_result.detail
 * (never a global). Bodies are never logged or copied into the detail.
 */
#ifndef OTRP_HTTP_HTTP_H
#define OTRP_HTTP_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "otrp/agent.h"
#include "otrp/status.h"
#include "otrp/tee.h"

/* The media type of every OTrP body, both directions. */
#define OTRP__HTTP_MEDIA_TYPE "application/otrp+json"

/*
 * 1 when a Content-Type value names the media type want: type and subtype compared
 * case-insensitively, parameters and surrounding whitespace ignored (PROFILE P10).
 * 0 for NULL. Shared with the TAM side (the HTTP front end checks requests with it).
 */
int otrp__http_media_type_is(const char *value, const char *want);

/* Room for a detail sentence, NUL included. Longer details are cut. */
#define OTRP__HTTP_DETAIL_MAX 256

/* Longest User-Agent accepted (configuration: printable ASCII, see below). */
#define OTRP__HTTP_USER_AGENT_MAX 256

/*
 * 1 when ua can be sent as a User-Agent value: NULL or "" (the default, or none), or up
 * to OTRP__HTTP_USER_AGENT_MAX printable ASCII bytes not starting with a space. A CR or
 * LF would let configuration inject headers. otrp_agent_new() refuses the others.
 */
int otrp__http_user_agent_ok(const char *ua);

/* Longest TAM URI accepted (a URI is configuration, not data: this is generous). */
#define OTRP__HTTP_URI_MAX 2048

/*
 * The transport settings: the TAM transport fields of otrp_agent_config, plus the cancel
 * flag. Strings and blobs are not copied: they must outlive the transport.
 * A zero timeout or size means "the default" (see otrp__http_settings_init()).
 */
typedef struct otrp__http_settings {
    int allow_http;              /* accept http:// URIs; default https only */
    const char *ca_file;         /* PEM bundle path; NULL = system store */
    const void *ca_blob;         /* in-memory PEM bundle; wins over ca_file */
    size_t ca_blob_len;
    const char *pinned_keys;     /* "sha256//<b64>;sha256//<b64>" or NULL */
    unsigned connect_timeout_ms; /* TCP + TLS handshake */
    unsigned http_timeout_ms;    /* one whole exchange (one attempt) */
    unsigned stall_timeout_ms;   /* no byte moved this long: give up */
    unsigned http_retries;       /* extra attempts where safe (see otrp__http_post) */
    unsigned retry_backoff_ms;   /* first wait before a retry, doubled per retry */
    const char *user_agent;      /* NULL = "libotrp/<version>"; "" = no User-Agent */
    size_t max_message_size;     /* response body cap in bytes */
    const char *proxy;           /* proxy URL; NULL or "" = none (unless proxy_from_env) */
    const char *noproxy;         /* CURLOPT_NOPROXY list; NULL = none (or the env's) */
    int proxy_from_env;          /* let libcurl read the proxy variables of the env */
    int allow_keylog;            /* run while SSLKEYLOGFILE is set */
    /*
     * Non-zero asks a running POST to stop (OTRP_ERR_CANCELLED). Written by another
     * thread: write it with __atomic_store_n (or a C11 atomic store) so that the read
     * here, an __atomic_load_n, is race-free. May be NULL.
     */
    const volatile int *cancel;
} otrp__http_settings;

/* Defaults of the settings (the same as otrp_agent_config_init()'s). */
#define OTRP__HTTP_DEFAULT_CONNECT_TIMEOUT_MS 10000u
#define OTRP__HTTP_DEFAULT_TIMEOUT_MS 60000u
#define OTRP__HTTP_DEFAULT_STALL_TIMEOUT_MS 15000u
#define OTRP__HTTP_DEFAULT_RETRIES 2u
#define OTRP__HTTP_DEFAULT_RETRY_BACKOFF_MS 250u
/* No more retries than this, whatever the configuration says (bounded work). */
#define OTRP__HTTP_MAX_RETRIES 10u

/*
 * Check the settings without any network activity, as otrp_agent_new() and
 * otrp__http_new() do: user_agent (otrp__http_user_agent_ok), pinned_keys (1 to
 * OTRP_MAX_PINS "sha256//<base64 of 32 bytes>" joined by ';'), ca_blob / ca_blob_len
 * (both set or neither, at most OTRP_MAX_CA_BLOB), ca_file (not ""), proxy (a URL of a
 * scheme libcurl proxies with, or ""), noproxy (printable ASCII). OTRP_OK or
 * OTRP_ERR_INVALID_ARG; detail (detail_size bytes, may be 0) names the field.
 */
OTRP_NODISCARD otrp_status otrp__http_settings_check(const otrp__http_settings *s, char *detail,
                                                     size_t detail_size);

/*
 * OTRP_ERR_TLS_KEYLOG (with a detail) when the environment asks libcurl to log TLS
 * secrets (SSLKEYLOGFILE set and not empty) and allow_keylog is 0, else OTRP_OK.
 */
OTRP_NODISCARD otrp_status otrp__http_keylog_check(int allow_keylog, char *detail,
                                                   size_t detail_size);

/* Fill *s with the defaults (https only, system CA store, no pins, no cancel flag). */
void otrp__http_settings_init(otrp__http_settings *s);

/* Copy the transport fields of an agent configuration into *s (cancel stays as it is). */
void otrp__http_settings_from_config(otrp__http_settings *s, const otrp_agent_config *cfg);

/* What one otrp__http_post() did; filled on success and on failure. */
typedef struct otrp__http_result {
    long http_code;            /* the last HTTP status seen; 0 when none */
    uint64_t bytes_sent;       /* request bodies sent, all attempts */
    uint64_t bytes_received;   /* response bodies received, all attempts */
    unsigned new_connections;  /* TCP connections opened (0: an existing one was reused) */
    unsigned attempts;         /* 1 + retries made */
    uint64_t duration_ms;      /* wall time of the whole call, backoff included */
    int deadline_reached;      /* the failure (OTRP_ERR_TIMEOUT) is the deadline's */
    char detail[OTRP__HTTP_DETAIL_MAX]; /* "" on success, else what failed and why */
} otrp__http_result;

/* A transport object. Opaque. */
typedef struct otrp__http otrp__http;

/*
 * Make a transport. Initialises libcurl (reference-counted, thread-safe), after the
 * checks: OTRP_OK, OTRP_ERR_INVALID_ARG (NULL pointers, otrp__http_settings_check()),
 * OTRP_ERR_TLS_KEYLOG (otrp__http_keylog_check(): before libcurl's initialisation, which
 * would open the key log file), OTRP_ERR_NO_MEMORY, OTRP_ERR_INTERNAL (libcurl cannot
 * be initialised).
 */
OTRP_NODISCARD otrp_status otrp__http_new(const otrp__http_settings *settings,
                                          otrp__http **out);

/* Close the connection and free the transport (releases libcurl). NULL is allowed. */
void otrp__http_free(otrp__http *t);

/*
 * Check a TAM URI without any network activity: absolute http(s) URI with a host, no
 * user information, no spaces or control characters, at most OTRP__HTTP_URI_MAX bytes.
 * OTRP_OK, OTRP_ERR_BAD_URI, OTRP_ERR_HTTP_INSECURE (http:// and !allow_http).
 * detail (detail_size bytes, may be 0) receives the reason.
 */
OTRP_NODISCARD otrp_status otrp__http_check_uri(const char *uri, int allow_http,
                                                char *detail, size_t detail_size);

/*
 * The same for len bytes that need not end in a NUL (a URI a TEE passed back): a NUL
 * among them is refused (OTRP_ERR_BAD_URI), since used as a C string the URI would end
 * there; so is a length over OTRP__HTTP_URI_MAX (the detail gives both).
 */
OTRP_NODISCARD otrp_status otrp__http_check_uri_bytes(const char *uri, size_t len,
                                                      int allow_http, char *detail,
                                                      size_t detail_size);

/*
 * The instant (otrp_monotonic_ms()) by which every later otrp__http_post() on t must be
 * over, retries and backoff included; 0 = none (the default). A POST past it fails with
 * OTRP_ERR_TIMEOUT: at once when it is already past, when the transfer reaches it (to the
 * millisecond: the last poll slice ends on it), and at once instead of a backoff that
 * would end after it. The session loop sets it per operation (session_timeout_ms).
 */
void otrp__http_set_deadline(otrp__http *t, uint64_t deadline_ms);

/*
 * 1 when uri is the URI the previous otrp__http_post() on t was made to (so it passed
 * otrp__http_check_uri() with this transport's allow_http), else 0. Lets a caller skip
 * checking again the URI of every session to the same TAM.
 */
int otrp__http_uri_is_current(const otrp__http *t, const char *uri);

/*
 * POST one OTrP message (body_len 0: the empty "connect" POST) to uri and read the
 * answer into response (reset first). The body must stay valid during the call and
 * must not lie inside response (OTRP_ERR_INVALID_ARG).
 *
 * Headers: "Accept: application/otrp+json"; "Content-Type: application/otrp+json" only
 * with a body (none at all on an empty POST); no "Expect", no cookies. The response cap
 * is the smaller of response->max (when non-zero) and settings.max_message_size.
 *
 * OTRP_OK with response->len == 0: a 2xx without body (204, or 200 with no content): the
 * TAM has nothing more. OTRP_OK with response->len > 0: a 2xx whose body is the next
 * message, media type application/otrp+json (parameters ignored).
 *
 * Retries, at most settings.http_retries, with doubling backoff, only when the request
 * cannot have been processed: the connection could not be made (or the name not
 * resolved), or the TAM answered 503. A 503 with Retry-After waits that long instead,
 * and is not retried when it asks for more than 8 s; a Retry-After date in the past
 * (clock skew) asks for no pause: the usual backoff applies. Every wait looks at the
 * cancel flag every 50 ms and ends at the deadline (otrp__http_set_deadline()).
 *
 * Proxy: settings.proxy when set; none when not, unless settings.proxy_from_env (then
 * libcurl's reading of the environment decides).
 *
 * Failures:
 *   OTRP_ERR_BAD_URI, OTRP_ERR_HTTP_INSECURE   before any network activity
 *   OTRP_ERR_TLS_KEYLOG       before any network activity: SSLKEYLOGFILE is set
 *   OTRP_ERR_HTTP_CONNECT     name not resolved, connection refused/unreachable
 *   OTRP_ERR_TLS              handshake failed (protocol version, alert, ...)
 *   OTRP_ERR_TLS_CERT         the certificate chain is not trusted
 *   OTRP_ERR_CERT_EXPIRED     the certificate (or one of its chain) expired / not yet valid
 *   OTRP_ERR_TLS_HOSTNAME     the certificate does not name the URI's host
 *   OTRP_ERR_TLS_PIN          the server key matches none of the pins
 *   OTRP_ERR_CONFIG           the CA file or blob cannot be loaded
 *   OTRP_ERR_HTTP_REDIRECT    3xx (not followed; the detail names the Location)
 *   OTRP_ERR_HTTP_STATUS      any other non-2xx (the detail and http_code give the code)
 *   OTRP_ERR_HTTP_CONTENT_TYPE  2xx with a body of another (or no) media type
 *   OTRP_ERR_HTTP_PROTOCOL    connection dropped, truncated or malformed response (also
 *                             a header line over libcurl's 100 KiB, or Content-Length
 *                             headers whose values differ)
 *   OTRP_ERR_TIMEOUT          connect, whole-exchange or stall timeout, or the deadline
 *                             (detail says which)
 *   OTRP_ERR_CANCELLED        the cancel flag was set
 *   OTRP_ERR_TOO_LARGE        the response body exceeds the cap
 *   OTRP_ERR_NO_MEMORY, OTRP_ERR_INVALID_ARG, OTRP_ERR_INTERNAL
 * info may be NULL.
 */
OTRP_NODISCARD otrp_status otrp__http_post(otrp__http *t, const char *uri, const void *body,
                                           size_t body_len, otrp_buf *response,
                                           otrp__http_result *info);

/*
 * The same POST driven by the caller's loop instead of a blocking wait (the agent's
 * non-blocking sessions, otrp/session.h). The checks, headers, limits, stall clock,
 * deadline, retries and Retry-After are those of otrp__http_post(); the retry pause is
 * a wake-up time instead of a sleep. libcurl runs in multi_socket mode on the
 * transport's own multi handle. body, response and info must stay valid until the POST
 * ends. A transport runs either blocking POSTs or non-blocking ones, not both.
 *
 * otrp__http_async_start(): OTRP_ERR_IN_PROGRESS when the POST is under way, else its
 * final status (a failure before any network activity, as otrp__http_post()'s).
 * otrp__http_async_wait(): writes up to cap sockets to wait for into fds and returns how
 * many there are (may exceed cap: the caller's set is too small); lowers *wake_at (0 =
 * unset) to when otrp__http_async_step() must be called even with no socket ready.
 * otrp__http_async_step(): fd ready with revents (poll flags), or fd -1: time passed.
 * OTRP_ERR_IN_PROGRESS, or the POST's final status with info filled as
 * otrp__http_post() fills it. Never blocks.
 * otrp__http_async_owns(): 1 when fd is one of the sockets of the POST in flight.
 * otrp__http_async_abort(): drop the POST in flight (no effect when none).
 */
struct pollfd;
/* Point the transport at another cancel flag (a transport kept for the next session). */
void otrp__http_set_cancel(otrp__http *t, const volatile int *cancel);
OTRP_NODISCARD otrp_status otrp__http_async_start(otrp__http *t, const char *uri,
                                                  const void *body, size_t body_len,
                                                  otrp_buf *response, otrp__http_result *info);
size_t otrp__http_async_wait(const otrp__http *t, struct pollfd *fds, size_t cap,
                             uint64_t *wake_at);
OTRP_NODISCARD otrp_status otrp__http_async_step(otrp__http *t, int fd, short revents);
int otrp__http_async_owns(const otrp__http *t, int fd);
void otrp__http_async_abort(otrp__http *t);

#endif
