/*
 * The TAM directory (layout in reftam.h): identity, TA catalog and the records of what
 * the TAM installed where. Every file is written atomically (temporary file, fsync,
 * rename), so a crash leaves the old or the new version. A store is used by one thread
 * at a time (the session layer holds its lock around every call).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mocktee/store.h"
#include "reftam.h"
#include "util/json_strict.h"

/* Largest tam.json, catalog.json and installed.json accepted. */
#define MAX_DOC ((size_t)8 * 1024 * 1024)
#define MAX_PEM ((size_t)256 * 1024)
#define DOC_DEPTH 8

#define DETAIL(...) ((void)(cap > 0 ? snprintf(detail, cap, __VA_ARGS__) : 0))

struct reftam_store {
    char *dir;
    int dirfd;
    reftam_ident ident;
    cJSON *catalog;       /* {"tas": [...]} */
    struct timespec catalog_mtime;
    off_t catalog_size;
    cJSON *installed;     /* {"tees": [...]} */
};

static otrp_status read_doc(int dirfd, const char *name, cJSON **out, char *detail, size_t cap)
{
    otrp_buf b = {0};
    *out = NULL;
    otrp_status st = otrp__mock_read_file(dirfd, name, MAX_DOC, &b);
    if (st == OTRP_OK) {
        char why[160] = "";
        st = otrp__json_parse((const char *)b.data, b.len, DOC_DEPTH, out, why, sizeof why);
        if (st != OTRP_OK) {
            DETAIL("%s: %s", name, why);
            st = OTRP_ERR_STATE_CORRUPT;
        }
    } else if (st != OTRP_ERR_NOT_FOUND) {
        DETAIL("cannot read %s", name);
    }
    otrp_buf_free(&b);
    return st;
}

static otrp_status write_doc(int dirfd, const char *name, const cJSON *doc)
{
    char *text = cJSON_Print(doc);
    if (text == NULL)
        return OTRP_ERR_NO_MEMORY;
    otrp_status st = otrp__mock_atomic_write(dirfd, name, text, strlen(text), 0644);
    cJSON_free(text);
    return st;
}

static otrp_status load_pem(int dirfd, const char *name, otrp_buf *out, char *detail, size_t cap)
{
    otrp_status st = otrp__mock_read_file(dirfd, name, MAX_PEM, out);
    if (st != OTRP_OK)
        DETAIL("cannot read %s (%s)", name, otrp_status_name(st));
    return st;
}

static otrp_status load_certs(int dirfd, const char *name, otrp__x509_certs **out, char *detail,
                              size_t cap)
{
    otrp_buf b = {0};
    char why[160] = "";
    otrp_status st = load_pem(dirfd, name, &b, detail, cap);
    if (st == OTRP_OK && (st = otrp__x509_certs_new(out)) == OTRP_OK &&
        (st = otrp__x509_certs_add(*out, b.data, b.len, why, sizeof why)) != OTRP_OK)
        DETAIL("%s: %s", name, why);
    otrp_buf_free(&b);
    return st;
}

/* The chain the TAM sends as x5c: tam/cert.pem without a trailing copy of the CA
 * certificate (PROFILE P4: the root may be omitted; the TEE has it as its anchor). */
static otrp_status x5c_chain(reftam_ident *id)
{
    size_t n = otrp__x509_certs_count(id->tam_chain), last_len = 0, ca_len = 0;
    const uint8_t *last = otrp__x509_certs_der(id->tam_chain, n - 1, &last_len);
    const uint8_t *ca = otrp__x509_certs_der(id->anchors, 0, &ca_len);
    int drop_root = n > 1 && last_len == ca_len && memcmp(last, ca, ca_len) == 0;
    otrp_status st = otrp__x509_certs_new(&id->x5c_chain);
    for (size_t i = 0; st == OTRP_OK && i < n - (drop_root ? 1 : 0); i++) {
        size_t len = 0;
        const uint8_t *der = otrp__x509_certs_der(id->tam_chain, i, &len);
        st = otrp__x509_certs_add(id->x5c_chain, der, len, NULL, 0);
    }
    return st;
}

static otrp_status load_ident(reftam_store *s, char *detail, size_t cap)
{
    reftam_ident *id = &s->ident;
    cJSON *cfg = NULL;
    otrp_status st = read_doc(s->dirfd, "tam.json", &cfg, detail, cap);
    if (st == OTRP_ERR_NOT_FOUND)
        DETAIL("%s/tam.json is missing: run otrp-tam init %s first", s->dir, s->dir);
    if (st != OTRP_OK)
        return st == OTRP_ERR_NOT_FOUND ? OTRP_ERR_CONFIG : st;
    const char *tamid = otrp__json_string(cfg, "tamid");
    const char *spid = otrp__json_string(cfg, "spid");
    const char *sdname = otrp__json_string(cfg, "sdname");
    if (tamid == NULL || spid == NULL || sdname == NULL || !reftam_id_valid(tamid) ||
        !reftam_id_valid(spid) || !reftam_id_valid(sdname)) {
        DETAIL("tam.json needs tamid, spid and sdname of 1..128 printable characters");
        cJSON_Delete(cfg);
        return OTRP_ERR_CONFIG;
    }
    const cJSON *alg = otrp__json_member(cfg, "jwe_alg");
    id->jwe_alg = OTRP__JOSE_ALG_RSA1_5;
    if (alg != NULL) {
        id->jwe_alg = cJSON_IsString(alg) ? otrp__jose_alg_from_name(alg->valuestring)
                                          : OTRP__JOSE_ALG_NONE;
        if (id->jwe_alg != OTRP__JOSE_ALG_RSA1_5 && id->jwe_alg != OTRP__JOSE_ALG_RSA_OAEP &&
            id->jwe_alg != OTRP__JOSE_ALG_RSA_OAEP_256) {
            DETAIL("tam.json jwe_alg must be \"RSA1_5\", \"RSA-OAEP\" or \"RSA-OAEP-256\"");
            cJSON_Delete(cfg);
            return OTRP_ERR_CONFIG;
        }
    }
    (void)snprintf(id->tamid, sizeof id->tamid, "%s", tamid);
    (void)snprintf(id->spid, sizeof id->spid, "%s", spid);
    (void)snprintf(id->sdname, sizeof id->sdname, "%s", sdname);
    cJSON_Delete(cfg);

    otrp_buf b = {0};
    char why[160] = "";
    st = load_pem(s->dirfd, "tam/key.pem", &b, detail, cap);
    if (st == OTRP_OK && (st = otrp__jose_key_load(b.data, b.len, &id->tam_key, why,
                                                   sizeof why)) != OTRP_OK)
        DETAIL("tam/key.pem: %s", why);
    if (st == OTRP_OK && (otrp__jose_key_type(id->tam_key) != OTRP__JOSE_KTY_RSA ||
                          !otrp__jose_key_has_private(id->tam_key))) {
        DETAIL("tam/key.pem is not an RSA private key (PROFILE P3)");
        st = OTRP_ERR_CONFIG;
    }
    otrp_buf_free(&b);
    if (st == OTRP_OK)
        st = load_certs(s->dirfd, "tam/cert.pem", &id->tam_chain, detail, cap);
    if (st == OTRP_OK)
        st = load_certs(s->dirfd, "ca/cert.pem", &id->anchors, detail, cap);
    if (st == OTRP_OK) {
        char cn[REFTAM_ID_MAX + 1] = "";
        if (otrp__x509_certs_subject_cn(id->tam_chain, 0, cn, sizeof cn) != OTRP_OK ||
            strcmp(cn, id->tamid) != 0) { /* P4: tamid = the Subject CN */
            DETAIL("tam/cert.pem Subject CN '%s' is not the tamid '%s'", cn, id->tamid);
            st = OTRP_ERR_CONFIG;
        }
    }
    if (st == OTRP_OK)
        st = x5c_chain(id);
    otrp__x509_certs *sp = NULL;
    if (st == OTRP_OK)
        st = load_certs(s->dirfd, "sp/cert.pem", &sp, detail, cap);
    if (st == OTRP_OK) {
        size_t len = 0;
        const uint8_t *der = otrp__x509_certs_der(sp, 0, &len);
        id->sp_cert_b64 = reftam_b64(der, len);
        if (id->sp_cert_b64 == NULL)
            st = OTRP_ERR_NO_MEMORY;
    }
    otrp__x509_certs_free(sp);
    return st == OTRP_ERR_NOT_FOUND ? OTRP_ERR_CONFIG : st;
}

/* Re-read catalog.json when it changed on disk since the last look. */
static void refresh_catalog(reftam_store *s)
{
    struct stat sb;
    if (fstatat(s->dirfd, "catalog.json", &sb, 0) != 0) {
        if (s->catalog == NULL)
            s->catalog = cJSON_CreateObject();
        return;
    }
    if (s->catalog != NULL && sb.st_size == s->catalog_size &&
        sb.st_mtim.tv_sec == s->catalog_mtime.tv_sec &&
        sb.st_mtim.tv_nsec == s->catalog_mtime.tv_nsec)
        return;
    cJSON *doc = NULL;
    if (read_doc(s->dirfd, "catalog.json", &doc, NULL, 0) != OTRP_OK ||
        !cJSON_IsArray(otrp__json_member(doc, "tas"))) {
        cJSON_Delete(doc);
        return; /* keep what we had: a broken catalog must not unmanage every TA */
    }
    cJSON_Delete(s->catalog);
    s->catalog = doc;
    s->catalog_mtime = sb.st_mtim;
    s->catalog_size = sb.st_size;
}

otrp_status reftam_store_open(const char *dir, reftam_store **out, char *detail, size_t cap)
{
    *out = NULL;
    reftam_store *s = calloc(1, sizeof *s);
    if (s == NULL)
        return OTRP_ERR_NO_MEMORY;
    s->dir = strdup(dir);
    s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    otrp_status st = s->dir == NULL ? OTRP_ERR_NO_MEMORY : OTRP_OK;
    if (st == OTRP_OK && s->dirfd < 0) {
        DETAIL("cannot open the TAM directory %s", dir);
        st = OTRP_ERR_CONFIG;
    }
    if (st == OTRP_OK)
        st = load_ident(s, detail, cap);
    if (st == OTRP_OK) {
        st = read_doc(s->dirfd, "installed.json", &s->installed, detail, cap);
        if (st == OTRP_ERR_NOT_FOUND) {
            s->installed = cJSON_CreateObject();
            st = s->installed != NULL && cJSON_AddArrayToObject(s->installed, "tees") != NULL
                     ? OTRP_OK
                     : OTRP_ERR_NO_MEMORY;
        } else if (st == OTRP_OK && !cJSON_IsArray(otrp__json_member(s->installed, "tees"))) {
            DETAIL("installed.json has no tees array");
            st = OTRP_ERR_STATE_CORRUPT;
        }
    }
    if (st == OTRP_OK)
        refresh_catalog(s);
    if (st != OTRP_OK) {
        reftam_store_close(s);
        return st;
    }
    *out = s;
    return OTRP_OK;
}

void reftam_store_close(reftam_store *s)
{
    if (s == NULL)
        return;
    otrp__jose_key_free(s->ident.tam_key);
    otrp__x509_certs_free(s->ident.tam_chain);
    otrp__x509_certs_free(s->ident.x5c_chain);
    otrp__x509_certs_free(s->ident.anchors);
    free(s->ident.sp_cert_b64);
    cJSON_Delete(s->catalog);
    cJSON_Delete(s->installed);
    if (s->dirfd >= 0)
        close(s->dirfd);
    free(s->dir);
    free(s);
}

const reftam_ident *reftam_store_ident(const reftam_store *s)
{
    return &s->ident;
}

const char *reftam_store_dir(const reftam_store *s)
{
    return s->dir;
}

static const cJSON *catalog_entry(reftam_store *s, const char *taid)
{
    refresh_catalog(s);
    const cJSON *tas = otrp__json_member(s->catalog, "tas");
    for (const cJSON *e = cJSON_IsArray(tas) ? tas->child : NULL; e != NULL; e = e->next) {
        const char *t = otrp__json_string(e, "taid");
        if (t != NULL && strcmp(t, taid) == 0)
            return e;
    }
    return NULL;
}

static unsigned number(const cJSON *obj, const char *key)
{
    const cJSON *n = otrp__json_member(obj, key);
    return cJSON_IsNumber(n) && n->valuedouble >= 1 && n->valuedouble < 1e9 ? (unsigned)n->valuedouble : 0;
}

unsigned reftam_catalog_version(reftam_store *s, const char *taid)
{
    return number(catalog_entry(s, taid), "version");
}

otrp_status reftam_catalog_image(reftam_store *s, const char *taid, otrp_buf *image,
                                 unsigned *version)
{
    const cJSON *e = catalog_entry(s, taid);
    const char *name = otrp__json_string(e, "image");
    if (name == NULL || !otrp__mock_blob_name_valid(name))
        return OTRP_ERR_NOT_FOUND;
    char path[80];
    (void)snprintf(path, sizeof path, "tas/%s.jws", name);
    otrp_buf_reset(image);
    otrp_status st = otrp__mock_read_file(s->dirfd, path, REFTAM_MAX_TA * 2, image);
    *version = number(e, "version");
    return st;
}

static cJSON *tee_record(reftam_store *s, const char *did)
{
    for (cJSON *t = otrp__json_member(s->installed, "tees")->child; t != NULL; t = t->next) {
        const char *d = otrp__json_string(t, "did");
        if (d != NULL && strcmp(d, did) == 0)
            return t;
    }
    return NULL;
}

static cJSON *ta_record(cJSON *tee, const char *taid)
{
    cJSON *tas = cJSON_GetObjectItemCaseSensitive(tee, "tas");
    for (cJSON *e = cJSON_IsArray(tas) ? tas->child : NULL; e != NULL; e = e->next) {
        const char *t = otrp__json_string(e, "taid");
        if (t != NULL && strcmp(t, taid) == 0)
            return e;
    }
    return NULL;
}

unsigned reftam_installed_version(reftam_store *s, const char *did, const char *taid)
{
    cJSON *tee = tee_record(s, did);
    return tee != NULL ? number(ta_record(tee, taid), "version") : 0;
}

otrp_status reftam_installed_set(reftam_store *s, const char *did, const char *tee_name,
                                 const char *taid, unsigned version)
{
    cJSON *next = cJSON_Duplicate(s->installed, 1);
    if (next == NULL)
        return OTRP_ERR_NO_MEMORY;
    cJSON *saved = s->installed;
    s->installed = next; /* the lookups below work on the copy */
    cJSON *tee = tee_record(s, did);
    if (tee == NULL && version > 0) {
        tee = cJSON_CreateObject();
        cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(next, "tees"), tee);
        cJSON_AddStringToObject(tee, "did", did);
        cJSON_AddArrayToObject(tee, "tas");
    }
    if (tee != NULL) {
        cJSON_DeleteItemFromObjectCaseSensitive(tee, "name"); /* the TEE's current name */
        cJSON_AddStringToObject(tee, "name", tee_name);
        cJSON *ta = ta_record(tee, taid);
        cJSON *tas = cJSON_GetObjectItemCaseSensitive(tee, "tas");
        if (ta != NULL)
            cJSON_Delete(cJSON_DetachItemViaPointer(tas, ta));
        if (version > 0) {
            ta = cJSON_CreateObject();
            cJSON_AddItemToArray(tas, ta);
            cJSON_AddStringToObject(ta, "taid", taid);
            cJSON_AddNumberToObject(ta, "version", version);
        }
    }
    otrp_status st = write_doc(s->dirfd, "installed.json", next);
    if (st != OTRP_OK) { /* memory and disk stay as they were */
        s->installed = saved;
        cJSON_Delete(next);
        return st;
    }
    cJSON_Delete(saved);
    return OTRP_OK;
}
