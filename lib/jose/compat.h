/*
 * The one place that includes mbedTLS headers and hides the differences between
 * mbedTLS 2.28 (Debian 12) and 3.6 (Debian 13). Only the lib/jose sources include this.
 */
#ifndef OTRP_JOSE_COMPAT_H
#define OTRP_JOSE_COMPAT_H

#include <mbedtls/version.h>

#include <psa/crypto.h>
#include <mbedtls/asn1.h>
#include <mbedtls/bignum.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>
#include <mbedtls/x509_crt.h>

#if MBEDTLS_VERSION_NUMBER < 0x02180000
#error "libotrp needs mbedTLS 2.24 or later (PSA crypto)"
#endif

#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#define OTRP__MBEDTLS3 1
#else
#define OTRP__MBEDTLS3 0
#endif

/* 3.x made most struct fields private; 2.28 has no such macro. */
#ifndef MBEDTLS_PRIVATE
#define MBEDTLS_PRIVATE(member) member
#endif

/* The random callback the legacy API wants (x509write signing, RSA blinding). It
 * calls PSA's generator: only use it while holding the PSA lock. */
int otrp__jose_legacy_rng(void *ctx, unsigned char *out, size_t len);

/* mbedtls_pk_parse_key gained RNG arguments in 3.0. */
static inline int otrp__compat_pk_parse_key(mbedtls_pk_context *pk, const unsigned char *key,
                                            size_t len)
{
#if OTRP__MBEDTLS3
    return mbedtls_pk_parse_key(pk, key, len, NULL, 0, otrp__jose_legacy_rng, NULL);
#else
    return mbedtls_pk_parse_key(pk, key, len, NULL, 0);
#endif
}

/* The curve of an EC key in a pk context. */
static inline mbedtls_ecp_group_id otrp__compat_pk_ec_group(const mbedtls_pk_context *pk)
{
#if OTRP__MBEDTLS3
    return mbedtls_ecp_keypair_get_group_id(mbedtls_pk_ec(*pk));
#else
    return mbedtls_pk_ec(*pk)->grp.id;
#endif
}

/* Certificate serial from raw big-endian bytes (3.x: set_serial_raw; 2.28: an mpi). */
static inline int otrp__compat_crt_set_serial(mbedtls_x509write_cert *crt,
                                              unsigned char *serial, size_t len)
{
#if OTRP__MBEDTLS3
    return mbedtls_x509write_crt_set_serial_raw(crt, serial, len);
#else
    mbedtls_mpi mpi;
    mbedtls_mpi_init(&mpi);
    int ret = mbedtls_mpi_read_binary(&mpi, serial, len);
    if (ret == 0)
        ret = mbedtls_x509write_crt_set_serial(crt, &mpi);
    mbedtls_mpi_free(&mpi);
    return ret;
#endif
}

/* Signature fields of a parsed certificate (private in 3.x). */
#define OTRP__CRT_SIG(crt) ((crt)->MBEDTLS_PRIVATE(sig))
#define OTRP__CRT_SIG_MD(crt) ((crt)->MBEDTLS_PRIVATE(sig_md))

#endif
