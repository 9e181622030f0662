#include "mocktee/provision.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mocktee/mocktee.h"
#include "util/detail.h"

#define MAX_PEM_FILE (256u * 1024u)

/* dir/sub created 0700, or kept when it exists and is private (otrp__mock_private_dir):
 * a directory another user can write to would let that user swap the keys written
 * into it. */
static otrp_status make_dir(const char *dir, const char *sub, char *detail, size_t cap)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s%s%s", dir, sub[0] ? "/" : "", sub) >= (int)sizeof path)
        return otrp__fail(detail, cap, OTRP_ERR_CONFIG, "directory path too long");
    int fd = -1;
    otrp_status st = otrp__mock_private_dir(AT_FDCWD, path, 1, &fd, detail, cap);
    if (fd >= 0)
        close(fd);
    return st;
}

static otrp_status write_file(const char *dir, const char *sub, const char *name, const void *data,
                              size_t len, unsigned mode, char *detail, size_t cap)
{
    char path[4096];
    (void)snprintf(path, sizeof path, "%s/%s", dir, sub);
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return otrp__fail(detail, cap, OTRP_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    otrp_status st = otrp__mock_atomic_write(fd, name, data, len, mode);
    close(fd);
    if (st != OTRP_OK)
        return otrp__fail(detail, cap, st, "cannot write %s/%s", path, name);
    return OTRP_OK;
}

static otrp_status load_ca(const otrp__mock_provision_opts *o, otrp__x509_certs **cert,
                           otrp__jose_key **key, char *detail, size_t cap)
{
    otrp_buf file = {0};
    char why[160] = "";
    otrp_status st = otrp__mock_read_file(AT_FDCWD, o->ca_cert, MAX_PEM_FILE, &file);
    if (st != OTRP_OK)
        return otrp__fail(detail, cap, OTRP_ERR_CONFIG, "cannot read %s", o->ca_cert);
    st = otrp__x509_certs_new(cert);
    if (st == OTRP_OK)
        st = otrp__x509_certs_add(*cert, file.data, file.len, why, sizeof why);
    if (st != OTRP_OK) {
        otrp_buf_free(&file);
        return otrp__fail(detail, cap, OTRP_ERR_CONFIG, "%s: %s", o->ca_cert, why);
    }
    st = otrp__mock_read_file(AT_FDCWD, o->ca_key, MAX_PEM_FILE, &file);
    if (st == OTRP_OK)
        st = otrp__jose_key_load(file.data, file.len, key, why, sizeof why);
    otrp_buf_free(&file);
    if (st != OTRP_OK || !otrp__jose_key_has_private(*key))
        return otrp__fail(detail, cap, OTRP_ERR_CONFIG, "%s: not a private key %s", o->ca_key, why);
    return OTRP_OK;
}

static otrp_status write_config(const char *dir, const otrp__mock_provision_opts *o,
                                const char *name, char *detail, size_t cap)
{
    cJSON *c = cJSON_CreateObject();
    if (c == NULL)
        return OTRP_ERR_NO_MEMORY;
    cJSON_AddStringToObject(c, "name", name);
    cJSON_AddStringToObject(c, "version", "1.0");
    cJSON_AddStringToObject(c, "tam_uri", o->tam_uri != NULL ? o->tam_uri : "");
    if (o->tam_id != NULL)
        cJSON_AddStringToObject(c, "tam_id", o->tam_id);
    cJSON_AddStringToObject(c, "jwe_alg", "RSA1_5");
    cJSON_AddStringToObject(c, "sign_alg", "RS256");
    cJSON_AddFalseToObject(c, "require_ocsp");
    cJSON_AddNumberToObject(c, "quota_bytes",
                            (double)(o->quota_bytes != 0 ? o->quota_bytes : OTRP__MOCK_DEFAULT_QUOTA));
    char *text = cJSON_Print(c);
    cJSON_Delete(c);
    if (text == NULL)
        return OTRP_ERR_NO_MEMORY;
    otrp_buf file = {0};
    otrp_status st = otrp_buf_append_str(&file, text);
    if (st == OTRP_OK)
        st = otrp_buf_append(&file, "\n", 1);
    if (st == OTRP_OK)
        st = write_file(dir, ".", "tee.json", file.data, file.len, 0644, detail, cap);
    otrp_buf_free(&file);
    cJSON_free(text);
    return st;
}

static otrp_status copy_trust(const char *dir, const char *src, char *detail, size_t cap)
{
    otrp_buf file = {0};
    otrp__x509_certs *certs = NULL;
    char why[160] = "";
    otrp_status st = otrp__mock_read_file(AT_FDCWD, src, MAX_PEM_FILE, &file);
    if (st == OTRP_OK)
        st = otrp__x509_certs_new(&certs);
    if (st == OTRP_OK)
        st = otrp__x509_certs_add(certs, file.data, file.len, why, sizeof why);
    otrp__x509_certs_free(certs);
    if (st != OTRP_OK) {
        otrp_buf_free(&file);
        return otrp__fail(detail, cap, OTRP_ERR_CONFIG, "trust anchor %s: %s", src, why);
    }
    st = write_file(dir, "trust", "tam-ca.pem", file.data, file.len, 0644, detail, cap);
    otrp_buf_free(&file);
    return st;
}

otrp_status otrp__mock_provision(const char *dir, const otrp__mock_provision_opts *o,
                                 char *detail, size_t cap)
{
    const char *name = o->name != NULL ? o->name : "mocktee";
    unsigned bits = o->key_bits != 0 ? o->key_bits : 2048;
    if (!otrp__mock_tee_name_valid(name))
        return otrp__fail(detail, cap, OTRP_ERR_CONFIG,
                    "TEE name must be 1..128 printable ASCII characters, no space at either end");
    if (bits != 2048 && bits != 3072 && bits != 4096)
        return otrp__fail(detail, cap, OTRP_ERR_CONFIG, "key bits must be 2048, 3072 or 4096");
    if ((o->ca_cert == NULL) != (o->ca_key == NULL))
        return otrp__fail(detail, cap, OTRP_ERR_CONFIG, "--ca-cert and --ca-key go together");
    char path[4096];
    struct stat sb;
    if (snprintf(path, sizeof path, "%s/tee.json", dir) >= (int)sizeof path)
        return otrp__fail(detail, cap, OTRP_ERR_CONFIG, "directory path too long");
    if (stat(path, &sb) == 0)
        return otrp__fail(detail, cap, OTRP_ERR_CONFIG, "%s exists: %s is provisioned already",
                          path, dir);
    static const char *const subs[] = {"", "identity", "trust", "state"};
    otrp_status st = OTRP_OK;
    for (size_t i = 0; i < sizeof subs / sizeof subs[0] && st == OTRP_OK; i++)
        st = make_dir(dir, subs[i], detail, cap);
    if (st == OTRP_OK)
        st = otrp__jose_init();
    otrp__jose_key *key = NULL, *ca_key = NULL;
    otrp__x509_certs *ca = NULL;
    otrp_buf pem = {0}, der = {0};
    char why[160] = "";
    if (st == OTRP_OK && o->ca_cert != NULL)
        st = load_ca(o, &ca, &ca_key, detail, cap);
    if (st == OTRP_OK) {
        st = otrp__jose_key_generate(OTRP__JOSE_KTY_RSA, bits, &key, why, sizeof why);
        if (st != OTRP_OK)
            (void)otrp__fail(detail, cap, st, "key generation: %s", why);
    }
    if (st == OTRP_OK) {
        char subject[200];
        (void)snprintf(subject, sizeof subject, "CN=%s,O=libotrp mock TEE", name);
        int64_t now = (int64_t)time(NULL);
        otrp__x509_spec spec;
        memset(&spec, 0, sizeof spec);
        spec.subject = subject;
        spec.subject_key = key;
        if (ca != NULL) {
            spec.issuer_der = otrp__x509_certs_der(ca, 0, &spec.issuer_der_len);
            spec.issuer_key = ca_key;
        }
        spec.not_before = now - 3600; /* tolerate clocks a little behind */
        spec.not_after = now + (int64_t)OTRP__MOCK_CERT_YEARS * 365 * 86400;
        st = otrp__x509_make(&spec, &der, why, sizeof why);
        if (st != OTRP_OK)
            (void)otrp__fail(detail, cap, st, "certificate: %s", why);
    }
    if (st == OTRP_OK)
        st = otrp__jose_key_export_private_pem(key, &pem);
    if (st == OTRP_OK)
        st = write_file(dir, "identity", "key.pem", pem.data, pem.len, 0600, detail, cap);
    otrp_buf_reset(&pem);
    if (st == OTRP_OK)
        st = otrp__jose_der_to_pem(der.data, der.len, "CERTIFICATE", &pem);
    if (st == OTRP_OK && ca != NULL)
        st = otrp__x509_certs_pem(ca, 0, &pem);
    if (st == OTRP_OK)
        st = write_file(dir, "identity", "cert.pem", pem.data, pem.len, 0644, detail, cap);
    if (st == OTRP_OK && o->trust != NULL)
        st = copy_trust(dir, o->trust, detail, cap);
    /* tee.json last: a directory with tee.json is complete. */
    if (st == OTRP_OK)
        st = write_config(dir, o, name, detail, cap);
    otrp__jose_key_free(key);
    otrp__jose_key_free(ca_key);
    otrp__x509_certs_free(ca);
    otrp_buf_free(&pem);
    otrp_buf_free(&der);
    return st;
}
