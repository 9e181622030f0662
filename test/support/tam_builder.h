/*
 * A test-only TAM on lib/jose: builds signed (and encrypted) OTrP requests the way a TAM
 * does (PROFILE P2..P7) and verifies and decrypts the TEE's answers the way a TAM must
 * (P6, P8). Used by the mock TEE tests and reusable by the relay and reference TAM tests.
 * Every request can be bent for hostile tests through test_tam_opts.
 */
#ifndef OTRP_TEST_TAM_BUILDER_H
#define OTRP_TEST_TAM_BUILDER_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "jose/jose.h"
#include "otrp/tee.h"

/* The fixed test PKI (test/data/pki, see make-pki.sh) and its verification time. */
#define TEST_PKI_DIR "test/data/pki"
#define TEST_PKI_TIME ((int64_t)1811808000) /* 2027-06-01T00:00:00Z */

typedef struct test_tam test_tam;

/* A TAM with the key and certificate chain (leaf first) of two PEM files. */
otrp_status test_tam_new(const char *key_pem_path, const char *chain_pem_path, test_tam **out);
void test_tam_free(test_tam *tam);
/* The TAM's tamid (Subject CN of its certificate). */
const char *test_tam_id(const test_tam *tam);
/* The dsihash the TAM will send next ("" before any DSI), and the TEE name learnt. */
const char *test_tam_dsihash(const test_tam *tam);
const char *test_tam_tee_name(const test_tam *tam);
/* The DER TEE certificate's did (base64 SHA-256), once learnt. */
const char *test_tam_did(const test_tam *tam);
/* Copy what a TAM learnt from a GetDeviceState (TEE key, name, dsihash) from another. */
otrp_status test_tam_learn_from(test_tam *tam, const test_tam *other);

/* Knobs for hostile requests; zero-initialised = an honest request. */
typedef struct test_tam_opts {
    const char *ver;            /* NULL: "1.0" */
    const char *outer_name;     /* NULL: the matching "<Name>Request" */
    const char *tbs_name;       /* NULL: the matching "<Name>TBSRequest" */
    const char *tee;            /* NULL: the TEE name learnt from the DSI */
    const char *dsihash;        /* NULL: the current one */
    int no_nextdsi;             /* 1: nextdsi false (default true) */
    const char *protected_json; /* exact JWS protected header, e.g. {"alg":"none"} */
    int no_x5c;                 /* 1: no signer certificate */
    int no_signature;           /* 1: an unsigned JWS (empty signature) */
    int tamper_payload;         /* 1: change the payload after signing */
    const otrp__jose_key *sign_key; /* sign with this key instead of the TAM's */
    otrp__jose_alg jwe_alg;     /* key management of content (NONE: RSA1_5) */
    const char *content_text;   /* encrypt this exact text as content */
    const otrp__jose_key *content_key; /* encrypt content to this key, not the TEE's */
    const char *rid;            /* NULL: a counter */
} test_tam_opts;

/* GetDeviceStateRequest with ocspdat [] and supportedsigalgs ["RS256"]. */
otrp_status test_tam_get_device_state(test_tam *tam, const test_tam_opts *opts, otrp_buf *msg);

/*
 * A later request: name is "CreateSD", "InstallTA", ... content is the object to
 * encrypt to the TEE (tamid and did are added when absent); extra (may be NULL) holds
 * further TBS members, e.g. encrypted_ta.
 */
otrp_status test_tam_request(test_tam *tam, const char *name, const cJSON *content,
                             const cJSON *extra, const test_tam_opts *opts, otrp_buf *msg);

/* Sign arbitrary payload bytes (a TBS document, well-formed or not) as {outer: JWS} with
 * the TAM's key and x5c: for fuzzing and hostile tests. */
otrp_status test_tam_sign_payload(test_tam *tam, const char *outer, const void *payload,
                                  size_t len, otrp_buf *msg);

/* What a TAM reads from an answer. */
typedef struct test_tam_answer {
    char status[8];            /* "pass" / "fail" */
    char error_code[64];       /* reason.error-code of a failure */
    char error_message[256];
    char rid[128], tid[128];
    int verified;              /* the JWS verified with the TEE certificate */
    cJSON *tbs;                /* the signed TBS object */
    cJSON *content;            /* decrypted content (NULL when absent) */
    char *dsi;                 /* the DSI text received (edsi or content.dsi), or NULL */
} test_tam_answer;

/*
 * Verify and decrypt an answer to request `name` ("GetDeviceState", "CreateSD", ...).
 * GetDeviceState: decrypts edsi, learns the TEE certificate from it, verifies. Others:
 * verifies with the learnt TEE certificate, decrypts content, checks content.did. A
 * received DSI becomes the next dsihash. OTRP_ERR_SIGNATURE, OTRP_ERR_DECRYPT,
 * OTRP_ERR_MSG_STRUCTURE ... when the answer is not what a TAM accepts.
 */
otrp_status test_tam_read(test_tam *tam, const char *name, const char *answer, size_t len,
                          test_tam_answer *out);
void test_tam_answer_free(test_tam_answer *a);

/* A TA image (PROFILE P7): compact JWS of bin signed by the SP key. */
otrp_status test_tam_sign_ta(const otrp__jose_key *sp_key, const void *bin, size_t len,
                             otrp_buf *image);
/* encrypted_ta for an SP AIK (base64 SPKI): a fresh AES key wrapped to it, AES-256-CBC
 * of image and pdata (either may be NULL). update: ciphernew* member names. */
otrp_status test_tam_encrypt_ta(const char *spaik_b64, const void *image, size_t len,
                                const void *pdata, size_t pdata_len, int update,
                                cJSON **encrypted_ta);

/* Helpers. */
otrp_status test_read_file(const char *path, otrp_buf *out);
otrp_status test_load_key(const char *path, otrp__jose_key **out);
/* The first certificate of a PEM file as standard base64 DER (free()). */
char *test_cert_b64(const char *pem_path);

#endif
