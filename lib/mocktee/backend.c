/* The mock TEE as a struct otrp_tee_ops backend: open/close and the entry points. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mocktee/mocktee.h"
#include "util/json_strict.h"

#define DETAIL(tee, ...) (void)snprintf((tee)->detail, sizeof (tee)->detail, __VA_ARGS__)

otrp_status otrp__mock_open(const char *dir, const otrp_mock_options *opts, otrp__mock **out,
                            char *detail, size_t cap)
{
    *out = NULL;
    if (opts != NULL && opts->struct_size == 0)
        return OTRP_ERR_INVALID_ARG;
    otrp_status st = otrp__jose_init();
    if (st != OTRP_OK)
        return st;
    otrp__mock *tee = calloc(1, sizeof *tee);
    if (tee == NULL)
        return OTRP_ERR_NO_MEMORY;
    tee->store.dirfd = tee->store.blobfd = tee->store.lockfd = -1;
    tee->dir = strdup(dir);
    if (tee->dir == NULL) {
        free(tee);
        return OTRP_ERR_NO_MEMORY;
    }
    if (opts != NULL && opts->struct_size >= offsetof(otrp_mock_options, verify_time) +
                                                 sizeof opts->verify_time)
        tee->verify_time = opts->verify_time;
    st = otrp__mock_load_config(tee, detail, cap);
    if (st == OTRP_OK)
        st = otrp__mock_store_open(&tee->store, dir, detail, cap);
    if (st == OTRP_OK)
        st = otrp__mock_state_load(tee, detail, cap);
    if (st != OTRP_OK) {
        otrp__mock_close(tee);
        return st;
    }
    *out = tee;
    return OTRP_OK;
}

void otrp__mock_close(otrp__mock *tee)
{
    if (tee == NULL)
        return;
    otrp__mock_store_close(&tee->store);
    otrp_buf_free(&tee->scratch_ct);
    otrp_buf_free(&tee->scratch_image);
    cJSON_Delete(tee->state);
    otrp__jose_key_free(tee->key);
    otrp__x509_certs_free(tee->certs);
    otrp__x509_certs_free(tee->anchors);
    free(tee->dir);
    free(tee);
}

const char *otrp__mock_last_detail(void *ctx)
{
    otrp__mock *tee = ctx;
    return tee->detail;
}

/* Every entry point starts here: the detail explains this operation's failure only. */
static otrp__mock *enter(void *ctx)
{
    otrp__mock *tee = ctx;
    tee->detail[0] = '\0';
    return tee;
}

static otrp_status mock_get_name(void *ctx, const otrp_tee_call *call, otrp_buf *name)
{
    (void)call;
    otrp__mock *tee = enter(ctx);
    otrp_buf_reset(name);
    return otrp_buf_append_str(name, tee->cfg.name);
}

static otrp_status mock_process_message(void *ctx, const otrp_tee_call *call, const char *msg,
                                        size_t len, otrp_buf *out)
{
    (void)call;
    otrp__mock *tee = enter(ctx);
    if (msg == NULL && len > 0)
        return OTRP_ERR_INVALID_ARG;
    if (len == 0) {
        DETAIL(tee, "empty message");
        return OTRP_ERR_MSG_EMPTY;
    }
    return otrp__mock_process(tee, msg, len, out);
}

/* Commit a change of the requested/unneeded lists (a state change like any other). */
static otrp_status commit_lists(otrp__mock *tee, cJSON *next)
{
    if (cJSON_Compare(next, tee->state, 1)) {
        cJSON_Delete(next);
        return OTRP_OK;
    }
    otrp_status st = otrp__mock_state_commit(tee, next);
    if (st != OTRP_OK) {
        DETAIL(tee, "cannot store the TEE state");
        return OTRP_ERR_TEE_FAIL;
    }
    return OTRP_OK;
}

/* A copy of a choice that outlives the state it may point into (committing replaces or
 * drops the copy of the state it was made from). */
typedef struct kept_choice {
    char uri[OTRP__MOCK_MAX_URI + 1];
    char tamid[OTRP__MOCK_MAX_TAMID + 1];
    otrp__mock_choice ch;
} kept_choice;

static void keep_choice(kept_choice *k, const otrp__mock_choice *ch)
{
    (void)snprintf(k->uri, sizeof k->uri, "%s", ch->uri);
    (void)snprintf(k->tamid, sizeof k->tamid, "%s", ch->tamid != NULL ? ch->tamid : "");
    k->ch.uri = k->uri;
    k->ch.tamid = ch->tamid != NULL ? k->tamid : NULL;
}

/* Pass back the chosen TAM URI (PROFILE P10: it wins over the caller's). With none,
 * work that is pending gets OTRP_ERR_NO_TAM_URI (it stays recorded for a later call
 * that brings a URI), and no work gets no data. A URI whose TAM the TEE does not know
 * yet is awaited: the next TAM to pass a GetDeviceState is bound to it. */
static otrp_status uri_answer(otrp__mock *tee, const otrp__mock_choice *ch, int pending,
                              otrp_buf *tam_uri, otrp_buf *msg)
{
    otrp_buf_reset(tam_uri);
    otrp_buf_reset(msg);
    (void)snprintf(tee->awaiting, sizeof tee->awaiting, "%s", ch->tamid == NULL ? ch->uri : "");
    if (ch->uri[0] == '\0') {
        if (!pending)
            return OTRP_OK;
        DETAIL(tee, "work is pending, but neither the caller nor tee.json names a TAM");
        return OTRP_ERR_NO_TAM_URI;
    }
    return otrp_buf_append_str(tam_uri, ch->uri);
}

/* A hint the TEE can keep and pass back whole: cut short it would name another URI. */
static int hint_ok(otrp__mock *tee, const char *hint)
{
    if (hint == NULL || strlen(hint) <= OTRP__MOCK_MAX_URI)
        return 1;
    DETAIL(tee, "the TAM URI hint is longer than %d bytes", OTRP__MOCK_MAX_URI);
    return 0;
}

/* RequestTA / UnrequestTA (PROFILE P6 extension): remember the need, bound to the TAM the
 * TEE chooses for it, and hand out that TAM's URI; the TAM starts with GetDeviceState, so
 * there is no message. */
static otrp_status need_change(void *ctx, const char *taid, const char *hint, int wanted,
                               otrp_buf *tam_uri, otrp_buf *msg)
{
    otrp__mock *tee = enter(ctx);
    if (taid == NULL || !otrp__mock_id_valid(taid)) {
        DETAIL(tee, "TA id must be 1..128 printable ASCII characters");
        return OTRP_ERR_INVALID_ARG;
    }
    if (!hint_ok(tee, hint))
        return OTRP_ERR_INVALID_ARG;
    cJSON *next = cJSON_Duplicate(tee->state, 1);
    if (next == NULL)
        return OTRP_ERR_NO_MEMORY;
    otrp__mock_choice ch;
    otrp__mock_choose(tee, next, hint, &ch);
    int pending = 0;
    otrp_status st = otrp__mock_need(tee, next, taid, wanted, &ch, &pending);
    if (st == OTRP_ERR_QUOTA)
        DETAIL(tee, "at most %d TAs may be pending", OTRP__MOCK_MAX_PENDING);
    if (st != OTRP_OK) {
        cJSON_Delete(next);
        return st;
    }
    otrp__mock_settle(next);
    kept_choice kept;
    keep_choice(&kept, &ch);
    st = commit_lists(tee, next);
    if (st == OTRP_OK)
        st = uri_answer(tee, &kept.ch, pending, tam_uri, msg);
    return st;
}

static otrp_status mock_request_ta(void *ctx, const otrp_tee_call *call, const char *taid,
                                   const char *hint, otrp_buf *tam_uri, otrp_buf *msg)
{
    (void)call;
    return need_change(ctx, taid, hint, 1, tam_uri, msg);
}

static otrp_status mock_unrequest_ta(void *ctx, const otrp_tee_call *call, const char *taid,
                                     const char *hint, otrp_buf *tam_uri, otrp_buf *msg)
{
    (void)call;
    return need_change(ctx, taid, hint, 0, tam_uri, msg);
}

/* Something pending: a TAM URI (the TAM will ask with GetDeviceState); else no data.
 * The URI is the chosen TAM's when it has work, else that of a TAM that has. */
static otrp_status mock_policy_check(void *ctx, const otrp_tee_call *call, const char *hint,
                                     otrp_buf *tam_uri, otrp_buf *msg)
{
    (void)call;
    otrp__mock *tee = enter(ctx);
    if (!hint_ok(tee, hint))
        return OTRP_ERR_INVALID_ARG;
    int requested = cJSON_GetArraySize(otrp__json_member(tee->state, "requested"));
    int unneeded = cJSON_GetArraySize(otrp__json_member(tee->state, "unneeded"));
    if (requested == 0 && unneeded == 0) {
        otrp_buf_reset(tam_uri);
        otrp_buf_reset(msg);
        return OTRP_OK;
    }
    cJSON *next = cJSON_Duplicate(tee->state, 1);
    if (next == NULL)
        return OTRP_ERR_NO_MEMORY;
    otrp__mock_choice ch;
    otrp_status st = otrp__mock_policy_choice(tee, next, hint, &ch);
    if (st != OTRP_OK) {
        cJSON_Delete(next);
        return st;
    }
    kept_choice kept;
    keep_choice(&kept, &ch);
    st = commit_lists(tee, next);
    return st == OTRP_OK ? uri_answer(tee, &kept.ch, 1, tam_uri, msg) : st;
}

/* Nothing is cached per session (every request carries x5c); only a TAM URI whose TAM
 * was awaited is not any more: that session failed, and the next TAM to send a
 * GetDeviceState (through another session) is not the one at that URI. */
static otrp_status mock_process_error(void *ctx, const otrp_tee_call *call)
{
    otrp__mock *tee = enter(ctx);
    (void)call;
    tee->awaiting[0] = '\0';
    return OTRP_OK;
}

static otrp_status mock_describe(void *ctx, const otrp_tee_call *call, otrp_buf *json)
{
    (void)call;
    otrp__mock *tee = enter(ctx);
    cJSON *d = cJSON_CreateObject();
    cJSON *list = NULL;
    if (d == NULL || cJSON_AddStringToObject(d, "name", tee->cfg.name) == NULL ||
        cJSON_AddStringToObject(d, "version", tee->cfg.version) == NULL ||
        cJSON_AddStringToObject(d, "kind", "mock") == NULL ||
        (list = cJSON_AddArrayToObject(d, "talist")) == NULL) {
        cJSON_Delete(d);
        return OTRP_ERR_NO_MEMORY;
    }
    for (const cJSON *sd = otrp__json_member(tee->state, "sds")->child; sd != NULL; sd = sd->next)
        for (const cJSON *ta = otrp__json_member(sd, "tas")->child; ta != NULL; ta = ta->next) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddItemToArray(list, e);
            if (e == NULL || cJSON_AddStringToObject(e, "taid", otrp__json_string(ta, "taid")) == NULL ||
                cJSON_AddStringToObject(e, "sdname", otrp__json_string(sd, "name")) == NULL ||
                cJSON_AddStringToObject(e, "spid", otrp__json_string(sd, "spid")) == NULL ||
                cJSON_AddStringToObject(e, "tamid", otrp__json_string(sd, "tamid")) == NULL) {
                cJSON_Delete(d);
                return OTRP_ERR_NO_MEMORY;
            }
        }
    char *text = cJSON_PrintUnformatted(d);
    cJSON_Delete(d);
    if (text == NULL)
        return OTRP_ERR_NO_MEMORY;
    otrp_buf_reset(json);
    otrp_status st = otrp_buf_append_str(json, text);
    cJSON_free(text);
    return st;
}

static otrp_status mock_ta_information(void *ctx, const otrp_tee_call *call, const char *spid,
                                       const char *taid, otrp_buf *out);

static void mock_destroy(void *ctx)
{
    otrp__mock_close(ctx);
}

const struct otrp_tee_ops otrp__mock_ops = {
    .struct_size = sizeof(struct otrp_tee_ops),
    .kind = "mock",
    .get_name = mock_get_name,
    .process_message = mock_process_message,
    .request_ta = mock_request_ta,
    .unrequest_ta = mock_unrequest_ta,
    .policy_check = mock_policy_check,
    .process_error = mock_process_error,
    .ta_information = mock_ta_information,
    .describe = mock_describe,
    .cancel = NULL,
    .destroy = mock_destroy,
    .last_error = otrp__mock_last_detail,
};

/* ---- TAInformation (PROFILE P11) ----------------------------------------------------- */

static cJSON *ta_information_tbs(const cJSON *sd, const cJSON *ta, const char *spid,
                                 const char *taid)
{
    cJSON *tbs = cJSON_CreateObject();
    cJSON *inner = cJSON_AddObjectToObject(tbs, "TAInformationTBS");
    if (inner == NULL || cJSON_AddStringToObject(inner, "taid", taid) == NULL ||
        cJSON_AddStringToObject(inner, "tamid", otrp__json_string(sd, "tamid")) == NULL ||
        cJSON_AddStringToObject(inner, "spid", spid) == NULL ||
        cJSON_AddStringToObject(inner, "signercert", otrp__json_string(ta, "signer")) == NULL ||
        cJSON_AddArrayToObject(inner, "signercacerts") == NULL ||
        cJSON_AddStringToObject(inner, "tamcert", otrp__json_string(ta, "tamcert")) == NULL) {
        cJSON_Delete(tbs);
        return NULL;
    }
    cJSON *ca = cJSON_Duplicate(otrp__json_member(ta, "tamcacerts"), 1);
    if (ca == NULL) {
        cJSON_Delete(tbs);
        return NULL;
    }
    cJSON_AddItemToObject(inner, "tamcacerts", ca);
    return tbs;
}

/* The TA taid in an SD of SP spid. TAs are kept per TAM, so two TAMs may each have one:
 * the one of the TEE's own TAM is the one apps get, else the one installed first. */
static const cJSON *ta_of_sp(const otrp__mock *tee, const char *spid, const char *taid,
                             cJSON **sd_out)
{
    const char *own = otrp__mock_own_tamid(tee, tee->state);
    const cJSON *found = NULL;
    for (cJSON *sd = otrp__json_member(tee->state, "sds")->child; sd != NULL; sd = sd->next) {
        const cJSON *ta = strcmp(otrp__json_string(sd, "spid"), spid) == 0
                              ? otrp__mock_ta_find(sd, taid)
                              : NULL;
        if (ta == NULL || (found != NULL && (own == NULL ||
                                             strcmp(otrp__json_string(sd, "tamid"), own) != 0)))
            continue;
        found = ta;
        *sd_out = sd;
    }
    return found;
}

static otrp_status mock_ta_information(void *ctx, const otrp_tee_call *call, const char *spid,
                                       const char *taid, otrp_buf *out)
{
    (void)call;
    otrp__mock *tee = enter(ctx);
    if (spid == NULL || taid == NULL)
        return OTRP_ERR_INVALID_ARG;
    cJSON *sd = NULL;
    const cJSON *ta = ta_of_sp(tee, spid, taid, &sd);
    if (ta == NULL) {
        DETAIL(tee, "no TA \"%.128s\" of SP \"%.128s\"", taid, spid);
        return OTRP_ERR_NOT_FOUND;
    }
    const cJSON *rec = otrp__mock_spaik_find(tee->state, otrp__json_string(sd, "tamid"), spid);
    otrp_buf pem = {0};
    otrp__jose_key *aik = NULL;
    otrp_status st = rec != NULL ? otrp__mock_blob_read(tee, otrp__json_string(rec, "key"), &pem)
                                 : OTRP_ERR_STATE_CORRUPT;
    if (st == OTRP_OK)
        st = otrp__jose_key_load(pem.data, pem.len, &aik, NULL, 0);
    otrp_buf_free(&pem);
    cJSON *tbs = st == OTRP_OK ? ta_information_tbs(sd, ta, spid, taid) : NULL;
    char *payload = tbs != NULL ? cJSON_PrintUnformatted(tbs) : NULL;
    cJSON_Delete(tbs);
    cJSON *header = NULL, *jwk = NULL, *jws = NULL;
    if (st == OTRP_OK && payload == NULL)
        st = OTRP_ERR_NO_MEMORY;
    if (st == OTRP_OK)
        st = otrp__jose_key_export_public_jwk(aik, &jwk);
    if (st == OTRP_OK) {
        header = cJSON_CreateObject();
        if (header == NULL)
            st = OTRP_ERR_NO_MEMORY;
        else
            cJSON_AddItemToObject(header, "signer", jwk);
        jwk = NULL;
    }
    if (st == OTRP_OK) {
        otrp__jws_sign_opts opts;
        memset(&opts, 0, sizeof opts);
        opts.header = header;
        st = otrp__jws_sign_json(payload, strlen(payload), aik, &opts, &jws, NULL, 0);
    }
    cJSON_Delete(jwk);
    cJSON_Delete(header);
    cJSON_free(payload);
    otrp__jose_key_free(aik);
    if (st != OTRP_OK) {
        DETAIL(tee, "cannot sign TAInformation: %s", otrp_strerror(st));
        return st == OTRP_ERR_NO_MEMORY ? st : OTRP_ERR_TEE_FAIL;
    }
    cJSON *outer = cJSON_CreateObject();
    char *text = NULL;
    if (outer != NULL) {
        cJSON_AddItemToObject(outer, "TAInformation", jws);
        text = cJSON_PrintUnformatted(outer);
    } else {
        cJSON_Delete(jws);
    }
    cJSON_Delete(outer);
    if (text == NULL)
        return OTRP_ERR_NO_MEMORY;
    otrp_buf_reset(out);
    st = otrp_buf_append_str(out, text);
    cJSON_free(text);
    return st;
}
