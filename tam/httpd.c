/* The TAM's HTTP(S) front end on libmicrohttpd; see reftam.h, "httpd.c". */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#include "http/http.h"
#include "reftam.h"

/* Requests recorded per server; later ones are answered but not recorded. */
#define HTTPD_MAX_RECORDS 256
/* Largest request body accepted; a longer one gets 413 (a test server, not a sink). */
#define HTTPD_REQUEST_BODY_MAX ((size_t)4 * 1024 * 1024)
/* An idle client connection is closed after this many seconds (unless configured). */
#define HTTPD_CONNECTION_TIMEOUT_S 30u
/* Block size libmicrohttpd asks streamed bodies for. */
#define HTTPD_STREAM_BLOCK 4096

struct reftam_httpd {
    struct MHD_Daemon *daemon;
    reftam_httpd_config cfg;
    unsigned short port;
    char url[64];

    pthread_mutex_t lock;     /* everything below */
    pthread_cond_t wake;      /* signalled when stopping */
    int stopping;
    unsigned connections;
    unsigned requests;
    reftam_httpd_entry *records; /* HTTPD_MAX_RECORDS */
};

/* Per-request state, from the first call of the access handler to NOTIFY_COMPLETED. */
struct req_state {
    char *body;
    size_t len;
    size_t cap;
    int too_large;
};

/* A streamed response's context as libmicrohttpd sees it. */
struct stream {
    reftam_httpd *srv;
    reftam_httpd_reader reader;
    void *ctx;
    void (*ctx_free)(void *ctx);
};

int reftam_httpd_sleep(reftam_httpd *srv, unsigned ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000u;
    until.tv_nsec += (long)(ms % 1000u) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&srv->lock);
    while (!srv->stopping) {
        if (pthread_cond_timedwait(&srv->wake, &srv->lock, &until) == ETIMEDOUT)
            break;
    }
    int alive = !srv->stopping;
    pthread_mutex_unlock(&srv->lock);
    return alive;
}

static void notify_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                              enum MHD_ConnectionNotificationCode code)
{
    (void)conn;
    reftam_httpd *srv = cls;
    if (code != MHD_CONNECTION_NOTIFY_STARTED)
        return;
    pthread_mutex_lock(&srv->lock);
    unsigned id = ++srv->connections;
    pthread_mutex_unlock(&srv->lock);
    *socket_context = (void *)(uintptr_t)id;
}

static void notify_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                             enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    struct req_state *rs = *con_cls;
    if (rs != NULL) {
        free(rs->body);
        free(rs);
        *con_cls = NULL;
    }
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct stream *s = cls;
    ssize_t n = s->reader(s->ctx, s->srv, pos, buf, max);
    if (n == REFTAM_BODY_END)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (n < 0 || n == 0)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    return n;
}

static void stream_free(void *cls)
{
    struct stream *s = cls;
    if (s->ctx_free != NULL)
        s->ctx_free(s->ctx);
    free(s);
}

static void copy_field(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src);
}

static unsigned record_request(reftam_httpd *srv, const reftam_httpd_request *req)
{
    pthread_mutex_lock(&srv->lock);
    unsigned index = srv->requests++;
    if (index < HTTPD_MAX_RECORDS) {
        reftam_httpd_entry *r = &srv->records[index];
        memset(r, 0, sizeof *r);
        copy_field(r->method, sizeof r->method, req->method);
        r->has_accept = req->accept != NULL;
        copy_field(r->accept, sizeof r->accept, req->accept != NULL ? req->accept : "");
        r->has_content_type = req->content_type != NULL;
        copy_field(r->content_type, sizeof r->content_type,
                   req->content_type != NULL ? req->content_type : "");
        r->has_expect = req->expect != NULL;
        r->has_cookie = req->cookie != NULL;
        r->has_user_agent = req->user_agent != NULL;
        copy_field(r->user_agent, sizeof r->user_agent,
                   req->user_agent != NULL ? req->user_agent : "");
        r->body_len = req->body_len;
        memcpy(r->body, req->body,
               req->body_len < REFTAM_RECORD_BODY_MAX ? req->body_len : REFTAM_RECORD_BODY_MAX);
        r->connection = req->connection;
    }
    pthread_mutex_unlock(&srv->lock);
    return index;
}

static struct MHD_Response *make_response(reftam_httpd *srv, reftam_httpd_response *out)
{
    if (out->reader == NULL)
        return MHD_create_response_from_buffer(out->body_len, (void *)(uintptr_t)out->body,
                                               MHD_RESPMEM_MUST_COPY);
    struct stream *s = calloc(1, sizeof *s);
    if (s == NULL) {
        if (out->reader_free != NULL)
            out->reader_free(out->reader_ctx);
        return NULL;
    }
    s->srv = srv;
    s->reader = out->reader;
    s->ctx = out->reader_ctx;
    s->ctx_free = out->reader_free;
    struct MHD_Response *r = MHD_create_response_from_callback(
        out->reader_size == REFTAM_SIZE_UNKNOWN ? MHD_SIZE_UNKNOWN : out->reader_size,
        HTTPD_STREAM_BLOCK, stream_read, s, stream_free);
    if (r == NULL)
        stream_free(s);
    return r;
}

/* ---- PROFILE P10 request rules ---- */

/* Longest Accept element looked at; longer ones do not match anything. */
#define ACCEPT_RANGE_MAX 128

/* 1 when the parameters of an Accept element contain q=0 (not acceptable). */
static int q_is_zero(const char *params)
{
    for (const char *p = params; p != NULL && *p != '\0'; p = strchr(p + 1, ';')) {
        const char *q = p + (*p == ';');
        while (*q == ' ' || *q == '\t')
            q++;
        if ((q[0] == 'q' || q[0] == 'Q') && q[1] == '=') {
            q += 2;
            if (*q != '0')
                return 0;
            for (q++; *q == '.' || *q == '0'; q++)
                ;
            return *q == '\0' || *q == ';' || *q == ' ' || *q == '\t';
        }
    }
    return 0;
}

/* Does an Accept header allow media type mt? The most specific matching range decides
 * (RFC 9110 section 12.5.1); no Accept header allows everything. */
static int accept_allows(const char *accept, const char *mt)
{
    if (accept == NULL)
        return 1;
    char type_any[ACCEPT_RANGE_MAX];
    snprintf(type_any, sizeof type_any, "%.*s/*", (int)strcspn(mt, "/"), mt);
    int best = 0, best_zero = 0;
    for (const char *p = accept; *p != '\0';) {
        size_t n = strcspn(p, ",");
        char range[ACCEPT_RANGE_MAX];
        if (n < sizeof range) {
            memcpy(range, p, n);
            range[n] = '\0';
            const char *params = strchr(range, ';');
            int rank = otrp__http_media_type_is(range, mt)         ? 3
                       : otrp__http_media_type_is(range, type_any) ? 2
                       : otrp__http_media_type_is(range, "*/*")    ? 1
                                                                    : 0;
            if (rank > best) {
                best = rank;
                best_zero = q_is_zero(params);
            }
        }
        p += n;
        if (*p == ',')
            p++;
    }
    return best > 0 && !best_zero;
}

/* The status refusing a request under P10, or 0 when it passes. */
static unsigned p10_refusal(const char *mt, const reftam_httpd_request *req)
{
    if (strcmp(req->method, "POST") != 0)
        return MHD_HTTP_METHOD_NOT_ALLOWED;
    if (!accept_allows(req->accept, mt))
        return MHD_HTTP_NOT_ACCEPTABLE;
    if (req->body_len > 0 && !otrp__http_media_type_is(req->content_type, mt))
        return MHD_HTTP_UNSUPPORTED_MEDIA_TYPE;
    if (req->body_len == 0 && req->content_type != NULL &&
        !otrp__http_media_type_is(req->content_type, mt))
        return MHD_HTTP_UNSUPPORTED_MEDIA_TYPE;
    return 0;
}

/* The response headers the HTTP binding recommends for answers with content. */
static void add_content_headers(struct MHD_Response *resp)
{
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Content-Security-Policy", "default-src 'none'");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
}

static enum MHD_Result answer(reftam_httpd *srv, struct MHD_Connection *conn, const char *url,
                              const char *method, struct req_state *rs)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    reftam_httpd_request req;
    memset(&req, 0, sizeof req);
    req.method = method;
    req.url = url;
    req.accept = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept");
    req.content_type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
    req.expect = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Expect");
    req.cookie = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Cookie");
    req.user_agent = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "User-Agent");
    req.body = (const unsigned char *)(rs->body != NULL ? rs->body : "");
    req.body_len = rs->len;
    req.connection = ci != NULL ? (unsigned)(uintptr_t)ci->socket_context : 0;
    req.index = record_request(srv, &req);

    reftam_httpd_response out;
    memset(&out, 0, sizeof out);
    unsigned refusal = srv->cfg.media_type != NULL ? p10_refusal(srv->cfg.media_type, &req)
                                                   : 0;
    if (rs->too_large)
        out.status = MHD_HTTP_CONTENT_TOO_LARGE;
    else if (refusal != 0)
        out.status = refusal;
    else
        srv->cfg.handler(srv->cfg.user, srv, &req, &out);
    if (out.status == 0)
        out.status = MHD_HTTP_INTERNAL_SERVER_ERROR;

    struct MHD_Response *resp = make_response(srv, &out);
    if (resp == NULL)
        return MHD_NO;
    if (out.content_type != NULL)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, out.content_type);
    if (out.location != NULL)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, out.location);
    if (out.header_name != NULL && out.header_value != NULL)
        MHD_add_response_header(resp, out.header_name, out.header_value);
    if (out.status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "POST");
    if (srv->cfg.media_type != NULL && (out.body_len > 0 || out.reader != NULL))
        add_content_headers(resp);
    enum MHD_Result ret = MHD_queue_response(conn, out.status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    reftam_httpd *srv = cls;
    struct req_state *rs = *con_cls;
    if (rs == NULL) { /* headers only so far */
        rs = calloc(1, sizeof *rs);
        if (rs == NULL)
            return MHD_NO;
        *con_cls = rs;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (rs->too_large || n > HTTPD_REQUEST_BODY_MAX - rs->len) {
            rs->too_large = 1;
            return MHD_YES;
        }
        if (rs->len + n + 1 > rs->cap) {
            size_t cap = (rs->len + n + 1) * 2;
            char *p = realloc(rs->body, cap);
            if (p == NULL)
                return MHD_NO;
            rs->body = p;
            rs->cap = cap;
        }
        memcpy(rs->body + rs->len, upload_data, n);
        rs->len += n;
        rs->body[rs->len] = '\0';
        return MHD_YES;
    }
    return answer(srv, conn, url, method, rs);
}

int reftam_httpd_start(const reftam_httpd_config *cfg, reftam_httpd **out)
{
    *out = NULL;
    if (cfg->handler == NULL || (cfg->tls_cert_pem == NULL) != (cfg->tls_key_pem == NULL))
        return -1;
    reftam_httpd *srv = calloc(1, sizeof *srv);
    if (srv == NULL)
        return -1;
    srv->records = calloc(HTTPD_MAX_RECORDS, sizeof *srv->records);
    if (srv->records == NULL) {
        free(srv);
        return -1;
    }
    srv->cfg = *cfg;
    pthread_mutex_init(&srv->lock, NULL);
    pthread_cond_init(&srv->wake, NULL);

    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(cfg->port); /* 0: ephemeral */
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD;
    int tls = cfg->tls_cert_pem != NULL;
    if (tls)
        flags |= MHD_USE_TLS;
    /* libmicrohttpd ignores the HTTPS options without MHD_USE_TLS. */
    srv->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_CONNECTION_TIMEOUT,
        cfg->idle_timeout_s != 0 ? cfg->idle_timeout_s : HTTPD_CONNECTION_TIMEOUT_S,
        MHD_OPTION_NOTIFY_CONNECTION,
        notify_connection, srv, MHD_OPTION_NOTIFY_COMPLETED, notify_completed, srv,
        MHD_OPTION_HTTPS_MEM_KEY, tls ? cfg->tls_key_pem : "", MHD_OPTION_HTTPS_MEM_CERT,
        tls ? cfg->tls_cert_pem : "", MHD_OPTION_HTTPS_PRIORITIES,
        cfg->tls_priorities != NULL ? cfg->tls_priorities : "NORMAL", MHD_OPTION_END);
    if (srv->daemon == NULL)
        goto fail;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon,
                                                           MHD_DAEMON_INFO_BIND_PORT);
    if (info == NULL || info->port == 0)
        goto fail;
    srv->port = info->port;
    snprintf(srv->url, sizeof srv->url, "%s://127.0.0.1:%u/tam", tls ? "https" : "http",
             (unsigned)srv->port);
    *out = srv;
    return 0;
fail:
    reftam_httpd_stop(srv);
    return -1;
}

void reftam_httpd_stop(reftam_httpd *srv)
{
    if (srv == NULL)
        return;
    pthread_mutex_lock(&srv->lock);
    srv->stopping = 1;
    pthread_cond_broadcast(&srv->wake);
    pthread_mutex_unlock(&srv->lock);
    if (srv->daemon != NULL)
        MHD_stop_daemon(srv->daemon); /* joins the listener and every connection thread */
    pthread_cond_destroy(&srv->wake);
    pthread_mutex_destroy(&srv->lock);
    free(srv->records);
    free(srv);
}

unsigned short reftam_httpd_port(const reftam_httpd *srv)
{
    return srv->port;
}

const char *reftam_httpd_url(const reftam_httpd *srv)
{
    return srv->url;
}

unsigned reftam_httpd_connections(reftam_httpd *srv)
{
    pthread_mutex_lock(&srv->lock);
    unsigned n = srv->connections;
    pthread_mutex_unlock(&srv->lock);
    return n;
}

unsigned reftam_httpd_requests(reftam_httpd *srv)
{
    pthread_mutex_lock(&srv->lock);
    unsigned n = srv->requests;
    pthread_mutex_unlock(&srv->lock);
    return n;
}

int reftam_httpd_record(reftam_httpd *srv, unsigned i, reftam_httpd_entry *out)
{
    int ok = -1;
    pthread_mutex_lock(&srv->lock);
    if (i < srv->requests && i < HTTPD_MAX_RECORDS) {
        *out = srv->records[i];
        ok = 0;
    }
    pthread_mutex_unlock(&srv->lock);
    return ok;
}
