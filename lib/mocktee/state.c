/*
 * The state document, one JSON file (state/state.json) that every operation replaces
 * atomically:
 *   {"format": "otrp-mocktee-state/3",
 *    "tee": <did of the TEE certificate: state of another identity is foreign>,
 *    "sds": [{"name", "spid", "tamid", "spcerts": [b64 DER],
 *             "tas": [{"taid", "bin": <blob> | "bin_inline": b64, "bin_len",
 *                      "pdata": <blob> | "pdata_inline": b64 (optional), "pdata_len",
 *                      "signer": b64 SP cert, "tamcert": b64, "tamcacerts": [b64]}]}],
 *    "spaiks": [{"tamid", "spid", "key": <blob: PKCS#8 PEM>, "pub": b64 SPKI DER}],
 *    "dsirefs": [{"tamid", "hash": b64 SHA-256 of the last DSI sent to that TAM}],
 *    "requested": [{"taid", "uri", "tamid"?}], "unneeded": [{"taid", "uri", "tamid"?}],
 *    "tambinds": [{"uri", "tamid"}]}
 * SDs are keyed by (tamid, name), SP AIKs by (tamid, spid), TAs by (tamid, taid): each
 * TAM sees only its own (PROFILE P10). A list entry is the need of a TA from the TAM
 * the TEE chose for it (tams.c); tambinds are the TAMs learnt behind TAM URIs.
 * Blobs are named by their hex SHA-256 and written before the document that names them;
 * data of at most OTRP__MOCK_INLINE_MAX bytes is inline instead.
 * Older formats are read and migrated; the next commit writes /3. /1 is /2 without
 * inline data. /2 had no TAM keys on SP AIKs and lists: an SP AIK goes to every TAM with
 * an SD of its SP (two TAMs of one SP id shared it; they keep it until one renews), a
 * requested TA to the TEE's own TAM, an unneeded TA to the TAM whose SD holds it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mocktee/mocktee.h"
#include "util/base64.h"
#include "util/detail.h"
#include "util/json_strict.h"
#include "util/mem.h"

#define STATE_FORMAT "otrp-mocktee-state/3"
#define STATE_FORMAT_V2 "otrp-mocktee-state/2"
#define STATE_FORMAT_V1 "otrp-mocktee-state/1"
/* The state document nests 5 levels (root, sds, sd, tas, ta). */
#define STATE_MAX_DEPTH 8

otrp_status otrp__mock_blob_name(const void *data, size_t len, char name[65])
{
    uint8_t d[32];
    otrp_status st = otrp__jose_sha256(data, len, d);
    if (st != OTRP_OK)
        return st;
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof d; i++) {
        name[2 * i] = hex[d[i] >> 4];
        name[2 * i + 1] = hex[d[i] & 15];
    }
    name[64] = '\0';
    return OTRP_OK;
}

otrp_status otrp__mock_blob_read(otrp__mock *tee, const char *name, otrp_buf *out)
{
    otrp_status st = otrp__mock_store_get_blob(&tee->store, name, OTRP__MOCK_MAX_TA + 4096u, out);
    if (st != OTRP_OK)
        return st == OTRP_ERR_NOT_FOUND ? OTRP_ERR_STATE_CORRUPT : st;
    char actual[65];
    st = otrp__mock_blob_name(out->data, out->len, actual);
    if (st != OTRP_OK)
        return st;
    return strcmp(actual, name) == 0 ? OTRP_OK : OTRP_ERR_STATE_CORRUPT;
}

/* The member names of a TA's stored data: key ("bin", "pdata"), inline and length. */
struct data_keys {
    char inline_key[16];
    char len_key[16];
};

static void data_keys(const char *key, struct data_keys *k)
{
    (void)snprintf(k->inline_key, sizeof k->inline_key, "%s_inline", key);
    (void)snprintf(k->len_key, sizeof k->len_key, "%s_len", key);
}

otrp_status otrp__mock_ta_data(otrp__mock *tee, const cJSON *ta, const char *key,
                               otrp_buf *out)
{
    struct data_keys k;
    data_keys(key, &k);
    const char *name = otrp__json_string(ta, key);
    const char *in = otrp__json_string(ta, k.inline_key);
    otrp_buf_reset(out);
    if (name != NULL)
        return otrp__mock_blob_read(tee, name, out);
    if (in == NULL)
        return OTRP_ERR_NOT_FOUND;
    size_t n = strlen(in), len = 0;
    otrp_status st = otrp_buf_append(out, NULL, 0);
    if (st == OTRP_OK && n > 0) {
        uint8_t *tmp = malloc(otrp__b64_decoded_max(n));
        if (tmp == NULL)
            return OTRP_ERR_NO_MEMORY;
        st = otrp__b64_decode(in, n, tmp, &len, OTRP__B64_STD) == OTRP_OK
                 ? otrp_buf_append(out, tmp, len)
                 : OTRP_ERR_STATE_CORRUPT;
        free(tmp);
    }
    return st;
}

/* ---- validation of a loaded document ---------------------------------------------- */

struct checker {
    otrp__mock *tee;
    char *detail;
    size_t cap;
};

static otrp_status corrupt(struct checker *c, const char *what, const char *name)
{
    if (c->detail != NULL && c->cap > 0)
        (void)snprintf(c->detail, c->cap, "%s/state/state.json: %s%s%.80s%s", c->tee->dir, what,
                       name != NULL ? " ('" : "", name != NULL ? name : "",
                       name != NULL ? "')" : "");
    return OTRP_ERR_STATE_CORRUPT;
}

static int is_id(const cJSON *item)
{
    return cJSON_IsString(item) && otrp__mock_id_valid(item->valuestring);
}

static int is_b64(const cJSON *item)
{
    if (!cJSON_IsString(item))
        return 0;
    size_t n = strlen(item->valuestring);
    if (n == 0 || n > 64u * 1024u)
        return 0;
    uint8_t *tmp = malloc(otrp__b64_decoded_max(n) + 1);
    if (tmp == NULL)
        return 0;
    size_t len = 0;
    int ok = otrp__b64_decode(item->valuestring, n, tmp, &len, OTRP__B64_STD) == OTRP_OK;
    free(tmp);
    return ok;
}

static int is_b64_array(const cJSON *item)
{
    if (!cJSON_IsArray(item))
        return 0;
    for (const cJSON *e = item->child; e != NULL; e = e->next)
        if (!is_b64(e))
            return 0;
    return 1;
}

/* A blob reference: a valid name whose file exists, of the recorded size (len; -1: the
 * record has none). */
static otrp_status check_blob(struct checker *c, const cJSON *name, int64_t len,
                              const char *what)
{
    if (!cJSON_IsString(name) || !otrp__mock_blob_name_valid(name->valuestring))
        return corrupt(c, "bad blob reference in ", what);
    uint64_t size = 0;
    otrp_status st = otrp__mock_store_blob_size(&c->tee->store, name->valuestring, &size);
    if (st == OTRP_ERR_NOT_FOUND)
        return corrupt(c, "missing blob of ", what);
    if (st != OTRP_OK)
        return st;
    if (len >= 0 && (uint64_t)len != size)
        return corrupt(c, "blob size differs from the record of ", what);
    return OTRP_OK;
}

/* Inline data: standard base64 of exactly the recorded length (at most
 * OTRP__MOCK_INLINE_MAX, checked by the caller). */
static int inline_ok(const cJSON *item, int64_t len)
{
    if (!cJSON_IsString(item))
        return 0;
    size_t n = strlen(item->valuestring);
    /* otrp__b64_decoded_max() of the longest encoding of OTRP__MOCK_INLINE_MAX bytes */
    uint8_t tmp[(OTRP__MOCK_INLINE_MAX + 2) / 3 * 3 + 3];
    size_t got = 0;
    return otrp__b64_decoded_max(n) <= sizeof tmp &&
           otrp__b64_decode(item->valuestring, n, tmp, &got, OTRP__B64_STD) == OTRP_OK &&
           (uint64_t)got == (uint64_t)len;
}

/* A TA's bin or pdata (key): a blob or inline data, never both; required or optional.
 * Its length member is checked whenever present: every later use of it (the storage
 * quota) converts it to an integer. */
static otrp_status check_data(struct checker *c, const cJSON *ta, const char *key, int required,
                              const char *id)
{
    struct data_keys k;
    data_keys(key, &k);
    const cJSON *blob = otrp__json_member(ta, key);
    const cJSON *in = otrp__json_member(ta, k.inline_key);
    const cJSON *len = otrp__json_member(ta, k.len_key);
    char what[96];
    if (blob != NULL && in != NULL)
        return corrupt(c, "both a blob and inline data in TA", id);
    if (blob == NULL && in == NULL) {
        if (len == NULL)
            return required ? check_blob(c, blob, -1, id) : OTRP_OK;
        (void)snprintf(what, sizeof what, "'%s' recorded without '%s' data in TA", k.len_key,
                       key);
        return corrupt(c, what, id);
    }
    int64_t max = in != NULL ? OTRP__MOCK_INLINE_MAX : OTRP__MOCK_MAX_TA, n = 0;
    if (!otrp__json_int_in(len, 0, max, &n)) {
        (void)snprintf(what, sizeof what, "'%s' missing or not an integer in 0..%lld in TA",
                       k.len_key, (long long)max);
        return corrupt(c, what, id);
    }
    if (in != NULL)
        return inline_ok(in, n) ? OTRP_OK : corrupt(c, "malformed inline data of TA", id);
    return check_blob(c, blob, n, id);
}

static otrp_status check_ta(struct checker *c, const cJSON *ta)
{
    const cJSON *taid = otrp__json_member(ta, "taid");
    if (!cJSON_IsObject(ta) || !is_id(taid))
        return corrupt(c, "malformed TA record", NULL);
    const char *id = taid->valuestring;
    otrp_status st = check_data(c, ta, "bin", 1, id);
    if (st == OTRP_OK)
        st = check_data(c, ta, "pdata", 0, id);
    if (st == OTRP_OK && (!is_b64(otrp__json_member(ta, "signer")) ||
                          !is_b64(otrp__json_member(ta, "tamcert")) ||
                          !is_b64_array(otrp__json_member(ta, "tamcacerts"))))
        st = corrupt(c, "malformed certificates of TA", id);
    return st;
}

/* A tamid (a certificate's Subject CN): 1..OTRP__MOCK_MAX_TAMID bytes. */
static int is_tamid(const cJSON *item)
{
    return cJSON_IsString(item) && item->valuestring[0] != '\0' &&
           strlen(item->valuestring) <= OTRP__MOCK_MAX_TAMID;
}

/* A TAM URI as the TEE keeps it: at most OTRP__MOCK_MAX_URI bytes, "" allowed. */
static int is_uri(const cJSON *item)
{
    return cJSON_IsString(item) && strlen(item->valuestring) <= OTRP__MOCK_MAX_URI;
}

static otrp_status check_sd(struct checker *c, const cJSON *sd, const cJSON *sds)
{
    const cJSON *name = otrp__json_member(sd, "name");
    const cJSON *tamid = otrp__json_member(sd, "tamid");
    if (!cJSON_IsObject(sd) || !is_id(name))
        return corrupt(c, "malformed SD record", NULL);
    const char *n = name->valuestring;
    if (!is_id(otrp__json_member(sd, "spid")) || !is_tamid(tamid) ||
        !is_b64_array(otrp__json_member(sd, "spcerts")))
        return corrupt(c, "malformed SD", n);
    for (const cJSON *o = sds->child; o != sd; o = o->next)
        if (strcmp(otrp__json_string(o, "name"), n) == 0 &&
            strcmp(otrp__json_string(o, "tamid"), tamid->valuestring) == 0)
            return corrupt(c, "duplicate SD", n);
    const cJSON *tas = otrp__json_member(sd, "tas");
    if (!cJSON_IsArray(tas))
        return corrupt(c, "malformed TA list of SD", n);
    for (const cJSON *ta = tas->child; ta != NULL; ta = ta->next) {
        otrp_status st = check_ta(c, ta);
        if (st != OTRP_OK)
            return st;
    }
    return OTRP_OK;
}

/* SP AIKs: keyed by (tamid, spid) from format /3 on, by spid before (legacy). */
static otrp_status check_spaiks(struct checker *c, const cJSON *root, int legacy)
{
    const cJSON *spaiks = otrp__json_member(root, "spaiks");
    if (!cJSON_IsArray(spaiks))
        return corrupt(c, "'spaiks' is not an array", NULL);
    for (const cJSON *k = spaiks->child; k != NULL; k = k->next) {
        if (!cJSON_IsObject(k) || !is_id(otrp__json_member(k, "spid")) ||
            !is_b64(otrp__json_member(k, "pub")) ||
            (!legacy && !is_tamid(otrp__json_member(k, "tamid"))))
            return corrupt(c, "malformed SP AIK record", NULL);
        const char *spid = otrp__json_string(k, "spid");
        const char *tamid = legacy ? NULL : otrp__json_string(k, "tamid");
        for (const cJSON *o = spaiks->child; o != k; o = o->next)
            if (strcmp(otrp__json_string(o, "spid"), spid) == 0 &&
                (legacy || strcmp(otrp__json_string(o, "tamid"), tamid) == 0))
                return corrupt(c, "duplicate SP AIK of", spid);
        otrp_status st = check_blob(c, otrp__json_member(k, "key"), -1, spid);
        if (st != OTRP_OK)
            return st;
    }
    return OTRP_OK;
}

/* A requested/unneeded entry: a TA id (legacy), or {"taid", "uri", "tamid"?}. */
static int is_entry(const cJSON *e, int legacy)
{
    if (legacy)
        return is_id(e);
    const cJSON *tamid = otrp__json_member(e, "tamid");
    return cJSON_IsObject(e) && is_id(otrp__json_member(e, "taid")) &&
           is_uri(otrp__json_member(e, "uri")) && (tamid == NULL || is_tamid(tamid));
}

static otrp_status check_lists(struct checker *c, const cJSON *root, int legacy)
{
    otrp_status st = check_spaiks(c, root, legacy);
    if (st != OTRP_OK)
        return st;
    const cJSON *refs = otrp__json_member(root, "dsirefs");
    if (!cJSON_IsArray(refs))
        return corrupt(c, "'dsirefs' is not an array", NULL);
    for (const cJSON *r = refs->child; r != NULL; r = r->next)
        if (!cJSON_IsObject(r) || !cJSON_IsString(otrp__json_member(r, "tamid")) ||
            !is_b64(otrp__json_member(r, "hash")))
            return corrupt(c, "malformed DSI reference", NULL);
    const char *lists[] = {"requested", "unneeded"};
    for (size_t i = 0; i < 2; i++) {
        const cJSON *l = otrp__json_member(root, lists[i]);
        if (!cJSON_IsArray(l))
            return corrupt(c, "missing list", lists[i]);
        for (const cJSON *e = l->child; e != NULL; e = e->next)
            if (!is_entry(e, legacy))
                return corrupt(c, "malformed entry in list", lists[i]);
    }
    if (legacy)
        return OTRP_OK;
    const cJSON *binds = otrp__json_member(root, "tambinds");
    if (!cJSON_IsArray(binds))
        return corrupt(c, "'tambinds' is not an array", NULL);
    for (const cJSON *b = binds->child; b != NULL; b = b->next)
        if (!cJSON_IsObject(b) || !is_uri(otrp__json_member(b, "uri")) ||
            otrp__json_string(b, "uri")[0] == '\0' || !is_tamid(otrp__json_member(b, "tamid")))
            return corrupt(c, "malformed TAM binding", NULL);
    return OTRP_OK;
}

/* *legacy: a format before /3, to be migrated. */
static otrp_status check_state(struct checker *c, const cJSON *root, int *legacy)
{
    if (!cJSON_IsObject(root))
        return corrupt(c, "not a JSON object", NULL);
    const char *format = otrp__json_string(root, "format");
    *legacy = format != NULL &&
              (strcmp(format, STATE_FORMAT_V2) == 0 || strcmp(format, STATE_FORMAT_V1) == 0);
    if (format == NULL || (strcmp(format, STATE_FORMAT) != 0 && !*legacy))
        return corrupt(c, "not a mock TEE state document (format is not " STATE_FORMAT ")",
                       NULL);
    const char *owner = otrp__json_string(root, "tee");
    if (owner == NULL || strcmp(owner, c->tee->did) != 0)
        return corrupt(c, "foreign state: it belongs to another TEE identity", NULL);
    const cJSON *sds = otrp__json_member(root, "sds");
    if (!cJSON_IsArray(sds))
        return corrupt(c, "'sds' is not an array", NULL);
    for (const cJSON *sd = sds->child; sd != NULL; sd = sd->next) {
        otrp_status st = check_sd(c, sd, sds);
        if (st != OTRP_OK)
            return st;
    }
    return check_lists(c, root, *legacy);
}

/* ---- migration from formats /1 and /2 ------------------------------------------------ */

/* An entry {"taid", "uri", "tamid"?} (tamid NULL: none). */
static cJSON *new_entry(const char *taid, const char *uri, const char *tamid)
{
    cJSON *e = cJSON_CreateObject();
    if (e == NULL || cJSON_AddStringToObject(e, "taid", taid) == NULL ||
        cJSON_AddStringToObject(e, "uri", uri) == NULL ||
        (tamid != NULL && cJSON_AddStringToObject(e, "tamid", tamid) == NULL)) {
        cJSON_Delete(e);
        return NULL;
    }
    return e;
}

/* 1 when an SD before sd (in state order) has the same SP id and TAM as sd. */
static int tam_seen_before(const cJSON *sds, const cJSON *sd)
{
    for (const cJSON *o = sds->child; o != sd; o = o->next)
        if (strcmp(otrp__json_string(o, "spid"), otrp__json_string(sd, "spid")) == 0 &&
            strcmp(otrp__json_string(o, "tamid"), otrp__json_string(sd, "tamid")) == 0)
            return 1;
    return 0;
}

/* spaiks: each record once per TAM with an SD of its SP (the same key pair). An SP AIK
 * no SD uses is not kept (format /2 dropped them itself; no TAM could reach one). */
static otrp_status migrate_spaiks(cJSON *root)
{
    const cJSON *sds = otrp__json_member(root, "sds");
    cJSON *old = cJSON_DetachItemFromObjectCaseSensitive(root, "spaiks");
    cJSON *now = cJSON_AddArrayToObject(root, "spaiks");
    otrp_status st = now != NULL ? OTRP_OK : OTRP_ERR_NO_MEMORY;
    for (const cJSON *k = old->child; k != NULL && st == OTRP_OK; k = k->next)
        for (const cJSON *sd = sds->child; sd != NULL && st == OTRP_OK; sd = sd->next) {
            if (strcmp(otrp__json_string(sd, "spid"), otrp__json_string(k, "spid")) != 0 ||
                tam_seen_before(sds, sd))
                continue;
            cJSON *rec = cJSON_Duplicate(k, 1);
            if (rec == NULL ||
                cJSON_AddStringToObject(rec, "tamid", otrp__json_string(sd, "tamid")) == NULL ||
                !cJSON_AddItemToArray(now, rec)) {
                cJSON_Delete(rec);
                st = OTRP_ERR_NO_MEMORY;
            }
        }
    cJSON_Delete(old);
    return st;
}

/* requested: needs of the TEE's own TAM; unneeded: of the TAM whose SD holds the TA
 * (format /2 let a TA id exist once in the TEE; an unneeded TA nobody has is done). */
static otrp_status migrate_lists(const otrp__mock *tee, cJSON *root)
{
    const char *lists[] = {"requested", "unneeded"};
    for (size_t i = 0; i < 2; i++) {
        cJSON *old = cJSON_DetachItemFromObjectCaseSensitive(root, lists[i]);
        cJSON *now = cJSON_AddArrayToObject(root, lists[i]);
        otrp_status st = now != NULL ? OTRP_OK : OTRP_ERR_NO_MEMORY;
        for (const cJSON *e = old->child; e != NULL && st == OTRP_OK; e = e->next) {
            const char *taid = e->valuestring;
            cJSON *entry = NULL;
            if (i == 0) {
                entry = new_entry(taid, tee->cfg.tam_uri,
                                  tee->cfg.tam_id[0] != '\0' ? tee->cfg.tam_id : NULL);
            } else {
                cJSON *sd = NULL;
                for (sd = otrp__json_member(root, "sds")->child;
                     sd != NULL && otrp__mock_ta_find(sd, taid) == NULL; sd = sd->next)
                    ;
                if (sd == NULL)
                    continue;
                entry = new_entry(taid, "", otrp__json_string(sd, "tamid"));
            }
            if (entry == NULL || !cJSON_AddItemToArray(now, entry)) {
                cJSON_Delete(entry);
                st = OTRP_ERR_NO_MEMORY;
            }
        }
        cJSON_Delete(old);
        if (st != OTRP_OK)
            return st;
    }
    return OTRP_OK;
}

static otrp_status migrate(const otrp__mock *tee, cJSON *root)
{
    otrp_status st = migrate_spaiks(root);
    if (st == OTRP_OK)
        st = migrate_lists(tee, root);
    if (st == OTRP_OK && cJSON_AddArrayToObject(root, "tambinds") == NULL)
        st = OTRP_ERR_NO_MEMORY;
    return st;
}

/* ---- blob garbage collection -------------------------------------------------------- */

static int refers(const cJSON *item, const char *name)
{
    return cJSON_IsString(item) && strcmp(item->valuestring, name) == 0;
}

static int keep_blob(const char *name, void *user)
{
    const cJSON *state = user;
    for (const cJSON *k = otrp__json_member(state, "spaiks")->child; k != NULL; k = k->next)
        if (refers(otrp__json_member(k, "key"), name))
            return 1;
    for (const cJSON *sd = otrp__json_member(state, "sds")->child; sd != NULL; sd = sd->next)
        for (const cJSON *ta = otrp__json_member(sd, "tas")->child; ta != NULL; ta = ta->next)
            if (refers(otrp__json_member(ta, "bin"), name) ||
                refers(otrp__json_member(ta, "pdata"), name))
                return 1;
    return 0;
}

static cJSON *empty_state(const otrp__mock *tee)
{
    cJSON *s = cJSON_CreateObject();
    if (s == NULL)
        return NULL;
    if (cJSON_AddStringToObject(s, "format", STATE_FORMAT) == NULL ||
        cJSON_AddStringToObject(s, "tee", tee->did) == NULL ||
        cJSON_AddArrayToObject(s, "sds") == NULL || cJSON_AddArrayToObject(s, "spaiks") == NULL ||
        cJSON_AddArrayToObject(s, "dsirefs") == NULL ||
        cJSON_AddArrayToObject(s, "requested") == NULL ||
        cJSON_AddArrayToObject(s, "unneeded") == NULL ||
        cJSON_AddArrayToObject(s, "tambinds") == NULL) {
        cJSON_Delete(s);
        return NULL;
    }
    return s;
}

otrp_status otrp__mock_state_load(otrp__mock *tee, char *detail, size_t cap)
{
    otrp_buf text = {0};
    otrp_status st = otrp__mock_store_read_state(&tee->store, OTRP__MOCK_MAX_STATE, &text);
    cJSON *root = NULL;
    struct checker c = {tee, detail, cap};
    int legacy = 0;
    if (st == OTRP_ERR_NOT_FOUND) {
        root = empty_state(tee);
        st = root != NULL ? OTRP_OK : OTRP_ERR_NO_MEMORY;
    } else if (st == OTRP_ERR_TOO_LARGE) {
        st = corrupt(&c, "too large", NULL);
    } else if (st == OTRP_ERR_UNSUPPORTED) {
        st = otrp__fail(detail, cap, OTRP_ERR_IO, "%s/state/state.json is not a regular file "
                        "(a FIFO, device, directory or symbolic link)", tee->dir);
    } else if (st != OTRP_OK) {
        if (detail != NULL && cap > 0)
            (void)snprintf(detail, cap, "%s/state/state.json cannot be read", tee->dir);
    } else {
        char why[128] = "";
        st = otrp__json_parse((const char *)text.data, text.len, STATE_MAX_DEPTH, &root, why,
                              sizeof why);
        if (st != OTRP_OK)
            st = corrupt(&c, "not valid JSON: ", why);
        else
            st = check_state(&c, root, &legacy);
    }
    otrp_buf_free(&text);
    if (st != OTRP_OK) {
        cJSON_Delete(root);
        return st;
    }
    /* An older document is migrated in memory; the next commit writes it as /3. */
    if (legacy)
        st = migrate(tee, root);
    if (st == OTRP_OK) {
        cJSON_ReplaceItemInObjectCaseSensitive(root, "format", cJSON_CreateString(STATE_FORMAT));
        if (!cJSON_IsString(otrp__json_member(root, "format")))
            st = OTRP_ERR_NO_MEMORY;
    }
    if (st != OTRP_OK) {
        cJSON_Delete(root);
        return st;
    }
    tee->state = root;
    /* Blobs of an interrupted operation (written before a state that never came). */
    otrp__mock_store_gc(&tee->store, keep_blob, tee->state);
    return OTRP_OK;
}

otrp_status otrp__mock_state_commit(otrp__mock *tee, cJSON *next)
{
    if (tee->fault & (OTRP__MOCK_FAULT_COMMIT | OTRP__MOCK_FAULT_COMMIT_ALWAYS)) {
        tee->fault &= ~OTRP__MOCK_FAULT_COMMIT;
        cJSON_Delete(next);
        return OTRP_ERR_IO;
    }
    char *text = cJSON_PrintUnformatted(next);
    if (text == NULL) {
        cJSON_Delete(next);
        return OTRP_ERR_NO_MEMORY;
    }
    otrp_status st = otrp__mock_store_write_state(&tee->store, text, strlen(text));
    cJSON_free(text);
    if (st != OTRP_OK) {
        cJSON_Delete(next);
        return st;
    }
    cJSON_Delete(tee->state);
    tee->state = next;
    otrp__mock_store_gc(&tee->store, keep_blob, tee->state);
    return OTRP_OK;
}

/* ---- lookups -------------------------------------------------------------------------- */

static cJSON *find_by(const cJSON *array, const char *key, const char *value)
{
    for (cJSON *e = array != NULL ? array->child : NULL; e != NULL; e = e->next) {
        const char *v = otrp__json_string(e, key);
        if (v != NULL && strcmp(v, value) == 0)
            return e;
    }
    return NULL;
}

/* The element of array whose key is value and whose "tamid" is tamid. */
static cJSON *find_of_tam(const cJSON *array, const char *tamid, const char *key,
                          const char *value)
{
    for (cJSON *e = array != NULL ? array->child : NULL; e != NULL; e = e->next) {
        const char *v = otrp__json_string(e, key), *t = otrp__json_string(e, "tamid");
        if (v != NULL && t != NULL && strcmp(v, value) == 0 && strcmp(t, tamid) == 0)
            return e;
    }
    return NULL;
}

cJSON *otrp__mock_sd_find(const cJSON *state, const char *tamid, const char *sdname)
{
    return find_of_tam(otrp__json_member(state, "sds"), tamid, "name", sdname);
}

cJSON *otrp__mock_ta_find(const cJSON *sd, const char *taid)
{
    return find_by(otrp__json_member(sd, "tas"), "taid", taid);
}

cJSON *otrp__mock_ta_find_any(const cJSON *state, const char *tamid, const char *taid,
                              cJSON **sd_out)
{
    for (cJSON *sd = otrp__json_member(state, "sds")->child; sd != NULL; sd = sd->next) {
        cJSON *ta = strcmp(otrp__json_string(sd, "tamid"), tamid) == 0
                        ? otrp__mock_ta_find(sd, taid)
                        : NULL;
        if (ta != NULL) {
            if (sd_out != NULL)
                *sd_out = sd;
            return ta;
        }
    }
    return NULL;
}

cJSON *otrp__mock_spaik_find(const cJSON *state, const char *tamid, const char *spid)
{
    return find_of_tam(otrp__json_member(state, "spaiks"), tamid, "spid", spid);
}

uint64_t otrp__mock_storage_used(const cJSON *state)
{
    uint64_t used = 0;
    for (const cJSON *sd = otrp__json_member(state, "sds")->child; sd != NULL; sd = sd->next)
        for (const cJSON *ta = otrp__json_member(sd, "tas")->child; ta != NULL; ta = ta->next) {
            const cJSON *b = otrp__json_member(ta, "bin_len");
            const cJSON *p = otrp__json_member(ta, "pdata_len");
            used += b != NULL ? (uint64_t)b->valuedouble : 0;
            used += p != NULL ? (uint64_t)p->valuedouble : 0;
        }
    return used;
}

const char *otrp__mock_dsi_ref(const cJSON *state, const char *tamid)
{
    const cJSON *r = find_by(otrp__json_member(state, "dsirefs"), "tamid", tamid);
    return r != NULL ? otrp__json_string(r, "hash") : NULL;
}

otrp_status otrp__mock_set_dsi_ref(cJSON *state, const char *tamid, const char *dsi)
{
    uint8_t d[32];
    char b64[48];
    otrp_status st = otrp__jose_sha256(dsi, strlen(dsi), d);
    if (st != OTRP_OK)
        return st;
    otrp__b64_encode(d, sizeof d, b64, OTRP__B64_STD);
    cJSON *refs = cJSON_GetObjectItemCaseSensitive(state, "dsirefs");
    /* Replace: delete the old record (if any), then append the new one. */
    int i = 0;
    for (cJSON *e = refs->child; e != NULL; e = e->next, i++) {
        const char *v = otrp__json_string(e, "tamid");
        if (v != NULL && strcmp(v, tamid) == 0) {
            cJSON_DeleteItemFromArray(refs, i);
            break;
        }
    }
    cJSON *n = cJSON_CreateObject();
    if (n == NULL || cJSON_AddStringToObject(n, "tamid", tamid) == NULL ||
        cJSON_AddStringToObject(n, "hash", b64) == NULL) {
        cJSON_Delete(n);
        return OTRP_ERR_NO_MEMORY;
    }
    cJSON_AddItemToArray(refs, n);
    return OTRP_OK;
}

int otrp__mock_list_has(const cJSON *array, const char *value)
{
    for (const cJSON *e = array->child; e != NULL; e = e->next)
        if (cJSON_IsString(e) && strcmp(e->valuestring, value) == 0)
            return 1;
    return 0;
}

/* ---- the DSI (PROFILE P6) ------------------------------------------------------------ */

static otrp_status add_cert_b64(cJSON *parent, const char *key, const uint8_t *der, size_t len)
{
    char *b64 = malloc(otrp__b64_encoded_len(len, OTRP__B64_STD) + 1);
    if (b64 == NULL)
        return OTRP_ERR_NO_MEMORY;
    otrp__b64_encode(der, len, b64, OTRP__B64_STD);
    cJSON *s = cJSON_CreateString(b64);
    free(b64);
    if (s == NULL)
        return OTRP_ERR_NO_MEMORY;
    if (key != NULL)
        cJSON_AddItemToObject(parent, key, s);
    else
        cJSON_AddItemToArray(parent, s);
    return OTRP_OK;
}

static otrp_status add_identity(const otrp__mock *tee, cJSON *t)
{
    size_t len = 0;
    const uint8_t *der = otrp__x509_certs_der(tee->certs, 0, &len);
    if (cJSON_AddStringToObject(t, "name", tee->cfg.name) == NULL ||
        cJSON_AddStringToObject(t, "ver", tee->cfg.version) == NULL)
        return OTRP_ERR_NO_MEMORY;
    otrp_status st = add_cert_b64(t, "cert", der, len);
    cJSON *ca = cJSON_AddArrayToObject(t, "cacert");
    if (ca == NULL)
        return OTRP_ERR_NO_MEMORY;
    for (size_t i = 1; i < otrp__x509_certs_count(tee->certs) && st == OTRP_OK; i++) {
        der = otrp__x509_certs_der(tee->certs, i, &len);
        st = add_cert_b64(ca, NULL, der, len);
    }
    return st;
}

static otrp_status add_sdlist(const cJSON *state, const char *tamid, cJSON *t, cJSON *aik)
{
    cJSON *sdlist = cJSON_AddObjectToObject(t, "sdlist");
    if (sdlist == NULL)
        return OTRP_ERR_NO_MEMORY;
    size_t count = 0;
    for (const cJSON *sd = otrp__json_member(state, "sds")->child; sd != NULL; sd = sd->next)
        count += strcmp(otrp__json_string(sd, "tamid"), tamid) == 0;
    char cnt[24];
    (void)snprintf(cnt, sizeof cnt, "%zu", count);
    cJSON *sds = NULL;
    if (cJSON_AddStringToObject(sdlist, "cnt", cnt) == NULL ||
        (sds = cJSON_AddArrayToObject(sdlist, "sd")) == NULL)
        return OTRP_ERR_NO_MEMORY;
    for (const cJSON *sd = otrp__json_member(state, "sds")->child; sd != NULL; sd = sd->next) {
        if (strcmp(otrp__json_string(sd, "tamid"), tamid) != 0)
            continue;
        const char *spid = otrp__json_string(sd, "spid");
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(sds, o);
        cJSON *talist = NULL;
        if (o == NULL || cJSON_AddStringToObject(o, "name", otrp__json_string(sd, "name")) == NULL ||
            cJSON_AddStringToObject(o, "spid", spid) == NULL ||
            (talist = cJSON_AddArrayToObject(o, "talist")) == NULL)
            return OTRP_ERR_NO_MEMORY;
        for (const cJSON *ta = otrp__json_member(sd, "tas")->child; ta != NULL; ta = ta->next) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddItemToArray(talist, e);
            if (e == NULL || cJSON_AddStringToObject(e, "taid", otrp__json_string(ta, "taid")) == NULL)
                return OTRP_ERR_NO_MEMORY;
        }
        /* teeaiklist: the SP AIKs of the SPs that have an SD of this TAM, once each. */
        int listed = 0;
        for (const cJSON *a = aik->child; a != NULL; a = a->next)
            listed |= strcmp(otrp__json_string(a, "spid"), spid) == 0;
        const cJSON *k = otrp__mock_spaik_find(state, tamid, spid);
        if (!listed && k != NULL) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddItemToArray(aik, e);
            if (e == NULL || cJSON_AddStringToObject(e, "spaik", otrp__json_string(k, "pub")) == NULL ||
                cJSON_AddStringToObject(e, "spaiktype", "RSA") == NULL ||
                cJSON_AddStringToObject(e, "spid", spid) == NULL)
                return OTRP_ERR_NO_MEMORY;
        }
    }
    return OTRP_OK;
}

otrp_status otrp__mock_dsi(const otrp__mock *tee, const cJSON *state, const char *tamid,
                           int minimal, char **text)
{
    *text = NULL;
    cJSON *root = cJSON_CreateObject();
    cJSON *dsi = cJSON_AddObjectToObject(root, "dsi");
    cJSON *t = cJSON_AddObjectToObject(dsi, "tee");
    otrp_status st = t != NULL ? add_identity(tee, t) : OTRP_ERR_NO_MEMORY;
    if (st == OTRP_OK && !minimal) {
        cJSON *aik = cJSON_CreateArray();
        st = aik != NULL ? add_sdlist(state, tamid, t, aik) : OTRP_ERR_NO_MEMORY;
        if (aik != NULL)
            cJSON_AddItemToObject(t, "teeaiklist", aik);
        if (st == OTRP_OK)
            st = otrp__mock_add_dsi_list(t, "requestedtalist",
                                         otrp__json_member(state, "requested"), tamid);
        if (st == OTRP_OK)
            st = otrp__mock_add_dsi_list(t, "unneededtalist",
                                         otrp__json_member(state, "unneeded"), tamid);
    }
    if (st == OTRP_OK) {
        *text = cJSON_PrintUnformatted(root);
        if (*text == NULL)
            st = OTRP_ERR_NO_MEMORY;
    }
    cJSON_Delete(root);
    return st;
}
