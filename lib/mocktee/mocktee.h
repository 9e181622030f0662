/*
 * The mock TEE's internals: an honest OTrP TEE in software (PROFILE.md, reference 4.2).
 *
 * config.c    tee.json, identity and trust anchors of the provisioning directory
 * state.c     the state document (SDs, TAs, SP AIKs, DSI references) and the DSI
 * tams.c      which TAM the TEE chooses, and the requested/unneeded lists bound to it
 * request.c   parsing and verification of TAM requests, signed answers
 * ops.c       the OTrP operations (GetDeviceState, CreateSD, ... DeleteTA)
 * backend.c   the struct otrp_tee_ops vtable and the session entry points
 * provision.c creating a provisioning directory (otrp-tee-sim init, tests)
 */
#ifndef OTRP_MOCKTEE_MOCKTEE_H
#define OTRP_MOCKTEE_MOCKTEE_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "jose/jose.h"
#include "mocktee/store.h"
#include "otrp/mocktee.h"
#include "otrp/tee.h"

/* PROFILE P7: ids and names are 1..128 characters in 0x21..0x7E. */
#define OTRP__MOCK_MAX_ID 128
/* Longest tee.json (it holds a handful of short strings). */
#define OTRP__MOCK_MAX_CONFIG (64u * 1024u)
/* Longest state document; about 1 KiB per TA, far beyond any test or demo. */
#define OTRP__MOCK_MAX_STATE (32u * 1024u * 1024u)
/* Largest TA binary or personalization data the TEE stores. */
#define OTRP__MOCK_MAX_TA (16u * 1024u * 1024u)
/* Longest tamid (the Subject CN of a TAM certificate; X.509 ub-common-name is 64). */
#define OTRP__MOCK_MAX_TAMID 256
/* Longest TAM URI (tee.json tam_uri and allowed_tams, what the TEE passes back). */
#define OTRP__MOCK_MAX_URI 2047
/* TAMs a caller may name besides the TEE's own (tee.json allowed_tams): a device trusts a
 * handful. */
#define OTRP__MOCK_MAX_ALLOWED_TAMS 8
/* TAM URI bindings learnt on first use (state "tambinds"); the oldest goes first. */
#define OTRP__MOCK_MAX_TAMBINDS 64
/* Longest rid/tid echoed back. */
#define OTRP__MOCK_MAX_RID 256
#define OTRP__MOCK_DETAIL 512
/* Bounds on what requests can make the state hold (beyond the TA storage quota). */
#define OTRP__MOCK_MAX_SDS 256      /* SDs in the TEE (each SP has an RSA key pair) */
#define OTRP__MOCK_MAX_SPCERTS 16   /* SP certificates per SD */
#define OTRP__MOCK_MAX_TAS 1024     /* TAs in the TEE */
#define OTRP__MOCK_MAX_PENDING 256  /* entries of the requested / unneeded lists */
/* Strings at least this long (a JWS payload, TA ciphertext) are copied into the parsed
 * request in one piece instead of through cJSON's byte-wise string parser; shorter ones
 * (certificates, keys) are not worth the extra pass. Fuzz inputs are short: there every
 * string from 64 bytes on is lifted, so the fuzzer reaches the lifted parse. */
#ifdef OTRP_FUZZING
#define OTRP__MOCK_LIFT_MIN 64u
#else
#define OTRP__MOCK_LIFT_MIN (16u * 1024u)
#endif
/* TA binaries and personalization data up to this size are kept inside the state
 * document (base64), so that installing a small TA commits one file instead of a blob
 * and the state (half the fsyncs). At most OTRP__MOCK_MAX_TAS * 2 * ~5.5 KiB of the
 * state document, well inside OTRP__MOCK_MAX_STATE. */
#define OTRP__MOCK_INLINE_MAX 4096u

/* A TAM the TEE knows by URI and identity (tee.json allowed_tams). */
typedef struct otrp__mock_tam {
    char uri[OTRP__MOCK_MAX_URI + 1];
    char tamid[OTRP__MOCK_MAX_TAMID + 1];
} otrp__mock_tam;

typedef struct otrp__mock_config {
    char name[OTRP__MOCK_MAX_ID + 1];
    char version[OTRP__MOCK_MAX_ID + 1];
    char tam_uri[OTRP__MOCK_MAX_URI + 1]; /* the TEE's own TAM; "" none */
    char tam_id[OTRP__MOCK_MAX_TAMID + 1]; /* its tamid; "": learnt on first use */
    otrp__mock_tam allowed_tams[OTRP__MOCK_MAX_ALLOWED_TAMS];
    size_t n_allowed;
    otrp__jose_alg jwe_alg;  /* key management the TEE emits (RSA1_5 default) */
    otrp__jose_alg sign_alg; /* RS256: the identity key is RSA (PROFILE P3) */
    int require_ocsp;
    uint64_t quota_bytes;    /* TA binaries + personalization data; 0 = no limit */
} otrp__mock_config;

typedef struct otrp__mock {
    char *dir;
    otrp__mock_config cfg;
    otrp__jose_key *key;          /* identity/key.pem */
    otrp__x509_certs *certs;      /* identity/cert.pem: [0] the TEE, then its CA chain */
    otrp__x509_certs *anchors;    /* trust/ *.pem */
    char did[48];                 /* base64 SHA-256 of the DER TEE certificate (P6) */
    otrp__mock_store store;
    cJSON *state;                 /* the committed state document */
    int64_t verify_time;          /* 0: now */
    /* The TAM URI last passed back whose tamid the TEE does not know: the TAM of the next
     * GetDeviceState, if it passes, is bound to it (tams.c); the next GetDeviceState and
     * ProcessError (the session with that TAM failed) end the wait. "" none. */
    char awaiting[OTRP__MOCK_MAX_URI + 1];
    unsigned fault;               /* test hook: OTRP__MOCK_FAULT_* */
    char detail[OTRP__MOCK_DETAIL];
    /* The megabytes of a large TA (its decoded ciphertext, its decrypted image) go into
     * buffers kept from one request to the next: fresh ones would be page-faulted in
     * (and given back) on every install. The image is wiped after each use; both are
     * freed when the TEE is closed. */
    otrp_buf scratch_ct;
    otrp_buf scratch_image;
} otrp__mock;

/* Test hooks, set only by tests through the internal struct. */
#define OTRP__MOCK_FAULT_COMMIT 0x1u /* the next commit fails as if the disk did */
/* Every commit fails: the fuzz target keeps the state fixed between inputs. */
#define OTRP__MOCK_FAULT_COMMIT_ALWAYS 0x2u
/* Signing fails (a TEE that cannot sign answers the agent with a status). */
#define OTRP__MOCK_FAULT_SIGN 0x4u

/* config.c */
otrp_status otrp__mock_load_config(otrp__mock *tee, char *detail, size_t cap);
otrp_status otrp__mock_parse_config(const char *text, size_t len, otrp__mock_config *cfg,
                                    char *detail, size_t cap);
/* P7 identifier syntax. */
int otrp__mock_id_valid(const char *s);

/* 1 when s is a valid TEE name (the DSI tee.name): 1..OTRP__MOCK_MAX_ID characters in
 * 0x20..0x7E, no space at either end. */
int otrp__mock_tee_name_valid(const char *s);

/* state.c */
otrp_status otrp__mock_state_load(otrp__mock *tee, char *detail, size_t cap);
/* Commit next as the new state (blobs must be written already); on success it
 * replaces tee->state (ownership moves), on failure it is deleted. */
otrp_status otrp__mock_state_commit(otrp__mock *tee, cJSON *next);
/* SDs, TAs and SP AIKs are keyed per TAM (PROFILE P10): (tamid, sdname), (tamid, taid),
 * (tamid, spid). NULL: none. */
cJSON *otrp__mock_sd_find(const cJSON *state, const char *tamid, const char *sdname);
cJSON *otrp__mock_ta_find(const cJSON *sd, const char *taid);
/* The TA taid in any SD of tamid, and that SD into *sd (may be NULL). */
cJSON *otrp__mock_ta_find_any(const cJSON *state, const char *tamid, const char *taid,
                              cJSON **sd);
cJSON *otrp__mock_spaik_find(const cJSON *state, const char *tamid, const char *spid);
uint64_t otrp__mock_storage_used(const cJSON *state);
/* The DSI document for tamid (PROFILE P6) as text; minimal: only name/ver/cert/cacert. */
otrp_status otrp__mock_dsi(const otrp__mock *tee, const cJSON *state, const char *tamid,
                           int minimal, char **text);
/* Set the DSI reference of tamid in state to the base64 SHA-256 of dsi. */
otrp_status otrp__mock_set_dsi_ref(cJSON *state, const char *tamid, const char *dsi);
const char *otrp__mock_dsi_ref(const cJSON *state, const char *tamid);
/* 1 when a JSON array of strings holds value. */
int otrp__mock_list_has(const cJSON *array, const char *value);
/* Hex SHA-256 of data into name[65]. */
otrp_status otrp__mock_blob_name(const void *data, size_t len, char name[65]);
/* Read a blob and check its hash (OTRP_ERR_STATE_CORRUPT when it does not match). */
otrp_status otrp__mock_blob_read(otrp__mock *tee, const char *name, otrp_buf *out);
/* The stored bytes of a TA record's "bin" or "pdata" (key), inline or in a blob.
 * OTRP_ERR_NOT_FOUND: the TA has none; OTRP_ERR_STATE_CORRUPT. */
otrp_status otrp__mock_ta_data(otrp__mock *tee, const cJSON *ta, const char *key,
                               otrp_buf *out);

/* tams.c: the TAM the TEE chooses (PROFILE P10, include/otrp/mocktee.h). An entry of
 * the requested/unneeded lists is {"taid", "uri", "tamid"?}: the TA, the TAM URI the TEE
 * chose for it, and that TAM's identity once known. */
typedef struct otrp__mock_choice {
    const char *uri;   /* the TAM URI to pass back; "" none */
    const char *tamid; /* its TAM; NULL: not known yet (bound on first use) */
} otrp__mock_choice;
/* The TAM for a caller's hint (NULL or ""): an allowed TAM the hint names, else the
 * TEE's own TAM URI, else the hint itself. The strings live as long as tee, state and
 * hint. */
void otrp__mock_choose(const otrp__mock *tee, const cJSON *state, const char *hint,
                       otrp__mock_choice *out);
/* Record that taid is needed (wanted) or no longer needed from the chosen TAM in state;
 * *pending: the need is listed. OTRP_ERR_QUOTA (list full), OTRP_ERR_NO_MEMORY. */
otrp_status otrp__mock_need(const otrp__mock *tee, cJSON *state, const char *taid, int wanted,
                            const otrp__mock_choice *ch, int *pending);
/* The TAM URI a policy check passes back for the pending entries of state (their TAM is
 * the chosen one if it has any, else the first entry's known TAM); entries not bound to
 * a TAM yet follow the choice. out->uri "" when no TAM can be named. */
otrp_status otrp__mock_policy_choice(const otrp__mock *tee, cJSON *state, const char *hint,
                                     otrp__mock_choice *out);
/* Remove the entries that are satisfied: requested TAs their TAM has installed,
 * unneeded TAs their TAM no longer has. */
void otrp__mock_settle(cJSON *state);
/* A GetDeviceState of tamid passed: if the TEE awaits the TAM of a URI, tamid is it
 * (learnt in state, entries bound). OTRP_ERR_NO_MEMORY. */
otrp_status otrp__mock_bind_awaiting(const otrp__mock *tee, cJSON *state, const char *tamid);
/* The tamid of the TEE's own TAM (tee.json tam_id, or learnt for tam_uri); NULL. */
const char *otrp__mock_own_tamid(const otrp__mock *tee, const cJSON *state);
/* The entries of a list for tamid, in the DSI's form [{"taid"}] added to t as key. */
otrp_status otrp__mock_add_dsi_list(cJSON *t, const char *key, const cJSON *list,
                                    const char *tamid);

/* ops.c: handle one TAM message; out receives the answer (empty: none). */
otrp_status otrp__mock_process(otrp__mock *tee, const char *msg, size_t len, otrp_buf *out);

/* backend.c */
extern const struct otrp_tee_ops otrp__mock_ops;
otrp_status otrp__mock_open(const char *dir, const otrp_mock_options *opts, otrp__mock **out,
                            char *detail, size_t cap);
void otrp__mock_close(otrp__mock *tee);
const char *otrp__mock_last_detail(void *ctx);

#endif
