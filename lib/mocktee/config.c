/* The provisioning directory: tee.json, identity/, trust/. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mocktee/mocktee.h"
#include "util/base64.h"
#include "util/json_strict.h"

/* Largest key or certificate file (a chain of a few certificates). */
#define MAX_PEM_FILE (256u * 1024u)
/* At most this many trust anchor files are read. */
#define MAX_TRUST_FILES 64

int otrp__mock_id_valid(const char *s)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++)
        if ((unsigned char)s[n] < 0x21 || (unsigned char)s[n] > 0x7E)
            return 0;
    return n >= 1 && n <= OTRP__MOCK_MAX_ID;
}

int otrp__mock_tee_name_valid(const char *s)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++)
        if ((unsigned char)s[n] < 0x20 || (unsigned char)s[n] > 0x7E)
            return 0;
    /* DSI names such as "Primary TEE" have spaces, but not at either end. */
    return n >= 1 && n <= OTRP__MOCK_MAX_ID && s[0] != ' ' && s[n - 1] != ' ';
}

static otrp_status bad(char *detail, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static otrp_status bad(char *detail, size_t cap, const char *fmt, ...)
{
    if (detail != NULL && cap > 0) {
        va_list ap;
        va_start(ap, fmt);
        (void)vsnprintf(detail, cap, fmt, ap);
        va_end(ap);
    }
    return OTRP_ERR_CONFIG;
}

static otrp_status copy_string(const cJSON *item, const char *key, char *dst, size_t dst_cap,
                               char *detail, size_t cap)
{
    if (!cJSON_IsString(item))
        return bad(detail, cap, "tee.json: '%s' must be a string", key);
    size_t len = strlen(item->valuestring);
    if (len >= dst_cap)
        return bad(detail, cap, "tee.json: '%s' is too long", key);
    memcpy(dst, item->valuestring, len + 1);
    return OTRP_OK;
}

/* A tamid as tee.json names it (the Subject CN of the TAM's certificate, P4). */
static otrp_status copy_tamid(const cJSON *item, const char *key, char *dst, char *detail,
                              size_t cap)
{
    otrp_status st = copy_string(item, key, dst, OTRP__MOCK_MAX_TAMID + 1, detail, cap);
    if (st == OTRP_OK && dst[0] == '\0')
        return bad(detail, cap, "tee.json: '%s' must not be empty", key);
    return st;
}

/* allowed_tams: [{"uri", "tamid"}], the TAMs a caller may name besides the TEE's own. */
static otrp_status parse_allowed(const cJSON *m, otrp__mock_config *cfg, char *detail,
                                 size_t cap)
{
    if (!cJSON_IsArray(m))
        return bad(detail, cap, "tee.json: 'allowed_tams' must be an array");
    for (const cJSON *e = m->child; e != NULL; e = e->next) {
        if (cfg->n_allowed == OTRP__MOCK_MAX_ALLOWED_TAMS)
            return bad(detail, cap, "tee.json: 'allowed_tams' holds more than %d TAMs",
                       OTRP__MOCK_MAX_ALLOWED_TAMS);
        otrp__mock_tam *t = &cfg->allowed_tams[cfg->n_allowed];
        const cJSON *uri = otrp__json_member(e, "uri"), *tamid = otrp__json_member(e, "tamid");
        if (!cJSON_IsObject(e) || cJSON_GetArraySize(e) != 2 || uri == NULL || tamid == NULL)
            return bad(detail, cap, "tee.json: each of 'allowed_tams' is {\"uri\", \"tamid\"}");
        otrp_status st = copy_string(uri, "allowed_tams uri", t->uri, sizeof t->uri, detail, cap);
        if (st == OTRP_OK && t->uri[0] == '\0')
            st = bad(detail, cap, "tee.json: an 'allowed_tams' uri is empty");
        if (st == OTRP_OK)
            st = copy_tamid(tamid, "allowed_tams tamid", t->tamid, detail, cap);
        if (st != OTRP_OK)
            return st;
        cfg->n_allowed++;
    }
    return OTRP_OK;
}

static otrp_status parse_member(const cJSON *m, otrp__mock_config *cfg, char *detail,
                                size_t cap)
{
    const char *k = m->string;
    if (strcmp(k, "name") == 0) {
        otrp_status st = copy_string(m, k, cfg->name, sizeof cfg->name, detail, cap);
        if (st == OTRP_OK && !otrp__mock_tee_name_valid(cfg->name))
            return bad(detail, cap, "tee.json: '%s' must be 1..128 printable ASCII characters, "
                       "no space at either end", k);
        return st;
    }
    if (strcmp(k, "version") == 0)
        return copy_string(m, k, cfg->version, sizeof cfg->version, detail, cap);
    if (strcmp(k, "tam_uri") == 0)
        return copy_string(m, k, cfg->tam_uri, sizeof cfg->tam_uri, detail, cap);
    if (strcmp(k, "tam_id") == 0)
        return copy_tamid(m, k, cfg->tam_id, detail, cap);
    if (strcmp(k, "allowed_tams") == 0)
        return parse_allowed(m, cfg, detail, cap);
    if (strcmp(k, "jwe_alg") == 0) {
        otrp__jose_alg a = cJSON_IsString(m) ? otrp__jose_alg_from_name(m->valuestring)
                                             : OTRP__JOSE_ALG_NONE;
        if (a != OTRP__JOSE_ALG_RSA1_5 && a != OTRP__JOSE_ALG_RSA_OAEP &&
            a != OTRP__JOSE_ALG_RSA_OAEP_256)
            return bad(detail, cap, "tee.json: '%s' must be \"RSA1_5\", \"RSA-OAEP\" or "
                       "\"RSA-OAEP-256\"", k);
        cfg->jwe_alg = a;
        return OTRP_OK;
    }
    if (strcmp(k, "sign_alg") == 0) {
        if (!cJSON_IsString(m) || strcmp(m->valuestring, "RS256") != 0)
            return bad(detail, cap, "tee.json: '%s' must be \"RS256\" (the identity key is "
                       "RSA, PROFILE P3)", k);
        cfg->sign_alg = OTRP__JOSE_ALG_RS256;
        return OTRP_OK;
    }
    if (strcmp(k, "require_ocsp") == 0) {
        if (!cJSON_IsBool(m))
            return bad(detail, cap, "tee.json: '%s' must be true or false", k);
        cfg->require_ocsp = cJSON_IsTrue(m);
        return OTRP_OK;
    }
    if (strcmp(k, "quota_bytes") == 0) {
        int64_t quota = 0;
        if (!otrp__json_int_in(m, 0, OTRP__JSON_INT_MAX, &quota))
            return bad(detail, cap, "tee.json: '%s' must be an integer in 0..2^53", k);
        cfg->quota_bytes = (uint64_t)quota;
        return OTRP_OK;
    }
    return bad(detail, cap, "tee.json: unknown key '%.64s' (allowed: name, version, tam_uri, "
               "tam_id, allowed_tams, jwe_alg, sign_alg, require_ocsp, quota_bytes)", k);
}

otrp_status otrp__mock_parse_config(const char *text, size_t len, otrp__mock_config *cfg,
                                    char *detail, size_t cap)
{
    memset(cfg, 0, sizeof *cfg);
    (void)snprintf(cfg->version, sizeof cfg->version, "1.0");
    cfg->jwe_alg = OTRP__JOSE_ALG_RSA1_5;
    cfg->sign_alg = OTRP__JOSE_ALG_RS256;
    cJSON *root = NULL;
    char why[128] = "";
    otrp_status st = otrp__json_parse(text, len, 4, &root, why, sizeof why);
    if (st != OTRP_OK)
        return bad(detail, cap, "tee.json: %s", why);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return bad(detail, cap, "tee.json: %s", "must be a JSON object");
    }
    for (const cJSON *m = root->child; m != NULL && st == OTRP_OK; m = m->next)
        st = parse_member(m, cfg, detail, cap);
    cJSON_Delete(root);
    if (st == OTRP_OK && cfg->name[0] == '\0')
        return bad(detail, cap, "tee.json: %s", "'name' is required");
    return st;
}

static otrp_status read_rel(const char *dir, const char *rel, size_t max, otrp_buf *out,
                            char *detail, size_t cap)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, rel) >= (int)sizeof path)
        return bad(detail, cap, "path too long: %s", rel);
    otrp_status st = otrp__mock_read_file(AT_FDCWD, path, max, out);
    if (st == OTRP_ERR_NOT_FOUND)
        return bad(detail, cap, "%s is missing", path);
    if (st == OTRP_ERR_TOO_LARGE)
        return bad(detail, cap, "%s is too large", path);
    if (st == OTRP_ERR_UNSUPPORTED)
        return bad(detail, cap, "%s is not a regular file", path);
    if (st != OTRP_OK)
        return bad(detail, cap, "%s cannot be read", path);
    return OTRP_OK;
}

static otrp_status load_identity(otrp__mock *tee, otrp_buf *file, char *detail, size_t cap)
{
    char why[200] = "";
    otrp_status st = read_rel(tee->dir, "identity/key.pem", MAX_PEM_FILE, file, detail, cap);
    if (st != OTRP_OK)
        return st;
    st = otrp__jose_key_load(file->data, file->len, &tee->key, why, sizeof why);
    if (st != OTRP_OK)
        return bad(detail, cap, "identity/key.pem: %s", why);
    if (otrp__jose_key_type(tee->key) != OTRP__JOSE_KTY_RSA ||
        !otrp__jose_key_has_private(tee->key) ||
        otrp__jose_key_bits(tee->key) < OTRP__JOSE_RSA_MIN_BITS)
        return bad(detail, cap, "identity/key.pem: %s",
                   "must be an RSA private key of 2048..4096 bits (PROFILE P3)");
    st = read_rel(tee->dir, "identity/cert.pem", MAX_PEM_FILE, file, detail, cap);
    if (st != OTRP_OK)
        return st;
    if (otrp__x509_certs_new(&tee->certs) != OTRP_OK)
        return OTRP_ERR_NO_MEMORY;
    st = otrp__x509_certs_add(tee->certs, file->data, file->len, why, sizeof why);
    if (st != OTRP_OK || otrp__x509_certs_count(tee->certs) == 0)
        return bad(detail, cap, "identity/cert.pem: %s", st != OTRP_OK ? why : "no certificate");
    otrp__jose_key *pub = NULL;
    st = otrp__x509_certs_public_key(tee->certs, 0, &pub, why, sizeof why);
    int match = st == OTRP_OK && otrp__jose_key_public_equal(pub, tee->key);
    otrp__jose_key_free(pub);
    if (!match)
        return bad(detail, cap, "%s", "identity/cert.pem does not certify identity/key.pem");
    size_t der_len = 0;
    const uint8_t *der = otrp__x509_certs_der(tee->certs, 0, &der_len);
    uint8_t digest[32];
    if (otrp__jose_sha256(der, der_len, digest) != OTRP_OK)
        return OTRP_ERR_CRYPTO;
    otrp__b64_encode(digest, sizeof digest, tee->did, OTRP__B64_STD);
    return OTRP_OK;
}

static int name_is_pem(const char *n)
{
    size_t len = strlen(n);
    return len > 4 && strcmp(n + len - 4, ".pem") == 0 && n[0] != '.';
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static otrp_status load_trust(otrp__mock *tee, otrp_buf *file, char *detail, size_t cap)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/trust", tee->dir) >= (int)sizeof path)
        return bad(detail, cap, "path too long: %s", tee->dir);
    DIR *d = opendir(path);
    if (d == NULL)
        return bad(detail, cap, "%s is missing", path);
    char *names[MAX_TRUST_FILES];
    size_t n = 0;
    otrp_status st = OTRP_OK;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && st == OTRP_OK) {
        if (!name_is_pem(e->d_name))
            continue;
        if (n == MAX_TRUST_FILES) {
            st = bad(detail, cap, "%s holds too many .pem files", path);
            break;
        }
        names[n] = strdup(e->d_name);
        if (names[n] == NULL)
            st = OTRP_ERR_NO_MEMORY;
        else
            n++;
    }
    closedir(d);
    /* A sorted order makes failures reproducible. */
    qsort(names, n, sizeof names[0], cmp_names);
    if (st == OTRP_OK && otrp__x509_certs_new(&tee->anchors) != OTRP_OK)
        st = OTRP_ERR_NO_MEMORY;
    for (size_t i = 0; i < n && st == OTRP_OK; i++) {
        char rel[600];
        char why[200] = "";
        (void)snprintf(rel, sizeof rel, "trust/%.500s", names[i]);
        st = read_rel(tee->dir, rel, MAX_PEM_FILE, file, detail, cap);
        if (st == OTRP_OK &&
            otrp__x509_certs_add(tee->anchors, file->data, file->len, why, sizeof why) != OTRP_OK) {
            if (detail != NULL && cap > 0)
                (void)snprintf(detail, cap, "%s: %s", rel, why);
            st = OTRP_ERR_CONFIG;
        }
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    if (st == OTRP_OK && otrp__x509_certs_count(tee->anchors) == 0)
        st = bad(detail, cap, "%s holds no *.pem trust anchor (copy the TAM root CA there)",
                 path);
    return st;
}

otrp_status otrp__mock_load_config(otrp__mock *tee, char *detail, size_t cap)
{
    otrp_buf file = {0};
    otrp_status st = read_rel(tee->dir, "tee.json", OTRP__MOCK_MAX_CONFIG, &file, detail, cap);
    if (st == OTRP_OK)
        st = otrp__mock_parse_config((const char *)file.data, file.len, &tee->cfg, detail, cap);
    if (st == OTRP_OK)
        st = load_identity(tee, &file, detail, cap);
    if (st == OTRP_OK)
        st = load_trust(tee, &file, detail, cap);
    otrp_buf_free(&file);
    return st;
}
