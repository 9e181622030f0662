/* Scripted answers with fault injection for the front end; see reftam.h, "script.c". */
#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "reftam.h"

/* Filler byte of the endless body (printable, so a leak into a log stays readable). */
#define ENDLESS_FILL 'x'

/* A streamed body cut short or stalled halfway. */
struct partial_body {
    const char *body;
    size_t sent_max;  /* bytes sent before the fault */
    unsigned stall_ms;
    reftam_step_fault fault;
};

static ssize_t partial_read(void *ctx, reftam_httpd *srv, uint64_t pos, char *buf, size_t max)
{
    struct partial_body *p = ctx;
    if (pos < p->sent_max) {
        size_t n = p->sent_max - (size_t)pos;
        if (n > max)
            n = max;
        memcpy(buf, p->body + pos, n);
        return (ssize_t)n;
    }
    if (p->fault == REFTAM_STEP_STALL_MID_BODY)
        reftam_httpd_sleep(srv, p->stall_ms);
    return REFTAM_BODY_ERROR;
}

static ssize_t endless_read(void *ctx, reftam_httpd *srv, uint64_t pos, char *buf, size_t max)
{
    (void)ctx;
    (void)pos;
    if (!reftam_httpd_sleep(srv, 0))
        return REFTAM_BODY_ERROR; /* stopping */
    memset(buf, ENDLESS_FILL, max);
    return (ssize_t)max;
}

void reftam_script_handler(void *user, reftam_httpd *srv, const reftam_httpd_request *req,
                           reftam_httpd_response *out)
{
    const reftam_script *script = user;
    if (script->n == 0)
        return; /* the server answers 500 */
    size_t i = req->index < script->n ? req->index : script->n - 1;
    const reftam_step *step = &script->steps[i];
    size_t len = step->body_len;
    if (len == 0 && step->body != NULL)
        len = strlen(step->body);

    out->status = step->status;
    out->content_type = step->content_type;
    out->location = step->location;
    out->header_name = step->header_name;
    out->header_value = step->header_value;
    if (step->fault != REFTAM_STEP_STALL_MID_BODY && step->delay_ms > 0 &&
        !reftam_httpd_sleep(srv, step->delay_ms))
        return;

    switch (step->fault) {
    case REFTAM_STEP_NO_FAULT:
        out->body = step->body;
        out->body_len = len;
        break;
    case REFTAM_STEP_DROP_MID_BODY:
    case REFTAM_STEP_STALL_MID_BODY: {
        struct partial_body *p = calloc(1, sizeof *p);
        if (p == NULL) {
            out->status = 0;
            return;
        }
        p->body = step->body;
        p->sent_max = len / 2;
        p->stall_ms = step->delay_ms;
        p->fault = step->fault;
        out->reader = partial_read;
        out->reader_ctx = p;
        out->reader_size = len;
        out->reader_free = free;
        break;
    }
    case REFTAM_STEP_ENDLESS_CHUNKED:
        out->reader = endless_read;
        out->reader_size = REFTAM_SIZE_UNKNOWN;
        break;
    }
}

int reftam_script_serve(const reftam_script *script, const char *cert_pem, const char *key_pem,
                        reftam_httpd **out)
{
    reftam_httpd_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.handler = reftam_script_handler;
    cfg.user = (void *)(uintptr_t)script;
    cfg.media_type = OTRP__HTTP_MEDIA_TYPE; /* every test also proves the client meets P10 */
    cfg.tls_cert_pem = cert_pem;
    cfg.tls_key_pem = key_pem;
    return reftam_httpd_start(&cfg, out);
}
