/* The OTrP operations of the mock TEE (reference 2.4..2.10, PROFILE P6..P8). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mocktee/request.h"
#include "util/base64.h"
#include "util/json_lift.h"
#include "util/json_strict.h"
#include "util/mem.h"

/* The whole message nests: outer, JWS, header, x5c; the payload is parsed apart. */
#define MESSAGE_MAX_DEPTH 8
/* SP AIK key pairs are RSA-2048 (PROFILE P7). */
#define SPAIK_BITS 2048u

#define FAIL otrp__mock_fail

/* ---- small helpers ------------------------------------------------------------------ */

static int oom(otrp__mock_req *r)
{
    return FAIL(r, "ERR_TEE_FAIL", "out of memory");
}

/* A P7 identifier member of the content. */
static const char *need_id(otrp__mock_req *r, const cJSON *obj, const char *key)
{
    const char *v = otrp__json_string(obj, key);
    if (v == NULL || !otrp__mock_id_valid(v)) {
        FAIL(r, "ERR_REQUEST_INVALID", "content.%s is missing or not 1..128 printable characters",
             key);
        return NULL;
    }
    return v;
}

static cJSON *get_array(cJSON *obj, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(obj, key);
}

/* The code of a bad SP certificate: ERR_SPCERT_INVALID where the draft lists it (CreateSD,
 * UpdateSD); an SP certificate that comes with InstallTA or UpdateTA is there to verify
 * the TA, so there the TA cannot be verified: ERR_TA_INVALID. */
static const char *spcert_error(const otrp__mock_req *r)
{
    otrp__mock_kind k = r->def->kind;
    return k == OTRP__MOCK_CREATE_SD || k == OTRP__MOCK_UPDATE_SD ? "ERR_SPCERT_INVALID"
                                                                  : "ERR_TA_INVALID";
}

/* Normalise one SP certificate (base64 or base64url DER) to standard base64 after checking
 * that it parses and has a usable key. NULL (and a failure recorded) otherwise. */
static char *spcert_normalise(otrp__mock_req *r, const char *b64)
{
    otrp__x509_certs *c = NULL;
    otrp__jose_key *k = NULL;
    char why[160] = "";
    char *out = NULL;
    if (otrp__x509_certs_new(&c) != OTRP_OK) {
        FAIL(r, "ERR_TEE_FAIL", "out of memory");
        return NULL;
    }
    otrp_status st = otrp__x509_certs_add_b64(c, b64, strlen(b64), why, sizeof why);
    if (st == OTRP_OK)
        st = otrp__x509_certs_public_key(c, 0, &k, why, sizeof why);
    if (st == OTRP_OK) {
        size_t len = 0;
        const uint8_t *der = otrp__x509_certs_der(c, 0, &len);
        out = malloc(otrp__b64_encoded_len(len, OTRP__B64_STD) + 1);
        if (out != NULL)
            otrp__b64_encode(der, len, out, OTRP__B64_STD);
        else
            FAIL(r, "ERR_TEE_FAIL", "out of memory");
    } else {
        FAIL(r, spcert_error(r), "spcert: %s", why);
    }
    otrp__jose_key_free(k);
    otrp__x509_certs_free(c);
    return out;
}

/* Add the certificates of a spcert member (a string or an array of strings, Q15) to the
 * SD's list (skipping ones it has). absent_ok: the member is optional. */
static int add_spcerts(otrp__mock_req *r, const cJSON *item, cJSON *list, int absent_ok)
{
    if (item == NULL) {
        if (absent_ok)
            return 0;
        return FAIL(r, "ERR_REQUEST_INVALID", "content.spcert is missing");
    }
    const cJSON *one = cJSON_IsString(item) ? item : NULL;
    if (one == NULL && !cJSON_IsArray(item))
        return FAIL(r, spcert_error(r), "spcert must be a base64 certificate or an array");
    const cJSON *e = one != NULL ? one : item->child;
    if (e == NULL && !absent_ok)
        return FAIL(r, spcert_error(r), "spcert is an empty array");
    for (; e != NULL; e = one != NULL ? NULL : e->next) {
        if (!cJSON_IsString(e))
            return FAIL(r, spcert_error(r), "spcert array holds a non-string");
        char *norm = spcert_normalise(r, e->valuestring);
        if (norm == NULL)
            return -1;
        int have = otrp__mock_list_has(list, norm);
        if (!have && cJSON_GetArraySize(list) >= OTRP__MOCK_MAX_SPCERTS) {
            free(norm);
            return FAIL(r, spcert_error(r), "an SD holds at most %d SP certificates",
                        OTRP__MOCK_MAX_SPCERTS);
        }
        if (!have && !cJSON_AddItemToArray(list, cJSON_CreateString(norm))) {
            free(norm);
            return oom(r);
        }
        free(norm);
    }
    return 0;
}

/* The signer's SD named in the content. Another TAM's SD of that name is not there for
 * it (PROFILE P10: a TAM does not learn what other TAMs have). */
static cJSON *owned_sd(otrp__mock_req *r, const char *sdname)
{
    cJSON *sd = otrp__mock_sd_find(r->next, r->tamid, sdname);
    if (sd == NULL)
        FAIL(r, "ERR_SD_NOT_FOUND", "no SD \"%.128s\"", sdname);
    return sd;
}

/* ---- SP AIKs ---------------------------------------------------------------------- */

/* Make a fresh SP AIK for the signer's spid in r->next (replacing an old one). */
static int make_spaik(otrp__mock_req *r, const char *spid)
{
    otrp__jose_key *key = NULL;
    otrp_buf pem = {0}, spki = {0};
    char why[128] = "";
    char name[65];
    otrp_status st = otrp__jose_key_generate(OTRP__JOSE_KTY_RSA, SPAIK_BITS, &key, why, sizeof why);
    if (st == OTRP_OK)
        st = otrp__jose_key_export_private_pem(key, &pem);
    if (st == OTRP_OK)
        st = otrp__jose_key_export_spki_der(key, &spki);
    if (st == OTRP_OK)
        st = otrp__mock_blob_name(pem.data, pem.len, name);
    if (st == OTRP_OK)
        st = otrp__mock_store_put_blob(&r->tee->store, name, pem.data, pem.len);
    otrp__jose_key_free(key);
    otrp_buf_free(&pem);
    if (st != OTRP_OK) {
        otrp_buf_free(&spki);
        return FAIL(r, "ERR_TEE_FAIL", "cannot make an SP AIK: %s", otrp_strerror(st));
    }
    char *pub = malloc(otrp__b64_encoded_len(spki.len, OTRP__B64_STD) + 1);
    if (pub != NULL)
        otrp__b64_encode(spki.data, spki.len, pub, OTRP__B64_STD);
    otrp_buf_free(&spki);
    cJSON *list = get_array(r->next, "spaiks");
    cJSON *old = otrp__mock_spaik_find(r->next, r->tamid, spid);
    if (old != NULL)
        cJSON_Delete(cJSON_DetachItemViaPointer(list, old));
    cJSON *rec = cJSON_CreateObject();
    if (pub == NULL || rec == NULL || cJSON_AddStringToObject(rec, "tamid", r->tamid) == NULL ||
        cJSON_AddStringToObject(rec, "spid", spid) == NULL ||
        cJSON_AddStringToObject(rec, "key", name) == NULL ||
        cJSON_AddStringToObject(rec, "pub", pub) == NULL) {
        free(pub);
        cJSON_Delete(rec);
        return oom(r);
    }
    free(pub);
    cJSON_AddItemToArray(list, rec);
    return 0;
}

/* Drop the SP AIKs of a TAM's SPs that have no SD of that TAM left (reference 2.7: MAY;
 * we do). */
static void drop_orphan_spaiks(cJSON *state)
{
    cJSON *list = get_array(state, "spaiks");
    for (cJSON *e = list->child; e != NULL;) {
        cJSON *next = e->next;
        const char *spid = otrp__json_string(e, "spid"), *tamid = otrp__json_string(e, "tamid");
        int used = 0;
        for (const cJSON *sd = otrp__json_member(state, "sds")->child; sd != NULL; sd = sd->next)
            used |= strcmp(otrp__json_string(sd, "spid"), spid) == 0 &&
                    strcmp(otrp__json_string(sd, "tamid"), tamid) == 0;
        if (!used)
            cJSON_Delete(cJSON_DetachItemViaPointer(list, e));
        e = next;
    }
}

static int add_teespaik(otrp__mock_req *r, const char *spid)
{
    const cJSON *k = otrp__mock_spaik_find(r->next, r->tamid, spid);
    if (k == NULL)
        return FAIL(r, "ERR_TEE_FAIL", "SP AIK of \"%.128s\" is missing", spid);
    if (cJSON_AddStringToObject(r->out_content, "teespaik", otrp__json_string(k, "pub")) == NULL ||
        cJSON_AddStringToObject(r->out_content, "teespaiktype", "RSA") == NULL)
        return oom(r);
    return 0;
}

/* ---- SD operations ------------------------------------------------------------------- */

static int op_create_sd(otrp__mock_req *r)
{
    const char *spid = need_id(r, r->content, "spid");
    const char *sdname = spid != NULL ? need_id(r, r->content, "sdname") : NULL;
    if (sdname == NULL)
        return -1;
    if (otrp__mock_sd_find(r->next, r->tamid, sdname) != NULL)
        return FAIL(r, "ERR_SD_ALREADY_EXISTS", "SD \"%.128s\" exists", sdname);
    if (cJSON_GetArraySize(otrp__json_member(r->next, "sds")) >= OTRP__MOCK_MAX_SDS)
        return FAIL(r, "ERR_TEE_RESOURCE_FULL", "the TEE holds at most %d SDs", OTRP__MOCK_MAX_SDS);
    cJSON *sd = cJSON_CreateObject();
    cJSON *certs = cJSON_CreateArray();
    if (sd == NULL || certs == NULL) {
        cJSON_Delete(sd);
        cJSON_Delete(certs);
        return oom(r);
    }
    cJSON_AddItemToArray(get_array(r->next, "sds"), sd);
    if (cJSON_AddStringToObject(sd, "name", sdname) == NULL ||
        cJSON_AddStringToObject(sd, "spid", spid) == NULL ||
        cJSON_AddStringToObject(sd, "tamid", r->tamid) == NULL) {
        cJSON_Delete(certs);
        return oom(r);
    }
    cJSON_AddItemToObject(sd, "spcerts", certs);
    if (cJSON_AddArrayToObject(sd, "tas") == NULL)
        return oom(r);
    if (add_spcerts(r, otrp__json_member(r->content, "spcert"), certs, 0) != 0)
        return -1;
    if (otrp__mock_spaik_find(r->next, r->tamid, spid) == NULL && make_spaik(r, spid) != 0)
        return -1;
    if (cJSON_AddStringToObject(r->out_content, "sdname", sdname) == NULL)
        return oom(r);
    return add_teespaik(r, spid);
}

/* deloldspcert: SHA-256 hex digests of SP certificates to remove. */
static int del_spcerts(otrp__mock_req *r, const cJSON *hashes, cJSON *certs)
{
    if (hashes == NULL)
        return 0;
    if (!cJSON_IsArray(hashes))
        return FAIL(r, "ERR_REQUEST_INVALID", "deloldspcert must be an array");
    for (const cJSON *h = hashes->child; h != NULL; h = h->next) {
        if (!cJSON_IsString(h) || strlen(h->valuestring) != 64)
            return FAIL(r, "ERR_REQUEST_INVALID", "deloldspcert holds a non-SHA-256-hex value");
        int i = 0, found = 0;
        for (cJSON *c = certs->child; c != NULL; c = c->next, i++) {
            size_t n = strlen(c->valuestring);
            uint8_t *der = malloc(otrp__b64_decoded_max(n) + 1);
            size_t len = 0;
            char name[65];
            if (der == NULL)
                return oom(r);
            found = otrp__b64_decode(c->valuestring, n, der, &len, OTRP__B64_STD) == OTRP_OK &&
                    otrp__mock_blob_name(der, len, name) == OTRP_OK &&
                    strncasecmp(name, h->valuestring, 64) == 0;
            free(der);
            if (found) {
                /* c is freed: the loop must not step on to c->next */
                cJSON_DeleteItemFromArray(certs, i);
                break;
            }
        }
        if (!found)
            return FAIL(r, "ERR_REQUEST_INVALID", "deloldspcert names no certificate of the SD");
    }
    return 0;
}

static int op_update_sd(otrp__mock_req *r)
{
    const char *spid = need_id(r, r->content, "spid");
    const char *sdname = spid != NULL ? need_id(r, r->content, "sdname") : NULL;
    cJSON *sd = sdname != NULL ? owned_sd(r, sdname) : NULL;
    if (sd == NULL)
        return -1;
    if (strcmp(otrp__json_string(sd, "spid"), spid) != 0)
        return FAIL(r, "ERR_REQUEST_INVALID", "SD \"%.128s\" is not an SD of SP \"%.128s\"",
                    sdname, spid);
    cJSON *changes = cJSON_GetObjectItemCaseSensitive(r->content, "changes");
    if (!cJSON_IsObject(changes))
        return FAIL(r, "ERR_REQUEST_INVALID", "content.changes is missing");
    const cJSON *newname = otrp__json_member(changes, "newsdname");
    const cJSON *newspid = otrp__json_member(changes, "newspid");
    if ((newname != NULL && !(cJSON_IsString(newname) && otrp__mock_id_valid(newname->valuestring))) ||
        (newspid != NULL && !(cJSON_IsString(newspid) && otrp__mock_id_valid(newspid->valuestring))))
        return FAIL(r, "ERR_REQUEST_INVALID", "newsdname/newspid must be 1..128 printable characters");
    const cJSON *renew_item = otrp__json_member(changes, "renewteespaik");
    int renew = renew_item != NULL ? otrp__mock_bool(renew_item) : 0;
    if (renew < 0)
        return FAIL(r, "ERR_REQUEST_INVALID", "renewteespaik is not a boolean");
    if (newname != NULL && strcmp(newname->valuestring, sdname) != 0) {
        if (otrp__mock_sd_find(r->next, r->tamid, newname->valuestring) != NULL)
            return FAIL(r, "ERR_SDNAME_ALREADY_USED", "SD name \"%.128s\" is in use",
                        newname->valuestring);
        cJSON_ReplaceItemInObjectCaseSensitive(sd, "name", cJSON_CreateString(newname->valuestring));
    }
    cJSON *certs = cJSON_GetObjectItemCaseSensitive(sd, "spcerts");
    if (del_spcerts(r, otrp__json_member(changes, "deloldspcert"), certs) != 0 ||
        add_spcerts(r, otrp__json_member(changes, "spcert"), certs, 1) != 0)
        return -1;
    const char *sp = spid;
    if (newspid != NULL && strcmp(newspid->valuestring, spid) != 0) {
        sp = newspid->valuestring;
        cJSON_ReplaceItemInObjectCaseSensitive(sd, "spid", cJSON_CreateString(sp));
        sp = otrp__json_string(sd, "spid");
        if (otrp__mock_spaik_find(r->next, r->tamid, sp) == NULL && make_spaik(r, sp) != 0)
            return -1;
        drop_orphan_spaiks(r->next);
    } else if (renew && make_spaik(r, sp) != 0) {
        return -1;
    }
    return add_teespaik(r, sp);
}

static int op_delete_sd(otrp__mock_req *r)
{
    const char *sdname = need_id(r, r->content, "sdname");
    cJSON *sd = sdname != NULL ? owned_sd(r, sdname) : NULL;
    if (sd == NULL)
        return -1;
    const cJSON *del_item = otrp__json_member(r->content, "deleteta");
    int deleteta = del_item != NULL ? otrp__mock_bool(del_item) : 0;
    if (deleteta < 0)
        return FAIL(r, "ERR_REQUEST_INVALID", "deleteta is not a boolean");
    cJSON *tas = cJSON_GetObjectItemCaseSensitive(sd, "tas");
    if (tas->child != NULL && !deleteta)
        return FAIL(r, "ERR_SD_NOT_EMPTY", "SD \"%.128s\" still holds TAs (deleteta is false)",
                    sdname);
    cJSON_Delete(cJSON_DetachItemViaPointer(get_array(r->next, "sds"), sd));
    drop_orphan_spaiks(r->next);
    return 0;
}

/* ---- TA operations ------------------------------------------------------------------- */

/* iv: 32 hex digits (P7), or base64url of 16 bytes (reference Q16). */
static int decode_iv(const char *text, uint8_t iv[16])
{
    size_t n = strlen(text);
    if (n == 32) {
        return otrp__hex_decode(text, 16, iv);
    }
    uint8_t tmp[24];
    size_t len = 0;
    if (n > 24 || otrp__b64_decode(text, n, tmp, &len, OTRP__B64_FIELD) != OTRP_OK || len != 16)
        return -1;
    memcpy(iv, tmp, 16);
    return 0;
}

/* The TA encryption key: the compact JWE `key`, unwrapped with the SP AIK of spid. */
static int unwrap_taek(otrp__mock_req *r, const cJSON *eta, const char *spid, uint8_t taek[32])
{
    const char *key = otrp__json_string(eta, "key");
    if (key == NULL)
        return FAIL(r, "ERR_REQUEST_INVALID", "encrypted_ta.key is missing");
    const cJSON *rec = otrp__mock_spaik_find(r->next, r->tamid, spid);
    if (rec == NULL)
        return FAIL(r, "ERR_TEE_FAIL", "SP AIK of \"%.128s\" is missing", spid);
    otrp_buf pem = {0}, cek = {0};
    otrp__jose_key *aik = NULL;
    char why[160] = "";
    otrp_status st = otrp__mock_blob_read(r->tee, otrp__json_string(rec, "key"), &pem);
    if (st == OTRP_OK)
        st = otrp__jose_key_load(pem.data, pem.len, &aik, NULL, 0);
    otrp_buf_free(&pem);
    if (st != OTRP_OK)
        return FAIL(r, "ERR_TEE_FAIL", "stored SP AIK of \"%.128s\" is unusable", spid);
    st = otrp__jwe_decrypt(key, strlen(key), aik, 0, &cek, NULL, why, sizeof why);
    otrp__jose_key_free(aik);
    int rc = 0;
    if (st == OTRP_ERR_JOSE_ALG || st == OTRP_ERR_JOSE_CRIT)
        rc = FAIL(r, "ERR_UNSUPPORTED_CRYPTO_ALG", "encrypted_ta.key: %s", why);
    else if (st != OTRP_OK)
        rc = FAIL(r, "ERR_TA_INVALID", "encrypted_ta.key cannot be decrypted with the SP AIK");
    else if (cek.len != 32)
        rc = FAIL(r, "ERR_TA_INVALID", "encrypted_ta.key is not a 256-bit AES key");
    else
        memcpy(taek, cek.data, 32);
    otrp_buf_free(&cek);
    return rc;
}

/* At least n bytes of the kept buffer b (its contents are not kept); NULL: no memory.
 * The ciphertext it holds is no secret, so it is not wiped between uses. */
static uint8_t *scratch(otrp_buf *b, size_t n)
{
    if (b->cap < n) {
        otrp_buf_free(b);
        b->data = malloc(n);
        if (b->data == NULL)
            return NULL;
        b->cap = n;
    }
    b->len = 0;
    return b->data;
}

/* Decrypt one cipher*data member with AES-256-CBC. absent: *present = 0. */
static int decrypt_member(otrp__mock_req *r, cJSON *eta, const char *name,
                          const uint8_t taek[32], const uint8_t iv[16], otrp_buf *out,
                          int *present)
{
    const cJSON *item = otrp__json_member(eta, name);
    *present = item != NULL;
    if (item == NULL)
        return 0;
    if (!cJSON_IsString(item))
        return FAIL(r, "ERR_REQUEST_INVALID", "encrypted_ta.%s is not a string", name);
    size_t n = strlen(item->valuestring);
    uint8_t *ct = scratch(&r->tee->scratch_ct, otrp__b64_decoded_max(n) + 1);
    if (ct == NULL)
        return oom(r);
    size_t len = 0;
    otrp_status st = otrp__b64_decode(item->valuestring, n, ct, &len, OTRP__B64_FIELD);
    /* Decoded: free the text (megabytes for a large TA), so that the next large buffers
     * of this request reuse its memory instead of fresh pages. */
    cJSON_DeleteItemFromObjectCaseSensitive(eta, name);
    if (st != OTRP_OK)
        return FAIL(r, "ERR_REQUEST_INVALID", "encrypted_ta.%s is not base64", name);
    if (len > (size_t)OTRP__MOCK_MAX_TA + 16u)
        return FAIL(r, "ERR_TEE_RESOURCE_FULL", "encrypted_ta.%s exceeds the TEE's TA size limit",
                    name);
    st = otrp__jose_aes256cbc_decrypt(taek, iv, ct, len, out);
    if (st != OTRP_OK)
        return FAIL(r, "ERR_TA_INVALID", "encrypted_ta.%s does not decrypt (AES-256-CBC)", name);
    return 0;
}

/* P7: the TA image is a compact JWS signed by one of the SD's SP certificates; on
 * success *out holds it (its payload is the TA binary) and *signer the certificate that
 * verified it. */
static int verify_image(otrp__mock_req *r, const cJSON *spcerts, const otrp_buf *image,
                        otrp__jws **out, const char **signer)
{
    otrp__jws *jws = NULL;
    char why[160] = "";
    otrp_status st = otrp__jws_parse((const char *)image->data, image->len, 0, &jws, why,
                                     sizeof why);
    if (st != OTRP_OK)
        return FAIL(r, "ERR_TA_INVALID", "TA image is not a JWS: %s", why);
    *signer = NULL;
    for (const cJSON *c = spcerts->child; c != NULL && *signer == NULL; c = c->next) {
        otrp__x509_certs *certs = NULL;
        otrp__jose_key *k = NULL;
        if (otrp__x509_certs_new(&certs) == OTRP_OK &&
            otrp__x509_certs_add_b64(certs, c->valuestring, strlen(c->valuestring), NULL, 0) == OTRP_OK &&
            otrp__x509_certs_public_key(certs, 0, &k, NULL, 0) == OTRP_OK &&
            otrp__jws_verify(jws, k, 0, NULL, 0) == OTRP_OK)
            *signer = c->valuestring;
        otrp__jose_key_free(k);
        otrp__x509_certs_free(certs);
    }
    size_t len = 0;
    (void)otrp__jws_payload(jws, &len);
    int rc = 0;
    if (*signer == NULL)
        rc = FAIL(r, "ERR_TA_INVALID",
                  "TA image is not signed by an SP certificate registered in the SD");
    else if (len == 0)
        rc = FAIL(r, "ERR_TA_INVALID", "TA image has an empty payload");
    if (rc != 0)
        otrp__jws_free(jws);
    else
        *out = jws; /* the binary stays where the JWS decoded it: no copy */
    return rc;
}

/* Record data as the TA's key ("bin", "pdata"): inline in the state document when small
 * (the commit is then one file), else as a blob written now (state.c describes both). */
static int store_data(otrp__mock_req *r, cJSON *ta, const char *key, const uint8_t *data,
                      size_t len)
{
    char inline_key[16], len_key[16];
    (void)snprintf(inline_key, sizeof inline_key, "%s_inline", key);
    (void)snprintf(len_key, sizeof len_key, "%s_len", key);
    cJSON_DeleteItemFromObjectCaseSensitive(ta, key);
    cJSON_DeleteItemFromObjectCaseSensitive(ta, inline_key);
    cJSON_DeleteItemFromObjectCaseSensitive(ta, len_key);
    if (len <= OTRP__MOCK_INLINE_MAX) {
        char b64[(OTRP__MOCK_INLINE_MAX + 2) / 3 * 4 + 1];
        otrp__b64_encode(data, len, b64, OTRP__B64_STD);
        if (cJSON_AddStringToObject(ta, inline_key, b64) == NULL)
            return oom(r);
    } else {
        char name[65];
        otrp_status st = otrp__mock_blob_name(data, len, name);
        if (st == OTRP_OK)
            st = otrp__mock_store_put_blob(&r->tee->store, name, data, len);
        if (st != OTRP_OK)
            return FAIL(r, "ERR_TEE_FAIL", "cannot store the TA: %s", otrp_strerror(st));
        if (cJSON_AddStringToObject(ta, key, name) == NULL)
            return oom(r);
    }
    if (cJSON_AddNumberToObject(ta, len_key, (double)len) == NULL)
        return oom(r);
    return 0;
}

static int set_provenance(otrp__mock_req *r, cJSON *ta, const char *signer)
{
    cJSON_DeleteItemFromObjectCaseSensitive(ta, "signer");
    cJSON_DeleteItemFromObjectCaseSensitive(ta, "tamcert");
    cJSON_DeleteItemFromObjectCaseSensitive(ta, "tamcacerts");
    cJSON *x5c = NULL;
    if (otrp__x509_certs_to_x5c(r->chain, &x5c) != OTRP_OK || x5c->child == NULL) {
        cJSON_Delete(x5c);
        return oom(r);
    }
    cJSON *leaf = cJSON_DetachItemFromArray(x5c, 0);
    if (cJSON_AddStringToObject(ta, "signer", signer) == NULL) {
        cJSON_Delete(leaf);
        cJSON_Delete(x5c);
        return oom(r);
    }
    cJSON_AddItemToObject(ta, "tamcert", leaf);
    cJSON_AddItemToObject(ta, "tamcacerts", x5c);
    return 0;
}

static int ta_count(const cJSON *state)
{
    int n = 0;
    for (const cJSON *sd = otrp__json_member(state, "sds")->child; sd != NULL; sd = sd->next)
        n += cJSON_GetArraySize(otrp__json_member(sd, "tas"));
    return n;
}

/* What an encrypted_ta held, decrypted and verified. */
struct ta_payload {
    otrp_buf *image;      /* the decrypted TA image (the TEE's kept buffer) */
    otrp__jws *image_jws; /* the verified image; its payload is the TA binary */
    const uint8_t *bin;   /* that payload */
    size_t bin_len;
    otrp_buf pdata;
    int has_bin, has_pdata;
    const char *signer; /* the SD's SP certificate that verified the image */
};

/* The decrypted image is wiped, and its buffer kept for the next request. */
static void image_done(otrp_buf *image)
{
    if (image->data != NULL)
        otrp__memzero(image->data, image->len);
    otrp_buf_reset(image);
}

/* encrypted_ta (P7): unwrap the key with the SP AIK, decrypt the TA and its data, verify
 * the TA image against the SD's SP certificates. update: the ciphernew* members. */
static int open_encrypted_ta(otrp__mock_req *r, const char *spid, int update,
                             const cJSON *certs, struct ta_payload *p)
{
    /* mutable: decrypt_member frees each ciphertext once it is decoded */
    cJSON *eta = cJSON_GetObjectItemCaseSensitive(r->payload->child, "encrypted_ta");
    if (!cJSON_IsObject(eta))
        return FAIL(r, "ERR_REQUEST_INVALID", "encrypted_ta is missing");
    const char *alg = otrp__json_string(eta, "alg");
    if (alg == NULL)
        return FAIL(r, "ERR_REQUEST_INVALID", "encrypted_ta.alg is missing");
    if (strcmp(alg, "AESCBC") != 0)
        return FAIL(r, "ERR_UNSUPPORTED_CRYPTO_ALG", "encrypted_ta.alg \"%.32s\" (only AESCBC)",
                    alg);
    const char *ivtext = otrp__json_string(eta, "iv");
    uint8_t iv[16], taek[32];
    if (ivtext == NULL || decode_iv(ivtext, iv) != 0)
        return FAIL(r, "ERR_REQUEST_INVALID", "encrypted_ta.iv must be 32 hex digits");
    if (unwrap_taek(r, eta, spid, taek) != 0)
        return -1;
    int rc = decrypt_member(r, eta, update ? "ciphernewtadata" : "ciphertadata", taek, iv,
                            p->image, &p->has_bin);
    if (rc == 0)
        rc = decrypt_member(r, eta, update ? "ciphernewpdata" : "cipherpdata", taek, iv, &p->pdata,
                            &p->has_pdata);
    otrp__memzero(taek, sizeof taek);
    if (rc == 0 && !update && !p->has_bin)
        rc = FAIL(r, "ERR_REQUEST_INVALID", "encrypted_ta.ciphertadata is missing");
    if (rc == 0 && update && !p->has_bin && !p->has_pdata)
        rc = FAIL(r, "ERR_REQUEST_INVALID", "UpdateTA carries neither a new TA nor new data");
    if (rc == 0 && p->has_bin) {
        rc = verify_image(r, certs, p->image, &p->image_jws, &p->signer);
        image_done(p->image); /* the JWS holds what is needed of it */
    }
    if (rc == 0 && p->has_bin)
        p->bin = otrp__jws_payload(p->image_jws, &p->bin_len);
    if (rc == 0 && p->has_bin && p->bin_len > OTRP__MOCK_MAX_TA)
        rc = FAIL(r, "ERR_TEE_RESOURCE_FULL", "TA exceeds the TEE's TA size limit");
    return rc;
}

/* The storage quota counts TA binaries and personalization data; old (replaced) bytes of
 * an updated TA are not counted twice. */
static int check_quota(otrp__mock_req *r, const cJSON *old_ta, const struct ta_payload *p)
{
    uint64_t used = otrp__mock_storage_used(r->next);
    const cJSON *ob = otrp__json_member(old_ta, "bin_len");
    const cJSON *op = otrp__json_member(old_ta, "pdata_len");
    if (p->has_bin && ob != NULL)
        used -= (uint64_t)ob->valuedouble;
    if (p->has_pdata && op != NULL)
        used -= (uint64_t)op->valuedouble;
    used += (p->has_bin ? p->bin_len : 0) + (p->has_pdata ? p->pdata.len : 0);
    if (r->tee->cfg.quota_bytes != 0 && used > r->tee->cfg.quota_bytes)
        return FAIL(r, "ERR_TEE_RESOURCE_FULL", "storage quota exceeded (%llu of %llu bytes needed)",
                    (unsigned long long)used, (unsigned long long)r->tee->cfg.quota_bytes);
    return 0;
}

/* Write the blobs and record them in ta (a new record in sd when ta is NULL). */
static int store_ta(otrp__mock_req *r, cJSON *sd, cJSON *ta, const char *taid,
                    const struct ta_payload *p)
{
    if (ta == NULL) {
        ta = cJSON_CreateObject();
        if (ta == NULL || cJSON_AddStringToObject(ta, "taid", taid) == NULL ||
            !cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(sd, "tas"), ta)) {
            cJSON_Delete(ta);
            return oom(r);
        }
    }
    if (p->has_bin && store_data(r, ta, "bin", p->bin, p->bin_len) != 0)
        return -1;
    if (p->has_pdata && store_data(r, ta, "pdata", p->pdata.data, p->pdata.len) != 0)
        return -1;
    if (p->has_bin && set_provenance(r, ta, p->signer) != 0)
        return -1;
    return 0;
}

/* InstallTA (update = 0) and UpdateTA (update = 1). */
static int op_install_update(otrp__mock_req *r, int update)
{
    const char *spid = need_id(r, r->content, "spid");
    const char *sdname = spid != NULL ? need_id(r, r->content, "sdname") : NULL;
    const char *taid = sdname != NULL ? need_id(r, r->content, "taid") : NULL;
    cJSON *sd = taid != NULL ? owned_sd(r, sdname) : NULL;
    if (sd == NULL)
        return -1;
    if (strcmp(otrp__json_string(sd, "spid"), spid) != 0)
        return FAIL(r, "ERR_REQUEST_INVALID", "SD \"%.128s\" is not an SD of SP \"%.128s\"",
                    sdname, spid);
    cJSON *ta = otrp__mock_ta_find(sd, taid);
    /* Per TAM (PROFILE P10): another TAM's TA of this id neither blocks nor is replaced. */
    if (!update && otrp__mock_ta_find_any(r->next, r->tamid, taid, NULL) != NULL)
        return FAIL(r, "ERR_TA_ALREADY_INSTALLED", "TA \"%.128s\" is installed", taid);
    if (!update && ta_count(r->next) >= OTRP__MOCK_MAX_TAS)
        return FAIL(r, "ERR_TEE_RESOURCE_FULL", "the TEE holds at most %d TAs", OTRP__MOCK_MAX_TAS);
    if (update && ta == NULL)
        return FAIL(r, "ERR_TA_NOT_FOUND", "SD \"%.128s\" holds no TA \"%.128s\"", sdname, taid);
    /* a new SP certificate in the content may sign this TA (reference 2.8) */
    cJSON *certs = cJSON_GetObjectItemCaseSensitive(sd, "spcerts");
    if (add_spcerts(r, otrp__json_member(r->content, "spcert"), certs, 1) != 0)
        return -1;
    struct ta_payload p;
    memset(&p, 0, sizeof p);
    p.image = &r->tee->scratch_image;
    otrp_buf_reset(p.image);
    int rc = open_encrypted_ta(r, spid, update, certs, &p);
    if (rc == 0)
        rc = check_quota(r, ta, &p);
    if (rc == 0)
        rc = store_ta(r, sd, ta, taid, &p);
    image_done(p.image);
    otrp__jws_free(p.image_jws);
    otrp_buf_free(&p.pdata);
    return rc;
}

static int op_delete_ta(otrp__mock_req *r)
{
    const char *sdname = need_id(r, r->content, "sdname");
    const char *taid = sdname != NULL ? need_id(r, r->content, "taid") : NULL;
    cJSON *sd = taid != NULL ? owned_sd(r, sdname) : NULL;
    if (sd == NULL)
        return -1;
    cJSON *ta = otrp__mock_ta_find(sd, taid);
    if (ta == NULL)
        return FAIL(r, "ERR_TA_NOT_FOUND", "SD \"%.128s\" holds no TA \"%.128s\"", sdname, taid);
    cJSON_Delete(cJSON_DetachItemViaPointer(cJSON_GetObjectItemCaseSensitive(sd, "tas"), ta));
    return 0;
}

/* ---- GetDeviceState --------------------------------------------------------------------- */

static int check_ocsp_and_algs(otrp__mock_req *r)
{
    const cJSON *ocsp = otrp__json_member(r->tbs, "ocspdat");
    int count = 0;
    if (cJSON_IsString(ocsp)) {
        count = ocsp->valuestring[0] != '\0';
    } else if (cJSON_IsArray(ocsp)) {
        for (const cJSON *e = ocsp->child; e != NULL; e = e->next) {
            if (!cJSON_IsString(e))
                return FAIL(r, "ERR_REQUEST_INVALID", "ocspdat holds a non-string");
            count++;
        }
    } else if (ocsp != NULL) {
        return FAIL(r, "ERR_REQUEST_INVALID", "ocspdat must be an array of base64 strings");
    }
    if (r->tee->cfg.require_ocsp && count == 0)
        return FAIL(r, "ERR_TAM_NOT_TRUSTED", "this TEE requires OCSP data (ocspdat is empty)");
    const cJSON *algs = otrp__json_member(r->tbs, "supportedsigalgs");
    if (algs == NULL)
        return 0;
    int rs256 = 0;
    if (cJSON_IsString(algs)) {
        /* comma-separated (P5) */
        const char *p = algs->valuestring;
        while (*p != '\0') {
            size_t n = strcspn(p, ",");
            rs256 |= n == 5 && strncmp(p, "RS256", 5) == 0;
            p += n + (p[n] == ',');
        }
    } else if (cJSON_IsArray(algs)) {
        for (const cJSON *e = algs->child; e != NULL; e = e->next)
            rs256 |= cJSON_IsString(e) && strcmp(e->valuestring, "RS256") == 0;
    } else {
        return FAIL(r, "ERR_REQUEST_INVALID", "supportedsigalgs must be an array");
    }
    if (!rs256) {
        r->offer_algs = 1;
        return FAIL(r, "ERR_UNSUPPORTED_CRYPTO_ALG",
                    "supportedsigalgs does not include RS256, the TEE's only signature alg");
    }
    return 0;
}

/* ---- the request pipeline --------------------------------------------------------------- */

static int run_operation(otrp__mock_req *r)
{
    switch (r->def->kind) {
    case OTRP__MOCK_CREATE_SD:
        return op_create_sd(r);
    case OTRP__MOCK_UPDATE_SD:
        return op_update_sd(r);
    case OTRP__MOCK_DELETE_SD:
        return op_delete_sd(r);
    case OTRP__MOCK_INSTALL_TA:
        return op_install_update(r, 0);
    case OTRP__MOCK_UPDATE_TA:
        return op_install_update(r, 1);
    case OTRP__MOCK_DELETE_TA:
        return op_delete_ta(r);
    case OTRP__MOCK_GET_DEVICE_STATE:
        break;
    }
    return FAIL(r, "ERR_TEE_FAIL", "unknown operation");
}

/* Verify, perform on a copy of the state, and set r->dsi when a DSI is sent. */
static int handle(otrp__mock_req *r)
{
    if (otrp__mock_verify(r) != 0)
        return -1;
    int gds = r->def->kind == OTRP__MOCK_GET_DEVICE_STATE;
    if (gds ? check_ocsp_and_algs(r) != 0 : otrp__mock_verify_later(r) != 0)
        return -1;
    r->next = cJSON_Duplicate(r->tee->state, 1);
    if (r->next == NULL)
        return oom(r);
    if (!gds) {
        r->out_content = cJSON_CreateObject();
        if (r->out_content == NULL ||
            cJSON_AddStringToObject(r->out_content, "did", r->tee->did) == NULL)
            return oom(r);
        if (run_operation(r) != 0)
            return -1;
        /* P6: a request is listed until its TAM installed it, an unneeded TA while its
         * TAM has it */
        otrp__mock_settle(r->next);
    } else if (otrp__mock_bind_awaiting(r->tee, r->next, r->tamid) != OTRP_OK) {
        return oom(r);
    }
    if (gds || r->nextdsi) {
        /* The DSI reference moves only with a DSI actually sent (P6). */
        if (otrp__mock_dsi(r->tee, r->next, r->tamid, 0, &r->dsi) != OTRP_OK ||
            otrp__mock_set_dsi_ref(r->next, r->tamid, r->dsi) != OTRP_OK)
            return oom(r);
    }
    return 0;
}

static void req_free(otrp__mock_req *r)
{
    cJSON_Delete(r->outer);
    cJSON_Delete(r->payload);
    otrp__jws_free(r->jws);
    otrp__x509_certs_free(r->chain);
    otrp__jose_key_free(r->tam_key);
    cJSON_Delete(r->content);
    cJSON_Delete(r->out_content);
    cJSON_free(r->dsi);
    cJSON_Delete(r->next);
}

/* The state did not change when the reference stays the same and nothing else did. */
static int state_changed(const otrp__mock_req *r)
{
    return !cJSON_Compare(r->next, r->tee->state, 1);
}

otrp_status otrp__mock_process(otrp__mock *tee, const char *msg, size_t len, otrp_buf *out)
{
    otrp__mock_req r;
    memset(&r, 0, sizeof r);
    r.tee = tee;
    otrp_buf_reset(out);
    if (len > OTRP__JOSE_MAX_TEXT) {
        (void)snprintf(tee->detail, sizeof tee->detail, "message larger than %u bytes",
                       OTRP__JOSE_MAX_TEXT);
        return OTRP_ERR_TOO_LARGE;
    }
    otrp_status st = otrp__json_parse_lifted(msg, len, MESSAGE_MAX_DEPTH, OTRP__MOCK_LIFT_MIN,
                                             &r.outer, tee->detail, sizeof tee->detail);
    if (st != OTRP_OK)
        return st == OTRP_ERR_JSON ? OTRP_ERR_MSG_NOT_JSON : st;
    if (!cJSON_IsObject(r.outer) || r.outer->child == NULL || r.outer->child->next != NULL) {
        (void)snprintf(tee->detail, sizeof tee->detail, "not an object with one member");
        req_free(&r);
        return OTRP_ERR_MSG_STRUCTURE;
    }
    r.def = otrp__mock_msgdef_find(r.outer->child->string);
    if (r.def == NULL) {
        (void)snprintf(tee->detail, sizeof tee->detail, "unknown OTrP request \"%.64s\"",
                       r.outer->child->string);
        req_free(&r);
        return OTRP_ERR_MSG_UNKNOWN;
    }
    int ok = handle(&r) == 0;
    otrp_buf answer = {0};
    answer.max = out->max;
    if (ok) {
        st = otrp__mock_answer(&r, &answer);
        if (st == OTRP_OK && state_changed(&r)) {
            cJSON *next = r.next;
            r.next = NULL;
            if (otrp__mock_state_commit(tee, next) != OTRP_OK) {
                FAIL(&r, "ERR_TEE_FAIL", "the TEE could not store its new state");
                ok = 0;
            }
        }
        if (st != OTRP_OK && st != OTRP_ERR_TOO_LARGE) {
            FAIL(&r, "ERR_TEE_FAIL", "the TEE could not encrypt or sign its answer");
            ok = 0;
        }
    }
    if (!ok) {
        (void)snprintf(tee->detail, sizeof tee->detail, "%s: %s", r.code, r.message);
        st = otrp__mock_answer(&r, &answer);
    } else if (st == OTRP_OK) {
        (void)snprintf(tee->detail, sizeof tee->detail, "%s: pass", r.def->request);
    }
    if (st == OTRP_OK)
        st = otrp_buf_append(out, answer.data, answer.len);
    /* The first GetDeviceState after a TAM URI was passed back is the one its TAM sent:
     * it bound that TAM, or (failed) it leaves nothing for a later one to bind. */
    if (r.def->kind == OTRP__MOCK_GET_DEVICE_STATE)
        tee->awaiting[0] = '\0';
    otrp_buf_free(&answer);
    req_free(&r);
    return st;
}
