/*
 * Scripted answers with fault injection for the loopback TAM front end (tam_server.h).
 *
 * A script is a list of steps; request i gets step min(i, n - 1), so a one-step script
 * answers every request alike ("503 forever") and [503, 200] is "503, then success".
 * Separate from tam_server.c so that the front end can serve the reference TAM without
 * carrying the faults.
 */
#ifndef OTRP_TEST_TAM_SCRIPT_H
#define OTRP_TEST_TAM_SCRIPT_H

#include <stddef.h>

#include "tam_server.h"

typedef enum tam_fault {
    TAM_FAULT_NONE = 0,
    TAM_FAULT_DROP_MID_BODY,   /* announce body_len, send half of it, close */
    TAM_FAULT_ENDLESS_CHUNKED, /* a chunked body that never ends (filler bytes) */
    TAM_FAULT_STALL_MID_BODY   /* send half of the body, then nothing for delay_ms */
} tam_fault;

typedef struct tam_step {
    unsigned status;
    const char *content_type;  /* NULL: no Content-Type */
    const char *body;          /* NULL: empty */
    size_t body_len;           /* 0 with a body: strlen(body) */
    const char *location;      /* Location header (redirects) */
    const char *header_name;   /* one more header, e.g. "Retry-After" */
    const char *header_value;
    unsigned delay_ms;         /* before anything is sent ("stall": longer than the
                                * client's patience); the stall of STALL_MID_BODY */
    tam_fault fault;
} tam_step;

typedef struct tam_script {
    const tam_step *steps;
    size_t n;
} tam_script;

/* The handler to give tam_server_config (user = the tam_script, which must outlive the
 * server). */
void tam_script_handler(void *user, tam_server *srv, const tam_request *req,
                        tam_response *out);

/* Start a server (TLS when cert and key are given) that plays script. 0 on success. */
int tam_script_serve(const tam_script *script, const char *cert_pem, const char *key_pem,
                     tam_server **out);

#endif
