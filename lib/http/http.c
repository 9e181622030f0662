/*
 * The TAM transport on libcurl. See http.h for the contract.
 *
 * The transfer runs on a private multi handle that this transport owns together with its
 * one easy handle: the multi handle keeps the connection cache between POSTs (keep-alive),
 * and driving it ourselves in short poll slices lets the loop see a cancel request or a
 * stalled peer within POLL_SLICE_MS instead of libcurl's one-second idle tick, without a
 * progress callback (which libcurl would call several times per POST).
 */
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <poll.h>
#include <curl/curl.h>

#include "http/http.h"
#include "otrp/version.h"
#include "util/detail.h"
#include "util/mem.h"

/* How long one wait for socket activity or one slice of a backoff lasts: the latency of
 * cancel and stall checks (the deadline is met to the millisecond: the last slice ends
 * on it). */
#define POLL_SLICE_MS 50
/* Backoff between retries grows up to this (a TAM that is down stays down a while). */
#define RETRY_BACKOFF_MAX_MS 8000u
/* A 503 whose Retry-After asks for a longer pause than this is not retried. */
#define RETRY_AFTER_MAX_S 8u
/* Error bodies (non-2xx) are read and dropped so the connection stays reusable, up to
 * this many bytes; a longer one is cut (the connection is then closed). */
#define ERROR_BODY_MAX ((size_t)64 * 1024)
/* libcurl's limit on one response header line (DYN_HTTP_HEADER in 7.x and 8.x); a longer
 * line ends the transfer with CURLE_OUT_OF_MEMORY. */
#define CURL_HEADER_LINE_MAX_KIB 100
/* Digits of a Content-Length value compared; more would not fit a 64-bit curl_off_t. */
#define CONTENT_LENGTH_DIGITS_MAX 18u
/* OpenSSL X509_V_ERR_* values reported by CURLINFO_SSL_VERIFYRESULT (stable ABI). */
#define X509_V_OK_ 0L
#define X509_V_NOT_YET_READ_ 1L /* libcurl's initial certverifyresult, !X509_V_OK */
#define X509_V_ERR_CERT_NOT_YET_VALID_ 9L
#define X509_V_ERR_CERT_HAS_EXPIRED_ 10L
#define X509_V_ERR_HOSTNAME_MISMATCH_ 62L

/* State of the transfer in flight; reset before every attempt. */
struct transfer {
    otrp_buf *response;
    size_t cap;            /* response body limit */
    size_t dropped;        /* bytes of a non-2xx body read and dropped */
    int error_body_cut;    /* a non-2xx body was longer than ERROR_BODY_MAX */
    unsigned retry_after_ms; /* a 503's Retry-After; 0 when absent */
    otrp_status write_status; /* why the write callback refused data */
    int cancelled;         /* the transfer loop saw the cancel flag */
    int stalled;           /* the transfer loop saw no progress for stall_timeout_ms */
    int past_deadline;     /* the transfer loop reached the caller's deadline */
    int head_done;         /* the header callback saw the end of the final head */
    int length_seen;       /* a Content-Length value was seen in this head */
    curl_off_t length;     /* that value */
    curl_off_t length_other; /* the value that disagreed with it (length_conflict) */
    int length_conflict;   /* two Content-Length values differ: the answer is refused */
    int sending;           /* the connection is up: the stall clock runs */
    long body_code;        /* the status code of the body being received; 0 before */
    curl_off_t last_dl, last_ul;
    uint64_t last_progress_ms;
};

/* Sockets libcurl may watch at once for one transfer (happy eyeballs: two connects,
 * plus the threaded resolver's wake-up pair). */
#define ASYNC_SOCKETS_MAX 4

/* A POST driven by the caller's loop: what otrp__http_post() keeps on its stack. */
struct async_post {
    int callbacks_set;      /* CURLMOPT_SOCKETFUNCTION / TIMERFUNCTION installed */
    int active;             /* a POST is under way (transfer or backoff) */
    int in_multi;           /* the easy handle is on the multi handle */
    uint64_t retry_at;      /* backing off until then; 0 = transferring */
    uint64_t curl_timer_at; /* libcurl's timer (CURLMOPT_TIMERFUNCTION); 0 = none */
    const void *body;
    size_t body_len;
    otrp_buf *response;
    size_t cap;
    otrp__http_result *info;
    unsigned backoff;       /* the next backoff without Retry-After */
    uint64_t start;
    size_t nsocks;
    struct {
        curl_socket_t fd;
        int what;           /* CURL_POLL_IN / OUT / INOUT */
    } socks[ASYNC_SOCKETS_MAX];
};

struct otrp__http {
    otrp__http_settings s;
    CURL *easy;
    CURLM *multi;
    struct curl_slist *headers_empty; /* User-Agent, Accept; Content-Type suppressed */
    struct curl_slist *headers_body;  /* User-Agent, Accept, Content-Type; Expect suppressed */
    struct transfer x;
    curl_off_t cap_set; /* the CURLOPT_MAXFILESIZE_LARGE value set last; -1 before */
    char *uri;  /* the URI checked and set on the easy handle last; NULL before */
    uint64_t deadline_ms; /* otrp__http_set_deadline(); 0 = none */
    char errbuf[CURL_ERROR_SIZE];
    struct async_post a;  /* the non-blocking POST (otrp__http_async_*) */
};

/* ---- libcurl global init: reference-counted by libcurl; the lock also covers builds
 * without CURL_VERSION_THREADSAFE, where curl_global_init must not race with itself. */

static pthread_mutex_t curl_global_lock = PTHREAD_MUTEX_INITIALIZER;

static int curl_global_ref(void)
{
    pthread_mutex_lock(&curl_global_lock);
    CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    pthread_mutex_unlock(&curl_global_lock);
    return rc == CURLE_OK;
}

static void curl_global_unref(void)
{
    pthread_mutex_lock(&curl_global_lock);
    curl_global_cleanup();
    pthread_mutex_unlock(&curl_global_lock);
}

/* ---- small helpers ---- */

static char ascii_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

int otrp__http_media_type_is(const char *value, const char *want)
{
    if (value == NULL || want == NULL)
        return 0;
    while (*value == ' ' || *value == '\t')
        value++;
    size_t n = strcspn(value, ";");
    while (n > 0 && (value[n - 1] == ' ' || value[n - 1] == '\t'))
        n--;
    if (n != strlen(want))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (ascii_lower(value[i]) != ascii_lower(want[i]))
            return 0;
    return 1;
}

static int cancel_requested(const otrp__http *t)
{
    return t->s.cancel != NULL && __atomic_load_n(t->s.cancel, __ATOMIC_ACQUIRE) != 0;
}

/*
 * Wait ms before a retry, waking every POLL_SLICE_MS to look at the cancel flag.
 * OTRP_OK after the wait, OTRP_ERR_CANCELLED, or OTRP_ERR_TIMEOUT at once (no wait) when
 * the retry could not start before the deadline: waiting for it would be time lost.
 */
static otrp_status retry_in_time(const otrp__http *t, uint64_t end, unsigned ms, char *detail,
                                 size_t size)
{
    if (t->deadline_ms != 0 && end >= t->deadline_ms)
        return otrp__fail(detail, size, OTRP_ERR_TIMEOUT,
                          "the deadline comes before the retry (due in %u ms)", ms);
    return OTRP_OK;
}

static otrp_status backoff_sleep(const otrp__http *t, unsigned ms, char *detail, size_t size)
{
    uint64_t end = otrp_monotonic_ms() + ms;
    if (retry_in_time(t, end, ms, detail, size) != OTRP_OK)
        return OTRP_ERR_TIMEOUT;
    for (;;) {
        if (cancel_requested(t))
            return otrp__fail(detail, size, OTRP_ERR_CANCELLED, "cancelled while waiting to retry");
        uint64_t now = otrp_monotonic_ms();
        if (now >= end)
            return OTRP_OK;
        uint64_t left = end - now;
        if (left > POLL_SLICE_MS)
            left = POLL_SLICE_MS;
        struct timespec ts = {0, (long)left * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* ---- settings ---- */

void otrp__http_settings_init(otrp__http_settings *s)
{
    memset(s, 0, sizeof *s);
    s->connect_timeout_ms = OTRP__HTTP_DEFAULT_CONNECT_TIMEOUT_MS;
    s->http_timeout_ms = OTRP__HTTP_DEFAULT_TIMEOUT_MS;
    s->stall_timeout_ms = OTRP__HTTP_DEFAULT_STALL_TIMEOUT_MS;
    s->http_retries = OTRP__HTTP_DEFAULT_RETRIES;
    s->retry_backoff_ms = OTRP__HTTP_DEFAULT_RETRY_BACKOFF_MS;
    s->max_message_size = OTRP_DEFAULT_MAX_MESSAGE;
}

void otrp__http_settings_from_config(otrp__http_settings *s, const otrp_agent_config *cfg)
{
    s->allow_http = cfg->allow_http;
    s->ca_file = cfg->ca_file;
    s->ca_blob = cfg->ca_blob;
    s->ca_blob_len = cfg->ca_blob_len;
    s->pinned_keys = cfg->pinned_keys;
    s->connect_timeout_ms = cfg->connect_timeout_ms;
    s->http_timeout_ms = cfg->http_timeout_ms;
    s->stall_timeout_ms = cfg->stall_timeout_ms;
    s->http_retries = cfg->http_retries;
    s->user_agent = cfg->user_agent;
    s->max_message_size = cfg->max_message_size;
    s->proxy = cfg->proxy;
    s->noproxy = cfg->noproxy;
    s->proxy_from_env = cfg->proxy_from_env;
    s->allow_keylog = cfg->allow_keylog;
}

/* Zero means "default" in every numeric setting. */
static void apply_defaults(otrp__http_settings *s)
{
    otrp__http_settings d;
    otrp__http_settings_init(&d);
    if (s->connect_timeout_ms == 0)
        s->connect_timeout_ms = d.connect_timeout_ms;
    if (s->http_timeout_ms == 0)
        s->http_timeout_ms = d.http_timeout_ms;
    if (s->stall_timeout_ms == 0)
        s->stall_timeout_ms = d.stall_timeout_ms;
    if (s->retry_backoff_ms == 0)
        s->retry_backoff_ms = d.retry_backoff_ms;
    if (s->max_message_size == 0)
        s->max_message_size = d.max_message_size;
    if (s->http_retries > OTRP__HTTP_MAX_RETRIES)
        s->http_retries = OTRP__HTTP_MAX_RETRIES;
    if (s->user_agent == NULL)
        s->user_agent = "libotrp/" OTRP_VERSION_STRING;
}

/* ---- URI check ---- */

otrp_status otrp__http_check_uri(const char *uri, int allow_http, char *detail,
                                 size_t detail_size)
{
    return otrp__http_check_uri_bytes(uri, uri != NULL ? strlen(uri) : 0, allow_http, detail,
                                      detail_size);
}

otrp_status otrp__http_check_uri_bytes(const char *uri, size_t len, int allow_http,
                                       char *detail, size_t detail_size)
{
    if (uri == NULL || len == 0) {
        otrp__set_detail(detail, detail_size, "TAM URI is empty");
        return OTRP_ERR_BAD_URI;
    }
    if (len > OTRP__HTTP_URI_MAX) {
        otrp__set_detail(detail, detail_size, "TAM URI of %zu bytes is longer than the %u-byte limit",
                         len, OTRP__HTTP_URI_MAX);
        return OTRP_ERR_BAD_URI;
    }
    const char *nul = memchr(uri, '\0', len);
    if (nul != NULL) {
        /* As a C string it would end there: a prefix of the URI would be used. */
        otrp__set_detail(detail, detail_size, "TAM URI has a NUL byte at offset %zu",
                         (size_t)(nul - uri));
        return OTRP_ERR_BAD_URI;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)uri[i];
        if (c <= 0x20 || c >= 0x7f) {
            otrp__set_detail(detail, detail_size,
                             "TAM URI has a space, control or non-ASCII byte at offset %zu", i);
            return OTRP_ERR_BAD_URI;
        }
    }
    CURLU *u = curl_url();
    if (u == NULL)
        return OTRP_ERR_NO_MEMORY;
    otrp_status st = OTRP_OK;
    char *scheme = NULL, *host = NULL, *user = NULL;
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, uri, CURLU_NON_SUPPORT_SCHEME);
    if (uc != CURLUE_OK) {
        otrp__set_detail(detail, detail_size, "TAM URI malformed: %s", curl_url_strerror(uc));
        st = OTRP_ERR_BAD_URI;
        goto out;
    }
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        (strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0)) {
        char q[OTRP__QUOTE_MAX + 1];
        otrp__quote_str(q, sizeof q, scheme);
        otrp__set_detail(detail, detail_size, "TAM URI scheme '%s' is not http or https", q);
        st = OTRP_ERR_BAD_URI;
        goto out;
    }
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || host[0] == '\0') {
        otrp__set_detail(detail, detail_size, "TAM URI has no host");
        st = OTRP_ERR_BAD_URI;
        goto out;
    }
    if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
        otrp__set_detail(detail, detail_size, "TAM URI carries user information (credentials)");
        st = OTRP_ERR_BAD_URI;
        goto out;
    }
    if (strcmp(scheme, "http") == 0 && !allow_http) {
        otrp__set_detail(detail, detail_size, "TAM URI is plain http and allow_http is not set");
        st = OTRP_ERR_HTTP_INSECURE;
        goto out;
    }
out:
    curl_free(user);
    curl_free(host);
    curl_free(scheme);
    curl_url_cleanup(u);
    return st;
}

/* ---- callbacks ---- */

static size_t on_body(char *data, size_t size, size_t nmemb, void *user)
{
    otrp__http *t = user;
    struct transfer *x = &t->x;
    size_t n = size * nmemb; /* size is always 1 */
    if (x->body_code == 0) /* the headers are complete: the code is final for this body */
        curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &x->body_code);
    long code = x->body_code;
    if (code < 200 || code > 299) {
        if (n > ERROR_BODY_MAX - x->dropped) {
            x->error_body_cut = 1; /* the status code is the answer: stop reading */
            return 0;
        }
        x->dropped += n;
        return n;
    }
    /* The cap is checked here, not by CURLOPT_MAXFILESIZE: that one does not stop a
     * chunked body on libcurl 7.88. */
    if (n > x->cap - x->response->len) {
        x->write_status = OTRP_ERR_TOO_LARGE;
        return 0;
    }
    otrp_status st = otrp_buf_append(x->response, data, n);
    if (st != OTRP_OK) {
        x->write_status = st;
        return 0;
    }
    return n;
}

/* The values of one Content-Length field ("42", or the list "42, 42"): each must agree with
 * every other value of this head. 0 on a disagreement (recorded in x). A value that is not
 * a number is libcurl's to refuse. */
static int content_length_agrees(struct transfer *x, const char *v, const char *end)
{
    while (v < end) {
        while (v < end && (*v == ' ' || *v == '\t' || *v == ','))
            v++;
        if (v == end || *v < '0' || *v > '9')
            return 1;
        curl_off_t n = 0;
        for (unsigned digits = 0; v < end && *v >= '0' && *v <= '9'; v++) {
            if (++digits > CONTENT_LENGTH_DIGITS_MAX)
                return 1; /* libcurl refuses a length this large */
            n = n * 10 + (*v - '0');
        }
        if (x->length_seen && n != x->length) {
            x->length_other = n;
            x->length_conflict = 1;
            return 0;
        }
        x->length_seen = 1;
        x->length = n;
        while (v < end && (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n'))
            v++;
    }
    return 1;
}

static int has_prefix_ci(const char *data, size_t n, const char *prefix)
{
    size_t i = 0;
    for (; prefix[i] != '\0'; i++)
        if (i >= n || ascii_lower(data[i]) != prefix[i])
            return 0;
    return 1;
}

/*
 * One header line of a response, as libcurl hands them (whole lines, CRLF included):
 * counts the Content-Length values of the head and marks its end. libcurl 7.88 takes two
 * differing Content-Length headers and uses one: the body's end would be a guess.
 */
static size_t on_header(char *data, size_t size, size_t nmemb, void *user)
{
    struct transfer *x = &((otrp__http *)user)->x;
    size_t n = size * nmemb; /* size is always 1 */
    static const char field[] = "content-length:";
    if (n >= 5 && memcmp(data, "HTTP/", 5) == 0) { /* a new head (after a 1xx, say) */
        x->head_done = 0;
        x->length_seen = 0;
    } else if (n <= 2 && n > 0 && (data[0] == '\r' || data[0] == '\n')) {
        x->head_done = 1;
    } else if (has_prefix_ci(data, n, field) &&
               !content_length_agrees(x, data + sizeof field - 1, data + n)) {
        return 0; /* libcurl ends the transfer: CURLE_WRITE_ERROR */
    }
    return n;
}

/* The stall clock, read between two rounds of the transfer loop: 1 when no byte has
 * moved for stall_timeout_ms since the request started going out. Checked here rather
 * than in a libcurl progress callback: libcurl calls that on every pass through its
 * state machine, several times per POST, and the transfer loop wakes at least every
 * POLL_SLICE_MS anyway. */
static int stall_expired(otrp__http *t, uint64_t now)
{
    struct transfer *x = &t->x;
    curl_off_t dlnow = 0, ulnow = 0;
    curl_easy_getinfo(t->easy, CURLINFO_SIZE_DOWNLOAD_T, &dlnow);
    curl_easy_getinfo(t->easy, CURLINFO_SIZE_UPLOAD_T, &ulnow);
    if (!x->sending) {
        /* Until the request goes out, the connect timeout is in charge. */
        curl_off_t pre = 0;
        curl_easy_getinfo(t->easy, CURLINFO_PRETRANSFER_TIME_T, &pre);
        if (pre == 0 && ulnow == 0 && dlnow == 0)
            return 0;
        x->sending = 1;
        x->last_progress_ms = now;
    }
    if (dlnow != x->last_dl || ulnow != x->last_ul) {
        x->last_dl = dlnow;
        x->last_ul = ulnow;
        x->last_progress_ms = now;
        return 0;
    }
    return now - x->last_progress_ms >= t->s.stall_timeout_ms;
}

/* ---- transport object ---- */

/* A millisecond setting as the long libcurl takes (long is 32 bits on some targets). */
static long ms_option(unsigned ms)
{
#if UINT_MAX > LONG_MAX
    if (ms > (unsigned)LONG_MAX)
        return LONG_MAX;
#endif
    return (long)ms;
}

static int set_options(otrp__http *t)
{
    const otrp__http_settings *s = &t->s;
    CURL *e = t->easy;
    int ok = 1;
#define SET(opt, val) ok &= curl_easy_setopt(e, opt, val) == CURLE_OK
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_ERRORBUFFER, t->errbuf);
    SET(CURLOPT_PROTOCOLS_STR, s->allow_http ? "http,https" : "https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "https");
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_POST, 1L);
    SET(CURLOPT_CONNECTTIMEOUT_MS, ms_option(s->connect_timeout_ms));
    SET(CURLOPT_TIMEOUT_MS, ms_option(s->http_timeout_ms));
    /* No CURLOPT_LOW_SPEED_*: the transfer loop measures the stall itself
     * (stall_expired()), to the POLL_SLICE_MS; libcurl's check averages over seconds
     * and costs a timer update on every pass of its state machine. */
    SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    SET(CURLOPT_SSL_VERIFYPEER, 1L);
    SET(CURLOPT_SSL_VERIFYHOST, 2L);
    if (s->ca_blob != NULL) {
        struct curl_blob blob;
        /* libcurl copies the blob (CURL_BLOB_COPY) and never writes it. */
        blob.data = (void *)(uintptr_t)s->ca_blob;
        blob.len = s->ca_blob_len;
        blob.flags = CURL_BLOB_COPY;
        SET(CURLOPT_CAINFO_BLOB, &blob);
    }
    if (s->ca_blob != NULL || s->ca_file != NULL) {
        /* A configured CA replaces the system store; it does not add to it. */
        SET(CURLOPT_CAINFO, s->ca_blob != NULL ? NULL : s->ca_file);
        SET(CURLOPT_CAPATH, (char *)NULL);
    }
    if (s->pinned_keys != NULL)
        SET(CURLOPT_PINNEDPUBLICKEY, s->pinned_keys);
    /* The environment picks no proxy: left unset, CURLOPT_PROXY makes libcurl read
     * https_proxy, HTTPS_PROXY, http_proxy, ALL_PROXY, and CURLOPT_NOPROXY makes it read
     * NO_PROXY even for a configured proxy; "" stands for "none" in both. */
    if (s->proxy != NULL || !s->proxy_from_env)
        SET(CURLOPT_PROXY, s->proxy != NULL ? s->proxy : "");
    if (s->noproxy != NULL || !s->proxy_from_env)
        SET(CURLOPT_NOPROXY, s->noproxy != NULL ? s->noproxy : "");
    /* The User-Agent goes in the header lists (built once) rather than through
     * CURLOPT_USERAGENT, which libcurl formats into a new string for every request. */
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, t);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, t);
    SET(CURLOPT_NOPROGRESS, 1L);
#undef SET
    return ok;
}

/* Append one line to a header list; 0 when out of memory (the list stays whole). */
static int append_header(struct curl_slist **list, const char *line)
{
    struct curl_slist *l = curl_slist_append(*list, line);
    if (l == NULL)
        return 0;
    *list = l;
    return 1;
}

int otrp__http_user_agent_ok(const char *ua)
{
    if (ua == NULL || ua[0] == '\0')
        return 1;
    size_t n = strnlen(ua, OTRP__HTTP_USER_AGENT_MAX + 1);
    if (n > OTRP__HTTP_USER_AGENT_MAX || ua[0] == ' ')
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)ua[i] < 0x20 || (unsigned char)ua[i] > 0x7e)
            return 0; /* a CR or LF would start another header */
    return 1;
}

/* The two header lists, built once: one for the empty first POST, one for a POST with a
 * body. "Name:" with no value removes a header libcurl would add by itself: the form
 * Content-Type of a POST, and "Expect: 100-continue" before a body over 1 MiB (the TAM
 * would have to answer 100 first: a round trip for nothing). */
static int build_headers(otrp__http *t)
{
    char ua[sizeof "User-Agent: " + OTRP__HTTP_USER_AGENT_MAX];
    const char *ua_line = NULL;
    if (t->s.user_agent[0] != '\0') {
        (void)snprintf(ua, sizeof ua, "User-Agent: %s", t->s.user_agent);
        ua_line = ua;
    }
    static const char *const empty[] = {"Accept: " OTRP__HTTP_MEDIA_TYPE, "Content-Type:"};
    static const char *const body[] = {"Accept: " OTRP__HTTP_MEDIA_TYPE,
                                       "Content-Type: " OTRP__HTTP_MEDIA_TYPE, "Expect:"};
    struct {
        struct curl_slist **list;
        const char *const *lines;
        size_t n;
    } build[] = {{&t->headers_empty, empty, sizeof empty / sizeof empty[0]},
                 {&t->headers_body, body, sizeof body / sizeof body[0]}};
    for (size_t b = 0; b < sizeof build / sizeof build[0]; b++) {
        if (ua_line != NULL && !append_header(build[b].list, ua_line))
            return 0;
        for (size_t i = 0; i < build[b].n; i++)
            if (!append_header(build[b].list, build[b].lines[i]))
                return 0;
    }
    return 1;
}

otrp_status otrp__http_new(const otrp__http_settings *settings, otrp__http **out)
{
    if (settings == NULL || out == NULL)
        return OTRP_ERR_INVALID_ARG;
    *out = NULL;
    otrp_status checked = otrp__http_settings_check(settings, NULL, 0);
    if (checked != OTRP_OK)
        return checked;
    /* Before curl_global_init(): that is when libcurl opens the key log file. */
    checked = otrp__http_keylog_check(settings->allow_keylog, NULL, 0);
    if (checked != OTRP_OK)
        return checked;
    if (!curl_global_ref())
        return OTRP_ERR_INTERNAL;
    otrp__http *t = calloc(1, sizeof *t);
    if (t == NULL) {
        curl_global_unref();
        return OTRP_ERR_NO_MEMORY;
    }
    t->s = *settings;
    apply_defaults(&t->s);
    t->cap_set = -1;
    otrp_status st = OTRP_ERR_NO_MEMORY;
    t->easy = curl_easy_init();
    t->multi = curl_multi_init();
    if (t->easy == NULL || t->multi == NULL)
        goto fail;
    if (!build_headers(t))
        goto fail;
    if (!set_options(t)) {
        st = OTRP_ERR_INTERNAL;
        goto fail;
    }
    *out = t;
    return OTRP_OK;
fail:
    otrp__http_free(t);
    return st;
}

void otrp__http_free(otrp__http *t)
{
    if (t == NULL)
        return;
    if (t->a.in_multi)
        curl_multi_remove_handle(t->multi, t->easy);
    if (t->easy != NULL)
        curl_easy_cleanup(t->easy);
    if (t->multi != NULL)
        curl_multi_cleanup(t->multi); /* closes the cached connection */
    curl_slist_free_all(t->headers_empty);
    curl_slist_free_all(t->headers_body);
    free(t->uri);
    free(t);
    curl_global_unref();
}

/* ---- one attempt ---- */

/* Between two rounds of a transfer: 1 (and the reason recorded in t->x) when it must
 * stop because the stall clock or the deadline ran out. */
static int transfer_must_stop(otrp__http *t, uint64_t now)
{
    if (stall_expired(t, now)) {
        t->x.stalled = 1;
        return 1;
    }
    if (t->deadline_ms != 0 && now >= t->deadline_ms) {
        t->x.past_deadline = 1;
        return 1;
    }
    return 0;
}

/* Drive the transfer on the private multi handle; the CURLcode of the easy handle. */
static CURLcode run_transfer(otrp__http *t)
{
    if (curl_multi_add_handle(t->multi, t->easy) != CURLM_OK)
        return CURLE_FAILED_INIT;
    CURLcode result = CURLE_FAILED_INIT;
    int done = 0;
    while (!done) {
        if (cancel_requested(t)) {
            t->x.cancelled = 1;
            result = CURLE_ABORTED_BY_CALLBACK;
            break;
        }
        int running = 0;
        if (curl_multi_perform(t->multi, &running) != CURLM_OK)
            break;
        CURLMsg *msg;
        int queued;
        while ((msg = curl_multi_info_read(t->multi, &queued)) != NULL) {
            if (msg->msg == CURLMSG_DONE && msg->easy_handle == t->easy) {
                result = msg->data.result;
                done = 1;
            }
        }
        if (done || running == 0)
            break;
        uint64_t now = otrp_monotonic_ms(); /* once per round: stall clock and deadline */
        if (transfer_must_stop(t, now)) {
            result = CURLE_ABORTED_BY_CALLBACK;
            break;
        }
        int wait_ms = POLL_SLICE_MS;
        if (t->deadline_ms != 0 && t->deadline_ms - now < POLL_SLICE_MS)
            wait_ms = (int)(t->deadline_ms - now);
        if (curl_multi_poll(t->multi, NULL, 0, wait_ms, NULL) != CURLM_OK)
            break;
    }
    curl_multi_remove_handle(t->multi, t->easy);
    return result;
}

static otrp_status map_tls_verify_failure(otrp__http *t, char *detail, size_t size)
{
    long verify = -1;
    curl_easy_getinfo(t->easy, CURLINFO_SSL_VERIFYRESULT, &verify);
    if (verify == X509_V_ERR_CERT_HAS_EXPIRED_ || verify == X509_V_ERR_CERT_NOT_YET_VALID_) {
        otrp__set_detail(detail, size, "TAM certificate outside its validity period: %s",
                         t->errbuf);
        return OTRP_ERR_CERT_EXPIRED;
    }
    /*
     * With verification on, OpenSSL fails the handshake itself on a bad chain and libcurl
     * then reports the chain's verify result. A failure after the handshake is libcurl's
     * own host name check, which runs before the verify result is read: the result is
     * then still libcurl's "not checked yet" marker (!X509_V_OK, i.e. 1), or 0 / 62.
     */
    if (verify == X509_V_ERR_HOSTNAME_MISMATCH_ || verify == X509_V_OK_ ||
        verify == X509_V_NOT_YET_READ_) {
        otrp__set_detail(detail, size, "TAM certificate does not match the host: %s", t->errbuf);
        return OTRP_ERR_TLS_HOSTNAME;
    }
    otrp__set_detail(detail, size, "TAM certificate not trusted (verify result %ld): %s", verify,
                     t->errbuf);
    return OTRP_ERR_TLS_CERT;
}

static otrp_status map_curl_error(otrp__http *t, CURLcode rc, int *retry, char *detail,
                                  size_t size)
{
    const struct transfer *x = &t->x;
    if (t->errbuf[0] == '\0')
        snprintf(t->errbuf, sizeof t->errbuf, "%s", curl_easy_strerror(rc));
    /* libcurl's text may carry the TAM's (the subject of its certificate) */
    char quoted[sizeof t->errbuf];
    otrp__quote_str(quoted, sizeof quoted, t->errbuf);
    memcpy(t->errbuf, quoted, sizeof quoted);
    switch (rc) {
    case CURLE_ABORTED_BY_CALLBACK:
        if (x->cancelled) {
            otrp__set_detail(detail, size, "cancelled during the HTTP exchange");
            return OTRP_ERR_CANCELLED;
        }
        if (x->stalled) {
            otrp__set_detail(detail, size, "TAM connection stalled: no byte moved for %u ms",
                             t->s.stall_timeout_ms);
            return OTRP_ERR_TIMEOUT;
        }
        if (x->past_deadline) {
            otrp__set_detail(detail, size, "the deadline came during the HTTP exchange");
            return OTRP_ERR_TIMEOUT;
        }
        break;
    case CURLE_WRITE_ERROR:
        if (x->length_conflict) {
            otrp__set_detail(detail, size,
                             "TAM response has Content-Length values that differ (%lld and %lld)",
                             (long long)x->length, (long long)x->length_other);
            return OTRP_ERR_HTTP_PROTOCOL;
        }
        if (x->write_status == OTRP_ERR_TOO_LARGE) {
            otrp__set_detail(detail, size, "TAM response body exceeds the limit of %zu bytes",
                             x->cap);
            return OTRP_ERR_TOO_LARGE;
        }
        if (x->write_status != OTRP_OK) {
            otrp__set_detail(detail, size, "cannot store the TAM response");
            return x->write_status;
        }
        break;
    case CURLE_FILESIZE_EXCEEDED: {
        /* libcurl refuses the Content-Length header before it stores the value. */
        otrp__set_detail(detail, size, "TAM response Content-Length exceeds the limit of %zu bytes",
                         x->cap);
        return OTRP_ERR_TOO_LARGE;
    }
    case CURLE_OPERATION_TIMEDOUT: {
        curl_off_t pre = 0;
        curl_easy_getinfo(t->easy, CURLINFO_PRETRANSFER_TIME_T, &pre);
        if (pre == 0)
            otrp__set_detail(detail, size, "connect timeout (%u ms): %s", t->s.connect_timeout_ms,
                             t->errbuf);
        else
            otrp__set_detail(detail, size, "HTTP exchange timeout (%u ms): %s",
                             t->s.http_timeout_ms, t->errbuf);
        return OTRP_ERR_TIMEOUT;
    }
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
        *retry = 1; /* nothing was sent */
        otrp__set_detail(detail, size, "cannot connect to the TAM: %s", t->errbuf);
        return OTRP_ERR_HTTP_CONNECT;
    case CURLE_PEER_FAILED_VERIFICATION:
        return map_tls_verify_failure(t, detail, size);
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        otrp__set_detail(detail, size, "TAM public key matches no pinned key: %s", t->errbuf);
        return OTRP_ERR_TLS_PIN;
    case CURLE_SSL_CACERT_BADFILE:
        otrp__set_detail(detail, size, "cannot load the CA certificates: %s", t->errbuf);
        return OTRP_ERR_CONFIG;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_USE_SSL_FAILED:
        otrp__set_detail(detail, size, "TLS handshake with the TAM failed: %s", t->errbuf);
        return OTRP_ERR_TLS;
    case CURLE_URL_MALFORMAT:
        otrp__set_detail(detail, size, "TAM URI refused by libcurl: %s", t->errbuf);
        return OTRP_ERR_BAD_URI;
    case CURLE_UNSUPPORTED_PROTOCOL:
        /* The scheme was checked before: this is an answer that is not HTTP at all
         * ("Received HTTP/0.9 when not allowed"): the protocol error below. */
        break;
    case CURLE_OUT_OF_MEMORY: {
        /* While a head arrives, this is libcurl refusing a header line over its limit:
         * the answer is malformed, the device is not short of memory. */
        curl_off_t pre = 0;
        curl_easy_getinfo(t->easy, CURLINFO_PRETRANSFER_TIME_T, &pre);
        if (pre > 0 && !x->head_done) {
            otrp__set_detail(detail, size,
                             "TAM response has a header line longer than libcurl's limit of "
                             "%d KiB",
                             CURL_HEADER_LINE_MAX_KIB);
            return OTRP_ERR_HTTP_PROTOCOL;
        }
        otrp__set_detail(detail, size, "out of memory in libcurl");
        return OTRP_ERR_NO_MEMORY;
    }
    case CURLE_FAILED_INIT:
        otrp__set_detail(detail, size, "libcurl transfer could not run");
        return OTRP_ERR_INTERNAL;
    default:
        break;
    }
    otrp__set_detail(detail, size, "HTTP exchange with the TAM failed (curl %d): %s", (int)rc,
                     t->errbuf);
    return OTRP_ERR_HTTP_PROTOCOL;
}

/* Judge a completed exchange by its status code and media type. */
static otrp_status judge_response(otrp__http *t, long code, int *retry, char *detail,
                                  size_t size)
{
    otrp_buf *resp = t->x.response;
    char q[OTRP__QUOTE_MAX + 1];
    if (code >= 200 && code <= 299) {
        if (resp->len == 0)
            return OTRP_OK; /* the TAM has nothing more */
        char *ct = NULL;
        curl_easy_getinfo(t->easy, CURLINFO_CONTENT_TYPE, &ct);
        if (otrp__http_media_type_is(ct, OTRP__HTTP_MEDIA_TYPE))
            return OTRP_OK;
        otrp__quote_str(q, sizeof q, ct);
        otrp__set_detail(detail, size, "TAM answered HTTP %ld with media type '%s', not %s", code,
                         ct == NULL ? "(none)" : q, OTRP__HTTP_MEDIA_TYPE);
        return OTRP_ERR_HTTP_CONTENT_TYPE;
    }
    if (code >= 300 && code <= 399) {
        char *location = NULL;
        curl_easy_getinfo(t->easy, CURLINFO_REDIRECT_URL, &location);
        otrp__quote_str(q, sizeof q, location);
        otrp__set_detail(detail, size, "TAM answered HTTP %ld redirect to '%s' (not followed)",
                         code, location == NULL ? "(no Location)" : q);
        return OTRP_ERR_HTTP_REDIRECT;
    }
    if (code == 503) {
        /* The TAM said it did not process the request: safe to send it again, after the
         * pause it asks for (Retry-After) when that is short enough to wait for. */
        curl_off_t after = 0;
        curl_easy_getinfo(t->easy, CURLINFO_RETRY_AFTER, &after);
        /* An HTTP-date in the past (the TAM's clock a little ahead of ours) comes as a
         * negative delay: no pause asked for, the usual backoff applies. */
        if (after < 0)
            after = 0;
        if (after > RETRY_AFTER_MAX_S) {
            otrp__set_detail(detail, size,
                             "TAM answered HTTP status 503 and asks to retry after %lld s "
                             "(more than the %u s this transport waits)",
                             (long long)after, RETRY_AFTER_MAX_S);
            return OTRP_ERR_HTTP_STATUS;
        }
        t->x.retry_after_ms = (unsigned)after * 1000u;
        *retry = 1;
    }
    otrp__set_detail(detail, size, "TAM answered HTTP status %ld", code);
    return OTRP_ERR_HTTP_STATUS;
}

/* Set up one attempt: the transfer state and the body's options. */
static otrp_status attempt_prepare(otrp__http *t, const void *body, size_t body_len,
                                   otrp_buf *response, size_t cap, otrp__http_result *info)
{
    memset(&t->x, 0, sizeof t->x);
    t->x.response = response;
    t->x.cap = cap;
    t->x.write_status = OTRP_OK;
    t->errbuf[0] = '\0';
    otrp_buf_reset(response);
    int ok = 1;
    ok &= curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len) ==
          CURLE_OK;
    /* Not copied by libcurl: body outlives the transfer (it is the caller's). */
    ok &= curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, body_len > 0 ? body : "") ==
          CURLE_OK;
    ok &= curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER,
                           body_len > 0 ? t->headers_body : t->headers_empty) == CURLE_OK;
    if ((curl_off_t)cap != t->cap_set) {
        ok &= curl_easy_setopt(t->easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)cap) == CURLE_OK;
        t->cap_set = ok ? (curl_off_t)cap : -1;
    }
    if (!ok) {
        otrp__set_detail(info->detail, sizeof info->detail, "libcurl refused an option");
        return OTRP_ERR_INTERNAL;
    }
    return OTRP_OK;
}

/* Judge one finished attempt (rc: the transfer's CURLcode) and count its figures. */
static otrp_status attempt_finish(otrp__http *t, CURLcode rc, otrp_buf *response,
                                  otrp__http_result *info, int *retry)
{
    long code = 0, connects = 0;
    curl_off_t up = 0, down = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(t->easy, CURLINFO_NUM_CONNECTS, &connects);
    curl_easy_getinfo(t->easy, CURLINFO_SIZE_UPLOAD_T, &up);
    curl_easy_getinfo(t->easy, CURLINFO_SIZE_DOWNLOAD_T, &down);
    info->http_code = code;
    info->new_connections += connects > 0 ? (unsigned)connects : 0u;
    info->bytes_sent += up > 0 ? (uint64_t)up : 0u;
    info->bytes_received += down > 0 ? (uint64_t)down : 0u;

    /* A long error body is cut on purpose (or refused by its Content-Length): judge the
     * exchange by its status code, which is the answer. */
    int error_code = code != 0 && (code < 200 || code > 299);
    int judge = rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && t->x.error_body_cut) ||
                (rc == CURLE_FILESIZE_EXCEEDED && error_code);
    otrp_status st = judge
                         ? judge_response(t, code, retry, info->detail, sizeof info->detail)
                         : map_curl_error(t, rc, retry, info->detail, sizeof info->detail);
    if (st != OTRP_OK)
        otrp_buf_reset(response); /* a failed exchange yields no message */
    return st;
}

static otrp_status post_once(otrp__http *t, const void *body,
                             size_t body_len, otrp_buf *response, size_t cap,
                             otrp__http_result *info, int *retry)
{
    otrp_status st = attempt_prepare(t, body, body_len, response, cap, info);
    if (st != OTRP_OK)
        return st;
    return attempt_finish(t, run_transfer(t), response, info, retry);
}

void otrp__http_set_deadline(otrp__http *t, uint64_t deadline_ms)
{
    t->deadline_ms = deadline_ms;
}

int otrp__http_uri_is_current(const otrp__http *t, const char *uri)
{
    return t != NULL && uri != NULL && t->uri != NULL && strcmp(uri, t->uri) == 0;
}

/* Check uri and set it on the handle, unless it is the one of the previous POST (a
 * session POSTs to one URI: neither check nor libcurl's parse is repeated). */
static otrp_status use_uri(otrp__http *t, const char *uri, otrp__http_result *info)
{
    if (otrp__http_uri_is_current(t, uri))
        return OTRP_OK;
    otrp_status st = otrp__http_check_uri(uri, t->s.allow_http, info->detail,
                                          sizeof info->detail);
    if (st != OTRP_OK)
        return st;
    free(t->uri);
    t->uri = otrp__strndup(uri, strlen(uri));
    if (t->uri == NULL) {
        otrp__set_detail(info->detail, sizeof info->detail, "out of memory");
        return OTRP_ERR_NO_MEMORY;
    }
    if (curl_easy_setopt(t->easy, CURLOPT_URL, uri) != CURLE_OK) {
        free(t->uri);
        t->uri = NULL;
        otrp__set_detail(info->detail, sizeof info->detail, "libcurl refused the URI");
        return OTRP_ERR_INTERNAL;
    }
    return OTRP_OK;
}

/* The checks before any network activity, shared by the blocking and the non-blocking
 * POST; *cap gets the response body limit. */
static otrp_status post_checks(otrp__http *t, const char *uri, const void *body,
                               size_t body_len, otrp_buf *response, otrp__http_result *info,
                               size_t *cap)
{
    memset(info, 0, sizeof *info);
    if (t == NULL || response == NULL || (body == NULL && body_len > 0)) {
        otrp__set_detail(info->detail, sizeof info->detail, "invalid argument to the transport");
        return OTRP_ERR_INVALID_ARG;
    }
    /* The response is reset before sending: a body inside it would be clobbered. */
    uintptr_t b = (uintptr_t)body, r = (uintptr_t)response->data;
    if (body_len > 0 && response->data != NULL && b >= r && b < r + response->cap) {
        otrp__set_detail(info->detail, sizeof info->detail,
                         "request body lies in the response buffer");
        return OTRP_ERR_INVALID_ARG;
    }
    otrp_status st = otrp__http_keylog_check(t->s.allow_keylog, info->detail, sizeof info->detail);
    if (st != OTRP_OK)
        return st;
    st = use_uri(t, uri, info);
    if (st != OTRP_OK)
        return st;
    if (t->deadline_ms != 0 && otrp_monotonic_ms() >= t->deadline_ms) {
        info->deadline_reached = 1;
        return otrp__fail(info->detail, sizeof info->detail, OTRP_ERR_TIMEOUT,
                          "the deadline came before the HTTP exchange");
    }
    *cap = t->s.max_message_size;
    if (response->max != 0 && response->max < *cap)
        *cap = response->max;
    return OTRP_OK;
}

/* The pause before the next attempt: Retry-After when the TAM gave one, else the
 * doubling backoff (advanced here). */
static unsigned next_pause(otrp__http *t, unsigned *backoff)
{
    unsigned ms = t->x.retry_after_ms > 0 ? t->x.retry_after_ms : *backoff;
    *backoff = *backoff >= RETRY_BACKOFF_MAX_MS / 2 ? RETRY_BACKOFF_MAX_MS : *backoff * 2;
    return ms;
}

/* Append the attempt count to the detail of a POST that failed after retries. */
static void note_attempts(otrp_status st, otrp__http_result *info)
{
    if (st != OTRP_OK && info->attempts > 1) {
        size_t n = strlen(info->detail);
        otrp__set_detail(info->detail + n, sizeof info->detail - n, " (after %u attempts)",
                         info->attempts);
    }
}

/* Keep what the attempt got, so the detail says why there was a retry, then why not. */
static void append_why(otrp__http_result *info, const char *why)
{
    size_t n = strlen(info->detail);
    otrp__set_detail(info->detail + n, sizeof info->detail - n, "; %s", why);
}

otrp_status otrp__http_post(otrp__http *t, const char *uri, const void *body,
                            size_t body_len, otrp_buf *response, otrp__http_result *info)
{
    otrp__http_result scratch;
    if (info == NULL)
        info = &scratch;
    uint64_t start = otrp_monotonic_ms();
    size_t cap = 0;
    otrp_status st = post_checks(t, uri, body, body_len, response, info, &cap);
    if (st != OTRP_OK)
        return st;

    unsigned backoff = t->s.retry_backoff_ms;
    for (;;) {
        int retry = 0;
        info->attempts++;
        info->detail[0] = '\0';
        st = post_once(t, body, body_len, response, cap, info, &retry);
        info->deadline_reached = t->x.past_deadline;
        if (st == OTRP_OK || !retry || info->attempts > t->s.http_retries)
            break;
        char why[OTRP__HTTP_DETAIL_MAX];
        otrp_status wst = backoff_sleep(t, next_pause(t, &backoff), why, sizeof why);
        if (wst != OTRP_OK) {
            info->deadline_reached = wst == OTRP_ERR_TIMEOUT;
            append_why(info, why);
            st = wst;
            break;
        }
    }
    note_attempts(st, info);
    info->duration_ms = otrp_monotonic_ms() - start;
    return st;
}

/* ---- the non-blocking POST ---- */

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *user, void *socketp)
{
    (void)easy;
    (void)socketp;
    struct async_post *a = user;
    size_t i = 0;
    while (i < a->nsocks && a->socks[i].fd != fd)
        i++;
    if (what == CURL_POLL_REMOVE) {
        if (i < a->nsocks)
            a->socks[i] = a->socks[--a->nsocks];
        return 0;
    }
    if (i == a->nsocks) {
        if (a->nsocks == ASYNC_SOCKETS_MAX)
            return -1; /* libcurl fails the transfer: more sockets than one POST uses */
        a->nsocks++;
    }
    a->socks[i].fd = fd;
    a->socks[i].what = what;
    return 0;
}

static int on_timer(CURLM *multi, long timeout_ms, void *user)
{
    (void)multi;
    struct async_post *a = user;
    a->curl_timer_at = timeout_ms < 0 ? 0 : otrp_monotonic_ms() + (uint64_t)timeout_ms;
    return 0;
}

/* Start one attempt of the POST in flight: on the multi handle, libcurl's timer due. */
static otrp_status async_attempt(otrp__http *t)
{
    struct async_post *a = &t->a;
    a->info->attempts++;
    a->info->detail[0] = '\0';
    a->retry_at = 0;
    otrp_status st = attempt_prepare(t, a->body, a->body_len, a->response, a->cap, a->info);
    if (st != OTRP_OK)
        return st;
    if (curl_multi_add_handle(t->multi, t->easy) != CURLM_OK) {
        otrp__set_detail(a->info->detail, sizeof a->info->detail,
                         "libcurl transfer could not run");
        return OTRP_ERR_INTERNAL;
    }
    a->in_multi = 1;
    return OTRP_ERR_IN_PROGRESS;
}

static void async_detach(otrp__http *t)
{
    if (t->a.in_multi)
        curl_multi_remove_handle(t->multi, t->easy);
    t->a.in_multi = 0;
    t->a.nsocks = 0;
    t->a.curl_timer_at = 0;
}

/* The POST in flight ends with st. */
static otrp_status async_end(otrp__http *t, otrp_status st)
{
    struct async_post *a = &t->a;
    async_detach(t);
    a->active = 0;
    a->retry_at = 0;
    note_attempts(st, a->info);
    a->info->duration_ms = otrp_monotonic_ms() - a->start;
    return st;
}

otrp_status otrp__http_async_start(otrp__http *t, const char *uri, const void *body,
                                   size_t body_len, otrp_buf *response, otrp__http_result *info)
{
    if (t == NULL || info == NULL || t->a.active)
        return OTRP_ERR_INVALID_ARG;
    struct async_post *a = &t->a;
    if (!a->callbacks_set) {
        int ok = curl_multi_setopt(t->multi, CURLMOPT_SOCKETFUNCTION, on_socket) == CURLM_OK;
        ok &= curl_multi_setopt(t->multi, CURLMOPT_SOCKETDATA, a) == CURLM_OK;
        ok &= curl_multi_setopt(t->multi, CURLMOPT_TIMERFUNCTION, on_timer) == CURLM_OK;
        ok &= curl_multi_setopt(t->multi, CURLMOPT_TIMERDATA, a) == CURLM_OK;
        if (!ok) {
            memset(info, 0, sizeof *info);
            otrp__set_detail(info->detail, sizeof info->detail, "libcurl refused an option");
            return OTRP_ERR_INTERNAL;
        }
        a->callbacks_set = 1;
    }
    a->start = otrp_monotonic_ms();
    size_t cap = 0;
    otrp_status st = post_checks(t, uri, body, body_len, response, info, &cap);
    if (st != OTRP_OK)
        return st;
    a->active = 1;
    a->body = body;
    a->body_len = body_len;
    a->response = response;
    a->cap = cap;
    a->info = info;
    a->backoff = t->s.retry_backoff_ms;
    st = async_attempt(t);
    return st == OTRP_ERR_IN_PROGRESS ? st : async_end(t, st);
}

size_t otrp__http_async_wait(const otrp__http *t, struct pollfd *fds, size_t cap,
                             uint64_t *wake_at)
{
    const struct async_post *a = &t->a;
    if (!a->active)
        return 0;
    uint64_t at;
    if (a->retry_at != 0) {
        at = a->retry_at;
    } else {
        /* The stall clock and the cancel flag are looked at every POLL_SLICE_MS, as in
         * the blocking transfer loop. */
        at = otrp_monotonic_ms() + POLL_SLICE_MS;
        if (a->curl_timer_at != 0 && a->curl_timer_at < at)
            at = a->curl_timer_at;
    }
    if (t->deadline_ms != 0 && t->deadline_ms < at)
        at = t->deadline_ms;
    if (*wake_at == 0 || at < *wake_at)
        *wake_at = at;
    size_t n = a->retry_at != 0 ? 0 : a->nsocks;
    for (size_t i = 0; i < n && i < cap; i++) {
        fds[i].fd = a->socks[i].fd;
        fds[i].events = (short)(((a->socks[i].what & CURL_POLL_IN) ? POLLIN : 0) |
                                ((a->socks[i].what & CURL_POLL_OUT) ? POLLOUT : 0));
        fds[i].revents = 0;
    }
    return n;
}

int otrp__http_async_owns(const otrp__http *t, int fd)
{
    for (size_t i = 0; t->a.active && t->a.retry_at == 0 && i < t->a.nsocks; i++)
        if (t->a.socks[i].fd == fd)
            return 1;
    return 0;
}

/* The attempt that just ended with rc: the POST's end, or a retry after a pause. */
static otrp_status async_attempt_done(otrp__http *t, CURLcode rc)
{
    struct async_post *a = &t->a;
    async_detach(t);
    int retry = 0;
    otrp_status st = attempt_finish(t, rc, a->response, a->info, &retry);
    a->info->deadline_reached = t->x.past_deadline;
    if (st == OTRP_OK || !retry || a->info->attempts > t->s.http_retries)
        return async_end(t, st);
    unsigned ms = next_pause(t, &a->backoff);
    char why[OTRP__HTTP_DETAIL_MAX];
    uint64_t at = otrp_monotonic_ms() + ms;
    if (retry_in_time(t, at, ms, why, sizeof why) != OTRP_OK) {
        a->info->deadline_reached = 1;
        append_why(a->info, why);
        return async_end(t, OTRP_ERR_TIMEOUT);
    }
    a->retry_at = at;
    return OTRP_ERR_IN_PROGRESS;
}

otrp_status otrp__http_async_step(otrp__http *t, int fd, short revents)
{
    struct async_post *a = &t->a;
    if (!a->active)
        return OTRP_ERR_INVALID_ARG;
    uint64_t now = otrp_monotonic_ms();
    if (a->retry_at != 0) {
        if (cancel_requested(t)) {
            append_why(a->info, "cancelled while waiting to retry");
            return async_end(t, OTRP_ERR_CANCELLED);
        }
        if (now < a->retry_at)
            return OTRP_ERR_IN_PROGRESS;
        otrp_status st = async_attempt(t);
        return st == OTRP_ERR_IN_PROGRESS ? st : async_end(t, st);
    }
    int running = 0;
    if (fd >= 0) {
        int ev = ((revents & POLLIN) ? CURL_CSELECT_IN : 0) |
                 ((revents & POLLOUT) ? CURL_CSELECT_OUT : 0) |
                 ((revents & (POLLERR | POLLHUP | POLLNVAL)) ? CURL_CSELECT_ERR : 0);
        (void)curl_multi_socket_action(t->multi, (curl_socket_t)fd, ev, &running);
    } else if (a->curl_timer_at != 0 && now >= a->curl_timer_at) {
        a->curl_timer_at = 0;
        (void)curl_multi_socket_action(t->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
    CURLMsg *msg;
    int queued;
    while ((msg = curl_multi_info_read(t->multi, &queued)) != NULL) {
        if (msg->msg == CURLMSG_DONE && msg->easy_handle == t->easy)
            return async_attempt_done(t, msg->data.result);
    }
    if (cancel_requested(t)) {
        t->x.cancelled = 1;
        return async_attempt_done(t, CURLE_ABORTED_BY_CALLBACK);
    }
    if (transfer_must_stop(t, otrp_monotonic_ms()))
        return async_attempt_done(t, CURLE_ABORTED_BY_CALLBACK);
    return OTRP_ERR_IN_PROGRESS;
}

void otrp__http_set_cancel(otrp__http *t, const volatile int *cancel)
{
    t->s.cancel = cancel;
}

void otrp__http_async_abort(otrp__http *t)
{
    if (t != NULL && t->a.active)
        (void)async_end(t, OTRP_ERR_CANCELLED);
}
