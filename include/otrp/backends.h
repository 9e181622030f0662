/**
 * \file otrp/backends.h
 * \brief Constructors of the TEE transport backends that ship with the library.
 *
 * Each returns an otrp_tee handle for otrp_agent_add_tee(). The mock TEE (an OTrP TEE
 * in software) is a library of its own, libotrp-mocktee, with its header otrp/mocktee.h.
 */
#ifndef OTRP_BACKENDS_H
#define OTRP_BACKENDS_H

#include "common.h"
#include "status.h"
#include "tee.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * A TEE served over a Unix stream socket with the framing of otrp/ta_protocol.h, for
 * example by `otrp-tee-sim serve DIR --listen unix:PATH`.
 *
 * Nothing is connected here: every call opens a connection, sends one request frame,
 * reads one answer frame and closes, so a restarted daemon is picked up by the next
 * call. Each call honours otrp_tee_call.deadline_ms and cancellation, and refuses answer
 * frames larger than otrp_tee_call.max_output (or OTRP_TA_MAX_FRAME).
 *
 * Statuses of the operations: the daemon's own status, or OTRP_ERR_TEE_UNAVAILABLE (no
 * daemon listens on path), OTRP_ERR_TIMEOUT, OTRP_ERR_CANCELLED, OTRP_ERR_TEE_FAIL (the
 * connection broke), OTRP_ERR_TEE_PROTOCOL (malformed answer), OTRP_ERR_TOO_LARGE.
 *
 * \param path  file system path of the socket (at most 107 bytes); copied
 * \param out   receives the handle
 * \retval OTRP_OK
 * \retval OTRP_ERR_INVALID_ARG path is empty or too long for a Unix socket address
 * \retval OTRP_ERR_NO_MEMORY
 */
OTRP_API OTRP_NODISCARD otrp_status otrp_tee_socket_new(const char *path, otrp_tee **out)
    OTRP_NONNULL(1, 2);

#ifdef __cplusplus
}
#endif
#endif /* OTRP_BACKENDS_H */
