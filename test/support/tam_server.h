/*
 * A loopback HTTP(S) front end for a TAM, on libmicrohttpd.
 *
 * It binds 127.0.0.1 only, on an ephemeral port; serves each POST by calling a handler
 * (the scripted fault injector of tam_script.h in the tests; later the reference TAM);
 * records what it received; and stops itself with every thread joined. Of OTrP it knows
 * only the HTTP binding's rules (tam_server_config.media_type); of faults nothing: a handler that wants to misbehave does so through
 * the generic means offered here (a delay, a streamed body that can end in an error).
 *
 * One thread per connection: a handler or a body reader may block (use
 * tam_server_sleep(), which returns early when the server stops).
 */
#ifndef OTRP_TEST_TAM_SERVER_H
#define OTRP_TEST_TAM_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct tam_server tam_server;

/* A request as the handler sees it (valid during the handler call only). */
typedef struct tam_request {
    const char *method;
    const char *url;            /* path and query */
    const char *accept;         /* NULL when the header is absent */
    const char *content_type;   /* NULL when the header is absent */
    const char *expect;         /* NULL when the header is absent */
    const char *cookie;         /* NULL when the header is absent */
    const unsigned char *body;  /* NUL-terminated */
    size_t body_len;
    unsigned connection;        /* 1-based number of the TCP connection it came on */
    unsigned index;             /* 0-based number of the request on this server */
} tam_request;

/* Streamed body: fill buf with up to max bytes of the body at offset pos. Return the
 * count (> 0), TAM_BODY_END (end of a chunked body) or TAM_BODY_ERROR (the server closes
 * the connection at once: a body cut short). May block. */
typedef ssize_t (*tam_body_reader)(void *ctx, tam_server *srv, uint64_t pos, char *buf,
                                   size_t max);
#define TAM_BODY_END ((ssize_t)-1)
#define TAM_BODY_ERROR ((ssize_t)-2)
/* reader_size for a body of unknown length (sent chunked). */
#define TAM_SIZE_UNKNOWN UINT64_MAX

/* What the handler answers. Zero-initialised by the server before the call. */
typedef struct tam_response {
    unsigned status;            /* 0: the server answers 500 */
    const char *content_type;   /* NULL: no Content-Type header */
    const char *location;       /* NULL: no Location header */
    const char *header_name;    /* one more header, e.g. "Retry-After"; NULL: none */
    const char *header_value;
    const void *body;           /* copied by the server */
    size_t body_len;
    tam_body_reader reader;     /* when set, the body comes from it instead */
    void *reader_ctx;
    uint64_t reader_size;       /* Content-Length, or TAM_SIZE_UNKNOWN */
    void (*reader_free)(void *ctx); /* called once the response is done; may be NULL */
} tam_response;

typedef void (*tam_handler)(void *user, tam_server *srv, const tam_request *req,
                            tam_response *out);

typedef struct tam_server_config {
    tam_handler handler;
    void *user;
    /*
     * When set, the front end applies the HTTP rules of PROFILE P10 for this media type
     * before the handler sees a request: 405 (with Allow: POST) to other methods, 406
     * when Accept does not allow the type, 415 when a body has another Content-Type or
     * an empty body has a Content-Type other than this one. Answers with a body then
     * carry Cache-Control: no-store, X-Content-Type-Options: nosniff,
     * Content-Security-Policy: default-src 'none' and Referrer-Policy: no-referrer.
     */
    const char *media_type;
    const char *tls_cert_pem;   /* both set: HTTPS; both NULL: plain HTTP */
    const char *tls_key_pem;
    const char *tls_priorities; /* GnuTLS priority string; NULL: "NORMAL" */
    unsigned idle_timeout_s;    /* close a connection idle this long; 0: 30 s */
    unsigned short port;        /* port on 127.0.0.1; 0: ephemeral (tests always use 0) */
} tam_server_config;

/* What the server recorded about one request. */
#define TAM_RECORD_FIELD_MAX 128
#define TAM_RECORD_BODY_MAX 4096
typedef struct tam_record {
    char method[16];
    int has_accept;
    char accept[TAM_RECORD_FIELD_MAX];
    int has_content_type;
    char content_type[TAM_RECORD_FIELD_MAX];
    int has_expect;
    int has_cookie;
    size_t body_len;                        /* full length */
    unsigned char body[TAM_RECORD_BODY_MAX]; /* first bytes */
    unsigned connection;
} tam_record;

/* Start a server. 0 on success, -1 on failure (nothing left running). */
int tam_server_start(const tam_server_config *cfg, tam_server **out);

/* Stop it: wake sleeping handlers, close every connection, join every thread, free. */
void tam_server_stop(tam_server *srv);

unsigned short tam_server_port(const tam_server *srv);

/* "http(s)://127.0.0.1:<port>/tam" */
const char *tam_server_url(const tam_server *srv);

/* TCP connections accepted so far. */
unsigned tam_server_connections(tam_server *srv);

/* Requests answered (or being answered) so far. */
unsigned tam_server_requests(tam_server *srv);

/* Copy the record of request i. 0 on success, -1 when there is no such record. */
int tam_server_record(tam_server *srv, unsigned i, tam_record *out);

/* Sleep up to ms; returns 0 early when the server is stopping, else 1. */
int tam_server_sleep(tam_server *srv, unsigned ms);

#endif
