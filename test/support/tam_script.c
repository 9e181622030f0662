/* Scripted answers with fault injection; see tam_script.h. */
#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "tam_script.h"

/* Filler byte of the endless body (printable, so a leak into a log stays readable). */
#define ENDLESS_FILL 'x'

/* A streamed body cut short or stalled halfway. */
struct partial_body {
    const char *body;
    size_t sent_max;  /* bytes sent before the fault */
    unsigned stall_ms;
    tam_fault fault;
};

static ssize_t partial_read(void *ctx, tam_server *srv, uint64_t pos, char *buf, size_t max)
{
    struct partial_body *p = ctx;
    if (pos < p->sent_max) {
        size_t n = p->sent_max - (size_t)pos;
        if (n > max)
            n = max;
        memcpy(buf, p->body + pos, n);
        return (ssize_t)n;
    }
    if (p->fault == TAM_FAULT_STALL_MID_BODY)
        tam_server_sleep(srv, p->stall_ms);
    return TAM_BODY_ERROR;
}

static ssize_t endless_read(void *ctx, tam_server *srv, uint64_t pos, char *buf, size_t max)
{
    (void)ctx;
    (void)pos;
    if (!tam_server_sleep(srv, 0))
        return TAM_BODY_ERROR; /* stopping */
    memset(buf, ENDLESS_FILL, max);
    return (ssize_t)max;
}

void tam_script_handler(void *user, tam_server *srv, const tam_request *req,
                        tam_response *out)
{
    const tam_script *script = user;
    if (script->n == 0)
        return; /* the server answers 500 */
    size_t i = req->index < script->n ? req->index : script->n - 1;
    const tam_step *step = &script->steps[i];
    size_t len = step->body_len;
    if (len == 0 && step->body != NULL)
        len = strlen(step->body);

    out->status = step->status;
    out->content_type = step->content_type;
    out->location = step->location;
    out->header_name = step->header_name;
    out->header_value = step->header_value;
    if (step->fault != TAM_FAULT_STALL_MID_BODY && step->delay_ms > 0 &&
        !tam_server_sleep(srv, step->delay_ms))
        return;

    switch (step->fault) {
    case TAM_FAULT_NONE:
        out->body = step->body;
        out->body_len = len;
        break;
    case TAM_FAULT_DROP_MID_BODY:
    case TAM_FAULT_STALL_MID_BODY: {
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
    case TAM_FAULT_ENDLESS_CHUNKED:
        out->reader = endless_read;
        out->reader_size = TAM_SIZE_UNKNOWN;
        break;
    }
}

int tam_script_serve(const tam_script *script, const char *cert_pem, const char *key_pem,
                     tam_server **out)
{
    tam_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.handler = tam_script_handler;
    cfg.user = (void *)(uintptr_t)script;
    cfg.media_type = OTRP__HTTP_MEDIA_TYPE; /* every test also proves the client meets P10 */
    cfg.tls_cert_pem = cert_pem;
    cfg.tls_key_pem = key_pem;
    return tam_server_start(&cfg, out);
}
