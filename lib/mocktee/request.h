/*
 * One TAM request in the making: what request.c verified, what the operation in ops.c
 * decided, and what the signed answer will carry.
 */
#ifndef OTRP_MOCKTEE_REQUEST_H
#define OTRP_MOCKTEE_REQUEST_H

#include "mocktee/mocktee.h"

typedef enum otrp__mock_kind {
    OTRP__MOCK_GET_DEVICE_STATE,
    OTRP__MOCK_CREATE_SD,
    OTRP__MOCK_UPDATE_SD,
    OTRP__MOCK_DELETE_SD,
    OTRP__MOCK_INSTALL_TA,
    OTRP__MOCK_UPDATE_TA,
    OTRP__MOCK_DELETE_TA
} otrp__mock_kind;

typedef struct otrp__mock_msgdef {
    const char *request;      /* outer name, e.g. "CreateSDRequest" */
    const char *tbs_request;  /* signed name, "CreateSDTBSRequest" */
    const char *response;     /* "CreateSDResponse" */
    const char *tbs_response; /* "CreateSDTBSResponse" */
    otrp__mock_kind kind;
} otrp__mock_msgdef;

typedef struct otrp__mock_req {
    otrp__mock *tee;
    const otrp__mock_msgdef *def;
    cJSON *outer;                 /* the whole message */
    cJSON *payload;               /* the decoded signed payload */
    const cJSON *tbs;             /* payload's inner object */
    char rid[OTRP__MOCK_MAX_RID + 1];
    char tid[OTRP__MOCK_MAX_RID + 1];
    otrp__jws *jws;
    otrp__x509_certs *chain;      /* x5c */
    otrp__jose_key *tam_key;      /* set once the TAM certificate chain is trusted */
    char tamid[OTRP__MOCK_MAX_TAMID + 1];
    int nextdsi;
    cJSON *content;               /* the decrypted request content */

    /* Outcome. */
    const char *code;             /* NULL: success; else the OTrP error code */
    char message[256];            /* error-message */
    int offer_algs;               /* GetDeviceState failure: add supportedsigalgs */
    cJSON *out_content;           /* success: response content (did added later) */
    char *dsi;                    /* the DSI sent in this answer (edsi or content.dsi) */
    cJSON *next;                  /* the state the operation commits */
} otrp__mock_req;

/* Record a failure (always returns -1, for `return fail(...)`). */
int otrp__mock_fail(otrp__mock_req *r, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Parse and verify the request up to (and including) the TAM signature. 0 or -1. */
int otrp__mock_verify(otrp__mock_req *r);
/* The checks of every request after GetDeviceState: tee, nextdsi, dsihash, content,
 * tamid, did. 0 or -1. */
int otrp__mock_verify_later(otrp__mock_req *r);
/* Sign (and encrypt) the answer into out. OTRP_ERR_TEE_FAIL when it cannot sign. */
otrp_status otrp__mock_answer(otrp__mock_req *r, otrp_buf *out);
/* The message definition for an outer name; NULL when unknown. */
const otrp__mock_msgdef *otrp__mock_msgdef_find(const char *outer);

/* P5 boolean. 1/0, or -1 when the item is not one. */
int otrp__mock_bool(const cJSON *item);

#endif
