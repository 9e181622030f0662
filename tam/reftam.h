/*
 * The reference TAM (build/bin/otrp-tam): the server side of OTrP over HTTP for tests,
 * the demo and interoperability checks. Not part of libotrp: it is built into
 * build/lib/libotrp-tam.a, which the otrp-tam program and bench/session link; every
 * program linking test/support links its objects too (test/support/tam_builder.c, the
 * tests' hostile TAM, is a thin layer over proto.c).
 *
 * proto.c    message primitives: signed requests, encrypted content, TA images and
 *            encrypted_ta (PROFILE P2..P7), reading and verifying TEE answers (P6, P8)
 * store.c    the TAM directory: configuration, TA catalog, what is installed where
 *            (atomic writes)
 * admin.c    init, provision-tee, add-ta, the TLS server certificate and its pin
 * session.c  sessions correlated by tid: GetDeviceState, planning per TEE, CreateSD,
 *            InstallTA, UpdateTA, DeleteTA, DeleteSD, verification of every answer
 * httpd.c    the HTTP(S) front end on libmicrohttpd (PROFILE P10 request rules, security
 *            headers, per-request records); also the transport tests' server
 * script.c   scripted answers with fault injection on top of httpd.c
 * server.c   the reference TAM behind httpd.c, its fault-injection options (on
 *            script.c) and the canned replay mode of the benchmarks
 *
 * A TAM directory:
 *   DIR/tam.json          {"tamid", "spid", "sdname", "jwe_alg"}
 *   DIR/ca/{cert,key}.pem the TAM's CA: issues the TAM, SP, TEE and TLS certificates;
 *                         the trust anchor for TEE certificates and for TAM certificates
 *                         on the TEE side
 *   DIR/tam/{cert,key}.pem the TAM identity (RSA-2048, Subject CN = tamid, extended key
 *                         usage "OTrP TAM" so that TEEs tell it from the TEE identities
 *                         the same CA issues; cert.pem holds the chain)
 *   DIR/sp/{cert,key}.pem the SP's TA signing identity (P-256)
 *   DIR/tls/{cert,key}.pem the HTTPS server certificate (127.0.0.1), made by serve --tls
 *   DIR/tas/<sha256>.jws  signed TA images (PROFILE P7)
 *   DIR/catalog.json      {"tas": [{"taid", "version", "image", "sha256", "size"}]}
 *   DIR/installed.json    {"tees": [{"did", "name", "tas": [{"taid", "version"}]}]}
 *
 * Thread safety: one reftam handle serves many connections at once; every call below
 * that takes a reftam is safe from several threads.
 */
#ifndef OTRP_REFTAM_H
#define OTRP_REFTAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <cjson/cJSON.h>

#include "jose/jose.h"
#include "otrp/status.h"
#include "otrp/tee.h"

/* Longest detail string of a TAM operation. */
#define REFTAM_DETAIL_MAX 256
/* PROFILE P7 identifiers: 1..128 characters. */
#define REFTAM_ID_MAX 128
/* A session not heard from for this long is forgotten. */
#define REFTAM_SESSION_IDLE_S 120u
/* Sessions open at once; an empty POST beyond this gets 503. */
#define REFTAM_MAX_SESSIONS 1024u
/* TEEs one GetDeviceStateResponse may hold (the agent's limit). */
#define REFTAM_MAX_TEES 16u
/* Operations planned in one session (per TEE: CreateSD, the TAs, DeleteSD). */
#define REFTAM_MAX_OPS 256u
/* Largest TA file add-ta accepts (the mock TEE's limit). */
#define REFTAM_MAX_TA ((size_t)16 * 1024 * 1024)

/* ---- proto.c ---------------------------------------------------------------------- */

/* Sign {"inner": tbs} (tbs is consumed) with key, x5c = chain, into {"outer": jws}. */
otrp_status reftam_sign_request(const otrp__jose_key *key, const otrp__x509_certs *chain,
                                const char *outer, const char *inner, cJSON *tbs,
                                otrp_buf *msg);
/* The steps of reftam_sign_request, for builders that bend one of them (the tests'
 * hostile TAM): the text of {"inner": tbs} (tbs is consumed; cJSON_free it; NULL when
 * out of memory); the unprotected JWS header {"x5c": chain}; payload bytes
 * signed as reftam_sign_request signs; and {"outer": jws} (jws is consumed) into msg. */
char *reftam_tbs_text(const char *inner, cJSON *tbs);
otrp_status reftam_x5c_header(const otrp__x509_certs *chain, cJSON **header);
otrp_status reftam_sign_payload(const otrp__jose_key *key, const otrp__x509_certs *chain,
                                const char *outer, const void *payload, size_t len,
                                otrp_buf *msg);
otrp_status reftam_wrap_message(const char *outer, cJSON *jws, otrp_buf *msg);

/* JWE (general JSON, RSA1_5 + A128CBC-HS256 by default) of the text of content. */
otrp_status reftam_encrypt_content(const cJSON *content, const otrp__jose_key *to,
                                   otrp__jose_alg alg, cJSON **jwe);

/* A TA image (PROFILE P7): compact JWS of bin signed by the SP key. */
otrp_status reftam_sign_ta(const otrp__jose_key *sp_key, const void *bin, size_t len,
                           otrp_buf *image);

/* encrypted_ta for an SP AIK (base64 SPKI): a fresh AES key wrapped to it (a compact
 * JWE with key management alg, NONE: RSA1_5), AES-256-CBC of image and pdata (either
 * may be NULL). update: ciphernew* member names. */
otrp_status reftam_encrypt_ta(const char *spaik_b64, otrp__jose_alg alg, const void *image,
                              size_t len, const void *pdata, size_t pdata_len, int update,
                              cJSON **encrypted_ta);

/*
 * Parse a TEE answer {"outer": JWS} whose payload is {"inner": {...}}: exactly one
 * member each, the names matching. *jws and *tbs receive the parsed JWS (not verified)
 * and the TBS object. OTRP_ERR_MSG_NOT_JSON, OTRP_ERR_MSG_STRUCTURE, OTRP_ERR_MSG_JWS,
 * OTRP_ERR_MSG_NAME_MISMATCH with a detail.
 */
otrp_status reftam_read_signed(const char *text, size_t len, const char *outer,
                               const char *inner, otrp__jws **jws, cJSON **tbs,
                               char *detail, size_t cap);
/* The same for an already parsed element {"outer": JWS}. */
otrp_status reftam_read_signed_json(const cJSON *element, const char *outer,
                                    const char *inner, otrp__jws **jws, cJSON **tbs,
                                    char *detail, size_t cap);

/* What a TAM learns from a DSI document. */
typedef struct reftam_dsi {
    char name[REFTAM_ID_MAX + 1];
    char did[48];                /* base64 SHA-256 of the DER TEE certificate */
    char dsihash[48];            /* base64 SHA-256 of the DSI text */
    otrp__jose_key *key;         /* the TEE's public key (holds PSA key slots: free it
                                  * when it is not needed for a while) */
    otrp__x509_certs *cert;      /* [0] the TEE certificate */
    cJSON *doc;                  /* the parsed {"dsi": {...}} */
} reftam_dsi;

/*
 * Parse a DSI text (PROFILE P6), check its TEE certificate chain (tee.cert + tee.cacert)
 * against anchors at at_time (0: now) when anchors is not NULL, and fill *out.
 * OTRP_ERR_MSG_FIELD (structure), OTRP_ERR_CERT_* (chain), with a detail.
 */
otrp_status reftam_dsi_read(const char *text, size_t len, const otrp__x509_certs *anchors,
                            int64_t at_time, reftam_dsi *out, char *detail, size_t cap);
void reftam_dsi_clear(reftam_dsi *dsi);

/* Base64 (standard) SHA-256 of data into out[48]. */
otrp_status reftam_hash_b64(const void *data, size_t len, char out[48]);
/* A fresh random UUID (version 4) into out[37]. */
otrp_status reftam_uuid(char out[37]);
/* Standard base64 of bytes (malloc; NULL when out of memory). */
char *reftam_b64(const uint8_t *data, size_t len);
/* PROFILE P7 identifier syntax: 1..128 characters in 0x21..0x7E. */
int reftam_id_valid(const char *s);

/* ---- store.c ---------------------------------------------------------------------- */

typedef struct reftam_store reftam_store;

/* The fixed part of a TAM directory. */
typedef struct reftam_ident {
    char tamid[REFTAM_ID_MAX + 1];
    char spid[REFTAM_ID_MAX + 1];
    char sdname[REFTAM_ID_MAX + 1];
    otrp__jose_key *tam_key;
    otrp__x509_certs *tam_chain;   /* leaf first */
    otrp__x509_certs *x5c_chain;   /* what requests carry as x5c: without the root */
    otrp__x509_certs *anchors;     /* ca/cert.pem: TEE certificates must chain to it */
    char *sp_cert_b64;             /* the SP certificate (spcert) */
    otrp__jose_alg jwe_alg;        /* key management the TAM emits (tam.json jwe_alg,
                                    * PROFILE P3: RSA1_5 default, RSA-OAEP, RSA-OAEP-256) */
} reftam_ident;

otrp_status reftam_store_open(const char *dir, reftam_store **out, char *detail, size_t cap);
void reftam_store_close(reftam_store *store);
const reftam_ident *reftam_store_ident(const reftam_store *store);
const char *reftam_store_dir(const reftam_store *store);

/* Catalog: the latest version of taid (0: not managed). Re-reads catalog.json when it
 * changed on disk (add-ta while serving). */
unsigned reftam_catalog_version(reftam_store *store, const char *taid);
/* The signed image of the latest version of taid. */
otrp_status reftam_catalog_image(reftam_store *store, const char *taid, otrp_buf *image,
                                 unsigned *version);

/* Installed records: the version of taid installed in the TEE with this did (0: no
 * record); set (version > 0) or remove (0) a record and persist it atomically. */
unsigned reftam_installed_version(reftam_store *store, const char *did, const char *taid);
otrp_status reftam_installed_set(reftam_store *store, const char *did, const char *tee_name,
                                 const char *taid, unsigned version);

/* ---- admin.c ---------------------------------------------------------------------- */

typedef struct reftam_init_opts {
    const char *tamid;   /* NULL: "tam.otrp.example" */
    const char *spid;    /* NULL: "sp.otrp.example" */
    const char *sdname;  /* NULL: "sd.otrp.example" */
} reftam_init_opts;

/* otrp-tam init: a new TAM directory (dir may exist but must not hold tam.json). */
otrp_status reftam_init(const char *dir, const reftam_init_opts *opts, char *detail,
                        size_t cap);
/* otrp-tam provision-tee: a mock TEE directory issued by DIR's CA, trusting it, with
 * this TAM as its own (tee.json tam_uri = tam_uri, NULL none; tam_id = DIR's tamid). */
otrp_status reftam_provision_tee(const char *dir, const char *teedir, const char *name,
                                 const char *tam_uri, char *detail, size_t cap);
/* otrp-tam add-ta: sign file's bytes as the TA image of taid. *version receives the
 * catalog version (1 for a new TA, +1 for a changed file, unchanged for the same bytes). */
otrp_status reftam_add_ta(const char *dir, const char *taid, const void *bin, size_t len,
                          unsigned *version, char *detail, size_t cap);
/* The TLS server certificate (SAN-less, CN = 127.0.0.1, issued by DIR's CA): read
 * DIR/tls/, making it first when missing. PEM texts are malloc'ed. pin receives
 * "sha256//<base64>" of its public key. */
otrp_status reftam_tls_material(const char *dir, char **cert_pem, char **key_pem,
                                char pin[64], char *detail, size_t cap);

/* ---- session.c -------------------------------------------------------------------- */

typedef struct reftam reftam;

typedef struct reftam_options {
    int64_t verify_time;     /* certificates of TEEs checked at this time; 0: now */
    unsigned idle_s;         /* session idle timeout; 0: REFTAM_SESSION_IDLE_S */
    /* One line per event (session start/end, each request and answer); may be NULL. */
    void (*log)(void *user, const char *line);
    void *log_user;
} reftam_options;

otrp_status reftam_open(const char *dir, const reftam_options *opts, reftam **out,
                        char *detail, size_t cap);
void reftam_close(reftam *tam);

/* One POST to the TAM. */
typedef struct reftam_post {
    const char *body;
    size_t len;
    unsigned connection;     /* the front end's connection number (for the figures) */
} reftam_post;

/* The TAM's answer: 200 with a message, 204 (session over), 400 (a protocol violation)
 * or 500/503 (the TAM cannot go on) with a text/plain one-line detail. Free with
 * reftam_reply_free(). */
typedef struct reftam_reply {
    unsigned status;
    otrp_buf body;
    const char *content_type;    /* static; NULL without body */
    unsigned post_number;        /* 1-based number of this POST in its session; 0 unknown */
    char tid[37];                /* the session's tid ("" when unknown) */
    char detail[REFTAM_DETAIL_MAX];
} reftam_reply;

void reftam_handle(reftam *tam, const reftam_post *post, reftam_reply *reply);
void reftam_reply_free(reftam_reply *reply);
/* Forget the session a reply belonged to (a fault ended it). */
void reftam_drop_session(reftam *tam, const reftam_reply *reply);

/* Figures since the TAM was opened. */
typedef struct reftam_stats {
    unsigned sessions;           /* started (empty POSTs answered) */
    unsigned completed;          /* ended with 204 and no failure */
    unsigned tee_failures;       /* ended with 204 after a TEE failure or broker error */
    unsigned violations;         /* ended with 400 (the agent sent something wrong) */
    unsigned internal_errors;    /* ended with 500 (the TAM could not go on) */
    unsigned operations;         /* CreateSD/InstallTA/... answered with pass */
    unsigned max_connections_per_session; /* distinct TCP connections one session used */
    char last_failure[REFTAM_DETAIL_MAX];
} reftam_stats;
void reftam_get_stats(reftam *tam, reftam_stats *out);

/* ---- server.c --------------------------------------------------------------------- */

typedef enum reftam_fault_kind {
    REFTAM_FAULT_NONE = 0,
    REFTAM_FAULT_DELAY,          /* wait delay_ms, then answer normally */
    REFTAM_FAULT_DROP,           /* announce the answer, send half, close the connection */
    REFTAM_FAULT_STALL,          /* send half of the answer, then nothing for delay_ms */
    REFTAM_FAULT_500,
    REFTAM_FAULT_503,
    REFTAM_FAULT_302,            /* a redirect to the same URL */
    REFTAM_FAULT_WRONG_TYPE,     /* the answer as text/html */
    REFTAM_FAULT_OVERSIZE,       /* a Content-Length body of fault_size bytes */
    REFTAM_FAULT_ENDLESS,        /* a chunked body that never ends */
    REFTAM_FAULT_GARBAGE         /* 200 application/otrp+json with bytes that are not JSON */
} reftam_fault_kind;

typedef struct reftam_fault {
    reftam_fault_kind kind;
    unsigned at;                 /* the POST of each session it hits (1-based; 0: 1) */
    unsigned delay_ms;           /* DELAY, STALL */
    uint64_t size;               /* OVERSIZE (0: 32 MiB) */
} reftam_fault;

/* Parse "drop", "500", "delay:1500", "stall:3000", "oversize:20000000", ... with an
 * optional "@N" (the POST it hits). 0 or -1. */
int reftam_fault_parse(const char *text, reftam_fault *out);

/* Canned mode (benchmarks): answers replayed without any cryptography. An empty POST
 * gets messages[0]; a POST whose body equals answers[i] gets messages[i + 1], or 204
 * after the last. */
typedef struct reftam_canned {
    const char *const *messages;
    const size_t *message_lens;
    const char *const *answers;
    const size_t *answer_lens;
    size_t n;                    /* messages; answers has n entries too */
} reftam_canned;

typedef struct reftam_server reftam_server;

typedef struct reftam_server_config {
    reftam *tam;                 /* the TAM (NULL with canned) */
    const reftam_canned *canned; /* canned replay instead of a TAM */
    unsigned short port;         /* 0: ephemeral */
    const char *tls_cert_pem;    /* both set: HTTPS */
    const char *tls_key_pem;
    reftam_fault fault;
} reftam_server_config;

/* Start serving on 127.0.0.1. 0 on success, -1 on failure (nothing left running). */
int reftam_server_start(const reftam_server_config *cfg, reftam_server **out);
void reftam_server_stop(reftam_server *srv);
/* "http(s)://127.0.0.1:<port>/tam" */
const char *reftam_server_url(const reftam_server *srv);
/* TCP connections accepted so far. */
unsigned reftam_server_connections(reftam_server *srv);
/* Requests answered so far. */
unsigned reftam_server_requests(reftam_server *srv);
/* Nanoseconds spent inside the TAM (handling POSTs) so far. */
uint64_t reftam_server_busy_ns(reftam_server *srv);
/* Canned mode: sessions started (empty POSTs) and POSTs that came on another TCP
 * connection than the first POST of their session (sessions taken one at a time). */
void reftam_server_canned_figures(reftam_server *srv, unsigned *sessions, unsigned *switches);

/* ---- httpd.c ---------------------------------------------------------------------- */

/*
 * The HTTP(S) front end on libmicrohttpd, loopback only. It binds 127.0.0.1 (ephemeral
 * port by default), serves each POST by calling a handler (reftam_server's, or a
 * reftam_script in the transport tests), records what it received, and stops itself
 * with every thread joined. Of OTrP it knows only the HTTP binding's rules
 * (reftam_httpd_config.media_type); of faults nothing: a handler that wants to
 * misbehave does so through the generic means offered here (a delay, a streamed body
 * that can end in an error).
 *
 * One thread per connection: a handler or a body reader may block (use
 * reftam_httpd_sleep(), which returns early when the server stops).
 */

typedef struct reftam_httpd reftam_httpd;

/* A request as the handler sees it (valid during the handler call only). */
typedef struct reftam_httpd_request {
    const char *method;
    const char *url;            /* path and query */
    const char *accept;         /* NULL when the header is absent */
    const char *content_type;   /* NULL when the header is absent */
    const char *expect;         /* NULL when the header is absent */
    const char *cookie;         /* NULL when the header is absent */
    const char *user_agent;     /* NULL when the header is absent */
    const unsigned char *body;  /* NUL-terminated */
    size_t body_len;
    unsigned connection;        /* 1-based number of the TCP connection it came on */
    unsigned index;             /* 0-based number of the request on this server */
} reftam_httpd_request;

/* Streamed body: fill buf with up to max bytes of the body at offset pos. Return the
 * count (> 0), REFTAM_BODY_END (end of a chunked body) or REFTAM_BODY_ERROR (the server closes
 * the connection at once: a body cut short). May block. */
typedef ssize_t (*reftam_httpd_reader)(void *ctx, reftam_httpd *srv, uint64_t pos, char *buf,
                                       size_t max);
#define REFTAM_BODY_END ((ssize_t)-1)
#define REFTAM_BODY_ERROR ((ssize_t)-2)
/* reader_size for a body of unknown length (sent chunked). */
#define REFTAM_SIZE_UNKNOWN UINT64_MAX

/* What the handler answers. Zero-initialised by the server before the call. */
typedef struct reftam_httpd_response {
    unsigned status;            /* 0: the server answers 500 */
    const char *content_type;   /* NULL: no Content-Type header */
    const char *location;       /* NULL: no Location header */
    const char *header_name;    /* one more header, e.g. "Retry-After"; NULL: none */
    const char *header_value;
    const void *body;           /* copied by the server */
    size_t body_len;
    reftam_httpd_reader reader; /* when set, the body comes from it instead */
    void *reader_ctx;
    uint64_t reader_size;       /* Content-Length, or REFTAM_SIZE_UNKNOWN */
    void (*reader_free)(void *ctx); /* called once the response is done; may be NULL */
} reftam_httpd_response;

typedef void (*reftam_httpd_handler)(void *user, reftam_httpd *srv, const reftam_httpd_request *req,
                                     reftam_httpd_response *out);

typedef struct reftam_httpd_config {
    reftam_httpd_handler handler;
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
} reftam_httpd_config;

/* What the server recorded about one request. */
#define REFTAM_RECORD_FIELD_MAX 128
#define REFTAM_RECORD_BODY_MAX 4096
typedef struct reftam_httpd_entry {
    char method[16];
    int has_accept;
    char accept[REFTAM_RECORD_FIELD_MAX];
    int has_content_type;
    char content_type[REFTAM_RECORD_FIELD_MAX];
    int has_expect;
    int has_cookie;
    int has_user_agent;
    char user_agent[REFTAM_RECORD_FIELD_MAX];
    size_t body_len;                        /* full length */
    unsigned char body[REFTAM_RECORD_BODY_MAX]; /* first bytes */
    unsigned connection;
} reftam_httpd_entry;

/* Start a server. 0 on success, -1 on failure (nothing left running). */
int reftam_httpd_start(const reftam_httpd_config *cfg, reftam_httpd **out);

/* Stop it: wake sleeping handlers, close every connection, join every thread, free. */
void reftam_httpd_stop(reftam_httpd *srv);

unsigned short reftam_httpd_port(const reftam_httpd *srv);

/* "http(s)://127.0.0.1:<port>/tam" */
const char *reftam_httpd_url(const reftam_httpd *srv);

/* TCP connections accepted so far. */
unsigned reftam_httpd_connections(reftam_httpd *srv);

/* Requests answered (or being answered) so far. */
unsigned reftam_httpd_requests(reftam_httpd *srv);

/* Copy the record of request i. 0 on success, -1 when there is no such record. */
int reftam_httpd_record(reftam_httpd *srv, unsigned i, reftam_httpd_entry *out);

/* Sleep up to ms; returns 0 early when the server is stopping, else 1. */
int reftam_httpd_sleep(reftam_httpd *srv, unsigned ms);

/* ---- script.c --------------------------------------------------------------------- */

/*
 * Scripted answers with fault injection for the front end: the transport tests' TAM,
 * and the fault machinery under reftam_server's fault options. A script is a list of
 * steps; request i gets step min(i, n - 1), so a one-step script answers every request
 * alike ("503 forever") and [503, 200] is "503, then success". Separate from httpd.c so
 * that the front end serves the reference TAM without carrying the faults.
 */

typedef enum reftam_step_fault {
    REFTAM_STEP_NO_FAULT = 0,
    REFTAM_STEP_DROP_MID_BODY,   /* announce body_len, send half of it, close */
    REFTAM_STEP_ENDLESS_CHUNKED, /* a chunked body that never ends (filler bytes) */
    REFTAM_STEP_STALL_MID_BODY   /* send half of the body, then nothing for delay_ms */
} reftam_step_fault;

typedef struct reftam_step {
    unsigned status;
    const char *content_type;  /* NULL: no Content-Type */
    const char *body;          /* NULL: empty */
    size_t body_len;           /* 0 with a body: strlen(body) */
    const char *location;      /* Location header (redirects) */
    const char *header_name;   /* one more header, e.g. "Retry-After" */
    const char *header_value;
    unsigned delay_ms;         /* before anything is sent ("stall": longer than the
                                * client's patience); the stall of STALL_MID_BODY */
    reftam_step_fault fault;
} reftam_step;

typedef struct reftam_script {
    const reftam_step *steps;
    size_t n;
} reftam_script;

/* The handler to give reftam_httpd_config (user = the reftam_script, which must outlive the
 * server). */
void reftam_script_handler(void *user, reftam_httpd *srv, const reftam_httpd_request *req,
                           reftam_httpd_response *out);

/* Start a server (TLS when cert and key are given) that plays script. 0 on success. */
int reftam_script_serve(const reftam_script *script, const char *cert_pem, const char *key_pem,
                        reftam_httpd **out);

#endif
