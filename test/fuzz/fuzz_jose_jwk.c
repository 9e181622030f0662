/* libFuzzer target: JWK import (RSA and EC, public and private), PEM/DER key and
 * certificate loading; whatever imports must export and re-import to the same key. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jose/jose.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void roundtrip(const otrp__jose_key *key)
{
    otrp_buf text = {0}, spki = {0};
    otrp__jose_key *again = NULL;
    if (otrp__jose_key_export_public_jwk_text(key, &text) != OTRP_OK ||
        otrp__jose_key_export_spki_der(key, &spki) != OTRP_OK ||
        otrp__jose_key_from_jwk((const char *)text.data, text.len, &again, NULL, 0) != OTRP_OK ||
        !otrp__jose_key_public_equal(key, again))
        abort();
    otrp__jose_key_free(again);
    otrp_buf_free(&text);
    otrp_buf_free(&spki);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    otrp__jose_key *key = NULL;
    char detail[128];
    if (otrp__jose_key_from_jwk((const char *)data, size, &key, detail, sizeof(detail)) == OTRP_OK) {
        roundtrip(key);
        otrp__jose_key_free(key);
    }
    key = NULL;
    if (otrp__jose_key_load(data, size, &key, detail, sizeof(detail)) == OTRP_OK) {
        roundtrip(key);
        otrp__jose_key_free(key);
    }
    otrp__x509_certs *certs = NULL;
    if (otrp__x509_certs_new(&certs) == OTRP_OK) {
        (void)otrp__x509_certs_add(certs, data, size, detail, sizeof(detail));
        otrp__x509_certs_free(certs);
    }
    return 0;
}
