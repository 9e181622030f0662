/* libFuzzer target: JWE parse and decrypt (all serializations) with the fixed RSA
 * private key of RFC 7516 A.2, so the A.2 seed decrypts and mutations reach every
 * step: headers, RSA1_5/OAEP unwrap, tag check, CBC/GCM. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jose/jose.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char RSA_JWK[] =
    "{\"kty\":\"RSA\",\"n\":\"sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBH"
    "od5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvV"
    "RdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynV"
    "JCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw"
    "3vRw\",\"e\":\"AQAB\",\"d\":\"VFCWOqXr8nvZNyaaJLXdnNPXZKRaWCjkU5Q2egQQpTBMwhprMzWzpR8Sxq1OPT"
    "hh_J6MUD8Z35wky9b8eEO0pwNS8xlh1lOFRRBoNqDIKVOku0aZb-rynq8cxjDTLZQ6Fz7jSjR1Klop-YKaUHc9GsEofQ"
    "qYruPhzSA-QgajZGPbE_0ZaVDJHfyd7UUBUKunFMScbflYAAOYJqVIVwaYR5zWEEceUjNnTNo_CVSj-VvXLO5VZfCUAV"
    "LgW4dpf1SrtZjSt34YLsRarSb127reG_DUwg9Ch-KyvjT1SkHgUWRVGcyly7uvVGRSDwsXypdrNinPA4jlhoNdizK2zF"
    "2CWQ\"}";

static otrp__jose_key *key;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (key == NULL && otrp__jose_key_from_jwk(RSA_JWK, strlen(RSA_JWK), &key, NULL, 0) != OTRP_OK)
        abort();
    for (unsigned flags = 0; flags < 2; flags++) {
        otrp_buf pt = {0};
        otrp__jwe_info info;
        char detail[128];
        otrp_status st = otrp__jwe_decrypt((const char *)data, size, key,
                                           flags ? OTRP__JOSE_F_PROFILE : 0, &pt, &info, detail,
                                           sizeof(detail));
        if (st != OTRP_OK && pt.len != 0)
            abort(); /* nothing may be released on failure */
        otrp_buf_free(&pt);
    }
    return 0;
}
