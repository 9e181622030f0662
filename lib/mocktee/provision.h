/* Creating a mock TEE provisioning directory (otrp-tee-sim init; tests). */
#ifndef OTRP_MOCKTEE_PROVISION_H
#define OTRP_MOCKTEE_PROVISION_H

#include <stddef.h>
#include <stdint.h>

#include "otrp/status.h"

/* The default storage quota written to tee.json: 64 MiB of TAs and data. */
#define OTRP__MOCK_DEFAULT_QUOTA (64u * 1024u * 1024u)
/* Identity certificates are valid for this long (no time bombs in demos). */
#define OTRP__MOCK_CERT_YEARS 30

typedef struct otrp__mock_provision_opts {
    const char *name;        /* TEE name; NULL: "mocktee" */
    unsigned key_bits;       /* 2048, 3072 or 4096; 0: 2048 */
    const char *ca_cert;     /* PEM file of a CA issuing the identity; NULL: self-signed */
    const char *ca_key;      /* its private key (PEM); with ca_cert */
    const char *tam_uri;     /* tee.json tam_uri; NULL: none */
    const char *tam_id;      /* tee.json tam_id, the tamid of the TEE's TAM; NULL: none
                              * (then learnt on first use, include/otrp/mocktee.h) */
    const char *trust;       /* a PEM file copied to trust/; NULL: none yet */
    uint64_t quota_bytes;    /* 0: OTRP__MOCK_DEFAULT_QUOTA */
} otrp__mock_provision_opts;

/*
 * Create dir (it may exist but must not hold a tee.json yet) with tee.json,
 * identity/key.pem, identity/cert.pem (+ the CA certificate), trust/, state/.
 * OTRP_ERR_CONFIG: bad options, existing tee.json, unreadable CA files (detail says
 * which); OTRP_ERR_IO; crypto statuses of key generation.
 */
otrp_status otrp__mock_provision(const char *dir, const otrp__mock_provision_opts *opts,
                                 char *detail, size_t cap);

#endif
