/*
 * Which TAM the TEE chooses, and the requested/unneeded lists bound to it (PROFILE P10
 * "TAM URI" and "Isolation between TAMs"; the rules are in include/otrp/mocktee.h).
 *
 * The app and the agent are untrusted (OTrP-03 §14.8), so the caller's TAM URI is only a
 * hint: the TEE keeps the TAM of its own (tee.json tam_uri / tam_id) and adopts a hint
 * only when it has none or when the hint is on its allow-list (allowed_tams). A need is
 * recorded as {"taid", "uri", "tamid"?} for the TAM chosen for it: only that TAM sees it
 * in its DSI and only an install by that TAM satisfies it. When the TEE knows a URI but
 * not the identity of the TAM behind it, the first TAM whose GetDeviceState it verifies
 * after passing that URI back is bound to it for good ("tambinds" in the state).
 */
#include <string.h>

#include "mocktee/mocktee.h"
#include "util/json_strict.h"

static int same(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

static cJSON *list_of(cJSON *state, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(state, key);
}

/* The TAM identity learnt for uri (state "tambinds"), or NULL. */
static const char *learnt_tamid(const cJSON *state, const char *uri)
{
    for (const cJSON *b = otrp__json_member(state, "tambinds")->child; b != NULL; b = b->next)
        if (same(otrp__json_string(b, "uri"), uri))
            return otrp__json_string(b, "tamid");
    return NULL;
}

static const otrp__mock_tam *allowed(const otrp__mock_config *cfg, const char *uri,
                                     const char *tamid)
{
    for (size_t i = 0; i < cfg->n_allowed; i++)
        if ((uri != NULL && same(cfg->allowed_tams[i].uri, uri)) ||
            (tamid != NULL && same(cfg->allowed_tams[i].tamid, tamid)))
            return &cfg->allowed_tams[i];
    return NULL;
}

const char *otrp__mock_own_tamid(const otrp__mock *tee, const cJSON *state)
{
    if (tee->cfg.tam_id[0] != '\0')
        return tee->cfg.tam_id;
    return tee->cfg.tam_uri[0] != '\0' ? learnt_tamid(state, tee->cfg.tam_uri) : NULL;
}

void otrp__mock_choose(const otrp__mock *tee, const cJSON *state, const char *hint,
                       otrp__mock_choice *out)
{
    const char *h = hint != NULL ? hint : "";
    const otrp__mock_tam *a = h[0] != '\0' ? allowed(&tee->cfg, h, NULL) : NULL;
    if (a != NULL) {
        out->uri = a->uri;
        out->tamid = a->tamid;
        return;
    }
    /* The TEE's own TAM wins; without a URI of its own the hint is the address. Its
     * identity is tee.json's tam_id when given (a hint then only says where). */
    out->uri = tee->cfg.tam_uri[0] != '\0' ? tee->cfg.tam_uri : h;
    out->tamid = tee->cfg.tam_id[0] != '\0'
                     ? tee->cfg.tam_id
                     : (out->uri[0] != '\0' ? learnt_tamid(state, out->uri) : NULL);
}

/* ---- list entries ------------------------------------------------------------------- */

static const char *entry_tamid(const cJSON *e)
{
    return otrp__json_string(e, "tamid");
}

/* e is the need of taid (NULL: any) from the chosen TAM. */
static int entry_matches(const cJSON *e, const char *taid, const otrp__mock_choice *ch)
{
    if (taid != NULL && !same(otrp__json_string(e, "taid"), taid))
        return 0;
    const char *t = entry_tamid(e);
    if (ch->tamid != NULL)
        return same(t, ch->tamid);
    return t == NULL && same(otrp__json_string(e, "uri"), ch->uri);
}

static cJSON *find_entry(const cJSON *list, const char *taid, const otrp__mock_choice *ch)
{
    for (cJSON *e = list->child; e != NULL; e = e->next)
        if (entry_matches(e, taid, ch))
            return e;
    return NULL;
}

/* Bind e to the choice: its URI, and its TAM when known. */
static otrp_status assign(cJSON *e, const otrp__mock_choice *ch)
{
    cJSON *uri = cJSON_CreateString(ch->uri);
    if (uri == NULL || !cJSON_ReplaceItemInObjectCaseSensitive(e, "uri", uri)) {
        cJSON_Delete(uri);
        return OTRP_ERR_NO_MEMORY;
    }
    if (ch->tamid != NULL && cJSON_AddStringToObject(e, "tamid", ch->tamid) == NULL)
        return OTRP_ERR_NO_MEMORY;
    return OTRP_OK;
}

/* Entries not bound to a TAM yet follow the choice when the TEE has no TAM URI of its
 * own (the caller's hint is then all it has) or when they have no URI at all (made
 * before any was named); those of the chosen URI are bound once its TAM is known. An
 * entry that becomes a copy of another one is dropped. */
static otrp_status follow(const otrp__mock *tee, cJSON *list, const otrp__mock_choice *ch)
{
    if (ch->uri[0] == '\0')
        return OTRP_OK;
    int roaming = tee->cfg.tam_uri[0] == '\0';
    cJSON *e = list->child;
    while (e != NULL) {
        cJSON *next = e->next;
        const char *uri = otrp__json_string(e, "uri");
        int moves = entry_tamid(e) == NULL &&
                    (roaming || uri[0] == '\0' || (ch->tamid != NULL && same(uri, ch->uri)));
        if (moves) {
            cJSON *twin = find_entry(list, otrp__json_string(e, "taid"), ch);
            if (twin != NULL && twin != e) {
                cJSON_Delete(cJSON_DetachItemViaPointer(list, e));
            } else {
                otrp_status st = assign(e, ch);
                if (st != OTRP_OK)
                    return st;
            }
        }
        e = next;
    }
    return OTRP_OK;
}

static otrp_status follow_both(const otrp__mock *tee, cJSON *state, const otrp__mock_choice *ch)
{
    otrp_status st = follow(tee, list_of(state, "requested"), ch);
    return st == OTRP_OK ? follow(tee, list_of(state, "unneeded"), ch) : st;
}

static int installed_anywhere(const cJSON *state, const char *taid)
{
    for (const cJSON *sd = otrp__json_member(state, "sds")->child; sd != NULL; sd = sd->next)
        if (otrp__mock_ta_find(sd, taid) != NULL)
            return 1;
    return 0;
}

otrp_status otrp__mock_need(const otrp__mock *tee, cJSON *state, const char *taid, int wanted,
                            const otrp__mock_choice *ch, int *pending)
{
    *pending = 0;
    otrp_status st = follow_both(tee, state, ch);
    if (st != OTRP_OK)
        return st;
    cJSON *list = list_of(state, wanted ? "requested" : "unneeded");
    cJSON *other = list_of(state, wanted ? "unneeded" : "requested");
    cJSON *stale = find_entry(other, taid, ch);
    if (stale != NULL)
        cJSON_Delete(cJSON_DetachItemViaPointer(other, stale));
    /* Whether the chosen TAM has the TA; with that TAM not known yet, a request is
     * pending (settled once it is bound) and so is an unrequest of a TA someone has. */
    int installed = ch->tamid != NULL ? otrp__mock_ta_find_any(state, ch->tamid, taid, NULL) != NULL
                                      : installed_anywhere(state, taid);
    *pending = wanted ? !(ch->tamid != NULL && installed) : installed;
    if (!*pending || find_entry(list, taid, ch) != NULL)
        return OTRP_OK;
    if (cJSON_GetArraySize(list) >= OTRP__MOCK_MAX_PENDING)
        return OTRP_ERR_QUOTA;
    cJSON *e = cJSON_CreateObject();
    if (e == NULL || !cJSON_AddItemToArray(list, e)) {
        cJSON_Delete(e);
        return OTRP_ERR_NO_MEMORY;
    }
    if (cJSON_AddStringToObject(e, "taid", taid) == NULL ||
        cJSON_AddStringToObject(e, "uri", ch->uri) == NULL)
        return OTRP_ERR_NO_MEMORY;
    if (ch->tamid != NULL && cJSON_AddStringToObject(e, "tamid", ch->tamid) == NULL)
        return OTRP_ERR_NO_MEMORY;
    return OTRP_OK;
}

/* The URI and TAM of a bound entry: its own URI, else one the TEE knows for its TAM. */
static int route_of(const otrp__mock *tee, const cJSON *state, const cJSON *e,
                    otrp__mock_choice *out)
{
    const char *tamid = entry_tamid(e);
    if (tamid == NULL)
        return 0; /* only a choice binds it (a stale hint is no route) */
    out->tamid = tamid;
    out->uri = otrp__json_string(e, "uri");
    if (out->uri[0] != '\0')
        return 1;
    const otrp__mock_tam *a = allowed(&tee->cfg, NULL, tamid);
    if (same(otrp__mock_own_tamid(tee, state), tamid) && tee->cfg.tam_uri[0] != '\0')
        out->uri = tee->cfg.tam_uri;
    else if (a != NULL)
        out->uri = a->uri;
    for (const cJSON *b = otrp__json_member(state, "tambinds")->child;
         out->uri[0] == '\0' && b != NULL; b = b->next)
        if (same(otrp__json_string(b, "tamid"), tamid))
            out->uri = otrp__json_string(b, "uri");
    return out->uri[0] != '\0';
}

otrp_status otrp__mock_policy_choice(const otrp__mock *tee, cJSON *state, const char *hint,
                                     otrp__mock_choice *out)
{
    otrp__mock_choose(tee, state, hint, out);
    otrp_status st = follow_both(tee, state, out);
    if (st != OTRP_OK)
        return st;
    const char *lists[] = {"requested", "unneeded"};
    if (out->uri[0] != '\0')
        for (size_t i = 0; i < 2; i++)
            if (find_entry(list_of(state, lists[i]), NULL, out) != NULL)
                return OTRP_OK;
    for (size_t i = 0; i < 2; i++)
        for (const cJSON *e = list_of(state, lists[i])->child; e != NULL; e = e->next)
            if (route_of(tee, state, e, out))
                return OTRP_OK;
    out->uri = "";
    out->tamid = NULL;
    return OTRP_OK;
}

void otrp__mock_settle(cJSON *state)
{
    const char *lists[] = {"requested", "unneeded"};
    for (size_t i = 0; i < 2; i++) {
        cJSON *list = list_of(state, lists[i]);
        cJSON *e = list->child;
        while (e != NULL) {
            cJSON *next = e->next;
            const char *taid = otrp__json_string(e, "taid"), *tamid = entry_tamid(e);
            int has = tamid != NULL ? otrp__mock_ta_find_any(state, tamid, taid, NULL) != NULL
                                    : installed_anywhere(state, taid);
            /* a request is met by its TAM's install; a TA nobody (of its TAM) has is
             * no longer unneeded */
            int done = i == 0 ? tamid != NULL && has : !has;
            if (done)
                cJSON_Delete(cJSON_DetachItemViaPointer(list, e));
            e = next;
        }
    }
}

/* Remember uri -> tamid (the oldest binding goes when the list is full). */
static otrp_status learn(cJSON *state, const char *uri, const char *tamid)
{
    cJSON *binds = list_of(state, "tambinds");
    if (cJSON_GetArraySize(binds) >= OTRP__MOCK_MAX_TAMBINDS)
        cJSON_DeleteItemFromArray(binds, 0);
    cJSON *b = cJSON_CreateObject();
    if (b == NULL || !cJSON_AddItemToArray(binds, b)) {
        cJSON_Delete(b);
        return OTRP_ERR_NO_MEMORY;
    }
    if (cJSON_AddStringToObject(b, "uri", uri) == NULL ||
        cJSON_AddStringToObject(b, "tamid", tamid) == NULL)
        return OTRP_ERR_NO_MEMORY;
    return OTRP_OK;
}

otrp_status otrp__mock_bind_awaiting(const otrp__mock *tee, cJSON *state, const char *tamid)
{
    if (tee->awaiting[0] == '\0')
        return OTRP_OK;
    otrp__mock_choice ch = {tee->awaiting, tamid};
    otrp_status st = learnt_tamid(state, tee->awaiting) == NULL
                         ? learn(state, tee->awaiting, tamid)
                         : OTRP_OK;
    if (st == OTRP_OK)
        st = follow_both(tee, state, &ch);
    if (st != OTRP_OK)
        return st;
    otrp__mock_settle(state);
    return OTRP_OK;
}

otrp_status otrp__mock_add_dsi_list(cJSON *t, const char *key, const cJSON *list,
                                    const char *tamid)
{
    cJSON *l = cJSON_AddArrayToObject(t, key);
    if (l == NULL)
        return OTRP_ERR_NO_MEMORY;
    for (const cJSON *e = list->child; e != NULL; e = e->next) {
        if (!same(entry_tamid(e), tamid))
            continue;
        cJSON *o = cJSON_CreateObject();
        if (o == NULL || !cJSON_AddItemToArray(l, o) ||
            cJSON_AddStringToObject(o, "taid", otrp__json_string(e, "taid")) == NULL)
            return OTRP_ERR_NO_MEMORY;
    }
    return OTRP_OK;
}
