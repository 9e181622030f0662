/**
 * \file otrp/ta_protocol.h
 * \brief The command interface that a TEE-side OTrP implementation serves.
 *
 * One command per operation of struct otrp_tee_ops (otrp/tee.h), so the agent's
 * `socket` backend (a framed byte stream to a daemon such as otrp-tee-sim) and its
 * `teec` backend (GlobalPlatform TEE Client API to an OTrP TA) carry exactly the same
 * operations. A TA author implements the table below; nothing else is needed.
 *
 * \section ta_fields Command table
 * Inputs and outputs are byte strings ("fields"). Text is UTF-8 without a terminating
 * NUL; an optional input that is absent is sent as an empty field.
 *
 * | command                       | inputs                    | outputs (on OTRP_OK)      |
 * |-------------------------------|---------------------------|---------------------------|
 * | OTRP_TA_CMD_GET_NAME          | -                         | name                      |
 * | OTRP_TA_CMD_PROCESS_MESSAGE   | message                   | answer (empty = no data)  |
 * | OTRP_TA_CMD_REQUEST_TA        | taid, tam_uri_hint        | tam_uri, message          |
 * | OTRP_TA_CMD_UNREQUEST_TA      | taid, tam_uri_hint        | tam_uri, message          |
 * | OTRP_TA_CMD_POLICY_CHECK      | tam_uri_hint              | tam_uri, message          |
 * | OTRP_TA_CMD_PROCESS_ERROR     | -                         | -                         |
 * | OTRP_TA_CMD_TA_INFORMATION    | spid, taid                | TAInformation message     |
 * | OTRP_TA_CMD_DESCRIBE          | -                         | JSON object               |
 *
 * tam_uri_hint is the TAM URI the agent's caller named (empty: none). It is only a hint:
 * the TEE chooses its TAM and answers that TAM's URI in tam_uri (PROFILE P10; the mock
 * TEE keeps its own TAM and adopts a hint only without one, see otrp/mocktee.h). A TEE
 * that has work for a TAM but neither a TAM URI of its own nor a hint fails with
 * OTRP_ERR_NO_TAM_URI (see otrp/tee.h). Before the first release OTRP_TA_CMD_POLICY_CHECK had no input; the
 * frame version was not changed for that, so a server built then refuses the new request
 * with OTRP_ERR_TEE_PROTOCOL.
 *
 * Outputs that may stay empty (OTrP "no data", see otrp/tee.h) are sent as empty fields;
 * an answer always carries the number of output fields of its command. When the status
 * is not OTRP_OK the answer carries exactly one field instead: a human-readable detail
 * (at most OTRP_TA_MAX_DETAIL bytes, may be empty).
 *
 * \section ta_socket Socket framing (stream sockets, e.g. AF_UNIX SOCK_STREAM)
 * The client sends one request frame and reads one answer frame; several exchanges may
 * follow on one connection. All integers are unsigned big-endian.
 *
 * | offset | size | field                                                       |
 * |--------|------|-------------------------------------------------------------|
 * | 0      | 4    | magic OTRP_TA_MAGIC ("OTRP")                                |
 * | 4      | 2    | version OTRP_TA_VERSION                                     |
 * | 6      | 2    | command; answers set OTRP_TA_ANSWER_BIT                     |
 * | 8      | 4    | status: 0 in requests, an otrp_status value in answers      |
 * | 12     | 4    | number of fields, at most OTRP_TA_MAX_FIELDS                |
 * | 16     | ...  | each field: 4-byte length, then that many bytes             |
 *
 * A frame is at most OTRP_TA_MAX_FRAME bytes in all. A receiver checks magic, version,
 * command and field count, and refuses frames whose announced lengths exceed its limit
 * before reading them. A server that receives a malformed frame answers with status
 * OTRP_ERR_TEE_PROTOCOL (when it can) and closes the connection. A server that is busy
 * with another client may answer OTRP_ERR_TEE_BUSY.
 *
 * \section ta_teec GlobalPlatform TEE Client API mapping
 * TEEC_InvokeCommand with commandID = the command value. Parameters:
 * - params[0], params[1]: TEEC_MEMREF_TEMP_INPUT, the first and second input field
 *   (TEEC_NONE when the command has fewer inputs);
 * - params[2], params[3]: TEEC_MEMREF_TEMP_OUTPUT, the first and second output field
 *   (TEEC_NONE when the command has fewer outputs).
 * An output that does not fit makes the TA set its size to the needed size and return
 * TEEC_ERROR_SHORT_BUFFER; the client grows the buffer (bounded by its limit) and
 * invokes again with the same inputs. The TA must then hand out the answer it already
 * made (keep it until the next command) instead of processing the message a second
 * time: OTrP state (dsihash, installed TAs) moves once per message. After
 * TEEC_ERROR_TARGET_DEAD the client reopens the session and resends once, so a TA that
 * died in the middle of a message may see it again. A TA-level failure is returned as OTRP_TA_TEEC_RESULT(status) with
 * origin TEEC_ORIGIN_TRUSTED_APP, and params[2] may then hold the detail text.
 * TEEC_SUCCESS means OTRP_OK.
 */
#ifndef OTRP_TA_PROTOCOL_H
#define OTRP_TA_PROTOCOL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Commands (the socket frame command and the TEEC commandID). Never renumbered. */
#define OTRP_TA_CMD_GET_NAME 1u
#define OTRP_TA_CMD_PROCESS_MESSAGE 2u
#define OTRP_TA_CMD_REQUEST_TA 3u
#define OTRP_TA_CMD_UNREQUEST_TA 4u
#define OTRP_TA_CMD_POLICY_CHECK 5u
#define OTRP_TA_CMD_PROCESS_ERROR 6u
#define OTRP_TA_CMD_TA_INFORMATION 7u
#define OTRP_TA_CMD_DESCRIBE 8u
/** One above the largest command. */
#define OTRP_TA_CMD_END 9u

/** "OTRP" as a big-endian 32-bit number. */
#define OTRP_TA_MAGIC 0x4F545250u
/** The frame format version described above. */
#define OTRP_TA_VERSION 1u
/** Set in the command of an answer frame. */
#define OTRP_TA_ANSWER_BIT 0x8000u
/** Bytes before the first field. */
#define OTRP_TA_HEADER_SIZE 16u
/** No command has more than two inputs or two outputs (the teec limit is four). */
#define OTRP_TA_MAX_FIELDS 2u
/**
 * Largest frame: a 16 MiB message (the agent's default limit) plus room for the
 * header and field lengths. Receivers may use a smaller limit.
 */
#define OTRP_TA_MAX_FRAME ((uint32_t)16 * 1024 * 1024 + 4096u)
/** Largest detail text in a failure answer. */
#define OTRP_TA_MAX_DETAIL 1024u

/** The TEEC_Result a TA returns for a failure status (in the TA-defined range). */
#define OTRP_TA_TEEC_RESULT(status) (0x4F540000u | ((uint32_t)(status) & 0xFFFFu))
/** 1 when a TEEC_Result was made by OTRP_TA_TEEC_RESULT(). */
#define OTRP_TA_TEEC_IS_STATUS(result) ((((uint32_t)(result)) & 0xFFFF0000u) == 0x4F540000u)
/** The otrp_status inside such a TEEC_Result. */
#define OTRP_TA_TEEC_STATUS(result) ((uint32_t)(result) & 0xFFFFu)

#ifdef __cplusplus
}
#endif
#endif /* OTRP_TA_PROTOCOL_H */
