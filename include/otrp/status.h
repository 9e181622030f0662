/**
 * \file otrp/status.h
 * \brief One status enum for the whole library, with its names and messages.
 *
 * The table below is the only place a status is defined: the enum, otrp_status_name()
 * and otrp_strerror() are generated from it, so they cannot drift apart. Values are
 * never renumbered; a retired status keeps its number (renamed OTRP_OBSOLETE_nn).
 * OTrP wire error codes (ERR_...) are data, not statuses: they are mapped at the edges.
 */
#ifndef OTRP_STATUS_H
#define OTRP_STATUS_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* X(NAME, value, message) */
#define OTRP_STATUS_MAP(X)                                                              \
    X(OK,                    0, "success")                                              \
    /* General */                                                                       \
    X(ERR_INVALID_ARG,       1, "invalid argument")                                     \
    X(ERR_NO_MEMORY,         2, "out of memory")                                        \
    X(ERR_TOO_LARGE,         3, "size limit exceeded")                                  \
    X(ERR_INTERNAL,          4, "internal error")                                       \
    X(ERR_UNSUPPORTED,       5, "not supported")                                        \
    X(ERR_IO,                6, "input/output error")                                   \
    X(ERR_CANCELLED,         7, "cancelled")                                            \
    X(ERR_TIMEOUT,           8, "timed out")                                            \
    X(ERR_NOT_FOUND,         9, "not found")                                            \
    /* OTrP messages handed to the agent */                                             \
    X(ERR_MSG_EMPTY,        10, "message is empty")                                     \
    X(ERR_MSG_NOT_JSON,     11, "message is not valid JSON")                            \
    X(ERR_MSG_STRUCTURE,    12, "message is not one OTrP message object")               \
    X(ERR_MSG_UNKNOWN,      13, "unknown OTrP message name")                            \
    X(ERR_MSG_DUPLICATE,    14, "duplicate JSON member name")                           \
    X(ERR_MSG_JWS,          15, "JWS object malformed")                                 \
    X(ERR_MSG_PAYLOAD,      16, "JWS payload cannot be decoded")                        \
    X(ERR_MSG_NAME_MISMATCH,17, "outer and signed message names differ")                \
    X(ERR_MSG_FIELD,        18, "routing field malformed")                              \
    X(ERR_MSG_DEPTH,        19, "JSON nested too deeply")                               \
    /* TEEs */                                                                          \
    X(ERR_TEE_UNKNOWN,      20, "no TEE matches the message")                           \
    X(ERR_TEE_BUSY,         21, "TEE busy")                                             \
    X(ERR_TEE_FAIL,         22, "TEE failed to answer")                                 \
    X(ERR_TEE_UNAVAILABLE,  23, "TEE unavailable on this device")                       \
    X(ERR_TEE_PROTOCOL,     24, "TEE answer malformed")                                 \
    X(ERR_TEE_REPORTED,     25, "TEE answered with an OTrP failure")                    \
    X(ERR_NO_TEE,           26, "no TEE registered")                                    \
    /* TAM transport */                                                                 \
    X(ERR_HTTP_INSECURE,    30, "plain HTTP not allowed")                               \
    X(ERR_HTTP_CONNECT,     31, "cannot connect to the TAM")                            \
    X(ERR_TLS,              32, "TLS handshake failed")                                 \
    X(ERR_TLS_CERT,         33, "TAM certificate not trusted")                          \
    X(ERR_TLS_HOSTNAME,     34, "TAM certificate does not match the host name")         \
    X(ERR_TLS_PIN,          35, "TAM public key does not match the pin")                \
    X(ERR_HTTP_STATUS,      36, "TAM answered with an HTTP error status")               \
    X(ERR_HTTP_CONTENT_TYPE,37, "TAM answer has the wrong media type")                  \
    X(ERR_HTTP_REDIRECT,    38, "TAM answered with a redirect (not followed)")          \
    X(ERR_HTTP_PROTOCOL,    39, "HTTP exchange failed")                                 \
    X(ERR_NO_TAM_URI,       40, "no TAM URI known")                                     \
    X(ERR_SESSION_FAILED,   41, "OTrP session failed")                                  \
    X(ERR_BAD_URI,          42, "TAM URI malformed")                                    \
    X(ERR_TLS_KEYLOG,       43, "SSLKEYLOGFILE is set: TLS secrets would be logged")    \
    X(ERR_IN_PROGRESS,      44, "operation still in progress")                          \
    /* JOSE and crypto */                                                               \
    X(ERR_BASE64,           50, "invalid base64 or base64url")                          \
    X(ERR_JSON,             51, "invalid JSON")                                         \
    X(ERR_JOSE_FORMAT,      52, "JOSE object malformed")                                \
    X(ERR_JOSE_ALG,         53, "algorithm not allowed")                                \
    X(ERR_JOSE_CRIT,        54, "unknown critical header")                              \
    X(ERR_SIGNATURE,        55, "signature verification failed")                        \
    X(ERR_DECRYPT,          56, "decryption failed")                                    \
    X(ERR_KEY,              57, "key invalid or of an unsupported type")                \
    X(ERR_KEY_MISMATCH,     58, "key does not fit the algorithm")                       \
    X(ERR_CERT_PARSE,       59, "certificate cannot be parsed")                         \
    X(ERR_CERT_UNTRUSTED,   60, "certificate does not chain to a trust anchor")         \
    X(ERR_CERT_EXPIRED,     61, "certificate expired or not yet valid")                 \
    X(ERR_CERT_SIGNATURE,   62, "certificate signature invalid")                        \
    X(ERR_CRYPTO,           63, "cryptographic operation failed")                       \
    X(ERR_RANDOM,           64, "random number generator failed")                       \
    /* Configuration and persistent state */                                            \
    X(ERR_CONFIG,           70, "configuration invalid")                                \
    X(ERR_STATE_CORRUPT,    71, "stored state corrupt")                                 \
    X(ERR_LOCKED,           72, "already in use by another process")                    \
    X(ERR_QUOTA,            73, "storage quota exceeded")

/** A status. OTRP_OK is 0; every error is positive. */
typedef enum otrp_status {
#define OTRP__STATUS_ENUM(name, value, msg) OTRP_##name = value,
    OTRP_STATUS_MAP(OTRP__STATUS_ENUM)
#undef OTRP__STATUS_ENUM
    OTRP__STATUS_END_ /* not a status: keeps the last comma legal in C89 */
} otrp_status;

/** A short English sentence for a status; "unknown status" for values not in the table. */
OTRP_API const char *otrp_strerror(otrp_status status);

/** The enumerator's name without the prefix, e.g. "ERR_TEE_BUSY"; "UNKNOWN" otherwise. */
OTRP_API const char *otrp_status_name(otrp_status status);

#ifdef __cplusplus
}
#endif
#endif /* OTRP_STATUS_H */
