/* The parts of the GlobalPlatform TEE Client API (GPD_SPE_007) that the teec backend
 * uses, declared from the specification. The backend loads libteec at run time, so it
 * builds everywhere without the implementation's tee_client_api.h; the names carry the
 * otrp__teec_ prefix so that this header can sit beside a real tee_client_api.h (the
 * cross leg's ABI check, test/teec/abi_check.c, includes both and compares them).
 *
 * Layout rules from the specification: the caller allocates TEEC_Context, TEEC_Session
 * and TEEC_Operation; the contents of the first two, and the tail of TEEC_Operation
 * after params[], are implementation-defined. We never touch those parts, so they are
 * reserved storage here, larger and at least as aligned as any implementation's. */
#ifndef OTRP_TEE_TEEC_GP_H
#define OTRP_TEE_TEEC_GP_H

#include <stddef.h>
#include <stdint.h>

typedef uint32_t otrp__teec_result;

/* Return codes. */
#define OTRP__TEEC_SUCCESS 0x00000000u
#define OTRP__TEEC_ERROR_GENERIC 0xFFFF0000u
#define OTRP__TEEC_ERROR_ACCESS_DENIED 0xFFFF0001u
#define OTRP__TEEC_ERROR_CANCEL 0xFFFF0002u
#define OTRP__TEEC_ERROR_ACCESS_CONFLICT 0xFFFF0003u
#define OTRP__TEEC_ERROR_EXCESS_DATA 0xFFFF0004u
#define OTRP__TEEC_ERROR_BAD_FORMAT 0xFFFF0005u
#define OTRP__TEEC_ERROR_BAD_PARAMETERS 0xFFFF0006u
#define OTRP__TEEC_ERROR_BAD_STATE 0xFFFF0007u
#define OTRP__TEEC_ERROR_ITEM_NOT_FOUND 0xFFFF0008u
#define OTRP__TEEC_ERROR_NOT_IMPLEMENTED 0xFFFF0009u
#define OTRP__TEEC_ERROR_NOT_SUPPORTED 0xFFFF000Au
#define OTRP__TEEC_ERROR_NO_DATA 0xFFFF000Bu
#define OTRP__TEEC_ERROR_OUT_OF_MEMORY 0xFFFF000Cu
#define OTRP__TEEC_ERROR_BUSY 0xFFFF000Du
#define OTRP__TEEC_ERROR_COMMUNICATION 0xFFFF000Eu
#define OTRP__TEEC_ERROR_SECURITY 0xFFFF000Fu
#define OTRP__TEEC_ERROR_SHORT_BUFFER 0xFFFF0010u
#define OTRP__TEEC_ERROR_TARGET_DEAD 0xFFFF3024u

/* Where a result came from (returnOrigin). */
#define OTRP__TEEC_ORIGIN_API 1u
#define OTRP__TEEC_ORIGIN_COMMS 2u
#define OTRP__TEEC_ORIGIN_TEE 3u
#define OTRP__TEEC_ORIGIN_TRUSTED_APP 4u

/* connectionMethod of TEEC_OpenSession. */
#define OTRP__TEEC_LOGIN_PUBLIC 0u

/* Parameter types, four bits each, params[0] in the lowest bits. */
#define OTRP__TEEC_NONE 0u
#define OTRP__TEEC_MEMREF_TEMP_INPUT 5u
#define OTRP__TEEC_MEMREF_TEMP_OUTPUT 6u
#define OTRP__TEEC_PARAM_TYPES(p0, p1, p2, p3) \
    ((uint32_t)(p0) | ((uint32_t)(p1) << 4) | ((uint32_t)(p2) << 8) | ((uint32_t)(p3) << 12))
#define OTRP__TEEC_PARAM_TYPE_GET(types, index) (((types) >> ((index) * 4u)) & 0xFu)
#define OTRP__TEEC_PARAMS 4

typedef struct otrp__teec_uuid {
    uint32_t time_low;
    uint16_t time_mid;
    uint16_t time_hi_and_version;
    uint8_t clock_seq_and_node[8];
} otrp__teec_uuid;

/* Room for an implementation's private part (OP-TEE needs 8 to 16 bytes). */
#define OTRP__TEEC_IMP_BYTES 256

typedef union otrp__teec_imp {
    unsigned char bytes[OTRP__TEEC_IMP_BYTES];
    max_align_t align;
} otrp__teec_imp;

typedef struct otrp__teec_context {
    otrp__teec_imp imp;
} otrp__teec_context;

typedef struct otrp__teec_session {
    otrp__teec_imp imp;
} otrp__teec_session;

typedef struct otrp__teec_tmpref {
    void *buffer;
    size_t size;
} otrp__teec_tmpref;

typedef struct otrp__teec_regref {
    void *parent;
    size_t size;
    size_t offset;
} otrp__teec_regref;

typedef struct otrp__teec_value {
    uint32_t a;
    uint32_t b;
} otrp__teec_value;

typedef union otrp__teec_parameter {
    otrp__teec_tmpref tmpref;
    otrp__teec_regref memref;
    otrp__teec_value value;
} otrp__teec_parameter;

typedef struct otrp__teec_operation {
    uint32_t started;
    uint32_t param_types;
    otrp__teec_parameter params[OTRP__TEEC_PARAMS];
    otrp__teec_imp imp;
} otrp__teec_operation;

/* The functions, as loaded with dlsym. */
typedef otrp__teec_result (*otrp__teec_initialize_context_fn)(const char *name,
                                                              otrp__teec_context *context);
typedef void (*otrp__teec_finalize_context_fn)(otrp__teec_context *context);
typedef otrp__teec_result (*otrp__teec_open_session_fn)(
    otrp__teec_context *context, otrp__teec_session *session,
    const otrp__teec_uuid *destination, uint32_t connection_method,
    const void *connection_data, otrp__teec_operation *operation, uint32_t *return_origin);
typedef void (*otrp__teec_close_session_fn)(otrp__teec_session *session);
typedef otrp__teec_result (*otrp__teec_invoke_command_fn)(otrp__teec_session *session,
                                                          uint32_t command_id,
                                                          otrp__teec_operation *operation,
                                                          uint32_t *return_origin);
typedef void (*otrp__teec_request_cancellation_fn)(otrp__teec_operation *operation);

/* Names of the results and origins above for details ("0x%08x" for the rest). */
const char *otrp__teec_result_name(otrp__teec_result result);
const char *otrp__teec_origin_name(uint32_t origin);

#endif
