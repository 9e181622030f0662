/* libFuzzer target: JWS parse (every serialization, with and without the profile
 * rules) and verify with fixed RSA and EC keys (RFC 7515 A.2 / A.3). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jose/jose.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char RSA_JWK[] =
    "{\"kty\":\"RSA\",\"n\":\"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-"
    "Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_"
    "7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3"
    "qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRW"
    "yuXpoQ\",\"e\":\"AQAB\"}";
static const char EC_JWK[] = "{\"kty\":\"EC\",\"crv\":\"P-256\","
                             "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
                             "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}";

static otrp__jose_key *rsa, *ec;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (rsa == NULL &&
        (otrp__jose_key_from_jwk(RSA_JWK, strlen(RSA_JWK), &rsa, NULL, 0) != OTRP_OK ||
         otrp__jose_key_from_jwk(EC_JWK, strlen(EC_JWK), &ec, NULL, 0) != OTRP_OK))
        abort();
    for (unsigned flags = 0; flags < 2; flags++) {
        otrp__jws *jws = NULL;
        char detail[128];
        if (otrp__jws_parse((const char *)data, size, flags, &jws, detail, sizeof(detail)) !=
            OTRP_OK)
            continue;
        size_t n = 0;
        const uint8_t *p = otrp__jws_payload(jws, &n);
        if (p == NULL || (n > 0 && p[n] != 0))
            abort();
        (void)otrp__jws_verify(jws, rsa, 0, detail, sizeof(detail));
        (void)otrp__jws_verify(jws, ec, 0, detail, sizeof(detail));
        otrp__x509_certs *certs = NULL;
        if (otrp__jws_x5c(jws, &certs, detail, sizeof(detail)) == OTRP_OK)
            otrp__x509_certs_free(certs);
        otrp__jws_free(jws);
    }
    return 0;
}
