/*
 * Fixtures for tests with more than one reference TAM (tam/): a TAM directory made
 * beside another one, under the same CA, so that the TEEs that CA provisioned trust both.
 */
#ifndef TEST_TAM_FIXTURE_H
#define TEST_TAM_FIXTURE_H

/*
 * Make the TAM directory dst as a copy of src (its CA, TLS certificate, SP identity and
 * tam.json spid/sdname) with tamid and an empty catalog and installed record. Its TAM
 * identity is a fresh RSA key certified by src's CA (Subject CN = tamid, the OTrP TAM
 * marker), or, when key_pem and cert_pem are given, those files (e.g. a TEE identity, to
 * see it refused as a TAM). dst must not exist. 0 or -1.
 */
int fx_tam_beside(const char *src, const char *dst, const char *tamid, const char *key_pem,
                  const char *cert_pem);

#endif
