/**
 * \file otrp/teec.h
 * \brief The `teec` backend: an OTrP TA reached through the GlobalPlatform TEE Client
 * API (OP-TEE's libteec and compatible implementations).
 *
 * libteec is loaded at run time (dlopen), so an application linked with libotrp starts
 * on every device, and a device without libteec or without a TEE gets
 * OTRP_ERR_TEE_UNAVAILABLE from the constructor, with the reason in the detail.
 *
 * The backend opens one TEEC context and one session (TEEC_LOGIN_PUBLIC) with the TA and
 * keeps them for the life of the handle. Every operation of struct otrp_tee_ops is one
 * TEEC_InvokeCommand with the command and parameter layout of otrp/ta_protocol.h
 * (section "GlobalPlatform TEE Client API mapping"):
 * - params[0], params[1]: TEEC_MEMREF_TEMP_INPUT, the command's input fields;
 * - params[2], params[3]: TEEC_MEMREF_TEMP_OUTPUT, its output fields;
 * - a TA failure is returned as OTRP_TA_TEEC_RESULT(status) with origin
 *   TEEC_ORIGIN_TRUSTED_APP, with an optional detail text in params[2].
 *
 * What the operations return besides the TA's own statuses:
 * - an output that does not fit makes the TA report the size it needs with
 *   TEEC_ERROR_SHORT_BUFFER; the backend grows the buffer to that size and invokes
 *   again, at most up to otrp_tee_call.max_output (larger: OTRP_ERR_TOO_LARGE);
 * - TEEC_ERROR_BUSY: OTRP_ERR_TEE_BUSY (the agent retries with backoff);
 * - TEEC_ERROR_TARGET_DEAD: the session is reopened and the command sent once more;
 *   when the TA dies again, or cannot be reopened, OTRP_ERR_TEE_FAIL;
 * - TEEC_ERROR_CANCEL after otrp_agent_cancel() (which calls TEEC_RequestCancellation
 *   on the running command): OTRP_ERR_CANCELLED;
 * - a deadline (otrp_tee_call.deadline_ms) that passed: OTRP_ERR_TIMEOUT; a command still
 *   in the TEE at its deadline is cancelled (TEEC_RequestCancellation, from a watch thread
 *   that each handle starts with its first deadline);
 * - an answer that breaks the layout (an output longer than its buffer, a short-buffer
 *   report that does not ask for more, a status that is not an otrp_status):
 *   OTRP_ERR_TEE_PROTOCOL;
 * - any other TEEC error (COMMUNICATION, OUT_OF_MEMORY, ...): OTRP_ERR_TEE_FAIL.
 * Each failure leaves a detail naming the TEEC result and its origin, which the agent
 * adds to otrp_agent_last_error().
 */
#ifndef OTRP_TEEC_H
#define OTRP_TEEC_H

#include "common.h"
#include "status.h"
#include "tee.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Options of otrp_tee_teec_new_opts(). Zero-initialise, then set struct_size. */
typedef struct otrp_teec_options {
    size_t struct_size;  /**< sizeof(otrp_teec_options) */
    /**
     * The libteec to load: a file name searched the dlopen way, or a path. NULL tries
     * "libteec.so.2" (OP-TEE 4.x), "libteec.so.1" (OP-TEE 3.x, Debian 12) and
     * "libteec.so" (Android vendor images), in that order. Copied.
     */
    const char *library;
    /** The TEE to connect to (TEEC_InitializeContext name); NULL: the default TEE. */
    const char *tee_name;
    /** Receives why the constructor failed (NUL-terminated, truncated); may be NULL. */
    char *detail;
    size_t detail_cap; /**< bytes at detail */
} otrp_teec_options;

/**
 * A TEE handle for the OTrP TA with the given UUID, through the default libteec and
 * TEE. Equivalent to otrp_tee_teec_new_opts() with zeroed options.
 */
OTRP_API OTRP_NODISCARD otrp_status otrp_tee_teec_new(const char *uuid, otrp_tee **out)
    OTRP_NONNULL(1, 2);

/**
 * A TEE handle for the OTrP TA with the given UUID: loads libteec, initialises a TEEC
 * context and opens a session with the TA (TEEC_LOGIN_PUBLIC). The handle keeps both
 * until it is freed (otrp_tee_free() or the owning agent).
 *
 * Thread-safety: the handle is used by one thread at a time (the agent serialises its
 * calls); only the cancel operation comes from another thread.
 *
 * \param uuid  the TA's UUID as text, "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (hex, either
 *              case)
 * \param opts  options; NULL means all defaults
 * \param out   receives the handle (NULL on failure)
 * \retval OTRP_OK
 * \retval OTRP_ERR_INVALID_ARG     uuid is not a UUID, or opts->struct_size is 0
 * \retval OTRP_ERR_TEE_UNAVAILABLE no libteec could be loaded, it lacks a TEEC function,
 *                                  there is no TEE (TEEC_InitializeContext failed, e.g.
 *                                  no /dev/tee0), or the TA is not installed (the session
 *                                  was refused with TEEC_ERROR_ITEM_NOT_FOUND)
 * \retval OTRP_ERR_TEE_BUSY        the TEE or TA was busy opening the session
 * \retval OTRP_ERR_TEE_FAIL        the session could not be opened for another reason
 *                                  (access denied, communication error, ...)
 * \retval OTRP_ERR_NO_MEMORY
 */
OTRP_API OTRP_NODISCARD otrp_status otrp_tee_teec_new_opts(const char *uuid,
                                                           const otrp_teec_options *opts,
                                                           otrp_tee **out)
    OTRP_NONNULL(1, 3);

#ifdef __cplusplus
}
#endif
#endif /* OTRP_TEEC_H */
