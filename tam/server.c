/*
 * The reference TAM served over HTTP: the front end of httpd.c (libmicrohttpd, the
 * PROFILE P10 rules: 405/406/415 and the security headers) calling reftam_handle(), the
 * fault-injection options on top of script.c's fault machinery, and the canned replay
 * mode of the benchmarks.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "reftam.h"

#define MEDIA_TYPE "application/otrp+json"
/* OVERSIZE without a size: well above the agent's default 16 MiB cap. */
#define OVERSIZE_DEFAULT ((uint64_t)32 * 1024 * 1024)
/* Filler of the oversize body (printable, like reftam_script's endless body). */
#define OVERSIZE_FILL 'x'
#define GARBAGE_BODY "this is not an OTrP message \x01\x02"

struct reftam_server {
    reftam_httpd *srv;
    reftam_server_config cfg;
    pthread_mutex_t lock; /* busy_ns and the canned figures */
    uint64_t busy_ns;
    unsigned canned_sessions;  /* empty POSTs */
    unsigned canned_switches;  /* POSTs on another connection than their session's first */
    unsigned canned_conn;      /* the connection of the current session */
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A reply whose body the response streams and frees afterwards; inner is the body
 * reader of a fault (reftam_script), or NULL to stream the reply's body as it is. */
typedef struct owned {
    reftam_reply reply;
    reftam_httpd_reader inner;
    void *inner_ctx;
    void (*inner_free)(void *ctx);
    uint64_t size; /* OVERSIZE */
} owned;

static ssize_t owned_read(void *ctx, reftam_httpd *srv, uint64_t pos, char *buf, size_t max)
{
    owned *o = ctx;
    if (o->inner != NULL)
        return o->inner(o->inner_ctx, srv, pos, buf, max);
    if (pos >= o->reply.body.len)
        return REFTAM_BODY_END;
    size_t n = o->reply.body.len - (size_t)pos;
    if (n > max)
        n = max;
    memcpy(buf, o->reply.body.data + pos, n);
    return (ssize_t)n;
}

static ssize_t oversize_read(void *ctx, reftam_httpd *srv, uint64_t pos, char *buf, size_t max)
{
    owned *o = ctx;
    if (!reftam_httpd_sleep(srv, 0) || pos >= o->size)
        return REFTAM_BODY_ERROR;
    size_t n = o->size - pos < max ? (size_t)(o->size - pos) : max;
    memset(buf, OVERSIZE_FILL, n);
    return (ssize_t)n;
}

static void owned_free(void *ctx)
{
    owned *o = ctx;
    if (o->inner_free != NULL)
        o->inner_free(o->inner_ctx);
    reftam_reply_free(&o->reply);
    free(o);
}

/* Hand the response a body the server streams from o (which it frees). */
static void stream_owned(owned *o, reftam_httpd_response *out)
{
    if (out->reader != NULL) { /* a fault's reader: wrap it so that o is freed after */
        o->inner = out->reader;
        o->inner_ctx = out->reader_ctx;
        o->inner_free = out->reader_free;
    } else if (out->body == NULL || out->body_len == 0) {
        owned_free(o);
        out->body = NULL;
        out->body_len = 0;
        return;
    } else {
        out->reader_size = out->body_len;
    }
    out->reader = owned_read;
    out->reader_ctx = o;
    out->reader_free = owned_free;
    out->body = NULL;
    out->body_len = 0;
}

/* Answer with the fault instead of the TAM's reply (o->reply). */
static void apply_fault(reftam_server *rs, reftam_httpd *srv, const reftam_httpd_request *req,
                        owned *o, reftam_httpd_response *out)
{
    const reftam_fault *f = &rs->cfg.fault;
    reftam_step step;
    memset(&step, 0, sizeof step);
    step.status = o->reply.status == 200 ? 200 : o->reply.status;
    step.content_type = o->reply.content_type;
    step.body = (const char *)o->reply.body.data;
    step.body_len = o->reply.body.len;
    switch (f->kind) {
    case REFTAM_FAULT_NONE:
        break;
    case REFTAM_FAULT_DELAY:
        step.delay_ms = f->delay_ms;
        break;
    case REFTAM_FAULT_DROP:
        step.fault = REFTAM_STEP_DROP_MID_BODY;
        break;
    case REFTAM_FAULT_STALL:
        step.fault = REFTAM_STEP_STALL_MID_BODY;
        step.delay_ms = f->delay_ms;
        break;
    case REFTAM_FAULT_500:
    case REFTAM_FAULT_503:
        step.status = f->kind == REFTAM_FAULT_500 ? 500 : 503;
        step.content_type = "text/plain";
        step.body = f->kind == REFTAM_FAULT_500 ? "injected fault: 500\n" : "injected fault: 503\n";
        step.body_len = 0;
        break;
    case REFTAM_FAULT_302:
        step.status = 302;
        step.location = reftam_httpd_url(srv);
        step.content_type = NULL;
        step.body = NULL;
        step.body_len = 0;
        break;
    case REFTAM_FAULT_WRONG_TYPE:
        step.content_type = "text/html";
        break;
    case REFTAM_FAULT_OVERSIZE:
        out->status = 200;
        out->content_type = MEDIA_TYPE;
        o->size = f->size != 0 ? f->size : OVERSIZE_DEFAULT;
        out->reader = oversize_read;
        out->reader_ctx = o;
        out->reader_size = o->size;
        out->reader_free = owned_free;
        return;
    case REFTAM_FAULT_ENDLESS:
        step.content_type = MEDIA_TYPE;
        step.fault = REFTAM_STEP_ENDLESS_CHUNKED;
        break;
    case REFTAM_FAULT_GARBAGE:
        step.content_type = MEDIA_TYPE;
        step.body = GARBAGE_BODY;
        step.body_len = 0;
        break;
    }
    reftam_script script = {&step, 1};
    reftam_script_handler(&script, srv, req, out);
    if (out->body != NULL && out->body != (const void *)o->reply.body.data) {
        /* A constant body of the fault: no need to keep o. */
        owned_free(o);
        return;
    }
    stream_owned(o, out);
}

static void canned_answer(reftam_server *rs, const reftam_httpd_request *req,
                          reftam_httpd_response *out)
{
    const reftam_canned *c = rs->cfg.canned;
    pthread_mutex_lock(&rs->lock); /* sessions are sequential in canned mode */
    if (req->body_len == 0) {
        rs->canned_sessions++;
        rs->canned_conn = req->connection;
    } else if (req->connection != rs->canned_conn) {
        rs->canned_switches++;
    }
    pthread_mutex_unlock(&rs->lock);
    size_t next = 0;
    if (req->body_len > 0) {
        next = c->n + 1; /* unknown */
        for (size_t i = 0; i < c->n; i++)
            if (c->answer_lens[i] == req->body_len &&
                memcmp(c->answers[i], req->body, req->body_len) == 0) {
                next = i + 1;
                break;
            }
    }
    if (next < c->n) {
        out->status = 200;
        out->content_type = MEDIA_TYPE;
        out->body = c->messages[next];
        out->body_len = c->message_lens[next];
    } else if (next == c->n) {
        out->status = 204;
    } else {
        out->status = 400;
        out->content_type = "text/plain";
        out->body = "canned mode: an answer that was not recorded\n";
        out->body_len = strlen(out->body);
    }
}

static void on_post(void *user, reftam_httpd *srv, const reftam_httpd_request *req,
                    reftam_httpd_response *out)
{
    reftam_server *rs = user;
    uint64_t t0 = now_ns();
    if (rs->cfg.canned != NULL) {
        canned_answer(rs, req, out);
    } else {
        owned *o = calloc(1, sizeof *o);
        if (o == NULL)
            return; /* the server answers 500 */
        reftam_post post = {(const char *)req->body, req->body_len, req->connection};
        reftam_handle(rs->cfg.tam, &post, &o->reply);
        const reftam_fault *f = &rs->cfg.fault;
        unsigned at = f->at != 0 ? f->at : 1;
        if (f->kind != REFTAM_FAULT_NONE && o->reply.post_number == at) {
            if (f->kind != REFTAM_FAULT_DELAY)
                reftam_drop_session(rs->cfg.tam, &o->reply); /* the session is over for the TAM */
            pthread_mutex_lock(&rs->lock);
            rs->busy_ns += now_ns() - t0;
            pthread_mutex_unlock(&rs->lock);
            apply_fault(rs, srv, req, o, out);
            return;
        }
        out->status = o->reply.status;
        out->content_type = o->reply.body.len > 0 ? o->reply.content_type : NULL;
        out->body = o->reply.body.data;
        out->body_len = o->reply.body.len;
        stream_owned(o, out);
    }
    pthread_mutex_lock(&rs->lock);
    rs->busy_ns += now_ns() - t0;
    pthread_mutex_unlock(&rs->lock);
}

int reftam_server_start(const reftam_server_config *cfg, reftam_server **out)
{
    *out = NULL;
    if ((cfg->tam == NULL) == (cfg->canned == NULL))
        return -1;
    reftam_server *rs = calloc(1, sizeof *rs);
    if (rs == NULL)
        return -1;
    rs->cfg = *cfg;
    pthread_mutex_init(&rs->lock, NULL);
    reftam_httpd_config sc;
    memset(&sc, 0, sizeof sc);
    sc.handler = on_post;
    sc.user = rs;
    sc.media_type = MEDIA_TYPE; /* P10: 405, 406, 415 and the security headers */
    sc.tls_cert_pem = cfg->tls_cert_pem;
    sc.tls_key_pem = cfg->tls_key_pem;
    sc.port = cfg->port;
    if (reftam_httpd_start(&sc, &rs->srv) != 0) {
        pthread_mutex_destroy(&rs->lock);
        free(rs);
        return -1;
    }
    *out = rs;
    return 0;
}

void reftam_server_stop(reftam_server *rs)
{
    if (rs == NULL)
        return;
    reftam_httpd_stop(rs->srv);
    pthread_mutex_destroy(&rs->lock);
    free(rs);
}

const char *reftam_server_url(const reftam_server *rs)
{
    return reftam_httpd_url(rs->srv);
}

unsigned reftam_server_connections(reftam_server *rs)
{
    return reftam_httpd_connections(rs->srv);
}

unsigned reftam_server_requests(reftam_server *rs)
{
    return reftam_httpd_requests(rs->srv);
}

uint64_t reftam_server_busy_ns(reftam_server *rs)
{
    pthread_mutex_lock(&rs->lock);
    uint64_t n = rs->busy_ns;
    pthread_mutex_unlock(&rs->lock);
    return n;
}

int reftam_fault_parse(const char *text, reftam_fault *f)
{
    static const struct {
        const char *name;
        reftam_fault_kind kind;
    } names[] = {{"delay", REFTAM_FAULT_DELAY},           {"drop", REFTAM_FAULT_DROP},
                 {"stall", REFTAM_FAULT_STALL},           {"500", REFTAM_FAULT_500},
                 {"503", REFTAM_FAULT_503},               {"302", REFTAM_FAULT_302},
                 {"wrong-type", REFTAM_FAULT_WRONG_TYPE}, {"oversize", REFTAM_FAULT_OVERSIZE},
                 {"endless", REFTAM_FAULT_ENDLESS},       {"garbage", REFTAM_FAULT_GARBAGE}};
    memset(f, 0, sizeof *f);
    size_t n = strcspn(text, ":@");
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i].name) == n && strncmp(text, names[i].name, n) == 0)
            f->kind = names[i].kind;
    if (f->kind == REFTAM_FAULT_NONE)
        return -1;
    const char *p = text + n;
    if (*p == ':') {
        char *end = NULL;
        unsigned long long v = strtoull(p + 1, &end, 10);
        if (end == p + 1 || v == 0 || v > (1ull << 40))
            return -1;
        if (f->kind == REFTAM_FAULT_OVERSIZE)
            f->size = v;
        else if ((f->kind == REFTAM_FAULT_DELAY || f->kind == REFTAM_FAULT_STALL) && v <= 3600000u)
            f->delay_ms = (unsigned)v;
        else
            return -1;
        p = end;
    } else if (f->kind == REFTAM_FAULT_DELAY || f->kind == REFTAM_FAULT_STALL) {
        f->delay_ms = 2000; /* a stall the tests' clients do not wait out */
    }
    if (*p == '@') {
        char *end = NULL;
        unsigned long v = strtoul(p + 1, &end, 10);
        if (end == p + 1 || v == 0 || v > 64)
            return -1;
        f->at = (unsigned)v;
        p = end;
    }
    return *p == '\0' ? 0 : -1;
}

void reftam_server_canned_figures(reftam_server *rs, unsigned *sessions, unsigned *switches)
{
    pthread_mutex_lock(&rs->lock);
    *sessions = rs->canned_sessions;
    *switches = rs->canned_switches;
    pthread_mutex_unlock(&rs->lock);
}
