/**
 * \file otrp/mocktee.h
 * \brief The mock TEE: an honest OTrP TEE in software, as an in-process TEE backend.
 *
 * It verifies every TAM request (JWS, TAM certificate chain against its trust anchors,
 * algorithms, `ver`, names, `dsihash`, `tamid`, SD ownership), decrypts what the TAM
 * encrypted, keeps SDs, TAs and SP AIK key pairs, and signs and encrypts every answer,
 * following the project's PROFILE. Its state is persisted with atomic writes so that a
 * crash at any instant leaves the old or the new state.
 *
 * It is configured by a provisioning directory (`otrp-tee-sim init DIR` creates one):
 * \code
 * DIR/tee.json          {"name", "version", "tam_uri", "tam_id", "allowed_tams",
 *                        "jwe_alg", "sign_alg", "require_ocsp", "quota_bytes"};
 *                        unknown keys are an error
 * DIR/identity/key.pem  the TEE's RSA private key (PKCS#8 PEM, 2048..4096 bits)
 * DIR/identity/cert.pem the TEE certificate, optionally followed by its CA chain
 * DIR/trust/ *.pem      trust anchors for TAM certificates (at least one)
 * DIR/state/            the TEE's own state (created when missing; private format,
 *                       older formats are migrated)
 * \endcode
 * tee.json: `name` (required, 1..128 printable ASCII characters; inner spaces are
 * allowed, as in the DSI's "Primary TEE", spaces at either end are not), `version`
 * (default "1.0"), `tam_uri` (the TEE's own TAM; default none), `tam_id` (the tamid,
 * i.e. certificate Subject CN, of that TAM; default: learnt, see below), `allowed_tams`
 * (`[{"uri", "tamid"}]`, at most 8: further TAMs a caller may name), `jwe_alg` ("RSA1_5"
 * default, "RSA-OAEP", "RSA-OAEP-256": key management of the answers), `sign_alg`
 * ("RS256", the only choice for an RSA identity), `require_ocsp` (default false: when
 * true a GetDeviceStateRequest must carry non-empty `ocspdat`), `quota_bytes` (storage
 * for TA binaries and personalization data; 0 or absent = no limit).
 *
 * \par Who chooses the TAM (PROFILE P10 "TAM URI")
 * The TEE does. The app that names a TA and the agent that relays are untrusted
 * (OTrP-03 §14.8), so the TAM URI a caller passes to RequestTA, UnrequestTA or
 * RequestPolicyCheck is only a hint: the TEE passes back the URI of its own TAM
 * (`tam_uri`) whatever the hint says, and adopts the hint only when it has no TAM URI of
 * its own or when the hint is one of `allowed_tams`. The agent then POSTs to the URI the
 * TEE passed back (otrp-over-http-02 §5.1). A policy check passes back the chosen TAM's
 * URI when that TAM has work pending, else the URI of a TAM that has. A hint longer than
 * 2047 bytes, which the TEE could neither keep nor pass back whole, is
 * OTRP_ERR_INVALID_ARG.
 *
 * \par Isolation between TAMs (PROFILE P10)
 * A TEE that trusts several TAMs keeps SDs by (tamid, SD name), TAs by (tamid, TA id) and
 * SP AIKs by (tamid, SP id): a TAM's requests find only its own (another TAM's SD is
 * ERR_SD_NOT_FOUND), two TAMs may use the same SD name, TA id or SP id without seeing
 * each other, and each gets an SP AIK of its own. A requested (or unneeded) TA is bound
 * to the TAM the TEE chose for it: only that TAM sees it in its DSI
 * (`requestedtalist`/`unneededtalist`) and only an install by that TAM satisfies it.
 * The TEE knows that TAM by its tamid: `tam_id` for `tam_uri` (a hint adopted while the
 * TEE has no URI of its own is then only an address, the TA stays bound to `tam_id`),
 * the `tamid` of an `allowed_tams` entry; for a URI without a known tamid, the TAM of the
 * first GetDeviceState after the TEE passed that URI back is bound to it for good (kept
 * in state/) if the TEE verifies it; a failed one, or ProcessError, ends the wait. That
 * first-use binding trusts the relay to deliver the chosen TAM's request first; name
 * `tam_id` to depend on nothing the agent does.
 * TAInformation of a TA id two TAMs installed describes the one of the TEE's own TAM,
 * else the one installed first.
 *
 * \par TAM certificates
 * A TAM's certificate must chain to a trust anchor, be valid, have an RSA key and a
 * Subject CN (the tamid), and carry the extended key usage "OTrP TAM" (OID
 * 2.25.2764465826859158253794466195288017116, docs/conformance.md): the CA that issues
 * TAM certificates may issue TEE identities too (the reference TAM's does), and a TEE
 * identity is never accepted as a TAM (ERR_TAM_NOT_TRUSTED). `otrp-tam init` marks its
 * TAM certificate so.
 *
 * One TEE instance at a time may open a directory (a lock file in state/): a second
 * open, in this or another process, fails with OTRP_ERR_LOCKED.
 *
 * Against other local users: DIR, DIR/state/ and DIR/state/blobs/ must not be group- or
 * world-writable nor owned by a user other than the caller or root (OTRP_ERR_CONFIG,
 * the detail names the directory and its mode), since whoever can write there can
 * replace the state or redirect a write; `otrp-tee-sim init` creates every directory
 * 0700 and refuses such an existing one. Every file is read only when it is a regular
 * file and opened without blocking (a FIFO at tee.json, a key or a trust anchor is
 * OTRP_ERR_CONFIG, at state.json OTRP_ERR_IO, "... is not a regular file", at once);
 * state.json and blobs are never read through a symbolic link. Temporary files have
 * random names and are created with O_EXCL|O_NOFOLLOW. Every number of state.json and
 * tee.json is range-checked as an integer before use (else OTRP_ERR_STATE_CORRUPT or
 * OTRP_ERR_CONFIG naming the member).
 *
 * Thread-safety: the handle is used by one thread at a time (the agent serializes the
 * calls to each TEE); different handles (of different directories) are independent.
 *
 * Library: this header belongs to libotrp-mocktee, not to libotrp, and otrp/otrp.h does
 * not include it. Build with `pkg-config --cflags --libs otrp-mocktee` (which brings
 * libotrp along); the mock TEE library links mbedTLS and carries the JOSE code, which
 * the agent itself never needs. Its shared library exports the two functions below
 * only.
 */
#ifndef OTRP_MOCKTEE_H_PUBLIC
#define OTRP_MOCKTEE_H_PUBLIC

#include <stdint.h>
#include "common.h"
#include "status.h"
#include "tee.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Options of otrp_tee_mock_new_opts(). Zero-initialise, then set struct_size. */
typedef struct otrp_mock_options {
    size_t struct_size;   /**< sizeof(otrp_mock_options) */
    /** Unix time at which certificates are checked; 0 = the current time. For tests
     *  with fixed certificates. */
    int64_t verify_time;
    /** Receives a sentence saying what is wrong when opening fails; may be NULL. */
    char *detail;
    size_t detail_cap;    /**< bytes at detail */
} otrp_mock_options;

/**
 * Open the mock TEE of a provisioning directory as a TEE backend (kind "mock").
 * Equivalent to otrp_tee_mock_new_opts() with default options.
 */
OTRP_API OTRP_NODISCARD otrp_status otrp_tee_mock_new(const char *dir, otrp_tee **out)
    OTRP_NONNULL(1, 2);

/**
 * Open the mock TEE of a provisioning directory as a TEE backend.
 * The handle's operations return OTRP_OK with an answer message (a signed failure
 * answer included), or OTRP_ERR_MSG_NOT_JSON / OTRP_ERR_MSG_STRUCTURE /
 * OTRP_ERR_MSG_UNKNOWN for input that is not an OTrP request at all (no answer can be
 * addressed), OTRP_ERR_TOO_LARGE, OTRP_ERR_TEE_FAIL when it cannot sign.
 * \param dir   the provisioning directory (copied)
 * \param opts  may be NULL
 * \param out   receives the handle
 * \retval OTRP_OK
 * \retval OTRP_ERR_CONFIG        tee.json, identity or trust anchors missing, invalid or
 *                               not regular files; DIR, state/ or state/blobs/ group- or
 *                               world-writable or owned by another user
 * \retval OTRP_ERR_STATE_CORRUPT state/ holds a corrupt or foreign state document
 * \retval OTRP_ERR_LOCKED        another TEE instance has the directory open
 * \retval OTRP_ERR_IO            the state directory cannot be created or read, or
 *                               state.json is not a regular file
 * \retval OTRP_ERR_INVALID_ARG   opts->struct_size is 0
 * \retval OTRP_ERR_NO_MEMORY
 */
OTRP_API OTRP_NODISCARD otrp_status otrp_tee_mock_new_opts(const char *dir,
                                                           const otrp_mock_options *opts,
                                                           otrp_tee **out)
    OTRP_NONNULL(1, 3);

#ifdef __cplusplus
}
#endif
#endif /* OTRP_MOCKTEE_H_PUBLIC */
