/*
 * The TAM side of OTrP over HTTP (reference 2.4..2.10, 4.3 and 5.4; PROFILE P4..P10).
 *
 * An empty POST opens a session (a fresh tid) and gets a GetDeviceStateRequest. Every
 * later POST is matched to its session by the tid of the message (P10: no cookies). The
 * GetDeviceStateResponse is verified TEE by TEE (edsi decrypted, the TEE certificate
 * chained to the TAM's CA, the JWS verified with it, rid/tid echoed), then the TAM plans
 * per TEE: CreateSD + InstallTA for requested TAs it manages, UpdateTA for TAs it
 * installed in an older version, DeleteTA (+ DeleteSD once empty) for unneeded ones. It
 * sends one request at a time, verifies and decrypts each answer (signature, did, rid,
 * tid, the new DSI) and answers 204 when the plan is done.
 *
 * Endings: 204 after the plan, and also after a TEE failure answer or an OTrPBrokerError
 * (P8: the TAM does not resend). Anything that breaks the protocol (bad signature,
 * foreign certificate, wrong rid, unknown tid, not JSON, ...) ends the session with 400
 * and a one-line text/plain detail, so that the agent reports a failure.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reftam.h"
#include "util/json_strict.h"

/* A POST body nests: outer, array, element, JWS, header, x5c. */
#define BODY_MAX_DEPTH 10
/* Decrypted content and signed payloads nest a few levels (a reason object at most). */
#define CONTENT_MAX_DEPTH 16

typedef enum op_kind { OP_CREATE_SD, OP_INSTALL_TA, OP_UPDATE_TA, OP_DELETE_TA, OP_DELETE_SD } op_kind;
static const char *const OP_NAME[] = {"CreateSD", "InstallTA", "UpdateTA", "DeleteTA", "DeleteSD"};

typedef struct op {
    op_kind kind;
    unsigned tee;
    char taid[REFTAM_ID_MAX + 1];
    unsigned version; /* InstallTA/UpdateTA: the catalog version sent */
} op;

typedef struct tee_ctx {
    reftam_dsi dsi;   /* name, did, dsihash, key: refreshed by every answer's DSI */
    char *spaik;      /* base64 SPKI of the SP AIK of our spid (NULL: none yet) */
} tee_ctx;

#define AWAIT_GDS ((size_t)-1)
/* Distinct TCP connections remembered per session (for the figures). */
#define SESSION_CONNS 8

typedef struct session {
    struct session *next_session;
    char tid[37];
    char rid[37];          /* of the request awaiting its answer */
    size_t awaiting;       /* AWAIT_GDS or the index of the op sent */
    uint64_t last_ms;
    unsigned posts;
    unsigned conns[SESSION_CONNS];
    unsigned nconns;
    size_t ntee;
    tee_ctx tee[REFTAM_MAX_TEES];
    op *ops;
    size_t nops, capops;
} session;

struct reftam {
    pthread_mutex_t lock;  /* everything below */
    reftam_store *store;
    reftam_options opts;
    session *sessions;
    size_t nsessions;
    reftam_stats stats;
};

/* How one POST ends: the next request (200), the end (204, also after a TEE failure),
 * a refusal of what the agent sent (400), or a failure of the TAM itself (500). */
typedef enum outcome { NEXT_MESSAGE, DONE, TEE_FAILED, VIOLATION, TAM_ERROR } outcome;

static void logf_(reftam *tam, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void logf_(reftam *tam, const char *fmt, ...)
{
    if (tam->opts.log == NULL)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    tam->opts.log(tam->opts.log_user, line);
}

static outcome fail_reply(reftam_reply *r, outcome o, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static outcome fail_reply(reftam_reply *r, outcome o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(r->detail, sizeof r->detail, fmt, ap);
    va_end(ap);
    return o;
}

/*
 * A TEE's public key, loaded for one operation and freed right after: a key handle of
 * lib/jose keeps PSA key slots while it lives, and mbedTLS 2.28 has 32 of them per
 * process, so a TAM with many open sessions must not hold one per TEE.
 */
static otrp_status tee_key(const tee_ctx *t, otrp__jose_key **key)
{
    return otrp__x509_certs_public_key(t->dsi.cert, 0, key, NULL, 0);
}

/* ---- sessions ------------------------------------------------------------------------ */

static void session_free(session *s)
{
    for (size_t i = 0; i < s->ntee; i++) {
        reftam_dsi_clear(&s->tee[i].dsi);
        free(s->tee[i].spaik);
    }
    free(s->ops);
    free(s);
}

static void session_remove(reftam *tam, session *s)
{
    for (session **p = &tam->sessions; *p != NULL; p = &(*p)->next_session) {
        if (*p == s) {
            *p = s->next_session;
            tam->nsessions--;
            if (s->nconns > tam->stats.max_connections_per_session)
                tam->stats.max_connections_per_session = s->nconns;
            session_free(s);
            return;
        }
    }
}

static void expire_sessions(reftam *tam, uint64_t now)
{
    unsigned idle_ms = (tam->opts.idle_s != 0 ? tam->opts.idle_s : REFTAM_SESSION_IDLE_S) * 1000u;
    for (session *s = tam->sessions, *next; s != NULL; s = next) {
        next = s->next_session;
        if (now - s->last_ms > idle_ms) {
            logf_(tam, "session %.8s: forgotten after %u s without a POST", s->tid, idle_ms / 1000u);
            session_remove(tam, s);
        }
    }
}

static session *session_find(reftam *tam, const char *tid)
{
    for (session *s = tam->sessions; s != NULL; s = s->next_session)
        if (strcmp(s->tid, tid) == 0)
            return s;
    return NULL;
}

static void note_connection(session *s, unsigned conn)
{
    for (unsigned i = 0; i < s->nconns; i++)
        if (s->conns[i] == conn)
            return;
    if (s->nconns < SESSION_CONNS)
        s->conns[s->nconns++] = conn;
}

static int add_op(session *s, op_kind kind, unsigned tee, const char *taid, unsigned version)
{
    if (s->nops == s->capops) {
        if (s->capops >= REFTAM_MAX_OPS)
            return -1;
        size_t cap = s->capops == 0 ? 8 : s->capops * 2;
        op *p = realloc(s->ops, cap * sizeof *p);
        if (p == NULL)
            return -1;
        s->ops = p;
        s->capops = cap;
    }
    op *o = &s->ops[s->nops++];
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->tee = tee;
    o->version = version;
    if (taid != NULL)
        (void)snprintf(o->taid, sizeof o->taid, "%s", taid);
    return 0;
}

/* ---- requests ------------------------------------------------------------------------ */

static cJSON *tbs_common(const session *s)
{
    cJSON *tbs = cJSON_CreateObject();
    if (tbs != NULL) {
        cJSON_AddStringToObject(tbs, "ver", "1.0");
        cJSON_AddStringToObject(tbs, "rid", s->rid);
        cJSON_AddStringToObject(tbs, "tid", s->tid);
    }
    return tbs;
}

static otrp_status make_get_device_state(reftam *tam, session *s, otrp_buf *msg)
{
    const reftam_ident *id = reftam_store_ident(tam->store);
    otrp_status st = reftam_uuid(s->rid);
    cJSON *tbs = st == OTRP_OK ? tbs_common(s) : NULL;
    if (tbs == NULL)
        return st != OTRP_OK ? st : OTRP_ERR_NO_MEMORY;
    cJSON_AddArrayToObject(tbs, "ocspdat"); /* P5: an array, empty (no OCSP responder) */
    cJSON *algs = cJSON_AddArrayToObject(tbs, "supportedsigalgs");
    cJSON_AddItemToArray(algs, cJSON_CreateString("RS256")); /* P5 */
    s->awaiting = AWAIT_GDS;
    return reftam_sign_request(id->tam_key, id->x5c_chain, "GetDeviceStateRequest",
                               "GetDeviceStateTBSRequest", tbs, msg);
}

/* The content of an operation's request (P7 members; did and tamid as P4/P6 want). */
static cJSON *op_content(reftam *tam, const session *s, const op *o)
{
    const reftam_ident *id = reftam_store_ident(tam->store);
    cJSON *c = cJSON_CreateObject();
    if (c == NULL)
        return NULL;
    cJSON_AddStringToObject(c, "tamid", id->tamid);
    switch (o->kind) {
    case OP_CREATE_SD:
        cJSON_AddStringToObject(c, "spid", id->spid);
        cJSON_AddStringToObject(c, "sdname", id->sdname);
        cJSON_AddStringToObject(c, "spcert", id->sp_cert_b64);
        cJSON_AddStringToObject(c, "did", s->tee[o->tee].dsi.did);
        break;
    case OP_INSTALL_TA:
    case OP_UPDATE_TA:
        cJSON_AddStringToObject(c, "spid", id->spid);
        cJSON_AddStringToObject(c, "sdname", id->sdname);
        cJSON_AddStringToObject(c, "taid", o->taid);
        break;
    case OP_DELETE_TA:
        cJSON_AddStringToObject(c, "sdname", id->sdname);
        cJSON_AddStringToObject(c, "taid", o->taid);
        break;
    case OP_DELETE_SD:
        cJSON_AddStringToObject(c, "sdname", id->sdname);
        cJSON_AddFalseToObject(c, "deleteta"); /* the plan deleted the TAs one by one */
        break;
    }
    return c;
}

static outcome send_op(reftam *tam, session *s, size_t index, reftam_reply *r)
{
    op *o = &s->ops[index];
    tee_ctx *t = &s->tee[o->tee];
    const reftam_ident *id = reftam_store_ident(tam->store);
    cJSON *eta = NULL;
    otrp_status st = OTRP_OK;
    if (o->kind == OP_INSTALL_TA || o->kind == OP_UPDATE_TA) {
        if (t->spaik == NULL)
            return fail_reply(r, VIOLATION, "TEE '%s' reported no SP AIK for SP '%s'", t->dsi.name,
                              id->spid);
        otrp_buf image = {0};
        st = reftam_catalog_image(tam->store, o->taid, &image, &o->version);
        if (st == OTRP_OK)
            st = reftam_encrypt_ta(t->spaik, id->jwe_alg, image.data, image.len, NULL, 0,
                                   o->kind == OP_UPDATE_TA, &eta);
        otrp_buf_free(&image);
        if (st != OTRP_OK)
            return fail_reply(r, TAM_ERROR, "cannot prepare TA '%s' for TEE '%s': %s", o->taid,
                              t->dsi.name, otrp_status_name(st));
    }
    cJSON *content = op_content(tam, s, o);
    cJSON *jwe = NULL;
    otrp__jose_key *key = NULL;
    if (content == NULL)
        st = OTRP_ERR_NO_MEMORY;
    else if ((st = tee_key(t, &key)) == OTRP_OK)
        st = reftam_encrypt_content(content, key, id->jwe_alg, &jwe);
    otrp__jose_key_free(key);
    cJSON_Delete(content);
    cJSON *tbs = NULL;
    if (st == OTRP_OK)
        st = reftam_uuid(s->rid);
    if (st == OTRP_OK && (tbs = tbs_common(s)) == NULL)
        st = OTRP_ERR_NO_MEMORY;
    if (st != OTRP_OK) {
        cJSON_Delete(jwe);
        cJSON_Delete(eta);
        return fail_reply(r, TAM_ERROR, "cannot build %s: %s", OP_NAME[o->kind], otrp_status_name(st));
    }
    cJSON_AddStringToObject(tbs, "tee", t->dsi.name);  /* P9 routing */
    cJSON_AddTrueToObject(tbs, "nextdsi");             /* every answer refreshes the DSI */
    cJSON_AddStringToObject(tbs, "dsihash", t->dsi.dsihash);
    cJSON_AddItemToObject(tbs, "content", jwe);
    if (eta != NULL)
        cJSON_AddItemToObject(tbs, "encrypted_ta", eta);
    char outer[32], inner[32];
    (void)snprintf(outer, sizeof outer, "%sRequest", OP_NAME[o->kind]);
    (void)snprintf(inner, sizeof inner, "%sTBSRequest", OP_NAME[o->kind]);
    st = reftam_sign_request(id->tam_key, id->x5c_chain, outer, inner, tbs, &r->body);
    if (st != OTRP_OK)
        return fail_reply(r, TAM_ERROR, "cannot sign %s: %s", outer, otrp_status_name(st));
    s->awaiting = index;
    if (o->taid[0] != '\0')
        logf_(tam, "session %.8s: -> %s '%s'%s to TEE '%s'", s->tid, OP_NAME[o->kind], o->taid,
              o->kind == OP_UPDATE_TA ? " (newer version)" : "", t->dsi.name);
    else
        logf_(tam, "session %.8s: -> %s '%s' to TEE '%s'", s->tid, OP_NAME[o->kind], id->sdname,
              t->dsi.name);
    return NEXT_MESSAGE;
}

/* The next operation of the plan, or DONE. */
static outcome continue_plan(reftam *tam, session *s, reftam_reply *r)
{
    size_t next = s->awaiting == AWAIT_GDS ? 0 : s->awaiting + 1;
    if (next < s->nops)
        return send_op(tam, s, next, r);
    return DONE;
}

/* ---- planning ------------------------------------------------------------------------ */

static const cJSON *array_member(const cJSON *obj, const char *key)
{
    const cJSON *a = otrp__json_member(obj, key);
    return cJSON_IsArray(a) ? a : NULL;
}

/* 1 when a [{"taid": ...}] list names taid. */
static int talist_has(const cJSON *list, const char *taid)
{
    for (const cJSON *e = list != NULL ? list->child : NULL; e != NULL; e = e->next) {
        const char *t = otrp__json_string(e, "taid");
        if (t != NULL && strcmp(t, taid) == 0)
            return 1;
    }
    return 0;
}

/* Our SD in a TEE's DSI (NULL: none). */
static const cJSON *our_sd(const reftam_ident *id, const cJSON *tee)
{
    const cJSON *sds = array_member(otrp__json_member(tee, "sdlist"), "sd");
    for (const cJSON *sd = sds != NULL ? sds->child : NULL; sd != NULL; sd = sd->next) {
        const char *name = otrp__json_string(sd, "name");
        const char *spid = otrp__json_string(sd, "spid");
        if (name != NULL && strcmp(name, id->sdname) == 0 && spid != NULL &&
            strcmp(spid, id->spid) == 0)
            return sd;
    }
    return NULL;
}

static void learn_spaik(const reftam_ident *id, tee_ctx *t)
{
    const cJSON *aiks = array_member(otrp__json_member(t->dsi.doc, "dsi") != NULL
                                         ? otrp__json_member(otrp__json_member(t->dsi.doc, "dsi"), "tee")
                                         : NULL,
                                     "teeaiklist");
    for (const cJSON *a = aiks != NULL ? aiks->child : NULL; a != NULL; a = a->next) {
        const char *spid = otrp__json_string(a, "spid");
        const char *k = otrp__json_string(a, "spaik");
        if (spid != NULL && k != NULL && strcmp(spid, id->spid) == 0) {
            free(t->spaik);
            t->spaik = strdup(k);
        }
    }
}

/* Plan the operations for TEE i from its DSI. -1: too many operations. */
static int plan_tee(reftam *tam, session *s, unsigned i, char *summary, size_t cap)
{
    const reftam_ident *id = reftam_store_ident(tam->store);
    tee_ctx *t = &s->tee[i];
    const cJSON *tee = otrp__json_member(otrp__json_member(t->dsi.doc, "dsi"), "tee");
    const cJSON *sd = our_sd(id, tee);
    const cJSON *installed = array_member(sd, "talist");
    const cJSON *requested = array_member(tee, "requestedtalist");
    const cJSON *unneeded = array_member(tee, "unneededtalist");
    learn_spaik(id, t);
    int rc = 0, create = sd == NULL, installs = 0, deletes = 0, kept = 0;
    size_t used = 0;
#define NOTE(...) (used += (size_t)snprintf(summary + used, used < cap ? cap - used : 0, __VA_ARGS__))
    for (const cJSON *e = requested != NULL ? requested->child : NULL; e != NULL; e = e->next) {
        const char *taid = otrp__json_string(e, "taid");
        if (taid == NULL || talist_has(installed, taid))
            continue;
        unsigned v = reftam_catalog_version(tam->store, taid);
        if (v == 0) {
            NOTE(" '%s' requested but not managed here;", taid);
            continue;
        }
        if (create) {
            rc |= add_op(s, OP_CREATE_SD, i, NULL, 0);
            create = 0;
        }
        rc |= add_op(s, OP_INSTALL_TA, i, taid, v);
        installs++;
        NOTE(" install '%s' v%u;", taid, v);
    }
    for (const cJSON *e = installed != NULL ? installed->child : NULL; e != NULL; e = e->next) {
        const char *taid = otrp__json_string(e, "taid");
        if (taid == NULL)
            continue;
        if (talist_has(unneeded, taid)) {
            rc |= add_op(s, OP_DELETE_TA, i, taid, 0);
            deletes++;
            NOTE(" delete '%s';", taid);
            continue;
        }
        kept++;
        unsigned have = reftam_installed_version(tam->store, t->dsi.did, taid);
        unsigned v = reftam_catalog_version(tam->store, taid);
        if (v > have) { /* no record means an unknown version: bring it up to date */
            rc |= add_op(s, OP_UPDATE_TA, i, taid, v);
            NOTE(" update '%s' v%u -> v%u;", taid, have, v);
        }
    }
    if (sd != NULL && deletes > 0 && kept == 0 && installs == 0) {
        rc |= add_op(s, OP_DELETE_SD, i, NULL, 0);
        NOTE(" delete SD '%s';", id->sdname);
    }
#undef NOTE
    if (used == 0)
        (void)snprintf(summary, cap, " nothing to do");
    return rc;
}

/* ---- answers ------------------------------------------------------------------------- */

/* ver, rid and tid of an answer's TBS; the status ("pass"/"fail") into *pass. */
static outcome check_common(const session *s, const cJSON *tbs, const char *what, int *pass,
                            reftam_reply *r)
{
    const char *ver = otrp__json_string(tbs, "ver");
    const char *rid = otrp__json_string(tbs, "rid");
    const char *tid = otrp__json_string(tbs, "tid");
    const char *status = otrp__json_string(tbs, "status");
    if (ver == NULL || strcmp(ver, "1.0") != 0)
        return fail_reply(r, VIOLATION, "%s: ver is not \"1.0\"", what);
    if (rid == NULL || strcmp(rid, s->rid) != 0)
        return fail_reply(r, VIOLATION, "%s: rid does not echo the request's", what);
    if (tid == NULL || strcmp(tid, s->tid) != 0)
        return fail_reply(r, VIOLATION, "%s: tid does not echo the request's", what);
    if (status == NULL || (strcmp(status, "pass") != 0 && strcmp(status, "fail") != 0))
        return fail_reply(r, VIOLATION, "%s: status is not \"pass\" or \"fail\"", what);
    *pass = strcmp(status, "pass") == 0;
    return NEXT_MESSAGE;
}

/* "ERR_X: message" of a failure answer's reason. */
static void reason_text(const cJSON *tbs, char *out, size_t cap)
{
    const cJSON *reason = otrp__json_member(tbs, "reason");
    const char *code = otrp__json_string(reason, "error-code");
    const char *msg = otrp__json_string(reason, "error-message");
    (void)snprintf(out, cap, "%.64s%s%.160s", code != NULL ? code : "no error code",
                   msg != NULL ? ": " : "", msg != NULL ? msg : "");
}

/* Decrypt the JWE member key of tbs with the TAM key into text (NULL: absent). */
static otrp_status decrypt_member(reftam *tam, const cJSON *tbs, const char *key, otrp_buf *text,
                                  char *why, size_t cap)
{
    const cJSON *jwe = otrp__json_member(tbs, key);
    if (jwe == NULL)
        return OTRP_ERR_NOT_FOUND;
    return otrp__jwe_decrypt_json(jwe, reftam_store_ident(tam->store)->tam_key,
                                  OTRP__JOSE_F_PROFILE, text, NULL, why, cap);
}

/* One GetDeviceTEEStateResponse. */
static outcome read_tee_state(reftam *tam, session *s, const cJSON *element, reftam_reply *r)
{
    const reftam_ident *id = reftam_store_ident(tam->store);
    char why[REFTAM_DETAIL_MAX] = "";
    otrp__jws *jws = NULL;
    cJSON *tbs = NULL;
    otrp_status st = reftam_read_signed_json(element, "GetDeviceTEEStateResponse",
                                             "GetDeviceTEEStateTBSResponse", &jws, &tbs, why,
                                             sizeof why);
    if (st != OTRP_OK)
        return fail_reply(r, VIOLATION, "GetDeviceStateResponse element %zu: %s", s->ntee + 1, why);
    int pass = 0;
    outcome o = check_common(s, tbs, "GetDeviceTEEStateResponse", &pass, r);
    otrp_buf text = {0};
    reftam_dsi dsi;
    memset(&dsi, 0, sizeof dsi);
    if (o == NEXT_MESSAGE) {
        st = decrypt_member(tam, tbs, "edsi", &text, why, sizeof why);
        if (st == OTRP_ERR_NOT_FOUND && !pass) { /* P8: unauthenticated; only end */
            reason_text(tbs, why, sizeof why);
            o = fail_reply(r, TEE_FAILED, "a TEE failed GetDeviceState (unauthenticated): %s", why);
        } else if (st == OTRP_ERR_NOT_FOUND) {
            o = fail_reply(r, VIOLATION, "GetDeviceTEEStateResponse has no edsi");
        } else if (st != OTRP_OK) {
            o = fail_reply(r, VIOLATION, "edsi does not decrypt with the TAM key: %s", why);
        }
    }
    if (o == NEXT_MESSAGE) {
        st = reftam_dsi_read((const char *)text.data, text.len, id->anchors,
                             tam->opts.verify_time, &dsi, why, sizeof why);
        if (st != OTRP_OK)
            o = fail_reply(r, VIOLATION, "%s", why);
    }
    if (o == NEXT_MESSAGE && otrp__jws_verify(jws, dsi.key, 0, why, sizeof why) != OTRP_OK)
        o = fail_reply(r, VIOLATION, "GetDeviceTEEStateResponse of TEE '%s' does not verify: %s",
                       dsi.name, why);
    for (size_t i = 0; o == NEXT_MESSAGE && i < s->ntee; i++)
        if (strcmp(s->tee[i].dsi.name, dsi.name) == 0)
            o = fail_reply(r, VIOLATION, "two TEEs named '%s' answered", dsi.name);
    if (o == NEXT_MESSAGE && !pass) {
        reason_text(tbs, why, sizeof why);
        o = fail_reply(r, TEE_FAILED, "TEE '%s' failed GetDeviceState: %s", dsi.name, why);
    }
    if (o == NEXT_MESSAGE) {
        otrp__jose_key_free(dsi.key); /* see tee_key() */
        dsi.key = NULL;
        s->tee[s->ntee].dsi = dsi; /* ownership moves */
        memset(&dsi, 0, sizeof dsi);
        s->ntee++;
    }
    reftam_dsi_clear(&dsi);
    otrp_buf_free(&text);
    otrp__jws_free(jws);
    cJSON_Delete(tbs);
    return o;
}

static outcome broker_error(const cJSON *root, reftam_reply *r)
{
    const char *code = otrp__json_string(root->child, "errcode");
    return fail_reply(r, TEE_FAILED, "the agent answered OTrPBrokerError %.64s",
                      code != NULL ? code : "(no errcode)");
}

static outcome handle_gds(reftam *tam, session *s, const cJSON *root, reftam_reply *r)
{
    const char *name = root->child->string;
    if (strcmp(name, "OTrPBrokerError") == 0)
        return broker_error(root, r);
    if (strcmp(name, "GetDeviceStateResponse") != 0)
        return fail_reply(r, VIOLATION, "expected GetDeviceStateResponse, got %.64s", name);
    const cJSON *arr = root->child;
    int n = cJSON_GetArraySize(arr);
    if (!cJSON_IsArray(arr) || n < 1 || n > (int)REFTAM_MAX_TEES)
        return fail_reply(r, VIOLATION, "GetDeviceStateResponse is not an array of 1..%u answers",
                          REFTAM_MAX_TEES);
    for (const cJSON *e = arr->child; e != NULL; e = e->next) {
        outcome o = read_tee_state(tam, s, e, r);
        if (o != NEXT_MESSAGE)
            return o;
    }
    for (unsigned i = 0; i < s->ntee; i++) {
        char summary[300];
        if (plan_tee(tam, s, i, summary, sizeof summary) != 0)
            return fail_reply(r, TAM_ERROR, "TEE '%s' needs more than %u operations",
                              s->tee[i].dsi.name, REFTAM_MAX_OPS);
        logf_(tam, "session %.8s: TEE '%s' verified; plan:%s", s->tid, s->tee[i].dsi.name, summary);
    }
    return continue_plan(tam, s, r);
}

/* The answer to ops[s->awaiting]. */
static outcome handle_answer(reftam *tam, session *s, const cJSON *root, reftam_reply *r)
{
    op *o = &s->ops[s->awaiting];
    tee_ctx *t = &s->tee[o->tee];
    const reftam_ident *id = reftam_store_ident(tam->store);
    if (strcmp(root->child->string, "OTrPBrokerError") == 0)
        return broker_error(root, r);
    char outer[32], inner[32], why[REFTAM_DETAIL_MAX] = "";
    (void)snprintf(outer, sizeof outer, "%sResponse", OP_NAME[o->kind]);
    (void)snprintf(inner, sizeof inner, "%sTBSResponse", OP_NAME[o->kind]);
    otrp__jws *jws = NULL;
    cJSON *tbs = NULL, *content = NULL;
    otrp_buf text = {0};
    reftam_dsi dsi;
    memset(&dsi, 0, sizeof dsi);
    int pass = 0;
    outcome out = NEXT_MESSAGE;
    if (reftam_read_signed_json(root, outer, inner, &jws, &tbs, why, sizeof why) != OTRP_OK)
        return fail_reply(r, VIOLATION, "%s", why);
    out = check_common(s, tbs, outer, &pass, r);
    /* P4: TEE answers carry no signer: verify with the certificate of the DSI. */
    otrp__jose_key *key = NULL;
    if (out == NEXT_MESSAGE && (tee_key(t, &key) != OTRP_OK ||
                                otrp__jws_verify(jws, key, 0, why, sizeof why) != OTRP_OK))
        out = fail_reply(r, VIOLATION, "%s of TEE '%s' does not verify: %s", outer, t->dsi.name, why);
    otrp__jose_key_free(key);
    if (out == NEXT_MESSAGE && !pass) {
        reason_text(tbs, why, sizeof why);
        out = fail_reply(r, TEE_FAILED, "TEE '%s' failed %s%s%s: %s", t->dsi.name, OP_NAME[o->kind],
                         o->taid[0] ? " of " : "", o->taid, why);
    }
    if (out == NEXT_MESSAGE) {
        otrp_status st = decrypt_member(tam, tbs, "content", &text, why, sizeof why);
        if (st == OTRP_ERR_NOT_FOUND)
            out = fail_reply(r, VIOLATION, "%s has no content", outer);
        else if (st != OTRP_OK)
            out = fail_reply(r, VIOLATION, "%s content does not decrypt: %s", outer, why);
        else if (otrp__json_parse((const char *)text.data, text.len, CONTENT_MAX_DEPTH, &content,
                                  why, sizeof why) != OTRP_OK ||
                 !cJSON_IsObject(content))
            out = fail_reply(r, VIOLATION, "%s content is not a JSON object", outer);
    }
    if (out == NEXT_MESSAGE) {
        const char *did = otrp__json_string(content, "did");
        const cJSON *d = otrp__json_member(content, "dsi");
        if (did == NULL || strcmp(did, t->dsi.did) != 0)
            out = fail_reply(r, VIOLATION, "%s: did is not TEE '%s''s", outer, t->dsi.name);
        else if (!cJSON_IsString(d)) /* P6: we asked nextdsi; an object cannot be hashed */
            out = fail_reply(r, VIOLATION, "%s: content.dsi is missing or not a string", outer);
        else if (reftam_dsi_read(d->valuestring, strlen(d->valuestring), NULL, 0, &dsi, why,
                                 sizeof why) != OTRP_OK)
            out = fail_reply(r, VIOLATION, "%s: %s", outer, why);
        else if (strcmp(dsi.did, t->dsi.did) != 0 || strcmp(dsi.name, t->dsi.name) != 0)
            out = fail_reply(r, VIOLATION, "%s: the new DSI names another TEE", outer);
    }
    if (out == NEXT_MESSAGE && o->kind == OP_CREATE_SD) {
        const char *k = otrp__json_string(content, "teespaik");
        const char *sdname = otrp__json_string(content, "sdname");
        if (k == NULL) /* P7: always present */
            out = fail_reply(r, VIOLATION, "CreateSDResponse: content.teespaik is missing");
        else if (sdname != NULL && strcmp(sdname, id->sdname) != 0)
            out = fail_reply(r, VIOLATION, "CreateSDResponse: content.sdname is not the SD asked for");
        else {
            free(t->spaik);
            t->spaik = strdup(k);
        }
    }
    if (out == NEXT_MESSAGE) {
        /* The new DSI replaces the old (its hash is the next dsihash). */
        reftam_dsi_clear(&t->dsi);
        otrp__jose_key_free(dsi.key); /* see tee_key() */
        dsi.key = NULL;
        t->dsi = dsi;
        memset(&dsi, 0, sizeof dsi);
        unsigned v = o->kind == OP_INSTALL_TA || o->kind == OP_UPDATE_TA ? o->version : 0;
        otrp_status st = OTRP_OK;
        if (o->kind != OP_CREATE_SD && o->kind != OP_DELETE_SD)
            st = reftam_installed_set(tam->store, t->dsi.did, t->dsi.name, o->taid, v);
        if (st != OTRP_OK)
            out = fail_reply(r, TAM_ERROR, "cannot record the TAM state: %s", otrp_status_name(st));
        else {
            tam->stats.operations++;
            logf_(tam, "session %.8s: <- %s from TEE '%s': pass (signature, did and DSI checked)",
                  s->tid, outer, t->dsi.name);
        }
    }
    reftam_dsi_clear(&dsi);
    cJSON_Delete(content);
    otrp_buf_free(&text);
    otrp__jws_free(jws);
    cJSON_Delete(tbs);
    if (out == NEXT_MESSAGE)
        out = continue_plan(tam, s, r);
    return out;
}

/* The tid of a POST body (unverified: it only finds the session; everything is checked
 * after). NULL when there is none. */
static const char *peek_tid(const cJSON *root, cJSON **payload_doc)
{
    *payload_doc = NULL;
    const cJSON *m = root->child;
    if (strcmp(m->string, "OTrPBrokerError") == 0)
        return otrp__json_string(m, "tid");
    const cJSON *signed_obj = m;
    if (cJSON_IsArray(m)) /* GetDeviceStateResponse: the first TEE's answer */
        signed_obj = m->child != NULL && cJSON_IsObject(m->child) ? m->child->child : NULL;
    otrp__jws *jws = NULL;
    if (signed_obj == NULL ||
        otrp__jws_parse_json(signed_obj, OTRP__JOSE_F_PROFILE, &jws, NULL, 0) != OTRP_OK)
        return NULL;
    size_t len = 0;
    const uint8_t *p = otrp__jws_payload(jws, &len);
    if (otrp__json_parse((const char *)p, len, CONTENT_MAX_DEPTH, payload_doc, NULL, 0) != OTRP_OK)
        *payload_doc = NULL;
    otrp__jws_free(jws);
    const cJSON *tbs = *payload_doc != NULL ? (*payload_doc)->child : NULL;
    return tbs != NULL ? otrp__json_string(tbs, "tid") : NULL;
}

/* ---- the entry point ----------------------------------------------------------------- */

static void finish(reftam *tam, session *s, outcome o, reftam_reply *r)
{
    switch (o) {
    case NEXT_MESSAGE:
        r->status = 200;
        r->content_type = "application/otrp+json";
        return;
    case DONE:
        r->status = 204;
        tam->stats.completed++;
        logf_(tam, "session %.8s: done, 204 No Content", s != NULL ? s->tid : "-");
        break;
    case TEE_FAILED:
        r->status = 204; /* P8: end the session, do not resend */
        tam->stats.tee_failures++;
        (void)snprintf(tam->stats.last_failure, sizeof tam->stats.last_failure, "%s", r->detail);
        logf_(tam, "session %.8s: ended after a failure: %s", s != NULL ? s->tid : "-", r->detail);
        break;
    case VIOLATION:
    case TAM_ERROR:
        r->status = o == VIOLATION ? 400 : 500;
        if (o == VIOLATION)
            tam->stats.violations++;
        else
            tam->stats.internal_errors++;
        (void)snprintf(tam->stats.last_failure, sizeof tam->stats.last_failure, "%s", r->detail);
        logf_(tam, "session %.8s: %s (%u): %s", s != NULL ? s->tid : "-",
              o == VIOLATION ? "refused" : "TAM failure", r->status, r->detail);
        otrp_buf_reset(&r->body);
        if (otrp_buf_append_str(&r->body, r->detail) == OTRP_OK &&
            otrp_buf_append_str(&r->body, "\n") == OTRP_OK)
            r->content_type = "text/plain";
        break;
    }
    if (o != VIOLATION && o != TAM_ERROR)
        otrp_buf_reset(&r->body);
    if (s != NULL)
        session_remove(tam, s);
}

static void handle_locked(reftam *tam, const reftam_post *post, reftam_reply *r)
{
    uint64_t now = otrp_monotonic_ms();
    expire_sessions(tam, now);
    if (post->len == 0) { /* ProcessConnect */
        if (tam->nsessions >= REFTAM_MAX_SESSIONS) {
            r->status = 503;
            (void)snprintf(r->detail, sizeof r->detail, "too many open sessions");
            return;
        }
        session *s = calloc(1, sizeof *s);
        otrp_status st = s == NULL ? OTRP_ERR_NO_MEMORY : reftam_uuid(s->tid);
        if (st == OTRP_OK)
            st = make_get_device_state(tam, s, &r->body);
        if (st != OTRP_OK) {
            free(s);
            r->status = 500;
            (void)snprintf(r->detail, sizeof r->detail, "cannot build GetDeviceStateRequest: %s",
                           otrp_status_name(st));
            return;
        }
        s->last_ms = now;
        s->posts = 1;
        note_connection(s, post->connection);
        s->next_session = tam->sessions;
        tam->sessions = s;
        tam->nsessions++;
        tam->stats.sessions++;
        r->post_number = 1;
        (void)snprintf(r->tid, sizeof r->tid, "%s", s->tid);
        logf_(tam, "session %.8s: opened; -> GetDeviceStateRequest", s->tid);
        finish(tam, s, NEXT_MESSAGE, r);
        return;
    }
    cJSON *root = NULL, *payload = NULL;
    char why[160] = "";
    if (otrp__json_parse(post->body, post->len, BODY_MAX_DEPTH, &root, why, sizeof why) != OTRP_OK) {
        finish(tam, NULL, fail_reply(r, VIOLATION, "the body is not JSON (%s)", why), r);
        return;
    }
    if (!cJSON_IsObject(root) || root->child == NULL || root->child->next != NULL) {
        cJSON_Delete(root);
        finish(tam, NULL, fail_reply(r, VIOLATION, "the body is not an object with one member"), r);
        return;
    }
    const char *tid = peek_tid(root, &payload);
    session *s = tid != NULL ? session_find(tam, tid) : NULL;
    if (s == NULL) {
        outcome o = tid == NULL ? fail_reply(r, VIOLATION, "the message carries no tid")
                                : fail_reply(r, VIOLATION, "unknown tid %.40s: no open session", tid);
        cJSON_Delete(payload);
        cJSON_Delete(root);
        finish(tam, NULL, o, r);
        return;
    }
    cJSON_Delete(payload);
    s->last_ms = now;
    r->post_number = ++s->posts;
    note_connection(s, post->connection);
    (void)snprintf(r->tid, sizeof r->tid, "%s", s->tid);
    outcome o = s->awaiting == AWAIT_GDS ? handle_gds(tam, s, root, r) : handle_answer(tam, s, root, r);
    cJSON_Delete(root);
    finish(tam, o == NEXT_MESSAGE ? NULL : s, o, r);
}

void reftam_handle(reftam *tam, const reftam_post *post, reftam_reply *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_lock(&tam->lock);
    handle_locked(tam, post, r);
    pthread_mutex_unlock(&tam->lock);
}

void reftam_reply_free(reftam_reply *r)
{
    otrp_buf_free(&r->body);
}

void reftam_drop_session(reftam *tam, const reftam_reply *r)
{
    pthread_mutex_lock(&tam->lock);
    session *s = r->status == 200 ? session_find(tam, r->tid) : NULL;
    if (s != NULL) {
        logf_(tam, "session %.8s: dropped by an injected fault", s->tid);
        session_remove(tam, s);
    }
    pthread_mutex_unlock(&tam->lock);
}

otrp_status reftam_open(const char *dir, const reftam_options *opts, reftam **out, char *detail,
                        size_t cap)
{
    *out = NULL;
    reftam *tam = calloc(1, sizeof *tam);
    if (tam == NULL)
        return OTRP_ERR_NO_MEMORY;
    if (opts != NULL)
        tam->opts = *opts;
    otrp_status st = otrp__jose_init();
    if (st == OTRP_OK)
        st = reftam_store_open(dir, &tam->store, detail, cap);
    if (st != OTRP_OK) {
        free(tam);
        return st;
    }
    pthread_mutex_init(&tam->lock, NULL);
    *out = tam;
    return OTRP_OK;
}

void reftam_close(reftam *tam)
{
    if (tam == NULL)
        return;
    while (tam->sessions != NULL)
        session_remove(tam, tam->sessions);
    reftam_store_close(tam->store);
    pthread_mutex_destroy(&tam->lock);
    free(tam);
}

void reftam_get_stats(reftam *tam, reftam_stats *out)
{
    pthread_mutex_lock(&tam->lock);
    *out = tam->stats;
    for (const session *s = tam->sessions; s != NULL; s = s->next_session)
        if (s->nconns > out->max_connections_per_session)
            out->max_connections_per_session = s->nconns;
    pthread_mutex_unlock(&tam->lock);
}
