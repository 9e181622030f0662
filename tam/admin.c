/* otrp-tam init, provision-tee, add-ta and the TLS server certificate; see reftam.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mocktee/mocktee.h"
#include "mocktee/provision.h"
#include "mocktee/store.h"
#include "reftam.h"
#include "util/json_strict.h"
#include "util/detail.h"

/* Identity certificates live this long (no time bombs in a demo directory). */
#define CERT_YEARS 30
/* RSA identity keys (PROFILE P3). */
#define IDENTITY_BITS 2048u
#define MAX_PEM ((size_t)256 * 1024)
#define MAX_CATALOG ((size_t)8 * 1024 * 1024)

static otrp_status make_dirs(const char *dir, const char *const *subs, char *detail, size_t cap)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return otrp__fail(detail, cap, OTRP_ERR_IO, "cannot create %s: %s", dir, strerror(errno));
    for (; *subs != NULL; subs++) {
        char path[4096];
        if (snprintf(path, sizeof path, "%s/%s", dir, *subs) >= (int)sizeof path)
            return otrp__fail(detail, cap, OTRP_ERR_CONFIG, "path too long");
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            return otrp__fail(detail, cap, OTRP_ERR_IO, "cannot create %s: %s", path,
                              strerror(errno));
    }
    return OTRP_OK;
}

static otrp_status write_file(const char *dir, const char *name, const void *data, size_t len,
                              unsigned mode, char *detail, size_t cap)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return otrp__fail(detail, cap, OTRP_ERR_IO, "cannot open %s: %s", dir, strerror(errno));
    otrp_status st = otrp__mock_atomic_write(fd, name, data, len, mode);
    close(fd);
    if (st != OTRP_OK)
        return otrp__fail(detail, cap, st, "cannot write %s/%s", dir, name);
    return OTRP_OK;
}

/* An identity: a fresh key, a certificate for subject issued by (ca_der, ca_key) or
 * self-signed, written as sub/key.pem and sub/cert.pem (+ the CA certificate). A TAM
 * identity (is_tam) carries the OTrP TAM extended key usage: the same CA issues TEE
 * identities, which the TEEs must not take for TAMs (PROFILE P10). */
typedef struct identity {
    otrp__jose_key *key;
    otrp_buf der;
} identity;

static otrp_status make_identity_san(const char *dir, const char *sub, otrp__jose_kty kty,
                                     const char *subject, int is_ca, int is_tam,
                                     const identity *issuer, const char *const *san_dns,
                                     const char *const *san_ip, identity *out, char *detail,
                                     size_t cap)
{
    char why[160] = "";
    memset(out, 0, sizeof *out);
    otrp_status st = otrp__jose_key_generate(kty, IDENTITY_BITS, &out->key, why, sizeof why);
    if (st != OTRP_OK)
        return otrp__fail(detail, cap, st, "%s key: %s", sub, why);
    int64_t now = (int64_t)time(NULL);
    otrp__x509_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.subject = subject;
    spec.subject_key = out->key;
    if (issuer != NULL) {
        spec.issuer_der = issuer->der.data;
        spec.issuer_der_len = issuer->der.len;
        spec.issuer_key = issuer->key;
    }
    spec.not_before = now - 3600; /* tolerate clocks a little behind */
    spec.not_after = now + (int64_t)CERT_YEARS * 365 * 86400;
    spec.is_ca = is_ca;
    spec.san_dns = san_dns;
    spec.san_ip = san_ip;
    if (is_tam) {
        spec.eku_oid = OTRP__X509_EKU_OTRP_TAM;
        spec.eku_oid_len = OTRP__X509_EKU_OTRP_TAM_LEN;
    }
    st = otrp__x509_make(&spec, &out->der, why, sizeof why);
    if (st != OTRP_OK)
        return otrp__fail(detail, cap, st, "%s certificate: %s", sub, why);
    char path[4096];
    (void)snprintf(path, sizeof path, "%s/%s", dir, sub);
    otrp_buf pem = {0};
    st = otrp__jose_key_export_private_pem(out->key, &pem);
    if (st == OTRP_OK)
        st = write_file(path, "key.pem", pem.data, pem.len, 0600, detail, cap);
    otrp_buf_free(&pem);
    if (st == OTRP_OK)
        st = otrp__jose_der_to_pem(out->der.data, out->der.len, "CERTIFICATE", &pem);
    if (st == OTRP_OK && issuer != NULL)
        st = otrp__jose_der_to_pem(issuer->der.data, issuer->der.len, "CERTIFICATE", &pem);
    if (st == OTRP_OK)
        st = write_file(path, "cert.pem", pem.data, pem.len, 0644, detail, cap);
    otrp_buf_free(&pem);
    return st;
}

static otrp_status make_identity(const char *dir, const char *sub, otrp__jose_kty kty,
                                 const char *subject, int is_ca, int is_tam,
                                 const identity *issuer, identity *out, char *detail, size_t cap)
{
    return make_identity_san(dir, sub, kty, subject, is_ca, is_tam, issuer, NULL, NULL, out,
                             detail, cap);
}

static void identity_free(identity *id)
{
    otrp__jose_key_free(id->key);
    otrp_buf_free(&id->der);
}

otrp_status reftam_init(const char *dir, const reftam_init_opts *o, char *detail, size_t cap)
{
    reftam_init_opts none;
    memset(&none, 0, sizeof none);
    if (o == NULL)
        o = &none;
    const char *tamid = o->tamid != NULL ? o->tamid : "tam.otrp.example";
    const char *spid = o->spid != NULL ? o->spid : "sp.otrp.example";
    const char *sdname = o->sdname != NULL ? o->sdname : "sd.otrp.example";
    if (!reftam_id_valid(tamid) || !reftam_id_valid(spid) || !reftam_id_valid(sdname) ||
        strpbrk(tamid, ",=+\"\\<>;") != NULL || strpbrk(spid, ",=+\"\\<>;") != NULL)
        return otrp__fail(detail, cap, OTRP_ERR_CONFIG,
                    "tamid, spid and sdname must be 1..128 printable characters (no DN specials)");
    char path[4096];
    struct stat sb;
    if (snprintf(path, sizeof path, "%s/tam.json", dir) >= (int)sizeof path)
        return otrp__fail(detail, cap, OTRP_ERR_CONFIG, "directory path too long");
    if (stat(path, &sb) == 0)
        return otrp__fail(detail, cap, OTRP_ERR_CONFIG, "%s exists: %s is a TAM directory already",
                          path, dir);
    static const char *const subs[] = {"ca", "tam", "sp", "tas", "tls", NULL};
    otrp_status st = make_dirs(dir, subs, detail, cap);
    if (st == OTRP_OK)
        st = otrp__jose_init();
    identity ca, tam, sp;
    memset(&ca, 0, sizeof ca);
    memset(&tam, 0, sizeof tam);
    memset(&sp, 0, sizeof sp);
    char subject[300];
    if (st == OTRP_OK) {
        (void)snprintf(subject, sizeof subject, "CN=%s CA,O=libotrp reference TAM", tamid);
        st = make_identity(dir, "ca", OTRP__JOSE_KTY_RSA, subject, 1, 0, NULL, &ca, detail, cap);
    }
    if (st == OTRP_OK) { /* P4: tamid is the Subject CN of the TAM certificate */
        (void)snprintf(subject, sizeof subject, "CN=%s,O=libotrp reference TAM", tamid);
        st = make_identity(dir, "tam", OTRP__JOSE_KTY_RSA, subject, 0, 1, &ca, &tam, detail, cap);
    }
    if (st == OTRP_OK) { /* P3: SP keys are P-256 */
        (void)snprintf(subject, sizeof subject, "CN=%s,O=libotrp reference TAM", spid);
        st = make_identity(dir, "sp", OTRP__JOSE_KTY_EC_P256, subject, 0, 0, &ca, &sp, detail, cap);
    }
    identity_free(&ca);
    identity_free(&tam);
    identity_free(&sp);
    if (st == OTRP_OK) { /* tam.json last: a directory with tam.json is complete */
        cJSON *c = cJSON_CreateObject();
        cJSON_AddStringToObject(c, "tamid", tamid);
        cJSON_AddStringToObject(c, "spid", spid);
        cJSON_AddStringToObject(c, "sdname", sdname);
        cJSON_AddStringToObject(c, "jwe_alg", "RSA1_5"); /* P3 default; RSA-OAEP(-256) too */
        char *text = cJSON_Print(c);
        cJSON_Delete(c);
        st = text != NULL ? write_file(dir, "tam.json", text, strlen(text), 0644, detail, cap)
                          : OTRP_ERR_NO_MEMORY;
        cJSON_free(text);
    }
    return st;
}

otrp_status reftam_provision_tee(const char *dir, const char *teedir, const char *name,
                                 const char *tam_uri, char *detail, size_t cap)
{
    char ca_cert[4096], ca_key[4096];
    if (snprintf(ca_cert, sizeof ca_cert, "%s/ca/cert.pem", dir) >= (int)sizeof ca_cert ||
        snprintf(ca_key, sizeof ca_key, "%s/ca/key.pem", dir) >= (int)sizeof ca_key)
        return otrp__fail(detail, cap, OTRP_ERR_CONFIG, "directory path too long");
    if (access(ca_cert, R_OK) != 0 || access(ca_key, R_OK) != 0)
        return otrp__fail(detail, cap, OTRP_ERR_CONFIG, "%s is not a TAM directory (no ca/)", dir);
    reftam_store *store = NULL;
    otrp_status st = reftam_store_open(dir, &store, detail, cap);
    if (st != OTRP_OK)
        return st;
    otrp__mock_provision_opts o;
    memset(&o, 0, sizeof o);
    o.name = name;
    o.ca_cert = ca_cert; /* the TEE identity is issued by the TAM's CA ... */
    o.ca_key = ca_key;
    o.trust = ca_cert;   /* ... and the TEE trusts TAM certificates issued by it */
    o.tam_uri = tam_uri;
    /* This TAM is the TEE's own: its requested TAs are for this tamid, whichever TAM URI
     * a caller names (PROFILE P10). */
    o.tam_id = reftam_store_ident(store)->tamid;
    st = otrp__mock_provision(teedir, &o, detail, cap);
    reftam_store_close(store);
    return st;
}

/* The catalog entry of taid in doc (creating it). */
static cJSON *catalog_slot(cJSON *doc, const char *taid, int *created)
{
    cJSON *tas = cJSON_GetObjectItemCaseSensitive(doc, "tas");
    *created = 0;
    for (cJSON *e = tas->child; e != NULL; e = e->next) {
        const char *t = otrp__json_string(e, "taid");
        if (t != NULL && strcmp(t, taid) == 0)
            return e;
    }
    cJSON *e = cJSON_CreateObject();
    cJSON_AddItemToArray(tas, e);
    cJSON_AddStringToObject(e, "taid", taid);
    *created = 1;
    return e;
}

static otrp_status load_catalog(const char *dir, cJSON **doc, char *detail, size_t cap)
{
    char path[4096];
    (void)snprintf(path, sizeof path, "%s/catalog.json", dir);
    otrp_buf b = {0};
    otrp_status st = otrp__mock_read_file(AT_FDCWD, path, MAX_CATALOG, &b);
    if (st == OTRP_ERR_NOT_FOUND) {
        *doc = cJSON_CreateObject();
        cJSON_AddArrayToObject(*doc, "tas");
        return OTRP_OK;
    }
    if (st == OTRP_OK)
        st = otrp__json_parse((const char *)b.data, b.len, 8, doc, NULL, 0);
    otrp_buf_free(&b);
    if (st == OTRP_OK && !cJSON_IsArray(otrp__json_member(*doc, "tas"))) {
        cJSON_Delete(*doc);
        *doc = NULL;
        st = OTRP_ERR_STATE_CORRUPT;
    }
    if (st != OTRP_OK)
        return otrp__fail(detail, cap, st == OTRP_ERR_IO ? st : OTRP_ERR_STATE_CORRUPT,
                          "%s is unreadable or corrupt", path);
    return OTRP_OK;
}

static otrp_status load_sp_key(const char *dir, otrp__jose_key **key, char *detail, size_t cap)
{
    char path[4096];
    (void)snprintf(path, sizeof path, "%s/sp/key.pem", dir);
    otrp_buf b = {0};
    char why[160] = "";
    otrp_status st = otrp__mock_read_file(AT_FDCWD, path, MAX_PEM, &b);
    if (st == OTRP_OK)
        st = otrp__jose_key_load(b.data, b.len, key, why, sizeof why);
    otrp_buf_free(&b);
    if (st != OTRP_OK)
        return otrp__fail(detail, cap, OTRP_ERR_CONFIG, "%s: %s", path,
                          why[0] ? why : "cannot read");
    return OTRP_OK;
}

otrp_status reftam_add_ta(const char *dir, const char *taid, const void *bin, size_t len,
                          unsigned *version, char *detail, size_t cap)
{
    *version = 0;
    if (!reftam_id_valid(taid))
        return otrp__fail(detail, cap, OTRP_ERR_INVALID_ARG,
                          "TA id must be 1..128 printable ASCII characters without spaces");
    if (len == 0 || len > REFTAM_MAX_TA)
        return otrp__fail(detail, cap, OTRP_ERR_INVALID_ARG, "a TA file must hold 1..%zu bytes",
                          REFTAM_MAX_TA);
    char bin_hash[65];
    otrp_status st = otrp__mock_blob_name(bin, len, bin_hash);
    cJSON *doc = NULL;
    if (st == OTRP_OK)
        st = load_catalog(dir, &doc, detail, cap);
    if (st != OTRP_OK)
        return st;
    int created = 0;
    cJSON *e = catalog_slot(doc, taid, &created);
    const char *old_hash = otrp__json_string(e, "sha256");
    const cJSON *old_version = otrp__json_member(e, "version");
    unsigned old = cJSON_IsNumber(old_version) ? (unsigned)old_version->valuedouble : 0;
    if (!created && old_hash != NULL && strcmp(old_hash, bin_hash) == 0) {
        *version = old; /* the same bytes: nothing to update */
        cJSON_Delete(doc);
        return OTRP_OK;
    }
    otrp__jose_key *sp = NULL;
    otrp_buf image = {0};
    char image_name[65];
    st = load_sp_key(dir, &sp, detail, cap);
    if (st == OTRP_OK)
        st = reftam_sign_ta(sp, bin, len, &image);
    if (st == OTRP_OK)
        st = otrp__mock_blob_name(image.data, image.len, image_name);
    if (st == OTRP_OK) {
        char tas[4096], file[80];
        (void)snprintf(tas, sizeof tas, "%s/tas", dir);
        (void)snprintf(file, sizeof file, "%s.jws", image_name);
        st = write_file(tas, file, image.data, image.len, 0644, detail, cap);
    }
    if (st == OTRP_OK) {
        *version = old + 1;
        cJSON_DeleteItemFromObjectCaseSensitive(e, "version");
        cJSON_DeleteItemFromObjectCaseSensitive(e, "image");
        cJSON_DeleteItemFromObjectCaseSensitive(e, "sha256");
        cJSON_DeleteItemFromObjectCaseSensitive(e, "size");
        cJSON_AddNumberToObject(e, "version", *version);
        cJSON_AddStringToObject(e, "image", image_name);
        cJSON_AddStringToObject(e, "sha256", bin_hash);
        cJSON_AddNumberToObject(e, "size", (double)len);
        char *text = cJSON_Print(doc);
        st = text != NULL ? write_file(dir, "catalog.json", text, strlen(text), 0644, detail, cap)
                          : OTRP_ERR_NO_MEMORY;
        cJSON_free(text);
    }
    otrp__jose_key_free(sp);
    otrp_buf_free(&image);
    cJSON_Delete(doc);
    return st;
}

static otrp_status read_pem_text(const char *dir, const char *name, char **out)
{
    char path[4096];
    (void)snprintf(path, sizeof path, "%s/tls/%s", dir, name);
    otrp_buf b = {0};
    otrp_status st = otrp__mock_read_file(AT_FDCWD, path, MAX_PEM, &b);
    if (st == OTRP_OK)
        *out = (char *)b.data; /* NUL-terminated by otrp_buf */
    else
        otrp_buf_free(&b);
    return st;
}

/* Make DIR/tls/{key,cert}.pem: a P-256 key, CN=127.0.0.1 with subjectAltName IP
 * 127.0.0.1 and DNS localhost, issued by DIR's CA. */
static otrp_status make_tls(const char *dir, char *detail, size_t cap)
{
    char path[4096];
    (void)snprintf(path, sizeof path, "%s/ca/key.pem", dir);
    otrp_buf b = {0};
    identity ca;
    memset(&ca, 0, sizeof ca);
    char why[160] = "";
    otrp_status st = otrp__mock_read_file(AT_FDCWD, path, MAX_PEM, &b);
    if (st == OTRP_OK)
        st = otrp__jose_key_load(b.data, b.len, &ca.key, why, sizeof why);
    otrp_buf_free(&b);
    otrp__x509_certs *c = NULL;
    (void)snprintf(path, sizeof path, "%s/ca/cert.pem", dir);
    if (st == OTRP_OK)
        st = otrp__mock_read_file(AT_FDCWD, path, MAX_PEM, &b);
    if (st == OTRP_OK && (st = otrp__x509_certs_new(&c)) == OTRP_OK &&
        (st = otrp__x509_certs_add(c, b.data, b.len, why, sizeof why)) == OTRP_OK) {
        size_t len = 0;
        const uint8_t *der = otrp__x509_certs_der(c, 0, &len);
        st = otrp_buf_append(&ca.der, der, len);
    }
    otrp_buf_free(&b);
    otrp__x509_certs_free(c);
    if (st != OTRP_OK) {
        identity_free(&ca);
        return otrp__fail(detail, cap, OTRP_ERR_CONFIG, "%s/ca: %s", dir,
                          why[0] ? why : "unreadable");
    }
    /* subjectAltName for the names clients use (RFC 2818 / RFC 6125 check those, not the
     * CN, once a certificate has one); the CN stays 127.0.0.1 for older clients. */
    static const char *const san_dns[] = {"localhost", NULL};
    static const char *const san_ip[] = {"127.0.0.1", NULL};
    identity tls;
    st = make_identity_san(dir, "tls", OTRP__JOSE_KTY_EC_P256,
                           "CN=127.0.0.1,O=libotrp reference TAM", 0, 0, &ca, san_dns, san_ip, &tls,
                           detail, cap);
    identity_free(&tls);
    identity_free(&ca);
    return st;
}

otrp_status reftam_tls_material(const char *dir, char **cert_pem, char **key_pem, char pin[64],
                                char *detail, size_t cap)
{
    *cert_pem = NULL;
    *key_pem = NULL;
    char path[4096];
    if (snprintf(path, sizeof path, "%s/tls/cert.pem", dir) >= (int)sizeof path)
        return otrp__fail(detail, cap, OTRP_ERR_CONFIG, "directory path too long");
    otrp_status st = OTRP_OK;
    if (access(path, R_OK) != 0) {
        static const char *const subs[] = {"tls", NULL};
        st = make_dirs(dir, subs, detail, cap);
        if (st == OTRP_OK)
            st = make_tls(dir, detail, cap);
    }
    if (st == OTRP_OK && (read_pem_text(dir, "cert.pem", cert_pem) != OTRP_OK ||
                          read_pem_text(dir, "key.pem", key_pem) != OTRP_OK))
        st = otrp__fail(detail, cap, OTRP_ERR_CONFIG, "cannot read %s/tls/", dir);
    otrp__jose_key *key = NULL;
    otrp_buf spki = {0};
    if (st == OTRP_OK && otrp__jose_key_load((const uint8_t *)*key_pem, strlen(*key_pem), &key,
                                             NULL, 0) != OTRP_OK)
        st = otrp__fail(detail, cap, OTRP_ERR_CONFIG, "%s/tls/key.pem is not a key", dir);
    if (st == OTRP_OK)
        st = otrp__jose_key_export_spki_der(key, &spki);
    char h[48];
    if (st == OTRP_OK)
        st = reftam_hash_b64(spki.data, spki.len, h);
    if (st == OTRP_OK)
        (void)snprintf(pin, 64, "sha256//%s", h);
    otrp__jose_key_free(key);
    otrp_buf_free(&spki);
    if (st != OTRP_OK) {
        free(*cert_pem);
        free(*key_pem);
        *cert_pem = NULL;
        *key_pem = NULL;
    }
    return st;
}
