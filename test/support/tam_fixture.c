#include "tam_fixture.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "jose/jose.h"
#include "mock_fixture.h"
#include "tam_builder.h"
#include "util/json_strict.h"

/* A test TAM certificate lives this long (the test ends long before). */
#define CERT_DAYS 3650
#define RSA_BITS 2048u

static int put(const char *dir, const char *rel, const otrp_buf *b)
{
    return fx_write(dir, rel, b->data, b->len);
}

static int copy_into(const char *src_path, const char *dir, const char *rel)
{
    otrp_buf b = {0};
    int rc = test_read_file(src_path, &b) == OTRP_OK ? put(dir, rel, &b) : -1;
    otrp_buf_free(&b);
    return rc;
}

/* tam.json of dir with tamid in place of its own. */
static int rename_tam(const char *dir, const char *tamid)
{
    char path[1024];
    (void)snprintf(path, sizeof path, "%s/tam.json", dir);
    otrp_buf b = {0};
    cJSON *cfg = NULL;
    int rc = -1;
    if (test_read_file(path, &b) == OTRP_OK &&
        otrp__json_parse((const char *)b.data, b.len, 4, &cfg, NULL, 0) == OTRP_OK &&
        cJSON_ReplaceItemInObjectCaseSensitive(cfg, "tamid", cJSON_CreateString(tamid))) {
        char *text = cJSON_Print(cfg);
        rc = text != NULL ? fx_write(dir, "tam.json", text, strlen(text)) : -1;
        cJSON_free(text);
    }
    cJSON_Delete(cfg);
    otrp_buf_free(&b);
    return rc;
}

/* tam/key.pem and tam/cert.pem (leaf, then the CA) of a fresh identity from dir's CA. */
static int new_identity(const char *dir, const char *tamid)
{
    char path[1024], subject[300];
    otrp_buf b = {0}, der = {0}, pem = {0};
    otrp__jose_key *ca_key = NULL, *key = NULL;
    otrp__x509_certs *ca = NULL;
    (void)snprintf(path, sizeof path, "%s/ca/key.pem", dir);
    otrp_status st = test_load_key(path, &ca_key);
    (void)snprintf(path, sizeof path, "%s/ca/cert.pem", dir);
    if (st == OTRP_OK)
        st = test_read_file(path, &b);
    if (st == OTRP_OK && (st = otrp__x509_certs_new(&ca)) == OTRP_OK)
        st = otrp__x509_certs_add(ca, b.data, b.len, NULL, 0);
    if (st == OTRP_OK)
        st = otrp__jose_key_generate(OTRP__JOSE_KTY_RSA, RSA_BITS, &key, NULL, 0);
    if (st == OTRP_OK) {
        (void)snprintf(subject, sizeof subject, "CN=%s,O=libotrp test TAM", tamid);
        int64_t now = (int64_t)time(NULL);
        otrp__x509_spec spec;
        memset(&spec, 0, sizeof spec);
        spec.subject = subject;
        spec.subject_key = key;
        spec.issuer_der = otrp__x509_certs_der(ca, 0, &spec.issuer_der_len);
        spec.issuer_key = ca_key;
        spec.not_before = now - 3600;
        spec.not_after = now + (int64_t)CERT_DAYS * 86400;
        spec.eku_oid = OTRP__X509_EKU_OTRP_TAM;
        spec.eku_oid_len = OTRP__X509_EKU_OTRP_TAM_LEN;
        st = otrp__x509_make(&spec, &der, NULL, 0);
    }
    if (st == OTRP_OK)
        st = otrp__jose_key_export_private_pem(key, &pem);
    int rc = st == OTRP_OK ? put(dir, "tam/key.pem", &pem) : -1;
    otrp_buf_reset(&pem);
    if (rc == 0 && (otrp__jose_der_to_pem(der.data, der.len, "CERTIFICATE", &pem) != OTRP_OK ||
                    otrp__x509_certs_pem(ca, 0, &pem) != OTRP_OK || put(dir, "tam/cert.pem", &pem) != 0))
        rc = -1;
    otrp__jose_key_free(ca_key);
    otrp__jose_key_free(key);
    otrp__x509_certs_free(ca);
    otrp_buf_free(&b);
    otrp_buf_free(&der);
    otrp_buf_free(&pem);
    return rc;
}

int fx_tam_beside(const char *src, const char *dst, const char *tamid, const char *key_pem,
                  const char *cert_pem)
{
    char path[1024];
    if (fx_copy_dir(src, dst) != 0 || rename_tam(dst, tamid) != 0)
        return -1;
    const char *records[] = {"catalog.json", "installed.json", "tas"};
    for (size_t i = 0; i < sizeof records / sizeof records[0]; i++) {
        (void)snprintf(path, sizeof path, "%s/%s", dst, records[i]);
        if (fx_rm_rf(path) != 0)
            return -1;
    }
    (void)snprintf(path, sizeof path, "%s/tas", dst);
    if (mkdir(path, 0700) != 0)
        return -1;
    if (key_pem == NULL)
        return new_identity(dst, tamid);
    return copy_into(key_pem, dst, "tam/key.pem") == 0 && copy_into(cert_pem, dst, "tam/cert.pem") == 0
               ? 0
               : -1;
}
